// Kea's logger accepts only registered message IDs, and kea-msg-compiler is not shipped by
// Debian, so the dictionary is built here at load time from the core's own message table:
// every ID takes one argument, the text the core formatted.

#include <config.h>

#include "logger.h"

#include <log/log_dbglevels.h>
#include <log/logger.h>
#include <log/macros.h>
#include <log/message_initializer.h>

namespace
{

const char **message_dictionary()
{
    static const char *values[2 * RS_MSG_COUNT + 1];
    for (int i = 0; i < RS_MSG_COUNT; ++i) {
        values[2 * i] = rs_msg_describe(static_cast<rs_msg>(i))->id;
        values[2 * i + 1] = "%1";
    }
    values[2 * RS_MSG_COUNT] = nullptr;
    return values;
}

const isc::log::MessageInitializer message_initializer(message_dictionary());

isc::log::Logger runscript_logger("runscript");

extern "C" void log_to_kea(void *, rs_msg msg, const char *text)
{
    // Called from Kea's threads and from the core's supervisor thread; never let anything escape.
    try {
        const rs_msg_info *info = rs_msg_describe(msg);
        switch (info->severity) {
        case RS_DEBUG:
            LOG_DEBUG(runscript_logger, isc::log::DBGLVL_TRACE_BASIC, info->id).arg(text);
            break;
        case RS_INFO:
            LOG_INFO(runscript_logger, info->id).arg(text);
            break;
        case RS_WARN:
            LOG_WARN(runscript_logger, info->id).arg(text);
            break;
        case RS_ERROR:
            LOG_ERROR(runscript_logger, info->id).arg(text);
            break;
        }
    } catch (...) {
    }
}

const rs_logger kea_sink = {log_to_kea, nullptr};

} // namespace

namespace runscript
{

const rs_logger *kea_logger()
{
    return &kea_sink;
}

void log(rs_msg msg, const char *text)
{
    log_to_kea(nullptr, msg, text);
}

} // namespace runscript
