/* Follower and learner: log matching, truncation of divergent suffixes, cumulative ACKs. */
#include <string.h>

#include "core_internal.h"

static void follower_send(struct sl_core *c, uint8_t type, const union sl_type_hdr *hdr,
			  struct sl_actions *out)
{
	struct sl_action *a = core_act(out, SL_ACT_SEND);

	if (!a)
		return;
	a->u.send.dst = c->leader;
	a->u.send.frame_type = type;
	a->u.send.epoch = c->epoch;
	a->u.send.hdr = *hdr;
	c->stats.frames_sent[type]++;
}

static void follower_nack(struct sl_core *c, uint8_t reason, uint64_t last_lsn,
			  struct sl_actions *out)
{
	union sl_type_hdr h = { .nack = { .expected_lsn = c->last_lsn + 1,
					  .last_lsn = last_lsn,
					  .last_epoch = core_epoch_at(c, last_lsn),
					  .reason = reason } };

	follower_send(c, SL_FRAME_NACK, &h, out);
	c->stats.nacks_sent++;
}

/*
 * One GAP NACK per gap (the LSN it asks for) per rto_min_ns. Every frame of a burst that
 * lands beyond a gap (one that overtook a lost frame, or one a full ring made us drop)
 * would ask again, and each NACK costs the leader a rewind: one per RTO is enough, and
 * the leader retransmits on its own timeout as well. A new gap asks at once.
 */
static void follower_gap_nack(struct sl_core *c, struct sl_actions *out)
{
	uint64_t expected = c->last_lsn + 1;

	if (c->gap_nack_lsn == expected && c->now_ns - c->gap_nack_ns < c->cfg.rto_min_ns)
		return;
	c->gap_nack_lsn = expected;
	c->gap_nack_ns = c->now_ns;
	follower_nack(c, SL_NACK_GAP, c->last_lsn, out);
}

/* ACK levels only count records known to match the leader's log. */
static void follower_ack(struct sl_core *c, struct sl_actions *out)
{
	uint64_t m = c->match_lsn;
	union sl_type_hdr h = { .ack = {
					.received_lsn = m,
					.flushed_lsn = c->flushed_lsn < m ? c->flushed_lsn : m,
					.applied_lsn = c->applied_lsn < m ? c->applied_lsn : m,
					.echo_ts_ns = c->echo_ts_ns,
					.last_epoch = core_epoch_at(c, m),
				} };

	if (c->leader == 0 || c->role == SL_ROLE_FENCED)
		return;
	follower_send(c, SL_FRAME_ACK, &h, out);
	c->ack_due = false;
	c->acked_flushed = h.ack.flushed_lsn;
	c->acked_applied = h.ack.applied_lsn;
}

static void follower_learn_commit(struct sl_core *c, uint64_t leader_commit)
{
	/* Only a prefix known to equal the leader's can be known committed. */
	uint64_t k = leader_commit < c->match_lsn ? leader_commit : c->match_lsn;

	if (k > c->commit_lsn)
		c->commit_lsn = k;
}

/*
 * Up to match_lsn our log is known to be this leader's: it matched in this epoch (a new
 * leader or epoch resets it, a truncation lowers it). So a record there is the leader's,
 * whatever our epoch history still remembers of it.
 */
static bool follower_matched(const struct sl_core *c, const struct core_append *ap, uint64_t lsn)
{
	return ap->epoch == c->epoch && lsn <= c->match_lsn;
}

/*
 * Takes the records of an APPEND whose prev matched. A record we already hold with the
 * same epoch is a duplicate; one with another epoch starts a divergent suffix, which is
 * truncated before the leader's record is appended. Returns the last LSN processed.
 */
static uint64_t follower_take(struct sl_core *c, const struct core_append *ap,
			      struct sl_actions *out)
{
	uint64_t lsn = ap->hdr.prev_lsn;
	uint32_t i;

	for (i = 0; i < ap->n_recs; i++) {
		struct sl_record_hdr h;

		sl_record_hdr_read(ap->recs[i].data, &h);
		if (h.lsn != lsn + 1 || h.epoch > ap->epoch)
			break; /* not the leader's next record: drop the rest */
		if (h.lsn <= c->last_lsn) {
			/* Matched already in this epoch, or of the same epoch: the same record. */
			if (follower_matched(c, ap, h.lsn) || core_epoch_at(c, h.lsn) == h.epoch ||
			    CORE_BUG(c, SL_BUG_SKIP_TRUNCATE)) {
				core_free(out, ap->recs[i].handle);
				lsn = h.lsn;
				continue;
			}
			core_truncate(c, h.lsn - 1, out);
		}
		if (!core_ring_make_room(c, out)) {
			c->stats.ring_full_drops++;
			break;
		}
		core_ring_push(c, &ap->recs[i], h.lsn, h.epoch, h.type);
		lsn = h.lsn;
	}
	for (; i < ap->n_recs; i++)
		core_free(out, ap->recs[i].handle);
	return lsn;
}

static void free_append(const struct core_append *ap, struct sl_actions *out)
{
	for (uint32_t i = 0; i < ap->n_recs; i++)
		core_free(out, ap->recs[i].handle);
}

/*
 * An APPEND ahead of a gap is most often one that overtook its predecessor: hold it
 * (bounded by reorder_frames) instead of asking for everything again. A NACK goes out
 * when there is no room, or when the gap stays open (reorder_gap_check).
 */
static bool reorder_park(struct sl_core *c, const struct core_append *ap)
{
	struct core_parked *slot = NULL;

	if (ap->epoch != c->epoch || ap->n_recs == 0 ||
	    ap->n_recs > core_batch_records_max(&c->cfg))
		return false;
	for (uint32_t i = 0; i < c->cfg.reorder_frames; i++) {
		struct core_parked *p = &c->parked[i];

		if (p->used && p->hdr.prev_lsn == ap->hdr.prev_lsn)
			return false; /* a duplicate: the NACK path frees it */
		if (!p->used && !slot)
			slot = p;
	}
	if (!slot)
		return false;
	slot->hdr = ap->hdr;
	slot->epoch = ap->epoch;
	slot->n_recs = ap->n_recs;
	slot->arrival_ns = c->now_ns;
	memcpy(slot->recs, ap->recs, ap->n_recs * sizeof(ap->recs[0]));
	slot->used = true;
	c->n_parked++;
	c->stats.reordered++;
	return true;
}

/* A new leader or epoch: frames held for the old one go; the next gap asks at once. */
void core_follower_reset(struct sl_core *c, struct sl_actions *out)
{
	c->gap_nack_lsn = 0;
	core_snap_rx_reset(c);
	for (uint32_t i = 0; i < c->cfg.reorder_frames && c->n_parked > 0; i++) {
		struct core_parked *p = &c->parked[i];

		if (!p->used)
			continue;
		for (uint32_t k = 0; k < p->n_recs; k++)
			core_free(out, p->recs[k].handle);
		p->used = false;
		c->n_parked--;
	}
}

static void follower_handle(struct sl_core *c, const struct core_append *ap, bool may_park,
			    struct sl_actions *out)
{
	const struct sl_append_hdr *a = &ap->hdr;
	uint64_t last;

	if (a->prev_lsn > c->last_lsn) {
		if (may_park && reorder_park(c, ap))
			return;
		follower_gap_nack(c, out);
		free_append(ap, out);
		return;
	}
	if (!follower_matched(c, ap, a->prev_lsn) &&
	    (a->prev_epoch == 0 || core_epoch_at(c, a->prev_lsn) == 0)) {
		/*
		 * One of us no longer remembers the epoch of prev: the history keeps the
		 * newest SL_EPOCH_HIST_MAX epoch starts. Nothing below can be shown to match,
		 * so the log is taken again from its start (each record we hold whose epoch
		 * we cannot confirm is truncated and replaced), and matches from there on.
		 * Only a follower that old gets here: a leader probes from its end and walks
		 * back by epochs.
		 */
		c->stats.history_resyncs++;
		follower_nack(c, SL_NACK_MISMATCH, 0, out);
		free_append(ap, out);
		return;
	}
	if (!follower_matched(c, ap, a->prev_lsn) &&
	    core_epoch_at(c, a->prev_lsn) != a->prev_epoch && !CORE_BUG(c, SL_BUG_SKIP_TRUNCATE)) {
		/* Disagree at prev: tell the leader where our history says we might agree. */
		follower_nack(c, SL_NACK_MISMATCH, a->prev_lsn - 1, out);
		free_append(ap, out);
		return;
	}
	last = follower_take(c, ap, out);
	if (last > c->match_lsn)
		c->match_lsn = last;
	follower_learn_commit(c, a->commit_lsn);
}

/* Parked frames the log has reached, oldest first. */
static void reorder_drain(struct sl_core *c, struct sl_actions *out)
{
	while (c->n_parked > 0) {
		struct core_parked *next = NULL;
		struct core_append ap;

		for (uint32_t i = 0; i < c->cfg.reorder_frames; i++) {
			struct core_parked *p = &c->parked[i];

			if (p->used && p->hdr.prev_lsn <= c->last_lsn &&
			    (!next || p->hdr.prev_lsn < next->hdr.prev_lsn))
				next = p;
		}
		if (!next)
			return;
		ap = (struct core_append){ .hdr = next->hdr,
					   .epoch = next->epoch,
					   .recs = next->recs,
					   .n_recs = next->n_recs };
		/* The slot's refs stay intact while handled: nothing parks during a drain. */
		next->used = false;
		c->n_parked--;
		follower_handle(c, &ap, false, out);
	}
}

void core_follower_on_append(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	const struct sl_frame_view *v = ev->u.frame.view;
	struct core_append ap = { .hdr = v->u.append,
				  .epoch = v->hdr.epoch,
				  .recs = ev->u.frame.recs,
				  .n_recs = ev->u.frame.n_recs };

	c->echo_ts_ns = ap.hdr.send_ts_ns;
	c->ack_due = true;
	follower_handle(c, &ap, true, out);
	reorder_drain(c, out);
}

/* A gap that parked frames keep waiting on for an RTO is a loss: ask for it. */
static void reorder_gap_check(struct sl_core *c, struct sl_actions *out)
{
	uint64_t oldest = UINT64_MAX;

	for (uint32_t i = 0; i < c->cfg.reorder_frames; i++)
		if (c->parked[i].used && c->parked[i].arrival_ns < oldest)
			oldest = c->parked[i].arrival_ns;
	if (oldest == UINT64_MAX || c->now_ns - oldest < c->cfg.rto_min_ns)
		return;
	follower_gap_nack(c, out);
}

void core_follower_tick(struct sl_core *c, struct sl_actions *out)
{
	uint64_t target = c->commit_lsn < c->flushed_lsn ? c->commit_lsn : c->flushed_lsn;

	core_persist_new(c, out);
	/* Followers apply only committed, locally durable records (DESIGN.md §4). */
	if (CORE_BUG(c, SL_BUG_APPLY_PAST_COMMIT))
		target = c->flushed_lsn;
	core_apply(c, target, out);
	if (c->n_parked > 0)
		reorder_gap_check(c, out);
	core_snap_tick(c, out);
	if (c->ack_due ||
	    c->acked_flushed != (c->flushed_lsn < c->match_lsn ? c->flushed_lsn : c->match_lsn) ||
	    c->acked_applied != (c->applied_lsn < c->match_lsn ? c->applied_lsn : c->match_lsn))
		follower_ack(c, out);
}
