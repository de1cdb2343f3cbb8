/*
 * pool: blocks of one size, kept for reuse.
 *
 * An event is built on Kea's packet thread and, when a queue takes it, freed on the queue's
 * thread. With glibc, memory freed on another thread does not come back to the allocating
 * thread's cache: each new block then comes from the shared arena, under its lock, which the
 * freeing thread takes too. Measured inside a callout, that made a 1 KB malloc() cost up to a
 * microsecond. Blocks that go round through a pool cost a lock each way, uncontended.
 *
 * The pool keeps at most `max` free blocks; past that, blocks are freed. Any thread.
 */
#ifndef RS_POOL_H
#define RS_POOL_H

#include <pthread.h>
#include <stddef.h>

struct rs_pool {
    pthread_mutex_t lock;
    void *free;     /* the free blocks, each holding the next one's address */
    unsigned count; /* how many */
    unsigned max;
    size_t size; /* of every block, at least a pointer's */
};

#define RS_POOL_INIT(block_size, max_free)                                                         \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, NULL, 0, (max_free), (block_size)                               \
    }

/* A block of pool->size bytes (from malloc() when none is free), or NULL when out of memory. */
void *rs_pool_get(struct rs_pool *pool);

/* Gives back a block that rs_pool_get() returned (or one malloc()'ed with pool->size bytes). */
void rs_pool_put(struct rs_pool *pool, void *block);

#endif
