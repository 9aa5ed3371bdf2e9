/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * net_vmbus_srv: probe and remove, devargs, eth_dev_ops and statistics.
 * The burst functions live in vmbs_rxtx.c; the protocol work in lib/.
 */

#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>

#include "vmbs_logs.h"
#include "vmbs_pmd.h"

RTE_LOG_REGISTER_SUFFIX(vmbs_eth_logtype_init, init, NOTICE);
RTE_LOG_REGISTER_SUFFIX(vmbs_eth_logtype_driver, driver, NOTICE);

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
	return 0;
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
	info->rx_offload_capa = 0;
	info->tx_offload_capa = 0;
	info->flow_type_rss_offloads = 0;
	info->default_rxportconf.burst_size = VMBS_MAX_BURST;
	info->default_txportconf.burst_size = VMBS_MAX_BURST;
	info->default_rxportconf.nb_queues = 1;
	info->default_txportconf.nb_queues = 1;
	return 0;
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
	dev->data->dev_link.link_status = RTE_ETH_LINK_DOWN;
	return 0;
}

static void
eth_rx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	rte_free(dev->data->rx_queues[qid]);
	dev->data->rx_queues[qid] = NULL;
}

static void
eth_tx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	rte_free(dev->data->tx_queues[qid]);
	dev->data->tx_queues[qid] = NULL;
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
	/* mac_addrs points into dev_private: keep ethdev from freeing it. */
	dev->data->mac_addrs = NULL;
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
	rxq->port_id = dev->data->port_id;
	rxq->queue_id = qid;
	rxq->mb_pool = mb_pool;
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
	txq->port_id = dev->data->port_id;
	txq->queue_id = qid;
	dev->data->tx_queues[qid] = txq;
	return 0;
}

static int
eth_link_update(struct rte_eth_dev *dev, int wait_to_complete __rte_unused)
{
	struct rte_eth_link link = {
		.link_speed = RTE_ETH_SPEED_NUM_100G,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
		/* Up only once a guest has brought the NIC up (later step). */
		.link_status = RTE_ETH_LINK_DOWN,
	};

	return rte_eth_linkstatus_set(dev, &link);
}

static int
eth_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *stats)
{
	uint16_t i;

	for (i = 0; i < dev->data->nb_rx_queues; i++) {
		const struct vmbs_eth_rxq *rxq = dev->data->rx_queues[i];

		if (rxq == NULL)
			continue;
		stats->ipackets += rxq->stats.packets;
		stats->ibytes += rxq->stats.bytes;
		stats->ierrors += rxq->stats.errors;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_ipackets[i] = rxq->stats.packets;
			stats->q_ibytes[i] = rxq->stats.bytes;
			stats->q_errors[i] = rxq->stats.errors;
		}
	}
	for (i = 0; i < dev->data->nb_tx_queues; i++) {
		const struct vmbs_eth_txq *txq = dev->data->tx_queues[i];

		if (txq == NULL)
			continue;
		stats->opackets += txq->stats.packets;
		stats->obytes += txq->stats.bytes;
		stats->oerrors += txq->stats.errors;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_opackets[i] = txq->stats.packets;
			stats->q_obytes[i] = txq->stats.bytes;
		}
	}
	return 0;
}

static int
eth_stats_reset(struct rte_eth_dev *dev)
{
	uint16_t i;

	for (i = 0; i < dev->data->nb_rx_queues; i++) {
		struct vmbs_eth_rxq *rxq = dev->data->rx_queues[i];

		if (rxq != NULL)
			memset(&rxq->stats, 0, sizeof(rxq->stats));
	}
	for (i = 0; i < dev->data->nb_tx_queues; i++) {
		struct vmbs_eth_txq *txq = dev->data->tx_queues[i];

		if (txq != NULL)
			memset(&txq->stats, 0, sizeof(txq->stats));
	}
	return 0;
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
	.rx_queue_setup = eth_rx_queue_setup,
	.tx_queue_setup = eth_tx_queue_setup,
	.rx_queue_release = eth_rx_queue_release,
	.tx_queue_release = eth_tx_queue_release,
	.link_update = eth_link_update,
	.stats_get = eth_stats_get,
	.stats_reset = eth_stats_reset,
	.mtu_set = eth_mtu_set,
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

	dev->dev_ops = &vmbs_eth_ops;
	dev->rx_pkt_burst = vmbs_eth_rx_burst;
	dev->tx_pkt_burst = vmbs_eth_tx_burst;
	dev->data->mac_addrs = &priv->args.mac;
	dev->data->mtu = args.mtu;
	dev->data->dev_flags |= RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS;
	dev->data->promiscuous = 1;
	dev->data->all_multicast = 1;

	rte_uuid_unparse(args.instance, uuid, sizeof(uuid));
	VMBS_INIT_LOG(INFO, "%s: port %u, %u queue(s), instance %s, socket %s",
		      name, dev->data->port_id, args.queues, uuid, args.socket);
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
	VMBS_ARG_MTU "=<68-9216>");
