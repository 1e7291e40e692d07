/*
 * libFuzzer target over the packet layer. The first input byte picks a mode:
 *   bit 0  fix the IPv4 header checksum first, so the fuzzer reaches the checks behind it
 *   bit 1  the rest is not a frame but operations on the neighbour table (4 bytes each)
 * A frame is parsed as this node (fuzz_me); beyond "no crash, no sanitizer report": the
 * result is -1 or a named reason, a drop leaves *out zeroed, an accepted datagram lies
 * inside the frame, and what is accepted, rebuilt by our own writers from the parsed
 * fields, parses to the same thing. The table keeps its invariants under any sequence.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

#include "fuzz.h"

#define FUZZ_FRAME_MAX (NET_ETH_HDR_LEN + 65535u)
#define FUZZ_OPS_MAX   1024u
#define FUZZ_RETRY_NS  64u

static const struct net_local fuzz_me = { .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
					  .ip = 0x0a000001u,
					  .udp_port = 7400 };
static uint8_t again[FUZZ_FRAME_MAX];

static bool pkt_equal(const struct net_pkt *a, const struct net_pkt *b)
{
	return a->kind == b->kind && memcmp(a->src_mac, b->src_mac, 6) == 0 &&
	       a->src_ip == b->src_ip && a->dst_ip == b->dst_ip && a->src_port == b->src_port &&
	       a->dst_port == b->dst_port && a->payload_off == b->payload_off &&
	       a->payload_len == b->payload_len;
}

/* Header bytes a receiver ignores: TOS, id, flags (DF, reserved), TTL, the checksums. */
static const bool udp_ignored[NET_HDRS_LEN] = {
	[15] = true, [18] = true, [19] = true, [20] = true, [22] = true,
	[24] = true, [25] = true, [40] = true, [41] = true,
};

static void check_udp(const uint8_t *f, uint32_t len, const struct net_pkt *p)
{
	struct net_local s = { .ip = p->src_ip, .udp_port = p->src_port };
	struct net_pkt q;

	CHECK(p->payload_off == NET_HDRS_LEN);
	CHECK(p->payload_off + p->payload_len <= len);
	CHECK(p->dst_ip == fuzz_me.ip && p->dst_port == fuzz_me.udp_port);
	/* Padding is not the datagram's: without it, the same result. */
	CHECK(net_pkt_parse(f, p->payload_off + p->payload_len, &fuzz_me, &q) == -1);
	CHECK(pkt_equal(p, &q));
	/* Rebuilt by our writer, to the same Ethernet destination: the same result. */
	memcpy(s.mac, p->src_mac, 6);
	net_udp_hdrs_write(again, &s, f, p->dst_ip, p->dst_port, p->payload_len, true);
	memcpy(again + NET_HDRS_LEN, f + p->payload_off, p->payload_len);
	CHECK(net_pkt_parse(again, NET_HDRS_LEN + p->payload_len, &fuzz_me, &q) == -1);
	CHECK(pkt_equal(p, &q));
	/* And the headers accepted are the ones our writer makes, but for what is ignored. */
	for (unsigned i = 0; i < NET_HDRS_LEN; i++)
		CHECK(udp_ignored[i] || again[i] == f[i]);
	CHECK((f[NET_ETH_HDR_LEN + 6] & 0x3f) == 0 && f[NET_ETH_HDR_LEN + 7] == 0);
}

static void check_arp(const uint8_t *f, uint32_t len, const struct net_pkt *p)
{
	struct net_local s = { .ip = p->src_ip };
	struct net_pkt q;

	CHECK(p->src_port == 0 && p->dst_port == 0 && p->payload_off == 0 && p->payload_len == 0);
	memcpy(s.mac, p->src_mac, 6);
	if (p->kind == NET_PKT_ARP_REQUEST) {
		CHECK(p->dst_ip == fuzz_me.ip && p->src_ip != p->dst_ip);
		net_arp_write(again, &s, false, NULL, p->dst_ip);
	} else {
		net_arp_write(again, &s, true, fuzz_me.mac, p->dst_ip);
	}
	CHECK(net_pkt_parse(again, NET_ARP_PKT_LEN, &fuzz_me, &q) == -1);
	CHECK(pkt_equal(p, &q));
	/* The accepted packet's format, sender and target IP are what our writer makes. */
	CHECK(len >= NET_ARP_PKT_LEN);
	CHECK(memcmp(again + 12, f + 12, 8) == 0);
	CHECK(f[20] == 0 && (f[21] == 1 || f[21] == 2));
	CHECK(memcmp(again + 22, f + 22, 10) == 0 && memcmp(again + 38, f + 38, 4) == 0);
}

static void fuzz_frame(uint8_t *f, uint32_t len, unsigned mode)
{
	static const struct net_pkt zero;
	struct net_pkt p;
	int r;

	if ((mode & 1) && len >= NET_ETH_HDR_LEN + NET_IP_HDR_LEN) {
		uint16_t csum;

		f[NET_ETH_HDR_LEN + 10] = 0;
		f[NET_ETH_HDR_LEN + 11] = 0;
		csum = net_ip_checksum(f + NET_ETH_HDR_LEN);
		f[NET_ETH_HDR_LEN + 10] = (uint8_t)(csum >> 8);
		f[NET_ETH_HDR_LEN + 11] = (uint8_t)csum;
		CHECK(net_ip_checksum(f + NET_ETH_HDR_LEN) == 0);
	}
	r = net_pkt_parse(f, len, &fuzz_me, &p);
	CHECK(r >= -1 && r < NET_DROP__MAX);
	if (r >= 0) {
		CHECK(memcmp(&p, &zero, sizeof(p)) == 0);
		CHECK(strcmp(net_drop_name((unsigned)r), "unknown") != 0);
		return;
	}
	if (p.kind == NET_PKT_UDP)
		check_udp(f, len, &p);
	else if (p.kind == NET_PKT_ARP_REQUEST || p.kind == NET_PKT_ARP_REPLY)
		check_arp(f, len, &p);
	else
		CHECK(0);
}

/* ---- the neighbour table ----------------------------------------------------------------- */

struct shadow_static {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t port;
};

static struct net_neigh_table tab;
static struct shadow_static statics[NET_NEIGH_FILL_MAX];
static unsigned n_statics;

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static const struct shadow_static *static_of(uint32_t ip)
{
	for (unsigned i = 0; i < n_statics; i++)
		if (statics[i].ip == ip)
			return &statics[i];
	return NULL;
}

static bool mac_ok(const uint8_t mac[6])
{
	static const uint8_t zero_mac[6];

	return !(mac[0] & 1) && memcmp(mac, zero_mac, 6) != 0;
}

/* Every slot: each ip once, counted in used, resolved ones found where they are; every
 * static added is still there as added, and no other entry is static. */
static void check_table(void)
{
	uint32_t held[NET_NEIGH_MAX];
	unsigned n = 0, n_static = 0;

	for (unsigned i = 0; i < NET_NEIGH_MAX; i++) {
		const struct net_neigh *e = &tab.e[i];
		const struct net_neigh *l;

		if (e->ip == 0)
			continue;
		held[n++] = e->ip;
		l = net_neigh_lookup(&tab, e->ip);
		CHECK(l == (e->resolved ? e : NULL));
		CHECK(!e->resolved || mac_ok(e->mac));
		CHECK(!e->is_static || e->resolved);
		n_static += e->is_static;
	}
	CHECK(n == tab.used && n <= NET_NEIGH_FILL_MAX);
	CHECK(n_static == n_statics);
	qsort(held, n, sizeof(held[0]), cmp_u32);
	for (unsigned i = 1; i < n; i++)
		CHECK(held[i] != held[i - 1]);
	for (unsigned i = 0; i < n_statics; i++) {
		const struct net_neigh *e = net_neigh_lookup(&tab, statics[i].ip);

		CHECK(e != NULL && e->is_static && e->port == statics[i].port);
		CHECK(memcmp(e->mac, statics[i].mac, 6) == 0);
	}
}

static void op_add_static(uint32_t ip, const uint8_t mac[6], uint8_t port)
{
	int rc = net_neigh_add_static(&tab, ip, mac, port);

	if (ip == 0 || !mac_ok(mac)) {
		CHECK(rc == -EINVAL);
	} else if (static_of(ip)) {
		CHECK(rc == -EEXIST);
	} else if (n_statics == NET_NEIGH_FILL_MAX) {
		CHECK(rc == -ENOSPC);
	} else {
		CHECK(rc == 0);
		statics[n_statics++] = (struct shadow_static){ .ip = ip, .port = port };
		memcpy(statics[n_statics - 1].mac, mac, 6);
	}
}

static void op_learn(uint32_t ip, const uint8_t mac[6], uint8_t port, uint64_t now)
{
	const struct net_neigh *e;
	uint64_t kept = tab.static_kept;

	net_neigh_learn(&tab, ip, mac, port, now);
	e = net_neigh_lookup(&tab, ip);
	if (ip == 0 || !mac_ok(mac) || n_statics == NET_NEIGH_FILL_MAX)
		return;
	CHECK(e != NULL);
	if (static_of(ip)) {
		CHECK(tab.static_kept ==
		      kept + (memcmp(e->mac, mac, 6) != 0 || e->port != port ? 1u : 0u));
		return;
	}
	CHECK(memcmp(e->mac, mac, 6) == 0 && e->port == port && !e->is_static);
	CHECK(e->updated_ns == now);
}

static void op_want(uint32_t ip, uint8_t port, uint64_t now)
{
	bool resolved = net_neigh_lookup(&tab, ip) != NULL;
	bool sent = net_neigh_want(&tab, ip, port, now, FUZZ_RETRY_NS);

	CHECK(!(resolved && sent));
	if (ip == 0)
		CHECK(!sent);
	if (sent) /* and not again within retry_ns */
		CHECK(!net_neigh_want(&tab, ip, port, now + FUZZ_RETRY_NS - 1, FUZZ_RETRY_NS));
}

/* Each operation: [what|ip bits, ip byte, MAC byte, port|clock step]. Each checks its
 * own effect; the whole table is checked every few operations (a full check after each
 * one would make the fuzzer ten times slower) and at the end. */
static void fuzz_neigh(const uint8_t *p, size_t len)
{
	uint64_t now = 1000;

	net_neigh_init(&tab);
	n_statics = 0;
	for (size_t i = 0; i + 4 <= len && i / 4 < FUZZ_OPS_MAX; i += 4) {
		unsigned op = p[i], a = p[i + 1], b = p[i + 2], c = p[i + 3];
		uint8_t port = (uint8_t)(c & 3), mac[6] = { 0x02, (uint8_t)b, 0, 0, 0, (uint8_t)a };
		uint32_t ip;

		/* Clustered addresses, scattered ones (so probe runs wrap), or 0. */
		if ((op >> 2) == 0x3f)
			ip = 0;
		else if (op & 0x40)
			ip = (uint32_t)a * 0x01000193u ^ (uint32_t)(op >> 2) << 24;
		else
			ip = 0x0a000000u | (uint32_t)((op >> 2) & 3) << 8 | a;
		/* Multicast and zero MACs: never stored. The clock may step back. */
		if (b == 0xff)
			mac[0] = 0x01;
		else if (b == 0xfe)
			memset(mac, 0, 6);
		if (c == 0xff)
			now -= now < 100 ? now : 100;
		else
			now += c >> 2;
		switch (op & 3) {
		case 0:
			op_add_static(ip, mac, port);
			break;
		case 1:
			op_learn(ip, mac, port, now);
			break;
		case 2:
			op_want(ip, port, now);
			break;
		default:
			CHECK(ip == 0 || net_neigh_lookup(&tab, ip) == NULL ||
			      net_neigh_lookup(&tab, ip)->ip == ip);
			break;
		}
		if ((i / 4) % 8 == 7)
			check_table();
	}
	check_table();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *f;
	unsigned mode;

	if (size < 1 || size - 1 > FUZZ_FRAME_MAX)
		return 0;
	mode = data[0];
	if (mode & 2) {
		fuzz_neigh(data + 1, size - 1);
		return 0;
	}
	/* An exact-size heap copy: a read past the frame's end is a sanitizer report. */
	f = malloc(size - 1 ? size - 1 : 1);
	CHECK(f != NULL);
	memcpy(f, data + 1, size - 1);
	fuzz_frame(f, (uint32_t)(size - 1), mode);
	free(f);
	return 0;
}
