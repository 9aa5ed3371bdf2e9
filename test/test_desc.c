/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/desc: VMBus packet descriptor codec. Golden packets are written by
 * hand from the wire reference (b.2), and malformed packets are built with
 * the little put helpers below, never with the encoders under test.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbs_desc.h"
#include "vmbs_test.h"

/* Scratch packet for hand-built cases. */
static uint8_t pkt[8192];

static void
put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, size_t off, uint32_t v)
{
	put16(p, off, (uint16_t)v);
	put16(p, off + 2, (uint16_t)(v >> 16));
}

static void
put64(uint8_t *p, size_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

/* Descriptor at offset 0: the fields as b.2 lays them out. */
static void
put_desc(uint8_t *p, uint16_t type, uint16_t offset8, uint16_t len8,
	 uint16_t flags, uint64_t trans_id)
{
	put16(p, 0, type);
	put16(p, 2, offset8);
	put16(p, 4, len8);
	put16(p, 6, flags);
	put64(p, 8, trans_id);
}

/* GPA range header at @p off: {u32 byte_count, u32 byte_offset}. */
static void
put_range(uint8_t *p, size_t off, uint32_t byte_count, uint32_t byte_offset)
{
	put32(p, off, byte_count);
	put32(p, off + 4, byte_offset);
}

/*
 * A GPA-direct packet with one range of @p count bytes at @p off over the
 * right number of PFNs (100, 101, ...), and 16 bytes of payload. Returns
 * the packet length; tests then break one thing.
 */
static uint32_t
build_gpa1(uint32_t off, uint32_t count, uint32_t pages)
{
	uint32_t hdr = 24 + 8 + 8 * pages, i;

	memset(pkt, 0, sizeof(pkt));
	put_desc(pkt, 9, (uint16_t)(hdr / 8), (uint16_t)(hdr / 8 + 2), 0, 7);
	put32(pkt, 16, 0);		/* reserved */
	put32(pkt, 20, 1);		/* range_cnt */
	put_range(pkt, 24, count, off);
	for (i = 0; i < pages; i++)
		put64(pkt, 32 + 8 * i, 100 + i);
	return hdr + 16;
}

/* ---- golden packets, parse side ---- */

static const uint8_t golden_inband[] = {
	/* 0 type 6 (inband) */ 0x06, 0x00,
	/* 2 offset8 2 */ 0x02, 0x00,
	/* 4 len8 4 */ 0x04, 0x00,
	/* 6 flags: completion requested */ 0x01, 0x00,
	/* 8 trans_id 0x1122334455667788 */
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	/* 16 payload, 16 bytes (NVSP INIT: type 1, min 0x60001, max 0x60001) */
	0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00,
	0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void
parses_inband_golden_packet(void)
{
	struct vmbs_desc_info di;

	VMBS_CHECK(vmbs_desc_parse(golden_inband, sizeof(golden_inband), &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_DATA_INBAND);
	CU_ASSERT_EQUAL(di.flags, VMBS_PKT_F_COMPLETION_REQUESTED);
	CU_ASSERT_EQUAL(di.offset8, 2);
	CU_ASSERT_EQUAL(di.len8, 4);
	CU_ASSERT_EQUAL(di.trans_id, 0x1122334455667788ull);
	CU_ASSERT_EQUAL(di.payload_off, 16);
	CU_ASSERT_EQUAL(di.payload_len, 16);
	CU_ASSERT_EQUAL(di.range_cnt, 0);
	CU_ASSERT_EQUAL(di.pfn_cnt, 0);
}

static const uint8_t golden_comp[] = {
	/* 0 type 0xb (completion) */ 0x0b, 0x00,
	/* 2 offset8 2 */ 0x02, 0x00,
	/* 4 len8 3 */ 0x03, 0x00,
	/* 6 flags 0 */ 0x00, 0x00,
	/* 8 trans_id 0xdeadbeef */ 0xef, 0xbe, 0xad, 0xde, 0x00, 0x00, 0x00, 0x00,
	/* 16 payload: NVSP 108 RNDIS_PKT_COMPLETE, status 1 */
	0x6c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
};

static void
parses_completion_golden_packet(void)
{
	struct vmbs_desc_info di;

	VMBS_CHECK(vmbs_desc_parse(golden_comp, sizeof(golden_comp), &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_COMP);
	CU_ASSERT_EQUAL(di.flags, 0);
	CU_ASSERT_EQUAL(di.trans_id, 0xdeadbeefull);
	CU_ASSERT_EQUAL(di.payload_off, 16);
	CU_ASSERT_EQUAL(di.payload_len, 8);
}

/*
 * Linux >= 6.15 style: an RNDIS header that crosses a page boundary is one
 * range of 0x20 bytes at 0xff0 over two PFNs.
 */
static const uint8_t golden_gpa_2pfn[] = {
	/* 0 type 9 (GPA direct) */ 0x09, 0x00,
	/* 2 offset8 6 (48 bytes of headers) */ 0x06, 0x00,
	/* 4 len8 8 */ 0x08, 0x00,
	/* 6 flags 1 */ 0x01, 0x00,
	/* 8 trans_id 0x55 */ 0x55, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 16 reserved */ 0x00, 0x00, 0x00, 0x00,
	/* 20 range_cnt 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 24 byte_count 0x20 */ 0x20, 0x00, 0x00, 0x00,
	/* 28 byte_offset 0xff0 */ 0xf0, 0x0f, 0x00, 0x00,
	/* 32 pfn 0x12345 */ 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 40 pfn 0x12346 */ 0x46, 0x23, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 48 payload: NVSP 107 SEND_RNDIS_PKT, data, no section, 0 */
	0x6b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

static void
accepts_gpa_range_spanning_two_pages(void)
{
	struct vmbs_desc_info di;
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;

	VMBS_CHECK(vmbs_desc_parse(golden_gpa_2pfn, sizeof(golden_gpa_2pfn), &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_DATA_GPA_DIRECT);
	CU_ASSERT_EQUAL(di.trans_id, 0x55);
	CU_ASSERT_EQUAL(di.range_off, 24);
	CU_ASSERT_EQUAL(di.range_len, 24);
	CU_ASSERT_EQUAL(di.range_cnt, 1);
	CU_ASSERT_EQUAL(di.pfn_cnt, 2);
	CU_ASSERT_EQUAL(di.byte_total, 0x20);
	CU_ASSERT_EQUAL(di.payload_off, 48);
	CU_ASSERT_EQUAL(di.payload_len, 16);

	VMBS_CHECK(vmbs_desc_gpa_iter(golden_gpa_2pfn, &di, &it) == 0);
	VMBS_CHECK(vmbs_gparange_next(&it, &r) == 1);
	CU_ASSERT_EQUAL(r.byte_offset, 0xff0);
	CU_ASSERT_EQUAL(r.byte_count, 0x20);
	CU_ASSERT_EQUAL(r.pfn_cnt, 2);
	CU_ASSERT_EQUAL(vmbs_gparange_pfn(&r, 0), 0x12345);
	CU_ASSERT_EQUAL(vmbs_gparange_pfn(&r, 1), 0x12346);
	CU_ASSERT_EQUAL(vmbs_gparange_next(&it, &r), 0);
}

static void
accepts_one_pfn_per_range_dpdk_style(void)
{
	struct vmbs_desc_info di;
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	uint32_t n = 0;

	/* RNDIS header slot, then a frame split at a page boundary. */
	memset(pkt, 0, sizeof(pkt));
	put_desc(pkt, 9, 9, 11, 1, 3);		/* 24 + 3*16 = 72 = 9*8 */
	put32(pkt, 20, 3);
	put_range(pkt, 24, 0x80, 0x100);
	put64(pkt, 32, 0x500);
	put_range(pkt, 40, 0x200, 0xe00);
	put64(pkt, 48, 0x600);
	put_range(pkt, 56, 0x3ea, 0);
	put64(pkt, 64, 0x601);

	VMBS_CHECK(vmbs_desc_parse(pkt, 88, &di) == 0);
	CU_ASSERT_EQUAL(di.range_cnt, 3);
	CU_ASSERT_EQUAL(di.pfn_cnt, 3);
	CU_ASSERT_EQUAL(di.range_len, 48);
	CU_ASSERT_EQUAL(di.byte_total, 0x80 + 0x200 + 0x3ea);
	CU_ASSERT_EQUAL(di.payload_off, 72);
	CU_ASSERT_EQUAL(di.payload_len, 16);

	VMBS_CHECK(vmbs_desc_gpa_iter(pkt, &di, &it) == 0);
	while (vmbs_gparange_next(&it, &r) > 0) {
		CU_ASSERT_EQUAL(r.pfn_cnt, 1);
		n++;
	}
	CU_ASSERT_EQUAL(n, 3);
}

static const uint8_t golden_xfer[] = {
	/* 0 type 7 (transfer pages) */ 0x07, 0x00,
	/* 2 offset8 5 */ 0x05, 0x00,
	/* 4 len8 9 */ 0x09, 0x00,
	/* 6 flags 1 */ 0x01, 0x00,
	/* 8 trans_id 5 */ 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 16 pageset_id 0xcafe */ 0xfe, 0xca,
	/* 18 sender_owns_set 0, reserved */ 0x00, 0x00,
	/* 20 range_cnt 2 */ 0x02, 0x00, 0x00, 0x00,
	/* 24 byte_count 0x5a, byte_offset 0x100 */
	0x5a, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	/* 32 byte_count 0x60, byte_offset 0x800 */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
	/* 40 payload 32 bytes (NVSP 107, 28 B + pad) */
	0x6b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void
parses_xfer_pages_golden_packet(void)
{
	struct vmbs_desc_info di;
	struct vmbs_xfer_range xr;

	VMBS_CHECK(vmbs_desc_parse(golden_xfer, sizeof(golden_xfer), &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_DATA_XFER_PAGES);
	CU_ASSERT_EQUAL(di.xfer_pageset_id, 0xcafe);
	CU_ASSERT_EQUAL(di.xfer_sender_owns, 0);
	CU_ASSERT_EQUAL(di.range_cnt, 2);
	CU_ASSERT_EQUAL(di.range_off, 24);
	CU_ASSERT_EQUAL(di.range_len, 16);
	CU_ASSERT_EQUAL(di.byte_total, 0x5a + 0x60);
	CU_ASSERT_EQUAL(di.payload_off, 40);
	CU_ASSERT_EQUAL(di.payload_len, 32);
	VMBS_CHECK(vmbs_desc_xfer_range(golden_xfer, &di, 1, &xr) == 0);
	CU_ASSERT_EQUAL(xr.byte_count, 0x60);
	CU_ASSERT_EQUAL(xr.byte_offset, 0x800);
	CU_ASSERT_EQUAL(vmbs_desc_xfer_range(golden_xfer, &di, 2, &xr), -EINVAL);
}

static void
accepts_buffer_longer_than_len8(void)
{
	struct vmbs_desc_info di;

	memcpy(pkt, golden_inband, sizeof(golden_inband));
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(pkt), &di), 0);
	CU_ASSERT_EQUAL(di.payload_len, 16);
}

static void
accepts_slack_between_ranges_and_payload(void)
{
	struct vmbs_desc_info di;

	/* One 1-PFN range (16 B) in a 32-byte range area: 16 B slack. */
	memset(pkt, 0, sizeof(pkt));
	put_desc(pkt, 9, 7, 7, 0, 1);
	put32(pkt, 20, 1);
	put_range(pkt, 24, 10, 0);
	put64(pkt, 32, 9);
	VMBS_CHECK(vmbs_desc_parse(pkt, 56, &di) == 0);
	CU_ASSERT_EQUAL(di.range_len, 16);
	CU_ASSERT_EQUAL(di.payload_off, 56);
	CU_ASSERT_EQUAL(di.payload_len, 0);
}

static void
accepts_largest_packet(void)
{
	struct vmbs_desc_info di;
	uint8_t *big = calloc(1, VMBS_DESC_MAX_PKT_LEN);

	VMBS_CHECK(big != NULL);
	put_desc(big, 6, 2, 0xffff, 0, 0);
	CU_ASSERT_EQUAL(vmbs_desc_parse(big, VMBS_DESC_MAX_PKT_LEN, &di), 0);
	CU_ASSERT_EQUAL(di.payload_len, VMBS_DESC_MAX_PKT_LEN - 16);
	CU_ASSERT_EQUAL(vmbs_desc_parse(big, VMBS_DESC_MAX_PKT_LEN - 1, &di), -EBADMSG);
	free(big);
}

/* ---- malformed packets ---- */

static void
rejects_every_type_but_inband_xfer_gpa_comp(void)
{
	struct vmbs_desc_info di;
	uint32_t t;
	int rc;

	for (t = 0; t <= 0xffff; t++) {
		/* A well-formed xfer/GPA body so that only the type decides. */
		build_gpa1(0, 8, 1);
		put16(pkt, 0, (uint16_t)t);
		rc = vmbs_desc_parse(pkt, 64, &di);
		if (t == 6 || t == 7 || t == 9 || t == 0xb) {
			CU_ASSERT_EQUAL(rc, 0);
		} else if (rc != -EBADMSG) {
			CU_FAIL_FATAL("type accepted");
		}
	}
}

static void
rejects_unknown_flags(void)
{
	struct vmbs_desc_info di;
	unsigned int bit;

	memcpy(pkt, golden_inband, sizeof(golden_inband));
	for (bit = 1; bit < 16; bit++) {
		put16(pkt, 6, (uint16_t)(1u << bit));
		CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), -EBADMSG);
		put16(pkt, 6, (uint16_t)(1u << bit | 1u));
		CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), -EBADMSG);
	}
	put16(pkt, 6, 0);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), 0);
}

static void
rejects_offset8_below_two(void)
{
	struct vmbs_desc_info di;

	memcpy(pkt, golden_inband, sizeof(golden_inband));
	put16(pkt, 2, 0);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), -EBADMSG);
	put16(pkt, 2, 1);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), -EBADMSG);
	put16(pkt, 2, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), 0);
}

static void
rejects_offset8_beyond_len8(void)
{
	struct vmbs_desc_info di;

	memcpy(pkt, golden_inband, sizeof(golden_inband));
	put16(pkt, 2, 5);		/* len8 is 4 */
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), -EBADMSG);
	put16(pkt, 2, 0xffff);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), -EBADMSG);
	/* offset8 == len8 is an empty payload: fine. */
	put16(pkt, 2, 4);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_inband), &di), 0);
	CU_ASSERT_EQUAL(di.payload_len, 0);
}

static void
rejects_len8_beyond_buffer(void)
{
	struct vmbs_desc_info di;

	CU_ASSERT_EQUAL(vmbs_desc_parse(golden_inband, sizeof(golden_inband) - 1, &di),
			-EBADMSG);
	CU_ASSERT_EQUAL(vmbs_desc_parse(golden_inband, sizeof(golden_inband) - 8, &di),
			-EBADMSG);
	memcpy(pkt, golden_inband, sizeof(golden_inband));
	put16(pkt, 4, 0xffff);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(pkt), &di), -EBADMSG);
}

static void
rejects_buffer_shorter_than_descriptor(void)
{
	struct vmbs_desc_info di;
	uint32_t len;

	for (len = 0; len < 16; len++)
		CU_ASSERT_EQUAL(vmbs_desc_parse(golden_comp, len, &di), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_desc_parse(NULL, 64, &di), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_desc_parse(golden_comp, sizeof(golden_comp), NULL), -EINVAL);
}

static void
rejects_gpa_header_outside_offset8_area(void)
{
	struct vmbs_desc_info di;

	/* offset8 2: the GPA header would sit in the payload. */
	build_gpa1(0, 8, 1);
	put16(pkt, 2, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, 64, &di), -EBADMSG);
	/* offset8 3: header fits, but no room for any range. */
	put16(pkt, 2, 3);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, 64, &di), -EBADMSG);
}

static void
rejects_gpa_range_cnt_zero(void)
{
	struct vmbs_desc_info di;
	uint32_t len = build_gpa1(0, 8, 1);

	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), 0);
	put32(pkt, 20, 0);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
}

static void
rejects_gpa_byte_count_zero(void)
{
	struct vmbs_desc_info di;
	uint32_t len = build_gpa1(0, 8, 1);

	put32(pkt, 24, 0);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
}

static void
rejects_gpa_byte_offset_4096(void)
{
	struct vmbs_desc_info di;
	uint32_t len = build_gpa1(4095, 1, 1);

	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), 0);
	/* 4096 + 1 byte would need 2 PFNs: keep the count, break the offset. */
	len = build_gpa1(4096, 1, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
	len = build_gpa1(0xffffffff, 1, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
}

static void
rejects_gpa_pfn_list_short_by_one(void)
{
	struct vmbs_desc_info di;
	uint32_t len;

	/* 0x200 bytes at 0xf00 touch 2 pages. */
	len = build_gpa1(0xf00, 0x200, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), 0);
	len = build_gpa1(0xf00, 0x200, 1);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
	/* Exactly one page's worth starting at 0 needs one PFN, not two. */
	len = build_gpa1(0, 0x1000, 1);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), 0);
	len = build_gpa1(0, 0x1001, 1);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
}

static void
rejects_ranges_reaching_into_payload(void)
{
	struct vmbs_desc_info di;

	/* Two 1-PFN ranges claimed, but offset8 ends after the first. */
	memset(pkt, 0, sizeof(pkt));
	put_desc(pkt, 9, 5, 9, 0, 1);
	put32(pkt, 20, 2);
	put_range(pkt, 24, 64, 0);
	put64(pkt, 32, 1);
	/* "second range" in the payload bytes */
	put_range(pkt, 40, 64, 0);
	put64(pkt, 48, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, 72, &di), -EBADMSG);
	/* Same bytes with offset8 covering both ranges: accepted. */
	put16(pkt, 2, 7);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, 72, &di), 0);
	CU_ASSERT_EQUAL(di.range_cnt, 2);
}

static void
rejects_offset_plus_count_u32_overflow(void)
{
	struct vmbs_desc_info di;
	uint32_t len;

	/*
	 * 0xfff + 0xffffffff wraps to 0xffe in u32 arithmetic, which would
	 * claim 1 page; the real span is 0x100001 pages, far beyond the packet.
	 */
	len = build_gpa1(0xfff, 0xffffffff, 1);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
	len = build_gpa1(0xfff, 0xffffffff, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
}

static void
rejects_huge_range_cnt(void)
{
	struct vmbs_desc_info di;
	uint32_t len = build_gpa1(0, 8, 1);

	put32(pkt, 20, 0xffffffff);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
	put32(pkt, 20, 2);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
}

static void
rejects_pfn_beyond_guest_physical_space(void)
{
	struct vmbs_desc_info di;
	uint32_t len = build_gpa1(0, 8, 1);

	put64(pkt, 32, (1ull << 40) - 1);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), 0);
	put64(pkt, 32, 1ull << 40);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
	put64(pkt, 32, UINT64_MAX);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, len, &di), -EBADMSG);
}

static void
rejects_xfer_header_or_ranges_outside_offset8_area(void)
{
	struct vmbs_desc_info di;

	memcpy(pkt, golden_xfer, sizeof(golden_xfer));
	put16(pkt, 2, 2);	/* no room for the xfer header */
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_xfer), &di), -EBADMSG);
	put16(pkt, 2, 4);	/* room for one range, two claimed */
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_xfer), &di), -EBADMSG);
	put16(pkt, 2, 5);
	put32(pkt, 20, 0);	/* range_cnt 0 */
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_xfer), &di), -EBADMSG);
	put32(pkt, 20, 0xffffffff);
	CU_ASSERT_EQUAL(vmbs_desc_parse(pkt, sizeof(golden_xfer), &di), -EBADMSG);
}

static void
caps_ranges_and_bytes_with_e2big(void)
{
	struct vmbs_desc_limits lim = { .max_ranges = 3, .max_bytes = 0 };
	struct vmbs_desc_info di;

	/* DPDK-style packet: 3 ranges, 0x80 + 0x200 + 0x3ea bytes. */
	memset(pkt, 0, sizeof(pkt));
	put_desc(pkt, 9, 9, 9, 0, 3);
	put32(pkt, 20, 3);
	put_range(pkt, 24, 0x80, 0x100);
	put64(pkt, 32, 0x500);
	put_range(pkt, 40, 0x200, 0xe00);
	put64(pkt, 48, 0x600);
	put_range(pkt, 56, 0x3ea, 0);
	put64(pkt, 64, 0x601);

	CU_ASSERT_EQUAL(vmbs_desc_parse_limits(pkt, 72, &lim, &di), 0);
	lim.max_ranges = 2;
	CU_ASSERT_EQUAL(vmbs_desc_parse_limits(pkt, 72, &lim, &di), -E2BIG);
	lim.max_ranges = 0;
	lim.max_bytes = 0x80 + 0x200 + 0x3ea;
	CU_ASSERT_EQUAL(vmbs_desc_parse_limits(pkt, 72, &lim, &di), 0);
	lim.max_bytes--;
	CU_ASSERT_EQUAL(vmbs_desc_parse_limits(pkt, 72, &lim, &di), -E2BIG);
	/* Malformed wins over over-limit. */
	put32(pkt, 24, 0);
	CU_ASSERT_EQUAL(vmbs_desc_parse_limits(pkt, 72, &lim, &di), -EBADMSG);
	/* Limits apply to xfer ranges too. */
	lim.max_ranges = 1;
	lim.max_bytes = 0;
	CU_ASSERT_EQUAL(vmbs_desc_parse_limits(golden_xfer, sizeof(golden_xfer), &lim, &di),
			-E2BIG);
	/* ... and not to inband packets. */
	CU_ASSERT_EQUAL(vmbs_desc_parse_limits(golden_inband, sizeof(golden_inband), &lim, &di),
			0);
}

static void
iterators_refuse_wrong_packet_type(void)
{
	struct vmbs_desc_info di;
	struct vmbs_gparange_iter it;
	struct vmbs_xfer_range xr;

	VMBS_CHECK(vmbs_desc_parse(golden_inband, sizeof(golden_inband), &di) == 0);
	CU_ASSERT_EQUAL(vmbs_desc_gpa_iter(golden_inband, &di, &it), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_desc_xfer_range(golden_inband, &di, 0, &xr), -EINVAL);
}

/* ---- encoders: golden bytes ---- */

static void
encodes_inband_descriptor_golden(void)
{
	static const uint8_t want[] = {
		/* 0 type 6 */ 0x06, 0x00,
		/* 2 offset8 2 */ 0x02, 0x00,
		/* 4 len8 ceil((16 + 13) / 8) = 4 */ 0x04, 0x00,
		/* 6 flags 1 */ 0x01, 0x00,
		/* 8 trans_id */ 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	};
	struct vmbs_desc_layout l;
	uint8_t buf[32];

	memset(buf, 0xa5, sizeof(buf));
	VMBS_CHECK(vmbs_desc_encode_inband(buf, sizeof(buf), 0x0102030405060708ull,
					   VMBS_PKT_F_COMPLETION_REQUESTED, 13, &l) == 0);
	CU_ASSERT_EQUAL(memcmp(buf, want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(buf[sizeof(want)], 0xa5);	/* nothing past the header */
	CU_ASSERT_EQUAL(l.offset8, 2);
	CU_ASSERT_EQUAL(l.len8, 4);
	CU_ASSERT_EQUAL(l.hdr_len, 16);
	CU_ASSERT_EQUAL(l.pkt_len, 32);
}

static void
encodes_completion_descriptor_golden(void)
{
	static const uint8_t want[] = {
		/* 0 type 0xb */ 0x0b, 0x00,
		/* 2 offset8 2 */ 0x02, 0x00,
		/* 4 len8 2: no payload */ 0x02, 0x00,
		/* 6 flags 0 */ 0x00, 0x00,
		/* 8 trans_id 0xdeadbeef */ 0xef, 0xbe, 0xad, 0xde, 0x00, 0x00, 0x00, 0x00,
	};
	struct vmbs_desc_layout l;
	uint8_t buf[16];

	VMBS_CHECK(vmbs_desc_encode_comp(buf, sizeof(buf), 0xdeadbeef, 0, &l) == 0);
	CU_ASSERT_EQUAL(memcmp(buf, want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(l.len8, 2);
	CU_ASSERT_EQUAL(l.pkt_len, 16);
}

static void
encodes_xfer_pages_header_golden(void)
{
	static const struct vmbs_xfer_range ranges[] = {
		{ .byte_count = 0x5a, .byte_offset = 0x100 },
		{ .byte_count = 0x60, .byte_offset = 0x800 },
	};
	struct vmbs_desc_layout l;
	uint8_t buf[64];

	/* golden_xfer carries a 28-byte NVSP message padded to 32. */
	VMBS_CHECK(vmbs_desc_encode_xfer(buf, sizeof(buf), 5,
					 VMBS_PKT_F_COMPLETION_REQUESTED, 0xcafe, 0,
					 ranges, 2, 28, &l) == 0);
	CU_ASSERT_EQUAL(l.hdr_len, 40);
	CU_ASSERT_EQUAL(l.offset8, 5);
	CU_ASSERT_EQUAL(l.len8, 9);
	CU_ASSERT_EQUAL(memcmp(buf, golden_xfer, 40), 0);
}

static void
encodes_gpa_direct_from_segments_golden(void)
{
	static const uint8_t want[] = {
		/* 0 type 9 */ 0x09, 0x00,
		/* 2 offset8 8 (64 B) */ 0x08, 0x00,
		/* 4 len8 (64 + 40) / 8 = 13 */ 0x0d, 0x00,
		/* 6 flags 1 */ 0x01, 0x00,
		/* 8 trans_id 0x42 */ 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* 16 reserved */ 0x00, 0x00, 0x00, 0x00,
		/* 20 range_cnt 2 */ 0x02, 0x00, 0x00, 0x00,
		/* 24 byte_count 0x20, byte_offset 0xff0 */
		0x20, 0x00, 0x00, 0x00, 0xf0, 0x0f, 0x00, 0x00,
		/* 32 pfn 0x12345 */ 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* 40 pfn 0x12346 */ 0x46, 0x23, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* 48 byte_count 0x1000, byte_offset 0 */
		0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* 56 pfn 7 */ 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const struct vmbs_desc_gpa_seg segs[] = {
		{ .gpa = 0x12345ff0, .len = 0x20 },
		{ .gpa = 0x7000, .len = 0x1000 },
	};
	struct vmbs_desc_layout l;
	uint8_t buf[128];

	memset(buf, 0xa5, sizeof(buf));
	VMBS_CHECK(vmbs_desc_encode_gpa(buf, sizeof(buf), 0x42,
					VMBS_PKT_F_COMPLETION_REQUESTED, segs, 2, 40,
					&l) == 0);
	CU_ASSERT_EQUAL(l.hdr_len, sizeof(want));
	CU_ASSERT_EQUAL(l.offset8, 8);
	CU_ASSERT_EQUAL(l.len8, 13);
	CU_ASSERT_EQUAL(l.pkt_len, 104);
	CU_ASSERT_EQUAL(memcmp(buf, want, sizeof(want)), 0);
	CU_ASSERT_EQUAL(buf[sizeof(want)], 0xa5);
}

static void
encodes_gpa_direct_from_pfn_lists(void)
{
	static const uint64_t pfns_a[] = { 0x12345, 0x12346 };
	static const uint64_t pfns_b[] = { 7 };
	const struct vmbs_desc_gpa_pages ranges[] = {
		{ .byte_offset = 0xff0, .byte_count = 0x20, .pfns = pfns_a },
		{ .byte_offset = 0, .byte_count = 0x1000, .pfns = pfns_b },
	};
	struct vmbs_desc_gpa_seg segs[] = {
		{ .gpa = 0x12345ff0, .len = 0x20 },
		{ .gpa = 0x7000, .len = 0x1000 },
	};
	struct vmbs_desc_layout l1, l2;
	uint8_t a[128], b[128];

	/* Both input forms describe the same memory: same bytes. */
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	VMBS_CHECK(vmbs_desc_encode_gpa_pages(a, sizeof(a), 0x42, 1, ranges, 2, 40, &l1) == 0);
	VMBS_CHECK(vmbs_desc_encode_gpa(b, sizeof(b), 0x42, 1, segs, 2, 40, &l2) == 0);
	CU_ASSERT_EQUAL(l1.hdr_len, 64);
	CU_ASSERT_EQUAL(memcmp(&l1, &l2, sizeof(l1)), 0);
	CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	CU_ASSERT_EQUAL(a[32], 0x45);
	CU_ASSERT_EQUAL(a[56], 0x07);
}

/* ---- encoders: round trips and rejects ---- */

static void
roundtrips_every_encoded_type_through_parse(void)
{
	static const struct vmbs_xfer_range xr[] = { { 100, 0 }, { 200, 4096 }, { 1, 9 } };
	static const struct vmbs_desc_gpa_seg segs[] = {
		{ 0x1000, 0x80 }, { 0x2ff8, 0x10 }, { 0xfffff800, 0x4000 },
	};
	struct vmbs_desc_layout l;
	struct vmbs_desc_info di;
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	uint8_t buf[512];

	memset(buf, 0, sizeof(buf));
	VMBS_CHECK(vmbs_desc_encode_inband(buf, sizeof(buf), 77, 0, 100, &l) == 0);
	VMBS_CHECK(vmbs_desc_parse(buf, l.pkt_len, &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_DATA_INBAND);
	CU_ASSERT_EQUAL(di.trans_id, 77);
	CU_ASSERT_EQUAL(di.payload_len, 104);

	memset(buf, 0, sizeof(buf));
	VMBS_CHECK(vmbs_desc_encode_comp(buf, sizeof(buf), 78, 40, &l) == 0);
	VMBS_CHECK(vmbs_desc_parse(buf, l.pkt_len, &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_COMP);
	CU_ASSERT_EQUAL(di.trans_id, 78);
	CU_ASSERT_EQUAL(di.payload_len, 40);

	memset(buf, 0, sizeof(buf));
	VMBS_CHECK(vmbs_desc_encode_xfer(buf, sizeof(buf), 79, 0, 0xcafe, 1, xr, 3, 28,
					 &l) == 0);
	VMBS_CHECK(vmbs_desc_parse(buf, l.pkt_len, &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_DATA_XFER_PAGES);
	CU_ASSERT_EQUAL(di.range_cnt, 3);
	CU_ASSERT_EQUAL(di.xfer_sender_owns, 1);
	CU_ASSERT_EQUAL(di.byte_total, 301);
	CU_ASSERT_EQUAL(di.payload_off, 48);

	memset(buf, 0, sizeof(buf));
	VMBS_CHECK(vmbs_desc_encode_gpa(buf, sizeof(buf), 80, 1, segs, 3, 8, &l) == 0);
	VMBS_CHECK(vmbs_desc_parse(buf, l.pkt_len, &di) == 0);
	CU_ASSERT_EQUAL(di.type, VMBS_PKT_DATA_GPA_DIRECT);
	CU_ASSERT_EQUAL(di.range_cnt, 3);
	CU_ASSERT_EQUAL(di.pfn_cnt, 1 + 2 + 5);
	CU_ASSERT_EQUAL(di.payload_off, l.hdr_len);
	VMBS_CHECK(vmbs_desc_gpa_iter(buf, &di, &it) == 0);
	VMBS_CHECK(vmbs_gparange_next(&it, &r) == 1);
	VMBS_CHECK(vmbs_gparange_next(&it, &r) == 1);
	VMBS_CHECK(vmbs_gparange_next(&it, &r) == 1);
	CU_ASSERT_EQUAL(r.byte_offset, 0x800);
	CU_ASSERT_EQUAL(r.byte_count, 0x4000);
	CU_ASSERT_EQUAL(r.pfn_cnt, 5);
	CU_ASSERT_EQUAL(vmbs_gparange_pfn(&r, 0), 0xfffff);
	CU_ASSERT_EQUAL(vmbs_gparange_pfn(&r, 4), 0x100003);
}

static void
encoders_reject_packets_over_u16_len8(void)
{
	struct vmbs_desc_layout l;
	uint8_t buf[64];
	static const struct vmbs_desc_gpa_seg seg = { 0x1000, 8 };

	/* 16 + 524264 = 524280 = 65535 * 8: the largest packet. */
	CU_ASSERT_EQUAL(vmbs_desc_encode_inband(buf, sizeof(buf), 0, 0, 524264, &l), 0);
	CU_ASSERT_EQUAL(l.len8, 0xffff);
	CU_ASSERT_EQUAL(vmbs_desc_encode_inband(buf, sizeof(buf), 0, 0, 524265, &l), -E2BIG);
	CU_ASSERT_EQUAL(vmbs_desc_encode_comp(buf, sizeof(buf), 0, UINT32_MAX, &l), -E2BIG);
	/* GPA header of one 1-PFN range is 40 B: 524240 payload bytes left. */
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, sizeof(buf), 0, 0, &seg, 1, 524240, &l), 0);
	CU_ASSERT_EQUAL(l.len8, 0xffff);
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, sizeof(buf), 0, 0, &seg, 1, 524241, &l),
			-E2BIG);
}

static void
encoders_reject_small_buffer_without_writing(void)
{
	static const struct vmbs_xfer_range xr = { 1, 0 };
	static const struct vmbs_desc_gpa_seg seg = { 0x1ff0, 0x20 };	/* 2 PFNs: 48 B */
	struct vmbs_desc_layout l;
	uint8_t buf[64];
	size_t i;

	memset(buf, 0xa5, sizeof(buf));
	CU_ASSERT_EQUAL(vmbs_desc_encode_inband(buf, 15, 0, 0, 0, &l), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_desc_encode_comp(buf, 15, 0, 0, &l), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_desc_encode_xfer(buf, 31, 0, 0, 0, 0, &xr, 1, 0, &l), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, 47, 0, 0, &seg, 1, 0, &l), -ENOBUFS);
	for (i = 0; i < sizeof(buf); i++)
		CU_ASSERT_EQUAL(buf[i], 0xa5);
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, 48, 0, 0, &seg, 1, 0, &l), 0);
}

static void
encoders_reject_bad_arguments(void)
{
	static const uint64_t big_pfn[] = { 1ull << 40 };
	static const uint64_t ok_pfn[] = { 1, 2 };
	struct vmbs_desc_gpa_pages rp = { .byte_offset = 0, .byte_count = 8, .pfns = ok_pfn };
	struct vmbs_desc_gpa_seg seg = { 0x1000, 8 };
	struct vmbs_xfer_range xr = { 1, 0 };
	struct vmbs_desc_layout l;
	uint8_t buf[128];

	CU_ASSERT_EQUAL(vmbs_desc_encode_inband(buf, sizeof(buf), 0, 2, 0, &l), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_desc_encode_inband(NULL, sizeof(buf), 0, 0, 0, &l), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_desc_encode_inband(buf, sizeof(buf), 0, 0, 0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_desc_encode_xfer(buf, sizeof(buf), 0, 0, 0, 0, &xr, 0, 0, &l),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_desc_encode_xfer(buf, sizeof(buf), 0, 4, 0, 0, &xr, 1, 0, &l),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, sizeof(buf), 0, 0, &seg, 0, 0, &l), -EINVAL);
	seg.len = 0;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, sizeof(buf), 0, 0, &seg, 1, 0, &l), -EINVAL);
	/* Last byte at 2^52 - 1 is fine; one more is past the GPA space. */
	seg.gpa = (1ull << 52) - 8;
	seg.len = 8;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, sizeof(buf), 0, 0, &seg, 1, 0, &l), 0);
	seg.len = 9;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, sizeof(buf), 0, 0, &seg, 1, 0, &l), -EINVAL);
	seg.gpa = UINT64_MAX;
	seg.len = 1;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa(buf, sizeof(buf), 0, 0, &seg, 1, 0, &l), -EINVAL);

	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa_pages(buf, sizeof(buf), 0, 0, &rp, 1, 0, &l), 0);
	rp.byte_offset = 4096;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa_pages(buf, sizeof(buf), 0, 0, &rp, 1, 0, &l),
			-EINVAL);
	rp.byte_offset = 0;
	rp.byte_count = 0;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa_pages(buf, sizeof(buf), 0, 0, &rp, 1, 0, &l),
			-EINVAL);
	rp.byte_count = 8;
	rp.pfns = big_pfn;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa_pages(buf, sizeof(buf), 0, 0, &rp, 1, 0, &l),
			-EINVAL);
	rp.pfns = NULL;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa_pages(buf, sizeof(buf), 0, 0, &rp, 1, 0, &l),
			-EINVAL);
	/* A u32-overflowing range is far too big for any packet. */
	rp.pfns = ok_pfn;
	rp.byte_offset = 0xfff;
	rp.byte_count = 0xffffffff;
	CU_ASSERT_EQUAL(vmbs_desc_encode_gpa_pages(buf, sizeof(buf), 0, 0, &rp, 1, 0, &l),
			-E2BIG);
}

static const struct vmbs_test_case parse_cases[] = {
	{ "parses_inband_golden_packet", parses_inband_golden_packet },
	{ "parses_completion_golden_packet", parses_completion_golden_packet },
	{ "accepts_gpa_range_spanning_two_pages", accepts_gpa_range_spanning_two_pages },
	{ "accepts_one_pfn_per_range_dpdk_style", accepts_one_pfn_per_range_dpdk_style },
	{ "parses_xfer_pages_golden_packet", parses_xfer_pages_golden_packet },
	{ "accepts_buffer_longer_than_len8", accepts_buffer_longer_than_len8 },
	{ "accepts_slack_between_ranges_and_payload",
	  accepts_slack_between_ranges_and_payload },
	{ "accepts_largest_packet", accepts_largest_packet },
	{ "iterators_refuse_wrong_packet_type", iterators_refuse_wrong_packet_type },
	{ NULL, NULL },
};

static const struct vmbs_test_case reject_cases[] = {
	{ "rejects_every_type_but_inband_xfer_gpa_comp",
	  rejects_every_type_but_inband_xfer_gpa_comp },
	{ "rejects_unknown_flags", rejects_unknown_flags },
	{ "rejects_offset8_below_two", rejects_offset8_below_two },
	{ "rejects_offset8_beyond_len8", rejects_offset8_beyond_len8 },
	{ "rejects_len8_beyond_buffer", rejects_len8_beyond_buffer },
	{ "rejects_buffer_shorter_than_descriptor", rejects_buffer_shorter_than_descriptor },
	{ "rejects_gpa_header_outside_offset8_area", rejects_gpa_header_outside_offset8_area },
	{ "rejects_gpa_range_cnt_zero", rejects_gpa_range_cnt_zero },
	{ "rejects_gpa_byte_count_zero", rejects_gpa_byte_count_zero },
	{ "rejects_gpa_byte_offset_4096", rejects_gpa_byte_offset_4096 },
	{ "rejects_gpa_pfn_list_short_by_one", rejects_gpa_pfn_list_short_by_one },
	{ "rejects_ranges_reaching_into_payload", rejects_ranges_reaching_into_payload },
	{ "rejects_offset_plus_count_u32_overflow", rejects_offset_plus_count_u32_overflow },
	{ "rejects_huge_range_cnt", rejects_huge_range_cnt },
	{ "rejects_pfn_beyond_guest_physical_space", rejects_pfn_beyond_guest_physical_space },
	{ "rejects_xfer_header_or_ranges_outside_offset8_area",
	  rejects_xfer_header_or_ranges_outside_offset8_area },
	{ "caps_ranges_and_bytes_with_e2big", caps_ranges_and_bytes_with_e2big },
	{ NULL, NULL },
};

static const struct vmbs_test_case encode_cases[] = {
	{ "encodes_inband_descriptor_golden", encodes_inband_descriptor_golden },
	{ "encodes_completion_descriptor_golden", encodes_completion_descriptor_golden },
	{ "encodes_xfer_pages_header_golden", encodes_xfer_pages_header_golden },
	{ "encodes_gpa_direct_from_segments_golden", encodes_gpa_direct_from_segments_golden },
	{ "encodes_gpa_direct_from_pfn_lists", encodes_gpa_direct_from_pfn_lists },
	{ "roundtrips_every_encoded_type_through_parse",
	  roundtrips_every_encoded_type_through_parse },
	{ "encoders_reject_packets_over_u16_len8", encoders_reject_packets_over_u16_len8 },
	{ "encoders_reject_small_buffer_without_writing",
	  encoders_reject_small_buffer_without_writing },
	{ "encoders_reject_bad_arguments", encoders_reject_bad_arguments },
	{ NULL, NULL },
};

static const struct vmbs_test_suite parse_suite = { "desc_parse", NULL, NULL, parse_cases };
static const struct vmbs_test_suite reject_suite = { "desc_reject", NULL, NULL, reject_cases };
static const struct vmbs_test_suite encode_suite = { "desc_encode", NULL, NULL, encode_cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&parse_suite, &reject_suite, &encode_suite, NULL,
	};

	return vmbs_test_run(suites);
}
