/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Internals of the VMBus ring buffer: inline hot paths and every atomic
 * operation on the shared control page. Do not include directly; include
 * vmbs_bufring.h. Same viewpoint as there: a handle is either the producer
 * or the consumer of one ring half.
 *
 * Memory ordering, by label. "Pairs with" names the op on the other side.
 *
 * Producer (owns write_index and pending_send_sz, feature_bits):
 *  P1 acquire load of read_index. Pairs with C2: the consumer has finished
 *     copying bytes out before it releases them, so overwriting them after
 *     P1 cannot corrupt a packet it is still reading.
 *  P2 release store of write_index. Pairs with C1, C5 and C7: packet bytes
 *     (descriptor, payload, padding, trailer) are visible before the index
 *     that covers them.
 *  F1 full fence between P2 and the loads of interrupt_mask (P3) and
 *     read_index (P1). Pairs with F3. Store-then-load on both sides
 *     (Dekker): either the consumer's recheck after unmasking sees our new
 *     write_index, or we see its cleared mask and signal. Without it, both
 *     could read the stale value and the wakeup is lost.
 *  P3 relaxed load of interrupt_mask; ordered by F1.
 *  P4 release store of pending_send_sz. Pairs with C4: a consumer that
 *     sees the request also sees the write_index published before it.
 *  F2 full fence between P4 and the recheck of read_index (P1). Pairs with
 *     F4: either our recheck sees the consumer's new read_index, or the
 *     consumer sees our pending_send_sz and signals.
 *  P5 relaxed store clearing pending_send_sz: a consumer that still sees
 *     the old value sends one spurious signal, which is harmless.
 *  P6 relaxed load and store of feature_bits at init, before the ring is
 *     in use (the channel-open handshake orders it for the peer).
 *
 * Consumer (owns read_index and interrupt_mask):
 *  C1 acquire load of write_index, once per batch. Pairs with P2.
 *  C2 release store of read_index, once per batch. Pairs with P1.
 *  F4 full fence between C2 and the loads of pending_send_sz (C4) and
 *     write_index (C5). Pairs with F2.
 *  C3 relaxed load of feature_bits: a static setting, any order will do.
 *  C4 acquire load of pending_send_sz. Pairs with P4.
 *  C5 acquire load of write_index for the signal decision. Pairs with P2.
 *     Fresh, not the batch snapshot: space is judged against what the
 *     producer had written when it blocked, or the crossing could be
 *     missed.
 *  C6 relaxed store of interrupt_mask (set or clear).
 *  F3 full fence between C6 (clearing) and C7. Pairs with F1.
 *  C7 acquire load of write_index, the recheck after unmasking. Pairs
 *     with P2.
 *  K1 compiler barrier after copying a descriptor out of the ring: the
 *     compiler may not re-read the shared bytes in place of the private
 *     copy (no double fetch), even though they are not volatile.
 *
 * Both:
 *  I1 acquire load of an index at attach time. Pairs with P2 or C2 of a
 *     peer that is already running.
 */

#ifndef VMBS_BUFRING_PVT_H
#define VMBS_BUFRING_PVT_H

#ifndef VMBS_BUFRING_H
#error "include vmbs_bufring.h, not vmbs_bufring_pvt.h"
#endif

#define vmbs_br_likely(x) __builtin_expect(!!(x), 1)
#define vmbs_br_unlikely(x) __builtin_expect(!!(x), 0)

/** Largest packet the descriptor can describe: len8 is a u16. */
#define VMBS_BR_PVT_MAX_PKT_LEN ((uint32_t)UINT16_MAX << 3)

/**
 * Latch @p cause as the ring's sticky error (the first cause wins).
 * Cold, out of line, in bufring.c.
 *
 * @return
 *   -EPROTO, for the caller to return.
 */
int vmbs_br_pvt_fail(struct vmbs_br *br, enum vmbs_br_err cause)
	__attribute__((cold, noinline));

/* ---- index arithmetic: compare-and-subtract, never a division ------- */

/** An index the peer wrote is usable: inside the data area, 8-aligned. */
static inline bool
vmbs_br_pvt_idx_ok(const struct vmbs_br *br, uint32_t idx)
{
	return idx < br->size && (idx & 7u) == 0;
}

/** Bytes from @p from forward to @p to, both < size. */
static inline uint32_t
vmbs_br_pvt_dist(const struct vmbs_br *br, uint32_t to, uint32_t from)
{
	return to >= from ? to - from : to + br->size - from;
}

/** Bring an offset below 2 * size back into [0, size). */
static inline uint32_t
vmbs_br_pvt_wrap(const struct vmbs_br *br, uint32_t off)
{
	return off >= br->size ? off - br->size : off;
}

static inline uint64_t
vmbs_br_pvt_pkt_size(size_t len)
{
	return sizeof(struct vmbs_pkt_desc) + (((uint64_t)len + 7) & ~(uint64_t)7) +
		VMBS_PKT_TRAILER_SIZE;
}

/**
 * Copy @p len bytes (<= size) out of the ring from offset @p off (< size),
 * splitting at the end of the data area.
 */
static inline void
vmbs_br_pvt_copy_out(const struct vmbs_br *br, uint32_t off, void *dst,
		     uint32_t len)
{
	uint32_t first = br->size - off;

	if (vmbs_br_likely(len <= first)) {
		memcpy(dst, br->data + off, len);
	} else {
		memcpy(dst, br->data + off, first);
		memcpy((uint8_t *)dst + first, br->data, len - first);
	}
}

/**
 * Copy @p len bytes (< size) into the ring at offset @p off (< size).
 *
 * @return
 *   The offset just past the copy, wrapped.
 */
static inline uint32_t
vmbs_br_pvt_copy_in(struct vmbs_br *br, uint32_t off, const void *src,
		    uint32_t len)
{
	uint32_t first = br->size - off;

	if (vmbs_br_likely(len <= first)) {
		memcpy(br->data + off, src, len);
	} else {
		memcpy(br->data + off, src, first);
		memcpy(br->data, (const uint8_t *)src + first, len - first);
	}
	return vmbs_br_pvt_wrap(br, off + len);
}

/* ---- atomics: init ------------------------------------------------- */

static inline uint32_t
vmbs_br_pvt_load_idx_init(const uint32_t *idx)
{
	return __atomic_load_n(idx, __ATOMIC_ACQUIRE);	/* I1 */
}

static inline void
vmbs_br_pvt_set_feature(struct vmbs_br *br, uint32_t bit)
{
	uint32_t v = __atomic_load_n(&br->ctl->feature_bits, __ATOMIC_RELAXED); /* P6 */

	__atomic_store_n(&br->ctl->feature_bits, v | bit, __ATOMIC_RELAXED);	/* P6 */
}

/* ---- atomics: producer --------------------------------------------- */

/**
 * Load and validate read_index, and check it only moved towards the
 * write_index the consumer can see: the unread span never grows. A
 * consumer moving it back, or past our write_index, is corrupt.
 *
 * @return
 *   0, with tx.ri_last updated; -EPROTO (latched) otherwise.
 */
static inline int
vmbs_br_pvt_tx_refresh_ri(struct vmbs_br *br)
{
	uint32_t ri = __atomic_load_n(&br->ctl->read_index, __ATOMIC_ACQUIRE); /* P1 */
	uint32_t wc = br->tx.wi_commit;

	if (vmbs_br_unlikely(!vmbs_br_pvt_idx_ok(br, ri)))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_RIDX_BAD);
	if (vmbs_br_unlikely(vmbs_br_pvt_dist(br, wc, ri) >
			     vmbs_br_pvt_dist(br, wc, br->tx.ri_last)))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_RIDX_BACKWARDS);
	br->tx.ri_last = ri;
	return 0;
}

static inline void
vmbs_br_pvt_tx_set_pending(struct vmbs_br *br, uint32_t bytes)
{
	__atomic_store_n(&br->ctl->pending_send_sz, bytes, __ATOMIC_RELEASE);	/* P4 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);				/* F2 */
	br->tx.pending_set = true;
}

static inline void
vmbs_br_pvt_tx_clear_pending(struct vmbs_br *br)
{
	__atomic_store_n(&br->ctl->pending_send_sz, 0, __ATOMIC_RELAXED);	/* P5 */
	br->tx.pending_set = false;
}

static inline int
vmbs_br_pvt_tx_put(struct vmbs_br *br, const struct vmbs_pkt_desc *desc,
		   const struct iovec *iov, unsigned int iovcnt)
{
	static const uint8_t zero[8];
	struct vmbs_pkt_desc d;
	uint64_t trailer;
	uint64_t len = 0;
	uint32_t pkt_len, total, start, off;
	unsigned int i;

	if (vmbs_br_unlikely(br->err != VMBS_BR_ERR_NONE))
		return -EPROTO;
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (vmbs_br_unlikely(len > VMBS_BR_PVT_MAX_PKT_LEN - sizeof(d)))
		return -EMSGSIZE;
	pkt_len = (uint32_t)((sizeof(d) + len + 7) & ~(uint64_t)7);
	total = pkt_len + VMBS_PKT_TRAILER_SIZE;
	/* Even an empty ring must keep 8 bytes free: empty == full otherwise. */
	if (vmbs_br_unlikely(total >= br->size))
		return -EMSGSIZE;
	if (vmbs_br_unlikely(desc->offset8 < 2 || desc->offset8 > (pkt_len >> 3)))
		return -EINVAL;

	start = br->tx.wi;
	/* The cached read_index is enough while it shows room: look again only when short. */
	if (vmbs_br_unlikely(br->size - vmbs_br_pvt_dist(br, start, br->tx.ri_last) <= total)) {
		if (vmbs_br_pvt_tx_refresh_ri(br) < 0)
			return -EPROTO;
		if (br->size - vmbs_br_pvt_dist(br, start, br->tx.ri_last) <= total) {
			br->tx.full++;
			return -EAGAIN;
		}
	}
	if (vmbs_br_unlikely(br->tx.pending_set))
		vmbs_br_pvt_tx_clear_pending(br);

	d = *desc;
	d.len8 = (uint16_t)(pkt_len >> 3);
	off = vmbs_br_pvt_copy_in(br, start, &d, sizeof(d));
	for (i = 0; i < iovcnt; i++) {
		/* An empty entry may have a NULL base: memcpy must not see it. */
		if (iov[i].iov_len != 0)
			off = vmbs_br_pvt_copy_in(br, off, iov[i].iov_base,
						  (uint32_t)iov[i].iov_len);
	}
	/* Zero the padding: stale host memory must not leak to the guest. */
	if (pkt_len - sizeof(d) != len)
		off = vmbs_br_pvt_copy_in(br, off, zero,
					  (uint32_t)(pkt_len - sizeof(d) - len));
	trailer = VMBS_PKT_TRAILER(start);
	off = vmbs_br_pvt_copy_in(br, off, &trailer, sizeof(trailer));

	br->tx.wi = off;
	br->tx.pkts++;
	br->tx.bytes += pkt_len;
	return 0;
}

static inline bool
vmbs_br_pvt_tx_commit(struct vmbs_br *br)
{
	uint32_t old = br->tx.wi_commit;
	uint32_t mask;

	if (vmbs_br_unlikely(br->err != VMBS_BR_ERR_NONE) || br->tx.wi == old)
		return false;
	__atomic_store_n(&br->ctl->write_index, br->tx.wi, __ATOMIC_RELEASE);	/* P2 */
	br->tx.wi_commit = br->tx.wi;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);				/* F1 */
	mask = __atomic_load_n(&br->ctl->interrupt_mask, __ATOMIC_RELAXED);	/* P3 */
	if (mask != 0)
		return false;
	/*
	 * Fresh read_index (P1, after F1): a consumer that drained the ring
	 * since we last looked and then unmasked must be woken.
	 */
	if (vmbs_br_pvt_tx_refresh_ri(br) < 0)
		return false;
	return br->tx.ri_last == old;
}

/* ---- atomics: consumer --------------------------------------------- */

static inline void
vmbs_br_pvt_rx_set_mask(struct vmbs_br *br, uint32_t mask)
{
	__atomic_store_n(&br->ctl->interrupt_mask, mask, __ATOMIC_RELAXED);	/* C6 */
}

/** Unmask, then look at write_index again. */
static inline uint32_t
vmbs_br_pvt_rx_unmask_recheck(struct vmbs_br *br)
{
	vmbs_br_pvt_rx_set_mask(br, 0);						/* C6 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);				/* F3 */
	return __atomic_load_n(&br->ctl->write_index, __ATOMIC_ACQUIRE);	/* C7 */
}

static inline int
vmbs_br_pvt_rx_begin(struct vmbs_br *br)
{
	uint32_t wi;

	if (vmbs_br_unlikely(br->err != VMBS_BR_ERR_NONE))
		return -EPROTO;
	wi = __atomic_load_n(&br->ctl->write_index, __ATOMIC_ACQUIRE);	/* C1 */
	if (vmbs_br_unlikely(!vmbs_br_pvt_idx_ok(br, wi)))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_WIDX_BAD);
	/*
	 * The producer sees at best our committed read_index, so the unread
	 * span measured from it can only grow. Shrinking means write_index
	 * was moved back over data we may already have handed out.
	 */
	if (vmbs_br_unlikely(vmbs_br_pvt_dist(br, wi, br->rx.ri_commit) <
			     vmbs_br_pvt_dist(br, br->rx.wi_snap, br->rx.ri_commit)))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_WIDX_BACKWARDS);
	br->rx.wi_snap = wi;
	return wi == br->rx.rd ? -EAGAIN : 0;
}

/**
 * Copy out and check the framing of the descriptor at the read position,
 * once: the copy is kept until the packet is taken.
 *
 * @return
 *   Packet length (len8 * 8); -EAGAIN at the end of the snapshot; -EPROTO.
 */
static inline int
vmbs_br_pvt_rx_load_desc(struct vmbs_br *br)
{
	uint32_t avail, len;

	if (vmbs_br_unlikely(br->err != VMBS_BR_ERR_NONE))
		return -EPROTO;
	if (br->rx.have_desc)
		return (int)((uint32_t)br->rx.desc.len8 << 3);
	if (br->rx.rd == br->rx.wi_snap)
		return -EAGAIN;
	avail = vmbs_br_pvt_dist(br, br->rx.wi_snap, br->rx.rd);
	/*
	 * Both are 8-aligned, so at least 8 bytes are written; 16 are read
	 * (in bounds: the copy wraps) and the overrun check below rejects a
	 * descriptor that was not all written.
	 */
	vmbs_br_pvt_copy_out(br, br->rx.rd, &br->rx.desc, sizeof(br->rx.desc));
	__asm__ volatile("" ::: "memory");					/* K1 */
	if (vmbs_br_unlikely(br->rx.desc.offset8 < 2))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_DESC_OFFSET);
	if (vmbs_br_unlikely(br->rx.desc.len8 < br->rx.desc.offset8))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_DESC_LEN);
	len = (uint32_t)br->rx.desc.len8 << 3;
	if (vmbs_br_unlikely(len + VMBS_PKT_TRAILER_SIZE > avail))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_DESC_OVERRUN);
	br->rx.have_desc = true;
	return (int)len;
}

static inline int
vmbs_br_pvt_rx_peek(struct vmbs_br *br, struct vmbs_pkt_desc *desc)
{
	int len = vmbs_br_pvt_rx_load_desc(br);

	if (len > 0 && desc != NULL)
		*desc = br->rx.desc;
	return len;
}

static inline int
vmbs_br_pvt_rx_next(struct vmbs_br *br, void *buf, size_t buflen)
{
	const uint32_t dsz = sizeof(struct vmbs_pkt_desc);
	int ret = vmbs_br_pvt_rx_load_desc(br);
	uint32_t len;

	if (vmbs_br_unlikely(ret < 0))
		return ret;
	len = (uint32_t)ret;
	if (vmbs_br_unlikely(buflen < len))
		return -ENOBUFS;
	/* The descriptor comes from the validated copy, not the ring. */
	memcpy(buf, &br->rx.desc, dsz);
	vmbs_br_pvt_copy_out(br, vmbs_br_pvt_wrap(br, br->rx.rd + dsz),
			     (uint8_t *)buf + dsz, len - dsz);
	/* len + trailer <= avail < size: one subtraction wraps it. */
	br->rx.rd = vmbs_br_pvt_wrap(br, br->rx.rd + len + VMBS_PKT_TRAILER_SIZE);
	br->rx.have_desc = false;
	br->rx.pkts++;
	br->rx.bytes += len;
	return ret;
}

static inline bool
vmbs_br_pvt_rx_commit(struct vmbs_br *br)
{
	uint32_t old = br->rx.ri_commit;
	uint32_t rd = br->rx.rd;
	uint32_t pend, wi, free_after, consumed;

	if (vmbs_br_unlikely(br->err != VMBS_BR_ERR_NONE) || rd == old)
		return false;
	__atomic_store_n(&br->ctl->read_index, rd, __ATOMIC_RELEASE);		/* C2 */
	br->rx.ri_commit = rd;
	if (!(__atomic_load_n(&br->ctl->feature_bits, __ATOMIC_RELAXED) &	/* C3 */
	      VMBS_RING_FEAT_PENDING_SEND_SZ))
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);				/* F4 */
	/* Some producers write "ring size - 1": only whole 8-byte units count. */
	pend = __atomic_load_n(&br->ctl->pending_send_sz, __ATOMIC_ACQUIRE) & ~7u; /* C4 */
	if (pend == 0)
		return false;
	wi = __atomic_load_n(&br->ctl->write_index, __ATOMIC_ACQUIRE);	/* C5 */
	if (vmbs_br_unlikely(!vmbs_br_pvt_idx_ok(br, wi))) {
		vmbs_br_pvt_fail(br, VMBS_BR_ERR_WIDX_BAD);
		return false;
	}
	free_after = br->size - vmbs_br_pvt_dist(br, wi, rd);
	consumed = vmbs_br_pvt_dist(br, rd, old);
	/* Impossible unless write_index moved back; then there is no crossing to report. */
	if (free_after < consumed)
		return false;
	return free_after - consumed < pend && free_after >= pend;
}

#endif /* VMBS_BUFRING_PVT_H */
