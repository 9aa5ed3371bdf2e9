/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * One VM's VMBus connection, server side. See vmbs_vm.h for the message
 * table and the release order; the notes here are about how.
 *
 * Channels live in relid_map[] (relid -> struct vm_chan). A channel goes
 * through: allocated+enabled+started (attached to its device) -> offered
 * (offer_sent) -> opened/closed by the guest any number of times ->
 * either rescinded (device removed: RESCIND sent, waits for the guest's
 * RELID_RELEASED) or released with the VM -> retired (disabled, detached)
 * -> freed once lib/chan reports no outstanding rx. Only a freed channel
 * gives its relid back.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "vmbs_chanmsg.h"
#include "vmbs_vm.h"
#include "vm_dma.h"

RTE_LOG_REGISTER_DEFAULT(vmbs_vm_logtype, NOTICE);
#define VM_LOG(level, vm, fmt, ...)                                           \
	rte_log(RTE_LOG_##level, vmbs_vm_logtype, "vm %s: " fmt "\n",       \
		(vm)->name, ##__VA_ARGS__)

/* Accepted VMBus versions, newest first (wire-format reference). */
static const uint32_t vm_versions[] = {
	VMBS_VERSION(5, 3), VMBS_VERSION(5, 2), VMBS_VERSION(5, 1),
	VMBS_VERSION(5, 0), VMBS_VERSION(4, 1), VMBS_VERSION(4, 0),
	VMBS_VERSION(3, 0),
};

/* Tick period while something waits (drains, zombies). */
#define VM_TICK_BUSY_MS 1u

struct vm_dev;

struct vm_chan {
	struct vmbs_chan *chan;
	struct vm_dev *dev;		/* NULL once the device is gone */
	struct vmbs_vm *vm;
	uint32_t relid;
	uint16_t idx;			/* subchannel index */
	bool offered;			/* the device wants it offered */
	bool offer_sent;		/* the guest knows the relid */
	bool attached;			/* chan_attach succeeded */
	bool rescinded;			/* RESCIND sent; awaits RELID_RELEASED */
	bool closing;			/* CLOSECHANNEL waits for the drain */
	bool retired;			/* disabled and detached: free when idle */
	uint64_t close_deadline_ms;
	int db_fd[2];			/* enum vmbs_att_db_dir order: G2H, H2G */
};

struct vm_dev {
	const struct vmbs_dev_desc *d;
	uint16_t n_offered;
	struct vm_chan *ch[VMBS_VM_DEV_MAX_CHANNELS];
};

struct vmbs_vm {
	char name[VMBS_VM_NAME_MAX];
	struct vmbs_vm_params p;
	struct vmbs_gm *gm;
	struct vmbs_gpadl_table *tbl;
	enum vmbs_vm_conn_state state;
	uint32_t version;
	bool offers_requested;
	uint32_t n_closing;
	uint32_t relid_hi;		/* highest relid ever used: bounds scans */
	uint64_t mem_bytes;
	struct vmbs_vm_stats st;
	/* Regions registered for device DMA (vm_dma.c), by GPA. */
	uint64_t dma_gpa[VMBS_GM_MAX_REGIONS];
	uint32_t n_dma;
	struct vm_dev *devs[VMBS_VM_MAX_DEVICES];
	struct vm_chan *relid_map[VMBS_VM_MAX_RELID + 1];
};

/* Channel names only need to be unique in the process (rte_ring names). */
static uint32_t vm_chan_serial;

static uint64_t
vm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool
vmbs_vm_version_supported(uint32_t version)
{
	uint32_t i;

	for (i = 0; i < RTE_DIM(vm_versions); i++)
		if (vm_versions[i] == version)
			return true;
	return false;
}

/* ---- output ---- */

static void
vm_send(struct vmbs_vm *vm, const void *msg, int len)
{
	if (len < 0) {
		/* Our own encoder refused: a bug, not guest input. */
		VM_LOG(ERR, vm, "encode failed (%d)", len);
		vm->st.send_errors++;
		return;
	}
	if (vm->p.send(vm->p.send_arg, msg, (uint32_t)len) < 0) {
		vm->st.send_errors++;
		return;
	}
	vm->st.msgs_tx++;
}

static void
vm_send_offer(struct vmbs_vm *vm, struct vm_chan *vc)
{
	const struct vmbs_dev_desc *d = vc->dev->d;
	struct vmbs_chmsg_offer o;
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];

	memset(&o, 0, sizeof(o));
	memcpy(o.if_type, d->if_type, sizeof(o.if_type));
	memcpy(o.if_instance, d->if_instance, sizeof(o.if_instance));
	o.chn_flags = d->offer_flags;
	o.sub_channel_index = vc->idx;
	o.child_relid = vc->relid;
	o.is_dedicated_interrupt = 1;
	o.connection_id = VMBS_VM_CONN_ID_BASE + vc->relid;
	vm_send(vm, buf, vmbs_chmsg_encode_offer(buf, sizeof(buf), &o));
	vc->offer_sent = true;
	vm->st.offers_sent++;
}

/* Torndown callback of the GPADL table: a deferred teardown completed. */
static void
vm_torndown(void *arg, uint32_t gpadl_id)
{
	struct vmbs_vm *vm = arg;
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];

	if (vm->state != VMBS_VM_CONNECTED)
		return;
	vm_send(vm, buf, vmbs_chmsg_encode_gpadl_torndown(buf, sizeof(buf),
							  gpadl_id));
	vm->st.torndowns_sent++;
}

/* h2g doorbell; runs on the poll lcore (or control during open/close). */
static void
vm_chan_signal(struct vmbs_chan *chan, void *arg)
{
	struct vm_chan *vc = arg;
	/* One load: the control thread swaps it only with the gate held. */
	int fd = vc->db_fd[1];
	uint64_t one = 1;

	RTE_SET_USED(chan);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the guest is signalled. */
	}
}

/* ---- channel objects ---- */

static uint32_t
vm_free_relid(const struct vmbs_vm *vm)
{
	uint32_t r;

	for (r = 1; r <= VMBS_VM_MAX_RELID; r++)
		if (vm->relid_map[r] == NULL)
			return r;
	return 0;
}

static void
vm_close_doorbells(struct vm_chan *vc)
{
	uint32_t i;

	for (i = 0; i < RTE_DIM(vc->db_fd); i++) {
		if (vc->db_fd[i] >= 0)
			close(vc->db_fd[i]);
		vc->db_fd[i] = -1;
	}
}

/* Poll lcore: a device deferred a packet; wake whoever runs vmbs_vm_tick(). */
static void
vm_chan_kick(struct vmbs_chan *chan __rte_unused, void *arg)
{
	struct vmbs_vm *vm = arg;

	vm->p.kick(vm->p.kick_arg);
}

static struct vm_chan *
vm_chan_create(struct vmbs_vm *vm, struct vm_dev *dev, uint16_t idx)
{
	struct vmbs_chan_params cp = dev->d->chan;
	struct vm_chan *vc;
	char name[20];
	uint32_t relid = vm_free_relid(vm);

	if (relid == 0) {
		rte_errno = ENOSPC;
		return NULL;
	}
	vc = calloc(1, sizeof(*vc));
	if (vc == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	vc->vm = vm;
	vc->dev = dev;
	vc->relid = relid;
	vc->idx = idx;
	vc->db_fd[0] = vc->db_fd[1] = -1;
	snprintf(name, sizeof(name), "vmc%u",
		 __atomic_fetch_add(&vm_chan_serial, 1, __ATOMIC_RELAXED));
	cp.name = name;
	cp.gm = vm->gm;
	memcpy(cp.if_type, dev->d->if_type, sizeof(cp.if_type));
	memcpy(cp.if_instance, dev->d->if_instance, sizeof(cp.if_instance));
	cp.relid = relid;
	cp.subchan_idx = idx;
	cp.offer_flags = dev->d->offer_flags;
	cp.signal_cb = vm_chan_signal;
	cp.signal_arg = vc;
	if (vm->p.kick != NULL) {
		cp.kick_cb = vm_chan_kick;
		cp.kick_arg = vm;
	}
	vc->chan = vmbs_chan_alloc(&cp);
	if (vc->chan == NULL) {
		free(vc);
		return NULL;
	}
	/* Started from the beginning: the rx queue runs as soon as the guest
	 * opens (KMCL servers start their channels before offering).
	 */
	vmbs_chan_enable(vc->chan);
	vmbs_chan_start(vc->chan);
	vm->relid_map[relid] = vc;
	if (relid > vm->relid_hi)
		vm->relid_hi = relid;
	vm->st.n_channels++;
	return vc;
}

/* Stop a channel for good: close, disable, detach. The object stays until
 * vm_chan_try_free() finds nothing referencing it.
 */
static void
vm_chan_retire(struct vmbs_vm *vm, struct vm_chan *vc)
{
	bool was_open;

	if (vc->retired)
		return;
	if (vc->closing) {
		vc->closing = false;
		vm->n_closing--;
	}
	was_open = vmbs_chan_state(vc->chan) == VMBS_CHAN_OPEN;
	vmbs_chan_disable(vc->chan);
	if (was_open) {
		vm->st.closes++;
		vm->st.n_open--;
	}
	if (vc->attached && vc->dev != NULL && vc->dev->d->chan_detach != NULL)
		vc->dev->d->chan_detach(vc->dev->d->dev_priv, vc->chan, vc->idx);
	vc->attached = false;
	if (vc->dev != NULL)
		vc->dev->ch[vc->idx] = NULL;
	vc->dev = NULL;
	vc->retired = true;
}

/* Free a retired channel whose rx all came back. Returns true if freed. */
static bool
vm_chan_try_free(struct vmbs_vm *vm, struct vm_chan *vc)
{
	if (!vc->retired || vc->rescinded)
		return false;
	if (vmbs_chan_reap(vc->chan) != 0)
		return false;
	if (vmbs_chan_free(vc->chan) != 0)
		return false;	/* slow path still has one; next tick */
	vm_close_doorbells(vc);
	vm->relid_map[vc->relid] = NULL;
	vm->st.n_channels--;
	free(vc);
	return true;
}

static struct vm_dev *
vm_dev_find(const struct vmbs_vm *vm, const struct vmbs_dev_desc *d,
	    uint32_t *slot)
{
	uint32_t i;

	for (i = 0; i < VMBS_VM_MAX_DEVICES; i++) {
		if (vm->devs[i] != NULL && vm->devs[i]->d == d) {
			if (slot != NULL)
				*slot = i;
			return vm->devs[i];
		}
	}
	return NULL;
}

/* Remove every channel of @p dev (rescinding offered ones if @p rescind)
 * and free the device record.
 */
static void
vm_dev_drop(struct vmbs_vm *vm, uint32_t slot, bool rescind)
{
	struct vm_dev *dev = vm->devs[slot];
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	uint32_t i;

	for (i = 0; i < dev->d->n_channels; i++) {
		struct vm_chan *vc = dev->ch[i];

		if (vc == NULL)
			continue;
		if (rescind && vc->offer_sent && vm->state == VMBS_VM_CONNECTED) {
			vm_send(vm, buf, vmbs_chmsg_encode_rescind(buf, sizeof(buf),
								   vc->relid));
			vm->st.rescinds++;
			vc->rescinded = true;
		}
		vm_chan_retire(vm, vc);
		vm_chan_try_free(vm, vc);
	}
	vm->devs[slot] = NULL;
	free(dev);
}

/* ---- create / devices ---- */

struct vmbs_vm *
vmbs_vm_create(const struct vmbs_vm_params *p)
{
	struct vmbs_vm *vm;
	size_t nlen;

	if (p == NULL || p->name == NULL || p->send == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	nlen = strnlen(p->name, VMBS_VM_NAME_MAX);
	if (nlen == 0 || nlen >= VMBS_VM_NAME_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (vm == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	memcpy(vm->name, p->name, nlen);
	vm->p = *p;
	vm->p.name = vm->name;
	if (vm->p.max_mem == 0)
		vm->p.max_mem = VMBS_VM_DEFAULT_MAX_MEM;
	if (vm->p.drain_timeout_ms == 0)
		vm->p.drain_timeout_ms = VMBS_CHAN_DRAIN_TIMEOUT_MS;
	vm->gm = vmbs_gm_create();
	if (vm->gm == NULL)
		goto err;
	vm->tbl = vmbs_gpadl_table_create(vm->gm, vm_torndown, vm);
	if (vm->tbl == NULL)
		goto err;
	return vm;
err:
	vmbs_gm_destroy(vm->gm);
	free(vm);
	rte_errno = ENOMEM;
	return NULL;
}

int
vmbs_vm_add_device(struct vmbs_vm *vm, const struct vmbs_dev_desc *d)
{
	struct vm_dev *dev;
	uint32_t i, slot = VMBS_VM_MAX_DEVICES;
	int rc;

	if (vm->state == VMBS_VM_RELEASING)
		return -ESHUTDOWN;
	if (d == NULL || d->n_channels == 0 ||
	    d->n_channels > VMBS_VM_DEV_MAX_CHANNELS ||
	    d->n_offered > d->n_channels || d->chan.rx_cb == NULL ||
	    strncmp(d->vm_name, vm->name, VMBS_VM_NAME_MAX) != 0)
		return -EINVAL;
	if (vm_dev_find(vm, d, NULL) != NULL)
		return -EEXIST;
	for (i = 0; i < VMBS_VM_MAX_DEVICES; i++) {
		if (vm->devs[i] == NULL) {
			slot = i;
			break;
		}
	}
	if (slot == VMBS_VM_MAX_DEVICES)
		return -ENOSPC;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return -ENOMEM;
	dev->d = d;
	dev->n_offered = d->n_offered == 0 ? 1 : d->n_offered;
	vm->devs[slot] = dev;
	for (i = 0; i < d->n_channels; i++) {
		struct vm_chan *vc = vm_chan_create(vm, dev, (uint16_t)i);

		if (vc == NULL) {
			rc = -rte_errno;
			goto rollback;
		}
		dev->ch[i] = vc;
		vc->offered = i < dev->n_offered;
	}
	for (i = 0; i < d->n_channels; i++) {
		if (d->chan_attach != NULL) {
			rc = d->chan_attach(d->dev_priv, dev->ch[i]->chan,
					    (uint16_t)i);
			if (rc < 0)
				goto rollback;
		}
		dev->ch[i]->attached = true;
	}
	if (vm->state == VMBS_VM_CONNECTED && vm->offers_requested)
		for (i = 0; i < dev->n_offered; i++)
			vm_send_offer(vm, dev->ch[i]);
	return 0;
rollback:
	vm_dev_drop(vm, slot, false);
	return rc;
}

int
vmbs_vm_remove_device(struct vmbs_vm *vm, const struct vmbs_dev_desc *d)
{
	uint32_t slot;

	if (vm_dev_find(vm, d, &slot) == NULL)
		return -ENOENT;
	vm_dev_drop(vm, slot, true);
	return 0;
}

int
vmbs_vm_offer_channels(struct vmbs_vm *vm, const struct vmbs_dev_desc *d,
		       uint16_t n)
{
	struct vm_dev *dev = vm_dev_find(vm, d, NULL);
	uint16_t i;

	if (dev == NULL)
		return -ENOENT;
	if (n == 0 || n > d->n_channels)
		return -EINVAL;
	for (i = dev->n_offered; i < n; i++) {
		dev->ch[i]->offered = true;
		if (vm->state == VMBS_VM_CONNECTED && vm->offers_requested)
			vm_send_offer(vm, dev->ch[i]);
	}
	if (n > dev->n_offered)
		dev->n_offered = n;
	return dev->n_offered;
}

/* ---- memory and doorbells ---- */

/* Run @p fn with every open channel's poll held off. */
static int
vm_with_polls_held(struct vmbs_vm *vm, int (*fn)(struct vmbs_vm *, void *),
		   void *arg)
{
	uint32_t r;
	int rc;

	for (r = 1; r <= vm->relid_hi; r++)
		if (vm->relid_map[r] != NULL)
			vmbs_chan_hold(vm->relid_map[r]->chan);
	/* The slow path pins and populates under this lock. */
	vmbs_chan_gm_lock();
	rc = fn(vm, arg);
	vmbs_chan_gm_unlock();
	for (r = 1; r <= vm->relid_hi; r++)
		if (vm->relid_map[r] != NULL)
			vmbs_chan_unhold(vm->relid_map[r]->chan);
	return rc;
}

struct vm_mem_add_arg {
	uint64_t gpa, size, offset;
	int fd;
};

static int
vm_mem_add_locked(struct vmbs_vm *vm, void *arg)
{
	const struct vm_mem_add_arg *a = arg;

	return vmbs_gm_add_region(vm->gm, a->gpa, a->size, a->fd, a->offset);
}

static bool
vm_region_info(const struct vmbs_vm *vm, uint64_t gpa, struct vmbs_gm_region_info *ri)
{
	uint32_t i, n = vmbs_gm_region_count(vm->gm);

	for (i = 0; i < n; i++)
		if (vmbs_gm_region_get(vm->gm, i, ri) == 0 && ri->gpa == gpa)
			return true;
	return false;
}

/* A new region becomes DMA-able: a NIC may transmit from guest pages. */
static void
vm_dma_add(struct vmbs_vm *vm, uint64_t gpa)
{
	struct vmbs_gm_region_info ri;
	uint32_t devs;
	int rc;

	if (!vm_region_info(vm, gpa, &ri) || vm->n_dma == RTE_DIM(vm->dma_gpa))
		return;
	rc = vm_dma_register(&ri, &devs);
	if (rc == 0) {
		vm->dma_gpa[vm->n_dma++] = gpa;
		vm->st.dma_regions++;
		vm->st.dma_device_maps += devs;
	} else if (rc != -ENOTSUP) {
		VM_LOG(NOTICE, vm, "region at 0x%" PRIx64 " not registered for DMA: %s", gpa,
		       strerror(-rc));
	}
}

/* Before a region is unmapped (removed, or the VM released). */
static void
vm_dma_del(struct vmbs_vm *vm, uint64_t gpa)
{
	struct vmbs_gm_region_info ri;
	uint32_t i;

	for (i = 0; i < vm->n_dma; i++)
		if (vm->dma_gpa[i] == gpa)
			break;
	if (i == vm->n_dma)
		return;
	if (vm_region_info(vm, gpa, &ri))
		vm_dma_unregister(&ri);
	vm->dma_gpa[i] = vm->dma_gpa[--vm->n_dma];
	vm->st.dma_regions--;
}

static void
vm_dma_del_all(struct vmbs_vm *vm)
{
	while (vm->n_dma > 0)
		vm_dma_del(vm, vm->dma_gpa[vm->n_dma - 1]);
}

int
vmbs_vm_mem_add(struct vmbs_vm *vm, uint64_t gpa, uint64_t size, int fd,
		uint64_t offset)
{
	struct vm_mem_add_arg a = { gpa, size, offset, fd };
	int rc;

	if (vm->state == VMBS_VM_RELEASING)
		return -ESHUTDOWN;
	if (size > vm->p.max_mem || vm->mem_bytes > vm->p.max_mem - size)
		return -E2BIG;
	rc = vm_with_polls_held(vm, vm_mem_add_locked, &a);
	if (rc == 0) {
		vm->mem_bytes += size;
		vm->st.mem_regions++;
		vm_dma_add(vm, gpa);
	}
	return rc;
}

int
vmbs_vm_mem_del(struct vmbs_vm *vm, uint64_t gpa)
{
	struct vmbs_gpadl_stats gs;
	struct vmbs_gm_region_info ri;
	uint32_t i, n;
	int rc;

	if (vm->state == VMBS_VM_RELEASING)
		return -ESHUTDOWN;
	n = vmbs_gm_region_count(vm->gm);
	for (i = 0; i < n; i++) {
		if (vmbs_gm_region_get(vm->gm, i, &ri) == 0 && ri.gpa == gpa)
			break;
	}
	if (i == n)
		return -ENOENT;
	/* Any open channel may carry GPA-direct data anywhere, and a mapped
	 * GPADL may be in the region: the data plane could be reading it.
	 */
	vmbs_gpadl_stats_get(vm->tbl, &gs);
	if (vm->st.n_open > 0 || gs.maps != gs.unmaps)
		return -EBUSY;
	for (i = 1; i <= vm->relid_hi; i++)
		if (vm->relid_map[i] != NULL &&
		    vmbs_chan_rx_outstanding(vm->relid_map[i]->chan) != 0)
			return -EBUSY;
	vm_dma_del(vm, gpa);
	vmbs_chan_gm_lock();
	rc = vmbs_gm_remove_region(vm->gm, gpa);
	vmbs_chan_gm_unlock();
	if (rc == 0) {
		vm->mem_bytes -= ri.size;
		vm->st.mem_regions--;
	}
	return rc;
}

static bool
fd_is_eventfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

int
vmbs_vm_set_doorbell(struct vmbs_vm *vm, uint32_t relid, uint32_t dir, int fd)
{
	struct vm_chan *vc = relid >= 1 && relid <= VMBS_VM_MAX_RELID ?
			     vm->relid_map[relid] : NULL;
	int old;

	if (vc == NULL || !vc->offer_sent || vc->retired) {
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	if (dir > 1 || (fd >= 0 && !fd_is_eventfd(fd))) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	/* Writes from the poll lcore must never block it. */
	if (fd >= 0)
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	vmbs_chan_hold(vc->chan);
	old = vc->db_fd[dir];
	vc->db_fd[dir] = fd;
	if (dir == 0)	/* G2H, see db_fd */
		vmbs_chan_set_g2h_doorbell(vc->chan, fd);
	vmbs_chan_unhold(vc->chan);
	if (old >= 0 && old != fd)
		close(old);
	return 0;
}

int
vmbs_vm_doorbell_fd(const struct vmbs_vm *vm, uint32_t relid, uint32_t dir)
{
	const struct vm_chan *vc = relid >= 1 && relid <= VMBS_VM_MAX_RELID ?
				   vm->relid_map[relid] : NULL;

	if (vc == NULL || dir > 1)
		return -1;
	return vc->db_fd[dir];
}

/* ---- channel messages ---- */

static struct vm_chan *
vm_lookup(struct vmbs_vm *vm, uint32_t relid)
{
	struct vm_chan *vc;

	if (relid == 0 || relid > VMBS_VM_MAX_RELID)
		return NULL;
	vc = vm->relid_map[relid];
	/* Only what the guest was offered, and not withdrawn, exists for it. */
	if (vc == NULL || !vc->offer_sent || vc->rescinded || vc->retired)
		return NULL;
	return vc;
}

static int
vm_initiate_contact(struct vmbs_vm *vm, const struct vmbs_chmsg *m)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	uint32_t v = m->u.initiate_contact.version_requested;
	bool ok;

	if (vm->state != VMBS_VM_DISCONNECTED) {
		vm->st.out_of_state++;
		return -EPERM;
	}
	ok = vmbs_vm_version_supported(v);
	vm_send(vm, buf, vmbs_chmsg_encode_version_response(buf, sizeof(buf), ok, 0,
		ok && v >= VMBS_VERSION(5, 0) ? VMBS_MSG_CONN_ID_V5 : 0));
	if (!ok) {
		vm->st.versions_refused++;
		return 0;
	}
	vm->state = VMBS_VM_CONNECTED;
	vm->version = v;
	return 0;
}

static int
vm_request_offers(struct vmbs_vm *vm)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	uint32_t r;

	vm->offers_requested = true;
	for (r = 1; r <= vm->relid_hi; r++) {
		struct vm_chan *vc = vm->relid_map[r];

		if (vc != NULL && vc->offered && !vc->offer_sent && !vc->retired)
			vm_send_offer(vm, vc);
	}
	vm_send(vm, buf, vmbs_chmsg_encode_alloffers_delivered(buf, sizeof(buf)));
	return 0;
}

static void
vm_gpadl_reply(struct vmbs_vm *vm, enum vmbs_gpadl_reply reply, uint32_t relid,
	       uint32_t gpadl)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	uint32_t status;

	if (reply == VMBS_GPADL_REPLY_CREATED) {
		status = 0;
		vm->st.gpadls_created++;
	} else if (reply == VMBS_GPADL_REPLY_FAILED) {
		status = VMBS_GPADL_STATUS_FAILURE;
		vm->st.gpadl_failures++;
	} else {
		return;
	}
	vm_send(vm, buf, vmbs_chmsg_encode_gpadl_created(buf, sizeof(buf), relid,
							 gpadl, status));
}

static int
vm_gpadl_header(struct vmbs_vm *vm, const struct vmbs_chmsg *m)
{
	const struct vmbs_chmsg_gpadl_header_info *h = &m->u.gpadl_header;
	enum vmbs_gpadl_reply reply;

	if (vm_lookup(vm, h->fixed.child_relid) == NULL) {
		/* Not this VM's channel: fail it the way the guest expects. */
		vm->st.bad_relid++;
		vm_gpadl_reply(vm, VMBS_GPADL_REPLY_FAILED, h->fixed.child_relid,
			       h->fixed.gpadl);
		return -ENOENT;
	}
	reply = vmbs_gpadl_header(vm->tbl, h->fixed.child_relid, h->fixed.gpadl,
				  h->fixed.range_buflen, h->fixed.range_cnt,
				  h->ranges, h->ranges_len);
	vm_gpadl_reply(vm, reply, h->fixed.child_relid, h->fixed.gpadl);
	return 0;
}

static int
vm_gpadl_body(struct vmbs_vm *vm, const struct vmbs_chmsg *m)
{
	const struct vmbs_chmsg_gpadl_body_info *b = &m->u.gpadl_body;
	enum vmbs_gpadl_reply reply;
	uint32_t relid = 0;

	reply = vmbs_gpadl_body(vm->tbl, b->fixed.gpadl, b->words,
				(size_t)b->word_cnt * sizeof(uint64_t), &relid);
	if (reply == VMBS_GPADL_REPLY_IGNORED)
		return -ENOENT;
	vm_gpadl_reply(vm, reply, relid, b->fixed.gpadl);
	return 0;
}

static int
vm_gpadl_teardown(struct vmbs_vm *vm, const struct vmbs_chmsg *m)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	int rc;

	rc = vmbs_gpadl_teardown(vm->tbl, m->u.gpadl_teardown.child_relid,
				 m->u.gpadl_teardown.gpadl);
	if (rc == 0) {
		vm_send(vm, buf, vmbs_chmsg_encode_gpadl_torndown(buf, sizeof(buf),
						m->u.gpadl_teardown.gpadl));
		vm->st.torndowns_sent++;
		return 0;
	}
	return rc == VMBS_GPADL_DEFERRED ? 0 : -ENOENT;
}

static int
vm_open(struct vmbs_vm *vm, const struct vmbs_chmsg *m)
{
	const struct vmbs_chmsg_open *o = &m->u.open;
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vm_chan *vc = vm_lookup(vm, o->child_relid);
	int rc = -ENOENT;

	if (vc == NULL)
		vm->st.bad_relid++;
	else
		rc = vmbs_chan_open(vc->chan, vm->tbl, o->ring_gpadl,
				    o->downstream_page_offset);
	if (rc == 0) {
		vm->st.opens++;
		vm->st.n_open++;
	} else {
		vm->st.open_failures++;
		VM_LOG(INFO, vm, "open relid %u gpadl %#x refused: %s",
		       o->child_relid, o->ring_gpadl, strerror(-rc));
	}
	vm_send(vm, buf, vmbs_chmsg_encode_open_result(buf, sizeof(buf),
		o->child_relid, o->openid, rc == 0 ? 0 : VMBS_VM_OPEN_FAILURE));
	return rc;
}

static void
vm_do_close(struct vmbs_vm *vm, struct vm_chan *vc)
{
	if (vc->closing) {
		vc->closing = false;
		vm->n_closing--;
	}
	if (vmbs_chan_state(vc->chan) != VMBS_CHAN_OPEN)
		return;
	vmbs_chan_close(vc->chan);
	vm->st.closes++;
	vm->st.n_open--;
}

/* Finish the closes whose ring drained or whose deadline passed. */
static void
vm_progress_closes(struct vmbs_vm *vm)
{
	uint64_t now;
	uint32_t r;

	if (vm->n_closing == 0)
		return;
	now = vm_now_ms();
	for (r = 1; r <= vm->relid_hi && vm->n_closing > 0; r++) {
		struct vm_chan *vc = vm->relid_map[r];

		if (vc == NULL || !vc->closing)
			continue;
		if (vmbs_chan_g2h_empty(vc->chan)) {
			vm_do_close(vm, vc);
		} else if (now >= vc->close_deadline_ms) {
			vm->st.close_drain_timeouts++;
			vm_do_close(vm, vc);
		}
	}
}

static int
vm_close(struct vmbs_vm *vm, const struct vmbs_chmsg *m)
{
	struct vm_chan *vc = vm_lookup(vm, m->u.relid.child_relid);

	if (vc == NULL) {
		vm->st.bad_relid++;
		return -ENOENT;
	}
	if (vmbs_chan_state(vc->chan) != VMBS_CHAN_OPEN || vc->closing) {
		vm->st.out_of_state++;
		return -EPERM;
	}
	/* Guests queue NVSP revokes in the ring right before CLOSECHANNEL:
	 * let the poll lcore consume them first (bounded), and hold later
	 * messages back meanwhile (vmbs_vm_ready()).
	 */
	vc->closing = true;
	vc->close_deadline_ms = vm_now_ms() + vm->p.drain_timeout_ms;
	vm->n_closing++;
	vm_progress_closes(vm);
	return 0;
}

static int
vm_relid_released(struct vmbs_vm *vm, const struct vmbs_chmsg *m)
{
	uint32_t relid = m->u.relid.child_relid;
	struct vm_chan *vc = relid >= 1 && relid <= VMBS_VM_MAX_RELID ?
			     vm->relid_map[relid] : NULL;

	if (vc == NULL || !vc->rescinded) {
		vm->st.bad_relid++;
		return -ENOENT;
	}
	vmbs_gpadl_release_channel(vm->tbl, relid);
	vc->rescinded = false;
	vm_chan_try_free(vm, vc);
	return 0;
}

/* Close everything and forget the guest's GPADLs (UNLOAD, release). */
static void
vm_reset_channels(struct vmbs_vm *vm)
{
	uint32_t r;

	for (r = 1; r <= vm->relid_hi; r++) {
		struct vm_chan *vc = vm->relid_map[r];

		if (vc == NULL)
			continue;
		vm_do_close(vm, vc);
		vmbs_gpadl_release_channel(vm->tbl, r);
		vc->offer_sent = false;
		if (vc->rescinded) {
			/* The guest forgot the relid with everything else. */
			vc->rescinded = false;
			vm_chan_try_free(vm, vc);
		}
	}
}

static int
vm_unload(struct vmbs_vm *vm)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];

	vm_reset_channels(vm);
	vm_send(vm, buf, vmbs_chmsg_encode_unload_response(buf, sizeof(buf)));
	vm->st.unloads++;
	vm->state = VMBS_VM_DISCONNECTED;
	vm->version = 0;
	vm->offers_requested = false;
	return 0;
}

int
vmbs_vm_handle_msg(struct vmbs_vm *vm, const void *msg, uint32_t len)
{
	struct vmbs_chmsg m;
	int rc;

	if (vm->state == VMBS_VM_RELEASING)
		return -ESHUTDOWN;
	vm->st.msgs_rx++;
	rc = vmbs_chmsg_decode(msg, len, &m);
	if (rc == -EOPNOTSUPP) {
		vm->st.unsupported++;
		return rc;
	}
	if (rc < 0) {
		vm->st.malformed++;
		return -EBADMSG;
	}
	if (m.type == VMBS_CHMSG_INITIATE_CONTACT)
		return vm_initiate_contact(vm, &m);
	if (vm->state != VMBS_VM_CONNECTED) {
		vm->st.out_of_state++;
		return -EPERM;
	}
	switch (m.type) {
	case VMBS_CHMSG_REQUESTOFFERS:
		return vm_request_offers(vm);
	case VMBS_CHMSG_GPADL_HEADER:
		return vm_gpadl_header(vm, &m);
	case VMBS_CHMSG_GPADL_BODY:
		return vm_gpadl_body(vm, &m);
	case VMBS_CHMSG_GPADL_TEARDOWN:
		return vm_gpadl_teardown(vm, &m);
	case VMBS_CHMSG_OPENCHANNEL:
		return vm_open(vm, &m);
	case VMBS_CHMSG_CLOSECHANNEL:
		return vm_close(vm, &m);
	case VMBS_CHMSG_RELID_RELEASED:
		return vm_relid_released(vm, &m);
	case VMBS_CHMSG_UNLOAD:
		return vm_unload(vm);
	case VMBS_CHMSG_MODIFYCHANNEL:
		vm->st.unsupported++;
		return -EOPNOTSUPP;
	default:
		/* Server-to-guest types coming from the guest. */
		vm->st.out_of_state++;
		return -EPERM;
	}
}

bool
vmbs_vm_ready(const struct vmbs_vm *vm)
{
	return vm->n_closing == 0;
}

uint32_t
vmbs_vm_tick(struct vmbs_vm *vm)
{
	uint32_t r, next = UINT32_MAX;

	vm_progress_closes(vm);
	if (vm->n_closing > 0)
		next = VM_TICK_BUSY_MS;
	for (r = 1; r <= vm->relid_hi; r++) {
		struct vm_chan *vc = vm->relid_map[r];

		if (vc == NULL)
			continue;
		if (vc->retired) {
			if (!vm_chan_try_free(vm, vc) && !vc->rescinded)
				next = VM_TICK_BUSY_MS;
			continue;
		}
		if (vmbs_chan_state(vc->chan) == VMBS_CHAN_OPEN)
			vmbs_chan_worker_poll(vc->chan);
	}
	return next;
}

int
vmbs_vm_release(struct vmbs_vm *vm)
{
	uint32_t i, r;

	if (vm->state != VMBS_VM_RELEASING) {
		/* 1. Deliveries stop: every channel closed, disabled and
		 * detached (devices drop their mappings in chan_detach).
		 */
		vm->state = VMBS_VM_RELEASING;
		for (i = 0; i < VMBS_VM_MAX_DEVICES; i++)
			if (vm->devs[i] != NULL)
				vm_dev_drop(vm, i, false);
	}
	/* 2. Wait until nothing references guest memory. */
	for (r = 1; r <= vm->relid_hi; r++) {
		struct vm_chan *vc = vm->relid_map[r];

		if (vc == NULL)
			continue;
		vc->rescinded = false;
		vm_chan_try_free(vm, vc);
	}
	if (vm->st.n_channels > 0)
		return -EAGAIN;
	/* 3. Unmap: GPADLs, then the regions. */
	if (vm->tbl != NULL) {
		uint32_t leaked = vmbs_gpadl_table_destroy(vm->tbl);

		if (leaked != 0)
			VM_LOG(ERR, vm, "%u GPADLs still mapped at release", leaked);
		vm->tbl = NULL;
	}
	vm_dma_del_all(vm);
	vmbs_gm_destroy(vm->gm);
	vm->gm = NULL;
	vm->mem_bytes = 0;
	vm->st.mem_regions = 0;
	return 0;
}

void
vmbs_vm_free(struct vmbs_vm *vm)
{
	if (vm == NULL)
		return;
	if (vm->gm != NULL || vm->tbl != NULL) {
		/* Never connected channels: release cannot wait on anything
		 * but outstanding rx; callers release first.
		 */
		if (vmbs_vm_release(vm) != 0) {
			VM_LOG(ERR, vm, "freed with memory still referenced; leaking it");
			return;
		}
	}
	free(vm);
}

const char *
vmbs_vm_name(const struct vmbs_vm *vm)
{
	return vm->name;
}

struct vmbs_gm *
vmbs_vm_gm(const struct vmbs_vm *vm)
{
	return vm->gm;
}

struct vmbs_gpadl_table *
vmbs_vm_gpadl_table(const struct vmbs_vm *vm)
{
	return vm->tbl;
}

struct vmbs_chan *
vmbs_vm_chan(const struct vmbs_vm *vm, uint32_t relid)
{
	if (relid == 0 || relid > VMBS_VM_MAX_RELID || vm->relid_map[relid] == NULL)
		return NULL;
	return vm->relid_map[relid]->chan;
}

void
vmbs_vm_stats_get(const struct vmbs_vm *vm, struct vmbs_vm_stats *st)
{
	uint32_t r;

	*st = vm->st;
	st->version = vm->version;
	st->state = vm->state;
	st->mem_bytes = vm->mem_bytes;
	st->n_gpadls = vm->tbl != NULL ? vmbs_gpadl_count(vm->tbl) : 0;
	st->rx_outstanding = 0;
	for (r = 1; r <= vm->relid_hi; r++)
		if (vm->relid_map[r] != NULL)
			st->rx_outstanding +=
				vmbs_chan_rx_outstanding(vm->relid_map[r]->chan);
}
