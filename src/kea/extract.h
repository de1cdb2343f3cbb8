// Copies what scripts need out of Kea's objects into the core's plain structs (src/core/event.h).
// This is the only code that reads Kea's packets, leases and subnets.

#ifndef KEA_HOOK_RUNSCRIPT_EXTRACT_H
#define KEA_HOOK_RUNSCRIPT_EXTRACT_H

extern "C" {
#include "core/event.h"
#include "core/textfmt.h"
}

#include <asiolink/io_address.h>

#include <dhcp/pkt.h>
#include <dhcpsrv/lease.h>
#include <hooks/callout_handle.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace runscript
{

// Owns the text the structs point to, for as long as the event is being built. The text is
// written in place into a few blocks, the first inside the object itself: a callout runs once per
// DHCP exchange on Kea's packet thread, where a std::string (and its allocation) per value, or
// Kea's ostringstream-based toText(), would be a measurable share of Kea's time.
class Texts
{
  public:
    Texts() = default;
    Texts(const Texts &) = delete;
    Texts &operator=(const Texts &) = delete;

    const char *keep(const std::string &text)
    {
        return copy(text.data(), text.size());
    }
    const char *copy(const char *data, size_t len);
    const char *address(const isc::asiolink::IOAddress &address);
    const char *colon_hex(const std::vector<uint8_t> &bytes);
    template <class Number> const char *number(Number n)
    {
        char *to = reserve(RS_FMT_SIGNED_MAX + 1);
        size_t len = std::is_signed<Number>::value
                         ? rs_fmt_signed(to, static_cast<long long>(n))
                         : rs_fmt_unsigned(to, static_cast<unsigned long long>(n));
        return commit(to, len);
    }

  private:
    // Room for `len` bytes at the end of the current block, or of a new one.
    char *reserve(size_t len);
    // Ends the `len` bytes written at `to` with a NUL and keeps them.
    const char *commit(char *to, size_t len);

    // Enough for a typical event (a query, its response and a lease) without an allocation.
    char first_[2048];
    char *block_ = first_;
    size_t used_ = 0, size_ = sizeof(first_);
    std::vector<std::unique_ptr<char[]>> more_;
};

// A callout argument by name. Throws on a missing or mistyped argument.
template <class T> T argument(isc::hooks::CalloutHandle &handle, const char *name)
{
    T value;
    handle.getArgument(name, value);
    return value;
}

// Adds both lease lists of a DHCPv`Family` commit (Kea's "leases<Family>" and
// "deleted_leases<Family>"): for each, `add_count(event, Family, list, count)`, then for each lease
// `add(event, list, index, vars_of(texts, lease))`. Serves both naming schemes.
template <int Family, class VarsOf, class Add>
void add_committed_leases(Texts &texts, rs_event &event, isc::hooks::CalloutHandle &handle,
                          VarsOf vars_of, void (*add_count)(rs_event *, int, rs_lease_list, size_t),
                          Add add)
{
    using Collection = std::conditional_t<Family == 4, isc::dhcp::Lease4CollectionPtr,
                                          isc::dhcp::Lease6CollectionPtr>;
    for (rs_lease_list list : {RS_LEASES_GRANTED, RS_LEASES_DELETED}) {
        const bool granted = list == RS_LEASES_GRANTED;
        const char *name = Family == 4 ? (granted ? "leases4" : "deleted_leases4")
                                       : (granted ? "leases6" : "deleted_leases6");
        const Collection leases = argument<Collection>(handle, name);
        const size_t count = leases ? leases->size() : 0;
        add_count(&event, Family, list, count);
        for (size_t i = 0; i < count; ++i) {
            auto vars = vars_of(texts, (*leases)[i]);
            add(&event, list, i, &vars);
        }
    }
}

// The packet's option `code`, read in place. Inside callouts Kea makes Pkt::getOption() hand out a
// deep copy of the option (so that a hook cannot change one shared with another packet); we only
// read, and the copy would cost an allocation or more per option.
isc::dhcp::OptionPtr find_option(const isc::dhcp::Pkt &pkt, uint16_t code);

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
