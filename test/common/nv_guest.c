/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Scripted netvsc guest (see nv_guest.h). It plays DPDK 22.11's netvsc
 * PMD against the host's netvsp over lib/client: same messages, same
 * order, same checks on what comes back (netvsc-guest reference 1.5-1.8,
 * wire reference b.4/b.5).
 *
 * Viewpoint: g2h is what this guest produces (requests, frames, acks),
 * h2g what it consumes (replies, completions, receive-buffer deliveries).
 *
 * The guest encodes and parses its messages itself, from the wire
 * reference, rather than with lib/nvsp and lib/rndis: those are the
 * host's codecs under test, and a guest sharing them would share their
 * mistakes. Only their struct and constant definitions are used.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nv_guest.h"

/* DPDK tries these, newest first (hn_nvs.c hn_nvs_version[]). */
static const uint32_t nvg_dpdk_versions[] = {
	VMBS_NVSP_VERSION_61, VMBS_NVSP_VERSION_6, VMBS_NVSP_VERSION_5,
	VMBS_NVSP_VERSION_4, VMBS_NVSP_VERSION_2, VMBS_NVSP_VERSION_1,
};

/* The well-known 40-byte Toeplitz key (Microsoft's RSS verification key). */
static const uint8_t nvg_rss_key[VMBS_NDIS_RSS_KEY_SIZE] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define NVG_PAGE 4096u
#define NVG_NVSP_SIZE 40u		/* every NVSP message DPDK sends */
#define NVG_CTL_CHUNK 1024u		/* one RNDIS control request */
#define NVG_CTL_CHUNKS 64u
#define NVG_SCRATCH_SIZE (64u * 1024u)
#define NVG_TID_TAG (UINT64_C(1) << 62)
#define NVG_MAX_SEGS 16u
#define NVG_NO_SECTION UINT32_MAX
/* DPDK's struct sizes a reply must reach (hn_nvs.h). */
#define NVG_INIT_RESP_LEN 16u
#define NVG_RXBUF_RESP_LEN 28u
#define NVG_CHIM_RESP_LEN 12u
#define NVG_SUBCH_RESP_LEN 40u
/* Where the GPA forms put things in a descriptor's data area. */
#define NVG_AREA_DATA (2u * NVG_PAGE)
#define NVG_SPLIT_A_OFF 100u
#define NVG_SPLIT_A_LEN 20u
#define NVG_SPLIT_B_OFF (NVG_PAGE + 200u)

struct nvg_txd {
	uint64_t tid;		/* in flight: its trans_id */
	uint64_t last_tid;	/* the last request completed here */
	uint32_t last_status;
	uint32_t section;	/* send-buffer section held, or NVG_NO_SECTION */
	bool inflight;
};

struct nvg_chan {
	struct vmbs_cli_chan *ch;
	uint32_t relid;
	bool open;
	uint64_t hdr_gpa;	/* NVG_TXD_PER_QUEUE header slots */
	uint8_t *hdr_va;
	uint64_t area_gpa;	/* NVG_TXD_PER_QUEUE data areas */
	uint8_t *area_va;
	struct nvg_txd txd[NVG_TXD_PER_QUEUE];
	uint32_t txd_next;
	uint32_t inflight;
	uint16_t gen;
};

struct nvg_ctl_msg {
	uint32_t rid;
	uint32_t type;
	uint32_t len;
	uint8_t *data;
};

struct nvg_held {
	uint16_t queue;
	uint64_t tid;
};

struct nvg {
	struct vmbs_cli *cli;
	struct nvg_params p;
	uint32_t versions[8];
	uint32_t n_versions;
	uint32_t timeout_ms;
	struct nvg_info info;
	struct nvg_stats st;
	uint8_t net_class[16];

	uint8_t *recv_va;
	uint8_t *send_va;
	uint8_t *ctl_va;	/* NVG_CTL_CHUNKS chunks + one big page */
	uint64_t ctl_gpa;
	uint32_t ctl_next;
	uint8_t *scratch_va;
	uint64_t scratch_gpa;
	uint8_t *sect_used;	/* section_cnt flags */

	uint32_t rid;
	uint32_t tx_data_off;
	uint32_t mixed_copy;
	enum nvg_ack_mode ack_mode;
	bool debug;		/* NVG_DEBUG set: log every host packet */

	struct nvg_chan chans[NVG_MAX_QUEUES];

	nvg_pkt_hook_t pkt_hook;
	nvg_rndis_hook_t rndis_hook;
	void *hook_arg;

	uint8_t *pkt;		/* one h2g packet */
	uint32_t pkt_size;
	uint8_t msg[NVG_RNDIS_MSG_MAX];

	struct nvg_reply replies[NVG_REPLY_MAX];
	uint32_t reply_head, reply_cnt;
	struct nvg_ctl_msg ctl[NVG_CTL_MAX];
	uint32_t ctl_cnt;
	struct nvg_ctl_msg status[NVG_CTL_MAX];
	uint32_t status_cnt;
	struct nvg_rx_frame rx[NVG_RX_MAX];
	uint32_t rx_cnt;
	struct nvg_held held[NVG_HELD_MAX];
	uint32_t held_cnt;
	struct nvg_held retry[NVG_HELD_MAX];
	uint32_t retry_cnt;
};

/* ---- little helpers ---- */

static uint32_t
rd32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t
rd16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void
wr32(void *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
nap(void)
{
	struct timespec ts = { 0, 20000 };

	nanosleep(&ts, NULL);
}

static uint32_t
align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- receive path ---- */

static void
reply_push(struct nvg *g, uint16_t q, const struct vmbs_pkt_desc *d, const uint8_t *pkt,
	   uint32_t len, const uint8_t *nvsp, uint32_t nlen)
{
	struct nvg_reply *r;

	if (g->reply_cnt == NVG_REPLY_MAX) {
		/* Nobody asked for that many: drop the oldest. */
		g->reply_head = (g->reply_head + 1) % NVG_REPLY_MAX;
		g->reply_cnt--;
		g->st.unexpected++;
	}
	r = &g->replies[(g->reply_head + g->reply_cnt) % NVG_REPLY_MAX];
	g->reply_cnt++;
	memset(r, 0, sizeof(*r));
	r->queue = q;
	r->pkt_type = d->type;
	r->flags = d->flags;
	r->trans_id = d->trans_id;
	r->nvsp_type = rd32(nvsp);
	r->len = nlen;
	memcpy(r->nvsp, nvsp, nlen < sizeof(r->nvsp) ? nlen : sizeof(r->nvsp));
	r->pkt_len = len;
	memcpy(r->pkt, pkt, len < sizeof(r->pkt) ? len : sizeof(r->pkt));
}

/* Remember the completion of data request @p tid. */
static void
tx_complete(struct nvg *g, uint16_t q, uint64_t tid, uint32_t status)
{
	uint32_t tq = (uint32_t)(tid >> 32) & 0xffffu;
	uint32_t idx = (uint32_t)tid & 0xffffu;
	struct nvg_txd *t;

	if ((tid & ~(UINT64_C(0xffff) << 32 | UINT64_C(0xffffffff))) != NVG_TID_TAG ||
	    tq >= NVG_MAX_QUEUES || idx >= NVG_TXD_PER_QUEUE) {
		g->st.tx_comp_bad++;
		return;
	}
	t = &g->chans[tq].txd[idx];
	if (!t->inflight || t->tid != tid) {
		g->st.tx_comp_bad++;
		return;
	}
	/* DPDK returns the descriptor to the pool of the queue it came on. */
	if (tq != q)
		g->st.tx_comp_wrong_chan++;
	if (status == VMBS_NVSP_STATUS_SUCCESS)
		g->st.tx_comp_ok++;
	else
		g->st.tx_comp_fail++;
	if (t->section != NVG_NO_SECTION && t->section < g->info.section_cnt)
		g->sect_used[t->section] = 0;
	t->section = NVG_NO_SECTION;
	t->inflight = false;
	t->last_tid = tid;
	t->last_status = status;
	g->chans[tq].inflight--;
}

static int
send_ack(struct nvg *g, uint16_t q, uint64_t tid)
{
	uint8_t ack[NVG_NVSP_SIZE] = { 0 };

	if (q >= NVG_MAX_QUEUES || !g->chans[q].open)
		return -ENODEV;
	wr32(ack, VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE);
	wr32(ack + 4, VMBS_NVSP_STATUS_SUCCESS);
	return vmbs_cli_chan_send_comp(g->chans[q].ch, tid, ack, sizeof(ack));
}

static void
ack_delivery(struct nvg *g, uint16_t q, uint64_t tid)
{
	if (g->ack_mode == NVG_ACK_HOLD) {
		if (g->held_cnt < NVG_HELD_MAX) {
			g->held[g->held_cnt].queue = q;
			g->held[g->held_cnt].tid = tid;
			g->held_cnt++;
			g->st.acks_held++;
		} else {
			g->st.ack_errors++;
		}
		return;
	}
	if (g->retry_cnt == 0 && send_ack(g, q, tid) == 0) {
		g->st.acks_sent++;
		return;
	}
	/* Ring full: keep order, retry on the next poll. */
	if (g->retry_cnt < NVG_HELD_MAX) {
		g->retry[g->retry_cnt].queue = q;
		g->retry[g->retry_cnt].tid = tid;
		g->retry_cnt++;
	} else {
		g->st.ack_errors++;
	}
}

static void
flush_retries(struct nvg *g)
{
	uint32_t i = 0;

	while (i < g->retry_cnt && send_ack(g, g->retry[i].queue, g->retry[i].tid) == 0) {
		g->st.acks_sent++;
		i++;
	}
	if (i != 0) {
		memmove(g->retry, g->retry + i, (g->retry_cnt - i) * sizeof(g->retry[0]));
		g->retry_cnt -= i;
	}
}

static void
ctl_store(struct nvg_ctl_msg *list, uint32_t *cnt, const uint8_t *msg, uint32_t len)
{
	struct nvg_ctl_msg *m;
	uint8_t *copy;

	if (*cnt == NVG_CTL_MAX) {
		free(list[0].data);
		memmove(list, list + 1, (NVG_CTL_MAX - 1) * sizeof(list[0]));
		(*cnt)--;
	}
	copy = malloc(len);
	if (copy == NULL)
		return;
	memcpy(copy, msg, len);
	m = &list[(*cnt)++];
	m->type = rd32(msg);
	m->len = len;
	m->rid = len >= 12 ? rd32(msg + 8) : 0;
	m->data = copy;
}

/*
 * DPDK's hn_rndis_rxinfo(): walk the PPIs, take the four it knows; the
 * data is read at +12 whatever ppi_offset says, as DPDK does.
 */
static int
rx_ppi(const uint8_t *p, uint32_t len, struct vmbs_rndis_ppi_info *out)
{
	uint32_t size, type, off, v;

	while (len != 0) {
		if (len < sizeof(struct vmbs_rndis_ppi_hdr))
			return -EBADMSG;
		size = rd32(p);
		type = rd32(p + 4);
		off = rd32(p + 8);
		if (len < size || (size & 3) != 0 || size < off)
			return -EBADMSG;
		/* DPDK would spin on a zero-sized PPI; a guest must not. */
		if (size < sizeof(struct vmbs_rndis_ppi_hdr))
			return -EBADMSG;
		if (size - off < 4)
			return -EBADMSG;
		v = rd32(p + sizeof(struct vmbs_rndis_ppi_hdr));
		switch (type) {
		case VMBS_RNDIS_PPI_IEEE_8021Q:
			out->present |= VMBS_RNDIS_PPI_F_VLAN;
			out->vlan = v;
			out->vlan_prio = (uint8_t)(v & VMBS_RNDIS_VLAN_PRIO_MASK);
			out->vlan_cfi = (uint8_t)((v >> VMBS_RNDIS_VLAN_CFI_SHIFT) & 1u);
			out->vlan_vid = (uint16_t)((v >> VMBS_RNDIS_VLAN_VID_SHIFT) &
						   VMBS_RNDIS_VLAN_VID_MASK);
			break;
		case VMBS_RNDIS_PPI_CSUM:
			out->present |= VMBS_RNDIS_PPI_F_CSUM;
			out->csum = v;
			break;
		case VMBS_RNDIS_PPI_HASH_VALUE:
			out->present |= VMBS_RNDIS_PPI_F_HASH_VALUE;
			out->hash_value = v;
			break;
		case VMBS_RNDIS_PPI_HASH_INFO:
			out->present |= VMBS_RNDIS_PPI_F_HASH_INFO;
			out->hash_info = v;
			break;
		default:
			out->unknown_cnt++;
			break;
		}
		p += size;
		len -= size;
	}
	return 0;
}

/* DPDK's hn_rndis_rx_data(): one received frame. */
static void
rx_data(struct nvg *g, uint16_t q, const uint8_t *m, uint32_t dlen)
{
	struct vmbs_rndis_packet pk;
	struct vmbs_rndis_ppi_info ppi;
	struct nvg_rx_frame *f;
	uint64_t data_off, ppi_off;

	if (dlen < sizeof(pk)) {
		g->st.bad_rndis++;
		return;
	}
	memcpy(&pk, m, sizeof(pk));
	if (dlen < pk.hdr.len ||
	    (uint64_t)pk.hdr.len < (uint64_t)pk.data_len + pk.oob_data_len + pk.per_pkt_info_len ||
	    pk.data_len == 0 || pk.data_offset < VMBS_RNDIS_PACKET_OFFSET_MIN ||
	    (pk.per_pkt_info_offset > 0 &&
	     (pk.per_pkt_info_offset < VMBS_RNDIS_PACKET_OFFSET_MIN ||
	      (pk.per_pkt_info_offset & 3) != 0))) {
		g->st.bad_rndis++;
		return;
	}
	data_off = (uint64_t)pk.data_offset + VMBS_RNDIS_BODY_OFFSET;
	ppi_off = (uint64_t)pk.per_pkt_info_offset + VMBS_RNDIS_BODY_OFFSET;
	memset(&ppi, 0, sizeof(ppi));
	if (pk.per_pkt_info_len > 0) {
		/* DPDK trusts pkt->len here; a guest that copies must not. */
		if (ppi_off + pk.per_pkt_info_len > pk.hdr.len ||
		    rx_ppi(m + ppi_off, pk.per_pkt_info_len, &ppi) != 0) {
			g->st.bad_rndis++;
			return;
		}
	}
	if (data_off + pk.data_len > pk.hdr.len || pk.data_len < 14) {
		g->st.bad_rndis++;
		return;
	}
	/* DPDK: no hash value, no hash info. */
	if (!(ppi.present & VMBS_RNDIS_PPI_F_HASH_VALUE))
		ppi.present &= ~VMBS_RNDIS_PPI_F_HASH_INFO;
	g->st.rx_frames++;
	g->st.rx_bytes += pk.data_len;
	if (g->rx_cnt == NVG_RX_MAX) {
		g->st.rx_kept_full++;
		return;
	}
	f = &g->rx[g->rx_cnt];
	f->data = malloc(pk.data_len);
	if (f->data == NULL) {
		g->st.rx_kept_full++;
		return;
	}
	memcpy(f->data, m + data_off, pk.data_len);
	f->len = pk.data_len;
	f->queue = q;
	f->ppi = ppi;
	g->rx_cnt++;
}

/* DPDK's hn_rndis_receive(): one range of a delivery. */
static void
rx_rndis(struct nvg *g, uint16_t q, uint32_t chan_type, const uint8_t *m, uint32_t len)
{
	uint32_t type = rd32(m);

	switch (type) {
	case VMBS_RNDIS_MSG_PACKET:
		if (chan_type != VMBS_NVSP_CHANNEL_DATA)
			g->st.bad_chan_type++;
		rx_data(g, q, m, len);
		break;
	case VMBS_RNDIS_MSG_INDICATE_STATUS:
		if (chan_type != VMBS_NVSP_CHANNEL_CONTROL)
			g->st.bad_chan_type++;
		if (len < sizeof(struct vmbs_rndis_indicate_status) || len < rd32(m + 4)) {
			g->st.bad_rndis++;
			break;
		}
		g->st.status_msgs++;
		ctl_store(g->status, &g->status_cnt, m, rd32(m + 4));
		break;
	case VMBS_RNDIS_MSG_INITIALIZE_CMPLT:
	case VMBS_RNDIS_MSG_QUERY_CMPLT:
	case VMBS_RNDIS_MSG_SET_CMPLT:
	case VMBS_RNDIS_MSG_RESET_CMPLT:
	case VMBS_RNDIS_MSG_KEEPALIVE_CMPLT:
		if (chan_type != VMBS_NVSP_CHANNEL_CONTROL)
			g->st.bad_chan_type++;
		/* hn_rndis_receive_response(): header present, not truncated. */
		if (len < 16 || len < rd32(m + 4)) {
			g->st.bad_rndis++;
			break;
		}
		g->st.ctl_msgs++;
		ctl_store(g->ctl, &g->ctl_cnt, m, rd32(m + 4));
		break;
	default:
		g->st.unexpected++;
		break;
	}
}

/* DPDK's hn_nvs_handle_rxbuf(): a transfer-page packet. */
static void
rx_xfer(struct nvg *g, uint16_t q, const uint8_t *pkt, uint32_t len,
	const struct vmbs_pkt_desc *d)
{
	uint32_t hlen = (uint32_t)d->offset8 * 8u, cnt, i, ofs, rlen, chan_type;
	struct vmbs_xfer_hdr xh;
	const uint8_t *nvsp;

	g->st.xfer_pkts++;
	if (hlen < sizeof(*d) + sizeof(xh) || len - hlen < 4) {
		g->st.bad_xfer++;
		return;
	}
	nvsp = pkt + hlen;
	if (rd32(nvsp) != VMBS_NVSP_TYPE_SEND_RNDIS_PKT) {
		g->st.bad_xfer++;
		return;
	}
	chan_type = len - hlen >= 8 ? rd32(nvsp + 4) : UINT32_MAX;
	memcpy(&xh, pkt + sizeof(*d), sizeof(xh));
	cnt = xh.range_cnt;
	if (xh.pageset_id != NVG_RECV_BUF_ID ||
	    (uint64_t)hlen < sizeof(*d) + sizeof(xh) + (uint64_t)cnt * 8u) {
		g->st.bad_xfer++;
		return;
	}
	/* DPDK's own check is '>'; the clarification asks for '<'. */
	if (d->trans_id >= g->info.slot_cnt) {
		g->st.bad_xfer++;
		return;
	}
	for (i = 0; i < cnt; i++) {
		const uint8_t *r = pkt + sizeof(*d) + sizeof(xh) + (size_t)i * 8u;

		rlen = rd32(r);
		ofs = rd32(r + 4);
		if ((uint64_t)ofs + rlen > g->info.recv_size || rlen == 0) {
			g->st.bad_range++;
			continue;
		}
		if (g->info.slot_size == 0 || ofs % g->info.slot_size != 0 ||
		    rlen > g->info.slot_size ||
		    (i == 0 && ofs / g->info.slot_size != d->trans_id)) {
			g->st.odd_range++;
			if (rlen > sizeof(g->msg))
				continue;
		}
		if (rlen > sizeof(g->msg)) {
			g->st.bad_range++;
			continue;
		}
		/* One read of the shared bytes; parse the copy. */
		memcpy(g->msg, g->recv_va + ofs, rlen);
		if (g->rndis_hook != NULL)
			g->rndis_hook(g->hook_arg, q, (uint32_t)d->trans_id, g->msg, rlen);
		if (rlen < 8) {
			g->st.bad_rndis++;
			continue;
		}
		rx_rndis(g, q, chan_type, g->msg, rlen);
	}
	ack_delivery(g, q, d->trans_id);
}

static void
dispatch(struct nvg *g, uint16_t q, const uint8_t *pkt, uint32_t len)
{
	struct vmbs_pkt_desc d;
	const uint8_t *nvsp;
	uint32_t off, nlen, type;

	if (g->pkt_hook != NULL)
		g->pkt_hook(g->hook_arg, q, pkt, len);
	memcpy(&d, pkt, sizeof(d));
	if (g->debug)
		fprintf(stderr, "nvg: q%u h2g type %u off8 %u len %u flags %u tid %#" PRIx64
			" nvsp %u\n", q, d.type, d.offset8, len, d.flags, d.trans_id,
			(uint32_t)d.offset8 * 8u + 4u <= len ? rd32(pkt + d.offset8 * 8u) : 0);
	off = (uint32_t)d.offset8 * 8u;
	if (off > len) {
		g->st.bad_pkt++;
		return;
	}
	if (d.type == VMBS_PKT_DATA_XFER_PAGES) {
		rx_xfer(g, q, pkt, len, &d);
		return;
	}
	nvsp = pkt + off;
	nlen = len - off;
	if ((d.type != VMBS_PKT_COMP && d.type != VMBS_PKT_DATA_INBAND) || nlen < 4) {
		g->st.bad_pkt++;
		return;
	}
	type = rd32(nvsp);
	if (d.type == VMBS_PKT_COMP && type == VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE) {
		if (nlen < 8) {
			g->st.bad_pkt++;
			return;
		}
		if (d.trans_id == 0) {
			/* An RNDIS control request (DPDK sends them with 0). */
			g->st.ctl_comps++;
			if (rd32(nvsp + 4) != VMBS_NVSP_STATUS_SUCCESS)
				g->st.ctl_comp_fail++;
			return;
		}
		tx_complete(g, q, d.trans_id, rd32(nvsp + 4));
		return;
	}
	if (d.type == VMBS_PKT_DATA_INBAND &&
	    (type == VMBS_NVSP_TYPE_SEND_INDIRECTION_TABLE ||
	     type == VMBS_NVSP_TYPE_SEND_VF_ASSOCIATION)) {
		g->st.notes++;
		return;
	}
	reply_push(g, q, &d, pkt, len, nvsp, nlen);
}

int
nvg_poll(struct nvg *g)
{
	int total = 0, n;
	uint16_t q;

	flush_retries(g);
	for (q = 0; q < NVG_MAX_QUEUES; q++) {
		if (!g->chans[q].open)
			continue;
		for (;;) {
			n = vmbs_cli_chan_recv_pkt(g->chans[q].ch, g->pkt, g->pkt_size);
			if (n < 0) {
				if (n != -EAGAIN)
					g->st.bad_pkt++;
				break;
			}
			dispatch(g, q, g->pkt, (uint32_t)n);
			total++;
		}
	}
	flush_retries(g);
	return total;
}

void
nvg_pump(struct nvg *g, uint32_t ms)
{
	uint64_t end = now_ms() + ms;

	do {
		if (nvg_poll(g) == 0)
			nap();
	} while (now_ms() < end);
}

/* Poll until @p done(g, arg) holds or the timeout passes. */
static int
wait_until(struct nvg *g, bool (*done)(struct nvg *, const void *), const void *arg)
{
	uint64_t end = now_ms() + g->timeout_ms;

	for (;;) {
		if (done(g, arg))
			return 0;
		if (nvg_poll(g) == 0) {
			if (done(g, arg))
				return 0;
			nap();
		}
		/* Bounded even while the host keeps sending. */
		if (now_ms() >= end)
			return done(g, arg) ? 0 : -ETIMEDOUT;
	}
}

/* ---- setup ---- */

static int
chan_mem(struct nvg *g, uint16_t q)
{
	struct nvg_chan *c = &g->chans[q];
	uint64_t hsz = (uint64_t)NVG_TXD_PER_QUEUE * NVG_HDR_SLOT;
	uint64_t asz = (uint64_t)NVG_TXD_PER_QUEUE * NVG_TXD_DATA_SIZE;
	uint32_t i;
	int rc;

	if (c->hdr_va != NULL)
		return 0;
	rc = vmbs_cli_alloc(g->cli, hsz, 0, &c->hdr_gpa);
	if (rc != 0)
		return rc;
	rc = vmbs_cli_alloc(g->cli, asz, 0, &c->area_gpa);
	if (rc != 0)
		return rc;
	c->hdr_va = vmbs_cli_va(g->cli, c->hdr_gpa, hsz);
	c->area_va = vmbs_cli_va(g->cli, c->area_gpa, asz);
	if (c->hdr_va == NULL || c->area_va == NULL)
		return -ENOMEM;
	for (i = 0; i < NVG_TXD_PER_QUEUE; i++)
		c->txd[i].section = NVG_NO_SECTION;
	return 0;
}

static int
chan_open(struct nvg *g, uint16_t q, uint32_t relid)
{
	struct nvg_chan *c = &g->chans[q];
	int rc;

	rc = chan_mem(g, q);
	if (rc != 0)
		return rc;
	rc = vmbs_cli_chan_open(g->cli, relid, g->p.ring_pages, g->p.ring_pages, &c->ch);
	if (rc == 0 && g->p.doorbells)
		rc = vmbs_cli_chan_doorbells(c->ch, NULL, NULL);
	if (rc != 0)
		return rc;
	c->relid = relid;
	c->open = true;
	if (q + 1u > g->info.n_chans)
		g->info.n_chans = (uint16_t)(q + 1u);
	return 0;
}

int
nvg_attach(const struct nvg_params *p, struct nvg **out)
{
	static const uint8_t net_class[16] = VMBS_GUID_NET_CLASS;
	struct vmbs_chmsg_offer *offers = NULL;
	struct vmbs_cli_params cp;
	struct nvg *g;
	uint32_t n = 0, i;
	uint64_t need, per_q;
	int rc;

	if (p == NULL || out == NULL || p->socket_path == NULL || p->vm_name == NULL)
		return -EINVAL;
	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	g->p = *p;
	memcpy(g->net_class, net_class, sizeof(net_class));
	if (g->p.recv_buf_size == 0)
		g->p.recv_buf_size = 2u << 20;
	if (g->p.send_buf_size == 0)
		g->p.send_buf_size = 1u << 20;
	if (g->p.ring_pages == 0)
		g->p.ring_pages = 64;
	if (g->p.max_queues == 0)
		g->p.max_queues = 4;
	if (g->p.max_queues > NVG_MAX_QUEUES)
		g->p.max_queues = NVG_MAX_QUEUES;
	if (g->p.mtu == 0)
		g->p.mtu = 1500;
	g->timeout_ms = g->p.timeout_ms != 0 ? g->p.timeout_ms : 5000;
	if (p->nvsp_versions != NULL && p->n_nvsp_versions != 0) {
		g->n_versions = p->n_nvsp_versions < 8 ? p->n_nvsp_versions : 8;
		memcpy(g->versions, p->nvsp_versions, g->n_versions * sizeof(uint32_t));
	} else {
		g->n_versions = sizeof(nvg_dpdk_versions) / sizeof(nvg_dpdk_versions[0]);
		memcpy(g->versions, nvg_dpdk_versions, sizeof(nvg_dpdk_versions));
	}
	g->debug = getenv("NVG_DEBUG") != NULL;
	g->tx_data_off = 128;
	g->mixed_copy = 64;
	g->pkt_size = g->p.ring_pages * NVG_PAGE;
	g->pkt = malloc(g->pkt_size);
	offers = calloc(NVG_MAX_QUEUES, sizeof(*offers));
	if (g->pkt == NULL || offers == NULL) {
		rc = -ENOMEM;
		goto err;
	}

	per_q = 2ull * g->p.ring_pages * NVG_PAGE +
		(uint64_t)NVG_TXD_PER_QUEUE * (NVG_HDR_SLOT + NVG_TXD_DATA_SIZE) + 2 * NVG_PAGE;
	need = (uint64_t)g->p.recv_buf_size + g->p.send_buf_size + NVG_SCRATCH_SIZE +
	       (NVG_CTL_CHUNKS * NVG_CTL_CHUNK) + 4 * NVG_PAGE +
	       per_q * g->p.max_queues + (1u << 20);
	need = (need + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
	memset(&cp, 0, sizeof(cp));
	cp.socket_path = p->socket_path;
	cp.vm_name = p->vm_name;
	cp.mem_size = p->mem_size != 0 ? p->mem_size : need;
	cp.hugepages = p->hugepages;
	cp.timeout_ms = g->timeout_ms;
	rc = vmbs_cli_connect(&cp, &g->cli);
	if (rc != 0)
		goto err;
	rc = vmbs_cli_negotiate(g->cli, &g->info.vmbus_version);
	if (rc != 0)
		goto err;
	rc = vmbs_cli_request_offers(g->cli, offers, NVG_MAX_QUEUES, &n);
	if (rc != 0)
		goto err;
	rc = -ENODEV;
	for (i = 0; i < n && i < NVG_MAX_QUEUES; i++) {
		if (memcmp(offers[i].if_type, net_class, 16) == 0 &&
		    offers[i].sub_channel_index == 0) {
			g->info.primary_relid = offers[i].child_relid;
			memcpy(g->info.instance, offers[i].if_instance, 16);
			rc = 0;
			break;
		}
	}
	if (rc != 0)
		goto err;

	/* Buffers, as the kernel's uio_hv_generic sets them up: page aligned. */
	g->info.recv_size = g->p.recv_buf_size;
	g->info.send_size = g->p.send_buf_size;
	rc = vmbs_cli_alloc(g->cli, g->info.recv_size, 0, &g->info.recv_gpa);
	if (rc == 0)
		rc = vmbs_cli_alloc(g->cli, g->info.send_size, 0, &g->info.send_gpa);
	if (rc == 0)
		rc = vmbs_cli_alloc(g->cli, NVG_CTL_CHUNKS * NVG_CTL_CHUNK + NVG_PAGE, 0,
				    &g->ctl_gpa);
	if (rc == 0)
		rc = vmbs_cli_alloc(g->cli, NVG_SCRATCH_SIZE, 0, &g->scratch_gpa);
	if (rc != 0)
		goto err;
	g->recv_va = vmbs_cli_va(g->cli, g->info.recv_gpa, g->info.recv_size);
	g->send_va = vmbs_cli_va(g->cli, g->info.send_gpa, g->info.send_size);
	g->ctl_va = vmbs_cli_va(g->cli, g->ctl_gpa, NVG_CTL_CHUNKS * NVG_CTL_CHUNK + NVG_PAGE);
	g->scratch_va = vmbs_cli_va(g->cli, g->scratch_gpa, NVG_SCRATCH_SIZE);
	if (g->recv_va == NULL || g->send_va == NULL || g->ctl_va == NULL ||
	    g->scratch_va == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	rc = chan_open(g, 0, g->info.primary_relid);
	if (rc != 0)
		goto err;
	free(offers);
	*out = g;
	return 0;
err:
	free(offers);
	nvg_destroy(g);
	return rc;
}

static void
nvg_free(struct nvg *g)
{
	uint32_t i;

	for (i = 0; i < g->ctl_cnt; i++)
		free(g->ctl[i].data);
	for (i = 0; i < g->status_cnt; i++)
		free(g->status[i].data);
	nvg_rx_clear(g);
	free(g->sect_used);
	free(g->pkt);
	free(g);
}

int
nvg_detach(struct nvg *g)
{
	int rc;

	if (g == NULL)
		return 0;
	rc = vmbs_cli_goodbye(g->cli);
	nvg_free(g);
	return rc;
}

void
nvg_destroy(struct nvg *g)
{
	if (g == NULL)
		return;
	vmbs_cli_destroy(g->cli);
	nvg_free(g);
}

struct vmbs_cli *
nvg_cli(struct nvg *g)
{
	return g->cli;
}

struct vmbs_cli_chan *
nvg_chan(struct nvg *g, uint16_t q)
{
	if (q >= NVG_MAX_QUEUES || !g->chans[q].open)
		return NULL;
	return g->chans[q].ch;
}

const struct nvg_info *
nvg_info(const struct nvg *g)
{
	return &g->info;
}

void
nvg_stats_get(const struct nvg *g, struct nvg_stats *st)
{
	*st = g->st;
}

uint64_t
nvg_rejects(const struct nvg *g)
{
	const struct nvg_stats *s = &g->st;

	return s->bad_pkt + s->bad_xfer + s->bad_range + s->odd_range + s->bad_rndis +
	       s->bad_chan_type + s->unexpected + s->tx_comp_bad + s->tx_comp_wrong_chan;
}

void
nvg_set_capture(struct nvg *g, nvg_pkt_hook_t pkt, nvg_rndis_hook_t rndis, void *arg)
{
	g->pkt_hook = pkt;
	g->rndis_hook = rndis;
	g->hook_arg = arg;
}

void
nvg_set_timeout(struct nvg *g, uint32_t timeout_ms)
{
	g->timeout_ms = timeout_ms != 0 ? timeout_ms : 5000;
}

/* ---- NVSP ---- */

int
nvg_nvsp_send(struct nvg *g, uint16_t q, uint64_t trans_id, uint16_t flags, const void *msg,
	      uint32_t len)
{
	if (q >= NVG_MAX_QUEUES || !g->chans[q].open)
		return -ENODEV;
	return vmbs_cli_chan_send_inband(g->chans[q].ch, trans_id, flags, msg, len);
}

int
nvg_send_pkt(struct nvg *g, uint16_t q, const void *pkt, uint32_t len)
{
	if (q >= NVG_MAX_QUEUES || !g->chans[q].open)
		return -ENODEV;
	return vmbs_cli_chan_send_pkt(g->chans[q].ch, pkt, len);
}

static bool
have_reply(struct nvg *g, const void *arg)
{
	(void)arg;
	return g->reply_cnt != 0;
}

int
nvg_reply_wait(struct nvg *g, struct nvg_reply *r)
{
	int rc = wait_until(g, have_reply, NULL);

	if (rc != 0)
		return rc;
	if (r != NULL)
		*r = g->replies[g->reply_head];
	g->reply_head = (g->reply_head + 1) % NVG_REPLY_MAX;
	g->reply_cnt--;
	g->st.replies++;
	return 0;
}

uint32_t
nvg_replies_pending(const struct nvg *g)
{
	return g->reply_cnt;
}

int
nvg_nvsp_execute(struct nvg *g, const void *msg, uint32_t len, uint32_t resp_type,
		 uint32_t resp_len, struct nvg_reply *r)
{
	struct nvg_reply rep;
	int rc;

	rc = nvg_nvsp_send(g, 0, 0, VMBS_PKT_F_COMPLETION_REQUESTED, msg, len);
	if (rc != 0)
		return rc;
	rc = nvg_reply_wait(g, &rep);
	if (rc != 0)
		return rc;
	if (r != NULL)
		*r = rep;
	/* hn_nvs_execute(): type first, then the length. */
	if (rep.nvsp_type != resp_type || rep.len < resp_len)
		return -EPROTO;
	return 0;
}

int
nvg_nvsp_init_one(struct nvg *g, uint32_t ver, uint32_t *status)
{
	uint8_t m[NVG_NVSP_SIZE] = { 0 };
	struct nvg_reply r;
	int rc;

	wr32(m, VMBS_NVSP_TYPE_INIT);
	wr32(m + 4, ver);
	wr32(m + 8, ver);
	rc = nvg_nvsp_execute(g, m, sizeof(m), VMBS_NVSP_TYPE_INIT_COMPLETE,
			      NVG_INIT_RESP_LEN, &r);
	if (rc != 0)
		return rc;
	*status = rd32(r.nvsp + 12);
	return 0;
}

int
nvg_nvsp_init(struct nvg *g)
{
	uint32_t i, status;
	int rc;

	for (i = 0; i < g->n_versions; i++) {
		rc = nvg_nvsp_init_one(g, g->versions[i], &status);
		if (rc != 0)
			return rc;
		if (status == VMBS_NVSP_STATUS_SUCCESS) {
			g->info.nvsp_version = g->versions[i];
			g->info.ndis_version = g->versions[i] <= VMBS_NVSP_VERSION_4 ?
				VMBS_NVSP_NDIS_6_1 : VMBS_NVSP_NDIS_6_30;
			return 0;
		}
	}
	return -ENXIO;
}

int
nvg_ndis_config(struct nvg *g)
{
	uint8_t m[NVG_NVSP_SIZE] = { 0 };
	uint64_t caps = VMBS_NVSP_CAP_IEEE8021Q;

	if (g->info.nvsp_version >= VMBS_NVSP_VERSION_5)
		caps |= VMBS_NVSP_CAP_SRIOV;
	wr32(m, VMBS_NVSP_TYPE_SEND_NDIS_CONFIG);
	wr32(m + 4, g->p.mtu + 14);
	memcpy(m + 12, &caps, sizeof(caps));
	return nvg_nvsp_send(g, 0, 0, 0, m, sizeof(m));
}

int
nvg_ndis_ver(struct nvg *g)
{
	uint8_t m[NVG_NVSP_SIZE] = { 0 };

	wr32(m, VMBS_NVSP_TYPE_SEND_NDIS_VER);
	wr32(m + 4, g->info.ndis_version >> 16);
	wr32(m + 8, g->info.ndis_version & 0xffffu);
	return nvg_nvsp_send(g, 0, 0, 0, m, sizeof(m));
}

int
nvg_recv_buf(struct nvg *g, uint32_t *status)
{
	uint8_t m[NVG_NVSP_SIZE] = { 0 };
	struct nvg_reply r;
	uint32_t st, nsect, off, size, cnt, end;
	int rc;

	if (g->info.recv_gpadl == 0) {
		rc = vmbs_cli_gpadl_create(g->cli, g->info.primary_relid, g->info.recv_gpa,
					   g->info.recv_size, &g->info.recv_gpadl);
		if (rc != 0)
			return rc;
	}
	wr32(m, VMBS_NVSP_TYPE_SEND_RECV_BUF);
	wr32(m + 4, g->info.recv_gpadl);
	m[8] = NVG_RECV_BUF_ID & 0xff;
	m[9] = NVG_RECV_BUF_ID >> 8;
	rc = nvg_nvsp_execute(g, m, sizeof(m), VMBS_NVSP_TYPE_SEND_RECV_BUF_COMPLETE,
			      NVG_RXBUF_RESP_LEN, &r);
	if (rc != 0)
		return rc;
	st = rd32(r.nvsp + 4);
	if (status != NULL)
		*status = st;
	if (st != VMBS_NVSP_STATUS_SUCCESS)
		return -EIO;
	nsect = rd32(r.nvsp + 8);
	off = rd32(r.nvsp + 12);
	size = rd32(r.nvsp + 16);
	cnt = rd32(r.nvsp + 20);
	end = rd32(r.nvsp + 24);
	/* DPDK: one section; Linux: offset 0, size >= 68, size * count fits. */
	if (nsect != 1 || off != 0 || size < VMBS_NVSP_RECV_SUBALLOC_MIN || cnt == 0 ||
	    (uint64_t)size * cnt > g->info.recv_size || end != off + size * cnt)
		return -EPROTO;
	g->info.slot_size = size;
	g->info.slot_cnt = cnt;
	return 0;
}

int
nvg_send_buf(struct nvg *g, uint32_t *status)
{
	uint8_t m[NVG_NVSP_SIZE] = { 0 };
	struct nvg_reply r;
	uint32_t st, sz;
	int rc;

	if (g->info.send_gpadl == 0) {
		rc = vmbs_cli_gpadl_create(g->cli, g->info.primary_relid, g->info.send_gpa,
					   g->info.send_size, &g->info.send_gpadl);
		if (rc != 0)
			return rc;
	}
	wr32(m, VMBS_NVSP_TYPE_SEND_SEND_BUF);
	wr32(m + 4, g->info.send_gpadl);
	m[8] = NVG_SEND_BUF_ID & 0xff;
	m[9] = NVG_SEND_BUF_ID >> 8;
	rc = nvg_nvsp_execute(g, m, sizeof(m), VMBS_NVSP_TYPE_SEND_SEND_BUF_COMPLETE,
			      NVG_CHIM_RESP_LEN, &r);
	if (rc != 0)
		return rc;
	st = rd32(r.nvsp + 4);
	if (status != NULL)
		*status = st;
	if (st != VMBS_NVSP_STATUS_SUCCESS)
		return -EIO;
	sz = rd32(r.nvsp + 8);
	/* hn_nvs_conn_chim(): non-zero, a multiple of 4. */
	if (sz == 0 || (sz & 3) != 0)
		return -EPROTO;
	g->info.section_size = sz;
	g->info.section_cnt = g->info.send_size / sz;
	free(g->sect_used);
	g->sect_used = calloc(g->info.section_cnt + 1, 1);
	return g->sect_used == NULL ? -ENOMEM : 0;
}

/* ---- RNDIS control ---- */

uint32_t
nvg_rndis_rid(struct nvg *g)
{
	do {
		g->rid++;
	} while (g->rid == 0);
	return g->rid;
}

static bool
ctl_slot_free(struct nvg *g, const void *arg)
{
	(void)arg;
	/* Stray control completions (raw tests) must not wrap this. */
	return g->st.ctl_reqs <= g->st.ctl_comps ||
	       g->st.ctl_reqs - g->st.ctl_comps < NVG_CTL_CHUNKS;
}

int
nvg_rndis_send(struct nvg *g, uint16_t q, const void *msg, uint32_t len)
{
	uint8_t nv[NVG_NVSP_SIZE] = { 0 };
	struct vmbs_desc_gpa_seg seg;
	uint8_t *va;
	int rc;

	if (len == 0 || len > NVG_PAGE || q >= NVG_MAX_QUEUES || !g->chans[q].open)
		return -EINVAL;
	if (len <= NVG_CTL_CHUNK) {
		/* Chunks are reused once their request is completed. */
		rc = wait_until(g, ctl_slot_free, NULL);
		if (rc != 0)
			return rc;
		va = g->ctl_va + (size_t)g->ctl_next * NVG_CTL_CHUNK;
		seg.gpa = g->ctl_gpa + (uint64_t)g->ctl_next * NVG_CTL_CHUNK;
		g->ctl_next = (g->ctl_next + 1) % NVG_CTL_CHUNKS;
	} else {
		va = g->ctl_va + NVG_CTL_CHUNKS * NVG_CTL_CHUNK;
		seg.gpa = g->ctl_gpa + NVG_CTL_CHUNKS * NVG_CTL_CHUNK;
	}
	memcpy(va, msg, len);
	seg.len = len;
	wr32(nv, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	wr32(nv + 4, VMBS_NVSP_CHANNEL_CONTROL);
	wr32(nv + 8, VMBS_NVSP_SECTION_NONE);
	rc = vmbs_cli_chan_send_gpa(g->chans[q].ch, 0, VMBS_PKT_F_COMPLETION_REQUESTED, &seg, 1,
				    nv, sizeof(nv));
	if (rc == 0)
		g->st.ctl_reqs++;
	return rc;
}

static bool
have_ctl(struct nvg *g, const void *arg)
{
	uint32_t rid = *(const uint32_t *)arg, i;

	for (i = 0; i < g->ctl_cnt; i++)
		if (g->ctl[i].rid == rid)
			return true;
	return false;
}

int
nvg_rndis_wait(struct nvg *g, uint32_t rid, void *buf, uint32_t *len)
{
	uint32_t i, n;
	int rc;

	rc = wait_until(g, have_ctl, &rid);
	if (rc != 0)
		return rc;
	for (i = 0; i < g->ctl_cnt; i++)
		if (g->ctl[i].rid == rid)
			break;
	n = g->ctl[i].len < *len ? g->ctl[i].len : *len;
	memcpy(buf, g->ctl[i].data, n);
	*len = g->ctl[i].len;
	free(g->ctl[i].data);
	memmove(&g->ctl[i], &g->ctl[i + 1], (g->ctl_cnt - i - 1) * sizeof(g->ctl[0]));
	g->ctl_cnt--;
	return 0;
}

uint32_t
nvg_rndis_pending(const struct nvg *g)
{
	return g->ctl_cnt;
}

static bool
have_status(struct nvg *g, const void *arg)
{
	(void)arg;
	return g->status_cnt != 0;
}

int
nvg_status_wait(struct nvg *g, uint32_t *status, void *msg, uint32_t *len)
{
	int rc = wait_until(g, have_status, NULL);

	if (rc != 0)
		return rc;
	*status = g->status[0].len >= 12 ? rd32(g->status[0].data + 8) : 0;
	if (msg != NULL && len != NULL) {
		memcpy(msg, g->status[0].data, g->status[0].len < *len ? g->status[0].len : *len);
		*len = g->status[0].len;
	}
	free(g->status[0].data);
	memmove(&g->status[0], &g->status[1], (g->status_cnt - 1) * sizeof(g->status[0]));
	g->status_cnt--;
	return 0;
}

/* hn_rndis_execute(): send, wait for the reply, check type and id. */
static int
rndis_execute(struct nvg *g, uint32_t rid, const void *req, uint32_t len, uint32_t cmplt,
	      uint8_t *resp, uint32_t *resp_len)
{
	int rc;

	rc = nvg_rndis_send(g, 0, req, len);
	if (rc != 0)
		return rc;
	rc = nvg_rndis_wait(g, rid, resp, resp_len);
	if (rc != 0)
		return rc;
	if (*resp_len < 16 || rd32(resp) != cmplt || rd32(resp + 8) != rid)
		return -EPROTO;
	return 0;
}

int
nvg_rndis_query(struct nvg *g, uint32_t oid, const void *in, uint32_t in_len, void *out,
		uint32_t *out_len, uint32_t *status)
{
	uint8_t req[NVG_CTL_CHUNK], resp[NVG_RNDIS_MSG_MAX];
	uint32_t rid, rlen = sizeof(resp), ibl, ibo, ofs, want;
	int rc;

	if (sizeof(struct vmbs_rndis_oid_req) + in_len > sizeof(req))
		return -E2BIG;
	want = out_len != NULL ? *out_len : 0;
	if (out_len != NULL)
		*out_len = 0;
	rid = nvg_rndis_rid(g);
	memset(req, 0, sizeof(req));
	wr32(req, VMBS_RNDIS_MSG_QUERY);
	wr32(req + 4, (uint32_t)sizeof(struct vmbs_rndis_oid_req) + in_len);
	wr32(req + 8, rid);
	wr32(req + 12, oid);
	wr32(req + 16, in_len);
	wr32(req + 20, 20);
	if (in_len != 0)
		memcpy(req + sizeof(struct vmbs_rndis_oid_req), in, in_len);
	rc = rndis_execute(g, rid, req, (uint32_t)sizeof(struct vmbs_rndis_oid_req) + in_len,
			   VMBS_RNDIS_MSG_QUERY_CMPLT, resp, &rlen);
	if (rc != 0)
		return rc;
	if (rlen < sizeof(struct vmbs_rndis_query_cmplt))
		return -EPROTO;
	*status = rd32(resp + 12);
	if (*status != VMBS_RNDIS_STATUS_SUCCESS)
		return 0;
	ibl = rd32(resp + 16);
	ibo = rd32(resp + 20);
	if (ibl == 0 || ibo == 0)
		return 0;
	/* hn_rndis_query(): offset past the header, data within what was asked. */
	ofs = ibo + 8;
	if (ofs < sizeof(struct vmbs_rndis_query_cmplt) ||
	    (uint64_t)ofs + ibl > sizeof(struct vmbs_rndis_query_cmplt) + (uint64_t)want ||
	    (uint64_t)ofs + ibl > rlen)
		return -EPROTO;
	if (out != NULL && out_len != NULL) {
		memcpy(out, resp + ofs, ibl < want ? ibl : want);
		*out_len = ibl;
	}
	return 0;
}

int
nvg_rndis_set(struct nvg *g, uint32_t oid, const void *in, uint32_t in_len, uint32_t *status)
{
	uint8_t req[NVG_CTL_CHUNK], resp[64];
	uint32_t rid, rlen = sizeof(resp);
	int rc;

	if (sizeof(struct vmbs_rndis_oid_req) + in_len > sizeof(req))
		return -E2BIG;
	rid = nvg_rndis_rid(g);
	memset(req, 0, sizeof(req));
	wr32(req, VMBS_RNDIS_MSG_SET);
	wr32(req + 4, (uint32_t)sizeof(struct vmbs_rndis_oid_req) + in_len);
	wr32(req + 8, rid);
	wr32(req + 12, oid);
	wr32(req + 16, in_len);
	wr32(req + 20, 20);
	if (in_len != 0)
		memcpy(req + sizeof(struct vmbs_rndis_oid_req), in, in_len);
	rc = rndis_execute(g, rid, req, (uint32_t)sizeof(struct vmbs_rndis_oid_req) + in_len,
			   VMBS_RNDIS_MSG_SET_CMPLT, resp, &rlen);
	if (rc != 0)
		return rc;
	*status = rd32(resp + 12);
	return 0;
}

int
nvg_set_filter(struct nvg *g, uint32_t filter)
{
	uint32_t status;
	int rc;

	rc = nvg_rndis_set(g, VMBS_OID_GEN_CURRENT_PACKET_FILTER, &filter, sizeof(filter),
			   &status);
	if (rc != 0)
		return rc;
	return status == VMBS_RNDIS_STATUS_SUCCESS ? 0 : -EIO;
}

int
nvg_rndis_init(struct nvg *g)
{
	uint8_t req[24] = { 0 }, resp[256];
	uint32_t rid = nvg_rndis_rid(g), rlen = sizeof(resp), align;
	int rc;

	wr32(req, VMBS_RNDIS_MSG_INITIALIZE);
	wr32(req + 4, sizeof(req));
	wr32(req + 8, rid);
	wr32(req + 12, VMBS_RNDIS_VERSION_MAJOR);
	wr32(req + 16, VMBS_RNDIS_VERSION_MINOR);
	wr32(req + 20, VMBS_RNDIS_MAX_XFER_SIZE_NETVSC);
	rc = rndis_execute(g, rid, req, sizeof(req), VMBS_RNDIS_MSG_INITIALIZE_CMPLT, resp,
			   &rlen);
	if (rc != 0)
		return rc;
	if (rlen < sizeof(struct vmbs_rndis_init_cmplt))
		return -EPROTO;
	if (rd32(resp + 12) != VMBS_RNDIS_STATUS_SUCCESS)
		return -EIO;
	g->info.agg_pkts = rd32(resp + 32);
	g->info.agg_size = rd32(resp + 36);
	align = rd32(resp + 40);
	/* hn_rndis_init(): alignment below 4 is fixed up to 4. */
	g->info.agg_align = align < 31 ? 1u << align : 4u;
	if (g->info.agg_align < 4)
		g->info.agg_align = 4;
	return 0;
}

static int
query_u32(struct nvg *g, uint32_t oid, uint32_t *v)
{
	uint32_t len = sizeof(*v), status;
	int rc;

	rc = nvg_rndis_query(g, oid, NULL, 0, v, &len, &status);
	if (rc != 0)
		return rc;
	return status == VMBS_RNDIS_STATUS_SUCCESS && len >= sizeof(*v) ? 0 : -EIO;
}

/* hn_rndis_query_rsscaps(). */
static int
query_rss_caps(struct nvg *g)
{
	uint8_t in[VMBS_NDIS_RSS_CAPS_SIZE_REV_2] = { 0 }, caps[VMBS_NDIS_RSS_CAPS_SIZE_REV_2];
	uint32_t len = sizeof(caps), status, nrxr;
	uint16_t size, nind;
	int rc;

	in[0] = VMBS_NDIS_OBJTYPE_RSS_CAPS;
	in[1] = VMBS_NDIS_RSS_CAPS_REV_2;
	in[2] = VMBS_NDIS_RSS_CAPS_SIZE_REV_2;
	memset(caps, 0, sizeof(caps));
	rc = nvg_rndis_query(g, VMBS_OID_GEN_RECEIVE_SCALE_CAPABILITIES, in, sizeof(in), caps,
			     &len, &status);
	if (rc != 0)
		return rc;
	if (status != VMBS_RNDIS_STATUS_SUCCESS)
		return -EIO;
	size = rd16(caps + 2);
	if (caps[0] != VMBS_NDIS_OBJTYPE_RSS_CAPS || caps[1] < 1 ||
	    size > VMBS_NDIS_RSS_CAPS_SIZE_REV_2 || size < VMBS_NDIS_RSS_CAPS_SIZE_REV_1)
		return -EPROTO;
	nrxr = rd32(caps + 12);
	if (nrxr == 0)
		return -EPROTO;
	nind = rd16(caps + 16);
	if (size == VMBS_NDIS_RSS_CAPS_SIZE_REV_2 && caps[1] >= 2 &&
	    (nind > VMBS_NDIS_RSS_TABLE_MAX || nind == 0 || (nind & (nind - 1)) != 0))
		return -EPROTO;
	g->info.rss_nrxr = nrxr;
	g->info.rss_nind = nind;
	return 0;
}

/* hn_rndis_query_hwcaps(). */
static int
query_hwcaps(struct nvg *g)
{
	struct vmbs_ndis_offload in, caps;
	uint32_t size, len = sizeof(caps), status;
	int rc;

	memset(&in, 0, sizeof(in));
	memset(&caps, 0, sizeof(caps));
	in.hdr.type = VMBS_NDIS_OBJTYPE_OFFLOAD;
	if (g->info.ndis_version >= VMBS_NVSP_NDIS_6_30) {
		in.hdr.revision = VMBS_NDIS_OFFLOAD_REV_3;
		size = VMBS_NDIS_OFFLOAD_SIZE_REV_3;
	} else {
		in.hdr.revision = VMBS_NDIS_OFFLOAD_REV_2;
		size = VMBS_NDIS_OFFLOAD_SIZE_REV_2;
	}
	in.hdr.size = (uint16_t)size;
	rc = nvg_rndis_query(g, VMBS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &in, size, &caps,
			     &len, &status);
	if (rc != 0)
		return rc;
	if (status != VMBS_RNDIS_STATUS_SUCCESS)
		return -EIO;
	if (caps.hdr.type != VMBS_NDIS_OBJTYPE_OFFLOAD || caps.hdr.revision < 1 ||
	    caps.hdr.size > sizeof(caps) || caps.hdr.size < VMBS_NDIS_OFFLOAD_SIZE_REV_1)
		return -EPROTO;
	g->info.hwcaps = caps;
	return 0;
}

static int
link_update(struct nvg *g)
{
	int rc;

	rc = query_u32(g, VMBS_OID_GEN_MEDIA_CONNECT_STATUS, &g->info.link_status);
	if (rc == 0)
		rc = query_u32(g, VMBS_OID_GEN_LINK_SPEED, &g->info.link_speed);
	return rc;
}

int
nvg_bringup(struct nvg *g)
{
	uint32_t len = sizeof(g->info.mac), status;
	int rc;

	rc = nvg_nvsp_init(g);
	if (rc == 0 && g->info.nvsp_version >= VMBS_NVSP_VERSION_2)
		rc = nvg_ndis_config(g);
	if (rc == 0)
		rc = nvg_ndis_ver(g);
	if (rc == 0)
		rc = nvg_recv_buf(g, NULL);
	if (rc == 0)
		rc = nvg_send_buf(g, NULL);
	if (rc == 0)
		rc = nvg_rndis_init(g);
	/* hn_attach(): the filter may not be 0 on the host after INITIALIZE. */
	if (rc == 0)
		rc = nvg_set_filter(g, 0);
	if (rc == 0) {
		rc = nvg_rndis_query(g, VMBS_OID_802_3_PERMANENT_ADDRESS, NULL, 0, g->info.mac,
				     &len, &status);
		if (rc == 0 && (status != VMBS_RNDIS_STATUS_SUCCESS || len != 6))
			rc = -EIO;
	}
	if (rc == 0 && g->info.nvsp_version >= VMBS_NVSP_VERSION_5)
		rc = query_rss_caps(g);
	/* dev_info_get and the first link update follow probe in testpmd. */
	if (rc == 0)
		rc = query_hwcaps(g);
	if (rc == 0)
		rc = link_update(g);
	return rc;
}

uint32_t
nvg_rss_build(const struct nvg *g, uint8_t *buf, uint16_t flags, uint16_t queues)
{
	struct vmbs_ndis_rss_params prm;
	uint32_t i, e;

	(void)g;
	memset(&prm, 0, sizeof(prm));
	prm.hdr.type = VMBS_NDIS_OBJTYPE_RSS_PARAMS;
	prm.hdr.revision = VMBS_NDIS_RSS_PARAMS_REV_2;
	prm.hdr.size = sizeof(prm);
	prm.flags = flags;
	prm.hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_IPV4 |
			VMBS_NDIS_HASH_TCP_IPV4 | VMBS_NDIS_HASH_IPV6 | VMBS_NDIS_HASH_TCP_IPV6;
	prm.table_size = VMBS_NDIS_RSS_TABLE_MAX * 4;
	prm.table_offset = sizeof(prm) + VMBS_NDIS_RSS_KEY_SIZE;
	prm.key_size = VMBS_NDIS_RSS_KEY_SIZE;
	prm.key_offset = sizeof(prm);
	memcpy(buf, &prm, sizeof(prm));
	memcpy(buf + sizeof(prm), nvg_rss_key, sizeof(nvg_rss_key));
	for (i = 0; i < VMBS_NDIS_RSS_TABLE_MAX; i++) {
		e = queues != 0 ? i % queues : 0;
		wr32(buf + prm.table_offset + i * 4, e);
	}
	return prm.table_offset + VMBS_NDIS_RSS_TABLE_MAX * 4;
}

static bool
offer_is_sub(const struct nvg *g, const struct vmbs_chmsg_offer *o, uint16_t n_total)
{
	return memcmp(o->if_type, g->net_class, 16) == 0 &&
	       memcmp(o->if_instance, g->info.instance, 16) == 0 &&
	       o->sub_channel_index >= 1 && o->sub_channel_index < n_total;
}

int
nvg_subchannels(struct nvg *g, uint16_t n_total)
{
	uint8_t m[NVG_NVSP_SIZE] = { 0 };
	struct vmbs_chmsg cm;
	struct nvg_reply r;
	uint32_t got, opened = 0;
	int rc;

	if (n_total < 2 || n_total > g->p.max_queues)
		return -EINVAL;
	wr32(m, VMBS_NVSP_TYPE_SUBCHANNEL);
	wr32(m + 4, VMBS_NVSP_SUBCHANNEL_ALLOCATE);
	wr32(m + 8, n_total - 1u);
	rc = nvg_nvsp_execute(g, m, sizeof(m), VMBS_NVSP_TYPE_SUBCHANNEL, NVG_SUBCH_RESP_LEN, &r);
	if (rc != 0)
		return rc;
	if (rd32(r.nvsp + 4) != VMBS_NVSP_STATUS_SUCCESS)
		return -EIO;
	got = rd32(r.nvsp + 8);
	if (got > n_total - 1u)
		got = n_total - 1u;	/* DPDK only notes it */
	while (opened < got) {
		rc = vmbs_cli_wait_msg(g->cli, VMBS_CHMSG_OFFERCHANNEL, &cm, g->timeout_ms);
		if (rc != 0)
			return rc;
		/* hn_subchan_configure(): index 1..max_queues. */
		if (!offer_is_sub(g, &cm.u.offer, n_total) ||
		    g->chans[cm.u.offer.sub_channel_index].open) {
			g->st.unexpected++;
			continue;
		}
		rc = chan_open(g, cm.u.offer.sub_channel_index, cm.u.offer.child_relid);
		if (rc != 0)
			return rc;
		opened++;
	}
	return (int)(opened + 1);
}

/* hn_rndis_conf_offload() asking for everything the host offers. */
static int
conf_offload(struct nvg *g)
{
	const struct vmbs_ndis_offload *c = &g->info.hwcaps;
	struct vmbs_ndis_offload_params prm;
	uint32_t status;
	int rc;

	rc = query_hwcaps(g);
	if (rc != 0)
		return rc;
	memset(&prm, 0, sizeof(prm));
	prm.hdr.type = VMBS_NDIS_OBJTYPE_DEFAULT;
	if (g->info.ndis_version < VMBS_NVSP_NDIS_6_30) {
		prm.hdr.revision = 2;
		prm.hdr.size = VMBS_NDIS_OFFLOAD_PARAMS_SIZE_REV_2;
	} else {
		prm.hdr.revision = 3;
		prm.hdr.size = VMBS_NDIS_OFFLOAD_PARAMS_SIZE_REV_3;
	}
	if ((c->csum.ip4_tx_csum & VMBS_NDIS_CSUM_CAP_TCP) &&
	    (c->csum.ip6_tx_csum & VMBS_NDIS_CSUM_CAP_TCP)) {
		prm.tcp4_csum = VMBS_NDIS_OFFLOAD_PARAM_TX;
		prm.tcp6_csum = VMBS_NDIS_OFFLOAD_PARAM_TX;
	}
	if ((c->csum.ip4_tx_csum & VMBS_NDIS_CSUM_CAP_UDP) &&
	    (c->csum.ip6_tx_csum & VMBS_NDIS_CSUM_CAP_UDP)) {
		prm.udp4_csum = VMBS_NDIS_OFFLOAD_PARAM_TX;
		prm.udp6_csum = VMBS_NDIS_OFFLOAD_PARAM_TX;
	}
	if (c->csum.ip4_tx_csum & VMBS_NDIS_CSUM_CAP_IP4)
		prm.ip4_csum = VMBS_NDIS_OFFLOAD_PARAM_TX;
	if (c->lsov2.ip4_encap & VMBS_NDIS_ENCAP_8023)
		prm.lsov2_ip4 = VMBS_NDIS_OFFLOAD_LSO_ON;
	if ((c->lsov2.ip6_opts & (VMBS_NDIS_LSOV2_CAP_IP6_EXT_HDRS |
				  VMBS_NDIS_LSOV2_CAP_TCP6_OPTIONS)) ==
	    (VMBS_NDIS_LSOV2_CAP_IP6_EXT_HDRS | VMBS_NDIS_LSOV2_CAP_TCP6_OPTIONS))
		prm.lsov2_ip6 = VMBS_NDIS_OFFLOAD_LSO_ON;
	rc = nvg_rndis_set(g, VMBS_OID_TCP_OFFLOAD_PARAMETERS, &prm, prm.hdr.size, &status);
	if (rc != 0)
		return rc;
	return status == VMBS_RNDIS_STATUS_SUCCESS ? 0 : -EIO;
}

int
nvg_configure(struct nvg *g, uint16_t n_queues)
{
	uint8_t rss[VMBS_NDIS_RSS_PARAMS_SIZE_REV_2 + VMBS_NDIS_RSS_KEY_SIZE +
		    VMBS_NDIS_RSS_TABLE_MAX * 4];
	uint32_t status, len;
	int rc;

	/* ethdev refuses more queues than the RSS caps allowed at probe. */
	if (n_queues > 1 && n_queues > g->info.rss_nrxr)
		return -EINVAL;
	rc = conf_offload(g);
	if (rc != 0 || n_queues <= 1)
		return rc;
	rc = nvg_subchannels(g, n_queues);
	if (rc < 0)
		return rc;
	len = nvg_rss_build(g, rss, VMBS_NDIS_RSS_FLAG_DISABLE, n_queues);
	rc = nvg_rndis_set(g, VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS, rss, len, &status);
	if (rc == 0 && status != VMBS_RNDIS_STATUS_SUCCESS)
		rc = -EIO;
	if (g->debug)
		fprintf(stderr, "nvg: RSS disable: rc %d status %#x\n", rc, status);
	if (rc != 0)
		return rc;
	len = nvg_rss_build(g, rss, 0, n_queues);
	rc = nvg_rndis_set(g, VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS, rss, len, &status);
	if (rc == 0 && status != VMBS_RNDIS_STATUS_SUCCESS)
		rc = -EIO;
	if (g->debug)
		fprintf(stderr, "nvg: RSS set: rc %d status %#x\n", rc, status);
	return rc;
}

int
nvg_start(struct nvg *g)
{
	int rc;

	rc = nvg_set_filter(g, VMBS_NDIS_FILTER_BROADCAST | VMBS_NDIS_FILTER_ALL_MULTICAST |
			       VMBS_NDIS_FILTER_DIRECTED);
	if (rc == 0)
		rc = link_update(g);
	return rc;
}

/* ---- data, guest to host ---- */

static uint32_t
ppi_put(uint8_t *p, uint32_t type, uint32_t v)
{
	wr32(p, VMBS_RNDIS_PPI_U32_SIZE);
	wr32(p + 4, type);
	wr32(p + 8, VMBS_RNDIS_PPI_DATA_OFFSET);
	wr32(p + 12, v);
	return VMBS_RNDIS_PPI_U32_SIZE;
}

/* hn_encap(): the PACKET header and PPIs; the frame follows at the return value. */
static uint32_t
encap_hdr(uint8_t *buf, uint16_t q, const struct nvg_frame *f)
{
	const struct vmbs_rndis_ppi_info *pi = &f->ppi;
	uint8_t *ppi = buf + sizeof(struct vmbs_rndis_packet);
	struct vmbs_rndis_packet pk;
	uint32_t plen = 0, hlen;

	if (pi->present & VMBS_RNDIS_PPI_F_HASH_VALUE)
		plen += ppi_put(ppi + plen, VMBS_RNDIS_PPI_HASH_VALUE, pi->hash_value);
	else if (!f->no_hashval)
		plen += ppi_put(ppi + plen, VMBS_RNDIS_PPI_HASH_VALUE, q);
	if (pi->present & VMBS_RNDIS_PPI_F_VLAN)
		plen += ppi_put(ppi + plen, VMBS_RNDIS_PPI_IEEE_8021Q, pi->vlan);
	if (pi->present & VMBS_RNDIS_PPI_F_LSO)
		plen += ppi_put(ppi + plen, VMBS_RNDIS_PPI_LSO, pi->lso);
	if (pi->present & VMBS_RNDIS_PPI_F_CSUM)
		plen += ppi_put(ppi + plen, VMBS_RNDIS_PPI_CSUM, pi->csum);
	if (pi->present & VMBS_RNDIS_PPI_F_HASH_INFO)
		plen += ppi_put(ppi + plen, VMBS_RNDIS_PPI_HASH_INFO, pi->hash_info);
	hlen = (uint32_t)sizeof(pk) + plen;
	memset(&pk, 0, sizeof(pk));
	pk.hdr.type = VMBS_RNDIS_MSG_PACKET;
	pk.hdr.len = hlen + f->len;
	pk.data_offset = hlen - VMBS_RNDIS_BODY_OFFSET;
	pk.data_len = f->len;
	pk.per_pkt_info_offset = VMBS_RNDIS_PACKET_OFFSET_MIN;
	pk.per_pkt_info_len = plen;
	memcpy(buf, &pk, sizeof(pk));
	return hlen;
}

uint32_t
nvg_encap(uint8_t *buf, uint16_t q, const struct nvg_frame *f, uint32_t *hdr_len)
{
	uint32_t hlen = encap_hdr(buf, q, f);

	if (f->len != 0)
		memcpy(buf + hlen, f->data, f->len);
	if (hdr_len != NULL)
		*hdr_len = hlen;
	return hlen + f->len;
}

struct txd_want {
	uint16_t q;
	bool section;
};

static bool
txd_free(struct nvg *g, const void *arg)
{
	const struct txd_want *w = arg;
	uint32_t i;

	if (g->chans[w->q].inflight >= NVG_TXD_PER_QUEUE)
		return false;
	if (!w->section)
		return true;
	for (i = 0; i < g->info.section_cnt; i++)
		if (!g->sect_used[i])
			return true;
	return false;
}

/* A free descriptor (and section, if asked), waiting for completions. */
static struct nvg_txd *
txd_get(struct nvg *g, uint16_t q, bool section, uint64_t *tid, uint32_t *idx_out)
{
	struct txd_want w = { q, section };
	struct nvg_chan *c = &g->chans[q];
	struct nvg_txd *t;
	uint32_t i, idx;

	if (section && g->info.section_cnt == 0)
		return NULL;
	if (wait_until(g, txd_free, &w) != 0)
		return NULL;
	for (i = 0; i < NVG_TXD_PER_QUEUE; i++) {
		idx = (c->txd_next + i) % NVG_TXD_PER_QUEUE;
		if (!c->txd[idx].inflight)
			break;
	}
	c->txd_next = (idx + 1) % NVG_TXD_PER_QUEUE;
	t = &c->txd[idx];
	t->section = NVG_NO_SECTION;
	if (section) {
		for (i = 0; i < g->info.section_cnt; i++)
			if (!g->sect_used[i])
				break;
		g->sect_used[i] = 1;
		t->section = i;
	}
	c->gen++;
	*tid = NVG_TID_TAG | (uint64_t)q << 32 | (uint64_t)c->gen << 16 | idx;
	*idx_out = idx;
	return t;
}

static void
txd_put_back(struct nvg *g, struct nvg_txd *t)
{
	if (t->section != NVG_NO_SECTION && t->section < g->info.section_cnt)
		g->sect_used[t->section] = 0;
	t->section = NVG_NO_SECTION;
}

static void
txd_launch(struct nvg *g, uint16_t q, struct nvg_txd *t, uint64_t tid, uint32_t frames)
{
	t->tid = tid;
	t->inflight = true;
	g->chans[q].inflight++;
	g->st.tx_reqs++;
	g->st.tx_frames += frames;
}

/* Split [gpa, gpa + len) at 4 KiB pages, one segment each (hn_fill_sg()). */
static uint32_t
split_pages(struct vmbs_desc_gpa_seg *segs, uint32_t n, uint32_t max, uint64_t gpa,
	    uint32_t len)
{
	uint32_t chunk;

	while (len != 0 && n < max) {
		chunk = NVG_PAGE - (uint32_t)(gpa & (NVG_PAGE - 1));
		if (chunk > len)
			chunk = len;
		segs[n].gpa = gpa;
		segs[n].len = chunk;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return len == 0 ? n : 0;
}

static int
send_rndis_req(struct nvg *g, uint16_t q, uint64_t tid, uint32_t section, uint32_t size,
	       const struct vmbs_desc_gpa_seg *segs, uint32_t nseg, uint32_t chan_type)
{
	uint8_t nv[NVG_NVSP_SIZE] = { 0 };

	wr32(nv, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	wr32(nv + 4, chan_type);
	wr32(nv + 8, section);
	wr32(nv + 12, size);
	if (nseg == 0)
		return vmbs_cli_chan_send_inband(g->chans[q].ch, tid,
						 VMBS_PKT_F_COMPLETION_REQUESTED, nv, sizeof(nv));
	return vmbs_cli_chan_send_gpa(g->chans[q].ch, tid, VMBS_PKT_F_COMPLETION_REQUESTED,
				      segs, nseg, nv, sizeof(nv));
}

static int
send_chimney(struct nvg *g, uint16_t q, const struct nvg_frame *f, uint32_t n, uint64_t *tidp)
{
	uint32_t limit, off = 0, prev = UINT32_MAX, i, plen, pad, idx, mlen;
	struct nvg_txd *t;
	uint8_t *base;
	uint64_t tid;
	int rc;

	if (n == 0 || n > g->info.agg_pkts)
		return -E2BIG;
	limit = g->info.section_size;
	if (g->info.agg_size != 0 && g->info.agg_size < limit)
		limit = g->info.agg_size;
	t = txd_get(g, q, true, &tid, &idx);
	if (t == NULL)
		return -EBUSY;
	base = g->send_va + (size_t)t->section * g->info.section_size;
	for (i = 0; i < n; i++) {
		if (prev != UINT32_MAX) {
			/* hn_try_txagg(): pad by growing the previous message. */
			plen = rd32(base + prev + 4);
			pad = align_up(plen, g->info.agg_align) - plen;
			if (off + pad > limit) {
				rc = -E2BIG;
				goto err;
			}
			memset(base + off, 0, pad);
			wr32(base + prev + 4, plen + pad);
			off += pad;
		}
		if (off + sizeof(struct vmbs_rndis_packet) + 5 * VMBS_RNDIS_PPI_U32_SIZE +
		    f[i].len > limit) {
			rc = -E2BIG;
			goto err;
		}
		mlen = nvg_encap(base + off, q, &f[i], NULL);
		prev = off;
		off += mlen;
	}
	rc = send_rndis_req(g, q, tid, t->section, off, NULL, 0, VMBS_NVSP_CHANNEL_DATA);
	if (rc != 0)
		goto err;
	txd_launch(g, q, t, tid, n);
	if (tidp != NULL)
		*tidp = tid;
	return 0;
err:
	txd_put_back(g, t);
	return rc;
}

static int
send_gpa(struct nvg *g, uint16_t q, enum nvg_tx_form form, const struct nvg_frame *f,
	 uint64_t *tidp)
{
	struct nvg_chan *c = &g->chans[q];
	struct vmbs_desc_gpa_seg segs[NVG_MAX_SEGS];
	uint8_t hdr[NVG_HDR_SLOT];
	uint32_t hlen, idx, nseg = 0, cp = 0, sect = VMBS_NVSP_SECTION_NONE, ssize = 0;
	uint64_t tid, area_gpa, data_gpa, hdr_gpa;
	uint8_t *area, *p;
	struct nvg_txd *t;
	int rc;

	if (g->tx_data_off + f->len > NVG_TXD_DATA_SIZE - NVG_AREA_DATA)
		return -E2BIG;
	hlen = encap_hdr(hdr, q, f);
	if (form == NVG_TX_MIXED) {
		cp = g->mixed_copy;
		if (cp >= f->len || hlen + cp > g->info.section_size)
			return -E2BIG;
	}
	t = txd_get(g, q, form == NVG_TX_MIXED, &tid, &idx);
	if (t == NULL)
		return -EBUSY;
	area = c->area_va + (size_t)idx * NVG_TXD_DATA_SIZE;
	area_gpa = c->area_gpa + (uint64_t)idx * NVG_TXD_DATA_SIZE;
	data_gpa = area_gpa + NVG_AREA_DATA + g->tx_data_off;
	memcpy(area + NVG_AREA_DATA + g->tx_data_off, f->data, f->len);

	switch (form) {
	case NVG_TX_GPA:
		/* hn_xmit_sg(): header slot first, then the pages of the data. */
		hdr_gpa = c->hdr_gpa + (uint64_t)idx * NVG_HDR_SLOT;
		memcpy(c->hdr_va + (size_t)idx * NVG_HDR_SLOT, hdr, hlen);
		segs[nseg].gpa = hdr_gpa;
		segs[nseg++].len = hlen;
		break;
	case NVG_TX_GPA_HDR_CROSS:
		/* One range with two PFNs: the header straddles a page end. */
		p = area + NVG_PAGE - hlen / 2;
		memcpy(p, hdr, hlen);
		segs[nseg].gpa = area_gpa + NVG_PAGE - hlen / 2;
		segs[nseg++].len = hlen;
		break;
	case NVG_TX_GPA_HDR_SPLIT:
		memcpy(area + NVG_SPLIT_A_OFF, hdr, NVG_SPLIT_A_LEN);
		memcpy(area + NVG_SPLIT_B_OFF, hdr + NVG_SPLIT_A_LEN, hlen - NVG_SPLIT_A_LEN);
		segs[nseg].gpa = area_gpa + NVG_SPLIT_A_OFF;
		segs[nseg++].len = NVG_SPLIT_A_LEN;
		segs[nseg].gpa = area_gpa + NVG_SPLIT_B_OFF;
		segs[nseg++].len = hlen - NVG_SPLIT_A_LEN;
		break;
	case NVG_TX_MIXED:
		/* Linux's cp_partial: header and first bytes in the section. */
		p = g->send_va + (size_t)t->section * g->info.section_size;
		memcpy(p, hdr, hlen);
		memcpy(p + hlen, f->data, cp);
		sect = t->section;
		ssize = hlen + cp;
		data_gpa += cp;
		break;
	default:
		txd_put_back(g, t);
		return -EINVAL;
	}
	nseg = split_pages(segs, nseg, NVG_MAX_SEGS, data_gpa, f->len - cp);
	if (nseg == 0) {
		txd_put_back(g, t);
		return -E2BIG;
	}
	rc = send_rndis_req(g, q, tid, sect, ssize, segs, nseg, VMBS_NVSP_CHANNEL_DATA);
	if (rc != 0) {
		txd_put_back(g, t);
		return rc;
	}
	txd_launch(g, q, t, tid, 1);
	if (tidp != NULL)
		*tidp = tid;
	return 0;
}

int
nvg_send(struct nvg *g, uint16_t q, enum nvg_tx_form form, const struct nvg_frame *f,
	 uint32_t n, uint64_t *tid)
{
	if (q >= NVG_MAX_QUEUES || !g->chans[q].open || f == NULL)
		return -EINVAL;
	if (form == NVG_TX_CHIMNEY)
		return send_chimney(g, q, f, n, tid);
	if (n != 1)
		return -E2BIG;
	return send_gpa(g, q, form, f, tid);
}

void
nvg_set_tx_data_offset(struct nvg *g, uint32_t off)
{
	g->tx_data_off = off;
}

void
nvg_set_mixed_copy(struct nvg *g, uint32_t bytes)
{
	g->mixed_copy = bytes;
}

int
nvg_chimney_raw(struct nvg *g, uint16_t q, const void *bytes, uint32_t len, uint32_t section,
		uint32_t section_size, uint64_t *tidp)
{
	struct nvg_txd *t;
	uint32_t idx, sect;
	uint64_t tid;
	int rc;

	if (q >= NVG_MAX_QUEUES || !g->chans[q].open)
		return -EINVAL;
	t = txd_get(g, q, section == NVG_SECTION_AUTO, &tid, &idx);
	if (t == NULL)
		return -EBUSY;
	sect = section == NVG_SECTION_AUTO ? t->section : section;
	if (sect < g->info.section_cnt && len != 0) {
		if (len > g->info.send_size - (uint64_t)sect * g->info.section_size)
			len = (uint32_t)(g->info.send_size -
					 (uint64_t)sect * g->info.section_size);
		memcpy(g->send_va + (size_t)sect * g->info.section_size, bytes, len);
	}
	rc = send_rndis_req(g, q, tid, sect, section_size, NULL, 0, VMBS_NVSP_CHANNEL_DATA);
	if (rc != 0) {
		txd_put_back(g, t);
		return rc;
	}
	txd_launch(g, q, t, tid, 0);
	if (tidp != NULL)
		*tidp = tid;
	return 0;
}

int
nvg_gpa_raw(struct nvg *g, uint16_t q, const struct vmbs_desc_gpa_seg *segs, uint32_t nseg,
	    uint32_t channel_type, uint32_t section, uint32_t section_size, uint64_t *tidp)
{
	struct nvg_txd *t;
	uint32_t idx;
	uint64_t tid;
	int rc;

	if (q >= NVG_MAX_QUEUES || !g->chans[q].open || nseg == 0)
		return -EINVAL;
	t = txd_get(g, q, false, &tid, &idx);
	if (t == NULL)
		return -EBUSY;
	rc = send_rndis_req(g, q, tid, section, section_size, segs, nseg, channel_type);
	if (rc != 0)
		return rc;
	txd_launch(g, q, t, tid, 0);
	if (tidp != NULL)
		*tidp = tid;
	return 0;
}

uint8_t *
nvg_scratch(struct nvg *g, uint64_t *gpa)
{
	*gpa = g->scratch_gpa;
	return g->scratch_va;
}

static bool
req_done(struct nvg *g, const void *arg)
{
	uint64_t tid = *(const uint64_t *)arg;
	const struct nvg_txd *t;

	t = &g->chans[(tid >> 32) & 0xffffu].txd[tid & 0xffffu];
	return !(t->inflight && t->tid == tid);
}

int
nvg_req_wait(struct nvg *g, uint64_t tid, uint32_t *status)
{
	const struct nvg_txd *t;
	uint32_t q = (uint32_t)(tid >> 32) & 0xffffu, idx = (uint32_t)tid & 0xffffu;
	int rc;

	if ((tid & NVG_TID_TAG) == 0 || q >= NVG_MAX_QUEUES || idx >= NVG_TXD_PER_QUEUE)
		return -ENOENT;
	t = &g->chans[q].txd[idx];
	if (!(t->inflight && t->tid == tid) && t->last_tid != tid)
		return -ENOENT;
	rc = wait_until(g, req_done, &tid);
	if (rc != 0)
		return rc;
	if (t->last_tid != tid)
		return -ENOENT;
	*status = t->last_status;
	return 0;
}

uint32_t
nvg_tx_inflight(const struct nvg *g)
{
	uint32_t q, n = 0;

	for (q = 0; q < NVG_MAX_QUEUES; q++)
		n += g->chans[q].inflight;
	return n;
}

static bool
tx_idle(struct nvg *g, const void *arg)
{
	(void)arg;
	return nvg_tx_inflight(g) == 0;
}

int
nvg_tx_wait(struct nvg *g)
{
	return wait_until(g, tx_idle, NULL);
}

/* ---- receive, for the test ---- */

static bool
have_frames(struct nvg *g, const void *arg)
{
	return g->rx_cnt >= *(const uint32_t *)arg;
}

int
nvg_rx_wait(struct nvg *g, uint32_t n)
{
	return wait_until(g, have_frames, &n);
}

uint32_t
nvg_rx_count(const struct nvg *g)
{
	return g->rx_cnt;
}

const struct nvg_rx_frame *
nvg_rx_get(const struct nvg *g, uint32_t i)
{
	return i < g->rx_cnt ? &g->rx[i] : NULL;
}

void
nvg_rx_clear(struct nvg *g)
{
	uint32_t i;

	for (i = 0; i < g->rx_cnt; i++)
		free(g->rx[i].data);
	g->rx_cnt = 0;
}

void
nvg_set_ack_mode(struct nvg *g, enum nvg_ack_mode mode)
{
	g->ack_mode = mode;
}

int
nvg_release_acks(struct nvg *g, int q)
{
	uint64_t end = now_ms() + g->timeout_ms;
	uint32_t i = 0, n = g->held_cnt;
	uint16_t ch;
	int rc;

	while (i < n) {
		ch = q < 0 ? g->held[i].queue : (uint16_t)q;
		rc = send_ack(g, ch, g->held[i].tid);
		if (rc == -EAGAIN && now_ms() < end) {
			/* The host drains the ring; meanwhile take what it sent. */
			nvg_poll(g);
			nap();
			continue;
		}
		if (rc != 0)
			g->st.ack_errors++;
		else
			g->st.acks_sent++;
		i++;
	}
	/* Deliveries held while we polled stay held. */
	memmove(g->held, g->held + n, (g->held_cnt - n) * sizeof(g->held[0]));
	g->held_cnt -= n;
	return (int)n;
}

uint32_t
nvg_acks_held(const struct nvg *g)
{
	return g->held_cnt;
}

uint64_t
nvg_held_tid(const struct nvg *g, uint32_t i)
{
	return i < g->held_cnt ? g->held[i].tid : 0;
}

int
nvg_ack(struct nvg *g, uint16_t q, uint64_t tid)
{
	return send_ack(g, q, tid);
}
