#include "config.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct fixture {
    char *dir;
    char *script;  /* executable */
    char *plain;   /* not executable */
    char *subdir;  /* a directory, searchable */
    char *missing; /* does not exist */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = make_temp_dir();
    f->script = write_file(f->dir, "run.sh", "#!/bin/sh\nexit 0\n", 0755);
    f->plain = write_file(f->dir, "plain.sh", "#!/bin/sh\nexit 0\n", 0644);
    assert_true(asprintf(&f->subdir, "%s/sub", f->dir) > 0);
    assert_int_equal(mkdir(f->subdir, 0755), 0);
    assert_true(asprintf(&f->missing, "%s/missing.sh", f->dir) > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_tree(f->dir);
    free(f->dir);
    free(f->script);
    free(f->plain);
    free(f->subdir);
    free(f->missing);
    free(f);
    return 0;
}

static char *params(const char *fmt, const char *arg)
{
    char *s = NULL;
    assert_true(asprintf(&s, fmt, arg) > 0);
    return s;
}

/* Parses `json`, which must be refused with a message containing every one of `needles`. */
static void refused(const char *json, const char *const needles[])
{
    char err[512];
    struct rs_config config;
    memset(err, 'X', sizeof(err));
    memset(&config, 0xa5, sizeof(config));
    int rc = rs_config_parse(json, &config, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    for (size_t i = 0; needles[i]; i++) {
        if (!strstr(err, needles[i]))
            print_message("config %s: error \"%s\" lacks \"%s\"\n", json ? json : "(NULL)", err,
                          needles[i]);
        assert_non_null(strstr(err, needles[i]));
    }
    /* Nothing is left for the caller to release, and releasing is still harmless. */
    assert_null(config.scripts);
    assert_int_equal(config.nr_scripts, 0);
    rs_config_release(&config);
}

#define REFUSED(json, ...) refused(json, (const char *const[]){__VA_ARGS__, NULL})

static void test_valid(void **state)
{
    struct fixture *f = *state;
    char *json = params("{\"script\": \"%s\", \"wait\": false}", f->script);
    char err[256] = "";
    struct rs_config config;
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    assert_int_equal(config.nr_scripts, 1);
    assert_non_null(config.scripts);
    assert_string_equal(config.scripts[0].path, f->script);
    assert_false(config.scripts[0].wait);
    assert_true(config.scripts[0].hooks != 0);
    /* The path is the configuration's own copy. */
    assert_ptr_not_equal(config.scripts[0].path, f->script);
    rs_config_release(&config);
    assert_null(config.scripts);
    assert_int_equal(config.nr_scripts, 0);
    rs_config_release(&config);
    free(json);
}

static void test_wait_defaults_to_true(void **state)
{
    struct fixture *f = *state;
    char *json = params("{\"script\": \"%s\"}", f->script);
    char err[256];
    struct rs_config config;
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    assert_true(config.scripts[0].wait);
    rs_config_release(&config);
    free(json);

    json = params("{\"wait\": false, \"script\": \"%s\", \"wait\": true}", f->script);
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    assert_true(config.scripts[0].wait);
    rs_config_release(&config);
    free(json);
}

static void test_no_params(void **state)
{
    (void)state;
    /* A library loaded without parameters has no script to run: refused, naming the key. */
    REFUSED(NULL, "'script'", "missing");
    REFUSED("", "'script'", "missing");
    REFUSED("{}", "'script'", "missing");
    REFUSED("{\"wait\": true}", "'script'", "missing");
}

static void test_wrong_types(void **state)
{
    struct fixture *f = *state;
    REFUSED("{\"script\": 5}", "'script'", "must be a string", "not a number");
    REFUSED("{\"script\": null}", "'script'", "must be a string", "not null");
    REFUSED("{\"script\": [\"/bin/true\"]}", "'script'", "not a list");
    char *json = params("{\"wait\": \"yes\", \"script\": \"%s\"}", f->script);
    REFUSED(json, "'wait'", "must be a boolean", "not a string");
    free(json);
    json = params("{\"script\": \"%s\", \"wait\": 1}", f->script);
    REFUSED(json, "'wait'", "must be a boolean", "not a number");
    free(json);
}

static void test_bad_script_files(void **state)
{
    struct fixture *f = *state;
    char *json = params("{\"script\": \"%s\"}", f->missing);
    REFUSED(json, "'script'", f->missing, strerror(ENOENT));
    free(json);

    json = params("{\"script\": \"%s\"}", f->plain);
    REFUSED(json, "'script'", f->plain, "not executable");
    free(json);

    json = params("{\"script\": \"%s\"}", f->subdir);
    REFUSED(json, "'script'", f->subdir, "not a regular file");
    free(json);

    REFUSED("{\"script\": \"\"}", "'script'", "empty");

    /* A NUL would cut the path short: the script run would not be the one configured. */
    json = params("{\"script\": \"%s\\u0000.bak\"}", f->script);
    REFUSED(json, "'script'", "NUL");
    free(json);
}

static void test_unknown_parameter(void **state)
{
    struct fixture *f = *state;
    char *json = params("{\"script\": \"%s\", \"wiat\": false}", f->script);
    REFUSED(json, "unknown parameter", "'wiat'");
    free(json);
    json = params("{\"Script\": \"%s\"}", f->script);
    REFUSED(json, "'Script'");
    free(json);
}

static void test_not_a_map(void **state)
{
    (void)state;
    REFUSED("[]", "must be a map", "not a list");
    REFUSED("5", "must be a map", "not a number");
    REFUSED("null", "must be a map", "not null");
    REFUSED("\"script\"", "must be a map", "not a string");
    REFUSED("true", "must be a map", "not a boolean");
}

static void test_bad_json(void **state)
{
    (void)state;
    REFUSED("{", "parameters", "invalid JSON at offset 1");
    REFUSED("{\"script\": \"/bin/true\",}", "parameters", "invalid JSON at offset 23");
    REFUSED("{\"script\": \"/bin/true\"} {}", "parameters", "trailing characters");
}

static void test_error_buffer_is_bounded(void **state)
{
    struct fixture *f = *state;
    char *json = params("{\"script\": \"%s\"}", f->missing);
    char err[16];
    memset(err, 'X', sizeof(err));
    struct rs_config config;
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), -EINVAL);
    assert_int_equal(strlen(err), sizeof(err) - 1);
    assert_memory_equal(err, "parameter 'scri", sizeof(err));
    free(json);
}

/* Parses {"script": <the fixture's script>, `rest`}, which must be refused naming `key`. */
static void refused_with(struct fixture *f, const char *rest, const char *key, const char *detail)
{
    char *json = NULL;
    assert_true(asprintf(&json, "{\"script\": \"%s\", %s}", f->script, rest) > 0);
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "'%s'", key);
    refused(json, (const char *const[]){quoted, detail, NULL});
    free(json);
}

static void test_settings_refused_by_name(void **state)
{
    struct fixture *f = *state;
    refused_with(f, "\"hooks\": \"pkt4_receive\"", "hooks", "must be a list");
    refused_with(f, "\"hooks\": [\"pkt4_recieve\"]", "hooks", "pkt4_recieve");
    refused_with(f, "\"hooks\": [4]", "hooks", "hook point names");
    refused_with(f, "\"timeout-ms\": -1", "timeout-ms", "milliseconds");
    refused_with(f, "\"timeout-ms\": 1.5", "timeout-ms", "milliseconds");
    refused_with(f, "\"timeout-ms\": 3600001", "timeout-ms", "3600000");
    refused_with(f, "\"timeout-ms\": \"10\"", "timeout-ms", "must be a number");
    refused_with(f, "\"on-failure\": \"abort\"", "on-failure", "abort");
    /* Kea does not wait for the outcome of a script it does not wait for. */
    refused_with(f, "\"wait\": false, \"on-failure\": \"drop\"", "on-failure", "wait");
    /* pkt4_send honours drop, not skip. */
    refused_with(f, "\"hooks\": [\"pkt4_send\"], \"on-failure\": \"skip\"", "on-failure",
                 "pkt4_send");
    refused_with(f, "\"env\": {\"KEA_QUERY4_TYPE\": \"x\"}", "env", "reserved");
    refused_with(f, "\"env\": {\"1ABC\": \"x\"}", "env", "1ABC");
    refused_with(f, "\"env\": {\"A-B\": \"x\"}", "env", "A-B");
    refused_with(f, "\"env\": {\"A\": 1}", "env", "'A'");
    refused_with(f, "\"env\": {\"A\": \"x\\u0000y\"}", "env", "NUL");
    refused_with(f, "\"env\": [\"A=1\"]", "env", "must be a map");
    refused_with(f, "\"options\": [0]", "options", "65535");
    refused_with(f, "\"options\": [65536]", "options", "65535");
    refused_with(f, "\"options\": [\"60\"]", "options", "65535");
    refused_with(f, "\"options\": 60", "options", "must be a list");
}

static void test_settings_accepted(void **state)
{
    struct fixture *f = *state;
    char *json = NULL;
    assert_true(asprintf(&json,
                         "{\"script\": \"%s\", \"hooks\": [\"lease4_select\", \"lease6_expire\"], "
                         "\"timeout-ms\": 0, \"on-failure\": \"skip\", "
                         "\"env\": {\"SITE\": \"north $(x)\", \"_A1\": \"\"}, "
                         "\"options\": [60, 82, 65535]}",
                         f->script) > 0);
    char err[512] = "";
    struct rs_config config;
    int rc = rs_config_parse(json, &config, err, sizeof(err));
    if (rc)
        print_message("%s\n", err);
    assert_int_equal(rc, 0);
    const struct rs_script_config *script = &config.scripts[0];
    assert_true(script->hooks ==
                (RS_HOOK_BIT(RS_HOOK_LEASE4_SELECT) | RS_HOOK_BIT(RS_HOOK_LEASE6_EXPIRE)));
    /* An explicit 0 is no limit, even for a waited-for script. */
    assert_int_equal(rs_script_timeout_ms(script), 0);
    assert_int_equal(script->on_failure, RS_ON_FAILURE_SKIP);
    assert_string_equal(rs_on_failure_name(script->on_failure), "skip");
    assert_int_equal(script->env.nr, 2);
    assert_string_equal(script->env.items[0], "SITE=north $(x)");
    assert_string_equal(script->env.items[1], "_A1=");
    assert_int_equal(script->nr_options, 3);
    assert_int_equal(script->options[0], 60);
    assert_int_equal(script->options[2], 65535);
    rs_config_release(&config);
    free(json);

    /* A waited-for script gets the short default, one run alongside Kea a longer one. */
    json = params("{\"script\": \"%s\"}", f->script);
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    assert_int_equal(rs_script_timeout_ms(&config.scripts[0]), RS_DEFAULT_TIMEOUT_MS);
    assert_int_equal(config.scripts[0].on_failure, RS_ON_FAILURE_CONTINUE);
    assert_int_equal(config.scripts[0].env.nr, 0);
    rs_config_release(&config);
    free(json);
    json = params("{\"script\": \"%s\", \"wait\": false}", f->script);
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    assert_int_equal(rs_script_timeout_ms(&config.scripts[0]), RS_DEFAULT_QUEUED_TIMEOUT_MS);
    rs_config_release(&config);
    free(json);
    /* 0 is still "no limit", when asked for. */
    json = params("{\"script\": \"%s\", \"wait\": false, \"timeout-ms\": 0}", f->script);
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    assert_int_equal(rs_script_timeout_ms(&config.scripts[0]), 0);
    rs_config_release(&config);
    free(json);
}

/* The delivery settings of scripts Kea does not wait for: each refused by name, and what an
 * operator who gives none gets. */
static void test_delivery_settings(void **state)
{
    struct fixture *f = *state;
    refused_with(f, "\"wait\": false, \"on-full\": \"wait\"", "on-full", "\"spool\"");
    refused_with(f, "\"wait\": false, \"spool-dir\": \"spool\"", "spool-dir", "absolute");
    refused_with(f, "\"wait\": false, \"spool-dir\": \"/nonexistent/spool\"", "spool-dir",
                 "No such file");
    refused_with(f, "\"wait\": false, \"spool-limit\": 0", "spool-limit", "1 to");
    refused_with(f, "\"wait\": false, \"max-attempts\": 0", "max-attempts", "1 to 100");
    refused_with(f, "\"wait\": false, \"max-attempts\": 101", "max-attempts", "1 to 100");
    /* A waited-for script has no queue: its own settings for one are a mistake. */
    refused_with(f, "\"wait\": true, \"max-attempts\": 5", "max-attempts", "\"wait\": false");
    refused_with(f, "\"spool-limit\": 5", "spool-limit", "\"wait\": false");
    char *json = NULL;
    assert_true(asprintf(&json, "{\"script\": \"%s\", \"wait\": false, \"spool-dir\": \"%s\"}",
                         f->script, f->script) > 0);
    REFUSED(json, "'spool-dir'", "not a directory");
    free(json);

    struct rs_config config;
    char err[512] = "";
    json = params("{\"script\": \"%s\", \"wait\": false}", f->script);
    assert_int_equal(rs_config_parse(json, &config, err, sizeof(err)), 0);
    assert_int_equal(config.scripts[0].on_full, RS_ON_FULL_SPOOL);
    assert_null(config.scripts[0].spool_dir);
    assert_int_equal(config.scripts[0].spool_limit_mb, RS_DEFAULT_SPOOL_LIMIT_MB);
    assert_int_equal(config.scripts[0].max_attempts, RS_DEFAULT_MAX_ATTEMPTS);
    rs_config_release(&config);
    free(json);
    /* Top-level settings are each entry's defaults, and an entry's own win. */
    assert_true(asprintf(&json,
                         "{\"wait\": false, \"spool-dir\": \"%s\", \"on-full\": \"block\", "
                         "\"scripts\": [{\"script\": \"%s\"}, {\"script\": \"%s\", "
                         "\"on-full\": \"drop\", \"max-attempts\": 7, \"spool-limit\": 9}]}",
                         f->subdir, f->script, f->script) > 0);
    int rc = rs_config_parse(json, &config, err, sizeof(err));
    if (rc)
        print_message("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(config.nr_scripts, 2);
    assert_string_equal(config.scripts[0].spool_dir, f->subdir);
    assert_string_equal(config.scripts[1].spool_dir, f->subdir);
    assert_int_equal(config.scripts[0].on_full, RS_ON_FULL_BLOCK);
    assert_int_equal(config.scripts[1].on_full, RS_ON_FULL_DROP);
    assert_int_equal(config.scripts[1].max_attempts, 7);
    assert_int_equal(config.scripts[1].spool_limit_mb, 9);
    rs_config_release(&config);
    free(json);
}

static void test_scripts_list(void **state)
{
    struct fixture *f = *state;
    char *json = NULL;
    /* Top-level settings are every entry's defaults; an entry's own settings win. */
    assert_true(asprintf(&json,
                         "{\"wait\": false, \"env\": {\"A\": \"top\"}, \"scripts\": ["
                         "{\"script\": \"%s\"}, "
                         "{\"script\": \"%s\", \"wait\": true, \"env\": {\"A\": \"own\"}}]}",
                         f->script, f->script) > 0);
    char err[512] = "";
    struct rs_config config;
    int rc = rs_config_parse(json, &config, err, sizeof(err));
    if (rc)
        print_message("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(config.nr_scripts, 2);
    assert_false(config.scripts[0].wait);
    assert_true(config.scripts[1].wait);
    assert_string_equal(config.scripts[0].env.items[0], "A=top");
    assert_string_equal(config.scripts[1].env.items[0], "A=own");
    /* Each entry owns its copy. */
    assert_ptr_not_equal(config.scripts[0].path, config.scripts[1].path);
    assert_ptr_not_equal(config.scripts[0].env.items[0], config.scripts[1].env.items[0]);
    rs_config_release(&config);
    free(json);

    /* Errors inside the list say which entry. */
    assert_true(asprintf(&json, "{\"scripts\": [{\"script\": \"%s\"}, {\"script\": \"%s\"}]}",
                         f->script, f->missing) > 0);
    REFUSED(json, "'scripts[1].script'", f->missing);
    free(json);
    assert_true(asprintf(&json, "{\"scripts\": [{\"script\": \"%s\", \"wiat\": 1}]}", f->script) >
                0);
    REFUSED(json, "'scripts[0].wiat'");
    free(json);
    REFUSED("{\"scripts\": []}", "'scripts'");
    REFUSED("{\"scripts\": {}}", "'scripts'");
    REFUSED("{\"scripts\": [5]}", "'scripts[0]'", "must be a map");
    REFUSED("{\"scripts\": [{}]}", "'scripts[0].script'", "missing");
    /* One shape or the other. */
    assert_true(asprintf(&json, "{\"script\": \"%s\", \"scripts\": [{\"script\": \"%s\"}]}",
                         f->script, f->script) > 0);
    REFUSED(json, "'script'", "'scripts'");
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_wait_defaults_to_true),
        cmocka_unit_test(test_no_params),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_script_files),
        cmocka_unit_test(test_unknown_parameter),
        cmocka_unit_test(test_not_a_map),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_error_buffer_is_bounded),
        cmocka_unit_test(test_settings_refused_by_name),
        cmocka_unit_test(test_settings_accepted),
        cmocka_unit_test(test_delivery_settings),
        cmocka_unit_test(test_scripts_list),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
