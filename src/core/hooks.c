#include "hooks.h"

#include <string.h>

static const struct rs_hook_info hook_table[RS_HOOK_COUNT] = {
#define RS_HOOK_INFO(id, name, family, dflt, blocks, honours, since)                               \
    [RS_HOOK_##id] = {name, family, dflt, blocks, honours, since},
    RS_HOOK_POINTS(RS_HOOK_INFO)
#undef RS_HOOK_INFO
};

_Static_assert(RS_HOOK_COUNT < 64, "rs_hook_set holds one bit per hook point");

const struct rs_hook_info *rs_hook_describe(enum rs_hook hook)
{
    return &hook_table[hook];
}

struct later_block {
    enum rs_hook hook;
    unsigned block;
    int since;
};

static const struct later_block later_blocks[] = {
#define RS_LATER_BLOCK(id, block, since) {RS_HOOK_##id, block, since},
    RS_HOOK_LATER_BLOCKS(RS_LATER_BLOCK)
#undef RS_LATER_BLOCK
};

unsigned rs_hook_blocks(enum rs_hook hook, int kea_release)
{
    unsigned blocks = hook_table[hook].blocks;
    for (size_t i = 0; i < sizeof(later_blocks) / sizeof(later_blocks[0]); i++)
        if (later_blocks[i].hook == hook && kea_release >= later_blocks[i].since)
            blocks |= later_blocks[i].block;
    return blocks;
}

int rs_hook_block_since(enum rs_hook hook, unsigned block)
{
    if (hook_table[hook].blocks & block)
        return 0;
    for (size_t i = 0; i < sizeof(later_blocks) / sizeof(later_blocks[0]); i++)
        if (later_blocks[i].hook == hook && (later_blocks[i].block & block))
            return later_blocks[i].since;
    return -1;
}

int rs_hook_by_name(const char *name)
{
    for (int i = 0; i < RS_HOOK_COUNT; i++)
        if (strcmp(hook_table[i].name, name) == 0)
            return i;
    return -1;
}

rs_hook_set rs_hook_default_set(void)
{
    rs_hook_set set = 0;
    for (int i = 0; i < RS_HOOK_COUNT; i++)
        if (hook_table[i].in_default_set)
            set |= RS_HOOK_BIT(i);
    return set;
}
