#include "config.h"
#include "json.h"

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
};

static int config_error(struct ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
    return config_error(ctx, "parameter '%s' must be %s, not %s", key, json_type_name(type),
                        json_type_name(value->type));
}

/* The script must exist and be executable now: better a refused configuration than a DHCP
 * server that logs an exec failure for every packet. */
static int check_script(struct ctx *ctx, const char *key, const char *path)
{
    struct stat st;
    if (!*path)
        return config_error(ctx, "parameter '%s' is empty", key);
    if (stat(path, &st) < 0)
        return config_error(ctx, "parameter '%s': %s: %s", key, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return config_error(ctx, "parameter '%s': %s is not a regular file", key, path);
    if (!(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) || access(path, X_OK) < 0)
        return config_error(ctx, "parameter '%s': %s is not executable", key, path);
    return 0;
}

static int parse_script(struct ctx *ctx, const struct json *params, struct rs_script_config *out)
{
    *out = (struct rs_script_config){NULL, true, RS_HOOK_SET_ALL};
    for (size_t i = 0; i < params->nr; i++) {
        const char *key = params->keys[i];
        const struct json *value = params->items[i];
        int rc;
        if (strcmp(key, "script") == 0) {
            rc = expect_type(ctx, key, value, JSON_STRING);
            if (!rc && strlen(value->string) != value->len)
                rc = config_error(ctx, "parameter 'script' contains a NUL byte");
            if (!rc)
                rc = check_script(ctx, key, value->string);
            if (!rc) {
                free(out->path);
                out->path = strdup(value->string);
                if (!out->path)
                    rc = config_error(ctx, "out of memory");
            }
        } else if (strcmp(key, "wait") == 0) {
            rc = expect_type(ctx, key, value, JSON_BOOL);
            if (!rc)
                out->wait = value->boolean;
        } else {
            rc = config_error(ctx, "unknown parameter '%s' (known: script, wait)", key);
        }
        if (rc)
            return rc;
    }
    if (!out->path)
        return config_error(ctx, "parameter 'script' is missing: it names the program to run");
    return 0;
}

int rs_config_parse(const char *json, struct rs_config *config, char *err, size_t err_size)
{
    struct ctx ctx = {err, err_size};
    char parse_err[200];
    int rc;

    *config = (struct rs_config){NULL, 0};
    if (!json || !*json)
        json = "{}";
    struct json *root = json_parse(json, strlen(json), parse_err, sizeof(parse_err));
    if (!root)
        return config_error(&ctx, "parameters: %s", parse_err);
    if (root->type != JSON_OBJECT) {
        rc = config_error(&ctx, "parameters must be a map, not %s", json_type_name(root->type));
        goto free_root;
    }
    config->scripts = calloc(1, sizeof(*config->scripts));
    if (!config->scripts) {
        rc = config_error(&ctx, "out of memory");
        goto free_root;
    }
    config->nr_scripts = 1;
    rc = parse_script(&ctx, root, &config->scripts[0]);
    if (rc)
        rs_config_release(config);

free_root:
    json_free(root);
    return rc;
}

void rs_config_release(struct rs_config *config)
{
    for (size_t i = 0; i < config->nr_scripts; i++)
        free(config->scripts[i].path);
    free(config->scripts);
    *config = (struct rs_config){NULL, 0};
}
