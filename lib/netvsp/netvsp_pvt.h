/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * netvsp internals shared by netvsp.c (NVSP, channels, data path) and
 * ctl.c (RNDIS control, control slots).
 *
 * Who writes what:
 *  - Protocol state (nvsp_ver, ndis_*, buffers, n_alloc, n_parts) changes
 *    on the primary's poll lcore (INIT, NDIS_*) or on the control thread
 *    with the data path quiesced (nv_quiesce(): every channel's poll gate
 *    held, every partition lock and the control lock taken).
 *  - RNDIS state (rndis_up, filter, mcast, rss, offload) changes on the
 *    primary's poll lcore under ctl_lock; data-path readers take relaxed
 *    snapshots (a frame racing a filter change may see either value).
 *  - Receive-buffer partition p: under parts[p].lock; guest completions
 *    reach it through parts[p].comp (MP enqueue from any channel's poll,
 *    SC dequeue under the lock). Control slots: under ctl_lock.
 */

#ifndef VMBS_NETVSP_PVT_H
#define VMBS_NETVSP_PVT_H

#include <stdbool.h>
#include <sys/uio.h>

#include <rte_common.h>
#include <rte_log.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "vmbs_gpadl.h"
#include "vmbs_netvsp.h"
#include "vmbs_nvsp.h"
#include "vmbs_rxbuf.h"
#include "vmbs_txoff.h"

extern int vmbs_nv_logtype;
#define NV_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, vmbs_nv_logtype, "netvsp: " fmt "\n", ##__VA_ARGS__)

/* Bytes of a GPA-direct PACKET copied to private memory for its header
 * and PPIs (DPDK and Linux use < 200).
 */
#define NV_HEAD_MAX 512u
/* Segments a request may span: a section (a GPADL discontinuity may cut
 * it) plus the GPA ranges lib/chan merged.
 */
#define NV_REQ_MAX_SEGS (VMBS_NV_FRAME_MAX_SEGS + 4u)

/* Receive-buffer partition guard. */
struct nv_part {
	rte_spinlock_t lock;
	struct rte_ring *comp;		/* trans_ids from any channel */
	struct vmbs_nv *nic;
	uint16_t idx;
} __rte_cache_aligned;

struct nv_queue {
	/* Poller hand-off with the control thread (Dekker, seq-cst):
	 * Q0 poller stores busy=1 then loads chan; Q1 detach stores
	 * chan=NULL then waits for busy==0.
	 */
	uint32_t busy;
	struct vmbs_chan *chan;
	struct vmbs_nv *nic;
	uint16_t idx;
	bool open;
	struct vmbs_nv_queue_stats st;
	/* Poll-lcore scratch, valid during one callback. */
	struct vmbs_nv_frame frames[VMBS_NV_MAX_PKT_PER_MSG];
	struct vmbs_seg req_seg[NV_REQ_MAX_SEGS];
	struct vmbs_seg frame_seg[VMBS_NV_MAX_PKT_PER_MSG][VMBS_NV_FRAME_MAX_SEGS];
	uint8_t sect[VMBS_NV_SEND_SECTION_SIZE];
	uint8_t head[NV_HEAD_MAX];
} __rte_cache_aligned;

/* A reply waiting for a control slot. */
struct nv_ctl_pending {
	uint32_t len;
	uint8_t buf[VMBS_NV_CTL_MAX];
};

struct vmbs_nv {
	struct vmbs_rxbuf rb;		/* 64-byte aligned (first member) */
	struct vmbs_nv_params p;
	char name[16];
	char vm_name[VMBS_VM_NAME_MAX];
	struct vmbs_dev_desc desc;
	uint32_t slot_size;
	uint32_t mtu;

	/* NVSP */
	uint32_t nvsp_ver;
	uint32_t ndis_ver;
	uint32_t guest_mtu;
	uint64_t guest_caps;
	bool ndis_config_seen;
	bool ndis_ver_seen;
	struct vmbs_gpadl_table *tbl;	/* of the open primary */
	bool recv_ready;		/* receive buffer mapped, rb valid */
	uint32_t recv_gpadl;
	uint16_t recv_id;
	const struct vmbs_gpadl_mapping *recv_map;
	bool send_ready;
	uint32_t send_gpadl;
	uint16_t send_id;
	uint32_t send_sections;
	const struct vmbs_gpadl_mapping *send_map;
	uint16_t n_alloc;		/* queues allocated: 1 + subchannels */
	uint16_t n_parts;		/* receive-buffer data partitions */

	/* RNDIS (ctl_lock) */
	rte_spinlock_t ctl_lock;
	bool rndis_up;
	bool link_up;			/* host side */
	bool link_reported;		/* last state indicated to the guest */
	uint32_t filter;
	uint32_t n_mcast;
	uint8_t mcast[VMBS_NV_MCAST_MAX][6];
	bool rss_enabled;
	uint32_t rss_hash_info;
	uint32_t rss_table_cnt;
	uint32_t rss_table[VMBS_NDIS_RSS_TABLE_MAX];
	uint8_t rss_key[VMBS_NDIS_RSS_KEY_SIZE];
	struct vmbs_ndis_offload_params offload;
	uint8_t ctl_req[VMBS_NV_CTL_MAX];	/* primary poll lcore only */
	uint8_t ctl_reply[VMBS_NV_CTL_MAX];	/* under ctl_lock */
	uint32_t n_pending;
	uint32_t pending_head;
	struct nv_ctl_pending pending[VMBS_NV_CTL_BACKLOG];

	struct vmbs_nv_stats st;
	struct nv_part parts[VMBS_NV_MAX_QUEUES];
	struct nv_queue q[VMBS_NV_MAX_QUEUES];
};

/* netvsp.c */
void nv_fail_nvsp(struct vmbs_rx *rx, uint32_t type);
/* to_map: @p buf -> mapping (receive buffer), else mapping -> @p buf. */
int nv_buf_copy(const struct vmbs_gpadl_mapping *m, uint64_t off, void *buf,
		uint32_t len, bool to_map);
uint32_t nv_gather(const struct vmbs_seg *seg, uint32_t nseg, uint64_t off,
		   void *dst, uint32_t len);
int nv_map_segs(const struct vmbs_gpadl_mapping *m, uint64_t off, uint32_t len,
		struct vmbs_seg *out, uint32_t max);
void nv_event(struct vmbs_nv *nic, enum vmbs_nv_event ev);

/* ctl.c */
void nv_ctl_request(struct vmbs_nv *nic, struct nv_queue *nq, struct vmbs_rx *rx,
		    const struct vmbs_nvsp_rndis_pkt *m, uint32_t flags);
int nv_ctl_send(struct vmbs_nv *nic, const void *msg, uint32_t len);
void nv_ctl_comp(struct vmbs_nv *nic, uint64_t trans_id);
void nv_ctl_reset(struct vmbs_nv *nic);
void nv_ctl_link_indicate(struct vmbs_nv *nic);

#endif /* VMBS_NETVSP_PVT_H */
