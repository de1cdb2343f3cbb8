#include "event.h"
#include "fields.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    F(struct rs_pkt4, rai_subscriber_id, "_RAI_SUBSCRIBER_ID", true, "hex",
      "option 82 sub-option 6, subscriber-id, 0x-hex"),
    F(struct rs_pkt4, client_id, "_CLIENT_ID", true, "string",
      "option 61, client identifier, colon hex"),
    F(struct rs_pkt4, requested_address, "_REQUESTED_ADDRESS", true, "IPv4",
      "option 50, the address the client asks for"),
    F(struct rs_pkt4, hostname, "_HOSTNAME", true, "string", "option 12, host name, raw"),
    F(struct rs_pkt4, fqdn, "_FQDN", true, "string", "option 81, client FQDN, the domain name"),
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

static const struct field relay6_fields[] = {
    F(struct rs_relay6, link_address, "_LINK_ADDRESS", false, "IPv6",
      "relay hop i: link address (identifies the client's link)"),
    F(struct rs_relay6, peer_address, "_PEER_ADDRESS", false, "IPv6",
      "relay hop i: peer address (where the message came from)"),
    F(struct rs_relay6, hop_count, "_HOP_COUNT", false, "int", "relay hop i: its hop-count"),
    F(struct rs_relay6, interface_id, "_INTERFACE_ID", true, "hex",
      "relay hop i: option 18, interface-id, 0x-hex"),
    F(struct rs_relay6, remote_id, "_REMOTE_ID", true, "hex",
      "relay hop i: option 37, remote-id (enterprise number included), 0x-hex"),
    F(struct rs_relay6, subscriber_id, "_SUBSCRIBER_ID", true, "hex",
      "relay hop i: option 38, subscriber-id, 0x-hex"),
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
      "default, declined, expired-reclaimed; Kea 3.0 adds released"),
    F(struct rs_lease4, is_expired, "_IS_EXPIRED", false, "bool", "whether the lease expired"),
    F(struct rs_lease4, hwaddr, "_HWADDR", false, "string", "client MAC address"),
    F(struct rs_lease4, hostname, "_HOSTNAME", false, "string", "client hostname, raw"),
    F(struct rs_lease4, client_last_transmission, "_CLIENT_LAST_TRANSMISSION", false, "int",
      "Unix time of the client's last message"),
    F(struct rs_lease4, valid_lifetime, "_VALID_LIFETIME", false, "int", "valid lifetime, seconds"),
    F(struct rs_lease4, client_id, "_CLIENT_ID", false, "string",
      "client identifier, colon hex (empty if none)"),
    F(struct rs_lease4, subnet_id, "_SUBNET_ID", false, "int", "id of the lease's subnet"),
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
      "default, declined, expired-reclaimed; Kea 3.0 adds released, registered"),
    F(struct rs_lease6, is_expired, "_IS_EXPIRED", false, "bool", "whether the lease expired"),
    F(struct rs_lease6, client_last_transmission, "_CLIENT_LAST_TRANSMISSION", false, "int",
      "Unix time of the client's last message"),
    F(struct rs_lease6, valid_lifetime, "_VALID_LIFETIME", false, "int", "valid lifetime, seconds"),
    F(struct rs_lease6, preferred_lifetime, "_PREFERRED_LIFETIME", false, "int",
      "preferred lifetime, seconds"),
    F(struct rs_lease6, iaid, "_IAID", false, "int", "identity association id"),
    F(struct rs_lease6, subnet_id, "_SUBNET_ID", false, "int", "id of the lease's subnet"),
    F(struct rs_lease6, debug, "_DEBUG", false, "string", "Kea's multi-line dump of the lease"),
};

static const struct field_list pkt4 = FIELDS(pkt4_fields), pkt6 = FIELDS(pkt6_fields),
                               relay6 = FIELDS(relay6_fields), subnet = FIELDS(subnet_fields),
                               lease4 = FIELDS(lease4_fields), lease6 = FIELDS(lease6_fields);

/* Lists of a commit leave out the multi-line dump: one per lease would swamp the environment. */
static bool in_lease_list(const struct field *f)
{
    return strcmp(f->suffix, "_DEBUG") != 0;
}

static void add_var(struct rs_event *ev, const char *name, const char *value)
{
    rs_fields_add_var(ev, &ev->env, name, value);
}

static void add_key(struct rs_event *ev, const char *key)
{
    if (!key || !*key || ev->nr_keys == RS_QUEUE_EVERY_LANE)
        return;
    if (ev->nr_keys == RS_EVENT_MAX_KEYS) {
        ev->nr_keys = RS_QUEUE_EVERY_LANE;
        return;
    }
    ev->keys[ev->nr_keys++] = rs_queue_key(key);
}

static void add_fields(struct rs_event *ev, const char *prefix, const struct field_list *list,
                       bool (*keep)(const struct field *), const void *values)
{
    rs_fields_add(ev, &ev->env, prefix, list, keep, values);
}

void rs_event_init(struct rs_event *ev, enum rs_hook hook)
{
    ev->hook = hook;
    strvec_init(&ev->env);
    strvec_init(&ev->options);
    strvec_init(&ev->isc_env);
    strvec_init(&ev->isc_options);
    ev->nr_keys = 0;
    ev->incomplete = false;
    add_var(ev, "PATH", RS_SCRIPT_PATH);
}

void rs_event_release(struct rs_event *ev)
{
    strvec_clear(&ev->env);
    strvec_clear(&ev->options);
    strvec_clear(&ev->isc_env);
    strvec_clear(&ev->isc_options);
}

void rs_event_add_query4(struct rs_event *ev, const struct rs_pkt4 *pkt)
{
    add_fields(ev, "KEA_QUERY4", &pkt4, NULL, pkt);
    add_key(ev, pkt->hwaddr);
}

void rs_event_add_response4(struct rs_event *ev, const struct rs_pkt4 *pkt)
{
    add_fields(ev, "KEA_RESPONSE4", &pkt4, NULL, pkt);
}

void rs_event_add_query6(struct rs_event *ev, const struct rs_pkt6 *pkt)
{
    add_fields(ev, "KEA_QUERY6", &pkt6, NULL, pkt);
    add_key(ev, pkt->duid);
}

void rs_event_add_response6(struct rs_event *ev, const struct rs_pkt6 *pkt)
{
    add_fields(ev, "KEA_RESPONSE6", &pkt6, NULL, pkt);
}

void rs_event_add_subnet4(struct rs_event *ev, const struct rs_subnet *sub)
{
    add_fields(ev, "KEA_SUBNET4", &subnet, NULL, sub);
}

void rs_event_add_subnet6(struct rs_event *ev, const struct rs_subnet *sub)
{
    add_fields(ev, "KEA_SUBNET6", &subnet, NULL, sub);
}

void rs_event_add_lease4(struct rs_event *ev, const struct rs_lease4 *lease)
{
    add_fields(ev, "KEA_LEASE4", &lease4, NULL, lease);
    add_key(ev, lease->address);
    add_key(ev, lease->hwaddr);
}

void rs_event_add_lease6(struct rs_event *ev, const struct rs_lease6 *lease)
{
    add_fields(ev, "KEA_LEASE6", &lease6, NULL, lease);
    add_key(ev, lease->address);
    add_key(ev, lease->client_duid);
}

void rs_event_add_fake_allocation(struct rs_event *ev, bool fake)
{
    add_var(ev, "KEA_FAKE_ALLOCATION", fake ? "1" : "0");
}

void rs_event_add_offer_lifetime(struct rs_event *ev, const char *seconds)
{
    add_var(ev, "KEA_OFFER_LIFETIME", seconds);
}

void rs_event_add_remove_lease(struct rs_event *ev, bool remove)
{
    add_var(ev, "KEA_REMOVE_LEASE", remove ? "1" : "0");
}

void rs_event_add_relays6(struct rs_event *ev, const struct rs_relay6 *relays, size_t count)
{
    char name[64];
    snprintf(name, sizeof(name), "%zu", count);
    add_var(ev, "KEA_QUERY6_RELAY_HOPS", name);
    for (size_t i = 0; i < count; i++) {
        snprintf(name, sizeof(name), "KEA_QUERY6_RELAY%zu", i);
        add_fields(ev, name, &relay6, NULL, &relays[i]);
    }
}

static const char *list_prefix(int family, enum rs_lease_list list)
{
    if (family == 4)
        return list == RS_LEASES_GRANTED ? "KEA_LEASES4" : "KEA_DELETED_LEASES4";
    return list == RS_LEASES_GRANTED ? "KEA_LEASES6" : "KEA_DELETED_LEASES6";
}

void rs_event_add_lease_count(struct rs_event *ev, int family, enum rs_lease_list list,
                              size_t count)
{
    char name[64], value[64];
    add_var(ev, rs_fields_join(name, list_prefix(family, list), "_COUNT", false, 0),
            rs_fields_join(value, "", "", true, count));
}

void rs_event_add_listed_lease4(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                const struct rs_lease4 *lease)
{
    char prefix[64];
    add_fields(ev, rs_fields_join(prefix, list_prefix(4, list), "_AT", true, index), &lease4,
               in_lease_list, lease);
    add_key(ev, lease->address);
}

void rs_event_add_listed_lease6(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                const struct rs_lease6 *lease)
{
    char prefix[64];
    add_fields(ev, rs_fields_join(prefix, list_prefix(6, list), "_AT", true, index), &lease6,
               in_lease_list, lease);
    add_key(ev, lease->address);
}

void rs_event_add_option(struct rs_event *ev, int family, unsigned short code, const char *hex)
{
    if (ev->options.nr >= RS_EVENT_MAX_OPTIONS) {
        ev->incomplete = true;
        return;
    }
    char name[32];
    snprintf(name, sizeof(name), "KEA_QUERY%d_OPTION%u", family, code);
    if (strvec_push_pair(&ev->options, name, hex, strlen(hex)) != 0) {
        ev->incomplete = true;
        return;
    }
    ev->option_codes[ev->options.nr - 1] = code;
    snprintf(name, sizeof(name), "QUERY%d_OPTION_%u", family, code);
    if (strvec_push_pair(&ev->isc_options, name, hex, strlen(hex)) != 0)
        ev->incomplete = true;
}

static size_t name_length(const char *pair)
{
    const char *eq = strchr(pair, '=');
    return eq ? (size_t)(eq - pair) : strlen(pair);
}

/* This and overridden_by_option() run for every variable of every event (in a lane thread, for a
 * queued one): without names to compare, they return before they measure the variable's. */
static bool overridden(const char *pair, const struct strvec *extra)
{
    if (!extra || !extra->nr)
        return false;
    size_t len = name_length(pair);
    for (size_t i = 0; i < extra->nr; i++)
        if (name_length(extra->items[i]) == len && memcmp(extra->items[i], pair, len) == 0)
            return true;
    return false;
}

static bool requested(const struct rs_event *ev, size_t option, const unsigned short *codes,
                      size_t nr_codes)
{
    for (size_t c = 0; c < nr_codes; c++)
        if (codes[c] == ev->option_codes[option])
            return true;
    return false;
}

/* KEA_QUERY4_OPTION60 is both the raw vendor class and option 60 on request: the option wins. */
static bool overridden_by_option(const char *pair, const struct rs_event *ev,
                                 const struct strvec *options, const unsigned short *codes,
                                 size_t nr_codes)
{
    if (!options->nr || !nr_codes)
        return false;
    size_t len = name_length(pair);
    for (size_t i = 0; i < options->nr; i++)
        if (name_length(options->items[i]) == len && memcmp(options->items[i], pair, len) == 0 &&
            requested(ev, i, codes, nr_codes))
            return true;
    return false;
}

/* The envp of one naming scheme: its variables, `extra`, then the requested options. */
static char **build_envp(const struct rs_event *ev, const struct strvec *env,
                         const struct strvec *options, const struct strvec *extra,
                         const unsigned short *codes, size_t nr_codes)
{
    size_t extra_nr = extra ? extra->nr : 0;
    char **envp = malloc((env->nr + extra_nr + options->nr + 1) * sizeof(*envp));
    if (!envp)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < env->nr; i++)
        if (!overridden(env->items[i], extra) &&
            !overridden_by_option(env->items[i], ev, options, codes, nr_codes))
            envp[n++] = env->items[i];
    for (size_t i = 0; i < extra_nr; i++)
        envp[n++] = extra->items[i];
    for (size_t i = 0; i < options->nr; i++)
        if (requested(ev, i, codes, nr_codes))
            envp[n++] = options->items[i];
    envp[n] = NULL;
    return envp;
}

char **rs_event_envp(const struct rs_event *ev, const struct strvec *extra,
                     const unsigned short *codes, size_t nr_codes)
{
    return build_envp(ev, &ev->env, &ev->options, extra, codes, nr_codes);
}

char **rs_event_envp_isc(const struct rs_event *ev, const struct strvec *extra,
                         const unsigned short *codes, size_t nr_codes)
{
    /* Events without ISC variables (load, unload) get PATH alone, the first of `env`. */
    struct strvec path_only = {ev->env.items, ev->env.nr ? 1 : 0, 0, NULL};
    return build_envp(ev, ev->isc_env.nr ? &ev->isc_env : &path_only, &ev->isc_options, extra,
                      codes, nr_codes);
}

/* Documentation */

struct doc_ctx {
    void (*fn)(void *ctx, const struct rs_var_doc *doc);
    void *ctx;
};

static void doc_fields(const struct doc_ctx *d, const char *prefix, const struct field_list *list,
                       bool (*keep)(const struct field *))
{
    rs_fields_doc(d->fn, d->ctx, prefix, list, keep);
}

static void doc_one(const struct doc_ctx *d, const char *name, const char *type, bool optional,
                    const char *description)
{
    struct rs_var_doc doc = {name, type, optional, description};
    d->fn(d->ctx, &doc);
}

static void doc_lease_lists(const struct doc_ctx *d, int family, const struct field_list *fields)
{
    char name[64];
    for (int list = RS_LEASES_GRANTED; list <= RS_LEASES_DELETED; list++) {
        const char *prefix = list_prefix(family, list);
        snprintf(name, sizeof(name), "%s_COUNT", prefix);
        doc_one(d, name, "int", false,
                list == RS_LEASES_GRANTED
                    ? "number of leases committed: granted, renewed, or declined (state declined)"
                    : "number of leases deleted: released, or replaced by another address");
        snprintf(name, sizeof(name), "%s_AT<i>", prefix);
        doc_fields(d, name, fields, in_lease_list);
    }
}

void rs_block_docs(unsigned block, void (*fn)(void *ctx, const struct rs_var_doc *doc), void *ctx)
{
    const struct doc_ctx d = {fn, ctx};
    switch (block) {
    case RS_BLOCK_QUERY4:
        doc_fields(&d, "KEA_QUERY4", &pkt4, NULL);
        doc_one(&d, "KEA_QUERY4_OPTION<code>", "hex", true,
                "the query's option with that code, 0x-hex, if listed in \"options\"");
        break;
    case RS_BLOCK_RESPONSE4:
        doc_fields(&d, "KEA_RESPONSE4", &pkt4, NULL);
        break;
    case RS_BLOCK_QUERY6:
        doc_fields(&d, "KEA_QUERY6", &pkt6, NULL);
        doc_one(&d, "KEA_QUERY6_RELAY_HOPS", "int", false,
                "number of relays the query passed through (0: not relayed)");
        doc_fields(&d, "KEA_QUERY6_RELAY<i>", &relay6, NULL);
        doc_one(&d, "KEA_QUERY6_OPTION<code>", "hex", true,
                "the query's option with that code, 0x-hex, if listed in \"options\"");
        break;
    case RS_BLOCK_RESPONSE6:
        doc_fields(&d, "KEA_RESPONSE6", &pkt6, NULL);
        break;
    case RS_BLOCK_SUBNET4:
        doc_fields(&d, "KEA_SUBNET4", &subnet, NULL);
        break;
    case RS_BLOCK_SUBNET6:
        doc_fields(&d, "KEA_SUBNET6", &subnet, NULL);
        break;
    case RS_BLOCK_LEASE4:
        doc_fields(&d, "KEA_LEASE4", &lease4, NULL);
        break;
    case RS_BLOCK_LEASE6:
        doc_fields(&d, "KEA_LEASE6", &lease6, NULL);
        break;
    case RS_BLOCK_LEASES4:
        doc_lease_lists(&d, 4, &lease4);
        break;
    case RS_BLOCK_LEASES6:
        doc_lease_lists(&d, 6, &lease6);
        break;
    case RS_BLOCK_FAKE_ALLOCATION:
        doc_one(&d, "KEA_FAKE_ALLOCATION", "bool", false,
                "1 for DISCOVER/SOLICIT (nothing is allocated), 0 for REQUEST");
        break;
    case RS_BLOCK_REMOVE_LEASE:
        doc_one(&d, "KEA_REMOVE_LEASE", "bool", false,
                "whether Kea deletes the lease rather than keep it as expired-reclaimed");
        break;
    case RS_BLOCK_OFFER_LIFETIME:
        doc_one(&d, "KEA_OFFER_LIFETIME", "int", false,
                "seconds Kea holds the offered address for the client (0: not held)");
        break;
    }
}
