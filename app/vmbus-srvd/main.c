/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * vmbus-srvd: host-side VMBus packet server. Creates one net_vmbus_srv port
 * per configured synthetic NIC, polls them, prints a live rate line and a
 * summary, and exits cleanly on SIGINT/SIGTERM or after --duration.
 *
 * Usage: vmbus-srvd [EAL options] -- [-c FILE] [-d SECONDS] [-s SOCKET] [-p SECONDS]
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_uuid.h>

#include "vmbs_config.h"
#include "vmbs_server.h"
#include "vmbus_srvd.h"

#define SRVD_POOL_MBUFS 8191u
#define SRVD_RING_SIZE 1024u
/* Wait at exit for guests' memory to be unreferenced. */
#define SRVD_RELEASE_TIMEOUT_MS 2000u

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig __rte_unused)
{
	stop_requested = 1;
}

struct srvd_port {
	uint16_t port_id;
	uint16_t queues;
	char name[RTE_ETH_NAME_MAX_LEN];
	uint64_t rx_pkts, rx_bytes;	/* totals counted by the poll loop */
};

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n"
	       "  -c, --config FILE        configuration (default %s)\n"
	       "  -d, --duration SECONDS   run this long, then exit (0 = until a signal)\n"
	       "  -s, --socket PATH        attach socket (overrides [server] socket)\n"
	       "  -p, --stats-period SECS  rate line period (0 = none)\n"
	       "  -h, --help               this text\n",
	       prog, VMBS_DEFAULT_CONFIG);
}

/* Split "--"-separated argv: [0, *eal_end) EAL, the rest app options. */
static int
find_separator(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return -1;
}

static int
parse_app_args(int argc, char **argv, struct srvd_config *cfg, const char **cfg_path,
	       const char **socket, int64_t *duration, int64_t *period)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "stats-period", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	int c;

	(void)cfg;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:d:s:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*cfg_path = optarg;
			break;
		case 'd':
			if (srvd_parse_u32("--duration", optarg, 86400 * 365, &v) != 0)
				return -1;
			*duration = v;
			break;
		case 's':
			*socket = optarg;
			break;
		case 'p':
			if (srvd_parse_u32("--stats-period", optarg, 3600, &v) != 0)
				return -1;
			*period = v;
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

static int
port_setup(const struct srvd_config *cfg, unsigned int i, struct rte_mempool *pool,
	   struct srvd_port *p)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	char devargs[1024];
	char name[32];
	uint16_t q;
	int ret;

	snprintf(name, sizeof(name), "net_vmbus_srv%u", i);
	snprintf(devargs, sizeof(devargs), "socket=%s%s%s", cfg->socket,
		 cfg->nics[i].devargs[0] ? "," : "", cfg->nics[i].devargs);
	ret = rte_vdev_init(name, devargs);
	if (ret != 0) {
		fprintf(stderr, "vmbus-srvd: [%s]: cannot create port: %s\n",
			cfg->nics[i].section, strerror(-ret));
		return -1;
	}
	if (rte_eth_dev_get_port_by_name(name, &p->port_id) != 0)
		return -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->queues = cfg->nics[i].queues;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(p->port_id, p->queues, p->queues, &conf);
	for (q = 0; ret == 0 && q < p->queues; q++) {
		ret = rte_eth_rx_queue_setup(p->port_id, q, SRVD_RING_SIZE,
					     (unsigned int)rte_socket_id(), NULL, pool);
		if (ret == 0)
			ret = rte_eth_tx_queue_setup(p->port_id, q, SRVD_RING_SIZE,
						     (unsigned int)rte_socket_id(), NULL);
	}
	if (ret == 0)
		ret = rte_eth_dev_start(p->port_id);
	if (ret != 0) {
		fprintf(stderr, "vmbus-srvd: %s: setup failed: %s\n", name, strerror(-ret));
		return -1;
	}
	rte_eth_macaddr_get(p->port_id, &mac);
	rte_eth_dev_info_get(p->port_id, &info);
	printf("vmbus-srvd: port %u %s [%s]: mac " RTE_ETHER_ADDR_PRT_FMT
	       ", %u queue(s), mtu %u, driver %s\n",
	       p->port_id, name, cfg->nics[i].section, RTE_ETHER_ADDR_BYTES(&mac),
	       p->queues, info.max_mtu, info.driver_name);
	return 0;
}

static void
print_rates(const struct srvd_port *ports, unsigned int n, const uint64_t *prev_pkts,
	    const uint64_t *prev_bytes, double secs)
{
	unsigned int i;

	printf("vmbus-srvd: rate");
	for (i = 0; i < n; i++) {
		struct rte_eth_stats st;
		double pps_rx, pps_tx, bps_rx, bps_tx;

		rte_eth_stats_get(ports[i].port_id, &st);
		pps_rx = (double)(st.ipackets - prev_pkts[2 * i]) / secs;
		pps_tx = (double)(st.opackets - prev_pkts[2 * i + 1]) / secs;
		bps_rx = (double)(st.ibytes - prev_bytes[2 * i]) * 8 / secs;
		bps_tx = (double)(st.obytes - prev_bytes[2 * i + 1]) * 8 / secs;
		printf("%s port %u g2h %.3f Mpps %.3f Gbit/s h2g %.3f Mpps %.3f Gbit/s",
		       i ? " |" : ":", ports[i].port_id, pps_rx / 1e6, bps_rx / 1e9, pps_tx / 1e6, bps_tx / 1e9);
	}
	printf("\n");
	fflush(stdout);
}

static void
poll_loop(struct srvd_port *ports, unsigned int n, uint32_t duration_s, uint32_t period_s)
{
	uint64_t prev_pkts[2 * SRVD_MAX_NICS] = { 0 }, prev_bytes[2 * SRVD_MAX_NICS] = { 0 };
	uint64_t hz = rte_get_timer_hz(), start = rte_get_timer_cycles();
	uint64_t next_stats = start + period_s * hz, now;
	struct rte_mbuf *burst[VMBS_MAX_BURST];
	unsigned int i;
	uint16_t q, nb, k;

	while (!stop_requested) {
		for (i = 0; i < n; i++) {
			for (q = 0; q < ports[i].queues; q++) {
				nb = rte_eth_rx_burst(ports[i].port_id, q, burst, VMBS_MAX_BURST);
				for (k = 0; k < nb; k++)
					ports[i].rx_bytes += rte_pktmbuf_pkt_len(burst[k]);
				ports[i].rx_pkts += nb;
				/* Forwarding between ports arrives with the bridge. */
				rte_pktmbuf_free_bulk(burst, nb);
			}
		}
		now = rte_get_timer_cycles();
		if (period_s != 0 && now >= next_stats) {
			print_rates(ports, n, prev_pkts, prev_bytes,
				    (double)(now - next_stats + period_s * hz) / (double)hz);
			for (i = 0; i < n; i++) {
				struct rte_eth_stats st;

				rte_eth_stats_get(ports[i].port_id, &st);
				prev_pkts[2 * i] = st.ipackets;
				prev_pkts[2 * i + 1] = st.opackets;
				prev_bytes[2 * i] = st.ibytes;
				prev_bytes[2 * i + 1] = st.obytes;
			}
			next_stats = now + period_s * hz;
		}
		if (duration_s != 0 && now - start >= duration_s * hz)
			break;
	}
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
	static struct srvd_port ports[SRVD_MAX_NICS];
	const char *cfg_path = VMBS_DEFAULT_CONFIG, *socket = NULL;
	int64_t duration = -1, period = -1;
	char *eal_argv[SRVD_MAX_EAL_ARGS + 2];
	char eal_buf[sizeof(cfg.eal_args)];
	int sep, eal_argc, ret, exit_code = EXIT_SUCCESS;
	unsigned int i, started = 0;
	struct rte_mempool *pool = NULL;
	struct vmbs_srv *srv = NULL;
	char *tok, *save;

	sep = find_separator(argc, argv);
	if (parse_app_args(sep < 0 ? 1 : argc - sep, sep < 0 ? argv : argv + sep,
			   &cfg, &cfg_path, &socket, &duration, &period) != 0)
		return EXIT_FAILURE;

	snprintf(cfg.socket, sizeof(cfg.socket), "/run/vmbus-srv/attach.sock");
	cfg.stats_period_s = 1;
	if (srvd_config_load(cfg_path, &cfg) != 0)
		return EXIT_FAILURE;
	if (socket != NULL) {
		if (strlen(socket) >= sizeof(cfg.socket)) {
			fprintf(stderr, "vmbus-srvd: --socket: path too long\n");
			return EXIT_FAILURE;
		}
		snprintf(cfg.socket, sizeof(cfg.socket), "%s", socket);
	}
	if (duration >= 0)
		cfg.duration_s = (uint32_t)duration;
	if (period >= 0)
		cfg.stats_period_s = (uint32_t)period;

	/* EAL options from the command line, else from [eal] args. */
	if (sep > 1) {
		ret = rte_eal_init(sep, argv);
	} else {
		eal_argc = 0;
		eal_argv[eal_argc++] = argv[0];
		snprintf(eal_buf, sizeof(eal_buf), "%s", cfg.eal_args);
		for (tok = strtok_r(eal_buf, " \t", &save); tok != NULL;
		     tok = strtok_r(NULL, " \t", &save)) {
			if (eal_argc == SRVD_MAX_EAL_ARGS) {
				fprintf(stderr, "vmbus-srvd: [eal] args: too many words\n");
				return EXIT_FAILURE;
			}
			eal_argv[eal_argc++] = tok;
		}
		eal_argv[eal_argc] = NULL;
		ret = rte_eal_init(eal_argc, eal_argv);
	}
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "vmbus-srvd: EAL initialisation failed\n");

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	printf("vmbus-srvd %s: configuration %s, attach socket %s, %u NIC(s)\n",
	       VMBS_RELEASE, cfg.path, cfg.socket, cfg.nb_nics);
	srv = attach_start(&cfg);
	if (srv == NULL) {
		exit_code = EXIT_FAILURE;
		goto out;
	}
	pool = rte_pktmbuf_pool_create("srvd_pool", SRVD_POOL_MBUFS, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (pool == NULL) {
		fprintf(stderr, "vmbus-srvd: cannot create mbuf pool (hugepages reserved?)\n");
		exit_code = EXIT_FAILURE;
		goto out;
	}
	for (i = 0; i < cfg.nb_nics; i++, started++) {
		if (port_setup(&cfg, i, pool, &ports[i]) != 0) {
			exit_code = EXIT_FAILURE;
			goto out;
		}
	}

	if (cfg.duration_s != 0)
		printf("vmbus-srvd: serving for %u s\n", cfg.duration_s);
	else
		printf("vmbus-srvd: serving until SIGINT/SIGTERM\n");
	fflush(stdout);
	poll_loop(ports, started, cfg.duration_s, cfg.stats_period_s);

	printf("vmbus-srvd: summary\n");
	for (i = 0; i < started; i++) {
		struct rte_eth_stats st;

		rte_eth_stats_get(ports[i].port_id, &st);
		printf("  port %u %s: g2h %" PRIu64 " frames %" PRIu64 " bytes, h2g %" PRIu64
		       " frames %" PRIu64 " bytes, errors %" PRIu64 "\n",
		       ports[i].port_id, ports[i].name, st.ipackets, st.ibytes,
		       st.opackets, st.obytes, st.ierrors + st.oerrors);
	}
	{
		struct vmbs_srv_stats ss;

		vmbs_srv_stats_get(srv, &ss);
		printf("  attach %s: %" PRIu64 " connections, %u VMs attached, %" PRIu64
		       " refused (credentials %" PRIu64 ", hello %" PRIu64 "), %" PRIu64
		       " protocol errors\n", vmbs_srv_socket_path(srv), ss.accepted,
		       ss.vms_attached, ss.refused_creds + ss.refused_hello,
		       ss.refused_creds, ss.refused_hello, ss.protocol_errors);
	}
out:
	/* Every guest is released (GOODBYE, ordered release) before the
	 * ports and the EAL go away.
	 */
	if (srv != NULL && vmbs_srv_release(srv, SRVD_RELEASE_TIMEOUT_MS) != 0)
		fprintf(stderr, "vmbus-srvd: guests still held memory at exit\n");
	for (i = 0; i < started; i++) {
		rte_eth_dev_stop(ports[i].port_id);
		rte_eth_dev_close(ports[i].port_id);
		rte_vdev_uninit(ports[i].name);
	}
	rte_mempool_free(pool);
	rte_eal_cleanup();
	printf("vmbus-srvd: exited cleanly\n");
	return exit_code;
}
