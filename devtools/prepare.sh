#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Everything a build and a run need on this machine, each step idempotent:
# Debian packages, DPDK's driver-SDK headers, and NEED_MB of free 2 MiB
# hugepages. Usage: prepare.sh [NEED_MB]   (default 512)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/devtools/install-deps.sh"
"$top/devtools/fetch-dpdk-sdk.sh"
"$top/devtools/hugepages.sh" "${1:-512}"
