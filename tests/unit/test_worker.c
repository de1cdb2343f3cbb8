#include "supervisor.h"
#include "testutil.h"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The worker of these tests, in Python: it decodes each event (either framing) and appends it to
 * $OUT as one line, hook and variables in hex, so the test can compare bytes exactly. An event's
 * ACTION variable tells it what to do: answer=N, die-once:NAME (exit 7 without answering, the
 * first time), garbage-once:NAME, long (an answer line that never ends), close-stdin (then live
 * on), close-stdout (then live on without answering), hang, stderr, stderr-flood (3000 lines),
 * stderr-forever (never answer, write without end). $EXIT_AFTER=N makes it exit after N events,
 * $IGNORE_EOF keeps it alive after EOF. It appends "PID MONOTONIC_MS" to $STARTS when it starts,
 * and the size of each group of answers it wrote at once to $BATCHES: it holds its answers while
 * more events are waiting to be read. What would block for ever gives up after a minute, so a
 * killed test run leaves nothing behind for long.
 */
static const char worker_script[] =
    "#!/usr/bin/python3\n"
    "import json, os, select, sys, time\n"
    "env = os.environ\n"
    "fmt = env.get('FORMAT', 'env')\n"
    "exit_after = int(env.get('EXIT_AFTER', '0'))\n"
    "with open(env['STARTS'], 'a') as f:\n"
    "    f.write('%d %d\\n' % (os.getpid(), int(time.monotonic() * 1000)))\n"
    "buf = b''\n"
    "eof = False\n"
    "def readline():\n"
    "    global buf, eof\n"
    "    while True:\n"
    "        i = buf.find(b'\\n')\n"
    "        if i >= 0:\n"
    "            line, buf = buf[:i + 1], buf[i + 1:]\n"
    "            return line\n"
    "        if eof:\n"
    "            return None\n"
    "        data = os.read(0, 65536)\n"
    "        eof = not data\n"
    "        buf += data\n"
    "def more_input():\n"
    "    return bool(buf) or bool(select.select([0], [], [], 0)[0])\n"
    "def unescape(b):\n"
    "    out = bytearray()\n"
    "    i = 0\n"
    "    while i < len(b):\n"
    "        if b[i] == 0x5c:\n"
    "            i += 1\n"
    "            out += b'\\n' if b[i:i + 1] == b'n' else b[i:i + 1]\n"
    "        else:\n"
    "            out.append(b[i])\n"
    "        i += 1\n"
    "    return bytes(out)\n"
    "def next_event():\n"
    "    line = readline()\n"
    "    if line is None:\n"
    "        return None\n"
    "    if fmt == 'json':\n"
    "        ev = json.loads(line)\n"
    "        se = lambda s: s.encode('utf-8', 'surrogateescape')\n"
    "        return se(ev['hook']), [se(k) + b'=' + se(v) for k, v in ev['env'].items()]\n"
    "    hook, variables = unescape(line[:-1]), []\n"
    "    while True:\n"
    "        line = readline()\n"
    "        if line is None or line == b'\\n':\n"
    "            return hook, variables\n"
    "        variables.append(unescape(line[:-1]))\n"
    "def once(name):\n"
    "    path = os.path.join(env['MARKERS'], name)\n"
    "    if os.path.exists(path):\n"
    "        return False\n"
    "    open(path, 'w').close()\n"
    "    return True\n"
    "def flush(answers):\n"
    "    if len(answers) > 1:\n"
    "        with open(env['BATCHES'], 'a') as f:\n"
    "            f.write('%d\\n' % len(answers))\n"
    "    sys.stdout.write(''.join(a + '\\n' for a in answers))\n"
    "    sys.stdout.flush()\n"
    "pending, handled = [], 0\n"
    "while True:\n"
    "    ev = next_event()\n"
    "    if ev is None:\n"
    "        break\n"
    "    hook, variables = ev\n"
    "    with open(env['OUT'], 'ab') as f:\n"
    "        f.write(b' '.join(x.hex().encode() for x in [hook] + variables) + b'\\n')\n"
    "    vars = dict(v.split(b'=', 1) for v in variables)\n"
    "    action = vars.get(b'ACTION', b'').decode()\n"
    "    answer = '0'\n"
    "    if action.startswith('answer='):\n"
    "        answer = action[7:]\n"
    "    elif action.startswith('die-once:') and once(action):\n"
    "        flush(pending)\n"
    "        sys.exit(7)\n"
    "    elif action.startswith('garbage-once:') and once(action):\n"
    "        answer = 'bogus'\n"
    "    elif action == 'long':\n"
    "        sys.stdout.write('x' * 1000)\n"
    "        sys.stdout.flush()\n"
    "    elif action == 'close-stdin':\n"
    "        os.close(0)\n"
    "        flush(pending + [answer])\n"
    "        time.sleep(60)\n"
    "    elif action == 'close-stdout':\n"
    "        os.close(1)\n"
    "        time.sleep(60)\n"
    "    elif action == 'hang':\n"
    "        time.sleep(60)\n"
    "    elif action == 'stderr-forever':\n"
    "        os.set_inheritable(os.dup(1), True)\n"
    "        os.dup2(2, 1)\n"
    "        os.execv('/usr/bin/yes', ['yes', 'chatter'])\n"
    "    elif action == 'stderr-flood':\n"
    "        for i in range(3000):\n"
    "            sys.stderr.write('flood %04d %s\\n' % (i, 'x' * 70))\n"
    "        sys.stderr.flush()\n"
    "    elif action == 'stderr':\n"
    "        sys.stderr.buffer.write(b'oops ' + vars.get(b'SEQ', b'') + b'\\nbad \\xff byte\\n')\n"
    "        sys.stderr.flush()\n"
    "    pending.append(answer)\n"
    "    handled += 1\n"
    "    if exit_after and handled >= exit_after:\n"
    "        flush(pending)\n"
    "        sys.exit(0)\n"
    "    if not more_input():\n"
    "        flush(pending)\n"
    "        pending = []\n"
    "if env.get('IGNORE_EOF'):\n"
    "    time.sleep(60)\n";

struct fixture {
    char *dir;
    char *script;
    char *out, *starts, *batches;
    char *vars[6]; /* OUT=, STARTS=, BATCHES=, MARKERS=, PATH=, NULL */
    struct resources before;
    struct recorder rec;
    struct rs_supervisor *sup;
    struct rs_worker *worker; /* the one running, for teardown to stop after a failure */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->before = resources_now();
    f->dir = make_temp_dir();
    f->script = write_file(f->dir, "worker.py", worker_script, 0755);
    assert_true(asprintf(&f->out, "%s/out", f->dir) > 0);
    assert_true(asprintf(&f->starts, "%s/starts", f->dir) > 0);
    assert_true(asprintf(&f->batches, "%s/batches", f->dir) > 0);
    assert_true(asprintf(&f->vars[0], "OUT=%s", f->out) > 0);
    assert_true(asprintf(&f->vars[1], "STARTS=%s", f->starts) > 0);
    assert_true(asprintf(&f->vars[2], "BATCHES=%s", f->batches) > 0);
    assert_true(asprintf(&f->vars[3], "MARKERS=%s", f->dir) > 0);
    f->vars[4] = strdup("PATH=/usr/bin:/bin");
    rec_init(&f->rec);
    assert_int_equal(rs_supervisor_start(&f->sup, &f->rec.logger), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->worker)
        rs_worker_stop(f->worker, 0);
    if (f->sup)
        rs_supervisor_stop(f->sup, 5000);
    rec_free(&f->rec);
    rm_tree(f->dir);
    for (int i = 0; i < 5; i++)
        free(f->vars[i]);
    free(f->dir);
    free(f->script);
    free(f->out);
    free(f->starts);
    free(f->batches);
    free(f);
    return 0;
}

/* Stops the supervisor, then checks nothing is left: descriptor, thread, child or zombie. */
static void finish(struct fixture *f)
{
    rs_supervisor_stop(f->sup, 5000);
    f->sup = NULL;
    assert_int_equal(rec_count(&f->rec, RS_MSG_SHUTDOWN_KILL), 0);
    assert_resources_back(&f->before);
}

/* Starts the worker with the fixture's variables and `extra` ones (NULL-terminated). */
static struct rs_worker *worker_start(struct fixture *f, enum rs_format format, unsigned timeout_ms,
                                      const char *const *extra)
{
    char *envp[16];
    size_t n = 0;
    for (int i = 0; i < 5; i++)
        envp[n++] = f->vars[i];
    envp[n++] = format == RS_FORMAT_JSON ? "FORMAT=json" : "FORMAT=env";
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        envp[n++] = (char *)extra[i];
    envp[n] = NULL;
    struct rs_worker_config config = {
        .script = f->script, .format = format, .timeout_ms = timeout_ms, .envp = envp};
    struct rs_worker *w = NULL;
    assert_int_equal(rs_worker_start(&w, &config, f->sup, &f->rec.logger), 0);
    assert_non_null(w);
    f->worker = w;
    return w;
}

static void worker_stop(struct fixture *f, unsigned grace_ms)
{
    struct rs_worker *w = f->worker;
    f->worker = NULL;
    rs_worker_stop(w, grace_ms);
}

/* The line the worker writes for an event: hook and variables in hex, separated by spaces. */
static void append_hex(char **line, size_t *len, const char *s)
{
    size_t n = strlen(s);
    *line = realloc(*line, *len + 2 * n + 2);
    assert_non_null(*line);
    if (*len)
        (*line)[(*len)++] = ' ';
    for (size_t i = 0; i < n; i++)
        *len += (size_t)sprintf(*line + *len, "%02x", (unsigned char)s[i]);
    (*line)[*len] = '\0';
}

static char *event_line(const char *hook, char *const envp[])
{
    char *line = NULL;
    size_t len = 0;
    append_hex(&line, &len, hook);
    for (size_t i = 0; envp[i]; i++)
        append_hex(&line, &len, envp[i]);
    line = realloc(line, len + 2);
    assert_non_null(line);
    memcpy(line + len, "\n", 2);
    return line;
}

/* The worker's pid from the nth line of $STARTS, and when it started. */
static pid_t worker_pid(struct fixture *f, size_t nth, int64_t *started_ms)
{
    char *text = read_file(f->starts, NULL);
    const char *line = text;
    for (size_t i = 0; i < nth && line; i++) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    long long pid = 0, ms = 0;
    assert_non_null(line);
    assert_int_equal(sscanf(line, "%lld %lld", &pid, &ms), 2);
    free(text);
    if (started_ms)
        *started_ms = ms;
    return (pid_t)pid;
}

/* Waits until the worker has written its $STARTS line (`n` lines in all). */
static void wait_started(struct fixture *f, size_t n)
{
    int64_t end = now_ms() + scaled_ms(5000);
    while (count_lines(f->starts) < n && now_ms() < end)
        sleep_ms(5);
    assert_int_equal(count_lines(f->starts), n);
}

/* Values a client can put in a hostname or an option. */
static char *const hostile[] = {
    "PATH=/usr/bin:/bin",
    "NEWLINE=line1\nline2\n",
    "BACKSLASH=back\\slash\\",
    "LOOKALIKE=\\n is not a newline, \\\\ is two",
    "EQUALS==a=b==",
    "HIGH=\xff\xfe\x80 caf\xc3\xa9 \xed\xa0\x80 \xf0\x9f\x98\x80",
    "EMPTY=",
    "CONTROL=\t\r\x01\x1b[0m\x7f",
    "SHELL=\"quoted\" 'single' $(id) `id` ;|&",
    NULL,
};

static void check_framing(struct fixture *f, enum rs_format format)
{
    struct rs_worker *w = worker_start(f, format, 5000, NULL);
    char *const simple[] = {"SEQ=2", NULL};
    char *const none[] = {NULL};
    assert_int_equal(rs_worker_deliver(w, "lease4_select", hostile, false), RS_OUTCOME_SUCCESS);
    assert_int_equal(rs_worker_deliver(w, "pkt4_send", simple, false), RS_OUTCOME_SUCCESS);
    assert_int_equal(rs_worker_deliver(w, "odd\nhook\\\xff", none, false), RS_OUTCOME_SUCCESS);
    assert_int_equal(rs_worker_deliver(w, "lease6_renew", hostile, true), RS_OUTCOME_SUCCESS);
    worker_stop(f, 5000);

    char *expected = NULL;
    char *lines[] = {event_line("lease4_select", hostile), event_line("pkt4_send", simple),
                     event_line("odd\nhook\\\xff", none), event_line("lease6_renew", hostile)};
    assert_true(asprintf(&expected, "%s%s%s%s", lines[0], lines[1], lines[2], lines[3]) > 0);
    char *got = read_file(f->out, NULL);
    if (strcmp(got, expected) != 0)
        print_message("worker read:\n%sexpected:\n%s", got, expected);
    assert_string_equal(got, expected);
    /* One worker did it all, and said nothing. */
    assert_int_equal(count_lines(f->starts), 1);
    if (rec_count_severity(&f->rec, RS_WARN) != 0)
        rec_dump(&f->rec);
    assert_int_equal(rec_count_severity(&f->rec, RS_WARN), 0);
    for (int i = 0; i < 4; i++)
        free(lines[i]);
    free(expected);
    free(got);
    finish(f);
}

static void test_env_framing_exact(void **state)
{
    check_framing(*state, RS_FORMAT_ENV);
}

static void test_json_framing_exact(void **state)
{
    check_framing(*state, RS_FORMAT_JSON);
}

static void test_answers(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    char *const zero[] = {"ACTION=answer=0", NULL};
    char *const three[] = {"ACTION=answer=3", NULL};
    char *const minus[] = {"ACTION=answer= -1 ", NULL};
    assert_int_equal(rs_worker_deliver(w, "lease4_renew", zero, false), RS_OUTCOME_SUCCESS);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_ANSWER), 0);
    assert_int_equal(rs_worker_deliver(w, "lease4_select", three, false), RS_OUTCOME_FAILED);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_ANSWER), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_WORKER_ANSWER, "(lease4_select): answered 3"),
                     1);
    assert_int_equal(rs_worker_deliver(w, "lease4_expire", minus, true), RS_OUTCOME_FAILED);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_WORKER_ANSWER, "(lease4_expire): answered -1"),
                     1);
    assert_int_equal(rs_worker_deliver(w, "lease4_renew", zero, true), RS_OUTCOME_SUCCESS);
    /* A failing answer is not a broken worker: still the same one. */
    assert_int_equal(count_lines(f->starts), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_RESTART), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 0);
    assert_int_equal(count_lines(f->out), 4);
    worker_stop(f, 5000);
    finish(f);
}

static void test_exit_after_each_event_restarts(void **state)
{
    struct fixture *f = *state;
    const char *const extra[] = {"EXIT_AFTER=1", NULL};
    int64_t t0 = now_ms();
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, extra);
    int64_t returned[3];
    for (int i = 0; i < 3; i++) {
        char seq[16];
        snprintf(seq, sizeof(seq), "SEQ=%d", i);
        char *const envp[] = {seq, NULL};
        assert_int_equal(rs_worker_deliver(w, "lease4_select", envp, true), RS_OUTCOME_SUCCESS);
        returned[i] = now_ms() - t0;
    }
    /* A new worker for each event, never two starts within a second, and no longer a pause. */
    assert_true(returned[0] < slack_ms());
    assert_true(returned[1] >= 1000);
    assert_true(returned[2] >= 2000);
    assert_true(returned[2] < 2000 + slack_ms());
    assert_int_equal(count_lines(f->starts), 3);
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = worker_pid(f, (size_t)i, NULL);
    assert_true(pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2]);
    /* Each event went to one worker only: the one that exited had not read the next. */
    assert_int_equal(count_lines(f->out), 3);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_RESTART), 2);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_WORKER_RESTART, "delivering 1 unanswered"), 2);
    /* A worker that exits is not one that breaks the protocol. */
    if (rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL) != 0)
        rec_dump(&f->rec);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 0);
    worker_stop(f, 5000);
    /* All three were reaped and their ends logged, the last one's by stop. */
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SCRIPT_DONE, "(worker): exited with status 0"),
                     3);
    for (int i = 0; i < 3; i++)
        assert_true(wait_process_gone(pids[i], 1000));
    finish(f);
}

static void test_unanswered_event_delivered_again(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = now_ms();
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    wait_started(f, 1);
    pid_t first = worker_pid(f, 0, NULL);
    char *const die[] = {"SEQ=1", "ACTION=die-once:a", NULL};
    /* Patient: waits for the restart, then the new worker answers. */
    assert_int_equal(rs_worker_deliver(w, "lease4_expire", die, true), RS_OUTCOME_SUCCESS);
    assert_true(now_ms() - t0 >= 1000);
    char *line = event_line("lease4_expire", die);
    char *expected = NULL;
    assert_true(asprintf(&expected, "%s%s", line, line) > 0);
    char *got = read_file(f->out, NULL);
    assert_string_equal(got, expected); /* delivered twice, the same bytes */
    free(got);
    free(expected);
    free(line);
    assert_int_equal(count_lines(f->starts), 2);
    assert_true(wait_process_gone(first, 1000));
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_RESTART), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_EXIT_STATUS, "(worker): exited with status 7"),
                     1);
    if (rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL) != 0)
        rec_dump(&f->rec);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 0);

    /* Not patient (Kea waits): within a second of the last start there is no second try. */
    char *const die_again[] = {"SEQ=2", "ACTION=die-once:b", NULL};
    int64_t t1 = now_ms();
    assert_int_equal(rs_worker_deliver(w, "lease4_expire", die_again, false), RS_OUTCOME_FAILED);
    char *const plain[] = {"SEQ=3", NULL};
    /* ... nor a new worker for the next event, which is not run. */
    assert_int_equal(rs_worker_deliver(w, "lease4_expire", plain, false), RS_OUTCOME_NOT_RUN);
    assert_true(now_ms() - t1 < slack_ms());
    assert_int_equal(count_lines(f->starts), 2);
    /* A second later, a new one takes it. */
    sleep_ms(1100);
    assert_int_equal(rs_worker_deliver(w, "lease4_expire", plain, false), RS_OUTCOME_SUCCESS);
    assert_int_equal(count_lines(f->starts), 3);
    assert_int_equal(count_lines(f->out), 4);
    worker_stop(f, 5000);
    finish(f);
}

static void test_hanging_worker_times_out(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_JSON, 200, NULL);
    wait_started(f, 1);
    pid_t pid = worker_pid(f, 0, NULL);
    char *const hang[] = {"ACTION=hang", NULL};
    int64_t t0 = now_ms();
    assert_int_equal(rs_worker_deliver(w, "pkt4_receive", hang, false), RS_OUTCOME_TIMEOUT);
    int64_t elapsed = now_ms() - t0;
    assert_in_range(elapsed, 190, 200 + slack_ms());
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_TIMEOUT, "no answer within its timeout"), 1);
    /* SIGTERM, then the supervisor reaps it. */
    assert_true(wait_process_gone(pid, 2000));
    int64_t end = now_ms() + scaled_ms(2000);
    while ((rs_supervisor_jobs(f->sup) > 0 || count_children() > 0) && now_ms() < end)
        sleep_ms(5);
    assert_int_equal(rs_supervisor_jobs(f->sup), 0);
    assert_int_equal(count_children(), 0);
    assert_int_equal(count_zombie_children(), 0);
    worker_stop(f, 5000);
    finish(f);
}

static void test_chatty_hanging_worker_times_out(void **state)
{
    struct fixture *f = *state;
    /* Under valgrind or TSan, the library reads slower than `yes` writes: job.c's stream_read()
     * then seldom finds the pipe empty, and the timeout overshoots by seconds. */
    if (under_valgrind() || under_tsan())
        skip();
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 200, NULL);
    wait_started(f, 1);
    pid_t pid = worker_pid(f, 0, NULL);
    /* It never answers, and never stops writing to stderr: the timeout holds all the same. */
    char *const chatter[] = {"ACTION=stderr-forever", NULL};
    int64_t t0 = now_ms();
    assert_int_equal(rs_worker_deliver(w, "pkt4_receive", chatter, false), RS_OUTCOME_TIMEOUT);
    assert_in_range(now_ms() - t0, 190, 200 + slack_ms());
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_TIMEOUT, "no answer within its timeout"), 1);
    assert_true(wait_process_gone(pid, 3000));
    worker_stop(f, 5000);
    finish(f);
}

static void test_garbage_answer_restarts(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    wait_started(f, 1);
    pid_t first = worker_pid(f, 0, NULL);
    char *const garbage[] = {"SEQ=1", "ACTION=garbage-once:a", NULL};
    assert_int_equal(rs_worker_deliver(w, "lease6_select", garbage, true), RS_OUTCOME_SUCCESS);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_WORKER_PROTOCOL, "something else than"), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_RESTART), 1);
    assert_int_equal(count_lines(f->out), 2);
    assert_int_equal(count_lines(f->starts), 2);
    /* The broken one was terminated and reaped. */
    assert_true(wait_process_gone(first, 2000));

    /* An answer line that never ends is broken too; not patient, so no second try. */
    char *const endless[] = {"SEQ=2", "ACTION=long", NULL};
    int64_t t0 = now_ms();
    assert_int_equal(rs_worker_deliver(w, "lease6_select", endless, false), RS_OUTCOME_FAILED);
    assert_true(now_ms() - t0 < slack_ms());
    assert_int_equal(count_lines(f->starts), 2);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 2);
    pid_t second = worker_pid(f, 1, NULL);
    assert_true(wait_process_gone(second, 2000));
    worker_stop(f, 5000);
    finish(f);
}

static void test_closed_stdin_alive_is_broken(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    char *const close_stdin[] = {"SEQ=1", "ACTION=close-stdin", NULL};
    assert_int_equal(rs_worker_deliver(w, "lease4_renew", close_stdin, false), RS_OUTCOME_SUCCESS);
    pid_t pid = worker_pid(f, 0, NULL);
    /* The next event cannot be written; the worker lives on: it is broken, not to be waited
     * for, and terminated. */
    char *const next[] = {"SEQ=2", NULL};
    int64_t t0 = now_ms();
    assert_int_equal(rs_worker_deliver(w, "lease4_renew", next, false), RS_OUTCOME_FAILED);
    assert_in_range(now_ms() - t0, 0, slack_ms());
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 1);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_WORKER_PROTOCOL,
                       "(worker): closed its stdin but goes on running; restarting it"),
        1);
    assert_true(wait_process_gone(pid, 3000));
    assert_int_equal(count_lines(f->out), 1);
    worker_stop(f, 5000);
    finish(f);
}

/* A worker that closes its stdout and lives on can never answer: named as such (not as an
 * answer of the wrong kind), ended, and the event is not waited for until the timeout. */
static void test_closed_stdout_alive_is_named(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 60000, NULL);
    wait_started(f, 1);
    pid_t pid = worker_pid(f, 0, NULL);
    char *const close_stdout[] = {"SEQ=1", "ACTION=close-stdout", NULL};
    int64_t t0 = now_ms();
    assert_int_equal(rs_worker_deliver(w, "lease4_renew", close_stdout, false), RS_OUTCOME_FAILED);
    assert_true(now_ms() - t0 < 60000);
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 1);
    assert_int_equal(
        rec_count_text(&f->rec, RS_MSG_WORKER_PROTOCOL,
                       "(worker): closed its stdout but goes on running; restarting it"),
        1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_WORKER_PROTOCOL, "something else than"), 0);
    assert_true(wait_process_gone(pid, 3000));
    worker_stop(f, 5000);
    finish(f);
}

#define MANY 100

struct batch {
    char seq[MANY][16];
    char action[MANY][32];
    char *vars[MANY][3];
    const char *hooks[MANY];
    char *const *envps[MANY];
};

static void batch_init(struct batch *b, int failing_every, int die_at)
{
    for (int i = 0; i < MANY; i++) {
        snprintf(b->seq[i], sizeof(b->seq[i]), "SEQ=%d", i);
        if (i == die_at)
            snprintf(b->action[i], sizeof(b->action[i]), "ACTION=die-once:m");
        else
            snprintf(b->action[i], sizeof(b->action[i]), "ACTION=answer=%d",
                     failing_every && i % failing_every == 0 ? 1 : 0);
        b->vars[i][0] = b->seq[i];
        b->vars[i][1] = b->action[i];
        b->vars[i][2] = NULL;
        b->hooks[i] = i % 2 ? "lease4_renew" : "lease4_select";
        b->envps[i] = b->vars[i];
    }
}

static void test_deliver_batch_in_order(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    struct batch b;
    batch_init(&b, 10, -1);
    const char *failure = "unset";
    assert_int_equal(rs_worker_deliver_batch(w, b.hooks, b.envps, MANY, &failure), MANY);
    assert_null(failure);
    char *expected = calloc(1, 1);
    for (int i = 0; i < MANY; i++) {
        char *line = event_line(b.hooks[i], b.envps[i]);
        char *joined = NULL;
        assert_true(asprintf(&joined, "%s%s", expected, line) > 0);
        free(expected);
        free(line);
        expected = joined;
    }
    char *got = read_file(f->out, NULL);
    assert_string_equal(got, expected);
    free(got);
    free(expected);
    /* Every 10th answered 1, and each of those was logged. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_ANSWER), MANY / 10);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_WORKER_ANSWER, "answered 1"), MANY / 10);
    /* Sent in one go: the worker found events waiting behind the one it read, and answered them
     * together. */
    char *batches = read_file(f->batches, NULL);
    int largest = 0;
    for (char *p = batches; *p;) {
        int n = atoi(p);
        largest = n > largest ? n : largest;
        p = strchr(p, '\n');
        p = p ? p + 1 : batches + strlen(batches);
    }
    free(batches);
    if (largest < 10)
        print_message("largest group of answers: %d\n", largest);
    assert_true(largest >= 10);
    assert_int_equal(count_lines(f->starts), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_RESTART), 0);
    worker_stop(f, 5000);
    finish(f);
}

/* One attempt per call: the caller (the queue) decides what comes again, and how often. */
static void test_deliver_batch_stops_at_a_failure(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_JSON, 5000, NULL);
    struct batch b;
    batch_init(&b, 0, 50);
    /* The worker answers events 0 to 49, reads 50 and exits. */
    const char *failure = NULL;
    assert_int_equal(rs_worker_deliver_batch(w, b.hooks, b.envps, MANY, &failure), 50);
    assert_non_null(failure);
    assert_string_equal(failure, "the worker exited");
    /* The caller sends the rest again: a new worker takes them. */
    assert_int_equal(rs_worker_deliver_batch(w, b.hooks + 50, b.envps + 50, MANY - 50, &failure),
                     MANY - 50);
    assert_null(failure);
    char *got = read_file(f->out, NULL);
    char *p = got;
    for (int i = 0; i < MANY; i++) {
        char *line = event_line(b.hooks[i], b.envps[i]);
        size_t len = strlen(line);
        if (strncmp(p, line, len) != 0)
            print_message("event %d: expected %s", i, line);
        assert_memory_equal(p, line, len);
        p += len;
        /* The one it died on came again. */
        if (i == 50) {
            char *again = strstr(p, line);
            assert_non_null(again);
            p = again + len;
        }
        free(line);
    }
    assert_int_equal(*p, '\0');
    free(got);
    assert_int_equal(count_lines(f->starts), 2);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_ANSWER), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_WORKER_PROTOCOL), 0);
    worker_stop(f, 5000);
    finish(f);
}

/* A batch larger than the socket holds: the worker dies while the library is still sending.
 * What it answered before counts as delivered; the failure is the event it died on. */
static void test_deliver_batch_dies_while_sent(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    struct batch b;
    batch_init(&b, 0, 50);
    static char padding[MANY][8200];
    char *vars[MANY][4];
    char *const *envps[MANY];
    for (int i = 0; i < MANY; i++) {
        snprintf(padding[i], sizeof(padding[i]), "PAD=%08190d", i);
        vars[i][0] = b.vars[i][0];
        vars[i][1] = b.vars[i][1];
        vars[i][2] = padding[i];
        vars[i][3] = NULL;
        envps[i] = vars[i];
    }
    const char *failure = NULL;
    /* 100 events of 8 KB: more than a socket buffer, so the sending is not over at event 50. */
    assert_int_equal(rs_worker_deliver_batch(w, b.hooks, envps, MANY, &failure), 50);
    assert_non_null(failure);
    assert_string_equal(failure, "the worker exited");
    worker_stop(f, 5000);
    finish(f);
}

/* A worker that hangs on an event: the attempt ends at the timeout, and says so. */
static void test_deliver_batch_timeout(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 300, NULL);
    char *hang[] = {"ACTION=hang", NULL};
    const char *hooks[] = {"lease4_select"};
    char *const *envps[] = {hang};
    const char *failure = NULL;
    int64_t start = now_ms();
    assert_int_equal(rs_worker_deliver_batch(w, hooks, envps, 1, &failure), 0);
    int64_t took = now_ms() - start;
    assert_non_null(failure);
    assert_string_equal(failure, "no answer within its timeout");
    assert_true(took >= 300);
    assert_true(took < 300 + slack_ms());
    worker_stop(f, 5000);
    finish(f);
}

struct give_up_later {
    pthread_t thread;
    struct rs_worker *w;
    int64_t at;
};

static void *give_up_in_thread(void *arg)
{
    struct give_up_later *g = arg;
    sleep_ms(200);
    g->at = now_ms();
    rs_worker_give_up(g->w, g->at);
    return NULL;
}

/* Unload gives up while a worker that does not answer holds a batch: the attempt ends then, not
 * at the worker's own (long) timeout, and it is no fault of the event. */
static void test_deliver_batch_cut_short_by_give_up(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 60000, NULL);
    char *hang[] = {"ACTION=hang", NULL};
    const char *hooks[] = {"lease4_select"};
    char *const *envps[] = {hang};
    struct give_up_later g = {.w = w};
    assert_int_equal(pthread_create(&g.thread, NULL, give_up_in_thread, &g), 0);
    const char *failure = "unset";
    assert_int_equal(rs_worker_deliver_batch(w, hooks, envps, 1, &failure), 0);
    int64_t returned = now_ms();
    pthread_join(g.thread, NULL);
    assert_null(failure);
    assert_true(returned - g.at < slack_ms());
    worker_stop(f, 5000);
    finish(f);
}

/* Unload gives up: no attempt is made, and that is no fault of the events. */
static void test_deliver_batch_after_give_up(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    rs_worker_give_up(w, 0);
    char *plain[] = {"ACTION=answer=0", NULL};
    const char *hooks[] = {"lease4_select"};
    char *const *envps[] = {plain};
    const char *failure = "unset";
    assert_int_equal(rs_worker_deliver_batch(w, hooks, envps, 1, &failure), 0);
    assert_null(failure);
    worker_stop(f, 5000);
    finish(f);
}

static void test_stderr_logged(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    char *const envp[] = {"SEQ=41", "ACTION=stderr", NULL};
    assert_int_equal(rs_worker_deliver(w, "pkt6_send", envp, false), RS_OUTCOME_SUCCESS);
    assert_true(rec_wait(&f->rec, RS_MSG_STDERR, 2, 2000));
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDERR, "worker.py (worker): oops 41"), 1);
    /* As every script's output: one line, hostile bytes escaped. */
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDERR, "(worker): bad \\xff byte"), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_STDERR), 2);
    worker_stop(f, 5000);
    finish(f);
}

static void test_stderr_flood_does_not_block(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    /* 240 kB, more than a pipe holds: read while waiting for the answer, or the worker would
     * block on it and never answer. */
    char *const envp[] = {"SEQ=1", "ACTION=stderr-flood", NULL};
    assert_int_equal(rs_worker_deliver(w, "pkt6_send", envp, false), RS_OUTCOME_SUCCESS);
    /* Logged up to the limit of a delivery (and answered before the timeout: see below). */
    assert_int_equal(rec_count(&f->rec, RS_MSG_STDERR), RS_JOB_MAX_LINES);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_STDERR, "(worker): flood 0000 xxx"), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 0);
    worker_stop(f, 5000);
    finish(f);
}

static void test_stop_closes_stdin(void **state)
{
    struct fixture *f = *state;
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    char *const envp[] = {"SEQ=1", NULL};
    assert_int_equal(rs_worker_deliver(w, "lease4_select", envp, false), RS_OUTCOME_SUCCESS);
    pid_t pid = worker_pid(f, 0, NULL);
    int64_t t0 = now_ms();
    worker_stop(f, 5000);
    /* It saw EOF and exited by itself, before the grace ran out (no SIGTERM: see below). */
    assert_true(now_ms() - t0 < 5000);
    assert_true(wait_process_gone(pid, 100));
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 0);
    assert_int_equal(rec_count(&f->rec, RS_MSG_KILLED_BY_SIGNAL), 0);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_SCRIPT_DONE, "(worker): exited with status 0"),
                     1);
    finish(f);
}

static void test_stop_terminates_after_grace(void **state)
{
    struct fixture *f = *state;
    const char *const extra[] = {"IGNORE_EOF=1", NULL};
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, extra);
    char *const envp[] = {"SEQ=1", NULL};
    assert_int_equal(rs_worker_deliver(w, "lease4_select", envp, false), RS_OUTCOME_SUCCESS);
    pid_t pid = worker_pid(f, 0, NULL);
    int64_t t0 = now_ms();
    worker_stop(f, 300);
    assert_in_range(now_ms() - t0, 290, 300 + slack_ms());
    assert_true(wait_process_gone(pid, 100));
    /* Told, then terminated. */
    assert_int_equal(rec_count(&f->rec, RS_MSG_TIMEOUT), 1);
    assert_int_equal(rec_count_text(&f->rec, RS_MSG_TIMEOUT, "sending SIGTERM"), 1);
    assert_int_equal(rec_count(&f->rec, RS_MSG_SCRIPT_DONE), 0);
    finish(f);
}

static void test_cannot_start(void **state)
{
    struct fixture *f = *state;
    if (under_valgrind())
        skip(); /* the failure cannot come back from posix_spawn() there (testutil.h) */
    free(f->script);
    assert_true(asprintf(&f->script, "%s/missing.py", f->dir) > 0);
    struct rs_worker *w = worker_start(f, RS_FORMAT_ENV, 5000, NULL);
    assert_int_equal(rec_count(&f->rec, RS_MSG_EXEC_FAILED), 1);
    char *const envp[] = {"SEQ=1", NULL};
    assert_int_equal(rs_worker_deliver(w, "lease4_select", envp, false), RS_OUTCOME_NOT_RUN);
    worker_stop(f, 5000);
    finish(f);
}

int main(void)
{
    /* A watchdog: a hang fails the run instead of stalling it. */
    alarm(under_valgrind() ? 600 : 120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_framing_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_framing_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_after_each_event_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unanswered_event_delivered_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_worker_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chatty_hanging_worker_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_answer_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_stdin_alive_is_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_stdout_alive_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batch_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batch_stops_at_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batch_dies_while_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batch_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batch_cut_short_by_give_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_batch_after_give_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stderr_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stderr_flood_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_closes_stdin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_terminates_after_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
