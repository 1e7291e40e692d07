/* State images (image.h): the applied state written, checked and loaded, byte by byte. */
#include <errno.h>
#include <string.h>

#include <shiplog/crc32c.h>

#include "core_internal.h"
#include "image.h"

/* Sizes of the layout in image.h. */
#define IMG_FIXED_LEN	46u /* magic .. policy_len */
#define IMG_KEY_LEN	14u /* key_len, val_len, lsn */
#define IMG_SESSION_LEN 33u /* slot, client_id, seq, lsn, epoch, status */
#define IMG_CRC_LEN	4u

/* ---- little-endian cursors ------------------------------------------------------------ */

/* Writes go where sl_core_image_write() has already made sure there is room. */
struct img_wr {
	uint8_t *p;
};

static void wr_le(struct img_wr *w, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		w->p[i] = (uint8_t)(v >> (8 * i));
	w->p += bytes;
}

static void wr_bytes(struct img_wr *w, const void *src, size_t n)
{
	if (n > 0)
		memcpy(w->p, src, n);
	w->p += n;
}

/*
 * Reads never pass the end: one that would sets bad, yields zeros and leaves nothing
 * to read, so a parser may read a whole group of fields and test bad once.
 */
struct img_rd {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static uint64_t rd_le(struct img_rd *r, unsigned bytes)
{
	uint64_t v = 0;

	if (r->left < bytes) {
		r->bad = true;
		r->left = 0;
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += bytes;
	r->left -= bytes;
	return v;
}

static const uint8_t *rd_bytes(struct img_rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->left < n) {
		r->bad = true;
		r->left = 0;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

/* ---- writing -------------------------------------------------------------------------- */

/* applied_policy is cfg.policy (checked by sl_core_init) or a CONFIG body that parsed. */
static size_t policy_text(const struct sl_policy *p, char text[SL_POLICY_TEXT_MAX])
{
	size_t n = sl_policy_format(p, text, SL_POLICY_TEXT_MAX);

	assert(n > 0 && n < SL_POLICY_TEXT_MAX);
	return n;
}

static uint32_t sessions_used(const struct sl_core *c)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i <= c->session_mask; i++)
		n += c->sessions[i].client_id != 0;
	return n;
}

size_t sl_core_image_size(const struct sl_core *c)
{
	char text[SL_POLICY_TEXT_MAX];
	size_t n = IMG_FIXED_LEN + policy_text(&c->applied_policy, text) + IMG_CRC_LEN;
	uint32_t cursor = 0, val_len;
	uint16_t key_len;

	/* No overflow: every byte counted here is also a byte of the core's own memory. */
	while (core_kv_next(c->kv, &cursor, NULL, &key_len, NULL, &val_len, NULL))
		n += IMG_KEY_LEN + key_len + (size_t)val_len;
	return n + (size_t)sessions_used(c) * IMG_SESSION_LEN;
}

size_t sl_core_image_max(const struct sl_core_config *cfg)
{
	size_t n = IMG_FIXED_LEN + SL_POLICY_TEXT_MAX - 1 + IMG_CRC_LEN;
	size_t entry, keys, sessions;
	uint32_t mask;

	core_sessions_size(cfg->dedup_clients, &mask);
	if (__builtin_add_overflow((size_t)IMG_KEY_LEN + cfg->limits.key_max,
				   (size_t)cfg->limits.val_max, &entry) ||
	    __builtin_mul_overflow(entry, (size_t)cfg->kv_keys, &keys) ||
	    __builtin_mul_overflow((size_t)mask + 1, (size_t)IMG_SESSION_LEN, &sessions) ||
	    __builtin_add_overflow(n, keys, &n) || __builtin_add_overflow(n, sessions, &n))
		return 0;
	return n;
}

static void write_head(const struct sl_core *c, struct img_wr *w, uint32_t epoch, const char *text,
		       size_t text_len)
{
	wr_le(w, SL_IMAGE_MAGIC, 4);
	wr_le(w, SL_IMAGE_VERSION, 2);
	wr_le(w, 0, 2); /* flags */
	wr_le(w, c->cfg.cluster_id, 4);
	wr_le(w, c->applied_lsn, 8);
	wr_le(w, epoch, 4);
	wr_le(w, c->cfg.hash_seed, 8);
	wr_le(w, (uint64_t)c->session_mask + 1, 4);
	wr_le(w, core_kv_count(c->kv), 4);
	wr_le(w, sessions_used(c), 4);
	wr_le(w, text_len, 2);
	wr_bytes(w, text, text_len);
}

/* Keys in the table's slot order; sessions in slot order, which the check insists on. */
static void write_body(const struct sl_core *c, struct img_wr *w)
{
	const uint8_t *key, *val;
	uint32_t cursor = 0, val_len;
	uint16_t key_len;
	uint64_t lsn;

	while (core_kv_next(c->kv, &cursor, &key, &key_len, &val, &val_len, &lsn)) {
		wr_le(w, key_len, 2);
		wr_le(w, val_len, 4);
		wr_le(w, lsn, 8);
		wr_bytes(w, key, key_len);
		wr_bytes(w, val, val_len);
	}
	for (uint32_t i = 0; i <= c->session_mask; i++) {
		const struct core_session *s = &c->sessions[i];

		if (s->client_id == 0)
			continue;
		wr_le(w, i, 4);
		wr_le(w, s->client_id, 8);
		wr_le(w, s->seq, 8);
		wr_le(w, s->lsn, 8);
		wr_le(w, s->epoch, 4);
		wr_le(w, s->status, 1);
	}
}

int64_t sl_core_image_write(const struct sl_core *c, void *buf, size_t cap,
			    struct sl_image_info *info)
{
	char text[SL_POLICY_TEXT_MAX];
	uint32_t epoch = core_epoch_at(c, c->applied_lsn);
	struct img_wr w = { buf };
	struct sl_image_info again;
	size_t text_len, len;

	if (c->applied_lsn == 0 || epoch == 0)
		return -EAGAIN;
	len = sl_core_image_size(c);
	if (cap < len)
		return -ENOSPC;
	text_len = policy_text(&c->applied_policy, text);
	write_head(c, &w, epoch, text, text_len);
	write_body(c, &w);
	assert((size_t)(w.p - (uint8_t *)buf) == len - IMG_CRC_LEN);
	wr_le(&w, sl_crc32c(0, buf, len - IMG_CRC_LEN), 4);
	*info = (struct sl_image_info){ .lsn = c->applied_lsn,
					.epoch = epoch,
					.cluster_id = c->cfg.cluster_id,
					.n_keys = core_kv_count(c->kv),
					.n_sessions = sessions_used(c),
					.len = len,
					.policy = c->applied_policy };
	/* What leaves the core passes the check every receiver makes, checked right after
	 * writing: a second pass over the image, paid only where assertions are compiled
	 * (shiplogd's builds: it is part of the pause an image costs). */
	assert(sl_core_image_check(buf, len, &c->cfg, &again) == 0 && again.len == len);
	(void)again;
	return (int64_t)len;
}

/* ---- checking ------------------------------------------------------------------------- */

/* The limits of an image read without a configuration: only what the layout allows. */
static const struct sl_limits img_any_limits = { UINT16_MAX, UINT32_MAX };

/* What the header says besides sl_image_info: the session table it was written for. */
struct img_head {
	struct sl_image_info info;
	uint64_t hash_seed;
	uint32_t mask; /* session_slots - 1 */
};

/* Canonical text only: one policy has one encoding, so one state has one image. */
static bool policy_read(const uint8_t *text, size_t len, struct sl_policy *p)
{
	char canon[SL_POLICY_TEXT_MAX];

	if (len == 0 || len >= SL_POLICY_TEXT_MAX ||
	    sl_policy_parse((const char *)text, len, p, NULL, 0) != 0)
		return false;
	return sl_policy_format(p, canon, sizeof(canon)) == len && memcmp(canon, text, len) == 0;
}

/* A table core_sessions_size() can give: a power of two, CORE_SESSION_PROBE .. 2^30. */
static bool slots_valid(uint32_t slots)
{
	return slots >= CORE_SESSION_PROBE && slots <= (1u << 30) && (slots & (slots - 1)) == 0;
}

/*
 * The fixed fields and the policy, leaving r at the first key: -EINVAL for what no
 * writer writes; then, with a configuration, -EXDEV and -ERANGE for what does not fit it.
 */
static int read_head(struct img_rd *r, const struct sl_core_config *cfg, struct img_head *h)
{
	uint32_t magic = (uint32_t)rd_le(r, 4), version = (uint32_t)rd_le(r, 2);
	uint32_t flags = (uint32_t)rd_le(r, 2), slots, mask;
	struct sl_image_info *in = &h->info;
	const uint8_t *text;
	size_t text_len;
	uint64_t need;

	in->cluster_id = (uint32_t)rd_le(r, 4);
	in->lsn = rd_le(r, 8);
	in->epoch = (uint32_t)rd_le(r, 4);
	h->hash_seed = rd_le(r, 8);
	slots = (uint32_t)rd_le(r, 4);
	in->n_keys = (uint32_t)rd_le(r, 4);
	in->n_sessions = (uint32_t)rd_le(r, 4);
	text_len = (size_t)rd_le(r, 2);
	text = rd_bytes(r, text_len);
	if (r->bad || magic != SL_IMAGE_MAGIC || version != SL_IMAGE_VERSION || flags != 0 ||
	    in->lsn == 0 || in->epoch == 0 || !slots_valid(slots) || in->n_sessions > slots ||
	    !policy_read(text, text_len, &in->policy))
		return -EINVAL;
	h->mask = slots - 1;
	/* At most 2^32 of each: the products fit in 64 bits, whatever size_t is. */
	need = (uint64_t)in->n_keys * IMG_KEY_LEN + (uint64_t)in->n_sessions * IMG_SESSION_LEN;
	if (need > r->left)
		return -EINVAL;
	if (cfg == NULL)
		return 0;
	if (in->cluster_id != cfg->cluster_id)
		return -EXDEV;
	core_sessions_size(cfg->dedup_clients, &mask);
	if (h->hash_seed != cfg->hash_seed || h->mask != mask || in->n_keys > cfg->kv_keys)
		return -ERANGE;
	return 0;
}

struct img_key {
	const uint8_t *key, *val;
	uint16_t key_len;
	uint32_t val_len;
	uint64_t lsn;
};

/* Every pair was written by a record at or below the image's LSN. */
static int read_key(struct img_rd *r, const struct sl_limits *lim, uint64_t upto, struct img_key *k)
{
	k->key_len = (uint16_t)rd_le(r, 2);
	k->val_len = (uint32_t)rd_le(r, 4);
	k->lsn = rd_le(r, 8);
	if (r->bad || k->key_len == 0 || k->lsn == 0 || k->lsn > upto)
		return -EINVAL;
	if (k->key_len > lim->key_max || k->val_len > lim->val_max)
		return -ERANGE;
	k->key = rd_bytes(r, k->key_len);
	k->val = rd_bytes(r, k->val_len);
	return r->bad ? -EINVAL : 0;
}

/*
 * A session lies where apply.c's probe for its client finds it, after the previous
 * one (*slot holds its slot + 1, 0 before the first): ascending slots are unique
 * slots, checked without memory.
 */
static int read_session(struct img_rd *r, const struct img_head *h, uint32_t *slot,
			struct core_session *s)
{
	uint32_t at = (uint32_t)rd_le(r, 4);

	s->client_id = rd_le(r, 8);
	s->seq = rd_le(r, 8);
	s->lsn = rd_le(r, 8);
	s->epoch = (uint32_t)rd_le(r, 4);
	s->status = (uint8_t)rd_le(r, 1);
	if (r->bad || at > h->mask || at < *slot || s->client_id == 0 || s->lsn == 0 ||
	    s->lsn > h->info.lsn || s->status >= SL_ST__MAX)
		return -EINVAL;
	if (((at - core_session_home(h->hash_seed, h->mask, s->client_id)) & h->mask) >=
	    CORE_SESSION_PROBE)
		return -EINVAL;
	*slot = at + 1;
	return 0;
}

/* Opens an image whose CRC is right: r covers what the CRC covers. */
static int img_open(const uint8_t *b, size_t len, struct img_rd *r)
{
	struct img_rd crc;

	if (b == NULL || len < IMG_FIXED_LEN + IMG_CRC_LEN)
		return -EINVAL;
	*r = (struct img_rd){ b, len - IMG_CRC_LEN, false };
	crc = (struct img_rd){ b + r->left, IMG_CRC_LEN, false };
	return rd_le(&crc, 4) == sl_crc32c(0, b, r->left) ? 0 : -EINVAL;
}

/*
 * Every byte, against cfg or (NULL) against the image's own header alone. The CRC
 * first: a field check is only worth its errno on bytes that were written.
 */
static int img_scan(const uint8_t *b, size_t len, const struct sl_core_config *cfg,
		    struct img_head *h)
{
	const struct sl_limits *lim = cfg ? &cfg->limits : &img_any_limits;
	struct core_session s;
	struct img_rd r;
	struct img_key k;
	uint32_t slot = 0;
	int rc = img_open(b, len, &r);

	rc = rc ? rc : read_head(&r, cfg, h);
	for (uint32_t i = 0; rc == 0 && i < h->info.n_keys; i++)
		rc = read_key(&r, lim, h->info.lsn, &k);
	for (uint32_t i = 0; rc == 0 && i < h->info.n_sessions; i++)
		rc = read_session(&r, h, &slot, &s);
	if (rc == 0 && r.left != 0)
		rc = -EINVAL; /* bytes no count accounts for */
	h->info.len = len;
	return rc;
}

int sl_core_image_check(const void *buf, size_t len, const struct sl_core_config *cfg,
			struct sl_image_info *info)
{
	struct img_head h;
	int rc = img_scan(buf, len, cfg, &h);

	if (rc == 0)
		*info = h.info;
	return rc;
}

int sl_image_pairs(const void *buf, size_t len,
		   int (*fn)(void *arg, const uint8_t *key, uint16_t key_len, const uint8_t *val,
			     uint32_t val_len, uint64_t lsn),
		   void *arg, struct sl_image_info *info)
{
	struct img_head h;
	struct img_rd r;
	struct img_key k;
	int rc = img_scan(buf, len, NULL, &h);

	if (rc != 0)
		return rc;
	*info = h.info;
	/* A second pass over what the scan found whole: fn never sees a damaged image. */
	(void)img_open(buf, len, &r);
	(void)read_head(&r, NULL, &h);
	for (uint32_t i = 0; rc == 0 && i < h.info.n_keys; i++) {
		(void)read_key(&r, &img_any_limits, h.info.lsn, &k);
		rc = fn(arg, k.key, k.key_len, k.val, k.val_len, k.lsn);
	}
	return rc;
}

/* ---- loading -------------------------------------------------------------------------- */

/*
 * Duplicate keys pass sl_core_image_check(), which has no memory to find them in;
 * the table finds them here, as a count short of n_keys. By then the applied state is
 * gone, so it is left empty, as core_apply_reset() leaves it.
 */
int core_image_load(struct sl_core *c, const void *buf, size_t len, struct sl_image_info *info)
{
	struct core_session s;
	struct img_head h;
	struct img_rd r;
	struct img_key k;
	uint32_t slot = 0;
	int rc = img_scan(buf, len, &c->cfg, &h);

	if (rc != 0)
		return rc;
	core_apply_reset(c);
	(void)img_open(buf, len, &r); /* scanned whole above */
	rc = read_head(&r, &c->cfg, &h);
	for (uint32_t i = 0; rc == 0 && i < h.info.n_keys; i++) {
		rc = read_key(&r, &c->cfg.limits, h.info.lsn, &k);
		/* Checked: within the limits, and no more pairs than the table holds. */
		rc = rc ? rc : core_kv_put(c->kv, k.key, k.key_len, k.val, k.val_len, k.lsn);
	}
	assert(rc == 0 && h.mask == c->session_mask);
	if (core_kv_count(c->kv) != h.info.n_keys) {
		core_apply_reset(c);
		return -EINVAL;
	}
	for (uint32_t i = 0; rc == 0 && i < h.info.n_sessions; i++) {
		rc = read_session(&r, &h, &slot, &s);
		if (rc == 0)
			c->sessions[slot - 1] = s; /* slot + 1, as read_session keeps it */
	}
	assert(rc == 0 && r.left == 0);
	c->applied_lsn = h.info.lsn;
	c->applied_policy = h.info.policy;
	if (c->role != SL_ROLE_LEADER)
		c->policy = h.info.policy; /* a leader's is its last appended CONFIG's */
	*info = h.info;
	return 0;
}
