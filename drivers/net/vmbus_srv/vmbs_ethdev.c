/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * net_vmbus_srv: probe and remove, devargs, eth_dev_ops and statistics.
 * The burst functions live in vmbs_rxtx.c; the protocol work in lib/.
 */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_alarm.h>
#include <rte_cycles.h>
#include <rte_service.h>
#include <rte_common.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>

#include "vmbs_chan.h"
#include "vmbs_logs.h"
#include "vmbs_pmd.h"
#include "vmbs_server.h"

RTE_LOG_REGISTER_SUFFIX(vmbs_eth_logtype_init, init, NOTICE);
RTE_LOG_REGISTER_SUFFIX(vmbs_eth_logtype_driver, driver, NOTICE);

static void eth_slow_path_flush(void);

/* The interrupt thread: LSC callbacks run where applications expect. */
static void
eth_lsc_alarm(void *arg)
{
	struct rte_eth_dev *dev = arg;

	rte_eth_dev_callback_process(dev, RTE_ETH_EVENT_INTR_LSC, NULL);
}

/* Recompute the link from the guest's state; LSC if it changed. */
static void
eth_link_refresh(struct rte_eth_dev *dev, bool notify)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	struct rte_eth_link link = {
		.link_speed = RTE_ETH_SPEED_NUM_10G,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
	};
	uint32_t now = vmbs_eth_link_state(priv);
	uint32_t old = __atomic_exchange_n(&priv->link_status, now, __ATOMIC_ACQ_REL);

	link.link_status = (uint16_t)now;
	if (now == RTE_ETH_LINK_DOWN)
		link.link_speed = RTE_ETH_SPEED_NUM_NONE;
	rte_eth_linkstatus_set(dev, &link);
	if (notify && now != old && dev->data->dev_conf.intr_conf.lsc)
		rte_eal_alarm_set(1, eth_lsc_alarm, dev);
}

/* Engine events (poll lcore or control thread): the link may change. */
static void
eth_nv_event(void *arg, enum vmbs_nv_event ev __rte_unused)
{
	struct vmbs_eth_priv *priv = arg;

	eth_link_refresh(priv->dev, true);
}

static int
eth_dev_configure(struct rte_eth_dev *dev)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;

	/* Queue i is channel i: there are exactly as many as were offered. */
	if (dev->data->nb_rx_queues > priv->args.queues ||
	    dev->data->nb_tx_queues > priv->args.queues) {
		VMBS_DRV_LOG(ERR, "port %u: %u rx / %u tx queues requested, %u channels offered",
			     dev->data->port_id, dev->data->nb_rx_queues,
			     dev->data->nb_tx_queues, priv->args.queues);
		return -EINVAL;
	}
	return vmbs_eth_intr_setup(dev);
}

static int
eth_dev_infos_get(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;

	info->max_mac_addrs = 1;
	info->max_rx_queues = priv->args.queues;
	info->max_tx_queues = priv->args.queues;
	info->min_rx_bufsize = 0;
	info->max_rx_pktlen = (uint32_t)priv->args.mtu + RTE_ETHER_HDR_LEN +
			      RTE_VLAN_HLEN;
	info->min_mtu = RTE_ETHER_MIN_MTU;
	info->max_mtu = priv->args.mtu;
	/* Guest offload requests arrive as mbuf flags (see docs/pmd.md). */
	info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_VLAN_STRIP |
				RTE_ETH_RX_OFFLOAD_RSS_HASH |
				RTE_ETH_RX_OFFLOAD_SCATTER;
	/* Checksums and TSO are done in software while frames are copied
	 * into the guest's receive buffer (lib/netvsp txoff.c).
	 */
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
				RTE_ETH_TX_OFFLOAD_VLAN_INSERT |
				RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
				RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
				RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
				RTE_ETH_TX_OFFLOAD_TCP_TSO;
	info->flow_type_rss_offloads = 0;
	info->default_rxportconf.burst_size = VMBS_MAX_BURST;
	info->default_txportconf.burst_size = VMBS_MAX_BURST;
	info->default_rxportconf.nb_queues = 1;
	info->default_txportconf.nb_queues = 1;
	return 0;
}

static void
eth_idle_alarm(void *arg)
{
	struct rte_eth_dev *dev = arg;
	struct vmbs_eth_priv *priv = dev->data->dev_private;

	if (!priv->started)
		return;
	vmbs_eth_idle_poll(priv);
	rte_eal_alarm_set(VMBS_IDLE_POLL_MS * 1000, eth_idle_alarm, dev);
}

static int
eth_dev_start(struct rte_eth_dev *dev)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	uint16_t i;

	for (i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	priv->started = true;
	/* The guest sees its medium connect while the port runs. */
	vmbs_nv_link_set(priv->nic, !priv->admin_down);
	eth_link_refresh(dev, false);
	rte_eal_alarm_set(VMBS_IDLE_POLL_MS * 1000, eth_idle_alarm, dev);
	return 0;
}

static int
eth_dev_stop(struct rte_eth_dev *dev)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	uint16_t i;

	for (i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	priv->started = false;
	/* Waits for a tick in progress; none is set again after this. */
	rte_eal_alarm_cancel(eth_idle_alarm, dev);
	if (priv->nic != NULL)
		vmbs_nv_link_set(priv->nic, false);
	eth_slow_path_flush();	/* nobody polls from now on */
	eth_link_refresh(dev, false);
	return 0;
}

/*
 * The guest's medium, set by the application while the port keeps
 * running: unlike a stop, the guest's control requests are still
 * answered (a 22.11 netvsc guest waits 60 s for an unanswered query).
 */
static int
eth_dev_set_link(struct rte_eth_dev *dev, bool up)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;

	priv->admin_down = !up;
	if (priv->nic != NULL && priv->started)
		vmbs_nv_link_set(priv->nic, up);
	eth_link_refresh(dev, true);
	return 0;
}

static int
eth_dev_set_link_up(struct rte_eth_dev *dev)
{
	return eth_dev_set_link(dev, true);
}

static int
eth_dev_set_link_down(struct rte_eth_dev *dev)
{
	return eth_dev_set_link(dev, false);
}

static void
eth_rx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	struct vmbs_eth_rxq *rxq = dev->data->rx_queues[qid];

	if (rxq == NULL)
		return;
	/* Frames never handed out: free them (completes their requests). */
	while (rxq->stash_n > 0) {
		rte_pktmbuf_free(rxq->stash[rxq->stash_head]);
		rxq->stash_head = (rxq->stash_head + 1) % VMBS_RX_STASH;
		rxq->stash_n--;
	}
	rte_free(rxq);
	dev->data->rx_queues[qid] = NULL;
}

static void
eth_tx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	rte_free(dev->data->tx_queues[qid]);
	dev->data->tx_queues[qid] = NULL;
}

static uint32_t eth_pool_serial;

/*
 * Withdraw the NIC from its VM (RESCIND; every poller leaves), free the
 * engine and drop the server reference. Requests still held by mbufs keep
 * their channel alive in lib/vm; their context pool is then left to them
 * (freed only when none is outstanding), never freed under them.
 */
static void
eth_engine_release(struct vmbs_eth_priv *priv)
{
	if (priv->dev_added) {
		vmbs_srv_remove_device(priv->owner->srv, vmbs_nv_dev_desc(priv->nic));
		priv->dev_added = false;
	}
	vmbs_nv_free(priv->nic);
	priv->nic = NULL;
	/* Unpins queued by completions made on this port's lcores. */
	eth_slow_path_flush();
	if (priv->owner != NULL) {
		uint32_t held = __atomic_load_n(&priv->owner->outstanding, __ATOMIC_RELAXED);

		if (held > 0)
			VMBS_DRV_LOG(INFO, "port %u closed with %u guest requests held by mbufs: the VM stays mapped until they are freed",
				     priv->port_id, held);
		vmbs_eth_owner_put(priv->owner);
		priv->owner = NULL;
	}
}

void
vmbs_eth_owner_put(struct vmbs_eth_owner *o)
{
	uint32_t i;

	/* Release: our uses of the pool happen before the last put's free. */
	if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	rte_mempool_free(o->req_pool);
	for (i = 0; i < RTE_DIM(o->wake); i++)
		if (o->wake[i].efd >= 0)
			close(o->wake[i].efd);
	if (o->srv != NULL)
		vmbs_srv_release(o->srv, 1000);
	rte_free(o);
}

/*
 * With no service lcore mapped, run the slow path here for a bounded time
 * so that unpins queued by the last completions are done before the port
 * stops polling (Rx bursts otherwise run it).
 */
static void
eth_slow_path_flush(void)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() / 50;	/* 20 ms */
	uint32_t id;

	if (vmbs_chan_sp_service_id(&id) != 0 || rte_service_may_be_active(id) == 1 ||
	    rte_lcore_id() == LCORE_ID_ANY)
		return;
	while (rte_get_timer_cycles() < end)
		if (rte_service_run_iter_on_app_lcore(id, 1) != 0)
			break;
}

/* Create the socket's directory if it is missing (e.g. /run/vmbus-srv). */
static void
eth_socket_dir(const char *path)
{
	char dir[sizeof(((struct vmbs_eth_args *)0)->socket)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		VMBS_INIT_LOG(DEBUG, "mkdir %s: %s", dir, strerror(errno));
}

/* Probe: join the attach server, create the engine, offer the NIC. */
static int
eth_engine_create(struct rte_eth_dev *dev, const char *name)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	struct vmbs_srv_params sp = { 0 };
	struct vmbs_nv_params np = { 0 };
	char pname[RTE_MEMPOOL_NAMESIZE];
	uint32_t i;
	int rc;

	priv->owner = rte_zmalloc("vmbs_owner", sizeof(*priv->owner), 0);
	if (priv->owner == NULL)
		return -ENOMEM;
	priv->owner->refs = 1;
	priv->owner->port_id = dev->data->port_id;
	for (i = 0; i < RTE_DIM(priv->owner->wake); i++)
		priv->owner->wake[i].efd = -1;
	/* A serial, not the port id: a closed port's pool may outlive it. */
	snprintf(pname, sizeof(pname), "vmbs_req_%u",
		 __atomic_fetch_add(&eth_pool_serial, 1, __ATOMIC_RELAXED));
	/* One context per outstanding guest request: quota per channel. */
	priv->owner->req_pool = rte_mempool_create(pname,
			(uint32_t)priv->args.queues * VMBS_NV_DEFAULT_QUOTA + 64,
			sizeof(struct vmbs_eth_req), 32, 0, NULL, NULL, NULL, NULL,
			(int)rte_socket_id(), 0);
	if (priv->owner->req_pool == NULL) {
		VMBS_INIT_LOG(ERR, "%s: cannot create the request pool: %s", name,
			      rte_strerror(rte_errno));
		return -ENOMEM;
	}
	sp.socket_path = priv->args.socket;
	eth_socket_dir(priv->args.socket);
	priv->owner->srv = vmbs_srv_acquire(&sp);
	if (priv->owner->srv == NULL) {
		VMBS_INIT_LOG(ERR, "%s: cannot serve the attach socket %s: %s", name,
			      priv->args.socket, rte_strerror(rte_errno));
		return -rte_errno;
	}
	np.name = name;
	np.vm_name = priv->args.vm;
	memcpy(np.instance, priv->args.instance, sizeof(np.instance));
	memcpy(np.mac, priv->args.mac.addr_bytes, sizeof(np.mac));
	np.max_queues = priv->args.queues;
	np.mtu = priv->args.mtu;
	np.offloads = VMBS_NV_OFF_ALL;
	np.rx_frames = vmbs_eth_rx_frames;
	np.event = eth_nv_event;
	np.offer_channels = vmbs_srv_offer_channels;
	np.cb_arg = priv;
	np.offer_arg = priv->owner->srv;
	priv->nic = vmbs_nv_create(&np);
	if (priv->nic == NULL) {
		VMBS_INIT_LOG(ERR, "%s: cannot create the NIC: %s", name,
			      rte_strerror(rte_errno));
		return -ENOMEM;
	}
	/* Down until the port starts; the guest is told at start. */
	vmbs_nv_link_set(priv->nic, false);
	rc = vmbs_srv_add_device(priv->owner->srv, vmbs_nv_dev_desc(priv->nic));
	if (rc != 0) {
		VMBS_INIT_LOG(ERR, "%s: cannot offer the NIC to vm %s: %s", name,
			      priv->args.vm, rte_strerror(-rc));
		return rc;
	}
	priv->dev_added = true;
	return 0;
}

static int
eth_dev_close(struct rte_eth_dev *dev)
{
	uint16_t i;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	eth_dev_stop(dev);
	for (i = 0; i < dev->data->nb_rx_queues; i++)
		eth_rx_queue_release(dev, i);
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		eth_tx_queue_release(dev, i);
	vmbs_eth_intr_teardown(dev);
	/* mac_addrs points into dev_private: keep ethdev from freeing it. */
	dev->data->mac_addrs = NULL;
	eth_engine_release(dev->data->dev_private);
	return 0;
}

static int
eth_rx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc __rte_unused,
		   unsigned int socket_id, const struct rte_eth_rxconf *conf __rte_unused,
		   struct rte_mempool *mb_pool)
{
	struct vmbs_eth_rxq *rxq;

	if (dev->data->rx_queues[qid] != NULL)
		eth_rx_queue_release(dev, qid);
	rxq = rte_zmalloc_socket("vmbs_rxq", sizeof(*rxq), RTE_CACHE_LINE_SIZE, (int)socket_id);
	if (rxq == NULL)
		return -ENOMEM;
	rte_spinlock_init(&rxq->lock);
	rxq->priv = dev->data->dev_private;
	rxq->port_id = dev->data->port_id;
	rxq->queue_id = qid;
	rxq->mb_pool = mb_pool;
	rxq->copybreak = rxq->priv->args.copybreak;
	rxq->iova_is_va = rte_eal_iova_mode() == RTE_IOVA_VA;
	dev->data->rx_queues[qid] = rxq;
	return 0;
}

static int
eth_tx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc __rte_unused,
		   unsigned int socket_id, const struct rte_eth_txconf *conf __rte_unused)
{
	struct vmbs_eth_txq *txq;

	if (dev->data->tx_queues[qid] != NULL)
		eth_tx_queue_release(dev, qid);
	txq = rte_zmalloc_socket("vmbs_txq", sizeof(*txq), RTE_CACHE_LINE_SIZE, (int)socket_id);
	if (txq == NULL)
		return -ENOMEM;
	txq->priv = dev->data->dev_private;
	txq->port_id = dev->data->port_id;
	txq->queue_id = qid;
	dev->data->tx_queues[qid] = txq;
	return 0;
}

static int
eth_link_update(struct rte_eth_dev *dev, int wait_to_complete __rte_unused)
{
	eth_link_refresh(dev, false);
	return 0;
}

static int
eth_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *stats)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	struct vmbs_nv_queue_stats q;
	uint16_t i;

	for (i = 0; i < dev->data->nb_rx_queues; i++) {
		const struct vmbs_eth_rxq *rxq = dev->data->rx_queues[i];

		if (rxq == NULL)
			continue;
		stats->ipackets += rxq->stats.packets;
		stats->ibytes += rxq->stats.bytes;
		stats->imissed += rxq->stats.nombuf;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_ipackets[i] = rxq->stats.packets;
			stats->q_ibytes[i] = rxq->stats.bytes;
		}
	}
	stats->rx_nombuf = dev->data->rx_mbuf_alloc_failed;
	/* Host -> guest and guest errors: the engine counts per channel. */
	for (i = 0; i < priv->args.queues; i++) {
		if (vmbs_nv_queue_stats_get(priv->nic, i, &q) != 0)
			continue;
		stats->opackets += q.tx_frames;
		stats->obytes += q.tx_bytes;
		stats->oerrors += q.tx_filtered + q.tx_down + q.tx_oversize + q.tx_bad +
				  q.tx_offload_bad + q.tx_send_errors;
		stats->ierrors += q.rx_bad + q.rx_not_ready + q.rx_ext_errors;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_opackets[i] = q.tx_frames;
			stats->q_obytes[i] = q.tx_bytes;
			stats->q_errors[i] = q.rx_bad + q.rx_not_ready + q.rx_ext_errors;
		}
	}
	stats->opackets -= priv->stats_base.opackets;
	stats->obytes -= priv->stats_base.obytes;
	stats->oerrors -= priv->stats_base.oerrors;
	stats->ierrors -= priv->stats_base.ierrors;
	return 0;
}

static int
eth_stats_reset(struct rte_eth_dev *dev)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	struct rte_eth_stats now = { 0 };
	uint16_t i;

	for (i = 0; i < dev->data->nb_rx_queues; i++) {
		struct vmbs_eth_rxq *rxq = dev->data->rx_queues[i];

		if (rxq != NULL)
			memset(&rxq->stats, 0, sizeof(rxq->stats));
	}
	dev->data->rx_mbuf_alloc_failed = 0;
	/* The engine's counters are never reset: keep a baseline. */
	memset(&priv->stats_base, 0, sizeof(priv->stats_base));
	eth_stats_get(dev, &now);
	priv->stats_base.opackets = now.opackets;
	priv->stats_base.obytes = now.obytes;
	priv->stats_base.oerrors = now.oerrors;
	priv->stats_base.ierrors = now.ierrors;
	return 0;
}

/* xstats: per queue, the engine's counters and the PMD's own. */
struct eth_xstat {
	const char *dir;
	const char *name;
	size_t off;
	bool pmd;	/* in struct vmbs_eth_rxq_stats, else vmbs_nv_queue_stats */
};

#define NV_X(d, n, f) { d, n, offsetof(struct vmbs_nv_queue_stats, f), false }
#define PMD_X(d, n, f) { d, n, offsetof(struct vmbs_eth_rxq_stats, f), true }
static const struct eth_xstat eth_xstats[] = {
	PMD_X("rx", "zero_copy", zero_copy),
	PMD_X("rx", "copied", copied),
	PMD_X("rx", "nombuf", nombuf),
	PMD_X("rx", "slow_path_runs", slow_path_runs),
	NV_X("rx", "guest_requests", rx_reqs),
	NV_X("rx", "guest_frames", rx_frames),
	NV_X("rx", "section_requests", rx_section_reqs),
	NV_X("rx", "gpa_requests", rx_gpa_reqs),
	NV_X("rx", "malformed", rx_bad),
	NV_X("rx", "not_ready", rx_not_ready),
	NV_X("rx", "ext_errors", rx_ext_errors),
	NV_X("tx", "xfer_packets", tx_pkts),
	NV_X("tx", "filtered", tx_filtered),
	NV_X("tx", "guest_down", tx_down),
	NV_X("tx", "oversize", tx_oversize),
	NV_X("tx", "bad", tx_bad),
	NV_X("tx", "full", tx_full),
	NV_X("tx", "sw_csum", tx_sw_csum),
	NV_X("tx", "sw_tso", tx_sw_tso),
	NV_X("tx", "tso_segs", tx_tso_segs),
	NV_X("tx", "offload_bad", tx_offload_bad),
	NV_X("tx", "send_errors", tx_send_errors),
	NV_X("comp", "ok", comp_ok),
	NV_X("comp", "bad", comp_bad),
	NV_X("comp", "ring_full", comp_ring_full),
};
#define ETH_XSTATS_PORT 2	/* rx_outstanding_requests, rx_request_nomem */

static int
eth_xstats_count(const struct vmbs_eth_priv *priv)
{
	return (int)(RTE_DIM(eth_xstats) * priv->args.queues + ETH_XSTATS_PORT);
}

static int
eth_xstats_get_names(struct rte_eth_dev *dev, struct rte_eth_xstat_name *names,
		     unsigned int size)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	int n = eth_xstats_count(priv);
	unsigned int q, i, k = 0;

	if (names == NULL || size < (unsigned int)n)
		return n;
	/* Names are "<dir>_q<N>_<what>": the table holds dir and what. */
	for (q = 0; q < priv->args.queues; q++)
		for (i = 0; i < RTE_DIM(eth_xstats); i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s_q%u_%s",
				 eth_xstats[i].dir, q, eth_xstats[i].name);
	snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "rx_outstanding_requests");
	snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "rx_request_nomem");
	return n;
}

static int
eth_xstats_get(struct rte_eth_dev *dev, struct rte_eth_xstat *xs, unsigned int size)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	int n = eth_xstats_count(priv);
	unsigned int q, i, k = 0;

	if (xs == NULL || size < (unsigned int)n)
		return n;
	for (q = 0; q < priv->args.queues; q++) {
		struct vmbs_eth_rxq_stats zero = { 0 };
		const struct vmbs_eth_rxq_stats *ps = &zero;
		struct vmbs_nv_queue_stats nq = { 0 };

		/* PMD counters of channel q live in the rx queue polling it. */
		if (q < dev->data->nb_rx_queues && dev->data->rx_queues[q] != NULL)
			ps = &((const struct vmbs_eth_rxq *)dev->data->rx_queues[q])->stats;
		vmbs_nv_queue_stats_get(priv->nic, (int)q, &nq);
		for (i = 0; i < RTE_DIM(eth_xstats); i++, k++) {
			const void *base = eth_xstats[i].pmd ? (const void *)ps :
							       (const void *)&nq;

			xs[k].id = k;
			memcpy(&xs[k].value, (const uint8_t *)base + eth_xstats[i].off,
			       sizeof(uint64_t));
		}
	}
	xs[k].id = k;
	xs[k].value = priv->owner != NULL ?
		      __atomic_load_n(&priv->owner->outstanding, __ATOMIC_RELAXED) : 0;
	k++;
	xs[k].id = k;
	xs[k].value = priv->req_nomem;
	return n;
}

static int
eth_mtu_set(struct rte_eth_dev *dev, uint16_t mtu)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;

	/* The guest negotiates the MTU over NVSP; the host cannot exceed it. */
	return mtu <= priv->args.mtu ? 0 : -EINVAL;
}

/*
 * The host side sees every frame the guest sends, whatever its address:
 * promiscuous and all-multicast are the port's only mode, so accept both
 * requests (and refuse to leave them: the guest owns its own filter).
 */
static int
eth_promisc_enable(struct rte_eth_dev *dev __rte_unused)
{
	return 0;
}

static int
eth_promisc_disable(struct rte_eth_dev *dev __rte_unused)
{
	return -ENOTSUP;
}

static const struct eth_dev_ops vmbs_eth_ops = {
	.dev_configure = eth_dev_configure,
	.dev_infos_get = eth_dev_infos_get,
	.dev_start = eth_dev_start,
	.dev_stop = eth_dev_stop,
	.dev_close = eth_dev_close,
	.dev_set_link_up = eth_dev_set_link_up,
	.dev_set_link_down = eth_dev_set_link_down,
	.rx_queue_setup = eth_rx_queue_setup,
	.tx_queue_setup = eth_tx_queue_setup,
	.rx_queue_release = eth_rx_queue_release,
	.tx_queue_release = eth_tx_queue_release,
	.link_update = eth_link_update,
	.stats_get = eth_stats_get,
	.stats_reset = eth_stats_reset,
	.xstats_get = eth_xstats_get,
	.xstats_get_names = eth_xstats_get_names,
	.mtu_set = eth_mtu_set,
	.rx_queue_intr_enable = vmbs_eth_rx_intr_enable,
	.rx_queue_intr_disable = vmbs_eth_rx_intr_disable,
	.promiscuous_enable = eth_promisc_enable,
	.promiscuous_disable = eth_promisc_disable,
	.allmulticast_enable = eth_promisc_enable,
	.allmulticast_disable = eth_promisc_disable,
};

static int
vmbs_eth_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct vmbs_eth_args args;
	struct vmbs_eth_priv *priv;
	struct rte_eth_dev *dev;
	char uuid[RTE_UUID_STRLEN];
	int ret;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		VMBS_INIT_LOG(ERR, "%s: secondary processes are not supported", name);
		return -ENOTSUP;
	}
	ret = vmbs_eth_args_parse(name, rte_vdev_device_args(vdev), &args);
	if (ret != 0)
		return ret;

	dev = rte_eth_vdev_allocate(vdev, sizeof(*priv));
	if (dev == NULL) {
		VMBS_INIT_LOG(ERR, "%s: cannot allocate ethdev", name);
		return -ENOMEM;
	}
	priv = dev->data->dev_private;
	priv->args = args;
	priv->port_id = dev->data->port_id;
	priv->dev = dev;
	vmbs_eth_intr_init(priv);
	ret = eth_engine_create(dev, name);
	if (ret != 0) {
		eth_engine_release(priv);
		rte_eth_dev_release_port(dev);
		return ret;
	}

	dev->dev_ops = &vmbs_eth_ops;
	dev->rx_pkt_burst = vmbs_eth_rx_burst;
	dev->tx_pkt_burst = vmbs_eth_tx_burst;
	dev->data->mac_addrs = &priv->args.mac;
	dev->data->mtu = args.mtu;
	dev->data->dev_flags |= RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS | RTE_ETH_DEV_INTR_LSC;
	dev->data->promiscuous = 1;
	dev->data->all_multicast = 1;

	rte_uuid_unparse(args.instance, uuid, sizeof(uuid));
	VMBS_INIT_LOG(INFO, "%s: port %u, vm %s, %u queue(s), instance %s, socket %s",
		      name, dev->data->port_id, args.vm, args.queues, uuid, args.socket);
	rte_eth_dev_probing_finish(dev);
	return 0;
}

static int
vmbs_eth_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *dev;

	dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));
	if (dev == NULL)
		return 0;	/* already closed by the application */
	eth_dev_close(dev);
	return rte_eth_dev_release_port(dev);
}

static struct rte_vdev_driver vmbs_eth_driver = {
	.probe = vmbs_eth_probe,
	.remove = vmbs_eth_remove,
};

RTE_PMD_REGISTER_VDEV(VMBS_PMD_NAME, vmbs_eth_driver);
RTE_PMD_REGISTER_PARAM_STRING(VMBS_PMD_NAME,
	VMBS_ARG_SOCKET "=<path> "
	VMBS_ARG_MAC "=<xx:xx:xx:xx:xx:xx> "
	VMBS_ARG_INSTANCE "=<guid> "
	VMBS_ARG_QUEUES "=<1-64> "
	VMBS_ARG_COPYBREAK "=<0-65535> "
	VMBS_ARG_ORDERING "=strict|relaxed "
	VMBS_ARG_MTU "=<68-9216> "
	VMBS_ARG_VM "=<name> "
	VMBS_ARG_TX_RSS "=0|1");
