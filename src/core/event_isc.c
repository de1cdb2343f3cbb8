/*
 * The variables of ISC's libdhcp_run_script ("variables": "isc") as the same Kea release passes
 * them, so that its users can move to this library and keep their scripts: same names (no KEA_
 * prefix), same formats (true/false booleans, LEASES4_SIZE / LEASES4_AT<i>_*), same hook points.
 * Sourced from ISC's run_script.cc at Kea-2.2.0, 2.6.3 and 3.0.4 (3.0 added QUERY6_OPTION_18/37/38
 * and addr6_register) and checked against Debian's binary of each by the end-to-end tests.
 */
#include "event.h"
#include "fields.h"

#include <stdio.h>

static const struct field query4_fields[] = {
    F(struct rs_isc_pkt4, type, "_TYPE", false, "string", "DHCP message type"),
    F(struct rs_isc_pkt4, txid, "_TXID", false, "int", "transaction id"),
    F(struct rs_isc_pkt4, local_addr, "_LOCAL_ADDR", false, "IPv4", "server address"),
    F(struct rs_isc_pkt4, local_port, "_LOCAL_PORT", false, "int", "server port"),
    F(struct rs_isc_pkt4, remote_addr, "_REMOTE_ADDR", false, "IPv4", "client or relay address"),
    F(struct rs_isc_pkt4, remote_port, "_REMOTE_PORT", false, "int", "client or relay port"),
    F(struct rs_isc_pkt4, iface_index, "_IFACE_INDEX", false, "int", "interface index"),
    F(struct rs_isc_pkt4, iface_name, "_IFACE_NAME", false, "string", "interface name"),
    F(struct rs_isc_pkt4, hops, "_HOPS", false, "int", "relay hops"),
    F(struct rs_isc_pkt4, secs, "_SECS", false, "int", "seconds since the client began"),
    F(struct rs_isc_pkt4, flags, "_FLAGS", false, "int", "BOOTP flags"),
    F(struct rs_isc_pkt4, ciaddr, "_CIADDR", false, "IPv4", "client address"),
    F(struct rs_isc_pkt4, siaddr, "_SIADDR", false, "IPv4", "server address field"),
    F(struct rs_isc_pkt4, yiaddr, "_YIADDR", false, "IPv4", "'your' address"),
    F(struct rs_isc_pkt4, giaddr, "_GIADDR", false, "IPv4", "relay address"),
    F(struct rs_isc_pkt4, relayed, "_RELAYED", false, "bool", "true or false"),
    F(struct rs_isc_pkt4, hwaddr, "_HWADDR", false, "string", "client MAC (chaddr)"),
    F(struct rs_isc_pkt4, hwaddr_type, "_HWADDR_TYPE", false, "int", "hardware type"),
    F(struct rs_isc_pkt4, local_hwaddr, "_LOCAL_HWADDR", false, "string", "server MAC"),
    F(struct rs_isc_pkt4, local_hwaddr_type, "_LOCAL_HWADDR_TYPE", false, "int", "its type"),
    F(struct rs_isc_pkt4, remote_hwaddr, "_REMOTE_HWADDR", false, "string", "source MAC"),
    F(struct rs_isc_pkt4, remote_hwaddr_type, "_REMOTE_HWADDR_TYPE", false, "int", "its type"),
    F(struct rs_isc_pkt4, option_82, "_OPTION_82", true, "hex", "option 82, 0x-hex"),
    F(struct rs_isc_pkt4, option_82_sub_option_1, "_OPTION_82_SUB_OPTION_1", true, "hex",
      "circuit-id, 0x-hex"),
    F(struct rs_isc_pkt4, option_82_sub_option_2, "_OPTION_82_SUB_OPTION_2", true, "hex",
      "remote-id, 0x-hex"),
};

static const struct field query6_fields[] = {
    F(struct rs_isc_pkt6, type, "_TYPE", false, "string", "DHCPv6 message type"),
    F(struct rs_isc_pkt6, txid, "_TXID", false, "int", "transaction id"),
    F(struct rs_isc_pkt6, local_addr, "_LOCAL_ADDR", false, "IPv6", "server address"),
    F(struct rs_isc_pkt6, local_port, "_LOCAL_PORT", false, "int", "server port"),
    F(struct rs_isc_pkt6, remote_addr, "_REMOTE_ADDR", false, "IPv6", "client or relay address"),
    F(struct rs_isc_pkt6, remote_port, "_REMOTE_PORT", false, "int", "client or relay port"),
    F(struct rs_isc_pkt6, iface_index, "_IFACE_INDEX", false, "int", "interface index"),
    F(struct rs_isc_pkt6, iface_name, "_IFACE_NAME", false, "string", "interface name"),
    F(struct rs_isc_pkt6, remote_hwaddr, "_REMOTE_HWADDR", false, "string", "source MAC"),
    F(struct rs_isc_pkt6, remote_hwaddr_type, "_REMOTE_HWADDR_TYPE", false, "int", "its type"),
    F(struct rs_isc_pkt6, proto, "_PROTO", false, "string", "UDP or TCP"),
    F(struct rs_isc_pkt6, client_id, "_CLIENT_ID", false, "string", "client DUID, colon hex"),
    F(struct rs_isc_pkt6, option_18, "_OPTION_18", true, "hex",
      "Kea 3.0: the relay's interface-id nearest the client, 0x-hex"),
    F(struct rs_isc_pkt6, option_37, "_OPTION_37", true, "hex", "Kea 3.0: the relay's remote-id"),
    F(struct rs_isc_pkt6, option_38, "_OPTION_38", true, "hex",
      "Kea 3.0: the relay's subscriber-id"),
};

static const struct field subnet4_fields[] = {
    F(struct rs_isc_subnet4, id, "_ID", false, "int", "subnet id"),
    F(struct rs_isc_subnet4, name, "_NAME", false, "string", "prefix/length"),
    F(struct rs_isc_subnet4, prefix, "_PREFIX", false, "IPv4", "prefix"),
    F(struct rs_isc_subnet4, prefix_len, "_PREFIX_LEN", false, "int", "prefix length"),
};

static const struct field pkt4_ids_fields[] = {
    F(struct rs_isc_pkt4_ids, client_id, "_CLIENT_ID", false, "string",
      "client-id argument (empty unless match-client-id)"),
    F(struct rs_isc_pkt4_ids, hwaddr, "_HWADDR", false, "string", "hwaddr argument"),
    F(struct rs_isc_pkt4_ids, hwaddr_type, "_HWADDR_TYPE", false, "int", "its type"),
};

static const struct field lease4_fields[] = {
    F(struct rs_isc_lease4, address, "_ADDRESS", false, "IPv4", "leased address"),
    F(struct rs_isc_lease4, cltt, "_CLTT", false, "int", "client last transmission time"),
    F(struct rs_isc_lease4, hostname, "_HOSTNAME", false, "string", "hostname"),
    F(struct rs_isc_lease4, hwaddr, "_HWADDR", false, "string", "client MAC"),
    F(struct rs_isc_lease4, hwaddr_type, "_HWADDR_TYPE", false, "int", "its type"),
    F(struct rs_isc_lease4, state, "_STATE", false, "string", "lease state"),
    F(struct rs_isc_lease4, subnet_id, "_SUBNET_ID", false, "int", "subnet id"),
    F(struct rs_isc_lease4, valid_lifetime, "_VALID_LIFETIME", false, "int", "seconds"),
    F(struct rs_isc_lease4, client_id, "_CLIENT_ID", false, "string", "client-id, colon hex"),
};

static const struct field lease6_fields[] = {
    F(struct rs_isc_lease6, address, "_ADDRESS", false, "IPv6", "address or prefix"),
    F(struct rs_isc_lease6, cltt, "_CLTT", false, "int", "client last transmission time"),
    F(struct rs_isc_lease6, hostname, "_HOSTNAME", false, "string", "hostname"),
    F(struct rs_isc_lease6, hwaddr, "_HWADDR", false, "string", "client MAC"),
    F(struct rs_isc_lease6, hwaddr_type, "_HWADDR_TYPE", false, "int", "its type"),
    F(struct rs_isc_lease6, state, "_STATE", false, "string", "lease state"),
    F(struct rs_isc_lease6, subnet_id, "_SUBNET_ID", false, "int", "subnet id"),
    F(struct rs_isc_lease6, valid_lifetime, "_VALID_LIFETIME", false, "int", "seconds"),
    F(struct rs_isc_lease6, duid, "_DUID", false, "string", "client DUID, colon hex"),
    F(struct rs_isc_lease6, iaid, "_IAID", false, "int", "IAID"),
    F(struct rs_isc_lease6, preferred_lifetime, "_PREFERRED_LIFETIME", false, "int", "seconds"),
    F(struct rs_isc_lease6, prefix_len, "_PREFIX_LEN", false, "int", "128 for addresses"),
    F(struct rs_isc_lease6, type, "_TYPE", false, "string", "IA_NA, IA_TA or IA_PD"),
};

static const struct field ia_fields[] = {
    F(struct rs_isc_ia, iaid, "_IAID", false, "int", "IAID of the response's IA"),
    F(struct rs_isc_ia, ia_type, "_IA_TYPE", false, "int", "3 (IA_NA) or 25 (IA_PD)"),
    F(struct rs_isc_ia, ia_t1, "_IA_T1", false, "int", "T1"),
    F(struct rs_isc_ia, ia_t2, "_IA_T2", false, "int", "T2"),
};

static const struct field_list query4 = FIELDS(query4_fields), query6 = FIELDS(query6_fields),
                               subnet4 = FIELDS(subnet4_fields), pkt4_ids = FIELDS(pkt4_ids_fields),
                               lease4 = FIELDS(lease4_fields), lease6 = FIELDS(lease6_fields),
                               ia = FIELDS(ia_fields);

unsigned rs_isc_blocks(enum rs_hook hook)
{
    switch (hook) {
    case RS_HOOK_LEASE4_RENEW:
        return RS_ISC_QUERY4 | RS_ISC_SUBNET4 | RS_ISC_PKT4_IDS | RS_ISC_LEASE4;
    case RS_HOOK_LEASE4_EXPIRE:
        return RS_ISC_LEASE4 | RS_ISC_REMOVE_LEASE;
    case RS_HOOK_LEASE4_RECOVER:
    case RS_HOOK_LEASE4_REPLAY:
        return RS_ISC_LEASE4;
    case RS_HOOK_LEASES4_COMMITTED:
        return RS_ISC_QUERY4 | RS_ISC_LEASES4;
    case RS_HOOK_LEASE4_RELEASE:
    case RS_HOOK_LEASE4_DECLINE:
        return RS_ISC_QUERY4 | RS_ISC_LEASE4;
    case RS_HOOK_LEASE6_RENEW:
    case RS_HOOK_LEASE6_REBIND:
        return RS_ISC_QUERY6 | RS_ISC_LEASE6 | RS_ISC_PKT6_IA;
    case RS_HOOK_LEASE6_EXPIRE:
        return RS_ISC_LEASE6 | RS_ISC_REMOVE_LEASE;
    case RS_HOOK_LEASE6_RECOVER:
    case RS_HOOK_LEASE6_REPLAY:
        return RS_ISC_LEASE6;
    case RS_HOOK_LEASES6_COMMITTED:
        return RS_ISC_QUERY6 | RS_ISC_LEASES6;
    case RS_HOOK_LEASE6_RELEASE:
    case RS_HOOK_LEASE6_DECLINE:
        return RS_ISC_QUERY6 | RS_ISC_LEASE6;
    case RS_HOOK_ADDR6_REGISTER:
        return RS_ISC_QUERY6 | RS_ISC_ADDR6_REGISTER;
    default:
        return 0;
    }
}

/* ISC's scripts get no PATH; ours do, first, as every script of this library does. */
static struct strvec *isc_env(struct rs_event *ev)
{
    if (ev->isc_env.nr == 0)
        rs_fields_add_var(ev, &ev->isc_env, "PATH", RS_SCRIPT_PATH);
    return &ev->isc_env;
}

void rs_event_add_isc_query4(struct rs_event *ev, const struct rs_isc_pkt4 *pkt)
{
    rs_fields_add(ev, isc_env(ev), "QUERY4", &query4, NULL, pkt);
}

void rs_event_add_isc_query6(struct rs_event *ev, const struct rs_isc_pkt6 *pkt)
{
    rs_fields_add(ev, isc_env(ev), "QUERY6", &query6, NULL, pkt);
}

void rs_event_add_isc_subnet4(struct rs_event *ev, const struct rs_isc_subnet4 *subnet)
{
    rs_fields_add(ev, isc_env(ev), "SUBNET4", &subnet4, NULL, subnet);
}

void rs_event_add_isc_pkt4_ids(struct rs_event *ev, const struct rs_isc_pkt4_ids *ids)
{
    rs_fields_add(ev, isc_env(ev), "PKT4", &pkt4_ids, NULL, ids);
}

void rs_event_add_isc_lease4(struct rs_event *ev, const struct rs_isc_lease4 *lease)
{
    rs_fields_add(ev, isc_env(ev), "LEASE4", &lease4, NULL, lease);
}

void rs_event_add_isc_lease6(struct rs_event *ev, const struct rs_isc_lease6 *lease)
{
    rs_fields_add(ev, isc_env(ev), "LEASE6", &lease6, NULL, lease);
}

void rs_event_add_isc_ia(struct rs_event *ev, const struct rs_isc_ia *value)
{
    rs_fields_add(ev, isc_env(ev), "PKT6_IA", &ia, NULL, value);
}

void rs_event_add_isc_remove_lease(struct rs_event *ev, bool remove)
{
    rs_fields_add_var(ev, isc_env(ev), "REMOVE_LEASE", remove ? "true" : "false");
}

void rs_event_add_isc_registration(struct rs_event *ev, const char *address,
                                   const struct rs_isc_lease6 *old_lease,
                                   const struct rs_isc_lease6 *new_lease)
{
    rs_fields_add_var(ev, isc_env(ev), "ADDRESS6", address);
    if (old_lease)
        rs_fields_add(ev, isc_env(ev), "OLD_LEASE6", &lease6, NULL, old_lease);
    rs_fields_add(ev, isc_env(ev), "NEW_LEASE6", &lease6, NULL, new_lease);
}

static const char *isc_list_prefix(int family, enum rs_lease_list list)
{
    if (family == 4)
        return list == RS_LEASES_GRANTED ? "LEASES4" : "DELETED_LEASES4";
    return list == RS_LEASES_GRANTED ? "LEASES6" : "DELETED_LEASES6";
}

void rs_event_add_isc_lease_count(struct rs_event *ev, int family, enum rs_lease_list list,
                                  size_t count)
{
    char name[64], value[64];
    rs_fields_add_var(ev, isc_env(ev),
                      rs_fields_join(name, isc_list_prefix(family, list), "_SIZE", false, 0),
                      rs_fields_join(value, "", "", true, count));
}

void rs_event_add_isc_listed_lease4(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                    const struct rs_isc_lease4 *lease)
{
    char prefix[64];
    rs_fields_add(ev, isc_env(ev),
                  rs_fields_join(prefix, isc_list_prefix(4, list), "_AT", true, index), &lease4,
                  NULL, lease);
}

void rs_event_add_isc_listed_lease6(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                    const struct rs_isc_lease6 *lease)
{
    char prefix[64];
    rs_fields_add(ev, isc_env(ev),
                  rs_fields_join(prefix, isc_list_prefix(6, list), "_AT", true, index), &lease6,
                  NULL, lease);
}

void rs_isc_docs(enum rs_hook hook, void (*fn)(void *ctx, const struct rs_var_doc *doc), void *ctx)
{
    unsigned blocks = rs_isc_blocks(hook);
    if (blocks & RS_ISC_QUERY4)
        rs_fields_doc(fn, ctx, "QUERY4", &query4, NULL);
    if (blocks & RS_ISC_QUERY6)
        rs_fields_doc(fn, ctx, "QUERY6", &query6, NULL);
    if (blocks & RS_ISC_SUBNET4)
        rs_fields_doc(fn, ctx, "SUBNET4", &subnet4, NULL);
    if (blocks & RS_ISC_PKT4_IDS)
        rs_fields_doc(fn, ctx, "PKT4", &pkt4_ids, NULL);
    if (blocks & RS_ISC_LEASE4)
        rs_fields_doc(fn, ctx, "LEASE4", &lease4, NULL);
    if (blocks & RS_ISC_LEASE6)
        rs_fields_doc(fn, ctx, "LEASE6", &lease6, NULL);
    if (blocks & RS_ISC_PKT6_IA)
        rs_fields_doc(fn, ctx, "PKT6_IA", &ia, NULL);
    if (blocks & RS_ISC_REMOVE_LEASE) {
        struct rs_var_doc doc = {"REMOVE_LEASE", "bool", false, "true or false"};
        fn(ctx, &doc);
    }
    if (blocks & RS_ISC_ADDR6_REGISTER) {
        struct rs_var_doc doc = {"ADDRESS6", "IPv6", false, "the address registered"};
        fn(ctx, &doc);
        rs_fields_doc(fn, ctx, "OLD_LEASE6", &lease6, NULL);
        rs_fields_doc(fn, ctx, "NEW_LEASE6", &lease6, NULL);
    }
    for (int family = 4; family <= 6; family += 2) {
        if (!(blocks & (family == 4 ? RS_ISC_LEASES4 : RS_ISC_LEASES6)))
            continue;
        for (int list = RS_LEASES_GRANTED; list <= RS_LEASES_DELETED; list++) {
            char name[64];
            snprintf(name, sizeof(name), "%s_SIZE", isc_list_prefix(family, list));
            struct rs_var_doc doc = {name, "int", false, "number of leases"};
            fn(ctx, &doc);
            snprintf(name, sizeof(name), "%s_AT<i>", isc_list_prefix(family, list));
            rs_fields_doc(fn, ctx, name, family == 4 ? &lease4 : &lease6, NULL);
        }
    }
}
