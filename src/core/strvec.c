#include "strvec.h"
#include "pool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct strvec_chunk {
    struct strvec_chunk *next;
    size_t used, size;
    char data[];
};

/* Room for a DHCPv4 commit's variables (about 1.5 KB) in the first chunk, and no more: an event
 * keeps its chunks while it waits in a queue. */
#define STRVEC_CHUNK_MIN 2048
/* Slots in a first `items` array. */
#define STRVEC_ITEMS_MIN 64

/* First chunks and first `items` arrays go round through pools (src/core/pool.h): an event's are
 * allocated on Kea's thread and often freed on a queue's. Measured, that took a third of the time
 * an event took to build, until they were pooled. */
static struct rs_pool chunk_pool =
    RS_POOL_INIT(sizeof(struct strvec_chunk) + STRVEC_CHUNK_MIN, 256);
static struct rs_pool items_pool = RS_POOL_INIT(STRVEC_ITEMS_MIN * sizeof(char *), 256);

static struct strvec_chunk *chunk_new(size_t size)
{
    struct strvec_chunk *chunk =
        size == STRVEC_CHUNK_MIN ? rs_pool_get(&chunk_pool) : malloc(sizeof(*chunk) + size);
    if (chunk)
        chunk->size = size;
    return chunk;
}

static void chunk_free(struct strvec_chunk *chunk)
{
    if (chunk->size == STRVEC_CHUNK_MIN)
        rs_pool_put(&chunk_pool, chunk);
    else
        free(chunk);
}

void strvec_init(struct strvec *sv)
{
    *sv = (struct strvec)STRVEC_INIT;
}

/* Reserves `len` + 1 bytes for a new string and a slot for it in `items`. Returns the bytes, or
 * NULL (nothing changed) when out of memory. */
static char *reserve(struct strvec *sv, size_t len)
{
    if (sv->nr + 2 > sv->alloc) {
        size_t alloc = sv->alloc ? sv->alloc * 2 : STRVEC_ITEMS_MIN;
        char **items =
            sv->alloc ? realloc(sv->items, alloc * sizeof(*items)) : rs_pool_get(&items_pool);
        if (!items)
            return NULL;
        sv->items = items;
        sv->alloc = alloc;
    }
    struct strvec_chunk *chunk = sv->chunks;
    if (!chunk || chunk->size - chunk->used < len + 1) {
        size_t size = chunk ? chunk->size * 2 : STRVEC_CHUNK_MIN;
        if (size < len + 1)
            size = len + 1;
        chunk = chunk_new(size);
        if (!chunk)
            return NULL;
        chunk->next = sv->chunks;
        chunk->used = 0;
        sv->chunks = chunk;
    }
    return chunk->data + chunk->used;
}

/* Makes the string `reserve` returned, now filled with `len` bytes, part of the vector. */
static void commit(struct strvec *sv, char *s, size_t len)
{
    s[len] = '\0';
    sv->chunks->used += len + 1;
    sv->items[sv->nr++] = s;
    sv->items[sv->nr] = NULL;
}

int strvec_push(struct strvec *sv, const char *s)
{
    size_t len = strlen(s);
    char *to = reserve(sv, len);
    if (!to)
        return -ENOMEM;
    memcpy(to, s, len);
    commit(sv, to, len);
    return 0;
}

int strvec_push_var(struct strvec *sv, const char *prefix, const char *suffix, const char *value,
                    size_t value_len)
{
    size_t prefix_len = strlen(prefix), suffix_len = strlen(suffix);
    size_t len = prefix_len + suffix_len + 1 + value_len;
    char *to = reserve(sv, len);
    if (!to)
        return -ENOMEM;
    memcpy(to, prefix, prefix_len);
    memcpy(to + prefix_len, suffix, suffix_len);
    to[prefix_len + suffix_len] = '=';
    if (value_len)
        memcpy(to + prefix_len + suffix_len + 1, value, value_len);
    commit(sv, to, len);
    return 0;
}

int strvec_push_pair(struct strvec *sv, const char *key, const char *value, size_t value_len)
{
    return value ? strvec_push_var(sv, key, "", value, value_len) : strvec_push(sv, key);
}

int strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -ENOMEM;
    char *to = reserve(sv, (size_t)len);
    if (!to)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(to, (size_t)len + 1, fmt, ap);
    va_end(ap);
    commit(sv, to, (size_t)len);
    return 0;
}

char *const *strvec_array(const struct strvec *sv)
{
    static char *const empty[] = {NULL};
    return sv->items ? sv->items : empty;
}

void strvec_clear(struct strvec *sv)
{
    while (sv->chunks) {
        struct strvec_chunk *next = sv->chunks->next;
        chunk_free(sv->chunks);
        sv->chunks = next;
    }
    if (sv->alloc == STRVEC_ITEMS_MIN)
        rs_pool_put(&items_pool, sv->items);
    else
        free(sv->items);
    strvec_init(sv);
}
