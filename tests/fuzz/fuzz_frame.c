/*
 * libFuzzer target for the worker framing (src/core/frame.h). Whatever bytes a client puts in a
 * hostname or a relay option, encoding then decoding an event must give back exactly the same
 * hook name and variables, and the JSON framing must stay one line of printable text. Also feeds
 * raw bytes to the decoder and the answer parser, which must never crash.
 */
#include "core/frame.h"
#include "core/strvec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Splits the input at NUL bytes: the first piece is the hook name, the others "KEY=VALUE". */
static size_t split(const uint8_t *data, size_t size, char **pieces, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < max; i++) {
        if (i == size || data[i] == 0) {
            char *piece = malloc(i - start + 3); /* room for the two bytes added below */
            memcpy(piece, data + start, i - start);
            piece[i - start] = '\0';
            /* Every variable needs a '=' and a name: the encoder's input always has them. */
            if (n > 0 && !strchr(piece, '=')) {
                memmove(piece + 1, piece, i - start + 1);
                piece[0] = '=';
            }
            if (n > 0 && piece[0] == '=') {
                memmove(piece + 1, piece, strlen(piece) + 1);
                piece[0] = 'K';
            }
            pieces[n++] = piece;
            start = i + 1;
        }
    }
    return n;
}

static void check_round_trip(char **pieces, size_t n)
{
    if (n == 0 || pieces[0][0] == '\0')
        return;
    char *envp[65];
    size_t nr_vars = n - 1 < 64 ? n - 1 : 64;
    for (size_t i = 0; i < nr_vars; i++)
        envp[i] = pieces[i + 1];
    envp[nr_vars] = NULL;

    struct rs_buf out = RS_BUF_INIT, hook = RS_BUF_INIT;
    struct strvec vars = STRVEC_INIT;
    if (rs_frame_encode(RS_FORMAT_ENV, pieces[0], envp, &out) != 0)
        abort();
    long used = rs_frame_decode_env(out.data, out.len, &hook, &vars);
    if (used != (long)out.len || strcmp(hook.data, pieces[0]) != 0 || vars.nr != nr_vars)
        abort();
    for (size_t i = 0; i < nr_vars; i++)
        if (strcmp(vars.items[i], envp[i]) != 0)
            abort();

    out.len = 0;
    if (rs_frame_encode(RS_FORMAT_JSON, pieces[0], envp, &out) != 0)
        abort();
    /* One line: the only newline is the last byte, and no control byte anywhere. */
    for (size_t i = 0; i + 1 < out.len; i++)
        if ((unsigned char)out.data[i] < 0x20)
            abort();
    if (out.data[out.len - 1] != '\n')
        abort();
    rs_buf_release(&out);
    rs_buf_release(&hook);
    strvec_clear(&vars);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *pieces[65];
    size_t n = split(data, size, pieces, 65);
    check_round_trip(pieces, n);
    for (size_t i = 0; i < n; i++)
        free(pieces[i]);

    struct rs_buf hook = RS_BUF_INIT;
    struct strvec vars = STRVEC_INIT;
    rs_frame_decode_env((const char *)data, size, &hook, &vars);
    rs_buf_release(&hook);
    strvec_clear(&vars);
    int code;
    rs_frame_parse_answer((const char *)data, size, &code);
    return 0;
}
