/*
 * status_lines: kea-runscript-status's reading of Kea's answer to runscript-status, apart from
 * the socket, so that it is unit-tested.
 *
 * Everything in the answer came from Kea, and its strings from whatever a script's path or
 * failure held: nothing in it is trusted. A field missing, null or of another type than
 * src/kea/stats.cc puts there prints as "-" (it does not apply to that script) or "?" (it is
 * not what it should be); a string prints escaped, so that each script stays one line.
 */
#ifndef RS_STATUS_LINES_H
#define RS_STATUS_LINES_H

#include "core/json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What an answer comes to, which is also the tool's exit status. */
enum rs_status_verdict {
    RS_STATUS_OK = 0,
    RS_STATUS_KEA_ERROR = 1,  /* Kea answered with a result other than 0 */
    RS_STATUS_BAD_ANSWER = 2, /* not an answer to runscript-status */
};

/*
 * Checks Kea's parsed `answer`. RS_STATUS_OK: `*scripts` is the answer's list of scripts.
 * Otherwise a line for an operator goes to `err`, naming `where` (the socket) and, for a Kea
 * error, Kea's text; a result of 2 (command not supported) says that the library is not loaded
 * in that Kea.
 */
enum rs_status_verdict rs_status_check(const struct json *answer, const struct json **scripts,
                                       FILE *err, const char *where);

/* A header line, then one line per item of `scripts` (a list), whatever each item holds. */
void rs_status_print(FILE *out, const struct json *scripts);

/*
 * `len` bytes of `s` (NUL bytes included) as one line's part: UTF-8 as it is, except control
 * characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides; those,
 * bytes that are not UTF-8, and the backslash as \xNN, each byte. With `token`, a space too,
 * so that the text stays one column.
 */
void rs_status_put_escaped(FILE *out, const char *s, size_t len, bool token);

#endif
