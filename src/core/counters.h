/*
 * counters: what became of one script's runs, for Kea's statistics and the runscript-status
 * command (src/core/engine.h).
 *
 * Whichever thread starts or ends a run counts it, with one relaxed atomic add: Kea's packet
 * threads count their waited-for runs this way, without a lock. The text of the last failure has
 * a lock of its own, taken on failures only. Readers load each counter on its own: a snapshot is
 * not one instant, which statistics do not need.
 */
#ifndef RS_COUNTERS_H
#define RS_COUNTERS_H

#include "job.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct rs_run_counters {
    _Atomic uint64_t started;         /* processes started (a worker: each start of it) */
    _Atomic uint64_t killed;          /* killed at their timeout (a worker: for not answering) */
    _Atomic uint64_t exec_failures;   /* the script could not be executed */
    _Atomic uint64_t failed;          /* runs that exited non-zero, died or were killed */
    _Atomic uint64_t worker_restarts; /* a worker ended after a failure, to be started again */
    pthread_mutex_t lock;             /* for last_error */
    char last_error[RS_LAST_ERROR_MAX];
};

void rs_run_counters_init(struct rs_run_counters *c);
void rs_run_counters_destroy(struct rs_run_counters *c);

/* Counts what rs_job_start() (or rs_job_start_worker()) returned: a start, or a failure (the
 * failure's text kept as the last error). `c` may be NULL, here and below: nothing is counted. */
void rs_run_counters_started(struct rs_run_counters *c, int rc, const char *script);

/* Counts how a run that started went: a timeout is a kill and a failure; an exit other than 0,
 * or a death by a signal, a failure. */
void rs_run_counters_ended(struct rs_run_counters *c, const struct rs_job *job);

/* Keeps `fmt` as the text of the last failure. */
void rs_run_counters_error(struct rs_run_counters *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copies the text of the last failure ("" when none) into `buf`. */
void rs_run_counters_last_error(struct rs_run_counters *c, char *buf, size_t size);

#endif
