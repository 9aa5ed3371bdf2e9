/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The attach server's control thread: one epoll loop over the listening
 * socket, every connection, and an eventfd that wakes it for calls from
 * other threads (vmbs_srv_call()). It owns every VM (lib/vm), the device
 * registry and the counters; other threads reach them only through calls
 * that run here, so nothing below takes a lock except the call queue.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "vmbs_attach.h"
#include "vmbs_server.h"

RTE_LOG_REGISTER_DEFAULT(vmbs_srv_logtype, NOTICE);
#define SRV_LOG(level, fmt, ...)                                              \
	rte_log(RTE_LOG_##level, vmbs_srv_logtype, "attach: " fmt "\n",      \
		##__VA_ARGS__)

static_assert(VMBS_ATT_VM_NAME_MAX == VMBS_VM_NAME_MAX,
	      "attach and vm agree on the name buffer");

/* Most registered devices (all VMs). */
#define SRV_MAX_DEVS 1024u
/* Frames read from one connection per loop turn: fairness between VMs. */
#define SRV_FRAMES_PER_TURN 64u
/* Longest sleep of the loop: zombies are retried at least this often. */
#define SRV_IDLE_MS 100u
/* Connections beyond max_vms (e.g. not past HELLO yet) before accept refuses. */
#define SRV_CONN_SLACK 16u
/* How long a reply may wait for room in a client's socket buffer. */
#define SRV_SEND_WAIT_MS 100

struct srv_vm;

struct srv_conn {
	struct vmbs_srv *srv;
	int fd;
	bool paused;			/* EPOLLIN off: the VM holds messages */
	bool dead;			/* end at the end of this turn */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	struct srv_vm *sv;		/* after HELLO */
	struct srv_conn *next;
};

/* A VM and its connection; conn is NULL for a zombie. */
struct srv_vm {
	struct vmbs_vm *vm;
	struct srv_conn *conn;
	struct srv_vm *next;
};

struct srv_call {
	int (*fn)(void *arg);
	void *arg;
	int rc;
	bool done;
	struct srv_call *next;
};

struct vmbs_srv {
	struct vmbs_srv_params p;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	int epfd;
	int wake_fd;
	pthread_t thread;
	bool stop;			/* control thread reads; atomics */

	pthread_mutex_t lock;		/* call queue only */
	pthread_cond_t cond;
	struct srv_call *calls;

	/* Control thread only. */
	struct srv_conn *conns;
	struct srv_vm *vms;
	uint32_t n_conns;
	const struct vmbs_dev_desc *devs[SRV_MAX_DEVS];
	uint32_t n_devs;
	struct vmbs_srv_stats st;

	uint32_t refs;			/* vmbs_srv_acquire(), under srv_reg_lock */
	struct vmbs_srv *reg_next;
};

/* Servers shared by socket path (vmbs_srv_acquire()). */
static pthread_mutex_t srv_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmbs_srv *srv_reg;

/* ---- sending ---- */

static int
conn_send(struct srv_conn *c, uint16_t type, uint16_t flags, uint32_t seq,
	  int32_t status, const void *payload, uint32_t len)
{
	uint8_t frame[VMBS_ATT_MAX_FRAME];
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	int n, rc;

	if (c->dead)
		return -ENOTCONN;
	n = vmbs_att_encode(frame, sizeof(frame), type, flags, seq, status,
			    payload, len);
	if (n < 0)
		return n;
	rc = vmbs_att_send(c->fd, frame, (size_t)n, NULL, 0);
	if (rc == -EAGAIN) {
		/* A client that does not read its socket cannot stall the
		 * other VMs for long: wait briefly, then give up on it.
		 */
		if (poll(&pfd, 1, SRV_SEND_WAIT_MS) == 1)
			rc = vmbs_att_send(c->fd, frame, (size_t)n, NULL, 0);
	}
	if (rc < 0) {
		c->dead = true;
		return rc;
	}
	c->srv->st.frames_tx++;
	return 0;
}

static void
conn_error(struct srv_conn *c, uint16_t type, uint32_t seq, int32_t status)
{
	struct vmbs_att_error e = { .type = type, .seq = seq };

	c->srv->st.protocol_errors++;
	conn_send(c, VMBS_ATT_ERROR, 0, seq, status, &e, sizeof(e));
}

static void
conn_goodbye(struct srv_conn *c, uint32_t reason, int32_t status)
{
	struct vmbs_att_goodbye g = { .reason = reason };

	conn_send(c, VMBS_ATT_GOODBYE, 0, 0, status, &g, sizeof(g));
	c->dead = true;
}

/* lib/vm's send callback. */
static int
vm_send_cb(void *arg, const void *msg, uint32_t len)
{
	struct srv_vm *sv = arg;

	if (sv->conn == NULL)
		return -ENOTCONN;
	return conn_send(sv->conn, VMBS_ATT_VMBUS_MSG, 0, 0, 0, msg, len);
}

/* ---- VMs ---- */

static struct srv_vm *
srv_vm_find(struct vmbs_srv *srv, const char *name)
{
	struct srv_vm *sv;

	for (sv = srv->vms; sv != NULL; sv = sv->next)
		if (strncmp(vmbs_vm_name(sv->vm), name, VMBS_VM_NAME_MAX) == 0)
			return sv;
	return NULL;
}

static uint32_t
srv_vm_count(const struct vmbs_srv *srv)
{
	const struct srv_vm *sv;
	uint32_t n = 0;

	for (sv = srv->vms; sv != NULL; sv = sv->next)
		n++;
	return n;
}

static void
srv_vm_unlink_free(struct vmbs_srv *srv, struct srv_vm *sv)
{
	struct srv_vm **pp;

	for (pp = &srv->vms; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == sv) {
			*pp = sv->next;
			break;
		}
	}
	vmbs_vm_free(sv->vm);
	free(sv);
}

/* Release a VM whose connection ended; keep it as a zombie if needed. */
static void
srv_vm_release(struct vmbs_srv *srv, struct srv_vm *sv)
{
	sv->conn = NULL;
	if (vmbs_vm_release(sv->vm) == 0) {
		srv_vm_unlink_free(srv, sv);
		return;
	}
	srv->st.vms_zombie++;
	SRV_LOG(NOTICE, "vm %s released; waiting for its memory to be unreferenced",
		vmbs_vm_name(sv->vm));
}

/* ---- connections ---- */

static void
conn_end(struct vmbs_srv *srv, struct srv_conn *c)
{
	struct srv_conn **pp;

	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	srv->n_conns--;
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->sv != NULL) {
		srv->st.vms_attached--;
		srv_vm_release(srv, c->sv);
	}
	srv->st.disconnects++;
	free(c);
}

static bool
srv_peer_allowed(const struct vmbs_srv *srv, uid_t uid, gid_t gid)
{
	uint32_t i;

	if (srv->p.n_allow_uids == 0 && srv->p.n_allow_gids == 0)
		return uid == geteuid();
	for (i = 0; i < srv->p.n_allow_uids; i++)
		if (srv->p.allow_uids[i] == uid)
			return true;
	for (i = 0; i < srv->p.n_allow_gids; i++)
		if (srv->p.allow_gids[i] == gid)
			return true;
	return false;
}

static void
srv_accept(struct vmbs_srv *srv)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct srv_conn *c;
		int fd;

		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;	/* EAGAIN, or a transient error: epoll retries */
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		srv->st.accepted++;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
		    !srv_peer_allowed(srv, cred.uid, cred.gid)) {
			srv->st.refused_creds++;
			SRV_LOG(NOTICE, "refused peer uid %d gid %d",
				(int)cred.uid, (int)cred.gid);
			conn_goodbye(c, VMBS_ATT_BYE_REFUSED, -EACCES);
			close(fd);
			free(c);
			continue;
		}
		if (srv->n_conns >= srv->p.max_vms + SRV_CONN_SLACK) {
			/* Idle connections must not exhaust our descriptors. */
			srv->st.refused_hello++;
			conn_goodbye(c, VMBS_ATT_BYE_REFUSED, -EUSERS);
			close(fd);
			free(c);
			continue;
		}
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		ev.data.ptr = c;
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = srv->conns;
		srv->conns = c;
		srv->n_conns++;
	}
}

static void
conn_set_paused(struct srv_conn *c, bool paused)
{
	struct epoll_event ev = { .events = paused ? 0 : EPOLLIN, .data.ptr = c };

	if (c->paused == paused)
		return;
	c->paused = paused;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/*
 * A device deferred a packet (poll lcore): wake the loop so vmbs_vm_tick()
 * redelivers it now rather than at the idle timeout. One eventfd write;
 * deferrals are control-plane events (NVSP buffer and subchannel setup).
 */
static void
srv_kick(void *arg)
{
	struct vmbs_srv *srv = arg;
	uint64_t one = 1;

	if (write(srv->wake_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: the thread is woken already. */
	}
}

static int
srv_hello(struct srv_conn *c, const struct vmbs_att_frame *f)
{
	struct vmbs_srv *srv = c->srv;
	struct vmbs_att_hello h;
	struct vmbs_att_hello_reply r;
	struct vmbs_vm_params vp;
	struct srv_vm *sv;
	uint32_t i, n_match = 0;
	int rc = 0;

	memcpy(&h, f->payload, sizeof(h));
	if (h.version >> 16 != VMBS_ATT_VERSION_CURRENT >> 16)
		rc = -EPROTONOSUPPORT;
	for (i = 0; rc == 0 && i < srv->n_devs; i++)
		if (strncmp(srv->devs[i]->vm_name, h.vm_name, VMBS_VM_NAME_MAX) == 0)
			n_match++;
	if (rc == 0 && n_match == 0)
		rc = -ENOENT;
	if (rc == 0 && srv_vm_find(srv, h.vm_name) != NULL)
		rc = -EBUSY;
	if (rc == 0 && srv_vm_count(srv) >= srv->p.max_vms)
		rc = -EUSERS;
	if (rc != 0) {
		srv->st.refused_hello++;
		conn_send(c, VMBS_ATT_HELLO, VMBS_ATT_F_REPLY, f->hdr.seq, rc, NULL, 0);
		c->dead = true;
		return rc;
	}
	sv = calloc(1, sizeof(*sv));
	if (sv == NULL)
		goto nomem;
	memset(&vp, 0, sizeof(vp));
	vp.name = h.vm_name;
	vp.send = vm_send_cb;
	vp.send_arg = sv;
	vp.max_mem = srv->p.max_vm_mem;
	vp.drain_timeout_ms = srv->p.drain_timeout_ms;
	vp.kick = srv_kick;
	vp.kick_arg = srv;
	sv->vm = vmbs_vm_create(&vp);
	if (sv->vm == NULL) {
		free(sv);
		goto nomem;
	}
	sv->conn = c;
	sv->next = srv->vms;
	srv->vms = sv;
	c->sv = sv;
	srv->st.vms_attached++;
	for (i = 0; i < srv->n_devs; i++) {
		if (strncmp(srv->devs[i]->vm_name, h.vm_name, VMBS_VM_NAME_MAX) != 0)
			continue;
		rc = vmbs_vm_add_device(sv->vm, srv->devs[i]);
		if (rc < 0)
			SRV_LOG(ERR, "vm %s: device %u not assigned: %s",
				h.vm_name, i, strerror(-rc));
	}
	memset(&r, 0, sizeof(r));
	r.version = VMBS_ATT_VERSION_CURRENT;
	r.max_regions = VMBS_GM_MAX_REGIONS;
	r.max_chmsg = VMBS_ATT_CHMSG_MAX;
	r.max_region_size = VMBS_GM_MAX_REGION_SIZE;
	r.max_vm_mem = srv->p.max_vm_mem != 0 ? srv->p.max_vm_mem :
						 VMBS_VM_DEFAULT_MAX_MEM;
	SRV_LOG(INFO, "vm %s attached (pid %d uid %d)", h.vm_name, (int)c->pid,
		(int)c->uid);
	return conn_send(c, VMBS_ATT_HELLO, VMBS_ATT_F_REPLY, f->hdr.seq, 0,
			 &r, sizeof(r));
nomem:
	srv->st.refused_hello++;
	conn_send(c, VMBS_ATT_HELLO, VMBS_ATT_F_REPLY, f->hdr.seq, -ENOMEM, NULL, 0);
	c->dead = true;
	return -ENOMEM;
}

/* Handle one validated frame; @p fds are ours to consume or close. */
static void
conn_frame(struct srv_conn *c, const struct vmbs_att_frame *f, int *fds)
{
	struct vmbs_vm *vm = c->sv != NULL ? c->sv->vm : NULL;
	uint16_t type = f->hdr.type;
	uint32_t seq = f->hdr.seq;
	int rc;

	if (vm == NULL && type != VMBS_ATT_HELLO) {
		c->srv->st.refused_hello++;
		conn_error(c, type, seq, -EPROTO);
		conn_goodbye(c, VMBS_ATT_BYE_PROTOCOL, -EPROTO);
		goto close_fds;
	}
	switch (type) {
	case VMBS_ATT_HELLO:
		if (vm != NULL) {
			conn_error(c, type, seq, -EISCONN);
			conn_goodbye(c, VMBS_ATT_BYE_PROTOCOL, -EISCONN);
			break;
		}
		srv_hello(c, f);
		break;
	case VMBS_ATT_GOODBYE: {
		struct vmbs_att_goodbye g = { .reason = VMBS_ATT_BYE_NORMAL };

		conn_send(c, VMBS_ATT_GOODBYE, VMBS_ATT_F_REPLY, seq, 0, &g,
			  sizeof(g));
		c->dead = true;
		break;
	}
	case VMBS_ATT_MEM_ADD: {
		struct vmbs_att_mem_add m;

		memcpy(&m, f->payload, sizeof(m));
		rc = vmbs_vm_mem_add(vm, m.gpa, m.size, fds[0], m.offset);
		conn_send(c, type, VMBS_ATT_F_REPLY, seq, rc, NULL, 0);
		break;	/* guestmem keeps its mappings, not the fd */
	}
	case VMBS_ATT_MEM_DEL: {
		struct vmbs_att_mem_del m;

		memcpy(&m, f->payload, sizeof(m));
		rc = vmbs_vm_mem_del(vm, m.gpa);
		conn_send(c, type, VMBS_ATT_F_REPLY, seq, rc, NULL, 0);
		break;
	}
	case VMBS_ATT_DOORBELL: {
		struct vmbs_att_doorbell d;

		memcpy(&d, f->payload, sizeof(d));
		rc = vmbs_vm_set_doorbell(vm, d.relid, d.dir,
					  f->n_fds > 0 ? fds[0] : -1);
		conn_send(c, type, VMBS_ATT_F_REPLY, seq, rc, NULL, 0);
		return;	/* the VM owns (or closed) the fd */
	}
	case VMBS_ATT_VMBUS_MSG:
		rc = vmbs_vm_handle_msg(vm, f->payload, f->hdr.len);
		/* Only undecodable messages are the sender's protocol error;
		 * the rest are VMBus-level and ignored as Hyper-V does.
		 */
		if (rc == -EBADMSG)
			conn_error(c, type, seq, rc);
		if (!vmbs_vm_ready(vm))
			conn_set_paused(c, true);
		break;
	default:
		conn_error(c, type, seq, -EPROTO);
		break;
	}
close_fds:
	for (uint32_t i = 0; i < f->n_fds; i++)
		close(fds[i]);
}

static void
conn_readable(struct vmbs_srv *srv, struct srv_conn *c)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	uint32_t turn;

	for (turn = 0; turn < SRV_FRAMES_PER_TURN && !c->dead && !c->paused;
	     turn++) {
		struct vmbs_att_frame f;
		int fds[VMBS_ATT_MAX_FDS];
		uint32_t n_fds = 0, i;
		ssize_t n;
		int rc;

		n = vmbs_att_recv(c->fd, buf, sizeof(buf), fds, RTE_DIM(fds), &n_fds);
		if (n == -EAGAIN)
			return;
		if (n == 0 || n == -ECONNRESET) {
			c->dead = true;
			return;
		}
		if (n < 0) {
			conn_error(c, 0, 0, (int32_t)n);
			conn_goodbye(c, VMBS_ATT_BYE_PROTOCOL, (int32_t)n);
			return;
		}
		srv->st.frames_rx++;
		rc = vmbs_att_frame_check(buf, (size_t)n, n_fds, false, &f);
		if (rc < 0) {
			struct vmbs_att_hdr h;

			memset(&h, 0, sizeof(h));
			memcpy(&h, buf, RTE_MIN((size_t)n, sizeof(h)));
			for (i = 0; i < n_fds; i++)
				close(fds[i]);
			conn_error(c, h.type, h.seq, rc);
			conn_goodbye(c, VMBS_ATT_BYE_PROTOCOL, rc);
			return;
		}
		conn_frame(c, &f, fds);
	}
}

/* ---- calls from other threads ---- */

static void
srv_run_calls(struct vmbs_srv *srv)
{
	struct srv_call *list, *call;

	pthread_mutex_lock(&srv->lock);
	list = srv->calls;
	srv->calls = NULL;
	pthread_mutex_unlock(&srv->lock);
	/* The queue is LIFO; run in arrival order. */
	{
		struct srv_call *rev = NULL;

		while (list != NULL) {
			call = list;
			list = list->next;
			call->next = rev;
			rev = call;
		}
		list = rev;
	}
	while (list != NULL) {
		call = list;
		list = list->next;
		call->rc = call->fn(call->arg);
		pthread_mutex_lock(&srv->lock);
		call->done = true;
		pthread_cond_broadcast(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
	}
}

int
vmbs_srv_call(struct vmbs_srv *srv, int (*fn)(void *arg), void *arg)
{
	struct srv_call call = { .fn = fn, .arg = arg };
	uint64_t one = 1;

	if (pthread_equal(pthread_self(), srv->thread))
		return fn(arg);
	pthread_mutex_lock(&srv->lock);
	if (__atomic_load_n(&srv->stop, __ATOMIC_ACQUIRE)) {
		pthread_mutex_unlock(&srv->lock);
		return -ESHUTDOWN;
	}
	call.next = srv->calls;
	srv->calls = &call;
	pthread_mutex_unlock(&srv->lock);
	if (write(srv->wake_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: the thread is woken already. */
	}
	pthread_mutex_lock(&srv->lock);
	while (!call.done)
		pthread_cond_wait(&srv->cond, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	return call.rc;
}

/* ---- the loop ---- */

static uint32_t
srv_tick(struct vmbs_srv *srv)
{
	struct srv_vm *sv, *next;
	uint32_t wait = SRV_IDLE_MS;

	for (sv = srv->vms; sv != NULL; sv = next) {
		next = sv->next;
		if (sv->conn == NULL) {
			if (vmbs_vm_release(sv->vm) == 0) {
				srv->st.vms_zombie--;
				SRV_LOG(INFO, "vm %s memory released",
					vmbs_vm_name(sv->vm));
				srv_vm_unlink_free(srv, sv);
			} else {
				wait = RTE_MIN(wait, 1u);
			}
			continue;
		}
		wait = RTE_MIN(wait, vmbs_vm_tick(sv->vm));
		if (sv->conn->paused && vmbs_vm_ready(sv->vm)) {
			conn_set_paused(sv->conn, false);
			wait = 0;	/* frames may be waiting in the socket */
		}
	}
	return wait;
}

static void
srv_reap_dead(struct vmbs_srv *srv)
{
	struct srv_conn *c, *next;

	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->dead)
			conn_end(srv, c);
	}
}

static void *
srv_thread(void *arg)
{
	struct vmbs_srv *srv = arg;
	struct epoll_event evs[32];
	uint32_t wait = 0;

	while (!__atomic_load_n(&srv->stop, __ATOMIC_ACQUIRE)) {
		int n, i;

		n = epoll_wait(srv->epfd, evs, RTE_DIM(evs), (int)wait);
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &srv->listen_fd) {
				srv_accept(srv);
			} else if (p == &srv->wake_fd) {
				uint64_t cnt;

				if (read(srv->wake_fd, &cnt, sizeof(cnt)) < 0) {
					/* EAGAIN: another read took it. */
				}
			} else {
				struct srv_conn *c = p;

				if (evs[i].events & (EPOLLHUP | EPOLLERR) &&
				    !(evs[i].events & EPOLLIN))
					c->dead = true;
				else
					conn_readable(srv, c);
			}
		}
		srv_run_calls(srv);
		srv_reap_dead(srv);
		/* Level-triggered epoll reports a connection that still has
		 * frames after its turn again at once.
		 */
		wait = srv_tick(srv);
	}
	srv_run_calls(srv);	/* nobody waits forever on a stopped server */
	return NULL;
}

/* ---- public ---- */

static int
srv_listen(struct vmbs_srv *srv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	mode_t mode = srv->p.group_gid == (gid_t)-1 ? 0600 : 0660;
	int fd;

	if (strlen(srv->p.socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, srv->p.socket_path, strlen(srv->p.socket_path));
	if (lstat(sa.sun_path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode))
			return -EEXIST;
		unlink(sa.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Permissions and owner are set before listen(): until then a
	 * connect() is refused, so nobody slips in through a wider mode.
	 */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sa.sun_path, mode) != 0 ||
	    (srv->p.owner_uid != (uid_t)-1 || srv->p.group_gid != (gid_t)-1 ?
	     chown(sa.sun_path, srv->p.owner_uid, srv->p.group_gid) : 0) != 0 ||
	    listen(fd, 128) != 0) {
		int err = -errno;

		close(fd);
		unlink(sa.sun_path);
		return err;
	}
	srv->listen_fd = fd;
	memcpy(srv->path, sa.sun_path, sizeof(srv->path));
	return 0;
}

struct vmbs_srv *
vmbs_srv_create(const struct vmbs_srv_params *p)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct vmbs_srv *srv;
	int rc;

	if (p == NULL || p->socket_path == NULL ||
	    p->n_allow_uids > VMBS_SRV_MAX_ACL || p->n_allow_gids > VMBS_SRV_MAX_ACL) {
		rte_errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	srv->p = *p;
	if (srv->p.max_vms == 0)
		srv->p.max_vms = VMBS_SRV_DEFAULT_MAX_VMS;
	srv->listen_fd = srv->epfd = srv->wake_fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->cond, NULL);
	rc = srv_listen(srv);
	if (rc < 0)
		goto err;
	srv->p.socket_path = srv->path;
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->epfd < 0 || srv->wake_fd < 0) {
		rc = -errno;
		goto err;
	}
	ev.data.ptr = &srv->listen_fd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->listen_fd, &ev) != 0)
		goto err_errno;
	ev.data.ptr = &srv->wake_fd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->wake_fd, &ev) != 0)
		goto err_errno;
	rc = rte_ctrl_thread_create(&srv->thread,
				    p->thread_name != NULL ? p->thread_name : "vmbs-ctl",
				    NULL, srv_thread, srv);
	if (rc != 0) {
		rc = -rc;
		goto err;
	}
	srv->p.thread_name = NULL;
	SRV_LOG(INFO, "listening on %s", srv->path);
	return srv;
err_errno:
	rc = -errno;
err:
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		unlink(srv->path);
	}
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	free(srv);
	rte_errno = -rc;
	return NULL;
}

static int
srv_shutdown_call(void *arg)
{
	struct vmbs_srv *srv = arg;
	struct srv_conn *c;

	for (c = srv->conns; c != NULL; c = c->next)
		conn_goodbye(c, VMBS_ATT_BYE_SHUTDOWN, 0);
	srv_reap_dead(srv);
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listen_fd, NULL);
	return 0;
}

static int
srv_count_vms_call(void *arg)
{
	return (int)srv_vm_count(arg);
}

int
vmbs_srv_destroy(struct vmbs_srv *srv, uint32_t timeout_ms)
{
	struct timespec ts = { 0, 1000000 };
	uint32_t waited = 0;
	uint64_t one = 1;
	int left;

	if (srv == NULL)
		return 0;
	vmbs_srv_call(srv, srv_shutdown_call, srv);
	while ((left = vmbs_srv_call(srv, srv_count_vms_call, srv)) > 0 &&
	       waited < timeout_ms) {
		nanosleep(&ts, NULL);
		waited++;
	}
	pthread_mutex_lock(&srv->lock);
	__atomic_store_n(&srv->stop, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&srv->lock);
	if (write(srv->wake_fd, &one, sizeof(one)) < 0) {
		/* saturated: already woken */
	}
	pthread_join(srv->thread, NULL);
	if (left > 0)
		SRV_LOG(ERR, "%d VMs still referenced at shutdown; leaking their memory",
			left);
	close(srv->listen_fd);
	unlink(srv->path);
	close(srv->epfd);
	close(srv->wake_fd);
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return left > 0 ? -ETIMEDOUT : 0;
}

struct srv_dev_arg {
	struct vmbs_srv *srv;
	const struct vmbs_dev_desc *d;
};

static int
srv_add_device_call(void *arg)
{
	struct srv_dev_arg *a = arg;
	struct vmbs_srv *srv = a->srv;
	struct srv_vm *sv;
	uint32_t i;
	int rc = 0;

	for (i = 0; i < srv->n_devs; i++)
		if (srv->devs[i] == a->d)
			return -EEXIST;
	if (srv->n_devs == SRV_MAX_DEVS)
		return -ENOSPC;
	sv = srv_vm_find(srv, a->d->vm_name);
	if (sv != NULL && sv->conn != NULL)
		rc = vmbs_vm_add_device(sv->vm, a->d);
	if (rc == 0)
		srv->devs[srv->n_devs++] = a->d;
	return rc;
}

int
vmbs_srv_add_device(struct vmbs_srv *srv, const struct vmbs_dev_desc *d)
{
	struct srv_dev_arg a = { srv, d };
	size_t nlen;

	if (srv == NULL || d == NULL)
		return -EINVAL;
	nlen = strnlen(d->vm_name, VMBS_VM_NAME_MAX);
	if (nlen == 0 || nlen == VMBS_VM_NAME_MAX ||
	    !vmbs_att_vm_name_valid(d->vm_name) || d->n_channels == 0 ||
	    d->n_channels > VMBS_VM_DEV_MAX_CHANNELS || d->chan.rx_cb == NULL)
		return -EINVAL;
	return vmbs_srv_call(srv, srv_add_device_call, &a);
}

static int
srv_remove_device_call(void *arg)
{
	struct srv_dev_arg *a = arg;
	struct vmbs_srv *srv = a->srv;
	struct srv_vm *sv;
	uint32_t i;

	for (i = 0; i < srv->n_devs; i++)
		if (srv->devs[i] == a->d)
			break;
	if (i == srv->n_devs)
		return -ENOENT;
	srv->devs[i] = srv->devs[--srv->n_devs];
	sv = srv_vm_find(srv, a->d->vm_name);
	if (sv != NULL && sv->conn != NULL)
		vmbs_vm_remove_device(sv->vm, a->d);
	return 0;
}

int
vmbs_srv_remove_device(struct vmbs_srv *srv, const struct vmbs_dev_desc *d)
{
	struct srv_dev_arg a = { srv, d };

	if (srv == NULL || d == NULL)
		return -EINVAL;
	return vmbs_srv_call(srv, srv_remove_device_call, &a);
}

struct vmbs_vm *
vmbs_srv_vm_lookup(struct vmbs_srv *srv, const char *name)
{
	struct srv_vm *sv = srv_vm_find(srv, name);

	return sv != NULL ? sv->vm : NULL;
}

int
vmbs_srv_offer_channels(void *srv, const struct vmbs_dev_desc *d, uint16_t n)
{
	struct vmbs_vm *vm = vmbs_srv_vm_lookup(srv, d->vm_name);

	return vm != NULL ? vmbs_vm_offer_channels(vm, d, n) : -ENOENT;
}

struct srv_vm_stats_arg {
	struct vmbs_srv *srv;
	const char *name;
	struct vmbs_vm_stats *st;
};

static int
srv_vm_stats_call(void *arg)
{
	struct srv_vm_stats_arg *a = arg;
	struct srv_vm *sv = srv_vm_find(a->srv, a->name);

	if (sv == NULL)
		return -ENOENT;
	vmbs_vm_stats_get(sv->vm, a->st);
	return 0;
}

int
vmbs_srv_vm_stats(struct vmbs_srv *srv, const char *name,
		  struct vmbs_vm_stats *st)
{
	struct srv_vm_stats_arg a = { srv, name, st };

	return vmbs_srv_call(srv, srv_vm_stats_call, &a);
}

struct srv_stats_arg {
	struct vmbs_srv *srv;
	struct vmbs_srv_stats *st;
};

static int
srv_stats_call(void *arg)
{
	struct srv_stats_arg *a = arg;

	*a->st = a->srv->st;
	return 0;
}

void
vmbs_srv_stats_get(struct vmbs_srv *srv, struct vmbs_srv_stats *st)
{
	struct srv_stats_arg a = { srv, st };

	if (vmbs_srv_call(srv, srv_stats_call, &a) != 0)
		memset(st, 0, sizeof(*st));
}

struct vmbs_srv *
vmbs_srv_acquire(const struct vmbs_srv_params *p)
{
	struct vmbs_srv *srv;

	if (p == NULL || p->socket_path == NULL) {
		rte_errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&srv_reg_lock);
	for (srv = srv_reg; srv != NULL; srv = srv->reg_next)
		if (strcmp(srv->path, p->socket_path) == 0)
			break;
	if (srv == NULL) {
		srv = vmbs_srv_create(p);
		if (srv != NULL) {
			srv->reg_next = srv_reg;
			srv_reg = srv;
		}
	}
	if (srv != NULL)
		srv->refs++;
	pthread_mutex_unlock(&srv_reg_lock);
	return srv;
}

int
vmbs_srv_release(struct vmbs_srv *srv, uint32_t timeout_ms)
{
	struct vmbs_srv **pp;

	if (srv == NULL)
		return 0;
	pthread_mutex_lock(&srv_reg_lock);
	if (--srv->refs > 0) {
		pthread_mutex_unlock(&srv_reg_lock);
		return 0;
	}
	for (pp = &srv_reg; *pp != NULL; pp = &(*pp)->reg_next) {
		if (*pp == srv) {
			*pp = srv->reg_next;
			break;
		}
	}
	pthread_mutex_unlock(&srv_reg_lock);
	return vmbs_srv_destroy(srv, timeout_ms);
}

const char *
vmbs_srv_socket_path(const struct vmbs_srv *srv)
{
	return srv->path;
}
