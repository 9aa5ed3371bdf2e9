/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_kvargs.h>
#include <rte_uuid.h>

#include "vmbs_attach.h"
#include "vmbs_logs.h"
#include "vmbs_pmd.h"

const char *const vmbs_eth_valid_args[] = {
	VMBS_ARG_SOCKET,
	VMBS_ARG_MAC,
	VMBS_ARG_INSTANCE,
	VMBS_ARG_QUEUES,
	VMBS_ARG_COPYBREAK,
	VMBS_ARG_ORDERING,
	VMBS_ARG_MTU,
	VMBS_ARG_VM,
	VMBS_ARG_TX_RSS,
	NULL,
};

struct args_ctx {
	const char *port;
	struct vmbs_eth_args *out;
};

/* Checked decimal parse: no sign, no empty string, no trailing garbage. */
static int
args_parse_uint(const char *key, const char *val, unsigned long min,
		unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (val == NULL || *val == '\0' || *val == '-' || *val == '+')
		goto bad;
	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	VMBS_INIT_LOG(ERR, "%s=%s: expected an integer in [%lu, %lu]",
		      key, val ? val : "", min, max);
	return -EINVAL;
}

static int
args_one(const char *key, const char *val, void *opaque)
{
	struct args_ctx *ctx = opaque;
	struct vmbs_eth_args *a = ctx->out;
	unsigned long v;

	if (val == NULL)
		val = "";
	if (strcmp(key, VMBS_ARG_SOCKET) == 0) {
		if (*val != '/' || strlen(val) >= sizeof(a->socket)) {
			VMBS_INIT_LOG(ERR, "%s: socket=%s: need an absolute path shorter than %zu bytes",
				      ctx->port, val, sizeof(a->socket));
			return -EINVAL;
		}
		strcpy(a->socket, val);
	} else if (strcmp(key, VMBS_ARG_MAC) == 0) {
		if (rte_ether_unformat_addr(val, &a->mac) != 0 ||
		    !rte_is_unicast_ether_addr(&a->mac) ||
		    rte_is_zero_ether_addr(&a->mac)) {
			VMBS_INIT_LOG(ERR, "%s: mac=%s: need a non-zero unicast MAC address",
				      ctx->port, val);
			return -EINVAL;
		}
		a->mac_set = true;
	} else if (strcmp(key, VMBS_ARG_INSTANCE) == 0) {
		if (rte_uuid_parse(val, a->instance) != 0 || rte_uuid_is_null(a->instance)) {
			VMBS_INIT_LOG(ERR, "%s: instance=%s: need a non-null GUID",
				      ctx->port, val);
			return -EINVAL;
		}
		a->instance_set = true;
	} else if (strcmp(key, VMBS_ARG_QUEUES) == 0) {
		if (args_parse_uint(key, val, 1, VMBS_MAX_QUEUES, &v) != 0)
			return -EINVAL;
		a->queues = (uint16_t)v;
	} else if (strcmp(key, VMBS_ARG_COPYBREAK) == 0) {
		if (args_parse_uint(key, val, 0, VMBS_MAX_COPYBREAK, &v) != 0)
			return -EINVAL;
		a->copybreak = (uint32_t)v;
	} else if (strcmp(key, VMBS_ARG_MTU) == 0) {
		if (args_parse_uint(key, val, RTE_ETHER_MIN_MTU, VMBS_MAX_MTU, &v) != 0)
			return -EINVAL;
		a->mtu = (uint16_t)v;
	} else if (strcmp(key, VMBS_ARG_VM) == 0) {
		char vm[VMBS_ATT_VM_NAME_MAX] = { 0 };

		/* The validator reads a whole NUL-padded 64-byte name buffer. */
		if (strlen(val) < sizeof(vm))
			memcpy(vm, val, strlen(val));
		if (strlen(val) >= sizeof(vm) || !vmbs_att_vm_name_valid(vm)) {
			VMBS_INIT_LOG(ERR, "%s: vm=%s: need 1-63 characters, the first a letter or digit",
				      ctx->port, val);
			return -EINVAL;
		}
		snprintf(a->vm, sizeof(a->vm), "%s", val);
	} else if (strcmp(key, VMBS_ARG_TX_RSS) == 0) {
		if (args_parse_uint(key, val, 0, 1, &v) != 0)
			return -EINVAL;
		a->tx_rss = v == 1;
	} else if (strcmp(key, VMBS_ARG_ORDERING) == 0) {
		if (strcmp(val, "strict") == 0) {
			a->ordering = VMBS_ORDER_STRICT;
		} else if (strcmp(val, "relaxed") == 0) {
			a->ordering = VMBS_ORDER_RELAXED;
		} else {
			VMBS_INIT_LOG(ERR, "%s: ordering=%s: expected strict or relaxed",
				      ctx->port, val);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Locally administered default MAC 02:15:5d:xx:xx:xx (Hyper-V's OUI with the
 * local bit set), unique per port name within the process.
 */
static void
args_default_mac(const char *name, struct rte_ether_addr *mac)
{
	uint32_t h = 2166136261u;	/* FNV-1a over the port name */
	const char *p;

	for (p = name; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac->addr_bytes[0] = 0x02;
	mac->addr_bytes[1] = 0x15;
	mac->addr_bytes[2] = 0x5d;
	mac->addr_bytes[3] = (uint8_t)(h >> 16);
	mac->addr_bytes[4] = (uint8_t)(h >> 8);
	mac->addr_bytes[5] = (uint8_t)h;
}

/* A stable instance GUID derived from the MAC (version 4 layout bits set). */
static void
args_default_instance(const struct rte_ether_addr *mac, rte_uuid_t out)
{
	static const uint8_t base[16] = {
		0x76, 0x6d, 0x62, 0x73, 0x2d, 0x6e, 0x69, 0x63,
		0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	memcpy(out, base, sizeof(base));
	memcpy(&out[10], mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

int
vmbs_eth_args_parse(const char *name, const char *args, struct vmbs_eth_args *out)
{
	struct args_ctx ctx = { .port = name, .out = out };
	struct rte_kvargs *kv;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	strcpy(out->socket, VMBS_DEFAULT_SOCKET);
	out->queues = 1;
	out->mtu = VMBS_DEFAULT_MTU;
	out->copybreak = VMBS_DEFAULT_COPYBREAK;
	out->ordering = VMBS_ORDER_STRICT;

	if (args != NULL && *args != '\0') {
		kv = rte_kvargs_parse(args, (const char **)(uintptr_t)vmbs_eth_valid_args);
		if (kv == NULL) {
			VMBS_INIT_LOG(ERR, "%s: cannot parse devargs \"%s\" (keys: socket, vm, mac, instance, queues, copybreak, ordering, mtu, tx_rss)",
				      name, args);
			return -EINVAL;
		}
		if (rte_kvargs_process(kv, NULL, args_one, &ctx) != 0)
			ret = -EINVAL;
		rte_kvargs_free(kv);
		if (ret != 0)
			return ret;
	}
	if (out->vm[0] == '\0')
		snprintf(out->vm, sizeof(out->vm), "%s", name);
	if (!out->mac_set)
		args_default_mac(name, &out->mac);
	if (!out->instance_set)
		args_default_instance(&out->mac, out->instance);
	return 0;
}
