/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * netvsp receive-buffer allocator. Per slot the host keeps a 32-bit link
 * and a state byte, both in host-private memory the guest cannot reach:
 * - a free slot's link is the next free slot (LIFO: the slot just freed is
 *   reused first, so the bytes the host copies into are likely still in
 *   the LLC, as with DPDK's per-lcore mempool caches);
 * - a batch's slots are chained in add() order, the last one linking to
 *   NIL, so completing a batch walks exactly its slots: O(1) per slot, no
 *   search, no allocation.
 * A completion is trusted only after its slot's state says "head of a live
 * batch"; the chain behind a head was written by this code alone.
 */

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbs_rxbuf.h"

enum rxbuf_slot_state {
	RXBUF_FREE = 0,		/* on the free list */
	RXBUF_FREE_DONE,	/* on the free list, was the head of a completed batch */
	RXBUF_BUILDING,		/* in the open batch, not yet sent */
	RXBUF_HEAD,		/* first slot of a sent batch: its trans_id */
	RXBUF_BODY,		/* later slot of a sent batch */
};

/* 44-byte RNDIS PACKET header plus four 16-byte PPIs fit the reserve. */
static_assert(44 + 4 * 16 <= VMBS_RXBUF_RNDIS_RESERVE, "RNDIS reserve too small");
/* The smallest slot is the one for the smallest MTU. */
static_assert(VMBS_RXBUF_SLOT_MIN ==
	      ((VMBS_RXBUF_RNDIS_RESERVE + VMBS_RXBUF_MTU_MIN + VMBS_RXBUF_L2_OVERHEAD +
		VMBS_RXBUF_SLOT_TAIL + VMBS_RXBUF_SLOT_ALIGN - 1) & ~(VMBS_RXBUF_SLOT_ALIGN - 1)),
	      "VMBS_RXBUF_SLOT_MIN must be the slot size of VMBS_RXBUF_MTU_MIN");
/* Linux rejects sub-allocations below 68 bytes. */
static_assert(VMBS_RXBUF_SLOT_MIN >= 68, "slots below Linux's minimum");
/* NIL is never a slot id. */
static_assert(VMBS_RXBUF_MAX_SLOTS < VMBS_RXBUF_NIL, "slot ids must stay below NIL");

uint32_t
vmbs_rxbuf_slot_size(uint32_t mtu)
{
	uint32_t sz;

	if (mtu < VMBS_RXBUF_MTU_MIN || mtu > VMBS_RXBUF_MTU_MAX)
		return 0;
	sz = VMBS_RXBUF_RNDIS_RESERVE + mtu + VMBS_RXBUF_L2_OVERHEAD + VMBS_RXBUF_SLOT_TAIL;
	return (sz + VMBS_RXBUF_SLOT_ALIGN - 1) & ~(VMBS_RXBUF_SLOT_ALIGN - 1);
}

/* Push one slot on a partition's free list. */
static void
rxbuf_push_free(struct vmbs_rxbuf_part *p, uint32_t slot, uint8_t state)
{
	p->state[slot] = state;
	p->next[slot] = p->free_head;
	p->free_head = slot;
	p->free_cnt++;
}

/*
 * Give partition @p the ids [first, first + count) and make them all free,
 * lowest id on top so a fresh partition hands out ascending ids. The
 * counters are left alone (zeroed by init, kept across repartition).
 */
static void
rxbuf_part_setup(struct vmbs_rxbuf *rb, struct vmbs_rxbuf_part *p, uint32_t first,
		 uint32_t count)
{
	uint32_t i;

	p->next = rb->next;
	p->state = rb->state;
	p->slot_size = rb->slot_size;
	p->first = first;
	p->count = count;
	p->free_head = VMBS_RXBUF_NIL;
	p->free_cnt = 0;
	p->batch_head = VMBS_RXBUF_NIL;
	p->batch_tail = VMBS_RXBUF_NIL;
	p->batch_cnt = 0;
	p->building = false;
	for (i = count; i > 0; i--)
		rxbuf_push_free(p, first + i - 1, RXBUF_FREE);
}

/* Partition q of the data slots: [n_ctl + q*N/Q, n_ctl + (q+1)*N/Q). */
static uint32_t
rxbuf_part_start(uint32_t n_ctl, uint32_t n_data, uint32_t n_queues, uint32_t q)
{
	return n_ctl + (uint32_t)((uint64_t)q * n_data / n_queues);
}

static void
rxbuf_split(struct vmbs_rxbuf *rb, uint32_t n_queues)
{
	uint32_t n_data = rb->n_slots - rb->n_ctl;
	uint32_t q;

	rb->n_queues = n_queues;
	for (q = 0; q < n_queues; q++) {
		uint32_t lo, hi;

		lo = rxbuf_part_start(rb->n_ctl, n_data, n_queues, q);
		hi = rxbuf_part_start(rb->n_ctl, n_data, n_queues, q + 1);
		rxbuf_part_setup(rb, &rb->part[q], lo, hi - lo);
	}
	/* Partitions past the queue count own nothing. */
	for (; q < VMBS_RXBUF_MAX_QUEUES; q++)
		rxbuf_part_setup(rb, &rb->part[q], rb->n_slots, 0);
}

int
vmbs_rxbuf_init(struct vmbs_rxbuf *rb, uint64_t buf_len, uint32_t slot_size,
		uint32_t n_ctl, uint32_t n_queues)
{
	uint64_t usable, n;

	if (rb == NULL)
		return -EINVAL;
	memset(rb, 0, sizeof(*rb));
	if (slot_size < VMBS_RXBUF_SLOT_MIN || n_ctl == 0 || n_queues == 0 ||
	    n_queues > VMBS_RXBUF_MAX_QUEUES)
		return -EINVAL;

	/* Transfer-page ranges carry u32 offsets: use at most 4 GiB - 1. */
	usable = buf_len < UINT32_MAX ? buf_len : UINT32_MAX;
	n = usable / slot_size;
	if (n > VMBS_RXBUF_MAX_SLOTS)
		n = VMBS_RXBUF_MAX_SLOTS;
	if (n < (uint64_t)n_ctl + (uint64_t)n_queues * VMBS_RXBUF_MIN_PART_SLOTS)
		return -ENOSPC;

	rb->next = calloc(n, sizeof(*rb->next));
	rb->state = calloc(n, sizeof(*rb->state));
	if (rb->next == NULL || rb->state == NULL) {
		free(rb->next);
		free(rb->state);
		memset(rb, 0, sizeof(*rb));
		return -ENOMEM;
	}
	rb->slot_size = slot_size;
	rb->n_slots = (uint32_t)n;
	rb->n_ctl = n_ctl;
	rxbuf_part_setup(rb, &rb->ctl, 0, n_ctl);
	rxbuf_split(rb, n_queues);
	return 0;
}

void
vmbs_rxbuf_fini(struct vmbs_rxbuf *rb)
{
	if (rb == NULL)
		return;
	free(rb->next);
	free(rb->state);
	memset(rb, 0, sizeof(*rb));
}

uint32_t
vmbs_rxbuf_max_queues(const struct vmbs_rxbuf *rb)
{
	uint32_t q = (rb->n_slots - rb->n_ctl) / VMBS_RXBUF_MIN_PART_SLOTS;

	return q < VMBS_RXBUF_MAX_QUEUES ? q : VMBS_RXBUF_MAX_QUEUES;
}

int
vmbs_rxbuf_repartition(struct vmbs_rxbuf *rb, uint32_t n_queues)
{
	uint32_t q;

	if (rb == NULL || rb->next == NULL || n_queues == 0 ||
	    n_queues > VMBS_RXBUF_MAX_QUEUES)
		return -EINVAL;
	for (q = 0; q < rb->n_queues; q++)
		if (rb->part[q].building || rb->part[q].free_cnt != rb->part[q].count)
			return -EBUSY;
	if (n_queues > vmbs_rxbuf_max_queues(rb))
		return -ENOSPC;
	/*
	 * rxbuf_part_setup() leaves the counters alone: they belong to the
	 * queue index and survive the re-split.
	 */
	rxbuf_split(rb, n_queues);
	return 0;
}

struct vmbs_rxbuf_part *
vmbs_rxbuf_part(struct vmbs_rxbuf *rb, uint32_t queue)
{
	return queue < rb->n_queues ? &rb->part[queue] : NULL;
}

struct vmbs_rxbuf_part *
vmbs_rxbuf_ctl(struct vmbs_rxbuf *rb)
{
	return &rb->ctl;
}

int
vmbs_rxbuf_part_of(const struct vmbs_rxbuf *rb, uint64_t trans_id)
{
	uint64_t d, n_data = rb->n_slots - rb->n_ctl;

	if (trans_id >= rb->n_slots)
		return -EINVAL;
	if (trans_id < rb->n_ctl)
		return VMBS_RXBUF_PART_CTL;
	/*
	 * Inverse of rxbuf_part_start(): d lies in partition q iff
	 * q*N < (d+1)*Q <= (q+1)*N, so q = ((d+1)*Q - 1) / N.
	 */
	d = trans_id - rb->n_ctl;
	return (int)(((d + 1) * rb->n_queues - 1) / n_data);
}

void
vmbs_rxbuf_abort(struct vmbs_rxbuf_part *part)
{
	uint32_t s, nx;

	for (s = part->batch_head; s != VMBS_RXBUF_NIL; s = nx) {
		nx = part->next[s];
		rxbuf_push_free(part, s, RXBUF_FREE);
	}
	part->batch_head = VMBS_RXBUF_NIL;
	part->batch_tail = VMBS_RXBUF_NIL;
	part->batch_cnt = 0;
	part->building = false;
}

void
vmbs_rxbuf_begin(struct vmbs_rxbuf_part *part)
{
	if (part->building)
		vmbs_rxbuf_abort(part);
	part->building = true;
}

/* Pop the top free slot; the caller checked free_cnt. */
static uint32_t
rxbuf_pop_free(struct vmbs_rxbuf_part *p)
{
	uint32_t s = p->free_head;

	p->free_head = p->next[s];
	p->free_cnt--;
	return s;
}

int
vmbs_rxbuf_add(struct vmbs_rxbuf_part *part, uint32_t *slot_id, uint32_t *offset)
{
	uint32_t s;

	if (!part->building)
		return -EINVAL;
	if (part->batch_cnt >= VMBS_RXBUF_MAX_BATCH)
		return -ENOSPC;
	if (part->free_cnt == 0) {
		part->exhausted++;
		return -ENOBUFS;
	}
	s = rxbuf_pop_free(part);
	part->state[s] = RXBUF_BUILDING;
	part->next[s] = VMBS_RXBUF_NIL;
	if (part->batch_cnt == 0)
		part->batch_head = s;
	else
		part->next[part->batch_tail] = s;
	part->batch_tail = s;
	part->batch_cnt++;
	*slot_id = s;
	*offset = s * part->slot_size;
	return 0;
}

int
vmbs_rxbuf_commit(struct vmbs_rxbuf_part *part, uint32_t *trans_id)
{
	uint32_t s, n = part->batch_cnt;

	part->building = false;
	if (n == 0)
		return 0;
	s = part->batch_head;
	part->state[s] = RXBUF_HEAD;
	for (s = part->next[s]; s != VMBS_RXBUF_NIL; s = part->next[s])
		part->state[s] = RXBUF_BODY;
	part->allocs += n;
	*trans_id = part->batch_head;
	part->batch_head = VMBS_RXBUF_NIL;
	part->batch_tail = VMBS_RXBUF_NIL;
	part->batch_cnt = 0;
	return (int)n;
}

int
vmbs_rxbuf_complete(struct vmbs_rxbuf_part *part, uint64_t trans_id)
{
	uint32_t s, nx, n = 0;

	/* Unsigned: also rejects ids below first, whatever the guest sent. */
	if (trans_id - part->first >= part->count) {
		part->unknown++;
		return -ENOENT;
	}
	s = (uint32_t)trans_id;
	if (part->state[s] != RXBUF_HEAD) {
		if (part->state[s] == RXBUF_FREE_DONE) {
			part->duplicate++;
			return -EALREADY;
		}
		part->unknown++;
		return -ENOENT;
	}
	/* Read each link before the push rewrites it for the free list. */
	nx = part->next[s];
	rxbuf_push_free(part, s, RXBUF_FREE_DONE);
	for (n = 1; nx != VMBS_RXBUF_NIL; n++) {
		s = nx;
		nx = part->next[s];
		rxbuf_push_free(part, s, RXBUF_FREE);
	}
	part->completes += n;
	return (int)n;
}

int
vmbs_rxbuf_ctl_alloc(struct vmbs_rxbuf_part *ctl, uint32_t *slot_id, uint32_t *offset)
{
	uint32_t s;

	if (ctl->free_cnt == 0) {
		ctl->exhausted++;
		return -ENOBUFS;
	}
	s = rxbuf_pop_free(ctl);
	ctl->state[s] = RXBUF_HEAD;
	ctl->next[s] = VMBS_RXBUF_NIL;
	ctl->allocs++;
	*slot_id = s;
	*offset = s * ctl->slot_size;
	return 0;
}

int
vmbs_rxbuf_ctl_free(struct vmbs_rxbuf_part *ctl, uint64_t trans_id)
{
	return vmbs_rxbuf_complete(ctl, trans_id);
}

void
vmbs_rxbuf_stats_get(const struct vmbs_rxbuf_part *part, struct vmbs_rxbuf_stats *st)
{
	st->allocs = part->allocs;
	st->completes = part->completes;
	st->exhausted = part->exhausted;
	st->unknown_completions = part->unknown;
	st->duplicate_completions = part->duplicate;
	st->outstanding = part->count - part->free_cnt;
}

uint64_t
vmbs_rxbuf_outstanding(const struct vmbs_rxbuf *rb)
{
	uint64_t n = rb->ctl.count - rb->ctl.free_cnt;
	uint32_t q;

	for (q = 0; q < rb->n_queues; q++)
		n += rb->part[q].count - rb->part[q].free_cnt;
	return n;
}
