// Everything that depends on the Kea release lives here, so the rest of the adapter reads as if
// there were one Kea. Built and tested against Kea 2.2.0 (Debian 12), 2.6.3 (Debian 13) and 3.0.4
// (Debian forky). A build is for one release: Kea refuses a library whose version() differs.

#ifndef KEA_HOOK_RUNSCRIPT_KEA_VERSION_H
#define KEA_HOOK_RUNSCRIPT_KEA_VERSION_H

#include <hooks/callout_handle.h>
#include <hooks/hooks.h>
#include <util/optional.h>
#if RS_KEA_HOOKS_VERSION >= 30000
#include <hooks/hooks_parser.h>
#include <util/filesystem.h>
#endif

#include <boost/shared_ptr.hpp>

#include <string>

// KEA_HOOKS_VERSION is a const int, which #if cannot read: the Makefile passes the same number.
#ifndef RS_KEA_HOOKS_VERSION
#error "RS_KEA_HOOKS_VERSION must be defined (the Makefile reads it from hooks/hooks.h)"
#endif

namespace runscript
{

static_assert(RS_KEA_HOOKS_VERSION == KEA_HOOKS_VERSION,
              "RS_KEA_HOOKS_VERSION differs from the KEA_HOOKS_VERSION of the headers in use");

// Kea 2.7.5 passes subnet4/subnet6 as ConstSubnet4Ptr/ConstSubnet6Ptr, earlier releases as
// Subnet4Ptr/Subnet6Ptr; getArgument() needs the exact type. Either way we only read the subnet.
template <class Subnet>
boost::shared_ptr<const Subnet> subnet_argument(isc::hooks::CalloutHandle &handle, const char *name)
{
#if RS_KEA_HOOKS_VERSION >= 20705
    boost::shared_ptr<const Subnet> subnet;
#else
    boost::shared_ptr<Subnet> subnet;
#endif
    handle.getArgument(name, subnet);
    return subnet;
}

// The Kea release as the number the core's hook table is written in (2.6.3 is 20603): the table
// says which hook points and arguments each release has (rs_hook_blocks()).
constexpr int kea_release = RS_KEA_HOOKS_VERSION;

// ISC's run_script of this release reports the relay options 18, 37 and 38 of a DHCPv6 query
// (since 2.7.0, so 3.0 among the releases users run).
constexpr bool isc_reports_relay_options = RS_KEA_HOOKS_VERSION >= 20700;

// CfgMgr::getDataDir() returns an Optional<std::string> before 2.6.3, a std::string after.
inline std::string text_of(const std::string &text)
{
    return text;
}
inline std::string text_of(const isc::util::Optional<std::string> &text)
{
    return text.get();
}

// The only directory hook scripts may be in: from Kea 3.0, Kea's scripts directory (or the one
// KEA_HOOK_SCRIPTS_PATH names), unless Kea was started with -X. Empty: anywhere.
inline std::string hook_scripts_dir()
{
#if RS_KEA_HOOKS_VERSION >= 30000
    if (isc::util::file::PathChecker::shouldEnforceSecurity())
        return isc::hooks::HookLibraryScriptsChecker::getHookScriptsPath();
#endif
    return std::string();
}

} // namespace runscript

#endif
