/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * VMBus channel, server role (KMCL's VMBCHANNEL on the host side): the
 * offer identity, the open/close and start/pause state machine, incoming
 * packets (struct vmbs_rx: copy out of the g2h ring, deliver, complete),
 * external data (GPA-direct ranges as a scatter list, with a slow path
 * that makes non-resident pages resident and pinned and then redelivers
 * the same packet), and outgoing packets (struct vmbs_pkt) with a
 * transaction-id table matching the guest's completions.
 *
 * Viewpoint: g2h (guest to host) is what the server consumes, h2g what it
 * produces. The ring GPADL's pages [0, off) are g2h, [off, N) are h2g.
 *
 * Threading model (three contexts):
 *  - control ("worker") thread: alloc/free, enable/open/start/pause/close/
 *    disable, vmbs_chan_worker_poll(). State callbacks and redeliveries of
 *    deferred packets run here. Functions that wait (pause, close, disable)
 *    may block for at most the drain timeout.
 *  - poll lcore: vmbs_chan_poll() only, from one lcore per channel
 *    ("inline" context: no blocking, no system calls). The process-packet,
 *    batch and outgoing-done callbacks run here. The poll lcore and the
 *    control thread hand the rings over through a seq-cst gate: while the
 *    control thread holds the channel (state changes), vmbs_chan_poll()
 *    returns 0 at once.
 *  - any lcore: vmbs_rx_complete(), vmbs_rx_fail(), vmbs_pkt_alloc(),
 *    vmbs_pkt_free(), vmbs_pkt_send(). These never touch the rings: they
 *    post to multi-producer rte_rings that the owning poll lcore drains,
 *    so they are lock-free and the rings keep a single writer.
 *  - slow path: one DPDK service (vmbs_chan_sp_service_id()) shared by all
 *    channels; run it on a service lcore or from any lcore with
 *    rte_service_run_iter_on_app_lcore(). An iteration with no work costs
 *    one ring-count load and returns.
 *
 * Guest memory (lib/guestmem) allows pin/unpin/populate from one control
 * thread only; the slow path calls them too, so this library serialises
 * its own calls with vmbs_chan_gm_lock(). Applications that call those
 * guestmem or gpadl functions concurrently with a running slow path must
 * take the same lock.
 *
 * Needs the EAL (rte_ring, rte_malloc, rte_service).
 */

#ifndef VMBS_CHAN_H
#define VMBS_CHAN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbs_guestmem.h"
#include "vmbs_gpadl.h"

/** get_ext_data() result: the packet will be redelivered; return now. */
#define VMBS_EPENDING (-EINPROGRESS)

/** rx flag: the packet carries GPA-direct external data. */
#define VMBS_RX_F_EXT_DATA 0x1u
/** rx flag: the guest asked for a completion packet. */
#define VMBS_RX_F_COMPLETION_REQUESTED 0x100u
/** rx flag: second or later delivery of the same rx (after pending/defer). */
#define VMBS_RX_F_REDELIVERED 0x400u
/** rx flag: delivered in worker context (after vmbs_rx_defer()). */
#define VMBS_RX_F_WORKER 0x800u

/** get_ext_data() flag: scatter list of the read-only view. */
#define VMBS_EXT_F_RO 0x1u

/** pkt_send() flag: the guest must complete; done_cb gets its response. */
#define VMBS_SEND_F_WAIT_COMPLETION 0x1u
/**
 * Send flag: ask the guest for a completion, but with the caller's own
 * transaction id (vmbs_pkt_set_trans_id()) and without tracking it here:
 * the guest's COMP goes to the channel's comp_cb, which may be another
 * channel's (netvsp receive-buffer batches, completed on any channel of
 * the NIC). done_cb runs once the packet is written, as without WAIT.
 */
#define VMBS_SEND_F_DEVICE_COMP 0x2u

/** Channel flag: a pending or deferred packet does not block later ones. */
#define VMBS_CHAN_F_UNORDERED 0x1u
/** Channel flag: a failed or malformed packet stops the rx queue. */
#define VMBS_CHAN_F_STOP_ON_FAIL 0x2u

/** Default bound on pause/close waits for outstanding packets. */
#define VMBS_CHAN_DRAIN_TIMEOUT_MS 200u

/**
 * How long the slow path waits for guest memory a packet names but no
 * region covers yet (retries back off from 1 ms to 64 ms).
 */
#define VMBS_CHAN_SP_MEM_WAIT_MS 500u

struct vmbs_chan;
struct vmbs_rx;
struct vmbs_pkt;

/** Scatter list of external data (the MDL replacement). */
struct vmbs_sgl {
	uint32_t nseg;		/**< segments in seg[] */
	uint32_t flags;		/**< VMBS_EXT_F_* it was built with */
	uint64_t len;		/**< total bytes */
	struct vmbs_seg seg[];	/**< runs: gpa, va, iova, len; merged */
};

/** Channel states (the open/closed axis; started is separate). */
enum vmbs_chan_state {
	VMBS_CHAN_DISABLED = 0,	/**< allocated, not offered */
	VMBS_CHAN_ENABLED,	/**< offered, not open */
	VMBS_CHAN_OPEN,		/**< rings mapped */
};

/** What the opened callback learns. */
struct vmbs_open_info {
	uint32_t ring_gpadl;		/**< GPADL holding both halves */
	uint32_t g2h_size;		/**< bytes of the g2h half, ctl page included */
	uint32_t h2g_size;		/**< bytes of the h2g half */
};

/** State callbacks; all run in control context. Any may be NULL. */
struct vmbs_state_cbs {
	/** Guest opened; a negative return rolls the open back. */
	int (*opened)(struct vmbs_chan *chan, const struct vmbs_open_info *oi);
	/** Channel closed; rings already quiesced, unmapped after return. */
	void (*closed)(struct vmbs_chan *chan);
	/** No more deliveries until started; complete outstanding rx. */
	void (*suspend)(struct vmbs_chan *chan);
	/** Before the rx queue runs: may queue sends, must not wait. */
	void (*started)(struct vmbs_chan *chan);
	/** After the rx queue runs. */
	void (*post_started)(struct vmbs_chan *chan);
};

/** Process-packet callback (poll lcore, or control with VMBS_RX_F_WORKER). */
typedef void (*vmbs_rx_cb_t)(struct vmbs_chan *chan, struct vmbs_rx *rx,
			     const void *payload, uint32_t len, uint32_t flags);
/** End of a batch: @p n packets were delivered by this poll. */
typedef void (*vmbs_rx_batch_cb_t)(struct vmbs_chan *chan, uint32_t n);
/** Outgoing packet done: status 0 or -ECANCELED; resp only with WAIT. */
typedef void (*vmbs_pkt_done_cb_t)(struct vmbs_pkt *pkt, int status,
				   const void *resp, uint32_t resp_len);
/** Ring signal to the guest (doorbell); poll lcore, or control context
 * during open/close. @p arg is the params' signal_arg. */
typedef void (*vmbs_chan_signal_cb_t)(struct vmbs_chan *chan, void *arg);
/** A guest COMP that names no packet of this channel (poll lcore). */
typedef void (*vmbs_comp_cb_t)(struct vmbs_chan *chan, uint64_t trans_id,
			       const void *payload, uint32_t len);
/** A packet was deferred: the control thread should worker-poll soon. */
typedef void (*vmbs_chan_kick_cb_t)(struct vmbs_chan *chan, void *arg);

/** Init-time settings. Zero fields take the documented defaults. */
struct vmbs_chan_params {
	const char *name;		/**< for logs and rings; unique, < 20 chars */
	struct vmbs_gm *gm;		/**< the VM's guest memory (required) */
	uint32_t max_pkt_size;		/**< largest g2h packet, descriptor
					 *   included; also the largest response
					 *   and send; default 4096 */
	uint32_t max_ext_bytes;		/**< external data cap; default 1 MiB */
	uint32_t max_ext_segs;		/**< merged segments cap; default 64 */
	uint32_t rx_ctx_size;		/**< per-rx context bytes; default 0 */
	uint32_t quota;			/**< outstanding rx cap; default 64 */
	uint32_t budget;		/**< packets per poll; default 32 */
	uint32_t n_pkts;		/**< outgoing packet objects; default 64 */
	uint32_t drain_timeout_ms;	/**< pause/close bound; default above */
	uint32_t flags;			/**< VMBS_CHAN_F_* */
	uint8_t if_type[16];		/**< offer: class GUID */
	uint8_t if_instance[16];	/**< offer: instance GUID */
	uint32_t relid;			/**< offer: child relid */
	uint16_t subchan_idx;		/**< offer: 0 for a primary channel */
	uint16_t offer_flags;		/**< offer: VMBS_OFFER_F_* */
	struct vmbs_state_cbs state_cbs;	/**< state callbacks */
	vmbs_rx_cb_t rx_cb;		/**< required */
	vmbs_rx_batch_cb_t rx_batch_cb;	/**< optional */
	vmbs_chan_signal_cb_t signal_cb;	/**< optional doorbell */
	void *signal_arg;		/**< for signal_cb */
	/**
	 * optional: COMPs whose id is not an outstanding WAIT packet's (with
	 * it, they are not counted as tx_comp_unknown here).
	 */
	vmbs_comp_cb_t comp_cb;
	/**
	 * optional: called on the poll lcore after vmbs_rx_defer(), so the
	 * owner of the control thread can run vmbs_chan_worker_poll() without
	 * waiting for its next timer tick. Filled by lib/vm.
	 */
	vmbs_chan_kick_cb_t kick_cb;
	void *kick_arg;			/**< for kick_cb */
	void *priv;			/**< vmbs_chan_priv() */
};

/**
 * Counters. Each has a single writer (the poll lcore, the control thread,
 * or relaxed atomics where any lcore counts); reads are racy snapshots.
 */
struct vmbs_chan_stats {
	uint64_t rx_delivered;	/**< inline callback invocations, redeliveries included */
	uint64_t worker_delivered; /**< worker-context deliveries (after defer) */
	uint64_t rx_completed;	/**< vmbs_rx_complete() processed */
	uint64_t rx_comp_sent;	/**< COMP packets written to h2g */
	uint64_t rx_comp_backlog; /**< COMPs that had to wait for h2g space */
	uint64_t rx_failed;	/**< vmbs_rx_fail() */
	uint64_t rx_malformed;	/**< guest packets rejected by the parser */
	uint64_t rx_oversize;	/**< guest packets over max_pkt_size */
	uint64_t rx_quota_stalls; /**< polls that stopped at the quota */
	uint64_t rx_double_complete; /**< second completion of one rx (ignored) */
	uint64_t rx_resp_truncated; /**< responses clipped to max_pkt_size */
	uint64_t ring_errors;	/**< bufring sticky errors (channel failed) */
	uint64_t signals;	/**< doorbells rung */
	uint64_t pends;		/**< get_ext_data() returned VMBS_EPENDING */
	uint64_t mem_waits;	/**< of which: waiting for memory not yet added */
	uint64_t redeliveries;	/**< inline redeliveries after pending */
	uint64_t pin_failures;	/**< slow path could not populate/pin */
	uint64_t orphans;	/**< rx abandoned by a timed-out close */
	uint64_t tx_sent;	/**< outgoing packets written */
	uint64_t tx_queued;	/**< sends that found h2g full */
	uint64_t tx_completed;	/**< guest COMPs matched */
	uint64_t tx_comp_unknown; /**< guest COMPs with an unknown id */
	uint64_t tx_comp_dup;	/**< guest COMPs for an id already completed */
	uint64_t tx_cancelled;	/**< outgoing packets cancelled on close */
};

/** Power-of-two pin-latency histogram buckets: [2^i, 2^(i+1)) ns. */
#define VMBS_CHAN_SP_HIST 40

/** Slow-path counters (process-wide). */
struct vmbs_chan_sp_stats {
	uint64_t requests;	/**< pin requests served */
	uint64_t unpins;	/**< unpin requests served */
	uint64_t failures;	/**< populate or pin failures */
	uint64_t mem_arrived;	/**< waits for guest memory that ended in success */
	uint64_t mem_timeouts;	/**< waits that ended in -EFAULT */
	uint64_t hist[VMBS_CHAN_SP_HIST]; /**< pin latency, request to done */
};

/**
 * Create a channel (server role) in the DISABLED state. Also registers the
 * shared slow-path service on first use.
 *
 * @param p
 *   settings; copied.
 * @return
 *   the channel, or NULL with rte_errno set: EINVAL (missing gm or rx_cb,
 *   sizes out of range), ENOMEM, ENOSPC (slow-path ring capacity, shared by
 *   all channels' quotas, exhausted), or an rte_service error.
 */
struct vmbs_chan *vmbs_chan_alloc(const struct vmbs_chan_params *p);

/**
 * Free a disabled channel. Control context. Rx still held by the
 * application (orphans) must not be touched afterwards.
 *
 * @param chan
 *   channel, or NULL (no-op).
 * @return
 *   0; -EBUSY if the channel is not DISABLED, or the slow path still holds
 *   one of its rx (run the service, then retry); nothing is freed then.
 */
int vmbs_chan_free(struct vmbs_chan *chan);

/**
 * Offer the channel (DISABLED -> ENABLED).
 *
 * @param chan
 *   channel.
 * @return
 *   0; -EBUSY if not DISABLED.
 */
int vmbs_chan_enable(struct vmbs_chan *chan);

/**
 * Guest OPENCHANNEL: map the ring GPADL read-write, split it at
 * @p downstream_off pages, attach the g2h consumer (interrupt mask kept
 * set: we poll) and the h2g producer (pending-send-size feature), and call
 * the opened callback. If the channel is started, the rx queue then runs
 * (started, post_started callbacks). Control context.
 *
 * @param chan
 *   an ENABLED channel.
 * @param tbl
 *   the VM's GPADL table.
 * @param ring_gpadl
 *   GPADL id from OPENCHANNEL.
 * @param downstream_off
 *   first page of the h2g half.
 * @return
 *   0; -EBUSY if not ENABLED; an error of vmbs_gpadl_map(); -EINVAL if a
 *   half is shorter than 2 pages, @p downstream_off is beyond the GPADL,
 *   the length is not whole pages, or a half is not one virtually
 *   contiguous run; -EPROTO if a ring's control page is corrupt; -ENOMEM;
 *   the opened callback's error. On failure nothing stays mapped.
 */
int vmbs_chan_open(struct vmbs_chan *chan, struct vmbs_gpadl_table *tbl,
		   uint32_t ring_gpadl, uint32_t downstream_off);

/**
 * Allow the rx queue to run (KMCL Start). Runs started, enables delivery,
 * then post_started, now if the channel is open, else at open. Control.
 *
 * @param chan
 *   channel.
 * @return
 *   0; -EALREADY if already started; -ENODEV if DISABLED.
 */
int vmbs_chan_start(struct vmbs_chan *chan);

/**
 * Stop deliveries (KMCL Pause): suspend callback, then wait until every
 * outstanding rx is completed (draining completions itself), at most the
 * drain timeout. A packet the application never completes does not wedge
 * it. Not from a state callback. Control.
 *
 * @param chan
 *   channel.
 * @return
 *   0 when everything completed; -ETIMEDOUT if rx were still outstanding
 *   at the deadline (the channel is paused anyway); -EALREADY if not
 *   started.
 */
int vmbs_chan_pause(struct vmbs_chan *chan);

/**
 * Guest CLOSECHANNEL (or local close): suspend, wait (bounded) for
 * outstanding rx, abandon the rest (their later completion only frees
 * them), cancel outgoing packets (done_cb(-ECANCELED)), call the closed
 * callback, unmap the ring GPADL. OPEN -> ENABLED. Control.
 *
 * @param chan
 *   channel.
 * @return
 *   0; -ENOTCONN if not open; -ETIMEDOUT if rx were abandoned.
 */
int vmbs_chan_close(struct vmbs_chan *chan);

/**
 * Rescind: close if open, then ENABLED -> DISABLED. Control.
 *
 * @param chan
 *   channel.
 * @return
 *   0 (or -ETIMEDOUT from the close, the channel is disabled anyway);
 *   -EALREADY if already DISABLED.
 */
int vmbs_chan_disable(struct vmbs_chan *chan);

/**
 * Poll the channel (poll lcore, one per channel): drain completions,
 * pending-data returns and queued sends, then one batch of at most
 * min(@p budget, configured budget) g2h packets, stopping at the quota,
 * at a parked ordered queue or at a stopped queue; then the batch callback
 * (if something was delivered).
 *
 * @param chan
 *   channel.
 * @param budget
 *   most packets delivered; 0 means the configured budget.
 * @return
 *   packets delivered (callback invocations, redeliveries included); 0
 *   when closed, not started or held by the control thread.
 */
int vmbs_chan_poll(struct vmbs_chan *chan, uint32_t budget);

/**
 * Write what is queued for the guest (completions, outgoing packets) and
 * signal it, without reading the g2h ring. Same context rule as
 * vmbs_chan_poll() (it is a poll that takes nothing in): for a sender
 * that cannot wait for the next poll.
 *
 * @param chan
 *   channel.
 * @return
 *   0.
 */
int vmbs_chan_flush(struct vmbs_chan *chan);

/**
 * Interrupt mode, for embedders that sleep when a queue is idle. The
 * channel owns an epoll set (vmbs_chan_intr_fd(), valid until
 * vmbs_chan_free()) that becomes readable when the guest rings its g2h
 * doorbell. An embedder parks with vmbs_chan_rx_intr_enable(), waits on
 * the set (e.g. nested in its own epoll set), then calls
 * vmbs_chan_rx_intr_disable() and polls again. Enable and disable follow
 * vmbs_chan_poll()'s context rule.
 *
 * @return
 *   0: parked, the guest will signal the next packet; 1: work is already
 *   there (packets, completions to write, slow-path returns), keep
 *   polling; -ENOTCONN: not open and running; -ENOTSUP: the guest has no
 *   g2h doorbell, so it will never signal; -EPROTO: the ring failed.
 */
int vmbs_chan_rx_intr_enable(struct vmbs_chan *chan);

/** Mask the guest's signals again and consume a pending doorbell. */
void vmbs_chan_rx_intr_disable(struct vmbs_chan *chan);

/** The channel's interrupt epoll set (see vmbs_chan_rx_intr_enable()). */
int vmbs_chan_intr_fd(const struct vmbs_chan *chan);

/**
 * Tell the channel which eventfd the guest rings for g2h (-1: none). The
 * caller keeps ownership and closes the previous fd only after this
 * returns. Control context, with the channel held (vmbs_chan_hold()).
 */
void vmbs_chan_set_g2h_doorbell(struct vmbs_chan *chan, int fd);

/**
 * Redeliver deferred rx in worker context (flags REDELIVERED | WORKER).
 * Control context.
 *
 * @param chan
 *   channel.
 * @return
 *   packets redelivered.
 */
int vmbs_chan_worker_poll(struct vmbs_chan *chan);

/**
 * @param chan
 *   channel.
 * @return
 *   current open/closed state.
 */
enum vmbs_chan_state vmbs_chan_state(const struct vmbs_chan *chan);

/**
 * @param chan
 *   channel.
 * @return
 *   the priv pointer from the params.
 */
void *vmbs_chan_priv(const struct vmbs_chan *chan);

/**
 * @param chan
 *   channel.
 * @return
 *   the relid it was allocated with.
 */
uint32_t vmbs_chan_relid(const struct vmbs_chan *chan);

/**
 * @param chan
 *   channel.
 * @return
 *   its subchannel index (0: primary).
 */
uint16_t vmbs_chan_subchan_idx(const struct vmbs_chan *chan);

/**
 * Whether the guest-to-host ring holds nothing unread: a hint read from
 * the shared control page (the guest may add more at any time), used to
 * let the ring drain before acting on CLOSECHANNEL. Control context.
 *
 * @param chan
 *   channel.
 * @return
 *   true if not open, or if the ring's read and write indices are equal.
 */
bool vmbs_chan_g2h_empty(const struct vmbs_chan *chan);

/**
 * Collect completions of rx a close abandoned (orphans) and slow-path
 * hand-backs on a channel that is not open, releasing their slots and
 * pins. Guest memory must stay mapped until this returns 0. Control
 * context.
 *
 * @param chan
 *   channel, not OPEN.
 * @return
 *   rx still outstanding (held by the application or the slow path);
 *   UINT32_MAX if the channel is open.
 */
uint32_t vmbs_chan_reap(struct vmbs_chan *chan);

/**
 * Keep the poll lcore out of the channel (the gate the state changes use)
 * while the control thread changes state that polls read, e.g. the VM's
 * guest-memory region table. Waits for a poll in progress to leave. Not
 * nestable, and no other vmbs_chan_* call on @p chan until
 * vmbs_chan_unhold(). Control context.
 *
 * @param chan
 *   channel.
 */
void vmbs_chan_hold(struct vmbs_chan *chan);

/**
 * Let the poll lcore back in after vmbs_chan_hold(). Control context.
 *
 * @param chan
 *   channel.
 */
void vmbs_chan_unhold(struct vmbs_chan *chan);

/**
 * Copy the channel's counters.
 *
 * @param chan
 *   channel.
 * @param st
 *   filled.
 */
/**
 * @param chan
 *   channel.
 * @return
 *   the GPADL table given to vmbs_chan_open() (the VM's), or NULL before
 *   the first open. Devices map their buffers through it on the control
 *   thread, under vmbs_chan_gm_lock().
 */
struct vmbs_gpadl_table *vmbs_chan_gpadl_table(const struct vmbs_chan *chan);

void vmbs_chan_stats_get(const struct vmbs_chan *chan,
			 struct vmbs_chan_stats *st);

/**
 * @param chan
 *   channel.
 * @return
 *   rx outstanding (delivered or pending, not yet freed).
 */
uint32_t vmbs_chan_rx_outstanding(const struct vmbs_chan *chan);

/**
 * Change the transaction quota. Takes effect at the next poll; lowering it
 * does not cancel anything. Control context.
 *
 * @param chan
 *   channel.
 * @param quota
 *   1 .. the quota given at alloc (the slot pool size).
 * @return
 *   0; -EINVAL if out of range.
 */
int vmbs_chan_set_rx_quota(struct vmbs_chan *chan, uint32_t quota);

/**
 * Complete an incoming packet: sends a COMP echoing its transaction id
 * with @p resp (if the guest asked), releases its payload, context and
 * scatter list. Cannot fail: if h2g is full the COMP waits in a backlog
 * bounded by the quota and is sent by a later poll. Any lcore.
 *
 * @param rx
 *   a delivered rx, not completed yet.
 * @param resp
 *   response bytes, or NULL.
 * @param len
 *   bytes at @p resp; clipped to max_pkt_size - 16 (counted).
 */
void vmbs_rx_complete(struct vmbs_rx *rx, const void *resp, uint32_t len);

/**
 * Fail an incoming packet: counted, completed with a 4-byte little-endian
 * status (@p reason) if the guest asked for a completion, and with
 * VMBS_CHAN_F_STOP_ON_FAIL the rx queue stops (no more deliveries until
 * reopen). Any lcore; releases the rx like vmbs_rx_complete().
 *
 * @param rx
 *   a delivered rx.
 * @param reason
 *   negative errno.
 */
void vmbs_rx_fail(struct vmbs_rx *rx, int reason);

/**
 * From the process-packet callback on the poll lcore: return, and have the
 * same rx redelivered in worker context by vmbs_chan_worker_poll().
 *
 * @param rx
 *   the rx being delivered.
 * @return
 *   0; -EINVAL if not called from its inline delivery.
 */
int vmbs_rx_defer(struct vmbs_rx *rx);

/**
 * Scatter list of a packet's GPA-direct data (KMCL GetExternalData).
 *
 * @param rx
 *   the rx, from inside its process-packet callback.
 * @param flags
 *   0 (read-write view) or VMBS_EXT_F_RO (read-only view, MMU-enforced).
 * @param out
 *   receives the list, valid until the rx is completed.
 * @return
 *   0; VMBS_EPENDING if a page is not resident, or lies outside every
 *   region the VMM added so far: return from the callback, the same rx is
 *   redelivered (VMBS_RX_F_REDELIVERED) once the slow path made it
 *   resident and pinned (memory not added within
 *   VMBS_CHAN_SP_MEM_WAIT_MS: redelivered, and the call then returns
 *   -EFAULT), and the call then succeeds; -ENODATA if
 *   the packet has no external data; -EBADMSG if its ranges are malformed;
 *   -E2BIG over max_ext_bytes or max_ext_segs; -EINVAL outside the
 *   callback, after completion or bad flags; -EFAULT if a page lies
 *   outside guest memory or the slow path failed to pin it.
 */
int vmbs_rx_get_ext_data(struct vmbs_rx *rx, uint32_t flags,
			 const struct vmbs_sgl **out);

/**
 * @param rx
 *   an rx.
 * @return
 *   its context area (rx_ctx_size bytes, zeroed at first delivery), or
 *   NULL if rx_ctx_size is 0.
 */
void *vmbs_rx_ctx(struct vmbs_rx *rx);

/**
 * @param rx
 *   an rx.
 * @return
 *   the guest's transaction id.
 */
uint64_t vmbs_rx_trans_id(const struct vmbs_rx *rx);

/**
 * Take an outgoing packet object. Any lcore.
 *
 * @param chan
 *   channel.
 * @param done
 *   completion callback (required); runs on the poll lcore, or on the
 *   control thread for cancellations.
 * @param priv
 *   caller pointer, vmbs_pkt_priv().
 * @return
 *   the packet, or NULL with rte_errno ENOMEM (pool empty) or EINVAL.
 */
struct vmbs_pkt *vmbs_pkt_alloc(struct vmbs_chan *chan, vmbs_pkt_done_cb_t done,
				void *priv);

/**
 * Return a packet object that is not in flight. Any lcore.
 *
 * @param pkt
 *   packet, or NULL.
 */
void vmbs_pkt_free(struct vmbs_pkt *pkt);

/**
 * @param pkt
 *   packet.
 * @return
 *   its priv pointer.
 */
void *vmbs_pkt_priv(const struct vmbs_pkt *pkt);

/**
 * Set the transaction id a VMBS_SEND_F_DEVICE_COMP send carries. Call
 * before the send, on the lcore that sends.
 *
 * @param pkt
 *   an idle packet object.
 * @param trans_id
 *   the id the guest will echo in its COMP.
 */
void vmbs_pkt_set_trans_id(struct vmbs_pkt *pkt, uint64_t trans_id);

/**
 * @param pkt
 *   a packet object.
 * @return
 *   the id last set with vmbs_pkt_set_trans_id() (e.g. in its done_cb, to
 *   undo what the id stands for when the send failed).
 */
uint64_t vmbs_pkt_dev_trans_id(const struct vmbs_pkt *pkt);

/**
 * Send an inband packet. The payload is copied; the packet is queued and
 * written by the poll lcore (at the next poll, or later if h2g is full:
 * never -EAGAIN). done_cb runs when written (no WAIT) or when the guest's
 * COMP with the packet's transaction id arrives (WAIT). Any lcore.
 *
 * @param pkt
 *   an idle packet object.
 * @param buf
 *   payload.
 * @param len
 *   bytes, at most max_pkt_size - 16.
 * @param flags
 *   0 or VMBS_SEND_F_WAIT_COMPLETION.
 * @return
 *   0; -EINVAL for bad flags or a packet in flight; -EMSGSIZE if too long;
 *   -ENOTCONN if the channel is disabled.
 */
int vmbs_pkt_send(struct vmbs_pkt *pkt, const void *buf, uint32_t len,
		  uint32_t flags);

/**
 * Send a transfer-page packet (type 7, netvsp receive path): @p n ranges
 * into the guest's transfer page set @p pageset_id, then @p len inband
 * bytes. Queued and completed exactly like vmbs_pkt_send().
 *
 * @param pkt
 *   an idle packet object.
 * @param pageset_id
 *   the guest's transfer page set (its receive-buffer id).
 * @param ranges
 *   @p n ranges (offset, count) into that set, copied.
 * @param n
 *   > 0.
 * @param buf
 *   inband payload after the ranges, or NULL if @p len is 0.
 * @param len
 *   payload bytes.
 * @param flags
 *   0, VMBS_SEND_F_WAIT_COMPLETION or VMBS_SEND_F_DEVICE_COMP.
 * @return
 *   0; -EINVAL for bad flags, no ranges or a packet in flight; -EMSGSIZE if
 *   header and payload exceed max_pkt_size; -ENOTCONN if disabled.
 */
int vmbs_pkt_send_xfer(struct vmbs_pkt *pkt, uint16_t pageset_id,
		       const struct vmbs_xfer_range *ranges, uint32_t n,
		       const void *buf, uint32_t len, uint32_t flags);

/**
 * GPA-direct send: not for the host role.
 *
 * @param pkt
 *   packet.
 * @return
 *   -EOPNOTSUPP always.
 */
int vmbs_pkt_send_gpa(struct vmbs_pkt *pkt);

/**
 * Service id of the shared slow path (valid after the first
 * vmbs_chan_alloc()).
 *
 * @param id
 *   receives the id.
 * @return
 *   0; -ENOENT if not registered yet.
 */
int vmbs_chan_sp_service_id(uint32_t *id);

/**
 * Copy the slow-path counters.
 *
 * @param st
 *   filled.
 */
void vmbs_chan_sp_stats_get(struct vmbs_chan_sp_stats *st);

/** Serialise guestmem pin/unpin/populate and GPADL map/unmap calls. */
void vmbs_chan_gm_lock(void);
/** Release vmbs_chan_gm_lock(). */
void vmbs_chan_gm_unlock(void);

#endif /* VMBS_CHAN_H */
