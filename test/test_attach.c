/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * lib/attach: attach-protocol codec and socket helpers. Every golden frame
 * below is typed in by hand from the layout in vmbs_attach.h and
 * docs/attach-protocol.md (offsets in the comments, little-endian), then
 * accepted by vmbs_att_frame_check() and rebuilt byte for byte by
 * vmbs_att_encode() from fields set one by one. The rejection suite
 * breaks each rule of the frame check in turn; the socket suite passes
 * real descriptors over a SOCK_SEQPACKET pair and counts this process's
 * open descriptors to prove that nothing leaks on any refusal.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmbs_attach.h"
#include "vmbs_test.h"

/* ---- golden frames ---- */

static const uint8_t golden_hello[88] = {
	/* 0 type 1 (HELLO) */ 0x01, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 72 */ 0x48, 0x00, 0x00, 0x00,
	/* 8 seq 0x01020304 */ 0x04, 0x03, 0x02, 0x01,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 version 1.0 */ 0x00, 0x00, 0x01, 0x00,
	/* 20 features 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 24 vm_name "vm-01", NUL-padded to 64 bytes (ends at 87) */
	'v', 'm', '-', '0', '1',
};

static const uint8_t golden_hello_reply[48] = {
	/* 0 type 1 */ 0x01, 0x00,
	/* 2 flags REPLY */ 0x01, 0x00,
	/* 4 len 32 */ 0x20, 0x00, 0x00, 0x00,
	/* 8 seq 0x01020304 */ 0x04, 0x03, 0x02, 0x01,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 version 1.0 */ 0x00, 0x00, 0x01, 0x00,
	/* 20 features 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 24 max_regions 64 */ 0x40, 0x00, 0x00, 0x00,
	/* 28 max_chmsg 240 */ 0xf0, 0x00, 0x00, 0x00,
	/* 32 max_region_size 1 TiB */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	/* 40 max_vm_mem 64 GiB */ 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
};

static const uint8_t golden_hello_refused[16] = {
	/* 0 type 1 */ 0x01, 0x00,
	/* 2 flags REPLY */ 0x01, 0x00,
	/* 4 len 0: a refusal has no payload */ 0x00, 0x00, 0x00, 0x00,
	/* 8 seq 0x01020304 */ 0x04, 0x03, 0x02, 0x01,
	/* 12 status -EPROTONOSUPPORT (-93) */ 0xa3, 0xff, 0xff, 0xff,
};

static const uint8_t golden_goodbye[24] = {
	/* 0 type 2 (GOODBYE) */ 0x02, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 9 */ 0x09, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 reason NORMAL */ 0x00, 0x00, 0x00, 0x00,
	/* 20 reserved */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_goodbye_reply[24] = {
	/* 0 type 2 */ 0x02, 0x00,
	/* 2 flags REPLY */ 0x01, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 9 */ 0x09, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 reason NORMAL */ 0x00, 0x00, 0x00, 0x00,
	/* 20 reserved */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_goodbye_refused[24] = {
	/* 0 type 2 */ 0x02, 0x00,
	/* 2 flags 0: a notice */ 0x00, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 12 status -EACCES (-13) */ 0xf3, 0xff, 0xff, 0xff,
	/* 16 reason REFUSED */ 0x03, 0x00, 0x00, 0x00,
	/* 20 reserved */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_goodbye_shutdown[24] = {
	/* 0 type 2 */ 0x02, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 reason SHUTDOWN */ 0x01, 0x00, 0x00, 0x00,
	/* 20 reserved */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_mem_add[48] = {
	/* 0 type 3 (MEM_ADD) */ 0x03, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 32 */ 0x20, 0x00, 0x00, 0x00,
	/* 8 seq 2 */ 0x02, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 gpa 0x100000000 */ 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	/* 24 size 1 GiB */ 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
	/* 32 offset 2 MiB */ 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 40 flags 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 44 reserved */ 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_mem_add_reply[16] = {
	/* 0 type 3 */ 0x03, 0x00,
	/* 2 flags REPLY */ 0x01, 0x00,
	/* 4 len 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 8 seq 2 */ 0x02, 0x00, 0x00, 0x00,
	/* 12 status -EEXIST (-17) */ 0xef, 0xff, 0xff, 0xff,
};

static const uint8_t golden_mem_del[24] = {
	/* 0 type 4 (MEM_DEL) */ 0x04, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 3 */ 0x03, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 gpa 0x100000000 */ 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
};

static const uint8_t golden_mem_del_reply[16] = {
	/* 0 type 4 */ 0x04, 0x00,
	/* 2 flags REPLY */ 0x01, 0x00,
	/* 4 len 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 8 seq 3 */ 0x03, 0x00, 0x00, 0x00,
	/* 12 status -EBUSY (-16) */ 0xf0, 0xff, 0xff, 0xff,
};

static const uint8_t golden_doorbell[24] = {
	/* 0 type 5 (DOORBELL) */ 0x05, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 4 */ 0x04, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 relid 14 */ 0x0e, 0x00, 0x00, 0x00,
	/* 20 dir H2G */ 0x01, 0x00, 0x00, 0x00,
};

static const uint8_t golden_doorbell_reply[16] = {
	/* 0 type 5 */ 0x05, 0x00,
	/* 2 flags REPLY */ 0x01, 0x00,
	/* 4 len 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 8 seq 4 */ 0x04, 0x00, 0x00, 0x00,
	/* 12 status -ENOENT (-2) */ 0xfe, 0xff, 0xff, 0xff,
};

static const uint8_t golden_vmbus_msg_c2s[24] = {
	/* 0 type 6 (VMBUS_MSG) */ 0x06, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 REQUESTOFFERS: msgtype 3, padding 0 */
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t golden_vmbus_msg_s2c[32] = {
	/* 0 type 6 */ 0x06, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 16 */ 0x10, 0x00, 0x00, 0x00,
	/* 8 seq 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 12 status 0 */ 0x00, 0x00, 0x00, 0x00,
	/* 16 VERSION_RESPONSE: msgtype 15, padding 0 */
	0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 24 version_supported 1, connection_state 0, padding 0 */
	0x01, 0x00, 0x00, 0x00,
	/* 28 msg_conn_id 4 */ 0x04, 0x00, 0x00, 0x00,
};

static const uint8_t golden_error[24] = {
	/* 0 type 7 (ERROR) */ 0x07, 0x00,
	/* 2 flags 0 */ 0x00, 0x00,
	/* 4 len 8 */ 0x08, 0x00, 0x00, 0x00,
	/* 8 seq 2: the refused frame's */ 0x02, 0x00, 0x00, 0x00,
	/* 12 status -EPROTO (-71) */ 0xb9, 0xff, 0xff, 0xff,
	/* 16 refused type MEM_ADD */ 0x03, 0x00,
	/* 18 reserved */ 0x00, 0x00,
	/* 20 refused seq 2 */ 0x02, 0x00, 0x00, 0x00,
};

/* Every golden frame with the direction and fd count it is valid with. */
struct golden {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	bool from_server;
	uint32_t n_fds;
};

#define GOLDEN(arr, dir, fds) { #arr, arr, sizeof(arr), dir, fds }

static const struct golden goldens[] = {
	GOLDEN(golden_hello, false, 0),
	GOLDEN(golden_hello_reply, true, 0),
	GOLDEN(golden_hello_refused, true, 0),
	GOLDEN(golden_goodbye, false, 0),
	GOLDEN(golden_goodbye_reply, true, 0),
	GOLDEN(golden_goodbye_refused, true, 0),
	GOLDEN(golden_goodbye_shutdown, true, 0),
	GOLDEN(golden_mem_add, false, 1),
	GOLDEN(golden_mem_add_reply, true, 0),
	GOLDEN(golden_mem_del, false, 0),
	GOLDEN(golden_mem_del_reply, true, 0),
	GOLDEN(golden_doorbell, false, 0),
	GOLDEN(golden_doorbell_reply, true, 0),
	GOLDEN(golden_vmbus_msg_c2s, false, 0),
	GOLDEN(golden_vmbus_msg_s2c, true, 0),
	GOLDEN(golden_error, true, 0),
};
#define N_GOLDENS (sizeof(goldens) / sizeof(goldens[0]))

/* Offsets of the header fields, for tests that break them by hand. */
#define OFF_TYPE 0
#define OFF_FLAGS 2
#define OFF_LEN 4
#define OFF_STATUS 12
#define OFF_NAME (VMBS_ATT_HDR_SIZE + 8)

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int
check(const uint8_t *buf, size_t len, uint32_t n_fds, bool from_server)
{
	struct vmbs_att_frame f;

	return vmbs_att_frame_check(buf, len, n_fds, from_server, &f);
}

/* Accept @p g and check the decoded header against the bytes. */
static void
accept_golden(const uint8_t *g, size_t len, bool from_server, uint32_t n_fds,
	      struct vmbs_att_frame *f)
{
	memset(f, 0x5a, sizeof(*f));
	VMBS_CHECK(vmbs_att_frame_check(g, len, n_fds, from_server, f) == 0);
	CU_ASSERT_EQUAL(f->hdr.len, len - VMBS_ATT_HDR_SIZE);
	CU_ASSERT_PTR_EQUAL(f->payload, g + VMBS_ATT_HDR_SIZE);
	CU_ASSERT_EQUAL(f->n_fds, n_fds);
}

/* Encode and compare with @p g; also check nothing is written past it. */
static void
check_encoded(uint16_t type, uint16_t flags, uint32_t seq, int32_t status,
	      const void *payload, uint32_t len, const uint8_t *g, size_t glen)
{
	uint8_t out[VMBS_ATT_MAX_FRAME + 8];

	memset(out, 0xa5, sizeof(out));
	CU_ASSERT_EQUAL(vmbs_att_encode(out, sizeof(out), type, flags, seq, status,
					payload, len), (int)glen);
	CU_ASSERT_EQUAL(memcmp(out, g, glen), 0);
	CU_ASSERT_EQUAL(out[glen], 0xa5);
}

/* ---- per-type golden decode + encode ---- */

static void
hello_matches_golden_bytes(void)
{
	struct vmbs_att_hello h;
	struct vmbs_att_frame f;

	accept_golden(golden_hello, sizeof(golden_hello), false, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_HELLO);
	CU_ASSERT_EQUAL(f.hdr.flags, 0);
	CU_ASSERT_EQUAL(f.hdr.len, 72);
	CU_ASSERT_EQUAL(f.hdr.seq, 0x01020304);
	CU_ASSERT_EQUAL(f.hdr.status, 0);
	memcpy(&h, f.payload, sizeof(h));
	CU_ASSERT_EQUAL(h.version, VMBS_ATT_VERSION_CURRENT);
	CU_ASSERT_EQUAL(h.version, 0x00010000);
	CU_ASSERT_EQUAL(h.features, 0);
	CU_ASSERT_STRING_EQUAL(h.vm_name, "vm-01");

	memset(&h, 0, sizeof(h));
	h.version = VMBS_ATT_VERSION(1, 0);
	strcpy(h.vm_name, "vm-01");
	check_encoded(VMBS_ATT_HELLO, 0, 0x01020304, 0, &h, sizeof(h),
		      golden_hello, sizeof(golden_hello));
}

static void
hello_reply_matches_golden_bytes(void)
{
	struct vmbs_att_hello_reply r;
	struct vmbs_att_frame f;

	accept_golden(golden_hello_reply, sizeof(golden_hello_reply), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_HELLO);
	CU_ASSERT_EQUAL(f.hdr.flags, VMBS_ATT_F_REPLY);
	CU_ASSERT_EQUAL(f.hdr.seq, 0x01020304);
	CU_ASSERT_EQUAL(f.hdr.status, 0);
	memcpy(&r, f.payload, sizeof(r));
	CU_ASSERT_EQUAL(r.version, VMBS_ATT_VERSION_CURRENT);
	CU_ASSERT_EQUAL(r.features, 0);
	CU_ASSERT_EQUAL(r.max_regions, 64);
	CU_ASSERT_EQUAL(r.max_chmsg, 240);
	CU_ASSERT_EQUAL(r.max_region_size, UINT64_C(1) << 40);
	CU_ASSERT_EQUAL(r.max_vm_mem, UINT64_C(64) << 30);

	memset(&r, 0, sizeof(r));
	r.version = VMBS_ATT_VERSION(1, 0);
	r.max_regions = 64;
	r.max_chmsg = VMBS_ATT_CHMSG_MAX;
	r.max_region_size = UINT64_C(1) << 40;
	r.max_vm_mem = UINT64_C(64) << 30;
	check_encoded(VMBS_ATT_HELLO, VMBS_ATT_F_REPLY, 0x01020304, 0, &r, sizeof(r),
		      golden_hello_reply, sizeof(golden_hello_reply));
}

static void
hello_refusal_matches_golden_bytes(void)
{
	struct vmbs_att_frame f;

	accept_golden(golden_hello_refused, sizeof(golden_hello_refused), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_HELLO);
	CU_ASSERT_EQUAL(f.hdr.flags, VMBS_ATT_F_REPLY);
	CU_ASSERT_EQUAL(f.hdr.len, 0);
	CU_ASSERT_EQUAL(f.hdr.status, -EPROTONOSUPPORT);
	check_encoded(VMBS_ATT_HELLO, VMBS_ATT_F_REPLY, 0x01020304, -EPROTONOSUPPORT,
		      NULL, 0, golden_hello_refused, sizeof(golden_hello_refused));
}

static void
goodbye_frames_match_golden_bytes(void)
{
	struct vmbs_att_goodbye b;
	struct vmbs_att_frame f;

	accept_golden(golden_goodbye, sizeof(golden_goodbye), false, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_GOODBYE);
	CU_ASSERT_EQUAL(f.hdr.seq, 9);
	memcpy(&b, f.payload, sizeof(b));
	CU_ASSERT_EQUAL(b.reason, VMBS_ATT_BYE_NORMAL);

	accept_golden(golden_goodbye_reply, sizeof(golden_goodbye_reply), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.flags, VMBS_ATT_F_REPLY);

	accept_golden(golden_goodbye_refused, sizeof(golden_goodbye_refused), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.flags, 0);
	CU_ASSERT_EQUAL(f.hdr.status, -EACCES);
	memcpy(&b, f.payload, sizeof(b));
	CU_ASSERT_EQUAL(b.reason, VMBS_ATT_BYE_REFUSED);

	accept_golden(golden_goodbye_shutdown, sizeof(golden_goodbye_shutdown), true, 0, &f);
	memcpy(&b, f.payload, sizeof(b));
	CU_ASSERT_EQUAL(b.reason, VMBS_ATT_BYE_SHUTDOWN);

	memset(&b, 0, sizeof(b));
	b.reason = VMBS_ATT_BYE_NORMAL;
	check_encoded(VMBS_ATT_GOODBYE, 0, 9, 0, &b, sizeof(b),
		      golden_goodbye, sizeof(golden_goodbye));
	check_encoded(VMBS_ATT_GOODBYE, VMBS_ATT_F_REPLY, 9, 0, &b, sizeof(b),
		      golden_goodbye_reply, sizeof(golden_goodbye_reply));
	b.reason = VMBS_ATT_BYE_REFUSED;
	check_encoded(VMBS_ATT_GOODBYE, 0, 0, -EACCES, &b, sizeof(b),
		      golden_goodbye_refused, sizeof(golden_goodbye_refused));
	b.reason = VMBS_ATT_BYE_SHUTDOWN;
	check_encoded(VMBS_ATT_GOODBYE, 0, 0, 0, &b, sizeof(b),
		      golden_goodbye_shutdown, sizeof(golden_goodbye_shutdown));
}

static void
mem_add_matches_golden_bytes(void)
{
	struct vmbs_att_mem_add m;
	struct vmbs_att_frame f;

	accept_golden(golden_mem_add, sizeof(golden_mem_add), false, 1, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_MEM_ADD);
	CU_ASSERT_EQUAL(f.hdr.seq, 2);
	memcpy(&m, f.payload, sizeof(m));
	CU_ASSERT_EQUAL(m.gpa, UINT64_C(0x100000000));
	CU_ASSERT_EQUAL(m.size, UINT64_C(1) << 30);
	CU_ASSERT_EQUAL(m.offset, UINT64_C(2) << 20);
	CU_ASSERT_EQUAL(m.flags, 0);

	accept_golden(golden_mem_add_reply, sizeof(golden_mem_add_reply), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.status, -EEXIST);

	memset(&m, 0, sizeof(m));
	m.gpa = UINT64_C(0x100000000);
	m.size = UINT64_C(1) << 30;
	m.offset = UINT64_C(2) << 20;
	check_encoded(VMBS_ATT_MEM_ADD, 0, 2, 0, &m, sizeof(m),
		      golden_mem_add, sizeof(golden_mem_add));
	check_encoded(VMBS_ATT_MEM_ADD, VMBS_ATT_F_REPLY, 2, -EEXIST, NULL, 0,
		      golden_mem_add_reply, sizeof(golden_mem_add_reply));
}

static void
mem_del_matches_golden_bytes(void)
{
	struct vmbs_att_mem_del m;
	struct vmbs_att_frame f;

	accept_golden(golden_mem_del, sizeof(golden_mem_del), false, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_MEM_DEL);
	memcpy(&m, f.payload, sizeof(m));
	CU_ASSERT_EQUAL(m.gpa, UINT64_C(0x100000000));

	accept_golden(golden_mem_del_reply, sizeof(golden_mem_del_reply), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.status, -EBUSY);

	m.gpa = UINT64_C(0x100000000);
	check_encoded(VMBS_ATT_MEM_DEL, 0, 3, 0, &m, sizeof(m),
		      golden_mem_del, sizeof(golden_mem_del));
	check_encoded(VMBS_ATT_MEM_DEL, VMBS_ATT_F_REPLY, 3, -EBUSY, NULL, 0,
		      golden_mem_del_reply, sizeof(golden_mem_del_reply));
}

static void
doorbell_matches_golden_bytes(void)
{
	struct vmbs_att_doorbell d;
	struct vmbs_att_frame f;

	/* With no fd it clears, with one it sets: both are valid. */
	accept_golden(golden_doorbell, sizeof(golden_doorbell), false, 0, &f);
	accept_golden(golden_doorbell, sizeof(golden_doorbell), false, 1, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_DOORBELL);
	memcpy(&d, f.payload, sizeof(d));
	CU_ASSERT_EQUAL(d.relid, 14);
	CU_ASSERT_EQUAL(d.dir, VMBS_ATT_DB_H2G);

	accept_golden(golden_doorbell_reply, sizeof(golden_doorbell_reply), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.status, -ENOENT);

	d.relid = 14;
	d.dir = VMBS_ATT_DB_H2G;
	check_encoded(VMBS_ATT_DOORBELL, 0, 4, 0, &d, sizeof(d),
		      golden_doorbell, sizeof(golden_doorbell));
	check_encoded(VMBS_ATT_DOORBELL, VMBS_ATT_F_REPLY, 4, -ENOENT, NULL, 0,
		      golden_doorbell_reply, sizeof(golden_doorbell_reply));
}

static void
vmbus_msg_matches_golden_bytes(void)
{
	static const uint8_t requestoffers[8] = { 0x03 };
	static const uint8_t version_response[16] = {
		0x0f, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0x04, 0, 0, 0,
	};
	struct vmbs_att_frame f;

	accept_golden(golden_vmbus_msg_c2s, sizeof(golden_vmbus_msg_c2s), false, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_VMBUS_MSG);
	CU_ASSERT_EQUAL(f.payload[0], 3);
	accept_golden(golden_vmbus_msg_s2c, sizeof(golden_vmbus_msg_s2c), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.len, 16);
	CU_ASSERT_EQUAL(f.payload[0], 15);

	check_encoded(VMBS_ATT_VMBUS_MSG, 0, 0, 0, requestoffers, sizeof(requestoffers),
		      golden_vmbus_msg_c2s, sizeof(golden_vmbus_msg_c2s));
	check_encoded(VMBS_ATT_VMBUS_MSG, 0, 0, 0, version_response,
		      sizeof(version_response), golden_vmbus_msg_s2c,
		      sizeof(golden_vmbus_msg_s2c));
}

static void
error_matches_golden_bytes(void)
{
	struct vmbs_att_error e;
	struct vmbs_att_frame f;

	accept_golden(golden_error, sizeof(golden_error), true, 0, &f);
	CU_ASSERT_EQUAL(f.hdr.type, VMBS_ATT_ERROR);
	CU_ASSERT_EQUAL(f.hdr.seq, 2);
	CU_ASSERT_EQUAL(f.hdr.status, -EPROTO);
	memcpy(&e, f.payload, sizeof(e));
	CU_ASSERT_EQUAL(e.type, VMBS_ATT_MEM_ADD);
	CU_ASSERT_EQUAL(e.seq, 2);

	memset(&e, 0, sizeof(e));
	e.type = VMBS_ATT_MEM_ADD;
	e.seq = 2;
	check_encoded(VMBS_ATT_ERROR, 0, 2, -EPROTO, &e, sizeof(e),
		      golden_error, sizeof(golden_error));
}

static void
every_channel_message_length_is_accepted(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	uint32_t n;
	int rc;

	memset(buf, 0, sizeof(buf));
	for (n = VMBS_ATT_CHMSG_MIN; n <= VMBS_ATT_CHMSG_MAX; n++) {
		rc = vmbs_att_encode(buf, sizeof(buf), VMBS_ATT_VMBUS_MSG, 0, 0, 0,
				     buf + VMBS_ATT_HDR_SIZE, n);
		CU_ASSERT_EQUAL(rc, (int)(VMBS_ATT_HDR_SIZE + n));
		CU_ASSERT_EQUAL(check(buf, (size_t)rc, 0, false), 0);
		CU_ASSERT_EQUAL(check(buf, (size_t)rc, 0, true), 0);
	}
}

static void
accepts_frames_at_any_alignment(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME + 8];
	struct vmbs_att_frame f;
	unsigned int i, a;

	/* A receive buffer need not be aligned; UBSan checks the reads. */
	for (i = 0; i < N_GOLDENS; i++) {
		for (a = 1; a < 8; a++) {
			memcpy(buf + a, goldens[i].bytes, goldens[i].len);
			CU_ASSERT_EQUAL(vmbs_att_frame_check(buf + a, goldens[i].len,
							     goldens[i].n_fds,
							     goldens[i].from_server, &f), 0);
			CU_ASSERT_PTR_EQUAL(f.payload, buf + a + VMBS_ATT_HDR_SIZE);
		}
	}
}

static void
type_names_cover_every_type(void)
{
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(VMBS_ATT_HELLO), "HELLO");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(VMBS_ATT_GOODBYE), "GOODBYE");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(VMBS_ATT_MEM_ADD), "MEM_ADD");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(VMBS_ATT_MEM_DEL), "MEM_DEL");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(VMBS_ATT_DOORBELL), "DOORBELL");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(VMBS_ATT_VMBUS_MSG), "VMBUS_MSG");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(VMBS_ATT_ERROR), "ERROR");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(0), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(8), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(0xffff), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(vmbs_att_type_name(UINT32_MAX), "UNKNOWN");
}

/* ---- rejections ---- */

static void
rejects_frames_shorter_than_the_header(void)
{
	uint8_t buf[VMBS_ATT_HDR_SIZE];
	size_t n;

	/* A prefix of a valid frame, whose header would say len 0. */
	memcpy(buf, golden_hello_refused, sizeof(buf));
	for (n = 0; n < VMBS_ATT_HDR_SIZE; n++) {
		CU_ASSERT_EQUAL(check(buf, n, 0, true), -EMSGSIZE);
		CU_ASSERT_EQUAL(check(buf, n, 0, false), -EMSGSIZE);
	}
}

static void
rejects_frames_longer_than_the_maximum(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME + 64];

	/* Header consistent with the length: still too long. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, golden_vmbus_msg_c2s, VMBS_ATT_HDR_SIZE);
	put32(buf + OFF_LEN, VMBS_ATT_MAX_PAYLOAD + 1);
	CU_ASSERT_EQUAL(check(buf, VMBS_ATT_MAX_FRAME + 1, 0, false), -EMSGSIZE);
	CU_ASSERT_EQUAL(check(buf, VMBS_ATT_MAX_FRAME + 1, 0, true), -EMSGSIZE);
	put32(buf + OFF_LEN, sizeof(buf) - VMBS_ATT_HDR_SIZE);
	CU_ASSERT_EQUAL(check(buf, sizeof(buf), 0, false), -EMSGSIZE);
	/* The largest frame is fine. */
	put32(buf + OFF_LEN, VMBS_ATT_MAX_PAYLOAD);
	CU_ASSERT_EQUAL(check(buf, VMBS_ATT_MAX_FRAME, 0, false), 0);
}

static void
rejects_len_that_disagrees_with_the_datagram(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	unsigned int i;
	size_t n;

	for (i = 0; i < N_GOLDENS; i++) {
		n = goldens[i].len;
		memcpy(buf, goldens[i].bytes, n);
		put32(buf + OFF_LEN, (uint32_t)(n - VMBS_ATT_HDR_SIZE + 1));
		CU_ASSERT_EQUAL(check(buf, n, goldens[i].n_fds, goldens[i].from_server),
				-EMSGSIZE);
		put32(buf + OFF_LEN, UINT32_MAX);
		CU_ASSERT_EQUAL(check(buf, n, goldens[i].n_fds, goldens[i].from_server),
				-EMSGSIZE);
		if (n > VMBS_ATT_HDR_SIZE) {
			/* Header says one byte more than arrived. */
			memcpy(buf, goldens[i].bytes, n);
			CU_ASSERT_EQUAL(check(buf, n - 1, goldens[i].n_fds,
					      goldens[i].from_server), -EMSGSIZE);
		}
		/* Header says one byte less than arrived. */
		memcpy(buf, goldens[i].bytes, n);
		buf[n] = 0;
		CU_ASSERT_EQUAL(check(buf, n + 1, goldens[i].n_fds, goldens[i].from_server),
				-EMSGSIZE);
	}
}

static void
rejects_unknown_types(void)
{
	static const uint16_t types[] = { 0, 8, 9, 0x100, 0x8001, 0xffff };
	uint8_t buf[VMBS_ATT_HDR_SIZE + 8];
	unsigned int i;

	memcpy(buf, golden_goodbye, sizeof(buf));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		put16(buf + OFF_TYPE, types[i]);
		put16(buf + OFF_FLAGS, 0);
		CU_ASSERT_EQUAL(check(buf, sizeof(buf), 0, false), -EPROTO);
		CU_ASSERT_EQUAL(check(buf, sizeof(buf), 0, true), -EPROTO);
		put16(buf + OFF_FLAGS, VMBS_ATT_F_REPLY);
		CU_ASSERT_EQUAL(check(buf, sizeof(buf), 0, false), -EPROTO);
		CU_ASSERT_EQUAL(check(buf, sizeof(buf), 0, true), -EPROTO);
	}
}

static void
rejects_frames_in_the_wrong_direction(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];

	/* Requests coming from the server. */
	CU_ASSERT_EQUAL(check(golden_hello, sizeof(golden_hello), 0, true), -EPROTO);
	CU_ASSERT_EQUAL(check(golden_mem_add, sizeof(golden_mem_add), 0, true), -EPROTO);
	CU_ASSERT_EQUAL(check(golden_mem_add, sizeof(golden_mem_add), 1, true), -EPROTO);
	CU_ASSERT_EQUAL(check(golden_mem_del, sizeof(golden_mem_del), 0, true), -EPROTO);
	CU_ASSERT_EQUAL(check(golden_doorbell, sizeof(golden_doorbell), 0, true), -EPROTO);

	/* Replies, ERROR and refusal notices coming from the client. */
	CU_ASSERT_EQUAL(check(golden_hello_reply, sizeof(golden_hello_reply), 0, false),
			-EPROTO);
	CU_ASSERT_EQUAL(check(golden_hello_refused, sizeof(golden_hello_refused), 0, false),
			-EPROTO);
	CU_ASSERT_EQUAL(check(golden_goodbye_reply, sizeof(golden_goodbye_reply), 0, false),
			-EPROTO);
	CU_ASSERT_EQUAL(check(golden_mem_add_reply, sizeof(golden_mem_add_reply), 0, false),
			-EPROTO);
	CU_ASSERT_EQUAL(check(golden_mem_del_reply, sizeof(golden_mem_del_reply), 0, false),
			-EPROTO);
	CU_ASSERT_EQUAL(check(golden_doorbell_reply, sizeof(golden_doorbell_reply), 0,
			      false), -EPROTO);
	CU_ASSERT_EQUAL(check(golden_goodbye_refused, sizeof(golden_goodbye_refused), 0,
			      false), -EPROTO);
	CU_ASSERT_EQUAL(check(golden_error, sizeof(golden_error), 0, false), -EPROTO);

	/* VMBUS_MSG and ERROR are never replies. */
	memcpy(buf, golden_vmbus_msg_s2c, sizeof(golden_vmbus_msg_s2c));
	put16(buf + OFF_FLAGS, VMBS_ATT_F_REPLY);
	CU_ASSERT_EQUAL(check(buf, sizeof(golden_vmbus_msg_s2c), 0, true), -EPROTO);
	memcpy(buf, golden_error, sizeof(golden_error));
	put16(buf + OFF_FLAGS, VMBS_ATT_F_REPLY);
	CU_ASSERT_EQUAL(check(buf, sizeof(golden_error), 0, true), -EPROTO);
}

static void
rejects_unknown_flag_bits(void)
{
	static const uint16_t bits[] = { 0x2, 0x4, 0x80, 0x100, 0x8000, 0xfffe };
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	unsigned int i, b;
	uint16_t flags;

	for (i = 0; i < N_GOLDENS; i++) {
		for (b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
			memcpy(buf, goldens[i].bytes, goldens[i].len);
			flags = (uint16_t)(buf[OFF_FLAGS] | buf[OFF_FLAGS + 1] << 8);
			put16(buf + OFF_FLAGS, (uint16_t)(flags | bits[b]));
			CU_ASSERT_EQUAL(check(buf, goldens[i].len, goldens[i].n_fds,
					      goldens[i].from_server), -EPROTO);
		}
	}
}

static void
rejects_status_in_a_request(void)
{
	static const int32_t statuses[] = { -1, 1, -EPROTO, INT32_MIN, INT32_MAX };
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	unsigned int i, s;

	for (i = 0; i < N_GOLDENS; i++) {
		if (goldens[i].from_server)
			continue;
		for (s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
			memcpy(buf, goldens[i].bytes, goldens[i].len);
			put32(buf + OFF_STATUS, (uint32_t)statuses[s]);
			CU_ASSERT_EQUAL(check(buf, goldens[i].len, goldens[i].n_fds, false),
					-EPROTO);
		}
	}
}

static void
rejects_impossible_server_statuses(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	unsigned int i;

	/* Replies and notices: 0 or negative only. */
	for (i = 0; i < N_GOLDENS; i++) {
		if (!goldens[i].from_server)
			continue;
		memcpy(buf, goldens[i].bytes, goldens[i].len);
		put32(buf + OFF_STATUS, 1);
		CU_ASSERT_EQUAL(check(buf, goldens[i].len, 0, true), -EPROTO);
		put32(buf + OFF_STATUS, (uint32_t)INT32_MAX);
		CU_ASSERT_EQUAL(check(buf, goldens[i].len, 0, true), -EPROTO);
	}
	/* ERROR must report an error. */
	memcpy(buf, golden_error, sizeof(golden_error));
	put32(buf + OFF_STATUS, 0);
	CU_ASSERT_EQUAL(check(buf, sizeof(golden_error), 0, true), -EPROTO);
	/* A channel message is not a reply: it has no status. */
	memcpy(buf, golden_vmbus_msg_s2c, sizeof(golden_vmbus_msg_s2c));
	put32(buf + OFF_STATUS, (uint32_t)-EIO);
	CU_ASSERT_EQUAL(check(buf, sizeof(golden_vmbus_msg_s2c), 0, true), -EPROTO);
	/* Every negative status is a valid refusal. */
	memcpy(buf, golden_mem_add_reply, sizeof(golden_mem_add_reply));
	put32(buf + OFF_STATUS, (uint32_t)INT32_MIN);
	CU_ASSERT_EQUAL(check(buf, sizeof(golden_mem_add_reply), 0, true), 0);
}

/* A frame shape and the payload lengths it may have. */
struct shape {
	uint16_t type;
	uint16_t flags;
	int32_t status;
	bool from_server;
	uint32_t n_fds;
	uint32_t min_len;
	uint32_t max_len;
};

static const struct shape shapes[] = {
	{ VMBS_ATT_HELLO, 0, 0, false, 0, 72, 72 },
	{ VMBS_ATT_GOODBYE, 0, 0, false, 0, 8, 8 },
	{ VMBS_ATT_MEM_ADD, 0, 0, false, 1, 32, 32 },
	{ VMBS_ATT_MEM_DEL, 0, 0, false, 0, 8, 8 },
	{ VMBS_ATT_DOORBELL, 0, 0, false, 1, 8, 8 },
	{ VMBS_ATT_VMBUS_MSG, 0, 0, false, 0, 8, 240 },
	{ VMBS_ATT_HELLO, VMBS_ATT_F_REPLY, 0, true, 0, 32, 32 },
	{ VMBS_ATT_HELLO, VMBS_ATT_F_REPLY, -EBUSY, true, 0, 0, 0 },
	{ VMBS_ATT_GOODBYE, VMBS_ATT_F_REPLY, 0, true, 0, 8, 8 },
	{ VMBS_ATT_MEM_ADD, VMBS_ATT_F_REPLY, 0, true, 0, 0, 0 },
	{ VMBS_ATT_MEM_ADD, VMBS_ATT_F_REPLY, -E2BIG, true, 0, 0, 0 },
	{ VMBS_ATT_MEM_DEL, VMBS_ATT_F_REPLY, 0, true, 0, 0, 0 },
	{ VMBS_ATT_DOORBELL, VMBS_ATT_F_REPLY, 0, true, 0, 0, 0 },
	{ VMBS_ATT_GOODBYE, 0, -EACCES, true, 0, 8, 8 },
	{ VMBS_ATT_VMBUS_MSG, 0, 0, true, 0, 8, 240 },
	{ VMBS_ATT_ERROR, 0, -EINVAL, true, 0, 8, 8 },
};

static void
rejects_payload_sizes_wrong_for_the_type(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	const struct shape *s;
	unsigned int i;
	uint32_t n;
	int rc;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		s = &shapes[i];
		for (n = 0; n <= VMBS_ATT_MAX_PAYLOAD; n++) {
			if (n >= s->min_len && n <= s->max_len)
				continue;
			memset(buf, 0, sizeof(buf));
			rc = vmbs_att_encode(buf, sizeof(buf), s->type, s->flags, 1,
					     s->status, buf + VMBS_ATT_HDR_SIZE, n);
			VMBS_CHECK(rc == (int)(VMBS_ATT_HDR_SIZE + n));
			CU_ASSERT_EQUAL(check(buf, (size_t)rc, s->n_fds, s->from_server),
					-EPROTO);
		}
	}
}

static void
rejects_non_zero_reserved_fields(void)
{
	static const struct {
		const uint8_t *bytes;
		size_t len;
		bool from_server;
		uint32_t n_fds;
		size_t off;	/* first reserved byte */
		size_t n;	/* reserved bytes */
	} fields[] = {
		{ golden_goodbye, sizeof(golden_goodbye), false, 0, 20, 4 },
		{ golden_goodbye_reply, sizeof(golden_goodbye_reply), true, 0, 20, 4 },
		{ golden_goodbye_refused, sizeof(golden_goodbye_refused), true, 0, 20, 4 },
		{ golden_goodbye_shutdown, sizeof(golden_goodbye_shutdown), true, 0, 20, 4 },
		/* MEM_ADD flags (none defined) and reserved. */
		{ golden_mem_add, sizeof(golden_mem_add), false, 1, 40, 8 },
		{ golden_error, sizeof(golden_error), true, 0, 18, 2 },
	};
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	unsigned int i;
	size_t b;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		for (b = fields[i].off; b < fields[i].off + fields[i].n; b++) {
			memcpy(buf, fields[i].bytes, fields[i].len);
			buf[b] = 0x01;
			CU_ASSERT_EQUAL(check(buf, fields[i].len, fields[i].n_fds,
					      fields[i].from_server), -EPROTO);
			buf[b] = 0x80;
			CU_ASSERT_EQUAL(check(buf, fields[i].len, fields[i].n_fds,
					      fields[i].from_server), -EPROTO);
		}
	}
}

/* HELLO with the 64-byte name field replaced by @p name (all 64 bytes). */
static int
check_hello_name(const char name[VMBS_ATT_VM_NAME_MAX])
{
	uint8_t buf[sizeof(golden_hello)];

	memcpy(buf, golden_hello, sizeof(buf));
	memcpy(buf + OFF_NAME, name, VMBS_ATT_VM_NAME_MAX);
	return check(buf, sizeof(buf), 0, false);
}

static void
rejects_malformed_vm_names(void)
{
	static const char bad_chars[] = " /\\:@+*?!\"'%$#~\n\t\x7f\x80\xff";
	char name[VMBS_ATT_VM_NAME_MAX];
	size_t i;

	/* Empty. */
	memset(name, 0, sizeof(name));
	CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(name));

	/* 64 characters: no room for the NUL. */
	memset(name, 'a', sizeof(name));
	CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(name));

	/* 63 characters and the NUL: the longest name. */
	name[63] = '\0';
	CU_ASSERT_EQUAL(check_hello_name(name), 0);
	CU_ASSERT_TRUE(vmbs_att_vm_name_valid(name));

	/* A character outside [A-Za-z0-9._-], first, in the middle, last. */
	for (i = 0; i < sizeof(bad_chars) - 1; i++) {
		memset(name, 0, sizeof(name));
		memcpy(name, "vm-01", 5);
		name[0] = bad_chars[i];
		CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
		name[0] = 'v';
		name[2] = bad_chars[i];
		CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
		name[2] = '-';
		name[5] = bad_chars[i];
		CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
		CU_ASSERT_FALSE(vmbs_att_vm_name_valid(name));
	}

	/* Bytes after the NUL: right after it, and in the last byte. */
	memset(name, 0, sizeof(name));
	memcpy(name, "vm-01", 5);
	name[6] = 'x';
	CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(name));
	name[6] = '\0';
	name[63] = 'x';
	CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
	name[63] = '\0';
	CU_ASSERT_EQUAL(check_hello_name(name), 0);

	/* Leading NUL hides a name behind it. */
	memset(name, 0, sizeof(name));
	memcpy(name + 1, "vm-01", 5);
	CU_ASSERT_EQUAL(check_hello_name(name), -EPROTO);
}

static void
accepts_every_allowed_name_character(void)
{
	static const char allowed[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
	char name[VMBS_ATT_VM_NAME_MAX];
	size_t i;

	for (i = 0; i < sizeof(allowed) - 1; i++) {
		memset(name, 0, sizeof(name));
		name[0] = 'v';
		name[1] = allowed[i];
		CU_ASSERT_TRUE(vmbs_att_vm_name_valid(name));
		CU_ASSERT_EQUAL(check_hello_name(name), 0);
	}
	/* The first character is a letter or digit: no ".", "..", "-x". */
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(memcpy(memset(name, 0, sizeof(name)), ".", 1)));
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(memcpy(memset(name, 0, sizeof(name)), "..", 2)));
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(memcpy(memset(name, 0, sizeof(name)), "-vm", 3)));
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(memcpy(memset(name, 0, sizeof(name)), "_vm", 3)));
	CU_ASSERT_TRUE(vmbs_att_vm_name_valid(memcpy(memset(name, 0, sizeof(name)), "7.vm", 4)));
	memset(name, 0, sizeof(name));
	memcpy(name, allowed, 63);
	CU_ASSERT_TRUE(vmbs_att_vm_name_valid(name));
	CU_ASSERT_FALSE(vmbs_att_vm_name_valid(NULL));
}

static void
rejects_wrong_fd_counts(void)
{
	unsigned int i;

	CU_ASSERT_EQUAL(check(golden_mem_add, sizeof(golden_mem_add), 0, false), -EBADF);
	CU_ASSERT_EQUAL(check(golden_mem_add, sizeof(golden_mem_add), 2, false), -EBADF);
	CU_ASSERT_EQUAL(check(golden_doorbell, sizeof(golden_doorbell), 2, false), -EBADF);
	CU_ASSERT_EQUAL(check(golden_doorbell, sizeof(golden_doorbell), UINT32_MAX, false),
			-EBADF);
	/* Everything else carries none, in either direction. */
	for (i = 0; i < N_GOLDENS; i++) {
		if (goldens[i].bytes == golden_mem_add || goldens[i].bytes == golden_doorbell)
			continue;
		CU_ASSERT_EQUAL(check(goldens[i].bytes, goldens[i].len, 1,
				      goldens[i].from_server), -EBADF);
	}
}

static void
rejects_null_arguments(void)
{
	struct vmbs_att_frame f;

	CU_ASSERT_EQUAL(vmbs_att_frame_check(NULL, 24, 0, false, &f), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_frame_check(golden_goodbye, sizeof(golden_goodbye), 0,
					     false, NULL), -EINVAL);
}

static void
encode_rejects_bad_arguments_without_writing(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME + 8];
	uint8_t pl[VMBS_ATT_MAX_PAYLOAD + 1];
	unsigned int i;

	memset(pl, 0, sizeof(pl));
	memset(buf, 0xa5, sizeof(buf));
	CU_ASSERT_EQUAL(vmbs_att_encode(NULL, 64, VMBS_ATT_GOODBYE, 0, 0, 0, pl, 8),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_encode(buf, sizeof(buf), VMBS_ATT_GOODBYE, 0, 0, 0,
					NULL, 8), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_encode(buf, sizeof(buf), VMBS_ATT_VMBUS_MSG, 0, 0, 0,
					pl, VMBS_ATT_MAX_PAYLOAD + 1), -EMSGSIZE);
	CU_ASSERT_EQUAL(vmbs_att_encode(buf, VMBS_ATT_HDR_SIZE - 1, VMBS_ATT_HELLO,
					VMBS_ATT_F_REPLY, 0, -EBUSY, NULL, 0), -ENOBUFS);
	CU_ASSERT_EQUAL(vmbs_att_encode(buf, VMBS_ATT_HDR_SIZE + 7, VMBS_ATT_GOODBYE,
					0, 0, 0, pl, 8), -ENOBUFS);
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != 0xa5)
			break;
	CU_ASSERT_EQUAL(i, sizeof(buf));

	/* Exact fits work, and a NULL payload is fine with len 0. */
	CU_ASSERT_EQUAL(vmbs_att_encode(buf, VMBS_ATT_HDR_SIZE, VMBS_ATT_HELLO,
					VMBS_ATT_F_REPLY, 0, -EBUSY, NULL, 0),
			(int)VMBS_ATT_HDR_SIZE);
	CU_ASSERT_EQUAL(vmbs_att_encode(buf, VMBS_ATT_MAX_FRAME, VMBS_ATT_VMBUS_MSG, 0, 0,
					0, pl, VMBS_ATT_MAX_PAYLOAD),
			(int)VMBS_ATT_MAX_FRAME);
}

/* ---- sockets and descriptors ---- */

static int
open_fd_count(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The descriptor number the next open() would get. */
static int
next_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static bool
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static int
make_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

static int
make_memfd(void)
{
	int fd = memfd_create("vmbs-test-attach", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, 4096) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* sendmsg with any number of descriptors, bypassing vmbs_att_send(). */
static ssize_t
raw_send(int sock, const void *buf, size_t len, const int *fds, unsigned int n)
{
	size_t space = n ? CMSG_SPACE(sizeof(int) * n) : 0;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	void *ctl = NULL;
	ssize_t rc;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (n != 0) {
		ctl = calloc(1, space);
		if (ctl == NULL)
			return -1;
		msg.msg_control = ctl;
		msg.msg_controllen = space;
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	rc = sendmsg(sock, &msg, MSG_NOSIGNAL);
	free(ctl);
	return rc;
}

static void
close_all(const int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void
sends_and_receives_a_frame_without_fds(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	struct vmbs_att_frame f;
	uint32_t n_fds = 99;
	int sv[2], fd = -1;
	ssize_t n;

	VMBS_CHECK(make_pair(sv) == 0);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_hello, sizeof(golden_hello), NULL, 0), 0);
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &fd, 1, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_hello));
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(memcmp(buf, golden_hello, sizeof(golden_hello)), 0);
	CU_ASSERT_EQUAL(vmbs_att_frame_check(buf, (size_t)n, n_fds, false, &f), 0);

	/* Server to client, and a caller that takes no descriptors at all. */
	CU_ASSERT_EQUAL(vmbs_att_send(sv[0], golden_hello_reply, sizeof(golden_hello_reply),
				      NULL, 0), 0);
	n = vmbs_att_recv(sv[1], buf, sizeof(buf), NULL, 0, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_hello_reply));
	CU_ASSERT_EQUAL(vmbs_att_frame_check(buf, (size_t)n, n_fds, true, &f), 0);
	close(sv[0]);
	close(sv[1]);
}

static void
passes_an_fd_that_refers_to_the_same_file(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	struct stat st_sent, st_got;
	struct vmbs_att_frame f;
	int sv[2], mfd, got = -1;
	uint32_t n_fds = 0;
	char c = 0;
	ssize_t n;

	VMBS_CHECK(make_pair(sv) == 0);
	mfd = make_memfd();
	VMBS_CHECK(mfd >= 0);

	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_mem_add, sizeof(golden_mem_add),
				      &mfd, 1), 0);
	/* The sender keeps its descriptor. */
	CU_ASSERT_TRUE(fd_is_open(mfd));

	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_mem_add));
	VMBS_CHECK(n_fds == 1);
	CU_ASSERT_NOT_EQUAL(got, mfd);
	CU_ASSERT_EQUAL(vmbs_att_frame_check(buf, (size_t)n, n_fds, false, &f), 0);

	VMBS_CHECK(fstat(mfd, &st_sent) == 0);
	VMBS_CHECK(fstat(got, &st_got) == 0);
	CU_ASSERT_EQUAL(st_sent.st_dev, st_got.st_dev);
	CU_ASSERT_EQUAL(st_sent.st_ino, st_got.st_ino);
	/* Same open file: a write through one is read through the other. */
	CU_ASSERT_EQUAL(pwrite(mfd, "z", 1, 100), 1);
	CU_ASSERT_EQUAL(pread(got, &c, 1, 100), 1);
	CU_ASSERT_EQUAL(c, 'z');
	/* MSG_CMSG_CLOEXEC: nothing leaks into a child the server execs. */
	CU_ASSERT_TRUE(fcntl(got, F_GETFD) & FD_CLOEXEC);

	close(got);
	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

static void
doorbell_may_carry_an_fd_or_none(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	int sv[2], mfd, got = -1;
	uint32_t n_fds = 9;
	ssize_t n;

	VMBS_CHECK(make_pair(sv) == 0);
	mfd = make_memfd();
	VMBS_CHECK(mfd >= 0);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_doorbell, sizeof(golden_doorbell),
				      &mfd, 1), 0);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_doorbell, sizeof(golden_doorbell),
				      NULL, 0), 0);
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_doorbell));
	CU_ASSERT_EQUAL(n_fds, 1);
	CU_ASSERT_EQUAL(check(buf, (size_t)n, n_fds, false), 0);
	close(got);
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_doorbell));
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(check(buf, (size_t)n, n_fds, false), 0);
	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

/* Send @p n_send copies of a descriptor, receive with room for @p max. */
static void
expect_fds_refused(unsigned int n_send, uint32_t max)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	int sv[2], mfd, before, probe, got[64];
	uint32_t n_fds = 7;
	int *fds;
	unsigned int i;
	ssize_t n;

	VMBS_CHECK(make_pair(sv) == 0);
	mfd = make_memfd();
	VMBS_CHECK(mfd >= 0);
	fds = calloc(n_send, sizeof(int));
	VMBS_CHECK(fds != NULL);
	for (i = 0; i < n_send; i++) {
		fds[i] = dup(mfd);
		VMBS_CHECK(fds[i] >= 0);
	}
	CU_ASSERT_EQUAL(raw_send(sv[1], golden_doorbell, sizeof(golden_doorbell), fds,
				 n_send), (ssize_t)sizeof(golden_doorbell));
	close_all(fds, n_send);
	free(fds);
	/* A frame behind it, to show that only the bad one was dropped. */
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				      NULL, 0), 0);

	before = open_fd_count();
	probe = next_free_fd();
	VMBS_CHECK(before > 0 && probe >= 0);
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), got, max, &n_fds);
	CU_ASSERT_EQUAL(n, -EBADF);
	CU_ASSERT_EQUAL(n_fds, 0);
	/* Every descriptor that arrived was closed again. */
	CU_ASSERT_EQUAL(open_fd_count(), before);
	CU_ASSERT_FALSE(fd_is_open(probe));

	n = vmbs_att_recv(sv[0], buf, sizeof(buf), got, max, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_goodbye));
	CU_ASSERT_EQUAL(memcmp(buf, golden_goodbye, sizeof(golden_goodbye)), 0);
	CU_ASSERT_EQUAL(n_fds, 0);

	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

static void
closes_fds_beyond_max_fds(void)
{
	expect_fds_refused(1, 0);
	expect_fds_refused(2, 1);
	expect_fds_refused(3, 1);
	expect_fds_refused(8, 2);
}

static void
closes_fds_of_truncated_control_data(void)
{
	/*
	 * More than the receiver's control buffer holds: MSG_CTRUNC. Even a
	 * caller with room for all of them gets none, since some were lost.
	 */
	expect_fds_refused(40, 1);
	expect_fds_refused(200, 1);
	expect_fds_refused(40, 64);
}

static void
discards_an_oversized_datagram_and_its_fds(void)
{
	uint8_t big[VMBS_ATT_MAX_FRAME + 44];
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	int sv[2], mfd, before, probe, got = -1;
	uint32_t n_fds = 5;
	ssize_t n;

	VMBS_CHECK(make_pair(sv) == 0);
	mfd = make_memfd();
	VMBS_CHECK(mfd >= 0);
	memset(big, 0, sizeof(big));
	memcpy(big, golden_vmbus_msg_c2s, VMBS_ATT_HDR_SIZE);
	put32(big + OFF_LEN, sizeof(big) - VMBS_ATT_HDR_SIZE);
	CU_ASSERT_EQUAL(raw_send(sv[1], big, sizeof(big), &mfd, 1), (ssize_t)sizeof(big));
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				      NULL, 0), 0);
	/* A valid frame, but larger than this caller's buffer. */
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_mem_add, sizeof(golden_mem_add),
				      &mfd, 1), 0);

	before = open_fd_count();
	probe = next_free_fd();
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, -EMSGSIZE);
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(open_fd_count(), before);
	CU_ASSERT_FALSE(fd_is_open(probe));

	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_goodbye));
	CU_ASSERT_EQUAL(n_fds, 0);

	n = vmbs_att_recv(sv[0], buf, sizeof(golden_mem_add) - 1, &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, -EMSGSIZE);
	CU_ASSERT_EQUAL(open_fd_count(), before);

	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

static void
ignores_credentials_control_messages(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	int sv[2], mfd, on = 1, got = -1;
	uint32_t n_fds = 0;
	struct stat a, b;
	ssize_t n;

	VMBS_CHECK(make_pair(sv) == 0);
	VMBS_CHECK(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0);
	mfd = make_memfd();
	VMBS_CHECK(mfd >= 0);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_mem_add, sizeof(golden_mem_add),
				      &mfd, 1), 0);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				      NULL, 0), 0);
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_mem_add));
	VMBS_CHECK(n_fds == 1);
	VMBS_CHECK(fstat(mfd, &a) == 0 && fstat(got, &b) == 0);
	CU_ASSERT_EQUAL(a.st_ino, b.st_ino);
	close(got);
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_goodbye));
	CU_ASSERT_EQUAL(n_fds, 0);
	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

static void
returns_zero_at_end_of_stream(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	uint32_t n_fds = 3;
	int sv[2], got = -1;

	VMBS_CHECK(make_pair(sv) == 0);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				      NULL, 0), 0);
	close(sv[1]);
	/* Queued frames first, then end of stream, and it stays there. */
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds),
			(ssize_t)sizeof(golden_goodbye));
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds), 0);
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds), 0);
	close(sv[0]);
}

static void
closes_fds_of_an_empty_datagram(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	int sv[2], mfd, before, got = -1;
	uint32_t n_fds = 3;

	VMBS_CHECK(make_pair(sv) == 0);
	mfd = make_memfd();
	VMBS_CHECK(mfd >= 0);
	CU_ASSERT_EQUAL(raw_send(sv[1], buf, 0, &mfd, 1), 0);
	before = open_fd_count();
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), &got, 1, &n_fds), 0);
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(open_fd_count(), before);
	close(mfd);
	close(sv[0]);
	close(sv[1]);
}

static void
non_blocking_sockets_report_eagain(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	uint32_t n_fds, i;
	int sv[2], rc = 0;

	VMBS_CHECK(make_pair(sv) == 0);
	VMBS_CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), NULL, 0, &n_fds), -EAGAIN);

	/* Fill the peer's queue: a full socket refuses, it never blocks. */
	for (i = 0; i < 1000000 && rc == 0; i++)
		rc = vmbs_att_send(sv[0], golden_goodbye, sizeof(golden_goodbye), NULL, 0);
	CU_ASSERT_EQUAL(rc, -EAGAIN);
	CU_ASSERT(i > 1);
	close(sv[0]);
	close(sv[1]);
}

static void
send_reports_epipe_without_a_signal(void)
{
	static const struct timespec no_wait = { 0, 0 };
	sigset_t pipe_set, old, pending;
	int sv[2], pipe_pending;

	VMBS_CHECK(make_pair(sv) == 0);
	close(sv[1]);
	/* Hold SIGPIPE back, so that one raised would be seen pending. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	VMBS_CHECK(sigprocmask(SIG_BLOCK, &pipe_set, &old) == 0);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[0], golden_goodbye, sizeof(golden_goodbye),
				      NULL, 0), -EPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	pipe_pending = sigismember(&pending, SIGPIPE);
	if (pipe_pending)
		sigtimedwait(&pipe_set, NULL, &no_wait);
	sigprocmask(SIG_SETMASK, &old, NULL);
	CU_ASSERT_EQUAL(pipe_pending, 0);
	close(sv[0]);
}

static void
send_and_recv_reject_bad_arguments(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	int sv[2], fds[2], bad = -1;
	uint32_t n_fds = 4;

	VMBS_CHECK(make_pair(sv) == 0);
	fds[0] = sv[0];
	fds[1] = sv[0];
	CU_ASSERT_EQUAL(vmbs_att_send(-1, golden_goodbye, sizeof(golden_goodbye), NULL, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], NULL, 24, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, 0, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				      NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				      fds, 2), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				      &bad, 1), -EINVAL);

	CU_ASSERT_EQUAL(vmbs_att_recv(-1, buf, sizeof(buf), NULL, 0, &n_fds), -EINVAL);
	CU_ASSERT_EQUAL(n_fds, 0);
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], NULL, sizeof(buf), NULL, 0, &n_fds), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), NULL, 1, &n_fds), -EINVAL);
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), NULL, 0, NULL), -EINVAL);

	/* None of these sent anything. */
	VMBS_CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	CU_ASSERT_EQUAL(vmbs_att_recv(sv[0], buf, sizeof(buf), NULL, 0, &n_fds), -EAGAIN);
	close(sv[0]);
	close(sv[1]);
}

/* ---- EINTR: a timer interrupts blocking calls while a child acts late ---- */

static volatile sig_atomic_t alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM every 5 ms, without SA_RESTART, so blocking calls see EINTR. */
static void
interrupts_start(struct sigaction *old)
{
	struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	alarms = 0;
	sigaction(SIGALRM, &sa, old);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void
interrupts_stop(const struct sigaction *old)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	sigaction(SIGALRM, old, NULL);
}

static void
recv_retries_after_eintr(void)
{
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	struct sigaction old;
	uint32_t n_fds = 0;
	int sv[2], status;
	ssize_t n;
	pid_t pid;

	VMBS_CHECK(make_pair(sv) == 0);
	pid = fork();
	VMBS_CHECK(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		usleep(100 * 1000);
		_exit(vmbs_att_send(sv[1], golden_goodbye, sizeof(golden_goodbye),
				    NULL, 0) == 0 ? 0 : 1);
	}
	interrupts_start(&old);
	n = vmbs_att_recv(sv[0], buf, sizeof(buf), NULL, 0, &n_fds);
	interrupts_stop(&old);
	CU_ASSERT_EQUAL(n, (ssize_t)sizeof(golden_goodbye));
	CU_ASSERT(alarms > 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	close(sv[1]);
}

static void
send_retries_after_eintr(void)
{
	static const uint8_t marker[VMBS_ATT_HDR_SIZE] = { [0] = 0x06, [8] = 0xed, 0xfe };
	uint8_t buf[VMBS_ATT_MAX_FRAME];
	struct sigaction old;
	int sv[2], status, rc = 0, i;
	uint32_t n_fds;
	pid_t pid;

	VMBS_CHECK(make_pair(sv) == 0);
	/* Fill the queue so that the next blocking send has to wait. */
	VMBS_CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	for (i = 0; i < 1000000 && rc == 0; i++)
		rc = vmbs_att_send(sv[0], golden_goodbye, sizeof(golden_goodbye), NULL, 0);
	VMBS_CHECK(rc == -EAGAIN);
	VMBS_CHECK(fcntl(sv[0], F_SETFL, 0) == 0);

	pid = fork();
	VMBS_CHECK(pid >= 0);
	if (pid == 0) {
		/* Drain late, until the marker frame (seq 0xfeed) arrives. */
		close(sv[0]);
		alarm(10);	/* never outlive a failed parent */
		usleep(100 * 1000);
		for (;;) {
			ssize_t n = vmbs_att_recv(sv[1], buf, sizeof(buf), NULL, 0, &n_fds);

			if (n <= 0)
				_exit(1);
			if (n == (ssize_t)sizeof(marker) &&
			    memcmp(buf, marker, sizeof(marker)) == 0)
				_exit(0);
		}
	}
	interrupts_start(&old);
	rc = vmbs_att_send(sv[0], marker, sizeof(marker), NULL, 0);
	interrupts_stop(&old);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		kill(pid, SIGKILL);
	CU_ASSERT(alarms > 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	close(sv[1]);
}

/* ---- suites ---- */

static const struct vmbs_test_case golden_cases[] = {
	{ "hello_matches_golden_bytes", hello_matches_golden_bytes },
	{ "hello_reply_matches_golden_bytes", hello_reply_matches_golden_bytes },
	{ "hello_refusal_matches_golden_bytes", hello_refusal_matches_golden_bytes },
	{ "goodbye_frames_match_golden_bytes", goodbye_frames_match_golden_bytes },
	{ "mem_add_matches_golden_bytes", mem_add_matches_golden_bytes },
	{ "mem_del_matches_golden_bytes", mem_del_matches_golden_bytes },
	{ "doorbell_matches_golden_bytes", doorbell_matches_golden_bytes },
	{ "vmbus_msg_matches_golden_bytes", vmbus_msg_matches_golden_bytes },
	{ "error_matches_golden_bytes", error_matches_golden_bytes },
	{ "every_channel_message_length_is_accepted",
	  every_channel_message_length_is_accepted },
	{ "accepts_frames_at_any_alignment", accepts_frames_at_any_alignment },
	{ "type_names_cover_every_type", type_names_cover_every_type },
	{ NULL, NULL },
};

static const struct vmbs_test_case reject_cases[] = {
	{ "rejects_frames_shorter_than_the_header", rejects_frames_shorter_than_the_header },
	{ "rejects_frames_longer_than_the_maximum", rejects_frames_longer_than_the_maximum },
	{ "rejects_len_that_disagrees_with_the_datagram",
	  rejects_len_that_disagrees_with_the_datagram },
	{ "rejects_unknown_types", rejects_unknown_types },
	{ "rejects_frames_in_the_wrong_direction", rejects_frames_in_the_wrong_direction },
	{ "rejects_unknown_flag_bits", rejects_unknown_flag_bits },
	{ "rejects_status_in_a_request", rejects_status_in_a_request },
	{ "rejects_impossible_server_statuses", rejects_impossible_server_statuses },
	{ "rejects_payload_sizes_wrong_for_the_type",
	  rejects_payload_sizes_wrong_for_the_type },
	{ "rejects_non_zero_reserved_fields", rejects_non_zero_reserved_fields },
	{ "rejects_malformed_vm_names", rejects_malformed_vm_names },
	{ "accepts_every_allowed_name_character", accepts_every_allowed_name_character },
	{ "rejects_wrong_fd_counts", rejects_wrong_fd_counts },
	{ "rejects_null_arguments", rejects_null_arguments },
	{ "encode_rejects_bad_arguments_without_writing",
	  encode_rejects_bad_arguments_without_writing },
	{ NULL, NULL },
};

static const struct vmbs_test_case socket_cases[] = {
	{ "sends_and_receives_a_frame_without_fds", sends_and_receives_a_frame_without_fds },
	{ "passes_an_fd_that_refers_to_the_same_file",
	  passes_an_fd_that_refers_to_the_same_file },
	{ "doorbell_may_carry_an_fd_or_none", doorbell_may_carry_an_fd_or_none },
	{ "closes_fds_beyond_max_fds", closes_fds_beyond_max_fds },
	{ "closes_fds_of_truncated_control_data", closes_fds_of_truncated_control_data },
	{ "discards_an_oversized_datagram_and_its_fds",
	  discards_an_oversized_datagram_and_its_fds },
	{ "ignores_credentials_control_messages", ignores_credentials_control_messages },
	{ "returns_zero_at_end_of_stream", returns_zero_at_end_of_stream },
	{ "closes_fds_of_an_empty_datagram", closes_fds_of_an_empty_datagram },
	{ "non_blocking_sockets_report_eagain", non_blocking_sockets_report_eagain },
	{ "send_reports_epipe_without_a_signal", send_reports_epipe_without_a_signal },
	{ "send_and_recv_reject_bad_arguments", send_and_recv_reject_bad_arguments },
	{ "recv_retries_after_eintr", recv_retries_after_eintr },
	{ "send_retries_after_eintr", send_retries_after_eintr },
	{ NULL, NULL },
};

static const struct vmbs_test_suite golden_suite = {
	"attach_golden", NULL, NULL, golden_cases };
static const struct vmbs_test_suite reject_suite = {
	"attach_reject", NULL, NULL, reject_cases };
static const struct vmbs_test_suite socket_suite = {
	"attach_socket", NULL, NULL, socket_cases };

int
main(void)
{
	static const struct vmbs_test_suite *const suites[] = {
		&golden_suite, &reject_suite, &socket_suite, NULL,
	};

	return vmbs_test_run(suites);
}
