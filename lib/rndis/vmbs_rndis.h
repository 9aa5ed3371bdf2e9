/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * RNDIS codec, wire reference b.5: the messages inside NVSP SEND_RNDIS_PKT
 * payloads (send-buffer sections, GPA ranges, receive-buffer slots), and
 * the NDIS objects that QUERY and SET carry. The server is the RNDIS
 * device: it walks and checks the PACKET messages guests transmit, decodes
 * their control requests, and encodes completions, status indications and
 * received frames.
 *
 * What is checked where:
 * - vmbs_rndis_msg_check(): one message header (type, length against the
 *   type's minimum and the bytes available, optional 4-byte multiple).
 * - vmbs_rndis_pkt_iter_next() / vmbs_rndis_pkt_parse_all(): PACKET
 *   messages concatenated in one buffer (a send-buffer section holds up
 *   to max_pkt_per_msg of them). Per message: type PACKET, len >= 44 and
 *   inside the buffer; every message but the last a multiple of 4 long
 *   (the next one starts aligned; DPDK pads to 1 << pkt_alignment_factor,
 *   Linux sends one message whose length may be odd); no OOB data
 *   (oob_data_len and num_oob_data_elements 0) and vc_handle 0, as
 *   OpenVMM; data_len > 0, data_offset >= 36 and the data inside the
 *   message; if per_pkt_info_len > 0, per_pkt_info_offset >= 36, a
 *   multiple of 4 and the PPI area inside the message. All sums are done
 *   in 64 bits, so offsets like 0xFFFFFFF0 cannot wrap. Data and PPI
 *   areas may overlap each other (harmless: both are only read).
 * - vmbs_rndis_ppi_parse(): the PPI area. Per PPI: at least a 12-byte
 *   header left, size >= 12, size % 4 == 0, size <= bytes left,
 *   12 <= ppi_offset <= size; the types acted on need >= 4 data bytes.
 *   **A second PPI of an acted-on type is rejected** (-EBADMSG): two
 *   conflicting offload requests have no safe reading. Other types
 *   (IPsec, SG list, padding, internal ones, unknown numbers) are
 *   skipped and counted.
 * - vmbs_rndis_ctl_decode(): control messages; QUERY/SET info buffers
 *   (offset relative to byte 8 of the message, as the Clarifications of
 *   the wire reference say), QUERY_CMPLT and INDICATE_STATUS buffers.
 * - vmbs_ndis_rss_params_parse(), vmbs_ndis_offload_params_parse(): the
 *   two NDIS objects guests SET.
 * Semantic checks that need state or the frame (TCP header offset against
 * the frame length, indirection entries against the queue count, OIDs
 * supported) are the caller's.
 *
 * All functions read the input exactly once per field (copies of fixed
 * parts are taken before any check), never past the length given, and
 * report malformed input with -EBADMSG; nothing is logged.
 *
 * Threading: pure functions over caller memory and iterators the caller
 * owns; no global state, no EAL, no allocation: thread-safe.
 *
 * Walking a send-buffer section copied to private memory:
 * @code
 *	struct vmbs_rndis_pkt_iter it;
 *	struct vmbs_rndis_pkt_info pkt;
 *	struct vmbs_rndis_ppi_info ppi;
 *	int rc;
 *
 *	vmbs_rndis_pkt_iter_init(&it, section, chim_sz);
 *	while ((rc = vmbs_rndis_pkt_iter_next(&it, &pkt)) > 0) {
 *		if (vmbs_rndis_ppi_parse(section + pkt.ppi_off, pkt.ppi_len, &ppi) < 0)
 *			break;		// count and complete with a failure
 *		deliver(section + pkt.data_off, pkt.data_len, &ppi);
 *	}
 *	// rc < 0: malformed (the iterator stays failed); rc == 0: done
 * @endcode
 */

#ifndef VMBS_RNDIS_H
#define VMBS_RNDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbs_wire.h"

/* ------------------------------------------------------------------------
 * RNDIS message types, status values and constants.
 */

#define VMBS_RNDIS_MSG_PACKET 0x00000001u
#define VMBS_RNDIS_MSG_INITIALIZE 0x00000002u
#define VMBS_RNDIS_MSG_HALT 0x00000003u
#define VMBS_RNDIS_MSG_QUERY 0x00000004u
#define VMBS_RNDIS_MSG_SET 0x00000005u
#define VMBS_RNDIS_MSG_RESET 0x00000006u
#define VMBS_RNDIS_MSG_INDICATE_STATUS 0x00000007u
#define VMBS_RNDIS_MSG_KEEPALIVE 0x00000008u
#define VMBS_RNDIS_MSG_SET_EX 0x00000009u	/**< not served */
/** Completions are the request type with this bit set. */
#define VMBS_RNDIS_MSG_COMPLETION 0x80000000u
#define VMBS_RNDIS_MSG_INITIALIZE_CMPLT 0x80000002u
#define VMBS_RNDIS_MSG_QUERY_CMPLT 0x80000004u
#define VMBS_RNDIS_MSG_SET_CMPLT 0x80000005u
#define VMBS_RNDIS_MSG_RESET_CMPLT 0x80000006u
#define VMBS_RNDIS_MSG_KEEPALIVE_CMPLT 0x80000008u
#define VMBS_RNDIS_MSG_SET_EX_CMPLT 0x80000009u	/**< not served */

#define VMBS_RNDIS_STATUS_SUCCESS 0x00000000u
#define VMBS_RNDIS_STATUS_MEDIA_CONNECT 0x4001000bu
#define VMBS_RNDIS_STATUS_MEDIA_DISCONNECT 0x4001000cu
#define VMBS_RNDIS_STATUS_LINK_SPEED_CHANGE 0x40010013u
#define VMBS_RNDIS_STATUS_FAILURE 0xc0000001u
#define VMBS_RNDIS_STATUS_NOT_SUPPORTED 0xc00000bbu
#define VMBS_RNDIS_STATUS_INVALID_DATA 0xc0010015u

/** INITIALIZE_CMPLT constants. */
#define VMBS_RNDIS_VERSION_MAJOR 1u
#define VMBS_RNDIS_VERSION_MINOR 0u
#define VMBS_RNDIS_DF_CONNECTIONLESS 0x1u	/**< dev_flags */
#define VMBS_RNDIS_MEDIUM_802_3 0u		/**< medium */
/** max_xfer_size Linux and DPDK put in INITIALIZE. */
#define VMBS_RNDIS_MAX_XFER_SIZE_NETVSC 0x4000u

/** OIDs (b.5 and the netvsc guest notes). */
#define VMBS_OID_GEN_SUPPORTED_LIST 0x00010101u
#define VMBS_OID_GEN_MAXIMUM_FRAME_SIZE 0x00010106u
#define VMBS_OID_GEN_LINK_SPEED 0x00010107u	/**< u32, units of 100 bit/s */
#define VMBS_OID_GEN_CURRENT_PACKET_FILTER 0x0001010eu
#define VMBS_OID_GEN_MAXIMUM_TOTAL_SIZE 0x00010111u
#define VMBS_OID_GEN_MEDIA_CONNECT_STATUS 0x00010114u	/**< u32 VMBS_NDIS_MEDIA_STATE_* */
#define VMBS_OID_GEN_RECEIVE_SCALE_CAPABILITIES 0x00010203u
#define VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS 0x00010204u
#define VMBS_OID_GEN_LINK_STATE 0x00010207u
#define VMBS_OID_GEN_RNDIS_CONFIG_PARAMETER 0x0001021bu
#define VMBS_OID_GEN_FRIENDLY_NAME 0x00020216u
#define VMBS_OID_802_3_PERMANENT_ADDRESS 0x01010101u
#define VMBS_OID_802_3_CURRENT_ADDRESS 0x01010102u
#define VMBS_OID_802_3_MULTICAST_LIST 0x01010103u
#define VMBS_OID_OFFLOAD_ENCAPSULATION 0x0101010au
#define VMBS_OID_TCP_OFFLOAD_CURRENT_CONFIG 0xfc01020bu
#define VMBS_OID_TCP_OFFLOAD_PARAMETERS 0xfc01020cu
#define VMBS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES 0xfc01020du

/** OID_GEN_CURRENT_PACKET_FILTER bits; 0 means "deliver nothing". */
#define VMBS_NDIS_FILTER_DIRECTED 0x01u
#define VMBS_NDIS_FILTER_MULTICAST 0x02u
#define VMBS_NDIS_FILTER_ALL_MULTICAST 0x04u
#define VMBS_NDIS_FILTER_BROADCAST 0x08u
#define VMBS_NDIS_FILTER_PROMISCUOUS 0x20u

/** OID_GEN_MEDIA_CONNECT_STATUS values. */
#define VMBS_NDIS_MEDIA_STATE_CONNECTED 0u
#define VMBS_NDIS_MEDIA_STATE_DISCONNECTED 1u

/* ------------------------------------------------------------------------
 * RNDIS wire structs. Offsets are from the start of the message; every
 * message starts with the 8-byte header.
 */

struct vmbs_rndis_hdr {
	uint32_t type;		/**< VMBS_RNDIS_MSG_* */
	uint32_t len;		/**< whole message, header included */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_hdr, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_hdr, len, 4);

/**
 * PACKET: header plus a 36-byte body. Every offset field is relative to
 * the body (byte 8 of the message).
 */
struct vmbs_rndis_packet {
	struct vmbs_rndis_hdr hdr;
	uint32_t data_offset;		/**< frame, >= 36 */
	uint32_t data_len;
	uint32_t oob_data_offset;	/**< OOB data: must be absent */
	uint32_t oob_data_len;
	uint32_t num_oob_data_elements;
	uint32_t per_pkt_info_offset;	/**< PPI area, >= 36 if present */
	uint32_t per_pkt_info_len;
	uint32_t vc_handle;		/**< must be 0 */
	uint32_t reserved;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_packet, 44);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, data_offset, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, data_len, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, oob_data_offset, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, oob_data_len, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, num_oob_data_elements, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, per_pkt_info_offset, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, per_pkt_info_len, 32);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, vc_handle, 36);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_packet, reserved, 40);

/** Offsets in a PACKET are from this byte of the message. */
#define VMBS_RNDIS_BODY_OFFSET 8u
/** Smallest data/PPI offset: just past the 36-byte body. */
#define VMBS_RNDIS_PACKET_OFFSET_MIN \
	((uint32_t)sizeof(struct vmbs_rndis_packet) - VMBS_RNDIS_BODY_OFFSET)

/** Per-packet info header; the data follows at ppi_offset (12). */
struct vmbs_rndis_ppi_hdr {
	uint32_t size;		/**< header + data (+ padding), % 4 == 0 */
	uint32_t type;		/**< VMBS_RNDIS_PPI_*; bit 31 = internal */
	uint32_t ppi_offset;	/**< data, from the PPI start */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_ppi_hdr, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_ppi_hdr, type, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_ppi_hdr, ppi_offset, 8);

/** PPI types. */
#define VMBS_RNDIS_PPI_CSUM 0u		/**< TCP/IP checksum info */
#define VMBS_RNDIS_PPI_IPSEC 1u
#define VMBS_RNDIS_PPI_LSO 2u		/**< TCP large send */
#define VMBS_RNDIS_PPI_CLASSIFICATION 3u
#define VMBS_RNDIS_PPI_SGLIST 5u
#define VMBS_RNDIS_PPI_IEEE_8021Q 6u
#define VMBS_RNDIS_PPI_ORIGINAL 7u
#define VMBS_RNDIS_PPI_HASH_VALUE 8u	/**< a.k.a. packet cancel id */
#define VMBS_RNDIS_PPI_HASH_INFO 9u	/**< a.k.a. original NBL */
#define VMBS_RNDIS_PPI_CACHED_NBLIST 10u
#define VMBS_RNDIS_PPI_PKT_PAD 11u
#define VMBS_RNDIS_PPI_INTERNAL 0x80000000u	/**< type flag */
#define VMBS_RNDIS_PPI_PKTINFO_ID (VMBS_RNDIS_PPI_INTERNAL | 1u) /**< RSC */

/** The data offset our encoders write, and DPDK assumes. */
#define VMBS_RNDIS_PPI_DATA_OFFSET ((uint32_t)sizeof(struct vmbs_rndis_ppi_hdr))
/** Size of a PPI carrying one u32. */
#define VMBS_RNDIS_PPI_U32_SIZE (VMBS_RNDIS_PPI_DATA_OFFSET + 4u)

/** Checksum PPI, guest TX request. */
#define VMBS_RNDIS_TXCSUM_IPV4 (1u << 0)
#define VMBS_RNDIS_TXCSUM_IPV6 (1u << 1)
#define VMBS_RNDIS_TXCSUM_TCP (1u << 2)
#define VMBS_RNDIS_TXCSUM_UDP (1u << 3)
#define VMBS_RNDIS_TXCSUM_IP_HDR (1u << 4)
#define VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT 16
#define VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_MASK 0x3ffu	/**< bits 16-25 */

/** Checksum PPI, host RX result. */
#define VMBS_RNDIS_RXCSUM_TCP_FAILED (1u << 0)
#define VMBS_RNDIS_RXCSUM_UDP_FAILED (1u << 1)
#define VMBS_RNDIS_RXCSUM_IP_FAILED (1u << 2)
#define VMBS_RNDIS_RXCSUM_TCP_OK (1u << 3)
#define VMBS_RNDIS_RXCSUM_UDP_OK (1u << 4)
#define VMBS_RNDIS_RXCSUM_IP_OK (1u << 5)
#define VMBS_RNDIS_RXCSUM_LOOPBACK (1u << 6)
#define VMBS_RNDIS_RXCSUM_TCP_VALUE_INVALID (1u << 7)
#define VMBS_RNDIS_RXCSUM_IP_VALUE_INVALID (1u << 8)

/** LSO PPI (v1 and v2 share MSS and TCP header offset). */
#define VMBS_RNDIS_LSO_MSS_MASK 0xfffffu		/**< bits 0-19 */
#define VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT 20
#define VMBS_RNDIS_LSO_TCP_HDR_OFF_MASK 0x3ffu	/**< bits 20-29 */
#define VMBS_RNDIS_LSO_V2 (1u << 30)		/**< type: 0 LSOv1, 1 LSOv2 */
#define VMBS_RNDIS_LSO_IPV6 (1u << 31)		/**< LSOv2 only */

/** 802.1Q PPI: NDIS layout, not the TCI's. */
#define VMBS_RNDIS_VLAN_PRIO_MASK 0x7u		/**< bits 0-2 */
#define VMBS_RNDIS_VLAN_CFI_SHIFT 3
#define VMBS_RNDIS_VLAN_VID_SHIFT 4
#define VMBS_RNDIS_VLAN_VID_MASK 0xfffu		/**< bits 4-15 */

/** INITIALIZE, g2h. */
struct vmbs_rndis_init_req {
	struct vmbs_rndis_hdr hdr;
	uint32_t req_id;
	uint32_t major;		/**< 1 */
	uint32_t minor;		/**< 0 */
	uint32_t max_xfer_size;	/**< Linux, DPDK: 0x4000 */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_init_req, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_req, req_id, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_req, major, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_req, minor, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_req, max_xfer_size, 20);

/** INITIALIZE_CMPLT, h2g. */
struct vmbs_rndis_init_cmplt {
	struct vmbs_rndis_hdr hdr;
	uint32_t req_id;
	uint32_t status;
	uint32_t major;
	uint32_t minor;
	uint32_t dev_flags;		/**< VMBS_RNDIS_DF_CONNECTIONLESS */
	uint32_t medium;		/**< VMBS_RNDIS_MEDIUM_802_3 */
	uint32_t max_pkt_per_msg;	/**< PACKETs per send-buffer section */
	uint32_t max_xfer_size;		/**< bytes per aggregated message */
	uint32_t pkt_align_factor;	/**< log2 of the PACKET alignment */
	uint32_t af_list_offset;
	uint32_t af_list_size;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_init_cmplt, 52);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, req_id, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, status, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, major, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, minor, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, dev_flags, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, medium, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, max_pkt_per_msg, 32);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, max_xfer_size, 36);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, pkt_align_factor, 40);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, af_list_offset, 44);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_init_cmplt, af_list_size, 48);

/** HALT, g2h (no completion). */
struct vmbs_rndis_halt_req {
	struct vmbs_rndis_hdr hdr;
	uint32_t req_id;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_halt_req, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_halt_req, req_id, 8);

/** QUERY and SET, g2h: same layout; the info buffer follows. */
struct vmbs_rndis_oid_req {
	struct vmbs_rndis_hdr hdr;
	uint32_t req_id;
	uint32_t oid;			/**< VMBS_OID_* */
	uint32_t info_buflen;
	uint32_t info_buf_offset;	/**< from byte 8; Linux, DPDK: 20 */
	uint32_t dev_vc_handle;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_oid_req, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_oid_req, req_id, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_oid_req, oid, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_oid_req, info_buflen, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_oid_req, info_buf_offset, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_oid_req, dev_vc_handle, 24);

/** QUERY_CMPLT, h2g; the info buffer follows (offset 16 from byte 8). */
struct vmbs_rndis_query_cmplt {
	struct vmbs_rndis_hdr hdr;
	uint32_t req_id;
	uint32_t status;
	uint32_t info_buflen;
	uint32_t info_buf_offset;	/**< from byte 8 */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_query_cmplt, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_query_cmplt, req_id, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_query_cmplt, status, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_query_cmplt, info_buflen, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_query_cmplt, info_buf_offset, 20);

/** SET_CMPLT and KEEPALIVE_CMPLT, h2g: same layout. */
struct vmbs_rndis_status_cmplt {
	struct vmbs_rndis_hdr hdr;
	uint32_t req_id;
	uint32_t status;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_status_cmplt, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_status_cmplt, req_id, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_status_cmplt, status, 12);

/** RESET, g2h. */
struct vmbs_rndis_reset_req {
	struct vmbs_rndis_hdr hdr;
	uint32_t reserved;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_reset_req, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_reset_req, reserved, 8);

/** RESET_CMPLT, h2g. */
struct vmbs_rndis_reset_cmplt {
	struct vmbs_rndis_hdr hdr;
	uint32_t status;
	uint32_t addressing_reset;	/**< 1: the guest must re-send filters */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_reset_cmplt, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_reset_cmplt, status, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_reset_cmplt, addressing_reset, 12);

/** KEEPALIVE, g2h. */
struct vmbs_rndis_keepalive_req {
	struct vmbs_rndis_hdr hdr;
	uint32_t req_id;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_keepalive_req, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_keepalive_req, req_id, 8);

/** INDICATE_STATUS, h2g; the status buffer follows (offset 12 from byte 8). */
struct vmbs_rndis_indicate_status {
	struct vmbs_rndis_hdr hdr;
	uint32_t status;		/**< VMBS_RNDIS_STATUS_MEDIA_* ... */
	uint32_t status_buflen;
	uint32_t status_buf_offset;	/**< from byte 8 */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_rndis_indicate_status, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_indicate_status, status, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_indicate_status, status_buflen, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_rndis_indicate_status, status_buf_offset, 16);

/* ------------------------------------------------------------------------
 * NDIS objects carried in QUERY/SET info buffers. Offsets are from the
 * object's start.
 */

/** NDIS object header types. */
#define VMBS_NDIS_OBJTYPE_DEFAULT 0x80u		/**< OFFLOAD_PARAMETERS */
#define VMBS_NDIS_OBJTYPE_RSS_CAPS 0x88u
#define VMBS_NDIS_OBJTYPE_RSS_PARAMS 0x89u
#define VMBS_NDIS_OBJTYPE_OFFLOAD 0xa7u
#define VMBS_NDIS_OBJTYPE_OFFLOAD_ENCAP 0xa8u

struct vmbs_ndis_obj_hdr {
	uint8_t type;		/**< VMBS_NDIS_OBJTYPE_* */
	uint8_t revision;
	uint16_t size;		/**< object size, this header included */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_obj_hdr, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_obj_hdr, revision, 1);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_obj_hdr, size, 2);

/** Encapsulation bits (offload "encap" fields; OFFLOAD_ENCAPSULATION types). */
#define VMBS_NDIS_ENCAP_NONE 0x00u
#define VMBS_NDIS_ENCAP_NULL 0x01u
#define VMBS_NDIS_ENCAP_8023 0x02u
#define VMBS_NDIS_ENCAP_8023PQ 0x04u
#define VMBS_NDIS_ENCAP_8023PQ_OOB 0x08u
#define VMBS_NDIS_ENCAP_RFC1483 0x10u

/** NDIS_TCP_IP_CHECKSUM_OFFLOAD. */
struct vmbs_ndis_csum_offload {
	uint32_t ip4_tx_encap;	/**< VMBS_NDIS_ENCAP_* */
	uint32_t ip4_tx_csum;	/**< VMBS_NDIS_CSUM_CAP_* (IPv4 bits) */
	uint32_t ip4_rx_encap;
	uint32_t ip4_rx_csum;
	uint32_t ip6_tx_encap;
	uint32_t ip6_tx_csum;	/**< VMBS_NDIS_CSUM_CAP_* (IPv6 bits) */
	uint32_t ip6_rx_encap;
	uint32_t ip6_rx_csum;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_csum_offload, 32);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_csum_offload, ip4_tx_csum, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_csum_offload, ip4_rx_encap, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_csum_offload, ip4_rx_csum, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_csum_offload, ip6_tx_encap, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_csum_offload, ip6_tx_csum, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_csum_offload, ip6_rx_encap, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_csum_offload, ip6_rx_csum, 28);

/** Checksum capability bits (2-bit fields, "supported" = 1). */
#define VMBS_NDIS_CSUM_CAP_IP4_OPTIONS 0x001u
#define VMBS_NDIS_CSUM_CAP_IP6_EXT_HDRS 0x001u
#define VMBS_NDIS_CSUM_CAP_TCP_OPTIONS 0x004u
#define VMBS_NDIS_CSUM_CAP_TCP 0x010u
#define VMBS_NDIS_CSUM_CAP_UDP 0x040u
#define VMBS_NDIS_CSUM_CAP_IP4 0x100u	/**< IPv4 header checksum */

/** NDIS_TCP_LARGE_SEND_OFFLOAD_V1. */
struct vmbs_ndis_lsov1_offload {
	uint32_t encap;
	uint32_t max_size;
	uint32_t min_segs;
	uint32_t opts;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_lsov1_offload, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov1_offload, max_size, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov1_offload, min_segs, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov1_offload, opts, 12);

/** NDIS_IPSEC_OFFLOAD_V1. */
struct vmbs_ndis_ipsecv1_offload {
	uint32_t encap;
	uint32_t ah_esp;
	uint32_t xport_tun;
	uint32_t ip4_opts;
	uint32_t flags;
	uint32_t ip4_ah;
	uint32_t ip4_esp;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_ipsecv1_offload, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_ipsecv1_offload, flags, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_ipsecv1_offload, ip4_esp, 24);

/** NDIS_TCP_LARGE_SEND_OFFLOAD_V2. */
struct vmbs_ndis_lsov2_offload {
	uint32_t ip4_encap;
	uint32_t ip4_max_size;
	uint32_t ip4_min_segs;
	uint32_t ip6_encap;
	uint32_t ip6_max_size;
	uint32_t ip6_min_segs;
	uint32_t ip6_opts;	/**< VMBS_NDIS_LSOV2_CAP_* */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_lsov2_offload, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov2_offload, ip4_max_size, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov2_offload, ip4_min_segs, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov2_offload, ip6_encap, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov2_offload, ip6_max_size, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov2_offload, ip6_min_segs, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_lsov2_offload, ip6_opts, 24);

#define VMBS_NDIS_LSOV2_CAP_IP6_EXT_HDRS 0x001u
#define VMBS_NDIS_LSOV2_CAP_TCP6_OPTIONS 0x004u

/** NDIS_IPSEC_OFFLOAD_V2 (BOOLEANs are bytes). */
struct vmbs_ndis_ipsecv2_offload {
	uint32_t encap;
	uint8_t ip6;
	uint8_t ip4_opts;
	uint8_t ip6_ext_hdrs;
	uint8_t ah;
	uint8_t esp;
	uint8_t ah_esp;
	uint8_t xport;
	uint8_t tun;
	uint8_t xport_tun;
	uint8_t lso;
	uint8_t ext_seq;
	uint8_t pad;		/**< natural alignment of udp_esp */
	uint32_t udp_esp;
	uint32_t auth;
	uint32_t crypto;
	uint32_t sa_caps;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_ipsecv2_offload, 32);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_ipsecv2_offload, ip6, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_ipsecv2_offload, ext_seq, 14);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_ipsecv2_offload, udp_esp, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_ipsecv2_offload, sa_caps, 28);

/** NDIS_TCP_RECV_SEG_COALESCE_OFFLOAD (BOOLEANs). */
struct vmbs_ndis_rsc_offload {
	uint8_t ip4;
	uint8_t ip6;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_rsc_offload, 2);

/** NDIS_ENCAPSULATED_PACKET_TASK_OFFLOAD. */
struct vmbs_ndis_encap_offload {
	uint32_t flags;		/**< 4-bit fields: TX csum, RX csum, LSOv2, RSS, VMQ */
	uint32_t max_hdr_size;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_encap_offload, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_encap_offload, max_hdr_size, 4);

/**
 * NDIS_OFFLOAD, the answer to OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES (and
 * _CURRENT_CONFIG). Revision 3 (NDIS 6.30) is 156 bytes; revision 1 stops
 * before ipsecv2 (112), revision 2 before rsc (144). Header
 * {VMBS_NDIS_OBJTYPE_OFFLOAD, 3, 156}; all zeros beyond it = no offloads.
 */
struct vmbs_ndis_offload {
	struct vmbs_ndis_obj_hdr hdr;
	struct vmbs_ndis_csum_offload csum;
	struct vmbs_ndis_lsov1_offload lsov1;
	struct vmbs_ndis_ipsecv1_offload ipsecv1;
	struct vmbs_ndis_lsov2_offload lsov2;
	uint32_t flags;
	struct vmbs_ndis_ipsecv2_offload ipsecv2;	/**< NDIS >= 6.1 */
	struct vmbs_ndis_rsc_offload rsc;		/**< NDIS >= 6.30 */
	uint8_t pad[2];
	struct vmbs_ndis_encap_offload encap_gre;	/**< NDIS >= 6.30 */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_offload, 156);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, csum, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, lsov1, 36);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, ipsecv1, 52);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, lsov2, 80);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, flags, 108);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, ipsecv2, 112);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, rsc, 144);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, pad, 146);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload, encap_gre, 148);

#define VMBS_NDIS_OFFLOAD_REV_1 1u	/**< NDIS 6.0 */
#define VMBS_NDIS_OFFLOAD_REV_2 2u	/**< NDIS 6.1 */
#define VMBS_NDIS_OFFLOAD_REV_3 3u	/**< NDIS 6.30 */
#define VMBS_NDIS_OFFLOAD_SIZE_REV_1 112u
#define VMBS_NDIS_OFFLOAD_SIZE_REV_2 144u
#define VMBS_NDIS_OFFLOAD_SIZE_REV_3 156u
static_assert(offsetof(struct vmbs_ndis_offload, ipsecv2) == VMBS_NDIS_OFFLOAD_SIZE_REV_1,
	      "revision 1 ends before ipsecv2");
static_assert(offsetof(struct vmbs_ndis_offload, rsc) == VMBS_NDIS_OFFLOAD_SIZE_REV_2,
	      "revision 2 ends before rsc");

/**
 * NDIS_OFFLOAD_PARAMETERS, what guests SET with OID_TCP_OFFLOAD_PARAMETERS.
 * Header {VMBS_NDIS_OBJTYPE_DEFAULT, 1..3, size}: revision 1 is 20 bytes
 * (through flags), 2 is 22 (through ipsecv2_ip4), 3 is 28 (padded).
 * Every u8 field: 0 = no change (VMBS_NDIS_OFFLOAD_PARAM_*).
 */
struct vmbs_ndis_offload_params {
	struct vmbs_ndis_obj_hdr hdr;
	uint8_t ip4_csum;	/**< VMBS_NDIS_OFFLOAD_PARAM_{OFF,TX,RX,TXRX} */
	uint8_t tcp4_csum;
	uint8_t udp4_csum;
	uint8_t tcp6_csum;
	uint8_t udp6_csum;
	uint8_t lsov1;		/**< VMBS_NDIS_OFFLOAD_LSO_{OFF,ON} */
	uint8_t ipsecv1;
	uint8_t lsov2_ip4;	/**< VMBS_NDIS_OFFLOAD_LSO_{OFF,ON} */
	uint8_t lsov2_ip6;
	uint8_t tcp4_conn;
	uint8_t tcp6_conn;
	uint8_t pad;		/**< natural alignment of flags */
	uint32_t flags;
	uint8_t ipsecv2;	/**< NDIS >= 6.1 */
	uint8_t ipsecv2_ip4;
	uint8_t rsc_ip4;	/**< NDIS >= 6.30: VMBS_NDIS_OFFLOAD_RSC_{OFF,ON} */
	uint8_t rsc_ip6;
	uint8_t encap;
	uint8_t encap_types;
	uint8_t pad2[2];
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_offload_params, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, ip4_csum, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, tcp4_csum, 5);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, udp4_csum, 6);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, tcp6_csum, 7);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, udp6_csum, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, lsov1, 9);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, ipsecv1, 10);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, lsov2_ip4, 11);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, lsov2_ip6, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, tcp4_conn, 13);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, tcp6_conn, 14);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, flags, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, ipsecv2, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, ipsecv2_ip4, 21);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, rsc_ip4, 22);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, rsc_ip6, 23);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, encap, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_params, encap_types, 25);

#define VMBS_NDIS_OFFLOAD_PARAMS_SIZE_REV_1 20u
#define VMBS_NDIS_OFFLOAD_PARAMS_SIZE_REV_2 22u
#define VMBS_NDIS_OFFLOAD_PARAMS_SIZE_REV_3 28u

#define VMBS_NDIS_OFFLOAD_PARAM_NO_CHANGE 0u
#define VMBS_NDIS_OFFLOAD_PARAM_OFF 1u	/**< checksum fields */
#define VMBS_NDIS_OFFLOAD_PARAM_TX 2u
#define VMBS_NDIS_OFFLOAD_PARAM_RX 3u
#define VMBS_NDIS_OFFLOAD_PARAM_TXRX 4u
#define VMBS_NDIS_OFFLOAD_LSO_OFF 1u	/**< lsov1, lsov2_* */
#define VMBS_NDIS_OFFLOAD_LSO_ON 2u
#define VMBS_NDIS_OFFLOAD_RSC_OFF 1u
#define VMBS_NDIS_OFFLOAD_RSC_ON 2u

/**
 * NDIS_RECEIVE_SCALE_CAPABILITIES, the answer to
 * OID_GEN_RECEIVE_SCALE_CAPABILITIES. Revision 2 is 18 bytes (packed);
 * revision 1 stops before num_indirection_entries (16). DPDK needs
 * num_receive_queues > 0 and num_indirection_entries a power of 2
 * <= 128; report 128 even for one queue (DPDK cannot handle 0).
 */
struct vmbs_ndis_rss_caps {
	struct vmbs_ndis_obj_hdr hdr;	/**< {VMBS_NDIS_OBJTYPE_RSS_CAPS, 2, 18} */
	uint32_t caps;			/**< VMBS_NDIS_RSS_CAP_* */
	uint32_t num_interrupt_msgs;
	uint32_t num_receive_queues;
	uint16_t num_indirection_entries;
} __attribute__((packed));
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_rss_caps, 18);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_caps, caps, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_caps, num_interrupt_msgs, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_caps, num_receive_queues, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_caps, num_indirection_entries, 16);

#define VMBS_NDIS_RSS_CAPS_REV_2 2u
#define VMBS_NDIS_RSS_CAPS_SIZE_REV_1 16u
#define VMBS_NDIS_RSS_CAPS_SIZE_REV_2 18u

#define VMBS_NDIS_RSS_CAP_MSI 0x01000000u
#define VMBS_NDIS_RSS_CAP_CLASSIFY_ISR 0x02000000u
#define VMBS_NDIS_RSS_CAP_CLASSIFY_DPC 0x04000000u
#define VMBS_NDIS_RSS_CAP_MSIX 0x08000000u
#define VMBS_NDIS_RSS_CAP_IPV4 0x00000100u
#define VMBS_NDIS_RSS_CAP_IPV6 0x00000200u
#define VMBS_NDIS_RSS_CAP_IPV6_EX 0x00000400u
#define VMBS_NDIS_RSS_CAP_HASH_TOEPLITZ 0x00000001u

/**
 * NDIS_RECEIVE_SCALE_PARAMETERS, what guests SET with
 * OID_GEN_RECEIVE_SCALE_PARAMETERS; the key and the table follow at the
 * offsets given, relative to this struct's start (DPDK and Linux: table
 * at 40, key at 552; 592 bytes in all). Revision 1 stops before
 * cpu_mask_offset (28 bytes).
 */
struct vmbs_ndis_rss_params {
	struct vmbs_ndis_obj_hdr hdr;	/**< {VMBS_NDIS_OBJTYPE_RSS_PARAMS, 2, 40} */
	uint16_t flags;			/**< VMBS_NDIS_RSS_FLAG_* */
	uint16_t base_cpu;
	uint32_t hash_info;		/**< function | VMBS_NDIS_HASH_* types */
	uint16_t table_size;		/**< bytes: 4 per entry */
	uint16_t pad1;
	uint32_t table_offset;
	uint16_t key_size;		/**< bytes: 40 for Toeplitz */
	uint16_t pad2;
	uint32_t key_offset;
	uint32_t cpu_mask_offset;	/**< NDIS >= 6.20 */
	uint32_t cpu_mask_count;
	uint32_t cpu_mask_entry_size;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_rss_params, 40);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, flags, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, base_cpu, 6);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, hash_info, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, table_size, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, table_offset, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, key_size, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, key_offset, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, cpu_mask_offset, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, cpu_mask_count, 32);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_rss_params, cpu_mask_entry_size, 36);

#define VMBS_NDIS_RSS_PARAMS_REV_2 2u
#define VMBS_NDIS_RSS_PARAMS_SIZE_REV_1 28u
#define VMBS_NDIS_RSS_PARAMS_SIZE_REV_2 40u

#define VMBS_NDIS_RSS_FLAG_BASE_CPU_UNCHANGED 0x0001u
#define VMBS_NDIS_RSS_FLAG_HASH_INFO_UNCHANGED 0x0002u
#define VMBS_NDIS_RSS_FLAG_TABLE_UNCHANGED 0x0004u
#define VMBS_NDIS_RSS_FLAG_KEY_UNCHANGED 0x0008u
#define VMBS_NDIS_RSS_FLAG_DISABLE 0x0010u

/** hash_info: function in bits 0-7, hash types above. */
#define VMBS_NDIS_HASH_FUNCTION_MASK 0x000000ffu
#define VMBS_NDIS_HASH_FUNCTION_TOEPLITZ 0x00000001u
#define VMBS_NDIS_HASH_TYPE_MASK 0x00ffff00u
#define VMBS_NDIS_HASH_IPV4 0x00000100u
#define VMBS_NDIS_HASH_TCP_IPV4 0x00000200u
#define VMBS_NDIS_HASH_IPV6 0x00000400u
#define VMBS_NDIS_HASH_IPV6_EX 0x00000800u
#define VMBS_NDIS_HASH_TCP_IPV6 0x00001000u
#define VMBS_NDIS_HASH_TCP_IPV6_EX 0x00002000u
#define VMBS_NDIS_HASH_UDP_IPV4 0x00004000u

/** Toeplitz key and indirection-table sizes this server accepts. */
#define VMBS_NDIS_RSS_KEY_SIZE 40u
#define VMBS_NDIS_RSS_TABLE_MAX 128u	/**< entries (u32 each) */

/** One address family's half of NDIS_OFFLOAD_ENCAPSULATION. */
struct vmbs_ndis_offload_encap_af {
	uint32_t enabled;	/**< VMBS_NDIS_OFFLOAD_SET_* */
	uint32_t encap_type;	/**< VMBS_NDIS_ENCAP_* */
	uint32_t header_size;	/**< MAC header size, 14 for 802.3 */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_offload_encap_af, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_encap_af, encap_type, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_encap_af, header_size, 8);

/** NDIS_OFFLOAD_ENCAPSULATION (OID_OFFLOAD_ENCAPSULATION), revision 1. */
struct vmbs_ndis_offload_encap {
	struct vmbs_ndis_obj_hdr hdr;	/**< {VMBS_NDIS_OBJTYPE_OFFLOAD_ENCAP, 1, 28} */
	struct vmbs_ndis_offload_encap_af ipv4;
	struct vmbs_ndis_offload_encap_af ipv6;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ndis_offload_encap, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_encap, ipv4, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ndis_offload_encap, ipv6, 16);

#define VMBS_NDIS_OFFLOAD_ENCAP_REV_1 1u
#define VMBS_NDIS_OFFLOAD_SET_NO_CHANGE 0u
#define VMBS_NDIS_OFFLOAD_SET_ON 1u
#define VMBS_NDIS_OFFLOAD_SET_OFF 2u

/* ------------------------------------------------------------------------
 * Header check and the PACKET walker.
 */

/** vmbs_rndis_msg_check() flag: the length must be a multiple of 4. */
#define VMBS_RNDIS_CHECK_ALIGN4 0x1u

/**
 * Validate one RNDIS message header.
 *
 * @param buf
 *   the message start; the 8-byte header is read once.
 * @param avail
 *   bytes available at @p buf (the message must fit).
 * @param flags
 *   0 or VMBS_RNDIS_CHECK_ALIGN4.
 * @param hdr
 *   filled with the header on success and on -EOPNOTSUPP; may be NULL.
 * @return
 *   0 if valid; -EBADMSG if @p avail < 8, the type is not an RNDIS type,
 *   len is below the type's fixed size (PACKET 44, INITIALIZE 24, HALT 12,
 *   QUERY/SET 28, RESET 12, INDICATE_STATUS 20, KEEPALIVE 12,
 *   INITIALIZE_CMPLT 52, QUERY_CMPLT 24, SET/RESET/KEEPALIVE_CMPLT 16) or
 *   above @p avail, or not a multiple of 4 when asked; -EOPNOTSUPP for
 *   SET_EX and SET_EX_CMPLT with a plausible length (skip them);
 *   -EINVAL if @p buf is NULL.
 */
int vmbs_rndis_msg_check(const void *buf, size_t avail, unsigned int flags,
			 struct vmbs_rndis_hdr *hdr);

/** One PACKET message found by the walker. Offsets are from the buffer start. */
struct vmbs_rndis_pkt_info {
	uint32_t msg_off;	/**< the message */
	uint32_t msg_len;
	uint32_t data_off;	/**< the frame */
	uint32_t data_len;	/**< > 0 */
	uint32_t ppi_off;	/**< the PPI area; 0 if ppi_len is 0 */
	uint32_t ppi_len;
};

/** Walker over concatenated PACKET messages; owned by the caller. */
struct vmbs_rndis_pkt_iter {
	const uint8_t *buf;	/**< private copy of the buffer */
	uint32_t len;		/**< its length */
	uint32_t off;		/**< next message */
	int err;		/**< sticky: 0, or the error that stopped the walk */
};

/**
 * Start walking @p buf. The buffer must stay valid and unchanged (private
 * memory: the guest cannot modify it) while the iterator is used.
 *
 * @param it
 *   the iterator.
 * @param buf
 *   the messages, e.g. send_buf_section_size bytes of a send-buffer
 *   section, or the concatenated GPA ranges of one packet.
 * @param len
 *   bytes at @p buf; above UINT32_MAX, or @p buf NULL with @p len > 0,
 *   makes the first next() return -EINVAL.
 */
void vmbs_rndis_pkt_iter_init(struct vmbs_rndis_pkt_iter *it, const void *buf, size_t len);

/**
 * Check the next PACKET message (rules in the file comment) and describe it.
 *
 * @param it
 *   the iterator.
 * @param pkt
 *   filled when 1 is returned.
 * @return
 *   1 with @p pkt filled; 0 at the end of the buffer; -EBADMSG if the
 *   next message is malformed, or is not a PACKET; -EINVAL for NULL
 *   arguments or a bad init. Errors are sticky: later calls return the
 *   same error, so messages after a bad one are never trusted.
 */
int vmbs_rndis_pkt_iter_next(struct vmbs_rndis_pkt_iter *it, struct vmbs_rndis_pkt_info *pkt);

/**
 * Validate a whole buffer of PACKET messages before acting on any (the
 * batch rule): all or nothing.
 *
 * @param buf
 *   the messages (private memory).
 * @param len
 *   bytes at @p buf.
 * @param pkts
 *   receives one entry per message.
 * @param max
 *   entries available at @p pkts (e.g. the max_pkt_per_msg advertised).
 * @return
 *   the number of messages (>= 1); -EBADMSG if any is malformed or the
 *   buffer holds none; -ENOBUFS if it holds more than @p max; -EINVAL
 *   for NULL arguments or @p len > UINT32_MAX.
 */
int vmbs_rndis_pkt_parse_all(const void *buf, size_t len, struct vmbs_rndis_pkt_info *pkts,
			     unsigned int max);

/**
 * Check ONE PACKET message of which only a prefix was copied: a message
 * spread over GPA-direct ranges, whose frame stays in guest memory. Same
 * rules as the walker (a lone message: its length need not be a multiple
 * of 4), plus: the PPI area must lie inside the copied prefix.
 *
 * @param head
 *   private copy of the message's first @p head_len bytes.
 * @param head_len
 *   >= 44 and <= @p total.
 * @param total
 *   bytes the message may occupy (all the ranges); its len must fit.
 *   Bytes past len (padding) are ignored.
 * @param pkt
 *   filled on success; offsets from the message start.
 * @return
 *   0; -EBADMSG if malformed; -EINVAL for NULL arguments.
 */
int vmbs_rndis_pkt_check_head(const void *head, uint32_t head_len, uint64_t total,
			      struct vmbs_rndis_pkt_info *pkt);

/* ------------------------------------------------------------------------
 * Per-packet info.
 */

/** vmbs_rndis_ppi_info.present bits. */
#define VMBS_RNDIS_PPI_F_CSUM (1u << 0)
#define VMBS_RNDIS_PPI_F_LSO (1u << 1)
#define VMBS_RNDIS_PPI_F_VLAN (1u << 2)
#define VMBS_RNDIS_PPI_F_HASH_VALUE (1u << 3)
#define VMBS_RNDIS_PPI_F_HASH_INFO (1u << 4)

/**
 * Per-packet info: what a TX PACKET asks for (parse), or what an RX
 * PACKET carries (encode). Fields are valid when their present bit is set.
 */
struct vmbs_rndis_ppi_info {
	uint32_t present;		/**< VMBS_RNDIS_PPI_F_* */
	uint32_t unknown_cnt;		/**< parse: PPIs skipped (types not acted on) */
	/** Checksum word: TX request (VMBS_RNDIS_TXCSUM_*) or RX result (RXCSUM). */
	uint32_t csum;
	uint16_t csum_tcp_hdr_off;	/**< parse: TX request's TCP header offset */
	bool lso_v2;			/**< parse: LSOv2 (else LSOv1) */
	bool lso_ipv6;			/**< parse: LSOv2 over IPv6 */
	uint32_t lso;			/**< parse: raw LSO word */
	uint32_t lso_mss;		/**< parse: MSS, bits 0-19 */
	uint16_t lso_tcp_hdr_off;	/**< parse: bits 20-29 */
	uint16_t vlan_vid;		/**< 0..4095 */
	uint8_t vlan_prio;		/**< 0..7 */
	uint8_t vlan_cfi;		/**< 0..1 */
	uint32_t vlan;			/**< parse: raw 802.1Q word */
	uint32_t hash_value;		/**< DPDK TX: its queue id */
	uint32_t hash_info;		/**< VMBS_NDIS_HASH_* of hash_value */
};

/**
 * Parse a PPI area (rules in the file comment).
 *
 * @param buf
 *   the area (private memory), e.g. section + pkt.ppi_off; may be NULL
 *   when @p len is 0.
 * @param len
 *   its length, pkt.ppi_len.
 * @param out
 *   zeroed, then filled; unspecified on failure.
 * @return
 *   0 on success (an empty area gives present == 0); -EBADMSG if a PPI
 *   is malformed, an acted-on one is shorter than 4 data bytes, or one
 *   is duplicated; -EINVAL if @p out is NULL, or @p buf is NULL with
 *   @p len > 0.
 */
int vmbs_rndis_ppi_parse(const void *buf, uint32_t len, struct vmbs_rndis_ppi_info *out);

/* ------------------------------------------------------------------------
 * Control messages.
 */

/** A decoded control message: a tagged union of private copies. */
struct vmbs_rndis_ctl {
	uint32_t type;		/**< VMBS_RNDIS_MSG_*; selects the member of u */
	uint32_t len;		/**< the message's length field (<= bytes given) */
	union {
		struct vmbs_rndis_hdr hdr;			/**< any */
		struct vmbs_rndis_init_req init;		/**< INITIALIZE */
		struct vmbs_rndis_halt_req halt;		/**< HALT */
		struct vmbs_rndis_oid_req oid;			/**< QUERY, SET */
		struct vmbs_rndis_reset_req reset;		/**< RESET */
		struct vmbs_rndis_keepalive_req keepalive;	/**< KEEPALIVE */
		struct vmbs_rndis_init_cmplt init_cmplt;	/**< INITIALIZE_CMPLT */
		struct vmbs_rndis_query_cmplt query_cmplt;	/**< QUERY_CMPLT */
		/** SET_CMPLT, KEEPALIVE_CMPLT */
		struct vmbs_rndis_status_cmplt status_cmplt;
		struct vmbs_rndis_reset_cmplt reset_cmplt;	/**< RESET_CMPLT */
		struct vmbs_rndis_indicate_status indicate;	/**< INDICATE_STATUS */
	} u;
	/**
	 * QUERY, SET, QUERY_CMPLT, INDICATE_STATUS: the information (status)
	 * buffer, from the message start (its offset field + 8); 0 when
	 * info_len is 0 (the offset field is then not checked).
	 */
	uint32_t info_off;
	uint32_t info_len;	/**< its length */
};

/**
 * Decode and validate one control message, either direction (the server
 * takes requests; a test or fake guest takes completions).
 *
 * @param buf
 *   the message (private memory).
 * @param len
 *   bytes available at @p buf; the message's own length must fit.
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   0 on success; -EBADMSG if vmbs_rndis_msg_check() fails, the type is
 *   PACKET (not a control message), or an info buffer of non-zero length
 *   starts inside the fixed part (QUERY/SET offset < 20, QUERY_CMPLT
 *   < 16, INDICATE_STATUS < 12) or ends past the message length;
 *   -EOPNOTSUPP for SET_EX (answer NOT_SUPPORTED or drop); -EINVAL for
 *   NULL arguments.
 */
int vmbs_rndis_ctl_decode(const void *buf, size_t len, struct vmbs_rndis_ctl *out);

/**
 * INITIALIZE_CMPLT (52 B), h2g: version 1.0, dev_flags CONNECTIONLESS,
 * medium 802.3, no address-family list.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param req_id
 *   echoed from INITIALIZE.
 * @param status
 *   VMBS_RNDIS_STATUS_*.
 * @param max_pkt_per_msg
 *   PACKET messages per send-buffer section (OpenVMM 8).
 * @param max_xfer_size
 *   bytes per aggregated message (DPDK aggregates min(this, section)).
 * @param pkt_align_factor
 *   log2 of the alignment guests pad aggregated PACKETs to (3: 8 bytes).
 * @return
 *   52; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 52.
 */
int vmbs_rndis_encode_init_cmplt(void *buf, size_t buf_len, uint32_t req_id, uint32_t status,
				 uint32_t max_pkt_per_msg, uint32_t max_xfer_size,
				 uint32_t pkt_align_factor);

/**
 * QUERY_CMPLT (24 B + info), h2g. info_buf_offset is always 16 (the
 * buffer follows the fixed part), also with no info: DPDK and Linux
 * accept that, and DPDK was proven against it.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param req_id
 *   echoed from QUERY.
 * @param status
 *   VMBS_RNDIS_STATUS_*.
 * @param info
 *   the answer (an NDIS object, a MAC, a u32...); NULL iff @p info_len 0.
 *   DPDK rejects more bytes than it asked for.
 * @param info_len
 *   its length.
 * @return
 *   24 + @p info_len; -EINVAL for a NULL @p buf, a NULL @p info with a
 *   length, or a length that does not fit an int; -ENOBUFS if too small.
 */
int vmbs_rndis_encode_query_cmplt(void *buf, size_t buf_len, uint32_t req_id, uint32_t status,
				  const void *info, uint32_t info_len);

/**
 * SET_CMPLT (16 B), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param req_id
 *   echoed from SET.
 * @param status
 *   VMBS_RNDIS_STATUS_*.
 * @return
 *   16; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 16.
 */
int vmbs_rndis_encode_set_cmplt(void *buf, size_t buf_len, uint32_t req_id, uint32_t status);

/**
 * RESET_CMPLT (16 B), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param status
 *   VMBS_RNDIS_STATUS_*.
 * @param addressing_reset
 *   1 if the guest must re-send its filters and addresses.
 * @return
 *   16; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 16.
 */
int vmbs_rndis_encode_reset_cmplt(void *buf, size_t buf_len, uint32_t status,
				  uint32_t addressing_reset);

/**
 * KEEPALIVE_CMPLT (16 B), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param req_id
 *   echoed from KEEPALIVE.
 * @param status
 *   VMBS_RNDIS_STATUS_*.
 * @return
 *   16; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 16.
 */
int vmbs_rndis_encode_keepalive_cmplt(void *buf, size_t buf_len, uint32_t req_id,
				      uint32_t status);

/**
 * INDICATE_STATUS (20 B + status buffer), h2g, unsolicited: link up with
 * VMBS_RNDIS_STATUS_MEDIA_CONNECT, down with MEDIA_DISCONNECT (no
 * buffer). status_buf_offset is always 12 (the buffer follows).
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param status
 *   VMBS_RNDIS_STATUS_*.
 * @param sbuf
 *   status buffer; NULL iff @p sbuf_len is 0.
 * @param sbuf_len
 *   its length.
 * @return
 *   20 + @p sbuf_len; -EINVAL as vmbs_rndis_encode_query_cmplt();
 *   -ENOBUFS if too small.
 */
int vmbs_rndis_encode_indicate_status(void *buf, size_t buf_len, uint32_t status,
				      const void *sbuf, uint32_t sbuf_len);

/**
 * Header bytes vmbs_rndis_encode_rx_packet() writes for @p ppi: 44 plus
 * 16 per PPI (checksum, VLAN, hash value, hash info).
 *
 * @param ppi
 *   what to include; NULL for none.
 * @return
 *   the header length; the frame starts there.
 */
uint32_t vmbs_rndis_rx_hdr_len(const struct vmbs_rndis_ppi_info *ppi);

/**
 * Write the header of a received-frame PACKET (h2g) into a receive-buffer
 * slot: the 44-byte PACKET, then, for each present bit in this order, a
 * 16-byte PPI with ppi_offset 12: checksum result (ppi->csum), 802.1Q
 * (prio/cfi/vid), hash value, hash info. per_pkt_info_offset is 36 (0 with
 * no PPI), data_offset 36 + PPI bytes, len header + @p data_len. The
 * caller copies the frame to buf + the return value.
 *
 * @param buf
 *   the slot.
 * @param buf_len
 *   its size: must hold the header and @p data_len.
 * @param data_len
 *   frame length, > 0 (DPDK drops frames shorter than 14).
 * @param ppi
 *   what to include (F_CSUM, F_VLAN, F_HASH_VALUE, F_HASH_INFO); NULL
 *   for none.
 * @return
 *   the header length (where the frame goes); -EINVAL for a NULL @p buf,
 *   @p data_len 0 or a total above INT_MAX, F_LSO or unknown present
 *   bits, or a VLAN field out of range; -ENOBUFS if the slot is too small
 *   (nothing written).
 */
int vmbs_rndis_encode_rx_packet(void *buf, size_t buf_len, uint32_t data_len,
				const struct vmbs_rndis_ppi_info *ppi);

/* ------------------------------------------------------------------------
 * NDIS objects guests SET.
 */

/** RSS parameters, decoded. */
struct vmbs_ndis_rss_config {
	uint16_t flags;		/**< VMBS_NDIS_RSS_FLAG_* as received */
	bool disable;		/**< FLAG_DISABLE: nothing else was read */
	bool has_hash_info;	/**< hash_info valid (not HASH_INFO_UNCHANGED) */
	bool has_key;		/**< key valid (not KEY_UNCHANGED) */
	uint32_t hash_info;	/**< function | types, not validated */
	uint32_t table_cnt;	/**< entries in table; 0 if TABLE_UNCHANGED */
	uint32_t table[VMBS_NDIS_RSS_TABLE_MAX]; /**< queue per entry, not range-checked */
	uint8_t key[VMBS_NDIS_RSS_KEY_SIZE];	/**< Toeplitz key */
};

/**
 * Parse the info buffer of SET OID_GEN_RECEIVE_SCALE_PARAMETERS.
 *
 * Requires: @p len >= 28; header type RSS_PARAMS with 28 <= size <= @p len.
 * Unless DISABLE: the table (unless TABLE_UNCHANGED) 4..512 bytes, a
 * multiple of 4; the key (unless KEY_UNCHANGED) exactly 40 bytes; each at
 * an offset >= header size with offset + size <= @p len (64-bit sums).
 * The caller checks the hash function and each entry against its queues.
 *
 * @param buf
 *   the info buffer (private memory).
 * @param len
 *   its length.
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   0 on success; -EBADMSG if a rule above fails; -EINVAL for NULL
 *   arguments.
 */
int vmbs_ndis_rss_params_parse(const void *buf, uint32_t len, struct vmbs_ndis_rss_config *out);

/**
 * Parse the info buffer of SET OID_TCP_OFFLOAD_PARAMETERS: header type
 * DEFAULT with 20 <= size <= @p len; the first min(size, 28) bytes are
 * copied, the rest of @p out is zero ("no change").
 *
 * @param buf
 *   the info buffer (private memory).
 * @param len
 *   its length.
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   0 on success; -EBADMSG if the header is wrong or @p len < 20;
 *   -EINVAL for NULL arguments.
 */
int vmbs_ndis_offload_params_parse(const void *buf, uint32_t len,
				   struct vmbs_ndis_offload_params *out);

/**
 * @param type
 *   any value.
 * @return
 *   a static name for logs ("PACKET", "QUERY_CMPLT", ...), "UNKNOWN" for
 *   values that are not RNDIS message types.
 */
const char *vmbs_rndis_type_name(uint32_t type);

#endif /* VMBS_RNDIS_H */
