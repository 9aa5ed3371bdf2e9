/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * Attach client and scripted guest. It plays two parts against a vmbus-srv
 * attach socket: the VMM (socket, guest memory, doorbells) and the guest
 * kernel (VMBus channel messages, the guest's ends of the channel rings).
 *
 * Viewpoint: g2h (guest to host) is what this side produces, h2g (host to
 * guest) what it consumes; the server plays the opposite roles.
 *
 * The server is not trusted either: every frame goes through
 * vmbs_att_frame_check() and every channel message through
 * vmbs_chmsg_decode() before anything in it is used. Bad input never
 * crashes the client; it is reported by the next wait (-EPROTO for a bad
 * frame, -EBADMSG for a bad channel message).
 *
 * Control path only, one thread per client: clarity wins over speed.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hugetlbfs.h>

#include "vmbs_client.h"

/* GPADL ids the client hands out start here, as Linux guests' do. */
#define CLI_GPADL_FIRST 0x1000u
/*
 * One single-range GPADL: range_buflen is a u16 counting bytes of the
 * whole list (8-byte range header plus 8 bytes per PFN), so at most
 * (65528 - 8) / 8 = 8190 pages (just under 32 MiB).
 */
#define CLI_GPADL_MAX_PFNS \
	((VMBS_CHMSG_GPADL_MAX_DATA - sizeof(struct vmbs_gpa_range)) / sizeof(uint64_t))
/* SINT the guest takes VMBus messages on (Linux's VMBUS_MESSAGE_SINT). */
#define CLI_MSG_SINT 2u
/* Pause between connect attempts while the listen backlog is full. */
#define CLI_CONNECT_RETRY_NS 10000000L
/* Most descriptors vmbs_cli_send_raw() passes. */
#define CLI_RAW_MAX_FDS 4u
/* Abandoned requests whose late replies are still tolerated. */
#define CLI_LATE_MAX 8u

/* Versions tried by vmbs_cli_negotiate(), newest first, as Linux does. */
static const uint32_t cli_versions[] = {
	VMBS_VERSION_WIN2022,
	VMBS_VERSION_WIN10_RS5,
	VMBS_VERSION_WIN10_RS4,
	VMBS_VERSION_WIN10_V5,
	VMBS_VERSION_WIN10_RS3,
	VMBS_VERSION_WIN10,
	VMBS_VERSION_WIN8_1,
};

struct cli_region {
	uint64_t gpa;		/* first guest-physical address */
	uint64_t size;		/* bytes */
	uint64_t used;		/* bump allocator: bytes handed out from gpa */
	uint8_t *va;		/* the client's own read-write view */
	bool in_use;		/* slot holds a registered region */
};

/* A channel message exactly as received (already validated once). */
struct cli_msg {
	uint32_t len;
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
};

/* Which channel message a wait is for. */
struct cli_want {
	uint32_t type;		/* VMBS_CHMSG_*, 0 for any */
	/* Optional extra test on the decoded message. */
	bool (*match)(const struct vmbs_chmsg *m, const void *arg);
	const void *arg;
};

/* The one request in flight (a client belongs to one thread). */
struct cli_req {
	bool active;		/* sent, waiting for its reply */
	bool done;		/* reply or ERROR arrived */
	uint16_t type;
	uint32_t seq;
	int32_t status;
	uint32_t len;		/* reply payload bytes */
	uint8_t payload[VMBS_ATT_MAX_PAYLOAD];
};

struct vmbs_cli_chan {
	struct vmbs_br g2h;		/* guest produces */
	struct vmbs_br h2g;		/* guest consumes */
	struct vmbs_cli *cli;
	struct vmbs_cli_chan *next;	/* client's list of open channels */
	uint32_t relid;
	uint32_t gpadl;			/* ring GPADL */
	int db_g2h;			/* eventfd the guest writes, or -1 */
	int db_h2g;			/* eventfd the server writes, or -1 */
	uint8_t *rx_buf;		/* one h2g packet, grown on demand */
	size_t rx_buf_len;
};

struct vmbs_cli {
	int sock;
	uint32_t timeout_ms;
	uint32_t next_seq;		/* seq of the next frame sent */
	uint32_t next_gpadl;
	uint32_t version;		/* negotiated VMBus version, 0 if none */
	bool disconnected;		/* EOF, reset or GOODBYE notice */
	int32_t bye_status;		/* status of the server's GOODBYE notice */

	/* Errors reported by the next wait, then cleared. */
	int proto_err;			/* -EPROTO: a frame was malformed */
	bool bad_chmsg;			/* a channel message failed to decode */
	uint32_t overflow;		/* channel messages dropped: queue full */
	bool have_err;			/* an ERROR frame since the last pump */
	int32_t last_err;		/* its status */

	/* A multi-message operation: ERRORs naming its posts fail it. */
	bool op_active;
	uint32_t op_seq;		/* seq of its first post */
	int32_t op_err;

	/* Requests given up on (timeout, bad frame): a late reply is fine. */
	struct {
		uint16_t type;		/* 0: free slot */
		uint32_t seq;
	} late[CLI_LATE_MAX];
	uint32_t late_next;		/* slot the next one overwrites */

	struct cli_req req;

	/* Delivery past a full queue to the wait in progress. */
	const struct cli_want *want;	/* NULL when nobody waits */
	bool want_hit;
	struct cli_msg want_msg;

	struct vmbs_att_hello_reply hello;
	struct cli_region regions[VMBS_CLI_MAX_REGIONS];
	struct vmbs_cli_chan *chans;

	/* The message last handed out: decoded GPADL pointers point here. */
	struct cli_msg cur;
	uint32_t q_len;
	struct cli_msg q[VMBS_CLI_MSG_QUEUE];
};

/* ---- time ---- */

static uint64_t
cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t
cli_deadline(const struct vmbs_cli *cli, uint32_t timeout_ms)
{
	return cli_now_ms() + (timeout_ms != 0 ? timeout_ms : cli->timeout_ms);
}

/* Milliseconds left until @p deadline, for poll(). */
static int
cli_left(uint64_t deadline)
{
	uint64_t now = cli_now_ms();

	if (now >= deadline)
		return 0;
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* ---- receiving ---- */

static bool
cli_wanted(const struct cli_want *w, const struct vmbs_chmsg *m)
{
	if (w->type != 0 && m->type != w->type)
		return false;
	return w->match == NULL || w->match(m, w->arg);
}

static void
cli_on_chmsg(struct vmbs_cli *cli, const uint8_t *payload, uint32_t len)
{
	struct vmbs_chmsg m;
	struct cli_msg *slot;

	if (len > VMBS_CHMSG_MAX_SIZE || vmbs_chmsg_decode(payload, len, &m) != 0) {
		cli->bad_chmsg = true;
		return;
	}
	if (cli->q_len < VMBS_CLI_MSG_QUEUE) {
		slot = &cli->q[cli->q_len++];
	} else if (cli->want != NULL && !cli->want_hit && cli_wanted(cli->want, &m)) {
		/*
		 * The queue holds nothing the waiter wants (it looked), so
		 * this message is next in order for it: hand it over.
		 */
		slot = &cli->want_msg;
		cli->want_hit = true;
	} else {
		cli->overflow++;
		return;
	}
	slot->len = len;
	memcpy(slot->buf, payload, len);
}

static void
cli_on_error(struct vmbs_cli *cli, const struct vmbs_att_frame *f)
{
	struct cli_req *r = &cli->req;
	struct vmbs_att_error e;
	int32_t status;

	if (f->hdr.len < sizeof(e)) {
		cli->proto_err = -EPROTO;
		return;
	}
	memcpy(&e, f->payload, sizeof(e));
	/* A refusal that claims success is still a refusal. */
	status = f->hdr.status < 0 ? f->hdr.status : -EPROTO;
	cli->have_err = true;
	cli->last_err = status;
	if (r->active && !r->done && e.seq == r->seq &&
	    (e.type == r->type || e.type == 0)) {
		r->done = true;
		r->status = status;
		r->len = 0;
		return;
	}
	/* A post of the running operation was refused: its answer never comes. */
	if (cli->op_active && cli->op_err == 0 &&
	    (e.type == VMBS_ATT_VMBUS_MSG || e.type == 0) &&
	    (int32_t)(e.seq - cli->op_seq) >= 0 &&
	    (int32_t)(e.seq - cli->next_seq) < 0)
		cli->op_err = status;
}

static void
cli_on_reply(struct vmbs_cli *cli, const struct vmbs_att_frame *f)
{
	struct cli_req *r = &cli->req;
	uint32_t i;

	if (!(f->hdr.flags & VMBS_ATT_F_REPLY) || f->hdr.status > 0) {
		cli->proto_err = -EPROTO;
		return;
	}
	if (r->active && !r->done && f->hdr.seq == r->seq && f->hdr.type == r->type) {
		r->done = true;
		r->status = f->hdr.status;
		r->len = f->hdr.len < sizeof(r->payload) ? f->hdr.len :
			(uint32_t)sizeof(r->payload);
		if (r->len != 0)
			memcpy(r->payload, f->payload, r->len);
		return;
	}
	for (i = 0; i < CLI_LATE_MAX; i++) {
		if (cli->late[i].type != 0 && cli->late[i].type == f->hdr.type &&
		    cli->late[i].seq == f->hdr.seq) {
			cli->late[i].type = 0;
			return;
		}
	}
	/* A reply to nothing we asked. */
	cli->proto_err = -EPROTO;
}

static void
cli_handle(struct vmbs_cli *cli, const uint8_t *buf, size_t len, uint32_t n_fds)
{
	struct vmbs_att_frame f;

	if (vmbs_att_frame_check(buf, len, n_fds, true, &f) != 0) {
		cli->proto_err = -EPROTO;
		return;
	}
	switch (f.hdr.type) {
	case VMBS_ATT_VMBUS_MSG:
		cli_on_chmsg(cli, f.payload, f.hdr.len);
		break;
	case VMBS_ATT_ERROR:
		cli_on_error(cli, &f);
		break;
	case VMBS_ATT_GOODBYE:
		if (!(f.hdr.flags & VMBS_ATT_F_REPLY)) {
			/* The server ends the session; it closes next. */
			cli->disconnected = true;
			cli->bye_status = f.hdr.status;
			break;
		}
		/* fallthrough */
	default:
		cli_on_reply(cli, &f);
		break;
	}
}

/*
 * Take one datagram off the (non-blocking) socket and handle it.
 * @return 1 if a frame (good or bad) was taken; 0 if none was there;
 *   -ECONNRESET at end of stream or when the connection broke.
 */
static int
cli_recv_frame(struct vmbs_cli *cli)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	int fds[VMBS_ATT_MAX_FDS];
	uint32_t n_fds = 0, i;
	ssize_t n;

	n = vmbs_att_recv(cli->sock, buf, sizeof(buf), fds, VMBS_ATT_MAX_FDS, &n_fds);
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n == -EMSGSIZE || n == -EBADF) {
		/* Oversized frame or stray descriptors: discarded by recv. */
		cli->proto_err = -EPROTO;
		return 1;
	}
	if (n <= 0)
		return -ECONNRESET;
	if (n_fds > VMBS_ATT_MAX_FDS)
		n_fds = VMBS_ATT_MAX_FDS;
	cli_handle(cli, buf, (size_t)n, n_fds);
	/* The server never passes descriptors to the client. */
	for (i = 0; i < n_fds; i++)
		close(fds[i]);
	return 1;
}

/*
 * Wait up to @p ms for one frame and handle it.
 * @return 1 if a frame (good or bad) was taken; 0 if none came;
 *   -ECONNRESET once the server is gone.
 */
static int
cli_recv_one(struct vmbs_cli *cli, int ms)
{
	struct pollfd pfd = { .fd = cli->sock, .events = POLLIN };
	int rc;

	if (cli->disconnected)
		return -ECONNRESET;
	rc = poll(&pfd, 1, ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return 0;
	rc = cli_recv_frame(cli);
	if (rc >= 0)
		return rc;
	/*
	 * A server that closes with our frames unread makes recvmsg() report
	 * ECONNRESET once, ahead of the frames it sent before closing (a
	 * GOODBYE notice, a refusal): take those too, then give up.
	 */
	while (cli_recv_frame(cli) > 0)
		;
	cli->disconnected = true;
	return -ECONNRESET;
}

/* ---- sending ---- */

/* sendmsg() with any number of descriptors, for raw frames. */
static int
cli_sendmsg(int sock, const void *buf, size_t len, const int *fds, uint32_t n_fds)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(CLI_RAW_MAX_FDS * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (n_fds > CLI_RAW_MAX_FDS || (n_fds > 0 && fds == NULL))
		return -EINVAL;
	if (n_fds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n_fds * sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/*
 * Send one datagram on the non-blocking socket. While the socket is full,
 * keep taking the server's frames (it may be blocked sending to us), as
 * long as the queue has room for them.
 */
static int
cli_send(struct vmbs_cli *cli, const void *buf, size_t len, const int *fds,
	 uint32_t n_fds, bool raw, uint64_t deadline)
{
	struct pollfd pfd = { .fd = cli->sock };
	int rc, left;

	if (cli->disconnected)
		return -ECONNRESET;
	for (;;) {
		if (raw)
			rc = cli_sendmsg(cli->sock, buf, len, fds, n_fds);
		else
			rc = vmbs_att_send(cli->sock, buf, len, fds, n_fds);
		if (rc != -EAGAIN && rc != -ENOBUFS)
			break;
		left = cli_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		pfd.events = POLLOUT;
		if (cli->q_len < VMBS_CLI_MSG_QUEUE)
			pfd.events |= POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && (pfd.revents & POLLIN)) {
			rc = cli_recv_one(cli, 0);
			if (rc < 0)
				return rc;
		}
	}
	if (rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN) {
		/* Take what the server said before it left (a GOODBYE notice). */
		while (cli_recv_frame(cli) > 0)
			;
		cli->disconnected = true;
		return -ECONNRESET;
	}
	return rc;
}

/* Frame and send a channel message; the frame gets the next seq. */
static int
cli_post_dl(struct vmbs_cli *cli, const void *msg, uint32_t len, uint64_t deadline)
{
	uint8_t frame[VMBS_ATT_MAX_FRAME];
	int n;

	if (cli->disconnected)
		return -ECONNRESET;
	n = vmbs_att_encode(frame, sizeof(frame), VMBS_ATT_VMBUS_MSG, 0,
			    cli->next_seq, 0, msg, len);
	if (n < 0)
		return n;
	cli->next_seq++;
	return cli_send(cli, frame, (size_t)n, NULL, 0, false, deadline);
}

/* ---- waiting ---- */

/* Drop queue entry @p i, keeping the others in order. */
static void
cli_q_take(struct vmbs_cli *cli, uint32_t i, struct cli_msg *out)
{
	*out = cli->q[i];
	memmove(&cli->q[i], &cli->q[i + 1], (cli->q_len - i - 1) * sizeof(cli->q[0]));
	cli->q_len--;
}

/* Errors a wait reports before waiting any further; 0 if none. */
static int
cli_pending_err(struct vmbs_cli *cli, bool chmsg)
{
	int rc;

	if (cli->proto_err != 0) {
		rc = cli->proto_err;
		cli->proto_err = 0;
		return rc;
	}
	if (cli->op_active && cli->op_err != 0)
		return cli->op_err;
	if (chmsg && cli->bad_chmsg) {
		cli->bad_chmsg = false;
		return -EBADMSG;
	}
	if (chmsg && cli->overflow != 0) {
		cli->overflow = 0;
		return -ENOBUFS;
	}
	return 0;
}

/*
 * First queued (or next arriving) channel message @p w accepts. Messages
 * it does not accept stay queued in order.
 */
static int
cli_wait_msg(struct vmbs_cli *cli, const struct cli_want *w,
	     struct vmbs_chmsg *out, uint32_t timeout_ms)
{
	uint64_t deadline = cli_deadline(cli, timeout_ms);
	struct vmbs_chmsg m;
	uint32_t scanned = 0;
	int rc, left;

	cli->want = w;
	cli->want_hit = false;
	for (;;) {
		/* Lost or bad input is reported before anything else. */
		rc = cli_pending_err(cli, true);
		if (rc != 0)
			goto out;
		/* Each entry decoded fine on arrival; look at new ones only. */
		for (; scanned < cli->q_len; scanned++) {
			if (vmbs_chmsg_decode(cli->q[scanned].buf, cli->q[scanned].len,
					      &m) == 0 && cli_wanted(w, &m)) {
				cli_q_take(cli, scanned, &cli->cur);
				goto found;
			}
		}
		if (cli->want_hit) {
			cli->cur = cli->want_msg;
			goto found;
		}
		left = cli_left(deadline);
		rc = cli_recv_one(cli, left);
		if (rc < 0)
			goto out;
		if (rc == 0 && left == 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
	}
found:
	rc = vmbs_chmsg_decode(cli->cur.buf, cli->cur.len, out) == 0 ? 0 : -EBADMSG;
out:
	cli->want = NULL;
	cli->want_hit = false;
	return rc;
}

static int
cli_wait_type(struct vmbs_cli *cli, uint32_t type,
	      bool (*match)(const struct vmbs_chmsg *, const void *),
	      const void *arg, struct vmbs_chmsg *out, uint32_t timeout_ms)
{
	const struct cli_want w = { .type = type, .match = match, .arg = arg };

	return cli_wait_msg(cli, &w, out, timeout_ms);
}

/* Start an operation: ERROR frames naming posts from now on fail it. */
static void
cli_op_begin(struct vmbs_cli *cli)
{
	cli->op_active = true;
	cli->op_seq = cli->next_seq;
	cli->op_err = 0;
}

static void
cli_op_end(struct vmbs_cli *cli)
{
	cli->op_active = false;
	cli->op_err = 0;
}

static int
cli_request_dl(struct vmbs_cli *cli, uint16_t type, const void *payload,
	       uint32_t len, int fd, void *reply, uint32_t *reply_len,
	       uint64_t deadline)
{
	uint8_t frame[VMBS_ATT_MAX_FRAME];
	struct cli_req *r = &cli->req;
	uint32_t room, seq;
	int n, rc, left;
	bool sent;

	room = reply != NULL && reply_len != NULL ? *reply_len : 0;
	if (reply_len != NULL)
		*reply_len = 0;
	if (cli->disconnected)
		return -ECONNRESET;
	seq = cli->next_seq;
	n = vmbs_att_encode(frame, sizeof(frame), type, 0, seq, 0, payload, len);
	if (n < 0)
		return n;
	cli->next_seq++;
	memset(r, 0, offsetof(struct cli_req, payload));
	r->active = true;
	r->type = type;
	r->seq = seq;
	rc = cli_send(cli, frame, (size_t)n, &fd, fd >= 0 ? 1 : 0, false, deadline);
	sent = rc == 0;
	while (rc == 0 && !r->done) {
		rc = cli->proto_err;
		if (rc != 0) {
			cli->proto_err = 0;
			break;
		}
		left = cli_left(deadline);
		rc = cli_recv_one(cli, left);
		if (rc > 0 || (rc == 0 && left > 0))
			rc = 0;
		else if (rc == 0)
			rc = -ETIMEDOUT;
	}
	if (sent && !r->done && rc != -ECONNRESET) {
		/* Sent but given up on: its reply may still come. */
		cli->late[cli->late_next].type = type;
		cli->late[cli->late_next].seq = seq;
		cli->late_next = (cli->late_next + 1) % CLI_LATE_MAX;
	}
	r->active = false;
	if (rc != 0)
		return rc;
	if (r->status == 0 && room != 0) {
		if (room > r->len)
			room = r->len;
		memcpy(reply, r->payload, room);
		*reply_len = room;
	}
	return r->status;
}

/* ---- session ---- */

static int
cli_connect_sock(struct vmbs_cli *cli, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = cli_deadline(cli, 0);
	const struct timespec pause = { .tv_nsec = CLI_CONNECT_RETRY_NS };
	struct pollfd pfd;
	socklen_t sl;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cli->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cli->sock < 0)
		return -errno;
	for (;;) {
		if (connect(cli->sock, (const struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		err = errno;
		if (err == EINTR)
			continue;
		/* A UNIX listener with a full backlog: try again shortly. */
		if (err == EAGAIN) {
			if (cli_left(deadline) == 0)
				return -ETIMEDOUT;
			nanosleep(&pause, NULL);
			continue;
		}
		if (err != EINPROGRESS)
			return -err;
		pfd.fd = cli->sock;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, cli_left(deadline)) <= 0)
			return -ETIMEDOUT;
		sl = sizeof(err);
		if (getsockopt(cli->sock, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
			return -errno;
		return -err;
	}
}

int
vmbs_cli_connect(const struct vmbs_cli_params *p, struct vmbs_cli **out)
{
	struct vmbs_att_hello hello;
	struct vmbs_cli *cli;
	uint32_t rlen;
	size_t name_len;
	int rc;

	if (p == NULL || out == NULL || p->socket_path == NULL || p->vm_name == NULL)
		return -EINVAL;
	*out = NULL;
	name_len = strlen(p->vm_name);
	/* Syntax is the server's to judge (tests send bad names on purpose). */
	if (name_len >= VMBS_ATT_VM_NAME_MAX)
		return -EINVAL;
	cli = calloc(1, sizeof(*cli));
	if (cli == NULL)
		return -ENOMEM;
	cli->sock = -1;
	cli->timeout_ms = p->timeout_ms != 0 ? p->timeout_ms : VMBS_CLI_DEFAULT_TIMEOUT_MS;
	cli->next_seq = 1;
	cli->next_gpadl = CLI_GPADL_FIRST;

	rc = cli_connect_sock(cli, p->socket_path);
	if (rc != 0)
		goto err;

	memset(&hello, 0, sizeof(hello));
	hello.version = p->version != 0 ? p->version : VMBS_ATT_VERSION_CURRENT;
	memcpy(hello.vm_name, p->vm_name, name_len);
	rlen = sizeof(cli->hello);
	rc = vmbs_cli_request(cli, VMBS_ATT_HELLO, &hello, sizeof(hello), -1,
			      &cli->hello, &rlen);
	/* A refusal before HELLO (credentials) comes as a GOODBYE notice. */
	if (rc == -ECONNRESET && cli->bye_status < 0)
		rc = cli->bye_status;
	if (rc != 0)
		goto err;

	if (p->mem_size != 0) {
		rc = vmbs_cli_mem_add(cli, VMBS_CLI_MEM_BASE, p->mem_size, p->hugepages);
		if (rc != 0)
			goto err;
	}
	*out = cli;
	return 0;
err:
	vmbs_cli_destroy(cli);
	return rc;
}

static void
cli_chan_free(struct vmbs_cli_chan *ch)
{
	struct vmbs_cli_chan **pp;

	for (pp = &ch->cli->chans; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	}
	if (ch->db_g2h >= 0)
		close(ch->db_g2h);
	if (ch->db_h2g >= 0)
		close(ch->db_h2g);
	free(ch->rx_buf);
	free(ch);
}

void
vmbs_cli_destroy(struct vmbs_cli *cli)
{
	uint32_t i;

	if (cli == NULL)
		return;
	if (cli->sock >= 0)
		close(cli->sock);
	/* Channels die with their client (a VM that dies takes its rings). */
	while (cli->chans != NULL)
		cli_chan_free(cli->chans);
	for (i = 0; i < VMBS_CLI_MAX_REGIONS; i++)
		if (cli->regions[i].in_use)
			munmap(cli->regions[i].va, cli->regions[i].size);
	free(cli);
}

int
vmbs_cli_goodbye(struct vmbs_cli *cli)
{
	struct vmbs_att_goodbye bye = { .reason = VMBS_ATT_BYE_NORMAL };
	int rc;

	if (cli == NULL)
		return -EINVAL;
	rc = vmbs_cli_request(cli, VMBS_ATT_GOODBYE, &bye, sizeof(bye), -1, NULL, NULL);
	vmbs_cli_destroy(cli);
	return rc;
}

int
vmbs_cli_fd(const struct vmbs_cli *cli)
{
	return cli != NULL ? cli->sock : -1;
}

bool
vmbs_cli_disconnected(const struct vmbs_cli *cli)
{
	return cli == NULL || cli->disconnected;
}

/* ---- guest memory ---- */

/* Back a region with a fresh file and map the client's view of it. */
static int
cli_region_map(uint64_t size, bool huge, int *fdp, uint8_t **vap)
{
	void *va;
	int fd, rc;

	if (huge) {
		/* An unlinked file on a hugetlbfs mount, default page size. */
		fd = hugetlbfs_unlinked_fd();
		if (fd < 0)
			return -ENOMEM;
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			rc = -errno;
			goto err_close;
		}
	} else {
		fd = memfd_create("vmbs-cli", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	if (ftruncate(fd, (off_t)size) != 0) {
		rc = -errno;
		goto err_close;
	}
	/*
	 * A shared hugetlbfs mapping reserves its pages here, so a shortage
	 * fails now with ENOMEM rather than as SIGBUS on first touch.
	 */
	va = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (va == MAP_FAILED) {
		rc = -errno;
		goto err_close;
	}
	*fdp = fd;
	*vap = va;
	return 0;
err_close:
	close(fd);
	return rc;
}

int
vmbs_cli_mem_add(struct vmbs_cli *cli, uint64_t gpa, uint64_t size, bool huge)
{
	struct vmbs_att_mem_add ma;
	struct cli_region *r = NULL;
	uint64_t page = VMBS_PAGE_SIZE;
	uint8_t *va = NULL;
	int fd = -1, rc;
	uint32_t i;
	long hps;

	if (cli == NULL)
		return -EINVAL;
	if (huge) {
		hps = gethugepagesize();
		if (hps <= 0)
			return -ENOMEM;
		page = (uint64_t)hps;
	}
	if (size == 0 || size % page != 0 || gpa % page != 0 || gpa + size < gpa)
		return -EINVAL;
	if (size > SIZE_MAX || size > (uint64_t)INT64_MAX)
		return -ENOMEM;
	for (i = 0; i < VMBS_CLI_MAX_REGIONS && r == NULL; i++)
		if (!cli->regions[i].in_use)
			r = &cli->regions[i];
	if (r == NULL)
		return -ENOSPC;

	rc = cli_region_map(size, huge, &fd, &va);
	if (rc != 0)
		return rc;
	memset(&ma, 0, sizeof(ma));
	ma.gpa = gpa;
	ma.size = size;
	rc = vmbs_cli_request(cli, VMBS_ATT_MEM_ADD, &ma, sizeof(ma), fd, NULL, NULL);
	/* The server holds its own reference (or none); the mapping stays. */
	close(fd);
	if (rc != 0) {
		munmap(va, (size_t)size);
		return rc;
	}
	r->gpa = gpa;
	r->size = size;
	r->used = 0;
	r->va = va;
	r->in_use = true;
	return 0;
}

int
vmbs_cli_mem_del(struct vmbs_cli *cli, uint64_t gpa)
{
	struct vmbs_att_mem_del md = { .gpa = gpa };
	struct cli_region *r = NULL;
	uint32_t i;
	int rc;

	if (cli == NULL)
		return -EINVAL;
	for (i = 0; i < VMBS_CLI_MAX_REGIONS && r == NULL; i++)
		if (cli->regions[i].in_use && cli->regions[i].gpa == gpa)
			r = &cli->regions[i];
	if (r == NULL)
		return -ENOENT;
	rc = vmbs_cli_request(cli, VMBS_ATT_MEM_DEL, &md, sizeof(md), -1, NULL, NULL);
	if (rc != 0)
		return rc;
	munmap(r->va, (size_t)r->size);
	memset(r, 0, sizeof(*r));
	return 0;
}

int
vmbs_cli_alloc(struct vmbs_cli *cli, uint64_t size, uint64_t align, uint64_t *gpa)
{
	struct cli_region *r;
	uint64_t base, start, off;
	uint32_t i;

	if (align == 0)
		align = VMBS_PAGE_SIZE;
	if (cli == NULL || gpa == NULL || size == 0 || align < VMBS_PAGE_SIZE ||
	    (align & (align - 1)) != 0)
		return -EINVAL;
	if (size > UINT64_MAX - VMBS_PAGE_MASK)
		return -ENOMEM;
	size = (size + VMBS_PAGE_MASK) & ~(uint64_t)VMBS_PAGE_MASK;
	for (i = 0; i < VMBS_CLI_MAX_REGIONS; i++) {
		r = &cli->regions[i];
		if (!r->in_use)
			continue;
		base = r->gpa + r->used;
		if (base > UINT64_MAX - (align - 1))
			continue;
		start = (base + align - 1) & ~(align - 1);
		off = start - r->gpa;
		if (off > r->size || size > r->size - off)
			continue;
		r->used = off + size;
		*gpa = start;
		return 0;
	}
	return -ENOMEM;
}

void *
vmbs_cli_va(const struct vmbs_cli *cli, uint64_t gpa, uint64_t len)
{
	const struct cli_region *r;
	uint64_t off;
	uint32_t i;

	if (cli == NULL)
		return NULL;
	for (i = 0; i < VMBS_CLI_MAX_REGIONS; i++) {
		r = &cli->regions[i];
		if (!r->in_use || gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off >= r->size || len > r->size - off)
			continue;
		return r->va + off;
	}
	return NULL;
}

/* ---- frames ---- */

int
vmbs_cli_request(struct vmbs_cli *cli, uint16_t type, const void *payload,
		 uint32_t len, int fd, void *reply, uint32_t *reply_len)
{
	if (cli == NULL || (payload == NULL && len != 0))
		return -EINVAL;
	return cli_request_dl(cli, type, payload, len, fd, reply, reply_len,
			      cli_deadline(cli, 0));
}

int
vmbs_cli_send_raw(struct vmbs_cli *cli, const void *buf, size_t len,
		  const int *fds, uint32_t n_fds)
{
	if (cli == NULL || (buf == NULL && len != 0) || n_fds > CLI_RAW_MAX_FDS ||
	    (n_fds != 0 && fds == NULL))
		return -EINVAL;
	return cli_send(cli, buf, len, fds, n_fds, true, cli_deadline(cli, 0));
}

int
vmbs_cli_pump(struct vmbs_cli *cli, uint32_t timeout_ms, int32_t *err)
{
	uint64_t deadline;
	int rc = 0, left;

	if (err != NULL)
		*err = 0;
	if (cli == NULL)
		return -EINVAL;
	deadline = cli_now_ms() + timeout_ms;
	for (;;) {
		if (cli->proto_err != 0) {
			rc = cli->proto_err;
			cli->proto_err = 0;
			break;
		}
		/* Once an ERROR is in, only drain what is already there. */
		left = cli->have_err ? 0 : cli_left(deadline);
		rc = cli_recv_one(cli, left);
		if (rc < 0)
			break;
		if (rc == 0 && left == 0)
			break;
	}
	if (err != NULL && cli->have_err)
		*err = cli->last_err;
	cli->have_err = false;
	cli->last_err = 0;
	return rc;
}

/* ---- channel messages ---- */

int
vmbs_cli_post(struct vmbs_cli *cli, const void *msg, uint32_t len)
{
	if (cli == NULL || (msg == NULL && len != 0))
		return -EINVAL;
	return cli_post_dl(cli, msg, len, cli_deadline(cli, 0));
}

int
vmbs_cli_wait_msg(struct vmbs_cli *cli, uint32_t type, struct vmbs_chmsg *msg,
		  uint32_t timeout_ms)
{
	if (cli == NULL || msg == NULL)
		return -EINVAL;
	return cli_wait_type(cli, type, NULL, NULL, msg, timeout_ms);
}

/* Post one message, then wait for the answer that @p type / @p match pick. */
static int
cli_transact(struct vmbs_cli *cli, const void *msg, uint32_t len, uint32_t type,
	     bool (*match)(const struct vmbs_chmsg *, const void *),
	     const void *arg, struct vmbs_chmsg *out, uint32_t timeout_ms)
{
	int rc;

	cli_op_begin(cli);
	rc = cli_post_dl(cli, msg, len, cli_deadline(cli, timeout_ms));
	if (rc == 0)
		rc = cli_wait_type(cli, type, match, arg, out, timeout_ms);
	cli_op_end(cli);
	return rc;
}

int
vmbs_cli_initiate(struct vmbs_cli *cli, uint32_t version)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	uint64_t intr = 0;
	int n, rc;

	if (cli == NULL)
		return -EINVAL;
	/* From 5.0 the interrupt page field is {u8 sint, u8 vtl, u16, u32}. */
	if (version >= VMBS_VERSION_WIN10_V5)
		intr = CLI_MSG_SINT;
	n = vmbs_chmsg_encode_initiate_contact(buf, sizeof(buf), version, 0, intr, 0, 0);
	if (n < 0)
		return n;
	rc = cli_transact(cli, buf, (uint32_t)n, VMBS_CHMSG_VERSION_RESPONSE, NULL,
			  NULL, &m, 0);
	if (rc != 0)
		return rc;
	if (m.u.version_response.version_supported == 0)
		return -EPROTONOSUPPORT;
	cli->version = version;
	return 0;
}

int
vmbs_cli_negotiate(struct vmbs_cli *cli, uint32_t *version)
{
	size_t i;
	int rc;

	if (cli == NULL)
		return -EINVAL;
	for (i = 0; i < sizeof(cli_versions) / sizeof(cli_versions[0]); i++) {
		rc = vmbs_cli_initiate(cli, cli_versions[i]);
		if (rc == -EPROTONOSUPPORT)
			continue;
		if (rc == 0 && version != NULL)
			*version = cli_versions[i];
		return rc;
	}
	return -EPROTONOSUPPORT;
}

static bool
cli_match_offer(const struct vmbs_chmsg *m, const void *arg)
{
	(void)arg;
	return m->type == VMBS_CHMSG_OFFERCHANNEL ||
	       m->type == VMBS_CHMSG_ALLOFFERS_DELIVERED;
}

int
vmbs_cli_request_offers(struct vmbs_cli *cli, struct vmbs_chmsg_offer *offers,
			uint32_t max, uint32_t *n)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	uint32_t cnt = 0;
	int len, rc;

	if (n != NULL)
		*n = 0;
	if (cli == NULL || (offers == NULL && max != 0))
		return -EINVAL;
	len = vmbs_chmsg_encode_requestoffers(buf, sizeof(buf));
	if (len < 0)
		return len;
	cli_op_begin(cli);
	rc = cli_post_dl(cli, buf, (uint32_t)len, cli_deadline(cli, 0));
	while (rc == 0) {
		/* Each offer gets the full timeout: a server may pace them. */
		rc = cli_wait_type(cli, 0, cli_match_offer, NULL, &m, 0);
		if (rc != 0 || m.type == VMBS_CHMSG_ALLOFFERS_DELIVERED)
			break;
		if (cnt < max)
			offers[cnt] = m.u.offer;
		if (cnt < UINT32_MAX)
			cnt++;
	}
	cli_op_end(cli);
	if (n != NULL)
		*n = cnt;
	return rc;
}

struct cli_gpadl_key {
	uint32_t relid;
	uint32_t gpadl;
};

static bool
cli_match_created(const struct vmbs_chmsg *m, const void *arg)
{
	const struct cli_gpadl_key *k = arg;

	return m->u.gpadl_created.child_relid == k->relid &&
	       m->u.gpadl_created.gpadl == k->gpadl;
}

static bool
cli_match_torndown(const struct vmbs_chmsg *m, const void *arg)
{
	const struct cli_gpadl_key *k = arg;

	return m->u.gpadl_torndown.gpadl == k->gpadl;
}

int
vmbs_cli_gpadl_create(struct vmbs_cli *cli, uint32_t relid, uint64_t gpa,
		      uint64_t len, uint32_t *gpadl)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg_gpadl_gen g;
	struct cli_gpadl_key key = { .relid = relid };
	struct vmbs_gpa_range range;
	struct vmbs_chmsg m;
	uint64_t npfn, i, pfn;
	uint8_t *rl;
	size_t rl_len;
	int n, rc;

	if (cli == NULL || gpadl == NULL || len == 0 ||
	    ((gpa | len) & VMBS_PAGE_MASK) != 0)
		return -EINVAL;
	npfn = len >> VMBS_PAGE_SHIFT;
	if (npfn > CLI_GPADL_MAX_PFNS)
		return -E2BIG;

	/* One range over every page, as a Linux guest describes a buffer. */
	rl_len = sizeof(range) + (size_t)npfn * sizeof(uint64_t);
	rl = malloc(rl_len);
	if (rl == NULL)
		return -ENOMEM;
	range.byte_count = (uint32_t)len;
	range.byte_offset = 0;
	memcpy(rl, &range, sizeof(range));
	for (i = 0; i < npfn; i++) {
		pfn = (gpa >> VMBS_PAGE_SHIFT) + i;
		memcpy(rl + sizeof(range) + i * sizeof(uint64_t), &pfn, sizeof(pfn));
	}
	key.gpadl = cli->next_gpadl;
	rc = vmbs_chmsg_gpadl_gen_init(&g, relid, key.gpadl, 1, rl, rl_len);
	if (rc != 0)
		goto out_free;
	cli->next_gpadl++;
	*gpadl = key.gpadl;

	cli_op_begin(cli);
	/* Every post gets the full timeout: the server reads at its pace. */
	while ((n = vmbs_chmsg_gpadl_gen_next(&g, buf, sizeof(buf))) > 0) {
		rc = cli_post_dl(cli, buf, (uint32_t)n, cli_deadline(cli, 0));
		if (rc != 0)
			break;
	}
	if (rc == 0 && n < 0)
		rc = n;
	if (rc == 0)
		rc = cli_wait_type(cli, VMBS_CHMSG_GPADL_CREATED, cli_match_created,
				   &key, &m, 0);
	cli_op_end(cli);
	if (rc == 0 && m.u.gpadl_created.creation_status != 0)
		rc = -EIO;
out_free:
	free(rl);
	return rc;
}

int
vmbs_cli_gpadl_teardown(struct vmbs_cli *cli, uint32_t relid, uint32_t gpadl,
			uint32_t timeout_ms)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct cli_gpadl_key key = { .relid = relid, .gpadl = gpadl };
	struct vmbs_chmsg m;
	int n;

	if (cli == NULL)
		return -EINVAL;
	n = vmbs_chmsg_encode_gpadl_teardown(buf, sizeof(buf), relid, gpadl);
	if (n < 0)
		return n;
	return cli_transact(cli, buf, (uint32_t)n, VMBS_CHMSG_GPADL_TORNDOWN,
			    cli_match_torndown, &key, &m, timeout_ms);
}

int
vmbs_cli_unload(struct vmbs_cli *cli)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg m;
	int n;

	if (cli == NULL)
		return -EINVAL;
	n = vmbs_chmsg_encode_unload(buf, sizeof(buf));
	if (n < 0)
		return n;
	return cli_transact(cli, buf, (uint32_t)n, VMBS_CHMSG_UNLOAD_RESPONSE, NULL,
			    NULL, &m, 0);
}

/* ---- channels (guest role) ---- */

static bool
cli_match_open_result(const struct vmbs_chmsg *m, const void *arg)
{
	const uint32_t *relid = arg;

	return m->u.open_result.child_relid == *relid &&
	       m->u.open_result.openid == *relid;
}

int
vmbs_cli_chan_open(struct vmbs_cli *cli, uint32_t relid, uint32_t g2h_pages,
		   uint32_t h2g_pages, struct vmbs_cli_chan **out)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg_open open;
	struct vmbs_cli_chan *ch;
	struct vmbs_chmsg m;
	uint64_t gpa, size;
	uint8_t *va;
	void *mem;
	int n, rc;

	if (cli == NULL || out == NULL || g2h_pages < 2 || h2g_pages < 2)
		return -EINVAL;
	*out = NULL;
	/* Both halves are one GPADL: refuse before taking guest memory. */
	if ((uint64_t)g2h_pages + h2g_pages > CLI_GPADL_MAX_PFNS)
		return -E2BIG;
	size = ((uint64_t)g2h_pages + h2g_pages) << VMBS_PAGE_SHIFT;
	/* struct vmbs_br wants its cache-line alignment. */
	if (posix_memalign(&mem, VMBS_BR_CACHE_LINE, sizeof(*ch)) != 0)
		return -ENOMEM;
	ch = mem;
	memset(ch, 0, sizeof(*ch));
	ch->cli = cli;
	ch->relid = relid;
	ch->db_g2h = -1;
	ch->db_h2g = -1;

	rc = vmbs_cli_alloc(cli, size, 0, &gpa);
	if (rc != 0)
		goto err_free;
	va = vmbs_cli_va(cli, gpa, size);
	if (va == NULL) {
		rc = -ENOMEM;
		goto err_free;
	}
	/* Zeroed control pages, as a Linux guest's vmbus_open() leaves them. */
	memset(va, 0, (size_t)size);
	rc = vmbs_br_init(&ch->g2h, va, (size_t)g2h_pages << VMBS_PAGE_SHIFT,
			  VMBS_BR_PRODUCER, 0);
	if (rc != 0)
		goto err_free;
	rc = vmbs_br_init(&ch->h2g, va + ((size_t)g2h_pages << VMBS_PAGE_SHIFT),
			  (size_t)h2g_pages << VMBS_PAGE_SHIFT, VMBS_BR_CONSUMER, 0);
	if (rc != 0)
		goto err_free;

	rc = vmbs_cli_gpadl_create(cli, relid, gpa, size, &ch->gpadl);
	if (rc != 0)
		goto err_free;

	memset(&open, 0, sizeof(open));
	open.child_relid = relid;
	open.openid = relid;
	open.ring_gpadl = ch->gpadl;
	open.target_vp = 0;
	open.downstream_page_offset = g2h_pages;
	n = vmbs_chmsg_encode_open(buf, sizeof(buf), &open);
	if (n < 0) {
		rc = n;
		goto err_teardown;
	}
	rc = cli_transact(cli, buf, (uint32_t)n, VMBS_CHMSG_OPENCHANNEL_RESULT,
			  cli_match_open_result, &relid, &m, 0);
	if (rc != 0)
		goto err_free;	/* the open's fate is unknown: leave the GPADL */
	if (m.u.open_result.status != 0) {
		rc = -EIO;
		goto err_teardown;
	}
	ch->next = cli->chans;
	cli->chans = ch;
	*out = ch;
	return 0;

err_teardown:
	/* Best effort, as Linux does after a refused open. */
	vmbs_cli_gpadl_teardown(cli, relid, ch->gpadl, 0);
err_free:
	free(ch);
	return rc;
}

int
vmbs_cli_chan_close(struct vmbs_cli_chan *ch)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_cli *cli;
	int n, rc;

	if (ch == NULL)
		return -EINVAL;
	cli = ch->cli;
	n = vmbs_chmsg_encode_close(buf, sizeof(buf), ch->relid);
	rc = n < 0 ? n : vmbs_cli_post(cli, buf, (uint32_t)n);
	if (rc == 0)
		rc = vmbs_cli_gpadl_teardown(cli, ch->relid, ch->gpadl, 0);
	cli_chan_free(ch);
	return rc;
}

uint32_t
vmbs_cli_chan_relid(const struct vmbs_cli_chan *ch)
{
	return ch->relid;
}

uint32_t
vmbs_cli_chan_ring_gpadl(const struct vmbs_cli_chan *ch)
{
	return ch->gpadl;
}

struct vmbs_br *
vmbs_cli_chan_g2h(struct vmbs_cli_chan *ch)
{
	return &ch->g2h;
}

struct vmbs_br *
vmbs_cli_chan_h2g(struct vmbs_cli_chan *ch)
{
	return &ch->h2g;
}

int
vmbs_cli_chan_doorbells(struct vmbs_cli_chan *ch, int *g2h_fd, int *h2g_fd)
{
	struct vmbs_att_doorbell db;
	int g2h, h2g, rc;

	if (ch == NULL)
		return -EINVAL;
	g2h = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g2h < 0)
		return -errno;
	h2g = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h2g < 0) {
		rc = -errno;
		goto err_g2h;
	}
	memset(&db, 0, sizeof(db));
	db.relid = ch->relid;
	db.dir = VMBS_ATT_DB_G2H;
	rc = vmbs_cli_request(ch->cli, VMBS_ATT_DOORBELL, &db, sizeof(db), g2h, NULL, NULL);
	if (rc != 0)
		goto err_h2g;
	/* The server replaced the old g2h doorbell (if any) with this one. */
	if (ch->db_g2h >= 0)
		close(ch->db_g2h);
	ch->db_g2h = g2h;
	db.dir = VMBS_ATT_DB_H2G;
	rc = vmbs_cli_request(ch->cli, VMBS_ATT_DOORBELL, &db, sizeof(db), h2g, NULL, NULL);
	if (rc != 0) {
		close(h2g);
		return rc;
	}
	if (ch->db_h2g >= 0)
		close(ch->db_h2g);
	ch->db_h2g = h2g;
	if (g2h_fd != NULL)
		*g2h_fd = g2h;
	if (h2g_fd != NULL)
		*h2g_fd = h2g;
	return 0;

err_h2g:
	close(h2g);
err_g2h:
	close(g2h);
	return rc;
}

/* Ring the guest-to-host doorbell (the one signal a guest has per channel). */
static void
cli_chan_signal(struct vmbs_cli_chan *ch)
{
	const uint64_t one = 1;
	ssize_t n;

	if (ch->db_g2h < 0)
		return;
	/* EAGAIN means the counter is saturated: the server is signalled anyway. */
	n = write(ch->db_g2h, &one, sizeof(one));
	(void)n;
}

static int
cli_chan_put(struct vmbs_cli_chan *ch, const struct vmbs_pkt_desc *d,
	     const void *hdr, uint32_t hdr_len, const void *payload, uint32_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)(uintptr_t)hdr, .iov_len = hdr_len },
		{ .iov_base = (void *)(uintptr_t)payload, .iov_len = len },
	};
	int rc;

	rc = vmbs_br_tx_put(&ch->g2h, d, iov, 2);
	if (rc != 0)
		return rc;
	if (vmbs_br_tx_commit(&ch->g2h))
		cli_chan_signal(ch);
	return 0;
}

int
vmbs_cli_chan_send_inband(struct vmbs_cli_chan *ch, uint64_t trans_id,
			  uint16_t flags, const void *payload, uint32_t len)
{
	struct vmbs_desc_layout lay;
	struct vmbs_pkt_desc d;
	int rc;

	if (ch == NULL || (payload == NULL && len != 0))
		return -EINVAL;
	rc = vmbs_desc_encode_inband(&d, sizeof(d), trans_id, flags, len, &lay);
	if (rc != 0)
		return rc;
	return cli_chan_put(ch, &d, NULL, 0, payload, len);
}

int
vmbs_cli_chan_send_gpa(struct vmbs_cli_chan *ch, uint64_t trans_id,
		       uint16_t flags, const struct vmbs_desc_gpa_seg *segs,
		       uint32_t nseg, const void *payload, uint32_t len)
{
	struct vmbs_desc_layout lay;
	struct vmbs_pkt_desc d;
	uint64_t need, pages;
	uint8_t *hdr;
	uint32_t i;
	int rc;

	if (ch == NULL || segs == NULL || nseg == 0 || (payload == NULL && len != 0))
		return -EINVAL;
	/* Header room: descriptor, GPA-direct header, each range and its PFNs. */
	need = VMBS_DESC_RANGES_OFF;
	for (i = 0; i < nseg; i++) {
		pages = ((segs[i].gpa & VMBS_PAGE_MASK) + (uint64_t)segs[i].len +
			 VMBS_PAGE_MASK) >> VMBS_PAGE_SHIFT;
		need += sizeof(struct vmbs_gpa_range) + pages * sizeof(uint64_t);
		if (need > VMBS_DESC_MAX_PKT_LEN)
			return -E2BIG;
	}
	hdr = malloc((size_t)need);
	if (hdr == NULL)
		return -ENOMEM;
	rc = vmbs_desc_encode_gpa(hdr, (size_t)need, trans_id, flags, segs, nseg, len,
				  &lay);
	if (rc == 0) {
		memcpy(&d, hdr, sizeof(d));
		rc = cli_chan_put(ch, &d, hdr + sizeof(d), lay.hdr_len - (uint32_t)sizeof(d),
				  payload, len);
	}
	free(hdr);
	return rc;
}

int
vmbs_cli_chan_send_comp(struct vmbs_cli_chan *ch, uint64_t trans_id,
			const void *payload, uint32_t len)
{
	struct vmbs_desc_layout lay;
	struct vmbs_pkt_desc d;
	int rc;

	if (ch == NULL || (payload == NULL && len != 0))
		return -EINVAL;
	rc = vmbs_desc_encode_comp(&d, sizeof(d), trans_id, len, &lay);
	if (rc != 0)
		return rc;
	return cli_chan_put(ch, &d, NULL, 0, payload, len);
}

int
vmbs_cli_chan_recv(struct vmbs_cli_chan *ch, struct vmbs_pkt_desc *d, void *buf,
		   size_t buflen)
{
	struct vmbs_pkt_desc pd = { 0 };
	uint32_t off, plen;
	uint8_t *nb;
	int len, n;

	if (ch == NULL || (buf == NULL && buflen != 0))
		return -EINVAL;
	n = vmbs_br_rx_begin(&ch->h2g);
	if (n != 0)
		return n;
	len = vmbs_br_rx_peek(&ch->h2g, &pd);
	if (len < 0)
		return len;
	/* The ring checked offset8 <= len8; check again what we rely on. */
	off = (uint32_t)pd.offset8 * 8u;
	if (off > (uint32_t)len)
		return -EPROTO;
	plen = (uint32_t)len - off;
	if (plen > buflen)
		return -EMSGSIZE;
	if (ch->rx_buf_len < (size_t)len) {
		nb = realloc(ch->rx_buf, (size_t)len);
		if (nb == NULL)
			return -ENOMEM;
		ch->rx_buf = nb;
		ch->rx_buf_len = (size_t)len;
	}
	n = vmbs_br_rx_next(&ch->h2g, ch->rx_buf, ch->rx_buf_len);
	if (n < 0)
		return n;
	if (n != len)
		return -EPROTO;
	/* The host may be parked waiting for room (pending_send_sz). */
	if (vmbs_br_rx_commit(&ch->h2g))
		cli_chan_signal(ch);
	if (d != NULL)
		memcpy(d, ch->rx_buf, sizeof(*d));
	if (plen != 0)
		memcpy(buf, ch->rx_buf + off, plen);
	return (int)plen;
}

int
vmbs_cli_chan_send_pkt(struct vmbs_cli_chan *ch, const void *pkt, uint32_t len)
{
	struct vmbs_pkt_desc d;

	if (ch == NULL || pkt == NULL || len < sizeof(d))
		return -EINVAL;
	memcpy(&d, pkt, sizeof(d));
	return cli_chan_put(ch, &d, (const uint8_t *)pkt + sizeof(d),
			    len - (uint32_t)sizeof(d), NULL, 0);
}

int
vmbs_cli_chan_recv_pkt(struct vmbs_cli_chan *ch, void *buf, size_t buflen)
{
	int len, n;

	if (ch == NULL || buf == NULL)
		return -EINVAL;
	n = vmbs_br_rx_begin(&ch->h2g);
	if (n != 0)
		return n;
	len = vmbs_br_rx_peek(&ch->h2g, NULL);
	if (len < 0)
		return len;
	if ((size_t)len > buflen)
		return -EMSGSIZE;
	n = vmbs_br_rx_next(&ch->h2g, buf, buflen);
	if (n < 0)
		return n;
	if (n != len)
		return -EPROTO;
	/* The host may be parked waiting for room (pending_send_sz). */
	if (vmbs_br_rx_commit(&ch->h2g))
		cli_chan_signal(ch);
	return n;
}
