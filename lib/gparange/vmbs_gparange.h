/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Guest-physical range lists: the {byte_count, byte_offset, pfn[]} sequence
 * that GPA-direct packets and GPADL messages both carry. One validating
 * walker serves both, so the overflow-safe checks live in one place.
 *
 * Input is always a private copy (never guest-shared memory), so each field
 * is read once by construction. Pure functions: thread-safe, no EAL.
 *
 * Usage:
 * @code
 *	struct vmbs_gparange_iter it;
 *	struct vmbs_gparange r;
 *	int rc;
 *
 *	vmbs_gparange_iter_init(&it, buf, len, range_cnt);
 *	while ((rc = vmbs_gparange_next(&it, &r)) > 0)
 *		use(r.byte_offset, r.byte_count, r.pfns, r.pfn_cnt);
 *	if (rc < 0)
 *		reject();	// -EBADMSG: malformed list
 * @endcode
 */

#ifndef VMBS_GPARANGE_H
#define VMBS_GPARANGE_H

#include <stddef.h>
#include <stdint.h>

#include "vmbs_wire.h"

/** One validated range. pfns points into the caller's buffer (maybe unaligned). */
struct vmbs_gparange {
	uint32_t byte_count;	/**< > 0 */
	uint32_t byte_offset;	/**< < VMBS_PAGE_SIZE */
	uint32_t pfn_cnt;	/**< ceil((byte_offset + byte_count) / 4096) */
	const uint8_t *pfns;	/**< pfn_cnt little-endian u64, read with vmbs_gparange_pfn() */
};

struct vmbs_gparange_iter {
	const uint8_t *pos;	/**< next unread byte */
	size_t left;		/**< bytes left in the buffer */
	uint32_t ranges_left;	/**< ranges still expected */
};

/**
 * Number of 4 KiB pages a range of @p byte_count bytes starting
 * @p byte_offset into its first page touches. Overflow-safe for any u32s.
 */
static inline uint32_t
vmbs_gparange_pages(uint32_t byte_offset, uint32_t byte_count)
{
	uint64_t end = (uint64_t)byte_offset + byte_count;

	return (uint32_t)((end + VMBS_PAGE_SIZE - 1) >> VMBS_PAGE_SHIFT);
}

/** Read PFN @p i of range @p r (no alignment requirement). */
static inline uint64_t
vmbs_gparange_pfn(const struct vmbs_gparange *r, uint32_t i)
{
	uint64_t pfn;

	__builtin_memcpy(&pfn, r->pfns + (size_t)i * sizeof(pfn), sizeof(pfn));
	return pfn;
}

/**
 * Start walking @p range_cnt ranges in @p buf of @p len bytes.
 */
void vmbs_gparange_iter_init(struct vmbs_gparange_iter *it, const void *buf,
			     size_t len, uint32_t range_cnt);

/**
 * Validate and return the next range.
 *
 * Rejects: byte_count 0, byte_offset >= 4096, a PFN list running past the
 * buffer, and a PFN above the 52-bit guest-physical space (pfn >= 2^40).
 *
 * @return
 *   1 with @p out filled; 0 when all ranges were returned; -EBADMSG if the
 *   list is malformed (the iterator then stays failed).
 */
int vmbs_gparange_next(struct vmbs_gparange_iter *it, struct vmbs_gparange *out);

/**
 * Validate a whole list of @p range_cnt ranges (range_cnt > 0) that must
 * fill @p len bytes exactly, as in a GPADL.
 *
 * @param total_pfns
 *   if not NULL, receives the sum of all ranges' PFN counts.
 * @return
 *   0 if valid; -EBADMSG if malformed, empty, or with bytes left over.
 */
int vmbs_gparange_check(const void *buf, size_t len, uint32_t range_cnt,
			uint32_t *total_pfns);

/** Largest PFN accepted: 52-bit guest-physical addresses. */
#define VMBS_GPA_MAX_PFN ((UINT64_C(1) << (52 - VMBS_PAGE_SHIFT)) - 1)

#endif /* VMBS_GPARANGE_H */
