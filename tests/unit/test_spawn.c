#include "event.h"
#include "spawn.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
    char *dir;
    char *not_executable;
    char *bad_interpreter;
    char *no_shebang;
    char *missing;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = make_temp_dir();
    f->not_executable = write_file(f->dir, "plain.sh", "#!/bin/sh\nexit 0\n", 0644);
    f->bad_interpreter =
        write_file(f->dir, "bad-interp.sh", "#!/nonexistent/interpreter\nexit 0\n", 0755);
    f->no_shebang = write_file(f->dir, "no-shebang.sh", "echo hello\n", 0755);
    assert_true(asprintf(&f->missing, "%s/missing", f->dir) > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_tree(f->dir);
    free(f->dir);
    free(f->not_executable);
    free(f->bad_interpreter);
    free(f->no_shebang);
    free(f->missing);
    free(f);
    return 0;
}

/* Runs the helper with INHERIT_MODE=`mode` and returns its stdout once it has exited. */
static char *run_helper(const char *mode, struct rs_exit *ex)
{
    char *env = NULL;
    assert_true(asprintf(&env, "INHERIT_MODE=%s", mode) > 0);
    char *const argv[] = {(char *)helper_path(), "hook", NULL};
    char *const envp[] = {env, NULL};
    struct rs_child child;
    assert_int_equal(rs_spawn(helper_path(), argv, envp, &child), 0);
    char *out = read_until_eof(child.out_fd, 5000, NULL);
    assert_int_equal(rs_child_reap(&child, true, ex), 0);
    assert_int_equal(child.pid, -1);
    rs_child_close(&child);
    free(env);
    return out;
}

static volatile sig_atomic_t sigchld_seen;

static void on_sigchld(int sig)
{
    (void)sig;
    sigchld_seen = 1;
}

static void assert_same_mask(const sigset_t *a, const sigset_t *b)
{
    for (int sig = 1; sig < NSIG; sig++)
        assert_int_equal(sigismember(a, sig) == 1, sigismember(b, sig) == 1);
}

/* What a Kea process may hold when it runs a script: descriptors without O_CLOEXEC, blocked and
 * ignored signals, a SIGCHLD handler, and an environment of its own. Undone by the teardown even
 * when the test fails, so that the other tests run in a normal process. */
static struct {
    int fds_before;
    int leak_ro, leak_high, leak_pipe[2], leak_sock[2];
    sigset_t old_mask, mask_set;
    struct sigaction old_ign[4], old_chld;
} hostile_parent;

/* SIGRTMIN is not a constant, hence a function rather than a table. */
static int ignored_signal(size_t i)
{
    static const int fixed[] = {SIGPIPE, SIGHUP, SIGUSR2};
    return i < 3 ? fixed[i] : SIGRTMIN + 2;
}

static int make_parent_hostile(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, chld = {.sa_handler = on_sigchld};
    sigset_t blocked;
    hostile_parent.fds_before = count_fds();
    hostile_parent.leak_ro = open("/dev/null", O_RDONLY);
    hostile_parent.leak_high = dup2(hostile_parent.leak_ro, 200);
    if (hostile_parent.leak_ro < 3 || hostile_parent.leak_high != 200 ||
        pipe(hostile_parent.leak_pipe) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, hostile_parent.leak_sock) != 0)
        return -1;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGRTMIN + 1);
    sigaddset(&blocked, SIGRTMAX);
    if (pthread_sigmask(SIG_BLOCK, &blocked, &hostile_parent.old_mask) != 0 ||
        pthread_sigmask(SIG_SETMASK, NULL, &hostile_parent.mask_set) != 0)
        return -1;
    for (size_t i = 0; i < 4; i++)
        if (sigaction(ignored_signal(i), &ign, &hostile_parent.old_ign[i]) != 0)
            return -1;
    sigemptyset(&chld.sa_mask);
    if (sigaction(SIGCHLD, &chld, &hostile_parent.old_chld) != 0)
        return -1;
    return setenv("RS_TEST_MUST_NOT_LEAK", "1", 1);
}

static int restore_parent(void **state)
{
    (void)state;
    unsetenv("RS_TEST_MUST_NOT_LEAK");
    sigaction(SIGCHLD, &hostile_parent.old_chld, NULL);
    for (size_t i = 0; i < 4; i++)
        sigaction(ignored_signal(i), &hostile_parent.old_ign[i], NULL);
    pthread_sigmask(SIG_SETMASK, &hostile_parent.old_mask, NULL);
    close(hostile_parent.leak_ro);
    close(hostile_parent.leak_high);
    close(hostile_parent.leak_pipe[0]);
    close(hostile_parent.leak_pipe[1]);
    close(hostile_parent.leak_sock[0]);
    close(hostile_parent.leak_sock[1]);
    return 0;
}

static void test_child_gets_clean_state(void **state)
{
    (void)state;
    struct sigaction chld_after;
    sigset_t mask_after;

    static char hostile[] = "HOSTILE=$(reboot) `id` 'q' \"dq\"\nline2\t\xff\xfe end";
    char *const envp[] = {"INHERIT_MODE=report", "PATH=" RS_SCRIPT_PATH, hostile, "EMPTY=", NULL};
    char *const argv[] = {(char *)helper_path(), "lease4_select", NULL};
    struct rs_child child = RS_CHILD_INIT;
    assert_int_equal(rs_spawn(helper_path(), argv, envp, &child), 0);
    assert_true(child.pid > 0);
    assert_int_equal(child.in_fd, -1);
    /* Our ends of the pipes: non-blocking, and never inherited by another script. */
    for (int i = 0; i < 2; i++) {
        int fd = i ? child.err_fd : child.out_fd;
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    }
    if (pidfd_available()) {
        assert_true(child.pidfd >= 0);
        assert_true(fcntl(child.pidfd, F_GETFD) & FD_CLOEXEC);
    } else {
        assert_int_equal(child.pidfd, -1);
    }

    size_t len;
    char *report = read_until_eof(child.out_fd, 5000, &len);
    char *errors = read_until_eof(child.err_fd, 1000, NULL);
    struct rs_exit ex = {RS_STATUS_LOST, -1};
    assert_int_equal(rs_child_reap(&child, true, &ex), 0);
    assert_int_equal(ex.kind, RS_EXITED);
    assert_int_equal(ex.code, 0);
    assert_string_equal(errors, "");
    free(errors);
    if (!strstr(report, "\nend\n"))
        print_message("report: %s\n", report);
    assert_non_null(strstr(report, "\nend\n"));

    /* The library never touches the caller's signal state. */
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask_after), 0);
    assert_same_mask(&hostile_parent.mask_set, &mask_after);
    assert_int_equal(sigaction(SIGCHLD, NULL, &chld_after), 0);
    assert_ptr_equal(chld_after.sa_handler, on_sigchld);
    for (size_t i = 0; i < 4; i++) {
        struct sigaction now;
        assert_int_equal(sigaction(ignored_signal(i), NULL, &now), 0);
        assert_ptr_equal(now.sa_handler, SIG_IGN);
    }

    /* argv as given. */
    char *v = report_get(report, "argc", 0);
    assert_string_equal(v, "2");
    free(v);
    char *expected = report_escape(helper_path());
    v = report_get(report, "argv", 0);
    assert_non_null(v);
    assert_true(strncmp(v, "0 ", 2) == 0);
    assert_string_equal(v + 2, expected);
    free(v);
    free(expected);
    v = report_get(report, "argv", 1);
    assert_string_equal(v, "1 lease4_select");
    free(v);

    /* Exactly envp, in order, byte for byte: nothing of ours. */
    assert_int_equal(report_count(report, "env"), 4);
    for (size_t i = 0; i < 4; i++) {
        expected = report_escape(envp[i]);
        v = report_get(report, "env", i);
        assert_string_equal(v, expected);
        free(v);
        free(expected);
    }
    assert_null(strstr(report, "RS_TEST_MUST_NOT_LEAK"));

    /* fds 0, 1, 2 only: /dev/null and two different pipes. */
    assert_int_equal(report_count(report, "fd"), 3);
    char *fd0 = report_get(report, "fd", 0), *fd1 = report_get(report, "fd", 1),
         *fd2 = report_get(report, "fd", 2);
    assert_string_equal(fd0, "0 /dev/null");
    assert_true(strncmp(fd1, "1 pipe:[", 8) == 0);
    assert_true(strncmp(fd2, "2 pipe:[", 8) == 0);
    assert_string_not_equal(fd1 + 2, fd2 + 2);
    free(fd0);
    free(fd1);
    free(fd2);

    /* Empty mask, nothing ignored: not even glibc's internal signals 32 and 33. */
    v = report_get(report, "sigblk", 0);
    assert_non_null(v);
    assert_string_equal(v, "0000000000000000");
    free(v);
    v = report_get(report, "sigign", 0);
    assert_non_null(v);
    assert_string_equal(v, "0000000000000000");
    free(v);

    /* Its own process group, in our session. */
    char *pid = report_get(report, "pid", 0), *pgid = report_get(report, "pgid", 0),
         *sid = report_get(report, "sid", 0);
    assert_non_null(pid);
    assert_non_null(pgid);
    assert_string_equal(pid, pgid);
    assert_int_not_equal(atoi(pgid), getpgrp());
    assert_int_equal(atoi(sid), getsid(0));
    free(pid);
    free(pgid);
    free(sid);
    free(report);

    rs_child_close(&child);
    assert_int_equal(child.pidfd, -1);
    assert_int_equal(child.out_fd, -1);
    assert_int_equal(child.err_fd, -1);
    rs_child_close(&child);
    /* Only the six descriptors the test opened itself. */
    assert_int_equal(count_fds(), hostile_parent.fds_before + 6);
    assert_true(sigchld_seen);
    assert_no_children();
}

static void assert_exec_fails(const char *path, int expected_err, const char *message)
{
    int fds_before = count_fds();
    char *const argv[] = {(char *)path, "hook", NULL};
    char *const envp[] = {NULL};
    struct rs_child child = {.pid = 123, .pidfd = 124, .out_fd = 125, .err_fd = 126};
    int rc = rs_spawn(path, argv, envp, &child);
    if (rc != -expected_err)
        print_message("%s: got %d (%s), expected %d\n", path, rc, strerror(-rc), -expected_err);
    assert_int_equal(rc, -expected_err);
    /* Nothing left to clean up: no descriptor, no child, no zombie. */
    assert_int_equal(child.pid, -1);
    assert_int_equal(child.pidfd, -1);
    assert_int_equal(child.out_fd, -1);
    assert_int_equal(child.err_fd, -1);
    assert_int_equal(count_fds(), fds_before);
    assert_no_children();
    const char *text = rs_spawn_strerror(rc, path);
    if (!strstr(text, message))
        print_message("%s: \"%s\" lacks \"%s\"\n", path, text, message);
    assert_non_null(strstr(text, message));
}

static void test_exec_failures(void **state)
{
    struct fixture *f = *state;
    if (under_valgrind()) {
        /* The messages at least; the failures themselves cannot come back (testutil.h). */
        assert_string_equal(rs_spawn_strerror(-ENOENT, f->missing), "file not found");
        assert_non_null(strstr(rs_spawn_strerror(-ENOENT, f->bad_interpreter), "interpreter"));
        skip();
    }
    assert_exec_fails(f->missing, ENOENT, "file not found");
    assert_exec_fails(f->not_executable, EACCES, "permission denied");
    assert_exec_fails(f->bad_interpreter, ENOENT, "interpreter");
    assert_exec_fails(f->no_shebang, ENOEXEC, "#!");
    assert_exec_fails(f->dir, EACCES, "permission denied");
    /* Distinct errors for distinct causes, not one generic failure. */
    assert_string_not_equal(rs_spawn_strerror(-ENOENT, f->missing),
                            rs_spawn_strerror(-ENOENT, f->bad_interpreter));
    assert_non_null(strstr(rs_spawn_strerror(-ETXTBSY, f->missing), "being written"));
    assert_string_equal(rs_spawn_strerror(-EPERM, f->missing), strerror(EPERM));
}

static void test_exit_status(void **state)
{
    (void)state;
    struct rs_exit ex;
    free(run_helper("exit=42", &ex));
    assert_int_equal(ex.kind, RS_EXITED);
    assert_int_equal(ex.code, 42);

    free(run_helper("lines=1", &ex));
    assert_int_equal(ex.kind, RS_EXITED);
    assert_int_equal(ex.code, 0);

    free(run_helper("signal=15", &ex));
    assert_int_equal(ex.kind, RS_SIGNALED);
    assert_int_equal(ex.code, SIGTERM);

    free(run_helper("signal=9", &ex));
    assert_int_equal(ex.kind, RS_SIGNALED);
    assert_int_equal(ex.code, SIGKILL);
    assert_no_children();
}

static void test_reap_nonblocking_and_pidfd(void **state)
{
    (void)state;
    char *const argv[] = {(char *)helper_path(), "hook", NULL};
    char *const envp[] = {"INHERIT_MODE=sleep=60000", NULL};
    struct rs_child child;
    assert_int_equal(rs_spawn(helper_path(), argv, envp, &child), 0);
    pid_t pid = child.pid;
    struct rs_exit ex;
    assert_int_equal(rs_child_reap(&child, false, &ex), -EAGAIN);
    assert_int_equal(child.pid, pid);
    struct pollfd pfd = {child.pidfd, POLLIN, 0};
    if (child.pidfd >= 0)
        assert_int_equal(poll(&pfd, 1, 0), 0);

    int64_t start = now_ms();
    rs_child_kill_group(&child, SIGKILL);
    if (child.pidfd >= 0) {
        /* The pidfd says when it is over, without reaping it. */
        assert_int_equal(poll(&pfd, 1, scaled_ms(5000)), 1);
        assert_true(now_ms() - start < slack_ms());
    } else {
        assert_true(wait_process_gone(pid, 2000));
    }
    assert_int_equal(rs_child_reap(&child, false, &ex), 0);
    assert_int_equal(ex.kind, RS_SIGNALED);
    assert_int_equal(ex.code, SIGKILL);
    assert_int_equal(child.pid, -1);
    /* Reaped: no longer ours to signal. */
    rs_child_kill_group(&child, SIGKILL);
    rs_child_close(&child);
    assert_no_children();
}

static void test_kill_group_reaches_grandchild(void **state)
{
    (void)state;
    char *const argv[] = {(char *)helper_path(), "hook", NULL};
    char *const envp[] = {"INHERIT_MODE=grandchild=20000,sleep=20000", NULL};
    struct rs_child child;
    assert_int_equal(rs_spawn(helper_path(), argv, envp, &child), 0);

    /* Wait for the line that names the grandchild. */
    char buf[256] = "";
    size_t n = 0;
    int64_t end = now_ms() + scaled_ms(5000);
    while (!strchr(buf, '\n') && now_ms() < end) {
        struct pollfd pfd = {child.out_fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t got = read(child.out_fd, buf + n, sizeof(buf) - 1 - n);
        if (got > 0)
            n += (size_t)got;
        buf[n] = '\0';
    }
    int grandchild = 0;
    assert_int_equal(sscanf(buf, "grandchild %d", &grandchild), 1);
    assert_true(grandchild > 0);
    assert_false(wait_process_gone(grandchild, 0));
    assert_int_equal(getpgid(grandchild), child.pid);

    rs_child_kill_group(&child, SIGKILL);
    struct rs_exit ex;
    assert_int_equal(rs_child_reap(&child, true, &ex), 0);
    assert_int_equal(ex.kind, RS_SIGNALED);
    assert_int_equal(ex.code, SIGKILL);
    assert_true(wait_process_gone(grandchild, 2000));
    rs_child_close(&child);
    assert_no_children();
}

struct spawner {
    pthread_t thread;
    int runs;
    int failures;
};

static void *spawn_many(void *arg)
{
    struct spawner *s = arg;
    char *const argv[] = {(char *)helper_path(), "hook", NULL};
    char *const envp[] = {"INHERIT_MODE=report", NULL};
    for (int i = 0; i < s->runs; i++) {
        struct rs_child child;
        if (rs_spawn(helper_path(), argv, envp, &child) != 0) {
            s->failures++;
            continue;
        }
        /* No assertions here: cmocka's only work in the test's own thread. */
        size_t len = 0;
        char buf[65536];
        int64_t end = now_ms() + scaled_ms(5000);
        for (;;) {
            struct pollfd pfd = {child.out_fd, POLLIN, 0};
            if (now_ms() > end || (poll(&pfd, 1, 100) < 0 && errno != EINTR))
                break;
            ssize_t got = read(child.out_fd, buf + len, sizeof(buf) - 1 - len);
            if (got == 0 || (got < 0 && errno != EAGAIN))
                break;
            if (got > 0)
                len += (size_t)got;
        }
        buf[len] = '\0';
        if (report_count(buf, "fd") != 3 || !strstr(buf, "\nend\n"))
            s->failures++;
        struct rs_exit ex;
        if (rs_child_reap(&child, true, &ex) != 0 || ex.kind != RS_EXITED || ex.code != 0)
            s->failures++;
        rs_child_close(&child);
    }
    return NULL;
}

static void test_concurrent_spawns_share_nothing(void **state)
{
    (void)state;
    /* Four threads spawning at once: no child may hold another's pipe, or its reader would
     * wait for EOF until that other child ends. */
    int fds_before = count_fds();
    struct spawner s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct spawner){.runs = 15, .failures = 0};
        assert_int_equal(pthread_create(&s[i].thread, NULL, spawn_many, &s[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(s[i].thread, NULL);
        assert_int_equal(s[i].failures, 0);
    }
    assert_int_equal(count_fds(), fds_before);
    assert_no_children();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_child_gets_clean_state, make_parent_hostile,
                                        restore_parent),
        cmocka_unit_test(test_exec_failures),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_reap_nonblocking_and_pidfd),
        cmocka_unit_test(test_kill_group_reaches_grandchild),
        cmocka_unit_test(test_concurrent_spawns_share_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
