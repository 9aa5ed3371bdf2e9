/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * A scripted guest for channel tests: guest memory on memfd (or hugetlb
 * memfd), registered with a lib/guestmem table; a ring GPADL built by hand
 * and handed to lib/gpadl as GPADL_HEADER would; the guest's ends of both
 * ring halves (producer on g2h, consumer on h2g) through lib/bufring, and
 * packets encoded with lib/desc.
 *
 * Region A (ring pages, then data pages) is populated as a whole, so it is
 * resident; region B is never touched, so external data there pends.
 *
 * Single-threaded: one test thread plays the guest.
 */

#ifndef VMBS_FAKE_GUEST_H
#define VMBS_FAKE_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbs_bufring.h"
#include "vmbs_desc.h"
#include "vmbs_gpadl.h"
#include "vmbs_guestmem.h"

/** GPA of region A. Hugepage-aligned so either backing works. */
#define FG_GPA_A 0x200000ull
/** GPA of region B (untouched). */
#define FG_GPA_B 0x40000000ull
/** relid of the fake channel. */
#define FG_RELID 5u
/** GPADL id of the ring. */
#define FG_RING_GPADL 0x1000u

struct fake_guest {
	int fd_a, fd_b;
	uint8_t *mem_a, *mem_b;		/**< guest's own views */
	uint64_t size_a, size_b;
	uint32_t g2h_pages, h2g_pages;	/**< ring halves incl. control page */
	struct vmbs_gm *gm;
	struct vmbs_gpadl_table *tbl;
	struct vmbs_br g2h;		/**< guest produces */
	struct vmbs_br h2g;		/**< guest consumes */
	uint32_t torndown;		/**< torndown callbacks seen */
};

/**
 * Build guest memory, the GPADL table and the ring GPADL, and attach the
 * guest's ring ends.
 *
 * @param g
 *   guest to initialise.
 * @param g2h_pages
 *   pages of the g2h half (control page included), >= 2.
 * @param h2g_pages
 *   pages of the h2g half, >= 2.
 * @param size_a
 *   bytes of region A (ring + data), multiple of 2 MiB if @p huge.
 * @param size_b
 *   bytes of untouched region B (0: none).
 * @param huge
 *   back region A with MFD_HUGETLB (2 MiB pages).
 * @return
 *   0, or -errno (-ENOMEM for missing hugepages, ...).
 */
int fg_create(struct fake_guest *g, uint32_t g2h_pages, uint32_t h2g_pages,
	      uint64_t size_a, uint64_t size_b, bool huge);

/** Tear everything down (host must have closed the channel). */
void fg_destroy(struct fake_guest *g);

/** GPA of byte @p off of region A's data area (after the ring pages). */
uint64_t fg_data_gpa(const struct fake_guest *g, uint64_t off);

/** Guest VA of a GPA in region A or B. */
void *fg_va(const struct fake_guest *g, uint64_t gpa);

/**
 * Put and commit an inband packet.
 * @return 0 or a vmbs_br_tx_put() error (-EAGAIN when full).
 */
int fg_send_inband(struct fake_guest *g, uint64_t trans_id, uint16_t flags,
		   const void *payload, uint32_t len);

/**
 * Put and commit a GPA-direct packet with one range per segment.
 * @return 0 or an encoder / ring error.
 */
int fg_send_gpa(struct fake_guest *g, uint64_t trans_id, uint16_t flags,
		const struct vmbs_desc_gpa_seg *segs, uint32_t nseg,
		const void *payload, uint32_t len);

/**
 * Put and commit a completion packet for a host transaction.
 * @return 0 or a ring error.
 */
int fg_send_comp(struct fake_guest *g, uint64_t trans_id, const void *payload,
		 uint32_t len);

/**
 * Put and commit raw bytes after a caller-made descriptor (malformed
 * packets: any type, flags, offset8).
 * @return 0 or a ring error.
 */
int fg_send_raw(struct fake_guest *g, const struct vmbs_pkt_desc *d,
		const void *rest, uint32_t len);

/**
 * Take one h2g packet (descriptor copy in @p d, payload after offset8 into
 * @p buf) and commit the read.
 * @return payload bytes (len8*8 - offset8*8), -EAGAIN if none, or <0.
 */
int fg_recv(struct fake_guest *g, struct vmbs_pkt_desc *d, void *buf,
	    size_t buflen);

#endif /* VMBS_FAKE_GUEST_H */
