#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Debian's unmodified dpdk-testpmd as a netvsc guest (through vmbs-guest)
# against stock dpdk-testpmd serving the NIC with our PMD (-d). Real
# uio_hv_generic sizes: rings 2 x (2 MiB + 4 KiB), 31 MiB receive and
# 16 MiB send buffers. For 1 and 4 queues:
#   guest txonly  -> server rxonly   the server counts every guest frame
#   server txonly -> guest rxonly    the guest counts frames
#   io both ways  (guest start tx_first) frames circulate
# then the guest is killed with SIGKILL: the launcher notices, says
# GOODBYE, and the server's port goes down and unmaps the guest's memory.
# With 4 queues, every queue must carry frames in both directions.
#
# Usage: netvsc_guest.sh TESTPMD PMD_SO VMBS_GUEST VMBS_QPOKE
# Needs root (mount namespaces, fanotify) and free 2 MiB hugepages.
set -u

testpmd=$1
so=$2
launcher=$3
qpoke=$4

SMOKE_NAME=netvsc_guest
. "$(dirname "$0")/common.sh"
work=
plugdir=
srv_pid=
gl_pid=
MAC_S=00:15:5d:fb:00:01
# Guest frames of 64 bytes take the send buffer; of 1000, the GPA path.
RUN_S=${VMBS_NG_RUN_S:-3}

cleanup() {
	exec 3>&- 4>&- 2>/dev/null
	for p in $gl_pid $srv_pid; do
		kill "$p" 2>/dev/null
	done
	sleep 1
	for p in $gl_pid $srv_pid; do
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "$work" ] && [ "${VMBS_NG_KEEP:-0}" = 0 ]; then
		rm -rf "$work"
	fi
	rm -rf /var/run/dpdk/vmbs_ng_$$_*
	[ -n "$plugdir" ] && rm -rf "$plugdir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ "$(id -u)" != 0 ]; then
	echo "netvsc_guest: needs root (mount namespace, fanotify); skipped"
	exit 77
fi

smoke_plugin "$so"

work=$(mktemp -d "${TMPDIR:-/tmp}/vmbs_ng.XXXXXX")

# Run one configuration: run_case NAME QUEUES
run_case() {
	name=$1
	q=$2
	dir="$work/$name"
	mkdir -p "$dir"
	sock="$dir/attach.sock"
	slog="$dir/server.log"
	glog="$dir/guest.log"
	mkfifo "$dir/sin" "$dir/gin"
	fail0=$fail
	echo "netvsc_guest: --- $name: $q queue(s) ---"

	# Server: one forwarding lcore polls every queue. It must be polling
	# before the guest starts: the guest's probe waits for NVSP answers.
	timeout 200 stdbuf -oL "$testpmd" --no-huge -m 512 --no-pci --no-shconf \
		--file-prefix="vmbs_ng_$$_${name}_s" -l 0-1 --no-telemetry -d "$so" \
		--vdev "net_vmbus_srv0,socket=$sock,vm=ng,mac=$MAC_S,queues=$q" \
		-- -i --total-num-mbufs=32768 --rxq="$q" --txq="$q" \
		<"$dir/sin" >"$slog" 2>&1 &
	srv_pid=$!
	exec 3>"$dir/sin"
	if ! wait_for "$slog" "testpmd>" 300; then
		ko "$name: server testpmd did not start"
		cat "$slog"
		return
	fi
	printf 'set fwd rxonly\nstart\n' >&3
	# timeout's child: testpmd itself (stdbuf execs it).
	srv_tp=$(pgrep -P "$srv_pid" | head -1)

	# Guest: stock testpmd, its forwarding lcore on CPU 0 (the server's
	# is on CPU 1). Everything the launcher needs is on this command line.
	timeout 200 "$launcher" --socket "$sock" --vm ng --qpoke "$qpoke" -- \
		stdbuf -oL "$testpmd" --lcores 0@0,1@0 -n 1 -m 256 --no-pci \
		--file-prefix="vmbs_ng_$$_${name}_g" --iova-mode=va \
		--single-file-segments --huge-dir /dev/hugepages --no-telemetry \
		-- -i --total-num-mbufs=16384 --rxq="$q" --txq="$q" \
		<"$dir/gin" >"$glog" 2>&1 &
	gl_pid=$!
	exec 4>"$dir/gin"
	if wait_for "$glog" "queue state(s) set to started" 600 &&
	   wait_for "$glog" "testpmd>" 100; then
		ok "$name: guest probed, port up, queues marked started"
	else
		ko "$name: guest did not come up"
		echo "--- guest log"; cat "$glog"; echo "--- server log"; cat "$slog"
		return
	fi
	gpid=$(sed -n 's/.*guest .* started (pid \([0-9]*\)).*/\1/p' "$glog" | head -1)
	printf 'show port info 0\n' >&4
	sleep 1
	nq=$(awk '/Current number of RX queues:/ { v = $NF } END { print v + 0 }' "$glog")
	if grep -q "Link status: up" "$glog" && [ "$nq" = "$q" ]; then
		ok "$name: guest port link up with $nq RX queue(s)"
	else
		ko "$name: guest port info (link, $nq queues)"
	fi

	# 1. guest txonly -> server rxonly: small frames (send buffer) and
	# large ones (GPA ranges in the guest's hugepages).
	for size in 64 1000; do
		printf 'clear port stats all\n' >&3
		printf 'clear port stats all\nset txpkts %s\nset fwd txonly\nstart\n' "$size" >&4
		sleep "$RUN_S"
		mark 4 "g2h_$size"
		printf 'stop\n' >&4
		sleep 1
		mark 3 "g2h_$size"
		printf 'show port stats 0\nshow port xstats 0\n' >&3
		gtx=$(stat_wait "$glog" "g2h_$size" TX-packets "Accumulated forward")
		srx=$(stat_wait "$slog" "g2h_$size" RX-packets)
		# The guest PMD counts its port's Tx at completion time.
		mark 4 "g2h_${size}_port"
		printf 'show port stats 0\n' >&4
		gptx=$(stat_wait "$glog" "g2h_${size}_port" TX-packets)
		echo "netvsc_guest: $name: guest->server ${size} B: guest testpmd sent $gtx" \
			"(port counted $gptx), server received $srx"
		# At full speed the guest's ring fills, and the 22.11 PMD then
		# sends an aggregated section it has already reported as not sent
		# (hn_xmit_pkts fails after hn_try_txagg): the server may count a
		# few more frames than testpmd. Exact counts are checked below.
		if [ "$gtx" -gt 0 ] && [ "$srx" -ge "$gtx" ]; then
			ok "$name: guest txonly ${size} B: the server received all $gtx frames"
		else
			ko "$name: guest txonly ${size} B: guest sent $gtx, server received $srx"
		fi
		if [ "$q" -gt 1 ]; then
			busy=0
			i=0
			while [ $i -lt "$q" ]; do
				n=$(stat_wait "$slog" "g2h_$size" "rx_q${i}_guest_frames")
				[ "$n" -gt 0 ] && busy=$((busy + 1))
				i=$((i + 1))
			done
			if [ $busy = "$q" ]; then
				ok "$name: ${size} B guest frames arrived on all $q queues"
			else
				ko "$name: ${size} B guest frames on $busy of $q queues"
			fi
		fi
	done

	# Exact count, no saturation: 8 bursts of 32 per queue, then nothing.
	# The server's RX-packets before and after, each read once the count
	# stopped moving (the saturated rings drain first): the difference.
	settled_rx() {
		k=0
		prev=-1
		while [ $k -lt 40 ]; do
			mark 3 "drain_$1_$k"
			printf 'show port stats 0\n' >&3
			cur=$(stat_wait "$slog" "drain_$1_$k" RX-packets)
			if [ "$cur" = "$prev" ]; then
				echo "$cur"
				return 0
			fi
			prev=$cur
			sleep 0.5
			k=$((k + 1))
		done
		return 1
	}
	want=$((256 * q))
	if ! rx0=$(settled_rx before); then
		ko "$name: the server's RX count never settled after txonly"
	else
		printf 'set txpkts 1000\nset fwd io\nstart tx_first 8\n' >&4
		sleep 2
		printf 'stop\n' >&4
		if ! rx1=$(settled_rx after); then
			ko "$name: the server's RX count never settled after the exact burst"
		elif [ $((rx1 - rx0)) = "$want" ]; then
			ok "$name: exactly the $want frames the guest sent arrived"
		else
			ko "$name: guest sent $want frames, the server received $((rx1 - rx0))"
		fi
	fi
	printf 'stop\n' >&3

	# 2. server txonly -> guest rxonly.
	printf 'clear port stats all\nset fwd rxonly\nstart\n' >&4
	printf 'clear port stats all\nset fwd txonly\nstart\n' >&3
	sleep "$RUN_S"
	mark 3 h2g
	printf 'stop\n' >&3
	sleep 1
	mark 4 h2g
	printf 'stop\nshow port xstats 0\n' >&4
	sleep 1
	stx=$(stat_wait "$slog" h2g TX-packets "Accumulated forward")
	grx=$(stat_wait "$glog" h2g RX-packets "Accumulated forward")
	echo "netvsc_guest: $name: server->guest: server sent $stx, guest received $grx"
	# The guest PMD may drop what its application does not poll in time
	# (rx_qN_ring full); it never receives more than was sent.
	if [ "$grx" -gt 0 ] && [ "$grx" -le "$stx" ]; then
		ok "$name: server txonly: the guest received $grx frames"
	else
		ko "$name: server txonly: server sent $stx, guest received $grx"
	fi
	if [ "$q" -gt 1 ]; then
		busy=0
		i=0
		while [ $i -lt "$q" ]; do
			n=$(stat_wait "$glog" h2g "rx_q${i}_packets")
			[ "$n" -gt 0 ] && busy=$((busy + 1))
			i=$((i + 1))
		done
		if [ $busy = "$q" ]; then
			ok "$name: server frames arrived on all $q guest queues"
		else
			ko "$name: server frames on $busy of $q guest queues"
		fi
	fi

	# 3. io forwarding on both sides, the guest seeding one burst per
	# queue of 1000-byte frames: the server gets them zero-copy, the guest
	# forwards its zero-copy Rx mbufs (pointing into its receive buffer).
	printf 'set fwd io\nstart\n' >&3
	printf 'set txpkts 1000\nset fwd io\nstart tx_first\n' >&4
	sleep "$RUN_S"
	mark 4 io
	printf 'stop\n' >&4
	sleep 1
	mark 3 io
	printf 'stop\n' >&3
	sleep 1
	srx=$(stat_wait "$slog" io RX-packets "Accumulated forward")
	stx=$(stat_wait "$slog" io TX-packets "Accumulated forward")
	grx=$(stat_wait "$glog" io RX-packets "Accumulated forward")
	gtx=$(stat_wait "$glog" io TX-packets "Accumulated forward")
	echo "netvsc_guest: $name: io: server RX $srx TX $stx, guest RX $grx TX $gtx"
	if [ "$srx" -gt 1000 ] && [ "$stx" -gt 1000 ] && [ "$grx" -gt 1000 ] &&
	   [ "$gtx" -gt 1000 ]; then
		ok "$name: io forwarding both ways"
	else
		ko "$name: io forwarding"
	fi

	# 4. SIGKILL the guest: the launcher must end the session.
	printf 'set fwd rxonly\nstart\n' >&3
	grep -e "vmbs" "/proc/$srv_tp/maps" >"$dir/server_maps_before" 2>/dev/null
	gfiles=$(grep -c -e "vmbs-guest\." -e "vmbs_ng_$$_${name}_g" "/proc/$srv_tp/maps" 2>/dev/null)
	kill -9 "$gpid" 2>/dev/null
	i=0
	while kill -0 "$gl_pid" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$gl_pid" 2>/dev/null; then
		ko "$name: launcher still running 15 s after the guest died"
	else
		wait "$gl_pid"
		rc=$?
		if [ $rc = 137 ] && grep -q "guest killed by signal 9" "$glog"; then
			ok "$name: launcher noticed the guest's death and exited 137"
		else
			ko "$name: launcher exit $rc"
		fi
	fi
	gl_pid=
	exec 4>&-
	sleep 1
	printf 'stop\n' >&3
	mark 3 gone
	printf 'show port info 0\n' >&3
	sleep 1
	left=$(grep -c -e "vmbs-guest\." -e "vmbs_ng_$$_${name}_g" "/proc/$srv_tp/maps" 2>/dev/null)
	if awk '/mark_gone/ { on = 1 } on && /Link status: down/ { f = 1 } END { exit !f }' "$slog"; then
		ok "$name: the server's port went down"
	else
		ko "$name: the server's port is not down"
	fi
	echo "netvsc_guest: $name: server mappings of guest files: $gfiles before, $left after"
	if [ "$gfiles" -gt 0 ] && [ "$left" = 0 ]; then
		ok "$name: the server unmapped the guest's memory"
	else
		ko "$name: guest memory still mapped by the server"
	fi

	printf 'quit\n' >&3
	exec 3>&-
	wait_pid "$srv_pid" 100
	rc=$?
	srv_pid=
	if [ $rc = 0 ]; then
		ok "$name: server testpmd exited cleanly"
	else
		ko "$name: server testpmd exit $rc"
	fi
	if [ $fail != "$fail0" ]; then
		echo "--- guest log"; cat "$glog"; echo "--- server log"; cat "$slog"
	fi
}

for c in ${VMBS_NG_CASES:-1 4}; do
	run_case "q$c" "$c"
done

smoke_end
