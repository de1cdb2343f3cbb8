#include "event.h"

#include <stdio.h>
#include <string.h>

/* One variable of a block: where its text is in the block's struct, and what it means. */
struct field {
    const char *suffix; /* appended to the block's prefix; "" names the prefix itself */
    size_t offset;
    bool optional;
    const char *type;
    const char *description;
};

#define F(st, member, suffix, opt, type, desc) {suffix, offsetof(st, member), opt, type, desc}

static const struct field pkt4_fields[] = {
    F(struct rs_pkt4, type, "_TYPE", false, "string", "DHCP message type, e.g. DHCPDISCOVER"),
    F(struct rs_pkt4, interface, "_INTERFACE", false, "string", "interface the packet uses"),
    F(struct rs_pkt4, ifindex, "_IFINDEX", false, "int", "index of that interface"),
    F(struct rs_pkt4, hwaddr, "_HWADDR", false, "string", "client MAC address (chaddr)"),
    F(struct rs_pkt4, hwaddr_type, "_HWADDR_TYPE", false, "int", "hardware type, 1 = Ethernet"),
    F(struct rs_pkt4, hwaddr_source, "_HWADDR_SOURCE", false, "int",
      "how Kea learnt the MAC (dhcp/hwaddr.h)"),
    F(struct rs_pkt4, relayed, "_RELAYED", false, "bool", "whether a relay forwarded it"),
    F(struct rs_pkt4, relay_hops, "_RELAY_HOPS", false, "int", "relay agents traversed"),
    F(struct rs_pkt4, option60, "_OPTION60", true, "string", "option 60, vendor class, raw"),
    F(struct rs_pkt4, ciaddr, "_CIADDR", false, "IPv4", "client IP address"),
    F(struct rs_pkt4, siaddr, "_SIADDR", false, "IPv4", "server IP address"),
    F(struct rs_pkt4, yiaddr, "_YIADDR", false, "IPv4", "'your' IP address"),
    F(struct rs_pkt4, giaddr, "_GIADDR", false, "IPv4", "relay (gateway) IP address"),
    F(struct rs_pkt4, rai, "_RAI", true, "hex", "option 82, relay agent information, 0x-hex"),
    F(struct rs_pkt4, rai_circuit_id, "_RAI_CIRCUIT_ID", true, "hex",
      "option 82 sub-option 1, circuit-id, 0x-hex"),
    F(struct rs_pkt4, rai_remote_id, "_RAI_REMOTE_ID", true, "hex",
      "option 82 sub-option 2, remote-id, 0x-hex"),
};

static const struct field pkt6_fields[] = {
    F(struct rs_pkt6, type, "_TYPE", false, "string", "DHCPv6 message type, e.g. SOLICIT"),
    F(struct rs_pkt6, interface, "_INTERFACE", false, "string", "interface the packet uses"),
    F(struct rs_pkt6, ifindex, "_IFINDEX", false, "int", "index of that interface"),
    F(struct rs_pkt6, duid, "_DUID", false, "string", "client DUID (option 1), colon hex"),
    F(struct rs_pkt6, hwaddr, "_HWADDR", false, "string", "client MAC address, as Kea infers it"),
    F(struct rs_pkt6, hwaddr_type, "_HWADDR_TYPE", false, "int", "hardware type, 1 = Ethernet"),
    F(struct rs_pkt6, hwaddr_source, "_HWADDR_SOURCE", false, "int",
      "how Kea learnt the MAC (dhcp/hwaddr.h)"),
    F(struct rs_pkt6, local_address, "_LOCAL_ADDRESS", false, "IPv6", "server-side address"),
    F(struct rs_pkt6, local_port, "_LOCAL_PORT", false, "int",
      "server-side UDP port (0 for received packets in Kea 2.2)"),
    F(struct rs_pkt6, remote_address, "_REMOTE_ADDRESS", false, "IPv6",
      "client (or relay) address"),
    F(struct rs_pkt6, remote_port, "_REMOTE_PORT", false, "int", "client (or relay) UDP port"),
    F(struct rs_pkt6, label, "_LABEL", false, "string", "Kea's label: duid and transaction id"),
    F(struct rs_pkt6, transaction_id, "_TRANSACTION_ID", false, "int", "transaction id"),
    F(struct rs_pkt6, debug, "_DEBUG", false, "string", "Kea's multi-line dump of the packet"),
};

static const struct field subnet_fields[] = {
    F(struct rs_subnet, prefix, "_PREFIX", false, "IP", "subnet prefix, without length"),
    F(struct rs_subnet, prefixlen, "_PREFIXLEN", false, "int", "subnet prefix length"),
    F(struct rs_subnet, subnet, "", false, "string", "subnet as prefix/length"),
};

static const struct field lease4_fields[] = {
    F(struct rs_lease4, address, "_ADDRESS", false, "IPv4", "leased address"),
    F(struct rs_lease4, type, "_TYPE", false, "string", "always V4"),
    F(struct rs_lease4, state, "_STATE", false, "string",
      "default, declined or expired-reclaimed"),
    F(struct rs_lease4, is_expired, "_IS_EXPIRED", false, "bool", "whether the lease expired"),
    F(struct rs_lease4, hwaddr, "_HWADDR", false, "string", "client MAC address"),
    F(struct rs_lease4, hostname, "_HOSTNAME", false, "string", "client hostname, raw"),
    F(struct rs_lease4, client_last_transmission, "_CLIENT_LAST_TRANSMISSION", false, "int",
      "Unix time of the client's last message"),
    F(struct rs_lease4, valid_lifetime, "_VALID_LIFETIME", false, "int",
      "valid lifetime, seconds"),
    F(struct rs_lease4, debug, "_DEBUG", false, "string", "Kea's multi-line dump of the lease"),
};

static const struct field lease6_fields[] = {
    F(struct rs_lease6, type, "_TYPE", false, "string", "IA_NA, IA_TA or IA_PD"),
    F(struct rs_lease6, address, "_ADDRESS", false, "IPv6",
      "leased address, or the delegated prefix without length"),
    F(struct rs_lease6, delegated_prefix, "_DELEGATED_PREFIX", true, "string",
      "IA_PD only: delegated prefix as prefix/length"),
    F(struct rs_lease6, delegated_prefixlen, "_DELEGATED_PREFIXLEN", true, "int",
      "IA_PD only: delegated prefix length"),
    F(struct rs_lease6, client_duid, "_CLIENT_DUID", false, "string", "client DUID, colon hex"),
    F(struct rs_lease6, hwaddr, "_HWADDR", false, "string", "client MAC address"),
    F(struct rs_lease6, hostname, "_HOSTNAME", false, "string", "client hostname, raw"),
    F(struct rs_lease6, state, "_STATE", false, "string",
      "default, declined or expired-reclaimed"),
    F(struct rs_lease6, is_expired, "_IS_EXPIRED", false, "bool", "whether the lease expired"),
    F(struct rs_lease6, client_last_transmission, "_CLIENT_LAST_TRANSMISSION", false, "int",
      "Unix time of the client's last message"),
    F(struct rs_lease6, valid_lifetime, "_VALID_LIFETIME", false, "int",
      "valid lifetime, seconds"),
    F(struct rs_lease6, preferred_lifetime, "_PREFERRED_LIFETIME", false, "int",
      "preferred lifetime, seconds"),
    F(struct rs_lease6, iaid, "_IAID", false, "int", "identity association id"),
    F(struct rs_lease6, debug, "_DEBUG", false, "string", "Kea's multi-line dump of the lease"),
};

struct block_desc {
    unsigned block;
    const char *prefix;
    const struct field *fields;
    size_t nr;
};

#define BLOCK(bit, prefix, fields) {bit, prefix, fields, sizeof(fields) / sizeof(fields[0])}

static const struct block_desc blocks[] = {
    BLOCK(RS_BLOCK_QUERY4, "KEA_QUERY4", pkt4_fields),
    BLOCK(RS_BLOCK_RESPONSE4, "KEA_RESPONSE4", pkt4_fields),
    BLOCK(RS_BLOCK_SUBNET4, "KEA_SUBNET4", subnet_fields),
    BLOCK(RS_BLOCK_LEASE4, "KEA_LEASE4", lease4_fields),
    BLOCK(RS_BLOCK_QUERY6, "KEA_QUERY6", pkt6_fields),
    BLOCK(RS_BLOCK_RESPONSE6, "KEA_RESPONSE6", pkt6_fields),
    BLOCK(RS_BLOCK_SUBNET6, "KEA_SUBNET6", subnet_fields),
    BLOCK(RS_BLOCK_LEASE6, "KEA_LEASE6", lease6_fields),
};

static const struct block_desc *find_block(unsigned block)
{
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        if (blocks[i].block == block)
            return &blocks[i];
    return NULL;
}

static void add_var(struct rs_event *ev, const char *name, const char *value)
{
    if (strvec_push_pair(&ev->env, name, value, strlen(value)) != 0)
        ev->incomplete = true;
}

static void add_block(struct rs_event *ev, unsigned block, const void *values)
{
    const struct block_desc *desc = find_block(block);
    char name[96];
    for (size_t i = 0; i < desc->nr; i++) {
        const struct field *f = &desc->fields[i];
        const char *value = *(const char *const *)((const char *)values + f->offset);
        if (!value && f->optional)
            continue;
        snprintf(name, sizeof(name), "%s%s", desc->prefix, f->suffix);
        add_var(ev, name, value ? value : "");
    }
}

void rs_event_init(struct rs_event *ev, enum rs_hook hook)
{
    ev->hook = hook;
    strvec_init(&ev->env);
    ev->incomplete = false;
    add_var(ev, "PATH", RS_SCRIPT_PATH);
}

void rs_event_release(struct rs_event *ev)
{
    strvec_clear(&ev->env);
}

void rs_event_add_query4(struct rs_event *ev, const struct rs_pkt4 *pkt)
{
    add_block(ev, RS_BLOCK_QUERY4, pkt);
}

void rs_event_add_response4(struct rs_event *ev, const struct rs_pkt4 *pkt)
{
    add_block(ev, RS_BLOCK_RESPONSE4, pkt);
}

void rs_event_add_query6(struct rs_event *ev, const struct rs_pkt6 *pkt)
{
    add_block(ev, RS_BLOCK_QUERY6, pkt);
}

void rs_event_add_response6(struct rs_event *ev, const struct rs_pkt6 *pkt)
{
    add_block(ev, RS_BLOCK_RESPONSE6, pkt);
}

void rs_event_add_subnet4(struct rs_event *ev, const struct rs_subnet *subnet)
{
    add_block(ev, RS_BLOCK_SUBNET4, subnet);
}

void rs_event_add_subnet6(struct rs_event *ev, const struct rs_subnet *subnet)
{
    add_block(ev, RS_BLOCK_SUBNET6, subnet);
}

void rs_event_add_lease4(struct rs_event *ev, const struct rs_lease4 *lease)
{
    add_block(ev, RS_BLOCK_LEASE4, lease);
}

void rs_event_add_lease6(struct rs_event *ev, const struct rs_lease6 *lease)
{
    add_block(ev, RS_BLOCK_LEASE6, lease);
}

void rs_event_add_fake_allocation(struct rs_event *ev, bool fake)
{
    add_var(ev, "KEA_FAKE_ALLOCATION", fake ? "1" : "0");
}

void rs_event_add_remove_lease(struct rs_event *ev, bool remove)
{
    add_var(ev, "KEA_REMOVE_LEASE", remove ? "1" : "0");
}

void rs_block_docs(unsigned block, void (*fn)(void *ctx, const struct rs_var_doc *doc), void *ctx)
{
    static const struct rs_var_doc fake = {
        "KEA_FAKE_ALLOCATION", "bool", false,
        "1 for DISCOVER/SOLICIT (nothing is allocated), 0 for REQUEST"};
    static const struct rs_var_doc remove = {
        "KEA_REMOVE_LEASE", "bool", false,
        "whether Kea deletes the lease rather than keep it as expired-reclaimed"};
    if (block == RS_BLOCK_FAKE_ALLOCATION) {
        fn(ctx, &fake);
        return;
    }
    if (block == RS_BLOCK_REMOVE_LEASE) {
        fn(ctx, &remove);
        return;
    }
    const struct block_desc *desc = find_block(block);
    if (!desc)
        return;
    char name[96];
    for (size_t i = 0; i < desc->nr; i++) {
        const struct field *f = &desc->fields[i];
        snprintf(name, sizeof(name), "%s%s", desc->prefix, f->suffix);
        struct rs_var_doc doc = {name, f->type, f->optional, f->description};
        fn(ctx, &doc);
    }
}
