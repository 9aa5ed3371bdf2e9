#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Debian's libdpdk-dev does not install DPDK's driver-SDK headers, without
# which no PMD compiles. Fetch Debian's source package for exactly the
# installed libdpdk-dev version and extract only those headers into
# build-deps/dpdk-sdk/ (git-ignored). Nothing of DPDK is ever committed.
#
# Usage: fetch-dpdk-sdk.sh [DESTDIR]     (default: <repo>/build-deps/dpdk-sdk)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$top/build-deps/dpdk-sdk}

# Upstream paths, relative to the source tree, of the headers the PMD needs
# (the driver_sdk_headers of lib/eal, lib/ethdev and drivers/bus/vdev).
HEADERS="lib/eal/include/bus_driver.h
lib/eal/include/dev_driver.h
lib/ethdev/ethdev_driver.h
lib/ethdev/ethdev_vdev.h
drivers/bus/vdev/bus_vdev_driver.h"

ver=$(dpkg-query -W -f='${Version}' libdpdk-dev 2>/dev/null || true)
if [ -z "$ver" ]; then
	echo "fetch-dpdk-sdk: libdpdk-dev is not installed; run devtools/install-deps.sh first" >&2
	exit 1
fi

stamp="$dest/.version"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ver" ]; then
	ok=1
	for h in $HEADERS; do
		[ -f "$dest/$(basename "$h")" ] || ok=0
	done
	if [ $ok = 1 ]; then
		echo "fetch-dpdk-sdk: headers for DPDK $ver already in $dest"
		exit 0
	fi
fi

# apt-get source needs a deb-src entry. Debian 12 images ship deb822
# sources with "Types: deb" only; add a matching deb-src file once.
has_src() {
	grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! has_src; then
	if [ "$(id -u)" != 0 ]; then
		echo "fetch-dpdk-sdk: no deb-src entry in APT sources; add one (or run as root) so 'apt-get source dpdk' works" >&2
		exit 1
	fi
	src=/etc/apt/sources.list.d/debian.sources
	out=/etc/apt/sources.list.d/vmbus-srv-deb-src.sources
	if [ -f "$src" ]; then
		sed 's/^Types:.*/Types: deb-src/' "$src" > "$out"
	else
		codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
		cat > "$out" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	fi
	echo "fetch-dpdk-sdk: added deb-src entry $out"
	apt-get update -q
fi

work=$(mktemp -d)
chmod 755 "$work"  # let apt's sandbox user write the download
trap 'rm -rf "$work"' EXIT INT TERM

# Download only (no full unpack, no build-deps): ~16 MB.
(cd "$work" && apt-get source --download-only -q "dpdk=$ver") >&2 || {
	echo "fetch-dpdk-sdk: 'apt-get source dpdk=$ver' failed; check the deb-src entry and network" >&2
	exit 1
}
orig=$(ls "$work"/dpdk_*.orig.tar.* | head -n1)
[ -f "$orig" ] || { echo "fetch-dpdk-sdk: no orig tarball downloaded" >&2; exit 1; }

# The tarball's top directory name varies (dpdk-stable-22.11.x); match by suffix.
list=$(tar -tf "$orig")
mkdir -p "$work/x"
for h in $HEADERS; do
	member=$(printf '%s\n' "$list" | grep -E "^[^/]+/$h\$" | head -n1)
	[ -n "$member" ] || { echo "fetch-dpdk-sdk: $h not found in $orig" >&2; exit 1; }
	tar -xf "$orig" -C "$work/x" "$member"
done

# Debian's patches are applied too, so the headers match the binaries exactly.
deb=$(ls "$work"/dpdk_*.debian.tar.* 2>/dev/null | head -n1 || true)
if [ -n "$deb" ]; then
	tar -xf "$deb" -C "$work"
	if [ -f "$work/debian/patches/series" ]; then
		srcdir=$(ls -d "$work"/x/*/ | head -n1)
		grep -vE '^\s*(#|$)' "$work/debian/patches/series" | while read -r p _; do
			# Only patches touching our headers matter; the rest of the
			# tree is not extracted, so apply those hunks alone.
			for h in $HEADERS; do
				if grep -q "^+++ [^ ]*/$h" "$work/debian/patches/$p"; then
					filterdiff -i "*/$h" "$work/debian/patches/$p" 2>/dev/null |
						patch -s -p1 -d "$srcdir" || {
						echo "fetch-dpdk-sdk: Debian patch $p does not apply to $h" >&2
						exit 1
					}
				fi
			done
		done
	fi
fi

mkdir -p "$dest"
for h in $HEADERS; do
	cp "$work"/x/*/"$h" "$dest/"
done
echo "$ver" > "$stamp"
echo "fetch-dpdk-sdk: extracted $(echo "$HEADERS" | wc -l) driver-SDK headers for DPDK $ver into $dest"
