/*
 * queue: ordered, durable, bounded-memory delivery of events to a script Kea does not wait for.
 *
 * Kea's threads put events in; `lanes` threads take them out and run the script, one run per lane
 * at a time, so at most `lanes` scripts run at once. Each event carries ordering keys (the lease's
 * address or delegated prefix, else the client's MAC or DUID); every key maps to one lane, and an
 * event occupies the lanes of all its keys, in the order it was queued. So two events about the
 * same lease never overtake each other (an expire never runs before the select it follows), while
 * events about different leases run side by side.
 *
 * Every event is written ahead to the script's spool (src/spool/spool.h) on Kea's thread, then
 * kept in memory while fewer than `limit` wait there. Past that, or while older events still wait
 * on disk, it waits on disk only, and a feeder thread loads it back in order once the script
 * catches up. So Kea never waits for a script (unless "block" asks for a bounded wait), and an
 * event is lost neither to a full queue, nor a stop, nor a crash of Kea: what was not delivered
 * is delivered at the next start, first. A record is acknowledged once delivered.
 *
 * A delivery that fails (the script killed by a signal or timed out; a worker that dies, hangs
 * or breaks the protocol on it) is tried again, up to `max_attempts` in all; then the event is
 * set aside in the dead-letter spool, whole, and delivery goes on with the next one. An exit
 * status or a worker's answer other than 0 is a delivery: the script said what it did.
 *
 * Lifecycle: rs_queue_start, rs_queue_push (any thread), rs_queue_stop (once).
 */
#ifndef RS_QUEUE_H
#define RS_QUEUE_H

#include "config.h"
#include "counters.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RS_QUEUE_MAX_LANES 64
/* Events handed to a worker in one go, at most, and how long a batch may wait to fill. */
#define RS_QUEUE_MAX_BATCH   256
#define RS_QUEUE_COALESCE_MS 5
/* The nice value of the lane threads and of the scripts they start. */
#define RS_QUEUE_NICE 10
/* "on-full": "block": how long a Kea thread waits for room, at most, before the event goes to
 * the spool. */
#define RS_QUEUE_BLOCK_MAX_MS 1000
/* The cursor of the spool is written at most this often: after a crash of Kea, what was
 * delivered in the last this-many milliseconds is delivered again. */
#define RS_QUEUE_ACK_INTERVAL_MS 50
/* Where a queue's dead letters go, under its spool directory. */
#define RS_QUEUE_DEAD_LETTERS "dead-letters"

struct rs_queue_config {
    const char *script;
    unsigned timeout_ms; /* per run; 0: no limit */
    unsigned limit;      /* events waiting in memory, at most */
    unsigned lanes;      /* scripts running at once, at most */
    enum rs_on_full on_full;
    unsigned max_attempts; /* failed deliveries before an event is set aside */
    const char *spool_dir; /* the queue's own; created if missing (its parent must exist) */
    uint64_t spool_limit_bytes;
    /* NULL: run the script once per event. Else this makes one attempt at delivering events (to
     * a worker), in queue order, several at a time when several wait: `count` hooks and
     * environments. It returns how many were delivered; when fewer than `count`, the next one
     * failed and `*failure` says how, or is NULL when no attempt was made (the worker could not
     * be started, or unload gave up): that is no fault of the event. Needs one lane. */
    size_t (*deliver)(void *ctx, const char *const hooks[], char *const *const envps[],
                      size_t count, const char **failure);
    void *deliver_ctx;
    struct rs_run_counters *counters; /* counts the script's runs (exec); NULL: none */
};

struct rs_queue;

/* Opens the spool (-errno: it cannot be used) and starts the threads. Events a previous run left
 * in the spool are delivered first. */
int rs_queue_start(struct rs_queue **out, const struct rs_queue_config *config,
                   const struct rs_logger *log);

/* An ordering key, from its text (a lease address, a MAC...). */
uint64_t rs_queue_key(const char *text);

/* As `nr_keys`: the event is ordered against every other. */
#define RS_QUEUE_EVERY_LANE ((size_t)-1)

/*
 * Queues a run of the script with argv[1] = `hook` and environment `envp` (both copied). `keys`
 * are the event's ordering keys (may be none, or RS_QUEUE_EVERY_LANE). Returns 0 once the event
 * is accepted (written ahead, or kept in memory when the spool refuses it), -ENOSPC when it was
 * dropped (logged), or -ENOMEM.
 */
int rs_queue_push(struct rs_queue *queue, const char *hook, char *const envp[],
                  const uint64_t keys[], size_t nr_keys);

struct rs_queue_stats {
    unsigned long long queued;     /* accepted */
    unsigned long long delivered;  /* to the script, once each */
    unsigned long long dropped;    /* "on-full": "drop", or the spool refused it with no room */
    unsigned long long waited;     /* events for which Kea's thread waited ("block") */
    unsigned long long spooled;    /* went to the spool only, memory being full */
    unsigned long long retried;    /* failed deliveries tried again */
    unsigned long long failed;     /* failed deliveries (attempts), the last ones included */
    unsigned long long dead;       /* set aside after max_attempts */
    unsigned long long unwritten;  /* kept in memory only, the spool refusing them */
    unsigned long long written;    /* written ahead on Kea's thread... */
    unsigned long long written_ns; /* ...and the time that took there, encoding included */
    unsigned waiting, running;     /* in memory */
    unsigned long long backlog;    /* waiting in the spool only */
    int64_t oldest_ms;             /* rs_now_ms() when the oldest event not delivered was queued, in
                                    * memory or on disk only (for one a previous run left in the spool:
                                    * this start); 0: none waits */
    uint64_t spool_bytes;          /* the spool's size on disk */
    bool paused;                   /* rs_queue_pause() */
};

/* A snapshot; takes the queue's lock briefly (as a push does), never waits for a delivery. */
void rs_queue_stats(struct rs_queue *queue, struct rs_queue_stats *stats);

/*
 * Pausing: an operator holds a script's deliveries (it is being mended, or what it talks to is
 * down) without losing its events. Once paused, no delivery starts (those under way finish) and
 * every new event goes to the spool only, none to memory (so "spool-depth" grows; one the spool
 * refuses is dropped, as when memory is full). Resuming delivers what waits in memory, then what
 * waits in the spool, in the order queued, each once. A stop while paused leaves them all in the
 * spool for the next start, which is not paused. Any thread; neither waits for a delivery. Each
 * returns whether the state changed (false: it was paused already, or not paused).
 */
bool rs_queue_pause(struct rs_queue *queue);
bool rs_queue_resume(struct rs_queue *queue);

/*
 * The dead letters (RS_QUEUE_DEAD_LETTERS under the spool directory), for an operator's command
 * on Kea's main thread: each opens their spool while it works, waiting
 * RS_QUEUE_DEAD_LETTERS_LOCK_MS at most for a lane that is adding one, or for kea-runscript-spool
 * reading them (-EBUSY then). The work is bounded: `max` records read at most, and
 * RS_QUEUE_DEAD_LETTERS_MAX_BYTES of them; a drop removes whole segment files unread.
 *
 * list: calls `fn` for the first `max` dead letters (fewer past the bytes), oldest first (`ev`
 * NULL for one that cannot be decoded), and gives how many there are in all. None at all is 0
 * dead letters, not an error.
 *
 * retry: moves up to `max` of them, oldest first, back into the queue with their attempts reset,
 * behind every event queued now (so after later events about the same lease: they were set
 * aside); they leave the dead letters once all are in the queue's spool (a crash in between
 * queues them twice, never loses them). Stops early when the queue's spool refuses one, which
 * stays. `left`: how many remain.
 *
 * drop: deletes them all; `dropped` says how many.
 */
#define RS_QUEUE_DEAD_LETTERS_LOCK_MS   200
#define RS_QUEUE_DEAD_LETTERS_MAX_BYTES (64u << 20)
struct rs_event_record;
int rs_queue_dead_letters_list(struct rs_queue *queue, size_t max,
                               void (*fn)(void *ctx, uint64_t seq,
                                          const struct rs_event_record *ev),
                               void *ctx, uint64_t *total);
int rs_queue_dead_letters_retry(struct rs_queue *queue, size_t max, uint64_t *moved,
                                uint64_t *left);
int rs_queue_dead_letters_drop(struct rs_queue *queue, uint64_t *dropped);

/* Stops taking events out, lets deliveries under way finish within `drain_ms`, then kills what
 * still runs, joins the threads and frees the queue. What was not delivered stays in the spool
 * for the next start (logged); what delivered out of order is noted there, so that it is not
 * delivered twice. */
void rs_queue_stop(struct rs_queue *queue, unsigned drain_ms);

#endif
