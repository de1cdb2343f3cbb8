#include <config.h>

#include "extract.h"
#include "kea_version.h"

#include <dhcp/dhcp4.h>
#include <dhcp/hwaddr.h>
#include <dhcp/option.h>
#include <dhcp/pkt4.h>
#include <dhcp/pkt6.h>
#include <dhcpsrv/lease.h>
#include <dhcpsrv/subnet.h>

using namespace isc::dhcp;
using isc::hooks::CalloutHandle;

namespace runscript
{

const char *Texts::keep(std::string text)
{
    texts_.push_back(std::move(text));
    return texts_.back().c_str();
}

namespace
{

const char *bool_text(bool value)
{
    return value ? "1" : "0";
}

// Option payloads reach scripts byte for byte; a hostile vendor string is just bytes in an
// environment variable, never shell text.
const char *option_bytes(Texts &texts, const OptionPtr &option)
{
    if (!option)
        return nullptr;
    const OptionBuffer &data = option->getData();
    return texts.keep(std::string(data.begin(), data.end()));
}

const char *option_hex(Texts &texts, const OptionPtr &option)
{
    return option ? texts.keep(option->toHexString()) : nullptr;
}

void fill_hwaddr(Texts &texts, const HWAddrPtr &hwaddr, const char **text, const char **type,
                 const char **source)
{
    *text = hwaddr ? texts.keep(hwaddr->toText(false)) : "";
    if (type)
        *type = hwaddr ? texts.number(hwaddr->htype_) : "";
    if (source)
        *source = hwaddr ? texts.number(hwaddr->source_) : "";
}

rs_pkt4 pkt4_vars(Texts &texts, const Pkt4Ptr &pkt)
{
    rs_pkt4 vars = {};
    if (!pkt)
        return vars;
    vars.type = pkt->getName();
    vars.interface = texts.keep(pkt->getIface());
    vars.ifindex = texts.number(pkt->getIndex());
    // chaddr, not getMAC(): with a relay, getMAC() may give the relay's MAC.
    fill_hwaddr(texts, pkt->getHWAddr(), &vars.hwaddr, &vars.hwaddr_type, &vars.hwaddr_source);
    vars.relayed = bool_text(pkt->isRelayed());
    vars.relay_hops = texts.number(pkt->getHops());
    vars.option60 = option_bytes(texts, pkt->getOption(DHO_VENDOR_CLASS_IDENTIFIER));
    vars.ciaddr = texts.keep(pkt->getCiaddr().toText());
    vars.siaddr = texts.keep(pkt->getSiaddr().toText());
    vars.yiaddr = texts.keep(pkt->getYiaddr().toText());
    vars.giaddr = texts.keep(pkt->getGiaddr().toText());
    OptionPtr rai = pkt->getOption(DHO_DHCP_AGENT_OPTIONS);
    if (rai) {
        vars.rai = option_hex(texts, rai);
        vars.rai_circuit_id = option_hex(texts, rai->getOption(RAI_OPTION_AGENT_CIRCUIT_ID));
        vars.rai_remote_id = option_hex(texts, rai->getOption(RAI_OPTION_REMOTE_ID));
    }
    return vars;
}

rs_pkt6 pkt6_vars(Texts &texts, const Pkt6Ptr &pkt)
{
    rs_pkt6 vars = {};
    if (!pkt)
        return vars;
    vars.type = pkt->getName();
    vars.interface = texts.keep(pkt->getIface());
    vars.ifindex = texts.number(pkt->getIndex());
    DuidPtr duid = pkt->getClientId();
    vars.duid = duid ? texts.keep(duid->toText()) : "";
    fill_hwaddr(texts, pkt->getMAC(HWAddr::HWADDR_SOURCE_ANY), &vars.hwaddr, &vars.hwaddr_type,
                &vars.hwaddr_source);
    vars.local_address = texts.keep(pkt->getLocalAddr().toText());
    vars.local_port = texts.number(pkt->getLocalPort());
    vars.remote_address = texts.keep(pkt->getRemoteAddr().toText());
    vars.remote_port = texts.number(pkt->getRemotePort());
    vars.label = texts.keep(pkt->getLabel());
    vars.transaction_id = texts.number(pkt->getTransid());
    vars.debug = texts.keep(pkt->toText());
    return vars;
}

template <class Subnet>
rs_subnet subnet_vars(Texts &texts, const boost::shared_ptr<const Subnet> &subnet)
{
    rs_subnet vars = {"", "", ""};
    if (!subnet)
        return vars;
    std::pair<isc::asiolink::IOAddress, uint8_t> prefix = subnet->get();
    vars.prefix = texts.keep(prefix.first.toText());
    vars.prefixlen = texts.number(static_cast<unsigned>(prefix.second));
    vars.subnet = texts.keep(subnet->toText());
    return vars;
}

rs_lease4 lease4_vars(Texts &texts, const Lease4Ptr &lease)
{
    rs_lease4 vars = {};
    if (!lease)
        return vars;
    vars.address = texts.keep(lease->addr_.toText());
    vars.type = texts.keep(Lease::typeToText(Lease::TYPE_V4));
    fill_hwaddr(texts, lease->hwaddr_, &vars.hwaddr, nullptr, nullptr);
    vars.hostname = texts.keep(lease->hostname_);
    vars.state = texts.keep(Lease4::statesToText(lease->state_));
    vars.is_expired = bool_text(lease->expired());
    vars.client_last_transmission = texts.number(static_cast<long long>(lease->cltt_));
    vars.valid_lifetime = texts.number(lease->valid_lft_);
    vars.debug = texts.keep(lease->toText());
    return vars;
}

rs_lease6 lease6_vars(Texts &texts, const Lease6Ptr &lease)
{
    rs_lease6 vars = {};
    if (!lease)
        return vars;
    vars.type = texts.keep(Lease::typeToText(lease->type_));
    vars.address = texts.keep(lease->addr_.toText());
    if (lease->type_ == Lease::TYPE_PD) {
        unsigned length = lease->prefixlen_;
        vars.delegated_prefix = texts.keep(lease->addr_.toText() + "/" + std::to_string(length));
        vars.delegated_prefixlen = texts.number(length);
    }
    vars.client_duid = lease->duid_ ? texts.keep(lease->duid_->toText()) : "";
    fill_hwaddr(texts, lease->hwaddr_, &vars.hwaddr, nullptr, nullptr);
    vars.hostname = texts.keep(lease->hostname_);
    vars.state = texts.keep(Lease6::statesToText(lease->state_));
    vars.is_expired = bool_text(lease->expired());
    vars.client_last_transmission = texts.number(static_cast<long long>(lease->cltt_));
    vars.valid_lifetime = texts.number(lease->valid_lft_);
    vars.preferred_lifetime = texts.number(lease->preferred_lft_);
    vars.iaid = texts.number(lease->iaid_);
    vars.debug = texts.keep(lease->toText());
    return vars;
}

template <class T> T argument(CalloutHandle &handle, const char *name)
{
    T value;
    handle.getArgument(name, value);
    return value;
}

} // namespace

void extract_event(CalloutHandle &handle, rs_event &event)
{
    Texts texts;
    const unsigned blocks = rs_hook_describe(event.hook)->blocks;
    // In the order the original listed them, which scripts that print their environment see.
    if (blocks & RS_BLOCK_QUERY4) {
        rs_pkt4 vars = pkt4_vars(texts, argument<Pkt4Ptr>(handle, "query4"));
        rs_event_add_query4(&event, &vars);
    }
    if (blocks & RS_BLOCK_RESPONSE4) {
        rs_pkt4 vars = pkt4_vars(texts, argument<Pkt4Ptr>(handle, "response4"));
        rs_event_add_response4(&event, &vars);
    }
    if (blocks & RS_BLOCK_QUERY6) {
        rs_pkt6 vars = pkt6_vars(texts, argument<Pkt6Ptr>(handle, "query6"));
        rs_event_add_query6(&event, &vars);
    }
    if (blocks & RS_BLOCK_RESPONSE6) {
        rs_pkt6 vars = pkt6_vars(texts, argument<Pkt6Ptr>(handle, "response6"));
        rs_event_add_response6(&event, &vars);
    }
    if (blocks & RS_BLOCK_SUBNET4) {
        rs_subnet vars = subnet_vars(texts, subnet_argument<Subnet4>(handle, "subnet4"));
        rs_event_add_subnet4(&event, &vars);
    }
    if (blocks & RS_BLOCK_SUBNET6) {
        rs_subnet vars = subnet_vars(texts, subnet_argument<Subnet6>(handle, "subnet6"));
        rs_event_add_subnet6(&event, &vars);
    }
    if (blocks & RS_BLOCK_FAKE_ALLOCATION)
        rs_event_add_fake_allocation(&event, argument<bool>(handle, "fake_allocation"));
    if (blocks & RS_BLOCK_LEASE4) {
        rs_lease4 vars = lease4_vars(texts, argument<Lease4Ptr>(handle, "lease4"));
        rs_event_add_lease4(&event, &vars);
    }
    if (blocks & RS_BLOCK_LEASE6) {
        rs_lease6 vars = lease6_vars(texts, argument<Lease6Ptr>(handle, "lease6"));
        rs_event_add_lease6(&event, &vars);
    }
    if (blocks & RS_BLOCK_REMOVE_LEASE)
        rs_event_add_remove_lease(&event, argument<bool>(handle, "remove_lease"));
}

} // namespace runscript
