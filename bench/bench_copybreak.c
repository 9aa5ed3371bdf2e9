/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * bench_copybreak: what the net_vmbus_srv copybreak should be. Two ports
 * in one process, one copying every frame (copybreak=65535) and one
 * attaching every frame over guest memory (copybreak=0), each with a
 * scripted netvsc guest (test/common/nv_guest) that sends as DPDK's
 * netvsc does: frames up to 512 bytes aggregated into send-buffer
 * sections, larger ones GPA-direct.
 *
 * Everything runs on one thread on one CPU, so vCPU placement does not
 * matter: guest work is excluded from the timing, and only the server's
 * side is timed, per frame: rte_eth_rx_burst() (ring read, RNDIS walk,
 * copy or attach) plus rte_pktmbuf_free() (for attached frames, the
 * completion to the guest; the completion itself is written by the next
 * burst, which is also timed). The two ports alternate in short rounds
 * and the median round is reported per size, with the ratio.
 *
 * What it cannot see: an application that reads the frame pays for the
 * data in either case (a copy has already pulled it into this core's
 * cache), and attached frames keep the guest's send-buffer sections
 * until freed. The PMD's default copybreak comes from this: the first
 * size at which attaching is cheaper than copying, and still cheaper at
 * the next size measured.
 *
 * Usage: bench_copybreak [-r ROUNDS] [-n FRAMES_PER_ROUND]
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "nv_guest.h"

#define BURST 32u
#define MAX_ROUNDS 201u
#define POOL_SIZE 16383u

struct side {
	const char *what;
	char name[32];
	char path[108];
	uint16_t port;
	struct nvg *g;
};

static struct side sides[2] = {
	{ .what = "copy" },		/* copybreak=65535 */
	{ .what = "zero-copy" },	/* copybreak=0 */
};
static volatile int bringup_done;

/* Until the guests are up, the servers' replies need a poller. */
static void *
bringup_poller(void *arg)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n, i, s;

	(void)arg;
	if (rte_thread_register() != 0)
		return NULL;
	while (!bringup_done) {
		for (s = 0; s < 2; s++) {
			n = rte_eth_rx_burst(sides[s].port, 0, pkts, BURST);
			for (i = 0; i < n; i++)
				rte_pktmbuf_free(pkts[i]);
		}
		usleep(50);
	}
	rte_thread_unregister();
	return NULL;
}

static int
port_up(struct side *sd, struct rte_mempool *pool, const char *dir, uint32_t copybreak)
{
	struct rte_eth_conf conf;
	char args[256];

	snprintf(sd->name, sizeof(sd->name), "net_vmbus_srv_cb%u", copybreak);
	snprintf(sd->path, sizeof(sd->path), "%s/cb%u.sock", dir, copybreak);
	snprintf(args, sizeof(args), "socket=%s,queues=1,copybreak=%u", sd->path, copybreak);
	if (rte_vdev_init(sd->name, args) != 0 ||
	    rte_eth_dev_get_port_by_name(sd->name, &sd->port) != 0)
		return -1;
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(sd->port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(sd->port, 0, 1024, SOCKET_ID_ANY, NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(sd->port, 0, 1024, SOCKET_ID_ANY, NULL) != 0 ||
	    rte_eth_dev_start(sd->port) != 0)
		return -1;
	return 0;
}

static int
guest_up(struct side *sd)
{
	struct nvg_params gp;
	int rc;

	memset(&gp, 0, sizeof(gp));
	gp.socket_path = sd->path;
	gp.vm_name = sd->name;
	gp.send_buf_size = 16u << 20;
	gp.ring_pages = 512;
	gp.timeout_ms = 5000;
	gp.hugepages = true;	/* as VMMs back guest RAM: no slow path */
	rc = nvg_attach(&gp, &sd->g);
	if (rc == 0)
		rc = nvg_bringup(sd->g);
	if (rc == 0)
		rc = nvg_configure(sd->g, 1);
	if (rc == 0)
		rc = nvg_start(sd->g);
	return rc;
}

/* One round: the guest sends @p n frames of @p len; returns server cycles. */
static uint64_t
round_run(struct side *sd, const uint8_t *frame, uint32_t len, uint32_t n, uint32_t *got)
{
	const struct nvg_info *info = nvg_info(sd->g);
	struct nvg_frame f[8];
	struct rte_mbuf *pkts[BURST];
	uint32_t per = len <= 512 ? RTE_MIN(info->agg_pkts, 8u) : 1u;
	uint32_t sent = 0, i;
	uint64_t cyc = 0, t0;
	uint16_t k, j;
	int idle = 0;

	memset(f, 0, sizeof(f));
	for (i = 0; i < RTE_DIM(f); i++) {
		f[i].data = frame;
		f[i].len = len;
	}
	*got = 0;
	while (*got < n && idle < 100000) {
		/* Guest: keep requests in flight (not timed). */
		while (sent < n && nvg_tx_inflight(sd->g) < 64) {
			uint32_t m = RTE_MIN(per, n - sent);

			if (nvg_send(sd->g, 0, len <= 512 ? NVG_TX_CHIMNEY : NVG_TX_GPA, f, m,
				     NULL) != 0)
				break;
			sent += m;
		}
		/* Server (timed): receive and free. */
		t0 = rte_rdtsc_precise();
		k = rte_eth_rx_burst(sd->port, 0, pkts, BURST);
		for (j = 0; j < k; j++)
			rte_pktmbuf_free(pkts[j]);
		cyc += rte_rdtsc_precise() - t0;
		*got += k;
		idle = k == 0 ? idle + 1 : 0;
		nvg_poll(sd->g);	/* guest reaps completions (not timed) */
	}
	return cyc;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 64, 128, 192, 256, 384, 512, 768, 1024, 1518 };
	static uint64_t per_frame[2][MAX_ROUNDS];
	static uint8_t frame[2048];
	double ratio[RTE_DIM(sizes)];
	uint32_t rounds = 41, nframes = 4096, recommended = 0;
	struct rte_mempool *pool;
	char dir[] = "/tmp/vmbs_cbXXXXXX";
	pthread_t th;
	uint32_t si, r, i;
	int c, ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	argc -= ret;
	argv += ret;
	while ((c = getopt(argc, argv, "r:n:")) != -1) {
		if (c == 'r')
			rounds = RTE_MIN((uint32_t)atoi(optarg) | 1u, MAX_ROUNDS);
		else if (c == 'n')
			nframes = (uint32_t)atoi(optarg);
		else
			return 2;
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	pool = rte_pktmbuf_pool_create("cb_pool", POOL_SIZE, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (pool == NULL || port_up(&sides[0], pool, dir, 65535) != 0 ||
	    port_up(&sides[1], pool, dir, 0) != 0) {
		fprintf(stderr, "port setup failed\n");
		return 1;
	}
	pthread_create(&th, NULL, bringup_poller, NULL);
	ret = guest_up(&sides[0]);
	if (ret == 0)
		ret = guest_up(&sides[1]);
	bringup_done = 1;
	pthread_join(th, NULL);
	if (ret != 0) {
		fprintf(stderr, "guest bring-up failed: %d\n", ret);
		return 1;
	}
	for (i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7u);
	memcpy(frame, "\x00\x15\x5d\x00\x00\x00\x02\x00\x00\x00\x00\x01\x88\xb5", 14);

	printf("bench_copybreak: server cycles per frame (rx_burst + free), one thread on lcore %u, TSC %" PRIu64 " MHz\n",
	       rte_lcore_id(), rte_get_tsc_hz() / 1000000);
	printf("%u rounds x %u frames per size and side, sides alternating; median round\n",
	       rounds, nframes);
	printf("%6s %10s %10s %8s\n", "bytes", "copy", "zero-copy", "zc/copy");
	for (si = 0; si < RTE_DIM(sizes); si++) {
		double med[2];

		for (r = 0; r < rounds; r++) {
			for (i = 0; i < 2; i++) {
				uint32_t s = (r & 1) ? 1 - i : i;	/* A B, B A, ... */
				uint32_t got;
				uint64_t cyc = round_run(&sides[s], frame, sizes[si], nframes, &got);

				if (got != nframes) {
					fprintf(stderr, "%s: %u of %u frames at %u B\n", sides[s].what,
						got, nframes, sizes[si]);
					return 1;
				}
				per_frame[s][r] = cyc * 100 / got;	/* centi-cycles */
			}
		}
		for (i = 0; i < 2; i++) {
			qsort(per_frame[i], rounds, sizeof(uint64_t), cmp_u64);
			med[i] = (double)per_frame[i][rounds / 2] / 100.0;
		}
		printf("%6u %10.1f %10.1f %8.2f\n", sizes[si], med[0], med[1], med[1] / med[0]);
		ratio[si] = med[1] / med[0];
	}
	/* The first size at which attaching is cheaper, and still cheaper at
	 * the next size (one size alone can be noise).
	 */
	for (si = 0; si + 1 < RTE_DIM(sizes); si++) {
		if (ratio[si] < 1.0 && ratio[si + 1] < 1.0) {
			recommended = sizes[si];
			break;
		}
	}
	if (recommended != 0)
		printf("zero copy is cheaper from %u bytes (and at the next size): copybreak %u\n",
		       recommended, recommended);
	else
		printf("zero copy was not cheaper at two sizes in a row\n");
	fflush(stdout);
	for (i = 0; i < 2; i++) {
		nvg_detach(sides[i].g);
		rte_eth_dev_stop(sides[i].port);
		rte_eth_dev_close(sides[i].port);
		rte_vdev_uninit(sides[i].name);
	}
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}
