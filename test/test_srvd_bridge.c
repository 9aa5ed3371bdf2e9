/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/* vmbus-srvd's MAC table and forwarding decision, without the EAL. */

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "srvd_bridge.h"
#include "vmbs_test.h"

static const struct srvd_mac_table_params default_params = {
	.entries = 64, .aging = 1000, .refresh = 10,
};

static void
mac_n(uint8_t mac[6], uint32_t n)
{
	mac[0] = 0x02;
	mac[1] = 0x15;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

static void
rejects_bad_params(void)
{
	struct srvd_mac_table_params p = default_params;

	p.entries = 0;
	errno = 0;
	CU_ASSERT(srvd_mac_table_create(&p) == NULL && errno == EINVAL);
	p = default_params;
	p.refresh = p.aging;
	CU_ASSERT(srvd_mac_table_create(&p) == NULL && errno == EINVAL);
	p.entries = (1u << 24) + 1;
	CU_ASSERT(srvd_mac_table_create(&p) == NULL);
	/* Aging 0 (never) allows any refresh. */
	p = default_params;
	p.aging = 0;
	p.refresh = 5000;
	srvd_mac_table_free(srvd_mac_table_create(&p));
	srvd_mac_table_free(NULL);
}

static void
capacity_rounds_up_to_power_of_two(void)
{
	struct srvd_mac_table_params p = default_params;
	struct srvd_mac_table *t;

	p.entries = 1;
	t = srvd_mac_table_create(&p);
	VMBS_CHECK(t != NULL);
	CU_ASSERT(srvd_mac_table_capacity(t) == SRVD_BR_BUCKET_WAYS);
	srvd_mac_table_free(t);
	p.entries = 100;
	t = srvd_mac_table_create(&p);
	VMBS_CHECK(t != NULL);
	CU_ASSERT(srvd_mac_table_capacity(t) == 128);
	srvd_mac_table_free(t);
}

static void
learns_and_finds_source(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	uint8_t a[6], b[6];

	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	mac_n(b, 2);
	CU_ASSERT(srvd_mac_lookup(t, a, 0) == SRVD_BR_PORT_NONE);
	CU_ASSERT(srvd_mac_learn(t, a, 3, 100) == SRVD_MAC_LEARNT);
	CU_ASSERT(srvd_mac_learn(t, a, 3, 101) == SRVD_MAC_KNOWN);
	CU_ASSERT(srvd_mac_learn(t, b, 0, 100) == SRVD_MAC_LEARNT);
	CU_ASSERT(srvd_mac_lookup(t, a, 200) == 3);
	CU_ASSERT(srvd_mac_lookup(t, b, 200) == 0);
	CU_ASSERT(srvd_mac_table_count(t, 200) == 2);
	srvd_mac_table_free(t);
}

static void
refuses_group_and_zero_sources(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	const uint8_t zero[6] = { 0 };
	uint8_t a[6];

	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	CU_ASSERT(srvd_mac_learn(t, bcast, 1, 1) == SRVD_MAC_REFUSED);
	CU_ASSERT(srvd_mac_learn(t, mcast, 1, 1) == SRVD_MAC_REFUSED);
	CU_ASSERT(srvd_mac_learn(t, zero, 1, 1) == SRVD_MAC_REFUSED);
	CU_ASSERT(srvd_mac_learn(t, a, SRVD_BR_MAX_PORT + 1, 1) == SRVD_MAC_REFUSED);
	CU_ASSERT(srvd_mac_learn(t, a, SRVD_BR_MAX_PORT, 1) == SRVD_MAC_LEARNT);
	CU_ASSERT(srvd_mac_lookup(t, a, 1) == SRVD_BR_MAX_PORT);
	CU_ASSERT(srvd_mac_table_count(t, 1) == 1);
	srvd_mac_table_free(t);
}

static void
station_moves_between_ports(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	uint8_t a[6];

	VMBS_CHECK(t != NULL);
	mac_n(a, 7);
	CU_ASSERT(srvd_mac_learn(t, a, 1, 10) == SRVD_MAC_LEARNT);
	CU_ASSERT(srvd_mac_learn(t, a, 2, 11) == SRVD_MAC_MOVED);
	CU_ASSERT(srvd_mac_lookup(t, a, 12) == 2);
	CU_ASSERT(srvd_mac_table_count(t, 12) == 1);
	srvd_mac_table_free(t);
}

static void
entries_age_out(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	uint8_t a[6];

	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	srvd_mac_learn(t, a, 1, 1000);
	CU_ASSERT(srvd_mac_lookup(t, a, 1999) == 1);
	CU_ASSERT(srvd_mac_lookup(t, a, 2000) == SRVD_BR_PORT_NONE);
	CU_ASSERT(srvd_mac_table_count(t, 2000) == 0);
	/* Seen again: its old slot comes back to life. */
	CU_ASSERT(srvd_mac_learn(t, a, 1, 2500) == SRVD_MAC_KNOWN);
	CU_ASSERT(srvd_mac_lookup(t, a, 2600) == 1);
	srvd_mac_table_free(t);
}

static void
refresh_keeps_busy_source_alive(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	uint8_t a[6];
	uint64_t now;

	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	for (now = 0; now < 10000; now += 7)
		srvd_mac_learn(t, a, 4, now);
	CU_ASSERT(srvd_mac_lookup(t, a, 10000) == 4);
	/* Aged relative to the last refresh, at most `refresh` behind. */
	CU_ASSERT(srvd_mac_lookup(t, a, 9996 + 1000 - 10) == 4);
	CU_ASSERT(srvd_mac_lookup(t, a, 9996 + 1000 + 1) == SRVD_BR_PORT_NONE);
	srvd_mac_table_free(t);
}

static void
never_ages_with_aging_zero(void)
{
	struct srvd_mac_table_params p = default_params;
	struct srvd_mac_table *t;
	uint8_t a[6];

	p.aging = 0;
	t = srvd_mac_table_create(&p);
	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	srvd_mac_learn(t, a, 1, 5);
	CU_ASSERT(srvd_mac_lookup(t, a, UINT64_MAX) == 1);
	srvd_mac_table_free(t);
}

static void
timestamp_ahead_of_now_is_fresh(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	uint8_t a[6];

	/* Another lcore stamped it after our burst started. */
	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	srvd_mac_learn(t, a, 1, 50000);
	CU_ASSERT(srvd_mac_lookup(t, a, 100) == 1);
	CU_ASSERT(srvd_mac_learn(t, a, 1, 100) == SRVD_MAC_KNOWN);
	CU_ASSERT(srvd_mac_table_count(t, 100) == 1);
	srvd_mac_table_free(t);
}

static void
full_table_evicts_least_recent(void)
{
	struct srvd_mac_table_params p = default_params;
	struct srvd_mac_table *t;
	uint8_t m[6];
	uint32_t i, found = 0;

	/* One bucket: every MAC competes for the same 8 ways. */
	p.entries = SRVD_BR_BUCKET_WAYS;
	p.aging = 0;
	t = srvd_mac_table_create(&p);
	VMBS_CHECK(t != NULL);
	for (i = 0; i < SRVD_BR_BUCKET_WAYS; i++) {
		mac_n(m, i + 1);
		CU_ASSERT(srvd_mac_learn(t, m, 1, 100 + i) == SRVD_MAC_LEARNT);
	}
	mac_n(m, 100);
	CU_ASSERT(srvd_mac_learn(t, m, 2, 500) == SRVD_MAC_EVICTED);
	CU_ASSERT(srvd_mac_lookup(t, m, 500) == 2);
	/* The oldest (MAC 1, seen at 100) went; the others stayed. */
	mac_n(m, 1);
	CU_ASSERT(srvd_mac_lookup(t, m, 500) == SRVD_BR_PORT_NONE);
	for (i = 1; i < SRVD_BR_BUCKET_WAYS; i++) {
		mac_n(m, i + 1);
		found += srvd_mac_lookup(t, m, 500) == 1;
	}
	CU_ASSERT(found == SRVD_BR_BUCKET_WAYS - 1);
	CU_ASSERT(srvd_mac_table_count(t, 500) == SRVD_BR_BUCKET_WAYS);
	srvd_mac_table_free(t);
}

static void
aged_slot_is_reused_before_eviction(void)
{
	struct srvd_mac_table_params p = default_params;
	struct srvd_mac_table *t;
	uint8_t m[6];
	uint32_t i;

	p.entries = SRVD_BR_BUCKET_WAYS;
	t = srvd_mac_table_create(&p);
	VMBS_CHECK(t != NULL);
	for (i = 0; i < SRVD_BR_BUCKET_WAYS; i++) {
		mac_n(m, i + 1);
		srvd_mac_learn(t, m, 1, i == 3 ? 0 : 5000);
	}
	mac_n(m, 50);
	CU_ASSERT(srvd_mac_learn(t, m, 2, 5100) == SRVD_MAC_LEARNT);
	mac_n(m, 4);
	CU_ASSERT(srvd_mac_lookup(t, m, 5100) == SRVD_BR_PORT_NONE);
	srvd_mac_table_free(t);
}

static void
forget_port_drops_only_its_entries(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	uint8_t m[6];
	uint32_t i;

	VMBS_CHECK(t != NULL);
	for (i = 0; i < 20; i++) {
		mac_n(m, i + 1);
		srvd_mac_learn(t, m, (uint16_t)(i % 2), 10);
	}
	CU_ASSERT(srvd_mac_forget_port(t, 1) == 10);
	CU_ASSERT(srvd_mac_table_count(t, 10) == 10);
	for (i = 0; i < 20; i++) {
		mac_n(m, i + 1);
		CU_ASSERT(srvd_mac_lookup(t, m, 10) == (i % 2 ? SRVD_BR_PORT_NONE : 0));
	}
	srvd_mac_table_free(t);
}

static void
decide_floods_unknown_and_group(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t mcast[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	enum srvd_mac_learn_result lr;
	uint8_t a[6], b[6];
	uint16_t out = 77;

	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	mac_n(b, 2);
	CU_ASSERT(srvd_bridge_decide(t, b, a, 0, 1, &lr, &out) == SRVD_BR_FLOOD);
	CU_ASSERT(lr == SRVD_MAC_LEARNT);
	CU_ASSERT(srvd_bridge_decide(t, bcast, a, 0, 2, &lr, &out) == SRVD_BR_FLOOD);
	CU_ASSERT(lr == SRVD_MAC_KNOWN);
	CU_ASSERT(srvd_bridge_decide(t, mcast, a, 0, 3, &lr, &out) == SRVD_BR_FLOOD);
	/* b learnt on 1: now a's frames to b are unicast, and back. */
	CU_ASSERT(srvd_bridge_decide(t, a, b, 1, 4, &lr, &out) == SRVD_BR_UNICAST);
	CU_ASSERT(out == 0);
	CU_ASSERT(srvd_bridge_decide(t, b, a, 0, 5, &lr, &out) == SRVD_BR_UNICAST);
	CU_ASSERT(out == 1);
	/* Group destinations flood even when learnt as a source elsewhere. */
	CU_ASSERT(srvd_bridge_decide(t, bcast, b, 1, 6, &lr, &out) == SRVD_BR_FLOOD);
	srvd_mac_table_free(t);
}

static void
decide_drops_to_ingress_port_and_bad_source(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	const uint8_t mcast_src[6] = { 0x01, 0x15, 0x5d, 0, 0, 1 };
	enum srvd_mac_learn_result lr;
	uint8_t a[6], b[6];
	uint16_t out;

	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	mac_n(b, 2);
	srvd_mac_learn(t, b, 3, 1);
	CU_ASSERT(srvd_bridge_decide(t, b, a, 3, 2, &lr, &out) == SRVD_BR_DROP_SAME_PORT);
	CU_ASSERT(out == 3);
	CU_ASSERT(srvd_bridge_decide(t, b, mcast_src, 0, 2, &lr, &out) ==
		  SRVD_BR_DROP_BAD_SRC);
	CU_ASSERT(lr == SRVD_MAC_REFUSED);
	srvd_mac_table_free(t);
}

static void
decide_after_aging_floods_again(void)
{
	struct srvd_mac_table *t = srvd_mac_table_create(&default_params);
	enum srvd_mac_learn_result lr;
	uint8_t a[6], b[6];
	uint16_t out;

	VMBS_CHECK(t != NULL);
	mac_n(a, 1);
	mac_n(b, 2);
	srvd_mac_learn(t, b, 1, 0);
	CU_ASSERT(srvd_bridge_decide(t, b, a, 0, 500, &lr, &out) == SRVD_BR_UNICAST);
	CU_ASSERT(srvd_bridge_decide(t, b, a, 0, 1000, &lr, &out) == SRVD_BR_FLOOD);
	srvd_mac_table_free(t);
}

/* Concurrent learners and readers: a lookup never pairs a MAC with a port
 * it was never learnt on (each MAC lives on ports of one parity).
 */
#define MT_MACS 512u
#define MT_ROUNDS 2000u

struct mt_arg {
	struct srvd_mac_table *t;
	uint16_t base;		/* ports base, base + 2, ... */
	uint32_t bad;
};

static void *
mt_worker(void *p)
{
	struct mt_arg *a = p;
	uint8_t m[6];
	uint32_t r, i;

	for (r = 0; r < MT_ROUNDS; r++) {
		for (i = 0; i < MT_MACS; i++) {
			uint16_t got;

			/* MAC i is always learnt on a port of parity i % 2. */
			if (i % 2 == a->base % 2) {
				mac_n(m, i + 1);
				srvd_mac_learn(a->t, m, (uint16_t)(a->base + 2 * (r % 3)), r);
			}
			mac_n(m, (i * 7) % MT_MACS + 1);
			got = srvd_mac_lookup(a->t, m, r);
			if (got != SRVD_BR_PORT_NONE && got % 2 != ((i * 7) % MT_MACS) % 2)
				a->bad++;
		}
	}
	return NULL;
}

static void
concurrent_learning_never_tears_entries(void)
{
	struct srvd_mac_table_params p = { .entries = 256, .aging = 0, .refresh = 1 };
	struct mt_arg args[4];
	pthread_t th[4];
	unsigned int i;

	/* Smaller than MT_MACS: evictions race with learning too. */
	args[0].t = srvd_mac_table_create(&p);
	VMBS_CHECK(args[0].t != NULL);
	for (i = 0; i < 4; i++) {
		args[i].t = args[0].t;
		args[i].base = (uint16_t)i;
		args[i].bad = 0;
		VMBS_CHECK(pthread_create(&th[i], NULL, mt_worker, &args[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT(args[i].bad == 0);
	}
	CU_ASSERT(srvd_mac_table_count(args[0].t, 0) <= 256);
	srvd_mac_table_free(args[0].t);
}

static const struct vmbs_test_case cases[] = {
	{ "rejects_bad_params", rejects_bad_params },
	{ "capacity_rounds_up_to_power_of_two", capacity_rounds_up_to_power_of_two },
	{ "learns_and_finds_source", learns_and_finds_source },
	{ "refuses_group_and_zero_sources", refuses_group_and_zero_sources },
	{ "station_moves_between_ports", station_moves_between_ports },
	{ "entries_age_out", entries_age_out },
	{ "refresh_keeps_busy_source_alive", refresh_keeps_busy_source_alive },
	{ "never_ages_with_aging_zero", never_ages_with_aging_zero },
	{ "timestamp_ahead_of_now_is_fresh", timestamp_ahead_of_now_is_fresh },
	{ "full_table_evicts_least_recent", full_table_evicts_least_recent },
	{ "aged_slot_is_reused_before_eviction", aged_slot_is_reused_before_eviction },
	{ "forget_port_drops_only_its_entries", forget_port_drops_only_its_entries },
	{ "decide_floods_unknown_and_group", decide_floods_unknown_and_group },
	{ "decide_drops_to_ingress_port_and_bad_source",
	  decide_drops_to_ingress_port_and_bad_source },
	{ "decide_after_aging_floods_again", decide_after_aging_floods_again },
	{ "concurrent_learning_never_tears_entries", concurrent_learning_never_tears_entries },
	{ NULL, NULL },
};

static const struct vmbs_test_suite suite = { "srvd_bridge", NULL, NULL, cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = { &suite, NULL };

	return vmbs_test_run(suites);
}
