/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Rx interrupt mode: one stable epoll fd per Rx queue, handed to ethdev as
 * the queue's event fd, so applications can sleep in rte_epoll_wait()
 * while the guest is idle.
 *
 * Each queue's set holds three sources:
 *  - the channel's own interrupt set (lib/chan), which holds the guest's
 *    g2h doorbell eventfd. The channel changes when the guest reconnects,
 *    so it is (re)added at every enable; a closed channel's set leaves ours
 *    by itself when its fd is closed;
 *  - a wake eventfd, written when work is known to be there at enable
 *    time, and by the last free of a zero-copy request while the queue is
 *    armed (its completion must be written to the guest by a poll);
 *  - a timerfd for guests that cannot signal (no channel yet, no doorbell,
 *    a failed ring): the application then polls every few milliseconds
 *    instead of sleeping forever.
 * EAL reads nothing from the fd (counter size 0): disable drains the
 * sources itself.
 */

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_interrupts.h>

#include <ethdev_driver.h>

#include "vmbs_logs.h"
#include "vmbs_pmd.h"

/* Re-poll period when the guest cannot signal: no doorbell (e.g. a
 * netvsc guest that only sets monitor-page bits) or no channel yet.
 */
#define VMBS_INTR_NO_DOORBELL_NS (1000 * 1000)
#define VMBS_INTR_NO_CHANNEL_NS (10 * 1000 * 1000)

static void
intr_close_queue(struct vmbs_eth_priv *priv, uint16_t q)
{
	if (priv->intr.epfd[q] >= 0)
		close(priv->intr.epfd[q]);
	if (priv->intr.timerfd[q] >= 0)
		close(priv->intr.timerfd[q]);
	priv->intr.epfd[q] = -1;
	priv->intr.timerfd[q] = -1;
}

void
vmbs_eth_intr_init(struct vmbs_eth_priv *priv)
{
	uint16_t q;

	priv->intr.handle = NULL;
	priv->intr.nb = 0;
	for (q = 0; q < VMBS_MAX_QUEUES; q++) {
		priv->intr.epfd[q] = -1;
		priv->intr.timerfd[q] = -1;
	}
}

void
vmbs_eth_intr_teardown(struct rte_eth_dev *dev)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	uint16_t q;

	for (q = 0; q < priv->intr.nb; q++)
		intr_close_queue(priv, q);
	priv->intr.nb = 0;
	if (priv->intr.handle != NULL) {
		rte_intr_vec_list_free(priv->intr.handle);
		rte_intr_instance_free(priv->intr.handle);
		priv->intr.handle = NULL;
	}
	dev->intr_handle = NULL;
}

static int
intr_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
intr_setup_queue(struct vmbs_eth_priv *priv, uint16_t q)
{
	struct vmbs_eth_wake *w = &priv->owner->wake[q];
	int rc;

	priv->intr.epfd[q] = epoll_create1(EPOLL_CLOEXEC);
	priv->intr.timerfd[q] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	/* The wake fd lives in the owner: frees after close still reach it. */
	if (w->efd < 0)
		w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (priv->intr.epfd[q] < 0 || priv->intr.timerfd[q] < 0 || w->efd < 0)
		return -errno;
	rc = intr_add(priv->intr.epfd[q], w->efd);
	if (rc == 0)
		rc = intr_add(priv->intr.epfd[q], priv->intr.timerfd[q]);
	return rc;
}

int
vmbs_eth_intr_setup(struct rte_eth_dev *dev)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	uint16_t nb = dev->data->nb_rx_queues;
	struct rte_intr_handle *h;
	uint16_t q;
	int rc = -ENOMEM;

	vmbs_eth_intr_teardown(dev);
	if (!dev->data->dev_conf.intr_conf.rxq || nb == 0)
		return 0;
	h = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (h == NULL)
		return -ENOMEM;
	priv->intr.handle = h;
	priv->intr.nb = nb;
	if (rte_intr_type_set(h, RTE_INTR_HANDLE_VDEV) != 0 ||
	    rte_intr_vec_list_alloc(h, "vmbs_intr_vec", nb) != 0)
		goto fail;
	for (q = 0; q < nb; q++) {
		rc = intr_setup_queue(priv, q);
		if (rc != 0)
			goto fail;
		if (rte_intr_vec_list_index_set(h, q, RTE_INTR_VEC_RXTX_OFFSET + q) != 0 ||
		    rte_intr_efds_index_set(h, q, priv->intr.epfd[q]) != 0) {
			rc = -EINVAL;
			goto fail;
		}
	}
	/* Counter size 0: EAL reads nothing; disable drains the sources. */
	if (rte_intr_nb_efd_set(h, nb) != 0 || rte_intr_max_intr_set(h, nb + 1) != 0 ||
	    rte_intr_efd_counter_size_set(h, 0) != 0) {
		rc = -EINVAL;
		goto fail;
	}
	dev->intr_handle = h;
	return 0;
fail:
	VMBS_DRV_LOG(ERR, "port %u: Rx interrupt setup failed: %s", dev->data->port_id,
		     strerror(-rc));
	vmbs_eth_intr_teardown(dev);
	return rc;
}

static void
intr_timer_arm(int fd, long ns)
{
	struct itimerspec its = { .it_value = { ns / 1000000000L, ns % 1000000000L } };

	timerfd_settime(fd, 0, &its, NULL);
}

static void
intr_drain(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending. */
	}
}

static void
intr_kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the queue is awake. */
	}
}

int
vmbs_eth_rx_intr_enable(struct rte_eth_dev *dev, uint16_t q)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	struct vmbs_eth_rxq *rxq = dev->data->rx_queues[q];
	struct vmbs_eth_wake *w;
	int chan_fd = -1;
	int rc;

	if (q >= priv->intr.nb || priv->intr.epfd[q] < 0 || rxq == NULL)
		return -EINVAL;
	w = &priv->owner->wake[q];
	/*
	 * W0: arm before looking for work. Pairs with W1 in the request free
	 * path (completion queued, fence, load armed): either that free sees
	 * the queue armed and kicks it, or the enable below sees its
	 * completion and reports work.
	 */
	__atomic_store_n(&w->armed, 1, __ATOMIC_SEQ_CST);
	rc = priv->nic != NULL && priv->started ?
	     vmbs_nv_rx_intr_enable(priv->nic, q, &chan_fd) : -ENOTCONN;
	if (chan_fd >= 0 && intr_add(priv->intr.epfd[q], chan_fd) != 0)
		rc = -ENOTSUP;	/* cannot watch the doorbell: re-poll */
	if (rxq->stash_n > 0)
		rc = 1;		/* frames already waiting for the application */
	switch (rc) {
	case 0:
		break;
	case 1:
		intr_kick(w->efd);
		break;
	case -ENOTSUP:
		intr_timer_arm(priv->intr.timerfd[q], VMBS_INTR_NO_DOORBELL_NS);
		break;
	default:	/* no channel, failed ring, stopped port */
		intr_timer_arm(priv->intr.timerfd[q], VMBS_INTR_NO_CHANNEL_NS);
		break;
	}
	return 0;
}

int
vmbs_eth_rx_intr_disable(struct rte_eth_dev *dev, uint16_t q)
{
	struct vmbs_eth_priv *priv = dev->data->dev_private;
	struct vmbs_eth_wake *w;

	if (q >= priv->intr.nb || priv->intr.epfd[q] < 0)
		return -EINVAL;
	w = &priv->owner->wake[q];
	__atomic_store_n(&w->armed, 0, __ATOMIC_RELAXED);
	if (priv->nic != NULL)
		vmbs_nv_rx_intr_disable(priv->nic, q);
	intr_timer_arm(priv->intr.timerfd[q], 0);
	intr_drain(priv->intr.timerfd[q]);
	intr_drain(w->efd);
	return 0;
}
