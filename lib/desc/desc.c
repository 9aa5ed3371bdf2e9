/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * VMBus packet codec. Parsing runs on every g2h packet, so each check is a
 * few compares on locals; the only loop is the range walk, which is
 * bounded by the packet size the ring already limited.
 */

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "vmbs_desc.h"

/* Both type headers are 8 bytes, so ranges start at 24 for either type. */
static_assert(sizeof(struct vmbs_xfer_hdr) == sizeof(struct vmbs_gpa_direct_hdr),
	      "xfer and GPA-direct headers must have the same size");
static_assert(VMBS_DESC_RANGES_OFF == 24, "ranges start at byte 24");

/* Smallest GPA range on the wire: its header plus one PFN. */
#define DESC_GPA_RANGE_MIN (sizeof(struct vmbs_gpa_range) + sizeof(uint64_t))

static bool
desc_type_ok(uint16_t type)
{
	/* The only types guests actually use (OpenVMM accepts the same set). */
	return type == VMBS_PKT_DATA_INBAND || type == VMBS_PKT_DATA_XFER_PAGES ||
	       type == VMBS_PKT_DATA_GPA_DIRECT || type == VMBS_PKT_COMP;
}

static bool
desc_over_limits(const struct vmbs_desc_limits *lim, uint32_t range_cnt,
		 uint64_t bytes)
{
	if (lim == NULL)
		return false;
	if (lim->max_ranges != 0 && range_cnt > lim->max_ranges)
		return true;
	return lim->max_bytes != 0 && bytes > lim->max_bytes;
}

static int
desc_parse_gpa(const uint8_t *p, struct vmbs_desc_info *out)
{
	struct vmbs_gpa_direct_hdr gh;
	struct vmbs_gparange_iter it;
	struct vmbs_gparange r;
	uint32_t area = out->payload_off - VMBS_DESC_RANGES_OFF;
	uint64_t bytes = 0;
	uint32_t pfns = 0;
	int rc;

	if (out->payload_off < VMBS_DESC_RANGES_OFF)
		return -EBADMSG;
	memcpy(&gh, p + sizeof(struct vmbs_pkt_desc), sizeof(gh));
	/*
	 * Reject a count that cannot fit before walking: the walk would fail
	 * anyway, but this keeps a bogus 0xffffffff from costing anything.
	 */
	if (gh.range_cnt == 0 || gh.range_cnt > area / DESC_GPA_RANGE_MIN)
		return -EBADMSG;

	/*
	 * The walker is bounded by the offset8 area, so ranges can never reach
	 * into the payload, and it does the overflow-safe page arithmetic.
	 */
	vmbs_gparange_iter_init(&it, p + VMBS_DESC_RANGES_OFF, area, gh.range_cnt);
	while ((rc = vmbs_gparange_next(&it, &r)) > 0) {
		/* area <= 524280 B bounds pfns below 65535: no overflow. */
		pfns += r.pfn_cnt;
		bytes += r.byte_count;
	}
	if (rc < 0)
		return -EBADMSG;

	out->range_off = VMBS_DESC_RANGES_OFF;
	out->range_len = area - (uint32_t)it.left;
	out->range_cnt = gh.range_cnt;
	out->pfn_cnt = pfns;
	out->byte_total = bytes;
	return 0;
}

static int
desc_parse_xfer(const uint8_t *p, struct vmbs_desc_info *out)
{
	struct vmbs_xfer_hdr xh;
	struct vmbs_xfer_range xr;
	uint32_t area = out->payload_off - VMBS_DESC_RANGES_OFF;
	uint64_t bytes = 0;
	uint32_t i;

	if (out->payload_off < VMBS_DESC_RANGES_OFF)
		return -EBADMSG;
	memcpy(&xh, p + sizeof(struct vmbs_pkt_desc), sizeof(xh));
	if (xh.range_cnt == 0 || xh.range_cnt > area / sizeof(struct vmbs_xfer_range))
		return -EBADMSG;
	for (i = 0; i < xh.range_cnt; i++) {
		memcpy(&xr, p + VMBS_DESC_RANGES_OFF + (size_t)i * sizeof(xr),
		       sizeof(xr));
		bytes += xr.byte_count;
	}

	out->range_off = VMBS_DESC_RANGES_OFF;
	out->range_len = xh.range_cnt * (uint32_t)sizeof(struct vmbs_xfer_range);
	out->range_cnt = xh.range_cnt;
	out->byte_total = bytes;
	out->xfer_pageset_id = xh.pageset_id;
	out->xfer_sender_owns = xh.sender_owns_set;
	return 0;
}

int
vmbs_desc_parse_limits(const void *pkt, uint32_t len,
		       const struct vmbs_desc_limits *lim,
		       struct vmbs_desc_info *out)
{
	struct vmbs_pkt_desc d;
	int rc;

	if (pkt == NULL || out == NULL)
		return -EINVAL;
	if (len < sizeof(d))
		return -EBADMSG;
	/* One read of the descriptor; everything below uses the copy. */
	memcpy(&d, pkt, sizeof(d));

	if (!desc_type_ok(d.type))
		return -EBADMSG;
	if ((d.flags & ~VMBS_PKT_F_COMPLETION_REQUESTED) != 0)
		return -EBADMSG;
	/* offset8 >= 2 keeps the payload clear of the descriptor itself. */
	if (d.offset8 < 2 || d.offset8 > d.len8)
		return -EBADMSG;
	if ((uint32_t)d.len8 * 8 > len)
		return -EBADMSG;

	memset(out, 0, sizeof(*out));
	out->type = (enum vmbs_pkt_type)d.type;
	out->flags = d.flags;
	out->offset8 = d.offset8;
	out->len8 = d.len8;
	out->trans_id = d.trans_id;
	out->payload_off = (uint32_t)d.offset8 * 8;
	out->payload_len = (uint32_t)d.len8 * 8 - out->payload_off;

	switch (d.type) {
	case VMBS_PKT_DATA_GPA_DIRECT:
		rc = desc_parse_gpa(pkt, out);
		break;
	case VMBS_PKT_DATA_XFER_PAGES:
		rc = desc_parse_xfer(pkt, out);
		break;
	default:
		/* Inband and completion: bytes in [16, offset8*8) are ignored. */
		return 0;
	}
	if (rc < 0)
		return rc;
	if (desc_over_limits(lim, out->range_cnt, out->byte_total))
		return -E2BIG;
	return 0;
}

int
vmbs_desc_parse(const void *pkt, uint32_t len, struct vmbs_desc_info *out)
{
	return vmbs_desc_parse_limits(pkt, len, NULL, out);
}

int
vmbs_desc_gpa_iter(const void *pkt, const struct vmbs_desc_info *info,
		   struct vmbs_gparange_iter *it)
{
	if (pkt == NULL || info == NULL || it == NULL ||
	    info->type != VMBS_PKT_DATA_GPA_DIRECT)
		return -EINVAL;
	vmbs_gparange_iter_init(it, (const uint8_t *)pkt + info->range_off,
				info->range_len, info->range_cnt);
	return 0;
}

int
vmbs_desc_xfer_range(const void *pkt, const struct vmbs_desc_info *info,
		     uint32_t idx, struct vmbs_xfer_range *out)
{
	if (pkt == NULL || info == NULL || out == NULL ||
	    info->type != VMBS_PKT_DATA_XFER_PAGES || idx >= info->range_cnt)
		return -EINVAL;
	memcpy(out, (const uint8_t *)pkt + info->range_off +
	       (size_t)idx * sizeof(*out), sizeof(*out));
	return 0;
}

/*
 * Common tail of every encoder: size checks first (nothing is written on
 * failure), then the descriptor. hdr_len is a multiple of 8 for every type.
 */
static int
desc_layout(uint64_t hdr_len, uint32_t payload_len, size_t buf_len,
	    struct vmbs_desc_layout *layout)
{
	uint64_t pkt_len = (hdr_len + payload_len + 7) & ~(uint64_t)7;

	if (pkt_len > VMBS_DESC_MAX_PKT_LEN)
		return -E2BIG;
	if (buf_len < hdr_len)
		return -ENOBUFS;
	layout->hdr_len = (uint32_t)hdr_len;
	layout->pkt_len = (uint32_t)pkt_len;
	layout->offset8 = (uint16_t)(hdr_len / 8);
	layout->len8 = (uint16_t)(pkt_len / 8);
	return 0;
}

static void
desc_put(void *buf, uint16_t type, uint16_t flags, uint64_t trans_id,
	 const struct vmbs_desc_layout *layout)
{
	struct vmbs_pkt_desc d = {
		.type = type,
		.offset8 = layout->offset8,
		.len8 = layout->len8,
		.flags = flags,
		.trans_id = trans_id,
	};

	memcpy(buf, &d, sizeof(d));
}

static bool
desc_flags_ok(uint16_t flags)
{
	return (flags & ~VMBS_PKT_F_COMPLETION_REQUESTED) == 0;
}

int
vmbs_desc_encode_inband(void *buf, size_t buf_len, uint64_t trans_id,
			uint16_t flags, uint32_t payload_len,
			struct vmbs_desc_layout *layout)
{
	int rc;

	if (buf == NULL || layout == NULL || !desc_flags_ok(flags))
		return -EINVAL;
	rc = desc_layout(sizeof(struct vmbs_pkt_desc), payload_len, buf_len, layout);
	if (rc < 0)
		return rc;
	desc_put(buf, VMBS_PKT_DATA_INBAND, flags, trans_id, layout);
	return 0;
}

int
vmbs_desc_encode_comp(void *buf, size_t buf_len, uint64_t trans_id,
		      uint32_t payload_len, struct vmbs_desc_layout *layout)
{
	int rc;

	if (buf == NULL || layout == NULL)
		return -EINVAL;
	rc = desc_layout(sizeof(struct vmbs_pkt_desc), payload_len, buf_len, layout);
	if (rc < 0)
		return rc;
	/* A completion never asks for a completion. */
	desc_put(buf, VMBS_PKT_COMP, 0, trans_id, layout);
	return 0;
}

int
vmbs_desc_encode_xfer(void *buf, size_t buf_len, uint64_t trans_id,
		      uint16_t flags, uint16_t pageset_id, uint8_t sender_owns,
		      const struct vmbs_xfer_range *ranges, uint32_t range_cnt,
		      uint32_t payload_len, struct vmbs_desc_layout *layout)
{
	struct vmbs_xfer_hdr xh = {
		.pageset_id = pageset_id,
		.sender_owns_set = sender_owns,
		.range_cnt = range_cnt,
	};
	uint64_t hdr_len;
	int rc;

	if (buf == NULL || layout == NULL || ranges == NULL || range_cnt == 0 ||
	    !desc_flags_ok(flags))
		return -EINVAL;
	hdr_len = VMBS_DESC_RANGES_OFF + (uint64_t)range_cnt * sizeof(*ranges);
	rc = desc_layout(hdr_len, payload_len, buf_len, layout);
	if (rc < 0)
		return rc;
	desc_put(buf, VMBS_PKT_DATA_XFER_PAGES, flags, trans_id, layout);
	memcpy((uint8_t *)buf + sizeof(struct vmbs_pkt_desc), &xh, sizeof(xh));
	memcpy((uint8_t *)buf + VMBS_DESC_RANGES_OFF, ranges,
	       (size_t)range_cnt * sizeof(*ranges));
	return 0;
}

/* Append one wire range at *pos and advance it; the caller sized the buffer. */
static void
desc_put_range(uint8_t **pos, uint32_t byte_offset, uint32_t byte_count)
{
	struct vmbs_gpa_range r = {
		.byte_count = byte_count,
		.byte_offset = byte_offset,
	};

	memcpy(*pos, &r, sizeof(r));
	*pos += sizeof(r);
}

static void
desc_put_pfn(uint8_t **pos, uint64_t pfn)
{
	memcpy(*pos, &pfn, sizeof(pfn));
	*pos += sizeof(pfn);
}

static void
desc_put_gpa_hdr(void *buf, uint64_t trans_id, uint16_t flags, uint32_t range_cnt,
		 const struct vmbs_desc_layout *layout)
{
	struct vmbs_gpa_direct_hdr gh = {
		.reserved = 0,
		.range_cnt = range_cnt,
	};

	desc_put(buf, VMBS_PKT_DATA_GPA_DIRECT, flags, trans_id, layout);
	memcpy((uint8_t *)buf + sizeof(struct vmbs_pkt_desc), &gh, sizeof(gh));
}

int
vmbs_desc_encode_gpa(void *buf, size_t buf_len, uint64_t trans_id,
		     uint16_t flags, const struct vmbs_desc_gpa_seg *segs,
		     uint32_t seg_cnt, uint32_t payload_len,
		     struct vmbs_desc_layout *layout)
{
	uint64_t hdr_len = VMBS_DESC_RANGES_OFF;
	uint64_t last, pfn;
	uint32_t i, j, off, pages;
	uint8_t *pos;
	int rc;

	if (buf == NULL || layout == NULL || segs == NULL || seg_cnt == 0 ||
	    !desc_flags_ok(flags))
		return -EINVAL;
	/* Validate and size everything before writing a byte. */
	for (i = 0; i < seg_cnt; i++) {
		if (segs[i].len == 0)
			return -EINVAL;
		/* Last byte's page must be a PFN the parser accepts. */
		if (segs[i].gpa > (VMBS_GPA_MAX_PFN << VMBS_PAGE_SHIFT | VMBS_PAGE_MASK))
			return -EINVAL;
		last = segs[i].gpa + segs[i].len - 1;
		if ((last >> VMBS_PAGE_SHIFT) > VMBS_GPA_MAX_PFN)
			return -EINVAL;
		off = (uint32_t)(segs[i].gpa & VMBS_PAGE_MASK);
		hdr_len += sizeof(struct vmbs_gpa_range) +
			   (uint64_t)vmbs_gparange_pages(off, segs[i].len) * sizeof(uint64_t);
		/* Early out keeps hdr_len far from overflow for any seg_cnt. */
		if (hdr_len > VMBS_DESC_MAX_PKT_LEN)
			return -E2BIG;
	}
	rc = desc_layout(hdr_len, payload_len, buf_len, layout);
	if (rc < 0)
		return rc;

	desc_put_gpa_hdr(buf, trans_id, flags, seg_cnt, layout);
	pos = (uint8_t *)buf + VMBS_DESC_RANGES_OFF;
	for (i = 0; i < seg_cnt; i++) {
		off = (uint32_t)(segs[i].gpa & VMBS_PAGE_MASK);
		pages = vmbs_gparange_pages(off, segs[i].len);
		pfn = segs[i].gpa >> VMBS_PAGE_SHIFT;
		desc_put_range(&pos, off, segs[i].len);
		for (j = 0; j < pages; j++)
			desc_put_pfn(&pos, pfn + j);
	}
	return 0;
}

int
vmbs_desc_encode_gpa_pages(void *buf, size_t buf_len, uint64_t trans_id,
			   uint16_t flags,
			   const struct vmbs_desc_gpa_pages *ranges,
			   uint32_t range_cnt, uint32_t payload_len,
			   struct vmbs_desc_layout *layout)
{
	uint64_t hdr_len = VMBS_DESC_RANGES_OFF;
	const struct vmbs_desc_gpa_pages *r;
	uint32_t i, j, pages;
	uint8_t *pos;
	int rc;

	if (buf == NULL || layout == NULL || ranges == NULL || range_cnt == 0 ||
	    !desc_flags_ok(flags))
		return -EINVAL;
	for (i = 0; i < range_cnt; i++) {
		r = &ranges[i];
		if (r->byte_count == 0 || r->byte_offset >= VMBS_PAGE_SIZE ||
		    r->pfns == NULL)
			return -EINVAL;
		pages = vmbs_gparange_pages(r->byte_offset, r->byte_count);
		hdr_len += sizeof(struct vmbs_gpa_range) + (uint64_t)pages * sizeof(uint64_t);
		if (hdr_len > VMBS_DESC_MAX_PKT_LEN)
			return -E2BIG;
		for (j = 0; j < pages; j++)
			if (r->pfns[j] > VMBS_GPA_MAX_PFN)
				return -EINVAL;
	}
	rc = desc_layout(hdr_len, payload_len, buf_len, layout);
	if (rc < 0)
		return rc;

	desc_put_gpa_hdr(buf, trans_id, flags, range_cnt, layout);
	pos = (uint8_t *)buf + VMBS_DESC_RANGES_OFF;
	for (i = 0; i < range_cnt; i++) {
		r = &ranges[i];
		desc_put_range(&pos, r->byte_offset, r->byte_count);
		pages = vmbs_gparange_pages(r->byte_offset, r->byte_count);
		for (j = 0; j < pages; j++)
			desc_put_pfn(&pos, r->pfns[j]);
	}
	return 0;
}
