/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Tx offloads in software (vmbs_txoff.h): headers are copied once into
 * vmbs_txoff_hdrs and only that copy is parsed and edited; the payload is
 * read in place, never written (it may be a guest's memory).
 */

#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ip.h>

#include "vmbs_rndis.h"
#include "vmbs_txoff.h"

#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define TCP_F_FIN 0x01
#define TCP_F_PSH 0x08
#define TCP_F_CWR 0x80

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* Copy up to @p len bytes of the frame from @p off on into @p dst. */
static uint32_t
iov_gather(const struct iovec *iov, uint16_t iovcnt, uint32_t off, uint8_t *dst, uint32_t len)
{
	uint32_t got = 0;
	uint16_t k;

	for (k = 0; k < iovcnt && got < len; k++) {
		uint32_t l = (uint32_t)iov[k].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = RTE_MIN(l - off, len - got);
		memcpy(dst + got, (const uint8_t *)iov[k].iov_base + off, c);
		got += c;
		off = 0;
	}
	return got;
}

/*
 * One's complement sum of a buffer that starts @p pos bytes into the
 * summed data: a buffer at an odd position contributes its sum byte-
 * swapped (RFC 1071), so sums of any split of the data agree.
 */
static uint32_t
sum_add(uint32_t acc, const void *p, uint32_t len, uint32_t *pos)
{
	uint32_t s = __rte_raw_cksum(p, len, 0);

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	if (*pos & 1)
		s = ((s & 0xff) << 8) | (s >> 8);
	*pos += len;
	return acc + s;
}

static uint16_t
sum_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

int
vmbs_txoff_parse(const struct iovec *iov, uint16_t iovcnt, uint32_t frame_len, bool tso,
	       struct vmbs_txoff_hdrs *h)
{
	const uint8_t *b = h->b;
	uint32_t l2 = 14, l3, l4, ip_len, have;
	uint16_t type;
	int tags, ext;

	memset(h, 0, offsetof(struct vmbs_txoff_hdrs, b));
	have = iov_gather(iov, iovcnt, 0, h->b, (uint32_t)RTE_MIN(frame_len, sizeof(h->b)));
	if (have < l2)
		return -EINVAL;
	type = rd16(b + 12);
	for (tags = 0; (type == ETH_P_8021Q || type == ETH_P_8021AD) && tags < 2; tags++) {
		if (have < l2 + 4)
			return -EINVAL;
		type = rd16(b + l2 + 2);
		l2 += 4;
	}
	if (type == ETH_P_IPV4) {
		if (have < l2 + 20 || b[l2] >> 4 != 4)
			return -EINVAL;
		l3 = (b[l2] & 0xfu) * 4u;
		if (l3 < 20 || have < l2 + l3)
			return -EINVAL;
		h->ipv4 = true;
		h->proto = b[l2 + 9];
		/* A fragment has no whole L4 segment to sum. */
		h->fragment = (rd16(b + l2 + 6) & 0x3fff) != 0;
		ip_len = rd16(b + l2 + 2);
	} else if (type == ETH_P_IPV6) {
		if (have < l2 + 40 || b[l2] >> 4 != 6)
			return -EINVAL;
		/*
		 * Hop-by-hop, destination options and routing headers are
		 * walked (at most 8, within the copy); a routing header with
		 * segments left would change the pseudo-header's destination,
		 * and other headers (fragment, AH, ESP) end the walk.
		 */
		l3 = 40;
		h->proto = b[l2 + 6];
		for (ext = 0; ext < 8 && (h->proto == 0 || h->proto == 60 || h->proto == 43);
		     ext++) {
			if (have < l2 + l3 + 8)
				return -EINVAL;
			if (h->proto == 43 && b[l2 + l3 + 3] != 0)
				return -EPROTONOSUPPORT;
			h->proto = b[l2 + l3];
			l3 += (uint32_t)(b[l2 + l3 + 1] + 1) * 8u;
		}
		if (have < l2 + l3)
			return -EINVAL;
		ip_len = rd16(b + l2 + 4) + 40u;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (h->fragment) {
		l4 = 0;
	} else if (h->proto == IPPROTO_TCP) {
		if (have < l2 + l3 + 20)
			return -EINVAL;
		l4 = (uint32_t)(b[l2 + l3 + 12] >> 4) * 4u;
		if (l4 < 20 || have < l2 + l3 + l4)
			return -EINVAL;
	} else if (h->proto == IPPROTO_UDP) {
		l4 = 8;
		if (have < l2 + l3 + l4)
			return -EINVAL;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (tso && (h->proto != IPPROTO_TCP || h->fragment))
		return -EPROTONOSUPPORT;
	h->l2 = (uint16_t)l2;
	h->l3 = (uint16_t)l3;
	h->l4 = (uint16_t)l4;
	/*
	 * The IP packet ends where its header says, unless that lies beyond
	 * the frame or before the headers (a TSO frame's length field may be
	 * 0): then at the frame's end. Bytes past it (Ethernet padding) are
	 * copied but not summed.
	 */
	if (tso || ip_len < l3 + l4 || ip_len > frame_len - l2)
		ip_len = frame_len - l2;
	h->payload = ip_len - l3 - l4;
	h->frame_len = frame_len;
	return 0;
}

uint32_t
vmbs_txoff_nseg(const struct vmbs_txoff_hdrs *h, uint32_t mss)
{
	uint32_t n;

	if (mss == 0)
		return 0;
	n = h->payload == 0 ? 1 : (h->payload + mss - 1) / mss;
	return n;
}

/* Sum of the frame's bytes [off, off + len), from the frame in place. */
static uint32_t
sum_frame(uint32_t acc, const struct iovec *iov, uint16_t iovcnt, uint32_t off, uint32_t len,
	  uint32_t *pos)
{
	uint16_t k;

	for (k = 0; k < iovcnt && len > 0; k++) {
		uint32_t l = (uint32_t)iov[k].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = RTE_MIN(l - off, len);
		acc = sum_add(acc, (const uint8_t *)iov[k].iov_base + off, c, pos);
		len -= c;
		off = 0;
	}
	return acc;
}

/* Slices of the frame's bytes [off, off + len) into @p out. */
static uint16_t
iov_slice(const struct iovec *iov, uint16_t iovcnt, uint32_t off, uint32_t len,
	  struct iovec *out, uint16_t max)
{
	uint16_t k, n = 0;

	for (k = 0; k < iovcnt && len > 0 && n < max; k++) {
		uint32_t l = (uint32_t)iov[k].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = RTE_MIN(l - off, len);
		out[n].iov_base = (uint8_t *)iov[k].iov_base + off;
		out[n].iov_len = c;
		n++;
		len -= c;
		off = 0;
	}
	return len == 0 ? n : 0;
}

uint16_t
vmbs_txoff_segment(const struct vmbs_txoff_hdrs *h, const struct iovec *iov, uint16_t iovcnt,
		 uint32_t mss, uint32_t k, uint32_t nseg, uint8_t *hdr,
		 struct iovec *out, uint16_t max, uint32_t *csum_ppi)
{
	uint32_t hl = (uint32_t)h->l2 + h->l3 + h->l4, poff, plen, l4len, sum, pos;
	uint8_t *ip = hdr + h->l2, *l4 = ip + h->l3;
	uint16_t n, ck_off;

	if (max < 2)
		return 0;
	memcpy(hdr, h->b, hl);
	if (nseg > 1) {
		/* Segment k: its payload, lengths, IPv4 id, TCP seq and flags. */
		poff = hl + k * mss;
		plen = RTE_MIN(mss, h->payload - k * mss);
		if (h->ipv4) {
			wr16(ip + 2, (uint16_t)(h->l3 + h->l4 + plen));
			wr16(ip + 4, (uint16_t)(rd16(h->b + h->l2 + 4) + k));
		} else {
			wr16(ip + 4, (uint16_t)(h->l3 - 40 + h->l4 + plen));
		}
		wr32(l4 + 4, rd32(h->b + hl - h->l4 + 4) + k * mss);
		if (k + 1 < nseg)
			l4[13] &= (uint8_t)~(TCP_F_FIN | TCP_F_PSH);
		if (k > 0)
			l4[13] &= (uint8_t)~TCP_F_CWR;
	} else {
		poff = hl;
		plen = h->payload;
		if (mss != 0 && h->ipv4)
			wr16(ip + 2, (uint16_t)(h->l3 + h->l4 + plen));
		else if (mss != 0)
			wr16(ip + 4, (uint16_t)(h->l3 - 40 + h->l4 + plen));
	}
	*csum_ppi = 0;
	if (h->ipv4) {
		ip[10] = 0;
		ip[11] = 0;
		pos = 0;
		wr16(ip + 10, (uint16_t)~rte_be_to_cpu_16(sum_fold(sum_add(0, ip, h->l3, &pos))));
		*csum_ppi |= VMBS_RNDIS_RXCSUM_IP_OK;
	}
	out[0].iov_base = hdr;
	out[0].iov_len = hl;
	/* Everything after the headers: payload, and a single frame's padding. */
	n = iov_slice(iov, iovcnt, poff,
		      nseg > 1 ? plen : h->frame_len - hl, out + 1, (uint16_t)(max - 1));
	if (n == 0 && (nseg > 1 ? plen : h->frame_len - hl) != 0)
		return 0;
	if (h->fragment)
		return (uint16_t)(n + 1);
	/* L4: the pseudo-header, the (edited) L4 header, the payload. */
	l4len = h->l4 + plen;
	ck_off = h->proto == IPPROTO_TCP ? 16 : 6;
	l4[ck_off] = 0;
	l4[ck_off + 1] = 0;
	pos = 0;
	if (h->ipv4) {
		uint8_t ph[12];

		memcpy(ph, ip + 12, 8);
		ph[8] = 0;
		ph[9] = h->proto;
		wr16(ph + 10, (uint16_t)l4len);
		sum = sum_add(0, ph, sizeof(ph), &pos);
	} else {
		uint8_t ph[40];

		memcpy(ph, ip + 8, 32);
		wr32(ph + 32, l4len);
		ph[36] = 0;
		ph[37] = 0;
		ph[38] = 0;
		ph[39] = h->proto;
		sum = sum_add(0, ph, sizeof(ph), &pos);
	}
	sum = sum_add(sum, l4, h->l4, &pos);
	sum = sum_frame(sum, iov, iovcnt, poff, plen, &pos);
	{
		uint16_t c = (uint16_t)~rte_be_to_cpu_16(sum_fold(sum));

		/* UDP sends 0 as "no checksum": a computed 0 goes as 0xffff. */
		if (c == 0 && h->proto == IPPROTO_UDP)
			c = 0xffff;
		wr16(l4 + ck_off, c);
	}
	*csum_ppi |= h->proto == IPPROTO_TCP ? VMBS_RNDIS_RXCSUM_TCP_OK :
					       VMBS_RNDIS_RXCSUM_UDP_OK;
	return (uint16_t)(n + 1);
}
