/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * vmbs-qpoke: mark a running DPDK 22.11 netvsc guest's queues started.
 *
 * Why: the 22.11 netvsc PMD never sets ethdev's rx/tx_queue_state to
 * STARTED (upstream fixed that in 23.11, "net/netvsc: set queue state
 * after start/stop", not backported), and testpmd 22.11's forwarding
 * skips queues that say "stopped", so stock testpmd never polls a netvsc
 * port. The states live in ethdev's shared port data, so a secondary
 * process can set them without touching the guest program.
 *
 *   vmbs-qpoke [--pid PID] [--watch] [--timeout-s N] PORT_NAME... -- EAL_ARGS
 *
 * PORT_NAME is the netvsc port's name: the device's directory name under
 * /sys/bus/vmbus/devices (vmbs-guest uses the instance GUID). EAL_ARGS
 * must make a secondary of the guest: --proc-type=secondary, the guest's
 * --file-prefix and its memory options (--single-file-segments, ...).
 *
 * --pid PID joins PID's mount namespace first (vmbs-guest's guest sees its
 * own /dev/hugepages there), then hides /sys/bus in a namespace of its
 * own: a secondary that found the vmbus devices would probe them and map
 * /dev/uioN itself, which the launcher's open swapper must not see.
 *
 * Without --watch it waits (up to --timeout-s) until every port is
 * started, marks its configured queues, and exits. With --watch it keeps
 * marking them every 100 ms (after a port stop/start, a reconfiguration)
 * until SIGTERM/SIGINT or the primary ends.
 *
 * This tool includes ethdev_driver.h: it writes ethdev's private shared
 * data, which is exactly the workaround. Debian's DPDK 22.11 only.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <ethdev_driver.h>

#define QP_MAX_PORTS 32
#define QP_PERIOD_US 100000u

static volatile sig_atomic_t qp_stop;

static void
qp_on_signal(int sig)
{
	(void)sig;
	qp_stop = 1;
}

static void
qp_usage(void)
{
	fprintf(stderr, "Usage: vmbs-qpoke [--pid PID] [--watch] [--timeout-s N] "
		"PORT_NAME... -- EAL_ARGS\n");
}

/* Join @p pid's mount namespace, then one of our own without /sys/bus. */
static int
qp_enter_ns(long pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNS) != 0) {
		fprintf(stderr, "vmbs-qpoke: join %s: %s\n", path, strerror(errno));
		return -1;
	}
	close(fd);
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("vmbs-qpoke", "/sys/bus", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k") != 0) {
		fprintf(stderr, "vmbs-qpoke: hide /sys/bus: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Mark the started port's configured queues; returns how many changed. */
static unsigned int
qp_poke(struct rte_eth_dev_data *d)
{
	unsigned int n = 0;
	uint16_t q;

	if (!d->dev_started)
		return 0;
	for (q = 0; q < d->nb_rx_queues && q < RTE_MAX_QUEUES_PER_PORT; q++) {
		if (d->rx_queue_state[q] != RTE_ETH_QUEUE_STATE_STARTED) {
			d->rx_queue_state[q] = RTE_ETH_QUEUE_STATE_STARTED;
			n++;
		}
	}
	for (q = 0; q < d->nb_tx_queues && q < RTE_MAX_QUEUES_PER_PORT; q++) {
		if (d->tx_queue_state[q] != RTE_ETH_QUEUE_STATE_STARTED) {
			d->tx_queue_state[q] = RTE_ETH_QUEUE_STATE_STARTED;
			n++;
		}
	}
	return n;
}

int
main(int argc, char **argv)
{
	struct rte_eth_dev *dev[QP_MAX_PORTS] = { NULL };
	const char *names[QP_MAX_PORTS];
	bool watch = false, poked[QP_MAX_PORTS] = { false };
	long pid = 0, timeout_s = 60, waited_us = 0;
	unsigned int n_names = 0, i, n_poked, changed;
	int a, eal_argc, rc;
	char **eal_argv;

	for (a = 1; a < argc && strcmp(argv[a], "--") != 0; a++) {
		if (strcmp(argv[a], "--pid") == 0 && a + 1 < argc) {
			pid = strtol(argv[++a], NULL, 10);
		} else if (strcmp(argv[a], "--timeout-s") == 0 && a + 1 < argc) {
			timeout_s = strtol(argv[++a], NULL, 10);
		} else if (strcmp(argv[a], "--watch") == 0) {
			watch = true;
		} else if (argv[a][0] != '-' && n_names < QP_MAX_PORTS) {
			names[n_names++] = argv[a];
		} else {
			qp_usage();
			return 2;
		}
	}
	if (a == argc || n_names == 0 || pid < 0 || timeout_s <= 0) {
		qp_usage();
		return 2;
	}
	if (pid > 0 && qp_enter_ns(pid) != 0)
		return 1;
	/* EAL sees our program name, then what follows "--". */
	eal_argv = &argv[a];
	eal_argv[0] = argv[0];
	eal_argc = argc - a;
	rc = rte_eal_init(eal_argc, eal_argv);
	if (rc < 0) {
		fprintf(stderr, "vmbs-qpoke: EAL init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (rte_eal_process_type() != RTE_PROC_SECONDARY) {
		fprintf(stderr, "vmbs-qpoke: needs --proc-type=secondary\n");
		rte_eal_cleanup();
		return 1;
	}
	signal(SIGTERM, qp_on_signal);
	signal(SIGINT, qp_on_signal);

	rc = 1;
	while (!qp_stop) {
		if (pid > 0 && kill((pid_t)pid, 0) != 0) {
			rc = watch ? 0 : 1;	/* the guest is gone */
			break;
		}
		n_poked = 0;
		for (i = 0; i < n_names; i++) {
			if (dev[i] == NULL)
				dev[i] = rte_eth_dev_attach_secondary(names[i]);
			if (dev[i] == NULL)
				continue;
			changed = qp_poke(dev[i]->data);
			if (changed != 0) {
				printf("vmbs-qpoke: %s: %u queue state(s) set to started "
				       "(%u rx, %u tx queues)\n", names[i], changed,
				       dev[i]->data->nb_rx_queues, dev[i]->data->nb_tx_queues);
				fflush(stdout);
			}
			if (dev[i]->data->dev_started)
				poked[i] = true;
			n_poked += poked[i];
		}
		if (!watch && n_poked == n_names) {
			rc = 0;
			break;
		}
		if (!watch && waited_us >= timeout_s * 1000000L) {
			fprintf(stderr, "vmbs-qpoke: ports not started within %ld s\n",
				timeout_s);
			break;
		}
		usleep(QP_PERIOD_US);
		waited_us += QP_PERIOD_US;
	}
	if (qp_stop)
		rc = 0;
	rte_eal_cleanup();
	return rc;
}
