/*
 * queue: ordered, bounded, concurrent delivery of events to a script Kea does not wait for.
 *
 * Kea's threads put events in; `lanes` threads take them out and run the script, one run per lane
 * at a time, so at most `lanes` scripts run at once. Each event carries ordering keys (the lease's
 * address or delegated prefix, else the client's MAC or DUID); every key maps to one lane, and an
 * event occupies the lanes of all its keys, in the order it was queued. So two events about the
 * same lease never overtake each other (an expire never runs before the select it follows), while
 * events about different leases run side by side.
 *
 * When `limit` events wait, a new one either waits for room (nothing is lost; Kea's thread blocks,
 * and that is counted and logged) or is dropped, counted and logged. rs_queue_stop() delivers what
 * is queued within a bounded time, kills what still runs then, and logs every event it could not
 * deliver.
 *
 * Lifecycle: rs_queue_start, rs_queue_push (any thread), rs_queue_stop (once).
 */
#ifndef RS_QUEUE_H
#define RS_QUEUE_H

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

struct rs_queue_config {
    const char *script;
    unsigned timeout_ms; /* per run; 0: no limit */
    unsigned limit;      /* events waiting, at most */
    unsigned lanes;      /* scripts running at once, at most */
    bool drop_when_full;
    /* NULL: run the script once per event. Else this delivers events (to a worker), in queue
     * order, several at a time when several wait: `count` hooks and environments. Needs one
     * lane. */
    void (*deliver)(void *ctx, const char *const hooks[], char *const *const envps[], size_t count);
    void *deliver_ctx;
    /* What a queued event is, to the queue: an opaque payload that these turn into the run's
     * environment, called in a lane thread just before the run (building it there keeps the work
     * off Kea's thread), and release once it ran or was dropped. envp_of returns a malloc'ed
     * NULL-terminated array (free() the array only) or NULL when out of memory. */
    char **(*envp_of)(void *ctx, void *payload);
    void (*release)(void *ctx, void *payload);
    void *payload_ctx;
};

struct rs_queue;

int rs_queue_start(struct rs_queue **out, const struct rs_queue_config *config,
                   const struct rs_logger *log);

/* An ordering key, from its text (a lease address, a MAC...). */
uint64_t rs_queue_key(const char *text);

/* As `nr_keys`: the event is ordered against every other. */
#define RS_QUEUE_EVERY_LANE ((size_t)-1)

/*
 * Queues a run of the script with argv[1] = `hook` (which must stay valid until `payload` is
 * released) for `payload`, which the queue then owns. `keys` are the event's ordering keys (may be
 * none, or RS_QUEUE_EVERY_LANE). Returns 0, or -ENOSPC when full and dropping (logged; the payload
 * is released), or -ENOMEM (the caller keeps the payload). Blocks while full unless dropping.
 */
int rs_queue_push(struct rs_queue *queue, const char *hook, void *payload, const uint64_t keys[],
                  size_t nr_keys);

struct rs_queue_stats {
    unsigned long long queued, delivered, dropped;
    unsigned long long waited; /* events that found the queue full and waited for room */
    unsigned waiting, running;
};

void rs_queue_stats(struct rs_queue *queue, struct rs_queue_stats *stats);

/* Delivers what it can within `drain_ms`, then kills and reaps what still runs, logs each event
 * left undelivered, joins the threads and frees the queue. */
void rs_queue_stop(struct rs_queue *queue, unsigned drain_ms);

#endif
