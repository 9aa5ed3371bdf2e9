/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#ifndef VMBS_NVSP_H
#define VMBS_NVSP_H

#endif
