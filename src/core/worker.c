#include "worker.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RS_WORKER_RESTART_INTERVAL_MS 1000
/* An answer is a short integer; a line longer than this is a broken protocol. */
#define RS_WORKER_MAX_ANSWER 256
#define RS_WORKER_MAX_BATCH  256
/* A worker whose end of a pipe closed is given this long to be seen exiting: the kernel closes
 * a dying process's descriptors before it makes it a zombie and wakes its pidfd. */
#define RS_WORKER_EXIT_WAIT_MS 500
/* How often a delivery that waits looks whether unload gave up on it. */
#define RS_WORKER_GIVE_UP_CHECK_MS 100

struct rs_worker {
    char *script;
    enum rs_format format;
    unsigned timeout_ms;
    int nice;
    char **envp;
    struct rs_supervisor *supervisor;
    const struct rs_logger *log;
    pthread_mutex_t lock; /* one event in flight */
    struct rs_job *job;   /* NULL while no worker runs */
    _Atomic int pid;      /* job's, for readers that must not wait for `lock` */
    struct rs_run_counters *counters;
    int64_t last_start_ms;
    _Atomic int64_t give_up_ms; /* 0, or when patient deliveries stop retrying (unload) */
    struct rs_buf frame, answer;
};

/* How an attempt at a delivery ended. All but OK and DIED leave a live worker to be ended. */
enum failure { OK, DIED, TIMED_OUT, GARBLED, CLOSED_STDIN, CLOSED_STDOUT, UNFRAMED };

/* What the log says of a worker that is restarted for `why`. */
static const char *failure_text(enum failure why)
{
    switch (why) {
    case DIED:
        return "the worker exited";
    case TIMED_OUT:
        return "no answer within its timeout";
    case GARBLED:
        return "answered something else than an integer line";
    case CLOSED_STDIN:
        return "closed its stdin but goes on running";
    case CLOSED_STDOUT:
        return "closed its stdout but goes on running";
    default:
        return "could not be sent an event (out of memory)";
    }
}

static char **copy_strings(char *const *src)
{
    size_t n = 0;
    while (src && src[n])
        n++;
    char **copy = calloc(n + 1, sizeof(*copy));
    for (size_t i = 0; copy && i < n; i++)
        if (!(copy[i] = strdup(src[i]))) {
            while (i-- > 0)
                free(copy[i]);
            free(copy);
            return NULL;
        }
    return copy;
}

static void free_strings(char **strings)
{
    for (size_t i = 0; strings && strings[i]; i++)
        free(strings[i]);
    free(strings);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Starts the worker process if none runs. Returns 0, -EAGAIN (too soon after the last start and
 * not patient), or -errno (logged by the job). */
static int ensure_running(struct rs_worker *w, bool patient)
{
    if (w->job)
        return 0;
    int64_t wait = w->last_start_ms + RS_WORKER_RESTART_INTERVAL_MS - rs_now_ms();
    if (w->last_start_ms && wait > 0) {
        if (!patient)
            return -EAGAIN;
        sleep_ms(wait);
    }
    struct rs_job *job = malloc(sizeof(*job));
    if (!job)
        return -ENOMEM;
    w->last_start_ms = rs_now_ms();
    int rc = rs_job_start_worker(job, w->script, w->envp, w->log);
    rs_run_counters_started(w->counters, rc, w->script);
    if (rc) {
        free(job);
        return rc;
    }
    /* Whichever thread starts it (Kea's at load, a lane thread after a restart), the worker
     * gets the same priority. */
    setpriority(PRIO_PROCESS, (id_t)job->child.pid, w->nice);
    w->job = job;
    atomic_store(&w->pid, (int)job->child.pid);
    w->answer.len = 0;
    return 0;
}

/* Ends the worker after a failure: a dead one is reaped here; a live one (hung or broken) gets
 * SIGTERM and goes to the supervisor, which kills it for good after the grace and reaps it. */
static void discard_worker(struct rs_worker *w, enum failure why)
{
    struct rs_job *job = w->job;
    w->job = NULL;
    atomic_store(&w->pid, 0);
    if (w->counters) {
        atomic_fetch_add_explicit(&w->counters->worker_restarts, 1, memory_order_relaxed);
        if (why == TIMED_OUT)
            atomic_fetch_add_explicit(&w->counters->killed, 1, memory_order_relaxed);
        rs_run_counters_error(w->counters, "worker: %s", failure_text(why));
    }
    if (why == DIED) {
        rs_job_wait(job, false); /* it has exited: this only reaps it and logs how it ended */
        rs_job_release(job);
        free(job);
        return;
    }
    rs_log(w->log, why == TIMED_OUT ? RS_MSG_TIMEOUT : RS_MSG_WORKER_PROTOCOL,
           "%s (worker): %s; restarting it", w->script, failure_text(why));
    rs_child_kill_group(&job->child, SIGTERM);
    job->state = RS_JOB_TERMINATING;
    job->outcome = RS_OUTCOME_FAILED;
    job->deadline_ms = rs_now_ms() + RS_JOB_KILL_GRACE_MS;
    rs_supervisor_adopt(w->supervisor, job);
}

static int poll_timeout(int64_t deadline)
{
    if (!deadline)
        return -1;
    int64_t left = deadline - rs_now_ms();
    return left <= 0 ? 0 : (int)(left > 60000 ? 60000 : left);
}

/* The deadline of a delivery under way, brought forward by rs_worker_give_up() if that came
 * since it began: unload must not wait for a worker that does not answer. */
static int64_t effective_deadline(struct rs_worker *w, int64_t deadline)
{
    int64_t give_up = atomic_load(&w->give_up_ms);
    return give_up && (!deadline || give_up < deadline) ? give_up : deadline;
}

/* Waits for `events` on `fd` while logging the worker's stderr. Returns OK, DIED or TIMED_OUT. */
static enum failure wait_for(struct rs_worker *w, int fd, short events, int64_t deadline)
{
    struct rs_job *job = w->job;
    for (;;) {
        struct pollfd fds[3] = {
            {fd, events, 0}, {job->err.fd, POLLIN, 0}, {job->child.pidfd, POLLIN, 0}};
        /* Awake now and then to see whether unload gave up meanwhile. */
        int64_t until = effective_deadline(w, deadline);
        int timeout = poll_timeout(until);
        if (timeout < 0 || timeout > RS_WORKER_GIVE_UP_CHECK_MS)
            timeout = RS_WORKER_GIVE_UP_CHECK_MS;
        int rc = poll(fds, 3, timeout);
        if (rc < 0 && errno != EINTR)
            return DIED;
        if (fds[1].revents)
            rs_job_read_stderr(job);
        if (fds[0].revents)
            return OK;
        if (fds[2].revents)
            return DIED;
        /* Checked on every turn: a worker chatting on stderr must not push its deadline back. */
        if (until && rs_now_ms() >= until)
            return TIMED_OUT;
    }
}

/* Whether the worker has exited (reaped or not), without reaping it. */
static bool has_exited(const struct rs_child *child)
{
    if (child->pidfd >= 0) {
        struct pollfd exited = {child->pidfd, POLLIN, 0};
        return poll(&exited, 1, 0) == 1;
    }
    siginfo_t info = {0};
    int rc;
    do
        rc = waitid(P_PID, (id_t)child->pid, &info, WEXITED | WNOHANG | WNOWAIT);
    while (rc < 0 && errno == EINTR);
    return rc < 0 || info.si_pid == child->pid; /* ECHILD: reaped elsewhere, so it ended */
}

/* The worker closed its stdin or stdout: DIED once it is seen exiting, `if_alive` if it lives on
 * (it must then be terminated, not waited for). */
static enum failure closed_on_us(struct rs_worker *w, int64_t deadline, enum failure if_alive)
{
    int64_t end = rs_now_ms() + RS_WORKER_EXIT_WAIT_MS;
    if (deadline && deadline < end)
        end = deadline;
    for (;;) {
        if (has_exited(&w->job->child))
            return DIED;
        int64_t left = end - rs_now_ms();
        if (left <= 0)
            return if_alive;
        if (w->job->child.pidfd >= 0) {
            struct pollfd exited = {w->job->child.pidfd, POLLIN, 0};
            poll(&exited, 1, (int)left);
        } else {
            sleep_ms(left < 5 ? left : 5);
        }
    }
}

static enum failure send_frame(struct rs_worker *w, int64_t deadline)
{
    size_t sent = 0;
    while (sent < w->frame.len) {
        ssize_t n = send(w->job->child.in_fd, w->frame.data + sent, w->frame.len - sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return closed_on_us(w, deadline, CLOSED_STDIN); /* EPIPE: it closed stdin or exited */
        enum failure f = wait_for(w, w->job->child.in_fd, POLLOUT, deadline);
        if (f != OK)
            return f;
    }
    return OK;
}

/* Appends what stdout holds now. Returns false at EOF or on error. */
static bool read_stdout(struct rs_worker *w)
{
    char buf[512];
    for (;;) {
        ssize_t n = read(w->job->child.out_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        if (n <= 0)
            return false;
        struct rs_buf *a = &w->answer;
        if (a->len + (size_t)n + 1 > a->alloc) {
            char *data = realloc(a->data, a->len + (size_t)n + 1);
            if (!data)
                return false;
            a->data = data;
            a->alloc = a->len + (size_t)n + 1;
        }
        memcpy(a->data + a->len, buf, (size_t)n);
        a->len += (size_t)n;
        if (a->len > RS_WORKER_MAX_ANSWER)
            return true;
    }
}

/* Takes the first whole line of what the worker answered, if there is one. Returns 1 (the line
 * was an answer, in *code), 0 (no whole line yet) or -1 (a line that is no answer). */
static int take_line(struct rs_worker *w, int *code)
{
    char *nl = w->answer.len ? memchr(w->answer.data, '\n', w->answer.len) : NULL;
    if (!nl)
        return 0;
    size_t line = (size_t)(nl - w->answer.data);
    int rc = rs_frame_parse_answer(w->answer.data, line, code);
    memmove(w->answer.data, nl + 1, w->answer.len - line - 1);
    w->answer.len -= line + 1;
    return rc ? -1 : 1;
}

static enum failure read_answer(struct rs_worker *w, int64_t deadline, int *code)
{
    for (;;) {
        int taken = take_line(w, code);
        if (taken)
            return taken > 0 ? OK : GARBLED;
        if (w->answer.len > RS_WORKER_MAX_ANSWER)
            return GARBLED;
        bool open = read_stdout(w);
        if (w->answer.len && memchr(w->answer.data, '\n', w->answer.len))
            continue;
        if (!open)
            return closed_on_us(w, deadline, CLOSED_STDOUT);
        enum failure f = wait_for(w, w->job->child.out_fd, POLLIN, deadline);
        if (f == DIED) {
            /* It may have answered just before exiting. */
            read_stdout(w);
            if (w->answer.len && memchr(w->answer.data, '\n', w->answer.len))
                continue;
        }
        if (f != OK)
            return f;
    }
}

/* The answers the worker has already written, without waiting: advances *done past each. */
static void take_answers(struct rs_worker *w, size_t count, size_t *done, int *codes)
{
    while (*done < count) {
        int taken = take_line(w, &codes[*done]);
        if (taken < 0)
            return;
        if (taken > 0) {
            (*done)++;
            continue;
        }
        /* read_stdout() stops at a line's worth: read on while it brings lines. */
        size_t had = w->answer.len;
        read_stdout(w);
        if (w->answer.len == had || !memchr(w->answer.data, '\n', w->answer.len))
            return;
    }
}

/* One attempt at events [*done, count): sends their frames in one go, then reads the answers,
 * advancing *done past each event answered. `codes` receives the answers. */
static enum failure attempt(struct rs_worker *w, const char *const hooks[],
                            char *const *const envps[], size_t count, size_t *done,
                            int64_t deadline, int *codes)
{
    w->job->lines_logged = 0; /* the output limit is per delivery */
    w->frame.len = 0;
    for (size_t i = *done; i < count; i++)
        if (rs_frame_encode(w->format, hooks[i], envps[i], &w->frame) != 0)
            return UNFRAMED;
    enum failure f = send_frame(w, deadline);
    while (f == OK && *done < count) {
        f = read_answer(w, deadline, &codes[*done]);
        if (f == OK)
            (*done)++;
    }
    /* Sending failed (the worker died, or hung, with the batch half sent): what it answered
     * before is in its stdout, and those events were delivered. */
    if (f != OK)
        take_answers(w, count, done, codes);
    rs_job_read_stderr(w->job);
    return f;
}

/* True once rs_worker_give_up() set a time and it has come. */
static bool giving_up(struct rs_worker *w)
{
    int64_t at = atomic_load(&w->give_up_ms);
    return at && rs_now_ms() >= at;
}

/* Delivers events until all are answered or, when not patient, the first failure. Returns the
 * failure that ended it (OK when all were answered). Called with the lock held. */
static enum failure deliver(struct rs_worker *w, const char *const hooks[],
                            char *const *const envps[], size_t count, bool patient, int *codes,
                            size_t *done)
{
    /* Kea waits: one timeout in all, retries included. */
    int64_t deadline = !patient && w->timeout_ms ? rs_now_ms() + w->timeout_ms : 0;
    bool again = false;
    *done = 0;
    for (;;) {
        /* Patient delivery retries for as long as it takes, except when unload needs the
         * thread back: the events left are then reported as undelivered by the caller. */
        if (patient && giving_up(w))
            return DIED;
        if (ensure_running(w, patient) != 0) {
            if (!patient)
                return DIED;
            sleep_ms(RS_WORKER_RESTART_INTERVAL_MS); /* cannot start it: retry, lose nothing */
            continue;
        }
        if (again)
            rs_log(w->log, RS_MSG_WORKER_RESTART,
                   "%s (%s): delivering %zu unanswered events again to a new worker", w->script,
                   hooks[*done], count - *done);
        int64_t attempt_deadline = deadline;
        if (patient)
            attempt_deadline =
                effective_deadline(w, w->timeout_ms ? rs_now_ms() + w->timeout_ms : 0);
        enum failure f = attempt(w, hooks, envps, count, done, attempt_deadline, codes);
        if (f == OK)
            return OK;
        discard_worker(w, f);
        if (!patient && (f == TIMED_OUT || again || (deadline && rs_now_ms() >= deadline)))
            return f;
        again = true;
    }
}

static void log_answer(struct rs_worker *w, const char *hook, int code)
{
    if (code == 0)
        return;
    rs_log(w->log, RS_MSG_WORKER_ANSWER, "%s (%s): answered %d", w->script, hook, code);
    rs_run_counters_error(w->counters, "%s: the worker answered %d", hook, code);
}

int rs_worker_start(struct rs_worker **out, const struct rs_worker_config *config,
                    struct rs_supervisor *supervisor, const struct rs_logger *log)
{
    struct rs_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->script = strdup(config->script);
    w->envp = copy_strings(config->envp);
    if (!w->script || !w->envp) {
        free(w->script);
        free_strings(w->envp);
        free(w);
        return -ENOMEM;
    }
    w->format = config->format;
    w->timeout_ms = config->timeout_ms;
    w->nice = config->nice;
    w->counters = config->counters;
    w->supervisor = supervisor;
    w->log = log;
    pthread_mutex_init(&w->lock, NULL);
    /* Start it now, so an interpreter is warm before the first packet. A failure is logged and
     * retried at the first event. */
    ensure_running(w, false);
    *out = w;
    return 0;
}

enum rs_outcome rs_worker_deliver(struct rs_worker *w, const char *hook, char *const envp[],
                                  bool patient)
{
    int code = 0;
    size_t done;
    pthread_mutex_lock(&w->lock);
    bool started = w->job || ensure_running(w, patient) == 0;
    enum failure f =
        started ? deliver(w, &hook, (char *const *const[]){envp}, 1, patient, &code, &done) : DIED;
    pthread_mutex_unlock(&w->lock);
    if (!started)
        return RS_OUTCOME_NOT_RUN;
    if (f == TIMED_OUT)
        return RS_OUTCOME_TIMEOUT;
    if (f != OK)
        return RS_OUTCOME_FAILED;
    log_answer(w, hook, code);
    return code == 0 ? RS_OUTCOME_SUCCESS : RS_OUTCOME_FAILED;
}

size_t rs_worker_deliver_batch(struct rs_worker *w, const char *const hooks[],
                               char *const *const envps[], size_t count, const char **failure)
{
    int codes[RS_WORKER_MAX_BATCH];
    size_t done = 0;
    *failure = NULL;
    if (count > RS_WORKER_MAX_BATCH)
        count = RS_WORKER_MAX_BATCH;
    pthread_mutex_lock(&w->lock);
    if (!giving_up(w) && ensure_running(w, true) == 0) {
        int64_t deadline = effective_deadline(w, w->timeout_ms ? rs_now_ms() + w->timeout_ms : 0);
        enum failure f = attempt(w, hooks, envps, count, &done, deadline, codes);
        if (f != OK) {
            discard_worker(w, f);
            /* Cut short by unload: no fault of the event, which waits for the next start. */
            if (!giving_up(w))
                *failure = failure_text(f);
        }
        for (size_t i = 0; i < done; i++)
            log_answer(w, hooks[i], codes[i]);
    }
    pthread_mutex_unlock(&w->lock);
    return done;
}

void rs_worker_give_up(struct rs_worker *w, int64_t deadline_ms)
{
    atomic_store(&w->give_up_ms, deadline_ms ? deadline_ms : 1);
}

int rs_worker_pid(const struct rs_worker *w)
{
    return atomic_load(&w->pid);
}

void rs_worker_stop(struct rs_worker *w, unsigned grace_ms)
{
    pthread_mutex_lock(&w->lock);
    struct rs_job *job = w->job;
    w->job = NULL;
    atomic_store(&w->pid, 0);
    pthread_mutex_unlock(&w->lock);
    if (job) {
        /* EOF on stdin is the polite request to finish. */
        shutdown(job->child.in_fd, SHUT_WR);
        job->deadline_ms = rs_now_ms() + grace_ms;
        job->outcome = RS_OUTCOME_SUCCESS;
        /* It ends by itself, or rs_job_wait's deadline sends SIGTERM, then SIGKILL. */
        rs_job_wait(job, false);
        rs_job_release(job);
        free(job);
    }
    pthread_mutex_destroy(&w->lock);
    rs_buf_release(&w->frame);
    rs_buf_release(&w->answer);
    free_strings(w->envp);
    free(w->script);
    free(w);
}
