/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <stdio.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "vmbs_test.h"

int
vmbs_test_eal_init(const char *prefix)
{
	char prefix_arg[64];
	char *argv[] = {
		(char *)(uintptr_t)"vmbs_test",
		(char *)(uintptr_t)"--no-huge",
		(char *)(uintptr_t)"-m", (char *)(uintptr_t)"256",
		(char *)(uintptr_t)"--no-shconf",
		(char *)(uintptr_t)"--no-pci",
		(char *)(uintptr_t)"-l", (char *)(uintptr_t)"0",
		(char *)(uintptr_t)"--no-telemetry",
		(char *)(uintptr_t)"--log-level=lib.eal:error",
		prefix_arg,
	};

	snprintf(prefix_arg, sizeof(prefix_arg), "--file-prefix=%s", prefix);
	if (rte_eal_init((int)RTE_DIM(argv), argv) < 0) {
		fprintf(stderr, "%s: EAL init failed\n", prefix);
		return -1;
	}
	return 0;
}
