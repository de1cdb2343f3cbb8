/*
 * replay: at start-up, every active lease of Kea's lease database is delivered to the scripts
 * that asked for it ("replay": true), as lease4_replay / lease6_replay events, so routes and
 * firewall state can be rebuilt after a reboot.
 *
 * Kea's lease database may only be read from Kea's main thread, and a million leases must not be
 * held in memory at once nor keep Kea from serving. So the work is split: the adapter reads one
 * page of leases at a time on Kea's main thread (between packets) and feeds it here; this module's
 * thread delivers the page, then asks for the next one through `request`, which the adapter turns
 * into a job for Kea's main loop. Kea's threads never wait for a script during replay.
 *
 * Lifecycle: rs_replay_start, rs_replay_feed (main thread, once per request), rs_replay_stop.
 */
#ifndef RS_REPLAY_H
#define RS_REPLAY_H

#include "engine.h"

#include <stdbool.h>
#include <stddef.h>

struct rs_replay;

/* Called from the replay thread when it wants the next page; must not block. */
typedef void (*rs_replay_request_fn)(void *ctx);

int rs_replay_start(struct rs_replay **out, struct rs_engine *engine, int family,
                    rs_replay_request_fn request, void *ctx, const struct rs_logger *log);

/* Hands over a page of `count` initialised events (a malloc'ed array; ownership passes). `last`:
 * no page follows. */
void rs_replay_feed(struct rs_replay *replay, struct rs_event *events, size_t count, bool last);

/* Stops (early if need be), joins the thread, frees what is left. */
void rs_replay_stop(struct rs_replay *replay);

#endif
