/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * VMBus ring throughput beside DPDK's rte_ring, producer on CPU 0 and
 * consumer on CPU 1, measured in the same run.
 *
 * Systems:
 *  vmbs      our ring: the producer puts up to 32 packets (descriptor,
 *            payload copied in, padding, trailer) then commits once; the
 *            consumer takes up to 32 (each copied out into a local buffer)
 *            then commits once. Signalling decisions are taken as in
 *            production (the consumer polls with its mask set).
 *  rte-copy  like for like: the producer takes 32 buffers from a free
 *            rte_ring, copies the payload into each, enqueues them; the
 *            consumer dequeues 32, copies each payload out, and recycles
 *            the buffers through the free ring.
 *  rte-ptr   pointer-only rte_ring SP/SC burst 32: the ceiling.
 * Every consumer checks a sequence number carried by each packet.
 *
 * The two vCPUs move between sharing a cache ("near") and not ("far")
 * while this runs, so the systems alternate in short windows, the
 * placement is probed before and after each window, and only windows with
 * one clean, unchanged placement and no lost CPU time count. Figures are
 * medians per placement; ratios compare medians of the same placement.
 */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_pause.h>
#include <rte_ring.h>

#include "placement.h"
#include "vmbs_bufring.h"

#define BURST 32
#define PROD_CPU 0
#define CONS_CPU 1
#define PROBE_US 100
#define RTE_RING_SLOTS 1024u
#define POOL_BUFS 512u
#define BUF_SIZE 2048u
#define MAX_WINDOWS 4096

enum sys { SYS_VMBS, SYS_RTE_COPY, SYS_RTE_PTR, SYS_COUNT };
static const char *const sys_name[SYS_COUNT] = { "vmbs", "rte-copy", "rte-ptr" };
static const unsigned int sizes[] = { 64, 256, 1500 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct window {
	enum sys sys;
	unsigned int size;	/* 0 for rte-ptr (size-independent) */
	double mpps;
	enum vmbs_placement place;
	bool clean;
};

struct bench {
	/* configuration of the current window, set while workers are parked */
	enum sys sys;
	unsigned int size;
	uint32_t stop;

	/* vmbs ring */
	uint8_t *ring_mem;
	size_t ring_half;
	struct vmbs_br tx, rx;

	/* rte rings */
	struct rte_ring *data_ring, *free_ring;
	uint8_t *pool;

	/* per-window results */
	uint64_t pkts;
	double cons_secs, cons_cpu, prod_secs, prod_cpu;
	uint64_t bad;

	pthread_barrier_t start, done;
	bool quit;
};

static void
pin(int cpu)
{
	if (vmbs_bench_pin(cpu) != 0)
		fprintf(stderr, "warning: cannot pin to CPU %d\n", cpu);
}

static bool
stopping(const struct bench *b)
{
	return __atomic_load_n(&b->stop, __ATOMIC_RELAXED) != 0;
}

/* ---- producers ----------------------------------------------------- */

static void
prod_vmbs(struct bench *b)
{
	static uint8_t src[BUF_SIZE];
	struct vmbs_pkt_desc d = { .type = VMBS_PKT_DATA_INBAND, .offset8 = 2 };
	struct iovec iov = { src, b->size };
	uint64_t seq = 0;
	int i;

	memset(src, 0x5a, sizeof(src));
	while (!stopping(b)) {
		for (i = 0; i < BURST; i++) {
			memcpy(src, &seq, sizeof(seq));
			d.trans_id = seq;
			if (vmbs_br_tx_put(&b->tx, &d, &iov, 1) != 0)
				break;
			seq++;
		}
		vmbs_br_tx_commit(&b->tx);	/* the consumer polls: no signal to send */
		if (i == 0)
			rte_pause();
	}
}

static void
prod_rte_copy(struct bench *b)
{
	static uint8_t src[BUF_SIZE];
	void *bufs[BURST];
	uint64_t seq = 0;
	unsigned int i, n;

	memset(src, 0x5a, sizeof(src));
	while (!stopping(b)) {
		n = rte_ring_dequeue_burst(b->free_ring, bufs, BURST, NULL);
		for (i = 0; i < n; i++) {
			uint8_t *buf = bufs[i];
			uint64_t meta[2] = { b->size, seq };

			/* 16 bytes of metadata stand for the descriptor. */
			memcpy(buf, meta, sizeof(meta));
			memcpy(src, &seq, sizeof(seq));
			memcpy(buf + sizeof(meta), src, b->size);
			seq++;
		}
		if (n == 0) {
			rte_pause();
			continue;
		}
		/* Never short: the data ring holds the whole pool. */
		rte_ring_enqueue_burst(b->data_ring, bufs, n, NULL);
	}
}

static void
prod_rte_ptr(struct bench *b)
{
	void *objs[BURST];
	uintptr_t seq = 0;
	unsigned int i, n;

	while (!stopping(b)) {
		for (i = 0; i < BURST; i++)
			objs[i] = (void *)(seq + i);
		n = rte_ring_enqueue_burst(b->data_ring, objs, BURST, NULL);
		seq += n;
		if (n == 0)
			rte_pause();
	}
}

/* ---- consumers ----------------------------------------------------- */

static uint64_t
cons_vmbs(struct bench *b)
{
	static uint8_t dst[BUF_SIZE + 64];
	uint64_t seq = 0, got;
	int i;

	while (!stopping(b)) {
		if (vmbs_br_rx_begin(&b->rx) != 0) {
			rte_pause();
			continue;
		}
		for (i = 0; i < BURST; i++) {
			if (vmbs_br_rx_next(&b->rx, dst, sizeof(dst)) < 0)
				break;
			memcpy(&got, dst + sizeof(struct vmbs_pkt_desc), sizeof(got));
			b->bad += got != seq;
			seq++;
		}
		vmbs_br_rx_commit(&b->rx);
	}
	return seq;
}

static uint64_t
cons_rte_copy(struct bench *b)
{
	static uint8_t dst[BUF_SIZE];
	void *bufs[BURST];
	uint64_t seq = 0, meta[2], got;
	unsigned int i, n;

	while (!stopping(b)) {
		n = rte_ring_dequeue_burst(b->data_ring, bufs, BURST, NULL);
		if (n == 0) {
			rte_pause();
			continue;
		}
		for (i = 0; i < n; i++) {
			const uint8_t *buf = bufs[i];

			memcpy(meta, buf, sizeof(meta));
			memcpy(dst, buf + sizeof(meta), meta[0] <= BUF_SIZE ? meta[0] : 0);
			memcpy(&got, dst, sizeof(got));
			b->bad += got != seq || meta[1] != seq;
			seq++;
		}
		rte_ring_enqueue_burst(b->free_ring, bufs, n, NULL);
	}
	return seq;
}

static uint64_t
cons_rte_ptr(struct bench *b)
{
	void *objs[BURST];
	uint64_t seq = 0;
	unsigned int i, n;

	while (!stopping(b)) {
		n = rte_ring_dequeue_burst(b->data_ring, objs, BURST, NULL);
		if (n == 0) {
			rte_pause();
			continue;
		}
		for (i = 0; i < n; i++)
			b->bad += (uintptr_t)objs[i] != (uintptr_t)(seq + i);
		seq += n;
	}
	return seq;
}

/* ---- workers ------------------------------------------------------- */

static void *
producer_main(void *arg)
{
	struct bench *b = arg;
	int64_t w0, c0;

	pin(PROD_CPU);
	for (;;) {
		pthread_barrier_wait(&b->start);
		if (b->quit)
			return NULL;
		w0 = vmbs_bench_clock_ns(CLOCK_MONOTONIC);
		c0 = vmbs_bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		if (b->sys == SYS_VMBS)
			prod_vmbs(b);
		else if (b->sys == SYS_RTE_COPY)
			prod_rte_copy(b);
		else
			prod_rte_ptr(b);
		b->prod_cpu = (double)(vmbs_bench_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e9;
		b->prod_secs = (double)(vmbs_bench_clock_ns(CLOCK_MONOTONIC) - w0) / 1e9;
		pthread_barrier_wait(&b->done);
	}
}

static void *
consumer_main(void *arg)
{
	struct bench *b = arg;
	int64_t w0, c0;
	uint64_t n;

	pin(CONS_CPU);
	for (;;) {
		pthread_barrier_wait(&b->start);
		if (b->quit)
			return NULL;
		w0 = vmbs_bench_clock_ns(CLOCK_MONOTONIC);
		c0 = vmbs_bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		if (b->sys == SYS_VMBS)
			n = cons_vmbs(b);
		else if (b->sys == SYS_RTE_COPY)
			n = cons_rte_copy(b);
		else
			n = cons_rte_ptr(b);
		b->cons_cpu = (double)(vmbs_bench_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e9;
		b->cons_secs = (double)(vmbs_bench_clock_ns(CLOCK_MONOTONIC) - w0) / 1e9;
		b->pkts = n;
		pthread_barrier_wait(&b->done);
	}
}

/* ---- setup --------------------------------------------------------- */

static int
reset_system(struct bench *b)
{
	unsigned int i;
	void *p;

	if (b->sys == SYS_VMBS) {
		memset(b->ring_mem, 0, VMBS_PAGE_SIZE);
		if (vmbs_br_init(&b->tx, b->ring_mem, b->ring_half, VMBS_BR_PRODUCER, 0) != 0 ||
		    vmbs_br_init(&b->rx, b->ring_mem, b->ring_half, VMBS_BR_CONSUMER,
				 VMBS_BR_F_POLL) != 0)
			return -1;
		return 0;
	}
	rte_ring_reset(b->data_ring);
	rte_ring_reset(b->free_ring);
	if (b->sys == SYS_RTE_COPY)
		for (i = 0; i < POOL_BUFS; i++) {
			p = b->pool + (size_t)i * BUF_SIZE;
			if (rte_ring_enqueue(b->free_ring, p) != 0)
				return -1;
		}
	return 0;
}

static struct rte_ring *
make_ring(const char *name)
{
	ssize_t sz = rte_ring_get_memsize(RTE_RING_SLOTS);
	struct rte_ring *r;

	if (sz < 0)
		return NULL;
	r = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
	if (r == NULL)
		return NULL;
	/* rte_ring_init works on plain memory: no EAL, no memzone. */
	if (rte_ring_init(r, name, RTE_RING_SLOTS, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

/* Steal time (all CPUs, jiffies) from /proc/stat; 0 if unreadable. */
static uint64_t
steal_jiffies(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		v[7] = 0;
	fclose(f);
	return v[7];
}

static void
print_cpu_model(void)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "model name", 10) == 0) {
			printf("CPU: %s", strchr(line, ':') != NULL ? strchr(line, ':') + 2 : line);
			break;
		}
	fclose(f);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median Mpps of clean windows of (sys, size) in placement p; count in *n. */
static double
median(const struct window *w, int nw, enum sys s, unsigned int size,
       enum vmbs_placement p, int *n)
{
	static double v[MAX_WINDOWS];
	int i, k = 0;

	for (i = 0; i < nw; i++)
		if (w[i].clean && w[i].sys == s && w[i].size == size && w[i].place == p)
			v[k++] = w[i].mpps;
	*n = k;
	if (k == 0)
		return 0;
	qsort(v, (size_t)k, sizeof(v[0]), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

static void
print_ratio(double num, int nn, double den, int nd)
{
	if (nn > 0 && nd > 0 && den > 0)
		printf(" %9.2f", num / den);
	else
		printf(" %9s", "-");
}

static void
report(const struct window *w, int nw)
{
	static const enum vmbs_placement places[] = { VMBS_PLACEMENT_NEAR, VMBS_PLACEMENT_FAR };
	double m[SYS_COUNT];
	int n[SYS_COUNT];
	size_t pi, si;
	int s;

	for (pi = 0; pi < 2; pi++) {
		printf("\nplacement %s (cache-line round trip %s %.0f ns)\n",
		       vmbs_placement_name(places[pi]), pi == 0 ? "<" : ">",
		       pi == 0 ? VMBS_PLACEMENT_NEAR_MAX_NS : VMBS_PLACEMENT_FAR_MIN_NS);
		printf("%-9s %6s %9s %7s %9s %9s\n", "system", "size", "Mpps", "windows",
		       "vs ptr", "vs copy");
		for (si = 0; si < NSIZES; si++) {
			m[SYS_RTE_PTR] = median(w, nw, SYS_RTE_PTR, 0, places[pi], &n[SYS_RTE_PTR]);
			for (s = 0; s < SYS_COUNT; s++) {
				if (s != SYS_RTE_PTR)
					m[s] = median(w, nw, (enum sys)s, sizes[si],
						      places[pi], &n[s]);
			}
			for (s = 0; s < SYS_COUNT; s++) {
				if (s == SYS_RTE_PTR && si != 0)
					continue;	/* size-independent: once */
				if (s == SYS_RTE_PTR)
					printf("%-9s %6s", sys_name[s], "ptr");
				else
					printf("%-9s %6u", sys_name[s], sizes[si]);
				if (n[s] > 0)
					printf(" %9.2f %7d", m[s], n[s]);
				else
					printf(" %9s %7d", "-", 0);
				if (s == SYS_VMBS) {
					print_ratio(m[s], n[s], m[SYS_RTE_PTR], n[SYS_RTE_PTR]);
					print_ratio(m[s], n[s], m[SYS_RTE_COPY], n[SYS_RTE_COPY]);
				}
				printf("\n");
			}
		}
	}
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-t total_seconds (20)] [-w window_ms (500)] [-r ring_data_kib (512)]\n",
		prog);
}

int
main(int argc, char **argv)
{
	static struct window win[MAX_WINDOWS];
	struct { enum sys sys; unsigned int size; } sched_tab[2 * NSIZES + 1];
	double total_s = 20, rtt0, rtt1, busy, cpu_need, stolen;
	unsigned int window_ms = 500, ring_kib = 512, nsched = 0;
	int opt, nw = 0, dropped_place = 0, dropped_cpu = 0;
	struct bench *b;
	pthread_t tp, tc;
	int64_t t_end;
	uint64_t st0, st1;
	size_t i;

	while ((opt = getopt(argc, argv, "t:w:r:h")) != -1) {
		switch (opt) {
		case 't':
			total_s = atof(optarg);
			break;
		case 'w':
			window_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			ring_kib = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (total_s <= 0 || window_ms < 50 || ring_kib < 4 || ring_kib % 4 != 0) {
		usage(argv[0]);
		return 2;
	}

	b = aligned_alloc(64, (sizeof(*b) + 63) & ~(size_t)63);
	if (b == NULL)
		return 1;
	memset(b, 0, sizeof(*b));
	b->ring_half = VMBS_PAGE_SIZE + (size_t)ring_kib * 1024;
	b->ring_mem = aligned_alloc(VMBS_PAGE_SIZE, b->ring_half);
	b->pool = aligned_alloc(64, (size_t)POOL_BUFS * BUF_SIZE);
	b->data_ring = make_ring("br_data");
	b->free_ring = make_ring("br_free");
	if (b->ring_mem == NULL || b->pool == NULL || b->data_ring == NULL ||
	    b->free_ring == NULL) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	memset(b->ring_mem, 0, b->ring_half);
	memset(b->pool, 0, (size_t)POOL_BUFS * BUF_SIZE);

	/* One rotation: each size for the two copying systems, the ceiling once. */
	for (i = 0; i < NSIZES; i++) {
		sched_tab[nsched].sys = SYS_VMBS;
		sched_tab[nsched++].size = sizes[i];
		sched_tab[nsched].sys = SYS_RTE_COPY;
		sched_tab[nsched++].size = sizes[i];
	}
	sched_tab[nsched].sys = SYS_RTE_PTR;
	sched_tab[nsched++].size = 0;

	print_cpu_model();
	printf("lcores: producer CPU %d, consumer CPU %d; burst %d; vmbs ring %u KiB data; "
	       "rte_ring %u slots, copy pool %u x %u B; window %u ms, total %.0f s\n",
	       PROD_CPU, CONS_CPU, BURST, ring_kib, RTE_RING_SLOTS, POOL_BUFS, BUF_SIZE,
	       window_ms, total_s);
	rtt0 = vmbs_placement_probe(PROD_CPU, CONS_CPU, PROBE_US);
	if (rtt0 <= 0) {
		fprintf(stderr, "cannot run on CPUs %d and %d: this benchmark needs both\n",
			PROD_CPU, CONS_CPU);
		return 77;
	}

	pthread_barrier_init(&b->start, NULL, 3);
	pthread_barrier_init(&b->done, NULL, 3);
	pthread_create(&tp, NULL, producer_main, b);
	pthread_create(&tc, NULL, consumer_main, b);

	t_end = vmbs_bench_clock_ns(CLOCK_MONOTONIC) + (int64_t)(total_s * 1e9);
	for (i = 0; vmbs_bench_clock_ns(CLOCK_MONOTONIC) < t_end && nw < MAX_WINDOWS; i++) {
		struct window *w = &win[nw];
		struct timespec ts = {
			.tv_sec = window_ms / 1000, .tv_nsec = (long)(window_ms % 1000) * 1000000,
		};

		b->sys = sched_tab[i % nsched].sys;
		b->size = sched_tab[i % nsched].size;
		if (reset_system(b) != 0) {
			fprintf(stderr, "reset failed\n");
			return 1;
		}
		b->pkts = 0;
		b->bad = 0;
		__atomic_store_n(&b->stop, 0, __ATOMIC_RELAXED);

		rtt0 = vmbs_placement_probe(PROD_CPU, CONS_CPU, PROBE_US);
		st0 = steal_jiffies();
		pthread_barrier_wait(&b->start);
		nanosleep(&ts, NULL);
		__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
		pthread_barrier_wait(&b->done);
		st1 = steal_jiffies();
		rtt1 = vmbs_placement_probe(PROD_CPU, CONS_CPU, PROBE_US);

		if (b->bad != 0) {
			fprintf(stderr, "%s %u: %llu packets out of sequence\n", sys_name[b->sys],
				b->size, (unsigned long long)b->bad);
			return 1;
		}
		w->sys = b->sys;
		w->size = b->size;
		w->mpps = (double)b->pkts / b->cons_secs / 1e6;
		w->place = vmbs_placement_classify(rtt0);
		w->clean = w->place == vmbs_placement_classify(rtt1) &&
			   (w->place == VMBS_PLACEMENT_NEAR || w->place == VMBS_PLACEMENT_FAR);
		if (!w->clean)
			dropped_place++;
		/* Another process (or the host) took CPU time from a worker: drop. */
		cpu_need = 0.95;
		busy = b->prod_cpu / b->prod_secs < b->cons_cpu / b->cons_secs ?
		       b->prod_cpu / b->prod_secs : b->cons_cpu / b->cons_secs;
		stolen = (double)(st1 - st0) / (double)sysconf(_SC_CLK_TCK);
		if (w->clean && (busy < cpu_need || stolen > 0.05 * b->cons_secs)) {
			w->clean = false;
			dropped_cpu++;
		}
		printf("  window %3d %-8s %5u  %7.2f Mpps  rtt %4.0f/%4.0f ns  %-5s cpu %.2f %s\n",
		       nw, sys_name[w->sys], w->size, w->mpps, rtt0, rtt1,
		       vmbs_placement_name(w->place), busy, w->clean ? "" : "dropped");
		nw++;
	}

	b->quit = true;
	pthread_barrier_wait(&b->start);
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);

	printf("\n%d windows: %d dropped for placement (mixed or changed), %d for lost CPU time\n",
	       nw, dropped_place, dropped_cpu);
	report(win, nw);
	printf("\nvs ptr / vs copy: vmbs Mpps divided by the peer's median, same placement.\n");
	return 0;
}
