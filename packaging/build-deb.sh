#!/bin/sh
# Builds the Debian package of kea-hook-runscript from the tree, with dpkg-deb (no debian/ dir,
# no root needed). Called by `make deb`, which builds the library first.
#
#   sh packaging/build-deb.sh [-l LIBRARY] [-o OUTDIR]
#
#   -l  the built library (default build/kea-hook-runscript.so)
#   -o  where the .deb goes (default build); its path is printed on the last line
#
# Environment: DEB_VERSION (default: packaging/VERSION, Debian revision 1, +kea<release>),
# DEB_MAINTAINER,
# KEA_INCLUDE (default /usr/include/kea: the Kea headers the library was built against).
#
# The package installs the library into Kea's hooks directory, kea-runscript-spool and
# kea-runscript-status into /usr/sbin, an AppArmor abstraction (off until included), the
# examples under /usr/share/doc/kea-hook-runscript/examples, the docs and the man page. A hook
# library must match Kea's release exactly, so Depends pins the Kea upstream release it was
# built against: kea-common (>= 2.2.0), kea-common (<< 2.2.1~), any Debian revision of 2.2.0.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
library=$top/build/kea-hook-runscript.so
outdir=$top/build
while getopts l:o: opt; do
    case $opt in
    l) library=$OPTARG ;;
    o) outdir=$OPTARG ;;
    *)
        echo "usage: $0 [-l LIBRARY] [-o OUTDIR]" >&2
        exit 2
        ;;
    esac
done

die() {
    echo "build-deb: $*" >&2
    exit 1
}

[ -f "$library" ] || die "$library not found: run make first"
# The operator's tools (spools and dead letters; each script's status), built beside the library.
spool_tool=$(dirname "$library")/kea-runscript-spool
status_tool=$(dirname "$library")/kea-runscript-status
for tool in "$spool_tool" "$status_tool"; do
    [ -f "$tool" ] || die "$tool not found: run make first"
done
for tool in dpkg-deb dpkg-architecture dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || die "$tool not found (apt install dpkg-dev)"
done

# The Kea release the library was built against: its headers say.
kea_include=${KEA_INCLUDE:-/usr/include/kea}
kea=$(sed -n 's/^#define VERSION "\([0-9.]*\)".*/\1/p' "$kea_include/config.h" 2>/dev/null || true)
[ -n "$kea" ] || die "cannot read Kea's version from $kea_include/config.h (apt install kea-dev)"
kea_next=$(echo "$kea" | awk -F. -v OFS=. '{ $NF = $NF + 1; print }')

package="kea-hook-runscript"
# One package per Kea release: the release is part of the version, so packages built for
# different releases do not overwrite each other in a repository.
version=${DEB_VERSION:-$(cat "$here/VERSION")-1+kea$kea}
maintainer=${DEB_MAINTAINER:-kea-hook-runscript developers <kea-hook-runscript@localhost>}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
hooksdir=usr/lib/$multiarch/kea/hooks

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
doc=$root/usr/share/doc/$package

install -d "$root/$hooksdir" "$doc/examples" "$root/usr/share/man/man7" "$root/usr/sbin" "$root/DEBIAN"
install -m 0644 "$library" "$root/$hooksdir/kea-hook-runscript.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/$hooksdir/kea-hook-runscript.so"
for tool in "$spool_tool" "$status_tool"; do
    install -m 0755 "$tool" "$root/usr/sbin/$(basename "$tool")"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/sbin/$(basename "$tool")"
done

# Examples as they are in the tree: scripts stay executable, nothing is compressed, so that
# `install -m 0755 /usr/share/doc/kea-hook-runscript/examples/.../x.sh /etc/kea/` just works.
(cd "$top/examples" && find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*') | sort |
    while read -r file; do
        mode=0644
        [ -x "$top/examples/$file" ] && mode=0755
        install -D -m "$mode" "$top/examples/$file" "$doc/examples/$file"
    done
install -m 0644 "$top/README.md" "$top/docs/faq.md" "$top/docs/migration.md" "$doc/"
# Off until the site includes it from /etc/apparmor.d/local/ (see the file and the FAQ).
install -D -m 0644 "$here/apparmor/kea-hook-runscript" "$root/etc/apparmor.d/abstractions/kea-hook-runscript"
gzip -9n -c "$top/man/kea-hook-runscript.7" >"$root/usr/share/man/man7/kea-hook-runscript.7.gz"
chmod 0644 "$root/usr/share/man/man7/kea-hook-runscript.7.gz"

cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kea-hook-runscript

Files: *
Copyright: the kea-hook-runscript authors
License: MPL-2.0
 On Debian systems, the full text of the Mozilla Public License 2.0 is in
 /usr/share/common-licenses/MPL-2.0.
EOF
changelog_date=$(date -R ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"})
printf '%s (%s) unstable; urgency=medium\n\n  * Built from the source tree for Kea %s.\n\n -- %s  %s\n' \
    "$package" "$version" "$kea" "$maintainer" "$changelog_date" |
    gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/copyright" "$doc/changelog.Debian.gz"

# Shared-library dependencies as dpkg-shlibdeps finds them (kea-common's shlibs give
# "kea-common (>= 2.2.0)" on Debian 12, "(= 2.6.3-1+deb13u1)" on 13), made the range of the
# upstream release: any Debian revision of it has the same hook API.
mkdir -p "$stage/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$package" "$package" >"$stage/debian/control"
shlibs=$(cd "$stage" && dpkg-shlibdeps -O "-e$root/$hooksdir/kea-hook-runscript.so" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"
depends=$(echo "$shlibs" | sed "s/kea-common ([^)]*)/kea-common (>= $kea), kea-common (<< $kea_next~)/")
case "$depends" in
*"kea-common (<<"*) ;;
*) depends="$depends, kea-common (>= $kea), kea-common (<< $kea_next~)" ;;
esac

installed_size=$(du -k -s "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $package
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Suggests: iproute2, nftables, bind9-dnsutils, python3
Enhances: kea-dhcp4-server, kea-dhcp6-server
Section: net
Priority: optional
Description: Kea DHCP hook library running scripts at hook points
 A hook library for the Kea DHCPv4 and DHCPv6 servers that runs a program at
 Kea's hook points (lease granted, renewed, released, expired, packet received
 or sent, ...) with the DHCP context (MAC address, leased address, subnet,
 relay agent data) in KEA_* environment variables: routes, firewall sets,
 lease logs or DNS updates with a few lines of shell.
 .
 A drop-in replacement for the original kea-hook-runscript, and for ISC's
 libdhcp_run_script ("variables": "isc"). Built for Kea $kea: Kea loads only
 hook libraries built for its exact release.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print | sed 's|^\./||' | sort |
    xargs md5sum) >"$root/DEBIAN/md5sums"
echo /etc/apparmor.d/abstractions/kea-hook-runscript >"$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles"

mkdir -p "$outdir"
deb=$outdir/${package}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
