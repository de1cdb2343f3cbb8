#include "replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct rs_replay {
    struct rs_engine *engine;
    int family;
    rs_replay_request_fn request;
    void *ctx;
    const struct rs_logger *log;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t fed;
    /* Guarded by `lock`. */
    struct rs_event *page;
    size_t page_count;
    bool last, requested, stopping;
};

static void free_page(struct rs_event *events, size_t count)
{
    for (size_t i = 0; i < count; i++)
        rs_event_release(&events[i]);
    free(events);
}

static void *replay_main(void *arg)
{
    struct rs_replay *r = arg;
    unsigned long long delivered = 0;
    bool complete = false;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        if (!r->page) {
            if (r->last) {
                complete = true;
                break;
            }
            if (!r->requested) {
                r->requested = true;
                pthread_mutex_unlock(&r->lock);
                r->request(r->ctx);
                pthread_mutex_lock(&r->lock);
                continue;
            }
            pthread_cond_wait(&r->fed, &r->lock);
            continue;
        }
        struct rs_event *events = r->page;
        size_t count = r->page_count;
        r->page = NULL;
        pthread_mutex_unlock(&r->lock);
        for (size_t i = 0; i < count; i++) {
            pthread_mutex_lock(&r->lock);
            bool stop = r->stopping;
            pthread_mutex_unlock(&r->lock);
            if (stop)
                break;
            rs_engine_dispatch(r->engine, &events[i]);
            delivered++;
        }
        free_page(events, count);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    rs_log(r->log, complete ? RS_MSG_REPLAY_DONE : RS_MSG_UNDELIVERED,
           complete ? "DHCPv%d lease replay done: %llu active leases delivered"
                    : "DHCPv%d lease replay stopped by unload after %llu leases",
           r->family, delivered);
    return NULL;
}

int rs_replay_start(struct rs_replay **out, struct rs_engine *engine, int family,
                    rs_replay_request_fn request, void *ctx, const struct rs_logger *log)
{
    struct rs_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    *r = (struct rs_replay){
        .engine = engine, .family = family, .request = request, .ctx = ctx, .log = log};
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->fed, NULL);
    int rc = -pthread_create(&r->thread, NULL, replay_main, r);
    if (rc) {
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->fed);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void rs_replay_feed(struct rs_replay *r, struct rs_event *events, size_t count, bool last)
{
    pthread_mutex_lock(&r->lock);
    if (r->page || r->stopping) {
        /* Not asked for: drop it rather than overwrite a page still to deliver. */
        pthread_mutex_unlock(&r->lock);
        free_page(events, count);
        return;
    }
    r->page = count ? events : NULL;
    r->page_count = count;
    r->last = last;
    r->requested = false;
    pthread_cond_signal(&r->fed);
    pthread_mutex_unlock(&r->lock);
    if (!count)
        free(events);
}

void rs_replay_stop(struct rs_replay *r)
{
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_signal(&r->fed);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    if (r->page)
        free_page(r->page, r->page_count);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->fed);
    free(r);
}
