/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The guest program's own memory as guest memory. With --iova-mode=va a
 * DPDK netvsc guest puts VAs into its GPA fields (RNDIS requests, packet
 * data), so its hugepage memory is added to the server at GPA = VA.
 *
 * The runs come from /proc/PID/maps: shared mappings of hugetlbfs files.
 * The descriptor for MEM_ADD comes from /proc/PID/map_files, which works
 * whatever mount namespace the file lives in. DPDK maps one hugepage per
 * mapping; consecutive mappings of one file at consecutive offsets (what
 * --single-file-segments gives) merge into one region. Runs already added
 * are skipped, so a rescan adds only what the guest mapped since.
 *
 * Mappings the guest drops stay added: MEM_DEL is refused while channels
 * are open, and with --single-file-segments a VA always maps the same
 * file offset, so a page mapped again later is the same region.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "vmbs_guest.h"

/* Files seen in the maps that are not hugetlbfs (config, fbarrays). */
#define GL_MAX_SKIP 64u

struct map_run {
	uint64_t start, end;	/* VA range */
	uint64_t off;		/* file offset of start */
	uint64_t dev, ino;	/* the file */
	uint64_t vma_end;	/* end of the first mapping (map_files name) */
};

static struct {
	uint64_t dev, ino;
} skip[GL_MAX_SKIP];
static uint32_t n_skip;

static bool
skipped(uint64_t dev, uint64_t ino)
{
	uint32_t i;

	for (i = 0; i < n_skip; i++)
		if (skip[i].dev == dev && skip[i].ino == ino)
			return true;
	return false;
}

/* End of the added region covering @p va, or 0 if none does. */
static uint64_t
covered_to(const struct gl *g, uint64_t va)
{
	uint32_t i;

	for (i = 0; i < g->n_mem; i++)
		if (va >= g->mem[i].gpa && va - g->mem[i].gpa < g->mem[i].size)
			return g->mem[i].gpa + g->mem[i].size;
	return 0;
}

/* First added region starting in (va, end), or end. */
static uint64_t
next_covered(const struct gl *g, uint64_t va, uint64_t end)
{
	uint64_t n = end;
	uint32_t i;

	for (i = 0; i < g->n_mem; i++)
		if (g->mem[i].gpa > va && g->mem[i].gpa < n)
			n = g->mem[i].gpa;
	return n;
}

/* Add the parts of @p r (a mapping of @p fd) not added yet. */
static void
run_add_fd(struct gl *g, const struct map_run *r, int fd)
{
	uint64_t va = r->start, to;
	int rc;

	while (va < r->end) {
		to = covered_to(g, va);
		if (to != 0) {
			va = to;
			continue;
		}
		to = next_covered(g, va, r->end);
		if (g->n_mem == GL_MAX_MEM) {
			rc = -ENOSPC;
		} else {
			rc = gl_mem_add_fd(g, va, to - va, fd, r->off + (va - r->start));
		}
		if (rc == 0) {
			g->mem[g->n_mem].gpa = va;
			g->mem[g->n_mem].size = to - va;
			g->n_mem++;
			g->mem_bytes += to - va;
			gl_dbg(g, "guest memory %#" PRIx64 "..%#" PRIx64 " added (%" PRIu64
			       " MiB in all)", va, to, g->mem_bytes >> 20);
		} else if (!g->mem_warned) {
			gl_log("guest memory %#" PRIx64 "..%#" PRIx64 " not added: %s; "
			       "packets naming it will fail", va, to, strerror(-rc));
			g->mem_warned = true;
		}
		va = to;
	}
}

/* A guest hugepage run: its file comes from map_files. */
static void
run_add(struct gl *g, const struct map_run *r)
{
	char path[96];
	struct statfs sfs;
	int fd;

	if (skipped(r->dev, r->ino))
		return;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 (int)g->mem_pid, r->start, r->vma_end);
	/* The guest may just have unmapped it: then there is nothing to add. */
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstatfs(fd, &sfs) != 0 || sfs.f_type != HUGETLBFS_MAGIC) {
		if (n_skip < GL_MAX_SKIP) {
			skip[n_skip].dev = r->dev;
			skip[n_skip].ino = r->ino;
			n_skip++;
		}
		close(fd);
		return;
	}
	run_add_fd(g, r, fd);
	close(fd);
}

/*
 * A guest mapping of one of our uio files. The PMD's zero-copy Rx mbufs
 * point into the receive buffer with IOVA = its VA in the guest, and a
 * guest that forwards such an mbuf (testpmd io) puts that VA into a GPA
 * packet: so the guest's view of the buffers is guest memory too, a
 * second region over the same file pages.
 */
static void
own_run_add(struct gl *g, const struct map_run *r)
{
	/* File 4 backs map3, the receive buffer; nothing else is named. */
	const uint32_t k = 4;
	uint32_t i;

	for (i = 0; i < g->n_nics; i++)
		if (g->nics[i].ino[k] == r->ino && g->nics[i].fd[k] >= 0)
			run_add_fd(g, r, g->nics[i].fd[k]);
}

static void
run_add_any(struct gl *g, const struct map_run *r)
{
	/*
	 * Our own files: never through map_files, as opening a uio file
	 * raises a permission event that this very thread must answer.
	 */
	if (r->dev == (((uint64_t)major(g->run_dev) << 32) | minor(g->run_dev)))
		own_run_add(g, r);
	else
		run_add(g, r);
}

int
gl_hugemem_scan(struct gl *g)
{
	char path[64], line[512], perms[8];
	struct map_run cur, r;
	bool have = false;
	unsigned int maj, min;
	uint32_t n_before = g->n_mem;
	unsigned long long s, e, off, ino;
	FILE *f;

	if (g->mem_pid == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)g->mem_pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	memset(&cur, 0, sizeof(cur));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &s, &e, perms, &off,
			   &maj, &min, &ino) != 7)
			continue;
		/* DPDK maps its hugepages shared; nothing private is guest memory. */
		if (ino == 0 || perms[3] != 's' || e <= s)
			continue;
		r.start = s;
		r.end = e;
		r.off = off;
		r.dev = ((uint64_t)maj << 32) | min;
		r.ino = ino;
		r.vma_end = e;
		if (have && r.dev == cur.dev && r.ino == cur.ino && r.start == cur.end &&
		    r.off == cur.off + (cur.end - cur.start)) {
			cur.end = r.end;
			continue;
		}
		if (have)
			run_add_any(g, &cur);
		cur = r;
		have = true;
	}
	if (have)
		run_add_any(g, &cur);
	fclose(f);
	if (g->n_mem != n_before)
		gl_log("guest memory: %u region(s), %" PRIu64 " MiB added to the server",
		       g->n_mem, g->mem_bytes >> 20);
	return 0;
}
