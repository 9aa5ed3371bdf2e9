/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * vmbs-guest: run an unmodified DPDK netvsc guest program as a guest of a
 * vmbus-srv server.
 *
 *   vmbs-guest --socket PATH --vm NAME [options] -- PROGRAM ARGS...
 *
 * Order of things: attach and open every offered NIC (session.c), write
 * the sysfs tree (sysfs.c), mark the uio files (uioswap.c), start the
 * guest in its namespace (ns.c), then one poll loop until the guest ends:
 * uio opens, the server's messages (subchannel offers), the guest's
 * memory (hugemem.c), signals. When the guest ends the launcher says
 * GOODBYE, so the server releases the VM at once, and removes its files.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmbs_guest.h"

/* uio_hv_generic's sizes (netvsc-guest.md 3.1, layout B). */
#define GL_DEF_RING_HALF ((UINT64_C(2) << 20) + 4096)
#define GL_DEF_RECV_SIZE (UINT64_C(31) << 20)
#define GL_DEF_SEND_SIZE (UINT64_C(16) << 20)
#define GL_DEF_HUGE_SIZE (UINT64_C(1) << 30)

void
gl_log(const char *fmt, ...)
{
	va_list ap;

	fputs("vmbs-guest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
gl_dbg(const struct gl *g, const char *fmt, ...)
{
	va_list ap;

	if (!g->o.verbose)
		return;
	fputs("vmbs-guest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: vmbs-guest --socket PATH --vm NAME [options] -- PROGRAM [ARGS...]\n"
		"Runs a DPDK netvsc guest program (e.g. dpdk-testpmd) against a vmbus-srv\n"
		"server, in a private mount namespace. See docs/guest-launcher.md.\n"
		"  --socket PATH        the server's attach socket (required)\n"
		"  --vm NAME            the VM name the server's NICs are registered for (required)\n"
		"  --qpoke PATH         run this vmbs-qpoke once the guest has probed, to mark\n"
		"                       the guest's queues started (DPDK 22.11 testpmd needs it)\n"
		"  --ring-size BYTES    per direction, control page included (default %" PRIu64 ")\n"
		"  --recv-buf BYTES     receive buffer (default %" PRIu64 ")\n"
		"  --send-buf BYTES     send buffer (default %" PRIu64 ")\n"
		"  --huge-size BYTES    hugetlbfs limit of the guest's /dev/hugepages (default %" PRIu64 ")\n"
		"  --timeout-ms MS      wait for each server reply (default 5000)\n"
		"  --mem-poll-ms MS     look for new guest memory this often (default 100)\n"
		"  --kill-grace-ms MS   SIGTERM to SIGKILL when stopping the guest (default 3000)\n"
		"  -v, --verbose        say more\n"
		"The guest should run with --iova-mode=va --single-file-segments --no-pci\n"
		"--huge-dir /dev/hugepages and its own --file-prefix.\n",
		GL_DEF_RING_HALF, GL_DEF_RECV_SIZE, GL_DEF_SEND_SIZE, GL_DEF_HUGE_SIZE);
}

static int
parse_u64(const char *s, const char *what, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		gl_log("%s: %s is not a number in %" PRIu64 "..%" PRIu64, what, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
parse_args(struct gl_opts *o, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "vm", required_argument, NULL, 'n' },
		{ "qpoke", required_argument, NULL, 'q' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "recv-buf", required_argument, NULL, 'R' },
		{ "send-buf", required_argument, NULL, 'S' },
		{ "huge-size", required_argument, NULL, 'H' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "mem-poll-ms", required_argument, NULL, 'm' },
		{ "kill-grace-ms", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* GPADLs are single-range: at most 8190 pages (range_buflen is a u16). */
	const uint64_t gpadl_max = UINT64_C(8190) << VMBS_PAGE_SHIFT;
	uint64_t v;
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	o->ring_half = GL_DEF_RING_HALF;
	o->recv_size = GL_DEF_RECV_SIZE;
	o->send_size = GL_DEF_SEND_SIZE;
	o->huge_size = GL_DEF_HUGE_SIZE;
	o->timeout_ms = VMBS_CLI_DEFAULT_TIMEOUT_MS;
	o->mem_poll_ms = 100;
	o->kill_grace_ms = 3000;
	while (rc == 0 && (c = getopt_long(argc, argv, "+vh", lopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'n': o->vm = optarg; break;
		case 'q': o->qpoke = optarg; break;
		case 'r':
			/* A control page plus data; the ring GPADL holds both halves. */
			rc = parse_u64(optarg, "--ring-size", 2 * VMBS_PAGE_SIZE, gpadl_max / 2,
				       &o->ring_half);
			break;
		case 'R':
			rc = parse_u64(optarg, "--recv-buf", VMBS_PAGE_SIZE, gpadl_max,
				       &o->recv_size);
			break;
		case 'S':
			rc = parse_u64(optarg, "--send-buf", VMBS_PAGE_SIZE, gpadl_max,
				       &o->send_size);
			break;
		case 'H':
			rc = parse_u64(optarg, "--huge-size", UINT64_C(2) << 20,
				       UINT64_C(1) << 40, &o->huge_size);
			break;
		case 't':
			rc = parse_u64(optarg, "--timeout-ms", 1, 600000, &v);
			o->timeout_ms = (uint32_t)v;
			break;
		case 'm':
			rc = parse_u64(optarg, "--mem-poll-ms", 1, 60000, &v);
			o->mem_poll_ms = (uint32_t)v;
			break;
		case 'k':
			rc = parse_u64(optarg, "--kill-grace-ms", 0, 600000, &v);
			o->kill_grace_ms = (uint32_t)v;
			break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (rc != 0)
		return rc;
	if (o->socket == NULL || o->vm == NULL || optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	if ((o->ring_half | o->recv_size | o->send_size) & (VMBS_PAGE_SIZE - 1)) {
		gl_log("ring and buffer sizes must be multiples of 4096");
		return -EINVAL;
	}
	o->argv = argv + optind;
	return 0;
}

/* Advice only: the launcher adds nothing to the guest's command line. */
static void
check_guest_args(const struct gl_opts *o)
{
	bool va = false, sfs = false, nopci = false, prefix = false;
	char **a;

	for (a = o->argv + 1; *a != NULL && strcmp(*a, "--") != 0; a++) {
		if (strcmp(*a, "--iova-mode=va") == 0 ||
		    (strcmp(*a, "--iova-mode") == 0 && a[1] != NULL && strcmp(a[1], "va") == 0))
			va = true;
		else if (strcmp(*a, "--single-file-segments") == 0)
			sfs = true;
		else if (strcmp(*a, "--no-pci") == 0)
			nopci = true;
		else if (strncmp(*a, "--file-prefix", 13) == 0)
			prefix = true;
		else if (strcmp(*a, "--in-memory") == 0 || strcmp(*a, "--no-huge") == 0)
			gl_log("warning: %s: the guest's memory cannot be shared with the "
			       "server; packets naming it will fail", *a);
	}
	if (!va)
		gl_log("warning: no --iova-mode=va: GPAs in the guest's packets are "
		       "physical addresses the server cannot resolve");
	if (!sfs)
		gl_log("warning: no --single-file-segments: each hugepage becomes one "
		       "memory region (the server allows few)");
	if (!nopci)
		gl_log("warning: no --no-pci: /sys/bus/pci is hidden from the guest");
	if (!prefix)
		gl_log("warning: no --file-prefix: the guest may collide with other DPDK "
		       "processes");
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reap whatever ended; returns the guest's wait status once it has ended. */
static bool
reap(struct gl *g, int *guest_status)
{
	int st;
	pid_t p;
	bool guest = false;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == g->child) {
			*guest_status = st;
			guest = true;
		} else if (p == g->qpoke_pid) {
			g->qpoke_pid = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				gl_log("vmbs-qpoke ended (status %#x)", st);
		}
	}
	return guest;
}

/* Stop the guest: SIGTERM, then SIGKILL after the grace period. */
static int
stop_guest(struct gl *g, int pidfd)
{
	uint64_t deadline = now_ms() + g->o.kill_grace_ms;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int st = 0;

	kill(g->child, SIGTERM);
	while (poll(&p, 1, (int)(deadline > now_ms() ? deadline - now_ms() : 0)) == 0) {
		gl_log("the guest ignored SIGTERM for %u ms: SIGKILL", g->o.kill_grace_ms);
		kill(g->child, SIGKILL);
		deadline = now_ms() + 10000;
	}
	waitpid(g->child, &st, 0);
	return st;
}

static void
stop_qpoke(struct gl *g)
{
	if (g->qpoke_pid > 0) {
		kill(g->qpoke_pid, SIGTERM);
		waitpid(g->qpoke_pid, NULL, 0);
		g->qpoke_pid = 0;
	}
}

enum { PFD_SIG, PFD_FAN, PFD_SRV, PFD_GUEST, PFD_TIMER, PFD_N };

int
main(int argc, char **argv)
{
	static struct gl g;
	struct pollfd pfd[PFD_N];
	struct itimerspec its;
	struct signalfd_siginfo si;
	sigset_t mask;
	int sig_fd = -1, timer_fd = -1, pidfd = -1, st = 0, rc;
	bool guest_ended = false, server_gone = false;
	uint64_t ticks;

	if (parse_args(&g.o, argc, argv) != 0)
		return 2;
	g.fan_fd = -1;
	check_guest_args(&g.o);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		gl_log("signalfd: %s", strerror(errno));
		return 1;
	}

	rc = gl_run_dir_create(&g);
	if (rc == 0)
		rc = gl_session_open(&g);
	if (rc == 0)
		rc = gl_swap_init(&g);
	if (rc != 0)
		goto out;
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer_fd < 0) {
		rc = -errno;
		goto out;
	}
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = g.o.mem_poll_ms / 1000;
	its.it_interval.tv_nsec = (long)(g.o.mem_poll_ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	timerfd_settime(timer_fd, 0, &its, NULL);

	g.child = gl_guest_spawn(&g, &pidfd);
	if (g.child < 0) {
		rc = g.child;
		goto out;
	}
	gl_log("guest %s started (pid %d)", g.o.argv[0], (int)g.child);

	while (!guest_ended) {
		pfd[PFD_SIG] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		pfd[PFD_FAN] = (struct pollfd){ .fd = g.fan_fd, .events = POLLIN };
		pfd[PFD_SRV] = (struct pollfd){ .fd = server_gone ? -1 : vmbs_cli_fd(g.cli),
						.events = POLLIN };
		pfd[PFD_GUEST] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		pfd[PFD_TIMER] = (struct pollfd){ .fd = timer_fd, .events = POLLIN };
		if (poll(pfd, PFD_N, -1) < 0) {
			if (errno == EINTR)
				continue;
			gl_log("poll: %s", strerror(errno));
			break;
		}
		/* Answer blocked opens first: the guest is waiting on them. */
		if (pfd[PFD_FAN].revents)
			gl_swap_on_event(&g);
		if (pfd[PFD_SRV].revents && gl_session_on_input(&g) == -ECONNRESET) {
			server_gone = true;
			gl_log("stopping the guest: its server is gone");
			st = stop_guest(&g, pidfd);
			guest_ended = true;
			rc = -ECONNRESET;
		}
		if (pfd[PFD_TIMER].revents) {
			if (read(timer_fd, &ticks, sizeof(ticks)) < 0)
				ticks = 0;
			gl_hugemem_scan(&g);
		}
		if (g.probed && g.qpoke_pid == 0 && g.o.qpoke != NULL) {
			g.qpoke_pid = gl_qpoke_spawn(&g);
			/* Once: it watches the ports for the guest's lifetime. */
			g.o.qpoke = NULL;
		}
		if (pfd[PFD_SIG].revents) {
			while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				gl_log("signal %u: stopping the guest", si.ssi_signo);
				st = stop_guest(&g, pidfd);
				guest_ended = true;
			}
		}
		if (!guest_ended && (pfd[PFD_GUEST].revents || pfd[PFD_SIG].revents))
			guest_ended = reap(&g, &st);
	}
	if (WIFEXITED(st))
		gl_log("guest exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		gl_log("guest killed by signal %d", WTERMSIG(st));
	stop_qpoke(&g);
out:
	/* GOODBYE: the server releases the VM (channels, GPADLs, memory) now. */
	gl_session_close(&g, true);
	gl_run_dir_remove(&g);
	if (pidfd >= 0)
		close(pidfd);
	if (timer_fd >= 0)
		close(timer_fd);
	if (g.fan_fd >= 0)
		close(g.fan_fd);
	close(sig_fd);
	if (rc != 0 && !guest_ended)
		return 1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}
