/*
 * job: one running script, from spawn to its last log line.
 *
 * A job owns its child process and turns what happens to it into log lines: each line of stdout
 * (INFO) and stderr (WARN), then how it ended. The same job code serves Kea's thread, which waits
 * for a script (rs_job_wait), and the supervisor thread, which watches many at once, so a script
 * behaves and is reported the same whether it is waited for or not.
 *
 * Output is read as it comes, so a script never blocks on a full pipe; memory stays bounded:
 * one line buffer per stream, and past RS_JOB_MAX_LINES lines per run the rest is counted, not
 * logged.
 */
#ifndef RS_JOB_H
#define RS_JOB_H

#include "log.h"
#include "spawn.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#define RS_JOB_LINE_MAX  1024
#define RS_JOB_MAX_LINES 100
/* Between SIGTERM and SIGKILL for a script that overstays. */
#define RS_JOB_KILL_GRACE_MS 1000

struct rs_stream {
    int fd;
    enum rs_msg msg;
    size_t len;
    char line[RS_JOB_LINE_MAX];
};

enum rs_job_state { RS_JOB_RUNNING, RS_JOB_TERMINATING, RS_JOB_DONE };

/* How a job went, from the point of view of the hook's caller. */
enum rs_outcome {
    RS_OUTCOME_SUCCESS, /* exited 0 */
    RS_OUTCOME_FAILED,  /* exited non-zero, died by a signal, or its status was lost */
    RS_OUTCOME_TIMEOUT, /* overstayed its timeout and was killed */
    RS_OUTCOME_NOT_RUN, /* could not be started */
};

struct rs_job {
    struct rs_child child;
    char *script; /* for log lines */
    char *hook;
    const struct rs_logger *log;
    enum rs_job_state state;
    enum rs_outcome outcome;
    bool signaled;       /* it died by a signal (not one sent for its timeout or an unload) */
    int exit_code;       /* once done: its exit status, the signal that ended it, or -1 (lost) */
    int64_t deadline_ms; /* monotonic; 0 = none */
    unsigned lines_logged, lines_suppressed;
    struct rs_stream out, err;
};

/* Monotonic milliseconds. */
int64_t rs_now_ms(void);

/* Scripts started so far in this process, and the time spent starting them (posix_spawn and its
 * set-up, i.e. what a script costs the thread that starts it), for the unload statistics. */
void rs_spawn_stats(unsigned long long *count, unsigned long long *total_ns);

/*
 * Starts `script` with argv {script, hook} and `envp`. On failure logs why, sets
 * `job->outcome` to RS_OUTCOME_NOT_RUN, leaves nothing to release, and returns -errno.
 * `timeout_ms` 0 means no limit.
 */
int rs_job_start(struct rs_job *job, const char *script, const char *hook, char *const envp[],
                 unsigned timeout_ms, const struct rs_logger *log);

/*
 * Starts `script` as a persistent worker: argv {script, "worker"}, stdin a socket (child.in_fd),
 * stdout left to the caller (child.out_fd: the worker's answers), stderr logged by the job.
 * No deadline. Same failure behaviour as rs_job_start().
 */
int rs_job_start_worker(struct rs_job *job, const char *script, char *const envp[],
                        const struct rs_logger *log);

/* Logs what the job's stderr holds now, without waiting. */
void rs_job_read_stderr(struct rs_job *job);

/* Fills up to 3 pollfds; returns how many. */
int rs_job_pollfds(const struct rs_job *job, struct pollfd *fds);

/* Handles poll results (fds as filled by rs_job_pollfds, or NULL for a timer tick). Reads output,
 * reaps, applies the deadline. Returns true once the job is done (its end has been logged). */
bool rs_job_step(struct rs_job *job, const struct pollfd *fds, int nfds);

/* Milliseconds until the job needs a step even without I/O (-1: no deadline). */
int rs_job_poll_timeout(const struct rs_job *job);

/*
 * Runs the job in the calling thread until it ends. With `stop_at_deadline`, returns as soon as
 * its deadline passes: it has then been sent SIGTERM, and the caller must hand it to a supervisor
 * to finish. Returns true when the job is done.
 */
bool rs_job_wait(struct rs_job *job, bool stop_at_deadline);

/* Kills (SIGKILL to its group) and reaps a job still running, e.g. at shutdown. */
void rs_job_abort(struct rs_job *job);

/* Releases everything the job holds. The job must be done. */
void rs_job_release(struct rs_job *job);

#endif
