/*
 * spawn: start a script the way a daemon should, and learn how it ended.
 *
 * Lifecycle: rs_spawn() starts the child; the caller polls `pidfd` (readable once the child has
 * exited) and the output pipes; rs_child_reap() collects the status; rs_child_close() releases
 * the descriptors. rs_child_kill_group() ends a child that overstays.
 *
 * What the child gets, whatever state the calling Kea thread is in:
 *   - posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)), so starting a script costs the same
 *     whether Kea holds ten leases or a million: nothing of Kea's memory is copied.
 *   - fds 0, 1, 2 only: stdin is /dev/null, stdout and stderr are pipes back to us; every other
 *     descriptor (lease file, log files, lock file, sockets) is closed before exec.
 *   - default disposition for every signal and an empty signal mask.
 *   - its own process group, so a timeout can end the script and everything it started.
 *   - exactly the argv and envp given: none of Kea's environment.
 * Exec failures (missing file, not executable, bad interpreter) come back from rs_spawn() as
 * -errno, distinct from a script that ran and exited non-zero.
 *
 * Only the child's own pid is ever waited for: Kea's process-wide signal handling is not touched.
 */
#ifndef RS_SPAWN_H
#define RS_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

struct rs_child {
    pid_t pid;
    int pidfd;  /* readable when the child exits; -1 where pidfd_open() is unavailable */
    int out_fd; /* read ends of stdout and stderr, non-blocking and close-on-exec */
    int err_fd;
    int in_fd; /* rs_spawn_fed() only: our end of the child's stdin, else -1 */
};

#define RS_CHILD_INIT                                                                              \
    {                                                                                              \
        -1, -1, -1, -1, -1                                                                         \
    }

/* Starts `path` with `argv` and `envp`. Returns 0, or -errno with nothing left to clean up. */
int rs_spawn(const char *path, char *const argv[], char *const envp[], struct rs_child *child);

/* The same, but the child's stdin is a stream socket whose other end is `child->in_fd`
 * (non-blocking): a socket, so that writing to a worker that died fails with EPIPE via
 * send(MSG_NOSIGNAL) instead of raising SIGPIPE in Kea. */
int rs_spawn_fed(const char *path, char *const argv[], char *const envp[], struct rs_child *child);

enum rs_exit_kind {
    RS_EXITED,      /* `code` is the exit status */
    RS_SIGNALED,    /* `code` is the signal number */
    RS_STATUS_LOST, /* someone else reaped it (another waitpid(-1) in the process) */
};

struct rs_exit {
    enum rs_exit_kind kind;
    int code;
};

/* Collects the exit status. With `block` false, returns -EAGAIN while the child still runs. */
int rs_child_reap(struct rs_child *child, bool block, struct rs_exit *exit);

/* Sends `sig` to the child's process group (the script and whatever it started). */
void rs_child_kill_group(const struct rs_child *child, int sig);

/* Closes whatever descriptors are still open. Does not reap. */
void rs_child_close(struct rs_child *child);

/* A sentence for an exec failure, e.g. "file not found"; `path` decides ENOENT's meaning. */
const char *rs_spawn_strerror(int err, const char *path);

/* The interpreter a script's "#!" line names, into `buf`; returns false if it has none. */
bool rs_script_interpreter(const char *path, char *buf, size_t size);

#endif
