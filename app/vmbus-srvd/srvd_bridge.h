/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * vmbus-srvd's learning bridge: a MAC table (source MAC -> port, with
 * aging) and the forwarding decision for one frame. EAL-free and
 * allocation-free after creation, so it is unit-tested on its own.
 *
 * Time is whatever monotonic unit the caller uses (vmbus-srvd: TSC
 * cycles); aging and the refresh interval are in the same unit.
 *
 * Threading: any number of lcores may learn and look up concurrently
 * without locks. Each entry is one 64-bit word (MAC and port together),
 * written with compare-and-swap, so a lookup never sees a MAC paired with
 * another MAC's port. Two lcores learning the same new MAC at once may
 * both insert it; lookups and later learning use the first copy and the
 * other ages out. srvd_mac_table_create()/free() are not MT-safe.
 */

#ifndef SRVD_BRIDGE_H
#define SRVD_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

/** Ports are 0 .. SRVD_BR_MAX_PORT (the key stores port + 1 in 16 bits). */
#define SRVD_BR_MAX_PORT 0xfffdu
/** srvd_mac_lookup(): no live entry. */
#define SRVD_BR_PORT_NONE 0xffffu
/** Entries per bucket: one cache line of keys. */
#define SRVD_BR_BUCKET_WAYS 8u

struct srvd_mac_table;

/** Table settings. */
struct srvd_mac_table_params {
	uint32_t entries;	/**< capacity, rounded up to a power of two >= 8 */
	uint64_t aging;		/**< an entry unseen this long is gone; 0: never */
	/**
	 * Least time between two refreshes of an entry's timestamp: a busy
	 * source then costs a write (and a cache-line transfer between
	 * lcores) per interval, not per frame. Must be below @c aging.
	 */
	uint64_t refresh;
};

/** What srvd_mac_learn() did. */
enum srvd_mac_learn_result {
	SRVD_MAC_KNOWN,		/**< already there, same port */
	SRVD_MAC_LEARNT,	/**< new entry in a free or aged-out slot */
	SRVD_MAC_EVICTED,	/**< new entry in place of the least recent live one */
	SRVD_MAC_MOVED,		/**< known on another port: now on this one */
	SRVD_MAC_LOST_RACE,	/**< another lcore took the slot meanwhile: not learnt */
	SRVD_MAC_REFUSED,	/**< group (multicast) or zero address: never learnt */
};

/** What to do with one frame. */
enum srvd_br_verdict {
	SRVD_BR_UNICAST,	/**< to the one port learnt for the destination */
	SRVD_BR_FLOOD,		/**< broadcast, multicast or unknown: every other port */
	SRVD_BR_DROP_SAME_PORT,	/**< destination lives behind the ingress port */
	SRVD_BR_DROP_BAD_SRC,	/**< source MAC is a group or zero address */
};

/**
 * Create an empty table.
 *
 * @return
 *   the table, or NULL with errno set (EINVAL: entries 0 or above 2^24,
 *   refresh not below a non-zero aging; ENOMEM).
 */
struct srvd_mac_table *srvd_mac_table_create(const struct srvd_mac_table_params *p);

/** Free @p t; NULL is a no-op. */
void srvd_mac_table_free(struct srvd_mac_table *t);

/** @return the capacity (entries after rounding). */
uint32_t srvd_mac_table_capacity(const struct srvd_mac_table *t);

/**
 * Record that @p mac was seen on @p port at @p now.
 *
 * @return
 *   what changed; SRVD_MAC_REFUSED for a group or all-zero @p mac, or a
 *   @p port above SRVD_BR_MAX_PORT.
 */
enum srvd_mac_learn_result srvd_mac_learn(struct srvd_mac_table *t, const uint8_t mac[6],
					  uint16_t port, uint64_t now);

/**
 * @return
 *   the port @p mac was last seen on, or SRVD_BR_PORT_NONE if it was never
 *   seen, has aged out at @p now or was forgotten.
 */
uint16_t srvd_mac_lookup(const struct srvd_mac_table *t, const uint8_t mac[6], uint64_t now);

/**
 * Forget every entry on @p port (its link went down: its stations may
 * come back elsewhere). Concurrent learning may re-add entries at once.
 *
 * @return
 *   entries removed.
 */
uint32_t srvd_mac_forget_port(struct srvd_mac_table *t, uint16_t port);

/** @return live (not aged-out) entries at @p now. */
uint32_t srvd_mac_table_count(const struct srvd_mac_table *t, uint64_t now);

/**
 * The bridge's decision for a frame from @p in_port: learn its source,
 * then look up its destination.
 *
 * @param dst, src
 *   the frame's first 12 bytes.
 * @param learnt
 *   receives what learning the source did (SRVD_MAC_REFUSED with
 *   SRVD_BR_DROP_BAD_SRC).
 * @param out_port
 *   receives the destination port for SRVD_BR_UNICAST (and the port
 *   found for SRVD_BR_DROP_SAME_PORT).
 * @return
 *   the verdict. A frame is never sent back to its ingress port.
 */
enum srvd_br_verdict srvd_bridge_decide(struct srvd_mac_table *t, const uint8_t dst[6],
					const uint8_t src[6], uint16_t in_port, uint64_t now,
					enum srvd_mac_learn_result *learnt, uint16_t *out_port);

/** @return true for a group (broadcast or multicast) address. */
static inline bool
srvd_mac_is_group(const uint8_t mac[6])
{
	return (mac[0] & 1u) != 0;
}

#endif /* SRVD_BRIDGE_H */
