/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * vmbus-srvd: the standalone server. One main lcore polls every port;
 * the configuration is read once at start-up, before the EAL starts.
 */

#ifndef VMBUS_SRVD_H
#define VMBUS_SRVD_H

#include <stdint.h>
#include <sys/un.h>

#define SRVD_MAX_NICS 64
#define SRVD_MAX_EAL_ARGS 32

struct srvd_nic {
	char section[64];	/* [nicN] */
	char devargs[512];	/* the section's keys as net_vmbus_srv devargs */
	uint16_t queues;
};

/* Most entries in each attach allow list. */
#define SRVD_MAX_ACL 16

struct srvd_config {
	char path[4096];
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uid_t socket_owner;	/* (uid_t)-1: the server's own */
	gid_t socket_group;	/* (gid_t)-1: none, mode 0600 */
	uid_t allow_uids[SRVD_MAX_ACL];
	unsigned int nb_allow_uids;
	gid_t allow_gids[SRVD_MAX_ACL];
	unsigned int nb_allow_gids;
	uint32_t duration_s;	/* 0 = until a signal */
	uint32_t stats_period_s;	/* 0 = no rate line */
	char eal_args[1024];
	unsigned int nb_nics;
	struct srvd_nic nics[SRVD_MAX_NICS];
};

/* Load @p path into @p cfg; on error print one line and return -1. */
int srvd_config_load(const char *path, struct srvd_config *cfg);

/* Check a decimal u32 option value; -1 with a message on garbage. */
int srvd_parse_u32(const char *what, const char *s, uint32_t max, uint32_t *out);

#endif /* VMBUS_SRVD_H */
