#!/bin/sh
# The hook script of `make demo` (demo/demo.py runs a copy of it).
#
# Kea runs it at each hook point, with the hook point's name in $1 and the
# DHCP context in KEA_* variables (see "Variables" in README.md). It appends
# one tab-separated line per event to the file named by $DEMO_EVENTS, which
# demo.py passes through the hook's "env" parameter, as a script gets
# nothing else of Kea's environment:
#
#     time  family  hook point  client MAC  address  details
#
# A real script would add a route, open a firewall or log the lease here.

set -u
now=$(date +%H:%M:%S.%3N)
hook=$1
family=${DEMO_FAMILY:-}
mac=
addr=
detail=

# Host names come from clients and may hold any byte: keep them short and printable.
clean() {
    printf '%.40s' "$1" | tr -c '[:alnum:]._-' '?'
}

# " host NAME" when the lease or the query carries a host name.
host() {
    if [ -n "$1" ]; then
        printf '  host %s' "$(clean "$1")"
    fi
}

# "+a +b -c": the leases committed (+) and deleted (-) in one transaction,
# each followed by its state if that is not "default".
# $1 is LEASES4 or LEASES6; the variable names are built from numbers only.
committed() {
    list=
    for kind in "$1:+" "DELETED_$1:-"; do
        prefix=${kind%:*} sign=${kind#*:}
        eval "count=\${KEA_${prefix}_COUNT:-0}"
        i=0
        while [ "$i" -lt "$count" ]; do
            eval "item=\${KEA_${prefix}_AT${i}_DELEGATED_PREFIX:-\${KEA_${prefix}_AT${i}_ADDRESS}}"
            eval "state=\${KEA_${prefix}_AT${i}_STATE}"
            list="$list $sign$item"
            [ "$state" = default ] || list="$list ($state)"
            i=$((i + 1))
        done
    done
    printf '%s' "${list# }"
}

case $hook in
# --- DHCPv4 ------------------------------------------------------------------
pkt4_receive)
    mac=$KEA_QUERY4_HWADDR
    addr=${KEA_QUERY4_REQUESTED_ADDRESS:-}
    [ -z "$addr" ] && [ "$KEA_QUERY4_CIADDR" != 0.0.0.0 ] && addr=$KEA_QUERY4_CIADDR
    detail=$KEA_QUERY4_TYPE
    [ "$KEA_QUERY4_RELAYED" = 1 ] && detail="$detail  relay $KEA_QUERY4_GIADDR"
    detail="$detail$(host "${KEA_QUERY4_HOSTNAME:-}")"
    ;;
pkt4_send)
    mac=$KEA_RESPONSE4_HWADDR
    [ "$KEA_RESPONSE4_YIADDR" != 0.0.0.0 ] && addr=$KEA_RESPONSE4_YIADDR
    detail=$KEA_RESPONSE4_TYPE
    ;;
subnet4_select)
    mac=$KEA_QUERY4_HWADDR
    detail="subnet $KEA_SUBNET4"
    ;;
lease4_select)
    mac=$KEA_LEASE4_HWADDR addr=$KEA_LEASE4_ADDRESS
    if [ "$KEA_FAKE_ALLOCATION" = 1 ]; then detail=offer; else detail=assign; fi
    detail="$detail ${KEA_LEASE4_VALID_LIFETIME}s$(host "$KEA_LEASE4_HOSTNAME")"
    ;;
lease4_renew)
    mac=$KEA_LEASE4_HWADDR addr=$KEA_LEASE4_ADDRESS
    detail="extend ${KEA_LEASE4_VALID_LIFETIME}s$(host "$KEA_LEASE4_HOSTNAME")"
    ;;
lease4_release)
    mac=$KEA_LEASE4_HWADDR addr=$KEA_LEASE4_ADDRESS
    detail="released$(host "$KEA_LEASE4_HOSTNAME")"
    ;;
lease4_decline)
    mac=$KEA_LEASE4_HWADDR addr=$KEA_LEASE4_ADDRESS
    detail="declined (in use), quarantined"
    ;;
lease4_expire)
    mac=$KEA_LEASE4_HWADDR addr=$KEA_LEASE4_ADDRESS
    detail="expired$(host "$KEA_LEASE4_HOSTNAME")"
    # A declined lease has no client any more; its quarantine ends like a lease.
    [ "$KEA_LEASE4_STATE" = declined ] && mac="(quarantined)" detail="quarantine over"
    ;;
lease4_recover)
    mac=${KEA_LEASE4_HWADDR:-(quarantined)} addr=$KEA_LEASE4_ADDRESS
    detail="back in the pool"
    ;;
leases4_committed)
    mac=$KEA_QUERY4_HWADDR
    detail=$(committed LEASES4)
    detail=${detail:-nothing}
    ;;
# --- DHCPv6 ------------------------------------------------------------------
pkt6_receive)
    mac=$KEA_QUERY6_HWADDR
    detail=$KEA_QUERY6_TYPE
    [ "$KEA_QUERY6_RELAY_HOPS" != 0 ] && detail="$detail  relay $KEA_QUERY6_RELAY0_LINK_ADDRESS"
    ;;
pkt6_send)
    mac=$KEA_RESPONSE6_HWADDR
    detail=$KEA_RESPONSE6_TYPE
    ;;
subnet6_select)
    mac=$KEA_QUERY6_HWADDR
    detail="subnet $KEA_SUBNET6"
    ;;
lease6_*)
    mac=${KEA_LEASE6_HWADDR:-${KEA_QUERY6_HWADDR:-$KEA_LEASE6_CLIENT_DUID}}
    addr=${KEA_LEASE6_DELEGATED_PREFIX:-$KEA_LEASE6_ADDRESS}
    case $hook in
    lease6_select)
        if [ "$KEA_FAKE_ALLOCATION" = 1 ]; then detail=offer; else detail=assign; fi
        detail="$detail $KEA_LEASE6_TYPE ${KEA_LEASE6_VALID_LIFETIME}s" ;;
    lease6_renew) detail="extend $KEA_LEASE6_TYPE ${KEA_LEASE6_VALID_LIFETIME}s" ;;
    lease6_rebind) detail="extend $KEA_LEASE6_TYPE ${KEA_LEASE6_VALID_LIFETIME}s" ;;
    lease6_release) detail="$KEA_LEASE6_TYPE released" ;;
    lease6_decline) detail="$KEA_LEASE6_TYPE declined (in use), quarantined" ;;
    lease6_expire) detail="$KEA_LEASE6_TYPE expired" ;;
    lease6_recover) detail="$KEA_LEASE6_TYPE back in the pool" ;;
    esac
    detail="$detail$(host "$KEA_LEASE6_HOSTNAME")"
    if [ "$KEA_LEASE6_STATE" = declined ]; then
        # Kea wipes a declined lease's client (its DUID becomes 00).
        mac="(quarantined)"
        [ "$hook" = lease6_expire ] && detail="$KEA_LEASE6_TYPE quarantine over"
    fi
    ;;
leases6_committed)
    mac=$KEA_QUERY6_HWADDR
    detail=$(committed LEASES6)
    detail=${detail:-nothing}
    ;;
# --- the library's life --------------------------------------------------------
load) detail="the library is loaded" ;;
unload) detail="the library is unloaded" ;;
esac

printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$now" "$family" "$hook" "$mac" "$addr" "$detail" >>"$DEMO_EVENTS"
