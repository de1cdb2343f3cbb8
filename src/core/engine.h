/*
 * engine: what the Kea adapter talks to. It owns the configuration, the supervisor thread, and
 * decides, for each event, which scripts run and how.
 *
 * Lifecycle: rs_engine_new (from load()), rs_engine_dispatch (from callouts, any Kea thread,
 * concurrently), rs_engine_free (from unload(): waits a bounded time for running scripts).
 */
#ifndef RS_ENGINE_H
#define RS_ENGINE_H

#include "config.h"
#include "event.h"
#include "log.h"

#include <stdbool.h>
#include <stdint.h>

/* How long unload waits for deliveries under way (and scripts Kea waited for that overstayed)
 * before it kills them. What was not delivered stays in the spool, so this is short: a stop or a
 * reconfiguration must not keep DHCP down. */
#define RS_ENGINE_DRAIN_MS 2000
/* How long a worker gets to exit by itself once its stdin is closed. */
#define RS_WORKER_GRACE_MS 2000

/* What the callout should tell Kea to do next (CalloutHandle's next-step status). */
enum rs_next_step { RS_NEXT_CONTINUE, RS_NEXT_SKIP, RS_NEXT_DROP };

struct rs_engine;

/* What the engine knows of the Kea it runs in. */
struct rs_engine_env {
    const char *data_dir;    /* Kea's data directory: the default "spool-dir"; NULL: unknown */
    const char *daemon;      /* "dhcp4" or "dhcp6": keeps the two servers' spools apart */
    const char *scripts_dir; /* Kea 3.0's scripts directory, the only one scripts may be in;
                              * NULL: scripts may be anywhere (Kea 2.x, or Kea started with -X) */
    int kea_release;         /* 2.6.3 is 20603; 0: unknown */
};

/*
 * Parses `params_json` and starts the engine. Returns 0, or -errno with a sentence naming the
 * faulty parameter in `err`. `log` must outlive the engine; `env` is copied (its strings must
 * outlive the engine too).
 */
int rs_engine_new(const char *params_json, const struct rs_engine_env *env,
                  const struct rs_logger *log, struct rs_engine **out, char *err, size_t err_size);

/* The hook points some script wants: the adapter registers callouts for these only. */
rs_hook_set rs_engine_hooks(const struct rs_engine *engine);

/* Whether some script wants ISC run_script's variables: the adapter then fills those too. */
bool rs_engine_wants_isc(const struct rs_engine *engine);

/* The query option codes some script asked for ("options"); the adapter exports these. */
size_t rs_engine_option_codes(const struct rs_engine *engine, const unsigned short **codes);

/*
 * Runs the scripts that want `ev->hook`, in configuration order. Thread-safe. Scripts Kea does not
 * wait for take the event's variables with them (no copy is made on Kea's thread): `ev` must
 * still be released afterwards, but not dispatched again. When a waited-for script fails (non-zero
 * exit, killed, timed out) and its "on-failure" is skip or drop, returns that; drop also stops the
 * scripts after it, as the packet is gone. A script that could not be started never changes Kea's
 * course: that is logged as an error.
 */
enum rs_next_step rs_engine_dispatch(struct rs_engine *engine, struct rs_event *ev);

/* The number of scripts, in configuration order: the `index` of rs_engine_get_script_stats(). */
size_t rs_engine_nr_scripts(const struct rs_engine *engine);

/*
 * What one script has done since the engine started, for Kea's statistics and the
 * runscript-status command. Counters only grow; the depths and the age are the state now.
 * A script Kea waits for has no queue: its queue fields stay 0, and `failed` counts its runs
 * that failed (exited non-zero, died by a signal, timed out). For a script with a queue, `failed`
 * counts failed deliveries (attempts), as "max-attempts" does.
 */
struct rs_engine_script_stats {
    const char *script; /* the path; the engine's, valid as long as it is */
    bool wait;
    enum rs_mode mode;
    rs_hook_set hooks;
    /* Queue ("wait": false). */
    uint64_t events_queued; /* accepted: in memory or the spool */
    uint64_t delivered;     /* delivered, once each */
    uint64_t failed;        /* see above */
    uint64_t dropped;       /* "on-full": "drop", or both the spool and memory full */
    uint64_t dead_lettered; /* set aside after "max-attempts" */
    uint64_t queue_depth;   /* waiting or being delivered, in memory */
    uint64_t spool_depth;   /* waiting on disk only, memory being full */
    uint64_t spool_bytes;   /* the spool's size on disk (written-ahead events included) */
    uint64_t oldest_age_s;  /* since the oldest event not yet delivered was queued; 0: none */
    bool paused;            /* rs_queue_pause() (the runscript-pause command) */
    /* Runs. */
    uint64_t runs_started;              /* processes started (a worker: each start) */
    uint64_t runs_killed;               /* at their timeout (a worker: for not answering in time) */
    uint64_t exec_failures;             /* the script could not be executed */
    uint64_t worker_restarts;           /* a worker ended after a failure */
    int worker_pid;                     /* "mode": "worker": its pid, 0 while none runs */
    char last_error[RS_LAST_ERROR_MAX]; /* the last failure's text; "": none yet */
};

/* Fills `out` for script `index` (< rs_engine_nr_scripts()). Any thread; never waits for a
 * script: it takes the queue's lock as briefly as a push does. */
void rs_engine_get_script_stats(struct rs_engine *engine, size_t index,
                                struct rs_engine_script_stats *out);

/*
 * An operator's commands on script `index`, which must be one Kea does not wait for (-EINVAL
 * otherwise: it has no queue). See rs_queue_pause() and the dead letters in src/core/queue.h.
 * rs_engine_pause() returns 1 when the state changed, 0 when it was so already.
 */
struct rs_event_record;
int rs_engine_pause(struct rs_engine *engine, size_t index, bool pause);
int rs_engine_dead_letters_list(struct rs_engine *engine, size_t index, size_t max,
                                void (*fn)(void *ctx, uint64_t seq,
                                           const struct rs_event_record *ev),
                                void *ctx, uint64_t *total);
int rs_engine_dead_letters_retry(struct rs_engine *engine, size_t index, size_t max,
                                 uint64_t *moved, uint64_t *left);
int rs_engine_dead_letters_drop(struct rs_engine *engine, size_t index, uint64_t *dropped);

void rs_engine_free(struct rs_engine *engine);

#endif
