/*
 * json: a small, strict JSON reader for the hook's parameters.
 *
 * Kea hands a hook library its "parameters" map as an isc::data::Element; the adapter turns it
 * into text with Element::str() and the core parses it here, so that all configuration handling
 * lives in plain C and is unit-tested without Kea. The input is the operator's configuration,
 * yet the reader still bounds nesting depth and rejects anything malformed: it is also fuzzed.
 *
 * A parsed tree is immutable and owned by its root: json_free(root) releases everything.
 */
#ifndef RS_JSON_H
#define RS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    bool boolean;
    /* For JSON_NUMBER: `is_integer` when the text had no fraction or exponent and fits int64. */
    bool is_integer;
    int64_t integer;
    double number;
    /* For JSON_STRING: `len` bytes, NUL-terminated; may contain NUL bytes (from \u0000). */
    char *string;
    size_t len;
    /* For JSON_ARRAY and JSON_OBJECT: `nr` items; objects also have `keys` (same order). */
    struct json **items;
    char **keys;
    size_t nr;
};

/* Parses `text`; returns NULL and writes a message with the byte offset into `err` on error. */
struct json *json_parse(const char *text, size_t len, char *err, size_t err_size);

void json_free(struct json *value);

/* Member `key` of an object, or NULL (also when `object` is not an object). */
const struct json *json_get(const struct json *object, const char *key);

/* "a string", "a boolean"...: for error messages that say what was expected or found. */
const char *json_type_name(enum json_type type);

#endif
