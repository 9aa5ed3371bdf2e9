/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * The attach server: listens on the attach socket (lib/attach protocol),
 * checks each peer's credentials, binds each connection to one VM (a
 * lib/vm object) named in its HELLO, and feeds the VM its memory regions,
 * doorbells and channel messages. Devices (synthetic NICs) are registered
 * per VM name; a VM is offered the devices registered for its name.
 *
 * Access control, in order: the socket file is created with mode 0600
 * (0660 with a group) and the configured owner and group; every accepted
 * peer's SO_PEERCRED uid must be in the allowed uids or its gid in the
 * allowed gids (both lists empty: only the server's own uid); HELLO must
 * name a VM that has at least one registered device and is not attached
 * already. Refusals get a GOODBYE notice (REFUSED) and the connection is
 * closed. Identity is the connection: a frame can only act on its VM.
 *
 * When a connection ends (GOODBYE, EOF, protocol error, server stop), the
 * VM is released in order (lib/vm); until its memory is unreferenced it
 * stays a zombie and its name cannot attach again.
 *
 * Threading model: one control thread (a DPDK control thread, never a
 * data-plane lcore) runs the socket, every VM and every device callback.
 * The public functions below are thread-safe: those that change state run
 * their work on the control thread and wait for it. Needs the EAL.
 */

#ifndef VMBS_SERVER_H
#define VMBS_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmbs_vm.h"

/** Default cap on attached VMs (zombies included). */
#define VMBS_SRV_DEFAULT_MAX_VMS 256u
/** Most uids and gids in the allow lists. */
#define VMBS_SRV_MAX_ACL 16u

struct vmbs_srv;

/** Create-time settings. Zero fields take the documented defaults. */
struct vmbs_srv_params {
	const char *socket_path;	/**< required; an existing socket file
					 *   there is replaced */
	uid_t owner_uid;		/**< socket file owner; (uid_t)-1: keep */
	gid_t group_gid;		/**< socket group (mode 0660);
					 *   (gid_t)-1: none (mode 0600) */
	uid_t allow_uids[VMBS_SRV_MAX_ACL]; /**< peers allowed by uid */
	uint32_t n_allow_uids;
	gid_t allow_gids[VMBS_SRV_MAX_ACL]; /**< peers allowed by gid */
	uint32_t n_allow_gids;
	uint32_t max_vms;		/**< 0: VMBS_SRV_DEFAULT_MAX_VMS */
	uint64_t max_vm_mem;		/**< per VM; 0: VMBS_VM_DEFAULT_MAX_MEM */
	uint32_t drain_timeout_ms;	/**< per VM; 0: the VM's default */
	const char *thread_name;	/**< 0: "vmbs-ctl" */
};

/** Counters. */
struct vmbs_srv_stats {
	uint64_t accepted;		/**< connections accepted */
	uint64_t refused_creds;		/**< peer uid/gid not allowed */
	uint64_t refused_hello;		/**< bad version, unknown or busy VM,
					 *   too many VMs, no HELLO first */
	uint64_t protocol_errors;	/**< frames refused (ERROR sent) */
	uint64_t disconnects;		/**< connections ended */
	uint64_t frames_rx;
	uint64_t frames_tx;
	uint32_t vms_attached;		/**< live sessions */
	uint32_t vms_zombie;		/**< released, memory still referenced */
};

/**
 * Create the socket (bind, chmod, chown, listen) and start the control
 * thread.
 *
 * @param p
 *   settings; copied.
 * @return
 *   the server, or NULL with rte_errno set (EINVAL, ENAMETOOLONG, a
 *   socket/bind/listen errno, ENOMEM).
 */
struct vmbs_srv *vmbs_srv_create(const struct vmbs_srv_params *p);

/**
 * Stop: GOODBYE (SHUTDOWN) to every client, release every VM, wait up to
 * @p timeout_ms for zombies to be freed, stop the thread, unlink the
 * socket. NULL is a no-op.
 *
 * @return
 *   0; -ETIMEDOUT if zombies remained (their memory stays mapped and is
 *   leaked rather than unmapped under a user).
 */
int vmbs_srv_destroy(struct vmbs_srv *srv, uint32_t timeout_ms);

/**
 * Get the process's server on @p p->socket_path, creating it with @p p if
 * there is none (so the application and every PMD port that names the
 * same socket share one server). A later caller's other settings are
 * ignored. Reference counted.
 *
 * @return
 *   the server, or NULL with rte_errno set as vmbs_srv_create().
 */
struct vmbs_srv *vmbs_srv_acquire(const struct vmbs_srv_params *p);

/**
 * Drop a reference from vmbs_srv_acquire(); the last one destroys the
 * server (vmbs_srv_destroy() with @p timeout_ms).
 *
 * @return
 *   0, or vmbs_srv_destroy()'s result for the last reference.
 */
int vmbs_srv_release(struct vmbs_srv *srv, uint32_t timeout_ms);

/** @return the socket path the server listens on. */
const char *vmbs_srv_socket_path(const struct vmbs_srv *srv);

/**
 * Register a device for the VM named in @p d. If that VM is attached, it
 * gets the device at once (offered if it already asked for offers).
 *
 * @param d
 *   must stay valid until vmbs_srv_remove_device() returns.
 * @return
 *   0; -EINVAL; -EEXIST; -ENOSPC; or the VM's vmbs_vm_add_device() error.
 */
int vmbs_srv_add_device(struct vmbs_srv *srv, const struct vmbs_dev_desc *d);

/**
 * Unregister a device; an attached VM gets RESCIND for its channels, and
 * every chan_detach has returned when this returns.
 *
 * @return
 *   0; -ENOENT.
 */
int vmbs_srv_remove_device(struct vmbs_srv *srv, const struct vmbs_dev_desc *d);

/**
 * Run @p fn(@p arg) on the control thread and wait for its result (for
 * devices that must act on their VM: e.g. vmbs_vm_offer_channels()).
 *
 * @return
 *   @p fn's return value; -ESHUTDOWN if the server is stopping.
 */
int vmbs_srv_call(struct vmbs_srv *srv, int (*fn)(void *arg), void *arg);

/**
 * Find an attached (or zombie) VM by name. Control thread only (inside
 * vmbs_srv_call() or a device callback).
 *
 * @return
 *   the VM or NULL.
 */
struct vmbs_vm *vmbs_srv_vm_lookup(struct vmbs_srv *srv, const char *name);

/**
 * Offer @p n channels in all of device @p d to its VM (a netvsp guest
 * asked for subchannels): vmbs_vm_offer_channels() on the VM named by
 * d->vm_name. Control thread only; its signature is netvsp's
 * offer_channels callback, with @p srv (a struct vmbs_srv) as cb_arg.
 *
 * @return
 *   channels offered in all; -ENOENT if the VM is not attached.
 */
int vmbs_srv_offer_channels(void *srv, const struct vmbs_dev_desc *d, uint16_t n);

/**
 * Copy a VM's counters, by name. Thread-safe.
 *
 * @return
 *   0; -ENOENT if no such VM is attached (or zombie).
 */
int vmbs_srv_vm_stats(struct vmbs_srv *srv, const char *name,
		      struct vmbs_vm_stats *st);

/** Copy the server's counters. Thread-safe. */
void vmbs_srv_stats_get(struct vmbs_srv *srv, struct vmbs_srv_stats *st);

#endif /* VMBS_SERVER_H */
