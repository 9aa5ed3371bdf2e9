/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The files a DPDK 22.11 netvsc guest reads where a Hyper-V guest kernel
 * with uio_hv_generic would provide them (facts: netvsc-guest.md 1.1-1.5):
 * /sys/bus/vmbus/devices/<uuid>/{class_id,device_id,id,monitor_id,
 * numa_node}, uio/uioN/maps/map0..4/{name,size}, channels/<relid>/
 * {subchannel_id,monitor_id,ring}; and the backing files of /dev/uioN.
 *
 * Everything lives in the launcher's run directory on tmpfs (/dev/shm), so
 * every file is a regular shared-memory file that MEM_ADD accepts; the
 * guest's namespace binds the sysbus part onto /sys/bus.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmbs_guest.h"

/* uio map names, in the order the PMD requires them (vmbus_uio.c). */
static const char *const map_names[GL_UIO_MAPS] = {
	"txrx_rings", "int_page", "monitor_page", "recv", "send",
};

/* DPDK's netvsc class, as the PMD compares it (with braces stripped). */
#define GL_NET_CLASS_STR "{f8615163-df3e-46c5-913f-f2d2f965ed0e}"

int
gl_mkdirs(const char *path)
{
	char buf[600];
	size_t i, len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			gl_log("mkdir %s: %s", buf, strerror(errno));
			return -errno;
		}
		buf[i] = path[i];
	}
	return 0;
}

int
gl_run_dir_create(struct gl *g)
{
	char path[600];
	struct stat st;

	/* tmpfs: ring and buffer files are plain shared memory. */
	snprintf(g->run, sizeof(g->run), "/dev/shm/vmbs-guest.XXXXXX");
	if (mkdtemp(g->run) == NULL) {
		gl_log("mkdtemp %s: %s", g->run, strerror(errno));
		g->run[0] = '\0';
		return -errno;
	}
	if (stat(g->run, &st) != 0)
		return -errno;
	g->run_dev = st.st_dev;
	snprintf(path, sizeof(path), "%s/sysbus/vmbus/devices", g->run);
	return gl_mkdirs(path);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
gl_run_dir_remove(struct gl *g)
{
	if (g->run[0] == '\0')
		return;
	nftw(g->run, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	g->run[0] = '\0';
}

int
gl_file_create(const char *path, uint64_t size, int *fd)
{
	int f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (f < 0) {
		gl_log("create %s: %s", path, strerror(errno));
		return -errno;
	}
	/* Sparse and zero: fresh ring indices, as a new channel has. */
	if (ftruncate(f, (off_t)size) != 0) {
		int err = errno;

		gl_log("size %s to %" PRIu64 ": %s", path, size, strerror(err));
		close(f);
		return -err;
	}
	if (fd != NULL)
		*fd = f;
	else
		close(f);
	return 0;
}

int
gl_write_str(const char *path, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(path, "we");
	int rc;

	if (f == NULL) {
		gl_log("write %s: %s", path, strerror(errno));
		return -errno;
	}
	va_start(ap, fmt);
	rc = vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0 || rc < 0) {
		gl_log("write %s: failed", path);
		return -EIO;
	}
	return 0;
}

/* Write attribute @p name under @p dir. */
static int
attr(const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
attr(const char *dir, const char *name, const char *fmt, ...)
{
	char path[700];
	char val[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return gl_write_str(path, "%s", val);
}

int
gl_uio_link(const struct gl *g, const struct gl_nic *nic, uint32_t k)
{
	char link[600], tmp[620];
	const char *target = strrchr(nic->file[k], '/') + 1;

	/* Relative target: the link resolves in the guest's namespace too. */
	snprintf(link, sizeof(link), "%s/uio%u", g->run, nic->uio_idx);
	snprintf(tmp, sizeof(tmp), "%s/.uio%u.new", g->run, nic->uio_idx);
	unlink(tmp);
	if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
		gl_log("repoint %s: %s", link, strerror(errno));
		return -errno;
	}
	return 0;
}

int
gl_nic_tree(struct gl *g, struct gl_nic *nic)
{
	const struct gl_chan *ch = &nic->chans[0];
	char d[600], path[700];
	uint32_t i;
	int rc;

	snprintf(nic->dir, sizeof(nic->dir), "%s/sysbus/vmbus/devices/%s", g->run,
		 nic->uuid);
	snprintf(d, sizeof(d), "%s/uio/uio%u/maps", nic->dir, nic->uio_idx);
	rc = gl_mkdirs(d);
	if (rc != 0)
		return rc;
	/* The ulong attributes must end with '\n' (eal_parse_sysfs_value). */
	rc = attr(nic->dir, "class_id", "%s\n", GL_NET_CLASS_STR);
	rc = rc ?: attr(nic->dir, "device_id", "{%s}\n", nic->uuid);
	rc = rc ?: attr(nic->dir, "id", "%u\n", ch->relid);
	rc = rc ?: attr(nic->dir, "monitor_id", "%u\n", ch->monitor_id);
	rc = rc ?: attr(nic->dir, "numa_node", "0\n");
	snprintf(d, sizeof(d), "%s/uio/uio%u", nic->dir, nic->uio_idx);
	rc = rc ?: attr(d, "name", "uio_hv_generic\n");
	rc = rc ?: attr(d, "version", "0.02.1\n");
	for (i = 0; i < GL_UIO_MAPS && rc == 0; i++) {
		snprintf(d, sizeof(d), "%s/uio/uio%u/maps/map%u", nic->dir,
			 nic->uio_idx, i);
		rc = gl_mkdirs(d);
		/* The PMD parses the buffers' GPADL handles out of their names. */
		if (i == 3)
			rc = rc ?: attr(d, "name", "%s:%u\n", map_names[i], nic->recv_gpadl);
		else if (i == 4)
			rc = rc ?: attr(d, "name", "%s:%u\n", map_names[i], nic->send_gpadl);
		else
			rc = rc ?: attr(d, "name", "%s\n", map_names[i]);
		rc = rc ?: attr(d, "size", "0x%016" PRIx64 "\n", nic->map_size[i]);
		rc = rc ?: attr(d, "addr", "0x%016" PRIx64 "\n", (uint64_t)0);
		rc = rc ?: attr(d, "offset", "0x0\n");
	}
	if (rc != 0)
		return rc;
	/*
	 * The primary's channels entry only has to exist: its readable,
	 * writable ring tells the PMD that subchannels are possible (with NVSP
	 * 5+). The PMD never maps it, so one page does.
	 */
	snprintf(d, sizeof(d), "%s/channels/%u", nic->dir, ch->relid);
	rc = gl_mkdirs(d);
	rc = rc ?: attr(d, "subchannel_id", "0\n");
	rc = rc ?: attr(d, "monitor_id", "%u\n", ch->monitor_id);
	snprintf(path, sizeof(path), "%s/ring", d);
	rc = rc ?: gl_file_create(path, VMBS_PAGE_SIZE, NULL);
	nic->next_open = 0;
	return rc ?: gl_uio_link(g, nic, 0);
}

int
gl_subchan_tree(struct gl *g, struct gl_nic *nic, const struct gl_chan *ch,
		const char *ring_tmp)
{
	char d[600], path[700];
	int rc;

	(void)g;
	snprintf(d, sizeof(d), "%s/channels/%u", nic->dir, ch->relid);
	rc = attr(d, "subchannel_id", "%u\n", ch->subchan);
	rc = rc ?: attr(d, "monitor_id", "%u\n", ch->monitor_id);
	if (rc != 0)
		return rc;
	/* Last: the PMD takes a subchannel whose ring exists as complete. */
	snprintf(path, sizeof(path), "%s/ring", d);
	if (rename(ring_tmp, path) != 0) {
		gl_log("rename %s: %s", ring_tmp, strerror(errno));
		return -errno;
	}
	return 0;
}
