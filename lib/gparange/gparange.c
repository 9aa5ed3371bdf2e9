/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <errno.h>
#include <string.h>

#include "vmbs_gparange.h"

void
vmbs_gparange_iter_init(struct vmbs_gparange_iter *it, const void *buf,
			size_t len, uint32_t range_cnt)
{
	it->pos = buf;
	it->left = len;
	it->ranges_left = range_cnt;
}

int
vmbs_gparange_next(struct vmbs_gparange_iter *it, struct vmbs_gparange *out)
{
	struct vmbs_gpa_range hdr;
	size_t pfn_bytes;
	uint32_t i;

	if (it->ranges_left == 0)
		return 0;
	if (it->left < sizeof(hdr))
		goto bad;
	memcpy(&hdr, it->pos, sizeof(hdr));
	if (hdr.byte_count == 0 || hdr.byte_offset >= VMBS_PAGE_SIZE)
		goto bad;

	out->byte_count = hdr.byte_count;
	out->byte_offset = hdr.byte_offset;
	out->pfn_cnt = vmbs_gparange_pages(hdr.byte_offset, hdr.byte_count);
	/* pfn_cnt <= 2^20 + 1, so this product cannot overflow size_t. */
	pfn_bytes = (size_t)out->pfn_cnt * sizeof(uint64_t);
	if (it->left - sizeof(hdr) < pfn_bytes)
		goto bad;
	out->pfns = it->pos + sizeof(hdr);
	for (i = 0; i < out->pfn_cnt; i++)
		if (vmbs_gparange_pfn(out, i) > VMBS_GPA_MAX_PFN)
			goto bad;

	it->pos += sizeof(hdr) + pfn_bytes;
	it->left -= sizeof(hdr) + pfn_bytes;
	it->ranges_left--;
	return 1;
bad:
	it->ranges_left = 0;
	it->left = 0;
	return -EBADMSG;
}

int
vmbs_gparange_check(const void *buf, size_t len, uint32_t range_cnt,
		    uint32_t *total_pfns)
{
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	uint64_t pfns = 0;
	int rc;

	if (range_cnt == 0)
		return -EBADMSG;
	vmbs_gparange_iter_init(&it, buf, len, range_cnt);
	while ((rc = vmbs_gparange_next(&it, &r)) > 0)
		pfns += r.pfn_cnt;
	if (rc < 0 || it.left != 0 || pfns > UINT32_MAX)
		return -EBADMSG;
	if (total_pfns != NULL)
		*total_pfns = (uint32_t)pfns;
	return 0;
}
