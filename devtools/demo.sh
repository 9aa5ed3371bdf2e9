#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# The main job on its built-in default: install, build, reserve hugepages,
# and run vmbus-srvd with config/vmbus-srvd.conf for DURATION seconds
# (default 5), then exit cleanly. Extra arguments go to vmbus-srvd.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./devtools/prepare.sh 256
[ -f build/build.ninja ] || meson setup build
meson compile -C build

exec ./build/app/vmbus-srvd/vmbus-srvd -- --duration "${DURATION:-5}" "$@"
