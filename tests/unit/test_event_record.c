#include "spool/event_record.h"
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Bytes a client may put in a hostname or a relay option (no NUL: a C string cannot hold one). */
static char *const hostile_env[] = {
    "KEA_LEASE4_HOSTNAME=a\nKEA_FAKE=1\r\t\\\"'$(rm -rf /)`id`",
    "KEA_QUERY4_OPTION60=\x01\x7f\x80\xff",
    "EMPTY=",
    "WITH=equals=inside",
    NULL,
};

static void encode(const char *hook, unsigned attempts, const uint64_t *keys, size_t nr_keys,
                   char *const *envp, void **buf, size_t *len)
{
    assert_int_equal(rs_event_record_encode(hook, attempts, keys, nr_keys, envp, buf, len), 0);
}

static void test_round_trip_is_byte_exact(void **state)
{
    (void)state;
    const uint64_t keys[] = {0, 1, UINT64_MAX, 0x0102030405060708ULL};
    void *buf;
    size_t len;
    encode("lease4_select", 2, keys, 4, hostile_env, &buf, &len);
    struct rs_event_record record;
    assert_int_equal(rs_event_record_decode(buf, len, &record), 0);
    assert_string_equal(record.hook, "lease4_select");
    assert_int_equal(record.attempts, 2);
    assert_int_equal(record.nr_keys, 4);
    assert_memory_equal(record.keys, keys, sizeof(keys));
    assert_int_equal(record.nr_env, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(record.envp[i], hostile_env[i]);
    assert_null(record.envp[4]);
    rs_event_record_release(&record);
    free(buf);
}

static void test_no_keys_no_variables(void **state)
{
    (void)state;
    char *const none[] = {NULL};
    void *buf;
    size_t len;
    encode("lease4_replay", 0, NULL, 0, none, &buf, &len);
    struct rs_event_record record;
    assert_int_equal(rs_event_record_decode(buf, len, &record), 0);
    assert_string_equal(record.hook, "lease4_replay");
    assert_int_equal(record.nr_keys, 0);
    assert_int_equal(record.nr_env, 0);
    assert_null(record.envp[0]);
    rs_event_record_release(&record);
    free(buf);
}

/* An event with more keys than it can hold is ordered against all others, on disk too. */
static void test_every_key(void **state)
{
    (void)state;
    char *const none[] = {NULL};
    void *buf;
    size_t len;
    encode("leases4_committed", 2, NULL, RS_EVENT_RECORD_EVERY_KEY, none, &buf, &len);
    struct rs_event_record record;
    assert_int_equal(rs_event_record_decode(buf, len, &record), 0);
    assert_int_equal(record.nr_keys, RS_EVENT_RECORD_EVERY_KEY);
    assert_int_equal(record.attempts, 2);
    rs_event_record_release(&record);
    free(buf);
}

static void test_limits_of_the_format(void **state)
{
    (void)state;
    char *const none[] = {NULL};
    uint64_t keys[RS_EVENT_RECORD_MAX_KEYS + 1] = {0};
    void *buf = NULL;
    size_t len;
    assert_int_equal(
        rs_event_record_encode("h", 0, keys, RS_EVENT_RECORD_MAX_KEYS + 1, none, &buf, &len),
        -EINVAL);
    assert_int_equal(rs_event_record_encode("h", 256, keys, 1, none, &buf, &len), -EINVAL);
    assert_null(buf);
}

/* Every prefix of a record is refused (a write cut short), as is every single flipped bit that
 * changes a length or a count, and nothing leaks or reads out of bounds on the way (ASan,
 * valgrind). */
static void test_damage_is_refused_never_misread(void **state)
{
    (void)state;
    const uint64_t keys[] = {42};
    void *buf;
    size_t len;
    encode("pkt4_receive", 1, keys, 1, hostile_env, &buf, &len);
    struct rs_event_record record;
    for (size_t cut = 0; cut < len; cut++) {
        void *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        assert_int_equal(rs_event_record_decode(copy, cut, &record), -EBADMSG);
        assert_null(record.hook);
        free(copy);
    }
    unsigned char *bytes = buf;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (unsigned char)(1u << bit);
            int rc = rs_event_record_decode(bytes, len, &record);
            /* A flip in the attempts, a string or a key may still decode, to what the bytes
             * say; never one in the version, a length or a count. */
            if (rc == 0) {
                assert_true(i == 1 || i >= 12);
                rs_event_record_release(&record);
            } else {
                assert_int_equal(rc, -EBADMSG);
            }
            bytes[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* Found by the fuzzer: two keys claimed, bytes for one left after the hook. */
    static const unsigned char short_keys[] = {
        1,   0,   13,  0,   2,   0,   0,   0,   0, 0, 0, 0, 'l', 'e', 'a', 's', 'e',
        '4', '_', 's', 'e', 'l', 'e', 'c', 't', 1, 2, 3, 4, 5,   6,   7,   8};
    assert_int_equal(rs_event_record_decode(short_keys, sizeof(short_keys), &record), -EBADMSG);
    /* Trailing bytes, a NUL inside a variable, a variable without '=': refused. */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 'x';
    assert_int_equal(rs_event_record_decode(longer, len + 1, &record), -EBADMSG);
    free(longer);
    char *const bad_vars[][2] = {{"NO_EQUALS", NULL}, {"=NO_NAME", NULL}};
    for (size_t i = 0; i < 2; i++) {
        void *bad;
        size_t bad_len;
        encode("h", 0, NULL, 0, bad_vars[i], &bad, &bad_len);
        assert_int_equal(rs_event_record_decode(bad, bad_len, &record), -EBADMSG);
        free(bad);
    }
    void *with_nul;
    size_t with_nul_len;
    char *const one[] = {"A=bc", NULL};
    encode("h", 0, NULL, 0, one, &with_nul, &with_nul_len);
    ((unsigned char *)with_nul)[with_nul_len - 1] = '\0';
    assert_int_equal(rs_event_record_decode(with_nul, with_nul_len, &record), -EBADMSG);
    free(with_nul);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_is_byte_exact),
        cmocka_unit_test(test_no_keys_no_variables),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_limits_of_the_format),
        cmocka_unit_test(test_damage_is_refused_never_misread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
