/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * vCPU placement probe for two-core benchmarks. On the project's machines
 * the hypervisor moves the two vCPUs between physical cores: a cache-line
 * round trip between them flips between about 55 ns (they share an L3,
 * "near") and about 350 ns ("far"), which changes every cross-core figure
 * 2-4x. A benchmark calls vmbs_placement_probe() before and after each
 * measurement window and keeps only windows whose placement was clean and
 * unchanged.
 *
 * Threading: each probe starts two short-lived threads pinned to the two
 * CPUs and joins them; the caller's own affinity is not touched. Nothing
 * else should run on those CPUs meanwhile (park the benchmark's workers).
 * Not MT-safe against concurrent probes of the same CPUs. No EAL.
 */

#ifndef VMBS_PLACEMENT_H
#define VMBS_PLACEMENT_H

#include <stdint.h>
#include <time.h>

/** Round trips at or below this are "near" (shared cache). */
#define VMBS_PLACEMENT_NEAR_MAX_NS 150.0
/** Round trips at or above this are "far". */
#define VMBS_PLACEMENT_FAR_MIN_NS 250.0

enum vmbs_placement {
	VMBS_PLACEMENT_NEAR,	/**< round trip < 150 ns */
	VMBS_PLACEMENT_FAR,	/**< round trip > 250 ns */
	VMBS_PLACEMENT_MIXED,	/**< in between: moved during the probe, or noisy */
	VMBS_PLACEMENT_UNKNOWN,	/**< the probe could not run (e.g. one CPU) */
};

/**
 * Bounce one cache line between @p cpu_a and @p cpu_b for about
 * @p duration_us microseconds.
 *
 * @param cpu_a
 *   First CPU (it starts each round trip and keeps the time).
 * @param cpu_b
 *   Second CPU.
 * @param duration_us
 *   Measuring time; 100 is enough for a few hundred round trips.
 * @return
 *   Mean round-trip time in ns (> 0); -1.0 if the threads could not be
 *   created or pinned (e.g. a CPU is not available to this process).
 */
double vmbs_placement_probe(int cpu_a, int cpu_b, unsigned int duration_us);

/**
 * Classify a round-trip time.
 *
 * @param rtt_ns
 *   Result of vmbs_placement_probe().
 * @return
 *   NEAR, FAR or MIXED by the thresholds above; UNKNOWN if rtt_ns <= 0.
 */
enum vmbs_placement vmbs_placement_classify(double rtt_ns);

/**
 * Short name of a placement.
 *
 * @param p
 *   A placement.
 * @return
 *   "near", "far", "mixed" or "unknown".
 */
const char *vmbs_placement_name(enum vmbs_placement p);

/**
 * Read a clock in nanoseconds.
 *
 * @param clk
 *   CLOCK_MONOTONIC for wall time, CLOCK_THREAD_CPUTIME_ID for CPU time.
 * @return
 *   The clock's value in ns.
 */
int64_t vmbs_bench_clock_ns(clockid_t clk);

/**
 * Pin the calling thread to one CPU.
 *
 * @param cpu
 *   CPU number.
 * @return
 *   0 on success, an errno value from pthread_setaffinity_np() otherwise.
 */
int vmbs_bench_pin(int cpu);

#endif /* VMBS_PLACEMENT_H */
