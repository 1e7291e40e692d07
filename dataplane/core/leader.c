/* Leader: sequencing, APPEND batches per follower, ACKs, retransmission, commit policy. */
#include <string.h>

#include "core_internal.h"

struct core_peer *core_peer_find(struct sl_core *c, uint16_t node)
{
	for (unsigned i = 0; i < c->n_peers; i++)
		if (c->peers[i].id == node)
			return &c->peers[i];
	return NULL;
}

uint64_t core_peer_level_lsn(const struct core_peer *p, uint8_t level)
{
	switch (level) {
	case SL_LEVEL_RECEIVED:
		return p->received_lsn;
	case SL_LEVEL_APPLIED:
		return p->applied_lsn;
	}
	return p->flushed_lsn;
}

/* Appends a record the core writes itself (NOOP, CONFIG) from its slab. */
static bool leader_append_own(struct sl_core *c, struct sl_actions *out, uint8_t type,
			      const char *val, uint32_t val_len)
{
	struct sl_record_desc d = { .lsn = c->last_lsn + 1,
				    .epoch = c->epoch,
				    .type = type,
				    .val = val,
				    .val_len = val_len };
	struct sl_rec_ref ref;
	size_t n;

	if (!core_ring_make_room(c, out))
		return false;
	if (!core_slab_alloc(c, &ref))
		return false;
	n = sl_record_encode(ref.data, ref.len, &d);
	assert(n > 0);
	ref.len = (uint32_t)n;
	core_ring_push(c, &ref, d.lsn, d.epoch, type);
	return true;
}

/* The NOOP that opens an epoch: commit counts no older record until it commits. */
static void leader_try_noop(struct sl_core *c, struct sl_actions *out)
{
	if (!c->noop_pending || !leader_append_own(c, out, SL_REC_NOOP, NULL, 0))
		return;
	c->noop_pending = false;
	c->epoch_start_lsn = c->last_lsn;
}

/*
 * A new leader follows the newest CONFIG in its log, committed or not (as Raft does with
 * configurations): the records it is about to commit were written under that policy.
 */
static void leader_adopt_log_policy(struct sl_core *c)
{
	static const struct sl_limits any = { UINT16_MAX, UINT32_MAX };

	c->policy = c->applied_policy;
	for (uint64_t lsn = c->last_lsn; lsn > c->applied_lsn; lsn--) {
		const struct core_entry *e = core_entry(c, lsn);
		struct sl_record_view r;
		struct sl_policy p;

		if (!e)
			break;
		if (e->type != SL_REC_CONFIG ||
		    sl_record_decode(e->ref.data, e->ref.len, &any, 0, &r) != SL_OK)
			continue;
		if (sl_policy_parse((const char *)r.val, r.hdr.val_len, &p, NULL, 0) == 0)
			c->policy = p;
		break;
	}
}

/* A follower whose position the leader does not know yet: probed from our end. */
void core_leader_peer_reset(struct sl_core *c, struct core_peer *p)
{
	*p = (struct core_peer){ .id = p->id,
				 .learner = p->learner,
				 .next_lsn = c->last_lsn + 1,
				 .probe_lsn = c->last_lsn + 1,
				 .rto_ns = c->cfg.rto_max_ns / 4 > c->cfg.rto_min_ns
						   ? c->cfg.rto_max_ns / 4
						   : c->cfg.rto_min_ns,
				 .progress_ns = c->now_ns };
}

void core_leader_start(struct sl_core *c, struct sl_actions *out)
{
	for (unsigned i = 0; i < c->n_peers; i++)
		core_leader_peer_reset(c, &c->peers[i]);
	leader_adopt_log_policy(c);
	c->degraded = false;
	c->replied_lsn = c->applied_lsn;
	c->timeout_lsn = c->last_lsn;  /* older records have no client here */
	c->lease_renew_ns = c->now_ns; /* the lease clock starts at PROMOTE */
	c->noop_pending = true;
	c->epoch_start_lsn = UINT64_MAX;
	leader_try_noop(c, out);
}

/*
 * A PUT of a new key while the table is full would commit with no effect: it is refused
 * before it is sequenced (BUSY: nothing enters the log, a retry may find room). Not a
 * retry of a write its session already holds, which must get its original answer. Writes
 * still in the log can fill the table after this check; apply answers those with the
 * final SL_ST_FULL.
 */
static bool leader_kv_refuses(struct sl_core *c, const struct sl_record_view *r)
{
	if (r->hdr.type != SL_REC_PUT || core_kv_count(c->kv) < c->cfg.kv_keys)
		return false;
	if (core_kv_get(c->kv, r->key, r->hdr.key_len, NULL, NULL, NULL) == 0)
		return false;
	return !core_session_holds(c, r->origin.client_id, r->origin.seq);
}

/* Refuses a client's write before sequencing it: nothing of it enters the log. */
static void leader_refuse(struct sl_core *c, const struct sl_event *ev, uint8_t status,
			  struct sl_actions *out)
{
	core_reply(c, out, ev->u.client.ctx, &ev->u.client.req, status, 0, 0);
	core_free(out, ev->u.client.rec.handle);
}

void core_leader_client_write(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	const struct sl_client_req *req = &ev->u.client.req;
	const struct sl_rec_ref *ref = &ev->u.client.rec;
	struct sl_limits lim = c->cfg.limits;
	struct sl_record_view r;
	struct core_entry *e;

	if (sl_record_decode(ref->data, ref->len, &lim, 0, &r) != SL_OK ||
	    !(r.hdr.flags & SL_REC_F_ORIGIN) || r.origin.client_id != req->client_id ||
	    r.origin.seq != req->seq ||
	    r.hdr.type != (req->op == SL_OP_PUT ? SL_REC_PUT : SL_REC_DEL)) {
		leader_refuse(c, ev, SL_ST_BAD_REQUEST, out);
		return;
	}
	/* Switchover (SL_CTL_PAUSE): what was taken replicates and commits; nothing new. */
	if (c->paused && !core_paused(c, c->now_ns))
		c->paused = false;
	if (c->paused || leader_kv_refuses(c, &r) || !core_ring_make_room(c, out)) {
		c->stats.client_busy++;
		leader_refuse(c, ev, SL_ST_BUSY, out);
		return;
	}
	sl_record_stamp(ref->data, c->last_lsn + 1, c->epoch);
	core_ring_push(c, ref, c->last_lsn + 1, c->epoch, r.hdr.type);
	e = core_entry(c, c->last_lsn);
	e->ctx = ev->u.client.ctx;
	e->client_id = req->client_id;
	e->seq = req->seq;
	e->has_ctx = 1;
}

/* The request a ring entry answers, from what the leader kept of it. */
static struct sl_client_req entry_req(const struct core_entry *e)
{
	return (struct sl_client_req){ .client_id = e->client_id,
				       .seq = e->seq,
				       .op = e->type == SL_REC_PUT ? SL_OP_PUT : SL_OP_DEL };
}

/* Clients waiting on a leader that steps down learn it; their retry is deduplicated. */
void core_leader_abandon_clients(struct sl_core *c, struct sl_actions *out)
{
	for (uint64_t lsn = c->replied_lsn + 1; lsn <= c->last_lsn; lsn++) {
		struct core_entry *e = core_entry(c, lsn);
		struct sl_client_req req;

		if (!e || !e->has_ctx)
			continue;
		req = entry_req(e);
		core_reply(c, out, e->ctx, &req, SL_ST_NOT_LEADER, 0, 0);
		e->has_ctx = 0;
	}
}

void core_leader_set_policy(struct sl_core *c, const struct sl_policy *p, struct sl_actions *out)
{
	char text[SL_POLICY_TEXT_MAX];
	size_t n;

	if (!sl_policy_valid(p))
		return;
	n = sl_policy_format(p, text, sizeof(text));
	if (n == 0 || !leader_append_own(c, out, SL_REC_CONFIG, text, (uint32_t)n))
		return;
	/* A leader follows its newest CONFIG at once: the record commits under it. */
	c->policy = *p;
	c->degraded = false;
}

/* RFC 6298 smoothing in integer nanoseconds. */
static void peer_rtt_sample(struct sl_core *c, struct core_peer *p, uint64_t echo_ns)
{
	uint64_t rtt, rto;

	if (echo_ns == 0 || echo_ns > c->now_ns)
		return;
	rtt = c->now_ns - echo_ns;
	if (p->srtt_ns == 0) {
		p->srtt_ns = rtt;
		p->rttvar_ns = rtt / 2;
	} else {
		uint64_t d = rtt > p->srtt_ns ? rtt - p->srtt_ns : p->srtt_ns - rtt;

		p->rttvar_ns = (3 * p->rttvar_ns + d) / 4;
		p->srtt_ns = (7 * p->srtt_ns + rtt) / 8;
	}
	rto = p->srtt_ns + 4 * p->rttvar_ns;
	if (rto < c->cfg.rto_min_ns)
		rto = c->cfg.rto_min_ns;
	if (rto > c->cfg.rto_max_ns)
		rto = c->cfg.rto_max_ns;
	p->rto_ns = rto;
}

static void advance(uint64_t *field, uint64_t v, uint64_t cap)
{
	v = min_u64(v, cap);
	if (v > *field)
		*field = v;
}

void core_leader_on_ack(struct sl_core *c, uint16_t src, const struct sl_ack *ack,
			struct sl_actions *out)
{
	struct core_peer *p = core_peer_find(c, src);

	if (!p) {
		c->stats.foreign_frames++;
		return;
	}
	if (min_u64(ack->received_lsn, c->last_lsn) > p->received_lsn)
		p->progress_ns = c->now_ns;
	advance(&p->received_lsn, ack->received_lsn, c->last_lsn);
	advance(&p->flushed_lsn, ack->flushed_lsn, p->received_lsn);
	advance(&p->applied_lsn, ack->applied_lsn, p->flushed_lsn);
	if (p->next_lsn <= p->received_lsn)
		p->next_lsn = p->received_lsn + 1;
	p->last_ack_ns = c->now_ns;
	peer_rtt_sample(c, p, ack->echo_ts_ns);
	core_snap_done(p, p->received_lsn);
	core_leader_commit(c, out);
}

/*
 * A follower that cannot take an APPEND says where its log stands. GAP: it is shorter;
 * resume from its end. MISMATCH: it holds records of another epoch; resume after the
 * last LSN our history says we share (the end of its last epoch in our log).
 */
void core_leader_on_nack(struct sl_core *c, uint16_t src, const struct sl_nack *nack,
			 struct sl_actions *out)
{
	struct core_peer *p = core_peer_find(c, src);
	uint64_t next;

	(void)out;
	if (!p) {
		c->stats.foreign_frames++;
		return;
	}
	if (nack->reason == SL_NACK_GAP)
		next = nack->expected_lsn;
	else
		next = min_u64(core_epoch_end(c, nack->last_epoch), nack->last_lsn) + 1;
	next = min_u64(next, c->last_lsn + 1);
	if (next == 0)
		next = 1; /* a follower's log starts at LSN 1 whatever the frame says */
	/*
	 * The follower's word about its log beats what it acknowledged earlier: a node
	 * that restarted may have lost records it had only received (level "received").
	 */
	if (p->received_lsn >= next) {
		p->received_lsn = next - 1;
		p->flushed_lsn = min_u64(p->flushed_lsn, next - 1);
		p->applied_lsn = min_u64(p->applied_lsn, next - 1);
	} else if (next >= p->next_lsn) {
		return; /* already resending from there or earlier */
	} else if (p->nack_ns != 0 && next >= p->probe_lsn && c->now_ns - p->nack_ns < p->rto_ns) {
		/*
		 * Every frame of a burst that followed a gap brings its own NACK: the first
		 * rewound next_lsn, and while that retransmission is younger than an RTO
		 * the rest ask for what is already on its way. Rewinding again on each
		 * would resend the window once per NACK (a storm that feeds itself).
		 */
		c->stats.nacks_ignored++;
		return;
	}
	p->next_lsn = next;
	p->probe_lsn = next;
	p->nack_ns = c->now_ns;
	p->progress_ns = c->now_ns;
	p->last_ack_ns = c->now_ns;
}

/*
 * The record before the first one in flight: the last one acknowledged, or where we were
 * told to resume (Raft's nextIndex). A follower whose position is not known yet is probed
 * from our end, never from LSN 1: it answers with a NACK if its log is shorter or differs.
 */
static uint64_t peer_base(const struct core_peer *p)
{
	return p->received_lsn > p->probe_lsn - 1 ? p->received_lsn : p->probe_lsn - 1;
}

/* Emits one APPEND of refs[0..n) (records prev_lsn+1 ...) to p. */
static void leader_send_append(struct sl_core *c, struct core_peer *p, uint64_t prev_lsn,
			       const struct sl_rec_ref *refs, uint32_t n, struct sl_actions *out)
{
	struct sl_action *a = core_act(out, SL_ACT_SEND);

	if (!a)
		return;
	a->u.send.dst = p->id;
	a->u.send.frame_type = SL_FRAME_APPEND;
	a->u.send.epoch = c->epoch;
	a->u.send.hdr.append = (struct sl_append_hdr){ .prev_lsn = prev_lsn,
						       .prev_epoch = core_epoch_at(c, prev_lsn),
						       .commit_lsn = c->commit_lsn,
						       .send_ts_ns = c->now_ns,
						       .count = n };
	a->u.send.recs = refs;
	a->u.send.n_recs = n;
	if (p->next_lsn == peer_base(p) + 1)
		p->progress_ns = c->now_ns; /* the retransmission clock starts with the first */
	p->next_lsn = prev_lsn + n + 1;
	p->last_send_ns = c->now_ns;
	p->commit_sent_lsn = c->commit_lsn;
	c->stats.frames_sent[SL_FRAME_APPEND]++;
}

/* Records from p->next_lsn that fit one frame and the window, taken from the ring. */
static void leader_send_from_ring(struct sl_core *c, struct core_peer *p, uint32_t room,
				  struct sl_actions *out)
{
	struct sl_rec_ref *refs = out->refs + out->n_refs;
	uint64_t prev = p->next_lsn - 1;
	uint32_t n = 0, bytes = 0;

	for (uint64_t lsn = p->next_lsn; lsn <= c->last_lsn && n < room; lsn++) {
		const struct core_entry *e = core_entry(c, lsn);

		if (bytes + e->ref.len > c->cfg.batch_bytes)
			break;
		assert(out->n_refs < out->cap_refs);
		out->refs[out->n_refs++] = e->ref;
		bytes += e->ref.len;
		n++;
	}
	leader_send_append(c, p, prev, refs, n, out);
}

/* A follower behind the ring is caught up from the WAL, one frame's worth at a time. */
static void leader_request_wal(struct sl_core *c, struct core_peer *p, struct sl_actions *out)
{
	struct sl_action *a;
	uint64_t to = min_u64(c->ring_lo - 1, p->next_lsn + c->cfg.batch_bytes / SL_REC_HDR_LEN);

	if (p->wal_read_ns != 0 && c->now_ns - p->wal_read_ns < c->cfg.rto_max_ns)
		return;
	a = core_act(out, SL_ACT_WAL_READ);
	if (!a)
		return;
	a->u.wal_read.node = p->id;
	a->u.wal_read.from_lsn = p->next_lsn;
	a->u.wal_read.to_lsn = to;
	p->wal_read_ns = c->now_ns;
	c->stats.wal_reads++;
}

void core_leader_on_wal(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	struct core_peer *p = core_peer_find(c, ev->u.wal.node);
	struct sl_rec_ref *refs = out->refs + out->n_refs;
	uint32_t n = 0, bytes = 0;
	uint64_t first = 0;

	if (p && c->role == SL_ROLE_LEADER && ev->u.wal.gone && p->wal_read_ns != 0) {
		p->wal_read_ns = 0;
		core_snap_start(c, p); /* retention deleted what it lacks */
	}
	if (p && c->role == SL_ROLE_LEADER && ev->u.wal.n_recs > 0) {
		struct sl_record_hdr h;

		p->wal_read_ns = 0;
		sl_record_hdr_read(ev->u.wal.recs[0].data, &h);
		first = h.lsn;
	}
	/* Only a read that still starts where the follower needs it is sent. */
	if (p && first != 0 && first == p->next_lsn) {
		for (uint32_t i = 0; i < ev->u.wal.n_recs; i++) {
			const struct sl_rec_ref *r = &ev->u.wal.recs[i];

			if (bytes + r->len > c->cfg.batch_bytes)
				break;
			assert(out->n_refs < out->cap_refs);
			out->refs[out->n_refs++] = *r;
			bytes += r->len;
			n++;
		}
		leader_send_append(c, p, first - 1, refs, n, out);
	}
	for (uint32_t i = 0; i < ev->u.wal.n_recs; i++)
		core_free(out, ev->u.wal.recs[i].handle);
}

static void leader_send(struct sl_core *c, struct core_peer *p, struct sl_actions *out)
{
	uint64_t inflight;

	if (core_snap_send(c, p, out))
		return;
	inflight = p->next_lsn - 1 - peer_base(p);
	/* No progress for an RTO: go back to the last acknowledged record, back off. */
	if (inflight > 0 && c->now_ns - p->progress_ns >= p->rto_ns) {
		p->next_lsn = peer_base(p) + 1;
		p->rto_ns = min_u64(p->rto_ns * 2, c->cfg.rto_max_ns);
		p->progress_ns = c->now_ns;
		p->wal_read_ns = 0;
		inflight = 0;
		c->stats.retransmits++;
	}
	/* A burst of frames per loop turn at most, within the window. */
	for (unsigned f = 0; f < CORE_FRAMES_PER_TICK && p->next_lsn <= c->last_lsn &&
			     inflight < c->cfg.window_records;
	     f++) {
		if (p->next_lsn < c->ring_lo) {
			leader_request_wal(c, p, out);
			break;
		}
		leader_send_from_ring(c, p, c->cfg.window_records - (uint32_t)inflight, out);
		inflight = p->next_lsn - 1 - peer_base(p);
	}
	/*
	 * The heartbeat is an empty APPEND, as in Raft: its prev lets a follower that
	 * restarted confirm its log matches ours, and so learn the commit point. One also
	 * goes out as soon as the commit point moves: followers apply only what they know
	 * committed, and reads on them (and replies at level "applied") wait for that.
	 */
	if (c->now_ns - p->last_send_ns >= c->cfg.heartbeat_ns ||
	    c->commit_lsn > p->commit_sent_lsn)
		leader_send_append(c, p, p->next_lsn - 1, NULL, 0, out);
}

static bool peer_counted(const struct sl_core *c, const struct core_peer *p)
{
	return !p->learner && core_is_member(c, p->id);
}

/*
 * first k: the first k healthy nodes of the list that hold everything committed. With
 * choose, the sync set is chosen anew (at the commit level); without, its members'
 * positions at level are read (the applied level of replies).
 */
static bool policy_first(struct sl_core *c, uint8_t level, bool choose, uint64_t *lsn)
{
	uint64_t m = UINT64_MAX;
	unsigned chosen = 0;

	for (unsigned i = 0; choose && i < c->n_peers; i++)
		c->peers[i].sync = false;
	for (unsigned i = 0; i < c->policy.n_nodes && chosen < c->policy.k; i++) {
		struct core_peer *p = core_peer_find(c, c->policy.nodes[i]);

		if (!p || !peer_counted(c, p))
			continue;
		if (choose) {
			if (p->last_ack_ns == 0 || c->now_ns - p->last_ack_ns > c->cfg.health_ns)
				continue;
			/* A standby joins the set only once caught up (PostgreSQL does too). */
			if (core_peer_level_lsn(p, level) < c->commit_lsn)
				continue;
			p->sync = true;
		} else if (!p->sync) {
			continue;
		}
		m = min_u64(m, core_peer_level_lsn(p, level));
		chosen++;
	}
	*lsn = m;
	return chosen == c->policy.k;
}

/* any k: the k-th highest position among the listed nodes (quorum commit). */
static bool policy_any(struct sl_core *c, uint8_t level, uint64_t *lsn)
{
	uint64_t top[SL_POLICY_NODES_MAX];
	unsigned n = 0;

	for (unsigned i = 0; i < c->policy.n_nodes; i++) {
		struct core_peer *p = core_peer_find(c, c->policy.nodes[i]);
		uint64_t pos;
		unsigned j;

		if (!p || !peer_counted(c, p))
			continue;
		pos = core_peer_level_lsn(p, level);
		for (j = n++; j > 0 && top[j - 1] < pos; j--)
			top[j] = top[j - 1];
		top[j] = pos;
	}
	if (n < c->policy.k)
		return false;
	*lsn = top[c->policy.k - 1];
	return true;
}

static bool policy_all(struct sl_core *c, uint8_t level, uint64_t *lsn)
{
	uint64_t m = UINT64_MAX;

	for (unsigned i = 0; i < c->n_peers; i++)
		if (peer_counted(c, &c->peers[i]))
			m = min_u64(m, core_peer_level_lsn(&c->peers[i], level));
	*lsn = m;
	return true;
}

/* Highest LSN the followers' part of the policy holds for at level; false if none. */
static bool policy_followers(struct sl_core *c, uint8_t level, bool choose, uint64_t *lsn)
{
	switch (c->policy.kind) {
	case SL_POLICY_FIRST:
		return policy_first(c, level, choose, lsn);
	case SL_POLICY_ANY:
		return policy_any(c, level, lsn);
	case SL_POLICY_ALL:
		return policy_all(c, level, lsn);
	}
	*lsn = UINT64_MAX; /* async: the followers are not asked */
	return true;
}

/* sync_timeout_ms: a stuck sync set degrades to async, explicitly, and recovers. */
static void leader_degrade_check(struct sl_core *c, bool held, uint64_t lsn, struct sl_actions *out)
{
	const struct core_entry *oldest = core_entry(c, c->commit_lsn + 1);
	uint64_t timeout_ns = (uint64_t)c->policy.sync_timeout_ms * 1000000;

	if (c->policy.kind == SL_POLICY_ASYNC || timeout_ns == 0)
		return;
	if (!c->degraded && oldest && c->now_ns - oldest->arrival_ns >= timeout_ns &&
	    (!held || lsn <= c->commit_lsn)) {
		c->degraded = true;
		c->stats.degraded_count++;
		core_notify(out, SL_NOTE_DEGRADED, 1, c->commit_lsn);
	} else if (c->degraded && held && lsn >= c->commit_lsn) {
		c->degraded = false;
		core_notify(out, SL_NOTE_DEGRADED, 0, c->commit_lsn);
	}
}

/* Answers the clients of applied records once the policy's level holds for them. */
static void leader_reply(struct sl_core *c, uint64_t upto, struct sl_actions *out)
{
	for (uint64_t lsn = c->replied_lsn + 1; lsn <= upto; lsn++) {
		struct core_entry *e = core_entry(c, lsn);
		struct sl_client_req req;

		if (!e || !e->has_ctx)
			continue;
		req = entry_req(e);
		core_reply(c, out, e->ctx, &req, e->status, e->tok_lsn, e->tok_epoch);
		e->has_ctx = 0;
	}
	if (upto > c->replied_lsn)
		c->replied_lsn = upto;
}

/*
 * commit_lsn counts followers at most at the flushed level: followers apply only what
 * is committed (DESIGN.md §4), so "applied" (PostgreSQL's remote_apply) cannot gate the
 * commit itself. It gates the reply: a client hears back once its write is visible on
 * the sync followers, which is what read-your-writes on a follower needs.
 */
void core_leader_commit(struct sl_core *c, struct sl_actions *out)
{
	uint8_t level = c->policy.level == SL_LEVEL_APPLIED ? SL_LEVEL_FLUSHED : c->policy.level;
	uint64_t local = c->policy.durability == SL_DUR_FSYNC ? c->flushed_lsn : c->last_lsn;
	uint64_t lsn = 0, target, visible;
	bool held = policy_followers(c, level, true, &lsn);

	leader_degrade_check(c, held, lsn, out);
	target = held || c->degraded ? min_u64(local, c->degraded ? UINT64_MAX : lsn) : 0;
	if (CORE_BUG(c, SL_BUG_COMMIT_BEFORE_QUORUM))
		target = c->last_lsn;
	/* Raft's rule: nothing older commits until this epoch's first record does. */
	if (target > c->commit_lsn && target >= c->epoch_start_lsn)
		c->commit_lsn = min_u64(target, c->last_lsn);
	core_apply(c, c->commit_lsn, out);
	visible = c->applied_lsn;
	if (c->policy.level == SL_LEVEL_APPLIED && !c->degraded &&
	    !CORE_BUG(c, SL_BUG_COMMIT_BEFORE_QUORUM)) {
		if (!policy_followers(c, SL_LEVEL_APPLIED, false, &lsn))
			lsn = c->replied_lsn;
		visible = min_u64(visible, lsn);
	}
	leader_reply(c, visible, out);
}

/*
 * client_timeout_ns: a write not committed in time is answered TIMEOUT (its outcome is
 * unknown: it may still commit) and its reply context is dropped, so no second answer
 * goes out. A retry with the same (client_id, seq) is deduplicated at apply and gets
 * the original token once the record commits. Records arrive in LSN order, so the scan
 * stops at the first one still young.
 */
static void leader_timeout_clients(struct sl_core *c, struct sl_actions *out)
{
	uint64_t lsn = c->timeout_lsn > c->replied_lsn ? c->timeout_lsn : c->replied_lsn;

	if (c->cfg.client_timeout_ns == 0)
		return;
	for (lsn++; lsn <= c->last_lsn; lsn++) {
		struct core_entry *e = core_entry(c, lsn);
		struct sl_client_req req;

		if (e && c->now_ns - e->arrival_ns < c->cfg.client_timeout_ns)
			break;
		c->timeout_lsn = lsn;
		if (!e || !e->has_ctx)
			continue;
		req = entry_req(e);
		core_reply(c, out, e->ctx, &req, SL_ST_TIMEOUT, 0, 0);
		e->has_ctx = 0;
		c->stats.client_timeouts++;
	}
}

/*
 * Check-quorum (DESIGN.md §6): the lease holds while the controller renewed it (RENEW)
 * or a majority of the voting members, this leader included, acknowledged within
 * lease_ns. Learners do not vote.
 */
static bool leader_lease_held(struct sl_core *c)
{
	unsigned voters = 1, heard = 1;

	if (c->cfg.lease_ns == 0 || c->now_ns - c->lease_renew_ns < c->cfg.lease_ns)
		return true;
	for (unsigned i = 0; i < c->n_peers; i++) {
		const struct core_peer *p = &c->peers[i];

		if (!peer_counted(c, p))
			continue;
		voters++;
		if (p->last_ack_ns != 0 && c->now_ns - p->last_ack_ns < c->cfg.lease_ns)
			heard++;
	}
	return 2 * heard > voters;
}

/*
 * A leader without a lease may have been replaced already: it stops taking writes
 * before the controller, which waits failure_timeout_ms (longer than the lease), can
 * promote another. It stays at its epoch, fenced, with no leader (0): clients are told
 * NOT_LEADER without a hint to come back here, and a frame or command of the next
 * leader makes it a follower (or the controller promotes it again at this epoch).
 */
static void leader_step_down(struct sl_core *c, struct sl_actions *out)
{
	c->stats.lease_expired++;
	core_set_role(c, SL_ROLE_FENCED, c->epoch, 0, out);
	c->lease_expired = true;
}

void core_leader_tick(struct sl_core *c, struct sl_actions *out)
{
	if (!leader_lease_held(c)) {
		leader_step_down(c, out);
		return;
	}
	if (c->paused && !core_paused(c, c->now_ns))
		c->paused = false;
	leader_try_noop(c, out);
	core_persist_new(c, out);
	for (unsigned i = 0; i < c->n_peers; i++)
		leader_send(c, &c->peers[i], out);
	core_leader_commit(c, out);
	leader_timeout_clients(c, out);
}
