/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#ifndef VMBS_LOGS_H
#define VMBS_LOGS_H

#include <rte_log.h>

extern int vmbs_eth_logtype_init;
extern int vmbs_eth_logtype_driver;

#define VMBS_INIT_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, vmbs_eth_logtype_init, \
		"%s(): " fmt "\n", __func__, ##__VA_ARGS__)

#define VMBS_DRV_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, vmbs_eth_logtype_driver, \
		"%s(): " fmt "\n", __func__, ##__VA_ARGS__)

#endif /* VMBS_LOGS_H */
