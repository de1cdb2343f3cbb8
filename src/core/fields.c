#include "fields.h"
#include "textfmt.h"

#include <stdio.h>
#include <string.h>

void rs_fields_add_var(struct rs_event *ev, struct strvec *to, const char *name, const char *value)
{
    if (strvec_push_pair(to, name, value, strlen(value)) != 0)
        ev->incomplete = true;
}

void rs_fields_add(struct rs_event *ev, struct strvec *to, const char *prefix,
                   const struct field_list *list, bool (*keep)(const struct field *),
                   const void *values)
{
    for (size_t i = 0; i < list->nr; i++) {
        const struct field *f = &list->fields[i];
        const char *value = *(const char *const *)((const char *)values + f->offset);
        if ((!value && f->optional) || (keep && !keep(f)))
            continue;
        if (!value)
            value = "";
        if (strvec_push_var(to, prefix, f->suffix, value, strlen(value)) != 0)
            ev->incomplete = true;
    }
}

const char *rs_fields_join(char out[64], const char *head, const char *middle, bool with_number,
                           size_t n)
{
    size_t head_len = strlen(head), middle_len = strlen(middle);
    if (head_len + middle_len + RS_FMT_UNSIGNED_MAX >= 64)
        return "";
    memcpy(out, head, head_len);
    memcpy(out + head_len, middle, middle_len);
    size_t len = head_len + middle_len;
    if (with_number)
        len += rs_fmt_unsigned(out + len, n);
    out[len] = '\0';
    return out;
}

void rs_fields_doc(void (*fn)(void *ctx, const struct rs_var_doc *doc), void *ctx,
                   const char *prefix, const struct field_list *list,
                   bool (*keep)(const struct field *))
{
    char name[96];
    for (size_t i = 0; i < list->nr; i++) {
        const struct field *f = &list->fields[i];
        if (keep && !keep(f))
            continue;
        snprintf(name, sizeof(name), "%s%s", prefix, f->suffix);
        struct rs_var_doc doc = {name, f->type, f->optional, f->description};
        fn(ctx, &doc);
    }
}
