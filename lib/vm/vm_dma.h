/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/* Private to lib/vm: guest-memory regions registered for device DMA. */

#ifndef VM_DMA_H
#define VM_DMA_H

#include <stdint.h>

#include "vmbs_guestmem.h"

/**
 * Register a region's read-write view as external memory and map it on
 * every PCI device that supports DMA mapping (*devs counts them).
 *
 * @return
 *   0; -ENOTSUP (physical IOVAs, or too many 4 KiB pages: not
 *   registered); -errno from rte_extmem_register().
 */
int vm_dma_register(const struct vmbs_gm_region_info *ri, uint32_t *devs);

/** Undo vm_dma_register() before the region is unmapped. */
void vm_dma_unregister(const struct vmbs_gm_region_info *ri);

#endif /* VM_DMA_H */
