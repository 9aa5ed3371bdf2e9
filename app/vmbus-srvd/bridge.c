/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The MAC table: a set-associative hash table. A MAC hashes to one bucket
 * of SRVD_BR_BUCKET_WAYS slots; each slot is a key word (MAC << 16 |
 * port + 1, 0 when empty) and a last-seen timestamp. Keys fill exactly one
 * cache line per bucket, so a lookup reads one line, and the timestamps
 * (the only words written per refresh) live in the next one.
 *
 * Ordering: a slot's timestamp is stored before its key is published
 * (P1, release); a reader loads the key (L1, acquire) before the
 * timestamp, so a key it sees never carries a timestamp older than the
 * learning that wrote it. Timestamps alone are relaxed: a stale one only
 * makes an entry age out or get evicted a little early.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "srvd_bridge.h"

/* Table sizes beyond this are a configuration mistake, not a need. */
#define MAC_TABLE_MAX_ENTRIES (1u << 24)
/* Fibonacci hashing multiplier (2^64 / golden ratio, odd). */
#define MAC_HASH_MUL 0x9e3779b97f4a7c15ull

struct mac_bucket {
	uint64_t key[SRVD_BR_BUCKET_WAYS];
	uint64_t seen[SRVD_BR_BUCKET_WAYS];
} __attribute__((aligned(64)));

struct srvd_mac_table {
	struct mac_bucket *buckets;
	uint32_t mask;		/* buckets - 1 */
	uint64_t aging;
	uint64_t refresh;
};

static inline uint64_t
mac_to_u48(const uint8_t mac[6])
{
	return (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 | (uint64_t)mac[2] << 24 |
	       (uint64_t)mac[3] << 16 | (uint64_t)mac[4] << 8 | mac[5];
}

static inline struct mac_bucket *
mac_bucket(const struct srvd_mac_table *t, uint64_t m48)
{
	return &t->buckets[(uint32_t)((m48 * MAC_HASH_MUL) >> 32) & t->mask];
}

/*
 * Timestamps written by other lcores may be ahead of our @p now (it was
 * read at the start of our burst): such an entry is fresh, not ancient.
 */
static inline bool
mac_expired(const struct srvd_mac_table *t, uint64_t seen, uint64_t now)
{
	return t->aging != 0 && now > seen && now - seen >= t->aging;
}

struct srvd_mac_table *
srvd_mac_table_create(const struct srvd_mac_table_params *p)
{
	struct srvd_mac_table *t;
	uint32_t entries = SRVD_BR_BUCKET_WAYS;

	if (p->entries == 0 || p->entries > MAC_TABLE_MAX_ENTRIES ||
	    (p->aging != 0 && p->refresh >= p->aging)) {
		errno = EINVAL;
		return NULL;
	}
	while (entries < p->entries)
		entries <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->buckets = aligned_alloc(64, (size_t)(entries / SRVD_BR_BUCKET_WAYS) *
				   sizeof(struct mac_bucket));
	if (t->buckets == NULL) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	memset(t->buckets, 0, (size_t)(entries / SRVD_BR_BUCKET_WAYS) *
	       sizeof(struct mac_bucket));
	t->mask = entries / SRVD_BR_BUCKET_WAYS - 1;
	t->aging = p->aging;
	t->refresh = p->refresh;
	return t;
}

void
srvd_mac_table_free(struct srvd_mac_table *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t);
}

uint32_t
srvd_mac_table_capacity(const struct srvd_mac_table *t)
{
	return (t->mask + 1) * SRVD_BR_BUCKET_WAYS;
}

enum srvd_mac_learn_result
srvd_mac_learn(struct srvd_mac_table *t, const uint8_t mac[6], uint16_t port, uint64_t now)
{
	uint64_t m48 = mac_to_u48(mac);
	uint64_t want = m48 << 16 | (uint64_t)(port + 1u);
	struct mac_bucket *b;
	uint64_t victim_key = 0, victim_seen = UINT64_MAX;
	unsigned int i, victim = SRVD_BR_BUCKET_WAYS;
	bool victim_free = false;

	if (m48 == 0 || srvd_mac_is_group(mac) || port > SRVD_BR_MAX_PORT)
		return SRVD_MAC_REFUSED;
	b = mac_bucket(t, m48);
	for (i = 0; i < SRVD_BR_BUCKET_WAYS; i++) {
		/* L1: pairs with P1 below (another lcore's insert). */
		uint64_t k = __atomic_load_n(&b->key[i], __ATOMIC_ACQUIRE);
		uint64_t seen = __atomic_load_n(&b->seen[i], __ATOMIC_RELAXED);

		if (k != 0 && k >> 16 == m48) {
			if (k == want) {
				if (now > seen && now - seen >= t->refresh)
					__atomic_store_n(&b->seen[i], now, __ATOMIC_RELAXED);
				return SRVD_MAC_KNOWN;
			}
			/* The station moved: same slot, new port. */
			__atomic_store_n(&b->seen[i], now, __ATOMIC_RELAXED);
			/* P1: publishes the timestamp with the key. */
			if (__atomic_compare_exchange_n(&b->key[i], &k, want, false,
							__ATOMIC_RELEASE, __ATOMIC_RELAXED))
				return SRVD_MAC_MOVED;
			return SRVD_MAC_LOST_RACE;
		}
		if (victim_free)
			continue;
		/* Prefer a free or aged-out slot, else the least recently seen. */
		if (k == 0 || mac_expired(t, seen, now)) {
			victim = i;
			victim_key = k;
			victim_free = true;
		} else if (victim == SRVD_BR_BUCKET_WAYS || seen < victim_seen) {
			victim = i;
			victim_key = k;
			victim_seen = seen;
		}
	}
	__atomic_store_n(&b->seen[victim], now, __ATOMIC_RELAXED);
	/* P1: as above. Fails if another lcore changed the slot since we looked. */
	if (!__atomic_compare_exchange_n(&b->key[victim], &victim_key, want, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return SRVD_MAC_LOST_RACE;
	return victim_free ? SRVD_MAC_LEARNT : SRVD_MAC_EVICTED;
}

uint16_t
srvd_mac_lookup(const struct srvd_mac_table *t, const uint8_t mac[6], uint64_t now)
{
	uint64_t m48 = mac_to_u48(mac);
	const struct mac_bucket *b = mac_bucket(t, m48);
	unsigned int i;

	for (i = 0; i < SRVD_BR_BUCKET_WAYS; i++) {
		/* L1: pairs with P1. */
		uint64_t k = __atomic_load_n(&b->key[i], __ATOMIC_ACQUIRE);

		if (k == 0 || k >> 16 != m48)
			continue;
		/* Learning refreshes the first copy only: it decides. */
		if (mac_expired(t, __atomic_load_n(&b->seen[i], __ATOMIC_RELAXED), now))
			return SRVD_BR_PORT_NONE;
		return (uint16_t)((k & 0xffffu) - 1u);
	}
	return SRVD_BR_PORT_NONE;
}

uint32_t
srvd_mac_forget_port(struct srvd_mac_table *t, uint16_t port)
{
	uint32_t b, n = 0;
	unsigned int i;

	for (b = 0; b <= t->mask; b++) {
		for (i = 0; i < SRVD_BR_BUCKET_WAYS; i++) {
			uint64_t k = __atomic_load_n(&t->buckets[b].key[i], __ATOMIC_RELAXED);

			if (k == 0 || (k & 0xffffu) != (uint64_t)(port + 1u))
				continue;
			/* Only if it still names @p port: a move meanwhile wins. */
			if (__atomic_compare_exchange_n(&t->buckets[b].key[i], &k, 0, false,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
				n++;
		}
	}
	return n;
}

uint32_t
srvd_mac_table_count(const struct srvd_mac_table *t, uint64_t now)
{
	uint32_t b, n = 0;
	unsigned int i;

	for (b = 0; b <= t->mask; b++)
		for (i = 0; i < SRVD_BR_BUCKET_WAYS; i++)
			if (__atomic_load_n(&t->buckets[b].key[i], __ATOMIC_ACQUIRE) != 0 &&
			    !mac_expired(t, __atomic_load_n(&t->buckets[b].seen[i],
							    __ATOMIC_RELAXED), now))
				n++;
	return n;
}

enum srvd_br_verdict
srvd_bridge_decide(struct srvd_mac_table *t, const uint8_t dst[6], const uint8_t src[6],
		   uint16_t in_port, uint64_t now, enum srvd_mac_learn_result *learnt,
		   uint16_t *out_port)
{
	uint16_t p;

	*learnt = srvd_mac_learn(t, src, in_port, now);
	if (*learnt == SRVD_MAC_REFUSED)
		return SRVD_BR_DROP_BAD_SRC;
	if (srvd_mac_is_group(dst))
		return SRVD_BR_FLOOD;
	p = srvd_mac_lookup(t, dst, now);
	if (p == SRVD_BR_PORT_NONE)
		return SRVD_BR_FLOOD;
	*out_port = p;
	return p == in_port ? SRVD_BR_DROP_SAME_PORT : SRVD_BR_UNICAST;
}
