/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/**
 * @file
 * The attach protocol, version 1.0: how a VMM (or a scripted guest)
 * attaches one VM's VMBus to the server over a UNIX socket, as vhost-user
 * does for virtio. docs/attach-protocol.md is the normative description;
 * this header pins the wire layout and provides the codec both ends use.
 *
 * Transport: a SOCK_SEQPACKET UNIX socket, so every frame is one datagram
 * and file descriptors travel with the frame they belong to (SCM_RIGHTS).
 * A frame is a 16-byte header followed by exactly hdr.len payload bytes,
 * all little-endian. Requests carry a client-chosen seq; the reply has the
 * same type and seq, VMBS_ATT_F_REPLY set and a status (0 or a negative
 * Linux errno). VMBUS_MSG frames carry one Hyper-V channel message
 * verbatim (8..240 bytes) in either direction and have no reply.
 *
 * Identity is the connection: HELLO names the VM once; every later frame
 * acts on that VM only, and no frame can name another VM's memory,
 * channels or GPADLs (their ids live in per-VM namespaces).
 *
 * Threading model: no state; every function is thread-safe and EAL-free.
 */

#ifndef VMBS_ATTACH_H
#define VMBS_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Protocol version: major << 16 | minor. Majors must match exactly. */
#define VMBS_ATT_VERSION(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))
/** The version this code speaks. */
#define VMBS_ATT_VERSION_CURRENT VMBS_ATT_VERSION(1, 0)

/** Frame header bytes. */
#define VMBS_ATT_HDR_SIZE 16u
/** Largest payload of any frame (a channel message is at most 240). */
#define VMBS_ATT_MAX_PAYLOAD 240u
/** Largest frame. Receivers use a buffer of this size and treat a
 * truncated datagram (MSG_TRUNC) as a protocol error. */
#define VMBS_ATT_MAX_FRAME (VMBS_ATT_HDR_SIZE + VMBS_ATT_MAX_PAYLOAD)
/** Most descriptors one frame may carry. */
#define VMBS_ATT_MAX_FDS 1u
/** VM name buffer: 1..63 characters of [A-Za-z0-9._-], the first one a
 * letter or digit, NUL-padded. */
#define VMBS_ATT_VM_NAME_MAX 64u
/** Smallest and largest channel message carried by VMBUS_MSG. */
#define VMBS_ATT_CHMSG_MIN 8u
#define VMBS_ATT_CHMSG_MAX 240u

/** Frame types. */
enum vmbs_att_type {
	VMBS_ATT_HELLO = 1,	/**< C->S request (first frame), reply */
	VMBS_ATT_GOODBYE = 2,	/**< C->S request, reply; or S->C notice */
	VMBS_ATT_MEM_ADD = 3,	/**< C->S request + 1 fd, reply */
	VMBS_ATT_MEM_DEL = 4,	/**< C->S request, reply */
	VMBS_ATT_DOORBELL = 5,	/**< C->S request + 0 or 1 fd, reply */
	VMBS_ATT_VMBUS_MSG = 6,	/**< either way, no reply */
	VMBS_ATT_ERROR = 7,	/**< S->C: a frame was refused */
};

/** hdr.flags: this frame answers a request (same type and seq). */
#define VMBS_ATT_F_REPLY 0x1u

/** Frame header. */
struct vmbs_att_hdr {
	uint16_t type;		/**< enum vmbs_att_type */
	uint16_t flags;		/**< VMBS_ATT_F_*; other bits must be 0 */
	uint32_t len;		/**< payload bytes after the header */
	uint32_t seq;		/**< request id, echoed by the reply */
	int32_t status;		/**< replies/ERROR/GOODBYE notice: 0 or -errno;
				 *   requests: 0 */
};

/** HELLO request payload. */
struct vmbs_att_hello {
	uint32_t version;	/**< VMBS_ATT_VERSION_CURRENT */
	uint32_t features;	/**< none defined: 0 */
	char vm_name[VMBS_ATT_VM_NAME_MAX]; /**< the VM this connection is */
};

/** HELLO reply payload (only with status 0; empty otherwise). */
struct vmbs_att_hello_reply {
	uint32_t version;	/**< the server's version */
	uint32_t features;	/**< none defined: 0 */
	uint32_t max_regions;	/**< memory regions per VM */
	uint32_t max_chmsg;	/**< largest channel message: 240 */
	uint64_t max_region_size; /**< bytes per region */
	uint64_t max_vm_mem;	/**< bytes of all regions of the VM */
};

/** GOODBYE payload (request, reply and notice). */
struct vmbs_att_goodbye {
	uint32_t reason;	/**< enum vmbs_att_goodbye_reason */
	uint32_t reserved;	/**< 0 */
};

/** Why a session ends. */
enum vmbs_att_goodbye_reason {
	VMBS_ATT_BYE_NORMAL = 0,	/**< client is done */
	VMBS_ATT_BYE_SHUTDOWN = 1,	/**< server is stopping */
	VMBS_ATT_BYE_PROTOCOL = 2,	/**< peer broke the protocol */
	VMBS_ATT_BYE_REFUSED = 3,	/**< credentials or identity refused */
};

/** MEM_ADD payload; the frame carries the backing file's descriptor. */
struct vmbs_att_mem_add {
	uint64_t gpa;		/**< first guest-physical address */
	uint64_t size;		/**< bytes */
	uint64_t offset;	/**< byte offset in the file */
	uint32_t flags;		/**< none defined: 0 */
	uint32_t reserved;	/**< 0 */
};

/** MEM_DEL payload. */
struct vmbs_att_mem_del {
	uint64_t gpa;		/**< first GPA of a region added before */
};

/** DOORBELL directions. */
enum vmbs_att_db_dir {
	/** guest -> host: the guest writes it after filling the g2h ring
	 * while the server asked for interrupts; the server may wait on it. */
	VMBS_ATT_DB_G2H = 0,
	/** host -> guest: the server writes it when the ring rules say the
	 * guest must be signalled. */
	VMBS_ATT_DB_H2G = 1,
};

/** DOORBELL payload; one eventfd sets, no fd clears. */
struct vmbs_att_doorbell {
	uint32_t relid;		/**< an offered channel of this VM */
	uint32_t dir;		/**< enum vmbs_att_db_dir */
};

/** ERROR payload: which frame was refused; hdr.status says why. */
struct vmbs_att_error {
	uint16_t type;		/**< type of the refused frame (0 if unknown) */
	uint16_t reserved;	/**< 0 */
	uint32_t seq;		/**< its seq */
};

/** A frame as decoded by vmbs_att_frame_check(). */
struct vmbs_att_frame {
	struct vmbs_att_hdr hdr;	/**< copied and validated */
	const uint8_t *payload;		/**< points into the caller's buffer */
	uint32_t n_fds;			/**< descriptors that came with it */
};

/**
 * Validate one received datagram: header, payload size for its type and
 * direction, reserved fields, fd count, VM name syntax. The caller owns
 * any received fds and closes them if this fails.
 *
 * @param buf
 *   the datagram.
 * @param len
 *   its length.
 * @param n_fds
 *   descriptors received with it.
 * @param from_server
 *   true when the receiver is the client (the frame came from the server).
 * @param f
 *   filled on success.
 * @return
 *   0; -EMSGSIZE if @p len < 16, > VMBS_ATT_MAX_FRAME or != 16 + hdr.len;
 *   -EPROTO for an unknown type, a type or REPLY flag not allowed in this
 *   direction, unknown flag bits, a non-zero status in a request, a
 *   payload length wrong for the type, a non-zero reserved field, or a
 *   malformed VM name; -EBADF if @p n_fds is wrong for the type.
 */
int vmbs_att_frame_check(const void *buf, size_t len, uint32_t n_fds,
			 bool from_server, struct vmbs_att_frame *f);

/**
 * Build a frame.
 *
 * @param buf
 *   output, at least VMBS_ATT_HDR_SIZE + @p len bytes.
 * @param buf_len
 *   bytes at @p buf.
 * @param type
 *   frame type.
 * @param flags
 *   VMBS_ATT_F_*.
 * @param seq
 *   request id.
 * @param status
 *   0 or -errno.
 * @param payload
 *   payload bytes (may be NULL when @p len is 0).
 * @param len
 *   payload bytes, <= VMBS_ATT_MAX_PAYLOAD.
 * @return
 *   frame length; -EINVAL for a NULL @p buf or payload; -EMSGSIZE if @p len
 *   is too large; -ENOBUFS if @p buf is too small.
 */
int vmbs_att_encode(void *buf, size_t buf_len, uint16_t type, uint16_t flags,
		    uint32_t seq, int32_t status, const void *payload,
		    uint32_t len);

/**
 * Send one frame with up to VMBS_ATT_MAX_FDS descriptors (sendmsg,
 * MSG_NOSIGNAL, retried on EINTR). Never blocks longer than the socket's
 * own mode allows.
 *
 * @param sock
 *   connected SOCK_SEQPACKET socket.
 * @param frame
 *   the frame.
 * @param len
 *   its length.
 * @param fds
 *   descriptors to pass (not closed), or NULL.
 * @param n_fds
 *   count, <= VMBS_ATT_MAX_FDS.
 * @return
 *   0; -EINVAL for bad arguments; -EAGAIN if a non-blocking socket is full;
 *   another -errno from sendmsg (-EPIPE when the peer is gone).
 */
int vmbs_att_send(int sock, const void *frame, size_t len, const int *fds,
		  uint32_t n_fds);

/**
 * Receive one frame (recvmsg, MSG_CMSG_CLOEXEC, retried on EINTR).
 * Descriptors beyond @p max_fds, and all descriptors of a truncated frame,
 * are closed here.
 *
 * @param sock
 *   connected SOCK_SEQPACKET socket.
 * @param buf
 *   output, VMBS_ATT_MAX_FRAME bytes are enough for any valid frame.
 * @param buf_len
 *   bytes at @p buf.
 * @param fds
 *   receives descriptors (the caller owns them).
 * @param max_fds
 *   room at @p fds.
 * @param n_fds
 *   receives the descriptor count.
 * @return
 *   frame length (> 0); 0 at end of stream (peer closed); -EAGAIN if a
 *   non-blocking socket has nothing; -EMSGSIZE for a datagram longer than
 *   @p buf_len (discarded); -EBADF if the sender passed more than
 *   @p max_fds descriptors or the control data was truncated (all closed;
 *   the frame is discarded); another -errno from recvmsg.
 */
ssize_t vmbs_att_recv(int sock, void *buf, size_t buf_len, int *fds,
		      uint32_t max_fds, uint32_t *n_fds);

/**
 * @param name
 *   a NUL-padded VMBS_ATT_VM_NAME_MAX buffer.
 * @return
 *   true if it holds 1..63 characters of [A-Za-z0-9._-], the first a letter
 *   or digit, followed by NULs
 *   only.
 */
bool vmbs_att_vm_name_valid(const char *name);

/**
 * @param type
 *   frame type.
 * @return
 *   its name ("HELLO", ...) or "UNKNOWN"; static storage.
 */
const char *vmbs_att_type_name(uint32_t type);

#endif /* VMBS_ATTACH_H */
