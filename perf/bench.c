/*
 * shiplog-bench: closed- or open-loop write load over kernel UDP, with latency
 * percentiles measured without coordinated omission (open loop: from the time a
 * request was due, not from when a slot was free to send it).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <shiplog/client.h>

#include "benchlib.h"

/*
 * Each of --clients slots is one virtual client with its own client_id and one request
 * outstanding (closed loop per slot): the server's deduplication on (client_id, seq)
 * then never sees a client's seqs out of order. Retries reuse the seq. With --rate the
 * load is open: request i is due at start + i / rate, and its latency runs from then.
 */

#define BENCH_SLOTS_MAX 1024u
#define BENCH_KEY_MAX	64u

struct bench_opts {
	struct sl_client_server servers[SL_CLIENT_SERVERS_MAX];
	size_t n_servers;
	uint32_t cluster_id;
	struct sl_auth_key key;
	bool has_key;
	unsigned clients;
	uint64_t ops;
	uint64_t keys; /* distinct keys, cycled (0: one per write) */
	double duration_s;
	double rate;
	uint32_t value_size;
	uint32_t retry_ms;
	uint32_t deadline_ms;
	const char *acked_path;
	const char *prefix;
	bool json;
};

struct slot {
	uint64_t client_id;
	uint64_t seq;
	uint64_t due_ns;  /* when the request was due (open loop) or first sent */
	uint64_t sent_ns; /* last (re)transmission */
	uint64_t op_index;
	uint32_t attempts;
	bool busy;
	uint16_t len;
	uint8_t dgram[2048];
	char key[BENCH_KEY_MAX];
};

struct bench {
	struct bench_opts o;
	struct sl_client_codec codec;
	int fd;
	uint16_t leader; /* index into servers */
	struct slot *slots;
	uint64_t *lat_ns;
	uint64_t n_lat, next_op, started_ops, failed, retransmits, not_leader, busy, ignored;
	uint64_t t0;
	FILE *acked;
	uint8_t *value;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shiplog-bench --servers LIST --cluster-id N [options]\n"
		"  --clients N        concurrent virtual clients (default 16, max 1024)\n"
		"  --ops N            writes in all (default 10000)\n"
		"  --duration S       stop after S seconds (default: when --ops are done)\n"
		"  --rate R           open loop: R writes per second (default: closed loop)\n"
		"  --value-size B     bytes per value (default 64)\n"
		"  --keys N           cycle over N distinct keys (default: a new key per write)\n"
		"  --key-file F       cluster key (64 hex digits)\n"
		"  --prefix P         key prefix (default \"b\")\n"
		"  --acked FILE       write 'key lsn epoch time_ns' for every acknowledged write\n"
		"                     (time: CLOCK_MONOTONIC when the answer arrived)\n"
		"  --retry-ms N       resend an unanswered request after N ms (default 200)\n"
		"  --deadline-ms N    give a write up after N ms (default 10000)\n"
		"  --json             one JSON object on stdout\n"
		"Exit status: 0 when every write was acknowledged, 1 when some were not,\n"
		"2 on a usage error.\n");
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {
		{ "servers", 1, 0, 's' },    { "cluster-id", 1, 0, 'c' },
		{ "clients", 1, 0, 'n' },    { "ops", 1, 0, 'o' },
		{ "duration", 1, 0, 'd' },   { "rate", 1, 0, 'r' },
		{ "value-size", 1, 0, 'v' }, { "key-file", 1, 0, 'k' },
		{ "prefix", 1, 0, 'p' },     { "acked", 1, 0, 'a' },
		{ "retry-ms", 1, 0, 'R' },   { "deadline-ms", 1, 0, 'D' },
		{ "json", 0, 0, 'j' },	     { "keys", 1, 0, 'K' },
		{ "help", 0, 0, 'h' },	     { 0, 0, 0, 0 }
	};
	char err[SL_CLIENT_ERR_MAX];
	uint64_t v;
	int ch, bad = 0;

	*o = (struct bench_opts){ .clients = 16,
				  .ops = 10000,
				  .value_size = 64,
				  .retry_ms = 200,
				  .deadline_ms = 10000,
				  .prefix = "b" };
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (sl_client_servers_parse(optarg, o->servers, SL_CLIENT_SERVERS_MAX,
						    &o->n_servers, err, sizeof(err)) < 0) {
				fprintf(stderr, "shiplog-bench: --servers: %s\n", err);
				bad = 1;
			}
			break;
		case 'c':
			bad |= bench_parse_u64(optarg, 1, UINT32_MAX, &v) < 0;
			o->cluster_id = (uint32_t)v;
			break;
		case 'n':
			bad |= bench_parse_u64(optarg, 1, BENCH_SLOTS_MAX, &v) < 0;
			o->clients = (unsigned)v;
			break;
		case 'o':
			bad |= bench_parse_u64(optarg, 1, 100000000, &o->ops) < 0;
			break;
		case 'd':
			o->duration_s = atof(optarg);
			bad |= o->duration_s <= 0;
			break;
		case 'r':
			o->rate = atof(optarg);
			bad |= o->rate <= 0;
			break;
		case 'v':
			bad |= bench_parse_u64(optarg, 0, 1024, &v) < 0;
			o->value_size = (uint32_t)v;
			break;
		case 'k':
			bad |= sl_client_key_file_read(optarg, &o->key) < 0;
			o->has_key = true;
			break;
		case 'p':
			o->prefix = optarg;
			bad |= strlen(optarg) > 16;
			break;
		case 'a':
			o->acked_path = optarg;
			break;
		case 'R':
			bad |= bench_parse_u64(optarg, 1, 60000, &v) < 0;
			o->retry_ms = (uint32_t)v;
			break;
		case 'D':
			bad |= bench_parse_u64(optarg, 1, 3600000, &v) < 0;
			o->deadline_ms = (uint32_t)v;
			break;
		case 'j':
			o->json = true;
			break;
		case 'K':
			bad |= bench_parse_u64(optarg, 1, UINT64_MAX, &o->keys) < 0;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			bad = 1;
		}
	}
	if (bad || optind != argc || o->n_servers == 0 || o->cluster_id == 0) {
		fprintf(stderr, "shiplog-bench: bad or missing arguments\n");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int bench_send(struct bench *b, struct slot *s)
{
	const struct sl_client_server *srv = &b->o.servers[b->leader];
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(srv->port ? srv->port : SL_UDP_PORT),
				  .sin_addr = srv->addr };
	struct sl_client_req req = { .client_id = s->client_id,
				     .seq = s->seq,
				     .op = SL_OP_PUT,
				     .key_len = (uint16_t)strlen(s->key),
				     .val_len = b->o.value_size };
	int len = sl_client_encode_req(&b->codec, s->dgram, sizeof(s->dgram), srv->node_id,
				       s->attempts, &req, s->key, b->value);

	if (len < 0)
		return len;
	s->len = (uint16_t)len;
	s->sent_ns = now_ns();
	s->attempts++;
	if (sendto(b->fd, s->dgram, s->len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
	    errno != EAGAIN && errno != ENOBUFS)
		return -errno;
	return 0;
}

static void bench_start_op(struct bench *b, struct slot *s, uint64_t due)
{
	s->seq++;
	s->op_index = b->next_op++;
	s->due_ns = due;
	s->attempts = 0;
	s->busy = true;
	snprintf(s->key, sizeof(s->key), "%s%" PRIu64, b->o.prefix,
		 b->o.keys ? s->op_index % b->o.keys : s->op_index);
	b->started_ops++;
	bench_send(b, s);
}

static void bench_done(struct bench *b, struct slot *s, const struct sl_client_resp *r)
{
	uint64_t t = now_ns();

	b->lat_ns[b->n_lat++] = t - s->due_ns;
	if (b->acked)
		fprintf(b->acked, "%s %" PRIu64 " %u %" PRIu64 "\n", s->key, r->lsn, r->epoch, t);
	s->busy = false;
}

static void bench_answer(struct bench *b, const uint8_t *buf, size_t len)
{
	struct sl_client_answer a;
	struct slot *s;
	uint64_t idx;

	if (sl_client_decode_resp(&b->codec, buf, len, &a) != SL_OK) {
		b->ignored++;
		return;
	}
	idx = a.resp.client_id - b->slots[0].client_id;
	if (idx >= b->o.clients || !b->slots[idx].busy || b->slots[idx].seq != a.resp.seq) {
		b->ignored++; /* a late answer to a retransmission */
		return;
	}
	s = &b->slots[idx];
	switch (a.resp.status) {
	case SL_ST_OK:
		bench_done(b, s, &a.resp);
		return;
	case SL_ST_NOT_LEADER:
		b->not_leader++;
		b->leader = (uint16_t)bench_leader_after(
			&b->o.servers[0].node_id, sizeof(b->o.servers[0]), (unsigned)b->o.n_servers,
			b->leader, a.resp.leader_hint);
		bench_send(b, s);
		return;
	case SL_ST_BUSY:
	case SL_ST_TIMEOUT:
		b->busy++;
		s->sent_ns = now_ns(); /* resent by the retry timer */
		return;
	default:
		b->failed++;
		s->busy = false;
	}
}

static void bench_timers(struct bench *b, uint64_t t)
{
	for (unsigned i = 0; i < b->o.clients; i++) {
		struct slot *s = &b->slots[i];

		if (!s->busy || t - s->sent_ns < (uint64_t)b->o.retry_ms * 1000000)
			continue;
		if (t - s->due_ns > (uint64_t)b->o.deadline_ms * 1000000) {
			b->failed++;
			s->busy = false;
			continue;
		}
		b->retransmits++;
		if (s->attempts % 3 == 0) /* the leader may have moved: try the next node */
			b->leader = (uint16_t)((b->leader + 1) % b->o.n_servers);
		bench_send(b, s);
	}
}

/* Starts what is due: closed loop, every idle slot; open loop, what the clock says. */
static void bench_feed(struct bench *b, uint64_t t, bool stopping)
{
	for (unsigned i = 0; i < b->o.clients && !stopping; i++) {
		struct slot *s = &b->slots[i];
		uint64_t due = t;

		if (s->busy || b->next_op >= b->o.ops)
			continue;
		if (b->o.rate > 0) {
			due = b->t0 + (uint64_t)((double)b->next_op * 1e9 / b->o.rate);
			if (due > t)
				return;
		}
		bench_start_op(b, s, due);
	}
}

static bool bench_idle(const struct bench *b)
{
	for (unsigned i = 0; i < b->o.clients; i++)
		if (b->slots[i].busy)
			return false;
	return true;
}

static void bench_loop(struct bench *b)
{
	uint8_t buf[4096];
	uint64_t end = b->o.duration_s > 0 ? b->t0 + (uint64_t)(b->o.duration_s * 1e9) : 0;

	for (;;) {
		uint64_t t = now_ns();
		bool stopping = end && t >= end;
		struct pollfd p = { .fd = b->fd, .events = POLLIN };
		ssize_t n;

		bench_feed(b, t, stopping);
		if ((stopping || b->next_op >= b->o.ops) && bench_idle(b))
			return;
		if (poll(&p, 1, 1) > 0)
			while ((n = recv(b->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				bench_answer(b, buf, (size_t)n);
		bench_timers(b, now_ns());
	}
}

static void bench_report(struct bench *b, double secs)
{
	struct bench_result r = { .acked = b->n_lat,
				  .failed = b->failed,
				  .retransmits = b->retransmits,
				  .not_leader = b->not_leader,
				  .busy = b->busy,
				  .ignored = b->ignored,
				  .seconds = secs,
				  .us_decimals = 1 };

	bench_latencies(b->lat_ns, b->n_lat, 1e9, &r);
	if (b->o.json) {
		printf("{");
		bench_print_json(&r);
		printf(",\"clients\":%u,\"value_size\":%u,\"rate\":%.1f}\n", b->o.clients,
		       b->o.value_size, b->o.rate);
		return;
	}
	bench_print_text(&r, "writes acknowledged", " writes/s");
	printf("retransmits %" PRIu64 ", not_leader %" PRIu64 ", busy %" PRIu64
	       ", ignored datagrams %" PRIu64 "\n",
	       b->retransmits, b->not_leader, b->busy, b->ignored);
}

static int bench_init(struct bench *b)
{
	uint64_t base;

	b->codec = (struct sl_client_codec){ .cluster_id = b->o.cluster_id,
					     .key = b->o.has_key ? &b->o.key : NULL,
					     .limits = sl_limits_default() };
	b->fd = socket(AF_INET, SOCK_DGRAM, 0);
	b->slots = calloc(b->o.clients, sizeof(*b->slots));
	b->lat_ns = calloc(b->o.ops, sizeof(*b->lat_ns));
	b->value = malloc(b->o.value_size + 1);
	if (b->fd < 0 || !b->slots || !b->lat_ns || !b->value)
		return -ENOMEM;
	memset(b->value, 'v', b->o.value_size);
	if (getrandom(&base, sizeof(base), 0) != sizeof(base))
		return -EIO;
	base = (base >> 16) << 16; /* room for the slots' consecutive ids */
	for (unsigned i = 0; i < b->o.clients; i++)
		b->slots[i].client_id = base + i + 1;
	if (b->o.acked_path) {
		b->acked = fopen(b->o.acked_path, "w");
		if (!b->acked)
			return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b;
	double secs;
	int rc;

	if (parse_opts(argc, argv, &b.o) < 0)
		return 2;
	rc = bench_init(&b);
	if (rc < 0) {
		fprintf(stderr, "shiplog-bench: %s\n", strerror(-rc));
		return 1;
	}
	b.t0 = now_ns();
	bench_loop(&b);
	secs = (double)(now_ns() - b.t0) / 1e9;
	bench_report(&b, secs);
	if (b.acked && fclose(b.acked) != 0) {
		perror("shiplog-bench: --acked");
		return 1;
	}
	return b.failed == 0 && b.n_lat == b.started_ops ? 0 : 1;
}
