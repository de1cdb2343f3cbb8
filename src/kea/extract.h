// Copies what scripts need out of Kea's objects into the core's plain structs (src/core/event.h).
// This is the only code that reads Kea's packets, leases and subnets.

#ifndef KEA_HOOK_RUNSCRIPT_EXTRACT_H
#define KEA_HOOK_RUNSCRIPT_EXTRACT_H

extern "C" {
#include "core/event.h"
}

#include <dhcpsrv/lease.h>
#include <hooks/callout_handle.h>

#include <deque>
#include <string>
#include <vector>

namespace runscript
{

// Owns the text the structs point to, for as long as the event is being built.
class Texts
{
  public:
    const char *keep(std::string text);
    template <class Number> const char *number(Number n)
    {
        return keep(std::to_string(n));
    }

  private:
    // A deque never moves its elements, so pointers handed out stay valid.
    std::deque<std::string> texts_;
};

// Adds a lease list of a commit: `add_count(event, count)`, then for each lease
// `add(event, list, index, vars_of(texts, lease))`. Serves both naming schemes.
template <class Collection, class VarsOf, class AddCount, class Add>
void add_lease_list(Texts &texts, rs_event &event, rs_lease_list list, const Collection &leases,
                    VarsOf vars_of, AddCount add_count, Add add)
{
    const size_t count = leases ? leases->size() : 0;
    add_count(&event, list, count);
    for (size_t i = 0; i < count; ++i) {
        auto vars = vars_of(texts, (*leases)[i]);
        add(&event, list, i, &vars);
    }
}

// "01:02:0a": what Kea's HWAddr, DUID and ClientId toText() print, without their ostringstream
// (a measurable part of a callout's cost under load).
std::string colon_hex(const std::vector<uint8_t> &bytes);

// The query options that scripts asked for ("options").
struct OptionCodes {
    const unsigned short *codes;
    size_t count;
};

// Adds to `event` every block of variables that the core's hook table lists for its hook point,
// reading each from the callout's arguments. Throws on a missing or mistyped argument.
void extract_event(isc::hooks::CalloutHandle &handle, const OptionCodes &options, rs_event &event);

// The same event in the names and formats of ISC's libdhcp_run_script ("variables": "isc"), for
// the hook points ISC's library has. Throws like extract_event().
void extract_isc_event(isc::hooks::CalloutHandle &handle, rs_event &event);

// Adds one lease's variables (KEA_LEASE4_* or KEA_LEASE6_*; add_isc_lease: ISC's LEASE4_*...),
// for replayed leases.
void add_isc_lease(rs_event &event, const isc::dhcp::Lease4Ptr &lease);
void add_isc_lease(rs_event &event, const isc::dhcp::Lease6Ptr &lease);
void add_lease(rs_event &event, const isc::dhcp::Lease4Ptr &lease);
void add_lease(rs_event &event, const isc::dhcp::Lease6Ptr &lease);

} // namespace runscript

#endif
