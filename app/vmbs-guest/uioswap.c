/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The open swapper: gives each of the PMD's opens of /dev/uioN its own
 * backing file, so that every uio map can have its real size.
 *
 * The 22.11 primary opens /dev/uioN six times in a fixed order: once for
 * the interrupt fd it never uses, then once per map, each time mmapping
 * map i at file offset i pages (a uio offset is a map index, a regular
 * file's a byte offset: one file would make the maps overlap). /dev/uioN
 * in the guest's namespace is a symlink to run/uioN, itself a symlink we
 * repoint. Every backing file is marked for FAN_OPEN_PERM: the opener
 * blocks until we answer, and by then its path walk has already landed
 * on file k, so repointing the link to file k + 1 before allowing the
 * open cannot race with the next open.
 *
 * The first open is also the moment the guest's EAL has mapped its
 * initial hugepage memory and is about to send the first packets that
 * name it: the launcher adds that memory to the server before it lets the
 * open proceed.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmbs_guest.h"

int
gl_swap_init(struct gl *g)
{
	struct stat st;
	uint32_t i, k;

	g->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
				  O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	if (g->fan_fd < 0) {
		gl_log("fanotify_init: %s (needs CAP_SYS_ADMIN and "
		       "CONFIG_FANOTIFY_ACCESS_PERMISSIONS)", strerror(errno));
		return -errno;
	}
	for (i = 0; i < g->n_nics; i++) {
		struct gl_nic *nic = &g->nics[i];

		for (k = 0; k < GL_UIO_FILES; k++) {
			if (stat(nic->file[k], &st) != 0 ||
			    fanotify_mark(g->fan_fd, FAN_MARK_ADD, FAN_OPEN_PERM,
					  AT_FDCWD, nic->file[k]) != 0) {
				gl_log("mark %s: %s", nic->file[k], strerror(errno));
				return -errno;
			}
			nic->ino[k] = st.st_ino;
		}
	}
	return 0;
}

static void
on_open(struct gl *g, pid_t pid, ino_t ino)
{
	uint32_t i, k;
	bool all = true;

	for (i = 0; i < g->n_nics; i++) {
		struct gl_nic *nic = &g->nics[i];

		for (k = 0; k < GL_UIO_FILES; k++)
			if (nic->ino[k] == ino)
				break;
		if (k == GL_UIO_FILES)
			continue;
		gl_dbg(g, "pid %d opened uio%u file %u", (int)pid, nic->uio_idx, k);
		if (k != nic->next_open)
			gl_log("uio%u: open %u came while %u was expected: the maps "
			       "may be wrong (a secondary process, or another DPDK?)",
			       nic->uio_idx, k, nic->next_open);
		if (k == 0) {
			/* Memory first: the first RNDIS request follows probe. */
			if (g->mem_pid == 0)
				g->mem_pid = pid;
			gl_hugemem_scan(g);
		}
		/* After map4 the cycle restarts, for a re-probe. */
		nic->next_open = (k + 1) % GL_UIO_FILES;
		gl_uio_link(g, nic, nic->next_open);
		if (k == GL_UIO_FILES - 1)
			gl_log("uio%u: the guest mapped all five maps", nic->uio_idx);
		break;
	}
	for (i = 0; i < g->n_nics; i++)
		if (g->nics[i].next_open != 0 || g->mem_pid == 0)
			all = false;
	if (all)
		g->probed = true;
}

int
gl_swap_on_event(struct gl *g)
{
	/* fanotify needs an aligned buffer for its metadata records. */
	char buf[4096] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	const struct fanotify_event_metadata *md;
	struct fanotify_response resp;
	struct stat st;
	ssize_t len;

	for (;;) {
		len = read(g->fan_fd, buf, sizeof(buf));
		if (len < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		md = (const struct fanotify_event_metadata *)buf;
		for (; FAN_EVENT_OK(md, len); md = FAN_EVENT_NEXT(md, len)) {
			if (md->vers != FANOTIFY_METADATA_VERSION) {
				gl_log("fanotify metadata version %u unknown", md->vers);
				return -EPROTO;
			}
			if (md->fd < 0)
				continue;
			if ((md->mask & FAN_OPEN_PERM) && md->pid != getpid() &&
			    fstat(md->fd, &st) == 0)
				on_open(g, md->pid, st.st_ino);
			/* Always allow: a refused open only makes the PMD fail. */
			resp.fd = md->fd;
			resp.response = FAN_ALLOW;
			if (md->mask & (FAN_OPEN_PERM | FAN_ACCESS_PERM) &&
			    write(g->fan_fd, &resp, sizeof(resp)) != sizeof(resp))
				gl_log("fanotify answer: %s", strerror(errno));
			close(md->fd);
		}
	}
}
