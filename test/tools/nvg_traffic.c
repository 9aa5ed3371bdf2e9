/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The vmbus-srv authors
 */

/*
 * nvg_traffic: one scripted netvsc guest (test/common/nv_guest, DPDK
 * 22.11's netvsc PMD on the wire) as a standalone process, for driving a
 * host application such as dpdk-testpmd from a shell script.
 *
 * It attaches to an attach socket as a VM (retrying until the socket and
 * the VM exist), brings the NIC up as DPDK does (probe, configure, start
 * with filter DIRECTED|ALL_MULTICAST|BROADCAST, or PROMISCUOUS), sends N
 * frames to a given MAC (send-buffer and GPA-direct layouts mixed, some
 * send-buffer requests aggregating several frames) and receives until M
 * frames arrived or the deadline passed. It prints one summary line
 *
 *   nvg_traffic: vm NAME sent N received M bad B
 *
 * and exits 0 only if all N frames were sent and completed, all M
 * expected frames arrived intact and nothing else arrived.
 *
 * Frame layout (the receiver checks every byte):
 *   0   destination MAC
 *   6   source MAC (the sender's own)
 *   12  EtherType 0x88b5 (IEEE local experimental)
 *   14  "NVGT"
 *   18  sequence number, big-endian 32 bits
 *   22  the sender's MAC again (survives a MAC swap)
 *   28  frame length, big-endian 32 bits
 *   32  pattern bytes derived from the sequence number and the offset
 *
 * With --check plain a frame must reach us unchanged: destination our MAC,
 * source the sender's. With --check swapped the host swapped the MACs
 * (testpmd macswap): destination the sender's MAC, source ours.
 *
 * Two guests that must not send before both are up synchronise through
 * files: --ready-file is created once the NIC is up, --go-file is waited
 * for before the first frame.
 *
 * Single-threaded; EAL-free. Every wait is bounded by --timeout-s.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nv_guest.h"

#define FRAME_HDR_LEN 32u
#define FRAME_ETHERTYPE 0x88b5u
/* Frames of one aggregated send-buffer request (also capped by agg_pkts). */
#define AGG_MAX 4u
/* Attach retry interval while the socket or the VM does not exist yet. */
#define ATTACH_RETRY_MS 100u

enum check_mode {
	CHECK_PLAIN,	/* frame as the peer sent it */
	CHECK_SWAPPED,	/* destination and source MAC swapped on the way */
};

struct opts {
	const char *socket_path;
	const char *vm;
	const char *ready_file;
	const char *go_file;
	uint8_t mac_dst[6];
	bool have_dst;
	uint32_t send;
	uint32_t size;
	uint32_t expect;
	uint32_t timeout_s;
	uint32_t pace_us;
	uint32_t recv_buf;
	bool promisc;
	enum check_mode check;
};

struct rx_state {
	uint8_t *seen;		/* per expected sequence number */
	uint32_t received;	/* distinct expected frames intact */
	uint32_t bad;		/* anything else */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t
pattern(uint32_t seq, uint32_t off)
{
	return (uint8_t)(seq * 131u + off * 7u + (off >> 8));
}

static void
frame_build(uint8_t *buf, uint32_t len, const uint8_t *dst, const uint8_t *src, uint32_t seq)
{
	uint32_t i;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = (uint8_t)(FRAME_ETHERTYPE >> 8);
	buf[13] = (uint8_t)FRAME_ETHERTYPE;
	memcpy(buf + 14, "NVGT", 4);
	put_be32(buf + 18, seq);
	memcpy(buf + 22, src, 6);
	put_be32(buf + 28, len);
	for (i = FRAME_HDR_LEN; i < len; i++)
		buf[i] = pattern(seq, i);
}

/* One received frame: true if it is an expected frame, intact, first time. */
static bool
frame_check(const struct opts *o, const uint8_t *own, struct rx_state *rs,
	    const struct nvg_rx_frame *f)
{
	const uint8_t *d = f->data;
	const uint8_t *sender, *want_dst, *want_src;
	uint32_t seq, i;

	if (f->len < FRAME_HDR_LEN || d[12] != (uint8_t)(FRAME_ETHERTYPE >> 8) ||
	    d[13] != (uint8_t)FRAME_ETHERTYPE || memcmp(d + 14, "NVGT", 4) != 0 ||
	    get_be32(d + 28) != f->len)
		return false;
	seq = get_be32(d + 18);
	sender = d + 22;
	if (o->check == CHECK_PLAIN) {
		want_dst = own;
		want_src = sender;
	} else {
		want_dst = sender;
		want_src = own;
	}
	if (memcmp(d, want_dst, 6) != 0 || memcmp(d + 6, want_src, 6) != 0)
		return false;
	if (memcmp(sender, own, 6) == 0)
		return false;
	for (i = FRAME_HDR_LEN; i < f->len; i++)
		if (d[i] != pattern(seq, i))
			return false;
	if (seq >= o->expect || rs->seen[seq] != 0)
		return false;
	rs->seen[seq] = 1;
	return true;
}

/* Check and forget the frames the guest kept. */
static void
rx_drain(struct nvg *g, const struct opts *o, struct rx_state *rs)
{
	const uint8_t *own = nvg_info(g)->mac;
	uint32_t n = nvg_rx_count(g), i;

	for (i = 0; i < n; i++) {
		if (frame_check(o, own, rs, nvg_rx_get(g, i)))
			rs->received++;
		else
			rs->bad++;
	}
	nvg_rx_clear(g);
}

static int
parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static int
parse_u32(const char *s, uint32_t max, uint32_t *v)
{
	unsigned long x;
	char *end;

	if (*s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	x = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || x > max)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --socket PATH --vm NAME [--mac-dst XX:XX:XX:XX:XX:XX]\n"
		"          [--send N] [--size BYTES] [--expect M] [--timeout-s T]\n"
		"          [--promisc] [--check plain|swapped] [--pace-us U]\n"
		"          [--recv-buf BYTES] [--ready-file PATH] [--go-file PATH]\n", prog);
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "vm", required_argument, NULL, 'v' },
		{ "mac-dst", required_argument, NULL, 'd' },
		{ "send", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'z' },
		{ "expect", required_argument, NULL, 'e' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "promisc", no_argument, NULL, 'p' },
		{ "check", required_argument, NULL, 'c' },
		{ "pace-us", required_argument, NULL, 'u' },
		{ "recv-buf", required_argument, NULL, 'b' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "go-file", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, li = 0, rc = 0;

	memset(o, 0, sizeof(*o));
	o->size = 1000;
	o->timeout_s = 30;
	while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
		switch (c) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'v':
			o->vm = optarg;
			break;
		case 'd':
			rc = parse_mac(optarg, o->mac_dst);
			o->have_dst = true;
			break;
		case 'n':
			rc = parse_u32(optarg, 10000000u, &o->send);
			break;
		case 'z':
			rc = parse_u32(optarg, NVG_TXD_DATA_SIZE, &o->size);
			if (rc == 0 && o->size < FRAME_HDR_LEN)
				rc = -EINVAL;
			break;
		case 'e':
			rc = parse_u32(optarg, 10000000u, &o->expect);
			break;
		case 't':
			rc = parse_u32(optarg, 3600u, &o->timeout_s);
			if (rc == 0 && o->timeout_s == 0)
				rc = -EINVAL;
			break;
		case 'p':
			o->promisc = true;
			break;
		case 'c':
			if (strcmp(optarg, "plain") == 0)
				o->check = CHECK_PLAIN;
			else if (strcmp(optarg, "swapped") == 0)
				o->check = CHECK_SWAPPED;
			else
				rc = -EINVAL;
			break;
		case 'u':
			rc = parse_u32(optarg, 1000000u, &o->pace_us);
			break;
		case 'b':
			rc = parse_u32(optarg, 64u << 20, &o->recv_buf);
			break;
		case 'r':
			o->ready_file = optarg;
			break;
		case 'g':
			o->go_file = optarg;
			break;
		default:
			return -EINVAL;
		}
		if (rc != 0) {
			fprintf(stderr, "nvg_traffic: bad value for --%s: %s\n",
				lo[li].name, optarg);
			return rc;
		}
	}
	if (optind != argc || o->socket_path == NULL || o->vm == NULL ||
	    (o->send != 0 && !o->have_dst))
		return -EINVAL;
	return 0;
}

/* Attach, retrying while the socket or the VM is not there yet. */
static int
attach_retry(const struct nvg_params *gp, uint64_t deadline, struct nvg **g)
{
	int rc;

	for (;;) {
		rc = nvg_attach(gp, g);
		if (rc == 0 || now_ms() + ATTACH_RETRY_MS >= deadline)
			return rc;
		sleep_ms(ATTACH_RETRY_MS);
	}
}

static int
bring_up(struct nvg *g, bool promisc)
{
	int rc;

	rc = nvg_bringup(g);
	if (rc == 0)
		rc = nvg_configure(g, 1);
	if (rc == 0)
		rc = nvg_start(g);
	if (rc == 0 && promisc)
		rc = nvg_set_filter(g, VMBS_NDIS_FILTER_PROMISCUOUS);
	return rc;
}

static int
touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -errno;
	fclose(f);
	return 0;
}

/* Wait for @p path to exist, receiving meanwhile. */
static int
wait_go(struct nvg *g, const struct opts *o, struct rx_state *rs, uint64_t deadline)
{
	while (access(o->go_file, F_OK) != 0) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		nvg_pump(g, 5);
		rx_drain(g, o, rs);
	}
	return 0;
}

/* Send one request, retrying while the ring is full. */
static int
send_retry(struct nvg *g, enum nvg_tx_form form, const struct nvg_frame *f, uint32_t n,
	   uint64_t deadline)
{
	int rc;

	for (;;) {
		rc = nvg_send(g, 0, form, f, n, NULL);
		if ((rc != -EAGAIN && rc != -EBUSY) || now_ms() >= deadline)
			return rc;
		nvg_pump(g, 1);
	}
}

/*
 * Send o->send frames: a single-frame send-buffer request, a GPA-direct
 * request, then a send-buffer request aggregating up to AGG_MAX frames,
 * in turn. A layout the frame does not fit falls back to GPA-direct.
 */
static int
send_all(struct nvg *g, const struct opts *o, struct rx_state *rs, uint64_t deadline,
	 uint32_t *sent)
{
	const struct nvg_info *inf = nvg_info(g);
	uint32_t agg = inf->agg_pkts < AGG_MAX ? inf->agg_pkts : AGG_MAX;
	struct nvg_frame f[AGG_MAX];
	uint8_t *bufs;
	uint32_t step = 0, i, n;
	int rc = 0;

	if (agg == 0)
		agg = 1;
	bufs = malloc((size_t)AGG_MAX * o->size);
	if (bufs == NULL)
		return -ENOMEM;
	*sent = 0;
	while (*sent < o->send) {
		enum nvg_tx_form form;

		switch (step++ % 3) {
		case 0:
			form = NVG_TX_CHIMNEY;
			n = 1;
			break;
		case 1:
			form = NVG_TX_GPA;
			n = 1;
			break;
		default:
			form = NVG_TX_CHIMNEY;
			n = agg;
			break;
		}
		if (n > o->send - *sent)
			n = o->send - *sent;
		memset(f, 0, sizeof(f));
		for (i = 0; i < n; i++) {
			frame_build(bufs + (size_t)i * o->size, o->size, o->mac_dst, inf->mac,
				    *sent + i);
			f[i].data = bufs + (size_t)i * o->size;
			f[i].len = o->size;
		}
		rc = send_retry(g, form, f, n, deadline);
		if (rc == -E2BIG && form == NVG_TX_CHIMNEY) {
			n = 1;
			rc = send_retry(g, NVG_TX_GPA, f, 1, deadline);
		}
		if (rc != 0) {
			fprintf(stderr, "nvg_traffic: vm %s: send of frame %u: %d\n", o->vm,
				*sent, rc);
			break;
		}
		*sent += n;
		/*
		 * Take everything the host delivered meanwhile: a guest that
		 * only sends starves its own receive buffer, and the host
		 * then refuses (testpmd drops) what comes the other way.
		 */
		for (i = 0; i < 64 && nvg_poll(g) > 0; i++)
			;
		rx_drain(g, o, rs);
		if (o->pace_us != 0) {
			struct timespec ts = { 0, (long)o->pace_us * 1000L };

			nanosleep(&ts, NULL);
		}
	}
	free(bufs);
	return rc;
}

int
main(int argc, char **argv)
{
	struct nvg_params gp;
	struct nvg_stats st;
	struct rx_state rs;
	struct opts o;
	struct nvg *g = NULL;
	uint64_t deadline;
	uint32_t sent = 0;
	bool ok = true;
	int rc;

	if (parse_args(argc, argv, &o) != 0) {
		usage(argv[0]);
		return 2;
	}
	memset(&rs, 0, sizeof(rs));
	rs.seen = calloc(o.expect != 0 ? o.expect : 1, 1);
	if (rs.seen == NULL)
		return 1;
	deadline = now_ms() + (uint64_t)o.timeout_s * 1000u;

	memset(&gp, 0, sizeof(gp));
	gp.socket_path = o.socket_path;
	gp.vm_name = o.vm;
	gp.max_queues = 1;
	gp.recv_buf_size = o.recv_buf;
	gp.timeout_ms = 5000;
	rc = attach_retry(&gp, deadline, &g);
	if (rc != 0) {
		fprintf(stderr, "nvg_traffic: vm %s: attach to %s: %d\n", o.vm, o.socket_path,
			rc);
		ok = false;
		goto out;
	}
	rc = bring_up(g, o.promisc);
	if (rc != 0) {
		fprintf(stderr, "nvg_traffic: vm %s: bring-up: %d\n", o.vm, rc);
		ok = false;
		goto out;
	}
	if (o.ready_file != NULL && touch(o.ready_file) != 0) {
		fprintf(stderr, "nvg_traffic: vm %s: cannot create %s\n", o.vm, o.ready_file);
		ok = false;
		goto out;
	}
	if (o.go_file != NULL && wait_go(g, &o, &rs, deadline) != 0) {
		fprintf(stderr, "nvg_traffic: vm %s: no %s before the deadline\n", o.vm,
			o.go_file);
		ok = false;
		goto out;
	}
	if (send_all(g, &o, &rs, deadline, &sent) != 0)
		ok = false;
	while (rs.received < o.expect && now_ms() < deadline) {
		nvg_pump(g, 2);
		rx_drain(g, &o, &rs);
	}
	/* Our own requests complete once the host let go of them. */
	while (nvg_tx_inflight(g) != 0 && now_ms() < deadline) {
		nvg_pump(g, 2);
		rx_drain(g, &o, &rs);
	}
	/* A moment more for strays (duplicates, frames nobody expected). */
	nvg_pump(g, 50);
	rx_drain(g, &o, &rs);

	nvg_stats_get(g, &st);
	if (nvg_tx_inflight(g) != 0 || st.tx_comp_fail != 0 || nvg_rejects(g) != 0) {
		fprintf(stderr,
			"nvg_traffic: vm %s: %u requests in flight, %" PRIu64
			" failed completions, %" PRIu64 " rejects, %" PRIu64 " frames not kept\n",
			o.vm, nvg_tx_inflight(g), st.tx_comp_fail, nvg_rejects(g),
			st.rx_kept_full);
		ok = false;
	}
	if (st.rx_kept_full != 0)
		ok = false;
out:
	printf("nvg_traffic: vm %s sent %u received %u bad %u\n", o.vm, sent, rs.received,
	       rs.bad);
	fflush(stdout);
	if (g != NULL)
		nvg_detach(g);
	free(rs.seen);
	if (sent != o.send || rs.received != o.expect || rs.bad != 0)
		ok = false;
	return ok ? 0 : 1;
}
