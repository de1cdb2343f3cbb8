/*
 * fields: the table machinery behind the variables (internal to event.c and event_isc.c).
 *
 * A block of variables is a plain struct of `const char *` members filled by the Kea adapter, and
 * a table saying, per member, the suffix of its variable name, whether it is left out when NULL,
 * and what it means. Emitting and documenting both walk the same table, so the names scripts
 * get and the names the README lists cannot differ.
 */
#ifndef RS_FIELDS_H
#define RS_FIELDS_H

#include "event.h"

#include <stdbool.h>
#include <stddef.h>

struct field {
    const char *suffix; /* appended to the block's prefix; "" names the prefix itself */
    size_t offset;
    bool optional;
    const char *type;
    const char *description;
};

struct field_list {
    const struct field *fields;
    size_t nr;
};

#define F(st, member, suffix, opt, type, desc)                                                     \
    {                                                                                              \
        suffix, offsetof(st, member), opt, type, desc                                              \
    }
#define NR(array) (sizeof(array) / sizeof(array[0]))
#define FIELDS(array)                                                                              \
    {                                                                                              \
        array, NR(array)                                                                           \
    }

/* Appends NAME=VALUE to `to`; on allocation failure marks the event incomplete. */
void rs_fields_add_var(struct rs_event *ev, struct strvec *to, const char *name, const char *value);

/* Appends the variables of `values` (a block struct) named `prefix` + suffix, skipping the
 * fields for which `keep` (if given) is false. */
void rs_fields_add(struct rs_event *ev, struct strvec *to, const char *prefix,
                   const struct field_list *list, bool (*keep)(const struct field *),
                   const void *values);

/* `head`, `middle`, then the number `n` if `with_number`, into `out`, which holds the names of
 * counts and listed leases ("KEA_LEASES4_AT0"). These are built for every commit on Kea's thread,
 * where snprintf() showed. Returns `out`, or "" if the name would not fit. */
const char *rs_fields_join(char out[64], const char *head, const char *middle, bool with_number,
                           size_t n);

/* Calls `fn` for each field of `list`, named `prefix` + suffix. */
void rs_fields_doc(void (*fn)(void *ctx, const struct rs_var_doc *doc), void *ctx,
                   const char *prefix, const struct field_list *list,
                   bool (*keep)(const struct field *));

#endif
