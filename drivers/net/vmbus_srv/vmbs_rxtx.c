/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Burst functions: thin glue between ethdev and lib/netvsp.
 *
 * Rx (guest -> host): rx queue i polls channels i, i + nb_rxq, ... The
 * engine hands each guest request's frames to vmbs_eth_rx_frames(), which
 * turns them into mbufs on that lcore and stashes them for the burst:
 *  - frames shorter than copybreak are copied into ordinary mbufs;
 *  - longer ones are attached, one mbuf per run of guest memory (split at
 *    64 KiB), as external buffers over the guest's pages (zero copy). All
 *    the mbufs of one request share one rte_mbuf_ext_shared_info; when the
 *    last is freed, on any lcore, its free callback completes the request
 *    to the guest (vmbs_nv_req_done() is lock-free from any lcore).
 * External buffers point at guest memory mapped READ-ONLY: applications
 * must not write packet data in place (buf_addr == data start, so there
 * is no headroom and prepends fall back to a new segment). Applications
 * that rewrite frames (e.g. testpmd macswap) set copybreak to 65535.
 *
 * Tx (host -> guest): mbuf chains become iovecs; the engine copies them
 * into receive-buffer slots. Consumed mbufs (delivered, or dropped and
 * counted by the engine) are freed; the burst stops early only when the
 * guest has not returned enough slots.
 */

#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_service.h>

#include <ethdev_driver.h>

#include "vmbs_chan.h"
#include "vmbs_logs.h"
#include "vmbs_pmd.h"

/* Most segments of a host frame handed to the guest. */
#define VMBS_TX_MAX_SEGS 32u
/* Frames per engine call. */
#define VMBS_TX_CHUNK 32u
/* Rx bursts between slow-path iterations run from a queue. */
#define VMBS_SP_EVERY 8u
/* Slow-path runs between looks at whether a service lcore took it over. */
#define VMBS_SP_RECHECK 1024u

/* ---- Rx ---- */

/*
 * The last mbuf of a request was freed (any thread, also after the port
 * closed): complete it to the guest. Touches only the request and its
 * owner, never the port.
 */
static void
rx_req_free_cb(void *addr __rte_unused, void *opaque)
{
	struct vmbs_eth_req *r = opaque;
	struct vmbs_eth_owner *o = r->owner;
	struct vmbs_eth_wake *w = &o->wake[r->rxq];

	vmbs_nv_req_done(r->req, true);
	/* W1: completion queued, then look; pairs with W0 in intr enable. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (unlikely(__atomic_load_n(&w->armed, __ATOMIC_RELAXED) != 0)) {
		uint64_t one = 1;

		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN: saturated, the queue is awake anyway. */
		}
	}
	rte_mempool_put(o->req_pool, r);
	__atomic_fetch_sub(&o->outstanding, 1, __ATOMIC_RELAXED);
	vmbs_eth_owner_put(o);
}

/* The poll budget keeps whole requests within the stash; redeliveries
 * after a slow-path pin can exceed it in theory: those frames are dropped
 * and counted, never lost silently.
 */
static inline void
rx_stash_push(struct vmbs_eth_rxq *rxq, struct rte_mbuf *m)
{
	if (rxq->stash_n == VMBS_RX_STASH) {
		rxq->stats.nombuf++;
		rte_pktmbuf_free(m);
		return;
	}
	rxq->stash[(rxq->stash_head + rxq->stash_n) % VMBS_RX_STASH] = m;
	rxq->stash_n++;
}

/* The guest's offload requests (its TX PPIs) as mbuf fields. */
static void
rx_offloads(struct rte_mbuf *m, const struct vmbs_nv_frame *f)
{
	const struct vmbs_rndis_ppi_info *ppi = &f->ppi;
	uint64_t fl = 0;
	uint16_t l2 = RTE_ETHER_HDR_LEN;

	if (ppi->present & VMBS_RNDIS_PPI_F_VLAN) {
		fl |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
		m->vlan_tci = (uint16_t)(ppi->vlan_prio << 13 | ppi->vlan_cfi << 12 |
					 ppi->vlan_vid);
	}
	if ((ppi->present & VMBS_RNDIS_PPI_F_HASH_VALUE) &&
	    (ppi->present & VMBS_RNDIS_PPI_F_HASH_INFO)) {
		fl |= RTE_MBUF_F_RX_RSS_HASH;
		m->hash.rss = ppi->hash_value;
	}
	if (ppi->present & VMBS_RNDIS_PPI_F_LSO) {
		uint8_t doff = 0;
		uint32_t off = ppi->lso_tcp_hdr_off + 12u, i;

		/* The TCP header length, read from the frame (guest data:
		 * only clamped, never trusted for memory access).
		 */
		for (i = 0; i < f->nseg; i++) {
			if (off < f->seg[i].len) {
				doff = ((const uint8_t *)f->seg[i].va)[off];
				break;
			}
			off -= f->seg[i].len;
		}
		fl |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
		      (ppi->lso_ipv6 ? RTE_MBUF_F_TX_IPV6 :
		       RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM);
		m->tso_segsz = (uint16_t)RTE_MIN(ppi->lso_mss, (uint32_t)UINT16_MAX);
		m->l2_len = l2;
		m->l3_len = ppi->lso_tcp_hdr_off > l2 ? ppi->lso_tcp_hdr_off - l2 : 0;
		m->l4_len = RTE_MAX(20u, RTE_MIN((uint32_t)(doff >> 4) * 4u, 60u));
	} else if (ppi->present & VMBS_RNDIS_PPI_F_CSUM) {
		uint32_t c = ppi->csum;

		if (c & VMBS_RNDIS_TXCSUM_IPV4)
			fl |= RTE_MBUF_F_TX_IPV4;
		if (c & VMBS_RNDIS_TXCSUM_IPV6)
			fl |= RTE_MBUF_F_TX_IPV6;
		if ((c & VMBS_RNDIS_TXCSUM_IP_HDR) && (c & VMBS_RNDIS_TXCSUM_IPV4))
			fl |= RTE_MBUF_F_TX_IP_CKSUM;
		if (c & VMBS_RNDIS_TXCSUM_TCP)
			fl |= RTE_MBUF_F_TX_TCP_CKSUM;
		else if (c & VMBS_RNDIS_TXCSUM_UDP)
			fl |= RTE_MBUF_F_TX_UDP_CKSUM;
		m->l2_len = l2;
		if (c & (VMBS_RNDIS_TXCSUM_TCP | VMBS_RNDIS_TXCSUM_UDP))
			m->l3_len = ppi->csum_tcp_hdr_off > l2 ? ppi->csum_tcp_hdr_off - l2 : 0;
	}
	m->ol_flags |= fl;
}

/* Copy a frame into a chain of ordinary mbufs. */
static struct rte_mbuf *
rx_copy(struct vmbs_eth_rxq *rxq, const struct vmbs_nv_frame *f)
{
	struct rte_mbuf *head = NULL, *tail = NULL, *m = NULL;
	uint32_t i, done = 0;

	for (i = 0; i < f->nseg; i++) {
		const uint8_t *src = f->seg[i].va;
		uint32_t left = f->seg[i].len;

		while (left > 0) {
			uint32_t room, n;

			if (m == NULL || rte_pktmbuf_tailroom(m) == 0) {
				m = rte_pktmbuf_alloc(rxq->mb_pool);
				if (m == NULL) {
					rte_pktmbuf_free(head);
					return NULL;
				}
				if (head == NULL) {
					head = m;
				} else {
					tail->next = m;
					head->nb_segs++;
				}
				tail = m;
			}
			room = rte_pktmbuf_tailroom(m);
			n = RTE_MIN(room, left);
			memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len), src, n);
			m->data_len = (uint16_t)(m->data_len + n);
			src += n;
			left -= n;
			done += n;
		}
	}
	if (head != NULL)
		head->pkt_len = done;
	return head;
}

/* Attach a frame's runs of guest memory; the request's refcount grows. */
static struct rte_mbuf *
rx_attach(struct vmbs_eth_rxq *rxq, const struct vmbs_nv_frame *f,
	  struct vmbs_eth_req *r)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t i;

	for (i = 0; i < f->nseg; i++) {
		uint8_t *va = f->seg[i].va;
		/* lib/vm registers guest memory for DMA only with IOVA as VA. */
		rte_iova_t iova = rxq->iova_is_va ? f->seg[i].iova : RTE_BAD_IOVA;
		uint32_t left = f->seg[i].len;

		while (left > 0) {
			uint16_t n = (uint16_t)RTE_MIN(left, (uint32_t)UINT16_MAX);
			struct rte_mbuf *m = rte_pktmbuf_alloc(rxq->mb_pool);

			if (m == NULL) {
				rte_pktmbuf_free(head);	/* drops its references */
				return NULL;
			}
			rte_mbuf_ext_refcnt_update(&r->shinfo, 1);
			rte_pktmbuf_attach_extbuf(m, va, iova, n, &r->shinfo);
			m->data_off = 0;	/* no headroom: prepends cannot write here */
			m->data_len = n;
			if (head == NULL) {
				head = m;
			} else {
				tail->next = m;
				head->nb_segs++;
			}
			tail = m;
			va += n;
			iova += n;
			left -= n;
		}
	}
	if (head != NULL)
		head->pkt_len = f->len;
	return head;
}

void
vmbs_eth_rx_frames(void *arg, uint16_t queue, struct vmbs_rx *req,
		   const struct vmbs_nv_frame *frames, uint32_t n)
{
	struct vmbs_eth_priv *priv = arg;
	struct rte_eth_dev_data *data = priv->dev->data;
	struct vmbs_eth_rxq *rxq;
	struct vmbs_eth_req *r = NULL;
	uint32_t i;

	rxq = data->nb_rx_queues > 0 ?
	      data->rx_queues[queue % data->nb_rx_queues] : NULL;
	if (rxq == NULL) {
		vmbs_nv_req_done(req, true);
		return;
	}
	for (i = 0; i < n; i++) {
		const struct vmbs_nv_frame *f = &frames[i];
		struct rte_mbuf *m;

		if (f->len < rxq->copybreak) {
			m = rx_copy(rxq, f);
			if (m != NULL)
				rxq->stats.copied++;
		} else {
			if (r == NULL) {
				void *obj;

				if (rte_mempool_get(priv->owner->req_pool, &obj) != 0) {
					priv->req_nomem++;
					data->rx_mbuf_alloc_failed++;
					continue;
				}
				r = obj;
				r->req = req;
				r->owner = priv->owner;
				r->rxq = rxq->queue_id;
				r->shinfo.free_cb = rx_req_free_cb;
				r->shinfo.fcb_opaque = r;
				/* Our own reference while building. */
				rte_mbuf_ext_refcnt_set(&r->shinfo, 1);
				/* The request holds the owner until its last free. */
				__atomic_fetch_add(&r->owner->refs, 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&r->owner->outstanding, 1, __ATOMIC_RELAXED);
			}
			m = rx_attach(rxq, f, r);
			if (m != NULL)
				rxq->stats.zero_copy++;
		}
		if (m == NULL) {
			rxq->stats.nombuf++;
			data->rx_mbuf_alloc_failed++;
			continue;
		}
		m->port = rxq->port_id;
		rx_offloads(m, f);
		rx_stash_push(rxq, m);
	}
	/* Drop the building reference: if no mbuf holds the request (all
	 * copied, or none built), it completes now.
	 */
	if (r == NULL)
		vmbs_nv_req_done(req, true);
	else if (rte_mbuf_ext_refcnt_update(&r->shinfo, -1) == 0)
		rx_req_free_cb(NULL, r);
}

/* Run the slow path from here when no service lcore does. */
static void
rx_slow_path(struct vmbs_eth_rxq *rxq)
{
	uint32_t id;

	/* An unregistered thread has no lcore state for the service core
	 * library to use (22.11 indexes it by lcore id): leave it to others.
	 */
	if (rte_lcore_id() == LCORE_ID_ANY || vmbs_chan_sp_service_id(&id) != 0)
		return;
	/*
	 * Whether a service lcore runs it: rte_service_may_be_active() walks
	 * every lcore (18% of a busy Rx lcore when asked every eighth
	 * burst), so the answer is kept for VMBS_SP_RECHECK calls.
	 */
	if (rxq->sp_recheck == 0) {
		rxq->sp_on_service_lcore = rte_service_may_be_active(id) == 1;
		rxq->sp_recheck = VMBS_SP_RECHECK;
	}
	rxq->sp_recheck--;
	if (rxq->sp_on_service_lcore)
		return;
	if (rte_service_run_iter_on_app_lcore(id, 1) == 0)
		rxq->stats.slow_path_runs++;
}

/* Poll the channels of @p rxq into its stash (lock held). */
static void
rx_poll_channels(struct vmbs_eth_rxq *rxq)
{
	struct vmbs_eth_priv *priv = rxq->priv;
	uint16_t nb_rxq = priv->dev->data->nb_rx_queues;
	uint32_t budget = (VMBS_RX_STASH - rxq->stash_n) / VMBS_RX_PER_REQ_MAX;
	uint32_t c;

	if (budget == 0 || nb_rxq == 0)
		return;
	for (c = rxq->queue_id; c < priv->args.queues; c += nb_rxq)
		vmbs_nv_poll(priv->nic, (uint16_t)c, budget);
}

/*
 * Interrupt thread, every VMBS_IDLE_POLL_MS while the port runs: poll
 * the channels of Rx queues the application has not polled since the
 * last tick (it only transmits, or it is idle), so a guest's NVSP and
 * RNDIS bring-up and its acknowledgements still progress. A DPDK 22.11
 * netvsc guest waits for those answers forever. Frames that arrive meanwhile
 * wait in the queue's stash for the next Rx burst.
 */
void
vmbs_eth_idle_poll(struct vmbs_eth_priv *priv)
{
	struct rte_eth_dev_data *data = priv->dev->data;
	uint16_t q;

	/* The slow path (a guest's control messages in memory not yet
	 * resident) needs an lcore id: make this thread a non-EAL lcore
	 * once. Without one the slow path is left to the Rx lcores.
	 */
	if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0)
		VMBS_DRV_LOG(DEBUG, "idle poll: no lcore id for the slow path");
	for (q = 0; q < data->nb_rx_queues; q++) {
		struct vmbs_eth_rxq *rxq = data->rx_queues[q];
		uint32_t polls;

		if (rxq == NULL)
			continue;
		polls = __atomic_load_n(&rxq->polls, __ATOMIC_RELAXED);
		if (polls != rxq->idle_seen) {
			rxq->idle_seen = polls;	/* the application polls it */
			continue;
		}
		if (!rte_spinlock_trylock(&rxq->lock))
			continue;
		rx_slow_path(rxq);
		rx_poll_channels(rxq);
		rte_spinlock_unlock(&rxq->lock);
		rxq->idle_polls++;
	}
}

uint16_t
vmbs_eth_rx_burst(void *queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct vmbs_eth_rxq *rxq = queue;
	uint32_t out = 0;

	/* Busy only while a Tx burst reads acks on our channels. */
	if (!rte_spinlock_trylock(&rxq->lock))
		return 0;
	if (++rxq->polls % VMBS_SP_EVERY == 0)
		rx_slow_path(rxq);
	if (rxq->stash_n < n)
		rx_poll_channels(rxq);
	while (out < n && rxq->stash_n > 0) {
		struct rte_mbuf *m = rxq->stash[rxq->stash_head];

		rxq->stash_head = (rxq->stash_head + 1) % VMBS_RX_STASH;
		rxq->stash_n--;
		rxq->stats.bytes += m->pkt_len;
		pkts[out++] = m;
	}
	rxq->stats.packets += out;
	rte_spinlock_unlock(&rxq->lock);
	return (uint16_t)out;
}

/*
 * Tx ran out of receive slots (or packet objects): the guest's acks may be
 * waiting on the ring while nobody runs Rx on this port (an application
 * retrying Tx in a loop). Read them here, as netvsc guests do in their own
 * Tx path, unless the Rx lcore is polling right now.
 */
static bool
tx_reap_acks(struct vmbs_eth_txq *txq, uint16_t q)
{
	struct rte_eth_dev_data *data = txq->priv->dev->data;
	struct vmbs_eth_rxq *rxq;
	uint16_t c;

	if (data->nb_rx_queues == 0) {
		/* No Rx queues: nobody else polls; poll everything. */
		for (c = 0; c < txq->priv->args.queues; c++)
			vmbs_nv_poll(txq->priv->nic, c, 0);
		return true;
	}
	rxq = data->rx_queues[q % data->nb_rx_queues];
	if (rxq == NULL || !rte_spinlock_trylock(&rxq->lock))
		return false;
	rx_poll_channels(rxq);
	rte_spinlock_unlock(&rxq->lock);
	txq->ack_reaps++;
	return true;
}

/* ---- Tx ---- */

static void
tx_ppi(const struct rte_mbuf *m, struct vmbs_rndis_ppi_info *ppi)
{
	uint64_t fl = m->ol_flags;
	uint32_t l4 = m->packet_type & RTE_PTYPE_L4_MASK;

	memset(ppi, 0, sizeof(*ppi));
	if (fl & RTE_MBUF_F_TX_VLAN) {
		ppi->present |= VMBS_RNDIS_PPI_F_VLAN;
		ppi->vlan_prio = (uint8_t)(m->vlan_tci >> 13);
		ppi->vlan_cfi = (uint8_t)((m->vlan_tci >> 12) & 1);
		ppi->vlan_vid = m->vlan_tci & 0xfff;
	}
	if (fl & RTE_MBUF_F_RX_RSS_HASH) {
		ppi->present |= VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO;
		ppi->hash_value = m->hash.rss;
		ppi->hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ |
				 (l4 == RTE_PTYPE_L4_TCP ? VMBS_NDIS_HASH_TCP_IPV4 :
				  VMBS_NDIS_HASH_IPV4);
	}
	/* Checksums the host (or its NIC) verified: the guest skips them. */
	if ((fl & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		ppi->csum |= VMBS_RNDIS_RXCSUM_IP_OK;
	if ((fl & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
		if (l4 == RTE_PTYPE_L4_TCP)
			ppi->csum |= VMBS_RNDIS_RXCSUM_TCP_OK;
		else if (l4 == RTE_PTYPE_L4_UDP)
			ppi->csum |= VMBS_RNDIS_RXCSUM_UDP_OK;
	}
	if (ppi->csum != 0)
		ppi->present |= VMBS_RNDIS_PPI_F_CSUM;
}

/* Tx offload requests, done by the engine in software (TSO implies csum). */
static void
tx_offload(const struct rte_mbuf *m, struct vmbs_nv_txframe *fr)
{
	uint64_t fl = m->ol_flags;

	fr->offload = 0;
	fr->tso_mss = 0;
	if (likely((fl & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IP_CKSUM |
			  RTE_MBUF_F_TX_L4_MASK)) == 0))
		return;
	if (fl & RTE_MBUF_F_TX_TCP_SEG) {
		fr->offload = VMBS_NV_TXOFF_TSO | VMBS_NV_TXOFF_CSUM;
		fr->tso_mss = m->tso_segsz;
	} else {
		fr->offload = VMBS_NV_TXOFF_CSUM;
	}
}

/*
 * Deliveries are written to the guest's ring by whoever polls the channel.
 * If the Rx lcore is not polling it right now, write them here, so they
 * never wait for an Rx burst that may not come.
 */
static void
tx_kick(struct vmbs_eth_txq *txq, uint16_t q)
{
	struct vmbs_eth_priv *priv = txq->priv;
	struct rte_eth_dev_data *data = priv->dev->data;
	uint16_t c = vmbs_nv_tx_channel(priv->nic, q);
	struct vmbs_eth_rxq *rxq;

	if (data->nb_rx_queues == 0) {
		vmbs_nv_flush(priv->nic, c);
		return;
	}
	rxq = data->rx_queues[c % data->nb_rx_queues];
	if (rxq == NULL || !rte_spinlock_trylock(&rxq->lock))
		return;
	vmbs_nv_flush(priv->nic, c);
	rte_spinlock_unlock(&rxq->lock);
}

/* Frames for guest queue @p q; fewer only when its slots ran out. */
static uint16_t
tx_to_queue(struct vmbs_eth_txq *txq, uint16_t q, const struct vmbs_nv_txframe *fr,
	    uint16_t k)
{
	struct vmbs_nv *nic = txq->priv->nic;
	bool reaped = false;
	uint16_t sent = 0;

	/*
	 * A call ends at the first frame without room: out of slots, or its
	 * transfer-page packet full (TSO frames take a slot per segment), so
	 * go on while calls make progress, reaping acks once when one does not.
	 */
	while (sent < k) {
		uint16_t s = vmbs_nv_tx_burst(nic, q, fr + sent, (uint16_t)(k - sent));

		sent = (uint16_t)(sent + s);
		if (s == 0) {
			if (reaped || !tx_reap_acks(txq, q))
				break;
			reaped = true;
		}
	}
	return sent;
}

/*
 * Host to guest. Tx queue i delivers on channel i; with tx_rss=1 a guest
 * with several queues and RSS set gets each frame on the queue its own
 * indirection table picks (vmbs_nv_rss_pick()), as Hyper-V spreads a
 * VM's receive traffic, which suits applications (a switch) whose Tx
 * queue is just the lcore's. Consecutive frames for one queue go out as one transfer; the
 * burst stops at the first queue that is out of receive slots, so what
 * is returned is always a prefix and each flow keeps its order.
 */
uint16_t
vmbs_eth_tx_burst(void *queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct vmbs_eth_txq *txq = queue;
	struct vmbs_eth_priv *priv = txq->priv;
	struct vmbs_nv_txframe fr[VMBS_TX_CHUNK];
	struct iovec iov[VMBS_TX_CHUNK][VMBS_TX_MAX_SEGS];
	uint16_t dest[VMBS_TX_CHUNK];
	uint64_t kick = 0;
	uint16_t total = 0;
	bool short_of_slots = false;

	while (total < n && !short_of_slots) {
		uint16_t k = (uint16_t)RTE_MIN((uint32_t)(n - total), VMBS_TX_CHUNK);
		uint16_t i, j, sent, done = 0;

		for (i = 0; i < k; i++) {
			struct rte_mbuf *head = pkts[total + i];
			const struct rte_mbuf *m = head;
			uint32_t hash, hash_info;
			uint16_t s = 0;

			for (; m != NULL && s < VMBS_TX_MAX_SEGS; m = m->next, s++) {
				iov[i][s].iov_base = rte_pktmbuf_mtod(m, void *);
				iov[i][s].iov_len = m->data_len;
			}
			fr[i].iov = iov[i];
			/* Longer chains: no iov, the engine drops and counts it. */
			fr[i].iovcnt = m == NULL ? s : 0;
			if (m != NULL)
				txq->multiseg_linearize_fail++;
			tx_ppi(head, &fr[i].ppi);
			tx_offload(head, &fr[i]);
			hash_info = 0;
			if (priv->args.tx_rss)
				dest[i] = vmbs_nv_rss_pick(priv->nic,
							   rte_pktmbuf_mtod(head, void *),
							   head->data_len, &hash, &hash_info);
			if (hash_info != 0) {
				fr[i].ppi.present |= VMBS_RNDIS_PPI_F_HASH_VALUE |
						     VMBS_RNDIS_PPI_F_HASH_INFO;
				fr[i].ppi.hash_value = hash;
				fr[i].ppi.hash_info = hash_info;
			} else {
				dest[i] = txq->queue_id;
			}
		}
		for (i = 0; i < k; i = j) {
			for (j = (uint16_t)(i + 1); j < k && dest[j] == dest[i]; j++)
				;
			sent = tx_to_queue(txq, dest[i], fr + i, (uint16_t)(j - i));
			if (sent > 0)
				kick |= UINT64_C(1) << (dest[i] % 64);
			done = (uint16_t)(done + sent);
			if (sent < j - i) {
				short_of_slots = true;
				break;
			}
		}
		rte_pktmbuf_free_bulk(&pkts[total], done);
		total = (uint16_t)(total + done);
	}
	while (kick != 0) {
		tx_kick(txq, (uint16_t)__builtin_ctzll(kick));
		kick &= kick - 1;
	}
	return total;
}

/* ---- link ---- */

uint32_t
vmbs_eth_link_state(const struct vmbs_eth_priv *priv)
{
	struct vmbs_nv_state st;

	if (priv->nic == NULL || !priv->started)
		return RTE_ETH_LINK_DOWN;
	vmbs_nv_state_get(priv->nic, &st);
	return st.rndis_up && st.filter != 0 && st.link_up ? RTE_ETH_LINK_UP :
							     RTE_ETH_LINK_DOWN;
}
