// The operator's commands on a script Kea does not wait for: runscript-pause, runscript-resume
// and runscript-dead-letters. Their answers are Kea's: result 0 with the state after it, or
// result 1 with a text naming the problem.

#ifndef KEA_HOOK_RUNSCRIPT_COMMANDS_H
#define KEA_HOOK_RUNSCRIPT_COMMANDS_H

extern "C" {
#include "core/engine.h"
}

#include <hooks/library_handle.h>

namespace runscript
{

// From load(), once the engine runs: registers the commands. Throws what Kea throws; load()
// catches it.
void commands_start(isc::hooks::LibraryHandle &handle, rs_engine *engine);

// From unload(), before the engine goes. Never throws. Kea removes the commands itself when it
// unloads the library.
void commands_stop();

} // namespace runscript

#endif
