/*
 * worker: a script started once ("mode": "worker") that receives every event on its stdin, so an
 * interpreter (Python, Ruby...) starts once, not once per event.
 *
 * Protocol (src/core/frame.h): one framed event in, one answer line out (an integer, 0 = success).
 * A worker that exits, hangs past its timeout or answers something else is restarted, at most
 * once a second; all of it is logged. Who delivers the event it had again, and how often, is the
 * caller's choice (src/core/queue.h counts attempts). Its stderr goes to
 * Kea's log. Calls are serialised: one event is in flight at a time.
 *
 * Lifecycle: rs_worker_start (starts the process), rs_worker_deliver (any thread),
 * rs_worker_stop (closes stdin, waits `grace_ms`, then terminates it).
 */
#ifndef RS_WORKER_H
#define RS_WORKER_H

#include "counters.h"
#include "frame.h"
#include "job.h"
#include "supervisor.h"

#include <stdint.h>

struct rs_worker_config {
    const char *script;
    enum rs_format format;
    unsigned timeout_ms;              /* per event; 0: none */
    char *const *envp;                /* the process's own environment (PATH and "env"); copied */
    int nice;                         /* the worker process's nice value (0: Kea's) */
    struct rs_run_counters *counters; /* counts its starts, kills, restarts; NULL: none */
};

struct rs_worker;

int rs_worker_start(struct rs_worker **out, const struct rs_worker_config *config,
                    struct rs_supervisor *supervisor, const struct rs_logger *log);

/*
 * Delivers one event and waits for the answer. With `patient` (Kea does not wait), retries until
 * delivered, waiting out the restart limit; otherwise one run of the timeout in all: a failure
 * then returns at once. Returns RS_OUTCOME_SUCCESS (answer 0), RS_OUTCOME_FAILED (another answer,
 * or the worker broke), RS_OUTCOME_TIMEOUT, or RS_OUTCOME_NOT_RUN (could not start the worker).
 */
enum rs_outcome rs_worker_deliver(struct rs_worker *worker, const char *hook, char *const envp[],
                                  bool patient);

/* One attempt at delivering `count` events in order (for a queue Kea does not wait for): sent in
 * one go, then the answers read, one timeout for the whole batch. A worker that is not running is
 * started first (waiting out the restart limit). Returns how many were answered (an answer other
 * than 0 is logged, and counts as answered). When fewer than `count`, the worker broke on the
 * next one (it is ended, and restarted at the next call) and `*failure` says how; `*failure` is
 * NULL when no attempt was made: the worker could not be started, or unload gave up. At most
 * 256 events per call: more are left for the next. */
size_t rs_worker_deliver_batch(struct rs_worker *worker, const char *const hooks[],
                               char *const *const envps[], size_t count, const char **failure);

/* From `deadline_ms` (monotonic) on, deliveries stop retrying a worker that cannot be started or
 * keeps failing, and batches in flight end at it, so that unload is not held up. Any thread. */
void rs_worker_give_up(struct rs_worker *worker, int64_t deadline_ms);

/* The worker process's pid, or 0 while none runs (it failed, and is started again at the next
 * event). Never waits: any thread, while a delivery is under way too. */
int rs_worker_pid(const struct rs_worker *worker);

void rs_worker_stop(struct rs_worker *worker, unsigned grace_ms);

#endif
