/*
 * shiplog-bench-dpdk: shiplog write load over a DPDK port (net_memif), and the raw round
 * trip of the same kind of link (--echo-client / --echo-server) as its floor.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <shiplog/client.h>

#include "benchlib.h"
#include "pkt.h"
#include "port.h"

/*
 * The load is perf/bench.c's, moved off the kernel: each of --clients slots is one
 * virtual client with its own client_id and one request outstanding, so the server's
 * deduplication on (client_id, seq) never sees a client's seqs out of order; a
 * retransmission reuses the seq. With --rate the load is open: request i is due at
 * t0 + i / rate and its latency runs from then (no coordinated omission).
 *
 * One lcore busy-polls one port: receive a burst, answer it, start what is due, send
 * one burst. Requests go straight to the MAC given on the command line (no ARP asked);
 * ARP requests for our own IP are answered so that shiplogd can resolve us. Time is
 * the TSC, converted to microseconds only in the report.
 */

#define DB_SLOTS_MAX	4096u
#define DB_KEY_MAX	32u
#define DB_BURST	32u
#define DB_MBUFS	16383u
#define DB_DESC		1024u
#define DB_CLIENT_PORT	7401u	    /* our UDP port in load and echo-client modes */
#define DB_ECHO_LEN	64u	    /* the echo frame, Ethernet header to end, no FCS */
#define DB_ECHO_MAGIC	0x4f484345u /* "ECHO" */
#define DB_TX_TRIES	64u	    /* tx_burst calls before a full ring counts as a drop */
#define DB_LINK_WAIT_MS 15000u
#define DB_BUSY_US_MIN	1000u /* libshiplog's backoff after BUSY (client.h) */
#define DB_BUSY_US_MAX	64000u

enum db_mode { DB_LOAD = 0, DB_ECHO_CLIENT, DB_ECHO_SERVER };

struct db_server {
	uint16_t node_id;
	uint32_t ip; /* host order */
	uint8_t mac[6];
};

struct db_opts {
	enum db_mode mode;
	const char *port;
	uint32_t ip;
	struct db_server servers[SL_NODE_MAX];
	unsigned n_servers;
	uint32_t cluster_id;
	unsigned clients;
	uint64_t ops;
	uint64_t warmup;
	uint64_t keys; /* distinct keys, cycled (0: a new key per write) */
	double duration_s;
	double rate;
	uint32_t value_size;
	uint32_t retry_ms;
	uint32_t deadline_ms;
	bool json;
	const char *acked_path;
};

struct db_slot {
	uint64_t client_id;
	uint64_t seq;
	uint64_t due;	   /* TSC: when the request was due (open loop) or first sent */
	uint64_t sent;	   /* TSC: last (re)transmission */
	uint64_t retry_at; /* TSC: resend then if still unanswered */
	uint32_t attempts;
	uint32_t busy_backoff_us; /* after BUSY/TIMEOUT answers: 1 ms doubling to 64 ms */
	bool busy;
	uint8_t key_len;
	char key[DB_KEY_MAX];
};

struct db_counts {
	uint64_t acked, failed, retransmits, not_leader, busy, ignored, no_mbuf;
	uint64_t arp_replies, rx_dropped;
};

struct db {
	struct db_opts o;
	struct port port; /* port.local: our MAC, IP and UDP port */
	struct rte_mempool *pool;
	struct sl_client_codec codec;
	uint64_t hz;
	unsigned leader; /* index into o.servers */
	struct db_slot *slots;
	uint32_t *free_slots; /* stack of idle slot indices */
	unsigned n_free;
	uint64_t client_base;
	uint64_t *lat; /* TSC cycles, one per acknowledged write (or echo) */
	uint64_t n_lat, cap_lat;
	uint64_t next_op, ops_goal, t0, echo_seq;
	uint64_t phase_first_op; /* next_op when the phase began: open-loop due times */
	struct db_counts c;
	struct db_counts warm;	  /* the warm-up's, kept to explain a run that stalled in it */
	uint64_t warm_tx_dropped; /* port.tx_dropped (full tx ring) when the warm-up ended */
	uint8_t *value;
	FILE *acked; /* --acked: 'key lsn epoch' per acknowledged write */
};

static volatile sig_atomic_t db_quit;

static void db_on_signal(int sig)
{
	(void)sig;
	db_quit = 1;
}

/* ---- options ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shiplog-bench-dpdk [EAL options] -- --port NAME --ip A.B.C.D [options]\n"
		"  --server ID=IP,MAC  a shiplogd node (repeat for several; the first is asked\n"
		"                      first); echo-client: the echo server (any ID)\n"
		"  --cluster-id N      the cluster's [cluster] id (load mode)\n"
		"  --clients W         virtual clients, one write outstanding each (default 16,\n"
		"                      max %u)\n"
		"  --ops N             writes (or round trips) in all (default 200000)\n"
		"  --warmup N          writes (or round trips) first, not measured (default 0)\n"
		"  --duration S        stop starting new ones after S seconds\n"
		"  --rate R            open loop: R writes per second (default: closed loop)\n"
		"  --value-size B      bytes per value (default 64, max 1024)\n"
		"  --keys N            cycle over N distinct keys (default: a new key per write;\n"
		"                      shiplogd's key-value table holds [limits] kv_keys)\n"
		"  --retry-ms N        resend an unanswered request after N ms (default 100)\n"
		"  --deadline-ms N     give a write up after N ms (default 5000)\n"
		"  --echo-client       raw round trip: one %u B UDP frame at a time to --server\n"
		"  --echo-server       answer every UDP frame to our IP with itself, until SIGINT\n"
		"  --json              one JSON object on stdout\n"
		"  --acked FILE        write 'key lsn epoch' for every acknowledged write\n"
		"Exit status: 0 when every write (round trip) was acknowledged, 1 when some were\n"
		"not or the port failed, 2 on a usage error.\n",
		DB_SLOTS_MAX, DB_ECHO_LEN);
}

static int parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1 || a.s_addr == 0)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* "ID=IP,MAC" with MAC as six hex pairs separated by ':'. */
static int parse_server(const char *s, struct db_server *out)
{
	char ip[16], tail;
	unsigned id, m[6];

	if (sscanf(s, "%u=%15[0-9.],%2x:%2x:%2x:%2x:%2x:%2x%c", &id, ip, &m[0], &m[1], &m[2], &m[3],
		   &m[4], &m[5], &tail) != 8)
		return -EINVAL;
	if (id < 1 || id > SL_NODE_MAX || parse_ip(ip, &out->ip) < 0)
		return -EINVAL;
	out->node_id = (uint16_t)id;
	for (unsigned i = 0; i < 6; i++)
		out->mac[i] = (uint8_t)m[i];
	return 0;
}

static int parse_one(struct db_opts *o, int ch, const char *arg)
{
	uint64_t v;

	switch (ch) {
	case 'P':
		o->port = arg;
		return 0;
	case 'i':
		return parse_ip(arg, &o->ip);
	case 's':
		if (o->n_servers == SL_NODE_MAX)
			return -EINVAL;
		return parse_server(arg, &o->servers[o->n_servers++]);
	case 'c':
		if (bench_parse_u64(arg, 1, UINT32_MAX, &v) < 0)
			return -EINVAL;
		o->cluster_id = (uint32_t)v;
		return 0;
	case 'n':
		if (bench_parse_u64(arg, 1, DB_SLOTS_MAX, &v) < 0)
			return -EINVAL;
		o->clients = (unsigned)v;
		return 0;
	case 'o':
		return bench_parse_u64(arg, 1, 200000000, &o->ops);
	case 'w':
		return bench_parse_u64(arg, 0, 200000000, &o->warmup);
	case 'd':
		o->duration_s = atof(arg);
		return o->duration_s > 0 ? 0 : -EINVAL;
	case 'r':
		o->rate = atof(arg);
		return o->rate > 0 ? 0 : -EINVAL;
	case 'K':
		return bench_parse_u64(arg, 1, UINT64_MAX, &o->keys);
	case 'v':
		if (bench_parse_u64(arg, 0, 1024, &v) < 0)
			return -EINVAL;
		o->value_size = (uint32_t)v;
		return 0;
	case 'R':
		if (bench_parse_u64(arg, 1, 60000, &v) < 0)
			return -EINVAL;
		o->retry_ms = (uint32_t)v;
		return 0;
	case 'a':
		o->acked_path = arg;
		return 0;
	case 'D':
		if (bench_parse_u64(arg, 1, 3600000, &v) < 0)
			return -EINVAL;
		o->deadline_ms = (uint32_t)v;
		return 0;
	}
	return -EINVAL;
}

static int parse_opts(int argc, char **argv, struct db_opts *o)
{
	static const struct option lo[] = { { "port", 1, 0, 'P' },
					    { "ip", 1, 0, 'i' },
					    { "server", 1, 0, 's' },
					    { "cluster-id", 1, 0, 'c' },
					    { "clients", 1, 0, 'n' },
					    { "ops", 1, 0, 'o' },
					    { "warmup", 1, 0, 'w' },
					    { "duration", 1, 0, 'd' },
					    { "rate", 1, 0, 'r' },
					    { "value-size", 1, 0, 'v' },
					    { "retry-ms", 1, 0, 'R' },
					    { "deadline-ms", 1, 0, 'D' },
					    { "echo-client", 0, 0, 'E' },
					    { "echo-server", 0, 0, 'S' },
					    { "json", 0, 0, 'j' },
					    { "keys", 1, 0, 'K' },
					    { "acked", 1, 0, 'a' },
					    { "help", 0, 0, 'h' },
					    { 0, 0, 0, 0 } };
	int ch, bad = 0;

	*o = (struct db_opts){
		.clients = 16, .ops = 200000, .value_size = 64, .retry_ms = 100, .deadline_ms = 5000
	};
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			exit(0);
		} else if (ch == 'E') {
			o->mode = DB_ECHO_CLIENT;
		} else if (ch == 'S') {
			o->mode = DB_ECHO_SERVER;
		} else if (ch == 'j') {
			o->json = true;
		} else if (ch == '?' || parse_one(o, ch, optarg) < 0) {
			if (ch != '?')
				fprintf(stderr, "shiplog-bench-dpdk: bad value for --%s\n",
					argv[optind - 1] + 2);
			bad = 1;
		}
	}
	if (!bad && optind != argc)
		bad = 1;
	if (!bad && (!o->port || !o->ip))
		bad = 1;
	if (!bad && o->mode != DB_ECHO_SERVER && o->n_servers == 0)
		bad = 1;
	if (!bad && o->mode == DB_LOAD && o->cluster_id == 0)
		bad = 1;
	if (bad) {
		fprintf(stderr, "shiplog-bench-dpdk: bad or missing arguments\n");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* ---- the port -------------------------------------------------------------------------- */

/* One rx and one tx queue as shiplogd opens them; the pool on our lcore's socket. */
static int db_port_open(struct db *b)
{
	int rc;

	b->pool = rte_pktmbuf_pool_create("db_pool", DB_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  (int)rte_socket_id());
	if (!b->pool) {
		fprintf(stderr, "shiplog-bench-dpdk: mbuf pool: %s\n", rte_strerror(rte_errno));
		return -rte_errno;
	}
	rc = port_open(&b->port, b->o.port, 0, b->pool, RTE_ETHER_MTU, DB_DESC, DB_DESC);
	if (rc < 0)
		return rc;
	b->port.tx_tries = DB_TX_TRIES; /* a drop costs a retry_ms wait: wait for the ring */
	b->port.local.ip = b->o.ip;
	b->port.local.udp_port = b->o.mode == DB_ECHO_SERVER ? SL_UDP_PORT : DB_CLIENT_PORT;
	rc = port_wait_link(&b->port, DB_LINK_WAIT_MS, &db_quit);
	if (rc < 0)
		fprintf(stderr, "shiplog-bench-dpdk: port %s: link down after %u ms\n", b->o.port,
			DB_LINK_WAIT_MS);
	return rc;
}

/* Answers an ARP request for our IP in its own mbuf; drops everything else. */
static void db_arp(struct db *b, struct rte_mbuf *m, const struct net_pkt *pk)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	if (pk->kind != NET_PKT_ARP_REQUEST || rte_pktmbuf_data_len(m) < NET_ARP_PKT_LEN) {
		rte_pktmbuf_free(m);
		return;
	}
	net_arp_write(f, &b->port.local, true, pk->src_mac, pk->src_ip);
	rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - NET_ARP_PKT_LEN));
	if (rte_pktmbuf_data_len(m) < NET_ETH_MIN_LEN) {
		uint8_t *pad = (uint8_t *)rte_pktmbuf_append(
			m, (uint16_t)(NET_ETH_MIN_LEN - rte_pktmbuf_data_len(m)));

		if (!pad) {
			rte_pktmbuf_free(m);
			return;
		}
		memset(pad, 0, NET_ETH_MIN_LEN - NET_ARP_PKT_LEN);
	}
	b->c.arp_replies++;
	port_tx(&b->port, m);
}

/* Parses one received frame: true with *pk for a UDP datagram to us (ARP is handled,
 * the rest dropped and counted). */
static bool db_rx_parse(struct db *b, struct rte_mbuf *m, struct net_pkt *pk)
{
	if (unlikely(m->nb_segs > 1) ||
	    net_pkt_parse(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m), &b->port.local,
			  pk) >= 0) {
		b->c.rx_dropped++;
		rte_pktmbuf_free(m);
		return false;
	}
	if (pk->kind != NET_PKT_UDP) {
		db_arp(b, m, pk);
		return false;
	}
	return true;
}

/* ---- load: writes ---------------------------------------------------------------------- */

static uint64_t db_ms(const struct db *b, uint32_t ms)
{
	return b->hz * ms / 1000;
}

static unsigned db_key(char *out, const char *prefix, uint64_t v)
{
	char digits[20];
	unsigned n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (*prefix)
		out[len++] = *prefix++;
	while (n)
		out[len++] = digits[--n];
	out[len] = '\0';
	return len;
}

/* Encodes the slot's request (seq and key as they stand) and queues it. */
static void db_send(struct db *b, struct db_slot *s)
{
	const struct db_server *srv = &b->o.servers[b->leader];
	struct sl_client_req req = { .client_id = s->client_id,
				     .seq = s->seq,
				     .op = SL_OP_PUT,
				     .key_len = s->key_len,
				     .val_len = b->o.value_size };
	struct rte_mbuf *m = rte_pktmbuf_alloc(b->pool);
	uint8_t *f;
	int len;

	s->sent = rte_get_tsc_cycles();
	s->retry_at = s->sent + db_ms(b, b->o.retry_ms);
	s->attempts++;
	if (unlikely(!m)) {
		b->c.no_mbuf++; /* resent by the retry timer */
		return;
	}
	f = rte_pktmbuf_mtod(m, uint8_t *);
	len = sl_client_encode_req(&b->codec, f + NET_HDRS_LEN,
				   rte_pktmbuf_tailroom(m) - NET_HDRS_LEN, srv->node_id,
				   s->attempts, &req, s->key, b->value);
	if (unlikely(len < 0 || !rte_pktmbuf_append(m, (uint16_t)(NET_HDRS_LEN + len)))) {
		b->c.no_mbuf++;
		rte_pktmbuf_free(m);
		return;
	}
	net_udp_hdrs_write(f, &b->port.local, srv->mac, srv->ip, SL_UDP_PORT, (uint32_t)len, true);
	port_tx(&b->port, m);
}

static void db_start_op(struct db *b, uint64_t due)
{
	struct db_slot *s = &b->slots[b->free_slots[--b->n_free]];

	s->seq++;
	s->due = due;
	s->attempts = 0;
	s->busy_backoff_us = DB_BUSY_US_MIN;
	s->busy = true;
	s->key_len = (uint8_t)db_key(s->key, "k", b->o.keys ? b->next_op % b->o.keys : b->next_op);
	b->next_op++;
	db_send(b, s);
}

/* ok: the answer to an acknowledged write; NULL: the write failed. */
static void db_finish(struct db *b, struct db_slot *s, const struct sl_client_resp *ok)
{
	s->busy = false;
	b->free_slots[b->n_free++] = (uint32_t)(s - b->slots);
	if (!ok) {
		b->c.failed++;
		return;
	}
	b->c.acked++;
	if (b->acked)
		fprintf(b->acked, "%.*s %" PRIu64 " %u\n", s->key_len, s->key, ok->lsn, ok->epoch);
	if (b->n_lat < b->cap_lat)
		b->lat[b->n_lat++] = rte_get_tsc_cycles() - s->due;
}

static void db_answer(struct db *b, const uint8_t *buf, uint32_t len)
{
	struct sl_client_answer a;
	struct db_slot *s;
	uint64_t idx;

	if (sl_client_decode_resp(&b->codec, buf, len, &a) != SL_OK) {
		b->c.ignored++;
		return;
	}
	idx = a.resp.client_id - b->client_base;
	if (idx >= b->o.clients || !b->slots[idx].busy || b->slots[idx].seq != a.resp.seq) {
		b->c.ignored++; /* a late answer to a retransmission */
		return;
	}
	s = &b->slots[idx];
	switch (a.resp.status) {
	case SL_ST_OK:
		db_finish(b, s, &a.resp);
		return;
	case SL_ST_NOT_LEADER:
		b->c.not_leader++;
		b->leader = bench_leader_after(&b->o.servers[0].node_id, sizeof(b->o.servers[0]),
					       b->o.n_servers, b->leader, a.resp.leader_hint);
		db_send(b, s);
		return;
	case SL_ST_BUSY:
	case SL_ST_TIMEOUT:
		/* Resent by the retry timer after a backoff, as libshiplog does. */
		b->c.busy++;
		s->retry_at = rte_get_tsc_cycles() + b->hz * s->busy_backoff_us / 1000000;
		if (s->busy_backoff_us < DB_BUSY_US_MAX)
			s->busy_backoff_us *= 2;
		return;
	default:
		db_finish(b, s, NULL);
	}
}

/* t is read here: a slot sent after the caller's clock reading must not look overdue
 * (the difference would wrap). Open-loop due times may lie ahead of t as well. */
static void db_timers(struct db *b)
{
	uint64_t t = rte_get_tsc_cycles();

	for (unsigned i = 0; i < b->o.clients; i++) {
		struct db_slot *s = &b->slots[i];

		if (!s->busy || t < s->retry_at)
			continue;
		if (t > s->due && t - s->due > db_ms(b, b->o.deadline_ms)) {
			db_finish(b, s, NULL);
			continue;
		}
		b->c.retransmits++;
		if (s->attempts % 3 == 0) /* the leader may have moved: try the next node */
			b->leader = (b->leader + 1) % b->o.n_servers;
		db_send(b, s);
	}
}

/* Starts what is due: closed loop, a write per idle slot; open loop, what the clock says. */
static void db_feed(struct db *b, uint64_t t)
{
	while (b->n_free > 0 && b->next_op < b->ops_goal) {
		uint64_t due = t;

		if (b->o.rate > 0) {
			due = b->t0 + (uint64_t)((double)(b->next_op - b->phase_first_op) *
						 (double)b->hz / b->o.rate);
			if (due > t)
				return;
		}
		db_start_op(b, due);
	}
}

static void db_load_rx(struct db *b)
{
	struct rte_mbuf *pkts[DB_BURST];
	uint16_t got = port_rx(&b->port, pkts, DB_BURST);

	for (uint16_t i = 0; i < got; i++) {
		struct net_pkt pk;

		if (!db_rx_parse(b, pkts[i], &pk))
			continue;
		db_answer(b, rte_pktmbuf_mtod_offset(pkts[i], uint8_t *, pk.payload_off),
			  pk.payload_len);
		rte_pktmbuf_free(pkts[i]);
	}
}

/* Runs writes until ops_goal have started (or the end time passed) and all are done. */
static void db_load_phase(struct db *b, uint64_t end)
{
	uint64_t timer_period = b->hz / 1000, next_timer = 0;

	for (;;) {
		uint64_t t = rte_get_tsc_cycles();

		if ((end && t >= end) || db_quit)
			b->ops_goal = b->next_op; /* start nothing more */
		db_feed(b, t);
		if (b->next_op >= b->ops_goal && b->n_free == b->o.clients)
			break;
		port_flush(&b->port);
		db_load_rx(b);
		if (t >= next_timer) {
			db_timers(b);
			next_timer = t + timer_period;
		}
		port_flush(&b->port);
	}
	port_flush(&b->port);
}

static int db_load_init(struct db *b)
{
	uint64_t base;

	b->codec = (struct sl_client_codec){ .cluster_id = b->o.cluster_id,
					     .limits = sl_limits_default() };
	b->slots = calloc(b->o.clients, sizeof(*b->slots));
	b->free_slots = calloc(b->o.clients, sizeof(*b->free_slots));
	b->value = malloc(b->o.value_size + 1);
	if (!b->slots || !b->free_slots || !b->value)
		return -ENOMEM;
	memset(b->value, 'v', b->o.value_size);
	if (getrandom(&base, sizeof(base), 0) != sizeof(base))
		return -EIO;
	b->client_base = ((base >> 16) << 16) + 1; /* room for consecutive ids */
	for (unsigned i = 0; i < b->o.clients; i++) {
		b->slots[i].client_id = b->client_base + i;
		b->free_slots[b->n_free++] = b->o.clients - 1 - i;
	}
	return 0;
}

/* Ends the warm-up: its counts kept apart, the measured phase counted from zero. */
static void db_warmup_done(struct db *b)
{
	b->warm_tx_dropped = b->port.tx_dropped;
	b->warm = b->c;
	memset(&b->c, 0, sizeof(b->c));
	b->n_lat = 0;
}

/* Warm-up (not measured), then the measured phase from t0. */
static void db_load_run(struct db *b)
{
	uint64_t end = 0;

	if (b->o.warmup) {
		b->ops_goal = b->o.warmup;
		b->phase_first_op = b->next_op;
		b->t0 = rte_get_tsc_cycles();
		db_load_phase(b, 0);
		b->o.warmup = b->next_op; /* fewer when stopped early */
		db_warmup_done(b);
	}
	b->ops_goal = b->next_op + b->o.ops;
	b->phase_first_op = b->next_op;
	b->t0 = rte_get_tsc_cycles();
	if (b->o.duration_s > 0)
		end = b->t0 + (uint64_t)(b->o.duration_s * (double)b->hz);
	db_load_phase(b, end);
}

/* ---- echo: the raw round trip ---------------------------------------------------------- */

struct db_echo_payload {
	uint32_t magic;
	uint32_t pad;
	uint64_t seq;
};

static void db_echo_send(struct db *b, uint64_t seq)
{
	const struct db_server *srv = &b->o.servers[0];
	const uint32_t plen = DB_ECHO_LEN - NET_HDRS_LEN;
	struct db_echo_payload p = { .magic = DB_ECHO_MAGIC, .seq = seq };
	struct rte_mbuf *m = rte_pktmbuf_alloc(b->pool);
	uint8_t *f;

	if (unlikely(!m || !rte_pktmbuf_append(m, DB_ECHO_LEN))) {
		b->c.no_mbuf++;
		rte_pktmbuf_free(m);
		return;
	}
	f = rte_pktmbuf_mtod(m, uint8_t *);
	memset(f + NET_HDRS_LEN, 0, plen);
	memcpy(f + NET_HDRS_LEN, &p, sizeof(p));
	net_udp_hdrs_write(f, &b->port.local, srv->mac, srv->ip, SL_UDP_PORT, plen, true);
	port_tx(&b->port, m);
	port_flush(&b->port);
}

/* Polls until the answer to seq arrives (true) or retry_ms pass (false). */
static bool db_echo_wait(struct db *b, uint64_t seq)
{
	uint64_t give_up = rte_get_tsc_cycles() + db_ms(b, b->o.retry_ms);
	struct rte_mbuf *pkts[DB_BURST];
	bool got_it = false;

	while (!got_it && !db_quit && rte_get_tsc_cycles() < give_up) {
		uint16_t got = port_rx(&b->port, pkts, DB_BURST);

		for (uint16_t i = 0; i < got; i++) {
			struct db_echo_payload p;
			struct net_pkt pk;

			if (!db_rx_parse(b, pkts[i], &pk))
				continue;
			if (pk.payload_len >= sizeof(p)) {
				memcpy(&p,
				       rte_pktmbuf_mtod_offset(pkts[i], uint8_t *, pk.payload_off),
				       sizeof(p));
				if (p.magic == DB_ECHO_MAGIC && p.seq == seq)
					got_it = true;
				else
					b->c.ignored++;
			}
			rte_pktmbuf_free(pkts[i]);
		}
		port_flush(&b->port); /* ARP replies */
	}
	return got_it;
}

/* One round trip at a time; a lost one is resent with a new seq after retry_ms. */
static void db_echo_phase(struct db *b, uint64_t n, uint64_t end, bool measure)
{
	for (uint64_t i = 0; i < n && !db_quit; i++) {
		uint64_t t = rte_get_tsc_cycles();

		if (end && t >= end)
			break;
		for (;;) {
			uint64_t seq = ++b->echo_seq;

			t = rte_get_tsc_cycles();
			db_echo_send(b, seq);
			if (db_echo_wait(b, seq))
				break;
			b->c.retransmits++;
			if (db_quit)
				return;
		}
		b->c.acked++;
		if (measure && b->n_lat < b->cap_lat)
			b->lat[b->n_lat++] = rte_get_tsc_cycles() - t;
	}
}

static void db_echo_client(struct db *b)
{
	uint64_t end = 0;

	db_echo_phase(b, b->o.warmup, 0, false);
	db_warmup_done(b);
	b->t0 = rte_get_tsc_cycles();
	if (b->o.duration_s > 0)
		end = b->t0 + (uint64_t)(b->o.duration_s * (double)b->hz);
	db_echo_phase(b, b->o.ops, end, true);
}

/* Every UDP datagram to our IP and port goes back to where it came from, headers
 * rewritten with the same code shiplogd uses (IPv4 checksum in software). */
static void db_echo_server(struct db *b)
{
	struct rte_mbuf *pkts[DB_BURST];

	while (!db_quit) {
		uint16_t got = port_rx(&b->port, pkts, DB_BURST);

		for (uint16_t i = 0; i < got; i++) {
			struct net_pkt pk;
			uint8_t *f = rte_pktmbuf_mtod(pkts[i], uint8_t *);

			if (!db_rx_parse(b, pkts[i], &pk))
				continue;
			net_udp_hdrs_write(f, &b->port.local, pk.src_mac, pk.src_ip, pk.src_port,
					   pk.payload_len, true);
			b->c.acked++;
			port_tx(&b->port, pkts[i]);
		}
		port_flush(&b->port);
	}
	fprintf(stderr, "shiplog-bench-dpdk: echo server: %" PRIu64 " datagrams answered\n",
		b->c.acked);
}

/* ---- report ------------------------------------------------------------------------------ */

static void db_report(struct db *b, double secs)
{
	const struct db_counts *c = &b->c;
	bool echo = b->o.mode == DB_ECHO_CLIENT;
	uint64_t tx_dropped = b->port.tx_dropped - b->warm_tx_dropped;
	struct bench_result r = { .acked = c->acked,
				  .failed = c->failed,
				  .retransmits = c->retransmits,
				  .not_leader = c->not_leader,
				  .busy = c->busy,
				  .ignored = c->ignored,
				  .seconds = secs,
				  .us_decimals = 2 };

	bench_latencies(b->lat, b->n_lat, (double)b->hz, &r);
	if (b->o.json) {
		printf("{\"mode\":\"%s\",", echo ? "echo" : "load");
		bench_print_json(&r);
		printf(",\"tx_dropped\":%" PRIu64 ",\"no_mbuf\":%" PRIu64 ",\"rx_dropped\":%" PRIu64
		       ",\"clients\":%u,\"value_size\":%u,\"rate\":%.1f,\"warmup\":%" PRIu64
		       ",\"warmup_acked\":%" PRIu64 ",\"warmup_failed\":%" PRIu64
		       ",\"warmup_retransmits\":%" PRIu64 ",\"warmup_busy\":%" PRIu64
		       ",\"warmup_ignored\":%" PRIu64 ",\"interrupted\":%d}\n",
		       tx_dropped, c->no_mbuf, c->rx_dropped, echo ? 1 : b->o.clients,
		       echo ? DB_ECHO_LEN : b->o.value_size, b->o.rate, b->o.warmup, b->warm.acked,
		       b->warm.failed, b->warm.retransmits, b->warm.busy, b->warm.ignored,
		       db_quit ? 1 : 0);
		return;
	}
	bench_print_text(&r, echo ? "round trips" : "writes acknowledged", "/s");
	printf("retransmits %" PRIu64 ", not_leader %" PRIu64 ", busy %" PRIu64 ", ignored %" PRIu64
	       ", tx_dropped %" PRIu64 ", no_mbuf %" PRIu64 ", rx_dropped %" PRIu64 "\n",
	       c->retransmits, c->not_leader, c->busy, c->ignored, tx_dropped, c->no_mbuf,
	       c->rx_dropped);
	printf("warm-up (not measured): %" PRIu64 " done, failed %" PRIu64 ", retransmits %" PRIu64
	       ", busy %" PRIu64 ", ignored %" PRIu64 "%s\n",
	       b->warm.acked, b->warm.failed, b->warm.retransmits, b->warm.busy, b->warm.ignored,
	       db_quit ? "; interrupted" : "");
}

/* ---- main -------------------------------------------------------------------------------- */

static int db_run(struct db *b)
{
	double secs;
	int rc;

	b->hz = rte_get_tsc_hz();
	rc = db_port_open(b);
	if (rc < 0)
		return 1;
	if (b->o.mode == DB_ECHO_SERVER) {
		db_echo_server(b);
		return 0;
	}
	b->cap_lat = b->o.ops;
	b->lat = calloc(b->cap_lat, sizeof(*b->lat));
	if (!b->lat || (b->o.mode == DB_LOAD && db_load_init(b) < 0)) {
		fprintf(stderr, "shiplog-bench-dpdk: out of memory\n");
		return 1;
	}
	if (b->o.acked_path && !(b->acked = fopen(b->o.acked_path, "w"))) {
		fprintf(stderr, "shiplog-bench-dpdk: %s: %s\n", b->o.acked_path, strerror(errno));
		return 1;
	}
	if (b->o.mode == DB_LOAD)
		db_load_run(b);
	else
		db_echo_client(b);
	secs = (double)(rte_get_tsc_cycles() - b->t0) / (double)b->hz;
	db_report(b, secs);
	if (b->acked && fclose(b->acked) != 0) {
		fprintf(stderr, "shiplog-bench-dpdk: %s: %s\n", b->o.acked_path, strerror(errno));
		return 1;
	}
	return b->c.failed == 0 && b->c.acked > 0 && !db_quit ? 0 : 1;
}

int main(int argc, char **argv)
{
	static struct db b;
	int eal, rc;

	eal = rte_eal_init(argc, argv);
	if (eal < 0) {
		fprintf(stderr, "shiplog-bench-dpdk: EAL: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	/* EAL left the program name in argv[eal], where getopt wants it. */
	if (parse_opts(argc - eal, argv + eal, &b.o) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, db_on_signal);
	signal(SIGTERM, db_on_signal);
	rc = db_run(&b);
	port_close(&b.port);
	rte_eal_cleanup();
	return rc;
}
