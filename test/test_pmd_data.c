/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * net_vmbus_srv data path end to end: ports created with rte_vdev_init()
 * (PMD linked statically), driven through public ethdev calls only, with
 * the scripted netvsc guest (test/common/nv_guest, DPDK 22.11's netvsc
 * PMD on the wire) attached to the port's own attach socket.
 *
 * Directions by role: PMD Rx = guest-to-host (g2h), PMD Tx = host-to-guest
 * (h2g).
 *
 * Threads: the main thread plays the guest (whose calls block until the
 * host answers) and the application's control plane, and calls Tx; a
 * poller thread (registered with the EAL) plays the application's Rx
 * lcore: it calls rte_eth_rx_burst() on every queue of the current port
 * and parks the mbufs for the main thread, which checks, holds or frees
 * them. The poller stops polling (host_detach()) before the port is
 * stopped or closed, as ethdev requires.
 *
 * Every wait is bounded (the guest's 3 s timeout, WAIT_UNTIL's 3 s,
 * maps_settle()'s 2 s); a test that stops at a fatal assertion leaves its
 * port to the next penv_slot(), so one failure never cascades. Every port
 * teardown also checks that the mempool got every mbuf back and that no
 * mapping of the guest's memory outlives the guest.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "nv_guest.h"
#include "vmbs_test.h"

/* Enough for every descriptor of 4 guest queues plus chained copies. */
#define POOL_SIZE 8192u
/* mbufs the poller may park for the main thread. */
#define HOST_MAX POOL_SIZE
#define POOL_CHUNKS_MAX 64u
#define MAX_QUEUES 4u
#define BURST 32u
#define FRAME_MAX 16384u

static const uint8_t nic_mac[6] = { 0x00, 0x15, 0x5d, 0x0a, 0x0b, 0x0c };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t other_mac[6] = { 0x00, 0x15, 0x5d, 0x09, 0x09, 0x09 };

static struct rte_mempool *pool;
static char sock_dir[64];
static uint32_t serial;

/* The mempool's memory, to tell copied mbufs from attached guest memory. */
static struct {
	uintptr_t lo, hi;
} pool_mem[POOL_CHUNKS_MAX];
static uint32_t n_pool_mem;

/* ---- the application's Rx lcore ---- */

struct held {
	struct rte_mbuf *m;
	uint16_t q;
};

static struct {
	pthread_mutex_t lock;		/* m[], n, overflow */
	pthread_mutex_t poll_lock;	/* held while polling: port, nq, active */
	struct held m[HOST_MAX];
	uint32_t n;
	uint64_t overflow;
	uint16_t port;
	uint16_t nq;
	bool active;
	bool run;
	pthread_t thread;
} host = { .lock = PTHREAD_MUTEX_INITIALIZER, .poll_lock = PTHREAD_MUTEX_INITIALIZER };

static void
host_park(struct rte_mbuf **pkts, uint16_t n, uint16_t q)
{
	uint16_t i;

	pthread_mutex_lock(&host.lock);
	for (i = 0; i < n; i++) {
		if (host.n == HOST_MAX) {
			host.overflow++;
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		host.m[host.n].m = pkts[i];
		host.m[host.n].q = q;
		host.n++;
	}
	pthread_mutex_unlock(&host.lock);
}

static void *
poller_main(void *arg)
{
	struct timespec ts = { 0, 20000 };
	struct rte_mbuf *pkts[BURST];

	RTE_SET_USED(arg);
	if (rte_thread_register() != 0)
		return NULL;
	while (__atomic_load_n(&host.run, __ATOMIC_ACQUIRE)) {
		uint32_t got = 0;
		uint16_t q, n;

		pthread_mutex_lock(&host.poll_lock);
		if (host.active) {
			for (q = 0; q < host.nq; q++) {
				n = rte_eth_rx_burst(host.port, q, pkts, BURST);
				host_park(pkts, n, q);
				got += n;
			}
		}
		pthread_mutex_unlock(&host.poll_lock);
		if (got == 0)
			nanosleep(&ts, NULL);
		else
			sched_yield();
	}
	rte_thread_unregister();
	return NULL;
}

/* Start polling @p port (queues 0..nq-1). */
static void
host_attach(uint16_t port, uint16_t nq)
{
	pthread_mutex_lock(&host.poll_lock);
	host.port = port;
	host.nq = nq;
	host.active = true;
	pthread_mutex_unlock(&host.poll_lock);
}

/* Stop polling; on return no rte_eth_rx_burst() is running. */
static void
host_detach(void)
{
	pthread_mutex_lock(&host.poll_lock);
	host.active = false;
	pthread_mutex_unlock(&host.poll_lock);
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

/* Take the oldest parked mbuf (NULL if none); *q gets its Rx queue. */
static struct rte_mbuf *
host_take(uint16_t *q)
{
	struct rte_mbuf *m = NULL;

	pthread_mutex_lock(&host.lock);
	if (host.n != 0) {
		m = host.m[0].m;
		if (q != NULL)
			*q = host.m[0].q;
		memmove(host.m, host.m + 1, (host.n - 1) * sizeof(host.m[0]));
		host.n--;
	}
	pthread_mutex_unlock(&host.lock);
	return m;
}

/* Free everything parked; returns how many. */
static uint32_t
host_drain(void)
{
	struct rte_mbuf *m;
	uint32_t n = 0;

	while ((m = host_take(NULL)) != NULL) {
		rte_pktmbuf_free(m);
		n++;
	}
	return n;
}

/* ---- one port + guest ---- */

struct penv_cfg {
	uint16_t queues;		/* port queues = channels offered; 0: 1 */
	bool vm_arg;			/* name the VM with vm=; else the default */
	bool lsc;			/* intr_conf.lsc and an LSC callback */
	uint32_t mtu;			/* 0: 1500 */
	int32_t copybreak;		/* < 0: the PMD's default */
	uint32_t recv_buf;		/* guest receive buffer; 0: nv_guest's 2 MiB */
	bool rxq_intr;			/* intr_conf.rxq */
	bool doorbells;			/* the guest registers doorbell eventfds */
	bool tx_rss;			/* tx_rss=1 */
};

struct penv {
	char name[32];
	char path[108];
	char vm[32];
	uint16_t port;
	uint16_t nq;
	uint32_t mtu;
	struct nvg *g;
	struct nvg_params gp;
	bool lsc;			/* LSC callback registered */
	bool lsc_ok;			/* the port offers LSC interrupts */
	uint32_t maps0;			/* guest_maps() before the port */
	bool port_live;			/* created, not yet removed */
	bool started;
};

static uint32_t lsc_events;		/* LSC callbacks seen (atomic) */

static int
lsc_cb(uint16_t port, enum rte_eth_event_type type, void *arg, void *ret)
{
	RTE_SET_USED(port);
	RTE_SET_USED(arg);
	RTE_SET_USED(ret);
	if (type == RTE_ETH_EVENT_INTR_LSC)
		__atomic_add_fetch(&lsc_events, 1, __ATOMIC_RELEASE);
	return 0;
}

static uint32_t
lsc_count(void)
{
	return __atomic_load_n(&lsc_events, __ATOMIC_ACQUIRE);
}

static bool penv_live;

/*
 * Mappings of guest memory (lib/client's memfd) in this process: the
 * guest's own and the host's. With no guest and no port there are none;
 * a host that keeps one after both are gone has leaked the VM's memory.
 */
static uint32_t
guest_maps(void)
{
	char line[512];
	uint32_t n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		return UINT32_MAX;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "/memfd:vmbs-cli") != NULL)
			n++;
	fclose(f);
	return n;
}

/* Pump the guest until @p cond holds (bounded: 3 s); the value of @p cond. */
#define WAIT_UNTIL(e, cond) ({						\
	uint32_t w_;							\
	for (w_ = 0; w_ < 3000 && !(cond); w_++) {			\
		if ((e)->g != NULL)					\
			nvg_pump((e)->g, 1);				\
		else							\
			usleep(1000);					\
	}								\
	(cond);								\
})

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Wait (bounded: 2 s) until no more than @p e->maps0 guest memory mappings
 * remain, pumping the guest if there is one. /proc/self/maps is long under
 * the EAL: read every 10 ms.
 */
static bool
maps_settle(struct penv *e)
{
	uint64_t end = now_ms() + 2000;

	for (;;) {
		if (guest_maps() <= e->maps0)
			return true;
		if (now_ms() >= end)
			return false;
		if (e->g != NULL)
			nvg_pump(e->g, 10);
		else
			usleep(10000);
	}
}

/* Create, configure and start a port (LSC if asked); no guest yet. */
static int
port_up(struct penv *e, const struct penv_cfg *c)
{
	struct rte_eth_conf conf;
	char args[256];
	uint16_t q;
	int rc;

	e->nq = c->queues != 0 ? c->queues : 1;
	e->mtu = c->mtu != 0 ? c->mtu : 1500;
	snprintf(e->name, sizeof(e->name), "net_vmbus_srv%u", 10 + serial);
	snprintf(e->path, sizeof(e->path), "%s/s%u", sock_dir, serial);
	/* The VM is the port's name unless vm= says otherwise (docs/pmd.md). */
	if (c->vm_arg)
		snprintf(e->vm, sizeof(e->vm), "pdvm%u", serial);
	else
		snprintf(e->vm, sizeof(e->vm), "%s", e->name);
	serial++;
	rc = 0;
	if (c->vm_arg)
		rc = snprintf(args, sizeof(args), "vm=%s,", e->vm);
	rc += snprintf(args + rc, sizeof(args) - (size_t)rc,
		       "socket=%s,queues=%u,mtu=%u,mac=00:15:5d:0a:0b:0c", e->path, e->nq, e->mtu);
	if (c->copybreak >= 0)
		rc += snprintf(args + rc, sizeof(args) - (size_t)rc, ",copybreak=%d",
			       c->copybreak);
	if (c->tx_rss)
		snprintf(args + rc, sizeof(args) - (size_t)rc, ",tx_rss=1");
	rc = rte_vdev_init(e->name, args);
	if (rc != 0) {
		fprintf(stderr, "rte_vdev_init(%s, %s): %d\n", e->name, args, rc);
		return rc;
	}
	e->port_live = true;
	rc = rte_eth_dev_get_port_by_name(e->name, &e->port);
	if (rc != 0)
		return rc;
	memset(&conf, 0, sizeof(conf));
	if (c->lsc) {
		struct rte_eth_dev_info info;

		/* Checked by the link test; without it, link is still polled. */
		e->lsc_ok = rte_eth_dev_info_get(e->port, &info) == 0 &&
			    (*info.dev_flags & RTE_ETH_DEV_INTR_LSC) != 0;
		conf.intr_conf.lsc = e->lsc_ok ? 1 : 0;
	}
	conf.intr_conf.rxq = c->rxq_intr ? 1 : 0;
	rc = rte_eth_dev_configure(e->port, e->nq, e->nq, &conf);
	if (rc != 0) {
		fprintf(stderr, "configure (lsc %u): %d\n", conf.intr_conf.lsc, rc);
		return rc;
	}
	for (q = 0; q < e->nq; q++) {
		rc = rte_eth_rx_queue_setup(e->port, q, 512, SOCKET_ID_ANY, NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(e->port, q, 512, SOCKET_ID_ANY, NULL);
		if (rc != 0)
			return rc;
	}
	if (e->lsc_ok) {
		rc = rte_eth_dev_callback_register(e->port, RTE_ETH_EVENT_INTR_LSC, lsc_cb,
						   NULL);
		if (rc != 0)
			return rc;
		e->lsc = true;
	}
	rc = rte_eth_dev_start(e->port);
	if (rc != 0)
		return rc;
	e->started = true;
	host_attach(e->port, e->nq);
	return 0;
}

/* A port and an attached guest (nothing negotiated yet). */
static int
penv_up(struct penv *e, const struct penv_cfg *c)
{
	int rc;

	memset(e, 0, sizeof(*e));
	penv_live = true;
	__atomic_store_n(&lsc_events, 0, __ATOMIC_RELEASE);
	e->maps0 = guest_maps();
	rc = port_up(e, c);
	if (rc != 0)
		return rc;
	e->gp.socket_path = e->path;
	e->gp.vm_name = e->vm;
	e->gp.mtu = e->mtu;
	e->gp.recv_buf_size = c->recv_buf;
	e->gp.max_queues = MAX_QUEUES;
	e->gp.timeout_ms = 3000;
	e->gp.doorbells = c->doorbells;
	rc = nvg_attach(&e->gp, &e->g);
	if (rc != 0)
		fprintf(stderr, "nvg_attach(%s, %s): %d\n", e->path, e->vm, rc);
	return rc;
}

/* Probe, configure (subchannels, RSS), start: the guest's port is up. */
static int
penv_ready(struct penv *e, const struct penv_cfg *c)
{
	const char *step = "attach";
	int rc = penv_up(e, c);

	if (rc == 0) {
		step = "bringup";
		rc = nvg_bringup(e->g);
	}
	if (rc == 0) {
		step = "configure";
		rc = nvg_configure(e->g, e->nq);
	}
	if (rc == 0) {
		step = "start";
		rc = nvg_start(e->g);
	}
	if (rc == 0 && nvg_info(e->g)->n_chans != e->nq) {
		step = "channels";
		rc = -EIO;
	}
	if (rc != 0)
		fprintf(stderr, "penv_ready: %s failed: %d\n", step, rc);
	return rc;
}

/* Stop, close and remove the port (the poller must not poll it). */
static void
port_down(struct penv *e)
{
	host_detach();
	host_drain();
	if (!e->port_live)
		return;
	if (e->started)
		CU_ASSERT_EQUAL(rte_eth_dev_stop(e->port), 0);
	e->started = false;
	if (e->lsc)
		rte_eth_dev_callback_unregister(e->port, RTE_ETH_EVENT_INTR_LSC, lsc_cb, NULL);
	e->lsc = false;
	CU_ASSERT_EQUAL(rte_eth_dev_close(e->port), 0);
	CU_ASSERT_EQUAL(rte_vdev_uninit(e->name), 0);
	e->port_live = false;
}

/* Outside a test (suite cleanup): tear down without assertions. */
static void
penv_quiet_down(struct penv *e)
{
	nvg_destroy(e->g);
	e->g = NULL;
	host_detach();
	host_drain();
	if (e->port_live) {
		if (e->started)
			rte_eth_dev_stop(e->port);
		if (e->lsc)
			rte_eth_dev_callback_unregister(e->port, RTE_ETH_EVENT_INTR_LSC, lsc_cb,
							NULL);
		rte_eth_dev_close(e->port);
		rte_vdev_uninit(e->name);
	}
	e->port_live = false;
	penv_live = false;
}

static void
penv_down(struct penv *e)
{
	if (e->g != NULL) {
		CU_ASSERT_EQUAL(nvg_rejects(e->g), 0);
		nvg_detach(e->g);
		e->g = NULL;
	}
	/*
	 * The application keeps polling while the guest leaves: the host
	 * must then let go of the VM's memory by itself.
	 */
	if (!maps_settle(e)) {
		fprintf(stderr, "after the guest left: %u guest memory mappings (%u before)\n",
			guest_maps(), e->maps0);
		CU_FAIL("guest memory still mapped after the guest left");
	}
	port_down(e);
	/* Every mbuf back: copies, chains, attached frames, unsent Tx. */
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), POOL_SIZE);
	pthread_mutex_lock(&host.lock);
	CU_ASSERT_EQUAL(host.overflow, 0);
	host.overflow = 0;
	pthread_mutex_unlock(&host.lock);
	penv_live = false;
}

static struct penv penv_store;

/* The one live environment; a test that stopped early left it up. */
static struct penv *
penv_slot(void)
{
	if (penv_live)
		penv_down(&penv_store);
	return &penv_store;
}

/* ---- frames ---- */

enum fkind {
	FK_PLAIN,	/* Ethernet + opaque payload */
	FK_TCP4,	/* Ethernet + IPv4 + TCP: TCP header at 34 */
	FK_UDP4,	/* Ethernet + IPv4 + UDP: UDP header at 34 */
	FK_TCP6,	/* Ethernet + IPv6 + TCP: TCP header at 54 */
};

static void
put16be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
mk_frame(uint8_t *buf, uint32_t len, const uint8_t *dst, enum fkind k, uint32_t seed)
{
	uint32_t i;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, peer_mac, 6);
	for (i = 12; i < len; i++)
		buf[i] = (uint8_t)(seed * 151u + i * 13u + (i >> 9));
	switch (k) {
	case FK_PLAIN:
		put16be(buf + 12, 0x0800);
		break;
	case FK_TCP4:
	case FK_UDP4:
		put16be(buf + 12, 0x0800);
		buf[14] = 0x45;
		buf[15] = 0;
		put16be(buf + 16, len - 14);
		buf[22] = 64;
		buf[23] = k == FK_TCP4 ? 6 : 17;
		if (k == FK_TCP4)
			buf[46] = 0x50;
		else
			put16be(buf + 38, len - 34);
		break;
	case FK_TCP6:
		put16be(buf + 12, 0x86dd);
		buf[14] = 0x60;
		buf[15] = 0;
		put16be(buf + 18, len - 54);
		buf[20] = 6;
		buf[21] = 64;
		buf[66] = 0x50;
		break;
	}
}

static bool
in_pool(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	uint32_t i;

	for (i = 0; i < n_pool_mem; i++)
		if (a >= pool_mem[i].lo && a < pool_mem[i].hi)
			return true;
	return false;
}

/*
 * @p m holds @p len bytes equal to @p data in a consistent chain: each
 * segment attached over guest memory (@p zc) or a copy in the mempool.
 */
static bool
mbuf_is(const struct penv *e, const struct rte_mbuf *m, const uint8_t *data, uint32_t len,
	bool zc, const char *what)
{
	const struct rte_mbuf *s;
	uint32_t off = 0, segs = 0;

	if (m->pkt_len != len) {
		fprintf(stderr, "%s: pkt_len %u, sent %u\n", what, m->pkt_len, len);
		return false;
	}
	if (m->port != e->port) {
		fprintf(stderr, "%s: mbuf port %u, expected %u\n", what, m->port, e->port);
		return false;
	}
	for (s = m; s != NULL; s = s->next) {
		const uint8_t *p = rte_pktmbuf_mtod(s, const uint8_t *);

		if (++segs > m->nb_segs || off + s->data_len > len) {
			fprintf(stderr, "%s: chain longer than nb_segs %u / pkt_len %u\n", what,
				m->nb_segs, len);
			return false;
		}
		if (memcmp(p, data + off, s->data_len) != 0) {
			fprintf(stderr, "%s: segment %u (bytes %u..%u) differs\n", what, segs - 1,
				off, off + s->data_len);
			return false;
		}
		if (zc && (!RTE_MBUF_HAS_EXTBUF(s) || in_pool(p))) {
			fprintf(stderr, "%s: %u B: segment %u not attached (ext %d, in pool %d)\n",
				what, len, segs - 1, RTE_MBUF_HAS_EXTBUF(s) ? 1 : 0,
				in_pool(p) ? 1 : 0);
			return false;
		}
		if (!zc && (RTE_MBUF_HAS_EXTBUF(s) || !in_pool(p))) {
			fprintf(stderr, "%s: %u B: segment %u not a copy (ext %d, in pool %d)\n",
				what, len, segs - 1, RTE_MBUF_HAS_EXTBUF(s) ? 1 : 0,
				in_pool(p) ? 1 : 0);
			return false;
		}
		off += s->data_len;
	}
	if (segs != m->nb_segs || off != len) {
		fprintf(stderr, "%s: %u segments holding %u bytes; nb_segs %u, pkt_len %u\n", what,
			segs, off, m->nb_segs, len);
		return false;
	}
	return true;
}

#define TX_OFFLOAD_FLAGS (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_L4_MASK | \
			  RTE_MBUF_F_TX_IP_CKSUM)

/* The guest's PPIs @p in (sent on queue @p q) as the contract maps them. */
static bool
flags_are(const struct rte_mbuf *m, const struct vmbs_rndis_ppi_info *in, uint16_t q,
	  const char *what)
{
	uint64_t f = m->ol_flags;
	uint32_t off, want_hash;
	bool ok = true;

	if (in->present & VMBS_RNDIS_PPI_F_LSO) {
		bool v6 = (in->lso & VMBS_RNDIS_LSO_IPV6) != 0;

		off = (in->lso >> VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT) &
		      VMBS_RNDIS_LSO_TCP_HDR_OFF_MASK;
		if (!(f & RTE_MBUF_F_TX_TCP_SEG) ||
		    m->tso_segsz != (in->lso & VMBS_RNDIS_LSO_MSS_MASK) ||
		    !(f & (v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4)) ||
		    (f & (v6 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6)) ||
		    (uint32_t)m->l2_len + m->l3_len != off) {
			fprintf(stderr, "%s: LSO %#x: flags %#" PRIx64 " mss %u l2 %u l3 %u\n",
				what, in->lso, f, m->tso_segsz, m->l2_len, m->l3_len);
			ok = false;
		}
	}
	if (in->present & VMBS_RNDIS_PPI_F_CSUM) {
		uint64_t l4 = 0;

		if (in->csum & VMBS_RNDIS_TXCSUM_TCP)
			l4 = RTE_MBUF_F_TX_TCP_CKSUM;
		else if (in->csum & VMBS_RNDIS_TXCSUM_UDP)
			l4 = RTE_MBUF_F_TX_UDP_CKSUM;
		off = (in->csum >> VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT) &
		      VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_MASK;
		if ((f & RTE_MBUF_F_TX_L4_MASK) != l4 ||
		    !!(f & RTE_MBUF_F_TX_IP_CKSUM) != !!(in->csum & VMBS_RNDIS_TXCSUM_IP_HDR) ||
		    ((in->csum & VMBS_RNDIS_TXCSUM_IPV4) && !(f & RTE_MBUF_F_TX_IPV4)) ||
		    ((in->csum & VMBS_RNDIS_TXCSUM_IPV6) && !(f & RTE_MBUF_F_TX_IPV6)) ||
		    (l4 != 0 && (uint32_t)m->l2_len + m->l3_len != off)) {
			fprintf(stderr, "%s: checksum %#x: ol_flags %#" PRIx64 " l2 %u l3 %u\n",
				what, in->csum, f, m->l2_len, m->l3_len);
			ok = false;
		}
	}
	if (!(in->present & (VMBS_RNDIS_PPI_F_LSO | VMBS_RNDIS_PPI_F_CSUM)) &&
	    (f & TX_OFFLOAD_FLAGS) != 0) {
		fprintf(stderr, "%s: no offload asked, ol_flags %#" PRIx64 "\n", what, f);
		ok = false;
	}
	if (in->present & VMBS_RNDIS_PPI_F_VLAN) {
		uint32_t prio = in->vlan & VMBS_RNDIS_VLAN_PRIO_MASK;
		uint32_t cfi = (in->vlan >> VMBS_RNDIS_VLAN_CFI_SHIFT) & 1u;
		uint32_t vid = (in->vlan >> VMBS_RNDIS_VLAN_VID_SHIFT) & VMBS_RNDIS_VLAN_VID_MASK;

		if ((f & (RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED)) !=
		    (RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED) ||
		    m->vlan_tci != (prio << 13 | cfi << 12 | vid)) {
			fprintf(stderr, "%s: 802.1Q %#x: ol_flags %#" PRIx64 " vlan_tci %#x\n",
				what, in->vlan, f, m->vlan_tci);
			ok = false;
		}
	} else if (f & (RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED)) {
		fprintf(stderr, "%s: no 802.1Q PPI, ol_flags %#" PRIx64 "\n", what, f);
		ok = false;
	}
	if (in->present & VMBS_RNDIS_PPI_F_HASH_INFO) {
		/* Without its own value the guest sends its queue id (DPDK). */
		want_hash = (in->present & VMBS_RNDIS_PPI_F_HASH_VALUE) ? in->hash_value : q;
		if (!(f & RTE_MBUF_F_RX_RSS_HASH) || m->hash.rss != want_hash) {
			fprintf(stderr, "%s: hash %#x: ol_flags %#" PRIx64 " hash.rss %#x\n",
				what, want_hash, f, m->hash.rss);
			ok = false;
		}
	}
	return ok;
}

static const char *const form_name[] = {
	"chimney", "gpa", "gpa-hdr-cross", "gpa-hdr-split", "mixed",
};

/* Wait (bounded) until the poller parked @p n mbufs. */
static bool
host_wait(struct penv *e, uint32_t n)
{
	return WAIT_UNTIL(e, host_count() >= n);
}

/*
 * The guest sends one frame of @p len on queue @p q in @p form with PPIs
 * @p ppi (may be NULL); the host gets it on Rx queue @p q, intact, copied
 * or attached as @p copybreak says, flags mapped. The mbuf is freed and
 * the request must then complete with SUCCESS (or, with @p hold, the mbuf
 * is returned in *hold and the request left in flight).
 *
 * @return 1: checked; 0: the form cannot carry this frame (skipped);
 *   -1: failed (reported).
 */
static int
g2h_one(struct penv *e, uint16_t q, enum nvg_tx_form form, uint32_t len, uint32_t seed,
	const struct vmbs_rndis_ppi_info *ppi, uint32_t copybreak, struct rte_mbuf **hold)
{
	static uint8_t buf[FRAME_MAX];
	struct vmbs_rndis_ppi_info none;
	struct nvg_frame f;
	struct rte_mbuf *m;
	enum fkind k = FK_PLAIN;
	uint32_t status = 0;
	uint64_t tid = 0;
	uint16_t mq = UINT16_MAX;
	char what[96];
	bool ok;
	int rc;

	memset(&none, 0, sizeof(none));
	if (ppi == NULL)
		ppi = &none;
	if (ppi->present & VMBS_RNDIS_PPI_F_LSO)
		k = (ppi->lso & VMBS_RNDIS_LSO_IPV6) ? FK_TCP6 : FK_TCP4;
	else if (ppi->present & VMBS_RNDIS_PPI_F_CSUM)
		k = (ppi->csum & VMBS_RNDIS_TXCSUM_UDP) ? FK_UDP4 :
		    (ppi->csum & VMBS_RNDIS_TXCSUM_IPV6) ? FK_TCP6 : FK_TCP4;
	mk_frame(buf, len, nic_mac, k, seed);
	memset(&f, 0, sizeof(f));
	f.data = buf;
	f.len = len;
	f.ppi = *ppi;
	snprintf(what, sizeof(what), "g2h %s q%u len %u ppi %#x", form_name[form], q, len,
		 ppi->present);
	if (host_count() != 0) {
		fprintf(stderr, "%s: %u stray mbufs before sending\n", what, host_count());
		return -1;
	}
	rc = nvg_send(e->g, q, form, &f, 1, &tid);
	if (rc == -E2BIG)
		return 0;
	if (rc != 0) {
		fprintf(stderr, "%s: nvg_send %d\n", what, rc);
		return -1;
	}
	if (!host_wait(e, 1)) {
		fprintf(stderr, "%s: nothing received\n", what);
		return -1;
	}
	m = host_take(&mq);
	ok = mq == q && mbuf_is(e, m, buf, len, len >= copybreak, what) &&
	     flags_are(m, ppi, q, what);
	if (mq != q)
		fprintf(stderr, "%s: arrived on Rx queue %u\n", what, mq);
	if (hold != NULL) {
		*hold = m;
		return ok ? 1 : -1;
	}
	rte_pktmbuf_free(m);
	rc = nvg_req_wait(e->g, tid, &status);
	if (rc != 0 || status != VMBS_NVSP_STATUS_SUCCESS) {
		fprintf(stderr, "%s: completion rc %d status %u\n", what, rc, status);
		ok = false;
	}
	if (host_count() != 0) {
		fprintf(stderr, "%s: %u extra mbufs\n", what, host_count());
		host_drain();
		ok = false;
	}
	return ok ? 1 : -1;
}

/* ---- xstats ---- */

/* Sum of the xstats whose names start with @p prefix and contain @p sub. */
static bool
xstat_sum(uint16_t port, const char *prefix, const char *sub, uint64_t *sum)
{
	struct rte_eth_xstat_name *names;
	struct rte_eth_xstat *vals;
	int n, i;
	bool found = false;

	*sum = 0;
	n = rte_eth_xstats_get_names(port, NULL, 0);
	if (n <= 0)
		return false;
	names = calloc((size_t)n, sizeof(*names));
	vals = calloc((size_t)n, sizeof(*vals));
	if (names == NULL || vals == NULL ||
	    rte_eth_xstats_get_names(port, names, (unsigned int)n) != n ||
	    rte_eth_xstats_get(port, vals, (unsigned int)n) != n) {
		free(names);
		free(vals);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (strncmp(names[vals[i].id].name, prefix, strlen(prefix)) != 0 ||
		    strstr(names[vals[i].id].name, sub) == NULL)
			continue;
		*sum += vals[i].value;
		found = true;
	}
	free(names);
	free(vals);
	return found;
}

static void
xstats_print(uint16_t port)
{
	struct rte_eth_xstat_name *names;
	struct rte_eth_xstat *vals;
	int n, i;

	n = rte_eth_xstats_get_names(port, NULL, 0);
	if (n <= 0)
		return;
	names = calloc((size_t)n, sizeof(*names));
	vals = calloc((size_t)n, sizeof(*vals));
	if (names != NULL && vals != NULL &&
	    rte_eth_xstats_get_names(port, names, (unsigned int)n) == n &&
	    rte_eth_xstats_get(port, vals, (unsigned int)n) == n)
		for (i = 0; i < n; i++)
			if (vals[i].value != 0)
				fprintf(stderr, "  %s = %" PRIu64 "\n", names[vals[i].id].name,
					vals[i].value);
	free(names);
	free(vals);
}

/* The per-queue Rx xstat "rx_q<q>_<what>" (must exist). */
static uint64_t
rxq_xstat(uint16_t port, uint16_t q, const char *what)
{
	char prefix[32];
	uint64_t v = 0;

	snprintf(prefix, sizeof(prefix), "rx_q%u_", q);
	if (!xstat_sum(port, prefix, what, &v)) {
		fprintf(stderr, "no xstat %s%s; non-zero ones:\n", prefix, what);
		xstats_print(port);
		CU_FAIL("missing xstat");
	}
	return v;
}

/* Host frames consumed without delivery, as the xstats count them. */
static uint64_t
tx_dropped_xstats(uint16_t port)
{
	uint64_t a = 0, b = 0;

	xstat_sum(port, "tx_q", "filter", &a);
	xstat_sum(port, "tx_q", "down", &b);
	return a + b;
}

/* ---- 1. bring-up and link ---- */

static bool
link_is(struct penv *e, uint16_t status)
{
	struct rte_eth_link l;

	memset(&l, 0, sizeof(l));
	return rte_eth_link_get_nowait(e->port, &l) == 0 && l.link_status == status;
}

/* Take the guest's status indications until @p status arrives. */
static bool
guest_hears(struct penv *e, uint32_t status)
{
	uint32_t got = 0, i;

	for (i = 0; i < 16; i++)
		if (nvg_status_wait(e->g, &got, NULL, NULL) != 0 || got == status)
			break;
	return got == status;
}

/* The guest asks for its medium state (answered while the link is down). */
static uint32_t
guest_media(struct penv *e)
{
	uint32_t v = UINT32_MAX, len = sizeof(v), status = UINT32_MAX;

	if (nvg_rndis_query(e->g, VMBS_OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &v, &len,
			    &status) != 0 || status != 0)
		return UINT32_MAX;
	return v;
}

static void
bringup_link_follows_guest(void)
{
	struct penv_cfg c = { .queues = 4, .copybreak = -1, .lsc = true };
	struct rte_eth_dev_info info;
	struct penv *e = penv_slot();
	uint32_t ev;

	VMBS_CHECK(penv_up(e, &c) == 0);
	CU_ASSERT(rte_eth_dev_info_get(e->port, &info) == 0);
	/* The port must offer LSC; if not, the rest checks the polled link. */
	CU_ASSERT(e->lsc_ok);
	if (!e->lsc_ok)
		fprintf(stderr, "port lacks RTE_ETH_DEV_INTR_LSC: LSC events not checked\n");
	/* Attached, nothing negotiated: down. */
	nvg_pump(e->g, 20);
	CU_ASSERT(link_is(e, RTE_ETH_LINK_DOWN));

	/* Probe leaves RNDIS up with filter 0: still down. */
	CU_ASSERT_EQUAL_FATAL(nvg_bringup(e->g), 0);
	CU_ASSERT_EQUAL(memcmp(nvg_info(e->g)->mac, nic_mac, 6), 0);
	CU_ASSERT_EQUAL(nvg_info(e->g)->rss_nrxr, 4);
	CU_ASSERT_EQUAL_FATAL(nvg_configure(e->g, 4), 0);
	CU_ASSERT_EQUAL(nvg_info(e->g)->n_chans, 4);
	nvg_pump(e->g, 20);
	CU_ASSERT(link_is(e, RTE_ETH_LINK_DOWN));
	ev = lsc_count();

	/* Start: the guest's filter goes non-zero: up, with an LSC event. */
	CU_ASSERT_EQUAL_FATAL(nvg_start(e->g), 0);
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_UP)));
	CU_ASSERT(!e->lsc_ok || WAIT_UNTIL(e, lsc_count() > ev));
	CU_ASSERT_EQUAL(nvg_info(e->g)->link_status, VMBS_NDIS_MEDIA_STATE_CONNECTED);

	/* Guest stops (filter 0): down, with an event. */
	ev = lsc_count();
	CU_ASSERT_EQUAL(nvg_set_filter(e->g, 0), 0);
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_DOWN)));
	CU_ASSERT(!e->lsc_ok || WAIT_UNTIL(e, lsc_count() > ev));

	/* And up again. */
	ev = lsc_count();
	CU_ASSERT_EQUAL(nvg_set_filter(e->g, VMBS_NDIS_FILTER_DIRECTED |
					    VMBS_NDIS_FILTER_BROADCAST), 0);
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_UP)));
	CU_ASSERT(!e->lsc_ok || WAIT_UNTIL(e, lsc_count() > ev));

	/* The host side down (port stopped): down; started again: up. */
	host_detach();
	CU_ASSERT_EQUAL(rte_eth_dev_stop(e->port), 0);
	e->started = false;
	CU_ASSERT(link_is(e, RTE_ETH_LINK_DOWN));
	CU_ASSERT_EQUAL(rte_eth_dev_start(e->port), 0);
	e->started = true;
	host_attach(e->port, e->nq);
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_UP)));

	/* Set down by the application while running: the guest hears its
	 * medium disconnect, its control requests are still answered, and
	 * frames for it are consumed and counted; set up: connected again.
	 */
	ev = lsc_count();
	CU_ASSERT_EQUAL(rte_eth_dev_set_link_down(e->port), 0);
	CU_ASSERT(link_is(e, RTE_ETH_LINK_DOWN));
	CU_ASSERT(guest_hears(e, VMBS_RNDIS_STATUS_MEDIA_DISCONNECT));
	CU_ASSERT(!e->lsc_ok || WAIT_UNTIL(e, lsc_count() > ev));
	CU_ASSERT_EQUAL(guest_media(e), VMBS_NDIS_MEDIA_STATE_DISCONNECTED);
	ev = lsc_count();
	CU_ASSERT_EQUAL(rte_eth_dev_set_link_up(e->port), 0);
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_UP)));
	CU_ASSERT(guest_hears(e, VMBS_RNDIS_STATUS_MEDIA_CONNECT));
	CU_ASSERT(!e->lsc_ok || WAIT_UNTIL(e, lsc_count() > ev));
	CU_ASSERT_EQUAL(guest_media(e), VMBS_NDIS_MEDIA_STATE_CONNECTED);

	/* The guest vanishes: down. */
	ev = lsc_count();
	nvg_destroy(e->g);
	e->g = NULL;
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_DOWN)));
	CU_ASSERT(!e->lsc_ok || WAIT_UNTIL(e, lsc_count() > ev));
	penv_down(e);
}

/*
 * An application that never calls Rx (testpmd txonly, or idle): the
 * guest's bring-up is still answered (DPDK's netvsc would wait forever),
 * and frames sent to it arrive.
 */
static uint32_t tx_all(struct penv *e, uint16_t q, struct rte_mbuf **m, uint32_t n);
static struct rte_mbuf *mk_mbuf(const uint8_t *data, uint32_t len, uint32_t nseg);

static void
bringup_without_rx_bursts(void)
{
	static uint8_t buf[300];
	struct penv_cfg c = { .queues = 2, .copybreak = -1 };
	struct penv *e = penv_slot();
	struct rte_mbuf *m;

	VMBS_CHECK(penv_up(e, &c) == 0);
	host_detach();		/* from here on nobody calls rte_eth_rx_burst() */
	CU_ASSERT_EQUAL_FATAL(nvg_bringup(e->g), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_configure(e->g, 2), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_start(e->g), 0);
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_UP)));
	mk_frame(buf, sizeof(buf), nic_mac, FK_PLAIN, 5);
	m = mk_mbuf(buf, sizeof(buf), 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(tx_all(e, 1, &m, 1), 1);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, 1), 0);
	host_attach(e->port, e->nq);
	penv_down(e);
}

/* vm= names the VM the NIC is offered to (here not the last devarg). */
static void
vm_devarg_names_the_vm(void)
{
	struct penv_cfg c = { .queues = 2, .copybreak = -1, .vm_arg = true };
	struct penv *e = penv_slot();

	VMBS_CHECK(penv_ready(e, &c) == 0);
	CU_ASSERT(strcmp(e->vm, e->name) != 0);
	CU_ASSERT(g2h_one(e, 1, NVG_TX_GPA, 1000, 1, NULL, 256, NULL) == 1);
	penv_down(e);
}

/* ---- 2. guest to host ---- */

static const uint32_t g2h_sizes[] = {
	60, 61, 64, 100, 127, 128, 129, 255, 256, 257, 383, 384, 385, 511, 1000, 1514, 1518,
	2048, 2049, 4000, 4096, 6000, 8000, 9000, 9018,
};

/* Frames a queue received, by kind. */
struct g2h_counts {
	uint64_t zc;		/* at or above copybreak: attached */
	uint64_t cp;		/* below: copied */
	uint64_t bytes;
};

/*
 * Every form and size on @p q, counted into @p n by what @p copybreak
 * makes of them. Frames above what the port's MTU admits are not sent.
 */
static void
g2h_forms_sizes(struct penv *e, uint16_t q, uint32_t copybreak, struct g2h_counts *n)
{
	uint32_t f, i;
	int rc;

	for (f = NVG_TX_CHIMNEY; f <= NVG_TX_MIXED; f++) {
		for (i = 0; i < RTE_DIM(g2h_sizes); i++) {
			uint32_t len = g2h_sizes[i];

			if (len > e->mtu + 18u)
				continue;
			/* Linux's partial copy needs more than its 64 bytes. */
			if (f == NVG_TX_MIXED && len <= 64)
				continue;
			rc = g2h_one(e, q, (enum nvg_tx_form)f, len, i + 37u * f, NULL,
				     copybreak, NULL);
			CU_ASSERT(rc >= 0);
			if (rc == 0 && (f != NVG_TX_CHIMNEY || len < 5000))
				CU_FAIL("a frame the layout should carry was refused");
			if (rc > 0) {
				if (len >= copybreak)
					n->zc++;
				else
					n->cp++;
				n->bytes += len;
			}
		}
	}
}

static void
g2h_run(const struct penv_cfg *c, uint32_t copybreak)
{
	struct penv *e = penv_slot();
	struct g2h_counts n[MAX_QUEUES];
	uint64_t total = 0, bytes = 0;
	struct rte_eth_stats st;
	struct nvg_stats gs;
	uint16_t q;

	memset(n, 0, sizeof(n));
	VMBS_CHECK(penv_ready(e, c) == 0);
	for (q = 0; q < e->nq; q++)
		g2h_forms_sizes(e, q, copybreak, &n[q]);
	/* Frames crossing a page: data starting 96 bytes before a page end. */
	nvg_set_tx_data_offset(e->g, 4000);
	g2h_forms_sizes(e, 0, copybreak, &n[0]);
	nvg_set_tx_data_offset(e->g, 128);

	CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);
	nvg_stats_get(e->g, &gs);
	CU_ASSERT_EQUAL(gs.tx_comp_ok, gs.tx_reqs);
	CU_ASSERT_EQUAL(gs.tx_comp_fail, 0);
	CU_ASSERT_EQUAL(gs.tx_comp_wrong_chan, 0);
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	for (q = 0; q < e->nq; q++) {
		CU_ASSERT_EQUAL(rxq_xstat(e->port, q, "zero_copy"), n[q].zc);
		CU_ASSERT_EQUAL(rxq_xstat(e->port, q, "copied"), n[q].cp);
		CU_ASSERT_EQUAL(st.q_ipackets[q], n[q].zc + n[q].cp);
		CU_ASSERT_EQUAL(st.q_ibytes[q], n[q].bytes);
		total += n[q].zc + n[q].cp;
		bytes += n[q].bytes;
	}
	CU_ASSERT(total > 0);
	CU_ASSERT_EQUAL(st.ipackets, total);
	CU_ASSERT_EQUAL(st.ipackets, gs.tx_frames);
	CU_ASSERT_EQUAL(st.ibytes, bytes);
	CU_ASSERT_EQUAL(st.ierrors, 0);
	if (st.ipackets != total)
		xstats_print(e->port);
	penv_down(e);
}

/* Jumbo port, the default copybreak (384): both kinds, every layout. */
static void
g2h_one_queue_default_copybreak(void)
{
	struct penv_cfg c = { .queues = 1, .mtu = 9000, .copybreak = -1 };

	g2h_run(&c, 384);
}

/* copybreak 0: every frame attached, on each of 4 queues. */
static void
g2h_four_queues_all_zero_copy(void)
{
	struct penv_cfg c = { .queues = 4, .mtu = 9000, .copybreak = 0 };

	g2h_run(&c, 0);
}

/* copybreak 65535: every frame copied, jumbo ones into chains. */
static void
g2h_large_copybreak_all_copied(void)
{
	struct penv_cfg c = { .queues = 4, .mtu = 9000, .copybreak = 65535 };

	g2h_run(&c, 65536);
}

/* The MTU-1500 port: the standard sizes, a mid copybreak. */
static void
g2h_standard_mtu_copybreak_1000(void)
{
	struct penv_cfg c = { .queues = 1, .copybreak = 1000 };

	g2h_run(&c, 1000);
}

/* Every offload PPI maps onto mbuf flags, in every layout. */
static void
g2h_ppis_map_to_mbuf_flags(void)
{
	struct penv_cfg c = { .queues = 2, .copybreak = 0 };
	struct vmbs_rndis_ppi_info in;
	struct penv *e = penv_slot();
	uint32_t f, zc_sizes[2] = { 600, 1500 };
	uint16_t q;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	for (q = 0; q < 2; q++) {
		for (f = NVG_TX_CHIMNEY; f <= NVG_TX_MIXED; f++) {
			enum nvg_tx_form form = (enum nvg_tx_form)f;
			uint32_t len = zc_sizes[f & 1];

			/* No PPI but DPDK's hash value: no offload flags. */
			CU_ASSERT(g2h_one(e, q, form, len, 1, NULL, 0, NULL) == 1);

			/* Checksum: IPv4 header + TCP, TCP header at 34. */
			memset(&in, 0, sizeof(in));
			in.present = VMBS_RNDIS_PPI_F_CSUM;
			in.csum = VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_TCP |
				  VMBS_RNDIS_TXCSUM_IP_HDR |
				  (34u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
			CU_ASSERT(g2h_one(e, q, form, len, 2, &in, 0, NULL) == 1);
			/* UDP over IPv4, no IP header checksum. */
			in.csum = VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_UDP |
				  (34u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
			CU_ASSERT(g2h_one(e, q, form, len, 3, &in, 0, NULL) == 1);
			/* TCP over IPv6, TCP header at 54. */
			in.csum = VMBS_RNDIS_TXCSUM_IPV6 | VMBS_RNDIS_TXCSUM_TCP |
				  (54u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
			CU_ASSERT(g2h_one(e, q, form, len, 4, &in, 0, NULL) == 1);

			/* LSOv2, IPv4 and IPv6, frames above the MTU. */
			memset(&in, 0, sizeof(in));
			in.present = VMBS_RNDIS_PPI_F_LSO;
			in.lso = 1448u | (34u << VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT) |
				 VMBS_RNDIS_LSO_V2;
			CU_ASSERT(g2h_one(e, q, form, 3000, 5, &in, 0, NULL) == 1);
			if (form != NVG_TX_CHIMNEY)
				CU_ASSERT(g2h_one(e, q, form, 9000, 6, &in, 0, NULL) == 1);
			in.lso = 1428u | (54u << VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT) |
				 VMBS_RNDIS_LSO_V2 | VMBS_RNDIS_LSO_IPV6;
			CU_ASSERT(g2h_one(e, q, form, 4000, 7, &in, 0, NULL) == 1);

			/* 802.1Q: prio 5, CFI 1, VID 100; and prio 0, VID 4094. */
			memset(&in, 0, sizeof(in));
			in.present = VMBS_RNDIS_PPI_F_VLAN;
			in.vlan = 5u | (1u << VMBS_RNDIS_VLAN_CFI_SHIFT) |
				  (100u << VMBS_RNDIS_VLAN_VID_SHIFT);
			CU_ASSERT(g2h_one(e, q, form, len, 8, &in, 0, NULL) == 1);
			in.vlan = 4094u << VMBS_RNDIS_VLAN_VID_SHIFT;
			CU_ASSERT(g2h_one(e, q, form, len, 9, &in, 0, NULL) == 1);

			/* Hash value and info. */
			memset(&in, 0, sizeof(in));
			in.present = VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO;
			in.hash_value = 0xdeadbeef;
			in.hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_TCP_IPV4;
			CU_ASSERT(g2h_one(e, q, form, len, 10, &in, 0, NULL) == 1);

			/* All at once. */
			memset(&in, 0, sizeof(in));
			in.present = VMBS_RNDIS_PPI_F_CSUM | VMBS_RNDIS_PPI_F_VLAN |
				     VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO;
			in.csum = VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_TCP |
				  VMBS_RNDIS_TXCSUM_IP_HDR |
				  (34u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
			in.vlan = 7u | (42u << VMBS_RNDIS_VLAN_VID_SHIFT);
			in.hash_value = 0x01020304;
			in.hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_TCP_IPV4;
			CU_ASSERT(g2h_one(e, q, form, len, 11, &in, 0, NULL) == 1);
		}
	}
	penv_down(e);
}

/* Copied frames carry the same flags (the copy path maps PPIs too). */
static void
g2h_ppis_on_copied_frames(void)
{
	struct penv_cfg c = { .queues = 1, .copybreak = 65535 };
	struct vmbs_rndis_ppi_info in;
	struct penv *e = penv_slot();
	uint32_t f;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	for (f = NVG_TX_CHIMNEY; f <= NVG_TX_MIXED; f++) {
		enum nvg_tx_form form = (enum nvg_tx_form)f;

		memset(&in, 0, sizeof(in));
		in.present = VMBS_RNDIS_PPI_F_LSO | VMBS_RNDIS_PPI_F_VLAN |
			     VMBS_RNDIS_PPI_F_HASH_INFO;
		in.lso = 1000u | (34u << VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT) | VMBS_RNDIS_LSO_V2;
		in.vlan = 2u | (7u << VMBS_RNDIS_VLAN_VID_SHIFT);
		in.hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | VMBS_NDIS_HASH_IPV4;
		CU_ASSERT(g2h_one(e, 0, form, 3000, 1, &in, 65536, NULL) == 1);
		memset(&in, 0, sizeof(in));
		in.present = VMBS_RNDIS_PPI_F_CSUM;
		in.csum = VMBS_RNDIS_TXCSUM_IPV4 | VMBS_RNDIS_TXCSUM_UDP |
			  VMBS_RNDIS_TXCSUM_IP_HDR | (34u << VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT);
		CU_ASSERT(g2h_one(e, 0, form, 300, 2, &in, 65536, NULL) == 1);
	}
	penv_down(e);
}

/* Several frames aggregated in one send-buffer section: one request. */
static void
g2h_aggregated_section(void)
{
	static uint8_t bufs[8][800];
	struct penv_cfg c = { .queues = 1, .copybreak = 300 };
	struct nvg_frame f[8];
	struct rte_mbuf *m;
	struct penv *e = penv_slot();
	uint32_t i, status = 0;
	uint64_t tid;
	uint16_t q;
	char what[32];

	VMBS_CHECK(penv_ready(e, &c) == 0);
	memset(f, 0, sizeof(f));
	for (i = 0; i < 8; i++) {
		/* 61 .. 698: below and above copybreak in one request. */
		f[i].len = 61 + i * 91;
		mk_frame(bufs[i], f[i].len, nic_mac, FK_PLAIN, i);
		f[i].data = bufs[i];
	}
	CU_ASSERT_EQUAL_FATAL(nvg_send(e->g, 0, NVG_TX_CHIMNEY, f, 8, &tid), 0);
	CU_ASSERT_FATAL(host_wait(e, 8));
	for (i = 0; i < 8; i++) {
		m = host_take(&q);
		snprintf(what, sizeof(what), "aggregated #%u", i);
		CU_ASSERT(q == 0 && mbuf_is(e, m, bufs[i], f[i].len, f[i].len >= 300, what));
		rte_pktmbuf_free(m);
	}
	CU_ASSERT_EQUAL(nvg_req_wait(e->g, tid, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(rxq_xstat(e->port, 0, "zero_copy"), 5);
	CU_ASSERT_EQUAL(rxq_xstat(e->port, 0, "copied"), 3);
	penv_down(e);
}

/* ---- completions follow the last mbuf ---- */

struct free_job {
	struct rte_mbuf **m;
	uint32_t n;
};

static void *
free_thread(void *arg)
{
	struct free_job *j = arg;
	uint32_t i;

	for (i = 0; i < j->n; i++)
		rte_pktmbuf_free(j->m[i]);
	return NULL;
}

/* Free @p n mbufs on a thread that is not an EAL lcore. */
static void
free_elsewhere(struct rte_mbuf **m, uint32_t n)
{
	struct free_job j = { m, n };
	pthread_t t;

	CU_ASSERT_FATAL(pthread_create(&t, NULL, free_thread, &j) == 0);
	pthread_join(t, NULL);
}

struct burst_job {
	uint16_t port;
	uint32_t got;
};

static void *
burst_thread(void *arg)
{
	struct burst_job *j = arg;
	struct rte_mbuf *pkts[BURST];
	uint32_t i;
	uint16_t k, n;

	for (i = 0; i < 64; i++) {
		n = rte_eth_rx_burst(j->port, 0, pkts, BURST);
		for (k = 0; k < n; k++)
			rte_pktmbuf_free(pkts[k]);
		j->got += n;
		usleep(1000);
	}
	return NULL;
}

static uint64_t
comp_ok(struct penv *e)
{
	struct nvg_stats gs;

	nvg_stats_get(e->g, &gs);
	return gs.tx_comp_ok;
}

/*
 * Bug: the Rx burst ran the slow-path service from any thread, and the
 * service library crashes on a thread that is no lcore. An application
 * may poll from such a thread: frames must simply flow.
 */
static void intr_guest_send(struct penv *e, uint32_t len, uint32_t seed);

static void
rx_burst_on_unregistered_thread(void)
{
	struct penv_cfg c = { .queues = 1 };
	struct penv *e = penv_slot();
	struct burst_job j = { 0, 0 };
	pthread_t t;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	host_detach();
	j.port = e->port;
	/* Send-buffer frames: GPA-direct ones on memfd memory would need
	 * the slow path, which only lcores run.
	 */
	intr_guest_send(e, 300, 7);
	intr_guest_send(e, 100, 8);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, burst_thread, &j) == 0);
	pthread_join(t, NULL);
	if (j.got != 2)
		fprintf(stderr, "unregistered thread received %u frames\n", j.got);
	CU_ASSERT_EQUAL(j.got, 2);
	host_attach(e->port, e->nq);
	CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);
	penv_down(e);
}

static void
g2h_completion_waits_for_last_mbuf(void)
{
	static uint8_t bufs[8][1200];
	struct penv_cfg c = { .queues = 2, .copybreak = 128 };
	struct rte_mbuf *held[16], *clone, *m;
	struct nvg_frame f[8];
	struct penv *e = penv_slot();
	uint64_t base, tid;
	uint32_t i, status;
	int rc;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	CU_ASSERT_EQUAL_FATAL(nvg_tx_wait(e->g), 0);
	base = comp_ok(e);

	/* Eight one-frame requests (every layout), all held by the host. */
	for (i = 0; i < 8; i++) {
		rc = g2h_one(e, (uint16_t)(i & 1), (enum nvg_tx_form)(i % 5), 1000 + i, i, NULL,
			     128, &held[i]);
		CU_ASSERT_FATAL(rc == 1);
	}
	nvg_pump(e->g, 50);
	CU_ASSERT_EQUAL(nvg_tx_inflight(e->g), 8);
	CU_ASSERT_EQUAL(comp_ok(e), base);

	/* Four freed here: exactly four completions. */
	for (i = 0; i < 4; i++)
		rte_pktmbuf_free(held[i]);
	CU_ASSERT(WAIT_UNTIL(e, comp_ok(e) == base + 4));
	nvg_pump(e->g, 30);
	CU_ASSERT_EQUAL(comp_ok(e), base + 4);
	CU_ASSERT_EQUAL(nvg_tx_inflight(e->g), 4);

	/* A clone keeps the guest memory referenced after the original goes. */
	clone = rte_pktmbuf_clone(held[4], pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(clone);
	rte_pktmbuf_free(held[4]);
	nvg_pump(e->g, 30);
	CU_ASSERT_EQUAL(comp_ok(e), base + 4);
	rte_pktmbuf_free(clone);
	CU_ASSERT(WAIT_UNTIL(e, comp_ok(e) == base + 5));

	/* The rest freed on a thread that is no lcore. */
	free_elsewhere(&held[5], 3);
	CU_ASSERT(WAIT_UNTIL(e, comp_ok(e) == base + 8));
	CU_ASSERT_EQUAL(nvg_tx_inflight(e->g), 0);

	/* One request, eight frames: completed with the last of them. */
	memset(f, 0, sizeof(f));
	for (i = 0; i < 8; i++) {
		f[i].len = 100 + i * 100;
		mk_frame(bufs[i], f[i].len, nic_mac, FK_PLAIN, 50 + i);
		f[i].data = bufs[i];
	}
	base = comp_ok(e);
	CU_ASSERT_EQUAL_FATAL(nvg_send(e->g, 1, NVG_TX_CHIMNEY, f, 8, &tid), 0);
	CU_ASSERT_FATAL(host_wait(e, 8));
	for (i = 0; i < 8; i++) {
		held[i] = host_take(NULL);
		CU_ASSERT(mbuf_is(e, held[i], bufs[i], f[i].len, f[i].len >= 128, "agg held"));
	}
	for (i = 0; i < 7; i++) {
		/* Free in a shuffled order; only the last may complete it. */
		m = held[(i * 3) % 8];
		held[(i * 3) % 8] = NULL;
		rte_pktmbuf_free(m);
		nvg_pump(e->g, 5);
		CU_ASSERT_EQUAL(comp_ok(e), base);
	}
	for (i = 0; i < 8; i++)
		if (held[i] != NULL)
			free_elsewhere(&held[i], 1);
	status = 0;
	CU_ASSERT_EQUAL(nvg_req_wait(e->g, tid, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(comp_ok(e), base + 1);
	penv_down(e);
}

/*
 * Zero copy means the mbuf's bytes ARE the guest's: a frame placed in
 * guest memory by hand (GPA-direct, one range), then changed by the guest
 * while the host holds the mbuf, reads changed through the mbuf.
 */
static void
g2h_zero_copy_aliases_guest_memory(void)
{
	struct penv_cfg c = { .queues = 1, .copybreak = 0 };
	static uint8_t frame[1000];
	struct vmbs_desc_gpa_seg seg;
	struct nvg_frame f;
	struct rte_mbuf *m;
	struct penv *e = penv_slot();
	const uint8_t *dma_va = NULL;
	uint8_t *s, *data;
	uint64_t sgpa, tid;
	uint32_t hlen = 0, total, status = 0;
	uint16_t q;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	s = nvg_scratch(e->g, &sgpa);
	mk_frame(frame, sizeof(frame), nic_mac, FK_PLAIN, 99);
	memset(&f, 0, sizeof(f));
	f.data = frame;
	f.len = sizeof(frame);
	total = nvg_encap(s + 256, 0, &f, &hlen);
	data = s + 256 + hlen;
	seg.gpa = sgpa + 256;
	seg.len = total;
	CU_ASSERT_EQUAL_FATAL(nvg_gpa_raw(e->g, 0, &seg, 1, VMBS_NVSP_CHANNEL_DATA,
					  VMBS_NVSP_SECTION_NONE, 0, &tid), 0);
	CU_ASSERT_FATAL(host_wait(e, 1));
	m = host_take(&q);
	CU_ASSERT(mbuf_is(e, m, frame, sizeof(frame), true, "hand-placed"));
	CU_ASSERT_FATAL(rte_pktmbuf_data_len(m) > 600);
	/* Registered for DMA: buf_iova is the read-write view of the same
	 * pages, known to the EAL as external memory.
	 */
	if (rte_eal_iova_mode() == RTE_IOVA_VA) {
		const struct rte_memseg_list *msl;

		dma_va = (const uint8_t *)(uintptr_t)m->buf_iova;
		msl = rte_mem_virt2memseg_list(dma_va);
		CU_ASSERT(msl != NULL && msl->external);
		CU_ASSERT(dma_va != m->buf_addr);
		CU_ASSERT_EQUAL(memcmp(dma_va + m->data_off, rte_pktmbuf_mtod(m, void *),
				       rte_pktmbuf_data_len(m)), 0);
	} else {
		CU_ASSERT_EQUAL(m->buf_iova, RTE_BAD_IOVA);
	}
	data[500] ^= 0xff;
	data[600] = 0x5a;
	rte_compiler_barrier();
	CU_ASSERT_EQUAL(*rte_pktmbuf_mtod_offset(m, volatile uint8_t *, 500),
			(uint8_t)(frame[500] ^ 0xff));
	CU_ASSERT_EQUAL(*rte_pktmbuf_mtod_offset(m, volatile uint8_t *, 600), 0x5a);
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL(nvg_req_wait(e->g, tid, &status), 0);
	CU_ASSERT_EQUAL(status, VMBS_NVSP_STATUS_SUCCESS);
	penv_down(e);
	/* The guest is gone: its memory left the EAL's tables with it. */
	if (dma_va != NULL)
		CU_ASSERT_PTR_NULL(rte_mem_virt2memseg_list(dma_va));
}

/* ---- 3. host to guest ---- */

/* An mbuf chain of at least @p nseg segments holding @p len bytes of @p data. */
static struct rte_mbuf *
mk_mbuf(const uint8_t *data, uint32_t len, uint32_t nseg)
{
	uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
	uint32_t per, off = 0, chunk;
	struct rte_mbuf *head = NULL, *m;
	char *p;

	if (nseg < (len + room - 1) / room)
		nseg = (len + room - 1) / room;
	if (nseg > len)
		nseg = len;
	per = (len + nseg - 1) / nseg;
	while (off < len) {
		chunk = RTE_MIN(per, len - off);
		m = rte_pktmbuf_alloc(pool);
		if (m == NULL)
			goto err;
		p = rte_pktmbuf_append(m, (uint16_t)chunk);
		if (p == NULL) {
			rte_pktmbuf_free(m);
			goto err;
		}
		memcpy(p, data + off, chunk);
		off += chunk;
		if (head == NULL) {
			head = m;
		} else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			goto err;
		}
	}
	return head;
err:
	rte_pktmbuf_free(head);
	return NULL;
}

/* Offload marks on a host frame (mbuf flags) and the PPIs they become. */
struct h2g_marks {
	bool vlan;
	uint16_t tci;
	bool hash;
	uint32_t rss;
	bool csum;		/* IP and L4 good on a TCP/IPv4 frame */
};

static void
marks_apply(struct rte_mbuf *m, const struct h2g_marks *k)
{
	if (k->vlan) {
		m->ol_flags |= RTE_MBUF_F_TX_VLAN;
		m->vlan_tci = k->tci;
	}
	if (k->hash) {
		m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
		m->hash.rss = k->rss;
	}
	if (k->csum) {
		m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;
		m->l2_len = 14;
		m->l3_len = 20;
	}
}

static bool
marks_seen(const struct nvg_rx_frame *rf, const struct h2g_marks *k, const char *what)
{
	const struct vmbs_rndis_ppi_info *p = &rf->ppi;
	bool ok = true;

	if (k->vlan != !!(p->present & VMBS_RNDIS_PPI_F_VLAN) ||
	    (k->vlan && ((uint32_t)p->vlan_prio << 13 | (uint32_t)p->vlan_cfi << 12 |
			 p->vlan_vid) != k->tci)) {
		fprintf(stderr, "%s: VLAN tci %#x -> PPI present %#x prio %u cfi %u vid %u\n",
			what, k->tci, p->present, p->vlan_prio, p->vlan_cfi, p->vlan_vid);
		ok = false;
	}
	if (k->hash != !!(p->present & VMBS_RNDIS_PPI_F_HASH_VALUE) ||
	    (k->hash && p->hash_value != k->rss)) {
		fprintf(stderr, "%s: RSS hash %#x -> PPI present %#x value %#x\n", what, k->rss,
			p->present, p->hash_value);
		ok = false;
	}
	if (k->csum != !!(p->present & VMBS_RNDIS_PPI_F_CSUM) ||
	    (k->csum && ((p->csum & (VMBS_RNDIS_RXCSUM_IP_OK | VMBS_RNDIS_RXCSUM_TCP_OK)) !=
			 (VMBS_RNDIS_RXCSUM_IP_OK | VMBS_RNDIS_RXCSUM_TCP_OK) ||
			 (p->csum & (VMBS_RNDIS_RXCSUM_IP_FAILED | VMBS_RNDIS_RXCSUM_TCP_FAILED |
				     VMBS_RNDIS_RXCSUM_UDP_FAILED))))) {
		fprintf(stderr, "%s: checksum good -> PPI present %#x csum %#x\n", what,
			p->present, p->csum);
		ok = false;
	}
	return ok;
}

/* Send @p m[0..n) on @p q, retrying (bounded) while the guest acks; frames consumed. */
static uint32_t
tx_all(struct penv *e, uint16_t q, struct rte_mbuf **m, uint32_t n)
{
	uint32_t sent = 0, tries;

	for (tries = 0; tries < 3000 && sent < n; tries++) {
		sent += rte_eth_tx_burst(e->port, q, m + sent, (uint16_t)(n - sent));
		if (sent < n)
			nvg_pump(e->g, 1);
	}
	return sent;
}

/*
 * Frames of @p sizes on Tx queue @p q as chains of >= @p nseg segments
 * with @p marks; the guest must get them on channel @p q, intact, with
 * the PPIs. Returns bytes sent.
 */
static uint64_t
h2g_check(struct penv *e, uint16_t q, const uint32_t *sizes, uint32_t n, uint32_t nseg,
	  const struct h2g_marks *marks)
{
	static uint8_t bufs[BURST][FRAME_MAX];
	static const struct h2g_marks no_marks;
	struct rte_mbuf *m[BURST];
	const struct nvg_rx_frame *rf;
	uint32_t i, base, sent;
	uint64_t bytes = 0;
	char what[64];

	VMBS_CHECK(n <= BURST);
	base = nvg_rx_count(e->g);
	for (i = 0; i < n; i++) {
		mk_frame(bufs[i], sizes[i], nic_mac, marks != NULL && marks->csum ? FK_TCP4 :
			 FK_PLAIN, 7 * i + q);
		m[i] = mk_mbuf(bufs[i], sizes[i], nseg);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
		CU_ASSERT(m[i]->nb_segs >= RTE_MIN(nseg, sizes[i]));
		if (marks != NULL)
			marks_apply(m[i], marks);
		bytes += sizes[i];
	}
	sent = tx_all(e, q, m, n);
	CU_ASSERT_EQUAL(sent, n);
	if (sent < n)
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, base + sent), 0);
	if (nvg_rx_count(e->g) != base + sent) {
		fprintf(stderr, "h2g q%u: guest got %u of %u frames\n", q,
			nvg_rx_count(e->g) - base, sent);
		nvg_rx_clear(e->g);
		return bytes;
	}
	for (i = 0; i < sent; i++) {
		rf = nvg_rx_get(e->g, base + i);
		snprintf(what, sizeof(what), "h2g q%u len %u segs %u", q, sizes[i], nseg);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rf);
		CU_ASSERT_EQUAL(rf->queue, q);
		CU_ASSERT(rf->len == sizes[i] && memcmp(rf->data, bufs[i], sizes[i]) == 0);
		if (rf->len != sizes[i])
			fprintf(stderr, "%s: guest got %u bytes\n", what, rf->len);
		CU_ASSERT(marks_seen(rf, marks != NULL ? marks : &no_marks, what));
	}
	return bytes;
}

/* ---- Rx interrupt mode ---- */

/* Wait up to @p ms for queue 0's interrupt; returns events (0: timeout). */
static int
intr_wait(uint32_t ms)
{
	struct rte_epoll_event ev[1];

	return rte_epoll_wait(RTE_EPOLL_PER_THREAD, ev, 1, (int)ms);
}

/* Poll queue 0 from this thread until @p n frames arrived or 0.5 s passed
 * (the guest's side is pumped too).
 */
static uint16_t
intr_rx(struct penv *e, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() / 2;
	uint16_t got = 0;

	while (got < n && rte_get_timer_cycles() < end) {
		got += rte_eth_rx_burst(e->port, 0, pkts + got, (uint16_t)(n - got));
		nvg_poll(e->g);
	}
	return got;
}

/* One chimney frame of @p len from the guest on queue 0. */
static void
intr_guest_send(struct penv *e, uint32_t len, uint32_t seed)
{
	static uint8_t buf[2048];
	struct nvg_frame f;

	memset(&f, 0, sizeof(f));
	mk_frame(buf, len, nic_mac, FK_PLAIN, seed);
	f.data = buf;
	f.len = len;
	CU_ASSERT_EQUAL(nvg_send(e->g, 0, len <= 512 ? NVG_TX_CHIMNEY : NVG_TX_GPA, &f, 1,
				 NULL), 0);
}

/*
 * The application sleeps in rte_epoll_wait() and wakes for: a guest
 * packet (doorbell), a packet already there when it arms, and the last
 * free of a held zero-copy frame (its completion must be written).
 */
static void
rx_interrupt_wakes_on_doorbell_data_and_free(void)
{
	struct penv_cfg c = { .queues = 1, .copybreak = 0, .rxq_intr = true,
			      .doorbells = true };
	struct penv *e = penv_slot();
	struct rte_mbuf *m[4];
	uint64_t base;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	/* This thread is the application now: it polls and sleeps. */
	host_detach();
	CU_ASSERT_EQUAL_FATAL(rte_eth_dev_rx_intr_ctl_q(e->port, 0, RTE_EPOLL_PER_THREAD,
							RTE_INTR_EVENT_ADD, NULL), 0);
	CU_ASSERT_EQUAL(intr_rx(e, m, 1), 0);	/* settle: nothing is there */

	/* Idle guest: the application sleeps through the timeout. */
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_enable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_wait(150), 0);

	/* A guest packet rings the doorbell. */
	intr_guest_send(e, 1000, 1);
	CU_ASSERT_EQUAL(intr_wait(2000), 1);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_disable(e->port, 0), 0);
	CU_ASSERT_EQUAL_FATAL(intr_rx(e, m, 1), 1);
	CU_ASSERT((m[0]->ol_flags & RTE_MBUF_F_EXTERNAL) != 0);
	base = comp_ok(e);

	/* Held frame: sleeping is right until it is freed; the free wakes
	 * the queue, and the poll that follows completes the request.
	 */
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_enable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_wait(100), 0);
	rte_pktmbuf_free(m[0]);
	CU_ASSERT_EQUAL(intr_wait(2000), 1);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_disable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_rx(e, m, 1), 0);
	CU_ASSERT(WAIT_UNTIL(e, comp_ok(e) == base + 1));

	/* A packet that arrived while polling stopped: enable says so at
	 * once instead of sleeping past it.
	 */
	intr_guest_send(e, 200, 2);
	nvg_pump(e->g, 20);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_enable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_wait(2000), 1);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_disable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_rx(e, m, 1), 1);
	rte_pktmbuf_free(m[0]);
	CU_ASSERT_EQUAL(intr_rx(e, m, 1), 0);
	CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);

	/* Quiet again after the drain: a disabled-then-enabled queue with
	 * nothing to do sleeps.
	 */
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_enable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_wait(100), 0);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_disable(e->port, 0), 0);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_ctl_q(e->port, 0, RTE_EPOLL_PER_THREAD,
						  RTE_INTR_EVENT_DEL, NULL), 0);
	penv_down(e);
}

/* A guest without doorbells cannot signal: the queue re-polls on a timer
 * rather than sleeping forever, and frames still arrive.
 */
static void
rx_interrupt_without_doorbell_repolls(void)
{
	struct penv_cfg c = { .queues = 1, .copybreak = 0, .rxq_intr = true };
	struct penv *e = penv_slot();
	struct rte_mbuf *m[1];
	uint64_t t0, ms;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	host_detach();
	CU_ASSERT_EQUAL_FATAL(rte_eth_dev_rx_intr_ctl_q(e->port, 0, RTE_EPOLL_PER_THREAD,
							RTE_INTR_EVENT_ADD, NULL), 0);
	CU_ASSERT_EQUAL(intr_rx(e, m, 1), 0);
	intr_guest_send(e, 1000, 3);
	t0 = rte_get_timer_cycles();
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_enable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_wait(2000), 1);
	ms = (rte_get_timer_cycles() - t0) * 1000 / rte_get_timer_hz();
	CU_ASSERT(ms < 1000);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_disable(e->port, 0), 0);
	CU_ASSERT_EQUAL(intr_rx(e, m, 1), 1);
	rte_pktmbuf_free(m[0]);
	CU_ASSERT_EQUAL(intr_rx(e, m, 1), 0);	/* writes the completion */
	CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);
	CU_ASSERT_EQUAL(rte_eth_dev_rx_intr_ctl_q(e->port, 0, RTE_EPOLL_PER_THREAD,
						  RTE_INTR_EVENT_DEL, NULL), 0);
	penv_down(e);
}

static const uint32_t h2g_sizes[] = {
	60, 64, 100, 128, 256, 511, 1000, 1514, 1518, 2048, 3000, 4000, 6000, 8000, 9000, 9018,
};

static void
h2g_run(uint16_t queues)
{
	struct penv_cfg c = { .queues = queues, .mtu = 9000, .copybreak = -1 };
	struct h2g_marks k;
	struct rte_eth_stats st;
	struct penv *e = penv_slot();
	uint64_t bytes[MAX_QUEUES] = { 0 }, frames[MAX_QUEUES] = { 0 }, all = 0;
	uint32_t n = RTE_DIM(h2g_sizes);
	uint16_t q;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	for (q = 0; q < queues; q++) {
		/* Single segments, then 3-segment chains, then each mark. */
		bytes[q] += h2g_check(e, q, h2g_sizes, n, 1, NULL);
		bytes[q] += h2g_check(e, q, h2g_sizes, n, 3, NULL);
		memset(&k, 0, sizeof(k));
		k.vlan = true;
		k.tci = (uint16_t)(5u << 13 | 1u << 12 | (100u + q));
		bytes[q] += h2g_check(e, q, h2g_sizes, 6, 3, &k);
		memset(&k, 0, sizeof(k));
		k.hash = true;
		k.rss = 0xcafe0000u + q;
		bytes[q] += h2g_check(e, q, h2g_sizes, 6, 1, &k);
		memset(&k, 0, sizeof(k));
		k.csum = true;
		bytes[q] += h2g_check(e, q, h2g_sizes, 6, 2, &k);
		k.vlan = true;
		k.tci = 4094;
		k.hash = true;
		k.rss = 0x12345678;
		bytes[q] += h2g_check(e, q, h2g_sizes, 6, 3, &k);
		frames[q] = 2 * n + 4 * 6;
		all += frames[q];
	}
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	CU_ASSERT_EQUAL(st.opackets, all);
	CU_ASSERT_EQUAL(st.oerrors, 0);
	for (q = 0; q < queues; q++) {
		CU_ASSERT_EQUAL(st.q_opackets[q], frames[q]);
		CU_ASSERT_EQUAL(st.q_obytes[q], bytes[q]);
	}
	CU_ASSERT_EQUAL(tx_dropped_xstats(e->port), 0);
	penv_down(e);
}

static void
h2g_sizes_chains_marks_one_queue(void)
{
	h2g_run(1);
}

static void
h2g_sizes_chains_marks_four_queues(void)
{
	h2g_run(4);
}

/*
 * A 64 KiB guest receive buffer has 35 slots, 16 for control: one queue's
 * partition is 19 slots. With the guest's acks held a burst of 32 takes
 * 19; nothing more until the acks come; then the rest goes.
 */
static void
h2g_full_partition_then_recovers(void)
{
	static uint8_t bufs[BURST][300];
	struct penv_cfg c = { .queues = 1, .copybreak = -1, .recv_buf = 64u << 10 };
	struct rte_mbuf *m[BURST];
	const struct nvg_rx_frame *rf;
	struct rte_eth_stats st;
	struct penv *e = penv_slot();
	uint32_t part = (64u << 10) / 1856u - 16u, i, sent, more;
	uint64_t full = 0;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	CU_ASSERT_EQUAL(nvg_info(e->g)->slot_cnt, part + 16);
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	for (i = 0; i < BURST; i++) {
		mk_frame(bufs[i], sizeof(bufs[i]), nic_mac, FK_PLAIN, i);
		m[i] = mk_mbuf(bufs[i], sizeof(bufs[i]), 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
	}
	sent = rte_eth_tx_burst(e->port, 0, m, BURST);
	CU_ASSERT_EQUAL(sent, part);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, sent), 0);
	/* Still held: no room, however often the host tries. */
	for (i = 0; i < 20; i++) {
		CU_ASSERT_EQUAL(rte_eth_tx_burst(e->port, 0, m + sent, (uint16_t)(BURST - sent)),
				0);
		nvg_pump(e->g, 1);
	}
	CU_ASSERT_EQUAL(nvg_rx_count(e->g), sent);
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	CU_ASSERT_EQUAL(st.opackets, sent);
	CU_ASSERT_EQUAL(st.oerrors, 0);
	/* Bursts cut short are counted (docs/pmd.md: tx_q<N>_full). */
	CU_ASSERT(xstat_sum(e->port, "tx_q0_", "full", &full) && full > 0);
	/* The application still owns the rest. */
	for (i = sent; i < BURST; i++)
		CU_ASSERT(rte_mbuf_refcnt_read(m[i]) == 1 && m[i]->pkt_len == 300);

	nvg_set_ack_mode(e->g, NVG_ACK_NOW);
	CU_ASSERT(nvg_release_acks(e->g, -1) > 0);
	more = tx_all(e, 0, m + sent, BURST - sent);
	CU_ASSERT_EQUAL(more, BURST - sent);
	if (sent + more < BURST)
		rte_pktmbuf_free_bulk(m + sent + more, BURST - sent - more);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, sent + more), 0);
	for (i = 0; i < nvg_rx_count(e->g) && i < BURST; i++) {
		rf = nvg_rx_get(e->g, i);
		CU_ASSERT(rf->len == 300 && memcmp(rf->data, bufs[i], 300) == 0);
	}
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	CU_ASSERT_EQUAL(st.opackets, BURST);
	penv_down(e);
}

/*
 * The same, with nobody running Rx once the buffer is full (an application
 * that retries Tx in a loop, like testpmd's retry mode): Tx itself must
 * read the guest's acks. Before the fix the slots never came back.
 */
static void
h2g_tx_reads_acks_without_rx(void)
{
	static uint8_t bufs[BURST][300];
	struct penv_cfg c = { .queues = 1, .copybreak = -1, .recv_buf = 64u << 10 };
	struct rte_mbuf *m[BURST];
	struct penv *e = penv_slot();
	uint32_t part = (64u << 10) / 1856u - 16u, i, sent, more = 0;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	for (i = 0; i < BURST; i++) {
		mk_frame(bufs[i], sizeof(bufs[i]), nic_mac, FK_PLAIN, i);
		m[i] = mk_mbuf(bufs[i], sizeof(bufs[i]), 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
	}
	sent = rte_eth_tx_burst(e->port, 0, m, BURST);
	CU_ASSERT_EQUAL(sent, part);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, sent), 0);
	host_detach();		/* no Rx burst from here on */
	nvg_set_ack_mode(e->g, NVG_ACK_NOW);
	CU_ASSERT(nvg_release_acks(e->g, -1) > 0);
	for (i = 0; i < 100 && sent + more < BURST; i++) {
		more += rte_eth_tx_burst(e->port, 0, m + sent + more,
					 (uint16_t)(BURST - sent - more));
		nvg_pump(e->g, 1);
	}
	CU_ASSERT_EQUAL(more, BURST - sent);
	if (sent + more < BURST)
		rte_pktmbuf_free_bulk(m + sent + more, BURST - sent - more);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, sent + more), 0);
	host_attach(e->port, 1);
	penv_down(e);
}

/*
 * RSS towards the guest: each frame lands on the queue the guest's own
 * table picks for the Toeplitz hash of its tuple under the guest's key,
 * and carries that hash. The guest (like DPDK's netvsc) set Microsoft's
 * verification key, TCP/IPv4 hashing and table[i] = i % 4, so the
 * published vectors give the expected hash and queue.
 */
static void
h2g_rss_spreads_by_the_guests_table(void)
{
	static const struct {
		uint8_t src[4], dst[4];
		uint16_t sport, dport;
		uint32_t hash;
	} v[] = {
		{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766, 0x51ccc178 },
		{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739, 0xc626b0ea },
		{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024, 0x5c2b394a },
		{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217, 0xafc7327f },
		{ { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303, 0x10e828a2 },
	};
	static uint8_t bufs[RTE_DIM(v) + 1][128];
	struct penv_cfg c = { .queues = 4, .copybreak = -1, .tx_rss = true };
	struct rte_mbuf *m[RTE_DIM(v) + 1];
	struct penv *e = penv_slot();
	uint32_t i, j, n = (uint32_t)RTE_DIM(v) + 1;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	for (i = 0; i < RTE_DIM(v); i++) {
		uint8_t *b = bufs[i];

		memset(b, 0, sizeof(bufs[i]));
		memcpy(b, nic_mac, 6);
		memcpy(b + 6, peer_mac, 6);
		put16be(b + 12, RTE_ETHER_TYPE_IPV4);
		b[14] = 0x45;
		put16be(b + 16, sizeof(bufs[i]) - 14);
		b[22] = 64;
		b[23] = IPPROTO_TCP;
		memcpy(b + 26, v[i].src, 4);
		memcpy(b + 30, v[i].dst, 4);
		put16be(b + 34, v[i].sport);
		put16be(b + 36, v[i].dport);
		b[40] = (uint8_t)i;	/* tells the frames apart */
	}
	/* Not IP: not hashed, the Tx queue's own channel. */
	mk_frame(bufs[RTE_DIM(v)], sizeof(bufs[0]), nic_mac, FK_PLAIN, 77);
	for (i = 0; i < n; i++) {
		m[i] = mk_mbuf(bufs[i], sizeof(bufs[i]), 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
	}
	CU_ASSERT_EQUAL_FATAL(rte_eth_tx_burst(e->port, 1, m, (uint16_t)n), n);
	CU_ASSERT_EQUAL_FATAL(nvg_rx_wait(e->g, n), 0);
	for (i = 0; i < n; i++) {
		const struct nvg_rx_frame *f = NULL;

		for (j = 0; j < nvg_rx_count(e->g); j++) {
			f = nvg_rx_get(e->g, j);
			if (f->len == sizeof(bufs[i]) && memcmp(f->data, bufs[i], f->len) == 0)
				break;
			f = NULL;
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		if (i == RTE_DIM(v)) {
			CU_ASSERT_EQUAL(f->queue, 1);
			CU_ASSERT_FALSE(f->ppi.present & VMBS_RNDIS_PPI_F_HASH_VALUE);
			continue;
		}
		CU_ASSERT(f->ppi.present & VMBS_RNDIS_PPI_F_HASH_VALUE);
		CU_ASSERT_EQUAL(f->ppi.hash_value, v[i].hash);
		CU_ASSERT_EQUAL(f->ppi.hash_info, VMBS_NDIS_HASH_FUNCTION_TOEPLITZ |
						  VMBS_NDIS_HASH_TCP_IPV4);
		CU_ASSERT_EQUAL(f->queue, (v[i].hash % 128) % 4);
	}
	penv_down(e);
}

/* Frames the guest cannot take (RNDIS down, filter) are consumed and counted. */
static void
h2g_undeliverable_consumed_and_counted(void)
{
	static uint8_t buf[200], obuf[200];
	struct penv_cfg c = { .queues = 1, .copybreak = -1 };
	struct rte_mbuf *m[8];
	struct rte_eth_stats st;
	struct penv *e = penv_slot();
	uint64_t drops;
	uint32_t i;

	VMBS_CHECK(penv_up(e, &c) == 0);
	mk_frame(buf, sizeof(buf), nic_mac, FK_PLAIN, 1);
	mk_frame(obuf, sizeof(obuf), other_mac, FK_PLAIN, 2);

	/* Attached, RNDIS not initialised. */
	for (i = 0; i < 4; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i] = mk_mbuf(buf, sizeof(buf), 1));
	CU_ASSERT_EQUAL(rte_eth_tx_burst(e->port, 0, m, 4), 4);
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), POOL_SIZE);
	drops = tx_dropped_xstats(e->port);
	CU_ASSERT_EQUAL(drops, 4);

	/* RNDIS up, filter 0 (DPDK's probe). */
	CU_ASSERT_EQUAL_FATAL(nvg_bringup(e->g), 0);
	CU_ASSERT_EQUAL_FATAL(nvg_configure(e->g, 1), 0);
	for (i = 0; i < 4; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i] = mk_mbuf(buf, sizeof(buf), 2));
	CU_ASSERT_EQUAL(rte_eth_tx_burst(e->port, 0, m, 4), 4);
	CU_ASSERT_EQUAL(tx_dropped_xstats(e->port), drops + 4);
	drops += 4;

	/* Started: directed to another MAC is filtered, ours delivered. */
	CU_ASSERT_EQUAL_FATAL(nvg_start(e->g), 0);
	for (i = 0; i < 8; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i] = mk_mbuf(i & 1 ? obuf : buf, 200, 1));
	CU_ASSERT_EQUAL(tx_all(e, 0, m, 8), 8);
	CU_ASSERT_EQUAL(nvg_rx_wait(e->g, 4), 0);
	nvg_pump(e->g, 20);
	CU_ASSERT_EQUAL(nvg_rx_count(e->g), 4);
	for (i = 0; i < nvg_rx_count(e->g); i++)
		CU_ASSERT(memcmp(nvg_rx_get(e->g, i)->data, buf, sizeof(buf)) == 0);
	CU_ASSERT_EQUAL(tx_dropped_xstats(e->port), drops + 4);
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	CU_ASSERT_EQUAL(st.opackets, 4);
	CU_ASSERT_EQUAL(st.obytes, 4 * sizeof(buf));
	/* Consumed, not delivered: errors (docs/pmd.md), never silent. */
	CU_ASSERT_EQUAL(st.oerrors, drops + 4);
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), POOL_SIZE);
	if (tx_dropped_xstats(e->port) != drops + 4)
		xstats_print(e->port);
	penv_down(e);
}

/*
 * TSO and checksum requests as mbuf flags (what vmbus-srvd forwards from
 * a guest that offloaded them) are done by the PMD in software: the guest
 * gets MSS-sized segments with valid checksums and the checksum PPI.
 */
static void
h2g_tso_and_checksums_in_software(void)
{
	static uint8_t buf[54 + 6000], joined[6000];
	struct penv_cfg c = { .queues = 1, .copybreak = -1 };
	struct rte_eth_dev_info info;
	struct rte_eth_stats st;
	struct rte_mbuf *m[2];
	struct penv *e = penv_slot();
	uint64_t tso = 0, segs = 0, sw = 0;
	uint32_t i, k, got = 0;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	CU_ASSERT_EQUAL_FATAL(rte_eth_dev_info_get(e->port, &info), 0);
	CU_ASSERT_EQUAL(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO,
			RTE_ETH_TX_OFFLOAD_TCP_TSO);
	/* Ethernet, IPv4, TCP (20 B), 6000 B payload, checksums left undone. */
	mk_frame(buf, sizeof(buf), nic_mac, FK_PLAIN, 3);
	buf[12] = 0x08;
	buf[13] = 0x00;
	memset(buf + 14, 0, 40);
	buf[14] = 0x45;
	buf[22] = 64;
	buf[23] = 6;
	memset(buf + 26, 10, 8);
	buf[46] = 0x50;
	buf[47] = 0x18;	/* ACK PSH */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m[0] = mk_mbuf(buf, sizeof(buf), 3));
	m[0]->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			  RTE_MBUF_F_TX_TCP_CKSUM;
	m[0]->l2_len = 14;
	m[0]->l3_len = 20;
	m[0]->l4_len = 20;
	m[0]->tso_segsz = 1448;
	/* A UDP frame with only its checksum asked for. */
	buf[23] = 17;
	buf[38] = (uint8_t)((1000 - 34) >> 8);
	buf[39] = (uint8_t)(1000 - 34);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m[1] = mk_mbuf(buf, 1000, 2));
	m[1]->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
	CU_ASSERT_EQUAL(tx_all(e, 0, m, 2), 2);
	CU_ASSERT_EQUAL_FATAL(nvg_rx_wait(e->g, 6), 0);
	for (k = 0; k < 6; k++) {
		const struct nvg_rx_frame *f = nvg_rx_get(e->g, k);
		uint32_t l4len = f->len - 34, plen = f->len - 54;
		uint32_t acc = vmbs_test_ref_sum(0, f->data + 26, 8) + f->data[23] + l4len;

		CU_ASSERT_EQUAL(vmbs_test_ref_sum(0, f->data + 14, 20), 0xffff);
		CU_ASSERT_EQUAL(vmbs_test_ref_sum(acc, f->data + 34, l4len), 0xffff);
		CU_ASSERT(f->ppi.present & VMBS_RNDIS_PPI_F_CSUM);
		if (k == 5) {
			CU_ASSERT_EQUAL(f->len, 1000);
			CU_ASSERT_EQUAL(f->ppi.csum,
					VMBS_RNDIS_RXCSUM_IP_OK | VMBS_RNDIS_RXCSUM_UDP_OK);
			continue;
		}
		CU_ASSERT_EQUAL(f->len, 54 + (k < 4 ? 1448 : 6000 - 4 * 1448));
		CU_ASSERT_EQUAL(f->ppi.csum, VMBS_RNDIS_RXCSUM_IP_OK | VMBS_RNDIS_RXCSUM_TCP_OK);
		CU_ASSERT_EQUAL(!!(f->data[47] & 0x08), k == 4);
		if (got + plen <= sizeof(joined))
			memcpy(joined + got, f->data + 54, plen);
		got += plen;
	}
	CU_ASSERT_EQUAL(got, 6000);
	buf[23] = 6;
	CU_ASSERT(memcmp(joined, buf + 54, 6000) == 0);
	CU_ASSERT(xstat_sum(e->port, "tx_q", "_sw_tso", &tso));
	CU_ASSERT(xstat_sum(e->port, "tx_q", "_tso_segs", &segs));
	CU_ASSERT(xstat_sum(e->port, "tx_q", "_sw_csum", &sw));
	CU_ASSERT_EQUAL(tso, 1);
	CU_ASSERT_EQUAL(segs, 5);
	CU_ASSERT_EQUAL(sw, 2);
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	CU_ASSERT_EQUAL(st.opackets, 6);
	CU_ASSERT_EQUAL(st.oerrors, 0);
	for (i = 0; i < 50 && rte_mempool_avail_count(pool) != POOL_SIZE; i++)
		usleep(1000);
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), POOL_SIZE);
	penv_down(e);
}

/* ---- 4/5. accounting across both directions ---- */

static void
stats_and_mempool_after_mixed_traffic(void)
{
	struct penv_cfg c = { .queues = 4, .copybreak = 512 };
	static const uint32_t sizes[] = { 60, 300, 511, 512, 1000, 1514 };
	struct rte_eth_stats st;
	struct nvg_stats gs;
	struct penv *e = penv_slot();
	uint64_t in_pk = 0, in_by = 0, out_pk = 0, out_by = 0, zc = 0, cp = 0, sum;
	uint32_t round, i, avail0;
	uint16_t q;

	avail0 = rte_mempool_avail_count(pool);
	CU_ASSERT_EQUAL(avail0, POOL_SIZE);
	VMBS_CHECK(penv_ready(e, &c) == 0);
	for (round = 0; round < 3; round++) {
		for (q = 0; q < 4; q++) {
			for (i = 0; i < RTE_DIM(sizes); i++) {
				CU_ASSERT(g2h_one(e, q, (enum nvg_tx_form)((i + round) % 5),
						  sizes[i], i, NULL, 512, NULL) == 1);
				in_pk++;
				in_by += sizes[i];
				if (sizes[i] >= 512)
					zc++;
				else
					cp++;
			}
			out_by += h2g_check(e, q, sizes, RTE_DIM(sizes), 1 + round, NULL);
			out_pk += RTE_DIM(sizes);
		}
	}
	CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	CU_ASSERT_EQUAL(st.ipackets, in_pk);
	CU_ASSERT_EQUAL(st.ibytes, in_by);
	CU_ASSERT_EQUAL(st.opackets, out_pk);
	CU_ASSERT_EQUAL(st.obytes, out_by);
	CU_ASSERT_EQUAL(st.ierrors + st.oerrors + st.rx_nombuf, 0);
	for (q = 0; q < 4; q++) {
		CU_ASSERT_EQUAL(st.q_ipackets[q], in_pk / 4);
		CU_ASSERT_EQUAL(st.q_opackets[q], out_pk / 4);
		CU_ASSERT_EQUAL(st.q_ibytes[q], in_by / 4);
		CU_ASSERT_EQUAL(st.q_obytes[q], out_by / 4);
	}
	for (q = 0, sum = 0; q < 4; q++)
		sum += rxq_xstat(e->port, q, "zero_copy") + rxq_xstat(e->port, q, "copied");
	CU_ASSERT_EQUAL(sum, in_pk);
	CU_ASSERT_EQUAL(rxq_xstat(e->port, 2, "zero_copy"), zc / 4);
	CU_ASSERT_EQUAL(rxq_xstat(e->port, 2, "copied"), cp / 4);
	nvg_stats_get(e->g, &gs);
	CU_ASSERT_EQUAL(gs.tx_frames, in_pk);
	CU_ASSERT_EQUAL(gs.rx_frames, out_pk);
	CU_ASSERT_EQUAL(gs.tx_comp_ok, gs.tx_reqs);

	/* Everything freed (nothing held here): the pool is whole again. */
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), avail0);
	CU_ASSERT_EQUAL(rte_eth_stats_reset(e->port), 0);
	CU_ASSERT_EQUAL(rte_eth_stats_get(e->port, &st), 0);
	CU_ASSERT_EQUAL(st.ipackets + st.opackets + st.ibytes + st.obytes, 0);
	penv_down(e);
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), avail0);
}

/* ---- 6. stop, close, remove with traffic held ---- */

/* Send @p n zero-copy frames and keep their mbufs in @p held. */
static void
hold_frames(struct penv *e, uint8_t (*bufs)[1500], struct rte_mbuf **held, uint32_t n)
{
	struct nvg_frame f;
	uint32_t i;

	for (i = 0; i < n; i++) {
		mk_frame(bufs[i], 1500, nic_mac, FK_PLAIN, 200 + i);
		memset(&f, 0, sizeof(f));
		f.data = bufs[i];
		f.len = 1500;
		CU_ASSERT_EQUAL_FATAL(nvg_send(e->g, (uint16_t)(i % e->nq),
					       (enum nvg_tx_form)(i % 5), &f, 1, NULL), 0);
	}
	CU_ASSERT_FATAL(host_wait(e, n));
	for (i = 0; i < n; i++)
		held[i] = NULL;
	/* Queues are polled in turn: match each mbuf to its frame. */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = host_take(NULL);
		uint8_t tmp[1500];
		const void *p = rte_pktmbuf_read(m, 0, 1500, tmp);
		uint32_t j;

		for (j = 0; j < n; j++)
			if (held[j] == NULL && p != NULL && memcmp(p, bufs[j], 1500) == 0)
				break;
		CU_ASSERT_FATAL(j < n);
		held[j] = m;
		CU_ASSERT(mbuf_is(e, m, bufs[j], 1500, true, "held"));
	}
}

/* Held frames still read as sent (the guest memory is still mapped). */
static bool
held_intact(struct rte_mbuf **held, uint8_t (*bufs)[1500], uint32_t n)
{
	uint8_t tmp[1500];
	uint32_t i;

	for (i = 0; i < n; i++) {
		const void *p = rte_pktmbuf_read(held[i], 0, 1500, tmp);

		if (p == NULL || memcmp(p, bufs[i], 1500) != 0)
			return false;
	}
	return true;
}

static void
stop_with_mbufs_held_then_restart(void)
{
	static uint8_t bufs[8][1500];
	struct penv_cfg c = { .queues = 2, .copybreak = 0 };
	struct rte_mbuf *held[8];
	struct penv *e = penv_slot();
	uint64_t base;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	base = comp_ok(e);
	hold_frames(e, bufs, held, 8);
	host_detach();
	CU_ASSERT_EQUAL(rte_eth_dev_stop(e->port), 0);
	e->started = false;
	nvg_pump(e->g, 30);
	CU_ASSERT(held_intact(held, bufs, 8));
	CU_ASSERT_EQUAL(comp_ok(e), base);
	/*
	 * Frees while stopped: the completions wait in lib/chan for the
	 * queue's next poll (they are sent from Rx bursts), never lost.
	 */
	rte_pktmbuf_free_bulk(held, 4);
	nvg_pump(e->g, 30);
	CU_ASSERT(comp_ok(e) <= base + 4);

	CU_ASSERT_EQUAL_FATAL(rte_eth_dev_start(e->port), 0);
	e->started = true;
	host_attach(e->port, e->nq);
	CU_ASSERT(WAIT_UNTIL(e, comp_ok(e) == base + 4));
	CU_ASSERT(held_intact(held + 4, bufs + 4, 4));
	free_elsewhere(held + 4, 4);
	CU_ASSERT(WAIT_UNTIL(e, comp_ok(e) == base + 8));
	/* And traffic flows again both ways. */
	CU_ASSERT(g2h_one(e, 1, NVG_TX_GPA, 1000, 1, NULL, 0, NULL) == 1);
	h2g_check(e, 1, g2h_sizes, 4, 1, NULL);
	penv_down(e);
}

/*
 * The application stops polling (as ethdev requires) and closes the port
 * while the guest is attached: the guest is cut off, and once it is gone
 * the host keeps no mapping of its memory. Rounds alternate between
 * frames held and freed after polling stopped, and frames all completed
 * while polling; repeated because whether lib/chan still has pinned
 * requests to unpin at that moment depends on timing.
 */
static void
close_with_guest_attached_releases_its_memory(void)
{
	static uint8_t bufs[8][1500];
	struct penv_cfg c = { .queues = 2, .copybreak = 0 };
	struct rte_mbuf *held[8];
	struct penv *e;
	uint32_t round, f;

	for (round = 0; round < 6; round++) {
		e = penv_slot();
		VMBS_CHECK(penv_ready(e, &c) == 0);
		h2g_check(e, 0, g2h_sizes, 4, 1, NULL);
		if (round & 1) {
			/* Every layout, GPA-direct ones included (pinned by lib/chan). */
			for (f = NVG_TX_CHIMNEY; f <= NVG_TX_MIXED; f++)
				CU_ASSERT(g2h_one(e, (uint16_t)(f & 1), (enum nvg_tx_form)f,
						  1400, f, NULL, 0, NULL) == 1);
			CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);
		} else {
			hold_frames(e, bufs, held, 8);
			host_detach();
			rte_pktmbuf_free_bulk(held, 8);
		}
		port_down(e);
		nvg_pump(e->g, 50);
		nvg_destroy(e->g);
		e->g = NULL;
		if (!maps_settle(e))
			fprintf(stderr, "round %u: %u guest mappings left (%u before)\n",
				round, guest_maps(), e->maps0);
		penv_down(e);
	}
}

/*
 * The guest leaves (GOODBYE) and the application, seeing the link go
 * down, stops polling and closes the port at once: the host must still
 * let go of the guest's memory.
 */
static void
guest_leaves_then_port_closes_releases_its_memory(void)
{
	struct penv_cfg c = { .queues = 2, .copybreak = 0 };
	struct penv *e = penv_slot();
	uint32_t f;

	VMBS_CHECK(penv_ready(e, &c) == 0);
	for (f = NVG_TX_CHIMNEY; f <= NVG_TX_MIXED; f++)
		CU_ASSERT(g2h_one(e, (uint16_t)(f & 1), (enum nvg_tx_form)f, 1400, f, NULL, 0,
				  NULL) == 1);
	CU_ASSERT_EQUAL(nvg_tx_wait(e->g), 0);
	CU_ASSERT_EQUAL(nvg_detach(e->g), 0);
	e->g = NULL;
	CU_ASSERT(WAIT_UNTIL(e, link_is(e, RTE_ETH_LINK_DOWN)));
	port_down(e);
	if (!maps_settle(e))
		fprintf(stderr, "guest gone, port closed: %u guest mappings (%u before)\n",
			guest_maps(), e->maps0);
	penv_down(e);
}

static size_t
heap_in_use(void)
{
	struct rte_malloc_socket_stats st;

	memset(&st, 0, sizeof(st));
	rte_malloc_get_socket_stats(0, &st);
	return st.heap_allocsz_bytes;
}

/*
 * @p close_first: stop + close + remove; otherwise remove straight away
 * (rte_vdev_uninit on a started port). Either way with the guest attached
 * and zero-copy mbufs out: no crash, the held bytes stay readable, and
 * once they are freed everything is released and the socket reusable.
 */
static void
remove_with_guest_and_mbufs(bool close_first)
{
	static uint8_t bufs[8][1500];
	struct penv_cfg c = { .queues = 2, .copybreak = 0 };
	struct rte_mbuf *held[8];
	struct penv *e = penv_slot();
	size_t heap0;
	uint16_t port;

	heap0 = heap_in_use();
	VMBS_CHECK(penv_ready(e, &c) == 0);
	hold_frames(e, bufs, held, 8);
	/* Host traffic in flight too: deliveries the guest has not acked. */
	nvg_set_ack_mode(e->g, NVG_ACK_HOLD);
	h2g_check(e, 0, g2h_sizes, 4, 1, NULL);

	host_detach();
	if (close_first) {
		CU_ASSERT_EQUAL(rte_eth_dev_stop(e->port), 0);
		CU_ASSERT_EQUAL(rte_eth_dev_close(e->port), 0);
	}
	e->started = false;
	CU_ASSERT_EQUAL(rte_vdev_uninit(e->name), 0);
	e->port_live = false;
	CU_ASSERT(rte_eth_dev_get_port_by_name(e->name, &port) != 0);

	/* The guest notices; its memory stays mapped under the held mbufs. */
	nvg_pump(e->g, 50);
	CU_ASSERT(held_intact(held, bufs, 8));
	rte_pktmbuf_free_bulk(held, 3);
	free_elsewhere(held + 3, 5);
	nvg_destroy(e->g);
	e->g = NULL;
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), POOL_SIZE);
	/* Everything the port and its server held goes back (bounded wait). */
	CU_ASSERT(WAIT_UNTIL(e, heap_in_use() <= heap0));
	if (heap_in_use() > heap0)
		fprintf(stderr, "rte_malloc heap: %zu bytes before the port, %zu after\n", heap0,
			heap_in_use());
	penv_down(e);

	/* A new port on the same socket and VM name serves a new guest. */
	serial--;
	VMBS_CHECK(penv_ready(e, &c) == 0);
	CU_ASSERT(g2h_one(e, 1, NVG_TX_MIXED, 700, 3, NULL, 0, NULL) == 1);
	h2g_check(e, 0, g2h_sizes, 3, 2, NULL);
	penv_down(e);
}

static void
close_remove_with_guest_and_mbufs_held(void)
{
	remove_with_guest_and_mbufs(true);
}

static void
uninit_started_port_with_guest_and_mbufs_held(void)
{
	remove_with_guest_and_mbufs(false);
}

/* ---- suite ---- */

static void
pool_mem_cb(struct rte_mempool *mp, void *opaque, struct rte_mempool_memhdr *memhdr,
	    unsigned int mem_idx)
{
	RTE_SET_USED(mp);
	RTE_SET_USED(opaque);
	RTE_SET_USED(mem_idx);
	if (n_pool_mem == POOL_CHUNKS_MAX)
		return;
	pool_mem[n_pool_mem].lo = (uintptr_t)memhdr->addr;
	pool_mem[n_pool_mem].hi = (uintptr_t)memhdr->addr + memhdr->len;
	n_pool_mem++;
}

static int
suite_init(void)
{
	if (vmbs_test_eal_init("test_pmd_data") != 0)
		return -1;
	/* No per-lcore cache: rte_mempool_avail_count() is then exact. */
	pool = rte_pktmbuf_pool_create("pd_pool", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL)
		return -1;
	rte_mempool_mem_iter(pool, pool_mem_cb, NULL);
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/vmbs-pmd-data-XXXXXX");
	if (mkdtemp(sock_dir) == NULL)
		return -1;
	__atomic_store_n(&host.run, true, __ATOMIC_RELEASE);
	return pthread_create(&host.thread, NULL, poller_main, NULL) == 0 ? 0 : -1;
}

static int
suite_cleanup(void)
{
	if (penv_live)
		penv_quiet_down(&penv_store);
	__atomic_store_n(&host.run, false, __ATOMIC_RELEASE);
	pthread_join(host.thread, NULL);
	rmdir(sock_dir);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

static const struct vmbs_test_case cases[] = {
	{ "bringup_link_follows_guest_filter_and_port", bringup_link_follows_guest },
	{ "bringup_without_rx_bursts", bringup_without_rx_bursts },
	{ "vm_devarg_names_the_vm", vm_devarg_names_the_vm },
	{ "g2h_jumbo_every_layout_default_copybreak", g2h_one_queue_default_copybreak },
	{ "g2h_four_queues_copybreak_0_all_zero_copy", g2h_four_queues_all_zero_copy },
	{ "g2h_copybreak_65535_all_copied_chained", g2h_large_copybreak_all_copied },
	{ "g2h_mtu_1500_copybreak_1000", g2h_standard_mtu_copybreak_1000 },
	{ "g2h_ppis_map_to_mbuf_flags_zero_copy", g2h_ppis_map_to_mbuf_flags },
	{ "g2h_ppis_map_to_mbuf_flags_copied", g2h_ppis_on_copied_frames },
	{ "g2h_aggregated_section_mixes_copy_and_attach", g2h_aggregated_section },
	{ "rx_burst_on_a_thread_that_is_no_lcore", rx_burst_on_unregistered_thread },
	{ "g2h_completion_waits_for_last_mbuf_free", g2h_completion_waits_for_last_mbuf },
	{ "g2h_zero_copy_aliases_guest_memory_registered_for_dma",
	  g2h_zero_copy_aliases_guest_memory },
	{ "h2g_sizes_chains_marks_one_queue", h2g_sizes_chains_marks_one_queue },
	{ "h2g_sizes_chains_marks_four_queues", h2g_sizes_chains_marks_four_queues },
	{ "h2g_full_partition_returns_fewer_then_recovers", h2g_full_partition_then_recovers },
	{ "h2g_tx_reads_acks_without_rx", h2g_tx_reads_acks_without_rx },
	{ "h2g_rss_spreads_by_the_guests_table", h2g_rss_spreads_by_the_guests_table },
	{ "h2g_undeliverable_consumed_and_counted", h2g_undeliverable_consumed_and_counted },
	{ "h2g_tso_and_checksums_in_software", h2g_tso_and_checksums_in_software },
	{ "rx_interrupt_wakes_on_doorbell_data_and_free",
	  rx_interrupt_wakes_on_doorbell_data_and_free },
	{ "rx_interrupt_without_doorbell_repolls", rx_interrupt_without_doorbell_repolls },
	{ "stats_xstats_mempool_after_mixed_traffic", stats_and_mempool_after_mixed_traffic },
	{ "stop_with_mbufs_held_then_restart", stop_with_mbufs_held_then_restart },
	{ "close_with_guest_attached_releases_its_memory",
	  close_with_guest_attached_releases_its_memory },
	{ "guest_leaves_then_port_closes_releases_its_memory",
	  guest_leaves_then_port_closes_releases_its_memory },
	{ "close_remove_with_guest_and_mbufs_held", close_remove_with_guest_and_mbufs_held },
	{ "uninit_started_port_with_guest_and_mbufs_held",
	  uninit_started_port_with_guest_and_mbufs_held },
	{ NULL, NULL },
};

static const struct vmbs_test_suite suite = {
	"pmd_data", suite_init, suite_cleanup, cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &suite, NULL };

	return vmbs_test_run(suites);
}
