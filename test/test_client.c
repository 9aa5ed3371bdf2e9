/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/client against a scripted mock server: a thread on the other end of
 * a listening SOCK_SEQPACKET socket in a temporary directory. The script
 * checks every frame the client sends (decoded with lib/attach and
 * lib/chanmsg, expectations computed here independently) and answers as
 * the case needs. CUnit is not thread-safe, so the mock records its first
 * failed check and the test thread asserts on it after the join.
 *
 * Timing: nothing is asserted on time except "did not time out"; every
 * wait that must succeed has several seconds.
 */

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "vmbs_client.h"
#include "vmbs_test.h"

#define T_VM "vm-test"
/* Client waits that must succeed: generous, the machine is shared. */
#define T_TIMEOUT_MS 10000u
/* The mock's wait for the client's next frame. */
#define T_MOCK_WAIT_MS 20000
/* Waits the tests expect to expire. */
#define T_SHORT_MS 300u
#define MIB (UINT64_C(1) << 20)

/* One frame as the mock received it. */
struct mframe {
	struct vmbs_att_hdr hdr;
	uint8_t payload[VMBS_ATT_MAX_PAYLOAD];
	uint8_t raw[VMBS_ATT_MAX_FRAME];
	uint32_t raw_len;
	int fd;				/* passed descriptor, -1 if none */
};

struct mregion {
	uint64_t gpa;
	uint64_t size;
	uint8_t *va;
};

struct mock {
	char dir[64];
	char path[100];
	int lsock;
	int sock;
	pthread_t thr;
	void (*script)(struct mock *m);
	uint64_t arg;			/* script parameter */
	bool auto_mem;			/* answer MEM_ADD by mapping the fd */
	int fail_line;
	char fail_what[200];
	struct mregion reg[VMBS_CLI_MAX_REGIONS + 1];
	uint32_t n_reg;
	uint64_t out[8];		/* results for the test thread */
};

static void
mock_fail(struct mock *m, int line, const char *what)
{
	if (m->fail_line != 0)
		return;
	m->fail_line = line;
	snprintf(m->fail_what, sizeof(m->fail_what), "%s", what);
}

#define M_CHECK(m, expr) do { \
	if (!(expr)) { \
		mock_fail((m), __LINE__, #expr); \
		return; \
	} \
} while (0)

#define M_CHECK_RC(m, expr) do { \
	if (!(expr)) { \
		mock_fail((m), __LINE__, #expr); \
		return -1; \
	} \
} while (0)

static void *
mock_thread(void *arg)
{
	struct mock *m = arg;
	struct pollfd pfd = { .fd = m->lsock, .events = POLLIN };

	if (poll(&pfd, 1, T_MOCK_WAIT_MS) != 1) {
		mock_fail(m, __LINE__, "no connection");
		return NULL;
	}
	m->sock = accept4(m->lsock, NULL, NULL, SOCK_CLOEXEC);
	if (m->sock < 0) {
		mock_fail(m, __LINE__, "accept");
		return NULL;
	}
	m->script(m);
	close(m->sock);
	m->sock = -1;
	return NULL;
}

static bool
mock_start(struct mock *m, void (*script)(struct mock *), uint64_t arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(m, 0, sizeof(*m));
	m->sock = -1;
	m->lsock = -1;
	m->script = script;
	m->arg = arg;
	snprintf(m->dir, sizeof(m->dir), "/tmp/vmbs-cli-XXXXXX");
	if (mkdtemp(m->dir) == NULL)
		return false;
	snprintf(m->path, sizeof(m->path), "%s/attach.sock", m->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->path);
	m->lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (m->lsock < 0)
		return false;
	if (bind(m->lsock, (const struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(m->lsock, 4) != 0)
		return false;
	return pthread_create(&m->thr, NULL, mock_thread, m) == 0;
}

/* Join the script and report its verdict. */
static bool
mock_finish(struct mock *m)
{
	uint32_t i;

	pthread_join(m->thr, NULL);
	close(m->lsock);
	unlink(m->path);
	rmdir(m->dir);
	for (i = 0; i < m->n_reg; i++)
		munmap(m->reg[i].va, m->reg[i].size);
	if (m->fail_line != 0)
		fprintf(stderr, "\n    mock: line %d: %s\n", m->fail_line, m->fail_what);
	return m->fail_line == 0;
}

/* Next frame from the client, validated as a server would. */
static int
mock_recv(struct mock *m, struct mframe *f)
{
	struct pollfd pfd = { .fd = m->sock, .events = POLLIN };
	struct vmbs_att_frame af;
	uint32_t n_fds = 0;
	int fds[1];
	ssize_t n;
	int rc;

	f->fd = -1;
	if (poll(&pfd, 1, T_MOCK_WAIT_MS) != 1)
		return -ETIMEDOUT;
	n = vmbs_att_recv(m->sock, f->raw, sizeof(f->raw), fds, 1, &n_fds);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (int)n;
	f->raw_len = (uint32_t)n;
	rc = vmbs_att_frame_check(f->raw, (size_t)n, n_fds, false, &af);
	if (rc != 0) {
		if (n_fds != 0)
			close(fds[0]);
		return rc;
	}
	f->hdr = af.hdr;
	memcpy(f->payload, af.payload, af.hdr.len);
	f->fd = n_fds != 0 ? fds[0] : -1;
	return 0;
}

static int
mock_send(struct mock *m, uint16_t type, uint16_t flags, uint32_t seq,
	  int32_t status, const void *payload, uint32_t len)
{
	uint8_t frame[VMBS_ATT_MAX_FRAME];
	int n = vmbs_att_encode(frame, sizeof(frame), type, flags, seq, status,
				payload, len);

	if (n < 0)
		return n;
	return vmbs_att_send(m->sock, frame, (size_t)n, NULL, 0);
}

static int
mock_reply(struct mock *m, const struct mframe *f, int32_t status,
	   const void *payload, uint32_t len)
{
	return mock_send(m, f->hdr.type, VMBS_ATT_F_REPLY, f->hdr.seq, status,
			 payload, len);
}

static int
mock_msg(struct mock *m, const void *msg, int len)
{
	if (len < 0)
		return len;
	return mock_send(m, VMBS_ATT_VMBUS_MSG, 0, 0, 0, msg, (uint32_t)len);
}

static void *
mock_va(const struct mock *m, uint64_t gpa, uint64_t len)
{
	uint32_t i;

	for (i = 0; i < m->n_reg; i++)
		if (gpa >= m->reg[i].gpa && len <= m->reg[i].size &&
		    gpa - m->reg[i].gpa <= m->reg[i].size - len)
			return m->reg[i].va + (gpa - m->reg[i].gpa);
	return NULL;
}

/*
 * MEM_ADD: exactly one fd, large enough; map it as a server would and
 * keep the mapping (@p map), then close the fd. No reply yet.
 */
static uint8_t *
mock_map(struct mock *m, struct mframe *f, bool map)
{
	struct vmbs_att_mem_add ma;
	uint8_t *ret = NULL;
	struct stat st;
	void *va;

	memcpy(&ma, f->payload, sizeof(ma));
	if (f->fd < 0 || ma.offset != 0 || ma.flags != 0 || ma.reserved != 0 ||
	    fstat(f->fd, &st) != 0 || (uint64_t)st.st_size < ma.size ||
	    m->n_reg >= VMBS_CLI_MAX_REGIONS + 1) {
		mock_fail(m, __LINE__, "bad MEM_ADD");
		goto out;
	}
	if (!map) {
		ret = (uint8_t *)f;	/* any non-NULL: checked, not mapped */
		goto out;
	}
	va = mmap(NULL, ma.size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	if (va == MAP_FAILED) {
		mock_fail(m, __LINE__, "mmap of the MEM_ADD fd");
		goto out;
	}
	m->reg[m->n_reg].gpa = ma.gpa;
	m->reg[m->n_reg].size = ma.size;
	m->reg[m->n_reg].va = va;
	m->n_reg++;
	ret = va;
out:
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	return ret;
}

static int
mock_mem_add(struct mock *m, struct mframe *f, int32_t status)
{
	M_CHECK_RC(m, mock_map(m, f, status == 0) != NULL);
	M_CHECK_RC(m, mock_reply(m, f, status, NULL, 0) == 0);
	return 0;
}

/* Next frame, with MEM_ADD handled here when auto_mem is set. */
static int
mock_next(struct mock *m, struct mframe *f)
{
	int rc;

	for (;;) {
		rc = mock_recv(m, f);
		if (rc != 0 || !m->auto_mem || f->hdr.type != VMBS_ATT_MEM_ADD)
			return rc;
		if (mock_mem_add(m, f, 0) != 0)
			return -1;
	}
}

/* Next frame must be a channel message that decodes. */
static int
mock_next_msg(struct mock *m, struct mframe *f, struct vmbs_chmsg *cm)
{
	int rc = mock_next(m, f);

	M_CHECK_RC(m, rc == 0);
	M_CHECK_RC(m, f->hdr.type == VMBS_ATT_VMBUS_MSG);
	M_CHECK_RC(m, vmbs_chmsg_decode(f->payload, f->hdr.len, cm) == 0);
	return 0;
}

/* Wait for the client's sync post (any channel message). */
static int
mock_sync(struct mock *m)
{
	struct vmbs_chmsg cm;
	struct mframe f;

	return mock_next_msg(m, &f, &cm);
}

static int
mock_hello(struct mock *m)
{
	struct vmbs_att_hello_reply r = {
		.version = VMBS_ATT_VERSION_CURRENT,
		.max_regions = VMBS_CLI_MAX_REGIONS,
		.max_chmsg = VMBS_ATT_CHMSG_MAX,
		.max_region_size = UINT64_C(1) << 40,
		.max_vm_mem = UINT64_C(1) << 40,
	};
	struct mframe f;

	M_CHECK_RC(m, mock_recv(m, &f) == 0);
	M_CHECK_RC(m, f.hdr.type == VMBS_ATT_HELLO);
	M_CHECK_RC(m, mock_reply(m, &f, 0, &r, sizeof(r)) == 0);
	return 0;
}

/*
 * Answer whatever comes until GOODBYE (replied) or EOF. Channel messages
 * are ignored; MEM_ADD is mapped (auto_mem) or refused.
 */
static void
mock_serve_to_end(struct mock *m)
{
	struct vmbs_att_goodbye bye;
	struct mframe f;
	int rc;

	for (;;) {
		rc = mock_next(m, &f);
		if (rc == -ECONNRESET)
			return;
		M_CHECK(m, rc == 0);
		switch (f.hdr.type) {
		case VMBS_ATT_GOODBYE:
			memcpy(&bye, f.payload, sizeof(bye));
			M_CHECK(m, bye.reason == VMBS_ATT_BYE_NORMAL && bye.reserved == 0);
			M_CHECK(m, mock_reply(m, &f, 0, &bye, sizeof(bye)) == 0);
			return;
		case VMBS_ATT_VMBUS_MSG:
			break;
		case VMBS_ATT_MEM_ADD:
		case VMBS_ATT_DOORBELL:
			if (f.fd >= 0)
				close(f.fd);
			M_CHECK(m, mock_reply(m, &f, 0, NULL, 0) == 0);
			break;
		case VMBS_ATT_MEM_DEL:
			M_CHECK(m, mock_reply(m, &f, 0, NULL, 0) == 0);
			break;
		default:
			M_CHECK(m, !"unexpected frame");
		}
	}
}

/*
 * Take one GPADL (HEADER + BODYs) and check it against an independent
 * expectation: one range over consecutive pages, byte_offset 0, the body
 * count that 26 PFNs in the header and 28 per body give, msgnumbers from 1.
 * out[0] = gpadl id, out[1] = first PFN, out[2] = PFNs, out[3] = bodies.
 */
static int
mock_take_gpadl(struct mock *m, uint32_t relid, uint64_t *out)
{
	/* Header: 240 - 20 fixed - 8 range header; body: 240 - 16 fixed. */
	const uint64_t hdr_pfns = (240 - 20 - 8) / 8, body_pfns = (240 - 16) / 8;
	struct vmbs_gpa_range range;
	uint64_t npfn, exp_bodies, pfn, i, first;
	uint32_t got, buflen, bodies = 0;
	struct vmbs_chmsg cm;
	struct mframe f;
	uint8_t *rl;
	uint32_t id;

	M_CHECK_RC(m, mock_next_msg(m, &f, &cm) == 0);
	M_CHECK_RC(m, cm.type == VMBS_CHMSG_GPADL_HEADER);
	M_CHECK_RC(m, cm.u.gpadl_header.fixed.child_relid == relid);
	M_CHECK_RC(m, cm.u.gpadl_header.fixed.range_cnt == 1);
	id = cm.u.gpadl_header.fixed.gpadl;
	buflen = cm.u.gpadl_header.fixed.range_buflen;
	M_CHECK_RC(m, buflen >= 16 && buflen % 8 == 0);
	rl = calloc(1, buflen);
	M_CHECK_RC(m, rl != NULL);
	got = cm.u.gpadl_header.ranges_len;
	memcpy(rl, cm.u.gpadl_header.ranges, got);
	while (got < buflen) {
		if (mock_next_msg(m, &f, &cm) != 0 || cm.type != VMBS_CHMSG_GPADL_BODY ||
		    cm.u.gpadl_body.fixed.gpadl != id ||
		    cm.u.gpadl_body.fixed.msgnumber != bodies + 1 ||
		    cm.u.gpadl_body.word_cnt * 8u > buflen - got) {
			free(rl);
			mock_fail(m, __LINE__, "bad GPADL_BODY");
			return -1;
		}
		memcpy(rl + got, cm.u.gpadl_body.words, cm.u.gpadl_body.word_cnt * 8u);
		got += cm.u.gpadl_body.word_cnt * 8u;
		bodies++;
	}
	memcpy(&range, rl, sizeof(range));
	npfn = (buflen - 8u) / 8u;
	exp_bodies = npfn <= hdr_pfns ? 0 : (npfn - hdr_pfns + body_pfns - 1) / body_pfns;
	memcpy(&first, rl + 8, 8);
	for (i = 0; i < npfn; i++) {
		memcpy(&pfn, rl + 8 + 8 * i, 8);
		if (pfn != first + i || mock_va(m, pfn << 12, 4096) == NULL)
			break;
	}
	free(rl);
	M_CHECK_RC(m, i == npfn);
	M_CHECK_RC(m, range.byte_offset == 0 && range.byte_count == npfn * 4096);
	M_CHECK_RC(m, bodies == exp_bodies);
	out[0] = id;
	out[1] = first;
	out[2] = npfn;
	out[3] = bodies;
	return 0;
}

static struct vmbs_cli *
connect_to(const struct mock *m, uint64_t mem_size, bool huge, uint32_t timeout_ms)
{
	struct vmbs_cli_params p = {
		.socket_path = m->path,
		.vm_name = T_VM,
		.mem_size = mem_size,
		.hugepages = huge,
		.timeout_ms = timeout_ms,
	};
	struct vmbs_cli *cli = NULL;

	if (vmbs_cli_connect(&p, &cli) != 0)
		return NULL;
	return cli;
}

static int
count_fds(void)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* ---- session ---- */

static void
s_hello_bytes(struct mock *m)
{
	struct vmbs_att_hello_reply r = { .version = VMBS_ATT_VERSION_CURRENT };
	struct vmbs_att_hello exp;
	struct vmbs_att_hdr h;
	struct mframe f;

	M_CHECK(m, mock_recv(m, &f) == 0);
	M_CHECK(m, f.raw_len == 16 + 72);
	memcpy(&h, f.raw, sizeof(h));
	M_CHECK(m, h.type == VMBS_ATT_HELLO && h.flags == 0 && h.len == 72);
	M_CHECK(m, h.seq != 0 && h.status == 0);
	memset(&exp, 0, sizeof(exp));
	exp.version = VMBS_ATT_VERSION(1, 0);
	memcpy(exp.vm_name, T_VM, strlen(T_VM));
	M_CHECK(m, memcmp(f.raw + 16, &exp, sizeof(exp)) == 0);
	m->out[0] = h.seq;
	M_CHECK(m, mock_reply(m, &f, 0, &r, sizeof(r)) == 0);
	mock_serve_to_end(m);
}

static void
hello_sends_exact_bytes_and_goodbye_ends(void)
{
	struct vmbs_cli *cli;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_hello_bytes, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT(vmbs_cli_fd(cli) >= 0);
		CU_ASSERT(!vmbs_cli_disconnected(cli));
		CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	}
	CU_ASSERT(mock_finish(&m));
}

static void
s_hello_refused(struct mock *m)
{
	struct mframe f;

	M_CHECK(m, mock_recv(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_HELLO);
	M_CHECK(m, mock_reply(m, &f, (int32_t)m->arg, NULL, 0) == 0);
}

static void
hello_refusal_status_is_returned(void)
{
	struct vmbs_cli_params p = { .vm_name = T_VM, .timeout_ms = T_TIMEOUT_MS };
	struct vmbs_cli *cli = NULL;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_hello_refused, (uint64_t)(int64_t)-ENOENT));
	p.socket_path = m.path;
	CU_ASSERT_EQUAL(vmbs_cli_connect(&p, &cli), -ENOENT);
	CU_ASSERT_PTR_NULL(cli);
	CU_ASSERT(mock_finish(&m));
}

static void
s_creds_refused(struct mock *m)
{
	struct vmbs_att_goodbye bye = { .reason = VMBS_ATT_BYE_REFUSED };

	M_CHECK(m, mock_send(m, VMBS_ATT_GOODBYE, 0, 0, -EACCES, &bye, sizeof(bye)) == 0);
}

static void
goodbye_notice_before_hello_returns_its_status(void)
{
	struct vmbs_cli_params p = { .vm_name = T_VM, .timeout_ms = T_TIMEOUT_MS };
	struct vmbs_cli *cli = NULL;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_creds_refused, 0));
	p.socket_path = m.path;
	CU_ASSERT_EQUAL(vmbs_cli_connect(&p, &cli), -EACCES);
	CU_ASSERT_PTR_NULL(cli);
	CU_ASSERT(mock_finish(&m));
}

static void
connect_without_server_fails(void)
{
	struct vmbs_cli_params p = {
		.socket_path = "/tmp/vmbs-cli-no-such-dir/attach.sock",
		.vm_name = T_VM,
	};
	char long_name[VMBS_ATT_VM_NAME_MAX + 1];
	struct vmbs_cli *cli = NULL;

	CU_ASSERT_EQUAL(vmbs_cli_connect(&p, &cli), -ENOENT);
	CU_ASSERT_PTR_NULL(cli);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	p.vm_name = long_name;
	CU_ASSERT_EQUAL(vmbs_cli_connect(&p, &cli), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_connect(NULL, &cli), -EINVAL);
	vmbs_cli_destroy(NULL);
}

/* ---- memory ---- */

static const char pat_mock[] = "written by the mock server";
static const char pat_cli[] = "written by the client";

static void
s_mem_shared(struct mock *m)
{
	struct vmbs_att_mem_add ma;
	struct vmbs_att_mem_del md;
	struct mframe f;
	uint64_t size = 4 * MIB;
	uint8_t *va;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_recv(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_MEM_ADD && f.fd >= 0);
	memcpy(&ma, f.payload, sizeof(ma));
	M_CHECK(m, ma.gpa == VMBS_CLI_MEM_BASE && ma.size == size);
	va = mock_map(m, &f, true);
	M_CHECK(m, va != NULL);
	/* Written before the reply: the client reads after connect returns. */
	memcpy(va, pat_mock, sizeof(pat_mock));
	memcpy(va + size - 4096, pat_mock, sizeof(pat_mock));
	M_CHECK(m, mock_reply(m, &f, 0, NULL, 0) == 0);

	/* Second region, refused: by now the client wrote into the first. */
	M_CHECK(m, mock_recv(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_MEM_ADD && f.fd >= 0);
	M_CHECK(m, memcmp(va + 8192, pat_cli, sizeof(pat_cli)) == 0);
	M_CHECK(m, mock_mem_add(m, &f, -EINVAL) == 0);

	/* MEM_DEL of the first: refused once, then granted. */
	M_CHECK(m, mock_recv(m, &f) == 0);
	memcpy(&md, f.payload, sizeof(md));
	M_CHECK(m, f.hdr.type == VMBS_ATT_MEM_DEL && md.gpa == VMBS_CLI_MEM_BASE);
	M_CHECK(m, mock_reply(m, &f, -EBUSY, NULL, 0) == 0);
	M_CHECK(m, mock_recv(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_MEM_DEL);
	M_CHECK(m, mock_reply(m, &f, 0, NULL, 0) == 0);
	mock_serve_to_end(m);
}

static void
mem_add_passes_one_fd_mapping_the_same_memory(void)
{
	struct vmbs_cli *cli;
	struct mock m;
	uint8_t *va;

	VMBS_CHECK(mock_start(&m, s_mem_shared, 0));
	cli = connect_to(&m, 4 * MIB, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	va = vmbs_cli_va(cli, VMBS_CLI_MEM_BASE, 4 * MIB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	/* The mock wrote through its own mapping of the passed fd. */
	CU_ASSERT(memcmp(va, pat_mock, sizeof(pat_mock)) == 0);
	va = vmbs_cli_va(cli, VMBS_CLI_MEM_BASE + 4 * MIB - 4096, 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	CU_ASSERT(memcmp(va, pat_mock, sizeof(pat_mock)) == 0);
	va = vmbs_cli_va(cli, VMBS_CLI_MEM_BASE, 4 * MIB);
	memcpy(va + 8192, pat_cli, sizeof(pat_cli));

	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, VMBS_CLI_MEM_BASE + 16 * MIB, MIB, false),
			-EINVAL);
	CU_ASSERT_PTR_NULL(vmbs_cli_va(cli, VMBS_CLI_MEM_BASE + 16 * MIB, 1));
	CU_ASSERT_EQUAL(vmbs_cli_mem_del(cli, VMBS_CLI_MEM_BASE + 16 * MIB), -ENOENT);

	CU_ASSERT_EQUAL(vmbs_cli_mem_del(cli, VMBS_CLI_MEM_BASE), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(vmbs_cli_va(cli, VMBS_CLI_MEM_BASE, 1));
	CU_ASSERT_EQUAL(vmbs_cli_mem_del(cli, VMBS_CLI_MEM_BASE), 0);
	CU_ASSERT_PTR_NULL(vmbs_cli_va(cli, VMBS_CLI_MEM_BASE, 1));
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
}

static void
s_auto(struct mock *m)
{
	m->auto_mem = true;
	M_CHECK(m, mock_hello(m) == 0);
	mock_serve_to_end(m);
}

static void
alloc_and_va_respect_region_bounds(void)
{
	uint64_t gpa, base = VMBS_CLI_MEM_BASE;
	struct vmbs_cli *cli;
	struct mock m;
	uint32_t i;

	VMBS_CHECK(mock_start(&m, s_auto, 0));
	cli = connect_to(&m, MIB, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 1, 0, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, base);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 4096, 65536, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, base + 65536);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 4096, 0, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, base + 65536 + 4096);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, MIB, 0, &gpa), -ENOMEM);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 4096, 3000, &gpa), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 4096, 2048, &gpa), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 0, 0, &gpa), -EINVAL);

	CU_ASSERT_PTR_NOT_NULL(vmbs_cli_va(cli, base + MIB - 1, 1));
	CU_ASSERT_PTR_NULL(vmbs_cli_va(cli, base + MIB - 1, 2));
	CU_ASSERT_PTR_NULL(vmbs_cli_va(cli, base - 1, 1));
	CU_ASSERT_PTR_NULL(vmbs_cli_va(cli, base + MIB, 0));
	CU_ASSERT_PTR_NULL(vmbs_cli_va(cli, base, UINT64_MAX));

	/* Misaligned regions are refused before anything is sent. */
	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, base + 0x800, 4096, false), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, 0, 100, false), -EINVAL);
	/* Fill the table: the first region plus 15 more, then -ENOSPC. */
	for (i = 1; i < VMBS_CLI_MAX_REGIONS; i++)
		CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, base + i * 2 * MIB, 8192, false), 0);
	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, base + 64 * MIB, 8192, false), -ENOSPC);
	/* The bump allocator moves on to later regions once one is full. */
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, MIB - 65536 - 8192, 0, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, base + 65536 + 8192);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 8192, 0, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, base + 2 * MIB);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
	CU_ASSERT_EQUAL(m.n_reg, VMBS_CLI_MAX_REGIONS);
}

static uint64_t
meminfo_kb(const char *key)
{
	char line[256];
	uint64_t v = 0;
	size_t kl = strlen(key);
	FILE *fp;

	fp = fopen("/proc/meminfo", "r");
	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 10);
	fclose(fp);
	return v;
}

static void
s_huge(struct mock *m)
{
	struct vmbs_att_mem_add ma;
	struct statfs sfs;
	struct mframe f;
	uint8_t *va;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_recv(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_MEM_ADD && f.fd >= 0);
	memcpy(&ma, f.payload, sizeof(ma));
	M_CHECK(m, ma.gpa == VMBS_CLI_MEM_BASE && ma.size == 64 * MIB);
	M_CHECK(m, fstatfs(f.fd, &sfs) == 0);
	m->out[0] = (uint64_t)sfs.f_type;
	va = mock_map(m, &f, true);
	M_CHECK(m, va != NULL);
	memcpy(va + 63 * MIB, pat_mock, sizeof(pat_mock));
	M_CHECK(m, mock_reply(m, &f, 0, NULL, 0) == 0);
	/* Neither the misaligned nor the oversized region may get here. */
	mock_serve_to_end(m);
}

static void
hugepage_region_comes_from_hugetlbfs(void)
{
	uint64_t hps_kb = meminfo_kb("Hugepagesize");
	uint64_t total = meminfo_kb("HugePages_Total");
	uint64_t free_pages = meminfo_kb("HugePages_Free");
	struct vmbs_cli *cli;
	struct mock m;
	uint8_t *va;

	if (hps_kb == 0 || free_pages * hps_kb * 1024 < 64 * MIB) {
		CU_PASS("skipped: fewer than 64 MiB of free hugepages");
		printf("[skipped: fewer than 64 MiB of free hugepages] ");
		return;
	}
	VMBS_CHECK(mock_start(&m, s_huge, 0));
	cli = connect_to(&m, 64 * MIB, true, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	va = vmbs_cli_va(cli, VMBS_CLI_MEM_BASE + 63 * MIB, 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	CU_ASSERT(memcmp(va, pat_mock, sizeof(pat_mock)) == 0);
	/* Hugepage regions need hugepage-aligned GPA and size. */
	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, VMBS_CLI_MEM_BASE + 1024 * MIB + 4096,
					 hps_kb * 1024, true), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, VMBS_CLI_MEM_BASE + 1024 * MIB, 4096, true),
			-EINVAL);
	/* More than the pool holds: the reservation fails at mmap time. */
	CU_ASSERT_EQUAL(vmbs_cli_mem_add(cli, VMBS_CLI_MEM_BASE + 4096 * MIB,
					 (total + 1) * hps_kb * 1024, true), -ENOMEM);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
	CU_ASSERT_EQUAL(m.out[0], (uint64_t)HUGETLBFS_MAGIC);
}

/* ---- GPADL ---- */

static void
s_gpadl_big(struct mock *m)
{
	const struct timespec pause = { .tv_nsec = 500000000L };
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];

	m->auto_mem = true;
	M_CHECK(m, mock_hello(m) == 0);
	/* Let the client's socket fill up: it must wait, not fail. */
	nanosleep(&pause, NULL);
	M_CHECK(m, mock_take_gpadl(m, 7, &m->out[0]) == 0);
	/* An unrelated GPADL_CREATED first: it must stay queued. */
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_gpadl_created(buf, sizeof(buf),
								   7, 0x999, 0)) == 0);
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_gpadl_created(buf, sizeof(buf), 7,
								   (uint32_t)m->out[0],
								   0)) == 0);
	/* The largest single-range GPADL, refused by the host. */
	M_CHECK(m, mock_take_gpadl(m, 8, &m->out[4]) == 0);
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_gpadl_created(
				buf, sizeof(buf), 8, (uint32_t)m->out[4],
				VMBS_GPADL_STATUS_FAILURE)) == 0);
	/* Nothing for the oversized one: GOODBYE comes next. */
	mock_serve_to_end(m);
}

static void
gpadl_of_31_mib_is_one_header_and_bodies(void)
{
	uint64_t gpa0 = 0, gpa1 = 0, gpa2 = 0, n31 = 31 * MIB / 4096;
	struct vmbs_cli *cli;
	struct vmbs_chmsg cm;
	uint32_t id = 0;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_gpadl_big, 0));
	cli = connect_to(&m, 64 * MIB, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	/* One page first, so that the buffer does not start the region. */
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 4096, 0, &gpa0), 0);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 31 * MIB, 0, &gpa1), 0);
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_create(cli, 7, gpa1, 31 * MIB, &id), 0);
	CU_ASSERT_EQUAL(id, 0x1000);
	/* The unrelated GPADL_CREATED stayed queued. */
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_GPADL_CREATED, &cm, T_TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(cm.u.gpadl_created.gpadl, 0x999);

	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 8190 * 4096, 0, &gpa2), 0);
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_create(cli, 8, gpa2, 8190 * 4096, &id), -EIO);
	CU_ASSERT_EQUAL(id, 0x1001);
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_create(cli, 9, gpa1, 8191 * 4096, &id), -E2BIG);
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_create(cli, 9, gpa1 + 1, 4096, &id), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_create(cli, 9, gpa1, 0, &id), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
	/* 7936 PFNs: 26 in the header, 7910 in ceil(7910 / 28) = 283 bodies. */
	CU_ASSERT_EQUAL(m.out[2], n31);
	CU_ASSERT_EQUAL(m.out[3], 283);
	CU_ASSERT_EQUAL(m.out[1], gpa1 >> 12);
	CU_ASSERT_EQUAL(m.out[6], 8190);
	CU_ASSERT_EQUAL(m.out[7], 292);
	CU_ASSERT_EQUAL(m.out[5], gpa2 >> 12);
}

/* ---- negotiation, offers, unload ---- */

static const uint32_t linux_order[] = {
	VMBS_VERSION(5, 3), VMBS_VERSION(5, 2), VMBS_VERSION(5, 1), VMBS_VERSION(5, 0),
	VMBS_VERSION(4, 1), VMBS_VERSION(4, 0), VMBS_VERSION(3, 0),
};

static void
s_negotiate(struct mock *m)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	const struct vmbs_chmsg_initiate_contact *ic;
	struct vmbs_chmsg cm;
	struct mframe f;
	uint32_t i, v;

	M_CHECK(m, mock_hello(m) == 0);
	for (i = 0; i < 7; i++) {
		M_CHECK(m, mock_next_msg(m, &f, &cm) == 0);
		M_CHECK(m, cm.type == VMBS_CHMSG_INITIATE_CONTACT);
		ic = &cm.u.initiate_contact;
		v = ic->version_requested;
		M_CHECK(m, v == linux_order[i]);
		M_CHECK(m, ic->target_vcpu == 0);
		M_CHECK(m, ic->interrupt_page == (v >= VMBS_VERSION(5, 0) ? 2u : 0u));
		M_CHECK(m, ic->monitor_page1 == 0 && ic->monitor_page2 == 0);
		M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_version_response(
					buf, sizeof(buf), v == m->arg, 0,
					VMBS_MSG_CONN_ID_V5)) == 0);
		m->out[0]++;
		if (v == m->arg)
			break;
	}
	if (m->arg != 0) {
		M_CHECK(m, mock_next_msg(m, &f, &cm) == 0);
		M_CHECK(m, cm.type == VMBS_CHMSG_UNLOAD);
		M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_unload_response(buf,
									       sizeof(buf))) == 0);
	}
	mock_serve_to_end(m);
}

static void
negotiation_walks_down_like_linux(void)
{
	struct vmbs_cli *cli;
	uint32_t v = 0;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_negotiate, VMBS_VERSION(5, 1)));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT_EQUAL(vmbs_cli_negotiate(cli, &v), 0);
		CU_ASSERT_EQUAL(v, VMBS_VERSION(5, 1));
		CU_ASSERT_EQUAL(vmbs_cli_unload(cli), 0);
		CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	}
	CU_ASSERT(mock_finish(&m));
	CU_ASSERT_EQUAL(m.out[0], 3);
}

static void
negotiation_fails_when_every_version_is_refused(void)
{
	struct vmbs_cli *cli;
	uint32_t v = 0;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_negotiate, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT_EQUAL(vmbs_cli_negotiate(cli, &v), -EPROTONOSUPPORT);
		CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	}
	CU_ASSERT(mock_finish(&m));
	CU_ASSERT_EQUAL(m.out[0], 7);
}

static int
send_offer(struct mock *m, uint32_t relid)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg_offer o;

	memset(&o, 0, sizeof(o));
	o.child_relid = relid;
	o.connection_id = 0x1000 + relid;
	return mock_msg(m, buf, vmbs_chmsg_encode_offer(buf, sizeof(buf), &o));
}

static void
s_offers(struct mock *m)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg cm;
	struct mframe f;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_next_msg(m, &f, &cm) == 0);
	M_CHECK(m, cm.type == VMBS_CHMSG_REQUESTOFFERS && f.hdr.len == 8);
	M_CHECK(m, send_offer(m, 1) == 0);
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_version_response(
				buf, sizeof(buf), true, 0, 0)) == 0);
	M_CHECK(m, send_offer(m, 2) == 0);
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_gpadl_torndown(buf, sizeof(buf),
								    0x55)) == 0);
	M_CHECK(m, send_offer(m, 3) == 0);
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_alloffers_delivered(buf,
									 sizeof(buf))) == 0);
	mock_serve_to_end(m);
}

static void
offers_collected_until_all_delivered_others_stay_queued(void)
{
	struct vmbs_chmsg_offer offers[2];
	struct vmbs_cli *cli;
	struct vmbs_chmsg cm;
	struct mock m;
	uint32_t n = 0;

	VMBS_CHECK(mock_start(&m, s_offers, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	CU_ASSERT_EQUAL(vmbs_cli_request_offers(cli, offers, 2, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(offers[0].child_relid, 1);
	CU_ASSERT_EQUAL(offers[1].child_relid, 2);
	CU_ASSERT_EQUAL(offers[1].connection_id, 0x1002);
	/* No offer left; the two others in arrival order. */
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_OFFERCHANNEL, &cm, T_SHORT_MS),
			-ETIMEDOUT);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(cm.type, VMBS_CHMSG_VERSION_RESPONSE);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(cm.type, VMBS_CHMSG_GPADL_TORNDOWN);
	CU_ASSERT_EQUAL(cm.u.gpadl_torndown.gpadl, 0x55);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_SHORT_MS), -ETIMEDOUT);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
}

static void
s_queue(struct mock *m)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_att_error e = { .type = VMBS_ATT_VMBUS_MSG, .seq = 0 };
	struct vmbs_chmsg cm;
	struct mframe f;
	uint32_t i;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_next_msg(m, &f, &cm) == 0);
	M_CHECK(m, cm.type == VMBS_CHMSG_INITIATE_CONTACT);
	for (i = 0; i < VMBS_CLI_MSG_QUEUE; i++)
		M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_rescind(buf, sizeof(buf),
								     i)) == 0);
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_version_response(
				buf, sizeof(buf), true, 0, 0)) == 0);
	M_CHECK(m, mock_sync(m) == 0);
	for (i = 0; i < VMBS_CLI_MSG_QUEUE + 1; i++)
		M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_rescind(buf, sizeof(buf),
								     1000 + i)) == 0);
	M_CHECK(m, mock_send(m, VMBS_ATT_ERROR, 0, 0, -EINVAL, &e, sizeof(e)) == 0);
	mock_serve_to_end(m);
}

static void
full_queue_still_delivers_the_awaited_message(void)
{
	uint8_t sync[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_cli *cli;
	struct vmbs_chmsg cm;
	int32_t err = 0;
	struct mock m;
	uint32_t i;
	int n;

	VMBS_CHECK(mock_start(&m, s_queue, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	/* 256 rescinds fill the queue; VERSION_RESPONSE still gets through. */
	CU_ASSERT_EQUAL(vmbs_cli_initiate(cli, VMBS_VERSION(5, 3)), 0);
	for (i = 0; i < VMBS_CLI_MSG_QUEUE; i++) {
		CU_ASSERT_EQUAL_FATAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), 0);
		CU_ASSERT_EQUAL_FATAL(cm.type, VMBS_CHMSG_RESCIND_CHANNELOFFER);
		CU_ASSERT_EQUAL_FATAL(cm.u.relid.child_relid, i);
	}
	n = vmbs_chmsg_encode_unload(sync, sizeof(sync));
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, sync, (uint32_t)n), 0);
	/* 257 with nobody waiting: one is lost, and that is reported once. */
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, T_TIMEOUT_MS, &err), 0);
	CU_ASSERT_EQUAL(err, -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), -ENOBUFS);
	for (i = 0; i < VMBS_CLI_MSG_QUEUE; i++) {
		CU_ASSERT_EQUAL_FATAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), 0);
		CU_ASSERT_EQUAL_FATAL(cm.u.relid.child_relid, 1000 + i);
	}
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_SHORT_MS), -ETIMEDOUT);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
}

/* ---- timeouts, disconnects, ERROR frames, bad input ---- */

static void
s_timeout(struct mock *m)
{
	const struct vmbs_att_hdr junk = { .type = 0x77 };
	struct mframe f1, f2, f3;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_recv(m, &f1) == 0);
	M_CHECK(m, f1.hdr.type == VMBS_ATT_DOORBELL);
	/* Silence; the client gives up and asks again. */
	M_CHECK(m, mock_recv(m, &f2) == 0);
	M_CHECK(m, f2.hdr.type == VMBS_ATT_DOORBELL && f2.hdr.seq != f1.hdr.seq);
	/* Garbage instead of a reply: the client gives up on this one too. */
	M_CHECK(m, vmbs_att_send(m->sock, &junk, sizeof(junk), NULL, 0) == 0);
	M_CHECK(m, mock_recv(m, &f3) == 0);
	M_CHECK(m, f3.hdr.type == VMBS_ATT_MEM_DEL);
	/* Both late replies first: not protocol violations. */
	M_CHECK(m, mock_reply(m, &f1, 0, NULL, 0) == 0);
	M_CHECK(m, mock_reply(m, &f2, 0, NULL, 0) == 0);
	M_CHECK(m, mock_reply(m, &f3, -ENOENT, NULL, 0) == 0);
	mock_serve_to_end(m);
}

static void
request_timeout_then_late_replies_are_ignored(void)
{
	struct vmbs_att_doorbell db = { .relid = 1, .dir = VMBS_ATT_DB_G2H };
	struct vmbs_att_mem_del md = { .gpa = VMBS_CLI_MEM_BASE };
	struct vmbs_cli *cli;
	struct vmbs_chmsg cm;
	int32_t err = 1;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_timeout, 0));
	/* The client's default timeout is what a request waits. */
	cli = connect_to(&m, 0, false, 2000);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_DOORBELL, &db, sizeof(db), -1,
					 NULL, NULL), -ETIMEDOUT);
	CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_DOORBELL, &db, sizeof(db), -1,
					 NULL, NULL), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_MEM_DEL, &md, sizeof(md), -1,
					 NULL, NULL), -ENOENT);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, 0, &err), 0);
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_SHORT_MS), -ETIMEDOUT);
	CU_ASSERT(!vmbs_cli_disconnected(cli));
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
}

static void
s_eof_after_hello(struct mock *m)
{
	M_CHECK(m, mock_hello(m) == 0);
}

static void
server_eof_is_connreset(void)
{
	struct vmbs_att_doorbell db = { .relid = 1 };
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_cli *cli;
	struct vmbs_chmsg cm;
	int32_t err;
	struct mock m;
	int n;

	VMBS_CHECK(mock_start(&m, s_eof_after_hello, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	CU_ASSERT(mock_finish(&m));
	if (cli == NULL)
		return;
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), -ECONNRESET);
	CU_ASSERT(vmbs_cli_disconnected(cli));
	CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_DOORBELL, &db, sizeof(db), -1,
					 NULL, NULL), -ECONNRESET);
	n = vmbs_chmsg_encode_unload(buf, sizeof(buf));
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, buf, (uint32_t)n), -ECONNRESET);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, 0, &err), -ECONNRESET);
	CU_ASSERT_EQUAL(vmbs_cli_initiate(cli, VMBS_VERSION(5, 3)), -ECONNRESET);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), -ECONNRESET);
}

static void
s_eof_in_request(struct mock *m)
{
	struct mframe f;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_recv(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_DOORBELL);
}

static void
server_eof_during_request_is_connreset(void)
{
	struct vmbs_att_doorbell db = { .relid = 1 };
	struct vmbs_cli *cli;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_eof_in_request, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_DOORBELL, &db, sizeof(db),
						 -1, NULL, NULL), -ECONNRESET);
		CU_ASSERT(vmbs_cli_disconnected(cli));
		vmbs_cli_destroy(cli);
	}
	CU_ASSERT(mock_finish(&m));
}

static void
s_goodbye_notice(struct mock *m)
{
	struct vmbs_att_goodbye bye = { .reason = VMBS_ATT_BYE_SHUTDOWN };
	struct mframe f;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_send(m, VMBS_ATT_GOODBYE, 0, 0, 0, &bye, sizeof(bye)) == 0);
	/* Keep the socket open: the notice alone must end the session. */
	M_CHECK(m, mock_recv(m, &f) == -ECONNRESET);
}

static void
goodbye_notice_disconnects(void)
{
	struct vmbs_cli *cli;
	struct vmbs_chmsg cm;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_goodbye_notice, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), -ECONNRESET);
		CU_ASSERT(vmbs_cli_disconnected(cli));
		vmbs_cli_destroy(cli);
	}
	CU_ASSERT(mock_finish(&m));
}

static void
s_errors(struct mock *m)
{
	struct vmbs_att_error e;
	struct vmbs_chmsg cm;
	struct mframe f;

	m->auto_mem = true;
	M_CHECK(m, mock_hello(m) == 0);
	/* A request refused by ERROR rather than a reply. */
	M_CHECK(m, mock_next(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_DOORBELL);
	e = (struct vmbs_att_error){ .type = f.hdr.type, .seq = f.hdr.seq };
	M_CHECK(m, mock_send(m, VMBS_ATT_ERROR, 0, f.hdr.seq, -EINVAL, &e, sizeof(e)) == 0);
	/* A post refused: only pump reports it. */
	M_CHECK(m, mock_next(m, &f) == 0);
	M_CHECK(m, f.hdr.type == VMBS_ATT_VMBUS_MSG && f.hdr.len == 8);
	e = (struct vmbs_att_error){ .type = f.hdr.type, .seq = f.hdr.seq };
	M_CHECK(m, mock_send(m, VMBS_ATT_ERROR, 0, f.hdr.seq, -EBADMSG, &e, sizeof(e)) == 0);
	/* A GPADL_HEADER refused: gpadl_create ends with its status. */
	M_CHECK(m, mock_next_msg(m, &f, &cm) == 0);
	M_CHECK(m, cm.type == VMBS_CHMSG_GPADL_HEADER);
	e = (struct vmbs_att_error){ .type = f.hdr.type, .seq = f.hdr.seq };
	M_CHECK(m, mock_send(m, VMBS_ATT_ERROR, 0, f.hdr.seq, -EPERM, &e, sizeof(e)) == 0);
	mock_serve_to_end(m);
}

static void
error_frame_naming_request_returns_its_status(void)
{
	struct vmbs_att_doorbell db = { .relid = 3, .dir = VMBS_ATT_DB_H2G };
	const uint32_t bogus[2] = { 99, 0 };
	struct vmbs_cli *cli;
	int32_t err = 0;
	uint32_t id;
	struct mock m;
	uint64_t gpa;

	VMBS_CHECK(mock_start(&m, s_errors, 0));
	cli = connect_to(&m, MIB, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	CU_ASSERT_EQUAL(vmbs_cli_request(cli, VMBS_ATT_DOORBELL, &db, sizeof(db), -1,
					 NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, 0, &err), 0);
	CU_ASSERT_EQUAL(err, -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, bogus, sizeof(bogus)), 0);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, T_TIMEOUT_MS, &err), 0);
	CU_ASSERT_EQUAL(err, -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 4096, 0, &gpa), 0);
	CU_ASSERT_EQUAL(vmbs_cli_gpadl_create(cli, 1, gpa, 4096, &id), -EPERM);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, 0, &err), 0);
	CU_ASSERT_EQUAL(err, -EPERM);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, 0, &err), 0);
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
}

static void
s_bad_input(struct mock *m)
{
	const struct vmbs_att_hdr junk = { .type = 0x77 };
	const uint32_t bad_type[2] = { 99, 0 };
	uint8_t buf[VMBS_CHMSG_MAX_SIZE + 64];
	struct vmbs_att_hdr h;
	int fd, n;

	M_CHECK(m, mock_hello(m) == 0);
	/* Unknown frame type. */
	M_CHECK(m, vmbs_att_send(m->sock, &junk, sizeof(junk), NULL, 0) == 0);
	M_CHECK(m, mock_sync(m) == 0);
	/* Channel message of no VMBus type. */
	M_CHECK(m, mock_msg(m, bad_type, sizeof(bad_type)) == 0);
	M_CHECK(m, mock_sync(m) == 0);
	/* OFFERCHANNEL cut short. */
	memset(buf, 0, sizeof(buf));
	n = vmbs_chmsg_encode_offer(buf, sizeof(buf), &(struct vmbs_chmsg_offer){ 0 });
	M_CHECK(m, n == 196);
	M_CHECK(m, mock_msg(m, buf, 100) == 0);
	M_CHECK(m, mock_sync(m) == 0);
	/* A reply to nothing. */
	M_CHECK(m, mock_send(m, VMBS_ATT_MEM_DEL, VMBS_ATT_F_REPLY, 9999, 0, NULL, 0) == 0);
	M_CHECK(m, mock_sync(m) == 0);
	/* A descriptor with a channel message. */
	fd = dup(1);
	M_CHECK(m, fd >= 0);
	n = vmbs_chmsg_encode_unload_response(buf + 16, sizeof(buf) - 16);
	n = vmbs_att_encode(buf, sizeof(buf), VMBS_ATT_VMBUS_MSG, 0, 0, 0, buf + 16,
			    (uint32_t)n);
	M_CHECK(m, n > 0 && vmbs_att_send(m->sock, buf, (size_t)n, &fd, 1) == 0);
	close(fd);
	M_CHECK(m, mock_sync(m) == 0);
	/* A datagram longer than any frame. */
	memset(&h, 0, sizeof(h));
	h.type = VMBS_ATT_VMBUS_MSG;
	h.len = sizeof(buf) - 16;
	memcpy(buf, &h, sizeof(h));
	M_CHECK(m, send(m->sock, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	M_CHECK(m, mock_sync(m) == 0);
	/* Still serving: a valid message gets through. */
	M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_alloffers_delivered(buf, 64)) == 0);
	mock_serve_to_end(m);
}

static void
bad_server_input_is_reported_not_fatal(void)
{
	uint8_t sync[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_cli *cli;
	struct vmbs_chmsg cm;
	int fds_before;
	struct mock m;
	int32_t err;
	uint32_t ns;

	fds_before = count_fds();
	ns = (uint32_t)vmbs_chmsg_encode_unload(sync, sizeof(sync));
	VMBS_CHECK(mock_start(&m, s_bad_input, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, T_TIMEOUT_MS, &err), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, sync, ns), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, sync, ns), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), -EBADMSG);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, sync, ns), 0);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, T_TIMEOUT_MS, &err), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, sync, ns), 0);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, T_TIMEOUT_MS, &err), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, sync, ns), 0);
	CU_ASSERT_EQUAL(vmbs_cli_pump(cli, T_TIMEOUT_MS, &err), -EPROTO);
	CU_ASSERT_EQUAL(vmbs_cli_post(cli, sync, ns), 0);
	CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, 0, &cm, T_TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(cm.type, VMBS_CHMSG_ALLOFFERS_DELIVERED);
	CU_ASSERT(!vmbs_cli_disconnected(cli));
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
	/* The descriptor the server slipped in was closed. */
	CU_ASSERT_EQUAL(count_fds(), fds_before);
}

static void
s_raw(struct mock *m)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	uint8_t data[64];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct pollfd pfd = { .fd = m->sock, .events = POLLIN };
	struct cmsghdr *cm;
	ssize_t n;
	int fds[8];
	uint32_t i, nf = 0;

	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, poll(&pfd, 1, T_MOCK_WAIT_MS) == 1);
	n = recvmsg(m->sock, &mh, MSG_CMSG_CLOEXEC);
	M_CHECK(m, n == 5 && memcmp(data, "\x01\x02\x03\x04\x05", 5) == 0);
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_type != SCM_RIGHTS)
			continue;
		nf = (uint32_t)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(cm), nf * sizeof(int));
	}
	for (i = 0; i < nf; i++)
		close(fds[i]);
	m->out[0] = nf;
	mock_serve_to_end(m);
}

static void
send_raw_passes_bytes_and_descriptors(void)
{
	struct vmbs_cli *cli;
	int fds[2] = { 0, 1 };
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_raw, 0));
	cli = connect_to(&m, 0, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT_EQUAL(vmbs_cli_send_raw(cli, "\x01\x02\x03\x04\x05", 5, fds, 2), 0);
		CU_ASSERT_EQUAL(vmbs_cli_send_raw(cli, "x", 1, fds, 5), -EINVAL);
		CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	}
	CU_ASSERT(mock_finish(&m));
	CU_ASSERT_EQUAL(m.out[0], 2);
}

/* ---- channels ---- */

#define CH_RELID 5u
#define CH_PAGES 4u

static int
mock_wait_efd(struct mock *m, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t v;

	M_CHECK_RC(m, poll(&pfd, 1, T_MOCK_WAIT_MS) == 1);
	M_CHECK_RC(m, read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v));
	return 0;
}

/* Host side: GPADL, OPENCHANNEL, doorbells; out[0..3] from the GPADL. */
static int
mock_open(struct mock *m, uint32_t status)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	const struct vmbs_chmsg_open *o;
	struct vmbs_chmsg cm;
	struct mframe f;

	M_CHECK_RC(m, mock_take_gpadl(m, CH_RELID, &m->out[0]) == 0);
	M_CHECK_RC(m, m->out[2] == 2 * CH_PAGES);
	M_CHECK_RC(m, mock_msg(m, buf, vmbs_chmsg_encode_gpadl_created(
				       buf, sizeof(buf), CH_RELID,
				       (uint32_t)m->out[0], 0)) == 0);
	M_CHECK_RC(m, mock_next_msg(m, &f, &cm) == 0);
	M_CHECK_RC(m, cm.type == VMBS_CHMSG_OPENCHANNEL);
	o = &cm.u.open;
	M_CHECK_RC(m, o->child_relid == CH_RELID && o->openid == CH_RELID);
	M_CHECK_RC(m, o->ring_gpadl == m->out[0] && o->target_vp == 0);
	M_CHECK_RC(m, o->downstream_page_offset == CH_PAGES);
	/* An unrelated result first (another relid): it must stay queued. */
	M_CHECK_RC(m, mock_msg(m, buf, vmbs_chmsg_encode_open_result(
				       buf, sizeof(buf), CH_RELID + 1, CH_RELID + 1,
				       0)) == 0);
	M_CHECK_RC(m, mock_msg(m, buf, vmbs_chmsg_encode_open_result(
				       buf, sizeof(buf), CH_RELID, CH_RELID,
				       status)) == 0);
	return 0;
}

static int
mock_take_doorbell(struct mock *m, uint32_t dir)
{
	struct vmbs_att_doorbell db;
	struct mframe f;

	M_CHECK_RC(m, mock_next(m, &f) == 0);
	M_CHECK_RC(m, f.hdr.type == VMBS_ATT_DOORBELL && f.fd >= 0);
	memcpy(&db, f.payload, sizeof(db));
	M_CHECK_RC(m, db.relid == CH_RELID && db.dir == dir);
	M_CHECK_RC(m, mock_reply(m, &f, 0, NULL, 0) == 0);
	return f.fd;
}

static int
mock_close(struct mock *m)
{
	uint8_t buf[VMBS_CHMSG_MAX_SIZE];
	struct vmbs_chmsg cm;
	struct mframe f;

	M_CHECK_RC(m, mock_next_msg(m, &f, &cm) == 0);
	M_CHECK_RC(m, cm.type == VMBS_CHMSG_CLOSECHANNEL);
	M_CHECK_RC(m, cm.u.relid.child_relid == CH_RELID);
	M_CHECK_RC(m, mock_next_msg(m, &f, &cm) == 0);
	M_CHECK_RC(m, cm.type == VMBS_CHMSG_GPADL_TEARDOWN);
	M_CHECK_RC(m, cm.u.gpadl_teardown.child_relid == CH_RELID);
	M_CHECK_RC(m, cm.u.gpadl_teardown.gpadl == m->out[0]);
	M_CHECK_RC(m, mock_msg(m, buf, vmbs_chmsg_encode_gpadl_torndown(
				       buf, sizeof(buf), (uint32_t)m->out[0])) == 0);
	return 0;
}

/* Host ends of the ring: consumer of g2h, producer of h2g. */
struct host_rings {
	struct vmbs_br g2h;
	struct vmbs_br h2g;
};

static void
s_channel(struct mock *m)
{
	static const char pong[100] = "pong from the host";
	struct vmbs_desc_layout lay;
	struct vmbs_desc_info di;
	struct host_rings *hr = NULL;
	struct vmbs_pkt_desc d;
	struct iovec iov;
	uint8_t pkt[4096];
	int g2h = -1, h2g = -1, len, got = 0;
	uint64_t one = 1;
	uint8_t *ring;
	void *mem;

	m->auto_mem = true;
	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_open(m, 0) == 0);
	ring = mock_va(m, m->out[1] << 12, 2 * CH_PAGES * 4096);
	M_CHECK(m, ring != NULL);
	M_CHECK(m, posix_memalign(&mem, 64, sizeof(*hr)) == 0);
	hr = mem;
	if (vmbs_br_init(&hr->g2h, ring, CH_PAGES * 4096, VMBS_BR_CONSUMER, 0) != 0 ||
	    vmbs_br_init(&hr->h2g, ring + CH_PAGES * 4096, CH_PAGES * 4096,
			 VMBS_BR_PRODUCER, 0) != 0) {
		mock_fail(m, __LINE__, "host ring init");
		goto out;
	}
	g2h = mock_take_doorbell(m, VMBS_ATT_DB_G2H);
	h2g = mock_take_doorbell(m, VMBS_ATT_DB_H2G);
	if (g2h < 0 || h2g < 0)
		goto out;

	/* Three packets: inband, GPA-direct, completion. */
	while (got < 3) {
		if (vmbs_br_rx_begin(&hr->g2h) != 0) {
			if (mock_wait_efd(m, g2h) != 0)
				goto out;
			continue;
		}
		while ((len = vmbs_br_rx_next(&hr->g2h, pkt, sizeof(pkt))) > 0) {
			if (vmbs_desc_parse(pkt, (uint32_t)len, &di) != 0) {
				mock_fail(m, __LINE__, "g2h packet parse");
				goto out;
			}
			m->out[4 + got] = di.type;
			if (got == 0 && (di.trans_id != 0x11 ||
					 di.flags != VMBS_PKT_F_COMPLETION_REQUESTED ||
					 di.payload_len != 32 ||
					 memcmp(pkt + di.payload_off, "ping", 5) != 0))
				mock_fail(m, __LINE__, "inband packet");
			if (got == 1 && (di.trans_id != 0x22 || di.range_cnt != 1 ||
					 di.byte_total != 5000 || di.pfn_cnt != 2 ||
					 di.payload_len != 8))
				mock_fail(m, __LINE__, "GPA-direct packet");
			if (got == 2 && (di.trans_id != 0x33 || di.payload_len != 16))
				mock_fail(m, __LINE__, "completion packet");
			got++;
		}
		vmbs_br_rx_commit(&hr->g2h);
	}

	/* Two packets back, then the doorbell if the ring says so. */
	iov.iov_base = (void *)(uintptr_t)pong;
	iov.iov_len = 64;
	vmbs_desc_encode_inband(&d, sizeof(d), 0x77, 0, 64, &lay);
	M_CHECK(m, vmbs_br_tx_put(&hr->h2g, &d, &iov, 1) == 0);
	iov.iov_len = sizeof(pong);
	vmbs_desc_encode_inband(&d, sizeof(d), 0x78, 0, sizeof(pong), &lay);
	if (vmbs_br_tx_put(&hr->h2g, &d, &iov, 1) != 0) {
		mock_fail(m, __LINE__, "h2g put");
		goto out;
	}
	if (vmbs_br_tx_commit(&hr->h2g) &&
	    write(h2g, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
		mock_fail(m, __LINE__, "h2g doorbell");
		goto out;
	}
	if (mock_close(m) == 0)
		mock_serve_to_end(m);
out:
	if (g2h >= 0)
		close(g2h);
	if (h2g >= 0)
		close(h2g);
	free(hr);
}

static void
channel_open_send_recv_close(void)
{
	static const char ping[32] = "ping";
	struct vmbs_desc_gpa_seg seg;
	struct vmbs_cli_chan *ch = NULL;
	struct pollfd pfd;
	struct vmbs_pkt_desc d;
	uint8_t small[16], big[256], cpl[16] = { 0 };
	struct vmbs_cli *cli;
	int g2h = -1, h2g = -1, fds_before;
	struct mock m;
	uint64_t v;

	fds_before = count_fds();
	VMBS_CHECK(mock_start(&m, s_channel, 0));
	cli = connect_to(&m, 16 * MIB, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli == NULL)
		goto out;
	CU_ASSERT_EQUAL(vmbs_cli_chan_open(cli, CH_RELID, 1, CH_PAGES, &ch), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_cli_chan_open(cli, CH_RELID, CH_PAGES, CH_PAGES, &ch), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ch);
	CU_ASSERT_EQUAL(vmbs_cli_chan_relid(ch), CH_RELID);
	CU_ASSERT_EQUAL(vmbs_cli_chan_ring_gpadl(ch), 0x1000);
	CU_ASSERT_PTR_NOT_NULL(vmbs_cli_chan_g2h(ch));
	CU_ASSERT_PTR_NOT_NULL(vmbs_cli_chan_h2g(ch));
	CU_ASSERT_EQUAL(vmbs_cli_chan_doorbells(ch, &g2h, &h2g), 0);
	CU_ASSERT(g2h >= 0 && h2g >= 0);

	CU_ASSERT_EQUAL(vmbs_cli_chan_send_inband(ch, 0x11, VMBS_PKT_F_COMPLETION_REQUESTED,
						  ping, sizeof(ping)), 0);
	CU_ASSERT_EQUAL(vmbs_cli_alloc(cli, 8192, 0, &seg.gpa), 0);
	seg.len = 5000;
	CU_ASSERT_EQUAL(vmbs_cli_chan_send_gpa(ch, 0x22, 0, &seg, 1, "8 bytes", 8), 0);
	/* The completion built whole: the same bytes reach the ring. */
	{
		struct vmbs_pkt_desc cd = {
			.type = VMBS_PKT_COMP, .offset8 = 2, .trans_id = 0x33,
		};
		uint8_t whole[sizeof(cd) + sizeof(cpl)];

		memcpy(whole, &cd, sizeof(cd));
		memcpy(whole + sizeof(cd), cpl, sizeof(cpl));
		CU_ASSERT_EQUAL(vmbs_cli_chan_send_pkt(ch, whole, sizeof(cd) - 1), -EINVAL);
		CU_ASSERT_EQUAL(vmbs_cli_chan_send_pkt(ch, whole, sizeof(whole)), 0);
	}

	pfd.fd = h2g;
	pfd.events = POLLIN;
	CU_ASSERT_EQUAL(poll(&pfd, 1, T_TIMEOUT_MS), 1);
	CU_ASSERT_EQUAL(read(h2g, &v, sizeof(v)), (ssize_t)sizeof(v));
	/* Too small: the packet stays for the next try. */
	CU_ASSERT_EQUAL(vmbs_cli_chan_recv(ch, &d, small, sizeof(small)), -EMSGSIZE);
	CU_ASSERT_EQUAL(vmbs_cli_chan_recv(ch, &d, big, sizeof(big)), 64);
	CU_ASSERT_EQUAL(d.trans_id, 0x77);
	CU_ASSERT_EQUAL(d.type, VMBS_PKT_DATA_INBAND);
	CU_ASSERT(memcmp(big, "pong from the host", 19) == 0);
	/* 100 bytes come back padded to 104: VMBus has no exact length. */
	CU_ASSERT_EQUAL(vmbs_cli_chan_recv_pkt(ch, small, sizeof(small)), -EMSGSIZE);
	CU_ASSERT_EQUAL(vmbs_cli_chan_recv_pkt(ch, big, sizeof(big)), 16 + 104);
	memcpy(&d, big, sizeof(d));
	CU_ASSERT_EQUAL(d.trans_id, 0x78);
	CU_ASSERT_EQUAL(d.offset8, 2);
	CU_ASSERT(memcmp(big + 16, "pong from the host", 19) == 0);
	CU_ASSERT_EQUAL(vmbs_cli_chan_recv(ch, &d, big, sizeof(big)), -EAGAIN);
	CU_ASSERT_EQUAL(vmbs_cli_chan_recv_pkt(ch, big, sizeof(big)), -EAGAIN);

	CU_ASSERT_EQUAL(vmbs_cli_chan_close(ch), 0);
	/* The unrelated OPENCHANNEL_RESULT stayed queued. */
	{
		struct vmbs_chmsg cm;

		CU_ASSERT_EQUAL(vmbs_cli_wait_msg(cli, VMBS_CHMSG_OPENCHANNEL_RESULT, &cm,
						  T_TIMEOUT_MS), 0);
		CU_ASSERT_EQUAL(cm.u.open_result.child_relid, CH_RELID + 1);
	}
	CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
out:
	CU_ASSERT(mock_finish(&m));
	CU_ASSERT_EQUAL(m.out[4], VMBS_PKT_DATA_INBAND);
	CU_ASSERT_EQUAL(m.out[5], VMBS_PKT_DATA_GPA_DIRECT);
	CU_ASSERT_EQUAL(m.out[6], VMBS_PKT_COMP);
	/* Eventfds and memory descriptors are gone with the channel. */
	CU_ASSERT_EQUAL(count_fds(), fds_before);
}

static void
s_open_refused(struct mock *m)
{
	m->auto_mem = true;
	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_open(m, 0xc0000001u) == 0);
	/* Linux-like: the ring GPADL is torn down after a refused open. */
	{
		uint8_t buf[VMBS_CHMSG_MAX_SIZE];
		struct vmbs_chmsg cm;
		struct mframe f;

		M_CHECK(m, mock_next_msg(m, &f, &cm) == 0);
		M_CHECK(m, cm.type == VMBS_CHMSG_GPADL_TEARDOWN);
		M_CHECK(m, cm.u.gpadl_teardown.gpadl == m->out[0]);
		M_CHECK(m, mock_msg(m, buf, vmbs_chmsg_encode_gpadl_torndown(
					buf, sizeof(buf), (uint32_t)m->out[0])) == 0);
	}
	mock_serve_to_end(m);
}

static void
refused_open_is_eio_and_tears_the_gpadl_down(void)
{
	struct vmbs_cli_chan *ch = NULL;
	struct vmbs_cli *cli;
	struct mock m;

	VMBS_CHECK(mock_start(&m, s_open_refused, 0));
	cli = connect_to(&m, 16 * MIB, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT_EQUAL(vmbs_cli_chan_open(cli, CH_RELID, CH_PAGES, CH_PAGES, &ch),
				-EIO);
		CU_ASSERT_PTR_NULL(ch);
		CU_ASSERT_EQUAL(vmbs_cli_goodbye(cli), 0);
	}
	CU_ASSERT(mock_finish(&m));
}

static void
s_chan_destroy(struct mock *m)
{
	int g2h, h2g;

	m->auto_mem = true;
	M_CHECK(m, mock_hello(m) == 0);
	M_CHECK(m, mock_open(m, 0) == 0);
	g2h = mock_take_doorbell(m, VMBS_ATT_DB_G2H);
	h2g = mock_take_doorbell(m, VMBS_ATT_DB_H2G);
	if (g2h >= 0)
		close(g2h);
	if (h2g >= 0)
		close(h2g);
	mock_serve_to_end(m);
}

static void
destroy_with_open_channel_frees_everything(void)
{
	struct vmbs_cli_chan *ch = NULL;
	struct vmbs_cli *cli;
	int fds_before;
	struct mock m;

	fds_before = count_fds();
	VMBS_CHECK(mock_start(&m, s_chan_destroy, 0));
	cli = connect_to(&m, 16 * MIB, false, T_TIMEOUT_MS);
	CU_ASSERT_PTR_NOT_NULL(cli);
	if (cli != NULL) {
		CU_ASSERT_EQUAL(vmbs_cli_chan_open(cli, CH_RELID, CH_PAGES, CH_PAGES, &ch), 0);
		if (ch != NULL)
			CU_ASSERT_EQUAL(vmbs_cli_chan_doorbells(ch, NULL, NULL), 0);
		/* A VM that dies: no CLOSECHANNEL, no GOODBYE. */
		vmbs_cli_destroy(cli);
	}
	CU_ASSERT(mock_finish(&m));
	CU_ASSERT_EQUAL(count_fds(), fds_before);
}

static const struct vmbs_test_case session_cases[] = {
	{ "hello_sends_exact_bytes_and_goodbye_ends", hello_sends_exact_bytes_and_goodbye_ends },
	{ "hello_refusal_status_is_returned", hello_refusal_status_is_returned },
	{ "goodbye_notice_before_hello_returns_its_status",
	  goodbye_notice_before_hello_returns_its_status },
	{ "connect_without_server_fails", connect_without_server_fails },
	{ "request_timeout_then_late_replies_are_ignored",
	  request_timeout_then_late_replies_are_ignored },
	{ "server_eof_is_connreset", server_eof_is_connreset },
	{ "server_eof_during_request_is_connreset", server_eof_during_request_is_connreset },
	{ "goodbye_notice_disconnects", goodbye_notice_disconnects },
	{ "error_frame_naming_request_returns_its_status",
	  error_frame_naming_request_returns_its_status },
	{ "bad_server_input_is_reported_not_fatal", bad_server_input_is_reported_not_fatal },
	{ "send_raw_passes_bytes_and_descriptors", send_raw_passes_bytes_and_descriptors },
	{ NULL, NULL },
};

static const struct vmbs_test_case mem_cases[] = {
	{ "mem_add_passes_one_fd_mapping_the_same_memory",
	  mem_add_passes_one_fd_mapping_the_same_memory },
	{ "alloc_and_va_respect_region_bounds", alloc_and_va_respect_region_bounds },
	{ "hugepage_region_comes_from_hugetlbfs", hugepage_region_comes_from_hugetlbfs },
	{ NULL, NULL },
};

static const struct vmbs_test_case vmbus_cases[] = {
	{ "gpadl_of_31_mib_is_one_header_and_bodies", gpadl_of_31_mib_is_one_header_and_bodies },
	{ "negotiation_walks_down_like_linux", negotiation_walks_down_like_linux },
	{ "negotiation_fails_when_every_version_is_refused",
	  negotiation_fails_when_every_version_is_refused },
	{ "offers_collected_until_all_delivered_others_stay_queued",
	  offers_collected_until_all_delivered_others_stay_queued },
	{ "full_queue_still_delivers_the_awaited_message",
	  full_queue_still_delivers_the_awaited_message },
	{ NULL, NULL },
};

static const struct vmbs_test_case chan_cases[] = {
	{ "channel_open_send_recv_close", channel_open_send_recv_close },
	{ "refused_open_is_eio_and_tears_the_gpadl_down",
	  refused_open_is_eio_and_tears_the_gpadl_down },
	{ "destroy_with_open_channel_frees_everything",
	  destroy_with_open_channel_frees_everything },
	{ NULL, NULL },
};

static const struct vmbs_test_suite session_suite = {
	.name = "client_session", .cases = session_cases,
};
static const struct vmbs_test_suite mem_suite = {
	.name = "client_mem", .cases = mem_cases,
};
static const struct vmbs_test_suite vmbus_suite = {
	.name = "client_vmbus", .cases = vmbus_cases,
};
static const struct vmbs_test_suite chan_suite = {
	.name = "client_chan", .cases = chan_cases,
};

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&session_suite, &mem_suite, &vmbus_suite, &chan_suite, NULL,
	};

	return vmbs_test_run(suites);
}
