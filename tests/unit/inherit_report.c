/*
 * inherit_report: the "script" the spawn, job, supervisor and engine tests run.
 *
 * The library always passes argv {script, hook} and an environment it built, so the only channel
 * that reaches the helper through every layer is the environment: INHERIT_MODE holds a
 * comma-separated list of actions, done in order (default: "report").
 *
 *   report          write what was inherited to stdout (format below)
 *   exit=N          exit with status N once every action is done
 *   sleep=MS        sleep MS milliseconds
 *   ignore-term     ignore SIGTERM from now on
 *   lines=N         print N lines "line 1" ... "line N" to stdout
 *   err=N           print N lines "err 1" ... "err N" to stderr
 *   long=N          print one line of N bytes ('a'..'z' repeated) to stdout
 *   binary          print one line holding control, DEL, backslash and non-UTF-8 bytes
 *   partial         print "partial" without a newline
 *   flood=N         print N bytes to stdout, as 63-byte lines
 *   grandchild=MS   fork a grandchild that keeps stdout open and sleeps MS ms; print its pid
 *   touch=PATH      create the file PATH
 *   signal=N        raise signal N
 *
 * Report format, one record per line, every free-form value escaped (bytes 0x21-0x7e other than
 * '\' as they are, anything else as \xHH), so that newlines and high bytes survive the trip:
 *   argc N / argv I VALUE / env VALUE / fd N TARGET / sigblk HEX / sigign HEX / sigcgt HEX /
 *   pid N / pgid N / sid N / end
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            exit(99);
        buf += n;
        len -= (size_t)n;
    }
}

static void put(const char *s)
{
    write_all(1, s, strlen(s));
}

static void put_escaped(const char *s)
{
    char buf[8];
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '\\') {
            write_all(1, (const char *)p, 1);
        } else {
            snprintf(buf, sizeof(buf), "\\x%02x", *p);
            put(buf);
        }
    }
}

static void putf_line(const char *label, long long value)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s %lld\n", label, value);
    put(buf);
}

static int compare_ints(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void report_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        exit(98);
    int fds[1024], nr = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL && nr < 1024) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        /* The directory stream's own descriptor was not inherited. */
        if (fd != dirfd(dir))
            fds[nr++] = fd;
    }
    closedir(dir);
    qsort(fds, (size_t)nr, sizeof(fds[0]), compare_ints);
    for (int i = 0; i < nr; i++) {
        char link[64], target[4096];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        target[n < 0 ? 0 : n] = '\0';
        char head[32];
        snprintf(head, sizeof(head), "fd %d ", fds[i]);
        put(head);
        put_escaped(target);
        put("\n");
    }
}

/* /proc rather than sigaction(): glibc refuses to show its internal signals 32 and 33, and those
 * are exactly the ones a careless posix_spawn leaves ignored. */
static void report_signals(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        exit(97);
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        static const char *const keys[][2] = {
            {"SigBlk:", "sigblk"}, {"SigIgn:", "sigign"}, {"SigCgt:", "sigcgt"}};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            size_t n = strlen(keys[i][0]);
            if (strncmp(line, keys[i][0], n) != 0)
                continue;
            const char *value = line + n;
            value += strspn(value, " \t");
            put(keys[i][1]);
            put(" ");
            put(value); /* ends with its newline */
        }
    }
    fclose(f);
}

static void report(int argc, char **argv)
{
    putf_line("argc", argc);
    for (int i = 0; i < argc; i++) {
        char head[32];
        snprintf(head, sizeof(head), "argv %d ", i);
        put(head);
        put_escaped(argv[i]);
        put("\n");
    }
    for (char **e = environ; *e; e++) {
        put("env ");
        put_escaped(*e);
        put("\n");
    }
    report_fds();
    report_signals();
    putf_line("pid", getpid());
    putf_line("pgid", getpgrp());
    putf_line("sid", getsid(0));
    put("end\n");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void print_lines(int fd, const char *word, long n)
{
    char buf[64];
    for (long i = 1; i <= n; i++) {
        int len = snprintf(buf, sizeof(buf), "%s %ld\n", word, i);
        write_all(fd, buf, (size_t)len);
    }
}

static void print_long(long n)
{
    char *buf = malloc((size_t)n + 1);
    if (!buf)
        exit(96);
    for (long i = 0; i < n; i++)
        buf[i] = (char)('a' + i % 26);
    buf[n] = '\n';
    write_all(1, buf, (size_t)n + 1);
    free(buf);
}

static void flood(long bytes)
{
    char line[64];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    while (bytes > 0) {
        size_t n = bytes < (long)sizeof(line) ? (size_t)bytes : sizeof(line);
        write_all(1, line, n);
        bytes -= (long)n;
    }
}

static void grandchild(long ms)
{
    pid_t pid = fork();
    if (pid < 0)
        exit(95);
    if (pid == 0) {
        sleep_ms(ms);
        _exit(0);
    }
    putf_line("grandchild", pid);
}

int main(int argc, char **argv)
{
    const char *mode = getenv("INHERIT_MODE");
    char *actions = strdup(mode ? mode : "report");
    int status = 0;
    if (!actions)
        return 94;
    for (char *save = NULL, *a = strtok_r(actions, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(a, '=');
        const char *arg = eq ? eq + 1 : "";
        long n = eq ? strtol(arg, NULL, 10) : 0;
        if (eq)
            *eq = '\0';
        if (strcmp(a, "report") == 0) {
            report(argc, argv);
        } else if (strcmp(a, "exit") == 0) {
            status = (int)n;
        } else if (strcmp(a, "sleep") == 0) {
            sleep_ms(n);
        } else if (strcmp(a, "ignore-term") == 0) {
            signal(SIGTERM, SIG_IGN);
        } else if (strcmp(a, "lines") == 0) {
            print_lines(1, "line", n);
        } else if (strcmp(a, "err") == 0) {
            print_lines(2, "err", n);
        } else if (strcmp(a, "long") == 0) {
            print_long(n);
        } else if (strcmp(a, "binary") == 0) {
            static const char bytes[] = "A\x01"
                                        "B\t\x1b[0m\x7f\xff\xfe\\Z\r\n";
            write_all(1, bytes, sizeof(bytes) - 1);
        } else if (strcmp(a, "partial") == 0) {
            put("partial");
        } else if (strcmp(a, "flood") == 0) {
            flood(n);
        } else if (strcmp(a, "grandchild") == 0) {
            grandchild(n);
        } else if (strcmp(a, "touch") == 0) {
            int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0)
                return 93;
            close(fd);
        } else if (strcmp(a, "signal") == 0) {
            raise((int)n);
        } else {
            fprintf(stderr, "inherit_report: unknown action '%s'\n", a);
            return 92;
        }
    }
    free(actions);
    return status;
}
