#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# vmbus-srvd's uplink, both ways, against the Linux kernel: the uplink is
# DPDK's af_packet PMD on one end of a veth pair, the other end sits in a
# private network namespace with an address; the guest is Debian's stock
# dpdk-testpmd (through vmbs-guest) in icmpecho mode, which answers ARP
# and ICMP echo requests. So the kernel's own ping resolves the guest's
# address and gets its replies through uplink -> bridge -> net_vmbus_srv
# -> netvsc guest and back:
#
#   arp+ping     ping -c 20: every request answered (the first one also
#                resolves the guest's MAC: a broadcast flooded to the guest)
#   sizes        56 and 1400 B payloads (the second above the copy-break, so
#                guest frames reach the uplink as zero-copy mbufs), and
#                8972 B at MTU 9000 on every hop
#   flood        ping -f -c 2000: not one request lost
#   offloads     the guest switches to testpmd's csum engine with IP, UDP
#                and TCP checksums and TSO (MSS 1000) left to the host;
#                test/tools/uplink_peer.py sends UDP datagrams and a 3000 B
#                TCP frame over IPv4 and IPv6, and checks what comes back:
#                vmbus-srvd filled in every checksum and cut the TCP frames
#                into 3 segments each, in software, for the uplink
#   summary      SIGTERM: vmbus-srvd exits cleanly with no mbuf in use; what
#                it received on the uplink it delivered to the guest, and
#                what the guest sent went out of the uplink
#
# Usage: srvd_uplink.sh TESTPMD VMBUS_SRVD VMBS_GUEST VMBS_QPOKE
# Needs root (network namespace, mount namespace, fanotify) and ~200 MiB
# of free 2 MiB hugepages for the guest.
set -u

testpmd=$1
srvd=$2
launcher=$3
qpoke=$4

SMOKE_NAME=srvd_uplink
. "$(dirname "$0")/common.sh"
work=
srvd_pid=
srvd_tp=
gl_pid=
ns=vmbs_up_$$
veth_h=vuph$$
veth_n=vupn$$
IP_NS=10.211.$(($$ % 200)).1
IP_G=10.211.$(($$ % 200)).2
MAC_G=00:15:5d:fc:01:0a
T0=$(date +%s)

cleanup() {
	exec 4>&- 2>/dev/null
	for p in $gl_pid $srvd_pid ${srvd_pid:+${srvd_tp:-}}; do
		kill "$p" 2>/dev/null
	done
	sleep 1
	for p in $gl_pid $srvd_pid ${srvd_pid:+${srvd_tp:-}}; do
		kill -9 "$p" 2>/dev/null
	done
	ip link del "$veth_h" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	if [ -n "$work" ] && [ "${VMBS_UP_KEEP:-0}" = 0 ]; then
		rm -rf "$work"
	fi
	rm -rf /var/run/dpdk/up_$$_*
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
# A guest that died must fail checks, not kill the script on its fifo.
trap '' PIPE

if [ "$(id -u)" != 0 ]; then
	echo "srvd_uplink: needs root (network and mount namespaces); skipped"
	exit 77
fi
for t in ip ping; do
	if ! command -v $t >/dev/null; then
		# devtools/install-deps.sh installs both.
		ko "no $t"
		smoke_end
		exit 1
	fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbs_up.XXXXXX")
slog=$work/srvd.log
glog=$work/guest.log

# ping from the namespace: ping_check NAME COUNT ARGS...; every request
# must be answered.
ping_check() {
	name=$1
	n=$2
	shift 2
	out=$(timeout 60 ip netns exec "$ns" ping -n -q -c "$n" -W 2 "$@" "$IP_G" 2>&1)
	got=$(printf '%s\n' "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
	rtt=$(printf '%s\n' "$out" | sed -n 's/^rtt \(.*\)/\1/p')
	if [ "${got:-0}" = "$n" ]; then
		ok "$name: $n of $n echo requests answered (${rtt:-no rtt})"
	else
		ko "$name: ${got:-0} of $n answered: $(printf '%s' "$out" | tail -2 | tr '\n' ' ')"
	fi
}

# ---- the kernel's side: a veth pair, one end in a namespace, MTU 9000.
ip netns add "$ns" || { ko "ip netns add"; smoke_end; exit 1; }
ip link add "$veth_h" mtu 9000 type veth peer name "$veth_n" mtu 9000
ip link set "$veth_n" netns "$ns"
# No IPv6 on either end: router solicitations and MLD would only be noise.
sysctl -q -w "net.ipv6.conf.$veth_h.disable_ipv6=1" 2>/dev/null
ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$veth_n.disable_ipv6=1" 2>/dev/null
ip link set "$veth_h" up
ip netns exec "$ns" ip addr add "$IP_NS/24" dev "$veth_n"
ip netns exec "$ns" ip link set "$veth_n" up
ip netns exec "$ns" ip link set lo up

# ---- vmbus-srvd: one NIC at MTU 9000, the af_packet uplink; one lcore.
# af_packet cannot chain mbufs: its frames (10 KiB) and the pool's mbufs
# (mbuf_size) both hold a 9000 B MTU frame. Blocks hold whole frames with
# no gap (two per 20 KiB block): the PMD looks for frame i at i x framesz.
cat >"$work/conf" <<EOF
[server]
socket = $work/s
stats_period = 1
[bridge]
mbuf_size = 10240
[nic0]
vm = upG
mac = $MAC_G
queues = 1
mtu = 9000
[uplink]
device = net_af_packet_up$$,iface=$veth_h,blocksz=20480,framesz=10240,framecnt=256
EOF
timeout 300 stdbuf -oL "$srvd" -l 0 --no-huge -m 512 --no-pci --no-shconf --no-telemetry \
	--file-prefix="up_$$_s" -- -c "$work/conf" >"$slog" 2>&1 &
srvd_pid=$!
i=0
while ! grep -q "vmbus-srvd: rate" "$slog" && kill -0 "$srvd_pid" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! grep -q "vmbus-srvd: rate" "$slog"; then
	ko "vmbus-srvd did not start"
	cat "$slog"
	smoke_end
	exit 1
fi
srvd_tp=$(pgrep -P "$srvd_pid" | head -1)
info "vmbus-srvd up (pid $srvd_tp), uplink on $veth_h"

# ---- the guest: stock testpmd answering ARP and ping.
mkfifo "$work/g.in"
timeout 240 "$launcher" --socket "$work/s" --vm upG --qpoke "$qpoke" -- \
	stdbuf -oL "$testpmd" --lcores 0@1,1@1 -n 1 -m 160 --no-pci \
	--file-prefix="up_$$_g" --iova-mode=va --single-file-segments \
	--huge-dir /dev/hugepages --no-telemetry -- -i --rxq=1 --txq=1 \
	--mbuf-size=10240 --total-num-mbufs=4096 \
	<"$work/g.in" >"$glog" 2>&1 &
gl_pid=$!
exec 4>"$work/g.in"
if wait_for "$glog" "queue state(s) set to started" 900 && wait_for "$glog" "testpmd>" 100; then
	ok "guest: stock testpmd probed through vmbs-guest"
else
	ko "guest did not come up"
	tail -30 "$glog"
	smoke_end
	exit 1
fi
printf 'set fwd icmpecho\nstart\n' >&4
sleep 1

# ---- traffic from the kernel.
ping_check "arp+ping" 20 -i 0.05
mac=$(ip netns exec "$ns" ip neigh show "$IP_G" | awk '{ print $5 }')
if [ "$mac" = "$MAC_G" ]; then
	ok "arp: the kernel resolved $IP_G to the guest's MAC $mac"
else
	ko "arp: the kernel's neighbour entry for $IP_G is '${mac:-none}'"
fi
ping_check "sizes: 1400 B" 20 -i 0.05 -s 1400
ping_check "sizes: 8972 B (MTU 9000)" 20 -i 0.05 -s 8972 -M do
ping_check "flood" 2000 -f

# ---- offloads the guest leaves to the host, done for the uplink.
vmac=$(ip netns exec "$ns" cat "/sys/class/net/$veth_n/address")
printf 'stop\nport stop 0\ncsum set ip hw 0\ncsum set udp hw 0\ncsum set tcp hw 0
tso set 1000 0\nport start 0\nset eth-peer 0 %s\nset fwd csum\nstart\nmark_offl\n' "$vmac" >&4
if wait_for "$glog" "mark_offl" 300; then
	sleep 1
	out=$(timeout 60 ip netns exec "$ns" python3 "$(dirname "$0")/../tools/uplink_peer.py" \
		--ifname "$veth_n" --guest-mac "$MAC_G" --ip "$IP_NS" --guest-ip "$IP_G" 2>&1)
	printf '%s\n' "$out" | grep -v ": ok: \|: FAILED: \|passed," | sed 's/^/srvd_uplink: peer: /'
	printf '%s\n' "$out" | sed -n 's/^uplink_peer: ok: //p' > "$work/peer.ok"
	printf '%s\n' "$out" | sed -n 's/^uplink_peer: FAILED: //p' > "$work/peer.ko"
	while read -r l; do ok "offloads: $l"; done < "$work/peer.ok"
	while read -r l; do ko "offloads: $l"; done < "$work/peer.ko"
	[ -s "$work/peer.ok" ] || [ -s "$work/peer.ko" ] || ko "offloads: uplink_peer said nothing"
else
	ko "offloads: the guest did not take the csum engine"
	tail -20 "$glog"
fi

# ---- summary.
printf 'stop\n' >&4
kill "$gl_pid" 2>/dev/null
wait "$gl_pid" 2>/dev/null
gl_pid=
kill -TERM "$srvd_pid" 2>/dev/null
wait_pid "$srvd_pid" 150
rc=$?
srvd_pid=
if [ $rc = 0 ] && grep -q "vmbus-srvd: exited cleanly" "$slog" &&
   grep -q "vmbus-srvd: 0 mbuf(s) still in use at exit" "$slog"; then
	ok "vmbus-srvd exited cleanly, no mbuf in use"
else
	ko "vmbus-srvd exit $rc: $(grep -E 'still in use|exited' "$slog" | tr '\n' ' ')"
fi
up_in=$(sv uplink pmd ipackets)
up_out=$(sv uplink pmd opackets)
g_in=$(sv nic0 pmd opackets)
g_out=$(sv nic0 pmd ipackets)
g_err=$(sv nic0 pmd oerrors)
sw_done=$(sv uplink offloads sw_done)
sw_frames=$(sv uplink offloads sw_frames)
sw_drop=$(sv uplink dropped offload)
info "uplink: in ${up_in:-?} out ${up_out:-?}; guest: got ${g_in:-?} (oerrors ${g_err:-?}) sent ${g_out:-?}; offloaded ${sw_done:-?} into ${sw_frames:-?} frames, ${sw_drop:-?} dropped"
# Requests: 20 + 20 + 20 + 2000 echo, plus ARP, plus the peer's 52; the
# guest's port is the only other one, so every frame from the uplink is
# the guest's. What the guest offloaded left as more frames.
if [ "${g_out:-0}" -ge 2113 ] && [ "${g_err:-x}" = 0 ] && [ "${up_in:-x}" = "${g_in:-y}" ] &&
   [ "${sw_done:-x}" = 52 ] && [ "${sw_drop:-x}" = 0 ] &&
   [ "${up_out:-x}" = $((g_out - sw_done + sw_frames)) ]; then
	ok "summary: the guest got every frame the uplink brought, the uplink sent all the guest's ($sw_done offloaded in software as $sw_frames)"
else
	ko "summary: uplink in ${up_in:-?} out ${up_out:-?}, guest got ${g_in:-?} sent ${g_out:-?} oerrors ${g_err:-?}, offloaded ${sw_done:-?} as ${sw_frames:-?}, ${sw_drop:-?} dropped"
fi

# ---- [uplink] mtu beyond what the driver takes (af_packet: 1518 B
# frames through ethdev) stops the server with one line naming the limit.
sed -i '/^\[uplink\]/a mtu = 9000' "$work/conf"
timeout 60 "$srvd" -l 0 --no-huge -m 512 --no-pci --no-shconf --no-telemetry \
	--file-prefix="up_$$_m" -- -c "$work/conf" >"$work/mtu.log" 2>&1
rc=$?
line=$(grep "\[uplink\] mtu 9000" "$work/mtu.log")
if [ $rc != 0 ] && [ -n "$line" ]; then
	ok "config: [uplink] mtu 9000 refused: $line"
else
	ko "config: [uplink] mtu 9000 on af_packet: exit $rc, '${line:-no line}'"
fi
if [ $fail != 0 ]; then
	echo "--- vmbus-srvd log (tail)"
	tail -30 "$slog"
	echo "--- guest log (tail)"
	tail -20 "$glog"
fi
info "total $(($(date +%s) - T0)) s"
smoke_end
