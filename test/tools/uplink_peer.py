#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
"""The kernel side of srvd_uplink.sh's offload check, run in the namespace.

Sends, on a raw packet socket, UDP/IPv4 datagrams and one large TCP frame
each over IPv4 and IPv6 to the guest, all with wrong IPv4, UDP and TCP
checksums; the guest's testpmd (csum engine, hardware checksums and TSO
asked for) sends them back with their checksums left to the host and the
TCP frames to be segmented at MSS, so only the host can make them right. vmbus-srvd does both in
software for the uplink. Everything coming back from the guest's MAC is
checked here, independently: every IPv4 header, UDP and TCP checksum, the
TCP segments' sizes, sequence numbers and rejoined payload.

Prints one line per kind and "uplink_peer: N passed, N failed"; exit 1 on
any failure.
"""

import argparse
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def csum(data, acc=0):
    if len(data) & 1:
        data += b"\0"
    for (w,) in struct.iter_unpack("!H", data):
        acc += w
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


# Checksums are sent wrong on purpose: XORed with this.
WRONG = 0x5A5A


def ipv4(src, dst, proto, l4, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    c = (0xFFFF - csum(hdr)) ^ WRONG
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + l4


def l4_sum(v6, src, dst, proto, l4):
    if v6:
        ph = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + \
            struct.pack("!IxxxB", len(l4), proto)
    else:
        ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!xBH", proto, len(l4))
    return csum(ph + l4)


def udp(v6, src, dst, payload):
    u = struct.pack("!HHHH", 4000, 5000, 8 + len(payload), 0) + payload
    c = (0xFFFF - l4_sum(v6, src, dst, 17, u)) ^ WRONG
    return u[:6] + struct.pack("!H", c) + u[8:]


def tcp(v6, src, dst, seq, payload):
    t = struct.pack("!HHIIBBHHH", 4001, 5001, seq, 1, 5 << 4, 0x18, 65535, 0, 0) + payload
    c = (0xFFFF - l4_sum(v6, src, dst, 6, t)) ^ WRONG
    return t[:16] + struct.pack("!H", c) + t[18:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ifname", required=True)
    ap.add_argument("--guest-mac", required=True)
    ap.add_argument("--ip", required=True)
    ap.add_argument("--guest-ip", required=True)
    ap.add_argument("--udp", type=int, default=50)
    ap.add_argument("--tcp-payload", type=int, default=3000)
    ap.add_argument("--mss", type=int, default=1000)
    a = ap.parse_args()

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.ifname, 0))
    own = s.getsockname()[4][:6]
    gmac = mac(a.guest_mac)
    ip6, gip6 = "fd00:5d::1", "fd00:5d::2"

    frames = []
    for i in range(a.udp):
        pl = bytes((i * 7 + k) & 0xFF for k in range(333 + i))
        frames.append(gmac + own + b"\x08\x00" +
                      ipv4(a.ip, a.guest_ip, 17, udp(False, a.ip, a.guest_ip, pl), i))
    tcp_pl = bytes((k * 13 + (k >> 8)) & 0xFF for k in range(a.tcp_payload))
    frames.append(gmac + own + b"\x08\x00" +
                  ipv4(a.ip, a.guest_ip, 6, tcp(False, a.ip, a.guest_ip, 1000000, tcp_pl), 777))
    t6 = tcp(True, ip6, gip6, 2000000, tcp_pl)
    frames.append(gmac + own + b"\x86\xdd" +
                  struct.pack("!IHBB", 6 << 28, len(t6), 6, 64) +
                  socket.inet_pton(socket.AF_INET6, ip6) + socket.inet_pton(socket.AF_INET6, gip6) +
                  t6)
    for f in frames:
        s.send(f)
        time.sleep(0.002)

    udp_ok = udp_bad = 0
    segs = {4: {}, 6: {}}
    seg_bad = 0
    s.settimeout(0.5)
    end = time.time() + 5
    want_segs = -(-a.tcp_payload // a.mss)
    while time.time() < end:
        try:
            f = s.recv(65535)
        except socket.timeout:
            if udp_ok + udp_bad >= a.udp and all(len(v) >= want_segs for v in segs.values()):
                break
            continue
        if f[6:12] != gmac or f[0:6] != own:
            continue
        et = struct.unpack("!H", f[12:14])[0]
        if et == 0x0800:
            ihl = (f[14] & 0xF) * 4
            ip = f[14:14 + ihl]
            tot = struct.unpack("!H", ip[2:4])[0]
            l4 = f[14 + ihl:14 + tot]
            ok = csum(ip) == 0xFFFF
            src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
            v6, proto = False, ip[9]
        elif et == 0x86DD:
            plen, proto = struct.unpack("!HB", f[18:21])
            l4 = f[54:54 + plen]
            src = socket.inet_ntop(socket.AF_INET6, f[22:38])
            dst = socket.inet_ntop(socket.AF_INET6, f[38:54])
            v6, ok = True, True
        else:
            continue
        ok = ok and l4_sum(v6, src, dst, proto, l4) == 0xFFFF
        if proto == 17:
            if ok:
                udp_ok += 1
            else:
                udp_bad += 1
        elif proto == 6:
            if not ok or len(l4) - 20 > a.mss:
                seg_bad += 1
                continue
            seq = struct.unpack("!I", l4[4:8])[0]
            segs[6 if v6 else 4][seq] = (l4[13], l4[20:])

    passed = failed = 0

    def check(cond, what):
        nonlocal passed, failed
        print("uplink_peer: %s: %s" % ("ok" if cond else "FAILED", what))
        if cond:
            passed += 1
        else:
            failed += 1

    check(udp_ok == a.udp and udp_bad == 0,
          "udp: %d of %d back with good IPv4 and UDP checksums (%d bad)" % (udp_ok, a.udp, udp_bad))
    for ver, base in ((4, 1000000), (6, 2000000)):
        got = segs[ver]
        seqs = sorted(got)
        joined = b"".join(got[q][1] for q in seqs)
        want = [base + k * a.mss for k in range(want_segs)]
        psh = [bool(got[q][0] & 0x08) for q in seqs]
        check(seqs == want and joined == tcp_pl and psh == [False] * (want_segs - 1) + [True],
              "tcp/ipv%d: %d B came back as %d segments of <= %d B, good checksums, "
              "PSH on the last (want %d)" % (ver, len(joined), len(seqs), a.mss, want_segs))
    check(seg_bad == 0, "tcp: %d segments with bad checksums or over the MSS" % seg_bad)
    print("uplink_peer: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
