/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_guest.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004u
#endif

static void
fg_torndown(void *arg, uint32_t gpadl_id)
{
	struct fake_guest *g = arg;

	(void)gpadl_id;
	g->torndown++;
}

static int
fg_region(int *fd, uint8_t **mem, uint64_t size, bool huge, const char *name)
{
	*fd = memfd_create(name, MFD_CLOEXEC | (huge ? MFD_HUGETLB : 0));
	if (*fd < 0)
		return -errno;
	if (ftruncate(*fd, (off_t)size) != 0)
		return -errno;
	*mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (*mem == MAP_FAILED) {
		*mem = NULL;
		return -errno;
	}
	return 0;
}

int
fg_create(struct fake_guest *g, uint32_t g2h_pages, uint32_t h2g_pages,
	  uint64_t size_a, uint64_t size_b, bool huge)
{
	uint32_t npages = g2h_pages + h2g_pages, i;
	size_t rl_len = sizeof(struct vmbs_gpa_range) + 8u * npages;
	struct vmbs_gpa_range *r;
	uint8_t *rl;
	int rc;

	memset(g, 0, sizeof(*g));
	g->fd_a = g->fd_b = -1;
	g->size_a = size_a;
	g->size_b = size_b;
	g->g2h_pages = g2h_pages;
	g->h2g_pages = h2g_pages;
	if ((uint64_t)npages * VMBS_PAGE_SIZE >= size_a)
		return -EINVAL;
	rc = fg_region(&g->fd_a, &g->mem_a, size_a, huge, "fg_a");
	if (rc != 0)
		return rc;
	if (size_b != 0) {
		rc = fg_region(&g->fd_b, &g->mem_b, size_b, false, "fg_b");
		if (rc != 0)
			return rc;
	}
	g->gm = vmbs_gm_create();
	if (g->gm == NULL)
		return -ENOMEM;
	rc = vmbs_gm_add_region(g->gm, FG_GPA_A, size_a, g->fd_a, 0);
	if (rc != 0)
		return rc;
	if (size_b != 0) {
		rc = vmbs_gm_add_region(g->gm, FG_GPA_B, size_b, g->fd_b, 0);
		if (rc != 0)
			return rc;
	}
	/* Region A resident as a whole (hugetlbfs already is). */
	if (!huge) {
		rc = vmbs_gm_populate(g->gm, FG_GPA_A, size_a, true);
		if (rc != 0)
			return rc;
	}
	g->tbl = vmbs_gpadl_table_create(g->gm, fg_torndown, g);
	if (g->tbl == NULL)
		return -ENOMEM;

	/* The ring GPADL: one range over the ring pages, as a guest builds it. */
	rl = calloc(1, rl_len);
	if (rl == NULL)
		return -ENOMEM;
	r = (struct vmbs_gpa_range *)rl;
	r->byte_count = npages * VMBS_PAGE_SIZE;
	r->byte_offset = 0;
	for (i = 0; i < npages; i++) {
		uint64_t pfn = (FG_GPA_A >> VMBS_PAGE_SHIFT) + i;

		memcpy(rl + sizeof(*r) + 8u * i, &pfn, 8);
	}
	if (vmbs_gpadl_header(g->tbl, FG_RELID, FG_RING_GPADL, (uint16_t)rl_len, 1,
			      rl, rl_len) != VMBS_GPADL_REPLY_CREATED) {
		free(rl);
		return -EPROTO;
	}
	free(rl);

	/* Guest ends: zeroed control pages, like a Linux guest's vmbus_open(). */
	memset(g->mem_a, 0, (size_t)npages * VMBS_PAGE_SIZE);
	rc = vmbs_br_init(&g->g2h, g->mem_a, (size_t)g2h_pages * VMBS_PAGE_SIZE,
			  VMBS_BR_PRODUCER, 0);
	if (rc != 0)
		return rc;
	return vmbs_br_init(&g->h2g, g->mem_a + (size_t)g2h_pages * VMBS_PAGE_SIZE,
			    (size_t)h2g_pages * VMBS_PAGE_SIZE, VMBS_BR_CONSUMER, 0);
}

void
fg_destroy(struct fake_guest *g)
{
	vmbs_gpadl_table_destroy(g->tbl);
	vmbs_gm_destroy(g->gm);
	if (g->mem_a != NULL)
		munmap(g->mem_a, g->size_a);
	if (g->mem_b != NULL)
		munmap(g->mem_b, g->size_b);
	if (g->fd_a >= 0)
		close(g->fd_a);
	if (g->fd_b >= 0)
		close(g->fd_b);
	memset(g, 0, sizeof(*g));
	g->fd_a = g->fd_b = -1;
}

uint64_t
fg_data_gpa(const struct fake_guest *g, uint64_t off)
{
	return FG_GPA_A + (uint64_t)(g->g2h_pages + g->h2g_pages) * VMBS_PAGE_SIZE + off;
}

void *
fg_va(const struct fake_guest *g, uint64_t gpa)
{
	if (gpa >= FG_GPA_A && gpa < FG_GPA_A + g->size_a)
		return g->mem_a + (gpa - FG_GPA_A);
	if (g->mem_b != NULL && gpa >= FG_GPA_B && gpa < FG_GPA_B + g->size_b)
		return g->mem_b + (gpa - FG_GPA_B);
	return NULL;
}

static int
fg_put(struct fake_guest *g, const struct vmbs_pkt_desc *d, const void *hdr,
       uint32_t hdr_len, const void *payload, uint32_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)hdr, .iov_len = hdr_len },
		{ .iov_base = (void *)(uintptr_t)payload, .iov_len = len },
	};
	int rc = vmbs_br_tx_put(&g->g2h, d, iov, 2);

	if (rc == 0)
		vmbs_br_tx_commit(&g->g2h);
	return rc;
}

int
fg_send_inband(struct fake_guest *g, uint64_t trans_id, uint16_t flags,
	       const void *payload, uint32_t len)
{
	struct vmbs_desc_layout lay;
	struct vmbs_pkt_desc d;
	int rc = vmbs_desc_encode_inband(&d, sizeof(d), trans_id, flags, len, &lay);

	if (rc != 0)
		return rc;
	return fg_put(g, &d, NULL, 0, payload, len);
}

int
fg_send_comp(struct fake_guest *g, uint64_t trans_id, const void *payload,
	     uint32_t len)
{
	struct vmbs_desc_layout lay;
	struct vmbs_pkt_desc d;
	int rc = vmbs_desc_encode_comp(&d, sizeof(d), trans_id, len, &lay);

	if (rc != 0)
		return rc;
	return fg_put(g, &d, NULL, 0, payload, len);
}

int
fg_send_gpa(struct fake_guest *g, uint64_t trans_id, uint16_t flags,
	    const struct vmbs_desc_gpa_seg *segs, uint32_t nseg,
	    const void *payload, uint32_t len)
{
	static uint8_t hdr[65536];
	struct vmbs_desc_layout lay;
	struct vmbs_pkt_desc d;
	int rc = vmbs_desc_encode_gpa(hdr, sizeof(hdr), trans_id, flags, segs, nseg,
				      len, &lay);

	if (rc != 0)
		return rc;
	memcpy(&d, hdr, sizeof(d));
	return fg_put(g, &d, hdr + sizeof(d), lay.hdr_len - (uint32_t)sizeof(d),
		      payload, len);
}

int
fg_send_raw(struct fake_guest *g, const struct vmbs_pkt_desc *d, const void *rest,
	    uint32_t len)
{
	return fg_put(g, d, rest, len, NULL, 0);
}

int
fg_recv(struct fake_guest *g, struct vmbs_pkt_desc *d, void *buf, size_t buflen)
{
	static uint8_t pkt[1 << 16];
	int len, rc;
	uint32_t off;

	rc = vmbs_br_rx_begin(&g->h2g);
	if (rc != 0)
		return rc;
	len = vmbs_br_rx_next(&g->h2g, pkt, sizeof(pkt));
	if (len < 0)
		return len;
	vmbs_br_rx_commit(&g->h2g);
	memcpy(d, pkt, sizeof(*d));
	off = d->offset8 * 8u;
	if (off > (uint32_t)len)
		return -EPROTO;
	if ((size_t)(len - off) > buflen)
		return -ENOBUFS;
	memcpy(buf, pkt + off, (size_t)len - off);
	return len - (int)off;
}
