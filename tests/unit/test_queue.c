#include "queue.h"
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

/* --- payloads: what the tests queue --- */

/* A queued event of these tests: its hook name and environment, owned. */
struct payload {
    char hook[32];
    char **envp; /* NULL-terminated, each string malloc'ed */
};

static int payloads_alive; /* every payload queued must be released once */

static char **payload_envp(void *ctx, void *data)
{
    (void)ctx;
    struct payload *p = data;
    size_t n = 0;
    while (p->envp[n])
        n++;
    char **envp = malloc((n + 1) * sizeof(*envp));
    if (envp)
        memcpy(envp, p->envp, (n + 1) * sizeof(*envp));
    return envp;
}

static void payload_release(void *ctx, void *data)
{
    (void)ctx;
    struct payload *p = data;
    for (char **e = p->envp; *e; e++)
        free(*e);
    free(p->envp);
    free(p);
    __atomic_fetch_sub(&payloads_alive, 1, __ATOMIC_SEQ_CST);
}

#define PAYLOADS .envp_of = payload_envp, .release = payload_release

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
    int bad; /* hook and SEQ disagree, or too many */
};

static void sink_deliver(void *ctx, const char *const hooks[], char *const *const envps[],
                         size_t count)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    if (s->calls < MANY + 16)
        s->sizes[s->calls] = count;
    s->calls++;
    for (size_t i = 0; i < count; i++) {
        int seq = -1, hook_seq = -2;
        for (char *const *e = envps[i]; *e; e++)
            sscanf(*e, "SEQ=%d", &seq);
        sscanf(hooks[i], "hook%d", &hook_seq);
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
}

/* Static, its lock never destroyed: a failed test's teardown may still have to release it. */
static struct sink sink = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sink_init(struct sink *s)
{
    pthread_mutex_lock(&s->lock);
    s->hold = true;
    s->held = false;
    s->calls = s->nr = s->bad = 0;
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
    free(f);
    return 0;
}

/* Nothing of the queue is left: descriptor, thread, child or zombie. */
static void assert_clean(struct fixture *f)
{
    assert_resources_back(&f->before);
    assert_int_equal(__atomic_load_n(&payloads_alive, __ATOMIC_SEQ_CST), 0);
}

static struct rs_queue *queue_start(struct fixture *f, unsigned lanes, unsigned limit, bool drop)
{
    struct rs_queue_config config = {.script = f->script,
                                     PAYLOADS,
                                     .timeout_ms = 0,
                                     .limit = limit,
                                     .lanes = lanes,
                                     .drop_when_full = drop};
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
    const char *const envp[] = {"PATH=/usr/bin:/bin", seq_var, log_var, sleep_var, go_var};
    const size_t nr = sizeof(envp) / sizeof(*envp);
    struct payload *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    snprintf(p->hook, sizeof(p->hook), "%s", hook);
    p->envp = calloc(nr + 1, sizeof(*p->envp));
    assert_non_null(p->envp);
    for (size_t i = 0; i < nr; i++)
        assert_non_null(p->envp[i] = strdup(envp[i]));
    uint64_t hashes[8];
    assert_true(nr_keys <= 8);
    for (size_t i = 0; i < nr_keys; i++)
        hashes[i] = rs_queue_key(keys[i]);
    __atomic_fetch_add(&payloads_alive, 1, __ATOMIC_SEQ_CST);
    int rc = rs_queue_push(q, p->hook, p, hashes, nr_keys);
    if (rc == -ENOMEM)
        payload_release(NULL, p);
    return rc;
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

static void no_delivery(void *ctx, const char *const hooks[], char *const *const envps[],
                        size_t count)
{
    (void)ctx;
    (void)hooks;
    (void)envps;
    (void)count;
}

static void test_bad_config(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = NULL;
    struct rs_queue_config config = {.script = f->script, .limit = 10, .lanes = 0, PAYLOADS};
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
    /* A queue must know how to turn what it holds into a run, and how to let go of it. */
    config.lanes = 1;
    config.deliver = NULL;
    config.envp_of = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    config.envp_of = payload_envp;
    config.release = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), -EINVAL);
    assert_null(q);
    assert_int_equal(rec_count(&f->rec, RS_MSG_COUNT), 0);
    assert_clean(f);
}

static void test_same_key_in_order(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 4, 100, false);
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
        struct rs_queue *q = queue_start(f, lanes, 100, false);
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
    struct rs_queue *q = queue_start(f, 4, 100, false);
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
    _Atomic int64_t started_ms;
    _Atomic bool done;
};

static void *push_in_thread(void *arg)
{
    struct pusher *p = arg;
    p->started_ms = now_ms();
    p->rc = push(p->f, p->q, p->seq, NULL, false, NULL, 0);
    p->done = true;
    return NULL;
}

static void test_full_blocks(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 3, false);
    /* The first run waits for the gate: the queue fills up behind it. */
    for (int seq = 0; seq < 3; seq++)
        assert_int_equal(push(f, q, seq, NULL, seq == 0, NULL, 0), 0);
    struct pusher p = {.f = f, .q = q, .seq = 3, .rc = -1, .done = false};
    assert_int_equal(pthread_create(&p.thread, NULL, push_in_thread, &p), 0);
    sleep_ms(300);
    /* Full: the fourth push waits. */
    assert_false(p.done);
    struct rs_queue_stats stats;
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.queued, 3);
    assert_int_equal(stats.running + stats.waiting, 3);
    int64_t opened_ms = now_ms();
    open_gate(f);
    pthread_join(p.thread, NULL);
    int64_t joined_ms = now_ms();
    assert_true(p.done);
    assert_int_equal(p.rc, 0);
    /* More, from here: each waits for room in turn, none is lost. */
    for (int seq = 4; seq < 12; seq++) {
        assert_int_equal(push(f, q, seq, "0.02", false, NULL, 0), 0);
        rs_queue_stats(q, &stats);
        assert_true(stats.running + stats.waiting <= 3);
    }
    wait_delivered(q, 12, 20000);
    rs_queue_stats(q, &stats);
    assert_int_equal(stats.queued, 12);
    assert_int_equal(stats.dropped, 0);
    queue_stop(f, 5000);
    struct run_log log = read_log(f);
    int seqs[12];
    for (int i = 0; i < 12; i++)
        seqs[i] = i;
    /* One lane: all in push order. */
    assert_sequential(&log, seqs, 12);
    /* Kea was held up: said once (the first wait), and only that. */
    assert_true(stats.waited >= 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_QUEUE_FULL), 1);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_QUEUE_FULL, "(hook3): queue full (3 events), Kea waited "),
        1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_QUEUE_FULL, " ms for room; waits so far: 1"),
                     1);
    /* The fourth push waited until the gate opened, and no longer than it took to come back.
     * Its wait began a moment after its thread started: half the window allows for a thread
     * the scheduler keeps waiting. */
    char *full = rec_text(&f->rec, RS_MSG_QUEUE_FULL, 0);
    long long waited_ms = -1;
    assert_int_equal(sscanf(strstr(full, "Kea waited "), "Kea waited %lld ms", &waited_ms), 1);
    assert_in_range(waited_ms, (opened_ms - p.started_ms) / 2, joined_ms - p.started_ms + 2);
    free(full);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 1);
    free(log.items);
    assert_clean(f);
}

static void test_full_drops(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 2, true);
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
    free(log.items);
    assert_clean(f);
}

static void test_stop_drains(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 2, 100, false);
    for (int seq = 0; seq < 10; seq++)
        assert_int_equal(push(f, q, seq, "0.02", false, NULL, 0), 0);
    /* At once: stop delivers what is queued. */
    int64_t t0 = now_ms();
    queue_stop(f, 10000);
    assert_true(now_ms() - t0 < 10000); /* within the drain time: nothing killed */
    struct run_log log = read_log(f);
    assert_int_equal(count_records(&log, true), 10);
    assert_int_equal(count_records(&log, false), 10);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 10);
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    free(log.items);
    assert_clean(f);
}

static void test_stop_kills_and_reports(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 1, 100, false);
    /* A run that would take 30 s, and three behind it. */
    assert_int_equal(push(f, q, 0, "30", false, NULL, 0), 0);
    for (int seq = 1; seq < 4; seq++)
        assert_int_equal(push(f, q, seq, NULL, false, NULL, 0), 0);
    assert_true(wait_log_records(f, 1, 5000));
    int64_t t0 = now_ms();
    queue_stop(f, 100);
    int64_t elapsed = now_ms() - t0;
    assert_in_range(elapsed, 90, 100 + slack_ms());
    struct run_log log = read_log(f);
    assert_int_equal(log.nr, 1); /* "start 0", never its end */
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SHUTDOWN_KILL, "(hook0)"), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 3);
    for (int seq = 1; seq < 4; seq++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "(hook%d): not delivered", seq);
        assert_int_equal(rec_count_text(&f->rec, RS_MSG_UNDELIVERED, needle), 1);
    }
    free(log.items);
    assert_clean(f);
}

static void test_stop_summarises_many_undelivered(void **state)
{
    struct fixture *f = *state;
    struct rs_queue *q = queue_start(f, 2, 100, false);
    char keys[2][32];
    keys_on_lanes(keys, 2);
    /* Both lanes held by a run waiting for a gate that never opens; 25 events behind them,
     * including events on both lanes, reported once each. */
    const char *both[] = {keys[0], keys[1]};
    assert_int_equal(push(f, q, 0, NULL, true, both, 1), 0);
    assert_int_equal(push(f, q, 1, NULL, true, both + 1, 1), 0);
    for (int seq = 2; seq < 27; seq++)
        assert_int_equal(
            push(f, q, seq, NULL, false, seq % 5 ? both + seq % 2 : both, seq % 5 ? 1 : 2), 0);
    assert_true(wait_log_records(f, 2, 5000));
    queue_stop(f, 50);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 2);
    /* 20 one by one, then the total. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 21);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_UNDELIVERED, ": not delivered before unload"),
                     20);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_UNDELIVERED, ": 25 events in all were not"), 1);
    assert_int_equal(count_lines(f->log), 2);
    assert_clean(f);
}

static void test_timeout_per_run(void **state)
{
    struct fixture *f = *state;
    struct rs_queue_config config = {
        .script = f->script, .timeout_ms = 150, .limit = 10, .lanes = 1, PAYLOADS};
    struct rs_queue *q = NULL;
    assert_int_equal(rs_queue_start(&q, &config, &f->rec.logger), 0);
    f->q = q;
    assert_int_equal(push(f, q, 0, "30", false, NULL, 0), 0);
    assert_int_equal(push(f, q, 1, NULL, false, NULL, 0), 0);
    int64_t t0 = now_ms();
    wait_delivered(q, 2, 10000);
    assert_in_range(now_ms() - t0, 100, 150 + slack_ms());
    queue_stop(f, 5000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_TIMEOUT, "(hook0): still running"), 1);
    struct run_log log = read_log(f);
    /* The first was cut short; the second ran in full after it. */
    assert_int_equal(log.nr, 3);
    assert_true(log.items[0].start && log.items[0].seq == 0);
    assert_true(log.items[1].start && log.items[1].seq == 1);
    assert_true(!log.items[2].start && log.items[2].seq == 1);
    free(log.items);
    assert_clean(f);
}

static struct rs_queue *deliver_queue_start(struct fixture *f, struct sink *s, unsigned limit)
{
    struct rs_queue_config config = {.script = f->script,
                                     .limit = limit,
                                     .lanes = 1,
                                     .deliver = sink_deliver,
                                     .deliver_ctx = s,
                                     PAYLOADS};
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
    assert_int_equal(rec_count(&f->rec, RS_MSG_COUNT), 0);
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
    /* A delivery cannot be interrupted: stop waits for it, then reports the rest. */
    struct stopper st = {.q = q, .drain_ms = 50, .done = false};
    f->q = NULL; /* stopped by the thread */
    assert_int_equal(pthread_create(&st.thread, NULL, stop_in_thread, &st), 0);
    sleep_ms(200);
    assert_false(st.done);
    sink_release(s);
    pthread_join(st.thread, NULL);
    assert_int_equal(s->nr, 1);
    assert_int_equal(s->calls, 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_UNDELIVERED), 5);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_UNDELIVERED, "(hook5): not delivered"), 1);
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
        cmocka_unit_test_setup_teardown(test_full_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_kills_and_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_summarises_many_undelivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_per_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batches_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_stop_after_drain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
