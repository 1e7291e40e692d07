/* Replication core: memory layout, step dispatch, the log ring and the epoch history. */
#include <errno.h>
#include <string.h>

#include "core_internal.h"
#include "image.h"

#define CORE_ALIGN 64u

static size_t align_up(size_t n)
{
	return (n + CORE_ALIGN - 1) & ~(size_t)(CORE_ALIGN - 1);
}

void sl_core_config_default(struct sl_core_config *cfg)
{
	cfg->limits = sl_limits_default();
	cfg->ring_records = 4096;
	cfg->window_records = 1024;
	/* 1500 B MTU less IPv4, UDP, frame and APPEND headers. */
	cfg->batch_bytes = 1500 - 20 - 8 - SL_FRAME_HDR_LEN - sizeof(struct sl_append_hdr);
	cfg->kv_keys = 65536;
	cfg->dedup_clients = 4096;
	cfg->pending_reads = 256;
	cfg->reorder_frames = 16;
	cfg->hash_seed = 0x9e3779b97f4a7c15ull;
	cfg->heartbeat_ns = 1000000;
	cfg->health_ns = 20000000;
	cfg->rto_min_ns = 200000;
	cfg->rto_max_ns = 50000000;
	cfg->read_wait_ns = 10000000;
	cfg->client_timeout_ns = 5000000000ull;
	cfg->lease_ns = 0; /* check-quorum is opt-in: the controller must send RENEW */
	cfg->pause_max_ns = 10000000000ull;
	cfg->policy = sl_policy_default();
	cfg->bugs = 0;
}

/* Most records one APPEND body (or one catch-up read) can carry. */
uint32_t core_batch_records_max(const struct sl_core_config *cfg)
{
	return cfg->batch_bytes / SL_REC_HDR_LEN + 1;
}

static bool config_valid(const struct sl_core_config *cfg)
{
	bool self = false;

	for (unsigned i = 0; i < cfg->n_members; i++)
		self |= cfg->members[i] == cfg->node_id;
	return self && cfg->node_id >= 1 && cfg->node_id <= SL_NODE_MAX &&
	       cfg->n_members <= SL_NODE_MAX && cfg->max_members <= SL_NODE_MAX &&
	       cfg->ring_records >= 16 && (cfg->ring_records & (cfg->ring_records - 1)) == 0 &&
	       cfg->window_records >= 1 && cfg->kv_keys >= 1 && cfg->dedup_clients >= 1 &&
	       cfg->pending_reads >= 1 && cfg->limits.key_max >= 1 &&
	       cfg->limits.key_max <= UINT16_MAX &&
	       /* Followers check CONFIG records against the same limits as client data. */
	       cfg->limits.val_max >= SL_POLICY_TEXT_MAX &&
	       sl_record_size(SL_REC_F_ORIGIN, cfg->limits.key_max, cfg->limits.val_max) <=
		       cfg->batch_bytes &&
	       cfg->rto_min_ns >= 1 && cfg->rto_max_ns >= cfg->rto_min_ns &&
	       sl_policy_valid(&cfg->policy);
}

static struct core_kv_config kv_config(const struct sl_core_config *cfg)
{
	return (struct core_kv_config){ .max_keys = cfg->kv_keys,
					.key_max = cfg->limits.key_max,
					.val_max = cfg->limits.val_max,
					.hash_seed = cfg->hash_seed };
}

/* Offsets of each region inside the caller's block; returns the total, 0 if invalid. */
struct core_layout {
	size_t ring, kv, kv_len, sessions, reads, read_keys, slab, parked, parked_refs, total;
	uint32_t session_mask;
};

static size_t core_layout(const struct sl_core_config *cfg, struct core_layout *l)
{
	struct core_kv_config kc = kv_config(cfg);

	if (!config_valid(cfg))
		return 0;
	l->kv_len = core_kv_mem_size(&kc);
	if (l->kv_len == 0)
		return 0;
	l->ring = align_up(sizeof(struct sl_core));
	l->kv = align_up(l->ring + (size_t)cfg->ring_records * sizeof(struct core_entry));
	l->sessions = align_up(l->kv + l->kv_len);
	l->reads = align_up(l->sessions + core_sessions_size(cfg->dedup_clients, &l->session_mask));
	l->read_keys = align_up(l->reads + (size_t)cfg->pending_reads * sizeof(struct core_read));
	l->slab = align_up(l->read_keys + (size_t)cfg->pending_reads * cfg->limits.key_max);
	l->parked = align_up(l->slab + CORE_SLAB_SLOTS * CORE_SLAB_SLOT_LEN);
	l->parked_refs =
		align_up(l->parked + (size_t)cfg->reorder_frames * sizeof(struct core_parked));
	l->total = align_up(l->parked_refs + (size_t)cfg->reorder_frames *
						     core_batch_records_max(cfg) *
						     sizeof(struct sl_rec_ref));
	return l->total;
}

size_t sl_core_mem_size(const struct sl_core_config *cfg)
{
	struct core_layout l;

	return core_layout(cfg, &l);
}

/* How many members the core may have: its own and those SL_CTL_ADD_PEER may add. */
static unsigned members_max(const struct sl_core_config *cfg)
{
	return cfg->max_members > cfg->n_members ? cfg->max_members : cfg->n_members;
}

void sl_actions_caps(const struct sl_core_config *cfg, struct sl_actions_caps *caps)
{
	uint32_t batch = core_batch_records_max(cfg);
	unsigned members = members_max(cfg);

	/* A TICK may commit a whole ring (one reply each), answer every parked read and
	 * send a burst of frames and one WAL read per peer; a truncation frees a ring. */
	caps->actions =
		cfg->ring_records + cfg->pending_reads + members * (CORE_FRAMES_PER_TICK + 4) + 16;
	caps->refs = cfg->ring_records + members * CORE_FRAMES_PER_TICK * batch;
	caps->freed = 2 * cfg->ring_records + (2 + cfg->reorder_frames) * batch + CORE_SLAB_SLOTS;
}

static void core_peers_init(struct sl_core *c)
{
	c->n_peers = 0;
	for (unsigned i = 0; i < c->cfg.n_members; i++) {
		if (c->cfg.members[i] == c->cfg.node_id)
			continue;
		c->peers[c->n_peers++] = (struct core_peer){ .id = c->cfg.members[i] };
	}
}

static bool recovered_valid(const struct sl_core_recovered *rec)
{
	if (rec->n_hist > SL_EPOCH_HIST_MAX || rec->commit_hint > rec->last_lsn)
		return false;
	for (unsigned i = 1; i < rec->n_hist; i++)
		if (rec->hist[i].epoch <= rec->hist[i - 1].epoch ||
		    rec->hist[i].first_lsn <= rec->hist[i - 1].first_lsn)
			return false;
	return rec->n_hist == 0 || rec->hist[rec->n_hist - 1].epoch <= rec->epoch;
}

/* The state from the newest snapshot; the log after it is applied from the WAL. */
static bool core_init_image(struct sl_core *c, const struct sl_core_recovered *rec)
{
	struct sl_image_info info;

	if (core_image_load(c, rec->image, rec->image_len, &info) != 0 || info.lsn > c->last_lsn)
		return false;
	c->snap_lsn = info.lsn;
	c->snap_epoch = info.epoch;
	c->snap_len = rec->image_len;
	if (c->commit_lsn < info.lsn)
		c->commit_lsn = info.lsn; /* a snapshot holds only committed records */
	return true;
}

struct sl_core *sl_core_init(void *mem, size_t len, const struct sl_core_config *cfg,
			     const struct sl_core_recovered *rec)
{
	struct core_layout l;
	struct sl_core *c = mem;
	uint8_t *base = mem;
	struct core_kv_config kc = kv_config(cfg);

	if (core_layout(cfg, &l) == 0 || len < l.total || ((uintptr_t)mem & 7) != 0)
		return NULL;
	if (rec && !recovered_valid(rec))
		return NULL;
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	c->ring = (struct core_entry *)(base + l.ring);
	c->ring_mask = cfg->ring_records - 1;
	c->kv = core_kv_init(base + l.kv, l.kv_len, &kc);
	c->sessions = (struct core_session *)(base + l.sessions);
	c->session_mask = l.session_mask;
	memset(c->sessions, 0, (size_t)(l.session_mask + 1) * sizeof(struct core_session));
	c->reads = (struct core_read *)(base + l.reads);
	memset(c->reads, 0, (size_t)cfg->pending_reads * sizeof(struct core_read));
	c->read_keys = base + l.read_keys;
	c->slab = base + l.slab;
	c->parked = (struct core_parked *)(base + l.parked);
	for (uint32_t i = 0; i < cfg->reorder_frames; i++)
		c->parked[i] =
			(struct core_parked){ .recs = (struct sl_rec_ref *)(base + l.parked_refs) +
						      (size_t)i * core_batch_records_max(cfg) };
	c->slab_free = (CORE_SLAB_SLOTS == 32) ? UINT32_MAX : (1u << CORE_SLAB_SLOTS) - 1;
	if (c->kv == NULL)
		return NULL;
	c->role = SL_ROLE_FENCED;
	c->policy = c->applied_policy = cfg->policy;
	c->epoch_start_lsn = UINT64_MAX;
	c->leader_heard_ns = UINT64_MAX;
	if (rec) {
		c->epoch = rec->epoch;
		c->last_lsn = c->persist_lsn = c->flushed_lsn = rec->last_lsn;
		c->commit_lsn = rec->commit_hint;
		memcpy(c->hist, rec->hist, sizeof(c->hist));
		c->n_hist = rec->n_hist;
		c->last_epoch = core_epoch_at(c, c->last_lsn);
		if (rec->image && !core_init_image(c, rec))
			return NULL;
	}
	c->ring_lo = c->last_lsn + 1;
	core_peers_init(c);
	return c;
}

/* ---- actions ------------------------------------------------------------------------ */

struct sl_action *core_act(struct sl_actions *out, uint8_t type)
{
	struct sl_action *a;

	/* sl_actions_caps() bounds every step; running out is a bug in those bounds. */
	assert(out->n_act < out->cap_act);
	if (out->n_act >= out->cap_act)
		return NULL;
	a = &out->act[out->n_act++];
	memset(a, 0, sizeof(*a)); /* about 80 bytes: every member starts zeroed */
	a->type = type;
	return a;
}

void core_free(struct sl_actions *out, uint64_t handle)
{
	assert(out->n_freed < out->cap_freed);
	assert((handle & CORE_SLAB_HANDLE) == 0);
	if (out->n_freed < out->cap_freed)
		out->freed[out->n_freed++] = handle;
}

void core_notify(struct sl_actions *out, uint32_t what, uint64_t a, uint64_t b)
{
	struct sl_action *act = core_act(out, SL_ACT_NOTIFY);

	if (act) {
		act->u.notify.what = what;
		act->u.notify.a = a;
		act->u.notify.b = b;
	}
}

void core_save_meta(struct sl_core *c, struct sl_actions *out)
{
	struct sl_action *a = core_act(out, SL_ACT_SAVE_META);

	if (a) {
		a->u.meta.epoch = c->epoch;
		a->u.meta.hist = c->hist;
		a->u.meta.n_hist = c->n_hist;
	}
}

/* ---- the core's own records (NOOP, CONFIG) ------------------------------------------ */

bool core_slab_alloc(struct sl_core *c, struct sl_rec_ref *ref)
{
	unsigned slot;

	if (c->slab_free == 0)
		return false;
	slot = (unsigned)__builtin_ctz(c->slab_free);
	c->slab_free &= ~(1u << slot);
	ref->data = c->slab + (size_t)slot * CORE_SLAB_SLOT_LEN;
	ref->len = CORE_SLAB_SLOT_LEN;
	ref->handle = CORE_SLAB_HANDLE | slot;
	return true;
}

void core_release_ref(struct sl_core *c, struct sl_actions *out, const struct sl_rec_ref *ref)
{
	if (ref->handle & CORE_SLAB_HANDLE) {
		unsigned slot = (unsigned)(ref->handle & ~CORE_SLAB_HANDLE);

		assert(slot < CORE_SLAB_SLOTS && !(c->slab_free & (1u << slot)));
		c->slab_free |= 1u << slot;
	} else {
		core_free(out, ref->handle);
	}
}

/* ---- the log ring ------------------------------------------------------------------- */

/*
 * A slot is reused only once its record is durable here and applied: from then on the
 * WAL serves it (catch-up, re-apply), so the ring is a cache of the log's tail.
 */
bool core_ring_make_room(struct sl_core *c, struct sl_actions *out)
{
	struct core_entry *e;

	if (c->last_lsn + 1 - c->ring_lo <= c->ring_mask)
		return true;
	if (c->ring_lo > c->flushed_lsn || c->ring_lo > c->applied_lsn)
		return false;
	e = &c->ring[c->ring_lo & c->ring_mask];
	assert(e->lsn == c->ring_lo);
	if (e->has_ctx)
		return false; /* its client has not been answered yet */
	core_release_ref(c, out, &e->ref);
	c->ring_lo++;
	return true;
}

static void hist_push(struct sl_core *c, uint32_t epoch, uint64_t lsn)
{
	if (c->n_hist == SL_EPOCH_HIST_MAX) {
		/* The oldest epochs only matter for logs diverging that far back. */
		memmove(c->hist, c->hist + 1, sizeof(c->hist[0]) * (SL_EPOCH_HIST_MAX - 1));
		c->n_hist--;
	}
	c->hist[c->n_hist++] = (struct sl_epoch_start){ .epoch = epoch, .first_lsn = lsn };
}

void core_ring_push(struct sl_core *c, const struct sl_rec_ref *ref, uint64_t lsn, uint32_t epoch,
		    uint8_t type)
{
	struct core_entry *e = &c->ring[lsn & c->ring_mask];

	assert(lsn == c->last_lsn + 1);
	assert(lsn - c->ring_lo <= c->ring_mask);
	assert(epoch >= c->last_epoch);
	e->ref = *ref;
	e->lsn = lsn;
	e->epoch = epoch;
	e->type = type;
	e->arrival_ns = c->now_ns;
	e->has_ctx = 0;
	if (c->n_hist == 0 || epoch > c->hist[c->n_hist - 1].epoch)
		hist_push(c, epoch, lsn);
	c->last_lsn = lsn;
	c->last_epoch = epoch;
	c->stats.records_appended++;
}

uint32_t core_epoch_at(const struct sl_core *c, uint64_t lsn)
{
	if (lsn == 0)
		return 0;
	for (int i = c->n_hist - 1; i >= 0; i--)
		if (c->hist[i].first_lsn <= lsn)
			return c->hist[i].epoch;
	return 0; /* older than the history remembers */
}

/* Last LSN of our log whose epoch is at most epoch (Kafka's end offset for an epoch). */
uint64_t core_epoch_end(const struct sl_core *c, uint32_t epoch)
{
	for (unsigned i = 0; i < c->n_hist; i++)
		if (c->hist[i].epoch > epoch)
			return c->hist[i].first_lsn - 1;
	return c->last_lsn;
}

/* Drops the log above after_lsn: a divergent suffix from an older epoch (DESIGN.md §6). */
void core_truncate(struct sl_core *c, uint64_t after_lsn, struct sl_actions *out)
{
	uint64_t n = c->last_lsn - after_lsn;
	struct sl_action *a;

	if (after_lsn >= c->last_lsn)
		return;
	for (uint64_t lsn = c->last_lsn; lsn > after_lsn && lsn >= c->ring_lo; lsn--)
		core_release_ref(c, out, &c->ring[lsn & c->ring_mask].ref);
	while (c->n_hist > 0 && c->hist[c->n_hist - 1].first_lsn > after_lsn)
		c->n_hist--;
	c->last_lsn = after_lsn;
	c->last_epoch = core_epoch_at(c, after_lsn);
	if (c->ring_lo > after_lsn + 1)
		c->ring_lo = after_lsn + 1;
	if (c->persist_lsn > after_lsn)
		c->persist_lsn = after_lsn;
	if (c->flushed_lsn > after_lsn)
		c->flushed_lsn = after_lsn;
	if (c->match_lsn > after_lsn)
		c->match_lsn = after_lsn;
	/* Under async a node may have applied records the new leader never had. */
	if (c->commit_lsn > after_lsn)
		c->commit_lsn = after_lsn;
	if (c->applied_lsn > after_lsn)
		core_apply_reset(c);
	a = core_act(out, SL_ACT_TRUNCATE);
	if (a)
		a->u.truncate.after_lsn = after_lsn;
	core_notify(out, SL_NOTE_TRUNCATED, after_lsn + 1, n);
	core_save_meta(c, out);
	c->stats.truncated_records += n;
}

/* Hands every record not yet given to the WAL to it, in one batch. */
void core_persist_new(struct sl_core *c, struct sl_actions *out)
{
	struct sl_action *a;

	if (c->persist_lsn >= c->last_lsn)
		return;
	a = core_act(out, SL_ACT_PERSIST);
	if (!a)
		return;
	a->u.persist.recs = out->refs + out->n_refs;
	a->u.persist.first_lsn = c->persist_lsn + 1;
	a->u.persist.last_lsn = c->last_lsn;
	a->u.persist.last_epoch = c->last_epoch;
	a->u.persist.commit_lsn = c->commit_lsn;
	for (uint64_t lsn = c->persist_lsn + 1; lsn <= c->last_lsn; lsn++) {
		assert(out->n_refs < out->cap_refs);
		out->refs[out->n_refs++] = core_entry(c, lsn)->ref;
		a->u.persist.n_recs++;
	}
	c->persist_lsn = c->last_lsn;
}

bool core_is_member(const struct sl_core *c, uint16_t node)
{
	for (unsigned i = 0; i < c->cfg.n_members; i++)
		if (c->cfg.members[i] == node)
			return true;
	return false;
}

/* ---- roles -------------------------------------------------------------------------- */

void core_set_role(struct sl_core *c, uint8_t role, uint32_t epoch, uint16_t leader,
		   struct sl_actions *out)
{
	bool new_epoch = epoch > c->epoch;

	assert(epoch >= c->epoch);
	if (c->role == SL_ROLE_LEADER && (role != SL_ROLE_LEADER || new_epoch)) {
		c->leader = leader;
		core_leader_abandon_clients(c, out);
		c->degraded = false;
		c->policy = c->applied_policy;
		c->epoch_start_lsn = UINT64_MAX;
		c->noop_pending = false;
	}
	if (new_epoch || leader != c->leader) {
		c->match_lsn = 0; /* nothing known to agree with a new leader yet */
		core_follower_reset(c, out);
	}
	if (new_epoch || leader != c->leader || role != c->role) {
		/* A pause, a lost lease and the leader's age belong to the role they began in. */
		c->paused = false;
		c->lease_expired = false;
		c->leader_heard_ns = UINT64_MAX;
	}
	c->epoch = epoch;
	c->leader = leader;
	if (new_epoch)
		core_save_meta(c, out); /* fencing holds across restarts */
	if (role != c->role || new_epoch)
		core_notify(out, SL_NOTE_ROLE, role, epoch);
	c->role = role;
}

/*
 * A node joins the cluster at run time (the controller's add-node): a member from now
 * on, counted by the policy unless learner. Adding one already there sets its flag.
 */
static int core_add_peer(struct sl_core *c, uint16_t node, bool learner)
{
	struct core_peer *p;

	if (node == 0 || node > SL_NODE_MAX || node == c->cfg.node_id)
		return -EINVAL;
	p = core_peer_find(c, node);
	if (p) {
		p->learner = learner;
		return 0;
	}
	if (c->cfg.n_members >= members_max(&c->cfg))
		return -ENOSPC; /* the actions were sized for max_members */
	c->cfg.members[c->cfg.n_members++] = node;
	p = &c->peers[c->n_peers++];
	*p = (struct core_peer){ .id = node, .learner = learner };
	if (c->role == SL_ROLE_LEADER)
		core_leader_peer_reset(c, p);
	return 0;
}

/*
 * A node leaves: nothing is sent to it, its ACKs and NACKs are foreign from now on, and
 * it counts for no policy (a leader it might become is fenced by epoch, as any other).
 * Never self, nor our leader.
 */
static int core_remove_peer(struct sl_core *c, uint16_t node)
{
	unsigned i;

	if (node == c->cfg.node_id || (c->role != SL_ROLE_LEADER && node == c->leader))
		return -EINVAL;
	for (i = 0; i < c->n_peers && c->peers[i].id != node; i++)
		;
	if (i == c->n_peers)
		return 0; /* not a peer (any more): done already */
	memmove(&c->peers[i], &c->peers[i + 1], (c->n_peers - i - 1) * sizeof(c->peers[0]));
	c->n_peers--;
	for (i = 0; i < c->cfg.n_members && c->cfg.members[i] != node; i++)
		;
	memmove(&c->cfg.members[i], &c->cfg.members[i + 1],
		(c->cfg.n_members - i - 1) * sizeof(c->cfg.members[0]));
	c->cfg.n_members--;
	return 0;
}

static int core_on_control(struct sl_core *c, const struct sl_control *ctl, struct sl_actions *out)
{
	uint16_t self = c->cfg.node_id;
	bool same = ctl->epoch == c->epoch;

	if (ctl->epoch < c->epoch) {
		c->stats.stale_epoch++;
		return -ESTALE;
	}
	switch (ctl->cmd) {
	case SL_CTL_PROMOTE:
		if (same && c->role == SL_ROLE_LEADER)
			return 0;
		if (same && c->leader != 0 && c->leader != self)
			return -EEXIST; /* this epoch has another leader already */
		core_set_role(c, SL_ROLE_LEADER, ctl->epoch, self, out);
		core_leader_start(c, out);
		return 0;
	case SL_CTL_FOLLOW:
		if (ctl->node == self || !core_is_member(c, ctl->node) ||
		    (same && c->leader != 0 && c->leader != ctl->node))
			return -EINVAL;
		core_set_role(c, ctl->learner ? SL_ROLE_LEARNER : SL_ROLE_FOLLOWER, ctl->epoch,
			      ctl->node, out);
		return 0;
	case SL_CTL_FENCE:
		/* The next leader of this epoch, whoever the controller promotes, is adopted
		 * on its first frame: there is one leader per epoch. */
		core_set_role(c, SL_ROLE_FENCED, ctl->epoch, 0, out);
		return 0;
	case SL_CTL_SET_POLICY:
		if (c->role != SL_ROLE_LEADER || !same)
			return -EPERM;
		core_leader_set_policy(c, &ctl->policy, out);
		return 0;
	case SL_CTL_PAUSE:
		/* Switchover (DESIGN.md §6): new writes wait while the target catches up. */
		if (c->role != SL_ROLE_LEADER || !same)
			return -EPERM;
		c->paused = ctl->pause != 0;
		c->pause_ns = c->now_ns;
		return 0;
	case SL_CTL_RENEW:
		/* Only the leader holds a lease; anyone else has nothing to renew. */
		if (c->role == SL_ROLE_LEADER && same)
			c->lease_renew_ns = c->now_ns;
		return 0;
	case SL_CTL_SET_LEARNER: {
		struct core_peer *p = core_peer_find(c, ctl->node);

		if (!p)
			return -EINVAL;
		p->learner = ctl->learner != 0;
		return 0;
	}
	case SL_CTL_ADD_PEER:
		return core_add_peer(c, ctl->node, ctl->learner != 0);
	case SL_CTL_REMOVE_PEER:
		return core_remove_peer(c, ctl->node);
	}
	return -EINVAL;
}

static void free_frame_recs(const struct sl_event *ev, struct sl_actions *out)
{
	for (uint32_t i = 0; i < ev->u.frame.n_recs; i++)
		core_free(out, ev->u.frame.recs[i].handle);
}

/* A frame from a newer epoch teaches us the epoch; from a leader, also who leads. */
static void core_learn_epoch(struct sl_core *c, const struct sl_frame_view *v,
			     struct sl_actions *out)
{
	const struct sl_frame_hdr *h = &v->hdr;
	bool from_leader = h->type == SL_FRAME_APPEND ||
			   (h->type == SL_FRAME_SNAPSHOT_CHUNK && v->u.snap.chunk_len > 0);
	uint8_t role = c->role == SL_ROLE_LEARNER ? SL_ROLE_LEARNER : SL_ROLE_FOLLOWER;

	if (from_leader)
		core_set_role(c, role, h->epoch, h->src_node, out);
	else
		core_set_role(c, SL_ROLE_FENCED, h->epoch, 0, out);
}

/* Whether a frame from the leader of our epoch may be taken (and who leads). */
static bool core_accept_leader_frame(struct sl_core *c, uint16_t src, struct sl_actions *out)
{
	if (c->role == SL_ROLE_LEADER) {
		core_notify(out, SL_NOTE_SPLIT_BRAIN, src, c->epoch);
		return false;
	}
	if (c->leader == 0) {
		uint8_t role = c->role == SL_ROLE_LEARNER ? SL_ROLE_LEARNER : SL_ROLE_FOLLOWER;

		core_set_role(c, role, c->epoch, src, out);
	}
	if (c->role == SL_ROLE_FENCED && c->leader == src)
		core_set_role(c, SL_ROLE_FOLLOWER, c->epoch, src, out);
	return c->leader == src;
}

static int core_on_frame(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	const struct sl_frame_view *v = ev->u.frame.view;
	const struct sl_frame_hdr *h = &v->hdr;

	c->stats.frames_received[h->type < SL_FRAME__MAX ? h->type : 0]++;
	if (h->epoch < c->epoch) {
		if (CORE_BUG(c, SL_BUG_ACCEPT_OLD_EPOCH) && h->type == SL_FRAME_APPEND &&
		    c->role != SL_ROLE_LEADER) {
			core_follower_on_append(c, ev, out);
			return 0;
		}
		c->stats.stale_epoch++;
		free_frame_recs(ev, out);
		return 0;
	}
	if (h->epoch > c->epoch)
		core_learn_epoch(c, v, out);
	switch (h->type) {
	case SL_FRAME_APPEND:
		if (!core_accept_leader_frame(c, h->src_node, out))
			break;
		c->leader_heard_ns = c->now_ns;
		core_follower_on_append(c, ev, out);
		return 0;
	case SL_FRAME_HEARTBEAT:
		/* Our leaders send empty APPENDs; a HEARTBEAT still shows the leader alive. */
		if (c->role != SL_ROLE_LEADER && c->leader != 0 && c->leader == h->src_node) {
			c->leader_heard_ns = c->now_ns;
			return 0;
		}
		break;
	case SL_FRAME_ACK:
		if (c->role == SL_ROLE_LEADER && h->epoch == c->epoch) {
			core_leader_on_ack(c, h->src_node, &v->u.ack, out);
			return 0;
		}
		break;
	case SL_FRAME_NACK:
		if (c->role == SL_ROLE_LEADER && h->epoch == c->epoch) {
			core_leader_on_nack(c, h->src_node, &v->u.nack, out);
			return 0;
		}
		break;
	case SL_FRAME_SNAPSHOT_CHUNK:
		/* From the leader with a body; from a follower without (how far it got). */
		if (c->role == SL_ROLE_LEADER && h->epoch == c->epoch && v->u.snap.chunk_len == 0) {
			core_snap_on_ack(c, h->src_node, &v->u.snap);
			return 0;
		}
		if (v->u.snap.chunk_len > 0 && core_accept_leader_frame(c, h->src_node, out)) {
			c->leader_heard_ns = c->now_ns;
			core_snap_on_chunk(c, v, out);
			return 0;
		}
		break;
	}
	c->stats.foreign_frames++;
	free_frame_recs(ev, out);
	return 0;
}

static void core_on_persisted(struct sl_core *c, uint64_t lsn, uint32_t epoch)
{
	/* A completion for records truncated meanwhile names an epoch we no longer hold. */
	if (lsn <= c->flushed_lsn || lsn > c->persist_lsn || core_epoch_at(c, lsn) != epoch)
		return;
	c->flushed_lsn = lsn;
	c->ack_due = true;
}

static void core_on_client(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	const struct sl_client_req *req = &ev->u.client.req;

	if (req->op == SL_OP_GET) {
		core_client_read(c, ev, out);
		return;
	}
	if (c->role != SL_ROLE_LEADER) {
		c->stats.client_not_leader++;
		core_reply(c, out, ev->u.client.ctx, req, SL_ST_NOT_LEADER, 0, 0);
		core_free(out, ev->u.client.rec.handle);
		return;
	}
	core_leader_client_write(c, ev, out);
}

static int core_dispatch(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	switch (ev->type) {
	case SL_EV_TICK:
		if (c->role == SL_ROLE_LEADER)
			core_leader_tick(c, out);
		else
			core_follower_tick(c, out);
		return 0;
	case SL_EV_CLIENT:
		core_on_client(c, ev, out);
		return 0;
	case SL_EV_FRAME:
		return core_on_frame(c, ev, out);
	case SL_EV_PERSISTED:
		core_on_persisted(c, ev->u.persisted.lsn, ev->u.persisted.epoch);
		return 0;
	case SL_EV_WAL_RECORDS:
		if (ev->u.wal.node == 0)
			core_apply_from_wal(c, ev, out);
		else
			core_leader_on_wal(c, ev, out);
		return 0;
	case SL_EV_CONTROL:
		return core_on_control(c, &ev->u.control, out);
	case SL_EV_SNAP_SAVED:
		core_snap_saved(c, ev);
		return 0;
	case SL_EV_SNAP_RECEIVED:
		return core_snap_received(c, ev, out);
	}
	return -EINVAL;
}

int sl_core_step(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	int rc;

	if (ev->now_ns > c->now_ns)
		c->now_ns = ev->now_ns; /* time never runs backwards inside the core */
	rc = core_dispatch(c, ev, out);
	if (c->n_reads > 0)
		core_reads_answer(c, out);
	return rc;
}

/* ---- read-only views ---------------------------------------------------------------- */

uint32_t sl_core_epoch(const struct sl_core *c)
{
	return c->epoch;
}

uint64_t sl_core_commit_lsn(const struct sl_core *c)
{
	return c->commit_lsn;
}

const struct sl_core_stats *sl_core_stats(const struct sl_core *c)
{
	return &c->stats;
}

uint64_t sl_core_kv_digest(const struct sl_core *c)
{
	return core_kv_digest(c->kv);
}

int sl_core_kv_get(const struct sl_core *c, const void *key, uint16_t key_len, const uint8_t **val,
		   uint32_t *val_len)
{
	uint64_t lsn;

	return core_kv_get(c->kv, key, key_len, val, val_len, &lsn);
}

int sl_core_log_record(const struct sl_core *c, uint64_t lsn, struct sl_rec_ref *out)
{
	const struct core_entry *e = core_entry(c, lsn);

	if (!e)
		return -ENOENT;
	*out = e->ref;
	return 0;
}

static void peer_status(const struct sl_core *c, const struct core_peer *p, uint64_t now_ns,
			struct sl_peer_status *s)
{
	uint64_t level = core_peer_level_lsn(p, c->policy.level);
	const struct core_entry *oldest = core_entry(c, level + 1);

	*s = (struct sl_peer_status){
		.node = p->id,
		.learner = p->learner,
		.healthy = now_ns - p->last_ack_ns <= c->cfg.health_ns && p->last_ack_ns != 0,
		.sync = p->sync,
		.received_lsn = p->received_lsn,
		.flushed_lsn = p->flushed_lsn,
		.applied_lsn = p->applied_lsn,
		.lag_records = c->last_lsn > level ? c->last_lsn - level : 0,
		.lag_ns = oldest && now_ns > oldest->arrival_ns ? now_ns - oldest->arrival_ns : 0,
		.rto_ns = p->rto_ns
	};
	for (uint64_t lsn = level + 1; lsn <= c->last_lsn; lsn++) {
		const struct core_entry *e = core_entry(c, lsn);

		if (e)
			s->lag_bytes += e->ref.len;
	}
}

void sl_core_status(const struct sl_core *c, uint64_t now_ns, struct sl_core_status *out)
{
	memset(out, 0, sizeof(*out));
	out->role = c->role;
	out->epoch = c->epoch;
	out->leader = c->leader;
	out->last_lsn = c->last_lsn;
	out->last_epoch = c->last_epoch;
	out->flushed_lsn = c->flushed_lsn;
	out->applied_lsn = c->applied_lsn;
	out->commit_lsn = c->commit_lsn;
	out->degraded = c->degraded;
	out->policy = c->policy;
	out->lease_expired = c->lease_expired;
	out->n_peers = c->n_peers;
	if (c->role != SL_ROLE_LEADER) {
		if (c->leader_heard_ns == UINT64_MAX)
			out->leader_age_ns = UINT64_MAX;
		else if (now_ns > c->leader_heard_ns)
			out->leader_age_ns = now_ns - c->leader_heard_ns;
		/* Which peers it has (the controller's membership checks them), no positions. */
		for (unsigned i = 0; i < c->n_peers; i++)
			out->peers[i] = (struct sl_peer_status){ .node = c->peers[i].id,
								 .learner = c->peers[i].learner };
		return;
	}
	out->paused = core_paused(c, now_ns);
	for (unsigned i = 0; i < c->n_peers; i++)
		peer_status(c, &c->peers[i], now_ns, &out->peers[i]);
}
