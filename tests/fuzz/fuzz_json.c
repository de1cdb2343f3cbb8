/*
 * libFuzzer target for the configuration reader: any text, valid or not, must be parsed or
 * refused with a message, never crash, leak or loop; and rs_config_parse must do the same.
 */
#include "core/config.h"
#include "core/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct json *value = json_parse((const char *)data, size, err, sizeof(err));
    json_free(value);

    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct rs_config config;
    if (rs_config_parse(text, &config, err, sizeof(err)) == 0)
        rs_config_release(&config);
    free(text);
    return 0;
}
