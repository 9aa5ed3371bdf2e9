/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Guest memory: region table validation, GPA lookups at region edges, page
 * list translation and merging, pinning, population, and the read-only
 * view's MMU enforcement. Guest memory is a memfd (or a hugetlbfs memfd
 * when 2 MiB hugepages are available) that the test also maps itself to
 * play the guest.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "vmbs_guestmem.h"
#include "vmbs_test.h"
#include "vmbs_wire.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define HP_SIZE (2 * MiB)

static int
mk_memfd(uint64_t size)
{
	int fd = memfd_create("vmbs-gm-test", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A table with one memfd region of @p size bytes at @p gpa; fd returned. */
static struct vmbs_gm *
mk_gm(uint64_t gpa, uint64_t size, int *fd_out)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	int fd = mk_memfd(size);

	if (gm == NULL || fd < 0 || vmbs_gm_add_region(gm, gpa, size, fd, 0) != 0) {
		vmbs_gm_destroy(gm);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*fd_out = fd;
	return gm;
}

/*
 * A hugetlbfs memfd of @p size bytes, or -1 with a note when the machine
 * has no 2 MiB hugepages to spare. *skip tells the test to pass quietly,
 * unless VMBS_REQUIRE_HUGEPAGES=1 asks for the hugepage paths to be
 * proven, in which case it fails.
 */
static int
mk_hugefd(uint64_t size, const char *test, bool *skip)
{
	const char *req = getenv("VMBS_REQUIRE_HUGEPAGES");
	int fd;

	*skip = false;
	fd = memfd_create("vmbs-gm-huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	if (fd >= 0 && ftruncate(fd, (off_t)size) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	if (req != NULL && strcmp(req, "1") == 0) {
		printf("\n  %s: no 2 MiB hugepages (%s) and VMBS_REQUIRE_HUGEPAGES=1: FAIL\n",
		       test, strerror(errno));
		CU_FAIL("2 MiB hugepages required but unavailable");
		return -1;
	}
	printf("\n  %s: SKIPPED (no 2 MiB hugepages available: %s; "
	       "set VMBS_REQUIRE_HUGEPAGES=1 to make this fatal)\n", test, strerror(errno));
	*skip = true;
	return -1;
}

/* Hugetlbfs reserves pages at mmap time, so a short pool shows up there. */
static bool
huge_add_failed_for_lack_of_pages(int rc, const char *test)
{
	const char *req = getenv("VMBS_REQUIRE_HUGEPAGES");

	if (rc != -ENOMEM)
		return false;
	if (req != NULL && strcmp(req, "1") == 0) {
		CU_FAIL("not enough 2 MiB hugepages and VMBS_REQUIRE_HUGEPAGES=1");
		return true;
	}
	printf("\n  %s: SKIPPED (hugepage pool too small)\n", test);
	return true;
}

/* ---------------------------------------------------------------------- */

static void
add_and_remove_region(void)
{
	struct vmbs_gm_region_info info;
	struct vmbs_gm *gm = vmbs_gm_create();
	int fd = mk_memfd(64 * KiB);

	VMBS_CHECK(gm != NULL && fd >= 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x100000, 64 * KiB, fd, 0), 0);
	close(fd);	/* the table must not depend on our descriptor */
	CU_ASSERT_EQUAL(vmbs_gm_region_count(gm), 1);
	CU_ASSERT_EQUAL(vmbs_gm_region_get(gm, 0, &info), 0);
	CU_ASSERT_EQUAL(info.gpa, 0x100000);
	CU_ASSERT_EQUAL(info.size, 64 * KiB);
	CU_ASSERT_PTR_NOT_NULL(info.va);
	CU_ASSERT_PTR_NOT_NULL(info.ro_va);
	CU_ASSERT(info.va != info.ro_va);
	CU_ASSERT_EQUAL(info.iova, (uint64_t)(uintptr_t)info.va);
	CU_ASSERT_EQUAL(info.page_size, 4 * KiB);
	CU_ASSERT_FALSE(info.hugetlb);
	CU_ASSERT_FALSE(info.resident);
	CU_ASSERT_EQUAL(info.users, 0);
	CU_ASSERT_EQUAL(vmbs_gm_region_get(gm, 1, &info), -ENOENT);

	/* The mapping is live after close(fd): write it, read it back. */
	memset(vmbs_gm_va(gm, 0x100000, 64 * KiB, 0), 0xab, 64 * KiB);
	CU_ASSERT_EQUAL(*(uint8_t *)vmbs_gm_va(gm, 0x10ffff, 1, VMBS_GM_F_RO), 0xab);

	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 0x101000), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 0x100000), 0);
	CU_ASSERT_EQUAL(vmbs_gm_region_count(gm), 0);
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, 0x100000, 1, 0));
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 0x100000), -ENOENT);
	vmbs_gm_destroy(gm);
}

static void
rejects_zero_size_and_misalignment(void)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	int fd = mk_memfd(64 * KiB);

	VMBS_CHECK(gm != NULL && fd >= 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 0, fd, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x800, 8 * KiB, fd, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 8 * KiB + 1, fd, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 8 * KiB, fd, 512), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_region_count(gm), 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 8 * KiB, fd, 4 * KiB), 0);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
rejects_overflow_and_oversize(void)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	int fd = mk_memfd(64 * KiB);

	VMBS_CHECK(gm != NULL && fd >= 0);
	/* gpa + size wraps the 64-bit space. */
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, UINT64_MAX - 4095, 8 * KiB, fd, 0),
			-EOVERFLOW);
	/* offset + size wraps. */
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 8 * KiB, fd, UINT64_MAX - 4095),
			-EOVERFLOW);
	/* Ends past the 52-bit guest-physical space. */
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, VMBS_GM_GPA_LIMIT - 4 * KiB, 8 * KiB,
					   fd, 0), -EOVERFLOW);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, VMBS_GM_GPA_LIMIT - 8 * KiB, 8 * KiB,
					   fd, 0), 0);
	/* Bigger than any VM slot: refused before looking at the file. */
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, VMBS_GM_MAX_REGION_SIZE + 4 * KiB,
					   fd, 0), -E2BIG);
	CU_ASSERT_EQUAL(vmbs_gm_region_count(gm), 1);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
rejects_file_too_short_and_bad_fds(void)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	int fd = mk_memfd(64 * KiB), pfd[2], rofd;
	char path[64];

	VMBS_CHECK(gm != NULL && fd >= 0 && pipe(pfd) == 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 128 * KiB, fd, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 64 * KiB, fd, 4 * KiB), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 60 * KiB, fd, 4 * KiB), 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 1 * MiB, 4 * KiB, pfd[0], 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 1 * MiB, 4 * KiB, -1, 0), -EBADF);

	/* A read-only descriptor cannot back the read-write view. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rofd = open(path, O_RDONLY | O_CLOEXEC);
	VMBS_CHECK(rofd >= 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 1 * MiB, 4 * KiB, rofd, 0), -EACCES);
	CU_ASSERT_EQUAL(vmbs_gm_region_count(gm), 1);
	close(rofd);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
rejects_overlap_accepts_adjacent(void)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	struct vmbs_gm_region_info a, b, c;
	int fd = mk_memfd(1 * MiB);

	VMBS_CHECK(gm != NULL && fd >= 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x100000, 64 * KiB, fd, 0), 0);
	/* Same start, inside, straddling either end, enclosing. */
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x100000, 4 * KiB, fd, 0), -EEXIST);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x108000, 4 * KiB, fd, 0), -EEXIST);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x0ff000, 8 * KiB, fd, 0), -EEXIST);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x10f000, 8 * KiB, fd, 0), -EEXIST);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x0f0000, 256 * KiB, fd, 0), -EEXIST);
	/* Touching either end is fine, and the table stays sorted. */
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x110000, 4 * KiB, fd, 0), 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x0ff000, 4 * KiB, fd, 0), 0);
	CU_ASSERT_EQUAL(vmbs_gm_region_count(gm), 3);
	CU_ASSERT_EQUAL(vmbs_gm_region_get(gm, 0, &a), 0);
	CU_ASSERT_EQUAL(vmbs_gm_region_get(gm, 1, &b), 0);
	CU_ASSERT_EQUAL(vmbs_gm_region_get(gm, 2, &c), 0);
	CU_ASSERT(a.gpa == 0x0ff000 && b.gpa == 0x100000 && c.gpa == 0x110000);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
region_count_is_bounded(void)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	int fd = mk_memfd(4 * KiB);
	uint32_t i;

	VMBS_CHECK(gm != NULL && fd >= 0);
	/* Every region maps the same page: aliasing is the VMM's business. */
	for (i = 0; i < VMBS_GM_MAX_REGIONS; i++)
		VMBS_CHECK(vmbs_gm_add_region(gm, (uint64_t)i * 2 * MiB, 4 * KiB, fd, 0) == 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 1ull << 40, 4 * KiB, fd, 0), -ENOSPC);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 2 * MiB), 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 1ull << 40, 4 * KiB, fd, 0), 0);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
lookup_at_region_edges(void)
{
	const uint64_t base = 0x200000, size = 64 * KiB;
	struct vmbs_gm_region_info info;
	struct vmbs_seg seg;
	struct vmbs_gm *gm;
	int fd;

	gm = mk_gm(base, size, &fd);
	VMBS_CHECK(gm != NULL);
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);

	/* First byte, last byte, the whole region. */
	CU_ASSERT_PTR_EQUAL(vmbs_gm_va(gm, base, 1, 0), info.va);
	CU_ASSERT_PTR_EQUAL(vmbs_gm_va(gm, base, 1, VMBS_GM_F_RO), info.ro_va);
	CU_ASSERT_PTR_EQUAL(vmbs_gm_va(gm, base + size - 1, 1, 0),
			    (uint8_t *)info.va + size - 1);
	CU_ASSERT_PTR_EQUAL(vmbs_gm_va(gm, base, (uint32_t)size, 0), info.va);
	/* One before, one past, and a range running one byte past. */
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, base - 1, 1, 0));
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, base + size, 1, 0));
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, base + size - 1, 2, 0));
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, base - 1, 2, 0));
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, base, 0, 0));
	/* A range whose end wraps must not alias the region. */
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, UINT64_MAX - 10, 4096, 0));

	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, base + size - 16, 16, 0, &seg), 0);
	CU_ASSERT_EQUAL(seg.gpa, base + size - 16);
	CU_ASSERT_PTR_EQUAL(seg.va, (uint8_t *)info.va + size - 16);
	CU_ASSERT_EQUAL(seg.iova, info.iova + size - 16);
	CU_ASSERT_EQUAL(seg.len, 16);
	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, base + size - 16, 17, 0, &seg), -EFAULT);
	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, base, 0, 0, &seg), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, base, 1, 0x80, &seg), -EINVAL);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
range_crossing_adjacent_regions_rejected(void)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	struct vmbs_seg seg;
	int fd = mk_memfd(128 * KiB);

	VMBS_CHECK(gm != NULL && fd >= 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x100000, 64 * KiB, fd, 0), 0);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x110000, 64 * KiB, fd, 64 * KiB), 0);
	/* Guest-physically contiguous, but two mappings: not one VA range. */
	CU_ASSERT_PTR_NULL(vmbs_gm_va(gm, 0x10fff0, 32, 0));
	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, 0x10fff0, 32, 0, &seg), -EFAULT);
	CU_ASSERT_PTR_NOT_NULL(vmbs_gm_va(gm, 0x10fff0, 16, 0));
	CU_ASSERT_PTR_NOT_NULL(vmbs_gm_va(gm, 0x110000, 16, 0));
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
iova_defaults_to_va_and_can_be_set(void)
{
	struct vmbs_gm_region_info info;
	struct vmbs_seg seg;
	struct vmbs_gm *gm;
	int fd;

	gm = mk_gm(0x100000, 64 * KiB, &fd);
	VMBS_CHECK(gm != NULL);
	VMBS_CHECK(vmbs_gm_lookup(gm, 0x101010, 8, 0, &seg) == 0);
	CU_ASSERT_EQUAL(seg.iova, (uint64_t)(uintptr_t)seg.va);
	/* The RO view's IOVA is the RW view's: same pages, one registration. */
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	VMBS_CHECK(vmbs_gm_lookup(gm, 0x101010, 8, VMBS_GM_F_RO, &seg) == 0);
	CU_ASSERT_PTR_EQUAL(seg.va, (const uint8_t *)info.ro_va + 0x1010);
	CU_ASSERT_EQUAL(seg.iova, info.iova + 0x1010);

	CU_ASSERT_EQUAL(vmbs_gm_set_iova(gm, 0x100000, 0x7000000010), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_set_iova(gm, 0x100000, UINT64_MAX - 4095), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_set_iova(gm, 0x101000, 0x70000000), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_gm_set_iova(gm, 0x100000, 0x70000000), 0);
	VMBS_CHECK(vmbs_gm_lookup(gm, 0x101010, 8, 0, &seg) == 0);
	CU_ASSERT_EQUAL(seg.iova, 0x70001010);

	/* Handed-out segments carry the IOVA: no change while pinned. */
	VMBS_CHECK(vmbs_gm_pin(gm, &seg, 1) == 0);
	CU_ASSERT_EQUAL(vmbs_gm_set_iova(gm, 0x100000, 0x80000000), -EBUSY);
	CU_ASSERT_EQUAL(vmbs_gm_unpin(gm, &seg, 1), 0);
	CU_ASSERT_EQUAL(vmbs_gm_set_iova(gm, 0x100000, 0x80000000), 0);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
ro_view_shows_guest_writes(void)
{
	struct vmbs_gm *gm;
	uint8_t *guest, *rw;
	const uint8_t *ro;
	int fd;

	gm = mk_gm(0, 64 * KiB, &fd);
	VMBS_CHECK(gm != NULL);
	guest = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	VMBS_CHECK(guest != MAP_FAILED);
	rw = vmbs_gm_va(gm, 0x3000, 16, 0);
	ro = vmbs_gm_va(gm, 0x3000, 16, VMBS_GM_F_RO);
	VMBS_CHECK(rw != NULL && ro != NULL);

	memcpy(guest + 0x3000, "from the guest", 15);
	CU_ASSERT_EQUAL(memcmp(ro, "from the guest", 15), 0);
	CU_ASSERT_EQUAL(memcmp(rw, "from the guest", 15), 0);
	memcpy(rw, "from the host", 14);
	CU_ASSERT_EQUAL(memcmp(guest + 0x3000, "from the host", 14), 0);
	CU_ASSERT_EQUAL(memcmp(ro, "from the host", 14), 0);
	munmap(guest, 64 * KiB);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
ro_view_write_faults(void)
{
	struct vmbs_seg seg;
	struct vmbs_gm *gm;
	uint8_t *rw;
	int fd;

	gm = mk_gm(0, 64 * KiB, &fd);
	VMBS_CHECK(gm != NULL);
	rw = vmbs_gm_va(gm, 0x2000, 1, 0);
	VMBS_CHECK(rw != NULL);
	*rw = 0x11;
	VMBS_CHECK(vmbs_gm_lookup(gm, 0x2000, 1, VMBS_GM_F_RO, &seg) == 0);
	CU_ASSERT_TRUE(vmbs_test_write_faults(seg.va));
	/* MAP_SHARED: a write that got through would show here. */
	CU_ASSERT_EQUAL(*rw, 0x11);
	/* And the RW view does accept writes (the child check is not vacuous). */
	CU_ASSERT_FALSE(vmbs_test_write_faults(rw));
	CU_ASSERT_EQUAL(*rw, 0x5a);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
contiguous_pages_merge_into_one_seg(void)
{
	uint64_t pfns[16];
	struct vmbs_seg segs[4];
	struct vmbs_gm *gm;
	uint32_t i, n = 99;
	int fd;

	gm = mk_gm(0x100000, 1 * MiB, &fd);
	VMBS_CHECK(gm != NULL);
	for (i = 0; i < 16; i++)
		pfns[i] = 0x100 + i;
	/* 16 pages, starting 0x10 into the first and ending 0x20 short. */
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 16, 0x10, 16 * 4096 - 0x30, 0,
					       segs, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(segs[0].gpa, 0x100010);
	CU_ASSERT_EQUAL(segs[0].len, 16 * 4096 - 0x30);
	CU_ASSERT_PTR_EQUAL(segs[0].va, vmbs_gm_va(gm, 0x100010, 1, 0));
	CU_ASSERT_EQUAL(segs[0].iova, (uint64_t)(uintptr_t)segs[0].va);

	/* The RO view yields RO VAs with the same shape. */
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 16, 0, 16 * 4096, VMBS_GM_F_RO,
					       segs, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_PTR_EQUAL(segs[0].va, vmbs_gm_va(gm, 0x100000, 1, VMBS_GM_F_RO));

	/* pfn_cnt must match offset and length; offset must be in the page. */
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 15, 0x10, 15 * 4096, 0,
					       segs, 4, &n), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 1, 4096, 1, 0,
					       segs, 4, &n), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 0, 0, 0, 0,
					       segs, 4, &n), -EINVAL);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
discontiguous_pfns_give_several_segs(void)
{
	/* Runs: [0x105,0x106] [0x101] [0x102] [0x110..0x112] */
	const uint64_t pfns[] = { 0x105, 0x106, 0x101, 0x102, 0x110, 0x111, 0x112 };
	const uint32_t len = 7 * 4096 - 0x100 - 0x200;
	struct vmbs_seg segs[8];
	struct vmbs_gm *gm;
	uint32_t n = 0, total = 0, i;
	int fd;

	gm = mk_gm(0x100000, 1 * MiB, &fd);
	VMBS_CHECK(gm != NULL);
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 7, 0x100, len, 0, segs, 8, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(segs[0].gpa, 0x105100);
	CU_ASSERT_EQUAL(segs[0].len, 2 * 4096 - 0x100);
	/* 0x101 then 0x102 is contiguous although it follows a jump back. */
	CU_ASSERT_EQUAL(segs[1].gpa, 0x101000);
	CU_ASSERT_EQUAL(segs[1].len, 2 * 4096);
	CU_ASSERT_EQUAL(segs[2].gpa, 0x110000);
	CU_ASSERT_EQUAL(segs[2].len, 3 * 4096 - 0x200);
	for (i = 0; i < n; i++) {
		total += segs[i].len;
		CU_ASSERT_PTR_EQUAL(segs[i].va, vmbs_gm_va(gm, segs[i].gpa, segs[i].len, 0));
	}
	CU_ASSERT_EQUAL(total, len);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
short_seg_array_reports_needed_count(void)
{
	const uint64_t pfns[] = { 0x100, 0x102, 0x104, 0x106, 0x108 };
	struct vmbs_seg segs[3];
	struct vmbs_gm *gm;
	uint32_t n = 0;
	int fd;

	gm = mk_gm(0x100000, 1 * MiB, &fd);
	VMBS_CHECK(gm != NULL);
	memset(segs, 0, sizeof(segs));
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 5, 0, 5 * 4096, 0, segs, 2, &n),
			-ENOBUFS);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(segs[0].gpa, 0x100000);
	CU_ASSERT_EQUAL(segs[1].gpa, 0x102000);
	CU_ASSERT_EQUAL(segs[2].len, 0);	/* nothing written past max_segs */
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 5, 0, 5 * 4096, 0, NULL, 0, &n),
			-ENOBUFS);
	CU_ASSERT_EQUAL(n, 5);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
page_outside_guest_memory_faults(void)
{
	uint64_t pfns[3] = { 0x100, 0x101, 0x200 };
	struct vmbs_seg segs[4];
	struct vmbs_gm *gm;
	uint32_t n;
	int fd;

	gm = mk_gm(0, 2 * MiB, &fd);	/* GPA 0 .. 2 MiB: PFNs 0 .. 0x1ff */
	VMBS_CHECK(gm != NULL);
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 3, 0, 3 * 4096, 0, segs, 4, &n),
			-EFAULT);
	/* -EFAULT wins over -ENOBUFS: the whole list is checked. */
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 3, 0, 3 * 4096, 0, segs, 0, &n),
			-EFAULT);
	/* A PFN whose GPA wraps to 0 (inside the region) must still fail. */
	pfns[2] = UINT64_C(1) << 52;
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 3, 0, 3 * 4096, 0, segs, 4, &n),
			-EFAULT);
	pfns[2] = 0x1ff;
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 3, 0, 3 * 4096, 0, segs, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
segs_never_span_two_regions(void)
{
	struct vmbs_gm *gm = vmbs_gm_create();
	const uint64_t pfns[] = { 0x10e, 0x10f, 0x110, 0x111 };
	struct vmbs_seg segs[4];
	int fd = mk_memfd(128 * KiB);
	uint32_t n = 0;

	VMBS_CHECK(gm != NULL && fd >= 0);
	/* GPA-adjacent regions backed by adjacent file ranges. */
	VMBS_CHECK(vmbs_gm_add_region(gm, 0x100000, 64 * KiB, fd, 0) == 0);
	VMBS_CHECK(vmbs_gm_add_region(gm, 0x110000, 64 * KiB, fd, 64 * KiB) == 0);
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, 4, 0, 4 * 4096, 0, segs, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(segs[0].gpa, 0x10e000);
	CU_ASSERT_EQUAL(segs[0].len, 2 * 4096);
	CU_ASSERT_EQUAL(segs[1].gpa, 0x110000);
	CU_ASSERT_EQUAL(segs[1].len, 2 * 4096);
	close(fd);
	vmbs_gm_destroy(gm);
}

/* Append a range (header + PFNs) to @p buf at @p *len. */
static void
put_range(uint8_t *buf, size_t *len, uint32_t off, uint32_t count, uint64_t first_pfn)
{
	struct vmbs_gpa_range r = { .byte_count = count, .byte_offset = off };
	uint32_t i, n = (uint32_t)((off + (uint64_t)count + 4095) / 4096);
	uint64_t pfn;

	memcpy(buf + *len, &r, sizeof(r));
	*len += sizeof(r);
	for (i = 0; i < n; i++) {
		pfn = first_pfn + i;
		memcpy(buf + *len, &pfn, sizeof(pfn));
		*len += sizeof(pfn);
	}
}

static void
range_list_translation_merges_across_ranges(void)
{
	uint8_t buf[256];
	struct vmbs_seg segs[4];
	struct vmbs_gm *gm;
	size_t len = 0;
	uint32_t n = 0;
	int fd;

	gm = mk_gm(0x100000, 1 * MiB, &fd);
	VMBS_CHECK(gm != NULL);
	/* Range 1 ends at a page end, range 2 starts where it ended: merge. */
	put_range(buf, &len, 0x800, 0x1800, 0x100);	/* 0x100800 .. 0x102000 */
	put_range(buf, &len, 0, 0x1000, 0x102);		/* 0x102000 .. 0x103000 */
	put_range(buf, &len, 0x10, 0x20, 0x140);	/* 0x140010 .. 0x140030 */
	CU_ASSERT_EQUAL(vmbs_gm_translate_ranges(gm, buf, len, 3, 0, segs, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(segs[0].gpa, 0x100800);
	CU_ASSERT_EQUAL(segs[0].len, 0x2800);
	CU_ASSERT_EQUAL(segs[1].gpa, 0x140010);
	CU_ASSERT_EQUAL(segs[1].len, 0x20);

	/* Malformed lists are the walker's call: -EBADMSG. */
	CU_ASSERT_EQUAL(vmbs_gm_translate_ranges(gm, buf, len - 8, 3, 0, segs, 4, &n),
			-EBADMSG);
	CU_ASSERT_EQUAL(vmbs_gm_translate_ranges(gm, buf, len, 0, 0, segs, 4, &n), -EINVAL);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
pinned_region_cannot_be_removed(void)
{
	struct vmbs_gm_region_info info;
	struct vmbs_seg seg[2], bogus;
	struct vmbs_gm *gm;
	int fd;

	gm = mk_gm(0x100000, 64 * KiB, &fd);
	VMBS_CHECK(gm != NULL);
	VMBS_CHECK(vmbs_gm_lookup(gm, 0x100000, 4096, 0, &seg[0]) == 0);
	VMBS_CHECK(vmbs_gm_lookup(gm, 0x108000, 4096, 0, &seg[1]) == 0);
	CU_ASSERT_EQUAL(vmbs_gm_pin(gm, seg, 2), 0);
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	CU_ASSERT_EQUAL(info.users, 2);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 0x100000), -EBUSY);

	/* A pin that fails part-way leaves no users behind. */
	bogus = seg[1];
	bogus.gpa = 0x200000;
	{
		struct vmbs_seg two[2] = { seg[0], bogus };

		CU_ASSERT_EQUAL(vmbs_gm_pin(gm, two, 2), -EFAULT);
	}
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	CU_ASSERT_EQUAL(info.users, 2);

	CU_ASSERT_EQUAL(vmbs_gm_unpin(gm, seg, 1), 0);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 0x100000), -EBUSY);
	CU_ASSERT_EQUAL(vmbs_gm_unpin(gm, &seg[1], 1), 0);
	/* Unpinning more than was pinned is reported, not wrapped. */
	CU_ASSERT_EQUAL(vmbs_gm_unpin(gm, &seg[1], 1), -EINVAL);
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	CU_ASSERT_EQUAL(info.users, 0);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 0x100000), 0);
	close(fd);
	vmbs_gm_destroy(gm);
}

static unsigned int
resident_pages(const void *va, size_t len)
{
	unsigned char vec[256];
	unsigned int i, n = 0;

	if (len / 4096 > sizeof(vec) || mincore((void *)(uintptr_t)va, len, vec) != 0)
		return UINT_MAX;
	for (i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

static void
populate_makes_memfd_region_resident(void)
{
	struct vmbs_gm_region_info info;
	struct vmbs_gm *gm = vmbs_gm_create();
	int fd = mk_memfd(512 * KiB);
	struct vmbs_seg seg;

	VMBS_CHECK(gm != NULL && fd >= 0);
	VMBS_CHECK(vmbs_gm_add_region(gm, 0x100000, 256 * KiB, fd, 0) == 0);
	VMBS_CHECK(vmbs_gm_add_region(gm, 0x200000, 256 * KiB, fd, 256 * KiB) == 0);
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	CU_ASSERT_FALSE(vmbs_gm_is_resident(gm, 0x100000, 4096));
	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, 0x100000, 4096, 0, &seg), 0);
	CU_ASSERT_FALSE(seg.flags & VMBS_SEG_F_RESIDENT);
	CU_ASSERT_EQUAL(resident_pages(info.va, 256 * KiB), 0);

	/* A hole in the range: refused up front, nothing populated. */
	CU_ASSERT_EQUAL(vmbs_gm_populate(gm, 0x100000, 2 * MiB, true), -EFAULT);
	CU_ASSERT_EQUAL(resident_pages(info.va, 256 * KiB), 0);
	CU_ASSERT_EQUAL(vmbs_gm_populate(gm, 0x100000, 0, true), -EINVAL);

	/* Part of a region: pages come in, the region is not yet "resident". */
	CU_ASSERT_EQUAL(vmbs_gm_populate(gm, 0x100800, 0x1000, false), 0);
	CU_ASSERT_EQUAL(resident_pages(info.va, 256 * KiB), 2);
	CU_ASSERT_FALSE(vmbs_gm_is_resident(gm, 0x100000, 4096));

	CU_ASSERT_EQUAL(vmbs_gm_populate(gm, 0x100000, 256 * KiB, true), 0);
	CU_ASSERT_EQUAL(resident_pages(info.va, 256 * KiB), 64);
	CU_ASSERT_EQUAL(resident_pages(info.ro_va, 256 * KiB), 64);
	CU_ASSERT_TRUE(vmbs_gm_is_resident(gm, 0x100000, 256 * KiB));
	CU_ASSERT_FALSE(vmbs_gm_is_resident(gm, 0x100000, 256 * KiB + 1));
	CU_ASSERT_FALSE(vmbs_gm_is_resident(gm, 0x200000, 1));
	/* Segments made now carry what vmbs_gm_is_resident() says. */
	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, 0x100000, 4096, VMBS_GM_F_RO, &seg), 0);
	CU_ASSERT_TRUE(seg.flags & VMBS_SEG_F_RESIDENT);
	CU_ASSERT_EQUAL(vmbs_gm_lookup(gm, 0x200000, 4096, 0, &seg), 0);
	CU_ASSERT_FALSE(seg.flags & VMBS_SEG_F_RESIDENT);
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	CU_ASSERT_TRUE(info.resident);
	close(fd);
	vmbs_gm_destroy(gm);
}

static void
hugetlbfs_region_is_hugepage_aligned_and_resident(void)
{
	struct vmbs_gm_region_info info;
	struct vmbs_gm *gm;
	bool skip;
	int fd, rc;

	fd = mk_hugefd(4 * MiB, __func__, &skip);
	if (fd < 0)
		return;
	gm = vmbs_gm_create();
	VMBS_CHECK(gm != NULL);
	/* 4 KiB-aligned is not enough on hugetlbfs. */
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0x1000, HP_SIZE, fd, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, 4 * KiB, fd, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gm_add_region(gm, 0, HP_SIZE, fd, 4 * KiB), -EINVAL);
	rc = vmbs_gm_add_region(gm, 2 * HP_SIZE, 2 * HP_SIZE, fd, 0);
	if (!huge_add_failed_for_lack_of_pages(rc, __func__)) {
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(vmbs_gm_region_get(gm, 0, &info), 0);
		CU_ASSERT_TRUE(info.hugetlb);
		CU_ASSERT_EQUAL(info.page_size, HP_SIZE);
		CU_ASSERT_TRUE(info.resident);
		CU_ASSERT_TRUE(vmbs_gm_is_resident(gm, 2 * HP_SIZE, 2 * HP_SIZE));
		/* Populate widens to whole hugepages and works on hugetlbfs. */
		CU_ASSERT_EQUAL(vmbs_gm_populate(gm, 2 * HP_SIZE + 4096, 4096, true), 0);
		memset(vmbs_gm_va(gm, 2 * HP_SIZE, 4096, 0), 0x3c, 4096);
		CU_ASSERT_EQUAL(*(uint8_t *)vmbs_gm_va(gm, 2 * HP_SIZE + 4095, 1,
						       VMBS_GM_F_RO), 0x3c);
	}
	close(fd);
	vmbs_gm_destroy(gm);
}

/*
 * A guest's 31 MiB receive buffer on a hugepage-backed VM: guest-physically
 * it is 2 MiB chunks in whatever order the guest allocator produced. It
 * must come out as one segment per run of adjacent hugepages, not 7936.
 */
static void
hugepage_backed_31mib_buffer_is_a_handful_of_segs(void)
{
	/* Chunk order: no chunk directly follows its predecessor, except 6->7. */
	static const uint32_t order[16] = { 3, 0, 9, 6, 7, 12, 1, 15, 4, 10, 13, 2,
					    8, 14, 11, 5 };
	const uint32_t npfn = 31 * 256, base_pfn = 0x40000;	/* GPA 1 GiB */
	struct vmbs_seg segs[32];
	uint64_t *pfns;
	struct vmbs_gm *gm;
	uint32_t i, n = 0;
	uint64_t total = 0;
	uint8_t *guest;
	bool skip;
	int fd, rc;

	fd = mk_hugefd(32 * MiB, __func__, &skip);
	if (fd < 0)
		return;
	gm = vmbs_gm_create();
	pfns = calloc(npfn, sizeof(*pfns));
	VMBS_CHECK(gm != NULL && pfns != NULL);
	rc = vmbs_gm_add_region(gm, (uint64_t)base_pfn << 12, 32 * MiB, fd, 0);
	if (huge_add_failed_for_lack_of_pages(rc, __func__))
		goto out;
	CU_ASSERT_EQUAL_FATAL(rc, 0);

	for (i = 0; i < npfn; i++)
		pfns[i] = base_pfn + order[i / 512] * 512 + i % 512;
	CU_ASSERT_EQUAL(vmbs_gm_translate_pfns(gm, pfns, npfn, 0, npfn * 4096, 0,
					       segs, 32, &n), 0);
	CU_ASSERT_EQUAL(n, 15);
	for (i = 0; i < n; i++)
		total += segs[i].len;
	CU_ASSERT_EQUAL(total, (uint64_t)npfn * 4096);
	CU_ASSERT_EQUAL(segs[3].len, 2 * HP_SIZE);	/* chunks 6 and 7 */
	CU_ASSERT_EQUAL(segs[14].len, HP_SIZE / 2);	/* half of chunk 5 */

	/* Host writes through the segments land where the guest looks. */
	guest = mmap(NULL, 32 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	VMBS_CHECK(guest != MAP_FAILED);
	((uint8_t *)segs[1].va)[5] = 0xe7;		/* chunk 0, byte 5 */
	CU_ASSERT_EQUAL(guest[5], 0xe7);
	((uint8_t *)segs[14].va)[7] = 0x7e;		/* chunk 5, byte 7 */
	CU_ASSERT_EQUAL(guest[5 * HP_SIZE + 7], 0x7e);
	munmap(guest, 32 * MiB);
out:
	free(pfns);
	close(fd);
	vmbs_gm_destroy(gm);
}

static const struct vmbs_test_case guestmem_cases[] = {
	{ "add_and_remove_region", add_and_remove_region },
	{ "rejects_zero_size_and_misalignment", rejects_zero_size_and_misalignment },
	{ "rejects_overflow_and_oversize", rejects_overflow_and_oversize },
	{ "rejects_file_too_short_and_bad_fds", rejects_file_too_short_and_bad_fds },
	{ "rejects_overlap_accepts_adjacent", rejects_overlap_accepts_adjacent },
	{ "region_count_is_bounded", region_count_is_bounded },
	{ "lookup_at_region_edges", lookup_at_region_edges },
	{ "range_crossing_adjacent_regions_rejected",
	  range_crossing_adjacent_regions_rejected },
	{ "iova_defaults_to_va_and_can_be_set", iova_defaults_to_va_and_can_be_set },
	{ "ro_view_shows_guest_writes", ro_view_shows_guest_writes },
	{ "ro_view_write_faults", ro_view_write_faults },
	{ "contiguous_pages_merge_into_one_seg", contiguous_pages_merge_into_one_seg },
	{ "discontiguous_pfns_give_several_segs", discontiguous_pfns_give_several_segs },
	{ "short_seg_array_reports_needed_count", short_seg_array_reports_needed_count },
	{ "page_outside_guest_memory_faults", page_outside_guest_memory_faults },
	{ "segs_never_span_two_regions", segs_never_span_two_regions },
	{ "range_list_translation_merges_across_ranges",
	  range_list_translation_merges_across_ranges },
	{ "pinned_region_cannot_be_removed", pinned_region_cannot_be_removed },
	{ "populate_makes_memfd_region_resident", populate_makes_memfd_region_resident },
	{ "hugetlbfs_region_is_hugepage_aligned_and_resident",
	  hugetlbfs_region_is_hugepage_aligned_and_resident },
	{ "hugepage_backed_31mib_buffer_is_a_handful_of_segs",
	  hugepage_backed_31mib_buffer_is_a_handful_of_segs },
	{ NULL, NULL },
};

static const struct vmbs_test_suite guestmem_suite = {
	.name = "guestmem",
	.cases = guestmem_cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &guestmem_suite, NULL };

	return vmbs_test_run(suites);
}
