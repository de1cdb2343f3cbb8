/*
 * hooks: the hook points the library can run scripts at, and which variables each one carries.
 *
 * This table is the single source of truth for names (argv[1] and the "hooks" configuration key),
 * for the blocks of variables per hook point (src/core/vars.h), and for the generated docs.
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
};

/* name, family (4 or 6), blocks */
#define RS_HOOK_POINTS(X)                                                                          \
    X(PKT4_RECEIVE, "pkt4_receive", 4, RS_BLOCK_QUERY4)                                            \
    X(PKT4_SEND, "pkt4_send", 4, RS_BLOCK_QUERY4 | RS_BLOCK_RESPONSE4)                             \
    X(SUBNET4_SELECT, "subnet4_select", 4, RS_BLOCK_QUERY4 | RS_BLOCK_SUBNET4)                     \
    X(LEASE4_SELECT, "lease4_select", 4,                                                           \
      RS_BLOCK_QUERY4 | RS_BLOCK_SUBNET4 | RS_BLOCK_FAKE_ALLOCATION | RS_BLOCK_LEASE4)             \
    X(LEASE4_RENEW, "lease4_renew", 4, RS_BLOCK_QUERY4 | RS_BLOCK_SUBNET4 | RS_BLOCK_LEASE4)       \
    X(LEASE4_RELEASE, "lease4_release", 4, RS_BLOCK_QUERY4 | RS_BLOCK_LEASE4)                      \
    X(LEASE4_DECLINE, "lease4_decline", 4, RS_BLOCK_QUERY4 | RS_BLOCK_LEASE4)                      \
    X(LEASE4_EXPIRE, "lease4_expire", 4, RS_BLOCK_LEASE4 | RS_BLOCK_REMOVE_LEASE)                  \
    X(LEASE4_RECOVER, "lease4_recover", 4, RS_BLOCK_LEASE4)                                        \
    X(PKT6_RECEIVE, "pkt6_receive", 6, RS_BLOCK_QUERY6)                                            \
    X(PKT6_SEND, "pkt6_send", 6, RS_BLOCK_QUERY6 | RS_BLOCK_RESPONSE6)                             \
    X(SUBNET6_SELECT, "subnet6_select", 6, RS_BLOCK_QUERY6 | RS_BLOCK_SUBNET6)                     \
    X(LEASE6_SELECT, "lease6_select", 6,                                                           \
      RS_BLOCK_QUERY6 | RS_BLOCK_SUBNET6 | RS_BLOCK_FAKE_ALLOCATION | RS_BLOCK_LEASE6)             \
    X(LEASE6_RENEW, "lease6_renew", 6, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6)                          \
    X(LEASE6_REBIND, "lease6_rebind", 6, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6)                        \
    X(LEASE6_DECLINE, "lease6_decline", 6, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6)                      \
    X(LEASE6_RELEASE, "lease6_release", 6, RS_BLOCK_QUERY6 | RS_BLOCK_LEASE6)                      \
    X(LEASE6_EXPIRE, "lease6_expire", 6, RS_BLOCK_LEASE6 | RS_BLOCK_REMOVE_LEASE)                  \
    X(LEASE6_RECOVER, "lease6_recover", 6, RS_BLOCK_LEASE6)

enum rs_hook {
#define RS_HOOK_ENUM(name, text, family, blocks) RS_HOOK_##name,
    RS_HOOK_POINTS(RS_HOOK_ENUM)
#undef RS_HOOK_ENUM
        RS_HOOK_COUNT
};

/* A set of hook points, one bit per enum rs_hook. */
typedef unsigned long long rs_hook_set;
#define RS_HOOK_BIT(hook) (1ULL << (hook))
#define RS_HOOK_SET_ALL ((1ULL << RS_HOOK_COUNT) - 1)

struct rs_hook_info {
    const char *name;
    int family;
    unsigned blocks;
};

const struct rs_hook_info *rs_hook_describe(enum rs_hook hook);

/* The hook point called `name`, or -1. */
int rs_hook_by_name(const char *name);

#endif
