#include "queue.h"
#include "arrivals.h"
#include "job.h"
#include "pool.h"
#include "spool/event_record.h"
#include "spool/spool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* How many undelivered events stop() lists one by one before it only counts them. */
#define RS_QUEUE_MAX_UNDELIVERED_LOGGED 20
/* The spool's growth is logged each time this many more events went there. */
#define RS_QUEUE_SPOOL_LOG_EVERY 10000
/* Records the feeder loads in one go, at most. */
#define RS_QUEUE_FEED_BATCH 256
/* A script that cannot be started, or a spool that cannot be read, is retried this often. */
#define RS_QUEUE_RETRY_MS 1000

struct item {
    void *data; /* the event, encoded (src/spool/event_record.h); freed once delivered */
    size_t len;
    struct rs_event_record rec; /* decoded, once needed */
    bool decoded;
    struct rs_spool_pos pos; /* on disk; seq 0: in memory only, the spool refused it */
    int64_t queued_ms;
    uint64_t lanes;     /* the lanes this event occupies */
    unsigned home_lane; /* the lane whose thread runs it */
    unsigned attempts;  /* failed deliveries */
    bool running, done;
};

/* A ring of the items occupying one lane, oldest first. */
struct lane {
    struct item **ring;
    unsigned head, len;
    pthread_t thread;
};

struct rs_queue {
    struct rs_queue_config config;
    char *script, *spool_dir;
    const struct rs_logger *log;
    struct rs_spool *spool;

    pthread_mutex_t lock;
    pthread_cond_t changed; /* an item was queued or finished, or stop began */
    pthread_cond_t room;    /* memory has room again, or events went to the spool */
    struct lane lanes[RS_QUEUE_MAX_LANES];
    /* Every item in memory, in the order it was queued (the spool's, for those on disk): done
     * ones leave from the head only, so the spool is acknowledged up to the first not done. */
    struct item **order;
    unsigned order_head, waiting; /* waiting: items in `order`, done or not */
    unsigned running;
    unsigned next_lane;          /* round robin for events without keys */
    unsigned long long backlog;  /* events in the spool only, not yet loaded */
    struct rs_arrivals arrivals; /* when the `backlog` events were queued */
    /* The last event written ahead that went to memory: where the feeder must start reading
     * when events begin to wait on disk, as everything up to it is in memory already. */
    struct rs_spool_pos memory_tail;
    bool feeder_behind;
    bool stopping;
    bool paused; /* rs_queue_pause(): no item starts, no event goes to memory */
    int64_t drain_deadline_ms;
    pthread_t feeder;
    struct rs_queue_stats stats;
    unsigned long long spills, spool_failures; /* for the log's "first, then every N" */
    unsigned long long spilled_this_time, fed_this_time;

    pthread_mutex_t push_lock;   /* one write ahead at a time, off the main lock */
    pthread_mutex_t ack_lock;    /* one acknowledgement at a time, off the main lock */
    struct rs_spool_pos to_ack;  /* under `lock`: the last delivered with all before it */
    uint64_t acked_seq;          /* under `lock`: the spool's cursor is past this one */
    _Atomic int64_t last_ack_ms; /* written under `ack_lock` */
    unsigned long long ack_failures;
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

/* The first time, then every 1000th: a fault under load must not turn into a log flood on top
 * of it. */
static bool worth_logging(unsigned long long times)
{
    return times == 1 || times % 1000 == 0;
}

/* Items are made on Kea's threads and freed on the lanes': see src/core/pool.h. */
static struct rs_pool item_pool = RS_POOL_INIT(sizeof(struct item), 1024);

/* Lets go of the event itself; the item stays, with its place and position. */
static void item_drop_event(struct item *item)
{
    free(item->data);
    item->data = NULL;
    if (item->decoded)
        rs_event_record_release(&item->rec);
    item->decoded = false;
}

static void item_free(struct item *item)
{
    item_drop_event(item);
    rs_pool_put(&item_pool, item);
}

static uint64_t lanes_of(const struct rs_queue *q, const uint64_t keys[], size_t nr_keys)
{
    if (nr_keys == RS_QUEUE_EVERY_LANE)
        return q->config.lanes == 64 ? ~0ULL : (1ULL << q->config.lanes) - 1;
    uint64_t lanes = 0;
    for (size_t i = 0; i < nr_keys; i++)
        lanes |= 1ULL << (keys[i] % q->config.lanes);
    return lanes;
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

/* Puts `item`, queued at `queued_ms`, in memory, behind every other. Called with the lock held
 * and room in memory. */
static void enqueue(struct rs_queue *q, struct item *item, int64_t queued_ms)
{
    if (!item->lanes)
        item->lanes = 1ULL << (q->next_lane++ % q->config.lanes);
    item->home_lane = (unsigned)__builtin_ctzll(item->lanes);
    item->queued_ms = queued_ms;
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
    q->order[(q->order_head + q->waiting) % q->config.limit] = item;
    q->waiting++;
    if (wake)
        pthread_cond_broadcast(&q->changed);
}

/* The item left its lanes (delivered or set aside); it stays in `order` until those before it
 * are done too. Called with the lock held. */
static void item_finish(struct rs_queue *q, struct item *item)
{
    for (unsigned lane = 0; lane < q->config.lanes; lane++) {
        struct lane *l = &q->lanes[lane];
        if (!(item->lanes & (1ULL << lane)))
            continue;
        l->head = (l->head + 1) % q->config.limit;
        l->len--;
    }
    item->done = true;
    item->running = false;
    item_drop_event(item); /* what is left is a few words until it leaves `order` */
}

/* Takes the done items off the head of `order` into `out` (at most `max`), and notes the spool
 * position to acknowledge. Called with the lock held. */
static size_t take_done(struct rs_queue *q, struct item **out, size_t max)
{
    size_t n = 0;
    while (q->waiting && n < max) {
        struct item *item = q->order[q->order_head];
        if (!item->done)
            break;
        if (item->pos.seq)
            q->to_ack = item->pos;
        out[n++] = item;
        q->order_head = (q->order_head + 1) % q->config.limit;
        q->waiting--;
    }
    if (n)
        pthread_cond_broadcast(&q->room);
    return n;
}

/* Moves the spool's cursor past what was delivered, at most every RS_QUEUE_ACK_INTERVAL_MS
 * unless `now`: a rename per event would cost more than the delivery of a batch. */
static void acknowledge(struct rs_queue *q, bool now)
{
    /* An idle lane waits for it rather than skip it, or it would try again at once. */
    if (now ? pthread_mutex_lock(&q->ack_lock) : pthread_mutex_trylock(&q->ack_lock))
        return; /* another lane is at it, and takes this one along next time */
    pthread_mutex_lock(&q->lock);
    struct rs_spool_pos pos = q->to_ack;
    bool new = pos.seq > q->acked_seq;
    pthread_mutex_unlock(&q->lock);
    int64_t t = rs_now_ms();
    if (new && (now || t - q->last_ack_ms >= RS_QUEUE_ACK_INTERVAL_MS)) {
        int rc = rs_spool_ack(q->spool, &pos);
        if (rc && worth_logging(++q->ack_failures))
            rs_log(q->log, RS_MSG_SPOOL_FAILED,
                   "%s: cannot record what was delivered in the spool %s: %s; after a restart, "
                   "those events are delivered again; %llu such failures so far",
                   q->script, q->spool_dir, strerror(-rc), q->ack_failures);
        q->last_ack_ms = t;
        /* Counted done even when it failed: trying again at once would not help. */
        pthread_mutex_lock(&q->lock);
        q->acked_seq = pos.seq;
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&q->ack_lock);
}

static bool item_decode(struct rs_queue *q, struct item *item)
{
    if (item->decoded)
        return true;
    int rc = rs_event_record_decode(item->data, item->len, &item->rec);
    if (rc) {
        rs_log(q->log, RS_MSG_UNDELIVERED, "%s: an event in memory cannot be read back (%s); lost",
               q->script, strerror(-rc));
        return false;
    }
    item->decoded = true;
    return true;
}

/* Dead letters are rare: their spool is open only while one is added, so that an operator can
 * take the directory away to replay it (kea-runscript-spool, src/cli) while Kea runs. */
static int append_dead_letter(struct rs_queue *q, const void *data, size_t len)
{
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/" RS_QUEUE_DEAD_LETTERS, q->spool_dir) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    struct rs_spool_config sc = {dir, q->config.spool_limit_bytes, 0, 0};
    struct rs_spool_recovery found;
    struct rs_spool *dead;
    int rc = rs_spool_open(&dead, &sc, &found);
    if (rc)
        return rc;
    rc = rs_spool_append(dead, data, len, NULL);
    rs_spool_close(dead);
    return rc;
}

/* Sets the event aside after its last failed attempt. Called without the lock. */
static void set_aside(struct rs_queue *q, struct item *item, const char *why)
{
    const char *hook = item->decoded ? item->rec.hook : "?";
    /* In place: the event is never delivered again, and its bytes go with it right after. */
    rs_event_record_set_attempts(item->data, item->len, item->attempts);
    int rc = append_dead_letter(q, item->data, item->len);
    pthread_mutex_lock(&q->lock);
    unsigned long long dead = ++q->stats.dead;
    pthread_mutex_unlock(&q->lock);
    rs_run_counters_error(q->config.counters, "%s: delivery failed %u times (%s); set aside%s",
                          hook, item->attempts, why, rc ? ", and lost" : "");
    if (rc)
        rs_log(q->log, RS_MSG_DEAD_LETTER,
               "%s (%s): delivery failed %u times (%s); the event cannot be set aside in "
               "%s/" RS_QUEUE_DEAD_LETTERS " (%s) and is lost; %llu set aside or lost so far",
               q->script, hook, item->attempts, why, q->spool_dir, strerror(-rc), dead);
    else if (dead <= 10 || worth_logging(dead))
        rs_log(q->log, RS_MSG_DEAD_LETTER,
               "%s (%s): delivery failed %u times (%s); the event is set aside in "
               "%s/" RS_QUEUE_DEAD_LETTERS "; %llu so far",
               q->script, hook, item->attempts, why, q->spool_dir, dead);
}

/* What happens to an item after an attempt: delivered, failed (and why), or not attempted. */
enum attempt_result { DELIVERED, FAILED, NOT_TRIED };

/* Counts a failed attempt; true when it was the last one allowed (the caller sets it aside). */
static bool attempt_failed(struct rs_queue *q, struct item *item, const char *why)
{
    item->attempts++;
    q->stats.failed++;
    if (item->attempts >= q->config.max_attempts)
        return true;
    q->stats.retried++;
    rs_log(q->log, RS_MSG_RETRY, "%s (%s): delivery failed (%s); trying again (attempt %u of %u)",
           q->script, item->decoded ? item->rec.hook : "?", why, item->attempts + 1,
           q->config.max_attempts);
    return false;
}

/* A worker's lane: everything waiting goes in one batch, which saves a round trip per event.
 * Returns how many were delivered; `*failure` as the deliver callback says. */
static size_t deliver_batch(struct rs_queue *q, struct item **items, size_t count,
                            const char **failure)
{
    const char *hooks[RS_QUEUE_MAX_BATCH];
    char **envps[RS_QUEUE_MAX_BATCH];
    for (size_t i = 0; i < count; i++) {
        hooks[i] = items[i]->rec.hook;
        envps[i] = items[i]->rec.envp;
    }
    *failure = NULL;
    return q->config.deliver(q->config.deliver_ctx, hooks, (char *const *const *)envps, count,
                             failure);
}

/* Runs the script for one item. Returns how it went; `*why` for a failure. */
static enum attempt_result run_item(struct rs_queue *q, struct item *item, const char **why)
{
    struct rs_job job;
    int rc =
        rs_job_start(&job, q->script, item->rec.hook, item->rec.envp, q->config.timeout_ms, q->log);
    rs_run_counters_started(q->config.counters, rc, q->script);
    if (rc == -ENOMEM || rc == -EAGAIN)
        return NOT_TRIED; /* logged; no process to be had for now, no fault of the event */
    if (rc) {
        /* Logged; the script is missing, not executable...: until someone mends it, its events
         * go the way of the others that cannot be delivered, to be replayed then. */
        *why = "the script could not be executed";
        return FAILED;
    }
    bool aborted = false;
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
                aborted = true;
                break;
            }
            /* Look again now and then: stop() may start while we wait. */
            if (timeout < 0 || timeout > left)
                timeout = (int)left;
        } else if (timeout < 0 || timeout > 200) {
            timeout = 200;
        }
        int ready = poll(fds, (nfds_t)n, timeout);
        rs_job_step(&job, fds, ready > 0 ? n : 0);
    }
    enum attempt_result result = DELIVERED;
    if (!aborted)
        rs_run_counters_ended(q->config.counters, &job);
    if (aborted) {
        result = NOT_TRIED; /* unload cut it short: it runs again at the next start */
    } else if (job.outcome == RS_OUTCOME_TIMEOUT) {
        *why = "timed out";
        result = FAILED;
    } else if (job.signaled) {
        *why = "killed by a signal";
        result = FAILED;
    }
    rs_job_release(&job);
    return result;
}

/* Waits on `cond` until `deadline_ms` (monotonic), or without limit when 0. */
static void wait_until(struct rs_queue *q, pthread_cond_t *cond, int64_t deadline_ms)
{
    if (!deadline_ms) {
        pthread_cond_wait(cond, &q->lock);
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
    pthread_cond_timedwait(cond, &q->lock, &ts);
}

/* After an attempt at `batch`: what was delivered leaves, a failed one counts an attempt (and is
 * set aside after the last), the rest stays for the next try. Called without the lock; returns
 * with it held. */
static void settle(struct rs_queue *q, struct item **batch, size_t count, size_t delivered,
                   enum attempt_result next, const char *why)
{
    bool set_aside_next = false;
    pthread_mutex_lock(&q->lock);
    bool stopping = q->stopping;
    if (next == FAILED && delivered < count && !stopping)
        set_aside_next = attempt_failed(q, batch[delivered], why);
    pthread_mutex_unlock(&q->lock);
    /* Written outside the lock: Kea's threads take it to queue events. */
    if (set_aside_next)
        set_aside(q, batch[delivered], why);
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < count; i++) {
        batch[i]->running = false;
        if (i < delivered || (i == delivered && set_aside_next))
            item_finish(q, batch[i]);
    }
    q->running -= (unsigned)count;
    q->stats.delivered += delivered;
    pthread_cond_broadcast(&q->changed);
}

/* Frees done items taken off `order` and acknowledges them. Called with the lock held, which it
 * drops meanwhile. */
static void release_done(struct rs_queue *q)
{
    struct item *done[RS_QUEUE_MAX_BATCH];
    size_t n;
    bool any = false;
    while ((n = take_done(q, done, RS_QUEUE_MAX_BATCH)) > 0) {
        any = true;
        /* Freed outside the lock: Kea's threads must not wait while a batch is freed. */
        pthread_mutex_unlock(&q->lock);
        for (size_t i = 0; i < n; i++)
            item_free(done[i]);
        pthread_mutex_lock(&q->lock);
    }
    if (any) {
        pthread_mutex_unlock(&q->lock);
        acknowledge(q, false);
        pthread_mutex_lock(&q->lock);
    }
}

static void *lane_main(void *arg)
{
    struct rs_queue *q = ((struct lane_arg *)arg)->queue;
    unsigned lane = ((struct lane_arg *)arg)->lane;
    free(arg);
    /* Named, so that `top -H` and perf tell the library's threads from Kea's. */
    char name[16];
    snprintf(name, sizeof(name), "runscript-%u", lane);
    pthread_setname_np(pthread_self(), name);
    /* Scripts Kea does not wait for must not compete with Kea for the CPU: the lane threads and
     * the scripts they start (which inherit it) run at a lower priority. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), RS_QUEUE_NICE);
    int64_t pause_until = 0; /* after a script that could not be started */
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->stopping)
            break; /* what is left stays in the spool */
        struct item *item = lane_peek(q, lane);
        if (!q->waiting && q->to_ack.seq > q->acked_seq) {
            /* All delivered: acknowledged now, not at the next event, which may come after a
             * crash; but not more often than the interval, as a fast worker empties the queue
             * at every batch. */
            int64_t due = atomic_load(&q->last_ack_ms) + RS_QUEUE_ACK_INTERVAL_MS;
            if (rs_now_ms() < due) {
                wait_until(q, &q->changed, due);
                continue;
            }
            pthread_mutex_unlock(&q->lock);
            acknowledge(q, true);
            pthread_mutex_lock(&q->lock);
            continue;
        }
        if (!item || q->paused || item->home_lane != lane || item->running ||
            !item_ready(q, item)) {
            wait_until(q, &q->changed, 0);
            continue;
        }
        if (pause_until && rs_now_ms() < pause_until) {
            wait_until(q, &q->changed, pause_until);
            continue;
        }
        pause_until = 0;
        /* A worker takes events in batches: give a batch a few milliseconds to fill, which
         * saves a wake-up of the worker and of this thread per event under load. */
        if (q->config.deliver && q->lanes[lane].len < RS_QUEUE_MAX_BATCH &&
            rs_now_ms() < item->queued_ms + RS_QUEUE_COALESCE_MS) {
            wait_until(q, &q->changed, item->queued_ms + RS_QUEUE_COALESCE_MS);
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

        /* An event that cannot be decoded cannot be delivered either: it leaves at once. */
        size_t readable = 0;
        while (readable < count && item_decode(q, batch[readable]))
            readable++;
        size_t delivered = 0;
        enum attempt_result next = NOT_TRIED;
        const char *why = NULL;
        if (readable == 0) {
            delivered = 1; /* logged as lost by item_decode */
        } else if (q->config.deliver) {
            delivered = deliver_batch(q, batch, readable, &why);
            next = why ? FAILED : NOT_TRIED;
            if (!why && delivered < readable)
                pause_until = rs_now_ms() + RS_QUEUE_RETRY_MS;
        } else {
            next = run_item(q, item, &why);
            delivered = next == DELIVERED;
            if (next == NOT_TRIED)
                pause_until = rs_now_ms() + RS_QUEUE_RETRY_MS;
        }
        settle(q, batch, count, delivered, next, why);
        release_done(q);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* --- the spool --- */

/* Reads up to `max` events from the spool into `out`. Returns how many, or -errno; 0 at the
 * end. Reader side of the spool: the feeder thread only. */
static ssize_t read_events(struct rs_queue *q, struct item **out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        struct item *item = rs_pool_get(&item_pool);
        if (!item)
            return n ? (ssize_t)n : -ENOMEM;
        struct rs_spool_record record;
        int rc = rs_spool_read(q->spool, &record);
        if (rc) {
            rs_pool_put(&item_pool, item);
            if (rc == -ENOENT)
                break;
            return n ? (ssize_t)n : rc;
        }
        *item = (struct item){.data = record.data, .len = record.len, .pos = record.pos};
        if (rs_event_record_decode(item->data, item->len, &item->rec) == 0) {
            item->decoded = true;
            item->attempts = item->rec.attempts;
            item->lanes = lanes_of(q, item->rec.keys, item->rec.nr_keys);
        } else {
            /* Well framed but not an event: left to the lane, which logs and drops it. */
            item->lanes = 0;
        }
        out[n++] = item;
    }
    return (ssize_t)n;
}

/* The backlog is gone. Called by the feeder with the lock held. */
static void spool_drained(struct rs_queue *q)
{
    /* Runs the count ran ahead of (skipped records) go with it. */
    rs_arrivals_clear(&q->arrivals);
    rs_spool_pause_reading(q->spool);
    if (worth_logging(q->spills))
        rs_log(q->log, RS_MSG_SPOOL,
               "%s: the spool is drained: %llu events that waited there are back in memory",
               q->script, q->fed_this_time);
    q->fed_this_time = 0;
    q->spilled_this_time = 0;
}

/* Loads events that wait on disk back into memory, in order, as room comes. */
static void *feeder_main(void *arg)
{
    struct rs_queue *q = arg;
    pthread_setname_np(pthread_self(), "runscript-feed");
    setpriority(PRIO_PROCESS, (id_t)gettid(), RS_QUEUE_NICE);
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->stopping)
            break;
        /* Paused: what is on disk stays there, so that memory keeps its room for nothing. */
        if (!q->backlog || q->paused || q->waiting >= q->config.limit) {
            wait_until(q, &q->room, 0);
            continue;
        }
        size_t max = q->config.limit - q->waiting;
        if (max > RS_QUEUE_FEED_BATCH)
            max = RS_QUEUE_FEED_BATCH;
        bool seek = q->feeder_behind;
        struct rs_spool_pos from = q->memory_tail;
        q->feeder_behind = false;
        pthread_mutex_unlock(&q->lock);

        if (seek)
            rs_spool_seek(q->spool, &from);
        struct item *items[RS_QUEUE_FEED_BATCH];
        ssize_t n = read_events(q, items, max);
        pthread_mutex_lock(&q->lock);
        if (n == 0) {
            /* The end, as far as the reader sees; but the count may be ahead (records delivered
             * before a stop, or damaged ones, are skipped). One more look under the lock: a push
             * counts what it appended under it, after appending, so a record not seen now is
             * counted after the count is reset, and loaded then. */
            n = read_events(q, items, max);
            if (n == 0) {
                q->backlog = 0;
                spool_drained(q);
                continue;
            }
        }
        if (n < 0) {
            rs_log(q->log, RS_MSG_SPOOL_FAILED, "%s: cannot read the spool %s: %s; retrying",
                   q->script, q->spool_dir, strerror((int)-n));
            wait_until(q, &q->changed, rs_now_ms() + RS_QUEUE_RETRY_MS);
            continue;
        }
        int64_t now_ms = rs_now_ms();
        for (ssize_t i = 0; i < n; i++)
            enqueue(q, items[i], rs_arrivals_take(&q->arrivals, now_ms));
        q->backlog = q->backlog > (unsigned long long)n ? q->backlog - (unsigned long long)n : 0;
        q->fed_this_time += (unsigned long long)n;
        if (!q->backlog)
            spool_drained(q);
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Opens the spool; logs what a previous run left. */
static int open_spool(struct rs_queue *q)
{
    struct rs_spool_recovery found;
    struct rs_spool_config sc = {q->spool_dir, q->config.spool_limit_bytes, 0, 0};
    int rc = rs_spool_open(&q->spool, &sc, &found);
    if (rc)
        return rc;
    if (found.cut_bytes)
        rs_log(q->log, RS_MSG_SPOOL_FAILED,
               "%s: the spool %s ended in %llu bytes of an event cut short (Kea stopped while "
               "writing it); removed",
               q->script, q->spool_dir, (unsigned long long)found.cut_bytes);
    if (found.records) {
        q->backlog = found.records;
        /* Their arrival is not known: they have waited since this start at least. */
        rs_arrivals_add(&q->arrivals, rs_now_ms(), found.records);
        rs_log(q->log, RS_MSG_SPOOL,
               "%s: %llu events left in the spool %s by the last run are delivered first",
               q->script, (unsigned long long)found.records, q->spool_dir);
    }
    return 0;
}

static void free_queue(struct rs_queue *q)
{
    for (unsigned i = 0; i < q->config.lanes; i++)
        free(q->lanes[i].ring);
    free(q->order);
    if (q->spool)
        rs_spool_close(q->spool);
    pthread_mutex_destroy(&q->lock);
    pthread_mutex_destroy(&q->push_lock);
    pthread_mutex_destroy(&q->ack_lock);
    pthread_cond_destroy(&q->changed);
    pthread_cond_destroy(&q->room);
    free(q->script);
    free(q->spool_dir);
    free(q);
}

int rs_queue_start(struct rs_queue **out, const struct rs_queue_config *config,
                   const struct rs_logger *log)
{
    if (config->lanes == 0 || config->lanes > RS_QUEUE_MAX_LANES || config->limit == 0 ||
        (config->deliver && config->lanes != 1) || config->max_attempts == 0 || !config->spool_dir)
        return -EINVAL;
    struct rs_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->config = *config;
    q->log = log;
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->push_lock, NULL);
    pthread_mutex_init(&q->ack_lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    pthread_cond_init(&q->room, NULL);
    q->script = strdup(config->script);
    q->spool_dir = strdup(config->spool_dir);
    q->config.script = q->script;
    q->config.spool_dir = q->spool_dir;
    q->order = calloc(config->limit, sizeof(*q->order));
    int rc = q->script && q->spool_dir && q->order ? 0 : -ENOMEM;
    for (unsigned i = 0; !rc && i < config->lanes; i++) {
        q->lanes[i].ring = calloc(config->limit, sizeof(struct item *));
        if (!q->lanes[i].ring)
            rc = -ENOMEM;
    }
    if (!rc)
        rc = open_spool(q);
    if (rc) {
        free_queue(q);
        return rc;
    }
    unsigned started = 0;
    bool feeding = false;
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
    if (!rc) {
        rc = -pthread_create(&q->feeder, NULL, feeder_main, q);
        feeding = !rc;
    }
    if (rc) {
        pthread_mutex_lock(&q->lock);
        q->stopping = true;
        pthread_cond_broadcast(&q->changed);
        pthread_cond_broadcast(&q->room);
        pthread_mutex_unlock(&q->lock);
        for (unsigned i = 0; i < started; i++)
            pthread_join(q->lanes[i].thread, NULL);
        if (feeding)
            pthread_join(q->feeder, NULL);
        free_queue(q);
        return rc;
    }
    *out = q;
    return 0;
}

/* The spool refused an event (limit reached, disk full, I/O error); the `times`th. */
static void log_spool_refused(struct rs_queue *q, const char *hook, int rc, bool kept,
                              unsigned long long times)
{
    rs_log(q->log, RS_MSG_SPOOL_FAILED,
           "%s (%s): cannot write to the spool %s: %s (spool-limit %llu MB); %s; %llu events "
           "not written so far",
           q->script, hook, q->spool_dir,
           rc == -ENOSPC ? "no space left (the disk or spool-limit)" : strerror(-rc),
           (unsigned long long)(q->config.spool_limit_bytes >> 20),
           kept ? "the event is kept in memory only (lost if Kea stops before it is delivered)"
                : "memory is full too: the event is dropped",
           times);
}

/* "on-full": "block": waits for room, RS_QUEUE_BLOCK_MAX_MS at most. Called with the lock held,
 * before the push takes `push_lock`, so that Kea's threads each wait their own second at most,
 * not one after the other. */
static void wait_for_room(struct rs_queue *q, const char *hook)
{
    unsigned long long waits = ++q->stats.waited;
    if (worth_logging(waits)) {
        pthread_mutex_unlock(&q->lock);
        rs_log(q->log, RS_MSG_QUEUE_FULL,
               "%s (%s): queue full (%u events); Kea waits for room, %d ms at most, then the "
               "event goes to the spool %s; waits so far: %llu",
               q->script, hook, q->config.limit, RS_QUEUE_BLOCK_MAX_MS, q->spool_dir, waits);
        pthread_mutex_lock(&q->lock);
    }
    int64_t deadline = rs_now_ms() + RS_QUEUE_BLOCK_MAX_MS;
    while (q->waiting >= q->config.limit && !q->backlog && !q->stopping && !q->paused &&
           rs_now_ms() < deadline)
        wait_until(q, &q->room, deadline);
}

int rs_queue_push(struct rs_queue *q, const char *hook, char *const envp[], const uint64_t keys[],
                  size_t nr_keys)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct item *item = rs_pool_get(&item_pool);
    if (!item)
        return -ENOMEM;
    *item = (struct item){0};
    size_t record_keys = nr_keys == RS_QUEUE_EVERY_LANE ? RS_EVENT_RECORD_EVERY_KEY : nr_keys;
    int rc = rs_event_record_encode(hook, 0, keys, record_keys, envp, &item->data, &item->len);
    if (rc) {
        rs_pool_put(&item_pool, item);
        return rc == -EINVAL ? -ENOMEM : rc;
    }
    item->lanes = lanes_of(q, keys, nr_keys);

    pthread_mutex_lock(&q->lock);
    /* Paused, every event goes to the spool: nothing to drop or wait for. */
    bool full = q->waiting >= q->config.limit && !q->paused;
    if (full && !q->backlog && !q->stopping && q->config.on_full == RS_ON_FULL_DROP) {
        unsigned long long dropped = ++q->stats.dropped;
        pthread_mutex_unlock(&q->lock);
        if (worth_logging(dropped))
            rs_log(q->log, RS_MSG_QUEUE_FULL,
                   "%s (%s): queue full (%u events), event dropped; %llu dropped so far", q->script,
                   hook, q->config.limit, dropped);
        rs_run_counters_error(q->config.counters, "%s: queue full, event dropped", hook);
        item_free(item);
        return -ENOSPC;
    }
    if (full && !q->backlog && !q->stopping && q->config.on_full == RS_ON_FULL_BLOCK)
        wait_for_room(q, hook);
    pthread_mutex_unlock(&q->lock);

    /* The write happens outside the main lock, which the lanes and the feeder take, but under
     * `push_lock`: the spool's order and memory's must be one. Only pushes raise `backlog` and
     * add to memory while it is 0, so what is decided here still holds below. */
    pthread_mutex_lock(&q->push_lock);
    pthread_mutex_lock(&q->lock);
    /* At unload too: the event then waits on disk for the next start. */
    bool to_memory = q->waiting < q->config.limit && !q->backlog && !q->stopping && !q->paused;
    pthread_mutex_unlock(&q->lock);
    struct rs_spool_pos pos = {0};
    rc = rs_spool_append(q->spool, item->data, item->len, &pos);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    pthread_mutex_lock(&q->lock);
    unsigned long long refusals = 0;
    if (rc == 0) {
        q->stats.written++;
        q->stats.written_ns += (unsigned long long)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                                                    (t1.tv_nsec - t0.tv_nsec));
    } else {
        refusals = ++q->spool_failures;
        q->stats.unwritten += to_memory;
        q->stats.dropped += !to_memory;
    }
    bool accepted = rc == 0 || to_memory;
    bool first = false, log_growth = false;
    unsigned long long backlog = 0;
    if (accepted)
        q->stats.queued++;
    if (accepted && to_memory) {
        item->pos = pos;
        if (pos.seq) {
            q->memory_tail = pos;
            q->feeder_behind = true;
        }
        enqueue(q, item, rs_now_ms());
        item = NULL;
    } else if (accepted) {
        /* On disk only: the feeder loads it back in order once memory has room. */
        q->stats.spooled++;
        log_growth = ++q->spilled_this_time % RS_QUEUE_SPOOL_LOG_EVERY == 0;
        first = q->backlog++ == 0;
        rs_arrivals_add(&q->arrivals, rs_now_ms(), 1);
        if (first) {
            q->spills++;
            pthread_cond_broadcast(&q->room);
        }
        backlog = q->backlog;
    }
    bool log_start = first && !q->stopping && !q->paused && worth_logging(q->spills);
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_unlock(&q->push_lock);

    if (item)
        item_free(item);
    if (!accepted)
        rs_run_counters_error(q->config.counters,
                              "%s: the spool refused it and memory is full: "
                              "event dropped",
                              hook);
    if (refusals && worth_logging(refusals))
        log_spool_refused(q, hook, rc, to_memory, refusals);
    if (log_start)
        rs_log(q->log, RS_MSG_QUEUE_FULL,
               "%s (%s): %u events wait in memory; the next ones wait in the spool %s", q->script,
               hook, q->config.limit, q->spool_dir);
    if (log_growth) {
        struct rs_spool_stats ss;
        rs_spool_stats(q->spool, &ss);
        rs_log(q->log, RS_MSG_SPOOL, "%s: %llu events wait in the spool (%.1f MB)", q->script,
               backlog, (double)ss.bytes / (1024.0 * 1024.0));
    }
    return accepted ? 0 : -ENOSPC;
}

void rs_queue_stats(struct rs_queue *q, struct rs_queue_stats *stats)
{
    pthread_mutex_lock(&q->lock);
    *stats = q->stats;
    unsigned done = 0;
    stats->oldest_ms = 0;
    for (unsigned i = 0; i < q->waiting; i++) {
        const struct item *item = q->order[(q->order_head + i) % q->config.limit];
        done += item->done;
        /* Lanes run side by side: events behind the oldest may be done already. */
        if (!item->done && (!stats->oldest_ms || item->queued_ms < stats->oldest_ms))
            stats->oldest_ms = item->queued_ms;
    }
    /* Paused, every event waits on disk only; and a retried dead letter, on disk, may be older
     * than a new event let into memory meanwhile. */
    int64_t on_disk_ms = rs_arrivals_oldest(&q->arrivals);
    if (on_disk_ms && (!stats->oldest_ms || on_disk_ms < stats->oldest_ms))
        stats->oldest_ms = on_disk_ms;
    stats->waiting = q->waiting - q->running - done;
    stats->running = q->running;
    stats->backlog = q->backlog;
    stats->paused = q->paused;
    pthread_mutex_unlock(&q->lock);
    struct rs_spool_stats ss;
    rs_spool_stats(q->spool, &ss);
    stats->spool_bytes = ss.bytes;
}

bool rs_queue_pause(struct rs_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool was = q->paused;
    q->paused = true;
    /* A Kea thread waiting for room ("block") goes on to the spool at once. */
    pthread_cond_broadcast(&q->room);
    pthread_mutex_unlock(&q->lock);
    if (!was)
        rs_log(q->log, RS_MSG_SPOOL,
               "%s: paused: deliveries under way finish, new events wait in the spool %s "
               "until it is resumed",
               q->script, q->spool_dir);
    return !was;
}

bool rs_queue_resume(struct rs_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool was = q->paused;
    q->paused = false;
    unsigned long long backlog = q->backlog;
    pthread_cond_broadcast(&q->changed); /* the lanes */
    pthread_cond_broadcast(&q->room);    /* the feeder */
    pthread_mutex_unlock(&q->lock);
    if (was)
        rs_log(q->log, RS_MSG_SPOOL, "%s: resumed; %llu events wait in the spool", q->script,
               backlog);
    return was;
}

/* --- dead letters, for an operator's command --- */

/* Opens the dead letters' spool, waiting RS_QUEUE_DEAD_LETTERS_LOCK_MS at most for a lane that
 * adds one (or kea-runscript-spool list). 0 and NULL in *out: there are none, not even the
 * directory, which is no error for an operator's command (and is not made just to be read). */
static int open_dead_letters(struct rs_queue *q, struct rs_spool **out)
{
    *out = NULL;
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/" RS_QUEUE_DEAD_LETTERS, q->spool_dir) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    if (access(dir, F_OK) < 0)
        return errno == ENOENT ? 0 : -errno;
    struct rs_spool_config sc = {dir, q->config.spool_limit_bytes, 0,
                                 RS_QUEUE_DEAD_LETTERS_LOCK_MS};
    struct rs_spool_recovery found;
    int rc = rs_spool_open(out, &sc, &found);
    if (rc)
        *out = NULL;
    return rc == -ENOENT ? 0 : rc;
}

int rs_queue_dead_letters_list(struct rs_queue *q, size_t max,
                               void (*fn)(void *ctx, uint64_t seq,
                                          const struct rs_event_record *ev),
                               void *ctx, uint64_t *total)
{
    *total = 0;
    struct rs_spool *dead;
    int rc = open_dead_letters(q, &dead);
    if (!dead)
        return rc;
    struct rs_spool_stats ss;
    rs_spool_stats(dead, &ss);
    *total = ss.records;
    uint64_t bytes = 0;
    for (size_t n = 0; n < max && bytes < RS_QUEUE_DEAD_LETTERS_MAX_BYTES; n++) {
        struct rs_spool_record record;
        if ((rc = rs_spool_read(dead, &record)) != 0)
            break;
        bytes += record.len;
        struct rs_event_record ev;
        bool readable = rs_event_record_decode(record.data, record.len, &ev) == 0;
        fn(ctx, record.pos.seq, readable ? &ev : NULL);
        if (readable)
            rs_event_record_release(&ev);
        free(record.data);
    }
    rs_spool_close(dead);
    return rc == -ENOENT ? 0 : rc;
}

/* A dead letter back in the queue: on disk only, behind everything queued now (in memory or in
 * the spool), for the feeder to load in order. Called without the lock. */
static int requeue(struct rs_queue *q, const void *data, size_t len)
{
    /* Under `push_lock`, as a push: the spool's order and memory's must be one. */
    pthread_mutex_lock(&q->push_lock);
    int rc = rs_spool_append(q->spool, data, len, NULL);
    if (rc == 0) {
        pthread_mutex_lock(&q->lock);
        q->stats.queued++;
        q->stats.spooled++;
        rs_arrivals_add(&q->arrivals, rs_now_ms(), 1);
        if (q->backlog++ == 0)
            pthread_cond_broadcast(&q->room);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&q->push_lock);
    return rc;
}

int rs_queue_dead_letters_retry(struct rs_queue *q, size_t max, uint64_t *moved, uint64_t *left)
{
    *moved = *left = 0;
    struct rs_spool *dead;
    int rc = open_dead_letters(q, &dead);
    if (!dead)
        return rc;
    struct rs_spool_pos last = {0};
    uint64_t bytes = 0;
    while (*moved < max && bytes < RS_QUEUE_DEAD_LETTERS_MAX_BYTES) {
        struct rs_spool_record record;
        if ((rc = rs_spool_read(dead, &record)) != 0)
            break;
        /* A fresh start: max-attempts more tries, as for a new event. */
        rs_event_record_set_attempts(record.data, record.len, 0);
        rc = requeue(q, record.data, record.len);
        free(record.data);
        if (rc)
            break; /* the spool is full: this one and the rest stay dead letters */
        last = record.pos;
        bytes += record.len;
        ++*moved;
    }
    if (rc == -ENOENT)
        rc = 0;
    /* Only now out of the dead letters: a crash before this delivers them twice, never not at
     * all. */
    int ack_rc = last.seq ? rs_spool_ack(dead, &last) : 0;
    struct rs_spool_stats ss;
    rs_spool_stats(dead, &ss);
    *left = ss.records;
    rs_spool_close(dead);
    if (*moved)
        rs_log(q->log, RS_MSG_SPOOL,
               "%s: %llu dead letters queued again, behind the events waiting; %llu left in "
               "%s/" RS_QUEUE_DEAD_LETTERS,
               q->script, (unsigned long long)*moved, (unsigned long long)*left, q->spool_dir);
    return rc ? rc : ack_rc;
}

int rs_queue_dead_letters_drop(struct rs_queue *q, uint64_t *dropped)
{
    *dropped = 0;
    struct rs_spool *dead;
    int rc = open_dead_letters(q, &dead);
    if (!dead)
        return rc;
    struct rs_spool_stats ss;
    rs_spool_stats(dead, &ss);
    rc = rs_spool_ack_all(dead);
    rs_spool_close(dead);
    if (!rc) {
        *dropped = ss.records;
        rs_log(q->log, RS_MSG_SPOOL, "%s: %llu dead letters dropped from %s/" RS_QUEUE_DEAD_LETTERS,
               q->script, (unsigned long long)ss.records, q->spool_dir);
    }
    return rc;
}

/* What a stop leaves: the spool acknowledged up to the first event not delivered, those
 * delivered after it noted, and each event left counted (and logged when it is lost). */
static void leave_the_rest(struct rs_queue *q)
{
    uint64_t *delivered = calloc(q->waiting ? q->waiting : 1, sizeof(*delivered));
    size_t nr_delivered = 0;
    unsigned long long kept = q->backlog, lost = 0;
    for (unsigned i = 0; i < q->waiting; i++) {
        struct item *item = q->order[(q->order_head + i) % q->config.limit];
        if (item->done && item->pos.seq && delivered)
            delivered[nr_delivered++] = item->pos.seq;
        else if (!item->done && item->pos.seq)
            kept++;
        else if (!item->done && ++lost <= RS_QUEUE_MAX_UNDELIVERED_LOGGED)
            rs_log(q->log, RS_MSG_UNDELIVERED,
                   "%s (%s): not delivered before unload, and not in the spool (it refused "
                   "it): lost",
                   q->script, item_decode(q, item) ? item->rec.hook : "?");
    }
    int rc = rs_spool_set_delivered(q->spool, delivered, nr_delivered);
    if (rc)
        rs_log(q->log, RS_MSG_SPOOL_FAILED,
               "%s: cannot note in the spool %s which events were delivered: %s; %zu of them are "
               "delivered again at the next start",
               q->script, q->spool_dir, strerror(-rc), nr_delivered);
    free(delivered);
    if (lost > RS_QUEUE_MAX_UNDELIVERED_LOGGED)
        rs_log(q->log, RS_MSG_UNDELIVERED,
               "%s: %llu events in all were not delivered before unload, and lost", q->script,
               lost);
    if (kept)
        rs_log(q->log, RS_MSG_SPOOL,
               "%s: %llu events not yet delivered stay in the spool %s for the next start",
               q->script, kept, q->spool_dir);
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
    pthread_join(q->feeder, NULL);

    /* Every thread has gone. */
    pthread_mutex_lock(&q->lock);
    release_done(q);
    pthread_mutex_unlock(&q->lock);
    acknowledge(q, true);
    leave_the_rest(q);
    for (unsigned i = 0; i < q->waiting; i++)
        item_free(q->order[(q->order_head + i) % q->config.limit]);
    if (q->stats.written)
        rs_log(q->log, RS_MSG_STATS,
               "%s: %llu events written to the spool ahead of delivery, %.2f us each on Kea's "
               "thread",
               q->script, q->stats.written,
               (double)q->stats.written_ns / (double)q->stats.written / 1000.0);
    free_queue(q);
}
