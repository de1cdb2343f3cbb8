#include "hooks.h"

#include <string.h>

static const struct rs_hook_info hook_table[RS_HOOK_COUNT] = {
#define RS_HOOK_INFO(id, name, family, dflt, blocks, honours)                                      \
    [RS_HOOK_##id] = {name, family, dflt, blocks, honours},
    RS_HOOK_POINTS(RS_HOOK_INFO)
#undef RS_HOOK_INFO
};

_Static_assert(RS_HOOK_COUNT < 64, "rs_hook_set holds one bit per hook point");

const struct rs_hook_info *rs_hook_describe(enum rs_hook hook)
{
    return &hook_table[hook];
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
