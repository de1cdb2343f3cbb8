// Copies Kea's objects into the variables of ISC's libdhcp_run_script ("variables": "isc"), the
// way its Kea 2.2 code formats them: unsigned decimal numbers, true/false, HW addresses as
// colon hex plus a separate type, and every variable of an object emitted (empty) even when the
// object itself is missing.

#include <config.h>

#include "extract.h"
#include "kea_version.h"

#include <dhcp/dhcp4.h>
#include <dhcp/dhcp6.h>
#include <dhcp/option6_ia.h>
#include <dhcp/pkt4.h>
#include <dhcp/pkt6.h>
#include <dhcpsrv/lease.h>
#include <dhcpsrv/subnet.h>

#include <cstdint>

using namespace isc::dhcp;
using isc::hooks::CalloutHandle;

namespace runscript
{

namespace
{

// ISC's library prints every integer through uint64_t, so -1 comes out as 18446744073709551615.
template <class Number> const char *unsigned_text(Texts &texts, Number n)
{
    return texts.number(static_cast<uint64_t>(n));
}

const char *bool_text(bool value)
{
    return value ? "true" : "false";
}

void hwaddr_vars(Texts &texts, const HWAddrPtr &hwaddr, const char **text, const char **type)
{
    *text = hwaddr ? texts.colon_hex(hwaddr->hwaddr_) : "";
    *type = hwaddr ? unsigned_text(texts, hwaddr->htype_) : "";
}

const char *option_hex(Texts &texts, const OptionPtr &option)
{
    return option ? texts.keep(option->toHexString()) : nullptr;
}

// The fields ISC's QUERY4 and QUERY6 blocks share; `Vars` is rs_isc_pkt4 or rs_isc_pkt6.
template <class Vars, class PktT> void common_pkt_vars(Texts &texts, PktT &pkt, Vars &vars)
{
    vars.type = pkt.getName();
    vars.txid = unsigned_text(texts, pkt.getTransid());
    vars.local_addr = texts.address(pkt.getLocalAddr());
    vars.local_port = unsigned_text(texts, pkt.getLocalPort());
    vars.remote_addr = texts.address(pkt.getRemoteAddr());
    vars.remote_port = unsigned_text(texts, pkt.getRemotePort());
    vars.iface_index = unsigned_text(texts, pkt.getIndex());
    vars.iface_name = texts.keep(pkt.getIface());
}

rs_isc_pkt4 query4_vars(Texts &texts, const Pkt4Ptr &pkt)
{
    rs_isc_pkt4 vars = {};
    if (!pkt)
        return vars;
    common_pkt_vars(texts, *pkt, vars);
    vars.hops = unsigned_text(texts, pkt->getHops());
    vars.secs = unsigned_text(texts, pkt->getSecs());
    vars.flags = unsigned_text(texts, pkt->getFlags());
    vars.ciaddr = texts.address(pkt->getCiaddr());
    vars.siaddr = texts.address(pkt->getSiaddr());
    vars.yiaddr = texts.address(pkt->getYiaddr());
    vars.giaddr = texts.address(pkt->getGiaddr());
    vars.relayed = bool_text(pkt->isRelayed());
    hwaddr_vars(texts, pkt->getHWAddr(), &vars.hwaddr, &vars.hwaddr_type);
    hwaddr_vars(texts, pkt->getLocalHWAddr(), &vars.local_hwaddr, &vars.local_hwaddr_type);
    hwaddr_vars(texts, pkt->getRemoteHWAddr(), &vars.remote_hwaddr, &vars.remote_hwaddr_type);
    OptionPtr rai = find_option(*pkt, DHO_DHCP_AGENT_OPTIONS);
    if (rai) {
        vars.option_82 = option_hex(texts, rai);
        vars.option_82_sub_option_1 =
            option_hex(texts, rai->getOption(RAI_OPTION_AGENT_CIRCUIT_ID));
        vars.option_82_sub_option_2 = option_hex(texts, rai->getOption(RAI_OPTION_REMOTE_ID));
    }
    return vars;
}

rs_isc_pkt6 query6_vars(Texts &texts, const Pkt6Ptr &pkt)
{
    rs_isc_pkt6 vars = {};
    if (!pkt)
        return vars;
    common_pkt_vars(texts, *pkt, vars);
    hwaddr_vars(texts, pkt->getRemoteHWAddr(), &vars.remote_hwaddr, &vars.remote_hwaddr_type);
    vars.proto = pkt->getProto() == Pkt6::TCP ? "TCP" : "UDP";
    DuidPtr duid = pkt->getClientId();
    vars.client_id = duid ? texts.colon_hex(duid->getDuid()) : "";
    if (isc_reports_relay_options) {
        auto relay_option = [&](uint16_t code) {
            return option_hex(texts, pkt->getAnyRelayOption(code, Pkt6::RELAY_SEARCH_FROM_CLIENT));
        };
        vars.option_18 = relay_option(D6O_INTERFACE_ID);
        vars.option_37 = relay_option(D6O_REMOTE_ID);
        vars.option_38 = relay_option(D6O_SUBSCRIBER_ID);
    }
    return vars;
}

// The fields ISC's lease4 and lease6 blocks share; `Vars` is rs_isc_lease4 or rs_isc_lease6.
template <class Vars, class LeaseT>
void common_lease_vars(Texts &texts, const LeaseT &lease, Vars &vars)
{
    vars.address = texts.address(lease.addr_);
    vars.cltt = unsigned_text(texts, lease.cltt_);
    vars.hostname = texts.keep(lease.hostname_);
    hwaddr_vars(texts, lease.hwaddr_, &vars.hwaddr, &vars.hwaddr_type);
    vars.state = texts.keep(LeaseT::statesToText(lease.state_));
    vars.subnet_id = unsigned_text(texts, lease.subnet_id_);
    vars.valid_lifetime = unsigned_text(texts, lease.valid_lft_);
}

rs_isc_lease4 lease4_vars(Texts &texts, const Lease4Ptr &lease)
{
    rs_isc_lease4 vars = {};
    if (!lease)
        return vars;
    common_lease_vars(texts, *lease, vars);
    vars.client_id = lease->client_id_ ? texts.colon_hex(lease->client_id_->getClientId()) : "";
    return vars;
}

rs_isc_lease6 lease6_vars(Texts &texts, const Lease6Ptr &lease)
{
    rs_isc_lease6 vars = {};
    if (!lease)
        return vars;
    common_lease_vars(texts, *lease, vars);
    vars.duid = lease->duid_ ? texts.colon_hex(lease->duid_->getDuid()) : "";
    vars.iaid = unsigned_text(texts, lease->iaid_);
    vars.preferred_lifetime = unsigned_text(texts, lease->preferred_lft_);
    vars.prefix_len = unsigned_text(texts, lease->prefixlen_);
    vars.type = texts.keep(Lease::typeToText(lease->type_));
    return vars;
}

// lease6_renew and lease6_rebind pass the response's IA as "ia_na" or "ia_pd", by lease type.
rs_isc_ia ia_vars(Texts &texts, CalloutHandle &handle, const Lease6Ptr &lease)
{
    rs_isc_ia vars = {};
    const char *name = lease && lease->type_ == Lease::TYPE_PD ? "ia_pd" : "ia_na";
    Option6IAPtr ia;
    try {
        handle.getArgument(name, ia);
    } catch (const isc::hooks::NoSuchArgument &) {
    }
    if (!ia)
        return vars;
    vars.iaid = unsigned_text(texts, ia->getIAID());
    vars.ia_type = unsigned_text(texts, ia->getType());
    vars.ia_t1 = unsigned_text(texts, ia->getT1());
    vars.ia_t2 = unsigned_text(texts, ia->getT2());
    return vars;
}

} // namespace

void extract_isc_event(CalloutHandle &handle, rs_event &event)
{
    Texts texts;
    const unsigned blocks = rs_isc_blocks(event.hook);
    if (blocks & RS_ISC_QUERY4) {
        rs_isc_pkt4 vars = query4_vars(texts, argument<Pkt4Ptr>(handle, "query4"));
        rs_event_add_isc_query4(&event, &vars);
    }
    if (blocks & RS_ISC_QUERY6) {
        rs_isc_pkt6 vars = query6_vars(texts, argument<Pkt6Ptr>(handle, "query6"));
        rs_event_add_isc_query6(&event, &vars);
    }
    if (blocks & RS_ISC_SUBNET4) {
        rs_isc_subnet4 vars = {"", "", "", ""};
        auto subnet = subnet_argument<Subnet4>(handle, "subnet4");
        if (subnet) {
            vars.id = unsigned_text(texts, subnet->getID());
            vars.name = texts.keep(subnet->toText());
            vars.prefix = texts.address(subnet->get().first);
            vars.prefix_len = unsigned_text(texts, subnet->get().second);
        }
        rs_event_add_isc_subnet4(&event, &vars);
    }
    if (blocks & RS_ISC_PKT4_IDS) {
        rs_isc_pkt4_ids vars = {};
        ClientIdPtr client_id = argument<ClientIdPtr>(handle, "clientid");
        vars.client_id = client_id ? texts.colon_hex(client_id->getClientId()) : "";
        hwaddr_vars(texts, argument<HWAddrPtr>(handle, "hwaddr"), &vars.hwaddr, &vars.hwaddr_type);
        rs_event_add_isc_pkt4_ids(&event, &vars);
    }
    if (blocks & RS_ISC_LEASE4) {
        rs_isc_lease4 vars = lease4_vars(texts, argument<Lease4Ptr>(handle, "lease4"));
        rs_event_add_isc_lease4(&event, &vars);
    }
    if (blocks & RS_ISC_LEASE6) {
        Lease6Ptr lease = argument<Lease6Ptr>(handle, "lease6");
        rs_isc_lease6 vars = lease6_vars(texts, lease);
        rs_event_add_isc_lease6(&event, &vars);
        if (blocks & RS_ISC_PKT6_IA) {
            rs_isc_ia ia = ia_vars(texts, handle, lease);
            rs_event_add_isc_ia(&event, &ia);
        }
    }
    if (blocks & RS_ISC_REMOVE_LEASE)
        rs_event_add_isc_remove_lease(&event, argument<bool>(handle, "remove_lease"));
    if (blocks & RS_ISC_ADDR6_REGISTER) {
        const Lease6Ptr old_lease = argument<Lease6Ptr>(handle, "old_lease6");
        rs_isc_lease6 old_vars = lease6_vars(texts, old_lease);
        rs_isc_lease6 new_vars = lease6_vars(texts, argument<Lease6Ptr>(handle, "new_lease6"));
        isc::asiolink::IOAddress address = isc::asiolink::IOAddress::IPV6_ZERO_ADDRESS();
        handle.getArgument("address6", address);
        rs_event_add_isc_registration(&event, texts.keep(address.toText()),
                                      old_lease ? &old_vars : nullptr, &new_vars);
    }
    if (blocks & RS_ISC_LEASES4)
        add_committed_leases<4>(texts, event, handle, lease4_vars, rs_event_add_isc_lease_count,
                                rs_event_add_isc_listed_lease4);
    if (blocks & RS_ISC_LEASES6)
        add_committed_leases<6>(texts, event, handle, lease6_vars, rs_event_add_isc_lease_count,
                                rs_event_add_isc_listed_lease6);
}

void add_isc_lease(rs_event &event, const Lease4Ptr &lease)
{
    Texts texts;
    rs_isc_lease4 vars = lease4_vars(texts, lease);
    rs_event_add_isc_lease4(&event, &vars);
}

void add_isc_lease(rs_event &event, const Lease6Ptr &lease)
{
    Texts texts;
    rs_isc_lease6 vars = lease6_vars(texts, lease);
    rs_event_add_isc_lease6(&event, &vars);
}

} // namespace runscript
