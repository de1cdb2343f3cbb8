#include "counters.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

void rs_run_counters_init(struct rs_run_counters *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

void rs_run_counters_destroy(struct rs_run_counters *c)
{
    pthread_mutex_destroy(&c->lock);
}

void rs_run_counters_error(struct rs_run_counters *c, const char *fmt, ...)
{
    if (!c)
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&c->lock);
    vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
    pthread_mutex_unlock(&c->lock);
    va_end(ap);
}

void rs_run_counters_last_error(struct rs_run_counters *c, char *buf, size_t size)
{
    pthread_mutex_lock(&c->lock);
    snprintf(buf, size, "%s", c->last_error);
    pthread_mutex_unlock(&c->lock);
}

void rs_run_counters_started(struct rs_run_counters *c, int rc, const char *script)
{
    if (!c)
        return;
    if (rc == 0) {
        atomic_fetch_add_explicit(&c->started, 1, memory_order_relaxed);
        return;
    }
    /* No process to be had is no fault of the script, and no exec failure. */
    if (rc == -ENOMEM || rc == -EAGAIN) {
        rs_run_counters_error(c, "cannot start a process: %s", strerror(-rc));
        return;
    }
    atomic_fetch_add_explicit(&c->exec_failures, 1, memory_order_relaxed);
    rs_run_counters_error(c, "cannot execute: %s", rs_spawn_strerror(rc, script));
}

void rs_run_counters_ended(struct rs_run_counters *c, const struct rs_job *job)
{
    if (!c || job->outcome == RS_OUTCOME_SUCCESS || job->outcome == RS_OUTCOME_NOT_RUN)
        return;
    atomic_fetch_add_explicit(&c->failed, 1, memory_order_relaxed);
    if (job->outcome == RS_OUTCOME_TIMEOUT) {
        atomic_fetch_add_explicit(&c->killed, 1, memory_order_relaxed);
        rs_run_counters_error(c, "%s: timed out and killed", job->hook);
    } else if (job->signaled) {
        rs_run_counters_error(c, "%s: killed by signal %d", job->hook, job->exit_code);
    } else if (job->state == RS_JOB_DONE && job->exit_code >= 0) {
        rs_run_counters_error(c, "%s: exited with status %d", job->hook, job->exit_code);
    } else if (job->state == RS_JOB_DONE) {
        rs_run_counters_error(c, "%s: ended; another part of Kea collected its exit status",
                              job->hook);
    }
}
