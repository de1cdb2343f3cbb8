#!/bin/sh
# kea-hook-runscript example: keep an nftables set of the clients that hold a lease.
#
# The address of every lease Kea grants or renews goes into @admitted4 (IPv4) or @admitted6
# (IPv6 addresses and delegated prefixes) of the table in kea.nft; a release, decline or expiry
# takes it out. Firewall rules then admit exactly the clients that have a lease.
#
# Hook points: lease4_select, lease4_renew, lease4_release, lease4_decline, lease4_expire,
# lease6_select, lease6_renew, lease6_rebind, lease6_release, lease6_decline, lease6_expire, and
# lease4_replay / lease6_replay with "replay": true (the sets are empty after a reboot or an
# `nft -f`). Settings, in the hook's "env": NFT_TABLE (default "inet kea").
#
# Needs CAP_NET_ADMIN: see docs/faq.md ("Operation not permitted"); or set SUDO to "sudo -n"
# in the hook's env, with the sudoers rule given there.
set -u

# Empty, or "sudo -n": how the commands that change the system are run.
sudo=${SUDO:-}

table=${NFT_TABLE:-inet kea}

# The set and the element of this event, or nothing to do.
case "${1:-}" in
lease4_*)
    set=admitted4
    element=${KEA_LEASE4_ADDRESS:-}
    ;;
lease6_*)
    set=admitted6
    element=${KEA_LEASE6_DELEGATED_PREFIX:-${KEA_LEASE6_ADDRESS:-}}
    ;;
*)
    exit 0
    ;;
esac
[ -n "$element" ] || exit 0

admit() {
    # `add` (unlike `create`) accepts an element that is already there.
    # shellcheck disable=SC2086 # $sudo is zero or two words, $table two ("inet kea")
    $sudo nft add element $table "$set" "{ $element }"
}

expel() {
    # Absent already is fine (a release after an expiry, a set reloaded since).
    # shellcheck disable=SC2086 # $sudo is zero or two words, $table two
    if $sudo nft get element $table "$set" "{ $element }" >/dev/null 2>&1; then
        # shellcheck disable=SC2086 # $sudo is zero or two words, $table two
        $sudo nft delete element $table "$set" "{ $element }"
    fi
}

case "$1" in
lease4_select | lease6_select)
    # On a DISCOVER / SOLICIT (fake allocation) nothing is allocated yet.
    [ "${KEA_FAKE_ALLOCATION:-1}" = 0 ] || exit 0
    admit
    ;;
lease4_renew)
    # Kea 2.2 also calls lease4_renew for a DISCOVER from a client that has a lease.
    [ "${KEA_QUERY4_TYPE:-}" = DHCPREQUEST ] || exit 0
    admit
    ;;
lease6_renew | lease6_rebind | lease4_replay | lease6_replay)
    admit
    ;;
lease4_release | lease4_decline | lease4_expire | lease6_release | lease6_decline | lease6_expire)
    expel
    ;;
esac
