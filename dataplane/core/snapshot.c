/* Snapshots: shipping one to a follower the WAL no longer covers, and installing it. */
#include <errno.h>
#include <string.h>

#include "core_internal.h"
#include "image.h"

/*
 * DESIGN.md §5. A follower (a new learner, a node away longer than the WAL's retention)
 * may need records the leader's WAL deleted. The leader then sends its newest snapshot,
 * the state image at snap_lsn, in SNAPSHOT_CHUNK frames, and the log from snap_lsn + 1
 * as usual once the follower has installed it.
 *
 * The image's bytes live with the caller (the snapshot it saved or installed last):
 * a SEND of a SNAPSHOT_CHUNK names the range and the caller fills the body. The
 * follower acknowledges with a SNAPSHOT_CHUNK of no body whose offset is how many bytes
 * it holds, in order; chunks out of order are dropped and the leader resends from the
 * acknowledged offset after an RTO. The follower assembles the image in caller memory
 * (SL_ACT_SNAP_STORE), checks it whole, installs it (SL_ACT_SNAP_INSTALL: durable
 * before anything else), and acknowledges snap_lsn with an ordinary ACK, which ends the
 * transfer.
 */

#define SNAP_WINDOW_CHUNKS 64u /* chunks in flight to one follower, at most */

/* The chunk body budget: an APPEND's, whose header is as long as a chunk's. */
static uint32_t snap_chunk_max(const struct sl_core *c)
{
	return c->cfg.batch_bytes;
}

/* ---- leader ------------------------------------------------------------------------- */

void core_snap_saved(struct sl_core *c, const struct sl_event *ev)
{
	if (ev->u.snap.lsn < c->snap_lsn || ev->u.snap.len == 0)
		return;
	c->snap_lsn = ev->u.snap.lsn;
	c->snap_epoch = ev->u.snap.epoch;
	c->snap_len = ev->u.snap.len;
	/* Transfers of the previous one restart with this one (its bytes are gone). */
	for (unsigned i = 0; i < c->n_peers; i++)
		if (c->peers[i].snap_active)
			core_snap_start(c, &c->peers[i]);
}

/* p needs records below what the WAL holds: from the snapshot, if there is one. */
void core_snap_start(struct sl_core *c, struct core_peer *p)
{
	if (c->snap_len == 0 || p->next_lsn > c->snap_lsn)
		return; /* the WAL has everything after the snapshot: a read will do */
	if (!p->snap_active || p->snap_lsn != c->snap_lsn)
		c->stats.snapshots_sent++;
	p->snap_active = true;
	p->snap_lsn = c->snap_lsn;
	p->snap_off = p->snap_acked = 0;
	p->progress_ns = p->snap_heard_ns = c->now_ns;
	p->wal_read_ns = 0;
}

/* A SNAPSHOT_CHUNK to dst: a piece of the image (leader), or how far we got (follower). */
static void snap_frame(struct sl_core *c, uint16_t dst, const struct sl_snap_chunk *h,
		       struct sl_actions *out)
{
	struct sl_action *a = core_act(out, SL_ACT_SEND);

	if (!a)
		return;
	a->u.send.dst = dst;
	a->u.send.frame_type = SL_FRAME_SNAPSHOT_CHUNK;
	a->u.send.epoch = c->epoch;
	a->u.send.hdr.snap = *h;
	c->stats.frames_sent[SL_FRAME_SNAPSHOT_CHUNK]++;
}

static void snap_send_chunk(struct sl_core *c, struct core_peer *p, uint32_t len,
			    struct sl_actions *out)
{
	struct sl_snap_chunk h = { .snap_lsn = p->snap_lsn,
				   .offset = p->snap_off,
				   .total_len = c->snap_len,
				   .snap_epoch = c->snap_epoch,
				   .chunk_len = len };

	snap_frame(c, p->id, &h, out);
	p->snap_off += len;
	p->last_send_ns = c->now_ns;
}

/*
 * Only transfers the follower answered lately count: one to a node that died or cannot
 * take the image must not hold back every later snapshot (and WAL retention with them).
 */
bool sl_core_snap_sending(const struct sl_core *c)
{
	for (unsigned i = 0; c->role == SL_ROLE_LEADER && i < c->n_peers; i++)
		if (c->peers[i].snap_active &&
		    c->now_ns - c->peers[i].snap_heard_ns < 4 * c->cfg.rto_max_ns)
			return true;
	return false;
}

/* Sends what the window allows; false when p is not being sent a snapshot. */
bool core_snap_send(struct sl_core *c, struct core_peer *p, struct sl_actions *out)
{
	uint32_t chunk = snap_chunk_max(c);

	if (!p->snap_active)
		return false;
	/*
	 * No progress for an RTO: resend from what the follower holds, back off. When it
	 * holds all of it but no ACK said it installed it (lost, or the install is slow),
	 * only the last chunk goes again: a follower that installed it answers with an
	 * ACK, one that lost the image with offset 0, which starts it over.
	 */
	if (c->now_ns - p->progress_ns >= p->rto_ns) {
		if (p->snap_off > p->snap_acked || p->snap_acked == c->snap_len)
			c->stats.retransmits++;
		if (p->snap_acked == c->snap_len)
			p->snap_off = (c->snap_len - 1) / chunk * chunk;
		else
			p->snap_off = p->snap_acked;
		p->rto_ns = min_u64(p->rto_ns * 2, c->cfg.rto_max_ns);
		p->progress_ns = c->now_ns;
	}
	for (unsigned f = 0; f < CORE_FRAMES_PER_TICK && p->snap_off < c->snap_len &&
			     p->snap_off < p->snap_acked + (uint64_t)SNAP_WINDOW_CHUNKS * chunk;
	     f++)
		snap_send_chunk(c, p, (uint32_t)min_u64(chunk, c->snap_len - p->snap_off), out);
	return true;
}

/* A follower's SNAPSHOT_CHUNK without a body: how many bytes of snap_lsn it holds. */
void core_snap_on_ack(struct sl_core *c, uint16_t src, const struct sl_snap_chunk *s)
{
	struct core_peer *p = core_peer_find(c, src);

	if (!p || !p->snap_active || s->snap_lsn != p->snap_lsn || s->chunk_len != 0) {
		c->stats.foreign_frames++;
		return;
	}
	p->last_ack_ns = c->now_ns;
	p->snap_heard_ns = c->now_ns;
	if (s->offset > p->snap_acked) {
		p->snap_acked = min_u64(s->offset, c->snap_len);
		p->progress_ns = c->now_ns;
	} else if (s->offset == 0 && p->snap_acked > 0) {
		/* It dropped what it had (restarted, or the image failed its checks). */
		p->snap_off = p->snap_acked = 0;
		p->progress_ns = c->now_ns;
	}
	if (p->snap_off < p->snap_acked)
		p->snap_off = p->snap_acked;
}

/* An ACK: a follower that holds snap_lsn installed it; the log follows as usual. */
void core_snap_done(struct core_peer *p, uint64_t received_lsn)
{
	if (!p->snap_active || received_lsn < p->snap_lsn)
		return;
	p->snap_active = false;
	p->probe_lsn = received_lsn + 1;
	p->nack_ns = 0;
}

/* ---- follower ----------------------------------------------------------------------- */

void core_snap_rx_reset(struct sl_core *c)
{
	c->rx_snap_lsn = 0;
	c->rx_snap_epoch = 0;
	c->rx_snap_total = 0;
	c->rx_snap_off = 0;
	c->snap_ack_due = false;
}

/* The image received so far is dropped: the next acknowledgement asks for it from 0. */
static void snap_rx_restart(struct sl_core *c)
{
	c->stats.snapshot_rejects++;
	c->rx_snap_off = 0;
	c->snap_ack_due = true;
}

void core_snap_on_chunk(struct sl_core *c, const struct sl_frame_view *v, struct sl_actions *out)
{
	const struct sl_snap_chunk *s = &v->u.snap;
	struct sl_action *a;

	if (s->chunk_len == 0 || s->total_len > sl_core_image_max(&c->cfg) || s->snap_lsn == 0) {
		c->stats.snapshot_rejects++;
		return;
	}
	if (s->snap_lsn <= c->match_lsn) {
		/*
		 * Installed already, or our log goes past it with this leader: a chunk sent
		 * again (an RTO during a slow install, a lost ACK) must never install it a
		 * second time over records we acknowledged. An ACK ends the transfer.
		 */
		c->ack_due = true;
		return;
	}
	c->snap_ack_due = true;
	if (s->snap_lsn != c->rx_snap_lsn || s->total_len != c->rx_snap_total ||
	    (s->offset == 0 && c->rx_snap_off == 0)) {
		/* Another snapshot, or ours from its start. A chunk past the start of one we
		 * know nothing of (we restarted) is answered with offset 0: from the start. */
		c->rx_snap_lsn = s->snap_lsn;
		c->rx_snap_epoch = s->snap_epoch;
		c->rx_snap_total = s->total_len;
		c->rx_snap_off = 0;
	}
	if (s->offset != c->rx_snap_off)
		return; /* out of order or a duplicate: the acknowledgement says where we are */
	a = core_act(out, SL_ACT_SNAP_STORE);
	if (!a)
		return;
	a->u.snap.lsn = s->snap_lsn;
	a->u.snap.epoch = s->snap_epoch;
	a->u.snap.offset = s->offset;
	a->u.snap.total = s->total_len;
	a->u.snap.data = v->body;
	a->u.snap.len = s->chunk_len;
	c->rx_snap_off += s->chunk_len;
	a->u.snap.last = c->rx_snap_off == c->rx_snap_total;
}

/* One acknowledgement per loop turn for the chunks that arrived in it. */
void core_snap_tick(struct sl_core *c, struct sl_actions *out)
{
	struct sl_snap_chunk h = { .snap_lsn = c->rx_snap_lsn,
				   .offset = c->rx_snap_off,
				   .total_len = c->rx_snap_total,
				   .snap_epoch = c->rx_snap_epoch };

	if (!c->snap_ack_due || c->leader == 0 || c->role == SL_ROLE_FENCED)
		return;
	c->snap_ack_due = false;
	snap_frame(c, c->leader, &h, out);
}

/* Every record the log held goes: the image replaces them. */
static void snap_drop_log(struct sl_core *c, struct sl_actions *out)
{
	for (uint64_t lsn = c->last_lsn; lsn >= c->ring_lo && lsn > 0; lsn--)
		core_release_ref(c, out, &c->ring[lsn & c->ring_mask].ref);
	core_follower_reset(c, out);
}

static int snap_install(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	struct sl_image_info info;
	struct sl_action *a;
	uint64_t dropped = c->last_lsn > ev->u.snap.lsn ? c->last_lsn - ev->u.snap.lsn : 0;

	if (c->role != SL_ROLE_FOLLOWER && c->role != SL_ROLE_LEARNER)
		return -EPERM;
	/* Not whole (the caller could not keep it), damaged, not for this configuration,
	 * or no longer needed (matched past it): asked for again from its start. */
	if (ev->u.snap.lsn != c->rx_snap_lsn || ev->u.snap.len != c->rx_snap_total ||
	    c->rx_snap_off != c->rx_snap_total || ev->u.snap.lsn == 0 || !ev->u.snap.image ||
	    c->match_lsn >= ev->u.snap.lsn ||
	    sl_core_image_check(ev->u.snap.image, ev->u.snap.len, &c->cfg, &info) != 0 ||
	    info.lsn != c->rx_snap_lsn || info.epoch != c->rx_snap_epoch || info.epoch > c->epoch) {
		snap_rx_restart(c);
		return -EINVAL;
	}
	if (core_image_load(c, ev->u.snap.image, ev->u.snap.len, &info) != 0) {
		/*
		 * A duplicate key, which only loading finds: the applied state is gone, and
		 * the next apply rebuilds it from our own snapshot and log (as after a
		 * truncation below what was applied).
		 */
		snap_rx_restart(c);
		return -EINVAL;
	}
	snap_drop_log(c, out);
	c->last_lsn = c->persist_lsn = c->flushed_lsn = c->commit_lsn = info.lsn;
	c->match_lsn = info.lsn; /* the leader's own state: it matches in this epoch */
	c->last_epoch = info.epoch;
	c->ring_lo = info.lsn + 1;
	c->apply_read_ns = 0;
	c->snap_load_pending = false;
	/* Below the image nothing is known: its LSN starts the history. */
	c->hist[0] = (struct sl_epoch_start){ .epoch = info.epoch, .first_lsn = info.lsn };
	c->n_hist = 1;
	c->snap_lsn = info.lsn;
	c->snap_epoch = info.epoch;
	c->snap_len = ev->u.snap.len;
	core_snap_rx_reset(c);
	a = core_act(out, SL_ACT_SNAP_INSTALL);
	if (a) {
		a->u.snap.lsn = info.lsn;
		a->u.snap.epoch = info.epoch;
		a->u.snap.total = ev->u.snap.len;
		a->u.snap.len = (uint32_t)min_u64(ev->u.snap.len, UINT32_MAX);
	}
	core_save_meta(c, out);
	if (dropped)
		c->stats.truncated_records += dropped;
	c->stats.snapshots_installed++;
	c->ack_due = true;
	core_reads_answer(c, out);
	return 0;
}

/* The image of this node's own snapshot, asked for by core_snap_reload. */
static int snap_reloaded(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	struct sl_image_info info;

	c->snap_load_pending = false; /* a failure asks again at the next apply */
	if (ev->u.snap.lsn != c->snap_lsn || !ev->u.snap.image ||
	    core_image_load(c, ev->u.snap.image, ev->u.snap.len, &info) != 0) {
		c->stats.snapshot_rejects++;
		return -EINVAL;
	}
	core_apply(c, core_apply_target(c), out);
	return 0;
}

int core_snap_received(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	if (ev->u.snap.own)
		return c->snap_load_pending ? snap_reloaded(c, ev, out) : -EINVAL;
	return snap_install(c, ev, out);
}

/*
 * The applied state was reset (a truncation below it) and the WAL starts after a
 * snapshot: the state comes back from the snapshot, then the log after it.
 */
void core_snap_reload(struct sl_core *c, struct sl_actions *out)
{
	struct sl_action *a;

	if (c->snap_lsn == 0 || c->snap_load_pending)
		return;
	a = core_act(out, SL_ACT_SNAP_LOAD);
	if (!a)
		return;
	a->u.snap.lsn = c->snap_lsn;
	a->u.snap.epoch = c->snap_epoch;
	a->u.snap.total = c->snap_len;
	c->snap_load_pending = true;
}
