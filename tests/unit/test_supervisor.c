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

/* Waits up to scaled_ms(`timeout_ms`) for the supervisor to have no job left. */
static bool wait_idle(struct rs_supervisor *sup, int timeout_ms)
{
    int64_t end = now_ms() + scaled_ms(timeout_ms);
    while (rs_supervisor_jobs(sup) > 0) {
        if (now_ms() >= end)
            return false;
        sleep_ms(5);
    }
    return true;
}

struct fixture {
    struct recorder rec;
    struct resources before;
    struct rs_supervisor *sup; /* NULL once the test stopped it */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    rec_init(&f->rec);
    f->before = resources_now();
    assert_int_equal(rs_supervisor_start(&f->sup, &f->rec.logger), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->sup) /* a test failed before it stopped the supervisor */
        rs_supervisor_stop(f->sup, 0);
    rec_free(&f->rec);
    free(f);
    return 0;
}

/* Stops the supervisor, letting its jobs run for up to `drain_ms`; returns how long it took. */
static int64_t stop_supervisor(struct fixture *f, unsigned drain_ms)
{
    int64_t t0 = now_ms();
    rs_supervisor_stop(f->sup, drain_ms);
    f->sup = NULL;
    return now_ms() - t0;
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
    struct fixture *f = *state;
    assert_int_equal(rs_supervisor_jobs(f->sup), 0);

    struct adopter adopters[THREADS];
    for (int i = 0; i < THREADS; i++) {
        adopters[i] = (struct adopter){.sup = f->sup, .rec = &f->rec, .failures = 0};
        adopters[i].jobs = JOBS / THREADS + (i < JOBS % THREADS ? 1 : 0);
        assert_int_equal(pthread_create(&adopters[i].thread, NULL, adopt_jobs, &adopters[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(adopters[i].thread, NULL);
        assert_int_equal(adopters[i].failures, 0);
    }
    assert_true(wait_idle(f->sup, 10000));
    /* Every job reaped as it ended, with its output and its end logged. */
    assert_int_equal(count_zombie_children(), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_STARTED), JOBS);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), JOBS);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDOUT, "(lease4_select): line 1"), JOBS);

    assert_true(stop_supervisor(f, 5000) < 1000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_resources_back(&f->before);
}

static void test_stop_kills_after_drain(void **state)
{
    struct fixture *f = *state;
    struct rs_job *job = start_job("sleep=60000", 0, &f->rec);
    assert_non_null(job);
    rs_supervisor_adopt(f->sup, job);
    assert_int_equal(rs_supervisor_jobs(f->sup), 1);

    int64_t elapsed = stop_supervisor(f, 300);
    if (elapsed < 250 || elapsed > 300 + slack_ms())
        print_message("stop took %lld ms\n", (long long)elapsed);
    assert_in_range(elapsed, 250, 300 + slack_ms());
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 1);
    assert_resources_back(&f->before);
}

static void test_stop_waits_for_running_jobs(void **state)
{
    struct fixture *f = *state;
    struct rs_job *job = start_job("sleep=200,lines=1", 0, &f->rec);
    assert_non_null(job);
    rs_supervisor_adopt(f->sup, job);

    int64_t elapsed = stop_supervisor(f, 5000);
    /* It ended by itself within the drain time: not killed, fully logged. */
    assert_in_range(elapsed, 100, 5000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_STDOUT), 1);
    assert_resources_back(&f->before);
}

static void test_finishes_overdue_job(void **state)
{
    struct fixture *f = *state;
    /* What the engine hands over when a waited-for script overstays: SIGTERM already sent. */
    struct rs_job *job = start_job("ignore-term,sleep=60000", 100, &f->rec);
    assert_non_null(job);
    assert_false(rs_job_wait(job, true));
    assert_int_equal(job->state, RS_JOB_TERMINATING);
    int64_t t0 = now_ms();
    rs_supervisor_adopt(f->sup, job);
    assert_true(wait_idle(f->sup, 5000));
    int64_t elapsed = now_ms() - t0;
    /* SIGKILL at the end of the grace period. */
    assert_in_range(elapsed, RS_JOB_KILL_GRACE_MS - 200, RS_JOB_KILL_GRACE_MS + slack_ms());
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 2);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_TIMEOUT, "SIGKILL"), 1);
    assert_int_equal(count_zombie_children(), 0);
    stop_supervisor(f, 1000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_resources_back(&f->before);
}

static void test_failures_are_logged(void **state)
{
    struct fixture *f = *state;
    struct rs_job *failing = start_job("err=1,exit=7", 0, &f->rec);
    struct rs_job *killed = start_job("signal=9", 0, &f->rec);
    assert_non_null(failing);
    assert_non_null(killed);
    rs_supervisor_adopt(f->sup, failing);
    rs_supervisor_adopt(f->sup, killed);
    assert_true(wait_idle(f->sup, 5000));
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_EXIT_STATUS, "exited with status 7"), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDERR, "(lease4_select): err 1"), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_KILLED_BY_SIGNAL, "signal 9"), 1);
    stop_supervisor(f, 1000);
    assert_resources_back(&f->before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adopt_from_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_kills_after_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_running_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finishes_overdue_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_are_logged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
