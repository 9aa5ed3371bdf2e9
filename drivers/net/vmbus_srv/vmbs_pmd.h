/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Private definitions of the net_vmbus_srv PMD: one ethdev port per
 * synthetic NIC offered to a guest. Directions by role: PMD Rx is
 * guest-to-host (g2h, what the server consumes), PMD Tx is host-to-guest
 * (h2g, what the server produces). Queue i is VMBus channel i (0 = the
 * primary channel, 1.. = subchannels).
 */

#ifndef VMBS_PMD_H
#define VMBS_PMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_spinlock.h>
#include <rte_uuid.h>

#include "vmbs_config.h"
#include "vmbs_netvsp.h"

#define VMBS_PMD_NAME net_vmbus_srv

/* devargs keys; documented in docs/pmd.md and RTE_PMD_REGISTER_PARAM_STRING. */
#define VMBS_ARG_SOCKET "socket"
#define VMBS_ARG_MAC "mac"
#define VMBS_ARG_INSTANCE "instance"
#define VMBS_ARG_QUEUES "queues"
#define VMBS_ARG_COPYBREAK "copybreak"
#define VMBS_ARG_ORDERING "ordering"
#define VMBS_ARG_MTU "mtu"
#define VMBS_ARG_VM "vm"
#define VMBS_ARG_TX_RSS "tx_rss"

/* Defaults, each justified where the knob is used. */
#define VMBS_DEFAULT_SOCKET "/run/vmbus-srv/attach.sock"
/* bench_copybreak: attaching is cheaper than copying from 384 bytes. */
#define VMBS_DEFAULT_COPYBREAK 384u
#define VMBS_DEFAULT_MTU RTE_ETHER_MTU
/* Largest MTU guests negotiate with Hyper-V hosts (OpenVMM accepts to 9216). */
#define VMBS_MAX_MTU 9216u
#define VMBS_MAX_COPYBREAK 65535u

/* In-order delivery of pending external data parks its queue (KMCL-like). */
enum vmbs_ordering {
	VMBS_ORDER_STRICT,	/* pending packet blocks later ones on its channel */
	VMBS_ORDER_RELAXED,	/* later packets may overtake a pending one */
};

/* A port's configuration, parsed and validated from devargs at probe. */
struct vmbs_eth_args {
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char vm[64];		/* VM the NIC is offered to; default: port name */
	struct rte_ether_addr mac;
	bool mac_set;
	rte_uuid_t instance;
	bool instance_set;
	uint16_t queues;	/* channels offered: 1 primary + queues-1 subchannels */
	uint16_t mtu;
	uint32_t copybreak;	/* frames below this are copied, not attached */
	enum vmbs_ordering ordering;
	bool tx_rss;		/* Tx picks the guest queue by its RSS table */
};

/* Parse @p args (may be NULL or empty) for port @p name; 0 or -EINVAL. */
int vmbs_eth_args_parse(const char *name, const char *args, struct vmbs_eth_args *out);

/* The keys accepted, for error messages. */
extern const char *const vmbs_eth_valid_args[];

/* Rx counters, written by the queue's polling lcore only. */
struct vmbs_eth_rxq_stats {
	uint64_t packets;	/* delivered to the application */
	uint64_t bytes;
	uint64_t zero_copy;	/* frames attached over guest memory */
	uint64_t copied;	/* frames below copybreak, copied */
	uint64_t nombuf;	/* frames dropped: mempool empty */
	uint64_t slow_path_runs; /* slow-path iterations run from this queue */
};

/* mbufs per guest request at most: 8 frames of up to 64 runs, each run
 * split at 64 KiB (mbuf buf_len is 16 bits).
 */
#define VMBS_RX_PER_REQ_MAX (8u * 64u * 2u)
/* Frames waiting for the application (one poll's worth, whole requests). */
#define VMBS_RX_STASH 16384u

struct vmbs_eth_priv;

struct vmbs_eth_rxq {
	/* Taken (try-lock) by the Rx burst, and by a Tx burst short of
	 * receive slots that reads the guest's acks itself: one poller per
	 * channel and per stash at a time, never waiting.
	 */
	rte_spinlock_t lock;
	struct vmbs_eth_priv *priv;
	struct rte_mempool *mb_pool;
	uint16_t port_id;
	uint16_t queue_id;
	uint32_t copybreak;
	bool iova_is_va;	/* attached frames carry a DMA-able IOVA */
	bool sp_on_service_lcore;	/* cached: a service lcore runs the slow path */
	uint32_t sp_recheck;		/* rx_slow_path() calls until the next look */
	uint32_t polls;
	uint32_t idle_seen;		/* polls at the last idle-poll tick */
	uint64_t idle_polls;		/* channels polled by the idle tick */
	uint32_t stash_head;
	uint32_t stash_n;
	struct vmbs_eth_rxq_stats stats;
	struct rte_mbuf *stash[VMBS_RX_STASH];
} __rte_cache_aligned;

struct vmbs_eth_txq {
	struct vmbs_eth_priv *priv;
	uint16_t port_id;
	uint16_t queue_id;
	uint64_t multiseg_linearize_fail;	/* chains longer than the iov limit */
	uint64_t ack_reaps;			/* Tx read the guest's acks itself */
} __rte_cache_aligned;

/* A guest request whose frames are attached to mbufs: completed to the
 * guest when the last of them is freed (shinfo's free callback).
 */
struct vmbs_eth_req {
	struct rte_mbuf_ext_shared_info shinfo;
	struct vmbs_rx *req;
	struct vmbs_eth_owner *owner;
	uint16_t rxq;		/* Rx queue to wake if it sleeps (interrupt mode) */
};

/* Rx interrupt mode: what the last free of a request needs to wake the
 * queue that must write its completion (vmbs_intr.c).
 */
struct vmbs_eth_wake {
	uint32_t armed;		/* the application sleeps on this queue */
	int efd;		/* eventfd in the queue's epoll set, or -1 */
};

/*
 * What attached mbufs need after their port is gone: the request pool
 * and the attach-server reference (which keeps the VM's memory mapped).
 * Allocated apart from dev_private, which ethdev frees at close. One
 * reference for the port plus one per outstanding request; whoever drops
 * the last frees the pool, releases the server and frees the owner.
 */
struct vmbs_eth_owner {
	uint32_t refs;			/* atomic */
	uint32_t outstanding;		/* requests held by mbufs (atomic) */
	struct rte_mempool *req_pool;	/* struct vmbs_eth_req */
	struct vmbs_srv *srv;		/* shared attach server (per socket) */
	uint16_t port_id;		/* for logs */
	struct vmbs_eth_wake wake[VMBS_MAX_QUEUES];
};

void vmbs_eth_owner_put(struct vmbs_eth_owner *o);

struct vmbs_srv;

struct vmbs_eth_priv {
	struct vmbs_eth_args args;
	uint16_t port_id;
	bool started;
	bool admin_down;		/* rte_eth_dev_set_link_down() */
	struct rte_eth_dev *dev;
	struct vmbs_eth_owner *owner;	/* server and request pool */
	struct vmbs_nv *nic;		/* the netvsp engine of this port */
	bool dev_added;			/* registered with the server */
	uint32_t link_status;		/* last reported (atomic) */
	uint64_t req_nomem;		/* requests refused: req_pool empty */
	struct {			/* engine counters at the last reset */
		uint64_t opackets, obytes, oerrors, ierrors;
	} stats_base;
	struct {			/* Rx interrupt mode (vmbs_intr.c) */
		struct rte_intr_handle *handle;
		uint16_t nb;		/* queues set up */
		int epfd[VMBS_MAX_QUEUES];	/* per queue, given to ethdev */
		int timerfd[VMBS_MAX_QUEUES];
	} intr;
};

/* Engine callbacks (vmbs_rxtx.c). */
void vmbs_eth_rx_frames(void *arg, uint16_t queue, struct vmbs_rx *req,
			const struct vmbs_nv_frame *frames, uint32_t n);
uint32_t vmbs_eth_link_state(const struct vmbs_eth_priv *priv);

/* Rx interrupt mode (vmbs_intr.c). */
struct rte_eth_dev;
void vmbs_eth_intr_init(struct vmbs_eth_priv *priv);
int vmbs_eth_intr_setup(struct rte_eth_dev *dev);
void vmbs_eth_intr_teardown(struct rte_eth_dev *dev);
int vmbs_eth_rx_intr_enable(struct rte_eth_dev *dev, uint16_t q);
int vmbs_eth_rx_intr_disable(struct rte_eth_dev *dev, uint16_t q);

/* Interrupt thread: poll Rx queues the application leaves alone. */
#define VMBS_IDLE_POLL_MS 10u
void vmbs_eth_idle_poll(struct vmbs_eth_priv *priv);

uint16_t vmbs_eth_rx_burst(void *rxq, struct rte_mbuf **pkts, uint16_t n);
uint16_t vmbs_eth_tx_burst(void *txq, struct rte_mbuf **pkts, uint16_t n);

#endif /* VMBS_PMD_H */
