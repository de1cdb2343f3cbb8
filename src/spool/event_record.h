/*
 * event_record: a queued event as a spool record, and back.
 *
 * What the queue needs to run an event later, in another process life if need be: the hook
 * point's name (the script's argv[1]), the ordering keys (so per-lease order holds across memory
 * and disk), how many delivery attempts already failed (so a poisoned event is set aside after
 * max-attempts, even across restarts), and the environment, byte for byte.
 *
 *   u8 version (1)  u8 attempts  u16 hook length  u32 number of keys (0xffffffff: every key)
 *   u32 number of variables
 *   hook bytes  keys (u64 each)  variables (u32 length, then the bytes, no NUL)
 *
 * little endian throughout. Decoding trusts nothing: a record comes from a file that a crash, a
 * disk or a person may have damaged, and every length is checked against what is left.
 */
#ifndef RS_EVENT_RECORD_H
#define RS_EVENT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RS_EVENT_RECORD_VERSION 1
/* More than a hook has: a larger count is damage. */
#define RS_EVENT_RECORD_MAX_KEYS 64
/* As a number of keys: the event is ordered against every other (RS_QUEUE_EVERY_LANE), written
 * as the count 0xffffffff with no keys. */
#define RS_EVENT_RECORD_EVERY_KEY ((size_t)-1)

struct rs_event_record {
    char *strings;     /* the block that hook and envp point into */
    char *hook;        /* NUL-terminated */
    unsigned attempts; /* failed deliveries so far */
    uint64_t *keys;    /* nr_keys of them, unless nr_keys is RS_EVENT_RECORD_EVERY_KEY */
    size_t nr_keys;
    char **envp; /* NULL-terminated; each "NAME=value" */
    size_t nr_env;
};

/* Encodes into a malloc'ed buffer (*out, *len). -ENOMEM, or -EINVAL when a count or a length does
 * not fit the format (no hook or variable is that large in practice). */
int rs_event_record_encode(const char *hook, unsigned attempts, const uint64_t keys[],
                           size_t nr_keys, char *const envp[], void **out, size_t *len);

/* Decodes `len` bytes. 0; -EBADMSG: not a well-formed record (version, a length, a NUL inside a
 * variable or a hook name, bytes left over); -ENOMEM. On success the caller releases `record`. */
int rs_event_record_decode(const void *data, size_t len, struct rs_event_record *record);

void rs_event_record_release(struct rs_event_record *record);

/* Sets the count of failed attempts in an encoded record (`len` bytes), at most 255. */
void rs_event_record_set_attempts(void *data, size_t len, unsigned attempts);

#endif
