#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Stock dpdk-testpmd forwarding between two net_vmbus_srv ports (the .so
# loaded with -d), each with a scripted netvsc guest (nvg_traffic) on the
# other side. Guest A (vm ga, port 0) and guest B (vm gb, port 1) each send
# N frames to the other's MAC; testpmd's paired topology forwards port 0 to
# port 1 and back. Passes:
#   io      copybreak=65535   frames arrive unchanged
#   io      default copybreak frames arrive unchanged (zero-copy Rx mbufs)
#   macswap copybreak=65535   MACs arrive swapped (guests promiscuous)
# Each pass checks both guests' verdicts and testpmd's counters (forward
# statistics and port statistics: every frame one port received went out
# of the other, nothing dropped) and the PMD's xstats (every guest frame
# took the Rx path the pass is about, no guest request left outstanding).
#
# Usage: testpmd_fwd.sh TESTPMD PMD_SO NVG_TRAFFIC
set -u

testpmd=$1
so=$2
tool=$3

N=${VMBS_FWD_FRAMES:-2000}
SIZE=${VMBS_FWD_SIZE:-1000}
# Backpressure on purpose: a 2 MiB receive buffer (about 1100 slots) is
# smaller than a pass, so Tx runs out of slots and testpmd retries Tx (it
# does not poll Rx meanwhile: the PMD's Tx reads the guest's acks itself).
# VMBS_FWD_RETRY=0 turns testpmd's retry off (then it drops what Tx
# refuses, as it would with any NIC).
RECV_BUF=${VMBS_FWD_RECV_BUF:-2097152}
if [ "${VMBS_FWD_RETRY:-1}" = 1 ]; then
	retry="set burst tx delay 100 retry 10000
"
	retry_kw=" retry"
else
	retry=
	retry_kw=
fi
MAC_A=00:15:5d:fa:00:01
MAC_B=00:15:5d:fa:00:02

SMOKE_NAME=fwd
. "$(dirname "$0")/common.sh"
tp_pid=
work=
plugdir=

cleanup() {
	exec 3>&- 2>/dev/null
	for p in $tp_pid ${ga_pid:-} ${gb_pid:-}; do
		kill "$p" 2>/dev/null
	done
	[ -n "$work" ] && rm -rf "$work"
	# EAL's runtime directories of our file prefixes.
	if [ "$(id -u)" = 0 ]; then
		rm -rf /var/run/dpdk/vmbs_fwd_$$_*
	else
		rm -rf "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/vmbs_fwd_$$_*
	fi
	[ -n "$plugdir" ] && rm -rf "$plugdir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

smoke_plugin "$so"

work=$(mktemp -d "${TMPDIR:-/tmp}/vmbs_fwd.XXXXXX")

# Wait (bounded: $2 tenths of a second) for file $1.
wait_file() {
	i=0
	while [ ! -e "$1" ]; do
		[ $i -ge "$2" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# The value of field $3 ("RX-packets") in block $2 ("Forward statistics
# for port 0", "NIC statistics for port 1") of log $1.
stat() {
	awk -v blk="$2" -v key="$3:" '
		index($0, blk) { inb = 1; next }
		inb && /#####|-----/ { inb = 0 }
		inb { for (i = 1; i < NF; i++) if ($i == key) { print $(i + 1); exit } }
	' "$1"
}

# Sum of xstat $2 over every port in log $1.
xstat_sum() {
	awk -v key="$2:" '$1 == key { s += $2 } END { print s + 0 }' "$1"
}

# One pass: run_pass NAME FWD_MODE CHECK COPYBREAK_ARG PROMISC_ARG RX_PATH
# (RX_PATH: zero_copy or copied, the xstat every guest frame must count in).
run_pass() {
	name=$1
	mode=$2
	check=$3
	cb=$4
	promisc=$5
	rxpath=$6
	fail0=$fail
	dir="$work/$name"
	mkdir -p "$dir"
	sock="$dir/s"
	log="$dir/testpmd.log"
	mkfifo "$dir/in"

	echo "fwd: --- $name: fwd $mode, check $check${cb:+, devargs $cb} ---"
	timeout 150 "$testpmd" --no-huge -m 512 --no-pci --no-shconf \
		--file-prefix="vmbs_fwd_$$_$name" -l 0-1 --no-telemetry \
		-d "$so" \
		--vdev "net_vmbus_srv0,socket=$sock,vm=ga,mac=$MAC_A$cb" \
		--vdev "net_vmbus_srv1,socket=$sock,vm=gb,mac=$MAC_B$cb" \
		-- -i --total-num-mbufs=16384 <"$dir/in" >"$log" 2>&1 &
	tp_pid=$!
	exec 3>"$dir/in"

	if ! wait_file "$sock" 200; then
		ko "$name: attach socket $sock never appeared"
		cat "$log"
		exec 3>&-
		wait_pid "$tp_pid" 100
		tp_pid=
		return
	fi
	printf '%sset fwd %s%s\nstart\n' "$retry" "$mode" "$retry_kw" >&3

	"$tool" --socket "$sock" --vm gb --mac-dst $MAC_A --send "$N" --size "$SIZE" \
		--recv-buf "$RECV_BUF" --expect "$N" --timeout-s 30 --check "$check" ${promisc:+"$promisc"} \
		--ready-file "$dir/ready_b" --go-file "$dir/go" >"$dir/gb.log" 2>&1 &
	gb_pid=$!
	"$tool" --socket "$sock" --vm ga --mac-dst $MAC_B --send "$N" --size "$SIZE" \
		--recv-buf "$RECV_BUF" --expect "$N" --timeout-s 30 --check "$check" ${promisc:+"$promisc"} \
		--ready-file "$dir/ready_a" --go-file "$dir/go" >"$dir/ga.log" 2>&1 &
	ga_pid=$!
	if wait_file "$dir/ready_a" 300 && wait_file "$dir/ready_b" 300; then
		: >"$dir/go"
	fi
	wait_pid $ga_pid 700
	rc_a=$?
	wait_pid $gb_pid 700
	rc_b=$?
	ga_pid=
	gb_pid=
	cat "$dir/ga.log" "$dir/gb.log"
	if [ $rc_a = 0 ]; then
		ok "$name: guest A got B's $N frames intact"
	else
		ko "$name: guest A exit $rc_a"
	fi
	if [ $rc_b = 0 ]; then
		ok "$name: guest B got A's $N frames intact"
	else
		ko "$name: guest B exit $rc_b"
	fi

	printf 'show port stats all\nshow port xstats all\nstop\nquit\n' >&3
	exec 3>&-
	wait_pid "$tp_pid" 300
	rc_tp=$?
	tp_pid=
	if [ $rc_tp = 0 ]; then
		ok "$name: testpmd exited cleanly"
	else
		ko "$name: testpmd exit $rc_tp"
	fi

	f0rx=$(stat "$log" "Forward statistics for port 0" RX-packets)
	f0tx=$(stat "$log" "Forward statistics for port 0" TX-packets)
	f0dr=$(stat "$log" "Forward statistics for port 0" TX-dropped)
	f1rx=$(stat "$log" "Forward statistics for port 1" RX-packets)
	f1tx=$(stat "$log" "Forward statistics for port 1" TX-packets)
	f1dr=$(stat "$log" "Forward statistics for port 1" TX-dropped)
	p0rx=$(stat "$log" "NIC statistics for port 0" RX-packets)
	p0tx=$(stat "$log" "NIC statistics for port 0" TX-packets)
	p1rx=$(stat "$log" "NIC statistics for port 1" RX-packets)
	p1tx=$(stat "$log" "NIC statistics for port 1" TX-packets)
	p0er=$(stat "$log" "NIC statistics for port 0" TX-errors)
	p1er=$(stat "$log" "NIC statistics for port 1" TX-errors)
	echo "fwd: $name: forward port0 RX $f0rx TX $f0tx dropped $f0dr;" \
		"port1 RX $f1rx TX $f1tx dropped $f1dr"
	echo "fwd: $name: ethdev port0 RX $p0rx TX $p0tx TX-errors $p0er;" \
		"port1 RX $p1rx TX $p1tx TX-errors $p1er"
	if [ "$f0rx" = "$N" ] && [ "$f1tx" = "$N" ] && [ "$f1rx" = "$N" ] &&
	   [ "$f0tx" = "$N" ] && [ "$f0dr" = 0 ] && [ "$f1dr" = 0 ]; then
		ok "$name: forward stats: $N each way, none dropped"
	else
		ko "$name: forward stats inconsistent"
	fi
	if [ "$p0rx" = "$N" ] && [ "$p1tx" = "$N" ] && [ "$p1rx" = "$N" ] &&
	   [ "$p0tx" = "$N" ] && [ "$p0er" = 0 ] && [ "$p1er" = 0 ]; then
		ok "$name: port stats: $N each way, no Tx errors"
	else
		ko "$name: port stats inconsistent"
	fi
	n_path=$(xstat_sum "$log" "rx_q0_$rxpath")
	n_out=$(xstat_sum "$log" rx_outstanding_requests)
	echo "fwd: $name: rx_q0_$rxpath $n_path, rx_outstanding_requests $n_out"
	if [ "$n_path" = $((2 * N)) ] && [ "$n_out" = 0 ]; then
		ok "$name: every guest frame took the $rxpath Rx path, none outstanding"
	else
		ko "$name: Rx path counters"
	fi
	if [ $fail != "$fail0" ]; then
		echo "fwd: $name: testpmd output:"
		cat "$log"
	fi
}

run_pass io_copy io plain ",copybreak=65535" "" copied
run_pass io_zc io plain "" "" zero_copy
run_pass macswap macswap swapped ",copybreak=65535" "--promisc" copied

smoke_end
