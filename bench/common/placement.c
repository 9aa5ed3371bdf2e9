/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "placement.h"

/* One ball per cache line: the line itself is what is being timed. */
struct probe {
	uint64_t ball __attribute__((aligned(64)));	/* odd: B's turn, even: A's */
	uint32_t stop __attribute__((aligned(64)));
	uint32_t ready;
	uint32_t failed;
	int cpu_a, cpu_b;
	unsigned int duration_us;
	double rtt_ns;
};

int64_t
vmbs_bench_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int
vmbs_bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *
probe_b(void *arg)
{
	struct probe *p = arg;
	uint64_t v;

	if (vmbs_bench_pin(p->cpu_b) != 0) {
		__atomic_store_n(&p->failed, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	__atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		v = __atomic_load_n(&p->ball, __ATOMIC_ACQUIRE);
		if (v & 1)
			__atomic_store_n(&p->ball, v + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *
probe_a(void *arg)
{
	struct probe *p = arg;
	int64_t t0, t1, end;
	uint64_t v = 0, trips = 0;

	if (vmbs_bench_pin(p->cpu_a) != 0) {
		__atomic_store_n(&p->failed, 1, __ATOMIC_RELEASE);
		goto out;
	}
	while (!__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&p->failed, __ATOMIC_ACQUIRE))
			goto out;
		sched_yield();
	}
	t0 = vmbs_bench_clock_ns(CLOCK_MONOTONIC);
	end = t0 + (int64_t)p->duration_us * 1000;
	do {
		/* 16 round trips between clock reads keeps the clock's cost out. */
		for (int i = 0; i < 16; i++) {
			__atomic_store_n(&p->ball, v + 1, __ATOMIC_RELEASE);
			while ((v = __atomic_load_n(&p->ball, __ATOMIC_ACQUIRE)) & 1)
				;
			trips++;
		}
		t1 = vmbs_bench_clock_ns(CLOCK_MONOTONIC);
	} while (t1 < end);
	p->rtt_ns = (double)(t1 - t0) / (double)trips;
out:
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

double
vmbs_placement_probe(int cpu_a, int cpu_b, unsigned int duration_us)
{
	struct probe p = {
		.cpu_a = cpu_a, .cpu_b = cpu_b, .duration_us = duration_us, .rtt_ns = -1.0,
	};
	pthread_t ta, tb;

	if (pthread_create(&tb, NULL, probe_b, &p) != 0)
		return -1.0;
	if (pthread_create(&ta, NULL, probe_a, &p) != 0) {
		__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
		pthread_join(tb, NULL);
		return -1.0;
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	return p.failed ? -1.0 : p.rtt_ns;
}

enum vmbs_placement
vmbs_placement_classify(double rtt_ns)
{
	if (rtt_ns <= 0)
		return VMBS_PLACEMENT_UNKNOWN;
	if (rtt_ns < VMBS_PLACEMENT_NEAR_MAX_NS)
		return VMBS_PLACEMENT_NEAR;
	if (rtt_ns > VMBS_PLACEMENT_FAR_MIN_NS)
		return VMBS_PLACEMENT_FAR;
	return VMBS_PLACEMENT_MIXED;
}

const char *
vmbs_placement_name(enum vmbs_placement p)
{
	switch (p) {
	case VMBS_PLACEMENT_NEAR:
		return "near";
	case VMBS_PLACEMENT_FAR:
		return "far";
	case VMBS_PLACEMENT_MIXED:
		return "mixed";
	case VMBS_PLACEMENT_UNKNOWN:
		break;
	}
	return "unknown";
}
