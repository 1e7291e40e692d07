/*
 * shiplog-sim: N real replication cores, one fake network, one fake disk per node, a
 * scripted failover controller (DESIGN.md §6) and clients that keep a history. Every
 * step is followed by the invariant checks; one seed decides every random choice.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/crc32c.h>
#include <shiplog/wire.h>

#include "core.h"
#include "sim.h"
#include "world.h"

#define SIM_NODES_MAX	5
#define SIM_CLIENTS_MAX 8
#define SIM_KEYS	16
#define SIM_DT_NS	20000ull    /* one poll-loop iteration of every node */
#define SIM_CTL_NS	1000000ull  /* the controller looks once a millisecond */
#define SIM_FAIL_NS	20000000ull /* failure_timeout_ms = 20 */
#define SIM_SETTLE_NS	2000000000ull
#define SIM_CLUSTER	0x51u
#define SIM_CLIENT_BASE 1000u

struct sim_node {
	unsigned id;
	bool up;
	bool isolated; /* cut off from the other nodes and the controller */
	bool ctl_cut;  /* cut off from the controller only */
	void *mem;
	struct sl_core *core;
	struct sl_actions out;
	struct disk disk;
	uint64_t *chain; /* chain[lsn]: hash over the node's log up to lsn */
	uint64_t chain_len;
	size_t chain_cap;
	uint32_t max_epoch;
	uint64_t frame_seq;
	uint64_t restart_at;
};

struct gc_info {
	uint32_t epoch;
	uint8_t type;
	uint8_t effective; /* a write that changed state (not a deduplicated retry) */
	uint8_t key;
	uint64_t val_hash;
	uint64_t client_id;
	uint64_t seq;
};

struct sim_client {
	uint64_t id;
	uint64_t seq;
	bool busy;
	uint8_t op;
	uint8_t key;
	char val[40];
	uint64_t min_lsn; /* highest commit token seen: read-your-writes, monotonic reads */
	uint64_t sent_ns;
	uint64_t retry_ns; /* resend when no answer came for this long */
	uint64_t next_ns;
	unsigned tries;
	unsigned target;
	unsigned leader_guess;
};

struct sim_ack {
	uint64_t lsn;
	uint32_t epoch;
	uint64_t client_id;
	uint64_t seq;
};

struct sim_timer {
	uint64_t at;
	uint8_t kind; /* 1 heal link, 2 end isolation, 3 restart node */
	uint8_t a, b;
};

struct sim {
	const struct sim_opts *o;
	struct sim_result *r;
	uint64_t rng;
	uint64_t now;
	unsigned n;
	struct sl_core_config cfg;
	struct sim_node nodes[SIM_NODES_MAX + 1];
	struct sim_client clients[SIM_CLIENTS_MAX];
	unsigned n_clients;
	struct net net;
	bool async;	  /* acknowledged writes may be lost: count, do not fail */
	bool memory_only; /* a crash can lose acknowledged records: at most one crash */
	/* Global committed log, built from what leaders commit. */
	uint64_t *gc_chain;
	struct gc_info *gc;
	uint64_t gc_len;
	size_t gc_cap;
	uint64_t client_max_seq[SIM_CLIENTS_MAX];
	uint16_t leader_of_epoch[4096];
	struct sim_ack *acks;
	size_t n_acks, cap_acks;
	/* Controller. */
	uint32_t ctl_epoch;
	uint16_t ctl_leader;
	bool learner[SIM_NODES_MAX + 1];
	uint64_t ctl_lost_since;
	uint64_t ctl_next;
	struct sl_policy ctl_policy;
	struct sl_policy ctl_prev_policy; /* in force before the last change */
	uint64_t ctl_policy_lsn;	  /* CONFIG record of that change */
	uint64_t ctl_commit_seen;	  /* leader's commit_lsn at the last look */
	/* Faults. */
	struct sim_timer timers[64];
	unsigned n_timers;
	uint64_t next_fault;
	unsigned crashes;
	bool faults_on;
	/* Scripted requests (sim_request) answer here. */
	struct sl_client_resp script_resp;
	bool script_got;
};

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		abort();
	return p;
}

static void *xgrow(void *p, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return p;
	while (*cap < need)
		*cap = *cap ? 2 * *cap : 1024;
	p = realloc(p, *cap * sz);
	if (!p)
		abort();
	return p;
}

__attribute__((format(printf, 2, 3))) static void violation(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->r->violations++ == 0) {
		int k = snprintf(s->r->first_violation, sizeof(s->r->first_violation), "t=%.3fms ",
				 (double)s->now / 1e6);

		va_start(ap, fmt);
		vsnprintf(s->r->first_violation + k, sizeof(s->r->first_violation) - (size_t)k, fmt,
			  ap);
		va_end(ap);
	}
	if (s->o->trace) {
		fprintf(s->o->trace, "%12.3f VIOLATION ", (double)s->now / 1e6);
		va_start(ap, fmt);
		vfprintf(s->o->trace, fmt, ap);
		va_end(ap);
		fputc('\n', s->o->trace);
	}
}

__attribute__((format(printf, 2, 3))) static void trace(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->o->trace)
		return;
	fprintf(s->o->trace, "%12.3f ", (double)s->now / 1e6);
	va_start(ap, fmt);
	vfprintf(s->o->trace, fmt, ap);
	va_end(ap);
	fputc('\n', s->o->trace);
}

static uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}

static uint64_t bytes_hash(const void *p, size_t n)
{
	return mix64(sl_crc32c(0, p, n), n);
}

/* ---- the chain of hashes over each node's log, and the global committed log -------- */

static void chain_set(struct sim *s, struct sim_node *nd, uint64_t lsn, const uint8_t *rec)
{
	struct sl_record_hdr h;

	(void)s;
	sl_record_hdr_read(rec, &h);
	nd->chain = xgrow(nd->chain, &nd->chain_cap, lsn + 1, sizeof(uint64_t));
	nd->chain[0] = 0;
	nd->chain[lsn] = mix64(mix64(mix64(nd->chain[lsn - 1], lsn), h.epoch), h.crc);
	nd->chain_len = lsn;
}

static void chain_update(struct sim *s, struct sim_node *nd, const struct sl_core_status *st)
{
	if (nd->chain_len > st->last_lsn)
		nd->chain_len = st->last_lsn;
	for (uint64_t lsn = nd->chain_len + 1; lsn <= st->last_lsn; lsn++) {
		struct sl_rec_ref ref;

		if (sl_core_log_record(nd->core, lsn, &ref) != 0)
			break;
		chain_set(s, nd, lsn, ref.data);
	}
}

static bool record_of(struct sim_node *nd, uint64_t lsn, struct sl_record_view *v)
{
	static const struct sl_limits any = { UINT16_MAX, UINT32_MAX };
	struct sl_rec_ref ref;

	if (sl_core_log_record(nd->core, lsn, &ref) == 0)
		return sl_record_decode(ref.data, ref.len, &any, 1, v) == SL_OK;
	if (lsn >= 1 && lsn <= nd->disk.n_log)
		return sl_record_decode(nd->disk.log[lsn - 1].bytes, nd->disk.log[lsn - 1].len,
					&any, 1, v) == SL_OK;
	return false;
}

static unsigned client_index(uint64_t client_id)
{
	return (unsigned)(client_id - SIM_CLIENT_BASE);
}

static void gc_append(struct sim *s, const struct sl_record_view *v, uint64_t chain)
{
	uint64_t lsn = ++s->gc_len;
	struct gc_info *g;

	size_t cap = s->gc_cap;

	s->gc_chain = xgrow(s->gc_chain, &s->gc_cap, lsn + 1, sizeof(uint64_t));
	if (s->gc_cap != cap || !s->gc) {
		s->gc = realloc(s->gc, s->gc_cap * sizeof(*s->gc));
		if (!s->gc)
			abort();
	}
	g = &s->gc[lsn];
	memset(g, 0, sizeof(*g));
	s->gc_chain[0] = 0;
	s->gc_chain[lsn] = chain;
	g->epoch = v->hdr.epoch;
	g->type = v->hdr.type;
	if (v->hdr.type == SL_REC_PUT || v->hdr.type == SL_REC_DEL) {
		unsigned ci = client_index(v->origin.client_id);

		g->key = (uint8_t)(v->key[1] - 'a');
		g->val_hash = v->hdr.type == SL_REC_PUT ? bytes_hash(v->val, v->hdr.val_len) : 0;
		g->client_id = v->origin.client_id;
		g->seq = v->origin.seq;
		g->effective = ci < SIM_CLIENTS_MAX && v->origin.seq > s->client_max_seq[ci];
		if (g->effective)
			s->client_max_seq[ci] = v->origin.seq;
	}
}

/* Async only: a new leader's committed log replaces records from lsn on. */
static void gc_rewind(struct sim *s, uint64_t lsn)
{
	s->gc_len = lsn - 1;
	memset(s->client_max_seq, 0, sizeof(s->client_max_seq));
	for (uint64_t i = 1; i <= s->gc_len; i++) {
		unsigned ci = client_index(s->gc[i].client_id);

		if (s->gc[i].effective && ci < SIM_CLIENTS_MAX)
			s->client_max_seq[ci] = s->gc[i].seq;
	}
}

static void gc_check_leader(struct sim *s, struct sim_node *nd, const struct sl_core_status *st)
{
	uint64_t c = st->commit_lsn;
	uint64_t common = c < s->gc_len ? c : s->gc_len;

	if (c > nd->chain_len) {
		violation(s, "n%u commits %" PRIu64 " beyond its log %" PRIu64, nd->id, c,
			  nd->chain_len);
		return;
	}
	if (common > 0 && nd->chain[common] != s->gc_chain[common]) {
		uint64_t x = 1;

		while (x <= common && nd->chain[x] == s->gc_chain[x])
			x++;
		if (!s->async) {
			violation(s,
				  "n%u (leader e%u) committed log differs from the committed "
				  "log at lsn %" PRIu64,
				  nd->id, st->epoch, x);
			return;
		}
		trace(s, "async: committed records from lsn %" PRIu64 " lost in failover", x);
		gc_rewind(s, x);
	}
	for (uint64_t lsn = s->gc_len + 1; lsn <= c; lsn++) {
		struct sl_record_view v;

		if (!record_of(nd, lsn, &v)) {
			violation(s, "n%u committed lsn %" PRIu64 " it cannot show", nd->id, lsn);
			return;
		}
		gc_append(s, &v, nd->chain[lsn]);
	}
}

/* Invariants of one node after each of its steps (DESIGN.md §4, §6). */
static void check_node(struct sim *s, struct sim_node *nd)
{
	struct sl_core_status st;
	bool current;

	sl_core_status(nd->core, s->now, &st);
	chain_update(s, nd, &st);
	if (st.epoch < nd->max_epoch)
		violation(s, "n%u epoch went back from %u to %u", nd->id, nd->max_epoch, st.epoch);
	nd->max_epoch = st.epoch;
	if (st.role == SL_ROLE_LEADER && st.epoch < 4096) {
		uint16_t *l = &s->leader_of_epoch[st.epoch];

		if (*l != 0 && *l != nd->id)
			violation(s, "two leaders in epoch %u: n%u and n%u", st.epoch, *l, nd->id);
		*l = (uint16_t)nd->id;
		gc_check_leader(s, nd, &st);
	}
	/*
	 * Under async any node may have applied records the cluster then lost in a
	 * failover (DDIA's replication lag, made permanent): those are counted through the
	 * clients' history, and the end of the run checks that everyone converged.
	 */
	current = !s->async;
	if (current && st.applied_lsn > s->gc_len)
		violation(s, "n%u applied %" PRIu64 " past the commit point %" PRIu64, nd->id,
			  st.applied_lsn, s->gc_len);
	else if (current && st.applied_lsn > 0 && st.applied_lsn <= nd->chain_len &&
		 nd->chain[st.applied_lsn] != s->gc_chain[st.applied_lsn])
		violation(s,
			  "n%u applied a log that differs from the committed one (lsn %" PRIu64 ")",
			  nd->id, st.applied_lsn);
}

/* The state a read at lsn must show for key, from the committed log. */
static bool expected_value(struct sim *s, uint8_t key, uint64_t lsn, uint64_t *val_hash)
{
	for (uint64_t x = lsn; x >= 1; x--) {
		const struct gc_info *g = &s->gc[x];

		if (!g->effective || g->key != key)
			continue;
		*val_hash = g->val_hash;
		return g->type == SL_REC_PUT;
	}
	return false;
}

static void check_read(struct sim *s, struct sim_node *nd, const struct sl_action *a)
{
	const struct sl_client_resp *r = &a->u.reply.resp;
	unsigned ci = client_index(r->client_id);
	uint64_t want = 0;
	bool present;

	if (s->async || ci >= s->n_clients || r->seq != s->clients[ci].seq)
		return;
	if (r->lsn > s->gc_len) {
		violation(s, "n%u read at lsn %" PRIu64 " beyond the commit point", nd->id, r->lsn);
		return;
	}
	present = expected_value(s, s->clients[ci].key, r->lsn, &want);
	s->r->reads_checked++;
	if (present != (r->status == SL_ST_OK) ||
	    (present && bytes_hash(a->u.reply.val, r->val_len) != want)) {
		if (s->o->trace) {
			for (uint64_t x = 1; x <= r->lsn; x++)
				if (s->gc[x].key == s->clients[ci].key && s->gc[x].type <= 2)
					trace(s,
					      "  gc lsn %" PRIu64 " type %u eff %u val %016" PRIx64
					      " client %" PRIu64 " seq %" PRIu64,
					      x, s->gc[x].type, s->gc[x].effective,
					      s->gc[x].val_hash, s->gc[x].client_id, s->gc[x].seq);
			trace(s, "  got status %u val %016" PRIx64, r->status,
			      r->status == SL_ST_OK ? bytes_hash(a->u.reply.val, r->val_len) : 0);
		}
		violation(s, "n%u read of key %u at lsn %" PRIu64 " returned %s state", nd->id,
			  s->clients[ci].key, r->lsn, present ? "a wrong" : "a phantom");
	}
}

/* ---- executing a core's actions ----------------------------------------------------- */

static void send_frame(struct sim *s, unsigned src, unsigned dst_ep, uint16_t dst_node,
		       uint8_t type, uint32_t epoch, const union sl_type_hdr *th, const void *body,
		       uint32_t body_len)
{
	static uint8_t buf[65536];
	struct sl_frame_hdr h = { .magic = SL_MAGIC,
				  .version = SL_WIRE_VERSION,
				  .type = type,
				  .cluster_id = SIM_CLUSTER,
				  .epoch = epoch,
				  .src_node = (uint16_t)(src <= s->n ? src : 0),
				  .dst_node = dst_node,
				  .seq = s->nodes[src <= s->n ? src : 0].frame_seq++ };
	size_t n = sl_frame_encode(buf, sizeof(buf), &h, th, body, body_len, NULL);

	if (n == 0)
		abort();
	net_send(&s->net, s->now, src, dst_ep, buf, (uint32_t)n);
	s->r->frames++;
}

static void exec_send(struct sim *s, struct sim_node *nd, const struct sl_action *a)
{
	static uint8_t body[65536];
	uint32_t len = 0;

	for (uint32_t i = 0; i < a->u.send.n_recs; i++) {
		memcpy(body + len, a->u.send.recs[i].data, a->u.send.recs[i].len);
		len += a->u.send.recs[i].len;
	}
	trace(s, "n%u -> n%u %s e%u n=%u", nd->id, a->u.send.dst,
	      sl_frame_type_name(a->u.send.frame_type), a->u.send.epoch, a->u.send.n_recs);
	send_frame(s, nd->id, a->u.send.dst, a->u.send.dst, a->u.send.frame_type, a->u.send.epoch,
		   &a->u.send.hdr, body, len);
}

static void exec_persist(struct sim *s, struct sim_node *nd, const struct sl_action *a)
{
	struct disk_rec recs[4096];
	uint32_t n = a->u.persist.n_recs;

	if (n > 4096)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		struct sl_record_hdr h;

		sl_record_hdr_read(a->u.persist.recs[i].data, &h);
		recs[i] = (struct disk_rec){ .bytes = a->u.persist.recs[i].data,
					     .len = a->u.persist.recs[i].len,
					     .lsn = h.lsn,
					     .epoch = h.epoch };
	}
	trace(s, "n%u persist %" PRIu64 "..%" PRIu64, nd->id, a->u.persist.first_lsn,
	      a->u.persist.last_lsn);
	disk_write(&nd->disk, s->now, recs, n, a->u.persist.commit_lsn);
}

static void exec_reply(struct sim *s, struct sim_node *nd, const struct sl_action *a)
{
	const struct sl_client_resp *r = &a->u.reply.resp;
	unsigned ep = (unsigned)a->u.reply.ctx;

	if (r->op == SL_OP_GET && (r->status == SL_ST_OK || r->status == SL_ST_NOT_FOUND))
		check_read(s, nd, a);
	send_frame(s, nd->id, ep, 0, SL_FRAME_CLIENT_RESP, nd->max_epoch,
		   (const union sl_type_hdr *)r, a->u.reply.val, r->val_len);
}

static void exec_action(struct sim *s, struct sim_node *nd, const struct sl_action *a)
{
	switch (a->type) {
	case SL_ACT_SEND:
		exec_send(s, nd, a);
		break;
	case SL_ACT_PERSIST:
		exec_persist(s, nd, a);
		break;
	case SL_ACT_REPLY:
		exec_reply(s, nd, a);
		break;
	case SL_ACT_TRUNCATE:
		trace(s, "n%u truncate after %" PRIu64, nd->id, a->u.truncate.after_lsn);
		disk_truncate(&nd->disk, s->now, a->u.truncate.after_lsn);
		break;
	case SL_ACT_WAL_READ:
		disk_read(&nd->disk, s->now, a->u.wal_read.node, a->u.wal_read.from_lsn,
			  a->u.wal_read.to_lsn);
		break;
	case SL_ACT_SAVE_META:
		nd->disk.meta_epoch = a->u.meta.epoch; /* atomic and durable at once */
		break;
	case SL_ACT_NOTIFY:
		if (a->u.notify.what == SL_NOTE_TRUNCATED)
			s->r->truncated += a->u.notify.b;
		trace(s, "n%u notify %u a=%" PRIu64 " b=%" PRIu64, nd->id, a->u.notify.what,
		      a->u.notify.a, a->u.notify.b);
		break;
	}
}

static void node_step(struct sim *s, struct sim_node *nd, const struct sl_event *ev)
{
	struct sl_actions *out = &nd->out;

	out->n_act = out->n_refs = out->n_freed = 0;
	sl_core_step(nd->core, ev, out);
	/* Truncations first: the chain must not mix the old suffix with the new one. */
	for (uint32_t i = 0; i < out->n_act; i++)
		if (out->act[i].type == SL_ACT_TRUNCATE &&
		    nd->chain_len > out->act[i].u.truncate.after_lsn)
			nd->chain_len = out->act[i].u.truncate.after_lsn;
	check_node(s, nd);
	for (uint32_t i = 0; i < out->n_act; i++)
		exec_action(s, nd, &out->act[i]);
	for (uint32_t i = 0; i < out->n_freed; i++)
		if (!simbuf_put(out->freed[i]))
			violation(s, "n%u freed a record handle twice", nd->id);
}

/* ---- nodes: start from disk, crash ------------------------------------------------- */

static void node_start(struct sim *s, struct sim_node *nd)
{
	struct sl_core_recovered rec = { .epoch = nd->disk.meta_epoch };
	struct sl_actions_caps caps;
	struct sl_core_config cfg = s->cfg;
	size_t len;

	cfg.node_id = (uint16_t)nd->id;
	len = sl_core_mem_size(&cfg);
	sl_actions_caps(&cfg, &caps);
	free(nd->mem);
	nd->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	/* Recovery: the log is what reached the disk; its epochs rebuild the history. */
	rec.last_lsn = nd->disk.n_log;
	rec.commit_hint = nd->disk.commit_hint;
	nd->chain_len = 0;
	for (uint64_t i = 0; i < nd->disk.n_log; i++) {
		const struct disk_rec *d = &nd->disk.log[i];

		if (rec.n_hist == 0 || rec.hist[rec.n_hist - 1].epoch < d->epoch) {
			if (rec.n_hist == SL_EPOCH_HIST_MAX) {
				memmove(rec.hist, rec.hist + 1,
					sizeof(rec.hist[0]) * (SL_EPOCH_HIST_MAX - 1));
				rec.n_hist--;
			}
			rec.hist[rec.n_hist++] =
				(struct sl_epoch_start){ .epoch = d->epoch, .first_lsn = d->lsn };
		}
		chain_set(s, nd, d->lsn, d->bytes);
	}
	if (rec.n_hist > 0 && rec.hist[rec.n_hist - 1].epoch > rec.epoch)
		rec.epoch = rec.hist[rec.n_hist - 1].epoch;
	nd->core = sl_core_init(nd->mem, len, &cfg, &rec);
	if (!nd->core)
		abort();
	nd->out.act = realloc(nd->out.act, caps.actions * sizeof(struct sl_action));
	nd->out.refs = realloc(nd->out.refs, caps.refs * sizeof(struct sl_rec_ref));
	nd->out.freed = realloc(nd->out.freed, caps.freed * sizeof(uint64_t));
	nd->out.cap_act = caps.actions;
	nd->out.cap_refs = caps.refs;
	nd->out.cap_freed = caps.freed;
	nd->up = true;
	trace(s, "n%u up: epoch %u, log 1..%" PRIu64 ", commit hint %" PRIu64, nd->id, rec.epoch,
	      rec.last_lsn, rec.commit_hint);
}

/* Counters of a core about to go (crash, end of run) into the result. */
static void node_account(struct sim *s, struct sim_node *nd)
{
	const struct sl_core_stats *st = sl_core_stats(nd->core);

	s->r->reordered += st->reordered;
	s->r->retransmits += st->retransmits;
	s->r->nacks += st->nacks_sent;
	s->r->nacks_ignored += st->nacks_ignored;
	s->r->lease_stepdowns += st->lease_expired;
	s->r->client_timeouts += st->client_timeouts;
	s->r->history_resyncs += st->history_resyncs;
}

static void node_crash(struct sim *s, struct sim_node *nd)
{
	node_account(s, nd);
	nd->up = false;
	disk_crash(&nd->disk);
	s->r->crashes++;
	s->crashes++;
	trace(s, "n%u CRASH: disk keeps 1..%" PRIu64, nd->id, nd->disk.n_log);
}

/* ---- delivery ---------------------------------------------------------------------- */

static struct sl_frame_expect node_expect(struct sim *s, struct sim_node *nd)
{
	bool old_ok = (s->o->bugs & SL_BUG_ACCEPT_OLD_EPOCH) != 0;

	return (struct sl_frame_expect){ .cluster_id = SIM_CLUSTER,
					 .node_id = (uint16_t)nd->id,
					 .min_epoch = old_ok ? 0 : sl_core_epoch(nd->core),
					 .limits = s->cfg.limits,
					 .check_record_crc = 1 };
}

static void deliver_client_req(struct sim *s, struct sim_node *nd, const struct sl_frame_view *v,
			       unsigned src_ep)
{
	const struct sl_client_req *req = &v->u.req;
	struct sl_event ev = { .type = SL_EV_CLIENT, .now_ns = s->now };

	ev.u.client.req = *req;
	ev.u.client.key = v->body;
	ev.u.client.ctx = src_ep;
	if (req->op != SL_OP_GET) {
		/* The dataplane turns the request into a record in place; here, a copy. */
		struct sl_record_desc d = { .type = req->op == SL_OP_PUT ? SL_REC_PUT : SL_REC_DEL,
					    .flags = SL_REC_F_ORIGIN,
					    .origin = { req->client_id, req->seq },
					    .key = v->body,
					    .key_len = req->key_len,
					    .val = v->body + req->key_len,
					    .val_len = req->val_len };
		uint32_t sz = sl_record_size(d.flags, d.key_len, d.val_len);
		struct simbuf *b = simbuf_new(NULL, sz, 1);

		sl_record_encode(b->bytes, sz, &d);
		ev.u.client.rec = (struct sl_rec_ref){ b->bytes, sz, (uintptr_t)b };
	}
	node_step(s, nd, &ev);
}

static void deliver_to_node(struct sim *s, struct sim_node *nd, const struct net_msg *m)
{
	struct sl_frame_expect exp = node_expect(s, nd);
	struct sl_frame_view v;
	enum sl_reject rc = sl_frame_decode(m->bytes, m->len, &exp, &v);
	struct sl_rec_ref refs[512];
	struct sl_event ev = { .type = SL_EV_FRAME, .now_ns = s->now };

	if (rc != SL_OK) {
		s->r->rejected++;
		trace(s, "n%u drops a frame: %s", nd->id, sl_reject_name(rc));
		return;
	}
	if (v.hdr.type == SL_FRAME_CLIENT_REQ) {
		deliver_client_req(s, nd, &v, m->src);
		return;
	}
	ev.u.frame.view = &v;
	if (v.hdr.type == SL_FRAME_APPEND && v.u.append.count > 0) {
		struct simbuf *b = simbuf_new(m->bytes, m->len, (int32_t)v.u.append.count);
		struct sl_frame_view bv;
		struct sl_record_view r;
		uint32_t off = 0, i = 0;

		/* Records point into the buffer the core keeps; re-decode it there. */
		sl_frame_decode(b->bytes, b->len, &exp, &bv);
		while (i < 512 && sl_append_next(&bv, &off, &r))
			refs[i++] =
				(struct sl_rec_ref){ (uint8_t *)r.raw, r.total_len, (uintptr_t)b };
		ev.u.frame.view = &bv;
		ev.u.frame.recs = refs;
		ev.u.frame.n_recs = i;
		trace(s, "n%u <- n%u append e%u prev %" PRIu64 "/%u n=%u commit %" PRIu64, nd->id,
		      v.hdr.src_node, v.hdr.epoch, v.u.append.prev_lsn, v.u.append.prev_epoch, i,
		      v.u.append.commit_lsn);
		node_step(s, nd, &ev);
		return;
	}
	node_step(s, nd, &ev);
}

static void deliver_disk(struct sim *s, struct sim_node *nd, struct disk_op *op)
{
	struct sl_event ev = { .now_ns = s->now };
	struct sl_rec_ref refs[512];

	if (op->kind == DISK_WRITE && op->n > 0) {
		ev.type = SL_EV_PERSISTED;
		ev.u.persisted.lsn = nd->disk.n_log;
		ev.u.persisted.epoch = nd->disk.n_log ? nd->disk.log[nd->disk.n_log - 1].epoch : 0;
		node_step(s, nd, &ev);
	} else if (op->kind == DISK_READ) {
		uint32_t n = op->n < 512 ? op->n : 512;

		for (uint32_t i = 0; i < n; i++) {
			struct simbuf *b = simbuf_new(op->recs[i].bytes, op->recs[i].len, 1);

			refs[i] = (struct sl_rec_ref){ b->bytes, b->len, (uintptr_t)b };
		}
		ev.type = SL_EV_WAL_RECORDS;
		ev.u.wal.node = op->node;
		ev.u.wal.recs = refs;
		ev.u.wal.n_recs = n;
		node_step(s, nd, &ev);
	}
	disk_op_done(op);
}

/* ---- clients ------------------------------------------------------------------------ */

static unsigned random_node(struct sim *s)
{
	return (unsigned)sim_range(&s->rng, 1, s->n);
}

static void client_send(struct sim *s, unsigned ci)
{
	struct sim_client *c = &s->clients[ci];
	char key[4] = { 'k', (char)('a' + c->key), 0 };
	uint8_t body[64];
	union sl_type_hdr th = { .req = { .client_id = c->id,
					  .seq = c->seq,
					  .op = c->op,
					  .key_len = 2,
					  .min_lsn = c->op == SL_OP_GET ? c->min_lsn : 0 } };
	uint32_t vlen = c->op == SL_OP_PUT ? (uint32_t)strlen(c->val) : 0;

	memcpy(body, key, 2);
	memcpy(body + 2, c->val, vlen);
	th.req.val_len = vlen;
	if (c->op == SL_OP_GET)
		c->target = random_node(s); /* follower reads */
	else
		c->target = c->leader_guess ? c->leader_guess : random_node(s);
	c->sent_ns = s->now;
	c->retry_ns = 5000000;
	c->tries++;
	trace(s, "c%u -> n%u op %u seq %" PRIu64 " try %u", ci, c->target, c->op, c->seq, c->tries);
	send_frame(s, s->n + 1 + ci, c->target, SL_NODE_ANY, SL_FRAME_CLIENT_REQ, 0, &th, body,
		   2 + vlen);
}

static void client_start(struct sim *s, unsigned ci)
{
	struct sim_client *c = &s->clients[ci];
	uint64_t p = sim_range(&s->rng, 0, 99);

	c->op = p < 55 ? SL_OP_PUT : p < 65 ? SL_OP_DEL : SL_OP_GET;
	c->key = (uint8_t)sim_range(&s->rng, 0, SIM_KEYS - 1);
	c->seq++;
	snprintf(c->val, sizeof(c->val), "v%u-%" PRIu64 "-%" PRIu64, ci, c->seq,
		 test_rand(&s->rng) % 1000000);
	c->busy = true;
	c->tries = 0;
	client_send(s, ci);
}

static void client_tick(struct sim *s, unsigned ci, bool may_start)
{
	struct sim_client *c = &s->clients[ci];

	if (!c->busy) {
		if (may_start && s->now >= c->next_ns)
			client_start(s, ci);
		return;
	}
	if (s->now - c->sent_ns < c->retry_ns)
		return;
	if (c->tries >= 40) {
		c->busy = false; /* gave up: outcome unknown, nothing recorded */
		return;
	}
	if (s->now - c->sent_ns >= 5000000)
		c->leader_guess = 0; /* no answer at all: the guess may be dead */
	client_send(s, ci);	     /* the same (client_id, seq): a retry */
}

static void client_ack(struct sim *s, struct sim_client *c, const struct sl_client_resp *r)
{
	s->acks = xgrow(s->acks, &s->cap_acks, s->n_acks + 1, sizeof(*s->acks));
	s->acks[s->n_acks++] = (struct sim_ack){ r->lsn, r->epoch, c->id, c->seq };
	s->r->acked_writes++;
	if (r->lsn > c->min_lsn)
		c->min_lsn = r->lsn;
}

static void deliver_to_client(struct sim *s, unsigned ci, const struct net_msg *m)
{
	struct sim_client *c = &s->clients[ci];
	struct sl_frame_expect exp = { .cluster_id = SIM_CLUSTER,
				       .node_id = 0,
				       .limits = s->cfg.limits };
	struct sl_frame_view v;
	const struct sl_client_resp *r = &v.u.resp;

	if (sl_frame_decode(m->bytes, m->len, &exp, &v) != SL_OK) {
		s->r->rejected++;
		return;
	}
	if (!c->busy || r->seq != c->seq || r->client_id != c->id)
		return; /* an answer to an earlier try */
	trace(s, "c%u <- %s lsn %" PRIu64, ci, sl_client_status_name(r->status), r->lsn);
	switch (r->status) {
	case SL_ST_OK:
	case SL_ST_NOT_FOUND:
		if (c->op == SL_OP_GET && r->lsn < c->min_lsn)
			violation(s, "client %u read at lsn %" PRIu64 " below its token %" PRIu64,
				  ci, r->lsn, c->min_lsn);
		if (c->op != SL_OP_GET)
			client_ack(s, c, r);
		else if (r->lsn > c->min_lsn)
			c->min_lsn = r->lsn;
		c->busy = false;
		c->next_ns = s->now + sim_range(&s->rng, 0, 200000);
		return;
	case SL_ST_NOT_LEADER:
		c->leader_guess = r->leader_hint <= s->n ? r->leader_hint : 0;
		if (c->leader_guess) {
			client_send(s, ci); /* redirected: at once */
			return;
		}
		break;
	default:
		c->leader_guess = 0;
		break;
	}
	c->retry_ns = 1000000; /* retry in a millisecond */
}

static void deliver_to_script(struct sim *s, const struct net_msg *m)
{
	struct sl_frame_expect exp = { .cluster_id = SIM_CLUSTER,
				       .node_id = 0,
				       .limits = s->cfg.limits };
	struct sl_frame_view v;

	if (sl_frame_decode(m->bytes, m->len, &exp, &v) == SL_OK) {
		s->script_resp = v.u.resp;
		s->script_got = true;
	}
}

/* ---- the scripted controller (DESIGN.md §6) ------------------------------------------ */

static bool ctl_reaches(struct sim *s, unsigned id)
{
	return s->nodes[id].up && !s->nodes[id].isolated && !s->nodes[id].ctl_cut;
}

static void ctl_command(struct sim *s, unsigned id, uint8_t cmd, uint16_t node, uint32_t epoch)
{
	struct sl_event ev = { .type = SL_EV_CONTROL, .now_ns = s->now };
	ev.u.control = (struct sl_control){ .cmd = cmd, .node = node, .epoch = epoch };
	ev.u.control.policy = s->ctl_policy;
	if (cmd == SL_CTL_FOLLOW)
		ev.u.control.learner = s->learner[id];
	if (s->o->trace) {
		char text[SL_POLICY_TEXT_MAX] = "";

		if (cmd == SL_CTL_SET_POLICY)
			sl_policy_format(&s->ctl_policy, text, sizeof(text));
		trace(s, "ctl -> n%u cmd %u node %u epoch %u %s", id, cmd, node, epoch, text);
	}
	node_step(s, &s->nodes[id], &ev);
}

/* Tells leader that node is (or is no longer) a learner, not counted by the policy. */
static void ctl_set_learner(struct sim *s, unsigned leader, unsigned node)
{
	struct sl_event ev = { .type = SL_EV_CONTROL, .now_ns = s->now };

	ev.u.control = (struct sl_control){ .cmd = SL_CTL_SET_LEARNER,
					    .node = (uint16_t)node,
					    .learner = s->learner[node],
					    .epoch = s->ctl_epoch };
	trace(s, "ctl -> n%u n%u is %s", leader, node, s->learner[node] ? "a learner" : "a member");
	node_step(s, &s->nodes[leader], &ev);
}

/* Followers that must answer before a failover: enough to include one that holds every
 * record committed under p (n-k+1 for a quorum of k). */
static unsigned quorum_of(struct sim *s, const struct sl_policy *p)
{
	unsigned followers = s->n - 1;

	for (unsigned id = 1; id <= s->n; id++)
		followers -= s->learner[id]; /* learners hold the log but are never counted */
	switch (p->kind) {
	case SL_POLICY_FIRST:
	case SL_POLICY_ANY:
		return followers - p->k + 1;
	}
	return 1;
}

/*
 * Until the CONFIG record of a policy change is known committed, records committed
 * under the previous policy may sit on fewer followers than the new one implies: ask
 * for the larger quorum. Once it commits under the new policy, every record before it
 * is where the new policy says.
 */
static unsigned ctl_quorum(struct sim *s)
{
	unsigned q = quorum_of(s, &s->ctl_policy), prev = quorum_of(s, &s->ctl_prev_policy);

	return s->ctl_commit_seen < s->ctl_policy_lsn && prev > q ? prev : q;
}

/* Sends the controller's policy to the leader and notes the LSN of its CONFIG record. */
static void ctl_send_policy(struct sim *s, unsigned id, const struct sl_policy *prev)
{
	struct sl_core_status st;

	s->ctl_prev_policy = *prev;
	ctl_command(s, id, SL_CTL_SET_POLICY, 0, s->ctl_epoch);
	sl_core_status(s->nodes[id].core, s->now, &st);
	s->ctl_policy_lsn = st.last_lsn;
}

/*
 * A leader never counts itself among the standbys of first k / any k (as in
 * PostgreSQL's synchronous_standby_names), so the controller swaps a promoted standby
 * for the old leader in the list, as Patroni does, and the new leader replicates that.
 */
static void ctl_rewrite_policy(struct sim *s, unsigned old, unsigned best)
{
	struct sl_policy p = s->ctl_policy, prev = s->ctl_policy;
	bool changed = false;

	for (unsigned i = 0; i < p.n_nodes; i++) {
		if (p.nodes[i] == best) {
			p.nodes[i] = (uint16_t)old;
			changed = true;
		}
	}
	if (changed && old && sl_policy_valid(&p))
		s->ctl_policy = p;
	/* The controller owns the policy: the new leader gets it whatever its log says. */
	ctl_send_policy(s, best, &prev);
}

static void ctl_failover(struct sim *s)
{
	uint32_t e = s->ctl_epoch + 1;
	unsigned best = 0, heard = 0, old;
	struct sl_core_status best_st = { 0 };

	for (unsigned id = 1; id <= s->n; id++) {
		struct sl_core_status st;

		if (id == s->ctl_leader || !ctl_reaches(s, id))
			continue;
		ctl_command(s, id, SL_CTL_FENCE, 0, e);
		if (s->learner[id])
			continue; /* fenced, but neither counted nor eligible */
		sl_core_status(s->nodes[id].core, s->now, &st);
		heard++;
		if (!best || st.last_epoch > best_st.last_epoch ||
		    (st.last_epoch == best_st.last_epoch && st.last_lsn > best_st.last_lsn)) {
			best = id;
			best_st = st;
		}
	}
	s->ctl_epoch = e; /* spent either way: the fence went out */
	if (heard < ctl_quorum(s)) {
		trace(s, "ctl: failover refused, heard %u of %u needed", heard, ctl_quorum(s));
		return;
	}
	old = s->ctl_leader;
	s->ctl_leader = (uint16_t)best;
	s->ctl_lost_since = 0;
	s->r->failovers++;
	trace(s, "ctl: FAILOVER to n%u at epoch %u (last %u/%" PRIu64 ")", best, e,
	      best_st.last_epoch, best_st.last_lsn);
	ctl_command(s, best, SL_CTL_PROMOTE, 0, e);
	for (unsigned id = 1; id <= s->n; id++)
		if (s->learner[id])
			ctl_set_learner(s, best, id);
	for (unsigned id = 1; id <= s->n; id++)
		if (id != best && ctl_reaches(s, id))
			ctl_command(s, id, SL_CTL_FOLLOW, (uint16_t)best, e);
	ctl_rewrite_policy(s, old, best);
}

/* The controller heard its leader: the lease goes on (untraced: once a millisecond). */
static void ctl_renew(struct sim *s, unsigned id)
{
	struct sl_event ev = { .type = SL_EV_CONTROL, .now_ns = s->now };

	ev.u.control = (struct sl_control){ .cmd = SL_CTL_RENEW, .epoch = s->ctl_epoch };
	node_step(s, &s->nodes[id], &ev);
}

/* Brings every reachable node in line with the controller's view. */
static void ctl_reconcile(struct sim *s)
{
	for (unsigned id = 1; id <= s->n; id++) {
		struct sl_core_status st;

		if (id == s->ctl_leader || !ctl_reaches(s, id))
			continue;
		sl_core_status(s->nodes[id].core, s->now, &st);
		if (st.epoch < s->ctl_epoch || st.leader != s->ctl_leader ||
		    st.role != (s->learner[id] ? SL_ROLE_LEARNER : SL_ROLE_FOLLOWER))
			ctl_command(s, id, SL_CTL_FOLLOW, s->ctl_leader, s->ctl_epoch);
	}
}

static void ctl_tick(struct sim *s)
{
	struct sl_core_status st = { 0 };
	bool ok;

	if (s->now < s->ctl_next)
		return;
	s->ctl_next = s->now + SIM_CTL_NS;
	if (s->ctl_leader)
		sl_core_status(s->nodes[s->ctl_leader].core, s->now, &st);
	ok = s->ctl_leader && ctl_reaches(s, s->ctl_leader) && st.role == SL_ROLE_LEADER &&
	     st.epoch == s->ctl_epoch;
	if (!ok) {
		if (s->ctl_lost_since == 0)
			s->ctl_lost_since = s->now;
		if (s->now - s->ctl_lost_since >= SIM_FAIL_NS || s->ctl_leader == 0)
			ctl_failover(s);
		return;
	}
	s->ctl_lost_since = 0;
	s->ctl_commit_seen = st.commit_lsn;
	if (s->cfg.lease_ns)
		ctl_renew(s, s->ctl_leader);
	ctl_reconcile(s);
}

/* ---- faults ------------------------------------------------------------------------- */

static void timer_add(struct sim *s, uint64_t at, uint8_t kind, unsigned a, unsigned b)
{
	if (s->n_timers < 64)
		s->timers[s->n_timers++] = (struct sim_timer){ at, kind, (uint8_t)a, (uint8_t)b };
}

static void set_isolated(struct sim *s, unsigned id, bool on)
{
	s->nodes[id].isolated = on;
	for (unsigned j = 1; j <= s->n; j++) {
		if (j == id)
			continue;
		s->net.cut[id][j] = on;
		s->net.cut[j][id] = on;
	}
}

static void timers_run(struct sim *s)
{
	for (unsigned i = 0; i < s->n_timers;) {
		struct sim_timer t = s->timers[i];

		if (t.at > s->now) {
			i++;
			continue;
		}
		s->timers[i] = s->timers[--s->n_timers];
		if (t.kind == 1) {
			s->net.cut[t.a][t.b] = s->net.cut[t.b][t.a] = false;
			trace(s, "heal n%u-n%u", t.a, t.b);
		} else if (t.kind == 2) {
			set_isolated(s, t.a, false);
			trace(s, "n%u rejoins the network", t.a);
		} else if (t.kind == 3 && !s->nodes[t.a].up) {
			node_start(s, &s->nodes[t.a]);
		}
	}
}

static unsigned down_count(struct sim *s)
{
	unsigned d = 0;

	for (unsigned id = 1; id <= s->n; id++)
		d += !s->nodes[id].up || s->nodes[id].isolated;
	return d;
}

static void fault_partition(struct sim *s)
{
	unsigned a = random_node(s), b = random_node(s);

	if (a == b)
		return;
	s->net.cut[a][b] = true;
	if (sim_chance(&s->rng, 500000))
		s->net.cut[b][a] = true;
	trace(s, "FAULT cut n%u->n%u%s", a, b, s->net.cut[b][a] ? " both ways" : "");
	timer_add(s, s->now + sim_range(&s->rng, 2000000, 60000000), 1, a, b);
}

static void fault_crash(struct sim *s)
{
	unsigned id = sim_chance(&s->rng, 500000) && s->ctl_leader ? s->ctl_leader : random_node(s);

	if (!s->nodes[id].up || (s->memory_only && s->crashes >= 1))
		return;
	node_crash(s, &s->nodes[id]);
	timer_add(s, s->now + sim_range(&s->rng, 5000000, 80000000), 3, id, 0);
}

static void fault_isolate(struct sim *s)
{
	unsigned id = s->ctl_leader;

	if (!id || !s->nodes[id].up)
		return;
	set_isolated(s, id, true);
	trace(s, "FAULT isolate leader n%u", id);
	timer_add(s, s->now + sim_range(&s->rng, 10000000, 100000000), 2, id, 0);
}

static void fault_policy(struct sim *s)
{
	struct sl_policy p = s->ctl_policy, prev = s->ctl_policy;
	struct sl_core_status st;

	if (s->async || !s->ctl_leader || !ctl_reaches(s, s->ctl_leader))
		return;
	sl_core_status(s->nodes[s->ctl_leader].core, s->now, &st);
	if (st.role != SL_ROLE_LEADER || st.epoch != s->ctl_epoch)
		return; /* a controller changes the policy through the current leader only */
	p.kind = (uint8_t)sim_range(&s->rng, SL_POLICY_FIRST, SL_POLICY_ALL);
	p.n_nodes = p.kind == SL_POLICY_ALL ? 0 : (uint8_t)(s->n - 1);
	memset(p.nodes, 0, sizeof(p.nodes));
	for (unsigned i = 0; i < p.n_nodes; i++)
		p.nodes[i] = (uint16_t)(((s->ctl_leader + i) % s->n) + 1);
	p.k = p.n_nodes ? (uint8_t)sim_range(&s->rng, 1, p.n_nodes) : 0;
	if (!sl_policy_valid(&p))
		return;
	s->ctl_policy = p;
	trace(s, "FAULT policy switch");
	ctl_send_policy(s, s->ctl_leader, &prev);
}

static void faults_tick(struct sim *s)
{
	uint32_t f = s->o->faults;
	unsigned pick;

	timers_run(s);
	if (!s->faults_on || s->now < s->next_fault)
		return;
	s->next_fault = s->now + sim_range(&s->rng, 5000000, 30000000);
	pick = (unsigned)sim_range(&s->rng, 0, 3);
	if (pick == 0 && (f & SIM_F_PARTITION))
		fault_partition(s);
	else if (pick == 1 && (f & SIM_F_CRASH) && down_count(s) < (s->n - 1) / 2)
		fault_crash(s);
	else if (pick == 2 && (f & SIM_F_ISOLATE) && down_count(s) < (s->n - 1) / 2)
		fault_isolate(s);
	else if (pick == 3 && (f & SIM_F_POLICY))
		fault_policy(s);
}

/* ---- setup, the loop, the end --------------------------------------------------------- */

static void draw_policy(struct sim *s, struct sl_policy *p)
{
	uint64_t k = sim_range(&s->rng, 0, 9);

	*p = sl_policy_default();
	p->kind = k < 2	  ? SL_POLICY_ASYNC
		  : k < 4 ? SL_POLICY_ALL
		  : k < 7 ? SL_POLICY_FIRST
			  : SL_POLICY_ANY;
	p->level = (uint8_t)sim_range(&s->rng, SL_LEVEL_RECEIVED, SL_LEVEL_APPLIED);
	p->durability = (uint8_t)sim_range(&s->rng, SL_DUR_NONE, SL_DUR_FSYNC);
	if (p->kind == SL_POLICY_FIRST || p->kind == SL_POLICY_ANY) {
		p->n_nodes = (uint8_t)(s->n - 1);
		for (unsigned i = 0; i < p->n_nodes; i++)
			p->nodes[i] = (uint16_t)(i + 2);
		p->k = (uint8_t)sim_range(&s->rng, 1, p->n_nodes);
	}
}

static void draw_faults(struct sim *s)
{
	uint32_t f = s->o->faults;
	struct net_faults *nf = &s->net.f;

	if (f & SIM_F_LOSS)
		nf->loss_ppm = (uint32_t)sim_range(&s->rng, 0, 50000);
	if (f & SIM_F_DUP)
		nf->dup_ppm = (uint32_t)sim_range(&s->rng, 0, 50000);
	if (f & SIM_F_REORDER) {
		nf->reorder_ppm = (uint32_t)sim_range(&s->rng, 0, 200000);
		nf->reorder_ns = sim_range(&s->rng, 10000, 2000000);
	}
	if (f & SIM_F_DELAY)
		nf->delay_max_ns = sim_range(&s->rng, 20000, 3000000);
	for (unsigned id = 1; id <= s->n; id++)
		if (f & SIM_F_DISK)
			s->nodes[id].disk.lat_max_ns = sim_range(&s->rng, 30000, 2000000);
}

static void sim_setup(struct sim *s)
{
	struct sl_core_config *cfg = &s->cfg;

	net_init(&s->net, &s->rng);
	memset(cfg, 0, sizeof(*cfg));
	sl_core_config_default(cfg);
	cfg->cluster_id = SIM_CLUSTER;
	cfg->n_members = (uint8_t)s->n;
	for (unsigned i = 0; i < s->n; i++)
		cfg->members[i] = (uint16_t)(i + 1);
	cfg->limits = (struct sl_limits){ .key_max = 16, .val_max = SL_POLICY_TEXT_MAX };
	cfg->ring_records = 256;
	cfg->window_records = 64;
	cfg->kv_keys = 64;
	cfg->dedup_clients = 64;
	cfg->pending_reads = 16;
	cfg->heartbeat_ns = 500000;
	cfg->health_ns = 10000000;
	cfg->rto_min_ns = 100000;
	cfg->rto_max_ns = 10000000;
	cfg->read_wait_ns = 3000000;
	cfg->bugs = s->o->bugs;
	cfg->lease_ns = s->o->lease_ns;
	if (s->o->client_timeout_ns)
		cfg->client_timeout_ns = s->o->client_timeout_ns;
	if (s->o->policy_given)
		cfg->policy = s->o->policy;
	else
		draw_policy(s, &cfg->policy);
	s->ctl_policy = s->ctl_prev_policy = cfg->policy;
	s->async = cfg->policy.kind == SL_POLICY_ASYNC;
	s->memory_only =
		cfg->policy.level == SL_LEVEL_RECEIVED || cfg->policy.durability == SL_DUR_NONE;
	sl_policy_format(&cfg->policy, s->r->policy, sizeof(s->r->policy));
	for (unsigned id = 1; id <= s->n; id++) {
		s->nodes[id].id = id;
		disk_init(&s->nodes[id].disk, &s->rng);
		node_start(s, &s->nodes[id]);
	}
	draw_faults(s);
	for (unsigned i = 0; i < s->n_clients; i++)
		s->clients[i] = (struct sim_client){ .id = SIM_CLIENT_BASE + i };
	s->ctl_epoch = 0;
	s->faults_on = true;
	s->next_fault = 10000000;
}

static void sim_iteration(struct sim *s, bool clients_start)
{
	struct net_msg m;

	faults_tick(s);
	ctl_tick(s);
	for (unsigned i = 0; i < s->n_clients; i++)
		client_tick(s, i, clients_start);
	while (net_pop(&s->net, s->now, &m)) {
		if (m.dst >= 1 && m.dst <= s->n) {
			if (s->nodes[m.dst].up)
				deliver_to_node(s, &s->nodes[m.dst], &m);
		} else if (m.dst > s->n && m.dst - s->n - 1 < s->n_clients) {
			deliver_to_client(s, m.dst - s->n - 1, &m);
		} else if (m.dst == s->n + 1 + SIM_CLIENTS_MAX) {
			deliver_to_script(s, &m);
		}
		free(m.bytes);
	}
	for (unsigned id = 1; id <= s->n; id++) {
		struct sim_node *nd = &s->nodes[id];
		struct sl_event tick = { .type = SL_EV_TICK, .now_ns = s->now };
		struct disk_op op;

		if (!nd->up)
			continue;
		while (disk_pop(&nd->disk, s->now, &op))
			deliver_disk(s, nd, &op);
		node_step(s, nd, &tick);
	}
	s->now += SIM_DT_NS;
}

/* Faults stop; every node comes back; the cluster must converge on one state. */
static bool converged(struct sim *s)
{
	struct sl_core_status lst, st;
	uint64_t digest;

	if (!s->ctl_leader)
		return false;
	sl_core_status(s->nodes[s->ctl_leader].core, s->now, &lst);
	if (lst.role != SL_ROLE_LEADER || lst.commit_lsn != lst.last_lsn ||
	    lst.applied_lsn != lst.commit_lsn)
		return false;
	digest = sl_core_kv_digest(s->nodes[s->ctl_leader].core);
	for (unsigned id = 1; id <= s->n; id++) {
		if (!s->nodes[id].up)
			return false;
		sl_core_status(s->nodes[id].core, s->now, &st);
		if (st.applied_lsn != lst.commit_lsn || st.epoch != lst.epoch ||
		    sl_core_kv_digest(s->nodes[id].core) != digest)
			return false;
	}
	return true;
}

static void sim_settle(struct sim *s)
{
	uint64_t end = s->now + SIM_SETTLE_NS;

	s->faults_on = false;
	s->net.f = (struct net_faults){ .delay_min_ns = 5000, .delay_max_ns = 20000 };
	memset(s->net.cut, 0, sizeof(s->net.cut));
	for (unsigned id = 1; id <= s->n; id++) {
		s->nodes[id].isolated = false;
		s->nodes[id].ctl_cut = false;
		if (!s->nodes[id].up)
			node_start(s, &s->nodes[id]);
	}
	s->n_timers = 0;
	while (s->now < end) {
		sim_iteration(s, false);
		if (s->now % SIM_CTL_NS == 0 && converged(s))
			return;
	}
	{
		char what[160];
		int k = 0;

		for (unsigned id = 1; id <= s->n; id++) {
			struct sl_core_status st;

			sl_core_status(s->nodes[id].core, s->now, &st);
			k += snprintf(what + k, sizeof(what) - (size_t)k,
				      " n%u:%s/e%u/last%" PRIu64 "/c%" PRIu64 "/a%" PRIu64, id,
				      sl_role_name(st.role), st.epoch, st.last_lsn, st.commit_lsn,
				      st.applied_lsn);
			if (k >= (int)sizeof(what))
				break;
		}
		if (s->o->trace && s->ctl_leader) {
			struct sl_core_status st;
			char text[SL_POLICY_TEXT_MAX];

			sl_core_status(s->nodes[s->ctl_leader].core, s->now, &st);
			sl_policy_format(&st.policy, text, sizeof(text));
			trace(s, "leader n%u policy %s degraded %d", s->ctl_leader, text,
			      st.degraded);
			for (unsigned i = 0; i < st.n_peers; i++)
				trace(s,
				      "  peer n%u r%" PRIu64 " f%" PRIu64 " a%" PRIu64
				      " healthy %d sync %d",
				      st.peers[i].node, st.peers[i].received_lsn,
				      st.peers[i].flushed_lsn, st.peers[i].applied_lsn,
				      st.peers[i].healthy, st.peers[i].sync);
		}
		violation(s, "no convergence %.0f ms after the faults stopped:%s",
			  (double)SIM_SETTLE_NS / 1e6, what);
	}
}

/* Every acknowledged write is in the final committed log under its commit token. */
static void check_acks(struct sim *s)
{
	for (size_t i = 0; i < s->n_acks; i++) {
		const struct sim_ack *a = &s->acks[i];
		bool ok = a->lsn >= 1 && a->lsn <= s->gc_len && s->gc[a->lsn].epoch == a->epoch &&
			  s->gc[a->lsn].client_id == a->client_id && s->gc[a->lsn].seq == a->seq;

		if (ok)
			continue;
		if (s->async) {
			s->r->lost_writes++;
			continue;
		}
		violation(s,
			  "acknowledged write lost: client %" PRIu64 " seq %" PRIu64
			  " token %u/%" PRIu64,
			  a->client_id, a->seq, a->epoch, a->lsn);
	}
}

static void sim_free(struct sim *s)
{
	for (unsigned id = 1; id <= s->n; id++) {
		struct sim_node *nd = &s->nodes[id];

		if (nd->up)
			node_account(s, nd);
		free(nd->mem);
		free(nd->chain);
		free(nd->out.act);
		free(nd->out.refs);
		free(nd->out.freed);
		disk_free(&nd->disk);
	}
	net_free(&s->net);
	free(s->gc_chain);
	free(s->gc);
	free(s->acks);
	simbuf_free_all();
}

struct sim *sim_new(const struct sim_opts *o, struct sim_result *r)
{
	struct sim *s = xcalloc(1, sizeof(*s));

	memset(r, 0, sizeof(*r));
	s->o = o;
	s->r = r;
	s->rng = o->seed * 0x9e3779b97f4a7c15ull + 1;
	s->n = o->nodes < 3 ? 3 : o->nodes > SIM_NODES_MAX ? SIM_NODES_MAX : o->nodes;
	s->n_clients = o->clients > SIM_CLIENTS_MAX ? SIM_CLIENTS_MAX : o->clients;
	sim_setup(s);
	trace(s, "seed %" PRIu64 ": %u nodes, policy %s, faults 0x%x, lease %" PRIu64 " us",
	      o->seed, s->n, r->policy, o->faults, o->lease_ns / 1000);
	return s;
}

void sim_run_for(struct sim *s, uint64_t ns, bool clients)
{
	uint64_t end = s->now + ns;

	while (s->now < end)
		sim_iteration(s, clients);
}

void sim_finish(struct sim *s)
{
	struct sim_result *r = s->r;

	sim_settle(s);
	check_acks(s);
	if (s->ctl_leader) {
		struct sl_core_status st;

		sl_core_status(s->nodes[s->ctl_leader].core, s->now, &st);
		r->commit_lsn = st.commit_lsn;
	}
	sim_free(s);
	free(s);
}

int sim_run(const struct sim_opts *o, struct sim_result *r)
{
	struct sim *s = sim_new(o, r);

	sim_run_for(s, o->duration_ns, true);
	sim_finish(s);
	return 0;
}

/* ---- scripted control, for scenario tests -------------------------------------------- */

void sim_crash(struct sim *s, unsigned id)
{
	if (id >= 1 && id <= s->n && s->nodes[id].up)
		node_crash(s, &s->nodes[id]);
}

void sim_restart(struct sim *s, unsigned id)
{
	if (id >= 1 && id <= s->n && !s->nodes[id].up)
		node_start(s, &s->nodes[id]);
}

void sim_isolate(struct sim *s, unsigned id, bool on)
{
	if (id >= 1 && id <= s->n) {
		set_isolated(s, id, on);
		trace(s, on ? "script: isolate n%u" : "script: n%u rejoins", id);
	}
}

void sim_ctl_cut(struct sim *s, unsigned id, bool on)
{
	if (id >= 1 && id <= s->n) {
		s->nodes[id].ctl_cut = on;
		trace(s, on ? "script: controller loses n%u" : "script: controller hears n%u", id);
	}
}

void sim_set_policy(struct sim *s, const struct sl_policy *p)
{
	struct sl_policy prev = s->ctl_policy;

	s->ctl_policy = *p;
	if (s->ctl_leader)
		ctl_send_policy(s, s->ctl_leader, &prev);
}

void sim_set_learner(struct sim *s, unsigned id, bool on)
{
	s->learner[id] = on;
	if (s->ctl_leader && s->ctl_leader != id) {
		ctl_set_learner(s, s->ctl_leader, id);
		ctl_command(s, id, SL_CTL_FOLLOW, s->ctl_leader, s->ctl_epoch);
	}
}

unsigned sim_leader(const struct sim *s)
{
	return s->ctl_leader;
}

void sim_node_status(struct sim *s, unsigned id, struct sl_core_status *st)
{
	sl_core_status(s->nodes[id].core, s->now, st);
}

const struct sl_core_stats *sim_node_stats(struct sim *s, unsigned id)
{
	return sl_core_stats(s->nodes[id].core);
}

uint64_t sim_node_digest(struct sim *s, unsigned id)
{
	return sl_core_kv_digest(s->nodes[id].core);
}

int sim_request(struct sim *s, unsigned node, const struct sl_client_req *req, const char *key,
		const char *val, struct sl_client_resp *resp)
{
	uint8_t body[SL_POLICY_TEXT_MAX + 64];
	union sl_type_hdr th = { .req = *req };
	unsigned ep = s->n + 1 + SIM_CLIENTS_MAX;
	uint64_t end = s->now + 50000000;

	memcpy(body, key, req->key_len);
	if (req->val_len)
		memcpy(body + req->key_len, val, req->val_len);
	s->script_got = false;
	send_frame(s, ep, node, SL_NODE_ANY, SL_FRAME_CLIENT_REQ, 0, &th, body,
		   req->key_len + req->val_len);
	while (!s->script_got && s->now < end)
		sim_iteration(s, false);
	if (!s->script_got)
		return -ETIMEDOUT;
	*resp = s->script_resp;
	return 0;
}
