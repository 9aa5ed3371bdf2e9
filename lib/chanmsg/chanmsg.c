/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Channel message codec. Control path only (a few messages per channel
 * lifetime), so clarity wins over speed: one table gives each type's name
 * and minimum size, and decode/encode are driven by it.
 */

#include <errno.h>
#include <string.h>

#include "vmbs_chanmsg.h"

static_assert(VMBS_CHMSG_GPADL_HEADER_MAX_DATA == 216, "27 words fit in a GPADL header");
static_assert(VMBS_CHMSG_GPADL_BODY_MAX_DATA == 224, "28 words fit in a GPADL body");
static_assert(VMBS_CHMSG_GPADL_MAX_DATA == 65528, "range_buflen is u16, 8-byte units");

/* Smallest range: its 8-byte header plus one PFN. */
#define CHMSG_RANGE_MIN 16u

struct chmsg_type_desc {
	const char *name;	/* for logs */
	uint32_t min_len;	/* fixed size incl. header; 0 = not handled here */
};

/*
 * Indexed by message type. Types 18..21 and 23..29 exist on the wire but
 * are not handled by this codec: they get a name (logs) and min_len 0.
 */
static const struct chmsg_type_desc chmsg_types[VMBS_CHMSG_TYPE_MAX] = {
	[VMBS_CHMSG_OFFERCHANNEL] = { "OFFERCHANNEL", sizeof(struct vmbs_chmsg_offer) },
	[VMBS_CHMSG_RESCIND_CHANNELOFFER] = {
		"RESCIND_CHANNELOFFER", sizeof(struct vmbs_chmsg_relid) },
	[VMBS_CHMSG_REQUESTOFFERS] = { "REQUESTOFFERS", sizeof(struct vmbs_chmsg_bare) },
	[VMBS_CHMSG_ALLOFFERS_DELIVERED] = {
		"ALLOFFERS_DELIVERED", sizeof(struct vmbs_chmsg_bare) },
	[VMBS_CHMSG_OPENCHANNEL] = { "OPENCHANNEL", sizeof(struct vmbs_chmsg_open) },
	[VMBS_CHMSG_OPENCHANNEL_RESULT] = {
		"OPENCHANNEL_RESULT", sizeof(struct vmbs_chmsg_open_result) },
	[VMBS_CHMSG_CLOSECHANNEL] = { "CLOSECHANNEL", sizeof(struct vmbs_chmsg_relid) },
	[VMBS_CHMSG_GPADL_HEADER] = {
		"GPADL_HEADER", sizeof(struct vmbs_chmsg_gpadl_header) },
	/* A body without a single word carries nothing: 16 + 8. */
	[VMBS_CHMSG_GPADL_BODY] = {
		"GPADL_BODY", sizeof(struct vmbs_chmsg_gpadl_body) + sizeof(uint64_t) },
	[VMBS_CHMSG_GPADL_CREATED] = {
		"GPADL_CREATED", sizeof(struct vmbs_chmsg_gpadl_created) },
	[VMBS_CHMSG_GPADL_TEARDOWN] = {
		"GPADL_TEARDOWN", sizeof(struct vmbs_chmsg_gpadl_teardown) },
	[VMBS_CHMSG_GPADL_TORNDOWN] = {
		"GPADL_TORNDOWN", sizeof(struct vmbs_chmsg_gpadl_torndown) },
	[VMBS_CHMSG_RELID_RELEASED] = { "RELID_RELEASED", sizeof(struct vmbs_chmsg_relid) },
	[VMBS_CHMSG_INITIATE_CONTACT] = {
		"INITIATE_CONTACT", sizeof(struct vmbs_chmsg_initiate_contact) },
	[VMBS_CHMSG_VERSION_RESPONSE] = {
		"VERSION_RESPONSE", sizeof(struct vmbs_chmsg_version_response) },
	[VMBS_CHMSG_UNLOAD] = { "UNLOAD", sizeof(struct vmbs_chmsg_bare) },
	[VMBS_CHMSG_UNLOAD_RESPONSE] = { "UNLOAD_RESPONSE", sizeof(struct vmbs_chmsg_bare) },
	[18] = { "OPEN_RESERVED_CHANNEL", 0 },
	[19] = { "CLOSE_RESERVED_CHANNEL", 0 },
	[20] = { "CLOSE_RESERVED_RESPONSE", 0 },
	[21] = { "TL_CONNECT_REQUEST", 0 },
	[VMBS_CHMSG_MODIFYCHANNEL] = {
		"MODIFYCHANNEL", sizeof(struct vmbs_chmsg_modify_channel) },
	[23] = { "TL_CONNECT_RESULT", 0 },
	[24] = { "MODIFYCHANNEL_RESPONSE", 0 },
	[25] = { "MODIFY_CONNECTION", 0 },
	[26] = { "MODIFY_CONNECTION_RESPONSE", 0 },
	[27] = { "PAUSE", 0 },
	[28] = { "PAUSE_RESPONSE", 0 },
	[29] = { "RESUME", 0 },
};

const char *
vmbs_chmsg_type_name(uint32_t type)
{
	if (type >= VMBS_CHMSG_TYPE_MAX || chmsg_types[type].name == NULL)
		return "UNKNOWN";
	return chmsg_types[type].name;
}

/* The wire size of the fixed part of a handled type; 0 if not handled. */
static uint32_t
chmsg_min_len(uint32_t type)
{
	return type < VMBS_CHMSG_TYPE_MAX ? chmsg_types[type].min_len : 0;
}

/*
 * Rules shared by decoder, encoder and generator, so that whatever we can
 * build we also accept, and vice versa.
 */
static int
chmsg_gpadl_header_ok(uint16_t range_buflen, uint16_t range_cnt, size_t present)
{
	if (range_cnt == 0)
		return -EBADMSG;
	/* Range data is a sequence of u64-sized units, so its length is too. */
	if (range_buflen % 8 != 0 || range_buflen < (uint32_t)range_cnt * CHMSG_RANGE_MIN)
		return -EBADMSG;
	if (present % 8 != 0 || present > range_buflen)
		return -EBADMSG;
	return 0;
}

static int
chmsg_decode_gpadl_header(const uint8_t *buf, const uint8_t *local, size_t len,
			  struct vmbs_chmsg_gpadl_header_info *gh)
{
	size_t present = len - sizeof(gh->fixed);

	memcpy(&gh->fixed, local, sizeof(gh->fixed));
	if (chmsg_gpadl_header_ok(gh->fixed.range_buflen, gh->fixed.range_cnt,
				  present) < 0)
		return -EBADMSG;
	/*
	 * Point into the caller's buffer, not our stack copy: lib/gpadl copies
	 * these bytes while assembling, and validates the whole list then.
	 */
	gh->ranges = buf + sizeof(gh->fixed);
	gh->ranges_len = (uint32_t)present;
	return 0;
}

static int
chmsg_decode_gpadl_body(const uint8_t *buf, const uint8_t *local, size_t len,
			struct vmbs_chmsg_gpadl_body_info *gb)
{
	size_t present = len - sizeof(gb->fixed);

	/* The minimum length already guarantees present >= 8. */
	if (present % 8 != 0)
		return -EBADMSG;
	memcpy(&gb->fixed, local, sizeof(gb->fixed));
	gb->words = buf + sizeof(gb->fixed);
	gb->word_cnt = (uint32_t)(present / 8);
	return 0;
}

int
vmbs_chmsg_decode(const void *buf, size_t len, struct vmbs_chmsg *out)
{
	uint8_t local[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg_hdr hdr;
	uint32_t min_len;

	if (buf == NULL || out == NULL)
		return -EINVAL;
	if (len < sizeof(hdr) || len > VMBS_CHMSG_MAX_SIZE)
		return -EBADMSG;
	/* One read of the guest's bytes; all checks and fields use the copy. */
	memcpy(local, buf, len);
	memcpy(&hdr, local, sizeof(hdr));

	if (hdr.msgtype == VMBS_CHMSG_INVALID || hdr.msgtype >= VMBS_CHMSG_TYPE_MAX)
		return -EBADMSG;
	min_len = chmsg_min_len(hdr.msgtype);
	if (min_len == 0)
		return -EOPNOTSUPP;
	if (len < min_len)
		return -EBADMSG;

	memset(out, 0, sizeof(*out));
	out->type = (enum vmbs_chmsg_type)hdr.msgtype;
	out->len = (uint32_t)len;

	switch (hdr.msgtype) {
	case VMBS_CHMSG_GPADL_HEADER:
		return chmsg_decode_gpadl_header(buf, local, len, &out->u.gpadl_header);
	case VMBS_CHMSG_GPADL_BODY:
		return chmsg_decode_gpadl_body(buf, local, len, &out->u.gpadl_body);
	default:
		/*
		 * Every other handled type is a fixed struct that starts at the
		 * union's first byte; its tail beyond min_len (a later version's
		 * fields, or padding) is not decoded.
		 */
		memcpy(&out->u, local, min_len);
		return 0;
	}
}

int
vmbs_chmsg_encode(void *buf, size_t buf_len, const struct vmbs_chmsg *msg)
{
	const struct vmbs_chmsg_gpadl_header_info *gh;
	const struct vmbs_chmsg_gpadl_body_info *gb;
	struct vmbs_chmsg_hdr hdr;
	uint32_t min_len, var_len = 0;
	const uint8_t *var = NULL;

	if (buf == NULL || msg == NULL)
		return -EINVAL;
	min_len = chmsg_min_len(msg->type);
	if (min_len == 0)
		return -EINVAL;

	switch (msg->type) {
	case VMBS_CHMSG_GPADL_HEADER:
		gh = &msg->u.gpadl_header;
		if (chmsg_gpadl_header_ok(gh->fixed.range_buflen, gh->fixed.range_cnt,
					  gh->ranges_len) < 0 ||
		    gh->ranges_len > VMBS_CHMSG_GPADL_HEADER_MAX_DATA ||
		    (gh->ranges_len != 0 && gh->ranges == NULL))
			return -EINVAL;
		var = gh->ranges;
		var_len = gh->ranges_len;
		break;
	case VMBS_CHMSG_GPADL_BODY:
		gb = &msg->u.gpadl_body;
		if (gb->word_cnt == 0 || gb->word_cnt > VMBS_GPADL_BODY_MAX_WORDS ||
		    gb->words == NULL)
			return -EINVAL;
		/* min_len counts one word; the fixed part is 16. */
		min_len = sizeof(gb->fixed);
		var = gb->words;
		var_len = gb->word_cnt * (uint32_t)sizeof(uint64_t);
		break;
	default:
		break;
	}
	if (buf_len < (size_t)min_len + var_len)
		return -ENOBUFS;

	memcpy(buf, &msg->u, min_len);
	hdr.msgtype = msg->type;
	hdr.padding = 0;
	memcpy(buf, &hdr, sizeof(hdr));
	if (var_len != 0)
		memcpy((uint8_t *)buf + min_len, var, var_len);
	return (int)(min_len + var_len);
}

/* Encode a message with no fields beyond those set in @p m. */
static int
chmsg_encode_type(void *buf, size_t buf_len, struct vmbs_chmsg *m,
		  enum vmbs_chmsg_type type)
{
	m->type = type;
	return vmbs_chmsg_encode(buf, buf_len, m);
}

int
vmbs_chmsg_encode_offer(void *buf, size_t buf_len, const struct vmbs_chmsg_offer *offer)
{
	struct vmbs_chmsg m = { 0 };

	if (offer == NULL)
		return -EINVAL;
	m.u.offer = *offer;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_OFFERCHANNEL);
}

int
vmbs_chmsg_encode_rescind(void *buf, size_t buf_len, uint32_t child_relid)
{
	struct vmbs_chmsg m = { 0 };

	m.u.relid.child_relid = child_relid;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_RESCIND_CHANNELOFFER);
}

int
vmbs_chmsg_encode_requestoffers(void *buf, size_t buf_len)
{
	struct vmbs_chmsg m = { 0 };

	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_REQUESTOFFERS);
}

int
vmbs_chmsg_encode_alloffers_delivered(void *buf, size_t buf_len)
{
	struct vmbs_chmsg m = { 0 };

	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_ALLOFFERS_DELIVERED);
}

int
vmbs_chmsg_encode_open(void *buf, size_t buf_len, const struct vmbs_chmsg_open *open)
{
	struct vmbs_chmsg m = { 0 };

	if (open == NULL)
		return -EINVAL;
	m.u.open = *open;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_OPENCHANNEL);
}

int
vmbs_chmsg_encode_open_result(void *buf, size_t buf_len, uint32_t child_relid,
			      uint32_t openid, uint32_t status)
{
	struct vmbs_chmsg m = { 0 };

	m.u.open_result.child_relid = child_relid;
	m.u.open_result.openid = openid;
	m.u.open_result.status = status;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_OPENCHANNEL_RESULT);
}

int
vmbs_chmsg_encode_close(void *buf, size_t buf_len, uint32_t child_relid)
{
	struct vmbs_chmsg m = { 0 };

	m.u.relid.child_relid = child_relid;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_CLOSECHANNEL);
}

int
vmbs_chmsg_encode_gpadl_header(void *buf, size_t buf_len, uint32_t child_relid,
			       uint32_t gpadl, uint16_t range_buflen,
			       uint16_t range_cnt, const void *ranges,
			       uint32_t ranges_len)
{
	struct vmbs_chmsg m = { 0 };

	m.u.gpadl_header.fixed.child_relid = child_relid;
	m.u.gpadl_header.fixed.gpadl = gpadl;
	m.u.gpadl_header.fixed.range_buflen = range_buflen;
	m.u.gpadl_header.fixed.range_cnt = range_cnt;
	m.u.gpadl_header.ranges = ranges;
	m.u.gpadl_header.ranges_len = ranges_len;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_GPADL_HEADER);
}

int
vmbs_chmsg_encode_gpadl_body(void *buf, size_t buf_len, uint32_t msgnumber,
			     uint32_t gpadl, const void *words, uint32_t word_cnt)
{
	struct vmbs_chmsg m = { 0 };

	m.u.gpadl_body.fixed.msgnumber = msgnumber;
	m.u.gpadl_body.fixed.gpadl = gpadl;
	m.u.gpadl_body.words = words;
	m.u.gpadl_body.word_cnt = word_cnt;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_GPADL_BODY);
}

int
vmbs_chmsg_encode_gpadl_created(void *buf, size_t buf_len, uint32_t child_relid,
				uint32_t gpadl, uint32_t status)
{
	struct vmbs_chmsg m = { 0 };

	m.u.gpadl_created.child_relid = child_relid;
	m.u.gpadl_created.gpadl = gpadl;
	m.u.gpadl_created.creation_status = status;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_GPADL_CREATED);
}

int
vmbs_chmsg_encode_gpadl_teardown(void *buf, size_t buf_len, uint32_t child_relid,
				 uint32_t gpadl)
{
	struct vmbs_chmsg m = { 0 };

	m.u.gpadl_teardown.child_relid = child_relid;
	m.u.gpadl_teardown.gpadl = gpadl;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_GPADL_TEARDOWN);
}

int
vmbs_chmsg_encode_gpadl_torndown(void *buf, size_t buf_len, uint32_t gpadl)
{
	struct vmbs_chmsg m = { 0 };

	m.u.gpadl_torndown.gpadl = gpadl;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_GPADL_TORNDOWN);
}

int
vmbs_chmsg_encode_relid_released(void *buf, size_t buf_len, uint32_t child_relid)
{
	struct vmbs_chmsg m = { 0 };

	m.u.relid.child_relid = child_relid;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_RELID_RELEASED);
}

int
vmbs_chmsg_encode_initiate_contact(void *buf, size_t buf_len, uint32_t version,
				   uint32_t target_vcpu, uint64_t interrupt_page,
				   uint64_t monitor_page1, uint64_t monitor_page2)
{
	struct vmbs_chmsg m = { 0 };

	m.u.initiate_contact.version_requested = version;
	m.u.initiate_contact.target_vcpu = target_vcpu;
	m.u.initiate_contact.interrupt_page = interrupt_page;
	m.u.initiate_contact.monitor_page1 = monitor_page1;
	m.u.initiate_contact.monitor_page2 = monitor_page2;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_INITIATE_CONTACT);
}

int
vmbs_chmsg_encode_version_response(void *buf, size_t buf_len, bool supported,
				   uint8_t connection_state, uint32_t msg_conn_id)
{
	struct vmbs_chmsg m = { 0 };

	m.u.version_response.version_supported = supported ? 1 : 0;
	m.u.version_response.connection_state = connection_state;
	m.u.version_response.msg_conn_id = msg_conn_id;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_VERSION_RESPONSE);
}

int
vmbs_chmsg_encode_unload(void *buf, size_t buf_len)
{
	struct vmbs_chmsg m = { 0 };

	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_UNLOAD);
}

int
vmbs_chmsg_encode_unload_response(void *buf, size_t buf_len)
{
	struct vmbs_chmsg m = { 0 };

	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_UNLOAD_RESPONSE);
}

int
vmbs_chmsg_encode_modify_channel(void *buf, size_t buf_len, uint32_t child_relid,
				 uint32_t target_vp)
{
	struct vmbs_chmsg m = { 0 };

	m.u.modify_channel.child_relid = child_relid;
	m.u.modify_channel.target_vp = target_vp;
	return chmsg_encode_type(buf, buf_len, &m, VMBS_CHMSG_MODIFYCHANNEL);
}

int
vmbs_chmsg_gpadl_gen_init(struct vmbs_chmsg_gpadl_gen *g, uint32_t child_relid,
			  uint32_t gpadl, uint32_t range_cnt,
			  const void *ranges, size_t ranges_len)
{
	if (g == NULL || ranges == NULL || range_cnt > UINT16_MAX ||
	    ranges_len > VMBS_CHMSG_GPADL_MAX_DATA)
		return -EINVAL;
	/* present = 0 here: only the whole-list rules apply at this point. */
	if (chmsg_gpadl_header_ok((uint16_t)ranges_len, (uint16_t)range_cnt, 0) < 0)
		return -EINVAL;
	g->data = ranges;
	g->len = (uint32_t)ranges_len;
	g->pos = 0;
	g->child_relid = child_relid;
	g->gpadl = gpadl;
	/* The header is message 0 of the sequence; bodies count from 1. */
	g->msgnumber = 1;
	g->range_cnt = (uint16_t)range_cnt;
	g->header_sent = false;
	return 0;
}

int
vmbs_chmsg_gpadl_gen_next(struct vmbs_chmsg_gpadl_gen *g, void *buf, size_t buf_len)
{
	uint32_t chunk;
	int n;

	if (g == NULL || buf == NULL)
		return -EINVAL;
	if (!g->header_sent) {
		chunk = g->len < VMBS_CHMSG_GPADL_HEADER_MAX_DATA ?
			g->len : (uint32_t)VMBS_CHMSG_GPADL_HEADER_MAX_DATA;
		n = vmbs_chmsg_encode_gpadl_header(buf, buf_len, g->child_relid,
						   g->gpadl, (uint16_t)g->len,
						   g->range_cnt, g->data, chunk);
		if (n < 0)
			return n;
		g->header_sent = true;
		g->pos = chunk;
		return n;
	}
	if (g->pos >= g->len)
		return 0;
	chunk = g->len - g->pos;
	if (chunk > VMBS_CHMSG_GPADL_BODY_MAX_DATA)
		chunk = VMBS_CHMSG_GPADL_BODY_MAX_DATA;
	n = vmbs_chmsg_encode_gpadl_body(buf, buf_len, g->msgnumber, g->gpadl,
					 g->data + g->pos, chunk / 8);
	if (n < 0)
		return n;
	g->msgnumber++;
	g->pos += chunk;
	return n;
}

uint32_t
vmbs_chmsg_gpadl_msg_count(uint32_t ranges_len)
{
	uint32_t rest;

	if (ranges_len <= VMBS_CHMSG_GPADL_HEADER_MAX_DATA)
		return 1;
	rest = ranges_len - (uint32_t)VMBS_CHMSG_GPADL_HEADER_MAX_DATA;
	return 1 + (rest + (uint32_t)VMBS_CHMSG_GPADL_BODY_MAX_DATA - 1) /
		   (uint32_t)VMBS_CHMSG_GPADL_BODY_MAX_DATA;
}
