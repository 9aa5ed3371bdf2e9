/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Slow path for external data: one rte_service shared by every channel.
 * Poll lcores post rx to one MP/SC rte_ring (capacity reserved per channel
 * at alloc, so a post never fails); the service populates and pins (or
 * unpins) the rx's segments under the guest-memory lock and hands the rx
 * back on its channel's SP/SC return ring. The service is MT-unsafe
 * (rte_service serialises it), which makes it the single producer of
 * every return ring and the single consumer of the request ring.
 */

#include <pthread.h>
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_service_component.h>

#include "vmbs_chan_pvt.h"

#define SP_RING_SIZE 262144u
#define SP_BURST 32u

static pthread_mutex_t sp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t gm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rte_ring *sp_ring;
static uint32_t sp_reserved;
static uint32_t sp_users;
static uint32_t sp_id;
static bool sp_registered;
static struct vmbs_chan_sp_stats sp_st;

void
vmbs_chan_gm_lock(void)
{
	pthread_mutex_lock(&gm_lock);
}

void
vmbs_chan_gm_unlock(void)
{
	pthread_mutex_unlock(&gm_lock);
}

static void
sp_hist_add(uint64_t ns)
{
	unsigned int b = ns == 0 ? 0 : 63u - (unsigned int)__builtin_clzll(ns);

	if (b >= VMBS_CHAN_SP_HIST)
		b = VMBS_CHAN_SP_HIST - 1;
	sp_st.hist[b]++;
}

static void
sp_pin(struct vmbs_rx *rx)
{
	struct vmbs_chan *chan = rx->chan;
	const struct vmbs_sgl *sgl = rx->sgl;
	bool write = (sgl->flags & VMBS_EXT_F_RO) == 0;
	uint64_t ns;
	uint32_t i;
	int rc = 0;

	vmbs_chan_gm_lock();
	for (i = 0; i < sgl->nseg && rc == 0; i++)
		rc = vmbs_gm_populate(chan->p.gm, sgl->seg[i].gpa, sgl->seg[i].len, write);
	if (rc == 0)
		rc = vmbs_gm_pin(chan->p.gm, sgl->seg, sgl->nseg);
	vmbs_chan_gm_unlock();
	sp_st.requests++;
	if (rc != 0) {
		sp_st.failures++;
		/* Anything but "outside guest memory" is still a fault for the VSP. */
		rx->ext_err = -EFAULT;
	} else {
		rx->pinned = true;
	}
	ns = (rte_rdtsc() - rx->sp_t0) * UINT64_C(1000000000) / rte_get_tsc_hz();
	sp_hist_add(ns);
	rx->state = VMBS_RX_SP_PIN_DONE;
}

/*
 * Packets waiting for guest memory that is not there yet, in the order
 * they came; service-private (the service is serialised).
 */
static struct vmbs_rx *sp_wait_head, *sp_wait_tail;
/* Retries per service call, so that a guest naming bogus addresses cannot
 * hold the shared service for long.
 */
#define SP_WAIT_TRIES_PER_RUN 16u
#define SP_WAIT_BACKOFF_MAX_MS 64u

static uint64_t
sp_ms_to_tsc(uint64_t ms)
{
	return rte_get_tsc_hz() / 1000 * ms;
}

/*
 * Try again to translate a packet whose ranges fell outside guest memory.
 * Returns true when the rx is done with (pinned, or failed for good).
 */
static bool
sp_mem_retry(struct vmbs_rx *rx, uint64_t now)
{
	uint32_t backoff;
	int rc;

	/* Regions are added under this lock (lib/vm), never under our feet. */
	vmbs_chan_gm_lock();
	rc = vmbs_chan_pvt_sgl_translate(rx, rx->sgl->flags);
	vmbs_chan_gm_unlock();
	if (rc == 0) {
		rx->await_mem = false;
		sp_st.mem_arrived++;
		sp_pin(rx);
		return true;
	}
	if (rc == -EFAULT &&
	    now - rx->sp_t0 < sp_ms_to_tsc(VMBS_CHAN_SP_MEM_WAIT_MS)) {
		backoff = RTE_MIN(1u << RTE_MIN(rx->sp_tries, 6u), SP_WAIT_BACKOFF_MAX_MS);
		rx->sp_tries++;
		rx->sp_next_tsc = now + sp_ms_to_tsc(backoff);
		return false;
	}
	/* Still outside memory at the deadline (or the list is unusable). */
	rx->await_mem = false;
	rx->ext_err = rc == -EFAULT ? -EFAULT : (rc == -ENOBUFS ? -E2BIG : -EBADMSG);
	sp_st.mem_timeouts++;
	rx->state = VMBS_RX_SP_PIN_DONE;
	return true;
}

static void
sp_finish(struct vmbs_rx *rx)
{
	struct vmbs_chan *chan = rx->chan;

	/* Release (inside rte_ring) publishes state, pinned, ext_err. */
	if (rte_ring_sp_enqueue(chan->ret_ring, rx) != 0)
		RTE_VERIFY(0);	/* sized for every rx of the channel */
	/* S0: last touch of chan; pairs with S1 in vmbs_chan_free(). */
	__atomic_fetch_sub(&chan->sp_inflight, 1, __ATOMIC_RELEASE);
}

static void
sp_wait_push(struct vmbs_rx *rx)
{
	rx->sp_next = NULL;
	if (sp_wait_tail != NULL)
		sp_wait_tail->sp_next = rx;
	else
		sp_wait_head = rx;
	sp_wait_tail = rx;
}

/* Retry the waiting packets that are due, a bounded number per call. */
static void
sp_wait_scan(uint64_t now)
{
	struct vmbs_rx *rx = sp_wait_head, *prev = NULL, *next;
	uint32_t tries = 0;

	while (rx != NULL && tries < SP_WAIT_TRIES_PER_RUN) {
		next = rx->sp_next;
		if (now >= rx->sp_next_tsc) {
			tries++;
			if (sp_mem_retry(rx, now)) {
				if (prev != NULL)
					prev->sp_next = next;
				else
					sp_wait_head = next;
				if (sp_wait_tail == rx)
					sp_wait_tail = prev;
				sp_finish(rx);
				rx = next;
				continue;
			}
		}
		prev = rx;
		rx = next;
	}
}

static void
sp_unpin(struct vmbs_rx *rx)
{
	vmbs_chan_gm_lock();
	vmbs_gm_unpin(rx->chan->p.gm, rx->sgl->seg, rx->sgl->nseg);
	vmbs_chan_gm_unlock();
	rx->pinned = false;
	sp_st.unpins++;
	rx->state = VMBS_RX_SP_UNPIN_DONE;
}

/* Service body: costs one ring count when there is nothing to do. */
static int32_t
sp_run(void *arg __rte_unused)
{
	void *objs[SP_BURST];
	unsigned int n, i;
	uint64_t now;

	if (rte_ring_count(sp_ring) == 0 && sp_wait_head == NULL)
		return -EAGAIN;
	now = rte_rdtsc();
	if (sp_wait_head != NULL)
		sp_wait_scan(now);
	n = rte_ring_sc_dequeue_burst(sp_ring, objs, SP_BURST, NULL);
	for (i = 0; i < n; i++) {
		struct vmbs_rx *rx = objs[i];

		if (rx->state == VMBS_RX_SP_PIN && rx->await_mem) {
			rx->sp_next_tsc = now;	/* first retry: at once */
			if (!sp_mem_retry(rx, now)) {
				sp_wait_push(rx);
				continue;
			}
		} else if (rx->state == VMBS_RX_SP_PIN) {
			sp_pin(rx);
		} else {
			sp_unpin(rx);
		}
		sp_finish(rx);
	}
	return 0;
}

int
vmbs_chan_sp_attach(uint32_t n)
{
	struct rte_service_spec spec = { .name = "vmbs_chan_sp" };
	int rc = 0;

	pthread_mutex_lock(&sp_lock);
	if (!sp_registered) {
		sp_ring = rte_ring_create("vmbs_chan_sp", SP_RING_SIZE, SOCKET_ID_ANY,
					  RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (sp_ring == NULL) {
			rc = -rte_errno;
			goto out;
		}
		spec.callback = sp_run;
		rc = rte_service_component_register(&spec, &sp_id);
		if (rc != 0) {
			rte_ring_free(sp_ring);
			sp_ring = NULL;
			goto out;
		}
		rte_service_component_runstate_set(sp_id, 1);
		rte_service_runstate_set(sp_id, 1);
		sp_registered = true;
	}
	if (sp_reserved + n > SP_RING_SIZE) {
		rc = -ENOSPC;
		goto out;
	}
	sp_reserved += n;
	sp_users++;
out:
	pthread_mutex_unlock(&sp_lock);
	return rc;
}

void
vmbs_chan_sp_detach(uint32_t n)
{
	pthread_mutex_lock(&sp_lock);
	sp_reserved -= n;
	sp_users--;
	pthread_mutex_unlock(&sp_lock);
}

void
vmbs_chan_sp_post(struct vmbs_rx *rx)
{
	/* Counted before the hand-off so free() never sees it missing. */
	__atomic_fetch_add(&rx->chan->sp_inflight, 1, __ATOMIC_RELAXED);
	/* Capacity is reserved at alloc: each rx is queued at most once. */
	if (rte_ring_mp_enqueue(sp_ring, rx) != 0)
		RTE_VERIFY(0);
}

int
vmbs_chan_sp_service_id(uint32_t *id)
{
	if (!sp_registered)
		return -ENOENT;
	*id = sp_id;
	return 0;
}

void
vmbs_chan_sp_stats_get(struct vmbs_chan_sp_stats *st)
{
	*st = sp_st;
}
