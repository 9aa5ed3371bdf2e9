/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Channel state machine, incoming and outgoing packet paths. See
 * vmbs_chan.h for the threading model and vmbs_chan_pvt.h for the
 * memory-ordering pairings.
 */

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "vmbs_chan_pvt.h"

RTE_LOG_REGISTER_DEFAULT(vmbs_chan_logtype, NOTICE);
#define CHAN_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, vmbs_chan_logtype, "vmbs_chan: " fmt "\n", \
		##__VA_ARGS__)

#define DESC_LEN ((uint32_t)sizeof(struct vmbs_pkt_desc))

static uint32_t
def(uint32_t v, uint32_t d)
{
	return v != 0 ? v : d;
}

static struct rte_ring *
chan_ring(const struct vmbs_chan *chan, const char *what, uint32_t n,
	  unsigned int flags)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "vc%p%s", (const void *)chan, what);
	return rte_ring_create(name, n, SOCKET_ID_ANY, flags | RING_F_EXACT_SZ);
}

static void
chan_free_mem(struct vmbs_chan *chan)
{
	rte_ring_free(chan->comp_ring);
	rte_ring_free(chan->ret_ring);
	rte_ring_free(chan->defer_ring);
	rte_ring_free(chan->tx_ring);
	rte_ring_free(chan->pkt_free);
	rte_free(chan->mem);
	rte_free(chan->free_rx);
	rte_free(chan->backlog);
	rte_free(chan->pkts);
	rte_free(chan->txid_tbl);
	rte_free(chan->txid_last);
	if (chan->sp_reserved)
		vmbs_chan_sp_detach(chan->n_rx);
	if (chan->intr_epfd >= 0)
		close(chan->intr_epfd);
	rte_free(chan);
}

struct vmbs_chan *
vmbs_chan_alloc(const struct vmbs_chan_params *p)
{
	struct vmbs_chan *chan;
	size_t slot, sgl_sz, pkt_sz;
	uint8_t *m;
	uint32_t i;
	int rc;

	if (p == NULL || p->gm == NULL || p->rx_cb == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	chan = rte_zmalloc("vmbs_chan", sizeof(*chan), RTE_CACHE_LINE_SIZE);
	if (chan == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	chan->intr_epfd = -1;
	chan->g2h_db_fd = -1;
	chan->p = *p;
	chan->p.max_pkt_size = RTE_ALIGN_CEIL(def(p->max_pkt_size, 4096), 8);
	chan->p.max_ext_bytes = def(p->max_ext_bytes, 1u << 20);
	chan->p.max_ext_segs = def(p->max_ext_segs, 64);
	chan->p.quota = def(p->quota, 64);
	chan->p.budget = def(p->budget, 32);
	chan->p.n_pkts = def(p->n_pkts, 64);
	chan->p.drain_timeout_ms = def(p->drain_timeout_ms, VMBS_CHAN_DRAIN_TIMEOUT_MS);
	if (chan->p.max_pkt_size < 64 || chan->p.max_pkt_size > VMBS_DESC_MAX_PKT_LEN ||
	    chan->p.quota > 65536 || chan->p.n_pkts > 65536 ||
	    chan->p.max_ext_segs > 4096) {
		rte_free(chan);
		rte_errno = EINVAL;
		return NULL;
	}
	chan->n_rx = chan->p.quota;
	chan->quota = chan->p.quota;
	chan->n_pkts = chan->p.n_pkts;

	rc = vmbs_chan_sp_attach(chan->n_rx);
	if (rc != 0) {
		rte_free(chan);
		rte_errno = -rc;
		return NULL;
	}
	chan->sp_reserved = true;

	sgl_sz = RTE_ALIGN_CEIL(sizeof(struct vmbs_sgl) +
				chan->p.max_ext_segs * sizeof(struct vmbs_seg), 64);
	slot = RTE_ALIGN_CEIL(sizeof(struct vmbs_rx), 64) + chan->p.max_pkt_size +
	       RTE_ALIGN_CEIL(chan->p.rx_ctx_size, 64) + sgl_sz;
	slot = RTE_ALIGN_CEIL(slot, 64);
	pkt_sz = chan->p.max_pkt_size;
	chan->mem = rte_zmalloc("vmbs_chan_mem", slot * chan->n_rx +
				pkt_sz * chan->n_pkts + sizeof(struct vmbs_rx) * chan->n_rx,
				RTE_CACHE_LINE_SIZE);
	chan->free_rx = rte_zmalloc(NULL, sizeof(void *) * chan->n_rx, 0);
	chan->backlog = rte_zmalloc(NULL, sizeof(void *) * chan->n_rx, 0);
	chan->pkts = rte_zmalloc(NULL, sizeof(struct vmbs_pkt) * chan->n_pkts, 0);
	chan->txid_tbl = rte_zmalloc(NULL, sizeof(void *) * chan->n_pkts, 0);
	chan->txid_last = rte_zmalloc(NULL, sizeof(uint64_t) * chan->n_pkts, 0);
	chan->intr_epfd = epoll_create1(EPOLL_CLOEXEC);
	chan->comp_ring = chan_ring(chan, "c", chan->n_rx, RING_F_SC_DEQ);
	chan->ret_ring = chan_ring(chan, "r", chan->n_rx, RING_F_SP_ENQ | RING_F_SC_DEQ);
	chan->defer_ring = chan_ring(chan, "d", chan->n_rx, RING_F_SP_ENQ | RING_F_SC_DEQ);
	chan->tx_ring = chan_ring(chan, "t", chan->n_pkts, RING_F_SC_DEQ);
	chan->pkt_free = chan_ring(chan, "f", chan->n_pkts, 0);
	if (chan->mem == NULL || chan->free_rx == NULL || chan->backlog == NULL ||
	    chan->pkts == NULL || chan->txid_tbl == NULL || chan->txid_last == NULL ||
	    chan->comp_ring == NULL || chan->ret_ring == NULL ||
	    chan->defer_ring == NULL || chan->tx_ring == NULL || chan->pkt_free == NULL ||
	    chan->intr_epfd < 0) {
		chan_free_mem(chan);
		rte_errno = ENOMEM;
		return NULL;
	}
	m = chan->mem;
	chan->rxs = (struct vmbs_rx *)m;
	m += sizeof(struct vmbs_rx) * chan->n_rx;
	m = RTE_PTR_ALIGN_CEIL(m, 64);
	for (i = 0; i < chan->n_rx; i++) {
		struct vmbs_rx *rx = &chan->rxs[i];
		uint8_t *s = m + slot * i;

		rx->chan = chan;
		rx->buf = s;
		s += chan->p.max_pkt_size;
		rx->ctx = chan->p.rx_ctx_size ? s : NULL;
		s += RTE_ALIGN_CEIL(chan->p.rx_ctx_size, 64);
		rx->sgl = (struct vmbs_sgl *)s;
		chan->free_rx[chan->free_top++] = rx;
	}
	m += slot * chan->n_rx;
	for (i = 0; i < chan->n_pkts; i++) {
		struct vmbs_pkt *pkt = &chan->pkts[i];

		pkt->chan = chan;
		pkt->idx = i;
		pkt->buf = m + pkt_sz * i;
		rte_ring_enqueue(chan->pkt_free, pkt);
	}
	chan->state = VMBS_CHAN_DISABLED;
	return chan;
}

int
vmbs_chan_free(struct vmbs_chan *chan)
{
	uint32_t i;

	if (chan == NULL)
		return 0;
	if (chan->state != VMBS_CHAN_DISABLED)
		return -EBUSY;
	/*
	 * The slow path still holds some of our rx, or is between its last
	 * store to one and its hand-back: it would touch freed memory.
	 * S1 pairs with S0 in the service.
	 */
	if (__atomic_load_n(&chan->sp_inflight, __ATOMIC_ACQUIRE) != 0)
		return -EBUSY;
	for (i = 0; i < chan->n_rx; i++)
		if (chan->rxs[i].state == VMBS_RX_SP_PIN ||
		    chan->rxs[i].state == VMBS_RX_SP_UNPIN)
			return -EBUSY;
	chan_free_mem(chan);
	return 0;
}

int
vmbs_chan_enable(struct vmbs_chan *chan)
{
	if (chan->state != VMBS_CHAN_DISABLED)
		return -EBUSY;
	chan->state = VMBS_CHAN_ENABLED;
	return 0;
}

enum vmbs_chan_state
vmbs_chan_state(const struct vmbs_chan *chan)
{
	return chan->state;
}

void *
vmbs_chan_priv(const struct vmbs_chan *chan)
{
	return chan->p.priv;
}

uint32_t
vmbs_chan_relid(const struct vmbs_chan *chan)
{
	return chan->p.relid;
}

uint16_t
vmbs_chan_subchan_idx(const struct vmbs_chan *chan)
{
	return chan->p.subchan_idx;
}

bool
vmbs_chan_g2h_empty(const struct vmbs_chan *chan)
{
	const struct vmbs_ring_ctl *ctl;

	if (chan->state != VMBS_CHAN_OPEN)
		return true;
	/* A hint only: both indices are in shared memory; the guest moves
	 * write_index, the poll lcore read_index. Relaxed is enough for a
	 * poll-until-equal loop with a deadline.
	 */
	ctl = chan->g2h.ctl;
	return __atomic_load_n(&ctl->read_index, __ATOMIC_RELAXED) ==
	       __atomic_load_n(&ctl->write_index, __ATOMIC_RELAXED);
}

void
vmbs_chan_hold(struct vmbs_chan *chan)
{
	vmbs_chan_pvt_ctl_hold(chan);
}

void
vmbs_chan_unhold(struct vmbs_chan *chan)
{
	vmbs_chan_pvt_ctl_release(chan);
}

void
vmbs_chan_stats_get(const struct vmbs_chan *chan, struct vmbs_chan_stats *st)
{
	*st = chan->st;
}

uint32_t
vmbs_chan_rx_outstanding(const struct vmbs_chan *chan)
{
	return chan->n_rx - __atomic_load_n(&chan->free_top, __ATOMIC_RELAXED);
}

int
vmbs_chan_set_rx_quota(struct vmbs_chan *chan, uint32_t quota)
{
	if (quota == 0 || quota > chan->n_rx)
		return -EINVAL;
	vmbs_chan_pvt_ctl_hold(chan);
	chan->quota = quota;
	vmbs_chan_pvt_ctl_release(chan);
	return 0;
}

/* ---- h2g writes (gate holder only) ---- */

static void
h2g_commit(struct vmbs_chan *chan)
{
	if (!chan->tx_dirty)
		return;
	chan->tx_dirty = false;
	if (vmbs_br_tx_commit(&chan->h2g)) {
		chan->st.signals++;
		if (chan->p.signal_cb != NULL)
			chan->p.signal_cb(chan, chan->p.signal_arg);
	}
}

/*
 * Put one packet; when h2g is full, publish what we have and ask the guest
 * (pending_send_sz) to signal once enough is free, retrying once if the
 * space appeared meanwhile.
 */
static int
h2g_put(struct vmbs_chan *chan, const struct vmbs_pkt_desc *d,
	const struct iovec *iov, unsigned int n, size_t len)
{
	int rc = vmbs_br_tx_put(&chan->h2g, d, iov, n);

	if (rc == -EAGAIN) {
		h2g_commit(chan);
		if (vmbs_br_tx_request_space(&chan->h2g, vmbs_br_pkt_need(len)) == 1)
			rc = vmbs_br_tx_put(&chan->h2g, d, iov, n);
	}
	if (rc == 0)
		chan->tx_dirty = true;
	else if (rc == -EPROTO)
		chan->st.ring_errors++;
	return rc;
}

/* ---- rx slots ---- */

static void
rx_slot_put(struct vmbs_chan *chan, struct vmbs_rx *rx)
{
	rx->state = VMBS_RX_FREE;
	__atomic_store_n(&chan->free_rx[chan->free_top], rx, __ATOMIC_RELAXED);
	__atomic_store_n(&chan->free_top, chan->free_top + 1, __ATOMIC_RELAXED);
}

/* Free an rx, unpinning first (through the slow path on the poll lcore). */
static void
rx_release(struct vmbs_chan *chan, struct vmbs_rx *rx, bool control)
{
	if (rx->pinned) {
		if (control) {
			vmbs_chan_gm_lock();
			vmbs_gm_unpin(chan->p.gm, rx->sgl->seg, rx->sgl->nseg);
			vmbs_chan_gm_unlock();
			rx->pinned = false;
		} else {
			rx->state = VMBS_RX_SP_UNPIN;
			vmbs_chan_sp_post(rx);
			return;
		}
	}
	rx_slot_put(chan, rx);
}

static int
rx_send_comp(struct vmbs_chan *chan, struct vmbs_rx *rx)
{
	struct vmbs_pkt_desc d = {
		.type = VMBS_PKT_COMP,
		.offset8 = 2,
		.flags = 0,
		.trans_id = rx->di.trans_id,
	};
	struct iovec iov = { .iov_base = rx->buf, .iov_len = rx->resp_len };
	int rc = h2g_put(chan, &d, &iov, 1, rx->resp_len);

	if (rc == 0)
		chan->st.rx_comp_sent++;
	return rc;
}

/* Completed rx: COMP if asked (or backlog), then free. Gate holder. */
static void
rx_finish(struct vmbs_chan *chan, struct vmbs_rx *rx, bool control)
{
	if (rx->epoch != chan->epoch || chan->state != VMBS_CHAN_OPEN ||
	    !(rx->di.flags & VMBS_PKT_F_COMPLETION_REQUESTED)) {
		rx_release(chan, rx, control);
		return;
	}
	if (chan->bl_cnt == 0 && rx_send_comp(chan, rx) != -EAGAIN) {
		rx_release(chan, rx, control);
		return;
	}
	chan->st.rx_comp_backlog++;
	chan->backlog[(chan->bl_head + chan->bl_cnt) % chan->n_rx] = rx;
	chan->bl_cnt++;
}

static void
backlog_flush(struct vmbs_chan *chan, bool control)
{
	while (chan->bl_cnt > 0) {
		struct vmbs_rx *rx = chan->backlog[chan->bl_head];

		if (chan->state == VMBS_CHAN_OPEN && rx->epoch == chan->epoch &&
		    rx_send_comp(chan, rx) == -EAGAIN)
			return;	/* pending_send_sz is set: the guest will signal */
		chan->bl_head = (chan->bl_head + 1) % chan->n_rx;
		chan->bl_cnt--;
		rx_release(chan, rx, control);
	}
}

static void
comp_drain(struct vmbs_chan *chan, bool control)
{
	void *objs[32];
	unsigned int n, i;

	backlog_flush(chan, control);
	while ((n = rte_ring_sc_dequeue_burst(chan->comp_ring, objs, RTE_DIM(objs),
					      NULL)) > 0) {
		for (i = 0; i < n; i++) {
			chan->st.rx_completed++;
			rx_finish(chan, objs[i], control);
		}
	}
}

/* Complete an rx on the gate holder (malformed packets). */
static void
rx_fail_local(struct vmbs_chan *chan, struct vmbs_rx *rx, int reason)
{
	int32_t st = reason;

	memcpy(rx->buf, &st, sizeof(st));
	rx->resp_len = sizeof(st);
	rx->state = VMBS_RX_COMPLETED;
	rx_finish(chan, rx, false);
}

void
vmbs_rx_complete(struct vmbs_rx *rx, const void *resp, uint32_t len)
{
	struct vmbs_chan *chan = rx->chan;
	uint32_t max = chan->p.max_pkt_size - DESC_LEN;

	if (!vmbs_chan_pvt_rx_mark_done(rx)) {
		__atomic_fetch_add(&chan->st.rx_double_complete, 1, __ATOMIC_RELAXED);
		return;
	}
	if (len > max) {
		__atomic_fetch_add(&chan->st.rx_resp_truncated, 1, __ATOMIC_RELAXED);
		len = max;
	}
	/* The payload is dead from here on: its buffer carries the response. */
	if (resp != NULL && len > 0)
		memmove(rx->buf, resp, len);
	else
		len = 0;
	rx->resp_len = len;
	rx->state = VMBS_RX_COMPLETED;
	/* Release inside the MP enqueue publishes the writes above; the ring
	 * holds every rx of the channel, so it never fails.
	 */
	if (rte_ring_mp_enqueue(chan->comp_ring, rx) != 0)
		RTE_VERIFY(0);
}

void
vmbs_rx_fail(struct vmbs_rx *rx, int reason)
{
	struct vmbs_chan *chan = rx->chan;
	int32_t st = reason;

	__atomic_fetch_add(&chan->st.rx_failed, 1, __ATOMIC_RELAXED);
	if (chan->p.flags & VMBS_CHAN_F_STOP_ON_FAIL)
		__atomic_store_n(&chan->rx_stopped, true, __ATOMIC_RELAXED);
	rx->failed = true;
	vmbs_rx_complete(rx, &st, sizeof(st));
}

int
vmbs_rx_defer(struct vmbs_rx *rx)
{
	if (!rx->in_cb || rx->req != VMBS_RX_REQ_NONE ||
	    vmbs_chan_pvt_rx_is_done(rx))
		return -EINVAL;
	rx->req = VMBS_RX_REQ_DEFER;
	return 0;
}

void
vmbs_pkt_set_trans_id(struct vmbs_pkt *pkt, uint64_t trans_id)
{
	pkt->dev_trans_id = trans_id;
}

uint64_t
vmbs_pkt_dev_trans_id(const struct vmbs_pkt *pkt)
{
	return pkt->dev_trans_id;
}

struct vmbs_gpadl_table *
vmbs_chan_gpadl_table(const struct vmbs_chan *chan)
{
	return chan->tbl;
}

void *
vmbs_rx_ctx(struct vmbs_rx *rx)
{
	return rx->ctx;
}

uint64_t
vmbs_rx_trans_id(const struct vmbs_rx *rx)
{
	return rx->di.trans_id;
}

int
vmbs_rx_get_ext_data(struct vmbs_rx *rx, uint32_t flags, const struct vmbs_sgl **out)
{
	struct vmbs_chan *chan = rx->chan;
	struct vmbs_sgl *sgl = rx->sgl;
	uint32_t n = 0, i;
	int rc;

	if ((flags & ~VMBS_EXT_F_RO) != 0 || out == NULL || !rx->in_cb ||
	    vmbs_chan_pvt_rx_is_done(rx) || rx->req != VMBS_RX_REQ_NONE)
		return -EINVAL;
	if (rx->di.type != VMBS_PKT_DATA_GPA_DIRECT)
		return -ENODATA;
	if (rx->ext_err != 0)
		return rx->ext_err;
	if (rx->di.byte_total > chan->p.max_ext_bytes)
		return -E2BIG;
	if (rx->ext_ready && sgl->flags == flags) {
		*out = sgl;
		return 0;
	}
	rc = vmbs_chan_pvt_sgl_translate(rx, flags);
	if (rc == -ENOBUFS)
		return -E2BIG;
	if (rc == -EFAULT && !rx->pinned) {
		/*
		 * Outside guest memory, for now: a VMM that adds memory as its
		 * guest grows (vmbs-guest rescans a DPDK guest's hugepages)
		 * may add it shortly. The slow path retries the translation
		 * for VMBS_CHAN_SP_MEM_WAIT_MS, then fails it with -EFAULT.
		 */
		sgl->nseg = 0;
		sgl->len = 0;
		sgl->flags = flags;
		rx->await_mem = true;
		rx->sp_tries = 0;
		rx->req = VMBS_RX_REQ_PEND;
		rx->state = VMBS_RX_SP_PIN;
		rx->sp_t0 = rte_rdtsc();
		chan->st.pends++;
		chan->st.mem_waits++;
		vmbs_chan_sp_post(rx);
		return VMBS_EPENDING;
	}
	if (rc != 0)
		return rc == -EINVAL ? -EBADMSG : rc;
	n = sgl->nseg;
	if (!rx->pinned) {
		/* The translation already knows each segment's region. */
		for (i = 0; i < n; i++)
			if (!(sgl->seg[i].flags & VMBS_SEG_F_RESIDENT))
				break;
		if (i < n) {
			/* Slow path: populate + pin, then redeliver this rx. */
			rx->req = VMBS_RX_REQ_PEND;
			rx->state = VMBS_RX_SP_PIN;
			rx->sp_t0 = rte_rdtsc();
			chan->st.pends++;
			vmbs_chan_sp_post(rx);
			return VMBS_EPENDING;
		}
	}
	rx->ext_ready = true;
	*out = sgl;
	return 0;
}

/* Deliver (or redeliver) an rx; the caller holds the gate or is the worker. */
static void
rx_deliver(struct vmbs_chan *chan, struct vmbs_rx *rx, uint32_t xflags)
{
	uint32_t flags = xflags;

	if (rx->di.type == VMBS_PKT_DATA_GPA_DIRECT)
		flags |= VMBS_RX_F_EXT_DATA;
	if (rx->di.flags & VMBS_PKT_F_COMPLETION_REQUESTED)
		flags |= VMBS_RX_F_COMPLETION_REQUESTED;
	rx->req = VMBS_RX_REQ_NONE;
	rx->state = VMBS_RX_HELD;
	rx->in_cb = true;
	if (xflags & VMBS_RX_F_WORKER)
		chan->st.worker_delivered++;	/* control thread's counter */
	else
		chan->st.rx_delivered++;
	chan->p.rx_cb(chan, rx, rx->buf + rx->di.payload_off, rx->di.payload_len, flags);
	rx->in_cb = false;
	if (rx->req == VMBS_RX_REQ_NONE)
		return;
	vmbs_chan_pvt_park(chan);
	if (rx->req == VMBS_RX_REQ_DEFER) {
		rx->state = VMBS_RX_DEFERRED;
		if (rte_ring_sp_enqueue(chan->defer_ring, rx) != 0)
			RTE_VERIFY(0);
		if (chan->p.kick_cb != NULL)
			chan->p.kick_cb(chan, chan->p.kick_arg);
	}
}

/* Slow-path returns. Returns packets redelivered. */
static uint32_t
ret_drain(struct vmbs_chan *chan, bool deliver, bool control)
{
	void *objs[32];
	unsigned int n, i;
	uint32_t cnt = 0;

	while ((n = rte_ring_sc_dequeue_burst(chan->ret_ring, objs, RTE_DIM(objs),
					      NULL)) > 0) {
		for (i = 0; i < n; i++) {
			struct vmbs_rx *rx = objs[i];

			if (rx->state == VMBS_RX_SP_UNPIN_DONE) {
				rx_slot_put(chan, rx);
				continue;
			}
			if (rx->ext_err != 0)
				chan->st.pin_failures++;
			vmbs_chan_pvt_unpark(chan);
			if (rx->epoch != chan->epoch) {
				rx_release(chan, rx, control);
			} else if (deliver) {
				chan->st.redeliveries++;
				rx_deliver(chan, rx, VMBS_RX_F_REDELIVERED);
				cnt++;
			} else {
				/* Suspended: the library completes it itself. */
				vmbs_chan_pvt_rx_mark_done(rx);
				rx_fail_local(chan, rx, -ECANCELED);
			}
		}
	}
	return cnt;
}

uint32_t
vmbs_chan_reap(struct vmbs_chan *chan)
{
	if (chan->state == VMBS_CHAN_OPEN)
		return UINT32_MAX;
	vmbs_chan_pvt_ctl_hold(chan);
	comp_drain(chan, true);
	ret_drain(chan, false, true);
	vmbs_chan_pvt_ctl_release(chan);
	return vmbs_chan_rx_outstanding(chan);
}

int
vmbs_chan_worker_poll(struct vmbs_chan *chan)
{
	void *obj;
	int n = 0;

	/* SC: only the control thread dequeues the defer ring. */
	while (rte_ring_sc_dequeue(chan->defer_ring, &obj) == 0) {
		struct vmbs_rx *rx = obj;

		vmbs_chan_pvt_unpark(chan);
		rx_deliver(chan, rx, VMBS_RX_F_REDELIVERED | VMBS_RX_F_WORKER);
		n++;
	}
	return n;
}

/* ---- outgoing ---- */

struct vmbs_pkt *
vmbs_pkt_alloc(struct vmbs_chan *chan, vmbs_pkt_done_cb_t done, void *priv)
{
	void *obj;

	if (done == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (rte_ring_mc_dequeue(chan->pkt_free, &obj) != 0) {
		rte_errno = ENOMEM;
		return NULL;
	}
	((struct vmbs_pkt *)obj)->done = done;
	((struct vmbs_pkt *)obj)->priv = priv;
	return obj;
}

void
vmbs_pkt_free(struct vmbs_pkt *pkt)
{
	if (pkt != NULL)
		rte_ring_mp_enqueue(pkt->chan->pkt_free, pkt);
}

void *
vmbs_pkt_priv(const struct vmbs_pkt *pkt)
{
	return pkt->priv;
}

/* Claim the packet, then queue it for the poll lcore. */
static int
pkt_queue(struct vmbs_pkt *pkt, uint32_t flags)
{
	struct vmbs_chan *chan = pkt->chan;

	pkt->flags = flags;
	/* Release inside the MP enqueue publishes buf; sized for all packets. */
	if (rte_ring_mp_enqueue(chan->tx_ring, pkt) != 0)
		RTE_VERIFY(0);
	return 0;
}

static int
pkt_claim(struct vmbs_pkt *pkt, const void *buf, uint32_t len, uint32_t flags,
	  uint32_t hdr_len)
{
	struct vmbs_chan *chan = pkt->chan;

	if ((flags & ~(VMBS_SEND_F_WAIT_COMPLETION | VMBS_SEND_F_DEVICE_COMP)) != 0 ||
	    (flags & VMBS_SEND_F_WAIT_COMPLETION && flags & VMBS_SEND_F_DEVICE_COMP) ||
	    (buf == NULL && len > 0))
		return -EINVAL;
	if ((uint64_t)len + RTE_MAX(hdr_len, DESC_LEN) > chan->p.max_pkt_size)
		return -EMSGSIZE;
	if (chan->state == VMBS_CHAN_DISABLED)
		return -ENOTCONN;
	if (__atomic_exchange_n(&pkt->in_flight, 1, __ATOMIC_ACQ_REL) != 0)
		return -EINVAL;
	return 0;
}

int
vmbs_pkt_send(struct vmbs_pkt *pkt, const void *buf, uint32_t len, uint32_t flags)
{
	int rc = pkt_claim(pkt, buf, len, flags, 0);

	if (rc != 0)
		return rc;
	if (len > 0)
		memcpy(pkt->buf, buf, len);
	pkt->hdr_len = 0;
	pkt->len = len;
	return pkt_queue(pkt, flags);
}

int
vmbs_pkt_send_xfer(struct vmbs_pkt *pkt, uint16_t pageset_id,
		   const struct vmbs_xfer_range *ranges, uint32_t n,
		   const void *buf, uint32_t len, uint32_t flags)
{
	struct vmbs_desc_layout lay;
	uint64_t hdr = VMBS_DESC_RANGES_OFF + (uint64_t)n * sizeof(*ranges);
	int rc;

	if (ranges == NULL || n == 0 || hdr > UINT32_MAX)
		return -EINVAL;
	rc = pkt_claim(pkt, buf, len, flags, (uint32_t)hdr);
	if (rc != 0)
		return rc;
	/* trans_id is assigned when written; flags are rewritten then too. */
	rc = vmbs_desc_encode_xfer(pkt->buf, pkt->chan->p.max_pkt_size, 0, 0,
				   pageset_id, 0, ranges, n, len, &lay);
	if (rc != 0) {
		__atomic_store_n(&pkt->in_flight, 0, __ATOMIC_RELEASE);
		return rc == -ENOBUFS || rc == -E2BIG ? -EMSGSIZE : rc;
	}
	if (len > 0)
		memcpy(pkt->buf + lay.hdr_len, buf, len);
	pkt->hdr_len = lay.hdr_len;
	pkt->len = len;
	return pkt_queue(pkt, flags);
}

int
vmbs_pkt_send_gpa(struct vmbs_pkt *pkt __rte_unused)
{
	return -EOPNOTSUPP;
}

static void
pkt_done(struct vmbs_pkt *pkt, int status, const void *resp, uint32_t len)
{
	__atomic_store_n(&pkt->in_flight, 0, __ATOMIC_RELEASE);
	pkt->done(pkt, status, resp, len);
}

/* Write queued packets in order; stop at the first that does not fit. */
static void
tx_flush(struct vmbs_chan *chan)
{
	for (;;) {
		struct vmbs_pkt *pkt = chan->tx_head;
		struct vmbs_pkt_desc d;
		struct iovec iov;
		void *obj;
		int rc;

		if (pkt == NULL) {
			if (rte_ring_sc_dequeue(chan->tx_ring, &obj) != 0)
				return;
			pkt = obj;
			/* Idx in the low 16 bits, a generation above: stale ids miss. */
			chan->txid_gen++;
			pkt->trans_id = (chan->txid_gen << 16) | pkt->idx;
			chan->tx_head = pkt;
		}
		if (pkt->hdr_len == 0) {
			d.type = VMBS_PKT_DATA_INBAND;
			d.offset8 = 2;
			iov.iov_base = pkt->buf;
			iov.iov_len = pkt->len;
		} else {
			/* Encoded by vmbs_pkt_send_xfer(): type, offset8, ranges. */
			memcpy(&d, pkt->buf, sizeof(d));
			iov.iov_base = pkt->buf + DESC_LEN;
			iov.iov_len = pkt->hdr_len - DESC_LEN + pkt->len;
		}
		d.len8 = 0;
		d.flags = (pkt->flags & (VMBS_SEND_F_WAIT_COMPLETION |
					 VMBS_SEND_F_DEVICE_COMP)) ?
			  VMBS_PKT_F_COMPLETION_REQUESTED : 0;
		d.trans_id = (pkt->flags & VMBS_SEND_F_DEVICE_COMP) ?
			     pkt->dev_trans_id : pkt->trans_id;
		rc = h2g_put(chan, &d, &iov, 1, iov.iov_len);
		if (rc == -EAGAIN) {
			chan->st.tx_queued++;
			return;
		}
		chan->tx_head = NULL;
		if (rc != 0) {
			pkt_done(pkt, rc, NULL, 0);
			continue;
		}
		chan->st.tx_sent++;
		if (pkt->flags & VMBS_SEND_F_WAIT_COMPLETION)
			chan->txid_tbl[pkt->idx] = pkt;
		else
			pkt_done(pkt, 0, NULL, 0);
	}
}

static void
tx_comp(struct vmbs_chan *chan, const struct vmbs_rx *rx)
{
	uint64_t id = rx->di.trans_id;
	uint32_t idx = (uint32_t)(id & 0xffff);
	struct vmbs_pkt *pkt;

	if (idx >= chan->n_pkts) {
		goto not_ours;
	}
	pkt = chan->txid_tbl[idx];
	if (pkt == NULL || pkt->trans_id != id) {
		/* Our ids carry a generation >= 1 above bit 16; anything else
		 * (netvsp's slot ids, 0 included) is the device's.
		 */
		if (chan->p.comp_cb != NULL &&
		    ((id >> 16) == 0 || chan->txid_last[idx] != id))
			goto not_ours;
		if (chan->txid_last[idx] == id && id != 0)
			chan->st.tx_comp_dup++;
		else
			chan->st.tx_comp_unknown++;
		return;
	}
	chan->txid_tbl[idx] = NULL;
	chan->txid_last[idx] = id;
	chan->st.tx_completed++;
	pkt_done(pkt, 0, rx->buf + rx->di.payload_off, rx->di.payload_len);
	return;
not_ours:
	if (chan->p.comp_cb == NULL) {
		chan->st.tx_comp_unknown++;
		return;
	}
	/* The payload is the private copy in rx->buf: safe to read once. */
	chan->p.comp_cb(chan, id, rx->buf + rx->di.payload_off,
			rx->di.payload_len);
}

/* Cancel everything outgoing (control thread, gate held). */
static void
tx_cancel_all(struct vmbs_chan *chan)
{
	void *obj;
	uint32_t i;

	for (i = 0; i < chan->n_pkts; i++) {
		struct vmbs_pkt *pkt = chan->txid_tbl[i];

		if (pkt == NULL)
			continue;
		chan->txid_tbl[i] = NULL;
		chan->st.tx_cancelled++;
		pkt_done(pkt, -ECANCELED, NULL, 0);
	}
	if (chan->tx_head != NULL) {
		struct vmbs_pkt *pkt = chan->tx_head;

		chan->tx_head = NULL;
		chan->st.tx_cancelled++;
		pkt_done(pkt, -ECANCELED, NULL, 0);
	}
	while (rte_ring_sc_dequeue(chan->tx_ring, &obj) == 0) {
		chan->st.tx_cancelled++;
		pkt_done(obj, -ECANCELED, NULL, 0);
	}
}

/* ---- incoming batch ---- */

static void
rx_queue_fail(struct vmbs_chan *chan)
{
	chan->rx_stopped = true;
	chan->st.ring_errors++;
}

static uint32_t
rx_batch(struct vmbs_chan *chan, uint32_t budget)
{
	bool ordered = !(chan->p.flags & VMBS_CHAN_F_UNORDERED);
	uint32_t n = 0;
	int rc;

	rc = vmbs_br_rx_begin(&chan->g2h);
	if (rc != 0) {
		if (rc == -EPROTO)
			rx_queue_fail(chan);
		return 0;
	}
	while (n < budget && !chan->rx_stopped) {
		struct vmbs_pkt_desc d = { 0 };
		struct vmbs_rx *rx;
		int len;

		if (ordered && vmbs_chan_pvt_parked(chan) > 0)
			break;
		if (chan->n_rx - chan->free_top >= chan->quota) {
			chan->st.rx_quota_stalls++;
			break;
		}
		len = vmbs_br_rx_peek(&chan->g2h, &d);
		if (len == -EAGAIN)
			break;
		if (len < 0) {
			rx_queue_fail(chan);
			break;
		}
		rx = chan->free_rx[--chan->free_top];
		rx->epoch = chan->epoch;
		rx->ext_ready = false;
		rx->ext_err = 0;
		rx->await_mem = false;
		rx->failed = false;
		rx->resp_len = 0;
		vmbs_chan_pvt_rx_reset_done(rx);
		if ((uint32_t)len > chan->p.max_pkt_size) {
			/* Too big for a slot: consume into scratch and fail it. */
			if (vmbs_br_rx_next(&chan->g2h, chan->scratch, chan->scratch_len) < 0) {
				rx_slot_put(chan, rx);
				rx_queue_fail(chan);
				break;
			}
			chan->st.rx_oversize++;
			memset(&rx->di, 0, sizeof(rx->di));
			rx->di.trans_id = d.trans_id;
			rx->di.flags = d.type == VMBS_PKT_COMP ? 0 :
				       (d.flags & VMBS_PKT_F_COMPLETION_REQUESTED);
			goto malformed;
		}
		len = vmbs_br_rx_next(&chan->g2h, rx->buf, chan->p.max_pkt_size);
		if (len < 0) {
			rx_slot_put(chan, rx);
			rx_queue_fail(chan);
			break;
		}
		rx->pkt_len = (uint32_t)len;
		if (vmbs_desc_parse(rx->buf, (uint32_t)len, &rx->di) != 0 ||
		    rx->di.type == VMBS_PKT_DATA_XFER_PAGES) {
			memset(&rx->di, 0, sizeof(rx->di));
			rx->di.trans_id = d.trans_id;
			/* Answer only what the guest could be waiting for. */
			rx->di.flags = (d.type != VMBS_PKT_COMP && d.flags ==
					VMBS_PKT_F_COMPLETION_REQUESTED) ?
				       VMBS_PKT_F_COMPLETION_REQUESTED : 0;
			goto malformed;
		}
		if (rx->di.type == VMBS_PKT_COMP) {
			tx_comp(chan, rx);
			rx_slot_put(chan, rx);
			continue;
		}
		rx_deliver(chan, rx, 0);
		n++;
		continue;
malformed:
		chan->st.rx_malformed++;
		if (chan->p.flags & VMBS_CHAN_F_STOP_ON_FAIL)
			chan->rx_stopped = true;
		rx_fail_local(chan, rx, -EBADMSG);
	}
	if (vmbs_br_rx_commit(&chan->g2h)) {
		chan->st.signals++;
		if (chan->p.signal_cb != NULL)
			chan->p.signal_cb(chan, chan->p.signal_arg);
	}
	return n;
}

int
vmbs_chan_poll(struct vmbs_chan *chan, uint32_t budget)
{
	uint32_t n = 0;

	if (!vmbs_chan_pvt_gate_enter(chan))
		return 0;
	if (chan->state != VMBS_CHAN_OPEN)
		goto out;
	if (budget == 0 || budget > chan->p.budget)
		budget = chan->p.budget;
	comp_drain(chan, false);
	if (chan->running) {
		n += ret_drain(chan, true, false);
		tx_flush(chan);
		if (n < budget && !__atomic_load_n(&chan->rx_stopped, __ATOMIC_RELAXED))
			n += rx_batch(chan, budget - n);
		/* Completions made inline by the callbacks go out in this poll. */
		comp_drain(chan, false);
	}
	h2g_commit(chan);
	if (n > 0 && chan->p.rx_batch_cb != NULL)
		chan->p.rx_batch_cb(chan, n);
out:
	vmbs_chan_pvt_gate_leave(chan);
	return (int)n;
}

int
vmbs_chan_flush(struct vmbs_chan *chan)
{
	if (!vmbs_chan_pvt_gate_enter(chan))
		return 0;
	if (chan->state == VMBS_CHAN_OPEN) {
		comp_drain(chan, false);
		if (chan->running)
			tx_flush(chan);
		h2g_commit(chan);
	}
	vmbs_chan_pvt_gate_leave(chan);
	return 0;
}

/* ---- interrupt mode ---- */

void
vmbs_chan_set_g2h_doorbell(struct vmbs_chan *chan, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (fd == chan->g2h_db_fd)
		return;
	/* The old fd is still open here: the VM closes it after this. */
	if (chan->g2h_db_fd >= 0)
		epoll_ctl(chan->intr_epfd, EPOLL_CTL_DEL, chan->g2h_db_fd, NULL);
	chan->g2h_db_fd = -1;
	if (fd >= 0 && epoll_ctl(chan->intr_epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		chan->g2h_db_fd = fd;
}

int
vmbs_chan_intr_fd(const struct vmbs_chan *chan)
{
	return chan->intr_epfd;
}

int
vmbs_chan_rx_intr_enable(struct vmbs_chan *chan)
{
	int rc;

	if (!vmbs_chan_pvt_gate_enter(chan))
		return 1;	/* the control thread is busy with it: poll */
	if (chan->state != VMBS_CHAN_OPEN || !chan->running ||
	    __atomic_load_n(&chan->rx_stopped, __ATOMIC_RELAXED)) {
		rc = -ENOTCONN;
	} else if (chan->g2h_db_fd < 0) {
		rc = -ENOTSUP;
	} else if (rte_ring_count(chan->comp_ring) != 0 || chan->bl_cnt != 0 ||
		   rte_ring_count(chan->ret_ring) != 0 || chan->tx_dirty ||
		   chan->tx_head != NULL || rte_ring_count(chan->tx_ring) != 0 ||
		   __atomic_load_n(&chan->sp_inflight, __ATOMIC_RELAXED) != 0 ||
		   chan->n_parked != 0) {
		/* Work no doorbell will announce: completions to write,
		 * packets coming back from the slow path, parked packets.
		 */
		rc = 1;
	} else {
		rc = vmbs_br_rx_intr_enable(&chan->g2h);
	}
	vmbs_chan_pvt_gate_leave(chan);
	return rc;
}

void
vmbs_chan_rx_intr_disable(struct vmbs_chan *chan)
{
	uint64_t count;

	if (!vmbs_chan_pvt_gate_enter(chan))
		return;
	if (chan->state == VMBS_CHAN_OPEN)
		vmbs_br_rx_intr_disable(&chan->g2h);
	/* Consume the doorbell so the epoll set is quiet until the next
	 * signal; the fd is non-blocking (the VM set O_NONBLOCK).
	 */
	if (chan->g2h_db_fd >= 0 && read(chan->g2h_db_fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: nothing was signalled. */
	}
	vmbs_chan_pvt_gate_leave(chan);
}

/* ---- state machine (control thread) ---- */

static void
chan_run(struct vmbs_chan *chan)
{
	if (chan->p.state_cbs.started != NULL)
		chan->p.state_cbs.started(chan);
	vmbs_chan_pvt_ctl_hold(chan);
	chan->running = true;
	vmbs_chan_pvt_ctl_release(chan);
	if (chan->p.state_cbs.post_started != NULL)
		chan->p.state_cbs.post_started(chan);
}

/*
 * Suspend deliveries and wait, bounded, for outstanding rx. Returns with
 * the gate held. Outstanding = slots not free, excluding orphans of older
 * epochs (they are not ours to wait for).
 */
static int
chan_suspend_drain(struct vmbs_chan *chan)
{
	uint64_t deadline = rte_get_timer_cycles() +
			    rte_get_timer_hz() / 1000 * chan->p.drain_timeout_ms;
	struct timespec ts = { 0, 100000 };

	vmbs_chan_pvt_ctl_hold(chan);
	chan->running = false;
	vmbs_chan_pvt_ctl_release(chan);
	if (chan->p.state_cbs.suspend != NULL)
		chan->p.state_cbs.suspend(chan);
	vmbs_chan_pvt_ctl_hold(chan);
	for (;;) {
		uint32_t i, live = 0;

		if (chan->state == VMBS_CHAN_OPEN)
			tx_flush(chan);
		comp_drain(chan, true);
		ret_drain(chan, false, true);
		/* Deferred rx the worker never picked up: complete them. */
		{
			void *obj;

			while (rte_ring_sc_dequeue(chan->defer_ring, &obj) == 0) {
				struct vmbs_rx *rx = obj;

				vmbs_chan_pvt_unpark(chan);
				vmbs_chan_pvt_rx_mark_done(rx);
				rx->state = VMBS_RX_COMPLETED;
				rx_finish(chan, rx, true);
			}
		}
		if (chan->state == VMBS_CHAN_OPEN)
			h2g_commit(chan);
		for (i = 0; i < chan->n_rx; i++) {
			const struct vmbs_rx *rx = &chan->rxs[i];

			if (rx->state != VMBS_RX_FREE && rx->epoch == chan->epoch)
				live++;
		}
		/* The backlog cannot drain if the guest stopped reading. */
		if (live == chan->bl_cnt)
			return 0;
		if (rte_get_timer_cycles() > deadline)
			return -ETIMEDOUT;
		vmbs_chan_pvt_ctl_release(chan);
		nanosleep(&ts, NULL);
		vmbs_chan_pvt_ctl_hold(chan);
	}
}

int
vmbs_chan_start(struct vmbs_chan *chan)
{
	if (chan->state == VMBS_CHAN_DISABLED)
		return -ENODEV;
	if (chan->started)
		return -EALREADY;
	chan->started = true;
	if (chan->state == VMBS_CHAN_OPEN)
		chan_run(chan);
	return 0;
}

int
vmbs_chan_pause(struct vmbs_chan *chan)
{
	int rc = 0;

	if (!chan->started)
		return -EALREADY;
	chan->started = false;
	if (chan->state == VMBS_CHAN_OPEN) {
		rc = chan_suspend_drain(chan);
		vmbs_chan_pvt_ctl_release(chan);
	}
	return rc;
}

static void
chan_unmap(struct vmbs_chan *chan)
{
	vmbs_chan_gm_lock();
	vmbs_gpadl_unmap(chan->tbl, chan->ring_gpadl);
	vmbs_chan_gm_unlock();
	rte_free(chan->scratch);
	chan->scratch = NULL;
	chan->tbl = NULL;
}

int
vmbs_chan_open(struct vmbs_chan *chan, struct vmbs_gpadl_table *tbl,
	       uint32_t ring_gpadl, uint32_t downstream_off)
{
	const struct vmbs_gpadl_mapping *m;
	struct vmbs_open_info oi;
	uint64_t split = (uint64_t)downstream_off * VMBS_PAGE_SIZE;
	void *g2h, *h2g;
	int rc;

	if (chan->state != VMBS_CHAN_ENABLED)
		return -EBUSY;
	vmbs_chan_gm_lock();
	rc = vmbs_gpadl_map(tbl, ring_gpadl, 0, &m);
	vmbs_chan_gm_unlock();
	if (rc != 0)
		return rc;
	chan->tbl = tbl;
	chan->ring_gpadl = ring_gpadl;
	rc = -EINVAL;
	if ((m->len & VMBS_PAGE_MASK) != 0 || downstream_off < 2 ||
	    split + 2 * VMBS_PAGE_SIZE > m->len || m->len - split > INT32_MAX ||
	    split > INT32_MAX)
		goto err_unmap;
	/* Each half must be one virtually contiguous run for the ring code. */
	g2h = vmbs_gpadl_mapping_va(m, 0, split, NULL);
	h2g = vmbs_gpadl_mapping_va(m, split, m->len - split, NULL);
	if (g2h == NULL || h2g == NULL)
		goto err_unmap;
	memset(&chan->g2h, 0, sizeof(chan->g2h));
	memset(&chan->h2g, 0, sizeof(chan->h2g));
	rc = vmbs_br_init(&chan->g2h, g2h, split, VMBS_BR_CONSUMER, VMBS_BR_F_POLL);
	if (rc != 0)
		goto err_unmap;
	rc = vmbs_br_init(&chan->h2g, h2g, m->len - split, VMBS_BR_PRODUCER,
			  VMBS_BR_F_FEAT_PENDING_SEND_SZ);
	if (rc != 0)
		goto err_unmap;
	chan->scratch_len = (uint32_t)split;
	chan->scratch = rte_malloc("vmbs_chan_scratch", chan->scratch_len, 0);
	if (chan->scratch == NULL) {
		rc = -ENOMEM;
		goto err_unmap;
	}
	oi.ring_gpadl = ring_gpadl;
	oi.g2h_size = (uint32_t)split;
	oi.h2g_size = (uint32_t)(m->len - split);
	if (chan->p.state_cbs.opened != NULL) {
		rc = chan->p.state_cbs.opened(chan, &oi);
		if (rc != 0)
			goto err_unmap;
	}
	vmbs_chan_pvt_ctl_hold(chan);
	chan->rx_stopped = false;
	chan->tx_dirty = false;
	chan->bl_cnt = 0;
	chan->bl_head = 0;
	chan->state = VMBS_CHAN_OPEN;
	vmbs_chan_pvt_ctl_release(chan);
	if (chan->started)
		chan_run(chan);
	return 0;
err_unmap:
	chan_unmap(chan);
	return rc < 0 ? rc : -EINVAL;
}

int
vmbs_chan_close(struct vmbs_chan *chan)
{
	uint32_t i;
	int rc;

	if (chan->state != VMBS_CHAN_OPEN)
		return -ENOTCONN;
	rc = chan_suspend_drain(chan);
	/* Gate held: nothing else touches the rings or slots. */
	tx_cancel_all(chan);
	for (i = 0; i < chan->n_rx; i++)
		if (chan->rxs[i].state != VMBS_RX_FREE &&
		    chan->rxs[i].epoch == chan->epoch)
			chan->st.orphans++;
	/* COMPs still in the backlog die with the ring; free their slots. */
	chan->state = VMBS_CHAN_ENABLED;
	backlog_flush(chan, true);
	chan->epoch++;
	chan->running = false;
	vmbs_chan_pvt_ctl_release(chan);
	if (chan->p.state_cbs.closed != NULL)
		chan->p.state_cbs.closed(chan);
	chan_unmap(chan);
	return rc;
}

int
vmbs_chan_disable(struct vmbs_chan *chan)
{
	int rc = 0;

	if (chan->state == VMBS_CHAN_DISABLED)
		return -EALREADY;
	if (chan->state == VMBS_CHAN_OPEN)
		rc = vmbs_chan_close(chan);
	chan->started = false;
	chan->state = VMBS_CHAN_DISABLED;
	return rc;
}
