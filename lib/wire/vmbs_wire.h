/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * VMBus wire format: the ring control page, packet descriptors and their
 * type headers, and the channel (SynIC) messages, byte for byte as Hyper-V
 * guests expect them. Every size and offset is pinned by a static assertion
 * below each definition; all fields are little-endian (the only byte order
 * this project builds for, checked at the end of the file).
 *
 * Definitions only: no code, no state, no threading concerns. Components
 * never read these structs in place from guest memory: they copy them out
 * first (the guest may change shared bytes at any time), then validate.
 *
 * Viewpoint: "g2h" is guest to host (what the server consumes), "h2g" is
 * host to guest (what the server produces).
 */

#ifndef VMBS_WIRE_H
#define VMBS_WIRE_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define VMBS_WIRE_ASSERT_SIZE(type, size) \
	static_assert(sizeof(type) == (size), #type " must be " #size " bytes")
#define VMBS_WIRE_ASSERT_OFF(type, member, off) \
	static_assert(offsetof(type, member) == (off), \
		      #type "." #member " must be at offset " #off)

/** Hyper-V's page: 4 KiB whatever the guest's own page size. */
#define VMBS_PAGE_SHIFT 12
#define VMBS_PAGE_SIZE (1u << VMBS_PAGE_SHIFT)
#define VMBS_PAGE_MASK (VMBS_PAGE_SIZE - 1)

/* ------------------------------------------------------------------------
 * Ring buffer (one per direction), b.1 of the wire reference.
 */

/** Feature bit 0: the consumer honours pending_send_sz. */
#define VMBS_RING_FEAT_PENDING_SEND_SZ 0x1u

/**
 * The 4 KiB control page at the start of each ring half. The data area
 * follows it directly. Indices are byte offsets into the data area.
 */
struct vmbs_ring_ctl {
	uint32_t write_index;		/**< producer-owned */
	uint32_t read_index;		/**< consumer-owned */
	uint32_t interrupt_mask;	/**< consumer: 1 = "don't signal me" */
	uint32_t pending_send_sz;	/**< producer: signal when this much is free */
	uint32_t reserved1[12];
	uint32_t feature_bits;		/**< VMBS_RING_FEAT_* */
	uint8_t reserved2[VMBS_PAGE_SIZE - 0x44];
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_ring_ctl, 4096);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ring_ctl, write_index, 0x00);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ring_ctl, read_index, 0x04);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ring_ctl, interrupt_mask, 0x08);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ring_ctl, pending_send_sz, 0x0c);
VMBS_WIRE_ASSERT_OFF(struct vmbs_ring_ctl, feature_bits, 0x40);

/* ------------------------------------------------------------------------
 * Packets in the ring, b.2.
 */

/** Packet types. Only the four marked (*) are accepted from guests. */
enum vmbs_pkt_type {
	VMBS_PKT_SYNCH = 0x1,
	VMBS_PKT_ADD_XFER_PAGESET = 0x2,
	VMBS_PKT_RM_XFER_PAGESET = 0x3,
	VMBS_PKT_ESTABLISH_GPADL = 0x4,
	VMBS_PKT_TEARDOWN_GPADL = 0x5,
	VMBS_PKT_DATA_INBAND = 0x6,		/**< (*) */
	VMBS_PKT_DATA_XFER_PAGES = 0x7,		/**< (*) */
	VMBS_PKT_DATA_GPADL = 0x8,
	VMBS_PKT_DATA_GPA_DIRECT = 0x9,		/**< (*) */
	VMBS_PKT_CANCEL_REQUEST = 0xa,
	VMBS_PKT_COMP = 0xb,			/**< (*) */
	VMBS_PKT_DATA_ADDITIONAL = 0xc,
	VMBS_PKT_ADDITIONAL_DATA = 0xd,
};

/** Descriptor flag: the sender wants a COMP packet for this one. */
#define VMBS_PKT_F_COMPLETION_REQUESTED 0x1u

/** Every packet starts with this descriptor. */
struct vmbs_pkt_desc {
	uint16_t type;		/**< enum vmbs_pkt_type */
	uint16_t offset8;	/**< payload offset from descriptor, 8-byte units, >= 2 */
	uint16_t len8;		/**< total length excluding trailer, 8-byte units */
	uint16_t flags;		/**< VMBS_PKT_F_* */
	uint64_t trans_id;	/**< transaction id, echoed by COMP */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_pkt_desc, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_pkt_desc, type, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_pkt_desc, offset8, 2);
VMBS_WIRE_ASSERT_OFF(struct vmbs_pkt_desc, len8, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_pkt_desc, flags, 6);
VMBS_WIRE_ASSERT_OFF(struct vmbs_pkt_desc, trans_id, 8);

/**
 * Each packet is followed by an 8-byte trailer holding the ring offset at
 * which the packet starts, in its upper 32 bits.
 */
#define VMBS_PKT_TRAILER_SIZE 8u
#define VMBS_PKT_TRAILER(start_offset) ((uint64_t)(start_offset) << 32)

/** Header of a transfer-page packet (type 7), after the descriptor. */
struct vmbs_xfer_hdr {
	uint16_t pageset_id;	/**< the guest's receive-buffer id (e.g. 0xCAFE) */
	uint8_t sender_owns_set;
	uint8_t reserved;
	uint32_t range_cnt;	/**< number of struct vmbs_xfer_range that follow */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_xfer_hdr, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_xfer_hdr, pageset_id, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_xfer_hdr, sender_owns_set, 2);
VMBS_WIRE_ASSERT_OFF(struct vmbs_xfer_hdr, range_cnt, 4);

/** One range of a transfer-page packet: bytes within the transfer page set. */
struct vmbs_xfer_range {
	uint32_t byte_count;
	uint32_t byte_offset;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_xfer_range, 8);

/** Header of a GPA-direct packet (type 9), after the descriptor. */
struct vmbs_gpa_direct_hdr {
	uint32_t reserved;
	uint32_t range_cnt;	/**< number of struct vmbs_gpa_range that follow */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_gpa_direct_hdr, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_gpa_direct_hdr, range_cnt, 4);

/**
 * A guest-physical range: byte_count bytes starting byte_offset into the
 * first page, over ceil((byte_offset + byte_count) / 4096) page numbers that
 * follow as u64. Used by GPA-direct packets and GPADL messages alike.
 */
struct vmbs_gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset;	/**< < 4096 */
	/* uint64_t pfn[]; follows (not declared: it is often unaligned) */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_gpa_range, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_gpa_range, byte_offset, 4);

/* ------------------------------------------------------------------------
 * Channel (SynIC) messages, b.3. Offsets include the 8-byte header.
 */

/** Largest channel-message payload: a SynIC message's data area. */
#define VMBS_CHMSG_MAX_SIZE 240u

enum vmbs_chmsg_type {
	VMBS_CHMSG_INVALID = 0,
	VMBS_CHMSG_OFFERCHANNEL = 1,
	VMBS_CHMSG_RESCIND_CHANNELOFFER = 2,
	VMBS_CHMSG_REQUESTOFFERS = 3,
	VMBS_CHMSG_ALLOFFERS_DELIVERED = 4,
	VMBS_CHMSG_OPENCHANNEL = 5,
	VMBS_CHMSG_OPENCHANNEL_RESULT = 6,
	VMBS_CHMSG_CLOSECHANNEL = 7,
	VMBS_CHMSG_GPADL_HEADER = 8,
	VMBS_CHMSG_GPADL_BODY = 9,
	VMBS_CHMSG_GPADL_CREATED = 10,
	VMBS_CHMSG_GPADL_TEARDOWN = 11,
	VMBS_CHMSG_GPADL_TORNDOWN = 12,
	VMBS_CHMSG_RELID_RELEASED = 13,
	VMBS_CHMSG_INITIATE_CONTACT = 14,
	VMBS_CHMSG_VERSION_RESPONSE = 15,
	VMBS_CHMSG_UNLOAD = 16,
	VMBS_CHMSG_UNLOAD_RESPONSE = 17,
	VMBS_CHMSG_MODIFYCHANNEL = 22,
	VMBS_CHMSG_TYPE_MAX = 30,	/**< types at or above are invalid */
};

struct vmbs_chmsg_hdr {
	uint32_t msgtype;	/**< enum vmbs_chmsg_type */
	uint32_t padding;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_hdr, 8);

/** Bare header: REQUESTOFFERS, ALLOFFERS_DELIVERED, UNLOAD, UNLOAD_RESPONSE. */
struct vmbs_chmsg_bare {
	struct vmbs_chmsg_hdr hdr;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_bare, 8);

/** Offer flags (chn_flags). */
#define VMBS_OFFER_F_ENUMERATE_DEVICE_INTERFACE 0x0001u
#define VMBS_OFFER_F_SERVER_SUPPORTS_XFER_PAGES 0x0002u
#define VMBS_OFFER_F_SERVER_SUPPORTS_GPADLS 0x0004u
#define VMBS_OFFER_F_NAMED_PIPE_MODE 0x0010u
#define VMBS_OFFER_F_LOOPBACK 0x0100u
#define VMBS_OFFER_F_PARENT 0x0200u
#define VMBS_OFFER_F_REQUEST_MONITORED_NOTIFICATION 0x0400u

#define VMBS_OFFER_USER_DEF_SIZE 120u

struct vmbs_chmsg_offer {
	struct vmbs_chmsg_hdr hdr;
	uint8_t if_type[16];		/**< class GUID, Windows byte order */
	uint8_t if_instance[16];	/**< instance GUID, Windows byte order */
	uint8_t reserved[16];		/**< latency / revision / server ctx size */
	uint16_t chn_flags;		/**< VMBS_OFFER_F_* */
	uint16_t mmio_megabytes;
	uint8_t user_def[VMBS_OFFER_USER_DEF_SIZE];
	uint16_t sub_channel_index;	/**< 0 for a primary channel */
	uint16_t mmio_megabytes_optional;
	uint32_t child_relid;
	uint8_t monitor_id;
	uint8_t monitor_allocated;	/**< bit 0 */
	uint16_t is_dedicated_interrupt;/**< bit 0 */
	uint32_t connection_id;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_offer, 196);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, if_type, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, if_instance, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, reserved, 40);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, chn_flags, 56);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, mmio_megabytes, 58);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, user_def, 60);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, sub_channel_index, 180);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, mmio_megabytes_optional, 182);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, child_relid, 184);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, monitor_id, 188);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, monitor_allocated, 189);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, is_dedicated_interrupt, 190);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_offer, connection_id, 192);

/** RESCIND_CHANNELOFFER, CLOSECHANNEL and RELID_RELEASED. */
struct vmbs_chmsg_relid {
	struct vmbs_chmsg_hdr hdr;
	uint32_t child_relid;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_relid, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_relid, child_relid, 8);

#define VMBS_OPEN_USER_DATA_SIZE 120u
/** OPENCHANNEL target_vp meaning "no interrupts" (the peer polls). */
#define VMBS_OPEN_TARGET_VP_NONE 0xffffffffu

struct vmbs_chmsg_open {
	struct vmbs_chmsg_hdr hdr;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t ring_gpadl;		/**< GPADL holding both ring halves */
	uint32_t target_vp;
	uint32_t downstream_page_offset;/**< first page of the h2g half */
	uint8_t user_data[VMBS_OPEN_USER_DATA_SIZE];
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_open, 148);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open, child_relid, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open, openid, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open, ring_gpadl, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open, target_vp, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open, downstream_page_offset, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open, user_data, 28);

struct vmbs_chmsg_open_result {
	struct vmbs_chmsg_hdr hdr;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t status;		/**< 0 = success */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_open_result, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open_result, openid, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_open_result, status, 16);

/**
 * GPADL_HEADER: the first chunk of a GPADL's range data. The ranges (and
 * their u64 PFNs, unaligned here: they start at offset 28) follow the
 * fixed part; the rest of range_buflen arrives in GPADL_BODY messages.
 */
struct vmbs_chmsg_gpadl_header {
	struct vmbs_chmsg_hdr hdr;
	uint32_t child_relid;
	uint32_t gpadl;
	uint16_t range_buflen;	/**< bytes of all ranges incl. PFNs */
	uint16_t range_cnt;
	/* struct vmbs_gpa_range + pfns follow */
} __attribute__((packed));
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_gpadl_header, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_header, child_relid, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_header, gpadl, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_header, range_buflen, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_header, range_cnt, 18);
/** PFNs that fit in a GPADL_HEADER carrying one range. */
#define VMBS_GPADL_HEADER_MAX_PFNS \
	((VMBS_CHMSG_MAX_SIZE - sizeof(struct vmbs_chmsg_gpadl_header) - \
	  sizeof(struct vmbs_gpa_range)) / sizeof(uint64_t))
static_assert(VMBS_GPADL_HEADER_MAX_PFNS == 26, "26 PFNs fit in a GPADL header");

/** GPADL_BODY: the continuation of the range data as u64 words. */
struct vmbs_chmsg_gpadl_body {
	struct vmbs_chmsg_hdr hdr;
	uint32_t msgnumber;
	uint32_t gpadl;
	/* uint64_t words[] follow */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_gpadl_body, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_body, msgnumber, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_body, gpadl, 12);
#define VMBS_GPADL_BODY_MAX_WORDS \
	((VMBS_CHMSG_MAX_SIZE - sizeof(struct vmbs_chmsg_gpadl_body)) / sizeof(uint64_t))
static_assert(VMBS_GPADL_BODY_MAX_WORDS == 28, "28 PFNs fit in a GPADL body");

/** GPADL creation status meaning failure (the value OpenVMM sends). */
#define VMBS_GPADL_STATUS_FAILURE 0x8000ffffu

struct vmbs_chmsg_gpadl_created {
	struct vmbs_chmsg_hdr hdr;
	uint32_t child_relid;
	uint32_t gpadl;
	uint32_t creation_status;	/**< 0 = success */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_gpadl_created, 20);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_created, gpadl, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_created, creation_status, 16);

struct vmbs_chmsg_gpadl_teardown {
	struct vmbs_chmsg_hdr hdr;
	uint32_t child_relid;
	uint32_t gpadl;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_gpadl_teardown, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_teardown, gpadl, 12);

struct vmbs_chmsg_gpadl_torndown {
	struct vmbs_chmsg_hdr hdr;
	uint32_t gpadl;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_gpadl_torndown, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_gpadl_torndown, gpadl, 8);

/** VMBus protocol versions: major << 16 | minor. */
#define VMBS_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define VMBS_VERSION_WIN8_1 VMBS_VERSION(3, 0)
#define VMBS_VERSION_WIN10 VMBS_VERSION(4, 0)
#define VMBS_VERSION_WIN10_RS3 VMBS_VERSION(4, 1)
#define VMBS_VERSION_WIN10_V5 VMBS_VERSION(5, 0)
#define VMBS_VERSION_WIN10_RS4 VMBS_VERSION(5, 1)
#define VMBS_VERSION_WIN10_RS5 VMBS_VERSION(5, 2)
#define VMBS_VERSION_WIN2022 VMBS_VERSION(5, 3)

/** Message connection ids a VERSION_RESPONSE names (>= 5.0 vs older). */
#define VMBS_MSG_CONN_ID_LEGACY 1u
#define VMBS_MSG_CONN_ID_V5 4u

struct vmbs_chmsg_initiate_contact {
	struct vmbs_chmsg_hdr hdr;
	uint32_t version_requested;	/**< VMBS_VERSION() */
	uint32_t target_vcpu;
	uint64_t interrupt_page;	/**< or {u8 sint, u8 vtl, u16, u32 features} */
	uint64_t monitor_page1;		/**< parent to child */
	uint64_t monitor_page2;		/**< child to parent */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_initiate_contact, 40);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_initiate_contact, version_requested, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_initiate_contact, target_vcpu, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_initiate_contact, interrupt_page, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_initiate_contact, monitor_page1, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_initiate_contact, monitor_page2, 32);

struct vmbs_chmsg_version_response {
	struct vmbs_chmsg_hdr hdr;
	uint8_t version_supported;	/**< 1 if the requested version is accepted */
	uint8_t connection_state;
	uint16_t padding;
	uint32_t msg_conn_id;		/**< message connection id (>= 5.0) */
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_version_response, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_version_response, version_supported, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_version_response, connection_state, 9);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_version_response, msg_conn_id, 12);

struct vmbs_chmsg_modify_channel {
	struct vmbs_chmsg_hdr hdr;
	uint32_t child_relid;
	uint32_t target_vp;
};
VMBS_WIRE_ASSERT_SIZE(struct vmbs_chmsg_modify_channel, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_chmsg_modify_channel, target_vp, 12);

/** Synthetic network adapter class: f8615163-df3e-46c5-913f-f2d2f965ed0e. */
#define VMBS_GUID_NET_CLASS { 0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46, \
			      0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "VMBus wire structs are little-endian; big-endian hosts need byte swapping");

#endif /* VMBS_WIRE_H */
