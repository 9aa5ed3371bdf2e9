/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Integration suite of the control plane: the attach server (lib/server,
 * lib/vm) in this process with the EAL, scripted guests (lib/client) on
 * the other end of the real socket, and a test device whose channels a
 * poller thread drives as a data-plane lcore would. The device echoes
 * inband packets and checksums GPA-direct data, or holds packets (a
 * downstream consumer that keeps mbufs) when told to.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "vmbs_client.h"
#include "vmbs_server.h"
#include "vmbs_test.h"

#define TDEV_MAX_CHANS 64
#define TDEV_MAX_HELD 1024
#define MAX_TDEVS 80

/* NIC class GUID on the wire (f8615163-df3e-46c5-913f-f2d2f965ed0e). */
static const uint8_t net_class[16] = {
	0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46,
	0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e,
};

struct tdev {
	struct vmbs_dev_desc desc;
	struct vmbs_chan *chans[TDEV_MAX_CHANS];	/* poller's view */
	uint32_t n_attach, n_detach;
	uint64_t rx_inband, rx_ext, ext_sum, rx_pending;
	uint64_t rx_before_close;	/* rx count when the closed cb ran */
	uint32_t n_closed;
	bool hold;			/* keep rx instead of completing */
	struct vmbs_rx *held[TDEV_MAX_HELD];
	uint32_t n_held;
};

/* The "data plane": one thread polling every attached channel. */
static struct {
	pthread_mutex_t lock;		/* devs[] and each dev's chans[] */
	struct tdev *devs[MAX_TDEVS];
	uint32_t n_devs;
	pthread_t thread;
	bool run;
} poller = { .lock = PTHREAD_MUTEX_INITIALIZER };

static char sock_dir[64];
static uint32_t sock_serial;

static void
rx_cb(struct vmbs_chan *chan, struct vmbs_rx *rx, const void *payload,
      uint32_t len, uint32_t flags)
{
	struct tdev *td = vmbs_chan_priv(chan);
	const struct vmbs_sgl *sgl;
	uint64_t sum = 0;
	uint32_t i, j;

	if (td->hold && td->n_held < TDEV_MAX_HELD) {
		td->held[td->n_held++] = rx;
		__atomic_fetch_add(&td->rx_inband, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!(flags & VMBS_RX_F_EXT_DATA)) {
		__atomic_fetch_add(&td->rx_inband, 1, __ATOMIC_RELAXED);
		vmbs_rx_complete(rx, payload, len);	/* echo */
		return;
	}
	if (vmbs_rx_get_ext_data(rx, VMBS_EXT_F_RO, &sgl) == VMBS_EPENDING) {
		__atomic_fetch_add(&td->rx_pending, 1, __ATOMIC_RELAXED);
		return;
	}
	for (i = 0; i < sgl->nseg; i++)
		for (j = 0; j < sgl->seg[i].len; j++)
			sum += ((const uint8_t *)(uintptr_t)sgl->seg[i].va)[j];
	__atomic_fetch_add(&td->ext_sum, sum, __ATOMIC_RELAXED);
	__atomic_fetch_add(&td->rx_ext, 1, __ATOMIC_RELAXED);
	vmbs_rx_complete(rx, &sum, sizeof(sum));
}

static void
closed_cb(struct vmbs_chan *chan)
{
	struct tdev *td = vmbs_chan_priv(chan);

	td->rx_before_close = __atomic_load_n(&td->rx_inband, __ATOMIC_RELAXED);
	td->n_closed++;
}

static int
chan_attach(void *priv, struct vmbs_chan *chan, uint16_t idx)
{
	struct tdev *td = priv;

	pthread_mutex_lock(&poller.lock);
	td->chans[idx] = chan;
	pthread_mutex_unlock(&poller.lock);
	td->n_attach++;
	return 0;
}

static void
chan_detach(void *priv, struct vmbs_chan *chan, uint16_t idx)
{
	struct tdev *td = priv;

	/* Once the lock is ours the poller is outside every channel. */
	pthread_mutex_lock(&poller.lock);
	CU_ASSERT_PTR_EQUAL(td->chans[idx], chan);
	td->chans[idx] = NULL;
	pthread_mutex_unlock(&poller.lock);
	td->n_detach++;
}

static void *
poller_main(void *arg)
{
	struct timespec ts = { 0, 20000 };

	RTE_SET_USED(arg);
	while (__atomic_load_n(&poller.run, __ATOMIC_ACQUIRE)) {
		uint32_t i, j, n = 0;

		pthread_mutex_lock(&poller.lock);
		for (i = 0; i < poller.n_devs; i++)
			for (j = 0; j < TDEV_MAX_CHANS; j++)
				if (poller.devs[i]->chans[j] != NULL)
					n += (uint32_t)vmbs_chan_poll(
						poller.devs[i]->chans[j], 0);
		pthread_mutex_unlock(&poller.lock);
		if (n == 0)
			nanosleep(&ts, NULL);
	}
	return NULL;
}

static void
tdev_init(struct tdev *td, const char *vm, uint8_t inst)
{
	memset(td, 0, sizeof(*td));
	snprintf(td->desc.vm_name, sizeof(td->desc.vm_name), "%s", vm);
	memcpy(td->desc.if_type, net_class, sizeof(net_class));
	memset(td->desc.if_instance, inst, sizeof(td->desc.if_instance));
	td->desc.n_channels = 1;
	td->desc.chan.rx_cb = rx_cb;
	td->desc.chan.state_cbs.closed = closed_cb;
	td->desc.chan.priv = td;
	td->desc.chan.quota = 128;
	td->desc.chan_attach = chan_attach;
	td->desc.chan_detach = chan_detach;
	td->desc.dev_priv = td;
	pthread_mutex_lock(&poller.lock);
	poller.devs[poller.n_devs++] = td;
	pthread_mutex_unlock(&poller.lock);
}

static void
poller_reset(void)
{
	pthread_mutex_lock(&poller.lock);
	poller.n_devs = 0;
	pthread_mutex_unlock(&poller.lock);
}

static void
sock_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/s%u", sock_dir, sock_serial++);
}

static struct vmbs_srv *
srv_start(char *path, size_t path_len)
{
	struct vmbs_srv_params sp;

	memset(&sp, 0, sizeof(sp));
	sock_path(path, path_len);
	sp.socket_path = path;
	sp.owner_uid = (uid_t)-1;
	sp.group_gid = (gid_t)-1;
	sp.drain_timeout_ms = 500;
	return vmbs_srv_create(&sp);
}

static int
cli_connect(const char *path, const char *vm, uint64_t mem, bool huge,
	    struct vmbs_cli **out)
{
	struct vmbs_cli_params cp;

	memset(&cp, 0, sizeof(cp));
	cp.socket_path = path;
	cp.vm_name = vm;
	cp.mem_size = mem;
	cp.hugepages = huge;
	cp.timeout_ms = 10000;
	return vmbs_cli_connect(&cp, out);
}

/* Wait (bounded) until @p pred holds; true if it did. */
#define WAIT_FOR(pred, ms) ({						\
	uint32_t _w;							\
	struct timespec _ts = { 0, 1000000 };				\
	for (_w = 0; !(pred) && _w < (ms); _w++)			\
		nanosleep(&_ts, NULL);					\
	(pred);								\
})

/* Echo one inband packet through the device and check the completion. */
static int
echo_once(struct vmbs_cli_chan *ch, uint64_t tid, const char *text)
{
	struct vmbs_pkt_desc d;
	uint8_t buf[512];
	int n, tries;

	n = vmbs_cli_chan_send_inband(ch, tid, VMBS_PKT_F_COMPLETION_REQUESTED,
				      text, (uint32_t)strlen(text));
	if (n != 0)
		return n;
	for (tries = 0; tries < 5000; tries++) {
		struct timespec ts = { 0, 1000000 };

		n = vmbs_cli_chan_recv(ch, &d, buf, sizeof(buf));
		if (n != -EAGAIN)
			break;
		nanosleep(&ts, NULL);
	}
	if (n < 0)
		return n;
	if (d.type != VMBS_PKT_COMP || d.trans_id != tid ||
	    n < (int)strlen(text) || memcmp(buf, text, strlen(text)) != 0)
		return -EBADMSG;
	return 0;
}

/* Run on the control thread: map / unmap a GPADL as a device would. */
struct map_arg {
	struct vmbs_srv *srv;
	const char *vm;
	uint32_t gpadl;
	const struct vmbs_gpadl_mapping *m;
	uint64_t sum;
	uint64_t len;
};

static int
map_call(void *arg)
{
	struct map_arg *a = arg;
	struct vmbs_vm *vm = vmbs_srv_vm_lookup(a->srv, a->vm);
	uint64_t off, contig;
	int rc;

	if (vm == NULL)
		return -ENOENT;
	rc = vmbs_gpadl_map(vmbs_vm_gpadl_table(vm), a->gpadl, VMBS_GPADL_F_RO,
			    &a->m);
	if (rc != 0)
		return rc;
	a->sum = 0;
	for (off = 0; off < a->len; off += contig) {
		const uint8_t *p = vmbs_gpadl_mapping_va(a->m, off, 1, &contig);
		uint64_t i;

		if (p == NULL)
			return -EFAULT;
		for (i = 0; i < contig; i += 4096)
			a->sum += p[i];
	}
	return 0;
}

static int
unmap_call(void *arg)
{
	struct map_arg *a = arg;
	struct vmbs_vm *vm = vmbs_srv_vm_lookup(a->srv, a->vm);

	if (vm == NULL)
		return -ENOENT;
	return vmbs_gpadl_unmap(vmbs_vm_gpadl_table(vm), a->gpadl);
}

/*
 * A server with one test device for @p vm, and a guest of it that has
 * negotiated and received exactly one offer. NULL if any step failed.
 */
static struct vmbs_srv *
setup_guest(struct tdev *td, const char *vm, uint8_t inst, char *path,
	    size_t path_len, uint64_t mem, struct vmbs_cli **cli,
	    struct vmbs_chmsg_offer *off)
{
	struct vmbs_srv *srv;
	uint32_t version, n = 0;

	tdev_init(td, vm, inst);
	srv = srv_start(path, path_len);
	if (srv == NULL)
		return NULL;
	if (vmbs_srv_add_device(srv, &td->desc) != 0 ||
	    cli_connect(path, vm, mem, false, cli) != 0) {
		vmbs_srv_destroy(srv, 1000);
		return NULL;
	}
	if (vmbs_cli_negotiate(*cli, &version) != 0 ||
	    vmbs_cli_request_offers(*cli, off, 1, &n) != 0 || n != 1) {
		vmbs_cli_destroy(*cli);
		vmbs_srv_destroy(srv, 1000);
		return NULL;
	}
	return srv;
}

/* ---- tests ---- */

/* Everything a netvsc-like guest does, in order, over the socket. */
static void
test_lifecycle(void)
{
	char path[108];
	struct tdev td;
	struct vmbs_srv *srv;
	struct vmbs_cli *cli;
	struct vmbs_cli_chan *ch;
	struct vmbs_chmsg_offer offers[4];
	struct vmbs_vm_stats vs;
	struct map_arg ma;
	uint32_t version = 0, n = 0, gpadl, i;
	uint64_t gpa, expect = 0;
	uint8_t *va;

	tdev_init(&td, "vm-life", 0x11);
	srv = srv_start(path, sizeof(path));
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_srv_add_device(srv, &td.desc) == 0);
	VMBS_CHECK(cli_connect(path, "vm-life", 64u << 20, true, &cli) == 0);
	CU_ASSERT_EQUAL(vmbs_cli_negotiate(cli, &version), 0);
	CU_ASSERT_EQUAL(version, VMBS_VERSION(5, 3));
	CU_ASSERT_EQUAL(vmbs_cli_request_offers(cli, offers, 4, &n), 0);
	VMBS_CHECK(n == 1);
	CU_ASSERT_EQUAL(memcmp(offers[0].if_type, net_class, 16), 0);
	CU_ASSERT_EQUAL(offers[0].if_instance[0], 0x11);
	CU_ASSERT_EQUAL(offers[0].sub_channel_index, 0);
	CU_ASSERT_EQUAL(td.n_attach, 1);

	VMBS_CHECK(vmbs_cli_chan_open(cli, offers[0].child_relid, 16, 16, &ch) == 0);
	for (i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(echo_once(ch, 1000 + i, "hello netvsp"), 0);

	/* A 31 MiB receive-buffer-sized GPADL, seen by the server. */
	VMBS_CHECK(vmbs_cli_alloc(cli, 31u << 20, 4096, &gpa) == 0);
	va = vmbs_cli_va(cli, gpa, 31u << 20);
	VMBS_CHECK(va != NULL);
	for (i = 0; i < (31u << 20) / 4096; i++) {
		va[(size_t)i * 4096] = (uint8_t)(i * 7 + 3);
		expect += (uint8_t)(i * 7 + 3);
	}
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_create(cli, offers[0].child_relid, gpa,
					      31u << 20, &gpadl), 0);
	ma = (struct map_arg){ .srv = srv, .vm = "vm-life", .gpadl = gpadl,
			       .len = 31u << 20 };
	CU_ASSERT_EQUAL(vmbs_srv_call(srv, map_call, &ma), 0);
	CU_ASSERT_EQUAL(ma.sum, expect);
	CU_ASSERT_EQUAL(vmbs_srv_call(srv, unmap_call, &ma), 0);

	CU_ASSERT_EQUAL(vmbs_srv_vm_stats(srv, "vm-life", &vs), 0);
	CU_ASSERT_EQUAL(vs.n_open, 1);
	CU_ASSERT_EQUAL(vs.n_gpadls, 2);
	CU_ASSERT_EQUAL(vs.version, VMBS_VERSION(5, 3));

	/* Close as Linux does: CLOSECHANNEL, then tear the ring down. */
	CU_ASSERT_EQUAL(vmbs_cli_chan_close(ch), 0);
	CU_ASSERT_EQUAL(td.n_closed, 1);
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_teardown(cli, offers[0].child_relid,
						gpadl, 0), 0);
	CU_ASSERT_EQUAL(vmbs_srv_vm_stats(srv, "vm-life", &vs), 0);
	CU_ASSERT_EQUAL(vs.n_open, 0);
	CU_ASSERT_EQUAL(vs.n_gpadls, 0);
	CU_ASSERT_EQUAL(vs.rx_outstanding, 0);
	CU_ASSERT_EQUAL(vs.malformed + vs.out_of_state + vs.bad_relid, 0);

	/* Reopen works after close; UNLOAD closes it for us. */
	VMBS_CHECK(vmbs_cli_chan_open(cli, offers[0].child_relid, 4, 4, &ch) == 0);
	CU_ASSERT_EQUAL(echo_once(ch, 7, "again"), 0);
	CU_ASSERT_EQUAL(vmbs_cli_unload(cli), 0);
	CU_ASSERT_EQUAL(vmbs_srv_vm_stats(srv, "vm-life", &vs), 0);
	CU_ASSERT_EQUAL(vs.n_open, 0);
	CU_ASSERT_EQUAL(vs.n_gpadls, 0);
	CU_ASSERT_EQUAL(vs.state, VMBS_VM_DISCONNECTED);
	/* A new contact after UNLOAD offers the same channel again. */
	CU_ASSERT_EQUAL(vmbs_cli_negotiate(cli, &version), 0);
	CU_ASSERT_EQUAL(vmbs_cli_request_offers(cli, offers, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);

	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	CU_ASSERT(WAIT_FOR(td.n_detach == 1, 5000));
	CU_ASSERT_EQUAL(vmbs_srv_vm_stats(srv, "vm-life", &vs), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

/* TORNDOWN only after the server unmapped the GPADL. */
static void
test_teardown_mapped(void)
{
	char path[108];
	struct tdev td;
	struct vmbs_srv *srv;
	struct vmbs_cli *cli;
	struct vmbs_chmsg_offer off;
	struct vmbs_chmsg m;
	struct map_arg ma;
	uint32_t gpadl;
	uint64_t gpa;
	uint8_t msg[VMBS_CHMSG_MAX_SIZE];
	int len;

	srv = setup_guest(&td, "vm-td", 0x22, path, sizeof(path), 16u << 20, &cli, &off);
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_cli_alloc(cli, 1u << 20, 4096, &gpa) == 0);
	VMBS_CHECK(vmbs_cli_gpadl_create(cli, off.child_relid, gpa, 1u << 20,
					 &gpadl) == 0);
	ma = (struct map_arg){ .srv = srv, .vm = "vm-td", .gpadl = gpadl,
			       .len = 1u << 20 };
	VMBS_CHECK(vmbs_srv_call(srv, map_call, &ma) == 0);

	len = vmbs_chmsg_encode_gpadl_teardown(msg, sizeof(msg), off.child_relid,
					       gpadl);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, msg, (uint32_t)len), 0);
	/* Mapped: no TORNDOWN yet, however long the guest waits. */
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_GPADL_TORNDOWN, &m, 300),
			-ETIMEDOUT);
	/* A second teardown while the first is pending is ignored. */
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, msg, (uint32_t)len), 0);
	/* The mapping stays usable until the server lets go. */
	CU_ASSERT_EQUAL(vmbs_srv_call(srv, unmap_call, &ma), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_GPADL_TORNDOWN, &m, 0), 0);
	CU_ASSERT_EQUAL(m.u.gpadl_torndown.gpadl, gpadl);
	/* Exactly one TORNDOWN. */
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_GPADL_TORNDOWN, &m, 200),
			-ETIMEDOUT);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

/* Packets written right before CLOSECHANNEL are delivered before close. */
static void
test_close_drains_ring(void)
{
	char path[108];
	struct tdev td;
	struct vmbs_srv *srv;
	struct vmbs_cli *cli;
	struct vmbs_cli_chan *ch;
	struct vmbs_chmsg_offer off;
	uint32_t i;

	srv = setup_guest(&td, "vm-drain", 0x33, path, sizeof(path), 16u << 20, &cli, &off);
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_cli_chan_open(cli, off.child_relid, 32, 32, &ch) == 0);
	for (i = 0; i < 200; i++)
		VMBS_CHECK(vmbs_cli_chan_send_inband(ch, i, 0, "revoke", 6) == 0);
	CU_ASSERT_EQUAL(vmbs_cli_chan_close(ch), 0);
	CU_ASSERT_EQUAL(td.n_closed, 1);
	CU_ASSERT_EQUAL(td.rx_before_close, 200);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

struct traffic {
	struct vmbs_cli_chan *ch;
	uint64_t sent;
	bool stop;
};

static void *
traffic_main(void *arg)
{
	struct traffic *t = arg;
	struct vmbs_pkt_desc d;
	uint8_t buf[256];

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		if (vmbs_cli_chan_send_inband(t->ch, t->sent,
					      VMBS_PKT_F_COMPLETION_REQUESTED,
					      "mid-traffic", 11) == 0)
			t->sent++;
		while (vmbs_cli_chan_recv(t->ch, &d, buf, sizeof(buf)) >= 0)
			;
	}
	return NULL;
}

/* A VM dies mid-traffic while the device still holds some of its packets:
 * it stays a zombie (memory mapped) until they are completed.
 */
static void
test_disconnect_mid_traffic(void)
{
	char path[108];
	struct tdev td;
	struct vmbs_srv *srv;
	struct vmbs_cli *cli;
	struct vmbs_cli_chan *ch;
	struct vmbs_chmsg_offer off;
	struct vmbs_srv_stats ss;
	struct traffic t;
	pthread_t th;
	uint32_t i;
	struct timespec ts = { 0, 200000000 };

	srv = setup_guest(&td, "vm-die", 0x44, path, sizeof(path), 16u << 20, &cli, &off);
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_cli_chan_open(cli, off.child_relid, 64, 64, &ch) == 0);

	memset(&t, 0, sizeof(t));
	t.ch = ch;
	VMBS_CHECK(pthread_create(&th, NULL, traffic_main, &t) == 0);
	nanosleep(&ts, NULL);
	/* From now on the device keeps what it gets, like a slow NIC. */
	pthread_mutex_lock(&poller.lock);
	td.hold = true;
	pthread_mutex_unlock(&poller.lock);
	CU_ASSERT(WAIT_FOR(__atomic_load_n(&td.n_held, __ATOMIC_RELAXED) >= 10,
			   5000));
	__atomic_store_n(&t.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CU_ASSERT(t.sent > 10);
	vmbs_cli_destroy(cli);	/* no goodbye: the VM died */

	/* Deliveries stopped and the device let go of the channel... */
	CU_ASSERT(WAIT_FOR(td.n_detach == 1, 5000));
	/* ...but the memory stays mapped while packets are held. */
	vmbs_srv_stats_get(srv, &ss);
	CU_ASSERT_EQUAL(ss.vms_attached, 0);
	CU_ASSERT_EQUAL(ss.vms_zombie, 1);
	/* A new session for the same VM waits for the old one. */
	CU_ASSERT_EQUAL(cli_connect(path, "vm-die", 0, false, &cli), -EBUSY);

	for (i = 0; i < td.n_held; i++)
		vmbs_rx_complete(td.held[i], NULL, 0);
	CU_ASSERT(WAIT_FOR((vmbs_srv_stats_get(srv, &ss), ss.vms_zombie == 0), 5000));
	CU_ASSERT_EQUAL(cli_connect(path, "vm-die", 0, false, &cli), 0);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

/* Connect, send @p buf raw; expect the server to hang up. */
static int
garbage_one(const char *path, const void *buf, size_t len, const int *fds,
	    uint32_t n_fds)
{
	struct vmbs_cli *cli;
	int32_t err = 0;
	int rc, i;

	rc = cli_connect(path, "vm-junk", 0, false, &cli);
	if (rc != 0)
		return rc;
	rc = vmbs_cli_send_raw(cli, buf, len, fds, n_fds);
	if (rc != 0)
		goto out;
	for (i = 0; i < 50 && !vmbs_cli_disconnected(cli); i++)
		if (vmbs_cli_pump(cli, 100, &err) == -ECONNRESET)
			break;
	rc = vmbs_cli_disconnected(cli) ? 0 : -EAGAIN;
out:
	vmbs_cli_destroy(cli);
	return rc;
}

static void
test_garbage(void)
{
	char path[108];
	struct tdev td;
	struct vmbs_srv *srv;
	struct vmbs_cli *cli;
	struct vmbs_srv_stats ss;
	struct vmbs_att_hdr h;
	uint8_t big[4096], frame[64];
	struct vmbs_att_mem_add ma;
	int32_t err = 0;
	uint32_t version;
	int efd[2], rc, i;

	tdev_init(&td, "vm-junk", 0x55);
	srv = srv_start(path, sizeof(path));
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_srv_add_device(srv, &td.desc) == 0);
	VMBS_CHECK(pipe(efd) == 0);

	/* Short frame, unknown type, length lie, oversize datagram. */
	CU_ASSERT_EQUAL(garbage_one(path, "abc", 3, NULL, 0), 0);
	memset(&h, 0, sizeof(h));
	h.type = 99;
	CU_ASSERT_EQUAL(garbage_one(path, &h, sizeof(h), NULL, 0), 0);
	h.type = VMBS_ATT_MEM_DEL;
	h.len = 200;
	CU_ASSERT_EQUAL(garbage_one(path, &h, sizeof(h), NULL, 0), 0);
	memset(big, 0xa5, sizeof(big));
	CU_ASSERT_EQUAL(garbage_one(path, big, sizeof(big), NULL, 0), 0);
	/* Wrong fd counts: MEM_ADD without one, MEM_DEL with one. */
	memset(&ma, 0, sizeof(ma));
	ma.gpa = 1u << 30;
	ma.size = 1u << 20;
	rc = vmbs_att_encode(frame, sizeof(frame), VMBS_ATT_MEM_ADD, 0, 1, 0, &ma,
			     sizeof(ma));
	CU_ASSERT_EQUAL(garbage_one(path, frame, (size_t)rc, NULL, 0), 0);
	rc = vmbs_att_encode(frame, sizeof(frame), VMBS_ATT_MEM_DEL, 0, 1, 0, &ma,
			     8);
	CU_ASSERT_EQUAL(garbage_one(path, frame, (size_t)rc, efd, 1), 0);
	vmbs_srv_stats_get(srv, &ss);
	CU_ASSERT(ss.protocol_errors >= 6);
	CU_ASSERT_EQUAL(ss.vms_attached, 0);
	CU_ASSERT_EQUAL(ss.vms_zombie, 0);

	/* A well-formed session survives bad requests and bad messages. */
	VMBS_CHECK(cli_connect(path, "vm-junk", 4u << 20, false, &cli) == 0);
	/* Overlapping region, oversize region, a pipe as memory. */
	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, VMBS_CLI_MEM_BASE + 4096, 8192,
					 false), -EEXIST);
	memset(&ma, 0, sizeof(ma));
	ma.gpa = 1ull << 45;
	ma.size = 1ull << 44;
	CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_MEM_ADD, &ma, sizeof(ma),
					 efd[0], NULL, NULL), -E2BIG);
	ma.size = 1u << 20;
	CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_MEM_ADD, &ma, sizeof(ma),
					 efd[0], NULL, NULL), -EINVAL);
	/* Undecodable channel messages: ERROR, connection kept. */
	for (i = 0; i < 20; i++) {
		uint8_t junk[40];

		memset(junk, i * 13, sizeof(junk));
		junk[0] = (uint8_t)(i % 3 == 0 ? 8 : 200 + i);	/* GPADL_HEADER or bad */
		junk[1] = junk[2] = junk[3] = 0;
		CU_ASSERT_EQUAL(vmbs_cli_post(cli, junk, sizeof(junk)), 0);
	}
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, 200, &err), 0);
	CU_ASSERT_EQUAL(err, -EBADMSG);
	CU_ASSERT_FALSE(vmbs_cli_disconnected(cli));
	CU_ASSERT_EQUAL(vmbs_cli_negotiate(cli, &version), 0);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	close(efd[0]);
	close(efd[1]);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

static void
test_peer_not_allowed(void)
{
	char path[108];
	struct vmbs_srv_params sp;
	struct vmbs_srv *srv;
	struct vmbs_srv_stats ss;
	struct vmbs_cli *cli;
	struct tdev td;
	struct stat sb;
	pid_t pid;
	int status;

	tdev_init(&td, "vm-acl", 0x66);
	memset(&sp, 0, sizeof(sp));
	sock_path(path, sizeof(path));
	sp.socket_path = path;
	sp.owner_uid = (uid_t)-1;
	sp.group_gid = (gid_t)-1;
	sp.allow_uids[0] = 4242;	/* not us */
	sp.n_allow_uids = 1;
	srv = vmbs_srv_create(&sp);
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_srv_add_device(srv, &td.desc) == 0);
	/* Owner-only socket file. */
	VMBS_CHECK(stat(path, &sb) == 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	/* SO_PEERCRED: our uid is not on the list. */
	CU_ASSERT_EQUAL(cli_connect(path, "vm-acl", 0, false, &cli), -EACCES);
	vmbs_srv_stats_get(srv, &ss);
	CU_ASSERT_EQUAL(ss.refused_creds, 1);
	CU_ASSERT_EQUAL(ss.vms_attached, 0);
	/* Another uid cannot even connect to the 0600 file. */
	if (geteuid() == 0) {
		pid = fork();
		VMBS_CHECK(pid >= 0);
		if (pid == 0) {
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			int fd;

			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(2);
			fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			memcpy(sa.sun_path, path, strlen(path) + 1);
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
				_exit(1);
			_exit(errno == EACCES ? 0 : 3);
		}
		VMBS_CHECK(waitpid(pid, &status, 0) == pid);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

static int
open_msg(uint8_t *buf, size_t len, uint32_t relid, uint32_t gpadl)
{
	struct vmbs_chmsg_open o;

	memset(&o, 0, sizeof(o));
	o.child_relid = relid;
	o.openid = relid;
	o.ring_gpadl = gpadl;
	o.downstream_page_offset = 2;
	return vmbs_chmsg_encode_open(buf, len, &o);
}

/* VM B names VM A's relid and GPADL: refused, and A is untouched. */
static void
test_cross_vm(void)
{
	char path[108];
	struct tdev ta0, ta1, tb;
	struct vmbs_srv *srv;
	struct vmbs_cli *a, *b;
	struct vmbs_cli_chan *cha, *chb;
	struct vmbs_chmsg_offer offa[4], offb[4];
	struct vmbs_chmsg m;
	struct vmbs_vm_stats vs;
	uint8_t msg[VMBS_CHMSG_MAX_SIZE];
	uint32_t version, na, nb, ga, foreign_relid;
	uint64_t gpa, pfn;
	int len;

	tdev_init(&ta0, "vm-a", 0xa0);
	tdev_init(&ta1, "vm-a", 0xa1);
	tdev_init(&tb, "vm-b", 0xb0);
	srv = srv_start(path, sizeof(path));
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_srv_add_device(srv, &ta0.desc) == 0);
	VMBS_CHECK(vmbs_srv_add_device(srv, &ta1.desc) == 0);
	VMBS_CHECK(vmbs_srv_add_device(srv, &tb.desc) == 0);
	VMBS_CHECK(cli_connect(path, "vm-a", 16u << 20, false, &a) == 0);
	VMBS_CHECK(cli_connect(path, "vm-b", 16u << 20, false, &b) == 0);
	VMBS_CHECK(vmbs_cli_negotiate(a, &version) == 0);
	VMBS_CHECK(vmbs_cli_negotiate(b, &version) == 0);
	VMBS_CHECK(vmbs_cli_request_offers(a, offa, 4, &na) == 0 && na == 2);
	VMBS_CHECK(vmbs_cli_request_offers(b, offb, 4, &nb) == 0 && nb == 1);
	foreign_relid = offa[0].child_relid == offb[0].child_relid ?
			offa[1].child_relid : offa[0].child_relid;

	VMBS_CHECK(vmbs_cli_chan_open(a, offa[0].child_relid, 4, 4, &cha) == 0);
	VMBS_CHECK(vmbs_cli_alloc(a, 1u << 20, 4096, &gpa) == 0);
	VMBS_CHECK(vmbs_cli_gpadl_create(a, offa[0].child_relid, gpa, 1u << 20,
					 &ga) == 0);

	/* B opens its own channel on A's GPADL id: not in B's table. */
	len = open_msg(msg, sizeof(msg), offb[0].child_relid, ga);
	VMBS_CHECK(len > 0);
	CU_ASSERT_EQUAL(vmbs_cli_post(b, msg, (uint32_t)len), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(b, VMBS_CHMSG_OPENCHANNEL_RESULT, &m, 0), 0);
	CU_ASSERT_NOT_EQUAL(m.u.open_result.status, 0);
	/* B opens A's relid (unknown to B). */
	len = open_msg(msg, sizeof(msg), foreign_relid, ga);
	CU_ASSERT_EQUAL(vmbs_cli_post(b, msg, (uint32_t)len), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(b, VMBS_CHMSG_OPENCHANNEL_RESULT, &m, 0), 0);
	CU_ASSERT_NOT_EQUAL(m.u.open_result.status, 0);
	/* B creates a GPADL on A's relid: failed. */
	pfn = (VMBS_CLI_MEM_BASE >> 12) + 100;
	{
		uint8_t ranges[16];
		uint32_t bc = 4096, bo = 0;

		memcpy(ranges, &bc, 4);
		memcpy(ranges + 4, &bo, 4);
		memcpy(ranges + 8, &pfn, 8);
		len = vmbs_chmsg_encode_gpadl_header(msg, sizeof(msg), foreign_relid,
						     0x7777, 16, 1, ranges, 16);
	}
	VMBS_CHECK(len > 0);
	CU_ASSERT_EQUAL(vmbs_cli_post(b, msg, (uint32_t)len), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(b, VMBS_CHMSG_GPADL_CREATED, &m, 0), 0);
	CU_ASSERT_EQUAL(m.u.gpadl_created.creation_status, VMBS_GPADL_STATUS_FAILURE);
	/* B tears down A's GPADL and A's ring GPADL: ignored. */
	len = vmbs_chmsg_encode_gpadl_teardown(msg, sizeof(msg), offa[0].child_relid,
					       ga);
	CU_ASSERT_EQUAL(vmbs_cli_post(b, msg, (uint32_t)len), 0);
	len = vmbs_chmsg_encode_gpadl_teardown(msg, sizeof(msg), offa[0].child_relid,
					       vmbs_cli_chan_ring_gpadl(cha));
	CU_ASSERT_EQUAL(vmbs_cli_post(b, msg, (uint32_t)len), 0);
	/* B closes A's relid: ignored. */
	len = vmbs_chmsg_encode_close(msg, sizeof(msg), foreign_relid);
	CU_ASSERT_EQUAL(vmbs_cli_post(b, msg, (uint32_t)len), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(b, VMBS_CHMSG_GPADL_TORNDOWN, &m, 300),
			-ETIMEDOUT);

	/* A is untouched: its channel works, its GPADLs are intact. */
	CU_ASSERT_EQUAL(echo_once(cha, 5, "still mine"), 0);
	CU_ASSERT_EQUAL(vmbs_srv_vm_stats(srv, "vm-a", &vs), 0);
	CU_ASSERT_EQUAL(vs.n_gpadls, 2);
	CU_ASSERT_EQUAL(vs.n_open, 1);
	CU_ASSERT_EQUAL(vmbs_srv_vm_stats(srv, "vm-b", &vs), 0);
	CU_ASSERT(vs.bad_relid >= 3);
	CU_ASSERT_EQUAL(vs.n_gpadls, 0);
	CU_ASSERT_EQUAL(vs.n_open, 0);
	/* B's own channel still opens. */
	CU_ASSERT_EQUAL(vmbs_cli_chan_open(b, offb[0].child_relid, 4, 4, &chb), 0);
	CU_ASSERT_EQUAL(echo_once(chb, 6, "b's own"), 0);

	CU_ASSERT_EQUAL(vmbs_cli_goodbye(a), 0);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(b), 0);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

#define MANY 64

static void
test_64_vms(void)
{
	static struct tdev tds[MANY];
	char path[108], name[32];
	struct vmbs_srv *srv;
	struct vmbs_cli *cli[MANY];
	struct vmbs_cli_chan *ch[MANY];
	struct vmbs_srv_stats ss;
	struct vmbs_chmsg_offer off;
	uint32_t i, version, n, attached = 0, echoed = 0;

	srv = srv_start(path, sizeof(path));
	VMBS_CHECK(srv != NULL);
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "vm-many-%u", i);
		tdev_init(&tds[i], name, (uint8_t)i);
		VMBS_CHECK(vmbs_srv_add_device(srv, &tds[i].desc) == 0);
	}
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "vm-many-%u", i);
		VMBS_CHECK(cli_connect(path, name, 2u << 20, true, &cli[i]) == 0);
	}
	vmbs_srv_stats_get(srv, &ss);
	CU_ASSERT_EQUAL(ss.vms_attached, MANY);
	for (i = 0; i < MANY; i++) {
		if (vmbs_cli_negotiate(cli[i], &version) != 0 ||
		    vmbs_cli_request_offers(cli[i], &off, 1, &n) != 0 || n != 1 ||
		    vmbs_cli_chan_open(cli[i], off.child_relid, 4, 4, &ch[i]) != 0) {
			ch[i] = NULL;
			continue;
		}
		attached++;
	}
	CU_ASSERT_EQUAL(attached, MANY);
	for (i = 0; i < MANY; i++)
		if (ch[i] != NULL && echo_once(ch[i], i, "many") == 0)
			echoed++;
	CU_ASSERT_EQUAL(echoed, MANY);
	for (i = 0; i < MANY; i++) {
		if (ch[i] != NULL)
			CU_ASSERT_EQUAL(vmbs_cli_chan_close(ch[i]), 0);
		CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli[i]), 0);
	}
	CU_ASSERT(WAIT_FOR((vmbs_srv_stats_get(srv, &ss),
			    ss.vms_attached == 0 && ss.vms_zombie == 0), 5000));
	for (i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL(tds[i].n_attach, tds[i].n_detach);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

static void
test_versions_and_identity(void)
{
	char path[108];
	struct tdev td;
	struct vmbs_srv *srv;
	struct vmbs_cli_params cp;
	struct vmbs_cli *cli, *dup;
	struct vmbs_chmsg_offer off;
	uint32_t n;

	tdev_init(&td, "vm-ver", 0x77);
	srv = srv_start(path, sizeof(path));
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_srv_add_device(srv, &td.desc) == 0);
	/* Attach protocol 2.0: refused. */
	memset(&cp, 0, sizeof(cp));
	cp.socket_path = path;
	cp.vm_name = "vm-ver";
	cp.version = VMBS_ATT_VERSION(2, 0);
	CU_ASSERT_EQUAL(vmbs_cli_connect(&cp, &cli), -EPROTONOSUPPORT);
	/* Unknown VM. */
	CU_ASSERT_EQUAL(cli_connect(path, "vm-nobody", 0, false, &cli), -ENOENT);
	VMBS_CHECK(cli_connect(path, "vm-ver", 0, false, &cli) == 0);
	/* The same VM twice. */
	CU_ASSERT_EQUAL(cli_connect(path, "vm-ver", 0, false, &dup), -EBUSY);
	/* VMBus versions: too new, too old, junk; then a good one. */
	CU_ASSERT_EQUAL(vmbs_cli_initiate(cli, VMBS_VERSION(6, 0)), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(vmbs_cli_initiate(cli, VMBS_VERSION(2, 4)), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(vmbs_cli_initiate(cli, 0x12345678), -EPROTONOSUPPORT);
	/* Before contact, offers are not given. */
	{
		uint8_t msg[16];
		struct vmbs_chmsg m;
		int len = vmbs_chmsg_encode_requestoffers(msg, sizeof(msg));

		CU_ASSERT_EQUAL(vmbs_cli_post(cli, msg, (uint32_t)len), 0);
		CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_OFFERCHANNEL, &m,
						  300), -ETIMEDOUT);
	}
	CU_ASSERT_EQUAL(vmbs_cli_initiate(cli, VMBS_VERSION(4, 0)), 0);
	CU_ASSERT_EQUAL(vmbs_cli_request_offers(cli, &off, 1, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

/* Device removed while the guest uses it: RESCIND, then RELID_RELEASED. */
static void
test_rescind(void)
{
	char path[108];
	struct tdev td;
	struct vmbs_srv *srv;
	struct vmbs_cli *cli;
	struct vmbs_cli_chan *ch;
	struct vmbs_chmsg_offer off;
	struct vmbs_chmsg m;
	struct vmbs_vm_stats vs;
	uint8_t msg[16];
	int len;

	srv = setup_guest(&td, "vm-resc", 0x88, path, sizeof(path), 16u << 20, &cli, &off);
	VMBS_CHECK(srv != NULL);
	VMBS_CHECK(vmbs_cli_chan_open(cli, off.child_relid, 4, 4, &ch) == 0);
	CU_ASSERT_EQUAL(echo_once(ch, 1, "before"), 0);
	CU_ASSERT_EQUAL(vmbs_srv_remove_device(srv, &td.desc), 0);
	CU_ASSERT_EQUAL(td.n_detach, 1);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_RESCIND_CHANNELOFFER, &m,
					  0), 0);
	CU_ASSERT_EQUAL(m.u.relid.child_relid, off.child_relid);
	/* The ring GPADL is the guest's to tear down, then it releases. */
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_teardown(cli, off.child_relid,
						vmbs_cli_chan_ring_gpadl(ch), 0), 0);
	len = vmbs_chmsg_encode_relid_released(msg, sizeof(msg), off.child_relid);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, msg, (uint32_t)len), 0);
	CU_ASSERT(WAIT_FOR((vmbs_srv_vm_stats(srv, "vm-resc", &vs),
			    vs.n_channels == 0), 5000));
	CU_ASSERT_EQUAL(vs.n_gpadls, 0);
	CU_ASSERT_EQUAL(vs.rescinds, 1);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	CU_ASSERT_EQUAL(vmbs_srv_destroy(srv, 1000), 0);
	poller_reset();
}

/* Sharing one server per socket path (application and PMD ports). */
static void
test_acquire_shared(void)
{
	char path[108];
	struct vmbs_srv_params sp;
	struct vmbs_srv *s1, *s2;
	struct stat sb;

	memset(&sp, 0, sizeof(sp));
	sock_path(path, sizeof(path));
	sp.socket_path = path;
	sp.owner_uid = (uid_t)-1;
	sp.group_gid = (gid_t)-1;
	s1 = vmbs_srv_acquire(&sp);
	VMBS_CHECK(s1 != NULL);
	sp.max_vms = 3;	/* ignored: the server exists */
	s2 = vmbs_srv_acquire(&sp);
	CU_ASSERT_PTR_EQUAL(s1, s2);
	CU_ASSERT_STRING_EQUAL(vmbs_srv_socket_path(s1), path);
	CU_ASSERT_EQUAL(vmbs_srv_release(s2, 100), 0);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);	/* still listening */
	CU_ASSERT_EQUAL(vmbs_srv_release(s1, 100), 0);
	CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);	/* gone with the last */
}

static int
suite_init(void)
{
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/vmbs-attach-XXXXXX");
	if (mkdtemp(sock_dir) == NULL)
		return -1;
	__atomic_store_n(&poller.run, true, __ATOMIC_RELEASE);
	return pthread_create(&poller.thread, NULL, poller_main, NULL) == 0 ? 0 : -1;
}

static int
suite_cleanup(void)
{
	__atomic_store_n(&poller.run, false, __ATOMIC_RELEASE);
	pthread_join(poller.thread, NULL);
	rmdir(sock_dir);
	return 0;
}

static const struct vmbs_test_case cases[] = {
	{ "full_lifecycle_over_socket", test_lifecycle },
	{ "torndown_only_after_unmap", test_teardown_mapped },
	{ "close_drains_g2h_ring_first", test_close_drains_ring },
	{ "vm_dies_mid_traffic_memory_held_until_released",
	  test_disconnect_mid_traffic },
	{ "garbage_frames_and_messages", test_garbage },
	{ "peer_uid_not_allowed", test_peer_not_allowed },
	{ "cross_vm_relid_and_gpadl_refused", test_cross_vm },
	{ "sixty_four_vms", test_64_vms },
	{ "protocol_versions_and_identity", test_versions_and_identity },
	{ "rescind_and_relid_released", test_rescind },
	{ "one_server_per_socket_path", test_acquire_shared },
	{ NULL, NULL },
};

static const struct vmbs_test_suite suite = {
	"attach_server", suite_init, suite_cleanup, cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &suite, NULL };

	signal(SIGPIPE, SIG_IGN);
	if (vmbs_test_eal_init("test_attach_srv") != 0)
		return 1;
	return vmbs_test_run(suites);
}
