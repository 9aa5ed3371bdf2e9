/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * bench_extdata: cost of vmbs_rx_get_ext_data() on resident (hugepage)
 * guest memory, and the pin-and-retry latency (VMBS_EPENDING until the
 * redelivery) on never-touched memfd memory with the slow-path service
 * run from the same thread (rte_service_run_iter_on_app_lcore()).
 *
 * Lcore layout: one thread does everything (guest, poll lcore, slow
 * path); nothing spins on the second CPU.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_service.h>

#include "fake_guest.h"
#include "vmbs_chan.h"
#include "vmbs_chan_pvt.h"

#define RUNS 9
#define ITERS 200000
#define PIN_ITERS 1000

static struct fake_guest fg;
static uint32_t sp_id;

/* What the callback is asked to do. */
static enum { M_TIME, M_PIN } mode;
static double run_ns[RUNS];
static uint32_t nseg_seen;
static int bench_rc;
static bool redelivered;

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
rx_cb(struct vmbs_chan *chan, struct vmbs_rx *rx, const void *payload,
      uint32_t len, uint32_t flags)
{
	const struct vmbs_sgl *sgl = NULL;
	int r, i, rc;

	(void)chan;
	(void)payload;
	(void)len;
	if (mode == M_TIME) {
		for (r = 0; r < RUNS; r++) {
			uint64_t t0 = rte_rdtsc_precise(), t1;

			for (i = 0; i < ITERS; i++) {
				/* Rebuild the list each time: a cold call. */
				vmbs_chan_pvt_rx_ext_reset(rx);
				rc = vmbs_rx_get_ext_data(rx, 0, &sgl);
				if (unlikely(rc != 0))
					bench_rc = rc;
			}
			t1 = rte_rdtsc_precise();
			run_ns[r] = (double)(t1 - t0) * 1e9 / (double)rte_get_tsc_hz() / ITERS;
		}
		nseg_seen = sgl != NULL ? sgl->nseg : 0;
		vmbs_rx_complete(rx, NULL, 0);
		return;
	}
	rc = vmbs_rx_get_ext_data(rx, 0, &sgl);
	if (rc == VMBS_EPENDING)
		return;
	if (rc != 0)
		bench_rc = rc;
	redelivered = (flags & VMBS_RX_F_REDELIVERED) != 0;
	vmbs_rx_complete(rx, NULL, 0);
}

static void
bench_get(struct vmbs_chan *chan, const char *what, const struct vmbs_desc_gpa_seg *segs,
	  uint32_t nseg, uint32_t pages)
{
	mode = M_TIME;
	bench_rc = 0;
	if (fg_send_gpa(&fg, 1, 0, segs, nseg, NULL, 0) != 0 || vmbs_chan_poll(chan, 0) != 1) {
		printf("%-28s | setup failed\n", what);
		return;
	}
	vmbs_chan_poll(chan, 0);
	qsort(run_ns, RUNS, sizeof(run_ns[0]), cmp_dbl);
	printf("%-28s | %5u | %4u | %8.1f | %8.1f | %8.1f%s\n", what, pages, nseg_seen,
	       run_ns[RUNS / 2], run_ns[0], run_ns[RUNS - 1], bench_rc ? "  (ERROR)" : "");
}

int
main(int argc, char **argv)
{
	char *eal[] = {
		argv[0], (char *)(uintptr_t)"--no-huge", (char *)(uintptr_t)"-m",
		(char *)(uintptr_t)"128", (char *)(uintptr_t)"--no-shconf",
		(char *)(uintptr_t)"--no-pci", (char *)(uintptr_t)"-l",
		(char *)(uintptr_t)"0", (char *)(uintptr_t)"--no-telemetry",
		(char *)(uintptr_t)"--log-level=lib.eal:error",
		(char *)(uintptr_t)"--file-prefix=bench_extdata",
	};
	struct vmbs_chan_params p = {
		.max_pkt_size = 4096, .max_ext_segs = 64, .quota = 4, .rx_cb = rx_cb,
	};
	struct vmbs_desc_gpa_seg segs[17];
	struct vmbs_chan_sp_stats sps;
	struct vmbs_chan *chan;
	static double pin_ns[PIN_ITERS];
	bool huge = true;
	uint32_t i, ok = 0;

	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
		return 1;
	/* Region A: 32 MiB of hugetlb memfd; region B: 64 MiB untouched memfd. */
	if (fg_create(&fg, 4, 4, 32u << 20, 64u << 20, true) != 0) {
		fg_destroy(&fg);
		huge = false;
		if (fg_create(&fg, 4, 4, 32u << 20, 64u << 20, false) != 0)
			return 1;
	}
	p.gm = fg.gm;
	chan = vmbs_chan_alloc(&p);
	if (chan == NULL || vmbs_chan_enable(chan) != 0 || vmbs_chan_start(chan) != 0 ||
	    vmbs_chan_open(chan, fg.tbl, FG_RING_GPADL, 4) != 0)
		return 1;
	vmbs_chan_sp_service_id(&sp_id);

	printf("bench_extdata: one thread (guest + poll + slow path), TSC %.2f GHz\n",
	       (double)rte_get_tsc_hz() / 1e9);
	printf("resident region: %s; %d runs x %d calls, ns per get_ext_data call\n",
	       huge ? "hugetlb memfd (2 MiB pages)" : "populated memfd (no hugepages!)",
	       RUNS, ITERS);
	printf("%-28s | pages | segs |   median |      min |      max\n", "case");
	for (i = 0; i < 17; i++) {
		segs[i].gpa = fg_data_gpa(&fg, 0x100000) + (uint64_t)i * 4096;
		segs[i].len = 4096;
	}
	segs[0].len = 4096;
	bench_get(chan, "1 page", segs, 1, 1);
	segs[0].len = 2 * 4096;
	bench_get(chan, "2 pages, 1 range", segs, 1, 2);
	segs[0].len = 17 * 4096;
	bench_get(chan, "17 pages, 1 range", segs, 1, 17);
	/* 17 ranges on every other page: nothing merges. */
	for (i = 0; i < 17; i++) {
		segs[i].gpa = fg_data_gpa(&fg, 0x100000) + (uint64_t)i * 8192;
		segs[i].len = 4096;
	}
	bench_get(chan, "17 pages, 17 ranges apart", segs, 17, 17);

	/* Pin and retry: a fresh untouched page each time. */
	mode = M_PIN;
	bench_rc = 0;
	for (i = 0; i < PIN_ITERS; i++) {
		struct vmbs_desc_gpa_seg s = { FG_GPA_B + (uint64_t)i * 4096, 4096 };
		uint64_t t0, t1;
		int spins = 0;

		redelivered = false;
		if (fg_send_gpa(&fg, 2, 0, &s, 1, NULL, 0) != 0)
			break;
		t0 = rte_rdtsc_precise();
		vmbs_chan_poll(chan, 0);	/* delivers, pends */
		while (!redelivered && spins++ < 1000000) {
			rte_service_run_iter_on_app_lcore(sp_id, 1);
			vmbs_chan_poll(chan, 0);
		}
		t1 = rte_rdtsc_precise();
		if (!redelivered)
			break;
		pin_ns[ok++] = (double)(t1 - t0) * 1e9 / (double)rte_get_tsc_hz();
		/* Completion -> unpin through the slow path -> slot free. */
		vmbs_chan_poll(chan, 0);
		rte_service_run_iter_on_app_lcore(sp_id, 1);
		vmbs_chan_poll(chan, 0);
	}
	qsort(pin_ns, ok, sizeof(pin_ns[0]), cmp_dbl);
	printf("\npin-and-retry (1 untouched memfd page: populate+mlock+pin, redeliver)\n");
	if (ok > 0)
		printf("iterations %u  median %.0f ns  p90 %.0f ns  p99 %.0f ns  max %.0f ns%s\n",
		       ok, pin_ns[ok / 2], pin_ns[ok * 9 / 10], pin_ns[ok * 99 / 100],
		       pin_ns[ok - 1], bench_rc ? "  (errors seen)" : "");
	vmbs_chan_sp_stats_get(&sps);
	printf("slow-path histogram (request -> pinned):");
	for (i = 0; i < VMBS_CHAN_SP_HIST; i++)
		if (sps.hist[i] != 0)
			printf(" [%llu ns..): %llu", 1ull << i, (unsigned long long)sps.hist[i]);
	printf("\nslow path: requests %llu, unpins %llu, failures %llu\n",
	       (unsigned long long)sps.requests, (unsigned long long)sps.unpins,
	       (unsigned long long)sps.failures);
	vmbs_chan_disable(chan);
	vmbs_chan_free(chan);
	fg_destroy(&fg);
	rte_eal_cleanup();
	return ok == PIN_ITERS && bench_rc == 0 ? 0 : 2;
}
