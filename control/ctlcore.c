/*
 * The controller's decisions (control/ctlcore.h, DESIGN.md §6): failure detection,
 * failover, switchover, commit policy and membership, as a pure function of reports,
 * notes, admin requests and ticks. The rules are those of the simulator's scripted
 * controller (tests/sim/sim.c, ctl_*), made asynchronous: fences go out, and the
 * positions come back in later reports.
 *
 * Every step that changes the state gets exactly one CTL_ACT_SAVE, put first: the
 * store then holds the state the step's commands belong to (the epoch above all)
 * before any of them leaves.
 *
 * commit_seen is the exception: a leader's report raises it in memory only (an fsync per
 * report would be the controller's busiest write), and it is stored with the next save
 * made for another reason. A restart may thus bring back an older value. Lower is safe
 * for the policy quorum (a change stays pending: the larger quorum) but not for the
 * async max-lag check, which would undercount the loss: after a restart that check
 * waits until the commit position is heard again (commit_stale).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctlcore.h"

#define CTL_NS_PER_MS 1000000ull

struct ctl_node {
	struct ctl_node_view v; /* what ctl_node() shows */
	bool seen;		/* a report arrived since ctl_init (heard_ns may be 0) */
	bool up;		/* NODE_UP said and NODE_DOWN not since */
};

/* What a refused failover last said, so that a refusal is told once per situation. */
struct ctl_refusal {
	uint8_t why; /* 0: nothing refused yet */
	uint16_t node;
	uint32_t count;
	uint64_t lsn;
};

struct ctl {
	struct ctl_config cfg;
	struct ctl_state st;
	struct ctl_node nodes[SL_NODE_MAX]; /* nodes[i] is st.members[i] */
	struct ctl_out *out;		    /* of the step under way */
	uint64_t now_ns;
	uint64_t start_ns; /* the first input: silence before it is not held against a node */
	bool started;
	uint16_t fo_skip;     /* FAILOVER: neither counted nor chosen (the operator's "not n1") */
	uint64_t fo_start_ns; /* FAILOVER: when the fences went out */
	uint32_t fo_count;    /* FAILOVER: fenced positions counted at the last look */
	struct ctl_refusal fo_refused;
	uint64_t promoted_ns;	 /* the leader's PROMOTE went out (or the controller started) */
	bool leader_led;	 /* the leader reported leading st.epoch since then */
	bool degraded;		 /* the leader's degraded flag, as last reported */
	uint64_t policy_sent_ns; /* the last SET_POLICY to the leader */
	uint64_t so_deadline_ns;
	bool commit_stale; /* st.commit_seen may be older than the leader's: a restart */
};

enum refusal_why {
	REF_NONE_ELIGIBLE = 1,
	REF_TARGET_MISSING,
	REF_TARGET_INELIGIBLE,
	REF_TARGET_BEHIND,
	REF_ASYNC_LAG,
	REF_COMMIT_UNKNOWN,
};

/* ---- small helpers ----------------------------------------------------------------- */

const char *ctl_phase_name(unsigned phase)
{
	static const char *const names[] = { "boot", "steady", "failover", "switchover" };

	return phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "unknown";
}

static uint64_t since(const struct ctl *c, uint64_t t)
{
	return c->now_ns > t ? c->now_ns - t : 0;
}

static uint64_t ms(uint64_t ns)
{
	return ns / CTL_NS_PER_MS;
}

static int member_index(const struct ctl *c, uint16_t id)
{
	for (unsigned i = 0; i < c->st.n_members; i++)
		if (c->st.members[i].id == id)
			return (int)i;
	return -1;
}

static struct ctl_node *node_of(struct ctl *c, uint16_t id)
{
	int i = id ? member_index(c, id) : -1;

	return i < 0 ? NULL : &c->nodes[i];
}

static void changed(struct ctl *c)
{
	c->st.version++; /* ctl_step puts a SAVE first */
}

/* act[0] stays free for the SAVE; a full buffer drops (CTL_ACTIONS_MAX is never reached). */
static struct ctl_action *push(struct ctl *c, uint8_t type)
{
	struct ctl_out *o = c->out;
	struct ctl_action *a;

	if (o->n_act >= CTL_ACTIONS_MAX - 1)
		return NULL;
	a = &o->act[o->n_act++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

/*
 * A command of the current epoch; every command carries the controller's policy.
 * Returns it (NULL when the actions are full) for what only some commands carry.
 */
static struct sl_control *send_cmd(struct ctl *c, uint16_t to, uint8_t cmd, uint16_t node,
				   bool learner, bool pause)
{
	struct ctl_action *a = push(c, CTL_ACT_SEND);

	if (!a)
		return NULL;
	a->u.send.node = to;
	a->u.send.cmd = (struct sl_control){ .cmd = cmd,
					     .learner = learner,
					     .node = node,
					     .epoch = c->st.epoch,
					     .pause = pause,
					     .policy = c->st.policy };
	return &a->u.send.cmd;
}

__attribute__((format(printf, 6, 7))) static void
event(struct ctl *c, uint8_t kind, uint16_t node, uint64_t a, uint64_t b, const char *fmt, ...)
{
	struct ctl_action *act = push(c, CTL_ACT_EVENT);
	va_list ap;

	if (!act)
		return;
	act->u.event.kind = kind;
	act->u.event.node = node;
	act->u.event.a = a;
	act->u.event.b = b;
	va_start(ap, fmt);
	vsnprintf(act->u.event.text, sizeof(act->u.event.text), fmt, ap);
	va_end(ap);
}

/* An admin request refused: nothing has changed; why says what to do. */
__attribute__((format(printf, 3, 4))) static int refuse(struct ctl *c, int err, const char *fmt,
							...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->out->why, sizeof(c->out->why), fmt, ap);
	va_end(ap);
	return err;
}

static const char *policy_text(const struct sl_policy *p, char *buf, size_t cap)
{
	if (sl_policy_format(p, buf, cap) == 0)
		snprintf(buf, cap, "(invalid)");
	return buf;
}

/* ---- quorum and positions ---------------------------------------------------------- */

static unsigned voters(const struct ctl *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->st.n_members; i++)
		n += !c->st.members[i].learner;
	return n;
}

/*
 * Fenced positions needed before a failover: enough to include one that holds every
 * record committed under p (n-k+1 of the followers for a quorum of k; one for all and
 * async). Learners hold the log but are never counted.
 */
static unsigned quorum_of(const struct ctl *c, const struct sl_policy *p)
{
	unsigned followers = voters(c) - 1; /* ctl_init: at least one voter */

	if ((p->kind == SL_POLICY_FIRST || p->kind == SL_POLICY_ANY) && followers >= p->k)
		return followers - p->k + 1;
	return 1;
}

/* Until the CONFIG record of a change is known committed, the larger of the two. */
/* The policy's CONFIG record is not known committed: the previous policy still counts. */
static bool policy_pending(const struct ctl *c)
{
	return c->st.policy_lsn == 0 || c->st.policy_lsn > c->st.commit_seen;
}

static unsigned ctl_quorum(const struct ctl *c)
{
	unsigned q = quorum_of(c, &c->st.policy), prev = quorum_of(c, &c->st.prev_policy);

	return policy_pending(c) && prev > q ? prev : q;
}

static bool eligible(const struct ctl_node *n)
{
	const struct sl_node_report *r = &n->v.last;

	return !n->v.learner && (r->may_lead || r->refetch_lsn <= r->st.last_lsn);
}

/* (last_epoch, last_lsn) of a against b: -1, 0, 1. */
static int position_cmp(const struct ctl_node *a, const struct ctl_node *b)
{
	const struct sl_core_status *x = &a->v.last.st, *y = &b->v.last.st;

	if (x->last_epoch != y->last_epoch)
		return x->last_epoch > y->last_epoch ? 1 : -1;
	if (x->last_lsn != y->last_lsn)
		return x->last_lsn > y->last_lsn ? 1 : -1;
	return 0;
}

/* The most up to date; when equal, the preferred leader, then the lowest id. */
static bool better(const struct ctl *c, const struct ctl_node *a, const struct ctl_node *b)
{
	int k = position_cmp(a, b);

	if (k != 0)
		return k > 0;
	if (a->v.id == c->st.preferred || b->v.id == c->st.preferred)
		return a->v.id == c->st.preferred;
	return a->v.id < b->v.id;
}

/* A non-learner member heard fenced at the failover's epoch: its position counts. */
static bool fenced_now(const struct ctl *c, const struct ctl_node *n)
{
	return n->v.heard && !n->v.learner && n->v.id != c->fo_skip &&
	       n->v.last.st.epoch == c->st.epoch && n->v.last.st.role == SL_ROLE_FENCED;
}

/* A member that may still bring its position: heard, counted, not fenced at epoch yet. */
static bool fence_pending(const struct ctl *c, const struct ctl_node *n)
{
	return n->v.heard && !n->v.learner && n->v.id != c->fo_skip && !fenced_now(c, n);
}

/* ---- reconfiguration --------------------------------------------------------------- */

/*
 * A leader never counts itself among the standbys of first k / any k, so a promoted
 * standby takes the old leader's place in the list (sim.c ctl_rewrite_policy). The new
 * leader gets the controller's policy whatever its log says.
 */
static void rewrite_policy(struct ctl *c, uint16_t leader, uint16_t old)
{
	struct sl_policy p = c->st.policy, prev = c->st.policy;
	char text[SL_POLICY_TEXT_MAX];
	bool swapped = false;

	for (unsigned i = 0; i < p.n_nodes; i++) {
		if (p.nodes[i] == leader) {
			p.nodes[i] = old;
			swapped = true;
		}
	}
	if (swapped && old && sl_policy_valid(&p)) {
		c->st.policy = p;
		event(c, CTL_EV_POLICY, leader, 0, 0,
		      "Commit policy is now %s: n%u leads, n%u takes its place in the list.",
		      policy_text(&p, text, sizeof(text)), leader, old);
	}
	c->st.prev_policy = prev;
	c->st.policy_lsn = 0;
	send_cmd(c, leader, SL_CTL_SET_POLICY, 0, false, false);
	c->policy_sent_ns = c->now_ns;
}

/* PROMOTE the new leader of st.epoch; everyone else follows it. */
static void reconfigure(struct ctl *c, uint16_t leader, uint16_t old)
{
	send_cmd(c, leader, SL_CTL_PROMOTE, 0, false, false);
	for (unsigned i = 0; i < c->st.n_members; i++)
		if (c->st.members[i].learner)
			send_cmd(c, leader, SL_CTL_SET_LEARNER, c->st.members[i].id, true, false);
	for (unsigned i = 0; i < c->st.n_members; i++)
		if (c->st.members[i].id != leader)
			send_cmd(c, c->st.members[i].id, SL_CTL_FOLLOW, leader,
				 c->st.members[i].learner, false);
	rewrite_policy(c, leader, old);
	c->promoted_ns = c->now_ns;
	c->leader_led = false;
	c->degraded = false;
}

/* ---- failover ---------------------------------------------------------------------- */

static void failover_try(struct ctl *c);

/*
 * Spends epoch+1 and fences every member at it (the old leader and learners too), then
 * collects positions from the reports that follow. Target and force are the caller's.
 */
__attribute__((format(printf, 3, 4))) static void failover_start(struct ctl *c, uint16_t old,
								 const char *fmt, ...)
{
	char why[CTL_TEXT_MAX];
	va_list ap;

	if (c->st.epoch == UINT32_MAX) {
		event(c, CTL_EV_FAILOVER_REFUSED, old, 0, 0,
		      "No failover: epoch %" PRIu32 " is the last one there is.", c->st.epoch);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->st.epoch++;
	c->st.leader = 0;
	c->st.phase = CTL_PHASE_FAILOVER;
	changed(c);
	c->st.old_leader = old;
	c->fo_start_ns = c->now_ns;
	c->fo_count = UINT32_MAX;
	c->fo_refused = (struct ctl_refusal){ 0 };
	event(c, CTL_EV_FAILOVER_START, old, c->st.epoch, 0, "%s Fencing every node at epoch %u.",
	      why, c->st.epoch);
	for (unsigned i = 0; i < c->st.n_members; i++)
		send_cmd(c, c->st.members[i].id, SL_CTL_FENCE, 0, false, false);
	failover_try(c);
}

/* Says why the failover waits, once for each situation. Returns NULL (no pick). */
__attribute__((format(printf, 5, 6))) static const struct ctl_node *
refused(struct ctl *c, uint8_t why, const struct ctl_node *n, uint32_t count, const char *fmt, ...)
{
	struct ctl_refusal r = { why, n ? n->v.id : 0, count, n ? n->v.last.st.last_lsn : 0 };
	struct ctl_action *a;
	va_list ap;

	if (r.why == c->fo_refused.why && r.node == c->fo_refused.node &&
	    r.count == c->fo_refused.count && r.lsn == c->fo_refused.lsn)
		return NULL;
	c->fo_refused = r;
	a = push(c, CTL_ACT_EVENT);
	if (!a)
		return NULL;
	a->u.event.kind = CTL_EV_FAILOVER_REFUSED;
	a->u.event.node = r.node;
	va_start(ap, fmt);
	vsnprintf(a->u.event.text, sizeof(a->u.event.text), fmt, ap);
	va_end(ap);
	return NULL;
}

/*
 * Whether commit_seen is as fresh as the leader's last report. After a restart, once
 * every voting member has reported, the old leader is among them: the highest commit
 * LSN they report is then at least what the controller had seen before it stopped.
 */
static bool commit_heard(struct ctl *c)
{
	uint64_t commit = c->st.commit_seen;

	if (!c->commit_stale)
		return true;
	for (unsigned i = 0; i < c->st.n_members; i++) {
		const struct ctl_node *n = &c->nodes[i];

		if (n->v.learner)
			continue;
		if (!n->seen)
			return false;
		if (n->v.last.st.commit_lsn > commit)
			commit = n->v.last.st.commit_lsn;
	}
	c->st.commit_seen = commit; /* in memory, as a leader's report would */
	c->commit_stale = false;
	return true;
}

/* The node to promote once the quorum has reported, or NULL to keep waiting. */
static const struct ctl_node *failover_pick(struct ctl *c, const struct ctl_node *best,
					    uint32_t count)
{
	const struct ctl_node *pick = best;
	uint64_t lost;

	if (!best)
		return refused(c, REF_NONE_ELIGIBLE, NULL, count,
			       "Failover to epoch %u waits: no fenced node may lead, each must "
			       "fetch records it lost first.",
			       c->st.epoch);
	if (c->st.target) {
		pick = node_of(c, c->st.target);
		if (!pick || !fenced_now(c, pick))
			return refused(
				c, REF_TARGET_MISSING, NULL, count,
				"Failover to n%u waits for its position: it has not reported "
				"fenced at epoch %u yet.",
				c->st.target, c->st.epoch);
		if (!eligible(pick))
			return refused(c, REF_TARGET_INELIGIBLE, pick, count,
				       "Failover to n%u waits: it must fetch LSN %" PRIu64
				       " again before it may lead.",
				       pick->v.id, pick->v.last.refetch_lsn);
		if (!c->st.force && position_cmp(pick, best) < 0)
			return refused(c, REF_TARGET_BEHIND, pick, count,
				       "Failover to n%u waits: it is behind n%u (LSN %" PRIu64
				       " against %" PRIu64 "); --force promotes it anyway.",
				       pick->v.id, best->v.id, pick->v.last.st.last_lsn,
				       best->v.last.st.last_lsn);
	}
	if (c->st.policy.kind == SL_POLICY_ASYNC && !c->st.force && !commit_heard(c))
		return refused(c, REF_COMMIT_UNKNOWN, pick, count,
			       "Failover refused: since the controller restarted, not every "
			       "member has reported, so the committed records n%u would lack "
			       "are unknown; waiting for the old leader, or --force.",
			       pick->v.id);
	lost = c->st.commit_seen > pick->v.last.st.last_lsn
		       ? c->st.commit_seen - pick->v.last.st.last_lsn
		       : 0;
	if (c->st.policy.kind == SL_POLICY_ASYNC && lost > c->cfg.max_lag_on_failover &&
	    !c->st.force)
		return refused(c, REF_ASYNC_LAG, pick, count,
			       "Failover refused: the best node n%u lacks %" PRIu64
			       " committed records (LSN %" PRIu64 "-%" PRIu64
			       "), more than max_lag_on_failover %" PRIu64
			       "; waiting for the old leader, or --force.",
			       pick->v.id, lost, pick->v.last.st.last_lsn + 1, c->st.commit_seen,
			       c->cfg.max_lag_on_failover);
	return pick;
}

static void failover_promote(struct ctl *c, const struct ctl_node *pick)
{
	uint16_t id = pick->v.id, old = c->st.old_leader;
	uint64_t last = pick->v.last.st.last_lsn;
	uint64_t lost = c->st.commit_seen > last ? c->st.commit_seen - last : 0;

	if (lost)
		event(c, CTL_EV_ASYNC_LOSS, old, last + 1, lost,
		      "n%u leads without %" PRIu64 " committed records (about LSN %" PRIu64
		      "-%" PRIu64 ")%s; they are lost.",
		      id, lost, last + 1, c->st.commit_seen,
		      c->st.force ? ", as --force allowed" : "");
	c->st.leader = id;
	c->st.phase = CTL_PHASE_STEADY;
	c->st.target = 0;
	c->st.force = false;
	c->fo_skip = 0;
	c->st.commit_seen -= lost; /* the old epoch's records past last are gone */
	c->st.old_leader = 0;
	changed(c);
	reconfigure(c, id, old);
	event(c, CTL_EV_PROMOTED, id, c->st.epoch, last,
	      "n%u is the leader of epoch %u from LSN %" PRIu64 " (log epoch %" PRIu32 ").", id,
	      c->st.epoch, last, pick->v.last.st.last_epoch);
}

/*
 * Counts the fenced positions in, and promotes when enough have reported. Like the
 * simulator's controller, which sees every node it reaches at once, it also waits for
 * every node still heard, for at most a failure timeout: the best of all the live
 * positions, not of the first few.
 */
static void failover_try(struct ctl *c)
{
	const struct ctl_node *best = NULL, *pick;
	unsigned count = 0, pending = 0, q = ctl_quorum(c);

	for (unsigned i = 0; i < c->st.n_members; i++) {
		const struct ctl_node *n = &c->nodes[i];

		pending += fence_pending(c, n);
		if (!fenced_now(c, n))
			continue;
		count++;
		if (eligible(n) && (!best || better(c, n, best)))
			best = n;
	}
	if (count != c->fo_count) {
		c->fo_count = count;
		event(c, CTL_EV_FAILOVER_WAIT, 0, count, q,
		      "Failover to epoch %u: %u fenced node%s reported a position, %u needed.",
		      c->st.epoch, count, count == 1 ? " has" : "s have", q);
	}
	if (count < q || (pending && since(c, c->fo_start_ns) < c->cfg.failure_timeout_ns))
		return;
	pick = failover_pick(c, best, count);
	if (pick)
		failover_promote(c, pick);
}

/* BOOT: elect once the failover quorum has reported, above every epoch reported. */
static void boot_try(struct ctl *c)
{
	unsigned heard = 0, q = ctl_quorum(c);
	uint32_t e = c->st.epoch;

	for (unsigned i = 0; i < c->st.n_members; i++) {
		const struct ctl_node *n = &c->nodes[i];

		if (!n->v.heard)
			continue;
		heard += !n->v.learner;
		if (n->v.last.st.epoch > e)
			e = n->v.last.st.epoch;
	}
	if (heard < q)
		return;
	c->st.epoch = e;
	changed(c);
	failover_start(c, 0, "First election: %u node%s reported, %u needed.", heard,
		       heard == 1 ? " has" : "s have", q);
}

/* ---- the leader -------------------------------------------------------------------- */

/* An unplanned failover replaces whatever was asked: a switchover, a --to, a --force. */
static void failover_unplanned(struct ctl *c)
{
	if (c->st.phase == CTL_PHASE_SWITCHOVER)
		event(c, CTL_EV_SWITCHOVER_ABORT, c->st.target, 0, 0,
		      "Switchover to n%u abandoned for a failover.", c->st.target);
	c->st.target = 0;
	c->st.force = false;
	c->fo_skip = 0;
	changed(c);
}

__attribute__((format(printf, 2, 3))) static void leader_lost(struct ctl *c, const char *fmt, ...)
{
	struct ctl_node *l = node_of(c, c->st.leader);
	uint64_t silent = l && l->seen ? since(c, l->v.heard_ns) : since(c, c->start_ns);
	char why[CTL_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	event(c, CTL_EV_LEADER_LOST, c->st.leader, ms(silent), 0, "%s", why);
	failover_unplanned(c);
	failover_start(c, c->st.leader, "Failing over from n%u, the leader of epoch %u.",
		       c->st.leader, c->st.epoch);
}

/*
 * A follower vouches for the leader when it heard it within the failure timeout, its
 * report's age carried forward to now. Returns 1 when one vouches, -1 when no follower
 * was heard (no one to ask: the controller may be the one cut off), else 0.
 */
static int followers_hear_leader(const struct ctl *c)
{
	bool witness = false;

	for (unsigned i = 0; i < c->st.n_members; i++) {
		const struct ctl_node *n = &c->nodes[i];
		const struct sl_core_status *s = &n->v.last.st;
		uint64_t age;

		if (n->v.id == c->st.leader || !n->v.heard)
			continue;
		witness |= !n->v.learner && s->role == SL_ROLE_FOLLOWER;
		if ((s->role != SL_ROLE_FOLLOWER && s->role != SL_ROLE_LEARNER) ||
		    s->epoch != c->st.epoch || s->leader != c->st.leader)
			continue;
		age = s->leader_age_ns + since(c, n->v.heard_ns);
		if (s->leader_age_ns < c->cfg.failure_timeout_ns && age < c->cfg.failure_timeout_ns)
			return 1;
	}
	return witness ? 0 : -1;
}

/* Silence: suspect after failure_timeout, failed when the followers lost it too. */
static void leader_check_silence(struct ctl *c)
{
	const struct ctl_node *l = node_of(c, c->st.leader);
	uint64_t silent;

	if ((c->st.phase != CTL_PHASE_STEADY && c->st.phase != CTL_PHASE_SWITCHOVER) || !l)
		return;
	silent = l->seen ? since(c, l->v.heard_ns) : since(c, c->start_ns);
	if (silent < c->cfg.failure_timeout_ns || followers_hear_leader(c) != 0)
		return;
	leader_lost(c,
		    "Leader n%u lost: the controller has not heard it for %" PRIu64
		    " ms and no follower has within the failure timeout of %" PRIu64 " ms.",
		    c->st.leader, ms(silent), ms(c->cfg.failure_timeout_ns));
}

/* A learner the leader sees this close becomes a counted member. */
static void learners_check(struct ctl *c, const struct sl_core_status *s)
{
	for (unsigned p = 0; p < s->n_peers && p < SL_NODE_MAX; p++) {
		const struct sl_peer_status *ps = &s->peers[p];
		int i = member_index(c, ps->node);

		if (i < 0 || !c->st.members[i].learner || !ps->healthy ||
		    ps->lag_records > c->cfg.learner_catchup_records)
			continue;
		c->st.members[i].learner = false;
		c->nodes[i].v.learner = false;
		changed(c);
		send_cmd(c, c->st.leader, SL_CTL_SET_LEARNER, ps->node, false, false);
		event(c, CTL_EV_MEMBER, ps->node, 0, 0,
		      "n%u caught up (%" PRIu64 " records behind n%u) and is now a member counted "
		      "by the commit policy.",
		      ps->node, ps->lag_records, c->st.leader);
	}
}

/*
 * The leader counts every peer of its configuration unless told it is a learner: a
 * spare (configured, not yet added) or a removed node would hold up `all` for ever.
 * Each report, the peers whose learner flag differs from the membership are told.
 */
static void peers_reconcile(struct ctl *c, const struct sl_core_status *s)
{
	for (unsigned p = 0; p < s->n_peers && p < SL_NODE_MAX; p++) {
		const struct sl_peer_status *ps = &s->peers[p];
		int i = member_index(c, ps->node);
		bool learner = i < 0 || c->st.members[i].learner;

		/* No member: peers_sync removes it. */
		if (i >= 0 && ps->learner != learner)
			send_cmd(c, c->st.leader, SL_CTL_SET_LEARNER, ps->node, learner, false);
	}
}

static bool peer_listed(const struct sl_core_status *s, uint16_t id)
{
	for (unsigned p = 0; p < s->n_peers && p < SL_NODE_MAX; p++)
		if (s->peers[p].node == id)
			return true;
	return false;
}

/*
 * The membership is the controller's: every member knows every other as a peer, and
 * no other node. A member's report lists its peers. One missing (a node added) gets
 * ADD_PEER with the data address that member reported (not heard yet: a later report
 * asks again); one that is no member (a spare, a node removed) gets REMOVE_PEER. Each
 * report asks again until the node's peers agree.
 */
static void peers_sync(struct ctl *c, const struct ctl_node *n)
{
	const struct sl_core_status *s = &n->v.last.st;

	for (unsigned i = 0; i < c->st.n_members; i++) {
		const struct ctl_node *m = &c->nodes[i];
		struct sl_control *cmd;

		if (m->v.id == n->v.id || !m->seen || m->v.last.data_addr[0] == '\0' ||
		    peer_listed(s, m->v.id))
			continue;
		cmd = send_cmd(c, n->v.id, SL_CTL_ADD_PEER, m->v.id, c->st.members[i].learner,
			       false);
		if (cmd)
			memcpy(cmd->addr, m->v.last.data_addr, sizeof(cmd->addr));
	}
	for (unsigned p = 0; p < s->n_peers && p < SL_NODE_MAX; p++)
		if (member_index(c, s->peers[p].node) < 0)
			send_cmd(c, n->v.id, SL_CTL_REMOVE_PEER, s->peers[p].node, false, false);
}

static void switchover_check(struct ctl *c);

/* A report of the leader of record (STEADY or SWITCHOVER). */
static void leader_report(struct ctl *c, const struct sl_node_report *r)
{
	const struct sl_core_status *s = &r->st;

	if (s->role != SL_ROLE_LEADER || s->epoch != c->st.epoch || s->lease_expired) {
		/* Fenced at the new epoch but not led yet: PROMOTE may still be on its way. */
		if (!c->leader_led && s->role == SL_ROLE_FENCED && s->epoch == c->st.epoch &&
		    since(c, c->promoted_ns) < c->cfg.failure_timeout_ns)
			return;
		leader_lost(c,
			    "Leader n%u lost: it reports role %s at epoch %" PRIu32
			    "%s, not leader of epoch %u.",
			    r->node, sl_role_name(s->role), s->epoch,
			    s->lease_expired ? " with its lease expired" : "", c->st.epoch);
		return;
	}
	c->leader_led = true;
	send_cmd(c, r->node, SL_CTL_RENEW, 0, false, false);
	/* Not a change of its own (no SAVE): see the top of this file. */
	if (s->commit_lsn > c->st.commit_seen)
		c->st.commit_seen = s->commit_lsn;
	c->commit_stale = false;
	if (memcmp(&s->policy, &c->st.policy, sizeof(s->policy)) != 0) {
		/* Lost on the way (a reconnect): again, once per failure timeout. */
		if (since(c, c->policy_sent_ns) >= c->cfg.failure_timeout_ns) {
			send_cmd(c, r->node, SL_CTL_SET_POLICY, 0, false, false);
			c->policy_sent_ns = c->now_ns;
		}
	} else if (c->st.policy_lsn == 0) {
		c->st.policy_lsn = s->last_lsn ? s->last_lsn : 1;
		changed(c);
	}
	if (s->degraded != c->degraded) {
		c->degraded = s->degraded;
		event(c, CTL_EV_DEGRADED, r->node, s->degraded, 0,
		      s->degraded ? "Leader n%u degraded to async: its commit policy's followers "
				    "did not answer within sync_timeout_ms."
				  : "Leader n%u commits under its policy again.",
		      r->node);
	}
	if (c->st.phase == CTL_PHASE_SWITCHOVER) {
		if (!s->paused)
			send_cmd(c, r->node, SL_CTL_PAUSE, 0, false, true);
		switchover_check(c);
	} else {
		peers_reconcile(c, s);
		learners_check(c, s);
	}
}

/* Any other member: follow the leader of record, as the learner or follower it is. */
static void member_reconcile(struct ctl *c, const struct ctl_node *n)
{
	const struct sl_core_status *s = &n->v.last.st;
	uint8_t role = n->v.learner ? SL_ROLE_LEARNER : SL_ROLE_FOLLOWER;

	if (s->epoch < c->st.epoch || s->leader != c->st.leader || s->role != role)
		send_cmd(c, n->v.id, SL_CTL_FOLLOW, c->st.leader, n->v.learner, false);
}

/* ---- switchover -------------------------------------------------------------------- */

static void switchover_finish(struct ctl *c)
{
	uint16_t old = c->st.leader, target = c->st.target;
	uint64_t last = node_of(c, old)->v.last.st.last_lsn;

	if (c->st.epoch == UINT32_MAX)
		return;
	c->st.epoch++;
	c->st.leader = target;
	c->st.phase = CTL_PHASE_STEADY;
	c->st.target = 0;
	changed(c);
	send_cmd(c, old, SL_CTL_FENCE, 0, false, false);
	reconfigure(c, target, old);
	event(c, CTL_EV_PROMOTED, target, c->st.epoch, last,
	      "Switchover done: n%u leads epoch %u from LSN %" PRIu64 ", n%u follows it.", target,
	      c->st.epoch, last, old);
}

/* The leader paused and the target flushed its last LSN: no record can be lost. */
static void switchover_check(struct ctl *c)
{
	const struct ctl_node *l = node_of(c, c->st.leader), *t = node_of(c, c->st.target);
	const struct sl_core_status *ls, *ts;

	if (c->st.phase != CTL_PHASE_SWITCHOVER || !l || !t || !l->seen || !t->seen)
		return;
	ls = &l->v.last.st;
	ts = &t->v.last.st;
	if (ls->role != SL_ROLE_LEADER || ls->epoch != c->st.epoch || !ls->paused)
		return;
	if (ts->role != SL_ROLE_FOLLOWER || ts->epoch != c->st.epoch ||
	    ts->flushed_lsn < ls->last_lsn)
		return;
	switchover_finish(c);
}

static void switchover_check_deadline(struct ctl *c)
{
	const struct ctl_node *t = node_of(c, c->st.target);
	uint16_t target = c->st.target;

	if (c->st.phase != CTL_PHASE_SWITCHOVER || c->now_ns < c->so_deadline_ns)
		return;
	c->st.phase = CTL_PHASE_STEADY;
	c->st.target = 0;
	changed(c);
	send_cmd(c, c->st.leader, SL_CTL_PAUSE, 0, false, false);
	event(c, CTL_EV_SWITCHOVER_ABORT, target, 0, 0,
	      "Switchover to n%u aborted: it had flushed LSN %" PRIu64
	      " and did not catch up with n%u within %" PRIu64 " ms; n%u takes writes again.",
	      target, t && t->seen ? t->v.last.st.flushed_lsn : 0, c->st.leader,
	      ms(c->cfg.switchover_timeout_ns), c->st.leader);
}

/* ---- inputs ------------------------------------------------------------------------ */

static void views_update(struct ctl *c)
{
	for (unsigned i = 0; i < c->st.n_members; i++) {
		struct ctl_node *n = &c->nodes[i];

		n->v.heard = n->seen && since(c, n->v.heard_ns) < c->cfg.failure_timeout_ns;
	}
}

static void on_tick(struct ctl *c)
{
	for (unsigned i = 0; i < c->st.n_members; i++) {
		struct ctl_node *n = &c->nodes[i];

		if (!n->up || n->v.heard)
			continue;
		n->up = false;
		event(c, CTL_EV_NODE_DOWN, n->v.id, 0, 0,
		      "n%u has not reported for %" PRIu64 " ms, the failure timeout.", n->v.id,
		      ms(since(c, n->v.heard_ns)));
	}
	switch (c->st.phase) {
	case CTL_PHASE_BOOT:
		boot_try(c);
		break;
	case CTL_PHASE_FAILOVER:
		failover_try(c);
		break;
	default:
		switchover_check_deadline(c);
		leader_check_silence(c);
		break;
	}
}

/* A report above the stored epoch: the controller's state is behind (lost, restored). */
static bool epoch_adopt(struct ctl *c, const struct sl_node_report *r)
{
	uint32_t stored = c->st.epoch;

	if (c->st.phase == CTL_PHASE_BOOT || r->st.epoch <= c->st.epoch)
		return false;
	failover_unplanned(c);
	c->st.epoch = r->st.epoch;
	failover_start(c, c->st.leader ? c->st.leader : c->st.old_leader,
		       "n%u reports epoch %" PRIu32 ", above the %" PRIu32
		       " the controller stored: its state was behind.",
		       r->node, r->st.epoch, stored);
	return true;
}

/*
 * A node's newest snapshot moved: it wrote one (asked by the operator, or on its own),
 * installed the leader's, or lost one (a restart that found it damaged). The first report
 * after the controller starts only sets what later ones are compared with.
 */
static void snapshot_check(struct ctl *c, const struct sl_node_report *r, uint64_t was_lsn,
			   uint64_t was_installed)
{
	uint64_t lsn = r->snapshot_lsn, first = r->wal_first_lsn;

	if (lsn == was_lsn)
		return;
	if (lsn == 0)
		event(c, CTL_EV_SNAPSHOT, r->node, lsn, first,
		      "n%u reports no snapshot any more (it had one at LSN %" PRIu64
		      "); its WAL starts at LSN %" PRIu64 ".",
		      r->node, was_lsn, first);
	else if (r->snapshots_installed > was_installed)
		event(c, CTL_EV_SNAPSHOT, r->node, lsn, first,
		      "n%u installed the leader's snapshot at LSN %" PRIu64
		      "; its WAL starts at LSN %" PRIu64 ".",
		      r->node, lsn, first);
	else if (lsn > was_lsn)
		event(c, CTL_EV_SNAPSHOT, r->node, lsn, first,
		      "n%u wrote a snapshot at LSN %" PRIu64 "; its WAL starts at LSN %" PRIu64 ".",
		      r->node, lsn, first);
	else /* a restart that found its newest snapshot damaged */
		event(c, CTL_EV_SNAPSHOT, r->node, lsn, first,
		      "n%u's newest snapshot is at LSN %" PRIu64
		      ", older than the one at LSN %" PRIu64
		      " it had; its WAL starts at LSN %" PRIu64 ".",
		      r->node, lsn, was_lsn, first);
}

static int on_report(struct ctl *c, const struct sl_node_report *r)
{
	uint64_t was_lsn, was_installed; /* the last report's, for snapshot_check */
	struct ctl_node *n;
	bool seen;

	if (!r)
		return -EINVAL;
	n = node_of(c, r->node);
	if (!n || r->cluster_id != c->st.cluster_id)
		return 0; /* not ours: the caller counts and closes such agents */
	was_lsn = n->v.last.snapshot_lsn;
	was_installed = n->v.last.snapshots_installed;
	n->v.last = *r;
	n->v.heard_ns = c->now_ns;
	n->v.heard = true;
	seen = n->seen;
	n->seen = true;
	if (!n->up) {
		n->up = true;
		event(c, CTL_EV_NODE_UP, r->node, 0, 0,
		      "n%u is reporting: %s at epoch %" PRIu32 ", last LSN %" PRIu64 ".", r->node,
		      sl_role_name(r->st.role), r->st.epoch, r->st.last_lsn);
	}
	if (seen)
		snapshot_check(c, r, was_lsn, was_installed);
	if (epoch_adopt(c, r))
		return 0;
	/* Peers first, in every phase: a node added may not know the leader it is about
	 * to follow, nor a leader about to be promoted every member it must count. */
	peers_sync(c, n);
	switch (c->st.phase) {
	case CTL_PHASE_BOOT:
		boot_try(c);
		return 0;
	case CTL_PHASE_FAILOVER:
		if (r->st.epoch < c->st.epoch)
			send_cmd(c, r->node, SL_CTL_FENCE, 0, false, false);
		failover_try(c);
		return 0;
	}
	if (r->node == c->st.leader)
		leader_report(c, r);
	else
		member_reconcile(c, n);
	if (c->st.phase == CTL_PHASE_SWITCHOVER && r->node == c->st.target)
		switchover_check(c);
	leader_check_silence(c);
	return 0;
}

static int on_note(struct ctl *c, const struct sl_node_note *nt)
{
	if (!nt)
		return -EINVAL;
	if (!node_of(c, nt->node))
		return 0;
	if (nt->what == SL_NOTE_TRUNCATED)
		event(c, CTL_EV_TRUNCATED, nt->node, nt->a, nt->b,
		      "n%u discarded %" PRIu64 " record%s, LSN %" PRIu64 "-%" PRIu64 ".", nt->node,
		      nt->b, nt->b == 1 ? "" : "s", nt->a, nt->b ? nt->a + nt->b - 1 : nt->a);
	else if (nt->what == SL_NOTE_SPLIT_BRAIN)
		event(c, CTL_EV_SPLIT_BRAIN, nt->node, nt->a, 0,
		      "n%u saw n%" PRIu64 " claim the leadership of its epoch; the controller's "
		      "leader of epoch %u is n%u.",
		      nt->node, nt->a, c->st.epoch, c->st.leader);
	return 0;
}

/* ---- admin ------------------------------------------------------------------------- */

static int admin_failover(struct ctl *c, const struct ctl_admin *ad)
{
	const struct ctl_node *t = ad->node ? node_of(c, ad->node) : NULL;
	uint32_t e = c->st.epoch;
	char to[16] = "";

	if (ad->node && !t)
		return refuse(c, -ENOENT, "n%u is not a member of the cluster.", ad->node);
	if (t && t->v.learner)
		return refuse(c, -EINVAL, "n%u is a learner: it may not lead until it caught up.",
			      ad->node);
	if (c->st.phase == CTL_PHASE_SWITCHOVER)
		return refuse(c, -EBUSY, "A switchover to n%u is under way.", c->st.target);
	if (c->st.phase == CTL_PHASE_FAILOVER) {
		if (!ad->force)
			return refuse(c, -EBUSY,
				      "A failover to epoch %u is under way; --force lifts the "
				      "bounds it waits on.",
				      c->st.epoch);
		c->st.force = true; /* the operator overrides the failover under way */
		if (ad->node)
			c->st.target = ad->node;
		changed(c);
		c->fo_refused = (struct ctl_refusal){ 0 };
		failover_try(c);
		return 0;
	}
	if (ad->node && ad->node == c->st.leader)
		return refuse(c, -EINVAL, "n%u already leads epoch %u.", ad->node, c->st.epoch);
	for (unsigned i = 0; c->st.phase == CTL_PHASE_BOOT && i < c->st.n_members; i++)
		if (c->nodes[i].v.heard && c->nodes[i].v.last.st.epoch > e)
			e = c->nodes[i].v.last.st.epoch;
	if (ad->node)
		snprintf(to, sizeof(to), " to n%u", ad->node);
	c->st.epoch = e;
	c->st.target = ad->node;
	c->st.force = ad->force;
	changed(c);
	/* Without --to, the operator wants another leader: the old one is not a candidate,
	 * nor counted (the quorum must then be found among the others). */
	c->fo_skip = ad->node ? 0 : c->st.leader;
	failover_start(c, c->st.leader, "The operator asked for a failover%s%s.", to,
		       ad->force ? ", forced" : "");
	return 0;
}

static int admin_switchover(struct ctl *c, const struct ctl_admin *ad)
{
	const struct ctl_node *t = node_of(c, ad->node), *l = node_of(c, c->st.leader);
	const struct sl_core_status *ts;

	if (c->st.phase == CTL_PHASE_FAILOVER || c->st.phase == CTL_PHASE_SWITCHOVER)
		return refuse(c, -EBUSY, "A %s is under way.", ctl_phase_name(c->st.phase));
	if (c->st.phase != CTL_PHASE_STEADY || !l)
		return refuse(c, -EAGAIN, "No leader yet: the first election has not happened.");
	if (!t)
		return refuse(c, -ENOENT, "n%u is not a member of the cluster.", ad->node);
	if (ad->node == c->st.leader)
		return refuse(c, -EINVAL, "n%u already leads epoch %u.", ad->node, c->st.epoch);
	if (t->v.learner)
		return refuse(c, -EINVAL, "n%u is a learner: it may not lead until it caught up.",
			      ad->node);
	if (!l->v.heard)
		return refuse(c, -EAGAIN, "The leader n%u has not reported recently.", l->v.id);
	ts = &t->v.last.st;
	if (!t->v.heard || ts->role != SL_ROLE_FOLLOWER || ts->epoch != c->st.epoch)
		return refuse(c, -EAGAIN, "n%u is not a follower heard at epoch %u.", ad->node,
			      c->st.epoch);
	if (!eligible(t))
		return refuse(c, -EAGAIN,
			      "n%u must fetch LSN %" PRIu64 " again before it may lead.", ad->node,
			      t->v.last.refetch_lsn);
	c->st.phase = CTL_PHASE_SWITCHOVER;
	c->st.target = ad->node;
	changed(c);
	c->so_deadline_ns = c->now_ns + c->cfg.switchover_timeout_ns;
	send_cmd(c, c->st.leader, SL_CTL_PAUSE, 0, false, true);
	event(c, CTL_EV_SWITCHOVER_START, ad->node, 0, 0,
	      "Switchover from n%u to n%u: n%u's writes pause until n%u has flushed its last "
	      "LSN (at most %" PRIu64 " ms).",
	      c->st.leader, ad->node, c->st.leader, ad->node, ms(c->cfg.switchover_timeout_ns));
	switchover_check(c);
	return 0;
}

static int admin_set_policy(struct ctl *c, const struct ctl_admin *ad)
{
	char text[SL_POLICY_TEXT_MAX];
	const struct sl_policy *p = &ad->policy;

	if (!sl_policy_valid(p))
		return refuse(c, -EINVAL, "That is not a valid commit policy.");
	for (unsigned i = 0; i < p->n_nodes; i++)
		if (member_index(c, p->nodes[i]) < 0)
			return refuse(c, -EINVAL, "The policy names n%u, which is not a member.",
				      p->nodes[i]);
	if (c->st.phase == CTL_PHASE_FAILOVER || c->st.phase == CTL_PHASE_SWITCHOVER)
		return refuse(c, -EBUSY, "A %s is under way.", ctl_phase_name(c->st.phase));
	if (memcmp(p, &c->st.policy, sizeof(*p)) == 0)
		return 0;
	c->st.prev_policy = c->st.policy;
	c->st.policy = *p;
	c->st.policy_lsn = 0;
	changed(c);
	if (c->st.leader)
		send_cmd(c, c->st.leader, SL_CTL_SET_POLICY, 0, false, false);
	c->policy_sent_ns = c->now_ns;
	event(c, CTL_EV_POLICY, c->st.leader, 0, 0, "Commit policy is now %s.",
	      policy_text(p, text, sizeof(text)));
	return 0;
}

static int admin_add_node(struct ctl *c, const struct ctl_admin *ad)
{
	struct ctl_node *n;

	if (ad->node == 0 || ad->node > SL_NODE_MAX)
		return refuse(c, -EINVAL, "Node ids are 1 to %u.", SL_NODE_MAX);
	if (member_index(c, ad->node) >= 0)
		return refuse(c, -EINVAL, "n%u is already a member.", ad->node);
	if (c->st.phase == CTL_PHASE_FAILOVER || c->st.phase == CTL_PHASE_SWITCHOVER)
		return refuse(c, -EBUSY, "A %s is under way.", ctl_phase_name(c->st.phase));
	c->st.members[c->st.n_members] = (struct ctl_member){ ad->node, true };
	n = &c->nodes[c->st.n_members++];
	memset(n, 0, sizeof(*n));
	n->v.id = ad->node;
	n->v.learner = true;
	changed(c);
	/* A peer of the leader already (a spare not removed yet) stops counting at once;
	 * otherwise ADD_PEER adds it as a learner once it has reported its address. */
	if (c->st.leader && peer_listed(&node_of(c, c->st.leader)->v.last.st, ad->node))
		send_cmd(c, c->st.leader, SL_CTL_SET_LEARNER, ad->node, true, false);
	event(c, CTL_EV_MEMBER, ad->node, 1, 0,
	      "n%u joins as a learner: it receives the log and counts for the commit policy once "
	      "it is within %" PRIu64 " records of the leader.",
	      ad->node, c->cfg.learner_catchup_records);
	return 0;
}

static int admin_remove_node(struct ctl *c, const struct ctl_admin *ad)
{
	char text[SL_POLICY_TEXT_MAX];
	int i = member_index(c, ad->node);
	bool learner;

	if (i < 0)
		return refuse(c, -ENOENT, "n%u is not a member of the cluster.", ad->node);
	if (ad->node == c->st.leader)
		return refuse(c, -EINVAL, "n%u leads epoch %u: switch over to another node first.",
			      ad->node, c->st.epoch);
	learner = c->st.members[i].learner;
	if (c->st.n_members == 1 || (!learner && voters(c) == 1))
		return refuse(c, -EINVAL, "n%u is the last member that may lead.", ad->node);
	for (unsigned k = 0; k < c->st.policy.n_nodes; k++)
		if (c->st.policy.nodes[k] == ad->node)
			return refuse(c, -EINVAL,
				      "n%u is named in the commit policy %s: change the policy "
				      "first.",
				      ad->node, policy_text(&c->st.policy, text, sizeof(text)));
	/* Records may have committed on it under the previous policy: a failover quorum
	 * without it could miss them until the new policy's CONFIG record commits. */
	for (unsigned k = 0; policy_pending(c) && k < c->st.prev_policy.n_nodes; k++)
		if (c->st.prev_policy.nodes[k] == ad->node)
			return refuse(c, -EBUSY,
				      "n%u is named in the previous commit policy %s, still in "
				      "force until the new one commits: try again then.",
				      ad->node,
				      policy_text(&c->st.prev_policy, text, sizeof(text)));
	if (c->st.phase == CTL_PHASE_FAILOVER || c->st.phase == CTL_PHASE_SWITCHOVER)
		return refuse(c, -EBUSY, "A %s is under way.", ctl_phase_name(c->st.phase));
	c->st.n_members--;
	memmove(&c->st.members[i], &c->st.members[i + 1],
		(c->st.n_members - (unsigned)i) * sizeof(c->st.members[0]));
	memmove(&c->nodes[i], &c->nodes[i + 1],
		(c->st.n_members - (unsigned)i) * sizeof(c->nodes[0]));
	changed(c);
	/* The leader stops counting it (under all, it would wait for it forever). */
	if (!learner && c->st.leader)
		send_cmd(c, c->st.leader, SL_CTL_SET_LEARNER, ad->node, true, false);
	event(c, CTL_EV_MEMBER, ad->node, 0, 0, "n%u was removed from the cluster.", ad->node);
	return 0;
}

static bool connected(const struct ctl_admin *ad, uint16_t id)
{
	return id >= 1 && id <= SL_NODE_MAX && (ad->connected >> (id - 1) & 1);
}

/*
 * SNAPSHOT to node, or to every member connected (node 0), at the current epoch: each
 * writes a state image and deletes the WAL segments it no longer needs. Nothing of the
 * controller's state changes; a node not connected could not be told (a command is not
 * kept for later), so it is refused, or left out of "every".
 */
static int admin_snapshot(struct ctl *c, const struct ctl_admin *ad)
{
	uint64_t asked = 0;

	if (ad->node && member_index(c, ad->node) < 0)
		return refuse(c, -ENOENT, "n%u is not a member of the cluster.", ad->node);
	if (c->st.phase == CTL_PHASE_BOOT)
		return refuse(c, -EAGAIN, "No leader yet: the first election has not happened.");
	if (c->st.phase == CTL_PHASE_FAILOVER)
		return refuse(c, -EBUSY, "A failover to epoch %u is under way.", c->st.epoch);
	if (ad->node && !connected(ad, ad->node))
		return refuse(c, -EAGAIN, "n%u is not connected to the controller.", ad->node);
	for (unsigned i = 0; i < c->st.n_members; i++) {
		uint16_t id = c->st.members[i].id;

		if ((ad->node == 0 || ad->node == id) && connected(ad, id))
			asked |= 1ull << (id - 1);
	}
	if (asked == 0)
		return refuse(c, -EAGAIN, "No member is connected to the controller.");
	for (unsigned i = 0; i < c->st.n_members; i++)
		if (asked >> (c->st.members[i].id - 1) & 1)
			send_cmd(c, c->st.members[i].id, SL_CTL_SNAPSHOT, 0, false, false);
	c->out->asked = asked;
	return 0;
}

static int on_admin(struct ctl *c, const struct ctl_admin *ad)
{
	switch (ad->op) {
	case CTL_OP_FAILOVER:
		return admin_failover(c, ad);
	case CTL_OP_SWITCHOVER:
		return admin_switchover(c, ad);
	case CTL_OP_SET_POLICY:
		return admin_set_policy(c, ad);
	case CTL_OP_ADD_NODE:
		return admin_add_node(c, ad);
	case CTL_OP_REMOVE_NODE:
		return admin_remove_node(c, ad);
	case CTL_OP_SNAPSHOT:
		return admin_snapshot(c, ad);
	}
	return refuse(c, -EINVAL, "Unknown operation %u.", ad->op);
}

/* ---- entry points ------------------------------------------------------------------ */

unsigned long ctl_mem_size(void)
{
	return sizeof(struct ctl);
}

static bool state_usable(const struct ctl_config *cfg, const struct ctl_state *st)
{
	unsigned voting = 0;

	if (st->cluster_id != cfg->cluster_id || st->phase > CTL_PHASE_SWITCHOVER ||
	    st->n_members == 0 || st->n_members > SL_NODE_MAX || !sl_policy_valid(&st->policy) ||
	    !sl_policy_valid(&st->prev_policy))
		return false;
	for (unsigned i = 0; i < st->n_members; i++) {
		uint16_t id = st->members[i].id;

		if (id == 0 || id > SL_NODE_MAX)
			return false;
		for (unsigned j = 0; j < i; j++)
			if (st->members[j].id == id)
				return false;
		voting += !st->members[i].learner;
		if (id == st->leader && st->members[i].learner)
			return false;
	}
	if (voting == 0)
		return false;
	if (st->phase == CTL_PHASE_STEADY || st->phase == CTL_PHASE_SWITCHOVER)
		for (unsigned i = 0; i < st->n_members; i++)
			if (st->members[i].id == st->leader)
				return true;
	return st->phase == CTL_PHASE_BOOT || st->phase == CTL_PHASE_FAILOVER;
}

struct ctl *ctl_init(void *mem, const struct ctl_config *cfg, const struct ctl_state *state)
{
	struct ctl *c = mem;

	if (!mem || !cfg || !state || (uintptr_t)mem % _Alignof(struct ctl) != 0 ||
	    cfg->failure_timeout_ns == 0 || cfg->switchover_timeout_ns == 0 ||
	    !state_usable(cfg, state))
		return NULL;
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	c->st = *state;
	for (unsigned i = 0; i < c->st.n_members; i++) {
		c->nodes[i].v.id = c->st.members[i].id;
		c->nodes[i].v.learner = c->st.members[i].learner;
	}
	c->fo_count = UINT32_MAX;
	c->commit_stale = state->epoch != 0; /* epoch 0: nothing was ever committed */
	return c;
}

/* The first input starts the clocks a restarted controller cannot remember. */
static void first_input(struct ctl *c)
{
	c->started = true;
	c->start_ns = c->now_ns;
	c->promoted_ns = c->now_ns;
	c->fo_start_ns = c->now_ns;
	c->so_deadline_ns = c->now_ns + c->cfg.switchover_timeout_ns;
}

/* The SAVE goes first: nothing of this step leaves before the state is stored. */
static void save_first(struct ctl *c)
{
	struct ctl_out *o = c->out;

	memmove(&o->act[1], &o->act[0], o->n_act * sizeof(o->act[0]));
	memset(&o->act[0], 0, sizeof(o->act[0]));
	o->act[0].type = CTL_ACT_SAVE;
	o->n_act++;
}

int ctl_step(struct ctl *c, const struct ctl_input *in, struct ctl_out *out)
{
	uint64_t version;
	int rc;

	if (!c || !in || !out)
		return -EINVAL;
	out->n_act = 0;
	out->why[0] = '\0';
	out->asked = 0;
	c->out = out;
	c->now_ns = in->now_ns;
	if (!c->started)
		first_input(c);
	version = c->st.version;
	views_update(c);
	switch (in->type) {
	case CTL_IN_TICK:
		on_tick(c);
		rc = 0;
		break;
	case CTL_IN_REPORT:
		rc = on_report(c, in->u.report);
		break;
	case CTL_IN_NOTE:
		rc = on_note(c, in->u.note);
		break;
	case CTL_IN_ADMIN:
		rc = on_admin(c, &in->u.admin);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (c->st.version != version)
		save_first(c);
	c->out = NULL;
	return rc;
}

const struct ctl_state *ctl_state(const struct ctl *c)
{
	return &c->st;
}

const struct ctl_node_view *ctl_node(const struct ctl *c, unsigned i)
{
	return i < c->st.n_members ? &c->nodes[i].v : NULL;
}
