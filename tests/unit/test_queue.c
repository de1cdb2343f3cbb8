#include "queue.h"
#include "spool/event_record.h"
#include "spool/spool.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The script of these tests: logs "start SEQ" and "end SEQ HOOK" around an optional sleep or a
 * wait for the file $GO (a minute at most), appending to $LOG (O_APPEND: lines of concurrent runs
 * do not mix). */
static const char recorder_script[] = "#!/bin/sh\n"
                                      "echo \"start $SEQ\" >> \"$LOG\"\n"
                                      "if [ -n \"$GO\" ]; then\n"
                                      "    n=0\n"
                                      "    while [ ! -e \"$GO\" ] && [ $n -lt 3000 ]; do\n"
                                      "        sleep 0.01\n"
                                      "        n=$((n + 1))\n"
                                      "    done\n"
                                      "fi\n"
                                      "if [ -n \"$SLEEP\" ]; then sleep \"$SLEEP\"; fi\n"
                                      "echo \"end $SEQ $1\" >> \"$LOG\"\n";

/* --- deliver callback (the way to a worker) --- */

#define MANY 300

struct sink {
    pthread_mutex_t lock;
    bool hold; /* the first call waits until this is false */
    bool held; /* the first call is waiting */
    int calls;
    int seqs[MANY + 16];
    int nr;
    size_t sizes[MANY + 16];
    int bad;      /* hook and SEQ disagree, or too many */
    int poison;   /* the worker "dies" on the event with this SEQ (-1: none)... */
    int poisoned; /* ...this many times it did */
};

static size_t sink_deliver(void *ctx, const char *const hooks[], char *const *const envps[],
                           size_t count, const char **failure)
{
    struct sink *s = ctx;
    size_t delivered = count;
    pthread_mutex_lock(&s->lock);
    if (s->calls < MANY + 16)
        s->sizes[s->calls] = count;
    s->calls++;
    for (size_t i = 0; i < count; i++) {
        int seq = -1, hook_seq = -2;
        for (char *const *e = envps[i]; *e; e++)
            sscanf(*e, "SEQ=%d", &seq);
        sscanf(hooks[i], "hook%d", &hook_seq);
        if (seq == s->poison) {
            s->poisoned++;
            *failure = "the worker exited";
            delivered = i;
            break;
        }
        if (seq != hook_seq || s->nr >= MANY + 16)
            s->bad++;
        else
            s->seqs[s->nr++] = seq;
    }
    if (s->calls == 1) {
        s->held = true;
        /* Bounded, so a broken queue fails the test rather than hang it. */
        int64_t end = now_ms() + scaled_ms(10000);
        while (s->hold && now_ms() < end) {
            pthread_mutex_unlock(&s->lock);
            sleep_ms(5);
            pthread_mutex_lock(&s->lock);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return delivered;
}

/* Static, its lock never destroyed: a failed test's teardown may still have to release it. */
static struct sink sink = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sink_init(struct sink *s)
{
    pthread_mutex_lock(&s->lock);
    s->hold = true;
    s->held = false;
    s->calls = s->nr = s->bad = s->poisoned = 0;
    s->poison = -1;
    pthread_mutex_unlock(&s->lock);
}

static void sink_wait_held(struct sink *s)
{
    pthread_mutex_lock(&s->lock);
    int64_t end = now_ms() + scaled_ms(5000);
    while (!s->held && now_ms() < end) {
        pthread_mutex_unlock(&s->lock);
        sleep_ms(2);
        pthread_mutex_lock(&s->lock);
    }
    bool held = s->held;
    pthread_mutex_unlock(&s->lock);
    assert_true(held);
}

static void sink_release(struct sink *s)
{
    pthread_mutex_lock(&s->lock);
    s->hold = false;
    pthread_mutex_unlock(&s->lock);
}

struct fixture {
    char *dir;
    char *script;
    char *log;
    char *go;
    char *spool; /* the queue's spool directory */
    struct resources before;
    struct recorder rec;
    struct rs_queue *q; /* the one running, for teardown to stop after a failure */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = make_temp_dir();
    f->script = write_file(f->dir, "record.sh", recorder_script, 0755);
    assert_true(asprintf(&f->log, "%s/log", f->dir) > 0);
    assert_true(asprintf(&f->go, "%s/go", f->dir) > 0);
    assert_true(asprintf(&f->spool, "%s/spool", f->dir) > 0);
    f->before = resources_now();
    rec_init(&f->rec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->q) {
        /* A test failed half-way: end what it left running before its state goes. */
        free(write_file(f->dir, "go", "", 0644)); /* open the gate */
        sink_release(&sink);
        rs_queue_stop(f->q, 0);
    }
    rec_free(&f->rec);
    rm_tree(f->dir);
    free(f->dir);
    free(f->script);
    free(f->log);
    free(f->go);
    free(f->spool);
    free(f);
    return 0;
}

/* Nothing of the queue is left: descriptor, thread, child or zombie. */
static void assert_clean(struct fixture *f)
{
    assert_resources_back(&f->before);
}

/* A queue running the recording script, its spool in f->spool. */
static struct rs_queue_config exec_config(struct fixture *f, unsigned lanes, unsigned limit,
                                          enum rs_on_full on_full)
{
    return (struct rs_queue_config){.script = f->script,
                                    .timeout_ms = 0,
                                    .limit = limit,
                                    .lanes = lanes,
                                    .on_full = on_full,
                                    .max_attempts = 3,
                                    .spool_dir = f->spool};
}

static struct rs_queue *queue_start(struct fixture *f, unsigned lanes, unsigned limit,
                                    enum rs_on_full on_full)
{
    struct rs_queue_config config = exec_config(f, lanes, limit, on_full);
    struct rs_queue *q = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), 0);
    assert_non_null(q);
    f->q = q;
    return q;
}

static void queue_stop(struct fixture *f, unsigned drain_ms)
{
    struct rs_queue *q = f->q;
    f->q = NULL;
    rs_queue_stop(q, drain_ms);
}

/* Queues event `seq` with `keys`; `sleep` (seconds, as sleep(1) takes them) or NULL; `gated`:
 * the run waits for the file f->go. Returns what rs_queue_push() returned. */
static int push(struct fixture *f, struct rs_queue *q, int seq, const char *sleep, bool gated,
                const char *const keys[], size_t nr_keys)
{
    char seq_var[32], log_var[256], sleep_var[64], go_var[256], hook[32];
    snprintf(seq_var, sizeof(seq_var), "SEQ=%d", seq);
    snprintf(log_var, sizeof(log_var), "LOG=%s", f->log);
    snprintf(sleep_var, sizeof(sleep_var), "SLEEP=%s", sleep ? sleep : "");
    snprintf(go_var, sizeof(go_var), "GO=%s", gated ? f->go : "");
    snprintf(hook, sizeof(hook), "hook%d", seq);
    char *envp[] = {"PATH=/usr/bin:/bin", seq_var, log_var, sleep_var, go_var, NULL};
    uint64_t hashes[8];
    assert_true(nr_keys <= 8);
    for (size_t i = 0; i < nr_keys; i++)
        hashes[i] = rs_queue_key(keys[i]);
    return rs_queue_push(q, hook, envp, hashes, nr_keys);
}

static void open_gate(struct fixture *f)
{
    free(write_file(f->dir, "go", "", 0644));
}

/* --- the log the script writes --- */

struct record {
    bool start;
    int seq;
};

struct run_log {
    struct record *items;
    size_t nr;
};

static struct run_log read_log(struct fixture *f)
{
    char *text = read_file(f->log, NULL);
    struct run_log log = {NULL, 0};
    size_t alloc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        struct record r;
        int seq = -1, hook_seq = -2;
        if (sscanf(line, "start %d", &seq) == 1) {
            r = (struct record){true, seq};
        } else {
            assert_int_equal(sscanf(line, "end %d hook%d", &seq, &hook_seq), 2);
            /* argv[1] is the event's own hook name. */
            assert_int_equal(hook_seq, seq);
            r = (struct record){false, seq};
        }
        if (log.nr == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            log.items = realloc(log.items, alloc * sizeof(*log.items));
            assert_non_null(log.items);
        }
        log.items[log.nr++] = r;
    }
    free(text);
    return log;
}

static size_t count_records(const struct run_log *log, bool start)
{
    size_t n = 0;
    for (size_t i = 0; i < log->nr; i++)
        n += log->items[i].start == start;
    return n;
}

/* Waits up to scaled_ms(`timeout_ms`) for the script's log to have `n` records. */
static bool wait_log_records(struct fixture *f, size_t n, int timeout_ms)
{
    int64_t end = now_ms() + scaled_ms(timeout_ms);
    while (count_lines(f->log) < n && now_ms() < end)
        sleep_ms(5);
    return count_lines(f->log) >= n;
}

/* Whether the script's log has the whole line `line`. */
static bool log_has_line(struct fixture *f, const char *line)
{
    char *log = read_file(f->log, NULL);
    char *framed = NULL, *needle = NULL;
    assert_true(asprintf(&framed, "\n%s", log) > 0);
    assert_true(asprintf(&needle, "\n%s\n", line) > 0);
    bool found = strstr(framed, needle) != NULL;
    free(needle);
    free(framed);
    free(log);
    return found;
}

/* Opens the gate once the gated run `gated` has started and `other` has ended meanwhile: the
 * two ran side by side, however slowly this machine starts processes. */
static void open_gate_after(struct fixture *f, const char *gated, const char *other)
{
    int64_t end = now_ms() + scaled_ms(20000);
    while (!(log_has_line(f, gated) && log_has_line(f, other)) && now_ms() < end)
        sleep_ms(5);
    assert_true(log_has_line(f, gated));
    assert_true(log_has_line(f, other));
    open_gate(f);
}

/* The most runs that were between their "start" and their "end" at once. */
static int max_overlap(const struct run_log *log)
{
    int running = 0, most = 0;
    for (size_t i = 0; i < log->nr; i++) {
        running += log->items[i].start ? 1 : -1;
        if (running > most)
            most = running;
    }
    return most;
}

/* Events `seqs` (in push order) ran one after the other, each ending before the next started. */
static void assert_sequential(const struct run_log *log, const int *seqs, size_t n)
{
    size_t next = 0;
    bool in_run = false;
    for (size_t i = 0; i < log->nr; i++) {
        bool mine = false;
        for (size_t j = 0; j < n && !mine; j++)
            mine = seqs[j] == log->items[i].seq;
        if (!mine)
            continue;
        if (next >= n || log->items[i].seq != seqs[next] || log->items[i].start == in_run) {
            print_message("record %zu (%s %d) out of order; expected %s %d\n", i,
                          log->items[i].start ? "start" : "end", log->items[i].seq,
                          in_run ? "end" : "start", next < n ? seqs[next] : -1);
            fail();
        }
        if (in_run)
            next++;
        in_run = !in_run;
    }
    assert_int_equal(next, n);
}

/* The queue's lane for `key`: only used to pick keys on different lanes, so that the tests below
 * exercise events spanning lanes. */
static unsigned lane_of(const char *key, unsigned lanes)
{
    return (unsigned)(rs_queue_key(key) % lanes);
}

/* Fills keys[i] with a lease address on lane i. */
static void keys_on_lanes(char keys[][32], unsigned lanes)
{
    for (unsigned lane = 0; lane < lanes; lane++) {
        for (unsigned n = 1;; n++) {
            snprintf(keys[lane], 32, "10.0.%u.%u", n / 256, n % 256);
            if (lane_of(keys[lane], lanes) == lane)
                break;
        }
    }
}

static void wait_delivered(struct rs_queue *q, unsigned long long n, int timeout_ms)
{
    struct rs_queue_stats stats;
    int64_t end = now_ms() + scaled_ms(timeout_ms);
    for (;;) {
        rs_queue_stats(q, &stats);
        if (stats.delivered >= n || now_ms() >= end)
            break;
        sleep_ms(5);
    }
    assert_int_equal(stats.delivered, n);
}

static size_t no_delivery(void *ctx, const char *const hooks[], char *const *const envps[],
                          size_t count, const char **failure)
{
    (void)ctx;
    (void)hooks;
    (void)envps;
    (void)failure;
    return count;
}

static void test_bad_config(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = NULL;
    struct rs_queue_config config = exec_config(f, 0, 10, RS_ON_FULL_SPOOL);
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    config.lanes = RS_QUEUE_MAX_LANES + 1;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    config.lanes = 1;
    config.limit = 0;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    config.limit = 10;
    config.lanes = 2;
    config.deliver = no_delivery;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    config.lanes = 1;
    config.deliver = NULL;
    config.max_attempts = 0;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    config.max_attempts = 3;
    /* A spool is not optional, and must be usable. */
    config.spool_dir = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    char *nowhere = NULL;
    assert_true(asprintf(&nowhere, "%s/missing/spool", f->dir) > 0);
    config.spool_dir = nowhere;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -ENOENT);
    free(nowhere);
    assert_null(q);
    assert_int_equal(rec_count(&f->rec, RS_MSG_COUNT), 0);
    assert_clean(f);
}

static void test_same_key_in_order(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 4, 100, RS_ON_FULL_SPOOL);
    char keys[4][32];
    keys_on_lanes(keys, 4);
    /* 3 keys, 8 events each; the earlier events of a key take longer, so an event overtaking
     * another of its key would show. The first waits for the gate, which opens only once the
     * second key's first event has run: other keys are not held up behind it. */
    enum { EVENTS = 24, KEYS = 3 };
    for (int seq = 0; seq < EVENTS; seq++) {
        const char *key[] = {keys[seq % KEYS]};
        const char *sleep = seq < KEYS * 2 ? "0.1" : seq % 2 ? "0.01" : NULL;
        assert_int_equal(push(f, q, seq, sleep, seq == 0, key, 1), 0);
    }
    open_gate_after(f, "start 0", "end 1 hook1");
    wait_delivered(q, EVENTS, 20000);
    queue_stop(f, 5000);
    struct run_log log = read_log(f);
    assert_int_equal(count_records(&log, true), EVENTS);
    assert_int_equal(count_records(&log, false), EVENTS);
    for (int k = 0; k < KEYS; k++) {
        int seqs[EVENTS / KEYS];
        for (int i = 0; i < EVENTS / KEYS; i++)
            seqs[i] = k + i * KEYS;
        assert_sequential(&log, seqs, EVENTS / KEYS);
    }
    /* Different keys on different lanes did run side by side. */
    assert_true(max_overlap(&log) >= 2);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), EVENTS);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 0);
    free(log.items);
    assert_clean(f);
}

static void test_concurrency_bounded(void **state)
{
    struct fixture *f = *state;
    for (unsigned lanes = 2; lanes <= 4; lanes += 2) {
        unlink(f->log); /* the same fixture for both rounds */
        unlink(f->go);
        struct rs_queue *q = queue_start(f, lanes, 100, RS_ON_FULL_SPOOL);
        /* Events without keys go round the lanes: all of them can run at once. Each waits for the
         * gate, which opens once `lanes` of them have started, however long starting takes. */
        int events = (int)lanes * 3;
        int64_t t0 = now_ms();
        for (int seq = 0; seq < events; seq++)
            assert_int_equal(push(f, q, seq, NULL, true, NULL, 0), 0);
        assert_true(wait_log_records(f, lanes, 20000));
        struct rs_queue_stats stats;
        int most_running = 0;
        bool gate_open = false;
        while (rs_queue_stats(q, &stats),
               stats.delivered < (unsigned long long)events && now_ms() - t0 < scaled_ms(20000)) {
            assert_true(stats.running <= lanes);
            assert_int_equal(stats.queued, events);
            assert_int_equal(stats.waiting + stats.running + stats.delivered, events);
            if ((int)stats.running > most_running)
                most_running = (int)stats.running;
            if (!gate_open) {
                /* Held at the gate: no more than `lanes` started, none ended. */
                assert_int_equal(count_lines(f->log), lanes);
                open_gate(f);
                gate_open = true;
            }
            sleep_ms(10);
        }
        assert_int_equal(stats.delivered, events);
        queue_stop(f, 5000);
        struct run_log log = read_log(f);
        assert_int_equal(count_records(&log, false), events);
        /* Never more than `lanes` at once, and that many did run at once. */
        assert_int_equal(max_overlap(&log), lanes);
        assert_int_equal(most_running, lanes);
        free(log.items);
    }
    assert_clean(f);
}

static void test_multi_key_order(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 4, 100, RS_ON_FULL_SPOOL);
    char k[4][32];
    keys_on_lanes(k, 4);
    /* Each event's keys (key i is on lane i) and how long it runs. An event on several lanes runs
     * from its lowest one; most follow a long run on another of their lanes while their own is
     * idle, so that starting one before it is first on all of its lanes would show. */
    const struct {
        const char *keys[5];
        const char *sleep;
    } events[] = {
        {{k[1]}, "0.15"},
        {{k[0], k[1]}, NULL},
        {{k[3]}, "0.15"},
        {{k[2], k[3]}, NULL},
        {{k[2]}, "0.05"},
        {{k[0]}, "0.1"},
        {{k[1], k[2], k[3]}, NULL},
        {{k[3]}, "0.1"},
        {{k[0], k[3]}, "0.02"},
        {{k[1]}, "0.05"},
        {{k[0], k[1], k[2], k[3]}, "0.02"},
        {{k[2]}, "0.05"},
        {{k[3]}, "0.1"},
        {{k[1], k[3]}, NULL},
        {{k[0]}, "0.02"},
        {{k[2], k[3]}, NULL},
    };
    enum { EVENTS = sizeof(events) / sizeof(events[0]) };
    for (int seq = 0; seq < EVENTS; seq++) {
        size_t n = 0;
        while (events[seq].keys[n])
            n++;
        assert_int_equal(push(f, q, seq, events[seq].sleep, seq == 0, events[seq].keys, n), 0);
    }
    /* The first waits for the gate until the third, on a lane of its own, has run. */
    open_gate_after(f, "start 0", "end 2 hook2");
    wait_delivered(q, EVENTS, 20000);
    queue_stop(f, 5000);
    struct run_log log = read_log(f);
    assert_int_equal(count_records(&log, false), EVENTS);
    /* For each key, its events ran one at a time, in the order they were queued. */
    for (int key = 0; key < 4; key++) {
        int seqs[EVENTS];
        size_t n = 0;
        for (int seq = 0; seq < EVENTS; seq++)
            for (int i = 0; events[seq].keys[i]; i++)
                if (events[seq].keys[i] == k[key])
                    seqs[n++] = seq;
        assert_true(n >= 5);
        assert_sequential(&log, seqs, n);
    }
    assert_true(max_overlap(&log) >= 2);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 0);
    free(log.items);
    assert_clean(f);
}

struct pusher {
    pthread_t thread;
    struct fixture *f;
    struct rs_queue *q;
    int seq;
    int rc;
    _Atomic int64_t started_ms, ended_ms;
};

static void *push_in_thread(void *arg)
{
    struct pusher *p = arg;
    p->started_ms = now_ms();
    p->rc = push(p->f, p->q, p->seq, NULL, false, NULL, 0);
    p->ended_ms = now_ms();
    return NULL;
}

/* Every event ran exactly once, in push order: one lane. */
static void assert_all_once_in_order(struct fixture *f, int events)
{
    struct run_log log = read_log(f);
    int *seqs = calloc((size_t)events, sizeof(*seqs));
    assert_non_null(seqs);
    for (int i = 0; i < events; i++)
        seqs[i] = i;
    assert_sequential(&log, seqs, (size_t)events);
    assert_int_equal(count_records(&log, true), events);
    free(seqs);
    free(log.items);
}

/* Kea's thread never waits for a script: past the memory limit, events wait on disk, and come
 * back in order. */
static void test_full_spools(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 3, RS_ON_FULL_SPOOL);
    enum { EVENTS = 60 };
    /* The first run waits for the gate: memory fills up behind it. */
    int64_t t0 = now_ms();
    for (int seq = 0; seq < EVENTS; seq++)
        assert_int_equal(push(f, q, seq, NULL, seq == 0, NULL, 0), 0);
    /* No push waited for the gate (shut, it would have waited for ever). */
    assert_true(now_ms() - t0 < slack_ms());
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.queued, EVENTS);
    assert_int_equal(stats.spooled, EVENTS - 3);
    assert_int_equal(stats.backlog, EVENTS - 3);
    assert_int_equal(stats.written, EVENTS);
    assert_int_equal(stats.waited + stats.dropped, 0);
    /* Said when the spilling began, and only then. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_QUEUE_FULL), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_QUEUE_FULL,
                                    "(hook3): 3 events wait in memory; the next ones wait in "
                                    "the spool "),
                     1);
    open_gate(f);
    wait_delivered(q, EVENTS, 20000);
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.backlog, 0);
    queue_stop(f, 5000);
    assert_all_once_in_order(f, EVENTS);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_SPOOL,
                       ": the spool is drained: 57 events that waited there are back in memory"),
        1);
    /* Everything was acknowledged: nothing is left for a next start. */
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SPOOL, "stay in the spool"), 0);
    assert_int_equal(rec_count_severity(&f->rec, RS_ERROR), 0);
    assert_clean(f);
}

/* "block" waits for room, but never longer than RS_QUEUE_BLOCK_MAX_MS: then the event spools. */
static void test_full_blocks_a_bounded_time(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 3, RS_ON_FULL_BLOCK);
    for (int seq = 0; seq < 3; seq++)
        assert_int_equal(push(f, q, seq, NULL, seq == 0, NULL, 0), 0);
    /* The gate stays shut: the fourth waits its maximum, then goes to the spool. */
    struct pusher p = {.f = f, .q = q, .seq = 3, .rc = -1};
    assert_int_equal(pthread_create(&p.thread, NULL, push_in_thread, &p), 0);
    pthread_join(p.thread, NULL);
    assert_int_equal(p.rc, 0);
    assert_in_range(p.ended_ms - p.started_ms, RS_QUEUE_BLOCK_MAX_MS,
                    RS_QUEUE_BLOCK_MAX_MS + slack_ms());
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.waited, 1);
    assert_int_equal(stats.spooled, 1);
    /* Said when the wait began, not when it ended. */
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_QUEUE_FULL,
                                    "(hook3): queue full (3 events); Kea waits for room, 1000 ms "
                                    "at most, then the event goes to the spool"),
                     1);
    /* Events behind one on disk go to disk too, at once, to keep their order. */
    int64_t t0 = now_ms();
    assert_int_equal(push(f, q, 4, NULL, false, NULL, 0), 0);
    assert_true(now_ms() - t0 < RS_QUEUE_BLOCK_MAX_MS);
    /* Room comes while one waits: it goes to memory. */
    open_gate(f);
    wait_delivered(q, 5, 20000);
    assert_int_equal(push(f, q, 5, NULL, false, NULL, 0), 0);
    wait_delivered(q, 6, 20000);
    queue_stop(f, 5000);
    assert_all_once_in_order(f, 6);
    assert_clean(f);
}

static void test_full_drops(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 2, RS_ON_FULL_DROP);
    assert_int_equal(push(f, q, 0, NULL, true, NULL, 0), 0);
    assert_int_equal(push(f, q, 1, NULL, false, NULL, 0), 0);
    int64_t t0 = now_ms();
    for (int seq = 2; seq < 7; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), -ENOSPC);
    /* Dropping never waits (for room, the gate being shut, it would wait for ever). */
    assert_true(now_ms() - t0 < slack_ms());
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.queued, 2);
    assert_int_equal(stats.dropped, 5);
    /* Said once, for the first drop. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_QUEUE_FULL), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_QUEUE_FULL, "(hook2): queue full (2 events)"),
                     1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_QUEUE_FULL, "; 1 dropped so far"), 1);
    open_gate(f);
    wait_delivered(q, 2, 10000);
    /* Room again. */
    assert_int_equal(push(f, q, 7, NULL, false, NULL, 0), 0);
    wait_delivered(q, 3, 10000);
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.queued, 3);
    assert_int_equal(stats.dropped, 5);
    queue_stop(f, 5000);
    struct run_log log = read_log(f);
    int seqs[] = {0, 1, 7};
    assert_sequential(&log, seqs, 3);
    assert_int_equal(count_records(&log, false), 3);
    assert_int_equal(rec_count(&f->rec, RS_MSG_QUEUE_FULL), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 0);
    /* A dropped event was never written either: nothing comes back at a restart. */
    q = queue_start(f, 1, 2, RS_ON_FULL_DROP);
    queue_stop(f, 5000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SPOOL), 0);
    free(log.items);
    assert_clean(f);
}

/* The spool refuses (its limit, a full disk): an event stays in memory while there is room,
 * else it is dropped; both are counted and said, and Kea's thread never waits. */
static void test_spool_refuses(void **state)
{
    struct fixture *f = *state;
    struct rs_queue_config config = exec_config(f, 1, 3, RS_ON_FULL_SPOOL);
    config.spool_limit_bytes = 600; /* about three events */
    struct rs_queue *q = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), 0);
    f->q = q;
    for (int seq = 0; seq < 10; seq++) {
        int rc = push(f, q, seq, NULL, seq == 0, NULL, 0);
        assert_true(rc == 0 || rc == -ENOSPC);
    }
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.queued + stats.dropped, 10);
    assert_true(stats.written >= 1 && stats.written < 10);
    assert_true(stats.dropped >= 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SPOOL_FAILED), 1); /* the first, then every 1000th */
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SPOOL_FAILED, "cannot write to the spool "), 1);
    open_gate(f);
    wait_delivered(q, stats.queued, 20000);
    queue_stop(f, 5000);
    struct run_log log = read_log(f);
    assert_int_equal(count_records(&log, false), (int)stats.queued);
    free(log.items);
    assert_clean(f);
}

/* A stop lets runs under way finish, leaves the rest on disk, and the next start delivers it
 * first: each event exactly once. */
static void test_stop_leaves_the_rest_for_the_next_start(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 100, RS_ON_FULL_SPOOL);
    enum { EVENTS = 10 };
    for (int seq = 0; seq < EVENTS; seq++)
        assert_int_equal(push(f, q, seq, NULL, seq == 0, NULL, 0), 0);
    assert_true(wait_log_records(f, 1, 5000));
    /* The first is under way: it finishes within the drain time, the others wait for the next
     * start. */
    open_gate_after(f, "start 0", "start 0");
    int64_t t0 = now_ms();
    queue_stop(f, 10000);
    assert_true(now_ms() - t0 < 10000);
    struct run_log log = read_log(f);
    size_t ran = count_records(&log, false);
    free(log.items);
    assert_true(ran >= 1 && ran < EVENTS);
    char needle[80];
    snprintf(needle, sizeof(needle), ": %zu events not yet delivered stay in the spool ",
             EVENTS - ran);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SPOOL, needle), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 0);
    /* The next start: those first, then new ones. */
    q = queue_start(f, 1, 100, RS_ON_FULL_SPOOL);
    snprintf(needle, sizeof(needle), ": %zu events left in the spool ", EVENTS - ran);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SPOOL, needle), 1);
    for (int seq = EVENTS; seq < EVENTS + 5; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    wait_delivered(q, EVENTS + 5 - ran, 20000);
    queue_stop(f, 5000);
    assert_all_once_in_order(f, EVENTS + 5);
    assert_clean(f);
}

/* A run still going at the end of the drain time is killed, and delivered again next time. */
static void test_stop_kills_what_overstays(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 100, RS_ON_FULL_SPOOL);
    /* A run that would take 60 s, and three behind it. */
    assert_int_equal(push(f, q, 0, "60", false, NULL, 0), 0);
    for (int seq = 1; seq < 4; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    assert_true(wait_log_records(f, 1, 5000));
    int64_t t0 = now_ms();
    queue_stop(f, 100);
    assert_in_range(now_ms() - t0, 90, 100 + slack_ms());
    assert_int_equal(count_lines(f->log), 1); /* "start 0", never its end */
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SHUTDOWN_KILL, "(hook0)"), 1);
    /* Killed by the stop is no failed attempt: no retry, no dead letter. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_RETRY) + rec_count(&f->rec, RS_MSG_DEAD_LETTER), 0);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_SPOOL, ": 4 events not yet delivered stay in the spool "),
        1);
    assert_clean(f);
}

/* Two lanes: one held, the other delivering. At a stop, what was delivered out of order is noted,
 * and the next start delivers only the others. */
static void test_exactly_once_across_a_stop(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 2, 100, RS_ON_FULL_SPOOL);
    char keys[2][32];
    keys_on_lanes(keys, 2);
    const char *held[] = {keys[0]}, *free_lane[] = {keys[1]};
    enum { EVENTS = 20 };
    for (int seq = 0; seq < EVENTS; seq++)
        assert_int_equal(push(f, q, seq, NULL, seq == 0, seq % 2 ? free_lane : held, 1), 0);
    /* Lane 1 delivers its 10 while lane 0 waits at the gate with its first. */
    wait_delivered(q, EVENTS / 2, 20000);
    queue_stop(f, 50);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 1);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_SPOOL, ": 10 events not yet delivered stay in the spool "),
        1);
    open_gate(f);
    q = queue_start(f, 2, 100, RS_ON_FULL_SPOOL);
    wait_delivered(q, EVENTS / 2, 20000);
    queue_stop(f, 5000);
    struct run_log log = read_log(f);
    /* Each ended once (event 0 also started before the stop, and was killed). */
    assert_int_equal(count_records(&log, false), EVENTS);
    for (int seq = 0; seq < EVENTS; seq++) {
        int ends = 0;
        for (size_t i = 0; i < log.nr; i++)
            ends += !log.items[i].start && log.items[i].seq == seq;
        assert_int_equal(ends, 1);
    }
    int even[EVENTS / 2];
    for (int i = 0; i < EVENTS / 2; i++)
        even[i] = 2 * i;
    free(log.items);
    /* Lane 0's events kept their order across the stop (the killed start of 0 aside). */
    struct run_log after = read_log(f);
    struct run_log tail = {after.items + 1 + EVENTS / 2 * 2, after.nr - 1 - EVENTS / 2 * 2};
    assert_sequential(&tail, even, EVENTS / 2);
    free(after.items);
    assert_clean(f);
}

/* The spool's dead letters, read back: how many, and the first one's hook and attempts. */
static size_t read_dead_letters(struct fixture *f, char *hook, size_t hook_size, unsigned *attempts)
{
    char *dir = NULL;
    assert_true(asprintf(&dir, "%s/" RS_QUEUE_DEAD_LETTERS, f->spool) > 0);
    struct rs_spool_config sc = {dir, 0, 0, 0};
    struct rs_spool_recovery found;
    struct rs_spool *spool = NULL;
    assert_int_equal(rs_spool_open(&spool, &sc, &found), 0);
    size_t n = 0;
    struct rs_spool_record record;
    while (rs_spool_read(spool, &record) == 0) {
        struct rs_event_record ev;
        assert_int_equal(rs_event_record_decode(record.data, record.len, &ev), 0);
        if (n++ == 0) {
            snprintf(hook, hook_size, "%s", ev.hook);
            *attempts = ev.attempts;
        }
        rs_event_record_release(&ev);
        free(record.data);
    }
    rs_spool_close(spool);
    free(dir);
    return n;
}

/* A run that times out is a failed delivery: tried again, then set aside; the next one runs. */
static void test_timeouts_end_in_dead_letters(void **state)
{
    struct fixture *f = *state;
    struct rs_queue_config config = exec_config(f, 1, 10, RS_ON_FULL_SPOOL);
    config.timeout_ms = 150;
    struct rs_queue *q = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), 0);
    f->q = q;
    assert_int_equal(push(f, q, 0, "60", false, NULL, 0), 0);
    assert_int_equal(push(f, q, 1, NULL, false, NULL, 0), 0);
    int64_t t0 = now_ms();
    wait_delivered(q, 1, 20000);
    /* Three runs of 150 ms, each killed (SIGTERM, then SIGKILL 1 s later at worst). */
    assert_true(now_ms() - t0 >= 3 * 150);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.retried, 2);
    assert_int_equal(stats.dead, 1);
    queue_stop(f, 5000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 3);
    assert_int_equal(rec_count(&f->rec, RS_MSG_RETRY), 2);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_RETRY,
                                    "(hook0): delivery failed (timed out); trying again (attempt "
                                    "2 of 3)"),
                     1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_DEAD_LETTER), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_DEAD_LETTER,
                                    "(hook0): delivery failed 3 times (timed out); the event is "
                                    "set aside in "),
                     1);
    struct run_log log = read_log(f);
    /* Three starts of 0, then 1 in full. */
    assert_int_equal(log.nr, 5);
    for (int i = 0; i < 3; i++)
        assert_true(log.items[i].start && log.items[i].seq == 0);
    assert_true(log.items[3].start && log.items[3].seq == 1);
    assert_true(!log.items[4].start && log.items[4].seq == 1);
    free(log.items);
    char hook[32] = "";
    unsigned attempts = 0;
    assert_int_equal(read_dead_letters(f, hook, sizeof(hook), &attempts), 1);
    assert_string_equal(hook, "hook0");
    assert_int_equal(attempts, 3);
    assert_clean(f);
}

/* A script that cannot be executed (deleted after load): each event fails its attempts, is set
 * aside to be replayed once the script is back, and the next one is tried; nothing waits for
 * ever behind the first. */
static void test_script_gone_ends_in_dead_letters(void **state)
{
    struct fixture *f = *state;
    if (under_valgrind())
        skip(); /* the failure cannot come back from posix_spawn() there (testutil.h) */
    char *gone = NULL;
    assert_true(asprintf(&gone, "%s/gone.sh", f->dir) > 0);
    struct rs_queue_config config = exec_config(f, 1, 10, RS_ON_FULL_SPOOL);
    config.script = gone;
    struct rs_queue *q = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), 0);
    f->q = q;
    for (int seq = 0; seq < 3; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    struct rs_queue_stats stats;
    int64_t end = now_ms() + scaled_ms(10000);
    do {
        sleep_ms(10);
        rs_queue_stats(q, &stats);
    } while (stats.dead < 3 && now_ms() < end);
    assert_int_equal(stats.dead, 3);
    queue_stop(f, 5000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_EXEC_FAILED), 9);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_DEAD_LETTER,
                                    "delivery failed 3 times (the script could not be executed)"),
                     3);
    char hook[32] = "";
    unsigned attempts = 0;
    assert_int_equal(read_dead_letters(f, hook, sizeof(hook), &attempts), 3);
    assert_string_equal(hook, "hook0");
    free(gone);
    assert_clean(f);
}

/* An exit status other than 0 is the script's answer, not a failed delivery. */
static void test_exit_status_is_a_delivery(void **state)
{
    struct fixture *f = *state;
    char *failing =
        write_file(f->dir, "fail.sh", "#!/bin/sh\necho \"$SEQ\" >> \"$LOG\"\nexit 3\n", 0755);
    struct rs_queue_config config = exec_config(f, 1, 10, RS_ON_FULL_SPOOL);
    config.script = failing;
    struct rs_queue *q = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), 0);
    f->q = q;
    for (int seq = 0; seq < 3; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    wait_delivered(q, 3, 20000);
    queue_stop(f, 5000);
    assert_int_equal(count_lines(f->log), 3);
    assert_int_equal(rec_count(&f->rec, RS_MSG_EXIT_STATUS), 3);
    assert_int_equal(rec_count(&f->rec, RS_MSG_RETRY) + rec_count(&f->rec, RS_MSG_DEAD_LETTER), 0);
    free(failing);
    assert_clean(f);
}

static struct rs_queue *deliver_queue_start(struct fixture *f, struct sink *s, unsigned limit)
{
    struct rs_queue_config config = exec_config(f, 1, limit, RS_ON_FULL_SPOOL);
    config.deliver = sink_deliver;
    config.deliver_ctx = s;
    struct rs_queue *q = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), 0);
    f->q = q;
    return q;
}

static void test_deliver_batches_in_order(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    struct rs_queue *q = deliver_queue_start(f, &sink, 1000);
    const char *key[] = {"10.0.0.1"};
    assert_int_equal(push(f, q, 0, NULL, false, key, 1), 0);
    sink_wait_held(s);
    /* 299 more while the first delivery is busy: they wait, and go in batches. */
    for (int seq = 1; seq < MANY; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, seq % 2 ? key : NULL, seq % 2), 0);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.running, 1);
    assert_int_equal(stats.waiting, MANY - 1);
    sink_release(s);
    wait_delivered(q, MANY, 10000);
    queue_stop(f, 5000);
    assert_int_equal(s->bad, 0);
    assert_int_equal(s->nr, MANY);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(s->seqs[i], i);
    /* The first alone, then the 299 in as few batches as the batch limit allows. */
    assert_int_equal(s->sizes[0], 1);
    assert_int_equal(s->calls, 3);
    assert_int_equal(s->sizes[1], RS_QUEUE_MAX_BATCH);
    assert_int_equal(s->sizes[2], MANY - 1 - RS_QUEUE_MAX_BATCH);
    /* Nothing was started: the callback is the delivery. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_STARTED), 0);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN) + rec_count_severity(&f->rec, RS_ERROR),
                     0);
    assert_clean(f);
}

/* A worker that dies on one event: it gets max_attempts tries, is set aside, and the events
 * behind it are delivered, in order. */
static void test_deliver_poison_is_set_aside(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    sink_release(s);
    s->poison = 5;
    struct rs_queue *q = deliver_queue_start(f, &sink, 100);
    enum { EVENTS = 16 };
    for (int seq = 0; seq < EVENTS; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    wait_delivered(q, EVENTS - 1, 20000);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.dead, 1);
    queue_stop(f, 5000);
    assert_int_equal(s->poisoned, 3);
    assert_int_equal(s->bad, 0);
    assert_int_equal(s->nr, EVENTS - 1);
    for (int i = 0, seq = 0; i < s->nr; i++, seq++) {
        if (seq == 5)
            seq++;
        assert_int_equal(s->seqs[i], seq);
    }
    assert_int_equal(rec_count(&f->rec, RS_MSG_RETRY), 2);
    assert_int_equal(rec_count(&f->rec, RS_MSG_DEAD_LETTER), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_DEAD_LETTER,
                                    "(hook5): delivery failed 3 times (the worker exited)"),
                     1);
    char hook[32] = "";
    unsigned attempts = 0;
    assert_int_equal(read_dead_letters(f, hook, sizeof(hook), &attempts), 1);
    assert_string_equal(hook, "hook5");
    assert_int_equal(attempts, 3);
    /* Set aside for good: a restart does not deliver it again. */
    sink_init(s);
    sink_release(s);
    q = deliver_queue_start(f, &sink, 100);
    queue_stop(f, 5000);
    assert_int_equal(s->calls, 0);
    assert_clean(f);
}

struct stopper {
    pthread_t thread;
    struct rs_queue *q;
    unsigned drain_ms;
    _Atomic bool done;
};

static void *stop_in_thread(void *arg)
{
    struct stopper *s = arg;
    rs_queue_stop(s->q, s->drain_ms);
    s->done = true;
    return NULL;
}

static void test_deliver_stop_after_drain(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    struct rs_queue *q = deliver_queue_start(f, &sink, 100);
    assert_int_equal(push(f, q, 0, NULL, false, NULL, 0), 0);
    sink_wait_held(s);
    for (int seq = 1; seq < 6; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    /* The callback cannot be interrupted: stop waits for it (a worker's own deadline, set by
     * rs_worker_give_up(), bounds it), and leaves the rest in the spool. */
    struct stopper st = {.q = q, .drain_ms = 50, .done = false};
    f->q = NULL; /* stopped by the thread */
    assert_int_equal(pthread_create(&st.thread, NULL, stop_in_thread, &st), 0);
    sleep_ms(200);
    assert_false(st.done);
    sink_release(s);
    pthread_join(st.thread, NULL);
    assert_int_equal(s->nr, 1);
    assert_int_equal(s->calls, 1);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_SPOOL, ": 5 events not yet delivered stay in the spool "),
        1);
    /* Next time, they come first. */
    sink_init(s);
    sink_release(s);
    q = deliver_queue_start(f, &sink, 100);
    wait_delivered(q, 5, 20000);
    queue_stop(f, 5000);
    assert_int_equal(s->nr, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s->seqs[i], i + 1);
    assert_clean(f);
}

/* Paused: the delivery under way finishes, nothing else starts, every new event goes to the
 * spool (not memory); resumed: all delivered, in order, once each. */
static void test_pause_spools_and_resume_delivers_in_order(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    struct rs_queue *q = deliver_queue_start(f, &sink, 100);
    const char *key[] = {"10.0.0.1"};
    assert_int_equal(push(f, q, 0, NULL, false, key, 1), 0);
    sink_wait_held(s);
    for (int seq = 1; seq < 4; seq++) /* in memory, behind the one under way */
        assert_int_equal(push(f, q, seq, NULL, false, key, 1), 0);
    assert_true(rs_queue_pause(q));
    assert_false(rs_queue_pause(q));
    enum { EVENTS = 40 };
    for (int seq = 4; seq < EVENTS; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, seq % 3 ? key : NULL, seq % 3 ? 1 : 0), 0);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_true(stats.paused);
    assert_int_equal(stats.backlog, EVENTS - 4);
    assert_int_equal(stats.spooled, EVENTS - 4);
    assert_int_equal(stats.waiting, 3);
    /* The delivery under way finishes; the three in memory wait. */
    sink_release(s);
    wait_delivered(q, 1, 10000);
    sleep_ms(100);
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.delivered, 1);
    assert_int_equal(stats.waiting, 3);
    assert_int_equal(stats.backlog, EVENTS - 4);
    assert_true(rs_queue_resume(q));
    assert_false(rs_queue_resume(q));
    wait_delivered(q, EVENTS, 10000);
    rs_queue_stats(q, &stats);
    assert_false(stats.paused);
    assert_int_equal(stats.backlog, 0);
    queue_stop(f, 5000);
    assert_int_equal(s->bad, 0);
    assert_int_equal(s->nr, EVENTS);
    for (int i = 0; i < EVENTS; i++)
        assert_int_equal(s->seqs[i], i);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SPOOL, ": paused: "), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SPOOL, ": resumed; 36 events wait"), 1);
    /* Pausing is no reason to say memory is full. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_QUEUE_FULL), 0);
    assert_clean(f);
}

/* The age of a backlog counts from its events' arrival: paused, they wait on disk only, and
 * loaded back into memory they keep the time they came. */
static void test_oldest_counts_from_arrival_on_disk_too(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    struct rs_queue *q = deliver_queue_start(f, &sink, 100);
    assert_true(rs_queue_pause(q));
    int64_t before = rs_now_ms();
    assert_int_equal(push(f, q, 0, NULL, false, NULL, 0), 0);
    int64_t after = rs_now_ms();
    sleep_ms(20);
    assert_int_equal(push(f, q, 1, NULL, false, NULL, 0), 0);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.waiting, 0);
    assert_int_equal(stats.backlog, 2);
    assert_true(stats.oldest_ms >= before && stats.oldest_ms <= after);

    assert_true(rs_queue_resume(q));
    sink_wait_held(s); /* the first, loaded back, under way */
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.backlog, 0);
    assert_true(stats.oldest_ms >= before && stats.oldest_ms <= after);
    sink_release(s);
    wait_delivered(q, 2, 10000);
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.oldest_ms, 0);
    queue_stop(f, 5000);
    assert_int_equal(s->nr, 2);
    assert_clean(f);
}

/* Scripts run side by side on several lanes: paused, none starts; resumed, each key's events
 * run one after the other, in the order queued. */
static void test_pause_keeps_per_key_order_on_lanes(void **state)
{
    struct fixture *f = *state;
    enum { LANES = 4, EVENTS = 24 };
    char keys[LANES][32];
    keys_on_lanes(keys, LANES);
    struct rs_queue *q = queue_start(f, LANES, 4, RS_ON_FULL_DROP);
    assert_true(rs_queue_pause(q));
    for (int seq = 0; seq < EVENTS; seq++) {
        const char *key[] = {keys[seq % LANES]};
        /* "drop" drops nothing while paused: all go to the spool. */
        assert_int_equal(push(f, q, seq, NULL, false, key, 1), 0);
    }
    sleep_ms(100);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.delivered, 0);
    assert_int_equal(stats.dropped, 0);
    assert_int_equal(stats.backlog, EVENTS);
    assert_int_equal(count_lines(f->log), 0);
    rs_queue_resume(q);
    wait_delivered(q, EVENTS, 20000);
    queue_stop(f, 5000);
    struct run_log log = read_log(f);
    assert_int_equal(count_records(&log, false), EVENTS);
    for (int lane = 0; lane < LANES; lane++) {
        int seqs[EVENTS / LANES];
        for (int i = 0; i < EVENTS / LANES; i++)
            seqs[i] = lane + i * LANES;
        assert_sequential(&log, seqs, EVENTS / LANES);
    }
    free(log.items);
    assert_clean(f);
}

/* A stop while paused leaves every event in the spool; the next start, not paused, delivers them
 * in order. */
static void test_stop_while_paused_leaves_them_in_the_spool(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    sink_release(s);
    struct rs_queue *q = deliver_queue_start(f, &sink, 100);
    rs_queue_pause(q);
    for (int seq = 0; seq < 5; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    queue_stop(f, 5000);
    assert_int_equal(s->calls, 0);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_SPOOL, ": 5 events not yet delivered stay in the spool "),
        1);
    q = deliver_queue_start(f, &sink, 100);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_false(stats.paused);
    wait_delivered(q, 5, 10000);
    queue_stop(f, 5000);
    assert_int_equal(s->nr, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s->seqs[i], i);
    assert_clean(f);
}

struct listed {
    int n;
    uint64_t seqs[8];
    char hooks[8][16];
    unsigned attempts[8];
};

static void list_one(void *ctx, uint64_t seq, const struct rs_event_record *ev)
{
    struct listed *l = ctx;
    assert_non_null(ev);
    assert_true(l->n < 8);
    l->seqs[l->n] = seq;
    snprintf(l->hooks[l->n], sizeof(l->hooks[0]), "%s", ev->hook);
    l->attempts[l->n] = ev->attempts;
    l->n++;
}

/* Dead letters, as an operator's command sees them: listed (capped, with the total), queued
 * again once the fault is mended (behind what waits, attempts afresh, delivered once), dropped. */
static void test_dead_letters_list_retry_drop(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    sink_release(s);
    struct rs_queue *q = deliver_queue_start(f, &sink, 100);
    struct listed l = {0};
    uint64_t total = 1, moved = 1, left = 1, dropped = 1;
    /* None yet: no error, and nothing made on disk. */
    assert_int_equal(rs_queue_dead_letters_list(q, 10, list_one, &l, &total), 0);
    assert_int_equal(total, 0);
    assert_int_equal(rs_queue_dead_letters_retry(q, 10, &moved, &left), 0);
    assert_int_equal(moved + left, 0);
    assert_int_equal(rs_queue_dead_letters_drop(q, &dropped), 0);
    assert_int_equal(dropped, 0);
    char *dead_dir = NULL;
    assert_true(asprintf(&dead_dir, "%s/" RS_QUEUE_DEAD_LETTERS, f->spool) > 0);
    assert_int_equal(access(dead_dir, F_OK), -1);

    /* Three poisoned: 2, 5 and 7 all "kill the worker" while s->poison says so. */
    for (int seq = 0; seq < 10; seq++) {
        pthread_mutex_lock(&s->lock);
        s->poison = seq == 2 || seq == 5 || seq == 7 ? seq : -1;
        pthread_mutex_unlock(&s->lock);
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
        struct rs_queue_stats stats;
        int64_t end = now_ms() + scaled_ms(10000);
        do {
            sleep_ms(2);
            rs_queue_stats(q, &stats);
        } while (stats.delivered + stats.dead < (unsigned long long)seq + 1 && now_ms() < end);
    }
    pthread_mutex_lock(&s->lock);
    s->poison = -1;
    pthread_mutex_unlock(&s->lock);
    wait_delivered(q, 7, 10000);

    assert_int_equal(rs_queue_dead_letters_list(q, 2, list_one, &l, &total), 0);
    assert_int_equal(total, 3);
    assert_int_equal(l.n, 2); /* capped */
    assert_string_equal(l.hooks[0], "hook2");
    assert_string_equal(l.hooks[1], "hook5");
    assert_int_equal(l.attempts[0], 3);
    assert_true(l.seqs[0] < l.seqs[1]);

    /* Two queued again: behind event 10, which waits in memory meanwhile. */
    rs_queue_pause(q);
    assert_int_equal(push(f, q, 10, NULL, false, NULL, 0), 0);
    assert_int_equal(rs_queue_dead_letters_retry(q, 2, &moved, &left), 0);
    assert_int_equal(moved, 2);
    assert_int_equal(left, 1);
    rs_queue_resume(q);
    wait_delivered(q, 10, 10000);
    assert_int_equal(s->bad, 0);
    assert_int_equal(s->nr, 10);
    int expect[] = {0, 1, 3, 4, 6, 8, 9, 10, 2, 5};
    for (int i = 0; i < 10; i++)
        assert_int_equal(s->seqs[i], expect[i]);
    l.n = 0;
    assert_int_equal(rs_queue_dead_letters_list(q, 10, list_one, &l, &total), 0);
    assert_int_equal(total, 1);
    assert_string_equal(l.hooks[0], "hook7");

    assert_int_equal(rs_queue_dead_letters_drop(q, &dropped), 0);
    assert_int_equal(dropped, 1);
    assert_int_equal(rs_queue_dead_letters_list(q, 10, list_one, &l, &total), 0);
    assert_int_equal(total, 0);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.dead, 3);
    assert_int_equal(stats.queued, 13);
    queue_stop(f, 5000);
    /* Nothing delivered twice after a restart either. */
    sink_init(s);
    sink_release(s);
    q = deliver_queue_start(f, &sink, 100);
    queue_stop(f, 5000);
    assert_int_equal(s->calls, 0);
    free(dead_dir);
    assert_clean(f);
}

/* A dead letter stays one while kea-runscript-spool reads them: the command says busy, at once
 * rather than after the spool's usual wait. */
static void test_dead_letters_busy(void **state)
{
    struct fixture *f = *state;
    struct sink *s = &sink;
    sink_init(s);
    sink_release(s);
    s->poison = 0;
    struct rs_queue *q = deliver_queue_start(f, &sink, 100);
    assert_int_equal(push(f, q, 0, NULL, false, NULL, 0), 0);
    struct rs_queue_stats stats;
    int64_t end = now_ms() + scaled_ms(10000);
    do {
        sleep_ms(2);
        rs_queue_stats(q, &stats);
    } while (stats.dead < 1 && now_ms() < end);
    assert_int_equal(stats.dead, 1);
    char *dir = NULL;
    assert_true(asprintf(&dir, "%s/" RS_QUEUE_DEAD_LETTERS, f->spool) > 0);
    struct rs_spool_config sc = {dir, 0, 0, 0};
    struct rs_spool_recovery found;
    struct rs_spool *tool = NULL;
    assert_int_equal(rs_spool_open(&tool, &sc, &found), 0);
    struct listed l = {0};
    uint64_t total, moved, left, dropped;
    assert_int_equal(rs_queue_dead_letters_list(q, 10, list_one, &l, &total), -EBUSY);
    assert_int_equal(rs_queue_dead_letters_retry(q, 10, &moved, &left), -EBUSY);
    assert_int_equal(rs_queue_dead_letters_drop(q, &dropped), -EBUSY);
    rs_spool_close(tool);
    assert_int_equal(rs_queue_dead_letters_list(q, 10, list_one, &l, &total), 0);
    assert_int_equal(total, 1);
    queue_stop(f, 5000);
    free(dir);
    assert_clean(f);
}

int main(void)
{
    /* A watchdog: a hang fails the run instead of stalling it. */
    alarm(under_valgrind() ? 600 : 120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_key_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_key_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_spools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_blocks_a_bounded_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_leaves_the_rest_for_the_next_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_kills_what_overstays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exactly_once_across_a_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts_end_in_dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_gone_ends_in_dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_status_is_a_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batches_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_poison_is_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_stop_after_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_spools_and_resume_delivers_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oldest_counts_from_arrival_on_disk_too, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pause_keeps_per_key_order_on_lanes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_paused_leaves_them_in_the_spool, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters_list_retry_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters_busy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
