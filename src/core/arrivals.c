#include "arrivals.h"

/* Each pair of runs becomes one, with the older time. The pair read at 2n and 2n+1 is written
 * at n: never over a run not read yet. */
static void coarsen(struct rs_arrivals *a)
{
    unsigned n = 0;
    for (unsigned i = 0; i < a->len; i += 2, n++) {
        struct rs_arrival_run run = a->runs[(a->head + i) % RS_ARRIVAL_RUNS];
        if (i + 1 < a->len)
            run.events += a->runs[(a->head + i + 1) % RS_ARRIVAL_RUNS].events;
        a->runs[(a->head + n) % RS_ARRIVAL_RUNS] = run;
    }
    a->len = n;
    a->span_ms *= 2;
}

void rs_arrivals_add(struct rs_arrivals *a, int64_t now_ms, unsigned long long events)
{
    if (!events)
        return;
    if (!a->span_ms)
        a->span_ms = RS_ARRIVAL_SPAN_MS;
    if (a->len) {
        struct rs_arrival_run *last = &a->runs[(a->head + a->len - 1) % RS_ARRIVAL_RUNS];
        if (now_ms - last->first_ms < a->span_ms) {
            last->events += events;
            return;
        }
    }
    if (a->len == RS_ARRIVAL_RUNS)
        coarsen(a);
    a->runs[(a->head + a->len++) % RS_ARRIVAL_RUNS] = (struct rs_arrival_run){now_ms, events};
}

int64_t rs_arrivals_take(struct rs_arrivals *a, int64_t now_ms)
{
    if (!a->len)
        return now_ms;
    struct rs_arrival_run *run = &a->runs[a->head];
    int64_t first_ms = run->first_ms;
    if (--run->events == 0) {
        a->head = (a->head + 1) % RS_ARRIVAL_RUNS;
        a->len--;
    }
    return first_ms;
}

int64_t rs_arrivals_oldest(const struct rs_arrivals *a)
{
    return a->len ? a->runs[a->head].first_ms : 0;
}

void rs_arrivals_clear(struct rs_arrivals *a)
{
    a->head = a->len = 0;
    a->span_ms = 0;
}
