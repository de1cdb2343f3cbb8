#include "engine.h"
#include "queue.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
    char *dir;
    struct recorder rec;
    struct resources before; /* taken when the test starts */
};

/* Kea's data directory as the engine sees it: the test's own, so that no spool outlives it. */
static struct rs_engine_env kea_env = {NULL, "dhcp4", NULL, 0};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = make_temp_dir();
    kea_env.data_dir = f->dir;
    rec_init(&f->rec);
    f->before = resources_now();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kea_env.data_dir = NULL;
    rec_free(&f->rec);
    rm_tree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* An engine from the parameters `json`, which must be accepted. */
static struct rs_engine *engine_from_json(const char *json, struct recorder *rec)
{
    char err[512] = "";
    struct rs_engine *engine = NULL;
    int rc = rs_engine_new(json, &kea_env, &rec->logger, &engine, err, sizeof(err));
    if (rc)
        print_message("rs_engine_new(%s): %s\n", json, err);
    assert_int_equal(rc, 0);
    assert_non_null(engine);
    return engine;
}

/* An engine running the helper, with `extra` parameters. */
static struct rs_engine *engine_new(const char *extra, struct recorder *rec)
{
    char *json = NULL;
    assert_true(
        asprintf(&json, "{\"script\": \"%s\"%s%s}", helper_path(), *extra ? ", " : "", extra) > 0);
    struct rs_engine *engine = engine_from_json(json, rec);
    free(json);
    return engine;
}

/* An event whose script is told what to do by INHERIT_MODE=`mode`. */
static void event_init(struct rs_event *ev, enum rs_hook hook, const char *mode)
{
    rs_event_init(ev, hook);
    assert_int_equal(strvec_pushf(&ev->env, "INHERIT_MODE=%s", mode), 0);
}

/* Waits, up to scaled_ms(`timeout_ms`), until the runs killed at their timeout are reaped: the
 * supervisor does that in its own time, and an engine freed before has them still to end. */
static void wait_children_gone(int timeout_ms)
{
    int64_t end = now_ms() + scaled_ms(timeout_ms);
    while (count_children() > 0 && now_ms() < end)
        sleep_ms(5);
}

/* The end of a test whose scripts were killed: `engine` goes once their runs are reaped, and
 * leaves nothing behind. */
static void free_after_kills(struct fixture *f, struct rs_engine *engine, int timeout_ms)
{
    wait_children_gone(timeout_ms);
    rs_engine_free(engine);
    assert_resources_back(&f->before);
}

static void assert_refused(const char *json, const char *needle)
{
    struct recorder rec;
    rec_init(&rec);
    char err[512];
    memset(err, 'X', sizeof(err));
    struct rs_engine *engine = NULL;
    int rc = rs_engine_new(json, &kea_env, &rec.logger, &engine, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_null(engine);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    if (!strstr(err, needle))
        print_message("rs_engine_new(%s): \"%s\" lacks \"%s\"\n", json, err, needle);
    assert_non_null(strstr(err, needle));
    rec_free(&rec);
}

static void test_bad_configuration(void **state)
{
    struct fixture *f = *state;
    assert_refused("{", "invalid JSON at offset 1");
    assert_refused("[1]", "must be a map");
    assert_refused(NULL, "'script'");
    assert_refused("{\"script\": 5}", "'script'");
    char *json = NULL;
    assert_true(asprintf(&json, "{\"script\": \"%s\", \"wait\": \"yes\"}", helper_path()) > 0);
    assert_refused(json, "'wait'");
    free(json);
    assert_true(asprintf(&json, "{\"script\": \"%s\", \"wiat\": true}", helper_path()) > 0);
    assert_refused(json, "'wiat'");
    free(json);
    assert_true(asprintf(&json, "{\"script\": \"%s/none\"}", f->dir) > 0);
    assert_refused(json, "'script'");
    free(json);
    /* A refused configuration starts nothing. */
    assert_resources_back(&f->before);
}

static void test_default_hooks(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("", &f->rec);
    /* A script without "hooks" runs at the 19 hook points of the original library. */
    static const char *const names[] = {
        "pkt4_receive",   "pkt4_send",      "subnet4_select", "lease4_select",  "lease4_renew",
        "lease4_release", "lease4_decline", "lease4_expire",  "lease4_recover", "pkt6_receive",
        "pkt6_send",      "subnet6_select", "lease6_select",  "lease6_renew",   "lease6_rebind",
        "lease6_decline", "lease6_release", "lease6_expire",  "lease6_recover",
    };
    rs_hook_set expected = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int hook = rs_hook_by_name(names[i]);
        assert_true(hook >= 0);
        expected |= RS_HOOK_BIT(hook);
    }
    assert_int_equal(__builtin_popcountll(expected), 19);
    assert_true(rs_engine_hooks(engine) == expected);
    rs_engine_free(engine);
    /* Nothing ran, nothing went wrong. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_STARTED), 0);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 0);
    assert_resources_back(&f->before);
}

static void test_hook_filter(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("\"hooks\": [\"lease4_select\"]", &f->rec);
    assert_true(rs_engine_hooks(engine) == RS_HOOK_BIT(RS_HOOK_LEASE4_SELECT));
    struct rs_event ev;
    event_init(&ev, RS_HOOK_PKT4_RECEIVE, "lines=1");
    assert_int_equal(rs_engine_dispatch(engine, &ev), RS_NEXT_CONTINUE);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_STARTED), 0);
    rs_event_release(&ev);
    event_init(&ev, RS_HOOK_LEASE4_SELECT, "lines=1");
    assert_int_equal(rs_engine_dispatch(engine, &ev), RS_NEXT_CONTINUE);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 1);
    rs_event_release(&ev);
    rs_engine_free(engine);
    assert_resources_back(&f->before);
}

static void test_wait_true_is_synchronous(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("\"wait\": true", &f->rec);
    char *marker = NULL;
    assert_true(asprintf(&marker, "%s/sync-marker", f->dir) > 0);
    char *mode = NULL;
    assert_true(asprintf(&mode, "sleep=100,touch=%s,report", marker) > 0);
    struct rs_event ev;
    event_init(&ev, RS_HOOK_LEASE4_RENEW, mode);
    assert_int_equal(rs_engine_dispatch(engine, &ev), RS_NEXT_CONTINUE);
    /* Done, output and all, by the time dispatch returns. */
    assert_true(file_exists(marker));
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease4_renew): argv 1 lease4_renew"),
                     1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease4_renew): env PATH="), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease4_renew): env INHERIT_MODE="),
                     1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease4_renew): env "), 2);
    rs_event_release(&ev);
    rs_engine_free(engine);
    free(mode);
    free(marker);
    assert_resources_back(&f->before);
}

static void test_wait_false_returns_at_once(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("\"wait\": false", &f->rec);
    char *marker = NULL;
    assert_true(asprintf(&marker, "%s/async-marker", f->dir) > 0);
    /* Had the dispatch waited, it would have returned after the script's second, and after its
     * marker; the script starts no sooner than the dispatch. */
    int script_ms = 1000;
    char *mode = NULL;
    assert_true(asprintf(&mode, "sleep=%d,touch=%s", script_ms, marker) > 0);
    struct rs_event ev;
    event_init(&ev, RS_HOOK_PKT4_SEND, mode);
    int64_t t0 = now_ms();
    assert_int_equal(rs_engine_dispatch(engine, &ev), RS_NEXT_CONTINUE);
    int64_t elapsed = now_ms() - t0;
    if (elapsed >= script_ms)
        print_message("dispatch took %lld ms\n", (long long)elapsed);
    assert_true(elapsed < script_ms);
    assert_false(file_exists(marker));
    rs_event_release(&ev);
    /* It still runs to its end, and is reaped: unload waits for it. */
    assert_true(rec_wait(&f->rec, RS_MSG_SCRIPT_DONE, 1, 5000));
    assert_true(file_exists(marker));
    rs_engine_free(engine);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    free(mode);
    free(marker);
    assert_resources_back(&f->before);
}

/* One event for two queued scripts and one waited for: the first queue takes the event's variables
 * without a copy, and every script still gets all of them. */
static void test_one_event_for_queued_and_waited_scripts(void **state)
{
    struct fixture *f = *state;
    char *json = NULL;
    assert_true(asprintf(&json,
                         "{\"scripts\": [{\"script\": \"%s\", \"wait\": false},"
                         " {\"script\": \"%s\", \"wait\": true},"
                         " {\"script\": \"%s\", \"wait\": false, \"max-concurrency\": 1}]}",
                         helper_path(), helper_path(), helper_path()) > 0);
    struct rs_engine *engine = engine_from_json(json, &f->rec);
    struct rs_event ev;
    event_init(&ev, RS_HOOK_LEASE4_EXPIRE, "report");
    assert_int_equal(rs_engine_dispatch(engine, &ev), RS_NEXT_CONTINUE);
    rs_event_release(&ev);
    assert_true(rec_wait(&f->rec, RS_MSG_SCRIPT_DONE, 3, 5000));
    rs_engine_free(engine);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease4_expire): env PATH="), 3);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease4_expire): env INHERIT_MODE=report"), 3);
    free(json);
    assert_resources_back(&f->before);
}

static void test_unload_waits_for_scripts(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("\"wait\": false", &f->rec);
    char *marker = NULL;
    assert_true(asprintf(&marker, "%s/unload-marker", f->dir) > 0);
    char *mode = NULL;
    assert_true(asprintf(&mode, "sleep=500,touch=%s", marker) > 0);
    struct rs_event ev;
    event_init(&ev, RS_HOOK_LEASE6_EXPIRE, mode);
    ev.keys[0] = rs_queue_key("2001:db8::1");
    ev.nr_keys = 1;
    rs_engine_dispatch(engine, &ev);
    rs_event_release(&ev);
    assert_true(rec_wait(&f->rec, RS_MSG_SCRIPT_STARTED, 1, 5000));
    /* One more about the same lease, so it waits behind the first: not yet started at unload,
     * it waits in the spool for the next engine. */
    event_init(&ev, RS_HOOK_LEASE6_EXPIRE, "report");
    ev.keys[0] = rs_queue_key("2001:db8::1");
    ev.nr_keys = 1;
    rs_engine_dispatch(engine, &ev);
    rs_event_release(&ev);
    int64_t t0 = now_ms();
    rs_engine_free(engine);
    /* Waited for the script under way (500 ms), which ended on its own, before the drain
     * deadline. */
    assert_in_range(now_ms() - t0, 100, RS_ENGINE_DRAIN_MS);
    assert_true(file_exists(marker));
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_SPOOL, ": 1 events not yet delivered stay in the spool "),
        1);
    engine = engine_new("\"wait\": false", &f->rec);
    assert_true(rec_wait(&f->rec, RS_MSG_SCRIPT_DONE, 2, 5000));
    rs_engine_free(engine);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease6_expire): env INHERIT_MODE=report"), 1);
    free(mode);
    free(marker);
    assert_resources_back(&f->before);
}

/* The spool's directory: Kea's data directory unless told, never shared by two engines. */
static void test_spool_dir_problems(void **state)
{
    struct fixture *f = *state;
    char *json = NULL;
    assert_true(asprintf(&json, "{\"script\": \"%s\", \"wait\": false}", helper_path()) > 0);
    const char *data_dir = kea_env.data_dir;
    kea_env.data_dir = NULL;
    assert_refused(json, "parameter 'spool-dir' is needed");
    kea_env.data_dir = data_dir;
    /* A second engine with the same script and directory (two Kea servers sharing one): the
     * first keeps it, the second is refused, naming the parameter. */
    struct rs_engine *first = engine_from_json(json, &f->rec);
    struct recorder rec;
    rec_init(&rec);
    char err[512] = "";
    struct rs_engine *second = NULL;
    assert_int_equal(rs_engine_new(json, &kea_env, &rec.logger, &second, err, sizeof(err)), -EBUSY);
    assert_null(second);
    assert_non_null(strstr(err, "parameter 'spool-dir'"));
    assert_non_null(strstr(err, "in use by another process"));
    rec_free(&rec);
    rs_engine_free(first);
    /* Where it is: under the data directory, per daemon, named after the script. */
    char *dir = NULL;
    assert_true(asprintf(&dir, "%s/runscript-dhcp4/%s", f->dir, helper_path() + 1) > 0);
    for (char *c = dir + strlen(f->dir) + strlen("/runscript-dhcp4/"); *c; c++)
        if (*c == '/')
            *c = '_';
    assert_true(file_exists(dir));
    free(dir);
    free(json);
    assert_resources_back(&f->before);
}

static void test_timeout_hands_over(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("\"wait\": true, \"timeout-ms\": 200", &f->rec);
    struct rs_event ev;
    event_init(&ev, RS_HOOK_PKT6_RECEIVE, "sleep=60000");
    int64_t t0 = now_ms();
    assert_int_equal(rs_engine_dispatch(engine, &ev), RS_NEXT_CONTINUE);
    assert_in_range(now_ms() - t0, 150, 200 + slack_ms());
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 1);
    rs_event_release(&ev);
    /* SIGTERM ends it; the supervisor reaps it, before unload. */
    wait_children_gone(2000);
    assert_int_equal(count_children(), 0);
    rs_engine_free(engine);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_resources_back(&f->before);
}

static void test_on_failure(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *skip = engine_new(
        "\"wait\": true, \"on-failure\": \"skip\", \"hooks\": [\"lease4_select\"]", &f->rec);
    struct rs_engine *drop = engine_new(
        "\"wait\": true, \"on-failure\": \"drop\", \"hooks\": [\"pkt4_receive\"]", &f->rec);
    struct rs_event ev;

    event_init(&ev, RS_HOOK_LEASE4_SELECT, "exit=1");
    assert_int_equal(rs_engine_dispatch(skip, &ev), RS_NEXT_SKIP);
    rs_event_release(&ev);
    event_init(&ev, RS_HOOK_LEASE4_SELECT, "exit=0");
    assert_int_equal(rs_engine_dispatch(skip, &ev), RS_NEXT_CONTINUE);
    rs_event_release(&ev);
    event_init(&ev, RS_HOOK_PKT4_RECEIVE, "signal=9");
    assert_int_equal(rs_engine_dispatch(drop, &ev), RS_NEXT_DROP);
    rs_event_release(&ev);
    assert_int_equal(rec_count(&f->rec, RS_MSG_NEXT_STEP), 2);
    rs_engine_free(skip);
    rs_engine_free(drop);
    assert_resources_back(&f->before);
}

static void test_exec_failure_never_changes_course(void **state)
{
    struct fixture *f = *state;
    if (under_valgrind())
        skip(); /* the failure cannot come back from posix_spawn() there (testutil.h) */
    char *script = write_file(f->dir, "vanishing.sh", "#!/bin/sh\nexit 1\n", 0755);
    char *json = NULL;
    assert_true(asprintf(&json,
                         "{\"script\": \"%s\", \"wait\": true, \"on-failure\": \"drop\", "
                         "\"hooks\": [\"pkt4_receive\"]}",
                         script) > 0);
    char err[256];
    struct rs_engine *engine = NULL;
    assert_int_equal(rs_engine_new(json, &kea_env, &f->rec.logger, &engine, err, sizeof(err)), 0);
    /* Removed after load: the run fails to start, which is logged, and Kea carries on. */
    assert_int_equal(unlink(script), 0);
    struct rs_event ev;
    rs_event_init(&ev, RS_HOOK_PKT4_RECEIVE);
    assert_int_equal(rs_engine_dispatch(engine, &ev), RS_NEXT_CONTINUE);
    assert_int_equal(rec_count(&f->rec, RS_MSG_EXEC_FAILED), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_EXEC_FAILED, "file not found"), 1);
    rs_event_release(&ev);
    rs_engine_free(engine);
    free(json);
    free(script);
    assert_resources_back(&f->before);
}

/* Polls script 0's statistics until `cond` holds (on `st`), within a deadline scaled to the
 * machine; the caller asserts `cond` after it. */
#define WAIT_STATS(engine, st, cond)                                                               \
    do {                                                                                           \
        int64_t end_ = now_ms() + scaled_ms(10000);                                                \
        for (;;) {                                                                                 \
            rs_engine_get_script_stats((engine), 0, &(st));                                        \
            if ((cond) || now_ms() > end_)                                                         \
                break;                                                                             \
            sleep_ms(5);                                                                           \
        }                                                                                          \
    } while (0)

static void dispatch_mode(struct rs_engine *engine, enum rs_hook hook, const char *mode)
{
    struct rs_event ev;
    event_init(&ev, hook, mode);
    rs_engine_dispatch(engine, &ev);
    rs_event_release(&ev);
}

static void test_stats_of_waited_runs(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("\"wait\": true, \"timeout-ms\": 200", &f->rec);
    assert_int_equal(rs_engine_nr_scripts(engine), 1);
    struct rs_engine_script_stats st;
    rs_engine_get_script_stats(engine, 0, &st);
    assert_string_equal(st.script, helper_path());
    assert_true(st.wait);
    assert_int_equal(st.mode, RS_MODE_EXEC);
    assert_int_equal(st.runs_started, 0);
    assert_string_equal(st.last_error, "");

    dispatch_mode(engine, RS_HOOK_LEASE4_RENEW, "exit=0");
    rs_engine_get_script_stats(engine, 0, &st);
    assert_int_equal(st.runs_started, 1);
    assert_int_equal(st.failed, 0);
    assert_string_equal(st.last_error, "");

    dispatch_mode(engine, RS_HOOK_LEASE4_RENEW, "exit=3");
    rs_engine_get_script_stats(engine, 0, &st);
    assert_int_equal(st.runs_started, 2);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.runs_killed, 0);
    assert_string_equal(st.last_error, "lease4_renew: exited with status 3");

    /* Timed out: a kill and a failure, counted when Kea's thread goes on. */
    dispatch_mode(engine, RS_HOOK_PKT4_RECEIVE, "sleep=60000");
    rs_engine_get_script_stats(engine, 0, &st);
    assert_int_equal(st.runs_started, 3);
    assert_int_equal(st.runs_killed, 1);
    assert_int_equal(st.failed, 2);
    assert_string_equal(st.last_error, "pkt4_receive: timed out and killed");
    /* A waited-for script has no queue. */
    assert_int_equal(st.events_queued, 0);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.spool_depth, 0);
    assert_int_equal(st.oldest_age_s, 0);
    free_after_kills(f, engine, 2000);
}

static void test_stats_of_exec_failures(void **state)
{
    struct fixture *f = *state;
    if (under_valgrind())
        skip(); /* the failure cannot come back from posix_spawn() there (testutil.h) */
    char *script = write_file(f->dir, "vanishing.sh", "#!/bin/sh\nexit 0\n", 0755);
    char *json = NULL;
    assert_true(asprintf(&json, "{\"script\": \"%s\", \"wait\": true}", script) > 0);
    struct rs_engine *engine = engine_from_json(json, &f->rec);
    assert_int_equal(unlink(script), 0);
    dispatch_mode(engine, RS_HOOK_PKT4_RECEIVE, "exit=0");
    struct rs_engine_script_stats st;
    rs_engine_get_script_stats(engine, 0, &st);
    assert_int_equal(st.exec_failures, 1);
    assert_int_equal(st.runs_started, 0);
    assert_int_equal(st.failed, 0);
    assert_non_null(strstr(st.last_error, "cannot execute: file not found"));
    rs_engine_free(engine);
    free(json);
    free(script);
    assert_resources_back(&f->before);
}

/* An engine whose one script holds each event until its gate is opened. */
struct gated {
    char *gate, *script, *json;
    struct rs_engine *engine;
};

/* `params`: the script's other parameters, as JSON members ("\"wait\": false, ..."). */
static void gated_start(struct fixture *f, const char *params, struct gated *g)
{
    /* Opened by writing "gate" in the test's directory. */
    assert_true(asprintf(&g->gate, "%s/gate", f->dir) > 0);
    char *text = NULL;
    assert_true(asprintf(&text, "#!/bin/sh\nwhile [ ! -e '%s' ]; do sleep 0.01; done\n", g->gate) >
                0);
    g->script = write_file(f->dir, "gated.sh", text, 0755);
    free(text);
    assert_true(asprintf(&g->json, "{\"script\": \"%s\", %s}", g->script, params) > 0);
    g->engine = engine_from_json(g->json, &f->rec);
}

static void gated_free(struct fixture *f, struct gated *g)
{
    rs_engine_free(g->engine);
    free(g->json);
    free(g->script);
    free(g->gate);
    assert_resources_back(&f->before);
}

static void test_stats_of_a_queue(void **state)
{
    struct fixture *f = *state;
    struct gated g;
    gated_start(f, "\"wait\": false, \"max-concurrency\": 1, \"queue-limit\": 2", &g);
    struct rs_engine *engine = g.engine;
    for (int i = 0; i < 5; i++)
        dispatch_mode(engine, RS_HOOK_LEASE4_SELECT, "exit=0");
    struct rs_engine_script_stats st;
    /* Two in memory (one of them running), three on disk only, all held by the gate. */
    WAIT_STATS(engine, st, st.runs_started == 1);
    assert_int_equal(st.runs_started, 1);
    assert_false(st.wait);
    assert_int_equal(st.events_queued, 5);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.queue_depth, 2);
    assert_int_equal(st.spool_depth, 3);
    assert_true(st.spool_bytes > 0);
    /* The held event ages: a lower bound only. */
    WAIT_STATS(engine, st, st.oldest_age_s >= 1);
    assert_true(st.oldest_age_s >= 1);

    free(write_file(f->dir, "gate", "", 0644));
    WAIT_STATS(engine, st, st.delivered == 5 && st.queue_depth == 0 && st.spool_depth == 0);
    assert_int_equal(st.delivered, 5);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.spool_depth, 0);
    assert_int_equal(st.oldest_age_s, 0);
    assert_int_equal(st.runs_started, 5);
    assert_int_equal(st.failed + st.dropped + st.dead_lettered, 0);
    gated_free(f, &g);
}

/* A paused script's events wait on disk, as its statistics show; resumed, they are delivered.
 * A script Kea waits for has no queue to pause. */
static void test_pause_shows_in_stats(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new("\"wait\": false", &f->rec);
    struct rs_engine_script_stats st;
    rs_engine_get_script_stats(engine, 0, &st);
    assert_false(st.paused);
    assert_int_equal(rs_engine_pause(engine, 0, true), 1);
    assert_int_equal(rs_engine_pause(engine, 0, true), 0);
    for (int i = 0; i < 3; i++)
        dispatch_mode(engine, RS_HOOK_LEASE4_SELECT, "exit=0");
    rs_engine_get_script_stats(engine, 0, &st);
    assert_true(st.paused);
    assert_int_equal(st.spool_depth, 3);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(rs_engine_pause(engine, 0, false), 1);
    WAIT_STATS(engine, st, st.delivered == 3);
    assert_int_equal(st.delivered, 3);
    assert_false(st.paused);
    assert_int_equal(st.spool_depth, 0);
    rs_engine_free(engine);
    engine = engine_new("\"wait\": true", &f->rec);
    assert_int_equal(rs_engine_pause(engine, 0, true), -EINVAL);
    uint64_t n;
    assert_int_equal(rs_engine_dead_letters_drop(engine, 0, &n), -EINVAL);
    rs_engine_free(engine);
    assert_resources_back(&f->before);
}

static void test_stats_of_drops(void **state)
{
    struct fixture *f = *state;
    struct gated g;
    gated_start(f,
                "\"wait\": false, \"max-concurrency\": 1, \"queue-limit\": 1, "
                "\"on-full\": \"drop\"",
                &g);
    struct rs_engine *engine = g.engine;
    /* The first holds the only place in memory until the gate opens: the second is dropped. */
    dispatch_mode(engine, RS_HOOK_LEASE4_SELECT, "exit=0");
    dispatch_mode(engine, RS_HOOK_LEASE4_SELECT, "exit=0");
    struct rs_engine_script_stats st;
    rs_engine_get_script_stats(engine, 0, &st);
    assert_int_equal(st.events_queued, 1);
    assert_int_equal(st.dropped, 1);
    assert_string_equal(st.last_error, "lease4_select: queue full, event dropped");
    free(write_file(f->dir, "gate", "", 0644));
    WAIT_STATS(engine, st, st.delivered == 1);
    assert_int_equal(st.delivered, 1);
    gated_free(f, &g);
}

static void test_stats_of_failed_deliveries(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine =
        engine_new("\"wait\": false, \"max-attempts\": 2, \"timeout-ms\": 200", &f->rec);
    /* Killed by a signal twice: two failed attempts, then a dead letter. */
    dispatch_mode(engine, RS_HOOK_LEASE4_RELEASE, "signal=9");
    struct rs_engine_script_stats st;
    WAIT_STATS(engine, st, st.dead_lettered == 1);
    assert_int_equal(st.dead_lettered, 1);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.delivered, 0);
    assert_non_null(strstr(st.last_error, "delivery failed 2 times (killed by a signal)"));
    /* Timed out twice: two kills. */
    dispatch_mode(engine, RS_HOOK_LEASE4_RELEASE, "sleep=60000");
    WAIT_STATS(engine, st, st.dead_lettered == 2);
    assert_int_equal(st.dead_lettered, 2);
    assert_int_equal(st.runs_killed, 2);
    assert_int_equal(st.failed, 4);
    /* A non-zero exit is the script's answer: delivered. */
    dispatch_mode(engine, RS_HOOK_LEASE4_RELEASE, "exit=1");
    WAIT_STATS(engine, st, st.delivered == 1);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.failed, 4);
    assert_int_equal(st.events_queued, 3);
    assert_int_equal(st.runs_started, 5);
    assert_int_equal(st.queue_depth, 0);
    free_after_kills(f, engine, 3000);
}

static void test_stats_of_a_worker(void **state)
{
    struct fixture *f = *state;
    /* Started at load; it exits at the end of the first event, unanswered. */
    char *script =
        write_file(f->dir, "dying-worker.sh",
                   "#!/bin/sh\nwhile read -r line; do [ -n \"$line\" ] || exit 3; done\n", 0755);
    char *json = NULL;
    assert_true(asprintf(&json,
                         "{\"script\": \"%s\", \"wait\": true, \"mode\": \"worker\", "
                         "\"timeout-ms\": 5000}",
                         script) > 0);
    struct rs_engine *engine = engine_from_json(json, &f->rec);
    struct rs_engine_script_stats st;
    rs_engine_get_script_stats(engine, 0, &st);
    assert_int_equal(st.mode, RS_MODE_WORKER);
    assert_int_equal(st.runs_started, 1);
    assert_true(st.worker_pid > 0);
    assert_int_equal(st.worker_restarts, 0);
    dispatch_mode(engine, RS_HOOK_LEASE4_SELECT, "exit=0");
    rs_engine_get_script_stats(engine, 0, &st);
    assert_int_equal(st.failed, 1);
    /* Once, or twice when a second start was allowed (a second after the first) and died too. */
    assert_in_range(st.worker_restarts, 1, 2);
    assert_int_equal(st.runs_started, st.worker_restarts);
    assert_int_equal(st.runs_killed, 0);
    assert_string_equal(st.last_error, "worker: the worker exited");
    rs_engine_free(engine);
    free(json);
    free(script);
    assert_resources_back(&f->before);
}

#define DISPATCH_THREADS 4
#define DISPATCHES       2000

struct dispatcher {
    pthread_t thread;
    struct rs_engine *waited, *not_waited;
    int runs;
    int unexpected;
};

static void *dispatch_many(void *arg)
{
    struct dispatcher *d = arg;
    /* No assertions here: cmocka's only work in the test's own thread. */
    for (int i = 0; i < d->runs; i++) {
        struct rs_event ev;
        rs_event_init(&ev, RS_HOOK_LEASE4_RELEASE);
        if (strvec_push(&ev.env, "INHERIT_MODE=exit=0") != 0)
            d->unexpected++;
        if (rs_engine_dispatch(i % 2 ? d->not_waited : d->waited, &ev) != RS_NEXT_CONTINUE)
            d->unexpected++;
        rs_event_release(&ev);
    }
    return NULL;
}

static void test_thousands_of_runs_leave_nothing(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *waited = engine_new("\"wait\": true", &f->rec);
    struct rs_engine *not_waited = engine_new("\"wait\": false", &f->rec);
    struct dispatcher d[DISPATCH_THREADS];
    for (int i = 0; i < DISPATCH_THREADS; i++) {
        d[i] = (struct dispatcher){.waited = waited,
                                   .not_waited = not_waited,
                                   .runs = DISPATCHES / DISPATCH_THREADS,
                                   .unexpected = 0};
        assert_int_equal(pthread_create(&d[i].thread, NULL, dispatch_many, &d[i]), 0);
    }
    for (int i = 0; i < DISPATCH_THREADS; i++) {
        pthread_join(d[i].thread, NULL);
        assert_int_equal(d[i].unexpected, 0);
    }
    /* Wait for the runs nobody waited for, however slow this machine (valgrind) is. */
    assert_true(rec_wait(&f->rec, RS_MSG_SCRIPT_DONE, DISPATCHES, 120000));
    rs_engine_free(waited);
    rs_engine_free(not_waited);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_STARTED), DISPATCHES);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), DISPATCHES);
    /* Nothing went wrong on the way: no warning, no error. */
    if (rec_count_severity(&f->rec, RS_WARN) != 0)
        rec_dump(&f->rec);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 0);
    assert_resources_back(&f->before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_hooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_true_is_synchronous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_false_returns_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_event_for_queued_and_waited_scripts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unload_waits_for_scripts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_dir_problems, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_hands_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_failure_never_changes_course, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thousands_of_runs_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_of_waited_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_of_exec_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_of_a_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_of_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_shows_in_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_of_failed_deliveries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_of_a_worker, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
