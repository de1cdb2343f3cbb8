#include "job.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Without a pidfd (kernels before 5.3) the job polls for the child's exit this often. */
#define RS_JOB_REAP_POLL_MS 20

static _Atomic unsigned long long spawn_count, spawn_ns;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rs_spawn_stats(unsigned long long *count, unsigned long long *total_ns)
{
    *count = spawn_count;
    *total_ns = spawn_ns;
}

int64_t rs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stream_init(struct rs_stream *s, int fd, enum rs_msg msg)
{
    s->fd = fd;
    s->msg = msg;
    s->len = 0;
}

/* A log line must stay one line and plain text, whatever bytes a script prints (it may echo a
 * client's hostname): control bytes and non-ASCII become \xHH. */
static void emit_line(struct rs_job *job, struct rs_stream *s)
{
    if (job->lines_logged >= RS_JOB_MAX_LINES) {
        job->lines_suppressed++;
        s->len = 0;
        return;
    }
    char text[RS_JOB_LINE_MAX * 4 + 1];
    size_t n = 0;
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->line[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            text[n++] = (char)c;
        } else {
            static const char hex[] = "0123456789abcdef";
            text[n++] = '\\';
            text[n++] = 'x';
            text[n++] = hex[c >> 4];
            text[n++] = hex[c & 15];
        }
    }
    text[n] = '\0';
    job->lines_logged++;
    rs_log(job->log, s->msg, "%s (%s): %s", job->script, job->hook, text);
    s->len = 0;
}

/* Reads per turn while the job runs, and once it has exited (to take what it wrote last). */
enum { STREAM_READS = 16, STREAM_READS_AT_EXIT = 256 };

/* Reads what is there now, up to `max_reads` reads; returns after EAGAIN or EOF (then closes
 * the stream). */
static void stream_read(struct rs_job *job, struct rs_stream *s, int max_reads)
{
    char buf[4096];
    /* A bounded number of reads per call: a script (or a grandchild holding the pipe) that never
     * stops writing must not keep its caller here past a deadline. */
    for (int reads = 0; s->fd >= 0 && reads < max_reads; reads++) {
        ssize_t got = read(s->fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0 || errno != EAGAIN) {
                if (s->len)
                    emit_line(job, s);
                close(s->fd);
                s->fd = -1;
            }
            return;
        }
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] == '\n') {
                emit_line(job, s);
                continue;
            }
            /* A full buffer goes out only once the line proves longer: a line of exactly
             * RS_JOB_LINE_MAX bytes must not be followed by an empty one. */
            if (s->len == sizeof(s->line))
                emit_line(job, s);
            s->line[s->len++] = buf[i];
        }
    }
}

static void log_exec_failure(const struct rs_logger *log, const char *script, const char *hook,
                             int rc)
{
    char interpreter[200];
    struct stat st;
    /* ENOENT for a script that exists: its interpreter is the missing file; name it. */
    if (rc == -ENOENT && stat(script, &st) == 0 &&
        rs_script_interpreter(script, interpreter, sizeof(interpreter)))
        rs_log(log, RS_MSG_EXEC_FAILED, "%s (%s): cannot execute: %s (%s)", script, hook,
               rs_spawn_strerror(rc, script), interpreter);
    else
        rs_log(log, RS_MSG_EXEC_FAILED, "%s (%s): cannot execute: %s", script, hook,
               rs_spawn_strerror(rc, script));
}

static int job_start(struct rs_job *job, const char *script, const char *hook, char *const envp[],
                     unsigned timeout_ms, bool worker, const struct rs_logger *log)
{
    memset(job, 0, sizeof(*job));
    job->child = (struct rs_child)RS_CHILD_INIT;
    job->out.fd = job->err.fd = -1;
    job->log = log;
    job->outcome = RS_OUTCOME_NOT_RUN;
    job->state = RS_JOB_DONE;
    char *const argv[] = {(char *)script, (char *)hook, NULL};
    int64_t started = now_ns();
    int rc = worker ? rs_spawn_fed(script, argv, envp, &job->child)
                    : rs_spawn(script, argv, envp, &job->child);
    spawn_ns += (unsigned long long)(now_ns() - started);
    spawn_count++;
    if (rc) {
        if (rc == -ENOMEM || rc == -EAGAIN)
            rs_log(log, RS_MSG_SPAWN_FAILED, "%s (%s): cannot start a process: %s", script, hook,
                   strerror(-rc));
        else
            log_exec_failure(log, script, hook, rc);
        return rc;
    }
    job->script = strdup(script);
    job->hook = strdup(hook);
    if (!job->script || !job->hook) {
        /* Too little memory to report on it later: end it now rather than lose track. */
        rs_child_kill_group(&job->child, SIGKILL);
        struct rs_exit ex;
        rs_child_reap(&job->child, true, &ex);
        rs_child_close(&job->child);
        free(job->script);
        free(job->hook);
        rs_log(log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory", script, hook);
        return -ENOMEM;
    }
    job->state = RS_JOB_RUNNING;
    job->outcome = RS_OUTCOME_SUCCESS;
    job->deadline_ms = timeout_ms ? rs_now_ms() + timeout_ms : 0;
    /* The streams own these descriptors now; a worker's stdout stays with its caller. */
    stream_init(&job->out, worker ? -1 : job->child.out_fd, RS_MSG_STDOUT);
    stream_init(&job->err, job->child.err_fd, RS_MSG_STDERR);
    if (!worker)
        job->child.out_fd = -1;
    job->child.err_fd = -1;
    rs_log(log, RS_MSG_SCRIPT_STARTED, "%s (%s): started, pid %d", script, hook,
           (int)job->child.pid);
    return 0;
}

int rs_job_start(struct rs_job *job, const char *script, const char *hook, char *const envp[],
                 unsigned timeout_ms, const struct rs_logger *log)
{
    return job_start(job, script, hook, envp, timeout_ms, false, log);
}

int rs_job_start_worker(struct rs_job *job, const char *script, char *const envp[],
                        const struct rs_logger *log)
{
    return job_start(job, script, "worker", envp, 0, true, log);
}

void rs_job_read_stderr(struct rs_job *job)
{
    stream_read(job, &job->err, STREAM_READS);
}

int rs_job_pollfds(const struct rs_job *job, struct pollfd *fds)
{
    int n = 0;
    if (job->child.pidfd >= 0 && job->child.pid > 0)
        fds[n++] = (struct pollfd){job->child.pidfd, POLLIN, 0};
    if (job->out.fd >= 0)
        fds[n++] = (struct pollfd){job->out.fd, POLLIN, 0};
    if (job->err.fd >= 0)
        fds[n++] = (struct pollfd){job->err.fd, POLLIN, 0};
    return n;
}

int rs_job_poll_timeout(const struct rs_job *job)
{
    int timeout = -1;
    if (job->deadline_ms) {
        int64_t left = job->deadline_ms - rs_now_ms();
        timeout = left < 0 ? 0 : (left > 60000 ? 60000 : (int)left);
    }
    if (job->child.pidfd < 0 && (timeout < 0 || timeout > RS_JOB_REAP_POLL_MS))
        timeout = RS_JOB_REAP_POLL_MS;
    return timeout;
}

static void log_end(struct rs_job *job, const struct rs_exit *ex)
{
    if (job->lines_suppressed)
        rs_log(job->log, RS_MSG_OUTPUT_SUPPRESSED,
               "%s (%s): %u more lines of output were not logged", job->script, job->hook,
               job->lines_suppressed);
    if (job->outcome == RS_OUTCOME_TIMEOUT)
        return; /* already said when the deadline passed */
    job->exit_code = ex->kind == RS_STATUS_LOST ? -1 : ex->code;
    switch (ex->kind) {
    case RS_EXITED:
        if (ex->code == 0) {
            rs_log(job->log, RS_MSG_SCRIPT_DONE, "%s (%s): exited with status 0", job->script,
                   job->hook);
        } else {
            job->outcome = RS_OUTCOME_FAILED;
            rs_log(job->log, RS_MSG_EXIT_STATUS, "%s (%s): exited with status %d", job->script,
                   job->hook, ex->code);
        }
        break;
    case RS_SIGNALED:
        job->outcome = RS_OUTCOME_FAILED;
        job->signaled = true;
        rs_log(job->log, RS_MSG_KILLED_BY_SIGNAL, "%s (%s): killed by signal %d (%s)", job->script,
               job->hook, ex->code, strsignal(ex->code));
        break;
    case RS_STATUS_LOST:
        job->outcome = RS_OUTCOME_FAILED;
        rs_log(job->log, RS_MSG_STATUS_LOST,
               "%s (%s): ended, but another part of Kea collected its exit status", job->script,
               job->hook);
        break;
    }
}

static void on_deadline(struct rs_job *job)
{
    if (job->state == RS_JOB_RUNNING) {
        job->outcome = RS_OUTCOME_TIMEOUT;
        rs_log(job->log, RS_MSG_TIMEOUT,
               "%s (%s): still running at its timeout; sending SIGTERM to its process group",
               job->script, job->hook);
        rs_child_kill_group(&job->child, SIGTERM);
        job->state = RS_JOB_TERMINATING;
        job->deadline_ms = rs_now_ms() + RS_JOB_KILL_GRACE_MS;
    } else {
        rs_log(job->log, RS_MSG_TIMEOUT, "%s (%s): ignored SIGTERM; sending SIGKILL", job->script,
               job->hook);
        rs_child_kill_group(&job->child, SIGKILL);
        job->deadline_ms = 0;
    }
}

bool rs_job_step(struct rs_job *job, const struct pollfd *fds, int nfds)
{
    bool exited = (job->child.pidfd < 0);
    for (int i = 0; i < nfds; i++) {
        if (!fds[i].revents)
            continue;
        if (fds[i].fd == job->child.pidfd)
            exited = true;
        else if (fds[i].fd == job->out.fd)
            stream_read(job, &job->out, STREAM_READS);
        else if (fds[i].fd == job->err.fd)
            stream_read(job, &job->err, STREAM_READS);
    }
    struct rs_exit ex;
    if (exited && job->child.pid > 0 && rs_child_reap(&job->child, false, &ex) == 0) {
        /* Take what is already written; do not wait for EOF, which a daemonised grandchild
         * holding the pipe could delay forever. */
        stream_read(job, &job->out, STREAM_READS_AT_EXIT);
        stream_read(job, &job->err, STREAM_READS_AT_EXIT);
        if (job->out.len)
            emit_line(job, &job->out);
        if (job->err.len)
            emit_line(job, &job->err);
        job->state = RS_JOB_DONE;
        log_end(job, &ex);
        return true;
    }
    if (job->deadline_ms && rs_now_ms() >= job->deadline_ms)
        on_deadline(job);
    return false;
}

bool rs_job_wait(struct rs_job *job, bool stop_at_deadline)
{
    while (job->state == RS_JOB_RUNNING || (!stop_at_deadline && job->state != RS_JOB_DONE)) {
        struct pollfd fds[3];
        int n = rs_job_pollfds(job, fds);
        int rc = poll(fds, (nfds_t)n, rs_job_poll_timeout(job));
        if (rc < 0 && errno != EINTR)
            rc = 0; /* cannot happen with valid fds; fall back to a timer tick */
        if (rs_job_step(job, fds, rc > 0 ? n : 0))
            return true;
    }
    return job->state == RS_JOB_DONE;
}

void rs_job_abort(struct rs_job *job)
{
    if (job->state == RS_JOB_DONE)
        return;
    rs_log(job->log, RS_MSG_SHUTDOWN_KILL, "%s (%s): still running at unload; killed", job->script,
           job->hook);
    rs_child_kill_group(&job->child, SIGKILL);
    struct rs_exit ex;
    rs_child_reap(&job->child, true, &ex);
    job->outcome = RS_OUTCOME_FAILED;
    job->state = RS_JOB_DONE;
}

void rs_job_release(struct rs_job *job)
{
    rs_child_close(&job->child);
    if (job->out.fd >= 0)
        close(job->out.fd);
    if (job->err.fd >= 0)
        close(job->err.fd);
    job->out.fd = job->err.fd = -1;
    free(job->script);
    free(job->hook);
    job->script = job->hook = NULL;
}
