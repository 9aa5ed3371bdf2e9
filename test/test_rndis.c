/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/rndis: RNDIS codec. Golden messages are typed in by hand from the
 * wire reference (b.5) and the netvsc guest notes (1.7, 1.8), offsets in
 * the comments; frame payloads and RSS tables are filled by loops in this
 * file (test data, never by the code under test). Every malformed input is
 * handed over in an exact-size heap copy, so the ASan build proves that no
 * check reads past the length given.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbs_rndis.h"
#include "vmbs_test.h"

/* ---- helpers ---- */

static uint8_t out[2048];

/* An exact-size heap copy: ASan reports any read past @p len. */
static uint8_t *
dup_exact(const void *src, size_t len)
{
	uint8_t *p = malloc(len);

	if (p != NULL && len != 0)
		memcpy(p, src, len);
	return p;
}

static void
put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static int
ctl_exact(const void *src, size_t len, struct vmbs_rndis_ctl *c)
{
	uint8_t *p = dup_exact(src, len);
	int rc;

	if (p == NULL && len != 0)
		return -ENOMEM;
	rc = vmbs_rndis_ctl_decode(p, len, c);
	free(p);
	return rc;
}

static int
walk_exact(const void *src, size_t len, struct vmbs_rndis_pkt_info *pkts, unsigned int max)
{
	uint8_t *p = dup_exact(src, len);
	int rc;

	if (p == NULL && len != 0)
		return -ENOMEM;
	rc = vmbs_rndis_pkt_parse_all(p, len, pkts, max);
	free(p);
	return rc;
}

static int
ppi_exact(const void *src, uint32_t len, struct vmbs_rndis_ppi_info *info)
{
	uint8_t *p = dup_exact(src, len);
	int rc;

	if (p == NULL && len != 0)
		return -ENOMEM;
	rc = vmbs_rndis_ppi_parse(p, len, info);
	free(p);
	return rc;
}

static int
rss_exact(const void *src, uint32_t len, struct vmbs_ndis_rss_config *cfg)
{
	uint8_t *p = dup_exact(src, len);
	int rc;

	if (p == NULL && len != 0)
		return -ENOMEM;
	rc = vmbs_ndis_rss_params_parse(p, len, cfg);
	free(p);
	return rc;
}

static int
offload_params_exact(const void *src, uint32_t len, struct vmbs_ndis_offload_params *op)
{
	uint8_t *p = dup_exact(src, len);
	int rc;

	if (p == NULL && len != 0)
		return -ENOMEM;
	rc = vmbs_ndis_offload_params_parse(p, len, op);
	free(p);
	return rc;
}

/* Check an encoder's result is exactly the golden message. */
#define CHECK_ENCODED(rc, arr) do { \
	CU_ASSERT_EQUAL((rc), (int)sizeof(arr)); \
	CU_ASSERT_EQUAL(memcmp(out, arr, sizeof(arr)), 0); \
} while (0)

/* ---- golden control requests, as DPDK's netvsc PMD sends them ---- */

static const uint8_t g_init_req[] = {
	/* 0 type 2 INITIALIZE */ 0x02, 0x00, 0x00, 0x00,
	/* 4 len 24 */ 0x18, 0x00, 0x00, 0x00,
	/* 8 req_id 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 12 major 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 16 minor 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 20 max_xfer_size 0x4000 */ 0x00, 0x40, 0x00, 0x00,
};

static const uint8_t g_halt[] = {
	/* 0 type 3 HALT */ 0x03, 0x00, 0x00, 0x00,
	/* 4 len 12 */ 0x0c, 0x00, 0x00, 0x00,
	/* 8 req_id 9 */ 0x09, 0x00, 0x00, 0x00,
};

static const uint8_t g_reset[] = {
	/* 0 type 6 RESET */ 0x06, 0x00, 0x00, 0x00,
	/* 4 len 12 */ 0x0c, 0x00, 0x00, 0x00,
	/* 8 reserved */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t g_keepalive[] = {
	/* 0 type 8 KEEPALIVE */ 0x08, 0x00, 0x00, 0x00,
	/* 4 len 12 */ 0x0c, 0x00, 0x00, 0x00,
	/* 8 req_id 10 */ 0x0a, 0x00, 0x00, 0x00,
};

static const uint8_t g_query_mac[] = {
	/* 0 type 4 QUERY */ 0x04, 0x00, 0x00, 0x00,
	/* 4 len 28 */ 0x1c, 0x00, 0x00, 0x00,
	/* 8 req_id 2 */ 0x02, 0x00, 0x00, 0x00,
	/* 12 oid 802_3_PERMANENT_ADDRESS */ 0x01, 0x01, 0x01, 0x01,
	/* 16 info_buflen 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 24 dev_vc_handle 0 */ 0x00, 0x00, 0x00, 0x00,
};

/* QUERY with an 18-byte RSS_CAPS input object: 46 bytes, not a multiple of 4. */
static const uint8_t g_query_rss_caps[46] = {
	/* 0 type 4 QUERY */ 0x04, 0x00, 0x00, 0x00,
	/* 4 len 46 */ 0x2e, 0x00, 0x00, 0x00,
	/* 8 req_id 3 */ 0x03, 0x00, 0x00, 0x00,
	/* 12 oid GEN_RECEIVE_SCALE_CAPABILITIES */ 0x03, 0x02, 0x01, 0x00,
	/* 16 info_buflen 18 */ 0x12, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 24 dev_vc_handle 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 28 ndis header {0x88, rev 2, size 18}, rest 0 */ 0x88, 0x02, 0x12, 0x00,
};

/* QUERY with a 156-byte NDIS_OFFLOAD rev 3 input object. */
static const uint8_t g_query_offload[184] = {
	/* 0 type 4 QUERY */ 0x04, 0x00, 0x00, 0x00,
	/* 4 len 184 */ 0xb8, 0x00, 0x00, 0x00,
	/* 8 req_id 4 */ 0x04, 0x00, 0x00, 0x00,
	/* 12 oid TCP_OFFLOAD_HARDWARE_CAPABILITIES */ 0x0d, 0x02, 0x01, 0xfc,
	/* 16 info_buflen 156 */ 0x9c, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 24 dev_vc_handle 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 28 ndis header {0xa7, rev 3, size 156}, rest 0 */ 0xa7, 0x03, 0x9c, 0x00,
};

static const uint8_t g_set_filter[] = {
	/* 0 type 5 SET */ 0x05, 0x00, 0x00, 0x00,
	/* 4 len 32 */ 0x20, 0x00, 0x00, 0x00,
	/* 8 req_id 5 */ 0x05, 0x00, 0x00, 0x00,
	/* 12 oid GEN_CURRENT_PACKET_FILTER */ 0x0e, 0x01, 0x01, 0x00,
	/* 16 info_buflen 4 */ 0x04, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 24 dev_vc_handle 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 28 filter 0xd: directed, all-multicast, broadcast */ 0x0d, 0x00, 0x00, 0x00,
};

static const uint8_t g_set_offload[56] = {
	/* 0 type 5 SET */ 0x05, 0x00, 0x00, 0x00,
	/* 4 len 56 */ 0x38, 0x00, 0x00, 0x00,
	/* 8 req_id 6 */ 0x06, 0x00, 0x00, 0x00,
	/* 12 oid TCP_OFFLOAD_PARAMETERS */ 0x0c, 0x02, 0x01, 0xfc,
	/* 16 info_buflen 28 */ 0x1c, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 24 dev_vc_handle 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 28 ndis header {0x80, rev 3, size 28} */ 0x80, 0x03, 0x1c, 0x00,
	/* 32 ip4_csum 0, tcp4 TX, udp4 TX, tcp6 TX */ 0x00, 0x02, 0x02, 0x02,
	/* 36 udp6 TX, lsov1 0, ipsecv1 0, lsov2_ip4 ON */ 0x02, 0x00, 0x00, 0x02,
	/* 40 lsov2_ip6 ON, tcp4_conn, tcp6_conn, pad */ 0x02, 0x00, 0x00, 0x00,
	/* 44 flags 0; 48 ipsecv2.., rsc, encap: 0 */
};

/* The first 68 bytes of the 620-byte RSS SET; table and key by loop. */
static const uint8_t g_set_rss_head[68] = {
	/* 0 type 5 SET */ 0x05, 0x00, 0x00, 0x00,
	/* 4 len 620 */ 0x6c, 0x02, 0x00, 0x00,
	/* 8 req_id 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 12 oid GEN_RECEIVE_SCALE_PARAMETERS */ 0x04, 0x02, 0x01, 0x00,
	/* 16 info_buflen 592 */ 0x50, 0x02, 0x00, 0x00,
	/* 20 info_buf_offset 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 24 dev_vc_handle 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 28 ndis header {0x89, rev 2, size 40} */ 0x89, 0x02, 0x28, 0x00,
	/* 32 flags 0, base_cpu 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 36 hash_info Toeplitz | IPv4 | TCP4 | IPv6 | TCP6 */ 0x01, 0x17, 0x00, 0x00,
	/* 40 table_size 512, pad */ 0x00, 0x02, 0x00, 0x00,
	/* 44 table_offset 40 */ 0x28, 0x00, 0x00, 0x00,
	/* 48 key_size 40, pad */ 0x28, 0x00, 0x00, 0x00,
	/* 52 key_offset 552 */ 0x28, 0x02, 0x00, 0x00,
	/* 56 cpu_mask_offset, 60 count, 64 entry size: 0 */
};
#define RSS_MSG_LEN 620u
#define RSS_TABLE_AT (28u + 40u)
#define RSS_KEY_AT (28u + 552u)

static void
build_set_rss(uint8_t msg[RSS_MSG_LEN])
{
	unsigned int i;

	memset(msg, 0, RSS_MSG_LEN);
	memcpy(msg, g_set_rss_head, sizeof(g_set_rss_head));
	for (i = 0; i < 128; i++)
		put32(msg, RSS_TABLE_AT + 4 * i, i % 4);
	for (i = 0; i < 40; i++)
		msg[RSS_KEY_AT + i] = (uint8_t)(0x6d + 7 * i);
}

/* ---- golden host replies ---- */

static const uint8_t g_init_cmplt[] = {
	/* 0 type INITIALIZE_CMPLT */ 0x02, 0x00, 0x00, 0x80,
	/* 4 len 52 */ 0x34, 0x00, 0x00, 0x00,
	/* 8 req_id 7 */ 0x07, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 major 1 */ 0x01, 0x00, 0x00, 0x00,
	/* 20 minor 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 24 dev_flags 1 connectionless */ 0x01, 0x00, 0x00, 0x00,
	/* 28 medium 0 802.3 */ 0x00, 0x00, 0x00, 0x00,
	/* 32 max_pkt_per_msg 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 36 max_xfer_size 6144 */ 0x00, 0x18, 0x00, 0x00,
	/* 40 pkt_align_factor 3 */ 0x03, 0x00, 0x00, 0x00,
	/* 44 af_list_offset 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 48 af_list_size 0 */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t g_query_cmplt_mac[] = {
	/* 0 type QUERY_CMPLT */ 0x04, 0x00, 0x00, 0x80,
	/* 4 len 30 */ 0x1e, 0x00, 0x00, 0x00,
	/* 8 req_id 2 */ 0x02, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 info_buflen 6 */ 0x06, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 24 MAC 00:15:5d:01:02:03 */ 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03,
};

static const uint8_t g_query_cmplt_speed[] = {
	/* 0 type QUERY_CMPLT */ 0x04, 0x00, 0x00, 0x80,
	/* 4 len 28 */ 0x1c, 0x00, 0x00, 0x00,
	/* 8 req_id 11 */ 0x0b, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 info_buflen 4 */ 0x04, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 24 link speed 10 Gbit/s in 100 bit/s = 100000000 */ 0x00, 0xe1, 0xf5, 0x05,
};

static const uint8_t g_query_cmplt_unsupported[] = {
	/* 0 type QUERY_CMPLT */ 0x04, 0x00, 0x00, 0x80,
	/* 4 len 24 */ 0x18, 0x00, 0x00, 0x00,
	/* 8 req_id 12 */ 0x0c, 0x00, 0x00, 0x00,
	/* 12 status NOT_SUPPORTED */ 0xbb, 0x00, 0x00, 0xc0,
	/* 16 info_buflen 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 20 info_buf_offset 16 */ 0x10, 0x00, 0x00, 0x00,
};

static const uint8_t g_set_cmplt[] = {
	/* 0 type SET_CMPLT */ 0x05, 0x00, 0x00, 0x80,
	/* 4 len 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 8 req_id 5 */ 0x05, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t g_reset_cmplt[] = {
	/* 0 type RESET_CMPLT */ 0x06, 0x00, 0x00, 0x80,
	/* 4 len 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 8 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 12 addressing_reset 1 */ 0x01, 0x00, 0x00, 0x00,
};

static const uint8_t g_keepalive_cmplt[] = {
	/* 0 type KEEPALIVE_CMPLT */ 0x08, 0x00, 0x00, 0x80,
	/* 4 len 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 8 req_id 10 */ 0x0a, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t g_indicate_connect[] = {
	/* 0 type 7 INDICATE_STATUS */ 0x07, 0x00, 0x00, 0x00,
	/* 4 len 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 8 status MEDIA_CONNECT */ 0x0b, 0x00, 0x01, 0x40,
	/* 12 status_buflen 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 status_buf_offset 12 */ 0x0c, 0x00, 0x00, 0x00,
};

static const uint8_t g_indicate_disconnect[] = {
	/* 0 type 7 INDICATE_STATUS */ 0x07, 0x00, 0x00, 0x00,
	/* 4 len 20 */ 0x14, 0x00, 0x00, 0x00,
	/* 8 status MEDIA_DISCONNECT */ 0x0c, 0x00, 0x01, 0x40,
	/* 12 status_buflen 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 status_buf_offset 12 */ 0x0c, 0x00, 0x00, 0x00,
};

static const uint8_t g_indicate_speed[] = {
	/* 0 type 7 INDICATE_STATUS */ 0x07, 0x00, 0x00, 0x00,
	/* 4 len 24 */ 0x18, 0x00, 0x00, 0x00,
	/* 8 status LINK_SPEED_CHANGE */ 0x13, 0x00, 0x01, 0x40,
	/* 12 status_buflen 4 */ 0x04, 0x00, 0x00, 0x00,
	/* 16 status_buf_offset 12 */ 0x0c, 0x00, 0x00, 0x00,
	/* 20 1000000 */ 0x40, 0x42, 0x0f, 0x00,
};

/* A received 60-byte frame without PPIs: header only. */
static const uint8_t g_rx_plain[44] = {
	/* 0 type 1 PACKET */ 0x01, 0x00, 0x00, 0x00,
	/* 4 len 104 */ 0x68, 0x00, 0x00, 0x00,
	/* 8 data_offset 36 */ 0x24, 0x00, 0x00, 0x00,
	/* 12 data_len 60 */ 0x3c, 0x00, 0x00, 0x00,
	/* 16 oob offset, 20 oob len, 24 oob count, 28 ppi offset, 32 ppi len,
	 * 36 vc_handle, 40 reserved: 0 */
};

/* A received 60-byte frame with checksum, VLAN, hash value and hash info. */
static const uint8_t g_rx_ppi[108] = {
	/* 0 type 1 PACKET */ 0x01, 0x00, 0x00, 0x00,
	/* 4 len 168 */ 0xa8, 0x00, 0x00, 0x00,
	/* 8 data_offset 100 */ 0x64, 0x00, 0x00, 0x00,
	/* 12 data_len 60 */ 0x3c, 0x00, 0x00, 0x00,
	/* 16 oob offset 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 20 oob len 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 24 oob count 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 28 ppi offset 36 */ 0x24, 0x00, 0x00, 0x00,
	/* 32 ppi len 64 */ 0x40, 0x00, 0x00, 0x00,
	/* 36 vc_handle 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 40 reserved 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 44 PPI size 16, type 0 CSUM, offset 12 */
	0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	/* 56 TCP ok | IP ok = 0x28 */ 0x28, 0x00, 0x00, 0x00,
	/* 60 PPI size 16, type 6 IEEE_8021Q, offset 12 */
	0x10, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	/* 72 prio 5, cfi 0, vid 100: 5 | 100 << 4 = 0x645 */ 0x45, 0x06, 0x00, 0x00,
	/* 76 PPI size 16, type 8 HASH_VALUE, offset 12 */
	0x10, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	/* 88 0xdeadbeef */ 0xef, 0xbe, 0xad, 0xde,
	/* 92 PPI size 16, type 9 HASH_INFO, offset 12 */
	0x10, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	/* 104 Toeplitz | TCP_IPV4 = 0x201 */ 0x01, 0x02, 0x00, 0x00,
};

/* ---- golden guest TX (netvsc guest notes 1.8, DPDK's hn_encap) ---- */

/* Chimney packet 1: HASHVAL PPI, 61-byte frame, len padded 121 -> 128. */
static const uint8_t g_tx1_head[60] = {
	/* 0 type 1 PACKET */ 0x01, 0x00, 0x00, 0x00,
	/* 4 len 128 (121 + 7 alignment padding) */ 0x80, 0x00, 0x00, 0x00,
	/* 8 data_offset 52 */ 0x34, 0x00, 0x00, 0x00,
	/* 12 data_len 61 */ 0x3d, 0x00, 0x00, 0x00,
	/* 16 oob offset, 20 oob len, 24 oob count */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 28 ppi offset 36 */ 0x24, 0x00, 0x00, 0x00,
	/* 32 ppi len 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 36 vc_handle 0, 40 reserved 0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 44 PPI size 16, type 8 HASH_VALUE, offset 12, queue 2 */
	0x10, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00,
};

/* Chimney packet 2 (last): HASHVAL + TCP/IPv4 checksum, 54-byte frame. */
static const uint8_t g_tx2_head[76] = {
	/* 0 type 1 PACKET */ 0x01, 0x00, 0x00, 0x00,
	/* 4 len 130 */ 0x82, 0x00, 0x00, 0x00,
	/* 8 data_offset 68 */ 0x44, 0x00, 0x00, 0x00,
	/* 12 data_len 54 */ 0x36, 0x00, 0x00, 0x00,
	/* 16 oob offset, 20 oob len, 24 oob count */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 28 ppi offset 36 */ 0x24, 0x00, 0x00, 0x00,
	/* 32 ppi len 32 */ 0x20, 0x00, 0x00, 0x00,
	/* 36 vc_handle 0, 40 reserved 0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 44 PPI size 16, type 8 HASH_VALUE, offset 12, queue 2 */
	0x10, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00,
	/* 60 PPI size 16, type 0 CSUM, offset 12 */
	0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	/* 72 IPv4 | TCP | thoff 34 << 16 = 0x00220005 */ 0x05, 0x00, 0x22, 0x00,
};
#define TX1_LEN 128u
#define TX1_FRAME 61u
#define TX2_LEN 130u
#define TX2_FRAME 54u
#define CHIM_LEN (TX1_LEN + TX2_LEN)

/* A GPA-direct packet: HASHVAL, VLAN, LSOv2 IPv4, 1514-byte frame. */
static const uint8_t g_tx_lso_head[92] = {
	/* 0 type 1 PACKET */ 0x01, 0x00, 0x00, 0x00,
	/* 4 len 1606 */ 0x46, 0x06, 0x00, 0x00,
	/* 8 data_offset 84 */ 0x54, 0x00, 0x00, 0x00,
	/* 12 data_len 1514 */ 0xea, 0x05, 0x00, 0x00,
	/* 16 oob offset, 20 oob len, 24 oob count */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 28 ppi offset 36 */ 0x24, 0x00, 0x00, 0x00,
	/* 32 ppi len 48 */ 0x30, 0x00, 0x00, 0x00,
	/* 36 vc_handle 0, 40 reserved 0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 44 PPI size 16, type 8 HASH_VALUE, offset 12, queue 1 */
	0x10, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00,
	/* 60 PPI size 16, type 6 IEEE_8021Q, offset 12, prio 3 vid 42 = 0x2a3 */
	0x10, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	0xa3, 0x02, 0x00, 0x00,
	/* 76 PPI size 16, type 2 LSO, offset 12 */
	0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	/* 88 mss 1448 | thoff 34 << 20 | LSOv2 = 0x422005a8 */ 0xa8, 0x05, 0x20, 0x42,
};
#define LSO_LEN 1606u
#define LSO_FRAME 1514u

/* Linux-style: one message, checksum PPI, odd total length 121. */
static const uint8_t g_tx_linux_head[60] = {
	/* 0 type 1 PACKET */ 0x01, 0x00, 0x00, 0x00,
	/* 4 len 121 */ 0x79, 0x00, 0x00, 0x00,
	/* 8 data_offset 52 */ 0x34, 0x00, 0x00, 0x00,
	/* 12 data_len 61 */ 0x3d, 0x00, 0x00, 0x00,
	/* 16 oob offset, 20 oob len, 24 oob count */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 28 ppi offset 36 */ 0x24, 0x00, 0x00, 0x00,
	/* 32 ppi len 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 36 vc_handle 0, 40 reserved 0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 44 PPI size 16, type 0 CSUM, offset 12, IPv4 | TCP | thoff 34 */
	0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
	0x05, 0x00, 0x22, 0x00,
};
#define LINUX_LEN 121u

static void
fill_frame(uint8_t *p, uint32_t len, uint8_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i);
}

/* A send-buffer section holding two DPDK-aggregated packets. */
static void
build_chimney(uint8_t sec[CHIM_LEN])
{
	memset(sec, 0, CHIM_LEN);
	memcpy(sec, g_tx1_head, sizeof(g_tx1_head));
	fill_frame(sec + sizeof(g_tx1_head), TX1_FRAME, 0x10);
	/* 7 bytes of zero padding up to 128 stay. */
	memcpy(sec + TX1_LEN, g_tx2_head, sizeof(g_tx2_head));
	fill_frame(sec + TX1_LEN + sizeof(g_tx2_head), TX2_FRAME, 0x80);
}

static void
build_lso(uint8_t msg[LSO_LEN])
{
	memcpy(msg, g_tx_lso_head, sizeof(g_tx_lso_head));
	fill_frame(msg + sizeof(g_tx_lso_head), LSO_FRAME, 0x33);
}

static void
build_linux(uint8_t msg[LINUX_LEN])
{
	memcpy(msg, g_tx_linux_head, sizeof(g_tx_linux_head));
	fill_frame(msg + sizeof(g_tx_linux_head), LINUX_LEN - sizeof(g_tx_linux_head), 0x44);
}

/* ---- control requests: golden decode ---- */

static void
initialize_decodes(void)
{
	struct vmbs_rndis_ctl c;

	VMBS_CHECK(ctl_exact(g_init_req, sizeof(g_init_req), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_INITIALIZE);
	CU_ASSERT_EQUAL(c.len, 24);
	CU_ASSERT_EQUAL(c.u.init.req_id, 1);
	CU_ASSERT_EQUAL(c.u.init.major, VMBS_RNDIS_VERSION_MAJOR);
	CU_ASSERT_EQUAL(c.u.init.minor, VMBS_RNDIS_VERSION_MINOR);
	CU_ASSERT_EQUAL(c.u.init.max_xfer_size, VMBS_RNDIS_MAX_XFER_SIZE_NETVSC);
	CU_ASSERT_EQUAL(c.info_len, 0);
}

static void
halt_reset_keepalive_decode(void)
{
	struct vmbs_rndis_ctl c;

	VMBS_CHECK(ctl_exact(g_halt, sizeof(g_halt), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_HALT);
	CU_ASSERT_EQUAL(c.u.halt.req_id, 9);
	VMBS_CHECK(ctl_exact(g_reset, sizeof(g_reset), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_RESET);
	VMBS_CHECK(ctl_exact(g_keepalive, sizeof(g_keepalive), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_KEEPALIVE);
	CU_ASSERT_EQUAL(c.u.keepalive.req_id, 10);
}

static void
query_without_input_decodes(void)
{
	struct vmbs_rndis_ctl c;

	VMBS_CHECK(ctl_exact(g_query_mac, sizeof(g_query_mac), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_QUERY);
	CU_ASSERT_EQUAL(c.u.oid.req_id, 2);
	CU_ASSERT_EQUAL(c.u.oid.oid, VMBS_OID_802_3_PERMANENT_ADDRESS);
	CU_ASSERT_EQUAL(c.info_off, 0);
	CU_ASSERT_EQUAL(c.info_len, 0);
}

static void
query_rss_caps_with_odd_length_decodes(void)
{
	struct vmbs_rndis_ctl c;
	struct vmbs_ndis_obj_hdr h;

	VMBS_CHECK(ctl_exact(g_query_rss_caps, sizeof(g_query_rss_caps), &c) == 0);
	CU_ASSERT_EQUAL(c.len, 46);
	CU_ASSERT_EQUAL(c.u.oid.oid, VMBS_OID_GEN_RECEIVE_SCALE_CAPABILITIES);
	/* Offset 20 from byte 8: the object starts at byte 28. */
	CU_ASSERT_EQUAL(c.info_off, 28);
	CU_ASSERT_EQUAL(c.info_len, 18);
	memcpy(&h, g_query_rss_caps + c.info_off, sizeof(h));
	CU_ASSERT_EQUAL(h.type, VMBS_NDIS_OBJTYPE_RSS_CAPS);
	CU_ASSERT_EQUAL(h.revision, 2);
	CU_ASSERT_EQUAL(h.size, VMBS_NDIS_RSS_CAPS_SIZE_REV_2);
}

static void
query_offload_caps_decodes(void)
{
	struct vmbs_rndis_ctl c;
	struct vmbs_ndis_obj_hdr h;

	VMBS_CHECK(ctl_exact(g_query_offload, sizeof(g_query_offload), &c) == 0);
	CU_ASSERT_EQUAL(c.u.oid.oid, VMBS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES);
	CU_ASSERT_EQUAL(c.info_off, 28);
	CU_ASSERT_EQUAL(c.info_len, 156);
	memcpy(&h, g_query_offload + c.info_off, sizeof(h));
	CU_ASSERT_EQUAL(h.type, VMBS_NDIS_OBJTYPE_OFFLOAD);
	CU_ASSERT_EQUAL(h.revision, VMBS_NDIS_OFFLOAD_REV_3);
	CU_ASSERT_EQUAL(h.size, VMBS_NDIS_OFFLOAD_SIZE_REV_3);
}

static void
set_packet_filter_decodes(void)
{
	struct vmbs_rndis_ctl c;
	uint32_t filter;

	VMBS_CHECK(ctl_exact(g_set_filter, sizeof(g_set_filter), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_SET);
	CU_ASSERT_EQUAL(c.u.oid.req_id, 5);
	CU_ASSERT_EQUAL(c.u.oid.oid, VMBS_OID_GEN_CURRENT_PACKET_FILTER);
	CU_ASSERT_EQUAL(c.info_off, 28);
	CU_ASSERT_EQUAL(c.info_len, 4);
	memcpy(&filter, g_set_filter + c.info_off, 4);
	CU_ASSERT_EQUAL(filter, VMBS_NDIS_FILTER_DIRECTED | VMBS_NDIS_FILTER_ALL_MULTICAST |
			VMBS_NDIS_FILTER_BROADCAST);
}

static void
set_offload_params_decodes(void)
{
	struct vmbs_ndis_offload_params op;
	struct vmbs_rndis_ctl c;

	VMBS_CHECK(ctl_exact(g_set_offload, sizeof(g_set_offload), &c) == 0);
	CU_ASSERT_EQUAL(c.u.oid.oid, VMBS_OID_TCP_OFFLOAD_PARAMETERS);
	CU_ASSERT_EQUAL(c.info_off, 28);
	CU_ASSERT_EQUAL(c.info_len, 28);
	VMBS_CHECK(offload_params_exact(g_set_offload + c.info_off, c.info_len, &op) == 0);
	CU_ASSERT_EQUAL(op.hdr.revision, 3);
	CU_ASSERT_EQUAL(op.ip4_csum, VMBS_NDIS_OFFLOAD_PARAM_NO_CHANGE);
	CU_ASSERT_EQUAL(op.tcp4_csum, VMBS_NDIS_OFFLOAD_PARAM_TX);
	CU_ASSERT_EQUAL(op.udp4_csum, VMBS_NDIS_OFFLOAD_PARAM_TX);
	CU_ASSERT_EQUAL(op.tcp6_csum, VMBS_NDIS_OFFLOAD_PARAM_TX);
	CU_ASSERT_EQUAL(op.udp6_csum, VMBS_NDIS_OFFLOAD_PARAM_TX);
	CU_ASSERT_EQUAL(op.lsov1, 0);
	CU_ASSERT_EQUAL(op.lsov2_ip4, VMBS_NDIS_OFFLOAD_LSO_ON);
	CU_ASSERT_EQUAL(op.lsov2_ip6, VMBS_NDIS_OFFLOAD_LSO_ON);
	CU_ASSERT_EQUAL(op.flags, 0);
	CU_ASSERT_EQUAL(op.rsc_ip4, 0);
}

static void
set_rss_params_decodes(void)
{
	static uint8_t msg[RSS_MSG_LEN];
	struct vmbs_ndis_rss_config cfg;
	struct vmbs_rndis_ctl c;
	unsigned int i;

	build_set_rss(msg);
	VMBS_CHECK(ctl_exact(msg, sizeof(msg), &c) == 0);
	CU_ASSERT_EQUAL(c.u.oid.oid, VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS);
	CU_ASSERT_EQUAL(c.info_off, 28);
	CU_ASSERT_EQUAL(c.info_len, 592);
	VMBS_CHECK(rss_exact(msg + c.info_off, c.info_len, &cfg) == 0);
	CU_ASSERT(!cfg.disable);
	CU_ASSERT(cfg.has_hash_info);
	CU_ASSERT_EQUAL(cfg.hash_info & VMBS_NDIS_HASH_FUNCTION_MASK,
			VMBS_NDIS_HASH_FUNCTION_TOEPLITZ);
	CU_ASSERT_EQUAL(cfg.hash_info, VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_IPV4 |
			VMBS_NDIS_HASH_TCP_IPV4 | VMBS_NDIS_HASH_IPV6 | VMBS_NDIS_HASH_TCP_IPV6);
	CU_ASSERT_EQUAL(cfg.table_cnt, 128);
	for (i = 0; i < 128; i++)
		CU_ASSERT_EQUAL(cfg.table[i], i % 4);
	CU_ASSERT(cfg.has_key);
	for (i = 0; i < 40; i++)
		CU_ASSERT_EQUAL(cfg.key[i], (uint8_t)(0x6d + 7 * i));
}

/* ---- host replies: encoders against golden bytes ---- */

static void
init_cmplt_matches_golden(void)
{
	struct vmbs_rndis_ctl c;

	memset(out, 0xaa, sizeof(out));
	CHECK_ENCODED(vmbs_rndis_encode_init_cmplt(out, sizeof(out), 7, VMBS_RNDIS_STATUS_SUCCESS,
						   8, 6144, 3),
		      g_init_cmplt);
	CU_ASSERT_EQUAL(out[sizeof(g_init_cmplt)], 0xaa);
	VMBS_CHECK(ctl_exact(g_init_cmplt, sizeof(g_init_cmplt), &c) == 0);
	CU_ASSERT_EQUAL(c.u.init_cmplt.req_id, 7);
	CU_ASSERT_EQUAL(c.u.init_cmplt.dev_flags, VMBS_RNDIS_DF_CONNECTIONLESS);
	CU_ASSERT_EQUAL(c.u.init_cmplt.max_pkt_per_msg, 8);
	CU_ASSERT_EQUAL(c.u.init_cmplt.max_xfer_size, 6144);
	CU_ASSERT_EQUAL(c.u.init_cmplt.pkt_align_factor, 3);
}

static void
query_cmplt_matches_golden(void)
{
	static const uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03 };
	uint32_t speed = 100000000;
	struct vmbs_rndis_ctl c;

	CHECK_ENCODED(vmbs_rndis_encode_query_cmplt(out, sizeof(out), 2, 0, mac, 6),
		      g_query_cmplt_mac);
	CHECK_ENCODED(vmbs_rndis_encode_query_cmplt(out, sizeof(out), 11, 0, &speed, 4),
		      g_query_cmplt_speed);
	CHECK_ENCODED(vmbs_rndis_encode_query_cmplt(out, sizeof(out), 12,
						    VMBS_RNDIS_STATUS_NOT_SUPPORTED, NULL, 0),
		      g_query_cmplt_unsupported);

	VMBS_CHECK(ctl_exact(g_query_cmplt_mac, sizeof(g_query_cmplt_mac), &c) == 0);
	CU_ASSERT_EQUAL(c.info_off, 24);
	CU_ASSERT_EQUAL(c.info_len, 6);
	CU_ASSERT_EQUAL(memcmp(g_query_cmplt_mac + c.info_off, mac, 6), 0);
	VMBS_CHECK(ctl_exact(g_query_cmplt_unsupported, sizeof(g_query_cmplt_unsupported),
			     &c) == 0);
	CU_ASSERT_EQUAL(c.u.query_cmplt.status, VMBS_RNDIS_STATUS_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(c.info_len, 0);
}

static void
set_reset_keepalive_cmplt_match_golden(void)
{
	struct vmbs_rndis_ctl c;

	CHECK_ENCODED(vmbs_rndis_encode_set_cmplt(out, sizeof(out), 5, 0), g_set_cmplt);
	CHECK_ENCODED(vmbs_rndis_encode_reset_cmplt(out, sizeof(out), 0, 1), g_reset_cmplt);
	CHECK_ENCODED(vmbs_rndis_encode_keepalive_cmplt(out, sizeof(out), 10, 0),
		      g_keepalive_cmplt);

	VMBS_CHECK(ctl_exact(g_set_cmplt, sizeof(g_set_cmplt), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_SET_CMPLT);
	CU_ASSERT_EQUAL(c.u.status_cmplt.req_id, 5);
	VMBS_CHECK(ctl_exact(g_reset_cmplt, sizeof(g_reset_cmplt), &c) == 0);
	CU_ASSERT_EQUAL(c.u.reset_cmplt.addressing_reset, 1);
	VMBS_CHECK(ctl_exact(g_keepalive_cmplt, sizeof(g_keepalive_cmplt), &c) == 0);
	CU_ASSERT_EQUAL(c.type, VMBS_RNDIS_MSG_KEEPALIVE_CMPLT);
	CU_ASSERT_EQUAL(c.u.status_cmplt.req_id, 10);
}

static void
indicate_status_matches_golden(void)
{
	uint32_t speed = 1000000;
	struct vmbs_rndis_ctl c;

	CHECK_ENCODED(vmbs_rndis_encode_indicate_status(out, sizeof(out),
							VMBS_RNDIS_STATUS_MEDIA_CONNECT, NULL, 0),
		      g_indicate_connect);
	CHECK_ENCODED(vmbs_rndis_encode_indicate_status(out, sizeof(out),
							VMBS_RNDIS_STATUS_MEDIA_DISCONNECT,
							NULL, 0),
		      g_indicate_disconnect);
	CHECK_ENCODED(vmbs_rndis_encode_indicate_status(out, sizeof(out),
							VMBS_RNDIS_STATUS_LINK_SPEED_CHANGE,
							&speed, 4),
		      g_indicate_speed);
	VMBS_CHECK(ctl_exact(g_indicate_speed, sizeof(g_indicate_speed), &c) == 0);
	CU_ASSERT_EQUAL(c.u.indicate.status, VMBS_RNDIS_STATUS_LINK_SPEED_CHANGE);
	CU_ASSERT_EQUAL(c.info_off, 20);
	CU_ASSERT_EQUAL(c.info_len, 4);
}

static void
rx_packet_without_ppi_matches_golden(void)
{
	struct vmbs_rndis_pkt_info pkt;

	memset(out, 0xaa, sizeof(out));
	CU_ASSERT_EQUAL(vmbs_rndis_rx_hdr_len(NULL), 44);
	CHECK_ENCODED(vmbs_rndis_encode_rx_packet(out, 104, 60, NULL), g_rx_plain);
	CU_ASSERT_EQUAL(out[44], 0xaa);		/* the frame is the caller's */
	fill_frame(out + 44, 60, 1);
	CU_ASSERT_EQUAL(walk_exact(out, 104, &pkt, 1), 1);
	CU_ASSERT_EQUAL(pkt.data_off, 44);
	CU_ASSERT_EQUAL(pkt.data_len, 60);
	CU_ASSERT_EQUAL(pkt.ppi_len, 0);
}

static void
rx_packet_with_ppis_matches_golden(void)
{
	struct vmbs_rndis_ppi_info ppi = {
		.present = VMBS_RNDIS_PPI_F_CSUM | VMBS_RNDIS_PPI_F_VLAN |
			   VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO,
		.csum = VMBS_RNDIS_RXCSUM_TCP_OK | VMBS_RNDIS_RXCSUM_IP_OK,
		.vlan_prio = 5, .vlan_cfi = 0, .vlan_vid = 100,
		.hash_value = 0xdeadbeef,
		.hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_TCP_IPV4,
	};
	struct vmbs_rndis_ppi_info back;
	struct vmbs_rndis_pkt_info pkt;

	CU_ASSERT_EQUAL(vmbs_rndis_rx_hdr_len(&ppi), 108);
	CHECK_ENCODED(vmbs_rndis_encode_rx_packet(out, sizeof(out), 60, &ppi), g_rx_ppi);

	/* What a guest would do with it: walk, then parse the PPIs. */
	fill_frame(out + 108, 60, 2);
	VMBS_CHECK(walk_exact(out, 168, &pkt, 1) == 1);
	CU_ASSERT_EQUAL(pkt.data_off, 108);
	CU_ASSERT_EQUAL(pkt.ppi_off, 44);
	CU_ASSERT_EQUAL(pkt.ppi_len, 64);
	VMBS_CHECK(ppi_exact(out + pkt.ppi_off, pkt.ppi_len, &back) == 0);
	CU_ASSERT_EQUAL(back.present, ppi.present);
	CU_ASSERT_EQUAL(back.csum, ppi.csum);
	CU_ASSERT_EQUAL(back.vlan_prio, 5);
	CU_ASSERT_EQUAL(back.vlan_cfi, 0);
	CU_ASSERT_EQUAL(back.vlan_vid, 100);
	CU_ASSERT_EQUAL(back.hash_value, 0xdeadbeef);
	CU_ASSERT_EQUAL(back.hash_info, ppi.hash_info);
	CU_ASSERT_EQUAL(back.unknown_cnt, 0);
}

static void
rx_packet_writes_only_the_requested_ppis(void)
{
	struct vmbs_rndis_ppi_info ppi = {
		.present = VMBS_RNDIS_PPI_F_VLAN,
		.vlan_prio = 7, .vlan_cfi = 1, .vlan_vid = 4095,
	};
	struct vmbs_rndis_ppi_info back;
	int hlen;

	hlen = vmbs_rndis_encode_rx_packet(out, sizeof(out), 14, &ppi);
	CU_ASSERT_EQUAL(hlen, 60);
	CU_ASSERT_EQUAL(out[28], 36);	/* ppi offset */
	CU_ASSERT_EQUAL(out[32], 16);	/* ppi len */
	CU_ASSERT_EQUAL(out[48], 6);	/* IEEE_8021Q */
	/* 7 | 1 << 3 | 4095 << 4 = 0xffff */
	CU_ASSERT_EQUAL(out[56], 0xff);
	CU_ASSERT_EQUAL(out[57], 0xff);
	CU_ASSERT_EQUAL(out[58], 0x00);
	VMBS_CHECK(ppi_exact(out + 44, 16, &back) == 0);
	CU_ASSERT_EQUAL(back.vlan_prio, 7);
	CU_ASSERT_EQUAL(back.vlan_cfi, 1);
	CU_ASSERT_EQUAL(back.vlan_vid, 4095);
}

/* ---- NDIS objects: struct layouts against hand-written bytes ---- */

static void
ndis_offload_layout_matches_golden(void)
{
	static const uint8_t golden[156] = {
		/* 0 header {0xa7, rev 3, size 156} */ [0] = 0xa7, 0x03, 0x9c, 0x00,
		/* 4 csum.ip4_tx_encap 802.3 */ [4] = 0x02,
		/* 8 csum.ip4_tx_csum TCP opts | TCP | IP = 0x114 */ [8] = 0x14, 0x01,
		/* 32 csum.ip6_rx_csum UDP 0x40 */ [32] = 0x40,
		/* 80 lsov2.ip4_encap 802.3 */ [80] = 0x02,
		/* 84 lsov2.ip4_max_size 62780 = 0xf53c */ [84] = 0x3c, 0xf5,
		/* 88 lsov2.ip4_min_segs 2 */ [88] = 0x02,
		/* 104 lsov2.ip6_opts ext hdrs | tcp opts = 5 */ [104] = 0x05,
		/* 108 flags 0; 112 ipsecv2.encap 0; 116 ipsecv2.ip6 1 */ [116] = 0x01,
		/* 128 ipsecv2.udp_esp 3 */ [128] = 0x03,
		/* 144 rsc.ip4 1, 145 rsc.ip6 1 */ [144] = 0x01, 0x01,
		/* 148 encap_gre.flags 0x11, 152 max_hdr_size 64 */ [148] = 0x11, [152] = 0x40,
	};
	struct vmbs_ndis_offload o;

	memset(&o, 0, sizeof(o));
	o.hdr.type = VMBS_NDIS_OBJTYPE_OFFLOAD;
	o.hdr.revision = VMBS_NDIS_OFFLOAD_REV_3;
	o.hdr.size = sizeof(o);
	o.csum.ip4_tx_encap = VMBS_NDIS_ENCAP_8023;
	o.csum.ip4_tx_csum = VMBS_NDIS_CSUM_CAP_TCP_OPTIONS | VMBS_NDIS_CSUM_CAP_TCP |
			     VMBS_NDIS_CSUM_CAP_IP4;
	o.csum.ip6_rx_csum = VMBS_NDIS_CSUM_CAP_UDP;
	o.lsov2.ip4_encap = VMBS_NDIS_ENCAP_8023;
	o.lsov2.ip4_max_size = 62780;
	o.lsov2.ip4_min_segs = 2;
	o.lsov2.ip6_opts = VMBS_NDIS_LSOV2_CAP_IP6_EXT_HDRS | VMBS_NDIS_LSOV2_CAP_TCP6_OPTIONS;
	o.ipsecv2.ip6 = 1;
	o.ipsecv2.udp_esp = 3;
	o.rsc.ip4 = 1;
	o.rsc.ip6 = 1;
	o.encap_gre.flags = 0x11;
	o.encap_gre.max_hdr_size = 64;
	CU_ASSERT_EQUAL(memcmp(&o, golden, sizeof(golden)), 0);

	/* And as a QUERY_CMPLT answer: 24 + 156. */
	CU_ASSERT_EQUAL(vmbs_rndis_encode_query_cmplt(out, sizeof(out), 4, 0, &o, sizeof(o)),
			180);
	CU_ASSERT_EQUAL(out[4], 180);
	CU_ASSERT_EQUAL(memcmp(out + 24, golden, sizeof(golden)), 0);
}

static void
ndis_rss_caps_layout_matches_golden(void)
{
	static const uint8_t golden[18] = {
		/* 0 header {0x88, rev 2, size 18} */ 0x88, 0x02, 0x12, 0x00,
		/* 4 caps IPv4 | IPv6 | IPv6_EX | Toeplitz = 0x701 */ 0x01, 0x07, 0x00, 0x00,
		/* 8 num_interrupt_msgs 0 */ 0x00, 0x00, 0x00, 0x00,
		/* 12 num_receive_queues 4 */ 0x04, 0x00, 0x00, 0x00,
		/* 16 num_indirection_entries 128 */ 0x80, 0x00,
	};
	struct vmbs_ndis_rss_caps rc;

	memset(&rc, 0, sizeof(rc));
	rc.hdr.type = VMBS_NDIS_OBJTYPE_RSS_CAPS;
	rc.hdr.revision = VMBS_NDIS_RSS_CAPS_REV_2;
	rc.hdr.size = VMBS_NDIS_RSS_CAPS_SIZE_REV_2;
	rc.caps = VMBS_NDIS_RSS_CAP_IPV4 | VMBS_NDIS_RSS_CAP_IPV6 | VMBS_NDIS_RSS_CAP_IPV6_EX |
		  VMBS_NDIS_RSS_CAP_HASH_TOEPLITZ;
	rc.num_receive_queues = 4;
	rc.num_indirection_entries = 128;
	CU_ASSERT_EQUAL(sizeof(rc), 18);
	CU_ASSERT_EQUAL(memcmp(&rc, golden, sizeof(golden)), 0);
}

static void
ndis_offload_encap_layout_matches_golden(void)
{
	static const uint8_t golden[28] = {
		/* 0 header {0xa8, rev 1, size 28} */ 0xa8, 0x01, 0x1c, 0x00,
		/* 4 ipv4 enabled 1, 8 type 802.3, 12 header size 14 */
		0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00,
		/* 16 ipv6 enabled 2 (off), 20 type 802.3, 24 header size 14 */
		0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00,
	};
	struct vmbs_ndis_offload_encap e = {
		.hdr = { VMBS_NDIS_OBJTYPE_OFFLOAD_ENCAP, VMBS_NDIS_OFFLOAD_ENCAP_REV_1, 28 },
		.ipv4 = { VMBS_NDIS_OFFLOAD_SET_ON, VMBS_NDIS_ENCAP_8023, 14 },
		.ipv6 = { VMBS_NDIS_OFFLOAD_SET_OFF, VMBS_NDIS_ENCAP_8023, 14 },
	};

	CU_ASSERT_EQUAL(memcmp(&e, golden, sizeof(golden)), 0);
}

static void
type_names(void)
{
	CU_ASSERT_STRING_EQUAL(vmbs_rndis_type_name(1), "PACKET");
	CU_ASSERT_STRING_EQUAL(vmbs_rndis_type_name(0x80000004u), "QUERY_CMPLT");
	CU_ASSERT_STRING_EQUAL(vmbs_rndis_type_name(9), "SET_EX");
	CU_ASSERT_STRING_EQUAL(vmbs_rndis_type_name(0), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_rndis_type_name(0x80000003u), "UNKNOWN");
}

/* ---- guest TX: walker and PPIs on DPDK and Linux packets ---- */

static void
dpdk_chimney_section_with_two_packets(void)
{
	static uint8_t sec[CHIM_LEN];
	struct vmbs_rndis_pkt_info pkts[8];
	struct vmbs_rndis_ppi_info ppi;

	build_chimney(sec);
	VMBS_CHECK(walk_exact(sec, sizeof(sec), pkts, 8) == 2);

	CU_ASSERT_EQUAL(pkts[0].msg_off, 0);
	CU_ASSERT_EQUAL(pkts[0].msg_len, 128);
	CU_ASSERT_EQUAL(pkts[0].data_off, 60);
	CU_ASSERT_EQUAL(pkts[0].data_len, 61);
	CU_ASSERT_EQUAL(pkts[0].ppi_off, 44);
	CU_ASSERT_EQUAL(pkts[0].ppi_len, 16);
	CU_ASSERT_EQUAL(sec[pkts[0].data_off], 0x10);

	CU_ASSERT_EQUAL(pkts[1].msg_off, 128);
	CU_ASSERT_EQUAL(pkts[1].msg_len, 130);
	CU_ASSERT_EQUAL(pkts[1].data_off, 204);
	CU_ASSERT_EQUAL(pkts[1].data_len, 54);
	CU_ASSERT_EQUAL(pkts[1].ppi_off, 172);
	CU_ASSERT_EQUAL(pkts[1].ppi_len, 32);
	CU_ASSERT_EQUAL(sec[pkts[1].data_off], 0x80);

	VMBS_CHECK(ppi_exact(sec + pkts[0].ppi_off, pkts[0].ppi_len, &ppi) == 0);
	CU_ASSERT_EQUAL(ppi.present, VMBS_RNDIS_PPI_F_HASH_VALUE);
	CU_ASSERT_EQUAL(ppi.hash_value, 2);

	VMBS_CHECK(ppi_exact(sec + pkts[1].ppi_off, pkts[1].ppi_len, &ppi) == 0);
	CU_ASSERT_EQUAL(ppi.present, VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_CSUM);
	CU_ASSERT_EQUAL(ppi.hash_value, 2);
	CU_ASSERT_EQUAL(ppi.csum, VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_TCP | (34u << 16));
	CU_ASSERT_EQUAL(ppi.csum_tcp_hdr_off, 34);
}

static void
dpdk_gpa_packet_with_vlan_and_lso(void)
{
	static uint8_t msg[LSO_LEN];
	struct vmbs_rndis_pkt_info pkt;
	struct vmbs_rndis_ppi_info ppi;

	build_lso(msg);
	VMBS_CHECK(walk_exact(msg, sizeof(msg), &pkt, 1) == 1);
	CU_ASSERT_EQUAL(pkt.data_off, 92);
	CU_ASSERT_EQUAL(pkt.data_len, 1514);
	CU_ASSERT_EQUAL(pkt.ppi_off, 44);
	CU_ASSERT_EQUAL(pkt.ppi_len, 48);

	VMBS_CHECK(ppi_exact(msg + pkt.ppi_off, pkt.ppi_len, &ppi) == 0);
	CU_ASSERT_EQUAL(ppi.present, VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_VLAN |
			VMBS_RNDIS_PPI_F_LSO);
	CU_ASSERT_EQUAL(ppi.hash_value, 1);
	CU_ASSERT_EQUAL(ppi.vlan_prio, 3);
	CU_ASSERT_EQUAL(ppi.vlan_cfi, 0);
	CU_ASSERT_EQUAL(ppi.vlan_vid, 42);
	CU_ASSERT_EQUAL(ppi.vlan, 0x2a3);
	CU_ASSERT(ppi.lso_v2);
	CU_ASSERT(!ppi.lso_ipv6);
	CU_ASSERT_EQUAL(ppi.lso_mss, 1448);
	CU_ASSERT_EQUAL(ppi.lso_tcp_hdr_off, 34);
	CU_ASSERT_EQUAL(ppi.lso, 0x422005a8);

	/* IPv6: bit 31. */
	msg[91] = 0xc2;
	VMBS_CHECK(ppi_exact(msg + pkt.ppi_off, pkt.ppi_len, &ppi) == 0);
	CU_ASSERT(ppi.lso_v2);
	CU_ASSERT(ppi.lso_ipv6);
	CU_ASSERT_EQUAL(ppi.lso_mss, 1448);

	/* LSOv1 (bit 30 clear): bit 31 is reserved there, not "IPv6". */
	msg[91] = 0x82;
	VMBS_CHECK(ppi_exact(msg + pkt.ppi_off, pkt.ppi_len, &ppi) == 0);
	CU_ASSERT(!ppi.lso_v2);
	CU_ASSERT(!ppi.lso_ipv6);
	CU_ASSERT_EQUAL(ppi.lso_tcp_hdr_off, 34);
}

/* The GPA-direct path: only the header and PPIs are in private memory. */
static void
check_head_of_a_gpa_packet(void)
{
	static uint8_t msg[LSO_LEN];
	struct vmbs_rndis_pkt_info pkt;

	build_lso(msg);
	/* 92 bytes hold header and PPIs; the frame stays "in guest memory". */
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 92, sizeof(msg), &pkt), 0);
	CU_ASSERT_EQUAL(pkt.data_off, 92);
	CU_ASSERT_EQUAL(pkt.data_len, 1514);
	CU_ASSERT_EQUAL(pkt.ppi_off, 44);
	CU_ASSERT_EQUAL(pkt.ppi_len, 48);
	/* Trailing padding after len is ignored. */
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 92, sizeof(msg) + 8, &pkt), 0);
	/* PPIs past the copy, a copy shorter than a header, len past the ranges. */
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 91, sizeof(msg), &pkt), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 43, sizeof(msg), &pkt), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 92, sizeof(msg) - 1, &pkt), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 93, 92, &pkt), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(NULL, 92, sizeof(msg), &pkt), -EINVAL);
	/* Not a PACKET; data_offset inside the fixed part. */
	msg[0] = 4;
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 92, sizeof(msg), &pkt), -EBADMSG);
	msg[0] = 1;
	msg[8] = 32;
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_check_head(msg, 92, sizeof(msg), &pkt), -EBADMSG);
}

static void
linux_single_packet_with_odd_length(void)
{
	uint8_t msg[LINUX_LEN];
	struct vmbs_rndis_pkt_info pkt;
	struct vmbs_rndis_ppi_info ppi;
	struct vmbs_rndis_pkt_iter it;

	build_linux(msg);
	VMBS_CHECK(walk_exact(msg, sizeof(msg), &pkt, 1) == 1);
	CU_ASSERT_EQUAL(pkt.msg_len, 121);
	CU_ASSERT_EQUAL(pkt.data_off, 60);
	CU_ASSERT_EQUAL(pkt.data_len, 61);
	VMBS_CHECK(ppi_exact(msg + pkt.ppi_off, pkt.ppi_len, &ppi) == 0);
	CU_ASSERT_EQUAL(ppi.present, VMBS_RNDIS_PPI_F_CSUM);
	CU_ASSERT_EQUAL(ppi.csum_tcp_hdr_off, 34);

	/* The same through the iterator: one packet, then the end, then still the end. */
	vmbs_rndis_pkt_iter_init(&it, msg, sizeof(msg));
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, &pkt), 1);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, &pkt), 0);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, &pkt), 0);
}

static void
packet_without_ppis_ignores_the_ppi_offset(void)
{
	uint8_t msg[104];
	struct vmbs_rndis_pkt_info pkt;

	memset(msg, 0, sizeof(msg));
	memcpy(msg, g_rx_plain, sizeof(g_rx_plain));
	put32(msg, 28, 0xfffffff0u);	/* ppi offset garbage, ppi len 0 */
	VMBS_CHECK(walk_exact(msg, sizeof(msg), &pkt, 1) == 1);
	CU_ASSERT_EQUAL(pkt.ppi_off, 0);
	CU_ASSERT_EQUAL(pkt.ppi_len, 0);
	put32(msg, 16, 0x12345678u);	/* oob offset alone means nothing */
	CU_ASSERT_EQUAL(walk_exact(msg, sizeof(msg), &pkt, 1), 1);
}

static void
parse_all_respects_max(void)
{
	static uint8_t sec[CHIM_LEN];
	struct vmbs_rndis_pkt_info pkts[2];

	build_chimney(sec);
	CU_ASSERT_EQUAL(walk_exact(sec, sizeof(sec), pkts, 1), -ENOBUFS);
	CU_ASSERT_EQUAL(walk_exact(sec, sizeof(sec), pkts, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(walk_exact(sec, sizeof(sec), pkts, 2), 2);
}

/* ---- PPI parsing ---- */

/* Append one PPI (size, type, offset, then @p words u32s) at @p p. */
static uint32_t
ppi_put(uint8_t *p, uint32_t size, uint32_t type, uint32_t offset, uint32_t word)
{
	put32(p, 0, size);
	put32(p, 4, type);
	put32(p, 8, offset);
	if (size >= 16)
		put32(p, 12, word);
	return size;
}

static void
ppi_skips_and_counts_other_types(void)
{
	uint8_t area[256];
	struct vmbs_rndis_ppi_info ppi;
	uint32_t n = 0;

	memset(area, 0, sizeof(area));
	n += ppi_put(area + n, 16, VMBS_RNDIS_PPI_IPSEC, 12, 1);
	n += ppi_put(area + n, 12, VMBS_RNDIS_PPI_SGLIST, 12, 0);	/* no data */
	n += ppi_put(area + n, 24, VMBS_RNDIS_PPI_PKT_PAD, 12, 0);
	n += ppi_put(area + n, 16, VMBS_RNDIS_PPI_PKTINFO_ID, 12, 0x00010101);
	n += ppi_put(area + n, 16, VMBS_RNDIS_PPI_INTERNAL | VMBS_RNDIS_PPI_CSUM, 12, 7);
	n += ppi_put(area + n, 16, 12, 12, 0);
	n += ppi_put(area + n, 16, 0x7fffffffu, 12, 0);
	n += ppi_put(area + n, 16, VMBS_RNDIS_PPI_IPSEC, 12, 2);	/* repeats are fine */
	n += ppi_put(area + n, 16, VMBS_RNDIS_PPI_HASH_VALUE, 12, 5);
	VMBS_CHECK(ppi_exact(area, n, &ppi) == 0);
	CU_ASSERT_EQUAL(ppi.unknown_cnt, 8);
	CU_ASSERT_EQUAL(ppi.present, VMBS_RNDIS_PPI_F_HASH_VALUE);
	CU_ASSERT_EQUAL(ppi.hash_value, 5);
}

static void
ppi_honours_data_offset_and_larger_data(void)
{
	uint8_t area[64];
	struct vmbs_rndis_ppi_info ppi;

	memset(area, 0, sizeof(area));
	/* size 24, data at 16: the u32 at 16 counts, not the one at 12. */
	ppi_put(area, 24, VMBS_RNDIS_PPI_HASH_INFO, 16, 0x11111111);
	put32(area, 16, 0x22222222);
	VMBS_CHECK(ppi_exact(area, 24, &ppi) == 0);
	CU_ASSERT_EQUAL(ppi.hash_info, 0x22222222);

	/* Empty area: nothing present. */
	VMBS_CHECK(ppi_exact(area, 0, &ppi) == 0);
	CU_ASSERT_EQUAL(ppi.present, 0);
	CU_ASSERT_EQUAL(vmbs_rndis_ppi_parse(NULL, 0, &ppi), 0);
}

static void
ppi_rejects_malformed_headers(void)
{
	static const struct {
		uint32_t size, type, offset;
		uint32_t area_len;
	} bad[] = {
		{ 0, VMBS_RNDIS_PPI_CSUM, 12, 16 },		/* size 0 */
		{ 4, VMBS_RNDIS_PPI_CSUM, 12, 16 },		/* size < header */
		{ 8, VMBS_RNDIS_PPI_IPSEC, 12, 16 },
		{ 11, VMBS_RNDIS_PPI_IPSEC, 12, 16 },
		{ 13, VMBS_RNDIS_PPI_IPSEC, 12, 16 },		/* not % 4 */
		{ 14, VMBS_RNDIS_PPI_IPSEC, 12, 16 },
		{ 18, VMBS_RNDIS_PPI_CSUM, 12, 20 },
		{ 20, VMBS_RNDIS_PPI_CSUM, 12, 16 },		/* larger than the area */
		{ 0xfffffff0u, VMBS_RNDIS_PPI_CSUM, 12, 16 },
		{ 0xfffffffcu, VMBS_RNDIS_PPI_IPSEC, 12, 16 },
		{ 16, VMBS_RNDIS_PPI_CSUM, 0, 16 },		/* offset into the header */
		{ 16, VMBS_RNDIS_PPI_IPSEC, 8, 16 },
		{ 16, VMBS_RNDIS_PPI_IPSEC, 11, 16 },
		{ 16, VMBS_RNDIS_PPI_CSUM, 20, 16 },		/* offset past size */
		{ 16, VMBS_RNDIS_PPI_IPSEC, 17, 16 },
		{ 16, VMBS_RNDIS_PPI_CSUM, 0xffffffffu, 16 },
		{ 16, VMBS_RNDIS_PPI_CSUM, 16, 16 },		/* known type, no data */
		{ 16, VMBS_RNDIS_PPI_LSO, 14, 16 },		/* known type, 2 bytes */
		{ 12, VMBS_RNDIS_PPI_HASH_VALUE, 12, 12 },
	};
	uint8_t area[32];
	struct vmbs_rndis_ppi_info ppi;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(area, 0, sizeof(area));
		put32(area, 0, bad[i].size);
		put32(area, 4, bad[i].type);
		put32(area, 8, bad[i].offset);
		CU_ASSERT_EQUAL(ppi_exact(area, bad[i].area_len, &ppi), -EBADMSG);
	}
	/* Unknown types may have no data at all. */
	ppi_put(area, 16, VMBS_RNDIS_PPI_IPSEC, 16, 0);
	CU_ASSERT_EQUAL(ppi_exact(area, 16, &ppi), 0);
}

static void
ppi_rejects_trailing_bytes_shorter_than_a_header(void)
{
	uint8_t area[32];
	struct vmbs_rndis_ppi_info ppi;
	uint32_t tail;

	memset(area, 0, sizeof(area));
	ppi_put(area, 16, VMBS_RNDIS_PPI_HASH_VALUE, 12, 1);
	for (tail = 1; tail < 12; tail++)
		CU_ASSERT_EQUAL(ppi_exact(area, 16 + tail, &ppi), -EBADMSG);
	/* Every cut of a valid PPI fails too. */
	for (tail = 1; tail < 16; tail++)
		CU_ASSERT_EQUAL(ppi_exact(area, tail, &ppi), -EBADMSG);
}

static void
ppi_rejects_duplicates_of_acted_on_types(void)
{
	static const uint32_t types[] = {
		VMBS_RNDIS_PPI_CSUM, VMBS_RNDIS_PPI_LSO, VMBS_RNDIS_PPI_IEEE_8021Q,
		VMBS_RNDIS_PPI_HASH_VALUE, VMBS_RNDIS_PPI_HASH_INFO,
	};
	uint8_t area[64];
	struct vmbs_rndis_ppi_info ppi;
	uint32_t n;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(area, 0, sizeof(area));
		n = ppi_put(area, 16, types[i], 12, 1);
		n += ppi_put(area + n, 16, VMBS_RNDIS_PPI_IPSEC, 12, 0);
		n += ppi_put(area + n, 16, types[i], 12, 2);
		CU_ASSERT_EQUAL(ppi_exact(area, n, &ppi), -EBADMSG);
		CU_ASSERT_EQUAL(ppi_exact(area, 32, &ppi), 0);
	}
}

static void
ppi_rejects_null_arguments(void)
{
	struct vmbs_rndis_ppi_info ppi;
	uint8_t area[16] = { 0 };

	CU_ASSERT_EQUAL(vmbs_rndis_ppi_parse(NULL, 16, &ppi), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_ppi_parse(area, 16, NULL), -EINVAL);
}

/* ---- PACKET walker rejection ---- */

/* A 1-packet message (the LSO one), with one u32 field replaced. */
static int
walk_lso_with(uint32_t off, uint32_t v)
{
	static uint8_t msg[LSO_LEN];
	struct vmbs_rndis_pkt_info pkt;

	build_lso(msg);
	put32(msg, off, v);
	return walk_exact(msg, sizeof(msg), &pkt, 1);
}

static void
walker_rejects_truncation_at_every_length(void)
{
	static uint8_t msg[LSO_LEN];
	struct vmbs_rndis_pkt_info pkt;
	uint32_t len;

	build_lso(msg);
	/* The len field says 1606: anything shorter is a truncated message. */
	for (len = 0; len < LSO_LEN; len++)
		CU_ASSERT_EQUAL_FATAL(walk_exact(msg, len, &pkt, 1), -EBADMSG);
	CU_ASSERT_EQUAL(walk_exact(msg, LSO_LEN, &pkt, 1), 1);
}

static void
walker_rejects_bad_lengths(void)
{
	static const uint32_t bad_len[] = {
		0, 4, 7, 8, 43,			/* below the header / PACKET size */
		LSO_LEN + 1, LSO_LEN + 4,	/* past the buffer */
		0x7fffffffu, 0xfffffff0u, 0xffffffffu,
	};
	size_t i;

	for (i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
		CU_ASSERT_EQUAL(walk_lso_with(4, bad_len[i]), -EBADMSG);
	/* 92 + 1514: the data must fit a shorter message too. */
	CU_ASSERT_EQUAL(walk_lso_with(4, LSO_LEN - 1), -EBADMSG);
}

static void
walker_rejects_non_packet_messages(void)
{
	static const uint32_t bad_type[] = {
		0, VMBS_RNDIS_MSG_INITIALIZE, VMBS_RNDIS_MSG_QUERY, VMBS_RNDIS_MSG_SET_EX,
		VMBS_RNDIS_MSG_INDICATE_STATUS, 10, 0x80000001u, VMBS_RNDIS_MSG_QUERY_CMPLT,
		0xffffffffu,
	};
	size_t i;

	for (i = 0; i < sizeof(bad_type) / sizeof(bad_type[0]); i++)
		CU_ASSERT_EQUAL(walk_lso_with(0, bad_type[i]), -EBADMSG);
}

static void
walker_rejects_bad_data_area(void)
{
	/* data_offset: into the body, then past the end, then wrapping. */
	CU_ASSERT_EQUAL(walk_lso_with(8, 0), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(8, 35), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(8, 85), -EBADMSG);	/* one byte too far */
	CU_ASSERT_EQUAL(walk_lso_with(8, 1606), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(8, 0xfffffff0u), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(8, 0xffffffffu), -EBADMSG);
	/* data_len: zero, one too many, wrapping. */
	CU_ASSERT_EQUAL(walk_lso_with(12, 0), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(12, 1515), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(12, 0xfffffff0u), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(12, 0xffffffffu), -EBADMSG);
	/* In range: smaller frame, or data starting at the body's end (over the PPIs). */
	CU_ASSERT_EQUAL(walk_lso_with(12, 1), 1);
	CU_ASSERT_EQUAL(walk_lso_with(8, 36), 1);
}

static void
walker_rejects_oob_data_and_vc_handle(void)
{
	CU_ASSERT_EQUAL(walk_lso_with(20, 4), -EBADMSG);	/* oob_data_len */
	CU_ASSERT_EQUAL(walk_lso_with(24, 1), -EBADMSG);	/* num_oob_data_elements */
	CU_ASSERT_EQUAL(walk_lso_with(36, 1), -EBADMSG);	/* vc_handle */
	CU_ASSERT_EQUAL(walk_lso_with(36, 0xffffffffu), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(40, 0xffffffffu), 1);	/* reserved: ignored */
}

static void
walker_rejects_bad_ppi_area(void)
{
	/* per_pkt_info_offset: into the body, unaligned, past the end, wrapping. */
	CU_ASSERT_EQUAL(walk_lso_with(28, 0), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(28, 32), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(28, 38), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(28, 1600), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(28, 0xfffffff0u), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(28, 0xfffffffcu), -EBADMSG);
	/* per_pkt_info_len: past the end, wrapping. */
	CU_ASSERT_EQUAL(walk_lso_with(32, 1563), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(32, 0xffffffe0u), -EBADMSG);
	CU_ASSERT_EQUAL(walk_lso_with(32, 0xffffffffu), -EBADMSG);
	/* The largest that fits: 1606 - 8 - 36. */
	CU_ASSERT_EQUAL(walk_lso_with(32, 1562), 1);
}

static void
walker_rejects_bad_concatenation(void)
{
	static uint8_t sec[CHIM_LEN + 64];
	struct vmbs_rndis_pkt_info pkts[8], pkt;
	struct vmbs_rndis_pkt_iter it;
	uint32_t tail;

	/* First message 121 long (unaligned) with another after it. */
	build_chimney(sec);
	put32(sec, 4, 121);
	CU_ASSERT_EQUAL(walk_exact(sec, CHIM_LEN, pkts, 8), -EBADMSG);
	put32(sec, 4, 126);	/* 2 mod 4: the next one would start unaligned */
	CU_ASSERT_EQUAL(walk_exact(sec, CHIM_LEN, pkts, 8), -EBADMSG);

	/*
	 * First message shortened to 124: the second would start at 124,
	 * where there is padding, not a header.
	 */
	build_chimney(sec);
	put32(sec, 4, 124);
	CU_ASSERT_EQUAL(walk_exact(sec, CHIM_LEN, pkts, 8), -EBADMSG);

	/* Trailing bytes after the last message: not a message. */
	build_chimney(sec);
	for (tail = 1; tail <= 48; tail++)
		CU_ASSERT_EQUAL(walk_exact(sec, CHIM_LEN + tail, pkts, 8), -EBADMSG);
	/* The same after an aligned single message (104 bytes). */
	memset(sec, 0, sizeof(sec));
	memcpy(sec, g_rx_plain, sizeof(g_rx_plain));
	CU_ASSERT_EQUAL(walk_exact(sec, 104, pkts, 8), 1);
	for (tail = 1; tail <= 48; tail++)
		CU_ASSERT_EQUAL(walk_exact(sec, 104 + tail, pkts, 8), -EBADMSG);

	/*
	 * Only the alignment wrong: a valid 121-byte message directly followed
	 * by a valid one at offset 121. Padded to 124 (4-aligned, as the rule
	 * asks; DPDK would pad to 8) the same pair is accepted.
	 */
	memset(sec, 0, sizeof(sec));
	build_linux(sec);
	memcpy(sec + LINUX_LEN, g_tx2_head, sizeof(g_tx2_head));
	CU_ASSERT_EQUAL(walk_exact(sec, LINUX_LEN + TX2_LEN, pkts, 8), -EBADMSG);
	memset(sec, 0, sizeof(sec));
	build_linux(sec);
	put32(sec, 4, 124);
	memcpy(sec + 124, g_tx2_head, sizeof(g_tx2_head));
	CU_ASSERT_EQUAL(walk_exact(sec, 124 + TX2_LEN, pkts, 8), 2);
	CU_ASSERT_EQUAL(pkts[1].msg_off, 124);
	CU_ASSERT_EQUAL(pkts[1].data_off, 124 + 76);

	/* A bad second message: the iterator yields the first, then fails for good. */
	build_chimney(sec);
	put32(sec, TX1_LEN + 36, 7);	/* vc_handle */
	vmbs_rndis_pkt_iter_init(&it, sec, CHIM_LEN);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, &pkt), 1);
	CU_ASSERT_EQUAL(pkt.data_len, 61);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, &pkt), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, &pkt), -EBADMSG);
	/* All or nothing. */
	CU_ASSERT_EQUAL(walk_exact(sec, CHIM_LEN, pkts, 8), -EBADMSG);

	/* The second message's len past the section. */
	build_chimney(sec);
	put32(sec, TX1_LEN + 4, TX2_LEN + 1);
	CU_ASSERT_EQUAL(walk_exact(sec, CHIM_LEN, pkts, 8), -EBADMSG);
}

static void
walker_rejects_empty_and_bad_arguments(void)
{
	struct vmbs_rndis_pkt_info pkts[1];
	struct vmbs_rndis_pkt_iter it;
	uint8_t b[64] = { 0 };

	CU_ASSERT_EQUAL(vmbs_rndis_pkt_parse_all(b, 0, pkts, 1), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_parse_all(NULL, 44, pkts, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_parse_all(b, 44, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_parse_all(b, (size_t)UINT32_MAX + 1, pkts, 1), -EINVAL);

	vmbs_rndis_pkt_iter_init(&it, b, 0);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, pkts), 0);
	vmbs_rndis_pkt_iter_init(&it, NULL, 44);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, pkts), -EINVAL);
	vmbs_rndis_pkt_iter_init(&it, b, (size_t)UINT32_MAX + 1);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, pkts), -EINVAL);
	vmbs_rndis_pkt_iter_init(&it, b, sizeof(b));
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(NULL, pkts), -EINVAL);
	/* All-zero bytes: type 0, len 0. */
	CU_ASSERT_EQUAL(vmbs_rndis_pkt_iter_next(&it, pkts), -EBADMSG);
	vmbs_rndis_pkt_iter_init(NULL, b, sizeof(b));	/* must not crash */
}

/* ---- control message rejection ---- */

static void
ctl_rejects_truncation_at_every_length(void)
{
	static const struct {
		const uint8_t *bytes;
		size_t len;
	} g[] = {
		{ g_init_req, sizeof(g_init_req) }, { g_halt, sizeof(g_halt) },
		{ g_reset, sizeof(g_reset) }, { g_keepalive, sizeof(g_keepalive) },
		{ g_query_mac, sizeof(g_query_mac) },
		{ g_query_rss_caps, sizeof(g_query_rss_caps) },
		{ g_query_offload, sizeof(g_query_offload) },
		{ g_set_filter, sizeof(g_set_filter) }, { g_set_offload, sizeof(g_set_offload) },
		{ g_init_cmplt, sizeof(g_init_cmplt) },
		{ g_query_cmplt_mac, sizeof(g_query_cmplt_mac) },
		{ g_set_cmplt, sizeof(g_set_cmplt) }, { g_reset_cmplt, sizeof(g_reset_cmplt) },
		{ g_keepalive_cmplt, sizeof(g_keepalive_cmplt) },
		{ g_indicate_speed, sizeof(g_indicate_speed) },
	};
	struct vmbs_rndis_ctl c;
	size_t i, len;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		for (len = 0; len < g[i].len; len++)
			CU_ASSERT_EQUAL(ctl_exact(g[i].bytes, len, &c), -EBADMSG);
		CU_ASSERT_EQUAL(ctl_exact(g[i].bytes, g[i].len, &c), 0);
	}
}

/* The len field below each type's fixed size, with the bytes all there. */
static void
ctl_rejects_len_field_below_fixed_size(void)
{
	static const struct {
		const uint8_t *bytes;
		size_t len;
		uint32_t min;		/* from b.5 by hand */
	} g[] = {
		{ g_init_req, sizeof(g_init_req), 24 }, { g_halt, sizeof(g_halt), 12 },
		{ g_reset, sizeof(g_reset), 12 }, { g_keepalive, sizeof(g_keepalive), 12 },
		{ g_query_mac, sizeof(g_query_mac), 28 },
		{ g_init_cmplt, sizeof(g_init_cmplt), 52 },
		{ g_query_cmplt_unsupported, sizeof(g_query_cmplt_unsupported), 24 },
		{ g_set_cmplt, sizeof(g_set_cmplt), 16 },
		{ g_reset_cmplt, sizeof(g_reset_cmplt), 16 },
		{ g_indicate_connect, sizeof(g_indicate_connect), 20 },
	};
	struct vmbs_rndis_ctl c;
	uint8_t msg[64];
	uint32_t l;
	size_t i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		for (l = 0; l < g[i].min; l++) {
			memcpy(msg, g[i].bytes, g[i].len);
			put32(msg, 4, l);
			CU_ASSERT_EQUAL(ctl_exact(msg, g[i].len, &c), -EBADMSG);
		}
		/* And above the bytes given. */
		memcpy(msg, g[i].bytes, g[i].len);
		put32(msg, 4, (uint32_t)g[i].len + 1);
		CU_ASSERT_EQUAL(ctl_exact(msg, g[i].len, &c), -EBADMSG);
		put32(msg, 4, 0xffffffffu);
		CU_ASSERT_EQUAL(ctl_exact(msg, g[i].len, &c), -EBADMSG);
	}
}

static void
ctl_rejects_bad_info_buffers(void)
{
	struct vmbs_rndis_ctl c;
	uint8_t msg[64];

	/* QUERY/SET: offset counted from byte 8, must not be below 20. */
	memcpy(msg, g_set_filter, sizeof(g_set_filter));
	put32(msg, 20, 0);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_set_filter), &c), -EBADMSG);
	put32(msg, 20, 19);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_set_filter), &c), -EBADMSG);
	/* Past the end: 8 + 21 + 4 > 32. */
	put32(msg, 20, 21);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_set_filter), &c), -EBADMSG);
	/* Wrapping offsets and lengths. */
	put32(msg, 20, 0xfffffff0u);
	put32(msg, 16, 0x20);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_set_filter), &c), -EBADMSG);
	put32(msg, 20, 20);
	put32(msg, 16, 0xffffffffu);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_set_filter), &c), -EBADMSG);
	put32(msg, 16, 5);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_set_filter), &c), -EBADMSG);
	/* A zero length makes any offset harmless. */
	put32(msg, 16, 0);
	put32(msg, 20, 0xffffffffu);
	VMBS_CHECK(ctl_exact(msg, sizeof(g_set_filter), &c) == 0);
	CU_ASSERT_EQUAL(c.info_off, 0);
	CU_ASSERT_EQUAL(c.info_len, 0);
	/* Odd offsets inside the message are fine: 8 + 22 + 2 = 32. */
	put32(msg, 16, 2);
	put32(msg, 20, 22);
	VMBS_CHECK(ctl_exact(msg, sizeof(g_set_filter), &c) == 0);
	CU_ASSERT_EQUAL(c.info_off, 30);

	/* QUERY_CMPLT: offset >= 16. */
	memcpy(msg, g_query_cmplt_speed, sizeof(g_query_cmplt_speed));
	put32(msg, 20, 15);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_query_cmplt_speed), &c), -EBADMSG);
	put32(msg, 20, 17);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_query_cmplt_speed), &c), -EBADMSG);

	/* INDICATE_STATUS: offset >= 12. */
	memcpy(msg, g_indicate_speed, sizeof(g_indicate_speed));
	put32(msg, 16, 11);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_indicate_speed), &c), -EBADMSG);
	put32(msg, 16, 13);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_indicate_speed), &c), -EBADMSG);
	put32(msg, 16, 0xfffffffcu);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(g_indicate_speed), &c), -EBADMSG);
}

static void
ctl_rejects_unknown_and_unserved_types(void)
{
	static const uint32_t bad[] = {
		0, 10, 0x7fffffffu, 0x80000000u, 0x80000001u, 0x80000003u, 0x80000007u,
		0x8000000au, 0xffffffffu,
	};
	struct vmbs_rndis_ctl c;
	struct vmbs_rndis_hdr h;
	uint8_t msg[64];
	size_t i;

	memset(msg, 0, sizeof(msg));
	put32(msg, 4, sizeof(msg));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put32(msg, 0, bad[i]);
		CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(msg), &c), -EBADMSG);
		CU_ASSERT_EQUAL(vmbs_rndis_msg_check(msg, sizeof(msg), 0, &h), -EBADMSG);
	}
	/* PACKET is data, not control. */
	put32(msg, 0, VMBS_RNDIS_MSG_PACKET);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(msg), &c), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_msg_check(msg, sizeof(msg), 0, &h), 0);

	/* SET_EX: known, not served; the header is still reported. */
	put32(msg, 0, VMBS_RNDIS_MSG_SET_EX);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(msg), &c), -EOPNOTSUPP);
	memset(&h, 0, sizeof(h));
	CU_ASSERT_EQUAL(vmbs_rndis_msg_check(msg, sizeof(msg), 0, &h), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(h.type, VMBS_RNDIS_MSG_SET_EX);
	CU_ASSERT_EQUAL(h.len, 64);
	put32(msg, 0, VMBS_RNDIS_MSG_SET_EX_CMPLT);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(msg), &c), -EOPNOTSUPP);
	/* ...but a SET_EX longer than the bytes given is malformed. */
	put32(msg, 4, 65);
	CU_ASSERT_EQUAL(ctl_exact(msg, sizeof(msg), &c), -EBADMSG);
}

static void
msg_check_flags_and_arguments(void)
{
	struct vmbs_rndis_hdr h;
	uint8_t msg[LINUX_LEN];

	build_linux(msg);
	CU_ASSERT_EQUAL(vmbs_rndis_msg_check(msg, sizeof(msg), 0, &h), 0);
	CU_ASSERT_EQUAL(h.type, VMBS_RNDIS_MSG_PACKET);
	CU_ASSERT_EQUAL(h.len, 121);
	CU_ASSERT_EQUAL(vmbs_rndis_msg_check(msg, sizeof(msg), VMBS_RNDIS_CHECK_ALIGN4, &h),
			-EBADMSG);
	CU_ASSERT_EQUAL(vmbs_rndis_msg_check(g_set_filter, sizeof(g_set_filter),
					     VMBS_RNDIS_CHECK_ALIGN4, NULL), 0);
	CU_ASSERT_EQUAL(vmbs_rndis_msg_check(msg, sizeof(msg), 0x2, &h), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_msg_check(NULL, 8, 0, &h), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_ctl_decode(NULL, 8, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_ctl_decode(g_halt, sizeof(g_halt), NULL), -EINVAL);
}

/* ---- encoder rejection ---- */

static void
encoders_reject_small_buffers_without_writing(void)
{
	static const uint8_t info[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct vmbs_rndis_ppi_info ppi = { .present = VMBS_RNDIS_PPI_F_CSUM };
	unsigned int i;

	memset(out, 0xaa, sizeof(out));
	CU_ASSERT_EQUAL(vmbs_rndis_encode_init_cmplt(out, 51, 1, 0, 8, 6144, 3), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_query_cmplt(out, 31, 1, 0, info, 8), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_query_cmplt(out, 23, 1, 0, NULL, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_set_cmplt(out, 15, 1, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_reset_cmplt(out, 15, 0, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_keepalive_cmplt(out, 15, 1, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_indicate_status(out, 19, 0, NULL, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_indicate_status(out, 27, 0, info, 8), -ENOBUFS);
	/* The RX slot must hold the frame too. */
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, 103, 60, NULL), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, 119, 60, &ppi), -ENOBUFS);
	for (i = 0; i < sizeof(out); i++)
		CU_ASSERT_EQUAL_FATAL(out[i], 0xaa);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, 120, 60, &ppi), 60);
}

static void
encoders_reject_bad_arguments(void)
{
	struct vmbs_rndis_ppi_info ppi;
	static const uint8_t info[4] = { 0 };

	CU_ASSERT_EQUAL(vmbs_rndis_encode_init_cmplt(NULL, 64, 1, 0, 8, 6144, 3), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_query_cmplt(NULL, 64, 1, 0, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_query_cmplt(out, sizeof(out), 1, 0, NULL, 4), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_query_cmplt(out, sizeof(out), 1, 0, info, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_query_cmplt(out, sizeof(out), 1, 0, info,
						      0xffffffffu), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_set_cmplt(NULL, 64, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_reset_cmplt(NULL, 64, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_keepalive_cmplt(NULL, 64, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_indicate_status(NULL, 64, 0, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_indicate_status(out, sizeof(out), 0, NULL, 4), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_indicate_status(out, sizeof(out), 0, info,
							  0x7fffffffu), -EINVAL);

	memset(&ppi, 0, sizeof(ppi));
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(NULL, 256, 60, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 0x7fffffffu, NULL), -EINVAL);
	ppi.present = VMBS_RNDIS_PPI_F_LSO;	/* no RX LSO PPI */
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 60, &ppi), -EINVAL);
	ppi.present = 1u << 7;
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 60, &ppi), -EINVAL);
	ppi.present = VMBS_RNDIS_PPI_F_VLAN;
	ppi.vlan_prio = 8;
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 60, &ppi), -EINVAL);
	ppi.vlan_prio = 0;
	ppi.vlan_cfi = 2;
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 60, &ppi), -EINVAL);
	ppi.vlan_cfi = 0;
	ppi.vlan_vid = 4096;
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 60, &ppi), -EINVAL);
	ppi.vlan_vid = 4095;
	CU_ASSERT_EQUAL(vmbs_rndis_encode_rx_packet(out, sizeof(out), 60, &ppi), 60);
}

/* ---- NDIS objects guests SET ---- */

static uint8_t rss_obj[592];

/* The 592-byte object of the golden SET, with one u32 replaced. */
static int
rss_with(uint32_t off, uint32_t v, uint32_t len, struct vmbs_ndis_rss_config *cfg)
{
	uint8_t msg[RSS_MSG_LEN];

	build_set_rss(msg);
	memcpy(rss_obj, msg + 28, sizeof(rss_obj));
	put32(rss_obj, off, v);
	return rss_exact(rss_obj, len, cfg);
}

/* u16 fields share a u32 with their neighbour (padding, or base_cpu). */
static int
rss_with16(uint32_t off, uint16_t v, struct vmbs_ndis_rss_config *cfg)
{
	uint8_t msg[RSS_MSG_LEN];

	build_set_rss(msg);
	memcpy(rss_obj, msg + 28, sizeof(rss_obj));
	memcpy(rss_obj + off, &v, sizeof(v));
	return rss_exact(rss_obj, sizeof(rss_obj), cfg);
}

static void
rss_params_reject_bad_objects(void)
{
	struct vmbs_ndis_rss_config cfg;
	uint32_t len;

	/* The golden one (the CPU-mask fields are not used), then every truncation. */
	CU_ASSERT_EQUAL(rss_with(28, 0xffffffffu, 592, &cfg), 0);
	for (len = 0; len < 592; len++)
		CU_ASSERT_EQUAL_FATAL(rss_with(28, 0xffffffffu, len, &cfg), -EBADMSG);
	/* Header: type, size below rev 1, size above len. */
	CU_ASSERT_EQUAL(rss_with(0, 0x00280288u, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(0, 0x001b0289u, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(0, 0x02510289u, 592, &cfg), -EBADMSG);
	/* Table size: 0, not a multiple of 4, above 128 entries. */
	CU_ASSERT_EQUAL(rss_with16(12, 0, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with16(12, 3, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with16(12, 510, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with16(12, 516, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with16(12, 0xfffc, &cfg), -EBADMSG);
	/* Table offset: inside the header, past the end, wrapping. */
	CU_ASSERT_EQUAL(rss_with(16, 0, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(16, 39, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(16, 81, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(16, 0xfffffe00u, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(16, 0xffffffffu, 592, &cfg), -EBADMSG);
	/* Key size must be 40; key offset as the table's. */
	CU_ASSERT_EQUAL(rss_with16(20, 0, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with16(20, 39, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with16(20, 41, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(24, 0, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(24, 553, 592, &cfg), -EBADMSG);
	CU_ASSERT_EQUAL(rss_with(24, 0xfffffff0u, 592, &cfg), -EBADMSG);
	/* Key over the table: odd but harmless (both are only read). */
	CU_ASSERT_EQUAL(rss_with(24, 40, 592, &cfg), 0);
}

static void
rss_params_accept_other_layouts_and_flags(void)
{
	struct vmbs_ndis_rss_config cfg;
	uint8_t obj[40 + 40 + 256];
	unsigned int i;

	/* Key at 40, a 64-entry table at 80, header size 40. */
	memset(obj, 0, sizeof(obj));
	obj[0] = 0x89;
	obj[1] = 2;
	obj[2] = 40;
	put32(obj, 8, VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_IPV4);
	put32(obj, 12, 256);		/* table_size (u16) + pad */
	put32(obj, 16, 80);		/* table_offset */
	put32(obj, 20, 40);		/* key_size (u16) + pad */
	put32(obj, 24, 40);		/* key_offset */
	for (i = 0; i < 40; i++)
		obj[40 + i] = (uint8_t)i;
	for (i = 0; i < 64; i++)
		put32(obj, 80 + 4 * i, 63 - i);
	VMBS_CHECK(rss_exact(obj, sizeof(obj), &cfg) == 0);
	CU_ASSERT_EQUAL(cfg.table_cnt, 64);
	CU_ASSERT_EQUAL(cfg.table[0], 63);
	CU_ASSERT_EQUAL(cfg.table[63], 0);
	CU_ASSERT_EQUAL(cfg.key[39], 39);

	/* A revision-1 object (header size 28): offsets from 28 on. */
	obj[2] = 28;
	VMBS_CHECK(rss_exact(obj, sizeof(obj), &cfg) == 0);

	/* Unchanged table and key: their fields are not even looked at. */
	obj[2] = 40;
	put32(obj, 4, VMBS_NDIS_RSS_FLAG_TABLE_UNCHANGED | VMBS_NDIS_RSS_FLAG_KEY_UNCHANGED |
		      VMBS_NDIS_RSS_FLAG_HASH_INFO_UNCHANGED);
	put32(obj, 12, 0xffff);
	put32(obj, 16, 0xffffffffu);
	put32(obj, 20, 7);
	put32(obj, 24, 0xffffffffu);
	VMBS_CHECK(rss_exact(obj, sizeof(obj), &cfg) == 0);
	CU_ASSERT_EQUAL(cfg.table_cnt, 0);
	CU_ASSERT(!cfg.has_key);
	CU_ASSERT(!cfg.has_hash_info);

	/* Disable: nothing else read, even from a 40-byte object. */
	put32(obj, 4, VMBS_NDIS_RSS_FLAG_DISABLE);
	VMBS_CHECK(rss_exact(obj, 40, &cfg) == 0);
	CU_ASSERT(cfg.disable);
	CU_ASSERT_EQUAL(cfg.table_cnt, 0);

	CU_ASSERT_EQUAL(vmbs_ndis_rss_params_parse(NULL, 40, &cfg), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_ndis_rss_params_parse(obj, 40, NULL), -EINVAL);
}

static void
offload_params_revisions(void)
{
	struct vmbs_ndis_offload_params op;
	uint8_t obj[32];

	/* Revision 2 (22 bytes, NDIS 6.1): the RSC fields read as "no change". */
	memset(obj, 0, sizeof(obj));
	obj[0] = 0x80;
	obj[1] = 2;
	obj[2] = 22;
	obj[5] = VMBS_NDIS_OFFLOAD_PARAM_TXRX;	/* tcp4 */
	obj[21] = 1;				/* ipsecv2_ip4 */
	obj[22] = 0x55;				/* beyond size 22: ignored */
	VMBS_CHECK(offload_params_exact(obj, 22, &op) == 0);
	CU_ASSERT_EQUAL(op.tcp4_csum, VMBS_NDIS_OFFLOAD_PARAM_TXRX);
	CU_ASSERT_EQUAL(op.ipsecv2_ip4, 1);
	CU_ASSERT_EQUAL(op.rsc_ip4, 0);
	VMBS_CHECK(offload_params_exact(obj, 32, &op) == 0);
	CU_ASSERT_EQUAL(op.rsc_ip4, 0);

	/* Revision 1 (20 bytes). */
	obj[2] = 20;
	VMBS_CHECK(offload_params_exact(obj, 20, &op) == 0);
	CU_ASSERT_EQUAL(op.ipsecv2_ip4, 0);

	/* Larger than known: the first 28 bytes are read. */
	obj[2] = 32;
	VMBS_CHECK(offload_params_exact(obj, 32, &op) == 0);
	CU_ASSERT_EQUAL(op.rsc_ip4, 0x55);

	/* Rejections: size < 20, size > len, wrong type, len < 20. */
	obj[2] = 19;
	CU_ASSERT_EQUAL(offload_params_exact(obj, 32, &op), -EBADMSG);
	obj[2] = 28;
	CU_ASSERT_EQUAL(offload_params_exact(obj, 27, &op), -EBADMSG);
	obj[0] = VMBS_NDIS_OBJTYPE_OFFLOAD;
	CU_ASSERT_EQUAL(offload_params_exact(obj, 28, &op), -EBADMSG);
	obj[0] = 0x80;
	CU_ASSERT_EQUAL(offload_params_exact(obj, 19, &op), -EBADMSG);
	CU_ASSERT_EQUAL(offload_params_exact(obj, 0, &op), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_ndis_offload_params_parse(NULL, 28, &op), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_ndis_offload_params_parse(obj, 28, NULL), -EINVAL);
}

/* ---- random mutation: checks hold, nothing is read out of bounds ---- */

static uint32_t
rnd(unsigned int *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static uint32_t
interesting(unsigned int *seed)
{
	static const uint32_t v[] = {
		0, 1, 4, 8, 12, 16, 35, 36, 37, 40, 44, 0x7fffffffu, 0x80000000u,
		0xfffffff0u, 0xfffffffcu, 0xffffffffu,
	};
	uint32_t r = rnd(seed);

	return (r & 1) != 0 ? v[(r >> 1) % (sizeof(v) / sizeof(v[0]))] : rnd(seed);
}

static void
mutated_packets_never_overread(void)
{
	static uint8_t base[CHIM_LEN], sec[CHIM_LEN];
	struct vmbs_rndis_pkt_info pkts[4];
	struct vmbs_rndis_ppi_info ppi;
	unsigned int seed = 4242, i, j, k;
	uint32_t len;
	int n;

	build_chimney(base);
	for (i = 0; i < 20000; i++) {
		memcpy(sec, base, sizeof(sec));
		k = 1 + rnd(&seed) % 3;
		for (j = 0; j < k; j++)
			put32(sec, (rnd(&seed) % (CHIM_LEN / 4)) * 4, interesting(&seed));
		len = (rnd(&seed) & 7) == 0 ? rnd(&seed) % (CHIM_LEN + 1) : CHIM_LEN;
		n = walk_exact(sec, len, pkts, 4);
		CU_ASSERT(n == -EBADMSG || n == -ENOBUFS || (n >= 1 && n <= 4));
		for (j = 0; n > 0 && j < (unsigned int)n; j++) {
			CU_ASSERT((uint64_t)pkts[j].msg_off + pkts[j].msg_len <= len);
			CU_ASSERT((uint64_t)pkts[j].data_off + pkts[j].data_len <=
				  (uint64_t)pkts[j].msg_off + pkts[j].msg_len);
			CU_ASSERT((uint64_t)pkts[j].ppi_off + pkts[j].ppi_len <=
				  (uint64_t)pkts[j].msg_off + pkts[j].msg_len);
			if (pkts[j].ppi_len != 0)
				ppi_exact(sec + pkts[j].ppi_off, pkts[j].ppi_len, &ppi);
		}
	}
}

static void
mutated_control_messages_never_overread(void)
{
	static uint8_t base[RSS_MSG_LEN], msg[RSS_MSG_LEN];
	struct vmbs_ndis_rss_config cfg;
	struct vmbs_rndis_ctl c;
	unsigned int seed = 777, i, j;
	uint32_t len;
	int rc;

	build_set_rss(base);
	for (i = 0; i < 20000; i++) {
		memcpy(msg, base, sizeof(msg));
		for (j = 0; j < 2; j++)
			put32(msg, (rnd(&seed) % (RSS_MSG_LEN / 4)) * 4, interesting(&seed));
		len = (rnd(&seed) & 3) == 0 ? rnd(&seed) % (RSS_MSG_LEN + 1) : RSS_MSG_LEN;
		rc = ctl_exact(msg, len, &c);
		CU_ASSERT(rc == 0 || rc == -EBADMSG || rc == -EOPNOTSUPP);
		if (rc == 0 && c.info_len != 0) {
			CU_ASSERT((uint64_t)c.info_off + c.info_len <= c.len);
			CU_ASSERT(c.len <= len);
			if (c.type == VMBS_RNDIS_MSG_SET) {
				rc = rss_exact(msg + c.info_off, c.info_len, &cfg);
				CU_ASSERT(rc == 0 || rc == -EBADMSG);
			}
		}
	}
}

static const struct vmbs_test_case golden_cases[] = {
	{ "initialize_decodes", initialize_decodes },
	{ "halt_reset_keepalive_decode", halt_reset_keepalive_decode },
	{ "query_without_input_decodes", query_without_input_decodes },
	{ "query_rss_caps_with_odd_length_decodes", query_rss_caps_with_odd_length_decodes },
	{ "query_offload_caps_decodes", query_offload_caps_decodes },
	{ "set_packet_filter_decodes", set_packet_filter_decodes },
	{ "set_offload_params_decodes", set_offload_params_decodes },
	{ "set_rss_params_decodes", set_rss_params_decodes },
	{ "init_cmplt_matches_golden", init_cmplt_matches_golden },
	{ "query_cmplt_matches_golden", query_cmplt_matches_golden },
	{ "set_reset_keepalive_cmplt_match_golden", set_reset_keepalive_cmplt_match_golden },
	{ "indicate_status_matches_golden", indicate_status_matches_golden },
	{ "rx_packet_without_ppi_matches_golden", rx_packet_without_ppi_matches_golden },
	{ "rx_packet_with_ppis_matches_golden", rx_packet_with_ppis_matches_golden },
	{ "rx_packet_writes_only_the_requested_ppis", rx_packet_writes_only_the_requested_ppis },
	{ "ndis_offload_layout_matches_golden", ndis_offload_layout_matches_golden },
	{ "ndis_rss_caps_layout_matches_golden", ndis_rss_caps_layout_matches_golden },
	{ "ndis_offload_encap_layout_matches_golden", ndis_offload_encap_layout_matches_golden },
	{ "type_names", type_names },
	{ NULL, NULL },
};

static const struct vmbs_test_case tx_cases[] = {
	{ "dpdk_chimney_section_with_two_packets", dpdk_chimney_section_with_two_packets },
	{ "dpdk_gpa_packet_with_vlan_and_lso", dpdk_gpa_packet_with_vlan_and_lso },
	{ "check_head_of_a_gpa_packet", check_head_of_a_gpa_packet },
	{ "linux_single_packet_with_odd_length", linux_single_packet_with_odd_length },
	{ "packet_without_ppis_ignores_the_ppi_offset",
	  packet_without_ppis_ignores_the_ppi_offset },
	{ "parse_all_respects_max", parse_all_respects_max },
	{ "ppi_skips_and_counts_other_types", ppi_skips_and_counts_other_types },
	{ "ppi_honours_data_offset_and_larger_data", ppi_honours_data_offset_and_larger_data },
	{ NULL, NULL },
};

static const struct vmbs_test_case reject_cases[] = {
	{ "ppi_rejects_malformed_headers", ppi_rejects_malformed_headers },
	{ "ppi_rejects_trailing_bytes_shorter_than_a_header",
	  ppi_rejects_trailing_bytes_shorter_than_a_header },
	{ "ppi_rejects_duplicates_of_acted_on_types", ppi_rejects_duplicates_of_acted_on_types },
	{ "ppi_rejects_null_arguments", ppi_rejects_null_arguments },
	{ "walker_rejects_truncation_at_every_length", walker_rejects_truncation_at_every_length },
	{ "walker_rejects_bad_lengths", walker_rejects_bad_lengths },
	{ "walker_rejects_non_packet_messages", walker_rejects_non_packet_messages },
	{ "walker_rejects_bad_data_area", walker_rejects_bad_data_area },
	{ "walker_rejects_oob_data_and_vc_handle", walker_rejects_oob_data_and_vc_handle },
	{ "walker_rejects_bad_ppi_area", walker_rejects_bad_ppi_area },
	{ "walker_rejects_bad_concatenation", walker_rejects_bad_concatenation },
	{ "walker_rejects_empty_and_bad_arguments", walker_rejects_empty_and_bad_arguments },
	{ "ctl_rejects_truncation_at_every_length", ctl_rejects_truncation_at_every_length },
	{ "ctl_rejects_len_field_below_fixed_size", ctl_rejects_len_field_below_fixed_size },
	{ "ctl_rejects_bad_info_buffers", ctl_rejects_bad_info_buffers },
	{ "ctl_rejects_unknown_and_unserved_types", ctl_rejects_unknown_and_unserved_types },
	{ "msg_check_flags_and_arguments", msg_check_flags_and_arguments },
	{ "encoders_reject_small_buffers_without_writing",
	  encoders_reject_small_buffers_without_writing },
	{ "encoders_reject_bad_arguments", encoders_reject_bad_arguments },
	{ "mutated_packets_never_overread", mutated_packets_never_overread },
	{ "mutated_control_messages_never_overread", mutated_control_messages_never_overread },
	{ NULL, NULL },
};

static const struct vmbs_test_case ndis_cases[] = {
	{ "rss_params_reject_bad_objects", rss_params_reject_bad_objects },
	{ "rss_params_accept_other_layouts_and_flags", rss_params_accept_other_layouts_and_flags },
	{ "offload_params_revisions", offload_params_revisions },
	{ NULL, NULL },
};

static const struct vmbs_test_suite golden_suite = {
	"rndis_golden", NULL, NULL, golden_cases };
static const struct vmbs_test_suite tx_suite = {
	"rndis_guest_tx", NULL, NULL, tx_cases };
static const struct vmbs_test_suite reject_suite = {
	"rndis_reject", NULL, NULL, reject_cases };
static const struct vmbs_test_suite ndis_suite = {
	"rndis_ndis_objects", NULL, NULL, ndis_cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&golden_suite, &tx_suite, &reject_suite, &ndis_suite, NULL,
	};

	return vmbs_test_run(suites);
}
