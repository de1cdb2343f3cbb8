#!/bin/sh
# kea-hook-runscript example: register leases in DNS with nsupdate (RFC 2136 dynamic updates).
#
# When a client that gave a hostname gets a lease, <hostname>.<DNS_ZONE> gets an A (DHCPv4) or
# AAAA (DHCPv6 address) record and the address a PTR record; when the lease is released, declined
# or expires, both go. Which name to remove is asked from the DNS server itself (the address's
# PTR record), since a lease that ends often no longer carries the hostname. The last client to
# take a name gets it (there is no DHCID conflict resolution as in Kea's own kea-dhcp-ddns).
#
# Hook points: lease4_select, lease4_renew, lease4_release, lease4_decline, lease4_expire,
# lease6_select, lease6_renew, lease6_rebind, lease6_release, lease6_decline, lease6_expire.
# Settings, in the hook's "env":
#   DNS_ZONE    the forward zone, e.g. example.org (required)
#   DNS_SERVER  the primary server to update (default 127.0.0.1)
#   DNS_KEY     a TSIG key file for nsupdate -k, as written by `tsig-keygen` (default none)
#   DNS_TTL     TTL of the records (default 300)
# nsupdate and dig come from Debian's bind9-dnsutils. The reverse zone is found by nsupdate
# (it asks the server for the SOA of the PTR name).
set -u

zone=${DNS_ZONE:?set DNS_ZONE in the env of the hook}
zone=${zone%.}
server=${DNS_SERVER:-127.0.0.1}
ttl=${DNS_TTL:-300}

case "${1:-}" in
lease4_*)
    address=${KEA_LEASE4_ADDRESS:-}
    client_name=${KEA_LEASE4_HOSTNAME:-}
    rrtype=A
    ;;
lease6_*)
    [ "${KEA_LEASE6_TYPE:-}" = IA_NA ] || exit 0 # a delegated prefix has no name
    address=${KEA_LEASE6_ADDRESS:-}
    client_name=${KEA_LEASE6_HOSTNAME:-}
    rrtype=AAAA
    ;;
*)
    exit 0
    ;;
esac
[ -n "$address" ] || exit 0

# The PTR owner name of the address: 10.2.0.192.in-addr.arpa, or the 32 nibbles of an IPv6
# address reversed under ip6.arpa.
reverse_name() {
    case "$1" in
    *:*)
        awk -v a="$1" 'BEGIN {
            n = split(a, half, "::")
            left = half[1] == "" ? 0 : split(half[1], l, ":")
            right = (n < 2 || half[2] == "") ? 0 : split(half[2], r, ":")
            hex = ""
            for (i = 1; i <= left; i++) hex = hex sprintf("%4s", l[i])
            for (i = left + right; i < 8; i++) hex = hex "0000"
            for (i = 1; i <= right; i++) hex = hex sprintf("%4s", r[i])
            gsub(/ /, "0", hex)
            out = ""
            for (i = 32; i >= 1; i--) out = out tolower(substr(hex, i, 1)) "."
            print out "ip6.arpa"
        }'
        ;;
    *)
        echo "$1" | awk -F. '{ print $4 "." $3 "." $2 "." $1 ".in-addr.arpa" }'
        ;;
    esac
}

# A client's hostname is client input: keep the first label, as a valid DNS label, or nothing.
label() {
    first=${1%%.*}
    # DNS labels are ASCII: no locale's idea of letters.
    # shellcheck disable=SC2018,SC2019
    printf '%s' "$first" | LC_ALL=C tr 'A-Z' 'a-z' | LC_ALL=C tr -cd 'a-z0-9-' |
        sed -e 's/^-*//' -e 's/-*$//' | cut -c1-63
}

nsupdate_() {
    if [ -n "${DNS_KEY:-}" ]; then
        nsupdate -k "$DNS_KEY" -t 5
    else
        nsupdate -t 5
    fi
}

reverse=$(reverse_name "$address")

register() {
    name=$(label "$client_name")
    if [ -z "$name" ]; then
        return 0 # no usable name: nothing to register (a renewal keeps what is there)
    fi
    fqdn="$name.$zone."
    # Forward and reverse are separate zones: two updates, each sent on its own.
    nsupdate_ <<EOF
server $server
update delete $fqdn $rrtype
update add $fqdn $ttl $rrtype $address
send
update delete $reverse PTR
update add $reverse $ttl PTR $fqdn
send
EOF
}

unregister() {
    names=$(dig +short +time=2 +tries=2 @"$server" -x "$address" PTR) || return 1
    [ -n "$names" ] || return 0 # nothing registered for this address
    {
        echo "server $server"
        for fqdn in $names; do
            echo "update delete $fqdn $rrtype $address"
        done
        echo "send"
        echo "update delete $reverse PTR"
        echo "send"
    } | nsupdate_
}

case "$1" in
lease4_select | lease6_select)
    [ "${KEA_FAKE_ALLOCATION:-1}" = 0 ] || exit 0 # a DISCOVER / SOLICIT: nothing allocated
    register
    ;;
lease4_renew)
    [ "${KEA_QUERY4_TYPE:-}" = DHCPREQUEST ] || exit 0 # Kea 2.2 also calls it for a DISCOVER
    register
    ;;
lease6_renew | lease6_rebind)
    register
    ;;
lease4_release | lease4_decline | lease4_expire | lease6_release | lease6_decline | lease6_expire)
    unregister
    ;;
esac
