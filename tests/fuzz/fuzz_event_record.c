/*
 * libFuzzer target for spool records of events (src/spool/event_record.h): a spool file may be
 * damaged by a crash, a disk or a person, so any bytes must decode to a well-formed event or be
 * refused, never crash or read out of bounds; and what decodes must encode back to the same bytes.
 */
#include "spool/event_record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rs_event_record record;
    if (rs_event_record_decode(data, size, &record) != 0)
        return 0;
    void *again;
    size_t len;
    if (rs_event_record_encode(record.hook, record.attempts, record.keys, record.nr_keys,
                               record.envp, &again, &len) != 0)
        abort();
    if (len != size || memcmp(again, data, size) != 0)
        abort();
    free(again);
    rs_event_record_release(&record);
    return 0;
}
