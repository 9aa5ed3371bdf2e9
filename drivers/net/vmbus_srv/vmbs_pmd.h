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
#include <rte_uuid.h>

#include "vmbs_config.h"

#define VMBS_PMD_NAME net_vmbus_srv

/* devargs keys; documented in docs/pmd.md and RTE_PMD_REGISTER_PARAM_STRING. */
#define VMBS_ARG_SOCKET "socket"
#define VMBS_ARG_MAC "mac"
#define VMBS_ARG_INSTANCE "instance"
#define VMBS_ARG_QUEUES "queues"
#define VMBS_ARG_COPYBREAK "copybreak"
#define VMBS_ARG_ORDERING "ordering"
#define VMBS_ARG_MTU "mtu"

/* Defaults, each justified where the knob is used. */
#define VMBS_DEFAULT_SOCKET "/run/vmbus-srv/attach.sock"
#define VMBS_DEFAULT_COPYBREAK 256u
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
	struct rte_ether_addr mac;
	bool mac_set;
	rte_uuid_t instance;
	bool instance_set;
	uint16_t queues;	/* channels offered: 1 primary + queues-1 subchannels */
	uint16_t mtu;
	uint32_t copybreak;	/* frames below this are copied, not attached */
	enum vmbs_ordering ordering;
};

/* Parse @p args (may be NULL or empty) for port @p name; 0 or -EINVAL. */
int vmbs_eth_args_parse(const char *name, const char *args, struct vmbs_eth_args *out);

/* The keys accepted, for error messages. */
extern const char *const vmbs_eth_valid_args[];

struct vmbs_eth_queue_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t errors;
};

struct vmbs_eth_rxq {
	uint16_t port_id;
	uint16_t queue_id;
	struct rte_mempool *mb_pool;
	struct vmbs_eth_queue_stats stats;	/* written by the polling lcore only */
} __rte_cache_aligned;

struct vmbs_eth_txq {
	uint16_t port_id;
	uint16_t queue_id;
	struct vmbs_eth_queue_stats stats;	/* written by the polling lcore only */
} __rte_cache_aligned;

struct vmbs_eth_priv {
	struct vmbs_eth_args args;
	uint16_t port_id;
	bool started;
};

uint16_t vmbs_eth_rx_burst(void *rxq, struct rte_mbuf **pkts, uint16_t n);
uint16_t vmbs_eth_tx_burst(void *txq, struct rte_mbuf **pkts, uint16_t n);

#endif /* VMBS_PMD_H */
