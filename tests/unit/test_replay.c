#include "engine.h"
#include "replay.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The script: one line per event, "HOOK ADDRESS", after an optional sleep. */
static const char record_script[] =
    "#!/bin/sh\n"
    "if [ -n \"$SLEEP\" ]; then sleep \"$SLEEP\"; fi\n"
    "echo \"$1 $KEA_LEASE4_ADDRESS$KEA_LEASE6_ADDRESS\" >> \"$OUT\"\n";

struct fixture {
    char *dir;
    char *script;
    char *out;
    struct resources before;
    struct recorder rec;
    /* The adapter's side: requests for a page, counted. */
    pthread_mutex_t lock;
    pthread_cond_t requested;
    int requests;
    int lines_at_request[16]; /* what the script had written when each request came */
    /* What runs, for teardown to stop after a failure. */
    struct rs_engine *engine;
    struct rs_replay *replay;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->before = resources_now();
    f->dir = make_temp_dir();
    f->script = write_file(f->dir, "record.sh", record_script, 0755);
    assert_true(asprintf(&f->out, "%s/out", f->dir) > 0);
    rec_init(&f->rec);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->requested, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->replay)
        rs_replay_stop(f->replay);
    if (f->engine)
        rs_engine_free(f->engine);
    rec_free(&f->rec);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->requested);
    rm_tree(f->dir);
    free(f->dir);
    free(f->script);
    free(f->out);
    free(f);
    return 0;
}

/* count_lines() without assertions, for the replay thread. */
static int lines_in(const char *path)
{
    FILE *file = fopen(path, "re");
    int n = 0, c;
    if (!file)
        return 0;
    while ((c = getc(file)) != EOF)
        n += c == '\n';
    fclose(file);
    return n;
}

/* Called from the replay thread: must not block, never asserts. */
static void on_request(void *ctx)
{
    struct fixture *f = ctx;
    int lines = lines_in(f->out);
    pthread_mutex_lock(&f->lock);
    if (f->requests < 16)
        f->lines_at_request[f->requests] = lines;
    f->requests++;
    pthread_cond_broadcast(&f->requested);
    pthread_mutex_unlock(&f->lock);
}

/* Waits up to `timeout_ms` for `n` requests in all; returns how many came. */
static int wait_requests(struct fixture *f, int n, int timeout_ms)
{
    timeout_ms = scaled_ms(timeout_ms);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->lock);
    while (f->requests < n)
        if (pthread_cond_timedwait(&f->requested, &f->lock, &ts) != 0)
            break;
    int got = f->requests;
    pthread_mutex_unlock(&f->lock);
    return got;
}

/* `slow`: each run of the script takes 100 ms. */
static struct rs_engine *engine_new(struct fixture *f, const char *settings, bool slow)
{
    char *json = NULL;
    assert_true(asprintf(&json,
                         "{\"script\": \"%s\", \"replay\": true, \"hooks\": [\"lease4_expire\"], "
                         "\"env\": {\"OUT\": \"%s\"%s}, %s}",
                         f->script, f->out, slow ? ", \"SLEEP\": \"0.1\"" : "", settings) > 0);
    char err[512] = "";
    struct rs_engine *engine = NULL;
    struct rs_engine_env env = {f->dir, "dhcp4", NULL, 0};
    int rc = rs_engine_new(json, &env, &f->rec.logger, &engine, err, sizeof(err));
    if (rc)
        print_message("rs_engine_new(%s): %s\n", json, err);
    assert_int_equal(rc, 0);
    free(json);
    f->engine = engine;
    return engine;
}

static void replay_stop(struct fixture *f)
{
    struct rs_replay *replay = f->replay;
    f->replay = NULL;
    rs_replay_stop(replay);
}

static void engine_free(struct fixture *f)
{
    struct rs_engine *engine = f->engine;
    f->engine = NULL;
    rs_engine_free(engine);
}

/* A page of `count` replay events, leases numbered from `first`. */
static struct rs_event *make_page(int family, int first, size_t count)
{
    struct rs_event *events = calloc(count ? count : 1, sizeof(*events));
    if (!events)
        abort(); /* no assertion: the feeder thread calls this too */
    for (size_t i = 0; i < count; i++) {
        char address[64];
        int n = first + (int)i;
        if (family == 4) {
            snprintf(address, sizeof(address), "10.0.%d.%d", n / 256, n % 256);
            rs_event_init(&events[i], RS_HOOK_LEASE4_REPLAY);
            rs_event_add_lease4(&events[i], &(struct rs_lease4){.address = address});
        } else {
            snprintf(address, sizeof(address), "2001:db8::%x", n);
            rs_event_init(&events[i], RS_HOOK_LEASE6_REPLAY);
            rs_event_add_lease6(&events[i], &(struct rs_lease6){.address = address});
        }
    }
    return events;
}

/* The script's output is exactly leases 0 to count-1, in order. */
static void assert_out(struct fixture *f, int family, int count)
{
    char *got = read_file(f->out, NULL);
    char *expected = calloc(1, 1);
    for (int n = 0; n < count; n++) {
        char *more = NULL;
        if (family == 4)
            assert_true(
                asprintf(&more, "%slease4_replay 10.0.%d.%d\n", expected, n / 256, n % 256) > 0);
        else
            assert_true(asprintf(&more, "%slease6_replay 2001:db8::%x\n", expected, n) > 0);
        free(expected);
        expected = more;
    }
    if (strcmp(got, expected) != 0)
        print_message("script saw:\n%sexpected:\n%s", got, expected);
    assert_string_equal(got, expected);
    free(got);
    free(expected);
}

static void test_pages_in_order(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new(f, "\"wait\": true", false);
    struct rs_replay *replay = NULL;
    assert_int_equal(rs_replay_start(&replay, engine, 4, on_request, f, &f->rec.logger), 0);
    f->replay = replay;
    /* Pages of 5, 5 and 2 leases, each fed when asked for, from this thread. */
    static const size_t sizes[] = {5, 5, 2};
    int first = 0;
    for (int page = 0; page < 3; page++) {
        assert_int_equal(wait_requests(f, page + 1, 5000), page + 1);
        /* Asked for once the previous page was delivered, not before. */
        assert_int_equal(f->lines_at_request[page], first);
        rs_replay_feed(replay, make_page(4, first, sizes[page]), sizes[page], page == 2);
        first += (int)sizes[page];
    }
    assert_true(rec_wait(&f->rec, RS_MSG_REPLAY_DONE, 1, 10000));
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_REPLAY_DONE,
                                    "DHCPv4 lease replay done: 12 active leases delivered"),
                     1);
    /* Waited for: all ran by the time it said so. */
    assert_out(f, 4, 12);
    replay_stop(f);
    /* No request after the last page. */
    assert_int_equal(f->requests, 3);
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 0);
    engine_free(f);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 12);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 0);
    assert_resources_back(&f->before);
}

struct feeder {
    pthread_t thread;
    struct fixture *f;
    struct rs_replay *replay;
    int pages, per_page;
    int fed;
};

/* The adapter's main loop: a page for each request, from its own thread. */
static void *feed_pages(void *arg)
{
    struct feeder *d = arg;
    for (int page = 0; page < d->pages; page++) {
        if (wait_requests(d->f, page + 1, 5000) < page + 1)
            break;
        /* An empty page on the way does not end the replay. */
        size_t count = page == 1 ? 0 : (size_t)d->per_page;
        rs_replay_feed(d->replay, make_page(6, d->fed, count), count, page == d->pages - 1);
        d->fed += (int)count;
    }
    return NULL;
}

static void test_not_waited_fed_from_thread(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new(f, "\"wait\": false, \"max-concurrency\": 1", false);
    struct rs_replay *replay = NULL;
    assert_int_equal(rs_replay_start(&replay, engine, 6, on_request, f, &f->rec.logger), 0);
    f->replay = replay;
    struct feeder d = {.f = f, .replay = replay, .pages = 5, .per_page = 7, .fed = 0};
    assert_int_equal(pthread_create(&d.thread, NULL, feed_pages, &d), 0);
    pthread_join(d.thread, NULL);
    assert_int_equal(d.fed, 28);
    assert_true(rec_wait(&f->rec, RS_MSG_REPLAY_DONE, 1, 10000));
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_REPLAY_DONE,
                                    "DHCPv6 lease replay done: 28 active leases delivered"),
                     1);
    replay_stop(f);
    assert_int_equal(f->requests, 5);
    /* Queued, not waited for: delivered in order (one lane). Waited for here, not left to the
     * drain at unload, whose time is bounded and which test_engine covers. */
    assert_true(rec_wait(&f->rec, RS_MSG_SCRIPT_DONE, 28, 10000));
    engine_free(f);
    assert_out(f, 6, 28);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 28);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 0);
    assert_resources_back(&f->before);
}

static void test_stop_during_page(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new(f, "\"wait\": true", true);
    struct rs_replay *replay = NULL;
    assert_int_equal(rs_replay_start(&replay, engine, 4, on_request, f, &f->rec.logger), 0);
    f->replay = replay;
    assert_int_equal(wait_requests(f, 1, 5000), 1);
    /* 10 leases of 100 ms each; stop after about 3. */
    rs_replay_feed(replay, make_page(4, 0, 10), 10, false);
    int64_t end = now_ms() + scaled_ms(5000);
    while (count_lines(f->out) < 3 && now_ms() < end)
        sleep_ms(5);
    int64_t t0 = now_ms();
    replay_stop(f);
    /* It finishes the lease in hand (100 ms), no more. */
    assert_true(now_ms() - t0 < 100 + slack_ms());
    size_t delivered = count_lines(f->out);
    assert_in_range(delivered, 3, 5);
    assert_int_equal(rec_count(&f->rec, RS_MSG_REPLAY_DONE), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 1);
    char needle[128];
    snprintf(needle, sizeof(needle), "DHCPv4 lease replay stopped by unload after %zu leases",
             delivered);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_UNDELIVERED, needle), 1);
    assert_out(f, 4, (int)delivered);
    assert_int_equal(f->requests, 1);
    engine_free(f);
    assert_int_equal(count_lines(f->out), delivered);
    assert_resources_back(&f->before);
}

static void test_stop_waiting_for_page(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new(f, "\"wait\": true", false);
    struct rs_replay *replay = NULL;
    assert_int_equal(rs_replay_start(&replay, engine, 4, on_request, f, &f->rec.logger), 0);
    f->replay = replay;
    assert_int_equal(wait_requests(f, 1, 5000), 1);
    rs_replay_feed(replay, make_page(4, 0, 2), 2, false);
    /* The second page is asked for and never comes. */
    assert_int_equal(wait_requests(f, 2, 5000), 2);
    assert_int_equal(f->lines_at_request[1], 2);
    replay_stop(f);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_UNDELIVERED,
                                    "DHCPv4 lease replay stopped by unload after 2 leases"),
                     1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_REPLAY_DONE), 0);
    assert_out(f, 4, 2);
    engine_free(f);
    assert_resources_back(&f->before);
}

static void test_empty_database(void **state)
{
    struct fixture *f = *state;
    struct rs_engine *engine = engine_new(f, "\"wait\": true", false);
    struct rs_replay *replay = NULL;
    assert_int_equal(rs_replay_start(&replay, engine, 6, on_request, f, &f->rec.logger), 0);
    f->replay = replay;
    assert_int_equal(wait_requests(f, 1, 5000), 1);
    rs_replay_feed(replay, make_page(6, 0, 0), 0, true);
    assert_true(rec_wait(&f->rec, RS_MSG_REPLAY_DONE, 1, 5000));
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_REPLAY_DONE,
                                    "DHCPv6 lease replay done: 0 active leases delivered"),
                     1);
    replay_stop(f);
    assert_int_equal(f->requests, 1);
    assert_false(file_exists(f->out));
    engine_free(f);
    assert_resources_back(&f->before);
}

int main(void)
{
    /* A watchdog: a hang fails the run instead of stalling it. */
    alarm(under_valgrind() ? 600 : 120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pages_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_waited_fed_from_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waiting_for_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_database, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
