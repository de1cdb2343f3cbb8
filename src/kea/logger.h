// The bridge from the core's messages (src/core/log.h) to Kea's logger.

#ifndef KEA_HOOK_RUNSCRIPT_LOGGER_H
#define KEA_HOOK_RUNSCRIPT_LOGGER_H

extern "C" {
#include "core/log.h"
}

namespace runscript
{

// The sink to give the core; logs through the "runscript" logger (kea-dhcp4.runscript).
const rs_logger *kea_logger();

// For the adapter's own messages.
void log(rs_msg msg, const char *text);

} // namespace runscript

#endif
