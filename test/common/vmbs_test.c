/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "vmbs_test.h"

int
vmbs_test_run(const struct vmbs_test_suite *const *suites)
{
	unsigned int run, failed, suites_failed;
	const struct vmbs_test_suite *const *s;
	const struct vmbs_test_case *c;
	CU_pSuite cs;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
		printf("0 passed, 1 failed\n");
		return 1;
	}
	for (s = suites; *s != NULL; s++) {
		cs = CU_add_suite((*s)->name, (*s)->init, (*s)->cleanup);
		if (cs == NULL)
			goto registry_error;
		for (c = (*s)->cases; c->name != NULL; c++)
			if (CU_add_test(cs, c->name, c->fn) == NULL)
				goto registry_error;
	}

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();

	/*
	 * CUnit's own exit status is always 0, so judge by its counters: a
	 * test is failed if any assertion in it failed; a suite whose setup
	 * or teardown failed counts as one more failure (its tests never ran).
	 */
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	suites_failed = CU_get_number_of_suites_failed();
	CU_cleanup_registry();

	printf("\n%u passed, %u failed\n", run - failed, failed + suites_failed);
	return (failed + suites_failed) == 0 && run > 0 ? 0 : 1;

registry_error:
	fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	printf("0 passed, 1 failed\n");
	return 1;
}

bool
vmbs_test_write_faults(volatile uint8_t *p)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		*p = 0x5a;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS;
	return WIFEXITED(status) && WEXITSTATUS(status) != 0;
}

uint32_t
vmbs_test_ref_sum(uint32_t acc, const uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}
