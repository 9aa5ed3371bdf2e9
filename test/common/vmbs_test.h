/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Test harness shared by every test binary: a thin layer over CUnit that
 * registers suites from static tables, runs them, prints CUnit's report and
 * a closing "N passed, N failed" line, and turns any failure (a failed
 * assertion, a suite whose setup failed) into a non-zero exit status.
 *
 * Single-threaded: call vmbs_test_run() once from main().
 */

#ifndef VMBS_TEST_H
#define VMBS_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

/** Exit status meaning "skipped" to meson test. */
#define VMBS_TEST_SKIP 77

struct vmbs_test_case {
	const char *name;	/**< behaviour under test, e.g. "wraps_at_ring_end" */
	CU_TestFunc fn;		/**< the test body */
};

struct vmbs_test_suite {
	const char *name;			/**< component or feature name */
	CU_InitializeFunc init;			/**< optional suite setup */
	CU_CleanupFunc cleanup;			/**< optional suite teardown */
	const struct vmbs_test_case *cases;	/**< terminated by { NULL, NULL } */
};

/**
 * Register and run suites, then print "N passed, N failed".
 *
 * @param suites
 *   NULL-terminated array of suites.
 * @return
 *   0 when every test passed, 1 otherwise: the value for main() to return.
 */
int vmbs_test_run(const struct vmbs_test_suite *const *suites);

/**
 * Initialise DPDK's EAL for a test binary, with its own file prefix so that
 * test binaries run in parallel (no hugepages, no PCI, no shared config).
 * Only in test_common_eal; call at most once per process.
 *
 * @param prefix
 *   unique file prefix, usually the binary's name.
 * @return
 *   0 on success, -1 if the EAL refused to start.
 */
int vmbs_test_eal_init(const char *prefix);

/**
 * Check that writing through @p p faults: write one byte in a forked child
 * (with default SIGSEGV/SIGBUS actions, so a sanitizer's handler cannot
 * turn the fault into something else) and judge its end.
 *
 * @param p
 *   address expected to be mapped read-only.
 * @return
 *   true if the child died of SIGSEGV or SIGBUS (or exited non-zero, as a
 *   sanitizer may make it); false if the write succeeded or fork failed.
 */
bool vmbs_test_write_faults(volatile uint8_t *p);

/**
 * The Internet checksum's one's complement sum, byte by byte (RFC 1071):
 * a reference for checking checksum code, written for clarity only.
 *
 * @param acc
 *   a running sum (0 to start), folded or not.
 * @return
 *   @p acc plus the big-endian 16-bit words of @p p (an odd last byte
 *   padded with zero), folded to 16 bits; 0xffff over data whose checksum
 *   field is right.
 */
uint32_t vmbs_test_ref_sum(uint32_t acc, const uint8_t *p, uint32_t len);

/** Assert that @p expr is true; on failure fail the test and return. */
#define VMBS_CHECK(expr) CU_ASSERT_FATAL(expr)

#endif /* VMBS_TEST_H */
