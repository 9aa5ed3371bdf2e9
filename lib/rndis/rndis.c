/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * RNDIS codec. The PACKET walker and the PPI parser run once per guest TX
 * frame, the rest on the control path. Inputs are private copies, but the
 * parsers still take one copy of each fixed part before checking it, so
 * that they stay correct if a caller ever hands them shared memory, and
 * every offset + length sum is done in 64 bits: a guest controls all of
 * them and 0xFFFFFFF0 + 0x20 must not wrap to 0x10.
 */

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "vmbs_rndis.h"

static_assert(VMBS_RNDIS_PACKET_OFFSET_MIN == 36, "PACKET body is 36 bytes");
static_assert(VMBS_RNDIS_PPI_U32_SIZE == 16, "a u32 PPI is 16 bytes");

/* The fixed size of each type, header included; 0: not an RNDIS type here. */
static uint32_t
rndis_min_len(uint32_t type)
{
	switch (type) {
	case VMBS_RNDIS_MSG_PACKET:
		return sizeof(struct vmbs_rndis_packet);
	case VMBS_RNDIS_MSG_INITIALIZE:
		return sizeof(struct vmbs_rndis_init_req);
	case VMBS_RNDIS_MSG_HALT:
		return sizeof(struct vmbs_rndis_halt_req);
	case VMBS_RNDIS_MSG_QUERY:
	case VMBS_RNDIS_MSG_SET:
		return sizeof(struct vmbs_rndis_oid_req);
	case VMBS_RNDIS_MSG_RESET:
		return sizeof(struct vmbs_rndis_reset_req);
	case VMBS_RNDIS_MSG_INDICATE_STATUS:
		return sizeof(struct vmbs_rndis_indicate_status);
	case VMBS_RNDIS_MSG_KEEPALIVE:
		return sizeof(struct vmbs_rndis_keepalive_req);
	case VMBS_RNDIS_MSG_INITIALIZE_CMPLT:
		return sizeof(struct vmbs_rndis_init_cmplt);
	case VMBS_RNDIS_MSG_QUERY_CMPLT:
		return sizeof(struct vmbs_rndis_query_cmplt);
	case VMBS_RNDIS_MSG_SET_CMPLT:
	case VMBS_RNDIS_MSG_KEEPALIVE_CMPLT:
		return sizeof(struct vmbs_rndis_status_cmplt);
	case VMBS_RNDIS_MSG_RESET_CMPLT:
		return sizeof(struct vmbs_rndis_reset_cmplt);
	default:
		return 0;
	}
}

const char *
vmbs_rndis_type_name(uint32_t type)
{
	switch (type) {
	case VMBS_RNDIS_MSG_PACKET: return "PACKET";
	case VMBS_RNDIS_MSG_INITIALIZE: return "INITIALIZE";
	case VMBS_RNDIS_MSG_HALT: return "HALT";
	case VMBS_RNDIS_MSG_QUERY: return "QUERY";
	case VMBS_RNDIS_MSG_SET: return "SET";
	case VMBS_RNDIS_MSG_RESET: return "RESET";
	case VMBS_RNDIS_MSG_INDICATE_STATUS: return "INDICATE_STATUS";
	case VMBS_RNDIS_MSG_KEEPALIVE: return "KEEPALIVE";
	case VMBS_RNDIS_MSG_SET_EX: return "SET_EX";
	case VMBS_RNDIS_MSG_INITIALIZE_CMPLT: return "INITIALIZE_CMPLT";
	case VMBS_RNDIS_MSG_QUERY_CMPLT: return "QUERY_CMPLT";
	case VMBS_RNDIS_MSG_SET_CMPLT: return "SET_CMPLT";
	case VMBS_RNDIS_MSG_RESET_CMPLT: return "RESET_CMPLT";
	case VMBS_RNDIS_MSG_KEEPALIVE_CMPLT: return "KEEPALIVE_CMPLT";
	case VMBS_RNDIS_MSG_SET_EX_CMPLT: return "SET_EX_CMPLT";
	default: return "UNKNOWN";
	}
}

int
vmbs_rndis_msg_check(const void *buf, size_t avail, unsigned int flags,
		     struct vmbs_rndis_hdr *hdr)
{
	struct vmbs_rndis_hdr h;
	uint32_t min_len;

	if (buf == NULL || (flags & ~VMBS_RNDIS_CHECK_ALIGN4) != 0)
		return -EINVAL;
	if (avail < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.len < sizeof(h) || h.len > avail)
		return -EBADMSG;
	if ((flags & VMBS_RNDIS_CHECK_ALIGN4) != 0 && h.len % 4 != 0)
		return -EBADMSG;
	if (h.type == VMBS_RNDIS_MSG_SET_EX || h.type == VMBS_RNDIS_MSG_SET_EX_CMPLT) {
		if (hdr != NULL)
			*hdr = h;
		return -EOPNOTSUPP;
	}
	min_len = rndis_min_len(h.type);
	if (min_len == 0 || h.len < min_len)
		return -EBADMSG;
	if (hdr != NULL)
		*hdr = h;
	return 0;
}

/* ---- PACKET walker ---- */

void
vmbs_rndis_pkt_iter_init(struct vmbs_rndis_pkt_iter *it, const void *buf, size_t len)
{
	if (it == NULL)
		return;
	it->buf = buf;
	it->off = 0;
	it->err = 0;
	it->len = (uint32_t)len;
	if (len > UINT32_MAX || (buf == NULL && len > 0)) {
		it->len = 0;
		it->err = -EINVAL;
	}
}

/*
 * Check the body of the PACKET copied in @p p, whose checked length is
 * @p msg_len, and describe it relative to @p base (the message's offset).
 */
static int
rndis_pkt_body_ok(const struct vmbs_rndis_packet *p, uint32_t msg_len, uint32_t base,
		  struct vmbs_rndis_pkt_info *pkt)
{
	const uint64_t body = VMBS_RNDIS_BODY_OFFSET;

	/* OpenVMM's rules: no out-of-band data, no virtual circuits. */
	if (p->oob_data_len != 0 || p->num_oob_data_elements != 0 || p->vc_handle != 0)
		return -EBADMSG;
	if (p->data_len == 0 || p->data_offset < VMBS_RNDIS_PACKET_OFFSET_MIN ||
	    body + p->data_offset + p->data_len > msg_len)
		return -EBADMSG;

	memset(pkt, 0, sizeof(*pkt));
	if (p->per_pkt_info_len != 0) {
		if (p->per_pkt_info_offset < VMBS_RNDIS_PACKET_OFFSET_MIN ||
		    p->per_pkt_info_offset % 4 != 0 ||
		    body + p->per_pkt_info_offset + p->per_pkt_info_len > msg_len)
			return -EBADMSG;
		pkt->ppi_off = base + VMBS_RNDIS_BODY_OFFSET + p->per_pkt_info_offset;
		pkt->ppi_len = p->per_pkt_info_len;
	}
	/* Cannot wrap: base + msg_len <= buffer length <= UINT32_MAX. */
	pkt->msg_off = base;
	pkt->msg_len = msg_len;
	pkt->data_off = base + VMBS_RNDIS_BODY_OFFSET + p->data_offset;
	pkt->data_len = p->data_len;
	return 0;
}

int
vmbs_rndis_pkt_iter_next(struct vmbs_rndis_pkt_iter *it, struct vmbs_rndis_pkt_info *pkt)
{
	struct vmbs_rndis_packet p;
	struct vmbs_rndis_hdr h;
	uint32_t rem;

	if (it == NULL || pkt == NULL)
		return -EINVAL;
	if (it->err != 0)
		return it->err;
	if (it->off >= it->len)
		return 0;

	rem = it->len - it->off;
	if (vmbs_rndis_msg_check(it->buf + it->off, rem, 0, &h) < 0 ||
	    h.type != VMBS_RNDIS_MSG_PACKET)
		goto bad;
	/*
	 * Another message follows: it starts where this one ends, which must
	 * keep the 4-byte alignment the PACKET layout assumes. Only the last
	 * message may have an odd length (Linux's single one often does).
	 */
	if (h.len < rem && h.len % 4 != 0)
		goto bad;
	/* The body; the header keeps the copy already checked. */
	memcpy(&p, it->buf + it->off, sizeof(p));
	p.hdr = h;
	if (rndis_pkt_body_ok(&p, h.len, it->off, pkt) < 0)
		goto bad;
	it->off += h.len;
	return 1;

bad:
	it->err = -EBADMSG;
	return it->err;
}

int
vmbs_rndis_pkt_check_head(const void *head, uint32_t head_len, uint64_t total,
			  struct vmbs_rndis_pkt_info *pkt)
{
	struct vmbs_rndis_packet p;

	if (head == NULL || pkt == NULL)
		return -EINVAL;
	if (total > UINT32_MAX || head_len > total || head_len < sizeof(p))
		return -EBADMSG;
	memcpy(&p, head, sizeof(p));
	if (p.hdr.type != VMBS_RNDIS_MSG_PACKET || p.hdr.len < sizeof(p) ||
	    p.hdr.len > total)
		return -EBADMSG;
	if (rndis_pkt_body_ok(&p, p.hdr.len, 0, pkt) < 0)
		return -EBADMSG;
	/* The PPIs are parsed from the copy: they must lie inside it. */
	if (pkt->ppi_len != 0 && (uint64_t)pkt->ppi_off + pkt->ppi_len > head_len)
		return -EBADMSG;
	return 0;
}

int
vmbs_rndis_pkt_parse_all(const void *buf, size_t len, struct vmbs_rndis_pkt_info *pkts,
			 unsigned int max)
{
	struct vmbs_rndis_pkt_iter it;
	struct vmbs_rndis_pkt_info info;
	unsigned int n = 0;
	int rc;

	if (buf == NULL || pkts == NULL || len > UINT32_MAX)
		return -EINVAL;
	if (max > INT_MAX)
		max = INT_MAX;
	vmbs_rndis_pkt_iter_init(&it, buf, len);
	while ((rc = vmbs_rndis_pkt_iter_next(&it, &info)) > 0) {
		if (n == max)
			return -ENOBUFS;
		pkts[n++] = info;
	}
	if (rc < 0)
		return rc;
	return n == 0 ? -EBADMSG : (int)n;
}

/* ---- per-packet info ---- */

/* The present bit of a PPI type this parser acts on; 0 for the others. */
static uint32_t
ppi_flag(uint32_t type)
{
	switch (type) {
	case VMBS_RNDIS_PPI_CSUM:
		return VMBS_RNDIS_PPI_F_CSUM;
	case VMBS_RNDIS_PPI_LSO:
		return VMBS_RNDIS_PPI_F_LSO;
	case VMBS_RNDIS_PPI_IEEE_8021Q:
		return VMBS_RNDIS_PPI_F_VLAN;
	case VMBS_RNDIS_PPI_HASH_VALUE:
		return VMBS_RNDIS_PPI_F_HASH_VALUE;
	case VMBS_RNDIS_PPI_HASH_INFO:
		return VMBS_RNDIS_PPI_F_HASH_INFO;
	default:
		return 0;
	}
}

static void
ppi_store(struct vmbs_rndis_ppi_info *out, uint32_t flag, uint32_t w)
{
	switch (flag) {
	case VMBS_RNDIS_PPI_F_CSUM:
		out->csum = w;
		out->csum_tcp_hdr_off = (uint16_t)((w >> VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_SHIFT) &
						   VMBS_RNDIS_TXCSUM_TCP_HDR_OFF_MASK);
		break;
	case VMBS_RNDIS_PPI_F_LSO:
		out->lso = w;
		out->lso_mss = w & VMBS_RNDIS_LSO_MSS_MASK;
		out->lso_tcp_hdr_off = (uint16_t)((w >> VMBS_RNDIS_LSO_TCP_HDR_OFF_SHIFT) &
						  VMBS_RNDIS_LSO_TCP_HDR_OFF_MASK);
		out->lso_v2 = (w & VMBS_RNDIS_LSO_V2) != 0;
		/* Bit 31 is reserved in the LSOv1 layout. */
		out->lso_ipv6 = out->lso_v2 && (w & VMBS_RNDIS_LSO_IPV6) != 0;
		break;
	case VMBS_RNDIS_PPI_F_VLAN:
		out->vlan = w;
		out->vlan_prio = (uint8_t)(w & VMBS_RNDIS_VLAN_PRIO_MASK);
		out->vlan_cfi = (uint8_t)((w >> VMBS_RNDIS_VLAN_CFI_SHIFT) & 1u);
		out->vlan_vid = (uint16_t)((w >> VMBS_RNDIS_VLAN_VID_SHIFT) &
					   VMBS_RNDIS_VLAN_VID_MASK);
		break;
	case VMBS_RNDIS_PPI_F_HASH_VALUE:
		out->hash_value = w;
		break;
	case VMBS_RNDIS_PPI_F_HASH_INFO:
		out->hash_info = w;
		break;
	default:
		break;
	}
}

int
vmbs_rndis_ppi_parse(const void *buf, uint32_t len, struct vmbs_rndis_ppi_info *out)
{
	const uint8_t *p = buf;
	struct vmbs_rndis_ppi_hdr h;
	uint32_t off = 0, rem = len, flag, w;

	if (out == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	memset(out, 0, sizeof(*out));

	while (rem > 0) {
		if (rem < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p + off, sizeof(h));
		/* size >= 12 also guarantees progress. */
		if (h.size < sizeof(h) || h.size % 4 != 0 || h.size > rem)
			return -EBADMSG;
		if (h.ppi_offset < sizeof(h) || h.ppi_offset > h.size)
			return -EBADMSG;

		flag = ppi_flag(h.type);
		if (flag == 0) {
			out->unknown_cnt++;
		} else {
			if (h.size - h.ppi_offset < sizeof(w) || (out->present & flag) != 0)
				return -EBADMSG;
			memcpy(&w, p + off + h.ppi_offset, sizeof(w));
			out->present |= flag;
			ppi_store(out, flag, w);
		}
		off += h.size;
		rem -= h.size;
	}
	return 0;
}

/* ---- control messages ---- */

/*
 * Locate an info buffer given by (@p buflen, @p bufoff); the offset counts
 * from byte 8 and must not point into the fixed part, @p fixed bytes.
 */
static int
rndis_info_buf(struct vmbs_rndis_ctl *out, uint32_t buflen, uint32_t bufoff, uint32_t fixed)
{
	if (buflen == 0)
		return 0;
	if (bufoff < fixed - VMBS_RNDIS_BODY_OFFSET ||
	    (uint64_t)VMBS_RNDIS_BODY_OFFSET + bufoff + buflen > out->len)
		return -EBADMSG;
	out->info_off = VMBS_RNDIS_BODY_OFFSET + bufoff;
	out->info_len = buflen;
	return 0;
}

int
vmbs_rndis_ctl_decode(const void *buf, size_t len, struct vmbs_rndis_ctl *out)
{
	struct vmbs_rndis_hdr h;
	uint32_t min_len;
	int rc;

	if (buf == NULL || out == NULL)
		return -EINVAL;
	rc = vmbs_rndis_msg_check(buf, len, 0, &h);
	if (rc < 0)
		return rc;
	if (h.type == VMBS_RNDIS_MSG_PACKET)
		return -EBADMSG;

	min_len = rndis_min_len(h.type);
	memset(out, 0, sizeof(*out));
	out->type = h.type;
	out->len = h.len;
	/* The fixed part; its header stays the copy msg_check() judged. */
	memcpy(&out->u, buf, min_len);
	out->u.hdr = h;

	switch (h.type) {
	case VMBS_RNDIS_MSG_QUERY:
	case VMBS_RNDIS_MSG_SET:
		return rndis_info_buf(out, out->u.oid.info_buflen, out->u.oid.info_buf_offset,
				      sizeof(out->u.oid));
	case VMBS_RNDIS_MSG_QUERY_CMPLT:
		return rndis_info_buf(out, out->u.query_cmplt.info_buflen,
				      out->u.query_cmplt.info_buf_offset,
				      sizeof(out->u.query_cmplt));
	case VMBS_RNDIS_MSG_INDICATE_STATUS:
		return rndis_info_buf(out, out->u.indicate.status_buflen,
				      out->u.indicate.status_buf_offset,
				      sizeof(out->u.indicate));
	default:
		return 0;
	}
}

/* Room for a fixed part plus a variable tail whose total fits an int. */
static int
rndis_fit(size_t buf_len, uint32_t fixed, const void *tail, uint32_t tail_len)
{
	if ((tail == NULL) != (tail_len == 0) || tail_len > (uint32_t)INT_MAX - fixed)
		return -EINVAL;
	if (buf_len < (size_t)fixed + tail_len)
		return -ENOBUFS;
	return 0;
}

int
vmbs_rndis_encode_init_cmplt(void *buf, size_t buf_len, uint32_t req_id, uint32_t status,
			     uint32_t max_pkt_per_msg, uint32_t max_xfer_size,
			     uint32_t pkt_align_factor)
{
	struct vmbs_rndis_init_cmplt c;

	if (buf == NULL)
		return -EINVAL;
	if (buf_len < sizeof(c))
		return -ENOBUFS;
	memset(&c, 0, sizeof(c));
	c.hdr.type = VMBS_RNDIS_MSG_INITIALIZE_CMPLT;
	c.hdr.len = sizeof(c);
	c.req_id = req_id;
	c.status = status;
	c.major = VMBS_RNDIS_VERSION_MAJOR;
	c.minor = VMBS_RNDIS_VERSION_MINOR;
	c.dev_flags = VMBS_RNDIS_DF_CONNECTIONLESS;
	c.medium = VMBS_RNDIS_MEDIUM_802_3;
	c.max_pkt_per_msg = max_pkt_per_msg;
	c.max_xfer_size = max_xfer_size;
	c.pkt_align_factor = pkt_align_factor;
	memcpy(buf, &c, sizeof(c));
	return sizeof(c);
}

int
vmbs_rndis_encode_query_cmplt(void *buf, size_t buf_len, uint32_t req_id, uint32_t status,
			      const void *info, uint32_t info_len)
{
	struct vmbs_rndis_query_cmplt c;
	int rc;

	if (buf == NULL)
		return -EINVAL;
	rc = rndis_fit(buf_len, sizeof(c), info, info_len);
	if (rc < 0)
		return rc;
	memset(&c, 0, sizeof(c));
	c.hdr.type = VMBS_RNDIS_MSG_QUERY_CMPLT;
	c.hdr.len = (uint32_t)sizeof(c) + info_len;
	c.req_id = req_id;
	c.status = status;
	c.info_buflen = info_len;
	c.info_buf_offset = sizeof(c) - VMBS_RNDIS_BODY_OFFSET;
	memcpy(buf, &c, sizeof(c));
	if (info_len != 0)
		memcpy((uint8_t *)buf + sizeof(c), info, info_len);
	return (int)c.hdr.len;
}

/* SET_CMPLT and KEEPALIVE_CMPLT. */
static int
rndis_encode_status_cmplt(void *buf, size_t buf_len, uint32_t type, uint32_t req_id,
			  uint32_t status)
{
	struct vmbs_rndis_status_cmplt c;

	if (buf == NULL)
		return -EINVAL;
	if (buf_len < sizeof(c))
		return -ENOBUFS;
	c.hdr.type = type;
	c.hdr.len = sizeof(c);
	c.req_id = req_id;
	c.status = status;
	memcpy(buf, &c, sizeof(c));
	return sizeof(c);
}

int
vmbs_rndis_encode_set_cmplt(void *buf, size_t buf_len, uint32_t req_id, uint32_t status)
{
	return rndis_encode_status_cmplt(buf, buf_len, VMBS_RNDIS_MSG_SET_CMPLT, req_id, status);
}

int
vmbs_rndis_encode_keepalive_cmplt(void *buf, size_t buf_len, uint32_t req_id, uint32_t status)
{
	return rndis_encode_status_cmplt(buf, buf_len, VMBS_RNDIS_MSG_KEEPALIVE_CMPLT, req_id,
					 status);
}

int
vmbs_rndis_encode_reset_cmplt(void *buf, size_t buf_len, uint32_t status,
			      uint32_t addressing_reset)
{
	struct vmbs_rndis_reset_cmplt c;

	if (buf == NULL)
		return -EINVAL;
	if (buf_len < sizeof(c))
		return -ENOBUFS;
	c.hdr.type = VMBS_RNDIS_MSG_RESET_CMPLT;
	c.hdr.len = sizeof(c);
	c.status = status;
	c.addressing_reset = addressing_reset;
	memcpy(buf, &c, sizeof(c));
	return sizeof(c);
}

int
vmbs_rndis_encode_indicate_status(void *buf, size_t buf_len, uint32_t status,
				  const void *sbuf, uint32_t sbuf_len)
{
	struct vmbs_rndis_indicate_status c;
	int rc;

	if (buf == NULL)
		return -EINVAL;
	rc = rndis_fit(buf_len, sizeof(c), sbuf, sbuf_len);
	if (rc < 0)
		return rc;
	c.hdr.type = VMBS_RNDIS_MSG_INDICATE_STATUS;
	c.hdr.len = (uint32_t)sizeof(c) + sbuf_len;
	c.status = status;
	c.status_buflen = sbuf_len;
	/* Always 12: Linux checks offset >= 12 before reading a buffer. */
	c.status_buf_offset = sizeof(c) - VMBS_RNDIS_BODY_OFFSET;
	memcpy(buf, &c, sizeof(c));
	if (sbuf_len != 0)
		memcpy((uint8_t *)buf + sizeof(c), sbuf, sbuf_len);
	return (int)c.hdr.len;
}

/* ---- received frames ---- */

#define RX_PPI_FLAGS (VMBS_RNDIS_PPI_F_CSUM | VMBS_RNDIS_PPI_F_VLAN | \
		      VMBS_RNDIS_PPI_F_HASH_VALUE | VMBS_RNDIS_PPI_F_HASH_INFO)

uint32_t
vmbs_rndis_rx_hdr_len(const struct vmbs_rndis_ppi_info *ppi)
{
	uint32_t present = ppi != NULL ? ppi->present & RX_PPI_FLAGS : 0;

	return (uint32_t)sizeof(struct vmbs_rndis_packet) +
	       (uint32_t)__builtin_popcount(present) * VMBS_RNDIS_PPI_U32_SIZE;
}

/* Append a one-u32 PPI at @p p; DPDK reads its data at offset 12. */
static uint8_t *
rndis_put_ppi(uint8_t *p, uint32_t type, uint32_t w)
{
	struct vmbs_rndis_ppi_hdr h = {
		.size = VMBS_RNDIS_PPI_U32_SIZE,
		.type = type,
		.ppi_offset = VMBS_RNDIS_PPI_DATA_OFFSET,
	};

	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), &w, sizeof(w));
	return p + VMBS_RNDIS_PPI_U32_SIZE;
}

int
vmbs_rndis_encode_rx_packet(void *buf, size_t buf_len, uint32_t data_len,
			    const struct vmbs_rndis_ppi_info *ppi)
{
	uint32_t present = ppi != NULL ? ppi->present : 0;
	struct vmbs_rndis_packet pkt;
	uint32_t hlen, vlan;
	uint8_t *p;

	if (buf == NULL || data_len == 0 || (present & ~RX_PPI_FLAGS) != 0)
		return -EINVAL;
	if ((present & VMBS_RNDIS_PPI_F_VLAN) != 0 &&
	    (ppi->vlan_prio > VMBS_RNDIS_VLAN_PRIO_MASK || ppi->vlan_cfi > 1 ||
	     ppi->vlan_vid > VMBS_RNDIS_VLAN_VID_MASK))
		return -EINVAL;
	hlen = vmbs_rndis_rx_hdr_len(ppi);
	if ((uint64_t)hlen + data_len > INT_MAX)
		return -EINVAL;
	if (buf_len < (size_t)hlen + data_len)
		return -ENOBUFS;

	memset(&pkt, 0, sizeof(pkt));
	pkt.hdr.type = VMBS_RNDIS_MSG_PACKET;
	pkt.hdr.len = hlen + data_len;
	pkt.data_offset = hlen - VMBS_RNDIS_BODY_OFFSET;
	pkt.data_len = data_len;
	pkt.per_pkt_info_len = hlen - (uint32_t)sizeof(pkt);
	/* Linux complains about an offset without a length: 0 when empty. */
	if (pkt.per_pkt_info_len != 0)
		pkt.per_pkt_info_offset = VMBS_RNDIS_PACKET_OFFSET_MIN;
	memcpy(buf, &pkt, sizeof(pkt));

	p = (uint8_t *)buf + sizeof(pkt);
	if ((present & VMBS_RNDIS_PPI_F_CSUM) != 0)
		p = rndis_put_ppi(p, VMBS_RNDIS_PPI_CSUM, ppi->csum);
	if ((present & VMBS_RNDIS_PPI_F_VLAN) != 0) {
		vlan = (uint32_t)ppi->vlan_prio |
		       (uint32_t)ppi->vlan_cfi << VMBS_RNDIS_VLAN_CFI_SHIFT |
		       (uint32_t)ppi->vlan_vid << VMBS_RNDIS_VLAN_VID_SHIFT;
		p = rndis_put_ppi(p, VMBS_RNDIS_PPI_IEEE_8021Q, vlan);
	}
	if ((present & VMBS_RNDIS_PPI_F_HASH_VALUE) != 0)
		p = rndis_put_ppi(p, VMBS_RNDIS_PPI_HASH_VALUE, ppi->hash_value);
	if ((present & VMBS_RNDIS_PPI_F_HASH_INFO) != 0)
		rndis_put_ppi(p, VMBS_RNDIS_PPI_HASH_INFO, ppi->hash_info);
	return (int)hlen;
}

/* ---- NDIS objects ---- */

/* A table or key at (@p off, @p size) inside @p len, past the header. */
static bool
ndis_area_ok(uint32_t off, uint32_t size, uint32_t hdr_size, uint32_t len)
{
	return off >= hdr_size && (uint64_t)off + size <= len;
}

int
vmbs_ndis_rss_params_parse(const void *buf, uint32_t len, struct vmbs_ndis_rss_config *out)
{
	const uint8_t *p = buf;
	struct vmbs_ndis_rss_params prm;
	uint32_t i;

	if (buf == NULL || out == NULL)
		return -EINVAL;
	if (len < VMBS_NDIS_RSS_PARAMS_SIZE_REV_1)
		return -EBADMSG;
	/* Revision 1 lacks the CPU-mask fields; they are not used. */
	memset(&prm, 0, sizeof(prm));
	memcpy(&prm, p, len < sizeof(prm) ? len : sizeof(prm));
	if (prm.hdr.type != VMBS_NDIS_OBJTYPE_RSS_PARAMS ||
	    prm.hdr.size < VMBS_NDIS_RSS_PARAMS_SIZE_REV_1 || prm.hdr.size > len)
		return -EBADMSG;

	memset(out, 0, sizeof(*out));
	out->flags = prm.flags;
	if ((prm.flags & VMBS_NDIS_RSS_FLAG_DISABLE) != 0) {
		out->disable = true;
		return 0;
	}
	if ((prm.flags & VMBS_NDIS_RSS_FLAG_HASH_INFO_UNCHANGED) == 0) {
		out->has_hash_info = true;
		out->hash_info = prm.hash_info;
	}
	if ((prm.flags & VMBS_NDIS_RSS_FLAG_TABLE_UNCHANGED) == 0) {
		if (prm.table_size == 0 || prm.table_size % sizeof(uint32_t) != 0 ||
		    prm.table_size > VMBS_NDIS_RSS_TABLE_MAX * sizeof(uint32_t) ||
		    !ndis_area_ok(prm.table_offset, prm.table_size, prm.hdr.size, len))
			return -EBADMSG;
		out->table_cnt = prm.table_size / (uint32_t)sizeof(uint32_t);
		for (i = 0; i < out->table_cnt; i++)
			memcpy(&out->table[i], p + prm.table_offset + i * sizeof(uint32_t),
			       sizeof(uint32_t));
	}
	if ((prm.flags & VMBS_NDIS_RSS_FLAG_KEY_UNCHANGED) == 0) {
		if (prm.key_size != VMBS_NDIS_RSS_KEY_SIZE ||
		    !ndis_area_ok(prm.key_offset, prm.key_size, prm.hdr.size, len))
			return -EBADMSG;
		out->has_key = true;
		memcpy(out->key, p + prm.key_offset, VMBS_NDIS_RSS_KEY_SIZE);
	}
	return 0;
}

int
vmbs_ndis_offload_params_parse(const void *buf, uint32_t len,
			       struct vmbs_ndis_offload_params *out)
{
	struct vmbs_ndis_obj_hdr h;
	uint32_t n;

	if (buf == NULL || out == NULL)
		return -EINVAL;
	if (len < VMBS_NDIS_OFFLOAD_PARAMS_SIZE_REV_1)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.type != VMBS_NDIS_OBJTYPE_DEFAULT || h.size < VMBS_NDIS_OFFLOAD_PARAMS_SIZE_REV_1 ||
	    h.size > len)
		return -EBADMSG;
	n = h.size < sizeof(*out) ? h.size : (uint32_t)sizeof(*out);
	memset(out, 0, sizeof(*out));
	memcpy(out, buf, n);
	out->hdr = h;
	return 0;
}
