/*
 * Prints the README's variable reference from the core's own tables (src/core/hooks.h and
 * src/core/event.c), so the documentation cannot drift from what scripts receive.
 * `make docs` splices its output into README.md; `make docs-check` fails when they differ.
 */
#include "core/event.h"
#include "core/hooks.h"

#include <limits.h>
#include <stdio.h>

struct block_name {
    unsigned block;
    const char *title;
    const char *summary;
};

static const struct block_name block_names[] = {
    {RS_BLOCK_QUERY4, "KEA_QUERY4_*", "the client's DHCPv4 packet"},
    {RS_BLOCK_RESPONSE4, "KEA_RESPONSE4_*", "the server's answer (same fields as the query)"},
    {RS_BLOCK_SUBNET4, "KEA_SUBNET4*", "the selected subnet"},
    {RS_BLOCK_LEASE4, "KEA_LEASE4_*", "the lease"},
    {RS_BLOCK_QUERY6, "KEA_QUERY6_*", "the client's DHCPv6 packet"},
    {RS_BLOCK_RESPONSE6, "KEA_RESPONSE6_*", "the server's answer (same fields as the query)"},
    {RS_BLOCK_SUBNET6, "KEA_SUBNET6*", "the selected subnet"},
    {RS_BLOCK_LEASE6, "KEA_LEASE6_*", "the lease (one call per address or prefix)"},
    {RS_BLOCK_LEASES4, "KEA_LEASES4_*, KEA_DELETED_LEASES4_*",
     "every lease of the transaction, indexed from 0"},
    {RS_BLOCK_LEASES6, "KEA_LEASES6_*, KEA_DELETED_LEASES6_*",
     "every lease of the transaction (NA and PD mixed), indexed from 0"},
    {RS_BLOCK_FAKE_ALLOCATION, "KEA_FAKE_ALLOCATION", "DISCOVER/SOLICIT (1) or REQUEST (0)"},
    {RS_BLOCK_REMOVE_LEASE, "KEA_REMOVE_LEASE", "lease deleted (1) or kept as reclaimed (0)"},
    {RS_BLOCK_OFFER_LIFETIME, "KEA_OFFER_LIFETIME", "how long the offered address is held"},
};

/* " (Kea 2.6+)" for a release number such as 20600; nothing for 0 (every release). */
static const char *since_text(int since)
{
    static char text[32];
    if (since <= 0)
        return "";
    snprintf(text, sizeof(text), " (Kea %d.%d+)", since / 10000, since / 100 % 100);
    return text;
}

#define NR_BLOCKS (sizeof(block_names) / sizeof(block_names[0]))

static void print_var(void *ctx, const struct rs_var_doc *doc)
{
    (void)ctx;
    printf("| `%s` | %s | %s%s |\n", doc->name, doc->type, doc->description,
           doc->optional ? " (only when present)" : "");
}

static void print_family(int family)
{
    printf("#### DHCPv%d hook points\n\n", family);
    printf("| hook point (`$1`) | variables |\n|---|---|\n");
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++) {
        const struct rs_hook_info *info = rs_hook_describe(hook);
        if (info->family != family)
            continue;
        printf("| `%s`%s |", info->name, since_text(info->since));
        const char *sep = " ";
        for (size_t b = 0; b < NR_BLOCKS; b++) {
            int since = rs_hook_block_since(hook, block_names[b].block);
            if (since >= 0) {
                printf("%s`%s`%s", sep, block_names[b].title,
                       since > info->since ? since_text(since) : "");
                sep = ", ";
            }
        }
        printf(" |\n");
    }
    printf("\n");
    for (size_t b = 0; b < NR_BLOCKS; b++) {
        unsigned used = 0;
        for (int hook = 0; hook < RS_HOOK_COUNT; hook++)
            if (rs_hook_describe(hook)->family == family)
                used |= rs_hook_blocks(hook, INT_MAX);
        if (!(used & block_names[b].block))
            continue;
        printf("`%s`: %s\n\n| variable | type | meaning |\n|---|---|---|\n", block_names[b].title,
               block_names[b].summary);
        rs_block_docs(block_names[b].block, print_var, NULL);
        printf("\n");
    }
}

static void print_isc_name(void *ctx, const struct rs_var_doc *doc)
{
    const char **sep = ctx;
    printf("%s`%s`", *sep, doc->name);
    *sep = ", ";
}

/* With "variables": "isc": the names of ISC's libdhcp_run_script, per hook point. */
static void print_isc(void)
{
    printf("#### With `\"variables\": \"isc\"`\n\n"
           "The names and formats of ISC's `libdhcp_run_script` of the same Kea release (no "
           "`KEA_` prefix, `true`/`false` booleans), at the hook points it has, plus `PATH`. "
           "Kea 3.0's adds `QUERY6_OPTION_18`/`_37`/`_38` (a relay's interface-id, remote-id "
           "and subscriber-id, when present) and `addr6_register`:\n\n"
           "| hook point | variables |\n|---|---|\n");
    for (int hook = 0; hook < RS_HOOK_COUNT; hook++) {
        if (!rs_isc_blocks(hook))
            continue;
        const char *sep = " ";
        printf("| `%s`%s |", rs_hook_describe(hook)->name,
               since_text(rs_hook_describe(hook)->since));
        rs_isc_docs(hook, print_isc_name, &sep);
        printf(" |\n");
    }
    printf("\n");
}

int main(void)
{
    printf("Every script also gets `PATH=%s`, and nothing else of Kea's environment.\n"
           "Booleans are `0` or `1`. Values are byte-exact copies of what Kea holds (a value "
           "ends at its first NUL byte, which an environment cannot carry).\n\n",
           RS_SCRIPT_PATH);
    print_family(4);
    print_family(6);
    print_isc();
    return 0;
}
