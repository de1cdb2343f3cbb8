/*
 * hooks: the hook points the library can run scripts at, which variables each one carries, and
 * what Kea does with a callout's SKIP or DROP there.
 *
 * This table is the single source of truth for names (argv[1] and the "hooks" configuration key),
 * for the blocks of variables per hook point (src/core/event.h), for which "on-failure" actions a
 * hook point accepts, and for the generated docs.
 */
#ifndef RS_HOOKS_H
#define RS_HOOKS_H

#include <stdbool.h>

/* Groups of variables; a hook point carries the union of its blocks. */
enum rs_block {
    RS_BLOCK_QUERY4 = 1u << 0,
    RS_BLOCK_RESPONSE4 = 1u << 1,
    RS_BLOCK_SUBNET4 = 1u << 2,
    RS_BLOCK_LEASE4 = 1u << 3,
    RS_BLOCK_QUERY6 = 1u << 4,
    RS_BLOCK_RESPONSE6 = 1u << 5,
    RS_BLOCK_SUBNET6 = 1u << 6,
    RS_BLOCK_LEASE6 = 1u << 7,
    RS_BLOCK_FAKE_ALLOCATION = 1u << 8,
    RS_BLOCK_REMOVE_LEASE = 1u << 9,
    RS_BLOCK_LEASES4 = 1u << 10, /* leases4_committed: granted and deleted leases, indexed */
    RS_BLOCK_LEASES6 = 1u << 11,
    RS_BLOCK_OFFER_LIFETIME = 1u << 12, /* lease4_offer: how long the offered address is held */
};

/* What Kea does when a callout sets the next-step status at a hook point (Kea's sources). */
enum rs_honours {
    RS_HONOURS_NONE = 0,
    RS_HONOURS_SKIP = 1u << 0,
    RS_HONOURS_DROP = 1u << 1,
};

/*
 * id, name, family (4, 6, or 0 for both), in the default set, blocks, statuses Kea honours, and
 * the first Kea release that has the hook point (2.6.0 is 20600; 0: every release we support).
 * A release is named by the first stable one: what came in the 2.7 development series is 3.0's.
 */
#define RS_HOOK_POINTS(X)                                                                          \
    X(PKT4_RECEIVE, "pkt4_receive", 4, true, RS_BLOCK_QUERY4, RS_HONOURS_SKIP | RS_HONOURS_DROP,   \
      0)                                                                                           \
    X(PKT4_SEND, "pkt4_send", 4, true, RS_BLOCK_QUERY4 | RS_BLOCK_RESPONSE4, RS_HONOURS_DROP, 0)   \
    X(SUBNET4_SELECT, "subnet4_select", 4, true, RS_BLOCK_QUERY4 | RS_BLOCK_SUBNET4,               \
      RS_HONOURS_SKIP | RS_HONOURS_DROP, 0)                                                        \
    X(LEASE4_SELECT, "lease4_select", 4, true,                                                     \
      RS_BLOCK_QUERY4 | RS_BLOCK_SUBNET4 | RS_BLOCK_FAKE_ALLOCATION | RS_BLOCK_LEASE4,             \
      RS_HONOURS_SKIP, 0)                                                                          \
    X(LEASE4_RENEW, "lease4_renew", 4, true, RS_BLOCK_QUERY4 | RS_BLOCK_SUBNET4 | RS_BLOCK_LEASE4, \
      RS_HONOURS_SKIP, 0)                                                                          \
    X(LEASE4_RELEASE, "lease4_release", 4, true, RS_BLOCK_QUERY4 | RS_BLOCK_LEASE4,                \
      RS_HONOURS_SKIP | RS_HONOURS_DROP, 0)                                                        \
    X(LEASE4_DECLINE, "lease4_decline", 4, true, RS_BLOCK_QUERY4 | RS_BLOCK_LEASE4,                \
      RS_HONOURS_SKIP | RS_HONOURS_DROP, 0)                                                        \
    X(LEASE4_EXPIRE, "lease4_expire", 4, true, RS_BLOCK_LEASE4 | RS_BLOCK_REMOVE_LEASE,            \
      RS_HONOURS_SKIP, 0)                                                                          \
    X(LEASE4_RECOVER, "lease4_recover", 4, true, RS_BLOCK_LEASE4, RS_HONOURS_SKIP, 0)              \
    X(LEASES4_COMMITTED, "leases4_committed", 4, false, RS_BLOCK_QUERY4 | RS_BLOCK_LEASES4,        \
      RS_HONOURS_DROP, 0)                                                                          \
    X(LEASE4_OFFER, "lease4_offer", 4, false,                                                      \
      RS_BLOCK_QUERY4 | RS_BLOCK_LEASE4 | RS_BLOCK_OFFER_LIFETIME, RS_HONOURS_DROP, 20600)         \
    X(LEASE4_SERVER_DECLINE, "lease4_server_decline", 4, false, RS_BLOCK_QUERY4 | RS_BLOCK_LEASE4, \
      RS_HONOURS_NONE, 20600)                                                                      \
    X(PKT6_RECEIVE, "pkt6_receive", 6, true, RS_BLOCK_QUERY6, RS_HONOURS_SKIP | RS_HONOURS_DROP,   \
      0)                                                                                           \
    X(PKT6_SEND, "pkt6_send", 6, true, RS_BLOCK_QUERY6 | RS_BLOCK_RESPONSE6, RS_HONOURS_DROP, 0)   \
    X(SUBNET6_SELECT, "subnet6_select", 6, true, RS_BLOCK_QUERY6 | RS_BLOCK_SUBNET6,               \
      RS_HONOURS_SKIP | RS_HONOURS_DROP, 0)                                                        \
    X(LEASE6_SELECT, "lease6_select", 6, true,                                                     \
      RS_BLOCK_QUERY6 | RS_BLOCK_SUBNET6 | RS_BLOCK_FAKE_ALLOCATION | RS_BLOCK_LEASE6,             \
      RS_HONOURS_SKIP, 0)                                                                          \
    X(LEASE6_RENEW, "lease6_renew", 6, true, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6, RS_HONOURS_SKIP,   \
      0)                                                                                           \
    X(LEASE6_REBIND, "lease6_rebind", 6, true, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6, RS_HONOURS_SKIP, \
      0)                                                                                           \
    X(LEASE6_DECLINE, "lease6_decline", 6, true, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6,                \
      RS_HONOURS_SKIP | RS_HONOURS_DROP, 0)                                                        \
    X(LEASE6_RELEASE, "lease6_release", 6, true, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6,                \
      RS_HONOURS_SKIP, 0)                                                                          \
    X(LEASE6_EXPIRE, "lease6_expire", 6, true, RS_BLOCK_LEASE6 | RS_BLOCK_REMOVE_LEASE,            \
      RS_HONOURS_SKIP, 0)                                                                          \
    X(LEASE6_RECOVER, "lease6_recover", 6, true, RS_BLOCK_LEASE6, RS_HONOURS_SKIP, 0)              \
    X(LEASES6_COMMITTED, "leases6_committed", 6, false, RS_BLOCK_QUERY6 | RS_BLOCK_LEASES6,        \
      RS_HONOURS_DROP, 0)                                                                          \
    X(ADDR6_REGISTER, "addr6_register", 6, false,                                                  \
      RS_BLOCK_QUERY6 | RS_BLOCK_RESPONSE6 | RS_BLOCK_LEASE6, RS_HONOURS_SKIP | RS_HONOURS_DROP,   \
      30000)                                                                                       \
    X(LEASE4_REPLAY, "lease4_replay", 4, false, RS_BLOCK_LEASE4, 0, 0)                             \
    X(LEASE6_REPLAY, "lease6_replay", 6, false, RS_BLOCK_LEASE6, 0, 0)                             \
    X(LOAD, "load", 0, false, 0, 0, 0)                                                             \
    X(UNLOAD, "unload", 0, false, 0, 0, 0)

/* Blocks a hook point gained after it first appeared: hook point, block, first Kea release. */
#define RS_HOOK_LATER_BLOCKS(X)                                                                    \
    X(PKT4_SEND, RS_BLOCK_SUBNET4, 20600)                                                          \
    X(PKT6_SEND, RS_BLOCK_SUBNET6, 20600)                                                          \
    X(LEASES4_COMMITTED, RS_BLOCK_RESPONSE4, 30000)                                                \
    X(LEASES6_COMMITTED, RS_BLOCK_RESPONSE6, 30000)                                                \
    X(LEASE4_OFFER, RS_BLOCK_RESPONSE4, 30000)

enum rs_hook {
#define RS_HOOK_ENUM(id, name, family, dflt, blocks, honours, since) RS_HOOK_##id,
    RS_HOOK_POINTS(RS_HOOK_ENUM)
#undef RS_HOOK_ENUM
        RS_HOOK_COUNT
};

/* A set of hook points, one bit per enum rs_hook. */
typedef unsigned long long rs_hook_set;
#define RS_HOOK_BIT(hook) (1ULL << (hook))

struct rs_hook_info {
    const char *name;
    int family;
    bool in_default_set; /* the 19 hook points of the original */
    unsigned blocks;     /* in every release that has the hook point; see rs_hook_blocks() */
    unsigned honours;
    int since; /* the first Kea release with the hook point, 0 for all */
};

const struct rs_hook_info *rs_hook_describe(enum rs_hook hook);

/* The blocks of variables Kea release `kea_release` (2.6.3 is 20603) passes at `hook`. */
unsigned rs_hook_blocks(enum rs_hook hook, int kea_release);

/* The first Kea release passing `block` at `hook`: 0 when every release does, -1 when none. */
int rs_hook_block_since(enum rs_hook hook, unsigned block);

/* The hook point called `name`, or -1. */
int rs_hook_by_name(const char *name);

/* The hook points that run a script whose configuration has no "hooks" key. */
rs_hook_set rs_hook_default_set(void);

#endif
