#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any sane configuration, shallow enough that recursion can never exhaust the
 * stack of a Kea thread. */
#define JSON_MAX_DEPTH 32

struct parser {
    const char *text;
    size_t len;
    size_t pos;
    char *err;
    size_t err_size;
    bool failed;
};

static void fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->err_size)
        return;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->err_size, "invalid JSON at offset %zu: %s", p->pos, what);
}

static void skip_space(struct parser *p)
{
    while (p->pos < p->len && strchr(" \t\r\n", p->text[p->pos]) && p->text[p->pos])
        p->pos++;
}

static bool consume(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return false;
    p->pos += n;
    return true;
}

static struct json *new_value(struct parser *p, enum json_type type)
{
    struct json *v = calloc(1, sizeof(*v));
    if (!v)
        fail(p, "out of memory");
    else
        v->type = type;
    return v;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static long read_hex4(struct parser *p)
{
    if (p->len - p->pos < 4) {
        fail(p, "truncated \\u escape");
        return -1;
    }
    long cp = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p->text[p->pos + i]);
        if (d < 0) {
            fail(p, "bad \\u escape");
            return -1;
        }
        cp = cp * 16 + d;
    }
    p->pos += 4;
    return cp;
}

static size_t put_utf8(char *out, long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads a string literal at p->pos (on the opening quote) into a malloc'ed buffer. */
static char *parse_string_raw(struct parser *p, size_t *out_len)
{
    p->pos++; /* opening quote */
    /* Escapes only ever shrink the text, so the literal's length bounds the result. */
    size_t end = p->pos;
    while (end < p->len && p->text[end] != '"')
        end += (p->text[end] == '\\') ? 2 : 1;
    if (end >= p->len) {
        fail(p, "unterminated string");
        return NULL;
    }
    char *buf = malloc(end - p->pos + 1);
    if (!buf) {
        fail(p, "out of memory");
        return NULL;
    }
    size_t n = 0;
    while (p->text[p->pos] != '"') {
        unsigned char c = (unsigned char)p->text[p->pos++];
        if (c < 0x20) {
            fail(p, "control character in string");
            goto free_buf;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        char esc = p->text[p->pos++];
        const char *from = "\"\\/bfnrt";
        const char *to = "\"\\/\b\f\n\r\t";
        const char *hit = esc ? strchr(from, esc) : NULL;
        if (hit) {
            buf[n++] = to[hit - from];
            continue;
        }
        if (esc != 'u') {
            fail(p, "bad escape '\\%c'", esc);
            goto free_buf;
        }
        long cp = read_hex4(p);
        if (cp < 0)
            goto free_buf;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!consume(p, "\\u")) {
                fail(p, "lone surrogate");
                goto free_buf;
            }
            long low = read_hex4(p);
            if (low < 0xDC00 || low > 0xDFFF) {
                fail(p, "bad surrogate pair");
                goto free_buf;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail(p, "lone surrogate");
            goto free_buf;
        }
        n += put_utf8(buf + n, cp);
    }
    p->pos++; /* closing quote */
    buf[n] = '\0';
    *out_len = n;
    return buf;

free_buf:
    free(buf);
    return NULL;
}

static struct json *parse_value(struct parser *p, int depth);

static struct json *parse_number(struct parser *p)
{
    size_t start = p->pos;
    bool integral = true;
    if (p->pos < p->len && p->text[p->pos] == '-')
        p->pos++;
    size_t digits = p->pos;
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
        p->pos++;
    if (p->pos == digits || (p->text[digits] == '0' && p->pos - digits > 1)) {
        fail(p, "bad number");
        return NULL;
    }
    if (p->pos < p->len && p->text[p->pos] == '.') {
        integral = false;
        size_t frac = ++p->pos;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
            p->pos++;
        if (p->pos == frac) {
            fail(p, "bad number");
            return NULL;
        }
    }
    if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
        integral = false;
        p->pos++;
        if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
            p->pos++;
        size_t exp = p->pos;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
            p->pos++;
        if (p->pos == exp) {
            fail(p, "bad number");
            return NULL;
        }
    }
    char literal[64];
    size_t n = p->pos - start;
    if (n >= sizeof(literal)) {
        fail(p, "number too long");
        return NULL;
    }
    memcpy(literal, p->text + start, n);
    literal[n] = '\0';
    struct json *v = new_value(p, JSON_NUMBER);
    if (!v)
        return NULL;
    v->number = strtod(literal, NULL);
    if (integral) {
        errno = 0;
        long long i = strtoll(literal, NULL, 10);
        v->is_integer = (errno == 0);
        v->integer = i;
    }
    return v;
}

static struct json *parse_container(struct parser *p, int depth, bool is_object)
{
    struct json *v = new_value(p, is_object ? JSON_OBJECT : JSON_ARRAY);
    if (!v)
        return NULL;
    char close = is_object ? '}' : ']';
    size_t alloc = 0;
    p->pos++; /* opening bracket */
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == close) {
        p->pos++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        if (is_object) {
            skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != '"') {
                fail(p, "expected a member name");
                goto free_v;
            }
            size_t key_len;
            key = parse_string_raw(p, &key_len);
            if (!key)
                goto free_v;
            skip_space(p);
            if (!consume(p, ":")) {
                fail(p, "expected ':'");
                free(key);
                goto free_v;
            }
        }
        struct json *item = parse_value(p, depth + 1);
        if (!item) {
            free(key);
            goto free_v;
        }
        if (v->nr == alloc) {
            alloc = alloc ? alloc * 2 : 4;
            struct json **items = realloc(v->items, alloc * sizeof(*items));
            char **keys = is_object ? realloc(v->keys, alloc * sizeof(*keys)) : NULL;
            if (items)
                v->items = items;
            if (keys)
                v->keys = keys;
            if (!items || (is_object && !keys)) {
                fail(p, "out of memory");
                free(key);
                json_free(item);
                goto free_v;
            }
        }
        v->items[v->nr] = item;
        if (is_object)
            v->keys[v->nr] = key;
        v->nr++;
        skip_space(p);
        if (consume(p, ","))
            continue;
        if (p->pos < p->len && p->text[p->pos] == close) {
            p->pos++;
            return v;
        }
        fail(p, "expected ',' or '%c'", close);
        goto free_v;
    }

free_v:
    json_free(v);
    return NULL;
}

static struct json *parse_value(struct parser *p, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        fail(p, "nested deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    skip_space(p);
    if (p->pos >= p->len) {
        fail(p, "unexpected end of input");
        return NULL;
    }
    char c = p->text[p->pos];
    if (c == '{' || c == '[')
        return parse_container(p, depth, c == '{');
    if (c == '"') {
        size_t len;
        char *s = parse_string_raw(p, &len);
        if (!s)
            return NULL;
        struct json *v = new_value(p, JSON_STRING);
        if (!v) {
            free(s);
            return NULL;
        }
        v->string = s;
        v->len = len;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p);
    if (consume(p, "null"))
        return new_value(p, JSON_NULL);
    bool is_true = consume(p, "true");
    if (is_true || consume(p, "false")) {
        struct json *v = new_value(p, JSON_BOOL);
        if (v)
            v->boolean = is_true;
        return v;
    }
    fail(p, "unexpected character");
    return NULL;
}

struct json *json_parse(const char *text, size_t len, char *err, size_t err_size)
{
    struct parser p = {text, len, 0, err, err_size, false};
    if (err_size)
        err[0] = '\0';
    struct json *v = parse_value(&p, 0);
    if (!v)
        return NULL;
    skip_space(&p);
    if (p.pos != p.len) {
        fail(&p, "trailing characters");
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(struct json *value)
{
    if (!value)
        return;
    for (size_t i = 0; i < value->nr; i++) {
        json_free(value->items[i]);
        if (value->keys)
            free(value->keys[i]);
    }
    free(value->items);
    free(value->keys);
    free(value->string);
    free(value);
}

const struct json *json_get(const struct json *object, const char *key)
{
    if (!object || object->type != JSON_OBJECT)
        return NULL;
    /* Last one wins, as in Kea's own Element maps. */
    for (size_t i = object->nr; i-- > 0;)
        if (strcmp(object->keys[i], key) == 0)
            return object->items[i];
    return NULL;
}

const char *json_type_name(enum json_type type)
{
    static const char *const names[] = {"null",     "a boolean", "a number",
                                        "a string", "a list",    "a map"};
    return names[type];
}
