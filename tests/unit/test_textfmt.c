#include "textfmt.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* out[0..len) as a C string, for comparing. */
static const char *terminated(char *out, size_t len)
{
    out[len] = '\0';
    return out;
}

static void test_numbers_match_printf(void **state)
{
    (void)state;
    const unsigned long long unsigned_cases[] = {0,         1, 9, 10, 255, 65535, 4294967295ULL,
                                                 ULLONG_MAX};
    const long long signed_cases[] = {0, 1, -1, 42, -42, LLONG_MAX, LLONG_MIN};
    char out[RS_FMT_UNSIGNED_MAX + 2], expected[32];
    for (size_t i = 0; i < sizeof(unsigned_cases) / sizeof(*unsigned_cases); i++) {
        snprintf(expected, sizeof(expected), "%llu", unsigned_cases[i]);
        assert_string_equal(terminated(out, rs_fmt_unsigned(out, unsigned_cases[i])), expected);
    }
    for (size_t i = 0; i < sizeof(signed_cases) / sizeof(*signed_cases); i++) {
        snprintf(expected, sizeof(expected), "%lld", signed_cases[i]);
        assert_string_equal(terminated(out, rs_fmt_signed(out, signed_cases[i])), expected);
    }
}

static void test_ipv4_matches_inet_ntop(void **state)
{
    (void)state;
    const uint32_t cases[] = {0, 0xffffffffu, 0xc0000201u, 0x0a000001u, 0x7f000001u, 0x01020304u};
    char out[RS_FMT_IPV4_MAX + 1], expected[INET_ADDRSTRLEN];
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct in_addr in = {htonl(cases[i])};
        inet_ntop(AF_INET, &in, expected, sizeof(expected));
        assert_string_equal(terminated(out, rs_fmt_ipv4(out, cases[i])), expected);
    }
}

static void test_ipv6_is_rfc5952(void **state)
{
    (void)state;
    unsigned char bytes[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    char out[RS_FMT_IPV6_MAX + 1];
    assert_string_equal(terminated(out, rs_fmt_ipv6(out, bytes)), "2001:db8::1");
    memset(bytes, 0, sizeof(bytes));
    assert_string_equal(terminated(out, rs_fmt_ipv6(out, bytes)), "::");
    memset(bytes, 0xff, sizeof(bytes));
    assert_string_equal(terminated(out, rs_fmt_ipv6(out, bytes)),
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void test_colon_hex(void **state)
{
    (void)state;
    const unsigned char mac[] = {0x00, 0x0a, 0xbc, 0xff, 0x10, 0x01};
    char out[3 * sizeof(mac) + 1];
    assert_string_equal(terminated(out, rs_fmt_colon_hex(out, mac, sizeof(mac))),
                        "00:0a:bc:ff:10:01");
    assert_int_equal(rs_fmt_colon_hex(out, mac, 0), 0);
    assert_string_equal(terminated(out, rs_fmt_colon_hex(out, mac + 3, 1)), "ff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_match_printf),
        cmocka_unit_test(test_ipv4_matches_inet_ntop),
        cmocka_unit_test(test_ipv6_is_rfc5952),
        cmocka_unit_test(test_colon_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
