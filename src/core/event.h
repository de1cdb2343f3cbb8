/*
 * event: one call of the scripts, i.e. a hook point and the variables that go with it.
 *
 * The Kea adapter copies what it needs out of Kea's objects into the plain structs below (every
 * member is text, exactly as the script will see it; NULL means "absent", and the variable is then
 * left out if the documentation says it is optional, or set empty otherwise). The core turns them
 * into KEY=VALUE pairs with the names of the table in event.c, which is also what the README's
 * tables are generated from, so code and docs cannot drift apart.
 *
 * Values are byte-exact copies of what Kea holds: client hostnames and vendor strings arrive with
 * quotes, `$(...)`, newlines and non-UTF-8 bytes intact. An environment string ends at its first
 * NUL, so a value is cut there; nothing else is changed. Nothing here is ever passed to a shell.
 *
 * Lifecycle: rs_event_init, rs_event_add_*, hand to the engine, rs_event_release.
 */
#ifndef RS_EVENT_H
#define RS_EVENT_H

#include "hooks.h"
#include "strvec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The PATH that scripts get; Kea's own environment is never passed on. */
#define RS_SCRIPT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct rs_pkt4 {
    const char *type, *interface, *ifindex;
    const char *hwaddr, *hwaddr_type, *hwaddr_source;
    const char *relayed, *relay_hops;
    const char *option60;
    const char *ciaddr, *siaddr, *yiaddr, *giaddr;
    const char *rai, *rai_circuit_id, *rai_remote_id, *rai_subscriber_id;
    const char *client_id, *requested_address, *hostname, *fqdn;
};

struct rs_pkt6 {
    const char *type, *interface, *ifindex, *duid;
    const char *hwaddr, *hwaddr_type, *hwaddr_source;
    const char *local_address, *local_port, *remote_address, *remote_port;
    const char *label, *transaction_id, *debug;
};

/* One relay agent of a DHCPv6 query; hop 0 is the relay nearest the client. */
struct rs_relay6 {
    const char *link_address, *peer_address, *hop_count;
    const char *interface_id, *remote_id, *subscriber_id;
};

struct rs_subnet {
    const char *prefix, *prefixlen, *subnet;
};

struct rs_lease4 {
    const char *address, *type, *hwaddr, *hostname, *state, *is_expired;
    const char *client_last_transmission, *valid_lifetime, *client_id, *subnet_id, *debug;
};

struct rs_lease6 {
    const char *type, *address, *delegated_prefix, *delegated_prefixlen, *client_duid;
    const char *hwaddr, *hostname, *state, *is_expired, *client_last_transmission;
    const char *valid_lifetime, *preferred_lifetime, *iaid, *subnet_id, *debug;
};

/* Ordering keys an event holds; beyond that it is ordered against all others. */
#define RS_EVENT_MAX_KEYS 32

/* Query options exported on request ("options"), held apart: each script gets only its own. */
#define RS_EVENT_MAX_OPTIONS 256

struct rs_event {
    enum rs_hook hook;
    struct strvec env;
    /* What the event is about, for ordering (src/core/queue.h): its leases' addresses and the
     * client's MAC or DUID, hashed (rs_queue_key) as blocks are added. An event with more keys
     * than this is ordered against every other event (`nr_keys` is then RS_QUEUE_EVERY_LANE). */
    uint64_t keys[RS_EVENT_MAX_KEYS];
    size_t nr_keys;
    struct strvec options; /* "KEA_QUERY4_OPTION<code>=0x..." */
    /* The same event in the names and formats of ISC's libdhcp_run_script ("variables": "isc"),
     * filled only when a script asks for them (src/core/event_isc.c). */
    struct strvec isc_env;
    struct strvec isc_options; /* "QUERY4_OPTION_<code>=0x...", same order as `options` */
    unsigned short option_codes[RS_EVENT_MAX_OPTIONS];
    /* Set once an allocation failed: the event still runs, with the variables it has. */
    bool incomplete;
};

/* Which lease list of a leasesX_committed event. */
enum rs_lease_list { RS_LEASES_GRANTED, RS_LEASES_DELETED };

void rs_event_init(struct rs_event *ev, enum rs_hook hook);
void rs_event_release(struct rs_event *ev);

void rs_event_add_query4(struct rs_event *ev, const struct rs_pkt4 *pkt);
void rs_event_add_response4(struct rs_event *ev, const struct rs_pkt4 *pkt);
void rs_event_add_query6(struct rs_event *ev, const struct rs_pkt6 *pkt);
void rs_event_add_response6(struct rs_event *ev, const struct rs_pkt6 *pkt);
void rs_event_add_subnet4(struct rs_event *ev, const struct rs_subnet *subnet);
void rs_event_add_subnet6(struct rs_event *ev, const struct rs_subnet *subnet);
void rs_event_add_lease4(struct rs_event *ev, const struct rs_lease4 *lease);
void rs_event_add_lease6(struct rs_event *ev, const struct rs_lease6 *lease);
void rs_event_add_fake_allocation(struct rs_event *ev, bool fake);
void rs_event_add_remove_lease(struct rs_event *ev, bool remove);
void rs_event_add_offer_lifetime(struct rs_event *ev, const char *seconds);

/* KEA_QUERY6_RELAY_HOPS and, per hop, KEA_QUERY6_RELAY<i>_*; relays[0] nearest the client. */
void rs_event_add_relays6(struct rs_event *ev, const struct rs_relay6 *relays, size_t count);

/* KEA_LEASES4_COUNT / KEA_DELETED_LEASES4_COUNT and the indexed leases of a commit. Add the count
 * first, then each lease with its index. */
void rs_event_add_lease_count(struct rs_event *ev, int family, enum rs_lease_list list,
                              size_t count);
void rs_event_add_listed_lease4(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                const struct rs_lease4 *lease);
void rs_event_add_listed_lease6(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                const struct rs_lease6 *lease);

/* KEA_QUERY4_OPTION<code> (family 4) or KEA_QUERY6_OPTION<code>, for the scripts asking for it. */
void rs_event_add_option(struct rs_event *ev, int family, unsigned short code, const char *hex);

/*
 * The environment for a script: the event's variables, then `extra` (the script's fixed "env"),
 * then the options among `codes`. Later entries win for the same name (glibc's getenv() returns
 * the first, so duplicates are dropped here). Returns a malloc'ed NULL-terminated array of
 * pointers into the event and `extra` (free() the array only), or NULL when out of memory.
 */
char **rs_event_envp(const struct rs_event *ev, const struct strvec *extra,
                     const unsigned short *codes, size_t nr_codes);

/* rs_event_envp() for a script with "variables": "isc". */
char **rs_event_envp_isc(const struct rs_event *ev, const struct strvec *extra,
                         const unsigned short *codes, size_t nr_codes);

/*
 * ISC's libdhcp_run_script variables (Kea 2.2, plus what 3.0 added), for "variables": "isc". Same
 * conventions as the structs above (text, NULL = empty), except that ISC always emits every
 * variable of a block, empty when Kea has no value, and only its option variables are ever left
 * out.
 */
struct rs_isc_pkt4 {
    const char *type, *txid, *local_addr, *local_port, *remote_addr, *remote_port;
    const char *iface_index, *iface_name, *hops, *secs, *flags;
    const char *ciaddr, *siaddr, *yiaddr, *giaddr, *relayed;
    const char *hwaddr, *hwaddr_type, *local_hwaddr, *local_hwaddr_type;
    const char *remote_hwaddr, *remote_hwaddr_type;
    const char *option_82, *option_82_sub_option_1, *option_82_sub_option_2; /* if present */
};

struct rs_isc_pkt6 {
    const char *type, *txid, *local_addr, *local_port, *remote_addr, *remote_port;
    const char *iface_index, *iface_name, *remote_hwaddr, *remote_hwaddr_type, *proto;
    const char *client_id;
    /* Kea 3.0: the relay's interface-id, remote-id and subscriber-id options, if present. */
    const char *option_18, *option_37, *option_38;
};

struct rs_isc_lease4 {
    const char *address, *cltt, *hostname, *hwaddr, *hwaddr_type, *state, *subnet_id;
    const char *valid_lifetime, *client_id;
};

struct rs_isc_lease6 {
    const char *address, *cltt, *hostname, *hwaddr, *hwaddr_type, *state, *subnet_id;
    const char *valid_lifetime, *duid, *iaid, *preferred_lifetime, *prefix_len, *type;
};

struct rs_isc_subnet4 {
    const char *id, *name, *prefix, *prefix_len;
};

/* lease4_renew's client-id and hardware address arguments: PKT4_CLIENT_ID, PKT4_HWADDR... */
struct rs_isc_pkt4_ids {
    const char *client_id, *hwaddr, *hwaddr_type;
};

/* The IA of a lease6_renew / lease6_rebind response: PKT6_IA_IAID... */
struct rs_isc_ia {
    const char *iaid, *ia_type, *ia_t1, *ia_t2;
};

/* Which ISC blocks each hook point carries (enum rs_isc_block bits); 0: ISC's library does not
 * have that hook point. */
enum rs_isc_block {
    RS_ISC_QUERY4 = 1u << 0,
    RS_ISC_QUERY6 = 1u << 1,
    RS_ISC_SUBNET4 = 1u << 2,
    RS_ISC_PKT4_IDS = 1u << 3,
    RS_ISC_LEASE4 = 1u << 4,
    RS_ISC_LEASE6 = 1u << 5,
    RS_ISC_PKT6_IA = 1u << 6,
    RS_ISC_REMOVE_LEASE = 1u << 7,
    RS_ISC_LEASES4 = 1u << 8,
    RS_ISC_LEASES6 = 1u << 9,
    RS_ISC_ADDR6_REGISTER = 1u << 10, /* ADDRESS6, OLD_LEASE6_* if any, NEW_LEASE6_* */
};

unsigned rs_isc_blocks(enum rs_hook hook);

void rs_event_add_isc_query4(struct rs_event *ev, const struct rs_isc_pkt4 *pkt);
void rs_event_add_isc_query6(struct rs_event *ev, const struct rs_isc_pkt6 *pkt);
void rs_event_add_isc_subnet4(struct rs_event *ev, const struct rs_isc_subnet4 *subnet);
void rs_event_add_isc_pkt4_ids(struct rs_event *ev, const struct rs_isc_pkt4_ids *ids);
void rs_event_add_isc_lease4(struct rs_event *ev, const struct rs_isc_lease4 *lease);
void rs_event_add_isc_lease6(struct rs_event *ev, const struct rs_isc_lease6 *lease);
void rs_event_add_isc_ia(struct rs_event *ev, const struct rs_isc_ia *ia);
void rs_event_add_isc_remove_lease(struct rs_event *ev, bool remove);
/* addr6_register: ADDRESS6, then OLD_LEASE6_* (only when `old_lease`), then NEW_LEASE6_*. */
void rs_event_add_isc_registration(struct rs_event *ev, const char *address,
                                   const struct rs_isc_lease6 *old_lease,
                                   const struct rs_isc_lease6 *new_lease);
void rs_event_add_isc_lease_count(struct rs_event *ev, int family, enum rs_lease_list list,
                                  size_t count);
void rs_event_add_isc_listed_lease4(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                    const struct rs_isc_lease4 *lease);
void rs_event_add_isc_listed_lease6(struct rs_event *ev, enum rs_lease_list list, size_t index,
                                    const struct rs_isc_lease6 *lease);

/* Documentation of the ISC variables of a hook point, for generated docs and tests. */
struct rs_var_doc;
void rs_isc_docs(enum rs_hook hook, void (*fn)(void *ctx, const struct rs_var_doc *doc), void *ctx);

/* Documentation of the variables, for generated docs and for tests. */
struct rs_var_doc {
    const char *name; /* full name, e.g. "KEA_QUERY4_HWADDR" */
    const char *type; /* "string", "int", "bool", "IPv4"... */
    bool optional;    /* left out when the data is absent */
    const char *description;
};

/* Calls `fn` for each variable of `block` (one enum rs_block bit), in emission order. */
void rs_block_docs(unsigned block, void (*fn)(void *ctx, const struct rs_var_doc *doc), void *ctx);

#endif
