#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int spawn(const char *path, char *const argv[], char *const envp[], bool fed,
                 struct rs_child *child)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t all, none;
    int rc;

    *child = (struct rs_child)RS_CHILD_INIT;
    /* Close-on-exec, so a script that another Kea thread starts at the same moment, or Kea's
     * own kea-lfc, never inherits our ends of these pipes. */
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        (fed && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)) {
        rc = -errno;
        goto close_pipes;
    }

    rc = -posix_spawn_file_actions_init(&actions);
    if (rc)
        goto close_pipes;
    rc = -posix_spawnattr_init(&attr);
    if (rc)
        goto destroy_actions;

    /* Every signal, glibc's two internal ones included: sigfillset() leaves those out, and
     * glibc's posix_spawn then starts the script with them ignored. */
    memset(&all, 0xff, sizeof(all));
    sigemptyset(&none);
    if (fed)
        rc = -posix_spawn_file_actions_adddup2(&actions, in[1], 0);
    else
        rc = -posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = -posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (!rc)
        rc = -posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    if (!rc)
        rc = -posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!rc)
        rc = -posix_spawnattr_setsigdefault(&attr, &all);
    if (!rc)
        rc = -posix_spawnattr_setsigmask(&attr, &none);
    if (!rc)
        rc = -posix_spawnattr_setpgroup(&attr, 0);
    if (!rc)
        rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETPGROUP);
    if (!rc)
        rc = -posix_spawn(&child->pid, path, &actions, &attr, argv, envp);
    if (rc)
        goto destroy_attr;

    child->out_fd = out[0];
    child->err_fd = err[0];
    child->in_fd = in[0];
    out[0] = err[0] = in[0] = -1;
    fcntl(child->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(child->err_fd, F_SETFL, O_NONBLOCK);
    if (child->in_fd >= 0)
        fcntl(child->in_fd, F_SETFL, O_NONBLOCK);
    /* The pid cannot be reused before we reap it, so opening the pidfd now is race-free. */
    child->pidfd = pidfd_open(child->pid, 0);

destroy_attr:
    posix_spawnattr_destroy(&attr);
destroy_actions:
    posix_spawn_file_actions_destroy(&actions);
close_pipes:
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&err[0]);
    close_fd(&err[1]);
    close_fd(&in[0]);
    close_fd(&in[1]);
    return rc;
}

int rs_spawn(const char *path, char *const argv[], char *const envp[], struct rs_child *child)
{
    return spawn(path, argv, envp, false, child);
}

int rs_spawn_fed(const char *path, char *const argv[], char *const envp[], struct rs_child *child)
{
    return spawn(path, argv, envp, true, child);
}

int rs_child_reap(struct rs_child *child, bool block, struct rs_exit *exit)
{
    int status;
    pid_t got;
    if (child->pid <= 0)
        return -ECHILD; /* reaped already: waitpid(-1) would take someone else's child */
    do
        got = waitpid(child->pid, &status, block ? 0 : WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got == 0)
        return -EAGAIN;
    if (got < 0) {
        /* ECHILD: a waitpid(-1) elsewhere in Kea took our child's status. It did end. */
        exit->kind = RS_STATUS_LOST;
        exit->code = 0;
    } else if (WIFSIGNALED(status)) {
        exit->kind = RS_SIGNALED;
        exit->code = WTERMSIG(status);
    } else {
        exit->kind = RS_EXITED;
        exit->code = WEXITSTATUS(status);
    }
    child->pid = -1;
    return 0;
}

void rs_child_kill_group(const struct rs_child *child, int sig)
{
    if (child->pid > 0)
        kill(-child->pid, sig);
}

void rs_child_close(struct rs_child *child)
{
    close_fd(&child->in_fd);
    close_fd(&child->pidfd);
    close_fd(&child->out_fd);
    close_fd(&child->err_fd);
}

bool rs_script_interpreter(const char *path, char *buf, size_t size)
{
    char head[256];
    if (size == 0)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, head, sizeof(head) - 1);
    close(fd);
    if (n < 2 || head[0] != '#' || head[1] != '!')
        return false;
    head[n] = '\0';
    char *start = head + 2;
    start += strspn(start, " \t");
    size_t len = strcspn(start, " \t\r\n");
    if (len == 0 || len >= size)
        return false;
    memcpy(buf, start, len);
    buf[len] = '\0';
    return true;
}

const char *rs_spawn_strerror(int err, const char *path)
{
    struct stat st;
    switch (-err) {
    case ENOENT:
        /* execve() says ENOENT both for a missing script and for a missing #! interpreter. */
        if (stat(path, &st) == 0)
            return "bad interpreter: the #! line names a program that does not exist";
        return "file not found";
    case EACCES:
        return "permission denied: not executable, a directory on its path not searchable, or "
               "a security policy (AppArmor, SELinux) forbids Kea to run it";
    case ENOEXEC:
        return "not an executable format (a script needs a #! line)";
    case ETXTBSY:
        return "file is being written";
    default:
        return strerror(-err);
    }
}
