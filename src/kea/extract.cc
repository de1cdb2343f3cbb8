#include <config.h>

#include "extract.h"
#include "kea_version.h"

#include <dhcp/dhcp4.h>
#include <dhcp/dhcp6.h>
#include <dhcp/hwaddr.h>
#include <dhcp/option.h>
#include <dhcp/option4_client_fqdn.h>
#include <dhcp/pkt4.h>
#include <dhcp/pkt6.h>
#include <dhcpsrv/lease.h>
#include <dhcpsrv/subnet.h>

#include <algorithm>
#include <cstring>

using namespace isc::dhcp;
using isc::hooks::CalloutHandle;

namespace runscript
{

OptionPtr find_option(const Pkt &pkt, uint16_t code)
{
    auto found = pkt.options_.find(code);
    return found == pkt.options_.end() ? OptionPtr() : found->second;
}

char *Texts::reserve(size_t len)
{
    if (size_ - used_ < len) {
        size_t size = std::max<size_t>(len, 2 * size_);
        more_.emplace_back(new char[size]);
        block_ = more_.back().get();
        used_ = 0;
        size_ = size;
    }
    return block_ + used_;
}

const char *Texts::commit(char *to, size_t len)
{
    to[len] = '\0';
    used_ += len + 1;
    return to;
}

const char *Texts::copy(const char *data, size_t len)
{
    char *to = reserve(len + 1);
    if (len)
        std::memcpy(to, data, len);
    return commit(to, len);
}

const char *Texts::address(const isc::asiolink::IOAddress &address)
{
    if (address.isV4()) {
        char *to = reserve(RS_FMT_IPV4_MAX + 1);
        return commit(to, rs_fmt_ipv4(to, address.toUint32()));
    }
    const std::vector<uint8_t> bytes = address.toBytes();
    if (bytes.size() != 16)
        return keep(address.toText());
    char *to = reserve(RS_FMT_IPV6_MAX + 1);
    return commit(to, rs_fmt_ipv6(to, bytes.data()));
}

const char *Texts::colon_hex(const std::vector<uint8_t> &bytes)
{
    char *to = reserve(3 * bytes.size() + 1);
    return commit(to, rs_fmt_colon_hex(to, bytes.data(), bytes.size()));
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
    return texts.copy(reinterpret_cast<const char *>(data.data()), data.size());
}

const char *option_hex(Texts &texts, const OptionPtr &option)
{
    return option ? texts.keep(option->toHexString()) : nullptr;
}

const char *option_colon_hex(Texts &texts, const OptionPtr &option)
{
    return option ? texts.colon_hex(option->getData()) : nullptr;
}

const char *requested_address(Texts &texts, const OptionPtr &option)
{
    if (!option)
        return nullptr;
    const OptionBuffer &data = option->getData();
    if (data.size() != 4)
        return texts.keep(option->toHexString()); // malformed: show what the client sent
    return texts.address(isc::asiolink::IOAddress::fromBytes(AF_INET, data.data()));
}

const char *fqdn_name(Texts &texts, const OptionPtr &option)
{
    Option4ClientFqdnPtr fqdn = boost::dynamic_pointer_cast<Option4ClientFqdn>(option);
    return fqdn ? texts.keep(fqdn->getDomainName()) : nullptr;
}

void fill_hwaddr(Texts &texts, const HWAddrPtr &hwaddr, const char **text, const char **type,
                 const char **source)
{
    *text = hwaddr ? texts.colon_hex(hwaddr->hwaddr_) : "";
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
    vars.option60 = option_bytes(texts, find_option(*pkt, DHO_VENDOR_CLASS_IDENTIFIER));
    vars.ciaddr = texts.address(pkt->getCiaddr());
    vars.siaddr = texts.address(pkt->getSiaddr());
    vars.yiaddr = texts.address(pkt->getYiaddr());
    vars.giaddr = texts.address(pkt->getGiaddr());
    OptionPtr rai = find_option(*pkt, DHO_DHCP_AGENT_OPTIONS);
    if (rai) {
        vars.rai = option_hex(texts, rai);
        vars.rai_circuit_id = option_hex(texts, rai->getOption(RAI_OPTION_AGENT_CIRCUIT_ID));
        vars.rai_remote_id = option_hex(texts, rai->getOption(RAI_OPTION_REMOTE_ID));
        vars.rai_subscriber_id = option_hex(texts, rai->getOption(RAI_OPTION_SUBSCRIBER_ID));
    }
    vars.client_id = option_colon_hex(texts, find_option(*pkt, DHO_DHCP_CLIENT_IDENTIFIER));
    vars.requested_address =
        requested_address(texts, find_option(*pkt, DHO_DHCP_REQUESTED_ADDRESS));
    vars.hostname = option_bytes(texts, find_option(*pkt, DHO_HOST_NAME));
    vars.fqdn = fqdn_name(texts, find_option(*pkt, DHO_FQDN));
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
    vars.duid = duid ? texts.colon_hex(duid->getDuid()) : "";
    fill_hwaddr(texts, pkt->getMAC(HWAddr::HWADDR_SOURCE_ANY), &vars.hwaddr, &vars.hwaddr_type,
                &vars.hwaddr_source);
    vars.local_address = texts.address(pkt->getLocalAddr());
    vars.local_port = texts.number(pkt->getLocalPort());
    vars.remote_address = texts.address(pkt->getRemoteAddr());
    vars.remote_port = texts.number(pkt->getRemotePort());
    vars.label = texts.keep(pkt->getLabel());
    vars.transaction_id = texts.number(pkt->getTransid());
    vars.debug = texts.keep(pkt->toText());
    return vars;
}

// Kea keeps the relay nearest the server first; scripts get the one nearest the client as hop 0,
// since that is the relay that knows the client's port and line.
std::vector<rs_relay6> relay6_vars(Texts &texts, const Pkt6Ptr &pkt)
{
    std::vector<rs_relay6> relays;
    const size_t count = pkt->relay_info_.size();
    for (size_t hop = 0; hop < count; ++hop) {
        const uint8_t level = static_cast<uint8_t>(count - 1 - hop);
        const Pkt6::RelayInfo &info = pkt->relay_info_[level];
        rs_relay6 vars = {};
        vars.link_address = texts.address(info.linkaddr_);
        vars.peer_address = texts.address(info.peeraddr_);
        vars.hop_count = texts.number(static_cast<unsigned>(info.hop_count_));
        vars.interface_id = option_hex(texts, pkt->getRelayOption(D6O_INTERFACE_ID, level));
        vars.remote_id = option_hex(texts, pkt->getRelayOption(D6O_REMOTE_ID, level));
        vars.subscriber_id = option_hex(texts, pkt->getRelayOption(D6O_SUBSCRIBER_ID, level));
        relays.push_back(vars);
    }
    return relays;
}

template <class Subnet>
rs_subnet subnet_vars(Texts &texts, const boost::shared_ptr<const Subnet> &subnet)
{
    rs_subnet vars = {"", "", ""};
    if (!subnet)
        return vars;
    std::pair<isc::asiolink::IOAddress, uint8_t> prefix = subnet->get();
    vars.prefix = texts.address(prefix.first);
    vars.prefixlen = texts.number(static_cast<unsigned>(prefix.second));
    vars.subnet = texts.keep(subnet->toText());
    return vars;
}

rs_lease4 lease4_vars(Texts &texts, const Lease4Ptr &lease, bool with_debug = true)
{
    rs_lease4 vars = {};
    if (!lease)
        return vars;
    vars.address = texts.address(lease->addr_);
    vars.type = texts.keep(Lease::typeToText(Lease::TYPE_V4));
    fill_hwaddr(texts, lease->hwaddr_, &vars.hwaddr, nullptr, nullptr);
    vars.hostname = texts.keep(lease->hostname_);
    vars.state = texts.keep(Lease4::statesToText(lease->state_));
    vars.is_expired = bool_text(lease->expired());
    vars.client_last_transmission = texts.number(static_cast<long long>(lease->cltt_));
    vars.valid_lifetime = texts.number(lease->valid_lft_);
    vars.client_id = lease->client_id_ ? texts.colon_hex(lease->client_id_->getClientId()) : "";
    vars.subnet_id = texts.number(lease->subnet_id_);
    if (with_debug) // a multi-line dump: costly, and left out of lease lists
        vars.debug = texts.keep(lease->toText());
    return vars;
}

rs_lease6 lease6_vars(Texts &texts, const Lease6Ptr &lease, bool with_debug = true)
{
    rs_lease6 vars = {};
    if (!lease)
        return vars;
    vars.type = texts.keep(Lease::typeToText(lease->type_));
    vars.address = texts.address(lease->addr_);
    if (lease->type_ == Lease::TYPE_PD) {
        unsigned length = lease->prefixlen_;
        vars.delegated_prefix = texts.keep(lease->addr_.toText() + "/" + std::to_string(length));
        vars.delegated_prefixlen = texts.number(length);
    }
    vars.client_duid = lease->duid_ ? texts.colon_hex(lease->duid_->getDuid()) : "";
    fill_hwaddr(texts, lease->hwaddr_, &vars.hwaddr, nullptr, nullptr);
    vars.hostname = texts.keep(lease->hostname_);
    vars.state = texts.keep(Lease6::statesToText(lease->state_));
    vars.is_expired = bool_text(lease->expired());
    vars.client_last_transmission = texts.number(static_cast<long long>(lease->cltt_));
    vars.valid_lifetime = texts.number(lease->valid_lft_);
    vars.preferred_lifetime = texts.number(lease->preferred_lft_);
    vars.iaid = texts.number(lease->iaid_);
    vars.subnet_id = texts.number(lease->subnet_id_);
    if (with_debug) // a multi-line dump: costly, and left out of lease lists
        vars.debug = texts.keep(lease->toText());
    return vars;
}

// The options scripts asked for by code. Options 60 and 82 already have their own variables
// (KEA_QUERY4_OPTION60, KEA_QUERY4_RAI*), which the original defined.
void add_requested_options(Texts &texts, rs_event &event, int family, const PktPtr &query,
                           const OptionCodes &codes)
{
    for (size_t i = 0; i < codes.count; ++i) {
        const uint16_t code = codes.codes[i];
        if (family == 4 && (code == DHO_VENDOR_CLASS_IDENTIFIER || code == DHO_DHCP_AGENT_OPTIONS))
            continue;
        OptionPtr option = find_option(*query, code);
        if (option)
            rs_event_add_option(&event, family, code, option_hex(texts, option));
    }
}

// lease4_offer passes a list, as leases4_committed does, with the offered lease or nothing (a
// lease reused as it was).
Lease4Ptr offered_lease(CalloutHandle &handle)
{
    const Lease4CollectionPtr leases = argument<Lease4CollectionPtr>(handle, "leases4");
    return leases && !leases->empty() ? leases->front() : Lease4Ptr();
}

} // namespace

void extract_event(CalloutHandle &handle, const OptionCodes &options, rs_event &event)
{
    Texts texts;
    const unsigned blocks = rs_hook_blocks(event.hook, kea_release);
    // In the order the original listed them, which scripts that print their environment see.
    if (blocks & RS_BLOCK_QUERY4) {
        Pkt4Ptr query = argument<Pkt4Ptr>(handle, "query4");
        rs_pkt4 vars = pkt4_vars(texts, query);
        rs_event_add_query4(&event, &vars);
        if (query)
            add_requested_options(texts, event, 4, query, options);
    }
    if (blocks & RS_BLOCK_RESPONSE4) {
        rs_pkt4 vars = pkt4_vars(texts, argument<Pkt4Ptr>(handle, "response4"));
        rs_event_add_response4(&event, &vars);
    }
    if (blocks & RS_BLOCK_QUERY6) {
        Pkt6Ptr query = argument<Pkt6Ptr>(handle, "query6");
        rs_pkt6 vars = pkt6_vars(texts, query);
        rs_event_add_query6(&event, &vars);
        if (query) {
            std::vector<rs_relay6> relays = relay6_vars(texts, query);
            rs_event_add_relays6(&event, relays.data(), relays.size());
            add_requested_options(texts, event, 6, query, options);
        }
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
        rs_lease4 vars = lease4_vars(texts, event.hook == RS_HOOK_LEASE4_OFFER
                                                ? offered_lease(handle)
                                                : argument<Lease4Ptr>(handle, "lease4"));
        rs_event_add_lease4(&event, &vars);
    }
    if (blocks & RS_BLOCK_OFFER_LIFETIME)
        rs_event_add_offer_lifetime(&event,
                                    texts.number(argument<uint32_t>(handle, "offer_lifetime")));
    if (blocks & RS_BLOCK_LEASE6) {
        // addr6_register passes the registration it would store as "new_lease6".
        const char *name = event.hook == RS_HOOK_ADDR6_REGISTER ? "new_lease6" : "lease6";
        rs_lease6 vars = lease6_vars(texts, argument<Lease6Ptr>(handle, name));
        rs_event_add_lease6(&event, &vars);
    }
    if (blocks & RS_BLOCK_REMOVE_LEASE)
        rs_event_add_remove_lease(&event, argument<bool>(handle, "remove_lease"));
    // Lists leave out the multi-line dump of each lease.
    auto lease4_listed = [](Texts &t, const Lease4Ptr &lease) {
        return lease4_vars(t, lease, false);
    };
    auto lease6_listed = [](Texts &t, const Lease6Ptr &lease) {
        return lease6_vars(t, lease, false);
    };
    if (blocks & RS_BLOCK_LEASES4)
        add_committed_leases<4>(texts, event, handle, lease4_listed, rs_event_add_lease_count,
                                rs_event_add_listed_lease4);
    if (blocks & RS_BLOCK_LEASES6)
        add_committed_leases<6>(texts, event, handle, lease6_listed, rs_event_add_lease_count,
                                rs_event_add_listed_lease6);
}

void add_lease(rs_event &event, const Lease4Ptr &lease)
{
    Texts texts;
    rs_lease4 vars = lease4_vars(texts, lease);
    rs_event_add_lease4(&event, &vars);
}

void add_lease(rs_event &event, const Lease6Ptr &lease)
{
    Texts texts;
    rs_lease6 vars = lease6_vars(texts, lease);
    rs_event_add_lease6(&event, &vars);
}

} // namespace runscript
