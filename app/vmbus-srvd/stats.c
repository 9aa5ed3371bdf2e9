/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The live rate line and the exit summary. Runs on the main lcore only;
 * it reads the pollers' counters with relaxed loads (each has one writer).
 */

#include <inttypes.h>
#include <string.h>
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "srvd_bridge.h"
#include "vmbs_server.h"
#include "vmbus_srvd.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void
srvd_counters_sum(const struct srvd_state *s, uint16_t p, struct srvd_counters *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < s->nb_pollers; i++) {
		const struct srvd_counters *c = &s->pollers[i]->cnt[p];

		out->rx_pkts += LOAD(c->rx_pkts);
		out->rx_bytes += LOAD(c->rx_bytes);
		out->tx_pkts += LOAD(c->tx_pkts);
		out->tx_bytes += LOAD(c->tx_bytes);
		out->flooded += LOAD(c->flooded);
		out->drop_same_port += LOAD(c->drop_same_port);
		out->drop_bad_src += LOAD(c->drop_bad_src);
		out->drop_runt += LOAD(c->drop_runt);
		out->drop_no_port += LOAD(c->drop_no_port);
		out->drop_tx_full += LOAD(c->drop_tx_full);
		out->drop_link_down += LOAD(c->drop_link_down);
		out->drop_vlan += LOAD(c->drop_vlan);
		out->drop_multiseg += LOAD(c->drop_multiseg);
		out->tx_copied += LOAD(c->tx_copied);
		out->drop_offload += LOAD(c->drop_offload);
		out->tx_sw_offload += LOAD(c->tx_sw_offload);
		out->tx_sw_segs += LOAD(c->tx_sw_segs);
		out->rx_vlan += LOAD(c->rx_vlan);
		out->rx_csum += LOAD(c->rx_csum);
		out->rx_tso += LOAD(c->rx_tso);
	}
}

/* "12.3 M" style: three significant figures with an SI prefix. */
static void
si(char *buf, size_t size, double v)
{
	static const char prefix[] = " kMGT";
	unsigned int i = 0;

	while (v >= 1000.0 && i + 1 < sizeof(prefix) - 1) {
		v /= 1000.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, size, "%.0f ", v);
	else
		snprintf(buf, size, "%.3g %c", v, prefix[i]);
}

void
srvd_stats_rate(const struct srvd_state *s, double secs)
{
	static uint64_t prev[SRVD_MAX_PORTS][4];
	uint16_t p;

	printf("vmbus-srvd: rate");
	for (p = 0; p < s->nb_ports; p++) {
		struct srvd_counters c;
		uint64_t now[4];
		char rp[16], rb[16], tp[16], tb[16];
		unsigned int k;

		srvd_counters_sum(s, p, &c);
		now[0] = c.rx_pkts;
		now[1] = c.rx_bytes;
		now[2] = c.tx_pkts;
		now[3] = c.tx_bytes;
		si(rp, sizeof(rp), (double)(now[0] - prev[p][0]) / secs);
		si(rb, sizeof(rb), (double)(now[1] - prev[p][1]) * 8.0 / secs);
		si(tp, sizeof(tp), (double)(now[2] - prev[p][2]) / secs);
		si(tb, sizeof(tb), (double)(now[3] - prev[p][3]) * 8.0 / secs);
		for (k = 0; k < 4; k++)
			prev[p][k] = now[k];
		printf("%s %s rx %spps %sbit/s tx %spps %sbit/s", p ? " |" : ":",
		       s->ports[p].section, rp, rb, tp, tb);
	}
	/* Leaks show here: both return to their idle values when guests go. */
	if (s->srv != NULL) {
		struct vmbs_srv_stats ss;

		vmbs_srv_stats_get(s->srv, &ss);
		printf(" | mbufs %u in use, vms %u (zombie %u)",
		       rte_mempool_in_use_count(s->pool), ss.vms_attached, ss.vms_zombie);
	}
	printf("\n");
	fflush(stdout);
}

/* The PMD's count of guest requests still held by mbufs (-1: no such xstat). */
static int64_t
outstanding_requests(uint16_t port_id)
{
	uint64_t id, v;

	if (rte_eth_xstats_get_id_by_name(port_id, "rx_outstanding_requests", &id) != 0 ||
	    rte_eth_xstats_get_by_id(port_id, &id, &v, 1) != 1)
		return -1;
	return (int64_t)v;
}

/* The driver's per-queue frame counts (as far as ethdev keeps them). */
static void
queue_counts(const struct srvd_port *sp)
{
	struct rte_eth_stats st;
	uint16_t q;

	if (rte_eth_stats_get(sp->port_id, &st) != 0)
		return;
	printf("vmbus-srvd: port %u [%s] queues: rx", sp->port_id, sp->section);
	for (q = 0; q < sp->nb_rxq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; q++)
		printf(" %" PRIu64, st.q_ipackets[q]);
	printf(" tx");
	for (q = 0; q < sp->nb_txq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; q++)
		printf(" %" PRIu64, st.q_opackets[q]);
	printf("\n");
}

void
srvd_stats_summary(const struct srvd_state *s, double secs)
{
	uint16_t p;

	printf("vmbus-srvd: summary after %.1f s\n", secs);
	for (p = 0; p < s->nb_ports; p++) {
		const struct srvd_port *sp = &s->ports[p];
		struct rte_eth_stats st;
		struct srvd_counters c;

		srvd_counters_sum(s, p, &c);
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(sp->port_id, &st);
		printf("vmbus-srvd: port %u [%s] %s: rx %" PRIu64 " rx_bytes %" PRIu64
		       " tx %" PRIu64 " tx_bytes %" PRIu64 " flooded %" PRIu64 "\n",
		       sp->port_id, sp->section, sp->name, c.rx_pkts, c.rx_bytes, c.tx_pkts,
		       c.tx_bytes, c.flooded);
		printf("vmbus-srvd: port %u [%s] dropped: same_port %" PRIu64 " bad_src %" PRIu64
		       " runt %" PRIu64 " no_port %" PRIu64 " tx_full %" PRIu64
		       " link_down %" PRIu64 " vlan %" PRIu64 " offload %" PRIu64
		       " multiseg %" PRIu64 " (copied %" PRIu64 ")\n",
		       sp->port_id, sp->section, c.drop_same_port, c.drop_bad_src, c.drop_runt,
		       c.drop_no_port, c.drop_tx_full, c.drop_link_down, c.drop_vlan,
		       c.drop_offload, c.drop_multiseg, c.tx_copied);
		printf("vmbus-srvd: port %u [%s] pmd: ipackets %" PRIu64 " opackets %" PRIu64
		       " ierrors %" PRIu64 " oerrors %" PRIu64 " imissed %" PRIu64
		       " rx_nombuf %" PRIu64 " outstanding %" PRId64 "\n",
		       sp->port_id, sp->section, st.ipackets, st.opackets, st.ierrors,
		       st.oerrors, st.imissed, st.rx_nombuf, outstanding_requests(sp->port_id));
		printf("vmbus-srvd: port %u [%s] offloads: vlan %" PRIu64 " csum %" PRIu64
		       " tso %" PRIu64 " sw_done %" PRIu64 " sw_frames %" PRIu64 "\n",
		       sp->port_id, sp->section, c.rx_vlan, c.rx_csum, c.rx_tso, c.tx_sw_offload,
		       c.tx_sw_segs);
		queue_counts(sp);
	}
	printf("vmbus-srvd: mac table: %u of %u entries live\n",
	       srvd_mac_table_count(s->macs, rte_get_timer_cycles()),
	       srvd_mac_table_capacity(s->macs));
	fflush(stdout);
}
