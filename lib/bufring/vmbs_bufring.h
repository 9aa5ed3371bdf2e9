/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * VMBus ring buffer: one half of a channel's ring GPADL (a 4 KiB control
 * page, struct vmbs_ring_ctl, followed by the data area) seen from one side,
 * either as its producer or as its consumer. The server consumes the g2h
 * half and produces the h2g half; test guests play the opposite roles over
 * the same memory with the same code.
 *
 * Viewpoint: "g2h" is guest to host (the server's rx), "h2g" is host to
 * guest (the server's tx). "Peer" is whoever plays the other role.
 *
 * Threading model: a struct vmbs_br is used by exactly one thread (one
 * producer or one consumer per ring half). The peer runs concurrently on
 * other CPUs, possibly in a hostile guest: every shared word is read once
 * per use with an atomic load, every index is validated (< data size,
 * 8-byte aligned) at each load, and packet descriptors are copied out
 * before they are checked. A violation latches a sticky error: every later
 * call returns -EPROTO and vmbs_br_stats_get() reports the cause. Nothing
 * here asserts, logs or allocates; no EAL is needed.
 *
 * Both sides batch: the consumer publishes read_index once per batch, the
 * producer write_index once per batch. Commit calls return whether the peer
 * must be signalled; the caller does the actual signalling.
 *
 * Consumer usage (the host polls with its interrupt mask set):
 * @code
 *	if (vmbs_br_rx_begin(br) == 0) {
 *		for (n = 0; n < VMBS_MAX_BURST; n++) {
 *			len = vmbs_br_rx_next(br, buf, sizeof(buf));
 *			if (len < 0)
 *				break;	// -EAGAIN: batch drained
 *			handle(buf, len);	// descriptor + rest, trailer dropped
 *		}
 *		if (vmbs_br_rx_commit(br))
 *			signal_guest();	// it waits for pending_send_sz space
 *	}
 *	// before parking: unmask, then look again
 *	if (vmbs_br_rx_intr_enable(br) == 0)
 *		wait_for_guest_signal();
 *	vmbs_br_rx_intr_disable(br);
 * @endcode
 *
 * Producer usage:
 * @code
 *	desc.type = VMBS_PKT_DATA_INBAND;
 *	desc.offset8 = 2;	// payload right after the descriptor
 *	desc.flags = 0;
 *	desc.trans_id = id;	// len8 is filled in by the ring
 *	while (have_more && vmbs_br_tx_put(br, &desc, iov, iovcnt) == 0)
 *		...;
 *	if (vmbs_br_tx_commit(br))
 *		signal_guest();
 *	// on -EAGAIN: ask the consumer to signal once enough space is free
 *	if (vmbs_br_tx_request_space(br, vmbs_br_pkt_need(len)) == 0)
 *		wait_for_guest_signal();	// then retry the put
 * @endcode
 */

#ifndef VMBS_BUFRING_H
#define VMBS_BUFRING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "vmbs_wire.h"

/** Cache line size the per-role state is separated by. */
#define VMBS_BR_CACHE_LINE 64

/** Which end of a ring half this handle plays. */
enum vmbs_br_role {
	VMBS_BR_PRODUCER,	/**< writes packets, owns write_index */
	VMBS_BR_CONSUMER,	/**< reads packets, owns read_index */
};

/**
 * Init flag (producer): set VMBS_RING_FEAT_PENDING_SEND_SZ in the control
 * page, telling the consumer to honour pending_send_sz. The host sets it
 * on h2g when it may park waiting for space.
 */
#define VMBS_BR_F_FEAT_PENDING_SEND_SZ 0x1u
/**
 * Init flag (consumer): set interrupt_mask to 1 at init, because this side
 * polls. vmbs_br_rx_intr_enable() clears it before parking.
 */
#define VMBS_BR_F_POLL 0x2u

/** Why a ring latched its sticky error. */
enum vmbs_br_err {
	VMBS_BR_ERR_NONE = 0,
	VMBS_BR_ERR_WIDX_BAD,		/**< write_index >= data size or unaligned */
	VMBS_BR_ERR_RIDX_BAD,		/**< read_index >= data size or unaligned */
	VMBS_BR_ERR_WIDX_BACKWARDS,	/**< write_index moved back over unread data */
	VMBS_BR_ERR_RIDX_BACKWARDS,	/**< read_index moved back, or past write_index */
	VMBS_BR_ERR_DESC_OFFSET,	/**< descriptor offset8 < 2 */
	VMBS_BR_ERR_DESC_LEN,		/**< descriptor len8 < offset8 */
	VMBS_BR_ERR_DESC_OVERRUN,	/**< len8 * 8 + trailer beyond written data */
};

/** Counters; single writer (the owning thread). */
struct vmbs_br_stats {
	uint64_t pkts;		/**< packets put (producer) or taken (consumer) */
	uint64_t bytes;		/**< their ring bytes: len8 * 8, trailer excluded */
	uint64_t full;		/**< producer: puts refused with -EAGAIN */
	enum vmbs_br_err err;	/**< sticky error cause, VMBS_BR_ERR_NONE if healthy */
};

/**
 * One ring half as seen by one side. Members are private: use the
 * functions below. Line 0 is read-only after init; the producer's and the
 * consumer's state live in separate cache lines.
 */
struct vmbs_br {
	struct vmbs_ring_ctl *ctl;	/**< shared control page */
	uint8_t *data;			/**< shared data area */
	uint32_t size;			/**< data area bytes, multiple of 4096 */
	enum vmbs_br_role role;		/**< fixed at init */
	enum vmbs_br_err err;		/**< sticky; written once, on failure */

	struct {
		uint32_t wi;		/**< next write offset, incl. uncommitted */
		uint32_t wi_commit;	/**< last write_index published */
		uint32_t ri_last;	/**< last validated read_index seen */
		bool pending_set;	/**< our pending_send_sz is non-zero */
		uint64_t pkts;		/**< packets put */
		uint64_t bytes;		/**< ring bytes put, trailers excluded */
		uint64_t full;		/**< -EAGAIN count */
	} tx __attribute__((aligned(VMBS_BR_CACHE_LINE)));	/**< producer state */

	struct {
		uint32_t rd;		/**< next read offset, incl. uncommitted */
		uint32_t ri_commit;	/**< last read_index published */
		uint32_t wi_snap;	/**< write_index snapshot of this batch */
		bool have_desc;		/**< desc holds the validated copy at rd */
		struct vmbs_pkt_desc desc; /**< private copy of the next descriptor */
		uint64_t pkts;		/**< packets taken */
		uint64_t bytes;		/**< ring bytes taken, trailers excluded */
	} rx __attribute__((aligned(VMBS_BR_CACHE_LINE)));	/**< consumer state */
} __attribute__((aligned(VMBS_BR_CACHE_LINE)));

#include "vmbs_bufring_pvt.h"

/**
 * Attach to one ring half (control page + data area) in one role. The
 * indices found in shared memory are taken as the current state, so a ring
 * the peer already holds packets in is attached correctly.
 *
 * @param br
 *   Handle to initialise.
 * @param half
 *   Start of the ring half: the control page, data area right after it.
 *   Must be 8-byte aligned (page aligned in practice).
 * @param half_size
 *   Bytes of the half, control page included.
 * @param role
 *   VMBS_BR_PRODUCER or VMBS_BR_CONSUMER.
 * @param flags
 *   VMBS_BR_F_* bits; a flag meant for the other role is an error.
 * @return
 *   0 on success; -EINVAL if half is NULL or misaligned, half_size - 4096
 *   is not a non-zero multiple of 4096 below 2^31, role or flags are
 *   invalid; -EPROTO if an index in the control page is out of range or
 *   unaligned (the handle is then unusable).
 */
int vmbs_br_init(struct vmbs_br *br, void *half, size_t half_size,
		 enum vmbs_br_role role, unsigned int flags);

/**
 * Data area size of an initialised ring.
 *
 * @param br
 *   Ring handle.
 * @return
 *   Bytes of the data area (half size - 4096).
 */
static inline uint32_t
vmbs_br_data_size(const struct vmbs_br *br)
{
	return br->size;
}

/**
 * Ring bytes one packet takes: descriptor, @p len bytes after it, padding
 * to 8 and the trailer.
 *
 * @param len
 *   Bytes after the descriptor (type header + payload).
 * @return
 *   16 + align8(len) + 8.
 */
static inline uint64_t
vmbs_br_pkt_size(size_t len)
{
	return vmbs_br_pvt_pkt_size(len);
}

/**
 * Free bytes the consumer must leave before a packet of @p len bytes after
 * its descriptor fits, the value to pass to vmbs_br_tx_request_space().
 * The producer needs strictly more free space than the packet takes, and
 * free space is a multiple of 8, hence the extra 8.
 *
 * @param len
 *   Bytes after the descriptor.
 * @return
 *   vmbs_br_pkt_size(len) + 8.
 */
static inline uint64_t
vmbs_br_pkt_need(size_t len)
{
	return vmbs_br_pvt_pkt_size(len) + 8;
}

/**
 * Producer: append one packet, not yet visible to the consumer. The
 * packet is the caller's descriptor (len8 computed here) followed by the
 * concatenation of @p iov (type header, if any, then payload). The ring
 * adds zero padding to 8 bytes and the trailer. Never partial.
 *
 * @param br
 *   Producer handle.
 * @param desc
 *   Descriptor template: type, offset8, flags and trans_id are copied
 *   as given; len8 is ignored and replaced.
 * @param iov
 *   Bytes following the descriptor, in order; may be NULL if iovcnt is 0.
 * @param iovcnt
 *   Number of entries in @p iov.
 * @return
 *   0 on success; -EAGAIN if free space is not strictly greater than the
 *   packet (vmbs_br_pkt_size()) even after a fresh look at read_index;
 *   -EMSGSIZE if the packet could never fit (its size >= data size, or
 *   len8 would exceed 65535); -EINVAL if desc->offset8 < 2 or beyond the
 *   packet; -EPROTO if the ring is in its error state (read_index corrupt).
 */
static inline int
vmbs_br_tx_put(struct vmbs_br *br, const struct vmbs_pkt_desc *desc,
	       const struct iovec *iov, unsigned int iovcnt)
{
	return vmbs_br_pvt_tx_put(br, desc, iov, iovcnt);
}

/**
 * Producer: publish every packet put since the last commit with one store
 * of write_index, then decide whether to signal the consumer: only if the
 * ring was empty before this batch (read_index, read fresh after a full
 * fence, equals the previous write_index) and the consumer's
 * interrupt_mask is 0.
 *
 * @param br
 *   Producer handle.
 * @return
 *   true if the caller must signal the consumer; false otherwise,
 *   including when nothing was put or the ring is in its error state.
 */
static inline bool
vmbs_br_tx_commit(struct vmbs_br *br)
{
	return vmbs_br_pvt_tx_commit(br);
}

/**
 * Producer, blocked: ask the consumer to signal once @p min_free bytes are
 * free, by writing pending_send_sz, then look at read_index again after a
 * full fence so that a consumer which drained in between is not missed.
 * If the space is there now, pending_send_sz is cleared again. A later
 * successful vmbs_br_tx_put() also clears it.
 *
 * @param br
 *   Producer handle, with nothing uncommitted.
 * @param min_free
 *   Free bytes wanted, usually vmbs_br_pkt_need(len) (callers may ask for
 *   more to avoid ping-pong); rounded up to 8, capped to the data size.
 * @return
 *   1 if the space is already free (retry the put now; nothing was left
 *   pending); 0 if pending_send_sz is set and the caller may wait for the
 *   consumer's signal; -EBUSY if packets are put but not committed (the
 *   consumer cannot drain what it cannot see); -EPROTO in error state.
 */
int vmbs_br_tx_request_space(struct vmbs_br *br, uint64_t min_free);

/**
 * Producer: withdraw a pending_send_sz request (e.g. when giving up).
 *
 * @param br
 *   Producer handle.
 */
void vmbs_br_tx_clear_pending(struct vmbs_br *br);

/**
 * Consumer: start a batch by taking one snapshot of write_index (acquire).
 * Packets the producer publishes later wait for the next batch. Calling it
 * again without a commit keeps the read position and takes a new snapshot.
 *
 * @param br
 *   Consumer handle.
 * @return
 *   0 if at least one packet is available; -EAGAIN if the ring is empty;
 *   -EPROTO if write_index is corrupt (out of range, unaligned, moved back
 *   over unread data) or the ring was already in its error state.
 */
static inline int
vmbs_br_rx_begin(struct vmbs_br *br)
{
	return vmbs_br_pvt_rx_begin(br);
}

/**
 * Consumer: copy out and validate the framing of the next packet's
 * descriptor without consuming it, so that the caller can size a buffer.
 * The copy is kept and reused by vmbs_br_rx_next(); the shared bytes are
 * not read again.
 *
 * @param br
 *   Consumer handle, inside a batch.
 * @param desc
 *   If not NULL, receives the validated descriptor copy.
 * @return
 *   The packet's length in bytes (len8 * 8, descriptor included, trailer
 *   excluded, >= 16); -EAGAIN if the batch snapshot is drained; -EPROTO if
 *   the descriptor's framing is invalid (offset8 < 2, len8 < offset8, or
 *   the packet and its trailer extend past the written data) or the ring is
 *   in its error state.
 */
static inline int
vmbs_br_rx_peek(struct vmbs_br *br, struct vmbs_pkt_desc *desc)
{
	return vmbs_br_pvt_rx_peek(br, desc);
}

/**
 * Consumer: take the next packet of the batch: copy it, descriptor
 * included and trailer excluded, into @p buf and advance the private read
 * position. read_index in shared memory moves only at commit. The
 * descriptor bytes in @p buf are the validated copy, not a second read.
 * Only framing is checked; type and flags are the caller's job.
 *
 * @param br
 *   Consumer handle, inside a batch.
 * @param buf
 *   Destination, at least the packet's length.
 * @param buflen
 *   Bytes available at @p buf.
 * @return
 *   The packet's length in bytes (> 0) on success; -EAGAIN if the batch
 *   snapshot is drained; -ENOBUFS if @p buflen is smaller than the packet
 *   (nothing consumed: peek for the length and call again); -EPROTO as
 *   for vmbs_br_rx_peek().
 */
static inline int
vmbs_br_rx_next(struct vmbs_br *br, void *buf, size_t buflen)
{
	return vmbs_br_pvt_rx_next(br, buf, buflen);
}

/**
 * Consumer: publish the read position with one release store of
 * read_index, then decide whether to signal the producer: only if the ring
 * has VMBS_RING_FEAT_PENDING_SEND_SZ set, the producer's pending_send_sz
 * (low three bits ignored) is non-zero, and the free space crossed it with
 * this commit (below before, at or above after).
 *
 * @param br
 *   Consumer handle.
 * @return
 *   true if the caller must signal the producer; false otherwise,
 *   including when nothing was consumed or the ring is in its error state
 *   (a corrupt write_index seen here latches it).
 */
static inline bool
vmbs_br_rx_commit(struct vmbs_br *br)
{
	return vmbs_br_pvt_rx_commit(br);
}

/**
 * Consumer, about to park: clear interrupt_mask so the producer signals,
 * then (after a full fence) look at write_index again: data published
 * before the producer could see the cleared mask would otherwise never be
 * signalled. Commit the batch first.
 *
 * @param br
 *   Consumer handle.
 * @return
 *   1 if data is already there (keep polling; the mask stays clear until
 *   vmbs_br_rx_intr_disable()); 0 if the ring is empty and the caller may
 *   wait for a signal; -EPROTO if write_index is corrupt or the ring is in
 *   its error state.
 */
int vmbs_br_rx_intr_enable(struct vmbs_br *br);

/**
 * Consumer: set interrupt_mask again ("don't signal me, I poll").
 *
 * @param br
 *   Consumer handle.
 */
void vmbs_br_rx_intr_disable(struct vmbs_br *br);

/**
 * Read the counters and the sticky error cause.
 *
 * @param br
 *   Ring handle; call from its owning thread.
 * @param stats
 *   Receives the counters of this handle's role.
 */
void vmbs_br_stats_get(const struct vmbs_br *br, struct vmbs_br_stats *stats);

/**
 * Name of an error cause, for logs and telemetry.
 *
 * @param err
 *   Cause from struct vmbs_br_stats.
 * @return
 *   A static string; "unknown" for values outside the enum.
 */
const char *vmbs_br_err_str(enum vmbs_br_err err);

#endif /* VMBS_BUFRING_H */
