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
	c->acked_received = h.ack.received_lsn;
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
 * Takes records[i..] of an APPEND whose prev matched. A record we already hold with the
 * same epoch is a duplicate; one with another epoch starts a divergent suffix, which is
 * truncated before the leader's record is appended. Returns the last LSN processed.
 */
static uint64_t follower_take(struct sl_core *c, const struct sl_event *ev, uint64_t prev,
			      struct sl_actions *out)
{
	const struct sl_rec_ref *recs = ev->u.frame.recs;
	uint64_t lsn = prev;
	uint32_t i;

	for (i = 0; i < ev->u.frame.n_recs; i++) {
		struct sl_record_hdr h;

		sl_record_hdr_read(recs[i].data, &h);
		if (h.lsn != lsn + 1 || h.epoch > ev->u.frame.view->hdr.epoch)
			break; /* not the leader's next record: drop the rest */
		if (h.lsn <= c->last_lsn) {
			if (core_epoch_at(c, h.lsn) == h.epoch ||
			    CORE_BUG(c, SL_BUG_SKIP_TRUNCATE)) {
				core_free(out, recs[i].handle);
				lsn = h.lsn;
				continue;
			}
			core_truncate(c, h.lsn - 1, out);
		}
		if (!core_ring_make_room(c, out)) {
			c->stats.ring_full_drops++;
			break;
		}
		core_ring_push(c, &recs[i], h.lsn, h.epoch, h.type);
		lsn = h.lsn;
	}
	for (; i < ev->u.frame.n_recs; i++)
		core_free(out, recs[i].handle);
	return lsn;
}

void core_follower_on_append(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out)
{
	const struct sl_append_hdr *a = &ev->u.frame.view->u.append;
	uint64_t last;

	c->leader_contact_ns = c->now_ns;
	c->echo_ts_ns = a->send_ts_ns;
	c->ack_due = true;
	if (a->prev_lsn > c->last_lsn) {
		follower_nack(c, SL_NACK_GAP, c->last_lsn, out);
		last = 0;
	} else if (core_epoch_at(c, a->prev_lsn) != a->prev_epoch &&
		   !CORE_BUG(c, SL_BUG_SKIP_TRUNCATE)) {
		/* Disagree at prev: tell the leader where our history says we might agree. */
		follower_nack(c, SL_NACK_MISMATCH, a->prev_lsn - 1, out);
		last = 0;
	} else {
		last = follower_take(c, ev, a->prev_lsn, out);
		if (last > c->match_lsn)
			c->match_lsn = last;
		follower_learn_commit(c, a->commit_lsn);
		return;
	}
	for (uint32_t i = 0; i < ev->u.frame.n_recs; i++)
		core_free(out, ev->u.frame.recs[i].handle);
}

void core_follower_tick(struct sl_core *c, struct sl_actions *out)
{
	uint64_t target = c->commit_lsn < c->flushed_lsn ? c->commit_lsn : c->flushed_lsn;

	core_persist_new(c, out);
	/* Followers apply only committed, locally durable records (DESIGN.md §4). */
	if (CORE_BUG(c, SL_BUG_APPLY_PAST_COMMIT))
		target = c->flushed_lsn;
	core_apply(c, target, out);
	if (c->ack_due ||
	    c->acked_flushed != (c->flushed_lsn < c->match_lsn ? c->flushed_lsn : c->match_lsn) ||
	    c->acked_applied != (c->applied_lsn < c->match_lsn ? c->applied_lsn : c->match_lsn))
		follower_ack(c, out);
}
