#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Make sure at least NEED_MB of free 2 MiB hugepages exist and hugetlbfs is
# mounted. Reserves only the shortfall (never more than asked), with
# hugeadm (libhugetlbfs-bin) where it works and sysfs otherwise, and says
# what it did. Idempotent. Usage: hugepages.sh [NEED_MB]   (default 512)
set -eu

need_mb=${1:-512}
need=$(( (need_mb + 1) / 2 ))
sysfs=/sys/kernel/mm/hugepages/hugepages-2048kB

if [ ! -d "$sysfs" ]; then
	echo "hugepages: this kernel has no 2 MiB hugepages ($sysfs missing)" >&2
	exit 1
fi

free_pages() { cat "$sysfs/free_hugepages"; }
total_pages() { cat "$sysfs/nr_hugepages"; }

have=$(free_pages)
if [ "$have" -ge "$need" ]; then
	echo "hugepages: $have free 2 MiB pages, $need needed: nothing to reserve"
else
	if [ "$(id -u)" != 0 ]; then
		echo "hugepages: only $have free 2 MiB pages, $need needed: run as root to reserve" >&2
		exit 1
	fi
	target=$(( $(total_pages) + need - have ))
	how=sysfs
	if command -v hugeadm >/dev/null 2>&1 &&
	   hugeadm --pool-pages-min "2MB:$target" >/dev/null 2>&1 &&
	   [ "$(free_pages)" -ge "$need" ]; then
		how=hugeadm
	else
		echo "$target" > "$sysfs/nr_hugepages"
	fi
	have=$(free_pages)
	echo "hugepages: pool raised to $(total_pages) pages with $how; $have free ($need needed)"
	if [ "$have" -lt "$need" ]; then
		echo "hugepages: the kernel could not provide $need free pages (memory fragmented?)" >&2
		exit 1
	fi
fi

if ! grep -qs ' hugetlbfs ' /proc/mounts; then
	if [ "$(id -u)" != 0 ]; then
		echo "hugepages: no hugetlbfs mount; run as root to mount one" >&2
		exit 1
	fi
	mkdir -p /dev/hugepages
	mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
	echo "hugepages: mounted hugetlbfs on /dev/hugepages"
else
	echo "hugepages: hugetlbfs mounted on $(grep ' hugetlbfs ' /proc/mounts | awk '{print $2}' | head -n1)"
fi
