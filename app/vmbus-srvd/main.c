/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * vmbus-srvd: host-side VMBus packet server. Creates one net_vmbus_srv port
 * per configured synthetic NIC, polls them, prints a live rate line and a
 * summary, and exits cleanly on SIGINT/SIGTERM or after --duration.
 *
 * Usage: vmbus-srvd [EAL options] -- [-c FILE] [-d SECONDS] [-s SOCKET] [-p SECONDS]
 *                   [-u DEVARGS]
 * SIGUSR1 takes every guest NIC's link down, SIGUSR2 brings them up again.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_service.h>

#include "srvd_bridge.h"
#include "vmbs_config.h"
#include "vmbs_server.h"
#include "vmbus_srvd.h"

#define SRVD_MBUF_CACHE 256u
/* Wait at exit for guests' memory to be unreferenced. */
#define SRVD_RELEASE_TIMEOUT_MS 2000u
/* Wait at exit for mbufs held by ports to come back to the pool. */
#define SRVD_MBUF_WAIT_MS 2000u
/* Housekeeping period: signals, duration, service mapping, stats. */
#define SRVD_HOUSEKEEPING_HZ_DIV 10u
/* The PMD's slow-path service (lib/chan), registered with the first channel. */
#define SRVD_SP_SERVICE "vmbs_chan_sp"

static volatile sig_atomic_t stop_requested;
/* SIGUSR1: guest links down; SIGUSR2: up again (the latest wins). */
enum srvd_link_request { SRVD_LINK_NONE, SRVD_LINK_DOWN, SRVD_LINK_UP };
static volatile sig_atomic_t link_request;

static void
on_signal(int sig __rte_unused)
{
	stop_requested = 1;
}

static void
on_link_signal(int sig)
{
	link_request = sig == SIGUSR1 ? SRVD_LINK_DOWN : SRVD_LINK_UP;
}

static struct srvd_state state;
/* Serialises link reads with their publication (main vs LSC callback). */
static pthread_mutex_t link_lock = PTHREAD_MUTEX_INITIALIZER;

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n"
	       "  -c, --config FILE        configuration (default %s)\n"
	       "  -d, --duration SECONDS   run this long, then exit (0 = until a signal)\n"
	       "  -s, --socket PATH        attach socket (overrides [server] socket)\n"
	       "  -p, --stats-period SECS  rate line period (0 = none)\n"
	       "  -u, --uplink DEVARGS     uplink port (overrides [uplink] device; \"\" = none)\n"
	       "  -h, --help               this text\n"
	       "EAL options given before \"--\" replace [eal] args and service_lcores.\n"
	       "SIGUSR1 takes every guest NIC's link down, SIGUSR2 brings them up again.\n",
	       prog, VMBS_DEFAULT_CONFIG);
}

/* Index of the "--" separating EAL options from ours; -1 if none. */
static int
find_separator(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return -1;
}

struct app_args {
	const char *cfg_path;
	const char *socket;
	const char *uplink;
	int64_t duration;	/* -1: from the file */
	int64_t period;
};

static int
parse_app_args(int argc, char **argv, struct app_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "stats-period", required_argument, NULL, 'p' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:s:p:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->cfg_path = optarg;
			break;
		case 'd':
			if (srvd_parse_u32("--duration", optarg, 86400 * 365, &v) != 0)
				return -1;
			a->duration = v;
			break;
		case 's':
			a->socket = optarg;
			break;
		case 'p':
			if (srvd_parse_u32("--stats-period", optarg, 3600, &v) != 0)
				return -1;
			a->period = v;
			break;
		case 'u':
			a->uplink = optarg;
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vmbus-srvd: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* EAL from [eal] args (+ service_lcores as -S) when none came before "--". */
static int
eal_init_from_config(const char *prog, const struct srvd_config *cfg)
{
	static char buf[sizeof(cfg->eal_args)];
	static char *eal_argv[SRVD_MAX_EAL_ARGS + 4];
	int eal_argc = 0;
	char *tok, *save = NULL;

	eal_argv[eal_argc++] = (char *)(uintptr_t)prog;
	snprintf(buf, sizeof(buf), "%s", cfg->eal_args);
	for (tok = strtok_r(buf, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		if (eal_argc == SRVD_MAX_EAL_ARGS) {
			fprintf(stderr, "vmbus-srvd: [eal] args: too many words\n");
			return -1;
		}
		eal_argv[eal_argc++] = tok;
	}
	if (cfg->service_lcores[0] != '\0') {
		eal_argv[eal_argc++] = (char *)(uintptr_t)"-S";
		eal_argv[eal_argc++] = (char *)(uintptr_t)cfg->service_lcores;
	}
	eal_argv[eal_argc] = NULL;
	return rte_eal_init(eal_argc, eal_argv);
}

/* Read the link and publish it; print and forget its MACs on a change. */
static void
port_link_refresh(struct srvd_state *s, uint16_t idx)
{
	struct srvd_port *p = &s->ports[idx];
	struct rte_eth_link link;
	uint32_t up, old;

	pthread_mutex_lock(&link_lock);
	/* Without reports the link is taken as up: Tx counts what it cannot send. */
	up = 1;
	if (__atomic_load_n(&p->admin_down, __ATOMIC_ACQUIRE) != 0) {
		up = 0;
	} else if (p->lsc) {
		memset(&link, 0, sizeof(link));
		up = rte_eth_link_get_nowait(p->port_id, &link) == 0 &&
		     link.link_status == RTE_ETH_LINK_UP;
	}
	old = __atomic_exchange_n(&p->link_up, up, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&link_lock);
	if (old == up)
		return;
	/* Its stations may come back behind another port: relearn them. */
	if (!up)
		srvd_mac_forget_port(s->macs, idx);
	printf("vmbus-srvd: port %u [%s] link %s\n", p->port_id, p->section,
	       up ? "up" : "down");
	fflush(stdout);
}

/* LSC, on the interrupt thread. */
static int
on_link_change(uint16_t port_id, enum rte_eth_event_type type __rte_unused, void *arg,
	       void *ret_param __rte_unused)
{
	struct srvd_state *s = arg;
	uint16_t i;

	for (i = 0; i < s->nb_ports; i++)
		if (s->ports[i].port_id == port_id && s->ports[i].started)
			port_link_refresh(s, i);
	return 0;
}

/* Create guest NIC @p i's port (not configured yet). */
static int
guest_port_create(const struct srvd_config *cfg, unsigned int i, struct srvd_port *p)
{
	char devargs[1024];
	int ret;

	snprintf(p->name, sizeof(p->name), "net_vmbus_srv%u", i);
	snprintf(p->section, sizeof(p->section), "%s", cfg->nics[i].section);
	p->kind = SRVD_PORT_GUEST;
	/* tx_rss=1: which lcore forwards a frame says nothing about the
	 * guest queue it belongs on; the guest's RSS table does (a [nicN]
	 * tx_rss key, later in the list, overrides it).
	 */
	snprintf(devargs, sizeof(devargs), "socket=%s,tx_rss=1%s%s", cfg->socket,
		 cfg->nics[i].devargs[0] ? "," : "", cfg->nics[i].devargs);
	ret = rte_vdev_init(p->name, devargs);
	if (ret != 0) {
		fprintf(stderr, "vmbus-srvd: [%s]: cannot create port: %s\n",
			cfg->nics[i].section, strerror(-ret));
		return -1;
	}
	p->probed = true;
	if (rte_eth_dev_get_port_by_name(p->name, &p->port_id) != 0)
		return -1;
	p->nb_rxq = cfg->nics[i].queues;
	p->nb_txq = cfg->nics[i].queues;
	return 0;
}

/* Probe the [uplink] device (unless the EAL already did) and find its port. */
static int
uplink_port_create(const struct srvd_config *cfg, struct srvd_port *p)
{
	struct rte_eth_dev_info info;
	const char *name = cfg->uplink;
	size_t len;
	int ret;

	/* The port is named after the device: devargs up to the first comma. */
	if (strncmp(name, "vdev:", 5) == 0 || strncmp(name, "pci:", 4) == 0)
		name = strchr(name, ':') + 1;
	len = strcspn(name, ",");
	if (len == 0 || len >= sizeof(p->name)) {
		fprintf(stderr, "vmbus-srvd: [uplink] device \"%s\": no device name\n", cfg->uplink);
		return -1;
	}
	snprintf(p->name, sizeof(p->name), "%.*s", (int)len, name);
	snprintf(p->section, sizeof(p->section), "uplink");
	p->kind = SRVD_PORT_UPLINK;
	ret = rte_dev_probe(cfg->uplink);
	if (ret != 0 && ret != -EEXIST) {
		fprintf(stderr, "vmbus-srvd: [uplink] cannot probe \"%s\": %s\n", cfg->uplink,
			strerror(-ret));
		return -1;
	}
	p->probed = ret == 0;
	if (rte_eth_dev_get_port_by_name(p->name, &p->port_id) != 0) {
		fprintf(stderr, "vmbus-srvd: [uplink] no ethdev port named \"%s\"\n", p->name);
		return -1;
	}
	if (rte_eth_dev_info_get(p->port_id, &info) != 0)
		return -1;
	p->dev = info.device;
	p->nb_rxq = RTE_MIN(cfg->uplink_queues, info.max_rx_queues);
	return 0;
}

/*
 * Configure and start @p p: RSS over its Rx queues, LSC when the driver
 * reports it, chains and VLAN insertion on Tx when it can.
 */
static int
port_start(struct srvd_state *s, uint16_t idx)
{
	struct srvd_port *p = &s->ports[idx];
	const struct srvd_config *cfg = s->cfg;
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_ether_addr mac;
	uint16_t q, mtu, rxd = (uint16_t)cfg->rx_desc, txd = (uint16_t)cfg->tx_desc;
	int ret;

	ret = rte_eth_dev_info_get(p->port_id, &info);
	if (ret != 0)
		goto err;
	p->nb_rxq = RTE_MIN(p->nb_rxq, RTE_MIN(info.max_rx_queues, SRVD_MAX_PORT_QUEUES));
	p->nb_txq = RTE_MIN(p->nb_txq, RTE_MIN(info.max_tx_queues, SRVD_MAX_PORT_QUEUES));
	if (p->nb_rxq == 0 || p->nb_txq == 0) {
		ret = -EINVAL;
		goto err;
	}
	p->tx_shared = s->nb_pollers > p->nb_txq;
	p->multiseg = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	p->vlan_insert = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_VLAN_INSERT) != 0;
	p->lsc = (*info.dev_flags & RTE_ETH_DEV_INTR_LSC) != 0;

	memset(&conf, 0, sizeof(conf));
	/*
	 * Guest ports: the guest hashes and picks its channels; RSS mode
	 * delivers its hash with each frame (RSS_HASH), which reaches the
	 * receiving guest as its hash PPI. Uplinks spread over their queues.
	 */
	if (p->kind == SRVD_PORT_GUEST || p->nb_rxq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
						    RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		conf.rxmode.offloads |= info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH;
	}
	conf.rxmode.offloads |= info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
	/* A guest port's MTU is its NIC's (the mtu devarg); the uplink's is
	 * [uplink] mtu, or the driver's default.
	 */
	if (p->kind == SRVD_PORT_GUEST) {
		conf.rxmode.offloads |= info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
		conf.rxmode.mtu = info.max_mtu;
	} else {
		conf.rxmode.mtu = cfg->uplink_mtu;
	}
	conf.txmode.offloads = info.tx_offload_capa & (RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
						       RTE_ETH_TX_OFFLOAD_VLAN_INSERT);
	conf.intr_conf.lsc = p->lsc;
	ret = rte_eth_dev_configure(p->port_id, p->nb_rxq, p->nb_txq, &conf);
	if (ret != 0 && conf.rxmode.mtu != 0 && p->kind == SRVD_PORT_UPLINK)
		fprintf(stderr, "vmbus-srvd: [uplink] mtu %u: the driver takes %u-%u and frames "
			"up to %u B\n", conf.rxmode.mtu, info.min_mtu, info.max_mtu,
			info.max_rx_pktlen);
	if (ret == 0)
		ret = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	for (q = 0; ret == 0 && q < p->nb_rxq; q++)
		ret = rte_eth_rx_queue_setup(p->port_id, q, rxd,
					     (unsigned int)rte_eth_dev_socket_id(p->port_id),
					     NULL, s->pool);
	for (q = 0; ret == 0 && q < p->nb_txq; q++) {
		rte_spinlock_init(&p->txq_lock[q]);
		ret = rte_eth_tx_queue_setup(p->port_id, q, txd,
					     (unsigned int)rte_eth_dev_socket_id(p->port_id),
					     NULL);
	}
	if (ret != 0)
		goto err;
	if (p->lsc) {
		ret = rte_eth_dev_callback_register(p->port_id, RTE_ETH_EVENT_INTR_LSC,
						    on_link_change, s);
		if (ret != 0)
			goto err;
	}
	/* A bridge port sees every frame; guest ports always do. */
	rte_eth_promiscuous_enable(p->port_id);
	ret = rte_eth_dev_start(p->port_id);
	if (ret != 0)
		goto err;
	p->started = true;
	rte_eth_macaddr_get(p->port_id, &mac);
	if (rte_eth_dev_get_mtu(p->port_id, &mtu) != 0)
		mtu = 0;
	printf("vmbus-srvd: port %u %s [%s]: mac " RTE_ETHER_ADDR_PRT_FMT
	       ", %u rx / %u tx queue(s)%s, mtu %u (max %u), driver %s%s%s\n",
	       p->port_id, p->name, p->section, RTE_ETHER_ADDR_BYTES(&mac), p->nb_rxq,
	       p->nb_txq, p->tx_shared ? " (tx shared)" : "", mtu, info.max_mtu, info.driver_name,
	       p->lsc ? ", lsc" : "", p->multiseg ? "" : ", chains copied");
	port_link_refresh(s, idx);
	return 0;
err:
	fprintf(stderr, "vmbus-srvd: %s [%s]: setup failed: %s\n", p->name, p->section,
		strerror(-ret));
	return -1;
}

/*
 * Spread every (port, queue) over the polling lcores: every worker lcore
 * the EAL was given (the main lcore only housekeeps then), or the main
 * lcore alone. Port-major round robin gives each poller a queue of every
 * port first. Pollers left without a queue are not launched: an idle
 * spinning lcore would only take CPU from the others.
 */
static int
plan_lcores(struct srvd_state *s)
{
	unsigned int workers[RTE_MAX_LCORE], nw = 0, total = 0, i, lcore;
	uint16_t p, q;

	RTE_LCORE_FOREACH_WORKER(lcore)
		workers[nw++] = lcore;
	for (p = 0; p < s->nb_ports; p++)
		total += s->ports[p].nb_rxq;
	s->main_polls = nw == 0;
	s->nb_pollers = s->main_polls ? 1 : RTE_MIN(nw, total);
	for (i = 0; i < s->nb_pollers; i++) {
		unsigned int l = s->main_polls ? rte_get_main_lcore() : workers[i];
		struct srvd_lcore *lc;

		lc = rte_zmalloc_socket("srvd_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE,
					(int)rte_lcore_to_socket_id(l));
		if (lc == NULL) {
			fprintf(stderr, "vmbus-srvd: out of memory for lcore %u\n", l);
			return -1;
		}
		lc->lcore_id = l;
		lc->poller = i;
		s->pollers[i] = lc;
	}
	i = 0;
	for (p = 0; p < s->nb_ports; p++) {
		for (q = 0; q < s->ports[p].nb_rxq; q++, i++) {
			struct srvd_lcore *lc = s->pollers[i % s->nb_pollers];

			if (lc->nb_poll == SRVD_MAX_POLL) {
				fprintf(stderr, "vmbus-srvd: more than %d queues on lcore %u\n",
					SRVD_MAX_POLL, lc->lcore_id);
				return -1;
			}
			lc->poll[lc->nb_poll].port = p;
			lc->poll[lc->nb_poll].queue = q;
			lc->nb_poll++;
		}
	}
	return 0;
}

/* Each poller sends on its own Tx queue of each port (shared past nb_txq). */
static void
plan_tx_queues(struct srvd_state *s)
{
	unsigned int i;
	uint16_t p;

	for (i = 0; i < s->nb_pollers; i++)
		for (p = 0; p < s->nb_ports; p++)
			s->pollers[i]->txq[p] = (uint16_t)(i % s->ports[p].nb_txq);
}

static void
print_lcores(const struct srvd_state *s)
{
	unsigned int i;
	uint16_t k;

	for (i = 0; i < s->nb_pollers; i++) {
		const struct srvd_lcore *lc = s->pollers[i];

		printf("vmbus-srvd: %slcore %u polls", s->main_polls ? "main " : "",
		       lc->lcore_id);
		for (k = 0; k < lc->nb_poll; k++)
			printf(" %s:q%u", s->ports[lc->poll[k].port].section, lc->poll[k].queue);
		printf("\n");
	}
}

/* Enough mbufs for every Rx/Tx ring, the lcore caches and bursts in flight. */
static uint32_t
pool_size(const struct srvd_state *s)
{
	uint64_t n = 2048;
	uint16_t p;

	if (s->cfg->mbufs != 0)
		return s->cfg->mbufs;
	for (p = 0; p < s->nb_ports; p++)
		n += (uint64_t)s->ports[p].nb_rxq * s->cfg->rx_desc +
		     (uint64_t)s->ports[p].nb_txq * s->cfg->tx_desc;
	n += (uint64_t)(rte_lcore_count() + 1) *
	     (SRVD_MBUF_CACHE * 3 / 2 + (uint64_t)VMBS_MAX_BURST * s->nb_ports);
	return (uint32_t)RTE_MIN(n, (uint64_t)1 << 24);
}

/*
 * With a service lcore, run the PMD's slow path there, as soon as the
 * service exists (lib/chan registers it with the first channel a guest
 * opens). Without one the PMD runs it from Rx bursts.
 */
static bool
map_slow_path(void)
{
	uint32_t list[RTE_MAX_LCORE], id;
	int n, i;

	n = rte_service_lcore_list(list, RTE_MAX_LCORE);
	if (n <= 0 || rte_service_get_by_name(SRVD_SP_SERVICE, &id) != 0)
		return false;
	for (i = 0; i < n; i++) {
		rte_service_map_lcore_set(id, list[i], 1);
		rte_service_lcore_start(list[i]);
	}
	printf("vmbus-srvd: slow path on %d service lcore(s), from lcore %u\n", n, list[0]);
	fflush(stdout);
	return true;
}

static void
unmap_slow_path(void)
{
	uint32_t list[RTE_MAX_LCORE], id;
	int n, i;

	n = rte_service_lcore_list(list, RTE_MAX_LCORE);
	if (n <= 0)
		return;
	if (rte_service_get_by_name(SRVD_SP_SERVICE, &id) == 0)
		for (i = 0; i < n; i++)
			rte_service_map_lcore_set(id, list[i], 0);
	for (i = 0; i < n; i++)
		rte_service_lcore_stop(list[i]);
}

/*
 * Take every guest NIC's link down (SIGUSR1) or up again (SIGUSR2). Down:
 * the bridge stops sending to the port and the pollers stop polling it
 * (its flag, then a quiescent report from every worker poller), then the
 * port is stopped, which tells the guest its medium disconnected. While
 * stopped nothing answers the guest (its RNDIS queries wait). Up: the port
 * is started (medium connected) and polled again. Main lcore only.
 */
static void
guest_links_set(struct srvd_state *s, bool up)
{
	uint16_t i;
	int ret;

	for (i = 0; i < s->nb_ports; i++) {
		struct srvd_port *p = &s->ports[i];
		bool down_now = __atomic_load_n(&p->admin_down, __ATOMIC_RELAXED) != 0;

		if (p->kind != SRVD_PORT_GUEST || down_now != up)
			continue;
		if (!up) {
			__atomic_store_n(&p->admin_down, 1, __ATOMIC_RELEASE);
			port_link_refresh(s, i);
			/* A3: pairs with the pollers' quiescent reports (fwd.c). */
			if (s->qsbr != NULL)
				rte_rcu_qsbr_synchronize(s->qsbr, RTE_QSBR_THRID_INVALID);
			p->started = false;
			ret = rte_eth_dev_stop(p->port_id);
		} else {
			ret = rte_eth_dev_start(p->port_id);
			if (ret == 0) {
				p->started = true;
				__atomic_store_n(&p->admin_down, 0, __ATOMIC_RELEASE);
				port_link_refresh(s, i);
			}
		}
		printf("vmbus-srvd: port %u [%s] administratively %s%s%s\n", p->port_id,
		       p->section, up ? "up" : "down", ret != 0 ? ": " : "",
		       ret != 0 ? strerror(-ret) : "");
		fflush(stdout);
	}
}

/*
 * Serve until a signal or the duration: pollers run on their lcores; the
 * main lcore polls too when it is the only one, and otherwise sleeps
 * between housekeeping steps (on a small machine it must not spin).
 */
static double
serve(struct srvd_state *s)
{
	const struct srvd_config *cfg = s->cfg;
	uint64_t hz = s->hz, start = rte_get_timer_cycles();
	uint64_t hk_every = hz / SRVD_HOUSEKEEPING_HZ_DIV, next_hk = start;
	uint64_t last_stats = start, now = start;
	bool sp_mapped = rte_service_lcore_count() == 0;
	unsigned int i;

	srvd_fwd_init(s);
	if (!s->main_polls)
		for (i = 0; i < s->nb_pollers; i++)
			rte_eal_remote_launch(srvd_poll_lcore, s->pollers[i],
					      s->pollers[i]->lcore_id);
	for (;;) {
		if (s->main_polls)
			srvd_poll_once(s, s->pollers[0]);
		else
			rte_delay_us_sleep(1000000u / SRVD_HOUSEKEEPING_HZ_DIV);
		now = rte_get_timer_cycles();
		if (now < next_hk)
			continue;
		next_hk = now + hk_every;
		if (stop_requested ||
		    (cfg->duration_s != 0 && now - start >= (uint64_t)cfg->duration_s * hz))
			break;
		if (link_request != SRVD_LINK_NONE) {
			bool up = link_request == SRVD_LINK_UP;

			link_request = SRVD_LINK_NONE;
			guest_links_set(s, up);
		}
		if (!sp_mapped)
			sp_mapped = map_slow_path();
		if (cfg->stats_period_s != 0 &&
		    now - last_stats >= (uint64_t)cfg->stats_period_s * hz) {
			srvd_stats_rate(s, (double)(now - last_stats) / (double)hz);
			last_stats = now;
		}
	}
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	rte_eal_mp_wait_lcore();
	return (double)(now - start) / (double)hz;
}

/* Stop, close and remove every port we created; unhook LSC first. */
static void
ports_release(struct srvd_state *s)
{
	uint16_t i;

	for (i = 0; i < s->nb_ports; i++) {
		struct srvd_port *p = &s->ports[i];

		if (p->lsc)
			while (rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_INTR_LSC,
							       on_link_change, s) == -EAGAIN)
				rte_delay_us_sleep(1000);
		if (p->started)
			rte_eth_dev_stop(p->port_id);
		p->started = false;
	}
	for (i = 0; i < s->nb_ports; i++) {
		struct srvd_port *p = &s->ports[i];

		rte_eth_dev_close(p->port_id);
		if (!p->probed)
			continue;
		if (p->kind == SRVD_PORT_GUEST)
			rte_vdev_uninit(p->name);
		else if (p->dev != NULL)
			rte_dev_remove(p->dev);
	}
}

/* Bounded wait for every mbuf to come home; the number still out. */
static unsigned int
pool_drain(struct rte_mempool *pool)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() * SRVD_MBUF_WAIT_MS / 1000;

	while (rte_mempool_in_use_count(pool) != 0 && rte_get_timer_cycles() < end)
		rte_delay_us_sleep(1000);
	return rte_mempool_in_use_count(pool);
}

/*
 * Start (or join) the attach server on the configured socket, creating
 * its directory if needed. The socket's mode, owner and allow lists come
 * from [server].
 */
static struct vmbs_srv *
attach_start(const struct srvd_config *cfg)
{
	struct vmbs_srv_params sp;
	struct vmbs_srv *srv;
	char dir[sizeof(cfg->socket)], *slash;
	unsigned int i;

	snprintf(dir, sizeof(dir), "%s", cfg->socket);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "vmbus-srvd: cannot create %s: %s\n", dir,
				strerror(errno));
			return NULL;
		}
	}
	memset(&sp, 0, sizeof(sp));
	sp.socket_path = cfg->socket;
	sp.owner_uid = cfg->socket_owner;
	sp.group_gid = cfg->socket_group;
	for (i = 0; i < cfg->nb_allow_uids; i++)
		sp.allow_uids[i] = cfg->allow_uids[i];
	sp.n_allow_uids = cfg->nb_allow_uids;
	for (i = 0; i < cfg->nb_allow_gids; i++)
		sp.allow_gids[i] = cfg->allow_gids[i];
	sp.n_allow_gids = cfg->nb_allow_gids;
	srv = vmbs_srv_acquire(&sp);
	if (srv == NULL)
		fprintf(stderr, "vmbus-srvd: attach socket %s: %s\n", cfg->socket,
			rte_strerror(rte_errno));
	return srv;
}

int
main(int argc, char **argv)
{
	static struct srvd_config cfg;
	struct srvd_state *s = &state;
	struct app_args a = { VMBS_DEFAULT_CONFIG, NULL, NULL, -1, -1 };
	struct srvd_mac_table_params mp;
	int sep, ret, exit_code = EXIT_SUCCESS;
	struct vmbs_srv *srv = NULL;
	unsigned int i, left;
	double secs = 0;
	uint16_t p;

	sep = find_separator(argc, argv);
	if (parse_app_args(sep < 0 ? argc : argc - sep, sep < 0 ? argv : argv + sep, &a) != 0)
		return EXIT_FAILURE;

	srvd_config_defaults(&cfg);
	if (srvd_config_load(a.cfg_path, &cfg) != 0)
		return EXIT_FAILURE;
	if (a.socket != NULL) {
		if (strlen(a.socket) >= sizeof(cfg.socket)) {
			fprintf(stderr, "vmbus-srvd: --socket: path too long\n");
			return EXIT_FAILURE;
		}
		snprintf(cfg.socket, sizeof(cfg.socket), "%s", a.socket);
	}
	if (a.uplink != NULL) {
		if (strlen(a.uplink) >= sizeof(cfg.uplink)) {
			fprintf(stderr, "vmbus-srvd: --uplink: devargs too long\n");
			return EXIT_FAILURE;
		}
		snprintf(cfg.uplink, sizeof(cfg.uplink), "%s", a.uplink);
	}
	if (a.duration >= 0)
		cfg.duration_s = (uint32_t)a.duration;
	if (a.period >= 0)
		cfg.stats_period_s = (uint32_t)a.period;

	/* EAL options from the command line, else from [eal]. */
	ret = sep > 1 ? rte_eal_init(sep, argv) : eal_init_from_config(argv[0], &cfg);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "vmbus-srvd: EAL initialisation failed\n");

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_link_signal);
	signal(SIGUSR2, on_link_signal);

	s->cfg = &cfg;
	s->hz = rte_get_timer_hz();
	printf("vmbus-srvd %s: configuration %s, attach socket %s, %u NIC(s)%s%s\n",
	       VMBS_RELEASE, cfg.path, cfg.socket, cfg.nb_nics,
	       cfg.uplink[0] ? ", uplink " : "", cfg.uplink);
	memset(&mp, 0, sizeof(mp));
	mp.entries = cfg.mac_table_size;
	mp.aging = (uint64_t)cfg.mac_aging_s * s->hz;
	/* Refresh a busy source's timestamp at most every 1/16 of aging. */
	mp.refresh = cfg.mac_aging_s != 0 ? mp.aging / 16 : s->hz;
	s->macs = srvd_mac_table_create(&mp);
	if (s->macs == NULL) {
		fprintf(stderr, "vmbus-srvd: cannot create the MAC table\n");
		exit_code = EXIT_FAILURE;
		goto out;
	}
	srv = attach_start(&cfg);
	if (srv == NULL) {
		exit_code = EXIT_FAILURE;
		goto out;
	}
	s->srv = srv;
	for (i = 0; i < cfg.nb_nics; i++, s->nb_ports++)
		if (guest_port_create(&cfg, i, &s->ports[i]) != 0) {
			exit_code = EXIT_FAILURE;
			goto out;
		}
	if (cfg.uplink[0] != '\0') {
		if (uplink_port_create(&cfg, &s->ports[s->nb_ports]) != 0) {
			exit_code = EXIT_FAILURE;
			goto out;
		}
		s->nb_ports++;
	}
	if (plan_lcores(s) != 0) {
		exit_code = EXIT_FAILURE;
		goto out;
	}
	if (!s->main_polls) {
		size_t sz = rte_rcu_qsbr_get_memsize(s->nb_pollers);

		s->qsbr = rte_zmalloc("srvd_qsbr", sz, RTE_CACHE_LINE_SIZE);
		if (s->qsbr == NULL || rte_rcu_qsbr_init(s->qsbr, s->nb_pollers) != 0) {
			fprintf(stderr, "vmbus-srvd: cannot create the pollers' QSBR variable\n");
			exit_code = EXIT_FAILURE;
			goto out;
		}
	}
	/* The uplink gets a Tx queue per poller (when it has them). */
	if (cfg.uplink[0] != '\0')
		s->ports[s->nb_ports - 1].nb_txq = (uint16_t)RTE_MIN(s->nb_pollers,
								    SRVD_MAX_PORT_QUEUES);
	s->pool = rte_pktmbuf_pool_create("srvd_pool", pool_size(s), SRVD_MBUF_CACHE, 0,
					  (uint16_t)(RTE_PKTMBUF_HEADROOM + cfg.mbuf_size),
					  (int)rte_socket_id());
	if (s->pool == NULL) {
		fprintf(stderr, "vmbus-srvd: cannot create mbuf pool (hugepages reserved?)\n");
		exit_code = EXIT_FAILURE;
		goto out;
	}
	for (p = 0; p < s->nb_ports; p++)
		if (port_start(s, p) != 0) {
			exit_code = EXIT_FAILURE;
			goto out;
		}
	plan_tx_queues(s);
	print_lcores(s);
	if (rte_service_lcore_count() == 0)
		printf("vmbus-srvd: slow path from Rx bursts (no service lcore)\n");
	if (cfg.duration_s != 0)
		printf("vmbus-srvd: serving for %u s\n", cfg.duration_s);
	else
		printf("vmbus-srvd: serving until SIGINT/SIGTERM\n");
	fflush(stdout);

	secs = serve(s);
	srvd_stats_summary(s, secs);
	{
		struct vmbs_srv_stats ss;

		vmbs_srv_stats_get(srv, &ss);
		printf("vmbus-srvd: attach %s: %" PRIu64 " connections, %u VMs attached, %" PRIu64
		       " refused (credentials %" PRIu64 ", hello %" PRIu64 "), %" PRIu64
		       " protocol errors\n", vmbs_srv_socket_path(srv), ss.accepted,
		       ss.vms_attached, ss.refused_creds + ss.refused_hello,
		       ss.refused_creds, ss.refused_hello, ss.protocol_errors);
	}
out:
	/*
	 * Pollers are done and every mbuf they took is freed. Closing a guest
	 * port withdraws its NIC from the VM; the last server reference then
	 * says GOODBYE to every guest and waits for their memory to be let go.
	 */
	ports_release(s);
	if (srv != NULL && vmbs_srv_release(srv, SRVD_RELEASE_TIMEOUT_MS) != 0) {
		fprintf(stderr, "vmbus-srvd: guests still held memory at exit\n");
		exit_code = EXIT_FAILURE;
	}
	left = 0;
	if (s->pool != NULL) {
		left = pool_drain(s->pool);
		printf("vmbus-srvd: %u mbuf(s) still in use at exit\n", left);
	}
	unmap_slow_path();
	/* A pool with mbufs still out stays: freeing it would pull memory from under them. */
	if (left == 0)
		rte_mempool_free(s->pool);
	else
		exit_code = EXIT_FAILURE;
	for (i = 0; i < s->nb_pollers; i++)
		rte_free(s->pollers[i]);
	rte_free(s->qsbr);
	srvd_mac_table_free(s->macs);
	rte_eal_cleanup();
	if (exit_code == EXIT_SUCCESS)
		printf("vmbus-srvd: exited cleanly\n");
	return exit_code;
}
