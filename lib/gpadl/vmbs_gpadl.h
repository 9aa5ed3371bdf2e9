/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * One VM's GPADL table, host side. A GPADL (guest physical address
 * descriptor list) is a buffer the guest donates to a channel: it
 * describes it in a GPADL_HEADER and zero or more GPADL_BODY messages; the
 * host answers GPADL_CREATED. The server then maps it (KMCL's
 * VmbChannelMapGpadl: one mapping at a time, read-only or read-write) to
 * reach the memory, and must unmap it before the guest's GPADL_TEARDOWN
 * is answered with GPADL_TORNDOWN.
 *
 * This component keeps the state (building, alive, tearing down), turns
 * guest messages into "what to send back", and maps GPADLs through
 * vmbs_guestmem into segments (struct vmbs_seg) with pages merged where
 * they are virtually and IOVA contiguous, so a hugepage-backed 31 MiB
 * receive buffer is a handful of segments, not thousands of pages.
 *
 * Guest input never makes a call fail with an assertion or a crash: every
 * malformed, duplicate, unknown or excess message is counted and answered
 * (or ignored) as the wire protocol allows.
 *
 * Lifecycle, with the messages the caller sends:
 * @code
 *	HEADER    -> vmbs_gpadl_header()   CREATED(0) / CREATED(FAILURE) / nothing
 *	BODY...   -> vmbs_gpadl_body()     (idem)
 *	server    -> vmbs_gpadl_map()      ... use segments ... vmbs_gpadl_unmap()
 *	TEARDOWN  -> vmbs_gpadl_teardown() 0: TORNDOWN now; VMBS_GPADL_DEFERRED:
 *	                                   torndown callback at unmap
 * @endcode
 *
 * Threading model: every function runs on the VM's control thread (the
 * table is not locked). A mapping's segments may be read by data-plane
 * threads; they stay valid until vmbs_gpadl_unmap() (or the table's
 * destruction), so the control thread must quiesce those readers first.
 * The torndown callback runs on the control thread, from inside
 * vmbs_gpadl_unmap().
 */

#ifndef VMBS_GPADL_H
#define VMBS_GPADL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbs_guestmem.h"
#include "vmbs_wire.h"

/** Most GPADLs per VM in any state. A netvsc guest with 64 queues needs ~70. */
#define VMBS_GPADL_MAX 4096u

/** Most GPADLs being assembled at once: bounds memory held for partial lists. */
#define VMBS_GPADL_MAX_BUILDING 64u

/**
 * Most range-list bytes held for one VM. Each GPADL holds at most 65535
 * (range_buflen is a u16); a netvsc guest uses ~100 KiB in all. This stops
 * a guest making the host store 4096 maximal lists (256 MiB).
 */
#define VMBS_GPADL_MAX_RANGE_BYTES (16u << 20)

/** vmbs_gpadl_map() flag: map read-only (through guest memory's RO view). */
#define VMBS_GPADL_F_RO 0x1u

/** vmbs_gpadl_teardown() result: TORNDOWN is sent by the callback at unmap. */
#define VMBS_GPADL_DEFERRED 1

/** One VM's GPADL table (opaque). */
struct vmbs_gpadl_table;

/** What the caller sends after vmbs_gpadl_header() or vmbs_gpadl_body(). */
enum vmbs_gpadl_reply {
	/** Nothing: more GPADL_BODY messages are expected. */
	VMBS_GPADL_REPLY_NONE = 0,
	/** GPADL_CREATED with status 0: the GPADL is alive. */
	VMBS_GPADL_REPLY_CREATED,
	/**
	 * GPADL_CREATED with status VMBS_GPADL_STATUS_FAILURE. The GPADL was
	 * discarded and its id may be reused, except after a duplicate
	 * HEADER, where the existing GPADL of that id is left untouched.
	 */
	VMBS_GPADL_REPLY_FAILED,
	/** Nothing: the message named no GPADL being built; it was counted. */
	VMBS_GPADL_REPLY_IGNORED,
};

/** State of a GPADL. */
enum vmbs_gpadl_state {
	VMBS_GPADL_BUILDING,	 /**< HEADER seen, BODY messages outstanding */
	VMBS_GPADL_ALIVE,	 /**< complete; CREATED(0) was sent */
	VMBS_GPADL_TEARING_DOWN, /**< mapped when TEARDOWN or channel release came */
};

/**
 * A mapped GPADL: its bytes, in range-list order, as segments. Offset o of
 * the GPADL (counting only the ranges' bytes, i.e. after each range's
 * byte_offset) is at seg[i].va + (o - seg_off[i]) for the segment i with
 * seg_off[i] <= o < seg_off[i] + seg[i].len.
 *
 * Read-only for users; valid until vmbs_gpadl_unmap() of its GPADL.
 */
struct vmbs_gpadl_mapping {
	uint32_t gpadl_id;		/**< the GPADL mapped */
	uint32_t flags;			/**< VMBS_GPADL_F_* used to map */
	uint64_t len;			/**< total bytes: sum of seg[].len */
	uint32_t nseg;			/**< segments, >= 1 */
	const struct vmbs_seg *seg;	/**< nseg segments */
	const uint64_t *seg_off;	/**< nseg starting offsets, ascending */
};

/** Snapshot of one GPADL. */
struct vmbs_gpadl_info {
	uint32_t relid;			/**< channel the GPADL belongs to */
	enum vmbs_gpadl_state state;	/**< current state */
	bool writable;			/**< may be mapped read-write */
	bool mapped;			/**< a mapping exists */
	uint16_t range_cnt;		/**< ranges in the list */
	uint32_t pfn_cnt;		/**< pages (valid once alive) */
	uint64_t len;			/**< bytes described (valid once alive) */
};

/** Counters of a table; every guest-triggered anomaly has one. */
struct vmbs_gpadl_stats {
	uint64_t created;	   /**< GPADLs completed (CREATED(0) answered) */
	uint64_t failed;	   /**< CREATED(FAILURE) answers, all causes */
	uint64_t fail_dup;	   /**< ... HEADER with an id already in use */
	uint64_t fail_limit;	   /**< ... table, building or byte budget full */
	uint64_t fail_malformed;   /**< ... bad lengths or an invalid range list */
	uint64_t body_unknown;	   /**< BODY for an unknown id (ignored) */
	uint64_t body_extra;	   /**< BODY for a complete GPADL (ignored) */
	uint64_t body_bad;	   /**< BODY overflowing or not whole words (fails it) */
	uint64_t maps;		   /**< successful maps */
	uint64_t map_enoent;	   /**< map: unknown, building or tearing down */
	uint64_t map_ebusy;	   /**< map: already mapped */
	uint64_t map_eacces;	   /**< map: read-write map of a read-only GPADL */
	uint64_t map_efault;	   /**< map: page outside guest memory */
	uint64_t map_enomem;	   /**< map: out of memory */
	uint64_t unmaps;	   /**< successful unmaps */
	uint64_t torndown_now;	   /**< teardowns answered at once */
	uint64_t torndown_deferred; /**< teardowns answered by the callback */
	uint64_t teardown_bad;	   /**< teardowns refused (unknown, relid, repeat) */
	uint64_t released;	   /**< GPADLs dropped by vmbs_gpadl_release_channel */
};

/**
 * Called from vmbs_gpadl_unmap() when a GPADL whose teardown was deferred
 * is finally released: the caller sends GPADL_TORNDOWN for @p gpadl_id.
 * The GPADL is already gone from the table (its id may be reused).
 */
typedef void (*vmbs_gpadl_torndown_cb_t)(void *arg, uint32_t gpadl_id);

/**
 * Create an empty GPADL table for one VM.
 *
 * @param gm
 *   the VM's guest memory; must outlive the table.
 * @param torndown
 *   deferred-TORNDOWN callback (required).
 * @param arg
 *   passed to @p torndown.
 * @return
 *   the table, or NULL with errno set: EINVAL (NULL @p gm or @p torndown),
 *   ENOMEM.
 */
struct vmbs_gpadl_table *vmbs_gpadl_table_create(struct vmbs_gm *gm,
						 vmbs_gpadl_torndown_cb_t torndown,
						 void *arg);

/**
 * Release everything: unmap (unpinning guest memory) and free every GPADL,
 * whatever its state, without invoking the torndown callback. NULL is a
 * no-op (returns 0).
 *
 * @param tbl
 *   table to destroy.
 * @return
 *   the number of GPADLs that were still mapped (leaks by the server: their
 *   segments dangle from now on); 0 when the server unmapped everything.
 */
uint32_t vmbs_gpadl_table_destroy(struct vmbs_gpadl_table *tbl);

/**
 * Handle a guest GPADL_HEADER.
 *
 * @param tbl
 *   GPADL table.
 * @param relid
 *   child_relid of the message (the channel; not checked here: the caller
 *   validates that the channel exists).
 * @param gpadl_id
 *   gpadl of the message.
 * @param range_buflen
 *   total bytes of range data (header plus bodies); > 0 and a multiple of 8.
 * @param range_cnt
 *   number of ranges, > 0.
 * @param range_bytes
 *   the range data carried after the fixed header (copied).
 * @param n
 *   bytes at @p range_bytes: a multiple of 8, at most @p range_buflen.
 * @return
 *   VMBS_GPADL_REPLY_CREATED if the header completed a valid GPADL;
 *   VMBS_GPADL_REPLY_NONE if bodies are expected;
 *   VMBS_GPADL_REPLY_FAILED if the lengths are inconsistent, the complete
 *   list is invalid, a limit is reached, or @p gpadl_id is in use (the
 *   existing GPADL is left alone: the reply names an id the guest already
 *   owns, so the guest sees its duplicate request fail).
 */
enum vmbs_gpadl_reply vmbs_gpadl_header(struct vmbs_gpadl_table *tbl,
					uint32_t relid, uint32_t gpadl_id,
					uint16_t range_buflen, uint16_t range_cnt,
					const void *range_bytes, size_t n);

/**
 * Handle a guest GPADL_BODY: append @p n_bytes of range data. msgnumber is
 * not checked (no known host does; bodies arrive in order on one
 * connection).
 *
 * @param tbl
 *   GPADL table.
 * @param gpadl_id
 *   gpadl of the message.
 * @param words
 *   the u64 words after the fixed body header (copied; no alignment needed).
 * @param n_bytes
 *   bytes at @p words.
 * @param relid
 *   if not NULL, receives the GPADL's channel when the reply is CREATED or
 *   FAILED (GPADL_CREATED names it; GPADL_BODY does not carry it).
 * @return
 *   VMBS_GPADL_REPLY_CREATED if this body completed a valid GPADL;
 *   VMBS_GPADL_REPLY_NONE if more bodies are expected;
 *   VMBS_GPADL_REPLY_FAILED if the GPADL was building and this body is
 *   empty, not whole u64 words, overflows range_buflen, or completed an
 *   invalid list (the GPADL is discarded);
 *   VMBS_GPADL_REPLY_IGNORED if @p gpadl_id is unknown or already complete.
 */
enum vmbs_gpadl_reply vmbs_gpadl_body(struct vmbs_gpadl_table *tbl,
				      uint32_t gpadl_id, const void *words,
				      size_t n_bytes, uint32_t *relid);

/**
 * Server policy: allow or forbid read-write maps of a GPADL. GPADLs are
 * writable by default (the wire carries no access flag).
 *
 * @param tbl
 *   GPADL table.
 * @param gpadl_id
 *   a building or alive GPADL.
 * @param writable
 *   false to allow only VMBS_GPADL_F_RO maps.
 * @return
 *   0 on success; -ENOENT if unknown or tearing down; -EBUSY if clearing
 *   writability while a read-write mapping exists.
 */
int vmbs_gpadl_set_writable(struct vmbs_gpadl_table *tbl, uint32_t gpadl_id,
			    bool writable);

/**
 * Map an alive GPADL (KMCL VmbChannelMapGpadl): translate its pages into
 * merged segments and pin the guest-memory regions under them.
 *
 * @param tbl
 *   GPADL table.
 * @param gpadl_id
 *   GPADL to map.
 * @param flags
 *   VMBS_GPADL_F_RO for a read-only mapping (VAs of the RO view, enforced by
 *   the MMU); 0 for read-write.
 * @param out
 *   receives the mapping, valid until vmbs_gpadl_unmap().
 * @return
 *   0 on success; -ENOENT if unknown, still building or tearing down;
 *   -EBUSY if already mapped (one mapping at a time); -EACCES for a
 *   read-write map of a non-writable GPADL; -EFAULT if a page lies outside
 *   guest memory; -ENOMEM; -EINVAL for unknown @p flags.
 */
int vmbs_gpadl_map(struct vmbs_gpadl_table *tbl, uint32_t gpadl_id,
		   uint32_t flags, const struct vmbs_gpadl_mapping **out);

/**
 * Release the mapping of @p gpadl_id (KMCL VmbChannelUnmapGpadl). Quiesce
 * data-plane users of its segments first. If the GPADL was tearing down, it
 * is removed now, and if the guest asked for the teardown the torndown
 * callback fires before this returns.
 *
 * @param tbl
 *   GPADL table.
 * @param gpadl_id
 *   mapped GPADL.
 * @return
 *   0 on success; -EINVAL if @p gpadl_id is unknown or not mapped.
 */
int vmbs_gpadl_unmap(struct vmbs_gpadl_table *tbl, uint32_t gpadl_id);

/**
 * Handle a guest GPADL_TEARDOWN.
 *
 * @param tbl
 *   GPADL table.
 * @param relid
 *   child_relid of the message; must match the GPADL's channel.
 * @param gpadl_id
 *   gpadl of the message.
 * @return
 *   0: the GPADL (alive and unmapped, or still building) is gone; send
 *     GPADL_TORNDOWN now;
 *   VMBS_GPADL_DEFERRED: it is mapped; it is now tearing down (no new maps)
 *     and the torndown callback fires at vmbs_gpadl_unmap(); send nothing;
 *   -ENOENT if unknown, -EINVAL on a relid mismatch, -EALREADY if a
 *     teardown is already pending: send nothing.
 */
int vmbs_gpadl_teardown(struct vmbs_gpadl_table *tbl, uint32_t relid,
			uint32_t gpadl_id);

/**
 * Release every GPADL of channel @p relid, without answering the guest:
 * unmapped ones (building or alive) are removed at once; mapped ones are
 * marked tearing down and removed at their vmbs_gpadl_unmap(), which the
 * caller is expected to do from the channel's closed callback. The torndown
 * callback fires at that unmap only for a GPADL whose guest TEARDOWN was
 * already pending.
 *
 * Call this when the guest can no longer tear the GPADLs down itself: on
 * rescind once the relid is released, on UNLOAD or VM reset. Not on a
 * guest CLOSECHANNEL: Linux guests send GPADL_TEARDOWN for the ring GPADL
 * after CLOSECHANNEL and wait for GPADL_TORNDOWN; an id released here would
 * then be unknown and never answered. On CLOSECHANNEL, unmap instead.
 *
 * @param tbl
 *   GPADL table.
 * @param relid
 *   the channel.
 * @return
 *   the number of GPADLs left tearing down because they are still mapped.
 */
uint32_t vmbs_gpadl_release_channel(struct vmbs_gpadl_table *tbl,
				    uint32_t relid);

/**
 * Describe a GPADL in any state.
 *
 * @param tbl
 *   GPADL table.
 * @param gpadl_id
 *   the GPADL.
 * @param info
 *   filled on success.
 * @return
 *   0 on success; -ENOENT if unknown.
 */
int vmbs_gpadl_info(const struct vmbs_gpadl_table *tbl, uint32_t gpadl_id,
		    struct vmbs_gpadl_info *info);

/**
 * Total length of a mapped GPADL.
 *
 * @param tbl
 *   GPADL table.
 * @param gpadl_id
 *   the GPADL.
 * @param len
 *   receives the mapping's length in bytes.
 * @return
 *   0 on success; -ENOENT if unknown; -EINVAL if not mapped.
 */
int vmbs_gpadl_mapped_len(const struct vmbs_gpadl_table *tbl,
			  uint32_t gpadl_id, uint64_t *len);

/**
 * @param tbl
 *   GPADL table.
 * @return
 *   GPADLs in the table, in any state.
 */
uint32_t vmbs_gpadl_count(const struct vmbs_gpadl_table *tbl);

/**
 * Copy the table's counters.
 *
 * @param tbl
 *   GPADL table.
 * @param stats
 *   filled with a snapshot.
 */
void vmbs_gpadl_stats_get(const struct vmbs_gpadl_table *tbl,
			  struct vmbs_gpadl_stats *stats);

/**
 * Host VA of bytes [@p off, @p off + @p len) of a mapping, if they are
 * virtually contiguous. Data-plane safe while the mapping lives.
 *
 * @param m
 *   a mapping from vmbs_gpadl_map().
 * @param off
 *   byte offset into the GPADL.
 * @param len
 *   bytes wanted, > 0.
 * @param contig
 *   if not NULL, receives the bytes contiguous from @p off (to the end of
 *   its segment), also when they are fewer than @p len.
 * @return
 *   the VA of offset @p off, or NULL if [@p off, @p off + @p len) is not
 *   inside the mapping or spans a discontinuity (then use *@p contig to
 *   copy piecewise).
 */
void *vmbs_gpadl_mapping_va(const struct vmbs_gpadl_mapping *m, uint64_t off,
			    uint64_t len, uint64_t *contig);

#endif /* VMBS_GPADL_H */
