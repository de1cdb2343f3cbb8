#include "job.h"
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOOK "pkt4_receive"

struct run {
    struct recorder rec;
    struct rs_job job;
    int64_t elapsed_ms;
    int fds_before;
};

/* Starts the helper with INHERIT_MODE=`mode`; the caller drives the job. */
static void start(struct run *r, const char *mode, unsigned timeout_ms)
{
    rec_init(&r->rec);
    r->fds_before = count_fds();
    char *env = NULL;
    assert_true(asprintf(&env, "INHERIT_MODE=%s", mode) > 0);
    char *const envp[] = {env, NULL};
    int64_t start_ms = now_ms();
    assert_int_equal(rs_job_start(&r->job, helper_path(), HOOK, envp, timeout_ms, &r->rec.logger),
                     0);
    r->elapsed_ms = now_ms() - start_ms;
    free(env);
    assert_int_equal(r->job.state, RS_JOB_RUNNING);
    assert_true(r->job.child.pid > 0);
    assert_int_equal(rec_count(&r->rec, RS_MSG_SCRIPT_STARTED), 1);
}

/* Runs the job to its end in this thread. */
static void run(struct run *r, const char *mode, unsigned timeout_ms)
{
    start(r, mode, timeout_ms);
    int64_t start_ms = now_ms();
    assert_true(rs_job_wait(&r->job, false));
    r->elapsed_ms = now_ms() - start_ms;
    assert_int_equal(r->job.state, RS_JOB_DONE);
}

static void finish(struct run *r)
{
    rs_job_release(&r->job);
    /* Every descriptor of the job is closed, and its process reaped. */
    assert_int_equal(count_fds(), r->fds_before);
    assert_no_children();
    rec_free(&r->rec);
}

/* The `nth` message `msg` is exactly "<helper> (HOOK): `line`". */
static void assert_line(struct run *r, enum rs_msg msg, size_t nth, const char *line)
{
    char *expected = NULL, *got = rec_text(&r->rec, msg, nth);
    assert_true(asprintf(&expected, "%s (%s): %s", helper_path(), HOOK, line) > 0);
    if (!got || strcmp(got, expected) != 0) {
        print_message("message %zu: expected %s\n", nth, expected);
        rec_dump(&r->rec);
    }
    assert_non_null(got);
    assert_string_equal(got, expected);
    free(got);
    free(expected);
}

static void test_output_lines(void **state)
{
    (void)state;
    struct run r;
    run(&r, "lines=3,err=2", 0);
    assert_int_equal(r.job.outcome, RS_OUTCOME_SUCCESS);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 3);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDERR), 2);
    assert_line(&r, RS_MSG_STDOUT, 0, "line 1");
    assert_line(&r, RS_MSG_STDOUT, 1, "line 2");
    assert_line(&r, RS_MSG_STDOUT, 2, "line 3");
    assert_line(&r, RS_MSG_STDERR, 0, "err 1");
    assert_line(&r, RS_MSG_STDERR, 1, "err 2");
    assert_int_equal(rec_count(&r.rec, RS_MSG_SCRIPT_DONE), 1);
    assert_int_equal(rec_count_text(&r.rec, RS_MSG_SCRIPT_DONE, "exited with status 0"), 1);
    assert_int_equal(rec_count(&r.rec, RS_MSG_EXIT_STATUS), 0);
    assert_int_equal(r.job.lines_logged, 5);
    assert_int_equal(r.job.lines_suppressed, 0);
    finish(&r);
}

static void test_partial_last_line(void **state)
{
    (void)state;
    struct run r;
    run(&r, "lines=1,partial", 0);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 2);
    assert_line(&r, RS_MSG_STDOUT, 1, "partial");
    finish(&r);
}

static void test_control_bytes_escaped(void **state)
{
    (void)state;
    struct run r;
    run(&r, "binary", 0);
    /* The helper prints "A\x01B\t\x1b[0m\x7f\xff\xfe\\Z\r\n". */
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 1);
    assert_line(&r, RS_MSG_STDOUT, 0, "A\\x01B\\x09\\x1b[0m\\x7f\\xff\\xfe\\x5cZ\\x0d");
    finish(&r);
}

static char *pattern(size_t from, size_t len)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)('a' + (from + i) % 26);
    s[len] = '\0';
    return s;
}

/* A line of `len` bytes is logged as the pieces `sizes` (0-terminated). */
static void assert_split(size_t len, const size_t sizes[])
{
    struct run r;
    char mode[32];
    snprintf(mode, sizeof(mode), "long=%zu", len);
    run(&r, mode, 0);
    size_t n = 0, offset = 0;
    for (; sizes[n]; n++) {
        char *piece = pattern(offset, sizes[n]);
        assert_line(&r, RS_MSG_STDOUT, n, piece);
        free(piece);
        offset += sizes[n];
    }
    assert_int_equal(offset, len);
    if (rec_count(&r.rec, RS_MSG_STDOUT) != n)
        rec_dump(&r.rec);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), n);
    finish(&r);
}

static void test_long_lines_split(void **state)
{
    (void)state;
    assert_split(2500, (const size_t[]){RS_JOB_LINE_MAX, RS_JOB_LINE_MAX, 452, 0});
    assert_split(RS_JOB_LINE_MAX - 1, (const size_t[]){RS_JOB_LINE_MAX - 1, 0});
    /* Exactly full: no empty line after it. */
    assert_split(RS_JOB_LINE_MAX, (const size_t[]){RS_JOB_LINE_MAX, 0});
    assert_split(2 * RS_JOB_LINE_MAX, (const size_t[]){RS_JOB_LINE_MAX, RS_JOB_LINE_MAX, 0});
}

static void test_line_limit(void **state)
{
    (void)state;
    struct run r;
    run(&r, "lines=150", 0);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), RS_JOB_MAX_LINES);
    assert_line(&r, RS_MSG_STDOUT, RS_JOB_MAX_LINES - 1, "line 100");
    assert_int_equal(rec_count(&r.rec, RS_MSG_OUTPUT_SUPPRESSED), 1);
    assert_int_equal(rec_count_text(&r.rec, RS_MSG_OUTPUT_SUPPRESSED, " 50 more lines"), 1);
    assert_int_equal(r.job.lines_suppressed, 50);
    assert_int_equal(r.job.outcome, RS_OUTCOME_SUCCESS);
    finish(&r);

    /* stdout and stderr share the budget. */
    run(&r, "lines=80,err=40", 0);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 80);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDERR), 20);
    assert_int_equal(rec_count_text(&r.rec, RS_MSG_OUTPUT_SUPPRESSED, " 20 more lines"), 1);
    finish(&r);
}

static void test_flood_does_not_block(void **state)
{
    (void)state;
    struct run r;
    /* 1 MiB is far more than a pipe holds: the script only ends if it is read as it writes. */
    run(&r, "flood=1048576,lines=1", 0);
    assert_true(r.elapsed_ms < scaled_ms(10000));
    assert_int_equal(r.job.outcome, RS_OUTCOME_SUCCESS);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), RS_JOB_MAX_LINES);
    assert_int_equal(r.job.lines_suppressed, 1048576 / 64 + 1 - RS_JOB_MAX_LINES);
    assert_int_equal(rec_count_text(&r.rec, RS_MSG_OUTPUT_SUPPRESSED, " 16285 more lines"), 1);
    finish(&r);
}

static void test_exit_status(void **state)
{
    (void)state;
    struct run r;
    run(&r, "lines=1,exit=3", 0);
    assert_int_equal(r.job.outcome, RS_OUTCOME_FAILED);
    assert_int_equal(rec_count(&r.rec, RS_MSG_EXIT_STATUS), 1);
    assert_line(&r, RS_MSG_EXIT_STATUS, 0, "exited with status 3");
    assert_int_equal(rec_count(&r.rec, RS_MSG_SCRIPT_DONE), 0);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 1);
    finish(&r);
}

static void test_killed_by_signal(void **state)
{
    (void)state;
    struct run r;
    run(&r, "signal=9", 0);
    assert_int_equal(r.job.outcome, RS_OUTCOME_FAILED);
    assert_int_equal(rec_count(&r.rec, RS_MSG_KILLED_BY_SIGNAL), 1);
    assert_int_equal(rec_count_text(&r.rec, RS_MSG_KILLED_BY_SIGNAL, "killed by signal 9"), 1);
    assert_int_equal(rec_count(&r.rec, RS_MSG_EXIT_STATUS), 0);
    finish(&r);
}

static void test_exec_failure(void **state)
{
    (void)state;
    if (under_valgrind())
        skip(); /* the failure cannot come back from posix_spawn() there (testutil.h) */
    struct recorder rec;
    rec_init(&rec);
    int fds_before = count_fds();
    struct rs_job job;
    char *const envp[] = {NULL};
    int rc = rs_job_start(&job, "/nonexistent/script.sh", HOOK, envp, 0, &rec.logger);
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(job.outcome, RS_OUTCOME_NOT_RUN);
    assert_int_equal(job.state, RS_JOB_DONE);
    assert_int_equal(rec_count(&rec, RS_MSG_EXEC_FAILED), 1);
    assert_int_equal(
        rec_count_text(&rec, RS_MSG_EXEC_FAILED, "/nonexistent/script.sh (" HOOK "): "), 1);
    assert_int_equal(rec_count_text(&rec, RS_MSG_EXEC_FAILED, "file not found"), 1);
    assert_int_equal(rec_count(&rec, RS_MSG_SCRIPT_STARTED), 0);
    assert_int_equal(rec_count(&rec, RS_MSG_COUNT), 1);
    /* Nothing to release. */
    assert_int_equal(count_fds(), fds_before);
    assert_no_children();
    rec_free(&rec);
}

static void test_timeout_returns_at_deadline(void **state)
{
    (void)state;
    struct run r;
    start(&r, "sleep=60000", 200);
    int64_t t0 = now_ms();
    assert_false(rs_job_wait(&r.job, true));
    int64_t elapsed = now_ms() - t0;
    if (elapsed < 150 || elapsed > 200 + slack_ms())
        print_message("rs_job_wait returned after %lld ms\n", (long long)elapsed);
    assert_in_range(elapsed, 150, 200 + slack_ms());
    assert_int_equal(r.job.state, RS_JOB_TERMINATING);
    assert_int_equal(r.job.outcome, RS_OUTCOME_TIMEOUT);
    assert_int_equal(rec_count(&r.rec, RS_MSG_TIMEOUT), 1);
    assert_int_equal(rec_count_text(&r.rec, RS_MSG_TIMEOUT, "SIGTERM"), 1);

    /* SIGTERM ends it; whoever finishes the job sees it through. */
    assert_true(rs_job_wait(&r.job, false));
    assert_true(now_ms() - t0 < 200 + 2 * slack_ms());
    assert_int_equal(r.job.state, RS_JOB_DONE);
    assert_int_equal(r.job.outcome, RS_OUTCOME_TIMEOUT);
    assert_int_equal(rec_count(&r.rec, RS_MSG_TIMEOUT), 1);
    finish(&r);
}

static void test_sigterm_ignored_gets_sigkill(void **state)
{
    (void)state;
    struct run r;
    run(&r, "ignore-term,sleep=60000", 200);
    int64_t expected = 200 + RS_JOB_KILL_GRACE_MS;
    if (r.elapsed_ms < expected - 100 || r.elapsed_ms > expected + slack_ms())
        print_message("ended after %lld ms\n", (long long)r.elapsed_ms);
    assert_in_range(r.elapsed_ms, expected - 100, expected + slack_ms());
    assert_int_equal(r.job.outcome, RS_OUTCOME_TIMEOUT);
    assert_int_equal(rec_count(&r.rec, RS_MSG_TIMEOUT), 2);
    assert_int_equal(rec_count_text(&r.rec, RS_MSG_TIMEOUT, "SIGKILL"), 1);
    finish(&r);
}

static void test_no_timeout_runs_to_end(void **state)
{
    (void)state;
    struct run r;
    start(&r, "sleep=100,lines=1", 0);
    /* Without a deadline (and with a pidfd to wait on), nothing needs a timer. */
    if (r.job.child.pidfd >= 0)
        assert_int_equal(rs_job_poll_timeout(&r.job), -1);
    else
        assert_in_range(rs_job_poll_timeout(&r.job), 1, 100);
    /* Without a deadline, stopping at it means running to the end. */
    assert_true(rs_job_wait(&r.job, true));
    assert_int_equal(r.job.outcome, RS_OUTCOME_SUCCESS);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 1);
    finish(&r);
}

static void test_grandchild_holding_stdout(void **state)
{
    (void)state;
    struct run r;
    /* The grandchild keeps the pipe open for a minute; the job must end with its child. */
    run(&r, "lines=1,grandchild=60000", 0);
    if (r.elapsed_ms >= slack_ms())
        print_message("the job took %lld ms\n", (long long)r.elapsed_ms);
    assert_true(r.elapsed_ms < slack_ms());
    assert_int_equal(r.job.outcome, RS_OUTCOME_SUCCESS);
    /* What it printed before exiting is logged all the same. */
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 2);
    assert_line(&r, RS_MSG_STDOUT, 0, "line 1");
    char *text = rec_text(&r.rec, RS_MSG_STDOUT, 1);
    assert_non_null(text);
    const char *g = strstr(text, "grandchild ");
    assert_non_null(g);
    pid_t grandchild = atoi(g + strlen("grandchild "));
    assert_true(grandchild > 0);
    assert_false(wait_process_gone(grandchild, 0));
    free(text);
    kill(grandchild, SIGKILL);
    assert_true(wait_process_gone(grandchild, 2000));
    finish(&r);
}

static void test_step_by_hand(void **state)
{
    (void)state;
    struct run r;
    int64_t t0 = now_ms();
    start(&r, "lines=2", 5000);
    struct pollfd fds[3];
    /* The pidfd and both pipes; without a pidfd, a timer to poll for the child's exit. */
    bool pidfd = r.job.child.pidfd >= 0;
    assert_int_equal(pidfd, pidfd_available());
    assert_int_equal(rs_job_pollfds(&r.job, fds), pidfd ? 3 : 2);
    int timeout = rs_job_poll_timeout(&r.job);
    int64_t since_start = now_ms() - t0;
    if (pidfd)
        assert_in_range(timeout, since_start < 5000 ? 5000 - since_start - 1 : 0, 5000);
    else
        assert_in_range(timeout, 1, 100);
    int64_t end = now_ms() + scaled_ms(5000);
    bool done = false;
    while (!done && now_ms() < end) {
        int n = rs_job_pollfds(&r.job, fds);
        int rc = poll(fds, (nfds_t)n, rs_job_poll_timeout(&r.job));
        done = rs_job_step(&r.job, fds, rc > 0 ? n : 0);
    }
    assert_true(done);
    assert_int_equal(r.job.state, RS_JOB_DONE);
    assert_int_equal(rec_count(&r.rec, RS_MSG_STDOUT), 2);
    /* Done: nothing left to wait for. */
    assert_true(rs_job_wait(&r.job, false));
    finish(&r);
}

static void test_abort(void **state)
{
    (void)state;
    struct run r;
    start(&r, "sleep=60000", 0);
    int64_t t0 = now_ms();
    rs_job_abort(&r.job);
    assert_true(now_ms() - t0 < slack_ms());
    assert_int_equal(r.job.state, RS_JOB_DONE);
    assert_int_equal(r.job.outcome, RS_OUTCOME_FAILED);
    assert_int_equal(rec_count(&r.rec, RS_MSG_SHUTDOWN_KILL), 1);
    /* A finished job is left alone. */
    rs_job_abort(&r.job);
    assert_int_equal(rec_count(&r.rec, RS_MSG_SHUTDOWN_KILL), 1);
    finish(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_lines),
        cmocka_unit_test(test_partial_last_line),
        cmocka_unit_test(test_control_bytes_escaped),
        cmocka_unit_test(test_long_lines_split),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_flood_does_not_block),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_killed_by_signal),
        cmocka_unit_test(test_exec_failure),
        cmocka_unit_test(test_timeout_returns_at_deadline),
        cmocka_unit_test(test_sigterm_ignored_gets_sigkill),
        cmocka_unit_test(test_no_timeout_runs_to_end),
        cmocka_unit_test(test_grandchild_holding_stdout),
        cmocka_unit_test(test_step_by_hand),
        cmocka_unit_test(test_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
