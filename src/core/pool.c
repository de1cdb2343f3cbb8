#include "pool.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void *rs_pool_get(struct rs_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    void *block = pool->free;
    if (block) {
        memcpy(&pool->free, block, sizeof(void *));
        pool->count--;
    }
    pthread_mutex_unlock(&pool->lock);
    return block ? block : malloc(pool->size);
}

void rs_pool_put(struct rs_pool *pool, void *block)
{
    if (!block)
        return;
    pthread_mutex_lock(&pool->lock);
    bool kept = pool->count < pool->max;
    if (kept) {
        memcpy(block, &pool->free, sizeof(void *));
        pool->free = block;
        pool->count++;
    }
    pthread_mutex_unlock(&pool->lock);
    if (!kept)
        free(block);
}
