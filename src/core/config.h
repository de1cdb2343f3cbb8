/*
 * config: the hook library's parameters as plain C structs, read from the JSON text of Kea's
 * "parameters" map.
 *
 * Every key is checked here (type, range, existence of the script) so that a bad configuration
 * makes Kea's load() fail with a message naming the parameter, before any event runs. Unknown
 * keys are refused rather than ignored: a misspelt "wiat" must not silently keep the default.
 */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include "hooks.h"

#include <stdbool.h>
#include <stddef.h>

struct rs_script_config {
    char *path;       /* argv[0] */
    bool wait;        /* Kea waits for the script to finish */
    rs_hook_set hooks; /* hook points that run it */
};

struct rs_config {
    struct rs_script_config *scripts;
    size_t nr_scripts;
};

/*
 * Parses `json` (the parameters map; NULL or "" for a library given no parameters) into `config`.
 * Returns 0, or -EINVAL with a sentence naming the parameter in `err`.
 */
int rs_config_parse(const char *json, struct rs_config *config, char *err, size_t err_size);

void rs_config_release(struct rs_config *config);

#endif
