/*
 * The replication core alone: a leader and a follower core stepping in one thread,
 * records handed between them as the dataplane would (frame views over the same bytes,
 * persistence acknowledged at once), no codec, no network, no disk.
 *
 * usage: core_bench [--records N] [--value BYTES] [--burst B] [--repeat R]
 * Prints the median of R runs, records per second and ns per record, for the pipeline:
 * sequencing, APPEND batching, follower log matching, ACKs, commit, apply, replies.
 * Instructions per record: run it under `valgrind --tool=callgrind` (see perf/README).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define POOL 8192u /* record buffers in circulation (> ring of both cores) */

struct node {
	struct sl_core *core;
	struct sl_actions out;
	void *mem;
};

struct bench {
	struct node leader, follower;
	uint8_t *pool; /* POOL record buffers */
	uint32_t rec_len;
	int32_t refs[POOL];  /* holders of each buffer: client, leader, follower */
	uint8_t dirty[POOL]; /* reused for a copy of a NOOP: encode the PUT again */
	struct sl_record_desc desc;
	uint32_t free_list[POOL];
	uint32_t n_free;
	uint64_t now;
	uint64_t replies;
	uint64_t replies_ok;
	uint64_t seq;
};

#define DEPTH_MAX 16
static struct sl_action *act_copy[DEPTH_MAX];
static struct sl_rec_ref *ref_copy[DEPTH_MAX];
static unsigned depth;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void node_init(struct node *n, struct sl_core_config *cfg, uint16_t id)
{
	struct sl_actions_caps caps;
	size_t len;

	cfg->node_id = id;
	len = sl_core_mem_size(cfg);
	sl_actions_caps(cfg, &caps);
	for (unsigned d = 0; d < DEPTH_MAX && !act_copy[d]; d++) {
		act_copy[d] = calloc(caps.actions, sizeof(struct sl_action));
		ref_copy[d] = calloc(caps.refs, sizeof(struct sl_rec_ref));
	}
	n->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	n->core = sl_core_init(n->mem, len, cfg, NULL);
	n->out.act = calloc(caps.actions, sizeof(struct sl_action));
	n->out.refs = calloc(caps.refs, sizeof(struct sl_rec_ref));
	n->out.freed = calloc(caps.freed, sizeof(uint64_t));
	n->out.cap_act = caps.actions;
	n->out.cap_refs = caps.refs;
	n->out.cap_freed = caps.freed;
	if (!n->core || !n->out.act || !n->out.refs || !n->out.freed) {
		fprintf(stderr, "core_bench: cannot set up node %u\n", id);
		exit(1);
	}
}

static void buf_put(struct bench *b, uint64_t handle)
{
	if (--b->refs[handle] == 0)
		b->free_list[b->n_free++] = (uint32_t)handle;
}

static void step(struct bench *b, struct node *n, const struct sl_event *ev);

/* What the dataplane does with actions, minus the wire: hand frames over directly. */
static void deliver_send(struct bench *b, struct node *from, const struct sl_action *a)
{
	struct node *to = from == &b->leader ? &b->follower : &b->leader;
	struct sl_frame_view v = { .hdr = { .type = a->u.send.frame_type,
					    .epoch = a->u.send.epoch,
					    .src_node = from == &b->leader ? 1 : 2,
					    .dst_node = a->u.send.dst } };
	struct sl_event ev = { .type = SL_EV_FRAME, .now_ns = b->now };

	struct sl_rec_ref *recs = (struct sl_rec_ref *)a->u.send.recs;

	v.u = a->u.send.hdr;
	ev.u.frame.view = &v;
	ev.u.frame.recs = recs;
	ev.u.frame.n_recs = a->u.send.n_recs;
	for (uint32_t i = 0; i < a->u.send.n_recs; i++) {
		if (recs[i].handle >= POOL) {
			/* The leader's own NOOP/CONFIG bytes: the follower gets a copy. */
			uint32_t h = b->free_list[--b->n_free];
			uint8_t *p = b->pool + (size_t)h * b->rec_len;

			memcpy(p, recs[i].data, recs[i].len);
			recs[i] = (struct sl_rec_ref){ p, recs[i].len, h };
			b->refs[h] = 0;
			b->dirty[h] = 1;
		}
		b->refs[recs[i].handle]++; /* the follower's reference */
	}
	step(b, to, &ev);
}

/*
 * Executes a step's actions after copying them: handing a frame over re-enters step()
 * on the other node, which reuses its own action buffers. One copy per nesting level.
 */
static void step(struct bench *b, struct node *n, const struct sl_event *ev)
{
	struct sl_actions *out = &n->out;
	struct sl_action *acts;
	struct sl_rec_ref *refs;
	uint32_t n_act;

	out->n_act = out->n_refs = out->n_freed = 0;
	if (sl_core_step(n->core, ev, out) != 0 || depth == DEPTH_MAX)
		abort();
	for (uint32_t i = 0; i < out->n_freed; i++)
		buf_put(b, out->freed[i]);
	acts = act_copy[depth];
	refs = ref_copy[depth];
	n_act = out->n_act;
	memcpy(acts, out->act, n_act * sizeof(*acts));
	memcpy(refs, out->refs, out->n_refs * sizeof(*refs));
	depth++;
	for (uint32_t i = 0; i < n_act; i++) {
		struct sl_action *a = &acts[i];

		if (a->type == SL_ACT_SEND) {
			if (a->u.send.n_recs)
				a->u.send.recs = refs + (a->u.send.recs - out->refs);
			deliver_send(b, n, a);
		} else if (a->type == SL_ACT_PERSIST) {
			struct sl_event p = { .type = SL_EV_PERSISTED, .now_ns = b->now };

			p.u.persisted.lsn = a->u.persist.last_lsn;
			p.u.persisted.epoch = a->u.persist.last_epoch;
			step(b, n, &p);
		} else if (a->type == SL_ACT_REPLY) {
			b->replies++;
			b->replies_ok += a->u.reply.resp.status == SL_ST_OK;
		}
	}
	depth--;
}

static void client_write(struct bench *b, uint32_t value_len)
{
	struct sl_event ev = { .type = SL_EV_CLIENT, .now_ns = b->now };
	uint32_t h = b->free_list[--b->n_free];
	uint8_t *rec = b->pool + (size_t)h * b->rec_len;
	uint64_t seq = ++b->seq;

	/* A fresh request: only the origin's seq changes (offset 32); the core stamps. */
	if (b->dirty[h]) {
		sl_record_encode(rec, b->rec_len, &b->desc);
		b->dirty[h] = 0;
	}
	memcpy(rec + 32, &seq, sizeof(seq));
	b->refs[h] = 1;
	ev.u.client.req = (struct sl_client_req){
		.client_id = 1, .seq = seq, .op = SL_OP_PUT, .key_len = 8, .val_len = value_len
	};
	ev.u.client.rec = (struct sl_rec_ref){ rec, b->rec_len, h };
	ev.u.client.ctx = seq;
	step(b, &b->leader, &ev);
}

static void tick(struct bench *b)
{
	struct sl_event ev = { .type = SL_EV_TICK, .now_ns = b->now };

	step(b, &b->leader, &ev);
	step(b, &b->follower, &ev);
	step(b, &b->leader, &ev);
	b->now += 1000;
}

static void pool_init(struct bench *b, uint32_t value_len)
{
	static uint8_t key[8] = "key-0001", val[65536];
	struct sl_record_desc d = { .type = SL_REC_PUT,
				    .flags = SL_REC_F_ORIGIN,
				    .origin = { 1, 0 },
				    .key = key,
				    .key_len = 8,
				    .val = val,
				    .val_len = value_len };

	b->rec_len = sl_record_size(d.flags, d.key_len, d.val_len);
	b->desc = d;
	b->pool = aligned_alloc(64, (size_t)POOL * b->rec_len);
	for (uint32_t i = 0; i < POOL; i++) {
		sl_record_encode(b->pool + (size_t)i * b->rec_len, b->rec_len, &d);
		b->free_list[b->n_free++] = i;
	}
}

static uint64_t run(struct bench *b, uint64_t records, uint32_t burst, uint32_t value_len)
{
	uint64_t done = 0;

	while (done < records) {
		uint32_t n = burst;

		if (n > b->n_free)
			n = b->n_free;
		if (n > records - done)
			n = (uint32_t)(records - done);
		for (uint32_t i = 0; i < n; i++)
			client_write(b, value_len);
		done += n;
		tick(b);
	}
	for (int i = 0; i < 8; i++)
		tick(b); /* drain */
	return done;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "records", required_argument, 0, 'n' },
					      { "value", required_argument, 0, 'v' },
					      { "burst", required_argument, 0, 'b' },
					      { "repeat", required_argument, 0, 'r' },
					      { 0, 0, 0, 0 } };
	static struct bench b;
	struct sl_core_config cfg = { .cluster_id = 1, .n_members = 2, .members = { 1, 2 } };
	uint64_t records = 2000000;
	uint32_t value_len = 64, burst = 32;
	unsigned repeat = 5;
	double rate[64];
	struct sl_event ctl = { .type = SL_EV_CONTROL };
	double t0, t;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			records = strtoull(optarg, NULL, 10);
		else if (c == 'v')
			value_len = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'b')
			burst = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'r')
			repeat = (unsigned)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (repeat < 1 || repeat > 64 || burst < 1 || records < 1) {
		fprintf(stderr, "core_bench: --repeat 1..64, --burst and --records at least 1\n");
		return 2;
	}
	sl_core_config_default(&cfg);
	cfg.limits.val_max = value_len > SL_POLICY_TEXT_MAX ? value_len : SL_POLICY_TEXT_MAX;
	cfg.batch_bytes = 8192; /* jumbo frames */
	cfg.kv_keys = 1024;
	cfg.policy.kind = SL_POLICY_ALL;
	cfg.policy.level = SL_LEVEL_FLUSHED;
	node_init(&b.leader, &cfg, 1);
	node_init(&b.follower, &cfg, 2);
	pool_init(&b, value_len);
	ctl.u.control = (struct sl_control){ .cmd = SL_CTL_PROMOTE, .epoch = 1 };
	step(&b, &b.leader, &ctl);
	ctl.u.control = (struct sl_control){ .cmd = SL_CTL_FOLLOW, .node = 1, .epoch = 1 };
	step(&b, &b.follower, &ctl);
	run(&b, 10000, burst, value_len); /* warm-up */
	for (unsigned r = 0; r < repeat; r++) {
		b.replies = b.replies_ok = 0;
		t0 = now_s();
		run(&b, records, burst, value_len);
		rate[r] = (double)records / (now_s() - t0);
		if (b.replies_ok != records) {
			fprintf(stderr,
				"core_bench: %" PRIu64 " of %" PRIu64 " writes answered OK\n",
				b.replies_ok, records);
			return 1;
		}
	}
	qsort(rate, repeat, sizeof(rate[0]), cmp_double);
	t = rate[repeat / 2];
	printf("value %u B (record %u B), burst %u, %" PRIu64 " records x %u runs: median %.2f M "
	       "records/s (%.1f ns/record), min %.2f, max %.2f\n",
	       value_len, b.rec_len, burst, records, repeat, t / 1e6, 1e9 / t, rate[0] / 1e6,
	       rate[repeat - 1] / 1e6);
	return 0;
}
