/* Ethernet, ARP, IPv4 and UDP for shiplogd: parsing with drop reasons, header building,
 * the neighbour table. Pure byte-level code: no DPDK here, so tests and fuzzers run it. */
#ifndef SHIPLOG_NET_PKT_H
#define SHIPLOG_NET_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN.md §3: shiplog speaks UDP over IPv4 over Ethernet, IPv4 without options, DF
 * set, never fragmented. ARP is answered and resolved here. Everything else that
 * arrives is dropped and counted by reason (never acted on, never a crash).
 *
 * The UDP checksum is not verified: every shiplog frame carries its own CRC32C (and a
 * MAC with a cluster key), and kernel senders on veth leave it unfinished (checksum
 * offload), so checking it would drop good traffic. Outgoing datagrams carry checksum
 * zero, which IPv4 allows. The IPv4 header checksum is always verified.
 *
 * Addresses are in host byte order in every struct here; the wire is big-endian.
 */

#define NET_ETH_HDR_LEN	  14u
#define NET_IP_HDR_LEN	  20u
#define NET_UDP_HDR_LEN	  8u
#define NET_HDRS_LEN	  (NET_ETH_HDR_LEN + NET_IP_HDR_LEN + NET_UDP_HDR_LEN) /* 42 */
#define NET_ARP_PKT_LEN	  (NET_ETH_HDR_LEN + 28u)			       /* 42 */
#define NET_ETH_MIN_LEN	  60u /* without FCS: shorter frames are padded on send */
#define NET_ETHERTYPE_IP  0x0800u
#define NET_ETHERTYPE_ARP 0x0806u
#define NET_IPPROTO_UDP	  17u
#define NET_IP_TTL	  64u

enum net_drop {
	NET_DROP_SHORT = 0,	 /* shorter than the headers it claims */
	NET_DROP_ETHERTYPE,	 /* not IPv4 or ARP (IPv6, VLAN tags, LLDP, ...) */
	NET_DROP_MAC_DST,	 /* unicast to another MAC */
	NET_DROP_IP_VERSION,	 /* IPv4 header with another version */
	NET_DROP_IP_OPTIONS,	 /* IHL other than 5 */
	NET_DROP_IP_LENGTH,	 /* total length shorter than the headers or than the frame holds */
	NET_DROP_IP_CHECKSUM,	 /* header checksum wrong */
	NET_DROP_IP_FRAGMENT,	 /* MF set or fragment offset non-zero */
	NET_DROP_IP_DST,	 /* not addressed to this node's IP (broadcast included) */
	NET_DROP_IP_SRC,	 /* source 0.0.0.0, multicast, broadcast or loopback */
	NET_DROP_IP_PROTO,	 /* not UDP (ICMP, TCP, ...) */
	NET_DROP_UDP_LENGTH,	 /* UDP length disagrees with the IP length */
	NET_DROP_UDP_PORT,	 /* not this node's UDP port */
	NET_DROP_ARP_FORMAT,	 /* not Ethernet/IPv4 ARP, shorter than one, or an unknown opcode */
	NET_DROP_ARP_NOT_FOR_US, /* an ARP request for another IP (counted, not answered) */
	NET_DROP__MAX
};

/* Stable lowercase name ("ip_checksum") for counters, and a sentence for logs. */
const char *net_drop_name(unsigned d);
const char *net_drop_str(unsigned d);

struct net_drop_stats {
	uint64_t count[NET_DROP__MAX];
};

/* This node's addresses on one port. */
struct net_local {
	uint8_t mac[6];
	uint32_t ip;
	uint16_t udp_port;
};

enum net_kind {
	NET_PKT_UDP = 1,     /* a datagram for our port: payload_off/payload_len */
	NET_PKT_ARP_REQUEST, /* someone asks for our IP: answer it */
	NET_PKT_ARP_REPLY,   /* an answer (or a gratuitous announcement) */
};

struct net_pkt {
	uint8_t kind; /* enum net_kind */
	uint8_t src_mac[6];
	uint32_t src_ip; /* UDP: IP source; ARP: sender protocol address */
	uint32_t dst_ip; /* UDP: IP destination; ARP: target protocol address */
	uint16_t src_port;
	uint16_t dst_port;
	uint32_t payload_off; /* UDP: offset of the datagram's payload in the frame */
	uint32_t payload_len; /* UDP: its length (the UDP length less 8) */
};

/*
 * Classifies one received Ethernet frame of len bytes (no FCS; padding after the IP
 * datagram allowed). Returns -1 with *out filled for something to act on, or the
 * enum net_drop reason (>= 0, < NET_DROP__MAX) to count and drop; *out is then zeroed.
 * Broadcast and our MAC are accepted as Ethernet destinations.
 *
 * ARP: a request (op 1) for our IP is NET_PKT_ARP_REQUEST, one for another IP is
 * NET_DROP_ARP_NOT_FOR_US. A reply (op 2) is NET_PKT_ARP_REPLY whatever its target. A
 * gratuitous ARP (sender IP == target IP, op 1 or 2) announces the sender's own
 * address, so it is NET_PKT_ARP_REPLY too; src_ip may then be 0 or even our own IP (an
 * address conflict): the caller decides what to learn. Fields that do not apply to the
 * kind (ports and payload for ARP) are zero.
 */
int net_pkt_parse(const uint8_t *frame, uint32_t len, const struct net_local *me,
		  struct net_pkt *out);

/* Internet checksum of an IPv4 header (20 bytes, checksum field as it stands), in host
 * byte order: 0 for a header whose checksum is right; with the field zeroed, the value to
 * store (big-endian). */
uint16_t net_ip_checksum(const void *ip_hdr);

/*
 * Writes Ethernet + IPv4 + UDP headers (NET_HDRS_LEN bytes) for a payload of
 * payload_len bytes from me to (dst_mac, dst_ip, dst_port): DF set, TTL 64, IP id 0,
 * UDP checksum 0. ip_csum false leaves the IP checksum zero for the port to offload.
 */
void net_udp_hdrs_write(uint8_t *buf, const struct net_local *me, const uint8_t dst_mac[6],
			uint32_t dst_ip, uint16_t dst_port, uint32_t payload_len, bool ip_csum);

/* Writes an ARP packet (NET_ARP_PKT_LEN bytes, padded by the port to NET_ETH_MIN_LEN):
 * a request for target_ip to broadcast (target_mac NULL), or a reply to
 * target_mac/target_ip. A request with a target_mac goes unicast to it (a refresh);
 * either way a request's target hardware address is zero. The sender is me. */
void net_arp_write(uint8_t *buf, const struct net_local *me, bool reply, const uint8_t *target_mac,
		   uint32_t target_ip);

/*
 * The neighbour table: IP -> MAC and the port it is reached through. Static entries
 * (configured peers with a MAC) never change; dynamic ones are learnt from ARP replies
 * and from ARP requests addressed to us, and from the source of shiplog datagrams that
 * passed their frame checks (net_neigh_learn). A full table (NET_NEIGH_FILL_MAX entries)
 * replaces its oldest dynamic entry (least recently learnt or requested). Fixed size: no
 * allocation. IP 0 marks a free slot, so it is never stored; a zero or multicast MAC is
 * never stored either (unicast traffic would go to everyone or no one).
 *
 * Entries live in an open-addressed hash table and move when another is evicted: a
 * pointer from net_neigh_lookup is good until the next add_static, learn or want.
 */
#define NET_NEIGH_MAX	   256u
#define NET_NEIGH_FILL_MAX 192u /* entries: the rest stay free so probe runs stay short */

struct net_neigh {
	uint32_t ip; /* 0: free slot */
	uint8_t mac[6];
	uint8_t port;
	bool is_static;
	bool resolved;	       /* false: an ARP request is outstanding */
	uint64_t updated_ns;   /* last learnt or requested */
	uint64_t requested_ns; /* last ARP request sent for it */
};

struct net_neigh_table {
	struct net_neigh e[NET_NEIGH_MAX];
	uint32_t used;	      /* occupied slots, static and dynamic */
	uint64_t learnt;      /* learn calls that created, resolved or refreshed an entry */
	uint64_t replaced;    /* dynamic entries evicted by a full table */
	uint64_t static_kept; /* learns that would change a static entry's MAC or port */
};

void net_neigh_init(struct net_neigh_table *t);
/* Adds a static entry (configured peer); it takes over a dynamic or pending entry for
 * that ip. 0, or -EINVAL (ip 0, zero or multicast MAC), -EEXIST (already static),
 * -ENOSPC (NET_NEIGH_FILL_MAX static entries). */
int net_neigh_add_static(struct net_neigh_table *t, uint32_t ip, const uint8_t mac[6],
			 uint8_t port);
/* Records ip -> mac seen on port at now_ns (a no-op for a static entry with that ip, for
 * ip 0, for a zero or multicast MAC, and when the table is full of static entries). */
void net_neigh_learn(struct net_neigh_table *t, uint32_t ip, const uint8_t mac[6], uint8_t port,
		     uint64_t now_ns);
/* The resolved entry for ip, or NULL. */
const struct net_neigh *net_neigh_lookup(const struct net_neigh_table *t, uint32_t ip);
/*
 * For an unresolved ip reached through port: true when an ARP request should go out now
 * (none sent in the last retry_ns: at most one per retry_ns per ip); creates the pending
 * entry. Call when a send finds no entry. False for a resolved ip, for ip 0, and when the
 * table is full of static entries. A clock that steps back counts as no time elapsed.
 */
bool net_neigh_want(struct net_neigh_table *t, uint32_t ip, uint8_t port, uint64_t now_ns,
		    uint64_t retry_ns);

#endif
