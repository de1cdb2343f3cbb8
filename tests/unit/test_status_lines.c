/* kea-runscript-status's reading of runscript-status answers: what each line says, and that
 * nothing Kea sends (a hostile script path or error text, a field missing or of another type, a
 * Kea error) breaks a line in two or goes unsaid. */
#include "cli/status_lines.h"
#include "json.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct capture {
    char *text;
    size_t size;
    FILE *f;
};

static FILE *capture_start(struct capture *c)
{
    c->text = NULL;
    c->size = 0;
    c->f = open_memstream(&c->text, &c->size);
    assert_non_null(c->f);
    return c->f;
}

/* The text written since capture_start(), malloc'ed. */
static char *capture_end(struct capture *c)
{
    assert_int_equal(fclose(c->f), 0);
    return c->text;
}

static struct json *parse(const char *text)
{
    char err[256];
    struct json *v = json_parse(text, strlen(text), err, sizeof(err));
    if (!v)
        print_message("%s: %s\n", text, err);
    assert_non_null(v);
    return v;
}

static char *escaped(const char *s, size_t len, bool token)
{
    struct capture c;
    rs_status_put_escaped(capture_start(&c), s, len, token);
    return capture_end(&c);
}

#define ESCAPES_TO(s, token, expected)                                                             \
    do {                                                                                           \
        char *got = escaped(s, sizeof(s) - 1, token);                                              \
        assert_string_equal(got, expected);                                                        \
        free(got);                                                                                 \
    } while (0)

/* The lines printed for `answer_text`, whose result must be 0. */
static char *lines_of(const char *answer_text)
{
    struct json *answer = parse(answer_text);
    const struct json *scripts;
    struct capture err;
    enum rs_status_verdict verdict = rs_status_check(answer, &scripts, capture_start(&err), "S");
    char *said = capture_end(&err);
    assert_string_equal(said, "");
    free(said);
    assert_int_equal(verdict, RS_STATUS_OK);
    struct capture out;
    rs_status_print(capture_start(&out), scripts);
    json_free(answer);
    return capture_end(&out);
}

/* The verdict for `answer_text`, which must not be OK, and what it said in `*said`. */
static enum rs_status_verdict refused(const char *answer_text, char **said)
{
    struct json *answer = parse(answer_text);
    const struct json *scripts = (const struct json *)answer;
    struct capture err;
    enum rs_status_verdict verdict =
        rs_status_check(answer, &scripts, capture_start(&err), "/run/kea/kea4-ctrl-socket");
    *said = capture_end(&err);
    assert_null(scripts);
    json_free(answer);
    assert_int_not_equal(verdict, RS_STATUS_OK);
    /* One line, naming the socket. */
    assert_non_null(strstr(*said, "kea-runscript-status: "));
    assert_non_null(strstr(*said, "/run/kea/kea4-ctrl-socket"));
    assert_ptr_equal(strchr(*said, '\n'), *said + strlen(*said) - 1);
    return verdict;
}

static size_t newlines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static const char HEADER[] = "IDX MODE         PAUSED WORKER   RUNS QUEUE SPOOL DELIVERED FAILED "
                             "DROPPED DEAD OLDEST SCRIPT\n";

/* The README's example answer. */
static void test_lines(void **state)
{
    (void)state;
    char *text = lines_of(
        "{\"result\": 0, \"text\": \"2 scripts\", \"arguments\": {\"scripts\": ["
        "{\"index\": 0, \"script\": \"/etc/kea/dns-update.sh\", \"mode\": \"exec\", "
        "\"wait\": false, \"hooks\": [\"leases4_committed\"], \"paused\": false, "
        "\"events-queued\": 812, \"delivered\": 800, \"failed\": 0, \"dropped\": 0, "
        "\"dead-lettered\": 0, \"queue-depth\": 12, \"spool-depth\": 0, \"spool-bytes\": 1048576, "
        "\"oldest-age\": 3, \"runs-started\": 801, \"runs-killed\": 0, \"exec-failures\": 0, "
        "\"worker-restarts\": 0, \"last-error\": null},"
        "{\"index\": 1, \"script\": \"/etc/kea/blacklist.py\", \"mode\": \"worker\", "
        "\"wait\": true, \"hooks\": [\"pkt4_receive\"], \"failed\": 2, \"runs-started\": 2, "
        "\"runs-killed\": 1, \"exec-failures\": 0, \"worker-restarts\": 1, "
        "\"worker\": {\"pid\": 4242, \"state\": \"running\"}, "
        "\"last-error\": \"worker: no answer within its timeout\"},"
        "{\"index\": 2, \"script\": \"/etc/kea/w.py\", \"mode\": \"worker\", \"wait\": false, "
        "\"paused\": true, \"delivered\": 1234567890, \"failed\": 7, \"dropped\": 3, "
        "\"dead-lettered\": 2, \"queue-depth\": 0, \"spool-depth\": 40, \"oldest-age\": 125, "
        "\"runs-started\": 9, \"worker\": {\"pid\": 0, \"state\": \"not running\"}, "
        "\"last-error\": \"exit status 1\"}]}}");
    const char *expected =
        "  0 exec/async   no     -         801    12     0       800      0       0    0     3s "
        "/etc/kea/dns-update.sh\n"
        "  1 worker/wait  -      4242        2     -     -         -      2       -    -      - "
        "/etc/kea/blacklist.py  last-error: worker: no answer within its timeout\n"
        "  2 worker/async yes    stopped     9     0    40 1234567890      7       3    2   125s "
        "/etc/kea/w.py  last-error: exit status 1\n";
    assert_memory_equal(text, HEADER, strlen(HEADER));
    assert_string_equal(text + strlen(HEADER), expected);
    /* The path starts under SCRIPT while the numbers fit their columns. */
    const char *second = strchr(text, '\n') + 1;
    assert_int_equal(strstr(text, "SCRIPT") - text, strstr(second, "/etc") - second);
    free(text);

    text = lines_of("{\"result\": 0, \"text\": \"0 scripts\", \"arguments\": {\"scripts\": []}}");
    assert_string_equal(text, HEADER);
    free(text);
}

static void test_escape(void **state)
{
    (void)state;
    ESCAPES_TO("/etc/kea/run.sh", false, "/etc/kea/run.sh");
    ESCAPES_TO("a\nb\rc\td\x1b[31m\x7f", false, "a\\x0ab\\x0dc\\x09d\\x1b[31m\\x7f");
    /* A backslash too, so that "\x0a" in a name is told from a newline. */
    ESCAPES_TO("C:\\x0a", false, "C:\\x5cx0a");
    ESCAPES_TO("a b", false, "a b");
    ESCAPES_TO("a b", true, "a\\x20b");
    /* NUL bytes, from \u0000, are in `len`. */
    ESCAPES_TO("a\0b", false, "a\\x00b");
    /* UTF-8 as it is. */
    ESCAPES_TO("/etc/kea/\xc3\xa9t\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x90\x8d.sh", false,
               "/etc/kea/\xc3\xa9t\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x90\x8d.sh");
    /* Not UTF-8: a stray byte, a sequence cut short (also by the end), overlong forms, a
     * surrogate, past U+10FFFF. Each byte escaped, what follows read afresh. */
    ESCAPES_TO("\xff", false, "\\xff");
    ESCAPES_TO("\x80x", false, "\\x80x");
    ESCAPES_TO("\xc3(", false, "\\xc3(");
    ESCAPES_TO("\xe2\x82", false, "\\xe2\\x82");
    ESCAPES_TO("\xc0\xaf\xe0\x80\xaf", false, "\\xc0\\xaf\\xe0\\x80\\xaf");
    ESCAPES_TO("\xed\xa0\x80", false, "\\xed\\xa0\\x80");
    ESCAPES_TO("\xf4\x90\x80\x80", false, "\\xf4\\x90\\x80\\x80");
    ESCAPES_TO("\xf5\x80\x80\x80", false, "\\xf5\\x80\\x80\\x80");
    ESCAPES_TO("\xe2\x82\xc3\xa9", false, "\\xe2\\x82\xc3\xa9");
    /* UTF-8 that a terminal acts on: C1 controls (U+0085 ends a line, U+009B is CSI), the line
     * and paragraph separators, bidirectional overrides and isolates. */
    ESCAPES_TO("\xc2\x85\xc2\x9b", false, "\\xc2\\x85\\xc2\\x9b");
    ESCAPES_TO("\xc2\xa0", false, "\xc2\xa0");
    ESCAPES_TO("\xe2\x80\xa8\xe2\x80\xa9", false, "\\xe2\\x80\\xa8\\xe2\\x80\\xa9");
    ESCAPES_TO("x\xe2\x80\xaey", false, "x\\xe2\\x80\\xaey");
    ESCAPES_TO("\xe2\x81\xa6\xe2\x81\xa9", false, "\\xe2\\x81\\xa6\\xe2\\x81\\xa9");
}

/* A path and an error made to forge lines: each script is still one line. */
static void test_hostile_strings(void **state)
{
    (void)state;
    char *text = lines_of(
        "{\"result\": 0, \"arguments\": {\"scripts\": ["
        "{\"index\": 0, \"script\": \"/tmp/x\\n  1 exec/wait fake\\r\\u001b[2K\\u0000 \\\\.sh\", "
        "\"mode\": \"exec\\nworker\", \"wait\": true, \"failed\": 0, \"runs-started\": 1, "
        "\"last-error\": \"exit status 1\\nIDX MODE\\u2028\\u0085\xff\"}]}}");
    assert_int_equal(newlines(text), 2);
    const char *line = strchr(text, '\n') + 1;
    assert_non_null(strstr(line, "/tmp/x\\x0a\\x20\\x201\\x20exec/wait\\x20fake\\x0d\\x1b[2K\\x00"
                                 "\\x20\\x5c.sh  last-error: exit status 1\\x0aIDX MODE"
                                 "\\xe2\\x80\\xa8\\xc2\\x85\\xff\n"));
    /* A mode not one of Kea's is not printed. */
    assert_non_null(strstr(line, "  0 ?/wait "));
    free(text);
}

/* Fields missing or null print "-", of another type "?"; items that are not maps a line of
 * "-" each. */
static void test_missing_and_odd_fields(void **state)
{
    (void)state;
    char *text = lines_of("{\"result\": 0, \"arguments\": {\"scripts\": [{}, 7, \"x\", [], null, "
                          "{\"index\": \"0\", \"mode\": 1, \"wait\": \"no\", \"paused\": 0, "
                          "\"worker\": [], \"runs-started\": -1, \"queue-depth\": 1.5, "
                          "\"spool-depth\": true, \"delivered\": null, \"failed\": 1e3, "
                          "\"dropped\": \"3\", \"dead-lettered\": {}, \"oldest-age\": [], "
                          "\"script\": 5, \"last-error\": 3},"
                          "{\"worker\": {\"pid\": 12, \"state\": \"sleeping\"}},"
                          "{\"worker\": {\"state\": \"running\"}},"
                          "{\"worker\": {\"pid\": \"1\", \"state\": \"running\"}},"
                          "{\"worker\": {\"pid\": 5}}]}}");
    const char *none = "  - -/-          -      -           -     -     -         -      -       - "
                       "   -      - -\n";
    const char *odd =
        "  ? ?/?          ?      ?          -1     ?     ?         -      ?       ?    ?      ? ?"
        "  last-error: ?\n";
    const char *worker_odd = "  - -/-          -      ?           -     -     -         -      -   "
                             "    -    -      - -\n";
    char *expected = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&expected, &size);
    assert_non_null(f);
    fprintf(f, "%s%s%s%s%s%s%s%s%s%s%s", HEADER, none, none, none, none, none, odd, worker_odd,
            worker_odd, worker_odd, worker_odd);
    fclose(f);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
}

static void test_kea_errors(void **state)
{
    (void)state;
    char *said;
    /* Kea 2.2 to 3.0, without the library: the command is not supported. */
    assert_int_equal(refused("{\"result\": 2, \"text\": \"'runscript-status' command not "
                             "supported.\"}",
                             &said),
                     RS_STATUS_KEA_ERROR);
    assert_string_equal(said,
                        "kea-runscript-status: kea-hook-runscript is not loaded in the Kea at "
                        "/run/kea/kea4-ctrl-socket (it does not know runscript-status): "
                        "'runscript-status' command not supported.\n");
    free(said);

    assert_int_equal(refused("{\"result\": 1, \"text\": \"runscript-status: unknown arguments "
                             "'x'\\n\\u001b[1m; it takes none\"}",
                             &said),
                     RS_STATUS_KEA_ERROR);
    assert_string_equal(said, "kea-runscript-status: the Kea at /run/kea/kea4-ctrl-socket "
                              "answered with an error (result 1): runscript-status: unknown "
                              "arguments 'x'\\x0a\\x1b[1m; it takes none\n");
    free(said);

    /* No text, or not a string: the result alone. */
    assert_int_equal(refused("{\"result\": 3, \"text\": 7}", &said), RS_STATUS_KEA_ERROR);
    assert_string_equal(said, "kea-runscript-status: the Kea at /run/kea/kea4-ctrl-socket "
                              "answered with an error (result 3)\n");
    free(said);
    assert_int_equal(refused("{\"result\": 2}", &said), RS_STATUS_KEA_ERROR);
    assert_non_null(strstr(said, "not loaded"));
    free(said);
}

static void test_not_answers(void **state)
{
    (void)state;
    static const struct {
        const char *answer;
        const char *says;
    } cases[] = {
        {"[{\"result\": 0}]", "not an answer from Kea (not a map)"},
        {"\"result\"", "not an answer from Kea (not a map)"},
        {"{}", "no integer \"result\""},
        {"{\"result\": \"0\"}", "no integer \"result\""},
        {"{\"result\": 0.5}", "no integer \"result\""},
        {"{\"result\": 0}", "its arguments are missing"},
        {"{\"result\": 0, \"arguments\": [1]}", "its arguments are a list"},
        {"{\"result\": 0, \"arguments\": \"x\"}", "its arguments are a string"},
        {"{\"result\": 0, \"arguments\": {}}", "its arguments are a map without \"scripts\""},
        {"{\"result\": 0, \"arguments\": {\"scripts\": {}}}", "without \"scripts\" as a list"},
        {"{\"result\": 0, \"arguments\": {\"scripts\": null}}", "without \"scripts\" as a list"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *said;
        assert_int_equal(refused(cases[i].answer, &said), RS_STATUS_BAD_ANSWER);
        if (!strstr(said, cases[i].says))
            print_message("%s: %s", cases[i].answer, said);
        assert_non_null(strstr(said, cases[i].says));
        free(said);
    }
}

/* The socket's path, from the command line, is escaped too. */
static void test_where_escaped(void **state)
{
    (void)state;
    struct json *answer = parse("{}");
    const struct json *scripts;
    struct capture err;
    rs_status_check(answer, &scripts, capture_start(&err), "/tmp/a\nb");
    char *said = capture_end(&err);
    assert_int_equal(newlines(said), 1);
    assert_non_null(strstr(said, "/tmp/a\\x0ab: "));
    free(said);
    json_free(answer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),           cmocka_unit_test(test_escape),
        cmocka_unit_test(test_hostile_strings), cmocka_unit_test(test_missing_and_odd_fields),
        cmocka_unit_test(test_kea_errors),      cmocka_unit_test(test_not_answers),
        cmocka_unit_test(test_where_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
