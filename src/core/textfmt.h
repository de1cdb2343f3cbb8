/*
 * textfmt: values as scripts see them, written into a caller's buffer.
 *
 * The Kea adapter turns every address, MAC and number of an event into text inside a callout,
 * on Kea's packet thread, for each DHCP exchange. Kea's own toText() methods build a
 * std::string (and often an ostringstream) per value; these write in place, without a
 * memory allocation. Each returns the length written; the text is not NUL-terminated.
 */
#ifndef RS_TEXTFMT_H
#define RS_TEXTFMT_H

#include <stddef.h>
#include <stdint.h>

/* Buffer sizes that always suffice. */
#define RS_FMT_IPV4_MAX     15 /* 255.255.255.255 */
#define RS_FMT_IPV6_MAX     45 /* INET6_ADDRSTRLEN - 1 */
#define RS_FMT_UNSIGNED_MAX 20
#define RS_FMT_SIGNED_MAX   20

/* "192.0.2.1" from an address in host byte order, as Kea's IOAddress::toUint32() gives it. */
size_t rs_fmt_ipv4(char *out, uint32_t address);

/* RFC 5952 text of 16 network-order bytes, as inet_ntop() writes it. */
size_t rs_fmt_ipv6(char *out, const unsigned char bytes[16]);

/* "0a:1b:ff", lowercase, as Kea prints MACs, DUIDs and client ids; `out` holds 3 * len bytes. */
size_t rs_fmt_colon_hex(char *out, const unsigned char *bytes, size_t len);

size_t rs_fmt_unsigned(char *out, unsigned long long value);
size_t rs_fmt_signed(char *out, long long value);

#endif
