// Lease replay at start-up (src/core/replay.h): reads Kea's lease database page by page on Kea's
// main thread and feeds the core's replay thread.

#ifndef KEA_HOOK_RUNSCRIPT_REPLAY_H
#define KEA_HOOK_RUNSCRIPT_REPLAY_H

extern "C" {
#include "core/engine.h"
}

#include <hooks/callout_handle.h>

namespace runscript
{

// Callout for dhcp4_srv_configured / dhcp6_srv_configured: starts the replay if a script wants it.
int replay_on_configured(isc::hooks::CalloutHandle &handle, rs_engine *engine, int family);

// Stops a replay in progress; called by unload() before the engine goes.
void replay_stop();

// Keeps this library mapped after Kea unloads it: a page request may sit in Kea's main loop
// after unload(), and its code must still be there when it runs (it then does nothing).
void pin_library();

} // namespace runscript

#endif
