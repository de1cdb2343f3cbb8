/*
 * kea-runscript-status: an operator's look at each script of kea-hook-runscript, one line per
 * script, from Kea's control socket.
 *
 *   kea-runscript-status [--json] [--timeout SECONDS] [SOCKET]
 *
 * It sends {"command": "runscript-status"} to the unix control socket of a kea-dhcp4 (or
 * kea-dhcp6) and reads the answer until Kea closes the connection, which every supported
 * release (2.2, 2.6, 3.0) does after its one answer. The answer is bounded in size and in time,
 * so that a stuck Kea never holds the tool: Kea answers runscript-status without waiting for any
 * script, so an answer that does not come within seconds will not come.
 *
 * Exit status: 0 when Kea answered result 0; 1 when it answered an error (2, command not
 * supported: the library is not loaded in that Kea); 2 for a usage error, or a socket that
 * cannot be reached or read, or an answer that is not one.
 */
#include "cli/status_lines.h"
#include "core/json.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Where Debian's stock /etc/kea/kea-dhcp4.conf puts kea-dhcp4's control socket: named so in
 * Debian 12's (Kea 2.2); Debian 13's and forky's (2.6, 3.0) name it "kea4-ctrl-socket", in the
 * socket directory their Kea is built with, /run/kea: the same file. */
#define DEFAULT_SOCKET    "/run/kea/kea4-ctrl-socket"
#define DEFAULT_TIMEOUT_S 5
/* An answer is about 600 bytes a script; this is thousands of scripts. */
#define MAX_ANSWER (4u << 20)

static const char REQUEST[] = "{\"command\": \"runscript-status\"}";

static void usage(FILE *out)
{
    fputs("usage: kea-runscript-status [--json] [--timeout SECONDS] [SOCKET]\n"
          "\n"
          "One line per script of kea-hook-runscript in a running Kea, from its runscript-status\n"
          "command: index, mode (exec or worker) and whether Kea waits for it (wait) or not\n"
          "(async), paused, the worker's pid, runs started, events in memory (QUEUE) and on\n"
          "disk only (SPOOL), delivered, failed, dropped and dead-lettered, the age of the\n"
          "oldest event waiting, the script's path, and its last error, if any. \"-\": does\n"
          "not apply to that script (a script Kea waits for has no queue). Bytes that are\n"
          "not printable text show as \\xNN, and a space in the path as \\x20.\n"
          "\n"
          "  SOCKET         Kea's unix control socket (\"control-socket\" in its configuration);\n"
          "                 default /run/kea/kea4-ctrl-socket, kea-dhcp4's in Debian's\n"
          "                 configuration. kea-dhcp6 has its own: /run/kea/kea6-ctrl-socket\n"
          "  --json         print Kea's answer as it came, for jq and scripts\n"
          "  --timeout S    give up after S seconds (default 5)\n"
          "  -h, --help     this text\n"
          "\n"
          "Exit status: 0 Kea answered; 1 Kea answered an error (the library is not loaded\n"
          "in that Kea, say); 2 usage, or the socket cannot be reached or read.\n",
          out);
}

static long long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* What the operator can do about a socket that cannot be reached. */
static const char *hint(int error)
{
    switch (error) {
    case ENOENT:
        return " (is Kea running, with this \"control-socket\"? kea-dhcp6 has its own)";
    case EACCES:
        return " (Kea's socket is for root and Kea's user, _kea on Debian)";
    case ECONNREFUSED:
        return " (nothing listens there: is Kea running?)";
    default:
        return "";
    }
}

struct answer {
    char *text;
    size_t len;
};

/*
 * Sends the request to `path` and reads the answer until EOF, all before `timeout_s` seconds.
 * Returns 0, or 2 after saying on stderr which path and why.
 */
static int ask_kea(const char *path, int timeout_s, struct answer *answer)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "kea-runscript-status: %s: a socket's path has %zu bytes at most\n", path,
                sizeof(addr.sun_path) - 1);
        return 2;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s;

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "kea-runscript-status: socket: %s\n", strerror(errno));
        return 2;
    }
    /* A unix socket's connect() and send() wait for room in Kea's backlog and buffer as long as
     * this; a connect() that times out fails with EAGAIN. */
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int error = errno;
        if (error == EAGAIN || error == EINPROGRESS)
            fprintf(stderr, "kea-runscript-status: cannot connect to %s: no room within %d s\n",
                    path, timeout_s);
        else
            fprintf(stderr, "kea-runscript-status: cannot connect to %s: %s%s\n", path,
                    strerror(error), hint(error));
        goto close_fd;
    }
    for (size_t sent = 0; sent < sizeof(REQUEST) - 1;) {
        /* MSG_NOSIGNAL: a Kea that closes first is an error to report, not a SIGPIPE. */
        ssize_t n = send(fd, REQUEST + sent, sizeof(REQUEST) - 1 - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "kea-runscript-status: %s: sending: %s\n", path,
                    errno == EAGAIN ? "timed out" : strerror(errno));
            goto close_fd;
        }
        sent += (size_t)n;
    }

    size_t size = 65536;
    answer->len = 0;
    answer->text = malloc(size);
    if (!answer->text) {
        fputs("kea-runscript-status: out of memory\n", stderr);
        goto close_fd;
    }
    for (;;) {
        long long left = ms_left(&deadline);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            fprintf(stderr, "kea-runscript-status: %s: no answer within %d s (Kea stuck?)\n", path,
                    timeout_s);
            goto free_answer;
        }
        if (ready < 0) {
            fprintf(stderr, "kea-runscript-status: %s: poll: %s\n", path, strerror(errno));
            goto free_answer;
        }
        if (answer->len == size) {
            if (size >= MAX_ANSWER) {
                fprintf(stderr, "kea-runscript-status: %s: an answer larger than %u MB\n", path,
                        MAX_ANSWER >> 20);
                goto free_answer;
            }
            char *bigger = realloc(answer->text, size * 2);
            if (!bigger) {
                fputs("kea-runscript-status: out of memory\n", stderr);
                goto free_answer;
            }
            answer->text = bigger;
            size *= 2;
        }
        ssize_t n = recv(fd, answer->text + answer->len, size - answer->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "kea-runscript-status: %s: reading: %s\n", path, strerror(errno));
            goto free_answer;
        }
        if (n == 0)
            break;
        answer->len += (size_t)n;
    }
    close(fd);
    if (answer->len == 0) {
        fprintf(stderr, "kea-runscript-status: %s: closed without an answer\n", path);
        free(answer->text);
        return 2;
    }
    return 0;

free_answer:
    free(answer->text);
close_fd:
    close(fd);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json_out = false;
    int timeout_s = DEFAULT_TIMEOUT_S;
    int opt;
    while ((opt = getopt_long(argc, argv, "jt:h", options, NULL)) != -1) {
        char *end;
        long value;
        switch (opt) {
        case 'j':
            json_out = true;
            break;
        case 't':
            errno = 0;
            value = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || value < 1 || value > 3600) {
                fprintf(stderr, "kea-runscript-status: --timeout: 1 to 3600 seconds, not '%s'\n",
                        optarg);
                return 2;
            }
            timeout_s = (int)value;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    const char *path = optind < argc ? argv[optind] : DEFAULT_SOCKET;

    struct answer answer;
    if (ask_kea(path, timeout_s, &answer))
        return 2;
    char err[256];
    struct json *parsed = json_parse(answer.text, answer.len, err, sizeof(err));
    if (!parsed) {
        fprintf(stderr, "kea-runscript-status: %s: Kea's answer is not JSON: %s\n", path, err);
        free(answer.text);
        return 2;
    }
    if (json_out) {
        fwrite(answer.text, 1, answer.len, stdout);
        if (answer.text[answer.len - 1] != '\n')
            putchar('\n');
    }
    const struct json *scripts;
    enum rs_status_verdict verdict = rs_status_check(parsed, &scripts, stderr, path);
    if (verdict == RS_STATUS_OK && !json_out)
        rs_status_print(stdout, scripts);
    json_free(parsed);
    free(answer.text);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kea-runscript-status: writing: %s\n", strerror(errno));
        return 2;
    }
    return (int)verdict;
}
