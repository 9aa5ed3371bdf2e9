/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * The guest process and its private mount namespace. Inside it:
 *   /sys/bus            the launcher's tree (run/sysbus), so the vmbus bus
 *                       finds exactly our NICs and nothing else (also no
 *                       PCI: run the guest with --no-pci);
 *   /dev                a fresh tmpfs with the usual character devices
 *                       bound from the real /dev, /dev/pts, a private
 *                       /dev/shm, a private hugetlbfs on /dev/hugepages
 *                       and /dev/uioN -> .vmbs-guest/uioN (the run
 *                       directory bound at /dev/.vmbs-guest).
 * Nothing is created outside the run directory, and every mount goes away
 * with the namespace. The hugetlbfs is private on purpose: when the guest
 * dies, however it dies, its hugepages are freed as soon as the server
 * unmaps them; no file is left behind in a shared /dev/hugepages.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmbs_guest.h"

/* Character devices a DPDK program (and its shell niceties) uses. */
static const char *const dev_nodes[] = {
	"null", "zero", "full", "random", "urandom", "tty",
};

static void __attribute__((noreturn))
child_fail(const char *what)
{
	fprintf(stderr, "vmbs-guest: guest setup: %s: %s\n", what, strerror(errno));
	_exit(127);
}

static void
child_bind(int dir_fd, const char *name, const char *dst, bool is_dir)
{
	char src[64];
	int fd;

	if (is_dir) {
		if (mkdir(dst, 0755) != 0 && errno != EEXIST)
			child_fail(dst);
	} else {
		fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
		if (fd < 0)
			child_fail(dst);
		close(fd);
	}
	/* The old /dev is covered by now: reach it through the saved fd. */
	snprintf(src, sizeof(src), "/proc/self/fd/%d%s%s", dir_fd, name[0] ? "/" : "", name);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
		child_fail(dst);
}

static void __attribute__((noreturn))
child_run(struct gl *g, pid_t parent)
{
	char path[600], opts[64];
	sigset_t none;
	int dev_fd, run_fd;
	uint32_t i;

	/* The launcher going away takes the guest with it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (unshare(CLONE_NEWNS) != 0)
		child_fail("unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		child_fail("make / private");
	dev_fd = open("/dev", O_PATH | O_DIRECTORY);
	run_fd = open(g->run, O_PATH | O_DIRECTORY);
	if (dev_fd < 0 || run_fd < 0)
		child_fail("open /dev or the run directory");
	snprintf(path, sizeof(path), "%s/sysbus", g->run);
	if (mount(path, "/sys/bus", NULL, MS_BIND, NULL) != 0)
		child_fail("bind /sys/bus");
	if (mount("vmbs-guest-dev", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
		  "mode=755,size=1m") != 0)
		child_fail("tmpfs on /dev");
	for (i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		child_bind(dev_fd, dev_nodes[i], path, false);
	}
	child_bind(dev_fd, "pts", "/dev/pts", true);
	if (symlink("pts/ptmx", "/dev/ptmx") != 0 || symlink("/proc/self/fd", "/dev/fd") != 0 ||
	    symlink("/proc/self/fd/0", "/dev/stdin") != 0 ||
	    symlink("/proc/self/fd/1", "/dev/stdout") != 0 ||
	    symlink("/proc/self/fd/2", "/dev/stderr") != 0)
		child_fail("/dev symlinks");
	if (mkdir("/dev/shm", 01777) != 0 ||
	    mount("vmbs-guest-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
		child_fail("/dev/shm");
	snprintf(opts, sizeof(opts), "pagesize=2M,size=%" PRIu64, g->o.huge_size);
	if (mkdir("/dev/hugepages", 0755) != 0 ||
	    mount("vmbs-guest-huge", "/dev/hugepages", "hugetlbfs", MS_NOSUID | MS_NODEV,
		  opts) != 0)
		child_fail("hugetlbfs on /dev/hugepages");
	child_bind(run_fd, "", "/dev/.vmbs-guest", true);
	for (i = 0; i < g->n_nics; i++) {
		char link[32], target[48];

		snprintf(link, sizeof(link), "/dev/uio%u", g->nics[i].uio_idx);
		snprintf(target, sizeof(target), ".vmbs-guest/uio%u", g->nics[i].uio_idx);
		if (symlink(target, link) != 0)
			child_fail(link);
	}
	close(dev_fd);
	close(run_fd);
	execvp(g->o.argv[0], g->o.argv);
	child_fail(g->o.argv[0]);
}

pid_t
gl_guest_spawn(struct gl *g, int *pidfd)
{
	pid_t me = getpid();
	pid_t pid = fork();

	if (pid < 0) {
		gl_log("fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0)
		child_run(g, me);
	*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (*pidfd < 0) {
		gl_log("pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		return -errno;
	}
	return pid;
}

/* The value of EAL option @p name in the guest's command line, or NULL. */
static const char *
guest_eal_opt(const struct gl *g, const char *name, bool *present)
{
	size_t n = strlen(name);
	char **a;

	*present = false;
	for (a = g->o.argv + 1; *a != NULL && strcmp(*a, "--") != 0; a++) {
		if (strncmp(*a, name, n) != 0)
			continue;
		*present = true;
		if ((*a)[n] == '=')
			return *a + n + 1;
		if ((*a)[n] == '\0')
			return a[1];
	}
	return NULL;
}

pid_t
gl_qpoke_spawn(struct gl *g)
{
	char *argv[64];
	char pid_s[16], prefix[300];
	const char *v;
	uint32_t n = 0, i;
	bool on;
	pid_t me = getpid(), pid;
	sigset_t none;

	snprintf(pid_s, sizeof(pid_s), "%d", (int)g->mem_pid);
	argv[n++] = (char *)(uintptr_t)g->o.qpoke;
	argv[n++] = (char *)(uintptr_t)"--pid";
	argv[n++] = pid_s;
	argv[n++] = (char *)(uintptr_t)"--watch";
	for (i = 0; i < g->n_nics; i++)
		argv[n++] = g->nics[i].uuid;
	argv[n++] = (char *)(uintptr_t)"--";
	/* The secondary must see the primary's memory as the primary does. */
	v = guest_eal_opt(g, "--file-prefix", &on);
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s", v != NULL ? v : "rte");
	argv[n++] = prefix;
	argv[n++] = (char *)(uintptr_t)"--proc-type=secondary";
	argv[n++] = (char *)(uintptr_t)"--no-pci";
	argv[n++] = (char *)(uintptr_t)"--no-telemetry";
	argv[n++] = (char *)(uintptr_t)"-l";
	argv[n++] = (char *)(uintptr_t)"0";
	argv[n++] = (char *)(uintptr_t)"--log-level=lib.eal:error";
	guest_eal_opt(g, "--single-file-segments", &on);
	if (on)
		argv[n++] = (char *)(uintptr_t)"--single-file-segments";
	v = guest_eal_opt(g, "--iova-mode", &on);
	if (v != NULL) {
		argv[n++] = (char *)(uintptr_t)"--iova-mode";
		argv[n++] = (char *)(uintptr_t)v;
	}
	v = guest_eal_opt(g, "--huge-dir", &on);
	if (v != NULL) {
		argv[n++] = (char *)(uintptr_t)"--huge-dir";
		argv[n++] = (char *)(uintptr_t)v;
	}
	v = guest_eal_opt(g, "--base-virtaddr", &on);
	if (v != NULL) {
		argv[n++] = (char *)(uintptr_t)"--base-virtaddr";
		argv[n++] = (char *)(uintptr_t)v;
	}
	argv[n] = NULL;

	pid = fork();
	if (pid < 0) {
		gl_log("fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != me)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "vmbs-guest: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	gl_log("started %s (pid %d) to mark the guest's queues started", g->o.qpoke,
	       (int)pid);
	return pid;
}
