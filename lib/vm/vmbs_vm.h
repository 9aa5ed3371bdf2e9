/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * One attached VM's VMBus, server side: the connection state machine
 * Hyper-V's VMBus host runs per partition. It owns the VM's guest memory
 * (lib/guestmem), its GPADL table (lib/gpadl) and one lib/chan channel per
 * offered channel of every device (synthetic NIC) assigned to the VM, and
 * turns the guest's channel messages into actions and replies:
 *
 *	INITIATE_CONTACT  -> VERSION_RESPONSE (3.0 .. 5.3; others refused the
 *	                     standard way: version_supported = 0)
 *	REQUESTOFFERS     -> OFFERCHANNEL per offered channel, ALLOFFERS_DELIVERED
 *	GPADL_HEADER/BODY -> GPADL_CREATED (success or failure)
 *	OPENCHANNEL       -> vmbs_chan_open() -> OPENCHANNEL_RESULT
 *	CLOSECHANNEL      -> let the g2h ring drain (bounded), vmbs_chan_close()
 *	GPADL_TEARDOWN    -> GPADL_TORNDOWN now, or once the server unmaps it
 *	RELID_RELEASED    -> forget a rescinded channel's GPADLs and relid
 *	UNLOAD            -> close every channel, release every GPADL,
 *	                     UNLOAD_RESPONSE; offers stay for the next contact
 *
 * It is transport-agnostic: messages come in through vmbs_vm_handle_msg()
 * and go out through the send callback, so lib/server (the attach socket)
 * and unit tests drive it the same way. Relids and GPADL ids are per VM:
 * nothing here can reach another VM's objects.
 *
 * Release order (vmbs_vm_release()): deliveries stop (every channel closed
 * and disabled, devices detached), then the VM waits until no packet,
 * mbuf or mapping references its memory (channels' outstanding rx drain,
 * the slow path lets go), then GPADLs and guest memory are unmapped. A
 * downstream holder keeps the VM in that waiting ("zombie") state; the
 * memory is never unmapped under it.
 *
 * Threading model: every function runs on the one control thread that
 * owns the VM (never a data-plane lcore). Devices poll their channels on
 * their own lcores; lib/chan's gate keeps those polls out while the
 * control thread changes a channel, and vmbs_vm_mem_add() holds every
 * open channel's gate while it changes the region table. Needs the EAL.
 */

#ifndef VMBS_VM_H
#define VMBS_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmbs_chan.h"
#include "vmbs_gpadl.h"
#include "vmbs_guestmem.h"

/** VM name buffer (same as the attach protocol's). */
#define VMBS_VM_NAME_MAX 64u
/** Channels per VM (relids are 1 .. this). */
#define VMBS_VM_MAX_RELID 2047u
/** Channels per device: primary plus subchannels. */
#define VMBS_VM_DEV_MAX_CHANNELS 64u
/** Devices per VM. */
#define VMBS_VM_MAX_DEVICES 64u
/** Default cap on all guest-memory regions of one VM. */
#define VMBS_VM_DEFAULT_MAX_MEM (UINT64_C(64) << 30)
/** Offer's channel-interrupt connection id base (QEMU: 16 + relid). */
#define VMBS_VM_CONN_ID_BASE 16u
/** OPENCHANNEL_RESULT status for a refused open (STATUS_UNSUCCESSFUL). */
#define VMBS_VM_OPEN_FAILURE 0xC0000001u

struct vmbs_vm;

/**
 * A device (e.g. a synthetic NIC) offered to one VM. The VM allocates its
 * channels from @c chan with the offer fields, name, guest memory, relid,
 * subchannel index and signal hook filled in by the VM; everything else
 * (sizes, callbacks, priv) is the device's.
 */
struct vmbs_dev_desc {
	char vm_name[VMBS_VM_NAME_MAX];	/**< the VM it belongs to */
	uint8_t if_type[16];		/**< class GUID (wire byte order) */
	uint8_t if_instance[16];	/**< instance GUID (wire byte order) */
	uint16_t offer_flags;		/**< VMBS_OFFER_F_* */
	uint16_t n_channels;		/**< channels allocated, 1..64 */
	uint16_t n_offered;		/**< offered at REQUESTOFFERS (0: 1);
					 *   vmbs_vm_offer_channels() adds */
	struct vmbs_chan_params chan;	/**< channel template */
	/**
	 * Channel @p idx exists (ENABLED) for this VM. Control thread. The
	 * device may start polling it now. A negative return removes the
	 * device from the VM.
	 */
	int (*chan_attach)(void *dev_priv, struct vmbs_chan *chan, uint16_t idx);
	/**
	 * Channel @p idx is closed and disabled and is about to be freed.
	 * Control thread. Return only once no lcore is inside, or can enter,
	 * vmbs_chan_poll() for it, and after releasing every GPADL mapping
	 * the device holds.
	 */
	void (*chan_detach)(void *dev_priv, struct vmbs_chan *chan, uint16_t idx);
	void *dev_priv;			/**< for the two callbacks */
};

/** Send one channel message to the guest; 0 or -errno. */
typedef int (*vmbs_vm_send_cb_t)(void *arg, const void *msg, uint32_t len);

/** Create-time settings. */
struct vmbs_vm_params {
	const char *name;		/**< VM name, 1..63 chars */
	vmbs_vm_send_cb_t send;		/**< required */
	void *send_arg;			/**< for @c send */
	uint64_t max_mem;		/**< all regions; 0: default */
	uint32_t drain_timeout_ms;	/**< CLOSECHANNEL drain bound;
					 *   0: VMBS_CHAN_DRAIN_TIMEOUT_MS */
	/**
	 * optional: a device deferred a packet to the control thread (called
	 * on a poll lcore); wake the control loop so it calls vmbs_vm_tick().
	 */
	void (*kick)(void *arg);
	void *kick_arg;			/**< for @c kick */
};

/** VMBus connection state. */
enum vmbs_vm_conn_state {
	VMBS_VM_DISCONNECTED = 0,	/**< before INITIATE_CONTACT / after UNLOAD */
	VMBS_VM_CONNECTED,		/**< version agreed */
	VMBS_VM_RELEASING,		/**< vmbs_vm_release() started */
};

/** Counters (control thread writes; racy snapshots elsewhere). */
struct vmbs_vm_stats {
	uint64_t msgs_rx;		/**< channel messages handled */
	uint64_t msgs_tx;		/**< channel messages sent */
	uint64_t send_errors;		/**< send callback failures */
	uint64_t malformed;		/**< rejected by the decoder */
	uint64_t unsupported;		/**< valid but not served (ignored) */
	uint64_t out_of_state;		/**< not allowed now (ignored) */
	uint64_t bad_relid;		/**< named a relid this VM lacks */
	uint64_t versions_refused;	/**< INITIATE_CONTACT refused */
	uint64_t offers_sent;
	uint64_t opens;			/**< OPENCHANNEL succeeded */
	uint64_t open_failures;		/**< OPENCHANNEL refused */
	uint64_t closes;		/**< channels closed (any cause) */
	uint64_t close_drain_timeouts;	/**< CLOSECHANNEL drain gave up */
	uint64_t gpadls_created;
	uint64_t gpadl_failures;	/**< GPADL_CREATED with failure */
	uint64_t torndowns_sent;
	uint64_t rescinds;
	uint64_t unloads;
	uint64_t mem_regions;		/**< regions now */
	uint64_t mem_bytes;		/**< bytes of all regions now */
	uint64_t dma_regions;		/**< regions registered for device DMA now */
	uint64_t dma_device_maps;	/**< device DMA mappings made (all time) */
	uint64_t rx_outstanding;	/**< packets still referenced (all channels) */
	uint32_t version;		/**< agreed VMBus version, 0 if none */
	uint32_t n_channels;		/**< channels allocated */
	uint32_t n_open;		/**< channels open */
	uint32_t n_gpadls;		/**< GPADLs in the table */
	enum vmbs_vm_conn_state state;
};

/**
 * Create a VM: empty guest memory, empty GPADL table, DISCONNECTED.
 *
 * @param p
 *   settings; copied.
 * @return
 *   the VM, or NULL with rte_errno set (EINVAL, ENOMEM).
 */
struct vmbs_vm *vmbs_vm_create(const struct vmbs_vm_params *p);

/**
 * Assign a device: allocate and enable its channels, call chan_attach for
 * each, and if the guest has already asked for offers, offer the first
 * n_offered now.
 *
 * @param vm
 *   the VM.
 * @param d
 *   device; must stay valid until removed or the VM is freed.
 * @return
 *   0; -EINVAL (bad desc), -ENOSPC (relids or devices exhausted), -EEXIST
 *   (already assigned), -ENOMEM, a chan_attach error; -ESHUTDOWN if
 *   releasing.
 */
int vmbs_vm_add_device(struct vmbs_vm *vm, const struct vmbs_dev_desc *d);

/**
 * Withdraw a device: RESCIND each offered channel, close and disable it,
 * detach. The relids stay reserved until the guest's RELID_RELEASED (or
 * UNLOAD, or the VM's release).
 *
 * @param vm
 *   the VM.
 * @param d
 *   a device given to vmbs_vm_add_device().
 * @return
 *   0; -ENOENT if not assigned.
 */
int vmbs_vm_remove_device(struct vmbs_vm *vm, const struct vmbs_dev_desc *d);

/**
 * Offer more of a device's channels (netvsp: the guest asked for
 * subchannels). Sends OFFERCHANNEL for the newly offered ones if the guest
 * has asked for offers.
 *
 * @param vm
 *   the VM.
 * @param d
 *   an assigned device.
 * @param n
 *   channels that should be offered in all, <= d->n_channels.
 * @return
 *   channels offered now in all (>= 1); -ENOENT, -EINVAL.
 */
int vmbs_vm_offer_channels(struct vmbs_vm *vm, const struct vmbs_dev_desc *d,
			   uint16_t n);

/**
 * Attach-protocol MEM_ADD: map a region of guest memory. Open channels'
 * polls are held off while the table changes.
 *
 * @return
 *   0; -E2BIG if the VM's memory cap would be exceeded; an error of
 *   vmbs_gm_add_region() (-EEXIST overlap, -EINVAL alignment, -ENOSPC,
 *   -EOVERFLOW, ...); -ESHUTDOWN if releasing.
 */
int vmbs_vm_mem_add(struct vmbs_vm *vm, uint64_t gpa, uint64_t size, int fd,
		    uint64_t offset);

/**
 * Attach-protocol MEM_DEL. Refused while a channel is open or a GPADL is
 * mapped (the region could be in use by the data plane).
 *
 * @return
 *   0; -EBUSY; -ENOENT.
 */
int vmbs_vm_mem_del(struct vmbs_vm *vm, uint64_t gpa);

/**
 * Attach-protocol DOORBELL: set (fd >= 0, ownership passes to the VM) or
 * clear (fd < 0) a channel's eventfd for direction @p dir.
 *
 * @return
 *   0; -ENOENT (no such relid in this VM), -EINVAL (bad dir, or @p fd is
 *   not an eventfd; the fd is closed).
 */
int vmbs_vm_set_doorbell(struct vmbs_vm *vm, uint32_t relid, uint32_t dir,
			 int fd);

/**
 * The guest's g2h doorbell of a channel (for interrupt mode), or -1.
 */
int vmbs_vm_doorbell_fd(const struct vmbs_vm *vm, uint32_t relid,
			uint32_t dir);

/**
 * Handle one channel message from the guest. Malformed, unsupported and
 * out-of-state messages are counted and ignored (or answered with a
 * failure where the protocol has one); none is fatal.
 *
 * @return
 *   0 if acted on; -EBADMSG, -EOPNOTSUPP, -EPERM (out of state), -ENOENT
 *   (relid or GPADL not this VM's): the message was ignored or failed;
 *   -ESHUTDOWN if releasing.
 */
int vmbs_vm_handle_msg(struct vmbs_vm *vm, const void *msg, uint32_t len);

/**
 * Whether the VM takes the next message. False while a CLOSECHANNEL waits
 * for its ring to drain: later messages (a GPADL_TEARDOWN of the ring, a
 * re-open) must see the channel closed, so the caller holds them back
 * and calls vmbs_vm_tick() until this is true again.
 */
bool vmbs_vm_ready(const struct vmbs_vm *vm);

/**
 * Periodic work: finish drained closes, redeliver deferred packets in
 * worker context, free rescinded channels the guest released.
 *
 * @return
 *   ms until the next call is useful (UINT32_MAX: nothing scheduled).
 */
uint32_t vmbs_vm_tick(struct vmbs_vm *vm);

/**
 * Release everything, in order (see the file comment). Call repeatedly
 * (e.g. from the control loop's tick) until it returns 0.
 *
 * @return
 *   0 when everything is released (then vmbs_vm_free()); -EAGAIN while
 *   packets or mappings still reference guest memory.
 */
int vmbs_vm_release(struct vmbs_vm *vm);

/**
 * Free a released VM (or one never connected). NULL is a no-op.
 */
void vmbs_vm_free(struct vmbs_vm *vm);

/** @return the VM name. */
const char *vmbs_vm_name(const struct vmbs_vm *vm);

/** @return the VM's guest memory (devices map buffers through its GPADLs). */
struct vmbs_gm *vmbs_vm_gm(const struct vmbs_vm *vm);

/** @return the VM's GPADL table. */
struct vmbs_gpadl_table *vmbs_vm_gpadl_table(const struct vmbs_vm *vm);

/** @return the channel with @p relid, or NULL. */
struct vmbs_chan *vmbs_vm_chan(const struct vmbs_vm *vm, uint32_t relid);

/** Copy the VM's counters. */
void vmbs_vm_stats_get(const struct vmbs_vm *vm, struct vmbs_vm_stats *st);

/**
 * @param version
 *   VMBS_VERSION(major, minor).
 * @return
 *   true if the server accepts it.
 */
bool vmbs_vm_version_supported(uint32_t version);

#endif /* VMBS_VM_H */
