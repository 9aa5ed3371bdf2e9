/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * net_vmbus_srv probe, devargs and remove, through public ethdev and vdev
 * calls only. The PMD is linked statically (link_whole).
 */

#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "vmbs_test.h"

/* Ports now serve an attach socket: a private one, not the system default. */
#define SOCK "/tmp/vmbs_test_pmd_probe.sock"

static struct rte_mempool *pool;

static int
suite_init(void)
{
	if (vmbs_test_eal_init("test_pmd_probe") != 0)
		return -1;
	pool = rte_pktmbuf_pool_create("probe_pool", 1024, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	return pool == NULL ? -1 : 0;
}

static int
suite_cleanup(void)
{
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

static uint16_t
port_of(const char *name)
{
	uint16_t port = UINT16_MAX;

	if (rte_eth_dev_get_port_by_name(name, &port) != 0)
		return UINT16_MAX;
	return port;
}

static size_t
heap_in_use(void)
{
	struct rte_malloc_socket_stats st;

	memset(&st, 0, sizeof(st));
	rte_malloc_get_socket_stats(0, &st);
	return st.heap_allocsz_bytes;
}

static void
probe_applies_devargs(void)
{
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	const struct rte_ether_addr want = {
		.addr_bytes = { 0x00, 0x15, 0x5d, 0x0a, 0x0b, 0x0c }
	};
	uint16_t port;

	CU_ASSERT_FATAL(rte_vdev_init("net_vmbus_srv0",
		"mac=00:15:5d:0a:0b:0c,queues=4,mtu=9000,copybreak=128,"
		"ordering=relaxed,socket=" SOCK ","
		"instance=6a3cd1b0-8a4e-4c1e-9f0b-2d6b7c4f0a11") == 0);
	port = port_of("net_vmbus_srv0");
	CU_ASSERT_FATAL(port != UINT16_MAX);

	CU_ASSERT(rte_eth_dev_info_get(port, &info) == 0);
	CU_ASSERT_STRING_EQUAL(info.driver_name, "net_vmbus_srv");
	CU_ASSERT(info.max_rx_queues == 4);
	CU_ASSERT(info.max_tx_queues == 4);
	CU_ASSERT(info.max_mtu == 9000);
	CU_ASSERT(rte_eth_macaddr_get(port, &mac) == 0);
	CU_ASSERT(rte_is_same_ether_addr(&mac, &want));

	CU_ASSERT(rte_vdev_uninit("net_vmbus_srv0") == 0);
	CU_ASSERT(port_of("net_vmbus_srv0") == UINT16_MAX);

	/* A valid VM name (it once failed: the validator read past the
	 * devargs string, expecting a NUL-padded 64-byte buffer).
	 */
	CU_ASSERT_FATAL(rte_vdev_init("net_vmbus_srv0", "vm=pdvm1,socket=" SOCK) == 0);
	CU_ASSERT(rte_vdev_uninit("net_vmbus_srv0") == 0);
}

static void
default_mac_is_local_and_per_port(void)
{
	struct rte_ether_addr a, b;

	CU_ASSERT_FATAL(rte_vdev_init("net_vmbus_srv1", "socket=" SOCK) == 0);
	CU_ASSERT_FATAL(rte_vdev_init("net_vmbus_srv2", "socket=" SOCK) == 0);
	CU_ASSERT(rte_eth_macaddr_get(port_of("net_vmbus_srv1"), &a) == 0);
	CU_ASSERT(rte_eth_macaddr_get(port_of("net_vmbus_srv2"), &b) == 0);
	CU_ASSERT(rte_is_local_admin_ether_addr(&a));
	CU_ASSERT(rte_is_unicast_ether_addr(&a));
	CU_ASSERT(!rte_is_same_ether_addr(&a, &b));
	CU_ASSERT(rte_vdev_uninit("net_vmbus_srv1") == 0);
	CU_ASSERT(rte_vdev_uninit("net_vmbus_srv2") == 0);
}

static void
bad_devargs_fail_probe(void)
{
	static const char *const bad[] = {
		"mac=zz:00:00:00:00:01",
		"mac=01:00:5e:00:00:01",	/* multicast */
		"mac=00:00:00:00:00:00",
		"queues=0",
		"queues=65",
		"queues=abc",
		"queues=-1",
		"queues=",
		"queues=2x",
		"copybreak=65536",
		"ordering=sometimes",
		"mtu=67",
		"mtu=9217",
		"socket=relative/path",
		"instance=not-a-guid",
		"instance=00000000-0000-0000-0000-000000000000",
		"bogus=1",
		"vm=",
		"vm=.hidden",
		"vm=a/b",
		"vm=0123456789012345678901234567890123456789012345678901234567890123",
	};
	uint16_t before = rte_eth_dev_count_avail();
	unsigned int i;

	for (i = 0; i < RTE_DIM(bad); i++) {
		int rc = rte_vdev_init("net_vmbus_srv3", bad[i]);

		CU_ASSERT(rc < 0);
		if (rc == 0) {
			fprintf(stderr, "accepted bad devargs \"%s\"\n", bad[i]);
			rte_vdev_uninit("net_vmbus_srv3");
		}
	}
	CU_ASSERT(rte_eth_dev_count_avail() == before);
}

static void
queues_bounded_by_channels(void)
{
	struct rte_eth_conf conf;
	uint16_t port;

	memset(&conf, 0, sizeof(conf));
	CU_ASSERT_FATAL(rte_vdev_init("net_vmbus_srv4", "queues=2,socket=" SOCK) == 0);
	port = port_of("net_vmbus_srv4");
	CU_ASSERT(rte_eth_dev_configure(port, 3, 3, &conf) != 0);
	CU_ASSERT(rte_eth_dev_configure(port, 2, 2, &conf) == 0);
	CU_ASSERT(rte_vdev_uninit("net_vmbus_srv4") == 0);
}

static void
start_stop_without_guest(void)
{
	struct rte_eth_conf conf;
	struct rte_eth_stats st;
	struct rte_eth_link link;
	struct rte_mbuf *m[4];
	uint16_t port, q;

	memset(&conf, 0, sizeof(conf));
	CU_ASSERT_FATAL(rte_vdev_init("net_vmbus_srv5", "queues=2,socket=" SOCK) == 0);
	port = port_of("net_vmbus_srv5");
	CU_ASSERT_FATAL(rte_eth_dev_configure(port, 2, 2, &conf) == 0);
	for (q = 0; q < 2; q++) {
		CU_ASSERT(rte_eth_rx_queue_setup(port, q, 256, 0, NULL, pool) == 0);
		CU_ASSERT(rte_eth_tx_queue_setup(port, q, 256, 0, NULL) == 0);
	}
	CU_ASSERT_FATAL(rte_eth_dev_start(port) == 0);

	/* No guest attached: link down, nothing received; Tx drops like a
	 * NIC without carrier, and counts it (oerrors, tx_q1_guest_down).
	 */
	CU_ASSERT(rte_eth_link_get_nowait(port, &link) == 0);
	CU_ASSERT(link.link_status == RTE_ETH_LINK_DOWN);
	CU_ASSERT(rte_eth_rx_burst(port, 0, m, 4) == 0);
	CU_ASSERT_FATAL(rte_pktmbuf_alloc_bulk(pool, m, 4) == 0);
	for (q = 0; q < 4; q++) {
		m[q]->data_len = m[q]->pkt_len = 60;
		memset(rte_pktmbuf_mtod(m[q], void *), 0xff, 60);
	}
	CU_ASSERT(rte_eth_tx_burst(port, 1, m, 4) == 4);
	CU_ASSERT(rte_eth_stats_get(port, &st) == 0);
	CU_ASSERT(st.ipackets == 0 && st.opackets == 0);
	CU_ASSERT(st.oerrors == 4);
	{
		uint64_t id, v = 0;

		CU_ASSERT(rte_eth_xstats_get_id_by_name(port, "tx_q1_guest_down", &id) == 0);
		CU_ASSERT(rte_eth_xstats_get_by_id(port, &id, &v, 1) == 1);
		CU_ASSERT(v == 4);
	}
	CU_ASSERT(rte_eth_stats_reset(port) == 0);
	CU_ASSERT(rte_eth_stats_get(port, &st) == 0);
	CU_ASSERT(st.oerrors == 0);

	CU_ASSERT(rte_eth_dev_stop(port) == 0);
	CU_ASSERT(rte_eth_dev_close(port) == 0);
	CU_ASSERT(rte_vdev_uninit("net_vmbus_srv5") == 0);
	CU_ASSERT(rte_mempool_avail_count(pool) == 1024);
}

static void
probe_remove_cycles_do_not_leak(void)
{
	struct rte_eth_conf conf;
	size_t before;
	uint16_t port;
	int i;

	memset(&conf, 0, sizeof(conf));
	before = heap_in_use();
	for (i = 0; i < 50; i++) {
		CU_ASSERT_FATAL(rte_vdev_init("net_vmbus_srv6", "queues=4,socket=" SOCK) == 0);
		port = port_of("net_vmbus_srv6");
		CU_ASSERT(rte_eth_dev_configure(port, 4, 4, &conf) == 0);
		CU_ASSERT(rte_eth_rx_queue_setup(port, 3, 64, 0, NULL, pool) == 0);
		CU_ASSERT(rte_eth_tx_queue_setup(port, 3, 64, 0, NULL) == 0);
		CU_ASSERT_FATAL(rte_vdev_uninit("net_vmbus_srv6") == 0);
	}
	CU_ASSERT(heap_in_use() == before);
}

static const struct vmbs_test_case probe_cases[] = {
	{ "probe_applies_devargs", probe_applies_devargs },
	{ "default_mac_is_local_and_per_port", default_mac_is_local_and_per_port },
	{ "bad_devargs_fail_probe", bad_devargs_fail_probe },
	{ "queues_bounded_by_channels", queues_bounded_by_channels },
	{ "start_stop_without_guest", start_stop_without_guest },
	{ "probe_remove_cycles_do_not_leak", probe_remove_cycles_do_not_leak },
	{ NULL, NULL },
};

static const struct vmbs_test_suite probe_suite = {
	"pmd_probe", suite_init, suite_cleanup, probe_cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &probe_suite, NULL };

	return vmbs_test_run(suites);
}
