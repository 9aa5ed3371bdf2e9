/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Burst functions. PMD Rx = guest-to-host, PMD Tx = host-to-guest.
 *
 * Until a guest can attach (the control plane of a later step), no channel
 * is open: Rx finds nothing, and Tx refuses every frame so that the
 * application keeps ownership and can count its own drops (a backend must
 * never drop silently).
 */

#include <rte_common.h>
#include <rte_mbuf.h>

#include "vmbs_pmd.h"

uint16_t
vmbs_eth_rx_burst(void *rxq __rte_unused, struct rte_mbuf **pkts __rte_unused,
		  uint16_t n __rte_unused)
{
	return 0;
}

uint16_t
vmbs_eth_tx_burst(void *txq __rte_unused, struct rte_mbuf **pkts __rte_unused,
		  uint16_t n __rte_unused)
{
	return 0;
}
