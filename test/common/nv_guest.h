/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Scripted netvsc guest for the netvsp integration tests: a guest that
 * behaves on the wire like DPDK 22.11's netvsc PMD (netvsc-guest reference
 * 1.5-1.8) on top of lib/client, and that can deviate on purpose.
 *
 * What it does as DPDK does:
 *  - NVSP control requests on the primary channel, in-band, trans_id 0,
 *    completion requested when an answer is awaited (INIT, RECV_BUF,
 *    SEND_BUF, SUBCHANNEL), not for NDIS_CONFIG and NDIS_VER. A reply is
 *    the first packet (completion or in-band) that is not a receive-buffer
 *    delivery, an RNDIS completion or a notification; it must have the
 *    expected NVSP type and at least the length of DPDK's struct.
 *  - RNDIS control messages in ONE GPA range that never crosses a page,
 *    NVSP SEND_RNDIS_PKT channel_type 1, trans_id 0; the reply is matched
 *    by request id and type, QUERY data offsets checked as DPDK does.
 *  - Data: a send-buffer section with aggregated PACKET messages (each
 *    padded to the INITIALIZE_CMPLT alignment by growing the previous
 *    message's length), or a GPA-direct packet with the RNDIS header in
 *    its own 128-byte slot as range 0 and the frame split at 4 KiB page
 *    boundaries, one PFN per range; a HASH_VALUE PPI with the queue id on
 *    every frame; a unique trans_id per request; completions expected on
 *    the channel of the request.
 *  - Receive: transfer-page packets are checked (pageset id 0xCAFE,
 *    trans_id below the slot count, NVSP type 107, each range inside the
 *    buffer and not empty), every range parsed as an RNDIS message with
 *    DPDK's checks, and the packet acknowledged with COMP {108, SUCCESS}
 *    carrying its trans_id on the channel it came on.
 *
 * What it adds for tests: other TX layouts (header crossing a page in one
 * two-PFN range, header split over two ranges, Linux's partial copy),
 * held or redirected acknowledgements, raw NVSP, raw RNDIS, raw packets,
 * capture hooks that see every host packet and every RNDIS message, and
 * counters of everything the guest rejected (a correct host keeps them 0).
 *
 * Every wait is bounded by the guest's timeout. Threading: one thread per
 * guest; EAL-free.
 */

#ifndef NV_GUEST_H
#define NV_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "vmbs_client.h"
#include "vmbs_nvsp.h"
#include "vmbs_rndis.h"

/** Channels a guest may open (primary + subchannels). */
#define NVG_MAX_QUEUES 64u
/** Data requests in flight per queue (transmit descriptors). */
#define NVG_TXD_PER_QUEUE 128u
/** Bytes of guest memory per transmit descriptor's data area. */
#define NVG_TXD_DATA_SIZE (6u * 4096u)
/** Received frames kept for the test until nvg_rx_clear(). */
#define NVG_RX_MAX 8192u
/** RNDIS completions / status indications kept. */
#define NVG_CTL_MAX 128u
/** NVSP replies kept. */
#define NVG_REPLY_MAX 32u
/** Acknowledgements that may be held back. */
#define NVG_HELD_MAX 8192u
/** Largest RNDIS message the guest copies out of a slot. */
#define NVG_RNDIS_MSG_MAX 16384u
/** Receive- and send-buffer ids DPDK uses. */
#define NVG_RECV_BUF_ID 0xcafeu
#define NVG_SEND_BUF_ID 0xfaceu
/** DPDK's RNDIS header slot: header and PPIs never exceed it. */
#define NVG_HDR_SLOT 128u
/** nvg_chimney_raw(): take a free section. */
#define NVG_SECTION_AUTO 0xfffffffeu

/** Attach-time settings; zero fields take the defaults given. */
struct nvg_params {
	const char *socket_path;	/**< required */
	const char *vm_name;		/**< required */
	uint64_t mem_size;		/**< 0: enough for everything below */
	/** NVSP versions INIT tries in order; NULL: DPDK's 6.1 .. 2. */
	const uint32_t *nvsp_versions;
	uint32_t n_nvsp_versions;
	uint32_t recv_buf_size;		/**< 0: 2 MiB (DPDK guests: 31 MiB) */
	uint32_t send_buf_size;		/**< 0: 1 MiB */
	uint32_t ring_pages;		/**< per direction; 0: 64 */
	uint16_t max_queues;		/**< channels the memory is sized for; 0: 4 */
	uint32_t mtu;			/**< L3 MTU (NDIS_CONFIG says + 14); 0: 1500 */
	uint32_t timeout_ms;		/**< every wait; 0: 5000 */
	bool hugepages;			/**< guest memory from hugetlbfs */
	bool doorbells;			/**< register g2h/h2g eventfds per channel */
};

/** What the guest learnt (valid once the matching step succeeded). */
struct nvg_info {
	uint32_t vmbus_version;
	uint32_t primary_relid;
	uint8_t instance[16];		/**< the NIC's offer instance GUID */
	uint32_t nvsp_version;
	uint32_t ndis_version;		/**< major << 16 | minor */
	uint64_t recv_gpa;		/**< receive buffer */
	uint32_t recv_size;
	uint32_t recv_gpadl;
	uint32_t slot_size;		/**< RECV_BUF_COMPLETE section */
	uint32_t slot_cnt;
	uint64_t send_gpa;		/**< send buffer */
	uint32_t send_size;
	uint32_t send_gpadl;
	uint32_t section_size;		/**< SEND_BUF_COMPLETE */
	uint32_t section_cnt;		/**< send_size / section_size */
	uint32_t agg_pkts;		/**< INITIALIZE_CMPLT max_pkt_per_msg */
	uint32_t agg_size;		/**< INITIALIZE_CMPLT max_xfer_size */
	uint32_t agg_align;		/**< 1 << pkt_align_factor (>= 4) */
	uint8_t mac[6];			/**< PERMANENT_ADDRESS */
	uint32_t rss_nrxr;		/**< RSS caps: receive queues (0: no query) */
	uint16_t rss_nind;
	struct vmbs_ndis_offload hwcaps; /**< TCP_OFFLOAD_HARDWARE_CAPABILITIES */
	uint32_t link_status;		/**< MEDIA_CONNECT_STATUS */
	uint32_t link_speed;		/**< LINK_SPEED, 100 bit/s units */
	uint16_t n_chans;		/**< channels open (index 0..n-1) */
};

/** Counters. Those under "rejected" stay 0 with a correct host. */
struct nvg_stats {
	/* rejected: the checks DPDK makes, plus the documented rules */
	uint64_t bad_pkt;		/**< ring packet of no usable kind/length */
	uint64_t bad_xfer;		/**< transfer-page packet dropped (id, trans_id,
					 *   NVSP type, header length) */
	uint64_t bad_range;		/**< range outside the buffer, or empty */
	uint64_t odd_range;		/**< range not at a slot start or past its slot */
	uint64_t bad_rndis;		/**< RNDIS message in a range malformed */
	uint64_t bad_chan_type;		/**< channel_type not 1 (control), 0 (data) */
	uint64_t unexpected;		/**< unknown packet or RNDIS type */
	uint64_t tx_comp_bad;		/**< completion naming no request in flight */
	uint64_t tx_comp_wrong_chan;	/**< completion on another channel */
	/* traffic */
	uint64_t xfer_pkts;		/**< transfer-page packets */
	uint64_t rx_frames;		/**< PACKET messages received */
	uint64_t rx_bytes;
	uint64_t rx_kept_full;		/**< frames not kept: list full */
	uint64_t ctl_msgs;		/**< RNDIS completions received */
	uint64_t status_msgs;		/**< INDICATE_STATUS received */
	uint64_t acks_sent;
	uint64_t acks_held;		/**< held back (NVG_ACK_HOLD) */
	uint64_t ack_errors;		/**< ring full while acking */
	uint64_t tx_reqs;		/**< data requests sent */
	uint64_t tx_frames;		/**< frames in them */
	uint64_t tx_comp_ok;		/**< completions with status SUCCESS */
	uint64_t tx_comp_fail;		/**< completions with another status */
	uint64_t ctl_reqs;		/**< RNDIS control requests sent */
	uint64_t ctl_comps;		/**< their NVSP completions */
	uint64_t ctl_comp_fail;		/**< ... with a status other than SUCCESS */
	uint64_t replies;		/**< NVSP replies taken */
	uint64_t notes;			/**< in-band notifications (134, 128) */
};

/** A guest-to-host frame. */
struct nvg_frame {
	const void *data;
	uint32_t len;
	/**
	 * PPIs to attach: present bits VMBS_RNDIS_PPI_F_{CSUM, LSO, VLAN,
	 * HASH_VALUE, HASH_INFO} with the raw words csum, lso, vlan,
	 * hash_value, hash_info. Without F_HASH_VALUE the guest adds one
	 * with the queue id, as DPDK does (unless no_hashval).
	 */
	struct vmbs_rndis_ppi_info ppi;
	bool no_hashval;
};

/** A host-to-guest frame as the guest saw it. */
struct nvg_rx_frame {
	uint16_t queue;			/**< channel it arrived on */
	uint32_t len;
	uint8_t *data;			/**< copy, owned by the guest */
	/** Present bits CSUM, VLAN, HASH_VALUE, HASH_INFO; raw words. */
	struct vmbs_rndis_ppi_info ppi;
};

/** An NVSP reply (or any packet the guest took as one). */
struct nvg_reply {
	uint16_t queue;			/**< channel it arrived on */
	uint16_t pkt_type;		/**< VMBS_PKT_COMP or VMBS_PKT_DATA_INBAND */
	uint16_t flags;
	uint64_t trans_id;
	uint32_t nvsp_type;
	uint32_t len;			/**< NVSP bytes (payload incl. padding) */
	uint8_t nvsp[256];		/**< first bytes of the payload */
	uint32_t pkt_len;		/**< whole packet */
	uint8_t pkt[320];		/**< first bytes of the packet */
};

/** How receive-buffer deliveries are acknowledged. */
enum nvg_ack_mode {
	NVG_ACK_NOW,	/**< at once, on the channel of the delivery (DPDK) */
	NVG_ACK_HOLD,	/**< keep them until nvg_release_acks() */
};

/** Layouts of a guest-to-host data request. */
enum nvg_tx_form {
	NVG_TX_CHIMNEY,		/**< frames packed into one send-buffer section */
	NVG_TX_GPA,		/**< DPDK: header slot + data split at pages */
	NVG_TX_GPA_HDR_CROSS,	/**< header crosses a page inside one 2-PFN range */
	NVG_TX_GPA_HDR_SPLIT,	/**< header split over two ranges */
	NVG_TX_MIXED,		/**< section: header + first bytes; GPA: the rest */
};

/** Every ring packet from the host, before the guest looks at it. */
typedef void (*nvg_pkt_hook_t)(void *arg, uint16_t queue, const uint8_t *pkt, uint32_t len);
/** Every RNDIS message read from a receive-buffer range (range bytes). */
typedef void (*nvg_rndis_hook_t)(void *arg, uint16_t queue, uint32_t xfer_trans_id,
				 const uint8_t *msg, uint32_t len);

struct nvg;

/**
 * Connect, negotiate VMBus, collect offers, open the NIC's primary channel
 * (the offer with the network class GUID and subchannel index 0).
 *
 * @return
 *   0; a lib/client error; -ENODEV if no NIC was offered.
 */
int nvg_attach(const struct nvg_params *p, struct nvg **out);

/** Orderly end (GOODBYE) and free. NULL: no-op. */
int nvg_detach(struct nvg *g);

/** Abrupt end: close the socket without a word, free. NULL: no-op. */
void nvg_destroy(struct nvg *g);

/** @return the client (raw channel messages, memory). */
struct vmbs_cli *nvg_cli(struct nvg *g);
/**
 * @return channel @p q (its rings, for a guest that runs its own data
 *   path after bring-up, such as a benchmark), or NULL if it is not open.
 */
struct vmbs_cli_chan *nvg_chan(struct nvg *g, uint16_t q);
/** @return what the guest learnt so far. */
const struct nvg_info *nvg_info(const struct nvg *g);
/** Copy the counters. */
void nvg_stats_get(const struct nvg *g, struct nvg_stats *st);
/** Sum of the "rejected" counters: 0 with a correct host. */
uint64_t nvg_rejects(const struct nvg *g);
/** Set the capture hooks (either may be NULL). */
void nvg_set_capture(struct nvg *g, nvg_pkt_hook_t pkt, nvg_rndis_hook_t rndis, void *arg);
/** Change the wait bound. */
void nvg_set_timeout(struct nvg *g, uint32_t timeout_ms);

/* ---- bring-up, as DPDK's probe ---- */

/**
 * Probe like DPDK's eth_hn_dev_init(): NVSP INIT walk, NDIS_CONFIG (from
 * NVSP 2), NDIS_VER, RECV_BUF, SEND_BUF, RNDIS INITIALIZE, SET filter 0,
 * QUERY PERMANENT_ADDRESS, RSS capabilities (NVSP >= 5), offload
 * capabilities, media state, link speed.
 *
 * @return
 *   0; -EPROTO if a reply failed DPDK's checks; -EIO if a status said
 *   failure; -ETIMEDOUT.
 */
int nvg_bringup(struct nvg *g);

/** NVSP INIT walk over the configured versions. 0; -ENXIO if none accepted. */
int nvg_nvsp_init(struct nvg *g);
/** One INIT {@p ver, @p ver}; *status gets INIT_COMPLETE's status. */
int nvg_nvsp_init_one(struct nvg *g, uint32_t ver, uint32_t *status);
/** NDIS_CONFIG {mtu + 14, caps} (no completion requested). */
int nvg_ndis_config(struct nvg *g);
/** NDIS_VER {6, 30} (6.1 if NVSP <= 4) (no completion requested). */
int nvg_ndis_ver(struct nvg *g);
/**
 * RECV_BUF (GPADL made on first use): RECV_BUF_COMPLETE must have status
 * SUCCESS, one section at offset 0, slots inside the buffer.
 * @return 0; -EIO (*status, if not NULL, has the status); -EPROTO.
 */
int nvg_recv_buf(struct nvg *g, uint32_t *status);
/** SEND_BUF: section size non-zero and a multiple of 4. As above. */
int nvg_send_buf(struct nvg *g, uint32_t *status);
/** RNDIS INITIALIZE and its checks. */
int nvg_rndis_init(struct nvg *g);

/**
 * DPDK's hn_dev_configure(): offload parameters SET, then for @p n_queues
 * > 1 subchannels (nvg_subchannels()), RSS disable, RSS set.
 */
int nvg_configure(struct nvg *g, uint16_t n_queues);
/** DPDK's hn_dev_start(): filter DIRECTED|ALL_MULTICAST|BROADCAST, link queries. */
int nvg_start(struct nvg *g);

/**
 * SUBCHANNEL {ALLOCATE, n_total - 1}; check the reply (type 133, >= 40
 * bytes, status SUCCESS); wait for the new offers (same instance,
 * subchannel index 1..n_total-1) and open each.
 *
 * @return
 *   channels open now (>= 1); -EIO / -EPROTO / -ETIMEDOUT.
 */
int nvg_subchannels(struct nvg *g, uint16_t n_total);

/**
 * Build DPDK's RSS parameters (592 bytes: 40-byte header, 40-byte key at
 * 40, 128 u32 entries at 80) into @p buf with @p flags, Toeplitz over
 * IPv4/IPv6 (+TCP), entry i = i % queues.
 *
 * @return bytes written (592).
 */
uint32_t nvg_rss_build(const struct nvg *g, uint8_t *buf, uint16_t flags, uint16_t queues);

/* ---- RNDIS control ---- */

/**
 * QUERY @p oid with @p in, expecting up to *@p out_len bytes back.
 *
 * @param status
 *   receives the completion's status; a failure status is not an error
 *   of this call.
 * @param out_len
 *   in: bytes expected (DPDK rejects more); out: bytes received.
 * @return
 *   0; -EPROTO if type, request id or the data offset/length failed
 *   DPDK's checks; -ETIMEDOUT.
 */
int nvg_rndis_query(struct nvg *g, uint32_t oid, const void *in, uint32_t in_len,
		    void *out, uint32_t *out_len, uint32_t *status);
/** SET @p oid to @p in; *status gets the completion status. */
int nvg_rndis_set(struct nvg *g, uint32_t oid, const void *in, uint32_t in_len,
		  uint32_t *status);
/** SET OID_GEN_CURRENT_PACKET_FILTER; -EIO unless SUCCESS. */
int nvg_set_filter(struct nvg *g, uint32_t filter);

/**
 * Send a control message of any bytes (one GPA range, channel_type 1,
 * trans_id 0) on queue @p q without waiting.
 */
int nvg_rndis_send(struct nvg *g, uint16_t q, const void *msg, uint32_t len);
/** Next request id (DPDK: never 0). */
uint32_t nvg_rndis_rid(struct nvg *g);
/**
 * Wait for the completion with request id @p rid (any completion type):
 * its bytes into @p buf (up to *@p len; *@p len gets its length).
 */
int nvg_rndis_wait(struct nvg *g, uint32_t rid, void *buf, uint32_t *len);
/** Completions received and not taken yet. */
uint32_t nvg_rndis_pending(const struct nvg *g);
/** Take the oldest INDICATE_STATUS: its status (and message, may be NULL). */
int nvg_status_wait(struct nvg *g, uint32_t *status, void *msg, uint32_t *len);

/* ---- NVSP, raw ---- */

/** Send an NVSP message in-band on queue @p q. */
int nvg_nvsp_send(struct nvg *g, uint16_t q, uint64_t trans_id, uint16_t flags,
		  const void *msg, uint32_t len);
/** Take the next NVSP reply (waiting for it). */
int nvg_reply_wait(struct nvg *g, struct nvg_reply *r);
/** Replies queued now. */
uint32_t nvg_replies_pending(const struct nvg *g);
/**
 * DPDK's hn_nvs_execute(): in-band, trans_id 0, completion requested, on
 * the primary; the reply must have type @p resp_type and >= @p resp_len
 * bytes. *r gets it (may be NULL).
 */
int nvg_nvsp_execute(struct nvg *g, const void *msg, uint32_t len, uint32_t resp_type,
		     uint32_t resp_len, struct nvg_reply *r);
/** Put a whole packet (descriptor included) on queue @p q's ring. */
int nvg_send_pkt(struct nvg *g, uint16_t q, const void *pkt, uint32_t len);

/* ---- data, guest to host ---- */

/**
 * Send frames on queue @p q as one request in layout @p form. Chimney:
 * 1..agg_pkts frames that fit one section; other forms: one frame.
 *
 * @param tid
 *   receives the request's trans_id (may be NULL).
 * @return
 *   0; -E2BIG (does not fit the layout); -EBUSY (no descriptor or
 *   section free even after waiting); -EAGAIN (ring full).
 */
int nvg_send(struct nvg *g, uint16_t q, enum nvg_tx_form form, const struct nvg_frame *f,
	     uint32_t n, uint64_t *tid);
/** Where GPA-form frame data starts in its area (default 128: an mbuf's headroom). */
void nvg_set_tx_data_offset(struct nvg *g, uint32_t off);
/** Bytes of the frame Linux's partial copy puts in the section (default 64). */
void nvg_set_mixed_copy(struct nvg *g, uint32_t bytes);

/**
 * Send RNDIS bytes as a data request through a send-buffer section:
 * NVSP {channel_type 0, @p section, @p section_size}. With
 * NVG_SECTION_AUTO the bytes go to a free section and that index is
 * sent; otherwise the index is sent as given and the bytes, if the
 * index names a real section, go there.
 */
int nvg_chimney_raw(struct nvg *g, uint16_t q, const void *bytes, uint32_t len,
		    uint32_t section, uint32_t section_size, uint64_t *tid);
/**
 * A GPA-direct data request with the given ranges (each range one segment
 * as written, PFNs computed) and NVSP {@p channel_type, @p section,
 * @p section_size}.
 */
int nvg_gpa_raw(struct nvg *g, uint16_t q, const struct vmbs_desc_gpa_seg *segs,
		uint32_t nseg, uint32_t channel_type, uint32_t section, uint32_t section_size,
		uint64_t *tid);
/** 64 KiB of guest memory for raw requests: its VA, *gpa its GPA. */
uint8_t *nvg_scratch(struct nvg *g, uint64_t *gpa);
/** Write a DPDK-style RNDIS PACKET (+PPIs, + data) at @p buf; returns its length. */
uint32_t nvg_encap(uint8_t *buf, uint16_t q, const struct nvg_frame *f, uint32_t *hdr_len);

/**
 * Wait for request @p tid: 0 with *status its completion status;
 * -ETIMEDOUT; -ENOENT if unknown (never sent, or its slot reused).
 */
int nvg_req_wait(struct nvg *g, uint64_t tid, uint32_t *status);
/** Wait until no data request is in flight. */
int nvg_tx_wait(struct nvg *g);
/** Data requests in flight. */
uint32_t nvg_tx_inflight(const struct nvg *g);

/* ---- receive ---- */

/** Poll every open channel once; returns packets handled. */
int nvg_poll(struct nvg *g);
/** Poll for @p ms milliseconds. */
void nvg_pump(struct nvg *g, uint32_t ms);
/** Wait until at least @p n frames are kept. */
int nvg_rx_wait(struct nvg *g, uint32_t n);
/** Frames kept. */
uint32_t nvg_rx_count(const struct nvg *g);
/** Frame @p i (0: oldest). */
const struct nvg_rx_frame *nvg_rx_get(const struct nvg *g, uint32_t i);
/** Forget the frames kept. */
void nvg_rx_clear(struct nvg *g);
/** Set how deliveries are acknowledged. */
void nvg_set_ack_mode(struct nvg *g, enum nvg_ack_mode mode);
/**
 * Send the acknowledgements held: each on its own channel (@p q < 0) or
 * all on channel @p q. Returns how many were sent.
 */
int nvg_release_acks(struct nvg *g, int q);
/** Acknowledgements held now. */
uint32_t nvg_acks_held(const struct nvg *g);
/** trans_id of held acknowledgement @p i (0: oldest); 0 if none. */
uint64_t nvg_held_tid(const struct nvg *g, uint32_t i);
/** Send COMP {108, SUCCESS} for @p tid on queue @p q (raw; any tid). */
int nvg_ack(struct nvg *g, uint16_t q, uint64_t tid);

#endif /* NV_GUEST_H */
