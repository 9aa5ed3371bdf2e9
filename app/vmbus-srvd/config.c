/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>
#include <rte_common.h>

#include "vmbs_config.h"
#include "vmbus_srvd.h"

int
srvd_parse_u32(const char *what, const char *s, uint32_t max, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		goto bad;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		goto bad;
	*out = (uint32_t)v;
	return 0;
bad:
	fprintf(stderr, "vmbus-srvd: %s: \"%s\" is not an integer in [0, %u]\n",
		what, s ? s : "", max);
	return -1;
}

static_assert(sizeof(uid_t) == sizeof(uint32_t) && sizeof(gid_t) == sizeof(uint32_t),
	      "ids are stored as u32");

/* A user name or a numeric uid. */
static int
parse_user(const char *what, const char *s, uid_t *out)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	uint32_t v;

	if (s[0] >= '0' && s[0] <= '9')
		return srvd_parse_u32(what, s, UINT32_MAX - 1, &v) == 0 ?
		       (*out = (uid_t)v, 0) : -1;
	if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		fprintf(stderr, "vmbus-srvd: %s: no user \"%s\"\n", what, s);
		return -1;
	}
	*out = pw.pw_uid;
	return 0;
}

/* A group name or a numeric gid. */
static int
parse_group(const char *what, const char *s, gid_t *out)
{
	struct group gr, *res = NULL;
	char buf[4096];
	uint32_t v;

	if (s[0] >= '0' && s[0] <= '9')
		return srvd_parse_u32(what, s, UINT32_MAX - 1, &v) == 0 ?
		       (*out = (gid_t)v, 0) : -1;
	if (getgrnam_r(s, &gr, buf, sizeof(buf), &res) != 0 || res == NULL) {
		fprintf(stderr, "vmbus-srvd: %s: no group \"%s\"\n", what, s);
		return -1;
	}
	*out = gr.gr_gid;
	return 0;
}

/* Space-separated users (@p users) or groups into @p ids. */
static int
parse_id_list(const char *what, const char *s, bool users, uint32_t *ids,
	      unsigned int *n)
{
	char buf[1024], *save = NULL, *tok;

	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "vmbus-srvd: %s: list too long\n", what);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		uid_t u;
		gid_t g;

		if (*n == SRVD_MAX_ACL) {
			fprintf(stderr, "vmbus-srvd: %s: more than %d entries\n", what,
				SRVD_MAX_ACL);
			return -1;
		}
		if (users ? parse_user(what, tok, &u) : parse_group(what, tok, &g))
			return -1;
		ids[(*n)++] = users ? (uint32_t)u : (uint32_t)g;
	}
	return 0;
}

/* Keys of a [nicN] section, passed through as net_vmbus_srv devargs. */
static const char *const nic_keys[] = {
	"mac", "instance", "queues", "copybreak", "ordering", "mtu", "vm", "tx_rss",
};

static int
config_nic(struct rte_cfgfile *f, const char *sec, struct srvd_config *cfg)
{
	struct rte_cfgfile_entry entries[16];
	struct srvd_nic *nic;
	int n, i;
	size_t k;
	int len;

	if (cfg->nb_nics == SRVD_MAX_NICS) {
		fprintf(stderr, "vmbus-srvd: %s: more than %d NICs\n", cfg->path, SRVD_MAX_NICS);
		return -1;
	}
	nic = &cfg->nics[cfg->nb_nics];
	memset(nic, 0, sizeof(*nic));
	snprintf(nic->section, sizeof(nic->section), "%.*s",
		 (int)sizeof(nic->section) - 1, sec);
	nic->queues = 1;

	n = rte_cfgfile_section_entries(f, sec, entries, (int)RTE_DIM(entries));
	if (n < 0) {
		fprintf(stderr, "vmbus-srvd: %s: [%s]: too many keys\n", cfg->path, sec);
		return -1;
	}
	len = 0;
	for (i = 0; i < n; i++) {
		for (k = 0; k < RTE_DIM(nic_keys); k++)
			if (strcmp(entries[i].name, nic_keys[k]) == 0)
				break;
		/* A comma would smuggle another devarg in. */
		if (k == RTE_DIM(nic_keys) || strchr(entries[i].value, ',') != NULL) {
			fprintf(stderr, "vmbus-srvd: %s: [%s]: unknown key or bad value \"%s = %s\"\n",
				cfg->path, sec, entries[i].name, entries[i].value);
			return -1;
		}
		if (strcmp(entries[i].name, "queues") == 0) {
			uint32_t q;

			if (srvd_parse_u32("queues", entries[i].value, SRVD_MAX_PORT_QUEUES,
					   &q) != 0 || q == 0) {
				fprintf(stderr, "vmbus-srvd: %s: [%s]: queues must be 1-%d\n",
					cfg->path, sec, SRVD_MAX_PORT_QUEUES);
				return -1;
			}
			nic->queues = (uint16_t)q;
		}
		len += snprintf(nic->devargs + len, sizeof(nic->devargs) - (size_t)len,
				"%s%s=%s", len ? "," : "", entries[i].name, entries[i].value);
		if ((size_t)len >= sizeof(nic->devargs)) {
			fprintf(stderr, "vmbus-srvd: %s: [%s]: values too long\n", cfg->path, sec);
			return -1;
		}
	}
	cfg->nb_nics++;
	return 0;
}

/* Every key of a fixed section must be one of @p keys (NULL-terminated). */
static int
check_keys(struct rte_cfgfile *f, const char *path, const char *sec,
	   const char *const *keys)
{
	struct rte_cfgfile_entry entries[32];
	int n, i, k;

	if (!rte_cfgfile_has_section(f, sec))
		return 0;
	n = rte_cfgfile_section_entries(f, sec, entries, (int)RTE_DIM(entries));
	if (n < 0) {
		fprintf(stderr, "vmbus-srvd: %s: [%s]: too many keys\n", path, sec);
		return -1;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; keys[k] != NULL; k++)
			if (strcmp(entries[i].name, keys[k]) == 0)
				break;
		if (keys[k] == NULL) {
			fprintf(stderr, "vmbus-srvd: %s: [%s]: unknown key \"%s\"\n", path, sec,
				entries[i].name);
			return -1;
		}
	}
	return 0;
}

static const char *const server_keys[] = {
	"socket", "socket_owner", "socket_group", "allow_users", "allow_groups",
	"duration", "stats_period", NULL,
};
static const char *const bridge_keys[] = {
	"mac_aging", "mac_table_size", "burst", "tx_retries", "tx_retry_delay_us",
	"tx_stall_retries", "mbufs", "mbuf_size", "rx_desc", "tx_desc", NULL,
};
static const char *const eal_keys[] = { "args", "service_lcores", NULL };
static const char *const uplink_keys[] = { "device", "queues", "mtu", NULL };

/* An optional u32 key in [min, max]; -1 with a message if out of range. */
static int
get_u32(struct rte_cfgfile *f, const char *path, const char *sec, const char *key,
	uint32_t min, uint32_t max, uint32_t *out)
{
	const char *v = rte_cfgfile_get_entry(f, sec, key);
	uint32_t x;

	if (v == NULL || v[0] == '\0')
		return 0;
	if (srvd_parse_u32(key, v, max, &x) != 0)
		return -1;
	if (x < min) {
		fprintf(stderr, "vmbus-srvd: %s: [%s] %s: %u is below %u\n", path, sec, key, x,
			min);
		return -1;
	}
	*out = x;
	return 0;
}

/* An optional string key; -1 if it does not fit @p size bytes. */
static int
get_str(struct rte_cfgfile *f, const char *path, const char *sec, const char *key,
	char *out, size_t size)
{
	const char *v = rte_cfgfile_get_entry(f, sec, key);

	if (v == NULL)
		return 0;
	if (strlen(v) >= size) {
		fprintf(stderr, "vmbus-srvd: %s: [%s] %s: value too long\n", path, sec, key);
		return -1;
	}
	snprintf(out, size, "%s", v);
	return 0;
}

void
srvd_config_defaults(struct srvd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->socket, sizeof(cfg->socket), "/run/vmbus-srv/attach.sock");
	cfg->socket_owner = (uid_t)-1;
	cfg->socket_group = (gid_t)-1;
	cfg->stats_period_s = 1;
	cfg->mac_aging_s = 300;
	cfg->mac_table_size = 4096;
	cfg->burst = VMBS_MAX_BURST;
	cfg->tx_retries = 64;
	cfg->tx_retry_delay_us = 10;
	cfg->tx_stall_retries = 2;
	cfg->mbuf_size = SRVD_MBUF_SIZE_DEFAULT;
	cfg->rx_desc = 1024;
	cfg->tx_desc = 1024;
	snprintf(cfg->eal_args, sizeof(cfg->eal_args), "-l 0 --in-memory --no-pci --no-telemetry");
	cfg->uplink_queues = 1;
}

int
srvd_config_load(const char *path, struct srvd_config *cfg)
{
	char names[SRVD_MAX_NICS + 8][CFG_NAME_LEN];
	char *sections[SRVD_MAX_NICS + 8];
	struct rte_cfgfile *f;
	const char *v;
	uint32_t q;
	int n, i, ret = -1;

	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	f = rte_cfgfile_load(path, CFG_FLAG_EMPTY_VALUES);
	if (f == NULL) {
		fprintf(stderr, "vmbus-srvd: cannot read configuration %s\n", path);
		return -1;
	}
	if (check_keys(f, path, "server", server_keys) != 0 ||
	    check_keys(f, path, "bridge", bridge_keys) != 0 ||
	    check_keys(f, path, "eal", eal_keys) != 0 ||
	    check_keys(f, path, "uplink", uplink_keys) != 0)
		goto out;

	if (get_str(f, path, "server", "socket", cfg->socket, sizeof(cfg->socket)) != 0)
		goto out;
	v = rte_cfgfile_get_entry(f, "server", "socket_owner");
	if (v != NULL && v[0] != '\0' && parse_user("socket_owner", v, &cfg->socket_owner) != 0)
		goto out;
	v = rte_cfgfile_get_entry(f, "server", "socket_group");
	if (v != NULL && v[0] != '\0' && parse_group("socket_group", v, &cfg->socket_group) != 0)
		goto out;
	v = rte_cfgfile_get_entry(f, "server", "allow_users");
	if (v != NULL && parse_id_list("allow_users", v, true, (uint32_t *)cfg->allow_uids,
				       &cfg->nb_allow_uids) != 0)
		goto out;
	v = rte_cfgfile_get_entry(f, "server", "allow_groups");
	if (v != NULL && parse_id_list("allow_groups", v, false, (uint32_t *)cfg->allow_gids,
				       &cfg->nb_allow_gids) != 0)
		goto out;
	if (get_u32(f, path, "server", "duration", 0, 86400 * 365, &cfg->duration_s) != 0 ||
	    get_u32(f, path, "server", "stats_period", 0, 3600, &cfg->stats_period_s) != 0)
		goto out;

	if (get_u32(f, path, "bridge", "mac_aging", 0, 86400 * 365, &cfg->mac_aging_s) != 0 ||
	    get_u32(f, path, "bridge", "mac_table_size", 8, 1u << 24,
		    &cfg->mac_table_size) != 0 ||
	    get_u32(f, path, "bridge", "burst", 1, VMBS_MAX_BURST, &cfg->burst) != 0 ||
	    get_u32(f, path, "bridge", "tx_retries", 0, 1000000, &cfg->tx_retries) != 0 ||
	    get_u32(f, path, "bridge", "tx_retry_delay_us", 0, 1000000,
		    &cfg->tx_retry_delay_us) != 0 ||
	    get_u32(f, path, "bridge", "tx_stall_retries", 0, 1000000,
		    &cfg->tx_stall_retries) != 0 ||
	    get_u32(f, path, "bridge", "mbufs", 0, 1u << 24, &cfg->mbufs) != 0 ||
	    get_u32(f, path, "bridge", "mbuf_size", SRVD_MBUF_SIZE_MIN, SRVD_MBUF_SIZE_MAX,
		    &cfg->mbuf_size) != 0 ||
	    get_u32(f, path, "bridge", "rx_desc", 64, 16384, &cfg->rx_desc) != 0 ||
	    get_u32(f, path, "bridge", "tx_desc", 64, 16384, &cfg->tx_desc) != 0)
		goto out;
	if (cfg->mbufs != 0 && cfg->mbufs < 1024) {
		fprintf(stderr, "vmbus-srvd: %s: [bridge] mbufs: 0 (automatic) or at least 1024\n",
			path);
		goto out;
	}

	if (get_str(f, path, "eal", "args", cfg->eal_args, sizeof(cfg->eal_args)) != 0 ||
	    get_str(f, path, "eal", "service_lcores", cfg->service_lcores,
		    sizeof(cfg->service_lcores)) != 0)
		goto out;

	if (get_str(f, path, "uplink", "device", cfg->uplink, sizeof(cfg->uplink)) != 0)
		goto out;
	q = cfg->uplink_queues;
	if (get_u32(f, path, "uplink", "queues", 1, SRVD_MAX_PORT_QUEUES, &q) != 0)
		goto out;
	cfg->uplink_queues = (uint16_t)q;
	if (get_u32(f, path, "uplink", "mtu", 0, UINT16_MAX, &cfg->uplink_mtu) != 0)
		goto out;

	for (i = 0; i < (int)RTE_DIM(sections); i++)
		sections[i] = names[i];
	n = rte_cfgfile_sections(f, sections, (int)RTE_DIM(sections));
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], "server") == 0 || strcmp(names[i], "eal") == 0 ||
		    strcmp(names[i], "bridge") == 0 || strcmp(names[i], "uplink") == 0)
			continue;
		if (strncmp(names[i], "nic", 3) != 0) {
			fprintf(stderr, "vmbus-srvd: %s: unknown section [%s]\n", path, names[i]);
			goto out;
		}
		if (config_nic(f, names[i], cfg) != 0)
			goto out;
	}
	if (cfg->nb_nics == 0) {
		fprintf(stderr, "vmbus-srvd: %s: no [nicN] section: nothing to serve\n", path);
		goto out;
	}
	ret = 0;
out:
	rte_cfgfile_close(f);
	return ret;
}
