/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * bench_nvguest: a fast scripted netvsc guest for throughput benchmarks,
 * one process pinned to one CPU, driven line by line on stdin.
 *
 * Bring-up is test/common/nv_guest's (DPDK 22.11's netvsc probe,
 * configure and start, then the PROMISCUOUS filter testpmd sets). After
 * that the guest runs its own data path straight on the channel's rings
 * (lib/bufring), with the wire layouts DPDK's netvsc uses:
 *
 *  tx  guest -> host, testpmd txonly's pattern: bursts of 32 IPv4/UDP
 *      frames. Frames up to --tx-copybreak bytes (DPDK: 512) are copied
 *      into send-buffer sections, up to max_pkt_per_msg (8) RNDIS PACKETs
 *      per section, each padded to the INITIALIZE_CMPLT alignment; longer
 *      frames go GPA-direct: the RNDIS header in its own 128-byte slot as
 *      range 0, the frame (at a 128-byte headroom in a 2176-byte buffer,
 *      like an mbuf) split at 4 KiB pages. Every request carries a HASH_VALUE
 *      PPI, asks for a completion and stays in flight until it arrives
 *      (--inflight requests at most). Per request the guest writes what a
 *      DPDK guest writes per packet: the whole section (frames copied in),
 *      or the RNDIS header and the frame's first 64 bytes (testpmd txonly
 *      rewrites the headers of recycled mbufs; the rest stays as it was).
 *  rx  host -> guest, testpmd rxonly's pattern: every transfer-page packet
 *      is parsed (ranges inside the receive buffer, RNDIS PACKET checks),
 *      frames shorter than --rx-copybreak (DPDK: 256) are copied out as
 *      DPDK's netvsc copies them into mbufs, longer ones only counted (DPDK
 *      attaches them), and the delivery is acknowledged at once.
 *
 * Ring writes are published once per burst (one write_index store for the
 * requests of 32 frames, or for all acknowledgements of one poll), ring
 * reads once per poll; completions and deliveries are reaped between
 * bursts. DPDK's netvsc publishes every request on its own; one index
 * update per burst is what virtio-user, the peer's guest, does, so the two
 * guests pay alike per burst and the server is what is measured.
 *
 * Control, one command per line on stdin; one reply line each on stdout:
 *   start   -> "started"            run the data path
 *   stop    -> "stopped inflight=N" stop sending, reap what is in flight
 *   stats   -> "stats t_ns=... frames=... ..." counters (monotonic)
 *   quit    -> "bye"                detach (GOODBYE) and exit
 * After bring-up it prints "ready mac=XX:..:XX". End of input is quit.
 * Between start and stop the guest never sleeps; stopped, it sleeps in
 * poll() on stdin (waking every 20 ms to acknowledge stray deliveries, such
 * as link status indications). "stats" also splits the running time into
 * busy_ticks (iterations that did work) and idle_ticks (iterations that
 * found nothing to do: waiting for the host), in TSC ticks.
 *
 * EAL-free; single-threaded. Every wait before "ready" is bounded by
 * --timeout-s.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nv_guest.h"
#include "vmbs_bufring.h"
#include "vmbs_client.h"
#include "vmbs_desc.h"
#include "vmbs_nvsp.h"
#include "vmbs_rndis.h"

/* Frames per burst, as testpmd's default burst. */
#define TX_BURST_FRAMES 32u
/* DPDK netvsc's HN_TXCOPY_THRESHOLD and its rx copy threshold. */
#define DEFAULT_TX_COPYBREAK 512u
#define DEFAULT_RX_COPYBREAK 256u
/* Every NVSP message DPDK sends is padded to this. */
#define NVSP_MSG_SIZE 40u
/* An mbuf-like transmit buffer: 128 bytes of headroom in 2176 bytes. */
#define TX_BUF_STRIDE 2176u
#define TX_BUF_HEADROOM 128u
/* DPDK's RNDIS header slot: header and PPIs never exceed it. */
#define TX_HDR_SLOT NVG_HDR_SLOT
/* Bytes of each GPA-direct frame rewritten per request (its headers). */
#define TX_HDR_REWRITE 64u
/* Ranges a GPA-direct request has at most: header + 2 pages of frame. */
#define TX_MAX_SEGS 4u
/* Room for descriptor + GPA-direct header + ranges of one request. */
#define TX_GPA_HDR_MAX 128u
/* Ring packets taken per poll before the read index is published. */
#define POLL_BUDGET 256u
/* Largest host packet handled: a transfer-page packet of 375 ranges. */
#define PKT_BUF_SIZE 16384u
/*
 * Acknowledgements waiting for g2h ring space: one per delivery, and the
 * host has no more deliveries out than slots (64 MiB / 1856-byte slots at
 * MTU 1500 is 36k).
 */
#define ACK_BACKLOG 65536u
/* Loop iterations between looks at the clock (then at stdin, every 1 ms). */
#define CTL_CHECK_ITERS 64u
#define CTL_CHECK_NS 1000000ll
/* A trans_id names (tag | generation << 24 | slot). */
#define TID_TAG (UINT64_C(0x5a) << 56)
#define TID_TAG_MASK (UINT64_C(0xff) << 56)
#define TID_SLOT_MASK 0xffffffu
/* Most requests in flight (--inflight). */
#define MAX_SLOTS 4096u
/* Bound on draining in-flight requests at stop and quit. */
#define DRAIN_MS 2000u
/* Frame sizes: Ethernet's minimum (no FCS) up to a 9000-byte MTU. */
#define FRAME_MIN 60u
#define FRAME_MAX 9014u

enum mode {
	MODE_TX,	/* guest -> host */
	MODE_RX,	/* host -> guest */
};

struct opts {
	const char *socket_path;
	const char *vm;
	enum mode mode;
	uint32_t size;
	int cpu;
	uint32_t inflight;
	uint32_t tx_copybreak;
	uint32_t rx_copybreak;
	uint32_t recv_buf;
	uint32_t send_buf;
	uint32_t ring_pages;
	uint32_t timeout_s;
	bool hugepages;
};

/* A GPA-direct request, pre-encoded once per slot: only trans_id changes. */
struct gpa_tmpl {
	uint8_t hdr[TX_GPA_HDR_MAX];	/* descriptor + GPA-direct header + ranges */
	uint32_t hdr_len;
};

struct counters {
	uint64_t tx_frames;	/* frames of requests completed with SUCCESS */
	uint64_t tx_reqs;	/* requests put on the ring */
	uint64_t comp_fail;	/* completions with another status */
	uint64_t comp_bad;	/* completions naming no request in flight */
	uint64_t ring_full;	/* puts refused: g2h ring full */
	uint64_t rx_frames;	/* PACKET messages received */
	uint64_t rx_bytes;
	uint64_t rx_bad;	/* ranges or RNDIS messages that failed the checks */
	uint64_t xfers;		/* transfer-page packets */
	uint64_t acks;		/* acknowledgements put */
	uint64_t other;		/* host packets of no interest (notifications) */
	uint64_t busy_ticks;	/* time in data path iterations that did work */
	uint64_t idle_ticks;	/* ... that found nothing to do: waiting for the host */
};

struct guest {
	const struct opts *o;
	struct nvg *nvg;
	struct vmbs_br *g2h;
	struct vmbs_br *h2g;
	uint8_t *recv_va;
	uint32_t recv_size;
	uint8_t *send_va;
	uint32_t section_size;

	/* tx */
	bool chimney;			/* frames go into send-buffer sections */
	uint32_t frames_per_req;
	uint32_t reqs_per_burst;
	uint32_t nslots;
	uint32_t *free_slots;		/* stack of free slot numbers */
	uint32_t nfree;
	uint64_t *slot_tid;		/* in flight: trans_id; 0: free */
	uint32_t *slot_gen;
	uint8_t *sect_tmpl;		/* one section's aggregated frames */
	uint32_t sect_len;
	uint8_t *hdr_va;		/* GPA-direct: RNDIS header slots */
	uint8_t *buf_va;		/* GPA-direct: frame buffers */
	struct gpa_tmpl *gpa;
	uint8_t rndis_hdr[TX_HDR_SLOT];
	uint32_t rndis_hdr_len;
	uint8_t frame[FRAME_MAX];

	/* rx */
	uint8_t rx_copy[FRAME_MAX];
	uint64_t ack_tid[ACK_BACKLOG];
	uint32_t ack_cnt;

	bool running;
	struct counters c;
	uint8_t pkt[PKT_BUF_SIZE] __attribute__((aligned(64)));
};

/* A cheap clock for splitting time into busy and idle loop iterations. */
static inline uint64_t
ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void
wr32(void *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t
rd32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- frames ---- */

/*
 * An IPv4/UDP frame of @p len bytes like testpmd txonly's: broadcast
 * destination (the server's testpmd takes anything), our MAC as source,
 * 198.18.0.1 -> 198.18.0.2 (the benchmarking range), ports 9 -> 9.
 */
static void
frame_build(uint8_t *f, uint32_t len, const uint8_t *src_mac)
{
	uint32_t ip_len = len - 14, sum = 0, i;
	uint8_t *ip = f + 14, *udp = f + 34;

	memset(f, 0, len);
	memset(f, 0xff, 6);
	memcpy(f + 6, src_mac, 6);
	put_be16(f + 12, 0x0800);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)ip_len);
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 198;
	ip[13] = 18;
	ip[15] = 1;
	ip[16] = 198;
	ip[17] = 18;
	ip[19] = 2;
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_be16(ip + 10, (uint16_t)~sum);
	put_be16(udp, 9);
	put_be16(udp + 2, 9);
	put_be16(udp + 4, (uint16_t)(ip_len - 20));
	for (i = 42; i < len; i++)
		f[i] = (uint8_t)i;
}

/* ---- tx: requests ---- */

static uint64_t
slot_take(struct guest *gs, uint32_t *slot)
{
	uint32_t s = gs->free_slots[--gs->nfree];

	gs->slot_gen[s] = (gs->slot_gen[s] + 1) & 0xffffffu;
	*slot = s;
	return TID_TAG | (uint64_t)gs->slot_gen[s] << 24 | s;
}

static void
slot_give_back(struct guest *gs, uint32_t slot)
{
	gs->free_slots[gs->nfree++] = slot;
}

static int
put_chimney(struct guest *gs, uint32_t slot, uint64_t tid)
{
	uint8_t nv[NVSP_MSG_SIZE] = { 0 };
	struct vmbs_pkt_desc d = {
		.type = VMBS_PKT_DATA_INBAND,
		.offset8 = sizeof(struct vmbs_pkt_desc) / 8,
		.flags = VMBS_PKT_F_COMPLETION_REQUESTED,
		.trans_id = tid,
	};
	struct iovec iov = { nv, sizeof(nv) };

	/* DPDK copies every frame of the burst into the section. */
	memcpy(gs->send_va + (size_t)slot * gs->section_size, gs->sect_tmpl, gs->sect_len);
	wr32(nv, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	wr32(nv + 4, VMBS_NVSP_CHANNEL_DATA);
	wr32(nv + 8, slot);
	wr32(nv + 12, gs->sect_len);
	return vmbs_br_tx_put(gs->g2h, &d, &iov, 1);
}

static int
put_gpa(struct guest *gs, uint32_t slot, uint64_t tid)
{
	const struct gpa_tmpl *t = &gs->gpa[slot];
	uint8_t nv[NVSP_MSG_SIZE] = { 0 };
	struct vmbs_pkt_desc d;
	struct iovec iov[2];

	/* What a DPDK guest writes per packet: RNDIS header, frame headers. */
	memcpy(gs->hdr_va + (size_t)slot * TX_HDR_SLOT, gs->rndis_hdr, gs->rndis_hdr_len);
	memcpy(gs->buf_va + (size_t)slot * TX_BUF_STRIDE + TX_BUF_HEADROOM, gs->frame,
	       gs->o->size < TX_HDR_REWRITE ? gs->o->size : TX_HDR_REWRITE);
	memcpy(&d, t->hdr, sizeof(d));
	d.trans_id = tid;
	wr32(nv, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	wr32(nv + 4, VMBS_NVSP_CHANNEL_DATA);
	wr32(nv + 8, VMBS_NVSP_SECTION_NONE);
	iov[0].iov_base = (void *)(uintptr_t)(t->hdr + sizeof(d));
	iov[0].iov_len = t->hdr_len - sizeof(d);
	iov[1].iov_base = nv;
	iov[1].iov_len = sizeof(nv);
	return vmbs_br_tx_put(gs->g2h, &d, iov, 2);
}

/* One burst: up to 32 frames' worth of requests, published once. */
static uint32_t
tx_burst(struct guest *gs)
{
	uint32_t n, slot;
	uint64_t tid;
	int rc;

	for (n = 0; n < gs->reqs_per_burst && gs->nfree != 0; n++) {
		tid = slot_take(gs, &slot);
		rc = gs->chimney ? put_chimney(gs, slot, tid) : put_gpa(gs, slot, tid);
		if (rc != 0) {
			slot_give_back(gs, slot);
			gs->c.ring_full++;
			break;
		}
		gs->slot_tid[slot] = tid;
		gs->c.tx_reqs++;
	}
	/* No doorbell is registered: the server polls, the result is moot. */
	if (n != 0)
		(void)vmbs_br_tx_commit(gs->g2h);
	return n;
}

/* ---- host packets ---- */

static void
on_completion(struct guest *gs, uint64_t tid, const uint8_t *nvsp, uint32_t nlen)
{
	uint32_t slot = (uint32_t)tid & TID_SLOT_MASK;

	if (nlen < 8 || rd32(nvsp) != VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE) {
		gs->c.other++;
		return;
	}
	if ((tid & TID_TAG_MASK) != TID_TAG || slot >= gs->nslots || gs->slot_tid[slot] != tid) {
		/* RNDIS control completions of bring-up carry trans_id 0. */
		if (tid != 0)
			gs->c.comp_bad++;
		return;
	}
	gs->slot_tid[slot] = 0;
	slot_give_back(gs, slot);
	if (rd32(nvsp + 4) == VMBS_NVSP_STATUS_SUCCESS)
		gs->c.tx_frames += gs->frames_per_req;
	else
		gs->c.comp_fail++;
}

static int
ack_put(struct guest *gs, uint64_t tid)
{
	uint8_t nv[NVSP_MSG_SIZE] = { 0 };
	struct vmbs_pkt_desc d = {
		.type = VMBS_PKT_COMP,
		.offset8 = sizeof(struct vmbs_pkt_desc) / 8,
		.flags = 0,
		.trans_id = tid,
	};
	struct iovec iov = { nv, sizeof(nv) };

	wr32(nv, VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE);
	wr32(nv + 4, VMBS_NVSP_STATUS_SUCCESS);
	return vmbs_br_tx_put(gs->g2h, &d, &iov, 1);
}

/* Acknowledge a delivery, or keep it (in order) while the ring is full. */
static void
ack_delivery(struct guest *gs, uint64_t tid)
{
	if (gs->ack_cnt == 0 && ack_put(gs, tid) == 0) {
		gs->c.acks++;
		return;
	}
	if (gs->ack_cnt < ACK_BACKLOG)
		gs->ack_tid[gs->ack_cnt++] = tid;
	else
		gs->c.rx_bad++;	/* not with the buffers this guest offers */
}

static void
ack_flush(struct guest *gs)
{
	uint32_t i = 0;

	while (i < gs->ack_cnt && ack_put(gs, gs->ack_tid[i]) == 0)
		i++;
	if (i != 0) {
		memmove(gs->ack_tid, gs->ack_tid + i, (gs->ack_cnt - i) * sizeof(gs->ack_tid[0]));
		gs->ack_cnt -= i;
		gs->c.acks += i;
	}
}

/* One receive-buffer range: DPDK's hn_rndis_rx_data() checks. */
static void
on_range(struct guest *gs, uint32_t off, uint32_t len)
{
	const uint8_t *m = gs->recv_va + off;
	struct vmbs_rndis_packet pk;
	uint64_t data_off;

	if (len < sizeof(pk)) {
		gs->c.rx_bad++;
		return;
	}
	memcpy(&pk, m, sizeof(pk));
	if (pk.hdr.type != VMBS_RNDIS_MSG_PACKET) {
		/* Status indications and control replies: acknowledged below. */
		gs->c.other++;
		return;
	}
	data_off = (uint64_t)pk.data_offset + VMBS_RNDIS_BODY_OFFSET;
	if (pk.hdr.len > len || data_off + pk.data_len > pk.hdr.len || pk.data_len < 14 ||
	    pk.data_len > FRAME_MAX) {
		gs->c.rx_bad++;
		return;
	}
	if (pk.data_len < gs->o->rx_copybreak)
		memcpy(gs->rx_copy, m + data_off, pk.data_len);
	gs->c.rx_frames++;
	gs->c.rx_bytes += pk.data_len;
}

static void
on_xfer(struct guest *gs, const uint8_t *pkt, uint32_t len, const struct vmbs_pkt_desc *d)
{
	uint32_t hlen = (uint32_t)d->offset8 * 8u, i, off, rlen;
	struct vmbs_xfer_hdr xh;

	gs->c.xfers++;
	if (hlen < sizeof(*d) + sizeof(xh) || hlen > len) {
		gs->c.rx_bad++;
		return;
	}
	memcpy(&xh, pkt + sizeof(*d), sizeof(xh));
	if ((uint64_t)sizeof(*d) + sizeof(xh) + (uint64_t)xh.range_cnt * 8u > hlen) {
		gs->c.rx_bad++;
		return;
	}
	for (i = 0; i < xh.range_cnt; i++) {
		const uint8_t *r = pkt + sizeof(*d) + sizeof(xh) + (size_t)i * 8u;

		rlen = rd32(r);
		off = rd32(r + 4);
		if (rlen == 0 || (uint64_t)off + rlen > gs->recv_size) {
			gs->c.rx_bad++;
			continue;
		}
		on_range(gs, off, rlen);
	}
	ack_delivery(gs, d->trans_id);
}

/*
 * Take what the host wrote (up to POLL_BUDGET packets), publish the read
 * index once, then publish the acknowledgements once.
 */
static uint32_t
h2g_poll(struct guest *gs)
{
	struct vmbs_pkt_desc d;
	uint32_t n = 0, off;
	int len;

	if (gs->ack_cnt != 0)
		ack_flush(gs);
	if (vmbs_br_rx_begin(gs->h2g) != 0)
		goto out;
	while (n < POLL_BUDGET) {
		len = vmbs_br_rx_next(gs->h2g, gs->pkt, sizeof(gs->pkt));
		if (len < 0)
			break;
		n++;
		memcpy(&d, gs->pkt, sizeof(d));
		off = (uint32_t)d.offset8 * 8u;
		if (d.type == VMBS_PKT_COMP && off <= (uint32_t)len)
			on_completion(gs, d.trans_id, gs->pkt + off, (uint32_t)len - off);
		else if (d.type == VMBS_PKT_DATA_XFER_PAGES)
			on_xfer(gs, gs->pkt, (uint32_t)len, &d);
		else
			gs->c.other++;
	}
	if (n != 0)
		(void)vmbs_br_rx_commit(gs->h2g);
out:
	(void)vmbs_br_tx_commit(gs->g2h);
	return n;
}

static uint32_t
inflight(const struct guest *gs)
{
	return gs->nslots - gs->nfree;
}

/* Reap until nothing is in flight (bounded). */
static void
drain(struct guest *gs)
{
	int64_t end = now_ns() + (int64_t)DRAIN_MS * 1000000ll;

	while ((inflight(gs) != 0 || gs->ack_cnt != 0) && now_ns() < end)
		h2g_poll(gs);
	/* Deliveries still on their way (the host stopped just before us). */
	end = now_ns() + 5000000ll;
	while (now_ns() < end)
		h2g_poll(gs);
}

/* ---- setup ---- */

/* hn_try_txagg(): frames packed into one section, each padded to the alignment. */
static int
tx_setup_chimney(struct guest *gs, const struct nvg_info *inf)
{
	struct nvg_frame f;
	uint32_t limit = inf->section_size, off = 0, prev = UINT32_MAX, n, plen, pad;

	if (inf->agg_size != 0 && inf->agg_size < limit)
		limit = inf->agg_size;
	gs->sect_tmpl = calloc(1, inf->section_size);
	if (gs->sect_tmpl == NULL)
		return -ENOMEM;
	memset(&f, 0, sizeof(f));
	f.data = gs->frame;
	f.len = gs->o->size;
	for (n = 0; n < inf->agg_pkts && n < TX_BURST_FRAMES; n++) {
		pad = 0;
		if (prev != UINT32_MAX) {
			plen = rd32(gs->sect_tmpl + prev + 4);
			pad = ((plen + inf->agg_align - 1) / inf->agg_align) * inf->agg_align - plen;
		}
		/* Header + one PPI + frame, as nvg_encap() writes it. */
		if (off + pad + sizeof(struct vmbs_rndis_packet) + VMBS_RNDIS_PPI_U32_SIZE +
		    f.len > limit)
			break;
		if (prev != UINT32_MAX) {
			wr32(gs->sect_tmpl + prev + 4, rd32(gs->sect_tmpl + prev + 4) + pad);
			off += pad;
		}
		prev = off;
		off += nvg_encap(gs->sect_tmpl + off, 0, &f, NULL);
	}
	if (n == 0)
		return -E2BIG;
	gs->frames_per_req = n;
	gs->sect_len = off;
	gs->reqs_per_burst = (TX_BURST_FRAMES + n - 1) / n;
	gs->nslots = gs->o->inflight < inf->section_cnt ? gs->o->inflight : inf->section_cnt;
	return 0;
}

/* hn_xmit_sg(): header slot, then the frame's pages. */
static int
tx_setup_gpa(struct guest *gs)
{
	struct vmbs_cli *cli = nvg_cli(gs->nvg);
	struct vmbs_desc_gpa_seg segs[TX_MAX_SEGS];
	struct vmbs_desc_layout lay;
	struct nvg_frame f;
	uint64_t hdr_gpa, buf_gpa, gpa;
	uint32_t s, nseg, chunk, left;
	int rc;

	gs->nslots = gs->o->inflight;
	rc = vmbs_cli_alloc(cli, (uint64_t)gs->nslots * TX_HDR_SLOT, 0, &hdr_gpa);
	if (rc == 0)
		rc = vmbs_cli_alloc(cli, (uint64_t)gs->nslots * TX_BUF_STRIDE, 0, &buf_gpa);
	if (rc != 0)
		return rc;
	gs->hdr_va = vmbs_cli_va(cli, hdr_gpa, (uint64_t)gs->nslots * TX_HDR_SLOT);
	gs->buf_va = vmbs_cli_va(cli, buf_gpa, (uint64_t)gs->nslots * TX_BUF_STRIDE);
	gs->gpa = calloc(gs->nslots, sizeof(*gs->gpa));
	if (gs->hdr_va == NULL || gs->buf_va == NULL || gs->gpa == NULL)
		return -ENOMEM;
	memset(&f, 0, sizeof(f));
	f.data = gs->frame;
	f.len = 0;
	/* The header alone (no frame bytes): data_len is patched below. */
	gs->rndis_hdr_len = nvg_encap(gs->rndis_hdr, 0, &f, NULL);
	wr32(gs->rndis_hdr + 4, gs->rndis_hdr_len + gs->o->size);	/* msg len */
	wr32(gs->rndis_hdr + 12, gs->o->size);				/* data_len */
	for (s = 0; s < gs->nslots; s++) {
		memcpy(gs->buf_va + (size_t)s * TX_BUF_STRIDE + TX_BUF_HEADROOM, gs->frame,
		       gs->o->size);
		segs[0].gpa = hdr_gpa + (uint64_t)s * TX_HDR_SLOT;
		segs[0].len = gs->rndis_hdr_len;
		nseg = 1;
		gpa = buf_gpa + (uint64_t)s * TX_BUF_STRIDE + TX_BUF_HEADROOM;
		for (left = gs->o->size; left != 0 && nseg < TX_MAX_SEGS; left -= chunk) {
			chunk = VMBS_PAGE_SIZE - (uint32_t)(gpa & (VMBS_PAGE_SIZE - 1));
			if (chunk > left)
				chunk = left;
			segs[nseg].gpa = gpa;
			segs[nseg++].len = chunk;
			gpa += chunk;
		}
		if (left != 0)
			return -E2BIG;
		rc = vmbs_desc_encode_gpa(gs->gpa[s].hdr, sizeof(gs->gpa[s].hdr), 0,
					  VMBS_PKT_F_COMPLETION_REQUESTED, segs, nseg,
					  NVSP_MSG_SIZE, &lay);
		if (rc != 0)
			return rc;
		gs->gpa[s].hdr_len = lay.hdr_len;
	}
	gs->frames_per_req = 1;
	gs->reqs_per_burst = TX_BURST_FRAMES;
	return 0;
}

static int
tx_setup(struct guest *gs)
{
	const struct nvg_info *inf = nvg_info(gs->nvg);
	uint32_t s;
	int rc;

	gs->chimney = gs->o->size <= gs->o->tx_copybreak && inf->section_cnt != 0;
	rc = gs->chimney ? tx_setup_chimney(gs, inf) : tx_setup_gpa(gs);
	if (rc != 0)
		return rc;
	gs->free_slots = calloc(gs->nslots, sizeof(*gs->free_slots));
	gs->slot_tid = calloc(gs->nslots, sizeof(*gs->slot_tid));
	gs->slot_gen = calloc(gs->nslots, sizeof(*gs->slot_gen));
	if (gs->free_slots == NULL || gs->slot_tid == NULL || gs->slot_gen == NULL)
		return -ENOMEM;
	/* Lowest slot on top: a small working set while the host keeps up. */
	for (s = 0; s < gs->nslots; s++)
		gs->free_slots[s] = gs->nslots - 1 - s;
	gs->nfree = gs->nslots;
	return 0;
}

static uint64_t
mem_need(const struct opts *o)
{
	/* nv_guest's own share for one queue (nv_guest.c sizes it alike). */
	uint64_t need = (uint64_t)o->recv_buf + o->send_buf +
			2ull * o->ring_pages * VMBS_PAGE_SIZE +
			(uint64_t)NVG_TXD_PER_QUEUE * (NVG_HDR_SLOT + NVG_TXD_DATA_SIZE);

	/* Ours: GPA-direct header slots and frame buffers, then slack. */
	need += (uint64_t)o->inflight * (TX_HDR_SLOT + TX_BUF_STRIDE) + (8u << 20);
	return (need + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
}

static int
bring_up(struct guest *gs, const struct opts *o)
{
	int64_t deadline = now_ns() + (int64_t)o->timeout_s * 1000000000ll;
	struct vmbs_cli_chan *ch;
	struct nvg_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.socket_path = o->socket_path;
	p.vm_name = o->vm;
	p.mem_size = mem_need(o);
	p.recv_buf_size = o->recv_buf;
	p.send_buf_size = o->send_buf;
	p.ring_pages = o->ring_pages;
	p.max_queues = 1;
	p.timeout_ms = 5000;
	p.hugepages = o->hugepages;
	/* The server may still be starting: retry while the VM is unknown. */
	for (;;) {
		rc = nvg_attach(&p, &gs->nvg);
		if (rc == 0 || now_ns() >= deadline)
			break;
		usleep(100000);
	}
	if (rc != 0) {
		fprintf(stderr, "bench_nvguest: attach to %s as %s: %d\n", o->socket_path, o->vm,
			rc);
		return rc;
	}
	rc = nvg_bringup(gs->nvg);
	if (rc == 0)
		rc = nvg_configure(gs->nvg, 1);
	if (rc == 0)
		rc = nvg_start(gs->nvg);
	/* testpmd turns promiscuous mode on in every port it starts. */
	if (rc == 0)
		rc = nvg_set_filter(gs->nvg, VMBS_NDIS_FILTER_PROMISCUOUS);
	if (rc != 0) {
		fprintf(stderr, "bench_nvguest: bring-up: %d\n", rc);
		return rc;
	}
	/* What the host sent meanwhile (RNDIS replies, status) is taken. */
	while (nvg_poll(gs->nvg) > 0)
		;
	ch = nvg_chan(gs->nvg, 0);
	if (ch == NULL)
		return -ENODEV;
	gs->g2h = vmbs_cli_chan_g2h(ch);
	gs->h2g = vmbs_cli_chan_h2g(ch);
	gs->recv_size = nvg_info(gs->nvg)->recv_size;
	gs->recv_va = vmbs_cli_va(nvg_cli(gs->nvg), nvg_info(gs->nvg)->recv_gpa, gs->recv_size);
	gs->section_size = nvg_info(gs->nvg)->section_size;
	gs->send_va = vmbs_cli_va(nvg_cli(gs->nvg), nvg_info(gs->nvg)->send_gpa,
				  nvg_info(gs->nvg)->send_size);
	if (gs->recv_va == NULL || gs->send_va == NULL)
		return -ENOMEM;
	frame_build(gs->frame, o->size, nvg_info(gs->nvg)->mac);
	return o->mode == MODE_TX ? tx_setup(gs) : 0;
}

/* ---- control ---- */

static void
reply_stats(const struct guest *gs)
{
	const struct counters *c = &gs->c;

	printf("stats t_ns=%" PRId64 " frames=%" PRIu64 " tx_frames=%" PRIu64
	       " tx_reqs=%" PRIu64 " comp_fail=%" PRIu64 " comp_bad=%" PRIu64
	       " ring_full=%" PRIu64 " rx_frames=%" PRIu64 " rx_bytes=%" PRIu64
	       " rx_bad=%" PRIu64 " xfers=%" PRIu64 " acks=%" PRIu64 " other=%" PRIu64
	       " busy_ticks=%" PRIu64 " idle_ticks=%" PRIu64 " inflight=%u\n",
	       now_ns(), gs->o->mode == MODE_TX ? c->tx_frames : c->rx_frames, c->tx_frames,
	       c->tx_reqs, c->comp_fail, c->comp_bad, c->ring_full, c->rx_frames, c->rx_bytes,
	       c->rx_bad, c->xfers, c->acks, c->other, c->busy_ticks, c->idle_ticks,
	       gs->o->mode == MODE_TX ? inflight(gs) : 0);
	fflush(stdout);
}

enum ctl_result {
	CTL_NONE,
	CTL_QUIT,
};

/* Handle the complete lines on stdin; EOF is quit. */
static enum ctl_result
ctl_read(struct guest *gs)
{
	static char buf[256];
	static size_t have;
	char *nl;
	ssize_t n;

	n = read(STDIN_FILENO, buf + have, sizeof(buf) - 1 - have);
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		return CTL_QUIT;
	if (n > 0)
		have += (size_t)n;
	buf[have] = '\0';
	while ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		if (strcmp(buf, "start") == 0) {
			gs->running = true;
			printf("started\n");
		} else if (strcmp(buf, "stop") == 0) {
			gs->running = false;
			drain(gs);
			printf("stopped inflight=%u\n",
			       gs->o->mode == MODE_TX ? inflight(gs) : 0);
		} else if (strcmp(buf, "stats") == 0) {
			reply_stats(gs);
		} else if (strcmp(buf, "quit") == 0) {
			return CTL_QUIT;
		} else if (buf[0] != '\0') {
			printf("error unknown command '%s'\n", buf);
		}
		fflush(stdout);
		have -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, have + 1);
	}
	if (have == sizeof(buf) - 1)
		have = 0;	/* a line that long is garbage */
	return CTL_NONE;
}

static bool
ctl_pending(int timeout_ms)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) > 0;
}

static void
run(struct guest *gs)
{
	int64_t next_ctl = 0, t;
	uint32_t iter = 0, work;
	uint64_t t_prev = ticks(), t_now;

	for (;;) {
		if (!gs->running) {
			/* Idle: sleep on stdin, acknowledge stray deliveries. */
			if (ctl_pending(20) && ctl_read(gs) == CTL_QUIT)
				return;
			h2g_poll(gs);
			t_prev = ticks();
			continue;
		}
		work = h2g_poll(gs);
		if (gs->o->mode == MODE_TX)
			work += tx_burst(gs);
		/* One clock read per iteration: the iteration just run is busy or idle. */
		t_now = ticks();
		if (work == 0)
			gs->c.idle_ticks += t_now - t_prev;
		else
			gs->c.busy_ticks += t_now - t_prev;
		t_prev = t_now;
		if (++iter % CTL_CHECK_ITERS == 0) {
			t = now_ns();
			if (t >= next_ctl) {
				next_ctl = t + CTL_CHECK_NS;
				if (ctl_pending(0) && ctl_read(gs) == CTL_QUIT)
					return;
			}
		}
	}
}

/* ---- options ---- */

static int
parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v)
{
	unsigned long x;
	char *end;

	if (*s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	x = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --socket PATH --vm NAME --mode tx|rx [--size BYTES (64)]\n"
		"          [--cpu N (1)] [--inflight REQS (512)] [--tx-copybreak BYTES (512)]\n"
		"          [--rx-copybreak BYTES (256)] [--recv-buf BYTES (31 MiB)]\n"
		"          [--send-buf BYTES (16 MiB)] [--ring-pages N (512)]\n"
		"          [--timeout-s S (30)] [--no-hugepages]\n", prog);
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "vm", required_argument, NULL, 'v' },
		{ "mode", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 'z' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "tx-copybreak", required_argument, NULL, 'T' },
		{ "rx-copybreak", required_argument, NULL, 'R' },
		{ "recv-buf", required_argument, NULL, 'r' },
		{ "send-buf", required_argument, NULL, 'b' },
		{ "ring-pages", required_argument, NULL, 'p' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "no-hugepages", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t cpu;
	int c, li = 0, rc;

	memset(o, 0, sizeof(*o));
	o->mode = MODE_TX;
	o->size = 64;
	o->cpu = 1;
	o->inflight = 512;
	o->tx_copybreak = DEFAULT_TX_COPYBREAK;
	o->rx_copybreak = DEFAULT_RX_COPYBREAK;
	/* uio_hv_generic's buffers and rings, which DPDK's netvsc runs on. */
	o->recv_buf = 31u << 20;
	o->send_buf = 16u << 20;
	o->ring_pages = 512;
	o->timeout_s = 30;
	o->hugepages = true;
	while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
		rc = 0;
		switch (c) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'v':
			o->vm = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "tx") == 0)
				o->mode = MODE_TX;
			else if (strcmp(optarg, "rx") == 0)
				o->mode = MODE_RX;
			else
				rc = -EINVAL;
			break;
		case 'z':
			rc = parse_u32(optarg, FRAME_MIN, FRAME_MAX, &o->size);
			break;
		case 'c':
			rc = parse_u32(optarg, 0, CPU_SETSIZE - 1, &cpu);
			o->cpu = (int)cpu;
			break;
		case 'i':
			rc = parse_u32(optarg, 1, MAX_SLOTS, &o->inflight);
			break;
		case 'T':
			rc = parse_u32(optarg, 0, FRAME_MAX, &o->tx_copybreak);
			break;
		case 'R':
			rc = parse_u32(optarg, 0, FRAME_MAX + 1, &o->rx_copybreak);
			break;
		case 'r':
			rc = parse_u32(optarg, 1u << 20, 64u << 20, &o->recv_buf);
			break;
		case 'b':
			rc = parse_u32(optarg, 1u << 20, 64u << 20, &o->send_buf);
			break;
		case 'p':
			rc = parse_u32(optarg, 4, 4096, &o->ring_pages);
			break;
		case 't':
			rc = parse_u32(optarg, 1, 3600, &o->timeout_s);
			break;
		case 'H':
			o->hugepages = false;
			break;
		default:
			return -EINVAL;
		}
		if (rc != 0) {
			fprintf(stderr, "bench_nvguest: bad value for --%s: %s\n", lo[li].name,
				optarg);
			return rc;
		}
	}
	if (optind != argc || o->socket_path == NULL || o->vm == NULL)
		return -EINVAL;
	return 0;
}

int
main(int argc, char **argv)
{
	struct guest *gs;
	struct opts o;
	cpu_set_t set;
	int rc;

	if (parse_args(argc, argv, &o) != 0) {
		usage(argv[0]);
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET(o.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "bench_nvguest: cannot pin to CPU %d: %s\n", o.cpu,
			strerror(errno));
		return 1;
	}
	gs = aligned_alloc(64, (sizeof(*gs) + 63) & ~(size_t)63);
	if (gs == NULL)
		return 1;
	memset(gs, 0, sizeof(*gs));
	gs->o = &o;
	rc = bring_up(gs, &o);
	if (rc != 0) {
		printf("error bring-up %d\n", rc);
		nvg_destroy(gs->nvg);
		return 1;
	}
	printf("ready mac=%02x:%02x:%02x:%02x:%02x:%02x mode=%s size=%u layout=%s "
	       "frames_per_req=%u slots=%u\n",
	       nvg_info(gs->nvg)->mac[0], nvg_info(gs->nvg)->mac[1], nvg_info(gs->nvg)->mac[2],
	       nvg_info(gs->nvg)->mac[3], nvg_info(gs->nvg)->mac[4], nvg_info(gs->nvg)->mac[5],
	       o.mode == MODE_TX ? "tx" : "rx", o.size,
	       o.mode == MODE_RX ? "recv-buffer" : gs->chimney ? "send-buffer" : "gpa-direct",
	       gs->frames_per_req, gs->nslots);
	fflush(stdout);
	run(gs);
	gs->running = false;
	drain(gs);
	nvg_detach(gs->nvg);
	printf("bye\n");
	fflush(stdout);
	return 0;
}
