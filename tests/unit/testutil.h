/*
 * testutil: what several unit tests share: a recording log sink, temporary directories, the
 * inherit_report helper, and process hygiene checks (zombies, descriptors).
 *
 * cmocka assertions longjmp, so they may only be used from the test's main thread; the helpers
 * here that run elsewhere (the recorder's sink) never assert.
 */
#ifndef RS_TESTUTIL_H
#define RS_TESTUTIL_H

#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/* --- recording logger --- */

struct rec_entry {
    enum rs_msg msg;
    char *text;
};

struct recorder {
    struct rs_logger logger; /* hand &rec->logger to the code under test */
    pthread_mutex_t lock;
    struct rec_entry *items;
    size_t nr, alloc;
};

void rec_init(struct recorder *rec);
void rec_free(struct recorder *rec);
/* How many messages `msg` were logged (all messages when `msg` is RS_MSG_COUNT). */
size_t rec_count(struct recorder *rec, enum rs_msg msg);
/* How many messages `msg` contain `needle`. */
size_t rec_count_text(struct recorder *rec, enum rs_msg msg, const char *needle);
/* How many messages of `severity` or worse were logged. */
size_t rec_count_severity(struct recorder *rec, enum rs_severity severity);
/* A malloc'ed copy of the text of the `nth` message `msg` (from 0), or NULL. */
char *rec_text(struct recorder *rec, enum rs_msg msg, size_t nth);
/* Prints everything recorded: for diagnosing a failure. */
void rec_dump(struct recorder *rec);
/* Waits up to scaled_ms(`timeout_ms`) for at least `n` messages `msg`; returns whether they
 * came. */
bool rec_wait(struct recorder *rec, enum rs_msg msg, size_t n, int timeout_ms);

/* --- files --- */

/* A fresh directory under /tmp; rm_tree() removes it with its contents. */
char *make_temp_dir(void);
void rm_tree(const char *path);
/* Writes `content` to dir/name with `mode`; returns the malloc'ed path. */
char *write_file(const char *dir, const char *name, const char *content, mode_t mode);
bool file_exists(const char *path);
/* The whole content of `path`, malloc'ed and NUL-terminated, its length in *len (if not NULL);
 * an empty string when the file does not exist. */
char *read_file(const char *path, size_t *len);
/* How many lines `path` holds (0 when it does not exist). */
size_t count_lines(const char *path);

/* --- the helper script --- */

/* Absolute path of the built inherit_report. */
const char *helper_path(void);

/* --- the environment the tests run in --- */

/*
 * Under valgrind, posix_spawn()'s vfork becomes a plain fork, so an exec failure can no longer be
 * reported to the parent (glibc passes it through the memory they share): the child exits 127
 * instead. Valgrind 3.19 also lacks pidfd_open(), which sends the library down its polling path.
 */
bool under_valgrind(void);
/* Whether this binary was built with ThreadSanitizer (test-tsan): it runs several times slower. */
bool under_tsan(void);
/* Whether pidfd_open() works here. */
bool pidfd_available(void);

/* --- processes and descriptors --- */

/* Number of descriptors open in this process. */
int count_fds(void);
/* Number of threads of this process. */
int count_threads(void);
/* Number of zombie children of this process (from /proc: does not reap them). */
int count_zombie_children(void);
/* Number of children of this process, running or not (from /proc). */
int count_children(void);
/* True once /proc/pid is gone or a zombie, waiting up to scaled_ms(`timeout_ms`). */
bool wait_process_gone(pid_t pid, int timeout_ms);
/* Asserts this process has no child left: no zombie, nothing for waitpid(-1, WNOHANG). */
void assert_no_children(void);
/* What a component under test could leave behind, counted before it starts. */
struct resources {
    int fds;
    int threads;
};
struct resources resources_now(void);
/* Asserts nothing is left since `before`: descriptor, thread, child or zombie. */
void assert_resources_back(const struct resources *before);

/* Reads `fd` (non-blocking is fine) until EOF or scaled_ms(`timeout_ms`); returns a malloc'ed,
 * NUL-terminated buffer and its length in *len. */
char *read_until_eof(int fd, int timeout_ms, size_t *len);

int64_t now_ms(void);
void sleep_ms(int ms);

/* --- time on a machine of unknown speed ---
 *
 * One machine of this project's kind starts a process in 0.5 ms, another in 7 ms, and a test run
 * may share its cores with other work. A timing window's lower bound comes from the code under
 * test (a timeout never fires early) and stays exact; its upper bound, and every deadline for
 * something that should happen "soon", is stretched by how slow this machine measured when the
 * binary started, never by a constant tuned on one box. */

/* What starting and reaping one process costs here, in microseconds: the median of a few
 * posix_spawn() + waitpid() of /bin/true, measured at the first call (from the main thread). */
int64_t spawn_cost_us(void);
/* How many times slower than a quick machine (0.5 ms a spawn) this one is: 1 to 20. */
int slowness(void);
/* A deadline of `ms` on a quick machine, stretched by slowness(). */
int scaled_ms(int ms);
/* The margin above the expected end of a timing window: 1 s on a quick machine, scaled. */
int slack_ms(void);

/* --- inherit_report's output --- */

/* The report's escaping of `s`, malloc'ed. */
char *report_escape(const char *s);
/* The value of the `nth` (from 0) record `key` in `report`, malloc'ed; NULL if absent. */
char *report_get(const char *report, const char *key, size_t nth);
/* How many records `key` the report has. */
size_t report_count(const char *report, const char *key);

#endif
