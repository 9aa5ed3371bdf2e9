/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Cold paths of the VMBus ring buffer: attach, the producer's wait-for-space
 * request, the consumer's interrupt mask, counters. The hot paths are inline
 * in vmbs_bufring_pvt.h, as are all atomics (this file calls them by name).
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vmbs_bufring.h"

int
vmbs_br_pvt_fail(struct vmbs_br *br, enum vmbs_br_err cause)
{
	/* Keep the first cause: later ones are usually its consequences. */
	if (br->err == VMBS_BR_ERR_NONE)
		br->err = cause;
	return -EPROTO;
}

int
vmbs_br_init(struct vmbs_br *br, void *half, size_t half_size,
	     enum vmbs_br_role role, unsigned int flags)
{
	size_t data_size;
	uint32_t wi, ri;

	if (br == NULL || half == NULL || ((uintptr_t)half & 7u) != 0)
		return -EINVAL;
	if (half_size <= VMBS_PAGE_SIZE)
		return -EINVAL;
	data_size = half_size - VMBS_PAGE_SIZE;
	/* Indices are u32 and sums of two of them must not overflow. */
	if ((data_size & VMBS_PAGE_MASK) != 0 || data_size > (UINT32_MAX >> 1))
		return -EINVAL;
	if (role == VMBS_BR_PRODUCER) {
		if ((flags & ~VMBS_BR_F_FEAT_PENDING_SEND_SZ) != 0)
			return -EINVAL;
	} else if (role == VMBS_BR_CONSUMER) {
		if ((flags & ~VMBS_BR_F_POLL) != 0)
			return -EINVAL;
	} else {
		return -EINVAL;
	}

	memset(br, 0, sizeof(*br));
	br->ctl = half;
	br->data = (uint8_t *)half + VMBS_PAGE_SIZE;
	br->size = (uint32_t)data_size;
	br->role = role;

	/*
	 * Take the indices as found: the peer may have written packets before
	 * we attach. Any pair of valid indices is a consistent ring state.
	 */
	wi = vmbs_br_pvt_load_idx_init(&br->ctl->write_index);
	ri = vmbs_br_pvt_load_idx_init(&br->ctl->read_index);
	if (!vmbs_br_pvt_idx_ok(br, wi))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_WIDX_BAD);
	if (!vmbs_br_pvt_idx_ok(br, ri))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_RIDX_BAD);

	if (role == VMBS_BR_PRODUCER) {
		br->tx.wi = wi;
		br->tx.wi_commit = wi;
		br->tx.ri_last = ri;
		if (flags & VMBS_BR_F_FEAT_PENDING_SEND_SZ)
			vmbs_br_pvt_set_feature(br, VMBS_RING_FEAT_PENDING_SEND_SZ);
	} else {
		br->rx.rd = ri;
		br->rx.ri_commit = ri;
		/* Nothing seen yet: any write_index is forward progress. */
		br->rx.wi_snap = ri;
		if (flags & VMBS_BR_F_POLL)
			vmbs_br_pvt_rx_set_mask(br, 1);
	}
	return 0;
}

int
vmbs_br_tx_request_space(struct vmbs_br *br, uint64_t min_free)
{
	uint32_t want;

	if (br->err != VMBS_BR_ERR_NONE)
		return -EPROTO;
	if (br->tx.wi != br->tx.wi_commit)
		return -EBUSY;
	/* The consumer compares whole 8-byte units; more than size never comes. */
	if (min_free > br->size)
		min_free = br->size;
	want = (uint32_t)((min_free + 7) & ~(uint64_t)7);
	if (want == 0)
		want = 8;

	vmbs_br_pvt_tx_set_pending(br, want);
	/* The re-check after F2: the consumer may have drained just before. */
	if (vmbs_br_pvt_tx_refresh_ri(br) < 0)
		return -EPROTO;
	if (br->size - vmbs_br_pvt_dist(br, br->tx.wi, br->tx.ri_last) >= want) {
		vmbs_br_pvt_tx_clear_pending(br);
		return 1;
	}
	return 0;
}

void
vmbs_br_tx_clear_pending(struct vmbs_br *br)
{
	vmbs_br_pvt_tx_clear_pending(br);
}

int
vmbs_br_rx_intr_enable(struct vmbs_br *br)
{
	uint32_t wi;

	if (br->err != VMBS_BR_ERR_NONE)
		return -EPROTO;
	wi = vmbs_br_pvt_rx_unmask_recheck(br);
	if (!vmbs_br_pvt_idx_ok(br, wi))
		return vmbs_br_pvt_fail(br, VMBS_BR_ERR_WIDX_BAD);
	return wi != br->rx.rd ? 1 : 0;
}

void
vmbs_br_rx_intr_disable(struct vmbs_br *br)
{
	vmbs_br_pvt_rx_set_mask(br, 1);
}

void
vmbs_br_stats_get(const struct vmbs_br *br, struct vmbs_br_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	if (br->role == VMBS_BR_PRODUCER) {
		stats->pkts = br->tx.pkts;
		stats->bytes = br->tx.bytes;
		stats->full = br->tx.full;
	} else {
		stats->pkts = br->rx.pkts;
		stats->bytes = br->rx.bytes;
	}
	stats->err = br->err;
}

const char *
vmbs_br_err_str(enum vmbs_br_err err)
{
	switch (err) {
	case VMBS_BR_ERR_NONE:
		return "none";
	case VMBS_BR_ERR_WIDX_BAD:
		return "write_index out of range or unaligned";
	case VMBS_BR_ERR_RIDX_BAD:
		return "read_index out of range or unaligned";
	case VMBS_BR_ERR_WIDX_BACKWARDS:
		return "write_index moved back over unread data";
	case VMBS_BR_ERR_RIDX_BACKWARDS:
		return "read_index moved back or past write_index";
	case VMBS_BR_ERR_DESC_OFFSET:
		return "descriptor offset8 below 2";
	case VMBS_BR_ERR_DESC_LEN:
		return "descriptor len8 below offset8";
	case VMBS_BR_ERR_DESC_OVERRUN:
		return "packet extends past written data";
	}
	return "unknown";
}
