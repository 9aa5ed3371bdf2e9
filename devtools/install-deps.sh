#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Install everything vmbus-srv builds, tests and runs with, from Debian's
# packages only. Idempotent and non-interactive: a second run on a machine
# that already has every package does not touch the network.
set -eu

PKGS="dpdk dpdk-dev libdpdk-dev meson ninja-build pkg-config gcc clang
libcunit1-dev libhugetlbfs-dev libhugetlbfs-bin dpkg-dev xz-utils
python3 iproute2 iputils-ping util-linux patchutils"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	     grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing; run this script as root" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
