/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * Attach client and scripted guest: plays VMM and guest kernel against a
 * vmbus-srv attach socket (lib/attach protocol). It allocates guest memory
 * (hugetlbfs through libhugetlbfs, or memfd), registers it with MEM_ADD,
 * negotiates the VMBus version, collects offers, builds GPADLs with
 * GPADL_HEADER + GPADL_BODY messages (buffers of tens of MiB included),
 * opens channels and moves packets over their rings in the guest role
 * (lib/bufring, lib/desc).
 *
 * Used by the integration tests and the guest launcher. It also lets a
 * test misbehave on purpose: raw frames, any channel message, abrupt
 * disconnects.
 *
 * Guest-physical layout: region i starts where the caller says; within
 * regions a bump allocator hands out page-aligned guest buffers.
 *
 * Every call also returns -EINVAL for bad arguments. A frame from the
 * server that fails validation makes the next wait return -EPROTO; an
 * undecodable channel message makes the next vmbs_cli_wait_msg() return
 * -EBADMSG; the session goes on either way, so tests can keep probing.
 * Requests wait the timeout given at connect.
 *
 * Threading model: a struct vmbs_cli and its channels belong to one
 * thread. Different clients are independent. EAL-free (plain POSIX plus
 * libhugetlbfs), so it can run in any process.
 */

#ifndef VMBS_CLIENT_H
#define VMBS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbs_attach.h"
#include "vmbs_bufring.h"
#include "vmbs_chanmsg.h"
#include "vmbs_desc.h"

/** GPA of the region vmbs_cli_connect() creates. */
#define VMBS_CLI_MEM_BASE UINT64_C(0x100000000)
/** Default wait for a reply or message. */
#define VMBS_CLI_DEFAULT_TIMEOUT_MS 5000u
/** Most regions a client keeps. */
#define VMBS_CLI_MAX_REGIONS 16u
/** Channel messages kept while waiting for another one. */
#define VMBS_CLI_MSG_QUEUE 256u

struct vmbs_cli;
struct vmbs_cli_chan;

/** Connect-time settings. Zero fields take the documented defaults. */
struct vmbs_cli_params {
	const char *socket_path;	/**< required */
	const char *vm_name;		/**< required */
	uint64_t mem_size;		/**< first region at VMBS_CLI_MEM_BASE;
					 *   0: none */
	bool hugepages;			/**< back regions with hugetlbfs */
	uint32_t timeout_ms;		/**< 0: VMBS_CLI_DEFAULT_TIMEOUT_MS */
	uint32_t version;		/**< HELLO version; 0: current */
};

/**
 * Connect, say HELLO, and (if mem_size) add the first memory region.
 *
 * @param p
 *   settings; copied.
 * @param out
 *   receives the client.
 * @return
 *   0; -errno from socket/connect; the server's refusal status (e.g.
 *   -EACCES for credentials, -ENOENT unknown VM, -EBUSY VM attached,
 *   -EPROTONOSUPPORT version); -ECONNRESET if the server hung up;
 *   -ETIMEDOUT; -ENOMEM (memory, or no hugepages).
 */
int vmbs_cli_connect(const struct vmbs_cli_params *p, struct vmbs_cli **out);

/**
 * Orderly end: GOODBYE, wait for the reply, close. Frees @p cli and its
 * channels (their pointers are invalid afterwards).
 *
 * @return
 *   0 or the reply's status / -ETIMEDOUT (freed anyway).
 */
int vmbs_cli_goodbye(struct vmbs_cli *cli);

/**
 * Abrupt end: close the socket without a word (a VM that dies), unmap the
 * client's own views and free @p cli and its channels. NULL is a no-op.
 */
void vmbs_cli_destroy(struct vmbs_cli *cli);

/** @return the socket (for raw misbehaviour). */
int vmbs_cli_fd(const struct vmbs_cli *cli);

/** @return true once the server closed the connection or said GOODBYE. */
bool vmbs_cli_disconnected(const struct vmbs_cli *cli);

/* ---- guest memory ---- */

/**
 * Create and register a region (MEM_ADD).
 *
 * @param gpa
 *   first GPA (2 MiB aligned with hugepages, 4 KiB otherwise).
 * @param size
 *   bytes (multiple of the page size).
 * @param huge
 *   hugetlbfs (libhugetlbfs) rather than memfd.
 * @return
 *   0; -ENOMEM; -ENOSPC (client's region table full); the server's status.
 */
int vmbs_cli_mem_add(struct vmbs_cli *cli, uint64_t gpa, uint64_t size,
		     bool huge);

/**
 * MEM_DEL, and unmap the client's view when the server agreed.
 *
 * @return
 *   0; -ENOENT; the server's status (e.g. -EBUSY).
 */
int vmbs_cli_mem_del(struct vmbs_cli *cli, uint64_t gpa);

/**
 * Allocate guest memory from the regions (bump allocator, never freed).
 *
 * @param size
 *   bytes.
 * @param align
 *   power of two >= 4096 (0: 4096).
 * @param gpa
 *   receives the GPA.
 * @return
 *   0; -ENOMEM.
 */
int vmbs_cli_alloc(struct vmbs_cli *cli, uint64_t size, uint64_t align,
		   uint64_t *gpa);

/**
 * @return the client's VA for [@p gpa, @p gpa + @p len), or NULL if that
 *   is not inside one region.
 */
void *vmbs_cli_va(const struct vmbs_cli *cli, uint64_t gpa, uint64_t len);

/* ---- frames ---- */

/**
 * Send a request frame and wait for its reply (channel messages arriving
 * meanwhile are queued).
 *
 * @param type
 *   frame type.
 * @param payload
 *   payload.
 * @param len
 *   payload bytes.
 * @param fd
 *   descriptor to pass, or -1.
 * @param reply
 *   receives the reply payload (may be NULL).
 * @param reply_len
 *   in: room at @p reply; out: bytes received. May be NULL.
 * @return
 *   the reply's status (0 or -errno); the status of an ERROR frame naming
 *   this request; -ECONNRESET, -ETIMEDOUT, or a send error.
 */
int vmbs_cli_request(struct vmbs_cli *cli, uint16_t type, const void *payload,
		     uint32_t len, int fd, void *reply, uint32_t *reply_len);

/**
 * Send any bytes as one datagram, with up to 4 descriptors (garbage tests).
 *
 * @return
 *   0 or -errno.
 */
int vmbs_cli_send_raw(struct vmbs_cli *cli, const void *buf, size_t len,
		      const int *fds, uint32_t n_fds);

/**
 * Receive frames for up to @p timeout_ms, queueing channel messages,
 * and report the last ERROR frame seen since the previous call.
 *
 * @param err
 *   receives the ERROR frame's status, 0 if none.
 * @return
 *   0; -ECONNRESET if the server closed the connection.
 */
int vmbs_cli_pump(struct vmbs_cli *cli, uint32_t timeout_ms, int32_t *err);

/* ---- channel messages ---- */

/**
 * Send one channel message (VMBUS_MSG frame).
 *
 * @return
 *   0 or -errno.
 */
int vmbs_cli_post(struct vmbs_cli *cli, const void *msg, uint32_t len);

/**
 * Take the first queued (or next arriving) channel message of @p type.
 * Messages of other types stay queued in order.
 *
 * @param type
 *   message type (VMBS_CHMSG_*), or 0 for any.
 * @param msg
 *   receives the decoded message.
 * @param timeout_ms
 *   0: the client's default.
 * @return
 *   0; -ETIMEDOUT; -ECONNRESET; -EBADMSG if the server sent a message
 *   the decoder rejects.
 */
int vmbs_cli_wait_msg(struct vmbs_cli *cli, uint32_t type,
		      struct vmbs_chmsg *msg, uint32_t timeout_ms);

/**
 * INITIATE_CONTACT with one version; wait for VERSION_RESPONSE.
 *
 * @return
 *   0 if accepted; -EPROTONOSUPPORT if refused; a wait error.
 */
int vmbs_cli_initiate(struct vmbs_cli *cli, uint32_t version);

/**
 * Negotiate as Linux does: 5.3, 5.2, 5.1, 5.0, 4.1, 4.0, 3.0, first
 * accepted wins.
 *
 * @param version
 *   receives the agreed version.
 * @return
 *   0; -EPROTONOSUPPORT if none; a wait error.
 */
int vmbs_cli_negotiate(struct vmbs_cli *cli, uint32_t *version);

/**
 * REQUESTOFFERS; collect OFFERCHANNELs until ALLOFFERS_DELIVERED.
 *
 * @param offers
 *   receives up to @p max offers.
 * @param max
 *   room.
 * @param n
 *   receives the number of offers (all of them, even beyond @p max).
 * @return
 *   0 or a wait error.
 */
int vmbs_cli_request_offers(struct vmbs_cli *cli,
			    struct vmbs_chmsg_offer *offers, uint32_t max,
			    uint32_t *n);

/**
 * Describe [@p gpa, @p gpa + @p len) (page aligned) as a single-range
 * GPADL for channel @p relid: GPADL_HEADER plus as many GPADL_BODYs as
 * needed; wait for GPADL_CREATED.
 *
 * @param gpadl
 *   receives the new id (the client numbers them from 0x1000).
 * @return
 *   0; -EIO if the server answered with a failure status (*@p gpadl is
 *   set); -E2BIG beyond 8190 pages (range_buflen is a u16); -EINVAL for an
 *   empty or unaligned range; a wait error.
 */
int vmbs_cli_gpadl_create(struct vmbs_cli *cli, uint32_t relid, uint64_t gpa,
			  uint64_t len, uint32_t *gpadl);

/**
 * GPADL_TEARDOWN; wait for GPADL_TORNDOWN (the server sends it only once
 * it has unmapped the GPADL).
 *
 * @param timeout_ms
 *   0: the client's default.
 * @return
 *   0; -ETIMEDOUT; -ECONNRESET.
 */
int vmbs_cli_gpadl_teardown(struct vmbs_cli *cli, uint32_t relid,
			    uint32_t gpadl, uint32_t timeout_ms);

/**
 * UNLOAD; wait for UNLOAD_RESPONSE.
 *
 * @return
 *   0 or a wait error.
 */
int vmbs_cli_unload(struct vmbs_cli *cli);

/* ---- channels (guest role) ---- */

/**
 * Open channel @p relid: allocate ring memory (@p g2h_pages +
 * @p h2g_pages, control pages included), make it one GPADL, OPENCHANNEL
 * with the downstream offset, wait for OPENCHANNEL_RESULT, attach the
 * guest's ring ends (producer on g2h, consumer on h2g).
 *
 * @param out
 *   receives the channel.
 * @return
 *   0; -EIO if the server refused the open (status != 0); -EINVAL
 *   (pages < 2); -ENOMEM; a wait error.
 */
int vmbs_cli_chan_open(struct vmbs_cli *cli, uint32_t relid,
		       uint32_t g2h_pages, uint32_t h2g_pages,
		       struct vmbs_cli_chan **out);

/**
 * CLOSECHANNEL, then tear the ring GPADL down (waiting for TORNDOWN, as
 * Linux does), and free @p ch.
 *
 * @return
 *   0 or the teardown's error (freed anyway).
 */
int vmbs_cli_chan_close(struct vmbs_cli_chan *ch);

/** @return the channel's relid. */
uint32_t vmbs_cli_chan_relid(const struct vmbs_cli_chan *ch);

/** @return the channel's ring GPADL id. */
uint32_t vmbs_cli_chan_ring_gpadl(const struct vmbs_cli_chan *ch);

/** @return the guest's producer end of g2h. */
struct vmbs_br *vmbs_cli_chan_g2h(struct vmbs_cli_chan *ch);

/** @return the guest's consumer end of h2g. */
struct vmbs_br *vmbs_cli_chan_h2g(struct vmbs_cli_chan *ch);

/**
 * Create eventfds for both directions and register them (DOORBELL).
 *
 * @param g2h_fd
 *   receives the guest-to-host eventfd (the guest writes it), or NULL.
 * @param h2g_fd
 *   receives the host-to-guest eventfd (the guest reads it), or NULL.
 * @return
 *   0; -errno; the server's status.
 */
int vmbs_cli_chan_doorbells(struct vmbs_cli_chan *ch, int *g2h_fd,
			    int *h2g_fd);

/**
 * Put and commit an inband packet on g2h (signalling the g2h doorbell
 * when the ring rules say so).
 *
 * @return
 *   0; -EAGAIN when full; an encoder or ring error.
 */
int vmbs_cli_chan_send_inband(struct vmbs_cli_chan *ch, uint64_t trans_id,
			      uint16_t flags, const void *payload,
			      uint32_t len);

/**
 * Put and commit a GPA-direct packet, one range per segment.
 *
 * @return
 *   0; -EAGAIN when full; an encoder or ring error.
 */
int vmbs_cli_chan_send_gpa(struct vmbs_cli_chan *ch, uint64_t trans_id,
			   uint16_t flags, const struct vmbs_desc_gpa_seg *segs,
			   uint32_t nseg, const void *payload, uint32_t len);

/**
 * Put and commit a completion for a host transaction.
 *
 * @return
 *   0; -EAGAIN when full; a ring error.
 */
int vmbs_cli_chan_send_comp(struct vmbs_cli_chan *ch, uint64_t trans_id,
			    const void *payload, uint32_t len);

/**
 * Take one h2g packet: descriptor copy in @p d, payload (after offset8)
 * into @p buf, and commit the read.
 *
 * @return
 *   payload bytes, including the sender's padding to 8 bytes (VMBus has no
 *   exact length); -EAGAIN if none; -EMSGSIZE if @p buf is too small (the
 *   packet stays); another ring error.
 */
int vmbs_cli_chan_recv(struct vmbs_cli_chan *ch, struct vmbs_pkt_desc *d,
		       void *buf, size_t buflen);

/**
 * Put and commit a packet given whole, for guests that build their own
 * descriptors (transfer headers, odd GPA-direct range lists, unknown
 * types): the first 16 bytes are the descriptor, of which the ring keeps
 * type, offset8, flags and trans_id and computes len8; the rest follows it
 * as given, padded to 8.
 *
 * @param pkt
 *   descriptor and the bytes after it.
 * @param len
 *   bytes at @p pkt, >= 16.
 * @return
 *   0; -EAGAIN when full; -EINVAL (offset8 < 2 or past the packet); a
 *   ring error.
 */
int vmbs_cli_chan_send_pkt(struct vmbs_cli_chan *ch, const void *pkt,
			   uint32_t len);

/**
 * Take one h2g packet whole, descriptor and type header (transfer-page
 * ranges) included, trailer excluded, and commit the read.
 *
 * @return
 *   packet bytes (len8 * 8, >= 16); -EAGAIN if none; -EMSGSIZE if @p buf
 *   is too small (the packet stays); another ring error.
 */
int vmbs_cli_chan_recv_pkt(struct vmbs_cli_chan *ch, void *buf, size_t buflen);

#endif /* VMBS_CLIENT_H */
