/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/chanmsg: channel message codec. Every golden message below is typed
 * in by hand from the wire reference (b.3), offsets in the comments; each
 * is decoded, checked field by field, and re-encoded with the type's own
 * encoder and with the generic one, byte for byte.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbs_chanmsg.h"
#include "vmbs_test.h"

/* ---- golden messages ---- */

static const uint8_t golden_offer[196] = {
	/* 0 msgtype 1 */ [0] = 0x01,
	/* 8 if_type f8615163-df3e-46c5-913f-f2d2f965ed0e, Windows byte order */
	[8] = 0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46,
	0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e,
	/* 24 if_instance 00..0f */
	[24] = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	/* 40 reserved 16 B: 0 */
	/* 56 chn_flags 0x0404, 58 mmio_megabytes 0 */ [56] = 0x04, 0x04, 0x00, 0x00,
	/* 60 user_def[0] 0x11 ... 179 user_def[119] 0x22 */ [60] = 0x11, [179] = 0x22,
	/* 180 sub_channel_index 1, 182 reserved 0 */ [180] = 0x01, 0x00, 0x00, 0x00,
	/* 184 child_relid 14 */ [184] = 0x0e, 0x00, 0x00, 0x00,
	/* 188 monitor_id 3, 189 monitor_allocated 1, 190 dedicated_int 1 */
	[188] = 0x03, 0x01, 0x01, 0x00,
	/* 192 connection_id 30 */ [192] = 0x1e, 0x00, 0x00, 0x00,
};

static const uint8_t golden_rescind[] = {
	/* 0 msgtype 2 */ 0x02, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
};

static const uint8_t golden_requestoffers[] = {
	/* 0 msgtype 3 */ 0x03, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_alloffers[] = {
	/* 0 msgtype 4 */ 0x04, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_open[148] = {
	/* 0 msgtype 5 */ [0] = 0x05,
	/* 8 child_relid 14 */ [8] = 0x0e, 0x00, 0x00, 0x00,
	/* 12 openid 0x21 */ 0x21, 0x00, 0x00, 0x00,
	/* 16 ring_gpadl 0x1001 */ 0x01, 0x10, 0x00, 0x00,
	/* 20 target_vp 0xffffffff (none) */ 0xff, 0xff, 0xff, 0xff,
	/* 24 downstream page offset 128 */ 0x80, 0x00, 0x00, 0x00,
	/* 28 user_data[0] 0xaa ... 147 user_data[119] 0xbb */ 0xaa, [147] = 0xbb,
};

static const uint8_t golden_open_result[] = {
	/* 0 msgtype 6 */ 0x06, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
	/* 12 openid 0x21 */ 0x21, 0x00, 0x00, 0x00,
	/* 16 status 0xc0000001 */ 0x01, 0x00, 0x00, 0xc0,
};

static const uint8_t golden_close[] = {
	/* 0 msgtype 7 */ 0x07, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
};

/* A complete 3-page GPADL in one header: no body follows. */
static const uint8_t golden_gpadl_header[] = {
	/* 0 msgtype 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
	/* 12 gpadl 0x1001 */ 0x01, 0x10, 0x00, 0x00,
	/* 16 range_buflen 32 */ 0x20, 0x00,
	/* 18 range_cnt 1 */ 0x01, 0x00,
	/* 20 byte_count 0x3000 */ 0x00, 0x30, 0x00, 0x00,
	/* 24 byte_offset 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 28 pfn 0x100 */ 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 36 pfn 0x101 */ 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 44 pfn 0x102 */ 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_gpadl_body[] = {
	/* 0 msgtype 9 */ 0x09, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 msgnumber 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 12 gpadl 0x1001 */ 0x01, 0x10, 0x00, 0x00,
	/* 16 word 0x200 */ 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 24 word 0x201 */ 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_gpadl_created[] = {
	/* 0 msgtype 10 */ 0x0a, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
	/* 12 gpadl 0x1001 */ 0x01, 0x10, 0x00, 0x00,
	/* 16 creation_status 0x8000ffff */ 0xff, 0xff, 0x00, 0x80,
};

static const uint8_t golden_gpadl_teardown[] = {
	/* 0 msgtype 11 */ 0x0b, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
	/* 12 gpadl 0x1001 */ 0x01, 0x10, 0x00, 0x00,
};

static const uint8_t golden_gpadl_torndown[] = {
	/* 0 msgtype 12 */ 0x0c, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 gpadl 0x1001 */ 0x01, 0x10, 0x00, 0x00,
};

static const uint8_t golden_relid_released[] = {
	/* 0 msgtype 13 */ 0x0d, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
};

static const uint8_t golden_initiate_contact[] = {
	/* 0 msgtype 14 */ 0x0e, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 version_requested 5.3 = 0x00050003 */ 0x03, 0x00, 0x05, 0x00,
	/* 12 target_vcpu 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 msg_sint 2, msg_vtl 0, pad, feature_flags 0 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 24 monitor_page1 0x123456000 */ 0x00, 0x60, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,
	/* 32 monitor_page2 0x123457000 */ 0x00, 0x70, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,
};

static const uint8_t golden_version_response[] = {
	/* 0 msgtype 15 */ 0x0f, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 version_supported 1, 9 connection_state 0, 10 pad */ 0x01, 0x00, 0x00, 0x00,
	/* 12 msg_conn_id 4 */ 0x04, 0x00, 0x00, 0x00,
};

static const uint8_t golden_unload[] = {
	/* 0 msgtype 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_unload_response[] = {
	/* 0 msgtype 17 */ 0x11, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_modify_channel[] = {
	/* 0 msgtype 22 */ 0x16, 0x00, 0x00, 0x00,
	/* 4 padding */ 0x00, 0x00, 0x00, 0x00,
	/* 8 child_relid 14 */ 0x0e, 0x00, 0x00, 0x00,
	/* 12 target_vp 3 */ 0x03, 0x00, 0x00, 0x00,
};

struct golden {
	const char *name;
	uint32_t type;
	const uint8_t *bytes;
	size_t len;
	size_t min_len;		/* from the wire reference, by hand */
};

#define GOLDEN(t, arr, min) { #t, VMBS_CHMSG_##t, arr, sizeof(arr), min }

static const struct golden goldens[] = {
	GOLDEN(OFFERCHANNEL, golden_offer, 196),
	GOLDEN(RESCIND_CHANNELOFFER, golden_rescind, 12),
	GOLDEN(REQUESTOFFERS, golden_requestoffers, 8),
	GOLDEN(ALLOFFERS_DELIVERED, golden_alloffers, 8),
	GOLDEN(OPENCHANNEL, golden_open, 148),
	GOLDEN(OPENCHANNEL_RESULT, golden_open_result, 20),
	GOLDEN(CLOSECHANNEL, golden_close, 12),
	GOLDEN(GPADL_HEADER, golden_gpadl_header, 20),
	GOLDEN(GPADL_BODY, golden_gpadl_body, 24),
	GOLDEN(GPADL_CREATED, golden_gpadl_created, 20),
	GOLDEN(GPADL_TEARDOWN, golden_gpadl_teardown, 16),
	GOLDEN(GPADL_TORNDOWN, golden_gpadl_torndown, 12),
	GOLDEN(RELID_RELEASED, golden_relid_released, 12),
	GOLDEN(INITIATE_CONTACT, golden_initiate_contact, 40),
	GOLDEN(VERSION_RESPONSE, golden_version_response, 16),
	GOLDEN(UNLOAD, golden_unload, 8),
	GOLDEN(UNLOAD_RESPONSE, golden_unload_response, 8),
	GOLDEN(MODIFYCHANNEL, golden_modify_channel, 16),
};
#define N_GOLDENS (sizeof(goldens) / sizeof(goldens[0]))

static uint8_t out[VMBS_CHMSG_MAX_SIZE + 16];

/* Decode @p g into @p m; fatal on failure. */
#define DECODE_GOLDEN(arr, m) do { \
	VMBS_CHECK(vmbs_chmsg_decode(arr, sizeof(arr), &(m)) == 0); \
	CU_ASSERT_EQUAL((m).len, sizeof(arr)); \
} while (0)

/* Check an encoder's result is exactly the golden message. */
#define CHECK_ENCODED(rc, arr) do { \
	CU_ASSERT_EQUAL((rc), (int)sizeof(arr)); \
	CU_ASSERT_EQUAL(memcmp(out, arr, sizeof(arr)), 0); \
} while (0)

/* ---- per-type golden decode + encode ---- */

static void
offer_matches_golden_bytes(void)
{
	static const uint8_t net[16] = VMBS_GUID_NET_CLASS;
	struct vmbs_chmsg_offer o;
	struct vmbs_chmsg m;
	unsigned int i;

	DECODE_GOLDEN(golden_offer, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_OFFERCHANNEL);
	CU_ASSERT_EQUAL(m.u.offer.if_type[0], 0x63);
	CU_ASSERT_EQUAL(m.u.offer.if_type[15], 0x0e);
	CU_ASSERT_EQUAL(m.u.offer.if_instance[15], 0x0f);
	CU_ASSERT_EQUAL(m.u.offer.chn_flags, 0x0404);
	CU_ASSERT_EQUAL(m.u.offer.user_def[0], 0x11);
	CU_ASSERT_EQUAL(m.u.offer.user_def[119], 0x22);
	CU_ASSERT_EQUAL(m.u.offer.sub_channel_index, 1);
	CU_ASSERT_EQUAL(m.u.offer.child_relid, 14);
	CU_ASSERT_EQUAL(m.u.offer.monitor_id, 3);
	CU_ASSERT_EQUAL(m.u.offer.monitor_allocated, 1);
	CU_ASSERT_EQUAL(m.u.offer.is_dedicated_interrupt, 1);
	CU_ASSERT_EQUAL(m.u.offer.connection_id, 30);

	/* Encode from fields set one by one, not from the decoded copy. */
	memset(&o, 0, sizeof(o));
	memcpy(o.if_type, net, sizeof(net));
	for (i = 0; i < 16; i++)
		o.if_instance[i] = (uint8_t)i;
	o.chn_flags = VMBS_OFFER_F_SERVER_SUPPORTS_GPADLS |
		      VMBS_OFFER_F_REQUEST_MONITORED_NOTIFICATION;
	o.user_def[0] = 0x11;
	o.user_def[119] = 0x22;
	o.sub_channel_index = 1;
	o.child_relid = 14;
	o.monitor_id = 3;
	o.monitor_allocated = 1;
	o.is_dedicated_interrupt = 1;
	o.connection_id = 30;
	o.hdr.msgtype = 0xdead;		/* must be overwritten */
	o.hdr.padding = 0xbeef;
	CHECK_ENCODED(vmbs_chmsg_encode_offer(out, sizeof(out), &o), golden_offer);
}

static void
rescind_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_rescind, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_RESCIND_CHANNELOFFER);
	CU_ASSERT_EQUAL(m.u.relid.child_relid, 14);
	CHECK_ENCODED(vmbs_chmsg_encode_rescind(out, sizeof(out), 14), golden_rescind);
}

static void
requestoffers_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_requestoffers, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_REQUESTOFFERS);
	CHECK_ENCODED(vmbs_chmsg_encode_requestoffers(out, sizeof(out)), golden_requestoffers);
}

static void
alloffers_delivered_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_alloffers, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_ALLOFFERS_DELIVERED);
	CHECK_ENCODED(vmbs_chmsg_encode_alloffers_delivered(out, sizeof(out)),
		      golden_alloffers);
}

static void
open_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;
	struct vmbs_chmsg_open o;

	DECODE_GOLDEN(golden_open, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_OPENCHANNEL);
	CU_ASSERT_EQUAL(m.u.open.child_relid, 14);
	CU_ASSERT_EQUAL(m.u.open.openid, 0x21);
	CU_ASSERT_EQUAL(m.u.open.ring_gpadl, 0x1001);
	CU_ASSERT_EQUAL(m.u.open.target_vp, VMBS_OPEN_TARGET_VP_NONE);
	CU_ASSERT_EQUAL(m.u.open.downstream_page_offset, 128);
	CU_ASSERT_EQUAL(m.u.open.user_data[0], 0xaa);
	CU_ASSERT_EQUAL(m.u.open.user_data[119], 0xbb);

	memset(&o, 0, sizeof(o));
	o.child_relid = 14;
	o.openid = 0x21;
	o.ring_gpadl = 0x1001;
	o.target_vp = VMBS_OPEN_TARGET_VP_NONE;
	o.downstream_page_offset = 128;
	o.user_data[0] = 0xaa;
	o.user_data[119] = 0xbb;
	CHECK_ENCODED(vmbs_chmsg_encode_open(out, sizeof(out), &o), golden_open);
}

static void
open_result_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_open_result, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_OPENCHANNEL_RESULT);
	CU_ASSERT_EQUAL(m.u.open_result.child_relid, 14);
	CU_ASSERT_EQUAL(m.u.open_result.openid, 0x21);
	CU_ASSERT_EQUAL(m.u.open_result.status, 0xc0000001u);
	CHECK_ENCODED(vmbs_chmsg_encode_open_result(out, sizeof(out), 14, 0x21, 0xc0000001u),
		      golden_open_result);
}

static void
close_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_close, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_CLOSECHANNEL);
	CU_ASSERT_EQUAL(m.u.relid.child_relid, 14);
	CHECK_ENCODED(vmbs_chmsg_encode_close(out, sizeof(out), 14), golden_close);
}

static void
gpadl_header_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_gpadl_header, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_HEADER);
	CU_ASSERT_EQUAL(m.u.gpadl_header.fixed.child_relid, 14);
	CU_ASSERT_EQUAL(m.u.gpadl_header.fixed.gpadl, 0x1001);
	CU_ASSERT_EQUAL(m.u.gpadl_header.fixed.range_buflen, 32);
	CU_ASSERT_EQUAL(m.u.gpadl_header.fixed.range_cnt, 1);
	CU_ASSERT_EQUAL(m.u.gpadl_header.ranges_len, 32);
	/* Points into the caller's buffer, at offset 20. */
	CU_ASSERT_PTR_EQUAL(m.u.gpadl_header.ranges, golden_gpadl_header + 20);
	CHECK_ENCODED(vmbs_chmsg_encode_gpadl_header(out, sizeof(out), 14, 0x1001, 32, 1,
						     golden_gpadl_header + 20, 32),
		      golden_gpadl_header);
}

static void
gpadl_body_matches_golden_bytes(void)
{
	static const uint64_t words[] = { 0x200, 0x201 };
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_gpadl_body, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_BODY);
	CU_ASSERT_EQUAL(m.u.gpadl_body.fixed.msgnumber, 1);
	CU_ASSERT_EQUAL(m.u.gpadl_body.fixed.gpadl, 0x1001);
	CU_ASSERT_EQUAL(m.u.gpadl_body.word_cnt, 2);
	CU_ASSERT_PTR_EQUAL(m.u.gpadl_body.words, golden_gpadl_body + 16);
	CHECK_ENCODED(vmbs_chmsg_encode_gpadl_body(out, sizeof(out), 1, 0x1001, words, 2),
		      golden_gpadl_body);
}

static void
gpadl_created_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_gpadl_created, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_CREATED);
	CU_ASSERT_EQUAL(m.u.gpadl_created.child_relid, 14);
	CU_ASSERT_EQUAL(m.u.gpadl_created.gpadl, 0x1001);
	CU_ASSERT_EQUAL(m.u.gpadl_created.creation_status, VMBS_GPADL_STATUS_FAILURE);
	CHECK_ENCODED(vmbs_chmsg_encode_gpadl_created(out, sizeof(out), 14, 0x1001,
						      VMBS_GPADL_STATUS_FAILURE),
		      golden_gpadl_created);
}

static void
gpadl_teardown_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_gpadl_teardown, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_TEARDOWN);
	CU_ASSERT_EQUAL(m.u.gpadl_teardown.child_relid, 14);
	CU_ASSERT_EQUAL(m.u.gpadl_teardown.gpadl, 0x1001);
	CHECK_ENCODED(vmbs_chmsg_encode_gpadl_teardown(out, sizeof(out), 14, 0x1001),
		      golden_gpadl_teardown);
}

static void
gpadl_torndown_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_gpadl_torndown, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_TORNDOWN);
	CU_ASSERT_EQUAL(m.u.gpadl_torndown.gpadl, 0x1001);
	CHECK_ENCODED(vmbs_chmsg_encode_gpadl_torndown(out, sizeof(out), 0x1001),
		      golden_gpadl_torndown);
}

static void
relid_released_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_relid_released, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_RELID_RELEASED);
	CU_ASSERT_EQUAL(m.u.relid.child_relid, 14);
	CHECK_ENCODED(vmbs_chmsg_encode_relid_released(out, sizeof(out), 14),
		      golden_relid_released);
}

static void
initiate_contact_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_initiate_contact, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_INITIATE_CONTACT);
	CU_ASSERT_EQUAL(m.u.initiate_contact.version_requested, VMBS_VERSION_WIN2022);
	CU_ASSERT_EQUAL(m.u.initiate_contact.target_vcpu, 0);
	CU_ASSERT_EQUAL(m.u.initiate_contact.interrupt_page, 2);
	CU_ASSERT_EQUAL(m.u.initiate_contact.monitor_page1, 0x123456000ull);
	CU_ASSERT_EQUAL(m.u.initiate_contact.monitor_page2, 0x123457000ull);
	CHECK_ENCODED(vmbs_chmsg_encode_initiate_contact(out, sizeof(out),
							 VMBS_VERSION(5, 3), 0, 2,
							 0x123456000ull, 0x123457000ull),
		      golden_initiate_contact);
}

static void
version_response_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_version_response, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_VERSION_RESPONSE);
	CU_ASSERT_EQUAL(m.u.version_response.version_supported, 1);
	CU_ASSERT_EQUAL(m.u.version_response.connection_state, 0);
	CU_ASSERT_EQUAL(m.u.version_response.msg_conn_id, VMBS_MSG_CONN_ID_V5);
	CHECK_ENCODED(vmbs_chmsg_encode_version_response(out, sizeof(out), true, 0,
							 VMBS_MSG_CONN_ID_V5),
		      golden_version_response);
}

static void
unload_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_unload, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_UNLOAD);
	CHECK_ENCODED(vmbs_chmsg_encode_unload(out, sizeof(out)), golden_unload);
}

static void
unload_response_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_unload_response, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_UNLOAD_RESPONSE);
	CHECK_ENCODED(vmbs_chmsg_encode_unload_response(out, sizeof(out)),
		      golden_unload_response);
}

static void
modify_channel_matches_golden_bytes(void)
{
	struct vmbs_chmsg m;

	DECODE_GOLDEN(golden_modify_channel, m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_MODIFYCHANNEL);
	CU_ASSERT_EQUAL(m.u.modify_channel.child_relid, 14);
	CU_ASSERT_EQUAL(m.u.modify_channel.target_vp, 3);
	CHECK_ENCODED(vmbs_chmsg_encode_modify_channel(out, sizeof(out), 14, 3),
		      golden_modify_channel);
}

/* ---- every type at once ---- */

static void
generic_encode_roundtrips_every_golden(void)
{
	struct vmbs_chmsg m;
	size_t i;
	int n;

	for (i = 0; i < N_GOLDENS; i++) {
		VMBS_CHECK(vmbs_chmsg_decode(goldens[i].bytes, goldens[i].len, &m) == 0);
		CU_ASSERT_EQUAL(m.type, goldens[i].type);
		memset(out, 0xa5, sizeof(out));
		n = vmbs_chmsg_encode(out, sizeof(out), &m);
		CU_ASSERT_EQUAL(n, (int)goldens[i].len);
		CU_ASSERT_EQUAL(memcmp(out, goldens[i].bytes, goldens[i].len), 0);
		CU_ASSERT_EQUAL(out[goldens[i].len], 0xa5);
	}
}

static void
rejects_each_type_one_byte_short(void)
{
	struct vmbs_chmsg m;
	size_t i;

	for (i = 0; i < N_GOLDENS; i++) {
		/* The golden messages cut to their minimum decode... */
		CU_ASSERT_EQUAL(vmbs_chmsg_decode(goldens[i].bytes, goldens[i].min_len, &m), 0);
		/* ...and one byte less never does. */
		CU_ASSERT_EQUAL(vmbs_chmsg_decode(goldens[i].bytes, goldens[i].min_len - 1, &m),
				-EBADMSG);
	}
}

static void
accepts_longer_messages_ignoring_the_tail(void)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	size_t i;

	/* Grown forms: OpenChannel2 (156), InitiateContact2 (56), VersionResponse 40. */
	memset(buf, 0x77, sizeof(buf));
	memcpy(buf, golden_open, sizeof(golden_open));
	VMBS_CHECK(vmbs_chmsg_decode(buf, 156, &m) == 0);
	CU_ASSERT_EQUAL(m.len, 156);
	CU_ASSERT_EQUAL(m.u.open.openid, 0x21);
	CU_ASSERT_EQUAL(m.u.open.user_data[119], 0xbb);

	memcpy(buf, golden_initiate_contact, sizeof(golden_initiate_contact));
	VMBS_CHECK(vmbs_chmsg_decode(buf, 56, &m) == 0);
	CU_ASSERT_EQUAL(m.u.initiate_contact.monitor_page2, 0x123457000ull);

	memcpy(buf, golden_version_response, sizeof(golden_version_response));
	VMBS_CHECK(vmbs_chmsg_decode(buf, 40, &m) == 0);
	CU_ASSERT_EQUAL(m.u.version_response.msg_conn_id, 4);

	/* Every fixed-size type up to the full 240 bytes. */
	for (i = 0; i < N_GOLDENS; i++) {
		if (goldens[i].type == VMBS_CHMSG_GPADL_HEADER ||
		    goldens[i].type == VMBS_CHMSG_GPADL_BODY)
			continue;
		memset(buf, 0x77, sizeof(buf));
		memcpy(buf, goldens[i].bytes, goldens[i].len);
		CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(buf), &m), 0);
		CU_ASSERT_EQUAL(m.type, goldens[i].type);
	}
}

static void
rejects_messages_over_240_or_under_header(void)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE + 8];
	struct vmbs_chmsg m;
	size_t len;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, golden_offer, sizeof(golden_offer));
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, 240, &m), 0);
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, 241, &m), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, SIZE_MAX, &m), -EBADMSG);
	for (len = 0; len < 8; len++)
		CU_ASSERT_EQUAL(vmbs_chmsg_decode(golden_unload, len, &m), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(NULL, 8, &m), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(golden_unload, 8, NULL), -EINVAL);
}

static void
rejects_unknown_and_unhandled_types(void)
{
	static const uint32_t bad[] = { 0, 30, 31, 0x100, 0x80000001u, 0xffffffffu };
	static const uint32_t unhandled[] = { 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29 };
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	size_t i;

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, &bad[i], 4);
		CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(buf), &m), -EBADMSG);
	}
	for (i = 0; i < sizeof(unhandled) / sizeof(unhandled[0]); i++) {
		memcpy(buf, &unhandled[i], 4);
		CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(buf), &m), -EOPNOTSUPP);
	}
}

/* ---- GPADL_HEADER / GPADL_BODY rules ---- */

static void
rejects_gpadl_header_with_more_bytes_than_range_buflen(void)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;

	memcpy(buf, golden_gpadl_header, sizeof(golden_gpadl_header));
	buf[16] = 24;		/* range_buflen 24, 32 bytes present */
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(golden_gpadl_header), &m), -EBADMSG);
	/* Fewer present than range_buflen: the rest comes in bodies. */
	buf[16] = 40;
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(golden_gpadl_header), &m), 0);
	CU_ASSERT_EQUAL(m.u.gpadl_header.ranges_len, 32);
	CU_ASSERT_EQUAL(m.u.gpadl_header.fixed.range_buflen, 40);
}

static void
rejects_gpadl_header_with_unaligned_range_bytes(void)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	size_t len;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, golden_gpadl_header, sizeof(golden_gpadl_header));
	buf[16] = 0xf8;		/* range_buflen 248: room for any present count */
	for (len = 21; len < sizeof(golden_gpadl_header); len++) {
		if ((len - 20) % 8 == 0) {
			CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, len, &m), 0);
		} else {
			CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, len, &m), -EBADMSG);
		}
	}
	/* 220 present bytes (a 240-byte slot) is not a whole number of words. */
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, 240, &m), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, 236, &m), 0);
}

static void
rejects_gpadl_header_with_zero_range_cnt(void)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;

	memcpy(buf, golden_gpadl_header, sizeof(golden_gpadl_header));
	buf[18] = 0;
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(golden_gpadl_header), &m), -EBADMSG);
}

static void
rejects_gpadl_header_with_impossible_range_buflen(void)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;

	memcpy(buf, golden_gpadl_header, sizeof(golden_gpadl_header));
	buf[16] = 33;		/* not a multiple of 8 */
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(golden_gpadl_header), &m), -EBADMSG);
	/* 3 ranges need at least 48 bytes (8 + one PFN each). */
	buf[16] = 40;
	buf[18] = 3;
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(golden_gpadl_header), &m), -EBADMSG);
	buf[16] = 48;
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, sizeof(golden_gpadl_header), &m), 0);
}

static void
rejects_gpadl_body_without_words_or_unaligned(void)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	size_t len;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, golden_gpadl_body, sizeof(golden_gpadl_body));
	CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, 16, &m), -EBADMSG);
	for (len = 17; len <= VMBS_CHMSG_MAX_SIZE; len++) {
		if ((len - 16) % 8 == 0) {
			CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, len, &m), 0);
			CU_ASSERT_EQUAL(m.u.gpadl_body.word_cnt, (len - 16) / 8);
		} else {
			CU_ASSERT_EQUAL(vmbs_chmsg_decode(buf, len, &m), -EBADMSG);
		}
	}
	VMBS_CHECK(vmbs_chmsg_decode(buf, 240, &m) == 0);
	CU_ASSERT_EQUAL(m.u.gpadl_body.word_cnt, 28);
}

/* ---- encoders: errors ---- */

static void
encoders_reject_small_buffers_without_writing(void)
{
	struct vmbs_chmsg m;
	size_t i, j;

	for (i = 0; i < N_GOLDENS; i++) {
		VMBS_CHECK(vmbs_chmsg_decode(goldens[i].bytes, goldens[i].len, &m) == 0);
		memset(out, 0xa5, sizeof(out));
		CU_ASSERT_EQUAL(vmbs_chmsg_encode(out, goldens[i].len - 1, &m), -ENOBUFS);
		for (j = 0; j < sizeof(out); j++)
			CU_ASSERT_EQUAL_FATAL(out[j], 0xa5);
	}
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_close(out, 11, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_unload(out, 7), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_torndown(NULL, 12, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_offer(out, sizeof(out), NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_open(out, sizeof(out), NULL), -EINVAL);
}

static void
encoders_reject_what_the_decoder_would_reject(void)
{
	uint8_t words[VMBS_CHMSG_MAX_SIZE] = { 0 };
	struct vmbs_chmsg m;

	/* Types the codec does not handle. */
	memset(&m, 0, sizeof(m));
	m.type = VMBS_CHMSG_INVALID;
	CU_ASSERT_EQUAL(vmbs_chmsg_encode(out, sizeof(out), &m), -EINVAL);
	m.type = (enum vmbs_chmsg_type)18;
	CU_ASSERT_EQUAL(vmbs_chmsg_encode(out, sizeof(out), &m), -EINVAL);
	m.type = VMBS_CHMSG_TYPE_MAX;
	CU_ASSERT_EQUAL(vmbs_chmsg_encode(out, sizeof(out), &m), -EINVAL);

	/* GPADL_HEADER: range_cnt 0, unaligned, over range_buflen, too long. */
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_header(out, sizeof(out), 1, 2, 16, 0, words, 16),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_header(out, sizeof(out), 1, 2, 16, 1, words, 12),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_header(out, sizeof(out), 1, 2, 16, 1, words, 24),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_header(out, sizeof(out), 1, 2, 1024, 1, words,
						       224), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_header(out, sizeof(out), 1, 2, 1024, 1, words,
						       216), 236);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_header(out, sizeof(out), 1, 2, 16, 1, NULL, 16),
			-EINVAL);

	/* GPADL_BODY: 0 or 29 words. */
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_body(out, sizeof(out), 1, 2, words, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_body(out, sizeof(out), 1, 2, words, 29), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_body(out, sizeof(out), 1, 2, words, 28), 240);
	CU_ASSERT_EQUAL(vmbs_chmsg_encode_gpadl_body(out, sizeof(out), 1, 2, NULL, 1), -EINVAL);
}

static void
encoders_roundtrip_through_decode(void)
{
	struct vmbs_chmsg m;
	int n;

	n = vmbs_chmsg_encode_open_result(out, sizeof(out), 7, 8, 9);
	VMBS_CHECK(n > 0 && vmbs_chmsg_decode(out, (size_t)n, &m) == 0);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_OPENCHANNEL_RESULT);
	CU_ASSERT_EQUAL(m.u.open_result.child_relid, 7);
	CU_ASSERT_EQUAL(m.u.open_result.openid, 8);
	CU_ASSERT_EQUAL(m.u.open_result.status, 9);

	n = vmbs_chmsg_encode_version_response(out, sizeof(out), false, 2, 1);
	VMBS_CHECK(n > 0 && vmbs_chmsg_decode(out, (size_t)n, &m) == 0);
	CU_ASSERT_EQUAL(m.u.version_response.version_supported, 0);
	CU_ASSERT_EQUAL(m.u.version_response.connection_state, 2);
	CU_ASSERT_EQUAL(m.u.version_response.msg_conn_id, 1);

	n = vmbs_chmsg_encode_modify_channel(out, sizeof(out), 0x7ff, 0xfffffffe);
	VMBS_CHECK(n > 0 && vmbs_chmsg_decode(out, (size_t)n, &m) == 0);
	CU_ASSERT_EQUAL(m.u.modify_channel.child_relid, 0x7ff);
	CU_ASSERT_EQUAL(m.u.modify_channel.target_vp, 0xfffffffe);

	n = vmbs_chmsg_encode_initiate_contact(out, sizeof(out), VMBS_VERSION_WIN10, 5,
					       UINT64_MAX, 1, 2);
	VMBS_CHECK(n > 0 && vmbs_chmsg_decode(out, (size_t)n, &m) == 0);
	CU_ASSERT_EQUAL(m.u.initiate_contact.version_requested, 0x00040000);
	CU_ASSERT_EQUAL(m.u.initiate_contact.target_vcpu, 5);
	CU_ASSERT_EQUAL(m.u.initiate_contact.interrupt_page, UINT64_MAX);
}

static void
type_names_cover_every_type(void)
{
	size_t i;

	for (i = 0; i < N_GOLDENS; i++)
		CU_ASSERT_STRING_EQUAL(vmbs_chmsg_type_name(goldens[i].type), goldens[i].name);
	CU_ASSERT_STRING_EQUAL(vmbs_chmsg_type_name(18), "OPEN_RESERVED_CHANNEL");
	CU_ASSERT_STRING_EQUAL(vmbs_chmsg_type_name(29), "RESUME");
	CU_ASSERT_STRING_EQUAL(vmbs_chmsg_type_name(0), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_chmsg_type_name(30), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_chmsg_type_name(0xffffffffu), "UNKNOWN");
}

/* ---- GPADL splitting ---- */

/* Little-endian writers for the hand-built range lists. */
static void
put32(uint8_t *p, size_t off, uint32_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
	p[off + 2] = (uint8_t)(v >> 16);
	p[off + 3] = (uint8_t)(v >> 24);
}

static void
put64(uint8_t *p, size_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

/*
 * Feed every message of @p g through the decoder, as a host would, and
 * re-assemble the range bytes into @p dst (which has room for @p cap).
 * Returns the number of messages, or -1 on any inconsistency.
 */
static int
split_and_reassemble(struct vmbs_chmsg_gpadl_gen *g, uint8_t *dst, size_t cap,
		     uint32_t want_relid, uint32_t want_gpadl, uint16_t want_cnt)
{
	uint8_t msg[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	size_t have = 0, total = 0;
	int n, count = 0;

	while ((n = vmbs_chmsg_gpadl_gen_next(g, msg, sizeof(msg))) > 0) {
		if (n > (int)VMBS_CHMSG_MAX_SIZE || vmbs_chmsg_decode(msg, (size_t)n, &m) != 0)
			return -1;
		if (count == 0) {
			if (m.type != VMBS_CHMSG_GPADL_HEADER ||
			    m.u.gpadl_header.fixed.child_relid != want_relid ||
			    m.u.gpadl_header.fixed.gpadl != want_gpadl ||
			    m.u.gpadl_header.fixed.range_cnt != want_cnt)
				return -1;
			total = m.u.gpadl_header.fixed.range_buflen;
			if (total > cap)
				return -1;
			memcpy(dst, m.u.gpadl_header.ranges, m.u.gpadl_header.ranges_len);
			have = m.u.gpadl_header.ranges_len;
		} else {
			if (m.type != VMBS_CHMSG_GPADL_BODY ||
			    m.u.gpadl_body.fixed.gpadl != want_gpadl ||
			    m.u.gpadl_body.fixed.msgnumber != (uint32_t)count ||
			    have + m.u.gpadl_body.word_cnt * 8u > total)
				return -1;
			memcpy(dst + have, m.u.gpadl_body.words, m.u.gpadl_body.word_cnt * 8u);
			have += m.u.gpadl_body.word_cnt * 8u;
		}
		count++;
	}
	if (n < 0 || have != total)
		return -1;
	return count;
}

static void
splits_8190_pfn_gpadl_and_reassembles_it(void)
{
	const uint32_t pfns = 8190;
	const size_t len = 8 + 8 * (size_t)pfns;	/* 65528: the u16 maximum */
	struct vmbs_chmsg_gpadl_gen g;
	uint8_t *ranges = malloc(len), *back = malloc(65536);
	uint32_t i;
	int count;

	VMBS_CHECK(ranges != NULL && back != NULL);
	/* One range: 8190 pages (~32 MiB), byte_offset 0, PFNs 0x40000 + i. */
	put32(ranges, 0, pfns * 4096);
	put32(ranges, 4, 0);
	for (i = 0; i < pfns; i++)
		put64(ranges, 8 + 8 * (size_t)i, 0x40000 + i);

	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 14, 0xe1e10, 1, ranges, len) == 0);
	count = split_and_reassemble(&g, back, 65536, 14, 0xe1e10, 1);
	/* 216 bytes in the header, then ceil(65312 / 224) = 292 bodies. */
	CU_ASSERT_EQUAL(count, 293);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_msg_count((uint32_t)len), 293);
	CU_ASSERT_EQUAL(memcmp(back, ranges, len), 0);
	/* Done stays done. */
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, out, sizeof(out)), 0);
	free(ranges);
	free(back);
}

static void
splits_multi_range_gpadl(void)
{
	uint8_t ranges[8 + 8 * 30 + 8 + 8 * 2 + 8 + 8];	/* 3 ranges: 30, 2, 1 PFNs */
	uint8_t back[sizeof(ranges)];
	struct vmbs_chmsg_gpadl_gen g;
	size_t off = 0;
	uint32_t i;

	put32(ranges, off, 30 * 4096);
	put32(ranges, off + 4, 0);
	off += 8;
	for (i = 0; i < 30; i++, off += 8)
		put64(ranges, off, 0x1000 + i);
	put32(ranges, off, 4096);
	put32(ranges, off + 4, 0x800);
	off += 8;
	put64(ranges, off, 0x2000);
	put64(ranges, off + 8, 0x2001);
	off += 16;
	put32(ranges, off, 100);
	put32(ranges, off + 4, 0);
	put64(ranges, off + 8, 0x3000);
	off += 16;
	VMBS_CHECK(off == sizeof(ranges));

	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 3, 4, 3, ranges, sizeof(ranges)) == 0);
	CU_ASSERT_EQUAL(split_and_reassemble(&g, back, sizeof(back), 3, 4, 3), 2);
	CU_ASSERT_EQUAL(memcmp(back, ranges, sizeof(ranges)), 0);
}

static void
splits_at_exact_message_boundaries(void)
{
	static uint8_t ranges[216 + 224 + 8];
	uint8_t back[sizeof(ranges)];
	struct vmbs_chmsg_gpadl_gen g;
	size_t i;

	for (i = 0; i < sizeof(ranges); i++)
		ranges[i] = (uint8_t)(i * 7 + 1);
	/* 216 bytes: exactly one full header, no body. */
	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 216) == 0);
	CU_ASSERT_EQUAL(split_and_reassemble(&g, back, sizeof(back), 1, 2, 1), 1);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_msg_count(216), 1);
	/* 224: a full header and a 1-word body. */
	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 224) == 0);
	CU_ASSERT_EQUAL(split_and_reassemble(&g, back, sizeof(back), 1, 2, 1), 2);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_msg_count(224), 2);
	/* 440: header + one full body. 448: one more. */
	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 440) == 0);
	CU_ASSERT_EQUAL(split_and_reassemble(&g, back, sizeof(back), 1, 2, 1), 2);
	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 448) == 0);
	CU_ASSERT_EQUAL(split_and_reassemble(&g, back, sizeof(back), 1, 2, 1), 3);
	CU_ASSERT_EQUAL(memcmp(back, ranges, 448), 0);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_msg_count(448), 3);
	/* 16: the smallest GPADL, one short header. */
	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 16) == 0);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, out, sizeof(out)), 36);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, out, sizeof(out)), 0);
}

static void
gpadl_generator_rejects_bad_lengths(void)
{
	static uint8_t ranges[65536];
	struct vmbs_chmsg_gpadl_gen g;

	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 0, ranges, 16), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 20), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 8), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 2, ranges, 24), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 65528), 0);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, 65536), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 65536, ranges, 65528), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, NULL, 16), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_init(NULL, 1, 2, 1, ranges, 16), -EINVAL);
}

static void
gpadl_generator_does_not_advance_on_small_buffer(void)
{
	static uint8_t ranges[512];
	struct vmbs_chmsg_gpadl_gen g;
	uint8_t msg[VMBS_CHMSG_MAX_SIZE];

	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, 1, 2, 1, ranges, sizeof(ranges)) == 0);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, msg, 235), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, msg, sizeof(msg)), 236);
	CU_ASSERT_EQUAL(msg[0], VMBS_CHMSG_GPADL_HEADER);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, msg, 239), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, msg, sizeof(msg)), 240);
	CU_ASSERT_EQUAL(msg[0], VMBS_CHMSG_GPADL_BODY);
	CU_ASSERT_EQUAL(msg[8], 1);	/* msgnumber 1 */
	/* 512 - 216 - 224 = 72 bytes left: a 9-word body. */
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, msg, sizeof(msg)), 16 + 72);
	CU_ASSERT_EQUAL(msg[8], 2);
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_gen_next(&g, msg, sizeof(msg)), 0);
}

static const struct vmbs_test_case golden_cases[] = {
	{ "offer_matches_golden_bytes", offer_matches_golden_bytes },
	{ "rescind_matches_golden_bytes", rescind_matches_golden_bytes },
	{ "requestoffers_matches_golden_bytes", requestoffers_matches_golden_bytes },
	{ "alloffers_delivered_matches_golden_bytes", alloffers_delivered_matches_golden_bytes },
	{ "open_matches_golden_bytes", open_matches_golden_bytes },
	{ "open_result_matches_golden_bytes", open_result_matches_golden_bytes },
	{ "close_matches_golden_bytes", close_matches_golden_bytes },
	{ "gpadl_header_matches_golden_bytes", gpadl_header_matches_golden_bytes },
	{ "gpadl_body_matches_golden_bytes", gpadl_body_matches_golden_bytes },
	{ "gpadl_created_matches_golden_bytes", gpadl_created_matches_golden_bytes },
	{ "gpadl_teardown_matches_golden_bytes", gpadl_teardown_matches_golden_bytes },
	{ "gpadl_torndown_matches_golden_bytes", gpadl_torndown_matches_golden_bytes },
	{ "relid_released_matches_golden_bytes", relid_released_matches_golden_bytes },
	{ "initiate_contact_matches_golden_bytes", initiate_contact_matches_golden_bytes },
	{ "version_response_matches_golden_bytes", version_response_matches_golden_bytes },
	{ "unload_matches_golden_bytes", unload_matches_golden_bytes },
	{ "unload_response_matches_golden_bytes", unload_response_matches_golden_bytes },
	{ "modify_channel_matches_golden_bytes", modify_channel_matches_golden_bytes },
	{ "generic_encode_roundtrips_every_golden", generic_encode_roundtrips_every_golden },
	{ "encoders_roundtrip_through_decode", encoders_roundtrip_through_decode },
	{ "type_names_cover_every_type", type_names_cover_every_type },
	{ NULL, NULL },
};

static const struct vmbs_test_case reject_cases[] = {
	{ "rejects_each_type_one_byte_short", rejects_each_type_one_byte_short },
	{ "accepts_longer_messages_ignoring_the_tail", accepts_longer_messages_ignoring_the_tail },
	{ "rejects_messages_over_240_or_under_header", rejects_messages_over_240_or_under_header },
	{ "rejects_unknown_and_unhandled_types", rejects_unknown_and_unhandled_types },
	{ "rejects_gpadl_header_with_more_bytes_than_range_buflen",
	  rejects_gpadl_header_with_more_bytes_than_range_buflen },
	{ "rejects_gpadl_header_with_unaligned_range_bytes",
	  rejects_gpadl_header_with_unaligned_range_bytes },
	{ "rejects_gpadl_header_with_zero_range_cnt", rejects_gpadl_header_with_zero_range_cnt },
	{ "rejects_gpadl_header_with_impossible_range_buflen",
	  rejects_gpadl_header_with_impossible_range_buflen },
	{ "rejects_gpadl_body_without_words_or_unaligned",
	  rejects_gpadl_body_without_words_or_unaligned },
	{ "encoders_reject_small_buffers_without_writing",
	  encoders_reject_small_buffers_without_writing },
	{ "encoders_reject_what_the_decoder_would_reject",
	  encoders_reject_what_the_decoder_would_reject },
	{ NULL, NULL },
};

static const struct vmbs_test_case gpadl_cases[] = {
	{ "splits_8190_pfn_gpadl_and_reassembles_it", splits_8190_pfn_gpadl_and_reassembles_it },
	{ "splits_multi_range_gpadl", splits_multi_range_gpadl },
	{ "splits_at_exact_message_boundaries", splits_at_exact_message_boundaries },
	{ "gpadl_generator_rejects_bad_lengths", gpadl_generator_rejects_bad_lengths },
	{ "gpadl_generator_does_not_advance_on_small_buffer",
	  gpadl_generator_does_not_advance_on_small_buffer },
	{ NULL, NULL },
};

static const struct vmbs_test_suite golden_suite = {
	"chanmsg_golden", NULL, NULL, golden_cases };
static const struct vmbs_test_suite reject_suite = {
	"chanmsg_reject", NULL, NULL, reject_cases };
static const struct vmbs_test_suite gpadl_suite = {
	"chanmsg_gpadl_split", NULL, NULL, gpadl_cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&golden_suite, &reject_suite, &gpadl_suite, NULL,
	};

	return vmbs_test_run(suites);
}
