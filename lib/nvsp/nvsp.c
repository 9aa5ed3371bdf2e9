/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * NVSP codec. Control path only (a handful of messages per channel, plus
 * one 40-byte completion per guest TX packet, written by the caller's
 * batch code), so one table drives decode and encode: each type's name and
 * the struct size it has in each direction.
 */

#include <errno.h>
#include <string.h>

#include "vmbs_nvsp.h"

static_assert(VMBS_NVSP_INDIRECTION_TABLE_MSG_SIZE == 104, "40 + 16 entries");
static_assert(sizeof(struct vmbs_nvsp_recv_buf_complete) <= VMBS_NVSP_MSG_SIZE_LEGACY,
	      "every served struct fits the legacy message");

/* Types above this are not NVSP types at all. */
#define NVSP_TYPE_LAST VMBS_NVSP_TYPE_PD_POST_BATCH

struct nvsp_type_desc {
	const char *name;	/* NULL: not an NVSP type */
	uint8_t g2h_len;	/* struct size guest to host; 0: not served that way */
	uint8_t h2g_len;	/* struct size host to guest; 0: not served that way */
};

#define G2H(t, s) [VMBS_NVSP_TYPE_##t] = { #t, sizeof(struct s), 0 }
#define H2G(t, s) [VMBS_NVSP_TYPE_##t] = { #t, 0, sizeof(struct s) }
#define BOTH(t, s) [VMBS_NVSP_TYPE_##t] = { #t, sizeof(struct s), sizeof(struct s) }
#define UNSERVED(n, name) [n] = { name, 0, 0 }

static const struct nvsp_type_desc nvsp_types[NVSP_TYPE_LAST + 1] = {
	G2H(INIT, vmbs_nvsp_init),
	H2G(INIT_COMPLETE, vmbs_nvsp_init_complete),
	G2H(SEND_NDIS_VER, vmbs_nvsp_ndis_ver),
	G2H(SEND_RECV_BUF, vmbs_nvsp_send_buf),
	H2G(SEND_RECV_BUF_COMPLETE, vmbs_nvsp_recv_buf_complete),
	G2H(REVOKE_RECV_BUF, vmbs_nvsp_revoke_buf),
	G2H(SEND_SEND_BUF, vmbs_nvsp_send_buf),
	H2G(SEND_SEND_BUF_COMPLETE, vmbs_nvsp_send_buf_complete),
	G2H(REVOKE_SEND_BUF, vmbs_nvsp_revoke_buf),
	/* Guest TX / control request; the NVSP part of host RX packets. */
	BOTH(SEND_RNDIS_PKT, vmbs_nvsp_rndis_pkt),
	/* Host TX completion; guest release of a receive-buffer slot. */
	BOTH(SEND_RNDIS_PKT_COMPLETE, vmbs_nvsp_rndis_pkt_complete),
	UNSERVED(109, "SEND_CHIMNEY_DELEGATED_BUF"),
	UNSERVED(110, "SEND_CHIMNEY_DELEGATED_BUF_COMPLETE"),
	UNSERVED(111, "REVOKE_CHIMNEY_DELEGATED_BUF"),
	UNSERVED(112, "RESUME_CHIMNEY_RX_INDICATION"),
	UNSERVED(113, "TERMINATE_CHIMNEY"),
	UNSERVED(114, "TERMINATE_CHIMNEY_COMPLETE"),
	UNSERVED(115, "INDICATE_CHIMNEY_EVENT"),
	UNSERVED(116, "SEND_CHIMNEY_PKT"),
	UNSERVED(117, "SEND_CHIMNEY_PKT_COMPLETE"),
	UNSERVED(118, "POST_CHIMNEY_RECV_REQ"),
	UNSERVED(119, "POST_CHIMNEY_RECV_REQ_COMPLETE"),
	UNSERVED(120, "ALLOC_RXBUF"),
	UNSERVED(121, "ALLOC_RXBUF_COMPLETE"),
	UNSERVED(122, "FREE_RXBUF"),
	UNSERVED(123, "SEND_VMQ_RNDIS_PKT"),
	UNSERVED(124, "SEND_VMQ_RNDIS_PKT_COMPLETE"),
	G2H(SEND_NDIS_CONFIG, vmbs_nvsp_ndis_config),
	UNSERVED(126, "ALLOC_CHIMNEY_HANDLE"),
	UNSERVED(127, "ALLOC_CHIMNEY_HANDLE_COMPLETE"),
	H2G(SEND_VF_ASSOCIATION, vmbs_nvsp_vf_assoc),
	/*
	 * Guests request it; the host's completion may echo the request, so
	 * the fake guest decodes it too.
	 */
	BOTH(SWITCH_DATA_PATH, vmbs_nvsp_switch_data_path),
	UNSERVED(VMBS_NVSP_TYPE_UPLINK_CONNECT_STATE, "UPLINK_CONNECT_STATE"),
	UNSERVED(VMBS_NVSP_TYPE_OID_QUERY_EX, "OID_QUERY_EX"),
	UNSERVED(VMBS_NVSP_TYPE_OID_QUERY_EX_COMPLETE, "OID_QUERY_EX_COMPLETE"),
	[VMBS_NVSP_TYPE_SUBCHANNEL] = { "SUBCHANNEL",
		sizeof(struct vmbs_nvsp_subchannel_req),
		sizeof(struct vmbs_nvsp_subchannel_complete) },
	H2G(SEND_INDIRECTION_TABLE, vmbs_nvsp_indirection_table),
	UNSERVED(VMBS_NVSP_TYPE_PD_API, "PD_API"),
	UNSERVED(VMBS_NVSP_TYPE_PD_POST_BATCH, "PD_POST_BATCH"),
};

#undef G2H
#undef H2G
#undef BOTH
#undef UNSERVED

static const struct nvsp_type_desc *
nvsp_desc(uint32_t type)
{
	if (type > NVSP_TYPE_LAST || nvsp_types[type].name == NULL)
		return NULL;
	return &nvsp_types[type];
}

const char *
vmbs_nvsp_type_name(uint32_t type)
{
	const struct nvsp_type_desc *d = nvsp_desc(type);

	return d != NULL ? d->name : "UNKNOWN";
}

/* The table of a decoded h2g SEND_INDIRECTION_TABLE, at its own offset. */
static int
nvsp_decode_indirection_table(const uint8_t *buf, size_t len,
			      struct vmbs_nvsp_indirection_table_info *it)
{
	const size_t tab_len = sizeof(it->table);

	if (it->fixed.count != VMBS_NVSP_INDIRECTION_TABLE_SIZE)
		return -EBADMSG;
	/* Not inside the fixed part; within len without overflow (len >= 12). */
	if (it->fixed.offset < sizeof(it->fixed) || len < tab_len ||
	    it->fixed.offset > len - tab_len)
		return -EBADMSG;
	memcpy(it->table, buf + it->fixed.offset, tab_len);
	return 0;
}

static int
nvsp_decode(const void *buf, size_t len, struct vmbs_nvsp_msg *out, bool h2g)
{
	uint8_t local[VMBS_NVSP_MSG_SIZE];
	const struct nvsp_type_desc *d;
	uint32_t type;
	size_t min_len;

	if (buf == NULL || out == NULL)
		return -EINVAL;
	if (len < sizeof(type))
		return -EBADMSG;
	/* One read of the sender's bytes; every check below uses the copy. */
	memcpy(local, buf, len < sizeof(local) ? len : sizeof(local));
	memcpy(&type, local, sizeof(type));

	d = nvsp_desc(type);
	if (d == NULL)
		return -EBADMSG;
	min_len = h2g ? d->h2g_len : d->g2h_len;
	if (min_len == 0)
		/* Served the other way only: the peer has the roles mixed up. */
		return d->g2h_len == 0 && d->h2g_len == 0 ? -EOPNOTSUPP : -EBADMSG;
	if (len < min_len)
		return -EBADMSG;

	memset(out, 0, sizeof(*out));
	out->type = (enum vmbs_nvsp_type)type;
	out->len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	/* Every struct starts with the type, at the union's first byte. */
	memcpy(&out->u, local, min_len);

	if (h2g && type == VMBS_NVSP_TYPE_SEND_INDIRECTION_TABLE)
		return nvsp_decode_indirection_table(buf, len, &out->u.indirection_table);
	return 0;
}

int
vmbs_nvsp_decode(const void *buf, size_t len, struct vmbs_nvsp_msg *out)
{
	return nvsp_decode(buf, len, out, false);
}

int
vmbs_nvsp_decode_h2g(const void *buf, size_t len, struct vmbs_nvsp_msg *out)
{
	return nvsp_decode(buf, len, out, true);
}

int
vmbs_nvsp_encode(void *buf, size_t buf_len, const struct vmbs_nvsp_msg *msg)
{
	const struct nvsp_type_desc *d;
	uint32_t type, count, offset;
	size_t struct_len, total;
	uint8_t *p = buf;

	if (buf == NULL || msg == NULL)
		return -EINVAL;
	type = (uint32_t)msg->type;
	d = nvsp_desc(type);
	if (d == NULL || (d->g2h_len == 0 && d->h2g_len == 0))
		return -EINVAL;
	/* SUBCHANNEL's two structs have one size; otherwise one is 0. */
	struct_len = d->g2h_len > d->h2g_len ? d->g2h_len : d->h2g_len;
	total = type == VMBS_NVSP_TYPE_SEND_INDIRECTION_TABLE ?
		VMBS_NVSP_INDIRECTION_TABLE_MSG_SIZE : VMBS_NVSP_MSG_SIZE;
	if (buf_len < total)
		return -ENOBUFS;

	memset(p, 0, total);
	memcpy(p, &msg->u, struct_len);
	memcpy(p, &type, sizeof(type));
	if (type == VMBS_NVSP_TYPE_SEND_INDIRECTION_TABLE) {
		count = VMBS_NVSP_INDIRECTION_TABLE_SIZE;
		offset = VMBS_NVSP_INDIRECTION_TABLE_OFFSET;
		memcpy(p + offsetof(struct vmbs_nvsp_indirection_table, count),
		       &count, sizeof(count));
		memcpy(p + offsetof(struct vmbs_nvsp_indirection_table, offset),
		       &offset, sizeof(offset));
		memcpy(p + offset, msg->u.indirection_table.table,
		       sizeof(msg->u.indirection_table.table));
	}
	return (int)total;
}

int
vmbs_nvsp_encode_init_complete(void *buf, size_t buf_len, uint32_t negotiated_ver,
			       uint32_t max_mdl_chain_len, uint32_t status)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_INIT_COMPLETE };

	m.u.init_complete.negotiated_ver = negotiated_ver;
	m.u.init_complete.max_mdl_chain_len = max_mdl_chain_len;
	m.u.init_complete.status = status;
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

int
vmbs_nvsp_encode_recv_buf_complete(void *buf, size_t buf_len, uint32_t status,
				   const struct vmbs_nvsp_recv_buf_section *section)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_SEND_RECV_BUF_COMPLETE };

	m.u.recv_buf_complete.status = status;
	if (section != NULL) {
		m.u.recv_buf_complete.num_sections = 1;
		m.u.recv_buf_complete.section = *section;
	}
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

int
vmbs_nvsp_encode_send_buf_complete(void *buf, size_t buf_len, uint32_t status,
				   uint32_t section_size)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_SEND_SEND_BUF_COMPLETE };

	m.u.send_buf_complete.status = status;
	m.u.send_buf_complete.section_size = section_size;
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

int
vmbs_nvsp_encode_rndis_pkt(void *buf, size_t buf_len, uint32_t channel_type,
			   uint32_t section_index, uint32_t section_size)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_SEND_RNDIS_PKT };

	m.u.rndis_pkt.channel_type = channel_type;
	m.u.rndis_pkt.section_index = section_index;
	m.u.rndis_pkt.section_size = section_size;
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

int
vmbs_nvsp_encode_rndis_pkt_complete(void *buf, size_t buf_len, uint32_t status)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_SEND_RNDIS_PKT_COMPLETE };

	m.u.rndis_pkt_complete.status = status;
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

int
vmbs_nvsp_encode_vf_assoc(void *buf, size_t buf_len, uint32_t allocated, uint32_t serial)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_SEND_VF_ASSOCIATION };

	m.u.vf_assoc.allocated = allocated;
	m.u.vf_assoc.serial = serial;
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

int
vmbs_nvsp_encode_subchannel_complete(void *buf, size_t buf_len, uint32_t status,
				     uint32_t num_subchannels)
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_SUBCHANNEL };

	m.u.subchannel_complete.status = status;
	m.u.subchannel_complete.num_subchannels = num_subchannels;
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

int
vmbs_nvsp_encode_indirection_table(void *buf, size_t buf_len,
				   const uint32_t table[VMBS_NVSP_INDIRECTION_TABLE_SIZE])
{
	struct vmbs_nvsp_msg m = { .type = VMBS_NVSP_TYPE_SEND_INDIRECTION_TABLE };

	if (table == NULL)
		return -EINVAL;
	memcpy(m.u.indirection_table.table, table, sizeof(m.u.indirection_table.table));
	return vmbs_nvsp_encode(buf, buf_len, &m);
}

/* Newest first: pick_version() returns the first that fits. */
static const uint32_t nvsp_versions[] = {
	VMBS_NVSP_VERSION_61,
	VMBS_NVSP_VERSION_6,
	VMBS_NVSP_VERSION_5,
	VMBS_NVSP_VERSION_4,
	VMBS_NVSP_VERSION_2,
	VMBS_NVSP_VERSION_1,
};

bool
vmbs_nvsp_version_supported(uint32_t version)
{
	size_t i;

	for (i = 0; i < sizeof(nvsp_versions) / sizeof(nvsp_versions[0]); i++)
		if (nvsp_versions[i] == version)
			return true;
	return false;
}

uint32_t
vmbs_nvsp_pick_version(uint32_t min_ver, uint32_t max_ver, uint32_t host_max)
{
	size_t i;
	uint32_t v;

	for (i = 0; i < sizeof(nvsp_versions) / sizeof(nvsp_versions[0]); i++) {
		v = nvsp_versions[i];
		if (v >= min_ver && v <= max_ver && v <= host_max)
			return v;
	}
	return 0;
}

uint32_t
vmbs_nvsp_ndis_version(uint32_t nvsp_version)
{
	return nvsp_version <= VMBS_NVSP_VERSION_4 ? VMBS_NVSP_NDIS_6_1 : VMBS_NVSP_NDIS_6_30;
}
