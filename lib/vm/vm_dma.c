/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Guest memory registered for device DMA. Each region's read-write view is
 * registered as DPDK external memory (rte_extmem_register), so the EAL
 * knows it, and mapped for DMA on every device whose bus can do it
 * (rte_dev_dma_map: PCI devices under VFIO), so a NIC can transmit a
 * zero-copy frame straight from guest pages. The read-only view that
 * mbufs point at shares those pages: their buf_iova is the read-write
 * view's IOVA.
 *
 * Only with IOVA as VA: with physical IOVAs the pages would need pinning
 * and a per-page IOVA table, and a memfd-backed region may be swapped.
 * Control thread only (lib/vm's).
 */

#include <errno.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memory.h>

#include "vm_dma.h"

/* The EAL keeps one memseg per page: bound what a 4 KiB-page region costs. */
#define VM_DMA_MAX_PAGES (1u << 18)

static bool
vm_dma_possible(const struct vmbs_gm_region_info *ri)
{
	return rte_eal_iova_mode() == RTE_IOVA_VA && ri->page_size != 0 &&
	       ri->size / ri->page_size <= VM_DMA_MAX_PAGES &&
	       ri->iova == (uint64_t)(uintptr_t)ri->va;
}

int
vm_dma_register(const struct vmbs_gm_region_info *ri, uint32_t *devs)
{
	struct rte_dev_iterator it;
	struct rte_device *dev;

	*devs = 0;
	if (!vm_dma_possible(ri))
		return -ENOTSUP;
	if (rte_extmem_register(ri->va, ri->size, NULL, 0, ri->page_size) != 0)
		return -rte_errno;
	RTE_DEV_FOREACH(dev, "bus=pci", &it) {
		/* -ENOTSUP: a bus without DMA mapping (vdev): nothing to do. */
		if (rte_dev_dma_map(dev, ri->va, ri->iova, ri->size) == 0)
			(*devs)++;
	}
	return 0;
}

void
vm_dma_unregister(const struct vmbs_gm_region_info *ri)
{
	struct rte_dev_iterator it;
	struct rte_device *dev;

	if (!vm_dma_possible(ri))
		return;
	RTE_DEV_FOREACH(dev, "bus=pci", &it)
		rte_dev_dma_unmap(dev, ri->va, ri->iova, ri->size);
	rte_extmem_unregister(ri->va, ri->size);
}
