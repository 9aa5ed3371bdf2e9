/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Guest memory of one VM, as the host-side server sees it: a table of
 * regions, each a MAP_SHARED mapping of a range of a file the VMM gave us
 * (a hugetlbfs file normally; memfd or a regular file also work), and the
 * translation of guest-physical addresses (GPAs) into host virtual
 * addresses (VAs) and DMA addresses (IOVAs).
 *
 * Every region is mapped twice: a read-write view and a separate read-only
 * view (PROT_READ) of the same file range, so that a read-only translation
 * is enforced by the MMU rather than by convention. Both views share the
 * same pages, and so the same IOVA: the IOVA of a region is that of its
 * read-write view, which is what gets registered for DMA.
 *
 * IOVA defaults to the read-write view's VA (IOVA-as-VA, as after
 * rte_extmem_register()); vmbs_gm_set_iova() records another base.
 *
 * Threading model:
 *  - vmbs_gm_add_region(), vmbs_gm_remove_region(), vmbs_gm_set_iova(),
 *    vmbs_gm_pin()/vmbs_gm_unpin(), vmbs_gm_populate() and
 *    vmbs_gm_destroy() run on one control thread.
 *  - Lookups and translations (vmbs_gm_va(), vmbs_gm_lookup(),
 *    vmbs_gm_translate_*(), vmbs_gm_is_resident()) only read the table
 *    and may run on many data-plane threads at once, but they are NOT safe
 *    against a concurrent add or remove: both edit the sorted region array
 *    in place. The control plane must quiesce readers around either (a
 *    later step replaces this with RCU).
 *  - A VA or IOVA obtained from a translation stays valid only while its
 *    region is mapped. Pinning (vmbs_gm_pin()) makes remove fail with
 *    -EBUSY until the matching unpin, which is how long-lived mappings
 *    (GPADLs) keep their memory.
 *
 * No EAL: plain libc and Linux system calls.
 */

#ifndef VMBS_GUESTMEM_H
#define VMBS_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Most regions per VM: VMMs describe RAM in a few slots, not hundreds. */
#define VMBS_GM_MAX_REGIONS 64u

/** Largest region: 1 TiB, far above any VM slot, well below address limits. */
#define VMBS_GM_MAX_REGION_SIZE (UINT64_C(1) << 40)

/** Guest-physical addresses end at 2^52 (the PFN limit of vmbs_gparange). */
#define VMBS_GM_GPA_LIMIT (UINT64_C(1) << 52)

/** Translation flag: return VAs of the read-only view. */
#define VMBS_GM_F_RO 0x1u

/** One VM's guest memory (opaque). */
struct vmbs_gm;

/**
 * A guest-physically, virtually and IOVA-contiguous run of guest memory,
 * always inside one region. va and iova are valid until the mapping that
 * produced them is released (for GPADLs: until unmap; for an unpinned
 * translation: until the control plane removes the region).
 */
struct vmbs_seg {
	uint64_t gpa;	/**< guest-physical address of the first byte */
	void *va;	/**< host VA of the first byte (RO or RW view) */
	uint64_t iova;	/**< DMA address of the first byte */
	uint32_t len;	/**< bytes, > 0 */
	uint32_t flags;	/**< VMBS_SEG_F_*, as of the translation */
};

/**
 * Segment flag: its region was populated and locked when the segment was
 * made, so using it will not fault pages in (what vmbs_gm_is_resident()
 * would say for the segment, without a second lookup).
 */
#define VMBS_SEG_F_RESIDENT 0x1u

/** A snapshot of one region, for the control plane (e.g. DMA registration). */
struct vmbs_gm_region_info {
	uint64_t gpa;		/**< first guest-physical address */
	uint64_t size;		/**< bytes */
	void *va;		/**< read-write view */
	const void *ro_va;	/**< read-only view */
	uint64_t iova;		/**< DMA address of the first byte */
	uint64_t page_size;	/**< backing page size: 4 KiB or the hugepage size */
	uint64_t users;		/**< pinned segments referring to the region */
	bool hugetlb;		/**< backed by hugetlbfs */
	bool resident;		/**< every page known populated and locked */
};

/**
 * Create an empty guest-memory table.
 *
 * @return
 *   the table, or NULL with errno set (ENOMEM).
 */
struct vmbs_gm *vmbs_gm_create(void);

/**
 * Unmap every region and free the table. Regions still pinned are unmapped
 * too: release (unmap) every GPADL first; any VA or IOVA still held by a
 * caller dangles afterwards. NULL is a no-op.
 *
 * @param gm
 *   table to destroy.
 */
void vmbs_gm_destroy(struct vmbs_gm *gm);

/**
 * Map @p size bytes of @p fd at @p offset as guest memory starting at
 * guest-physical @p gpa, as two MAP_SHARED views (read-write and read-only).
 *
 * The file must be a regular file (hugetlbfs, memfd, tmpfs, ...) opened
 * read-write, at least @p offset + @p size bytes long. @p gpa, @p size and
 * @p offset must be 4 KiB aligned, or aligned to the hugepage size when
 * @p fd is on hugetlbfs. The table does not keep @p fd: the caller may
 * close it after this returns.
 *
 * Regions on hugetlbfs are marked resident (their pages cannot be swapped
 * out); others become resident through vmbs_gm_populate().
 *
 * @param gm
 *   guest memory table.
 * @param gpa
 *   first guest-physical address of the region.
 * @param size
 *   region length in bytes, 1 .. VMBS_GM_MAX_REGION_SIZE.
 * @param fd
 *   backing file.
 * @param offset
 *   byte offset of the region in @p fd.
 * @return
 *   0 on success;
 *   -EINVAL if @p size is 0, an address, size or offset is misaligned, or
 *     @p fd is not a regular file or is shorter than @p offset + @p size;
 *   -EBADF if @p fd is not an open descriptor;
 *   -E2BIG if @p size exceeds VMBS_GM_MAX_REGION_SIZE;
 *   -EOVERFLOW if @p gpa + @p size or @p offset + @p size wraps, or the
 *     region ends beyond VMBS_GM_GPA_LIMIT;
 *   -EEXIST if the region overlaps an existing one;
 *   -ENOSPC if VMBS_GM_MAX_REGIONS regions exist;
 *   another -errno from mmap (e.g. -EACCES for a read-only @p fd, -ENOMEM).
 *   On failure the table is unchanged.
 */
int vmbs_gm_add_region(struct vmbs_gm *gm, uint64_t gpa, uint64_t size,
		       int fd, uint64_t offset);

/**
 * Unmap and forget the region starting exactly at @p gpa.
 *
 * @param gm
 *   guest memory table.
 * @param gpa
 *   first guest-physical address of the region.
 * @return
 *   0 on success; -ENOENT if no region starts at @p gpa; -EBUSY if pinned
 *   segments still refer to it (drain their users, then retry).
 */
int vmbs_gm_remove_region(struct vmbs_gm *gm, uint64_t gpa);

/**
 * Record the DMA address of the region starting at @p gpa (replacing the
 * IOVA-as-VA default), e.g. after mapping it into an IOMMU domain.
 *
 * @param gm
 *   guest memory table.
 * @param gpa
 *   first guest-physical address of the region.
 * @param iova
 *   DMA address of the region's first byte; 4 KiB aligned.
 * @return
 *   0 on success; -ENOENT if no region starts at @p gpa; -EINVAL if @p iova
 *   is misaligned or @p iova + size wraps; -EBUSY if the region is pinned
 *   (segments already handed out carry the old IOVA).
 */
int vmbs_gm_set_iova(struct vmbs_gm *gm, uint64_t gpa, uint64_t iova);

/**
 * @param gm
 *   guest memory table.
 * @return
 *   the number of regions.
 */
uint32_t vmbs_gm_region_count(const struct vmbs_gm *gm);

/**
 * Describe region @p idx, in ascending GPA order.
 *
 * @param gm
 *   guest memory table.
 * @param idx
 *   0 .. vmbs_gm_region_count() - 1.
 * @param info
 *   filled on success.
 * @return
 *   0 on success; -ENOENT if @p idx is out of range.
 */
int vmbs_gm_region_get(const struct vmbs_gm *gm, uint32_t idx,
		       struct vmbs_gm_region_info *info);

/**
 * Translate [@p gpa, @p gpa + @p len) to a host VA. The range must lie
 * inside one region. Data-plane safe (see the threading model).
 *
 * @param gm
 *   guest memory table.
 * @param gpa
 *   guest-physical address.
 * @param len
 *   bytes, > 0.
 * @param flags
 *   VMBS_GM_F_RO for the read-only view, 0 for the read-write view.
 * @return
 *   the VA of @p gpa, or NULL if @p len is 0, the range wraps, or it is not
 *   entirely inside one region.
 */
void *vmbs_gm_va(const struct vmbs_gm *gm, uint64_t gpa, uint32_t len,
		 uint32_t flags);

/**
 * Like vmbs_gm_va(), but fill a whole segment (VA and IOVA).
 *
 * @param gm
 *   guest memory table.
 * @param gpa
 *   guest-physical address.
 * @param len
 *   bytes, > 0.
 * @param flags
 *   VMBS_GM_F_RO for the read-only view, 0 for the read-write view.
 * @param seg
 *   filled on success.
 * @return
 *   0 on success; -EINVAL if @p len is 0 or @p flags has unknown bits;
 *   -EFAULT if the range is not entirely inside one region.
 */
int vmbs_gm_lookup(const struct vmbs_gm *gm, uint64_t gpa, uint32_t len,
		   uint32_t flags, struct vmbs_seg *seg);

/**
 * Translate a page list: @p len bytes starting @p first_offset bytes into
 * page @p pfns[0], continuing at the start of each following page, into
 * segments. Consecutive pages are merged into one segment when they are
 * guest-physically contiguous inside one region (hence virtually and IOVA
 * contiguous); segments never span two regions, so each can be pinned and
 * DMA-registered against exactly one region.
 *
 * The whole list is always examined, so -EFAULT is reported in preference
 * to -ENOBUFS, and on -ENOBUFS @p nsegs holds the count needed.
 *
 * @param gm
 *   guest memory table.
 * @param pfns
 *   @p pfn_cnt 4 KiB page numbers.
 * @param pfn_cnt
 *   must equal ceil((@p first_offset + @p len) / 4096).
 * @param first_offset
 *   offset into the first page, < 4096.
 * @param len
 *   bytes, > 0.
 * @param flags
 *   VMBS_GM_F_RO for VAs of the read-only view, 0 for the read-write view.
 * @param segs
 *   output array (may be NULL if @p max_segs is 0).
 * @param max_segs
 *   entries in @p segs.
 * @param nsegs
 *   on 0 or -ENOBUFS: the number of segments the list needs.
 * @return
 *   0 on success; -EINVAL for inconsistent arguments; -EFAULT if any page
 *   lies outside guest memory; -ENOBUFS if more than @p max_segs segments
 *   are needed (the first @p max_segs are filled).
 */
int vmbs_gm_translate_pfns(const struct vmbs_gm *gm, const uint64_t *pfns,
			   uint32_t pfn_cnt, uint32_t first_offset, uint32_t len,
			   uint32_t flags, struct vmbs_seg *segs,
			   uint32_t max_segs, uint32_t *nsegs);

/**
 * Translate a GPA range list (struct vmbs_gpa_range headers each followed
 * by their u64 PFNs, as in GPADL and GPA-direct messages; no alignment
 * needed) into segments, merging as vmbs_gm_translate_pfns() does, also
 * across range boundaries. The segments describe the ranges' bytes in
 * order, so a byte offset into the concatenated ranges maps to the same
 * offset into the concatenated segments.
 *
 * The list is walked with vmbs_gparange_next(); bytes after the last range
 * are ignored (check the envelope with vmbs_gparange_check() if it must be
 * exact). Data-plane safe (see the threading model).
 *
 * @param gm
 *   guest memory table.
 * @param buf
 *   private copy of the range list.
 * @param buf_len
 *   bytes in @p buf.
 * @param range_cnt
 *   ranges in the list, > 0.
 * @param flags
 *   VMBS_GM_F_RO for VAs of the read-only view, 0 for the read-write view.
 * @param segs
 *   output array (may be NULL if @p max_segs is 0).
 * @param max_segs
 *   entries in @p segs.
 * @param nsegs
 *   on 0 or -ENOBUFS: the number of segments the list needs.
 * @return
 *   0 on success; -EINVAL if @p range_cnt is 0 or @p flags has unknown bits;
 *   -EBADMSG if the list is malformed; -EFAULT if any page lies outside
 *   guest memory; -ENOBUFS if more than @p max_segs segments are needed.
 */
int vmbs_gm_translate_ranges(const struct vmbs_gm *gm, const void *buf,
			     size_t buf_len, uint32_t range_cnt, uint32_t flags,
			     struct vmbs_seg *segs, uint32_t max_segs,
			     uint32_t *nsegs);

/**
 * Pin the regions under @p n segments: each segment adds one user to the
 * region holding it, so that vmbs_gm_remove_region() fails with -EBUSY
 * until vmbs_gm_unpin() is called with the same segments. Control thread.
 *
 * @param gm
 *   guest memory table.
 * @param segs
 *   segments from a translation of this table.
 * @param n
 *   number of segments.
 * @return
 *   0 on success; -EFAULT if a segment is not inside one region (nothing is
 *   pinned then).
 */
int vmbs_gm_pin(struct vmbs_gm *gm, const struct vmbs_seg *segs, uint32_t n);

/**
 * Undo vmbs_gm_pin() for the same segments. Control thread.
 *
 * @param gm
 *   guest memory table.
 * @param segs
 *   segments previously pinned.
 * @param n
 *   number of segments.
 * @return
 *   0 on success; -EINVAL if a segment matched no pinned region (misuse; the
 *   other segments are still unpinned).
 */
int vmbs_gm_unpin(struct vmbs_gm *gm, const struct vmbs_seg *segs, uint32_t n);

/**
 * Make [@p gpa, @p gpa + @p len) resident: fault the pages in with
 * madvise(MADV_POPULATE_WRITE or _READ) (touching each page if the kernel
 * lacks those), and mlock() them, in both views. May block: slow path
 * only, never from a polling lcore. The range may span adjacent regions;
 * it is widened to whole backing pages. A region becomes resident once it
 * has been populated as a whole.
 *
 * @param gm
 *   guest memory table.
 * @param gpa
 *   first guest-physical address.
 * @param len
 *   bytes, > 0.
 * @param write
 *   populate for writing (allocates file pages backing holes) rather than
 *   only for reading.
 * @return
 *   0 on success; -EINVAL if @p len is 0; -EFAULT if part of the range is
 *   outside guest memory (nothing is done then); otherwise -errno from
 *   madvise (e.g. -EFAULT if the file was truncated, -ENOMEM) or mlock
 *   (-ENOMEM, -EAGAIN or -EPERM when over RLIMIT_MEMLOCK).
 */
int vmbs_gm_populate(struct vmbs_gm *gm, uint64_t gpa, uint64_t len, bool write);

/**
 * Whether every page of [@p gpa, @p gpa + @p len) is known resident, i.e.
 * lies in regions that are hugetlbfs-backed or were populated as a whole.
 * Conservative: pages populated piecemeal do not count until the whole
 * region was populated.
 *
 * @param gm
 *   guest memory table.
 * @param gpa
 *   first guest-physical address.
 * @param len
 *   bytes, > 0.
 * @return
 *   true if resident; false if not, if @p len is 0, or if part of the range
 *   is outside guest memory.
 */
bool vmbs_gm_is_resident(const struct vmbs_gm *gm, uint64_t gpa, uint64_t len);

#endif /* VMBS_GUESTMEM_H */
