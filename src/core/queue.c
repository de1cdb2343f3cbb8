#include "queue.h"
#include "job.h"
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* How many undelivered events stop() lists one by one before it only counts them. */
#define RS_QUEUE_MAX_UNDELIVERED_LOGGED 20

struct item {
    const char *hook;
    void *payload;
    int64_t queued_ms;  /* when it was pushed */
    uint64_t lanes;     /* the lanes this event occupies */
    unsigned home_lane; /* the lane whose thread runs it */
    bool running;
};

/* A ring of the items occupying one lane, oldest first. */
struct lane {
    struct item **ring;
    unsigned head, len;
    pthread_t thread;
};

struct rs_queue {
    struct rs_queue_config config;
    char *script;
    const struct rs_logger *log;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* an item was queued or finished, or stop began */
    pthread_cond_t room;    /* the queue fell below its limit */
    struct lane lanes[RS_QUEUE_MAX_LANES];
    unsigned next_lane; /* round robin for events without keys */
    unsigned waiting;   /* items queued, running ones included */
    unsigned running;
    bool stopping;
    int64_t drain_deadline_ms;
    struct rs_queue_stats stats;
    unsigned long long drops_logged;
};

struct lane_arg {
    struct rs_queue *queue;
    unsigned lane;
};

/* FNV-1a: stable and cheap; only the spread over a few lanes matters. */
uint64_t rs_queue_key(const char *text)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *text; text++)
        h = (h ^ (unsigned char)*text) * 1099511628211ULL;
    return h;
}

/* The first time, then every 1000th: a full queue under load must not turn into a log flood on
 * top of it. */
static bool worth_logging(unsigned long long times)
{
    return times == 1 || times % 1000 == 0;
}

/* Items are made on Kea's threads and freed on the lanes': see src/core/pool.h. */
static struct rs_pool item_pool = RS_POOL_INIT(sizeof(struct item), 1024);

static void item_free(struct rs_queue *q, struct item *item)
{
    q->config.release(q->config.payload_ctx, item->payload);
    rs_pool_put(&item_pool, item);
}

static struct item *lane_peek(const struct rs_queue *q, unsigned lane)
{
    const struct lane *l = &q->lanes[lane];
    return l->len ? l->ring[l->head] : NULL;
}

/* An item may run once it is the oldest in every lane it occupies. */
static bool item_ready(const struct rs_queue *q, const struct item *item)
{
    for (unsigned lane = 0; lane < q->config.lanes; lane++)
        if ((item->lanes & (1ULL << lane)) && lane_peek(q, lane) != item)
            return false;
    return true;
}

static void item_unlink(struct rs_queue *q, const struct item *item)
{
    for (unsigned lane = 0; lane < q->config.lanes; lane++) {
        struct lane *l = &q->lanes[lane];
        if (!(item->lanes & (1ULL << lane)))
            continue;
        l->head = (l->head + 1) % q->config.limit;
        l->len--;
    }
}

static char **item_envp(struct rs_queue *q, const struct item *item)
{
    char **envp = q->config.envp_of(q->config.payload_ctx, item->payload);
    if (!envp)
        rs_log(q->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory; event lost", q->script,
               item->hook);
    return envp;
}

/* A worker's lane: everything waiting goes in one batch, which saves a round trip per event. */
static void deliver_batch(struct rs_queue *q, struct item **items, size_t count)
{
    const char *hooks[RS_QUEUE_MAX_BATCH];
    char **envps[RS_QUEUE_MAX_BATCH];
    size_t ready = 0;
    for (size_t i = 0; i < count; i++) {
        envps[ready] = item_envp(q, items[i]);
        if (envps[ready])
            hooks[ready++] = items[i]->hook;
    }
    q->config.deliver(q->config.deliver_ctx, hooks, (char *const *const *)envps, ready);
    for (size_t i = 0; i < ready; i++)
        free(envps[i]);
}

static void run_item(struct rs_queue *q, struct item *item)
{
    char **envp = item_envp(q, item);
    if (!envp)
        return;
    struct rs_job job;
    int failed = rs_job_start(&job, q->script, item->hook, envp, q->config.timeout_ms, q->log);
    free(envp); /* the child has its copy */
    if (failed)
        return;
    while (job.state != RS_JOB_DONE) {
        struct pollfd fds[3];
        int n = rs_job_pollfds(&job, fds);
        int timeout = rs_job_poll_timeout(&job);
        pthread_mutex_lock(&q->lock);
        int64_t deadline = q->stopping ? q->drain_deadline_ms : 0;
        pthread_mutex_unlock(&q->lock);
        if (deadline) {
            int64_t left = deadline - rs_now_ms();
            if (left <= 0) {
                rs_job_abort(&job);
                break;
            }
            /* Look again now and then: stop() may start while we wait. */
            if (timeout < 0 || timeout > left)
                timeout = (int)left;
        } else if (timeout < 0 || timeout > 200) {
            timeout = 200;
        }
        int rc = poll(fds, (nfds_t)n, timeout);
        rs_job_step(&job, fds, rc > 0 ? n : 0);
    }
    rs_job_release(&job);
}

static bool past_drain(const struct rs_queue *q)
{
    return q->stopping && rs_now_ms() >= q->drain_deadline_ms;
}

/* Waits on `changed` until `deadline_ms` (monotonic), or without limit when 0. */
static void wait_changed(struct rs_queue *q, int64_t deadline_ms)
{
    if (!deadline_ms) {
        pthread_cond_wait(&q->changed, &q->lock);
        return;
    }
    /* The condition variable's clock is CLOCK_REALTIME: turn the monotonic deadline into it. */
    int64_t left = deadline_ms - rs_now_ms();
    if (left <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&q->changed, &q->lock, &ts);
}

static void *lane_main(void *arg)
{
    struct rs_queue *q = ((struct lane_arg *)arg)->queue;
    unsigned lane = ((struct lane_arg *)arg)->lane;
    free(arg);
    /* Scripts Kea does not wait for must not compete with Kea for the CPU: the lane threads and
     * the scripts they start (which inherit it) run at a lower priority. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), RS_QUEUE_NICE);
    pthread_mutex_lock(&q->lock);
    for (;;) {
        struct item *item = lane_peek(q, lane);
        if (!item && q->stopping)
            break;
        if (item && past_drain(q))
            break; /* stop() logs what is left */
        if (!item || item->home_lane != lane || item->running || !item_ready(q, item)) {
            wait_changed(q, q->stopping ? rs_now_ms() + 50 : 0);
            continue;
        }
        /* A worker takes events in batches: give a batch a few milliseconds to fill, which
         * saves a wake-up of the worker and of this thread per event under load. */
        if (q->config.deliver && !q->stopping && q->lanes[lane].len < RS_QUEUE_MAX_BATCH &&
            rs_now_ms() < item->queued_ms + RS_QUEUE_COALESCE_MS) {
            wait_changed(q, item->queued_ms + RS_QUEUE_COALESCE_MS);
            continue;
        }
        struct item *batch[RS_QUEUE_MAX_BATCH];
        size_t count = 1;
        batch[0] = item;
        if (q->config.deliver) {
            /* One lane: the items behind the head are next in order. */
            const struct lane *l = &q->lanes[lane];
            for (; count < l->len && count < RS_QUEUE_MAX_BATCH; count++)
                batch[count] = l->ring[(l->head + count) % q->config.limit];
        }
        for (size_t i = 0; i < count; i++)
            batch[i]->running = true;
        q->running += (unsigned)count;
        pthread_mutex_unlock(&q->lock);
        if (q->config.deliver)
            deliver_batch(q, batch, count);
        else
            run_item(q, item);
        pthread_mutex_lock(&q->lock);
        for (size_t i = 0; i < count; i++)
            item_unlink(q, batch[i]);
        q->running -= (unsigned)count;
        q->waiting -= (unsigned)count;
        q->stats.delivered += count;
        pthread_cond_broadcast(&q->changed);
        pthread_cond_broadcast(&q->room);
        /* Freed outside the lock: Kea's threads take it to queue events, and must not wait
         * while a batch of them is freed. */
        pthread_mutex_unlock(&q->lock);
        for (size_t i = 0; i < count; i++)
            item_free(q, batch[i]);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int rs_queue_start(struct rs_queue **out, const struct rs_queue_config *config,
                   const struct rs_logger *log)
{
    if (config->lanes == 0 || config->lanes > RS_QUEUE_MAX_LANES || config->limit == 0 ||
        (config->deliver && config->lanes != 1) || !config->envp_of || !config->release)
        return -EINVAL;
    struct rs_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->config = *config;
    q->log = log;
    q->script = strdup(config->script);
    q->config.script = q->script;
    int rc = q->script ? 0 : -ENOMEM;
    for (unsigned i = 0; !rc && i < config->lanes; i++) {
        q->lanes[i].ring = calloc(config->limit, sizeof(struct item *));
        if (!q->lanes[i].ring)
            rc = -ENOMEM;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    pthread_cond_init(&q->room, NULL);
    unsigned started = 0;
    for (; !rc && started < config->lanes; started++) {
        struct lane_arg *arg = malloc(sizeof(*arg));
        if (!arg) {
            rc = -ENOMEM;
            break;
        }
        *arg = (struct lane_arg){q, started};
        rc = -pthread_create(&q->lanes[started].thread, NULL, lane_main, arg);
        if (rc) {
            free(arg);
            break;
        }
    }
    if (rc) {
        pthread_mutex_lock(&q->lock);
        q->stopping = true;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        for (unsigned i = 0; i < started; i++)
            pthread_join(q->lanes[i].thread, NULL);
        for (unsigned i = 0; i < config->lanes; i++)
            free(q->lanes[i].ring);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->changed);
        pthread_cond_destroy(&q->room);
        free(q->script);
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

int rs_queue_push(struct rs_queue *q, const char *hook, void *payload, const uint64_t keys[],
                  size_t nr_keys)
{
    struct item *item = rs_pool_get(&item_pool);
    if (!item)
        return -ENOMEM;
    *item = (struct item){0};
    item->hook = hook;
    item->payload = payload;
    if (nr_keys == RS_QUEUE_EVERY_LANE)
        item->lanes = q->config.lanes == 64 ? ~0ULL : (1ULL << q->config.lanes) - 1;
    for (size_t i = 0; nr_keys != RS_QUEUE_EVERY_LANE && i < nr_keys; i++)
        item->lanes |= 1ULL << (keys[i] % q->config.lanes);

    pthread_mutex_lock(&q->lock);
    int64_t wait_started_ms = 0;
    while (q->waiting >= q->config.limit && !q->stopping) {
        if (q->config.drop_when_full) {
            unsigned long long dropped = ++q->stats.dropped;
            pthread_mutex_unlock(&q->lock);
            if (worth_logging(dropped))
                rs_log(q->log, RS_MSG_QUEUE_FULL,
                       "%s (%s): queue full (%u events), event dropped; %llu dropped so far",
                       q->script, hook, q->config.limit, dropped);
            item_free(q, item);
            return -ENOSPC;
        }
        if (!wait_started_ms)
            wait_started_ms = rs_now_ms();
        pthread_cond_wait(&q->room, &q->lock);
    }
    unsigned long long waits = wait_started_ms ? ++q->stats.waited : 0;
    if (!item->lanes)
        item->lanes = 1ULL << (q->next_lane++ % q->config.lanes);
    item->home_lane = (unsigned)__builtin_ctzll(item->lanes);
    item->queued_ms = rs_now_ms();
    bool wake = !q->config.deliver; /* exec lanes: any idle lane may take it */
    for (unsigned lane = 0; lane < q->config.lanes; lane++) {
        if (!(item->lanes & (1ULL << lane)))
            continue;
        struct lane *l = &q->lanes[lane];
        l->ring[(l->head + l->len) % q->config.limit] = item;
        l->len++;
        /* A worker's lane thread waits without limit only when its lane is empty, and with a
         * timer while a batch fills: wake it for the first event, and for a full batch. */
        wake |= l->len == 1 || l->len == RS_QUEUE_MAX_BATCH;
    }
    q->waiting++;
    q->stats.queued++;
    if (wake)
        pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    /* Nothing was lost, but Kea's thread was held up by the script: the operator must know. */
    if (waits && worth_logging(waits))
        rs_log(q->log, RS_MSG_QUEUE_FULL,
               "%s (%s): queue full (%u events), Kea waited %lld ms for room; waits so far: %llu",
               q->script, hook, q->config.limit, (long long)(rs_now_ms() - wait_started_ms), waits);
    return 0;
}

void rs_queue_stats(struct rs_queue *q, struct rs_queue_stats *stats)
{
    pthread_mutex_lock(&q->lock);
    *stats = q->stats;
    stats->waiting = q->waiting - q->running;
    stats->running = q->running;
    pthread_mutex_unlock(&q->lock);
}

void rs_queue_stop(struct rs_queue *q, unsigned drain_ms)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    q->drain_deadline_ms = rs_now_ms() + drain_ms;
    pthread_cond_broadcast(&q->changed);
    pthread_cond_broadcast(&q->room);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->config.lanes; i++)
        pthread_join(q->lanes[i].thread, NULL);

    /* Every thread has gone: what is left was never delivered. An item sits in several lanes;
     * report and free it once, from its home lane, which is its lowest: going down from the
     * highest lane, an item is freed only once no lane still to be visited holds it. */
    unsigned long long undelivered = 0;
    for (unsigned lane = q->config.lanes; lane-- > 0;) {
        struct lane *l = &q->lanes[lane];
        for (unsigned i = 0; i < l->len; i++) {
            struct item *item = l->ring[(l->head + i) % q->config.limit];
            if (item->home_lane != lane)
                continue;
            if (++undelivered <= RS_QUEUE_MAX_UNDELIVERED_LOGGED)
                rs_log(q->log, RS_MSG_UNDELIVERED, "%s (%s): not delivered before unload",
                       q->script, item->hook);
            item_free(q, item);
        }
        free(l->ring);
    }
    if (undelivered > RS_QUEUE_MAX_UNDELIVERED_LOGGED)
        rs_log(q->log, RS_MSG_UNDELIVERED,
               "%s: %llu events in all were not delivered before "
               "unload",
               q->script, undelivered);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->changed);
    pthread_cond_destroy(&q->room);
    free(q->script);
    free(q);
}
