/*
 * strvec: an owned, NULL-terminated array of strings.
 *
 * It is the shape execve() wants for argv and envp, so an environment block is built once, by the
 * thread that handles the event, and handed to the spawner without another copy.
 *
 * Invariant: when `nr` > 0, `items[nr]` is NULL and every `items[i]` (i < nr) is a string owned
 * by the vector. An empty vector may have `items` == NULL; strvec_array() hides that. The strings
 * live in a few large chunks rather than one allocation each: an event's environment is built
 * once per DHCP packet in Kea's thread, where fifty mallocs and frees are a measurable cost.
 *
 * Lifecycle: STRVEC_INIT (or strvec_init), push, use, strvec_clear. Functions that can fail
 * return 0 or -ENOMEM and leave the vector as it was.
 */
#ifndef RS_STRVEC_H
#define RS_STRVEC_H

#include <stddef.h>

struct strvec_chunk;

struct strvec {
    char **items;
    size_t nr;
    size_t alloc;
    struct strvec_chunk *chunks; /* where the strings are, newest first */
};

#define STRVEC_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, NULL                                                                           \
    }

void strvec_init(struct strvec *sv);

/* Appends a copy of `s`. */
int strvec_push(struct strvec *sv, const char *s);

/* Appends "key=value"; `value` is `value_len` bytes and may hold any byte but NUL. A NULL
 * `value` appends "key" alone. */
int strvec_push_pair(struct strvec *sv, const char *key, const char *value, size_t value_len);

/* Appends "prefix" "suffix" "=value": a variable named by its block and field. */
int strvec_push_var(struct strvec *sv, const char *prefix, const char *suffix, const char *value,
                    size_t value_len);

/* Appends a printf-formatted string. */
int strvec_pushf(struct strvec *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The NULL-terminated array, never NULL itself: what execve() and posix_spawn() take. */
char *const *strvec_array(const struct strvec *sv);

/* Frees every string and the array; the vector is empty and reusable afterwards. */
void strvec_clear(struct strvec *sv);

#endif
