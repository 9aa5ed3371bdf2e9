#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# net_vmbus_srv vs net_vhost in stock dpdk-testpmd (docs/benchmarks.md):
# makes sure hugepages are there, then runs bench_pmd_vs_vhost from a
# build directory with its plugin and scripted guest.
#
# Usage: bench/pmd_vs_vhost.sh [BUILD_DIR (build)] [bench_pmd_vs_vhost options]
#   e.g. bench/pmd_vs_vhost.sh build -t 240 -w 2000
#        bench/pmd_vs_vhost.sh build --scenarios g2h-64,h2g-64 --keep /tmp/pvv
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=build
if [ $# -gt 0 ] && [ -d "$1" ]; then
	build=$1
	shift
fi
case $build in
/*) ;;
*) build="$top/$build" ;;
esac

bench="$build/bench/bench_pmd_vs_vhost"
guest="$build/bench/bench_nvguest"
plugin="$build/drivers/librte_net_vmbus_srv.so"
for f in "$bench" "$guest" "$plugin"; do
	if [ ! -e "$f" ]; then
		echo "pmd_vs_vhost: $f missing: meson compile -C $build first" >&2
		exit 1
	fi
done
if ! command -v dpdk-testpmd >/dev/null 2>&1; then
	echo "pmd_vs_vhost: dpdk-testpmd not found (Debian package dpdk)" >&2
	exit 77
fi
if ! command -v stdbuf >/dev/null 2>&1; then
	echo "pmd_vs_vhost: stdbuf not found (coreutils)" >&2
	exit 77
fi

# Four testpmd-sized processes at most (16384 mbufs each, ~40 MiB) and the
# guest's memory (~80 MiB): 512 MiB leaves room for the others' tests.
"$top/devtools/hugepages.sh" 512

exec "$bench" --plugin "$plugin" --guest "$guest" "$@"
