/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * netvsp: the host half of one synthetic NIC (Hyper-V's "netvsp"). It
 * speaks NVSP 2..6.1 and RNDIS to the guest's netvsc driver over the NIC's
 * VMBus channels (lib/chan), and turns guest traffic into frames for the
 * embedder (the PMD, a test) and the embedder's frames into receive-buffer
 * deliveries for the guest. Transport-agnostic: it is a lib/vm device
 * (vmbs_nv_dev_desc()), attached to a VM by lib/server or a test.
 *
 * Protocol (wire reference b.4/b.5, netvsc-guest reference 1.5-1.8):
 *  - NVSP order, per primary-channel open: INIT (the guest walks down from
 *    its newest version; one success) -> NDIS_CONFIG (NVSP >= 2) and
 *    NDIS_VER -> SEND_RECV_BUF (mapped read-write) -> SEND_SEND_BUF
 *    (optional, mapped read-only) -> RNDIS, SUBCHANNEL (NVSP >= 5).
 *    A message out of order, duplicated, on a subchannel when it belongs
 *    on the primary, or malformed fails that message (a FAIL completion
 *    when the guest asked for one) and is counted; the NIC carries on.
 *  - Receive buffer: one section at offset 0 cut into slots of
 *    vmbs_rxbuf_slot_size(mtu) bytes, 16 control slots for RNDIS replies,
 *    the rest split per active queue. Every transfer-page packet echoes the
 *    guest's receive-buffer id, has trans_id = its first slot (< slot
 *    count), and names up to 375 slots.
 *  - Send buffer: section size 6144 (a multiple of 4), sections checked
 *    against the mapped length.
 *  - RNDIS control (primary channel, one GPA range or a send-buffer
 *    section): INITIALIZE (8 packets per message, 6144-byte transfers,
 *    8-byte alignment), HALT, QUERY, SET, RESET, KEEPALIVE; status
 *    indications for link changes. Replies travel in control slots, as
 *    transfer-page packets with channel_type 1, on the primary channel.
 *    With all control slots in use, up to VMBS_NV_CTL_BACKLOG replies wait
 *    for a completion; beyond that the request is failed.
 *  - RNDIS data (any channel): a send-buffer section with several PACKET
 *    messages, GPA-direct ranges with one PACKET (its header may cross
 *    ranges and pages), or a section followed by GPA ranges (Linux's
 *    partial copy). Every guest request is completed with NVSP
 *    SEND_RNDIS_PKT_COMPLETE on the channel it came from, with the trans_id
 *    it carried: status SUCCESS once the embedder is done with its frames
 *    (vmbs_nv_req_done()), FAIL at once if anything in it is malformed
 *    (no frame of a bad request is delivered).
 *
 * Threading model:
 *  - control thread (the VM's, lib/vm): create/free, the device callbacks,
 *    buffer mapping and unmapping, subchannel allocation (the primary's
 *    poll lcore defers those messages with vmbs_rx_defer()).
 *  - queue owner: vmbs_nv_poll(nic, q) polls channel q; at most one thread
 *    at a time per queue. The rx_frames callback runs there.
 *  - vmbs_nv_tx_burst(nic, q) may run on any one thread per queue (also
 *    not the poller of q): receive-buffer partitions are guarded by an
 *    uncontended per-partition lock that only the control thread also
 *    takes, and guest completions reach a partition through a
 *    multi-producer ring.
 *  - vmbs_nv_req_done(): any lcore. vmbs_nv_state_get(), stats: any
 *    thread (racy snapshots). vmbs_nv_link_set(): any thread.
 *
 * The guest is hostile: every NVSP and RNDIS field is read once from a
 * private copy (lib/chan copies packets out of the ring; send-buffer
 * headers and GPA-range headers are copied before they are checked) and
 * every error is a counter, never a log line per packet.
 */

#ifndef VMBS_NETVSP_H
#define VMBS_NETVSP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmbs_txoff.h"

#include "vmbs_chan.h"
#include "vmbs_rndis.h"
#include "vmbs_vm.h"

/** Channels (queues) per NIC. */
#define VMBS_NV_MAX_QUEUES VMBS_VM_DEV_MAX_CHANNELS
/** Send-buffer section size announced (DPDK and Linux use 6144). */
#define VMBS_NV_SEND_SECTION_SIZE 6144u
/** RNDIS INITIALIZE_CMPLT: PACKET messages per send-buffer section. */
#define VMBS_NV_MAX_PKT_PER_MSG 8u
/** RNDIS INITIALIZE_CMPLT: log2 of the PACKET alignment in a section. */
#define VMBS_NV_PKT_ALIGN_FACTOR 3u
/** RNDIS replies that may wait for a control slot. */
#define VMBS_NV_CTL_BACKLOG 32u
/** Largest RNDIS control request or reply handled (bytes). */
#define VMBS_NV_CTL_MAX 4096u
/** Segments one guest frame may have (longer chains fail the request). */
#define VMBS_NV_FRAME_MAX_SEGS 64u
/** Multicast addresses kept from OID_802_3_MULTICAST_LIST. */
#define VMBS_NV_MCAST_MAX 32u
/** Default outstanding guest requests per channel (lib/chan quota). */
#define VMBS_NV_DEFAULT_QUOTA 256u

/** Advertised offloads (vmbs_nv_params.offloads). */
#define VMBS_NV_OFF_TX_CSUM_IP4 (1u << 0)	/**< guest may ask: IPv4 header */
#define VMBS_NV_OFF_TX_CSUM_TCP4 (1u << 1)
#define VMBS_NV_OFF_TX_CSUM_UDP4 (1u << 2)
#define VMBS_NV_OFF_TX_CSUM_TCP6 (1u << 3)
#define VMBS_NV_OFF_TX_CSUM_UDP6 (1u << 4)
#define VMBS_NV_OFF_TSO4 (1u << 5)		/**< LSOv2 IPv4 */
#define VMBS_NV_OFF_TSO6 (1u << 6)		/**< LSOv2 IPv6 */
#define VMBS_NV_OFF_RX_CSUM (1u << 7)		/**< host reports RX checksums */
#define VMBS_NV_OFF_ALL 0xffu
/** Largest LSOv2 send advertised. */
#define VMBS_NV_TSO_MAX_SIZE 62780u

/** One guest-to-host frame. Valid during the rx_frames callback only. */
struct vmbs_nv_frame {
	uint32_t len;			/**< frame bytes, sum of seg[].len */
	uint16_t nseg;			/**< 1..VMBS_NV_FRAME_MAX_SEGS */
	uint16_t queue;			/**< channel index it came on */
	/**
	 * The bytes, in guest memory mapped read-only (send buffer or
	 * GPA-direct pages): va/iova/len per run. They stay valid until the
	 * request is done. The guest could still write them: treat them as
	 * data, never as trusted lengths.
	 */
	const struct vmbs_seg *seg;
	/** Per-packet info the guest attached (checksum, LSO, VLAN, hash). */
	struct vmbs_rndis_ppi_info ppi;
};

/**
 * Frames of one guest request (an NVSP RNDIS_PKT). Poll lcore of @p queue.
 * The embedder must call vmbs_nv_req_done(@p req, ...) exactly once, now
 * or later from any lcore; until then the frames' memory stays valid and
 * the guest cannot reuse it.
 */
typedef void (*vmbs_nv_rx_cb_t)(void *arg, uint16_t queue, struct vmbs_rx *req,
				const struct vmbs_nv_frame *frames, uint32_t n);

/** Guest-visible state changes (vmbs_nv_event_cb_t). */
enum vmbs_nv_event {
	VMBS_NV_EV_NVSP_READY,	/**< receive buffer mapped */
	VMBS_NV_EV_RNDIS_INIT,	/**< RNDIS INITIALIZE answered */
	VMBS_NV_EV_FILTER,	/**< packet filter changed */
	VMBS_NV_EV_QUEUES,	/**< subchannels allocated */
	VMBS_NV_EV_RSS,		/**< RSS parameters set */
	VMBS_NV_EV_OFFLOAD,	/**< offload parameters set */
	VMBS_NV_EV_DOWN,	/**< primary closed or buffers revoked */
};

/** Poll lcore of queue 0 or the control thread; must not block. */
typedef void (*vmbs_nv_event_cb_t)(void *arg, enum vmbs_nv_event ev);

/**
 * Offer @p n channels in all (primary included) to the guest. Control
 * thread, from inside a lib/vm callback: e.g. vmbs_vm_offer_channels().
 * Returns channels offered (>= 1) or -errno.
 */
typedef int (*vmbs_nv_offer_cb_t)(void *arg, const struct vmbs_dev_desc *d,
				  uint16_t n);

/** Create-time settings. */
struct vmbs_nv_params {
	const char *name;		/**< logs and channel names, < 16 chars */
	const char *vm_name;		/**< the VM this NIC is offered to */
	uint8_t instance[16];		/**< offer instance GUID (wire order) */
	uint8_t mac[6];			/**< permanent address */
	uint16_t max_queues;		/**< channels, 1..64; 0: 1 */
	uint32_t mtu;			/**< L3 MTU, 68..9216; 0: 1500 */
	uint64_t link_speed;		/**< bit/s reported; 0: 10 Gbit/s */
	uint32_t nvsp_max;		/**< newest NVSP served; 0: 6.1 */
	uint32_t offloads;		/**< VMBS_NV_OFF_*; advertised */
	uint32_t quota;			/**< outstanding requests per channel;
					 *   0: VMBS_NV_DEFAULT_QUOTA */
	vmbs_nv_rx_cb_t rx_frames;	/**< required */
	vmbs_nv_event_cb_t event;	/**< optional */
	vmbs_nv_offer_cb_t offer_channels; /**< required for subchannels */
	void *cb_arg;			/**< for rx_frames and event */
	/** for offer_channels; NULL: cb_arg. With lib/server:
	 *  offer_channels = vmbs_srv_offer_channels, offer_arg = the server. */
	void *offer_arg;
};

/** vmbs_nv_txframe.offload: fill in the IPv4 header, TCP and UDP checksums. */
#define VMBS_NV_TXOFF_CSUM (1u << 0)
/** vmbs_nv_txframe.offload: TCP segmentation at tso_mss (checksums too). */
#define VMBS_NV_TXOFF_TSO (1u << 1)
/** Segments one TSO frame may become; more is a tx_offload_bad drop. */
#define VMBS_NV_TSO_MAX_SEGS VMBS_TXOFF_MAX_SEGS

/** A host-to-guest frame for vmbs_nv_tx_burst(). */
struct vmbs_nv_txframe {
	const struct iovec *iov;	/**< the frame, in host memory */
	uint16_t iovcnt;		/**< >= 1 */
	/** F_CSUM (RX result), F_VLAN, F_HASH_VALUE, F_HASH_INFO only. */
	struct vmbs_rndis_ppi_info ppi;
	/**
	 * VMBS_NV_TXOFF_*: what a NIC would do on Tx, done in software while
	 * the frame is copied (Ethernet, up to two VLAN tags, IPv4 or IPv6
	 * with its usual extension headers, TCP or UDP; headers parsed from the
	 * frame). The guest gets the checksum PPI saying they are good. A
	 * frame that cannot be done is dropped (tx_offload_bad).
	 */
	uint16_t offload;
	uint16_t tso_mss;		/**< TCP payload bytes per segment */
};

/** Guest-visible state (a racy snapshot). */
struct vmbs_nv_state {
	uint32_t nvsp_version;		/**< 0 before INIT */
	uint32_t ndis_version;		/**< major << 16 | minor, 0 if unset */
	uint32_t guest_mtu;		/**< NDIS_CONFIG mtu (frame size), 0 if unset */
	uint64_t guest_caps;		/**< NDIS_CONFIG caps */
	bool recv_buf;			/**< receive buffer mapped */
	bool send_buf;			/**< send buffer mapped */
	uint32_t recv_slots;		/**< slots announced */
	uint32_t recv_slot_size;
	bool rndis_up;			/**< INITIALIZE answered, no HALT since */
	uint32_t filter;		/**< VMBS_NDIS_FILTER_* */
	uint32_t n_mcast;		/**< multicast addresses set */
	uint16_t queues_open;		/**< channels open now */
	uint16_t queues_allocated;	/**< primary + subchannels allocated */
	bool link_up;			/**< host side: vmbs_nv_link_set() */
	bool rss_enabled;		/**< RSS parameters set and not disabled */
	uint32_t rss_hash_info;
	uint32_t rss_table_cnt;
	uint32_t rss_table[VMBS_NDIS_RSS_TABLE_MAX];
	uint8_t rss_key[VMBS_NDIS_RSS_KEY_SIZE];
	struct vmbs_ndis_offload_params offload; /**< last SET, zero if none */
};

/** Per-queue counters. */
struct vmbs_nv_queue_stats {
	/* guest -> host */
	uint64_t rx_reqs;		/**< RNDIS_PKT data requests taken */
	uint64_t rx_frames;		/**< frames delivered */
	uint64_t rx_bytes;
	uint64_t rx_section_reqs;	/**< requests with a send-buffer section */
	uint64_t rx_gpa_reqs;		/**< requests with GPA-direct ranges */
	uint64_t rx_bad;		/**< failed: malformed NVSP/RNDIS/PPI */
	uint64_t rx_not_ready;		/**< failed: before RNDIS INITIALIZE */
	uint64_t rx_ext_errors;		/**< failed: GPA ranges unusable */
	/* host -> guest */
	uint64_t tx_frames;		/**< frames written into slots */
	uint64_t tx_bytes;
	uint64_t tx_pkts;		/**< transfer-page packets sent */
	uint64_t tx_filtered;		/**< dropped: packet filter */
	uint64_t tx_down;		/**< dropped: no buffer, RNDIS down */
	uint64_t tx_oversize;		/**< dropped: larger than a slot */
	uint64_t tx_bad;		/**< dropped: bad iov or PPI */
	uint64_t tx_full;		/**< bursts cut short: slots or packets out */
	uint64_t tx_sw_csum;		/**< frames whose checksums were filled in */
	uint64_t tx_sw_tso;		/**< TSO frames segmented */
	uint64_t tx_tso_segs;		/**< segments they became */
	uint64_t tx_offload_bad;	/**< dropped: offload not possible */
	uint64_t tx_send_errors;	/**< packets the channel failed to send */
	/* guest completions of receive-buffer batches read on this channel */
	uint64_t comp_ok;
	uint64_t comp_bad;		/**< unknown, duplicate or malformed */
	uint64_t comp_ring_full;	/**< dropped: partition's ring full */
};

/** NIC-wide counters. */
struct vmbs_nv_stats {
	uint64_t nvsp_msgs;		/**< control messages handled */
	uint64_t nvsp_bad;		/**< malformed or unsupported */
	uint64_t nvsp_out_of_order;	/**< refused: wrong state or channel */
	uint64_t nvsp_buf_failures;	/**< buffer maps refused */
	uint64_t rndis_ctl;		/**< RNDIS control requests */
	uint64_t rndis_ctl_bad;		/**< malformed RNDIS control */
	uint64_t rndis_unsupported;	/**< QUERY/SET answered NOT_SUPPORTED */
	uint64_t rndis_invalid;		/**< SET answered INVALID_DATA */
	uint64_t ctl_replies;		/**< replies sent */
	uint64_t ctl_backlogged;	/**< replies that waited for a slot */
	uint64_t ctl_dropped;		/**< requests failed: backlog full */
	uint64_t ctl_comp_bad;		/**< bad completions of control slots */
	uint64_t status_indications;	/**< INDICATE_STATUS sent */
	uint64_t subchannels;		/**< subchannels allocated (all time) */
};

struct vmbs_nv;

/**
 * Create a NIC. Its channels exist once the device is added to a VM.
 *
 * @return
 *   the NIC, or NULL with rte_errno EINVAL or ENOMEM.
 */
struct vmbs_nv *vmbs_nv_create(const struct vmbs_nv_params *p);

/**
 * The lib/vm device of @p nic: pass it to vmbs_srv_add_device() or
 * vmbs_vm_add_device(); valid until vmbs_nv_free().
 */
const struct vmbs_dev_desc *vmbs_nv_dev_desc(struct vmbs_nv *nic);

/**
 * Free a NIC that is not (or no longer) assigned to a VM. NULL: no-op.
 */
void vmbs_nv_free(struct vmbs_nv *nic);

/**
 * Poll queue @p q: guest completions for this queue's receive-buffer
 * partition, then channel q (guest requests -> rx_frames, control
 * messages on the primary). Queue owner.
 *
 * @return
 *   guest packets handled (>= 0); 0 when the channel is not open.
 */
int vmbs_nv_poll(struct vmbs_nv *nic, uint16_t q, uint32_t budget);

/**
 * Write what queue @p q has queued for the guest (deliveries of
 * vmbs_nv_tx_burst(), completions) without reading guest packets. Same
 * rule as vmbs_nv_poll(): the queue's one poller at a time.
 */
void vmbs_nv_flush(struct vmbs_nv *nic, uint16_t q);

/**
 * Interrupt mode for queue @p q (queue owner, like vmbs_nv_poll()): park
 * channel q so the guest's next packet rings its g2h doorbell, and give
 * the channel's interrupt epoll set in @p intr_fd (it changes when the
 * guest reconnects; valid while the channel exists).
 *
 * @return
 *   as vmbs_chan_rx_intr_enable(): 0 parked, 1 work already there,
 *   -ENOTCONN no open channel (@p intr_fd is -1), -ENOTSUP the guest has
 *   no doorbell, -EPROTO ring failed.
 */
int vmbs_nv_rx_intr_enable(struct vmbs_nv *nic, uint16_t q, int *intr_fd);

/** Leave interrupt mode on queue @p q (queue owner). */
void vmbs_nv_rx_intr_disable(struct vmbs_nv *nic, uint16_t q);

/**
 * @return
 *   the channel vmbs_nv_tx_burst(@p nic, @p q) sends on now (q modulo the
 *   queues the guest allocated, or 0 if that channel is not open).
 */
uint16_t vmbs_nv_tx_channel(const struct vmbs_nv *nic, uint16_t q);

/**
 * Complete a guest request given to rx_frames. Any lcore.
 *
 * @param req
 *   the request.
 * @param ok
 *   true: NVSP status SUCCESS; false: FAIL (the guest counts a send error).
 */
void vmbs_nv_req_done(struct vmbs_rx *req, bool ok);

/**
 * Deliver frames to the guest on queue @p q (mapped onto the queues the
 * guest has: q % allocated): each is copied into a receive-buffer slot
 * behind an RNDIS PACKET header with its PPIs; one transfer-page packet
 * per burst (up to 375 frames). One thread per queue at a time.
 *
 * @return
 *   frames consumed: delivered, plus dropped and counted (packet filter,
 *   RNDIS not up or no receive buffer, larger than a slot, bad iov). Fewer
 *   than @p n only when the queue's slots or packet objects ran out (the
 *   guest has not completed earlier deliveries yet): retry later.
 */
uint16_t vmbs_nv_tx_burst(struct vmbs_nv *nic, uint16_t q,
			  const struct vmbs_nv_txframe *f, uint16_t n);

/**
 * Host-side link state; sends INDICATE_STATUS MEDIA_CONNECT/DISCONNECT to
 * the guest when RNDIS is up and the state changes. Starts up. Any thread.
 */
void vmbs_nv_link_set(struct vmbs_nv *nic, bool up);

/** Snapshot of the guest-visible state. Any thread. */
void vmbs_nv_state_get(const struct vmbs_nv *nic, struct vmbs_nv_state *st);

/** Sum (q < 0) or one queue's counters. Any thread. */
int vmbs_nv_queue_stats_get(const struct vmbs_nv *nic, int q,
			    struct vmbs_nv_queue_stats *st);

/** NIC-wide counters. Any thread. */
void vmbs_nv_stats_get(const struct vmbs_nv *nic, struct vmbs_nv_stats *st);

/**
 * The guest queue its RSS indirection table picks for @p hash (Toeplitz
 * over the guest's key), or hash % queues when RSS is off. Any thread.
 */
uint16_t vmbs_nv_rss_queue(const struct vmbs_nv *nic, uint32_t hash);

/**
 * The guest queue for host-to-guest frame @p frame (@p len bytes from its
 * Ethernet header): Toeplitz over IPv4/IPv6 addresses, and TCP ports when
 * the guest's hash types include them, with the guest's key and
 * indirection table, as Hyper-V's switch spreads a VM's receive traffic.
 * Frames it cannot hash (RSS off, one queue, not IP) go to queue 0 with
 * *@p hash_info 0; otherwise *@p hash and *@p hash_info are what the
 * guest gets in the HASH_VALUE and HASH_INFO PPIs. Any thread; a
 * concurrent RSS change makes a frame land on an old or a new queue.
 */
uint16_t vmbs_nv_rss_pick(const struct vmbs_nv *nic, const void *frame, uint32_t len,
			  uint32_t *hash, uint32_t *hash_info);

#endif /* VMBS_NETVSP_H */
