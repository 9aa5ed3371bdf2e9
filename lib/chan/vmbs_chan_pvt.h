/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Channel internals shared by chan.c and slowpath.c (and benchmarks that
 * need to reach inside an rx). Not a public API.
 *
 * Every atomic of the component is here, with its pairing:
 *  - G0/G1 (poll gate, vmbs_chan_pvt_gate_enter()) pair with C0/C1
 *    (control hold, vmbs_chan_pvt_ctl_hold()): a Dekker handshake with
 *    seq-cst stores and loads, so that either the poll lcore sees the hold
 *    and backs off, or the control thread sees the poll lcore busy and
 *    waits. G2 (release on leaving) pairs with C1 (acquire) so the control
 *    thread sees the poll lcore's ring and slot writes; C2 (release on
 *    dropping the hold) pairs with G1 so the poll lcore sees the control
 *    thread's.
 *  - D0 (rx->done exchange in vmbs_rx_complete()) is acq_rel: it only
 *    detects a double completion; the hand-off of the rx itself goes
 *    through the completion rte_ring (its own release/acquire).
 *  - K0 (n_parked decrement, release) in the worker pairs with K1 (acquire
 *    load) in the poll lcore: once the ordered queue unparks, the worker's
 *    completion writes are visible.
 *  - Slow-path hand-offs use rte_rings only (release on enqueue, acquire
 *    on dequeue): rx->state, ext_err and the pinned segments are written
 *    before the enqueue and read after the dequeue.
 */

#ifndef VMBS_CHAN_PVT_H
#define VMBS_CHAN_PVT_H

#include <pthread.h>

#include <rte_common.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "vmbs_bufring.h"
#include "vmbs_chan.h"
#include "vmbs_desc.h"

/** Where an rx is. Written by the owner of the moment (see ring hand-offs). */
enum vmbs_rx_state {
	VMBS_RX_FREE = 0,	/**< in the free stack */
	VMBS_RX_HELD,		/**< delivered, owned by the application */
	VMBS_RX_SP_PIN,		/**< queued to the slow path for pinning */
	VMBS_RX_SP_PIN_DONE,	/**< back from the slow path, to redeliver */
	VMBS_RX_SP_UNPIN,	/**< queued to the slow path for unpinning */
	VMBS_RX_SP_UNPIN_DONE,	/**< back from the slow path, to free */
	VMBS_RX_DEFERRED,	/**< waiting for vmbs_chan_worker_poll() */
	VMBS_RX_COMPLETED,	/**< in the completion ring or backlog */
};

/** What the callback asked for, read after it returns. */
enum vmbs_rx_req {
	VMBS_RX_REQ_NONE = 0,
	VMBS_RX_REQ_PEND,
	VMBS_RX_REQ_DEFER,
};

struct vmbs_rx {
	struct vmbs_chan *chan;
	enum vmbs_rx_state state;
	enum vmbs_rx_req req;
	uint32_t epoch;		/**< chan->epoch at dequeue; stale = orphan */
	uint32_t done;		/**< D0: set by the first completion */
	bool in_cb;		/**< inside the process-packet callback */
	bool ext_ready;		/**< sgl is valid */
	bool pinned;		/**< sgl segments pinned by the slow path */
	bool failed;		/**< completed by vmbs_rx_fail() */
	int ext_err;		/**< slow-path failure, returned by get_ext_data */
	uint32_t pkt_len;	/**< bytes copied from the ring */
	uint32_t resp_len;	/**< completion payload bytes (in buf) */
	uint64_t sp_t0;		/**< TSC when pending started */
	/* Slow path waiting for guest memory that is not there yet. */
	bool await_mem;		/**< a range lies outside every region */
	uint32_t sp_tries;	/**< translations retried */
	uint64_t sp_next_tsc;	/**< next retry */
	struct vmbs_rx *sp_next;	/**< service-private wait list */
	struct vmbs_desc_info di;	/**< parse of buf */
	uint8_t *buf;		/**< private copy; the response after completion */
	void *ctx;		/**< rx_ctx_size bytes or NULL */
	struct vmbs_sgl *sgl;	/**< max_ext_segs segments */
};

struct vmbs_pkt {
	struct vmbs_chan *chan;
	vmbs_pkt_done_cb_t done;
	void *priv;
	uint32_t idx;		/**< in chan->pkts and the transaction table */
	uint32_t hdr_len;	/**< 0 (inband) or encoded xfer header in buf */
	uint32_t len;		/**< payload bytes in buf, after hdr_len */
	uint32_t flags;		/**< VMBS_SEND_F_* */
	uint32_t in_flight;	/**< 1 from send to done (exchange-guarded) */
	uint64_t trans_id;	/**< id on the wire; 0 when idle */
	uint64_t dev_trans_id;	/**< VMBS_SEND_F_DEVICE_COMP: the caller's id */
	uint8_t *buf;
};

struct vmbs_chan {
	/* Poll-lcore side. */
	struct {
		uint32_t poll_busy;	/**< G0 */
		uint32_t ctl_hold;	/**< C0 */
	} gate __rte_cache_aligned;

	struct vmbs_chan_params p;
	enum vmbs_chan_state state;
	bool started;		/**< Start called (armed) */
	bool running;		/**< rx queue enabled (open && started) */
	bool rx_stopped;	/**< failed: no more deliveries until reopen */
	bool tx_dirty;		/**< h2g has uncommitted packets */
	uint32_t epoch;
	uint32_t quota;
	uint32_t n_parked;	/**< K0/K1: pending or deferred (ordered mode) */

	struct vmbs_gpadl_table *tbl;
	uint32_t ring_gpadl;
	struct vmbs_br g2h;
	struct vmbs_br h2g;
	uint8_t *scratch;	/**< oversize packets are copied here and dropped */
	uint32_t scratch_len;

	/* rx slots: a LIFO stack owned by whoever holds the gate. */
	struct vmbs_rx *rxs;
	struct vmbs_rx **free_rx;
	uint32_t n_rx;
	uint32_t free_top;
	/* COMP backlog: FIFO, at most n_rx entries. */
	struct vmbs_rx **backlog;
	uint32_t bl_head, bl_cnt;

	struct rte_ring *comp_ring;	/**< MP/SC: completed rx */
	struct rte_ring *ret_ring;	/**< SP/SC: back from the slow path */
	/**
	 * rx handed to the slow path and not yet back in ret_ring. S0: the
	 * service's release decrement, after its last touch of this channel,
	 * pairs with S1, the acquire load in vmbs_chan_free(), so the channel
	 * is never freed while the service still holds a pointer into it.
	 */
	uint32_t sp_inflight;
	struct rte_ring *defer_ring;	/**< SP/SC: to the worker */
	struct rte_ring *tx_ring;	/**< MP/SC: packets to send */
	struct rte_ring *pkt_free;	/**< MP/MC: idle packet objects */

	struct vmbs_pkt *pkts;
	uint32_t n_pkts;
	struct vmbs_pkt **txid_tbl;	/**< by idx: packet awaiting COMP */
	uint64_t *txid_last;		/**< by idx: last id completed (dups) */
	uint64_t txid_gen;
	struct vmbs_pkt *tx_head;	/**< dequeued but not yet written */

	/*
	 * Interrupt mode. intr_epfd is an epoll set holding the guest's g2h
	 * doorbell; the VM swaps the doorbell only with the channel held, so
	 * the poll lcore reads g2h_db_fd inside the gate without atomics.
	 */
	int intr_epfd;
	int g2h_db_fd;

	struct vmbs_chan_stats st;
	void *mem;			/**< slots, buffers */
	bool sp_reserved;
};

/*
 * Translate @p rx's GPA ranges into its sgl (view @p flags). On success
 * the sgl holds the segments, their total and @p flags; otherwise it is
 * untouched but for segments. Returns vmbs_gm_translate_ranges()'s code.
 */
static inline int
vmbs_chan_pvt_sgl_translate(struct vmbs_rx *rx, uint32_t flags)
{
	struct vmbs_chan *chan = rx->chan;
	struct vmbs_sgl *sgl = rx->sgl;
	uint32_t n = 0, i;
	uint64_t tot = 0;
	int rc;

	rc = vmbs_gm_translate_ranges(chan->p.gm, rx->buf + rx->di.range_off,
				      rx->di.range_len, rx->di.range_cnt,
				      (flags & VMBS_EXT_F_RO) ? VMBS_GM_F_RO : 0,
				      sgl->seg, chan->p.max_ext_segs, &n);
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++)
		tot += sgl->seg[i].len;
	sgl->nseg = n;
	sgl->len = tot;
	sgl->flags = flags;
	return 0;
}

/* ---- gate ---- */

static inline bool
vmbs_chan_pvt_gate_enter(struct vmbs_chan *chan)
{
	/* G0: announce, then G1: look for a hold (Dekker, seq-cst both). */
	__atomic_store_n(&chan->gate.poll_busy, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&chan->gate.ctl_hold, __ATOMIC_SEQ_CST) == 0)
		return true;
	/* G2': back off; release pairs with C1. */
	__atomic_store_n(&chan->gate.poll_busy, 0, __ATOMIC_RELEASE);
	return false;
}

static inline void
vmbs_chan_pvt_gate_leave(struct vmbs_chan *chan)
{
	/* G2: release pairs with C1: our ring/slot writes precede it. */
	__atomic_store_n(&chan->gate.poll_busy, 0, __ATOMIC_RELEASE);
}

static inline void
vmbs_chan_pvt_ctl_hold(struct vmbs_chan *chan)
{
	/* C0: hold (seq-cst, pairs with G1). */
	__atomic_store_n(&chan->gate.ctl_hold, 1, __ATOMIC_SEQ_CST);
	/* C1: wait for the poll lcore to leave (seq-cst load pairs with G0,
	 * acquire semantics pair with G2).
	 */
	while (__atomic_load_n(&chan->gate.poll_busy, __ATOMIC_SEQ_CST) != 0)
		rte_pause();
}

static inline void
vmbs_chan_pvt_ctl_release(struct vmbs_chan *chan)
{
	/* C2: release pairs with G1. */
	__atomic_store_n(&chan->gate.ctl_hold, 0, __ATOMIC_RELEASE);
}

/* ---- parked count (ordered mode) ---- */

static inline void
vmbs_chan_pvt_park(struct vmbs_chan *chan)
{
	__atomic_fetch_add(&chan->n_parked, 1, __ATOMIC_RELAXED);
}

static inline void
vmbs_chan_pvt_unpark(struct vmbs_chan *chan)
{
	/* K0: release pairs with K1. */
	__atomic_fetch_sub(&chan->n_parked, 1, __ATOMIC_RELEASE);
}

static inline uint32_t
vmbs_chan_pvt_parked(struct vmbs_chan *chan)
{
	/* K1: acquire pairs with K0. */
	return __atomic_load_n(&chan->n_parked, __ATOMIC_ACQUIRE);
}

/* ---- rx done flag ---- */

static inline bool
vmbs_chan_pvt_rx_mark_done(struct vmbs_rx *rx)
{
	/* D0: first completion wins. */
	return __atomic_exchange_n(&rx->done, 1, __ATOMIC_ACQ_REL) == 0;
}

static inline bool
vmbs_chan_pvt_rx_is_done(const struct vmbs_rx *rx)
{
	return __atomic_load_n(&rx->done, __ATOMIC_ACQUIRE) != 0;
}

static inline void
vmbs_chan_pvt_rx_reset_done(struct vmbs_rx *rx)
{
	/* Before delivery; published to other lcores by the application. */
	__atomic_store_n(&rx->done, 0, __ATOMIC_RELAXED);
}

/** Benchmarks: forget a ready (unpinned) scatter list so it is rebuilt. */
static inline void
vmbs_chan_pvt_rx_ext_reset(struct vmbs_rx *rx)
{
	if (!rx->pinned)
		rx->ext_ready = false;
}

/* ---- slow path (slowpath.c) ---- */

int vmbs_chan_sp_attach(uint32_t n);
void vmbs_chan_sp_detach(uint32_t n);
/** Queue an rx (state SP_PIN or SP_UNPIN); never fails (capacity reserved). */
void vmbs_chan_sp_post(struct vmbs_rx *rx);

#endif /* VMBS_CHAN_PVT_H */
