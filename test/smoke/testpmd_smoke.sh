#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Load librte_net_vmbus_srv.so into stock dpdk-testpmd with -d, create two
# ports from devargs, and check that testpmd reports them as ours with the
# devargs applied. Usage: testpmd_smoke.sh TESTPMD PMD_SO
set -eu

testpmd=$1
so=$2

SMOKE_NAME=smoke
. "$(dirname "$0")/common.sh"
plugdir=
trap '[ -n "$plugdir" ] && rm -rf "$plugdir"' EXIT
smoke_plugin "$so"

# A private attach socket (both ports share its server).
sock="${TMPDIR:-/tmp}/vmbs_smoke_$$.sock"
out=$(printf 'show port info all\nstart\nstop\nquit\n' |
	timeout 60 "$testpmd" --no-huge -m 256 --no-pci --no-shconf \
		--file-prefix="vmbs_smoke_$$" -l 0-1 --no-telemetry \
		-d "$so" \
		--vdev "net_vmbus_srv0,queues=2,mac=00:15:5d:01:02:03,socket=$sock" \
		--vdev "net_vmbus_srv1,queues=4,mtu=9000,socket=$sock" \
		-- -i --total-num-mbufs=4096 --rxq=2 --txq=2 2>&1) || {
	echo "$out"
	ko "dpdk-testpmd failed"
	smoke_end
	exit 1
}
echo "$out"

check() {
	if printf '%s\n' "$out" | grep -qE "$1"; then
		ok "$2"
	else
		ko "$2"
	fi
}
check '^Driver name: net_vmbus_srv$' 'testpmd reports the driver name'
check '^Device name: net_vmbus_srv0$' 'port 0 is net_vmbus_srv0'
check '^Device name: net_vmbus_srv1$' 'port 1 is net_vmbus_srv1'
check '^MAC address: 00:15:5D:01:02:03$' 'mac devarg applied'
check '^Max possible RX queues: 4$' 'queues devarg applied'
check '^MTU: 1500$' 'default MTU'
check '^Port 0 is closed' 'port closed cleanly'
smoke_end
