/*
 * log: the core's messages, and the sink they go to.
 *
 * The core never writes to stderr or syslog itself: inside Kea, every line must reach Kea's logger
 * with a message ID an operator can filter and grep for. Each message below has one fixed ID and
 * severity; the Kea adapter registers exactly this table with Kea's message dictionary, and the
 * unit tests install a sink that records what was said.
 *
 * A sink may be called from any thread (Kea's packet threads and the core's supervisor thread),
 * so it must be thread-safe; Kea's logger is.
 */
#ifndef RS_LOG_H
#define RS_LOG_H

enum rs_severity { RS_DEBUG, RS_INFO, RS_WARN, RS_ERROR };

/* The longest text kept of a script's last failure, NUL included (src/core/counters.h): a
 * sentence for an operator's status view, not a log line. */
#define RS_LAST_ERROR_MAX 256

#define RS_MESSAGES(X)                                                                             \
    X(RS_MSG_LOADED, "RUNSCRIPT_LOADED", RS_INFO)                                                  \
    X(RS_MSG_LOAD_FAILED, "RUNSCRIPT_LOAD_FAILED", RS_ERROR)                                       \
    X(RS_MSG_UNLOADED, "RUNSCRIPT_UNLOADED", RS_INFO)                                              \
    X(RS_MSG_SCRIPT_STARTED, "RUNSCRIPT_SCRIPT_STARTED", RS_DEBUG)                                 \
    X(RS_MSG_SCRIPT_DONE, "RUNSCRIPT_SCRIPT_DONE", RS_DEBUG)                                       \
    X(RS_MSG_EXEC_FAILED, "RUNSCRIPT_EXEC_FAILED", RS_ERROR)                                       \
    X(RS_MSG_SPAWN_FAILED, "RUNSCRIPT_SPAWN_FAILED", RS_ERROR)                                     \
    X(RS_MSG_EXIT_STATUS, "RUNSCRIPT_EXIT_STATUS", RS_WARN)                                        \
    X(RS_MSG_KILLED_BY_SIGNAL, "RUNSCRIPT_KILLED_BY_SIGNAL", RS_WARN)                              \
    X(RS_MSG_TIMEOUT, "RUNSCRIPT_TIMEOUT", RS_WARN)                                                \
    X(RS_MSG_STATUS_LOST, "RUNSCRIPT_STATUS_LOST", RS_WARN)                                        \
    X(RS_MSG_STDOUT, "RUNSCRIPT_STDOUT", RS_INFO)                                                  \
    X(RS_MSG_STDERR, "RUNSCRIPT_STDERR", RS_WARN)                                                  \
    X(RS_MSG_OUTPUT_SUPPRESSED, "RUNSCRIPT_OUTPUT_SUPPRESSED", RS_WARN)                            \
    X(RS_MSG_SHUTDOWN_KILL, "RUNSCRIPT_SHUTDOWN_KILL", RS_WARN)                                    \
    X(RS_MSG_NEXT_STEP, "RUNSCRIPT_NEXT_STEP", RS_INFO)                                            \
    X(RS_MSG_QUEUE_FULL, "RUNSCRIPT_QUEUE_FULL", RS_WARN)                                          \
    X(RS_MSG_UNDELIVERED, "RUNSCRIPT_UNDELIVERED", RS_WARN)                                        \
    X(RS_MSG_SPOOL, "RUNSCRIPT_SPOOL", RS_INFO)                                                    \
    X(RS_MSG_SPOOL_FAILED, "RUNSCRIPT_SPOOL_FAILED", RS_ERROR)                                     \
    X(RS_MSG_RETRY, "RUNSCRIPT_RETRY", RS_WARN)                                                    \
    X(RS_MSG_DEAD_LETTER, "RUNSCRIPT_DEAD_LETTER", RS_ERROR)                                       \
    X(RS_MSG_WORKER_ANSWER, "RUNSCRIPT_WORKER_ANSWER", RS_WARN)                                    \
    X(RS_MSG_WORKER_PROTOCOL, "RUNSCRIPT_WORKER_PROTOCOL", RS_ERROR)                               \
    X(RS_MSG_WORKER_RESTART, "RUNSCRIPT_WORKER_RESTART", RS_WARN)                                  \
    X(RS_MSG_REPLAY_DONE, "RUNSCRIPT_REPLAY_DONE", RS_INFO)                                        \
    X(RS_MSG_STATS, "RUNSCRIPT_STATS", RS_INFO)                                                    \
    X(RS_MSG_CALLOUT_ERROR, "RUNSCRIPT_CALLOUT_ERROR", RS_ERROR)

enum rs_msg {
#define RS_MSG_ENUM(name, id, severity) name,
    RS_MESSAGES(RS_MSG_ENUM)
#undef RS_MSG_ENUM
        RS_MSG_COUNT
};

struct rs_msg_info {
    const char *id;
    enum rs_severity severity;
};

const struct rs_msg_info *rs_msg_describe(enum rs_msg msg);

typedef void (*rs_log_fn)(void *ctx, enum rs_msg msg, const char *text);

struct rs_logger {
    rs_log_fn fn;
    void *ctx;
};

/* Formats and sends one message; a NULL logger or sink drops it. Never fails. */
void rs_log(const struct rs_logger *logger, enum rs_msg msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
