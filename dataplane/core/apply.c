/* Applying committed records to the key-value state; client sessions; reads. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "core_internal.h"

/* ---- client sessions (deduplication by client_id, seq) ------------------------------- */

size_t core_sessions_size(uint32_t clients, uint32_t *mask)
{
	uint32_t n = CORE_SESSION_PROBE;

	while (n < 2 * clients && n < (1u << 30))
		n <<= 1;
	*mask = n - 1;
	return (size_t)n * sizeof(struct core_session);
}

static uint32_t session_hash(const struct sl_core *c, uint64_t client_id)
{
	return core_session_home(c->cfg.hash_seed, c->session_mask, client_id);
}

static struct core_session *session_find(struct sl_core *c, uint64_t client_id)
{
	uint32_t h = session_hash(c, client_id);

	for (uint32_t i = 0; i < CORE_SESSION_PROBE; i++) {
		struct core_session *s = &c->sessions[(h + i) & c->session_mask];

		if (s->client_id == client_id)
			return s;
	}
	return NULL;
}

/* Whether the session of client_id already holds seq (a retry of an applied write). */
bool core_session_holds(struct sl_core *c, uint64_t client_id, uint64_t seq)
{
	const struct core_session *s = session_find(c, client_id);

	return s && seq <= s->seq;
}

/*
 * A free slot in the probe window, or the one whose last write is oldest. Every replica
 * applies the same records in the same order, so every replica evicts the same session.
 */
static struct core_session *session_slot(struct sl_core *c, uint64_t client_id)
{
	uint32_t h = session_hash(c, client_id);
	struct core_session *victim = NULL;

	for (uint32_t i = 0; i < CORE_SESSION_PROBE; i++) {
		struct core_session *s = &c->sessions[(h + i) & c->session_mask];

		if (s->client_id == 0)
			return s;
		if (!victim || s->lsn < victim->lsn)
			victim = s;
	}
	return victim;
}

/* ---- replies ------------------------------------------------------------------------ */

void core_reply(struct sl_core *c, struct sl_actions *out, uint64_t ctx,
		const struct sl_client_req *req, uint8_t status, uint64_t lsn, uint32_t epoch)
{
	struct sl_action *a = core_act(out, SL_ACT_REPLY);

	if (!a)
		return;
	a->u.reply.ctx = ctx;
	a->u.reply.resp = (struct sl_client_resp){ .client_id = req->client_id,
						   .seq = req->seq,
						   .lsn = lsn,
						   .epoch = epoch,
						   .status = status,
						   .op = req->op,
						   .leader_hint = c->leader };
}

/* ---- apply -------------------------------------------------------------------------- */

struct apply_result {
	uint8_t status;
	uint64_t lsn; /* commit token: the write's own, or the original's for a retry */
	uint32_t epoch;
	bool kv_full; /* this record's PUT found the table full */
};

static struct apply_result apply_write(struct sl_core *c, const struct sl_record_view *r)
{
	struct apply_result res = { SL_ST_OK, r->hdr.lsn, r->hdr.epoch, false };
	struct core_session *s = NULL;
	int rc;

	if (r->hdr.flags & SL_REC_F_ORIGIN) {
		s = session_find(c, r->origin.client_id);
		if (s && r->origin.seq <= s->seq) {
			/* A retry: no second effect, and the original answer. */
			c->stats.client_dup++;
			if (r->origin.seq == s->seq)
				return (struct apply_result){ s->status, s->lsn, s->epoch, false };
			return (struct apply_result){ SL_ST_OK, 0, 0, false };
		}
	}
	if (r->hdr.type == SL_REC_PUT)
		rc = core_kv_put(c->kv, r->key, r->hdr.key_len, r->val, r->hdr.val_len, r->hdr.lsn);
	else
		rc = core_kv_del(c->kv, r->key, r->hdr.key_len);
	if (rc == -ENOSPC) {
		/*
		 * The record is committed: its answer must be final, or the client's
		 * retry, deduplicated against the session below, would hear "retry" for
		 * ever. Every replica stores the same answer.
		 */
		c->stats.kv_full++;
		res.status = SL_ST_FULL;
		res.kv_full = true;
	}
	if (r->hdr.flags & SL_REC_F_ORIGIN) {
		if (!s)
			s = session_slot(c, r->origin.client_id);
		*s = (struct core_session){ .client_id = r->origin.client_id,
					    .seq = r->origin.seq,
					    .lsn = r->hdr.lsn,
					    .epoch = r->hdr.epoch,
					    .status = res.status };
	}
	return res;
}

static struct apply_result apply_record(struct sl_core *c, const struct sl_record_view *r)
{
	struct sl_policy p;

	switch (r->hdr.type) {
	case SL_REC_PUT:
	case SL_REC_DEL:
		return apply_write(c, r);
	case SL_REC_CONFIG:
		if (sl_policy_parse((const char *)r->val, r->hdr.val_len, &p, NULL, 0) == 0) {
			c->applied_policy = p;
			if (c->role != SL_ROLE_LEADER)
				c->policy = p;
		}
		break;
	}
	return (struct apply_result){ SL_ST_OK, r->hdr.lsn, r->hdr.epoch, false };
}

/* A record from outside the ring (a WAL read): parsed with every bound checked. */
static bool record_view(const struct sl_rec_ref *ref, struct sl_record_view *r)
{
	static const struct sl_limits any = { UINT16_MAX, UINT32_MAX };

	return sl_record_decode(ref->data, ref->len, &any, 0, r) == SL_OK;
}

/*
 * A ring entry: validated when it entered the ring (frame decode, the leader's check
 * of a client's record, or written by the core itself), so only the layout is read.
 */
static void entry_view(const struct core_entry *e, struct sl_record_view *r)
{
	uint32_t off = SL_REC_HDR_LEN;

	sl_record_hdr_read(e->ref.data, &r->hdr);
	if (r->hdr.flags & SL_REC_F_ORIGIN) {
		memcpy(&r->origin.client_id, e->ref.data + off, 8);
		memcpy(&r->origin.seq, e->ref.data + off + 8, 8);
		r->origin.client_id = le64toh(r->origin.client_id);
		r->origin.seq = le64toh(r->origin.seq);
		off += SL_REC_ORIGIN_LEN;
	} else {
		r->origin = (struct sl_record_origin){ 0, 0 };
	}
	r->raw = e->ref.data;
	r->key = e->ref.data + off;
	r->val = r->key + r->hdr.key_len;
	r->total_len = e->ref.len;
	assert(off + r->hdr.key_len + r->hdr.val_len <= e->ref.len);
}

static void apply_one(struct sl_core *c, struct core_entry *e, const struct sl_record_view *r,
		      struct sl_actions *out)
{
	struct apply_result res = apply_record(c, r);

	assert(r->hdr.lsn == c->applied_lsn + 1);
	c->applied_lsn = r->hdr.lsn;
	c->stats.records_applied++;
	if (res.kv_full)
		core_notify(out, SL_NOTE_KV_FULL, r->hdr.lsn, 0);
	if (e && e->has_ctx) {
		/* The leader answers once the policy's level holds (core_leader_reply). */
		e->status = res.status;
		e->tok_lsn = res.lsn;
		e->tok_epoch = res.epoch;
	}
}

uint64_t core_apply_target(const struct sl_core *c)
{
	if (c->role == SL_ROLE_LEADER)
		return c->commit_lsn;
	return c->commit_lsn < c->flushed_lsn ? c->commit_lsn : c->flushed_lsn;
}

/* Records below the ring come back from the WAL (restart, or after a deep truncation). */
static void apply_request_wal(struct sl_core *c, uint64_t upto, struct sl_actions *out)
{
	uint64_t to = c->ring_lo - 1;
	struct sl_action *a;

	if (c->applied_lsn < c->snap_lsn) {
		core_snap_reload(c, out); /* the WAL starts after it */
		return;
	}
	if (c->apply_read_ns != 0 && c->now_ns - c->apply_read_ns < c->cfg.rto_max_ns)
		return;
	if (to > upto)
		to = upto;
	if (to - c->applied_lsn > c->cfg.batch_bytes / SL_REC_HDR_LEN)
		to = c->applied_lsn + c->cfg.batch_bytes / SL_REC_HDR_LEN;
	a = core_act(out, SL_ACT_WAL_READ);
	if (!a)
		return;
	a->u.wal_read.node = 0;
	a->u.wal_read.from_lsn = c->applied_lsn + 1;
	a->u.wal_read.to_lsn = to;
	c->apply_read_ns = c->now_ns ? c->now_ns : 1;
	c->stats.wal_reads++;
}

void core_apply(struct sl_core *c, uint64_t upto, struct sl_actions *out)
{
	uint64_t start = c->applied_lsn;

	if (upto > c->last_lsn)
		upto = c->last_lsn;
	while (c->applied_lsn < upto) {
		struct core_entry *e = core_entry(c, c->applied_lsn + 1);
		struct sl_record_view r;

		if (!e) {
			apply_request_wal(c, upto, out);
			break;
		}
		entry_view(e, &r);
		apply_one(c, e, &r, out);
	}
	if (c->applied_lsn != start)
		c->ack_due = true;
}

void core_apply_from_wal(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	uint64_t target = core_apply_target(c);

	c->apply_read_ns = 0;
	for (uint32_t i = 0; i < ev->u.wal.n_recs; i++) {
		struct sl_record_view r;

		if (record_view(&ev->u.wal.recs[i], &r) && r.hdr.lsn == c->applied_lsn + 1 &&
		    r.hdr.lsn <= target && r.hdr.lsn < c->ring_lo)
			apply_one(c, NULL, &r, out);
		core_free(out, ev->u.wal.recs[i].handle);
	}
	/* Whatever remains comes from the ring or from the next read. */
	core_apply(c, target, out);
}

void core_apply_reset(struct sl_core *c)
{
	core_kv_reset(c->kv);
	memset(c->sessions, 0, (size_t)(c->session_mask + 1) * sizeof(struct core_session));
	c->applied_lsn = 0;
	c->apply_read_ns = 0;
	c->applied_policy = c->cfg.policy;
	if (c->role != SL_ROLE_LEADER)
		c->policy = c->cfg.policy;
}

/* ---- reads (DESIGN.md §7) ----------------------------------------------------------- */

static void read_reply(struct sl_core *c, struct sl_actions *out, uint64_t ctx,
		       const struct sl_client_req *req, const uint8_t *key)
{
	const uint8_t *val;
	uint32_t val_len;
	uint64_t lsn;
	struct sl_action *a;

	if (core_kv_get(c->kv, key, req->key_len, &val, &val_len, &lsn) != 0) {
		core_reply(c, out, ctx, req, SL_ST_NOT_FOUND, c->applied_lsn, c->epoch);
		return;
	}
	core_reply(c, out, ctx, req, SL_ST_OK, c->applied_lsn, c->epoch);
	a = &out->act[out->n_act - 1];
	a->u.reply.resp.val_len = val_len;
	a->u.reply.val = val;
}

void core_client_read(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	const struct sl_client_req *req = &ev->u.client.req;

	if (req->min_lsn <= c->applied_lsn) {
		read_reply(c, out, ev->u.client.ctx, req, ev->u.client.key);
		return;
	}
	for (uint32_t i = 0; i < c->cfg.pending_reads; i++) {
		struct core_read *r = &c->reads[i];

		if (r->used)
			continue;
		c->n_reads++;
		*r = (struct core_read){ .ctx = ev->u.client.ctx,
					 .client_id = req->client_id,
					 .seq = req->seq,
					 .min_lsn = req->min_lsn,
					 .deadline_ns = c->now_ns + c->cfg.read_wait_ns,
					 .key_len = req->key_len,
					 .used = true };
		memcpy(c->read_keys + (size_t)i * c->cfg.limits.key_max, ev->u.client.key,
		       req->key_len);
		return;
	}
	c->stats.client_busy++;
	core_reply(c, out, ev->u.client.ctx, req, SL_ST_BUSY, c->applied_lsn, c->epoch);
}

/*
 * Parked reads: answered once applied reaches min_lsn, STALE at their deadline. Called
 * last in a step: a reply points into the table, which must not change before the
 * caller has sent it.
 */
void core_reads_answer(struct sl_core *c, struct sl_actions *out)
{
	for (uint32_t i = 0; i < c->cfg.pending_reads && c->n_reads > 0; i++) {
		struct core_read *r = &c->reads[i];
		struct sl_client_req req;

		if (!r->used)
			continue;
		req = (struct sl_client_req){ .client_id = r->client_id,
					      .seq = r->seq,
					      .min_lsn = r->min_lsn,
					      .op = SL_OP_GET,
					      .key_len = r->key_len };
		if (r->min_lsn <= c->applied_lsn) {
			read_reply(c, out, r->ctx, &req,
				   c->read_keys + (size_t)i * c->cfg.limits.key_max);
			r->used = false;
			c->n_reads--;
		} else if (c->now_ns >= r->deadline_ns) {
			c->stats.reads_stale++;
			core_reply(c, out, r->ctx, &req, SL_ST_STALE, c->applied_lsn, c->epoch);
			r->used = false;
			c->n_reads--;
		}
	}
}
