/*
 * Packet layer: frames built byte by byte here (not by the code under test), one named
 * case per drop reason, truncations and bit flips, known answers for the IP checksum and
 * the ARP writer, and the neighbour table against a plain reference array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pkt.h"
#include "testutil.h"

#define ME_IP	   0x0a000001u /* 10.0.0.1 */
#define ME_PORT	   7400u
#define PEER_IP	   0x0a000002u /* 10.0.0.2 */
#define PEER_PORT  40001u
#define OTHER_IP   0x0a000063u /* 10.0.0.99 */
#define FRAME_MAX  (NET_ETH_HDR_LEN + 65535u)
#define PAYLOAD_SZ 20u

static const struct net_local me = { .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
				     .ip = ME_IP,
				     .udp_port = ME_PORT };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x63 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero6[6];
static uint8_t frame[FRAME_MAX];

/* ---- an independent frame builder: byte shifts, its own checksum -------------------- */

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* RFC 1071, the textbook way: a wide sum of byte pairs folded until it fits. */
static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint64_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Every field of an Ethernet + IPv4 + UDP frame; -1 in the int fields: computed. */
struct udp_spec {
	uint8_t dst[6], src[6];
	uint16_t type;
	uint8_t ver_ihl, tos;
	int total;
	uint16_t id, frag;
	uint8_t ttl, proto;
	uint16_t csum_xor; /* damage after computing the checksum */
	uint32_t sip, dip;
	uint16_t sport, dport;
	int udp_len;
	uint16_t udp_csum;
	uint32_t payload_len;
	uint32_t frame_len; /* 0: the datagram exactly; more: padded with 0xee */
};

static void udp_default(struct udp_spec *s)
{
	*s = (struct udp_spec){ .type = 0x0800,
				.ver_ihl = 0x45,
				.total = -1,
				.id = 0x1234,
				.frag = 0x4000,
				.ttl = 64,
				.proto = 17,
				.sip = PEER_IP,
				.dip = ME_IP,
				.sport = PEER_PORT,
				.dport = ME_PORT,
				.udp_len = -1,
				.udp_csum = 0xbeef,
				.payload_len = PAYLOAD_SZ };
	memcpy(s->dst, me.mac, 6);
	memcpy(s->src, peer_mac, 6);
}

static uint32_t build_udp(const struct udp_spec *s)
{
	uint32_t total = s->total >= 0 ? (uint32_t)s->total : 28 + s->payload_len;
	uint32_t dgram = 28 + s->payload_len, n = 14 + dgram;
	uint8_t *ip = frame + 14, *udp = frame + 34;

	memcpy(frame, s->dst, 6);
	memcpy(frame + 6, s->src, 6);
	wr16(frame + 12, s->type);
	ip[0] = s->ver_ihl;
	ip[1] = s->tos;
	wr16(ip + 2, total);
	wr16(ip + 4, s->id);
	wr16(ip + 6, s->frag);
	ip[8] = s->ttl;
	ip[9] = s->proto;
	wr16(ip + 10, 0);
	wr32(ip + 12, s->sip);
	wr32(ip + 16, s->dip);
	wr16(ip + 10, ref_csum(ip, 20) ^ s->csum_xor);
	wr16(udp, s->sport);
	wr16(udp + 2, s->dport);
	wr16(udp + 4, s->udp_len >= 0 ? (uint32_t)s->udp_len : 8 + s->payload_len);
	wr16(udp + 6, s->udp_csum);
	for (uint32_t i = 0; i < s->payload_len; i++)
		udp[8 + i] = (uint8_t)(i * 7 + 1);
	for (; n < s->frame_len; n++)
		frame[n] = 0xee;
	return n;
}

struct arp_spec {
	uint8_t dst[6], src[6];
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[6], tha[6];
	uint32_t spa, tpa;
	uint32_t frame_len; /* 0: 42 */
};

/* A request from the peer for our IP. */
static void arp_default(struct arp_spec *a)
{
	*a = (struct arp_spec){ .htype = 1,
				.ptype = 0x0800,
				.hlen = 6,
				.plen = 4,
				.op = 1,
				.spa = PEER_IP,
				.tpa = ME_IP };
	memcpy(a->dst, bcast, 6);
	memcpy(a->src, peer_mac, 6);
	memcpy(a->sha, peer_mac, 6);
}

static uint32_t build_arp(const struct arp_spec *a)
{
	uint32_t n = 42;

	memcpy(frame, a->dst, 6);
	memcpy(frame + 6, a->src, 6);
	wr16(frame + 12, 0x0806);
	wr16(frame + 14, a->htype);
	wr16(frame + 16, a->ptype);
	frame[18] = a->hlen;
	frame[19] = a->plen;
	wr16(frame + 20, a->op);
	memcpy(frame + 22, a->sha, 6);
	wr32(frame + 28, a->spa);
	memcpy(frame + 32, a->tha, 6);
	wr32(frame + 38, a->tpa);
	for (; n < a->frame_len; n++)
		frame[n] = 0;
	return a->frame_len ? a->frame_len : 42;
}

static int parse(uint32_t len, struct net_pkt *p)
{
	return net_pkt_parse(frame, len, &me, p);
}

/* Checks an accepted datagram from s against what the parser reported. */
static void check_udp(const struct udp_spec *s, const struct net_pkt *p)
{
	assert_int_equal(p->kind, NET_PKT_UDP);
	assert_memory_equal(p->src_mac, s->src, 6);
	assert_int_equal(p->src_ip, s->sip);
	assert_int_equal(p->dst_ip, ME_IP);
	assert_int_equal(p->src_port, s->sport);
	assert_int_equal(p->dst_port, ME_PORT);
	assert_int_equal(p->payload_off, NET_HDRS_LEN);
	assert_int_equal(p->payload_len, s->payload_len);
	for (uint32_t i = 0; i < s->payload_len; i++)
		assert_int_equal(frame[p->payload_off + i], (uint8_t)(i * 7 + 1));
}

static void accept_udp(const struct udp_spec *s)
{
	struct net_pkt p;

	assert_int_equal(parse(build_udp(s), &p), -1);
	check_udp(s, &p);
}

/* ---- accepted frames ---------------------------------------------------------------- */

static void test_udp_valid(void **state)
{
	struct udp_spec s;

	(void)state;
	udp_default(&s);
	accept_udp(&s); /* 62 bytes: no padding needed */
	s.payload_len = 4;
	s.frame_len = NET_ETH_MIN_LEN; /* 46-byte datagram, 14 bytes of padding */
	accept_udp(&s);
	s.payload_len = 0; /* an empty datagram: total length 28, the least allowed */
	accept_udp(&s);
	s.frame_len = 0;
	accept_udp(&s);
	udp_default(&s);
	memcpy(s.dst, bcast, 6); /* L2 broadcast to our IP is fine */
	accept_udp(&s);
	udp_default(&s);
	s.frag = 0; /* DF clear */
	accept_udp(&s);
	s.frag = 0x8000; /* the reserved bit is ignored */
	accept_udp(&s);
	udp_default(&s);
	s.tos = 0xb8;
	s.ttl = 1;
	s.id = 0xffff;
	s.udp_csum = 0x1234; /* wrong, and not checked: pkt.h */
	s.sport = 0;
	accept_udp(&s);
	s.payload_len = 65535 - 28; /* the largest datagram */
	accept_udp(&s);
	udp_default(&s);
	s.sip = 0xdfffffff; /* 223.255.255.255: just below multicast */
	accept_udp(&s);
	s.sip = 0x7f000000 - 1; /* 126.255.255.255 */
	accept_udp(&s);
	s.sip = 0xf0000000; /* 240/4 is not refused */
	accept_udp(&s);
}

/* Padding after the datagram is ignored whatever it holds; only the datagram counts. */
static void test_udp_padding(void **state)
{
	struct udp_spec s;
	struct net_pkt p;
	uint32_t n;

	(void)state;
	udp_default(&s);
	s.payload_len = 1;
	s.frame_len = 1514;
	n = build_udp(&s);
	for (uint32_t cut = 14 + 28 + 1; cut <= n; cut++) {
		assert_int_equal(parse(cut, &p), -1);
		check_udp(&s, &p);
	}
}

/* ---- one case per drop reason -------------------------------------------------------- */

struct drop_case {
	const char *name;
	int want;
	void (*udp)(struct udp_spec *s); /* a datagram changed so */
	void (*arp)(struct arp_spec *a); /* or an ARP packet changed so */
	uint32_t len;			 /* 0: the whole frame; else this many bytes */
};

#define LEN_EMPTY UINT32_MAX /* hand over no byte at all */

#define UDP_MUT(fn, stmt)                  \
	static void fn(struct udp_spec *s) \
	{                                  \
		stmt;                      \
	}
#define ARP_MUT(fn, stmt)                  \
	static void fn(struct arp_spec *a) \
	{                                  \
		stmt;                      \
	}

UDP_MUT(u_none, (void)s)
UDP_MUT(u_ipv6, s->type = 0x86dd)
UDP_MUT(u_vlan, s->type = 0x8100)
UDP_MUT(u_lldp, s->type = 0x88cc)
UDP_MUT(u_type0, s->type = 0)
UDP_MUT(u_mac_other, memcpy(s->dst, other_mac, 6))
UDP_MUT(u_mac_mcast, memcpy(s->dst, "\x01\x00\x5e\x00\x00\x01", 6))
UDP_MUT(u_mac_vlan_other, (s->type = 0x8100, memcpy(s->dst, other_mac, 6)))
UDP_MUT(u_ver6, s->ver_ihl = 0x65)
UDP_MUT(u_ver0, s->ver_ihl = 0x05)
UDP_MUT(u_ihl6, s->ver_ihl = 0x46)
UDP_MUT(u_ihl4, s->ver_ihl = 0x44)
UDP_MUT(u_ihl15, s->ver_ihl = 0x4f)
UDP_MUT(u_total27, (s->total = 27, s->udp_len = 7))
UDP_MUT(u_total20, (s->total = 20, s->proto = 1))
UDP_MUT(u_total_past, s->total = 28 + PAYLOAD_SZ + 1)
UDP_MUT(u_total_max, s->total = 0xffff)
UDP_MUT(u_csum, s->csum_xor = 1)
UDP_MUT(u_csum_ffff, s->csum_xor = 0xffff)
UDP_MUT(u_mf, s->frag = 0x2000)
UDP_MUT(u_mf_df, s->frag = 0x6000)
UDP_MUT(u_frag_off, s->frag = 0x0001)
UDP_MUT(u_frag_last, s->frag = 0x1fff)
UDP_MUT(u_dst_other, s->dip = OTHER_IP)
UDP_MUT(u_dst_bcast, (memcpy(s->dst, bcast, 6), s->dip = 0xffffffff))
UDP_MUT(u_dst_subnet_bcast, (memcpy(s->dst, bcast, 6), s->dip = 0x0a0000ff))
UDP_MUT(u_src0, s->sip = 0)
UDP_MUT(u_src_mcast, s->sip = 0xe0000001)
UDP_MUT(u_src_mcast_top, s->sip = 0xefffffff)
UDP_MUT(u_src_bcast, s->sip = 0xffffffff)
UDP_MUT(u_src_loop, s->sip = 0x7f000001)
UDP_MUT(u_src_loop_top, s->sip = 0x7fffffff)
UDP_MUT(u_tcp, s->proto = 6)
UDP_MUT(u_icmp, s->proto = 1)
UDP_MUT(u_udplite, s->proto = 136)
UDP_MUT(u_udp_long, s->udp_len = 8 + PAYLOAD_SZ + 1)
UDP_MUT(u_udp_short, s->udp_len = 8 + PAYLOAD_SZ - 1)
UDP_MUT(u_udp_7, (s->payload_len = 0, s->udp_len = 7))
UDP_MUT(u_udp_0, s->udp_len = 0)
UDP_MUT(u_udp_padded, (s->frame_len = 60, s->payload_len = 4, s->udp_len = 8 + 4 + 14))
UDP_MUT(u_port, s->dport = ME_PORT + 1)
UDP_MUT(u_port_swapped, s->dport = 0xe81c) /* 7400 read little-endian */
ARP_MUT(a_none, (void)a)
ARP_MUT(a_htype, a->htype = 6)
ARP_MUT(a_ptype, a->ptype = 0x86dd)
ARP_MUT(a_hlen, a->hlen = 8)
ARP_MUT(a_plen, a->plen = 16)
ARP_MUT(a_op0, a->op = 0)
ARP_MUT(a_op3, a->op = 3)
ARP_MUT(a_op_rarp, a->op = 4)
ARP_MUT(a_op_swapped, a->op = 0x0100)
ARP_MUT(a_mac_other, memcpy(a->dst, other_mac, 6))
ARP_MUT(a_not_for_us, a->tpa = OTHER_IP)
ARP_MUT(a_not_for_us_zero, a->tpa = 0)

static const struct drop_case drop_cases[] = {
	{ "short_empty", NET_DROP_SHORT, u_none, NULL, LEN_EMPTY },
	{ "short_13", NET_DROP_SHORT, u_none, NULL, 13 },
	{ "short_ip_header", NET_DROP_SHORT, u_none, NULL, 33 },
	{ "short_arp_ethernet", NET_DROP_SHORT, NULL, a_none, 13 },
	{ "ethertype_ipv6", NET_DROP_ETHERTYPE, u_ipv6, NULL, 0 },
	{ "ethertype_vlan", NET_DROP_ETHERTYPE, u_vlan, NULL, 0 },
	{ "ethertype_lldp", NET_DROP_ETHERTYPE, u_lldp, NULL, 0 },
	{ "ethertype_zero", NET_DROP_ETHERTYPE, u_type0, NULL, 0 },
	{ "ethertype_before_mac", NET_DROP_ETHERTYPE, u_mac_vlan_other, NULL, 0 },
	{ "ethertype_ethernet_only", NET_DROP_ETHERTYPE, u_ipv6, NULL, 14 },
	{ "mac_dst_other", NET_DROP_MAC_DST, u_mac_other, NULL, 0 },
	{ "mac_dst_multicast", NET_DROP_MAC_DST, u_mac_mcast, NULL, 0 },
	{ "mac_dst_arp", NET_DROP_MAC_DST, NULL, a_mac_other, 0 },
	{ "ip_version_6", NET_DROP_IP_VERSION, u_ver6, NULL, 0 },
	{ "ip_version_0", NET_DROP_IP_VERSION, u_ver0, NULL, 0 },
	{ "ip_options_ihl6", NET_DROP_IP_OPTIONS, u_ihl6, NULL, 0 },
	{ "ip_options_ihl4", NET_DROP_IP_OPTIONS, u_ihl4, NULL, 0 },
	{ "ip_options_ihl15", NET_DROP_IP_OPTIONS, u_ihl15, NULL, 0 },
	{ "ip_length_27", NET_DROP_IP_LENGTH, u_total27, NULL, 0 },
	{ "ip_length_header_only", NET_DROP_IP_LENGTH, u_total20, NULL, 0 },
	{ "ip_length_past_frame", NET_DROP_IP_LENGTH, u_total_past, NULL, 0 },
	{ "ip_length_max", NET_DROP_IP_LENGTH, u_total_max, NULL, 0 },
	{ "ip_length_truncated", NET_DROP_IP_LENGTH, u_none, NULL, 14 + 28 + PAYLOAD_SZ - 1 },
	{ "ip_checksum_bit", NET_DROP_IP_CHECKSUM, u_csum, NULL, 0 },
	{ "ip_checksum_inverted", NET_DROP_IP_CHECKSUM, u_csum_ffff, NULL, 0 },
	{ "ip_fragment_mf", NET_DROP_IP_FRAGMENT, u_mf, NULL, 0 },
	{ "ip_fragment_mf_df", NET_DROP_IP_FRAGMENT, u_mf_df, NULL, 0 },
	{ "ip_fragment_offset", NET_DROP_IP_FRAGMENT, u_frag_off, NULL, 0 },
	{ "ip_fragment_last", NET_DROP_IP_FRAGMENT, u_frag_last, NULL, 0 },
	{ "ip_dst_other", NET_DROP_IP_DST, u_dst_other, NULL, 0 },
	{ "ip_dst_broadcast", NET_DROP_IP_DST, u_dst_bcast, NULL, 0 },
	{ "ip_dst_subnet_broadcast", NET_DROP_IP_DST, u_dst_subnet_bcast, NULL, 0 },
	{ "ip_src_zero", NET_DROP_IP_SRC, u_src0, NULL, 0 },
	{ "ip_src_multicast", NET_DROP_IP_SRC, u_src_mcast, NULL, 0 },
	{ "ip_src_multicast_top", NET_DROP_IP_SRC, u_src_mcast_top, NULL, 0 },
	{ "ip_src_broadcast", NET_DROP_IP_SRC, u_src_bcast, NULL, 0 },
	{ "ip_src_loopback", NET_DROP_IP_SRC, u_src_loop, NULL, 0 },
	{ "ip_src_loopback_top", NET_DROP_IP_SRC, u_src_loop_top, NULL, 0 },
	{ "ip_proto_tcp", NET_DROP_IP_PROTO, u_tcp, NULL, 0 },
	{ "ip_proto_icmp", NET_DROP_IP_PROTO, u_icmp, NULL, 0 },
	{ "ip_proto_udplite", NET_DROP_IP_PROTO, u_udplite, NULL, 0 },
	{ "udp_length_long", NET_DROP_UDP_LENGTH, u_udp_long, NULL, 0 },
	{ "udp_length_short", NET_DROP_UDP_LENGTH, u_udp_short, NULL, 0 },
	{ "udp_length_7", NET_DROP_UDP_LENGTH, u_udp_7, NULL, 0 },
	{ "udp_length_0", NET_DROP_UDP_LENGTH, u_udp_0, NULL, 0 },
	{ "udp_length_counts_padding", NET_DROP_UDP_LENGTH, u_udp_padded, NULL, 0 },
	{ "udp_port_other", NET_DROP_UDP_PORT, u_port, NULL, 0 },
	{ "udp_port_byte_swapped", NET_DROP_UDP_PORT, u_port_swapped, NULL, 0 },
	{ "arp_format_htype", NET_DROP_ARP_FORMAT, NULL, a_htype, 0 },
	{ "arp_format_ptype", NET_DROP_ARP_FORMAT, NULL, a_ptype, 0 },
	{ "arp_format_hlen", NET_DROP_ARP_FORMAT, NULL, a_hlen, 0 },
	{ "arp_format_plen", NET_DROP_ARP_FORMAT, NULL, a_plen, 0 },
	{ "arp_format_op0", NET_DROP_ARP_FORMAT, NULL, a_op0, 0 },
	{ "arp_format_op3", NET_DROP_ARP_FORMAT, NULL, a_op3, 0 },
	{ "arp_format_rarp", NET_DROP_ARP_FORMAT, NULL, a_op_rarp, 0 },
	{ "arp_format_op_swapped", NET_DROP_ARP_FORMAT, NULL, a_op_swapped, 0 },
	{ "arp_format_truncated", NET_DROP_ARP_FORMAT, NULL, a_none, 41 },
	{ "arp_format_ethernet_only", NET_DROP_ARP_FORMAT, NULL, a_none, 14 },
	{ "arp_not_for_us", NET_DROP_ARP_NOT_FOR_US, NULL, a_not_for_us, 0 },
	{ "arp_not_for_us_zero", NET_DROP_ARP_NOT_FOR_US, NULL, a_not_for_us_zero, 0 },
};
#define N_DROP_CASES (sizeof(drop_cases) / sizeof(drop_cases[0]))

static void run_drop_case(void **state)
{
	const struct drop_case *c = *state;
	struct net_pkt p, zero;
	uint32_t n;

	memset(&zero, 0, sizeof(zero));
	if (c->udp) {
		struct udp_spec s;

		udp_default(&s);
		c->udp(&s);
		n = build_udp(&s);
	} else {
		struct arp_spec a;

		arp_default(&a);
		c->arp(&a);
		n = build_arp(&a);
	}
	if (c->len)
		n = c->len == LEN_EMPTY ? 0 : c->len;
	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(parse(n, &p), c->want);
	/* A drop leaves nothing to act on; no byte is read from an empty frame. */
	assert_memory_equal(&p, &zero, sizeof(p));
	if (n == 0)
		assert_int_equal(net_pkt_parse(NULL, 0, &me, &p), NET_DROP_SHORT);
}

static void test_every_reason_has_a_case(void **state)
{
	(void)state;
	for (unsigned r = 0; r < NET_DROP__MAX; r++) {
		bool found = false;

		for (size_t i = 0; i < N_DROP_CASES; i++)
			found |= drop_cases[i].want == (int)r;
		if (!found)
			fail_msg("no case for drop reason %s", net_drop_name(r));
	}
}

static void test_drop_names(void **state)
{
	(void)state;
	for (unsigned r = 0; r < NET_DROP__MAX; r++) {
		const char *n = net_drop_name(r);

		assert_non_null(n);
		assert_non_null(net_drop_str(r));
		assert_string_not_equal(n, "unknown");
		for (const char *c = n; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
		for (unsigned q = 0; q < r; q++)
			assert_string_not_equal(n, net_drop_name(q));
	}
	assert_string_equal(net_drop_name(NET_DROP_IP_CHECKSUM), "ip_checksum");
	assert_string_equal(net_drop_name(NET_DROP__MAX), "unknown");
	assert_string_equal(net_drop_name((unsigned)-1), "unknown");
	assert_string_equal(net_drop_str(NET_DROP__MAX), "unknown reason");
}

/* ---- lengths and damage --------------------------------------------------------------- */

static bool is_length_reason(int r)
{
	return r == NET_DROP_SHORT || r == NET_DROP_IP_LENGTH || r == NET_DROP_UDP_LENGTH ||
	       r == NET_DROP_ARP_FORMAT;
}

/* No prefix of a valid frame is accepted, and each is refused for its length. */
static void test_truncations(void **state)
{
	struct udp_spec s;
	struct arp_spec a;
	struct net_pkt p;
	uint32_t n;

	(void)state;
	for (uint32_t plen = 0; plen <= 24; plen += 8) {
		udp_default(&s);
		s.payload_len = plen;
		n = build_udp(&s);
		for (uint32_t cut = 0; cut < n; cut++) {
			int r = parse(cut, &p);

			if (!is_length_reason(r))
				fail_msg("payload %u cut at %u: %d", plen, cut, r);
		}
		assert_int_equal(parse(n, &p), -1);
	}
	arp_default(&a);
	n = build_arp(&a);
	for (uint32_t cut = 0; cut < n; cut++)
		assert_true(is_length_reason(parse(cut, &p)));
	assert_int_equal(parse(n, &p), -1);
}

/*
 * One flipped bit in the headers: bytes that do not matter still pass (source MAC and
 * port, UDP checksum), everything else is dropped (the IP checksum catches any single
 * flip in the IP header). The payload is not this layer's to check.
 */
static void test_bit_flips(void **state)
{
	struct udp_spec s;
	struct net_pkt p;
	uint32_t n;

	(void)state;
	udp_default(&s);
	n = build_udp(&s);
	for (uint32_t off = 0; off < NET_HDRS_LEN; off++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			bool harmless = (off >= 6 && off < 12) || off == 34 || off == 35 ||
					off == 40 || off == 41;
			int r;

			frame[off] ^= (uint8_t)(1u << bit);
			r = parse(n, &p);
			frame[off] ^= (uint8_t)(1u << bit);
			if (harmless ? r != -1 : r == -1)
				fail_msg("byte %u bit %u: %d", off, bit, r);
		}
	}
}

/* ---- the IP checksum ------------------------------------------------------------------ */

static void test_ip_checksum_known_answer(void **state)
{
	/* The classic example: 192.168.0.1 -> 192.168.0.199, UDP, total 0x73, DF. */
	uint8_t hdr[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			    0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t ones[20];

	(void)state;
	assert_int_equal(net_ip_checksum(hdr), 0xb861);
	hdr[10] = 0xb8;
	hdr[11] = 0x61;
	assert_int_equal(net_ip_checksum(hdr), 0);
	/* Carries: 10 words of 0xffff fold to 0xffff, whose complement is 0. */
	memset(ones, 0xff, sizeof(ones));
	assert_int_equal(net_ip_checksum(ones), 0);
	/* Unaligned: the header at an odd address gives the same answer. */
	memcpy(frame + 1, hdr, 20);
	assert_int_equal(net_ip_checksum(frame + 1), 0);
}

static void test_ip_checksum_random(void **state)
{
	uint64_t seed = test_seed(), rng = seed;
	uint8_t hdr[21];

	(void)state;
	for (unsigned i = 0; i < 10000; i++) {
		for (unsigned b = 0; b < sizeof(hdr); b++)
			hdr[b] = (uint8_t)test_rand(&rng);
		if (net_ip_checksum(hdr + 1) != ref_csum(hdr + 1, 20))
			fail_msg("seed %llu, header %u", (unsigned long long)seed, i);
		wr16(hdr + 11, 0);
		wr16(hdr + 11, net_ip_checksum(hdr + 1));
		assert_int_equal(net_ip_checksum(hdr + 1), 0);
	}
}

/* ---- writers -------------------------------------------------------------------------- */

static void test_udp_writer(void **state)
{
	const struct net_local peer = { .mac = { 0x02, 0, 0, 0, 0, 0x02 },
					.ip = PEER_IP,
					.udp_port = PEER_PORT };
	uint8_t want[NET_HDRS_LEN];
	struct udp_spec s;
	struct net_pkt p;
	uint32_t n;

	(void)state;
	/* What the peer would send us, written by the code under test... */
	memset(frame, 0xcc, 200);
	net_udp_hdrs_write(frame, &peer, me.mac, ME_IP, ME_PORT, 100, true);
	for (uint32_t i = 0; i < 100; i++)
		frame[NET_HDRS_LEN + i] = (uint8_t)i;
	assert_int_equal(parse(NET_HDRS_LEN + 100, &p), -1);
	assert_int_equal(p.kind, NET_PKT_UDP);
	assert_memory_equal(p.src_mac, peer.mac, 6);
	assert_int_equal(p.src_ip, PEER_IP);
	assert_int_equal(p.dst_ip, ME_IP);
	assert_int_equal(p.src_port, PEER_PORT);
	assert_int_equal(p.dst_port, ME_PORT);
	assert_int_equal(p.payload_off, NET_HDRS_LEN);
	assert_int_equal(p.payload_len, 100);
	/* ...is byte for byte what the independent builder makes of the same fields. */
	memcpy(want, frame, sizeof(want));
	udp_default(&s);
	memcpy(s.src, peer.mac, 6);
	s.id = 0;
	s.udp_csum = 0;
	s.payload_len = 100;
	build_udp(&s);
	assert_memory_equal(want, frame, NET_HDRS_LEN);
	assert_int_equal(want[14], 0x45);
	assert_int_equal(want[20], 0x40); /* DF */
	assert_int_equal(want[22], 64);	  /* TTL */

	/* Checksum left to the port: zero, and so dropped if sent as is. */
	n = NET_HDRS_LEN + 100;
	net_udp_hdrs_write(frame, &peer, me.mac, ME_IP, ME_PORT, 100, false);
	assert_int_equal(frame[24], 0);
	assert_int_equal(frame[25], 0);
	assert_int_equal(parse(n, &p), NET_DROP_IP_CHECKSUM);
	/* The largest payload and the smallest. */
	net_udp_hdrs_write(frame, &peer, me.mac, ME_IP, ME_PORT, 65535 - 28, true);
	assert_int_equal(frame[16], 0xff);
	assert_int_equal(frame[17], 0xff);
	assert_int_equal(parse(14 + 65535, &p), -1);
	assert_int_equal(p.payload_len, 65535 - 28);
	net_udp_hdrs_write(frame, &peer, bcast, ME_IP, ME_PORT, 0, true);
	assert_int_equal(parse(NET_HDRS_LEN, &p), -1);
	assert_int_equal(p.payload_len, 0);
}

static void test_arp_writer(void **state)
{
	static const uint8_t want_req[NET_ARP_PKT_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* broadcast */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* from us */
		0x08, 0x06,			    /* ARP */
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, /* Ethernet, IPv4, 6, 4 */
		0x00, 0x01,			    /* request */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* sender MAC */
		0x0a, 0x00, 0x00, 0x01,		    /* sender IP 10.0.0.1 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* target MAC unknown */
		0x0a, 0x00, 0x00, 0x02,		    /* target IP 10.0.0.2 */
	};
	static const uint8_t want_reply[NET_ARP_PKT_LEN] = {
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* to the asker */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* from us */
		0x08, 0x06,			    /* ARP */
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, /* Ethernet, IPv4, 6, 4 */
		0x00, 0x02,			    /* reply */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* sender MAC */
		0x0a, 0x00, 0x00, 0x01,		    /* sender IP 10.0.0.1 */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* target MAC: the asker's */
		0x0a, 0x00, 0x00, 0x02,		    /* target IP 10.0.0.2 */
	};
	uint8_t buf[NET_ARP_PKT_LEN + 1];

	(void)state;
	memset(buf, 0xcc, sizeof(buf));
	net_arp_write(buf, &me, false, NULL, PEER_IP);
	assert_memory_equal(buf, want_req, NET_ARP_PKT_LEN);
	assert_int_equal(buf[NET_ARP_PKT_LEN], 0xcc); /* not a byte more */
	net_arp_write(buf, &me, true, peer_mac, PEER_IP);
	assert_memory_equal(buf, want_reply, NET_ARP_PKT_LEN);
	/* A unicast request (a refresh): to the MAC, target hardware address still zero. */
	net_arp_write(buf, &me, false, peer_mac, PEER_IP);
	assert_memory_equal(buf, want_reply, 6);
	assert_memory_equal(buf + 6, want_req + 6, NET_ARP_PKT_LEN - 6);
}

/* What we write, the peer's parser accepts as such (and ours, with roles swapped). */
static void test_arp_writer_parses(void **state)
{
	const struct net_local peer = { .mac = { 0x02, 0, 0, 0, 0, 0x02 }, .ip = PEER_IP };
	struct net_pkt p;

	(void)state;
	net_arp_write(frame, &peer, false, NULL, ME_IP);
	assert_int_equal(parse(NET_ARP_PKT_LEN, &p), -1);
	assert_int_equal(p.kind, NET_PKT_ARP_REQUEST);
	assert_memory_equal(p.src_mac, peer_mac, 6);
	assert_int_equal(p.src_ip, PEER_IP);
	assert_int_equal(p.dst_ip, ME_IP);
	net_arp_write(frame, &peer, true, me.mac, ME_IP);
	assert_int_equal(parse(NET_ARP_PKT_LEN, &p), -1);
	assert_int_equal(p.kind, NET_PKT_ARP_REPLY);
	assert_int_equal(p.src_ip, PEER_IP);
}

/* ---- ARP classification ---------------------------------------------------------------- */

static void check_arp(const struct arp_spec *a, int kind)
{
	struct net_pkt p;

	assert_int_equal(parse(build_arp(a), &p), -1);
	assert_int_equal(p.kind, kind);
	assert_memory_equal(p.src_mac, a->sha, 6);
	assert_int_equal(p.src_ip, a->spa);
	assert_int_equal(p.dst_ip, a->tpa);
	assert_int_equal(p.src_port, 0);
	assert_int_equal(p.dst_port, 0);
	assert_int_equal(p.payload_off, 0);
	assert_int_equal(p.payload_len, 0);
}

static void test_arp_classify(void **state)
{
	struct arp_spec a;

	(void)state;
	arp_default(&a); /* a request for us */
	check_arp(&a, NET_PKT_ARP_REQUEST);
	memcpy(a.src, other_mac, 6); /* src_mac is the ARP sender, not the Ethernet source */
	memcpy(a.dst, me.mac, 6);    /* a unicast request (refresh) */
	a.frame_len = NET_ETH_MIN_LEN;
	check_arp(&a, NET_PKT_ARP_REQUEST);
	arp_default(&a); /* a probe (RFC 5227): sender IP 0 */
	a.spa = 0;
	check_arp(&a, NET_PKT_ARP_REQUEST);

	arp_default(&a); /* a reply to us */
	a.op = 2;
	memcpy(a.dst, me.mac, 6);
	memcpy(a.tha, me.mac, 6);
	check_arp(&a, NET_PKT_ARP_REPLY);
	a.tpa = OTHER_IP; /* a reply is a reply whatever its target: the caller decides */
	memcpy(a.dst, bcast, 6);
	check_arp(&a, NET_PKT_ARP_REPLY);

	arp_default(&a); /* gratuitous: a request announcing the sender's own address */
	a.tpa = PEER_IP;
	check_arp(&a, NET_PKT_ARP_REPLY);
	a.op = 2; /* and as a reply */
	check_arp(&a, NET_PKT_ARP_REPLY);
	a.op = 1; /* someone announcing our IP: a conflict, reported for the caller to see */
	a.spa = a.tpa = ME_IP;
	check_arp(&a, NET_PKT_ARP_REPLY);
}

/* ---- the neighbour table ---------------------------------------------------------------- */

static struct net_neigh_table tab;

static void mac_of(uint8_t mac[6], uint32_t ip, unsigned gen)
{
	mac[0] = 0x02;
	mac[1] = (uint8_t)gen;
	wr32(mac + 2, ip);
}

static void test_neigh_static(void **state)
{
	const struct net_neigh *e;
	uint8_t mac[6], mac2[6];

	(void)state;
	net_neigh_init(&tab);
	mac_of(mac, PEER_IP, 0);
	mac_of(mac2, PEER_IP, 1);
	assert_int_equal(net_neigh_add_static(&tab, PEER_IP, mac, 1), 0);
	assert_int_equal(net_neigh_add_static(&tab, PEER_IP, mac, 1), -EEXIST);
	assert_int_equal(net_neigh_add_static(&tab, PEER_IP, mac2, 1), -EEXIST);
	assert_int_equal(net_neigh_add_static(&tab, 0, mac, 1), -EINVAL);
	assert_int_equal(net_neigh_add_static(&tab, OTHER_IP, zero6, 1), -EINVAL);
	assert_int_equal(net_neigh_add_static(&tab, OTHER_IP, bcast, 1), -EINVAL);
	e = net_neigh_lookup(&tab, PEER_IP);
	assert_non_null(e);
	assert_true(e->is_static && e->resolved);
	assert_memory_equal(e->mac, mac, 6);
	assert_int_equal(e->port, 1);

	net_neigh_learn(&tab, PEER_IP, mac, 1, 100); /* the same: nothing to refuse */
	assert_int_equal(tab.static_kept, 0);
	net_neigh_learn(&tab, PEER_IP, mac2, 1, 200); /* a spoof, or a moved peer: refused */
	assert_int_equal(tab.static_kept, 1);
	net_neigh_learn(&tab, PEER_IP, mac, 0, 300); /* another port: refused too */
	assert_int_equal(tab.static_kept, 2);
	e = net_neigh_lookup(&tab, PEER_IP);
	assert_memory_equal(e->mac, mac, 6);
	assert_int_equal(e->port, 1);
	assert_int_equal(tab.learnt, 0);
	assert_false(net_neigh_want(&tab, PEER_IP, 0, 400, 0)); /* resolved: no ARP */
	assert_int_equal(tab.used, 1);
	assert_null(net_neigh_lookup(&tab, 0));
}

static void test_neigh_learn(void **state)
{
	const struct net_neigh *e;
	uint8_t mac[6], mac2[6];

	(void)state;
	net_neigh_init(&tab);
	mac_of(mac, PEER_IP, 0);
	mac_of(mac2, PEER_IP, 1);
	assert_null(net_neigh_lookup(&tab, PEER_IP));
	net_neigh_learn(&tab, PEER_IP, mac, 0, 10);
	e = net_neigh_lookup(&tab, PEER_IP);
	assert_non_null(e);
	assert_false(e->is_static);
	assert_true(e->resolved);
	assert_memory_equal(e->mac, mac, 6);
	assert_true(e->updated_ns == 10);
	net_neigh_learn(&tab, PEER_IP, mac2, 1, 20); /* a dynamic entry follows the network */
	e = net_neigh_lookup(&tab, PEER_IP);
	assert_memory_equal(e->mac, mac2, 6);
	assert_int_equal(e->port, 1);
	assert_true(e->updated_ns == 20);
	assert_int_equal(tab.learnt, 2);
	assert_int_equal(tab.used, 1);
	/* Never stored: ip 0, a zero or multicast MAC. */
	net_neigh_learn(&tab, 0, mac, 0, 30);
	net_neigh_learn(&tab, OTHER_IP, zero6, 0, 30);
	net_neigh_learn(&tab, OTHER_IP, bcast, 0, 30);
	net_neigh_learn(&tab, PEER_IP, bcast, 0, 30);
	assert_int_equal(tab.used, 1);
	assert_int_equal(tab.learnt, 2);
	assert_memory_equal(net_neigh_lookup(&tab, PEER_IP)->mac, mac2, 6);
	/* A static entry takes over the learnt one. */
	assert_int_equal(net_neigh_add_static(&tab, PEER_IP, mac, 0), 0);
	e = net_neigh_lookup(&tab, PEER_IP);
	assert_true(e->is_static);
	assert_memory_equal(e->mac, mac, 6);
	assert_int_equal(tab.used, 1);
}

static void test_neigh_want(void **state)
{
	const uint64_t retry = 1000;
	uint8_t mac[6];

	(void)state;
	net_neigh_init(&tab);
	mac_of(mac, PEER_IP, 0);
	assert_false(net_neigh_want(&tab, 0, 0, 0, retry));
	assert_true(net_neigh_want(&tab, PEER_IP, 0, 5000, retry)); /* creates it, pending */
	assert_int_equal(tab.used, 1);
	assert_null(net_neigh_lookup(&tab, PEER_IP)); /* pending is not resolved */
	assert_false(net_neigh_want(&tab, PEER_IP, 0, 5000, retry));
	assert_false(net_neigh_want(&tab, PEER_IP, 0, 5999, retry));
	assert_true(net_neigh_want(&tab, PEER_IP, 0, 6000, retry));
	assert_false(net_neigh_want(&tab, PEER_IP, 0, 6999, retry));
	assert_false(net_neigh_want(&tab, PEER_IP, 0, 100, retry)); /* clock stepped back */
	assert_true(net_neigh_want(&tab, PEER_IP, 1, 7000, retry));
	assert_int_equal(tab.used, 1);
	/* Over a long run: once per retry_ns, never more. */
	{
		unsigned sent = 0;

		for (uint64_t t = 7001; t < 7000 + 10 * retry; t += 7)
			sent += net_neigh_want(&tab, PEER_IP, 1, t, retry);
		assert_int_equal(sent, 9);
	}
	net_neigh_learn(&tab, PEER_IP, mac, 1, 20000);
	assert_non_null(net_neigh_lookup(&tab, PEER_IP));
	assert_false(net_neigh_want(&tab, PEER_IP, 1, 50000, retry)); /* resolved now */
	assert_int_equal(tab.used, 1);
	/* retry 0: every call for a pending entry sends. */
	assert_true(net_neigh_want(&tab, OTHER_IP, 0, 1, 0));
	assert_true(net_neigh_want(&tab, OTHER_IP, 0, 1, 0));
}

/* The i-th dynamic neighbour of the eviction test: 10.1.x.y. */
static uint32_t dyn_ip(unsigned i)
{
	return 0x0a010000u + i;
}

static void test_neigh_eviction(void **state)
{
	const unsigned n_static = 8, n_dyn = NET_NEIGH_FILL_MAX - n_static;
	uint8_t mac[6];

	(void)state;
	net_neigh_init(&tab);
	for (unsigned i = 0; i < n_static; i++) {
		mac_of(mac, PEER_IP + i, 0);
		assert_int_equal(net_neigh_add_static(&tab, PEER_IP + i, mac, 0), 0);
	}
	for (unsigned i = 0; i < n_dyn; i++) {
		mac_of(mac, dyn_ip(i), 0);
		net_neigh_learn(&tab, dyn_ip(i), mac, 0, 1 + i);
	}
	assert_int_equal(tab.used, NET_NEIGH_FILL_MAX);
	assert_int_equal(tab.replaced, 0);
	/* Refreshing the oldest saves it: the second oldest goes. */
	mac_of(mac, dyn_ip(0), 0);
	net_neigh_learn(&tab, dyn_ip(0), mac, 0, 1000);
	mac_of(mac, dyn_ip(n_dyn), 0);
	net_neigh_learn(&tab, dyn_ip(n_dyn), mac, 0, 1001);
	assert_int_equal(tab.replaced, 1);
	assert_int_equal(tab.used, NET_NEIGH_FILL_MAX);
	assert_null(net_neigh_lookup(&tab, dyn_ip(1)));
	assert_non_null(net_neigh_lookup(&tab, dyn_ip(0)));
	/* A pending entry counts as dynamic too: want() evicts the next oldest. */
	assert_true(net_neigh_want(&tab, OTHER_IP, 0, 1002, 10));
	assert_int_equal(tab.replaced, 2);
	assert_null(net_neigh_lookup(&tab, dyn_ip(2)));
	/* Everything else is still found, statics first. */
	for (unsigned i = 0; i < n_static; i++) {
		const struct net_neigh *e = net_neigh_lookup(&tab, PEER_IP + i);

		assert_non_null(e);
		assert_true(e->is_static);
	}
	for (unsigned i = 3; i <= n_dyn; i++)
		assert_non_null(net_neigh_lookup(&tab, dyn_ip(i)));
	/* A static entry may evict a dynamic one; when only statics are left, no room. */
	for (unsigned i = 0; tab.replaced < 2 + n_dyn; i++) {
		mac_of(mac, 0x0a020000u + i, 0);
		assert_int_equal(net_neigh_add_static(&tab, 0x0a020000u + i, mac, 0), 0);
	}
	assert_int_equal(tab.used, NET_NEIGH_FILL_MAX);
	mac_of(mac, 0x0a030000u, 0);
	assert_int_equal(net_neigh_add_static(&tab, 0x0a030000u, mac, 0), -ENOSPC);
	net_neigh_learn(&tab, 0x0a030000u, mac, 0, 2000);
	assert_null(net_neigh_lookup(&tab, 0x0a030000u));
	assert_false(net_neigh_want(&tab, 0x0a030000u, 0, 2000, 10));
	assert_int_equal(tab.used, NET_NEIGH_FILL_MAX);
	for (unsigned i = 0; i < n_static; i++)
		assert_non_null(net_neigh_lookup(&tab, PEER_IP + i));
}

/* ---- the table against a reference: a plain array with the same rules ------------------ */

struct ref_entry {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t port;
	bool is_static, resolved;
	uint64_t updated, requested;
};

struct ref {
	struct ref_entry e[NET_NEIGH_FILL_MAX];
	unsigned n;
	uint64_t learnt, replaced, static_kept;
};

static struct ref ref;

static struct ref_entry *ref_find(uint32_t ip)
{
	for (unsigned i = 0; i < ref.n; i++)
		if (ref.e[i].ip == ip)
			return &ref.e[i];
	return NULL;
}

/* The times in the stress test only grow, so the oldest dynamic entry is unique. */
static struct ref_entry *ref_insert(uint32_t ip)
{
	if (ref.n == NET_NEIGH_FILL_MAX) {
		int old = -1;

		for (unsigned i = 0; i < ref.n; i++)
			if (!ref.e[i].is_static &&
			    (old < 0 || ref.e[i].updated < ref.e[old].updated))
				old = (int)i;
		if (old < 0)
			return NULL;
		ref.e[old] = ref.e[--ref.n];
		ref.replaced++;
	}
	memset(&ref.e[ref.n], 0, sizeof(ref.e[0]));
	ref.e[ref.n].ip = ip;
	return &ref.e[ref.n++];
}

static int ref_add_static(uint32_t ip, const uint8_t mac[6], uint8_t port)
{
	struct ref_entry *e = ref_find(ip);

	if (e && e->is_static)
		return -EEXIST;
	if (!e && !(e = ref_insert(ip)))
		return -ENOSPC;
	memcpy(e->mac, mac, 6);
	e->port = port;
	e->is_static = e->resolved = true;
	return 0;
}

static void ref_learn(uint32_t ip, const uint8_t mac[6], uint8_t port, uint64_t now)
{
	struct ref_entry *e = ref_find(ip);

	if (e && e->is_static) {
		ref.static_kept += memcmp(e->mac, mac, 6) != 0 || e->port != port;
		return;
	}
	if (!e && !(e = ref_insert(ip)))
		return;
	memcpy(e->mac, mac, 6);
	e->port = port;
	e->resolved = true;
	e->updated = now;
	ref.learnt++;
}

static bool ref_want(uint32_t ip, uint8_t port, uint64_t now, uint64_t retry)
{
	struct ref_entry *e = ref_find(ip);

	if (e && (e->resolved || now - e->requested < retry))
		return false;
	if (!e && !(e = ref_insert(ip)))
		return false;
	e->port = port;
	e->requested = e->updated = now;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

#define STRESS_FAIL(what) \
	fail_msg("seed %llu step %u: %s (ip %08x)", (unsigned long long)seed, step, what, ip)

/* One IP: lookup agrees with the reference, and so do the counters. */
static void check_ip(uint32_t ip, uint64_t seed, unsigned step)
{
	const struct net_neigh *e = net_neigh_lookup(&tab, ip);
	const struct ref_entry *r = ref_find(ip);

	if ((e != NULL) != (r != NULL && r->resolved))
		STRESS_FAIL("found by one, not the other");
	if (e && (e->ip != ip || memcmp(e->mac, r->mac, 6) != 0 || e->port != r->port ||
		  e->is_static != r->is_static))
		STRESS_FAIL("entries differ");
	if (tab.used != ref.n || tab.learnt != ref.learnt || tab.replaced != ref.replaced ||
	    tab.static_kept != ref.static_kept)
		STRESS_FAIL("counters differ");
}

/* The whole table: each IP once, the same set as the reference, every lookup agrees. */
static void check_all(const uint32_t *ips, unsigned n_ips, uint64_t seed, unsigned step)
{
	uint32_t ip = 0, held[NET_NEIGH_MAX];
	unsigned n = 0;

	for (unsigned i = 0; i < NET_NEIGH_MAX; i++)
		if (tab.e[i].ip != 0)
			held[n++] = tab.e[i].ip;
	qsort(held, n, sizeof(held[0]), cmp_u32);
	for (unsigned i = 1; i < n; i++)
		if (held[i] == held[i - 1])
			fail_msg("seed %llu step %u: ip %08x twice", (unsigned long long)seed, step,
				 held[i]);
	if (n != ref.n)
		STRESS_FAIL("slot count differs");
	for (unsigned i = 0; i < ref.n; i++)
		if (!bsearch(&ref.e[i].ip, held, n, sizeof(held[0]), cmp_u32))
			STRESS_FAIL("reference entry missing");
	for (unsigned i = 0; i < n_ips; i++)
		check_ip(ips[i], seed, step);
}

static void test_neigh_stress(void **state)
{
	enum { N_IPS = 400, STEPS = 20000 };
	uint64_t seed = test_seed(), rng = seed, now = 1;
	uint32_t ips[N_IPS];

	(void)state;
	net_neigh_init(&tab);
	memset(&ref, 0, sizeof(ref));
	/* Clustered addresses (as real peers are) and scattered ones, so runs collide. */
	for (unsigned i = 0; i < N_IPS; i++)
		ips[i] = i < N_IPS / 2 ? 0x0a000001u + i : (uint32_t)test_rand(&rng) | 1u;
	for (unsigned step = 0; step < STEPS; step++) {
		uint64_t r = test_rand(&rng);
		uint32_t ip = ips[(r >> 8) % N_IPS];
		uint8_t mac[6], port = (uint8_t)(r >> 40 & 1);
		unsigned op = r % 100;

		now += 1 + (r >> 20) % 50;
		mac_of(mac, ip, (unsigned)(r >> 32) % 3);
		if (op < 2) {
			int got = net_neigh_add_static(&tab, ip, mac, port);

			if (got != ref_add_static(ip, mac, port))
				fail_msg("seed %llu step %u: add_static", (unsigned long long)seed,
					 step);
		} else if (op < 55) {
			net_neigh_learn(&tab, ip, mac, port, now);
			ref_learn(ip, mac, port, now);
		} else if (op < 90) {
			if (net_neigh_want(&tab, ip, port, now, 200) !=
			    ref_want(ip, port, now, 200))
				fail_msg("seed %llu step %u: want", (unsigned long long)seed, step);
		}
		check_ip(ip, seed, step);
		if (step % 16 == 0 || step == STEPS - 1)
			check_all(ips, N_IPS, seed, step);
	}
	assert_true(ref.replaced > 1000); /* the test did exercise eviction */
}

int main(void)
{
	static struct CMUnitTest tests[N_DROP_CASES + 32];
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_udp_valid),
		cmocka_unit_test(test_udp_padding),
		cmocka_unit_test(test_every_reason_has_a_case),
		cmocka_unit_test(test_drop_names),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_ip_checksum_known_answer),
		cmocka_unit_test(test_ip_checksum_random),
		cmocka_unit_test(test_udp_writer),
		cmocka_unit_test(test_arp_writer),
		cmocka_unit_test(test_arp_writer_parses),
		cmocka_unit_test(test_arp_classify),
		cmocka_unit_test(test_neigh_static),
		cmocka_unit_test(test_neigh_learn),
		cmocka_unit_test(test_neigh_want),
		cmocka_unit_test(test_neigh_eviction),
		cmocka_unit_test(test_neigh_stress),
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	for (size_t i = 0; i < N_DROP_CASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = drop_cases[i].name,
						  .test_func = run_drop_case,
						  .initial_state = (void *)&drop_cases[i] };
	return _cmocka_run_group_tests("pkt", tests, n, NULL, NULL);
}
