#include "engine.h"
#include "job.h"
#include "queue.h"
#include "supervisor.h"
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rs_engine {
    struct rs_config config;
    struct rs_queue **queues;   /* per script; NULL for waited-for scripts */
    struct rs_worker **workers; /* per script; NULL unless "mode": "worker" */
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

static void deliver_to_worker(void *ctx, const char *const hooks[], char *const *const envps[],
                              size_t count)
{
    rs_worker_deliver_many(ctx, hooks, envps, count);
}

/* The script's environment for `ev`, in the naming scheme it asked for. */
static char **script_envp(const struct rs_script_config *script, const struct rs_event *ev,
                          const struct strvec *extra)
{
    if (script->isc_variables)
        return rs_event_envp_isc(ev, extra, script->options, script->nr_options);
    return rs_event_envp(ev, extra, script->options, script->nr_options);
}

/* A queued event's environment, built in the queue's lane thread. A worker has its fixed "env" in
 * its own environment already. */
static char **queued_envp(void *ctx, void *payload)
{
    const struct rs_script_config *script = ctx;
    const struct strvec *extra = script->mode == RS_MODE_WORKER ? NULL : &script->env;
    return script_envp(script, rs_shared_event_get(payload), extra);
}

static void release_queued(void *ctx, void *payload)
{
    (void)ctx;
    rs_shared_event_unref(payload);
}

/* Starts what script `i` needs beyond its configuration: a worker process, a queue. */
static int start_script(struct rs_engine *engine, size_t i)
{
    const struct rs_script_config *script = &engine->config.scripts[i];
    int rc = 0;
    if (script->mode == RS_MODE_WORKER) {
        struct rs_event base;
        rs_event_init(&base, RS_HOOK_LOAD);
        char **envp = rs_event_envp(&base, &script->env, NULL, 0);
        struct rs_worker_config wc = {script->path, (enum rs_format)script->format,
                                      rs_script_timeout_ms(script), envp,
                                      script->wait ? 0 : RS_QUEUE_NICE};
        rc = envp ? rs_worker_start(&engine->workers[i], &wc, engine->supervisor, engine->log)
                  : -ENOMEM;
        free(envp);
        rs_event_release(&base);
        if (rc)
            return rc;
    }
    if (script->wait)
        return 0;
    bool worker = script->mode == RS_MODE_WORKER;
    struct rs_queue_config qc = {
        .script = script->path,
        .timeout_ms = rs_script_timeout_ms(script),
        .limit = script->queue_limit,
        .lanes = worker ? 1 : script->max_concurrency,
        .drop_when_full = script->drop_when_full,
        .deliver = worker ? deliver_to_worker : NULL,
        .deliver_ctx = engine->workers[i],
        .envp_of = queued_envp,
        .release = release_queued,
        .payload_ctx = (void *)script,
    };
    return rs_queue_start(&engine->queues[i], &qc, engine->log);
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

int rs_engine_new(const char *params_json, const struct rs_logger *log, struct rs_engine **out,
                  char *err, size_t err_size)
{
    struct rs_engine *engine = calloc(1, sizeof(*engine));
    if (!engine) {
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    engine->log = log;
    int rc = rs_config_parse(params_json, &engine->config, err, err_size);
    if (rc)
        goto free_engine;
    rc = rs_supervisor_start(&engine->supervisor, log);
    if (rc) {
        snprintf(err, err_size, "cannot start the supervisor thread: %s", strerror(-rc));
        goto release_config;
    }
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
        rc = start_script(engine, i);
        if (rc) {
            snprintf(err, err_size, "cannot start %s: %s", script->path, strerror(-rc));
            goto stop_all;
        }
    }
    collect_option_codes(engine);
    *out = engine;
    return 0;

stop_all:
    stop_scripts(engine, 0);
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

/* Queues a run of a script Kea does not wait for; the queue's own threads start it. The event's
 * variables are shared with the queue, not copied, and its environment is built there: Kea's
 * thread only hands the event over. */
static void queue_script(struct rs_engine *engine, struct rs_queue *queue,
                         const struct rs_script_config *script, const struct rs_event *ev,
                         struct rs_shared_event *shared)
{
    const char *hook = rs_hook_describe(ev->hook)->name;
    int rc = -ENOMEM;
    if (shared) {
        rs_shared_event_ref(shared);
        rc = rs_queue_push(queue, hook, shared, ev->keys, ev->nr_keys);
        if (rc == -ENOMEM)
            rs_shared_event_unref(shared);
    }
    if (rc == -ENOMEM)
        rs_log(engine->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory; event lost", script->path,
               hook);
}

/* Starts a waited-for script for `ev` and waits for it. Returns how it went. */
static enum rs_outcome run_script(struct rs_engine *engine, const struct rs_script_config *script,
                                  const struct rs_event *ev)
{
    const char *hook = rs_hook_describe(ev->hook)->name;
    struct rs_job *job = malloc(sizeof(*job));
    char **envp = script_envp(script, ev, &script->env);
    enum rs_outcome outcome = RS_OUTCOME_NOT_RUN;
    if (!job || !envp) {
        rs_log(engine->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory", script->path, hook);
        goto out;
    }
    if (rs_job_start(job, script->path, hook, envp, rs_script_timeout_ms(script), engine->log))
        goto out;
    if (rs_job_wait(job, true)) {
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
    return outcome;
}

enum rs_next_step rs_engine_dispatch(struct rs_engine *engine, struct rs_event *event)
{
    enum rs_next_step next = RS_NEXT_CONTINUE;
    /* The first queue to want the event takes its variables; every later script reads them
     * there. */
    struct rs_shared_event *shared = NULL;
    const struct rs_event *ev = event;
    for (size_t i = 0; i < engine->config.nr_scripts; i++) {
        const struct rs_script_config *script = &engine->config.scripts[i];
        if (!(script->hooks & RS_HOOK_BIT(ev->hook)))
            continue;
        if (engine->queues[i]) {
            if (!shared && (shared = rs_event_share(event)))
                ev = rs_shared_event_get(shared);
            queue_script(engine, engine->queues[i], script, ev, shared);
            continue;
        }
        enum rs_outcome outcome =
            engine->workers[i] ? deliver_now(engine, i, ev) : run_script(engine, script, ev);
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
    if (shared)
        rs_shared_event_unref(shared);
    return next;
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
    rs_config_release(&engine->config);
    free(engine);
}
