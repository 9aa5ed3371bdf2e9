/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Attach-protocol codec and socket helpers. Control path only: a handful
 * of frames per VM lifetime plus the channel messages, so every check is
 * spelled out rather than table-driven for speed.
 *
 * The receiver of a frame trusts nothing in it: the header and payload are
 * copied into locals once, and every decision is taken on those copies.
 * Structs are the wire layout in host order, so the codec requires a
 * little-endian host (asserted below), as lib/wire does.
 */

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmbs_attach.h"
#include "vmbs_wire.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "the attach wire format is little-endian and structs are host order");

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_hdr, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hdr, type, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hdr, flags, 2);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hdr, len, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hdr, seq, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hdr, status, 12);

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_hello, 72);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello, version, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello, features, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello, vm_name, 8);

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_hello_reply, 32);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello_reply, version, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello_reply, features, 4);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello_reply, max_regions, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello_reply, max_chmsg, 12);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello_reply, max_region_size, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_hello_reply, max_vm_mem, 24);

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_goodbye, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_goodbye, reason, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_goodbye, reserved, 4);

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_mem_add, 32);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_mem_add, gpa, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_mem_add, size, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_mem_add, offset, 16);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_mem_add, flags, 24);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_mem_add, reserved, 28);

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_mem_del, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_mem_del, gpa, 0);

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_doorbell, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_doorbell, relid, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_doorbell, dir, 4);

VMBS_WIRE_ASSERT_SIZE(struct vmbs_att_error, 8);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_error, type, 0);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_error, reserved, 2);
VMBS_WIRE_ASSERT_OFF(struct vmbs_att_error, seq, 4);

static_assert(VMBS_ATT_HDR_SIZE == sizeof(struct vmbs_att_hdr), "header size");
static_assert(VMBS_ATT_MAX_FRAME == 256, "a frame fits in 256 bytes");
static_assert(VMBS_ATT_CHMSG_MAX == VMBS_ATT_MAX_PAYLOAD,
	      "the largest payload is a channel message");
static_assert(sizeof(struct vmbs_att_hello) <= VMBS_ATT_MAX_PAYLOAD, "HELLO fits");

/*
 * Descriptors the receive control buffer holds. The protocol sends at most
 * one; the slack means a sender that passes a few too many has them all
 * received, and closed here. A sender that passes even more gets MSG_CTRUNC:
 * the kernel installs those that fit (closed here too) and drops the rest
 * itself, so none is ever left open.
 */
#define ATT_RECV_FD_ROOM 16u

/*
 * A payload copied out of the caller's buffer: room for the largest one,
 * and views of the types whose contents the frame check inspects.
 */
union att_payload {
	struct vmbs_att_hello hello;
	struct vmbs_att_goodbye goodbye;
	struct vmbs_att_mem_add mem_add;
	struct vmbs_att_error error;
	uint8_t raw[VMBS_ATT_MAX_PAYLOAD];
};

/* What a frame of some type, flags and status may look like. */
struct att_rule {
	uint32_t min_len;	/* payload bytes */
	uint32_t max_len;
	uint32_t min_fds;	/* descriptors */
	uint32_t max_fds;
};

static const char *const att_type_names[] = {
	[VMBS_ATT_HELLO] = "HELLO",
	[VMBS_ATT_GOODBYE] = "GOODBYE",
	[VMBS_ATT_MEM_ADD] = "MEM_ADD",
	[VMBS_ATT_MEM_DEL] = "MEM_DEL",
	[VMBS_ATT_DOORBELL] = "DOORBELL",
	[VMBS_ATT_VMBUS_MSG] = "VMBUS_MSG",
	[VMBS_ATT_ERROR] = "ERROR",
};

const char *
vmbs_att_type_name(uint32_t type)
{
	if (type >= sizeof(att_type_names) / sizeof(att_type_names[0]) ||
	    att_type_names[type] == NULL)
		return "UNKNOWN";
	return att_type_names[type];
}

/* Locale-independent: the name may end up in logs and paths. */
static bool
att_name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool
vmbs_att_vm_name_valid(const char *name)
{
	size_t n, i;

	if (name == NULL)
		return false;
	for (n = 0; n < VMBS_ATT_VM_NAME_MAX && name[n] != '\0'; n++)
		if (!att_name_char_ok(name[n]))
			return false;
	/* n == 64 means no terminating NUL in the buffer. */
	if (n == 0 || n >= VMBS_ATT_VM_NAME_MAX)
		return false;
	/* Names may become path or ring-name parts: no ".", "..", "-x". */
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
	      (name[0] >= '0' && name[0] <= '9')))
		return false;
	/* NUL padding only: no second string hidden after the name. */
	for (i = n; i < VMBS_ATT_VM_NAME_MAX; i++)
		if (name[i] != '\0')
			return false;
	return true;
}

static void
att_rule_set(struct att_rule *r, uint32_t min_len, uint32_t max_len,
	     uint32_t min_fds, uint32_t max_fds)
{
	r->min_len = min_len;
	r->max_len = max_len;
	r->min_fds = min_fds;
	r->max_fds = max_fds;
}

/* Frames a client may send: requests and channel messages, nothing else. */
static int
att_rule_from_client(const struct vmbs_att_hdr *h, struct att_rule *r)
{
	if (h->flags != 0 || h->status != 0)
		return -EPROTO;
	switch (h->type) {
	case VMBS_ATT_HELLO:
		att_rule_set(r, sizeof(struct vmbs_att_hello),
			     sizeof(struct vmbs_att_hello), 0, 0);
		return 0;
	case VMBS_ATT_GOODBYE:
		att_rule_set(r, sizeof(struct vmbs_att_goodbye),
			     sizeof(struct vmbs_att_goodbye), 0, 0);
		return 0;
	case VMBS_ATT_MEM_ADD:
		att_rule_set(r, sizeof(struct vmbs_att_mem_add),
			     sizeof(struct vmbs_att_mem_add), 1, 1);
		return 0;
	case VMBS_ATT_MEM_DEL:
		att_rule_set(r, sizeof(struct vmbs_att_mem_del),
			     sizeof(struct vmbs_att_mem_del), 0, 0);
		return 0;
	case VMBS_ATT_DOORBELL:
		att_rule_set(r, sizeof(struct vmbs_att_doorbell),
			     sizeof(struct vmbs_att_doorbell), 0, 1);
		return 0;
	case VMBS_ATT_VMBUS_MSG:
		att_rule_set(r, VMBS_ATT_CHMSG_MIN, VMBS_ATT_CHMSG_MAX, 0, 0);
		return 0;
	default:
		/* ERROR is server-only; anything else is unknown. */
		return -EPROTO;
	}
}

/* Frames a server may send: replies, notices, channel messages. None has fds. */
static int
att_rule_from_server(const struct vmbs_att_hdr *h, struct att_rule *r)
{
	if (h->flags & VMBS_ATT_F_REPLY) {
		/* A reply says "done" (0) or "refused" (-errno). */
		if (h->status > 0)
			return -EPROTO;
		switch (h->type) {
		case VMBS_ATT_HELLO:
			/* The limits come only with an accepted HELLO. */
			if (h->status == 0)
				att_rule_set(r, sizeof(struct vmbs_att_hello_reply),
					     sizeof(struct vmbs_att_hello_reply), 0, 0);
			else
				att_rule_set(r, 0, 0, 0, 0);
			return 0;
		case VMBS_ATT_GOODBYE:
			att_rule_set(r, sizeof(struct vmbs_att_goodbye),
				     sizeof(struct vmbs_att_goodbye), 0, 0);
			return 0;
		case VMBS_ATT_MEM_ADD:
		case VMBS_ATT_MEM_DEL:
		case VMBS_ATT_DOORBELL:
			att_rule_set(r, 0, 0, 0, 0);
			return 0;
		default:
			/* VMBUS_MSG and ERROR are never replies. */
			return -EPROTO;
		}
	}

	switch (h->type) {
	case VMBS_ATT_GOODBYE:
		/* Notice: 0 for a plain shutdown, -errno for a refusal. */
		if (h->status > 0)
			return -EPROTO;
		att_rule_set(r, sizeof(struct vmbs_att_goodbye),
			     sizeof(struct vmbs_att_goodbye), 0, 0);
		return 0;
	case VMBS_ATT_VMBUS_MSG:
		if (h->status != 0)
			return -EPROTO;
		att_rule_set(r, VMBS_ATT_CHMSG_MIN, VMBS_ATT_CHMSG_MAX, 0, 0);
		return 0;
	case VMBS_ATT_ERROR:
		/* An ERROR that reports no error is meaningless. */
		if (h->status >= 0)
			return -EPROTO;
		att_rule_set(r, sizeof(struct vmbs_att_error),
			     sizeof(struct vmbs_att_error), 0, 0);
		return 0;
	default:
		/* Requests (no REPLY flag) only travel client to server. */
		return -EPROTO;
	}
}

/* Reserved fields and the VM name, on the local copy of the payload. */
static int
att_check_payload(const struct vmbs_att_hdr *h, bool from_server,
		  const union att_payload *p)
{
	switch (h->type) {
	case VMBS_ATT_HELLO:
		if (!from_server && !vmbs_att_vm_name_valid(p->hello.vm_name))
			return -EPROTO;
		/*
		 * features is a negotiation, not a reserved field: the server
		 * answers with the bits it shares with the client, so unknown
		 * bits are not an error in either direction.
		 */
		return 0;
	case VMBS_ATT_GOODBYE:
		return p->goodbye.reserved == 0 ? 0 : -EPROTO;
	case VMBS_ATT_MEM_ADD:
		/*
		 * Replies carry no payload. A flag we do not know could
		 * change what the mapping means, so it cannot be ignored.
		 */
		if (h->len == 0)
			return 0;
		return p->mem_add.flags == 0 && p->mem_add.reserved == 0 ? 0 : -EPROTO;
	case VMBS_ATT_ERROR:
		return p->error.reserved == 0 ? 0 : -EPROTO;
	default:
		/*
		 * MEM_DEL, DOORBELL (dir is the server's to judge: -EINVAL
		 * in the reply) and VMBUS_MSG (lib/chanmsg's business).
		 */
		return 0;
	}
}

int
vmbs_att_frame_check(const void *buf, size_t len, uint32_t n_fds,
		     bool from_server, struct vmbs_att_frame *f)
{
	union att_payload pl;
	struct vmbs_att_hdr hdr;
	struct att_rule rule;
	int ret;

	if (buf == NULL || f == NULL)
		return -EINVAL;
	if (len < VMBS_ATT_HDR_SIZE || len > VMBS_ATT_MAX_FRAME)
		return -EMSGSIZE;
	/* One read of the sender's bytes; every check below uses the copies. */
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.len != len - VMBS_ATT_HDR_SIZE)
		return -EMSGSIZE;
	memset(&pl, 0, sizeof(pl));
	memcpy(&pl, (const uint8_t *)buf + VMBS_ATT_HDR_SIZE, hdr.len);

	if (hdr.flags & ~VMBS_ATT_F_REPLY)
		return -EPROTO;
	ret = from_server ? att_rule_from_server(&hdr, &rule) :
			    att_rule_from_client(&hdr, &rule);
	if (ret < 0)
		return ret;
	if (hdr.len < rule.min_len || hdr.len > rule.max_len)
		return -EPROTO;
	if (n_fds < rule.min_fds || n_fds > rule.max_fds)
		return -EBADF;
	ret = att_check_payload(&hdr, from_server, &pl);
	if (ret < 0)
		return ret;

	f->hdr = hdr;
	f->payload = (const uint8_t *)buf + VMBS_ATT_HDR_SIZE;
	f->n_fds = n_fds;
	return 0;
}

int
vmbs_att_encode(void *buf, size_t buf_len, uint16_t type, uint16_t flags,
		uint32_t seq, int32_t status, const void *payload, uint32_t len)
{
	struct vmbs_att_hdr hdr;

	if (buf == NULL || (payload == NULL && len != 0))
		return -EINVAL;
	if (len > VMBS_ATT_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (buf_len < VMBS_ATT_HDR_SIZE + (size_t)len)
		return -ENOBUFS;

	/*
	 * No judgement of type, flags or status: tests and the scripted
	 * client build invalid frames on purpose, and vmbs_att_frame_check()
	 * is where the receiver decides.
	 */
	hdr.type = type;
	hdr.flags = flags;
	hdr.len = len;
	hdr.seq = seq;
	hdr.status = status;
	memcpy(buf, &hdr, sizeof(hdr));
	if (len != 0)
		memcpy((uint8_t *)buf + VMBS_ATT_HDR_SIZE, payload, len);
	return (int)(VMBS_ATT_HDR_SIZE + len);
}

int
vmbs_att_send(int sock, const void *frame, size_t len, const int *fds,
	      uint32_t n_fds)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int) * VMBS_ATT_MAX_FDS)];
	} ctl;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t n;
	uint32_t i;

	if (sock < 0 || frame == NULL || len == 0 || n_fds > VMBS_ATT_MAX_FDS ||
	    (n_fds != 0 && fds == NULL))
		return -EINVAL;
	for (i = 0; i < n_fds; i++)
		if (fds[i] < 0)
			return -EINVAL;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)frame;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (n_fds != 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}

	/* MSG_NOSIGNAL: a vanished peer is -EPIPE here, not SIGPIPE. */
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* SOCK_SEQPACKET sends a datagram whole or not at all. */
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

static void
att_close_fds(const int *fds, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

ssize_t
vmbs_att_recv(int sock, void *buf, size_t buf_len, int *fds,
	      uint32_t max_fds, uint32_t *n_fds)
{
	union {
		struct cmsghdr align;
		/* Room for credentials too, in case SO_PASSCRED is on. */
		uint8_t buf[CMSG_SPACE(sizeof(int) * ATT_RECV_FD_ROOM) +
			    CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	/* Every int the control buffer could hold, whatever its layout. */
	int got[sizeof(ctl.buf) / sizeof(int)];
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	uint32_t n_got = 0, k, room;
	size_t data_len;
	ssize_t n;

	if (n_fds != NULL)
		*n_fds = 0;
	if (sock < 0 || buf == NULL || n_fds == NULL || (max_fds != 0 && fds == NULL))
		return -EINVAL;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = buf_len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);

	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	/*
	 * Collect every descriptor first, whatever the verdict: each one
	 * is now open in this process and must end up either with the
	 * caller or closed. Other control messages (SCM_CREDENTIALS when
	 * SO_PASSCRED is on) carry nothing to clean up.
	 */
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		data_len = cm->cmsg_len - CMSG_LEN(0);
		k = (uint32_t)(data_len / sizeof(int));
		room = (uint32_t)(sizeof(got) / sizeof(got[0])) - n_got;
		if (k > room)
			k = room; /* cannot happen: got[] is as big as ctl */
		memcpy(&got[n_got], CMSG_DATA(cm), k * sizeof(int));
		n_got += k;
	}

	if (msg.msg_flags & MSG_TRUNC) {
		att_close_fds(got, n_got);
		return -EMSGSIZE;
	}
	if ((msg.msg_flags & MSG_CTRUNC) || n_got > max_fds) {
		att_close_fds(got, n_got);
		return -EBADF;
	}
	/*
	 * 0 is end of stream, but also what an empty datagram looks like on
	 * SOCK_SEQPACKET. No frame is empty, so both end the session; an
	 * empty datagram's descriptors must not outlive it.
	 */
	if (n == 0) {
		att_close_fds(got, n_got);
		return 0;
	}
	if (n_got != 0)
		memcpy(fds, got, n_got * sizeof(int));
	*n_fds = n_got;
	return n;
}
