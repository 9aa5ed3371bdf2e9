#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# vmbus-srvd end to end: the server on a test configuration, scripted
# netvsc guests (nvg_traffic, one process each) on its attach socket, and
# the bridge between them. Every frame is checked byte for byte by the
# receiving guest; the server's exit summary must account for every frame.
#
#   pair_copy    1 lcore (main polls), copybreak=65535: guests A and B
#                send N frames each to the other; ends on --duration.
#   pair_zc      2 lcores (a worker polls, main sleeps), zero-copy Rx,
#                2 queues per NIC; ends on SIGINT.
#   flood        3 NICs + a net_null uplink, a service lcore for the slow
#                path: A sends N frames to B, which never sends, so B's
#                MAC stays unknown and every frame floods to B, C and the
#                uplink; B checks them all; C (promiscuous) must see N
#                frames not addressed to it. Ends on SIGTERM.
#   stall        3 NICs, 1 lcore, a retry budget of 0.2 s (4000 x 50 us)
#                and the default tx_stall_retries: C comes up, then is
#                stopped (SIGSTOP: it never returns a receive slot again);
#                A sends N frames (paced) to B's unknown MAC, so every burst
#                floods to B and C. C costs the poller a few retries, never
#                the budget: B gets all N intact within 10 s (spending the
#                budget on every burst would take minutes), C's frames
#                beyond its receive buffer are dropped (tx_full, or the
#                PMD's oerrors once C's ring is full).
#
# Usage: srvd_bridge.sh VMBUS_SRVD NVG_TRAFFIC
set -u

srvd=$1
tool=$2

N=${VMBS_SRVD_FRAMES:-2000}
SIZE=${VMBS_SRVD_SIZE:-1000}
MAC_A=00:15:5d:fb:00:01
MAC_B=00:15:5d:fb:00:02
MAC_C=00:15:5d:fb:00:03

SMOKE_NAME=srvd
. "$(dirname "$0")/common.sh"
srvd_pid=
guest_pids=
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbs_srvd.XXXXXX")

cleanup() {
	for p in $srvd_pid $guest_pids; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$work"
	if [ "$(id -u)" = 0 ]; then
		rm -rf /var/run/dpdk/vmbs_srvd_$$_*
	else
		rm -rf "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/vmbs_srvd_$$_*
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

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

# Sum of every drop counter of section $1 in log $2 ("copied" is no drop).
drops() {
	awk -v sec="[$1]" '
		$1 == "vmbus-srvd:" && $2 == "port" && $4 == sec && $5 == "dropped:" {
			for (i = 6; i < NF; i += 2) if ($i != "(copied") s += $(i + 1)
		} END { print s + 0 }' "$2"
}

# Start a guest: guest NAME VM MAC_DST SEND EXPECT [extra nvg_traffic args]
guest() {
	gname=$1
	vm=$2
	dst=$3
	send=$4
	expect=$5
	shift 5
	timeout 90 "$tool" --socket "$dir/s" --vm "$vm" --mac-dst "$dst" --send "$send" \
		--size "$SIZE" --expect "$expect" --timeout-s 40 \
		--ready-file "$dir/ready_$gname" --go-file "$dir/go" "$@" >"$dir/$gname.log" 2>&1 &
	guest_pids="$guest_pids $!"
	eval "pid_$gname=$!"
}

# Start vmbus-srvd: start_srvd EAL_LCORE_ARGS [app args]
start_srvd() {
	eal=$1
	shift
	# shellcheck disable=SC2086 # $eal is a word list on purpose
	timeout 120 "$srvd" --no-huge -m 512 --no-pci --no-shconf --no-telemetry \
		--file-prefix="vmbs_srvd_$$_$name" $eal -- -c "$dir/conf" -p 1 "$@" \
		>"$dir/srvd.log" 2>&1 &
	srvd_pid=$!
	if ! wait_file "$dir/s" 200; then
		ko "$name: attach socket never appeared"
		cat "$dir/srvd.log"
		return 1
	fi
	return 0
}

# Release the guests once every one of them ($@) is ready.
go_when_ready() {
	for g in "$@"; do
		wait_file "$dir/ready_$g" 400 || return 1
	done
	: >"$dir/go"
}

# Check the server's end: exit status, clean release, nothing leaked.
check_exit() {
	rc=$1
	log=$dir/srvd.log
	if [ "$rc" = 0 ] && grep -q "^vmbus-srvd: exited cleanly" "$log" &&
	   grep -q "^vmbus-srvd: 0 mbuf(s) still in use at exit" "$log"; then
		ok "$name: server exited cleanly, every mbuf returned"
	else
		ko "$name: server exit $rc"
	fi
}

# Every frame each way of a pair pass accounted for in the summary.
check_pair() {
	log=$dir/srvd.log
	bad=
	for sec in nic0 nic1; do
		for k in rx tx; do
			v=$(sv $sec frames $k "$log")
			[ "$v" = "$N" ] || bad="$bad $sec.$k=$v"
		done
		d=$(drops $sec "$log")
		[ "$d" = 0 ] || bad="$bad $sec.drops=$d"
		o=$(sv $sec pmd outstanding "$log")
		[ "$o" = 0 ] || bad="$bad $sec.outstanding=$o"
		e=$(sv $sec pmd oerrors "$log")
		[ "$e" = 0 ] || bad="$bad $sec.oerrors=$e"
	done
	if [ -z "$bad" ]; then
		ok "$name: summary: $N frames rx and tx on each port, no drops"
	else
		ko "$name: summary:$bad"
	fi
}

new_pass() {
	name=$1
	dir=$work/$name
	mkdir -p "$dir"
	guest_pids=
	echo "srvd: --- $name ---"
}

# Logs of a failed pass (of every pass with VMBS_SRVD_VERBOSE=1).
show_logs_on_failure() {
	if [ "$fail" != "$1" ] || [ "${VMBS_SRVD_VERBOSE:-0}" = 1 ]; then
		for f in "$dir"/*.log; do
			echo "srvd: $name: $(basename "$f"):"
			cat "$f"
		done
	fi
}

# Guests A and B exchange N frames each way through the bridge.
run_pair() {
	eal=$1
	stop=$2
	nic_extra=$3
	fail0=$fail
	cat >"$dir/conf" <<CONF
[server]
socket = $dir/s
[bridge]
; Backpressure instead of loss: a guest slow to acknowledge gets time.
tx_retries = 4000
tx_retry_delay_us = 50
tx_stall_retries = 4000
[nic0]
vm = ga
mac = $MAC_A
$nic_extra
[nic1]
vm = gb
mac = $MAC_B
$nic_extra
CONF
	if [ "$stop" = duration ]; then
		start_srvd "$eal" -d 12 || return
	else
		start_srvd "$eal" || return
	fi
	guest b gb $MAC_A "$N" "$N"
	guest a ga $MAC_B "$N" "$N"
	go_when_ready a b
	wait_pid "$pid_a" 900
	rc_a=$?
	wait_pid "$pid_b" 900
	rc_b=$?
	if [ $rc_a = 0 ] && [ $rc_b = 0 ]; then
		ok "$name: A and B each got the other's $N frames intact"
	else
		ko "$name: guest exits A $rc_a B $rc_b"
	fi
	[ "$stop" = duration ] || kill -"$stop" "$srvd_pid"
	wait_pid "$srvd_pid" 300
	check_exit $?
	srvd_pid=
	check_pair
	case $eal in
	*-l\ 0-1*)
		if grep -q "^vmbus-srvd: lcore 1 polls" "$dir/srvd.log"; then
			ok "$name: worker lcore 1 polls, main lcore does not"
		else
			ko "$name: lcore plan"
		fi
		;;
	esac
	show_logs_on_failure "$fail0"
}

# A's frames to B's never-learnt MAC flood to B, C and the uplink.
run_flood() {
	fail0=$fail
	cat >"$dir/conf" <<CONF
[server]
socket = $dir/s
[bridge]
tx_retries = 4000
tx_retry_delay_us = 50
[uplink]
device = net_null0,no-rx=1
[nic0]
vm = ga
mac = $MAC_A
[nic1]
vm = gb
mac = $MAC_B
[nic2]
vm = gc
mac = $MAC_C
CONF
	start_srvd "-l 0-1 -S 1" || return
	guest b gb $MAC_A 0 "$N"
	# C expects frames it can never accept: it stays (receiving) until
	# its deadline instead of leaving before the flood is over.
	guest c gc $MAC_A 0 "$N" --promisc --timeout-s 8
	guest a ga $MAC_B "$N" 0
	go_when_ready a b c
	wait_pid "$pid_a" 900
	rc_a=$?
	wait_pid "$pid_b" 900
	rc_b=$?
	wait_pid "$pid_c" 900
	if [ $rc_a = 0 ] && [ $rc_b = 0 ]; then
		ok "$name: B got all $N frames flooded to its unknown MAC, intact"
	else
		ko "$name: guest exits A $rc_a B $rc_b"
	fi
	# C takes everything (promiscuous): N frames, none addressed to it.
	if grep -q "^nvg_traffic: vm gc sent 0 received 0 bad $N\$" "$dir/c.log"; then
		ok "$name: C saw the $N flooded frames too"
	else
		ko "$name: C: $(cat "$dir/c.log")"
	fi
	kill -TERM "$srvd_pid"
	wait_pid "$srvd_pid" 300
	check_exit $?
	srvd_pid=
	log=$dir/srvd.log
	bad=
	[ "$(sv nic0 frames rx "$log")" = "$N" ] || bad="$bad nic0.rx"
	[ "$(sv nic0 frames flooded "$log")" = "$N" ] || bad="$bad nic0.flooded"
	for sec in nic1 nic2 uplink; do
		[ "$(sv $sec frames tx "$log")" = "$N" ] || bad="$bad $sec.tx"
		[ "$(drops $sec "$log")" = 0 ] || bad="$bad $sec.drops"
	done
	[ "$(sv uplink pmd opackets "$log")" = "$N" ] || bad="$bad uplink.opackets"
	[ "$(drops nic0 "$log")" = 0 ] || bad="$bad nic0.drops"
	if [ -z "$bad" ]; then
		ok "$name: summary: $N flooded from nic0, $N out of nic1, nic2 and the uplink"
	else
		ko "$name: summary:$bad"
	fi
	if grep -q "^vmbus-srvd: slow path on 1 service lcore" "$log"; then
		ok "$name: slow path mapped to the service lcore"
	else
		ko "$name: slow path not on the service lcore"
	fi
	show_logs_on_failure "$fail0"
}

# A guest that stops consuming must not hold up the others (tx_stall_retries).
run_stall() {
	fail0=$fail
	cat >"$dir/conf" <<CONF
[server]
socket = $dir/s
[bridge]
tx_retries = 4000
tx_retry_delay_us = 50
[nic0]
vm = ga
mac = $MAC_A
[nic1]
vm = gb
mac = $MAC_B
[nic2]
vm = gc
mac = $MAC_C
CONF
	start_srvd "-l 0" || return
	guest b gb $MAC_A 0 "$N" --timeout-s 30
	guest c gc $MAC_A 0 0 --promisc --recv-buf 262144 --timeout-s 60
	guest a ga $MAC_B "$N" 0 --timeout-s 30 --pace-us 100
	for g in a b c; do
		wait_file "$dir/ready_$g" 400
	done
	# C's tool (timeout's child) stops for good: its slots stay taken.
	c_tool=$(pgrep -P "$pid_c" | head -1)
	kill -STOP "$c_tool"
	t0=$(date +%s)
	: >"$dir/go"
	wait_pid "$pid_a" 900
	rc_a=$?
	wait_pid "$pid_b" 900
	rc_b=$?
	t=$(($(date +%s) - t0))
	kill -9 "$c_tool" 2>/dev/null
	wait_pid "$pid_c" 100
	if [ $rc_a = 0 ] && [ $rc_b = 0 ] && [ "$t" -le 10 ]; then
		ok "$name: B got all $N frames in ${t} s while C never consumed"
	else
		ko "$name: guest exits A $rc_a B $rc_b after ${t} s"
	fi
	kill -TERM "$srvd_pid"
	wait_pid "$srvd_pid" 300
	rc=$?
	srvd_pid=
	log=$dir/srvd.log
	full=$(sv nic2 dropped tx_full "$log")
	if [ "$(sv nic1 frames tx "$log")" = "$N" ] && [ "$(drops nic1 "$log")" = 0 ] &&
	   [ "${full:-0}" -gt 0 ] &&
	   [ $(($(sv nic2 frames tx "$log") + full)) = "$N" ] &&
	   [ "$(sv nic2 pmd opackets "$log")" -lt "$N" ]; then
		ok "$name: summary: $N to B, no drops; C took $(sv nic2 frames tx "$log"), $full tx_full"
	else
		ko "$name: summary: nic1 tx $(sv nic1 frames tx "$log") drops $(drops nic1 "$log"),\
 nic2 tx $(sv nic2 frames tx "$log") tx_full ${full:-?} (server exit $rc)"
	fi
	show_logs_on_failure "$fail0"
}

new_pass pair_copy
run_pair "-l 0" duration "copybreak = 65535"
new_pass pair_zc
run_pair "-l 0-1" INT "queues = 2"
new_pass flood
run_flood
new_pass stall
run_stall

smoke_end
