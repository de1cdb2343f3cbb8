#include "frame.h"
#include "strvec.h"
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Values a client can put in a hostname or an option, one per variable. */
static char *const hostile_envp[] = {
    "PATH=/usr/bin:/bin",
    "NEWLINE=line1\nline2\n",
    "BACKSLASH=back\\slash\\",
    "ESCAPE_LOOKALIKE=\\n is not a newline, \\\\ is two",
    "EQUALS==a=b==",
    "HIGH=\xff\xfe\x80 caf\xc3\xa9",
    "EMPTY=",
    "CONTROL=\t\r\x01\x1b[0m\x7f",
    "SHELL=\"quoted\" 'single' $(id) `id` ;|&",
    NULL,
};

static size_t envp_len(char *const envp[])
{
    size_t n = 0;
    while (envp[n])
        n++;
    return n;
}

static void assert_vars_equal(const struct strvec *vars, char *const envp[])
{
    assert_int_equal(vars->nr, envp_len(envp));
    for (size_t i = 0; envp[i]; i++)
        assert_string_equal(vars->items[i], envp[i]);
}

static void test_env_encoding_exact(void **state)
{
    (void)state;
    struct rs_buf out = RS_BUF_INIT;
    char *const envp[] = {"A=x\ny", "B=\\", "C=", "D=a=b", NULL};
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "lease4_select", envp, &out), 0);
    static const char expected[] = "lease4_select\nA=x\\ny\nB=\\\\\nC=\nD=a=b\n\n";
    assert_int_equal(out.len, sizeof(expected) - 1);
    assert_memory_equal(out.data, expected, out.len);
    /* Encoding appends. */
    char *const none[] = {NULL};
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "pkt4_send", none, &out), 0);
    assert_int_equal(out.len, sizeof(expected) - 1 + strlen("pkt4_send\n\n"));
    assert_memory_equal(out.data + sizeof(expected) - 1, "pkt4_send\n\n", 11);
    rs_buf_release(&out);
    assert_null(out.data);
    assert_int_equal(out.len, 0);
}

static void test_env_round_trip(void **state)
{
    (void)state;
    struct rs_buf out = RS_BUF_INIT, hook = RS_BUF_INIT;
    struct strvec vars = STRVEC_INIT;
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "lease6_renew", hostile_envp, &out), 0);
    /* No client byte ends a line early: one line per variable, the hook's, and the empty one. */
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++)
        lines += out.data[i] == '\n';
    assert_int_equal(lines, envp_len(hostile_envp) + 2);
    long used = rs_frame_decode_env(out.data, out.len, &hook, &vars);
    assert_int_equal(used, (long)out.len);
    assert_string_equal(hook.data, "lease6_renew");
    assert_vars_equal(&vars, hostile_envp);
    /* A hook name is escaped too. */
    out.len = 0;
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "odd\nhook\\", hostile_envp, &out), 0);
    assert_int_equal(rs_frame_decode_env(out.data, out.len, &hook, &vars), (long)out.len);
    assert_string_equal(hook.data, "odd\nhook\\");
    assert_vars_equal(&vars, hostile_envp);
    rs_buf_release(&out);
    rs_buf_release(&hook);
    strvec_clear(&vars);
}

static void test_env_incomplete(void **state)
{
    (void)state;
    struct rs_buf out = RS_BUF_INIT, hook = RS_BUF_INIT;
    struct strvec vars = STRVEC_INIT;
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "lease4_expire", hostile_envp, &out), 0);
    /* Every proper prefix is "not yet", never an error nor a shorter event. */
    for (size_t len = 0; len < out.len; len++) {
        long rc = rs_frame_decode_env(out.data, len, &hook, &vars);
        if (rc != 0)
            print_message("prefix of %zu bytes: %ld\n", len, rc);
        assert_int_equal(rc, 0);
        assert_int_equal(vars.nr, 0);
    }
    assert_int_equal(rs_frame_decode_env(out.data, out.len, &hook, &vars), (long)out.len);
    rs_buf_release(&out);
    rs_buf_release(&hook);
    strvec_clear(&vars);
}

static void assert_decode_fails(const char *data, size_t len)
{
    struct rs_buf hook = RS_BUF_INIT;
    struct strvec vars = STRVEC_INIT;
    /* What a previous decode left is cleared. */
    assert_int_equal(strvec_push(&vars, "OLD=1"), 0);
    long rc = rs_frame_decode_env(data, len, &hook, &vars);
    if (rc != -EPROTO)
        print_message("decoding \"%.*s\": %ld\n", (int)len, data, rc);
    assert_int_equal(rc, -EPROTO);
    assert_int_equal(vars.nr, 0);
    rs_buf_release(&hook);
    strvec_clear(&vars);
}

#define DECODE_FAILS(literal) assert_decode_fails(literal, sizeof(literal) - 1)

static void test_env_invalid(void **state)
{
    (void)state;
    DECODE_FAILS("hook\nA=\\t\n\n");       /* unknown escape */
    DECODE_FAILS("hook\nA=x\\\n\n");       /* backslash ending a line */
    DECODE_FAILS("ho\\ok\nA=1\n\n");       /* in the hook name too */
    DECODE_FAILS("hook\\\nA=1\n\n");       /* ... and at its end */
    DECODE_FAILS("hook\nNO_EQUALS\n\n");   /* a variable without '=' */
    DECODE_FAILS("hook\nA=1\nB\n\n");      /* ... after a good one */
    DECODE_FAILS("\nhook\nA=1\n\n");       /* an empty line first */
    DECODE_FAILS("\n");                    /* ... alone */
    DECODE_FAILS("hook\nA=x\0y\n\n");      /* a NUL byte */
    DECODE_FAILS("ho\0ok\nA=1\n\n");       /* ... in the hook name */
    DECODE_FAILS("hook\nA=\\n\\x41\n\n");  /* a good escape, then a bad one */
    DECODE_FAILS("hook\nA=1\n\\q\n\nz\n"); /* the error comes before the end of the event */
}

static void test_env_back_to_back(void **state)
{
    (void)state;
    struct rs_buf out = RS_BUF_INIT, hook = RS_BUF_INIT;
    struct strvec vars = STRVEC_INIT;
    char *const first[] = {"SEQ=1", "A=x\ny", NULL};
    char *const second[] = {NULL};
    char *const third[] = {"SEQ=3", "B=\\\\", "C=", NULL};
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "pkt4_receive", first, &out), 0);
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "pkt4_send", second, &out), 0);
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "lease4_select", third, &out), 0);
    /* And the first bytes of a fourth. */
    size_t complete = out.len;
    assert_int_equal(rs_frame_encode(RS_FORMAT_ENV, "lease4_renew", first, &out), 0);
    size_t total = out.len;

    size_t pos = 0;
    long used = rs_frame_decode_env(out.data + pos, complete - pos, &hook, &vars);
    assert_true(used > 0);
    assert_string_equal(hook.data, "pkt4_receive");
    assert_vars_equal(&vars, first);
    pos += (size_t)used;
    used = rs_frame_decode_env(out.data + pos, complete - pos, &hook, &vars);
    assert_int_equal(used, strlen("pkt4_send\n\n"));
    assert_string_equal(hook.data, "pkt4_send");
    assert_int_equal(vars.nr, 0);
    pos += (size_t)used;
    used = rs_frame_decode_env(out.data + pos, total - pos, &hook, &vars);
    assert_int_equal(pos + (size_t)used, complete);
    assert_string_equal(hook.data, "lease4_select");
    assert_vars_equal(&vars, third);
    pos += (size_t)used;
    /* The fourth is cut short: not yet. */
    assert_int_equal(rs_frame_decode_env(out.data + pos, total - pos - 1, &hook, &vars), 0);
    assert_int_equal(rs_frame_decode_env(out.data + pos, total - pos, &hook, &vars),
                     (long)(total - pos));
    assert_string_equal(hook.data, "lease4_renew");
    assert_vars_equal(&vars, first);
    rs_buf_release(&out);
    rs_buf_release(&hook);
    strvec_clear(&vars);
}

static void assert_json(const char *hook, char *const envp[], const char *expected)
{
    struct rs_buf out = RS_BUF_INIT;
    assert_int_equal(rs_frame_encode(RS_FORMAT_JSON, hook, envp, &out), 0);
    assert_non_null(out.data);
    if (strcmp(out.data, expected) != 0)
        print_message("got      %s\nexpected %s\n", out.data, expected);
    assert_string_equal(out.data, expected);
    assert_int_equal(out.len, strlen(expected));
    /* One line: a newline at the end and no other control byte. */
    assert_int_equal(out.data[out.len - 1], '\n');
    for (size_t i = 0; i + 1 < out.len; i++)
        assert_true((unsigned char)out.data[i] >= 0x20 && (unsigned char)out.data[i] != 0x7f);
    rs_buf_release(&out);
}

static void test_json_encoding(void **state)
{
    (void)state;
    char *const none[] = {NULL};
    assert_json("pkt4_send", none, "{\"hook\": \"pkt4_send\", \"env\": {}}\n");
    char *const simple[] = {"A=1", "B=", "C=a=b", NULL};
    assert_json("lease4_select", simple,
                "{\"hook\": \"lease4_select\", \"env\": {\"A\": \"1\", \"B\": \"\", "
                "\"C\": \"a=b\"}}\n");
    char *const escapes[] = {"Q=say \"hi\"", "B=back\\slash", "C=\x01\t\n\r\x1f\x7f", NULL};
    assert_json("h", escapes,
                "{\"hook\": \"h\", \"env\": {\"Q\": \"say \\\"hi\\\"\", "
                "\"B\": \"back\\\\slash\", \"C\": \"\\u0001\\u0009\\u000a\\u000d\\u001f\\u007f\"}}"
                "\n");
    /* Valid UTF-8 passes through as it is: 2, 3 and 4 bytes, and the largest code point. */
    char *const utf8[] = {"U=caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", NULL};
    assert_json("h", utf8,
                "{\"hook\": \"h\", \"env\": {\"U\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                "\xf4\x8f\xbf\xbf\"}}\n");
    /* Anything else, byte by byte, as \udcXX: a stray byte, a truncated sequence, an overlong
     * form, a surrogate, a code point past U+10FFFF, a continuation byte alone. */
    char *const invalid[] = {
        "X=\xff", "T=\xc3", "O=\xc0\xaf", "S=\xed\xa0\x80", "M=\xf4\x90\x80\x80", "C=a\x80z", NULL};
    assert_json("h", invalid,
                "{\"hook\": \"h\", \"env\": {\"X\": \"\\udcff\", \"T\": \"\\udcc3\", "
                "\"O\": \"\\udcc0\\udcaf\", \"S\": \"\\udced\\udca0\\udc80\", "
                "\"M\": \"\\udcf4\\udc90\\udc80\\udc80\", \"C\": \"a\\udc80z\"}}\n");
    /* A truncated sequence does not swallow the ASCII byte after it. */
    char *const cut[] = {"A=\xe2\x82z", NULL};
    assert_json("h", cut, "{\"hook\": \"h\", \"env\": {\"A\": \"\\udce2\\udc82z\"}}\n");
    /* The hook name and the variable names are escaped the same way. */
    char *const names[] = {"N\"\\=v", NULL};
    assert_json("h\"\n\xff", names,
                "{\"hook\": \"h\\\"\\u000a\\udcff\", \"env\": {\"N\\\"\\\\\": \"v\"}}\n");
}

static void test_json_hostile_is_one_line(void **state)
{
    (void)state;
    struct rs_buf out = RS_BUF_INIT;
    assert_int_equal(rs_frame_encode(RS_FORMAT_JSON, "lease6_renew", hostile_envp, &out), 0);
    assert_int_equal(rs_frame_encode(RS_FORMAT_JSON, "lease6_rebind", hostile_envp, &out), 0);
    /* Two events, two lines, nothing but printable ASCII and valid UTF-8 in between. */
    size_t lines = 0;
    for (size_t i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];
        lines += c == '\n';
        assert_true(c == '\n' || (c >= 0x20 && c != 0x7f));
        assert_true(c != 0xff && c != 0xfe);
    }
    assert_int_equal(lines, 2);
    assert_int_equal(out.data[out.len - 1], '\n');
    assert_non_null(strstr(out.data, "\"NEWLINE\": \"line1\\u000aline2\\u000a\""));
    assert_non_null(strstr(out.data, "\"HIGH\": \"\\udcff\\udcfe\\udc80 caf\xc3\xa9\""));
    assert_non_null(strstr(out.data, "\"EMPTY\": \"\""));
    rs_buf_release(&out);
}

static void assert_answer(const char *line, int expected)
{
    int code = 12345;
    int rc = rs_frame_parse_answer(line, strlen(line), &code);
    if (rc != 0)
        print_message("answer \"%s\": %d\n", line, rc);
    assert_int_equal(rc, 0);
    assert_int_equal(code, expected);
}

static void assert_bad_answer(const char *line, size_t len)
{
    int code = 12345;
    int rc = rs_frame_parse_answer(line, len, &code);
    if (rc != -EPROTO)
        print_message("answer \"%.*s\": %d (%d)\n", (int)len, line, rc, code);
    assert_int_equal(rc, -EPROTO);
    assert_int_equal(code, 12345); /* left alone */
}

#define BAD_ANSWER(literal) assert_bad_answer(literal, sizeof(literal) - 1)

static void test_parse_answer(void **state)
{
    (void)state;
    assert_answer("0", 0);
    assert_answer(" 7 ", 7);
    assert_answer("-1", -1);
    assert_answer("+3", 3);
    assert_answer("0\r", 0);
    assert_answer("\t\r 42\t \r", 42);
    assert_answer("007", 7);
    assert_answer("-0", 0);
    assert_answer("2147483647", INT_MAX);
    assert_answer("-2147483647", -INT_MAX);
    /* Only `len` bytes count. */
    int code = 0;
    assert_int_equal(rs_frame_parse_answer("12junk", 2, &code), 0);
    assert_int_equal(code, 12);

    BAD_ANSWER("");
    BAD_ANSWER(" ");
    BAD_ANSWER("\r");
    BAD_ANSWER("-");
    BAD_ANSWER("+");
    BAD_ANSWER("x");
    BAD_ANSWER("ok");
    BAD_ANSWER("1x");
    BAD_ANSWER("1 2");
    BAD_ANSWER("--1");
    BAD_ANSWER("+-1");
    BAD_ANSWER("- 1");
    BAD_ANSWER("0x10");
    BAD_ANSWER("1.0");
    BAD_ANSWER("1\n");
    BAD_ANSWER("1\0");
    BAD_ANSWER("2147483648");
    BAD_ANSWER("99999999999999999999999999");
    BAD_ANSWER("-99999999999999999999999999");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_encoding_exact),       cmocka_unit_test(test_env_round_trip),
        cmocka_unit_test(test_env_incomplete),           cmocka_unit_test(test_env_invalid),
        cmocka_unit_test(test_env_back_to_back),         cmocka_unit_test(test_json_encoding),
        cmocka_unit_test(test_json_hostile_is_one_line), cmocka_unit_test(test_parse_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
