#include "json.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static struct json *parse_ok(const char *text)
{
    struct json *v = json_parse(text, strlen(text), err, sizeof(err));
    if (!v)
        print_message("unexpected error for %s: %s\n", text, err);
    assert_non_null(v);
    assert_string_equal(err, "");
    return v;
}

/* Parses `text`, which must fail with a message holding `what` (and `offset`, unless < 0). */
static void parse_fails(const char *text, size_t len, const char *what, int offset)
{
    memset(err, 'X', sizeof(err));
    struct json *v = json_parse(text, len, err, sizeof(err));
    if (v)
        print_message("unexpectedly parsed: %.*s\n", (int)len, text);
    assert_null(v);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    if (!strstr(err, what))
        print_message("error for %.*s: %s (expected %s)\n", (int)len, text, err, what);
    assert_non_null(strstr(err, what));
    assert_non_null(strstr(err, "invalid JSON at offset "));
    if (offset >= 0) {
        char at[64];
        snprintf(at, sizeof(at), "at offset %d:", offset);
        if (!strstr(err, at))
            print_message("error for %.*s: %s (expected %s)\n", (int)len, text, err, at);
        assert_non_null(strstr(err, at));
    }
}

#define FAILS(text, what, offset) parse_fails(text, strlen(text), what, offset)

static void test_scalars(void **state)
{
    (void)state;
    struct json *v = parse_ok("null");
    assert_int_equal(v->type, JSON_NULL);
    json_free(v);

    v = parse_ok(" true ");
    assert_int_equal(v->type, JSON_BOOL);
    assert_true(v->boolean);
    json_free(v);

    v = parse_ok("\t\r\nfalse\n");
    assert_int_equal(v->type, JSON_BOOL);
    assert_false(v->boolean);
    json_free(v);

    v = parse_ok("\"text\"");
    assert_int_equal(v->type, JSON_STRING);
    assert_string_equal(v->string, "text");
    assert_int_equal(v->len, 4);
    json_free(v);

    v = parse_ok("\"\"");
    assert_int_equal(v->type, JSON_STRING);
    assert_string_equal(v->string, "");
    assert_int_equal(v->len, 0);
    json_free(v);

    v = parse_ok("7");
    assert_int_equal(v->type, JSON_NUMBER);
    assert_true(v->is_integer);
    assert_int_equal(v->integer, 7);
    json_free(v);
}

static void test_containers(void **state)
{
    (void)state;
    struct json *v = parse_ok("{ \"a\" : [1, {\"b\": null}, []], \"c\":{\"d\":[true,false]},"
                              "\"e\": {}, \"f\": \"x\" }");
    assert_int_equal(v->type, JSON_OBJECT);
    assert_int_equal(v->nr, 4);
    assert_string_equal(v->keys[0], "a");
    assert_string_equal(v->keys[3], "f");

    const struct json *a = json_get(v, "a");
    assert_non_null(a);
    assert_int_equal(a->type, JSON_ARRAY);
    assert_int_equal(a->nr, 3);
    assert_null(a->keys);
    assert_int_equal(a->items[0]->integer, 1);
    assert_int_equal(a->items[1]->type, JSON_OBJECT);
    assert_int_equal(json_get(a->items[1], "b")->type, JSON_NULL);
    assert_int_equal(a->items[2]->type, JSON_ARRAY);
    assert_int_equal(a->items[2]->nr, 0);

    const struct json *d = json_get(json_get(v, "c"), "d");
    assert_non_null(d);
    assert_int_equal(d->nr, 2);
    assert_true(d->items[0]->boolean);
    assert_false(d->items[1]->boolean);

    assert_int_equal(json_get(v, "e")->type, JSON_OBJECT);
    assert_int_equal(json_get(v, "e")->nr, 0);
    assert_string_equal(json_get(v, "f")->string, "x");
    json_free(v);

    /* Enough members to make the containers grow several times. */
    char big[4096] = "[";
    for (int i = 0; i < 300; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s%d", i ? "," : "", i);
    strcat(big, "]");
    v = parse_ok(big);
    assert_int_equal(v->nr, 300);
    assert_int_equal(v->items[299]->integer, 299);
    json_free(v);
}

static void test_escapes(void **state)
{
    (void)state;
    struct json *v = parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    assert_int_equal(v->len, 8);
    assert_memory_equal(v->string, "\"\\/\b\f\n\r\t", 9);
    json_free(v);

    /* Two-, three- and four-byte UTF-8, the last from a surrogate pair; upper-case hex too. */
    v = parse_ok("\"\\u00e9\\u20AC\\ud83d\\ude00\\u0041\"");
    static const char utf8[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                               "A";
    assert_int_equal(v->len, sizeof(utf8) - 1);
    assert_memory_equal(v->string, utf8, sizeof(utf8));
    json_free(v);

    /* Non-ASCII bytes in the text are taken as they are. */
    v = parse_ok("\"caf\xc3\xa9 \xff\"");
    assert_int_equal(v->len, 7);
    assert_memory_equal(v->string, "caf\xc3\xa9 \xff", 8);
    json_free(v);
}

static void test_nul_escape(void **state)
{
    (void)state;
    struct json *v = parse_ok("\"a\\u0000b\"");
    assert_int_equal(v->type, JSON_STRING);
    assert_int_equal(v->len, 3);
    assert_memory_equal(v->string, "a\0b", 4);
    /* What a caller checks to refuse such a value where it would be cut short. */
    assert_int_equal(strlen(v->string), 1);
    json_free(v);
}

static void test_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool is_integer;
        int64_t integer;
        double number;
    } cases[] = {
        {"0", true, 0, 0.0},
        {"-0", true, 0, -0.0},
        {"42", true, 42, 42.0},
        {"-17", true, -17, -17.0},
        {"9223372036854775807", true, INT64_MAX, 9223372036854775807.0},
        {"-9223372036854775808", true, INT64_MIN, -9223372036854775808.0},
        {"9223372036854775808", false, 0, 9223372036854775808.0},
        {"-9223372036854775809", false, 0, -9223372036854775809.0},
        {"123456789012345678901234567890", false, 0, 1.2345678901234568e29},
        {"1.5", false, 0, 1.5},
        {"-0.25", false, 0, -0.25},
        {"1e3", false, 0, 1000.0},
        {"2E-2", false, 0, 0.02},
        {"1.5e+2", false, 0, 150.0},
        {"10.0", false, 0, 10.0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json *v = parse_ok(cases[i].text);
        assert_int_equal(v->type, JSON_NUMBER);
        if (v->is_integer != cases[i].is_integer)
            print_message("%s: is_integer %d\n", cases[i].text, v->is_integer);
        assert_int_equal(v->is_integer, cases[i].is_integer);
        if (cases[i].is_integer)
            assert_true(v->integer == cases[i].integer);
        assert_true(fabs(v->number - cases[i].number) <= fabs(cases[i].number) * 1e-12);
        json_free(v);
    }
}

static void test_errors(void **state)
{
    (void)state;
    FAILS("", "unexpected end of input", 0);
    FAILS("   ", "unexpected end of input", 3);
    FAILS("{\"a\":", "unexpected end of input", 5);
    FAILS("[1,2", "expected ',' or ']'", 4);
    FAILS("{\"a\":1", "expected ',' or '}'", 6);
    FAILS("{\"a\"", "expected ':'", 4);
    FAILS("{\"a\" 1}", "expected ':'", 5);
    FAILS("{a:1}", "expected a member name", 1);
    FAILS("{\"a\":1,}", "expected a member name", 7);
    FAILS("[1,]", "unexpected character", 3);
    FAILS("\"abc", "unterminated string", -1);
    FAILS("\"abc\\\"", "unterminated string", -1);
    FAILS("{} x", "trailing characters", 3);
    FAILS("[1] [2]", "trailing characters", 4);
    FAILS("truex", "trailing characters", 4);
    FAILS("tru", "unexpected character", 0);
    FAILS("True", "unexpected character", 0);
    FAILS("nul", "unexpected character", 0);
    FAILS("'a'", "unexpected character", 0);
    FAILS("\"a\nb\"", "control character in string", -1);
    FAILS("\"a\tb\"", "control character in string", -1);
}

static void test_bad_escapes(void **state)
{
    (void)state;
    FAILS("\"\\x\"", "bad escape '\\x'", -1);
    FAILS("\"\\U0041\"", "bad escape '\\U'", -1);
    FAILS("\"\\u12\"", "truncated \\u escape", -1);
    FAILS("[\"\\u12\"]", "bad \\u escape", -1);
    FAILS("\"\\u12g4\"", "bad \\u escape", -1);
    FAILS("\"\\ud800\"", "lone surrogate", -1);
    FAILS("\"\\udc00\"", "lone surrogate", -1);
    FAILS("\"\\ud800\\u0041\"", "bad surrogate pair", -1);
    FAILS("\"\\ud800\\ud800\"", "bad surrogate pair", -1);
    /* A \u escape cut by the end of the input must not be read past it. */
    parse_fails("\"\\u00", 5, "", -1);
    parse_fails("\"\\", 2, "unterminated string", -1);
}

static void test_bad_numbers(void **state)
{
    (void)state;
    FAILS("01", "bad number", 2);
    FAILS("-01", "bad number", 3);
    FAILS("[00]", "bad number", 3);
    FAILS("-", "bad number", 1);
    FAILS("1.", "bad number", 2);
    FAILS("1.e5", "bad number", 2);
    FAILS("1e", "bad number", 2);
    FAILS("1e+", "bad number", 3);
    FAILS(".5", "unexpected character", 0);
    FAILS("+1", "unexpected character", 0);
    FAILS("--1", "bad number", 1);
    FAILS("0x10", "trailing characters", 1);
}

static char *nested(int depth, const char *inner)
{
    char *s = malloc((size_t)depth * 2 + strlen(inner) + 1);
    assert_non_null(s);
    memset(s, '[', (size_t)depth);
    strcpy(s + depth, inner);
    memset(s + depth + strlen(inner), ']', (size_t)depth);
    s[depth * 2 + strlen(inner)] = '\0';
    return s;
}

static void test_depth(void **state)
{
    (void)state;
    char *s = nested(32, "1");
    struct json *v = parse_ok(s);
    const struct json *inner = v;
    for (int i = 0; i < 32; i++)
        inner = inner->items[0];
    assert_int_equal(inner->type, JSON_NUMBER);
    json_free(v);
    free(s);

    s = nested(33, "1");
    FAILS(s, "nested deeper than 32 levels", 33);
    free(s);

    s = nested(33, "{\"a\":1}");
    FAILS(s, "nested deeper than 32 levels", 33);
    free(s);

    /* Far deeper than any stack would take by recursion: refused, not crashed. */
    s = nested(200000, "");
    FAILS(s, "nested deeper than 32 levels", 33);
    free(s);
}

static void test_length_not_nul(void **state)
{
    (void)state;
    /* Only `len` bytes are the document... */
    struct json *v = json_parse("[1] and garbage", 3, err, sizeof(err));
    assert_non_null(v);
    assert_int_equal(v->nr, 1);
    json_free(v);
    /* ...and a NUL byte within them is not whitespace. */
    parse_fails("[1]\0", 4, "trailing characters", 3);
    parse_fails("\"a\0b\"", 5, "control character in string", -1);
}

static void test_error_buffer(void **state)
{
    (void)state;
    /* No buffer at all is allowed. */
    assert_null(json_parse("[", 1, NULL, 0));
    /* A short buffer gets a truncated, terminated message. */
    char small[12];
    memset(small, 'X', sizeof(small));
    assert_null(json_parse("[", 1, small, sizeof(small)));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_memory_equal(small, "invalid JSO", sizeof(small));
}

static void test_get_last_wins(void **state)
{
    (void)state;
    struct json *v = parse_ok("{\"a\":1,\"b\":2,\"a\":3}");
    assert_int_equal(v->nr, 3);
    assert_int_equal(json_get(v, "a")->integer, 3);
    assert_int_equal(json_get(v, "b")->integer, 2);
    assert_null(json_get(v, "c"));
    assert_null(json_get(v, "A"));
    assert_null(json_get(NULL, "a"));
    json_free(v);

    v = parse_ok("[{\"a\":1}]");
    /* An array has no members, even when its items do. */
    assert_null(json_get(v, "a"));
    json_free(v);

    json_free(NULL);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(json_type_name(JSON_NULL), "null");
    assert_string_equal(json_type_name(JSON_BOOL), "a boolean");
    assert_string_equal(json_type_name(JSON_NUMBER), "a number");
    assert_string_equal(json_type_name(JSON_STRING), "a string");
    assert_string_equal(json_type_name(JSON_ARRAY), "a list");
    assert_string_equal(json_type_name(JSON_OBJECT), "a map");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),      cmocka_unit_test(test_containers),
        cmocka_unit_test(test_escapes),      cmocka_unit_test(test_nul_escape),
        cmocka_unit_test(test_numbers),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_escapes),  cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_depth),        cmocka_unit_test(test_length_not_nul),
        cmocka_unit_test(test_error_buffer), cmocka_unit_test(test_get_last_wins),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
