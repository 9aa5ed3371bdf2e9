/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * VMBus packet codec: parses and builds the descriptor and type header
 * that start every packet in a channel ring (wire reference b.2).
 *
 * Parsing side (g2h, what the server consumes): the input is one packet
 * that lib/bufring has already copied out of the shared ring into private
 * memory, descriptor included and trailer excluded. The ring has checked
 * the framing, but the parser re-checks it (cheaply) and trusts nothing:
 * every field comes from the guest.
 *
 * Building side (h2g for the server: inband, completion and transfer-page
 * packets; g2h for the scripted test guest: inband and GPA-direct): the
 * encoders write the descriptor and the type header into a caller buffer
 * and report the framing for a given payload length. The caller (the ring
 * producer) then places the payload, the padding and the trailer:
 *
 * @code
 *	offset 0            hdr_len = offset8*8         pkt_len = len8*8
 *	| descriptor | type header | payload ... | 0..7 pad | trailer (8) |
 *	                            <-payload_len->
 * @endcode
 *
 * len8 covers the payload end rounded up to 8; the trailer is not counted
 * in len8. A packet therefore takes pkt_len + VMBS_PKT_TRAILER_SIZE bytes
 * of ring space.
 *
 * Threading: pure functions over caller-owned memory, no global state, no
 * EAL: thread-safe; each call only touches its own arguments.
 *
 * Parse usage:
 * @code
 *	struct vmbs_desc_info di;
 *	struct vmbs_gparange_iter it;
 *	struct vmbs_gparange r;
 *
 *	if (vmbs_desc_parse(pkt, len, &di) < 0)
 *		drop_and_count();
 *	if (di.type == VMBS_PKT_DATA_GPA_DIRECT) {
 *		vmbs_desc_gpa_iter(pkt, &di, &it);
 *		while (vmbs_gparange_next(&it, &r) > 0)	// already validated
 *			map(r.byte_offset, r.byte_count, r.pfns, r.pfn_cnt);
 *	}
 *	handle((const uint8_t *)pkt + di.payload_off, di.payload_len);
 * @endcode
 */

#ifndef VMBS_DESC_H
#define VMBS_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "vmbs_gparange.h"
#include "vmbs_wire.h"

/** Largest packet (excluding trailer) a u16 len8 can describe: 524280 B. */
#define VMBS_DESC_MAX_PKT_LEN (UINT16_MAX * 8u)

/** Fixed bytes before the first range of a GPA-direct or xfer-page packet. */
#define VMBS_DESC_RANGES_OFF \
	(sizeof(struct vmbs_pkt_desc) + sizeof(struct vmbs_gpa_direct_hdr))

/** What vmbs_desc_parse() learnt from a valid packet. */
struct vmbs_desc_info {
	enum vmbs_pkt_type type;	/**< 6, 7, 9 or 0xb */
	uint16_t flags;			/**< subset of VMBS_PKT_F_COMPLETION_REQUESTED */
	uint16_t offset8;		/**< as on the wire, >= 2 */
	uint16_t len8;			/**< as on the wire, >= offset8 */
	uint64_t trans_id;		/**< as on the wire, opaque */
	uint32_t payload_off;		/**< offset8 * 8, from the packet start */
	/**
	 * len8 * 8 - payload_off. VMBus carries no exact payload length: this
	 * includes the sender's 0..7 padding bytes, so inner protocols must
	 * carry their own length.
	 */
	uint32_t payload_len;
	uint32_t range_off;		/**< types 7/9: offset of the first range; else 0 */
	uint32_t range_len;		/**< types 7/9: bytes the ranges occupy; else 0 */
	uint32_t range_cnt;		/**< types 7/9: number of ranges (> 0); else 0 */
	uint32_t pfn_cnt;		/**< type 9: PFNs over all ranges; else 0 */
	uint64_t byte_total;		/**< types 7/9: sum of byte_count; else 0 */
	uint16_t xfer_pageset_id;	/**< type 7 only: transfer page set id */
	uint8_t xfer_sender_owns;	/**< type 7 only: sender_owns_set */
};

/**
 * Optional caps on a packet's external data (GPA-direct or xfer ranges),
 * the analogue of KMCL's maximum-external-data setting. Zero means no cap.
 */
struct vmbs_desc_limits {
	uint32_t max_ranges;	/**< most ranges accepted, 0 = unlimited */
	uint64_t max_bytes;	/**< most sum(byte_count) accepted, 0 = unlimited */
};

/** Framing of a packet built by one of the encoders. */
struct vmbs_desc_layout {
	uint16_t offset8;	/**< hdr_len / 8 */
	uint16_t len8;		/**< pkt_len / 8 */
	uint32_t hdr_len;	/**< bytes written to the buffer: descriptor + type header */
	/**
	 * hdr_len + payload_len rounded up to 8: the caller writes the payload
	 * at hdr_len, zero padding up to pkt_len, then the 8-byte trailer.
	 */
	uint32_t pkt_len;
};

/** One GPA-direct range given as a guest-physical address and a length. */
struct vmbs_desc_gpa_seg {
	uint64_t gpa;		/**< first byte; any alignment */
	uint32_t len;		/**< bytes, > 0 */
};

/** One GPA-direct range given in wire form. */
struct vmbs_desc_gpa_pages {
	uint32_t byte_offset;	/**< into the first page, < 4096 */
	uint32_t byte_count;	/**< > 0 */
	/** ceil((byte_offset + byte_count) / 4096) page numbers, each <= VMBS_GPA_MAX_PFN */
	const uint64_t *pfns;
};

/**
 * Validate one packet copied out of a ring.
 *
 * Checks, in order: @p len holds a descriptor; type is 6, 7, 9 or 0xb;
 * flags contain nothing but VMBS_PKT_F_COMPLETION_REQUESTED; 2 <= offset8
 * <= len8; len8 * 8 <= @p len. Type 9: the GPA-direct header fits below
 * offset8 * 8, range_cnt > 0, and every range (byte_count > 0,
 * byte_offset < 4096, full PFN list, PFN <= VMBS_GPA_MAX_PFN, no u32
 * overflow) lies inside [24, offset8 * 8). Type 7: the transfer-page
 * header and range_cnt > 0 ranges fit below offset8 * 8. Bytes between the
 * last range and offset8 * 8 are tolerated and ignored.
 *
 * Equivalent to vmbs_desc_parse_limits() with no limits.
 *
 * @param pkt
 *   the packet in private memory (never the shared ring: ranges are
 *   validated in place and must not change afterwards).
 * @param len
 *   bytes available at @p pkt; more than len8 * 8 is allowed.
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   0 if valid; -EBADMSG if malformed; -EINVAL if @p pkt or @p out is NULL.
 */
int vmbs_desc_parse(const void *pkt, uint32_t len, struct vmbs_desc_info *out);

/**
 * vmbs_desc_parse() with caps on the ranges of types 7 and 9.
 *
 * @param pkt
 *   the packet in private memory.
 * @param len
 *   bytes available at @p pkt.
 * @param lim
 *   caps to apply, or NULL for none.
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   0 if valid; -EBADMSG if malformed; -E2BIG if well-formed but over a
 *   cap in @p lim; -EINVAL if @p pkt or @p out is NULL.
 */
int vmbs_desc_parse_limits(const void *pkt, uint32_t len,
			   const struct vmbs_desc_limits *lim,
			   struct vmbs_desc_info *out);

/**
 * Start walking the ranges of a GPA-direct packet that vmbs_desc_parse()
 * accepted. Every vmbs_gparange_next() then returns 1 exactly range_cnt
 * times, as long as the packet bytes have not changed since the parse.
 *
 * @param pkt
 *   the packet passed to vmbs_desc_parse().
 * @param info
 *   its result; type must be VMBS_PKT_DATA_GPA_DIRECT.
 * @param it
 *   iterator to initialise.
 * @return
 *   0; -EINVAL if @p info is not a GPA-direct packet.
 */
int vmbs_desc_gpa_iter(const void *pkt, const struct vmbs_desc_info *info,
		       struct vmbs_gparange_iter *it);

/**
 * Read range @p idx of a transfer-page packet that vmbs_desc_parse()
 * accepted. The range's offset and count are not checked here: they index
 * the receiver's transfer page set, which only the receiver knows.
 *
 * @param pkt
 *   the packet passed to vmbs_desc_parse().
 * @param info
 *   its result; type must be VMBS_PKT_DATA_XFER_PAGES.
 * @param idx
 *   range index, < info->range_cnt.
 * @param out
 *   receives the range.
 * @return
 *   0; -EINVAL if @p info is not a transfer-page packet or @p idx is too big.
 */
int vmbs_desc_xfer_range(const void *pkt, const struct vmbs_desc_info *info,
			 uint32_t idx, struct vmbs_xfer_range *out);

/**
 * Build the descriptor of an inband packet (type 6), 16 bytes.
 *
 * @param buf
 *   where the descriptor goes.
 * @param buf_len
 *   bytes available at @p buf.
 * @param trans_id
 *   transaction id the peer echoes in its completion.
 * @param flags
 *   0 or VMBS_PKT_F_COMPLETION_REQUESTED.
 * @param payload_len
 *   bytes of payload the caller will place at layout->hdr_len.
 * @param layout
 *   receives the framing.
 * @return
 *   0; -EINVAL for NULL pointers or unknown flags; -E2BIG if the packet
 *   would exceed VMBS_DESC_MAX_PKT_LEN; -ENOBUFS if @p buf_len is below
 *   layout->hdr_len. Nothing is written on failure.
 */
int vmbs_desc_encode_inband(void *buf, size_t buf_len, uint64_t trans_id,
			    uint16_t flags, uint32_t payload_len,
			    struct vmbs_desc_layout *layout);

/**
 * Build the descriptor of a completion packet (type 0xb, flags 0), 16
 * bytes. @p trans_id must echo the completed packet's.
 *
 * @param buf
 *   where the descriptor goes.
 * @param buf_len
 *   bytes available at @p buf.
 * @param trans_id
 *   the completed request's transaction id.
 * @param payload_len
 *   bytes of completion payload (may be 0).
 * @param layout
 *   receives the framing.
 * @return
 *   0; -EINVAL for NULL pointers; -E2BIG if the packet would exceed
 *   VMBS_DESC_MAX_PKT_LEN; -ENOBUFS if @p buf_len is too small.
 */
int vmbs_desc_encode_comp(void *buf, size_t buf_len, uint64_t trans_id,
			  uint32_t payload_len, struct vmbs_desc_layout *layout);

/**
 * Build descriptor + transfer-page header + ranges (type 7): 24 + 8 *
 * @p range_cnt bytes.
 *
 * @param buf
 *   where the header goes.
 * @param buf_len
 *   bytes available at @p buf.
 * @param trans_id
 *   transaction id (netvsp: below the guest's receive sub-allocation count).
 * @param flags
 *   0 or VMBS_PKT_F_COMPLETION_REQUESTED.
 * @param pageset_id
 *   the receiver's transfer page set id (netvsc: its receive-buffer id).
 * @param sender_owns
 *   sender_owns_set byte.
 * @param ranges
 *   @p range_cnt ranges, copied as given.
 * @param range_cnt
 *   > 0.
 * @param payload_len
 *   bytes of payload after the ranges.
 * @param layout
 *   receives the framing.
 * @return
 *   0; -EINVAL for NULL pointers, unknown flags or @p range_cnt 0; -E2BIG
 *   if the packet would exceed VMBS_DESC_MAX_PKT_LEN; -ENOBUFS if
 *   @p buf_len is too small.
 */
int vmbs_desc_encode_xfer(void *buf, size_t buf_len, uint64_t trans_id,
			  uint16_t flags, uint16_t pageset_id, uint8_t sender_owns,
			  const struct vmbs_xfer_range *ranges, uint32_t range_cnt,
			  uint32_t payload_len, struct vmbs_desc_layout *layout);

/**
 * Build descriptor + GPA-direct header + ranges (type 9) from
 * (gpa, len) segments: one range per segment, spanning as many PFNs as the
 * segment touches. Header size: 24 + sum(8 + 8 * pages(segment)).
 *
 * @param buf
 *   where the header goes.
 * @param buf_len
 *   bytes available at @p buf.
 * @param trans_id
 *   transaction id.
 * @param flags
 *   0 or VMBS_PKT_F_COMPLETION_REQUESTED.
 * @param segs
 *   @p seg_cnt segments, each len > 0 and wholly below 2^52.
 * @param seg_cnt
 *   > 0.
 * @param payload_len
 *   bytes of inband payload after the ranges.
 * @param layout
 *   receives the framing.
 * @return
 *   0; -EINVAL for NULL pointers, unknown flags, no segments, or a segment
 *   that is empty or reaches past the 52-bit GPA space; -E2BIG if the
 *   packet would exceed VMBS_DESC_MAX_PKT_LEN; -ENOBUFS if @p buf_len is
 *   too small. Nothing is written on failure.
 */
int vmbs_desc_encode_gpa(void *buf, size_t buf_len, uint64_t trans_id,
			 uint16_t flags, const struct vmbs_desc_gpa_seg *segs,
			 uint32_t seg_cnt, uint32_t payload_len,
			 struct vmbs_desc_layout *layout);

/**
 * Build descriptor + GPA-direct header + ranges (type 9) from ranges in
 * wire form (byte_offset, byte_count, pfns[]).
 *
 * @param buf
 *   where the header goes.
 * @param buf_len
 *   bytes available at @p buf.
 * @param trans_id
 *   transaction id.
 * @param flags
 *   0 or VMBS_PKT_F_COMPLETION_REQUESTED.
 * @param ranges
 *   @p range_cnt ranges; each must satisfy the parser's rules.
 * @param range_cnt
 *   > 0.
 * @param payload_len
 *   bytes of inband payload after the ranges.
 * @param layout
 *   receives the framing.
 * @return
 *   0; -EINVAL for NULL pointers, unknown flags, no ranges, or a range the
 *   parser would reject; -E2BIG if the packet would exceed
 *   VMBS_DESC_MAX_PKT_LEN; -ENOBUFS if @p buf_len is too small.
 */
int vmbs_desc_encode_gpa_pages(void *buf, size_t buf_len, uint64_t trans_id,
			       uint16_t flags,
			       const struct vmbs_desc_gpa_pages *ranges,
			       uint32_t range_cnt, uint32_t payload_len,
			       struct vmbs_desc_layout *layout);

#endif /* VMBS_DESC_H */
