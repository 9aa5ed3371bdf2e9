/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * vmbus-srvd: the standalone server. Shared definitions of its parts:
 * config.c (configuration file and defaults), bridge.c (MAC table, see
 * srvd_bridge.h), fwd.c (poll loops and forwarding), stats.c (rate line
 * and summary) and main.c (set-up and teardown).
 *
 * Threading: the configuration is read once, before the EAL starts. Each
 * polling lcore owns its struct srvd_lcore (counters included, single
 * writer, read by the main lcore with relaxed loads). Port link flags are
 * written by the interrupt thread (LSC callback) and read by pollers.
 * An administrative link change (SIGUSR1/SIGUSR2) flags the port on the
 * main lcore, waits for every worker poller to report a quiescent state
 * (rte_rcu_qsbr, one report per pass over its queues), then stops or
 * starts the port.
 */

#ifndef VMBUS_SRVD_H
#define VMBUS_SRVD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include <rte_config.h>
#include <rte_spinlock.h>

#include "vmbs_config.h"

struct rte_device;
struct rte_mbuf;
struct rte_mempool;
struct rte_rcu_qsbr;
struct srvd_mac_table;
struct vmbs_srv;

#define SRVD_MAX_NICS 64
/* Guest NICs plus one uplink. */
#define SRVD_MAX_PORTS (SRVD_MAX_NICS + 1)
#define SRVD_MAX_EAL_ARGS 32
/* Most entries in each attach allow list. */
#define SRVD_MAX_ACL 16
/* (port, queue) pairs one lcore polls at most. */
#define SRVD_MAX_POLL 512
/* Queues per port (VMBS_MAX_QUEUES channels for guest NICs). */
#define SRVD_MAX_PORT_QUEUES 64
/* Data room of the pool's mbufs (after RTE_PKTMBUF_HEADROOM), bytes. */
#define SRVD_MBUF_SIZE_DEFAULT 2048
#define SRVD_MBUF_SIZE_MIN 1024
#define SRVD_MBUF_SIZE_MAX (UINT16_MAX - RTE_PKTMBUF_HEADROOM)

struct srvd_nic {
	char section[64];	/* [nicN] */
	char devargs[512];	/* the section's keys as net_vmbus_srv devargs */
	uint16_t queues;
};

struct srvd_config {
	char path[4096];
	/* [server] */
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uid_t socket_owner;	/* (uid_t)-1: the server's own */
	gid_t socket_group;	/* (gid_t)-1: none, mode 0600 */
	uid_t allow_uids[SRVD_MAX_ACL];
	unsigned int nb_allow_uids;
	gid_t allow_gids[SRVD_MAX_ACL];
	unsigned int nb_allow_gids;
	uint32_t duration_s;	/* 0 = until a signal */
	uint32_t stats_period_s;	/* 0 = no rate line */
	/* [bridge] */
	uint32_t mac_aging_s;	/* 0 = entries never age */
	uint32_t mac_table_size;
	uint32_t burst;
	uint32_t tx_retries;
	uint32_t tx_retry_delay_us;
	uint32_t tx_stall_retries;	/* retries in a row sending nothing: stalled */
	uint32_t mbufs;		/* 0 = sized from the ports */
	uint32_t mbuf_size;	/* data room after the headroom, bytes */
	uint32_t rx_desc;
	uint32_t tx_desc;
	/* [eal] */
	char eal_args[1024];
	char service_lcores[128];	/* "" = no service lcore */
	/* [uplink] */
	char uplink[512];	/* devargs; "" = no uplink */
	uint16_t uplink_queues;
	uint32_t uplink_mtu;	/* 0 = the driver's */
	/* [nicN] */
	unsigned int nb_nics;
	struct srvd_nic nics[SRVD_MAX_NICS];
};

/* Put the defaults documented in docs/vmbus-srvd.md into @p cfg. */
void srvd_config_defaults(struct srvd_config *cfg);

/* Load @p path over @p cfg; on error print one line and return -1. */
int srvd_config_load(const char *path, struct srvd_config *cfg);

/* Check a decimal u32 option value; -1 with a message on garbage. */
int srvd_parse_u32(const char *what, const char *s, uint32_t max, uint32_t *out);

/* Drops and frames of one port as seen by one lcore. */
struct srvd_counters {
	uint64_t rx_pkts;	/* frames received from the port */
	uint64_t rx_bytes;
	uint64_t tx_pkts;	/* frames the port's Tx accepted */
	uint64_t tx_bytes;
	uint64_t flooded;	/* received frames sent to every other port */
	/* received frames dropped, by cause */
	uint64_t drop_same_port;	/* destination lives behind this port */
	uint64_t drop_bad_src;		/* group or zero source MAC */
	uint64_t drop_runt;		/* shorter than an Ethernet header */
	uint64_t drop_no_port;		/* flood with no other port up */
	/* frames for this port dropped, by cause */
	uint64_t drop_tx_full;		/* Tx refused them after every retry */
	uint64_t drop_link_down;	/* unicast while the link is down */
	uint64_t drop_vlan;		/* VLAN tag to a port without VLAN insert */
	uint64_t drop_multiseg;		/* chain to a port without MULTI_SEGS, no copy */
	uint64_t tx_copied;		/* chains copied for such a port */
	uint64_t drop_offload;		/* uplink: offload request not doable */
	uint64_t tx_sw_offload;		/* uplink: frames offloaded in software */
	uint64_t tx_sw_segs;		/* uplink: frames they became */
	/* received frames carrying the guest's per-packet offload info */
	uint64_t rx_vlan;		/* 802.1Q PPI: tag taken off */
	uint64_t rx_csum;		/* checksum request PPI (IP, TCP or UDP) */
	uint64_t rx_tso;		/* LSO request PPI */
};

enum srvd_port_kind {
	SRVD_PORT_GUEST,	/* a net_vmbus_srv port ([nicN]) */
	SRVD_PORT_UPLINK,	/* any DPDK port ([uplink]) */
};

struct srvd_port {
	uint16_t port_id;
	enum srvd_port_kind kind;
	char name[64];		/* ethdev name */
	char section[64];	/* [nicN] or [uplink] */
	uint16_t nb_rxq;
	uint16_t nb_txq;
	bool tx_shared;		/* more pollers than Tx queues: lock them */
	bool vlan_insert;	/* Tx inserts RTE_MBUF_F_TX_VLAN tags */
	bool multiseg;		/* Tx takes mbuf chains */
	bool lsc;		/* link changes are reported */
	bool probed;		/* we created the device: we remove it */
	bool started;
	struct rte_device *dev;
	uint32_t link_up;	/* atomic: the bridge sends to it */
	uint32_t admin_down;	/* atomic: taken down by SIGUSR1; pollers skip it */
	rte_spinlock_t txq_lock[SRVD_MAX_PORT_QUEUES];
};

struct srvd_poll {
	uint16_t port;		/* index into srvd_state.ports */
	uint16_t queue;
};

/* One polling lcore; written only by it (counters read by main). */
struct srvd_lcore {
	unsigned int lcore_id;
	unsigned int poller;	/* 0 .. nb_pollers - 1 */
	uint16_t nb_poll;
	struct srvd_poll poll[SRVD_MAX_POLL];
	uint16_t txq[SRVD_MAX_PORTS];	/* this lcore's Tx queue per port */
	struct srvd_counters cnt[SRVD_MAX_PORTS];
	/* Frames of the current burst per destination port. */
	uint16_t nb_pend[SRVD_MAX_PORTS];
	/* A destination that stopped taking frames: one try per flush, no retry. */
	bool tx_stalled[SRVD_MAX_PORTS];
	struct rte_mbuf *pend[SRVD_MAX_PORTS][VMBS_MAX_BURST];
};

struct srvd_state {
	const struct srvd_config *cfg;
	struct srvd_mac_table *macs;
	struct rte_mempool *pool;
	uint64_t hz;
	uint16_t nb_ports;
	struct srvd_port ports[SRVD_MAX_PORTS];
	unsigned int nb_pollers;
	struct srvd_lcore *pollers[RTE_MAX_LCORE];
	/* Worker pollers report a quiescent state after every pass (NULL: main polls). */
	struct rte_rcu_qsbr *qsbr;
	struct vmbs_srv *srv;	/* the attach server (rate line: VMs attached) */
	uint32_t stop;		/* atomic: pollers leave their loops */
	bool main_polls;	/* no worker lcore: main polls between housekeeping */
};

/* fwd.c */

/* Poll @p lc's queues until srvd_state.stop; the lcore entry point. */
int srvd_poll_lcore(void *arg);

/* One pass over @p lc's queues (the main lcore's polling step). */
void srvd_poll_once(struct srvd_state *s, struct srvd_lcore *lc);

/* Set srvd_state pointer for the lcore entry points. */
void srvd_fwd_init(struct srvd_state *s);

/* stats.c */

/* Sum of every lcore's counters for port @p p. */
void srvd_counters_sum(const struct srvd_state *s, uint16_t p, struct srvd_counters *out);

/*
 * Print the rate line since the previous call (@p secs apart), with the
 * mbufs in use and the VMs attached (and released but still referenced).
 */
void srvd_stats_rate(const struct srvd_state *s, double secs);

/* Print the exit summary (ports still started). */
void srvd_stats_summary(const struct srvd_state *s, double secs);

#endif /* VMBUS_SRVD_H */
