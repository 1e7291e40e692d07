/*
 * The replication core driven one event at a time: NACK throttling on both sides, a full
 * key-value table, client timeouts, the leader's lease, switchover pauses and the
 * follower's view of its leader. Each test builds one core and reads its actions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core.h"
#include "image.h"

#define US 1000ull
#define MS 1000000ull

#define REC_POOL	 4096
#define CORE_TEST_CHUNKS 64
#define REC_LEN		 128

/* Record bytes handed to cores; handle i + 1 is rec_pool[i]. Never reused in a test. */
static uint8_t rec_pool[REC_POOL][REC_LEN];
static unsigned rec_used;

struct tnode {
	struct sl_core_config cfg;
	struct sl_core *c;
	void *mem;
	struct sl_actions out;
	uint64_t now;
};

/* Defaults for node id of an n-node cluster (members 1..n), small sizes. */
static void tn_config(struct sl_core_config *cfg, uint16_t id, unsigned n)
{
	memset(cfg, 0, sizeof(*cfg));
	sl_core_config_default(cfg);
	cfg->node_id = id;
	cfg->cluster_id = 7;
	cfg->n_members = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		cfg->members[i] = (uint16_t)(i + 1);
	cfg->ring_records = 256;
	cfg->kv_keys = 64;
	cfg->dedup_clients = 64;
	cfg->pending_reads = 4;
	cfg->policy.durability = SL_DUR_NONE; /* no PERSISTED events needed to commit */
}

/* A core as recovery left it (rec), or a new one (NULL). */
static void tn_start_from(struct tnode *t, const struct sl_core_config *cfg,
			  const struct sl_core_recovered *rec)
{
	struct sl_actions_caps caps;
	size_t len = sl_core_mem_size(cfg);

	assert_true(len > 0);
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	t->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	assert_non_null(t->mem);
	t->c = sl_core_init(t->mem, len, cfg, rec);
	assert_non_null(t->c);
	sl_actions_caps(cfg, &caps);
	t->out.act = calloc(caps.actions, sizeof(struct sl_action));
	t->out.refs = calloc(caps.refs, sizeof(struct sl_rec_ref));
	t->out.freed = calloc(caps.freed, sizeof(uint64_t));
	t->out.cap_act = caps.actions;
	t->out.cap_refs = caps.refs;
	t->out.cap_freed = caps.freed;
	t->now = 1 * MS;
	rec_used = 0;
}

static void tn_start(struct tnode *t, const struct sl_core_config *cfg)
{
	tn_start_from(t, cfg, NULL);
}

static void tn_stop(struct tnode *t)
{
	free(t->out.act);
	free(t->out.refs);
	free(t->out.freed);
	free(t->mem);
}

static int step(struct tnode *t, struct sl_event *ev)
{
	ev->now_ns = t->now;
	t->out.n_act = t->out.n_refs = t->out.n_freed = 0;
	return sl_core_step(t->c, ev, &t->out);
}

static void tick(struct tnode *t)
{
	struct sl_event ev = { .type = SL_EV_TICK };

	assert_int_equal(step(t, &ev), 0);
}

static int control(struct tnode *t, uint8_t cmd, uint32_t epoch, uint16_t node, uint8_t arg)
{
	struct sl_event ev = { .type = SL_EV_CONTROL };

	ev.u.control = (struct sl_control){ .cmd = cmd, .epoch = epoch, .node = node };
	if (cmd == SL_CTL_PAUSE)
		ev.u.control.pause = arg;
	else
		ev.u.control.learner = arg;
	return step(t, &ev);
}

static struct sl_rec_ref rec_new(const struct sl_record_desc *d)
{
	unsigned i = rec_used++;
	size_t n;

	assert_true(i < REC_POOL);
	n = sl_record_encode(rec_pool[i], REC_LEN, d);
	assert_true(n > 0);
	return (struct sl_rec_ref){ rec_pool[i], (uint32_t)n, i + 1 };
}

/* A client's write (PUT with val, DEL without) with reply context ctx. */
static void client_write(struct tnode *t, uint64_t client, uint64_t seq, const char *key,
			 const char *val, uint64_t ctx)
{
	struct sl_event ev = { .type = SL_EV_CLIENT };
	struct sl_record_desc d = { .type = val ? SL_REC_PUT : SL_REC_DEL,
				    .flags = SL_REC_F_ORIGIN,
				    .origin = { client, seq },
				    .key = key,
				    .key_len = (uint16_t)strlen(key),
				    .val = val,
				    .val_len = val ? (uint32_t)strlen(val) : 0 };

	ev.u.client.req = (struct sl_client_req){ .client_id = client,
						  .seq = seq,
						  .op = val ? SL_OP_PUT : SL_OP_DEL,
						  .key_len = d.key_len,
						  .val_len = d.val_len };
	ev.u.client.key = (const uint8_t *)key;
	ev.u.client.rec = rec_new(&d);
	ev.u.client.ctx = ctx;
	assert_int_equal(step(t, &ev), 0);
}

static void frame_ack(struct tnode *t, uint16_t src, uint32_t epoch, uint64_t lsn)
{
	struct sl_frame_view v = {
		.hdr = { .type = SL_FRAME_ACK, .epoch = epoch, .src_node = src }
	};
	struct sl_event ev = { .type = SL_EV_FRAME };

	v.u.ack = (struct sl_ack){ .received_lsn = lsn, .flushed_lsn = lsn, .applied_lsn = lsn };
	ev.u.frame.view = &v;
	assert_int_equal(step(t, &ev), 0);
}

static void frame_gap_nack(struct tnode *t, uint16_t src, uint32_t epoch, uint64_t expected)
{
	struct sl_frame_view v = {
		.hdr = { .type = SL_FRAME_NACK, .epoch = epoch, .src_node = src }
	};
	struct sl_event ev = { .type = SL_EV_FRAME };

	v.u.nack = (struct sl_nack){ .expected_lsn = expected,
				     .last_lsn = expected - 1,
				     .last_epoch = epoch,
				     .reason = SL_NACK_GAP };
	ev.u.frame.view = &v;
	assert_int_equal(step(t, &ev), 0);
}

/*
 * An APPEND from src at epoch of n PUT records first..first+n-1 of rec_epoch, after prev
 * of prev_epoch.
 */
static void frame_append_of(struct tnode *t, uint16_t src, uint32_t epoch, uint64_t prev,
			    uint32_t prev_epoch, uint64_t first, uint32_t n, uint32_t rec_epoch)
{
	struct sl_frame_view v = {
		.hdr = { .type = SL_FRAME_APPEND, .epoch = epoch, .src_node = src }
	};
	struct sl_event ev = { .type = SL_EV_FRAME };
	struct sl_rec_ref refs[64];

	assert_true(n <= 64);
	for (uint32_t i = 0; i < n; i++) {
		struct sl_record_desc d = { .lsn = first + i,
					    .epoch = rec_epoch,
					    .type = SL_REC_PUT,
					    .key = "k",
					    .key_len = 1,
					    .val = "v",
					    .val_len = 1 };

		refs[i] = rec_new(&d);
	}
	v.u.append = (struct sl_append_hdr){
		.prev_lsn = prev, .prev_epoch = prev_epoch, .send_ts_ns = t->now, .count = n
	};
	ev.u.frame.view = &v;
	ev.u.frame.recs = refs;
	ev.u.frame.n_recs = n;
	assert_int_equal(step(t, &ev), 0);
}

/* The same, all of one epoch. */
static void frame_append(struct tnode *t, uint16_t src, uint32_t epoch, uint64_t prev,
			 uint64_t first, uint32_t n)
{
	frame_append_of(t, src, epoch, prev, prev ? epoch : 0, first, n, epoch);
}

/* The reply this step sent for ctx, or NULL; fails on a second one. */
static const struct sl_client_resp *reply_to(struct tnode *t, uint64_t ctx)
{
	const struct sl_client_resp *r = NULL;

	for (uint32_t i = 0; i < t->out.n_act; i++) {
		const struct sl_action *a = &t->out.act[i];

		if (a->type != SL_ACT_REPLY || a->u.reply.ctx != ctx)
			continue;
		assert_null(r);
		r = &a->u.reply.resp;
	}
	return r;
}

static unsigned replies(struct tnode *t)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < t->out.n_act; i++)
		n += t->out.act[i].type == SL_ACT_REPLY;
	return n;
}

/* APPENDs this step sent to dst whose prev_lsn is prev. */
static unsigned appends_from(struct tnode *t, uint16_t dst, uint64_t prev)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < t->out.n_act; i++) {
		const struct sl_action *a = &t->out.act[i];

		n += a->type == SL_ACT_SEND && a->u.send.frame_type == SL_FRAME_APPEND &&
		     a->u.send.dst == dst && a->u.send.hdr.append.prev_lsn == prev;
	}
	return n;
}

/* Whether this step sent a NACK of reason whose last_lsn is last. */
static bool nack_sent(struct tnode *t, uint32_t reason, uint64_t last)
{
	for (uint32_t i = 0; i < t->out.n_act; i++) {
		const struct sl_action *a = &t->out.act[i];

		if (a->type == SL_ACT_SEND && a->u.send.frame_type == SL_FRAME_NACK &&
		    a->u.send.hdr.nack.reason == reason && a->u.send.hdr.nack.last_lsn == last)
			return true;
	}
	return false;
}

/* The from_lsn of the WAL read this step asked for to catch node up, 0 if none. */
static uint64_t wal_read_from(struct tnode *t, uint16_t node)
{
	for (uint32_t i = 0; i < t->out.n_act; i++)
		if (t->out.act[i].type == SL_ACT_WAL_READ && t->out.act[i].u.wal_read.node == node)
			return t->out.act[i].u.wal_read.from_lsn;
	return 0;
}

static bool notified(struct tnode *t, uint32_t what, uint64_t a, uint64_t b)
{
	for (uint32_t i = 0; i < t->out.n_act; i++) {
		const struct sl_action *x = &t->out.act[i];

		if (x->type == SL_ACT_NOTIFY && x->u.notify.what == what && x->u.notify.a == a &&
		    x->u.notify.b == b)
			return true;
	}
	return false;
}

static struct sl_core_status status(struct tnode *t)
{
	struct sl_core_status st;

	sl_core_status(t->c, t->now, &st);
	return st;
}

/* Node 1 of n promoted at epoch 1, its NOOP (LSN 1) handed out by one tick. */
static void leader_of(struct tnode *t, struct sl_core_config *cfg)
{
	tn_start(t, cfg);
	assert_int_equal(control(t, SL_CTL_PROMOTE, 1, 0, 0), 0);
	tick(t);
	assert_int_equal(status(t).role, SL_ROLE_LEADER);
}

/*
 * A node that recovered last_lsn records and this history: epoch 1 from LSN 1, then
 * epoch e + 1 from LSN 10e + 1 for e = 1 .. n_epochs - 1 (at most SL_EPOCH_HIST_MAX
 * entries are kept: older ones are forgotten, as after that many failovers).
 */
static void start_recovered(struct tnode *t, const struct sl_core_config *cfg, unsigned n_epochs,
			    uint64_t last_lsn, uint64_t commit)
{
	struct sl_core_recovered rec = { .epoch = n_epochs,
					 .last_lsn = last_lsn,
					 .commit_hint = commit };
	unsigned first = n_epochs > SL_EPOCH_HIST_MAX ? n_epochs - SL_EPOCH_HIST_MAX : 0;

	for (unsigned e = first; e < n_epochs; e++)
		rec.hist[rec.n_hist++] =
			(struct sl_epoch_start){ .epoch = e + 1,
						 .first_lsn = e ? 10ull * e + 1 : 1 };
	tn_start_from(t, cfg, &rec);
}

/* ---- defaults ------------------------------------------------------------------------ */

static void test_config_defaults(void **state)
{
	struct sl_core_config cfg;

	(void)state;
	memset(&cfg, 0xff, sizeof(cfg));
	sl_core_config_default(&cfg);
	assert_true(cfg.client_timeout_ns == 5000 * MS);
	assert_true(cfg.lease_ns == 0);
	assert_true(cfg.pause_max_ns == 10000 * MS);
}

/* ---- 1. NACK storm ------------------------------------------------------------------- */

/*
 * A follower whose ring is full drops what it cannot hold; every later frame lands
 * beyond the gap. It asks once per rto_min_ns, not once per frame, and the reorder
 * check of parked frames shares that throttle.
 */
static void test_follower_gap_nack_throttled(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	uint64_t before;

	(void)state;
	tn_config(&cfg, 2, 3);
	cfg.ring_records = 16;
	cfg.reorder_frames = 1;
	tn_start(&t, &cfg);
	assert_int_equal(control(&t, SL_CTL_FOLLOW, 1, 1, 0), 0);
	frame_append(&t, 1, 1, 0, 1, 20); /* nothing persisted: the ring takes 16 */
	assert_true(status(&t).last_lsn == 16);
	assert_true(sl_core_stats(t.c)->ring_full_drops > 0);
	before = sl_core_stats(t.c)->nacks_sent;
	for (uint64_t prev = 20; prev < 60; prev++)
		frame_append(&t, 1, 1, prev, prev + 1, 1); /* the first parks, the rest NACK */
	assert_true(sl_core_stats(t.c)->nacks_sent == before + 1);
	t.now += cfg.rto_min_ns / 2;
	tick(&t); /* parked frame not yet an RTO old, and the last NACK is recent */
	frame_append(&t, 1, 1, 60, 61, 1);
	assert_true(sl_core_stats(t.c)->nacks_sent == before + 1);
	t.now += cfg.rto_min_ns / 2;
	tick(&t); /* an RTO on: the gap is asked for once more */
	assert_true(sl_core_stats(t.c)->nacks_sent == before + 2);
	frame_append(&t, 1, 1, 61, 62, 1);
	assert_true(sl_core_stats(t.c)->nacks_sent == before + 2);
	/* A new leader (epoch) hears about its gap at once. */
	assert_int_equal(control(&t, SL_CTL_FOLLOW, 2, 3, 0), 0);
	frame_append(&t, 3, 2, 40, 41, 0);
	assert_true(sl_core_stats(t.c)->nacks_sent == before + 3);
	tn_stop(&t);
}

/*
 * The leader rewinds on the first NACK of a burst and ignores repeats for the same or a
 * later position while that retransmission is younger than an RTO; an earlier position,
 * or the same one an RTO later, rewinds again.
 */
static void test_leader_ignores_repeated_nacks(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	char key[8];

	(void)state;
	tn_config(&cfg, 1, 3);
	cfg.policy = sl_policy_default();
	cfg.policy.kind = SL_POLICY_ASYNC;
	cfg.policy.durability = SL_DUR_NONE;
	leader_of(&t, &cfg);
	for (unsigned i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		client_write(&t, 100 + i, 1, key, "v", i);
	}
	tick(&t); /* LSN 2..51 go out to both followers */
	assert_int_equal(appends_from(&t, 2, 1), 1);
	t.now += 10 * US;
	frame_gap_nack(&t, 2, 1, 5);
	tick(&t);
	assert_int_equal(appends_from(&t, 2, 4), 1); /* resent from 5 */
	for (unsigned i = 0; i < 9; i++) {
		t.now += 10 * US;
		frame_gap_nack(&t, 2, 1, 5); /* the rest of the burst */
		tick(&t);
		assert_int_equal(appends_from(&t, 2, 4), 0);
	}
	frame_gap_nack(&t, 2, 1, 9); /* a later position: on its way too */
	tick(&t);
	assert_int_equal(appends_from(&t, 2, 8), 0);
	assert_true(sl_core_stats(t.c)->nacks_ignored == 10);
	frame_gap_nack(&t, 2, 1, 3); /* earlier: rewinds */
	tick(&t);
	assert_int_equal(appends_from(&t, 2, 2), 1);
	t.now += cfg.rto_max_ns; /* past any RTO: the same NACK rewinds again */
	frame_gap_nack(&t, 2, 1, 3);
	tick(&t);
	assert_int_equal(appends_from(&t, 2, 2), 1);
	/* Peer 3 was never NACKing: its stream is untouched by peer 2's. */
	assert_int_equal(appends_from(&t, 3, 2), 0);
	tn_stop(&t);
}

/* ---- 2. full key-value table --------------------------------------------------------- */

static void test_kv_full_refused_before_sequencing(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	const struct sl_client_resp *r;
	uint64_t last;

	(void)state;
	tn_config(&cfg, 1, 1);
	cfg.kv_keys = 2;
	leader_of(&t, &cfg);
	client_write(&t, 1, 1, "a", "1", 10);
	client_write(&t, 2, 1, "b", "2", 11);
	tick(&t);
	assert_int_equal(replies(&t), 2);
	last = status(&t).last_lsn;
	client_write(&t, 3, 1, "c", "3", 12); /* a new key, no room */
	r = reply_to(&t, 12);
	assert_non_null(r);
	assert_int_equal(r->status, SL_ST_BUSY);
	assert_int_equal(t.out.n_freed, 1); /* the record goes back at once */
	assert_true(status(&t).last_lsn == last);
	client_write(&t, 3, 2, "a", "4", 13);  /* an existing key is fine */
	client_write(&t, 3, 3, "b", NULL, 14); /* and a DEL */
	assert_true(status(&t).last_lsn == last + 2);
	tick(&t);
	assert_int_equal(reply_to(&t, 13)->status, SL_ST_OK);
	assert_int_equal(reply_to(&t, 14)->status, SL_ST_OK);
	client_write(&t, 3, 4, "c", "5", 15); /* room again */
	tick(&t);
	assert_int_equal(reply_to(&t, 15)->status, SL_ST_OK);
	tn_stop(&t);
}

/*
 * Two new keys in flight for the last slot: both are in the log, the second finds the
 * table full at apply. Its answer is final, and a retry gets it again, not BUSY.
 */
static void test_kv_full_in_log_final_answer(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	const struct sl_client_resp *r;
	struct sl_client_resp first;

	(void)state;
	tn_config(&cfg, 1, 1);
	cfg.kv_keys = 1;
	leader_of(&t, &cfg);
	client_write(&t, 1, 1, "a", "1", 10);
	client_write(&t, 2, 1, "b", "2", 11); /* the table is still empty: sequenced */
	tick(&t);
	assert_int_equal(reply_to(&t, 10)->status, SL_ST_OK);
	r = reply_to(&t, 11);
	assert_non_null(r);
	assert_int_equal(r->status, SL_ST_FULL);
	assert_int_not_equal(r->status, SL_ST_BUSY);
	first = *r;
	assert_true(notified(&t, SL_NOTE_KV_FULL, first.lsn, 0));
	assert_true(sl_core_stats(t.c)->kv_full == 1);
	client_write(&t, 2, 1, "b", "2", 12); /* the retry is not refused up front ... */
	assert_null(reply_to(&t, 12));
	tick(&t);
	r = reply_to(&t, 12); /* ... and hears the same final answer */
	assert_non_null(r);
	assert_int_equal(r->status, first.status);
	assert_true(r->lsn == first.lsn);
	assert_int_equal(r->epoch, first.epoch);
	assert_false(notified(&t, SL_NOTE_KV_FULL, status(&t).last_lsn, 0));
	assert_true(sl_core_stats(t.c)->kv_full == 1);
	assert_int_equal(sl_core_kv_get(t.c, "b", 1, NULL, NULL), -ENOENT);
	tn_stop(&t);
}

/* ---- 3. client timeout --------------------------------------------------------------- */

static void test_client_timeout_then_dedup(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	const struct sl_client_resp *r;
	uint64_t lsn;

	(void)state;
	tn_config(&cfg, 1, 2);
	cfg.client_timeout_ns = 10 * MS;
	leader_of(&t, &cfg); /* policy all: nothing commits without node 2 */
	client_write(&t, 5, 1, "a", "1", 7);
	lsn = status(&t).last_lsn;
	t.now += 9 * MS;
	tick(&t);
	assert_int_equal(replies(&t), 0);
	t.now += 1 * MS;
	tick(&t);
	r = reply_to(&t, 7);
	assert_non_null(r);
	assert_int_equal(r->status, SL_ST_TIMEOUT);
	assert_true(r->seq == 1);
	assert_true(sl_core_stats(t.c)->client_timeouts == 1);
	t.now += 1 * MS;
	tick(&t);
	assert_int_equal(replies(&t), 0);
	frame_ack(&t, 2, 1, lsn); /* it commits after all: no second answer */
	assert_true(status(&t).commit_lsn == lsn);
	assert_int_equal(replies(&t), 0);
	tick(&t);
	assert_int_equal(replies(&t), 0);
	client_write(&t, 5, 1, "a", "1", 8); /* the client's retry */
	frame_ack(&t, 2, 1, status(&t).last_lsn);
	r = reply_to(&t, 8);
	assert_non_null(r);
	assert_int_equal(r->status, SL_ST_OK);
	assert_true(r->lsn == lsn); /* the original's commit token */
	assert_int_equal(r->epoch, 1);
	tn_stop(&t);
}

static void test_client_timeout_off(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;

	(void)state;
	tn_config(&cfg, 1, 2);
	cfg.client_timeout_ns = 0;
	leader_of(&t, &cfg);
	client_write(&t, 5, 1, "a", "1", 7);
	t.now += 3600000 * MS;
	tick(&t);
	assert_int_equal(replies(&t), 0);
	frame_ack(&t, 2, 1, status(&t).last_lsn);
	assert_int_equal(reply_to(&t, 7)->status, SL_ST_OK);
	tn_stop(&t);
}

/* ---- 4. the follower's view of its leader -------------------------------------------- */

static void test_leader_age(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;

	(void)state;
	tn_config(&cfg, 2, 3);
	tn_start(&t, &cfg);
	assert_true(status(&t).leader_age_ns == UINT64_MAX); /* fenced, never heard one */
	assert_int_equal(control(&t, SL_CTL_FOLLOW, 1, 1, 0), 0);
	assert_true(status(&t).leader_age_ns == UINT64_MAX);
	t.now = 2 * MS;
	frame_append(&t, 1, 1, 0, 1, 0); /* a heartbeat */
	t.now = 5 * MS;
	assert_true(status(&t).leader_age_ns == 3 * MS);
	frame_append(&t, 3, 1, 0, 1, 0); /* not our leader: does not count */
	t.now = 7 * MS;
	assert_true(status(&t).leader_age_ns == 5 * MS);
	frame_append(&t, 1, 0, 0, 1, 0); /* an older epoch neither */
	assert_true(status(&t).leader_age_ns == 5 * MS);
	frame_append(&t, 1, 1, 0, 1, 2);
	assert_true(status(&t).leader_age_ns == 0);
	t.now = 8 * MS;
	assert_int_equal(control(&t, SL_CTL_FENCE, 2, 0, 0), 0); /* a new role */
	assert_true(status(&t).leader_age_ns == UINT64_MAX);
	t.now = 9 * MS;
	frame_append(&t, 3, 2, 0, 1, 0); /* epoch 2's leader, adopted on its first frame */
	t.now = 10 * MS;
	assert_int_equal(status(&t).role, SL_ROLE_FOLLOWER);
	assert_true(status(&t).leader_age_ns == 1 * MS);
	assert_int_equal(control(&t, SL_CTL_PROMOTE, 3, 0, 0), 0);
	assert_true(status(&t).leader_age_ns == 0); /* a leader is its own */
	tn_stop(&t);
}

/* ---- 5. lease (check-quorum) --------------------------------------------------------- */

static void test_lease_expires_without_controller_or_majority(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	const struct sl_client_resp *r;
	struct sl_core_status st;

	(void)state;
	tn_config(&cfg, 1, 3);
	cfg.lease_ns = 10 * MS;
	leader_of(&t, &cfg); /* promoted at 1 ms */
	client_write(&t, 5, 1, "a", "1", 7);
	t.now = 11 * MS - 1;
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_LEADER);
	assert_false(status(&t).lease_expired);
	t.now = 11 * MS;
	tick(&t);
	st = status(&t);
	assert_int_equal(st.role, SL_ROLE_FENCED);
	assert_int_equal(st.epoch, 1); /* no epoch change */
	assert_int_equal(st.leader, 0);
	assert_true(st.lease_expired);
	assert_true(notified(&t, SL_NOTE_ROLE, SL_ROLE_FENCED, 1));
	r = reply_to(&t, 7);
	assert_non_null(r);
	assert_int_equal(r->status, SL_ST_NOT_LEADER);
	assert_int_equal(r->leader_hint, 0);
	assert_true(sl_core_stats(t.c)->lease_expired == 1);
	client_write(&t, 5, 2, "a", "2", 8);
	assert_int_equal(reply_to(&t, 8)->status, SL_ST_NOT_LEADER);
	t.now += 50 * MS;
	tick(&t);
	assert_true(status(&t).lease_expired);			 /* until the next role */
	assert_int_equal(control(&t, SL_CTL_RENEW, 1, 0, 0), 0); /* ignored off the lead */
	assert_int_equal(status(&t).role, SL_ROLE_FENCED);
	assert_int_equal(control(&t, SL_CTL_FOLLOW, 2, 2, 0), 0);
	assert_false(status(&t).lease_expired);
	tn_stop(&t);
}

static void test_lease_renewed_by_controller(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;

	(void)state;
	tn_config(&cfg, 1, 3);
	cfg.lease_ns = 10 * MS;
	leader_of(&t, &cfg);
	t.now = 8 * MS;
	assert_int_equal(control(&t, SL_CTL_RENEW, 1, 0, 0), 0);
	assert_int_equal(control(&t, SL_CTL_RENEW, 0, 0, 0), -ESTALE); /* an older epoch */
	t.now = 18 * MS - 1;
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_LEADER);
	t.now = 18 * MS;
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_FENCED);
	tn_stop(&t);
}

/* Itself and one of two followers are a majority of three; a learner does not vote. */
static void test_lease_held_by_majority(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;

	(void)state;
	tn_config(&cfg, 1, 3);
	cfg.lease_ns = 10 * MS;
	leader_of(&t, &cfg);
	t.now = 14 * MS;
	frame_ack(&t, 2, 1, 1);
	t.now = 20 * MS; /* no RENEW since 1 ms, node 2 heard 6 ms ago */
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_LEADER);
	t.now = 24 * MS;
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_FENCED);
	tn_stop(&t);

	leader_of(&t, &cfg);
	assert_int_equal(control(&t, SL_CTL_SET_LEARNER, 1, 2, 1), 0);
	t.now = 10 * MS;
	frame_ack(&t, 2, 1, 1);
	t.now = 11 * MS;
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_FENCED); /* itself alone of two voters */
	tn_stop(&t);

	cfg.n_members = 1; /* a single node is its own majority */
	cfg.members[0] = 1;
	leader_of(&t, &cfg);
	t.now = 1000 * MS;
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_LEADER);
	tn_stop(&t);
}

static void test_lease_off_by_default(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;

	(void)state;
	tn_config(&cfg, 1, 3);
	leader_of(&t, &cfg);
	t.now = 3600000 * MS;
	tick(&t);
	assert_int_equal(status(&t).role, SL_ROLE_LEADER);
	tn_stop(&t);
}

/* ---- 6. pause (switchover) ----------------------------------------------------------- */

static void test_pause(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	uint64_t last;

	(void)state;
	tn_config(&cfg, 1, 2);
	cfg.pause_max_ns = 50 * MS;
	leader_of(&t, &cfg);
	client_write(&t, 5, 1, "a", "1", 7); /* taken before the pause */
	tick(&t);
	assert_int_equal(control(&t, SL_CTL_PAUSE, 0, 0, 1), -ESTALE);
	assert_int_equal(control(&t, SL_CTL_PAUSE, 2, 0, 1), -EPERM); /* not our epoch */
	assert_int_equal(control(&t, SL_CTL_PAUSE, 1, 0, 1), 0);
	assert_true(status(&t).paused);
	last = status(&t).last_lsn;
	client_write(&t, 5, 2, "b", "2", 8);
	assert_int_equal(reply_to(&t, 8)->status, SL_ST_BUSY);
	assert_true(status(&t).last_lsn == last); /* not sequenced */
	t.now += 1 * MS;
	tick(&t);
	frame_ack(&t, 2, 1, last); /* what was taken still commits and is answered */
	assert_int_equal(reply_to(&t, 7)->status, SL_ST_OK);
	assert_int_equal(control(&t, SL_CTL_PAUSE, 1, 0, 0), 0);
	assert_false(status(&t).paused);
	client_write(&t, 5, 2, "b", "2", 9);
	assert_null(reply_to(&t, 9));
	assert_true(status(&t).last_lsn == last + 1);

	assert_int_equal(control(&t, SL_CTL_PAUSE, 1, 0, 1), 0); /* ends by itself */
	t.now += 50 * MS - 1;
	assert_true(status(&t).paused);
	client_write(&t, 5, 3, "c", "3", 10);
	assert_int_equal(reply_to(&t, 10)->status, SL_ST_BUSY);
	t.now += 1;
	assert_false(status(&t).paused);
	client_write(&t, 5, 3, "c", "3", 11);
	assert_null(reply_to(&t, 11));

	assert_int_equal(control(&t, SL_CTL_PAUSE, 1, 0, 1), 0); /* and at an epoch change */
	assert_int_equal(control(&t, SL_CTL_PROMOTE, 2, 0, 0), 0);
	assert_false(status(&t).paused);
	assert_int_equal(control(&t, SL_CTL_FOLLOW, 3, 2, 0), 0);
	assert_int_equal(control(&t, SL_CTL_PAUSE, 3, 0, 1), -EPERM); /* not a leader */
	assert_false(status(&t).paused);
	tn_stop(&t);
}

/* ---- catching up a follower whose position is unknown ------------------------------ */

/*
 * A new leader does not know where a silent follower's log ends. It probes from its own
 * end (heartbeats whose prev is its last LSN) however many RTOs pass, and resumes where
 * the follower's NACK says; never from LSN 1, which would send the whole log again.
 */
static void test_leader_probes_from_its_end(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;

	(void)state;
	tn_config(&cfg, 1, 3);
	start_recovered(&t, &cfg, 1, 100, 100);
	assert_int_equal(control(&t, SL_CTL_PROMOTE, 2, 0, 0), 0);
	tick(&t); /* the NOOP: LSN 101 */
	for (unsigned i = 0; i < 20; i++) {
		t.now += cfg.rto_max_ns;
		tick(&t);
		assert_int_equal(appends_from(&t, 2, 0), 0);
		assert_true(appends_from(&t, 2, 100) + appends_from(&t, 2, 101) > 0);
		assert_true(wal_read_from(&t, 2) == 0);
	}
	frame_gap_nack(&t, 2, 2, 51); /* its log ends at 50 */
	tick(&t);
	assert_true(wal_read_from(&t, 2) == 51); /* the ring starts at 101 */
	tn_stop(&t);
}

/*
 * After more failovers than the history holds, an APPEND whose prev is older than what
 * either side remembers cannot be shown to match: the follower asks for the log from its
 * start, and replaces (never assumes equal) each record whose epoch it cannot confirm.
 * A prev both remember is checked as always; what matched in this epoch is the leader's
 * whatever the history remembers (records sent again are duplicates, a forgotten prev
 * there is taken).
 */
static void test_follower_history_outlived(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;

	(void)state;
	tn_config(&cfg, 2, 3);
	/* Epochs 1..40: the history keeps 9..40, from LSN 81; LSNs 1..80 are older. */
	start_recovered(&t, &cfg, 40, 400, 380);
	assert_int_equal(control(&t, SL_CTL_FOLLOW, 41, 1, 0), 0);
	frame_append_of(&t, 1, 41, 50, 5, 51, 0, 41); /* a prev we forgot */
	assert_true(nack_sent(&t, SL_NACK_MISMATCH, 0));
	assert_true(sl_core_stats(t.c)->history_resyncs == 1);
	frame_append_of(&t, 1, 41, 390, 0, 391, 0, 41); /* a prev the leader forgot */
	assert_true(nack_sent(&t, SL_NACK_MISMATCH, 0));
	assert_true(sl_core_stats(t.c)->history_resyncs == 2);
	frame_append_of(&t, 1, 41, 400, 40, 401, 1, 41); /* one both know: it matches */
	assert_false(nack_sent(&t, SL_NACK_MISMATCH, 0));
	assert_true(status(&t).last_lsn == 401);
	/* Matched in this epoch: the same records sent again are duplicates. */
	frame_append_of(&t, 1, 41, 0, 0, 1, 3, 1);
	assert_false(notified(&t, SL_NOTE_TRUNCATED, 1, 401));
	assert_true(status(&t).last_lsn == 401);
	/* A new leader: nothing matched yet; the log from its start replaces what we had. */
	assert_int_equal(control(&t, SL_CTL_FOLLOW, 42, 3, 0), 0);
	frame_append_of(&t, 3, 42, 0, 0, 1, 3, 1);
	assert_true(notified(&t, SL_NOTE_TRUNCATED, 1, 401));
	assert_true(status(&t).last_lsn == 3);
	/* From there on a prev the leader forgot is one we matched: taken, no NACK. */
	frame_append_of(&t, 3, 42, 3, 0, 4, 2, 1);
	assert_false(nack_sent(&t, SL_NACK_MISMATCH, 0));
	assert_true(status(&t).last_lsn == 5);
	assert_true(sl_core_stats(t.c)->history_resyncs == 2);
	tn_stop(&t);
}

/* ---- peers added and removed at run time (the controller's add-node, remove-node) ---- */

/*
 * A leader of 1..3 with room for more takes node 4 as a learner: probed from its end at
 * once, never counted by `all` (a write commits without it), counted once told so.
 * Node 3 removed: nothing is sent to it, and its frames are foreign. A core without
 * room (max_members 0: its configured members) refuses a new peer.
 */
static void test_peers_added_and_removed(void **state)
{
	struct sl_core_config cfg;
	struct tnode t;
	uint64_t foreign;

	(void)state;
	tn_config(&cfg, 1, 3);
	cfg.policy.kind = SL_POLICY_ALL;
	cfg.policy.level = SL_LEVEL_RECEIVED;
	cfg.max_members = 8;
	leader_of(&t, &cfg);						  /* its NOOP is LSN 1 */
	assert_int_equal(control(&t, SL_CTL_ADD_PEER, 1, 1, 0), -EINVAL); /* itself */
	assert_int_equal(control(&t, SL_CTL_ADD_PEER, 1, 4, 1), 0);
	assert_int_equal(status(&t).n_peers, 3);
	tick(&t);
	assert_true(appends_from(&t, 4, 1) == 1); /* a heartbeat from our end */
	frame_ack(&t, 2, 1, 1);
	frame_ack(&t, 3, 1, 1);
	client_write(&t, 9, 1, "k", "v", 77); /* LSN 2 */
	tick(&t);
	frame_ack(&t, 2, 1, 2);
	frame_ack(&t, 3, 1, 2);
	assert_true(status(&t).commit_lsn == 2); /* the learner did not hold it up */
	assert_int_equal(control(&t, SL_CTL_ADD_PEER, 1, 4, 0), 0); /* now counted */
	client_write(&t, 9, 2, "k", "w", 78);			    /* LSN 3 */
	tick(&t);
	frame_ack(&t, 2, 1, 3);
	frame_ack(&t, 3, 1, 3);
	assert_true(status(&t).commit_lsn == 2); /* `all` waits for node 4 now */
	frame_ack(&t, 4, 1, 3);
	assert_true(status(&t).commit_lsn == 3);
	assert_int_equal(control(&t, SL_CTL_REMOVE_PEER, 1, 3, 0), 0);
	assert_int_equal(status(&t).n_peers, 2);
	client_write(&t, 9, 3, "k", "x", 79); /* LSN 4 */
	tick(&t);
	assert_true(appends_from(&t, 3, 3) == 0);
	foreign = sl_core_stats(t.c)->foreign_frames;
	frame_ack(&t, 3, 1, 4);
	assert_true(sl_core_stats(t.c)->foreign_frames == foreign + 1);
	frame_ack(&t, 2, 1, 4);
	frame_ack(&t, 4, 1, 4);
	assert_true(status(&t).commit_lsn == 4); /* 1, 2 and 4 are all there is */
	assert_int_equal(control(&t, SL_CTL_REMOVE_PEER, 1, 3, 0), 0); /* done already */
	tn_stop(&t);

	tn_config(&cfg, 1, 3);
	leader_of(&t, &cfg);
	assert_int_equal(control(&t, SL_CTL_ADD_PEER, 1, 4, 1), -ENOSPC);
	tn_stop(&t);
}

/* ---- snapshots shipped to a follower behind the WAL ------------------------------- */

#define IMG_MAX (64u << 10)

static uint8_t img_src[IMG_MAX]; /* the leader's snapshot, as the caller holds it */
static uint8_t img_rx[IMG_MAX];	 /* the follower's image being assembled */

/*
 * The image of a leader (node 1 of 2, async) that applied its NOOP and n writes of
 * 60-byte values (so that the image spans several chunks): its length; *digest its
 * key-value digest.
 */
static uint64_t image_of_writes(const struct sl_core_config *cfg, unsigned n, uint64_t *digest)
{
	struct sl_core_config c1 = *cfg;
	struct sl_image_info info;
	struct tnode t;
	int64_t len;

	leader_of(&t, &c1);
	for (unsigned i = 0; i < n; i++) {
		char key[16], val[61];

		snprintf(key, sizeof(key), "key%u", i);
		memset(val, 'a' + (int)(i % 26), 60);
		val[60] = '\0';
		client_write(&t, 100 + i, 1, key, val, i);
	}
	tick(&t);
	assert_true(status(&t).applied_lsn == n + 1);
	len = sl_core_image_write(t.c, img_src, sizeof(img_src), &info);
	assert_true(len > 0);
	assert_true(info.lsn == n + 1 && info.epoch == 1);
	*digest = sl_core_kv_digest(t.c);
	tn_stop(&t);
	return (uint64_t)len;
}

/* The SNAPSHOT_CHUNK frames (with a body) this step sent to dst, into hdrs: how many. */
static unsigned chunks_sent(struct tnode *t, uint16_t dst, struct sl_snap_chunk *hdrs, unsigned cap)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < t->out.n_act; i++) {
		const struct sl_action *a = &t->out.act[i];

		if (a->type == SL_ACT_SEND && a->u.send.frame_type == SL_FRAME_SNAPSHOT_CHUNK &&
		    a->u.send.dst == dst && a->u.send.hdr.snap.chunk_len > 0 && n < cap)
			hdrs[n++] = a->u.send.hdr.snap;
	}
	return n;
}

/* The offset of the chunk acknowledgement this step sent, or UINT64_MAX if none. */
static uint64_t chunk_ack_sent(struct tnode *t)
{
	for (uint32_t i = 0; i < t->out.n_act; i++) {
		const struct sl_action *a = &t->out.act[i];

		if (a->type == SL_ACT_SEND && a->u.send.frame_type == SL_FRAME_SNAPSHOT_CHUNK &&
		    a->u.send.hdr.snap.chunk_len == 0)
			return a->u.send.hdr.snap.offset;
	}
	return UINT64_MAX;
}

static const struct sl_action *action_of(struct tnode *t, uint8_t type)
{
	for (uint32_t i = 0; i < t->out.n_act; i++)
		if (t->out.act[i].type == type)
			return &t->out.act[i];
	return NULL;
}

/* A SNAPSHOT_CHUNK from src at epoch, its body taken from img_src. */
static void frame_chunk(struct tnode *t, uint16_t src, uint32_t epoch,
			const struct sl_snap_chunk *s)
{
	struct sl_frame_view v = {
		.hdr = { .type = SL_FRAME_SNAPSHOT_CHUNK, .epoch = epoch, .src_node = src }
	};
	struct sl_event ev = { .type = SL_EV_FRAME };

	v.u.snap = *s;
	v.body = s->chunk_len ? img_src + s->offset : NULL;
	v.body_len = s->chunk_len;
	ev.u.frame.view = &v;
	assert_int_equal(step(t, &ev), 0);
}

/* The follower's side of one chunk, as shiplogd does it: true when the image is whole. */
static bool follower_stores(struct tnode *t)
{
	const struct sl_action *a = action_of(t, SL_ACT_SNAP_STORE);

	if (!a)
		return false;
	assert_true(a->u.snap.offset + a->u.snap.len <= sizeof(img_rx));
	memcpy(img_rx + a->u.snap.offset, a->u.snap.data, a->u.snap.len);
	return a->u.snap.last;
}

static int snap_received(struct tnode *t, uint64_t lsn, uint32_t epoch, uint64_t len)
{
	struct sl_event ev = { .type = SL_EV_SNAP_RECEIVED };

	ev.u.snap.lsn = lsn;
	ev.u.snap.epoch = epoch;
	ev.u.snap.len = len;
	ev.u.snap.image = img_rx;
	return step(t, &ev);
}

/*
 * Node 1 restarted from its snapshot at LSN 41 (its WAL holds nothing before 42) and
 * leads epoch 2; node 2 is new. The follower's GAP NACK sends the leader to its WAL,
 * which no longer has LSN 1: the snapshot goes out in chunks, a window at a time, and
 * the follower installs it (the leader's state, the WAL restarted after 41, the
 * history one entry) and acknowledges LSN 41. The log continues from 42, matched in
 * this epoch. A damaged image is refused and asked for again from its start.
 */
static void test_snapshot_shipped_and_installed(void **state)
{
	struct sl_core_config c1, c2;
	struct sl_core_recovered rec = {
		.epoch = 1, .last_lsn = 41, .commit_hint = 41, .n_hist = 1
	};
	struct sl_snap_chunk hdrs[CORE_TEST_CHUNKS];
	struct tnode l, f;
	uint64_t digest, len, sent = 0;
	const struct sl_action *inst;
	unsigned n;
	bool whole = false;

	(void)state;
	tn_config(&c1, 1, 2);
	c1.policy.kind = SL_POLICY_ASYNC;
	len = image_of_writes(&c1, 40, &digest);
	assert_true(len > c1.batch_bytes); /* several chunks */
	rec.hist[0] = (struct sl_epoch_start){ .epoch = 1, .first_lsn = 1 };
	rec.image = img_src;
	rec.image_len = len;
	tn_start_from(&l, &c1, &rec);
	assert_true(sl_core_kv_digest(l.c) == digest);
	assert_true(status(&l).applied_lsn == 41);
	assert_int_equal(control(&l, SL_CTL_PROMOTE, 2, 0, 0), 0);
	tick(&l); /* the NOOP: LSN 42 */

	tn_config(&c2, 2, 2);
	c2.policy.kind = SL_POLICY_ASYNC;
	tn_start(&f, &c2);
	assert_int_equal(control(&f, SL_CTL_FOLLOW, 2, 1, 0), 0);

	frame_gap_nack(&l, 2, 2, 1);
	tick(&l);
	assert_true(wal_read_from(&l, 2) == 1);
	{
		struct sl_event gone = { .type = SL_EV_WAL_RECORDS };

		gone.u.wal.node = 2;
		gone.u.wal.gone = true;
		assert_int_equal(step(&l, &gone), 0);
	}
	assert_true(sl_core_stats(l.c)->snapshots_sent == 1);
	assert_true(sl_core_snap_sending(l.c));
	tick(&l);
	n = chunks_sent(&l, 2, hdrs, CORE_TEST_CHUNKS);
	assert_true(n == (len + c1.batch_bytes - 1) / c1.batch_bytes);
	assert_true(appends_from(&l, 2, 41) == 0); /* no APPEND while the image goes */
	for (unsigned i = 0; i < n; i++) {
		assert_true(hdrs[i].offset == sent && hdrs[i].snap_lsn == 41 &&
			    hdrs[i].total_len == len && hdrs[i].snap_epoch == 1);
		sent += hdrs[i].chunk_len;
	}
	assert_true(sent == len);

	/* A chunk out of order is not stored; the acknowledgement says what is held. */
	frame_chunk(&f, 1, 2, &hdrs[1]);
	assert_false(follower_stores(&f));
	tick(&f);
	assert_true(chunk_ack_sent(&f) == 0);
	for (unsigned i = 0; i < n; i++) {
		frame_chunk(&f, 1, 2, &hdrs[i]);
		whole = follower_stores(&f);
		assert_true(whole == (i + 1 == n));
	}
	tick(&f);
	assert_true(chunk_ack_sent(&f) == len);

	/* Damaged on the way: refused, and asked for again from the start. */
	img_rx[len / 2] ^= 0x40;
	assert_int_equal(snap_received(&f, 41, 1, len), -EINVAL);
	assert_true(sl_core_stats(f.c)->snapshot_rejects == 1);
	assert_null(action_of(&f, SL_ACT_SNAP_INSTALL));
	tick(&f);
	assert_true(chunk_ack_sent(&f) == 0);
	for (unsigned i = 0; i < n; i++) {
		frame_chunk(&f, 1, 2, &hdrs[i]);
		whole = follower_stores(&f);
	}
	assert_true(whole);
	assert_int_equal(snap_received(&f, 41, 1, len), 0);
	inst = action_of(&f, SL_ACT_SNAP_INSTALL);
	assert_non_null(inst);
	assert_true(inst->u.snap.lsn == 41 && inst->u.snap.epoch == 1 && inst->u.snap.total == len);
	assert_non_null(action_of(&f, SL_ACT_SAVE_META));
	assert_true(sl_core_kv_digest(f.c) == digest);
	assert_true(status(&f).last_lsn == 41 && status(&f).applied_lsn == 41);
	assert_true(sl_core_stats(f.c)->snapshots_installed == 1);
	tick(&f);
	{
		const struct sl_action *ack = NULL;

		for (uint32_t i = 0; i < f.out.n_act; i++)
			if (f.out.act[i].type == SL_ACT_SEND &&
			    f.out.act[i].u.send.frame_type == SL_FRAME_ACK)
				ack = &f.out.act[i];
		assert_non_null(ack);
		assert_true(ack->u.send.hdr.ack.received_lsn == 41);
		assert_true(ack->u.send.hdr.ack.last_epoch == 1);
	}

	/* The leader hears it: the log goes on from 42. */
	frame_chunk(&l, 2, 2,
		    &(struct sl_snap_chunk){ .snap_lsn = 41, .offset = len, .total_len = len });
	frame_ack(&l, 2, 2, 41);
	tick(&l);
	assert_true(chunks_sent(&l, 2, hdrs, CORE_TEST_CHUNKS) == 0);
	assert_false(sl_core_snap_sending(l.c));
	assert_true(appends_from(&l, 2, 41) == 1);
	frame_append_of(&f, 1, 2, 41, 1, 42, 1, 2);
	assert_false(nack_sent(&f, SL_NACK_MISMATCH, 40));
	assert_true(status(&f).last_lsn == 42);
	tn_stop(&f);
	tn_stop(&l);
}

/*
 * Leader l (node 1, from its snapshot at 41, leading epoch 2) has begun sending it to a
 * new follower f (node 2): the first window's chunks in hdrs (*n), the image's length.
 */
static uint64_t snap_transfer_begun(struct tnode *l, struct tnode *f, struct sl_snap_chunk *hdrs,
				    unsigned *n)
{
	struct sl_core_config c1, c2;
	struct sl_core_recovered rec = {
		.epoch = 1, .last_lsn = 41, .commit_hint = 41, .n_hist = 1
	};
	struct sl_event gone = { .type = SL_EV_WAL_RECORDS };
	uint64_t digest, len;

	tn_config(&c1, 1, 2);
	c1.policy.kind = SL_POLICY_ASYNC;
	len = image_of_writes(&c1, 40, &digest);
	rec.hist[0] = (struct sl_epoch_start){ .epoch = 1, .first_lsn = 1 };
	rec.image = img_src;
	rec.image_len = len;
	tn_start_from(l, &c1, &rec);
	assert_int_equal(control(l, SL_CTL_PROMOTE, 2, 0, 0), 0);
	tick(l);
	tn_config(&c2, 2, 2);
	c2.policy.kind = SL_POLICY_ASYNC;
	tn_start(f, &c2);
	assert_int_equal(control(f, SL_CTL_FOLLOW, 2, 1, 0), 0);
	frame_gap_nack(l, 2, 2, 1);
	tick(l);
	gone.u.wal.node = 2;
	gone.u.wal.gone = true;
	assert_int_equal(step(l, &gone), 0);
	tick(l);
	*n = chunks_sent(l, 2, hdrs, CORE_TEST_CHUNKS);
	assert_true(*n >= 2);
	return len;
}

/* The follower's chunk acknowledgement of this step, to the leader. */
static void chunk_ack_to_leader(struct tnode *f, struct tnode *l)
{
	for (uint32_t i = 0; i < f->out.n_act; i++) {
		const struct sl_action *a = &f->out.act[i];

		if (a->type == SL_ACT_SEND && a->u.send.frame_type == SL_FRAME_SNAPSHOT_CHUNK)
			frame_chunk(l, 2, 2, &a->u.send.hdr.snap);
	}
}

/* The ACK the follower sent this step (its received LSN), or UINT64_MAX. */
static uint64_t ack_sent(struct tnode *t)
{
	for (uint32_t i = 0; i < t->out.n_act; i++)
		if (t->out.act[i].type == SL_ACT_SEND &&
		    t->out.act[i].u.send.frame_type == SL_FRAME_ACK)
			return t->out.act[i].u.send.hdr.ack.received_lsn;
	return UINT64_MAX;
}

/*
 * A chunk acknowledgement lost, or the follower silent: after an RTO the leader sends
 * again from the last byte acknowledged, never past its window.
 */
static void test_snapshot_resent_after_rto(void **state)
{
	struct sl_snap_chunk hdrs[CORE_TEST_CHUNKS];
	struct tnode l, f;
	uint64_t len;
	unsigned n;

	(void)state;
	len = snap_transfer_begun(&l, &f, hdrs, &n);
	/* The follower holds the first chunk only. */
	frame_chunk(&l, 2, 2,
		    &(struct sl_snap_chunk){
			    .snap_lsn = 41, .offset = hdrs[0].chunk_len, .total_len = len });
	tick(&l);
	assert_true(chunks_sent(&l, 2, hdrs, CORE_TEST_CHUNKS) == 0); /* all out already */
	l.now += l.cfg.rto_max_ns;
	tick(&l);
	assert_true(chunks_sent(&l, 2, hdrs, CORE_TEST_CHUNKS) == n - 1);
	assert_true(hdrs[0].offset == l.cfg.batch_bytes);
	assert_true(sl_core_stats(l.c)->retransmits >= 1);
	tn_stop(&f);
	tn_stop(&l);
}

/*
 * A follower that restarts once it acknowledged part of the image knows nothing of it:
 * it answers the leader's next chunk with offset 0, and the leader starts over, so the
 * transfer ends (it used to resend from the old offset for ever, and block every later
 * snapshot).
 */
static void test_snapshot_follower_restarts_mid_transfer(void **state)
{
	struct sl_snap_chunk hdrs[CORE_TEST_CHUNKS];
	struct sl_core_config c2;
	struct tnode l, f;
	unsigned n;
	uint64_t len;
	bool whole = false;

	(void)state;
	len = snap_transfer_begun(&l, &f, hdrs, &n);
	frame_chunk(&f, 1, 2, &hdrs[0]);
	assert_false(follower_stores(&f));
	tick(&f);
	chunk_ack_to_leader(&f, &l);
	c2 = f.cfg;
	tn_stop(&f);
	tn_start(&f, &c2); /* restarted: nothing of the image */
	assert_int_equal(control(&f, SL_CTL_FOLLOW, 2, 1, 0), 0);
	for (unsigned round = 0; round < 6 && !whole; round++) {
		l.now += l.cfg.rto_max_ns;
		f.now = l.now;
		tick(&l);
		n = chunks_sent(&l, 2, hdrs, CORE_TEST_CHUNKS);
		for (unsigned i = 0; i < n && !whole; i++) {
			frame_chunk(&f, 1, 2, &hdrs[i]);
			whole = follower_stores(&f);
		}
		tick(&f);
		chunk_ack_to_leader(&f, &l);
		tick(&l); /* what the acknowledgement lets go at once */
		n = chunks_sent(&l, 2, hdrs, CORE_TEST_CHUNKS);
		for (unsigned i = 0; i < n && !whole; i++) {
			frame_chunk(&f, 1, 2, &hdrs[i]);
			whole = follower_stores(&f);
		}
	}
	assert_true(whole);
	assert_int_equal(snap_received(&f, 41, 1, len), 0);
	assert_true(sl_core_stats(f.c)->snapshots_installed == 1);
	tn_stop(&f);
	tn_stop(&l);
}

/*
 * The install's ACK lost, or chunks sent again during a slow install arriving after the
 * follower took records past the snapshot: the follower never installs it a second time
 * (which would drop records it acknowledged); it answers with an ordinary ACK, which
 * ends the transfer. The leader sends only the last chunk again, not the whole image.
 */
static void test_snapshot_never_installed_twice(void **state)
{
	struct sl_snap_chunk hdrs[CORE_TEST_CHUNKS], again[CORE_TEST_CHUNKS];
	struct tnode l, f;
	unsigned n, m;
	uint64_t len;
	bool whole = false;

	(void)state;
	len = snap_transfer_begun(&l, &f, hdrs, &n);
	for (unsigned i = 0; i < n; i++) {
		frame_chunk(&f, 1, 2, &hdrs[i]);
		whole = follower_stores(&f);
	}
	assert_true(whole);
	assert_int_equal(snap_received(&f, 41, 1, len), 0);
	tick(&f); /* its ACK of 41: lost */
	assert_true(ack_sent(&f) == 41);
	assert_true(chunk_ack_sent(&f) == UINT64_MAX); /* no stray chunk reply */
	frame_chunk(&l, 2, 2,
		    &(struct sl_snap_chunk){ .snap_lsn = 41, .offset = len, .total_len = len });
	l.now += l.cfg.rto_max_ns;
	tick(&l);
	m = chunks_sent(&l, 2, again, CORE_TEST_CHUNKS);
	assert_true(m == 1 && again[0].offset + again[0].chunk_len == len);
	/* Meanwhile the follower took records 42..44 from the leader. */
	frame_append_of(&f, 1, 2, 41, 1, 42, 3, 2);
	assert_true(status(&f).last_lsn == 44);
	for (unsigned i = 0; i < n; i++) { /* every chunk again, late */
		frame_chunk(&f, 1, 2, &hdrs[i]);
		assert_false(follower_stores(&f));
	}
	frame_chunk(&f, 1, 2, &again[0]);
	assert_false(follower_stores(&f));
	tick(&f);
	assert_true(ack_sent(&f) == 44);
	assert_true(status(&f).last_lsn == 44);
	assert_true(sl_core_stats(f.c)->snapshots_installed == 1);
	frame_ack(&l, 2, 2, 44);
	assert_false(sl_core_snap_sending(l.c));
	tn_stop(&f);
	tn_stop(&l);
}

/*
 * A transfer the follower stopped answering (it died, or cannot take the image) does
 * not hold back the leader's next snapshot for long.
 */
static void test_snapshot_silent_follower_not_waited_for(void **state)
{
	struct sl_snap_chunk hdrs[CORE_TEST_CHUNKS];
	struct tnode l, f;
	unsigned n;

	(void)state;
	snap_transfer_begun(&l, &f, hdrs, &n);
	assert_true(sl_core_snap_sending(l.c));
	for (unsigned i = 0; i < 5; i++) {
		l.now += l.cfg.rto_max_ns;
		tick(&l);
	}
	assert_false(sl_core_snap_sending(l.c));
	tn_stop(&f);
	tn_stop(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_follower_gap_nack_throttled),
		cmocka_unit_test(test_leader_ignores_repeated_nacks),
		cmocka_unit_test(test_kv_full_refused_before_sequencing),
		cmocka_unit_test(test_kv_full_in_log_final_answer),
		cmocka_unit_test(test_client_timeout_then_dedup),
		cmocka_unit_test(test_client_timeout_off),
		cmocka_unit_test(test_leader_age),
		cmocka_unit_test(test_lease_expires_without_controller_or_majority),
		cmocka_unit_test(test_lease_renewed_by_controller),
		cmocka_unit_test(test_lease_held_by_majority),
		cmocka_unit_test(test_lease_off_by_default),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_leader_probes_from_its_end),
		cmocka_unit_test(test_follower_history_outlived),
		cmocka_unit_test(test_peers_added_and_removed),
		cmocka_unit_test(test_snapshot_shipped_and_installed),
		cmocka_unit_test(test_snapshot_resent_after_rto),
		cmocka_unit_test(test_snapshot_follower_restarts_mid_transfer),
		cmocka_unit_test(test_snapshot_never_installed_twice),
		cmocka_unit_test(test_snapshot_silent_follower_not_waited_for),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
