/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/txoff without the EAL: header parsing at every truncation, hostile
 * header fields, random bytes, and checksums and segments checked against
 * an independent byte-wise reference for random frames split into random
 * iovecs. Under ASan every read beyond a frame is a failure.
 */

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_common.h>

#include "vmbs_rndis.h"
#include "vmbs_test.h"
#include "vmbs_txoff.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

struct frame {
	uint8_t b[12000];
	uint32_t len, l2, l3, l4, payload;
	bool v6;
	uint8_t proto;
};

/* A well-formed frame: VLAN tags 0-2, IPv4 (options) or IPv6, TCP or UDP. */
static void
mk(struct frame *f, bool v6, uint8_t proto, uint32_t tags, uint32_t ip_opts,
   uint32_t tcp_opts, uint32_t payload)
{
	/* IPv6: @p ip_opts bytes of extension headers (multiples of 8). */
	uint8_t *ip, *l4;
	uint32_t i, l4len;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 12; i++)
		f->b[i] = (uint8_t)rng();
	f->l2 = 12;
	for (i = 0; i < tags; i++) {
		f->b[f->l2] = i == 0 && tags == 2 ? 0x88 : 0x81;
		f->b[f->l2 + 1] = i == 0 && tags == 2 ? 0xa8 : 0x00;
		f->b[f->l2 + 2] = (uint8_t)rng();
		f->b[f->l2 + 3] = (uint8_t)rng();
		f->l2 += 4;
	}
	f->b[f->l2] = v6 ? 0x86 : 0x08;
	f->b[f->l2 + 1] = v6 ? 0xdd : 0x00;
	f->l2 += 2;
	f->v6 = v6;
	f->proto = proto;
	f->l3 = (v6 ? 40 : 20) + ip_opts;
	f->l4 = proto == IPPROTO_TCP ? 20 + tcp_opts : 8;
	f->payload = payload;
	l4len = f->l4 + payload;
	f->len = f->l2 + f->l3 + l4len;
	ip = f->b + f->l2;
	l4 = ip + f->l3;
	for (i = 0; i < f->l3 + l4len; i++)
		ip[i] = (uint8_t)rng();
	if (v6) {
		uint32_t off = 40, nh = 6;

		ip[0] = 0x60;
		ip[4] = (uint8_t)((f->l3 - 40 + l4len) >> 8);
		ip[5] = (uint8_t)(f->l3 - 40 + l4len);
		/* Hop-by-hop first, then destination options / finished routing. */
		while (off < f->l3) {
			uint32_t len = f->l3 - off > 16 && (rng() & 1) ? 16 : 8;
			uint8_t kind = off == 40 ? 0 : (rng() & 1) ? 60 : 43;

			len = len > f->l3 - off ? f->l3 - off : len;
			ip[nh] = kind;
			ip[off + 1] = (uint8_t)(len / 8 - 1);
			if (kind == 43)
				ip[off + 3] = 0;	/* segments left */
			nh = off;
			off += len;
		}
		ip[nh] = proto;
	} else {
		ip[0] = (uint8_t)(0x40 | (f->l3 / 4));
		ip[2] = (uint8_t)((f->l3 + l4len) >> 8);
		ip[3] = (uint8_t)(f->l3 + l4len);
		ip[6] = 0x40;	/* DF, offset 0 */
		ip[7] = 0;
		ip[9] = proto;
	}
	if (proto == IPPROTO_TCP)
		l4[12] = (uint8_t)((f->l4 / 4) << 4);
	else {
		l4[4] = (uint8_t)(l4len >> 8);
		l4[5] = (uint8_t)l4len;
	}
}

/* The frame cut into up to @p max random iovecs (some empty). */
static uint16_t
split(const struct frame *f, uint32_t len, struct iovec *iov, uint16_t max)
{
	uint32_t off = 0;
	uint16_t n = 0;

	while (off < len && n + 1 < max) {
		uint32_t c = rng() % 300;

		c = c > len - off ? len - off : c;
		iov[n].iov_base = (void *)(uintptr_t)(f->b + off);
		iov[n++].iov_len = c;
		off += c;
	}
	if (off < len) {
		iov[n].iov_base = (void *)(uintptr_t)(f->b + off);
		iov[n++].iov_len = len - off;
	}
	return n;
}

/* One segment's bytes gathered. */
static uint32_t
gather(const struct iovec *v, uint16_t n, uint8_t *out)
{
	uint32_t len = 0;
	uint16_t k;

	for (k = 0; k < n; k++) {
		memcpy(out + len, v[k].iov_base, v[k].iov_len);
		len += (uint32_t)v[k].iov_len;
	}
	return len;
}

static bool
csums_ok(const struct frame *f, const uint8_t *s, uint32_t len)
{
	const uint8_t *ip = s + f->l2, *l4 = ip + f->l3;
	uint32_t l4len = len - f->l2 - f->l3, acc;

	if (!f->v6) {
		if (vmbs_test_ref_sum(0, ip, f->l3) != 0xffff)
			return false;
		acc = vmbs_test_ref_sum(0, ip + 12, 8);
	} else {
		acc = vmbs_test_ref_sum(0, ip + 8, 32);
	}
	return vmbs_test_ref_sum(acc + f->proto + l4len, l4, l4len) == 0xffff;
}

static void
parse_finds_every_header_layout(void)
{
	static struct frame f;
	struct vmbs_txoff_hdrs h;
	struct iovec iov[64];
	uint32_t tags, v6, tcp;

	for (tags = 0; tags <= 2; tags++)
		for (v6 = 0; v6 <= 1; v6++)
			for (tcp = 0; tcp <= 1; tcp++) {
				uint8_t proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
				uint16_t n;

				mk(&f, v6, proto, tags, v6 ? 24 : 40, tcp ? 40 : 0, 700);
				n = split(&f, f.len, iov, 64);
				CU_ASSERT_EQUAL_FATAL(vmbs_txoff_parse(iov, n, f.len, false, &h), 0);
				CU_ASSERT_EQUAL(h.l2, f.l2);
				CU_ASSERT_EQUAL(h.l3, f.l3);
				CU_ASSERT_EQUAL(h.l4, f.l4);
				CU_ASSERT_EQUAL(h.payload, 700);
				CU_ASSERT_EQUAL(h.ipv4, !v6);
				CU_ASSERT_EQUAL(h.proto, proto);
				CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, n, f.len, true, &h),
						tcp ? 0 : -EPROTONOSUPPORT);
			}
}

/* Cut anywhere inside the headers: refused, never read beyond the cut. */
static void
truncated_headers_are_refused(void)
{
	static struct frame f;
	struct vmbs_txoff_hdrs h;
	struct iovec iov[64];
	uint32_t cut;

	mk(&f, false, IPPROTO_TCP, 2, 40, 40, 100);
	for (cut = 0; cut < f.l2 + f.l3 + f.l4; cut++) {
		/* A private copy of exactly @p cut bytes: ASan sees any overread. */
		uint8_t *copy = malloc(cut + 1);
		uint16_t n;

		memcpy(copy, f.b, cut);
		iov[0].iov_base = copy;
		iov[0].iov_len = cut;
		n = 1;
		CU_ASSERT_NOT_EQUAL(vmbs_txoff_parse(iov, n, cut, false, &h), 0);
		free(copy);
	}
}

/* Lying header fields: refused or clamped to the frame. */
static void
hostile_fields_are_refused_or_clamped(void)
{
	static struct frame f;
	struct vmbs_txoff_hdrs h;
	struct iovec iov[1];
	uint32_t i;

	mk(&f, false, IPPROTO_TCP, 0, 0, 0, 50);
	iov[0].iov_base = f.b;
	iov[0].iov_len = f.len;
	f.b[14] = 0x44;	/* IHL 4 */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EINVAL);
	f.b[14] = 0x4f;	/* IHL 15: TCP then starts in the payload; whatever it says */
	if (vmbs_txoff_parse(iov, 1, f.len, false, &h) == 0)
		CU_ASSERT(h.l2 + h.l3 + h.l4 + h.payload <= f.len);
	f.b[14] = 0x55;	/* version 5 */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EINVAL);
	mk(&f, false, IPPROTO_TCP, 0, 0, 0, 50);
	f.b[34 + 12] = 0x40;	/* TCP data offset 4 */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EINVAL);
	f.b[34 + 12] = 0xf0;	/* 60 B of TCP header: 50 B of payload cannot hold it */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), 0);
	CU_ASSERT_EQUAL(h.l4, 60);
	CU_ASSERT(h.l2 + h.l3 + h.l4 + h.payload <= f.len);
	mk(&f, false, IPPROTO_UDP, 0, 0, 0, 50);
	f.b[16] = 0xff;	/* IP total length beyond the frame: the frame's end */
	f.b[17] = 0xff;
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), 0);
	CU_ASSERT_EQUAL(h.payload, 50);
	f.b[16] = 0;	/* shorter than its own headers: the frame's end */
	f.b[17] = 10;
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), 0);
	CU_ASSERT_EQUAL(h.payload, 50);
	f.b[23] = 1;	/* ICMP */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EPROTONOSUPPORT);
	mk(&f, false, IPPROTO_TCP, 0, 0, 0, 50);
	f.b[20] = 0x20;	/* MF: a fragment, IP checksum only; no TSO */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), 0);
	CU_ASSERT(h.fragment);
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, true, &h), -EPROTONOSUPPORT);
	/* IPv6 with one 8 B extension header at 54. */
	mk(&f, true, IPPROTO_UDP, 0, 8, 0, 50);
	iov[0].iov_len = f.len;
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), 0);
	CU_ASSERT_EQUAL(h.l3, 48);
	f.b[20] = 43;	/* a routing header... */
	f.b[54 + 3] = 1;	/* ...with a segment left: another final destination */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EPROTONOSUPPORT);
	f.b[20] = 44;	/* a fragment header */
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EPROTONOSUPPORT);
	f.b[20] = 60;	/* destination options 2 KiB long, in a 120 B frame */
	f.b[54 + 1] = 255;
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EINVAL);
	/* Eight destination-options headers in a row: the walk stops there. */
	for (i = 0; i < 8; i++) {
		f.b[54 + 8 * i] = 60;
		f.b[55 + 8 * i] = 0;
	}
	CU_ASSERT_EQUAL(vmbs_txoff_parse(iov, 1, f.len, false, &h), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(vmbs_txoff_nseg(&h, 0), 0);
}

/* Random bytes: whatever parses, segments inside the frame. */
static void
random_bytes_never_read_beyond_the_frame(void)
{
	static struct frame f;
	static uint8_t seg[12000];
	struct vmbs_txoff_hdrs h;
	struct iovec iov[64], out[66];
	uint8_t hdr[VMBS_TXOFF_HDR_MAX];
	uint32_t it, parsed = 0;

	for (it = 0; it < 20000; it++) {
		uint32_t len = rng() % 400, i, csum, k, nseg, mss;
		uint8_t *copy;
		uint16_t n, c;

		mk(&f, rng() & 1, rng() & 1 ? IPPROTO_TCP : IPPROTO_UDP, rng() % 3, 0, 0, 300);
		/* Flip a few header bytes, then cut. */
		for (i = 0; i < 4; i++)
			f.b[rng() % 100] = (uint8_t)rng();
		len = len > f.len ? f.len : len;
		copy = malloc(len + 1);
		memcpy(copy, f.b, len);
		n = 0;
		iov[n].iov_base = copy;
		iov[n++].iov_len = len / 2;
		iov[n].iov_base = copy + len / 2;
		iov[n++].iov_len = len - len / 2;
		if (vmbs_txoff_parse(iov, n, len, (it & 1) != 0, &h) == 0) {
			parsed++;
			CU_ASSERT((uint32_t)h.l2 + h.l3 + h.l4 <= len);
			CU_ASSERT(h.l2 + h.l3 + h.l4 + h.payload <= len);
			mss = 1 + rng() % 200;
			nseg = (it & 1) ? vmbs_txoff_nseg(&h, mss) : 1;
			for (k = 0; k < nseg; k++) {
				c = vmbs_txoff_segment(&h, iov, n, (it & 1) ? mss : 0, k, nseg, hdr,
						       out, 66, &csum);
				CU_ASSERT(c > 0);
				CU_ASSERT(gather(out, c, seg) <= len);
			}
		}
		free(copy);
	}
	CU_ASSERT(parsed > 1000);
}

/* Checksums and segments of random well-formed frames in random pieces. */
static void
random_frames_sum_and_segment_right(void)
{
	static struct frame f;
	static uint8_t seg[12000], joined[12000];
	struct vmbs_txoff_hdrs h;
	struct iovec iov[64], out[66];
	uint8_t hdr[VMBS_TXOFF_HDR_MAX];
	uint32_t it;

	for (it = 0; it < 3000; it++) {
		bool v6 = rng() & 1, tso = (it % 3) == 0;
		uint8_t proto = tso || (rng() & 1) ? IPPROTO_TCP : IPPROTO_UDP;
		uint32_t payload = rng() % 9000, mss = tso ? 1 + rng() % 3000 : 0;
		uint32_t nseg, k, got = 0, hl, csum, want;
		uint16_t n, c;

		mk(&f, v6, proto, rng() % 3, v6 ? (rng() % 5) * 8 : (rng() % 11) * 4,
		   proto == IPPROTO_TCP ? (rng() % 11) * 4 : 0, payload);
		n = split(&f, f.len, iov, 64);
		CU_ASSERT_EQUAL_FATAL(vmbs_txoff_parse(iov, n, f.len, tso, &h), 0);
		nseg = tso ? vmbs_txoff_nseg(&h, mss) : 1;
		if (nseg > VMBS_TXOFF_MAX_SEGS)
			continue;
		hl = f.l2 + f.l3 + f.l4;
		want = (v6 ? 0 : VMBS_RNDIS_RXCSUM_IP_OK) |
		       (proto == IPPROTO_TCP ? VMBS_RNDIS_RXCSUM_TCP_OK : VMBS_RNDIS_RXCSUM_UDP_OK);
		for (k = 0; k < nseg; k++) {
			uint32_t len, plen = tso ? RTE_MIN(mss, payload - k * mss) : payload;

			if (tso && payload == 0)
				plen = 0;
			c = vmbs_txoff_segment(&h, iov, n, mss, k, nseg, hdr, out, 66, &csum);
			CU_ASSERT_FATAL(c > 0);
			len = gather(out, c, seg);
			CU_ASSERT_EQUAL(len, hl + plen);
			CU_ASSERT(csums_ok(&f, seg, len));
			/* The IP length fields describe the segment. */
			if (v6) {
				CU_ASSERT_EQUAL((uint32_t)(seg[f.l2 + 4] << 8 | seg[f.l2 + 5]),
						len - f.l2 - 40);
			} else {
				CU_ASSERT_EQUAL((uint32_t)(seg[f.l2 + 2] << 8 | seg[f.l2 + 3]),
						len - f.l2);
			}
			CU_ASSERT_EQUAL(csum, want);
			CU_ASSERT(memcmp(seg, f.b, f.l2) == 0);
			memcpy(joined + got, seg + hl, plen);
			got += plen;
		}
		CU_ASSERT_EQUAL(got, payload);
		CU_ASSERT(memcmp(joined, f.b + hl, payload) == 0);
	}
}

static const struct vmbs_test_case cases[] = {
	{ "parse_finds_every_header_layout", parse_finds_every_header_layout },
	{ "truncated_headers_are_refused", truncated_headers_are_refused },
	{ "hostile_fields_are_refused_or_clamped", hostile_fields_are_refused_or_clamped },
	{ "random_bytes_never_read_beyond_the_frame", random_bytes_never_read_beyond_the_frame },
	{ "random_frames_sum_and_segment_right", random_frames_sum_and_segment_right },
	{ NULL, NULL },
};

static const struct vmbs_test_suite suite = { "txoff", NULL, NULL, cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &suite, NULL };

	return vmbs_test_run(suites);
}
