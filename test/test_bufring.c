/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Unit tests of lib/bufring. A ring half lives in plain aligned memory; one
 * handle produces into it and another consumes from it, as the server and a
 * guest would. Guest misbehaviour is simulated by writing the shared control
 * page and data area directly. No EAL.
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_pause.h>

#include "vmbs_bufring.h"
#include "vmbs_test.h"

#define SMALL_DATA 4096u	/* smallest legal data area */

struct ring {
	uint8_t *mem;			/* control page + data */
	size_t half;			/* bytes of mem */
	struct vmbs_ring_ctl *ctl;
	uint8_t *data;
	uint32_t size;			/* data bytes */
	struct vmbs_br tx;
	struct vmbs_br rx;
};

/* Allocate a zeroed ring half with data_size bytes of data; attach no one. */
static int
ring_alloc(struct ring *r, uint32_t data_size)
{
	memset(r, 0, sizeof(*r));
	r->half = (size_t)data_size + VMBS_PAGE_SIZE;
	r->mem = aligned_alloc(VMBS_PAGE_SIZE, r->half);
	if (r->mem == NULL)
		return -ENOMEM;
	memset(r->mem, 0, r->half);
	r->ctl = (struct vmbs_ring_ctl *)(void *)r->mem;
	r->data = r->mem + VMBS_PAGE_SIZE;
	r->size = data_size;
	return 0;
}

/* Attach both roles; the indices already in the control page are kept. */
static int
ring_attach(struct ring *r, unsigned int tx_flags, unsigned int rx_flags)
{
	int rc = vmbs_br_init(&r->tx, r->mem, r->half, VMBS_BR_PRODUCER, tx_flags);

	if (rc != 0)
		return rc;
	return vmbs_br_init(&r->rx, r->mem, r->half, VMBS_BR_CONSUMER, rx_flags);
}

static void
ring_free(struct ring *r)
{
	free(r->mem);
	r->mem = NULL;
}

/* Setup for most tests: data_size bytes, both ends attached, no flags. */
#define RING_SETUP(r, data_size, txf, rxf) do { \
	VMBS_CHECK(ring_alloc((r), (data_size)) == 0); \
	VMBS_CHECK(ring_attach((r), (txf), (rxf)) == 0); \
} while (0)

static uint8_t
pattern(uint64_t seed, size_t i)
{
	return (uint8_t)((seed * 131u) ^ (i * 7u) ^ (i >> 8));
}

/* Put an inband packet with len payload bytes of pattern(seed). */
static int
put_pattern(struct vmbs_br *br, size_t len, uint64_t seed)
{
	static uint8_t buf[65536];
	struct vmbs_pkt_desc d = {
		.type = VMBS_PKT_DATA_INBAND, .offset8 = 2, .flags = 0, .trans_id = seed,
	};
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	size_t i;

	if (len > sizeof(buf))
		return -E2BIG;
	for (i = 0; i < len; i++)
		buf[i] = pattern(seed, i);
	return vmbs_br_tx_put(br, &d, &iov, 1);
}

/* Take one packet and check it is what put_pattern(len, seed) put. */
static int
get_check(struct vmbs_br *br, size_t len, uint64_t seed)
{
	static uint8_t buf[65536 + 64];
	struct vmbs_pkt_desc d;
	int n = vmbs_br_rx_next(br, buf, sizeof(buf));
	size_t i;

	if (n < 0)
		return n;
	memcpy(&d, buf, sizeof(d));
	if ((size_t)n != ((sizeof(d) + len + 7) & ~(size_t)7) || d.len8 * 8u != (unsigned int)n ||
	    d.offset8 != 2 || d.type != VMBS_PKT_DATA_INBAND || d.trans_id != seed)
		return -EBADMSG;
	for (i = 0; i < len; i++)
		if (buf[sizeof(d) + i] != pattern(seed, i))
			return -EBADMSG;
	return 0;
}

static uint32_t
ld(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void
st(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ init */

static void
init_rejects_bad_geometry(void)
{
	struct vmbs_br br;
	struct ring r;

	VMBS_CHECK(ring_alloc(&r, 2 * SMALL_DATA) == 0);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, VMBS_PAGE_SIZE, VMBS_BR_CONSUMER, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, VMBS_PAGE_SIZE + 100, VMBS_BR_CONSUMER, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, 2 * VMBS_PAGE_SIZE + 8, VMBS_BR_CONSUMER, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem + 4, r.half - 8, VMBS_BR_CONSUMER, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, NULL, r.half, VMBS_BR_CONSUMER, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, r.half, VMBS_BR_CONSUMER,
				     VMBS_BR_F_FEAT_PENDING_SEND_SZ), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, r.half, VMBS_BR_PRODUCER, VMBS_BR_F_POLL),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, r.half, (enum vmbs_br_role)7, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, r.half, VMBS_BR_CONSUMER, 0), 0);
	CU_ASSERT_EQUAL(vmbs_br_data_size(&br), 2 * SMALL_DATA);
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, 2 * VMBS_PAGE_SIZE, VMBS_BR_PRODUCER, 0), 0);
	CU_ASSERT_EQUAL(vmbs_br_data_size(&br), SMALL_DATA);
	ring_free(&r);
}

static void
init_rejects_corrupt_indices(void)
{
	struct vmbs_br br;
	struct vmbs_br_stats s;
	struct ring r;

	VMBS_CHECK(ring_alloc(&r, SMALL_DATA) == 0);
	r.ctl->write_index = 12;
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, r.half, VMBS_BR_CONSUMER, 0), -EPROTO);
	vmbs_br_stats_get(&br, &s);
	CU_ASSERT_EQUAL(s.err, VMBS_BR_ERR_WIDX_BAD);
	r.ctl->write_index = 0;
	r.ctl->read_index = SMALL_DATA;
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, r.half, VMBS_BR_PRODUCER, 0), -EPROTO);
	vmbs_br_stats_get(&br, &s);
	CU_ASSERT_EQUAL(s.err, VMBS_BR_ERR_RIDX_BAD);
	/* Valid non-zero indices are a ring the peer already uses: accepted. */
	r.ctl->write_index = 64;
	r.ctl->read_index = 4000;
	CU_ASSERT_EQUAL(vmbs_br_init(&br, r.mem, r.half, VMBS_BR_PRODUCER, 0), 0);
	ring_free(&r);
}

static void
init_sets_feature_bit_and_mask_on_request(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(r.ctl->feature_bits, 0);
	CU_ASSERT_EQUAL(r.ctl->interrupt_mask, 0);
	VMBS_CHECK(ring_attach(&r, VMBS_BR_F_FEAT_PENDING_SEND_SZ, VMBS_BR_F_POLL) == 0);
	CU_ASSERT_EQUAL(r.ctl->feature_bits, VMBS_RING_FEAT_PENDING_SEND_SZ);
	CU_ASSERT_EQUAL(r.ctl->interrupt_mask, 1);
	ring_free(&r);
}

/* -------------------------------------------------------------- framing */

/*
 * The bytes a packet must occupy in the ring, built independently of the
 * library: descriptor with len8, payload, zero padding, trailer.
 */
static size_t
expected_bytes(uint8_t *out, uint32_t start, size_t len, uint64_t seed)
{
	struct vmbs_pkt_desc d = {
		.type = VMBS_PKT_DATA_INBAND, .offset8 = 2, .flags = 0, .trans_id = seed,
	};
	size_t pkt = (sizeof(d) + len + 7) & ~(size_t)7;
	uint64_t trailer = (uint64_t)start << 32;
	size_t i;

	d.len8 = (uint16_t)(pkt / 8);
	memset(out, 0, pkt + 8);
	memcpy(out, &d, sizeof(d));
	for (i = 0; i < len; i++)
		out[sizeof(d) + i] = pattern(seed, i);
	memcpy(out + pkt, &trailer, sizeof(trailer));
	return pkt + 8;
}

static void
roundtrip_lays_out_desc_payload_padding_trailer(void)
{
	uint8_t exp[256], got[256];
	struct vmbs_pkt_desc d;
	struct vmbs_br_stats s;
	struct ring r;
	size_t total;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	/* Dirty the data area: padding must be written as zeros, not left. */
	memset(r.data, 0xa5, r.size);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 13, 77), 0);
	CU_ASSERT_TRUE(vmbs_br_tx_commit(&r.tx));
	total = expected_bytes(exp, 0, 13, 77);
	CU_ASSERT_EQUAL(total, 40);
	CU_ASSERT_EQUAL(memcmp(r.data, exp, total), 0);
	CU_ASSERT_EQUAL(ld(&r.ctl->write_index), 40);

	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_peek(&r.rx, &d), 32);
	CU_ASSERT_EQUAL(d.len8, 4);
	CU_ASSERT_EQUAL(d.trans_id, 77);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, got, sizeof(got)), 32);
	CU_ASSERT_EQUAL(memcmp(got, exp, 32), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, got, sizeof(got)), -EAGAIN);
	CU_ASSERT_FALSE(vmbs_br_rx_commit(&r.rx));
	CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 40);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), -EAGAIN);

	vmbs_br_stats_get(&r.rx, &s);
	CU_ASSERT_EQUAL(s.pkts, 1);
	CU_ASSERT_EQUAL(s.bytes, 32);
	CU_ASSERT_EQUAL(s.err, VMBS_BR_ERR_NONE);
	vmbs_br_stats_get(&r.tx, &s);
	CU_ASSERT_EQUAL(s.pkts, 1);
	CU_ASSERT_EQUAL(s.bytes, 32);
	ring_free(&r);
}

static void
put_gathers_iovecs_and_keeps_header_fields(void)
{
	uint8_t a[5] = { 1, 2, 3, 4, 5 }, b[11], got[64];
	struct vmbs_pkt_desc d = {
		.type = VMBS_PKT_COMP, .offset8 = 3, .len8 = 999,
		.flags = VMBS_PKT_F_COMPLETION_REQUESTED, .trans_id = 0x1122334455667788ull,
	};
	struct iovec iov[3] = { { a, sizeof(a) }, { NULL, 0 }, { b, sizeof(b) } };
	struct vmbs_pkt_desc o;
	struct ring r;

	memset(b, 0xee, sizeof(b));
	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(vmbs_br_tx_put(&r.tx, &d, iov, 3), 0);
	vmbs_br_tx_commit(&r.tx);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, got, sizeof(got)), 32);
	memcpy(&o, got, sizeof(o));
	CU_ASSERT_EQUAL(o.type, VMBS_PKT_COMP);
	CU_ASSERT_EQUAL(o.offset8, 3);
	CU_ASSERT_EQUAL(o.len8, 4);
	CU_ASSERT_EQUAL(o.flags, VMBS_PKT_F_COMPLETION_REQUESTED);
	CU_ASSERT_EQUAL(o.trans_id, 0x1122334455667788ull);
	CU_ASSERT_EQUAL(memcmp(got + 16, a, 5), 0);
	CU_ASSERT_EQUAL(memcmp(got + 21, b, 11), 0);
	ring_free(&r);
}

static void
put_rejects_bad_offset8_and_oversize(void)
{
	struct vmbs_pkt_desc d = { .type = VMBS_PKT_DATA_INBAND, .offset8 = 1 };
	uint8_t p[64] = { 0 };
	struct iovec iov = { p, 16 };
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(vmbs_br_tx_put(&r.tx, &d, &iov, 1), -EINVAL);
	d.offset8 = 5;	/* packet is 16 + 16 bytes = 4 units */
	CU_ASSERT_EQUAL(vmbs_br_tx_put(&r.tx, &d, &iov, 1), -EINVAL);
	d.offset8 = 4;
	CU_ASSERT_EQUAL(vmbs_br_tx_put(&r.tx, &d, &iov, 1), 0);
	/* A packet as big as the data area never fits: not -EAGAIN forever. */
	d.offset8 = 2;
	iov.iov_len = SMALL_DATA - 16 - 8;
	CU_ASSERT_EQUAL(vmbs_br_tx_put(&r.tx, &d, &iov, 1), -EMSGSIZE);
	iov.iov_len = (size_t)UINT16_MAX * 8;
	CU_ASSERT_EQUAL(vmbs_br_tx_put(&r.tx, &d, &iov, 1), -EMSGSIZE);
	ring_free(&r);
}

/*
 * Put one packet starting k bytes before the end of the data area, for k
 * at every multiple of 8 from 8 to past the packet's size: the descriptor
 * split (k = 8), the payload starting exactly at the wrap (k = 16), the
 * payload and padding split, the trailer alone after the wrap, the trailer
 * ending exactly at the end, and no wrap at all. The ring bytes must equal
 * an independent model, and the consumer must get the packet back.
 */
static void
wraps_at_ring_end_at_every_offset_class(void)
{
	static const size_t lens[] = { 0, 1, 40, 44, 100 };
	uint8_t exp[256];
	struct ring r;
	size_t li, i, total;
	uint32_t k, start;

	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		total = expected_bytes(exp, 0, lens[li], 1);
		for (k = 8; k <= total + 16; k += 8) {
			VMBS_CHECK(ring_alloc(&r, SMALL_DATA) == 0);
			start = SMALL_DATA - k;
			r.ctl->write_index = start;
			r.ctl->read_index = start;
			memset(r.data, 0x5a, r.size);
			VMBS_CHECK(ring_attach(&r, 0, 0) == 0);
			CU_ASSERT_EQUAL(put_pattern(&r.tx, lens[li], k), 0);
			vmbs_br_tx_commit(&r.tx);
			CU_ASSERT_EQUAL(ld(&r.ctl->write_index), (start + total) % SMALL_DATA);
			total = expected_bytes(exp, start, lens[li], k);
			for (i = 0; i < total; i++)
				if (r.data[(start + i) % SMALL_DATA] != exp[i])
					break;
			CU_ASSERT_EQUAL(i, total);
			CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
			CU_ASSERT_EQUAL(get_check(&r.rx, lens[li], k), 0);
			CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), -EAGAIN);
			vmbs_br_rx_commit(&r.rx);
			CU_ASSERT_EQUAL(ld(&r.ctl->read_index), (start + total) % SMALL_DATA);
			ring_free(&r);
		}
	}
}

/* Many packets of changing sizes around the ring several times. */
static void
wraps_repeatedly_with_mixed_sizes(void)
{
	struct ring r;
	uint64_t seq_put = 0, seq_get = 0;
	int round, n;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	for (round = 0; round < 2000; round++) {
		for (n = 0; n < 1 + round % 7; n++) {
			if (put_pattern(&r.tx, (seq_put * 37) % 700, seq_put) != 0)
				break;
			seq_put++;
		}
		vmbs_br_tx_commit(&r.tx);
		if (vmbs_br_rx_begin(&r.rx) != 0)
			continue;
		for (n = 0; n < 1 + round % 5; n++) {
			int rc = get_check(&r.rx, (seq_get * 37) % 700, seq_get);

			if (rc == -EAGAIN)
				break;
			CU_ASSERT_EQUAL_FATAL(rc, 0);
			seq_get++;
		}
		vmbs_br_rx_commit(&r.rx);
	}
	CU_ASSERT_TRUE(seq_put > 5000);
	CU_ASSERT_TRUE(seq_get + 100 > seq_put);
	ring_free(&r);
}

/*
 * The producer needs free space strictly greater than the packet: the
 * largest packet that fits leaves exactly 8 bytes free, one 8 bytes larger
 * is refused with -EAGAIN, and read_index never equals write_index on a
 * ring that holds data.
 */
static void
fills_to_eight_bytes_short_never_full(void)
{
	struct vmbs_br_stats s;
	struct ring r;
	uint32_t used;

	/* Empty ring: the largest packet takes data size - 8 bytes. */
	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(vmbs_br_pkt_size(SMALL_DATA - 32), SMALL_DATA - 8);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, SMALL_DATA - 32, 1), 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 0, 2), -EAGAIN);
	vmbs_br_tx_commit(&r.tx);
	CU_ASSERT_EQUAL(ld(&r.ctl->write_index), SMALL_DATA - 8);
	CU_ASSERT_NOT_EQUAL(ld(&r.ctl->write_index), ld(&r.ctl->read_index));
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, SMALL_DATA - 32, 1), 0);
	ring_free(&r);

	/* Partly used ring: exactly free - 8 fits, 8 more does not. */
	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 100, 1), 0);	/* 128 bytes */
	used = 128;
	CU_ASSERT_EQUAL(vmbs_br_pkt_size(SMALL_DATA - used - 8 - 24 + 8), SMALL_DATA - used);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, SMALL_DATA - used - 8 - 24 + 8, 2), -EAGAIN);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, SMALL_DATA - used - 8 - 24 + 1, 2), -EAGAIN);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, SMALL_DATA - used - 8 - 24, 2), 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 0, 3), -EAGAIN);
	vmbs_br_tx_commit(&r.tx);
	CU_ASSERT_EQUAL(ld(&r.ctl->write_index), SMALL_DATA - 8);
	vmbs_br_stats_get(&r.tx, &s);
	CU_ASSERT_EQUAL(s.full, 3);
	CU_ASSERT_EQUAL(s.pkts, 2);

	/* Once the consumer frees the first packet, 128 more bytes fit, not 136. */
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 100, 1), 0);
	vmbs_br_rx_commit(&r.rx);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 128 - 24 + 1, 4), -EAGAIN);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 128 - 24, 4), 0);
	vmbs_br_tx_commit(&r.tx);
	CU_ASSERT_EQUAL(ld(&r.ctl->write_index), 128 - 8);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, SMALL_DATA - used - 8 - 24, 2), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 128 - 24, 4), 0);
	ring_free(&r);
}

/* ---------------------------------------------------------------- batch */

static void
batch_publishes_indices_only_at_commit(void)
{
	struct ring r;
	int i;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(put_pattern(&r.tx, 24, (uint64_t)i), 0);
	CU_ASSERT_EQUAL(ld(&r.ctl->write_index), 0);
	/* Nothing is visible before the commit. */
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), -EAGAIN);
	vmbs_br_tx_commit(&r.tx);
	CU_ASSERT_EQUAL(ld(&r.ctl->write_index), 10 * 48);

	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	/* Packets published after begin wait for the next batch. */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 24, 10), 0);
	vmbs_br_tx_commit(&r.tx);
	for (i = 0; i < 10; i++) {
		CU_ASSERT_EQUAL(get_check(&r.rx, 24, (uint64_t)i), 0);
		CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 0);
	}
	CU_ASSERT_EQUAL(get_check(&r.rx, 24, 10), -EAGAIN);
	CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 0);
	vmbs_br_rx_commit(&r.rx);
	CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 10 * 48);
	/* A second commit with nothing new changes nothing. */
	st(&r.ctl->read_index, 8);	/* sentinel: a store would overwrite it */
	CU_ASSERT_FALSE(vmbs_br_rx_commit(&r.rx));
	CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 8);
	st(&r.ctl->read_index, 10 * 48);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 24, 10), 0);
	ring_free(&r);
}

/* ----------------------------------------------------------- signalling */

static void
signals_only_on_empty_to_nonempty_when_unmasked(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));	/* nothing put */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_TRUE(vmbs_br_tx_commit(&r.tx));	/* empty -> non-empty, mask 0 */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 2), 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));	/* was non-empty */
	/* The consumer drains part: still non-empty, no signal. */
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 1), 0);
	vmbs_br_rx_commit(&r.rx);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 3), 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));
	/* Drained completely: the next batch signals again. */
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 2), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 3), 0);
	vmbs_br_rx_commit(&r.rx);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 4), 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 5), 0);
	CU_ASSERT_TRUE(vmbs_br_tx_commit(&r.tx));
	ring_free(&r);
}

static void
no_signal_when_consumer_masked(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, VMBS_BR_F_POLL);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));
	/* Any non-zero mask value means masked. */
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 1), 0);
	vmbs_br_rx_commit(&r.rx);
	st(&r.ctl->interrupt_mask, 0x80000000u);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 2), 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));
	ring_free(&r);
}

/*
 * The producer's signal decision must use a fresh read_index: a consumer
 * that drained after the producer last looked, then unmasked, is asleep.
 */
static void
signal_decision_rereads_read_index(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, VMBS_BR_F_POLL);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));	/* masked */
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 1), 0);
	vmbs_br_rx_commit(&r.rx);
	CU_ASSERT_EQUAL(vmbs_br_rx_intr_enable(&r.rx), 0);	/* empty: parks */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 2), 0);
	CU_ASSERT_TRUE(vmbs_br_tx_commit(&r.tx));
	ring_free(&r);
}

static void
unmask_rechecks_for_data(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, VMBS_BR_F_POLL);
	CU_ASSERT_EQUAL(r.ctl->interrupt_mask, 1);
	CU_ASSERT_EQUAL(vmbs_br_rx_intr_enable(&r.rx), 0);
	CU_ASSERT_EQUAL(r.ctl->interrupt_mask, 0);
	vmbs_br_rx_intr_disable(&r.rx);
	CU_ASSERT_EQUAL(r.ctl->interrupt_mask, 1);
	/* Published while masked: no signal, so the recheck must see it. */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));
	CU_ASSERT_EQUAL(vmbs_br_rx_intr_enable(&r.rx), 1);
	CU_ASSERT_EQUAL(r.ctl->interrupt_mask, 0);
	vmbs_br_rx_intr_disable(&r.rx);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 1), 0);
	vmbs_br_rx_commit(&r.rx);
	CU_ASSERT_EQUAL(vmbs_br_rx_intr_enable(&r.rx), 0);
	/* A corrupt write_index seen by the recheck latches the error. */
	st(&r.ctl->write_index, 3);
	CU_ASSERT_EQUAL(vmbs_br_rx_intr_enable(&r.rx), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), -EPROTO);
	ring_free(&r);
}

/* Fill with 128-byte packets (payload 100) until -EAGAIN; returns the count. */
static int
fill_128(struct ring *r)
{
	int n = 0;

	while (put_pattern(&r->tx, 100, (uint64_t)n) == 0)
		n++;
	vmbs_br_tx_commit(&r->tx);
	return n;
}

/*
 * Drain one packet per commit; return the 1-based commit that signalled,
 * 0 if none did, -1 if more than one did.
 */
static int
drain_one_by_one(struct ring *r, int n)
{
	int i, sig = 0;

	for (i = 0; i < n; i++) {
		if (vmbs_br_rx_begin(&r->rx) != 0 || get_check(&r->rx, 100, (uint64_t)i) != 0)
			return -2;
		if (vmbs_br_rx_commit(&r->rx)) {
			if (sig != 0)
				return -1;
			sig = i + 1;
		}
	}
	return sig;
}

static void
signals_producer_when_pending_size_crossed(void)
{
	struct ring r;
	int n;

	RING_SETUP(&r, SMALL_DATA, VMBS_BR_F_FEAT_PENDING_SEND_SZ, 0);
	n = fill_128(&r);
	CU_ASSERT_EQUAL(n, 31);	/* 31 * 128 = 3968: 128 free, not > 128 */
	/* Wants 3 packets' worth (384 + 8 = 392 -> free must reach 392 -> 4 packets). */
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, 3 * 128 + 8), 0);
	CU_ASSERT_EQUAL(ld(&r.ctl->pending_send_sz), 392);
	/* free after k commits: 128 + 128k; crosses 392 at k = 3 (512). */
	CU_ASSERT_EQUAL(drain_one_by_one(&r, n), 3);
	/* A put that finds space withdraws the request. */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 100, 0), 0);
	CU_ASSERT_EQUAL(ld(&r.ctl->pending_send_sz), 0);
	ring_free(&r);
}

static void
no_pending_signal_without_feature_bit(void)
{
	struct ring r;
	int n;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	n = fill_128(&r);
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, 392), 0);
	CU_ASSERT_EQUAL(ld(&r.ctl->pending_send_sz), 392);
	CU_ASSERT_EQUAL(drain_one_by_one(&r, n), 0);
	ring_free(&r);
}

static void
pending_size_ignores_low_three_bits(void)
{
	struct ring r;
	int n;

	RING_SETUP(&r, SMALL_DATA, VMBS_BR_F_FEAT_PENDING_SEND_SZ, 0);
	n = fill_128(&r);
	/*
	 * A guest-style "size - 1" value: 263 counts as 256, reached after one
	 * drained packet. Unmasked, 263 would only be crossed at the second.
	 */
	st(&r.ctl->pending_send_sz, 256 + 7);
	CU_ASSERT_EQUAL(drain_one_by_one(&r, n), 1);
	ring_free(&r);
}

static void
no_pending_signal_when_already_above(void)
{
	struct ring r;
	int n;

	RING_SETUP(&r, SMALL_DATA, VMBS_BR_F_FEAT_PENDING_SEND_SZ, 0);
	n = fill_128(&r);
	/* 128 bytes are free already: at or above 128 before any commit. */
	st(&r.ctl->pending_send_sz, 128);
	CU_ASSERT_EQUAL(drain_one_by_one(&r, n), 0);
	/* A zero request never signals either. */
	n = fill_128(&r);
	st(&r.ctl->pending_send_sz, 0);
	CU_ASSERT_EQUAL(drain_one_by_one(&r, n), 0);
	ring_free(&r);
}

/* One commit of many packets crossing the threshold signals once. */
static void
signals_once_for_a_batch_crossing(void)
{
	struct ring r;
	int i, n;

	RING_SETUP(&r, SMALL_DATA, VMBS_BR_F_FEAT_PENDING_SEND_SZ, 0);
	n = fill_128(&r);
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, 1024), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(get_check(&r.rx, 100, (uint64_t)i), 0);
	CU_ASSERT_TRUE(vmbs_br_rx_commit(&r.rx));
	ring_free(&r);
}

static void
request_space_rechecks_after_setting(void)
{
	struct ring r;
	int n;

	RING_SETUP(&r, SMALL_DATA, VMBS_BR_F_FEAT_PENDING_SEND_SZ, 0);
	n = fill_128(&r);
	/* The consumer drains before the producer asks: the recheck finds room. */
	CU_ASSERT_EQUAL(drain_one_by_one(&r, n), 0);
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, 392), 1);
	CU_ASSERT_EQUAL(ld(&r.ctl->pending_send_sz), 0);
	/* Uncommitted puts: the consumer cannot free what it cannot see. */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 100, 0), 0);
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, 392), -EBUSY);
	vmbs_br_tx_commit(&r.tx);
	/* Explicit withdrawal. */
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, SMALL_DATA), 0);
	CU_ASSERT_EQUAL(ld(&r.ctl->pending_send_sz), SMALL_DATA);
	vmbs_br_tx_clear_pending(&r.tx);
	CU_ASSERT_EQUAL(ld(&r.ctl->pending_send_sz), 0);
	ring_free(&r);
}

/* ------------------------------------------------------ hostile indices */

static void
check_sticky_rx(struct ring *r, enum vmbs_br_err cause)
{
	uint8_t buf[64];
	struct vmbs_br_stats s;

	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r->rx), -EPROTO);
	/* Even after the guest puts things back, the ring stays failed. */
	st(&r->ctl->write_index, 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r->rx), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_br_rx_peek(&r->rx, NULL), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r->rx, buf, sizeof(buf)), -EPROTO);
	CU_ASSERT_FALSE(vmbs_br_rx_commit(&r->rx));
	CU_ASSERT_EQUAL(vmbs_br_rx_intr_enable(&r->rx), -EPROTO);
	vmbs_br_stats_get(&r->rx, &s);
	CU_ASSERT_EQUAL(s.err, cause);
	CU_ASSERT_STRING_NOT_EQUAL(vmbs_br_err_str(s.err), "unknown");
}

static void
rejects_unaligned_write_index(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	st(&r.ctl->write_index, 20);
	check_sticky_rx(&r, VMBS_BR_ERR_WIDX_BAD);
	ring_free(&r);
}

static void
rejects_write_index_beyond_ring(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	st(&r.ctl->write_index, SMALL_DATA);
	check_sticky_rx(&r, VMBS_BR_ERR_WIDX_BAD);
	ring_free(&r);
	RING_SETUP(&r, SMALL_DATA, 0, 0);
	st(&r.ctl->write_index, 0xfffffff8u);
	check_sticky_rx(&r, VMBS_BR_ERR_WIDX_BAD);
	ring_free(&r);
}

static void
rejects_write_index_moved_back(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 2), 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 3), 0);
	vmbs_br_tx_commit(&r.tx);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 1), 0);
	/* The guest takes back the last two packets after we snapshotted them. */
	st(&r.ctl->write_index, 32);
	check_sticky_rx(&r, VMBS_BR_ERR_WIDX_BACKWARDS);
	ring_free(&r);
}

static void
check_sticky_tx(struct ring *r, enum vmbs_br_err cause)
{
	struct vmbs_br_stats s;

	CU_ASSERT_EQUAL(put_pattern(&r->tx, 8, 9), -EPROTO);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r->tx));
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r->tx, 64), -EPROTO);
	vmbs_br_stats_get(&r->tx, &s);
	CU_ASSERT_EQUAL(s.err, cause);
}

static void
rejects_read_index_moved_back(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_TRUE(vmbs_br_tx_commit(&r.tx));
	/* The guest consumer "advances" read_index backwards past 0. */
	st(&r.ctl->read_index, SMALL_DATA - 8);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 2), 0);
	/* The fresh read_index taken for the signal decision is caught. */
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));
	check_sticky_tx(&r, VMBS_BR_ERR_RIDX_BACKWARDS);
	ring_free(&r);
}

static void
rejects_read_index_past_write_index(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_TRUE(vmbs_br_tx_commit(&r.tx));
	st(&r.ctl->read_index, 32 + 8);		/* beyond the 32 bytes written */
	/* A put that needs a fresh look (the whole ring) sees it. */
	CU_ASSERT_EQUAL(put_pattern(&r.tx, SMALL_DATA - 48, 2), -EPROTO);
	check_sticky_tx(&r, VMBS_BR_ERR_RIDX_BACKWARDS);
	ring_free(&r);
}

static void
rejects_bad_read_index(void)
{
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	st(&r.ctl->read_index, 4);
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, 64), -EPROTO);
	check_sticky_tx(&r, VMBS_BR_ERR_RIDX_BAD);
	ring_free(&r);
	RING_SETUP(&r, SMALL_DATA, 0, 0);
	st(&r.ctl->read_index, SMALL_DATA + 8);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 1), 0);
	CU_ASSERT_FALSE(vmbs_br_tx_commit(&r.tx));
	check_sticky_tx(&r, VMBS_BR_ERR_RIDX_BAD);
	ring_free(&r);
}

/* A corrupt write_index seen at commit time (for the signal decision). */
static void
rejects_bad_write_index_at_commit(void)
{
	struct ring r;
	int n;

	RING_SETUP(&r, SMALL_DATA, VMBS_BR_F_FEAT_PENDING_SEND_SZ, 0);
	n = fill_128(&r);
	CU_ASSERT_EQUAL(n, 31);
	CU_ASSERT_EQUAL(vmbs_br_tx_request_space(&r.tx, 392), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 100, 0), 0);
	st(&r.ctl->write_index, 1);
	CU_ASSERT_FALSE(vmbs_br_rx_commit(&r.rx));
	check_sticky_rx(&r, VMBS_BR_ERR_WIDX_BAD);
	ring_free(&r);
}

/* ---------------------------------------------------- lying descriptors */

/* Write a raw descriptor at offset 0 and publish `written` bytes. */
static void
craft(struct ring *r, uint16_t offset8, uint16_t len8, uint32_t written)
{
	struct vmbs_pkt_desc d = {
		.type = VMBS_PKT_DATA_INBAND, .offset8 = offset8, .len8 = len8, .trans_id = 5,
	};

	memcpy(r->data, &d, sizeof(d));
	st(&r->ctl->write_index, written);
}

static void
expect_lie(uint16_t offset8, uint16_t len8, uint32_t written, enum vmbs_br_err cause)
{
	struct vmbs_br_stats s;
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	craft(&r, offset8, len8, written);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_peek(&r.rx, NULL), -EPROTO);
	CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 0);
	vmbs_br_stats_get(&r.rx, &s);
	CU_ASSERT_EQUAL(s.err, cause);
	CU_ASSERT_EQUAL(s.pkts, 0);
	check_sticky_rx(&r, cause);
	ring_free(&r);

	/* next() without a peek first catches it the same way. */
	RING_SETUP(&r, SMALL_DATA, 0, 0);
	craft(&r, offset8, len8, written);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(get_check(&r.rx, 0, 5), -EPROTO);
	vmbs_br_stats_get(&r.rx, &s);
	CU_ASSERT_EQUAL(s.err, cause);
	ring_free(&r);
}

static void
rejects_len8_beyond_written_data(void)
{
	expect_lie(2, 10, 48, VMBS_BR_ERR_DESC_OVERRUN);
	/* Fits exactly but leaves no room for the trailer. */
	expect_lie(2, 6, 48, VMBS_BR_ERR_DESC_OVERRUN);
	/* Larger than the whole ring. */
	expect_lie(2, UINT16_MAX, 48, VMBS_BR_ERR_DESC_OVERRUN);
	/* Only 8 bytes published: the descriptor itself is incomplete. */
	expect_lie(2, 2, 8, VMBS_BR_ERR_DESC_OVERRUN);
}

static void
rejects_len8_below_offset8(void)
{
	expect_lie(4, 3, 64, VMBS_BR_ERR_DESC_LEN);
}

static void
rejects_offset8_below_two(void)
{
	expect_lie(1, 4, 64, VMBS_BR_ERR_DESC_OFFSET);
	expect_lie(0, 4, 64, VMBS_BR_ERR_DESC_OFFSET);
}

static void
rejects_len8_zero(void)
{
	expect_lie(2, 0, 64, VMBS_BR_ERR_DESC_LEN);
}

static void
accepts_exact_fit_with_trailer(void)
{
	uint8_t buf[64];
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	craft(&r, 2, 5, 48);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, buf, sizeof(buf)), 40);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, buf, sizeof(buf)), -EAGAIN);
	ring_free(&r);
}

/* The guest rewrites the descriptor after validation: the copy is used. */
static void
uses_descriptor_copy_not_shared_bytes(void)
{
	struct vmbs_pkt_desc d;
	uint8_t buf[256];
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	craft(&r, 2, 4, 40);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_peek(&r.rx, NULL), 32);
	craft(&r, 3, 200, 40);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, buf, sizeof(buf)), 32);
	memcpy(&d, buf, sizeof(d));
	CU_ASSERT_EQUAL(d.len8, 4);
	CU_ASSERT_EQUAL(d.offset8, 2);
	ring_free(&r);
}

static void
small_buffer_gets_enobufs_and_consumes_nothing(void)
{
	struct vmbs_pkt_desc d;
	uint8_t buf[256];
	struct ring r;

	RING_SETUP(&r, SMALL_DATA, 0, 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 100, 1), 0);
	CU_ASSERT_EQUAL(put_pattern(&r.tx, 8, 2), 0);
	vmbs_br_tx_commit(&r.tx);
	CU_ASSERT_EQUAL(vmbs_br_rx_begin(&r.rx), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, buf, 119), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, buf, 16), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_br_rx_peek(&r.rx, &d), 120);
	CU_ASSERT_EQUAL(d.trans_id, 1);
	CU_ASSERT_FALSE(vmbs_br_rx_commit(&r.rx));
	CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 0);
	CU_ASSERT_EQUAL(vmbs_br_rx_next(&r.rx, buf, 120), 120);
	CU_ASSERT_EQUAL(get_check(&r.rx, 8, 2), 0);
	vmbs_br_rx_commit(&r.rx);
	CU_ASSERT_EQUAL(ld(&r.ctl->read_index), 128 + 32);
	ring_free(&r);
}

/* ------------------------------------------------------ two-core stress */

#define STRESS_PKTS 10000000ull
#define STRESS_DATA (256u * 1024)
#define STRESS_WAIT_NS 20000000000ll	/* a lost wakeup shows as this stall */

struct stress {
	struct ring r;
	uint8_t pool[8192];		/* payload source */
	uint32_t doorbell_tx;		/* consumer -> producer "signals" */
	uint32_t doorbell_rx;		/* producer -> consumer "signals" */
	uint64_t received;
	uint64_t bad;
	uint64_t stalls;
	uint64_t tx_waits, rx_waits;
	int pin;
};

struct stress_hdr {
	uint64_t seq;
	uint32_t len;
	uint32_t csum;
};

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static uint32_t
csum(uint64_t seq, uint32_t len, const uint8_t *p, size_t n)
{
	uint64_t h = seq * 0x9e3779b97f4a7c15ull ^ len;
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ (h >> 32));
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void
pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Spin with a pause; yield now and then so a 1-CPU machine makes progress. */
static void
relax(unsigned int *spins)
{
	rte_pause();
	if ((++*spins & 1023u) == 0)
		sched_yield();
}

/* Wait until *bell moves from seen; false on timeout (a lost wakeup). */
static bool
wait_bell(const uint32_t *bell, uint32_t seen)
{
	int64_t deadline = now_ns() + STRESS_WAIT_NS;
	unsigned int spins = 0;

	while (__atomic_load_n(bell, __ATOMIC_ACQUIRE) == seen) {
		relax(&spins);
		if ((spins & 4095u) == 0 && now_ns() > deadline)
			return false;
	}
	return true;
}

static void *
stress_producer(void *arg)
{
	struct stress *t = arg;
	struct vmbs_br *br = &t->r.tx;
	uint64_t rnd = 0x1234567887654321ull, seq = 0;
	struct stress_hdr h;
	struct iovec iov[2];
	struct vmbs_pkt_desc d = { .type = VMBS_PKT_DATA_INBAND, .offset8 = 2 };
	unsigned int spins = 0, fails = 0;
	uint32_t len = 0, bell;
	int batch, rc;

	if (t->pin)
		pin_self(0);
	while (seq < STRESS_PKTS) {
		batch = 1 + (int)(xorshift(&rnd) % 32);
		while (batch-- > 0 && seq < STRESS_PKTS) {
			len = 16 + (uint32_t)(xorshift(&rnd) % (2000 - 16 + 1));
			h.seq = seq;
			h.len = len;
			iov[1].iov_base = t->pool + ((seq * 72) & 4095);
			iov[1].iov_len = len - sizeof(h);
			h.csum = csum(seq, len, iov[1].iov_base, iov[1].iov_len);
			iov[0].iov_base = &h;
			iov[0].iov_len = sizeof(h);
			d.trans_id = seq;
			rc = vmbs_br_tx_put(br, &d, iov, 2);
			if (rc == -EAGAIN) {
				/* Publish what we have, then spin; after a while, park. */
				if (vmbs_br_tx_commit(br))
					__atomic_fetch_add(&t->doorbell_rx, 1, __ATOMIC_RELEASE);
				if (++fails < 64) {
					relax(&spins);
					batch++;
					continue;
				}
				fails = 0;
				bell = __atomic_load_n(&t->doorbell_tx, __ATOMIC_ACQUIRE);
				rc = vmbs_br_tx_request_space(br, vmbs_br_pkt_need(len));
				if (rc == 0) {
					t->tx_waits++;
					if (!wait_bell(&t->doorbell_tx, bell)) {
						t->stalls++;
						return NULL;
					}
				} else if (rc < 0) {
					t->bad++;
					return NULL;
				}
				batch++;
				continue;
			}
			if (rc != 0) {
				t->bad++;
				return NULL;
			}
			fails = 0;
			seq++;
		}
		if (vmbs_br_tx_commit(br))
			__atomic_fetch_add(&t->doorbell_rx, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *
stress_consumer(void *arg)
{
	static uint8_t buf[4096];
	struct stress *t = arg;
	struct vmbs_br *br = &t->r.rx;
	struct vmbs_pkt_desc d;
	struct stress_hdr h;
	unsigned int spins = 0, empty = 0;
	uint64_t rnd = 0xfeedfacecafebeefull, seq = 0;
	uint32_t bell;
	int n, len, rc;

	if (t->pin)
		pin_self(1);
	while (seq < STRESS_PKTS) {
		rc = vmbs_br_rx_begin(br);
		if (rc == -EAGAIN) {
			if (++empty < 64) {
				relax(&spins);
				continue;
			}
			empty = 0;
			bell = __atomic_load_n(&t->doorbell_rx, __ATOMIC_ACQUIRE);
			rc = vmbs_br_rx_intr_enable(br);
			if (rc == 0) {
				t->rx_waits++;
				if (!wait_bell(&t->doorbell_rx, bell)) {
					t->stalls++;
					break;
				}
			}
			vmbs_br_rx_intr_disable(br);
			if (rc < 0) {
				t->bad++;
				break;
			}
			continue;
		}
		if (rc != 0) {
			t->bad++;
			break;
		}
		empty = 0;
		n = 1 + (int)(xorshift(&rnd) % 32);
		while (n-- > 0) {
			len = vmbs_br_rx_next(br, buf, sizeof(buf));
			if (len == -EAGAIN)
				break;
			if (len < (int)(sizeof(d) + sizeof(h))) {
				t->bad++;
				goto out;
			}
			memcpy(&d, buf, sizeof(d));
			memcpy(&h, buf + sizeof(d), sizeof(h));
			if (d.type != VMBS_PKT_DATA_INBAND || d.offset8 != 2 ||
			    h.len < sizeof(h) || h.len > 2000 ||
			    d.trans_id != seq || h.seq != seq ||
			    (uint32_t)len != ((sizeof(d) + h.len + 7) & ~7u) ||
			    h.csum != csum(seq, h.len, buf + sizeof(d) + sizeof(h),
					   h.len - sizeof(h))) {
				t->bad++;
				goto out;
			}
			seq++;
		}
		if (vmbs_br_rx_commit(br))
			__atomic_fetch_add(&t->doorbell_tx, 1, __ATOMIC_RELEASE);
	}
out:
	t->received = seq;
	return NULL;
}

static void
moves_ten_million_checksummed_packets_across_cores(void)
{
	struct stress *t = calloc(1, sizeof(*t));
	pthread_t p, c;
	cpu_set_t allowed;
	uint64_t rnd = 42;
	int64_t t0;
	size_t i;

	VMBS_CHECK(t != NULL);
	VMBS_CHECK(ring_alloc(&t->r, STRESS_DATA) == 0);
	VMBS_CHECK(ring_attach(&t->r, VMBS_BR_F_FEAT_PENDING_SEND_SZ, VMBS_BR_F_POLL) == 0);
	for (i = 0; i < sizeof(t->pool); i++)
		t->pool[i] = (uint8_t)xorshift(&rnd);
	t->pin = sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
		 CPU_ISSET(0, &allowed) && CPU_ISSET(1, &allowed);

	t0 = now_ns();
	VMBS_CHECK(pthread_create(&c, NULL, stress_consumer, t) == 0);
	VMBS_CHECK(pthread_create(&p, NULL, stress_producer, t) == 0);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	printf("\n    %llu packets in %.2f s (%s), producer parked %llu times, "
	       "consumer parked %llu times ",
	       (unsigned long long)t->received, (double)(now_ns() - t0) / 1e9,
	       t->pin ? "pinned to CPUs 0 and 1" : "unpinned",
	       (unsigned long long)t->tx_waits, (unsigned long long)t->rx_waits);
	CU_ASSERT_EQUAL(t->bad, 0);
	CU_ASSERT_EQUAL(t->stalls, 0);
	CU_ASSERT_EQUAL(t->received, STRESS_PKTS);
	ring_free(&t->r);
	free(t);
}

/* ------------------------------------------------------------------ main */

static const struct vmbs_test_case layout_cases[] = {
	{ "init_rejects_bad_geometry", init_rejects_bad_geometry },
	{ "init_rejects_corrupt_indices", init_rejects_corrupt_indices },
	{ "init_sets_feature_bit_and_mask_on_request", init_sets_feature_bit_and_mask_on_request },
	{ "roundtrip_lays_out_desc_payload_padding_trailer",
	  roundtrip_lays_out_desc_payload_padding_trailer },
	{ "put_gathers_iovecs_and_keeps_header_fields",
	  put_gathers_iovecs_and_keeps_header_fields },
	{ "put_rejects_bad_offset8_and_oversize", put_rejects_bad_offset8_and_oversize },
	{ "wraps_at_ring_end_at_every_offset_class", wraps_at_ring_end_at_every_offset_class },
	{ "wraps_repeatedly_with_mixed_sizes", wraps_repeatedly_with_mixed_sizes },
	{ "fills_to_eight_bytes_short_never_full", fills_to_eight_bytes_short_never_full },
	{ "batch_publishes_indices_only_at_commit", batch_publishes_indices_only_at_commit },
	{ "small_buffer_gets_enobufs_and_consumes_nothing",
	  small_buffer_gets_enobufs_and_consumes_nothing },
	{ NULL, NULL },
};

static const struct vmbs_test_case signal_cases[] = {
	{ "signals_only_on_empty_to_nonempty_when_unmasked",
	  signals_only_on_empty_to_nonempty_when_unmasked },
	{ "no_signal_when_consumer_masked", no_signal_when_consumer_masked },
	{ "signal_decision_rereads_read_index", signal_decision_rereads_read_index },
	{ "unmask_rechecks_for_data", unmask_rechecks_for_data },
	{ "signals_producer_when_pending_size_crossed",
	  signals_producer_when_pending_size_crossed },
	{ "no_pending_signal_without_feature_bit", no_pending_signal_without_feature_bit },
	{ "pending_size_ignores_low_three_bits", pending_size_ignores_low_three_bits },
	{ "no_pending_signal_when_already_above", no_pending_signal_when_already_above },
	{ "signals_once_for_a_batch_crossing", signals_once_for_a_batch_crossing },
	{ "request_space_rechecks_after_setting", request_space_rechecks_after_setting },
	{ NULL, NULL },
};

static const struct vmbs_test_case hostile_cases[] = {
	{ "rejects_unaligned_write_index", rejects_unaligned_write_index },
	{ "rejects_write_index_beyond_ring", rejects_write_index_beyond_ring },
	{ "rejects_write_index_moved_back", rejects_write_index_moved_back },
	{ "rejects_read_index_moved_back", rejects_read_index_moved_back },
	{ "rejects_read_index_past_write_index", rejects_read_index_past_write_index },
	{ "rejects_bad_read_index", rejects_bad_read_index },
	{ "rejects_bad_write_index_at_commit", rejects_bad_write_index_at_commit },
	{ "rejects_len8_beyond_written_data", rejects_len8_beyond_written_data },
	{ "rejects_len8_below_offset8", rejects_len8_below_offset8 },
	{ "rejects_offset8_below_two", rejects_offset8_below_two },
	{ "rejects_len8_zero", rejects_len8_zero },
	{ "accepts_exact_fit_with_trailer", accepts_exact_fit_with_trailer },
	{ "uses_descriptor_copy_not_shared_bytes", uses_descriptor_copy_not_shared_bytes },
	{ NULL, NULL },
};

static const struct vmbs_test_case stress_cases[] = {
	{ "moves_ten_million_checksummed_packets_across_cores",
	  moves_ten_million_checksummed_packets_across_cores },
	{ NULL, NULL },
};

static const struct vmbs_test_suite layout_suite = { "bufring_layout", NULL, NULL, layout_cases };
static const struct vmbs_test_suite signal_suite = { "bufring_signal", NULL, NULL, signal_cases };
static const struct vmbs_test_suite hostile_suite = {
	"bufring_hostile", NULL, NULL, hostile_cases,
};
static const struct vmbs_test_suite stress_suite = { "bufring_stress", NULL, NULL, stress_cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&layout_suite, &signal_suite, &hostile_suite, &stress_suite, NULL,
	};

	return vmbs_test_run(suites);
}
