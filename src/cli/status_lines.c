#include "status_lines.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The length of the UTF-8 sequence at s[0..len), 0 if it is not one. Overlong forms, surrogates
 * and code points past U+10FFFF are not UTF-8: a terminal could read them as something else. */
static size_t utf8_sequence(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t min;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        min = 0x80;
        *cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        min = 0x800;
        *cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        min = 0x10000;
        *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return n;
}

/* Code points that are UTF-8 and yet move the cursor, end a line or reorder what follows. */
static bool unsafe_code_point(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static void put_hex(FILE *out, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "\\x%02x", s[i]);
}

void rs_status_put_escaped(FILE *out, const char *s, size_t len, bool token)
{
    const unsigned char *c = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (c[i] < 0x80) {
            if (c[i] < 0x20 || c[i] == 0x7f || c[i] == '\\' || (token && c[i] == ' '))
                put_hex(out, c + i, 1);
            else
                putc(c[i], out);
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_sequence(c + i, len - i, &cp);
        if (!n) {
            put_hex(out, c + i, 1);
            i++;
        } else {
            if (unsafe_code_point(cp))
                put_hex(out, c + i, n);
            else
                fwrite(c + i, 1, n, out);
            i += n;
        }
    }
}

static void put_string(FILE *out, const struct json *v)
{
    rs_status_put_escaped(out, v->string, v->len, false);
}

/* A column's text: "-" for a field that is missing or null (it does not apply to the script),
 * "?" for one of another type than Kea's library gives it. */
static const char *absent(const struct json *v)
{
    return !v || v->type == JSON_NULL ? "-" : "?";
}

static void column_integer(FILE *out, int width, const struct json *v, const char *unit)
{
    if (v && v->type == JSON_NUMBER && v->is_integer) {
        char text[32];
        snprintf(text, sizeof(text), "%" PRId64 "%s", v->integer, unit);
        fprintf(out, "%*s ", width, text);
    } else {
        fprintf(out, "%*s ", width, absent(v));
    }
}

/* `v` if it is the string `a` or `b` (no NUL inside), else what absent() says. */
static const char *one_of(const struct json *v, const char *a, const char *b)
{
    if (v && v->type == JSON_STRING && strlen(v->string) == v->len &&
        (strcmp(v->string, a) == 0 || strcmp(v->string, b) == 0))
        return v->string;
    return absent(v);
}

/* "exec/async": how it runs and whether Kea waits for it, one column. */
static void column_mode(FILE *out, int width, const struct json *script)
{
    const struct json *wait = json_get(script, "wait");
    const char *waits = absent(wait);
    if (wait && wait->type == JSON_BOOL)
        waits = wait->boolean ? "wait" : "async";
    char text[64];
    snprintf(text, sizeof(text), "%s/%s", one_of(json_get(script, "mode"), "exec", "worker"),
             waits);
    fprintf(out, "%-*s ", width, text);
}

static void column_bool(FILE *out, int width, const struct json *v)
{
    const char *text = v && v->type == JSON_BOOL ? (v->boolean ? "yes" : "no") : absent(v);
    fprintf(out, "%-*s ", width, text);
}

/* A worker's pid while it runs; "stopped" when it failed and waits for the next event to be
 * started again; "-" for a script run once per event. */
static void column_worker(FILE *out, int width, const struct json *worker)
{
    const struct json *pid = json_get(worker, "pid");
    const char *state = one_of(json_get(worker, "state"), "running", "not running");
    if (!worker || worker->type != JSON_OBJECT)
        fprintf(out, "%-*s ", width, absent(worker));
    else if (strcmp(state, "running") == 0 && pid && pid->type == JSON_NUMBER && pid->is_integer)
        fprintf(out, "%-*" PRId64 " ", width, pid->integer);
    else if (strcmp(state, "not running") == 0)
        fprintf(out, "%-*s ", width, "stopped");
    else
        fprintf(out, "%-*s ", width, "?");
}

static const char HEADER[] = "IDX MODE         PAUSED WORKER   RUNS QUEUE SPOOL DELIVERED FAILED "
                             "DROPPED DEAD OLDEST SCRIPT\n";

static void print_script(FILE *out, const struct json *script)
{
    column_integer(out, 3, json_get(script, "index"), "");
    column_mode(out, 12, script);
    column_bool(out, 6, json_get(script, "paused"));
    column_worker(out, 7, json_get(script, "worker"));
    column_integer(out, 5, json_get(script, "runs-started"), "");
    column_integer(out, 5, json_get(script, "queue-depth"), "");
    column_integer(out, 5, json_get(script, "spool-depth"), "");
    column_integer(out, 9, json_get(script, "delivered"), "");
    column_integer(out, 6, json_get(script, "failed"), "");
    column_integer(out, 7, json_get(script, "dropped"), "");
    column_integer(out, 4, json_get(script, "dead-lettered"), "");
    column_integer(out, 6, json_get(script, "oldest-age"), "s");
    const struct json *path = json_get(script, "script");
    if (path && path->type == JSON_STRING)
        rs_status_put_escaped(out, path->string, path->len, true);
    else
        fputs(absent(path), out);
    const struct json *error = json_get(script, "last-error");
    if (error && error->type == JSON_STRING) {
        fputs("  last-error: ", out);
        put_string(out, error);
    } else if (error && error->type != JSON_NULL) {
        fputs("  last-error: ?", out);
    }
    putc('\n', out);
}

void rs_status_print(FILE *out, const struct json *scripts)
{
    fputs(HEADER, out);
    for (size_t i = 0; scripts && scripts->type == JSON_ARRAY && i < scripts->nr; i++)
        print_script(out, scripts->items[i]);
}

static void where_error(FILE *err, const char *where, const char *what)
{
    fputs("kea-runscript-status: ", err);
    rs_status_put_escaped(err, where, strlen(where), false);
    fprintf(err, ": %s\n", what);
}

enum rs_status_verdict rs_status_check(const struct json *answer, const struct json **scripts,
                                       FILE *err, const char *where)
{
    *scripts = NULL;
    if (!answer || answer->type != JSON_OBJECT) {
        where_error(err, where, "not an answer from Kea (not a map)");
        return RS_STATUS_BAD_ANSWER;
    }
    const struct json *result = json_get(answer, "result");
    if (!result || result->type != JSON_NUMBER || !result->is_integer) {
        where_error(err, where, "not an answer from Kea (no integer \"result\")");
        return RS_STATUS_BAD_ANSWER;
    }
    const struct json *text = json_get(answer, "text");
    if (result->integer != 0) {
        fputs("kea-runscript-status: ", err);
        if (result->integer == 2)
            fputs("kea-hook-runscript is not loaded in the Kea at ", err);
        else
            fprintf(err, "the Kea at ");
        rs_status_put_escaped(err, where, strlen(where), false);
        if (result->integer == 2)
            fputs(" (it does not know runscript-status)", err);
        else
            fprintf(err, " answered with an error (result %" PRId64 ")", result->integer);
        if (text && text->type == JSON_STRING) {
            fputs(": ", err);
            put_string(err, text);
        }
        putc('\n', err);
        return RS_STATUS_KEA_ERROR;
    }
    const struct json *arguments = json_get(answer, "arguments");
    const struct json *list = json_get(arguments, "scripts");
    if (!list || list->type != JSON_ARRAY) {
        char what[128];
        snprintf(what, sizeof(what), "Kea's answer has no list of scripts (its arguments are %s%s)",
                 arguments ? json_type_name(arguments->type) : "missing",
                 arguments && arguments->type == JSON_OBJECT ? " without \"scripts\" as a list"
                                                             : "");
        where_error(err, where, what);
        return RS_STATUS_BAD_ANSWER;
    }
    *scripts = list;
    return RS_STATUS_OK;
}
