/*
 * frame: how events travel to a persistent worker (mode "worker"), and how its answers come back.
 * Pure functions, no I/O: unit-tested and fuzzed (tests/fuzz/).
 *
 * "env" framing, one event:
 *     <hook point name>\n
 *     KEY=VALUE\n            (once per variable)
 *     \n                     (an empty line ends the event)
 * In names and values a backslash is written \\ and a newline \n, so no client string can end a
 * line or an event early; every other byte is written as it is.
 *
 * "json" framing, one event per line, valid JSON (RFC 8259):
 *     {"hook": "<name>", "env": {"KEY": "VALUE", ...}}\n
 * Bytes that are not UTF-8 (a hostile hostname may hold any byte) are written as \udcXX, the
 * "surrogateescape" convention: Python's json.loads() then .encode("utf-8", "surrogateescape")
 * gives back the exact bytes.
 *
 * The worker answers each event with one line holding a decimal integer: 0 for success, anything
 * else for failure (then "on-failure" applies, if Kea waits).
 */
#ifndef RS_FRAME_H
#define RS_FRAME_H

#include <stdbool.h>
#include <stddef.h>

/* A growable byte buffer. */
struct rs_buf {
    char *data;
    size_t len, alloc;
};

#define RS_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void rs_buf_release(struct rs_buf *buf);

enum rs_format { RS_FORMAT_ENV, RS_FORMAT_JSON };

/* Appends one event to `out`. Returns 0 or -ENOMEM. */
int rs_frame_encode(enum rs_format format, const char *hook, char *const envp[],
                    struct rs_buf *out);

/*
 * Decodes one "env" event from the start of `data`: the reference reader, used by the tests
 * and the fuzzer to prove that encode and decode agree whatever the bytes. On success returns the
 * number of bytes consumed and fills `hook` and `vars` (decoded "KEY=VALUE" strings; values may
 * not contain NUL). Returns 0 when `data` holds no complete event yet, -EPROTO when it is not
 * valid framing, -ENOMEM.
 */
struct strvec;
long rs_frame_decode_env(const char *data, size_t len, struct rs_buf *hook, struct strvec *vars);

/* Parses an answer line (without its newline): optional spaces, an optional sign, digits,
 * optional spaces. Returns 0 and sets `code`, or -EPROTO. */
int rs_frame_parse_answer(const char *line, size_t len, int *code);

#endif
