/*
 * supervisor: one thread that watches the scripts nobody waits for.
 *
 * Scripts run with "wait": false, and waited-for scripts that overstayed their timeout, are
 * handed here. The thread logs their output, reaps each one by its own pid as soon as it exits
 * (so no zombie is left and Kea's SIGCHLD handling is never touched), and finishes off those that
 * ignore SIGTERM. Kea's packet threads only pay for a mutex and a wake-up write.
 *
 * Lifecycle: rs_supervisor_start, rs_supervisor_adopt (any thread), rs_supervisor_stop (once, from
 * the thread that started it, before the library is unloaded: the thread runs our code).
 */
#ifndef RS_SUPERVISOR_H
#define RS_SUPERVISOR_H

#include "job.h"

struct rs_supervisor;

/* Returns 0 or -errno. */
int rs_supervisor_start(struct rs_supervisor **out, const struct rs_logger *log);

/* Takes ownership of a heap-allocated, started job. Never fails: at worst the job is waited for
 * in the caller's thread. */
void rs_supervisor_adopt(struct rs_supervisor *sup, struct rs_job *job);

/* How many jobs it watches now. */
unsigned rs_supervisor_jobs(struct rs_supervisor *sup);

/*
 * Waits up to `drain_ms` for the jobs it watches to end, kills those still running (logged), reaps
 * them, stops the thread and frees everything.
 */
void rs_supervisor_stop(struct rs_supervisor *sup, unsigned drain_ms);

#endif
