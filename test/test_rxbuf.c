/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/rxbuf: netvsp receive-buffer allocator. Expected layouts are worked
 * out here from the wire reference (b.4), and every hostile or randomised
 * sequence is checked against an independent model: a plain array of slot
 * states plus the owning batch head of each sent slot, updated from what
 * the allocator hands out and what the guest completes.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbs_rxbuf.h"
#include "vmbs_test.h"

#define MIB (1024u * 1024u)

/* The allocator under test (static storage is suitably aligned). */
static struct vmbs_rxbuf rb;

/* ---- independent model ---- */

enum m_state { M_FREE, M_DONE, M_BUILD, M_HEAD, M_BODY };

/* Partition index of the control pool in the model's tables. */
#define M_CTL VMBS_RXBUF_MAX_QUEUES
#define M_MAX_SLOTS 20000u

static struct {
	uint32_t n;				/* slots */
	uint8_t st[M_MAX_SLOTS];		/* enum m_state */
	uint32_t head_of[M_MAX_SLOTS];		/* batch head of a sent slot */
	uint8_t owner[M_MAX_SLOTS];		/* partition, M_CTL for control */
	uint32_t free_cnt[VMBS_RXBUF_MAX_QUEUES + 1];
	uint64_t unknown[VMBS_RXBUF_MAX_QUEUES + 1];
	uint64_t duplicate[VMBS_RXBUF_MAX_QUEUES + 1];
	uint32_t live[M_MAX_SLOTS];		/* heads of sent batches */
	uint32_t n_live;
} m;

static unsigned int seed = 20260101;

static uint32_t
rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

static struct vmbs_rxbuf_part *
part_at(uint32_t q)
{
	return q == M_CTL ? vmbs_rxbuf_ctl(&rb) : vmbs_rxbuf_part(&rb, q);
}

/*
 * Check the layout independently (control first, then contiguous data
 * partitions of near-equal size covering every data slot once), then
 * record the owners it implies. Returns 0 when the layout is right.
 */
static int
m_layout(void)
{
	uint32_t n = vmbs_rxbuf_slot_count(&rb), q, s, next_id, min = UINT32_MAX, max = 0;
	const struct vmbs_rxbuf_part *p;

	if (n > M_MAX_SLOTS || rb.ctl.first != 0 || rb.ctl.count != rb.n_ctl)
		return -1;
	for (s = 0; s < rb.n_ctl; s++)
		m.owner[s] = M_CTL;
	next_id = rb.n_ctl;
	for (q = 0; q < rb.n_queues; q++) {
		p = vmbs_rxbuf_part(&rb, q);
		if (p == NULL || p->first != next_id)
			return -1;
		for (s = p->first; s < p->first + p->count; s++)
			m.owner[s] = (uint8_t)q;
		next_id += p->count;
		min = p->count < min ? p->count : min;
		max = p->count > max ? p->count : max;
	}
	if (next_id != n || max - min > 1 || vmbs_rxbuf_part(&rb, rb.n_queues) != NULL)
		return -1;
	return 0;
}

/* Fresh model for the current layout: every slot free. */
static void
m_reset(void)
{
	uint32_t s;

	memset(&m, 0, sizeof(m));
	m.n = vmbs_rxbuf_slot_count(&rb);
	CU_ASSERT_EQUAL_FATAL(m_layout(), 0);
	for (s = 0; s < m.n; s++)
		m.free_cnt[m.owner[s]]++;
}

static void
m_live_remove(uint32_t head)
{
	uint32_t i;

	for (i = 0; i < m.n_live; i++)
		if (m.live[i] == head) {
			m.live[i] = m.live[--m.n_live];
			return;
		}
	CU_FAIL("head not live in the model");
}

/* The allocator gave @slot to partition @q's open batch. */
static void
m_add(uint32_t q, uint32_t slot, uint32_t off)
{
	CU_ASSERT_FATAL(slot < m.n);
	CU_ASSERT_EQUAL_FATAL(m.owner[slot], q);
	CU_ASSERT_FATAL(m.st[slot] == M_FREE || m.st[slot] == M_DONE);
	CU_ASSERT_EQUAL(off, slot * rb.slot_size);
	m.st[slot] = M_BUILD;
	m.free_cnt[q]--;
}

/* Partition @q's open batch, @slots[0..n), was committed. */
static void
m_commit(const uint32_t *slots, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(m.st[slots[i]], M_BUILD);
		m.st[slots[i]] = i == 0 ? M_HEAD : M_BODY;
		m.head_of[slots[i]] = slots[0];
	}
	m.live[m.n_live++] = slots[0];
}

static void
m_abort(uint32_t q, const uint32_t *slots, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(m.st[slots[i]], M_BUILD);
		m.st[slots[i]] = M_FREE;
		m.free_cnt[q]++;
	}
}

/* What complete(q, tid) must return, applied to the model. */
static int
m_complete(uint32_t q, uint64_t tid)
{
	uint32_t s, h, n = 0;

	if (tid >= m.n || m.owner[tid] != q) {
		m.unknown[q]++;
		return -ENOENT;
	}
	h = (uint32_t)tid;
	if (m.st[h] == M_DONE) {
		m.duplicate[q]++;
		return -EALREADY;
	}
	if (m.st[h] != M_HEAD) {
		m.unknown[q]++;
		return -ENOENT;
	}
	for (s = 0; s < m.n; s++)
		if ((m.st[s] == M_HEAD || m.st[s] == M_BODY) && m.head_of[s] == h) {
			m.st[s] = s == h ? M_DONE : M_FREE;
			n++;
		}
	m.free_cnt[q] += n;
	m_live_remove(h);
	return (int)n;
}

/* Complete through the allocator and compare with the model. */
static void
complete_checked(uint32_t q, uint64_t tid)
{
	int want = m_complete(q, tid);
	int got = q == M_CTL ? vmbs_rxbuf_ctl_free(part_at(q), tid) :
			       vmbs_rxbuf_complete(part_at(q), tid);

	CU_ASSERT_EQUAL_FATAL(got, want);
}

/* Free counts and bad-completion counters of every partition agree. */
static void
m_check_counts(void)
{
	struct vmbs_rxbuf_stats st;
	uint64_t total = 0;
	uint32_t q;

	for (q = 0; q <= M_CTL; q++) {
		if (q < M_CTL && q >= rb.n_queues)
			continue;
		vmbs_rxbuf_stats_get(part_at(q), &st);
		CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_free_count(part_at(q)), m.free_cnt[q]);
		CU_ASSERT_EQUAL_FATAL(st.outstanding, part_at(q)->count - m.free_cnt[q]);
		CU_ASSERT_EQUAL_FATAL(st.unknown_completions, m.unknown[q]);
		CU_ASSERT_EQUAL_FATAL(st.duplicate_completions, m.duplicate[q]);
		total += st.outstanding;
	}
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_outstanding(&rb), total);
}

/*
 * The data slots were re-split: new owners, every data slot free. The
 * control pool and every partition's counters carry over.
 */
static void
m_repartitioned(void)
{
	static uint8_t ctl_st[VMBS_RXBUF_MAX_QUEUES * 16];
	uint64_t unk[VMBS_RXBUF_MAX_QUEUES + 1], dup[VMBS_RXBUF_MAX_QUEUES + 1];
	uint32_t ctl_free = m.free_cnt[M_CTL], live[64], n_live = 0, i;

	CU_ASSERT_FATAL(rb.n_ctl <= sizeof(ctl_st) && m.n_live <= 64);
	memcpy(unk, m.unknown, sizeof(unk));
	memcpy(dup, m.duplicate, sizeof(dup));
	memcpy(ctl_st, m.st, rb.n_ctl);
	for (i = 0; i < m.n_live; i++)	/* data batches were all drained */
		live[n_live++] = m.live[i];
	m_reset();
	memcpy(m.unknown, unk, sizeof(unk));
	memcpy(m.duplicate, dup, sizeof(dup));
	memcpy(m.st, ctl_st, rb.n_ctl);
	for (i = 0; i < rb.n_ctl; i++)
		m.head_of[i] = i;
	m.free_cnt[M_CTL] = ctl_free;
	for (i = 0; i < n_live; i++)
		m.live[m.n_live++] = live[i];
}

/* Build and commit one batch of up to @want slots on data partition @q. */
static int
send_batch(uint32_t q, uint32_t want, uint32_t *tid)
{
	static uint32_t slots[VMBS_RXBUF_MAX_BATCH];
	struct vmbs_rxbuf_part *p = part_at(q);
	uint32_t n = 0, off;
	int rc, got;

	vmbs_rxbuf_begin(p);
	while (n < want) {
		rc = vmbs_rxbuf_add(p, &slots[n], &off);
		if (rc < 0) {
			CU_ASSERT_FATAL(rc == -ENOBUFS || rc == -ENOSPC);
			break;
		}
		m_add(q, slots[n], off);
		n++;
	}
	got = vmbs_rxbuf_commit(p, tid);
	CU_ASSERT_EQUAL_FATAL(got, (int)n);
	if (n > 0) {
		CU_ASSERT_EQUAL_FATAL(*tid, slots[0]);
		CU_ASSERT_FATAL(*tid < vmbs_rxbuf_slot_count(&rb));
		m_commit(slots, n);
	}
	return got;
}

/* Complete every live batch (model order), then check all slots are free. */
static void
drain(void)
{
	uint32_t h, q;

	while (m.n_live > 0) {
		h = m.live[m.n_live - 1];
		complete_checked(m.owner[h], h);
	}
	for (q = 0; q < rb.n_queues; q++)
		CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(part_at(q)), part_at(q)->count);
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(part_at(M_CTL)), rb.n_ctl);
	CU_ASSERT_EQUAL(vmbs_rxbuf_outstanding(&rb), 0);
}

/*
 * Take every free slot of every partition (through the model, which checks
 * each one was free, in its partition, and is handed out once), check the
 * partitions are then empty, and give everything back: the free lists are
 * intact.
 */
static void
check_free_lists_intact(void)
{
	uint32_t q, s, off, tid;

	for (q = 0; q < rb.n_queues; q++) {
		while (send_batch(q, VMBS_RXBUF_MAX_BATCH, &tid) > 0)
			;
		CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_free_count(part_at(q)), 0);
		CU_ASSERT_EQUAL_FATAL(m.free_cnt[q], 0);
	}
	while (vmbs_rxbuf_ctl_alloc(part_at(M_CTL), &s, &off) == 0) {
		CU_ASSERT_EQUAL_FATAL(m.owner[s], M_CTL);
		CU_ASSERT_FATAL(m.st[s] == M_FREE || m.st[s] == M_DONE);
		CU_ASSERT_EQUAL(off, s * rb.slot_size);
		m.st[s] = M_HEAD;
		m.head_of[s] = s;
		m.free_cnt[M_CTL]--;
		m.live[m.n_live++] = s;
	}
	CU_ASSERT_EQUAL_FATAL(m.free_cnt[M_CTL], 0);
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_outstanding(&rb), vmbs_rxbuf_slot_count(&rb));
	drain();
	m_check_counts();
}

/* ---- slot size and layout ---- */

static void
slot_size_follows_documented_rule(void)
{
	uint32_t mtu, sz;

	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_size(1500), 1856);
	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_size(9000), 9344);
	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_size(68), VMBS_RXBUF_SLOT_MIN);
	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_size(67), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_size(9217), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_size(0), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_size(UINT32_MAX), 0);
	for (mtu = VMBS_RXBUF_MTU_MIN; mtu <= VMBS_RXBUF_MTU_MAX; mtu++) {
		sz = vmbs_rxbuf_slot_size(mtu);
		CU_ASSERT_EQUAL_FATAL(sz % 64, 0);
		/* RNDIS header + 4 PPIs, a tagged frame, then the 36-byte tail. */
		CU_ASSERT_FATAL(44 + 4 * 16 <= 256);
		CU_ASSERT_FATAL(256 + mtu + 14 + 4 + 36 <= sz);
		CU_ASSERT_FATAL(sz - 64 < 256 + mtu + 14 + 4 + 36);
	}
}

static void
layout_for_31_and_16_mib_at_mtu_1500_and_9000(void)
{
	static const struct {
		uint32_t buf, mtu, slots;
	} cases[] = {
		/* 32505856 / 1856, 32505856 / 9344, 16777216 / 1856, / 9344 */
		{ 31 * MIB, 1500, 17513 },
		{ 31 * MIB, 9000, 3478 },
		{ 16 * MIB, 1500, 9039 },
		{ 16 * MIB, 9000, 1795 },
	};
	uint32_t i, sz, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sz = vmbs_rxbuf_slot_size(cases[i].mtu);
		CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, cases[i].buf, sz, 16, 1), 0);
		n = vmbs_rxbuf_slot_count(&rb);
		CU_ASSERT_EQUAL(n, cases[i].slots);
		CU_ASSERT_EQUAL(n, cases[i].buf / sz);
		CU_ASSERT((uint64_t)n * sz <= cases[i].buf);
		CU_ASSERT((uint64_t)(n + 1) * sz > cases[i].buf);
		CU_ASSERT_EQUAL(vmbs_rxbuf_slot_offset(&rb, 0), 0);
		CU_ASSERT_EQUAL(vmbs_rxbuf_slot_offset(&rb, 1), sz);
		CU_ASSERT_EQUAL(vmbs_rxbuf_slot_offset(&rb, n - 1), (n - 1) * sz);
		CU_ASSERT_EQUAL(vmbs_rxbuf_slot_usable(&rb), sz - 36);
		CU_ASSERT_EQUAL(vmbs_rxbuf_ctl(&rb)->count, 16);
		CU_ASSERT_EQUAL(vmbs_rxbuf_part(&rb, 0)->first, 16);
		CU_ASSERT_EQUAL(vmbs_rxbuf_part(&rb, 0)->count, n - 16);
		CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(vmbs_rxbuf_part(&rb, 0)), n - 16);
		CU_ASSERT_EQUAL(vmbs_rxbuf_outstanding(&rb), 0);
		CU_ASSERT_EQUAL(vmbs_rxbuf_max_queues(&rb),
				(n - 16) / 16 < 64 ? (n - 16) / 16 : 64);
		vmbs_rxbuf_fini(&rb);
	}
}

static void
huge_buffer_is_capped_and_offsets_fit_u32(void)
{
	uint32_t n;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 8ull << 30, VMBS_RXBUF_SLOT_MIN, 16, 64), 0);
	n = vmbs_rxbuf_slot_count(&rb);
	CU_ASSERT_EQUAL(n, VMBS_RXBUF_MAX_SLOTS);
	CU_ASSERT((uint64_t)n * VMBS_RXBUF_SLOT_MIN <= UINT32_MAX);
	vmbs_rxbuf_fini(&rb);

	/* Large slots: the 4 GiB cap on offsets decides the count. */
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 64ull << 30, 1u << 20, 16, 1), 0);
	n = vmbs_rxbuf_slot_count(&rb);
	CU_ASSERT_EQUAL(n, UINT32_MAX / (1u << 20));
	CU_ASSERT((uint64_t)n * (1u << 20) <= UINT32_MAX);
	vmbs_rxbuf_fini(&rb);
}

static void
init_rejects_bad_arguments(void)
{
	static const uint8_t zero[sizeof(struct vmbs_rxbuf)];
	uint32_t sz = vmbs_rxbuf_slot_size(1500);

	CU_ASSERT_EQUAL(vmbs_rxbuf_init(NULL, 16 * MIB, sz, 16, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, 16 * MIB, VMBS_RXBUF_SLOT_MIN - 1, 16, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, 16 * MIB, 0, 16, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, 16 * MIB, sz, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, 16 * MIB, sz, 16, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, 16 * MIB, sz, 16, 65), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, 0, sz, 16, 1), -ENOSPC);
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, sz - 1, sz, 1, 1), -ENOSPC);
	/* Exactly n_ctl + Q * 16 slots fits; one byte less does not. */
	CU_ASSERT_EQUAL(vmbs_rxbuf_init(&rb, (uint64_t)(16 + 4 * 16) * sz - 1, sz, 16, 4),
			-ENOSPC);
	CU_ASSERT_EQUAL(memcmp(&rb, zero, sizeof(rb)), 0);
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, (uint64_t)(16 + 4 * 16) * sz, sz, 16, 4), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_slot_count(&rb), 16 + 4 * 16);
	CU_ASSERT_EQUAL(vmbs_rxbuf_max_queues(&rb), 4);
	vmbs_rxbuf_fini(&rb);
	CU_ASSERT_EQUAL(memcmp(&rb, zero, sizeof(rb)), 0);
	vmbs_rxbuf_fini(&rb);
	vmbs_rxbuf_fini(NULL);
}

static void
partitions_cover_data_slots_exactly_once(void)
{
	uint32_t q, s, n, sz = vmbs_rxbuf_slot_size(1500);
	int want;

	for (q = 1; q <= VMBS_RXBUF_MAX_QUEUES; q++) {
		CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 31 * MIB, sz, 16, q), 0);
		CU_ASSERT_EQUAL_FATAL(m_layout(), 0);
		n = vmbs_rxbuf_slot_count(&rb);
		for (s = 0; s < n; s++) {
			want = m.owner[s] == M_CTL ? VMBS_RXBUF_PART_CTL : m.owner[s];
			CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_part_of(&rb, s), want);
		}
		CU_ASSERT_EQUAL(vmbs_rxbuf_part_of(&rb, n), -EINVAL);
		CU_ASSERT_EQUAL(vmbs_rxbuf_part_of(&rb, 0xffffffffu), -EINVAL);
		CU_ASSERT_EQUAL(vmbs_rxbuf_part_of(&rb, UINT64_MAX), -EINVAL);
		CU_ASSERT_EQUAL(vmbs_rxbuf_part_of(&rb, (uint64_t)1 << 32), -EINVAL);
		vmbs_rxbuf_fini(&rb);
	}
	/* Smallest legal buffer for 64 queues: 16 slots each, 7 left over. */
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, (uint64_t)(1 + 64 * 16 + 7) * sz, sz, 1, 64),
			      0);
	CU_ASSERT_EQUAL_FATAL(m_layout(), 0);
	for (s = 0; s < vmbs_rxbuf_slot_count(&rb); s++)
		CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_part_of(&rb, s),
				      m.owner[s] == M_CTL ? VMBS_RXBUF_PART_CTL : m.owner[s]);
	vmbs_rxbuf_fini(&rb);
}

/* ---- batches ---- */

static void
trans_id_always_below_slot_count(void)
{
	uint32_t q, tid, s, off, sz = vmbs_rxbuf_slot_size(9000);

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 16 * MIB, sz, 16, 8), 0);
	m_reset();
	/* Fill every partition, last one included, with batches of every size. */
	for (q = 0; q < 8; q++)
		while (send_batch(q, 1 + rnd() % VMBS_RXBUF_MAX_BATCH, &tid) > 0)
			CU_ASSERT_FATAL(tid < vmbs_rxbuf_slot_count(&rb));
	while (vmbs_rxbuf_ctl_alloc(vmbs_rxbuf_ctl(&rb), &s, &off) == 0)
		CU_ASSERT_FATAL(s < vmbs_rxbuf_slot_count(&rb));
	CU_ASSERT_EQUAL(vmbs_rxbuf_outstanding(&rb), vmbs_rxbuf_slot_count(&rb));
	vmbs_rxbuf_fini(&rb);
}

static void
exhaustion_then_recovery_after_one_completion(void)
{
	struct vmbs_rxbuf_stats st;
	struct vmbs_rxbuf_part *p;
	uint32_t tid, first_tid = 0, s, off, n_first = 0, i;
	int n;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 4 * MIB, vmbs_rxbuf_slot_size(1500), 16, 2),
			      0);
	m_reset();
	p = vmbs_rxbuf_part(&rb, 1);
	for (i = 0; (n = send_batch(1, 100, &tid)) > 0; i++)
		if (i == 0) {
			first_tid = tid;
			n_first = (uint32_t)n;
		}
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(p), 0);
	/* Empty: add fails and is counted; the other partition is unaffected. */
	vmbs_rxbuf_begin(p);
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_rxbuf_commit(p, &tid), 0);
	vmbs_rxbuf_stats_get(p, &st);
	CU_ASSERT(st.exhausted >= 2);
	CU_ASSERT_EQUAL(st.outstanding, p->count);
	CU_ASSERT_EQUAL(st.allocs, p->count);
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(vmbs_rxbuf_part(&rb, 0)),
			vmbs_rxbuf_part(&rb, 0)->count);

	complete_checked(1, first_tid);
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(p), n_first);
	CU_ASSERT_EQUAL(send_batch(1, VMBS_RXBUF_MAX_BATCH, &tid), (int)n_first);
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(p), 0);
	m_check_counts();
	drain();
	vmbs_rxbuf_stats_get(p, &st);
	CU_ASSERT_EQUAL(st.allocs, st.completes);
	CU_ASSERT_EQUAL(st.outstanding, 0);
	vmbs_rxbuf_fini(&rb);
}

static void
batches_of_one_and_of_the_maximum(void)
{
	uint32_t slots[VMBS_RXBUF_MAX_BATCH], tid, off, s, i;
	struct vmbs_rxbuf_part *p;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 16 * MIB, vmbs_rxbuf_slot_size(1500), 16, 1),
			      0);
	m_reset();
	p = vmbs_rxbuf_part(&rb, 0);

	CU_ASSERT_EQUAL(send_batch(0, 1, &tid), 1);
	CU_ASSERT_EQUAL(tid, 16);	/* a fresh partition starts at its first id */
	complete_checked(0, tid);

	vmbs_rxbuf_begin(p);
	for (i = 0; i < VMBS_RXBUF_MAX_BATCH; i++) {
		CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_add(p, &slots[i], &off), 0);
		m_add(0, slots[i], off);
	}
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), -ENOSPC);
	CU_ASSERT_EQUAL(vmbs_rxbuf_commit(p, &tid), (int)VMBS_RXBUF_MAX_BATCH);
	CU_ASSERT_EQUAL(tid, slots[0]);
	m_commit(slots, VMBS_RXBUF_MAX_BATCH);
	m_check_counts();
	/* Every slot of the batch comes back with the head's completion. */
	CU_ASSERT_EQUAL(vmbs_rxbuf_complete(p, slots[1]), -ENOENT);
	m.unknown[0]++;
	complete_checked(0, tid);
	m_check_counts();
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(p), p->count);
	check_free_lists_intact();
	vmbs_rxbuf_fini(&rb);
}

static void
begin_commit_abort_edge_cases(void)
{
	struct vmbs_rxbuf_part *p;
	uint32_t tid = 0xdead, s, off, free0;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 2 * MIB, vmbs_rxbuf_slot_size(1500), 16, 1),
			      0);
	p = vmbs_rxbuf_part(&rb, 0);
	free0 = vmbs_rxbuf_free_count(p);
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), -EINVAL);	/* no batch open */
	CU_ASSERT_EQUAL(vmbs_rxbuf_commit(p, &tid), 0);
	CU_ASSERT_EQUAL(tid, 0xdead);
	vmbs_rxbuf_abort(p);
	vmbs_rxbuf_begin(p);
	CU_ASSERT_EQUAL(vmbs_rxbuf_commit(p, &tid), 0);		/* empty batch */
	CU_ASSERT_EQUAL(tid, 0xdead);

	vmbs_rxbuf_begin(p);
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(p), free0 - 2);
	/* Slots of an open batch are outstanding and cannot be completed. */
	CU_ASSERT_EQUAL(vmbs_rxbuf_outstanding(&rb), 2);
	CU_ASSERT_EQUAL(vmbs_rxbuf_complete(p, s), -ENOENT);
	vmbs_rxbuf_begin(p);					/* aborts the open one */
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(p), free0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), 0);
	vmbs_rxbuf_abort(p);
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(p), free0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_add(p, &s, &off), -EINVAL);	/* closed */
	CU_ASSERT_EQUAL(vmbs_rxbuf_outstanding(&rb), 0);
	vmbs_rxbuf_fini(&rb);
}

static void
completes_in_any_order(void)
{
	uint32_t heads[200], n = 0, i, j, t, q, tid;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 16 * MIB, vmbs_rxbuf_slot_size(1500), 16, 3),
			      0);
	m_reset();
	for (i = 0; i < 200; i++) {
		q = i % 3;
		if (send_batch(q, 1 + rnd() % 40, &tid) > 0)
			heads[n++] = tid;
	}
	CU_ASSERT_EQUAL_FATAL(n, 200);
	for (i = n - 1; i > 0; i--) {	/* Fisher-Yates */
		j = rnd() % (i + 1);
		t = heads[i];
		heads[i] = heads[j];
		heads[j] = t;
	}
	for (i = 0; i < n; i++) {
		complete_checked(m.owner[heads[i]], heads[i]);
		if (i % 17 == 0)
			m_check_counts();
	}
	m_check_counts();
	CU_ASSERT_EQUAL(vmbs_rxbuf_outstanding(&rb), 0);
	check_free_lists_intact();
	vmbs_rxbuf_fini(&rb);
}

/* ---- hostile guest ---- */

static void
hostile_completions_are_counted_and_harmless(void)
{
	static const uint64_t wild[] = {
		0xffffffffu, UINT64_MAX, (uint64_t)1 << 32, ((uint64_t)1 << 32) + 20, 0x7fffffffu,
	};
	uint32_t heads[64], n = 0, i, q, tid, h, s, off;
	struct vmbs_rxbuf_part *p;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 4 * MIB, vmbs_rxbuf_slot_size(1500), 16, 4),
			      0);
	m_reset();
	for (i = 0; i < 40; i++)
		if (send_batch(i % 4, 1 + rnd() % 20, &tid) > 0)
			heads[n++] = tid;
	CU_ASSERT_EQUAL_FATAL(n, 40);
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_ctl_alloc(vmbs_rxbuf_ctl(&rb), &s, &off), 0);
	m.st[s] = M_HEAD;
	m.head_of[s] = s;
	m.free_cnt[M_CTL]--;
	m.live[m.n_live++] = s;
	/* An open batch on partition 2 must survive all of it. */
	p = vmbs_rxbuf_part(&rb, 2);
	vmbs_rxbuf_begin(p);
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_add(p, &s, &off), 0);
	m_add(2, s, off);
	m_check_counts();

	/* Out of range and 32/64-bit boundary values, on every partition. */
	for (i = 0; i < sizeof(wild) / sizeof(wild[0]); i++)
		for (q = 0; q <= M_CTL; q++)
			if (q < 4 || q == M_CTL)
				complete_checked(q, wild[i]);
	complete_checked(0, vmbs_rxbuf_slot_count(&rb));
	/* The open batch's slot, on its owner and elsewhere. */
	complete_checked(2, s);
	complete_checked(M_CTL, s);
	/* Middle slots of live batches, and heads sent to the wrong partition. */
	for (i = 0; i < n; i++) {
		h = heads[i];
		if (h + 1 < m.n && m.st[h + 1] == M_BODY)
			complete_checked(m.owner[h], h + 1);
		complete_checked((m.owner[h] + 1) % 4, h);
		complete_checked(M_CTL, h);
	}
	m_check_counts();
	/* Never-sent ids: the free slots at the end of each partition. */
	for (q = 0; q < 4; q++)
		complete_checked(q, part_at(q)->first + part_at(q)->count - 1);
	/* Complete half the batches, then repeat those completions. */
	for (i = 0; i < n; i += 2)
		complete_checked(m.owner[heads[i]], heads[i]);
	for (i = 0; i < n; i += 2) {
		complete_checked(m.owner[heads[i]], heads[i]);
		complete_checked(m.owner[heads[i]], heads[i]);
	}
	m_check_counts();
	/* Random ids to random partitions. */
	for (i = 0; i < 20000; i++) {
		q = rnd() % 5;
		complete_checked(q == 4 ? M_CTL : q, (rnd() % 2) ? rnd() % (m.n + 50) :
				 ((uint64_t)rnd() << 32 | rnd()));
	}
	m_check_counts();
	/* Still consistent: the open batch commits, everything drains. */
	CU_ASSERT_EQUAL(vmbs_rxbuf_commit(p, &tid), 1);
	CU_ASSERT_EQUAL(tid, s);
	m_commit(&s, 1);
	drain();
	m_check_counts();
	check_free_lists_intact();
	vmbs_rxbuf_fini(&rb);
}

static void
control_pool_allocates_and_frees_single_slots(void)
{
	struct vmbs_rxbuf_part *ctl;
	struct vmbs_rxbuf_stats st;
	uint32_t s, off, i, data_tid;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 2 * MIB, vmbs_rxbuf_slot_size(1500), 16, 1),
			      0);
	m_reset();
	ctl = vmbs_rxbuf_ctl(&rb);
	for (i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_ctl_alloc(ctl, &s, &off), 0);
		CU_ASSERT_EQUAL(s, i);
		CU_ASSERT_EQUAL(off, i * rb.slot_size);
		CU_ASSERT_EQUAL(vmbs_rxbuf_part_of(&rb, s), VMBS_RXBUF_PART_CTL);
		m.st[s] = M_HEAD;
		m.head_of[s] = s;
		m.free_cnt[M_CTL]--;
		m.live[m.n_live++] = s;
	}
	CU_ASSERT_EQUAL(vmbs_rxbuf_ctl_alloc(ctl, &s, &off), -ENOBUFS);
	CU_ASSERT_EQUAL(send_batch(0, 3, &data_tid), 3);
	complete_checked(M_CTL, data_tid);	/* a data id is not the pool's */
	complete_checked(0, 5);			/* nor a control id the queue's */
	complete_checked(M_CTL, 5);
	complete_checked(M_CTL, 5);		/* duplicate */
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_ctl_alloc(ctl, &s, &off), 0);
	CU_ASSERT_EQUAL(s, 5);
	m.st[s] = M_HEAD;
	m.free_cnt[M_CTL]--;
	m.live[m.n_live++] = s;
	m_check_counts();
	vmbs_rxbuf_stats_get(ctl, &st);
	CU_ASSERT_EQUAL(st.allocs, 17);
	CU_ASSERT_EQUAL(st.completes, 1);
	CU_ASSERT_EQUAL(st.exhausted, 1);
	CU_ASSERT_EQUAL(st.duplicate_completions, 1);
	CU_ASSERT_EQUAL(st.unknown_completions, 1);
	drain();
	m_check_counts();
	vmbs_rxbuf_fini(&rb);
}

/* ---- repartition ---- */

static void
repartition_busy_while_outstanding_ok_when_drained(void)
{
	struct vmbs_rxbuf_stats st;
	struct vmbs_rxbuf_part *p;
	uint32_t tid, s, off, ctl_slot;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 16 * MIB, vmbs_rxbuf_slot_size(1500), 16, 1),
			      0);
	m_reset();
	CU_ASSERT_EQUAL(send_batch(0, 10, &tid), 10);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 8), -EBUSY);
	CU_ASSERT_EQUAL(rb.n_queues, 1);
	complete_checked(0, tid);
	complete_checked(0, tid);	/* a duplicate, counted before the re-split */

	/* An open (even empty) batch also blocks. */
	p = vmbs_rxbuf_part(&rb, 0);
	vmbs_rxbuf_begin(p);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 8), -EBUSY);
	vmbs_rxbuf_abort(p);

	/* Outstanding control slots do not: the pool is not re-split. */
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_ctl_alloc(vmbs_rxbuf_ctl(&rb), &ctl_slot, &off), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 65), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 8), 0);
	CU_ASSERT_EQUAL(rb.n_queues, 8);
	CU_ASSERT_EQUAL(vmbs_rxbuf_free_count(vmbs_rxbuf_ctl(&rb)), 15);
	CU_ASSERT_EQUAL(vmbs_rxbuf_ctl_free(vmbs_rxbuf_ctl(&rb), ctl_slot), 1);
	/* Counters of queue 0 survive. */
	vmbs_rxbuf_stats_get(vmbs_rxbuf_part(&rb, 0), &st);
	CU_ASSERT_EQUAL(st.allocs, 10);
	CU_ASSERT_EQUAL(st.completes, 10);
	CU_ASSERT_EQUAL(st.duplicate_completions, 1);

	m_reset();
	m.duplicate[0] = 1;
	for (s = 0; s < 8; s++)
		CU_ASSERT_EQUAL(send_batch(s, 5, &tid), 5);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 2), -EBUSY);
	m_check_counts();
	drain();
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 64), 0);
	m_reset();
	m.duplicate[0] = 1;
	check_free_lists_intact();
	/* The buffer cannot feed more queues than max_queues(). */
	vmbs_rxbuf_fini(&rb);
	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, (uint64_t)(16 + 40 * 16) * 1856, 1856, 16, 1),
			      0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_max_queues(&rb), 40);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 41), -ENOSPC);
	CU_ASSERT_EQUAL(rb.n_queues, 1);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 40), 0);
	CU_ASSERT_EQUAL(vmbs_rxbuf_part(&rb, 39)->count, 16);
	vmbs_rxbuf_fini(&rb);
	CU_ASSERT_EQUAL(vmbs_rxbuf_repartition(&rb, 1), -EINVAL);
}

/* ---- randomised model ---- */

static void
random_100k_operations_match_the_model(void)
{
	static uint32_t slots[VMBS_RXBUF_MAX_BATCH];
	struct vmbs_rxbuf_part *p;
	uint32_t i, k, q, n, tid, off, want, h, queues = 4;
	int rc, want_rc;

	CU_ASSERT_EQUAL_FATAL(vmbs_rxbuf_init(&rb, 2 * MIB, vmbs_rxbuf_slot_size(1500), 16, 4),
			      0);
	m_reset();
	for (i = 0; i < 100000; i++) {
		switch (rnd() % 10) {
		case 0:
		case 1:
		case 2:		/* send a batch, sizes biased to small */
			q = rnd() % queues;
			want = rnd() % 4 == 0 ? 1 + rnd() % VMBS_RXBUF_MAX_BATCH : 1 + rnd() % 8;
			send_batch(q, want, &tid);
			break;
		case 3:		/* build then abort */
			q = rnd() % queues;
			p = part_at(q);
			vmbs_rxbuf_begin(p);
			want = rnd() % 16;
			for (n = 0; n < want && vmbs_rxbuf_add(p, &slots[n], &off) == 0; n++)
				m_add(q, slots[n], off);
			vmbs_rxbuf_abort(p);
			m_abort(q, slots, n);
			break;
		case 4:
		case 5:
		case 6:		/* the guest completes a live batch, on its owner */
			if (m.n_live == 0)
				break;
			h = m.live[rnd() % m.n_live];
			complete_checked(m.owner[h], h);
			break;
		case 7:		/* hostile: any id to any partition */
			k = rnd() % (queues + 1);
			complete_checked(k == queues ? M_CTL : k, rnd() % 3 == 0 ?
					 ((uint64_t)rnd() << 40) ^ rnd() : rnd() % (m.n + 8));
			break;
		case 8:		/* control pool */
			if (rnd() % 2) {
				rc = vmbs_rxbuf_ctl_alloc(vmbs_rxbuf_ctl(&rb), &h, &off);
				CU_ASSERT_EQUAL_FATAL(rc, m.free_cnt[M_CTL] ? 0 : -ENOBUFS);
				if (rc == 0) {
					CU_ASSERT_EQUAL_FATAL(m.owner[h], M_CTL);
					CU_ASSERT_FATAL(m.st[h] == M_FREE || m.st[h] == M_DONE);
					m.st[h] = M_HEAD;
					m.head_of[h] = h;
					m.free_cnt[M_CTL]--;
					m.live[m.n_live++] = h;
				}
			} else {
				complete_checked(M_CTL, rnd() % (rb.n_ctl + 2));
			}
			break;
		default:	/* the guest asks for another queue count */
			if (rnd() % 50 != 0)
				break;
			want = 1 + rnd() % 8;
			want_rc = 0;
			for (q = 0; q < queues; q++)
				if (m.free_cnt[q] != part_at(q)->count)
					want_rc = -EBUSY;
			rc = vmbs_rxbuf_repartition(&rb, want);
			CU_ASSERT_EQUAL_FATAL(rc, want_rc);
			if (rc == 0) {
				m_repartitioned();
				queues = want;
			}
			break;
		}
		m_check_counts();
		if (i % 5000 == 0)
			check_free_lists_intact();
	}
	drain();
	m_check_counts();
	check_free_lists_intact();
	vmbs_rxbuf_fini(&rb);
}

static const struct vmbs_test_case layout_cases[] = {
	{ "slot_size_follows_documented_rule", slot_size_follows_documented_rule },
	{ "layout_for_31_and_16_mib_at_mtu_1500_and_9000",
	  layout_for_31_and_16_mib_at_mtu_1500_and_9000 },
	{ "huge_buffer_is_capped_and_offsets_fit_u32", huge_buffer_is_capped_and_offsets_fit_u32 },
	{ "init_rejects_bad_arguments", init_rejects_bad_arguments },
	{ "partitions_cover_data_slots_exactly_once", partitions_cover_data_slots_exactly_once },
	{ NULL, NULL },
};

static const struct vmbs_test_case batch_cases[] = {
	{ "trans_id_always_below_slot_count", trans_id_always_below_slot_count },
	{ "exhaustion_then_recovery_after_one_completion",
	  exhaustion_then_recovery_after_one_completion },
	{ "batches_of_one_and_of_the_maximum", batches_of_one_and_of_the_maximum },
	{ "begin_commit_abort_edge_cases", begin_commit_abort_edge_cases },
	{ "completes_in_any_order", completes_in_any_order },
	{ "control_pool_allocates_and_frees_single_slots",
	  control_pool_allocates_and_frees_single_slots },
	{ NULL, NULL },
};

static const struct vmbs_test_case hostile_cases[] = {
	{ "hostile_completions_are_counted_and_harmless",
	  hostile_completions_are_counted_and_harmless },
	{ "repartition_busy_while_outstanding_ok_when_drained",
	  repartition_busy_while_outstanding_ok_when_drained },
	{ "random_100k_operations_match_the_model", random_100k_operations_match_the_model },
	{ NULL, NULL },
};

static const struct vmbs_test_suite layout_suite = { "rxbuf_layout", NULL, NULL, layout_cases };
static const struct vmbs_test_suite batch_suite = { "rxbuf_batch", NULL, NULL, batch_cases };
static const struct vmbs_test_suite hostile_suite = { "rxbuf_hostile", NULL, NULL, hostile_cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&layout_suite, &batch_suite, &hostile_suite, NULL,
	};

	return vmbs_test_run(suites);
}
