/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * net_vmbus_srv beside net_vhost, both in stock dpdk-testpmd, measured in
 * the same run on the same CPUs.
 *
 * Systems (each a server testpmd on CPU 0 and a guest on CPU 1):
 *  vmbs   testpmd -d librte_net_vmbus_srv.so --vdev net_vmbus_srv0 on
 *         CPU 0; the scripted netvsc guest bench_nvguest pinned to CPU 1.
 *  vhost  testpmd --vdev net_vhost0 on CPU 0; testpmd --vdev
 *         net_virtio_user0 on CPU 1 (the peer's command lines).
 * Scenarios: guest -> host (guest txonly, server rxonly) and host -> guest
 * (server txonly, guest rxonly), at 64 and 1518 bytes.
 *
 * Every process runs for the whole scenario; testpmd is interactive and
 * driven on its stdin, so a system that is not measured is stopped
 * (testpmd's forwarding lcores then sleep) and costs the other nothing.
 * The systems alternate A B A B in short windows. Each window is: probe
 * the vCPU placement, start receiver then sender, warm up, sample, run,
 * sample, stop sender then receiver, probe again. A sample is testpmd's
 * "show fwd stats all" (busy cycles and packets of --record-core-cycles)
 * and "show port stats 0" (testpmd's own packets per second since the
 * previous show, timed by its TSC), plus the run time of both polling
 * threads (/proc/PID/task/TID/schedstat) and the steal time of both CPUs
 * (/proc/stat). A window counts ("clean") only if the placement was near
 * or far at both probes, each polling thread ran at least 97% of the
 * window, and neither CPU lost more than 2% to steal.
 *
 * The table gives, per scenario and placement, the median over clean
 * windows of the server's Mpps and busy cycles per packet for each system,
 * the ratio vmbs / vhost of the medians (same placement only), and the
 * clean seconds behind each median.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "placement.h"

#define SERVER_CPU 0
#define GUEST_CPU 1
#define PROBE_US 100
#define PROBES 3
/* A window is clean only if both polling threads ran this share of it. */
#define MIN_RUN_SHARE 0.97
/* ... and neither CPU lost more than this share to the hypervisor. */
#define MAX_STEAL_SHARE 0.02
#define MAX_WINDOWS 2048
#define LINE_MAX_LEN 1024
/* Bounds on every wait (ms). */
#define EAL_INIT_MS 90000
#define GUEST_READY_MS 60000
#define CMD_MS 15000
#define EXIT_MS 10000
#define WARMUP_MS 300

enum sys_id { SYS_VMBS, SYS_VHOST, SYS_COUNT };
static const char *const sys_name[SYS_COUNT] = { "vmbs", "vhost" };

enum dir { DIR_G2H, DIR_H2G };

struct scenario {
	enum dir dir;
	uint32_t size;
};

static const struct scenario all_scenarios[] = {
	{ DIR_G2H, 64 }, { DIR_G2H, 1518 }, { DIR_H2G, 64 }, { DIR_H2G, 1518 },
};
#define N_SCEN (sizeof(all_scenarios) / sizeof(all_scenarios[0]))

struct opts {
	const char *testpmd;
	const char *plugin;
	const char *guest;
	const char *keep_dir;
	const char *devargs;	/* extra net_vmbus_srv devargs */
	double total_s;
	uint32_t window_ms;
	bool scen_on[N_SCEN];
	bool quiet;
};

/* A child process driven on its stdin, its output read line by line. */
struct proc {
	char name[48];
	pid_t pid;
	int in_fd;
	int out_fd;
	char buf[65536];
	size_t have;
	FILE *log;
	char log_path[PATH_MAX];
	pid_t poll_tid;		/* the thread that polls: CPU accounting */
};

struct system {
	struct proc server;
	struct proc guest;
	bool up;
};

struct tp_sample {
	uint64_t fwd_rx, fwd_tx;	/* forward statistics (since start) */
	uint64_t cycles, cyc_pkts;	/* --record-core-cycles: busy cycles, their packets */
	double tsc_mhz;			/* the clock those cycles count */
	uint64_t nic_rx, nic_tx;
	double rx_pps, tx_pps;		/* since the previous "show port stats" */
};

struct cpu_sample {
	int64_t t_ns;
	uint64_t run_srv_ns;
	uint64_t run_guest_ns;
	uint64_t steal[2];		/* jiffies of SERVER_CPU, GUEST_CPU */
	uint64_t guest_frames;		/* vmbs guest's own count */
	uint64_t guest_busy, guest_idle;	/* ticks */
	int64_t guest_t_ns;
};

struct window {
	enum sys_id sys;
	int scen;
	enum vmbs_placement place;
	bool clean;
	const char *why;
	double secs, mpps, cyc_pkt, guest_mpps;
	double busy;		/* server's busy cycles / all cycles of the window */
	double guest_idle;	/* vmbs guest: share of its time in loops that found no work */
};

static struct opts g_opts;
static char g_work[PATH_MAX];
static char g_plugdir[PATH_MAX];
static struct system g_sys[SYS_COUNT];
static volatile sig_atomic_t g_stop;
static struct window g_win[MAX_WINDOWS];
static int g_nwin;

/* ---- small helpers ---- */

static int64_t
now_ns(void)
{
	return vmbs_bench_clock_ns(CLOCK_MONOTONIC);
}

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop)
		;
}

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* The number after @p key in @p line, 0 if absent. */
static uint64_t
num_after(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	if (p == NULL)
		return 0;
	p += strlen(key);
	while (*p == ' ')
		p++;
	return strtoull(p, NULL, 10);
}

static double
dbl_after(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	if (p == NULL)
		return 0;
	return strtod(p + strlen(key), NULL);
}

/* ---- processes ---- */

static void
signal_children(int sig)
{
	int s;

	for (s = 0; s < SYS_COUNT; s++) {
		if (g_sys[s].server.pid > 0)
			kill(g_sys[s].server.pid, sig);
		if (g_sys[s].guest.pid > 0)
			kill(g_sys[s].guest.pid, sig);
	}
}

static void
on_signal(int sig)
{
	g_stop = 1;
	if (sig == SIGALRM) {
		/* The watchdog: nothing may outlive the benchmark. */
		signal_children(SIGKILL);
		_exit(3);
	}
}

static int
proc_spawn(struct proc *p, const char *name, char *const argv[])
{
	int in[2], out[2];
	pid_t pid;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->in_fd = -1;
	p->out_fd = -1;
	if (snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", g_work, name) >=
	    (int)sizeof(p->log_path))
		return -ENAMETOOLONG;
	p->log = fopen(p->log_path, "w");
	if (p->log == NULL)
		return -errno;
	if (pipe2(in, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Die with the benchmark, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->pid = pid;
	p->in_fd = in[1];
	p->out_fd = out[0];
	fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; argv[i] != NULL; i++)
		fprintf(p->log, "%s%s", i ? " " : "# ", argv[i]);
	fprintf(p->log, "\n");
	return 0;
}

/*
 * Next output line of @p p into @p line, waiting until @p deadline.
 * @return 0; -ETIMEDOUT; -EPIPE if the process closed its output (exited).
 */
static int
proc_line(struct proc *p, int64_t deadline, char *line, size_t len)
{
	struct pollfd pfd;
	char *nl;
	ssize_t n;
	size_t l;
	int64_t left;

	for (;;) {
		nl = memchr(p->buf, '\n', p->have);
		if (nl != NULL) {
			l = (size_t)(nl - p->buf);
			if (l >= len)
				l = len - 1;
			memcpy(line, p->buf, l);
			line[l] = '\0';
			p->have -= (size_t)(nl + 1 - p->buf);
			memmove(p->buf, nl + 1, p->have);
			if (p->log != NULL)
				fprintf(p->log, "%s\n", line);
			return 0;
		}
		if (p->have == sizeof(p->buf)) {
			p->have = 0;	/* a line this long is noise */
			continue;
		}
		if (p->out_fd < 0)
			return -EPIPE;
		left = (deadline - now_ns()) / 1000000;
		if (left <= 0 || g_stop)
			return -ETIMEDOUT;
		pfd.fd = p->out_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left > 200 ? 200 : (int)left) <= 0)
			continue;
		n = read(p->out_fd, p->buf + p->have, sizeof(p->buf) - p->have);
		if (n > 0) {
			p->have += (size_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(p->out_fd);
			p->out_fd = -1;
		}
	}
}

/* Read lines until one contains @p what (it lands in @p line if not NULL). */
static int
proc_expect(struct proc *p, const char *what, int ms, char *line, size_t len)
{
	int64_t deadline = now_ns() + (int64_t)ms * 1000000;
	char l[LINE_MAX_LEN];
	int rc;

	for (;;) {
		rc = proc_line(p, deadline, l, sizeof(l));
		if (rc != 0) {
			fprintf(stderr, "%s: no \"%s\" within %d ms (%s)\n", p->name, what, ms,
				rc == -EPIPE ? "it exited" : "timeout");
			return rc;
		}
		if (strstr(l, what) != NULL) {
			if (line != NULL)
				snprintf(line, len, "%s", l);
			return 0;
		}
	}
}

static int
proc_send(struct proc *p, const char *cmd)
{
	size_t len = strlen(cmd), off = 0;
	ssize_t n;

	if (p->log != NULL)
		fprintf(p->log, ">>> %s", cmd);
	while (off < len) {
		n = write(p->in_fd, cmd + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Last lines of a process's log, for a failure report. */
static void
proc_tail(const struct proc *p, int lines)
{
	char l[LINE_MAX_LEN];
	long *pos;
	FILE *f;
	int n = 0, i;

	if (p->log != NULL)
		fflush(p->log);
	f = fopen(p->log_path, "r");
	pos = calloc((size_t)lines, sizeof(*pos));
	if (f == NULL || pos == NULL) {
		free(pos);
		if (f != NULL)
			fclose(f);
		return;
	}
	for (;;) {
		pos[n % lines] = ftell(f);
		if (fgets(l, sizeof(l), f) == NULL)
			break;
		n++;
	}
	fprintf(stderr, "--- last lines of %s (%s) ---\n", p->name, p->log_path);
	i = n > lines ? n - lines : 0;
	fseek(f, pos[i % lines], SEEK_SET);
	while (fgets(l, sizeof(l), f) != NULL)
		fputs(l, stderr);
	fclose(f);
	free(pos);
}

/* Close stdin (testpmd and the guest quit on EOF), wait, then insist. */
static void
proc_end(struct proc *p, const char *quit_cmd)
{
	int64_t deadline;
	int status;

	if (p->pid <= 0)
		goto out;
	if (quit_cmd != NULL && p->in_fd >= 0)
		(void)proc_send(p, quit_cmd);
	if (p->in_fd >= 0)
		close(p->in_fd);
	p->in_fd = -1;
	deadline = now_ns() + (int64_t)EXIT_MS * 1000000;
	while (waitpid(p->pid, &status, WNOHANG) == 0) {
		char l[LINE_MAX_LEN];

		if (now_ns() >= deadline) {
			fprintf(stderr, "%s: did not exit within %d ms: killed\n", p->name,
				EXIT_MS);
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			break;
		}
		/* Keep its output flowing so that it cannot block on a full pipe. */
		(void)proc_line(p, now_ns() + 50 * 1000000ll, l, sizeof(l));
	}
	p->pid = 0;
out:
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->in_fd = -1;
	p->out_fd = -1;
	if (p->log != NULL)
		fclose(p->log);
	p->log = NULL;
}

/* The thread of @p pid whose name starts with @p prefix (NULL: pid). */
static pid_t
find_thread(pid_t pid, const char *prefix)
{
	char path[384], comm[64];
	struct dirent *de;
	pid_t tid = 0;
	DIR *d;
	FILE *f;

	if (prefix == NULL)
		return pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while (tid == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, prefix, strlen(prefix)) == 0)
			tid = (pid_t)atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return tid;
}

/* ---- CPU accounting ---- */

/* Run time of a thread in ns (schedstat), 0 if unknown. */
static uint64_t
thread_run_ns(pid_t pid, pid_t tid)
{
	unsigned long long run = 0;
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

/* Steal jiffies of SERVER_CPU and GUEST_CPU from /proc/stat. */
static void
cpu_steal(uint64_t steal[2])
{
	unsigned long long v[8];
	char line[512];
	int cpu;
	FILE *f = fopen("/proc/stat", "r");

	steal[0] = 0;
	steal[1] = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
			continue;
		if (cpu == SERVER_CPU)
			steal[0] = v[7];
		else if (cpu == GUEST_CPU)
			steal[1] = v[7];
	}
	fclose(f);
}

/* ---- testpmd ---- */

enum tp_block { BLK_NONE, BLK_FWD, BLK_NIC };

/* "show fwd stats all" and "show port stats 0", parsed. */
static int
tp_sample(struct proc *p, struct tp_sample *s)
{
	int64_t deadline = now_ns() + (int64_t)CMD_MS * 1000000;
	enum tp_block blk = BLK_NONE;
	char l[LINE_MAX_LEN];
	bool pps_seen = false;
	const char *c;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = proc_send(p, "show fwd stats all\nshow port stats 0\n");
	if (rc != 0)
		return rc;
	for (;;) {
		rc = proc_line(p, deadline, l, sizeof(l));
		if (rc != 0) {
			fprintf(stderr, "%s: stats reply incomplete (%s)\n", p->name,
				rc == -EPIPE ? "it exited" : "timeout");
			return rc;
		}
		if (strstr(l, "Forward statistics for port") != NULL ||
		    strstr(l, "Accumulated forward statistics") != NULL) {
			blk = BLK_FWD;
		} else if (strstr(l, "NIC statistics for port") != NULL) {
			blk = BLK_NIC;
		} else if ((c = strstr(l, "CPU cycles/packet=")) != NULL) {
			/* "CPU cycles/packet=F (total cycles=C / total MODE packets=P) ..." */
			s->cycles = num_after(c, "total cycles=");
			s->cyc_pkts = num_after(c, "packets=");
			s->tsc_mhz = dbl_after(c, ") at ");
		} else if (blk == BLK_FWD && strstr(l, "RX-packets:") != NULL) {
			s->fwd_rx = num_after(l, "RX-packets:");
		} else if (blk == BLK_FWD && strstr(l, "TX-packets:") != NULL) {
			s->fwd_tx = num_after(l, "TX-packets:");
		} else if (blk == BLK_NIC && strstr(l, "RX-packets:") != NULL) {
			s->nic_rx = num_after(l, "RX-packets:");
		} else if (blk == BLK_NIC && strstr(l, "TX-packets:") != NULL) {
			s->nic_tx = num_after(l, "TX-packets:");
		} else if (blk == BLK_NIC && strstr(l, "Rx-pps:") != NULL) {
			s->rx_pps = dbl_after(l, "Rx-pps:");
		} else if (blk == BLK_NIC && strstr(l, "Tx-pps:") != NULL) {
			s->tx_pps = dbl_after(l, "Tx-pps:");
			pps_seen = true;
		} else if (blk == BLK_NIC && pps_seen && strstr(l, "#####") != NULL) {
			return 0;
		}
	}
}

static int
tp_start(struct proc *p)
{
	int rc = proc_send(p, "start\n");

	return rc != 0 ? rc : proc_expect(p, "packets/burst=", CMD_MS, NULL, 0);
}

static int
tp_stop(struct proc *p)
{
	int rc = proc_send(p, "stop\n");

	/* The forward statistics end with a line "Done." */
	return rc != 0 ? rc : proc_expect(p, "Done.", CMD_MS, NULL, 0);
}

/* Wait until testpmd has initialised: its first stats reply. */
static int
tp_wait_up(struct proc *p)
{
	int64_t deadline = now_ns() + (int64_t)EAL_INIT_MS * 1000000;
	char l[LINE_MAX_LEN];
	int rc;

	rc = proc_send(p, "show port stats 0\n");
	if (rc != 0)
		return rc;
	for (;;) {
		rc = proc_line(p, deadline, l, sizeof(l));
		if (rc != 0) {
			fprintf(stderr, "%s: testpmd did not come up (%s)\n", p->name,
				rc == -EPIPE ? "it exited" : "timeout");
			return rc;
		}
		if (strstr(l, "Tx-pps:") != NULL)
			return 0;
	}
}

/* ---- the two systems ---- */

#define ARGV_MAX 48

struct argv_buf {
	char *v[ARGV_MAX];
	char store[ARGV_MAX][PATH_MAX + 64];
	int n;
};

static void
arg(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n >= ARGV_MAX - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(a->store[a->n], sizeof(a->store[a->n]), fmt, ap);
	va_end(ap);
	a->v[a->n] = a->store[a->n];
	a->n++;
	a->v[a->n] = NULL;
}

/* testpmd under stdbuf: its stdout is a pipe, and we read it line by line. */
static void
tp_argv_head(struct argv_buf *a, const char *lcores, const char *prefix)
{
	a->n = 0;
	arg(a, "stdbuf");
	arg(a, "-oL");
	arg(a, "-eL");
	arg(a, "%s", g_opts.testpmd);
	arg(a, "--lcores");
	arg(a, "%s", lcores);
	arg(a, "--no-pci");
	arg(a, "--in-memory");
	arg(a, "--file-prefix=%s", prefix);
}

static void
tp_argv_app(struct argv_buf *a, const char *mode, uint32_t size, bool cycles)
{
	arg(a, "--");
	arg(a, "-i");
	arg(a, "--forward-mode=%s", mode);
	arg(a, "--nb-cores=1");
	arg(a, "--total-num-mbufs=16384");
	arg(a, "--rxd=1024");
	arg(a, "--txd=1024");
	arg(a, "--txpkts=%u", size);
	if (cycles)
		arg(a, "--record-core-cycles");
}

static void
prefix_name(char *buf, size_t len, int scen, const char *role)
{
	snprintf(buf, len, "vmbs_pvv_%d_%d_%s", (int)getpid(), scen, role);
}

static int
vmbs_up(struct system *s, int scen, const struct scenario *sc)
{
	char prefix[64], name[64], sock[PATH_MAX + 16];
	char size[16], line[LINE_MAX_LEN];
	struct argv_buf *a = calloc(1, sizeof(*a));
	int rc;

	if (a == NULL)
		return -ENOMEM;
	/* g_work is a short mkdtemp path; a cut name fails at bind. */
	if (snprintf(sock, sizeof(sock), "%s/attach-%d.sock", g_work, scen) >= (int)sizeof(sock)) {
		free(a);
		return -ENAMETOOLONG;
	}
	prefix_name(prefix, sizeof(prefix), scen, "srv");
	tp_argv_head(a, "0@0,1@0", prefix);
	arg(a, "--no-telemetry");
	arg(a, "-d");
	arg(a, "%s", g_opts.plugin);
	arg(a, "--vdev");
	arg(a, "net_vmbus_srv0,socket=%s,vm=bench%s%s", sock,
	    g_opts.devargs != NULL ? "," : "", g_opts.devargs != NULL ? g_opts.devargs : "");
	/*
	 * Rx polling runs the NIC's control path: bring-up needs it, so the
	 * server starts in rxonly and turns to txonly once the guest is up.
	 */
	tp_argv_app(a, "rxonly", sc->size, true);
	snprintf(name, sizeof(name), "s%d-vmbs-server", scen);
	rc = proc_spawn(&s->server, name, a->v);
	if (rc == 0)
		rc = tp_wait_up(&s->server);
	if (rc == 0)
		rc = tp_start(&s->server);
	if (rc != 0)
		goto out;

	snprintf(size, sizeof(size), "%u", sc->size);
	a->n = 0;
	arg(a, "%s", g_opts.guest);
	arg(a, "--socket");
	arg(a, "%s", sock);
	arg(a, "--vm");
	arg(a, "bench");
	arg(a, "--mode");
	arg(a, "%s", sc->dir == DIR_G2H ? "tx" : "rx");
	arg(a, "--size");
	arg(a, "%s", size);
	arg(a, "--cpu");
	arg(a, "%d", GUEST_CPU);
	snprintf(name, sizeof(name), "s%d-vmbs-guest", scen);
	rc = proc_spawn(&s->guest, name, a->v);
	if (rc == 0)
		rc = proc_expect(&s->guest, "ready", GUEST_READY_MS, line, sizeof(line));
	if (rc != 0)
		goto out;
	if (!g_opts.quiet)
		say("  vmbs guest: %s\n", line);
	rc = tp_stop(&s->server);
	if (rc == 0 && sc->dir == DIR_H2G) {
		rc = proc_send(&s->server, "set fwd txonly\n");
		if (rc == 0)
			rc = proc_expect(&s->server, "Set txonly packet forwarding mode", CMD_MS,
					 NULL, 0);
	}
	if (rc != 0)
		goto out;
	s->server.poll_tid = find_thread(s->server.pid, "rte-worker-1");
	s->guest.poll_tid = s->guest.pid;
out:
	free(a);
	return rc;
}

static int
vhost_up(struct system *s, int scen, const struct scenario *sc)
{
	char prefix[64], name[64], sock[PATH_MAX + 16];
	struct argv_buf *a = calloc(1, sizeof(*a));
	int rc;

	if (a == NULL)
		return -ENOMEM;
	/* g_work is a short mkdtemp path; a cut name fails at bind. */
	if (snprintf(sock, sizeof(sock), "%s/vhost-%d.sock", g_work, scen) >= (int)sizeof(sock)) {
		free(a);
		return -ENAMETOOLONG;
	}
	prefix_name(prefix, sizeof(prefix), scen, "host");
	tp_argv_head(a, "0@0,1@0", prefix);
	arg(a, "--no-telemetry");
	arg(a, "--vdev");
	arg(a, "net_vhost0,iface=%s,queues=1", sock);
	tp_argv_app(a, sc->dir == DIR_G2H ? "rxonly" : "txonly", sc->size, true);
	snprintf(name, sizeof(name), "s%d-vhost-host", scen);
	rc = proc_spawn(&s->server, name, a->v);
	if (rc == 0)
		rc = tp_wait_up(&s->server);
	if (rc != 0)
		goto out;

	prefix_name(prefix, sizeof(prefix), scen, "virtio");
	tp_argv_head(a, "0@1,1@1", prefix);
	arg(a, "--single-file-segments");
	arg(a, "--no-telemetry");
	arg(a, "--vdev");
	arg(a, "net_virtio_user0,path=%s,queues=1,queue_size=1024", sock);
	tp_argv_app(a, sc->dir == DIR_G2H ? "txonly" : "rxonly", sc->size, false);
	snprintf(name, sizeof(name), "s%d-vhost-guest", scen);
	rc = proc_spawn(&s->guest, name, a->v);
	if (rc == 0)
		rc = tp_wait_up(&s->guest);
	if (rc == 0)
		rc = proc_expect(&s->server, "virtio is now ready", GUEST_READY_MS, NULL, 0);
	if (rc != 0)
		goto out;
	s->server.poll_tid = find_thread(s->server.pid, "rte-worker-1");
	s->guest.poll_tid = find_thread(s->guest.pid, "rte-worker-1");
out:
	free(a);
	return rc;
}

static void
system_down(struct system *s, enum sys_id id)
{
	(void)id;
	proc_end(&s->guest, "quit\n");
	proc_end(&s->server, "quit\n");
	s->up = false;
}

/* Start or stop the guest side. */
static int
guest_cmd(struct system *s, enum sys_id id, bool start)
{
	if (id == SYS_VHOST)
		return start ? tp_start(&s->guest) : tp_stop(&s->guest);
	if (proc_send(&s->guest, start ? "start\n" : "stop\n") != 0)
		return -EPIPE;
	return proc_expect(&s->guest, start ? "started" : "stopped", CMD_MS, NULL, 0);
}

/* Receiver first, then sender. */
static int
system_start(struct system *s, enum sys_id id, enum dir d)
{
	int rc;

	if (d == DIR_G2H) {
		rc = tp_start(&s->server);
		return rc != 0 ? rc : guest_cmd(s, id, true);
	}
	rc = guest_cmd(s, id, true);
	return rc != 0 ? rc : tp_start(&s->server);
}

/* Sender first, then receiver (it drains what is in flight). */
static int
system_stop(struct system *s, enum sys_id id, enum dir d)
{
	int rc;

	if (d == DIR_G2H) {
		rc = guest_cmd(s, id, false);
		return rc != 0 ? rc : tp_stop(&s->server);
	}
	rc = tp_stop(&s->server);
	return rc != 0 ? rc : guest_cmd(s, id, false);
}

static int
vmbs_guest_stats(struct system *s, struct cpu_sample *c)
{
	char line[LINE_MAX_LEN];
	int rc;

	rc = proc_send(&s->guest, "stats\n");
	if (rc == 0)
		rc = proc_expect(&s->guest, "stats t_ns=", CMD_MS, line, sizeof(line));
	if (rc != 0)
		return rc;
	c->guest_t_ns = (int64_t)num_after(line, "t_ns=");
	c->guest_frames = num_after(line, " frames=");
	c->guest_busy = num_after(line, " busy_ticks=");
	c->guest_idle = num_after(line, " idle_ticks=");
	return 0;
}

static int
sample(struct system *s, enum sys_id id, struct tp_sample *t, struct cpu_sample *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = tp_sample(&s->server, t);
	if (rc == 0 && id == SYS_VMBS)
		rc = vmbs_guest_stats(s, c);
	c->t_ns = now_ns();
	c->run_srv_ns = thread_run_ns(s->server.pid, s->server.poll_tid);
	c->run_guest_ns = thread_run_ns(s->guest.pid, s->guest.poll_tid);
	cpu_steal(c->steal);
	return rc;
}

static double
probe(void)
{
	double r[PROBES], t;
	int i, j;

	for (i = 0; i < PROBES; i++)
		r[i] = vmbs_placement_probe(SERVER_CPU, GUEST_CPU, PROBE_US);
	for (i = 0; i < PROBES; i++)
		for (j = i + 1; j < PROBES; j++)
			if (r[j] < r[i]) {
				t = r[i];
				r[i] = r[j];
				r[j] = t;
			}
	return r[PROBES / 2];
}

/* One measurement window of system @p id; false if the system failed. */
static bool
window(enum sys_id id, int scen, const struct scenario *sc, bool record)
{
	struct system *s = &g_sys[id];
	struct tp_sample t0, t1;
	struct cpu_sample c0, c1;
	struct window w;
	double rtt0, rtt1, wall, run_srv, run_guest, steal, hz, pps;
	uint64_t dpk;

	memset(&w, 0, sizeof(w));
	rtt0 = probe();
	if (system_start(s, id, sc->dir) != 0)
		return false;
	sleep_ms(WARMUP_MS);
	if (sample(s, id, &t0, &c0) != 0)
		return false;
	sleep_ms(g_opts.window_ms);
	if (sample(s, id, &t1, &c1) != 0)
		return false;
	if (system_stop(s, id, sc->dir) != 0)
		return false;
	rtt1 = probe();
	if (g_stop)
		return false;

	wall = (double)(c1.t_ns - c0.t_ns) / 1e9;
	hz = (double)sysconf(_SC_CLK_TCK);
	run_srv = (double)(c1.run_srv_ns - c0.run_srv_ns) / 1e9 / wall;
	run_guest = (double)(c1.run_guest_ns - c0.run_guest_ns) / 1e9 / wall;
	steal = (double)((c1.steal[0] - c0.steal[0]) > (c1.steal[1] - c0.steal[1]) ?
			 c1.steal[0] - c0.steal[0] : c1.steal[1] - c0.steal[1]) / hz / wall;
	/* testpmd's own rate over the interval between its two shows. */
	pps = sc->dir == DIR_G2H ? t1.rx_pps : t1.tx_pps;
	dpk = t1.cyc_pkts - t0.cyc_pkts;
	w.sys = id;
	w.scen = scen;
	w.secs = wall;
	w.mpps = pps / 1e6;
	w.cyc_pkt = dpk != 0 ? (double)(t1.cycles - t0.cycles) / (double)dpk : 0;
	if (t1.tsc_mhz > 0)
		w.busy = (double)(t1.cycles - t0.cycles) / (t1.tsc_mhz * 1e6 * wall);
	if (id == SYS_VMBS && c1.guest_t_ns > c0.guest_t_ns)
		w.guest_mpps = (double)(c1.guest_frames - c0.guest_frames) /
			       ((double)(c1.guest_t_ns - c0.guest_t_ns) / 1e9) / 1e6;
	if (id == SYS_VMBS && c1.guest_busy + c1.guest_idle > c0.guest_busy + c0.guest_idle)
		w.guest_idle = (double)(c1.guest_idle - c0.guest_idle) /
			       (double)(c1.guest_busy + c1.guest_idle - c0.guest_busy - c0.guest_idle);
	w.place = vmbs_placement_classify(rtt0);
	w.clean = true;
	w.why = "";
	if (w.place != vmbs_placement_classify(rtt1))
		w.place = VMBS_PLACEMENT_MIXED;	/* it moved during the window */
	if (w.place != VMBS_PLACEMENT_NEAR && w.place != VMBS_PLACEMENT_FAR) {
		w.clean = false;
		w.why = "placement";
	} else if (run_srv < MIN_RUN_SHARE || run_guest < MIN_RUN_SHARE ||
		   steal > MAX_STEAL_SHARE) {
		w.clean = false;
		w.why = "cpu taken";
	} else if (pps <= 0) {
		w.clean = false;
		w.why = "no traffic";
	}
	if (!g_opts.quiet)
		say("  %s %4u %-5s %s %-5s rtt %3.0f/%3.0f  %6.2f Mpps %6.0f cyc/pkt busy %.2f"
		    "  guest %5.2f Mpps idle %.2f  run %.2f/%.2f steal %.3f  %.2f s %s%s\n",
		    sc->dir == DIR_G2H ? "g2h" : "h2g", sc->size, sys_name[id],
		    record ? "  " : "wu", vmbs_placement_name(w.place), rtt0, rtt1, w.mpps,
		    w.cyc_pkt, w.busy, w.guest_mpps, w.guest_idle, run_srv, run_guest, steal,
		    wall, w.clean ? "" : "dropped: ", w.why);
	if (record && g_nwin < MAX_WINDOWS)
		g_win[g_nwin++] = w;
	return true;
}

static bool
system_up(enum sys_id id, int scen, const struct scenario *sc)
{
	struct system *s = &g_sys[id];
	int rc;

	rc = id == SYS_VMBS ? vmbs_up(s, scen, sc) : vhost_up(s, scen, sc);
	if (rc == 0 && (s->server.poll_tid == 0 || s->guest.poll_tid == 0)) {
		fprintf(stderr, "%s: polling thread not found\n", sys_name[id]);
		rc = -ESRCH;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: setup failed (%d)\n", sys_name[id], rc);
		proc_tail(&s->server, 25);
		proc_tail(&s->guest, 25);
		system_down(s, id);
		return false;
	}
	s->up = true;
	return true;
}

/* A system stopped answering: show why (unless we are being stopped), end it. */
static void
system_fail(enum sys_id id, const char *what)
{
	if (!g_stop) {
		fprintf(stderr, "%s: %s failed; it sits out the rest of the scenario\n",
			sys_name[id], what);
		proc_tail(&g_sys[id].server, 25);
		proc_tail(&g_sys[id].guest, 25);
	}
	system_down(&g_sys[id], id);
}

static void
run_scenario(int scen, const struct scenario *sc, int64_t deadline)
{
	int id, turn;

	say("\n== %s %u B: %s ==\n", sc->dir == DIR_G2H ? "g2h" : "h2g", sc->size,
	    sc->dir == DIR_G2H ? "guest txonly -> server testpmd rxonly" :
				 "server testpmd txonly -> guest rxonly");
	for (id = 0; id < SYS_COUNT && !g_stop; id++)
		if (system_up((enum sys_id)id, scen, sc))
			/* Warm-up window: not recorded. */
			if (!window((enum sys_id)id, scen, sc, false))
				system_fail((enum sys_id)id, "warm-up");
	for (turn = 0; now_ns() < deadline && !g_stop; turn++) {
		id = turn % SYS_COUNT;
		if (!g_sys[id].up) {
			if (!g_sys[0].up && !g_sys[1].up)
				break;
			continue;
		}
		if (!window((enum sys_id)id, scen, sc, true))
			system_fail((enum sys_id)id, "window");
	}
	for (id = 0; id < SYS_COUNT; id++)
		system_down(&g_sys[id], (enum sys_id)id);
}

/* ---- report ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	if (n == 0)
		return 0;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct figure {
	double mpps, cyc, busy, guest_idle, secs;
	int n;
};

static struct figure
figure(enum sys_id id, int scen, enum vmbs_placement p)
{
	static double mp[MAX_WINDOWS], cy[MAX_WINDOWS], bu[MAX_WINDOWS], gi[MAX_WINDOWS];
	struct figure f = { 0, 0, 0, 0, 0, 0 };
	int i;

	for (i = 0; i < g_nwin; i++) {
		if (!g_win[i].clean || g_win[i].sys != id || g_win[i].scen != scen ||
		    g_win[i].place != p)
			continue;
		mp[f.n] = g_win[i].mpps;
		cy[f.n] = g_win[i].cyc_pkt;
		bu[f.n] = g_win[i].busy;
		gi[f.n] = g_win[i].guest_idle;
		f.secs += g_win[i].secs;
		f.n++;
	}
	f.mpps = median(mp, f.n);
	f.cyc = median(cy, f.n);
	f.busy = median(bu, f.n);
	f.guest_idle = median(gi, f.n);
	return f;
}

static void
report(void)
{
	static const enum vmbs_placement places[] = { VMBS_PLACEMENT_NEAR, VMBS_PLACEMENT_FAR };
	int scen, pi, i, dropped_place = 0, dropped_cpu = 0, total = 0;
	struct figure v, h;
	char ratio[16];

	for (i = 0; i < g_nwin; i++) {
		total++;
		if (!g_win[i].clean && strcmp(g_win[i].why, "placement") == 0)
			dropped_place++;
		else if (!g_win[i].clean)
			dropped_cpu++;
	}
	say("\n%d windows: %d dropped for placement (mixed or changed), %d for CPU taken "
	    "or no traffic\n", total, dropped_place, dropped_cpu);
	say("layout: server testpmd --lcores 0@0,1@0 (forwarding lcore 1 and the sleeping main"
	    " lcore on CPU %d); guest on CPU %d: vmbs = bench_nvguest pinned, vhost = "
	    "virtio-user testpmd --lcores 0@1,1@1\n", SERVER_CPU, GUEST_CPU);
	say("Mpps and cyc/pkt: server testpmd (Rx-pps or Tx-pps; busy cycles per packet of "
	    "--record-core-cycles), median of clean windows\n\n");
	say("%-30s %5s %-5s %9s %9s %6s %9s %9s %5s %5s %5s %7s %7s\n", "scenario", "frame",
	    "place", "vmbs Mpps", "vhst Mpps", "ratio", "vmbs cyc", "vhst cyc", "vbusy", "hbusy",
	    "gidle", "vmbs s", "vhst s");
	for (scen = 0; scen < (int)N_SCEN; scen++) {
		const struct scenario *sc = &all_scenarios[scen];

		if (!g_opts.scen_on[scen])
			continue;
		for (pi = 0; pi < 2; pi++) {
			v = figure(SYS_VMBS, scen, places[pi]);
			h = figure(SYS_VHOST, scen, places[pi]);
			if (v.n > 0 && h.n > 0 && h.mpps > 0)
				snprintf(ratio, sizeof(ratio), "%.2f", v.mpps / h.mpps);
			else
				snprintf(ratio, sizeof(ratio), "-");
			say("%-30s %5u %-5s ", sc->dir == DIR_G2H ?
			    "g2h guest tx -> host rxonly" : "h2g host txonly -> guest rx",
			    sc->size, vmbs_placement_name(places[pi]));
			if (v.n > 0)
				say("%9.2f ", v.mpps);
			else
				say("%9s ", "-");
			if (h.n > 0)
				say("%9.2f ", h.mpps);
			else
				say("%9s ", "-");
			say("%6s ", ratio);
			if (v.n > 0)
				say("%9.0f ", v.cyc);
			else
				say("%9s ", "-");
			if (h.n > 0)
				say("%9.0f ", h.cyc);
			else
				say("%9s ", "-");
			if (v.n > 0)
				say("%5.2f ", v.busy);
			else
				say("%5s ", "-");
			if (h.n > 0)
				say("%5.2f ", h.busy);
			else
				say("%5s ", "-");
			if (v.n > 0)
				say("%5.2f ", v.guest_idle);
			else
				say("%5s ", "-");
			say("%7.1f %7.1f\n", v.secs, h.secs);
		}
	}
	say("\nratio: vmbs Mpps / vhost Mpps, same scenario and placement; cyc: server busy "
	    "cycles per packet; busy: share of the server's\nforwarding lcore spent in "
	    "non-empty bursts (near 1: the server is the bottleneck);\ngidle: share of the vmbs "
	    "guest's time spent waiting for the server (near 0: the guest is the bottleneck); "
	    "s: clean seconds behind each median\n");
}

/* ---- setup ---- */

/* EAL refuses a -d plugin below a world-writable directory: copy it out. */
static int
plugin_secure(void)
{
	static char path[PATH_MAX];
	char dir[PATH_MAX], cmd[3 * PATH_MAX];
	const char *base;
	bool insecure = false;
	struct stat st;
	char *slash;

	if (realpath(g_opts.plugin, dir) == NULL) {
		fprintf(stderr, "plugin %s: %s\n", g_opts.plugin, strerror(errno));
		return -errno;
	}
	while ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH))
			insecure = true;
	}
	if (stat("/", &st) == 0 && (st.st_mode & S_IWOTH))
		insecure = true;
	if (!insecure)
		return 0;
	base = getenv("HOME");
	if (base == NULL || access(base, W_OK) != 0)
		base = "/run";
	snprintf(g_plugdir, sizeof(g_plugdir), "%s/vmbs-pvv.XXXXXX", base);
	if (mkdtemp(g_plugdir) == NULL) {
		g_plugdir[0] = '\0';
		return -errno;
	}
	chmod(g_plugdir, 0700);
	if (snprintf(path, sizeof(path), "%s/librte_net_vmbus_srv.so", g_plugdir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", g_opts.plugin, path);
	if (system(cmd) != 0)
		return -EIO;
	say("plugin copied to %s (its directory has a world-writable ancestor)\n", path);
	g_opts.plugin = path;
	return 0;
}

static void
cleanup(void)
{
	char cmd[2 * PATH_MAX];
	int s;

	for (s = 0; s < SYS_COUNT; s++)
		system_down(&g_sys[s], (enum sys_id)s);
	if (g_plugdir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_plugdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", g_plugdir);
	}
	if (g_work[0] != '\0' && g_opts.keep_dir == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_work);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", g_work);
	}
	/* EAL's runtime directories of our file prefixes. */
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/vmbs_pvv_%d_* %s/dpdk/vmbs_pvv_%d_* "
		 "2>/dev/null", (int)getpid(),
		 getenv("XDG_RUNTIME_DIR") != NULL ? getenv("XDG_RUNTIME_DIR") : "/tmp",
		 (int)getpid());
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove EAL runtime directories\n");
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --plugin PATH/librte_net_vmbus_srv.so --guest PATH/bench_nvguest\n"
		"          [--testpmd PATH (dpdk-testpmd)] [-t total_s (240)] [-w window_ms (2000)]\n"
		"          [--scenarios g2h-64,g2h-1518,h2g-64,h2g-1518] [--devargs K=V,...]\n"
		"          [--keep DIR] [-q]\n", prog);
}

static int
parse_scenarios(const char *s)
{
	char buf[256], *tok, *save = NULL;
	size_t i;

	memset(g_opts.scen_on, 0, sizeof(g_opts.scen_on));
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < N_SCEN; i++) {
			char name[32];

			snprintf(name, sizeof(name), "%s-%u",
				 all_scenarios[i].dir == DIR_G2H ? "g2h" : "h2g",
				 all_scenarios[i].size);
			if (strcmp(tok, name) == 0)
				break;
		}
		if (i == N_SCEN)
			return -EINVAL;
		g_opts.scen_on[i] = true;
	}
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "plugin", required_argument, NULL, 'p' },
		{ "guest", required_argument, NULL, 'g' },
		{ "testpmd", required_argument, NULL, 'T' },
		{ "scenarios", required_argument, NULL, 's' },
		{ "devargs", required_argument, NULL, 'd' },
		{ "keep", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int c;

	g_opts.testpmd = "dpdk-testpmd";
	g_opts.total_s = 240;
	g_opts.window_ms = 2000;
	for (i = 0; i < N_SCEN; i++)
		g_opts.scen_on[i] = true;
	while ((c = getopt_long(argc, argv, "t:w:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			g_opts.plugin = optarg;
			break;
		case 'g':
			g_opts.guest = optarg;
			break;
		case 'T':
			g_opts.testpmd = optarg;
			break;
		case 's':
			if (parse_scenarios(optarg) != 0)
				return -EINVAL;
			break;
		case 'd':
			g_opts.devargs = optarg;
			break;
		case 'k':
			g_opts.keep_dir = optarg;
			break;
		case 't':
			g_opts.total_s = atof(optarg);
			break;
		case 'w':
			g_opts.window_ms = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			g_opts.quiet = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || g_opts.plugin == NULL || g_opts.guest == NULL ||
	    g_opts.total_s < 10 || g_opts.total_s > 86400 || g_opts.window_ms < 200 ||
	    g_opts.window_ms > 60000)
		return -EINVAL;
	return 0;
}

static void
print_cpu_model(void)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "model name", 10) == 0) {
			say("CPU: %s", strchr(line, ':') != NULL ? strchr(line, ':') + 2 : line);
			break;
		}
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	int64_t t0, t_end, deadline;
	int scen, n_on = 0, done = 0;
	double rtt;

	if (parse_args(argc, argv) != 0) {
		usage(argv[0]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rtt = vmbs_placement_probe(SERVER_CPU, GUEST_CPU, PROBE_US);
	if (rtt <= 0) {
		fprintf(stderr, "cannot run on CPUs %d and %d: this benchmark needs both\n",
			SERVER_CPU, GUEST_CPU);
		return 77;
	}
	if (g_opts.keep_dir != NULL) {
		snprintf(g_work, sizeof(g_work), "%s", g_opts.keep_dir);
		if (mkdir(g_work, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "%s: %s\n", g_work, strerror(errno));
			return 1;
		}
	} else {
		snprintf(g_work, sizeof(g_work), "%s/vmbs_pvv.XXXXXX",
			 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
		if (mkdtemp(g_work) == NULL) {
			fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
			return 1;
		}
	}
	if (plugin_secure() != 0) {
		cleanup();
		return 1;
	}
	for (scen = 0; scen < (int)N_SCEN; scen++)
		n_on += g_opts.scen_on[scen];
	/* Watchdog: setup and teardown are bounded, so this is generous. */
	alarm((unsigned int)g_opts.total_s + 120u * (unsigned int)n_on + 60u);

	print_cpu_model();
	say("total %.0f s over %d scenarios, windows of %u ms (+%d ms warm-up), "
	    "placement rtt now %.0f ns\n", g_opts.total_s, n_on, g_opts.window_ms, WARMUP_MS,
	    rtt);
	say("logs in %s%s\n", g_work, g_opts.keep_dir != NULL ? "" : " (removed at exit)");
	t0 = now_ns();
	t_end = t0 + (int64_t)(g_opts.total_s * 1e9);
	for (scen = 0; scen < (int)N_SCEN && !g_stop; scen++) {
		if (!g_opts.scen_on[scen])
			continue;
		/* Share what is left equally among the scenarios still to run. */
		deadline = now_ns() + (t_end - now_ns()) / (n_on - done);
		run_scenario(scen, &all_scenarios[scen], deadline);
		done++;
	}
	cleanup();
	if (g_stop) {
		fprintf(stderr, "interrupted\n");
		return 130;
	}
	report();
	return 0;
}
