#include "engine.h"
#include "job.h"
#include "supervisor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rs_engine {
    struct rs_config config;
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
    for (size_t i = 0; i < engine->config.nr_scripts; i++)
        engine->hooks |= engine->config.scripts[i].hooks;
    collect_option_codes(engine);
    *out = engine;
    return 0;

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

size_t rs_engine_option_codes(const struct rs_engine *engine, const unsigned short **codes)
{
    *codes = engine->option_codes;
    return engine->nr_option_codes;
}

/* Starts one script for `ev`; waits for it if configured to. Returns how it went (a run handed to
 * the supervisor counts as a success: nobody waits for its outcome). */
static enum rs_outcome run_script(struct rs_engine *engine, const struct rs_script_config *script,
                                  const struct rs_event *ev)
{
    const char *hook = rs_hook_describe(ev->hook)->name;
    struct rs_job *job = malloc(sizeof(*job));
    char **envp = rs_event_envp(ev, &script->env, script->options, script->nr_options);
    enum rs_outcome outcome = RS_OUTCOME_NOT_RUN;
    if (!job || !envp) {
        rs_log(engine->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory", script->path, hook);
        goto out;
    }
    if (rs_job_start(job, script->path, hook, envp, rs_script_timeout_ms(script), engine->log))
        goto out;
    outcome = RS_OUTCOME_SUCCESS;
    if (script->wait && rs_job_wait(job, true)) {
        outcome = job->outcome;
        rs_job_release(job);
        goto out;
    }
    if (script->wait)
        outcome = job->outcome; /* timed out: the supervisor finishes it off */
    rs_supervisor_adopt(engine->supervisor, job);
    job = NULL;
out:
    free(job);
    free(envp);
    return outcome;
}

enum rs_next_step rs_engine_dispatch(struct rs_engine *engine, const struct rs_event *ev)
{
    enum rs_next_step next = RS_NEXT_CONTINUE;
    for (size_t i = 0; i < engine->config.nr_scripts; i++) {
        const struct rs_script_config *script = &engine->config.scripts[i];
        if (!(script->hooks & RS_HOOK_BIT(ev->hook)))
            continue;
        enum rs_outcome outcome = run_script(engine, script, ev);
        bool failed = outcome == RS_OUTCOME_FAILED || outcome == RS_OUTCOME_TIMEOUT;
        if (!failed || script->on_failure == RS_ON_FAILURE_CONTINUE)
            continue;
        const char *hook = rs_hook_describe(ev->hook)->name;
        rs_log(engine->log, RS_MSG_NEXT_STEP, "%s (%s): failed; on-failure is \"%s\", so Kea is "
                                              "told to %s",
               script->path, hook, rs_on_failure_name(script->on_failure),
               script->on_failure == RS_ON_FAILURE_DROP ? "drop the packet" : "skip this step");
        if (script->on_failure == RS_ON_FAILURE_DROP)
            return RS_NEXT_DROP;
        next = RS_NEXT_SKIP;
    }
    return next;
}

void rs_engine_free(struct rs_engine *engine)
{
    if (!engine)
        return;
    rs_supervisor_stop(engine->supervisor, RS_ENGINE_DRAIN_MS);
    rs_config_release(&engine->config);
    free(engine);
}
