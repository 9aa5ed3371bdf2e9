/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * vmbs-guest: runs an unmodified DPDK netvsc guest program (stock
 * dpdk-testpmd, or any DPDK application) as a guest of a vmbus-srv
 * server. The launcher plays the VMM and the guest kernel's
 * uio_hv_generic: it attaches to the server, opens every NIC's channels
 * with ring and buffer memory it creates itself, and shows them to the
 * guest as the sysfs tree and /dev/uioN the PMD expects, inside a private
 * mount namespace. docs/guest-launcher.md describes the whole design.
 *
 * Trust: the launcher trusts its own user (it runs what it is told, as
 * root), but not the guest program nor the server's messages beyond what
 * lib/client validates.
 *
 * Threading model: one thread, one poll loop (main.c).
 */

#ifndef VMBS_GUEST_H
#define VMBS_GUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmbs_client.h"

/* Most NICs (primary channels) one launcher serves. */
#define GL_MAX_NICS 8u
/* Most channels per NIC: the PMD's limit (VMBUS_MAX_CHANNELS is 64). */
#define GL_MAX_CHANS 64u
/* Most hugepage runs of guest memory tracked. */
#define GL_MAX_MEM 64u
/* uio maps the PMD wants, in its order: rings, int page, monitor page,
 * receive buffer, send buffer. */
#define GL_UIO_MAPS 5u
/* Files behind /dev/uioN: the interrupt fd's file, then one per map. */
#define GL_UIO_FILES (1u + GL_UIO_MAPS)

/*
 * GPAs the launcher's own memory (rings, buffers) takes. The guest's DPDK
 * memory is added at GPA = its VA, and user-space VAs on x86-64 stay below
 * 2^47 unless a program asks for more, so nothing the guest maps can
 * collide with these. They stay below the server's 2^52 GPA limit.
 */
#define GL_GPA_BASE (UINT64_C(1) << 47)

/* What the user asked for (args in main.c). */
struct gl_opts {
	const char *socket;		/* attach socket path */
	const char *vm;			/* VM name in HELLO */
	const char *qpoke;		/* vmbs-qpoke to run after probe, or NULL */
	char **argv;			/* guest command line, NULL-terminated */
	uint64_t ring_half;		/* bytes per ring direction, control page incl. */
	uint64_t recv_size;		/* receive buffer bytes */
	uint64_t send_size;		/* send buffer bytes */
	uint64_t huge_size;		/* hugetlbfs size limit for the guest */
	uint32_t timeout_ms;		/* each server request */
	uint32_t mem_poll_ms;		/* guest memory rescan period */
	uint32_t kill_grace_ms;		/* SIGTERM to SIGKILL of the guest */
	bool verbose;
};

/* One channel of a NIC, opened by the launcher. */
struct gl_chan {
	uint32_t relid;
	uint16_t subchan;		/* 0 for the primary */
	uint8_t monitor_id;
	uint32_t ring_gpadl;
	bool open;
};

/* One synthetic NIC: a primary channel offer and its subchannels. */
struct gl_nic {
	char uuid[40];			/* instance GUID as sysfs prints it */
	char dir[512];			/* its devices/<uuid> directory */
	uint32_t uio_idx;		/* N of /dev/uioN */
	uint64_t map_size[GL_UIO_MAPS];
	char file[GL_UIO_FILES][512];	/* backing file of each uio open */
	ino_t ino[GL_UIO_FILES];	/* their inodes, to recognise opens */
	int fd[GL_UIO_FILES];		/* kept open: marked files must not be
					 * reopened by the launcher */
	uint32_t next_open;		/* which file the next open gets */
	uint32_t recv_gpadl;
	uint32_t send_gpadl;
	uint32_t n_chans;
	struct gl_chan chans[GL_MAX_CHANS];
};

/* A run of guest memory added to the server. */
struct gl_mem {
	uint64_t gpa;
	uint64_t size;
};

/* The launcher. */
struct gl {
	struct gl_opts o;
	char run[256];			/* private directory of this launcher */
	dev_t run_dev;			/* its filesystem */
	struct vmbs_cli *cli;
	uint64_t next_gpa;		/* bump allocator for GL_GPA_BASE.. */
	uint32_t n_nics;
	struct gl_nic nics[GL_MAX_NICS];
	uint32_t n_mem;
	struct gl_mem mem[GL_MAX_MEM];
	uint64_t mem_bytes;		/* guest memory added */
	bool mem_warned;		/* a run could not be added (said once) */
	int fan_fd;			/* fanotify group, or -1 */
	pid_t child;			/* what we forked: the guest */
	pid_t mem_pid;			/* process whose memory we add (first uio opener) */
	pid_t qpoke_pid;		/* running vmbs-qpoke, or 0 */
	bool probed;			/* every NIC had its six opens */
};

/* Logging: the launcher's messages go to stderr with a prefix. */
void gl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gl_dbg(const struct gl *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* session.c: the attach session. */
int gl_session_open(struct gl *g);
int gl_session_on_input(struct gl *g);
void gl_session_close(struct gl *g, bool orderly);
int gl_mem_add_fd(struct gl *g, uint64_t gpa, uint64_t size, int fd, uint64_t off);

/* sysfs.c: the files the PMD reads. */
int gl_run_dir_create(struct gl *g);
void gl_run_dir_remove(struct gl *g);
int gl_mkdirs(const char *path);
int gl_file_create(const char *path, uint64_t size, int *fd);
int gl_write_str(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int gl_nic_tree(struct gl *g, struct gl_nic *nic);
int gl_subchan_tree(struct gl *g, struct gl_nic *nic, const struct gl_chan *ch,
		    const char *ring_tmp);
int gl_uio_link(const struct gl *g, const struct gl_nic *nic, uint32_t k);

/* uioswap.c: the fanotify open swapper. */
int gl_swap_init(struct gl *g);
int gl_swap_on_event(struct gl *g);

/* hugemem.c: the guest's own (hugepage) memory. */
int gl_hugemem_scan(struct gl *g);

/* ns.c: the guest process. */
pid_t gl_guest_spawn(struct gl *g, int *pidfd);
pid_t gl_qpoke_spawn(struct gl *g);

#endif /* VMBS_GUEST_H */
