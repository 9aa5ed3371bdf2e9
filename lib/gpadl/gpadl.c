/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbs_gparange.h"
#include "vmbs_gpadl.h"

/* A mapping and its arrays in one allocation: seg[nseg], then seg_off[nseg]. */
struct gpadl_map {
	struct vmbs_gpadl_mapping pub;
	struct vmbs_seg seg[];
};

struct gpadl {
	uint32_t id;
	uint32_t relid;
	enum vmbs_gpadl_state state;
	bool writable;
	/*
	 * The guest sent TEARDOWN and waits for TORNDOWN. Clear for a GPADL
	 * left tearing down by vmbs_gpadl_release_channel(): nobody asked, so
	 * nothing is answered at unmap.
	 */
	bool torndown_pending;
	uint16_t range_buflen;
	uint16_t range_cnt;
	uint32_t filled;	/* range bytes received so far */
	uint32_t pfn_cnt;	/* set when complete */
	uint64_t len;		/* set when complete */
	struct gpadl_map *map;	/* NULL when unmapped; never NULL when tearing down */
	uint8_t ranges[];	/* range_buflen bytes: private copy of the list */
};

/*
 * GPADLs sorted by id, searched by bisection. Ids are guest-chosen (Linux
 * counts up from 0xe1e10), so a sorted array of at most 4096 pointers is
 * compact, has no hash to attack and needs no rehashing; inserts and
 * removals are control-path memmoves of at most 32 KiB.
 */
struct vmbs_gpadl_table {
	struct vmbs_gm *gm;
	vmbs_gpadl_torndown_cb_t torndown;
	void *arg;
	uint32_t count;
	uint32_t building;
	uint64_t range_bytes;	/* sum of range_buflen over all GPADLs */
	struct vmbs_gpadl_stats stats;
	struct gpadl *ents[VMBS_GPADL_MAX];
};

struct vmbs_gpadl_table *
vmbs_gpadl_table_create(struct vmbs_gm *gm, vmbs_gpadl_torndown_cb_t torndown,
			void *arg)
{
	struct vmbs_gpadl_table *tbl;

	if (gm == NULL || torndown == NULL) {
		errno = EINVAL;
		return NULL;
	}
	tbl = calloc(1, sizeof(*tbl));
	if (tbl == NULL)
		return NULL;
	tbl->gm = gm;
	tbl->torndown = torndown;
	tbl->arg = arg;
	return tbl;
}

/* Index of the first GPADL with an id >= @p id. */
static uint32_t
gpadl_lower(const struct vmbs_gpadl_table *tbl, uint32_t id)
{
	uint32_t lo = 0, hi = tbl->count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (tbl->ents[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct gpadl *
gpadl_find(const struct vmbs_gpadl_table *tbl, uint32_t id, uint32_t *idx)
{
	uint32_t i = gpadl_lower(tbl, id);

	if (i == tbl->count || tbl->ents[i]->id != id)
		return NULL;
	if (idx != NULL)
		*idx = i;
	return tbl->ents[i];
}

static void
gpadl_free_map(struct vmbs_gpadl_table *tbl, struct gpadl *g)
{
	/* Cannot fail: the segments were pinned against this table's gm. */
	vmbs_gm_unpin(tbl->gm, g->map->pub.seg, g->map->pub.nseg);
	free(g->map);
	g->map = NULL;
}

/* Drop an unmapped GPADL from the table. */
static void
gpadl_remove(struct vmbs_gpadl_table *tbl, struct gpadl *g)
{
	/* g is in the table, so this is its index. */
	uint32_t i = gpadl_lower(tbl, g->id);

	memmove(&tbl->ents[i], &tbl->ents[i + 1],
		(tbl->count - i - 1) * sizeof(tbl->ents[0]));
	tbl->count--;
	if (g->state == VMBS_GPADL_BUILDING)
		tbl->building--;
	tbl->range_bytes -= g->range_buflen;
	free(g);
}

uint32_t
vmbs_gpadl_table_destroy(struct vmbs_gpadl_table *tbl)
{
	uint32_t i, leaked = 0;

	if (tbl == NULL)
		return 0;
	for (i = 0; i < tbl->count; i++) {
		if (tbl->ents[i]->map != NULL) {
			leaked++;
			gpadl_free_map(tbl, tbl->ents[i]);
		}
		free(tbl->ents[i]);
	}
	free(tbl);
	return leaked;
}

static enum vmbs_gpadl_reply
gpadl_fail(struct vmbs_gpadl_table *tbl, uint64_t *cause)
{
	tbl->stats.failed++;
	(*cause)++;
	return VMBS_GPADL_REPLY_FAILED;
}

/* All range data is in: validate the whole list once, as one unit. */
static enum vmbs_gpadl_reply
gpadl_complete(struct vmbs_gpadl_table *tbl, struct gpadl *g)
{
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	uint64_t len = 0;

	if (vmbs_gparange_check(g->ranges, g->range_buflen, g->range_cnt,
				&g->pfn_cnt) != 0) {
		gpadl_remove(tbl, g);
		return gpadl_fail(tbl, &tbl->stats.fail_malformed);
	}
	vmbs_gparange_iter_init(&it, g->ranges, g->range_buflen, g->range_cnt);
	while (vmbs_gparange_next(&it, &r) > 0)
		len += r.byte_count;
	g->len = len;
	g->state = VMBS_GPADL_ALIVE;
	tbl->building--;
	tbl->stats.created++;
	return VMBS_GPADL_REPLY_CREATED;
}

enum vmbs_gpadl_reply
vmbs_gpadl_header(struct vmbs_gpadl_table *tbl, uint32_t relid,
		  uint32_t gpadl_id, uint16_t range_buflen, uint16_t range_cnt,
		  const void *range_bytes, size_t n)
{
	struct gpadl *g;
	uint32_t i;

	/* Leave the existing GPADL alone: it may be mapped and in use. */
	if (gpadl_find(tbl, gpadl_id, NULL) != NULL)
		return gpadl_fail(tbl, &tbl->stats.fail_dup);
	/*
	 * Range data is whole u64 words (8-byte range headers and PFNs), and
	 * each range needs a header and at least one PFN: reject impossible
	 * lengths before holding any memory for them.
	 */
	if (range_cnt == 0 || range_buflen == 0 || range_buflen % 8 != 0 ||
	    n % 8 != 0 || n > range_buflen ||
	    (uint32_t)range_cnt * 16 > range_buflen)
		return gpadl_fail(tbl, &tbl->stats.fail_malformed);
	if (tbl->count == VMBS_GPADL_MAX ||
	    tbl->building == VMBS_GPADL_MAX_BUILDING ||
	    tbl->range_bytes + range_buflen > VMBS_GPADL_MAX_RANGE_BYTES)
		return gpadl_fail(tbl, &tbl->stats.fail_limit);

	g = malloc(sizeof(*g) + range_buflen);
	if (g == NULL)
		return gpadl_fail(tbl, &tbl->stats.fail_limit);
	memset(g, 0, sizeof(*g));
	g->id = gpadl_id;
	g->relid = relid;
	g->state = VMBS_GPADL_BUILDING;
	g->writable = true;
	g->range_buflen = range_buflen;
	g->range_cnt = range_cnt;
	g->filled = (uint32_t)n;
	if (n > 0)
		memcpy(g->ranges, range_bytes, n);

	i = gpadl_lower(tbl, gpadl_id);
	memmove(&tbl->ents[i + 1], &tbl->ents[i],
		(tbl->count - i) * sizeof(tbl->ents[0]));
	tbl->ents[i] = g;
	tbl->count++;
	tbl->building++;
	tbl->range_bytes += range_buflen;

	if (g->filled == range_buflen)
		return gpadl_complete(tbl, g);
	return VMBS_GPADL_REPLY_NONE;
}

enum vmbs_gpadl_reply
vmbs_gpadl_body(struct vmbs_gpadl_table *tbl, uint32_t gpadl_id,
		const void *words, size_t n_bytes, uint32_t *relid)
{
	struct gpadl *g = gpadl_find(tbl, gpadl_id, NULL);

	/* No GPADL to fail: the guest gets no answer (there is no relid). */
	if (g == NULL) {
		tbl->stats.body_unknown++;
		return VMBS_GPADL_REPLY_IGNORED;
	}
	/* A complete GPADL was answered already; a second answer would lie. */
	if (g->state != VMBS_GPADL_BUILDING) {
		tbl->stats.body_extra++;
		return VMBS_GPADL_REPLY_IGNORED;
	}
	if (relid != NULL)
		*relid = g->relid;
	if (n_bytes == 0 || n_bytes % 8 != 0 ||
	    n_bytes > (size_t)(g->range_buflen - g->filled)) {
		tbl->stats.body_bad++;
		gpadl_remove(tbl, g);
		return gpadl_fail(tbl, &tbl->stats.fail_malformed);
	}
	memcpy(g->ranges + g->filled, words, n_bytes);
	g->filled += (uint32_t)n_bytes;
	if (g->filled == g->range_buflen)
		return gpadl_complete(tbl, g);
	return VMBS_GPADL_REPLY_NONE;
}

int
vmbs_gpadl_set_writable(struct vmbs_gpadl_table *tbl, uint32_t gpadl_id,
			bool writable)
{
	struct gpadl *g = gpadl_find(tbl, gpadl_id, NULL);

	if (g == NULL || g->state == VMBS_GPADL_TEARING_DOWN)
		return -ENOENT;
	if (!writable && g->map != NULL && !(g->map->pub.flags & VMBS_GPADL_F_RO))
		return -EBUSY;
	g->writable = writable;
	return 0;
}

int
vmbs_gpadl_map(struct vmbs_gpadl_table *tbl, uint32_t gpadl_id, uint32_t flags,
	       const struct vmbs_gpadl_mapping **out)
{
	struct gpadl *g = gpadl_find(tbl, gpadl_id, NULL);
	uint32_t gm_flags, nseg, i;
	struct gpadl_map *m;
	uint64_t *seg_off;
	uint64_t off;
	int rc;

	if ((flags & ~VMBS_GPADL_F_RO) != 0)
		return -EINVAL;
	if (g == NULL || g->state != VMBS_GPADL_ALIVE) {
		tbl->stats.map_enoent++;
		return -ENOENT;
	}
	if (g->map != NULL) {
		tbl->stats.map_ebusy++;
		return -EBUSY;
	}
	if (!(flags & VMBS_GPADL_F_RO) && !g->writable) {
		tbl->stats.map_eacces++;
		return -EACCES;
	}
	gm_flags = (flags & VMBS_GPADL_F_RO) ? VMBS_GM_F_RO : 0;

	/* Count first, then allocate exactly: memory follows the merged size. */
	rc = vmbs_gm_translate_ranges(tbl->gm, g->ranges, g->range_buflen,
				      g->range_cnt, gm_flags, NULL, 0, &nseg);
	if (rc != -ENOBUFS) {
		/* The list was validated at creation: only -EFAULT is left. */
		if (rc == -EFAULT)
			tbl->stats.map_efault++;
		return rc == 0 ? -EFAULT : rc;
	}
	m = malloc(sizeof(*m) + (size_t)nseg * (sizeof(m->seg[0]) + sizeof(*seg_off)));
	if (m == NULL) {
		tbl->stats.map_enomem++;
		return -ENOMEM;
	}
	rc = vmbs_gm_translate_ranges(tbl->gm, g->ranges, g->range_buflen,
				      g->range_cnt, gm_flags, m->seg, nseg, &nseg);
	if (rc == 0)
		rc = vmbs_gm_pin(tbl->gm, m->seg, nseg);
	if (rc != 0) {
		free(m);
		if (rc == -EFAULT)
			tbl->stats.map_efault++;
		return rc;
	}

	seg_off = (uint64_t *)(m->seg + nseg);
	for (i = 0, off = 0; i < nseg; i++) {
		seg_off[i] = off;
		off += m->seg[i].len;
	}
	m->pub.gpadl_id = gpadl_id;
	m->pub.flags = flags;
	m->pub.len = off;
	m->pub.nseg = nseg;
	m->pub.seg = m->seg;
	m->pub.seg_off = seg_off;
	g->map = m;
	tbl->stats.maps++;
	*out = &m->pub;
	return 0;
}

int
vmbs_gpadl_unmap(struct vmbs_gpadl_table *tbl, uint32_t gpadl_id)
{
	struct gpadl *g = gpadl_find(tbl, gpadl_id, NULL);
	bool answer;

	if (g == NULL || g->map == NULL)
		return -EINVAL;
	gpadl_free_map(tbl, g);
	tbl->stats.unmaps++;
	if (g->state != VMBS_GPADL_TEARING_DOWN)
		return 0;

	/* Remove before calling back, so the callback sees a consistent table. */
	answer = g->torndown_pending;
	gpadl_remove(tbl, g);
	if (answer)
		tbl->torndown(tbl->arg, gpadl_id);
	return 0;
}

int
vmbs_gpadl_teardown(struct vmbs_gpadl_table *tbl, uint32_t relid,
		    uint32_t gpadl_id)
{
	struct gpadl *g = gpadl_find(tbl, gpadl_id, NULL);

	if (g == NULL) {
		tbl->stats.teardown_bad++;
		return -ENOENT;
	}
	if (g->relid != relid) {
		tbl->stats.teardown_bad++;
		return -EINVAL;
	}
	if (g->state == VMBS_GPADL_TEARING_DOWN) {
		if (g->torndown_pending) {
			tbl->stats.teardown_bad++;
			return -EALREADY;
		}
		/* Released by the server, still mapped: now the guest waits too. */
		g->torndown_pending = true;
		tbl->stats.torndown_deferred++;
		return VMBS_GPADL_DEFERRED;
	}
	/* KMCL and OpenVMM: the guest must not reuse memory still mapped. */
	if (g->map != NULL) {
		g->state = VMBS_GPADL_TEARING_DOWN;
		g->torndown_pending = true;
		tbl->stats.torndown_deferred++;
		return VMBS_GPADL_DEFERRED;
	}
	/* Alive and unmapped, or still building (the rest is discarded). */
	gpadl_remove(tbl, g);
	tbl->stats.torndown_now++;
	return 0;
}

uint32_t
vmbs_gpadl_release_channel(struct vmbs_gpadl_table *tbl, uint32_t relid)
{
	uint32_t i, left = 0;
	struct gpadl *g;

	/* Backwards, so removals only shift entries already visited. */
	for (i = tbl->count; i-- > 0;) {
		g = tbl->ents[i];
		if (g->relid != relid)
			continue;
		if (g->map != NULL) {
			g->state = VMBS_GPADL_TEARING_DOWN;
			left++;
			continue;
		}
		gpadl_remove(tbl, g);
		tbl->stats.released++;
	}
	return left;
}

int
vmbs_gpadl_info(const struct vmbs_gpadl_table *tbl, uint32_t gpadl_id,
		struct vmbs_gpadl_info *info)
{
	const struct gpadl *g = gpadl_find(tbl, gpadl_id, NULL);

	if (g == NULL)
		return -ENOENT;
	info->relid = g->relid;
	info->state = g->state;
	info->writable = g->writable;
	info->mapped = g->map != NULL;
	info->range_cnt = g->range_cnt;
	info->pfn_cnt = g->pfn_cnt;
	info->len = g->len;
	return 0;
}

int
vmbs_gpadl_mapped_len(const struct vmbs_gpadl_table *tbl, uint32_t gpadl_id,
		      uint64_t *len)
{
	const struct gpadl *g = gpadl_find(tbl, gpadl_id, NULL);

	if (g == NULL)
		return -ENOENT;
	if (g->map == NULL)
		return -EINVAL;
	*len = g->map->pub.len;
	return 0;
}

uint32_t
vmbs_gpadl_count(const struct vmbs_gpadl_table *tbl)
{
	return tbl->count;
}

void
vmbs_gpadl_stats_get(const struct vmbs_gpadl_table *tbl,
		     struct vmbs_gpadl_stats *stats)
{
	*stats = tbl->stats;
}

void *
vmbs_gpadl_mapping_va(const struct vmbs_gpadl_mapping *m, uint64_t off,
		      uint64_t len, uint64_t *contig)
{
	uint32_t lo = 0, hi = m->nseg, mid;
	uint64_t in_seg, avail;

	if (contig != NULL)
		*contig = 0;
	if (off >= m->len)
		return NULL;
	/* Last segment starting at or before off; seg_off[0] == 0 <= off. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (m->seg_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	in_seg = off - m->seg_off[lo];
	avail = m->seg[lo].len - in_seg;
	if (contig != NULL)
		*contig = avail;
	if (len == 0 || len > avail)
		return NULL;
	return (uint8_t *)m->seg[lo].va + in_seg;
}
