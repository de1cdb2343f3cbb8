/*
 * config: the hook library's parameters as plain C structs, read from the JSON text of Kea's
 * "parameters" map.
 *
 * Every key is checked here (type, range, existence of the script, whether Kea honours the chosen
 * "on-failure" at every chosen hook point) so that a bad configuration makes Kea's load() fail
 * with a message naming the parameter, before any event runs. Unknown keys are refused rather
 * than ignored: a misspelt "wiat" must not silently keep the default.
 *
 * Shapes accepted:
 *   { "script": "/path", ...settings }                  one script
 *   { ...settings, "scripts": [ { "script": ... }, ... ] }  several; top-level settings are the
 *                                                        defaults of each entry
 */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include "hooks.h"
#include "strvec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A waited-for script gets this long unless "timeout-ms" says otherwise: long enough for any
 * sane hook script, short enough that a hung one cannot stall DHCP service for good. */
#define RS_DEFAULT_TIMEOUT_MS 30000
/* For a script run per event alongside Kea: longer, as nobody waits for it, but bounded, as a
 * hung run holds one of max-concurrency slots and enough of them stall the whole queue. */
#define RS_DEFAULT_QUEUED_TIMEOUT_MS 60000
#define RS_MAX_TIMEOUT_MS            3600000
#define RS_MAX_OPTIONS               64
/* Queue of a script Kea does not wait for (src/core/queue.h). */
#define RS_DEFAULT_QUEUE_LIMIT     10000
#define RS_MAX_QUEUE_LIMIT         1000000
#define RS_DEFAULT_MAX_CONCURRENCY 4
/* Its spool (src/spool/spool.h): in MB. At about 1 KB an event, the default holds some 250,000
 * events: hours of a script being down at a busy site, and still small next to a lease file. */
#define RS_DEFAULT_SPOOL_LIMIT_MB 256
#define RS_MAX_SPOOL_LIMIT_MB     1048576
#define RS_MAX_SPOOL_DIR          3072
/* Failed deliveries of one event before it is set aside as a dead letter. */
#define RS_DEFAULT_MAX_ATTEMPTS 3
#define RS_MAX_MAX_ATTEMPTS     100

enum rs_on_failure { RS_ON_FAILURE_CONTINUE, RS_ON_FAILURE_SKIP, RS_ON_FAILURE_DROP };

/* What an event does when a queue's memory is full (src/core/queue.h). */
enum rs_on_full {
    RS_ON_FULL_SPOOL, /* waits in the spool only */
    RS_ON_FULL_DROP,  /* is dropped, counted and logged */
    RS_ON_FULL_BLOCK, /* Kea's thread waits for room, RS_QUEUE_BLOCK_MAX_MS at most, then spool */
};

/* "exec": one process per event. "worker": one process for all events (src/core/worker.h). */
enum rs_mode { RS_MODE_EXEC, RS_MODE_WORKER };

struct rs_script_config {
    char *path;                       /* argv[0] */
    bool wait;                        /* Kea waits for the script to finish */
    rs_hook_set hooks;                /* hook points that run it */
    unsigned timeout_ms;              /* 0: no limit; see rs_script_timeout_ms() */
    bool timeout_set;                 /* "timeout-ms" was given */
    enum rs_on_failure on_failure;    /* what Kea does when a waited-for run fails */
    struct strvec env;                /* fixed "NAME=value" pairs from "env" */
    uint16_t options[RS_MAX_OPTIONS]; /* query option codes to export from "options" */
    size_t nr_options;
    bool replay;              /* also gets lease4_replay / lease6_replay at start-up */
    bool isc_variables;       /* "variables": "isc": ISC run_script's names and formats */
    bool wait_set, hooks_set; /* given explicitly (here or at the top level) */
    enum rs_mode mode;
    int format;      /* enum rs_format, for workers */
    bool format_set; /* "format" given in this script's own map */
    /* For "wait": false only. */
    unsigned queue_limit;     /* events waiting, at most */
    unsigned max_concurrency; /* runs at once, at most */
    enum rs_on_full on_full;
    char *spool_dir; /* NULL: Kea's data directory (src/core/engine.h) */
    unsigned spool_limit_mb;
    unsigned max_attempts;
    unsigned queue_keys_set; /* which of these this script's own map set, to refuse them with
                              * "wait": true rather than ignore them */
};

struct rs_config {
    struct rs_script_config *scripts; /* run in this order at each hook point */
    size_t nr_scripts;
};

/*
 * Parses `json` (the parameters map; NULL or "" for a library given no parameters) into `config`.
 * Returns 0, or -EINVAL with a sentence naming the parameter in `err`.
 */
int rs_config_parse(const char *json, struct rs_config *config, char *err, size_t err_size);

/* What a configuration is checked against: the Kea it is for. */
struct rs_config_kea {
    const char *scripts_dir; /* the only directory scripts may be in (Kea 3.0); NULL: any */
    int release;             /* 2.6.3 is 20603: hook points it lacks are refused; 0: unknown */
};

/* rs_config_parse() for that Kea. */
int rs_config_parse_for(const char *json, const struct rs_config_kea *kea, struct rs_config *config,
                        char *err, size_t err_size);

void rs_config_release(struct rs_config *config);

const char *rs_on_failure_name(enum rs_on_failure on_failure);

/* How long a run of `script` may take, in ms; 0 means no limit. */
unsigned rs_script_timeout_ms(const struct rs_script_config *script);

#endif
