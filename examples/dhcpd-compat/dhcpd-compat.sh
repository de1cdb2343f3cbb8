#!/bin/sh
# kea-hook-runscript example: keep the program ISC dhcpd's dhcpd.conf ran with
#
#     on commit { execute("/usr/local/sbin/dhcp-event", "commit", ip, mac, hostname, lease-time); }
#     on release { execute("/usr/local/sbin/dhcp-event", "release", ip, mac, hostname, "0"); }
#     on expiry { execute("/usr/local/sbin/dhcp-event", "expiry", ip, mac, hostname, "0"); }
#
# (ip, mac, hostname set with binary-to-ascii and friends, see docs/migration.md) and call it
# with the same arguments from Kea's hook points:
#   commit   lease4_select (KEA_FAKE_ALLOCATION=0), lease4_renew (DHCPREQUEST);
#            lease6_select (KEA_FAKE_ALLOCATION=0), lease6_renew, lease6_rebind
#   release  lease4_release, lease6_release
#   expiry   lease4_expire, lease6_expire
# For DHCPv6 the "ip" is the address or the delegated prefix (prefix/length), the "mac" the DUID.
# dhcpd has no decline event; add lease4_decline to "hooks" and a case below if you want one.
#
# Settings, in the hook's "env": DHCPD_PROGRAM (the program, required).
set -u

program=${DHCPD_PROGRAM:?set DHCPD_PROGRAM in the env of the hook}

case "${1:-}" in
lease4_select | lease6_select)
    [ "${KEA_FAKE_ALLOCATION:-1}" = 0 ] || exit 0 # a DISCOVER / SOLICIT: nothing allocated
    event=commit
    ;;
lease4_renew)
    [ "${KEA_QUERY4_TYPE:-}" = DHCPREQUEST ] || exit 0 # Kea 2.2 also calls it for a DISCOVER
    event=commit
    ;;
lease6_renew | lease6_rebind)
    event=commit
    ;;
lease4_release | lease6_release)
    event=release
    ;;
lease4_expire | lease6_expire)
    # From Kea 2.3.2 on, a released lease is kept with a lifetime of 0 ("released" from Kea 3.0)
    # and expires later; dhcpd reported only its release.
    case "${KEA_LEASE4_STATE:-}${KEA_LEASE6_STATE:-}:${KEA_LEASE4_VALID_LIFETIME:-}${KEA_LEASE6_VALID_LIFETIME:-}" in
    released:* | *:0) exit 0 ;;
    esac
    event=expiry
    ;;
*)
    exit 0
    ;;
esac

case "$1" in
lease4_*)
    ip=$KEA_LEASE4_ADDRESS
    mac=${KEA_LEASE4_HWADDR:-}
    hostname=${KEA_LEASE4_HOSTNAME:-}
    lifetime=${KEA_LEASE4_VALID_LIFETIME:-0}
    ;;
lease6_*)
    ip=${KEA_LEASE6_DELEGATED_PREFIX:-$KEA_LEASE6_ADDRESS}
    mac=${KEA_LEASE6_CLIENT_DUID:-}
    hostname=${KEA_LEASE6_HOSTNAME:-}
    lifetime=${KEA_LEASE6_VALID_LIFETIME:-0}
    ;;
esac
[ "$event" = commit ] || lifetime=0

exec "$program" "$event" "$ip" "$mac" "$hostname" "$lifetime"
