#include "supervisor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct rs_supervisor {
    pthread_t thread;
    pthread_mutex_t lock;
    int wake_fd;
    const struct rs_logger *log;
    /* Guarded by `lock`. New jobs go to `incoming`; only the thread touches `jobs`. */
    struct rs_job **incoming;
    size_t nr_incoming, alloc_incoming;
    unsigned nr_total;
    int64_t drain_deadline_ms; /* 0 while running; set by stop */
    bool stopping;
    /* Thread-local to the supervisor thread. */
    struct rs_job **jobs;
    size_t nr_jobs, alloc_jobs;
};

static int grow(struct rs_job ***items, size_t *alloc, size_t need)
{
    if (need <= *alloc)
        return 0;
    size_t n = *alloc ? *alloc * 2 : 16;
    while (n < need)
        n *= 2;
    struct rs_job **p = realloc(*items, n * sizeof(*p));
    if (!p)
        return -ENOMEM;
    *items = p;
    *alloc = n;
    return 0;
}

static void wake(struct rs_supervisor *sup)
{
    uint64_t one = 1;
    ssize_t rc;
    do
        rc = write(sup->wake_fd, &one, sizeof(one));
    while (rc < 0 && errno == EINTR);
}

static void finish_job(struct rs_supervisor *sup, size_t i)
{
    rs_job_release(sup->jobs[i]);
    free(sup->jobs[i]);
    sup->jobs[i] = sup->jobs[--sup->nr_jobs];
    pthread_mutex_lock(&sup->lock);
    sup->nr_total--;
    pthread_mutex_unlock(&sup->lock);
}

/* Moves adopted jobs into the thread's own list. Returns false when it is time to stop. */
static bool take_incoming(struct rs_supervisor *sup, int64_t *drain_deadline)
{
    pthread_mutex_lock(&sup->lock);
    bool stopping = sup->stopping;
    *drain_deadline = sup->drain_deadline_ms;
    if (grow(&sup->jobs, &sup->alloc_jobs, sup->nr_jobs + sup->nr_incoming) == 0) {
        for (size_t i = 0; i < sup->nr_incoming; i++)
            sup->jobs[sup->nr_jobs++] = sup->incoming[i];
        sup->nr_incoming = 0;
    }
    pthread_mutex_unlock(&sup->lock);
    return !(stopping && sup->nr_jobs == 0);
}

static void *supervise(void *arg)
{
    struct rs_supervisor *sup = arg;
    pthread_setname_np(pthread_self(), "runscript-sup");
    struct pollfd *fds = NULL;
    size_t alloc_fds = 0;
    int64_t drain_deadline = 0;

    while (take_incoming(sup, &drain_deadline)) {
        size_t need = 1 + 3 * sup->nr_jobs;
        if (need > alloc_fds) {
            struct pollfd *p = realloc(fds, need * sizeof(*p));
            if (p) {
                fds = p;
                alloc_fds = need;
            }
        }
        if (drain_deadline && rs_now_ms() >= drain_deadline) {
            for (size_t i = sup->nr_jobs; i-- > 0;) {
                rs_job_abort(sup->jobs[i]);
                finish_job(sup, i);
            }
            continue;
        }
        int timeout = -1;
        nfds_t n = 0;
        if (alloc_fds) {
            fds[n++] = (struct pollfd){sup->wake_fd, POLLIN, 0};
            for (size_t i = 0; i < sup->nr_jobs && n + 3 <= alloc_fds; i++) {
                n += (nfds_t)rs_job_pollfds(sup->jobs[i], fds + n);
                int t = rs_job_poll_timeout(sup->jobs[i]);
                if (t >= 0 && (timeout < 0 || t < timeout))
                    timeout = t;
            }
        } else {
            timeout = 20; /* no memory for a pollfd array: tick instead */
        }
        if (drain_deadline) {
            int64_t left = drain_deadline - rs_now_ms();
            int t = left < 0 ? 0 : (int)left;
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
        int rc = poll(fds, n, timeout);
        if (rc < 0)
            rc = 0;
        if (rc > 0 && fds[0].revents) {
            uint64_t count;
            ssize_t ignored = read(sup->wake_fd, &count, sizeof(count));
            (void)ignored;
        }
        /* Step every job, in the order their fds were laid out: those without I/O may have a
         * deadline, or no pidfd to wait on. Finished jobs are removed afterwards, since removal
         * reorders the list. */
        size_t base = 1;
        for (size_t i = 0; i < sup->nr_jobs; i++) {
            struct pollfd mine[3];
            int k = rs_job_pollfds(sup->jobs[i], mine);
            const struct pollfd *theirs = (rc > 0 && base + (size_t)k <= n) ? fds + base : NULL;
            base += (size_t)k;
            rs_job_step(sup->jobs[i], theirs, theirs ? k : 0);
        }
        for (size_t i = sup->nr_jobs; i-- > 0;)
            if (sup->jobs[i]->state == RS_JOB_DONE)
                finish_job(sup, i);
    }
    free(fds);
    return NULL;
}

int rs_supervisor_start(struct rs_supervisor **out, const struct rs_logger *log)
{
    struct rs_supervisor *sup = calloc(1, sizeof(*sup));
    if (!sup)
        return -ENOMEM;
    sup->log = log;
    sup->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sup->wake_fd < 0) {
        int rc = -errno;
        free(sup);
        return rc;
    }
    pthread_mutex_init(&sup->lock, NULL);
    int rc = -pthread_create(&sup->thread, NULL, supervise, sup);
    if (rc) {
        close(sup->wake_fd);
        pthread_mutex_destroy(&sup->lock);
        free(sup);
        return rc;
    }
    *out = sup;
    return 0;
}

void rs_supervisor_adopt(struct rs_supervisor *sup, struct rs_job *job)
{
    pthread_mutex_lock(&sup->lock);
    int rc = grow(&sup->incoming, &sup->alloc_incoming, sup->nr_incoming + 1);
    if (rc == 0) {
        sup->incoming[sup->nr_incoming++] = job;
        sup->nr_total++;
    }
    pthread_mutex_unlock(&sup->lock);
    if (rc == 0) {
        wake(sup);
        return;
    }
    /* No memory to queue it: finish it here rather than leave a zombie behind. */
    rs_job_wait(job, false);
    rs_job_release(job);
    free(job);
}

unsigned rs_supervisor_jobs(struct rs_supervisor *sup)
{
    pthread_mutex_lock(&sup->lock);
    unsigned n = sup->nr_total;
    pthread_mutex_unlock(&sup->lock);
    return n;
}

void rs_supervisor_stop(struct rs_supervisor *sup, unsigned drain_ms)
{
    pthread_mutex_lock(&sup->lock);
    sup->stopping = true;
    sup->drain_deadline_ms = rs_now_ms() + drain_ms;
    pthread_mutex_unlock(&sup->lock);
    wake(sup);
    pthread_join(sup->thread, NULL);
    close(sup->wake_fd);
    pthread_mutex_destroy(&sup->lock);
    free(sup->incoming);
    free(sup->jobs);
    free(sup);
}
