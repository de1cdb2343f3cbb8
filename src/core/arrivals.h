/*
 * arrivals: when the events waiting in a spool were queued, in the spool's order, so that the
 * age of a backlog counts from its oldest event's arrival rather than from its load back into
 * memory (a spool record carries no time).
 *
 * Runs of events, each those that came within the span of its first: the oldest run's time is
 * exact to the span (1 s). A full ring merges each pair of neighbouring runs and doubles the span,
 * so that it stays this size however long a backlog lasts: only the newer events' times coarsen,
 * and each is read as its run's first, so an event never reads younger than it is.
 *
 * Not thread-safe: the queue calls it under its lock. Times are the caller's (rs_now_ms()).
 */
#ifndef RS_ARRIVALS_H
#define RS_ARRIVALS_H

#include <stdint.h>

#define RS_ARRIVAL_RUNS    1024
#define RS_ARRIVAL_SPAN_MS 1000

struct rs_arrival_run {
    int64_t first_ms;
    unsigned long long events;
};

/* Zeroed: empty. */
struct rs_arrivals {
    struct rs_arrival_run runs[RS_ARRIVAL_RUNS];
    unsigned head, len;
    int64_t span_ms;
};

/* `events` more came at `now_ms`, behind those there. */
void rs_arrivals_add(struct rs_arrivals *a, int64_t now_ms, unsigned long long events);

/* The oldest one leaves: its arrival, or `now_ms` when none is known. */
int64_t rs_arrivals_take(struct rs_arrivals *a, int64_t now_ms);

/* The oldest one's arrival; 0: none. */
int64_t rs_arrivals_oldest(const struct rs_arrivals *a);

/* Forgets them all. */
void rs_arrivals_clear(struct rs_arrivals *a);

#endif
