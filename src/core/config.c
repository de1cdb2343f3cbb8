#include "config.h"
#include "event.h"
#include "frame.h"
#include "json.h"
#include "script_trust.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctx {
    char *err;
    size_t err_size;
    const char *where; /* "" at the top level, "scripts[2]." inside the list */
    const struct rs_config_kea *kea;
};

static int config_error(struct ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int config_error(struct ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, ctx->err_size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int expect_type(struct ctx *ctx, const char *key, const struct json *value,
                       enum json_type type)
{
    if (value->type == type)
        return 0;
    return config_error(ctx, "parameter '%s%s' must be %s, not %s", ctx->where, key,
                        json_type_name(type), json_type_name(value->type));
}

static int expect_text(struct ctx *ctx, const char *key, const struct json *value)
{
    int rc = expect_type(ctx, key, value, JSON_STRING);
    if (!rc && strlen(value->string) != value->len)
        rc = config_error(ctx, "parameter '%s%s' contains a NUL byte", ctx->where, key);
    return rc;
}

static int check_runnable(struct ctx *ctx, const char *key, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return config_error(ctx, "parameter '%s%s': %s: %s", ctx->where, key, path,
                            strerror(errno));
    if (!S_ISREG(st.st_mode))
        return config_error(ctx, "parameter '%s%s': %s is not a regular file", ctx->where, key,
                            path);
    if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) || access(path, X_OK) < 0)
        return config_error(ctx, "parameter '%s%s': %s is not executable", ctx->where, key, path);
    return 0;
}

/* The script must exist and be executable now: better a refused configuration than a DHCP
 * server that logs an exec failure for every packet. And it must be one that only root or Kea's
 * user could have put there (src/core/script_trust.h). */
static int parse_path(struct ctx *ctx, const char *key, const struct json *value,
                      struct rs_script_config *out)
{
    int rc = expect_text(ctx, key, value);
    if (rc)
        return rc;
    if (!*value->string)
        return config_error(ctx, "parameter '%s%s' is empty", ctx->where, key);
    char *path = NULL, why[512];
    if (rs_script_place(value->string, ctx->kea->scripts_dir, &path, why, sizeof(why)) < 0)
        return config_error(ctx, "parameter '%s%s': %s", ctx->where, key, why);
    rc = check_runnable(ctx, key, path);
    if (!rc && rs_script_trusted(path, why, sizeof(why)) < 0)
        rc = config_error(ctx, "parameter '%s%s': %s", ctx->where, key, why);
    if (rc) {
        free(path);
        return rc;
    }
    free(out->path);
    out->path = path;
    return 0;
}

static int parse_wait(struct ctx *ctx, const char *key, const struct json *value,
                      struct rs_script_config *out)
{
    int rc = expect_type(ctx, key, value, JSON_BOOL);
    if (!rc) {
        out->wait = value->boolean;
        out->wait_set = true;
    }
    return rc;
}

static int parse_hooks(struct ctx *ctx, const char *key, const struct json *value,
                       struct rs_script_config *out)
{
    int rc = expect_type(ctx, key, value, JSON_ARRAY);
    if (rc)
        return rc;
    rs_hook_set hooks = 0;
    for (size_t i = 0; i < value->nr; i++) {
        const struct json *item = value->items[i];
        if (item->type != JSON_STRING)
            return config_error(ctx, "parameter '%s%s' must list hook point names, not %s",
                                ctx->where, key, json_type_name(item->type));
        int hook = rs_hook_by_name(item->string);
        if (hook < 0)
            return config_error(ctx, "parameter '%s%s': unknown hook point '%s'", ctx->where, key,
                                item->string);
        hooks |= RS_HOOK_BIT(hook);
    }
    out->hooks = hooks;
    out->hooks_set = true;
    return 0;
}

static int parse_timeout(struct ctx *ctx, const char *key, const struct json *value,
                         struct rs_script_config *out)
{
    int rc = expect_type(ctx, key, value, JSON_NUMBER);
    if (rc)
        return rc;
    if (!value->is_integer || value->integer < 0 || value->integer > RS_MAX_TIMEOUT_MS)
        return config_error(ctx,
                            "parameter '%s%s' must be a whole number of milliseconds "
                            "from 0 (no limit) to %d",
                            ctx->where, key, RS_MAX_TIMEOUT_MS);
    out->timeout_ms = (unsigned)value->integer;
    out->timeout_set = true;
    return 0;
}

static int parse_on_failure(struct ctx *ctx, const char *key, const struct json *value,
                            struct rs_script_config *out)
{
    int rc = expect_type(ctx, key, value, JSON_STRING);
    if (rc)
        return rc;
    for (int i = RS_ON_FAILURE_CONTINUE; i <= RS_ON_FAILURE_DROP; i++) {
        if (strcmp(value->string, rs_on_failure_name(i)) == 0) {
            out->on_failure = i;
            return 0;
        }
    }
    return config_error(ctx,
                        "parameter '%s%s' must be \"continue\", \"skip\" or \"drop\", not "
                        "\"%s\"",
                        ctx->where, key, value->string);
}

static bool valid_env_name(const char *name)
{
    if (!*name || (*name >= '0' && *name <= '9'))
        return false;
    for (const char *c = name; *c; c++)
        if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
              (*c >= '0' && *c <= '9')))
            return false;
    return true;
}

static int parse_env(struct ctx *ctx, const char *key, const struct json *value,
                     struct rs_script_config *out)
{
    int rc = expect_type(ctx, key, value, JSON_OBJECT);
    if (rc)
        return rc;
    struct strvec env = STRVEC_INIT;
    for (size_t i = 0; i < value->nr && !rc; i++) {
        const char *name = value->keys[i];
        const struct json *item = value->items[i];
        if (!valid_env_name(name))
            rc = config_error(ctx,
                              "parameter '%s%s': '%s' is not a valid variable name "
                              "(letters, digits and _, not starting with a digit)",
                              ctx->where, key, name);
        else if (strncmp(name, "KEA_", 4) == 0)
            rc = config_error(ctx,
                              "parameter '%s%s': '%s' is reserved: names starting with "
                              "KEA_ carry the DHCP data",
                              ctx->where, key, name);
        else if (item->type != JSON_STRING || strlen(item->string) != item->len)
            rc = config_error(ctx,
                              "parameter '%s%s': the value of '%s' must be a string "
                              "without NUL bytes",
                              ctx->where, key, name);
        else if (strvec_push_pair(&env, name, item->string, item->len) != 0)
            rc = config_error(ctx, "out of memory");
    }
    if (rc) {
        strvec_clear(&env);
        return rc;
    }
    strvec_clear(&out->env);
    out->env = env;
    return 0;
}

static int parse_replay(struct ctx *ctx, const char *key, const struct json *value,
                        struct rs_script_config *out)
{
    int rc = expect_type(ctx, key, value, JSON_BOOL);
    if (!rc)
        out->replay = value->boolean;
    return rc;
}

static int parse_options(struct ctx *ctx, const char *key, const struct json *value,
                         struct rs_script_config *out)
{
    int rc = expect_type(ctx, key, value, JSON_ARRAY);
    if (rc)
        return rc;
    if (value->nr > RS_MAX_OPTIONS)
        return config_error(ctx, "parameter '%s%s' lists more than %d options", ctx->where, key,
                            RS_MAX_OPTIONS);
    for (size_t i = 0; i < value->nr; i++) {
        const struct json *item = value->items[i];
        if (item->type != JSON_NUMBER || !item->is_integer || item->integer < 1 ||
            item->integer > 65535)
            return config_error(ctx, "parameter '%s%s' must list option codes from 1 to 65535",
                                ctx->where, key);
        out->options[i] = (uint16_t)item->integer;
    }
    out->nr_options = value->nr;
    return 0;
}

static int parse_count(struct ctx *ctx, const char *key, const struct json *value, long long max,
                       unsigned *out)
{
    int rc = expect_type(ctx, key, value, JSON_NUMBER);
    if (rc)
        return rc;
    if (!value->is_integer || value->integer < 1 || value->integer > max)
        return config_error(ctx, "parameter '%s%s' must be a whole number from 1 to %lld",
                            ctx->where, key, max);
    *out = (unsigned)value->integer;
    return 0;
}

/* The settings of scripts Kea does not wait for, as bits of queue_keys_set, and their names. */
enum {
    QUEUE_LIMIT_SET = 1,
    MAX_CONCURRENCY_SET = 2,
    ON_FULL_SET = 4,
    SPOOL_DIR_SET = 8,
    SPOOL_LIMIT_SET = 16,
    MAX_ATTEMPTS_SET = 32,
};
static const char *const queue_key_names[] = {"queue-limit", "max-concurrency", "on-full",
                                              "spool-dir",   "spool-limit",     "max-attempts"};

static int parse_queue_limit(struct ctx *ctx, const char *key, const struct json *value,
                             struct rs_script_config *out)
{
    out->queue_keys_set |= QUEUE_LIMIT_SET;
    return parse_count(ctx, key, value, RS_MAX_QUEUE_LIMIT, &out->queue_limit);
}

static int parse_max_concurrency(struct ctx *ctx, const char *key, const struct json *value,
                                 struct rs_script_config *out)
{
    out->queue_keys_set |= MAX_CONCURRENCY_SET;
    return parse_count(ctx, key, value, 64, &out->max_concurrency);
}

static int parse_on_full(struct ctx *ctx, const char *key, const struct json *value,
                         struct rs_script_config *out)
{
    static const char *const names[] = {"spool", "drop", "block", NULL};
    int rc = expect_type(ctx, key, value, JSON_STRING);
    if (rc)
        return rc;
    out->queue_keys_set |= ON_FULL_SET;
    for (int i = 0; names[i]; i++)
        if (strcmp(value->string, names[i]) == 0) {
            out->on_full = (enum rs_on_full)i;
            return 0;
        }
    return config_error(ctx,
                        "parameter '%s%s' must be \"spool\", \"drop\" or \"block\", not \"%s\"",
                        ctx->where, key, value->string);
}

/* The directory must be there and usable now: a spool that cannot be written would only show at
 * the first full queue, under load, when it matters most. */
static int parse_spool_dir(struct ctx *ctx, const char *key, const struct json *value,
                           struct rs_script_config *out)
{
    struct stat st;
    int rc = expect_text(ctx, key, value);
    if (rc)
        return rc;
    const char *dir = value->string;
    out->queue_keys_set |= SPOOL_DIR_SET;
    if (dir[0] != '/')
        return config_error(ctx, "parameter '%s%s' must be an absolute path, not \"%s\"",
                            ctx->where, key, dir);
    if (strlen(dir) > RS_MAX_SPOOL_DIR)
        return config_error(ctx, "parameter '%s%s' is longer than %d bytes", ctx->where, key,
                            RS_MAX_SPOOL_DIR);
    if (stat(dir, &st) < 0)
        return config_error(ctx, "parameter '%s%s': %s: %s", ctx->where, key, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return config_error(ctx, "parameter '%s%s': %s is not a directory", ctx->where, key, dir);
    if (access(dir, W_OK | X_OK) < 0)
        return config_error(ctx, "parameter '%s%s': %s is not writable by Kea: %s", ctx->where, key,
                            dir, strerror(errno));
    char *copy = strdup(dir);
    if (!copy)
        return config_error(ctx, "out of memory");
    free(out->spool_dir);
    out->spool_dir = copy;
    return 0;
}

static int parse_spool_limit(struct ctx *ctx, const char *key, const struct json *value,
                             struct rs_script_config *out)
{
    out->queue_keys_set |= SPOOL_LIMIT_SET;
    return parse_count(ctx, key, value, RS_MAX_SPOOL_LIMIT_MB, &out->spool_limit_mb);
}

static int parse_max_attempts(struct ctx *ctx, const char *key, const struct json *value,
                              struct rs_script_config *out)
{
    out->queue_keys_set |= MAX_ATTEMPTS_SET;
    return parse_count(ctx, key, value, RS_MAX_MAX_ATTEMPTS, &out->max_attempts);
}

/* Looks `value` up in `names` (NULL-terminated); returns its index or -1 (and an error). */
static int parse_choice(struct ctx *ctx, const char *key, const struct json *value,
                        const char *const *names, const char *expected)
{
    if (expect_type(ctx, key, value, JSON_STRING))
        return -1;
    for (int i = 0; names[i]; i++)
        if (strcmp(value->string, names[i]) == 0)
            return i;
    config_error(ctx, "parameter '%s%s' must be %s, not \"%s\"", ctx->where, key, expected,
                 value->string);
    return -1;
}

static int parse_variables(struct ctx *ctx, const char *key, const struct json *value,
                           struct rs_script_config *out)
{
    static const char *const names[] = {"kea", "isc", NULL};
    int i = parse_choice(ctx, key, value, names, "\"kea\" or \"isc\"");
    if (i < 0)
        return -EINVAL;
    out->isc_variables = i == 1;
    return 0;
}

static int parse_mode(struct ctx *ctx, const char *key, const struct json *value,
                      struct rs_script_config *out)
{
    static const char *const names[] = {"exec", "worker", NULL};
    int i = parse_choice(ctx, key, value, names, "\"exec\" or \"worker\"");
    if (i < 0)
        return -EINVAL;
    out->mode = (enum rs_mode)i;
    return 0;
}

static int parse_format(struct ctx *ctx, const char *key, const struct json *value,
                        struct rs_script_config *out)
{
    static const char *const names[] = {"env", "json", NULL};
    int i = parse_choice(ctx, key, value, names, "\"env\" or \"json\"");
    if (i < 0)
        return -EINVAL;
    out->format = i == 0 ? RS_FORMAT_ENV : RS_FORMAT_JSON;
    out->format_set = true;
    return 0;
}

typedef int (*setting_parser)(struct ctx *ctx, const char *key, const struct json *value,
                              struct rs_script_config *out);

static const struct setting {
    const char *key;
    setting_parser parse;
} settings[] = {
    {"script", parse_path},
    {"wait", parse_wait},
    {"hooks", parse_hooks},
    {"timeout-ms", parse_timeout},
    {"on-failure", parse_on_failure},
    {"env", parse_env},
    {"options", parse_options},
    {"queue-limit", parse_queue_limit},
    {"max-concurrency", parse_max_concurrency},
    {"on-full", parse_on_full},
    {"spool-dir", parse_spool_dir},
    {"spool-limit", parse_spool_limit},
    {"max-attempts", parse_max_attempts},
    {"mode", parse_mode},
    {"format", parse_format},
    {"replay", parse_replay},
    {"variables", parse_variables},
    /* The names ISC's libdhcp_run_script uses; "sync": true really waits here. */
    {"name", parse_path},
    {"sync", parse_wait},
};

#define NR_SETTINGS (sizeof(settings) / sizeof(settings[0]))
#define ENTRY_KEYS                                                                                 \
    "script, wait, hooks, timeout-ms, on-failure, env, options, queue-limit, max-concurrency, "    \
    "on-full, spool-dir, spool-limit, max-attempts, mode, format, replay, variables, name, "       \
    "sync"

static const struct setting *find_setting(const char *key)
{
    for (size_t i = 0; i < NR_SETTINGS; i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

static void script_release(struct rs_script_config *script)
{
    free(script->path);
    script->path = NULL;
    free(script->spool_dir);
    script->spool_dir = NULL;
    strvec_clear(&script->env);
}

/* A deep copy, so that each entry of "scripts" owns what it inherits from the top level. */
static int script_copy(struct rs_script_config *to, const struct rs_script_config *from)
{
    *to = *from;
    to->path = NULL;
    to->spool_dir = NULL;
    /* Inherited settings are defaults, not this entry's choice. */
    to->queue_keys_set = 0;
    to->format_set = false;
    strvec_init(&to->env);
    if ((from->path && !(to->path = strdup(from->path))) ||
        (from->spool_dir && !(to->spool_dir = strdup(from->spool_dir)))) {
        script_release(to);
        return -ENOMEM;
    }
    for (size_t i = 0; i < from->env.nr; i++)
        if (strvec_push(&to->env, from->env.items[i]) != 0) {
            script_release(to);
            return -ENOMEM;
        }
    return 0;
}

/* Applies every key of `object` except "scripts" (which only the top level may have). */
static int apply_settings(struct ctx *ctx, const struct json *object, bool top_level,
                          struct rs_script_config *out)
{
    for (size_t i = 0; i < object->nr; i++) {
        const char *key = object->keys[i];
        if (top_level && strcmp(key, "scripts") == 0)
            continue;
        const struct setting *setting = find_setting(key);
        if (!setting)
            return config_error(ctx, "unknown parameter '%s%s' (known: %s%s)", ctx->where, key,
                                ENTRY_KEYS, top_level ? ", scripts" : "");
        int rc = setting->parse(ctx, key, object->items[i], out);
        if (rc)
            return rc;
    }
    return 0;
}

/* "variables": "isc" means ISC's library as a whole: its hook points by default (and only
 * those), and Kea not waiting unless told to. */
static int check_isc(struct ctx *ctx, struct rs_script_config *script)
{
    rs_hook_set ours = RS_HOOK_BIT(RS_HOOK_LOAD) | RS_HOOK_BIT(RS_HOOK_UNLOAD) |
                       RS_HOOK_BIT(RS_HOOK_LEASE4_REPLAY) | RS_HOOK_BIT(RS_HOOK_LEASE6_REPLAY);
    rs_hook_set isc_hooks = 0;
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++)
        if (rs_isc_blocks(hook) && !(ours & RS_HOOK_BIT(hook)))
            isc_hooks |= RS_HOOK_BIT(hook);
    if (!script->wait_set)
        script->wait = false;
    if (!script->hooks_set) {
        script->hooks = isc_hooks | (script->hooks & ~rs_hook_default_set());
        return 0;
    }
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++)
        if ((script->hooks & RS_HOOK_BIT(hook)) && !(isc_hooks & RS_HOOK_BIT(hook)) &&
            !(ours & RS_HOOK_BIT(hook)))
            return config_error(ctx,
                                "parameter '%shooks': ISC's run_script has no variables for "
                                "%s; use \"variables\": \"kea\" for it",
                                ctx->where, rs_hook_describe(hook)->name);
    return 0;
}

/* A hook point listed in "hooks" that this Kea does not have would never run: refused. One that
 * only a default set brings (ISC's addr6_register) is left out. */
static int check_release(struct ctx *ctx, struct rs_script_config *script)
{
    const int release = ctx->kea->release;
    for (int hook = 0; release && hook < RS_HOOK_COUNT; hook++) {
        const struct rs_hook_info *info = rs_hook_describe(hook);
        if (!(script->hooks & RS_HOOK_BIT(hook)) || info->since <= release)
            continue;
        if (!script->hooks_set) {
            script->hooks &= ~RS_HOOK_BIT(hook);
            continue;
        }
        return config_error(ctx,
                            "parameter '%shooks': %s came with Kea %d.%d, and this Kea is "
                            "%d.%d.%d",
                            ctx->where, info->name, info->since / 10000, info->since / 100 % 100,
                            release / 10000, release / 100 % 100, release % 100);
    }
    return 0;
}

/* Refuses what would silently do nothing: a failure action Kea ignores at a chosen hook point,
 * or one that needs an answer Kea does not wait for. */
static int check_script(struct ctx *ctx, struct rs_script_config *script)
{
    /* Applied here, after "hooks" whatever the order of the keys. */
    if (script->replay)
        script->hooks |= RS_HOOK_BIT(RS_HOOK_LEASE4_REPLAY) | RS_HOOK_BIT(RS_HOOK_LEASE6_REPLAY);
    if (!script->path)
        return config_error(ctx, "parameter '%sscript' is missing: it names the program to run",
                            ctx->where);
    if (script->isc_variables) {
        int rc = check_isc(ctx, script);
        if (rc)
            return rc;
    }
    int rc = check_release(ctx, script);
    if (rc)
        return rc;
    if (script->wait && script->queue_keys_set)
        return config_error(ctx,
                            "parameter '%s%s' applies to scripts with \"wait\": false "
                            "only: Kea runs a waited-for script at once, in its own thread",
                            ctx->where, queue_key_names[__builtin_ctz(script->queue_keys_set)]);
    if (script->mode == RS_MODE_EXEC && script->format_set)
        return config_error(ctx, "parameter '%sformat' applies to \"mode\": \"worker\" only",
                            ctx->where);
    if (script->mode == RS_MODE_WORKER && script->max_concurrency > 1 &&
        (script->queue_keys_set & MAX_CONCURRENCY_SET))
        return config_error(ctx,
                            "parameter '%smax-concurrency': a worker takes one event at a "
                            "time; start several script entries for more",
                            ctx->where);
    if (script->on_failure == RS_ON_FAILURE_CONTINUE)
        return 0;
    const char *action = rs_on_failure_name(script->on_failure);
    if (!script->wait)
        return config_error(ctx,
                            "parameter '%son-failure': \"%s\" needs \"wait\": true, as Kea "
                            "does not wait for the script's outcome otherwise",
                            ctx->where, action);
    unsigned needed = script->on_failure == RS_ON_FAILURE_SKIP ? RS_HONOURS_SKIP : RS_HONOURS_DROP;
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++) {
        const struct rs_hook_info *info = rs_hook_describe(hook);
        if (!(script->hooks & RS_HOOK_BIT(hook)) || (info->honours & needed))
            continue;
        if (hook == RS_HOOK_LEASE4_REPLAY || hook == RS_HOOK_LEASE6_REPLAY)
            continue; /* replayed leases are ours, not Kea's: nothing to skip or drop */
        return config_error(ctx,
                            "parameter '%son-failure': Kea ignores \"%s\" at %s%s; list "
                            "only hook points that honour it in '%shooks', or give this "
                            "hook point its own script entry",
                            ctx->where, action, info->name,
                            info->honours & RS_HONOURS_SKIP   ? " (it honours skip)"
                            : info->honours & RS_HONOURS_DROP ? " (it honours drop)"
                                                              : "",
                            ctx->where);
    }
    return 0;
}

static int parse_scripts(struct ctx *ctx, const struct json *list,
                         const struct rs_script_config *defaults, struct rs_config *config)
{
    if (list->type != JSON_ARRAY || list->nr == 0)
        return config_error(ctx, "parameter 'scripts' must be a non-empty list of maps");
    config->scripts = calloc(list->nr, sizeof(*config->scripts));
    if (!config->scripts)
        return config_error(ctx, "out of memory");
    char where[32];
    for (size_t i = 0; i < list->nr; i++) {
        snprintf(where, sizeof(where), "scripts[%zu].", i);
        ctx->where = where;
        const struct json *entry = list->items[i];
        if (entry->type != JSON_OBJECT)
            return config_error(ctx, "parameter 'scripts[%zu]' must be a map, not %s", i,
                                json_type_name(entry->type));
        if (script_copy(&config->scripts[i], defaults) != 0)
            return config_error(ctx, "out of memory");
        config->nr_scripts = i + 1;
        int rc = apply_settings(ctx, entry, false, &config->scripts[i]);
        if (!rc)
            rc = check_script(ctx, &config->scripts[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int rs_config_parse(const char *json, struct rs_config *config, char *err, size_t err_size)
{
    static const struct rs_config_kea any_kea = {NULL, 0};
    return rs_config_parse_for(json, &any_kea, config, err, err_size);
}

int rs_config_parse_for(const char *json, const struct rs_config_kea *kea, struct rs_config *config,
                        char *err, size_t err_size)
{
    struct ctx ctx = {err, err_size, "", kea};
    struct rs_script_config defaults = {.wait = true,
                                        .hooks = rs_hook_default_set(),
                                        .queue_limit = RS_DEFAULT_QUEUE_LIMIT,
                                        .max_concurrency = RS_DEFAULT_MAX_CONCURRENCY,
                                        .spool_limit_mb = RS_DEFAULT_SPOOL_LIMIT_MB,
                                        .max_attempts = RS_DEFAULT_MAX_ATTEMPTS,
                                        .format = RS_FORMAT_ENV};
    char parse_err[200];
    int rc;

    *config = (struct rs_config){NULL, 0};
    strvec_init(&defaults.env);
    if (!json || !*json)
        json = "{}";
    struct json *root = json_parse(json, strlen(json), parse_err, sizeof(parse_err));
    if (!root)
        return config_error(&ctx, "parameters: %s", parse_err);
    if (root->type != JSON_OBJECT) {
        rc = config_error(&ctx, "parameters must be a map, not %s", json_type_name(root->type));
        goto free_root;
    }
    rc = apply_settings(&ctx, root, true, &defaults);
    if (rc)
        goto release;
    const struct json *list = json_get(root, "scripts");
    if (list && defaults.path) {
        rc = config_error(&ctx, "parameters 'script' and 'scripts' exclude each other: put "
                                "every script in 'scripts'");
        goto release;
    }
    if (list) {
        rc = parse_scripts(&ctx, list, &defaults, config);
    } else {
        rc = check_script(&ctx, &defaults);
        if (!rc) {
            config->scripts = calloc(1, sizeof(*config->scripts));
            if (!config->scripts)
                rc = config_error(&ctx, "out of memory");
        }
        if (!rc) {
            config->scripts[0] = defaults;
            config->nr_scripts = 1;
            strvec_init(&defaults.env);
            defaults.path = NULL;
            defaults.spool_dir = NULL;
        }
    }

release:
    script_release(&defaults);
    if (rc)
        rs_config_release(config);
free_root:
    json_free(root);
    return rc;
}

void rs_config_release(struct rs_config *config)
{
    for (size_t i = 0; i < config->nr_scripts; i++)
        script_release(&config->scripts[i]);
    free(config->scripts);
    *config = (struct rs_config){NULL, 0};
}

const char *rs_on_failure_name(enum rs_on_failure on_failure)
{
    static const char *const names[] = {"continue", "skip", "drop"};
    return names[on_failure];
}

unsigned rs_script_timeout_ms(const struct rs_script_config *script)
{
    /* Waited-for runs and workers (where one hung event holds up all the others) get the short
     * default; a script run per event alongside Kea may take longer, but a hung one must not
     * hold its slot for ever: four such (nsupdate to a dead DNS server) would stall the queue. An
     * explicit value applies to all. */
    if (script->timeout_set)
        return script->timeout_ms;
    return script->wait || script->mode == RS_MODE_WORKER ? RS_DEFAULT_TIMEOUT_MS
                                                          : RS_DEFAULT_QUEUED_TIMEOUT_MS;
}
