/*
 * kea-runscript-spool: an operator's look into a script's spool, and the way back for its dead
 * letters.
 *
 *   kea-runscript-spool list DIR                 one line per event waiting there
 *   kea-runscript-spool show DIR                 each event's hook point and variables
 *   kea-runscript-spool replay DIR SCRIPT [MS]   runs SCRIPT once per event, oldest first, as the
 *                                                library would (argv[1] the hook point, the
 *                                                event's variables the environment, MS the
 *                                                timeout, 60000 by default); an event whose run
 *                                                exits 0 leaves the spool; stops at the first
 *                                                that does not
 *
 * A spool is used by one process at a time. Kea holds a script's spool while it runs, so list and
 * replay that only with Kea stopped; its dead letters ("dead-letters" in it) Kea opens only to add
 * one, and replay first moves them aside (to "dead-letters.replay"), so that Kea can go on adding
 * new ones meanwhile. The library's runscript-dead-letters command (src/kea/commands.cc) opens
 * "dead-letters" too, briefly, and never "dead-letters.replay": a list or show of "dead-letters"
 * makes it answer "in use" meanwhile, and a replay takes only what it moved aside.
 */
#include "core/job.h"
#include "core/log.h"
#include "spool/event_record.h"
#include "spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 60000
#define REPLAY_SUFFIX      ".replay"

static void usage(void)
{
    fputs("usage: kea-runscript-spool list DIR\n"
          "       kea-runscript-spool show DIR\n"
          "       kea-runscript-spool replay DIR SCRIPT [TIMEOUT-MS]\n",
          stderr);
}

/* The library's log lines, for a replay: on stderr, with their IDs. */
static void print_log(void *ctx, enum rs_msg msg, const char *text)
{
    (void)ctx;
    if (rs_msg_describe(msg)->severity != RS_DEBUG)
        fprintf(stderr, "%s %s\n", rs_msg_describe(msg)->id, text);
}

/* Removes a spool directory whose events were all replayed: its files are the spool's own. */
static void remove_spool(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *entry;
    while ((entry = readdir(d)))
        if (entry->d_name[0] != '.')
            unlinkat(dirfd(d), entry->d_name, 0);
    closedir(d);
    if (rmdir(dir) < 0)
        fprintf(stderr, "kea-runscript-spool: cannot remove %s: %s\n", dir, strerror(errno));
}

/* A value as a shell would need it quoted: printable ASCII as it is, the rest as \xNN. */
static void print_escaped(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c >= 0x20 && *c < 0x7f && *c != '\\')
            putchar(*c);
        else
            printf("\\x%02x", *c);
    }
}

static int open_spool(const char *dir, struct rs_spool **spool)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "kea-runscript-spool: %s: not a spool directory\n", dir);
        return -ENOTDIR;
    }
    struct rs_spool_config config = {dir, 0, 0, 0};
    struct rs_spool_recovery found;
    int rc = rs_spool_open(spool, &config, &found);
    if (rc == -EBUSY)
        fprintf(stderr, "kea-runscript-spool: %s is in use (by Kea?): stop it first\n", dir);
    else if (rc)
        fprintf(stderr, "kea-runscript-spool: %s: %s\n", dir, strerror(-rc));
    return rc;
}

/* Calls `fn` for each event in the spool, oldest first, until it returns non-zero. Returns 0,
 * what `fn` returned, or -errno. */
static int each_event(struct rs_spool *spool,
                      int (*fn)(void *ctx, const struct rs_spool_pos *pos,
                                const struct rs_event_record *ev),
                      void *ctx)
{
    for (;;) {
        struct rs_spool_record record;
        int rc = rs_spool_read(spool, &record);
        if (rc == -ENOENT)
            return 0;
        if (rc) {
            fprintf(stderr, "kea-runscript-spool: reading: %s\n", strerror(-rc));
            return rc;
        }
        struct rs_event_record ev;
        rc = rs_event_record_decode(record.data, record.len, &ev);
        if (rc) {
            fprintf(stderr, "kea-runscript-spool: event %llu is not readable (%s); skipped\n",
                    (unsigned long long)record.pos.seq, strerror(-rc));
            free(record.data);
            continue;
        }
        rc = fn(ctx, &record.pos, &ev);
        rs_event_record_release(&ev);
        free(record.data);
        if (rc)
            return rc;
    }
}

static int list_one(void *ctx, const struct rs_spool_pos *pos, const struct rs_event_record *ev)
{
    (void)ctx;
    printf("%llu %s attempts=%u variables=%zu\n", (unsigned long long)pos->seq, ev->hook,
           ev->attempts, ev->nr_env);
    return 0;
}

static int show_one(void *ctx, const struct rs_spool_pos *pos, const struct rs_event_record *ev)
{
    (void)ctx;
    printf("# event %llu: %s, %u failed attempts\n", (unsigned long long)pos->seq, ev->hook,
           ev->attempts);
    for (size_t i = 0; i < ev->nr_env; i++) {
        print_escaped(ev->envp[i]);
        putchar('\n');
    }
    putchar('\n');
    return 0;
}

struct replay {
    struct rs_spool *spool;
    const char *script;
    unsigned timeout_ms;
    struct rs_logger log;
    unsigned long long done;
};

static int replay_one(void *ctx, const struct rs_spool_pos *pos, const struct rs_event_record *ev)
{
    struct replay *r = ctx;
    struct rs_job job;
    if (rs_job_start(&job, r->script, ev->hook, ev->envp, r->timeout_ms, &r->log))
        return 1;
    rs_job_wait(&job, false);
    enum rs_outcome outcome = job.outcome;
    rs_job_release(&job);
    if (outcome != RS_OUTCOME_SUCCESS) {
        fprintf(stderr,
                "kea-runscript-spool: event %llu (%s) failed again; it and those after it "
                "stay\n",
                (unsigned long long)pos->seq, ev->hook);
        return 1;
    }
    int rc = rs_spool_ack(r->spool, pos);
    if (rc) {
        fprintf(stderr, "kea-runscript-spool: cannot note event %llu as done: %s\n",
                (unsigned long long)pos->seq, strerror(-rc));
        return 1;
    }
    r->done++;
    return 0;
}

/* Dead letters are moved aside first: Kea may add new ones meanwhile. An earlier replay cut
 * short left its own, which go first. */
static const char *replay_dir(const char *dir, char *buf, size_t size)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    const char *name = "dead-letters";
    size_t name_len = strlen(name);
    if (len < name_len || strncmp(dir + len - name_len, name, name_len) != 0 ||
        (len > name_len && dir[len - name_len - 1] != '/'))
        return dir;
    if (snprintf(buf, size, "%.*s" REPLAY_SUFFIX, (int)len, dir) >= (int)size)
        return dir;
    struct stat st;
    if (stat(buf, &st) == 0) {
        fprintf(stderr, "kea-runscript-spool: replaying %s, left by an earlier replay, first\n",
                buf);
        return buf;
    }
    if (rename(dir, buf) < 0) {
        fprintf(stderr, "kea-runscript-spool: cannot move %s aside: %s\n", dir, strerror(errno));
        return NULL;
    }
    return buf;
}

static int replay(const char *dir, const char *script, unsigned timeout_ms)
{
    char aside[4096];
    const char *from = replay_dir(dir, aside, sizeof(aside));
    if (!from)
        return 1;
    struct replay r = {.script = script, .timeout_ms = timeout_ms, .log = {print_log, NULL}};
    if (open_spool(from, &r.spool))
        return 1;
    int rc = each_event(r.spool, replay_one, &r);
    struct rs_spool_stats stats;
    rs_spool_stats(r.spool, &stats);
    rs_spool_close(r.spool);
    printf("%llu events replayed; %llu left in %s\n", r.done, (unsigned long long)stats.records,
           from);
    if (!rc && stats.records == 0 && from == aside)
        remove_spool(from);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "show") == 0)) {
        struct rs_spool *spool;
        if (open_spool(argv[2], &spool))
            return 1;
        int rc = each_event(spool, strcmp(argv[1], "list") == 0 ? list_one : show_one, NULL);
        rs_spool_close(spool);
        return rc ? 1 : 0;
    }
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "replay") == 0) {
        char *end = NULL;
        unsigned long timeout = argc == 5 ? strtoul(argv[4], &end, 10) : DEFAULT_TIMEOUT_MS;
        if (argc == 5 && (*end || timeout > 3600000)) {
            usage();
            return 2;
        }
        return replay(argv[2], argv[3], (unsigned)timeout);
    }
    usage();
    return 2;
}
