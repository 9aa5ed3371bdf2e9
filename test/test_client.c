/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include "vmbs_test.h"

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { NULL };

	return vmbs_test_run(suites);
}
