#include "supervisor.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define JOBS    50

/* Starts the helper with INHERIT_MODE=`mode` as a heap job, ready for adoption. */
static struct rs_job *start_job(const char *mode, unsigned timeout_ms, struct recorder *rec)
{
    char env[128];
    snprintf(env, sizeof(env), "INHERIT_MODE=%s", mode);
    char *const envp[] = {env, NULL};
    struct rs_job *job = malloc(sizeof(*job));
    if (!job)
        return NULL;
    if (rs_job_start(job, helper_path(), "lease4_select", envp, timeout_ms, &rec->logger) != 0) {
        free(job);
        return NULL;
    }
    return job;
}

/* Waits up to `timeout_ms` for the supervisor to have no job left. */
static bool wait_idle(struct rs_supervisor *sup, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (rs_supervisor_jobs(sup) > 0) {
        if (now_ms() >= end)
            return false;
        sleep_ms(5);
    }
    return true;
}

struct adopter {
    pthread_t thread;
    struct rs_supervisor *sup;
    struct recorder *rec;
    int jobs;
    int failures;
};

static void *adopt_jobs(void *arg)
{
    struct adopter *a = arg;
    /* No assertions here: cmocka's only work in the test's own thread. */
    for (int i = 0; i < a->jobs; i++) {
        struct rs_job *job = start_job("lines=1,sleep=20", 0, a->rec);
        if (job)
            rs_supervisor_adopt(a->sup, job);
        else
            a->failures++;
    }
    return NULL;
}

static void test_adopt_from_many_threads(void **state)
{
    (void)state;
    struct recorder rec;
    rec_init(&rec);
    int fds_before = count_fds();
    struct rs_supervisor *sup = NULL;
    assert_int_equal(rs_supervisor_start(&sup, &rec.logger), 0);
    assert_int_equal(rs_supervisor_jobs(sup), 0);

    struct adopter adopters[THREADS];
    for (int i = 0; i < THREADS; i++) {
        adopters[i] = (struct adopter){.sup = sup, .rec = &rec, .failures = 0};
        adopters[i].jobs = JOBS / THREADS + (i < JOBS % THREADS ? 1 : 0);
        assert_int_equal(pthread_create(&adopters[i].thread, NULL, adopt_jobs, &adopters[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(adopters[i].thread, NULL);
        assert_int_equal(adopters[i].failures, 0);
    }
    assert_true(wait_idle(sup, 10000));
    /* Every job reaped as it ended, with its output and its end logged. */
    assert_int_equal(count_zombie_children(), 0);
    assert_int_equal(rec_count(&rec, RS_MSG_SCRIPT_STARTED), JOBS);
    assert_int_equal(rec_count(&rec, RS_MSG_SCRIPT_DONE), JOBS);
    assert_int_equal(rec_count_text(&rec, RS_MSG_STDOUT, "(lease4_select): line 1"), JOBS);

    int64_t t0 = now_ms();
    rs_supervisor_stop(sup, 5000);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(rec_count(&rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_int_equal(count_fds(), fds_before);
    assert_no_children();
    rec_free(&rec);
}

static void test_stop_kills_after_drain(void **state)
{
    (void)state;
    struct recorder rec;
    rec_init(&rec);
    int fds_before = count_fds();
    struct rs_supervisor *sup = NULL;
    assert_int_equal(rs_supervisor_start(&sup, &rec.logger), 0);
    struct rs_job *job = start_job("sleep=20000", 0, &rec);
    assert_non_null(job);
    rs_supervisor_adopt(sup, job);
    assert_int_equal(rs_supervisor_jobs(sup), 1);

    int64_t t0 = now_ms();
    rs_supervisor_stop(sup, 300);
    int64_t elapsed = now_ms() - t0;
    if (elapsed < 250 || elapsed > 3000)
        print_message("stop took %lld ms\n", (long long)elapsed);
    assert_in_range(elapsed, 250, 3000);
    assert_int_equal(rec_count(&rec, RS_MSG_SHUTDOWN_KILL), 1);
    assert_int_equal(count_fds(), fds_before);
    assert_no_children();
    rec_free(&rec);
}

static void test_stop_waits_for_running_jobs(void **state)
{
    (void)state;
    struct recorder rec;
    rec_init(&rec);
    struct rs_supervisor *sup = NULL;
    assert_int_equal(rs_supervisor_start(&sup, &rec.logger), 0);
    struct rs_job *job = start_job("sleep=200,lines=1", 0, &rec);
    assert_non_null(job);
    rs_supervisor_adopt(sup, job);

    int64_t t0 = now_ms();
    rs_supervisor_stop(sup, 5000);
    int64_t elapsed = now_ms() - t0;
    /* It ended by itself within the drain time: not killed, fully logged. */
    assert_in_range(elapsed, 100, 3000);
    assert_int_equal(rec_count(&rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_int_equal(rec_count(&rec, RS_MSG_SCRIPT_DONE), 1);
    assert_int_equal(rec_count(&rec, RS_MSG_STDOUT), 1);
    assert_no_children();
    rec_free(&rec);
}

static void test_finishes_overdue_job(void **state)
{
    (void)state;
    struct recorder rec;
    rec_init(&rec);
    struct rs_supervisor *sup = NULL;
    assert_int_equal(rs_supervisor_start(&sup, &rec.logger), 0);
    /* What the engine hands over when a waited-for script overstays: SIGTERM already sent. */
    struct rs_job *job = start_job("ignore-term,sleep=20000", 100, &rec);
    assert_non_null(job);
    assert_false(rs_job_wait(job, true));
    assert_int_equal(job->state, RS_JOB_TERMINATING);
    int64_t t0 = now_ms();
    rs_supervisor_adopt(sup, job);
    assert_true(wait_idle(sup, 5000));
    int64_t elapsed = now_ms() - t0;
    /* SIGKILL at the end of the grace period. */
    assert_in_range(elapsed, RS_JOB_KILL_GRACE_MS - 200, RS_JOB_KILL_GRACE_MS + 2000);
    assert_int_equal(rec_count(&rec, RS_MSG_TIMEOUT), 2);
    assert_int_equal(rec_count_text(&rec, RS_MSG_TIMEOUT, "SIGKILL"), 1);
    assert_int_equal(count_zombie_children(), 0);
    rs_supervisor_stop(sup, 1000);
    assert_int_equal(rec_count(&rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_no_children();
    rec_free(&rec);
}

static void test_failures_are_logged(void **state)
{
    (void)state;
    struct recorder rec;
    rec_init(&rec);
    struct rs_supervisor *sup = NULL;
    assert_int_equal(rs_supervisor_start(&sup, &rec.logger), 0);
    struct rs_job *failing = start_job("err=1,exit=7", 0, &rec);
    struct rs_job *killed = start_job("signal=9", 0, &rec);
    assert_non_null(failing);
    assert_non_null(killed);
    rs_supervisor_adopt(sup, failing);
    rs_supervisor_adopt(sup, killed);
    assert_true(wait_idle(sup, 5000));
    assert_int_equal(rec_count_text(&rec, RS_MSG_EXIT_STATUS, "exited with status 7"), 1);
    assert_int_equal(rec_count_text(&rec, RS_MSG_STDERR, "(lease4_select): err 1"), 1);
    assert_int_equal(rec_count_text(&rec, RS_MSG_KILLED_BY_SIGNAL, "signal 9"), 1);
    rs_supervisor_stop(sup, 1000);
    assert_no_children();
    rec_free(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adopt_from_many_threads),
        cmocka_unit_test(test_stop_kills_after_drain),
        cmocka_unit_test(test_stop_waits_for_running_jobs),
        cmocka_unit_test(test_finishes_overdue_job),
        cmocka_unit_test(test_failures_are_logged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
