/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Receive-side scaling towards the guest: the host, like Hyper-V's
 * switch, picks the guest queue for each host-to-guest frame with the
 * guest's own Toeplitz key, hash types and indirection table (set with
 * OID_GEN_RECEIVE_SCALE_PARAMETERS), and hands it the hash it used.
 * DPDK's software Toeplitz (rte_thash.h) does the hashing.
 */

#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_thash.h>

#include "netvsp_pvt.h"

/* TCP and UDP both start with the two ports. */
struct nv_l4_ports {
	rte_be16_t src;
	rte_be16_t dst;
};

uint16_t
vmbs_nv_rss_pick(const struct vmbs_nv *nic, const void *frame, uint32_t len,
		 uint32_t *hash, uint32_t *hash_info)
{
	union rte_thash_tuple t;
	const uint8_t *p = frame;
	uint32_t types, off = RTE_ETHER_HDR_LEN, words, type = 0, h;
	uint16_t ethertype, nq = RTE_MAX(nic->n_alloc, 1);
	struct nv_l4_ports ports;
	uint8_t proto;

	*hash = 0;
	*hash_info = 0;
	if (nq <= 1 || !nic->rss_enabled || nic->rss_table_cnt == 0 || len < off)
		return 0;
	types = nic->rss_hash_info & VMBS_NDIS_HASH_TYPE_MASK;
	memcpy(&ethertype, p + 12, 2);
	if (ethertype == RTE_BE16(RTE_ETHER_TYPE_VLAN) && len >= off + 4) {
		memcpy(&ethertype, p + 16, 2);
		off += 4;
	}
	memset(&t, 0, sizeof(t));
	if (ethertype == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
	    (types & (VMBS_NDIS_HASH_IPV4 | VMBS_NDIS_HASH_TCP_IPV4)) &&
	    len >= off + sizeof(struct rte_ipv4_hdr)) {
		struct rte_ipv4_hdr ip;
		uint32_t ihl;

		memcpy(&ip, p + off, sizeof(ip));
		ihl = (uint32_t)(ip.version_ihl & 0xf) * 4;
		if ((ip.version_ihl >> 4) != 4 || ihl < sizeof(ip))
			return 0;
		t.v4.src_addr = rte_be_to_cpu_32(ip.src_addr);
		t.v4.dst_addr = rte_be_to_cpu_32(ip.dst_addr);
		words = RTE_THASH_V4_L3_LEN;
		type = VMBS_NDIS_HASH_IPV4;
		proto = ip.next_proto_id;
		/* Ports only of first fragments (none of any fragment). */
		if (proto == IPPROTO_TCP && (types & VMBS_NDIS_HASH_TCP_IPV4) &&
		    (rte_be_to_cpu_16(ip.fragment_offset) &
		     (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) == 0 &&
		    len >= off + ihl + sizeof(ports)) {
			memcpy(&ports, p + off + ihl, sizeof(ports));
			t.v4.sport = rte_be_to_cpu_16(ports.src);
			t.v4.dport = rte_be_to_cpu_16(ports.dst);
			words = RTE_THASH_V4_L4_LEN;
			type = VMBS_NDIS_HASH_TCP_IPV4;
		} else if (!(types & VMBS_NDIS_HASH_IPV4)) {
			return 0;
		}
	} else if (ethertype == RTE_BE16(RTE_ETHER_TYPE_IPV6) &&
		   (types & (VMBS_NDIS_HASH_IPV6 | VMBS_NDIS_HASH_TCP_IPV6)) &&
		   len >= off + sizeof(struct rte_ipv6_hdr)) {
		struct rte_ipv6_hdr ip6;

		memcpy(&ip6, p + off, sizeof(ip6));
		rte_thash_load_v6_addrs(&ip6, &t);
		words = RTE_THASH_V6_L3_LEN;
		type = VMBS_NDIS_HASH_IPV6;
		/* Extension headers are not walked: those frames hash on L3. */
		if (ip6.proto == IPPROTO_TCP && (types & VMBS_NDIS_HASH_TCP_IPV6) &&
		    len >= off + sizeof(ip6) + sizeof(ports)) {
			memcpy(&ports, p + off + sizeof(ip6), sizeof(ports));
			t.v6.sport = rte_be_to_cpu_16(ports.src);
			t.v6.dport = rte_be_to_cpu_16(ports.dst);
			words = RTE_THASH_V6_L4_LEN;
			type = VMBS_NDIS_HASH_TCP_IPV6;
		} else if (!(types & VMBS_NDIS_HASH_IPV6)) {
			return 0;
		}
	} else {
		return 0;	/* not hashed: the default queue */
	}
	h = rte_softrss((uint32_t *)&t, words, nic->rss_key);
	*hash = h;
	*hash_info = VMBS_NDIS_HASH_FUNCTION_TOEPLITZ | type;
	return (uint16_t)(nic->rss_table[h % nic->rss_table_cnt] % nq);
}
