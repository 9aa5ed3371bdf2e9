/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#ifndef VMBS_RNDIS_H
#define VMBS_RNDIS_H

#endif
