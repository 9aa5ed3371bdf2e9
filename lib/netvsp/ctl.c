/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * netvsp RNDIS control: requests arrive on the primary channel (one GPA
 * range, or a send-buffer section), replies leave in control slots of the
 * receive buffer as transfer-page packets with channel_type 1, also on the
 * primary. The RNDIS device state lives under ctl_lock.
 */

#include <errno.h>
#include <string.h>

#include "netvsp_pvt.h"

/* OIDs answered by QUERY (OID_GEN_SUPPORTED_LIST reports these). */
static const uint32_t nv_oids[] = {
	VMBS_OID_GEN_SUPPORTED_LIST,
	VMBS_OID_GEN_MAXIMUM_FRAME_SIZE,
	VMBS_OID_GEN_LINK_SPEED,
	VMBS_OID_GEN_CURRENT_PACKET_FILTER,
	VMBS_OID_GEN_MAXIMUM_TOTAL_SIZE,
	VMBS_OID_GEN_MEDIA_CONNECT_STATUS,
	VMBS_OID_GEN_RECEIVE_SCALE_CAPABILITIES,
	VMBS_OID_GEN_FRIENDLY_NAME,
	VMBS_OID_802_3_PERMANENT_ADDRESS,
	VMBS_OID_802_3_CURRENT_ADDRESS,
	VMBS_OID_802_3_MULTICAST_LIST,
	VMBS_OID_OFFLOAD_ENCAPSULATION,
	VMBS_OID_TCP_OFFLOAD_CURRENT_CONFIG,
	VMBS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
};

/* ---- replies through control slots (ctl_lock held) ---- */

static void
nv_ctl_done(struct vmbs_pkt *pkt, int status, const void *resp __rte_unused,
	    uint32_t len __rte_unused)
{
	struct vmbs_nv *nic = vmbs_pkt_priv(pkt);

	if (status != 0) {
		/* Never reached the guest: its slot comes back. */
		rte_spinlock_lock(&nic->ctl_lock);
		if (nic->recv_ready)
			vmbs_rxbuf_ctl_free(vmbs_rxbuf_ctl(&nic->rb),
					    vmbs_pkt_dev_trans_id(pkt));
		rte_spinlock_unlock(&nic->ctl_lock);
	}
	vmbs_pkt_free(pkt);
}

static int
nv_ctl_xmit(struct vmbs_nv *nic, const void *msg, uint32_t len)
{
	struct vmbs_chan *chan = nic->q[0].chan;
	struct vmbs_rxbuf_part *ctl = vmbs_rxbuf_ctl(&nic->rb);
	uint8_t nvmsg[VMBS_NVSP_MSG_SIZE];
	struct vmbs_xfer_range r;
	struct vmbs_pkt *pkt;
	uint32_t slot, off;
	int rc;

	if (!nic->recv_ready || chan == NULL)
		return -ENOTCONN;
	if (len > vmbs_rxbuf_slot_usable(&nic->rb))
		return -EMSGSIZE;
	if (vmbs_rxbuf_ctl_alloc(ctl, &slot, &off) != 0)
		return -ENOBUFS;
	pkt = vmbs_pkt_alloc(chan, nv_ctl_done, nic);
	if (pkt == NULL) {
		vmbs_rxbuf_ctl_free(ctl, slot);
		return -ENOBUFS;
	}
	if (nv_buf_copy(nic->recv_map, off, (void *)(uintptr_t)msg, len, true) != 0) {
		vmbs_rxbuf_ctl_free(ctl, slot);
		vmbs_pkt_free(pkt);
		return -EFAULT;
	}
	r.byte_count = len;
	r.byte_offset = off;
	vmbs_nvsp_encode_rndis_pkt(nvmsg, sizeof(nvmsg), VMBS_NVSP_CHANNEL_CONTROL,
				   VMBS_NVSP_SECTION_NONE, 0);
	vmbs_pkt_set_trans_id(pkt, slot);
	rc = vmbs_pkt_send_xfer(pkt, nic->recv_id, &r, 1, nvmsg, sizeof(nvmsg),
				VMBS_SEND_F_DEVICE_COMP);
	if (rc != 0) {
		vmbs_rxbuf_ctl_free(ctl, slot);
		vmbs_pkt_free(pkt);
		return rc;
	}
	nic->st.ctl_replies++;
	return 0;
}

/* Send now, or queue behind earlier replies (their order is kept). */
static int
nv_ctl_send_locked(struct vmbs_nv *nic, const void *msg, uint32_t len)
{
	struct nv_ctl_pending *pd;
	int rc;

	if (len > VMBS_NV_CTL_MAX)
		return -EMSGSIZE;
	if (nic->n_pending == 0) {
		rc = nv_ctl_xmit(nic, msg, len);
		if (rc != -ENOBUFS)
			return rc;
	}
	if (nic->n_pending == VMBS_NV_CTL_BACKLOG) {
		nic->st.ctl_dropped++;
		return -ENOSPC;
	}
	pd = &nic->pending[(nic->pending_head + nic->n_pending) % VMBS_NV_CTL_BACKLOG];
	memcpy(pd->buf, msg, len);
	pd->len = len;
	nic->n_pending++;
	nic->st.ctl_backlogged++;
	return 0;
}

static void
nv_ctl_flush_locked(struct vmbs_nv *nic)
{
	while (nic->n_pending > 0) {
		struct nv_ctl_pending *pd = &nic->pending[nic->pending_head];

		if (nv_ctl_xmit(nic, pd->buf, pd->len) == -ENOBUFS)
			return;
		nic->pending_head = (nic->pending_head + 1) % VMBS_NV_CTL_BACKLOG;
		nic->n_pending--;
	}
}

int
nv_ctl_send(struct vmbs_nv *nic, const void *msg, uint32_t len)
{
	int rc;

	rte_spinlock_lock(&nic->ctl_lock);
	rc = nv_ctl_send_locked(nic, msg, len);
	rte_spinlock_unlock(&nic->ctl_lock);
	return rc;
}

/* Any channel's poll lcore: the guest is done with a control slot. */
void
nv_ctl_comp(struct vmbs_nv *nic, uint64_t trans_id)
{
	rte_spinlock_lock(&nic->ctl_lock);
	if (!nic->recv_ready ||
	    vmbs_rxbuf_ctl_free(vmbs_rxbuf_ctl(&nic->rb), trans_id) < 0)
		nic->st.ctl_comp_bad++;
	else
		nv_ctl_flush_locked(nic);
	rte_spinlock_unlock(&nic->ctl_lock);
}

/* Quiesced (ctl_lock held by nv_quiesce()). */
void
nv_ctl_reset(struct vmbs_nv *nic)
{
	__atomic_store_n(&nic->rndis_up, false, __ATOMIC_RELEASE);
	__atomic_store_n(&nic->filter, 0, __ATOMIC_RELAXED);
	nic->n_mcast = 0;
	nic->rss_enabled = false;
	nic->rss_table_cnt = 0;
	memset(&nic->offload, 0, sizeof(nic->offload));
	nic->n_pending = 0;
	nic->pending_head = 0;
}

/* ctl_lock held. */
static void
nv_ctl_indicate_locked(struct vmbs_nv *nic, bool up)
{
	uint8_t msg[64];
	int len;

	len = vmbs_rndis_encode_indicate_status(msg, sizeof(msg), up ?
						VMBS_RNDIS_STATUS_MEDIA_CONNECT :
						VMBS_RNDIS_STATUS_MEDIA_DISCONNECT,
						NULL, 0);
	if (len > 0 && nv_ctl_send_locked(nic, msg, (uint32_t)len) == 0)
		nic->st.status_indications++;
}

void
nv_ctl_link_indicate(struct vmbs_nv *nic)
{
	rte_spinlock_lock(&nic->ctl_lock);
	if (nic->rndis_up && nic->link_up != nic->link_reported) {
		nic->link_reported = nic->link_up;
		nv_ctl_indicate_locked(nic, nic->link_up);
	}
	rte_spinlock_unlock(&nic->ctl_lock);
}

/* ---- QUERY ---- */

static void
nv_offload_caps(const struct vmbs_nv *nic, struct vmbs_ndis_offload *o)
{
	uint32_t off = nic->p.offloads, c4 = 0, c6 = 0;

	memset(o, 0, sizeof(*o));
	o->hdr.type = VMBS_NDIS_OBJTYPE_OFFLOAD;
	o->hdr.revision = VMBS_NDIS_OFFLOAD_REV_3;
	o->hdr.size = VMBS_NDIS_OFFLOAD_SIZE_REV_3;
	if (off & VMBS_NV_OFF_TX_CSUM_IP4)
		c4 |= VMBS_NDIS_CSUM_CAP_IP4 | VMBS_NDIS_CSUM_CAP_IP4_OPTIONS;
	if (off & VMBS_NV_OFF_TX_CSUM_TCP4)
		c4 |= VMBS_NDIS_CSUM_CAP_TCP | VMBS_NDIS_CSUM_CAP_TCP_OPTIONS;
	if (off & VMBS_NV_OFF_TX_CSUM_UDP4)
		c4 |= VMBS_NDIS_CSUM_CAP_UDP;
	if (off & VMBS_NV_OFF_TX_CSUM_TCP6)
		c6 |= VMBS_NDIS_CSUM_CAP_TCP | VMBS_NDIS_CSUM_CAP_TCP_OPTIONS |
		      VMBS_NDIS_CSUM_CAP_IP6_EXT_HDRS;
	if (off & VMBS_NV_OFF_TX_CSUM_UDP6)
		c6 |= VMBS_NDIS_CSUM_CAP_UDP | VMBS_NDIS_CSUM_CAP_IP6_EXT_HDRS;
	if (c4 != 0) {
		o->csum.ip4_tx_encap = VMBS_NDIS_ENCAP_8023;
		o->csum.ip4_tx_csum = c4;
	}
	if (c6 != 0) {
		o->csum.ip6_tx_encap = VMBS_NDIS_ENCAP_8023;
		o->csum.ip6_tx_csum = c6;
	}
	if (off & VMBS_NV_OFF_RX_CSUM) {
		o->csum.ip4_rx_encap = VMBS_NDIS_ENCAP_8023;
		o->csum.ip4_rx_csum = VMBS_NDIS_CSUM_CAP_IP4 | VMBS_NDIS_CSUM_CAP_TCP |
				      VMBS_NDIS_CSUM_CAP_UDP;
		o->csum.ip6_rx_encap = VMBS_NDIS_ENCAP_8023;
		o->csum.ip6_rx_csum = VMBS_NDIS_CSUM_CAP_TCP | VMBS_NDIS_CSUM_CAP_UDP;
	}
	if (off & VMBS_NV_OFF_TSO4) {
		o->lsov2.ip4_encap = VMBS_NDIS_ENCAP_8023;
		o->lsov2.ip4_max_size = VMBS_NV_TSO_MAX_SIZE;
		o->lsov2.ip4_min_segs = 2;
	}
	if (off & VMBS_NV_OFF_TSO6) {
		o->lsov2.ip6_encap = VMBS_NDIS_ENCAP_8023;
		o->lsov2.ip6_max_size = VMBS_NV_TSO_MAX_SIZE;
		o->lsov2.ip6_min_segs = 2;
		o->lsov2.ip6_opts = VMBS_NDIS_LSOV2_CAP_IP6_EXT_HDRS |
				    VMBS_NDIS_LSOV2_CAP_TCP6_OPTIONS;
	}
}

/* Fill @p info for @p oid; returns its length or -1 (NOT_SUPPORTED). */
static int
nv_query(struct vmbs_nv *nic, uint32_t oid, uint8_t *info, uint32_t max)
{
	uint32_t u32, i;

	switch (oid) {
	case VMBS_OID_GEN_SUPPORTED_LIST:
		memcpy(info, nv_oids, sizeof(nv_oids));
		return sizeof(nv_oids);
	case VMBS_OID_802_3_PERMANENT_ADDRESS:
	case VMBS_OID_802_3_CURRENT_ADDRESS:
		memcpy(info, nic->p.mac, 6);
		return 6;
	case VMBS_OID_802_3_MULTICAST_LIST:
		for (i = 0; i < nic->n_mcast; i++)
			memcpy(info + 6 * i, nic->mcast[i], 6);
		return (int)(6 * nic->n_mcast);
	case VMBS_OID_GEN_MAXIMUM_FRAME_SIZE:
		u32 = nic->mtu;		/* NDIS: without the MAC header */
		break;
	case VMBS_OID_GEN_MAXIMUM_TOTAL_SIZE:
		u32 = nic->mtu + 14;
		break;
	case VMBS_OID_GEN_LINK_SPEED:
		u32 = (uint32_t)RTE_MIN(nic->p.link_speed / 100, (uint64_t)UINT32_MAX);
		break;
	case VMBS_OID_GEN_MEDIA_CONNECT_STATUS:
		u32 = nic->link_up ? VMBS_NDIS_MEDIA_STATE_CONNECTED :
				     VMBS_NDIS_MEDIA_STATE_DISCONNECTED;
		break;
	case VMBS_OID_GEN_CURRENT_PACKET_FILTER:
		u32 = nic->filter;
		break;
	case VMBS_OID_GEN_RECEIVE_SCALE_CAPABILITIES: {
		struct vmbs_ndis_rss_caps c = { 0 };

		/* Multi-queue needs NVSP 5 (NDIS 6.30), as on Hyper-V. */
		if (nic->nvsp_ver < VMBS_NVSP_VERSION_5)
			return -1;
		c.hdr.type = VMBS_NDIS_OBJTYPE_RSS_CAPS;
		c.hdr.revision = VMBS_NDIS_RSS_CAPS_REV_2;
		c.hdr.size = VMBS_NDIS_RSS_CAPS_SIZE_REV_2;
		c.caps = VMBS_NDIS_RSS_CAP_IPV4 | VMBS_NDIS_RSS_CAP_IPV6 |
			 VMBS_NDIS_RSS_CAP_IPV6_EX | VMBS_NDIS_RSS_CAP_HASH_TOEPLITZ;
		c.num_interrupt_msgs = nic->p.max_queues;
		c.num_receive_queues = nic->p.max_queues;
		c.num_indirection_entries = VMBS_NDIS_RSS_TABLE_MAX;
		memcpy(info, &c, sizeof(c));
		return sizeof(c);
	}
	case VMBS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
	case VMBS_OID_TCP_OFFLOAD_CURRENT_CONFIG: {
		struct vmbs_ndis_offload o;

		nv_offload_caps(nic, &o);
		memcpy(info, &o, VMBS_NDIS_OFFLOAD_SIZE_REV_3);
		return VMBS_NDIS_OFFLOAD_SIZE_REV_3;
	}
	case VMBS_OID_OFFLOAD_ENCAPSULATION: {
		struct vmbs_ndis_offload_encap e = { 0 };

		e.hdr.type = VMBS_NDIS_OBJTYPE_OFFLOAD_ENCAP;
		e.hdr.revision = VMBS_NDIS_OFFLOAD_ENCAP_REV_1;
		e.hdr.size = sizeof(e);
		e.ipv4.enabled = e.ipv6.enabled = VMBS_NDIS_OFFLOAD_SET_ON;
		e.ipv4.encap_type = e.ipv6.encap_type = VMBS_NDIS_ENCAP_8023;
		e.ipv4.header_size = e.ipv6.header_size = 14;
		memcpy(info, &e, sizeof(e));
		return sizeof(e);
	}
	case VMBS_OID_GEN_FRIENDLY_NAME: {
		/* UTF-16LE, NUL-terminated. */
		static const char fname[] = "vmbus-srv Network Adapter";
		uint32_t n = 0;

		for (i = 0; i < sizeof(fname) && n + 2 <= max; i++) {
			info[n++] = (uint8_t)fname[i];
			info[n++] = 0;
		}
		return (int)n;
	}
	default:
		return -1;
	}
	memcpy(info, &u32, 4);
	return 4;
}

/* ---- SET ---- */

static bool
nv_offload_params_ok(const struct vmbs_ndis_offload_params *o)
{
	return o->ip4_csum <= VMBS_NDIS_OFFLOAD_PARAM_TXRX &&
	       o->tcp4_csum <= VMBS_NDIS_OFFLOAD_PARAM_TXRX &&
	       o->udp4_csum <= VMBS_NDIS_OFFLOAD_PARAM_TXRX &&
	       o->tcp6_csum <= VMBS_NDIS_OFFLOAD_PARAM_TXRX &&
	       o->udp6_csum <= VMBS_NDIS_OFFLOAD_PARAM_TXRX &&
	       o->lsov2_ip4 <= VMBS_NDIS_OFFLOAD_LSO_ON &&
	       o->lsov2_ip6 <= VMBS_NDIS_OFFLOAD_LSO_ON;
}

/* Apply a SET; returns the RNDIS status. ctl_lock held. */
static uint32_t
nv_set(struct vmbs_nv *nic, uint32_t oid, const uint8_t *info, uint32_t len,
       enum vmbs_nv_event *ev)
{
	uint32_t u32;

	switch (oid) {
	case VMBS_OID_GEN_CURRENT_PACKET_FILTER:
		if (len < 4)
			return VMBS_RNDIS_STATUS_INVALID_DATA;
		memcpy(&u32, info, 4);
		__atomic_store_n(&nic->filter, u32, __ATOMIC_RELAXED);
		*ev = VMBS_NV_EV_FILTER;
		return VMBS_RNDIS_STATUS_SUCCESS;
	case VMBS_OID_802_3_MULTICAST_LIST:
		if (len % 6 != 0 || len / 6 > VMBS_NV_MCAST_MAX)
			return VMBS_RNDIS_STATUS_INVALID_DATA;
		/* Shrink first: a racing reader sees old or new entries. */
		__atomic_store_n(&nic->n_mcast, 0, __ATOMIC_RELEASE);
		memcpy(nic->mcast, info, len);
		__atomic_store_n(&nic->n_mcast, len / 6, __ATOMIC_RELEASE);
		return VMBS_RNDIS_STATUS_SUCCESS;
	case VMBS_OID_TCP_OFFLOAD_PARAMETERS: {
		struct vmbs_ndis_offload_params o;

		if (vmbs_ndis_offload_params_parse(info, len, &o) != 0 ||
		    !nv_offload_params_ok(&o))
			return VMBS_RNDIS_STATUS_INVALID_DATA;
		nic->offload = o;
		*ev = VMBS_NV_EV_OFFLOAD;
		return VMBS_RNDIS_STATUS_SUCCESS;
	}
	case VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS: {
		struct vmbs_ndis_rss_config *c = (struct vmbs_ndis_rss_config *)nic->ctl_reply;
		uint32_t i;

		RTE_BUILD_BUG_ON(sizeof(*c) > sizeof(nic->ctl_reply));
		if (nic->nvsp_ver < VMBS_NVSP_VERSION_5)
			return VMBS_RNDIS_STATUS_NOT_SUPPORTED;
		if (vmbs_ndis_rss_params_parse(info, len, c) != 0)
			return VMBS_RNDIS_STATUS_INVALID_DATA;
		if (c->disable) {
			nic->rss_enabled = false;
			*ev = VMBS_NV_EV_RSS;
			return VMBS_RNDIS_STATUS_SUCCESS;
		}
		if (c->has_hash_info &&
		    (c->hash_info & VMBS_NDIS_HASH_FUNCTION_MASK) !=
		    VMBS_NDIS_HASH_FUNCTION_TOEPLITZ)
			return VMBS_RNDIS_STATUS_INVALID_DATA;
		for (i = 0; i < c->table_cnt; i++)
			if (c->table[i] >= nic->n_alloc)
				return VMBS_RNDIS_STATUS_INVALID_DATA;
		if (!c->has_key && !nic->rss_enabled)
			return VMBS_RNDIS_STATUS_INVALID_DATA;	/* no key ever given */
		if (c->has_hash_info)
			nic->rss_hash_info = c->hash_info;
		if (c->has_key)
			memcpy(nic->rss_key, c->key, sizeof(nic->rss_key));
		if (c->table_cnt > 0) {
			memcpy(nic->rss_table, c->table, c->table_cnt * sizeof(c->table[0]));
			nic->rss_table_cnt = c->table_cnt;
		}
		nic->rss_enabled = true;
		*ev = VMBS_NV_EV_RSS;
		return VMBS_RNDIS_STATUS_SUCCESS;
	}
	case VMBS_OID_OFFLOAD_ENCAPSULATION: {
		struct vmbs_ndis_obj_hdr h;

		if (len < sizeof(struct vmbs_ndis_offload_encap))
			return VMBS_RNDIS_STATUS_INVALID_DATA;
		memcpy(&h, info, sizeof(h));
		if (h.type != VMBS_NDIS_OBJTYPE_OFFLOAD_ENCAP || h.size > len)
			return VMBS_RNDIS_STATUS_INVALID_DATA;
		return VMBS_RNDIS_STATUS_SUCCESS;	/* 802.3 is all we do */
	}
	case VMBS_OID_GEN_RNDIS_CONFIG_PARAMETER:
		/* Named registry-style settings (older Linux): accepted, unused. */
		return VMBS_RNDIS_STATUS_SUCCESS;
	default:
		nic->st.rndis_unsupported++;
		return VMBS_RNDIS_STATUS_NOT_SUPPORTED;
	}
}

/* ---- requests ---- */

/* Handle one decoded request; ctl_lock held. Returns the reply length (0:
 * none) in nic->ctl_reply, or -1 for a malformed request.
 */
static int
nv_ctl_handle(struct vmbs_nv *nic, const struct vmbs_rndis_ctl *c, enum vmbs_nv_event *ev)
{
	uint8_t *out = nic->ctl_reply;
	const uint32_t cap = sizeof(nic->ctl_reply);
	int len, ilen;

	switch (c->type) {
	case VMBS_RNDIS_MSG_INITIALIZE:
		len = vmbs_rndis_encode_init_cmplt(out, cap, c->u.init.req_id,
						   VMBS_RNDIS_STATUS_SUCCESS,
						   VMBS_NV_MAX_PKT_PER_MSG,
						   VMBS_NV_SEND_SECTION_SIZE,
						   VMBS_NV_PKT_ALIGN_FACTOR);
		nic->link_reported = nic->link_up;	/* the guest will query */
		__atomic_store_n(&nic->rndis_up, true, __ATOMIC_RELEASE);
		*ev = VMBS_NV_EV_RNDIS_INIT;
		return len;
	case VMBS_RNDIS_MSG_HALT:
		__atomic_store_n(&nic->rndis_up, false, __ATOMIC_RELEASE);
		__atomic_store_n(&nic->filter, 0, __ATOMIC_RELAXED);
		*ev = VMBS_NV_EV_FILTER;
		return 0;
	case VMBS_RNDIS_MSG_RESET:
		return vmbs_rndis_encode_reset_cmplt(out, cap, VMBS_RNDIS_STATUS_SUCCESS, 0);
	case VMBS_RNDIS_MSG_KEEPALIVE:
		return vmbs_rndis_encode_keepalive_cmplt(out, cap, c->u.keepalive.req_id,
							 VMBS_RNDIS_STATUS_SUCCESS);
	case VMBS_RNDIS_MSG_QUERY: {
		/* Build the info after the 24-byte fixed part, then encode. */
		uint8_t info[512];

		ilen = nv_query(nic, c->u.oid.oid, info, sizeof(info));
		if (ilen < 0) {
			nic->st.rndis_unsupported++;
			return vmbs_rndis_encode_query_cmplt(out, cap, c->u.oid.req_id,
							     VMBS_RNDIS_STATUS_NOT_SUPPORTED,
							     NULL, 0);
		}
		return vmbs_rndis_encode_query_cmplt(out, cap, c->u.oid.req_id,
						     VMBS_RNDIS_STATUS_SUCCESS, info,
						     (uint32_t)ilen);
	}
	case VMBS_RNDIS_MSG_SET: {
		uint32_t st = nv_set(nic, c->u.oid.oid, nic->ctl_req + c->info_off,
				     c->info_len, ev);

		if (st == VMBS_RNDIS_STATUS_INVALID_DATA)
			nic->st.rndis_invalid++;
		return vmbs_rndis_encode_set_cmplt(out, cap, c->u.oid.req_id, st);
	}
	default:
		/* Completions and status indications are host-to-guest. */
		return -1;
	}
}

void
nv_ctl_request(struct vmbs_nv *nic, struct nv_queue *nq, struct vmbs_rx *rx,
	       const struct vmbs_nvsp_rndis_pkt *m, uint32_t flags)
{
	enum vmbs_nv_event ev = (enum vmbs_nv_event)-1;
	const struct vmbs_sgl *sgl = NULL;
	struct vmbs_rndis_ctl c;
	uint32_t len = 0;
	bool ok = false, malformed = true;
	int rc;

	if (flags & VMBS_RX_F_EXT_DATA) {
		rc = vmbs_rx_get_ext_data(rx, VMBS_EXT_F_RO, &sgl);
		if (rc == VMBS_EPENDING)
			return;
		if (rc != 0)
			goto out;
	}
	/* The request, into private memory: a section, then GPA ranges. */
	if (m->section_index != VMBS_NVSP_SECTION_NONE) {
		if (!nic->send_ready || m->section_index >= nic->send_sections ||
		    m->section_size == 0 || m->section_size > VMBS_NV_CTL_MAX ||
		    nv_buf_copy(nic->send_map,
				(uint64_t)m->section_index * VMBS_NV_SEND_SECTION_SIZE,
				nic->ctl_req, m->section_size, false) != 0)
			goto out;
		len = m->section_size;
	}
	if (sgl != NULL) {
		uint32_t want;

		if (sgl->len > VMBS_NV_CTL_MAX - len)
			goto out;
		want = (uint32_t)sgl->len;
		if (nv_gather(sgl->seg, sgl->nseg, 0, nic->ctl_req + len, want) != want)
			goto out;
		len += want;
	}
	if (len == 0 || vmbs_rndis_ctl_decode(nic->ctl_req, len, &c) != 0)
		goto out;
	rte_spinlock_lock(&nic->ctl_lock);
	rc = nv_ctl_handle(nic, &c, &ev);
	malformed = rc < 0;
	if (rc > 0)
		rc = nv_ctl_send_locked(nic, nic->ctl_reply, (uint32_t)rc) == 0 ? 0 : -1;
	rte_spinlock_unlock(&nic->ctl_lock);
	ok = rc == 0;
	if (ok && (int)ev >= 0)
		nv_event(nic, ev);
out:
	if (malformed)
		nic->st.rndis_ctl_bad++;
	RTE_SET_USED(nq);
	vmbs_nv_req_done(rx, ok);
}
