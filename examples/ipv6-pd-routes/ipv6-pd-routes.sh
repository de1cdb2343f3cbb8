#!/bin/sh
# kea-hook-runscript example: a route for every prefix delegated with DHCPv6-PD.
#
# A requesting router that gets a prefix (IA_PD) is the next hop for it: the server (or the
# router it runs on) gets `<prefix>/<len> via <client's address> dev <interface>`, and loses it
# when the prefix is released or expires. The next hop is the address the query came from
# (KEA_QUERY6_REMOTE_ADDRESS): the client's link-local address, or the relay's address when the
# client sits behind a relay, which is then the right next hop too.
#
# Hook points: lease6_select, lease6_renew, lease6_rebind, lease6_release, lease6_decline,
# lease6_expire. Addresses (IA_NA) are left alone. Settings, in the hook's "env": ROUTE_PROTO
# (default static).
#
# Needs CAP_NET_ADMIN: see docs/faq.md ("Operation not permitted"); or set SUDO to "sudo -n"
# in the hook's env, with the sudoers rule given there.
set -u

# Empty, or "sudo -n": how the commands that change the system are run.
sudo=${SUDO:-}

proto=${ROUTE_PROTO:-static}
[ "${KEA_LEASE6_TYPE:-}" = IA_PD ] || exit 0
prefix=${KEA_LEASE6_DELEGATED_PREFIX:-}
[ -n "$prefix" ] || exit 0

add_route() {
    # replace, not add: a renewal finds the route there, maybe via a new next hop.
    # shellcheck disable=SC2086 # $sudo is zero, or two, words
    $sudo ip -6 route replace "$prefix" via "$KEA_QUERY6_REMOTE_ADDRESS" dev "$KEA_QUERY6_INTERFACE" \
        proto "$proto"
}

delete_route() {
    # Gone already is fine: a release may follow a route flush or a reboot.
    if [ -n "$(ip -6 route show "$prefix" proto "$proto")" ]; then
        # shellcheck disable=SC2086 # $sudo is zero, or two, words
        $sudo ip -6 route delete "$prefix" proto "$proto"
    fi
}

case "${1:-}" in
lease6_select)
    # On a SOLICIT (fake allocation) nothing is delegated yet.
    [ "${KEA_FAKE_ALLOCATION:-1}" = 0 ] || exit 0
    add_route
    ;;
lease6_renew | lease6_rebind)
    add_route
    ;;
lease6_release | lease6_decline | lease6_expire)
    delete_route
    ;;
esac
