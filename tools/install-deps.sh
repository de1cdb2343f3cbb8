#!/bin/sh
# Installs, from the host's Debian archive (Debian 12 or 13, or forky), what building, testing
# and the demo need. Idempotent.
set -eu
packages="build-essential kea-dev libboost-dev kea-dhcp4-server kea-dhcp6-server
kea-admin kea-ctrl-agent python3-scapy python3-pytest libcmocka-dev valgrind clang-format
clang libclang-rt-dev
iproute2 procps
nftables bind9 bind9-dnsutils iputils-ping shellcheck dpkg-dev man-db groff-base
mmdebstrap apparmor"
# ISC's dhclient is gone after Debian 13: the lab then uses dhcpcd. Kea 3.0's headers include
# OpenSSL's, which its kea-dev does not pull in.
case "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" in
bookworm | trixie) packages="$packages isc-dhcp-client" ;;
*) packages="$packages dhcpcd-base libssl-dev libpcap-dev" ;;
esac
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages:$missing" >&2
    echo "run as root, or: apt-get install$missing" >&2
    exit 1
fi
echo "installing:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
# The DNS example's test runs its own named in a namespace, and the control tests their own
# kea-ctrl-agent: they need the programs, not the system-wide services that installing bind9 and
# kea-ctrl-agent start on a host with systemd (the agent on port 8000, for the host's Kea).
command -v systemctl >/dev/null 2>&1 || exit 0
case " $missing " in *" bind9 "*) systemctl disable --now named >/dev/null 2>&1 || true ;; esac
case " $missing " in *" kea-ctrl-agent "*) systemctl disable --now kea-ctrl-agent >/dev/null 2>&1 || true ;; esac
