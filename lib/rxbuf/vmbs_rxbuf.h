/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * netvsp receive-buffer allocator, host side (wire reference b.4).
 *
 * The guest donates one receive buffer (NVSP SEND_RECV_BUF, a GPADL the
 * engine maps). The host answers with a single section at offset 0 cut
 * into equal sub-allocations ("slots") of slot_size bytes: slot i starts at
 * i * slot_size, and there are vmbs_rxbuf_slot_count() of them. The host
 * copies each frame (or RNDIS control reply) into a slot and tells the
 * guest with a transfer-page packet whose ranges name the slots; the guest
 * completes that packet by its trans_id when it has consumed the data, and
 * only then may the slots be reused.
 *
 * Slot ids are split into:
 * - [0, n_ctl): the control pool, for RNDIS replies (INIT, QUERY, SET
 *   completions, status indications), which also travel h2g in the
 *   receive buffer. One slot per reply.
 * - [n_ctl, slot_count): the data slots, split into n_queues equal
 *   contiguous partitions (sizes differ by at most one slot), partition
 *   q starting at n_ctl + q * n_data / n_queues, one per queue, so each
 *   queue's lcore allocates without locks or atomics.
 *
 * A transfer-page packet's trans_id is the FIRST slot of its batch. DPDK's
 * netvsc uses it as an array index and accepts it only when it is at most
 * the slot count; since a slot id is always below the slot count, the
 * trans_id is strictly below it, as the clarification on transfer-page
 * trans_id asks.
 *
 * Threading model:
 * - Each partition (every data partition and the control pool) has one
 *   owner thread at a time; begin/add/commit/abort/complete, the control
 *   calls, free_count and stats_get on a partition are not MT-safe and
 *   must come from its owner. Partitions share no written memory apart
 *   from the per-slot bookkeeping arrays, where each thread only writes
 *   the entries of its own slots (at most one cache line is shared at each
 *   partition boundary).
 * - vmbs_rxbuf_part_of() is pure: it reads only the layout fixed by init
 *   and repartition and may be called from any thread. Completions from a
 *   guest may arrive on any channel of the NIC, so the queue that reads a
 *   completion calls it and hands the trans_id to the owner of the
 *   partition it names (or completes it itself when that is its own).
 * - vmbs_rxbuf_init(), vmbs_rxbuf_repartition(), vmbs_rxbuf_fini() and
 *   vmbs_rxbuf_outstanding() belong to the control thread and need every
 *   data-path thread quiesced (not inside any call on this allocator,
 *   part_of included), for example with rte_rcu_qsbr.
 *
 * The guest is untrusted: it can complete any 64-bit trans_id, any number
 * of times, on any channel. The bookkeeping lives in host-private memory
 * and a completion is acted on only when it names the head of a batch that
 * is live in the partition it is given to; anything else is counted
 * (unknown or duplicate) and ignored. A duplicate is recognised while the
 * head slot has not been reused; once it has, a repeated completion is
 * indistinguishable from the real one and ends the newer batch early. That
 * only harms the guest's own receive path (it may see a slot overwritten
 * before it consumed it), never the host's state.
 *
 * Data-path usage, one transfer-page packet per burst:
 * @code
 *	struct vmbs_rxbuf_part *p = vmbs_rxbuf_part(rb, queue);
 *	uint32_t slot, off, tid;
 *	int n;
 *
 *	vmbs_rxbuf_begin(p);
 *	for (i = 0; i < nb_pkts; i++) {
 *		if (vmbs_rxbuf_add(p, &slot, &off) < 0)
 *			break;		// partition empty or batch full
 *		copy_rndis_and_frame(guest_buf + off, pkts[i]);
 *		ranges[i] = (struct vmbs_xfer_range){ len, off };
 *	}
 *	n = vmbs_rxbuf_commit(p, &tid);
 *	if (n > 0 && send_xfer_pages(chan, tid, ranges, n) < 0)
 *		vmbs_rxbuf_complete(p, tid);	// the ring was full: undo
 *
 *	// on a completion read from any channel of the NIC:
 *	int q = vmbs_rxbuf_part_of(rb, trans_id);
 *	if (q == my_queue)
 *		vmbs_rxbuf_complete(p, trans_id);
 *	else if (q == VMBS_RXBUF_PART_CTL || q >= 0)
 *		forward_to_owner(q, trans_id);
 *	else
 *		count_bad_completion();
 * @endcode
 *
 * No EAL: plain libc; only init allocates (the per-slot arrays).
 */

#ifndef VMBS_RXBUF_H
#define VMBS_RXBUF_H

#include <stdbool.h>
#include <stdint.h>

/**
 * Bytes at the start of a slot kept for the RNDIS PACKET header and its
 * per-packet info (OpenVMM's reserve): 44 B of header plus four 16-byte
 * PPIs (checksum, VLAN, hash value, hash info) take 108 B.
 */
#define VMBS_RXBUF_RNDIS_RESERVE 256u

/**
 * Bytes at the end of every slot that must stay unused: "cannot be used due
 * to a bug in netvsc in newer versions of Windows" (OpenVMM, b.4).
 */
#define VMBS_RXBUF_SLOT_TAIL 36u

/** Slot sizes from vmbs_rxbuf_slot_size() are multiples of this. */
#define VMBS_RXBUF_SLOT_ALIGN 64u

/** Ethernet header plus one 802.1Q tag left in the frame. */
#define VMBS_RXBUF_L2_OVERHEAD (14u + 4u)

/** Smallest MTU vmbs_rxbuf_slot_size() accepts (IPv4's minimum). */
#define VMBS_RXBUF_MTU_MIN 68u

/** Largest MTU vmbs_rxbuf_slot_size() accepts (OpenVMM's jumbo limit). */
#define VMBS_RXBUF_MTU_MAX 9216u

/**
 * Smallest slot vmbs_rxbuf_init() accepts: the size for VMBS_RXBUF_MTU_MIN
 * (384 B). Linux itself rejects slots below 68 B.
 */
#define VMBS_RXBUF_SLOT_MIN 384u

/**
 * Most slots in one transfer-page packet: NVSP_MAX_PACKETS_PER_RECEIVE,
 * OpenVMM's cap on the ranges of one RX packet. 375 ranges of 8 B plus
 * 24 B of headers make a 3024-byte ring packet.
 */
#define VMBS_RXBUF_MAX_BATCH 375u

/** Most data partitions (queues): one per channel of a NIC. */
#define VMBS_RXBUF_MAX_QUEUES 64u

/**
 * Most slots ever used, whatever the guest donates: bounds the host's
 * bookkeeping at 5 MiB. A larger buffer leaves its tail unused, which
 * guests accept (Linux checks size x count <= buffer size). 31 MiB, Linux's
 * largest, makes 84650 slots at the smallest slot size.
 */
#define VMBS_RXBUF_MAX_SLOTS (1u << 20)

/**
 * Fewest slots per data partition: half a burst of 32 frames. Fewer would
 * make a queue stall on every burst; vmbs_rxbuf_max_queues() tells the
 * engine how many subchannels a buffer can feed.
 */
#define VMBS_RXBUF_MIN_PART_SLOTS 16u

/** Control slots OpenVMM reserves; a good default for n_ctl. */
#define VMBS_RXBUF_CTL_SLOTS 16u

/** What vmbs_rxbuf_part_of() returns for a slot of the control pool. */
#define VMBS_RXBUF_PART_CTL ((int)VMBS_RXBUF_MAX_QUEUES)

/** Cache line assumed for the per-partition alignment. */
#define VMBS_RXBUF_CACHE_LINE 64

/** Counters of one partition (slot counts unless said otherwise). */
struct vmbs_rxbuf_stats {
	uint64_t allocs;		/**< slots committed to the guest */
	uint64_t completes;		/**< slots released by valid completions */
	uint64_t exhausted;		/**< add or ctl_alloc found the partition empty */
	uint64_t unknown_completions;	/**< completions naming no live batch head here */
	uint64_t duplicate_completions;	/**< completions of a batch already completed */
	uint64_t outstanding;		/**< slots not free now (sent or in the open batch) */
};

/**
 * One partition: a contiguous run of slot ids with its own free list and
 * batch under construction. Owned by one thread; treat as opaque.
 */
struct vmbs_rxbuf_part {
	/* Fixed by init / repartition. */
	uint32_t *next;		/**< shared per-slot link (free list or batch chain) */
	uint8_t *state;		/**< shared per-slot state */
	uint32_t slot_size;	/**< bytes per slot */
	uint32_t first;		/**< first slot id of this partition */
	uint32_t count;		/**< slots in this partition */
	/* Owner-written. */
	uint32_t free_head;	/**< LIFO free list, VMBS_RXBUF_NIL when empty */
	uint32_t free_cnt;	/**< slots on the free list */
	uint32_t batch_head;	/**< first slot of the open batch */
	uint32_t batch_tail;	/**< last slot of the open batch */
	uint32_t batch_cnt;	/**< slots in the open batch */
	bool building;		/**< a batch is open (begin without commit/abort) */
	uint64_t allocs;	/**< see struct vmbs_rxbuf_stats */
	uint64_t completes;	/**< see struct vmbs_rxbuf_stats */
	uint64_t exhausted;	/**< see struct vmbs_rxbuf_stats */
	uint64_t unknown;	/**< see struct vmbs_rxbuf_stats */
	uint64_t duplicate;	/**< see struct vmbs_rxbuf_stats */
} __attribute__((aligned(VMBS_RXBUF_CACHE_LINE)));

/**
 * The allocator for one receive buffer. Storage belongs to the caller and
 * must be 64-byte aligned (static, rte_zmalloc, aligned_alloc); zero it or
 * vmbs_rxbuf_fini() it before vmbs_rxbuf_init().
 */
struct vmbs_rxbuf {
	uint32_t slot_size;	/**< bytes per slot */
	uint32_t n_slots;	/**< slot count announced to the guest */
	uint32_t n_ctl;		/**< control slots, ids [0, n_ctl) */
	uint32_t n_queues;	/**< data partitions */
	uint32_t *next;		/**< per-slot link, n_slots entries */
	uint8_t *state;		/**< per-slot state, n_slots entries */
	struct vmbs_rxbuf_part ctl;				/**< control pool */
	struct vmbs_rxbuf_part part[VMBS_RXBUF_MAX_QUEUES];	/**< data partitions */
};

/** "No slot" in the per-slot links. */
#define VMBS_RXBUF_NIL UINT32_MAX

/**
 * Slot size for an MTU: VMBS_RXBUF_RNDIS_RESERVE + mtu + 14 (Ethernet) +
 * 4 (an 802.1Q tag kept in the frame) + VMBS_RXBUF_SLOT_TAIL, rounded up
 * to VMBS_RXBUF_SLOT_ALIGN so every slot starts on a cache line. 1856 B at
 * MTU 1500, 9344 B at MTU 9000. A frame of mtu + 18 bytes therefore always
 * fits after the RNDIS header and its PPIs without touching the tail.
 *
 * @param mtu
 *   L3 MTU (1500 for standard Ethernet; NDIS_CONFIG carries mtu + 14).
 * @return
 *   the slot size; 0 if mtu is outside [VMBS_RXBUF_MTU_MIN, VMBS_RXBUF_MTU_MAX].
 */
uint32_t vmbs_rxbuf_slot_size(uint32_t mtu);

/**
 * Lay out a receive buffer: count = min(buf_len / slot_size,
 * VMBS_RXBUF_MAX_SLOTS), slot i at i * slot_size (every offset fits in 32
 * bits), n_ctl control slots first, the rest split into n_queues
 * partitions. Every slot starts free. Allocates the per-slot arrays.
 *
 * @param rb
 *   zeroed (or finalised) storage, 64-byte aligned.
 * @param buf_len
 *   bytes of the guest's receive buffer as mapped.
 * @param slot_size
 *   bytes per slot, >= VMBS_RXBUF_SLOT_MIN (see vmbs_rxbuf_slot_size()).
 * @param n_ctl
 *   control slots, >= 1 (VMBS_RXBUF_CTL_SLOTS is OpenVMM's choice).
 * @param n_queues
 *   data partitions, 1..VMBS_RXBUF_MAX_QUEUES.
 * @return
 *   0 on success; -EINVAL for a NULL rb or an argument out of range;
 *   -ENOSPC if the buffer holds fewer than n_ctl + n_queues *
 *   VMBS_RXBUF_MIN_PART_SLOTS slots; -ENOMEM if the arrays cannot be
 *   allocated. On failure rb is left zeroed.
 */
int vmbs_rxbuf_init(struct vmbs_rxbuf *rb, uint64_t buf_len, uint32_t slot_size,
		    uint32_t n_ctl, uint32_t n_queues);

/**
 * Free the per-slot arrays and zero rb. Safe on a zeroed rb. The caller
 * must know the guest is done with the buffer (revoked or torn down).
 *
 * @param rb
 *   allocator, or NULL (no-op).
 */
void vmbs_rxbuf_fini(struct vmbs_rxbuf *rb);

/**
 * Split the data slots again, for a new queue count (the guest allocated
 * subchannels). The control pool is untouched; every data slot becomes
 * free; the counters of surviving partition indexes are kept.
 *
 * @param rb
 *   initialised allocator, data path quiesced.
 * @param n_queues
 *   data partitions, 1..VMBS_RXBUF_MAX_QUEUES.
 * @return
 *   0 on success; -EINVAL for a bad argument; -EBUSY if any data slot is
 *   outstanding or a batch is open (nothing changed); -ENOSPC if the data
 *   slots cannot give every partition VMBS_RXBUF_MIN_PART_SLOTS.
 */
int vmbs_rxbuf_repartition(struct vmbs_rxbuf *rb, uint32_t n_queues);

/**
 * Largest queue count this buffer can feed with VMBS_RXBUF_MIN_PART_SLOTS
 * slots per partition, capped at VMBS_RXBUF_MAX_QUEUES.
 *
 * @param rb
 *   initialised allocator.
 * @return
 *   1..VMBS_RXBUF_MAX_QUEUES.
 */
uint32_t vmbs_rxbuf_max_queues(const struct vmbs_rxbuf *rb);

/**
 * Slot count to announce in SEND_RECV_BUF_COMPLETE (num_sub_allocs).
 *
 * @param rb
 *   initialised allocator.
 * @return
 *   number of slots; every trans_id and slot id is below it.
 */
static inline uint32_t
vmbs_rxbuf_slot_count(const struct vmbs_rxbuf *rb)
{
	return rb->n_slots;
}

/**
 * Byte offset of a slot in the receive buffer.
 *
 * @param rb
 *   initialised allocator.
 * @param slot_id
 *   slot below vmbs_rxbuf_slot_count().
 * @return
 *   slot_id * slot_size.
 */
static inline uint32_t
vmbs_rxbuf_slot_offset(const struct vmbs_rxbuf *rb, uint32_t slot_id)
{
	return slot_id * rb->slot_size;
}

/**
 * Bytes of a slot the host may write: slot_size minus VMBS_RXBUF_SLOT_TAIL.
 *
 * @param rb
 *   initialised allocator.
 * @return
 *   usable bytes from the start of every slot.
 */
static inline uint32_t
vmbs_rxbuf_slot_usable(const struct vmbs_rxbuf *rb)
{
	return rb->slot_size - VMBS_RXBUF_SLOT_TAIL;
}

/**
 * Data partition of a queue.
 *
 * @param rb
 *   initialised allocator.
 * @param queue
 *   queue index.
 * @return
 *   the partition; NULL if queue >= the current queue count.
 */
struct vmbs_rxbuf_part *vmbs_rxbuf_part(struct vmbs_rxbuf *rb, uint32_t queue);

/**
 * The control pool (a partition of single-slot batches).
 *
 * @param rb
 *   initialised allocator.
 * @return
 *   the control partition.
 */
struct vmbs_rxbuf_part *vmbs_rxbuf_ctl(struct vmbs_rxbuf *rb);

/**
 * Which partition owns a trans_id (a slot id). Pure; any thread.
 *
 * @param rb
 *   initialised allocator.
 * @param trans_id
 *   as read from a guest completion, untrusted.
 * @return
 *   the data partition index (0..n_queues-1); VMBS_RXBUF_PART_CTL for a
 *   control slot; -EINVAL if trans_id is not a slot id. The owner still
 *   checks that it names a live batch head (vmbs_rxbuf_complete()).
 */
int vmbs_rxbuf_part_of(const struct vmbs_rxbuf *rb, uint64_t trans_id);

/**
 * Open a batch (one future transfer-page packet). A batch still open is
 * aborted first.
 *
 * @param part
 *   partition, owner thread.
 */
void vmbs_rxbuf_begin(struct vmbs_rxbuf_part *part);

/**
 * Take one free slot for the open batch.
 *
 * @param part
 *   partition, owner thread.
 * @param slot_id
 *   receives the slot id.
 * @param offset
 *   receives the slot's byte offset in the receive buffer.
 * @return
 *   0 on success; -ENOBUFS if the partition has no free slot (counted as
 *   exhausted: send what the batch holds); -ENOSPC if the batch already
 *   holds VMBS_RXBUF_MAX_BATCH slots; -EINVAL if no batch is open.
 */
int vmbs_rxbuf_add(struct vmbs_rxbuf_part *part, uint32_t *slot_id, uint32_t *offset);

/**
 * Close the open batch and hand its slots to the guest.
 *
 * @param part
 *   partition, owner thread.
 * @param trans_id
 *   receives the batch's first slot id, the transfer-page packet's
 *   trans_id; untouched when 0 is returned.
 * @return
 *   number of slots in the batch, in the order add() gave them
 *   (1..VMBS_RXBUF_MAX_BATCH); 0 if the batch was empty or none was open
 *   (nothing to send).
 */
int vmbs_rxbuf_commit(struct vmbs_rxbuf_part *part, uint32_t *trans_id);

/**
 * Close the open batch and return its slots to the free list. No-op if
 * none is open.
 *
 * @param part
 *   partition, owner thread.
 */
void vmbs_rxbuf_abort(struct vmbs_rxbuf_part *part);

/**
 * Release every slot of a committed batch: the guest completed its
 * transfer-page packet (or the host failed to send it).
 *
 * @param part
 *   partition, owner thread.
 * @param trans_id
 *   untrusted, as the guest sent it.
 * @return
 *   number of slots released (> 0); -ENOENT if trans_id is not a batch head
 *   of this partition (out of range, another partition's, never sent, a
 *   middle slot, in the open batch): counted as unknown; -EALREADY if that
 *   batch was already completed and its head not reused since: counted as
 *   duplicate. Nothing changes on a negative return.
 */
int vmbs_rxbuf_complete(struct vmbs_rxbuf_part *part, uint64_t trans_id);

/**
 * Take one control slot for an RNDIS reply: a committed batch of one,
 * whose trans_id is the slot id.
 *
 * @param ctl
 *   the control pool (vmbs_rxbuf_ctl()), its owner thread.
 * @param slot_id
 *   receives the slot id, also the trans_id to send.
 * @param offset
 *   receives the slot's byte offset.
 * @return
 *   0 on success; -ENOBUFS if every control slot is outstanding (counted
 *   as exhausted: queue the reply until a completion arrives).
 */
int vmbs_rxbuf_ctl_alloc(struct vmbs_rxbuf_part *ctl, uint32_t *slot_id, uint32_t *offset);

/**
 * Release a control slot on the guest's completion. Same contract as
 * vmbs_rxbuf_complete().
 *
 * @param ctl
 *   the control pool, its owner thread.
 * @param trans_id
 *   untrusted, as the guest sent it.
 * @return
 *   1 on success; -ENOENT or -EALREADY as for vmbs_rxbuf_complete().
 */
int vmbs_rxbuf_ctl_free(struct vmbs_rxbuf_part *ctl, uint64_t trans_id);

/**
 * Free slots of a partition.
 *
 * @param part
 *   partition, owner thread.
 * @return
 *   slots on its free list (not sent and not in the open batch).
 */
static inline uint32_t
vmbs_rxbuf_free_count(const struct vmbs_rxbuf_part *part)
{
	return part->free_cnt;
}

/**
 * Read a partition's counters.
 *
 * @param part
 *   partition; exact from the owner thread, approximate elsewhere.
 * @param st
 *   receives the counters.
 */
void vmbs_rxbuf_stats_get(const struct vmbs_rxbuf_part *part, struct vmbs_rxbuf_stats *st);

/**
 * Slots not free, over every data partition and the control pool: 0 means
 * the guest holds nothing of the buffer (e.g. before a revoke completes).
 *
 * @param rb
 *   initialised allocator, data path quiesced.
 * @return
 *   outstanding slots.
 */
uint64_t vmbs_rxbuf_outstanding(const struct vmbs_rxbuf *rb);

#endif /* VMBS_RXBUF_H */
