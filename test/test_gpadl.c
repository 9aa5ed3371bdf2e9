/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * GPADL table: assembly from HEADER/BODY messages (split as Linux and
 * Windows guests split them: 26 PFNs in the header, 28 per body), every
 * malformed or out-of-order guest message, the map/unmap/teardown
 * orderings of the KMCL contract, channel release and table destruction.
 * Guest memory is a memfd the test also maps itself to play the guest.
 * Range data is built by hand here, independently of the library.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/memfd.h>

#include "vmbs_gpadl.h"
#include "vmbs_test.h"
#include "vmbs_wire.h"

#define MiB (UINT64_C(1) << 20)

/* Guest RAM of the fixture: 40 MiB at GPA 16 MiB. */
#define GUEST_GPA (16 * MiB)
#define GUEST_SIZE (40 * MiB)
#define GUEST_PFN (GUEST_GPA >> 12)

/* Range data as a guest would lay it out: up to 65535 bytes. */
struct rl {
	uint8_t buf[65536 + 512];
	size_t len;
	uint16_t cnt;
};

static struct vmbs_gm *gm;
static int guest_fd = -1;
static uint8_t *guest;		/* the guest's own view of its RAM */
static struct vmbs_gpadl_table *tbl;
static uint32_t torn[16];	/* ids the torndown callback reported */
static uint32_t ntorn;
static const void *torn_arg;

static void
on_torndown(void *arg, uint32_t gpadl_id)
{
	torn_arg = arg;
	if (ntorn < 16)
		torn[ntorn] = gpadl_id;
	ntorn++;
}

static void
rl_range(struct rl *r, uint32_t off, uint32_t count, const uint64_t *pfns)
{
	struct vmbs_gpa_range h = { .byte_count = count, .byte_offset = off };
	uint32_t i, n = (uint32_t)((off + (uint64_t)count + 4095) / 4096);

	memcpy(r->buf + r->len, &h, sizeof(h));
	r->len += sizeof(h);
	for (i = 0; i < n; i++) {
		memcpy(r->buf + r->len, &pfns[i], sizeof(pfns[i]));
		r->len += sizeof(pfns[i]);
	}
	r->cnt++;
}

/* One range over @p npages pages starting at guest PFN @p first. */
static void
rl_contig(struct rl *r, uint32_t off, uint32_t count, uint64_t first)
{
	uint32_t i, n = (uint32_t)((off + (uint64_t)count + 4095) / 4096);
	uint64_t *pfns = malloc(n * sizeof(*pfns));

	for (i = 0; i < n; i++)
		pfns[i] = first + i;
	rl_range(r, off, count, pfns);
	free(pfns);
}

/* Largest header payload: 240 - 20 bytes, in whole words. */
#define HDR_BYTES 216u
#define BODY_BYTES (VMBS_GPADL_BODY_MAX_WORDS * 8)

/*
 * Send a range list as HEADER + BODY messages, like a guest. Every message
 * but the last must get "nothing to send"; returns the last reply and the
 * number of bodies used.
 */
static enum vmbs_gpadl_reply
send_gpadl(uint32_t relid, uint32_t id, const struct rl *r, uint32_t *nbodies)
{
	enum vmbs_gpadl_reply rep;
	size_t at = r->len < HDR_BYTES ? r->len : HDR_BYTES, n;
	uint32_t body_relid = 0, bodies = 0;

	rep = vmbs_gpadl_header(tbl, relid, id, (uint16_t)r->len, r->cnt, r->buf, at);
	while (at < r->len) {
		if (rep != VMBS_GPADL_REPLY_NONE)
			return rep;
		n = r->len - at < BODY_BYTES ? r->len - at : BODY_BYTES;
		rep = vmbs_gpadl_body(tbl, id, r->buf + at, n, &body_relid);
		at += n;
		bodies++;
		if (rep == VMBS_GPADL_REPLY_CREATED && body_relid != relid)
			return VMBS_GPADL_REPLY_IGNORED;	/* wrong relid: fail the test */
	}
	if (nbodies != NULL)
		*nbodies = bodies;
	return rep;
}

/* A GPADL of @p npages whole pages from guest PFN @p first, created. */
static int
mk_gpadl(uint32_t relid, uint32_t id, uint64_t first, uint32_t npages)
{
	static struct rl r;

	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, npages * 4096, first);
	return send_gpadl(relid, id, &r, NULL) == VMBS_GPADL_REPLY_CREATED ? 0 : -1;
}

static struct vmbs_gpadl_stats
stats(void)
{
	struct vmbs_gpadl_stats s;

	vmbs_gpadl_stats_get(tbl, &s);
	return s;
}

static int
suite_init(void)
{
	gm = vmbs_gm_create();
	guest_fd = memfd_create("vmbs-gpadl-guest", MFD_CLOEXEC);
	if (gm == NULL || guest_fd < 0 || ftruncate(guest_fd, GUEST_SIZE) != 0)
		return -1;
	if (vmbs_gm_add_region(gm, GUEST_GPA, GUEST_SIZE, guest_fd, 0) != 0)
		return -1;
	guest = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, guest_fd, 0);
	return guest == MAP_FAILED ? -1 : 0;
}

static int
suite_cleanup(void)
{
	munmap(guest, GUEST_SIZE);
	vmbs_gm_destroy(gm);
	close(guest_fd);
	return 0;
}

/* Every test gets a fresh table; a leaked mapping fails the test. */
static void
t_setup(void)
{
	tbl = vmbs_gpadl_table_create(gm, on_torndown, &tbl);
	ntorn = 0;
	torn_arg = NULL;
}

static void
t_teardown(void)
{
	CU_ASSERT_EQUAL(vmbs_gpadl_table_destroy(tbl), 0);
	tbl = NULL;
}

/* ---------------------------------------------------------------------- */

static void
create_rejects_missing_arguments(void)
{
	errno = 0;
	CU_ASSERT_PTR_NULL(vmbs_gpadl_table_create(NULL, on_torndown, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(vmbs_gpadl_table_create(gm, NULL, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(vmbs_gpadl_table_destroy(NULL), 0);
}

static void
header_only_gpadl_is_created(void)
{
	struct vmbs_gpadl_info info;
	struct rl r = { .len = 0 };

	t_setup();
	rl_contig(&r, 0, 4 * 4096, GUEST_PFN + 10);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 7, 0xe1e10, (uint16_t)r.len, r.cnt,
					  r.buf, r.len), VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 0xe1e10, &info), 0);
	CU_ASSERT_EQUAL(info.relid, 7);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_ALIVE);
	CU_ASSERT_TRUE(info.writable);
	CU_ASSERT_FALSE(info.mapped);
	CU_ASSERT_EQUAL(info.pfn_cnt, 4);
	CU_ASSERT_EQUAL(info.len, 4 * 4096);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 1);
	CU_ASSERT_EQUAL(stats().created, 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 0xe1e11, &info), -ENOENT);
	t_teardown();
}

/* Linux's 31 MiB-plus receive buffer: 8190 PFNs, the u16 range_buflen limit. */
static void
assembles_8190_pfns_across_292_bodies(void)
{
	static struct rl r;
	const struct vmbs_gpadl_mapping *m;
	struct vmbs_gpadl_info info;
	uint32_t bodies = 0;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 8190 * 4096, GUEST_PFN + 1);
	CU_ASSERT_EQUAL(r.len, 65528);
	/* send_gpadl() checks every message before the last says "nothing". */
	CU_ASSERT_EQUAL(send_gpadl(3, 42, &r, &bodies), VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(bodies, 292);	/* 26 PFNs in the header, 28 per body */
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 42, &info), 0);
	CU_ASSERT_EQUAL(info.pfn_cnt, 8190);
	CU_ASSERT_EQUAL(info.len, 8190ull * 4096);

	CU_ASSERT_EQUAL_FATAL(vmbs_gpadl_map(tbl, 42, 0, &m), 0);
	CU_ASSERT_EQUAL(m->nseg, 1);	/* guest-contiguous: one segment */
	CU_ASSERT_EQUAL(m->len, 8190ull * 4096);
	CU_ASSERT_EQUAL(m->seg[0].gpa, GUEST_GPA + 4096);
	CU_ASSERT_PTR_EQUAL(m->seg[0].va, vmbs_gm_va(gm, GUEST_GPA + 4096, 1, 0));
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 42), 0);
	t_teardown();
}

static void
multi_range_gpadl_maps_in_range_order(void)
{
	const struct vmbs_gpadl_mapping *m;
	uint64_t pfns[3], contig, len;
	struct rl r = { .len = 0 };
	uint8_t *va;

	t_setup();
	/* Range A: 0x100 bytes at offset 0xf00 of page 100 then 0x80 of page 50. */
	pfns[0] = GUEST_PFN + 100;
	pfns[1] = GUEST_PFN + 50;
	rl_range(&r, 0xf00, 0x180, pfns);
	/* Range B: pages 200..202 whole. */
	rl_contig(&r, 0, 3 * 4096, GUEST_PFN + 200);
	/* Range C: 16 bytes in page 300. */
	pfns[0] = GUEST_PFN + 300;
	rl_range(&r, 0x20, 16, pfns);
	CU_ASSERT_EQUAL(send_gpadl(1, 5, &r, NULL), VMBS_GPADL_REPLY_CREATED);

	CU_ASSERT_EQUAL_FATAL(vmbs_gpadl_map(tbl, 5, 0, &m), 0);
	CU_ASSERT_EQUAL(m->len, 0x180 + 3 * 4096 + 16);
	CU_ASSERT_EQUAL(vmbs_gpadl_mapped_len(tbl, 5, &len), 0);
	CU_ASSERT_EQUAL(len, m->len);
	CU_ASSERT_EQUAL(m->nseg, 4);
	CU_ASSERT_EQUAL(m->seg[0].gpa, GUEST_GPA + 100 * 4096 + 0xf00);
	CU_ASSERT_EQUAL(m->seg[0].len, 0x100);
	CU_ASSERT_EQUAL(m->seg[1].gpa, GUEST_GPA + 50 * 4096);
	CU_ASSERT_EQUAL(m->seg[1].len, 0x80);
	CU_ASSERT_EQUAL(m->seg[2].len, 3 * 4096);
	CU_ASSERT_EQUAL(m->seg_off[3], 0x180 + 3 * 4096);

	/* The offset helper, at and around segment boundaries. */
	memcpy(guest + 100 * 4096 + 0xf00, "A0", 2);
	memcpy(guest + 50 * 4096 + 0x7f, "z", 1);
	memcpy(guest + 200 * 4096, "B0", 2);
	memcpy(guest + 300 * 4096 + 0x20, "C0", 2);
	va = vmbs_gpadl_mapping_va(m, 0, 2, &contig);
	CU_ASSERT(va != NULL && memcmp(va, "A0", 2) == 0);
	CU_ASSERT_EQUAL(contig, 0x100);
	va = vmbs_gpadl_mapping_va(m, 0x17f, 1, &contig);
	CU_ASSERT(va != NULL && *va == 'z');
	CU_ASSERT_EQUAL(contig, 1);
	va = vmbs_gpadl_mapping_va(m, 0x180, 2, NULL);
	CU_ASSERT(va != NULL && memcmp(va, "B0", 2) == 0);
	va = vmbs_gpadl_mapping_va(m, m->len - 16, 16, &contig);
	CU_ASSERT(va != NULL && memcmp(va, "C0", 2) == 0);
	/* Across a discontinuity, past the end, at the end: no VA. */
	CU_ASSERT_PTR_NULL(vmbs_gpadl_mapping_va(m, 0xff, 2, &contig));
	CU_ASSERT_EQUAL(contig, 1);
	CU_ASSERT_PTR_NULL(vmbs_gpadl_mapping_va(m, m->len - 16, 17, NULL));
	CU_ASSERT_PTR_NULL(vmbs_gpadl_mapping_va(m, m->len, 1, &contig));
	CU_ASSERT_EQUAL(contig, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 5), 0);
	t_teardown();
}

static void
duplicate_header_fails_and_keeps_existing(void)
{
	const struct vmbs_gpadl_mapping *m, *m2;
	struct vmbs_gpadl_info info;
	struct rl r = { .len = 0 };

	t_setup();
	VMBS_CHECK(mk_gpadl(1, 9, GUEST_PFN, 2) == 0);
	VMBS_CHECK(vmbs_gpadl_map(tbl, 9, 0, &m) == 0);
	rl_contig(&r, 0, 4096, GUEST_PFN + 1000);
	/* Alive and mapped, same or other channel: the newcomer fails. */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 9, (uint16_t)r.len, 1, r.buf, r.len),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 2, 9, (uint16_t)r.len, 1, r.buf, r.len),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 9, &info), 0);
	CU_ASSERT_EQUAL(info.relid, 1);
	CU_ASSERT_EQUAL(info.len, 2 * 4096);
	CU_ASSERT_TRUE(info.mapped);
	CU_ASSERT_EQUAL(m->seg[0].gpa, GUEST_GPA);
	/* Still tearing down: still a duplicate. */
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 1, 9), VMBS_GPADL_DEFERRED);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 9, (uint16_t)r.len, 1, r.buf, r.len),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(stats().fail_dup, 3);
	CU_ASSERT_EQUAL(stats().failed, 3);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 9), 0);
	CU_ASSERT_EQUAL(ntorn, 1);
	/* Gone: the id is free again. */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 9, (uint16_t)r.len, 1, r.buf, r.len),
			VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 9, 0, &m2), 0);
	CU_ASSERT_EQUAL(m2->seg[0].gpa, GUEST_GPA + 1000 * 4096);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 9), 0);
	t_teardown();
}

static void
duplicate_header_while_building_keeps_builder(void)
{
	static struct rl r;
	uint32_t relid = 0;
	size_t at;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 40 * 4096, GUEST_PFN);	/* header + 1 body */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 4, 77, (uint16_t)r.len, 1, r.buf, HDR_BYTES),
			VMBS_GPADL_REPLY_NONE);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 4, 77, (uint16_t)r.len, 1, r.buf, HDR_BYTES),
			VMBS_GPADL_REPLY_FAILED);
	at = HDR_BYTES;
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 77, r.buf + at, r.len - at, &relid),
			VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(relid, 4);
	CU_ASSERT_EQUAL(stats().fail_dup, 1);
	CU_ASSERT_EQUAL(stats().created, 1);
	t_teardown();
}

static void
body_for_unknown_id_is_ignored(void)
{
	uint64_t words[4] = { 1, 2, 3, 4 };
	uint32_t relid = 0xdead;

	t_setup();
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 1234, words, sizeof(words), &relid),
			VMBS_GPADL_REPLY_IGNORED);
	CU_ASSERT_EQUAL(relid, 0xdead);
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 1234, words, 3, NULL),
			VMBS_GPADL_REPLY_IGNORED);
	CU_ASSERT_EQUAL(stats().body_unknown, 2);
	CU_ASSERT_EQUAL(stats().failed, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	t_teardown();
}

static void
extra_body_for_complete_gpadl_is_ignored(void)
{
	const struct vmbs_gpadl_mapping *m;
	uint64_t words[28];
	struct vmbs_gpadl_info info;

	t_setup();
	VMBS_CHECK(mk_gpadl(2, 11, GUEST_PFN + 5, 3) == 0);
	memset(words, 0xff, sizeof(words));
	/* Full, oversized, ragged: the complete GPADL stays as it was. */
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 11, words, sizeof(words), NULL),
			VMBS_GPADL_REPLY_IGNORED);
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 11, words, 5, NULL),
			VMBS_GPADL_REPLY_IGNORED);
	VMBS_CHECK(vmbs_gpadl_map(tbl, 11, 0, &m) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 11, words, 8, NULL),
			VMBS_GPADL_REPLY_IGNORED);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 11, &info), 0);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_ALIVE);
	CU_ASSERT_EQUAL(info.len, 3 * 4096);
	CU_ASSERT_EQUAL(m->seg[0].gpa, GUEST_GPA + 5 * 4096);
	CU_ASSERT_EQUAL(stats().body_extra, 3);
	CU_ASSERT_EQUAL(stats().created, 1);
	CU_ASSERT_EQUAL(stats().failed, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 11), 0);
	t_teardown();
}

static void
body_overflowing_buflen_fails_and_frees_id(void)
{
	static struct rl r;
	uint8_t big[BODY_BYTES + 8];
	uint32_t relid = 0;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 30 * 4096, GUEST_PFN);	/* 8 + 240 bytes: 32 bytes after header */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 6, 60, (uint16_t)r.len, 1, r.buf, HDR_BYTES),
			VMBS_GPADL_REPLY_NONE);
	memset(big, 0, sizeof(big));
	memcpy(big, r.buf + HDR_BYTES, r.len - HDR_BYTES);
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 60, big, r.len - HDR_BYTES + 8, &relid),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(relid, 6);	/* the failure reply must name the channel */
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	/* The rest of a failed GPADL is ignored, then the id can be reused. */
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 60, big, 8, NULL), VMBS_GPADL_REPLY_IGNORED);
	CU_ASSERT_EQUAL(send_gpadl(6, 60, &r, NULL), VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(stats().body_bad, 1);
	CU_ASSERT_EQUAL(stats().body_unknown, 1);
	CU_ASSERT_EQUAL(stats().fail_malformed, 1);
	t_teardown();
}

static void
ragged_or_empty_body_fails_building_gpadl(void)
{
	static struct rl r;
	uint32_t relid = 0;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 30 * 4096, GUEST_PFN);
	VMBS_CHECK(vmbs_gpadl_header(tbl, 6, 61, (uint16_t)r.len, 1, r.buf, HDR_BYTES) ==
		   VMBS_GPADL_REPLY_NONE);
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 61, r.buf + HDR_BYTES, 12, &relid),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(relid, 6);
	VMBS_CHECK(vmbs_gpadl_header(tbl, 6, 61, (uint16_t)r.len, 1, r.buf, HDR_BYTES) ==
		   VMBS_GPADL_REPLY_NONE);
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 61, r.buf + HDR_BYTES, 0, NULL),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	CU_ASSERT_EQUAL(stats().body_bad, 2);
	t_teardown();
}

static void
header_with_inconsistent_lengths_fails(void)
{
	struct rl r = { .len = 0 };

	t_setup();
	rl_contig(&r, 0, 2 * 4096, GUEST_PFN);	/* 24 bytes */
	/* Header carries more than the total. */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 16, 1, r.buf, 24),
			VMBS_GPADL_REPLY_FAILED);
	/* Totals that cannot be whole words, or hold no range. */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 25, 1, r.buf, 24),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 24, 1, r.buf, 20),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 0, 0, r.buf, 0),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 24, 0, r.buf, 24),
			VMBS_GPADL_REPLY_FAILED);
	/* More ranges than range_buflen can hold (16 bytes minimum each). */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 24, 2, r.buf, 24),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	CU_ASSERT_EQUAL(stats().fail_malformed, 6);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 24, 1, r.buf, 24),
			VMBS_GPADL_REPLY_CREATED);
	t_teardown();
}

static void
invalid_range_list_fails_when_complete(void)
{
	struct vmbs_gpa_range h;
	struct rl r = { .len = 0 };
	uint64_t pfn = GUEST_PFN;

	t_setup();
	/* byte_offset beyond the page. */
	h.byte_count = 16;
	h.byte_offset = 4096;
	memcpy(r.buf, &h, 8);
	memcpy(r.buf + 8, &pfn, 8);
	memcpy(r.buf + 16, &pfn, 8);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 2, 24, 1, r.buf, 24),
			VMBS_GPADL_REPLY_FAILED);
	/* A valid range with a word left over. */
	h.byte_offset = 0;
	memcpy(r.buf, &h, 8);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 2, 24, 1, r.buf, 24),
			VMBS_GPADL_REPLY_FAILED);
	/* Claims two pages, carries one; the second range count lies. */
	h.byte_count = 4097;
	memcpy(r.buf, &h, 8);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 2, 16, 1, r.buf, 16),
			VMBS_GPADL_REPLY_FAILED);
	/* A PFN past the 52-bit GPA space. */
	h.byte_count = 4096;
	pfn = UINT64_C(1) << 40;
	memcpy(r.buf, &h, 8);
	memcpy(r.buf + 8, &pfn, 8);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 2, 16, 1, r.buf, 16),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	CU_ASSERT_EQUAL(stats().fail_malformed, 4);
	CU_ASSERT_EQUAL(stats().created, 0);
	t_teardown();
}

static void
incomplete_gpadl_cannot_be_mapped_and_tears_down_at_once(void)
{
	static struct rl r;
	const struct vmbs_gpadl_mapping *m;
	struct vmbs_gpadl_info info;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 100 * 4096, GUEST_PFN);
	VMBS_CHECK(vmbs_gpadl_header(tbl, 3, 8, (uint16_t)r.len, 1, r.buf, HDR_BYTES) ==
		   VMBS_GPADL_REPLY_NONE);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 8, &info), 0);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_BUILDING);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 8, VMBS_GPADL_F_RO, &m), -ENOENT);
	CU_ASSERT_EQUAL(stats().map_enoent, 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 3, 8), 0);	/* TORNDOWN now */
	CU_ASSERT_EQUAL(ntorn, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	/* Bodies still in flight find nothing. */
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 8, r.buf + HDR_BYTES, BODY_BYTES, NULL),
			VMBS_GPADL_REPLY_IGNORED);
	t_teardown();
}

static void
building_gpadls_are_bounded(void)
{
	static struct rl r;
	uint32_t i;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 40 * 4096, GUEST_PFN);
	for (i = 0; i < VMBS_GPADL_MAX_BUILDING; i++)
		VMBS_CHECK(vmbs_gpadl_header(tbl, 1, 100 + i, (uint16_t)r.len, 1, r.buf,
					     HDR_BYTES) == VMBS_GPADL_REPLY_NONE);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 999, (uint16_t)r.len, 1, r.buf, HDR_BYTES),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(stats().fail_limit, 1);
	/* Completing one frees a building slot; complete GPADLs do not count. */
	CU_ASSERT_EQUAL(vmbs_gpadl_body(tbl, 100, r.buf + HDR_BYTES, r.len - HDR_BYTES, NULL),
			VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 999, (uint16_t)r.len, 1, r.buf, HDR_BYTES),
			VMBS_GPADL_REPLY_NONE);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 998, (uint16_t)r.len, 1, r.buf, HDR_BYTES),
			VMBS_GPADL_REPLY_FAILED);
	/* A teardown of a building one frees a slot too. */
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 1, 101), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 998, (uint16_t)r.len, 1, r.buf, HDR_BYTES),
			VMBS_GPADL_REPLY_NONE);
	t_teardown();
}

static void
gpadl_count_is_bounded(void)
{
	struct rl r = { .len = 0 };
	uint32_t i;

	t_setup();
	rl_contig(&r, 0, 4096, GUEST_PFN);
	for (i = 0; i < VMBS_GPADL_MAX; i++)
		VMBS_CHECK(vmbs_gpadl_header(tbl, 1, i * 7919u, 16, 1, r.buf, 16) ==
			   VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), VMBS_GPADL_MAX);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 16, 1, r.buf, 16),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(stats().fail_limit, 1);
	/* Lookups still find every id in the full table. */
	for (i = 0; i < VMBS_GPADL_MAX; i += 511)
		CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 1, i * 7919u), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, 1, 16, 1, r.buf, 16),
			VMBS_GPADL_REPLY_CREATED);
	t_teardown();
}

static void
range_bytes_per_vm_are_bounded(void)
{
	static struct rl r;
	struct rl small = { .len = 0 };
	uint32_t i, fit = VMBS_GPADL_MAX_RANGE_BYTES / 65528;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 8190 * 4096, GUEST_PFN);
	rl_contig(&small, 0, 4096, GUEST_PFN);
	for (i = 0; i < fit; i++)
		VMBS_CHECK(vmbs_gpadl_header(tbl, 1, i, (uint16_t)r.len, 1, r.buf, r.len) ==
			   VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, i, (uint16_t)r.len, 1, r.buf, r.len),
			VMBS_GPADL_REPLY_FAILED);
	CU_ASSERT_EQUAL(stats().fail_limit, 1);
	/* Small GPADLs still fit in what is left; the budget is returned. */
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, i, 16, 1, small.buf, 16),
			VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 1, 0), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_header(tbl, 1, i + 1, (uint16_t)r.len, 1, r.buf, r.len),
			VMBS_GPADL_REPLY_CREATED);
	t_teardown();
}

static void
rw_mapping_writes_reach_the_guest(void)
{
	const struct vmbs_gpadl_mapping *m;
	uint64_t pfns[3] = { GUEST_PFN + 20, GUEST_PFN + 21, GUEST_PFN + 7 };
	struct rl r = { .len = 0 };
	uint32_t i;

	t_setup();
	rl_range(&r, 0, 3 * 4096, pfns);
	VMBS_CHECK(send_gpadl(2, 30, &r, NULL) == VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL_FATAL(vmbs_gpadl_map(tbl, 30, 0, &m), 0);
	CU_ASSERT_EQUAL(m->nseg, 2);
	CU_ASSERT_EQUAL(m->flags, 0);
	for (i = 0; i < m->nseg; i++)
		memset(m->seg[i].va, 0xa0 + (int)i, m->seg[i].len);
	CU_ASSERT_EQUAL(guest[20 * 4096], 0xa0);
	CU_ASSERT_EQUAL(guest[22 * 4096 - 1], 0xa0);
	CU_ASSERT_EQUAL(guest[7 * 4096 + 100], 0xa1);
	CU_ASSERT_NOT_EQUAL(guest[22 * 4096], 0xa0);	/* nothing beyond */
	CU_ASSERT_EQUAL(stats().maps, 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 30), 0);
	/* Map/unmap pairs can repeat. */
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 30, VMBS_GPADL_F_RO, &m), 0);
	CU_ASSERT_EQUAL(m->flags, VMBS_GPADL_F_RO);
	CU_ASSERT_EQUAL(*(const uint8_t *)m->seg[1].va, 0xa1);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 30), 0);
	CU_ASSERT_EQUAL(stats().unmaps, 2);
	t_teardown();
}

static void
second_map_is_busy(void)
{
	const struct vmbs_gpadl_mapping *m, *m2 = NULL;

	t_setup();
	VMBS_CHECK(mk_gpadl(1, 3, GUEST_PFN, 1) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 3, 0, &m), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 3, 0, &m2), -EBUSY);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 3, VMBS_GPADL_F_RO, &m2), -EBUSY);
	CU_ASSERT_PTR_NULL(m2);
	CU_ASSERT_EQUAL(stats().map_ebusy, 2);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 3), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 3), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 4), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 3, 0x2, &m2), -EINVAL);
	t_teardown();
}

static void
rw_map_of_readonly_gpadl_is_refused(void)
{
	const struct vmbs_gpadl_mapping *m;
	struct vmbs_gpadl_info info;

	t_setup();
	VMBS_CHECK(mk_gpadl(1, 3, GUEST_PFN, 1) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_set_writable(tbl, 3, false), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 3, &info), 0);
	CU_ASSERT_FALSE(info.writable);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 3, 0, &m), -EACCES);
	CU_ASSERT_EQUAL(stats().map_eacces, 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 3, VMBS_GPADL_F_RO, &m), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 3), 0);
	/* Policy cannot be taken back under a live RW mapping. */
	CU_ASSERT_EQUAL(vmbs_gpadl_set_writable(tbl, 3, true), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 3, 0, &m), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_set_writable(tbl, 3, false), -EBUSY);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 3), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_set_writable(tbl, 77, false), -ENOENT);
	t_teardown();
}

static void
map_with_page_outside_guest_memory_faults(void)
{
	const struct vmbs_gpadl_mapping *m;
	uint64_t pfns[2] = { GUEST_PFN + 1, (GUEST_GPA + GUEST_SIZE) >> 12 };
	struct vmbs_gpadl_info info;
	struct rl r = { .len = 0 };
	int fd;

	t_setup();
	rl_range(&r, 0, 2 * 4096, pfns);
	/* Creation does not judge guest memory; mapping does. */
	VMBS_CHECK(send_gpadl(1, 12, &r, NULL) == VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 12, 0, &m), -EFAULT);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 12, VMBS_GPADL_F_RO, &m), -EFAULT);
	CU_ASSERT_EQUAL(stats().map_efault, 2);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 12, &info), 0);
	CU_ASSERT_FALSE(info.mapped);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_ALIVE);

	/* Once the memory exists (hot-add), the same GPADL maps. */
	fd = memfd_create("vmbs-gpadl-hotadd", MFD_CLOEXEC);
	VMBS_CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
	VMBS_CHECK(vmbs_gm_add_region(gm, GUEST_GPA + GUEST_SIZE, 4096, fd, 0) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 12, 0, &m), 0);
	CU_ASSERT_EQUAL(m->nseg, 2);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 12), 0);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, GUEST_GPA + GUEST_SIZE), 0);
	close(fd);
	t_teardown();
}

static void
mapping_pins_guest_memory(void)
{
	const struct vmbs_gpadl_mapping *m;
	struct vmbs_gm_region_info info;
	int fd;

	t_setup();
	fd = memfd_create("vmbs-gpadl-pin", MFD_CLOEXEC);
	VMBS_CHECK(fd >= 0 && ftruncate(fd, 8192) == 0);
	VMBS_CHECK(vmbs_gm_add_region(gm, 1ull << 40, 8192, fd, 0) == 0);
	VMBS_CHECK(mk_gpadl(1, 13, (1ull << 40) >> 12, 2) == 0);
	CU_ASSERT_EQUAL_FATAL(vmbs_gpadl_map(tbl, 13, 0, &m), 0);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 1ull << 40), -EBUSY);
	VMBS_CHECK(vmbs_gm_region_get(gm, 1, &info) == 0);
	CU_ASSERT_EQUAL(info.gpa, 1ull << 40);
	CU_ASSERT_EQUAL(info.users, 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 13), 0);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, 1ull << 40), 0);
	close(fd);
	t_teardown();
}

static void
teardown_of_unmapped_gpadl_is_immediate(void)
{
	const struct vmbs_gpadl_mapping *m;

	t_setup();
	VMBS_CHECK(mk_gpadl(5, 21, GUEST_PFN, 2) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 5, 21), 0);
	CU_ASSERT_EQUAL(ntorn, 0);	/* the caller answers; no callback */
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 21, 0, &m), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 5, 21), -ENOENT);
	CU_ASSERT_EQUAL(stats().torndown_now, 1);
	t_teardown();
}

static void
teardown_while_mapped_answers_at_unmap(void)
{
	const struct vmbs_gpadl_mapping *m, *m2;
	struct vmbs_gpadl_info info;

	t_setup();
	VMBS_CHECK(mk_gpadl(5, 22, GUEST_PFN + 3, 2) == 0);
	VMBS_CHECK(vmbs_gpadl_map(tbl, 22, 0, &m) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 5, 22), VMBS_GPADL_DEFERRED);
	CU_ASSERT_EQUAL(ntorn, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 22, &info), 0);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_TEARING_DOWN);
	/* The mapping is still usable until unmap; no new maps. */
	memset(m->seg[0].va, 0x42, 16);
	CU_ASSERT_EQUAL(guest[3 * 4096], 0x42);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 22, VMBS_GPADL_F_RO, &m2), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_gpadl_set_writable(tbl, 22, false), -ENOENT);
	/* A repeated TEARDOWN is refused; still one answer to come. */
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 5, 22), -EALREADY);
	CU_ASSERT_EQUAL(ntorn, 0);

	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 22), 0);
	CU_ASSERT_EQUAL(ntorn, 1);
	CU_ASSERT_EQUAL(torn[0], 22);
	CU_ASSERT_PTR_EQUAL(torn_arg, &tbl);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_map(tbl, 22, 0, &m2), -ENOENT);
	CU_ASSERT_EQUAL(stats().torndown_deferred, 1);
	CU_ASSERT_EQUAL(stats().teardown_bad, 1);
	t_teardown();
}

static void
teardown_with_unknown_id_or_wrong_relid_is_refused(void)
{
	struct vmbs_gpadl_info info;

	t_setup();
	VMBS_CHECK(mk_gpadl(5, 23, GUEST_PFN, 1) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 5, 24), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 6, 23), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 23, &info), 0);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_ALIVE);
	CU_ASSERT_EQUAL(ntorn, 0);
	CU_ASSERT_EQUAL(stats().teardown_bad, 2);
	t_teardown();
}

static void
release_channel_drops_its_gpadls_only(void)
{
	const struct vmbs_gpadl_mapping *m;
	static struct rl r;
	struct vmbs_gpadl_info info;

	t_setup();
	memset(&r, 0, sizeof(r));
	rl_contig(&r, 0, 40 * 4096, GUEST_PFN);
	VMBS_CHECK(mk_gpadl(1, 1, GUEST_PFN, 1) == 0);		/* alive */
	VMBS_CHECK(mk_gpadl(1, 2, GUEST_PFN, 1) == 0);		/* mapped */
	VMBS_CHECK(vmbs_gpadl_header(tbl, 1, 3, (uint16_t)r.len, 1, r.buf, HDR_BYTES) ==
		   VMBS_GPADL_REPLY_NONE);			/* building */
	VMBS_CHECK(mk_gpadl(2, 4, GUEST_PFN, 1) == 0);		/* other channel */
	VMBS_CHECK(vmbs_gpadl_map(tbl, 2, 0, &m) == 0);

	CU_ASSERT_EQUAL(vmbs_gpadl_release_channel(tbl, 1), 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 2);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 1, &info), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 3, &info), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 4, &info), 0);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_ALIVE);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(tbl, 2, &info), 0);
	CU_ASSERT_EQUAL(info.state, VMBS_GPADL_TEARING_DOWN);
	CU_ASSERT_EQUAL(stats().released, 2);
	/* Nobody asked for a teardown: unmap removes it without an answer. */
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 2), 0);
	CU_ASSERT_EQUAL(ntorn, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_count(tbl), 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_release_channel(tbl, 1), 0);
	t_teardown();
}

static void
guest_teardown_after_release_is_answered_at_unmap(void)
{
	const struct vmbs_gpadl_mapping *m;

	t_setup();
	VMBS_CHECK(mk_gpadl(1, 2, GUEST_PFN, 1) == 0);
	VMBS_CHECK(vmbs_gpadl_map(tbl, 2, 0, &m) == 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_release_channel(tbl, 1), 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_teardown(tbl, 1, 2), VMBS_GPADL_DEFERRED);
	CU_ASSERT_EQUAL(ntorn, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 2), 0);
	CU_ASSERT_EQUAL(ntorn, 1);
	CU_ASSERT_EQUAL(torn[0], 2);
	t_teardown();
}

static void
destroy_counts_leaked_mappings_and_unpins(void)
{
	const struct vmbs_gpadl_mapping *m;
	struct vmbs_gm_region_info info;
	struct vmbs_gpadl_table *t2;

	t2 = vmbs_gpadl_table_create(gm, on_torndown, NULL);
	VMBS_CHECK(t2 != NULL);
	tbl = t2;
	ntorn = 0;
	VMBS_CHECK(mk_gpadl(1, 1, GUEST_PFN, 1) == 0);
	VMBS_CHECK(mk_gpadl(1, 2, GUEST_PFN + 10, 1) == 0);
	VMBS_CHECK(mk_gpadl(1, 3, GUEST_PFN + 20, 1) == 0);
	VMBS_CHECK(vmbs_gpadl_map(t2, 1, 0, &m) == 0);
	VMBS_CHECK(vmbs_gpadl_map(t2, 2, VMBS_GPADL_F_RO, &m) == 0);
	VMBS_CHECK(vmbs_gpadl_teardown(t2, 1, 2) == VMBS_GPADL_DEFERRED);
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	CU_ASSERT_EQUAL(info.users, 2);
	CU_ASSERT_EQUAL(vmbs_gpadl_table_destroy(t2), 2);
	CU_ASSERT_EQUAL(ntorn, 0);	/* no messages from a dying table */
	VMBS_CHECK(vmbs_gm_region_get(gm, 0, &info) == 0);
	CU_ASSERT_EQUAL(info.users, 0);
	tbl = NULL;
}

static void
ro_mapping_faults_on_write(void)
{
	const struct vmbs_gpadl_mapping *m;
	volatile uint8_t *p;

	t_setup();
	VMBS_CHECK(mk_gpadl(1, 40, GUEST_PFN + 30, 1) == 0);
	guest[30 * 4096] = 0x17;
	CU_ASSERT_EQUAL_FATAL(vmbs_gpadl_map(tbl, 40, VMBS_GPADL_F_RO, &m), 0);
	p = m->seg[0].va;
	CU_ASSERT_EQUAL(*p, 0x17);

	CU_ASSERT_TRUE(vmbs_test_write_faults(p));
	CU_ASSERT_EQUAL(guest[30 * 4096], 0x17);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 40), 0);
	t_teardown();
}

/*
 * End to end on hugepage-backed guest RAM: the guest's 31 MiB receive
 * buffer spread over 2 MiB chunks maps as one segment per chunk run.
 */
static void
hugepage_backed_receive_buffer_maps_to_few_segs(void)
{
	static const uint32_t order[16] = { 3, 0, 9, 6, 7, 12, 1, 15, 4, 10, 13, 2,
					    8, 14, 11, 5 };
	const uint64_t hp_gpa = 1ull << 36, npfn = 31 * 256;
	const char *req = getenv("VMBS_REQUIRE_HUGEPAGES");
	bool require = req != NULL && strcmp(req, "1") == 0;
	const struct vmbs_gpadl_mapping *m;
	static struct rl r;
	uint64_t *pfns;
	uint32_t i;
	int fd, rc;

	fd = memfd_create("vmbs-gpadl-huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	rc = fd < 0 || ftruncate(fd, 32 * MiB) != 0 ? -ENOMEM :
		vmbs_gm_add_region(gm, hp_gpa, 32 * MiB, fd, 0);
	/* No hugetlbfs or too few pages (reserved at mmap): skip, or fail. */
	if (rc == -ENOMEM) {
		if (fd >= 0)
			close(fd);
		if (require) {
			CU_FAIL("2 MiB hugepages unavailable and VMBS_REQUIRE_HUGEPAGES=1");
			return;
		}
		printf("\n  %s: SKIPPED (no 2 MiB hugepages available; "
		       "set VMBS_REQUIRE_HUGEPAGES=1 to make this fatal)\n", __func__);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	t_setup();
	pfns = malloc(npfn * sizeof(*pfns));
	VMBS_CHECK(pfns != NULL);
	for (i = 0; i < npfn; i++)
		pfns[i] = (hp_gpa >> 12) + order[i / 512] * 512 + i % 512;
	memset(&r, 0, sizeof(r));
	rl_range(&r, 0, (uint32_t)npfn * 4096, pfns);
	CU_ASSERT_EQUAL(send_gpadl(9, 0xcafe, &r, NULL), VMBS_GPADL_REPLY_CREATED);
	CU_ASSERT_EQUAL_FATAL(vmbs_gpadl_map(tbl, 0xcafe, 0, &m), 0);
	CU_ASSERT_EQUAL(m->nseg, 15);
	CU_ASSERT_EQUAL(m->len, npfn * 4096);
	CU_ASSERT_EQUAL(vmbs_gpadl_unmap(tbl, 0xcafe), 0);
	t_teardown();
	free(pfns);
	CU_ASSERT_EQUAL(vmbs_gm_remove_region(gm, hp_gpa), 0);
	close(fd);
}

static const struct vmbs_test_case gpadl_cases[] = {
	{ "create_rejects_missing_arguments", create_rejects_missing_arguments },
	{ "header_only_gpadl_is_created", header_only_gpadl_is_created },
	{ "assembles_8190_pfns_across_292_bodies", assembles_8190_pfns_across_292_bodies },
	{ "multi_range_gpadl_maps_in_range_order", multi_range_gpadl_maps_in_range_order },
	{ "duplicate_header_fails_and_keeps_existing",
	  duplicate_header_fails_and_keeps_existing },
	{ "duplicate_header_while_building_keeps_builder",
	  duplicate_header_while_building_keeps_builder },
	{ "body_for_unknown_id_is_ignored", body_for_unknown_id_is_ignored },
	{ "extra_body_for_complete_gpadl_is_ignored", extra_body_for_complete_gpadl_is_ignored },
	{ "body_overflowing_buflen_fails_and_frees_id",
	  body_overflowing_buflen_fails_and_frees_id },
	{ "ragged_or_empty_body_fails_building_gpadl", ragged_or_empty_body_fails_building_gpadl },
	{ "header_with_inconsistent_lengths_fails", header_with_inconsistent_lengths_fails },
	{ "invalid_range_list_fails_when_complete", invalid_range_list_fails_when_complete },
	{ "incomplete_gpadl_cannot_be_mapped_and_tears_down_at_once",
	  incomplete_gpadl_cannot_be_mapped_and_tears_down_at_once },
	{ "building_gpadls_are_bounded", building_gpadls_are_bounded },
	{ "gpadl_count_is_bounded", gpadl_count_is_bounded },
	{ "range_bytes_per_vm_are_bounded", range_bytes_per_vm_are_bounded },
	{ "rw_mapping_writes_reach_the_guest", rw_mapping_writes_reach_the_guest },
	{ "second_map_is_busy", second_map_is_busy },
	{ "rw_map_of_readonly_gpadl_is_refused", rw_map_of_readonly_gpadl_is_refused },
	{ "map_with_page_outside_guest_memory_faults",
	  map_with_page_outside_guest_memory_faults },
	{ "mapping_pins_guest_memory", mapping_pins_guest_memory },
	{ "teardown_of_unmapped_gpadl_is_immediate", teardown_of_unmapped_gpadl_is_immediate },
	{ "teardown_while_mapped_answers_at_unmap", teardown_while_mapped_answers_at_unmap },
	{ "teardown_with_unknown_id_or_wrong_relid_is_refused",
	  teardown_with_unknown_id_or_wrong_relid_is_refused },
	{ "release_channel_drops_its_gpadls_only", release_channel_drops_its_gpadls_only },
	{ "guest_teardown_after_release_is_answered_at_unmap",
	  guest_teardown_after_release_is_answered_at_unmap },
	{ "destroy_counts_leaked_mappings_and_unpins",
	  destroy_counts_leaked_mappings_and_unpins },
	{ "ro_mapping_faults_on_write", ro_mapping_faults_on_write },
	{ "hugepage_backed_receive_buffer_maps_to_few_segs",
	  hugepage_backed_receive_buffer_maps_to_few_segs },
	{ NULL, NULL },
};

static const struct vmbs_test_suite gpadl_suite = {
	.name = "gpadl",
	.init = suite_init,
	.cleanup = suite_cleanup,
	.cases = gpadl_cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &gpadl_suite, NULL };

	return vmbs_test_run(suites);
}
