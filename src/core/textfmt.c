#include "textfmt.h"

#include <arpa/inet.h>
#include <string.h>

size_t rs_fmt_unsigned(char *out, unsigned long long value)
{
    char digits[RS_FMT_UNSIGNED_MAX];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

size_t rs_fmt_signed(char *out, long long value)
{
    if (value >= 0)
        return rs_fmt_unsigned(out, (unsigned long long)value);
    out[0] = '-';
    /* Negated in unsigned arithmetic: -LLONG_MIN does not fit a long long. */
    return 1 + rs_fmt_unsigned(out + 1, 0ULL - (unsigned long long)value);
}

size_t rs_fmt_ipv4(char *out, uint32_t address)
{
    size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        n += rs_fmt_unsigned(out + n, (address >> shift) & 0xff);
        if (shift)
            out[n++] = '.';
    }
    return n;
}

size_t rs_fmt_ipv6(char *out, const unsigned char bytes[16])
{
    char text[RS_FMT_IPV6_MAX + 1];
    if (!inet_ntop(AF_INET6, bytes, text, sizeof(text)))
        return 0; /* cannot happen with this buffer size */
    size_t len = strlen(text);
    memcpy(out, text, len);
    return len;
}

size_t rs_fmt_colon_hex(char *out, const unsigned char *bytes, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (i)
            out[n++] = ':';
        out[n++] = digits[bytes[i] >> 4];
        out[n++] = digits[bytes[i] & 15];
    }
    return n;
}
