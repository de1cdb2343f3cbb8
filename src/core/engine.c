#include "engine.h"
#include "counters.h"
#include "job.h"
#include "queue.h"
#include "supervisor.h"
#include "worker.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct rs_engine {
    struct rs_config config;
    struct rs_engine_env env;
    struct rs_queue **queues;         /* per script; NULL for waited-for scripts */
    struct rs_worker **workers;       /* per script; NULL unless "mode": "worker" */
    struct rs_run_counters *counters; /* per script */
    const struct rs_logger *log;
    struct rs_supervisor *supervisor;
    rs_hook_set hooks;
    unsigned short option_codes[RS_EVENT_MAX_OPTIONS];
    size_t nr_option_codes;
};

static void collect_option_codes(struct rs_engine *engine)
{
    for (size_t s = 0; s < engine->config.nr_scripts; s++) {
        const struct rs_script_config *script = &engine->config.scripts[s];
        for (size_t i = 0; i < script->nr_options; i++) {
            bool seen = false;
            for (size_t j = 0; j < engine->nr_option_codes && !seen; j++)
                seen = engine->option_codes[j] == script->options[i];
            if (!seen && engine->nr_option_codes < RS_EVENT_MAX_OPTIONS)
                engine->option_codes[engine->nr_option_codes++] = script->options[i];
        }
    }
}

static size_t deliver_to_worker(void *ctx, const char *const hooks[], char *const *const envps[],
                                size_t count, const char **failure)
{
    return rs_worker_deliver_batch(ctx, hooks, envps, count, failure);
}

/* The script's environment for `ev`, in the naming scheme it asked for. */
static char **script_envp(const struct rs_script_config *script, const struct rs_event *ev,
                          const struct strvec *extra)
{
    if (script->isc_variables)
        return rs_event_envp_isc(ev, extra, script->options, script->nr_options);
    return rs_event_envp(ev, extra, script->options, script->nr_options);
}

/* The directory of script `i`'s spool: <spool-dir>/runscript-<daemon>/<its path, '/' as '_'>,
 * with ".2", ".3"... for a path that an earlier entry has too. Stable across restarts, so that
 * what one run left is found by the next; apart per daemon, as kea-dhcp4 and kea-dhcp6 share a
 * data directory. Creates the middle directory. */
static int spool_dir_of(struct rs_engine *engine, size_t i, char *out, size_t size, char *err,
                        size_t err_size)
{
    const struct rs_script_config *script = &engine->config.scripts[i];
    const char *base = script->spool_dir ? script->spool_dir : engine->env.data_dir;
    if (!base) {
        snprintf(err, err_size,
                 "parameter 'spool-dir' is needed for %s: Kea's data directory is not known",
                 script->path);
        return -EINVAL;
    }
    /* Kea's own data directory may not be there yet (a container without Kea's packaging
     * scripts): made like Kea would. A "spool-dir" given was checked to exist. */
    if (!script->spool_dir && mkdir(base, 0750) < 0 && errno != EEXIST) {
        int rc = -errno;
        snprintf(err, err_size,
                 "parameter 'spool-dir' is needed for %s: Kea's data directory %s cannot be "
                 "created: %s",
                 script->path, base, strerror(-rc));
        return rc;
    }
    unsigned same = 0;
    for (size_t j = 0; j < i; j++)
        same += !engine->config.scripts[j].wait &&
                strcmp(engine->config.scripts[j].path, script->path) == 0;
    int len = snprintf(out, size, "%s/runscript-%s", base, engine->env.daemon);
    if (len < 0 || (size_t)len >= size || (mkdir(out, 0750) < 0 && errno != EEXIST)) {
        int rc = len < 0 || (size_t)len >= size ? -ENAMETOOLONG : -errno;
        snprintf(err, err_size, "parameter 'spool-dir': cannot create %s: %s", out, strerror(-rc));
        return rc;
    }
    size_t at = (size_t)len;
    out[at++] = '/';
    /* The script is a regular file, so the name is never "." or "..". */
    for (const char *c = script->path + (script->path[0] == '/'); *c && at + 16 < size; c++) {
        bool plain = isalnum((unsigned char)*c) || *c == '.' || *c == '-';
        out[at++] = plain ? *c : '_';
    }
    out[at] = '\0';
    if (same)
        snprintf(out + at, size - at, ".%u", same + 1);
    return 0;
}

/* Starts what script `i` needs beyond its configuration: a worker process, a queue. */
static int start_script(struct rs_engine *engine, size_t i, char *err, size_t err_size)
{
    const struct rs_script_config *script = &engine->config.scripts[i];
    int rc = 0;
    if (script->mode == RS_MODE_WORKER) {
        struct rs_event base;
        rs_event_init(&base, RS_HOOK_LOAD);
        char **envp = rs_event_envp(&base, &script->env, NULL, 0);
        struct rs_worker_config wc = {
            script->path, (enum rs_format)script->format,   rs_script_timeout_ms(script),
            envp,         script->wait ? 0 : RS_QUEUE_NICE, &engine->counters[i]};
        rc = envp ? rs_worker_start(&engine->workers[i], &wc, engine->supervisor, engine->log)
                  : -ENOMEM;
        free(envp);
        rs_event_release(&base);
        if (rc) {
            snprintf(err, err_size, "cannot start %s: %s", script->path, strerror(-rc));
            return rc;
        }
    }
    if (script->wait)
        return 0;
    char spool_dir[4096];
    rc = spool_dir_of(engine, i, spool_dir, sizeof(spool_dir), err, err_size);
    if (rc)
        return rc;
    bool worker = script->mode == RS_MODE_WORKER;
    struct rs_queue_config qc = {
        .script = script->path,
        .timeout_ms = rs_script_timeout_ms(script),
        .limit = script->queue_limit,
        .lanes = worker ? 1 : script->max_concurrency,
        .on_full = script->on_full,
        .max_attempts = script->max_attempts,
        .spool_dir = spool_dir,
        .spool_limit_bytes = (uint64_t)script->spool_limit_mb << 20,
        .deliver = worker ? deliver_to_worker : NULL,
        .deliver_ctx = engine->workers[i],
        .counters = worker ? NULL : &engine->counters[i], /* a worker counts its own */
    };
    rc = rs_queue_start(&engine->queues[i], &qc, engine->log);
    if (rc == -EBUSY)
        snprintf(err, err_size,
                 "parameter 'spool-dir': the spool %s of %s is in use by another process (two "
                 "Kea servers with one spool-dir and the same script?)",
                 spool_dir, script->path);
    else if (rc)
        snprintf(err, err_size, "parameter 'spool-dir': cannot use %s for %s: %s", spool_dir,
                 script->path, strerror(-rc));
    return rc;
}

static void free_counters(struct rs_engine *engine)
{
    for (size_t i = 0; engine->counters && i < engine->config.nr_scripts; i++)
        rs_run_counters_destroy(&engine->counters[i]);
    free(engine->counters);
    engine->counters = NULL;
}

/* Queues first (they may still feed workers), then workers; all within one deadline. */
static void stop_scripts(struct rs_engine *engine, unsigned drain_ms)
{
    int64_t deadline = rs_now_ms() + drain_ms;
    for (size_t i = 0; engine->workers && i < engine->config.nr_scripts; i++)
        if (engine->workers[i])
            rs_worker_give_up(engine->workers[i], deadline);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < engine->config.nr_scripts; i++) {
            int64_t left = deadline - rs_now_ms();
            unsigned ms = left > 0 ? (unsigned)left : 0;
            if (pass == 0 && engine->queues && engine->queues[i])
                rs_queue_stop(engine->queues[i], ms);
            if (pass == 1 && engine->workers && engine->workers[i])
                rs_worker_stop(engine->workers[i],
                               ms < RS_WORKER_GRACE_MS ? ms : RS_WORKER_GRACE_MS);
        }
    }
    free(engine->queues);
    free(engine->workers);
    engine->queues = NULL;
    engine->workers = NULL;
}

int rs_engine_new(const char *params_json, const struct rs_engine_env *env,
                  const struct rs_logger *log, struct rs_engine **out, char *err, size_t err_size)
{
    struct rs_engine *engine = calloc(1, sizeof(*engine));
    if (!engine) {
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    engine->log = log;
    engine->env = *env;
    if (!engine->env.daemon)
        engine->env.daemon = "kea";
    const struct rs_config_kea kea = {env->scripts_dir, env->kea_release};
    int rc = rs_config_parse_for(params_json, &kea, &engine->config, err, err_size);
    if (rc)
        goto free_engine;
    rc = rs_supervisor_start(&engine->supervisor, log);
    if (rc) {
        snprintf(err, err_size, "cannot start the supervisor thread: %s", strerror(-rc));
        goto release_config;
    }
    engine->counters = calloc(engine->config.nr_scripts, sizeof(*engine->counters));
    if (!engine->counters) {
        rc = -ENOMEM;
        snprintf(err, err_size, "out of memory");
        goto stop_supervisor;
    }
    for (size_t i = 0; i < engine->config.nr_scripts; i++)
        rs_run_counters_init(&engine->counters[i]);
    engine->queues = calloc(engine->config.nr_scripts, sizeof(*engine->queues));
    engine->workers = calloc(engine->config.nr_scripts, sizeof(*engine->workers));
    if (!engine->queues || !engine->workers) {
        rc = -ENOMEM;
        snprintf(err, err_size, "out of memory");
        goto stop_all;
    }
    for (size_t i = 0; i < engine->config.nr_scripts; i++) {
        const struct rs_script_config *script = &engine->config.scripts[i];
        engine->hooks |= script->hooks;
        rc = start_script(engine, i, err, err_size);
        if (rc)
            goto stop_all;
    }
    collect_option_codes(engine);
    *out = engine;
    return 0;

stop_all:
    stop_scripts(engine, 0);
    free_counters(engine);
stop_supervisor:
    rs_supervisor_stop(engine->supervisor, 0);
release_config:
    rs_config_release(&engine->config);
free_engine:
    free(engine);
    return rc;
}

rs_hook_set rs_engine_hooks(const struct rs_engine *engine)
{
    return engine->hooks;
}

bool rs_engine_wants_isc(const struct rs_engine *engine)
{
    for (size_t i = 0; i < engine->config.nr_scripts; i++)
        if (engine->config.scripts[i].isc_variables)
            return true;
    return false;
}

size_t rs_engine_option_codes(const struct rs_engine *engine, const unsigned short **codes)
{
    *codes = engine->option_codes;
    return engine->nr_option_codes;
}

/* Queues a run of a script Kea does not wait for; the queue writes it ahead to the spool and its
 * own threads start the script. */
static void queue_script(struct rs_engine *engine, struct rs_queue *queue,
                         const struct rs_script_config *script, const struct rs_event *ev)
{
    const char *hook = rs_hook_describe(ev->hook)->name;
    /* A worker has its fixed "env" in its own environment already. */
    char **envp = script_envp(script, ev, script->mode == RS_MODE_WORKER ? NULL : &script->env);
    int rc = envp ? rs_queue_push(queue, hook, envp, ev->keys, ev->nr_keys) : -ENOMEM;
    free(envp);
    if (rc == -ENOMEM)
        rs_log(engine->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory; event lost", script->path,
               hook);
}

/* Starts a waited-for script for `ev` and waits for it. Returns how it went. */
static enum rs_outcome run_script(struct rs_engine *engine, const struct rs_script_config *script,
                                  struct rs_run_counters *counters, const struct rs_event *ev)
{
    const char *hook = rs_hook_describe(ev->hook)->name;
    struct rs_job *job = malloc(sizeof(*job));
    char **envp = script_envp(script, ev, &script->env);
    enum rs_outcome outcome = RS_OUTCOME_NOT_RUN;
    if (!job || !envp) {
        rs_log(engine->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory", script->path, hook);
        goto out;
    }
    int rc = rs_job_start(job, script->path, hook, envp, rs_script_timeout_ms(script), engine->log);
    rs_run_counters_started(counters, rc, script->path);
    if (rc)
        goto out;
    bool done = rs_job_wait(job, true);
    rs_run_counters_ended(counters, job);
    if (done) {
        outcome = job->outcome;
        rs_job_release(job);
        goto out;
    }
    outcome = job->outcome; /* timed out: the supervisor finishes it off */
    rs_supervisor_adopt(engine->supervisor, job);
    job = NULL;
out:
    free(job);
    free(envp);
    return outcome;
}

/* Hands the event to a worker and waits for its answer. */
static enum rs_outcome deliver_now(struct rs_engine *engine, size_t i, const struct rs_event *ev)
{
    const struct rs_script_config *script = &engine->config.scripts[i];
    char **envp = script_envp(script, ev, NULL);
    if (!envp) {
        rs_log(engine->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory", script->path,
               rs_hook_describe(ev->hook)->name);
        return RS_OUTCOME_NOT_RUN;
    }
    enum rs_outcome outcome =
        rs_worker_deliver(engine->workers[i], rs_hook_describe(ev->hook)->name, envp, false);
    free(envp);
    /* The worker counts its own starts, kills and restarts; the run is the engine's. */
    if (outcome == RS_OUTCOME_FAILED || outcome == RS_OUTCOME_TIMEOUT)
        atomic_fetch_add_explicit(&engine->counters[i].failed, 1, memory_order_relaxed);
    return outcome;
}

enum rs_next_step rs_engine_dispatch(struct rs_engine *engine, struct rs_event *event)
{
    enum rs_next_step next = RS_NEXT_CONTINUE;
    const struct rs_event *ev = event;
    for (size_t i = 0; i < engine->config.nr_scripts; i++) {
        const struct rs_script_config *script = &engine->config.scripts[i];
        if (!(script->hooks & RS_HOOK_BIT(ev->hook)))
            continue;
        if (engine->queues[i]) {
            queue_script(engine, engine->queues[i], script, ev);
            continue;
        }
        enum rs_outcome outcome = engine->workers[i]
                                      ? deliver_now(engine, i, ev)
                                      : run_script(engine, script, &engine->counters[i], ev);
        bool failed = outcome == RS_OUTCOME_FAILED || outcome == RS_OUTCOME_TIMEOUT;
        if (!failed || script->on_failure == RS_ON_FAILURE_CONTINUE)
            continue;
        const char *hook = rs_hook_describe(ev->hook)->name;
        rs_log(engine->log, RS_MSG_NEXT_STEP,
               "%s (%s): failed; on-failure is \"%s\", so Kea is "
               "told to %s",
               script->path, hook, rs_on_failure_name(script->on_failure),
               script->on_failure == RS_ON_FAILURE_DROP ? "drop the packet" : "skip this step");
        if (script->on_failure == RS_ON_FAILURE_DROP) {
            next = RS_NEXT_DROP;
            break;
        }
        next = RS_NEXT_SKIP;
    }
    return next;
}

size_t rs_engine_nr_scripts(const struct rs_engine *engine)
{
    return engine->config.nr_scripts;
}

void rs_engine_get_script_stats(struct rs_engine *engine, size_t index,
                                struct rs_engine_script_stats *out)
{
    const struct rs_script_config *script = &engine->config.scripts[index];
    struct rs_run_counters *c = &engine->counters[index];
    memset(out, 0, sizeof(*out));
    out->script = script->path;
    out->wait = script->wait;
    out->mode = script->mode;
    out->hooks = script->hooks;
    out->runs_started = atomic_load_explicit(&c->started, memory_order_relaxed);
    out->runs_killed = atomic_load_explicit(&c->killed, memory_order_relaxed);
    out->exec_failures = atomic_load_explicit(&c->exec_failures, memory_order_relaxed);
    out->failed = atomic_load_explicit(&c->failed, memory_order_relaxed);
    out->worker_restarts = atomic_load_explicit(&c->worker_restarts, memory_order_relaxed);
    if (engine->workers[index])
        out->worker_pid = rs_worker_pid(engine->workers[index]);
    rs_run_counters_last_error(c, out->last_error, sizeof(out->last_error));
    if (!engine->queues[index])
        return;
    struct rs_queue_stats qs;
    rs_queue_stats(engine->queues[index], &qs);
    out->events_queued = qs.queued;
    out->delivered = qs.delivered;
    out->failed = qs.failed;
    out->dropped = qs.dropped;
    out->dead_lettered = qs.dead;
    out->queue_depth = (uint64_t)qs.waiting + qs.running;
    out->spool_depth = qs.backlog;
    out->spool_bytes = qs.spool_bytes;
    int64_t age_ms = qs.oldest_ms ? rs_now_ms() - qs.oldest_ms : 0;
    out->oldest_age_s = age_ms > 0 ? (uint64_t)age_ms / 1000 : 0;
    out->paused = qs.paused;
}

int rs_engine_pause(struct rs_engine *engine, size_t index, bool pause)
{
    struct rs_queue *q = engine->queues[index];
    if (!q)
        return -EINVAL;
    return pause ? rs_queue_pause(q) : rs_queue_resume(q);
}

int rs_engine_dead_letters_list(struct rs_engine *engine, size_t index, size_t max,
                                void (*fn)(void *ctx, uint64_t seq,
                                           const struct rs_event_record *ev),
                                void *ctx, uint64_t *total)
{
    struct rs_queue *q = engine->queues[index];
    return q ? rs_queue_dead_letters_list(q, max, fn, ctx, total) : -EINVAL;
}

int rs_engine_dead_letters_retry(struct rs_engine *engine, size_t index, size_t max,
                                 uint64_t *moved, uint64_t *left)
{
    struct rs_queue *q = engine->queues[index];
    return q ? rs_queue_dead_letters_retry(q, max, moved, left) : -EINVAL;
}

int rs_engine_dead_letters_drop(struct rs_engine *engine, size_t index, uint64_t *dropped)
{
    struct rs_queue *q = engine->queues[index];
    return q ? rs_queue_dead_letters_drop(q, dropped) : -EINVAL;
}

void rs_engine_free(struct rs_engine *engine)
{
    if (!engine)
        return;
    int64_t deadline = rs_now_ms() + RS_ENGINE_DRAIN_MS;
    stop_scripts(engine, RS_ENGINE_DRAIN_MS);
    int64_t left = deadline - rs_now_ms();
    rs_supervisor_stop(engine->supervisor, left > 0 ? (unsigned)left : 0);
    unsigned long long count, total_ns;
    rs_spawn_stats(&count, &total_ns);
    if (count)
        rs_log(engine->log, RS_MSG_STATS,
               "%llu scripts started so far; starting one "
               "took %.1f us on average",
               count, (double)total_ns / (double)count / 1000.0);
    free_counters(engine);
    rs_config_release(&engine->config);
    free(engine);
}
