#include "frame.h"
#include "strvec.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void rs_buf_release(struct rs_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->alloc = 0;
}

static int buf_reserve(struct rs_buf *buf, size_t more)
{
    if (buf->len + more + 1 <= buf->alloc)
        return 0;
    size_t alloc = buf->alloc ? buf->alloc : 256;
    while (alloc < buf->len + more + 1)
        alloc *= 2;
    char *data = realloc(buf->data, alloc);
    if (!data)
        return -ENOMEM;
    buf->data = data;
    buf->alloc = alloc;
    return 0;
}

static int buf_add(struct rs_buf *buf, const char *bytes, size_t n)
{
    if (buf_reserve(buf, n))
        return -ENOMEM;
    memcpy(buf->data + buf->len, bytes, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return 0;
}

/* One line of an env frame: `s` escaped, then a newline. This runs for every byte of every event:
 * runs of plain bytes are found by strcspn (vectorised in glibc) and copied whole. */
static int add_env_line(struct rs_buf *buf, const char *s)
{
    for (;;) {
        size_t plain = strcspn(s, "\\\n");
        if (plain && buf_add(buf, s, plain))
            return -ENOMEM;
        if (!s[plain])
            return buf_add(buf, "\n", 1);
        if (buf_add(buf, s[plain] == '\n' ? "\\n" : "\\\\", 2))
            return -ENOMEM;
        s += plain + 1;
    }
}

/* Length of the UTF-8 sequence starting at s (at most n bytes), or 0 if it is not valid UTF-8
 * (overlong forms and surrogates included). */
static size_t utf8_length(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

static int add_json_string(struct rs_buf *buf, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    int rc = buf_add(buf, "\"", 1);
    for (size_t i = 0; i < n && !rc;) {
        unsigned char c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rc = buf_add(buf, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            rc = buf_add(buf, esc, 6);
            i++;
        } else if (c < 0x80) {
            rc = buf_add(buf, s + i, 1);
            i++;
        } else {
            size_t len = utf8_length(u + i, n - i);
            if (len) {
                rc = buf_add(buf, s + i, len);
                i += len;
            } else {
                memcpy(esc, "\\udc", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                rc = buf_add(buf, esc, 6);
                i++;
            }
        }
    }
    return rc ? rc : buf_add(buf, "\"", 1);
}

int rs_frame_encode(enum rs_format format, const char *hook, char *const envp[], struct rs_buf *out)
{
    int rc;
    if (format == RS_FORMAT_ENV) {
        rc = add_env_line(out, hook);
        for (size_t i = 0; envp[i] && !rc; i++)
            rc = add_env_line(out, envp[i]);
        return rc ? rc : buf_add(out, "\n", 1);
    }
    rc = buf_add(out, "{\"hook\": ", 9);
    if (!rc)
        rc = add_json_string(out, hook, strlen(hook));
    if (!rc)
        rc = buf_add(out, ", \"env\": {", 10);
    for (size_t i = 0; envp[i] && !rc; i++) {
        const char *eq = strchr(envp[i], '=');
        size_t name_len = eq ? (size_t)(eq - envp[i]) : strlen(envp[i]);
        const char *value = eq ? eq + 1 : "";
        if (i)
            rc = buf_add(out, ", ", 2);
        if (!rc)
            rc = add_json_string(out, envp[i], name_len);
        if (!rc)
            rc = buf_add(out, ": ", 2);
        if (!rc)
            rc = add_json_string(out, value, strlen(value));
    }
    return rc ? rc : buf_add(out, "}}\n", 3);
}

/* Decodes one escaped line of `len` bytes into `out`. */
static int unescape_line(const char *line, size_t len, struct rs_buf *out)
{
    out->len = 0;
    if (buf_reserve(out, len))
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (c == '\0')
            return -EPROTO;
        if (c == '\\') {
            if (++i == len)
                return -EPROTO;
            c = line[i] == 'n' ? '\n' : line[i] == '\\' ? '\\' : 0;
            if (!c)
                return -EPROTO;
        }
        out->data[out->len++] = c;
    }
    out->data[out->len] = '\0';
    return 0;
}

long rs_frame_decode_env(const char *data, size_t len, struct rs_buf *hook, struct strvec *vars)
{
    struct rs_buf line = RS_BUF_INIT;
    size_t pos = 0;
    long rc = 0;
    bool first = true;
    strvec_clear(vars);
    for (;;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl) {
            rc = 0; /* incomplete */
            break;
        }
        size_t line_len = (size_t)(nl - (data + pos));
        if (line_len == 0) {
            if (first) {
                rc = -EPROTO; /* an event starts with its hook name */
                break;
            }
            rc = (long)(pos + 1);
            break;
        }
        rc = unescape_line(data + pos, line_len, first ? hook : &line);
        if (rc)
            break;
        if (!first) {
            if (!memchr(line.data, '=', line.len)) {
                rc = -EPROTO;
                break;
            }
            if (strvec_push(vars, line.data)) {
                rc = -ENOMEM;
                break;
            }
        }
        first = false;
        pos += line_len + 1;
        if (pos > (size_t)LONG_MAX) {
            rc = -EPROTO;
            break;
        }
    }
    rs_buf_release(&line);
    if (rc <= 0)
        strvec_clear(vars);
    return rc;
}

int rs_frame_parse_answer(const char *line, size_t len, int *code)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    bool negative = false;
    if (i < len && (line[i] == '-' || line[i] == '+'))
        negative = line[i++] == '-';
    size_t digits = i;
    long value = 0;
    while (i < len && line[i] >= '0' && line[i] <= '9') {
        value = value * 10 + (line[i++] - '0');
        if (value > INT_MAX)
            return -EPROTO;
    }
    if (i == digits)
        return -EPROTO;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i != len)
        return -EPROTO;
    *code = (int)(negative ? -value : value);
    return 0;
}
