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
};

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

static void run_script(struct rs_engine *engine, const struct rs_script_config *script,
                       const struct rs_event *ev)
{
    const char *hook = rs_hook_describe(ev->hook)->name;
    struct rs_job *job = malloc(sizeof(*job));
    if (!job) {
        rs_log(engine->log, RS_MSG_SPAWN_FAILED, "%s (%s): out of memory", script->path, hook);
        return;
    }
    if (rs_job_start(job, script->path, hook, strvec_array(&ev->env), 0, engine->log) != 0) {
        free(job);
        return;
    }
    if (script->wait && rs_job_wait(job, true)) {
        rs_job_release(job);
        free(job);
        return;
    }
    rs_supervisor_adopt(engine->supervisor, job);
}

enum rs_next_step rs_engine_dispatch(struct rs_engine *engine, const struct rs_event *ev)
{
    for (size_t i = 0; i < engine->config.nr_scripts; i++) {
        const struct rs_script_config *script = &engine->config.scripts[i];
        if (script->hooks & RS_HOOK_BIT(ev->hook))
            run_script(engine, script, ev);
    }
    return RS_NEXT_CONTINUE;
}

void rs_engine_free(struct rs_engine *engine)
{
    if (!engine)
        return;
    rs_supervisor_stop(engine->supervisor, RS_ENGINE_DRAIN_MS);
    rs_config_release(&engine->config);
    free(engine);
}
