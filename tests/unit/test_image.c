/*
 * State images (image.h): written from a leader that applied client writes and a policy
 * change, loaded into a fresh core, which then behaves as the source does; refused whole
 * when a byte is missing, flipped, out of bounds or meant for another configuration.
 * Values come from SHIPLOG_SEED (testutil.h), so a failure reproduces from its seed.
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

#include <shiplog/crc32c.h>

#include "core_internal.h"
#include "coretest.h"
#include "image.h"
#include "testutil.h"

#define MS	  1000000ull
#define CTX_MAX	  1024 /* reply contexts, and records handed to cores, per test */
#define REC_CAP	  512
#define VAL_LONG  300 /* longest value the tests write */
#define IMG_FIXED 46u /* image.h: magic .. policy_len */
#define IMG_SESS  33u /* one session */

/* Record bytes handed to cores: handle i + 1 is recs[i], never reused within a test. */
static uint8_t recs[CTX_MAX][REC_CAP];
static unsigned n_recs;

/* A core and what its steps answered: resp[ctx] is the last reply for ctx. */
struct inode {
	struct sl_core *c;
	void *mem;
	struct sl_actions out;
	uint64_t now;
	struct sl_client_resp resp[CTX_MAX];
	bool answered[CTX_MAX];
};

/* A single-member cluster, small tables: 16 clients share 32 session slots. */
static void img_config(struct sl_core_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	sl_core_config_default(cfg);
	cfg->node_id = 1;
	cfg->cluster_id = 7;
	cfg->n_members = 1;
	cfg->members[0] = 1;
	cfg->ring_records = 256;
	cfg->kv_keys = 64;
	cfg->dedup_clients = 16;
	cfg->pending_reads = 4;
	cfg->limits.val_max = 512;
	cfg->policy.durability = SL_DUR_NONE; /* commits at the tick, no PERSISTED needed */
}

/* A core (a recovered one when rec is not NULL) and its action buffers, in one block. */
static struct inode *node_new(const struct sl_core_config *cfg, const struct sl_core_recovered *rec)
{
	struct inode *t = calloc(1, sizeof(*t));
	size_t len = sl_core_mem_size(cfg), act, refs;
	struct sl_actions_caps caps;
	uint8_t *bufs;

	assert_true(t != NULL && len > 0);
	t->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	assert_non_null(t->mem);
	t->c = sl_core_init(t->mem, len, cfg, rec);
	assert_non_null(t->c);
	sl_actions_caps(cfg, &caps);
	act = caps.actions * sizeof(struct sl_action);
	refs = caps.refs * sizeof(struct sl_rec_ref);
	bufs = calloc(1, act + refs + caps.freed * sizeof(uint64_t));
	assert_non_null(bufs);
	t->out = (struct sl_actions){ .act = (struct sl_action *)(void *)bufs,
				      .cap_act = caps.actions,
				      .refs = (struct sl_rec_ref *)(void *)(bufs + act),
				      .cap_refs = caps.refs,
				      .freed = (uint64_t *)(void *)(bufs + act + refs),
				      .cap_freed = caps.freed };
	t->now = MS;
	return t;
}

static void node_free(struct inode *t)
{
	free(t->out.act);
	free(t->mem);
	free(t);
}

/* One event; every reply it brings is kept by its context. */
static int node_step(struct inode *t, struct sl_event *ev)
{
	int rc;

	ev->now_ns = t->now;
	t->out.n_act = t->out.n_refs = t->out.n_freed = 0;
	rc = sl_core_step(t->c, ev, &t->out);
	for (uint32_t i = 0; i < t->out.n_act; i++) {
		const struct sl_action *a = &t->out.act[i];

		if (a->type != SL_ACT_REPLY || a->u.reply.ctx >= CTX_MAX)
			continue;
		t->resp[a->u.reply.ctx] = a->u.reply.resp;
		t->answered[a->u.reply.ctx] = true;
	}
	return rc;
}

static void node_tick(struct inode *t)
{
	struct sl_event ev = { .type = SL_EV_TICK };

	t->now += MS;
	assert_int_equal(node_step(t, &ev), 0);
}

static void node_control(struct inode *t, const struct sl_control *ctl)
{
	struct sl_event ev = { .type = SL_EV_CONTROL, .u.control = *ctl };

	assert_int_equal(node_step(t, &ev), 0);
}

/* Leader of epoch in its one-member cluster, its NOOP applied. */
static void node_lead(struct inode *t, uint32_t epoch)
{
	node_control(t, &(struct sl_control){ .cmd = SL_CTL_PROMOTE, .epoch = epoch });
	node_tick(t);
	assert_int_equal(t->c->role, SL_ROLE_LEADER);
}

/* A new leader of epoch 1 (node 1 of cfg's one-member cluster). */
static struct inode *leader_new(const struct sl_core_config *cfg)
{
	struct inode *t = node_new(cfg, NULL);

	node_lead(t, 1);
	return t;
}

/* A client's PUT of val (val_len bytes) or, with val NULL, DEL, answered under ctx. */
static void node_write(struct inode *t, uint64_t client, uint64_t seq, const char *key,
		       const uint8_t *val, uint32_t val_len, uint64_t ctx)
{
	struct sl_record_desc d = coretest_write_desc(client, seq, key, val, val_len);
	unsigned i = n_recs++;
	struct sl_event ev;
	size_t n;

	assert_true(i < CTX_MAX && ctx < CTX_MAX);
	n = sl_record_encode(recs[i], REC_CAP, &d);
	assert_true(n > 0);
	ev = coretest_write_event(&d, (struct sl_rec_ref){ recs[i], (uint32_t)n, i + 1 }, ctx);
	assert_int_equal(node_step(t, &ev), 0);
}

/* Random bytes, 0..VAL_LONG of them, into val; their count. */
static uint32_t random_val(uint64_t *seed, uint8_t *val)
{
	uint32_t n = (uint32_t)(test_rand(seed) % (VAL_LONG + 1));

	for (uint32_t i = 0; i < n; i++)
		val[i] = (uint8_t)test_rand(seed);
	return n;
}

/*
 * Writes from 40 clients (ids 1000..1039) to 24 keys, so 16 clients' sessions are
 * evicted from the 32 slots, a few DELs, and a CONFIG record changing the policy half
 * way; everything applied. Contexts 0..59 are used.
 */
static struct sl_policy fill_source(struct inode *a, uint64_t seed)
{
	struct sl_policy p = { .kind = SL_POLICY_ASYNC,
			       .level = SL_LEVEL_APPLIED,
			       .durability = SL_DUR_NONE,
			       .sync_timeout_ms = 250 };
	uint8_t val[VAL_LONG];
	char key[16];

	for (unsigned i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "key-%u", i % 24);
		node_write(a, 1000 + i, 1, key, val, random_val(&seed, val), i);
		if (i == 20)
			node_control(a, &(struct sl_control){ .cmd = SL_CTL_SET_POLICY,
							      .epoch = a->c->epoch,
							      .policy = p });
		if (i % 8 == 7)
			node_tick(a);
	}
	for (unsigned i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "key-%u", 3 * i);
		node_write(a, 2000, 1 + i, key, i % 4 ? NULL : val, 0, 40 + i);
	}
	node_tick(a);
	assert_true(a->c->applied_lsn == a->c->last_lsn);
	for (unsigned ctx = 0; ctx < 60; ctx++)
		assert_true(a->answered[ctx] && a->resp[ctx].status == SL_ST_OK);
	return p;
}

/*
 * A fresh core that recovered the log up to lsn (all of epoch 1), then the image of the
 * state at lsn: what a restart from a snapshot does.
 */
static struct inode *node_from_image(const struct sl_core_config *cfg, const uint8_t *img,
				     size_t len, uint64_t lsn, struct sl_image_info *info)
{
	struct inode *b;

	struct sl_core_recovered rec = { .epoch = 1,
					 .last_lsn = lsn,
					 .commit_hint = lsn,
					 .n_hist = 1,
					 .hist = { { .epoch = 1, .first_lsn = 1 } } };

	b = node_new(cfg, &rec);
	assert_int_equal(core_image_load(b->c, img, len, info), 0);
	assert_true(info->lsn == lsn && info->len == len);
	return b;
}

static void assert_sessions_equal(const struct sl_core *x, const struct sl_core *y, bool tokens)
{
	assert_int_equal(x->session_mask, y->session_mask);
	for (uint32_t i = 0; i <= x->session_mask; i++) {
		const struct core_session *s = &x->sessions[i], *t = &y->sessions[i];

		assert_true(s->client_id == t->client_id && s->seq == t->seq);
		assert_int_equal(s->status, t->status);
		if (tokens)
			assert_true(s->lsn == t->lsn && s->epoch == t->epoch);
	}
}

/* The same pairs with the same values and, with lsns, the same LSNs. */
static void assert_kv_equal(const struct sl_core *x, const struct sl_core *y, bool lsns)
{
	const uint8_t *key, *val, *val2;
	uint32_t cursor = 0, val_len, val_len2;
	uint64_t lsn, lsn2;
	uint16_t key_len;

	assert_int_equal(core_kv_count(x->kv), core_kv_count(y->kv));
	assert_true(sl_core_kv_digest(x) == sl_core_kv_digest(y));
	while (core_kv_next(x->kv, &cursor, &key, &key_len, &val, &val_len, &lsn)) {
		assert_int_equal(core_kv_get(y->kv, key, key_len, &val2, &val_len2, &lsn2), 0);
		assert_int_equal(val_len, val_len2);
		assert_memory_equal(val, val2, val_len);
		if (lsns)
			assert_true(lsn == lsn2);
	}
}

static size_t image_of(struct inode *a, uint8_t **img, struct sl_image_info *info)
{
	size_t cap = sl_core_image_max(&a->c->cfg);
	int64_t len;

	assert_true(cap > 0);
	*img = malloc(cap);
	assert_non_null(*img);
	len = sl_core_image_write(a->c, *img, cap, info);
	assert_true(len > 0);
	assert_true((size_t)len == sl_core_image_size(a->c) && (uint64_t)len == info->len);
	return (size_t)len;
}

/* ---- round trip --------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info, again;
	struct inode *a, *b;
	struct sl_policy p;
	uint8_t *img, *img2;
	size_t len;

	(void)state;
	img_config(&cfg);
	a = leader_new(&cfg);
	p = fill_source(a, test_seed());
	len = image_of(a, &img, &info);
	assert_true(info.lsn == a->c->applied_lsn && info.epoch == 1 && info.cluster_id == 7);
	assert_int_equal(info.n_keys, core_kv_count(a->c->kv));
	assert_true(info.n_sessions > 0 && info.n_sessions <= 32);
	assert_memory_equal(&info.policy, &p, sizeof(p));
	assert_true(len <= sl_core_image_max(&cfg));

	b = node_from_image(&cfg, img, len, info.lsn, &again);
	assert_true(b->c->applied_lsn == info.lsn);
	assert_kv_equal(a->c, b->c, true);
	assert_sessions_equal(a->c, b->c, true);
	assert_memory_equal(&b->c->applied_policy, &p, sizeof(p));
	assert_memory_equal(&b->c->policy, &p, sizeof(p)); /* not a leader: in force too */
	assert_true(again.epoch == info.epoch && again.cluster_id == info.cluster_id);
	assert_true(again.n_keys == info.n_keys && again.n_sessions == info.n_sessions);
	assert_memory_equal(&again.policy, &info.policy, sizeof(p));

	/* One state, one image: the loaded core writes the same bytes. */
	assert_true(image_of(b, &img2, &again) == len);
	assert_memory_equal(img2, img, len);

	/* A leader keeps the policy of its own last CONFIG in force; the image's is applied.
	 * (Its log now ends below its applied LSN: it takes no further step.) */
	node_free(b);
	b = leader_new(&cfg);
	assert_int_equal(core_image_load(b->c, img, len, &again), 0);
	assert_memory_equal(&b->c->applied_policy, &p, sizeof(p));
	assert_memory_equal(&b->c->policy, &cfg.policy, sizeof(p));
	free(img);
	free(img2);
	node_free(a);
	node_free(b);
}

/*
 * A retry of client's seq 1, a PUT of key with another value: answered with the
 * original's token (orig), counted as a duplicate, and the key left as it was.
 */
static void retry_deduplicated(struct inode *t, uint64_t client, const char *key,
			       const struct sl_client_resp *orig)
{
	uint16_t key_len = (uint16_t)strlen(key);
	uint64_t dups = sl_core_stats(t->c)->client_dup;
	const uint8_t *v;
	uint32_t before_len, v_len;
	uint8_t before[VAL_LONG];
	int had = sl_core_kv_get(t->c, key, key_len, &v, &before_len);

	if (had == 0)
		memcpy(before, v, before_len);
	node_write(t, client, 1, key, (const uint8_t *)"other", 5, 200);
	node_tick(t);
	assert_true(t->answered[200]);
	assert_int_equal(t->resp[200].status, orig->status);
	assert_true(t->resp[200].lsn == orig->lsn);
	assert_int_equal(t->resp[200].epoch, orig->epoch);
	assert_true(sl_core_stats(t->c)->client_dup == dups + 1);
	assert_int_equal(sl_core_kv_get(t->c, key, key_len, &v, &v_len), had);
	if (had == 0) {
		assert_int_equal(v_len, before_len);
		assert_memory_equal(v, before, v_len);
	}
}

/*
 * The loaded core, promoted, takes the same writes as the source: the same pairs, the
 * same sessions slot by slot (the same evictions), and a retry of a write from before
 * the image is answered with the original's token, not applied again.
 */
static void test_loaded_core_continues(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info;
	struct inode *a, *b, *both[2];
	uint64_t seed = test_seed() ^ 0xb0b;
	uint8_t val[VAL_LONG], *img;
	uint32_t n;
	char key[16];
	size_t len;

	(void)state;
	img_config(&cfg);
	a = leader_new(&cfg);
	fill_source(a, test_seed());
	len = image_of(a, &img, &info);
	b = node_from_image(&cfg, img, len, info.lsn, &info);
	node_lead(b, 2);
	both[0] = a;
	both[1] = b;

	/* Client 1039's write (of key-15) is the newest of fill_source's 40: its session
	 * outlived every eviction. */
	for (unsigned k = 0; k < 2; k++)
		retry_deduplicated(both[k], 1039, "key-15", &a->resp[39]);
	for (unsigned i = 0; i < 24; i++) {
		snprintf(key, sizeof(key), "new-%u", i % 10);
		n = random_val(&seed, val);
		for (unsigned k = 0; k < 2; k++)
			node_write(both[k], 3000 + i, 1, key, val, n, 100 + i);
		if (i % 8 == 7)
			for (unsigned k = 0; k < 2; k++)
				node_tick(both[k]);
	}
	assert_kv_equal(a->c, b->c, false); /* b's LSNs are one on: its NOOP of epoch 2 */
	assert_sessions_equal(a->c, b->c, false);
	free(img);
	node_free(a);
	node_free(b);
}

/* ---- what writing refuses ----------------------------------------------------------- */

static void test_write_refusals(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info;
	struct inode *a, *b;
	uint8_t *img, small[64];
	size_t len;

	(void)state;
	img_config(&cfg);
	a = node_new(&cfg, NULL);
	/* Nothing applied yet. */
	assert_int_equal(sl_core_image_write(a->c, small, sizeof(small), &info), -EAGAIN);
	node_lead(a, 1);
	fill_source(a, test_seed());
	len = image_of(a, &img, &info);
	assert_int_equal(sl_core_image_write(a->c, img, len - 1, &info), -ENOSPC);
	assert_int_equal(sl_core_image_write(a->c, NULL, 0, &info), -ENOSPC);
	assert_int_equal(sl_core_image_write(a->c, small, sizeof(small), &info), -ENOSPC);

	/* The history no longer says the epoch of the applied LSN (it starts after it). */
	b = node_new(&cfg, &(struct sl_core_recovered){
				   .epoch = 2,
				   .last_lsn = info.lsn,
				   .commit_hint = info.lsn,
				   .n_hist = 1,
				   .hist = { { .epoch = 2, .first_lsn = info.lsn + 1 } } });
	assert_int_equal(core_image_load(b->c, img, len, &info), 0);
	assert_int_equal(sl_core_image_write(b->c, img, len, &info), -EAGAIN);
	free(img);
	node_free(a);
	node_free(b);
}

/* ---- what checking refuses ---------------------------------------------------------- */

/* The image of fill_source's state, for the damage tests. */
static size_t source_image(const struct sl_core_config *cfg, uint8_t **img,
			   struct sl_image_info *info)
{
	struct inode *a = leader_new(cfg);
	size_t len;

	fill_source(a, test_seed());
	len = image_of(a, img, info);
	node_free(a);
	return len;
}

static void test_truncated_or_longer(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info;
	uint8_t *img, *copy;
	size_t len;

	(void)state;
	img_config(&cfg);
	len = source_image(&cfg, &img, &info);
	for (size_t n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past them. */
		copy = malloc(n ? n : 1);
		memcpy(copy, img, n);
		assert_int_equal(sl_core_image_check(copy, n, &cfg, &info), -EINVAL);
		free(copy);
	}
	copy = malloc(len + 1);
	memcpy(copy, img, len);
	copy[len] = 0;
	assert_int_equal(sl_core_image_check(copy, len + 1, &cfg, &info), -EINVAL);
	assert_int_equal(sl_core_image_check(img, len, &cfg, &info), 0);
	free(copy);
	free(img);
}

static void test_bit_flips(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info;
	uint8_t *img;
	size_t len;

	(void)state;
	img_config(&cfg);
	len = source_image(&cfg, &img, &info);
	for (size_t bit = 0; bit < 8 * len; bit++) {
		img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(sl_core_image_check(img, len, &cfg, &info), -EINVAL);
		img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(sl_core_image_check(img, len, &cfg, &info), 0);
	free(img);
}

/* Image fields, little-endian (image.h). */
static uint32_t get_le(const uint8_t *p, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The trailer CRC made right again after a change: only the field checks remain. */
static void reseal(uint8_t *img, size_t len)
{
	put_le(img + len - 4, sl_crc32c(0, img, len - 4), 4);
}

/* A copy of img with a field changed and resealed, checked against cfg. */
static int check_field(const uint8_t *img, size_t len, const struct sl_core_config *cfg, size_t off,
		       uint64_t v, unsigned bytes)
{
	uint8_t *copy = malloc(len);
	struct sl_image_info info;
	int rc;

	memcpy(copy, img, len);
	put_le(copy + off, v, bytes);
	reseal(copy, len);
	rc = sl_core_image_check(copy, len, cfg, &info);
	free(copy);
	return rc;
}

static void test_field_checks(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info;
	uint8_t *img;
	size_t len, key0, sess;
	uint16_t policy_len;

	(void)state;
	img_config(&cfg);
	len = source_image(&cfg, &img, &info);
	policy_len = (uint16_t)get_le(img + 44, 2);
	key0 = IMG_FIXED + policy_len;
	sess = len - 4 - IMG_SESS; /* the last session */
	assert_int_equal(check_field(img, len, &cfg, 0, 0x4d494c54, 4), -EINVAL); /* magic */
	assert_int_equal(check_field(img, len, &cfg, 4, 2, 2), -EINVAL);	  /* version */
	assert_int_equal(check_field(img, len, &cfg, 6, 1, 2), -EINVAL);	  /* flags */
	assert_int_equal(check_field(img, len, &cfg, 8, 8, 4), -EXDEV);		  /* cluster */
	assert_int_equal(check_field(img, len, &cfg, 12, 0, 8), -EINVAL);	  /* lsn 0 */
	assert_int_equal(check_field(img, len, &cfg, 20, 0, 4), -EINVAL);	  /* epoch 0 */
	assert_int_equal(check_field(img, len, &cfg, 24, 1, 8), -ERANGE);	  /* hash_seed */
	assert_int_equal(check_field(img, len, &cfg, 32, 64, 4), -ERANGE);	  /* slots */
	assert_int_equal(check_field(img, len, &cfg, 36, 65, 4), -ERANGE);	  /* > kv_keys */
	assert_int_equal(check_field(img, len, &cfg, 36, info.n_keys - 1, 4), -EINVAL);
	assert_int_equal(check_field(img, len, &cfg, 40, info.n_sessions + 1, 4), -EINVAL);
	assert_int_equal(check_field(img, len, &cfg, 40, 33, 4), -EINVAL);	   /* > slots */
	assert_int_equal(check_field(img, len, &cfg, 44, 0, 2), -EINVAL);	   /* no policy */
	assert_int_equal(check_field(img, len, &cfg, IMG_FIXED, ' ', 1), -EINVAL); /* no parse */
	/* Parses, but is not the canonical text: a tab where format writes a space. */
	assert_int_equal(check_field(img, len, &cfg, IMG_FIXED + 5, '\t', 1), -EINVAL);
	assert_int_equal(check_field(img, len, &cfg, key0, 0, 2), -EINVAL);	  /* key_len 0 */
	assert_int_equal(check_field(img, len, &cfg, key0, 257, 2), -ERANGE);	  /* > key_max */
	assert_int_equal(check_field(img, len, &cfg, key0 + 2, 513, 4), -ERANGE); /* > val_max */
	assert_int_equal(check_field(img, len, &cfg, key0 + 6, 0, 8), -EINVAL);	  /* key lsn 0 */
	assert_int_equal(check_field(img, len, &cfg, key0 + 6, info.lsn + 1, 8), -EINVAL);
	assert_int_equal(check_field(img, len, &cfg, sess, 32, 4), -EINVAL);	 /* slot > mask */
	assert_int_equal(check_field(img, len, &cfg, sess, 0, 4), -EINVAL);	 /* order */
	assert_int_equal(check_field(img, len, &cfg, sess + 4, 0, 8), -EINVAL);	 /* client 0 */
	assert_int_equal(check_field(img, len, &cfg, sess + 20, 0, 8), -EINVAL); /* lsn 0 */
	assert_int_equal(check_field(img, len, &cfg, sess + 20, info.lsn + 1, 8), -EINVAL);
	assert_int_equal(check_field(img, len, &cfg, sess + 32, SL_ST__MAX, 1), -EINVAL);
	free(img);
}

/*
 * A session outside its client's probe window would never be found by apply.c, so
 * the check refuses it. The one session of a one-client image, moved to each of the
 * 32 slots: accepted in the CORE_SESSION_PROBE slots from its home, refused elsewhere.
 */
static void test_session_window(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info;
	struct inode *a;
	uint32_t home, inside = 0;
	uint8_t *img;
	size_t len, sess;

	(void)state;
	img_config(&cfg);
	a = leader_new(&cfg);
	node_write(a, 77, 1, "k", (const uint8_t *)"v", 1, 0);
	node_tick(a);
	len = image_of(a, &img, &info);
	assert_int_equal(info.n_sessions, 1);
	sess = len - 4 - IMG_SESS;
	assert_int_equal(get_le(img + sess + 4, 4), 77);
	home = core_session_home(cfg.hash_seed, 31, 77);
	for (uint32_t slot = 0; slot < 32; slot++) {
		bool in_window = ((slot - home) & 31) < CORE_SESSION_PROBE;

		assert_int_equal(check_field(img, len, &cfg, sess, slot, 4),
				 in_window ? 0 : -EINVAL);
		inside += in_window;
	}
	assert_int_equal(inside, CORE_SESSION_PROBE);
	free(img);
	node_free(a);
}

/*
 * Two pairs of one key pass the check (it has no memory to find them in); loading
 * finds them, refuses the image and leaves the applied state empty.
 */
static void test_duplicate_key(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info;
	struct inode *a, *b;
	uint8_t *img;
	size_t len, k0, k1;

	(void)state;
	img_config(&cfg);
	a = leader_new(&cfg);
	node_write(a, 1, 1, "ka", (const uint8_t *)"1", 1, 0);
	node_write(a, 1, 2, "kb", (const uint8_t *)"2", 1, 1);
	node_tick(a);
	len = image_of(a, &img, &info);
	assert_int_equal(info.n_keys, 2);
	k0 = IMG_FIXED + get_le(img + 44, 2);
	k1 = k0 + 14 + 2 + 1;
	assert_memory_equal(img + k0 + 14, "ka", 2);
	assert_memory_equal(img + k1 + 14, "kb", 2);
	b = node_from_image(&cfg, img, len, info.lsn, &info); /* the undamaged one first ... */
	img[k1 + 15] = 'a';
	reseal(img, len);
	assert_int_equal(sl_core_image_check(img, len, &cfg, &info), 0);
	assert_int_equal(core_image_load(b->c, img, len, &info), -EINVAL);
	assert_true(b->c->applied_lsn == 0); /* ... then it is gone */
	assert_int_equal(core_kv_count(b->c->kv), 0);
	free(img);
	node_free(a);
	node_free(b);
}

/* The longest value among the image's pairs, walking their headers. */
static uint32_t longest_val(const uint8_t *img, const struct sl_image_info *info)
{
	const uint8_t *p = img + IMG_FIXED + get_le(img + 44, 2);
	uint32_t longest = 0;

	for (uint32_t i = 0; i < info->n_keys; i++) {
		uint32_t val_len = get_le(p + 2, 4);

		longest = val_len > longest ? val_len : longest;
		p += 14 + get_le(p, 2) + val_len;
	}
	return longest;
}

/* An image of another cluster or of a core configured otherwise; loading changes nothing. */
static void test_other_config(void **state)
{
	struct sl_core_config cfg, other;
	struct sl_image_info info, before;
	struct inode *b;
	uint8_t *img;
	size_t len;

	(void)state;
	img_config(&cfg);
	len = source_image(&cfg, &img, &before);
	other = cfg;
	other.cluster_id = 8;
	assert_int_equal(sl_core_image_check(img, len, &other, &info), -EXDEV);
	other = cfg;
	other.kv_keys = before.n_keys - 1;
	assert_int_equal(sl_core_image_check(img, len, &other, &info), -ERANGE);
	other.kv_keys = before.n_keys; /* exactly enough */
	assert_int_equal(sl_core_image_check(img, len, &other, &info), 0);
	other = cfg;
	other.dedup_clients = 64; /* 128 slots, not 32 */
	assert_int_equal(sl_core_image_check(img, len, &other, &info), -ERANGE);
	other.dedup_clients = 15; /* the same 32 slots */
	assert_int_equal(sl_core_image_check(img, len, &other, &info), 0);
	other = cfg;
	other.hash_seed ^= 1;
	assert_int_equal(sl_core_image_check(img, len, &other, &info), -ERANGE);
	other = cfg;
	other.limits.val_max = longest_val(img, &before) - 1;
	assert_int_equal(sl_core_image_check(img, len, &other, &info), -ERANGE);
	other.limits.val_max++;
	assert_int_equal(sl_core_image_check(img, len, &other, &info), 0);
	other = cfg;
	other.limits.key_max = 5; /* "key-10" */
	assert_int_equal(sl_core_image_check(img, len, &other, &info), -ERANGE);

	/* Loading checks against the core's own configuration and changes nothing. */
	other = cfg;
	other.hash_seed ^= 1;
	b = leader_new(&other);
	assert_int_equal(core_image_load(b->c, img, len, &info), -ERANGE);
	assert_true(b->c->applied_lsn == 1); /* its own NOOP */
	free(img);
	node_free(b);
}

/* Every test hands records out from the start of the pool. */
static int recs_reset(void **state)
{
	(void)state;
	n_recs = 0;
	return 0;
}

/* ---- reading the pairs without a configuration ------------------------------------ */

/* What sl_image_pairs() showed, compared with the core that wrote the image. */
struct pairs_seen {
	const struct sl_core *src;
	uint32_t n;
	uint32_t stop_at; /* fn returns 7 on this pair (0: never) */
};

static int pair_seen(void *arg, const uint8_t *key, uint16_t key_len, const uint8_t *val,
		     uint32_t val_len, uint64_t lsn)
{
	struct pairs_seen *seen = arg;
	const uint8_t *v;
	uint32_t v_len;
	uint64_t v_lsn;

	assert_int_equal(core_kv_get(seen->src->kv, key, key_len, &v, &v_len, &v_lsn), 0);
	assert_int_equal(v_len, val_len);
	assert_memory_equal(v, val, val_len);
	assert_true(v_lsn == lsn);
	return ++seen->n == seen->stop_at ? 7 : 0;
}

static void test_pairs(void **state)
{
	struct sl_core_config cfg;
	struct sl_image_info info, got;
	struct pairs_seen seen;
	struct inode *a;
	uint8_t *img;
	size_t len;

	(void)state;
	img_config(&cfg);
	a = leader_new(&cfg);
	fill_source(a, test_seed());
	len = image_of(a, &img, &info);
	seen = (struct pairs_seen){ a->c, 0, 0 };
	assert_int_equal(sl_image_pairs(img, len, pair_seen, &seen, &got), 0);
	assert_int_equal(seen.n, info.n_keys);
	assert_true(got.lsn == info.lsn && got.len == len && got.n_keys == info.n_keys);
	seen = (struct pairs_seen){ a->c, 0, 3 };
	assert_int_equal(sl_image_pairs(img, len, pair_seen, &seen, &got), 7);
	assert_int_equal(seen.n, 3);

	/* No configuration to fit: another cluster's image reads as well. */
	put_le(img + 8, 8, 4);
	reseal(img, len);
	assert_int_equal(sl_core_image_check(img, len, &cfg, &got), -EXDEV);
	seen = (struct pairs_seen){ a->c, 0, 0 };
	assert_int_equal(sl_image_pairs(img, len, pair_seen, &seen, &got), 0);
	assert_int_equal(seen.n, info.n_keys);
	/* A damaged one shows no pair at all. */
	img[len / 2] ^= 1;
	seen = (struct pairs_seen){ a->c, 0, 0 };
	assert_int_equal(sl_image_pairs(img, len, pair_seen, &seen, &got), -EINVAL);
	assert_int_equal(seen.n, 0);
	assert_int_equal(sl_image_pairs(img, len - 1, pair_seen, &seen, &got), -EINVAL);
	free(img);
	node_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_round_trip, recs_reset),
		cmocka_unit_test_setup(test_loaded_core_continues, recs_reset),
		cmocka_unit_test_setup(test_write_refusals, recs_reset),
		cmocka_unit_test_setup(test_truncated_or_longer, recs_reset),
		cmocka_unit_test_setup(test_bit_flips, recs_reset),
		cmocka_unit_test_setup(test_field_checks, recs_reset),
		cmocka_unit_test_setup(test_session_window, recs_reset),
		cmocka_unit_test_setup(test_duplicate_key, recs_reset),
		cmocka_unit_test_setup(test_other_config, recs_reset),
		cmocka_unit_test_setup(test_pairs, recs_reset),
	};

	fprintf(stderr, "test_image: SHIPLOG_SEED=%llu\n", (unsigned long long)test_seed());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
