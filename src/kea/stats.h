// Kea's view of the scripts: statistics per script in Kea's StatsMgr (statistic-get-all), and the
// runscript-status command. Both read the core's snapshot (rs_engine_get_script_stats).

#ifndef KEA_HOOK_RUNSCRIPT_STATS_H
#define KEA_HOOK_RUNSCRIPT_STATS_H

extern "C" {
#include "core/engine.h"
}

#include <hooks/library_handle.h>

namespace runscript
{

// From load(), once the engine runs: registers runscript-status, sets every statistic of every
// script to 0 (so that they show at once) and starts publishing them about once a second, on
// Kea's main thread. Throws what Kea throws; load() catches it.
void stats_start(isc::hooks::LibraryHandle &handle, rs_engine *engine);

// From unload(), before the engine goes: stops publishing and removes the statistics. Never
// throws. Kea removes the command itself when it unloads the library.
void stats_stop();

} // namespace runscript

#endif
