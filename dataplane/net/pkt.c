/* Ethernet, ARP, IPv4 and UDP for shiplogd: parsing, header building, the neighbour table. */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "pkt.h"

/* Field offsets from the start of the frame (frames are not aligned: see get_be16). */
#define OFF_ETH_DST	 0u
#define OFF_ETH_SRC	 6u
#define OFF_ETH_TYPE	 12u
#define OFF_IP		 NET_ETH_HDR_LEN
#define OFF_IP_VER_IHL	 (OFF_IP + 0u)
#define OFF_IP_TOS	 (OFF_IP + 1u)
#define OFF_IP_TOTAL	 (OFF_IP + 2u)
#define OFF_IP_ID	 (OFF_IP + 4u)
#define OFF_IP_FRAG	 (OFF_IP + 6u)
#define OFF_IP_TTL	 (OFF_IP + 8u)
#define OFF_IP_PROTO	 (OFF_IP + 9u)
#define OFF_IP_CSUM	 (OFF_IP + 10u)
#define OFF_IP_SRC	 (OFF_IP + 12u)
#define OFF_IP_DST	 (OFF_IP + 16u)
#define OFF_UDP		 (OFF_IP + NET_IP_HDR_LEN)
#define OFF_UDP_SPORT	 (OFF_UDP + 0u)
#define OFF_UDP_DPORT	 (OFF_UDP + 2u)
#define OFF_UDP_LEN	 (OFF_UDP + 4u)
#define OFF_UDP_CSUM	 (OFF_UDP + 6u)
#define OFF_ARP_HTYPE	 (NET_ETH_HDR_LEN + 0u)
#define OFF_ARP_PTYPE	 (NET_ETH_HDR_LEN + 2u)
#define OFF_ARP_HLEN	 (NET_ETH_HDR_LEN + 4u)
#define OFF_ARP_PLEN	 (NET_ETH_HDR_LEN + 5u)
#define OFF_ARP_OP	 (NET_ETH_HDR_LEN + 6u)
#define OFF_ARP_SHA	 (NET_ETH_HDR_LEN + 8u)
#define OFF_ARP_SPA	 (NET_ETH_HDR_LEN + 14u)
#define OFF_ARP_THA	 (NET_ETH_HDR_LEN + 18u)
#define OFF_ARP_TPA	 (NET_ETH_HDR_LEN + 24u)
#define IP_VER_IHL	 0x45u
#define IP_FLAG_DF	 0x4000u
#define IP_FLAG_MF	 0x2000u
#define IP_FRAG_OFF_MASK 0x1fffu
#define IP_MAX_LEN	 0xffffu
#define ARP_HTYPE_ETH	 1u
#define ARP_OP_REQUEST	 1u
#define ARP_OP_REPLY	 2u
#define ETH_ADDR_LEN	 6u
#define IP_ADDR_LEN	 4u

_Static_assert(OFF_UDP_CSUM + 2 == NET_HDRS_LEN, "UDP header ends the headers");
_Static_assert(OFF_ARP_TPA + IP_ADDR_LEN == NET_ARP_PKT_LEN, "ARP body is 28 bytes");

static const uint8_t eth_bcast[ETH_ADDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static const struct {
	const char *name;
	const char *text;
} drop_info[] = {
	[NET_DROP_SHORT] = { "short", "frame shorter than the headers it claims" },
	[NET_DROP_ETHERTYPE] = { "ethertype", "not IPv4 or ARP (IPv6, VLAN tag, LLDP, ...)" },
	[NET_DROP_MAC_DST] = { "mac_dst", "unicast to another MAC" },
	[NET_DROP_IP_VERSION] = { "ip_version", "IPv4 ethertype with another IP version" },
	[NET_DROP_IP_OPTIONS] = { "ip_options", "IPv4 header with options (IHL not 5)" },
	[NET_DROP_IP_LENGTH] = { "ip_length", "IPv4 total length too short or past the frame" },
	[NET_DROP_IP_CHECKSUM] = { "ip_checksum", "IPv4 header checksum wrong" },
	[NET_DROP_IP_FRAGMENT] = { "ip_fragment", "IPv4 fragment (MF set or offset non-zero)" },
	[NET_DROP_IP_DST] = { "ip_dst", "IPv4 destination is not this node" },
	[NET_DROP_IP_SRC] = { "ip_src", "IPv4 source 0, multicast, broadcast or loopback" },
	[NET_DROP_IP_PROTO] = { "ip_proto", "IP protocol is not UDP" },
	[NET_DROP_UDP_LENGTH] = { "udp_length", "UDP length disagrees with the IP length" },
	[NET_DROP_UDP_PORT] = { "udp_port", "UDP destination port is not ours" },
	[NET_DROP_ARP_FORMAT] = { "arp_format", "ARP not Ethernet/IPv4, truncated, or bad op" },
	[NET_DROP_ARP_NOT_FOR_US] = { "arp_not_for_us", "ARP request for another IP" },
};
_Static_assert(sizeof(drop_info) / sizeof(drop_info[0]) == NET_DROP__MAX,
	       "a name for every drop reason");

const char *net_drop_name(unsigned d)
{
	return d < NET_DROP__MAX ? drop_info[d].name : "unknown";
}

const char *net_drop_str(unsigned d)
{
	return d < NET_DROP__MAX ? drop_info[d].text : "unknown reason";
}

/* Wire fields are big-endian and unaligned: memcpy, then swap (one load and a bswap). */
static inline uint16_t get_be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

uint16_t net_ip_checksum(const void *ip_hdr)
{
	const uint8_t *p = ip_hdr;
	uint32_t sum = 0;

	assert(ip_hdr != NULL);
	/* 10 words of at most 0xffff: the sum fits 20 bits, two folds bring it to 16. */
	for (unsigned i = 0; i < NET_IP_HDR_LEN; i += 2)
		sum += get_be16(p + i);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Never a valid source: 0.0.0.0, 127/8, 224/4 multicast, limited broadcast. */
static inline bool ip_src_invalid(uint32_t ip)
{
	return ip == 0 || (ip >> 24) == 127 || (ip & 0xf0000000u) == 0xe0000000u ||
	       ip == 0xffffffffu;
}

/* IPv4 then UDP, in the order DESIGN.md §3 states them; len >= 14, ethertype IPv4. */
static int parse_ipv4(const uint8_t *f, uint32_t len, const struct net_local *me,
		      struct net_pkt *out)
{
	uint32_t total, src;

	if (len < NET_ETH_HDR_LEN + NET_IP_HDR_LEN)
		return NET_DROP_SHORT;
	if ((f[OFF_IP_VER_IHL] >> 4) != 4)
		return NET_DROP_IP_VERSION;
	if ((f[OFF_IP_VER_IHL] & 0x0fu) != 5)
		return NET_DROP_IP_OPTIONS;
	/* The datagram may end before the frame (Ethernet padding), never after it. It
	 * holds a UDP header, which also makes the UDP fields below readable. */
	total = get_be16(f + OFF_IP_TOTAL);
	if (total < NET_IP_HDR_LEN + NET_UDP_HDR_LEN || total > len - NET_ETH_HDR_LEN)
		return NET_DROP_IP_LENGTH;
	if (net_ip_checksum(f + OFF_IP) != 0)
		return NET_DROP_IP_CHECKSUM;
	/* DF may be set or not; the reserved bit is ignored. */
	if (get_be16(f + OFF_IP_FRAG) & (IP_FLAG_MF | IP_FRAG_OFF_MASK))
		return NET_DROP_IP_FRAGMENT;
	if (get_be32(f + OFF_IP_DST) != me->ip)
		return NET_DROP_IP_DST;
	src = get_be32(f + OFF_IP_SRC);
	if (ip_src_invalid(src))
		return NET_DROP_IP_SRC;
	if (f[OFF_IP_PROTO] != NET_IPPROTO_UDP)
		return NET_DROP_IP_PROTO;
	if (get_be16(f + OFF_UDP_LEN) != total - NET_IP_HDR_LEN)
		return NET_DROP_UDP_LENGTH;
	if (get_be16(f + OFF_UDP_DPORT) != me->udp_port)
		return NET_DROP_UDP_PORT;

	out->kind = NET_PKT_UDP;
	memcpy(out->src_mac, f + OFF_ETH_SRC, ETH_ADDR_LEN);
	out->src_ip = src;
	out->dst_ip = me->ip;
	out->src_port = get_be16(f + OFF_UDP_SPORT);
	out->dst_port = me->udp_port;
	out->payload_off = NET_HDRS_LEN;
	out->payload_len = total - NET_IP_HDR_LEN - NET_UDP_HDR_LEN;
	assert(out->payload_off + out->payload_len <= len);
	return -1;
}

/* Ethernet/IPv4 ARP; len >= 14, ethertype ARP. Classification: see pkt.h. */
static int parse_arp(const uint8_t *f, uint32_t len, const struct net_local *me,
		     struct net_pkt *out)
{
	uint32_t spa, tpa;
	uint16_t op;

	if (len < NET_ARP_PKT_LEN)
		return NET_DROP_ARP_FORMAT;
	if (get_be16(f + OFF_ARP_HTYPE) != ARP_HTYPE_ETH ||
	    get_be16(f + OFF_ARP_PTYPE) != NET_ETHERTYPE_IP || f[OFF_ARP_HLEN] != ETH_ADDR_LEN ||
	    f[OFF_ARP_PLEN] != IP_ADDR_LEN)
		return NET_DROP_ARP_FORMAT;
	op = get_be16(f + OFF_ARP_OP);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)
		return NET_DROP_ARP_FORMAT;
	spa = get_be32(f + OFF_ARP_SPA);
	tpa = get_be32(f + OFF_ARP_TPA);
	/* A gratuitous request (spa == tpa) asks nothing: it announces, like a reply. */
	if (op == ARP_OP_REQUEST && spa != tpa && tpa != me->ip)
		return NET_DROP_ARP_NOT_FOR_US;

	out->kind = (op == ARP_OP_REPLY || spa == tpa) ? NET_PKT_ARP_REPLY : NET_PKT_ARP_REQUEST;
	memcpy(out->src_mac, f + OFF_ARP_SHA, ETH_ADDR_LEN);
	out->src_ip = spa;
	out->dst_ip = tpa;
	return -1;
}

int net_pkt_parse(const uint8_t *frame, uint32_t len, const struct net_local *me,
		  struct net_pkt *out)
{
	uint16_t type;

	assert(me != NULL && out != NULL);
	assert(frame != NULL || len == 0);
	memset(out, 0, sizeof(*out));
	if (len < NET_ETH_HDR_LEN)
		return NET_DROP_SHORT;
	type = get_be16(frame + OFF_ETH_TYPE);
	if (type != NET_ETHERTYPE_IP && type != NET_ETHERTYPE_ARP)
		return NET_DROP_ETHERTYPE;
	/* Broadcast passes here; an IPv4 broadcast then fails the IP_DST check. */
	if (memcmp(frame + OFF_ETH_DST, me->mac, ETH_ADDR_LEN) != 0 &&
	    memcmp(frame + OFF_ETH_DST, eth_bcast, ETH_ADDR_LEN) != 0)
		return NET_DROP_MAC_DST;
	if (type == NET_ETHERTYPE_ARP)
		return parse_arp(frame, len, me, out);
	return parse_ipv4(frame, len, me, out);
}

static void eth_write(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(buf + OFF_ETH_DST, dst, ETH_ADDR_LEN);
	memcpy(buf + OFF_ETH_SRC, src, ETH_ADDR_LEN);
	put_be16(buf + OFF_ETH_TYPE, type);
}

void net_udp_hdrs_write(uint8_t *buf, const struct net_local *me, const uint8_t dst_mac[6],
			uint32_t dst_ip, uint16_t dst_port, uint32_t payload_len, bool ip_csum)
{
	uint32_t total = NET_IP_HDR_LEN + NET_UDP_HDR_LEN + payload_len;

	assert(buf != NULL && me != NULL && dst_mac != NULL);
	assert(payload_len <= IP_MAX_LEN - NET_IP_HDR_LEN - NET_UDP_HDR_LEN);
	eth_write(buf, dst_mac, me->mac, NET_ETHERTYPE_IP);
	buf[OFF_IP_VER_IHL] = IP_VER_IHL;
	buf[OFF_IP_TOS] = 0;
	put_be16(buf + OFF_IP_TOTAL, (uint16_t)total);
	put_be16(buf + OFF_IP_ID, 0);
	put_be16(buf + OFF_IP_FRAG, IP_FLAG_DF);
	buf[OFF_IP_TTL] = NET_IP_TTL;
	buf[OFF_IP_PROTO] = NET_IPPROTO_UDP;
	put_be16(buf + OFF_IP_CSUM, 0);
	put_be32(buf + OFF_IP_SRC, me->ip);
	put_be32(buf + OFF_IP_DST, dst_ip);
	if (ip_csum)
		put_be16(buf + OFF_IP_CSUM, net_ip_checksum(buf + OFF_IP));
	put_be16(buf + OFF_UDP_SPORT, me->udp_port);
	put_be16(buf + OFF_UDP_DPORT, dst_port);
	put_be16(buf + OFF_UDP_LEN, (uint16_t)(total - NET_IP_HDR_LEN));
	put_be16(buf + OFF_UDP_CSUM, 0); /* none: see pkt.h */
	/* Checked right after writing: a wrong checksum here would be a silent drop there. */
	assert(!ip_csum || net_ip_checksum(buf + OFF_IP) == 0);
}

void net_arp_write(uint8_t *buf, const struct net_local *me, bool reply, const uint8_t *target_mac,
		   uint32_t target_ip)
{
	static const uint8_t zero_mac[ETH_ADDR_LEN];

	assert(buf != NULL && me != NULL);
	assert(!reply || target_mac != NULL);
	eth_write(buf, target_mac ? target_mac : eth_bcast, me->mac, NET_ETHERTYPE_ARP);
	put_be16(buf + OFF_ARP_HTYPE, ARP_HTYPE_ETH);
	put_be16(buf + OFF_ARP_PTYPE, NET_ETHERTYPE_IP);
	buf[OFF_ARP_HLEN] = ETH_ADDR_LEN;
	buf[OFF_ARP_PLEN] = IP_ADDR_LEN;
	put_be16(buf + OFF_ARP_OP, reply ? ARP_OP_REPLY : ARP_OP_REQUEST);
	memcpy(buf + OFF_ARP_SHA, me->mac, ETH_ADDR_LEN);
	put_be32(buf + OFF_ARP_SPA, me->ip);
	memcpy(buf + OFF_ARP_THA, reply ? target_mac : zero_mac, ETH_ADDR_LEN);
	put_be32(buf + OFF_ARP_TPA, target_ip);
}

/*
 * Neighbour table: open addressing on a hash of the IP, linear probing.
 *
 * Why not a plain scan: a send looks its destination up for every burst and a received
 * datagram refreshes its source, so lookups are the hot operation. A hit at the 25% load
 * of 64 peers costs about one probe; a scan of 256 32-byte slots touches 8 KiB. Measured
 * (gcc -O2, x86-64, random lookups of 64 learnt peers): 1.9 ns a hit against 47 ns for
 * the scan; at the 3/4 fill limit 2.6 ns a hit, 15 ns a miss.
 *
 * Invariants: ip 0 marks a free slot; at most NET_NEIGH_FILL_MAX (3/4) slots are used,
 * so every probe run ends at a free slot (expected ~8 probes for a miss at 3/4 load,
 * ~1.2 at 1/4); every entry sits in the run that starts at its home slot, with no free
 * slot between home and it. Deletion (only eviction deletes) keeps that with backward
 * shift (Knuth 6.4 algorithm R): the entries after the hole that may move back into it
 * do, so there are no tombstones and lookups stay short after any number of evictions.
 */
#define NEIGH_BITS 8u
#define NEIGH_MASK (NET_NEIGH_MAX - 1u)
_Static_assert((1u << NEIGH_BITS) == NET_NEIGH_MAX, "the table is a power of two");
_Static_assert(NET_NEIGH_FILL_MAX < NET_NEIGH_MAX, "a free slot ends every probe run");

/* Fibonacci hashing: the top bits of ip * 2^32/phi spread consecutive peer IPs. */
static inline unsigned neigh_home(uint32_t ip)
{
	return (uint32_t)(ip * 0x9e3779b1u) >> (32u - NEIGH_BITS);
}

static inline bool mac_storable(const uint8_t mac[6])
{
	static const uint8_t zero_mac[ETH_ADDR_LEN];

	return (mac[0] & 1u) == 0 && memcmp(mac, zero_mac, ETH_ADDR_LEN) != 0;
}

/* The slot holding ip (not 0), or -1. */
static int neigh_find(const struct net_neigh_table *t, uint32_t ip)
{
	unsigned i = neigh_home(ip);

	for (unsigned n = 0; n < NET_NEIGH_MAX; n++, i = (i + 1) & NEIGH_MASK) {
		if (t->e[i].ip == ip)
			return (int)i;
		if (t->e[i].ip == 0)
			return -1;
	}
	return -1;
}

/* Empties slot hole, moving back the entries of its run that may fill it. */
static void neigh_remove(struct net_neigh_table *t, unsigned hole)
{
	unsigned j = hole;

	assert(t->e[hole].ip != 0 && t->used > 0);
	for (unsigned n = 1; n < NET_NEIGH_MAX; n++) {
		unsigned home;

		j = (j + 1) & NEIGH_MASK;
		if (t->e[j].ip == 0)
			break;
		/* e[j] stays when its home lies cyclically in (hole, j]: moving it back
		 * would put it before its home, where a probe never looks. */
		home = neigh_home(t->e[j].ip);
		if (((j - home) & NEIGH_MASK) < ((j - hole) & NEIGH_MASK))
			continue;
		t->e[hole] = t->e[j];
		hole = j;
	}
	memset(&t->e[hole], 0, sizeof(t->e[hole]));
	t->used--;
}

/* The dynamic entry least recently learnt or requested (first slot on a tie), or -1. */
static int neigh_oldest_dynamic(const struct net_neigh_table *t)
{
	int oldest = -1;

	for (unsigned i = 0; i < NET_NEIGH_MAX; i++) {
		const struct net_neigh *e = &t->e[i];

		if (e->ip == 0 || e->is_static)
			continue;
		if (oldest < 0 || e->updated_ns < t->e[oldest].updated_ns)
			oldest = (int)i;
	}
	return oldest;
}

/* A zeroed entry holding ip (absent from t), evicting the oldest dynamic entry from a full
 * table; NULL when the table is full of static entries. */
static struct net_neigh *neigh_insert(struct net_neigh_table *t, uint32_t ip)
{
	unsigned i;

	assert(ip != 0 && neigh_find(t, ip) < 0);
	if (t->used >= NET_NEIGH_FILL_MAX) {
		int old = neigh_oldest_dynamic(t);

		if (old < 0)
			return NULL;
		neigh_remove(t, (unsigned)old);
		t->replaced++;
	}
	/* used < FILL_MAX < MAX: a free slot exists, so this ends. */
	for (i = neigh_home(ip); t->e[i].ip != 0; i = (i + 1) & NEIGH_MASK)
		;
	memset(&t->e[i], 0, sizeof(t->e[i]));
	t->e[i].ip = ip;
	t->used++;
	return &t->e[i];
}

void net_neigh_init(struct net_neigh_table *t)
{
	assert(t != NULL);
	memset(t, 0, sizeof(*t));
}

int net_neigh_add_static(struct net_neigh_table *t, uint32_t ip, const uint8_t mac[6], uint8_t port)
{
	struct net_neigh *e;
	int i;

	assert(t != NULL && mac != NULL);
	if (ip == 0 || !mac_storable(mac))
		return -EINVAL;
	i = neigh_find(t, ip);
	if (i >= 0 && t->e[i].is_static)
		return -EEXIST;
	e = i >= 0 ? &t->e[i] : neigh_insert(t, ip);
	if (e == NULL)
		return -ENOSPC;
	memcpy(e->mac, mac, ETH_ADDR_LEN);
	e->port = port;
	e->is_static = true;
	e->resolved = true;
	return 0;
}

void net_neigh_learn(struct net_neigh_table *t, uint32_t ip, const uint8_t mac[6], uint8_t port,
		     uint64_t now_ns)
{
	struct net_neigh *e;
	int i;

	assert(t != NULL && mac != NULL);
	if (ip == 0 || !mac_storable(mac))
		return;
	i = neigh_find(t, ip);
	if (i >= 0 && t->e[i].is_static) {
		e = &t->e[i];
		if (memcmp(e->mac, mac, ETH_ADDR_LEN) != 0 || e->port != port)
			t->static_kept++;
		return;
	}
	e = i >= 0 ? &t->e[i] : neigh_insert(t, ip);
	if (e == NULL)
		return;
	memcpy(e->mac, mac, ETH_ADDR_LEN);
	e->port = port;
	e->resolved = true;
	e->updated_ns = now_ns;
	t->learnt++;
}

const struct net_neigh *net_neigh_lookup(const struct net_neigh_table *t, uint32_t ip)
{
	int i;

	assert(t != NULL);
	if (ip == 0)
		return NULL;
	i = neigh_find(t, ip);
	if (i < 0 || !t->e[i].resolved)
		return NULL;
	return &t->e[i];
}

bool net_neigh_want(struct net_neigh_table *t, uint32_t ip, uint8_t port, uint64_t now_ns,
		    uint64_t retry_ns)
{
	struct net_neigh *e;
	int i;

	assert(t != NULL);
	if (ip == 0)
		return false;
	i = neigh_find(t, ip);
	if (i >= 0) {
		e = &t->e[i];
		if (e->resolved)
			return false;
		/* A clock that stepped back has not let retry_ns pass. */
		if (now_ns < e->requested_ns || now_ns - e->requested_ns < retry_ns)
			return false;
	} else {
		e = neigh_insert(t, ip);
		if (e == NULL)
			return false;
	}
	e->port = port;
	e->requested_ns = now_ns;
	e->updated_ns = now_ns;
	return true;
}
