#include "strvec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strvec_init(struct strvec *sv)
{
    sv->items = NULL;
    sv->nr = 0;
    sv->alloc = 0;
}

/* Takes ownership of `s` on success only. */
static int strvec_adopt(struct strvec *sv, char *s)
{
    if (sv->nr + 2 > sv->alloc) {
        size_t alloc = sv->alloc ? sv->alloc * 2 : 16;
        char **items = realloc(sv->items, alloc * sizeof(*items));
        if (!items)
            return -ENOMEM;
        sv->items = items;
        sv->alloc = alloc;
    }
    sv->items[sv->nr++] = s;
    sv->items[sv->nr] = NULL;
    return 0;
}

int strvec_push(struct strvec *sv, const char *s)
{
    return strvec_push_pair(sv, s, NULL, 0);
}

int strvec_push_pair(struct strvec *sv, const char *key, const char *value, size_t value_len)
{
    size_t key_len = strlen(key);
    size_t total = key_len + (value ? 1 + value_len : 0);
    char *s = malloc(total + 1);
    if (!s)
        return -ENOMEM;
    memcpy(s, key, key_len);
    if (value) {
        s[key_len] = '=';
        memcpy(s + key_len + 1, value, value_len);
    }
    s[total] = '\0';
    int err = strvec_adopt(sv, s);
    if (err)
        free(s);
    return err;
}

int strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int len = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -ENOMEM;
    int err = strvec_adopt(sv, s);
    if (err)
        free(s);
    return err;
}

char *const *strvec_array(const struct strvec *sv)
{
    static char *const empty[] = {NULL};
    return sv->items ? sv->items : empty;
}

void strvec_clear(struct strvec *sv)
{
    for (size_t i = 0; i < sv->nr; i++)
        free(sv->items[i]);
    free(sv->items);
    strvec_init(sv);
}
