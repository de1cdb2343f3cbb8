#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__SANITIZE_THREAD__)
#define RS_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RS_UNDER_TSAN 1
#endif
#endif

#ifdef RS_UNDER_TSAN
static void *do_nothing(void *arg)
{
    return arg;
}

/* ThreadSanitizer starts a thread of its own at the first pthread_create(): have it started
 * before any test counts this process's threads. */
__attribute__((constructor)) static void start_tsan_thread(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, do_nothing, NULL) == 0)
        pthread_join(thread, NULL);
}
#endif

#ifndef INHERIT_REPORT_PATH
#error "tests.mk passes the helper's path as INHERIT_REPORT_PATH"
#endif

static void rec_sink(void *ctx, enum rs_msg msg, const char *text)
{
    struct recorder *rec = ctx;
    char *copy = strdup(text);
    pthread_mutex_lock(&rec->lock);
    if (rec->nr == rec->alloc) {
        size_t alloc = rec->alloc ? rec->alloc * 2 : 64;
        struct rec_entry *items = realloc(rec->items, alloc * sizeof(*items));
        if (!items) {
            /* A test cannot go on meaningfully without memory; abort() is loud enough. */
            abort();
        }
        rec->items = items;
        rec->alloc = alloc;
    }
    rec->items[rec->nr++] = (struct rec_entry){msg, copy};
    pthread_mutex_unlock(&rec->lock);
}

void rec_init(struct recorder *rec)
{
    rec->logger = (struct rs_logger){rec_sink, rec};
    pthread_mutex_init(&rec->lock, NULL);
    rec->items = NULL;
    rec->nr = rec->alloc = 0;
}

void rec_free(struct recorder *rec)
{
    for (size_t i = 0; i < rec->nr; i++)
        free(rec->items[i].text);
    free(rec->items);
    pthread_mutex_destroy(&rec->lock);
}

size_t rec_count(struct recorder *rec, enum rs_msg msg)
{
    return rec_count_text(rec, msg, "");
}

size_t rec_count_text(struct recorder *rec, enum rs_msg msg, const char *needle)
{
    size_t n = 0;
    pthread_mutex_lock(&rec->lock);
    for (size_t i = 0; i < rec->nr; i++)
        if ((msg == RS_MSG_COUNT || rec->items[i].msg == msg) && rec->items[i].text &&
            strstr(rec->items[i].text, needle))
            n++;
    pthread_mutex_unlock(&rec->lock);
    return n;
}

size_t rec_count_severity(struct recorder *rec, enum rs_severity severity)
{
    size_t n = 0;
    pthread_mutex_lock(&rec->lock);
    for (size_t i = 0; i < rec->nr; i++)
        if (rs_msg_describe(rec->items[i].msg)->severity >= severity)
            n++;
    pthread_mutex_unlock(&rec->lock);
    return n;
}

char *rec_text(struct recorder *rec, enum rs_msg msg, size_t nth)
{
    char *text = NULL;
    pthread_mutex_lock(&rec->lock);
    for (size_t i = 0; i < rec->nr && !text; i++)
        if (rec->items[i].msg == msg && nth-- == 0)
            text = strdup(rec->items[i].text ? rec->items[i].text : "");
    pthread_mutex_unlock(&rec->lock);
    return text;
}

void rec_dump(struct recorder *rec)
{
    pthread_mutex_lock(&rec->lock);
    for (size_t i = 0; i < rec->nr; i++)
        print_message("  log %s: %s\n", rs_msg_describe(rec->items[i].msg)->id,
                      rec->items[i].text ? rec->items[i].text : "(null)");
    pthread_mutex_unlock(&rec->lock);
}

bool rec_wait(struct recorder *rec, enum rs_msg msg, size_t n, int timeout_ms)
{
    int64_t end = now_ms() + scaled_ms(timeout_ms);
    while (rec_count(rec, msg) < n && now_ms() < end)
        sleep_ms(5);
    return rec_count(rec, msg) >= n;
}

char *make_temp_dir(void)
{
    char *dir = strdup("/tmp/rs-unit-XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rm_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *write_file(const char *dir, const char *name, const char *content, mode_t mode)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), len);
    /* open() applies the umask; the tests need the exact mode. */
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
    return path;
}

bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        assert_int_equal(errno, ENOENT);
        char *empty = calloc(1, 1);
        assert_non_null(empty);
        if (len)
            *len = 0;
        return empty;
    }
    char *buf = read_until_eof(fd, 10000, len);
    close(fd);
    return buf;
}

size_t count_lines(const char *path)
{
    size_t len, n = 0;
    char *buf = read_file(path, &len);
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    free(buf);
    return n;
}

const char *helper_path(void)
{
    return INHERIT_REPORT_PATH;
}

bool under_valgrind(void)
{
    return RUNNING_ON_VALGRIND != 0;
}

bool under_tsan(void)
{
#ifdef RS_UNDER_TSAN
    return true;
#else
    return false;
#endif
}

bool pidfd_available(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* The entries of the directory `path`, "." and ".." aside. */
static int count_entries(const char *path)
{
    DIR *dir = opendir(path);
    assert_non_null(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

int count_fds(void)
{
    return count_entries("/proc/self/fd") - 1; /* the directory stream's own descriptor */
}

int count_threads(void)
{
    return count_entries("/proc/self/task");
}

/* State letter and parent of /proc/pid/stat, or false when it is gone. */
static bool proc_stat(pid_t pid, char *state, pid_t *ppid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name is in parentheses and may itself contain spaces and parentheses. */
    char *close_paren = strrchr(buf, ')');
    int parent;
    if (!close_paren || sscanf(close_paren + 1, " %c %d", state, &parent) != 2)
        return false;
    *ppid = parent;
    return true;
}

static int count_children_in(bool zombies_only)
{
    DIR *dir = opendir("/proc");
    assert_non_null(dir);
    int n = 0;
    struct dirent *de;
    pid_t self = getpid();
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char state;
        pid_t ppid;
        if (proc_stat(atoi(de->d_name), &state, &ppid) && ppid == self &&
            (state == 'Z' || !zombies_only))
            n++;
    }
    closedir(dir);
    return n;
}

int count_zombie_children(void)
{
    return count_children_in(true);
}

int count_children(void)
{
    return count_children_in(false);
}

bool wait_process_gone(pid_t pid, int timeout_ms)
{
    int64_t end = now_ms() + scaled_ms(timeout_ms);
    for (;;) {
        char state;
        pid_t ppid;
        if (!proc_stat(pid, &state, &ppid) || state == 'Z' || state == 'X')
            return true;
        if (now_ms() >= end)
            return false;
        sleep_ms(5);
    }
}

void assert_no_children(void)
{
    assert_int_equal(count_zombie_children(), 0);
    int status;
    pid_t got = waitpid(-1, &status, WNOHANG);
    if (got < 0)
        assert_int_equal(errno, ECHILD);
    else
        assert_int_equal(got, 0);
}

struct resources resources_now(void)
{
    return (struct resources){count_fds(), count_threads()};
}

void assert_resources_back(const struct resources *before)
{
    assert_int_equal(count_fds(), before->fds);
    /* Threads exit a moment after pthread_join() lets go of them; give /proc that moment. */
    int64_t end = now_ms() + scaled_ms(2000);
    while (count_threads() != before->threads && now_ms() < end)
        sleep_ms(5);
    assert_int_equal(count_threads(), before->threads);
    assert_no_children();
}

char *read_until_eof(int fd, int timeout_ms, size_t *len)
{
    size_t alloc = 4096, n = 0;
    char *buf = malloc(alloc);
    assert_non_null(buf);
    int64_t end = now_ms() + scaled_ms(timeout_ms);
    for (;;) {
        int64_t left = end - now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        if (alloc - n < 4096) {
            alloc *= 2;
            buf = realloc(buf, alloc);
            assert_non_null(buf);
        }
        ssize_t got = read(fd, buf + n, alloc - n - 1);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

extern char **environ;

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t spawn_cost_us(void)
{
    static int64_t measured = -1;
    if (measured >= 0)
        return measured;
    enum { SAMPLES = 7 };
    int64_t costs[SAMPLES];
    char *const argv[] = {"/bin/true", NULL};
    for (int i = 0; i < SAMPLES; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid;
        int status;
        if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0 ||
            waitpid(pid, &status, 0) != pid)
            abort(); /* no test of this suite can mean anything without processes */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        costs[i] = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    }
    qsort(costs, SAMPLES, sizeof(costs[0]), compare_int64);
    measured = costs[SAMPLES / 2];
    if (getenv("RS_TEST_VERBOSE") || measured > 2000)
        fprintf(stderr, "testutil: a spawn costs %lld us here: timing margins x%d\n",
                (long long)measured, slowness());
    return measured;
}

/* Measured before any test starts, while this process has no other thread. */
__attribute__((constructor)) static void measure_at_start(void)
{
    spawn_cost_us();
}

int slowness(void)
{
    int64_t factor = (spawn_cost_us() + 499) / 500;
    return factor < 1 ? 1 : factor > 20 ? 20 : (int)factor;
}

int scaled_ms(int ms)
{
    return ms * slowness();
}

int slack_ms(void)
{
    return scaled_ms(1000);
}

char *report_escape(const char *s)
{
    char *out = malloc(strlen(s) * 4 + 1);
    assert_non_null(out);
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '\\')
            out[n++] = (char)*p;
        else
            n += (size_t)sprintf(out + n, "\\x%02x", *p);
    }
    out[n] = '\0';
    return out;
}

char *report_get(const char *report, const char *key, size_t nth)
{
    size_t key_len = strlen(key);
    for (const char *line = report; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > key_len && strncmp(line, key, key_len) == 0 && line[key_len] == ' ' && nth-- == 0)
            return strndup(line + key_len + 1, len - key_len - 1);
        line += len + (eol ? 1 : 0);
    }
    return NULL;
}

size_t report_count(const char *report, const char *key)
{
    size_t n = 0;
    char *value;
    while ((value = report_get(report, key, n)) != NULL) {
        free(value);
        n++;
    }
    return n;
}
