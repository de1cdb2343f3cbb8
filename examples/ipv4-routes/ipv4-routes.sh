#!/bin/sh
# kea-hook-runscript example: one /32 route per DHCPv4 lease.
#
# A client that takes a lease gets a host route `<address>/32 dev <interface>` on the server, and
# loses it when the lease is released, declined or expires. With option 121 telling the clients
# that the server is their gateway, addresses can be handed out one by one (the "/32 design"),
# outside any subnet configured on the server's interface; a routing daemon (BIRD, FRR) can pick
# the routes up (`proto static` by default) and announce them.
#
# Hook points: lease4_select, lease4_renew, lease4_release, lease4_decline, lease4_expire, and
# lease4_replay with "replay": true (routes are gone after a reboot, the leases are not).
# Settings, in the hook's "env": ROUTE_PROTO (default static), ROUTE_DEVICE (the interface for
# replayed leases, which come with no query and so no interface).
#
# Needs CAP_NET_ADMIN: see docs/faq.md ("Operation not permitted"); or set SUDO to "sudo -n"
# in the hook's env, with the sudoers rule given there.
set -u

# Empty, or "sudo -n": how the commands that change the system are run.
sudo=${SUDO:-}

proto=${ROUTE_PROTO:-static}
address=${KEA_LEASE4_ADDRESS:-}
[ -n "$address" ] || exit 0

add_route() {
    device=${KEA_QUERY4_INTERFACE:-${ROUTE_DEVICE:-}}
    if [ -z "$device" ]; then
        echo "no interface for $address: set ROUTE_DEVICE in the hook's env" >&2
        return 1
    fi
    # replace, not add: a renewal (or a replay) finds the route already there.
    # shellcheck disable=SC2086 # $sudo is zero, or two, words
    $sudo ip -4 route replace "$address/32" dev "$device" proto "$proto"
}

delete_route() {
    # A release may follow an expiry, or a decline a release: gone already is fine.
    if [ -n "$(ip -4 route show "$address/32" proto "$proto")" ]; then
        # shellcheck disable=SC2086 # $sudo is zero, or two, words
        $sudo ip -4 route delete "$address/32" proto "$proto"
    fi
}

case "${1:-}" in
lease4_select)
    # On a DISCOVER (fake allocation) nothing is allocated yet.
    [ "${KEA_FAKE_ALLOCATION:-1}" = 0 ] || exit 0
    add_route
    ;;
lease4_renew)
    # Kea 2.2 also calls lease4_renew for a DISCOVER from a client that has a lease.
    [ "${KEA_QUERY4_TYPE:-}" = DHCPREQUEST ] || exit 0
    add_route
    ;;
lease4_replay)
    add_route
    ;;
lease4_release | lease4_decline | lease4_expire)
    delete_route
    ;;
esac
