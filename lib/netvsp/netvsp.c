/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * netvsp: channels, the NVSP state machine, guest frames in (send-buffer
 * sections, GPA ranges) and host frames out (receive-buffer slots). The
 * RNDIS control side is in ctl.c. See vmbs_netvsp.h for the model.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "netvsp_pvt.h"
#include "vmbs_wire.h"

RTE_LOG_REGISTER_DEFAULT(vmbs_nv_logtype, NOTICE);

static const uint8_t nv_class_guid[16] = VMBS_GUID_NET_CLASS;

/* ---- guest-memory helpers ---- */

/*
 * The segment of @p m holding byte @p off (one binary search over the
 * ascending seg_off), and the offset into it; -1 if @p off is outside.
 */
static int
nv_map_seg_at(const struct vmbs_gpadl_mapping *m, uint64_t off, uint64_t *delta)
{
	uint32_t lo = 0, hi = m->nseg;

	if (off >= m->len)
		return -1;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;

		if (m->seg_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	*delta = off - m->seg_off[lo];
	return (int)lo;
}

/* Segments covering [off, off + len) of a mapping. */
int
nv_map_segs(const struct vmbs_gpadl_mapping *m, uint64_t off, uint32_t len,
	    struct vmbs_seg *out, uint32_t max)
{
	uint32_t n = 0;

	while (len > 0) {
		uint64_t delta;
		int i = nv_map_seg_at(m, off, &delta);

		if (i < 0 || n == max)
			return -EFAULT;
		out[n] = m->seg[i];
		out[n].va = (uint8_t *)m->seg[i].va + delta;
		out[n].gpa += delta;
		out[n].iova += delta;
		out[n].len = (uint32_t)RTE_MIN((uint64_t)len, m->seg[i].len - delta);
		off += out[n].len;
		len -= out[n].len;
		n++;
	}
	return (int)n;
}

/* Copy between [off, off + len) of a mapping and @p buf, piecewise. */
int
nv_buf_copy(const struct vmbs_gpadl_mapping *m, uint64_t off, void *buf,
	    uint32_t len, bool to_map)
{
	uint8_t *b = buf;

	while (len > 0) {
		uint64_t delta;
		int i = nv_map_seg_at(m, off, &delta);
		uint8_t *va;
		uint32_t n;

		if (i < 0)
			return -EFAULT;
		va = (uint8_t *)m->seg[i].va + delta;
		n = (uint32_t)RTE_MIN((uint64_t)len, m->seg[i].len - delta);
		if (to_map)
			memcpy(va, b, n);
		else
			memcpy(b, va, n);
		b += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Copy up to @p len bytes at offset @p off of a segment list; bytes copied. */
uint32_t
nv_gather(const struct vmbs_seg *seg, uint32_t nseg, uint64_t off, void *dst,
	  uint32_t len)
{
	uint8_t *d = dst;
	uint32_t done = 0, i;

	for (i = 0; i < nseg && done < len; i++) {
		uint32_t n;

		if (off >= seg[i].len) {
			off -= seg[i].len;
			continue;
		}
		n = (uint32_t)RTE_MIN((uint64_t)(len - done), seg[i].len - off);
		memcpy(d + done, (const uint8_t *)seg[i].va + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* Segments covering [off, off + len) of a segment list. */
static int
nv_slice(const struct vmbs_seg *seg, uint32_t nseg, uint64_t off, uint32_t len,
	 struct vmbs_seg *out, uint32_t max)
{
	uint32_t n = 0, i;

	for (i = 0; i < nseg && len > 0; i++) {
		uint32_t take;

		if (off >= seg[i].len) {
			off -= seg[i].len;
			continue;
		}
		if (n == max)
			return -E2BIG;
		take = (uint32_t)RTE_MIN((uint64_t)len, seg[i].len - off);
		out[n] = seg[i];
		out[n].va = (uint8_t *)seg[i].va + off;
		out[n].gpa += off;
		out[n].iova += off;
		out[n].len = take;
		len -= take;
		off = 0;
		n++;
	}
	return len == 0 ? (int)n : -EFAULT;
}

void
nv_event(struct vmbs_nv *nic, enum vmbs_nv_event ev)
{
	if (nic->p.event != NULL)
		nic->p.event(nic->p.cb_arg, ev);
}

/* ---- NVSP replies ---- */

static void
nv_reply(struct vmbs_rx *rx, const void *msg, int len)
{
	vmbs_rx_complete(rx, len > 0 ? msg : NULL, len > 0 ? (uint32_t)len : 0);
}

/* The completion type answering a request type (0 if none). */
static uint32_t
nv_comp_type(uint32_t type)
{
	switch (type) {
	case VMBS_NVSP_TYPE_INIT: return VMBS_NVSP_TYPE_INIT_COMPLETE;
	case VMBS_NVSP_TYPE_SEND_RECV_BUF: return VMBS_NVSP_TYPE_SEND_RECV_BUF_COMPLETE;
	case VMBS_NVSP_TYPE_SEND_SEND_BUF: return VMBS_NVSP_TYPE_SEND_SEND_BUF_COMPLETE;
	case VMBS_NVSP_TYPE_SEND_RNDIS_PKT: return VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE;
	case VMBS_NVSP_TYPE_SUBCHANNEL: return VMBS_NVSP_TYPE_SUBCHANNEL;
	default: return 0;
	}
}

/*
 * Fail a request: the completion of its type with status FAIL, 40 bytes
 * (the status word sits at offset 4 in every NVSP completion but
 * INIT_COMPLETE, where it is at 12). Unknown types get a zeroed message.
 */
void
nv_fail_nvsp(struct vmbs_rx *rx, uint32_t type)
{
	uint32_t msg[VMBS_NVSP_MSG_SIZE / 4] = { 0 };

	msg[0] = nv_comp_type(type);
	if (msg[0] == VMBS_NVSP_TYPE_INIT_COMPLETE) {
		msg[1] = VMBS_NVSP_INVALID_VERSION;
		msg[2] = VMBS_NVSP_MAX_MDL_CHAIN_LEN;
		msg[3] = VMBS_NVSP_STATUS_FAIL;
	} else {
		msg[1] = VMBS_NVSP_STATUS_FAIL;
	}
	vmbs_rx_complete(rx, msg, sizeof(msg));
}

static void
nv_refuse(struct vmbs_nv *nic, struct vmbs_rx *rx, uint32_t type)
{
	nic->st.nvsp_out_of_order++;
	nv_fail_nvsp(rx, type);
}

/* ---- quiescing (control thread) ---- */

static void
nv_quiesce(struct vmbs_nv *nic)
{
	uint16_t i;

	for (i = 0; i < VMBS_NV_MAX_QUEUES; i++) {
		struct vmbs_chan *c = __atomic_load_n(&nic->q[i].chan, __ATOMIC_ACQUIRE);

		if (c != NULL)
			vmbs_chan_hold(c);
	}
	for (i = 0; i < VMBS_NV_MAX_QUEUES; i++)
		rte_spinlock_lock(&nic->parts[i].lock);
	rte_spinlock_lock(&nic->ctl_lock);
}

static void
nv_resume(struct vmbs_nv *nic)
{
	uint16_t i;

	rte_spinlock_unlock(&nic->ctl_lock);
	for (i = 0; i < VMBS_NV_MAX_QUEUES; i++)
		rte_spinlock_unlock(&nic->parts[i].lock);
	for (i = 0; i < VMBS_NV_MAX_QUEUES; i++) {
		struct vmbs_chan *c = __atomic_load_n(&nic->q[i].chan, __ATOMIC_ACQUIRE);

		if (c != NULL)
			vmbs_chan_unhold(c);
	}
}

static void
nv_comp_rings_flush(struct vmbs_nv *nic)
{
	uint16_t i;
	void *obj;

	for (i = 0; i < VMBS_NV_MAX_QUEUES; i++)
		while (rte_ring_sc_dequeue(nic->parts[i].comp, &obj) == 0)
			;
}

/* Quiesced. */
static void
nv_recv_buf_drop(struct vmbs_nv *nic)
{
	if (!nic->recv_ready && nic->recv_map == NULL)
		return;
	nic->recv_ready = false;
	vmbs_rxbuf_fini(&nic->rb);
	nv_comp_rings_flush(nic);
	nic->n_pending = 0;
	if (nic->recv_map != NULL && nic->tbl != NULL) {
		vmbs_chan_gm_lock();
		vmbs_gpadl_unmap(nic->tbl, nic->recv_gpadl);
		vmbs_chan_gm_unlock();
	}
	nic->recv_map = NULL;
}

static void
nv_send_buf_drop(struct vmbs_nv *nic)
{
	nic->send_ready = false;
	if (nic->send_map != NULL && nic->tbl != NULL) {
		vmbs_chan_gm_lock();
		vmbs_gpadl_unmap(nic->tbl, nic->send_gpadl);
		vmbs_chan_gm_unlock();
	}
	nic->send_map = NULL;
	nic->send_sections = 0;
}

/* Back to before INIT (primary closed). Control thread. */
static void
nv_reset(struct vmbs_nv *nic)
{
	nv_quiesce(nic);
	nv_recv_buf_drop(nic);
	nv_send_buf_drop(nic);
	nic->nvsp_ver = 0;
	nic->ndis_ver = 0;
	nic->guest_mtu = 0;
	nic->guest_caps = 0;
	nic->ndis_config_seen = false;
	nic->ndis_ver_seen = false;
	nic->n_alloc = 1;
	nic->n_parts = 1;
	nv_ctl_reset(nic);
	nv_resume(nic);
	nv_event(nic, VMBS_NV_EV_DOWN);
}

/* ---- NVSP control messages ---- */

/* Worker: SEND_RECV_BUF. */
static void
nv_recv_buf(struct vmbs_nv *nic, struct vmbs_rx *rx, const struct vmbs_nvsp_send_buf *m)
{
	struct vmbs_nvsp_recv_buf_section sec = { 0 };
	const struct vmbs_gpadl_mapping *map = NULL;
	uint8_t msg[VMBS_NVSP_MSG_SIZE];
	uint32_t status = VMBS_NVSP_STATUS_FAIL;
	int rc;

	if (nic->recv_ready || nic->tbl == NULL) {
		nv_refuse(nic, rx, VMBS_NVSP_TYPE_SEND_RECV_BUF);
		return;
	}
	vmbs_chan_gm_lock();
	rc = vmbs_gpadl_map(nic->tbl, m->gpadl, 0, &map);
	vmbs_chan_gm_unlock();
	if (rc == 0) {
		nv_quiesce(nic);
		rc = vmbs_rxbuf_init(&nic->rb, map->len, nic->slot_size,
				     VMBS_RXBUF_CTL_SLOTS, 1);
		if (rc == 0) {
			nic->recv_map = map;
			nic->recv_gpadl = m->gpadl;
			nic->recv_id = m->id;
			nic->n_parts = 1;
			nic->recv_ready = true;
			sec.offset = 0;
			sec.sub_alloc_size = nic->slot_size;
			sec.num_sub_allocs = vmbs_rxbuf_slot_count(&nic->rb);
			sec.end_offset = sec.num_sub_allocs * nic->slot_size;
			status = VMBS_NVSP_STATUS_SUCCESS;
		}
		nv_resume(nic);
		if (rc != 0) {
			vmbs_chan_gm_lock();
			vmbs_gpadl_unmap(nic->tbl, m->gpadl);
			vmbs_chan_gm_unlock();
		}
	}
	if (status != VMBS_NVSP_STATUS_SUCCESS) {
		nic->st.nvsp_buf_failures++;
		NV_LOG(INFO, "%s: receive buffer gpadl %u refused (%d)",
		       nic->name, m->gpadl, rc);
	}
	rc = vmbs_nvsp_encode_recv_buf_complete(msg, sizeof(msg), status,
						status == VMBS_NVSP_STATUS_SUCCESS ?
						&sec : NULL);
	nv_reply(rx, msg, rc);
	if (status == VMBS_NVSP_STATUS_SUCCESS)
		nv_event(nic, VMBS_NV_EV_NVSP_READY);
}

/* Worker: SEND_SEND_BUF. */
static void
nv_send_buf(struct vmbs_nv *nic, struct vmbs_rx *rx, const struct vmbs_nvsp_send_buf *m)
{
	const struct vmbs_gpadl_mapping *map = NULL;
	uint8_t msg[VMBS_NVSP_MSG_SIZE];
	uint32_t status = VMBS_NVSP_STATUS_FAIL;
	int rc;

	if (!nic->recv_ready || nic->send_ready || nic->send_map != NULL) {
		nv_refuse(nic, rx, VMBS_NVSP_TYPE_SEND_SEND_BUF);
		return;
	}
	vmbs_chan_gm_lock();
	rc = vmbs_gpadl_map(nic->tbl, m->gpadl, VMBS_GPADL_F_RO, &map);
	vmbs_chan_gm_unlock();
	if (rc == 0 && map->len / VMBS_NV_SEND_SECTION_SIZE == 0) {
		vmbs_chan_gm_lock();
		vmbs_gpadl_unmap(nic->tbl, m->gpadl);
		vmbs_chan_gm_unlock();
		rc = -ENOSPC;
	}
	if (rc == 0) {
		nv_quiesce(nic);
		nic->send_map = map;
		nic->send_gpadl = m->gpadl;
		nic->send_id = m->id;
		nic->send_sections = (uint32_t)RTE_MIN(map->len / VMBS_NV_SEND_SECTION_SIZE,
						       (uint64_t)UINT32_MAX - 1);
		nic->send_ready = true;
		nv_resume(nic);
		status = VMBS_NVSP_STATUS_SUCCESS;
	} else {
		nic->st.nvsp_buf_failures++;
		NV_LOG(INFO, "%s: send buffer gpadl %u refused (%d)",
		       nic->name, m->gpadl, rc);
	}
	rc = vmbs_nvsp_encode_send_buf_complete(msg, sizeof(msg), status,
						status == VMBS_NVSP_STATUS_SUCCESS ?
						VMBS_NV_SEND_SECTION_SIZE : 0);
	nv_reply(rx, msg, rc);
}

/* Worker: REVOKE_RECV_BUF / REVOKE_SEND_BUF. */
static void
nv_revoke(struct vmbs_nv *nic, struct vmbs_rx *rx, uint32_t type, uint16_t id)
{
	bool recv = type == VMBS_NVSP_TYPE_REVOKE_RECV_BUF;

	if (recv ? (!nic->recv_ready || id != nic->recv_id) :
		   (!nic->send_ready || id != nic->send_id)) {
		nv_refuse(nic, rx, type);
		return;
	}
	nv_quiesce(nic);
	if (recv)
		nv_recv_buf_drop(nic);
	else
		nv_send_buf_drop(nic);
	nv_resume(nic);
	vmbs_rx_complete(rx, NULL, 0);
	nv_event(nic, VMBS_NV_EV_DOWN);
}

static void
nv_pkt_free_done(struct vmbs_pkt *pkt, int status __rte_unused,
		 const void *resp __rte_unused, uint32_t len __rte_unused)
{
	vmbs_pkt_free(pkt);
}

static void nv_part_drain(struct vmbs_nv *nic, struct nv_part *pt, struct nv_queue *nq);

/* Worker: SUBCHANNEL. */
static void
nv_subchannel(struct vmbs_nv *nic, struct vmbs_rx *rx,
	      const struct vmbs_nvsp_subchannel_req *m)
{
	uint8_t msg[VMBS_NVSP_MSG_SIZE];
	uint32_t want, table[VMBS_NVSP_INDIRECTION_TABLE_SIZE];
	uint16_t n;
	int rc, i;

	if (nic->nvsp_ver < VMBS_NVSP_VERSION_5 || !nic->recv_ready ||
	    m->op != VMBS_NVSP_SUBCHANNEL_ALLOCATE || m->num_subchannels == 0 ||
	    nic->p.offer_channels == NULL) {
		nv_refuse(nic, rx, VMBS_NVSP_TYPE_SUBCHANNEL);
		return;
	}
	want = RTE_MIN(m->num_subchannels, (uint32_t)nic->p.max_queues - 1);
	n = (uint16_t)(1 + want);
	if (n > 1) {
		rc = nic->p.offer_channels(nic->p.offer_arg != NULL ? nic->p.offer_arg :
					   nic->p.cb_arg, &nic->desc, n);
		if (rc < 0) {
			nic->st.nvsp_bad++;
			nv_fail_nvsp(rx, VMBS_NVSP_TYPE_SUBCHANNEL);
			return;
		}
		n = (uint16_t)RTE_MIN(rc, (int)n);
	}
	nv_quiesce(nic);
	if (n > nic->n_alloc)
		nic->st.subchannels += n - nic->n_alloc;
	nic->n_alloc = RTE_MAX(nic->n_alloc, n);
	/* One partition per queue when no slot is out; else keep sharing. */
	if (nic->n_alloc != nic->n_parts) {
		uint32_t np = RTE_MIN((uint32_t)nic->n_alloc,
				      vmbs_rxbuf_max_queues(&nic->rb));

		/* Apply queued completions first: they free slots. */
		for (i = 0; i < nic->n_parts; i++)
			nv_part_drain(nic, &nic->parts[i], &nic->q[i]);
		if (vmbs_rxbuf_repartition(&nic->rb, np) == 0)
			nic->n_parts = (uint16_t)np;
	}
	nv_resume(nic);
	rc = vmbs_nvsp_encode_subchannel_complete(msg, sizeof(msg),
						  VMBS_NVSP_STATUS_SUCCESS,
						  (uint32_t)n - 1);
	nv_reply(rx, msg, rc);
	/* Linux picks its TX channel through this table; DPDK ignores it. */
	for (i = 0; i < (int)VMBS_NVSP_INDIRECTION_TABLE_SIZE; i++)
		table[i] = (uint32_t)i % n;
	{
		uint8_t tmsg[VMBS_NVSP_INDIRECTION_TABLE_MSG_SIZE];
		struct vmbs_chan *c = nic->q[0].chan;
		struct vmbs_pkt *pkt = c != NULL ?
			vmbs_pkt_alloc(c, nv_pkt_free_done, NULL) : NULL;

		rc = vmbs_nvsp_encode_indirection_table(tmsg, sizeof(tmsg), table);
		if (pkt != NULL && (rc < 0 || vmbs_pkt_send(pkt, tmsg, (uint32_t)rc, 0) != 0))
			vmbs_pkt_free(pkt);
	}
	nv_event(nic, VMBS_NV_EV_QUEUES);
}

/* Primary, inline: INIT. */
static void
nv_init(struct vmbs_nv *nic, struct vmbs_rx *rx, const struct vmbs_nvsp_init *m)
{
	uint8_t msg[VMBS_NVSP_MSG_SIZE];
	uint32_t v, status;
	int rc;

	if (nic->nvsp_ver != 0) {
		nv_refuse(nic, rx, VMBS_NVSP_TYPE_INIT);
		return;
	}
	v = vmbs_nvsp_pick_version(m->min_ver, m->max_ver, nic->p.nvsp_max);
	if (v != 0) {
		nic->nvsp_ver = v;
		status = VMBS_NVSP_STATUS_SUCCESS;
	} else {
		status = m->max_ver > nic->p.nvsp_max ? VMBS_NVSP_STATUS_FAIL :
			 VMBS_NVSP_STATUS_TOO_OLD;
	}
	rc = vmbs_nvsp_encode_init_complete(msg, sizeof(msg),
					    v == VMBS_NVSP_VERSION_1 ? v :
					    VMBS_NVSP_INVALID_VERSION,
					    VMBS_NVSP_MAX_MDL_CHAIN_LEN, status);
	nv_reply(rx, msg, rc);
}

/* Inline on any channel: a receive-buffer batch completion. */
static void
nv_comp(struct vmbs_chan *chan, uint64_t trans_id, const void *payload, uint32_t len)
{
	struct vmbs_nv *nic = vmbs_chan_priv(chan);
	struct nv_queue *nq = &nic->q[vmbs_chan_subchan_idx(chan)];
	struct vmbs_nvsp_msg m;
	int p;

	if (vmbs_nvsp_decode(payload, len, &m) != 0 ||
	    m.type != VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE || !nic->recv_ready) {
		nq->st.comp_bad++;
		return;
	}
	/* The layout is stable: changes hold this channel's poll gate. */
	p = vmbs_rxbuf_part_of(&nic->rb, trans_id);
	if (p == VMBS_RXBUF_PART_CTL) {
		nv_ctl_comp(nic, trans_id);
		return;
	}
	if (p < 0 || p >= nic->n_parts) {
		nq->st.comp_bad++;
		return;
	}
	/* MP enqueue: release publishes the id to the partition's owner. */
	if (rte_ring_mp_enqueue(nic->parts[p].comp, (void *)(uintptr_t)(trans_id + 1)) != 0)
		nq->st.comp_ring_full++;
}

/* Partition owner (lock held): apply queued guest completions. */
static void
nv_part_drain(struct vmbs_nv *nic, struct nv_part *pt, struct nv_queue *nq)
{
	void *objs[64];
	unsigned int n, i;

	if (!nic->recv_ready || pt->idx >= nic->n_parts)
		return;
	do {
		n = rte_ring_sc_dequeue_burst(pt->comp, objs, RTE_DIM(objs), NULL);
		for (i = 0; i < n; i++) {
			uint64_t id = (uint64_t)(uintptr_t)objs[i] - 1;

			if (vmbs_rxbuf_complete(vmbs_rxbuf_part(&nic->rb, pt->idx), id) > 0)
				nq->st.comp_ok++;
			else
				nq->st.comp_bad++;
		}
	} while (n == RTE_DIM(objs));
}

/* ---- guest frames in ---- */

/* Check a frame's PPIs against the frame and the advertised offloads. */
static bool
nv_ppi_ok(const struct vmbs_nv *nic, const struct vmbs_rndis_ppi_info *ppi,
	  uint32_t frame_len)
{
	uint32_t max = nic->mtu + 14 + 4;	/* Ethernet + 802.1Q headers */

	if (ppi->present & VMBS_RNDIS_PPI_F_LSO) {
		if (!ppi->lso_v2 || ppi->lso_mss == 0 ||
		    ppi->lso_tcp_hdr_off >= frame_len ||
		    !(nic->p.offloads & (ppi->lso_ipv6 ? VMBS_NV_OFF_TSO6 : VMBS_NV_OFF_TSO4)))
			return false;
		max = VMBS_NV_TSO_MAX_SIZE + 256;
	}
	if ((ppi->present & VMBS_RNDIS_PPI_F_CSUM) &&
	    (ppi->csum & (VMBS_RNDIS_TXCSUM_TCP | VMBS_RNDIS_TXCSUM_UDP)) &&
	    ppi->csum_tcp_hdr_off >= frame_len)
		return false;
	return frame_len >= 14 && frame_len <= max;
}

/* Inline: an RNDIS_PKT carrying data. */
static void
nv_data(struct vmbs_nv *nic, struct nv_queue *nq, struct vmbs_rx *rx,
	const struct vmbs_nvsp_rndis_pkt *m, uint32_t flags)
{
	struct vmbs_rndis_pkt_info pkts[VMBS_NV_MAX_PKT_PER_MSG];
	const struct vmbs_sgl *sgl = NULL;
	uint32_t nseg = 0, n = 0, i;
	uint64_t total = 0;
	bool has_sect = m->section_index != VMBS_NVSP_SECTION_NONE;
	int rc;

	if (!__atomic_load_n(&nic->rndis_up, __ATOMIC_RELAXED)) {
		nq->st.rx_not_ready++;
		goto fail;
	}
	if (flags & VMBS_RX_F_EXT_DATA) {
		rc = vmbs_rx_get_ext_data(rx, VMBS_EXT_F_RO, &sgl);
		if (rc == VMBS_EPENDING)
			return;		/* redelivered once resident */
		if (rc != 0) {
			nq->st.rx_ext_errors++;
			goto fail;
		}
	}
	if (has_sect) {
		uint64_t off;

		if (!nic->send_ready || m->section_index >= nic->send_sections ||
		    m->section_size == 0 || m->section_size > VMBS_NV_SEND_SECTION_SIZE)
			goto bad;
		off = (uint64_t)m->section_index * VMBS_NV_SEND_SECTION_SIZE;
		rc = nv_map_segs(nic->send_map, off, m->section_size, nq->req_seg, 4);
		if (rc < 0)
			goto bad;
		nseg = (uint32_t)rc;
		total = m->section_size;
		nq->st.rx_section_reqs++;
	}
	if (sgl != NULL) {
		if (sgl->nseg + nseg > NV_REQ_MAX_SEGS)
			goto bad;
		memcpy(&nq->req_seg[nseg], sgl->seg, sgl->nseg * sizeof(sgl->seg[0]));
		nseg += sgl->nseg;
		total += sgl->len;
		nq->st.rx_gpa_reqs++;
	}
	if (nseg == 0)
		goto bad;

	if (sgl == NULL) {
		/* Sections only: several PACKETs, all checked on a private copy. */
		if (nv_gather(nq->req_seg, nseg, 0, nq->sect, (uint32_t)total) != total)
			goto bad;
		rc = vmbs_rndis_pkt_parse_all(nq->sect, total, pkts, RTE_DIM(pkts));
		if (rc < 0)
			goto bad;
		n = (uint32_t)rc;
		for (i = 0; i < n; i++) {
			if (vmbs_rndis_ppi_parse(nq->sect + pkts[i].ppi_off, pkts[i].ppi_len,
						 &nq->frames[i].ppi) != 0)
				goto bad;
		}
	} else {
		/* GPA ranges (maybe after a section): one PACKET; its header
		 * and PPIs from a private copy, the frame stays in place.
		 */
		uint32_t hl = (uint32_t)RTE_MIN(total, (uint64_t)NV_HEAD_MAX);

		if (nv_gather(nq->req_seg, nseg, 0, nq->head, hl) != hl ||
		    vmbs_rndis_pkt_check_head(nq->head, hl, total, &pkts[0]) != 0 ||
		    vmbs_rndis_ppi_parse(nq->head + pkts[0].ppi_off, pkts[0].ppi_len,
					 &nq->frames[0].ppi) != 0)
			goto bad;
		n = 1;
	}
	for (i = 0; i < n; i++) {
		struct vmbs_nv_frame *f = &nq->frames[i];

		rc = nv_slice(nq->req_seg, nseg, pkts[i].data_off, pkts[i].data_len,
			      nq->frame_seg[i], VMBS_NV_FRAME_MAX_SEGS);
		if (rc <= 0 || !nv_ppi_ok(nic, &f->ppi, pkts[i].data_len))
			goto bad;
		f->len = pkts[i].data_len;
		f->nseg = (uint16_t)rc;
		f->queue = nq->idx;
		f->seg = nq->frame_seg[i];
		nq->st.rx_bytes += f->len;
	}
	nq->st.rx_reqs++;
	nq->st.rx_frames += n;
	nic->p.rx_frames(nic->p.cb_arg, nq->idx, rx, nq->frames, n);
	return;
bad:
	nq->st.rx_bad++;
fail:
	vmbs_nv_req_done(rx, false);
}

void
vmbs_nv_req_done(struct vmbs_rx *req, bool ok)
{
	uint8_t msg[VMBS_NVSP_MSG_SIZE];
	int len;

	len = vmbs_nvsp_encode_rndis_pkt_complete(msg, sizeof(msg), ok ?
						  VMBS_NVSP_STATUS_SUCCESS :
						  VMBS_NVSP_STATUS_FAIL);
	vmbs_rx_complete(req, msg, (uint32_t)len);
}

/* ---- channel callbacks ---- */

static bool
nv_needs_worker(uint32_t type)
{
	return type == VMBS_NVSP_TYPE_SEND_RECV_BUF ||
	       type == VMBS_NVSP_TYPE_SEND_SEND_BUF ||
	       type == VMBS_NVSP_TYPE_REVOKE_RECV_BUF ||
	       type == VMBS_NVSP_TYPE_REVOKE_SEND_BUF ||
	       type == VMBS_NVSP_TYPE_SUBCHANNEL;
}

static void
nv_rx(struct vmbs_chan *chan, struct vmbs_rx *rx, const void *payload,
      uint32_t len, uint32_t flags)
{
	struct vmbs_nv *nic = vmbs_chan_priv(chan);
	struct nv_queue *nq = &nic->q[vmbs_chan_subchan_idx(chan)];
	bool primary = nq->idx == 0;
	struct vmbs_nvsp_msg m;
	uint32_t raw_type = 0;
	int rc;

	/* Private copy (lib/chan copied the packet out of the ring). */
	if (len >= 4)
		memcpy(&raw_type, payload, 4);
	rc = vmbs_nvsp_decode(payload, len, &m);
	if (rc != 0) {
		if (raw_type == VMBS_NVSP_TYPE_SEND_RNDIS_PKT)
			nq->st.rx_bad++;
		else
			nic->st.nvsp_bad++;
		nv_fail_nvsp(rx, raw_type);
		return;
	}
	if (m.type == VMBS_NVSP_TYPE_SEND_RNDIS_PKT) {
		if (m.u.rndis_pkt.channel_type == VMBS_NVSP_CHANNEL_DATA) {
			nv_data(nic, nq, rx, &m.u.rndis_pkt, flags);
			return;
		}
		if (!primary || m.u.rndis_pkt.channel_type != VMBS_NVSP_CHANNEL_CONTROL ||
		    !nic->recv_ready) {
			nv_refuse(nic, rx, m.type);
			return;
		}
		nic->st.rndis_ctl++;
		nv_ctl_request(nic, nq, rx, &m.u.rndis_pkt, flags);
		return;
	}
	nic->st.nvsp_msgs++;
	/* Every other message belongs on the primary. */
	if (!primary) {
		nv_refuse(nic, rx, m.type);
		return;
	}
	if (nv_needs_worker(m.type) && !(flags & VMBS_RX_F_WORKER)) {
		/* Order: INIT and NDIS_* first; checked again by the worker. */
		if (nic->nvsp_ver == 0 || !nic->ndis_ver_seen ||
		    (nic->nvsp_ver >= VMBS_NVSP_VERSION_2 && !nic->ndis_config_seen)) {
			nv_refuse(nic, rx, m.type);
			return;
		}
		if (vmbs_rx_defer(rx) != 0)
			nv_refuse(nic, rx, m.type);
		return;
	}
	switch (m.type) {
	case VMBS_NVSP_TYPE_INIT:
		nv_init(nic, rx, &m.u.init);
		break;
	case VMBS_NVSP_TYPE_SEND_NDIS_CONFIG:
		if (nic->nvsp_ver < VMBS_NVSP_VERSION_2 || nic->ndis_config_seen ||
		    nic->recv_ready) {
			nv_refuse(nic, rx, m.type);
			break;
		}
		nic->ndis_config_seen = true;
		nic->guest_mtu = m.u.ndis_config.mtu;
		nic->guest_caps = m.u.ndis_config.caps;
		vmbs_rx_complete(rx, NULL, 0);
		break;
	case VMBS_NVSP_TYPE_SEND_NDIS_VER:
		if (nic->nvsp_ver == 0 || nic->ndis_ver_seen || nic->recv_ready) {
			nv_refuse(nic, rx, m.type);
			break;
		}
		nic->ndis_ver_seen = true;
		nic->ndis_ver = (m.u.ndis_ver.major << 16) | (m.u.ndis_ver.minor & 0xffff);
		vmbs_rx_complete(rx, NULL, 0);
		break;
	case VMBS_NVSP_TYPE_SEND_RECV_BUF:
		nv_recv_buf(nic, rx, &m.u.send_buf);
		break;
	case VMBS_NVSP_TYPE_SEND_SEND_BUF:
		nv_send_buf(nic, rx, &m.u.send_buf);
		break;
	case VMBS_NVSP_TYPE_REVOKE_RECV_BUF:
	case VMBS_NVSP_TYPE_REVOKE_SEND_BUF:
		nv_revoke(nic, rx, m.type, m.u.revoke_buf.id);
		break;
	case VMBS_NVSP_TYPE_SUBCHANNEL:
		nv_subchannel(nic, rx, &m.u.subchannel_req);
		break;
	case VMBS_NVSP_TYPE_SWITCH_DATA_PATH:
		/* No VF is ever offered: the synthetic path stays. */
		vmbs_rx_complete(rx, NULL, 0);
		break;
	default:
		nic->st.nvsp_bad++;
		nv_fail_nvsp(rx, m.type);
		break;
	}
}

static int
nv_opened(struct vmbs_chan *chan, const struct vmbs_open_info *oi __rte_unused)
{
	struct vmbs_nv *nic = vmbs_chan_priv(chan);
	uint16_t idx = vmbs_chan_subchan_idx(chan);

	if (idx == 0)
		nic->tbl = vmbs_chan_gpadl_table(chan);
	__atomic_store_n(&nic->q[idx].open, true, __ATOMIC_RELEASE);
	return 0;
}

static void
nv_closed(struct vmbs_chan *chan)
{
	struct vmbs_nv *nic = vmbs_chan_priv(chan);
	uint16_t idx = vmbs_chan_subchan_idx(chan);

	__atomic_store_n(&nic->q[idx].open, false, __ATOMIC_RELEASE);
	if (idx == 0)
		nv_reset(nic);
}

static int
nv_chan_attach(void *dev_priv, struct vmbs_chan *chan, uint16_t idx)
{
	struct vmbs_nv *nic = dev_priv;

	if (idx >= VMBS_NV_MAX_QUEUES || nic->q[idx].chan != NULL)
		return -EINVAL;
	/* Q1 partner: pollers load chan after their busy store. */
	__atomic_store_n(&nic->q[idx].chan, chan, __ATOMIC_SEQ_CST);
	return 0;
}

static void
nv_chan_detach(void *dev_priv, struct vmbs_chan *chan __rte_unused, uint16_t idx)
{
	struct vmbs_nv *nic = dev_priv;
	struct nv_queue *nq = &nic->q[idx];

	if (idx == 0)
		nv_reset(nic);	/* drops the buffer mappings */
	/* Q1: clear, then wait out a poller that loaded it before. */
	__atomic_store_n(&nq->chan, NULL, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&nq->busy, __ATOMIC_SEQ_CST) != 0)
		rte_pause();
	nq->open = false;
}

/* ---- host frames out ---- */

static const uint8_t nv_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* The guest's packet filter, on the destination address. */
static bool
nv_filter_pass(const struct vmbs_nv *nic, uint32_t filter, const uint8_t *dst)
{
	uint32_t i, n;

	if (filter & VMBS_NDIS_FILTER_PROMISCUOUS)
		return true;
	if (memcmp(dst, nv_bcast, 6) == 0)
		return (filter & VMBS_NDIS_FILTER_BROADCAST) != 0;
	if (dst[0] & 1) {
		if (filter & VMBS_NDIS_FILTER_ALL_MULTICAST)
			return true;
		if (!(filter & VMBS_NDIS_FILTER_MULTICAST))
			return false;
		n = RTE_MIN(__atomic_load_n(&nic->n_mcast, __ATOMIC_RELAXED),
			    VMBS_NV_MCAST_MAX);
		for (i = 0; i < n; i++)
			if (memcmp(dst, nic->mcast[i], 6) == 0)
				return true;
		return false;
	}
	return (filter & VMBS_NDIS_FILTER_DIRECTED) &&
	       memcmp(dst, nic->p.mac, 6) == 0;
}

/*
 * Header then frame into one slot. A slot is almost always virtually
 * contiguous: one lookup and plain copies; piecewise only across a
 * mapping discontinuity.
 */
static void
nv_slot_write(const struct vmbs_gpadl_mapping *m, uint64_t off, const void *hdr,
	      uint32_t hl, const struct vmbs_nv_txframe *fr)
{
	uint64_t total = hl, o;
	uint8_t *va;
	uint16_t k;

	for (k = 0; k < fr->iovcnt; k++)
		total += fr->iov[k].iov_len;
	va = vmbs_gpadl_mapping_va(m, off, total, NULL);
	if (va != NULL) {
		memcpy(va, hdr, hl);
		va += hl;
		for (k = 0; k < fr->iovcnt; k++) {
			memcpy(va, fr->iov[k].iov_base, fr->iov[k].iov_len);
			va += fr->iov[k].iov_len;
		}
		return;
	}
	nv_buf_copy(m, off, (void *)(uintptr_t)hdr, hl, true);
	for (k = 0, o = off + hl; k < fr->iovcnt; k++) {
		nv_buf_copy(m, o, fr->iov[k].iov_base, (uint32_t)fr->iov[k].iov_len, true);
		o += fr->iov[k].iov_len;
	}
}

/* Written, or failed: on failure the batch's slots come back. */
static void
nv_xfer_done(struct vmbs_pkt *pkt, int status, const void *resp __rte_unused,
	     uint32_t len __rte_unused)
{
	struct nv_part *pt = vmbs_pkt_priv(pkt);

	if (status != 0) {
		uint64_t id = vmbs_pkt_dev_trans_id(pkt);

		if (rte_ring_mp_enqueue(pt->comp, (void *)(uintptr_t)(id + 1)) != 0)
			pt->nic->q[pt->idx].st.comp_ring_full++;
		pt->nic->q[pt->idx].st.tx_send_errors++;
	}
	vmbs_pkt_free(pkt);
}

/* Iovecs of one offloaded segment: its headers and the frame's slices. */
#define NV_TXOFF_MAX_IOV 34u

/*
 * One frame with software offloads (lib/txoff) into slots of the open batch:
 * every segment or none. 0: consumed (written, or dropped and counted);
 * -ENOBUFS: too few free slots (tx_full); -ENOSPC: the batch is full.
 * Partition lock held.
 */
static int
nv_tx_offloaded(struct vmbs_nv *nic, struct nv_queue *nq, struct vmbs_rxbuf_part *rp,
		const struct vmbs_nv_txframe *fr, uint32_t len, uint32_t usable,
		struct vmbs_xfer_range *ranges, uint32_t *cnt)
{
	const bool tso = (fr->offload & VMBS_NV_TXOFF_TSO) != 0;
	struct iovec siov[NV_TXOFF_MAX_IOV];
	struct vmbs_nv_txframe seg;
	struct vmbs_txoff_hdrs h;
	uint8_t hb[VMBS_TXOFF_HDR_MAX], rh[256];
	uint32_t nseg = 1, mss = 0, k, hl, biggest;

	if (fr->iovcnt >= NV_TXOFF_MAX_IOV ||
	    vmbs_txoff_parse(fr->iov, fr->iovcnt, len, tso, &h) != 0)
		goto bad;
	if (tso) {
		mss = fr->tso_mss;
		nseg = vmbs_txoff_nseg(&h, mss);
		if (nseg == 0 || nseg > VMBS_NV_TSO_MAX_SEGS)
			goto bad;
	}
	seg.ppi = fr->ppi;
	seg.ppi.present |= VMBS_RNDIS_PPI_F_CSUM;
	hl = vmbs_rndis_rx_hdr_len(&seg.ppi);
	biggest = nseg > 1 ? (uint32_t)h.l2 + h.l3 + h.l4 + mss : len;
	/* A segment larger than a slot, or more segments than the partition
	 * has slots, would never fit: oversize, not a wait for slots.
	 */
	if (hl > sizeof(rh) || (uint64_t)hl + biggest > usable || nseg > rp->count) {
		nq->st.tx_oversize++;
		return 0;
	}
	if (vmbs_rxbuf_free_count(rp) < nseg) {
		nq->st.tx_full++;
		return -ENOBUFS;
	}
	if (*cnt + nseg > VMBS_RXBUF_MAX_BATCH)
		return -ENOSPC;
	for (k = 0; k < nseg; k++) {
		uint32_t csum, seglen = 0, slot, off, j;
		int rc;

		seg.iov = siov;
		seg.iovcnt = vmbs_txoff_segment(&h, fr->iov, fr->iovcnt, mss, k, nseg, hb, siov,
					      RTE_DIM(siov), &csum);
		for (j = 0; j < seg.iovcnt; j++)
			seglen += (uint32_t)siov[j].iov_len;
		seg.ppi.csum = csum;
		/* Checked above: sizes fit, slots and batch room are there. */
		rc = vmbs_rndis_encode_rx_packet(rh, (size_t)hl + seglen, seglen, &seg.ppi);
		if (seg.iovcnt == 0 || rc < 0 || vmbs_rxbuf_add(rp, &slot, &off) != 0) {
			nq->st.tx_bad++;
			continue;
		}
		nv_slot_write(nic->recv_map, off, rh, (uint32_t)rc, &seg);
		ranges[*cnt].byte_offset = off;
		ranges[*cnt].byte_count = (uint32_t)rc + seglen;
		(*cnt)++;
		nq->st.tx_bytes += seglen;
	}
	nq->st.tx_sw_csum++;
	if (tso) {
		nq->st.tx_sw_tso++;
		nq->st.tx_tso_segs += nseg;
	}
	return 0;
bad:
	nq->st.tx_offload_bad++;
	return 0;
}

uint16_t
vmbs_nv_tx_burst(struct vmbs_nv *nic, uint16_t q, const struct vmbs_nv_txframe *f,
		 uint16_t n)
{
	struct vmbs_xfer_range ranges[VMBS_RXBUF_MAX_BATCH];
	uint8_t hdr[256], nvmsg[VMBS_NVSP_MSG_SIZE];
	struct nv_queue *nq;
	struct nv_part *pt;
	struct vmbs_rxbuf_part *rp;
	struct vmbs_chan *chan;
	struct vmbs_pkt *pkt;
	uint32_t filter, tid, cnt, usable;
	uint16_t i, done = 0;
	int rc;

	if (q >= VMBS_NV_MAX_QUEUES || n == 0)
		return 0;
	/* Counters on a queue that exists, so the sums include them. Those
	 * booked before the partition lock are atomic: with tx_rss several
	 * lcores send on one queue.
	 */
	nq = &nic->q[q % nic->p.max_queues];
	if (!__atomic_load_n(&nic->rndis_up, __ATOMIC_ACQUIRE) ||
	    !__atomic_load_n(&nic->link_up, __ATOMIC_RELAXED)) {
		__atomic_fetch_add(&nq->st.tx_down, n, __ATOMIC_RELAXED);
		return n;
	}
	filter = __atomic_load_n(&nic->filter, __ATOMIC_RELAXED);
	if (filter == 0) {
		__atomic_fetch_add(&nq->st.tx_filtered, n, __ATOMIC_RELAXED);
		return n;
	}
	pt = &nic->parts[q % RTE_MAX(nic->n_parts, 1)];
	rte_spinlock_lock(&pt->lock);
	/* Under the lock the layout and mapping cannot change. */
	if (!nic->recv_ready || pt->idx >= nic->n_parts) {
		rte_spinlock_unlock(&pt->lock);
		__atomic_fetch_add(&nq->st.tx_down, n, __ATOMIC_RELAXED);
		return n;
	}
	nv_part_drain(nic, pt, nq);
	rp = vmbs_rxbuf_part(&nic->rb, pt->idx);
	chan = nic->q[vmbs_nv_tx_channel(nic, q)].chan;
	pkt = chan != NULL ? vmbs_pkt_alloc(chan, nv_xfer_done, pt) : NULL;
	if (pkt == NULL) {
		nq->st.tx_full++;
		rte_spinlock_unlock(&pt->lock);
		return 0;
	}
	usable = vmbs_rxbuf_slot_usable(&nic->rb);
	vmbs_rxbuf_begin(rp);
	for (i = 0, cnt = 0; i < n; i++) {
		const struct vmbs_nv_txframe *fr = &f[i];
		uint32_t len = 0, hl, slot, off, k;
		uint8_t dst[6];

		for (k = 0; k < fr->iovcnt; k++)
			len += (uint32_t)fr->iov[k].iov_len;
		if (fr->iovcnt == 0 || fr->iov == NULL || len < 14) {
			nq->st.tx_bad++;
			done++;
			continue;
		}
		if (fr->iov[0].iov_len >= 6) {
			memcpy(dst, fr->iov[0].iov_base, 6);
		} else {
			uint32_t got = 0;

			for (k = 0; k < fr->iovcnt && got < 6; k++) {
				uint32_t c = (uint32_t)RTE_MIN(fr->iov[k].iov_len,
							       (size_t)(6 - got));

				memcpy(dst + got, fr->iov[k].iov_base, c);
				got += c;
			}
		}
		if (!nv_filter_pass(nic, filter, dst)) {
			__atomic_fetch_add(&nq->st.tx_filtered, 1, __ATOMIC_RELAXED);
			done++;
			continue;
		}
		if (fr->offload != 0) {
			rc = nv_tx_offloaded(nic, nq, rp, fr, len, usable, ranges, &cnt);
			if (rc != 0)
				break;
			done++;
			continue;
		}
		hl = vmbs_rndis_rx_hdr_len(&fr->ppi);
		if ((uint64_t)hl + len > usable) {
			nq->st.tx_oversize++;
			done++;
			continue;
		}
		/* The encoder checks the slot holds header + frame; it writes
		 * only the header (hl <= sizeof(hdr)), the frame follows below.
		 */
		rc = hl <= sizeof(hdr) ?
		     vmbs_rndis_encode_rx_packet(hdr, (size_t)hl + len, len, &fr->ppi) :
		     -ENOBUFS;
		if (rc < 0) {
			nq->st.tx_bad++;
			done++;
			continue;
		}
		if (vmbs_rxbuf_add(rp, &slot, &off) != 0) {
			nq->st.tx_full++;
			break;
		}
		nv_slot_write(nic->recv_map, off, hdr, (uint32_t)rc, fr);
		ranges[cnt].byte_offset = off;
		ranges[cnt].byte_count = (uint32_t)rc + len;
		cnt++;
		nq->st.tx_bytes += len;
		done++;
	}
	rc = vmbs_rxbuf_commit(rp, &tid);
	if (rc <= 0) {
		vmbs_pkt_free(pkt);
		rte_spinlock_unlock(&pt->lock);
		return done;
	}
	vmbs_nvsp_encode_rndis_pkt(nvmsg, sizeof(nvmsg), VMBS_NVSP_CHANNEL_DATA,
				   VMBS_NVSP_SECTION_NONE, 0);
	vmbs_pkt_set_trans_id(pkt, tid);
	rc = vmbs_pkt_send_xfer(pkt, nic->recv_id, ranges, cnt, nvmsg, sizeof(nvmsg),
				VMBS_SEND_F_DEVICE_COMP);
	if (rc != 0) {
		vmbs_rxbuf_complete(rp, tid);
		vmbs_pkt_free(pkt);
		nq->st.tx_send_errors++;
	} else {
		nq->st.tx_frames += cnt;
		nq->st.tx_pkts++;
	}
	rte_spinlock_unlock(&pt->lock);
	return done;
}

/* ---- public ---- */

/*
 * The poller's side of the hand-off with detach, for every use of a
 * queue's channel outside the control thread. Q0: announce, then look
 * (seq-cst, pairs with Q1 in detach, which clears chan and then waits for
 * busy == 0). Returns the channel, or NULL: either way nv_queue_leave()
 * follows.
 */
static inline struct vmbs_chan *
nv_queue_enter(struct nv_queue *nq)
{
	__atomic_store_n(&nq->busy, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&nq->chan, __ATOMIC_SEQ_CST);
}

/* Release: everything done with the channel happens before detach sees 0. */
static inline void
nv_queue_leave(struct nv_queue *nq)
{
	__atomic_store_n(&nq->busy, 0, __ATOMIC_RELEASE);
}

int
vmbs_nv_poll(struct vmbs_nv *nic, uint16_t q, uint32_t budget)
{
	struct nv_queue *nq;
	struct vmbs_chan *chan;
	int n = 0;

	if (q >= VMBS_NV_MAX_QUEUES)
		return 0;
	nq = &nic->q[q];
	chan = nv_queue_enter(nq);
	if (chan != NULL) {
		if (q < nic->n_parts && rte_spinlock_trylock(&nic->parts[q].lock)) {
			nv_part_drain(nic, &nic->parts[q], nq);
			rte_spinlock_unlock(&nic->parts[q].lock);
		}
		n = vmbs_chan_poll(chan, budget);
	}
	nv_queue_leave(nq);
	return n;
}

uint16_t
vmbs_nv_tx_channel(const struct vmbs_nv *nic, uint16_t q)
{
	uint16_t c = (uint16_t)(q % RTE_MAX(nic->n_alloc, 1));

	if (nic->q[c].chan == NULL || !__atomic_load_n(&nic->q[c].open, __ATOMIC_ACQUIRE))
		return 0;
	return c;
}

void
vmbs_nv_flush(struct vmbs_nv *nic, uint16_t q)
{
	struct nv_queue *nq;
	struct vmbs_chan *chan;

	if (q >= VMBS_NV_MAX_QUEUES)
		return;
	nq = &nic->q[q];
	chan = nv_queue_enter(nq);
	if (chan != NULL)
		vmbs_chan_flush(chan);
	nv_queue_leave(nq);
}

int
vmbs_nv_rx_intr_enable(struct vmbs_nv *nic, uint16_t q, int *intr_fd)
{
	struct nv_queue *nq;
	struct vmbs_chan *chan;
	int rc = -ENOTCONN;

	*intr_fd = -1;
	if (q >= VMBS_NV_MAX_QUEUES)
		return -ENOTCONN;
	nq = &nic->q[q];
	chan = nv_queue_enter(nq);
	if (chan != NULL) {
		*intr_fd = vmbs_chan_intr_fd(chan);
		/* Guest acks for this partition wait in its ring: poll. */
		if (q < nic->n_parts && rte_ring_count(nic->parts[q].comp) != 0)
			rc = 1;
		else
			rc = vmbs_chan_rx_intr_enable(chan);
	}
	nv_queue_leave(nq);
	return rc;
}

void
vmbs_nv_rx_intr_disable(struct vmbs_nv *nic, uint16_t q)
{
	struct nv_queue *nq;
	struct vmbs_chan *chan;

	if (q >= VMBS_NV_MAX_QUEUES)
		return;
	nq = &nic->q[q];
	chan = nv_queue_enter(nq);
	if (chan != NULL)
		vmbs_chan_rx_intr_disable(chan);
	nv_queue_leave(nq);
}

struct vmbs_nv *
vmbs_nv_create(const struct vmbs_nv_params *p)
{
	struct vmbs_nv *nic;
	char rname[RTE_RING_NAMESIZE];
	static uint32_t serial;
	uint32_t id, i;

	if (p == NULL || p->rx_frames == NULL || p->vm_name == NULL ||
	    p->vm_name[0] == '\0' || strlen(p->vm_name) >= VMBS_VM_NAME_MAX ||
	    p->max_queues > VMBS_NV_MAX_QUEUES ||
	    (p->mtu != 0 && (p->mtu < VMBS_RXBUF_MTU_MIN || p->mtu > VMBS_RXBUF_MTU_MAX))) {
		rte_errno = EINVAL;
		return NULL;
	}
	nic = rte_zmalloc("vmbs_nv", sizeof(*nic), RTE_CACHE_LINE_SIZE);
	if (nic == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	nic->p = *p;
	if (nic->p.max_queues == 0)
		nic->p.max_queues = 1;
	nic->mtu = p->mtu != 0 ? p->mtu : 1500;
	if (nic->p.link_speed == 0)
		nic->p.link_speed = UINT64_C(10000000000);
	if (nic->p.nvsp_max == 0)
		nic->p.nvsp_max = VMBS_NVSP_VERSION_61;
	if (nic->p.quota == 0)
		nic->p.quota = VMBS_NV_DEFAULT_QUOTA;
	snprintf(nic->name, sizeof(nic->name), "%s", p->name != NULL ? p->name : "nv");
	snprintf(nic->vm_name, sizeof(nic->vm_name), "%s", p->vm_name);
	nic->p.name = nic->name;
	nic->p.vm_name = nic->vm_name;
	nic->slot_size = vmbs_rxbuf_slot_size(nic->mtu);
	nic->n_alloc = 1;
	nic->n_parts = 1;
	nic->link_up = true;
	nic->link_reported = true;
	rte_spinlock_init(&nic->ctl_lock);
	id = __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED);
	for (i = 0; i < VMBS_NV_MAX_QUEUES; i++) {
		struct nv_part *pt = &nic->parts[i];

		rte_spinlock_init(&pt->lock);
		pt->nic = nic;
		pt->idx = (uint16_t)i;
		nic->q[i].nic = nic;
		nic->q[i].idx = (uint16_t)i;
		if (i >= nic->p.max_queues)
			continue;
		snprintf(rname, sizeof(rname), "nvc%u_%u", id, i);
		/* Room for every slot's batch head plus junk headroom. */
		pt->comp = rte_ring_create(rname, 32768, SOCKET_ID_ANY, RING_F_SC_DEQ);
		if (pt->comp == NULL)
			goto err;
	}
	/* Partitions >= max_queues are never used: share one empty ring. */
	for (i = nic->p.max_queues; i < VMBS_NV_MAX_QUEUES; i++)
		nic->parts[i].comp = nic->parts[0].comp;

	memcpy(nic->desc.vm_name, nic->vm_name, sizeof(nic->desc.vm_name));
	memcpy(nic->desc.if_type, nv_class_guid, 16);
	memcpy(nic->desc.if_instance, p->instance, 16);
	nic->desc.n_channels = nic->p.max_queues;
	nic->desc.n_offered = 1;
	nic->desc.chan.quota = nic->p.quota;
	nic->desc.chan.n_pkts = 256;
	nic->desc.chan.state_cbs.opened = nv_opened;
	nic->desc.chan.state_cbs.closed = nv_closed;
	nic->desc.chan.rx_cb = nv_rx;
	nic->desc.chan.comp_cb = nv_comp;
	nic->desc.chan.priv = nic;
	nic->desc.chan_attach = nv_chan_attach;
	nic->desc.chan_detach = nv_chan_detach;
	nic->desc.dev_priv = nic;
	return nic;
err:
	vmbs_nv_free(nic);
	rte_errno = ENOMEM;
	return NULL;
}

const struct vmbs_dev_desc *
vmbs_nv_dev_desc(struct vmbs_nv *nic)
{
	return &nic->desc;
}

void
vmbs_nv_free(struct vmbs_nv *nic)
{
	uint32_t i;

	if (nic == NULL)
		return;
	vmbs_rxbuf_fini(&nic->rb);
	for (i = 0; i < nic->p.max_queues; i++)
		rte_ring_free(nic->parts[i].comp);
	rte_free(nic);
}

void
vmbs_nv_link_set(struct vmbs_nv *nic, bool up)
{
	__atomic_store_n(&nic->link_up, up, __ATOMIC_RELEASE);
	nv_ctl_link_indicate(nic);
}

void
vmbs_nv_state_get(const struct vmbs_nv *nic, struct vmbs_nv_state *st)
{
	uint16_t i;

	memset(st, 0, sizeof(*st));
	st->nvsp_version = nic->nvsp_ver;
	st->ndis_version = nic->ndis_ver;
	st->guest_mtu = nic->guest_mtu;
	st->guest_caps = nic->guest_caps;
	st->recv_buf = nic->recv_ready;
	st->send_buf = nic->send_ready;
	if (nic->recv_ready) {
		st->recv_slots = vmbs_rxbuf_slot_count(&nic->rb);
		st->recv_slot_size = nic->slot_size;
	}
	st->rndis_up = nic->rndis_up;
	st->filter = nic->filter;
	st->n_mcast = nic->n_mcast;
	for (i = 0; i < VMBS_NV_MAX_QUEUES; i++)
		st->queues_open += nic->q[i].open;
	st->queues_allocated = nic->n_alloc;
	st->link_up = nic->link_up;
	st->rss_enabled = nic->rss_enabled;
	st->rss_hash_info = nic->rss_hash_info;
	st->rss_table_cnt = nic->rss_table_cnt;
	memcpy(st->rss_table, nic->rss_table, sizeof(st->rss_table));
	memcpy(st->rss_key, nic->rss_key, sizeof(st->rss_key));
	st->offload = nic->offload;
}

int
vmbs_nv_queue_stats_get(const struct vmbs_nv *nic, int q, struct vmbs_nv_queue_stats *st)
{
	int i, k;

	if (q >= (int)nic->p.max_queues)
		return -EINVAL;
	if (q >= 0) {
		*st = nic->q[q].st;
		return 0;
	}
	memset(st, 0, sizeof(*st));
	for (i = 0; i < nic->p.max_queues; i++) {
		const uint64_t *s = (const uint64_t *)&nic->q[i].st;
		uint64_t *d = (uint64_t *)st;

		for (k = 0; k < (int)(sizeof(*st) / sizeof(uint64_t)); k++)
			d[k] += s[k];
	}
	return 0;
}

void
vmbs_nv_stats_get(const struct vmbs_nv *nic, struct vmbs_nv_stats *st)
{
	*st = nic->st;
}

uint16_t
vmbs_nv_rss_queue(const struct vmbs_nv *nic, uint32_t hash)
{
	uint16_t nq = RTE_MAX(nic->n_alloc, 1);

	if (nic->rss_enabled && nic->rss_table_cnt > 0)
		return (uint16_t)(nic->rss_table[hash % nic->rss_table_cnt] % nq);
	return (uint16_t)(hash % nq);
}
