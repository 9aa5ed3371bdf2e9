/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "vmbs_gparange.h"
#include "vmbs_guestmem.h"

struct gm_region {
	uint64_t gpa;		/* first guest-physical address */
	uint64_t size;		/* bytes */
	uint64_t iova;		/* DMA address of the first byte */
	uint8_t *va;		/* read-write view */
	uint8_t *ro_va;		/* read-only view */
	uint64_t page_size;	/* backing page size */
	uint64_t users;		/* pinned segments inside this region */
	bool hugetlb;		/* backed by hugetlbfs */
	bool resident;		/* populated and locked as a whole */
};

/*
 * Regions sorted by gpa, non-overlapping. A flat array rather than a tree:
 * VMMs use a handful of slots, and a binary search over at most 64 entries
 * in two cache lines' worth of keys beats pointer chasing.
 *
 * There is deliberately no shared last-hit cache: data-plane threads look
 * up concurrently, and a cache they all write would bounce its cache line
 * between lcores (and be a data race) to save about six comparisons.
 */
struct vmbs_gm {
	uint32_t nregions;
	struct gm_region regions[VMBS_GM_MAX_REGIONS];
};

struct vmbs_gm *
vmbs_gm_create(void)
{
	return calloc(1, sizeof(struct vmbs_gm));
}

static void
gm_unmap(struct gm_region *r)
{
	munmap(r->va, r->size);
	munmap(r->ro_va, r->size);
}

void
vmbs_gm_destroy(struct vmbs_gm *gm)
{
	uint32_t i;

	if (gm == NULL)
		return;
	for (i = 0; i < gm->nregions; i++)
		gm_unmap(&gm->regions[i]);
	free(gm);
}

/* Index of the first region whose gpa is above @p gpa (0 .. nregions). */
static uint32_t
gm_upper(const struct vmbs_gm *gm, uint64_t gpa)
{
	uint32_t lo = 0, hi = gm->nregions, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (gm->regions[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The region holding all of [gpa, gpa + len), len > 0, or NULL. Written
 * without computing gpa + len, so a range that wraps simply fails.
 */
static const struct gm_region *
gm_find(const struct vmbs_gm *gm, uint64_t gpa, uint64_t len)
{
	const struct gm_region *r;
	uint32_t i = gm_upper(gm, gpa);
	uint64_t off;

	if (i == 0)
		return NULL;
	r = &gm->regions[i - 1];
	off = gpa - r->gpa;
	if (off >= r->size || len > r->size - off)
		return NULL;
	return r;
}

/* gm_find() for callers that update the region (pin counts, residency). */
static struct gm_region *
gm_find_mut(struct vmbs_gm *gm, uint64_t gpa, uint64_t len)
{
	return (struct gm_region *)(uintptr_t)gm_find(gm, gpa, len);
}

static int
gm_index_of(const struct vmbs_gm *gm, uint64_t gpa)
{
	uint32_t i = gm_upper(gm, gpa);

	if (i == 0 || gm->regions[i - 1].gpa != gpa)
		return -ENOENT;
	return (int)(i - 1);
}

/* Page size of the file system under @p fd: the hugepage size on hugetlbfs. */
static int
gm_backing_page(int fd, uint64_t *page_size, bool *hugetlb)
{
	struct statfs sfs;

	*hugetlb = false;
	*page_size = VMBS_PAGE_SIZE;
	if (fstatfs(fd, &sfs) != 0)
		return -errno;
	*hugetlb = sfs.f_type == HUGETLBFS_MAGIC;
	if (*hugetlb) {
		/* f_bsize is the hugepage size on hugetlbfs. */
		if (sfs.f_bsize <= 0 || (sfs.f_bsize & (sfs.f_bsize - 1)) != 0 ||
		    (uint64_t)sfs.f_bsize < VMBS_PAGE_SIZE)
			return -EINVAL;
		*page_size = (uint64_t)sfs.f_bsize;
	}
	return 0;
}

int
vmbs_gm_add_region(struct vmbs_gm *gm, uint64_t gpa, uint64_t size, int fd,
		   uint64_t offset)
{
	struct gm_region r = { 0 };
	uint64_t page_size;
	struct stat st;
	bool hugetlb;
	void *va, *ro_va;
	uint32_t i;
	int rc;

	if (size == 0)
		return -EINVAL;
	if (size > VMBS_GM_MAX_REGION_SIZE)
		return -E2BIG;
	if (gpa > UINT64_MAX - size || offset > UINT64_MAX - size)
		return -EOVERFLOW;
	if (gpa + size > VMBS_GM_GPA_LIMIT)
		return -EOVERFLOW;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	rc = gm_backing_page(fd, &page_size, &hugetlb);
	if (rc != 0)
		return rc;
	/* mmap would fail on a misaligned hugetlbfs offset or size anyway;
	 * checking here gives one error code and no half-made mapping.
	 */
	if ((gpa | size | offset) & (page_size - 1))
		return -EINVAL;
	/* Mapping past EOF "works" until first touch, then raises SIGBUS. */
	if (st.st_size < 0 || offset + size > (uint64_t)st.st_size)
		return -EINVAL;
	if (gm->nregions == VMBS_GM_MAX_REGIONS)
		return -ENOSPC;

	/* Overlap: only the neighbours in sorted order can collide. */
	i = gm_upper(gm, gpa);
	if (i > 0 && gpa - gm->regions[i - 1].gpa < gm->regions[i - 1].size)
		return -EEXIST;
	if (i < gm->nregions && gm->regions[i].gpa - gpa < size)
		return -EEXIST;

	va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (va == MAP_FAILED)
		return -errno;
	ro_va = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, (off_t)offset);
	if (ro_va == MAP_FAILED) {
		rc = -errno;
		munmap(va, size);
		return rc;
	}

	r.gpa = gpa;
	r.size = size;
	r.va = va;
	r.ro_va = ro_va;
	r.iova = (uint64_t)(uintptr_t)va;
	r.page_size = page_size;
	r.hugetlb = hugetlb;
	/* Hugetlbfs pages are never swapped or reclaimed while mapped. */
	r.resident = hugetlb;

	memmove(&gm->regions[i + 1], &gm->regions[i],
		(gm->nregions - i) * sizeof(gm->regions[0]));
	gm->regions[i] = r;
	gm->nregions++;
	return 0;
}

int
vmbs_gm_remove_region(struct vmbs_gm *gm, uint64_t gpa)
{
	int i = gm_index_of(gm, gpa);

	if (i < 0)
		return i;
	if (gm->regions[i].users != 0)
		return -EBUSY;
	gm_unmap(&gm->regions[i]);
	memmove(&gm->regions[i], &gm->regions[i + 1],
		(gm->nregions - (uint32_t)i - 1) * sizeof(gm->regions[0]));
	gm->nregions--;
	return 0;
}

int
vmbs_gm_set_iova(struct vmbs_gm *gm, uint64_t gpa, uint64_t iova)
{
	struct gm_region *r;
	int i = gm_index_of(gm, gpa);

	if (i < 0)
		return i;
	r = &gm->regions[i];
	if ((iova & VMBS_PAGE_MASK) != 0 || iova > UINT64_MAX - r->size)
		return -EINVAL;
	if (r->users != 0)
		return -EBUSY;
	r->iova = iova;
	return 0;
}

uint32_t
vmbs_gm_region_count(const struct vmbs_gm *gm)
{
	return gm->nregions;
}

int
vmbs_gm_region_get(const struct vmbs_gm *gm, uint32_t idx,
		   struct vmbs_gm_region_info *info)
{
	const struct gm_region *r;

	if (idx >= gm->nregions)
		return -ENOENT;
	r = &gm->regions[idx];
	info->gpa = r->gpa;
	info->size = r->size;
	info->va = r->va;
	info->ro_va = r->ro_va;
	info->iova = r->iova;
	info->page_size = r->page_size;
	info->users = r->users;
	info->hugetlb = r->hugetlb;
	info->resident = r->resident;
	return 0;
}

static void
gm_fill_seg(const struct gm_region *r, uint64_t gpa, uint32_t len, bool ro,
	    struct vmbs_seg *seg)
{
	uint64_t off = gpa - r->gpa;

	seg->gpa = gpa;
	seg->va = (ro ? r->ro_va : r->va) + off;
	/* Both views share pages, so the RO view's IOVA is the RW one's. */
	seg->iova = r->iova + off;
	seg->len = len;
	seg->flags = r->resident ? VMBS_SEG_F_RESIDENT : 0;
}

void *
vmbs_gm_va(const struct vmbs_gm *gm, uint64_t gpa, uint32_t len, uint32_t flags)
{
	const struct gm_region *r;

	if (len == 0)
		return NULL;
	r = gm_find(gm, gpa, len);
	if (r == NULL)
		return NULL;
	return ((flags & VMBS_GM_F_RO) ? r->ro_va : r->va) + (gpa - r->gpa);
}

int
vmbs_gm_lookup(const struct vmbs_gm *gm, uint64_t gpa, uint32_t len,
	       uint32_t flags, struct vmbs_seg *seg)
{
	const struct gm_region *r;

	if (len == 0 || (flags & ~VMBS_GM_F_RO) != 0)
		return -EINVAL;
	r = gm_find(gm, gpa, len);
	if (r == NULL)
		return -EFAULT;
	gm_fill_seg(r, gpa, len, (flags & VMBS_GM_F_RO) != 0, seg);
	return 0;
}

/*
 * Segment builder shared by both translators. The segment being grown is
 * kept aside in cur and only stored once it cannot grow any more, so that
 * counting past max_segs (for -ENOBUFS) needs no extra storage.
 */
struct gm_xlate {
	const struct vmbs_gm *gm;
	bool ro;
	struct vmbs_seg *segs;
	uint32_t max_segs;
	uint64_t n;			/* completed segments */
	const struct gm_region *reg;	/* region of cur; NULL: no cur yet */
	struct vmbs_seg cur;
};

static void
xlate_flush(struct gm_xlate *x)
{
	if (x->reg == NULL)
		return;
	if (x->n < x->max_segs)
		x->segs[x->n] = x->cur;
	x->n++;
}

/* Append the piece [gpa, gpa + len) of one 4 KiB page. */
static int
xlate_add(struct gm_xlate *x, uint64_t pfn, uint32_t off, uint32_t len)
{
	const struct gm_region *r = x->reg;
	uint64_t gpa;

	/* A PFN past the GPA space would wrap when shifted and could then
	 * land inside a region: reject before shifting.
	 */
	if (pfn > VMBS_GPA_MAX_PFN)
		return -EFAULT;
	gpa = (pfn << VMBS_PAGE_SHIFT) + off;

	/* Within one region, GPA contiguity implies VA and IOVA contiguity. */
	if (r != NULL && x->cur.gpa + x->cur.len == gpa &&
	    len <= UINT32_MAX - x->cur.len &&
	    gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)) {
		x->cur.len += len;
		return 0;
	}
	r = gm_find(x->gm, gpa, len);
	if (r == NULL)
		return -EFAULT;
	xlate_flush(x);
	x->reg = r;
	gm_fill_seg(r, gpa, len, x->ro, &x->cur);
	return 0;
}

/* Append one range: @p count bytes from @p offset into the first page. */
static int
xlate_range(struct gm_xlate *x, uint32_t offset, uint32_t count,
	    uint64_t (*pfn_at)(const void *, uint32_t), const void *pfns)
{
	uint32_t i, chunk;
	int rc;

	for (i = 0; count > 0; i++) {
		chunk = VMBS_PAGE_SIZE - offset;
		if (chunk > count)
			chunk = count;
		rc = xlate_add(x, pfn_at(pfns, i), offset, chunk);
		if (rc != 0)
			return rc;
		count -= chunk;
		offset = 0;
	}
	return 0;
}

static int
xlate_finish(struct gm_xlate *x, uint32_t *nsegs)
{
	xlate_flush(x);
	if (x->n > UINT32_MAX)
		return -E2BIG;
	*nsegs = (uint32_t)x->n;
	return x->n > x->max_segs ? -ENOBUFS : 0;
}

static uint64_t
pfn_at_array(const void *pfns, uint32_t i)
{
	return ((const uint64_t *)pfns)[i];
}

static uint64_t
pfn_at_range(const void *range, uint32_t i)
{
	return vmbs_gparange_pfn(range, i);
}

int
vmbs_gm_translate_pfns(const struct vmbs_gm *gm, const uint64_t *pfns,
		       uint32_t pfn_cnt, uint32_t first_offset, uint32_t len,
		       uint32_t flags, struct vmbs_seg *segs, uint32_t max_segs,
		       uint32_t *nsegs)
{
	struct gm_xlate x = {
		.gm = gm,
		.ro = (flags & VMBS_GM_F_RO) != 0,
		.segs = segs,
		.max_segs = max_segs,
	};
	int rc;

	if (len == 0 || first_offset >= VMBS_PAGE_SIZE ||
	    (flags & ~VMBS_GM_F_RO) != 0 ||
	    pfn_cnt != vmbs_gparange_pages(first_offset, len))
		return -EINVAL;
	rc = xlate_range(&x, first_offset, len, pfn_at_array, pfns);
	if (rc != 0)
		return rc;
	return xlate_finish(&x, nsegs);
}

int
vmbs_gm_translate_ranges(const struct vmbs_gm *gm, const void *buf,
			 size_t buf_len, uint32_t range_cnt, uint32_t flags,
			 struct vmbs_seg *segs, uint32_t max_segs,
			 uint32_t *nsegs)
{
	struct gm_xlate x = {
		.gm = gm,
		.ro = (flags & VMBS_GM_F_RO) != 0,
		.segs = segs,
		.max_segs = max_segs,
	};
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	int rc;

	if (range_cnt == 0 || (flags & ~VMBS_GM_F_RO) != 0)
		return -EINVAL;
	vmbs_gparange_iter_init(&it, buf, buf_len, range_cnt);
	while ((rc = vmbs_gparange_next(&it, &r)) > 0) {
		rc = xlate_range(&x, r.byte_offset, r.byte_count, pfn_at_range, &r);
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return xlate_finish(&x, nsegs);
}

int
vmbs_gm_pin(struct vmbs_gm *gm, const struct vmbs_seg *segs, uint32_t n)
{
	struct gm_region *r;
	uint32_t i;

	for (i = 0; i < n; i++) {
		r = segs[i].len == 0 ? NULL : gm_find_mut(gm, segs[i].gpa, segs[i].len);
		if (r == NULL)
			goto rollback;
		r->users++;
	}
	return 0;
rollback:
	while (i-- > 0)
		gm_find_mut(gm, segs[i].gpa, segs[i].len)->users--;
	return -EFAULT;
}

int
vmbs_gm_unpin(struct vmbs_gm *gm, const struct vmbs_seg *segs, uint32_t n)
{
	struct gm_region *r;
	int rc = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		r = segs[i].len == 0 ? NULL : gm_find_mut(gm, segs[i].gpa, segs[i].len);
		if (r == NULL || r->users == 0) {
			rc = -EINVAL;
			continue;
		}
		r->users--;
	}
	return rc;
}

/*
 * Fault in [p, p + len) by touching one byte per 4 KiB, for kernels
 * without MADV_POPULATE_* (before 5.14). A write fault must not change
 * guest data the guest may be writing concurrently, so it is an atomic
 * add of zero.
 */
static void
gm_touch(uint8_t *p, uint64_t len, bool write)
{
	uint64_t off;

	for (off = 0; off < len; off += VMBS_PAGE_SIZE) {
		if (write)
			__atomic_fetch_add(p + off, 0, __ATOMIC_RELAXED);
		else
			(void)__atomic_load_n(p + off, __ATOMIC_RELAXED);
	}
}

static int
gm_populate_view(uint8_t *p, uint64_t len, bool write)
{
	if (madvise(p, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
		return 0;
	/* EINVAL: the kernel predates MADV_POPULATE_*; anything else is real. */
	if (errno != EINVAL)
		return -errno;
	gm_touch(p, len, write);
	return 0;
}

int
vmbs_gm_populate(struct vmbs_gm *gm, uint64_t gpa, uint64_t len, bool write)
{
	uint64_t cur, left, off, end, chunk;
	struct gm_region *r;
	int rc;

	if (len == 0)
		return -EINVAL;
	if (gpa > UINT64_MAX - len)
		return -EFAULT;
	/* Check coverage first so that a hole costs nothing. */
	for (cur = gpa, left = len; left > 0; cur += chunk, left -= chunk) {
		r = gm_find_mut(gm, cur, 1);
		if (r == NULL)
			return -EFAULT;
		chunk = r->size - (cur - r->gpa);
		if (chunk > left)
			chunk = left;
	}

	for (cur = gpa, left = len; left > 0; cur += chunk, left -= chunk) {
		r = gm_find_mut(gm, cur, 1);
		chunk = r->size - (cur - r->gpa);
		if (chunk > left)
			chunk = left;
		/* madvise and mlock want whole pages of the mapping. */
		off = (cur - r->gpa) & ~(r->page_size - 1);
		end = cur - r->gpa + chunk;
		end = (end + r->page_size - 1) & ~(r->page_size - 1);

		rc = gm_populate_view(r->va + off, end - off, write);
		if (rc != 0)
			return rc;
		rc = gm_populate_view(r->ro_va + off, end - off, false);
		if (rc != 0)
			return rc;
		/* Locking the RW view keeps the shared pages in memory; the RO
		 * view's page tables were just filled above.
		 */
		if (mlock(r->va + off, end - off) != 0)
			return -errno;
		if (off == 0 && end == r->size)
			r->resident = true;
	}
	return 0;
}

bool
vmbs_gm_is_resident(const struct vmbs_gm *gm, uint64_t gpa, uint64_t len)
{
	const struct gm_region *r;
	uint64_t cur, left, chunk;

	if (len == 0 || gpa > UINT64_MAX - len)
		return false;
	for (cur = gpa, left = len; left > 0; cur += chunk, left -= chunk) {
		r = gm_find(gm, cur, 1);
		if (r == NULL || !r->resident)
			return false;
		chunk = r->size - (cur - r->gpa);
		if (chunk > left)
			chunk = left;
	}
	return true;
}
