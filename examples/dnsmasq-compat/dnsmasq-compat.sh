#!/bin/sh
# kea-hook-runscript example: run a dnsmasq --dhcp-script, unchanged, from Kea.
#
# dnsmasq calls its script as `script add|old|del MAC-or-DUID ADDRESS [HOSTNAME]` with DNSMASQ_*
# variables; this adapter turns Kea's hook points and KEA_* variables into exactly that and runs
# the script named by DNSMASQ_SCRIPT:
#   add  a new lease                     lease4_select / lease6_select (KEA_FAKE_ALLOCATION=0)
#   old  a lease renewed, or known at    lease4_renew (DHCPREQUEST), lease6_renew, lease6_rebind,
#        start-up (DNSMASQ_DATA_MISSING)  lease4_replay / lease6_replay ("replay": true)
#   del  a lease that ended              lease4_release, lease4_decline, lease4_expire, and v6
# dnsmasq calls "old" on a renewal only with --script-on-renewal; list or leave out lease4_renew
# to match. Delegated prefixes (IA_PD) are not passed: dnsmasq has no such leases.
#
# Settings, in the hook's "env": DNSMASQ_SCRIPT (the script, required).
set -u

script=${DNSMASQ_SCRIPT:?set DNSMASQ_SCRIPT in the env of the hook}

# Kea's 0x-hex of a relay identifier as the raw bytes dnsmasq passes (cut at a NUL, as there).
unhex() {
    printf '%b' "$(printf '%s' "${1#0x}" | awk '{
        digits = "0123456789ABCDEF"
        for (i = 1; i < length($0); i += 2) {
            n = (index(digits, toupper(substr($0, i, 1))) - 1) * 16 + index(digits, toupper(substr($0, i + 1, 1))) - 1
            if (n <= 0) break
            printf "\\0%03o", n
        }
    }')"
}

set_if() { # NAME VALUE: export NAME=VALUE unless VALUE is empty
    if [ -n "$2" ]; then
        export "$1=$2"
    fi
}

case "${1:-}" in
lease4_select | lease6_select)
    [ "${KEA_FAKE_ALLOCATION:-1}" = 0 ] || exit 0 # a DISCOVER / SOLICIT: nothing allocated
    action=add
    ;;
lease4_renew)
    [ "${KEA_QUERY4_TYPE:-}" = DHCPREQUEST ] || exit 0 # Kea 2.2 also calls it for a DISCOVER
    action=old
    ;;
lease6_renew | lease6_rebind)
    action=old
    ;;
lease4_replay | lease6_replay)
    action=old
    export DNSMASQ_DATA_MISSING=1
    ;;
lease4_release | lease4_decline | lease4_expire | lease6_release | lease6_decline | lease6_expire)
    action=del
    ;;
*)
    exit 0
    ;;
esac

case "$1" in
lease4_*)
    id=${KEA_LEASE4_HWADDR:-}
    address=$KEA_LEASE4_ADDRESS
    hostname=${KEA_LEASE4_HOSTNAME:-}
    expires=$((${KEA_LEASE4_CLIENT_LAST_TRANSMISSION:-0} + ${KEA_LEASE4_VALID_LIFETIME:-0}))
    set_if DNSMASQ_CLIENT_ID "${KEA_LEASE4_CLIENT_ID:-}"
    set_if DNSMASQ_INTERFACE "${KEA_QUERY4_INTERFACE:-}"
    set_if DNSMASQ_SUPPLIED_HOSTNAME "${KEA_QUERY4_HOSTNAME:-}"
    set_if DNSMASQ_VENDOR_CLASS "${KEA_QUERY4_OPTION60:-}"
    if [ "${KEA_QUERY4_RELAYED:-0}" = 1 ]; then
        set_if DNSMASQ_RELAY_ADDRESS "${KEA_QUERY4_GIADDR:-}"
    fi
    set_if DNSMASQ_CIRCUIT_ID "$(unhex "${KEA_QUERY4_RAI_CIRCUIT_ID:-}")"
    set_if DNSMASQ_REMOTE_ID "$(unhex "${KEA_QUERY4_RAI_REMOTE_ID:-}")"
    set_if DNSMASQ_SUBSCRIBER_ID "$(unhex "${KEA_QUERY4_RAI_SUBSCRIBER_ID:-}")"
    ;;
lease6_*)
    [ "${KEA_LEASE6_TYPE:-}" != IA_PD ] || exit 0
    id=${KEA_LEASE6_CLIENT_DUID:-}
    address=$KEA_LEASE6_ADDRESS
    hostname=${KEA_LEASE6_HOSTNAME:-}
    hostname=${hostname%.}
    expires=$((${KEA_LEASE6_CLIENT_LAST_TRANSMISSION:-0} + ${KEA_LEASE6_VALID_LIFETIME:-0}))
    set_if DNSMASQ_IAID "${KEA_LEASE6_IAID:-}"
    set_if DNSMASQ_MAC "${KEA_LEASE6_HWADDR:-}"
    set_if DNSMASQ_INTERFACE "${KEA_QUERY6_INTERFACE:-}"
    if [ "${KEA_QUERY6_RELAY_HOPS:-0}" -gt 0 ]; then
        set_if DNSMASQ_RELAY_ADDRESS "${KEA_QUERY6_RELAY0_PEER_ADDRESS:-}"
    fi
    ;;
esac
export DNSMASQ_LEASE_EXPIRES="$expires"
export DNSMASQ_TIME_REMAINING="$((expires > $(date +%s) ? expires - $(date +%s) : 0))"

# dnsmasq passes the hostname only when it knows one.
if [ -n "$hostname" ]; then
    exec "$script" "$action" "$id" "$address" "$hostname"
fi
exec "$script" "$action" "$id" "$address"
