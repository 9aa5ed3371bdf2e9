/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The attach session, in the VMM's and the guest kernel's place: HELLO,
 * VMBus version, offers, memory for each NIC's rings and buffers, their
 * GPADLs and OPENCHANNEL, as uio_hv_generic does before a DPDK netvsc
 * guest starts. Later, the subchannels the server offers when the guest
 * asks for them (NVSP SUBCHANNEL) are opened the same way.
 *
 * The server's messages are validated by lib/client; the launcher also
 * checks every value it copies into the guest's sysfs tree.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmbs_guest.h"

/* Offers collected at REQUESTOFFERS: primaries of a few NICs. */
#define GL_MAX_OFFERS 256u

static const uint8_t net_class[16] = VMBS_GUID_NET_CLASS;

/* GUID in Windows byte order to the text Linux's sysfs shows (%pUl). */
static void
guid_str(const uint8_t g[16], char out[40])
{
	snprintf(out, 40,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6],
		 g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* Monitor ids the 22.11 PMD handles: it skips its latency write at 128+. */
static uint8_t
monitor_id_of(const struct vmbs_chmsg_offer *o)
{
	return o->monitor_id < 128 ? o->monitor_id : (uint8_t)(o->child_relid % 128);
}

static uint64_t
gpa_alloc(struct gl *g, uint64_t size)
{
	/* 2 MiB apart: regions stay aligned for any backing page size. */
	const uint64_t align = UINT64_C(2) << 20;
	uint64_t gpa = g->next_gpa;

	g->next_gpa += (size + align - 1) & ~(align - 1);
	return gpa;
}

int
gl_mem_add_fd(struct gl *g, uint64_t gpa, uint64_t size, int fd, uint64_t off)
{
	struct vmbs_att_mem_add ma;

	memset(&ma, 0, sizeof(ma));
	ma.gpa = gpa;
	ma.size = size;
	ma.offset = off;
	return vmbs_cli_request(g->cli, VMBS_ATT_MEM_ADD, &ma, sizeof(ma), fd,
				NULL, NULL);
}

/* GPADL over [gpa, gpa + 2 * half) and OPENCHANNEL with the h2g half second. */
static int
chan_open(struct gl *g, struct gl_chan *ch, uint64_t gpa, uint64_t half)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg_open open;
	struct vmbs_chmsg m;
	int n, rc;

	rc = vmbs_cli_gpadl_create(g->cli, ch->relid, gpa, 2 * half, &ch->ring_gpadl);
	if (rc != 0) {
		gl_log("relid %u: ring GPADL: %s", ch->relid, strerror(-rc));
		return rc;
	}
	memset(&open, 0, sizeof(open));
	open.child_relid = ch->relid;
	open.openid = ch->relid;
	open.ring_gpadl = ch->ring_gpadl;
	open.target_vp = 0;
	open.downstream_page_offset = (uint32_t)(half >> VMBS_PAGE_SHIFT);
	n = vmbs_chmsg_encode_open(buf, sizeof(buf), &open);
	if (n < 0)
		return n;
	rc = vmbs_cli_post(g->cli, buf, (uint32_t)n);
	if (rc != 0)
		return rc;
	/* Opens are done one at a time, so the first result is ours. */
	rc = vmbs_cli_wait_msg(g->cli, VMBS_CHMSG_OPENCHANNEL_RESULT, &m, 0);
	if (rc != 0) {
		gl_log("relid %u: no OPENCHANNEL_RESULT: %s", ch->relid, strerror(-rc));
		return rc;
	}
	if (m.u.open_result.child_relid != ch->relid || m.u.open_result.status != 0) {
		gl_log("relid %u: open refused (relid %u status %#x)", ch->relid,
		       m.u.open_result.child_relid, m.u.open_result.status);
		return -EIO;
	}
	ch->open = true;
	return 0;
}

/* A buffer for the server: a file region at map offset, one GPADL. */
static int
buffer_gpadl(struct gl *g, struct gl_nic *nic, uint32_t map, int fd, uint32_t *gpadl)
{
	uint64_t size = nic->map_size[map];
	uint64_t gpa = gpa_alloc(g, size);
	int rc;

	/* The PMD maps map i at file offset i pages: the region starts there. */
	rc = gl_mem_add_fd(g, gpa, size, fd, (uint64_t)map << VMBS_PAGE_SHIFT);
	if (rc != 0) {
		gl_log("MEM_ADD of map%u (%" PRIu64 " bytes): %s", map, size, strerror(-rc));
		return rc;
	}
	if (map == 0)
		return chan_open(g, &nic->chans[0], gpa, size / 2);
	rc = vmbs_cli_gpadl_create(g->cli, nic->chans[0].relid, gpa, size, gpadl);
	if (rc != 0)
		gl_log("map%u GPADL: %s", map, strerror(-rc));
	return rc;
}

static int
nic_setup(struct gl *g, const struct vmbs_chmsg_offer *o)
{
	struct gl_nic *nic = &g->nics[g->n_nics];
	struct gl_chan *ch = &nic->chans[0];
	int fds[GL_UIO_FILES];
	uint32_t k;
	int rc = 0;

	memset(nic, 0, sizeof(*nic));
	guid_str(o->if_instance, nic->uuid);
	nic->uio_idx = g->n_nics;
	ch->relid = o->child_relid;
	ch->monitor_id = monitor_id_of(o);
	nic->n_chans = 1;
	nic->map_size[0] = 2 * g->o.ring_half;
	nic->map_size[1] = VMBS_PAGE_SIZE;
	nic->map_size[2] = VMBS_PAGE_SIZE;
	nic->map_size[3] = g->o.recv_size;
	nic->map_size[4] = g->o.send_size;
	for (k = 0; k < GL_UIO_FILES; k++)
		fds[k] = -1;
	for (k = 0; k < GL_UIO_FILES && rc == 0; k++) {
		/* File 0 backs the interrupt fd; file k, map k - 1 at k - 1 pages. */
		uint64_t size = k == 0 ? VMBS_PAGE_SIZE :
			((uint64_t)(k - 1) << VMBS_PAGE_SHIFT) + nic->map_size[k - 1];

		if (k == 0)
			snprintf(nic->file[k], sizeof(nic->file[k]), "%s/uio%u-intr",
				 g->run, nic->uio_idx);
		else
			snprintf(nic->file[k], sizeof(nic->file[k]), "%s/uio%u-map%u",
				 g->run, nic->uio_idx, k - 1);
		rc = gl_file_create(nic->file[k], size, &fds[k]);
	}
	if (rc != 0)
		goto out;
	rc = buffer_gpadl(g, nic, 0, fds[1], NULL);
	if (rc == 0)
		rc = buffer_gpadl(g, nic, 3, fds[4], &nic->recv_gpadl);
	if (rc == 0)
		rc = buffer_gpadl(g, nic, 4, fds[5], &nic->send_gpadl);
	if (rc == 0)
		rc = gl_nic_tree(g, nic);
	if (rc == 0) {
		g->n_nics++;
		gl_log("NIC %s: relid %u, uio%u, ring 2x%" PRIu64 ", recv:%#x %" PRIu64
		       ", send:%#x %" PRIu64, nic->uuid, ch->relid, nic->uio_idx,
		       g->o.ring_half, nic->recv_gpadl, nic->map_size[3],
		       nic->send_gpadl, nic->map_size[4]);
	}
out:
	for (k = 0; k < GL_UIO_FILES; k++) {
		if (rc == 0)
			nic->fd[k] = fds[k];
		else if (fds[k] >= 0)
			close(fds[k]);
	}
	return rc;
}

int
gl_session_open(struct gl *g)
{
	static struct vmbs_chmsg_offer offers[GL_MAX_OFFERS];
	struct vmbs_cli_params p;
	uint32_t version, n, i;
	int rc;

	memset(&p, 0, sizeof(p));
	p.socket_path = g->o.socket;
	p.vm_name = g->o.vm;
	p.timeout_ms = g->o.timeout_ms;
	rc = vmbs_cli_connect(&p, &g->cli);
	if (rc != 0) {
		gl_log("attach %s as %s: %s", g->o.socket, g->o.vm, strerror(-rc));
		return rc;
	}
	rc = vmbs_cli_negotiate(g->cli, &version);
	if (rc != 0) {
		gl_log("VMBus version: %s", strerror(-rc));
		return rc;
	}
	rc = vmbs_cli_request_offers(g->cli, offers, GL_MAX_OFFERS, &n);
	if (rc != 0) {
		gl_log("REQUESTOFFERS: %s", strerror(-rc));
		return rc;
	}
	g->next_gpa = GL_GPA_BASE;
	for (i = 0; i < n && i < GL_MAX_OFFERS; i++) {
		const struct vmbs_chmsg_offer *o = &offers[i];

		if (memcmp(o->if_type, net_class, sizeof(net_class)) != 0 ||
		    o->sub_channel_index != 0)
			continue;
		if (g->n_nics == GL_MAX_NICS) {
			gl_log("more than %u NICs offered; the rest are ignored", GL_MAX_NICS);
			break;
		}
		rc = nic_setup(g, o);
		if (rc != 0)
			return rc;
	}
	if (g->n_nics == 0) {
		gl_log("VM %s has no synthetic NIC on %s", g->o.vm, g->o.socket);
		return -ENODEV;
	}
	return 0;
}

/* A subchannel the server offered after the guest's NVSP SUBCHANNEL. */
static void
subchan_open(struct gl *g, const struct vmbs_chmsg_offer *o)
{
	char tmp[600];
	struct gl_nic *nic = NULL;
	struct gl_chan *ch;
	uint64_t size = 2 * g->o.ring_half, gpa;
	char uuid[40];
	uint32_t i;
	int fd, rc;

	guid_str(o->if_instance, uuid);
	for (i = 0; i < g->n_nics; i++)
		if (strcmp(g->nics[i].uuid, uuid) == 0)
			nic = &g->nics[i];
	if (nic == NULL || nic->n_chans == GL_MAX_CHANS) {
		gl_log("subchannel offer relid %u: no NIC %s (or too many channels)",
		       o->child_relid, uuid);
		return;
	}
	for (i = 0; i < nic->n_chans; i++) {
		if (nic->chans[i].relid == o->child_relid) {
			gl_dbg(g, "relid %u offered again; already open", o->child_relid);
			return;
		}
	}
	ch = &nic->chans[nic->n_chans];
	memset(ch, 0, sizeof(*ch));
	ch->relid = o->child_relid;
	ch->subchan = o->sub_channel_index;
	ch->monitor_id = monitor_id_of(o);
	/* The ring goes in place under a name the PMD skips, renamed last. */
	snprintf(tmp, sizeof(tmp), "%s/channels/%u", nic->dir, ch->relid);
	if (gl_mkdirs(tmp) != 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s/channels/%u/.ring", nic->dir, ch->relid);
	rc = gl_file_create(tmp, size, &fd);
	if (rc != 0)
		return;
	gpa = gpa_alloc(g, size);
	rc = gl_mem_add_fd(g, gpa, size, fd, 0);
	close(fd);
	if (rc != 0) {
		gl_log("relid %u: MEM_ADD of its ring: %s", ch->relid, strerror(-rc));
		return;
	}
	rc = chan_open(g, ch, gpa, g->o.ring_half);
	if (rc != 0)
		return;
	nic->n_chans++;
	if (gl_subchan_tree(g, nic, ch, tmp) == 0)
		gl_log("NIC %s: subchannel %u open (relid %u)", nic->uuid, ch->subchan,
		       ch->relid);
}

int
gl_session_on_input(struct gl *g)
{
	struct vmbs_chmsg m;
	int32_t err;
	int rc;

	rc = vmbs_cli_pump(g->cli, 0, &err);
	if (rc == -ECONNRESET || vmbs_cli_disconnected(g->cli)) {
		gl_log("the server ended the session");
		return -ECONNRESET;
	}
	if (err != 0)
		gl_log("the server refused a frame: %s", strerror(-err));
	/* Everything queued; 1 ms, as 0 would mean the default timeout. */
	while ((rc = vmbs_cli_wait_msg(g->cli, 0, &m, 1)) == 0) {
		switch (m.type) {
		case VMBS_CHMSG_OFFERCHANNEL:
			if (memcmp(m.u.offer.if_type, net_class, sizeof(net_class)) == 0 &&
			    m.u.offer.sub_channel_index != 0)
				subchan_open(g, &m.u.offer);
			else
				gl_dbg(g, "offer relid %u ignored (not a NIC subchannel)",
				       m.u.offer.child_relid);
			break;
		case VMBS_CHMSG_RESCIND_CHANNELOFFER:
			gl_log("the server rescinded relid %u", m.u.relid.child_relid);
			break;
		default:
			gl_dbg(g, "channel message %u ignored", (unsigned int)m.type);
			break;
		}
	}
	if (rc == -ECONNRESET) {
		gl_log("the server ended the session");
		return rc;
	}
	return 0;
}

void
gl_session_close(struct gl *g, bool orderly)
{
	uint32_t i, k;
	int rc;

	for (i = 0; i < g->n_nics; i++) {
		for (k = 0; k < GL_UIO_FILES; k++) {
			if (g->nics[i].fd[k] >= 0)
				close(g->nics[i].fd[k]);
			g->nics[i].fd[k] = -1;
		}
	}
	if (g->cli == NULL)
		return;
	if (orderly && !vmbs_cli_disconnected(g->cli)) {
		/* GOODBYE: the server releases the VM before it answers. */
		rc = vmbs_cli_goodbye(g->cli);
		if (rc != 0)
			gl_log("GOODBYE: %s", strerror(-rc));
	} else {
		vmbs_cli_destroy(g->cli);
	}
	g->cli = NULL;
}
