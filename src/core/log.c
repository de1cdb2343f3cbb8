#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const struct rs_msg_info messages[RS_MSG_COUNT] = {
#define RS_MSG_INFO(name, id, severity) [name] = {id, severity},
    RS_MESSAGES(RS_MSG_INFO)
#undef RS_MSG_INFO
};

const struct rs_msg_info *rs_msg_describe(enum rs_msg msg)
{
    return &messages[msg];
}

void rs_log(const struct rs_logger *logger, enum rs_msg msg, const char *fmt, ...)
{
    if (!logger || !logger->fn)
        return;
    /* Long enough for a path, a hook name and a full line of script output, escaped (4 bytes
     * per byte at worst). */
    char text[4 * 1024 + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    logger->fn(logger->ctx, msg, text);
}
