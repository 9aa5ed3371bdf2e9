/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/vm driven directly, no socket: the test plays the guest's VMBus
 * driver. It feeds channel messages to vmbs_vm_handle_msg(), and the send
 * callback captures every message the VM sends (decoded with
 * vmbs_chmsg_decode() in the asserts). Guest memory is a memfd the test
 * maps too (the guest's view of it); GPADLs go in as GPADL_HEADER/BODY
 * messages from the vmbs_chmsg_gpadl_gen_* splitter; the guest's ends of
 * a channel's ring halves are attached with lib/bufring. The test thread
 * is the control thread and every channel's poll lcore at once.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_errno.h>

#include "vmbs_bufring.h"
#include "vmbs_chanmsg.h"
#include "vmbs_desc.h"
#include "vmbs_test.h"
#include "vmbs_vm.h"

#define VM_NAME "vm-test"

/* Guest memory: one memfd region. */
#define T_GPA 0x100000ull
#define T_MEM_SIZE (4ull << 20)
/* Ring GPADLs: slot k starts T_RING_SLOT pages after T_GPA * k. */
#define T_RING_SLOT 16u
#define T_G2H_PAGES 4u
#define T_H2G_PAGES 4u
#define T_RING_PAGES (T_G2H_PAGES + T_H2G_PAGES)
/* Data GPADLs live past the ring slots. */
#define T_DATA_GPA (T_GPA + (1ull << 20))

/* Relid nobody was offered. */
#define T_BAD_RELID 77u

/* ---- messages the VM sends ---- */

#define CAP_MAX 256

static struct {
	uint32_t n;
	uint32_t len[CAP_MAX];
	uint8_t msg[CAP_MAX][VMBS_CHMSG_MAX_SIZE];
	bool fail;		/* make the callback fail */
	uint32_t bad_calls;	/* wrong arg, oversize, overflow */
} cap;

static int
send_cb(void *arg, const void *msg, uint32_t len)
{
	if (arg != &cap || len > VMBS_CHMSG_MAX_SIZE || cap.n >= CAP_MAX) {
		cap.bad_calls++;
		return -ENOBUFS;
	}
	if (cap.fail)
		return -EIO;
	memcpy(cap.msg[cap.n], msg, len);
	cap.len[cap.n] = len;
	cap.n++;
	return 0;
}

static void
cap_reset(void)
{
	cap.n = 0;
}

/* Decode captured message @p i (must exist and be valid). */
static void
cap_msg(uint32_t i, struct vmbs_chmsg *m)
{
	VMBS_CHECK(i < cap.n);
	VMBS_CHECK(vmbs_chmsg_decode(cap.msg[i], cap.len[i], m) == 0);
}

/* Messages of @p type captured from index @p from on. */
static uint32_t
cap_count(uint32_t type, uint32_t from)
{
	struct vmbs_chmsg m;
	uint32_t i, n = 0;

	for (i = from; i < cap.n; i++)
		if (vmbs_chmsg_decode(cap.msg[i], cap.len[i], &m) == 0 && m.type == type)
			n++;
	return n;
}

/* ---- what the device sees ---- */

#define REC_MAX 64

static struct {
	uint32_t n;
	struct vmbs_rx *rx[REC_MAX];
	struct vmbs_chan *chan[REC_MAX];
	bool done[REC_MAX];
	uint64_t tid[REC_MAX];
	uint32_t len[REC_MAX];
	uint32_t flags[REC_MAX];
	uint8_t data[REC_MAX][16];
	bool complete_inline;
} rec;

static void
rx_cb(struct vmbs_chan *chan, struct vmbs_rx *rx, const void *payload,
      uint32_t len, uint32_t flags)
{
	uint32_t i = rec.n;

	if (i >= REC_MAX) {
		vmbs_rx_complete(rx, NULL, 0);
		return;
	}
	rec.rx[i] = rx;
	rec.chan[i] = chan;
	rec.tid[i] = vmbs_rx_trans_id(rx);
	rec.len[i] = len;
	rec.flags[i] = flags;
	memcpy(rec.data[i], payload, RTE_MIN(len, sizeof(rec.data[i])));
	rec.n++;
	if (rec.complete_inline) {
		rec.done[i] = true;
		vmbs_rx_complete(rx, "ack", 3);
	}
}

static void
rx_done(uint32_t i, const void *resp, uint32_t len)
{
	VMBS_CHECK(i < rec.n && !rec.done[i]);
	rec.done[i] = true;
	vmbs_rx_complete(rec.rx[i], resp, len);
}

struct tdev {
	struct vmbs_dev_desc d;
	struct vmbs_chan *chan[VMBS_VM_DEV_MAX_CHANNELS];
	uint32_t relid[VMBS_VM_DEV_MAX_CHANNELS];
	uint32_t attached[VMBS_VM_DEV_MAX_CHANNELS];
	uint32_t detached[VMBS_VM_DEV_MAX_CHANNELS];
	uint32_t detach_bad;	/* detach of a channel it was not given */
	int fail_idx;		/* chan_attach fails for this idx (-1: none) */
	int fail_rc;
};

static int
dev_attach(void *priv, struct vmbs_chan *chan, uint16_t idx)
{
	struct tdev *t = priv;

	if (idx == t->fail_idx)
		return t->fail_rc;
	t->chan[idx] = chan;
	t->relid[idx] = vmbs_chan_relid(chan);
	t->attached[idx]++;
	return 0;
}

static void
dev_detach(void *priv, struct vmbs_chan *chan, uint16_t idx)
{
	struct tdev *t = priv;

	if (idx >= t->d.n_channels || t->chan[idx] != chan)
		t->detach_bad++;
	t->detached[idx]++;
}

static void
dev_init(struct tdev *t, uint8_t inst, uint16_t n_channels, uint16_t n_offered)
{
	static const uint8_t net[16] = VMBS_GUID_NET_CLASS;
	uint32_t i;

	memset(t, 0, sizeof(*t));
	snprintf(t->d.vm_name, sizeof(t->d.vm_name), "%s", VM_NAME);
	memcpy(t->d.if_type, net, sizeof(t->d.if_type));
	for (i = 0; i < sizeof(t->d.if_instance); i++)
		t->d.if_instance[i] = (uint8_t)(inst + i);
	t->d.offer_flags = VMBS_OFFER_F_SERVER_SUPPORTS_XFER_PAGES;
	t->d.n_channels = n_channels;
	t->d.n_offered = n_offered;
	t->d.chan.max_pkt_size = 2048;
	t->d.chan.quota = 8;
	t->d.chan.n_pkts = 8;
	t->d.chan.drain_timeout_ms = 20;
	t->d.chan.rx_cb = rx_cb;
	t->d.chan_attach = dev_attach;
	t->d.chan_detach = dev_detach;
	t->d.dev_priv = t;
	t->fail_idx = -1;
}

/* ---- guest memory and the VM ---- */

static struct {
	struct vmbs_vm *vm;
	int fd;
	uint8_t *mem;		/* the guest's view of [T_GPA, T_GPA + T_MEM_SIZE) */
	struct tdev dev[4];
} env = { .fd = -1 };

static int
memfd_new(uint64_t size, uint8_t **va)
{
	int fd = memfd_create("test_vm", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -errno;
	}
	if (va != NULL) {
		*va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (*va == MAP_FAILED) {
			*va = NULL;
			close(fd);
			return -ENOMEM;
		}
	}
	return fd;
}

static uint8_t *
gva(uint64_t gpa)
{
	return env.mem + (gpa - T_GPA);
}

static struct vmbs_vm *
vm_new(uint64_t max_mem, uint32_t drain_ms)
{
	struct vmbs_vm_params p = {
		.name = VM_NAME,
		.send = send_cb,
		.send_arg = &cap,
		.max_mem = max_mem,
		.drain_timeout_ms = drain_ms,
	};

	return vmbs_vm_create(&p);
}

/* Release and free the VM (completing rx still held), drop the memory. */
static int
env_cleanup(void)
{
	uint32_t i;
	int rc = 0;

	if (env.vm != NULL) {
		for (i = 0; i < rec.n; i++)
			if (!rec.done[i]) {
				rec.done[i] = true;
				vmbs_rx_complete(rec.rx[i], NULL, 0);
			}
		for (i = 0; i < 1000; i++) {
			rc = vmbs_vm_release(env.vm);
			if (rc != -EAGAIN)
				break;
			usleep(1000);
		}
		if (rc == 0)
			vmbs_vm_free(env.vm);
		env.vm = NULL;
	}
	if (env.mem != NULL)
		munmap(env.mem, T_MEM_SIZE);
	env.mem = NULL;
	if (env.fd >= 0)
		close(env.fd);
	env.fd = -1;
	return rc;
}

/* Drop the leftovers of a test that failed midway; clear the records. */
static void
env_reset(void)
{
	(void)env_cleanup();
	memset(&cap, 0, sizeof(cap));
	memset(&rec, 0, sizeof(rec));
}

/* A fresh VM with T_MEM_SIZE of guest memory at T_GPA, no devices. */
static void
env_start(uint32_t drain_ms)
{
	env_reset();
	env.fd = memfd_new(T_MEM_SIZE, &env.mem);
	VMBS_CHECK(env.fd >= 0);
	env.vm = vm_new(0, drain_ms);
	VMBS_CHECK(env.vm != NULL);
	VMBS_CHECK(vmbs_vm_mem_add(env.vm, T_GPA, T_MEM_SIZE, env.fd, 0) == 0);
}

static void
env_end(void)
{
	CU_ASSERT_EQUAL(env_cleanup(), 0);
	CU_ASSERT_EQUAL(cap.bad_calls, 0);
}

static void
env_add_dev(uint32_t k, uint8_t inst, uint16_t n_channels, uint16_t n_offered)
{
	dev_init(&env.dev[k], inst, n_channels, n_offered);
	VMBS_CHECK(vmbs_vm_add_device(env.vm, &env.dev[k].d) == 0);
}

static struct vmbs_vm_stats
vm_st(void)
{
	struct vmbs_vm_stats st;

	vmbs_vm_stats_get(env.vm, &st);
	return st;
}

static struct vmbs_chan *
chan_of(uint32_t relid)
{
	struct vmbs_chan *c = vmbs_vm_chan(env.vm, relid);

	VMBS_CHECK(c != NULL);
	return c;
}

/* ---- guest messages ---- */

static int
gsend(const void *msg, int len)
{
	VMBS_CHECK(len > 0);
	return vmbs_vm_handle_msg(env.vm, msg, (uint32_t)len);
}

static int
g_contact(uint32_t version)
{
	uint8_t b[VMBS_CHMSG_MAX_SIZE];

	return gsend(b, vmbs_chmsg_encode_initiate_contact(b, sizeof(b), version, 0,
							  0, 0, 0));
}

static int
g_requestoffers(void)
{
	uint8_t b[VMBS_CHMSG_MAX_SIZE];

	return gsend(b, vmbs_chmsg_encode_requestoffers(b, sizeof(b)));
}

static int
g_open(uint32_t relid, uint32_t openid, uint32_t gpadl, uint32_t downstream)
{
	struct vmbs_chmsg_open o;
	uint8_t b[VMBS_CHMSG_MAX_SIZE];

	memset(&o, 0, sizeof(o));
	o.child_relid = relid;
	o.openid = openid;
	o.ring_gpadl = gpadl;
	o.target_vp = VMBS_OPEN_TARGET_VP_NONE;
	o.downstream_page_offset = downstream;
	return gsend(b, vmbs_chmsg_encode_open(b, sizeof(b), &o));
}

static int
g_close(uint32_t relid)
{
	uint8_t b[VMBS_CHMSG_MAX_SIZE];

	return gsend(b, vmbs_chmsg_encode_close(b, sizeof(b), relid));
}

static int
g_teardown(uint32_t relid, uint32_t gpadl)
{
	uint8_t b[VMBS_CHMSG_MAX_SIZE];

	return gsend(b, vmbs_chmsg_encode_gpadl_teardown(b, sizeof(b), relid, gpadl));
}

static int
g_relid_released(uint32_t relid)
{
	uint8_t b[VMBS_CHMSG_MAX_SIZE];

	return gsend(b, vmbs_chmsg_encode_relid_released(b, sizeof(b), relid));
}

static int
g_unload(void)
{
	uint8_t b[VMBS_CHMSG_MAX_SIZE];

	return gsend(b, vmbs_chmsg_encode_unload(b, sizeof(b)));
}

/*
 * Describe @p npages contiguous pages at @p gpa as one range, split it into
 * GPADL_HEADER + GPADL_BODY messages, and send messages [@p first, @p first
 * + @p max_msgs) of them (@p max_msgs 0: to the end). Returns the number of
 * messages sent.
 */
static uint32_t
g_gpadl_part(uint32_t relid, uint32_t id, uint64_t gpa, uint32_t npages,
	     uint32_t first, uint32_t max_msgs)
{
	static uint8_t rl[sizeof(struct vmbs_gpa_range) + 8u * 1024];
	struct vmbs_gpa_range r = { npages * VMBS_PAGE_SIZE, 0 };
	struct vmbs_chmsg_gpadl_gen g;
	uint8_t msg[VMBS_CHMSG_MAX_SIZE];
	size_t rl_len = sizeof(r) + 8u * npages;
	uint32_t i, k = 0, n = 0;
	int len;

	VMBS_CHECK(npages > 0 && npages <= 1024);
	memcpy(rl, &r, sizeof(r));
	for (i = 0; i < npages; i++) {
		uint64_t pfn = (gpa >> VMBS_PAGE_SHIFT) + i;

		memcpy(rl + sizeof(r) + 8u * i, &pfn, sizeof(pfn));
	}
	VMBS_CHECK(vmbs_chmsg_gpadl_gen_init(&g, relid, id, 1, rl, rl_len) == 0);
	while ((max_msgs == 0 || n < max_msgs) &&
	       (len = vmbs_chmsg_gpadl_gen_next(&g, msg, sizeof(msg))) > 0) {
		if (k++ < first)
			continue;
		(void)vmbs_vm_handle_msg(env.vm, msg, (uint32_t)len);
		n++;
	}
	return n;
}

static uint32_t
g_gpadl_n(uint32_t relid, uint32_t id, uint64_t gpa, uint32_t npages,
	  uint32_t max_msgs)
{
	return g_gpadl_part(relid, id, gpa, npages, 0, max_msgs);
}

static uint32_t
g_gpadl(uint32_t relid, uint32_t id, uint64_t gpa, uint32_t npages)
{
	return g_gpadl_n(relid, id, gpa, npages, 0);
}

/* The last captured message is GPADL_CREATED(relid, id, status). */
static void
expect_created(uint32_t relid, uint32_t id, uint32_t status)
{
	struct vmbs_chmsg m;

	VMBS_CHECK(cap.n > 0);
	cap_msg(cap.n - 1, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_CREATED);
	CU_ASSERT_EQUAL(m.u.gpadl_created.child_relid, relid);
	CU_ASSERT_EQUAL(m.u.gpadl_created.gpadl, id);
	CU_ASSERT_EQUAL(m.u.gpadl_created.creation_status, status);
}

/* The last captured message is OPENCHANNEL_RESULT(relid, openid, status). */
static void
expect_open_result(uint32_t relid, uint32_t openid, uint32_t status)
{
	struct vmbs_chmsg m;

	VMBS_CHECK(cap.n > 0);
	cap_msg(cap.n - 1, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_OPENCHANNEL_RESULT);
	CU_ASSERT_EQUAL(m.u.open_result.child_relid, relid);
	CU_ASSERT_EQUAL(m.u.open_result.openid, openid);
	CU_ASSERT_EQUAL(m.u.open_result.status, status);
}

/* INITIATE_CONTACT 5.3 and REQUESTOFFERS; the captures are dropped. */
static void
g_connect(void)
{
	VMBS_CHECK(g_contact(VMBS_VERSION(5, 3)) == 0);
	VMBS_CHECK(g_requestoffers() == 0);
	VMBS_CHECK(vm_st().state == VMBS_VM_CONNECTED);
	cap_reset();
}

/* ---- the guest's ring ends ---- */

struct tring {
	uint64_t gpa;		/* first page of the ring GPADL */
	uint32_t gpadl;
	struct vmbs_br g2h;	/* guest produces */
	struct vmbs_br h2g;	/* guest consumes */
};

static struct tring ring[4];

/* Zero ring slot @p slot's pages and attach the guest's ends. */
static void
ring_init(struct tring *r, uint32_t slot, uint32_t gpadl)
{
	uint8_t *va;

	memset(r, 0, sizeof(*r));
	r->gpa = T_GPA + (uint64_t)slot * T_RING_SLOT * VMBS_PAGE_SIZE;
	r->gpadl = gpadl;
	va = gva(r->gpa);
	memset(va, 0, (size_t)T_RING_PAGES * VMBS_PAGE_SIZE);
	VMBS_CHECK(vmbs_br_init(&r->g2h, va, (size_t)T_G2H_PAGES * VMBS_PAGE_SIZE,
				VMBS_BR_PRODUCER, 0) == 0);
	VMBS_CHECK(vmbs_br_init(&r->h2g, va + (size_t)T_G2H_PAGES * VMBS_PAGE_SIZE,
				(size_t)T_H2G_PAGES * VMBS_PAGE_SIZE,
				VMBS_BR_CONSUMER, 0) == 0);
}

/* Ring GPADL, then OPENCHANNEL; both must succeed. */
static void
g_open_ring(uint32_t relid, uint32_t slot, uint32_t gpadl, uint32_t openid)
{
	struct tring *r = &ring[slot];

	ring_init(r, slot, gpadl);
	VMBS_CHECK(g_gpadl(relid, gpadl, r->gpa, T_RING_PAGES) >= 1);
	expect_created(relid, gpadl, 0);
	VMBS_CHECK(g_open(relid, openid, gpadl, T_G2H_PAGES) == 0);
	expect_open_result(relid, openid, 0);
	VMBS_CHECK(vmbs_chan_state(chan_of(relid)) == VMBS_CHAN_OPEN);
}

static int
g_put(struct tring *r, uint64_t tid, uint16_t flags, const void *p, uint32_t len)
{
	struct vmbs_desc_layout lay;
	struct vmbs_pkt_desc d;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)p, .iov_len = len };
	int rc = vmbs_desc_encode_inband(&d, sizeof(d), tid, flags, len, &lay);

	if (rc != 0)
		return rc;
	rc = vmbs_br_tx_put(&r->g2h, &d, &iov, 1);
	if (rc == 0)
		(void)vmbs_br_tx_commit(&r->g2h);
	return rc;
}

/* Take one h2g packet: payload bytes, -EAGAIN if none. */
static int
g_recv(struct tring *r, struct vmbs_pkt_desc *d, void *buf, size_t buflen)
{
	uint8_t pkt[4096];
	uint32_t off;
	int len, rc;

	rc = vmbs_br_rx_begin(&r->h2g);
	if (rc != 0)
		return rc;
	len = vmbs_br_rx_next(&r->h2g, pkt, sizeof(pkt));
	if (len < 0)
		return len;
	(void)vmbs_br_rx_commit(&r->h2g);
	memcpy(d, pkt, sizeof(*d));
	off = d->offset8 * 8u;
	if (off > (uint32_t)len || (size_t)(len - (int)off) > buflen)
		return -EPROTO;
	memcpy(buf, pkt + off, (size_t)len - off);
	return len - (int)off;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* ======================= version negotiation ======================= */

static void
accepts_each_supported_version(void)
{
	static const uint32_t v[] = {
		VMBS_VERSION(3, 0), VMBS_VERSION(4, 0), VMBS_VERSION(4, 1),
		VMBS_VERSION(5, 0), VMBS_VERSION(5, 1), VMBS_VERSION(5, 2),
		VMBS_VERSION(5, 3),
	};
	struct vmbs_vm_stats st;
	struct vmbs_chmsg m;
	uint32_t i;

	for (i = 0; i < RTE_DIM(v); i++) {
		env_start(0);
		CU_ASSERT_TRUE(vmbs_vm_version_supported(v[i]));
		CU_ASSERT_EQUAL(g_contact(v[i]), 0);
		VMBS_CHECK(cap.n == 1);
		cap_msg(0, &m);
		CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_VERSION_RESPONSE);
		CU_ASSERT_EQUAL(m.u.version_response.version_supported, 1);
		CU_ASSERT_EQUAL(m.u.version_response.connection_state, 0);
		CU_ASSERT_EQUAL(m.u.version_response.msg_conn_id,
				v[i] >= VMBS_VERSION(5, 0) ? VMBS_MSG_CONN_ID_V5 : 0);
		st = vm_st();
		CU_ASSERT_EQUAL(st.state, VMBS_VM_CONNECTED);
		CU_ASSERT_EQUAL(st.version, v[i]);
		CU_ASSERT_EQUAL(st.versions_refused, 0);
		CU_ASSERT_EQUAL(st.msgs_rx, 1);
		CU_ASSERT_EQUAL(st.msgs_tx, 1);
		env_end();
	}
}

static void
refuses_unsupported_versions(void)
{
	static const uint32_t v[] = {
		VMBS_VERSION(6, 0), VMBS_VERSION(2, 4), VMBS_VERSION(0, 13),
		0xdeadbeefu, VMBS_VERSION(5, 4), 0,
	};
	struct vmbs_vm_stats st;
	struct vmbs_chmsg m;
	uint32_t i;

	env_start(0);
	for (i = 0; i < RTE_DIM(v); i++) {
		cap_reset();
		CU_ASSERT_FALSE(vmbs_vm_version_supported(v[i]));
		(void)g_contact(v[i]);
		VMBS_CHECK(cap.n == 1);
		cap_msg(0, &m);
		CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_VERSION_RESPONSE);
		CU_ASSERT_EQUAL(m.u.version_response.version_supported, 0);
		CU_ASSERT_EQUAL(m.u.version_response.msg_conn_id, 0);
		st = vm_st();
		CU_ASSERT_EQUAL(st.state, VMBS_VM_DISCONNECTED);
		CU_ASSERT_EQUAL(st.version, 0);
		CU_ASSERT_EQUAL(st.versions_refused, i + 1);
	}
	/* 6.0 guests send the 56-byte form (with a client id). */
	{
		uint8_t b[VMBS_CHMSG_MAX_SIZE] = { 0 };

		VMBS_CHECK(vmbs_chmsg_encode_initiate_contact(b, sizeof(b),
				VMBS_VERSION(6, 0), 0, 0, 0, 0) == 40);
		cap_reset();
		(void)vmbs_vm_handle_msg(env.vm, b, 56);
		VMBS_CHECK(cap.n == 1);
		cap_msg(0, &m);
		CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_VERSION_RESPONSE);
		CU_ASSERT_EQUAL(m.u.version_response.version_supported, 0);
		CU_ASSERT_EQUAL(vm_st().state, VMBS_VM_DISCONNECTED);
		CU_ASSERT_EQUAL(vm_st().versions_refused, RTE_DIM(v) + 1);
	}
	/* Still disconnected: offers are not served. */
	cap_reset();
	CU_ASSERT_EQUAL(g_requestoffers(), -EPERM);
	CU_ASSERT_EQUAL(cap.n, 0);
	/* The guest falls back to a version we speak. */
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(4, 0)), 0);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.u.version_response.version_supported, 1);
	CU_ASSERT_EQUAL(vm_st().state, VMBS_VM_CONNECTED);
	CU_ASSERT_EQUAL(vm_st().version, VMBS_VERSION(4, 0));
	env_end();
}

static void
contact_when_connected_is_ignored(void)
{
	struct vmbs_vm_stats st;

	env_start(0);
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 3)), 0);
	cap_reset();
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(4, 0)), -EPERM);
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 3)), -EPERM);
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(6, 0)), -EPERM);
	CU_ASSERT_EQUAL(cap.n, 0);
	st = vm_st();
	CU_ASSERT_EQUAL(st.out_of_state, 3);
	CU_ASSERT_EQUAL(st.versions_refused, 0);
	CU_ASSERT_EQUAL(st.version, VMBS_VERSION(5, 3));
	CU_ASSERT_EQUAL(st.state, VMBS_VM_CONNECTED);
	env_end();
}

static void
messages_before_contact_are_ignored(void)
{
	uint8_t b[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_vm_stats st;
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	ring_init(&ring[0], 0, 0x10);
	CU_ASSERT_EQUAL(g_requestoffers(), -EPERM);
	CU_ASSERT_EQUAL(g_gpadl(relid, 0x10, ring[0].gpa, T_RING_PAGES), 1);
	CU_ASSERT_EQUAL(g_open(relid, 1, 0x10, T_G2H_PAGES), -EPERM);
	CU_ASSERT_EQUAL(g_close(relid), -EPERM);
	CU_ASSERT_EQUAL(g_teardown(relid, 0x10), -EPERM);
	CU_ASSERT_EQUAL(g_relid_released(relid), -EPERM);
	CU_ASSERT_EQUAL(g_unload(), -EPERM);
	CU_ASSERT_EQUAL(gsend(b, vmbs_chmsg_encode_modify_channel(b, sizeof(b), relid, 0)),
			-EPERM);
	CU_ASSERT_EQUAL(cap.n, 0);
	st = vm_st();
	CU_ASSERT_EQUAL(st.out_of_state, 8);
	CU_ASSERT_EQUAL(st.offers_sent, 0);
	CU_ASSERT_EQUAL(st.n_gpadls, 0);
	CU_ASSERT_EQUAL(st.msgs_tx, 0);
	CU_ASSERT_EQUAL(st.state, VMBS_VM_DISCONNECTED);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);

	/* Connected: server-to-guest types from the guest are out of state,
	 * MODIFYCHANNEL is valid but not served.
	 */
	g_connect();
	CU_ASSERT_EQUAL(gsend(b, vmbs_chmsg_encode_version_response(b, sizeof(b), true,
								    0, 4)), -EPERM);
	CU_ASSERT_EQUAL(gsend(b, vmbs_chmsg_encode_gpadl_created(b, sizeof(b), relid,
								 1, 0)), -EPERM);
	CU_ASSERT_EQUAL(gsend(b, vmbs_chmsg_encode_alloffers_delivered(b, sizeof(b))),
			-EPERM);
	CU_ASSERT_EQUAL(gsend(b, vmbs_chmsg_encode_modify_channel(b, sizeof(b), relid, 0)),
			-EOPNOTSUPP);
	CU_ASSERT_EQUAL(cap.n, 0);
	st = vm_st();
	CU_ASSERT_EQUAL(st.out_of_state, 11);
	CU_ASSERT_EQUAL(st.unsupported, 1);
	env_end();
}

/* ============================ offers ============================ */

/* Check an OFFERCHANNEL against the device and index owning its relid. */
static void
check_offer(const struct vmbs_chmsg *m, const struct tdev *t, uint16_t idx)
{
	const struct vmbs_chmsg_offer *o = &m->u.offer;

	CU_ASSERT_EQUAL(m->type, VMBS_CHMSG_OFFERCHANNEL);
	CU_ASSERT_EQUAL(memcmp(o->if_type, t->d.if_type, 16), 0);
	CU_ASSERT_EQUAL(memcmp(o->if_instance, t->d.if_instance, 16), 0);
	CU_ASSERT_EQUAL(o->chn_flags, t->d.offer_flags);
	CU_ASSERT_EQUAL(o->sub_channel_index, idx);
	CU_ASSERT_EQUAL(o->child_relid, t->relid[idx]);
	CU_ASSERT_EQUAL(o->connection_id, VMBS_VM_CONN_ID_BASE + t->relid[idx]);
	CU_ASSERT_EQUAL(o->is_dedicated_interrupt, 1);
	CU_ASSERT_EQUAL(vmbs_chan_relid(vmbs_vm_chan(env.vm, o->child_relid)),
			o->child_relid);
	CU_ASSERT_EQUAL(vmbs_chan_subchan_idx(vmbs_vm_chan(env.vm, o->child_relid)), idx);
}

/* Find which (device, index) has @p relid; false if none. */
static bool
owner_of(uint32_t relid, uint32_t ndev, uint32_t *k, uint16_t *idx)
{
	uint32_t i, j;

	for (i = 0; i < ndev; i++)
		for (j = 0; j < env.dev[i].d.n_channels; j++)
			if (env.dev[i].attached[j] > 0 && env.dev[i].relid[j] == relid) {
				*k = i;
				*idx = (uint16_t)j;
				return true;
			}
	return false;
}

static void
requestoffers_offers_each_channel(void)
{
	uint32_t seen[2][2] = { { 0 } };
	struct vmbs_vm_stats st;
	struct vmbs_chmsg m;
	uint32_t i, k = 0;
	uint16_t idx = 0;

	env_start(0);
	env_add_dev(0, 0x10, 2, 2);
	env_add_dev(1, 0x40, 1, 0);	/* 0: the primary only */
	CU_ASSERT_EQUAL(env.dev[0].attached[0], 1);
	CU_ASSERT_EQUAL(env.dev[0].attached[1], 1);
	CU_ASSERT_EQUAL(env.dev[1].attached[0], 1);
	CU_ASSERT_NOT_EQUAL(env.dev[0].relid[0], env.dev[0].relid[1]);
	CU_ASSERT_NOT_EQUAL(env.dev[0].relid[0], env.dev[1].relid[0]);
	CU_ASSERT_NOT_EQUAL(env.dev[0].relid[1], env.dev[1].relid[0]);
	/* Channels run from the start, but nothing is offered before asked. */
	CU_ASSERT_EQUAL(vmbs_chan_state(env.dev[0].chan[0]), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 3)), 0);
	cap_reset();
	CU_ASSERT_EQUAL(g_requestoffers(), 0);
	VMBS_CHECK(cap.n == 4);
	for (i = 0; i < 3; i++) {
		cap_msg(i, &m);
		VMBS_CHECK(m.type == VMBS_CHMSG_OFFERCHANNEL);
		VMBS_CHECK(owner_of(m.u.offer.child_relid, 2, &k, &idx));
		check_offer(&m, &env.dev[k], idx);
		seen[k][idx]++;
	}
	CU_ASSERT_EQUAL(seen[0][0], 1);
	CU_ASSERT_EQUAL(seen[0][1], 1);
	CU_ASSERT_EQUAL(seen[1][0], 1);
	cap_msg(3, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_ALLOFFERS_DELIVERED);
	st = vm_st();
	CU_ASSERT_EQUAL(st.offers_sent, 3);
	CU_ASSERT_EQUAL(st.n_channels, 3);
	CU_ASSERT_EQUAL(st.msgs_tx, 5);
	env_end();
	CU_ASSERT_EQUAL(env.dev[0].detached[0], 1);
	CU_ASSERT_EQUAL(env.dev[0].detached[1], 1);
	CU_ASSERT_EQUAL(env.dev[1].detached[0], 1);
	CU_ASSERT_EQUAL(env.dev[0].detach_bad + env.dev[1].detach_bad, 0);
}

static void
subchannels_offered_on_request(void)
{
	struct tdev *t = &env.dev[0];
	struct tdev other;
	struct vmbs_chmsg m;

	env_start(0);
	env_add_dev(0, 0x10, 4, 1);
	dev_init(&other, 0x20, 1, 1);
	CU_ASSERT_EQUAL(vmbs_vm_offer_channels(env.vm, &t->d, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_vm_offer_channels(env.vm, &t->d, 5), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_vm_offer_channels(env.vm, &other.d, 1), -ENOENT);
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 3)), 0);
	cap_reset();
	CU_ASSERT_EQUAL(g_requestoffers(), 0);
	VMBS_CHECK(cap.n == 2);
	cap_msg(0, &m);
	check_offer(&m, t, 0);
	cap_msg(1, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_ALLOFFERS_DELIVERED);

	/* netvsp asked for subchannels: exactly the two new ones. */
	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_offer_channels(env.vm, &t->d, 3), 3);
	VMBS_CHECK(cap.n == 2);
	cap_msg(0, &m);
	check_offer(&m, t, 1);
	cap_msg(1, &m);
	check_offer(&m, t, 2);
	/* Asking again, or for fewer, changes nothing. */
	CU_ASSERT_EQUAL(vmbs_vm_offer_channels(env.vm, &t->d, 3), 3);
	CU_ASSERT_EQUAL(vmbs_vm_offer_channels(env.vm, &t->d, 2), 3);
	CU_ASSERT_EQUAL(cap.n, 2);
	CU_ASSERT_EQUAL(vm_st().offers_sent, 3);
	/* The fourth channel exists but the guest cannot use it. */
	cap_reset();
	CU_ASSERT_EQUAL(g_gpadl(t->relid[3], 0x50, T_DATA_GPA, 2), 1);
	expect_created(t->relid[3], 0x50, VMBS_GPADL_STATUS_FAILURE);
	CU_ASSERT_EQUAL(g_open(t->relid[3], 9, 0x50, 1), -ENOENT);
	expect_open_result(t->relid[3], 9, VMBS_VM_OPEN_FAILURE);
	env_end();
}

static void
offer_channels_before_requestoffers_waits(void)
{
	struct tdev *t = &env.dev[0];
	struct vmbs_chmsg m;

	env_start(0);
	env_add_dev(0, 0x10, 4, 1);
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 0)), 0);
	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_offer_channels(env.vm, &t->d, 2), 2);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(g_requestoffers(), 0);
	VMBS_CHECK(cap.n == 3);
	CU_ASSERT_EQUAL(cap_count(VMBS_CHMSG_OFFERCHANNEL, 0), 2);
	cap_msg(2, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_ALLOFFERS_DELIVERED);
	env_end();
}

static void
device_added_after_requestoffers_is_offered_at_once(void)
{
	struct vmbs_chmsg m;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	/* Connected but not asked yet: nothing. */
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 3)), 0);
	cap_reset();
	env_add_dev(1, 0x20, 1, 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(g_requestoffers(), 0);
	CU_ASSERT_EQUAL(cap.n, 3);
	CU_ASSERT_EQUAL(cap_count(VMBS_CHMSG_OFFERCHANNEL, 0), 2);
	/* Asked: a new device is offered immediately, no ALLOFFERS. */
	cap_reset();
	env_add_dev(2, 0x30, 3, 2);
	VMBS_CHECK(cap.n == 2);
	cap_msg(0, &m);
	check_offer(&m, &env.dev[2], 0);
	cap_msg(1, &m);
	check_offer(&m, &env.dev[2], 1);
	CU_ASSERT_EQUAL(vm_st().offers_sent, 4);
	env_end();
}

/* ============================ GPADLs ============================ */

static void
gpadl_create_success_and_failure(void)
{
	struct vmbs_vm_stats st;
	struct vmbs_gpadl_info gi;
	uint32_t relid, hidden;

	env_start(0);
	env_add_dev(0, 0x10, 2, 1);
	relid = env.dev[0].relid[0];
	hidden = env.dev[0].relid[1];
	g_connect();

	/* Header + one body. */
	CU_ASSERT_EQUAL(g_gpadl(relid, 0x100, T_DATA_GPA, 40), 2);
	CU_ASSERT_EQUAL(cap.n, 1);
	expect_created(relid, 0x100, 0);
	/* Header + three bodies: nothing until the last one. */
	CU_ASSERT_EQUAL(vmbs_chmsg_gpadl_msg_count(8 + 8 * 100), 4);
	CU_ASSERT_EQUAL(g_gpadl_n(relid, 0x101, T_DATA_GPA, 100, 3), 3);
	CU_ASSERT_EQUAL(cap.n, 1);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(vmbs_vm_gpadl_table(env.vm), 0x101, &gi), 0);
	CU_ASSERT_EQUAL(gi.state, VMBS_GPADL_BUILDING);
	CU_ASSERT_EQUAL(g_gpadl_part(relid, 0x101, T_DATA_GPA, 100, 3, 0), 1);
	CU_ASSERT_EQUAL(cap.n, 2);
	expect_created(relid, 0x101, 0);
	/* Header + bodies cut short: stays building, no answer. */
	CU_ASSERT_EQUAL(g_gpadl_n(relid, 0x103, T_DATA_GPA, 100, 2), 2);
	CU_ASSERT_EQUAL(cap.n, 2);
	/* Header only. */
	CU_ASSERT_EQUAL(g_gpadl(relid, 0x102, T_DATA_GPA, 4), 1);
	expect_created(relid, 0x102, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(vmbs_vm_gpadl_table(env.vm), 0x102, &gi), 0);
	CU_ASSERT_EQUAL(gi.relid, relid);
	CU_ASSERT_EQUAL(gi.state, VMBS_GPADL_ALIVE);
	CU_ASSERT_EQUAL(gi.pfn_cnt, 4);
	CU_ASSERT_FALSE(gi.mapped);
	/* Duplicate id of an alive GPADL: fails, the original stays. */
	cap_reset();
	CU_ASSERT_EQUAL(g_gpadl(relid, 0x100, T_DATA_GPA, 2), 1);
	expect_created(relid, 0x100, VMBS_GPADL_STATUS_FAILURE);
	st = vm_st();
	CU_ASSERT_EQUAL(st.gpadls_created, 3);
	CU_ASSERT_EQUAL(st.gpadl_failures, 1);
	CU_ASSERT_EQUAL(st.bad_relid, 0);
	/* 0x100, 0x101, 0x102 alive, 0x103 building. */
	CU_ASSERT_EQUAL(st.n_gpadls, 4);

	/* A relid the guest was not offered: CREATED with the failure status. */
	cap_reset();
	CU_ASSERT_EQUAL(g_gpadl(T_BAD_RELID, 0x200, T_DATA_GPA, 2), 1);
	VMBS_CHECK(cap.n == 1);
	expect_created(T_BAD_RELID, 0x200, VMBS_GPADL_STATUS_FAILURE);
	CU_ASSERT_EQUAL(g_gpadl(hidden, 0x201, T_DATA_GPA, 2), 1);
	VMBS_CHECK(cap.n == 2);
	expect_created(hidden, 0x201, VMBS_GPADL_STATUS_FAILURE);
	/* Bodies of a multi-part GPADL on a bad relid: one answer only. */
	CU_ASSERT_EQUAL(g_gpadl(T_BAD_RELID, 0x202, T_DATA_GPA, 40), 2);
	CU_ASSERT_EQUAL(cap.n, 3);
	expect_created(T_BAD_RELID, 0x202, VMBS_GPADL_STATUS_FAILURE);
	st = vm_st();
	CU_ASSERT_EQUAL(st.bad_relid, 3);
	CU_ASSERT_EQUAL(st.gpadl_failures, 4);
	CU_ASSERT_EQUAL(st.n_gpadls, 4);

	/* Teardown of an unmapped GPADL: TORNDOWN at once. */
	cap_reset();
	CU_ASSERT_EQUAL(g_teardown(relid, 0x102), 0);
	VMBS_CHECK(cap.n == 1);
	{
		struct vmbs_chmsg m;

		cap_msg(0, &m);
		CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_TORNDOWN);
		CU_ASSERT_EQUAL(m.u.gpadl_torndown.gpadl, 0x102);
	}
	/* Unknown id, wrong relid, repeat: nothing. */
	CU_ASSERT_NOT_EQUAL(g_teardown(relid, 0x999), 0);
	CU_ASSERT_NOT_EQUAL(g_teardown(T_BAD_RELID, 0x100), 0);
	CU_ASSERT_NOT_EQUAL(g_teardown(relid, 0x102), 0);
	CU_ASSERT_EQUAL(cap.n, 1);
	/* A building GPADL can be torn down too. */
	CU_ASSERT_EQUAL(g_teardown(relid, 0x103), 0);
	CU_ASSERT_EQUAL(g_teardown(relid, 0x101), 0);
	CU_ASSERT_EQUAL(g_teardown(relid, 0x100), 0);
	CU_ASSERT_EQUAL(cap.n, 4);
	CU_ASSERT_EQUAL(cap_count(VMBS_CHMSG_GPADL_TORNDOWN, 0), 4);
	/* Late bodies of a torn-down GPADL are ignored. */
	CU_ASSERT_EQUAL(g_gpadl_part(relid, 0x103, T_DATA_GPA, 100, 2, 0), 2);
	CU_ASSERT_EQUAL(cap.n, 4);
	st = vm_st();
	CU_ASSERT_EQUAL(st.torndowns_sent, 4);
	CU_ASSERT_EQUAL(st.n_gpadls, 0);
	env_end();
}

/* ========================= open / close ========================= */

static void
open_channel_succeeds(void)
{
	struct vmbs_vm_stats st;
	struct vmbs_gpadl_info gi;
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 0x77);
	st = vm_st();
	CU_ASSERT_EQUAL(st.opens, 1);
	CU_ASSERT_EQUAL(st.n_open, 1);
	CU_ASSERT_EQUAL(st.open_failures, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(vmbs_vm_gpadl_table(env.vm), 0x10, &gi), 0);
	CU_ASSERT_TRUE(gi.mapped);
	/* The server polls: it keeps the g2h interrupt mask set. */
	CU_ASSERT_EQUAL(((const struct vmbs_ring_ctl *)gva(ring[0].gpa))->interrupt_mask, 1);
	env_end();
	CU_ASSERT_EQUAL(env.dev[0].detached[0], 1);
}

static void
open_channel_failures(void)
{
	struct vmbs_vm_stats st;
	struct vmbs_gpadl_info gi;
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	ring_init(&ring[0], 0, 0x10);
	CU_ASSERT_EQUAL(g_gpadl(relid, 0x10, ring[0].gpa, T_RING_PAGES), 1);
	expect_created(relid, 0x10, 0);

	cap_reset();
	CU_ASSERT_EQUAL(g_open(T_BAD_RELID, 1, 0x10, T_G2H_PAGES), -ENOENT);
	expect_open_result(T_BAD_RELID, 1, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_EQUAL(vm_st().bad_relid, 1);
	CU_ASSERT_NOT_EQUAL(g_open(relid, 2, 0x999, T_G2H_PAGES), 0);
	expect_open_result(relid, 2, VMBS_VM_OPEN_FAILURE);
	/* Downstream offset beyond the GPADL, or halves under 2 pages. */
	CU_ASSERT_NOT_EQUAL(g_open(relid, 3, 0x10, T_RING_PAGES + 1), 0);
	expect_open_result(relid, 3, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_NOT_EQUAL(g_open(relid, 4, 0x10, T_RING_PAGES), 0);
	expect_open_result(relid, 4, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_NOT_EQUAL(g_open(relid, 5, 0x10, T_RING_PAGES - 1), 0);
	expect_open_result(relid, 5, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_NOT_EQUAL(g_open(relid, 6, 0x10, 1), 0);
	expect_open_result(relid, 6, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_NOT_EQUAL(g_open(relid, 7, 0x10, 0xffffffffu), 0);
	expect_open_result(relid, 7, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_EQUAL(cap.n, 7);
	/* Nothing stays mapped, the channel stays closed. */
	CU_ASSERT_EQUAL(vmbs_gpadl_info(vmbs_vm_gpadl_table(env.vm), 0x10, &gi), 0);
	CU_ASSERT_FALSE(gi.mapped);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);
	st = vm_st();
	CU_ASSERT_EQUAL(st.open_failures, 7);
	CU_ASSERT_EQUAL(st.opens, 0);
	CU_ASSERT_EQUAL(st.n_open, 0);
	/* Then a good open, and a second open of the open channel fails. */
	CU_ASSERT_EQUAL(g_open(relid, 8, 0x10, T_G2H_PAGES), 0);
	expect_open_result(relid, 8, 0);
	CU_ASSERT_NOT_EQUAL(g_open(relid, 9, 0x10, T_G2H_PAGES), 0);
	expect_open_result(relid, 9, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_OPEN);
	st = vm_st();
	CU_ASSERT_EQUAL(st.opens, 1);
	CU_ASSERT_EQUAL(st.n_open, 1);
	CU_ASSERT_EQUAL(st.open_failures, 8);
	env_end();
}

static void
packets_reach_rx_cb_and_complete(void)
{
	struct vmbs_pkt_desc d;
	uint8_t buf[256];
	uint32_t relid;
	int len;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	cap_reset();
	CU_ASSERT_EQUAL(g_put(&ring[0], 100, VMBS_PKT_F_COMPLETION_REQUESTED, "hello", 5), 0);
	CU_ASSERT_EQUAL(g_put(&ring[0], 101, 0, "x", 1), 0);
	CU_ASSERT_EQUAL(g_put(&ring[0], 102, VMBS_PKT_F_COMPLETION_REQUESTED, "yy", 2), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 3);
	VMBS_CHECK(rec.n == 3);
	CU_ASSERT_PTR_EQUAL(rec.chan[0], env.dev[0].chan[0]);
	CU_ASSERT_EQUAL(rec.tid[0], 100);
	/* Inband payloads come padded to 8 bytes (len8 has no finer unit). */
	CU_ASSERT_EQUAL(rec.len[0], 8);
	CU_ASSERT_EQUAL(memcmp(rec.data[0], "hello", 5), 0);
	CU_ASSERT(rec.flags[0] & VMBS_RX_F_COMPLETION_REQUESTED);
	CU_ASSERT_EQUAL(rec.tid[1], 101);
	CU_ASSERT_FALSE(rec.flags[1] & VMBS_RX_F_COMPLETION_REQUESTED);
	CU_ASSERT_EQUAL(rec.tid[2], 102);
	CU_ASSERT_EQUAL(vm_st().rx_outstanding, 3);
	rx_done(2, "r2", 2);
	rx_done(1, NULL, 0);
	rx_done(0, "r0", 2);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 0);
	CU_ASSERT_EQUAL(vm_st().rx_outstanding, 0);
	len = g_recv(&ring[0], &d, buf, sizeof(buf));
	CU_ASSERT(len >= 2);
	CU_ASSERT_EQUAL(d.type, VMBS_PKT_COMP);
	CU_ASSERT_EQUAL(d.trans_id, 102);
	CU_ASSERT_EQUAL(memcmp(buf, "r2", 2), 0);
	len = g_recv(&ring[0], &d, buf, sizeof(buf));
	CU_ASSERT(len >= 2);
	CU_ASSERT_EQUAL(d.type, VMBS_PKT_COMP);
	CU_ASSERT_EQUAL(d.trans_id, 100);
	CU_ASSERT_EQUAL(memcmp(buf, "r0", 2), 0);
	CU_ASSERT_EQUAL(g_recv(&ring[0], &d, buf, sizeof(buf)), -EAGAIN);
	/* Nothing on the control path for data-path traffic. */
	CU_ASSERT_EQUAL(cap.n, 0);
	env_end();
}

static void
close_waits_for_g2h_drain(void)
{
	struct vmbs_vm_stats st;
	struct vmbs_gpadl_info gi;
	uint32_t relid;

	env_start(5000);	/* no timeout in this test */
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	CU_ASSERT_EQUAL(vmbs_vm_tick(env.vm), UINT32_MAX);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, 0, "rv1", 3), 0);
	CU_ASSERT_EQUAL(g_put(&ring[0], 2, 0, "rv2", 3), 0);
	cap_reset();
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_FALSE(vmbs_vm_ready(env.vm));
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_OPEN);
	CU_ASSERT_NOT_EQUAL(vmbs_vm_tick(env.vm), UINT32_MAX);
	CU_ASSERT_FALSE(vmbs_vm_ready(env.vm));
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_OPEN);
	/* The poll lcore consumes the revokes, then the close completes. */
	rec.complete_inline = true;
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 2);
	CU_ASSERT_EQUAL(rec.n, 2);
	(void)vmbs_vm_tick(env.vm);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(vmbs_vm_gpadl_table(env.vm), 0x10, &gi), 0);
	CU_ASSERT_FALSE(gi.mapped);
	st = vm_st();
	CU_ASSERT_EQUAL(st.closes, 1);
	CU_ASSERT_EQUAL(st.n_open, 0);
	CU_ASSERT_EQUAL(st.close_drain_timeouts, 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	/* Closing a closed channel is out of state. */
	CU_ASSERT_EQUAL(g_close(relid), -EPERM);
	CU_ASSERT_EQUAL(vm_st().out_of_state, 1);
	CU_ASSERT_EQUAL(g_close(T_BAD_RELID), -ENOENT);
	CU_ASSERT_EQUAL(vm_st().bad_relid, 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	/* The guest may open it again over a fresh ring. */
	ring_init(&ring[0], 0, 0x10);
	CU_ASSERT_EQUAL(g_open(relid, 2, 0x10, T_G2H_PAGES), 0);
	expect_open_result(relid, 2, 0);
	CU_ASSERT_EQUAL(g_put(&ring[0], 3, 0, "again", 5), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 1);
	CU_ASSERT_EQUAL(rec.n, 3);
	CU_ASSERT_EQUAL(rec.tid[2], 3);
	env_end();
}

static void
close_with_empty_ring_is_immediate(void)
{
	uint32_t relid;

	env_start(5000);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	cap_reset();
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(vm_st().closes, 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	env_end();
}

static void
close_drain_times_out(void)
{
	struct vmbs_vm_stats st;
	uint64_t t0, waited;
	uint32_t relid, i;

	env_start(30);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, 0, "never", 5), 0);
	t0 = now_ms();
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_FALSE(vmbs_vm_ready(env.vm));
	/* Nobody polls the channel: the deadline closes it anyway. */
	for (i = 0; i < 2000 && !vmbs_vm_ready(env.vm); i++) {
		usleep(2000);
		(void)vmbs_vm_tick(env.vm);
	}
	waited = now_ms() - t0;
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	CU_ASSERT(waited >= 25);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);
	st = vm_st();
	CU_ASSERT_EQUAL(st.close_drain_timeouts, 1);
	CU_ASSERT_EQUAL(st.closes, 1);
	CU_ASSERT_EQUAL(st.n_open, 0);
	CU_ASSERT_EQUAL(rec.n, 0);
	env_end();
}

static void
teardown_of_mapped_ring_is_deferred(void)
{
	struct vmbs_gpadl_info gi;
	struct vmbs_chmsg m;
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	cap_reset();
	CU_ASSERT_EQUAL(g_teardown(relid, 0x10), 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(vmbs_vm_gpadl_table(env.vm), 0x10, &gi), 0);
	CU_ASSERT_EQUAL(gi.state, VMBS_GPADL_TEARING_DOWN);
	CU_ASSERT_TRUE(gi.mapped);
	/* A repeat is not answered either. */
	(void)g_teardown(relid, 0x10);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(vm_st().torndowns_sent, 0);
	/* The close unmaps the ring: TORNDOWN, once. */
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	(void)vmbs_vm_tick(env.vm);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_GPADL_TORNDOWN);
	CU_ASSERT_EQUAL(m.u.gpadl_torndown.gpadl, 0x10);
	CU_ASSERT_EQUAL(vm_st().torndowns_sent, 1);
	CU_ASSERT_EQUAL(vm_st().n_gpadls, 0);
	CU_ASSERT_EQUAL(vmbs_gpadl_info(vmbs_vm_gpadl_table(env.vm), 0x10, &gi), -ENOENT);
	CU_ASSERT_NOT_EQUAL(g_teardown(relid, 0x10), 0);
	CU_ASSERT_EQUAL(cap_count(VMBS_CHMSG_GPADL_TORNDOWN, 0), 1);
	/* The ring is gone: it cannot be opened again. */
	CU_ASSERT_NOT_EQUAL(g_open(relid, 2, 0x10, T_G2H_PAGES), 0);
	expect_open_result(relid, 2, VMBS_VM_OPEN_FAILURE);
	env_end();
}

/* ============================ UNLOAD ============================ */

static void
unload_closes_everything_and_reoffers(void)
{
	struct tdev *t = &env.dev[0];
	struct vmbs_vm_stats st;
	struct vmbs_chmsg m;
	uint32_t r0, r1, i, k = 0;
	uint16_t idx = 0;

	env_start(0);
	env_add_dev(0, 0x10, 2, 2);
	r0 = t->relid[0];
	r1 = t->relid[1];
	g_connect();
	g_open_ring(r0, 0, 0x10, 1);
	g_open_ring(r1, 1, 0x11, 2);
	CU_ASSERT_EQUAL(g_gpadl(r0, 0x20, T_DATA_GPA, 8), 1);
	expect_created(r0, 0x20, 0);
	CU_ASSERT_EQUAL(g_gpadl_n(r1, 0x30, T_DATA_GPA, 100, 1), 1);	/* building */
	st = vm_st();
	CU_ASSERT_EQUAL(st.n_open, 2);
	CU_ASSERT_EQUAL(st.n_gpadls, 4);
	cap_reset();
	CU_ASSERT_EQUAL(g_unload(), 0);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_UNLOAD_RESPONSE);
	st = vm_st();
	CU_ASSERT_EQUAL(st.state, VMBS_VM_DISCONNECTED);
	CU_ASSERT_EQUAL(st.version, 0);
	CU_ASSERT_EQUAL(st.unloads, 1);
	CU_ASSERT_EQUAL(st.n_open, 0);
	CU_ASSERT_EQUAL(st.closes, 2);
	CU_ASSERT_EQUAL(st.n_gpadls, 0);
	CU_ASSERT_EQUAL(st.n_channels, 2);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(r0)), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(r1)), VMBS_CHAN_ENABLED);
	/* Devices stay assigned. */
	CU_ASSERT_EQUAL(t->detached[0] + t->detached[1], 0);
	/* Disconnected again. */
	cap_reset();
	CU_ASSERT_EQUAL(g_requestoffers(), -EPERM);
	CU_ASSERT_EQUAL(g_unload(), -EPERM);
	CU_ASSERT_EQUAL(cap.n, 0);

	/* The next boot: same relids offered again. */
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(4, 0)), 0);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.u.version_response.version_supported, 1);
	CU_ASSERT_EQUAL(m.u.version_response.msg_conn_id, 0);
	cap_reset();
	CU_ASSERT_EQUAL(g_requestoffers(), 0);
	VMBS_CHECK(cap.n == 3);
	for (i = 0; i < 2; i++) {
		cap_msg(i, &m);
		VMBS_CHECK(m.type == VMBS_CHMSG_OFFERCHANNEL);
		VMBS_CHECK(owner_of(m.u.offer.child_relid, 1, &k, &idx));
		check_offer(&m, t, idx);
	}
	CU_ASSERT_NOT_EQUAL(cap.len[0] == cap.len[1] &&
			    memcmp(cap.msg[0], cap.msg[1], cap.len[0]) == 0, 1);
	cap_msg(2, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_ALLOFFERS_DELIVERED);
	CU_ASSERT_EQUAL(vm_st().offers_sent, 4);
	/* GPADL ids are free again; the channel works. */
	cap_reset();
	g_open_ring(r0, 0, 0x10, 3);
	CU_ASSERT_EQUAL(g_put(&ring[0], 5, 0, "boot2", 5), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(r0), 0), 1);
	CU_ASSERT_EQUAL(rec.n, 1);
	env_end();
	CU_ASSERT_EQUAL(t->detached[0], 1);
	CU_ASSERT_EQUAL(t->detached[1], 1);
}

static void
unload_during_close_drain(void)
{
	struct vmbs_chmsg m;
	uint32_t relid;

	env_start(5000);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, 0, "x", 1), 0);
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_FALSE(vmbs_vm_ready(env.vm));
	/* (A caller would hold UNLOAD back; it must still be safe.) */
	cap_reset();
	CU_ASSERT_EQUAL(g_unload(), 0);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_UNLOAD_RESPONSE);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(vm_st().n_open, 0);
	CU_ASSERT_EQUAL(vmbs_vm_tick(env.vm), UINT32_MAX);
	env_end();
}

/* ======================== rescind, relids ======================== */

static void
remove_device_rescinds_and_relid_waits(void)
{
	struct tdev *a = &env.dev[0], *b = &env.dev[1], *c = &env.dev[2], *e = &env.dev[3];
	struct vmbs_vm_stats st;
	struct vmbs_chmsg m;
	uint32_t ra, rb, re1;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	env_add_dev(1, 0x20, 1, 1);
	ra = a->relid[0];
	rb = b->relid[0];
	g_connect();
	g_open_ring(ra, 0, 0x10, 1);
	CU_ASSERT_EQUAL(vm_st().n_gpadls, 1);

	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &a->d), 0);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_RESCIND_CHANNELOFFER);
	CU_ASSERT_EQUAL(m.u.relid.child_relid, ra);
	CU_ASSERT_EQUAL(a->detached[0], 1);
	CU_ASSERT_EQUAL(a->detach_bad, 0);
	st = vm_st();
	CU_ASSERT_EQUAL(st.rescinds, 1);
	CU_ASSERT_EQUAL(st.closes, 1);
	CU_ASSERT_EQUAL(st.n_open, 0);
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &a->d), -ENOENT);
	/* The relid stays reserved and dead to the guest. */
	CU_ASSERT_PTR_NOT_NULL(vmbs_vm_chan(env.vm, ra));
	cap_reset();
	CU_ASSERT_EQUAL(g_open(ra, 2, 0x10, T_G2H_PAGES), -ENOENT);
	expect_open_result(ra, 2, VMBS_VM_OPEN_FAILURE);
	CU_ASSERT_EQUAL(g_gpadl(ra, 0x40, T_DATA_GPA, 2), 1);
	expect_created(ra, 0x40, VMBS_GPADL_STATUS_FAILURE);
	/* A new device does not get it. */
	cap_reset();
	env_add_dev(2, 0x30, 1, 1);
	CU_ASSERT_NOT_EQUAL(c->relid[0], ra);
	CU_ASSERT_NOT_EQUAL(c->relid[0], rb);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	check_offer(&m, c, 0);

	/* The guest lets go: the relid and its GPADLs are forgotten. */
	cap_reset();
	CU_ASSERT_EQUAL(vm_st().n_gpadls, 1);
	CU_ASSERT_EQUAL(g_relid_released(ra), 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, ra));
	CU_ASSERT_EQUAL(vm_st().n_gpadls, 0);
	CU_ASSERT_EQUAL(vm_st().n_channels, 2);
	CU_ASSERT_EQUAL(a->detached[0], 1);
	/* Now it is reused. */
	env_add_dev(0, 0x50, 1, 1);
	CU_ASSERT_EQUAL(a->relid[0], ra);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	check_offer(&m, a, 0);
	/* Released again: the new owner was not rescinded. */
	CU_ASSERT_EQUAL(g_relid_released(ra), -ENOENT);
	CU_ASSERT_EQUAL(vm_st().bad_relid, 3);	/* open, GPADL above, this */
	CU_ASSERT_PTR_NOT_NULL(vmbs_vm_chan(env.vm, ra));

	/* A device with an unoffered subchannel: one RESCIND, the hidden
	 * relid is free at once.
	 */
	env_add_dev(3, 0x60, 2, 1);
	re1 = e->relid[1];
	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &e->d), 0);
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_RESCIND_CHANNELOFFER);
	CU_ASSERT_EQUAL(m.u.relid.child_relid, e->relid[0]);
	CU_ASSERT_PTR_NOT_NULL(vmbs_vm_chan(env.vm, e->relid[0]));
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, re1));
	CU_ASSERT_EQUAL(e->detached[0], 1);
	CU_ASSERT_EQUAL(e->detached[1], 1);
	env_end();
	CU_ASSERT_EQUAL(a->detached[0], 1);	/* the second device on dev[0] */
	CU_ASSERT_EQUAL(b->detached[0], 1);
	CU_ASSERT_EQUAL(c->detached[0], 1);
	CU_ASSERT_EQUAL(e->detached[0], 1);
	CU_ASSERT_EQUAL(a->detach_bad + b->detach_bad + c->detach_bad + e->detach_bad, 0);
}

static void
remove_device_while_disconnected_frees_at_once(void)
{
	struct tdev *a = &env.dev[0];
	uint32_t ra;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	ra = a->relid[0];
	g_connect();
	CU_ASSERT_EQUAL(g_unload(), 0);
	cap_reset();
	/* The guest forgot every relid at UNLOAD: nothing to rescind. */
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &a->d), 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(vm_st().rescinds, 0);
	CU_ASSERT_EQUAL(a->detached[0], 1);
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, ra));
	env_add_dev(1, 0x20, 1, 1);
	CU_ASSERT_EQUAL(env.dev[1].relid[0], ra);
	CU_ASSERT_EQUAL(cap.n, 0);
	env_end();
}

static void
rescinded_channel_freed_after_rx_returns(void)
{
	struct tdev *a = &env.dev[0];
	uint32_t ra;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	ra = a->relid[0];
	g_connect();
	g_open_ring(ra, 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, VMBS_PKT_F_COMPLETION_REQUESTED, "held", 4), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(ra), 0), 1);
	VMBS_CHECK(rec.n == 1);
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &a->d), 0);
	CU_ASSERT_EQUAL(a->detached[0], 1);
	CU_ASSERT_EQUAL(g_relid_released(ra), 0);
	/* The device still holds an rx of it: the relid is not free yet. */
	CU_ASSERT_PTR_NOT_NULL(vmbs_vm_chan(env.vm, ra));
	CU_ASSERT_NOT_EQUAL(vmbs_vm_tick(env.vm), UINT32_MAX);
	CU_ASSERT_PTR_NOT_NULL(vmbs_vm_chan(env.vm, ra));
	rx_done(0, "late", 4);
	(void)vmbs_vm_tick(env.vm);
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, ra));
	CU_ASSERT_EQUAL(vm_st().n_channels, 0);
	CU_ASSERT_EQUAL(vmbs_vm_tick(env.vm), UINT32_MAX);
	env_add_dev(1, 0x20, 1, 1);
	CU_ASSERT_EQUAL(env.dev[1].relid[0], ra);
	env_end();
}

static void
relid_released_of_live_channel_is_ignored(void)
{
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	CU_ASSERT_EQUAL(g_relid_released(relid), -ENOENT);
	CU_ASSERT_EQUAL(g_relid_released(0), -ENOENT);
	CU_ASSERT_EQUAL(g_relid_released(T_BAD_RELID), -ENOENT);
	CU_ASSERT_EQUAL(g_relid_released(VMBS_VM_MAX_RELID + 1), -ENOENT);
	CU_ASSERT_EQUAL(g_relid_released(0xffffffffu), -ENOENT);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(vm_st().bad_relid, 5);
	/* The channel is untouched and still usable. */
	CU_ASSERT_PTR_NOT_NULL(vmbs_vm_chan(env.vm, relid));
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_EQUAL(env.dev[0].detached[0], 0);
	env_end();
}

/* ======================= memory, doorbells ======================= */

static void
mem_add_limits(void)
{
	struct vmbs_vm_stats st;
	uint8_t *va;
	int fd;

	env_reset();
	fd = memfd_new(8u << 20, NULL);
	VMBS_CHECK(fd >= 0);
	env.vm = vm_new(4u << 20, 0);
	VMBS_CHECK(env.vm != NULL);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x100000, 2u << 20, fd, 0), 0);
	/* Overlaps, partly or at the same start. */
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x200000, 1u << 20, fd, 4u << 20), -EEXIST);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x100000, 4096, fd, 4u << 20), -EEXIST);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0, 0x101000, fd, 4u << 20), -EEXIST);
	/* Over the cap. */
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x1000000, 4u << 20, fd, 0), -E2BIG);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x1000000, UINT64_MAX & ~0xfffull, fd, 0),
			-E2BIG);
	/* Up to it exactly. */
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x1000000, 2u << 20, fd, 2u << 20), 0);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x2000000, 4096, fd, 6u << 20), -E2BIG);
	/* Errors of guestmem pass through. */
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x2000000, 0, fd, 0), -EINVAL);
	st = vm_st();
	CU_ASSERT_EQUAL(st.mem_regions, 2);
	CU_ASSERT_EQUAL(st.mem_bytes, 4u << 20);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, 0x1000000), 0);
	st = vm_st();
	CU_ASSERT_EQUAL(st.mem_regions, 1);
	CU_ASSERT_EQUAL(st.mem_bytes, 2u << 20);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x2000000, 4096, fd, 6u << 20), 0);
	close(fd);
	CU_ASSERT_EQUAL(vmbs_vm_release(env.vm), 0);
	vmbs_vm_free(env.vm);
	env.vm = NULL;

	/* Default cap: 64 GiB, checked before anything is mapped. */
	fd = memfd_new(4096, &va);
	VMBS_CHECK(fd >= 0);
	env.vm = vm_new(0, 0);
	VMBS_CHECK(env.vm != NULL);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0, VMBS_VM_DEFAULT_MAX_MEM + 4096, fd, 0),
			-E2BIG);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0, 4096, -1, 0), -EBADF);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0, 4096, fd, 0), 0);
	CU_ASSERT_EQUAL(vm_st().mem_bytes, 4096);
	munmap(va, 4096);
	close(fd);
	env_end();
}

static void
mem_del_refused_while_open(void)
{
	struct vmbs_vm_stats st;
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, T_GPA), -EBUSY);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, T_GPA + 4096), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, 0x70000000), -ENOENT);
	CU_ASSERT_EQUAL(vm_st().mem_regions, 1);
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, T_GPA), 0);
	st = vm_st();
	CU_ASSERT_EQUAL(st.mem_regions, 0);
	CU_ASSERT_EQUAL(st.mem_bytes, 0);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, T_GPA), -ENOENT);
	/* The ring GPADL now points nowhere: opening it fails cleanly. */
	cap_reset();
	CU_ASSERT_NOT_EQUAL(g_open(relid, 2, 0x10, T_G2H_PAGES), 0);
	expect_open_result(relid, 2, VMBS_VM_OPEN_FAILURE);
	env_end();
}

static void
doorbell_eventfd_rung_on_signal(void)
{
	struct vmbs_chan_stats cs;
	struct vmbs_pkt_desc d;
	uint8_t buf[64];
	uint64_t v = 0;
	uint32_t relid;
	int efd, g2h_fd, bad;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 3)), 0);
	/* Not offered yet: no such channel for the guest; the fd is closed. */
	bad = eventfd(0, EFD_CLOEXEC);
	VMBS_CHECK(bad >= 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 1, bad), -ENOENT);
	CU_ASSERT_FALSE(fd_is_open(bad));
	CU_ASSERT_EQUAL(g_requestoffers(), 0);

	efd = eventfd(0, EFD_CLOEXEC);
	g2h_fd = eventfd(0, EFD_CLOEXEC);
	VMBS_CHECK(efd >= 0 && g2h_fd >= 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 1, efd), 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 0, g2h_fd), 0);
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, relid, 1), efd);
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, relid, 0), g2h_fd);
	CU_ASSERT(fcntl(efd, F_GETFL) & O_NONBLOCK);
	/* Unknown relid, bad direction. */
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, T_BAD_RELID, 1, -1), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, T_BAD_RELID, 1), -1);
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, relid, 2), -1);
	bad = eventfd(0, EFD_CLOEXEC);
	VMBS_CHECK(bad >= 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 2, bad), -EINVAL);
	CU_ASSERT_FALSE(fd_is_open(bad));
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, relid, 1), efd);

	g_open_ring(relid, 0, 0x10, 1);
	while (read(efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;	/* whatever the open rang */
	/* A completion into the empty h2g ring (mask clear) rings it. */
	rec.complete_inline = true;
	CU_ASSERT_EQUAL(g_put(&ring[0], 7, VMBS_PKT_F_COMPLETION_REQUESTED, "db", 2), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 1);
	v = 0;
	CU_ASSERT_EQUAL(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
	CU_ASSERT(v >= 1);
	vmbs_chan_stats_get(chan_of(relid), &cs);
	CU_ASSERT(cs.signals >= 1);
	CU_ASSERT(g_recv(&ring[0], &d, buf, sizeof(buf)) >= 3);
	CU_ASSERT_EQUAL(d.type, VMBS_PKT_COMP);
	CU_ASSERT_EQUAL(d.trans_id, 7);
	CU_ASSERT_EQUAL(memcmp(buf, "ack", 3), 0);
	/* The guest's own doorbell is never written by the server. */
	CU_ASSERT_EQUAL(read(g2h_fd, &v, sizeof(v)), -1);

	/* Cleared: the old fd is closed, signals go nowhere. */
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 1, -1), 0);
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, relid, 1), -1);
	CU_ASSERT_FALSE(fd_is_open(efd));
	CU_ASSERT_EQUAL(g_put(&ring[0], 8, VMBS_PKT_F_COMPLETION_REQUESTED, "db", 2), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 1);
	CU_ASSERT(g_recv(&ring[0], &d, buf, sizeof(buf)) >= 3);
	CU_ASSERT_EQUAL(d.trans_id, 8);
	/* Replacing a doorbell closes the previous one. */
	efd = eventfd(0, EFD_CLOEXEC);
	bad = eventfd(0, EFD_CLOEXEC);
	VMBS_CHECK(efd >= 0 && bad >= 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 1, bad), 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 1, efd), 0);
	CU_ASSERT_FALSE(fd_is_open(bad));
	CU_ASSERT_TRUE(fd_is_open(efd));
	CU_ASSERT_TRUE(fd_is_open(g2h_fd));
	env_end();
	/* The VM owned them. */
	CU_ASSERT_FALSE(fd_is_open(efd));
	CU_ASSERT_FALSE(fd_is_open(g2h_fd));
}

static void
doorbell_refuses_non_eventfd(void)
{
	uint32_t relid;
	int p[2], f;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	VMBS_CHECK(pipe(p) == 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 1, p[0]), -EINVAL);
	CU_ASSERT_FALSE(fd_is_open(p[0]));
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, relid, 1), -1);
	close(p[1]);
	f = memfd_new(4096, NULL);
	VMBS_CHECK(f >= 0);
	CU_ASSERT_EQUAL(vmbs_vm_set_doorbell(env.vm, relid, 0, f), -EINVAL);
	CU_ASSERT_FALSE(fd_is_open(f));
	CU_ASSERT_EQUAL(vmbs_vm_doorbell_fd(env.vm, relid, 0), -1);
	env_end();
}

/* ============================ release ============================ */

static void
release_waits_for_held_rx(void)
{
	struct tdev *t = &env.dev[0];
	struct tdev late;
	uint8_t b[VMBS_CHMSG_MAX_SIZE];
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = t->relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, VMBS_PKT_F_COMPLETION_REQUESTED, "keep", 4), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 1);
	VMBS_CHECK(rec.n == 1);
	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_release(env.vm), -EAGAIN);
	CU_ASSERT_EQUAL(t->detached[0], 1);
	CU_ASSERT_EQUAL(vm_st().state, VMBS_VM_RELEASING);
	CU_ASSERT_EQUAL(vm_st().rx_outstanding, 1);
	CU_ASSERT_EQUAL(vm_st().n_open, 0);
	/* Nothing is sent to a guest being released; nothing new is taken. */
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b,
		(uint32_t)vmbs_chmsg_encode_requestoffers(b, sizeof(b))), -ESHUTDOWN);
	dev_init(&late, 0x20, 1, 1);
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &late.d), -ESHUTDOWN);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x40000000, 4096, env.fd, 0), -ESHUTDOWN);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, T_GPA), -ESHUTDOWN);
	CU_ASSERT_EQUAL(vmbs_vm_release(env.vm), -EAGAIN);
	CU_ASSERT_EQUAL(vmbs_vm_release(env.vm), -EAGAIN);
	/* The device lets go of the packet. */
	rx_done(0, "bye", 3);
	CU_ASSERT_EQUAL(vmbs_vm_release(env.vm), 0);
	CU_ASSERT_EQUAL(t->detached[0], 1);
	CU_ASSERT_EQUAL(t->detach_bad, 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	vmbs_vm_free(env.vm);
	env.vm = NULL;
	env_end();
}

static void
release_of_idle_vm_is_immediate(void)
{
	struct tdev *t = &env.dev[0];

	env_start(0);
	env_add_dev(0, 0x10, 2, 2);
	g_connect();
	g_open_ring(t->relid[1], 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_gpadl(t->relid[0], 0x20, T_DATA_GPA, 8), 1);
	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_release(env.vm), 0);
	CU_ASSERT_EQUAL(t->detached[0], 1);
	CU_ASSERT_EQUAL(t->detached[1], 1);
	/* No RESCIND for a VM going away. */
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(vm_st().n_channels, 0);
	vmbs_vm_free(env.vm);
	env.vm = NULL;
	env_end();
	vmbs_vm_free(NULL);
}

/* ====================== combined sequences ====================== */

static struct {
	uint32_t n;
	int status;
	uint32_t resp_len;
	uint8_t resp[16];
} done;

static void
pkt_done(struct vmbs_pkt *pkt, int status, const void *resp, uint32_t len)
{
	RTE_SET_USED(pkt);
	done.n++;
	done.status = status;
	done.resp_len = len;
	if (resp != NULL)
		memcpy(done.resp, resp, RTE_MIN(len, sizeof(done.resp)));
}

static void
server_sends_and_unload_cancels(void)
{
	struct vmbs_pkt_desc d;
	struct vmbs_pkt *pkt;
	struct vmbs_chan *chan;
	uint8_t buf[64];
	uint32_t relid;
	int len;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	chan = chan_of(relid);
	memset(&done, 0, sizeof(done));
	pkt = vmbs_pkt_alloc(chan, pkt_done, NULL);
	VMBS_CHECK(pkt != NULL);
	/* Fire and forget. */
	CU_ASSERT_EQUAL(vmbs_pkt_send(pkt, "srv1", 4, 0), 0);
	(void)vmbs_chan_poll(chan, 0);
	CU_ASSERT_EQUAL(done.n, 1);
	CU_ASSERT_EQUAL(done.status, 0);
	len = g_recv(&ring[0], &d, buf, sizeof(buf));
	CU_ASSERT(len >= 4);
	CU_ASSERT_EQUAL(d.type, VMBS_PKT_DATA_INBAND);
	CU_ASSERT_EQUAL(memcmp(buf, "srv1", 4), 0);
	/* With a completion from the guest. */
	CU_ASSERT_EQUAL(vmbs_pkt_send(pkt, "srv2", 4, VMBS_SEND_F_WAIT_COMPLETION), 0);
	(void)vmbs_chan_poll(chan, 0);
	CU_ASSERT_EQUAL(done.n, 1);
	len = g_recv(&ring[0], &d, buf, sizeof(buf));
	CU_ASSERT(len >= 4);
	CU_ASSERT(d.flags & VMBS_PKT_F_COMPLETION_REQUESTED);
	{
		struct vmbs_desc_layout lay;
		struct vmbs_pkt_desc c;
		struct iovec iov = { .iov_base = (void *)(uintptr_t)"resp", .iov_len = 4 };

		VMBS_CHECK(vmbs_desc_encode_comp(&c, sizeof(c), d.trans_id, 4, &lay) == 0);
		VMBS_CHECK(vmbs_br_tx_put(&ring[0].g2h, &c, &iov, 1) == 0);
		(void)vmbs_br_tx_commit(&ring[0].g2h);
	}
	(void)vmbs_chan_poll(chan, 0);
	CU_ASSERT_EQUAL(done.n, 2);
	CU_ASSERT_EQUAL(done.status, 0);
	CU_ASSERT(done.resp_len >= 4);
	CU_ASSERT_EQUAL(memcmp(done.resp, "resp", 4), 0);
	/* The guest never answers this one: UNLOAD cancels it. */
	CU_ASSERT_EQUAL(vmbs_pkt_send(pkt, "srv3", 4, VMBS_SEND_F_WAIT_COMPLETION), 0);
	(void)vmbs_chan_poll(chan, 0);
	CU_ASSERT_EQUAL(done.n, 2);
	CU_ASSERT_EQUAL(g_unload(), 0);
	CU_ASSERT_EQUAL(done.n, 3);
	CU_ASSERT_EQUAL(done.status, -ECANCELED);
	vmbs_pkt_free(pkt);
	env_end();
}

static void
unload_answers_pending_teardown(void)
{
	struct vmbs_chmsg m;
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	cap_reset();
	CU_ASSERT_EQUAL(g_teardown(relid, 0x10), 0);
	CU_ASSERT_EQUAL(cap.n, 0);
	CU_ASSERT_EQUAL(g_unload(), 0);
	/* TORNDOWN (once) for the pending teardown, then UNLOAD_RESPONSE. */
	CU_ASSERT_EQUAL(cap_count(VMBS_CHMSG_GPADL_TORNDOWN, 0), 1);
	VMBS_CHECK(cap.n >= 1);
	cap_msg(cap.n - 1, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_UNLOAD_RESPONSE);
	CU_ASSERT_EQUAL(vm_st().n_gpadls, 0);
	/* Next boot: the id is free. */
	CU_ASSERT_EQUAL(g_contact(VMBS_VERSION(5, 2)), 0);
	CU_ASSERT_EQUAL(g_requestoffers(), 0);
	cap_reset();
	g_open_ring(relid, 0, 0x10, 2);
	CU_ASSERT_EQUAL(cap_count(VMBS_CHMSG_GPADL_TORNDOWN, 0), 0);
	env_end();
}

static void
rescind_during_close_drain(void)
{
	struct tdev *a = &env.dev[0];
	struct vmbs_chmsg m;
	uint32_t ra;

	env_start(5000);
	env_add_dev(0, 0x10, 1, 1);
	ra = a->relid[0];
	g_connect();
	g_open_ring(ra, 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, 0, "x", 1), 0);
	CU_ASSERT_EQUAL(g_close(ra), 0);
	CU_ASSERT_FALSE(vmbs_vm_ready(env.vm));
	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &a->d), 0);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	VMBS_CHECK(cap.n == 1);
	cap_msg(0, &m);
	CU_ASSERT_EQUAL(m.type, VMBS_CHMSG_RESCIND_CHANNELOFFER);
	CU_ASSERT_EQUAL(a->detached[0], 1);
	CU_ASSERT_EQUAL(vm_st().n_open, 0);
	CU_ASSERT_EQUAL(vm_st().closes, 1);
	/* The ring GPADL is unmapped: the guest's teardown is answered now. */
	CU_ASSERT_EQUAL(g_teardown(ra, 0x10), 0);
	CU_ASSERT_EQUAL(cap_count(VMBS_CHMSG_GPADL_TORNDOWN, 0), 1);
	CU_ASSERT_EQUAL(g_relid_released(ra), 0);
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, ra));
	CU_ASSERT_EQUAL(vmbs_vm_tick(env.vm), UINT32_MAX);
	env_end();
}

static void
release_during_close_drain(void)
{
	uint32_t relid;

	env_start(5000);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, 0, "x", 1), 0);
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_FALSE(vmbs_vm_ready(env.vm));
	cap_reset();
	CU_ASSERT_EQUAL(vmbs_vm_release(env.vm), 0);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	CU_ASSERT_EQUAL(env.dev[0].detached[0], 1);
	CU_ASSERT_EQUAL(cap.n, 0);
	vmbs_vm_free(env.vm);
	env.vm = NULL;
	env_end();
}

static void
orphaned_rx_completes_after_reopen(void)
{
	struct vmbs_pkt_desc d;
	uint8_t buf[64];
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, VMBS_PKT_F_COMPLETION_REQUESTED, "old", 3), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 1);
	/* Closed with the rx still held (bounded wait, then orphaned). */
	CU_ASSERT_EQUAL(g_close(relid), 0);
	CU_ASSERT_TRUE(vmbs_vm_ready(env.vm));
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(vm_st().rx_outstanding, 1);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, T_GPA), -EBUSY);
	/* Reopen over a fresh ring; the late completion goes nowhere. */
	ring_init(&ring[0], 0, 0x10);
	CU_ASSERT_EQUAL(g_open(relid, 2, 0x10, T_G2H_PAGES), 0);
	rx_done(0, "late", 4);
	CU_ASSERT_EQUAL(g_put(&ring[0], 2, VMBS_PKT_F_COMPLETION_REQUESTED, "new", 3), 0);
	rec.complete_inline = true;
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 1);
	CU_ASSERT_EQUAL(vm_st().rx_outstanding, 0);
	CU_ASSERT(g_recv(&ring[0], &d, buf, sizeof(buf)) >= 3);
	CU_ASSERT_EQUAL(d.trans_id, 2);
	CU_ASSERT_EQUAL(g_recv(&ring[0], &d, buf, sizeof(buf)), -EAGAIN);
	env_end();
}

static void
mem_add_while_open_keeps_polling(void)
{
	uint8_t *va;
	uint32_t relid;
	int fd;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	fd = memfd_new(1u << 20, &va);
	VMBS_CHECK(fd >= 0);
	CU_ASSERT_EQUAL(vmbs_vm_mem_add(env.vm, 0x10000000, 1u << 20, fd, 0), 0);
	close(fd);
	CU_ASSERT_EQUAL(vm_st().mem_regions, 2);
	CU_ASSERT_EQUAL(vm_st().mem_bytes, T_MEM_SIZE + (1u << 20));
	CU_ASSERT_EQUAL(g_put(&ring[0], 1, 0, "after", 5), 0);
	CU_ASSERT_EQUAL(vmbs_chan_poll(chan_of(relid), 0), 1);
	CU_ASSERT_EQUAL(rec.n, 1);
	/* A GPADL in the new region works. */
	cap_reset();
	CU_ASSERT_EQUAL(g_gpadl(relid, 0x99, 0x10000000, 16), 1);
	expect_created(relid, 0x99, 0);
	CU_ASSERT_EQUAL(vmbs_vm_mem_del(env.vm, 0x10000000), -EBUSY);	/* open */
	munmap(va, 1u << 20);
	env_end();
}

static void
vms_are_isolated(void)
{
	struct tdev *a = &env.dev[0], *b = &env.dev[1];
	struct vmbs_vm_params p = { .name = "vm-other", .send = send_cb, .send_arg = &cap };
	struct vmbs_vm *other;
	struct vmbs_vm_stats st;
	uint8_t msg[VMBS_CHMSG_MAX_SIZE];
	uint32_t relid;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = a->relid[0];
	other = vmbs_vm_create(&p);
	VMBS_CHECK(other != NULL);
	/* A device named for this VM cannot go to the other, nor twice. */
	CU_ASSERT_EQUAL(vmbs_vm_add_device(other, &a->d), -EINVAL);
	dev_init(b, 0x20, 1, 1);
	snprintf(b->d.vm_name, sizeof(b->d.vm_name), "vm-other");
	CU_ASSERT_EQUAL(vmbs_vm_add_device(other, &b->d), 0);
	CU_ASSERT_EQUAL(b->relid[0], relid);	/* relids are per VM */
	CU_ASSERT_EQUAL(vmbs_chan_relid(vmbs_vm_chan(other, relid)), relid);
	CU_ASSERT_PTR_NOT_EQUAL(vmbs_vm_chan(other, relid), vmbs_vm_chan(env.vm, relid));
	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	/* The other VM, never contacted, knows nothing of it. */
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(other, msg, (uint32_t)
		vmbs_chmsg_encode_gpadl_teardown(msg, sizeof(msg), relid, 0x10)), -EPERM);
	vmbs_vm_stats_get(other, &st);
	CU_ASSERT_EQUAL(st.n_gpadls, 0);
	CU_ASSERT_EQUAL(st.n_open, 0);
	CU_ASSERT_EQUAL(vmbs_chan_state(vmbs_vm_chan(other, relid)), VMBS_CHAN_ENABLED);
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(other, &a->d), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &b->d), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_vm_release(other), 0);
	vmbs_vm_free(other);
	CU_ASSERT_EQUAL(b->detached[0], 1);
	CU_ASSERT_EQUAL(a->detached[0], 0);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_OPEN);
	env_end();
}

/* ========================== bad input ========================== */

static void
malformed_messages_are_counted_and_unanswered(void)
{
	static const struct { uint32_t type, min; } fixed[] = {
		{ VMBS_CHMSG_OFFERCHANNEL, 196 },
		{ VMBS_CHMSG_RESCIND_CHANNELOFFER, 12 },
		{ VMBS_CHMSG_REQUESTOFFERS, 8 },
		{ VMBS_CHMSG_ALLOFFERS_DELIVERED, 8 },
		{ VMBS_CHMSG_OPENCHANNEL, 148 },
		{ VMBS_CHMSG_OPENCHANNEL_RESULT, 20 },
		{ VMBS_CHMSG_CLOSECHANNEL, 12 },
		{ VMBS_CHMSG_GPADL_HEADER, 20 },
		{ VMBS_CHMSG_GPADL_BODY, 24 },
		{ VMBS_CHMSG_GPADL_CREATED, 20 },
		{ VMBS_CHMSG_GPADL_TEARDOWN, 16 },
		{ VMBS_CHMSG_GPADL_TORNDOWN, 12 },
		{ VMBS_CHMSG_RELID_RELEASED, 12 },
		{ VMBS_CHMSG_INITIATE_CONTACT, 40 },
		{ VMBS_CHMSG_VERSION_RESPONSE, 16 },
		{ VMBS_CHMSG_UNLOAD, 8 },
		{ VMBS_CHMSG_UNLOAD_RESPONSE, 8 },
		{ VMBS_CHMSG_MODIFYCHANNEL, 16 },
	};
	uint8_t b[VMBS_CHMSG_MAX_SIZE + 16];
	struct vmbs_chmsg_hdr h;
	struct vmbs_vm_stats st0, st;
	uint32_t i, relid, n = 0;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	relid = env.dev[0].relid[0];

	/* Before contact too: a truncated INITIATE_CONTACT is malformed. */
	memset(b, 0, sizeof(b));
	h.msgtype = VMBS_CHMSG_INITIATE_CONTACT;
	h.padding = 0;
	memcpy(b, &h, sizeof(h));
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 39), -EBADMSG);
	st = vm_st();
	CU_ASSERT_EQUAL(st.malformed, 1);
	CU_ASSERT_EQUAL(st.out_of_state, 0);
	CU_ASSERT_EQUAL(st.state, VMBS_VM_DISCONNECTED);
	CU_ASSERT_EQUAL(cap.n, 0);

	g_connect();
	g_open_ring(relid, 0, 0x10, 1);
	cap_reset();
	st0 = vm_st();
	/* Each type one byte short of its fixed part. */
	for (i = 0; i < RTE_DIM(fixed); i++) {
		memset(b, 0, sizeof(b));
		h.msgtype = fixed[i].type;
		memcpy(b, &h, sizeof(h));
		/* Fields a partial decode might act on point at real objects. */
		if (fixed[i].min >= 12)
			memcpy(b + 8, &relid, sizeof(relid));
		CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, fixed[i].min - 1), -EBADMSG);
		n++;
	}
	/* Not a message type; out of range; header cut; oversize; empty. */
	memset(b, 0, sizeof(b));
	h.msgtype = 200;
	memcpy(b, &h, sizeof(h));
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 16), -EBADMSG);
	n++;
	h.msgtype = VMBS_CHMSG_TYPE_MAX;
	memcpy(b, &h, sizeof(h));
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 16), -EBADMSG);
	n++;
	h.msgtype = VMBS_CHMSG_INVALID;
	memcpy(b, &h, sizeof(h));
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 16), -EBADMSG);
	n++;
	h.msgtype = VMBS_CHMSG_UNLOAD;
	memcpy(b, &h, sizeof(h));
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 4), -EBADMSG);
	n++;
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 0), -EBADMSG);
	n++;
	CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, VMBS_CHMSG_MAX_SIZE + 1), -EBADMSG);
	n++;
	/* GPADL_HEADER: no ranges; ragged range bytes. */
	{
		struct vmbs_chmsg_gpadl_header gh = {
			.hdr = { VMBS_CHMSG_GPADL_HEADER, 0 },
			.child_relid = relid, .gpadl = 0x77,
			.range_buflen = 24, .range_cnt = 0,
		};

		memset(b, 0, sizeof(b));
		memcpy(b, &gh, sizeof(gh));
		CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 44), -EBADMSG);
		n++;
		gh.range_cnt = 1;
		memcpy(b, &gh, sizeof(gh));
		CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 43), -EBADMSG);
		n++;
	}
	/* GPADL_BODY: words not whole. */
	{
		struct vmbs_chmsg_gpadl_body gb = {
			.hdr = { VMBS_CHMSG_GPADL_BODY, 0 }, .msgnumber = 1, .gpadl = 0x10,
		};

		memset(b, 0, sizeof(b));
		memcpy(b, &gb, sizeof(gb));
		CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 29), -EBADMSG);
		n++;
	}
	st = vm_st();
	CU_ASSERT_EQUAL(st.malformed - st0.malformed, n);
	CU_ASSERT_EQUAL(st.msgs_rx - st0.msgs_rx, n);
	CU_ASSERT_EQUAL(st.out_of_state, st0.out_of_state);
	CU_ASSERT_EQUAL(st.bad_relid, st0.bad_relid);
	CU_ASSERT_EQUAL(st.msgs_tx, st0.msgs_tx);
	CU_ASSERT_EQUAL(cap.n, 0);
	/* Nothing changed. */
	CU_ASSERT_EQUAL(st.state, VMBS_VM_CONNECTED);
	CU_ASSERT_EQUAL(st.n_open, 1);
	CU_ASSERT_EQUAL(st.n_gpadls, 1);
	CU_ASSERT_EQUAL(st.unloads, 0);
	CU_ASSERT_EQUAL(vmbs_chan_state(chan_of(relid)), VMBS_CHAN_OPEN);

	/* Types the codec does not handle are "unsupported", not malformed. */
	for (i = 18; i < VMBS_CHMSG_TYPE_MAX; i++) {
		if (i == VMBS_CHMSG_MODIFYCHANNEL)
			continue;
		memset(b, 0, sizeof(b));
		h.msgtype = i;
		memcpy(b, &h, sizeof(h));
		CU_ASSERT_EQUAL(vmbs_vm_handle_msg(env.vm, b, 64), -EOPNOTSUPP);
	}
	st0 = st;
	st = vm_st();
	CU_ASSERT_EQUAL(st.unsupported - st0.unsupported, 11);
	CU_ASSERT_EQUAL(st.malformed, st0.malformed);
	CU_ASSERT_EQUAL(cap.n, 0);
	env_end();
}

static void
send_failures_are_counted(void)
{
	struct vmbs_vm_stats st;

	env_start(0);
	env_add_dev(0, 0x10, 1, 1);
	cap.fail = true;
	(void)g_contact(VMBS_VERSION(5, 3));
	st = vm_st();
	CU_ASSERT_EQUAL(st.send_errors, 1);
	CU_ASSERT_EQUAL(st.msgs_tx, 0);
	cap.fail = false;
	CU_ASSERT_EQUAL(cap.n, 0);
	env_end();
}

static void
create_and_add_device_validate(void)
{
	static const char long_name[] =
		"0123456789012345678901234567890123456789012345678901234567890123";
	struct vmbs_vm_params p = { .name = VM_NAME, .send = send_cb, .send_arg = &cap };
	struct tdev *t = &env.dev[0];
	struct vmbs_vm *vm;

	CU_ASSERT_PTR_NULL(vmbs_vm_create(NULL));
	CU_ASSERT_EQUAL(rte_errno, EINVAL);
	p.name = NULL;
	CU_ASSERT_PTR_NULL(vmbs_vm_create(&p));
	p.name = "";
	CU_ASSERT_PTR_NULL(vmbs_vm_create(&p));
	p.name = long_name;	/* 64 chars */
	CU_ASSERT_PTR_NULL(vmbs_vm_create(&p));
	CU_ASSERT_EQUAL(rte_errno, EINVAL);
	p.name = long_name + 1;	/* 63 chars */
	vm = vmbs_vm_create(&p);
	CU_ASSERT_PTR_NOT_NULL(vm);
	if (vm != NULL) {
		CU_ASSERT_STRING_EQUAL(vmbs_vm_name(vm), long_name + 1);
		CU_ASSERT_PTR_NOT_NULL(vmbs_vm_gm(vm));
		CU_ASSERT_PTR_NOT_NULL(vmbs_vm_gpadl_table(vm));
		CU_ASSERT_EQUAL(vmbs_vm_tick(vm), UINT32_MAX);
		CU_ASSERT_TRUE(vmbs_vm_ready(vm));
		vmbs_vm_free(vm);	/* never connected: free releases */
	}
	p.name = VM_NAME;
	p.send = NULL;
	CU_ASSERT_PTR_NULL(vmbs_vm_create(&p));
	CU_ASSERT_EQUAL(rte_errno, EINVAL);

	env_start(0);
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, NULL), -EINVAL);
	dev_init(t, 0x10, 0, 0);
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &t->d), -EINVAL);
	dev_init(t, 0x10, VMBS_VM_DEV_MAX_CHANNELS + 1, 1);
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &t->d), -EINVAL);
	dev_init(t, 0x10, 1, 2);
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &t->d), -EINVAL);
	dev_init(t, 0x10, 1, 1);
	t->d.chan.rx_cb = NULL;
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &t->d), -EINVAL);
	dev_init(t, 0x10, 1, 1);
	snprintf(t->d.vm_name, sizeof(t->d.vm_name), "another-vm");
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &t->d), -EINVAL);
	CU_ASSERT_EQUAL(vm_st().n_channels, 0);
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &t->d), -ENOENT);

	/* chan_attach failing midway: everything rolled back. */
	dev_init(t, 0x10, 3, 3);
	t->fail_idx = 1;
	t->fail_rc = -EIO;
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &t->d), -EIO);
	CU_ASSERT_EQUAL(t->attached[0], 1);
	CU_ASSERT_EQUAL(t->detached[0], 1);
	CU_ASSERT_EQUAL(t->detached[1], 0);
	CU_ASSERT_EQUAL(t->detached[2], 0);
	CU_ASSERT_EQUAL(vm_st().n_channels, 0);
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, 1));
	CU_ASSERT_EQUAL(vmbs_vm_remove_device(env.vm, &t->d), -ENOENT);

	/* Then it works, from relid 1, once. */
	env_add_dev(0, 0x10, 2, 1);
	CU_ASSERT_EQUAL(t->relid[0], 1);
	CU_ASSERT_EQUAL(t->relid[1], 2);
	CU_ASSERT_EQUAL(vmbs_vm_add_device(env.vm, &t->d), -EEXIST);
	CU_ASSERT_EQUAL(vm_st().n_channels, 2);
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, 0));
	CU_ASSERT_PTR_NULL(vmbs_vm_chan(env.vm, VMBS_VM_MAX_RELID + 1));
	CU_ASSERT_EQUAL(cap.n, 0);
	env_end();
}

static int
suite_cleanup(void)
{
	return env_cleanup() == 0 ? 0 : -1;
}

static const struct vmbs_test_case vm_cases[] = {
	{ "accepts_each_supported_version", accepts_each_supported_version },
	{ "refuses_unsupported_versions", refuses_unsupported_versions },
	{ "contact_when_connected_is_ignored", contact_when_connected_is_ignored },
	{ "messages_before_contact_are_ignored", messages_before_contact_are_ignored },
	{ "requestoffers_offers_each_channel", requestoffers_offers_each_channel },
	{ "subchannels_offered_on_request", subchannels_offered_on_request },
	{ "offer_channels_before_requestoffers_waits",
	  offer_channels_before_requestoffers_waits },
	{ "device_added_after_requestoffers_is_offered_at_once",
	  device_added_after_requestoffers_is_offered_at_once },
	{ "gpadl_create_success_and_failure", gpadl_create_success_and_failure },
	{ "open_channel_succeeds", open_channel_succeeds },
	{ "open_channel_failures", open_channel_failures },
	{ "packets_reach_rx_cb_and_complete", packets_reach_rx_cb_and_complete },
	{ "close_waits_for_g2h_drain", close_waits_for_g2h_drain },
	{ "close_with_empty_ring_is_immediate", close_with_empty_ring_is_immediate },
	{ "close_drain_times_out", close_drain_times_out },
	{ "teardown_of_mapped_ring_is_deferred", teardown_of_mapped_ring_is_deferred },
	{ "unload_closes_everything_and_reoffers", unload_closes_everything_and_reoffers },
	{ "unload_during_close_drain", unload_during_close_drain },
	{ "remove_device_rescinds_and_relid_waits", remove_device_rescinds_and_relid_waits },
	{ "remove_device_while_disconnected_frees_at_once",
	  remove_device_while_disconnected_frees_at_once },
	{ "rescinded_channel_freed_after_rx_returns",
	  rescinded_channel_freed_after_rx_returns },
	{ "relid_released_of_live_channel_is_ignored",
	  relid_released_of_live_channel_is_ignored },
	{ "mem_add_limits", mem_add_limits },
	{ "mem_del_refused_while_open", mem_del_refused_while_open },
	{ "doorbell_eventfd_rung_on_signal", doorbell_eventfd_rung_on_signal },
	{ "doorbell_refuses_non_eventfd", doorbell_refuses_non_eventfd },
	{ "release_waits_for_held_rx", release_waits_for_held_rx },
	{ "release_of_idle_vm_is_immediate", release_of_idle_vm_is_immediate },
	{ "server_sends_and_unload_cancels", server_sends_and_unload_cancels },
	{ "unload_answers_pending_teardown", unload_answers_pending_teardown },
	{ "rescind_during_close_drain", rescind_during_close_drain },
	{ "release_during_close_drain", release_during_close_drain },
	{ "orphaned_rx_completes_after_reopen", orphaned_rx_completes_after_reopen },
	{ "mem_add_while_open_keeps_polling", mem_add_while_open_keeps_polling },
	{ "vms_are_isolated", vms_are_isolated },
	{ "malformed_messages_are_counted_and_unanswered",
	  malformed_messages_are_counted_and_unanswered },
	{ "send_failures_are_counted", send_failures_are_counted },
	{ "create_and_add_device_validate", create_and_add_device_validate },
	{ NULL, NULL },
};

static const struct vmbs_test_suite vm_suite = {
	"vm", NULL, suite_cleanup, vm_cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &vm_suite, NULL };

	if (vmbs_test_eal_init("test_vm") != 0)
		return 1;
	return vmbs_test_run(suites);
}
