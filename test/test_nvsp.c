/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/nvsp: NVSP codec. Every golden message below is typed in by hand
 * from the wire reference (b.4) and the netvsc guest notes (1.5-1.7),
 * offsets in the comments; guest messages are padded to 40 bytes as Linux
 * and DPDK send them. Malformed inputs are decoded from exact-size heap
 * copies, so that the ASan build catches any read past the length given.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbs_nvsp.h"
#include "vmbs_test.h"

/* ---- golden messages, guest to host (as DPDK's netvsc PMD sends them) ---- */

static const uint8_t g_init[40] = {
	/* 0 type 1 INIT */ 0x01, 0x00, 0x00, 0x00,
	/* 4 min_ver 6.1 = 0x00060001 */ 0x01, 0x00, 0x06, 0x00,
	/* 8 max_ver 6.1 */ 0x01, 0x00, 0x06, 0x00,
	/* 12..39 reserved 0 */
};

static const uint8_t g_ndis_config[40] = {
	/* 0 type 125 SEND_NDIS_CONFIG */ 0x7d, 0x00, 0x00, 0x00,
	/* 4 mtu 1514 */ 0xea, 0x05, 0x00, 0x00,
	/* 8 reserved */ 0x00, 0x00, 0x00, 0x00,
	/* 12 caps u64: SRIOV | IEEE8021Q = 0x0c */
	0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 20..39 reserved 0 */
};

static const uint8_t g_ndis_ver[40] = {
	/* 0 type 100 SEND_NDIS_VER */ 0x64, 0x00, 0x00, 0x00,
	/* 4 major 6 */ 0x06, 0x00, 0x00, 0x00,
	/* 8 minor 30 */ 0x1e, 0x00, 0x00, 0x00,
};

static const uint8_t g_recv_buf[40] = {
	/* 0 type 101 SEND_RECV_BUF */ 0x65, 0x00, 0x00, 0x00,
	/* 4 gpadl 0x12345678 */ 0x78, 0x56, 0x34, 0x12,
	/* 8 id 0xcafe */ 0xfe, 0xca,
	/* 10 reserved */ 0x00, 0x00,
};

static const uint8_t g_send_buf[40] = {
	/* 0 type 104 SEND_SEND_BUF */ 0x68, 0x00, 0x00, 0x00,
	/* 4 gpadl 0x12345679 */ 0x79, 0x56, 0x34, 0x12,
	/* 8 id 0xface */ 0xce, 0xfa,
};

static const uint8_t g_subch_req[40] = {
	/* 0 type 133 SUBCHANNEL */ 0x85, 0x00, 0x00, 0x00,
	/* 4 op 1 ALLOCATE */ 0x01, 0x00, 0x00, 0x00,
	/* 8 num_subchannels 3 */ 0x03, 0x00, 0x00, 0x00,
};

static const uint8_t g_rndis_ctrl[40] = {
	/* 0 type 107 SEND_RNDIS_PKT */ 0x6b, 0x00, 0x00, 0x00,
	/* 4 channel_type 1 control */ 0x01, 0x00, 0x00, 0x00,
	/* 8 section_index none */ 0xff, 0xff, 0xff, 0xff,
	/* 12 section_size 0 */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t g_rndis_data[40] = {
	/* 0 type 107 SEND_RNDIS_PKT */ 0x6b, 0x00, 0x00, 0x00,
	/* 4 channel_type 0 data */ 0x00, 0x00, 0x00, 0x00,
	/* 8 section_index 5 */ 0x05, 0x00, 0x00, 0x00,
	/* 12 section_size 504 */ 0xf8, 0x01, 0x00, 0x00,
};

static const uint8_t g_rndis_ack[40] = {
	/* 0 type 108 SEND_RNDIS_PKT_COMPLETE */ 0x6c, 0x00, 0x00, 0x00,
	/* 4 status 1 */ 0x01, 0x00, 0x00, 0x00,
};

static const uint8_t g_revoke_recv[40] = {
	/* 0 type 103 REVOKE_RECV_BUF */ 0x67, 0x00, 0x00, 0x00,
	/* 4 id 0xcafe */ 0xfe, 0xca,
};

static const uint8_t g_revoke_send[40] = {
	/* 0 type 106 REVOKE_SEND_BUF */ 0x6a, 0x00, 0x00, 0x00,
	/* 4 id 0xface */ 0xce, 0xfa,
};

static const uint8_t g_switch_dp[40] = {
	/* 0 type 129 SWITCH_DATA_PATH */ 0x81, 0x00, 0x00, 0x00,
	/* 4 active_datapath 1 VF */ 0x01, 0x00, 0x00, 0x00,
};

/* ---- golden messages, host to guest (what our encoders must produce) ---- */

static const uint8_t g_init_complete[40] = {
	/* 0 type 2 INIT_COMPLETE */ 0x02, 0x00, 0x00, 0x00,
	/* 4 negotiated (deprecated) 0xffffffff */ 0xff, 0xff, 0xff, 0xff,
	/* 8 max_mdl_chain_len 34 */ 0x22, 0x00, 0x00, 0x00,
	/* 12 status 1 SUCCESS */ 0x01, 0x00, 0x00, 0x00,
};

static const uint8_t g_recv_buf_complete[40] = {
	/* 0 type 102 SEND_RECV_BUF_COMPLETE */ 0x66, 0x00, 0x00, 0x00,
	/* 4 status 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 8 num_sections 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 12 offset 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 sub_alloc_size 1728 */ 0xc0, 0x06, 0x00, 0x00,
	/* 20 num_sub_allocs 4096 */ 0x00, 0x10, 0x00, 0x00,
	/* 24 end_offset 1728 * 4096 = 0x6c0000 */ 0x00, 0x00, 0x6c, 0x00,
};

static const uint8_t g_send_buf_complete[40] = {
	/* 0 type 105 SEND_SEND_BUF_COMPLETE */ 0x69, 0x00, 0x00, 0x00,
	/* 4 status 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 8 section_size 6144 */ 0x00, 0x18, 0x00, 0x00,
};

static const uint8_t g_rndis_rx[40] = {
	/* 0 type 107 SEND_RNDIS_PKT */ 0x6b, 0x00, 0x00, 0x00,
	/* 4 channel_type 0 data */ 0x00, 0x00, 0x00, 0x00,
	/* 8 section_index none */ 0xff, 0xff, 0xff, 0xff,
	/* 12 section_size 0 */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t g_rndis_complete[40] = {
	/* 0 type 108 SEND_RNDIS_PKT_COMPLETE */ 0x6c, 0x00, 0x00, 0x00,
	/* 4 status 1 */ 0x01, 0x00, 0x00, 0x00,
};

static const uint8_t g_vf_assoc[40] = {
	/* 0 type 128 SEND_VF_ASSOCIATION */ 0x80, 0x00, 0x00, 0x00,
	/* 4 allocated 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 8 serial 42 */ 0x2a, 0x00, 0x00, 0x00,
};

static const uint8_t g_subch_complete[40] = {
	/* 0 type 133 SUBCHANNEL */ 0x85, 0x00, 0x00, 0x00,
	/* 4 status 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 8 num_subchannels 3 */ 0x03, 0x00, 0x00, 0x00,
};

static const uint8_t g_ind_table[104] = {
	/* 0 type 134 SEND_INDIRECTION_TABLE */ 0x86, 0x00, 0x00, 0x00,
	/* 4 count 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 8 offset 40 */ 0x28, 0x00, 0x00, 0x00,
	/* 12..39 padding 0; 40.. entries 0,1,2,3 repeated */
	[40] = 0x00, 0, 0, 0, 0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x03, 0, 0, 0,
	[56] = 0x00, 0, 0, 0, 0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x03, 0, 0, 0,
	[72] = 0x00, 0, 0, 0, 0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x03, 0, 0, 0,
	[88] = 0x00, 0, 0, 0, 0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x03, 0, 0, 0,
};

static uint8_t out[256];

/* An exact-size heap copy: ASan reports any read past @p len. */
static uint8_t *
dup_exact(const void *src, size_t len)
{
	uint8_t *p = malloc(len);

	if (p != NULL && len != 0)
		memcpy(p, src, len);
	return p;
}

static int
decode_exact(const void *src, size_t len, struct vmbs_nvsp_msg *m, bool h2g)
{
	uint8_t *p = dup_exact(src, len);
	int rc;

	if (p == NULL && len != 0)
		return -ENOMEM;
	rc = h2g ? vmbs_nvsp_decode_h2g(p, len, m) : vmbs_nvsp_decode(p, len, m);
	free(p);
	return rc;
}

#define DECODE(arr, m) do { \
	VMBS_CHECK(decode_exact(arr, sizeof(arr), &(m), false) == 0); \
	CU_ASSERT_EQUAL((m).len, sizeof(arr)); \
} while (0)

#define DECODE_H2G(arr, m) do { \
	VMBS_CHECK(decode_exact(arr, sizeof(arr), &(m), true) == 0); \
	CU_ASSERT_EQUAL((m).len, sizeof(arr)); \
} while (0)

/* Check an encoder's result is exactly the golden message. */
#define CHECK_ENCODED(rc, arr) do { \
	CU_ASSERT_EQUAL((rc), (int)sizeof(arr)); \
	CU_ASSERT_EQUAL(memcmp(out, arr, sizeof(arr)), 0); \
} while (0)

/* ---- guest to host: golden decode ---- */

static void
init_decodes(void)
{
	struct vmbs_nvsp_msg m;

	DECODE(g_init, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_INIT);
	CU_ASSERT_EQUAL(m.u.init.type, 1);
	CU_ASSERT_EQUAL(m.u.init.min_ver, VMBS_NVSP_VERSION_61);
	CU_ASSERT_EQUAL(m.u.init.max_ver, 0x60001);
}

static void
ndis_config_decodes_u64_at_offset_12(void)
{
	struct vmbs_nvsp_msg m;

	DECODE(g_ndis_config, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_NDIS_CONFIG);
	CU_ASSERT_EQUAL(m.u.ndis_config.mtu, 1514);
	CU_ASSERT_EQUAL(m.u.ndis_config.reserved, 0);
	CU_ASSERT_EQUAL(m.u.ndis_config.caps, VMBS_NVSP_CAP_SRIOV | VMBS_NVSP_CAP_IEEE8021Q);
}

static void
ndis_ver_decodes(void)
{
	struct vmbs_nvsp_msg m;

	DECODE(g_ndis_ver, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_NDIS_VER);
	CU_ASSERT_EQUAL(m.u.ndis_ver.major, 6);
	CU_ASSERT_EQUAL(m.u.ndis_ver.minor, 30);
	CU_ASSERT_EQUAL(VMBS_NVSP_NDIS_VERSION(m.u.ndis_ver.major, m.u.ndis_ver.minor),
			0x0006001e);
}

static void
recv_and_send_buf_decode(void)
{
	struct vmbs_nvsp_msg m;

	DECODE(g_recv_buf, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_RECV_BUF);
	CU_ASSERT_EQUAL(m.u.send_buf.gpadl, 0x12345678);
	CU_ASSERT_EQUAL(m.u.send_buf.id, VMBS_NVSP_RECV_BUF_ID_NETVSC);

	DECODE(g_send_buf, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_SEND_BUF);
	CU_ASSERT_EQUAL(m.u.send_buf.gpadl, 0x12345679);
	CU_ASSERT_EQUAL(m.u.send_buf.id, VMBS_NVSP_SEND_BUF_ID_DPDK);
}

static void
revokes_decode(void)
{
	struct vmbs_nvsp_msg m;

	DECODE(g_revoke_recv, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_REVOKE_RECV_BUF);
	CU_ASSERT_EQUAL(m.u.revoke_buf.id, 0xcafe);
	DECODE(g_revoke_send, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_REVOKE_SEND_BUF);
	CU_ASSERT_EQUAL(m.u.revoke_buf.id, 0xface);
}

static void
rndis_pkt_and_complete_decode(void)
{
	struct vmbs_nvsp_msg m;

	DECODE(g_rndis_ctrl, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	CU_ASSERT_EQUAL(m.u.rndis_pkt.channel_type, VMBS_NVSP_CHANNEL_CONTROL);
	CU_ASSERT_EQUAL(m.u.rndis_pkt.section_index, VMBS_NVSP_SECTION_NONE);
	CU_ASSERT_EQUAL(m.u.rndis_pkt.section_size, 0);

	DECODE(g_rndis_data, m);
	CU_ASSERT_EQUAL(m.u.rndis_pkt.channel_type, VMBS_NVSP_CHANNEL_DATA);
	CU_ASSERT_EQUAL(m.u.rndis_pkt.section_index, 5);
	CU_ASSERT_EQUAL(m.u.rndis_pkt.section_size, 504);

	DECODE(g_rndis_ack, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE);
	CU_ASSERT_EQUAL(m.u.rndis_pkt_complete.status, VMBS_NVSP_STATUS_SUCCESS);
}

static void
subchannel_and_switch_decode(void)
{
	struct vmbs_nvsp_msg m;

	DECODE(g_subch_req, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SUBCHANNEL);
	CU_ASSERT_EQUAL(m.u.subchannel_req.op, VMBS_NVSP_SUBCHANNEL_ALLOCATE);
	CU_ASSERT_EQUAL(m.u.subchannel_req.num_subchannels, 3);

	DECODE(g_switch_dp, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SWITCH_DATA_PATH);
	CU_ASSERT_EQUAL(m.u.switch_data_path.active_datapath, VMBS_NVSP_DATAPATH_VF);
}

/* Re-encoding a decoded guest message gives back the 40 padded bytes. */
static void
generic_encode_roundtrips_guest_goldens(void)
{
	static const struct {
		const uint8_t *bytes;
	} g[] = {
		{ g_init }, { g_ndis_config }, { g_ndis_ver }, { g_recv_buf }, { g_send_buf },
		{ g_subch_req }, { g_rndis_ctrl }, { g_rndis_data }, { g_rndis_ack },
		{ g_revoke_recv }, { g_revoke_send }, { g_switch_dp },
	};
	struct vmbs_nvsp_msg m;
	size_t i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		VMBS_CHECK(decode_exact(g[i].bytes, 40, &m, false) == 0);
		memset(out, 0xaa, sizeof(out));
		CU_ASSERT_EQUAL(vmbs_nvsp_encode(out, sizeof(out), &m), 40);
		CU_ASSERT_EQUAL(memcmp(out, g[i].bytes, 40), 0);
		CU_ASSERT_EQUAL(out[40], 0xaa);	/* nothing past 40 */
	}
}

/* ---- host to guest: encoders against golden bytes ---- */

static void
init_complete_matches_golden(void)
{
	struct vmbs_nvsp_msg m;

	memset(out, 0xaa, sizeof(out));
	CHECK_ENCODED(vmbs_nvsp_encode_init_complete(out, sizeof(out), VMBS_NVSP_INVALID_VERSION,
						     VMBS_NVSP_MAX_MDL_CHAIN_LEN,
						     VMBS_NVSP_STATUS_SUCCESS),
		      g_init_complete);
	CU_ASSERT_EQUAL(out[40], 0xaa);
	DECODE_H2G(g_init_complete, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_INIT_COMPLETE);
	CU_ASSERT_EQUAL(m.u.init_complete.negotiated_ver, 0xffffffffu);
	CU_ASSERT_EQUAL(m.u.init_complete.max_mdl_chain_len, 34);
	CU_ASSERT_EQUAL(m.u.init_complete.status, 1);
}

static void
recv_buf_complete_matches_golden(void)
{
	struct vmbs_nvsp_recv_buf_section s = {
		.offset = 0, .sub_alloc_size = 1728, .num_sub_allocs = 4096,
		.end_offset = 1728 * 4096,
	};
	struct vmbs_nvsp_msg m;

	CHECK_ENCODED(vmbs_nvsp_encode_recv_buf_complete(out, sizeof(out),
							 VMBS_NVSP_STATUS_SUCCESS, &s),
		      g_recv_buf_complete);
	DECODE_H2G(g_recv_buf_complete, m);
	CU_ASSERT_EQUAL(m.u.recv_buf_complete.status, 1);
	CU_ASSERT_EQUAL(m.u.recv_buf_complete.num_sections, 1);
	CU_ASSERT_EQUAL(m.u.recv_buf_complete.section.sub_alloc_size, 1728);
	CU_ASSERT_EQUAL(m.u.recv_buf_complete.section.num_sub_allocs, 4096);
	CU_ASSERT_EQUAL(m.u.recv_buf_complete.section.end_offset, 0x6c0000);

	/* A failure carries no section. */
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_recv_buf_complete(out, sizeof(out),
							   VMBS_NVSP_STATUS_FAIL, NULL), 40);
	CU_ASSERT_EQUAL(out[4], 2);
	CU_ASSERT_EQUAL(out[8], 0);	/* num_sections 0 */
	CU_ASSERT_EQUAL(out[16], 0);
}

static void
send_buf_complete_matches_golden(void)
{
	struct vmbs_nvsp_msg m;

	CHECK_ENCODED(vmbs_nvsp_encode_send_buf_complete(out, sizeof(out),
							 VMBS_NVSP_STATUS_SUCCESS, 6144),
		      g_send_buf_complete);
	DECODE_H2G(g_send_buf_complete, m);
	CU_ASSERT_EQUAL(m.u.send_buf_complete.section_size, 6144);
}

static void
rndis_pkt_rx_matches_golden(void)
{
	struct vmbs_nvsp_msg m;

	CHECK_ENCODED(vmbs_nvsp_encode_rndis_pkt(out, sizeof(out), VMBS_NVSP_CHANNEL_DATA,
						 VMBS_NVSP_SECTION_NONE, 0),
		      g_rndis_rx);
	DECODE_H2G(g_rndis_rx, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	/* The guest's control request is the same layout. */
	CHECK_ENCODED(vmbs_nvsp_encode_rndis_pkt(out, sizeof(out), VMBS_NVSP_CHANNEL_CONTROL,
						 VMBS_NVSP_SECTION_NONE, 0),
		      g_rndis_ctrl);
}

static void
rndis_pkt_complete_matches_golden(void)
{
	struct vmbs_nvsp_msg m;

	CHECK_ENCODED(vmbs_nvsp_encode_rndis_pkt_complete(out, sizeof(out),
							  VMBS_NVSP_STATUS_SUCCESS),
		      g_rndis_complete);
	DECODE_H2G(g_rndis_complete, m);
	CU_ASSERT_EQUAL(m.u.rndis_pkt_complete.status, 1);
}

static void
vf_assoc_matches_golden(void)
{
	struct vmbs_nvsp_msg m;

	CHECK_ENCODED(vmbs_nvsp_encode_vf_assoc(out, sizeof(out), 1, 42), g_vf_assoc);
	DECODE_H2G(g_vf_assoc, m);
	CU_ASSERT_EQUAL(m.type, VMBS_NVSP_TYPE_SEND_VF_ASSOCIATION);
	CU_ASSERT_EQUAL(m.u.vf_assoc.allocated, 1);
	CU_ASSERT_EQUAL(m.u.vf_assoc.serial, 42);
}

static void
subchannel_complete_is_40_bytes(void)
{
	struct vmbs_nvsp_msg m;

	CHECK_ENCODED(vmbs_nvsp_encode_subchannel_complete(out, sizeof(out),
							   VMBS_NVSP_STATUS_SUCCESS, 3),
		      g_subch_complete);
	DECODE_H2G(g_subch_complete, m);
	CU_ASSERT_EQUAL(m.u.subchannel_complete.status, 1);
	CU_ASSERT_EQUAL(m.u.subchannel_complete.num_subchannels, 3);
}

static void
indirection_table_matches_golden(void)
{
	uint32_t table[VMBS_NVSP_INDIRECTION_TABLE_SIZE];
	struct vmbs_nvsp_msg m;
	unsigned int i;

	for (i = 0; i < VMBS_NVSP_INDIRECTION_TABLE_SIZE; i++)
		table[i] = i % 4;
	CHECK_ENCODED(vmbs_nvsp_encode_indirection_table(out, sizeof(out), table), g_ind_table);
	DECODE_H2G(g_ind_table, m);
	CU_ASSERT_EQUAL(m.u.indirection_table.fixed.count, 16);
	CU_ASSERT_EQUAL(m.u.indirection_table.fixed.offset, 40);
	for (i = 0; i < VMBS_NVSP_INDIRECTION_TABLE_SIZE; i++)
		CU_ASSERT_EQUAL(m.u.indirection_table.table[i], i % 4);
}

/* OpenVMM's layout (table at 12, 76 bytes) decodes too. */
static void
indirection_table_at_offset_12_decodes(void)
{
	uint8_t msg[76] = {
		/* 0 type 134 */ 0x86, 0x00, 0x00, 0x00,
		/* 4 count 16 */ 0x10, 0x00, 0x00, 0x00,
		/* 8 offset 12 */ 0x0c, 0x00, 0x00, 0x00,
		/* 12 entry 0 = 7, ..., 72 entry 15 = 9 */
		[12] = 0x07, [72] = 0x09,
	};
	struct vmbs_nvsp_msg m;

	VMBS_CHECK(decode_exact(msg, sizeof(msg), &m, true) == 0);
	CU_ASSERT_EQUAL(m.u.indirection_table.table[0], 7);
	CU_ASSERT_EQUAL(m.u.indirection_table.table[1], 0);
	CU_ASSERT_EQUAL(m.u.indirection_table.table[15], 9);
}

/* DPDK needs responses at least as long as its structs (netvsc notes 1.7). */
static void
responses_meet_dpdk_minimum_lengths(void)
{
	struct vmbs_nvsp_recv_buf_section s = { 0 };

	CU_ASSERT(vmbs_nvsp_encode_init_complete(out, sizeof(out), 0, 0, 1) >= 16);
	CU_ASSERT(vmbs_nvsp_encode_recv_buf_complete(out, sizeof(out), 1, &s) >= 28);
	CU_ASSERT(vmbs_nvsp_encode_send_buf_complete(out, sizeof(out), 1, 6144) >= 12);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_subchannel_complete(out, sizeof(out), 1, 1), 40);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_rndis_pkt_complete(out, sizeof(out), 1), 40);
}

/* ---- DPDK's sequence (netvsc guest notes 1.7) ---- */

static void
dpdk_handshake_sequence_decodes_in_order(void)
{
	static const struct {
		const uint8_t *bytes;
		enum vmbs_nvsp_type type;
	} seq[] = {
		{ g_init, VMBS_NVSP_TYPE_INIT },
		{ g_ndis_config, VMBS_NVSP_TYPE_SEND_NDIS_CONFIG },
		{ g_ndis_ver, VMBS_NVSP_TYPE_SEND_NDIS_VER },
		{ g_recv_buf, VMBS_NVSP_TYPE_SEND_RECV_BUF },
		{ g_send_buf, VMBS_NVSP_TYPE_SEND_SEND_BUF },
		{ g_subch_req, VMBS_NVSP_TYPE_SUBCHANNEL },
		{ g_rndis_ctrl, VMBS_NVSP_TYPE_SEND_RNDIS_PKT },
		{ g_rndis_data, VMBS_NVSP_TYPE_SEND_RNDIS_PKT },
		{ g_rndis_ack, VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE },
		{ g_revoke_recv, VMBS_NVSP_TYPE_REVOKE_RECV_BUF },
		{ g_revoke_send, VMBS_NVSP_TYPE_REVOKE_SEND_BUF },
	};
	struct vmbs_nvsp_msg m;
	size_t i;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		VMBS_CHECK(decode_exact(seq[i].bytes, 40, &m, false) == 0);
		CU_ASSERT_EQUAL(m.type, seq[i].type);
		CU_ASSERT_EQUAL(m.u.hdr.type, (uint32_t)seq[i].type);
	}
}

/* DPDK walks 6.1, 6.0, 5, 4, 3.2, 1 until INIT_COMPLETE says success. */
static void
dpdk_version_walk_down(void)
{
	static const uint32_t tried[] = {
		0x60001, 0x60000, 0x50000, 0x40000, 0x30002, 0x2,
	};
	uint8_t msg[40] = { 0x01 };	/* INIT */
	struct vmbs_nvsp_msg m;
	uint32_t v = 0;
	size_t i;

	/* A host capped at 5.0 refuses the first two and takes 5.0. */
	for (i = 0; i < sizeof(tried) / sizeof(tried[0]); i++) {
		memcpy(msg + 4, &tried[i], 4);
		memcpy(msg + 8, &tried[i], 4);
		VMBS_CHECK(decode_exact(msg, sizeof(msg), &m, false) == 0);
		v = vmbs_nvsp_pick_version(m.u.init.min_ver, m.u.init.max_ver,
					   VMBS_NVSP_VERSION_5);
		if (v != 0)
			break;
	}
	CU_ASSERT_EQUAL(i, 2);
	CU_ASSERT_EQUAL(v, VMBS_NVSP_VERSION_5);
	CU_ASSERT_EQUAL(vmbs_nvsp_ndis_version(v), VMBS_NVSP_NDIS_6_30);
	CU_ASSERT_EQUAL(vmbs_nvsp_msg_size(v), 28);

	/* An uncapped host takes the first. */
	CU_ASSERT_EQUAL(vmbs_nvsp_pick_version(0x60001, 0x60001, VMBS_NVSP_VERSION_61),
			VMBS_NVSP_VERSION_61);
}

/* ---- versions and names ---- */

static void
version_helpers(void)
{
	CU_ASSERT(vmbs_nvsp_version_supported(0x2));
	CU_ASSERT(vmbs_nvsp_version_supported(0x30002));
	CU_ASSERT(vmbs_nvsp_version_supported(0x40000));
	CU_ASSERT(vmbs_nvsp_version_supported(0x50000));
	CU_ASSERT(vmbs_nvsp_version_supported(0x60000));
	CU_ASSERT(vmbs_nvsp_version_supported(0x60001));
	CU_ASSERT(!vmbs_nvsp_version_supported(0x30000));
	CU_ASSERT(!vmbs_nvsp_version_supported(0x60002));
	CU_ASSERT(!vmbs_nvsp_version_supported(0));

	/* A range picks the newest inside it. */
	CU_ASSERT_EQUAL(vmbs_nvsp_pick_version(0x2, 0x60001, 0x60001), 0x60001);
	CU_ASSERT_EQUAL(vmbs_nvsp_pick_version(0x2, 0x4ffff, 0x60001), 0x40000);
	CU_ASSERT_EQUAL(vmbs_nvsp_pick_version(0x30000, 0x30001, 0x60001), 0);
	CU_ASSERT_EQUAL(vmbs_nvsp_pick_version(0x60001, 0x2, 0x60001), 0);	/* min > max */
	CU_ASSERT_EQUAL(vmbs_nvsp_pick_version(0x60001, 0x60001, 0x60000), 0);
	CU_ASSERT_EQUAL(vmbs_nvsp_pick_version(0, 0xffffffff, 0), 0);

	/* NDIS 6.1 up to NVSP 4, 6.30 from 5. */
	CU_ASSERT_EQUAL(vmbs_nvsp_ndis_version(0x2), 0x00060001);
	CU_ASSERT_EQUAL(vmbs_nvsp_ndis_version(0x30002), 0x00060001);
	CU_ASSERT_EQUAL(vmbs_nvsp_ndis_version(0x40000), 0x00060001);
	CU_ASSERT_EQUAL(vmbs_nvsp_ndis_version(0x50000), 0x0006001e);
	CU_ASSERT_EQUAL(vmbs_nvsp_ndis_version(0x60001), 0x0006001e);

	CU_ASSERT_EQUAL(vmbs_nvsp_msg_size(0x60000), 28);
	CU_ASSERT_EQUAL(vmbs_nvsp_msg_size(0x60001), 40);
	CU_ASSERT_EQUAL(VMBS_NVSP_MSG_SIZE, 40);
}

static void
type_names(void)
{
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(1), "INIT");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(107), "SEND_RNDIS_PKT");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(109), "SEND_CHIMNEY_DELEGATED_BUF");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(133), "SUBCHANNEL");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(136), "PD_POST_BATCH");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(0), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(3), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(99), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(137), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_nvsp_type_name(0xffffffffu), "UNKNOWN");
}

/* ---- rejection ---- */

/* Every guest message, cut at each length below its struct size. */
static void
rejects_each_type_truncated_at_every_length(void)
{
	static const struct {
		const uint8_t *bytes;
		size_t min_len;		/* struct size, from b.4 by hand */
	} g[] = {
		{ g_init, 12 }, { g_ndis_config, 20 }, { g_ndis_ver, 12 }, { g_recv_buf, 12 },
		{ g_send_buf, 12 }, { g_subch_req, 12 }, { g_rndis_ctrl, 16 },
		{ g_rndis_ack, 8 }, { g_revoke_recv, 8 }, { g_revoke_send, 8 },
		{ g_switch_dp, 8 },
	};
	struct vmbs_nvsp_msg m;
	size_t i, len;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		for (len = 0; len < g[i].min_len; len++)
			CU_ASSERT_EQUAL(decode_exact(g[i].bytes, len, &m, false), -EBADMSG);
		CU_ASSERT_EQUAL(decode_exact(g[i].bytes, g[i].min_len, &m, false), 0);
		CU_ASSERT_EQUAL(m.len, g[i].min_len);
	}
}

static void
rejects_host_messages_truncated_at_every_length(void)
{
	static const struct {
		const uint8_t *bytes;
		size_t min_len;
	} g[] = {
		{ g_init_complete, 16 }, { g_recv_buf_complete, 28 },
		{ g_send_buf_complete, 12 }, { g_rndis_rx, 16 }, { g_rndis_complete, 8 },
		{ g_vf_assoc, 12 }, { g_subch_complete, 12 },
	};
	struct vmbs_nvsp_msg m;
	size_t i, len;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		for (len = 0; len < g[i].min_len; len++)
			CU_ASSERT_EQUAL(decode_exact(g[i].bytes, len, &m, true), -EBADMSG);
		CU_ASSERT_EQUAL(decode_exact(g[i].bytes, g[i].min_len, &m, true), 0);
	}
	/* The table needs its entries: any cut below 104 fails. */
	for (len = 0; len < sizeof(g_ind_table); len++)
		CU_ASSERT_EQUAL(decode_exact(g_ind_table, len, &m, true), -EBADMSG);
}

static void
accepts_longer_messages_reading_only_the_prefix(void)
{
	uint8_t big[4096];
	struct vmbs_nvsp_msg m;

	memset(big, 0xee, sizeof(big));
	memcpy(big, g_init, 12);
	VMBS_CHECK(decode_exact(big, sizeof(big), &m, false) == 0);
	CU_ASSERT_EQUAL(m.len, sizeof(big));
	CU_ASSERT_EQUAL(m.u.init.max_ver, 0x60001);

	/* Legacy 28-byte and 32-byte forms. */
	CU_ASSERT_EQUAL(decode_exact(g_rndis_data, 28, &m, false), 0);
	CU_ASSERT_EQUAL(m.u.rndis_pkt.section_size, 504);
	CU_ASSERT_EQUAL(decode_exact(g_rndis_data, 32, &m, false), 0);
}

static void
rejects_unknown_types(void)
{
	static const uint32_t bad[] = { 0, 3, 99, 137, 200, 0x80000001u, 0xffffffffu };
	uint8_t msg[40] = { 0 };
	struct vmbs_nvsp_msg m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(msg, &bad[i], 4);
		CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, false), -EBADMSG);
		CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), -EBADMSG);
	}
}

static void
reports_unserved_types_as_unsupported(void)
{
	uint8_t msg[40] = { 0 };
	struct vmbs_nvsp_msg m;
	uint32_t t;

	for (t = 109; t <= 136; t++) {
		if (t == 125 || (t >= 128 && t <= 129) || (t >= 133 && t <= 134))
			continue;
		memcpy(msg, &t, 4);
		CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, false), -EOPNOTSUPP);
		CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), -EOPNOTSUPP);
	}
	/* Even a bare type word is "unsupported", not "short". */
	t = VMBS_NVSP_TYPE_OID_QUERY_EX;
	memcpy(msg, &t, 4);
	CU_ASSERT_EQUAL(decode_exact(msg, 4, &m, false), -EOPNOTSUPP);
	t = VMBS_NVSP_TYPE_PD_API;
	memcpy(msg, &t, 4);
	CU_ASSERT_EQUAL(decode_exact(msg, 4, &m, false), -EOPNOTSUPP);
}

static void
rejects_messages_in_the_wrong_direction(void)
{
	static const uint32_t h2g_only[] = { 2, 102, 105, 128, 134 };
	static const uint32_t g2h_only[] = { 1, 100, 101, 103, 104, 106, 125 };
	uint8_t msg[104] = { 0 };
	struct vmbs_nvsp_msg m;
	size_t i;

	for (i = 0; i < sizeof(h2g_only) / sizeof(h2g_only[0]); i++) {
		memcpy(msg, &h2g_only[i], 4);
		CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, false), -EBADMSG);
	}
	for (i = 0; i < sizeof(g2h_only) / sizeof(g2h_only[0]); i++) {
		memcpy(msg, &g2h_only[i], 4);
		CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), -EBADMSG);
	}
}

static void
rejects_bad_indirection_tables(void)
{
	static const uint32_t bad_offsets[] = {
		0, 4, 11,		/* inside the fixed part */
		41, 100, 104,		/* table would end past 104 */
		0xffffffc0u, 0xfffffff0u, 0xffffffffu,	/* would wrap */
	};
	uint8_t msg[104];
	struct vmbs_nvsp_msg m;
	uint32_t v;
	size_t i;

	memcpy(msg, g_ind_table, sizeof(msg));
	v = 15;
	memcpy(msg + 4, &v, 4);
	CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), -EBADMSG);
	v = 0;
	memcpy(msg + 4, &v, 4);
	CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), -EBADMSG);
	v = 0xffffffffu;
	memcpy(msg + 4, &v, 4);
	CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), -EBADMSG);

	memcpy(msg, g_ind_table, sizeof(msg));
	for (i = 0; i < sizeof(bad_offsets) / sizeof(bad_offsets[0]); i++) {
		memcpy(msg + 8, &bad_offsets[i], 4);
		CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), -EBADMSG);
	}
	/* The last offset that fits. */
	v = 40;
	memcpy(msg + 8, &v, 4);
	CU_ASSERT_EQUAL(decode_exact(msg, sizeof(msg), &m, true), 0);
	v = 12;
	memcpy(msg + 8, &v, 4);
	CU_ASSERT_EQUAL(decode_exact(msg, 76, &m, true), 0);
	CU_ASSERT_EQUAL(decode_exact(msg, 75, &m, true), -EBADMSG);
}

static void
rejects_null_arguments(void)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_INIT_COMPLETE };

	CU_ASSERT_EQUAL(vmbs_nvsp_decode(NULL, 40, &m), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_decode(g_init, 40, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_decode_h2g(NULL, 40, &m), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode(NULL, 40, &m), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode(out, sizeof(out), NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_init_complete(NULL, 40, 0, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_recv_buf_complete(NULL, 40, 1, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_send_buf_complete(NULL, 40, 1, 6144), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_rndis_pkt(NULL, 40, 0, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_rndis_pkt_complete(NULL, 40, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_vf_assoc(NULL, 40, 1, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_subchannel_complete(NULL, 40, 1, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_indirection_table(out, sizeof(out), NULL), -EINVAL);
}

static void
encoders_reject_small_buffers_without_writing(void)
{
	uint32_t table[VMBS_NVSP_INDIRECTION_TABLE_SIZE] = { 0 };
	unsigned int i;

	memset(out, 0xaa, sizeof(out));
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_init_complete(out, 39, 0, 0, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_recv_buf_complete(out, 39, 1, NULL), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_send_buf_complete(out, 28, 1, 6144), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_rndis_pkt(out, 16, 0, 0, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_rndis_pkt_complete(out, 0, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_vf_assoc(out, 12, 1, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_subchannel_complete(out, 39, 1, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_indirection_table(out, 103, table), -ENOBUFS);
	for (i = 0; i < sizeof(out); i++)
		CU_ASSERT_EQUAL_FATAL(out[i], 0xaa);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_subchannel_complete(out, 40, 1, 1), 40);
	CU_ASSERT_EQUAL(vmbs_nvsp_encode_indirection_table(out, 104, table), 104);
}

static void
generic_encoder_rejects_unserved_types(void)
{
	static const uint32_t bad[] = { 0, 3, 109, 126, 130, 131, 132, 135, 136, 137 };
	struct vmbs_nvsp_msg m;
	size_t i;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m.type = (enum vmbs_nvsp_type)bad[i];
		CU_ASSERT_EQUAL(vmbs_nvsp_encode(out, sizeof(out), &m), -EINVAL);
	}
	/* The union's own type field never leaks onto the wire. */
	m.type = VMBS_NVSP_TYPE_INIT;
	m.u.init.type = 0xdeadbeef;
	m.u.init.min_ver = 2;
	m.u.init.max_ver = 2;
	CU_ASSERT_EQUAL(vmbs_nvsp_encode(out, sizeof(out), &m), 40);
	CU_ASSERT_EQUAL(out[0], 1);
	CU_ASSERT_EQUAL(out[1], 0);
}

/* Every 4-byte type word followed by random bytes, at random lengths. */
static void
random_messages_never_overread(void)
{
	uint8_t msg[128];
	struct vmbs_nvsp_msg m;
	unsigned int seed = 12345, i, j;
	uint32_t t;
	size_t len;
	int rc;

	for (i = 0; i < 20000; i++) {
		for (j = 0; j < sizeof(msg); j++) {
			seed = seed * 1103515245u + 12345u;
			msg[j] = (uint8_t)(seed >> 16);
		}
		t = i % 140;
		memcpy(msg, &t, 4);
		len = (seed >> 8) % (sizeof(msg) + 1);
		rc = decode_exact(msg, len, &m, (i & 1) != 0);
		CU_ASSERT(rc == 0 || rc == -EBADMSG || rc == -EOPNOTSUPP);
		if (rc == 0)
			CU_ASSERT_EQUAL(m.u.hdr.type, t);
	}
}

static const struct vmbs_test_case golden_cases[] = {
	{ "init_decodes", init_decodes },
	{ "ndis_config_decodes_u64_at_offset_12", ndis_config_decodes_u64_at_offset_12 },
	{ "ndis_ver_decodes", ndis_ver_decodes },
	{ "recv_and_send_buf_decode", recv_and_send_buf_decode },
	{ "revokes_decode", revokes_decode },
	{ "rndis_pkt_and_complete_decode", rndis_pkt_and_complete_decode },
	{ "subchannel_and_switch_decode", subchannel_and_switch_decode },
	{ "generic_encode_roundtrips_guest_goldens", generic_encode_roundtrips_guest_goldens },
	{ "init_complete_matches_golden", init_complete_matches_golden },
	{ "recv_buf_complete_matches_golden", recv_buf_complete_matches_golden },
	{ "send_buf_complete_matches_golden", send_buf_complete_matches_golden },
	{ "rndis_pkt_rx_matches_golden", rndis_pkt_rx_matches_golden },
	{ "rndis_pkt_complete_matches_golden", rndis_pkt_complete_matches_golden },
	{ "vf_assoc_matches_golden", vf_assoc_matches_golden },
	{ "subchannel_complete_is_40_bytes", subchannel_complete_is_40_bytes },
	{ "indirection_table_matches_golden", indirection_table_matches_golden },
	{ "indirection_table_at_offset_12_decodes", indirection_table_at_offset_12_decodes },
	{ "responses_meet_dpdk_minimum_lengths", responses_meet_dpdk_minimum_lengths },
	{ NULL, NULL },
};

static const struct vmbs_test_case dpdk_cases[] = {
	{ "dpdk_handshake_sequence_decodes_in_order", dpdk_handshake_sequence_decodes_in_order },
	{ "dpdk_version_walk_down", dpdk_version_walk_down },
	{ "version_helpers", version_helpers },
	{ "type_names", type_names },
	{ NULL, NULL },
};

static const struct vmbs_test_case reject_cases[] = {
	{ "rejects_each_type_truncated_at_every_length",
	  rejects_each_type_truncated_at_every_length },
	{ "rejects_host_messages_truncated_at_every_length",
	  rejects_host_messages_truncated_at_every_length },
	{ "accepts_longer_messages_reading_only_the_prefix",
	  accepts_longer_messages_reading_only_the_prefix },
	{ "rejects_unknown_types", rejects_unknown_types },
	{ "reports_unserved_types_as_unsupported", reports_unserved_types_as_unsupported },
	{ "rejects_messages_in_the_wrong_direction", rejects_messages_in_the_wrong_direction },
	{ "rejects_bad_indirection_tables", rejects_bad_indirection_tables },
	{ "rejects_null_arguments", rejects_null_arguments },
	{ "encoders_reject_small_buffers_without_writing",
	  encoders_reject_small_buffers_without_writing },
	{ "generic_encoder_rejects_unserved_types", generic_encoder_rejects_unserved_types },
	{ "random_messages_never_overread", random_messages_never_overread },
	{ NULL, NULL },
};

static const struct vmbs_test_suite golden_suite = {
	"nvsp_golden", NULL, NULL, golden_cases };
static const struct vmbs_test_suite dpdk_suite = {
	"nvsp_dpdk_guest", NULL, NULL, dpdk_cases };
static const struct vmbs_test_suite reject_suite = {
	"nvsp_reject", NULL, NULL, reject_cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&golden_suite, &dpdk_suite, &reject_suite, NULL,
	};

	return vmbs_test_run(suites);
}
