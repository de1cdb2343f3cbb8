#include "event_record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FIXED_SIZE      12 /* version, attempts, hook length, key count, variable count */
#define EVERY_KEY_COUNT 0xffffffffu

static unsigned char *put(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

int rs_event_record_encode(const char *hook, unsigned attempts, const uint64_t keys[],
                           size_t nr_keys, char *const envp[], void **out, size_t *len)
{
    size_t hook_len = strlen(hook), nr_env = 0;
    bool every_key = nr_keys == RS_EVENT_RECORD_EVERY_KEY;
    if (every_key)
        nr_keys = 0;
    if (hook_len > UINT16_MAX || nr_keys > RS_EVENT_RECORD_MAX_KEYS || attempts > UINT8_MAX)
        return -EINVAL;
    size_t size = FIXED_SIZE + hook_len + nr_keys * 8;
    for (; envp[nr_env]; nr_env++) {
        size_t var_len = strlen(envp[nr_env]);
        if (var_len > UINT32_MAX || nr_env == UINT32_MAX)
            return -EINVAL;
        size += 4 + var_len;
    }
    unsigned char *buf = malloc(size), *p = buf;
    if (!buf)
        return -ENOMEM;
    p = put(p, RS_EVENT_RECORD_VERSION, 1);
    p = put(p, attempts, 1);
    p = put(p, hook_len, 2);
    p = put(p, every_key ? EVERY_KEY_COUNT : nr_keys, 4);
    p = put(p, nr_env, 4);
    memcpy(p, hook, hook_len);
    p += hook_len;
    for (size_t i = 0; i < nr_keys; i++)
        p = put(p, keys[i], 8);
    for (size_t i = 0; i < nr_env; i++) {
        size_t var_len = strlen(envp[i]);
        p = put(p, var_len, 4);
        memcpy(p, envp[i], var_len);
        p += var_len;
    }
    *out = buf;
    *len = size;
    return 0;
}

/* A cursor over the bytes being decoded: every take checks what is left. */
struct reader {
    const unsigned char *p;
    size_t left;
};

static bool take(struct reader *r, uint64_t *v, int bytes)
{
    if (r->left < (size_t)bytes)
        return false;
    *v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        *v = *v << 8 | r->p[i];
    r->p += bytes;
    r->left -= (size_t)bytes;
    return true;
}

/* The next `len` bytes as a C string, copied to *out (advanced past its NUL); false when they are
 * not all there or hold a NUL (which a C string could not carry: the record was not made by the
 * encoder). */
static bool take_string(struct reader *r, size_t len, char **out, char **string)
{
    if (r->left < len || memchr(r->p, '\0', len))
        return false;
    *string = *out;
    memcpy(*out, r->p, len);
    (*out)[len] = '\0';
    *out += len + 1;
    r->p += len;
    r->left -= len;
    return true;
}

int rs_event_record_decode(const void *data, size_t len, struct rs_event_record *record)
{
    *record = (struct rs_event_record){0};
    struct reader r = {data, len};
    uint64_t version, attempts, hook_len, nr_keys, nr_env;
    if (!take(&r, &version, 1) || !take(&r, &attempts, 1) || !take(&r, &hook_len, 2) ||
        !take(&r, &nr_keys, 4) || !take(&r, &nr_env, 4) || version != RS_EVENT_RECORD_VERSION)
        return -EBADMSG;
    bool every_key = nr_keys == EVERY_KEY_COUNT;
    if (every_key)
        nr_keys = 0;
    if (nr_keys > RS_EVENT_RECORD_MAX_KEYS || nr_keys * 8 > r.left || nr_env * 4 > r.left)
        return -EBADMSG;
    int rc = 0;
    record->attempts = (unsigned)attempts;
    /* Every string in one block (a lane decodes thousands of events a second: one allocation,
     * not one per variable): their bytes are part of the record, plus a NUL each. */
    record->strings = malloc(len + nr_env + 1);
    record->keys = malloc((nr_keys ? nr_keys : 1) * sizeof(*record->keys));
    record->envp = calloc(nr_env + 1, sizeof(*record->envp));
    if (!record->strings || !record->keys || !record->envp) {
        rs_event_record_release(record);
        return -ENOMEM;
    }
    char *out = record->strings;
    if (!take_string(&r, hook_len, &out, &record->hook)) {
        rs_event_record_release(record);
        return -EBADMSG;
    }
    record->nr_keys = every_key ? RS_EVENT_RECORD_EVERY_KEY : nr_keys;
    for (size_t i = 0; !rc && i < nr_keys; i++)
        if (!take(&r, &record->keys[i], 8))
            rc = -EBADMSG;
    for (size_t i = 0; !rc && i < nr_env; i++) {
        uint64_t var_len;
        if (!take(&r, &var_len, 4)) {
            rc = -EBADMSG;
            break;
        }
        char *var;
        if (!take_string(&r, var_len, &out, &var)) {
            rc = -EBADMSG;
            break;
        }
        record->envp[record->nr_env++] = var;
        /* Only "NAME=value" is a variable; anything else the script would not see as one. */
        if (var[0] == '=' || !strchr(var, '='))
            rc = -EBADMSG;
    }
    if (!rc && r.left)
        rc = -EBADMSG;
    if (rc)
        rs_event_record_release(record);
    return rc;
}

void rs_event_record_set_attempts(void *data, size_t len, unsigned attempts)
{
    if (len >= FIXED_SIZE)
        ((unsigned char *)data)[1] = (unsigned char)(attempts > UINT8_MAX ? UINT8_MAX : attempts);
}

void rs_event_record_release(struct rs_event_record *record)
{
    free(record->strings);
    free(record->keys);
    free(record->envp);
    *record = (struct rs_event_record){0};
}
