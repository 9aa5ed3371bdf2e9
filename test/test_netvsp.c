/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * netvsp end to end: the engine (lib/netvsp) as a device of the attach
 * server (lib/server) in this process, a poller thread as the data plane
 * (vmbs_nv_poll() on every queue), and the scripted netvsc guest
 * (test/common/nv_guest) on the real socket, playing DPDK 22.11's netvsc
 * PMD. The host side uses the engine's public API only; the poller also
 * runs lib/chan's slow-path service (GPA-direct pages), as a PMD's service
 * lcore would. NVG_DEBUG=1 in the environment logs every host packet.
 *
 * Every wait is bounded (the guest's 3 s timeout, PUMP_UNTIL); a test
 * that stops at a fatal assertion leaves its environment to the next
 * env_slot(), so one failure never cascades.
 *
 * Golden bytes are written by hand from the wire reference (b.2, b.4,
 * b.5) and the netvsc-guest reference (1.7); the fields the host chooses
 * are computed from the documented rules (slot size, slot count).
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_service.h>

#include "nv_guest.h"
#include "vmbs_netvsp.h"
#include "vmbs_server.h"
#include "vmbs_test.h"

#define HCAP_MAX 8192u
#define MAX_NICS 4u

static const uint8_t nic_mac[6] = { 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03 };
static const uint8_t src_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast_a[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t mcast_b[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x02 };
static const uint8_t other_mac[6] = { 0x00, 0x15, 0x5d, 0x09, 0x09, 0x09 };

/* One frame the engine handed to rx_frames. */
struct hframe {
	uint16_t queue;
	uint32_t len;
	uint32_t nseg;
	uint8_t *data;
	struct vmbs_rndis_ppi_info ppi;
};

/* The host side: frames delivered, and the data-plane thread. */
static struct {
	pthread_mutex_t lock;		/* the frames */
	pthread_mutex_t poll_lock;	/* nics[] */
	struct hframe f[HCAP_MAX];
	uint32_t n;
	uint64_t reqs;
	uint64_t lost;
	struct vmbs_nv *nics[MAX_NICS];
	uint16_t nq[MAX_NICS];
	pthread_t thread;
	bool run;
} host = { .lock = PTHREAD_MUTEX_INITIALIZER, .poll_lock = PTHREAD_MUTEX_INITIALIZER };

static char sock_dir[64];
static uint32_t serial;

/* One server + NIC + guest. */
struct env {
	struct vmbs_srv *srv;
	struct vmbs_nv *nic;
	struct nvg *g;
	char path[108];
	char vm[32];
	struct vmbs_nv_params np;
	struct nvg_params gp;
};

struct env_cfg {
	uint16_t queues;		/* engine max_queues; 0: 1 */
	uint32_t mtu;			/* engine MTU; 0: 1500 */
	uint32_t nvsp_max;		/* 0: 6.1 */
	uint32_t recv_buf;		/* guest receive buffer; 0: 2 MiB */
	const uint32_t *versions;	/* guest INIT list; NULL: DPDK's */
	uint32_t n_versions;
};

/* ---- host side ---- */

static void
rx_frames_cb(void *arg, uint16_t queue, struct vmbs_rx *req, const struct vmbs_nv_frame *frames,
	     uint32_t n)
{
	uint32_t i, j, off;

	RTE_SET_USED(arg);
	pthread_mutex_lock(&host.lock);
	host.reqs++;
	for (i = 0; i < n; i++) {
		struct hframe *h;

		if (host.n == HCAP_MAX) {
			host.lost++;
			continue;
		}
		h = &host.f[host.n];
		h->data = malloc(frames[i].len);
		if (h->data == NULL) {
			host.lost++;
			continue;
		}
		for (j = 0, off = 0; j < frames[i].nseg; j++) {
			if (off + frames[i].seg[j].len > frames[i].len)
				break;
			memcpy(h->data + off, frames[i].seg[j].va, frames[i].seg[j].len);
			off += frames[i].seg[j].len;
		}
		/* A frame whose segments do not add up is recorded empty. */
		h->len = off == frames[i].len ? frames[i].len : 0;
		h->nseg = frames[i].nseg;
		h->queue = frames[i].queue;
		h->ppi = frames[i].ppi;
		if (frames[i].queue != queue)
			h->len = 0;
		host.n++;
	}
	pthread_mutex_unlock(&host.lock);
	vmbs_nv_req_done(req, true);
}

static int
offer_cb(void *arg, const struct vmbs_dev_desc *d, uint16_t n)
{
	struct env *e = arg;
	struct vmbs_vm *vm = vmbs_srv_vm_lookup(e->srv, e->vm);

	if (vm == NULL)
		return -ENOENT;
	return vmbs_vm_offer_channels(vm, d, n);
}

/*
 * The data plane: polls every queue of every NIC and runs lib/chan's slow
 * path (the service that makes GPA-direct pages resident), as a PMD's
 * lcores and a service lcore would. Registered with the EAL for that.
 */
static void *
poller_main(void *arg)
{
	struct timespec ts = { 0, 20000 };
	uint32_t sp_id;
	bool have_sp = false;

	RTE_SET_USED(arg);
	if (rte_thread_register() != 0)
		return NULL;
	while (__atomic_load_n(&host.run, __ATOMIC_ACQUIRE)) {
		uint32_t i;
		uint16_t q;
		int n = 0;

		if (!have_sp)
			have_sp = vmbs_chan_sp_service_id(&sp_id) == 0;
		if (have_sp)
			rte_service_run_iter_on_app_lcore(sp_id, 1);
		/* poll_lock keeps a NIC alive while it is polled. */
		pthread_mutex_lock(&host.poll_lock);
		for (i = 0; i < MAX_NICS; i++) {
			if (host.nics[i] == NULL)
				continue;
			for (q = 0; q < host.nq[i]; q++)
				n += vmbs_nv_poll(host.nics[i], q, 0);
		}
		pthread_mutex_unlock(&host.poll_lock);
		if (n == 0)
			nanosleep(&ts, NULL);
	}
	rte_thread_unregister();
	return NULL;
}

static void
host_clear(void)
{
	uint32_t i;

	pthread_mutex_lock(&host.lock);
	for (i = 0; i < host.n; i++)
		free(host.f[i].data);
	host.n = 0;
	host.reqs = 0;
	host.lost = 0;
	pthread_mutex_unlock(&host.lock);
}

static uint32_t
host_count(void)
{
	uint32_t n;

	pthread_mutex_lock(&host.lock);
	n = host.n;
	pthread_mutex_unlock(&host.lock);
	return n;
}

/* Wait (bounded) until the host got @p n frames; pumps the guest meanwhile. */
static bool
host_wait(struct nvg *g, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < 5000; i++) {
		if (host_count() >= n)
			return true;
		if (g != NULL)
			nvg_pump(g, 1);
		else
			usleep(1000);
	}
	return host_count() >= n;
}

/* ---- setup ---- */

static bool env_live;	/* env_store is up (see env_slot()) */

static int
env_up(struct env *e, const struct env_cfg *c)
{
	struct vmbs_srv_params sp;
	uint32_t i;
	int rc;

	memset(e, 0, sizeof(*e));
	env_live = true;
	host_clear();
	snprintf(e->path, sizeof(e->path), "%s/s%u", sock_dir, serial);
	snprintf(e->vm, sizeof(e->vm), "nvvm%u", serial++);
	memset(&sp, 0, sizeof(sp));
	sp.socket_path = e->path;
	sp.owner_uid = (uid_t)-1;
	sp.group_gid = (gid_t)-1;
	sp.drain_timeout_ms = 500;
	e->srv = vmbs_srv_create(&sp);
	if (e->srv == NULL)
		return -EIO;

	e->np.name = "nvt";
	e->np.vm_name = e->vm;
	for (i = 0; i < 16; i++)
		e->np.instance[i] = (uint8_t)(0xa0 + i);
	memcpy(e->np.mac, nic_mac, 6);
	e->np.max_queues = c->queues != 0 ? c->queues : 1;
	e->np.mtu = c->mtu;
	e->np.nvsp_max = c->nvsp_max;
	e->np.offloads = VMBS_NV_OFF_ALL;
	e->np.rx_frames = rx_frames_cb;
	e->np.offer_channels = offer_cb;
	e->np.cb_arg = e;
	e->nic = vmbs_nv_create(&e->np);
	if (e->nic == NULL)
		return -ENOMEM;
	rc = vmbs_srv_add_device(e->srv, vmbs_nv_dev_desc(e->nic));
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&host.poll_lock);
	for (i = 0; i < MAX_NICS; i++) {
		if (host.nics[i] == NULL) {
			host.nics[i] = e->nic;
			host.nq[i] = e->np.max_queues;
			break;
		}
	}
	pthread_mutex_unlock(&host.poll_lock);

	memset(&e->gp, 0, sizeof(e->gp));
	e->gp.socket_path = e->path;
	e->gp.vm_name = e->vm;
	e->gp.recv_buf_size = c->recv_buf;
	e->gp.max_queues = 4;
	e->gp.nvsp_versions = c->versions;
	e->gp.n_nvsp_versions = c->n_versions;
	e->gp.timeout_ms = 3000;
	return nvg_attach(&e->gp, &e->g);
}

/* Wait (bounded) until the server released the VM. */
static bool
vm_gone(struct env *e)
{
	struct vmbs_vm_stats vs;
	uint32_t i;

	for (i = 0; i < 5000; i++) {
		if (vmbs_srv_vm_stats(e->srv, e->vm, &vs) == -ENOENT)
			return true;
		usleep(1000);
	}
	return false;
}

static void
env_down(struct env *e)
{
	uint32_t i;

	if (e->g != NULL) {
		nvg_detach(e->g);
		e->g = NULL;
	}
	if (e->srv != NULL) {
		CU_ASSERT(vm_gone(e));
		CU_ASSERT_EQUAL(vmbs_srv_destroy(e->srv, 2000), 0);
		e->srv = NULL;
	}
	pthread_mutex_lock(&host.poll_lock);
	for (i = 0; i < MAX_NICS; i++)
		if (host.nics[i] == e->nic)
			host.nics[i] = NULL;
	pthread_mutex_unlock(&host.poll_lock);
	vmbs_nv_free(e->nic);
	e->nic = NULL;
	host_clear();
	env_live = false;
}

/*
 * The one live environment. A test that stops at a fatal assertion leaves
 * its environment up; the next test's env_slot() takes it down first.
 */
static struct env env_store;

static struct env *
env_slot(void)
{
	if (env_live)
		env_down(&env_store);
	return &env_store;
}

/* Probe, configure @p queues, start: a DPDK port ready for traffic. */
static int
env_ready(struct env *e, const struct env_cfg *c, uint16_t queues)
{
	const char *step = "attach";
	int rc = env_up(e, c);

	if (rc == 0) {
		step = "bringup";
		rc = nvg_bringup(e->g);
	}
	if (rc == 0) {
		step = "configure";
		rc = nvg_configure(e->g, queues);
	}
	if (rc == 0) {
		step = "start";
		rc = nvg_start(e->g);
	}
	if (rc != 0)
		fprintf(stderr, "env_ready: %s failed: %d\n", step, rc);
	return rc;
}

/* ---- frames ---- */

static void
mk_frame(uint8_t *buf, uint32_t len, const uint8_t *dst, uint32_t seed)
{
	uint32_t i;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src_mac, 6);
	buf[12] = 0x08;
	buf[13] = 0x00;
	for (i = 14; i < len; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

/* Ethernet + IPv4 + TCP headers (TCP header at 34), payload after. */
static void
mk_tcp_frame(uint8_t *buf, uint32_t len, uint32_t seed)
{
	mk_frame(buf, len, nic_mac, seed);
	buf[14] = 0x45;
	buf[16] = (uint8_t)((len - 14) >> 8);
	buf[17] = (uint8_t)(len - 14);
	buf[22] = 64;
	buf[23] = 6;
	buf[46] = 0x50;
}

static bool
host_frame_is(uint32_t i, const uint8_t *data, uint32_t len, uint16_t q)
{
	bool ok;

	pthread_mutex_lock(&host.lock);
	ok = i < host.n && host.f[i].len == len && host.f[i].queue == q &&
	     memcmp(host.f[i].data, data, len) == 0;
	pthread_mutex_unlock(&host.lock);
	return ok;
}

static struct vmbs_rndis_ppi_info
host_ppi(uint32_t i)
{
	struct vmbs_rndis_ppi_info p;

	pthread_mutex_lock(&host.lock);
	memset(&p, 0, sizeof(p));
	if (i < host.n)
		p = host.f[i].ppi;
	pthread_mutex_unlock(&host.lock);
	return p;
}

/* One chimney frame on @p q reaches the host intact and is completed OK. */
static bool
good_frame_flows(struct env *e, uint16_t q)
{
	struct nvg_frame f;
	uint8_t buf[200];
	uint32_t status = 0, before = host_count();
	uint64_t tid;

	mk_frame(buf, sizeof(buf), nic_mac, 0x5a);
	memset(&f, 0, sizeof(f));
	f.data = buf;
	f.len = sizeof(buf);
	if (nvg_send(e->g, q, NVG_TX_CHIMNEY, &f, 1, &tid) != 0 ||
	    nvg_req_wait(e->g, tid, &status) != 0 || status != VMBS_NVSP_STATUS_SUCCESS)
		return false;
	return host_wait(e->g, before + 1) && host_frame_is(before, buf, sizeof(buf), q);
}

static uint32_t
rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Compare and print the first difference (for the report). */
static bool
bytes_eq(const char *what, const uint8_t *got, uint32_t got_len, const uint8_t *exp,
	 uint32_t exp_len)
{
	uint32_t i, n = got_len < exp_len ? got_len : exp_len;

	for (i = 0; i < n; i++)
		if (got[i] != exp[i])
			break;
	if (i == n && got_len == exp_len)
		return true;
	fprintf(stderr, "%s: differs at byte %u (got %u bytes, expected %u)\n  got: ", what, i,
		got_len, exp_len);
	for (n = 0; n < got_len && n < 96; n++)
		fprintf(stderr, "%02x%s", got[n], n % 8 == 7 ? " " : "");
	fprintf(stderr, "\n  exp: ");
	for (n = 0; n < exp_len && n < 96; n++)
		fprintf(stderr, "%02x%s", exp[n], n % 8 == 7 ? " " : "");
	fprintf(stderr, "\n");
	return false;
}

/* ---- capture of host packets and RNDIS messages ---- */

#define CAP_MAX 512u

struct cap_ent {
	uint16_t q;
	uint32_t tid;		/* RNDIS messages: the transfer's trans_id */
	uint32_t pkt_idx;	/* RNDIS messages: index of their packet in pkt[] */
	uint32_t len;
	uint8_t b[256];
};

struct cap {
	struct cap_ent pkt[CAP_MAX];
	uint32_t npkt;
	struct cap_ent msg[CAP_MAX];
	uint32_t nmsg;
};

static void
cap_pkt(void *arg, uint16_t q, const uint8_t *pkt, uint32_t len)
{
	struct cap *c = arg;
	struct cap_ent *e;

	if (c->npkt == CAP_MAX)
		return;
	e = &c->pkt[c->npkt++];
	e->q = q;
	e->len = len;
	memcpy(e->b, pkt, len < sizeof(e->b) ? len : sizeof(e->b));
}

static void
cap_msg(void *arg, uint16_t q, uint32_t tid, const uint8_t *msg, uint32_t len)
{
	struct cap *c = arg;
	struct cap_ent *e;

	if (c->nmsg == CAP_MAX)
		return;
	e = &c->msg[c->nmsg++];
	e->q = q;
	e->tid = tid;
	/* The packet hook ran just before, for the packet carrying it. */
	e->pkt_idx = c->npkt - 1;
	e->len = len;
	memcpy(e->b, msg, len < sizeof(e->b) ? len : sizeof(e->b));
}

/* The first captured packet from @p from with ring type @p type and NVSP type @p nvsp. */
static const struct cap_ent *
cap_find(const struct cap *c, uint32_t *from, uint16_t type, uint32_t nvsp)
{
	uint32_t i, off;

	for (i = *from; i < c->npkt; i++) {
		const struct cap_ent *e = &c->pkt[i];

		off = (uint32_t)(e->b[2] | e->b[3] << 8) * 8u;
		if ((e->b[0] | e->b[1] << 8) == type && off + 4 <= e->len &&
		    off + 4 <= sizeof(e->b) && rd32(e->b + off) == nvsp) {
			*from = i + 1;
			return e;
		}
	}
	return NULL;
}

/* The captured RNDIS message of type @p type and request id @p rid. */
static const struct cap_ent *
cap_find_msg(const struct cap *c, uint32_t type, uint32_t rid)
{
	uint32_t i;

	for (i = 0; i < c->nmsg; i++)
		if (rd32(c->msg[i].b) == type && (rid == 0 || rd32(c->msg[i].b + 8) == rid))
			return &c->msg[i];
	return NULL;
}

/* The captured transfer-page packet with trans_id @p tid, from @p from on. */
static const struct cap_ent *
cap_find_xfer(const struct cap *c, uint32_t from, uint64_t tid)
{
	uint32_t i;
	uint64_t t;

	for (i = from; i < c->npkt; i++) {
		memcpy(&t, c->pkt[i].b + 8, 8);
		if (c->pkt[i].b[0] == VMBS_PKT_DATA_XFER_PAGES && t == tid)
			return &c->pkt[i];
	}
	return NULL;
}

/* NVSP completion status: at 12 in INIT_COMPLETE, at 4 elsewhere. */
static uint32_t
reply_status(const struct nvg_reply *r)
{
	return r->nvsp_type == VMBS_NVSP_TYPE_INIT_COMPLETE ? rd32(r->nvsp + 12) :
							      rd32(r->nvsp + 4);
}

/* Counters of both sides, for failure reports. */
static void
dump(struct env *e, const char *where)
{
	struct vmbs_nv_queue_stats q;
	struct vmbs_nv_stats n;
	struct nvg_stats g;

	nvg_stats_get(e->g, &g);
	vmbs_nv_queue_stats_get(e->nic, -1, &q);
	vmbs_nv_stats_get(e->nic, &n);
	fprintf(stderr, "%s: guest rx %u frames %" PRIu64 " xfers %" PRIu64 " bad_xfer %" PRIu64
		" bad_range %" PRIu64 " odd_range %" PRIu64 " bad_rndis %" PRIu64
		" unexpected %" PRIu64 " chan_type %" PRIu64 " acks %" PRIu64 "/%" PRIu64 "\n",
		where, nvg_rx_count(e->g), g.rx_frames, g.xfer_pkts, g.bad_xfer, g.bad_range,
		g.odd_range, g.bad_rndis, g.unexpected, g.bad_chan_type, g.acks_sent, g.acks_held);
	fprintf(stderr, "  host tx_frames %" PRIu64 " tx_pkts %" PRIu64 " filtered %" PRIu64
		" down %" PRIu64 " oversize %" PRIu64 " bad %" PRIu64 " full %" PRIu64
		" send_err %" PRIu64 " comp_ok %" PRIu64 " comp_bad %" PRIu64
		" ctl_replies %" PRIu64 "\n", q.tx_frames, q.tx_pkts, q.tx_filtered, q.tx_down,
		q.tx_oversize, q.tx_bad, q.tx_full, q.tx_send_errors, q.comp_ok, q.comp_bad,
		n.ctl_replies);
}

/* Pump the guest until @p cond holds (bounded: 3 s); the value of @p cond. */
#define PUMP_UNTIL(e, cond) ({						\
	uint32_t w_;							\
	for (w_ = 0; w_ < 3000 && !(cond); w_++)			\
		nvg_pump((e)->g, 1);					\
	(cond);								\
})

/*
 * Wait until the host has completed every control request the guest sent
 * (it completes one once handled: answered, backlogged or failed), then
 * take whatever replies are still on their way.
 */
static bool
ctl_settle(struct env *e)
{
	struct nvg_stats s;
	bool ok;

	ok = PUMP_UNTIL(e, (nvg_stats_get(e->g, &s), s.ctl_comps >= s.ctl_reqs));
	nvg_pump(e->g, 20);
	return ok;
}

/* ---- 1. golden bytes of every bring-up reply ---- */

/* Slot size rule (b.4, rxbuf): round_up(256 + mtu + 14 + 4 + 36, 64). */
static uint32_t
slot_size_for(uint32_t mtu)
{
	return (256u + mtu + 14u + 4u + 36u + 63u) / 64u * 64u;
}

/* The RNDIS reply @p m with its transfer-page packet: golden compare. */
static void
check_ctl_xfer(const struct cap *c, const struct cap_ent *m, uint32_t msg_len,
	       uint32_t slot_size)
{
	/*
	 * b.2 transfer-page packet: type 7, offset8 4 (16 + 8 + one 8-byte
	 * range), len8 9 (+ 40 NVSP bytes), completion requested (1.7 "flags
	 * RC"), trans_id = the slot; pageset 0xCAFE, one range; NVSP 107,
	 * channel_type 1 (control), no section (0xFFFFFFFF, 0).
	 */
	uint8_t exp[72] = {
		0x07, 0x00, 0x04, 0x00, 0x09, 0x00, 0x01, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0xfe, 0xca, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0x6b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	};
	const struct cap_ent *x;
	uint32_t rlen;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	/* Control replies use the 16 control slots (b.4 / OpenVMM). */
	CU_ASSERT(m->tid < 16);
	CU_ASSERT_EQUAL(m->q, 0);
	x = cap_find_xfer(c, m->pkt_idx, m->tid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	rlen = rd32(x->b + 24);
	if (rlen < msg_len || rlen > slot_size)
		fprintf(stderr, "control reply %#x: range of %u bytes, message %u, slot %u\n",
			rd32(m->b), rlen, msg_len, slot_size);
	CU_ASSERT(rlen >= msg_len && rlen <= slot_size);
	put64(exp + 8, m->tid);
	put32(exp + 24, rlen);
	put32(exp + 28, m->tid * slot_size);
	/* sender_owns_set: no reference fixes it; not compared. */
	exp[18] = x->b[18];
	CU_ASSERT(bytes_eq("control transfer-page packet", x->b, x->len, exp, sizeof(exp)));
}

static void
golden_bringup_replies(void)
{
	static struct cap cap;
	static const uint8_t desc_comp0[16] = {
		/* b.2: COMP, offset8 2, len8 7 (16 + 40), no flags, trans_id 0 echoed */
		0x0b, 0x00, 0x02, 0x00, 0x07, 0x00, 0x00, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t init_cmplt_body[44] = {
		/* b.5 INITIALIZE_CMPLT after type/len/rid: status SUCCESS, 1.0,
		 * DF_CONNECTIONLESS, 802.3, 8 packets, 6144 bytes, align 2^3,
		 * no address-family list (vmbs_netvsp.h, 1.7) */
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
		0x00, 0x18, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t exp[64];
	const struct cap_ent *p, *m;
	struct env_cfg cfg = { .queues = 2 };
	uint32_t from, slot = slot_size_for(1500), cnt = (2u << 20) / slot_size_for(1500);
	struct env *e = env_slot();

	memset(&cap, 0, sizeof(cap));
	VMBS_CHECK(env_up(e, &cfg) == 0);
	nvg_set_capture(e->g, cap_pkt, cap_msg, &cap);
	CU_ASSERT_EQUAL(nvg_bringup(e->g), 0);
	CU_ASSERT_EQUAL(nvg_configure(e->g, 2), 0);
	CU_ASSERT_EQUAL(slot, 1856);

	/* INIT_COMPLETE: type 2, negotiated 0xFFFFFFFF (deprecated, OpenVMM),
	 * max_mdl_chain_len 34, status SUCCESS, zero padded to 40. */
	from = 0;
	p = cap_find(&cap, &from, VMBS_PKT_COMP, VMBS_NVSP_TYPE_INIT_COMPLETE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(exp, 0, sizeof(exp));
	memcpy(exp, desc_comp0, 16);
	put32(exp + 16, 2);
	put32(exp + 20, 0xffffffffu);
	put32(exp + 24, 34);
	put32(exp + 28, 1);
	CU_ASSERT(bytes_eq("INIT_COMPLETE", p->b, p->len, exp, 56));

	/* RECV_BUF_COMPLETE: 102, SUCCESS, one section {0, 1856, count, end}. */
	from = 0;
	p = cap_find(&cap, &from, VMBS_PKT_COMP, VMBS_NVSP_TYPE_SEND_RECV_BUF_COMPLETE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(exp, 0, sizeof(exp));
	memcpy(exp, desc_comp0, 16);
	put32(exp + 16, 102);
	put32(exp + 20, 1);
	put32(exp + 24, 1);
	put32(exp + 28, 0);
	put32(exp + 32, slot);
	put32(exp + 36, cnt);
	put32(exp + 40, slot * cnt);
	CU_ASSERT(bytes_eq("RECV_BUF_COMPLETE", p->b, p->len, exp, 56));
	CU_ASSERT_EQUAL(nvg_info(e->g)->slot_cnt, cnt);

	/* SEND_BUF_COMPLETE: 105, SUCCESS, section size 6144. */
	from = 0;
	p = cap_find(&cap, &from, VMBS_PKT_COMP, VMBS_NVSP_TYPE_SEND_SEND_BUF_COMPLETE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(exp, 0, sizeof(exp));
	memcpy(exp, desc_comp0, 16);
	put32(exp + 16, 105);
	put32(exp + 20, 1);
	put32(exp + 24, 6144);
	CU_ASSERT(bytes_eq("SEND_BUF_COMPLETE", p->b, p->len, exp, 56));

	/* The RNDIS control request's own completion: COMP {108, SUCCESS}, tid 0. */
	from = 0;
	p = cap_find(&cap, &from, VMBS_PKT_COMP, VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(exp, 0, sizeof(exp));
	memcpy(exp, desc_comp0, 16);
	put32(exp + 16, 108);
	put32(exp + 20, 1);
	CU_ASSERT(bytes_eq("RNDIS request completion", p->b, p->len, exp, 56));

	/* INITIALIZE_CMPLT (request id 1: DPDK's first). */
	m = cap_find_msg(&cap, VMBS_RNDIS_MSG_INITIALIZE_CMPLT, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	memset(exp, 0, sizeof(exp));
	put32(exp, 0x80000002u);
	put32(exp + 4, 52);
	put32(exp + 8, 1);
	memcpy(exp + 12, init_cmplt_body, 40);
	CU_ASSERT(m->len >= 52);
	CU_ASSERT(bytes_eq("INITIALIZE_CMPLT", m->b, 52, exp, 52));
	check_ctl_xfer(&cap, m, 52, slot);

	/* SET_CMPLT of the probe's filter 0 (request id 2). */
	m = cap_find_msg(&cap, VMBS_RNDIS_MSG_SET_CMPLT, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	memset(exp, 0, sizeof(exp));
	put32(exp, 0x80000005u);
	put32(exp + 4, 16);
	put32(exp + 8, 2);
	put32(exp + 12, 0);
	CU_ASSERT(m->len >= 16);
	CU_ASSERT(bytes_eq("SET_CMPLT", m->b, 16, exp, 16));
	check_ctl_xfer(&cap, m, 16, slot);

	/* QUERY_CMPLT of PERMANENT_ADDRESS (request id 3): 24 + 6, offset 16. */
	m = cap_find_msg(&cap, VMBS_RNDIS_MSG_QUERY_CMPLT, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	memset(exp, 0, sizeof(exp));
	put32(exp, 0x80000004u);
	put32(exp + 4, 30);
	put32(exp + 8, 3);
	put32(exp + 12, 0);
	put32(exp + 16, 6);
	put32(exp + 20, 16);
	memcpy(exp + 24, nic_mac, 6);
	CU_ASSERT(m->len >= 30);
	CU_ASSERT(bytes_eq("QUERY_CMPLT(PERMANENT_ADDRESS)", m->b, 30, exp, 30));
	check_ctl_xfer(&cap, m, 30, slot);
	CU_ASSERT_EQUAL(memcmp(nvg_info(e->g)->mac, nic_mac, 6), 0);

	/* SUBCHANNEL completion: 133, SUCCESS, 1 allocated, 40 bytes. */
	from = 0;
	p = cap_find(&cap, &from, VMBS_PKT_COMP, VMBS_NVSP_TYPE_SUBCHANNEL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(exp, 0, sizeof(exp));
	memcpy(exp, desc_comp0, 16);
	put32(exp + 16, 133);
	put32(exp + 20, 1);
	put32(exp + 24, 1);
	CU_ASSERT(bytes_eq("SUBCHANNEL complete", p->b, p->len, exp, 56));

	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* Host-to-guest data: the transfer-page packet and the PACKET header. */
static void
golden_rx_frame(void)
{
	static struct cap cap;
	struct vmbs_nv_txframe tf;
	struct iovec iov;
	struct env *e = env_slot();
	struct env_cfg cfg = { 0 };
	uint8_t frame[100], exp[256];
	const struct cap_ent *m, *x;
	const struct nvg_rx_frame *rf;
	uint32_t slot = slot_size_for(1500), rlen;

	memset(&cap, 0, sizeof(cap));
	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	nvg_set_capture(e->g, cap_pkt, cap_msg, &cap);
	mk_frame(frame, sizeof(frame), nic_mac, 7);
	iov.iov_base = frame;
	iov.iov_len = sizeof(frame);
	memset(&tf, 0, sizeof(tf));
	tf.iov = &iov;
	tf.iovcnt = 1;
	tf.ppi.present = VMBS_RNDIS_PPI_F_CSUM | VMBS_RNDIS_PPI_F_VLAN |
			 VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO;
	tf.ppi.csum = VMBS_RNDIS_RXCSUM_IP_OK | VMBS_RNDIS_RXCSUM_TCP_OK;
	tf.ppi.vlan_vid = 100;
	tf.ppi.vlan_prio = 5;
	tf.ppi.hash_value = 0x12345678;
	tf.ppi.hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_TCP_IPV4;
	CU_ASSERT_EQUAL(vmbs_nv_tx_burst(e->nic, 0, &tf, 1), 1);
	CU_ASSERT_EQUAL_FATAL(nvg_rx_wait(e->g, 1), 0);

	m = cap_find_msg(&cap, VMBS_RNDIS_MSG_PACKET, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	/* b.5 PACKET: len 44 + 4 PPIs x 16 + 100, data_offset 36 + 64,
	 * no OOB, PPIs at 36 (64 bytes), vc_handle 0; then the PPIs in the
	 * documented order csum, 802.1Q, hash value, hash info, each
	 * {size 16, type, offset 12, u32}. */
	memset(exp, 0, sizeof(exp));
	put32(exp, 1);
	put32(exp + 4, 208);
	put32(exp + 8, 100);
	put32(exp + 12, 100);
	put32(exp + 28, 36);
	put32(exp + 32, 64);
	put32(exp + 44, 16);
	put32(exp + 48, 0);
	put32(exp + 52, 12);
	put32(exp + 56, (1u << 5) | (1u << 3));
	put32(exp + 60, 16);
	put32(exp + 64, 6);
	put32(exp + 68, 12);
	put32(exp + 72, 5u | (100u << 4));
	put32(exp + 76, 16);
	put32(exp + 80, 8);
	put32(exp + 84, 12);
	put32(exp + 88, 0x12345678);
	put32(exp + 92, 16);
	put32(exp + 96, 9);
	put32(exp + 100, 12);
	put32(exp + 104, 0x201);
	memcpy(exp + 108, frame, sizeof(frame));
	CU_ASSERT(m->len >= 208 && m->len <= slot);
	CU_ASSERT(bytes_eq("RX PACKET", m->b, 208, exp, 208));
	/* Data slots follow the 16 control slots. */
	CU_ASSERT(m->tid >= 16);
	x = cap_find_xfer(&cap, m->pkt_idx, m->tid);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	rlen = rd32(x->b + 24);
	/* type 7, offset8 4, len8 9, RC, trans_id = first slot; 0xCAFE, one
	 * range; NVSP 107 with channel_type 0 (data), no section. */
	memset(exp, 0, sizeof(exp));
	exp[0] = 0x07;
	exp[2] = 0x04;
	exp[4] = 0x09;
	exp[6] = 0x01;
	put64(exp + 8, m->tid);
	exp[16] = 0xfe;
	exp[17] = 0xca;
	exp[18] = x->b[18];	/* sender_owns_set: not fixed by a reference */
	put32(exp + 20, 1);
	put32(exp + 24, rlen);
	put32(exp + 28, m->tid * slot);
	put32(exp + 32, 107);
	put32(exp + 36, 0);
	put32(exp + 40, 0xffffffffu);
	CU_ASSERT(bytes_eq("data transfer-page packet", x->b, x->len, exp, 72));

	rf = nvg_rx_get(e->g, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rf);
	CU_ASSERT_EQUAL(rf->len, sizeof(frame));
	CU_ASSERT_EQUAL(memcmp(rf->data, frame, sizeof(frame)), 0);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 2. the whole DPDK bring-up, then the engine's view ---- */

static void
dpdk_bringup_state(void)
{
	struct vmbs_nv_state st;
	struct vmbs_nv_stats ns;
	struct env_cfg cfg = { .queues = 4 };
	const struct nvg_info *gi;
	struct env *e = env_slot();
	uint32_t cnt = (2u << 20) / 1856u;

	VMBS_CHECK(env_up(e, &cfg) == 0);
	CU_ASSERT_EQUAL_FATAL(nvg_bringup(e->g), 0);
	gi = nvg_info(e->g);
	CU_ASSERT_EQUAL(gi->nvsp_version, 0x60001);
	CU_ASSERT_EQUAL(gi->ndis_version, 0x6001e);
	CU_ASSERT_EQUAL(gi->slot_size, 1856);
	CU_ASSERT_EQUAL(gi->slot_cnt, cnt);
	CU_ASSERT_EQUAL(gi->section_size, 6144);
	CU_ASSERT_EQUAL(gi->section_cnt, (1u << 20) / 6144u);
	CU_ASSERT_EQUAL(gi->agg_pkts, 8);
	CU_ASSERT_EQUAL(gi->agg_size, 6144);
	CU_ASSERT_EQUAL(gi->agg_align, 8);
	CU_ASSERT_EQUAL(memcmp(gi->mac, nic_mac, 6), 0);
	/* RSS caps: the engine's queues, 128 entries (DPDK needs a power of 2). */
	CU_ASSERT_EQUAL(gi->rss_nrxr, 4);
	CU_ASSERT_EQUAL(gi->rss_nind, 128);
	CU_ASSERT_EQUAL(gi->hwcaps.hdr.type, VMBS_NDIS_OBJTYPE_OFFLOAD);
	CU_ASSERT_EQUAL(gi->hwcaps.hdr.revision, 3);
	CU_ASSERT_EQUAL(gi->hwcaps.hdr.size, 156);
	/*
	 * Every offload advertised (VMBS_NV_OFF_ALL) must pass DPDK's
	 * hn_rndis_get_offload() tests, or the port will not offer it:
	 * IPv4 {IP4, IP4 options}, TCP {TCP4, TCP4 options} and {TCP6, TCP6
	 * options, IPv6 extension headers}, UDP4 and UDP6, LSOv2 802.3 for
	 * IPv4 and {IPv6 ext headers, TCP6 options} for IPv6.
	 */
	CU_ASSERT_EQUAL(gi->hwcaps.csum.ip4_tx_csum & 0x101u, 0x101u);
	CU_ASSERT_EQUAL(gi->hwcaps.csum.ip4_tx_csum & 0x014u, 0x014u);
	CU_ASSERT_EQUAL(gi->hwcaps.csum.ip6_tx_csum & 0x015u, 0x015u);
	CU_ASSERT(gi->hwcaps.csum.ip4_tx_csum & VMBS_NDIS_CSUM_CAP_UDP);
	CU_ASSERT(gi->hwcaps.csum.ip6_tx_csum & VMBS_NDIS_CSUM_CAP_UDP);
	CU_ASSERT(gi->hwcaps.lsov2.ip4_encap & VMBS_NDIS_ENCAP_8023);
	CU_ASSERT_EQUAL(gi->hwcaps.lsov2.ip6_opts & 0x005u, 0x005u);
	CU_ASSERT_EQUAL(gi->hwcaps.lsov2.ip4_max_size, VMBS_NV_TSO_MAX_SIZE);
	CU_ASSERT_EQUAL(gi->link_status, VMBS_NDIS_MEDIA_STATE_CONNECTED);
	/* 10 Gbit/s in units of 100 bit/s. */
	CU_ASSERT_EQUAL(gi->link_speed, 100000000u);

	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.nvsp_version, 0x60001);
	CU_ASSERT_EQUAL(st.ndis_version, 0x6001e);
	CU_ASSERT_EQUAL(st.guest_mtu, 1514);
	CU_ASSERT_EQUAL(st.guest_caps, VMBS_NVSP_CAP_IEEE8021Q | VMBS_NVSP_CAP_SRIOV);
	CU_ASSERT(st.recv_buf);
	CU_ASSERT(st.send_buf);
	CU_ASSERT_EQUAL(st.recv_slots, cnt);
	CU_ASSERT_EQUAL(st.recv_slot_size, 1856);
	CU_ASSERT(st.rndis_up);
	CU_ASSERT_EQUAL(st.filter, 0);
	CU_ASSERT_EQUAL(st.queues_open, 1);
	CU_ASSERT_EQUAL(st.queues_allocated, 1);
	CU_ASSERT(st.link_up);

	CU_ASSERT_EQUAL_FATAL(nvg_configure(e->g, 4), 0);
	CU_ASSERT_EQUAL(nvg_info(e->g)->n_chans, 4);
	CU_ASSERT_EQUAL_FATAL(nvg_start(e->g), 0);
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.filter, VMBS_NDIS_FILTER_DIRECTED | VMBS_NDIS_FILTER_ALL_MULTICAST |
				   VMBS_NDIS_FILTER_BROADCAST);
	CU_ASSERT_EQUAL(st.queues_open, 4);
	CU_ASSERT_EQUAL(st.queues_allocated, 4);
	CU_ASSERT(st.rss_enabled);
	CU_ASSERT_EQUAL(st.rss_table_cnt, 128);
	CU_ASSERT_EQUAL(st.rss_table[5], 1);
	CU_ASSERT_EQUAL(st.rss_table[127], 3);
	CU_ASSERT_EQUAL(st.rss_key[0], 0x6d);
	CU_ASSERT_EQUAL(st.rss_hash_info & VMBS_NDIS_HASH_FUNCTION_MASK,
			VMBS_NDIS_HASH_FUNCTION_TOEPLITZ);
	CU_ASSERT_EQUAL(st.offload.hdr.type, VMBS_NDIS_OBJTYPE_DEFAULT);
	CU_ASSERT_EQUAL(st.offload.hdr.size, 28);
	CU_ASSERT_EQUAL(st.offload.tcp4_csum, VMBS_NDIS_OFFLOAD_PARAM_TX);
	CU_ASSERT_EQUAL(st.offload.lsov2_ip4, VMBS_NDIS_OFFLOAD_LSO_ON);
	CU_ASSERT_EQUAL(st.offload.lsov2_ip6, VMBS_NDIS_OFFLOAD_LSO_ON);

	vmbs_nv_stats_get(e->nic, &ns);
	CU_ASSERT_EQUAL(ns.nvsp_bad + ns.nvsp_out_of_order + ns.nvsp_buf_failures, 0);
	CU_ASSERT_EQUAL(ns.rndis_ctl_bad + ns.rndis_unsupported + ns.rndis_invalid, 0);
	CU_ASSERT_EQUAL(ns.subchannels, 3);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	CU_ASSERT(good_frame_flows(e, 3));
	env_down(e);
}

/* A 31 MiB receive buffer (Linux's and uio_hv_generic's size). */
static void
bringup_31mib_recv_buf(void)
{
	struct env_cfg cfg = { .recv_buf = 31u << 20 };
	struct vmbs_nv_state st;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	CU_ASSERT_EQUAL(nvg_info(e->g)->slot_cnt, (31u << 20) / 1856u);
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.recv_slots, (31u << 20) / 1856u);
	CU_ASSERT(good_frame_flows(e, 0));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 3. NVSP version walk-down ---- */

static void
version_walk_down(void)
{
	struct env_cfg cfg = { .nvsp_max = 0x50000, .queues = 2 };
	struct vmbs_nv_state st;
	uint32_t status = 0;
	struct env *e = env_slot();

	VMBS_CHECK(env_up(e, &cfg) == 0);
	CU_ASSERT_EQUAL(nvg_nvsp_init_one(e->g, 0x60001, &status), 0);
	CU_ASSERT_NOT_EQUAL(status, VMBS_NVSP_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(nvg_nvsp_init_one(e->g, 0x60000, &status), 0);
	CU_ASSERT_NOT_EQUAL(status, VMBS_NVSP_STATUS_SUCCESS);
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.nvsp_version, 0);
	CU_ASSERT_EQUAL(nvg_nvsp_init_one(e->g, 0x50000, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_SUCCESS);
	env_down(e);

	/* The whole walk as DPDK does it, then a working port at 5.0. */
	VMBS_CHECK(env_ready(e, &cfg, 2) == 0);
	CU_ASSERT_EQUAL(nvg_info(e->g)->nvsp_version, 0x50000);
	CU_ASSERT_EQUAL(nvg_info(e->g)->ndis_version, 0x6001e);
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.nvsp_version, 0x50000);
	CU_ASSERT_EQUAL(st.ndis_version, 0x6001e);
	CU_ASSERT(good_frame_flows(e, 1));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* An old guest: NVSP 4 means NDIS 6.1, no RSS query, no subchannels. */
static void
old_guest_nvsp4(void)
{
	static const uint32_t v4[] = { 0x40000 };
	struct env_cfg cfg = { .versions = v4, .n_versions = 1, .queues = 2 };
	struct vmbs_nv_state st;
	uint8_t m[40] = { 0 };
	struct nvg_reply r;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.nvsp_version, 0x40000);
	CU_ASSERT_EQUAL(st.ndis_version, 0x60001);
	CU_ASSERT_EQUAL(nvg_info(e->g)->rss_nrxr, 0);
	/* Offload caps at revision 2 for NDIS 6.1. */
	CU_ASSERT(nvg_info(e->g)->hwcaps.hdr.size >= 112);
	/* SUBCHANNEL needs NVSP 5: refused. */
	put32(m, VMBS_NVSP_TYPE_SUBCHANNEL);
	put32(m + 4, 1);
	put32(m + 8, 1);
	CU_ASSERT_EQUAL(nvg_nvsp_execute(e->g, m, sizeof(m), VMBS_NVSP_TYPE_SUBCHANNEL, 12, &r), 0);
	CU_ASSERT_EQUAL(reply_status(&r), VMBS_NVSP_STATUS_FAIL);
	CU_ASSERT(good_frame_flows(e, 0));
	env_down(e);
}

/* ---- 4. frames both ways ---- */
/*
 * Wait until every transfer-page packet of data the host sent has been
 * completed by the guest (comp_ok counts data batches).
 */
static bool
data_acks_settle(struct env *e)
{
	struct vmbs_nv_queue_stats qs;
	uint32_t i;

	for (i = 0; i < 3000; i++) {
		vmbs_nv_queue_stats_get(e->nic, -1, &qs);
		if (qs.comp_ok == qs.tx_pkts)
			return true;
		nvg_pump(e->g, 1);
	}
	fprintf(stderr, "acks: comp_ok %" PRIu64 " tx_pkts %" PRIu64 " comp_bad %" PRIu64 "\n",
		qs.comp_ok, qs.tx_pkts, qs.comp_bad);
	return false;
}


static const char *const form_name[] = {
	"chimney", "gpa", "gpa-hdr-cross", "gpa-hdr-split", "mixed",
};

/* One frame of @p len on @p q in @p form: delivered intact, completed OK. */
static bool
g2h_one(struct env *e, uint16_t q, enum nvg_tx_form form, uint32_t len, uint32_t seed,
	const struct vmbs_rndis_ppi_info *ppi, struct vmbs_rndis_ppi_info *got)
{
	static uint8_t buf[16384];
	struct nvg_frame f;
	uint32_t status = 0, before = host_count();
	uint64_t tid = 0;
	int rc;

	if (ppi != NULL && (ppi->present & (VMBS_RNDIS_PPI_F_LSO | VMBS_RNDIS_PPI_F_CSUM)))
		mk_tcp_frame(buf, len, seed);
	else
		mk_frame(buf, len, nic_mac, seed);
	memset(&f, 0, sizeof(f));
	f.data = buf;
	f.len = len;
	if (ppi != NULL)
		f.ppi = *ppi;
	rc = nvg_send(e->g, q, form, &f, 1, &tid);
	if (rc == 0)
		rc = nvg_req_wait(e->g, tid, &status);
	if (rc != 0 || status != VMBS_NVSP_STATUS_SUCCESS || !host_wait(e->g, before + 1) ||
	    !host_frame_is(before, buf, len, q)) {
		fprintf(stderr, "g2h %s q%u len %u: rc %d status %u frames %u\n",
			form_name[form], q, len, rc, status, host_count() - before);
		return false;
	}
	if (got != NULL)
		*got = host_ppi(before);
	return true;
}

static void
g2h_forms_sizes(struct env *e, uint16_t q, const uint32_t *sizes, uint32_t n, bool chimney)
{
	struct vmbs_rndis_ppi_info got;
	uint32_t i, f;

	for (f = NVG_TX_CHIMNEY; f <= NVG_TX_MIXED; f++) {
		if (f == NVG_TX_CHIMNEY && !chimney)
			continue;
		for (i = 0; i < n; i++) {
			if (f == NVG_TX_MIXED && sizes[i] <= 64)
				continue;
			CU_ASSERT(g2h_one(e, q, (enum nvg_tx_form)f, sizes[i], i + f * 100, NULL,
					  &got));
			/* DPDK's HASH_VALUE = queue id reaches the host. */
			CU_ASSERT(got.present & VMBS_RNDIS_PPI_F_HASH_VALUE);
			CU_ASSERT_EQUAL(got.hash_value, q);
		}
	}
}

static void
frames_g2h_one_queue(void)
{
	static const uint32_t sizes[] = { 60, 64, 100, 511, 512, 513, 1000, 1500, 1514, 1518 };
	struct nvg_stats gs;
	struct vmbs_nv_queue_stats qs;
	struct env_cfg cfg = { 0 };
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	g2h_forms_sizes(e, 0, sizes, RTE_DIM(sizes), true);
	/* Frames that cross a page: data starting near a page end. */
	nvg_set_tx_data_offset(e->g, 4000);
	g2h_forms_sizes(e, 0, sizes, RTE_DIM(sizes), false);
	nvg_set_tx_data_offset(e->g, 128);
	CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);
	nvg_stats_get(e->g, &gs);
	CU_ASSERT_EQUAL(gs.tx_comp_ok, gs.tx_reqs);
	CU_ASSERT_EQUAL(gs.tx_comp_fail, 0);
	CU_ASSERT_EQUAL(host_count(), gs.tx_frames);
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &qs), 0);
	CU_ASSERT_EQUAL(qs.rx_frames, gs.tx_frames);
	CU_ASSERT_EQUAL(qs.rx_reqs, gs.tx_reqs);
	CU_ASSERT(qs.rx_section_reqs > 0 && qs.rx_gpa_reqs > 0);
	CU_ASSERT_EQUAL(qs.rx_bad + qs.rx_not_ready + qs.rx_ext_errors, 0);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* Several PACKETs aggregated in one section (DPDK's hn_try_txagg). */
static void
frames_g2h_aggregated(void)
{
	static uint8_t bufs[8][700];
	struct nvg_frame f[8];
	struct env_cfg cfg = { 0 };
	uint32_t i, status = 0;
	uint64_t tid;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	memset(f, 0, sizeof(f));
	for (i = 0; i < 8; i++) {
		/* Odd lengths: every message but the last gets padded. */
		mk_frame(bufs[i], 61 + i * 91, nic_mac, i);
		f[i].data = bufs[i];
		f[i].len = 61 + i * 91;
	}
	CU_ASSERT_EQUAL(nvg_send(e->g, 0, NVG_TX_CHIMNEY, f, 8, &tid), 0);
	CU_ASSERT_EQUAL(nvg_req_wait(e->g, tid, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_SUCCESS);
	CU_ASSERT(host_wait(e->g, 8));
	for (i = 0; i < 8; i++)
		CU_ASSERT(host_frame_is(i, bufs[i], f[i].len, 0));
	pthread_mutex_lock(&host.lock);
	CU_ASSERT_EQUAL(host.reqs, 1);
	pthread_mutex_unlock(&host.lock);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

static void
frames_g2h_jumbo(void)
{
	static const uint32_t sizes[] = { 1515, 4096, 8000, 9014, 9018 };
	struct env_cfg cfg = { .mtu = 9000 };
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	/* The jumbo slot: round_up(256 + 9000 + 14 + 4 + 36, 64). */
	CU_ASSERT_EQUAL(nvg_info(e->g)->slot_size, 9344);
	CU_ASSERT(g2h_one(e, 0, NVG_TX_CHIMNEY, 6000, 1, NULL, NULL));
	g2h_forms_sizes(e, 0, sizes, RTE_DIM(sizes), false);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

static void
frames_g2h_four_queues(void)
{
	static const uint32_t sizes[] = { 60, 300, 1514 };
	struct vmbs_nv_queue_stats qs;
	struct nvg_stats gs;
	struct env_cfg cfg = { .queues = 4 };
	struct env *e = env_slot();
	uint16_t q;

	VMBS_CHECK(env_ready(e, &cfg, 4) == 0);
	for (q = 0; q < 4; q++)
		g2h_forms_sizes(e, q, sizes, RTE_DIM(sizes), true);
	for (q = 0; q < 4; q++) {
		CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, q, &qs), 0);
		CU_ASSERT_EQUAL(qs.rx_frames, 14);
	}
	nvg_stats_get(e->g, &gs);
	CU_ASSERT_EQUAL(gs.tx_comp_ok, gs.tx_reqs);
	/* Completions came back on the channel of each request. */
	CU_ASSERT_EQUAL(gs.tx_comp_wrong_chan, 0);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

static void
frames_g2h_ppis(void)
{
	struct vmbs_rndis_ppi_info in, got;
	struct env_cfg cfg = { 0 };
	struct env *e = env_slot();
	uint32_t f;

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	for (f = NVG_TX_CHIMNEY; f <= NVG_TX_MIXED; f++) {
		enum nvg_tx_form form = (enum nvg_tx_form)f;

		/* TX checksum: IPv4 header + TCP, TCP header at 34. */
		memset(&in, 0, sizeof(in));
		in.present = VMBS_RNDIS_PPI_F_CSUM;
		in.csum = VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_TCP |
			  VMBS_RNDIS_TXCSUM_IP_HDR | (34u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
		CU_ASSERT(g2h_one(e, 0, form, 600, 1, &in, &got));
		CU_ASSERT(got.present & VMBS_RNDIS_PPI_F_CSUM);
		CU_ASSERT_EQUAL(got.csum & 0xffffu, VMBS_RNDIS_TXCSUM_IPV4 |
				VMBS_RNDIS_TXCSUM_TCP | VMBS_RNDIS_TXCSUM_IP_HDR);
		CU_ASSERT_EQUAL(got.csum_tcp_hdr_off, 34);
		CU_ASSERT(!(got.present & (VMBS_RNDIS_PPI_F_LSO | VMBS_RNDIS_PPI_F_VLAN)));

		/* LSOv2 over IPv4, MSS 1448: a frame above the MTU. */
		if (form != NVG_TX_CHIMNEY) {
			memset(&in, 0, sizeof(in));
			in.present = VMBS_RNDIS_PPI_F_LSO;
			in.lso = 1448u | (34u << VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT) |
				 VMBS_RNDIS_LSO_V2;
			CU_ASSERT(g2h_one(e, 0, form, 9000, 2, &in, &got));
			CU_ASSERT(got.present & VMBS_RNDIS_PPI_F_LSO);
			CU_ASSERT(got.lso_v2);
			CU_ASSERT(!got.lso_ipv6);
			CU_ASSERT_EQUAL(got.lso_mss, 1448);
			CU_ASSERT_EQUAL(got.lso_tcp_hdr_off, 34);
			/* and over IPv6 */
			in.lso |= VMBS_RNDIS_LSO_IPV6;
			CU_ASSERT(g2h_one(e, 0, form, 3000, 3, &in, &got));
			CU_ASSERT(got.lso_ipv6);
		}

		/* 802.1Q: prio 3, CFI 1, VID 100 (NDIS layout). */
		memset(&in, 0, sizeof(in));
		in.present = VMBS_RNDIS_PPI_F_VLAN;
		in.vlan = 3u | (1u << VMBS_RNDIS_VLAN_CFI_SHIFT) |
			  (100u << VMBS_RNDIS_VLAN_VID_SHIFT);
		CU_ASSERT(g2h_one(e, 0, form, 200, 4, &in, &got));
		CU_ASSERT(got.present & VMBS_RNDIS_PPI_F_VLAN);
		CU_ASSERT_EQUAL(got.vlan_vid, 100);
		CU_ASSERT_EQUAL(got.vlan_prio, 3);
		CU_ASSERT_EQUAL(got.vlan_cfi, 1);

		/* Hash value (not the queue id) and hash info. */
		memset(&in, 0, sizeof(in));
		in.present = VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO;
		in.hash_value = 0xdeadbeef;
		in.hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_TCP_IPV4;
		CU_ASSERT(g2h_one(e, 0, form, 300, 5, &in, &got));
		CU_ASSERT((got.present & (VMBS_RNDIS_PPI_F_HASH_VALUE |
					  VMBS_RNDIS_PPI_F_HASH_INFO)) ==
			  (VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO));
		CU_ASSERT_EQUAL(got.hash_value, 0xdeadbeef);
		CU_ASSERT_EQUAL(got.hash_info, 0x201);

		/* Everything at once. */
		memset(&in, 0, sizeof(in));
		in.present = VMBS_RNDIS_PPI_F_CSUM | VMBS_RNDIS_PPI_F_VLAN |
			     VMBS_RNDIS_PPI_F_HASH_INFO;
		in.csum = VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_TCP |
			  (34u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
		in.vlan = 7u | (4094u << VMBS_RNDIS_VLAN_VID_SHIFT);
		in.hash_info = 0x101;
		CU_ASSERT(g2h_one(e, 0, form, 1000, 6, &in, &got));
		CU_ASSERT_EQUAL(got.vlan_vid, 4094);
		CU_ASSERT_EQUAL(got.vlan_prio, 7);
		CU_ASSERT_EQUAL(got.hash_value, 0);
		CU_ASSERT_EQUAL(got.hash_info, 0x101);
		CU_ASSERT_EQUAL(got.csum_tcp_hdr_off, 34);
	}
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* Host-to-guest: frames of @p n sizes on @p q, checked by the guest. */
static void
h2g_sizes(struct env *e, uint16_t q, uint16_t expect_q, const uint32_t *sizes, uint32_t n,
	  const struct vmbs_rndis_ppi_info *ppi)
{
	static uint8_t bufs[64][9100];
	struct vmbs_nv_txframe tf[64];
	struct iovec iov[64][2];
	const struct nvg_rx_frame *rf;
	uint32_t i, base = nvg_rx_count(e->g);

	VMBS_CHECK(n <= 64);
	memset(tf, 0, sizeof(tf));
	for (i = 0; i < n; i++) {
		mk_frame(bufs[i], sizes[i], nic_mac, i + 17);
		/* Two iovecs: the engine gathers them into one slot. */
		iov[i][0].iov_base = bufs[i];
		iov[i][0].iov_len = sizes[i] / 2;
		iov[i][1].iov_base = bufs[i] + sizes[i] / 2;
		iov[i][1].iov_len = sizes[i] - sizes[i] / 2;
		tf[i].iov = iov[i];
		tf[i].iovcnt = 2;
		if (ppi != NULL)
			tf[i].ppi = *ppi;
	}
	CU_ASSERT_EQUAL(vmbs_nv_tx_burst(e->nic, q, tf, (uint16_t)n), n);
	if (nvg_rx_wait(e->g, base + n) != 0) {
		dump(e, "h2g_sizes");
		for (i = 0; i < n; i++) {
			rf = nvg_rx_get(e->g, base + i);
			fprintf(stderr, "  sent %u bytes, guest got %d\n", sizes[i],
				rf != NULL ? (int)rf->len : -1);
		}
	}
	CU_ASSERT_EQUAL(nvg_rx_count(e->g), base + n);
	if (nvg_rx_count(e->g) != base + n) {
		nvg_rx_clear(e->g);
		return;
	}
	for (i = 0; i < n; i++) {
		rf = nvg_rx_get(e->g, base + i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rf);
		CU_ASSERT_EQUAL(rf->queue, expect_q);
		CU_ASSERT_EQUAL(rf->len, sizes[i]);
		CU_ASSERT(rf->len == sizes[i] && memcmp(rf->data, bufs[i], sizes[i]) == 0);
		if (ppi == NULL)
			continue;
		CU_ASSERT_EQUAL(rf->ppi.present, ppi->present);
		if (ppi->present & VMBS_RNDIS_PPI_F_CSUM)
			CU_ASSERT_EQUAL(rf->ppi.csum, ppi->csum);
		if (ppi->present & VMBS_RNDIS_PPI_F_VLAN) {
			CU_ASSERT_EQUAL(rf->ppi.vlan_vid, ppi->vlan_vid);
			CU_ASSERT_EQUAL(rf->ppi.vlan_prio, ppi->vlan_prio);
			CU_ASSERT_EQUAL(rf->ppi.vlan_cfi, ppi->vlan_cfi);
		}
		if (ppi->present & VMBS_RNDIS_PPI_F_HASH_VALUE)
			CU_ASSERT_EQUAL(rf->ppi.hash_value, ppi->hash_value);
		if (ppi->present & VMBS_RNDIS_PPI_F_HASH_INFO)
			CU_ASSERT_EQUAL(rf->ppi.hash_info, ppi->hash_info);
	}
}

static void
frames_h2g(void)
{
	static const uint32_t sizes[] = { 60, 64, 128, 512, 1000, 1500, 1514, 1518 };
	struct vmbs_rndis_ppi_info ppi;
	struct vmbs_nv_queue_stats qs;
	struct nvg_stats gs;
	struct env_cfg cfg = { 0 };
	uint32_t burst[32], i;
	uint64_t xfers;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	h2g_sizes(e, 0, 0, sizes, RTE_DIM(sizes), NULL);

	memset(&ppi, 0, sizeof(ppi));
	ppi.present = VMBS_RNDIS_PPI_F_CSUM;
	ppi.csum = VMBS_RNDIS_RXCSUM_IP_OK | VMBS_RNDIS_RXCSUM_UDP_OK;
	h2g_sizes(e, 0, 0, sizes, 3, &ppi);
	ppi.present = VMBS_RNDIS_PPI_F_VLAN;
	ppi.vlan_vid = 4000;
	ppi.vlan_prio = 6;
	ppi.vlan_cfi = 1;
	h2g_sizes(e, 0, 0, sizes, 3, &ppi);
	ppi.present = VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO;
	ppi.hash_value = 0xcafef00d;
	ppi.hash_info = 0x101;
	h2g_sizes(e, 0, 0, sizes, 3, &ppi);

	/* A burst of 32 is one transfer-page packet. */
	nvg_stats_get(e->g, &gs);
	xfers = gs.xfer_pkts;
	for (i = 0; i < 32; i++)
		burst[i] = 60 + i * 40;
	h2g_sizes(e, 0, 0, burst, 32, NULL);
	nvg_stats_get(e->g, &gs);
	CU_ASSERT_EQUAL(gs.xfer_pkts, xfers + 1);

	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &qs), 0);
	CU_ASSERT_EQUAL(qs.tx_frames, RTE_DIM(sizes) + 9 + 32);
	CU_ASSERT_EQUAL(qs.tx_filtered + qs.tx_down + qs.tx_oversize + qs.tx_bad, 0);
	CU_ASSERT_EQUAL(gs.rx_frames, qs.tx_frames);
	/* Every data delivery came back as a good completion. */
	CU_ASSERT(data_acks_settle(e));
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, -1, &qs), 0);
	CU_ASSERT_EQUAL(qs.comp_bad + qs.comp_ring_full, 0);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

static void
frames_h2g_jumbo(void)
{
	static const uint32_t sizes[] = { 1515, 4000, 9014, 9018 };
	struct env_cfg cfg = { .mtu = 9000 };
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	h2g_sizes(e, 0, 0, sizes, RTE_DIM(sizes), NULL);
	CU_ASSERT(data_acks_settle(e));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

static void
frames_h2g_four_queues(void)
{
	static const uint32_t sizes[] = { 60, 200, 1514 };
	struct vmbs_rndis_ppi_info ppi;
	struct vmbs_nv_queue_stats qs;
	struct env_cfg cfg = { .queues = 4 };
	struct env *e = env_slot();
	uint16_t q;

	VMBS_CHECK(env_ready(e, &cfg, 4) == 0);
	memset(&ppi, 0, sizeof(ppi));
	ppi.present = VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO;
	ppi.hash_info = 0x201;
	for (q = 0; q < 4; q++) {
		ppi.hash_value = 0x1000u + q;
		h2g_sizes(e, q, q, sizes, RTE_DIM(sizes), &ppi);
	}
	/* Queues beyond the guest's map onto them: q % allocated. */
	h2g_sizes(e, 5, 1, sizes, RTE_DIM(sizes), NULL);
	/* ... and their traffic shows in the NIC's counters (sum over queues). */
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, -1, &qs), 0);
	if (qs.tx_frames != 5 * RTE_DIM(sizes) || qs.tx_pkts != 5)
		fprintf(stderr, "h2g on queue 5 of 4: counters sum tx_frames %" PRIu64
			" tx_pkts %" PRIu64 ", expected %u and 5\n", qs.tx_frames, qs.tx_pkts,
			(unsigned int)(5 * RTE_DIM(sizes)));
	CU_ASSERT_EQUAL(qs.tx_frames, 5 * RTE_DIM(sizes));
	CU_ASSERT_EQUAL(qs.tx_pkts, 5);
	CU_ASSERT(data_acks_settle(e));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 5. packet filter ---- */

static void
h2g_one_to(struct env *e, const uint8_t *dst, uint8_t *buf, uint32_t len)
{
	struct vmbs_nv_txframe tf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	mk_frame(buf, len, dst, dst[5]);
	memset(&tf, 0, sizeof(tf));
	tf.iov = &iov;
	tf.iovcnt = 1;
	/* Filtered frames are consumed too (and counted). */
	CU_ASSERT_EQUAL(vmbs_nv_tx_burst(e->nic, 0, &tf, 1), 1);
}

static bool
delivered(struct env *e, const uint8_t *dst)
{
	uint8_t buf[128];
	uint32_t before = nvg_rx_count(e->g);
	const struct nvg_rx_frame *rf;

	h2g_one_to(e, dst, buf, sizeof(buf));
	if (nvg_rx_wait(e->g, before + 1) != 0)
		return false;
	rf = nvg_rx_get(e->g, before);
	return rf->len == sizeof(buf) && memcmp(rf->data, buf, sizeof(buf)) == 0;
}

static bool
dropped(struct env *e, const uint8_t *dst)
{
	struct vmbs_nv_queue_stats a, b;
	uint8_t buf[128];
	uint32_t before = nvg_rx_count(e->g);

	vmbs_nv_queue_stats_get(e->nic, 0, &b);
	h2g_one_to(e, dst, buf, sizeof(buf));
	nvg_pump(e->g, 30);
	vmbs_nv_queue_stats_get(e->nic, 0, &a);
	return nvg_rx_count(e->g) == before && a.tx_filtered == b.tx_filtered + 1 &&
	       a.tx_frames == b.tx_frames;
}

static void
packet_filter(void)
{
	struct env_cfg cfg = { 0 };
	struct vmbs_nv_state st;
	uint8_t list[12];
	uint32_t status = 1;
	struct env *e = env_slot();

	VMBS_CHECK(env_up(e, &cfg) == 0);
	CU_ASSERT_EQUAL_FATAL(nvg_bringup(e->g), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_configure(e->g, 1), 0);
	/* Probe left the filter at 0: nothing reaches the guest. */
	CU_ASSERT(dropped(e, nic_mac));
	CU_ASSERT(dropped(e, bcast_mac));
	CU_ASSERT(dropped(e, mcast_a));

	/* Start: DIRECTED | ALL_MULTICAST | BROADCAST. */
	CU_ASSERT_EQUAL_FATAL(nvg_start(e->g), 0);
	CU_ASSERT(delivered(e, nic_mac));
	CU_ASSERT(delivered(e, bcast_mac));
	CU_ASSERT(delivered(e, mcast_a));
	CU_ASSERT(delivered(e, mcast_b));
	CU_ASSERT(dropped(e, other_mac));

	/* DIRECTED | BROADCAST: no multicast. */
	CU_ASSERT_EQUAL(nvg_set_filter(e->g, VMBS_NDIS_FILTER_DIRECTED |
					    VMBS_NDIS_FILTER_BROADCAST), 0);
	CU_ASSERT(delivered(e, nic_mac));
	CU_ASSERT(dropped(e, mcast_a));

	/* MULTICAST: only the addresses in the list. */
	memcpy(list, mcast_a, 6);
	CU_ASSERT_EQUAL(nvg_rndis_set(e->g, VMBS_OID_802_3_MULTICAST_LIST, list, 6, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(nvg_set_filter(e->g, VMBS_NDIS_FILTER_DIRECTED |
					    VMBS_NDIS_FILTER_BROADCAST |
					    VMBS_NDIS_FILTER_MULTICAST), 0);
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.n_mcast, 1);
	CU_ASSERT(delivered(e, mcast_a));
	CU_ASSERT(dropped(e, mcast_b));
	CU_ASSERT(delivered(e, bcast_mac));
	CU_ASSERT(dropped(e, other_mac));

	/* PROMISCUOUS: everything. */
	CU_ASSERT_EQUAL(nvg_set_filter(e->g, VMBS_NDIS_FILTER_PROMISCUOUS), 0);
	CU_ASSERT(delivered(e, other_mac));
	CU_ASSERT(delivered(e, mcast_b));
	CU_ASSERT(delivered(e, bcast_mac));
	CU_ASSERT(delivered(e, nic_mac));

	/* Stop: 0 again. */
	CU_ASSERT_EQUAL(nvg_set_filter(e->g, 0), 0);
	CU_ASSERT(dropped(e, nic_mac));
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.filter, 0);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 6. malformed input ---- */

/* Send an NVSP message (40 bytes unless @p len) with RC and take the reply. */
static int
nvsp_raw(struct env *e, uint16_t q, const uint8_t *m, uint32_t len, struct nvg_reply *r)
{
	int rc = nvg_nvsp_send(e->g, q, 0, VMBS_PKT_F_COMPLETION_REQUESTED, m, len);

	return rc != 0 ? rc : nvg_reply_wait(e->g, r);
}

static void
nvsp_out_of_order(void)
{
	struct env_cfg cfg = { 0 };
	struct vmbs_nv_stats a, b;
	struct vmbs_nv_queue_stats qa, qb;
	struct nvg_stats gs;
	struct nvg_frame f;
	uint8_t req[24] = { 0 }, frame[100], sect[512];
	uint32_t status = 0, len;
	uint64_t tid;
	struct env *e = env_slot();

	VMBS_CHECK(env_up(e, &cfg) == 0);

	/* RECV_BUF before INIT. */
	vmbs_nv_stats_get(e->nic, &b);
	CU_ASSERT_EQUAL(nvg_recv_buf(e->g, &status), -EIO);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.nvsp_out_of_order, b.nvsp_out_of_order + 1);

	CU_ASSERT_EQUAL_FATAL(nvg_nvsp_init(e->g), 0);
	CU_ASSERT_EQUAL(nvg_ndis_config(e->g), 0);
	CU_ASSERT_EQUAL(nvg_ndis_ver(e->g), 0);

	/* RNDIS before any buffer: no slot to answer in; the request fails. */
	nvg_stats_get(e->g, &gs);
	put32(req, VMBS_RNDIS_MSG_INITIALIZE);
	put32(req + 4, 24);
	put32(req + 8, 0x77);
	put32(req + 12, 1);
	put32(req + 20, 0x4000);
	CU_ASSERT_EQUAL(nvg_rndis_send(e->g, 0, req, sizeof(req)), 0);
	CU_ASSERT(ctl_settle(e));
	{
		struct nvg_stats gs2;

		nvg_stats_get(e->g, &gs2);
		CU_ASSERT_EQUAL(gs2.ctl_comps, gs.ctl_comps + 1);
		CU_ASSERT_EQUAL(gs2.ctl_comp_fail, gs.ctl_comp_fail + 1);
		CU_ASSERT_EQUAL(gs2.ctl_msgs, gs.ctl_msgs);
	}

	/* SEND_BUF before RECV_BUF. */
	vmbs_nv_stats_get(e->nic, &b);
	CU_ASSERT_EQUAL(nvg_send_buf(e->g, &status), -EIO);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.nvsp_out_of_order, b.nvsp_out_of_order + 1);

	CU_ASSERT_EQUAL_FATAL(nvg_recv_buf(e->g, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_send_buf(e->g, NULL), 0);

	/* Duplicate RECV_BUF. */
	vmbs_nv_stats_get(e->nic, &b);
	CU_ASSERT_EQUAL(nvg_recv_buf(e->g, &status), -EIO);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT(a.nvsp_out_of_order + a.nvsp_bad + a.nvsp_buf_failures >
		  b.nvsp_out_of_order + b.nvsp_bad + b.nvsp_buf_failures);

	/* Data before RNDIS INITIALIZE. */
	vmbs_nv_queue_stats_get(e->nic, 0, &qb);
	mk_frame(frame, sizeof(frame), nic_mac, 1);
	memset(&f, 0, sizeof(f));
	f.data = frame;
	f.len = sizeof(frame);
	len = nvg_encap(sect, 0, &f, NULL);
	CU_ASSERT_EQUAL(nvg_chimney_raw(e->g, 0, sect, len, NVG_SECTION_AUTO, len, &tid), 0);
	CU_ASSERT_EQUAL(nvg_req_wait(e->g, tid, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_queue_stats_get(e->nic, 0, &qa);
	CU_ASSERT_EQUAL(qa.rx_not_ready, qb.rx_not_ready + 1);
	CU_ASSERT_EQUAL(host_count(), 0);

	/* Now INITIALIZE, then a duplicate INIT. */
	CU_ASSERT_EQUAL_FATAL(nvg_rndis_init(e->g), 0);
	vmbs_nv_stats_get(e->nic, &b);
	CU_ASSERT_EQUAL(nvg_nvsp_init_one(e->g, 0x60001, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.nvsp_out_of_order, b.nvsp_out_of_order + 1);
	/* The NIC carries on at the version agreed first. */
	CU_ASSERT(good_frame_flows(e, 0));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

static void
nvsp_malformed(void)
{
	struct env_cfg cfg = { .queues = 2 };
	struct vmbs_nv_stats a, b;
	struct vmbs_nv_queue_stats qa, qb;
	struct nvg_reply r;
	struct nvg_stats gs, gs2;
	uint8_t m[40], req[28];
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 2) == 0);

	/* INIT shorter than its struct (8 of 12 bytes). */
	vmbs_nv_stats_get(e->nic, &b);
	memset(m, 0, sizeof(m));
	put32(m, VMBS_NVSP_TYPE_INIT);
	put32(m + 4, 0x60001);
	CU_ASSERT_EQUAL_FATAL(nvsp_raw(e, 0, m, 8, &r), 0);
	CU_ASSERT_EQUAL(r.pkt_type, VMBS_PKT_COMP);
	CU_ASSERT_EQUAL(reply_status(&r), VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT(a.nvsp_bad + a.nvsp_out_of_order > b.nvsp_bad + b.nvsp_out_of_order);
	CU_ASSERT(good_frame_flows(e, 0));

	/* NDIS_CONFIG shorter than its struct (16 of 20). */
	vmbs_nv_stats_get(e->nic, &b);
	memset(m, 0, sizeof(m));
	put32(m, VMBS_NVSP_TYPE_SEND_NDIS_CONFIG);
	put32(m + 4, 1514);
	CU_ASSERT_EQUAL_FATAL(nvsp_raw(e, 0, m, 16, &r), 0);
	CU_ASSERT_EQUAL(reply_status(&r), VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT(a.nvsp_bad + a.nvsp_out_of_order > b.nvsp_bad + b.nvsp_out_of_order);

	/* Unknown type. */
	vmbs_nv_stats_get(e->nic, &b);
	memset(m, 0, sizeof(m));
	put32(m, 999);
	CU_ASSERT_EQUAL_FATAL(nvsp_raw(e, 0, m, 40, &r), 0);
	CU_ASSERT_EQUAL(reply_status(&r), VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.nvsp_bad, b.nvsp_bad + 1);

	/* A type that exists but is not served (OID_QUERY_EX). */
	vmbs_nv_stats_get(e->nic, &b);
	put32(m, VMBS_NVSP_TYPE_OID_QUERY_EX);
	CU_ASSERT_EQUAL_FATAL(nvsp_raw(e, 0, m, 40, &r), 0);
	CU_ASSERT_EQUAL(reply_status(&r), VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.nvsp_bad, b.nvsp_bad + 1);

	/* A host-to-guest type sent by the guest. */
	vmbs_nv_stats_get(e->nic, &b);
	put32(m, VMBS_NVSP_TYPE_INIT_COMPLETE);
	CU_ASSERT_EQUAL_FATAL(nvsp_raw(e, 0, m, 40, &r), 0);
	CU_ASSERT_EQUAL(reply_status(&r), VMBS_NVSP_STATUS_FAIL);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.nvsp_bad, b.nvsp_bad + 1);

	/* Without a completion request: counted, no answer. */
	vmbs_nv_stats_get(e->nic, &b);
	put32(m, 999);
	CU_ASSERT_EQUAL(nvg_nvsp_send(e->g, 0, 0, 0, m, 40), 0);
	CU_ASSERT(PUMP_UNTIL(e, (vmbs_nv_stats_get(e->nic, &a), a.nvsp_bad > b.nvsp_bad)));
	nvg_pump(e->g, 10);
	CU_ASSERT_EQUAL(nvg_replies_pending(e->g), 0);
	CU_ASSERT_EQUAL(a.nvsp_bad, b.nvsp_bad + 1);

	/* RNDIS_PKT shorter than its struct (8 of 16), trans_id 0. */
	nvg_stats_get(e->g, &gs);
	vmbs_nv_stats_get(e->nic, &b);
	memset(m, 0, sizeof(m));
	put32(m, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	CU_ASSERT_EQUAL(nvg_nvsp_send(e->g, 0, 0, VMBS_PKT_F_COMPLETION_REQUESTED, m, 8), 0);
	vmbs_nv_queue_stats_get(e->nic, 0, &qb);
	PUMP_UNTIL(e, (nvg_stats_get(e->g, &gs2), gs2.ctl_comp_fail > gs.ctl_comp_fail));
	CU_ASSERT_EQUAL(gs2.ctl_comp_fail, gs.ctl_comp_fail + 1);
	/* A malformed RNDIS_PKT is a data-path error of its queue. */
	vmbs_nv_queue_stats_get(e->nic, 0, &qa);
	CU_ASSERT_EQUAL(qa.rx_bad, qb.rx_bad + 1);

	/* Control messages belong on the primary: one on a subchannel fails. */
	nvg_stats_get(e->g, &gs);
	memset(req, 0, sizeof(req));
	put32(req, VMBS_RNDIS_MSG_QUERY);
	put32(req + 4, 28);
	put32(req + 8, nvg_rndis_rid(e->g));
	put32(req + 12, VMBS_OID_GEN_MEDIA_CONNECT_STATUS);
	put32(req + 20, 20);
	CU_ASSERT_EQUAL(nvg_rndis_send(e->g, 1, req, sizeof(req)), 0);
	CU_ASSERT(ctl_settle(e));
	nvg_stats_get(e->g, &gs2);
	CU_ASSERT_EQUAL(gs2.ctl_comp_fail, gs.ctl_comp_fail + 1);
	CU_ASSERT_EQUAL(gs2.ctl_msgs, gs.ctl_msgs);

	/* SUBCHANNEL on a subchannel. */
	memset(m, 0, sizeof(m));
	put32(m, VMBS_NVSP_TYPE_SUBCHANNEL);
	put32(m + 4, 1);
	put32(m + 8, 1);
	CU_ASSERT_EQUAL_FATAL(nvsp_raw(e, 1, m, 40, &r), 0);
	CU_ASSERT_EQUAL(reply_status(&r), VMBS_NVSP_STATUS_FAIL);

	CU_ASSERT(good_frame_flows(e, 0));
	CU_ASSERT(good_frame_flows(e, 1));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* Offsets of the PACKET fields, from the message start (b.5). */
#define PK_LEN 4
#define PK_DATA_OFF 8
#define PK_DATA_LEN 12
#define PK_OOB_OFF 16
#define PK_OOB_LEN 20
#define PK_OOB_N 24
#define PK_PPI_OFF 28
#define PK_PPI_LEN 32
#define PK_VC 36

/*
 * Send @p bytes as a data request (through a section, or the given GPA
 * ranges); expect a FAIL completion, the counter at @p ctr (offset in
 * struct vmbs_nv_queue_stats) up by one, nothing delivered, and then a
 * good frame flowing.
 */
static void
data_fail(struct env *e, const char *what, const uint8_t *bytes, uint32_t len,
	  uint32_t section, uint32_t ssize, const struct vmbs_desc_gpa_seg *segs,
	  uint32_t nseg, size_t ctr)
{
	struct vmbs_nv_queue_stats a, b;
	uint32_t status = 0, before = host_count();
	uint64_t tid = 0, va, vb;
	int rc;

	vmbs_nv_queue_stats_get(e->nic, 0, &b);
	if (nseg == 0)
		rc = nvg_chimney_raw(e->g, 0, bytes, len, section, ssize, &tid);
	else
		rc = nvg_gpa_raw(e->g, 0, segs, nseg, VMBS_NVSP_CHANNEL_DATA, section, ssize, &tid);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(nvg_req_wait(e->g, tid, &status), 0);
	vmbs_nv_queue_stats_get(e->nic, 0, &a);
	memcpy(&va, (const uint8_t *)&a + ctr, 8);
	memcpy(&vb, (const uint8_t *)&b + ctr, 8);
	if (status != VMBS_NVSP_STATUS_FAIL || va != vb + 1 || host_count() != before)
		fprintf(stderr, "malformed '%s': status %u, counter %" PRIu64 " -> %" PRIu64
			", frames delivered %u\n", what, status, vb, va, host_count() - before);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_FAIL);
	CU_ASSERT_EQUAL(va, vb + 1);
	CU_ASSERT_EQUAL(host_count(), before);
	CU_ASSERT(good_frame_flows(e, 0));
}

#define RX_BAD offsetof(struct vmbs_nv_queue_stats, rx_bad)
#define RX_EXT offsetof(struct vmbs_nv_queue_stats, rx_ext_errors)

/* A good PACKET (VLAN PPI + HASH_VALUE) of a 100-byte frame at @p buf. */
static uint32_t
good_pkt(uint8_t *buf, uint32_t seed)
{
	static uint8_t frame[100];
	struct nvg_frame f;

	mk_frame(frame, sizeof(frame), nic_mac, seed);
	memset(&f, 0, sizeof(f));
	f.data = frame;
	f.len = sizeof(frame);
	f.ppi.present = VMBS_RNDIS_PPI_F_VLAN;
	f.ppi.vlan = 5u << VMBS_RNDIS_VLAN_VID_SHIFT;
	return nvg_encap(buf, 0, &f, NULL);
}

static void
data_malformed(void)
{
	static uint8_t b[6144 + 64];
	struct env_cfg cfg = { 0 };
	struct vmbs_desc_gpa_seg seg[2];
	uint32_t len, i, off, n_sect;
	uint64_t sgpa;
	uint8_t *sva;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	n_sect = nvg_info(e->g)->section_cnt;
	CU_ASSERT(good_frame_flows(e, 0));

	len = good_pkt(b, 1);
	data_fail(e, "section index out of range", b, len, n_sect, len, NULL, 0, RX_BAD);
	data_fail(e, "section index far out of range", b, len, 0x7fffffffu, len, NULL, 0,
		  RX_BAD);
	data_fail(e, "section size larger than the section", b, len, NVG_SECTION_AUTO, 6145,
		  NULL, 0, RX_BAD);
	data_fail(e, "section size 0", b, len, NVG_SECTION_AUTO, 0, NULL, 0, RX_BAD);
	data_fail(e, "section size short of the PACKET", b, len, NVG_SECTION_AUTO, len - 8,
		  NULL, 0, RX_BAD);

	len = good_pkt(b, 2);
	put32(b + PK_LEN, len + 8);
	data_fail(e, "PACKET len past the buffer", b, len, NVG_SECTION_AUTO, len, NULL, 0,
		  RX_BAD);
	len = good_pkt(b, 3);
	put32(b + PK_DATA_OFF, 20);
	data_fail(e, "data_offset < 36", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 4);
	put32(b + PK_DATA_LEN, 0);
	data_fail(e, "data_len 0", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 5);
	put32(b + PK_DATA_LEN, rd32(b + PK_DATA_LEN) + 1);
	data_fail(e, "data past the message", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 6);
	put32(b + 44, 14);	/* first PPI's size */
	data_fail(e, "PPI size not a multiple of 4", b, len, NVG_SECTION_AUTO, len, NULL, 0,
		  RX_BAD);
	len = good_pkt(b, 7);
	put32(b + 44 + 8, 20);	/* first PPI's offset, past its 16 bytes */
	data_fail(e, "PPI offset past its size", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 8);
	put32(b + PK_PPI_LEN, rd32(b + PK_PPI_LEN) + 4);
	data_fail(e, "PPI area past the data", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 9);
	/* Both PPIs say 802.1Q (the second was the hash value). */
	put32(b + 44 + 16 + 4, VMBS_RNDIS_PPI_IEEE_8021Q);
	put32(b + 44 + 4, VMBS_RNDIS_PPI_IEEE_8021Q);
	data_fail(e, "duplicated PPI", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 10);
	put32(b + PK_OOB_OFF, 36);
	put32(b + PK_OOB_LEN, 8);
	put32(b + PK_OOB_N, 1);
	data_fail(e, "OOB data", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 11);
	put32(b + PK_VC, 1);
	data_fail(e, "vc_handle set", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	len = good_pkt(b, 12);
	put32(b, VMBS_RNDIS_MSG_INITIALIZE);
	data_fail(e, "not a PACKET", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);

	/* Nine PACKETs in one section (INITIALIZE_CMPLT said 8). */
	for (i = 0, off = 0; i < 9; i++) {
		len = good_pkt(b + off, 20 + i);
		off += (len + 7) & ~7u;
		put32(b + off - ((len + 7) & ~7u) + PK_LEN, (len + 7) & ~7u);
	}
	data_fail(e, "nine PACKETs in a section", b, off, NVG_SECTION_AUTO, off, NULL, 0,
		  RX_BAD);

	/* Frame shorter than an Ethernet header. */
	{
		struct nvg_frame f;
		uint8_t tiny[10] = { 0 };

		memset(&f, 0, sizeof(f));
		f.data = tiny;
		f.len = sizeof(tiny);
		len = nvg_encap(b, 0, &f, NULL);
		data_fail(e, "frame of 10 bytes", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
	}
	/* LSO with MSS 0, LSO and checksum offsets past the frame. */
	{
		struct nvg_frame f;
		uint8_t frame[200];

		mk_tcp_frame(frame, sizeof(frame), 3);
		memset(&f, 0, sizeof(f));
		f.data = frame;
		f.len = sizeof(frame);
		f.ppi.present = VMBS_RNDIS_PPI_F_LSO;
		f.ppi.lso = VMBS_RNDIS_LSO_V2 | (34u << VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT);
		len = nvg_encap(b, 0, &f, NULL);
		data_fail(e, "LSO with MSS 0", b, len, NVG_SECTION_AUTO, len, NULL, 0, RX_BAD);
		f.ppi.lso = VMBS_RNDIS_LSO_V2 | 1448u | (1000u << VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT);
		len = nvg_encap(b, 0, &f, NULL);
		data_fail(e, "LSO header offset past the frame", b, len, NVG_SECTION_AUTO, len,
			  NULL, 0, RX_BAD);
		f.ppi.present = VMBS_RNDIS_PPI_F_CSUM;
		f.ppi.csum = VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_TCP |
			     (500u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
		len = nvg_encap(b, 0, &f, NULL);
		data_fail(e, "checksum header offset past the frame", b, len, NVG_SECTION_AUTO,
			  len, NULL, 0, RX_BAD);
	}

	/* GPA-direct: ranges outside guest memory. */
	sva = nvg_scratch(e->g, &sgpa);
	len = good_pkt(sva, 30);
	seg[0].gpa = UINT64_C(1) << 40;
	seg[0].len = len;
	data_fail(e, "GPA range beyond guest memory", NULL, 0, VMBS_NVSP_SECTION_NONE, 0, seg,
		  1, RX_EXT);
	seg[0].gpa = sgpa;
	seg[0].len = 60;
	seg[1].gpa = UINT64_C(1) << 40;
	seg[1].len = len - 60;
	data_fail(e, "second GPA range beyond guest memory", NULL, 0, VMBS_NVSP_SECTION_NONE, 0,
		  seg, 2, RX_EXT);
	/* GPA ranges shorter than the PACKET says. */
	seg[0].gpa = sgpa;
	seg[0].len = len - 10;
	data_fail(e, "GPA ranges short of the PACKET", NULL, 0, VMBS_NVSP_SECTION_NONE, 0, seg,
		  1, RX_BAD);
	/* GPA ranges shorter than a PACKET header. */
	seg[0].len = 30;
	data_fail(e, "GPA ranges short of a header", NULL, 0, VMBS_NVSP_SECTION_NONE, 0, seg, 1,
		  RX_BAD);
	/* Section plus GPA with a bad section index. */
	seg[0].len = len;
	data_fail(e, "section + GPA, section out of range", NULL, 0, n_sect, 64, seg, 1,
		  RX_BAD);

	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* A raw control message: NVSP completion FAIL, counted, no reply. */
static void
ctl_fail(struct env *e, const char *what, const uint8_t *msg, uint32_t len, uint32_t rid)
{
	struct vmbs_nv_stats a, b;
	struct nvg_stats gs, gs2;

	nvg_stats_get(e->g, &gs);
	vmbs_nv_stats_get(e->nic, &b);
	CU_ASSERT_EQUAL(nvg_rndis_send(e->g, 0, msg, len), 0);
	CU_ASSERT(ctl_settle(e));
	nvg_stats_get(e->g, &gs2);
	vmbs_nv_stats_get(e->nic, &a);
	if (gs2.ctl_comp_fail != gs.ctl_comp_fail + 1 || a.rndis_ctl_bad != b.rndis_ctl_bad + 1)
		fprintf(stderr, "malformed control '%s': NVSP fails %" PRIu64 ", rndis_ctl_bad %"
			PRIu64 " -> %" PRIu64 "\n", what, gs2.ctl_comp_fail - gs.ctl_comp_fail,
			b.rndis_ctl_bad, a.rndis_ctl_bad);
	CU_ASSERT_EQUAL(gs2.ctl_comp_fail, gs.ctl_comp_fail + 1);
	CU_ASSERT_EQUAL(a.rndis_ctl_bad, b.rndis_ctl_bad + 1);
	if (rid != 0) {
		uint8_t r[64];
		uint32_t rl = sizeof(r);

		nvg_set_timeout(e->g, 20);
		CU_ASSERT_EQUAL(nvg_rndis_wait(e->g, rid, r, &rl), -ETIMEDOUT);
		nvg_set_timeout(e->g, 3000);
	}
}

static void
rndis_malformed(void)
{
	struct env_cfg cfg = { .queues = 2 };
	struct vmbs_nv_stats a, b;
	uint8_t m[700], out[64];
	uint32_t status = 0, len, rid, v;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 2) == 0);

	/* QUERY shorter than its 28 bytes. */
	rid = nvg_rndis_rid(e->g);
	memset(m, 0, sizeof(m));
	put32(m, VMBS_RNDIS_MSG_QUERY);
	put32(m + 4, 20);
	put32(m + 8, rid);
	put32(m + 12, VMBS_OID_GEN_MEDIA_CONNECT_STATUS);
	ctl_fail(e, "QUERY of 20 bytes", m, 20, rid);
	/* Length field beyond the bytes sent. */
	rid = nvg_rndis_rid(e->g);
	put32(m + 4, 400);
	put32(m + 8, rid);
	put32(m + 20, 20);
	ctl_fail(e, "QUERY len past the message", m, 28, rid);
	/* Info buffer past the message. */
	rid = nvg_rndis_rid(e->g);
	put32(m + 4, 28);
	put32(m + 8, rid);
	put32(m + 16, 8);
	put32(m + 20, 20);
	ctl_fail(e, "QUERY info buffer past the message", m, 28, rid);
	/* Info buffer inside the fixed part. */
	rid = nvg_rndis_rid(e->g);
	put32(m + 4, 36);
	put32(m + 8, rid);
	put32(m + 16, 8);
	put32(m + 20, 4);
	ctl_fail(e, "QUERY info offset inside the header", m, 36, rid);
	/* Not a control type. */
	rid = nvg_rndis_rid(e->g);
	put32(m, 0x55);
	put32(m + 4, 28);
	put32(m + 8, rid);
	ctl_fail(e, "unknown RNDIS type", m, 28, rid);
	len = good_pkt(m, 1);
	ctl_fail(e, "PACKET on the control path", m, len, 0);

	/* Unknown OIDs: NOT_SUPPORTED (b.5). */
	vmbs_nv_stats_get(e->nic, &b);
	len = sizeof(out);
	CU_ASSERT_EQUAL(nvg_rndis_query(e->g, 0x01020304u, NULL, 0, out, &len, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_NOT_SUPPORTED);
	v = 1;
	CU_ASSERT_EQUAL(nvg_rndis_set(e->g, 0x01020304u, &v, 4, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_NOT_SUPPORTED);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.rndis_unsupported, b.rndis_unsupported + 2);

	/* RSS parameters: key of 39 bytes, an entry naming queue 2 of 2. */
	vmbs_nv_stats_get(e->nic, &b);
	len = nvg_rss_build(e->g, m, 0, 2);
	m[20] = 39;
	CU_ASSERT_EQUAL(nvg_rndis_set(e->g, VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS, m, len, &status),
			0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_INVALID_DATA);
	len = nvg_rss_build(e->g, m, 0, 2);
	put32(m + 80 + 4 * 77, 2);
	CU_ASSERT_EQUAL(nvg_rndis_set(e->g, VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS, m, len, &status),
			0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_INVALID_DATA);
	/* Table offset past the buffer. */
	len = nvg_rss_build(e->g, m, 0, 2);
	put32(m + 16, 100);
	CU_ASSERT_EQUAL(nvg_rndis_set(e->g, VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS, m, len, &status),
			0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_INVALID_DATA);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.rndis_invalid, b.rndis_invalid + 3);
	/* The good parameters still apply. */
	len = nvg_rss_build(e->g, m, 0, 2);
	CU_ASSERT_EQUAL(nvg_rndis_set(e->g, VMBS_OID_GEN_RECEIVE_SCALE_PARAMETERS, m, len, &status),
			0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_SUCCESS);

	/* A packet filter of the wrong size is refused. */
	CU_ASSERT_EQUAL(nvg_rndis_set(e->g, VMBS_OID_GEN_CURRENT_PACKET_FILTER, &v, 2, &status), 0);
	CU_ASSERT_NOT_EQUAL(status, VMBS_RNDIS_STATUS_SUCCESS);

	/* Control still answers, data still flows. */
	len = sizeof(v);
	CU_ASSERT_EQUAL(nvg_rndis_query(e->g, VMBS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &v, &len,
					&status), 0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_SUCCESS);
	CU_ASSERT(good_frame_flows(e, 0));
	CU_ASSERT(good_frame_flows(e, 1));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* Bad ring packets and bad guest completions: counted, the NIC goes on. */
static void
raw_packets_and_completions(void)
{
	struct env_cfg cfg = { 0 };
	struct vmbs_nv_queue_stats qa, qb;
	struct vmbs_nv_stats a, b;
	struct vmbs_pkt_desc d;
	uint8_t pkt[256], nv[40], ack[40];
	uint64_t sgpa, pfn, tid;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	nvg_scratch(e->g, &sgpa);
	pfn = sgpa >> 12;
	memset(nv, 0, sizeof(nv));
	put32(nv, VMBS_NVSP_TYPE_SEND_RNDIS_PKT);
	put32(nv + 8, VMBS_NVSP_SECTION_NONE);

	/* A packet type guests may not send (GPADL data, 8). */
	memset(&d, 0, sizeof(d));
	d.type = VMBS_PKT_DATA_GPADL;
	d.offset8 = 2;
	d.flags = VMBS_PKT_F_COMPLETION_REQUESTED;
	memcpy(pkt, &d, 16);
	memcpy(pkt + 16, nv, 40);
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 56), 0);
	CU_ASSERT(good_frame_flows(e, 0));

	/* GPA-direct with no range; with a range offset of 4096; with an
	 * empty range; with a PFN list too short for its range. */
	d.type = VMBS_PKT_DATA_GPA_DIRECT;
	d.offset8 = 3;
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, &d, 16);
	memcpy(pkt + 24, nv, 40);
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 64), 0);
	CU_ASSERT(good_frame_flows(e, 0));
	d.offset8 = 5;
	memcpy(pkt, &d, 16);
	put32(pkt + 20, 1);
	put32(pkt + 24, 100);
	put32(pkt + 28, 4096);
	put64(pkt + 32, pfn);
	memcpy(pkt + 40, nv, 40);
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 80), 0);
	CU_ASSERT(good_frame_flows(e, 0));
	put32(pkt + 24, 0);
	put32(pkt + 28, 0);
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 80), 0);
	CU_ASSERT(good_frame_flows(e, 0));
	put32(pkt + 24, 5000);
	put32(pkt + 28, 100);
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 80), 0);
	CU_ASSERT(good_frame_flows(e, 0));

	/* Completions the host never asked for: counted comp_bad. */
	memset(ack, 0, sizeof(ack));
	put32(ack, VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE);
	put32(ack + 4, 1);
	vmbs_nv_queue_stats_get(e->nic, 0, &qb);
	memset(&d, 0, sizeof(d));
	d.type = VMBS_PKT_COMP;
	d.offset8 = 2;
	d.trans_id = 0x7fff0000;	/* no such slot */
	memcpy(pkt, &d, 16);
	memcpy(pkt + 16, ack, 40);
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 56), 0);
	d.trans_id = 20;		/* a data slot that is free */
	memcpy(pkt, &d, 16);
	put32(pkt + 16, 999);		/* and not even an RNDIS_PKT_COMPLETE */
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 56), 0);
	PUMP_UNTIL(e, (vmbs_nv_queue_stats_get(e->nic, 0, &qa), qa.comp_bad >= qb.comp_bad + 2));
	CU_ASSERT_EQUAL(qa.comp_bad, qb.comp_bad + 2);

	/* A delivery completed twice: the second is a duplicate. */
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	CU_ASSERT(delivered(e, nic_mac));
	CU_ASSERT_EQUAL_FATAL(nvg_acks_held(e->g), 1);
	tid = nvg_held_tid(e->g, 0);
	nvg_set_ack_mode(e->g, NVG_ACK_NOW);
	CU_ASSERT_EQUAL(nvg_release_acks(e->g, -1), 1);
	CU_ASSERT(data_acks_settle(e));
	vmbs_nv_queue_stats_get(e->nic, 0, &qb);
	CU_ASSERT_EQUAL(nvg_ack(e->g, 0, tid), 0);
	PUMP_UNTIL(e, (vmbs_nv_queue_stats_get(e->nic, 0, &qa), qa.comp_bad > qb.comp_bad));
	CU_ASSERT_EQUAL(qa.comp_bad, qb.comp_bad + 1);
	CU_ASSERT_EQUAL(qa.comp_ok, qb.comp_ok);

	/* A control slot completed while not in use: counted. */
	vmbs_nv_stats_get(e->nic, &b);
	d.trans_id = 9;
	memcpy(pkt, &d, 16);
	memcpy(pkt + 16, ack, 40);
	CU_ASSERT_EQUAL(nvg_send_pkt(e->g, 0, pkt, 56), 0);
	PUMP_UNTIL(e, (vmbs_nv_stats_get(e->nic, &a), a.ctl_comp_bad > b.ctl_comp_bad));
	CU_ASSERT_EQUAL(a.ctl_comp_bad, b.ctl_comp_bad + 1);

	CU_ASSERT(good_frame_flows(e, 0));
	CU_ASSERT(delivered(e, nic_mac));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 7. receive-buffer and control-slot exhaustion ---- */

/*
 * Fill queue @p q's receive-buffer partition while the guest holds its
 * acks: bursts of 32 until the engine takes fewer. Returns frames taken.
 */
static uint32_t
fill_partition(struct env *e, uint16_t q)
{
	static uint8_t buf[32][200];
	struct vmbs_nv_txframe tf[32];
	struct iovec iov[32];
	uint32_t total = 0, i, round;
	uint16_t n;

	memset(tf, 0, sizeof(tf));
	for (i = 0; i < 32; i++) {
		mk_frame(buf[i], sizeof(buf[i]), nic_mac, i);
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		tf[i].iov = &iov[i];
		tf[i].iovcnt = 1;
	}
	for (round = 0; round < 4096; round++) {
		n = vmbs_nv_tx_burst(e->nic, q, tf, 32);
		total += n;
		nvg_poll(e->g);
		if (n < 32)
			break;
	}
	return total;
}

static void
exhaust_and_recover(uint16_t queues, int ack_q)
{
	struct env_cfg cfg = { .queues = queues };
	struct vmbs_nv_queue_stats a, b;
	uint32_t data = (2u << 20) / 1856u - 16u, part, got, again;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, queues) == 0);
	/* Partition 0 of the data slots (b.4 / rxbuf: q * n_data / n_queues). */
	part = data / queues;
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	vmbs_nv_queue_stats_get(e->nic, 0, &b);
	got = fill_partition(e, 0);
	vmbs_nv_queue_stats_get(e->nic, 0, &a);
	CU_ASSERT_EQUAL(got, part);
	CU_ASSERT(a.tx_full > b.tx_full);
	CU_ASSERT_EQUAL(a.tx_frames, b.tx_frames + got);
	/* Nothing more fits while the guest holds every slot. */
	nvg_pump(e->g, 20);
	CU_ASSERT_EQUAL(fill_partition(e, 0), 0);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, got), 0);
	CU_ASSERT_EQUAL(nvg_rx_count(e->g), got);

	/* The guest acks (on another channel if asked): every slot returns. */
	nvg_set_ack_mode(e->g, NVG_ACK_NOW);
	CU_ASSERT(nvg_release_acks(e->g, ack_q) > 0);
	CU_ASSERT(data_acks_settle(e));
	nvg_rx_clear(e->g);
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	again = fill_partition(e, 0);
	CU_ASSERT_EQUAL(again, part);
	/* Deliveries reach the ring from the poll lcore: take them all first. */
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, again), 0);
	nvg_set_ack_mode(e->g, NVG_ACK_NOW);
	CU_ASSERT(nvg_release_acks(e->g, ack_q) > 0);
	CU_ASSERT(data_acks_settle(e));
	vmbs_nv_queue_stats_get(e->nic, -1, &a);
	CU_ASSERT_EQUAL(a.comp_bad + a.comp_ring_full, 0);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

static void
rxbuf_exhaustion_same_channel(void)
{
	exhaust_and_recover(1, -1);
}

static void
rxbuf_exhaustion_acks_on_other_channel(void)
{
	exhaust_and_recover(2, 1);
}

static uint32_t
send_query(struct env *e, uint32_t oid)
{
	uint8_t m[28] = { 0 };
	uint32_t rid = nvg_rndis_rid(e->g);

	put32(m, VMBS_RNDIS_MSG_QUERY);
	put32(m + 4, 28);
	put32(m + 8, rid);
	put32(m + 12, oid);
	put32(m + 20, 20);
	CU_ASSERT_EQUAL(nvg_rndis_send(e->g, 0, m, sizeof(m)), 0);
	return rid;
}

static void
ctl_slot_exhaustion(void)
{
	struct env_cfg cfg = { 0 };
	struct vmbs_nv_stats a, b;
	struct nvg_stats gs, gs2;
	uint32_t rid[64], i, len, ok;
	uint8_t r[64];
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	vmbs_nv_stats_get(e->nic, &b);
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	for (i = 0; i < 20; i++)
		rid[i] = send_query(e, VMBS_OID_GEN_MEDIA_CONNECT_STATUS);
	CU_ASSERT(ctl_settle(e));
	/* 16 control slots: 16 replies, the other 4 wait. */
	vmbs_nv_stats_get(e->nic, &a);
	if (nvg_rndis_pending(e->g) != 16)
		fprintf(stderr, "ctl: 20 queries, acks held: %u replies, %" PRIu64
			" backlogged, %" PRIu64 " dropped (expected 16, 4, 0)\n",
			nvg_rndis_pending(e->g), a.ctl_backlogged - b.ctl_backlogged,
			a.ctl_dropped - b.ctl_dropped);
	CU_ASSERT_EQUAL(nvg_rndis_pending(e->g), 16);
	CU_ASSERT_EQUAL(a.ctl_backlogged, b.ctl_backlogged + 4);
	nvg_set_ack_mode(e->g, NVG_ACK_NOW);
	CU_ASSERT_EQUAL(nvg_release_acks(e->g, -1), 16);
	for (i = 0, ok = 0; i < 20; i++) {
		len = sizeof(r);
		if (nvg_rndis_wait(e->g, rid[i], r, &len) == 0 &&
		    rd32(r) == VMBS_RNDIS_MSG_QUERY_CMPLT && rd32(r + 12) == 0)
			ok++;
	}
	CU_ASSERT_EQUAL(ok, 20);

	/* Beyond 16 slots + 32 waiting, requests fail (FAIL completion). */
	vmbs_nv_stats_get(e->nic, &b);
	nvg_stats_get(e->g, &gs);
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	for (i = 0; i < 16 + VMBS_NV_CTL_BACKLOG + 3; i++)
		rid[i] = send_query(e, VMBS_OID_GEN_LINK_SPEED);
	CU_ASSERT(ctl_settle(e));
	CU_ASSERT_EQUAL(nvg_rndis_pending(e->g), 16);
	vmbs_nv_stats_get(e->nic, &a);
	nvg_stats_get(e->g, &gs2);
	CU_ASSERT_EQUAL(a.ctl_dropped, b.ctl_dropped + 3);
	CU_ASSERT_EQUAL(gs2.ctl_comp_fail, gs.ctl_comp_fail + 3);
	nvg_set_ack_mode(e->g, NVG_ACK_NOW);
	nvg_release_acks(e->g, -1);
	for (i = 0, ok = 0; i < 16 + VMBS_NV_CTL_BACKLOG; i++) {
		len = sizeof(r);
		if (nvg_rndis_wait(e->g, rid[i], r, &len) == 0 && rd32(r + 12) == 0)
			ok++;
	}
	CU_ASSERT_EQUAL(ok, 16 + VMBS_NV_CTL_BACKLOG);
	nvg_pump(e->g, 20);
	CU_ASSERT_EQUAL(nvg_rndis_pending(e->g), 0);
	vmbs_nv_stats_get(e->nic, &a);
	CU_ASSERT_EQUAL(a.ctl_comp_bad, 0);
	CU_ASSERT(good_frame_flows(e, 0));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 8. link state ---- */

static void
link_indications(void)
{
	static struct cap cap;
	struct env_cfg cfg = { 0 };
	struct vmbs_nv_stats ns;
	uint32_t status = 0, v = 0, len, ml;
	uint8_t msg[64];
	const struct cap_ent *m;
	struct env *e = env_slot();

	memset(&cap, 0, sizeof(cap));
	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	nvg_set_capture(e->g, cap_pkt, cap_msg, &cap);

	vmbs_nv_link_set(e->nic, false);
	ml = sizeof(msg);
	CU_ASSERT_EQUAL_FATAL(nvg_status_wait(e->g, &status, msg, &ml), 0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_MEDIA_DISCONNECT);
	/* b.5 INDICATE_STATUS {7, len, status, buflen, offset}. */
	CU_ASSERT(ml >= 20);
	CU_ASSERT_EQUAL(rd32(msg), VMBS_RNDIS_MSG_INDICATE_STATUS);
	CU_ASSERT_EQUAL(rd32(msg + 4), ml);
	CU_ASSERT_EQUAL(rd32(msg + 12), ml - 20);
	/* In a control slot, channel_type 1, on the primary. */
	m = cap_find_msg(&cap, VMBS_RNDIS_MSG_INDICATE_STATUS, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(m->tid < 16);
	CU_ASSERT_EQUAL(m->q, 0);
	len = sizeof(v);
	CU_ASSERT_EQUAL(nvg_rndis_query(e->g, VMBS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &v, &len,
					&status), 0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(v, VMBS_NDIS_MEDIA_STATE_DISCONNECTED);

	/* Same state again: nothing new. */
	vmbs_nv_link_set(e->nic, false);
	nvg_pump(e->g, 20);
	ml = sizeof(msg);
	nvg_set_timeout(e->g, 10);
	CU_ASSERT_EQUAL(nvg_status_wait(e->g, &status, msg, &ml), -ETIMEDOUT);
	nvg_set_timeout(e->g, 3000);

	vmbs_nv_link_set(e->nic, true);
	CU_ASSERT_EQUAL_FATAL(nvg_status_wait(e->g, &status, NULL, NULL), 0);
	CU_ASSERT_EQUAL(status, VMBS_RNDIS_STATUS_MEDIA_CONNECT);
	len = sizeof(v);
	CU_ASSERT_EQUAL(nvg_rndis_query(e->g, VMBS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &v, &len,
					&status), 0);
	CU_ASSERT_EQUAL(v, VMBS_NDIS_MEDIA_STATE_CONNECTED);
	vmbs_nv_stats_get(e->nic, &ns);
	CU_ASSERT_EQUAL(ns.status_indications, 2);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 9. abrupt guest exit mid-traffic, then a second session ---- */

static void
disconnect_mid_traffic(void)
{
	static uint8_t buf[1200];
	struct env_cfg cfg = { .queues = 2 };
	struct vmbs_nv_txframe tf[16];
	struct vmbs_nv_state st;
	struct nvg_frame f;
	struct iovec iov;
	uint32_t i;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 2) == 0);
	mk_frame(buf, sizeof(buf), nic_mac, 9);
	memset(&f, 0, sizeof(f));
	f.data = buf;
	f.len = sizeof(buf);
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	memset(tf, 0, sizeof(tf));
	for (i = 0; i < 16; i++) {
		tf[i].iov = &iov;
		tf[i].iovcnt = 1;
	}
	/* Traffic both ways, acks held, requests in flight. */
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	for (i = 0; i < 40; i++) {
		CU_ASSERT_EQUAL(nvg_send(e->g, (uint16_t)(i & 1), (enum nvg_tx_form)(i % 5), &f, 1,
					 NULL), 0);
		vmbs_nv_tx_burst(e->nic, (uint16_t)(i & 1), tf, 16);
	}
	nvg_destroy(e->g);
	e->g = NULL;
	/* More host traffic while the VM is going away must be harmless. */
	for (i = 0; i < 20; i++)
		vmbs_nv_tx_burst(e->nic, (uint16_t)(i & 1), tf, 16);
	CU_ASSERT(vm_gone(e));
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.queues_open, 0);
	CU_ASSERT(!st.rndis_up);

	/* A new session of the same VM brings the NIC up again. */
	host_clear();
	CU_ASSERT_EQUAL_FATAL(nvg_attach(&e->gp, &e->g), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_bringup(e->g), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_configure(e->g, 2), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_start(e->g), 0);
	vmbs_nv_state_get(e->nic, &st);
	CU_ASSERT_EQUAL(st.queues_open, 2);
	CU_ASSERT(st.rndis_up);
	CU_ASSERT(good_frame_flows(e, 0));
	CU_ASSERT(good_frame_flows(e, 1));
	CU_ASSERT(delivered(e, nic_mac));
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* ---- 10. Tx queues of several lcores onto one guest queue ---- */

#define RACE_BURSTS 200000u

struct race_arg {
	struct vmbs_nv *nic;
	const struct vmbs_nv_txframe *tf;
};

static void *
race_tx(void *p)
{
	const struct race_arg *a = p;
	uint32_t i;

	for (i = 0; i < RACE_BURSTS; i++)
		vmbs_nv_tx_burst(a->nic, 0, a->tf, 16);
	return NULL;
}

/*
 * With tx_rss several Tx queues deliver on one guest queue at once; the
 * drops counted before the partition lock (link or RNDIS down, filter
 * off) must add up from every thread (they were plain increments).
 */
static void
concurrent_tx_counts_every_drop(void)
{
	static uint8_t buf[128];
	struct env_cfg cfg = { .queues = 1 };
	struct vmbs_nv_txframe tf[16];
	struct vmbs_nv_queue_stats qs;
	struct race_arg arg;
	pthread_t th[2];
	struct iovec iov;
	uint32_t i;
	struct env *e = env_slot();

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	mk_frame(buf, sizeof(buf), nic_mac, 3);
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	memset(tf, 0, sizeof(tf));
	for (i = 0; i < 16; i++) {
		tf[i].iov = &iov;
		tf[i].iovcnt = 1;
	}
	/* The guest goes: RNDIS is down, every frame is a tx_down drop. */
	nvg_destroy(e->g);
	e->g = NULL;
	CU_ASSERT(vm_gone(e));
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &qs), 0);
	arg.nic = e->nic;
	arg.tf = tf;
	/* One CPU each: created here they would inherit the main lcore's. */
	for (i = 0; i < 2; i++) {
		pthread_attr_t at;
		cpu_set_t cs;

		CPU_ZERO(&cs);
		CPU_SET(i % (uint32_t)RTE_MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L), &cs);
		pthread_attr_init(&at);
		pthread_attr_setaffinity_np(&at, sizeof(cs), &cs);
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], &at, race_tx, &arg), 0);
		pthread_attr_destroy(&at);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	{
		uint64_t before = qs.tx_down;

		CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &qs), 0);
		CU_ASSERT_EQUAL(qs.tx_down - before, 2ull * RACE_BURSTS * 16);
	}
	env_down(e);
}

/* ---- 11. software Tx offloads: checksums and TSO ---- */

struct off_frame {
	uint8_t b[65536];
	uint32_t len;
	uint32_t l2, l3, l4;
	bool v6;
	uint8_t proto;
};

/* Ethernet (+ @p vlan tag) + IPv4/IPv6 + TCP/UDP + @p payload bytes; the
 * checksum fields hold garbage, as a guest that offloads them leaves them.
 */
static void
mk_off_frame(struct off_frame *f, bool v6, uint8_t proto, bool vlan, uint32_t payload,
	     uint32_t seed)
{
	uint8_t *ip, *l4;
	uint32_t i, l4len;

	VMBS_CHECK(payload + 18 + 40 + 32 <= sizeof(f->b));
	memset(f, 0, sizeof(*f));
	f->v6 = v6;
	f->proto = proto;
	memcpy(f->b, nic_mac, 6);
	memcpy(f->b + 6, src_mac, 6);
	f->l2 = 14;
	if (vlan) {
		f->b[12] = 0x81;
		f->b[13] = 0x00;
		f->b[14] = 0x20;
		f->b[15] = 0x07;
		f->l2 = 18;
	}
	f->b[f->l2 - 2] = v6 ? 0x86 : 0x08;
	f->b[f->l2 - 1] = v6 ? 0xdd : 0x00;
	f->l3 = v6 ? 40 : 20;
	f->l4 = proto == 6 ? 32 : 8;	/* TCP with 12 option bytes */
	l4len = f->l4 + payload;
	f->len = f->l2 + f->l3 + l4len;
	ip = f->b + f->l2;
	l4 = ip + f->l3;
	if (v6) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)(l4len >> 8);
		ip[5] = (uint8_t)l4len;
		ip[6] = proto;
		ip[7] = 64;
		for (i = 8; i < 40; i++)
			ip[i] = (uint8_t)(seed + i * 29);
	} else {
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + l4len) >> 8);
		ip[3] = (uint8_t)(20 + l4len);
		ip[4] = 0x12;
		ip[5] = 0x34;
		ip[6] = 0x40;	/* DF */
		ip[8] = 64;
		ip[9] = proto;
		ip[10] = 0xde;	/* garbage checksum */
		ip[11] = 0xad;
		for (i = 12; i < 20; i++)
			ip[i] = (uint8_t)(seed + i * 31);
	}
	l4[0] = 0x30;
	l4[1] = 0x39;
	l4[2] = 0x00;
	l4[3] = 0x50;
	if (proto == 6) {
		l4[4] = 0xff;	/* seq wraps during segmentation */
		l4[5] = 0xff;
		l4[6] = 0xf0;
		l4[7] = 0x00;
		l4[12] = 0x80;	/* 8 words */
		l4[13] = 0x80 | 0x10 | 0x08 | 0x01;	/* CWR ACK PSH FIN */
		l4[14] = 0x10;
		l4[16] = 0xbe;
		l4[17] = 0xef;
		for (i = 20; i < 32; i++)
			l4[i] = 1;	/* NOPs */
	} else {
		l4[4] = (uint8_t)(l4len >> 8);
		l4[5] = (uint8_t)l4len;
		l4[6] = 0xbe;
		l4[7] = 0xef;
	}
	for (i = f->l2 + f->l3 + f->l4; i < f->len; i++)
		f->b[i] = (uint8_t)(seed * 17u + i * 13u + (i >> 9));
}

/* Are the IPv4 header and L4 checksums of this received frame right? */
static bool
ref_csums_ok(const uint8_t *b, uint32_t len, const struct off_frame *f)
{
	const uint8_t *ip = b + f->l2, *l4 = ip + f->l3;
	uint32_t l4len = len - f->l2 - f->l3, acc;

	if (!f->v6) {
		if (vmbs_test_ref_sum(0, ip, 20) != 0xffff)
			return false;
		acc = vmbs_test_ref_sum(0, ip + 12, 8);
	} else {
		acc = vmbs_test_ref_sum(0, ip + 8, 32);
	}
	acc += f->proto + l4len;
	return vmbs_test_ref_sum(acc, l4, l4len) == 0xffff;
}

/* Send @p f (split into iovecs at odd offsets) with @p offload. */
static uint16_t
off_send(struct env *e, const struct off_frame *f, uint16_t offload, uint16_t mss)
{
	struct vmbs_nv_txframe tf;
	struct iovec iov[4];
	/* An odd cut: the payload is summed from an odd position on. */
	uint32_t cut1 = 7, cut2 = (f->len / 2) | 1;

	iov[0].iov_base = (void *)(uintptr_t)f->b;
	iov[0].iov_len = cut1;
	iov[1].iov_base = (void *)(uintptr_t)(f->b + cut1);
	iov[1].iov_len = cut2 - cut1;
	iov[2].iov_base = (void *)(uintptr_t)(f->b + cut2);
	iov[2].iov_len = f->len - cut2;
	memset(&tf, 0, sizeof(tf));
	tf.iov = iov;
	tf.iovcnt = 3;
	tf.offload = offload;
	tf.tso_mss = mss;
	return vmbs_nv_tx_burst(e->nic, 0, &tf, 1);
}

static void
offload_csum_case(struct env *e, bool v6, uint8_t proto, bool vlan, uint32_t payload)
{
	static struct off_frame f;
	const struct nvg_rx_frame *rf;
	uint32_t base = nvg_rx_count(e->g), ck, want;
	uint8_t *l4;

	mk_off_frame(&f, v6, proto, vlan, payload, payload);
	CU_ASSERT_EQUAL_FATAL(off_send(e, &f, VMBS_NV_TXOFF_CSUM, 0), 1);
	CU_ASSERT_EQUAL_FATAL(nvg_rx_wait(e->g, base + 1), 0);
	rf = nvg_rx_get(e->g, base);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rf);
	CU_ASSERT_EQUAL_FATAL(rf->len, f.len);
	CU_ASSERT(ref_csums_ok(rf->data, rf->len, &f));
	/* Only the checksum fields changed. */
	l4 = f.b + f.l2 + f.l3;
	ck = proto == 6 ? 16 : 6;
	memcpy(l4 + ck, rf->data + f.l2 + f.l3 + ck, 2);
	if (!v6)
		memcpy(f.b + f.l2 + 10, rf->data + f.l2 + 10, 2);
	CU_ASSERT(memcmp(rf->data, f.b, f.len) == 0);
	want = (v6 ? 0 : VMBS_RNDIS_RXCSUM_IP_OK) |
	       (proto == 6 ? VMBS_RNDIS_RXCSUM_TCP_OK : VMBS_RNDIS_RXCSUM_UDP_OK);
	CU_ASSERT(rf->ppi.present & VMBS_RNDIS_PPI_F_CSUM);
	CU_ASSERT_EQUAL(rf->ppi.csum, want);
}

static void
offload_tso_case(struct env *e, bool v6, bool vlan, uint32_t payload, uint16_t mss)
{
	static struct off_frame f;
	static uint8_t joined[65536];
	uint32_t base = nvg_rx_count(e->g), nseg = (payload + mss - 1) / mss, k, hl, got = 0;
	uint32_t seq0;

	mk_off_frame(&f, v6, 6, vlan, payload, mss);
	hl = f.l2 + f.l3 + f.l4;
	seq0 = (uint32_t)f.b[hl - f.l4 + 4] << 24 | (uint32_t)f.b[hl - f.l4 + 5] << 16 |
	       (uint32_t)f.b[hl - f.l4 + 6] << 8 | f.b[hl - f.l4 + 7];
	CU_ASSERT_EQUAL_FATAL(off_send(e, &f, VMBS_NV_TXOFF_TSO | VMBS_NV_TXOFF_CSUM, mss), 1);
	CU_ASSERT_EQUAL_FATAL(nvg_rx_wait(e->g, base + nseg), 0);
	CU_ASSERT_EQUAL(nvg_rx_count(e->g), base + nseg);
	for (k = 0; k < nseg; k++) {
		const struct nvg_rx_frame *rf = nvg_rx_get(e->g, base + k);
		uint32_t plen = RTE_MIN((uint32_t)mss, payload - k * mss), seq;
		const uint8_t *ip, *tcp;
		uint8_t flags;

		CU_ASSERT_PTR_NOT_NULL_FATAL(rf);
		CU_ASSERT_EQUAL_FATAL(rf->len, hl + plen);
		ip = rf->data + f.l2;
		tcp = ip + f.l3;
		CU_ASSERT(memcmp(rf->data, f.b, f.l2) == 0);
		if (v6) {
			CU_ASSERT_EQUAL((uint32_t)(ip[4] << 8 | ip[5]), f.l4 + plen);
		} else {
			CU_ASSERT_EQUAL((uint32_t)(ip[2] << 8 | ip[3]), f.l3 + f.l4 + plen);
			CU_ASSERT_EQUAL((uint32_t)(ip[4] << 8 | ip[5]), 0x1234 + k);
		}
		seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 |
		      tcp[7];
		CU_ASSERT_EQUAL(seq, seq0 + k * mss);
		flags = tcp[13];
		CU_ASSERT_EQUAL(flags & 0x10, 0x10);
		CU_ASSERT_EQUAL(!!(flags & 0x80), k == 0);
		CU_ASSERT_EQUAL(!!(flags & 0x09), k + 1 == nseg);
		CU_ASSERT_EQUAL((flags & 0x09) == 0x09, k + 1 == nseg);
		CU_ASSERT(ref_csums_ok(rf->data, rf->len, &f));
		CU_ASSERT_EQUAL(rf->ppi.csum, (v6 ? 0 : VMBS_RNDIS_RXCSUM_IP_OK) |
					      VMBS_RNDIS_RXCSUM_TCP_OK);
		memcpy(joined + got, rf->data + hl, plen);
		got += plen;
	}
	CU_ASSERT_EQUAL(got, payload);
	CU_ASSERT(memcmp(joined, f.b + hl, payload) == 0);
}

static void
sw_tx_offloads(void)
{
	static struct off_frame f;
	struct env_cfg cfg = { 0 };
	struct vmbs_nv_queue_stats q0, q1;
	struct env *e = env_slot();
	uint32_t base;

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &q0), 0);
	offload_csum_case(e, false, 6, false, 1000);
	offload_csum_case(e, false, 17, true, 333);
	offload_csum_case(e, true, 17, false, 1);
	offload_csum_case(e, true, 6, true, 1400);
	offload_csum_case(e, false, 6, false, 0);
	offload_tso_case(e, false, false, 10000, 1448);
	offload_tso_case(e, true, true, 5000, 1200);
	offload_tso_case(e, false, true, 62000, 1400);
	offload_tso_case(e, false, false, 100, 1448);	/* one segment */
	CU_ASSERT(data_acks_settle(e));
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &q1), 0);
	CU_ASSERT_EQUAL(q1.tx_sw_csum - q0.tx_sw_csum, 9);
	CU_ASSERT_EQUAL(q1.tx_sw_tso - q0.tx_sw_tso, 4);
	CU_ASSERT_EQUAL(q1.tx_tso_segs - q0.tx_tso_segs, 7 + 5 + 45 + 1);
	CU_ASSERT_EQUAL(q1.tx_offload_bad, q0.tx_offload_bad);

	/* What cannot be done is dropped and counted, never delivered. */
	base = nvg_rx_count(e->g);
	mk_frame(f.b, 60, nic_mac, 1);
	f.b[12] = 0x08;
	f.b[13] = 0x06;	/* ARP */
	f.len = 60;
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_CSUM, 0), 1);
	mk_off_frame(&f, false, 17, false, 3000, 1);
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_TSO, 1400), 1);	/* UDP */
	mk_off_frame(&f, false, 6, false, 3000, 1);
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_TSO, 0), 1);	/* no mss */
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_TSO, 16), 1);	/* 188 segments */
	f.b[f.l2] = 0x44;	/* IHL 4 */
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_CSUM, 0), 1);
	mk_off_frame(&f, false, 6, false, 3000, 1);
	f.b[f.l2 + f.l3 + 12] = 0xf0;	/* TCP header beyond the frame's copy */
	f.len = f.l2 + f.l3 + 40;
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_CSUM, 0), 1);
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &q0), 0);
	CU_ASSERT_EQUAL(q0.tx_offload_bad - q1.tx_offload_bad, 6);
	/* A TSO segment larger than a slot: the frame is oversize. */
	mk_off_frame(&f, false, 6, false, 9000, 1);
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_TSO, 8000), 1);
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &q1), 0);
	CU_ASSERT_EQUAL(q1.tx_oversize - q0.tx_oversize, 1);
	usleep(100000);
	CU_ASSERT_EQUAL(nvg_rx_count(e->g), base);
	CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
	env_down(e);
}

/* A TSO frame needing more slots than the partition has can never fit. */
static void
sw_tso_beyond_partition_is_oversize(void)
{
	static struct off_frame f;
	struct env_cfg cfg = { .recv_buf = 64u << 10 };
	struct vmbs_nv_queue_stats q0, q1;
	struct env *e = env_slot();
	uint32_t base;

	VMBS_CHECK(env_ready(e, &cfg, 1) == 0);
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &q0), 0);
	base = nvg_rx_count(e->g);
	/* 45 segments; the 64 KiB buffer's one partition has 19 slots. */
	mk_off_frame(&f, false, 6, false, 62000, 1);
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_TSO, 1400), 1);
	CU_ASSERT_EQUAL(vmbs_nv_queue_stats_get(e->nic, 0, &q1), 0);
	CU_ASSERT_EQUAL(q1.tx_oversize - q0.tx_oversize, 1);
	CU_ASSERT_EQUAL(q1.tx_full, q0.tx_full);
	/* 8 segments fit. */
	mk_off_frame(&f, false, 6, false, 8 * 1400, 2);
	CU_ASSERT_EQUAL(off_send(e, &f, VMBS_NV_TXOFF_TSO, 1400), 1);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, base + 8), 0);
	CU_ASSERT_EQUAL(nvg_rx_count(e->g), base + 8);
	env_down(e);
}

/* ---- suite ---- */

static int
suite_init(void)
{
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/vmbs-netvsp-XXXXXX");
	if (mkdtemp(sock_dir) == NULL)
		return -1;
	__atomic_store_n(&host.run, true, __ATOMIC_RELEASE);
	return pthread_create(&host.thread, NULL, poller_main, NULL) == 0 ? 0 : -1;
}

static int
suite_cleanup(void)
{
	env_slot();
	__atomic_store_n(&host.run, false, __ATOMIC_RELEASE);
	pthread_join(host.thread, NULL);
	host_clear();
	rmdir(sock_dir);
	return 0;
}

static const struct vmbs_test_case cases[] = {
	{ "golden_bytes_of_bringup_replies", golden_bringup_replies },
	{ "golden_bytes_of_a_received_frame", golden_rx_frame },
	{ "dpdk_bringup_leaves_expected_state", dpdk_bringup_state },
	{ "bringup_with_31_mib_receive_buffer", bringup_31mib_recv_buf },
	{ "nvsp_version_walks_down_to_host_max", version_walk_down },
	{ "nvsp4_guest_gets_ndis_6_1_and_no_subchannels", old_guest_nvsp4 },
	{ "g2h_every_form_and_size_one_queue", frames_g2h_one_queue },
	{ "g2h_aggregated_section_of_eight", frames_g2h_aggregated },
	{ "g2h_jumbo_frames", frames_g2h_jumbo },
	{ "g2h_four_queues_complete_on_own_channel", frames_g2h_four_queues },
	{ "g2h_every_ppi_kind_reaches_the_host", frames_g2h_ppis },
	{ "h2g_sizes_ppis_and_bursts", frames_h2g },
	{ "h2g_jumbo_frames", frames_h2g_jumbo },
	{ "h2g_four_queues_and_queue_mapping", frames_h2g_four_queues },
	{ "packet_filter_decides_delivery", packet_filter },
	{ "nvsp_out_of_order_fails_and_recovers", nvsp_out_of_order },
	{ "nvsp_malformed_fails_and_recovers", nvsp_malformed },
	{ "data_malformed_fails_and_recovers", data_malformed },
	{ "rndis_malformed_gets_documented_status", rndis_malformed },
	{ "bad_ring_packets_and_completions_are_counted", raw_packets_and_completions },
	{ "rxbuf_exhaustion_and_recovery", rxbuf_exhaustion_same_channel },
	{ "rxbuf_exhaustion_acks_on_other_channel", rxbuf_exhaustion_acks_on_other_channel },
	{ "control_slot_exhaustion_backlogs_replies", ctl_slot_exhaustion },
	{ "link_changes_are_indicated", link_indications },
	{ "abrupt_exit_mid_traffic_then_new_session", disconnect_mid_traffic },
	{ "concurrent_tx_on_one_queue_counts_every_drop", concurrent_tx_counts_every_drop },
	{ "h2g_software_checksums_and_tso", sw_tx_offloads },
	{ "h2g_tso_beyond_partition_is_oversize", sw_tso_beyond_partition_is_oversize },
	{ NULL, NULL },
};

static const struct vmbs_test_suite suite = {
	"netvsp", suite_init, suite_cleanup, cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &suite, NULL };

	if (vmbs_test_eal_init("test_netvsp") != 0)
		return 1;
	return vmbs_test_run(suites);
}
