/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/* GPA range-list walker: hand-built lists, valid and hostile. */

#include <errno.h>
#include <string.h>

#include "vmbs_gparange.h"
#include "vmbs_test.h"

/* Append one range {count, offset, pfns...} to buf at *len. */
static void
put_range(uint8_t *buf, size_t *len, uint32_t count, uint32_t offset,
	  const uint64_t *pfns, uint32_t npfn)
{
	memcpy(buf + *len, &count, 4);
	memcpy(buf + *len + 4, &offset, 4);
	memcpy(buf + *len + 8, pfns, npfn * sizeof(uint64_t));
	*len += 8 + npfn * sizeof(uint64_t);
}

static void
page_count_is_overflow_safe(void)
{
	CU_ASSERT(vmbs_gparange_pages(0, 1) == 1);
	CU_ASSERT(vmbs_gparange_pages(0, 4096) == 1);
	CU_ASSERT(vmbs_gparange_pages(0, 4097) == 2);
	CU_ASSERT(vmbs_gparange_pages(4095, 1) == 1);
	CU_ASSERT(vmbs_gparange_pages(4095, 2) == 2);
	/* 0xfff + 0xffffffff would wrap in 32 bits. */
	CU_ASSERT(vmbs_gparange_pages(0xfff, 0xffffffffu) == 0x100001u);
}

static void
walks_ranges_in_order(void)
{
	uint8_t buf[256];
	uint64_t p1[] = { 0x100 }, p2[] = { 0x200, 0x201 };
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	size_t len = 0;

	put_range(buf, &len, 100, 8, p1, 1);
	put_range(buf, &len, 200, 4000, p2, 2);	/* header crossing a page */
	vmbs_gparange_iter_init(&it, buf, len, 2);
	CU_ASSERT_FATAL(vmbs_gparange_next(&it, &r) == 1);
	CU_ASSERT(r.byte_count == 100 && r.byte_offset == 8 && r.pfn_cnt == 1);
	CU_ASSERT(vmbs_gparange_pfn(&r, 0) == 0x100);
	CU_ASSERT_FATAL(vmbs_gparange_next(&it, &r) == 1);
	CU_ASSERT(r.byte_count == 200 && r.byte_offset == 4000 && r.pfn_cnt == 2);
	CU_ASSERT(vmbs_gparange_pfn(&r, 1) == 0x201);
	CU_ASSERT(vmbs_gparange_next(&it, &r) == 0);
}

static void
rejects_zero_count(void)
{
	uint8_t buf[64];
	uint64_t p[] = { 1 };
	size_t len = 0;

	put_range(buf, &len, 0, 0, p, 1);
	CU_ASSERT(vmbs_gparange_check(buf, len, 1, NULL) == -EBADMSG);
}

static void
rejects_offset_beyond_page(void)
{
	uint8_t buf[64];
	uint64_t p[] = { 1, 2 };
	size_t len = 0;

	put_range(buf, &len, 1, 4096, p, 2);
	CU_ASSERT(vmbs_gparange_check(buf, len, 1, NULL) == -EBADMSG);
}

static void
rejects_short_pfn_list(void)
{
	uint8_t buf[64];
	uint64_t p[] = { 1, 2 };
	size_t len = 0;

	/* 4097 bytes from offset 0 need two PFNs; give one. */
	put_range(buf, &len, 4097, 0, p, 1);
	CU_ASSERT(vmbs_gparange_check(buf, len, 1, NULL) == -EBADMSG);
	/* Truncated inside the range header itself. */
	CU_ASSERT(vmbs_gparange_check(buf, 7, 1, NULL) == -EBADMSG);
}

static void
rejects_wrapping_count(void)
{
	uint8_t buf[64];
	uint64_t p[] = { 1, 2 };
	size_t len = 0;

	put_range(buf, &len, 0xffffffffu, 0xfff, p, 2);
	CU_ASSERT(vmbs_gparange_check(buf, len, 1, NULL) == -EBADMSG);
}

static void
rejects_pfn_beyond_gpa_space(void)
{
	uint8_t buf[64];
	uint64_t p[] = { VMBS_GPA_MAX_PFN + 1 }, ok[] = { VMBS_GPA_MAX_PFN };
	size_t len = 0;

	put_range(buf, &len, 10, 0, p, 1);
	CU_ASSERT(vmbs_gparange_check(buf, len, 1, NULL) == -EBADMSG);
	len = 0;
	put_range(buf, &len, 10, 0, ok, 1);
	CU_ASSERT(vmbs_gparange_check(buf, len, 1, NULL) == 0);
}

static void
check_requires_exact_fill(void)
{
	uint8_t buf[128];
	uint64_t p[] = { 7, 8, 9 };
	uint32_t total = 0;
	size_t len = 0;

	put_range(buf, &len, 8192, 0, p, 2);
	put_range(buf, &len, 10, 100, p + 2, 1);
	CU_ASSERT(vmbs_gparange_check(buf, len, 2, &total) == 0);
	CU_ASSERT(total == 3);
	/* Bytes left over after the declared ranges. */
	CU_ASSERT(vmbs_gparange_check(buf, len + 8, 2, NULL) == -EBADMSG);
	/* More ranges declared than present. */
	CU_ASSERT(vmbs_gparange_check(buf, len, 3, NULL) == -EBADMSG);
	/* No ranges at all. */
	CU_ASSERT(vmbs_gparange_check(buf, 0, 0, NULL) == -EBADMSG);
}

static void
iterator_stays_failed(void)
{
	uint8_t buf[64];
	uint64_t p[] = { 1 };
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	size_t len = 0;

	put_range(buf, &len, 0, 0, p, 1);
	put_range(buf, &len, 8, 0, p, 1);
	vmbs_gparange_iter_init(&it, buf, len, 2);
	CU_ASSERT(vmbs_gparange_next(&it, &r) == -EBADMSG);
	CU_ASSERT(vmbs_gparange_next(&it, &r) == 0);
}

static const struct vmbs_test_case cases[] = {
	{ "page_count_is_overflow_safe", page_count_is_overflow_safe },
	{ "walks_ranges_in_order", walks_ranges_in_order },
	{ "rejects_zero_count", rejects_zero_count },
	{ "rejects_offset_beyond_page", rejects_offset_beyond_page },
	{ "rejects_short_pfn_list", rejects_short_pfn_list },
	{ "rejects_wrapping_count", rejects_wrapping_count },
	{ "rejects_pfn_beyond_gpa_space", rejects_pfn_beyond_gpa_space },
	{ "check_requires_exact_fill", check_requires_exact_fill },
	{ "iterator_stays_failed", iterator_stays_failed },
	{ NULL, NULL },
};

static const struct vmbs_test_suite suite = { "gparange", NULL, NULL, cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &suite, NULL };

	return vmbs_test_run(suites);
}
