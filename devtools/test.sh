#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Run every test suite, from a fresh Debian 12 machine (as root) to a
# verdict: install dependencies, fetch DPDK's driver-SDK headers, reserve
# hugepages, then build twice (plain -Werror, and ASan+UBSan) and run the
# suites in both. Ends with "total: N passed, N failed"; exits non-zero on
# any failure.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./devtools/prepare.sh 1024
# Hugepages are now guaranteed, so tests that need them must not skip.
export VMBS_REQUIRE_HUGEPAGES=1

status=0
configure() {
	dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" -Dwerror=true "$@"
	else
		meson setup "$dir" -Dwerror=true "$@"
	fi
}

# Plain build: unit, integration, PMD and testpmd smoke suites.
configure build
meson compile -C build
meson test -C build --suite unit --suite integration --suite pmd --suite smoke \
	--print-errorlogs --num-processes 2 || status=1

# Sanitizer build: the ASan plugin cannot load into an uninstrumented
# testpmd, so the smoke suite runs in the plain build only.
configure build-asan -Db_sanitize=address,undefined -Db_lundef=false
meson compile -C build-asan
meson test -C build-asan --suite unit --suite integration --suite pmd \
	--print-errorlogs --num-processes 2 || status=1

python3 devtools/test-summary.py build build-asan || status=1
exit $status
