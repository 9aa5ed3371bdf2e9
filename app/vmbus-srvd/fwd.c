/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Poll loops and forwarding. Each polling lcore walks its (port, queue)
 * list; every burst goes through the bridge (srvd_bridge_decide()) and is
 * sorted into per-destination arrays, which are then sent with bounded
 * retry, while the destination makes progress, on this lcore's Tx queue of
 * each port.
 *
 * Frames are never written: zero-copy Rx mbufs point at guest memory
 * mapped read-only (docs/pmd.md). What a guest offloaded (checksums, TSO)
 * the PMD does for guest ports; for the uplink it is done here, into
 * fresh mbufs (uplink_sw_offload()). Only mbuf metadata of a frame this lcore
 * holds alone is touched (the VLAN Tx flag, before any flood). A flood
 * shares the frame: every segment's reference count grows by the number
 * of extra destinations and each destination's Tx (or our drop) releases
 * one reference.
 */

#include <rte_branch_prediction.h>
#include <rte_prefetch.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "srvd_bridge.h"
#include "vmbs_txoff.h"
#include "vmbus_srvd.h"

static struct srvd_state *fwd_state;

void
srvd_fwd_init(struct srvd_state *s)
{
	fwd_state = s;
}

/* Counters are single-writer; relaxed stores let main read them racelessly. */
#define CNT_ADD(field, n) \
	__atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)

/* Guest per-packet info the PMD turned into mbuf flags (docs/pmd.md). */
#define OFFLOAD_FLAGS (RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_TX_IP_CKSUM | \
		       RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG)

#define TX_OFFLOAD_REQ (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK)
/* Longest chain offloaded for the uplink; longer ones are dropped. */
#define UPLINK_OFFLOAD_MAX_SEGS 64u

static void pend_flush(struct srvd_state *s, struct srvd_lcore *lc, uint16_t out);

static inline bool
port_up(const struct srvd_port *p)
{
	return __atomic_load_n(&p->link_up, __ATOMIC_RELAXED) != 0;
}

/* A fresh mbuf (chained past one mbuf's room) holding the iovecs. */
static struct rte_mbuf *
mbuf_from_iov(struct rte_mempool *pool, const struct iovec *iov, uint16_t n)
{
	struct rte_mbuf *head = rte_pktmbuf_alloc(pool), *tail = head;
	uint16_t k;

	for (k = 0; head != NULL && k < n; k++) {
		const uint8_t *src = iov[k].iov_base;
		size_t left = iov[k].iov_len;

		while (left > 0) {
			uint16_t room = rte_pktmbuf_tailroom(tail), c;

			if (room == 0) {
				struct rte_mbuf *more = rte_pktmbuf_alloc(pool);

				if (more == NULL || rte_pktmbuf_chain(head, more) != 0) {
					rte_pktmbuf_free(more);
					rte_pktmbuf_free(head);
					return NULL;
				}
				tail = more;
				continue;
			}
			c = (uint16_t)RTE_MIN((size_t)room, left);
			memcpy(rte_pktmbuf_mtod_offset(tail, uint8_t *, tail->data_len), src, c);
			tail->data_len = (uint16_t)(tail->data_len + c);
			head->pkt_len += c;
			src += c;
			left -= c;
		}
	}
	return head;
}

/*
 * The uplink gets what a guest offloaded (checksums, TSO) done here, in
 * software, into fresh mbufs: zero-copy frames are read-only guest memory,
 * and a NIC's own offloads would need pseudo-header sums written into
 * them first. Consumes one reference of @p m.
 */
static void
uplink_sw_offload(struct srvd_state *s, struct srvd_lcore *lc, uint16_t out, struct rte_mbuf *m)
{
	/* A segment is its headers plus at most one slice of each iovec. */
	struct iovec iov[UPLINK_OFFLOAD_MAX_SEGS], seg[UPLINK_OFFLOAD_MAX_SEGS + 1];
	const bool tso = (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0;
	uint8_t hdr[VMBS_TXOFF_HDR_MAX];
	const struct rte_mbuf *sm;
	struct vmbs_txoff_hdrs h;
	uint32_t nseg = 1, mss = 0, k, csum;
	uint16_t n = 0;

	for (sm = m; sm != NULL && n < RTE_DIM(iov); sm = sm->next, n++) {
		iov[n].iov_base = rte_pktmbuf_mtod(sm, void *);
		iov[n].iov_len = sm->data_len;
	}
	if (sm != NULL || vmbs_txoff_parse(iov, n, rte_pktmbuf_pkt_len(m), tso, &h) != 0)
		goto bad;
	if (tso) {
		mss = m->tso_segsz;
		nseg = vmbs_txoff_nseg(&h, mss);
		if (nseg == 0 || nseg > VMBS_TXOFF_MAX_SEGS)
			goto bad;
	}
	for (k = 0; k < nseg; k++) {
		uint16_t c = vmbs_txoff_segment(&h, iov, n, mss, k, nseg, hdr, seg, RTE_DIM(seg),
						&csum);
		struct rte_mbuf *o = c != 0 ? mbuf_from_iov(s->pool, seg, c) : NULL;

		if (o == NULL || (o->nb_segs > 1 && !s->ports[out].multiseg)) {
			rte_pktmbuf_free(o);
			CNT_ADD(lc->cnt[out].drop_offload, 1);
			continue;
		}
		o->ol_flags = m->ol_flags & RTE_MBUF_F_TX_VLAN;
		o->vlan_tci = m->vlan_tci;
		if (lc->nb_pend[out] == VMBS_MAX_BURST)
			pend_flush(s, lc, out);
		lc->pend[out][lc->nb_pend[out]++] = o;
		CNT_ADD(lc->cnt[out].tx_sw_segs, 1);
	}
	CNT_ADD(lc->cnt[out].tx_sw_offload, 1);
	rte_pktmbuf_free(m);
	return;
bad:
	CNT_ADD(lc->cnt[out].drop_offload, 1);
	rte_pktmbuf_free(m);
}

/*
 * Queue @p m (one reference of it) for port @p out. Ports that cannot take
 * what the frame needs get a copy (chains, offloads for the uplink) or a
 * counted drop (VLAN).
 */
static inline void
pend_add(struct srvd_state *s, struct srvd_lcore *lc, uint16_t out, struct rte_mbuf *m)
{
	struct srvd_port *p = &s->ports[out];

	if (unlikely((m->ol_flags & RTE_MBUF_F_TX_VLAN) && !p->vlan_insert)) {
		CNT_ADD(lc->cnt[out].drop_vlan, 1);
		rte_pktmbuf_free(m);
		return;
	}
	if (unlikely((m->ol_flags & TX_OFFLOAD_REQ) && p->kind == SRVD_PORT_UPLINK)) {
		uplink_sw_offload(s, lc, out, m);
		return;
	}
	if (unlikely(m->nb_segs > 1 && !p->multiseg)) {
		/* A fresh linear copy; the shared original is never linearised in place. */
		struct rte_mbuf *c = rte_pktmbuf_copy(m, s->pool, 0, UINT32_MAX);

		rte_pktmbuf_free(m);
		if (c == NULL || c->nb_segs > 1) {
			rte_pktmbuf_free(c);
			CNT_ADD(lc->cnt[out].drop_multiseg, 1);
			return;
		}
		CNT_ADD(lc->cnt[out].tx_copied, 1);
		m = c;
	}
	lc->pend[out][lc->nb_pend[out]++] = m;
}

static inline void
txq_lock(struct srvd_port *p, uint16_t q)
{
	if (p->tx_shared)
		rte_spinlock_lock(&p->txq_lock[q]);
}

static inline void
txq_unlock(struct srvd_port *p, uint16_t q)
{
	if (p->tx_shared)
		rte_spinlock_unlock(&p->txq_lock[q]);
}

/*
 * Send what is pending for port @p out. A guest that has not returned
 * receive slots yet refuses frames: retry while it makes progress, sleeping
 * between tries so that on a small machine the guest gets the CPU to
 * acknowledge, then drop and count the rest. At most tx_retries tries; a
 * run of tx_stall_retries tries in a row that send nothing ends it early
 * and marks the destination stalled (a guest that stopped polling, or one
 * descheduled for longer). A stalled destination gets a single try per
 * flush, no wait, until it takes a frame again: one guest that does not
 * consume costs the lcore one Tx call per burst, never its retry budget,
 * and the other ports' traffic keeps flowing.
 */
static void
pend_flush(struct srvd_state *s, struct srvd_lcore *lc, uint16_t out)
{
	const struct srvd_config *cfg = s->cfg;
	struct srvd_port *p = &s->ports[out];
	struct rte_mbuf **pkts = lc->pend[out];
	uint16_t n = lc->nb_pend[out], q = lc->txq[out], sent, k, i;
	uint64_t bytes = 0, dropped_bytes = 0;
	uint32_t r, idle = 0;

	lc->nb_pend[out] = 0;
	/* Lengths now: sent mbufs are no longer ours to read. */
	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	txq_lock(p, q);
	sent = rte_eth_tx_burst(p->port_id, q, pkts, n);
	txq_unlock(p, q);
	if (sent != 0)
		lc->tx_stalled[out] = false;
	else if (lc->tx_stalled[out])
		idle = UINT32_MAX;	/* still stalled: no retry */
	for (r = 0; sent < n && r < cfg->tx_retries && idle <= cfg->tx_stall_retries; r++) {
		if (idle == cfg->tx_stall_retries) {
			/* This many tries in a row took nothing. */
			lc->tx_stalled[out] = true;
			break;
		}
		if (cfg->tx_retry_delay_us != 0)
			rte_delay_us_sleep(cfg->tx_retry_delay_us);
		else
			rte_pause();
		txq_lock(p, q);
		k = rte_eth_tx_burst(p->port_id, q, pkts + sent, (uint16_t)(n - sent));
		txq_unlock(p, q);
		if (k == 0) {
			idle++;
		} else {
			idle = 0;
			lc->tx_stalled[out] = false;
			sent = (uint16_t)(sent + k);
		}
	}
	if (unlikely(sent < n)) {
		for (i = sent; i < n; i++)
			dropped_bytes += rte_pktmbuf_pkt_len(pkts[i]);
		rte_pktmbuf_free_bulk(pkts + sent, (unsigned int)(n - sent));
		CNT_ADD(lc->cnt[out].drop_tx_full, n - sent);
	}
	CNT_ADD(lc->cnt[out].tx_pkts, sent);
	CNT_ADD(lc->cnt[out].tx_bytes, bytes - dropped_bytes);
}

/* Send @p m to every other port that is up; false if there is none. */
static inline bool
flood(struct srvd_state *s, struct srvd_lcore *lc, uint16_t in, struct rte_mbuf *m)
{
	uint16_t outs[SRVD_MAX_PORTS], k = 0, i;

	for (i = 0; i < s->nb_ports; i++)
		if (i != in && port_up(&s->ports[i]))
			outs[k++] = i;
	if (k == 0)
		return false;
	/* Every segment: each destination frees the whole chain once. */
	if (k > 1)
		rte_pktmbuf_refcnt_update(m, (int16_t)(k - 1));
	for (i = 0; i < k; i++)
		pend_add(s, lc, outs[i], m);
	return true;
}

static void
fwd_burst(struct srvd_state *s, struct srvd_lcore *lc, uint16_t in, struct rte_mbuf **pkts,
	  uint16_t n)
{
	struct srvd_counters *ic = &lc->cnt[in];
	uint64_t now = rte_get_timer_cycles(), rx_bytes = 0;
	uint16_t i, p;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum srvd_mac_learn_result learnt;
		enum srvd_br_verdict v;
		uint8_t copy[2 * RTE_ETHER_ADDR_LEN];
		const uint8_t *hdr;
		uint16_t out = 0;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		rx_bytes += rte_pktmbuf_pkt_len(m);
		if (unlikely(rte_pktmbuf_pkt_len(m) < RTE_ETHER_HDR_LEN)) {
			CNT_ADD(ic->drop_runt, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		/* The addresses may straddle segments: read, never linearise. */
		hdr = rte_pktmbuf_read(m, 0, sizeof(copy), copy);
		/* A tag the PMD took off (guest VLAN PPI) goes back on at Tx. */
		if (unlikely(m->ol_flags & OFFLOAD_FLAGS)) {
			if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
				m->ol_flags |= RTE_MBUF_F_TX_VLAN;
				CNT_ADD(ic->rx_vlan, 1);
			}
			if (m->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK))
				CNT_ADD(ic->rx_csum, 1);
			if (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG)
				CNT_ADD(ic->rx_tso, 1);
		}
		v = srvd_bridge_decide(s->macs, hdr, hdr + RTE_ETHER_ADDR_LEN, in, now, &learnt,
				       &out);
		switch (v) {
		case SRVD_BR_UNICAST:
			if (unlikely(!port_up(&s->ports[out]))) {
				CNT_ADD(lc->cnt[out].drop_link_down, 1);
				rte_pktmbuf_free(m);
			} else {
				pend_add(s, lc, out, m);
			}
			break;
		case SRVD_BR_FLOOD:
			if (flood(s, lc, in, m)) {
				CNT_ADD(ic->flooded, 1);
			} else {
				CNT_ADD(ic->drop_no_port, 1);
				rte_pktmbuf_free(m);
			}
			break;
		case SRVD_BR_DROP_SAME_PORT:
			CNT_ADD(ic->drop_same_port, 1);
			rte_pktmbuf_free(m);
			break;
		case SRVD_BR_DROP_BAD_SRC:
			CNT_ADD(ic->drop_bad_src, 1);
			rte_pktmbuf_free(m);
			break;
		}
	}
	CNT_ADD(ic->rx_pkts, n);
	CNT_ADD(ic->rx_bytes, rx_bytes);
	for (p = 0; p < s->nb_ports; p++)
		if (lc->nb_pend[p] != 0)
			pend_flush(s, lc, p);
}

void
srvd_poll_once(struct srvd_state *s, struct srvd_lcore *lc)
{
	struct rte_mbuf *pkts[VMBS_MAX_BURST];
	uint16_t i, n;

	for (i = 0; i < lc->nb_poll; i++) {
		const struct srvd_poll *pq = &lc->poll[i];

		/* Being stopped (main waits for our next quiescent report). */
		if (unlikely(__atomic_load_n(&s->ports[pq->port].admin_down,
					     __ATOMIC_ACQUIRE) != 0))
			continue;
		n = rte_eth_rx_burst(s->ports[pq->port].port_id, pq->queue, pkts,
				     (uint16_t)s->cfg->burst);
		if (n != 0)
			fwd_burst(s, lc, pq->port, pkts, n);
	}
}

int
srvd_poll_lcore(void *arg)
{
	struct srvd_lcore *lc = arg;
	struct srvd_state *s = fwd_state;

	rte_rcu_qsbr_thread_register(s->qsbr, lc->poller);
	rte_rcu_qsbr_thread_online(s->qsbr, lc->poller);
	while (__atomic_load_n(&s->stop, __ATOMIC_RELAXED) == 0) {
		srvd_poll_once(s, lc);
		/* Nothing of any port is held between passes. */
		rte_rcu_qsbr_quiescent(s->qsbr, lc->poller);
	}
	rte_rcu_qsbr_thread_offline(s->qsbr, lc->poller);
	rte_rcu_qsbr_thread_unregister(s->qsbr, lc->poller);
	return 0;
}
