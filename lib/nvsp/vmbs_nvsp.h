/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * NVSP (network VSP protocol) codec, wire reference b.4: the messages at
 * the start of every in-band, completion and transfer-page payload on a
 * synthetic network channel, protocol versions 2 (NVSP 1) to 6.1. The
 * server plays Hyper-V's netvsp: it decodes what guest netvsc drivers
 * (Linux, DPDK, Windows) send and encodes the host's answers.
 *
 * Every message starts with a u32 type. Guests send 40-byte messages
 * (Linux and DPDK always; VMBS_NVSP_MSG_SIZE_V61), hosts used to send 28
 * (VMBS_NVSP_MSG_SIZE_LEGACY). Our encoders always emit 40 bytes, zero
 * padded, whatever version was negotiated: DPDK rejects a subchannel
 * completion shorter than 40 bytes, and no guest rejects a longer one.
 *
 * Decoding (vmbs_nvsp_decode(), guest to host) copies the known prefix of
 * the message once into a tagged union of private structs, then checks:
 *
 * | result      | when                                                   |
 * |-------------|--------------------------------------------------------|
 * | 0           | a served g2h type, @c len >= its struct (table below)  |
 * | -EBADMSG    | @c len < 4, unknown type, a host-to-guest-only type,   |
 * |             | or @c len shorter than the type's struct               |
 * | -EOPNOTSUPP | a type that exists but this server does not serve:     |
 * |             | v2 chimney/VMQ/RX-buffer types 109..124, 126, 127,     |
 * |             | 130 (UPLINK_CONNECT_STATE), 131/132 (OID_QUERY_EX),    |
 * |             | 135/136 (PD_API, PD_POST_BATCH)                        |
 * | -EINVAL     | @c buf or @c out is NULL                               |
 *
 * Longer messages are accepted and only the known prefix is read: guests
 * pad to 40 bytes and future versions may grow messages. Validation stops
 * at structure; state rules (message order, version, ids, section counts)
 * belong to the caller, which has the state.
 *
 * | type (g2h)                  | struct                               | min |
 * |-----------------------------|--------------------------------------|-----|
 * | 1 INIT                      | vmbs_nvsp_init                       | 12  |
 * | 100 SEND_NDIS_VER           | vmbs_nvsp_ndis_ver                   | 12  |
 * | 101 SEND_RECV_BUF           | vmbs_nvsp_send_buf (shared layout)   | 12  |
 * | 103 REVOKE_RECV_BUF         | vmbs_nvsp_revoke_buf                 |  8  |
 * | 104 SEND_SEND_BUF           | vmbs_nvsp_send_buf                   | 12  |
 * | 106 REVOKE_SEND_BUF         | vmbs_nvsp_revoke_buf                 |  8  |
 * | 107 SEND_RNDIS_PKT          | vmbs_nvsp_rndis_pkt                  | 16  |
 * | 108 SEND_RNDIS_PKT_COMPLETE | vmbs_nvsp_rndis_pkt_complete         |  8  |
 * | 125 SEND_NDIS_CONFIG        | vmbs_nvsp_ndis_config                | 20  |
 * | 129 SWITCH_DATA_PATH        | vmbs_nvsp_switch_data_path           |  8  |
 * | 133 SUBCHANNEL (request)    | vmbs_nvsp_subchannel_req             | 12  |
 *
 * vmbs_nvsp_decode_h2g() is the mirror image for a test or fake guest: it
 * serves 2, 102, 105, 107, 108, 128, 129 (a completion may echo the
 * request), 133 (completion) and 134.
 *
 * Threading: pure functions over caller memory and private copies; no
 * global state, no EAL, no allocation: thread-safe.
 */

#ifndef VMBS_NVSP_H
#define VMBS_NVSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbs_wire.h"

/* ------------------------------------------------------------------------
 * Constants.
 */

/** NVSP protocol versions (major << 16 | minor), oldest first. */
#define VMBS_NVSP_VERSION_1 0x00002u	/**< "NVSP 1"; the wire value is 2 */
#define VMBS_NVSP_VERSION_2 0x30002u
#define VMBS_NVSP_VERSION_4 0x40000u
#define VMBS_NVSP_VERSION_5 0x50000u	/**< subchannels, indirection table */
#define VMBS_NVSP_VERSION_6 0x60000u
#define VMBS_NVSP_VERSION_61 0x60001u	/**< 40-byte messages */

/** Message sizes: the legacy union (v1) and the 6.1 one. */
#define VMBS_NVSP_MSG_SIZE_LEGACY 28u
#define VMBS_NVSP_MSG_SIZE_V61 40u
/** What every encoder here emits (see the file comment). */
#define VMBS_NVSP_MSG_SIZE VMBS_NVSP_MSG_SIZE_V61

/** Message types. Only those this codec serves have structs below. */
enum vmbs_nvsp_type {
	VMBS_NVSP_TYPE_NONE = 0,
	VMBS_NVSP_TYPE_INIT = 1,
	VMBS_NVSP_TYPE_INIT_COMPLETE = 2,
	VMBS_NVSP_TYPE_SEND_NDIS_VER = 100,
	VMBS_NVSP_TYPE_SEND_RECV_BUF = 101,
	VMBS_NVSP_TYPE_SEND_RECV_BUF_COMPLETE = 102,
	VMBS_NVSP_TYPE_REVOKE_RECV_BUF = 103,
	VMBS_NVSP_TYPE_SEND_SEND_BUF = 104,
	VMBS_NVSP_TYPE_SEND_SEND_BUF_COMPLETE = 105,
	VMBS_NVSP_TYPE_REVOKE_SEND_BUF = 106,
	VMBS_NVSP_TYPE_SEND_RNDIS_PKT = 107,
	VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE = 108,
	/* 109..124, 126, 127: v2 chimney, VMQ and RX-buffer types, unserved. */
	VMBS_NVSP_TYPE_SEND_NDIS_CONFIG = 125,
	VMBS_NVSP_TYPE_SEND_VF_ASSOCIATION = 128,
	VMBS_NVSP_TYPE_SWITCH_DATA_PATH = 129,
	VMBS_NVSP_TYPE_UPLINK_CONNECT_STATE = 130,	/**< deprecated, unserved */
	VMBS_NVSP_TYPE_OID_QUERY_EX = 131,		/**< unserved */
	VMBS_NVSP_TYPE_OID_QUERY_EX_COMPLETE = 132,	/**< unserved */
	VMBS_NVSP_TYPE_SUBCHANNEL = 133,	/**< request and completion alike */
	VMBS_NVSP_TYPE_SEND_INDIRECTION_TABLE = 134,
	VMBS_NVSP_TYPE_PD_API = 135,			/**< unserved */
	VMBS_NVSP_TYPE_PD_POST_BATCH = 136,		/**< unserved */
};

/** Completion status values. */
#define VMBS_NVSP_STATUS_NONE 0u
#define VMBS_NVSP_STATUS_SUCCESS 1u
#define VMBS_NVSP_STATUS_FAIL 2u
#define VMBS_NVSP_STATUS_TOO_NEW 3u
#define VMBS_NVSP_STATUS_TOO_OLD 4u
#define VMBS_NVSP_STATUS_INVALID_RNDIS_PKT 5u
#define VMBS_NVSP_STATUS_BUSY 6u
#define VMBS_NVSP_STATUS_UNSUPPORTED 7u

/**
 * Receive-buffer id rule: every transfer-page packet's pageset_id must
 * echo the id the guest gave in SEND_RECV_BUF (Linux and DPDK drop any
 * other). Both send VMBS_NVSP_RECV_BUF_ID_NETVSC; store and echo whatever
 * arrived rather than this constant.
 */
#define VMBS_NVSP_RECV_BUF_ID_NETVSC 0xcafeu
/** Send-buffer ids seen in SEND_SEND_BUF (informational: Linux, DPDK). */
#define VMBS_NVSP_SEND_BUF_ID_LINUX 0x0000u
#define VMBS_NVSP_SEND_BUF_ID_DPDK 0xfaceu

/** Linux rejects a receive-buffer sub-allocation smaller than this. */
#define VMBS_NVSP_RECV_SUBALLOC_MIN 68u
/** INIT_COMPLETE max_mdl_chain_len as Hyper-V/OpenVMM send it. */
#define VMBS_NVSP_MAX_MDL_CHAIN_LEN 34u
/** INIT_COMPLETE negotiated field when not reporting one (OpenVMM, >v1). */
#define VMBS_NVSP_INVALID_VERSION 0xffffffffu

/** SEND_RNDIS_PKT channel_type. */
#define VMBS_NVSP_CHANNEL_DATA 0u
#define VMBS_NVSP_CHANNEL_CONTROL 1u
/** SEND_RNDIS_PKT section index meaning "no send-buffer section". */
#define VMBS_NVSP_SECTION_NONE 0xffffffffu

/** SEND_NDIS_CONFIG capability bits (u64). */
#define VMBS_NVSP_CAP_VMQ (UINT64_C(1) << 0)
#define VMBS_NVSP_CAP_CHIMNEY (UINT64_C(1) << 1)
#define VMBS_NVSP_CAP_SRIOV (UINT64_C(1) << 2)
#define VMBS_NVSP_CAP_IEEE8021Q (UINT64_C(1) << 3)
#define VMBS_NVSP_CAP_CORRELATION_ID (UINT64_C(1) << 4)
#define VMBS_NVSP_CAP_TEAMING (UINT64_C(1) << 5)
#define VMBS_NVSP_CAP_VSUBNETID (UINT64_C(1) << 6)
#define VMBS_NVSP_CAP_RSC (UINT64_C(1) << 7)

/** SWITCH_DATA_PATH active_datapath. */
#define VMBS_NVSP_DATAPATH_SYNTHETIC 0u
#define VMBS_NVSP_DATAPATH_VF 1u

/** SUBCHANNEL request op. */
#define VMBS_NVSP_SUBCHANNEL_ALLOCATE 1u

/** SEND_INDIRECTION_TABLE entry count (Linux rejects any other). */
#define VMBS_NVSP_INDIRECTION_TABLE_SIZE 16u
/**
 * Where our SEND_INDIRECTION_TABLE puts the table: right after the 40-byte
 * message. Linux at NVSP <= 6.0 ignores the offset field and assumes 40
 * (a Hyper-V bug workaround, applied when the message is long enough), and
 * at 6.1 follows the field; 40 satisfies both.
 */
#define VMBS_NVSP_INDIRECTION_TABLE_OFFSET VMBS_NVSP_MSG_SIZE

/** NDIS version as SEND_NDIS_VER carries it, folded into one u32. */
#define VMBS_NVSP_NDIS_VERSION(major, minor) \
	(((uint32_t)(major) << 16) | (uint32_t)(minor))
#define VMBS_NVSP_NDIS_6_1 VMBS_NVSP_NDIS_VERSION(6, 1)
#define VMBS_NVSP_NDIS_6_30 VMBS_NVSP_NDIS_VERSION(6, 30)

/* ------------------------------------------------------------------------
 * Wire structs. Offsets are from the start of the NVSP message.
 */

/** Common header. */
struct vmbs_nvsp_hdr {
	uint32_t type;		/**< enum vmbs_nvsp_type */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_hdr, 4);

/** 1 INIT, g2h. Guests send min == max and walk down on failure. */
struct vmbs_nvsp_init {
	uint32_t type;
	uint32_t min_ver;	/**< VMBS_NVSP_VERSION_* */
	uint32_t max_ver;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_init, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_init, min_ver, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_init, max_ver, 8);

/** 2 INIT_COMPLETE, h2g. Guests read only the status. */
struct vmbs_nvsp_init_complete {
	uint32_t type;
	uint32_t negotiated_ver;	/**< deprecated: VMBS_NVSP_INVALID_VERSION */
	uint32_t max_mdl_chain_len;	/**< VMBS_NVSP_MAX_MDL_CHAIN_LEN */
	uint32_t status;		/**< VMBS_NVSP_STATUS_* */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_init_complete, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_init_complete, negotiated_ver, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_init_complete, max_mdl_chain_len, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_init_complete, status, 12);

/** 100 SEND_NDIS_VER, g2h, no completion requested. */
struct vmbs_nvsp_ndis_ver {
	uint32_t type;
	uint32_t major;		/**< 6 */
	uint32_t minor;		/**< 1 (NVSP <= 4) or 30 */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_ndis_ver, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_ndis_ver, major, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_ndis_ver, minor, 8);

/** 125 SEND_NDIS_CONFIG, g2h (NVSP >= 2). The u64 sits at offset 12. */
struct vmbs_nvsp_ndis_config {
	uint32_t type;
	uint32_t mtu;		/**< frame size without FCS; DPDK: MTU + 14 */
	uint32_t reserved;
	uint64_t caps;		/**< VMBS_NVSP_CAP_* */
} __attribute__((packed));
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_ndis_config, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_ndis_config, mtu, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_ndis_config, reserved, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_ndis_config, caps, 12);

/** 101 SEND_RECV_BUF and 104 SEND_SEND_BUF, g2h: same layout. */
struct vmbs_nvsp_send_buf {
	uint32_t type;
	uint32_t gpadl;		/**< GPADL handle of the buffer */
	uint16_t id;		/**< echo it (receive buffer: 0xCAFE) */
	uint16_t reserved;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_send_buf, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_send_buf, gpadl, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_send_buf, id, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_send_buf, reserved, 10);

/** One receive-buffer section (Linux wants exactly one, at offset 0). */
struct vmbs_nvsp_recv_buf_section {
	uint32_t offset;		/**< start within the buffer: 0 */
	uint32_t sub_alloc_size;	/**< slot size, >= 68 for Linux */
	uint32_t num_sub_allocs;	/**< slot count (DPDK sizes arrays by it) */
	uint32_t end_offset;		/**< offset + size * count */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_recv_buf_section, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_recv_buf_section, sub_alloc_size, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_recv_buf_section, num_sub_allocs, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_recv_buf_section, end_offset, 12);

/** 102 SEND_RECV_BUF_COMPLETE, h2g. DPDK needs >= 28 bytes. */
struct vmbs_nvsp_recv_buf_complete {
	uint32_t type;
	uint32_t status;
	uint32_t num_sections;	/**< 1 on success */
	struct vmbs_nvsp_recv_buf_section section;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_recv_buf_complete, 28);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_recv_buf_complete, status, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_recv_buf_complete, num_sections, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_recv_buf_complete, section, 12);

/** 103 REVOKE_RECV_BUF and 106 REVOKE_SEND_BUF, g2h. */
struct vmbs_nvsp_revoke_buf {
	uint32_t type;
	uint16_t id;		/**< the id given when the buffer was sent */
	uint16_t reserved;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_revoke_buf, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_revoke_buf, id, 4);

/** 105 SEND_SEND_BUF_COMPLETE, h2g. DPDK: section_size != 0, % 4 == 0. */
struct vmbs_nvsp_send_buf_complete {
	uint32_t type;
	uint32_t status;
	uint32_t section_size;	/**< the host chooses (6144 usual) */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_send_buf_complete, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_send_buf_complete, status, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_send_buf_complete, section_size, 8);

/**
 * 107 SEND_RNDIS_PKT, both ways: a guest's TX or control request, or the
 * NVSP part of a host transfer-page packet (index NONE, size 0).
 */
struct vmbs_nvsp_rndis_pkt {
	uint32_t type;
	uint32_t channel_type;	/**< VMBS_NVSP_CHANNEL_* */
	uint32_t section_index;	/**< send-buffer section or VMBS_NVSP_SECTION_NONE */
	uint32_t section_size;	/**< bytes used in that section */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_rndis_pkt, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_rndis_pkt, channel_type, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_rndis_pkt, section_index, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_rndis_pkt, section_size, 12);

/** 108 SEND_RNDIS_PKT_COMPLETE, both ways (TX done; RX slot released). */
struct vmbs_nvsp_rndis_pkt_complete {
	uint32_t type;
	uint32_t status;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_rndis_pkt_complete, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_rndis_pkt_complete, status, 4);

/** 128 SEND_VF_ASSOCIATION, h2g. */
struct vmbs_nvsp_vf_assoc {
	uint32_t type;
	uint32_t allocated;	/**< 1 if a VF is associated */
	uint32_t serial;	/**< the VF's serial number */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_vf_assoc, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_vf_assoc, allocated, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_vf_assoc, serial, 8);

/** 129 SWITCH_DATA_PATH, g2h. */
struct vmbs_nvsp_switch_data_path {
	uint32_t type;
	uint32_t active_datapath;	/**< VMBS_NVSP_DATAPATH_* */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_switch_data_path, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_switch_data_path, active_datapath, 4);

/** 133 SUBCHANNEL request, g2h. */
struct vmbs_nvsp_subchannel_req {
	uint32_t type;
	uint32_t op;			/**< VMBS_NVSP_SUBCHANNEL_ALLOCATE */
	uint32_t num_subchannels;	/**< wanted, excluding the primary */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_subchannel_req, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_subchannel_req, op, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_subchannel_req, num_subchannels, 8);

/** 133 SUBCHANNEL completion, h2g. DPDK needs all 40 bytes. */
struct vmbs_nvsp_subchannel_complete {
	uint32_t type;
	uint32_t status;
	uint32_t num_subchannels;	/**< allocated */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_subchannel_complete, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_subchannel_complete, status, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_subchannel_complete, num_subchannels, 8);

/** 134 SEND_INDIRECTION_TABLE, h2g: fixed part; u32 entries at offset. */
struct vmbs_nvsp_indirection_table {
	uint32_t type;
	uint32_t count;		/**< VMBS_NVSP_INDIRECTION_TABLE_SIZE */
	uint32_t offset;	/**< of the entries, from the message start */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_nvsp_indirection_table, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_indirection_table, count, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_nvsp_indirection_table, offset, 8);

/** Bytes our SEND_INDIRECTION_TABLE takes: 40 + 16 * 4 = 104. */
#define VMBS_NVSP_INDIRECTION_TABLE_MSG_SIZE \
	(VMBS_NVSP_INDIRECTION_TABLE_OFFSET + \
	 VMBS_NVSP_INDIRECTION_TABLE_SIZE * (uint32_t)sizeof(uint32_t))

/** SEND_INDIRECTION_TABLE, decoded: fixed part and the entries. */
struct vmbs_nvsp_indirection_table_info {
	struct vmbs_nvsp_indirection_table fixed;	/**< type, count, offset */
	uint32_t table[VMBS_NVSP_INDIRECTION_TABLE_SIZE]; /**< channel index per slot */
};

/* ------------------------------------------------------------------------
 * Decoded messages and the API.
 */

/** A decoded NVSP message: a tagged union of private copies. */
struct vmbs_nvsp_msg {
	enum vmbs_nvsp_type type;	/**< selects the member of u */
	uint32_t len;			/**< decode: bytes received */
	union {
		struct vmbs_nvsp_hdr hdr;			/**< any type */
		struct vmbs_nvsp_init init;			/**< 1 */
		struct vmbs_nvsp_init_complete init_complete;	/**< 2 */
		struct vmbs_nvsp_ndis_ver ndis_ver;		/**< 100 */
		struct vmbs_nvsp_send_buf send_buf;		/**< 101, 104 */
		struct vmbs_nvsp_recv_buf_complete recv_buf_complete; /**< 102 */
		struct vmbs_nvsp_revoke_buf revoke_buf;		/**< 103, 106 */
		struct vmbs_nvsp_send_buf_complete send_buf_complete; /**< 105 */
		struct vmbs_nvsp_rndis_pkt rndis_pkt;		/**< 107 */
		struct vmbs_nvsp_rndis_pkt_complete rndis_pkt_complete; /**< 108 */
		struct vmbs_nvsp_ndis_config ndis_config;	/**< 125 */
		struct vmbs_nvsp_vf_assoc vf_assoc;		/**< 128 */
		struct vmbs_nvsp_switch_data_path switch_data_path; /**< 129 */
		struct vmbs_nvsp_subchannel_req subchannel_req;	/**< 133 g2h */
		struct vmbs_nvsp_subchannel_complete subchannel_complete; /**< 133 h2g */
		struct vmbs_nvsp_indirection_table_info indirection_table; /**< 134 */
	} u;
};

/**
 * Decode and validate one guest-to-host NVSP message (see the file
 * comment for the table of types and lengths).
 *
 * @param buf
 *   the NVSP payload, preferably already in private memory; its first
 *   min(len, struct size) bytes are read exactly once.
 * @param len
 *   payload bytes (packet length minus the descriptor's offset8 * 8).
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   0 on success; -EBADMSG if @p len < 4, the type is unknown or
 *   host-to-guest only, or @p len is below the type's struct size;
 *   -EOPNOTSUPP for an existing type this server does not serve;
 *   -EINVAL if @p buf or @p out is NULL.
 */
int vmbs_nvsp_decode(const void *buf, size_t len, struct vmbs_nvsp_msg *out);

/**
 * Decode a host-to-guest NVSP message, for a test or fake guest. Serves
 * 2, 102, 105, 107, 108, 128, 129, 133 (completion) and 134.
 * SEND_INDIRECTION_TABLE also requires count == 16, offset >= 12 and the
 * entries inside @p len.
 *
 * @param buf
 *   the payload.
 * @param len
 *   payload bytes.
 * @param out
 *   filled on success; unspecified on failure.
 * @return
 *   as vmbs_nvsp_decode(), with directions swapped.
 */
int vmbs_nvsp_decode_h2g(const void *buf, size_t len, struct vmbs_nvsp_msg *out);

/**
 * Encode any served message (either direction) from its decoded form,
 * zero padded to VMBS_NVSP_MSG_SIZE. msg->type is written as the type;
 * the type field inside the union is ignored. SEND_INDIRECTION_TABLE
 * writes count 16, offset 40 and the 16 entries after the padding.
 *
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available at @p buf.
 * @param msg
 *   type and fields (msg->len is ignored).
 * @return
 *   bytes written: 40, or VMBS_NVSP_INDIRECTION_TABLE_MSG_SIZE (104);
 *   -EINVAL for NULL pointers or a type neither decoder serves;
 *   -ENOBUFS if @p buf_len is too small (nothing written).
 */
int vmbs_nvsp_encode(void *buf, size_t buf_len, const struct vmbs_nvsp_msg *msg);

/**
 * INIT_COMPLETE (40 B), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param negotiated_ver
 *   offset 4: deprecated; VMBS_NVSP_INVALID_VERSION unless NVSP 1, where
 *   the version itself (OpenVMM); DPDK and Linux ignore it.
 * @param max_mdl_chain_len
 *   offset 8: VMBS_NVSP_MAX_MDL_CHAIN_LEN.
 * @param status
 *   VMBS_NVSP_STATUS_SUCCESS, or FAIL/TOO_OLD/TOO_NEW to make the guest
 *   walk down its version list.
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 40.
 */
int vmbs_nvsp_encode_init_complete(void *buf, size_t buf_len, uint32_t negotiated_ver,
				   uint32_t max_mdl_chain_len, uint32_t status);

/**
 * SEND_RECV_BUF_COMPLETE (40 B), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param status
 *   VMBS_NVSP_STATUS_*.
 * @param section
 *   the single section (num_sections 1), or NULL for num_sections 0 and a
 *   zero section (use with a failure status).
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 40.
 */
int vmbs_nvsp_encode_recv_buf_complete(void *buf, size_t buf_len, uint32_t status,
				       const struct vmbs_nvsp_recv_buf_section *section);

/**
 * SEND_SEND_BUF_COMPLETE (40 B), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param status
 *   VMBS_NVSP_STATUS_*.
 * @param section_size
 *   send-buffer section size: non-zero and a multiple of 4 for DPDK
 *   (not enforced here, so that tests can build bad ones).
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 40.
 */
int vmbs_nvsp_encode_send_buf_complete(void *buf, size_t buf_len, uint32_t status,
				       uint32_t section_size);

/**
 * SEND_RNDIS_PKT (40 B): the NVSP payload of a host transfer-page packet
 * (channel VMBS_NVSP_CHANNEL_CONTROL for RNDIS control replies, DATA for
 * frames; index VMBS_NVSP_SECTION_NONE, size 0), or a guest's request.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param channel_type
 *   VMBS_NVSP_CHANNEL_*.
 * @param section_index
 *   send-buffer section, or VMBS_NVSP_SECTION_NONE.
 * @param section_size
 *   bytes used in that section, 0 with NONE.
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 40.
 */
int vmbs_nvsp_encode_rndis_pkt(void *buf, size_t buf_len, uint32_t channel_type,
			       uint32_t section_index, uint32_t section_size);

/**
 * SEND_RNDIS_PKT_COMPLETE (40 B): the payload of the COMP packet that
 * completes a guest's SEND_RNDIS_PKT (same trans_id, same channel).
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param status
 *   VMBS_NVSP_STATUS_SUCCESS, or FAIL / INVALID_RNDIS_PKT for a dropped one.
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 40.
 */
int vmbs_nvsp_encode_rndis_pkt_complete(void *buf, size_t buf_len, uint32_t status);

/**
 * SEND_VF_ASSOCIATION (40 B), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param allocated
 *   1 if a VF is associated, 0 if it went away.
 * @param serial
 *   the VF's serial number.
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 40.
 */
int vmbs_nvsp_encode_vf_assoc(void *buf, size_t buf_len, uint32_t allocated,
			      uint32_t serial);

/**
 * SUBCHANNEL completion (40 B, which DPDK requires), h2g.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param status
 *   VMBS_NVSP_STATUS_*.
 * @param num_subchannels
 *   subchannels allocated (offers follow separately).
 * @return
 *   40; -EINVAL if @p buf is NULL; -ENOBUFS if @p buf_len < 40.
 */
int vmbs_nvsp_encode_subchannel_complete(void *buf, size_t buf_len, uint32_t status,
					 uint32_t num_subchannels);

/**
 * SEND_INDIRECTION_TABLE (104 B), h2g: count 16, entries at offset 40.
 * @param buf
 *   output buffer.
 * @param buf_len
 *   bytes available.
 * @param table
 *   VMBS_NVSP_INDIRECTION_TABLE_SIZE channel indexes.
 * @return
 *   104; -EINVAL if @p buf or @p table is NULL; -ENOBUFS if too small.
 */
int vmbs_nvsp_encode_indirection_table(void *buf, size_t buf_len,
				       const uint32_t table[VMBS_NVSP_INDIRECTION_TABLE_SIZE]);

/**
 * @param version
 *   an NVSP version number.
 * @return
 *   true if it is one of the six versions this codec knows.
 */
bool vmbs_nvsp_version_supported(uint32_t version);

/**
 * Pick the version to accept for an INIT.
 *
 * @param min_ver
 *   INIT min_ver.
 * @param max_ver
 *   INIT max_ver (guests send min == max).
 * @param host_max
 *   the newest version the server is configured to speak.
 * @return
 *   the newest known version v with min_ver <= v <= max_ver and
 *   v <= host_max; 0 if none (answer INIT_COMPLETE with a failure).
 */
uint32_t vmbs_nvsp_pick_version(uint32_t min_ver, uint32_t max_ver, uint32_t host_max);

/**
 * The NDIS version a guest announces in SEND_NDIS_VER for an NVSP version
 * (Linux and DPDK rule): 6.1 up to NVSP 4, 6.30 from NVSP 5.
 *
 * @param nvsp_version
 *   the negotiated NVSP version.
 * @return
 *   VMBS_NVSP_NDIS_6_1 or VMBS_NVSP_NDIS_6_30.
 */
uint32_t vmbs_nvsp_ndis_version(uint32_t nvsp_version);

/**
 * The message size of the NVSP union at a version: 40 from 6.1, else 28.
 * Informational: our encoders always emit 40 (file comment).
 *
 * @param nvsp_version
 *   the negotiated NVSP version.
 * @return
 *   VMBS_NVSP_MSG_SIZE_V61 or VMBS_NVSP_MSG_SIZE_LEGACY.
 */
static inline uint32_t
vmbs_nvsp_msg_size(uint32_t nvsp_version)
{
	return nvsp_version >= VMBS_NVSP_VERSION_61 ?
		VMBS_NVSP_MSG_SIZE_V61 : VMBS_NVSP_MSG_SIZE_LEGACY;
}

/**
 * @param type
 *   any value.
 * @return
 *   a static name for logs ("INIT", "SEND_RNDIS_PKT", ...), "UNKNOWN"
 *   for values that are not NVSP types.
 */
const char *vmbs_nvsp_type_name(uint32_t type);

#endif /* VMBS_NVSP_H */
