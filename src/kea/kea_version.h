// Everything that depends on the Kea release lives here, so a port to a newer Kea touches one
// file. Built and tested against Kea 2.2 (Debian 12); the notes say what later releases change.

#ifndef KEA_HOOK_RUNSCRIPT_KEA_VERSION_H
#define KEA_HOOK_RUNSCRIPT_KEA_VERSION_H

#include <hooks/hooks.h>

#include <boost/any.hpp>
#include <boost/shared_ptr.hpp>

namespace runscript
{

// Kea 2.7.5 / 3.0 pass subnet4/subnet6 as ConstSubnet4Ptr/ConstSubnet6Ptr, earlier releases as
// Subnet4Ptr/Subnet6Ptr; getArgument() needs the exact type, so try the one this Kea uses
// first and the other one second. Either way we only read the subnet.
template <class Subnet>
boost::shared_ptr<const Subnet> subnet_argument(isc::hooks::CalloutHandle &handle, const char *name)
{
    try {
        boost::shared_ptr<Subnet> subnet;
        handle.getArgument(name, subnet);
        return subnet;
    } catch (const boost::bad_any_cast &) {
        boost::shared_ptr<const Subnet> subnet;
        handle.getArgument(name, subnet);
        return subnet;
    }
}

} // namespace runscript

#endif
