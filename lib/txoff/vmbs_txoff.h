/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Tx offloads in software: what a NIC does on Tx (IPv4 header, TCP and
 * UDP checksums; TCP segmentation), for frames given as iovecs. Used where
 * a frame is copied anyway: lib/netvsp writes each segment into a guest's
 * receive slot; vmbus-srvd builds fresh mbufs for an uplink.
 *
 * Frames: Ethernet, up to two VLAN tags (802.1Q, 802.1ad), IPv4 (options
 * allowed) or IPv6 (hop-by-hop, destination options and finished routing
 * headers allowed), then TCP or UDP. The header lengths come from the
 * frame, never from the caller.
 *
 * The frame may be hostile (another guest's memory, changing under us):
 * its first bytes are copied once into vmbs_txoff_hdrs and only that copy
 * is parsed and edited; the payload is read in place for the sums and the
 * slices, never written. A frame whose bytes change meanwhile gets wrong
 * checksums, nothing worse.
 *
 * Threading: pure functions on caller memory; any thread.
 */

#ifndef VMBS_TXOFF_H
#define VMBS_TXOFF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/** Bytes of the frame copied for its headers (L2 + L3 + L4 must fit). */
#define VMBS_TXOFF_HDR_MAX 256u
/** Segments callers let one TSO frame become (62780 B at an MSS of 536
 *  is 118); more is treated as a bad request. */
#define VMBS_TXOFF_MAX_SEGS 128u

/** A frame's headers: a private copy, parsed and checked. */
struct vmbs_txoff_hdrs {
	uint32_t frame_len;
	uint32_t payload;		/**< L4 payload bytes (from the IP length) */
	uint16_t l2, l3, l4;		/**< header lengths; l4 is 0 for a fragment */
	uint8_t proto;			/**< IPPROTO_TCP or IPPROTO_UDP */
	bool ipv4;
	bool fragment;			/**< IPv4 fragment: IP checksum only */
	uint8_t b[VMBS_TXOFF_HDR_MAX];	/**< the frame's first bytes */
};

/**
 * Copy and parse a frame's headers.
 *
 * @param iov, iovcnt
 *   the frame.
 * @param frame_len
 *   its length (the sum of the iovecs).
 * @param tso
 *   for segmentation: TCP, no fragment, and the IP length is ignored (an
 *   LSO frame's may be 0).
 * @return
 *   0; -EINVAL if headers are malformed or cut short; -EPROTONOSUPPORT if
 *   the frame is not IPv4/IPv6 with TCP or UDP (or not TCP for @p tso).
 */
int vmbs_txoff_parse(const struct iovec *iov, uint16_t iovcnt, uint32_t frame_len, bool tso,
		     struct vmbs_txoff_hdrs *h);

/** Segments of @p mss payload bytes (1 for an empty payload); 0 if mss is 0. */
uint32_t vmbs_txoff_nseg(const struct vmbs_txoff_hdrs *h, uint32_t mss);

/**
 * Segment @p k of @p nseg, checksums filled in.
 *
 * With @p nseg 1 this is the whole frame (its IP length fields rewritten
 * only when @p mss is non-zero, i.e. a TSO frame of one segment). For
 * nseg > 1, segment k carries payload bytes [k * mss, (k + 1) * mss), its
 * own IPv4 total length and id (+k), IPv6 payload length, TCP sequence
 * number (+k * mss), FIN and PSH only on the last, CWR only on the first.
 *
 * @param hdr
 *   receives the segment's headers (l2 + l3 + l4 bytes, at most
 *   VMBS_TXOFF_HDR_MAX).
 * @param out, max
 *   receives the segment: out[0] is @p hdr, then slices of @p iov (at
 *   most iovcnt of them, so max = iovcnt + 1 always suffices).
 * @param csum_ppi
 *   receives VMBS_RNDIS_RXCSUM_IP_OK / _TCP_OK / _UDP_OK for what was
 *   filled in.
 * @return
 *   the number of iovecs in @p out; 0 if @p max is too small.
 */
uint16_t vmbs_txoff_segment(const struct vmbs_txoff_hdrs *h, const struct iovec *iov,
			    uint16_t iovcnt, uint32_t mss, uint32_t k, uint32_t nseg,
			    uint8_t *hdr, struct iovec *out, uint16_t max, uint32_t *csum_ppi);

#endif /* VMBS_TXOFF_H */
