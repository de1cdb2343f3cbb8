// A hook library whose leases4_committed callout does nothing: `make bench` loads it to measure
// what Kea's hook machinery costs by itself (a callout handle per packet, its arguments, parking
// the packet), which any library with a callout there pays before doing any work of its own.

#include <hooks/hooks.h>

using isc::hooks::CalloutHandle;
using isc::hooks::LibraryHandle;

namespace
{

int do_nothing(CalloutHandle &)
{
    return 0;
}

} // namespace

extern "C" {

int version()
{
    return KEA_HOOKS_VERSION;
}

int multi_threading_compatible()
{
    return 1;
}

int load(LibraryHandle &handle)
{
    handle.registerCallout("leases4_committed", do_nothing);
    return 0;
}

int unload()
{
    return 0;
}

} // extern "C"
