/*
 * The controller's decisions (control/ctlcore.h), driven with synthetic reports. A tiny
 * model of each node executes the commands the controller sends (FENCE, PROMOTE,
 * FOLLOW, PAUSE, SET_POLICY) and reports its role, epoch and log position back; the
 * tests move the positions, kill nodes and cut the controller off, and check what the
 * controller decided. Every step is checked for the SAVE rule (ctlcore.h): one SAVE,
 * first, in each step that changes the state, and no command of an epoch not stored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctlcore.h"
#include "ctltest.h"

#define MS	   1000000ull
#define FT_NS	   (100 * MS) /* failure timeout */
#define SO_NS	   (300 * MS) /* switchover timeout */
#define TICK_NS	   (10 * MS)
#define REPORT_NS  (20 * MS) /* each node reports this often */
#define LOG_MAX	   4096
#define CLUSTER_ID 7

struct model {
	bool dead; /* reports nothing, executes nothing */
	bool cut;  /* the controller neither hears nor reaches it; the nodes still do */
	uint64_t died_ns;
	uint64_t peers; /* bit id - 1: its core's peers (ADD_PEER and REMOVE_PEER change it) */
	struct sl_node_report r;
};

struct logged {
	struct ctl_action a;
	uint64_t at_ns;
};

struct h {
	struct ctl *c;
	void *mem;
	struct ctl_config cfg;
	struct ctl_out out;
	uint64_t now;
	uint32_t stored_epoch; /* the epoch of the last SAVE */
	unsigned n;	       /* nodes 1..n exist */
	struct model m[SL_NODE_MAX + 1];
	struct logged log[LOG_MAX];
	unsigned n_log;
};

/* ---- the harness ------------------------------------------------------------------- */

/* CTL_TRACE=1 prints every action, for a failing test. */
static void trace_action(const struct h *h, const struct ctl_action *a)
{
	if (a->type == CTL_ACT_EVENT)
		printf("%8.1f ms  event %u: %s\n", (double)h->now / MS, a->u.event.kind,
		       a->u.event.text);
	else if (a->type == CTL_ACT_SEND)
		printf("%8.1f ms  -> n%u %s node %u epoch %u learner %u pause %u\n",
		       (double)h->now / MS, a->u.send.node, sl_control_cmd_name(a->u.send.cmd.cmd),
		       a->u.send.cmd.node, a->u.send.cmd.epoch, a->u.send.cmd.learner,
		       a->u.send.cmd.pause);
	else
		printf("%8.1f ms  save\n", (double)h->now / MS);
}

static void check_out(struct h *h, uint64_t version_before, int rc)
{
	const struct ctl_state *st = ctl_state(h->c);
	unsigned saves = 0;

	assert_true(h->out.n_act <= CTL_ACTIONS_MAX);
	for (unsigned i = 0; i < h->out.n_act; i++)
		saves += h->out.act[i].type == CTL_ACT_SAVE;
	if (st->version != version_before) {
		assert_int_equal(saves, 1);
		assert_int_equal(h->out.act[0].type, CTL_ACT_SAVE);
		h->stored_epoch = st->epoch;
	} else {
		assert_int_equal(saves, 0);
	}
	if (rc != 0) /* a refused request changes nothing and asks nothing */
		assert_int_equal(h->out.n_act, 0);
	for (unsigned i = 0; i < h->out.n_act; i++) {
		const struct ctl_action *a = &h->out.act[i];
		size_t len;

		if (a->type == CTL_ACT_SEND) {
			assert_true(a->u.send.cmd.epoch <= h->stored_epoch);
			assert_true(a->u.send.node >= 1 && a->u.send.node <= SL_NODE_MAX);
		} else if (a->type == CTL_ACT_EVENT) {
			len = strlen(a->u.event.text);
			assert_true(len > 10 && len < CTL_TEXT_MAX - 1);
			assert_int_equal(a->u.event.text[len - 1], '.'); /* a whole sentence */
		}
		if (getenv("CTL_TRACE"))
			trace_action(h, a);
		if (a->type != CTL_ACT_SAVE && h->n_log < LOG_MAX)
			h->log[h->n_log++] = (struct logged){ *a, h->now };
	}
}

static int step(struct h *h, struct ctl_input *in)
{
	uint64_t version = ctl_state(h->c)->version;
	int rc;

	in->now_ns = h->now;
	rc = ctl_step(h->c, in, &h->out);
	check_out(h, version, rc);
	return rc;
}

/* What a node does with a command (the core's behaviour, reduced to the status). */
static void model_apply(struct h *h, uint16_t id, const struct sl_control *cmd)
{
	struct sl_core_status *s = &h->m[id].r.st;

	if (h->m[id].dead || h->m[id].cut || cmd->epoch < s->epoch)
		return;
	switch (cmd->cmd) {
	case SL_CTL_FENCE:
		*s = (struct sl_core_status){ .role = SL_ROLE_FENCED,
					      .epoch = cmd->epoch,
					      .last_lsn = s->last_lsn,
					      .last_epoch = s->last_epoch,
					      .flushed_lsn = s->flushed_lsn,
					      .applied_lsn = s->applied_lsn,
					      .commit_lsn = s->commit_lsn,
					      .policy = s->policy,
					      .leader_age_ns = UINT64_MAX };
		break;
	case SL_CTL_PROMOTE:
		s->role = SL_ROLE_LEADER;
		s->epoch = cmd->epoch;
		s->leader = id;
		s->paused = false;
		break;
	case SL_CTL_FOLLOW:
		s->role = cmd->learner ? SL_ROLE_LEARNER : SL_ROLE_FOLLOWER;
		s->epoch = cmd->epoch;
		s->leader = cmd->node;
		s->paused = false;
		s->n_peers = 0;
		break;
	case SL_CTL_PAUSE:
		s->paused = cmd->pause;
		break;
	case SL_CTL_SET_POLICY:
		s->policy = cmd->policy;
		break;
	case SL_CTL_SET_LEARNER:
		for (unsigned p = 0; p < s->n_peers; p++)
			if (s->peers[p].node == cmd->node)
				s->peers[p].learner = cmd->learner;
		break;
	case SL_CTL_ADD_PEER:
		assert_true(cmd->addr[0] != '\0');
		h->m[id].peers |= 1ull << (cmd->node - 1);
		break;
	case SL_CTL_REMOVE_PEER:
		h->m[id].peers &= ~(1ull << (cmd->node - 1));
		break;
	case SL_CTL_SNAPSHOT: /* of its applied state; every segment before it goes */
		h->m[id].r.snapshot_lsn = s->applied_lsn;
		h->m[id].r.wal_first_lsn = s->applied_lsn + 1;
		break;
	}
}

/*
 * The peers a report lists, as its core would: one entry per peer of the model, those a
 * test filled in (a leader's view of them) kept, the others plain.
 */
static void model_peers(struct model *m)
{
	struct sl_core_status *s = &m->r.st;
	struct sl_peer_status list[SL_NODE_MAX];
	unsigned n = 0;

	for (uint16_t id = 1; id <= SL_NODE_MAX; id++) {
		if (!(m->peers >> (id - 1) & 1))
			continue;
		list[n] = (struct sl_peer_status){ .node = id };
		for (unsigned p = 0; p < s->n_peers; p++)
			if (s->peers[p].node == id)
				list[n] = s->peers[p];
		n++;
	}
	memcpy(s->peers, list, n * sizeof(list[0]));
	s->n_peers = (uint8_t)n;
}

/* The entry of node id in a status's peers. */
static struct sl_peer_status *peer_in(struct sl_core_status *s, uint16_t id)
{
	for (unsigned p = 0; p < s->n_peers; p++)
		if (s->peers[p].node == id)
			return &s->peers[p];
	fail_msg("n%u is not a peer", id);
	return NULL;
}

/* Executes the last step's commands on the models. */
static void deliver(struct h *h)
{
	struct ctl_out out = h->out; /* model_apply does not step, but be plain about it */

	for (unsigned i = 0; i < out.n_act; i++)
		if (out.act[i].type == CTL_ACT_SEND)
			model_apply(h, out.act[i].u.send.node, &out.act[i].u.send.cmd);
}

static int report(struct h *h, uint16_t id)
{
	struct model *m = &h->m[id];
	struct sl_core_status *s = &m->r.st;
	struct ctl_input in = { .type = CTL_IN_REPORT, .u.report = &m->r };
	int rc;

	if (m->dead || m->cut)
		return 0;
	m->r.seq++;
	model_peers(m);
	if ((s->role == SL_ROLE_FOLLOWER || s->role == SL_ROLE_LEARNER) && s->leader) {
		const struct model *l = &h->m[s->leader];
		bool leads =
			!l->dead && l->r.st.role == SL_ROLE_LEADER && l->r.st.epoch == s->epoch;

		s->leader_age_ns = leads ? 1 * MS : l->dead ? h->now - l->died_ns : UINT64_MAX;
	}
	rc = step(h, &in);
	deliver(h);
	return rc;
}

static void tick(struct h *h)
{
	struct ctl_input in = { .type = CTL_IN_TICK };

	assert_int_equal(step(h, &in), 0);
	deliver(h);
}

static int admin(struct h *h, uint8_t op, uint16_t node, bool force, const char *policy)
{
	struct ctl_input in = { .type = CTL_IN_ADMIN };
	int rc;

	in.u.admin = (struct ctl_admin){ .op = op, .node = node, .force = force };
	if (policy)
		in.u.admin.policy = policy_of(policy);
	rc = step(h, &in);
	deliver(h);
	return rc;
}

/* Time passes: ticks every 10 ms, every live node reports every 20 ms. */
static void run(struct h *h, uint64_t dur_ns)
{
	uint64_t end = h->now + dur_ns;

	while (h->now < end) {
		h->now += TICK_NS;
		tick(h);
		if (h->now / TICK_NS % (REPORT_NS / TICK_NS) == 0)
			for (uint16_t id = 1; id <= h->n; id++)
				report(h, id);
	}
}

static void kill_node(struct h *h, uint16_t id)
{
	h->m[id].dead = true;
	h->m[id].died_ns = h->now;
}

static void set_pos(struct h *h, uint16_t id, uint32_t last_epoch, uint64_t last_lsn)
{
	struct sl_core_status *s = &h->m[id].r.st;

	s->last_epoch = last_epoch;
	s->last_lsn = s->flushed_lsn = s->applied_lsn = last_lsn;
}

/* n nodes, the first n_members members (the rest learners when learners is set). */
static void h_init(struct h *h, unsigned n, const char *policy, uint16_t preferred,
		   uint64_t learners)
{
	struct ctl_state st = { .cluster_id = CLUSTER_ID, .preferred = preferred };

	memset(h, 0, sizeof(*h));
	h->n = n;
	h->cfg = (struct ctl_config){ .cluster_id = CLUSTER_ID,
				      .failure_timeout_ns = FT_NS,
				      .switchover_timeout_ns = SO_NS,
				      .max_lag_on_failover = 5,
				      .learner_catchup_records = 10 };
	st.policy = st.prev_policy = policy_of(policy);
	st.n_members = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		st.members[i] = (struct ctl_member){ (uint16_t)(i + 1), (learners >> (i + 1)) & 1 };
	for (uint16_t id = 1; id <= n; id++) {
		h->m[id].r = (struct sl_node_report){ .node = id,
						      .cluster_id = CLUSTER_ID,
						      .may_lead = true };
		h->m[id].r.st.leader_age_ns = UINT64_MAX;
		snprintf(h->m[id].r.data_addr, sizeof(h->m[id].r.data_addr), "10.0.0.%u:7400", id);
		h->m[id].peers = ((1ull << n) - 1) & ~(1ull << (id - 1)); /* the others */
	}
	h->mem = malloc(ctl_mem_size());
	assert_non_null(h->mem);
	h->c = ctl_init(h->mem, &h->cfg, &st);
	assert_non_null(h->c);
	h->now = 1 * MS;
}

static struct h *h_new(unsigned n, const char *policy, uint16_t preferred, uint64_t learners)
{
	struct h *h = malloc(sizeof(*h));

	assert_non_null(h);
	h_init(h, n, policy, preferred, learners);
	return h;
}

static void h_free(struct h *h)
{
	free(h->mem);
	free(h);
}

static void log_clear(struct h *h)
{
	h->n_log = 0;
}

static const struct ctl_action *log_event(const struct h *h, uint8_t kind, unsigned nth)
{
	for (unsigned i = 0; i < h->n_log; i++)
		if (h->log[i].a.type == CTL_ACT_EVENT && h->log[i].a.u.event.kind == kind &&
		    nth-- == 0)
			return &h->log[i].a;
	return NULL;
}

static unsigned log_count_events(const struct h *h, uint8_t kind)
{
	unsigned n = 0;

	while (log_event(h, kind, n))
		n++;
	return n;
}

/* The nth command cmd sent to node to (0: to anyone). */
static const struct sl_control *log_send(const struct h *h, uint8_t cmd, uint16_t to, unsigned nth)
{
	for (unsigned i = 0; i < h->n_log; i++) {
		const struct ctl_action *a = &h->log[i].a;

		if (a->type == CTL_ACT_SEND && a->u.send.cmd.cmd == cmd &&
		    (to == 0 || a->u.send.node == to) && nth-- == 0)
			return &a->u.send.cmd;
	}
	return NULL;
}

static unsigned log_count_sends(const struct h *h, uint8_t cmd, uint16_t to)
{
	unsigned n = 0;

	while (log_send(h, cmd, to, n))
		n++;
	return n;
}

/* As run(), stopping at the step that starts a failover (or failing the test). */
static void until_failover(struct h *h)
{
	for (unsigned i = 0; i < 1000 && ctl_state(h->c)->phase != CTL_PHASE_FAILOVER; i++) {
		h->now += TICK_NS;
		tick(h);
		for (uint16_t id = 1; id <= h->n && h->now / TICK_NS % (REPORT_NS / TICK_NS) == 0 &&
				      ctl_state(h->c)->phase != CTL_PHASE_FAILOVER;
		     id++)
			report(h, id);
	}
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_FAILOVER);
}

/* Runs until the controller has a leader (or fails the test). */
static void until_steady(struct h *h, uint64_t max_ns)
{
	uint64_t end = h->now + max_ns;

	while (ctl_state(h->c)->phase != CTL_PHASE_STEADY && h->now < end)
		run(h, TICK_NS);
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_STEADY);
}

/* A cluster with n1 leading epoch 1 and every node following it. */
static struct h *elected(unsigned n, const char *policy, uint64_t learners)
{
	struct h *h = h_new(n, policy, 1, learners);

	until_steady(h, 20 * REPORT_NS);
	assert_int_equal(ctl_state(h->c)->leader, 1);
	assert_int_equal(ctl_state(h->c)->epoch, 1);
	run(h, 3 * REPORT_NS);
	for (uint16_t id = 1; id <= n; id++) {
		assert_int_equal(h->m[id].r.st.epoch, 1);
		assert_int_equal(h->m[id].r.st.leader, 1);
	}
	log_clear(h);
	return h;
}

static const char *policy_str(const struct sl_policy *p)
{
	static char text[SL_POLICY_TEXT_MAX];

	sl_policy_format(p, text, sizeof(text));
	return text;
}

/* ---- first election ---------------------------------------------------------------- */

static void test_first_election(void **state)
{
	struct h *h = h_new(3, "first 1 (n2, n3)", 1, 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	h->m[3].r.st.epoch = 4; /* left over from before: the election goes above it */
	report(h, 2);
	assert_int_equal(st->phase, CTL_PHASE_BOOT); /* 1 of the 2 needed (n-k+1) */
	assert_int_equal(log_count_sends(h, SL_CTL_FENCE, 0), 0);
	report(h, 3);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	assert_int_equal(st->epoch, 5);
	assert_int_equal(h->out.act[0].type, CTL_ACT_SAVE);
	for (uint16_t id = 1; id <= 3; id++)
		assert_int_equal(log_send(h, SL_CTL_FENCE, id, 0)->epoch, 5);
	assert_non_null(log_event(h, CTL_EV_FAILOVER_START, 0));
	/* All equal: the preferred n1 wins. Two fenced positions are enough (n-k+1), but
	 * n3 is heard: its position is waited for, a failure timeout at most. */
	report(h, 2);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	report(h, 1);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	report(h, 3);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 1);
	assert_int_equal(log_send(h, SL_CTL_PROMOTE, 1, 0)->epoch, 5);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 2, 0)->node, 1);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 3, 0)->node, 1);
	assert_non_null(log_send(h, SL_CTL_SET_POLICY, 1, 0));
	assert_int_equal(log_event(h, CTL_EV_PROMOTED, 0)->u.event.a, 5);
	assert_int_equal(log_event(h, CTL_EV_FAILOVER_WAIT, 0)->u.event.b, 2);
	assert_int_equal(h->m[1].r.st.role, SL_ROLE_LEADER);
	h_free(h);
}

/* The most up-to-date node wins over the preferred one. */
static void test_first_election_most_up_to_date(void **state)
{
	struct h *h = h_new(3, "any 1 (n2, n3)", 1, 0); /* 2 - 1 + 1 = 2 positions */

	(void)state;
	set_pos(h, 1, 2, 10);
	set_pos(h, 2, 3, 40);
	set_pos(h, 3, 3, 50);
	report(h, 1);
	report(h, 2); /* election starts: fences go out */
	report(h, 1);
	report(h, 2);
	report(h, 3);
	assert_int_equal(ctl_state(h->c)->leader, 2); /* quorum of 2 reached before n3 */
	h_free(h);

	h = h_new(3, "any 1 (n2, n3)", 1, 0);
	set_pos(h, 1, 2, 10);
	set_pos(h, 2, 3, 40);
	set_pos(h, 3, 3, 50);
	report(h, 1);
	report(h, 2);
	report(h, 3);
	report(h, 1);
	report(h, 3);
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_FAILOVER); /* n2 is heard: wait */
	report(h, 2);
	assert_int_equal(ctl_state(h->c)->leader, 3);
	assert_int_equal(log_event(h, CTL_EV_PROMOTED, 0)->u.event.b, 50);
	h_free(h);
}

/* ---- failure detection ------------------------------------------------------------- */

static void test_leader_killed_followers_confirm(void **state)
{
	struct h *h = elected(3, "first 1 (n2, n3)", 0);
	const struct ctl_state *st = ctl_state(h->c);
	uint64_t died;

	(void)state;
	set_pos(h, 1, 1, 12);
	h->m[1].r.st.commit_lsn = 10;
	set_pos(h, 2, 1, 10);
	set_pos(h, 3, 1, 12);
	run(h, 2 * REPORT_NS);
	assert_int_equal(st->commit_seen, 10);
	assert_true(log_count_sends(h, SL_CTL_RENEW, 1) >= 2);
	kill_node(h, 1);
	died = h->now;
	log_clear(h);
	run(h, FT_NS - TICK_NS);
	assert_int_equal(st->phase, CTL_PHASE_STEADY); /* not yet: suspect at most */
	run(h, 4 * TICK_NS);
	assert_non_null(log_event(h, CTL_EV_LEADER_LOST, 0));
	assert_true(log_event(h, CTL_EV_LEADER_LOST, 0)->u.event.a >= (FT_NS - 2 * REPORT_NS) / MS);
	assert_true(log_event(h, CTL_EV_LEADER_LOST, 0) == &h->log[0].a ||
		    h->log[0].at_ns - died <= FT_NS + 2 * REPORT_NS);
	until_steady(h, 10 * REPORT_NS);
	assert_int_equal(st->epoch, 2);
	assert_int_equal(st->leader, 3);			     /* the most up to date */
	assert_int_equal(log_send(h, SL_CTL_FENCE, 1, 0)->epoch, 2); /* the old leader too */
	assert_int_equal(log_send(h, SL_CTL_PROMOTE, 3, 0)->epoch, 2);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 2, 0)->node, 3);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 1, 0)->node, 3);
	/* n3 took n1's place in the list, and the new leader was told. */
	assert_string_equal(policy_str(&st->policy),
			    "first 1 (n2,n1) level=flushed durability=fsync sync_timeout_ms=0");
	assert_string_equal(policy_str(&st->prev_policy),
			    "first 1 (n2,n3) level=flushed durability=fsync sync_timeout_ms=0");
	assert_int_equal(st->policy_lsn, 12); /* n3's first report under it: its last LSN */
	assert_memory_equal(&log_send(h, SL_CTL_SET_POLICY, 3, 0)->policy, &st->policy,
			    sizeof(st->policy));
	assert_null(log_event(h, CTL_EV_ASYNC_LOSS, 0));
	assert_int_equal(h->m[2].r.st.leader, 3);
	h_free(h);
}

static void test_controller_partition_no_failover(void **state)
{
	struct h *h = elected(3, "first 1 (n2, n3)", 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	h->m[1].cut = true; /* the followers still hear n1 */
	run(h, 10 * FT_NS);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->epoch, 1);
	assert_int_equal(st->leader, 1);
	assert_null(log_event(h, CTL_EV_LEADER_LOST, 0));
	assert_int_equal(log_count_sends(h, SL_CTL_FENCE, 0), 0);
	assert_int_equal(log_event(h, CTL_EV_NODE_DOWN, 0)->u.event.node, 1);
	assert_false(ctl_node(h->c, 0)->heard);
	/* Now the followers lose it too: failover. */
	kill_node(h, 1);
	run(h, 2 * FT_NS);
	assert_non_null(log_event(h, CTL_EV_LEADER_LOST, 0));
	assert_int_equal(st->epoch, 2);
	assert_true(st->leader == 2 || st->leader == 3);
	h_free(h);
}

/* Everyone silent: the controller may be the one cut off, so it does nothing. */
static void test_controller_alone_no_failover(void **state)
{
	struct h *h = elected(3, "all", 0);

	(void)state;
	for (uint16_t id = 1; id <= 3; id++)
		h->m[id].cut = true;
	run(h, 10 * FT_NS);
	assert_int_equal(ctl_state(h->c)->epoch, 1);
	assert_int_equal(log_count_events(h, CTL_EV_NODE_DOWN), 3);
	assert_null(log_event(h, CTL_EV_LEADER_LOST, 0));
	for (uint16_t id = 1; id <= 3; id++)
		h->m[id].cut = false;
	log_clear(h);
	run(h, 2 * REPORT_NS);
	assert_int_equal(log_count_events(h, CTL_EV_NODE_UP), 3);
	assert_int_equal(ctl_state(h->c)->epoch, 1);
	h_free(h);
}

static void test_restarted_leader_fails_over_at_once(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);
	struct sl_core_status *s = &h->m[1].r.st;

	(void)state;
	set_pos(h, 1, 1, 30);
	set_pos(h, 2, 1, 30);
	set_pos(h, 3, 1, 29);
	/* n1 restarts: recovery brings it back fenced at its stored epoch. */
	s->role = SL_ROLE_FENCED;
	s->leader = 0;
	report(h, 1);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	assert_int_equal(st->epoch, 2);
	assert_string_equal(
		log_event(h, CTL_EV_LEADER_LOST, 0)->u.event.text,
		"Leader n1 lost: it reports role fenced at epoch 1, not leader of epoch 1.");
	until_steady(h, 5 * REPORT_NS);
	assert_int_equal(st->epoch, 2);
	h_free(h);

	/* An older epoch and an expired lease say the same. */
	h = elected(3, "all", 0);
	h->m[1].r.st.epoch = 0;
	report(h, 1);
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_FAILOVER);
	h_free(h);
	h = elected(3, "all", 0);
	h->m[1].r.st.lease_expired = true;
	report(h, 1);
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_FAILOVER);
	assert_non_null(strstr(log_event(h, CTL_EV_LEADER_LOST, 0)->u.event.text, "lease"));
	h_free(h);
}

/* Right after PROMOTE, a report written before it arrived is not a restart. */
static void test_promote_in_flight_is_not_a_restart(void **state)
{
	struct h *h = h_new(3, "all", 1, 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	report(h, 1); /* election starts */
	report(h, 1); /* fenced at 1: promoted */
	assert_int_equal(st->leader, 1);
	h->m[1].r.st.role = SL_ROLE_FENCED; /* as if the PROMOTE had not arrived yet */
	h->now += TICK_NS;
	report(h, 1);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->epoch, 1);
	h->now += FT_NS; /* still not leading a failure timeout later: lost */
	report(h, 1);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	h_free(h);
}

/* ---- failover quorum --------------------------------------------------------------- */

static void test_first_1_waits_for_n_minus_k_plus_1(void **state)
{
	struct h *h = elected(4, "first 1 (n2, n3, n4)", 0);
	const struct ctl_state *st = ctl_state(h->c);
	const struct ctl_action *w;

	(void)state;
	set_pos(h, 2, 1, 5);
	set_pos(h, 3, 1, 9);
	set_pos(h, 4, 1, 7);
	h->m[3].cut = h->m[4].cut = true;
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER); /* only n2 reported */
	w = log_event(h, CTL_EV_FAILOVER_WAIT, 1);
	assert_int_equal(w->u.event.a, 1);
	assert_int_equal(w->u.event.b, 3);
	assert_int_equal(log_count_events(h, CTL_EV_FAILOVER_WAIT), 2); /* 0, then 1: no repeats */
	h->m[4].cut = false;
	run(h, 2 * REPORT_NS);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER); /* 2 of 3 */
	h->m[3].cut = false;
	run(h, 2 * REPORT_NS);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 3);
	/* The node that came back at an older epoch was fenced again. */
	assert_int_equal(log_send(h, SL_CTL_FENCE, 3, 1)->epoch, 2);
	h_free(h);
}

static void test_any_k_quorum(void **state)
{
	struct h *h = elected(4, "any 2 (n2, n3, n4)", 0);

	(void)state;
	set_pos(h, 2, 1, 5);
	set_pos(h, 3, 1, 6);
	h->m[4].cut = true;
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_STEADY); /* 3 - 2 + 1 = 2 */
	assert_int_equal(ctl_state(h->c)->leader, 3);
	h_free(h);
}

/* Until the new policy's CONFIG record is known committed, the larger quorum holds. */
static void test_policy_change_quorum(void **state)
{
	struct h *h = elected(4, "first 1 (n2, n3, n4)", 0); /* quorum 3 */
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	assert_int_equal(admin(h, CTL_OP_SET_POLICY, 0, false, "any 3 (n2, n3, n4)"), 0);
	assert_int_equal(st->policy.kind, SL_POLICY_ANY);
	assert_int_equal(st->prev_policy.kind, SL_POLICY_FIRST);
	assert_int_equal(st->policy_lsn, 0);
	assert_non_null(log_event(h, CTL_EV_POLICY, 0));
	assert_int_equal(log_send(h, SL_CTL_SET_POLICY, 1, 0)->policy.kind, SL_POLICY_ANY);
	/* The leader took the policy (CONFIG at LSN 21) but has committed only 20. */
	set_pos(h, 1, 1, 21);
	h->m[1].r.st.commit_lsn = 20;
	report(h, 1);
	assert_int_equal(st->policy_lsn, 21);
	assert_int_equal(st->commit_seen, 20);
	h->m[3].cut = h->m[4].cut = true;
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER); /* 1 of max(1, 3) */
	assert_int_equal(log_event(h, CTL_EV_FAILOVER_WAIT, 1)->u.event.b, 3);
	h_free(h);

	/* Once committed, the new quorum (3 - 3 + 1 = 1) is enough. */
	h = elected(4, "first 1 (n2, n3, n4)", 0);
	st = ctl_state(h->c);
	assert_int_equal(admin(h, CTL_OP_SET_POLICY, 0, false, "any 3 (n2, n3, n4)"), 0);
	set_pos(h, 1, 1, 21);
	h->m[1].r.st.commit_lsn = 21;
	set_pos(h, 2, 1, 21);
	report(h, 1);
	assert_int_equal(st->policy_lsn, 21);
	h->m[3].cut = h->m[4].cut = true;
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 2);
	h_free(h);
}

/* ---- async ------------------------------------------------------------------------- */

static void test_async_max_lag_refusal_and_force(void **state)
{
	struct h *h = elected(3, "async", 0);
	const struct ctl_state *st = ctl_state(h->c);
	const struct ctl_action *loss;

	(void)state;
	set_pos(h, 1, 1, 100);
	h->m[1].r.st.commit_lsn = 100;
	set_pos(h, 2, 1, 90);
	set_pos(h, 3, 1, 80);
	report(h, 1);
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	assert_int_equal(log_count_events(h, CTL_EV_FAILOVER_REFUSED), 1); /* said once */
	assert_non_null(strstr(log_event(h, CTL_EV_FAILOVER_REFUSED, 0)->u.event.text,
			       "lacks 10 committed records"));
	assert_int_equal(log_count_sends(h, SL_CTL_PROMOTE, 0), 0);
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 0, false, NULL), -EBUSY);
	assert_non_null(strstr(h->out.why, "--force"));
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 0, true, NULL), 0);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 2);
	assert_false(st->force);
	loss = log_event(h, CTL_EV_ASYNC_LOSS, 0);
	assert_non_null(loss);
	assert_int_equal(loss->u.event.node, 1);
	assert_int_equal(loss->u.event.a, 91);
	assert_int_equal(loss->u.event.b, 10);
	assert_int_equal(st->commit_seen, 90);
	h_free(h);

	/* Within max_lag_on_failover: promoted at once, the loss recorded. */
	h = elected(3, "async", 0);
	st = ctl_state(h->c);
	set_pos(h, 1, 1, 100);
	h->m[1].r.st.commit_lsn = 100;
	set_pos(h, 2, 1, 97);
	set_pos(h, 3, 1, 96);
	report(h, 1);
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(st->leader, 2);
	assert_int_equal(log_event(h, CTL_EV_ASYNC_LOSS, 0)->u.event.b, 3);
	assert_null(log_event(h, CTL_EV_FAILOVER_REFUSED, 0));
	h_free(h);
}

/* The old leader coming back ends a refused async failover without loss. */
static void test_async_old_leader_returns(void **state)
{
	struct h *h = elected(3, "async", 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	set_pos(h, 1, 1, 100);
	h->m[1].r.st.commit_lsn = 100;
	set_pos(h, 2, 1, 50);
	report(h, 1);
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	h->m[1].dead = false; /* restarts: fenced at its old epoch, then at the new one */
	h->m[1].r.st.role = SL_ROLE_FENCED;
	run(h, 3 * REPORT_NS);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 1);
	assert_null(log_event(h, CTL_EV_ASYNC_LOSS, 0));
	h_free(h);
}

/* failover --to: the target must not be behind the best unless forced. */
static void test_failover_to_target(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	set_pos(h, 2, 1, 10);
	set_pos(h, 3, 1, 8);
	run(h, REPORT_NS);
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 9, false, NULL), -ENOENT);
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 1, false, NULL), -EINVAL); /* leads */
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 3, false, NULL), 0);
	assert_int_equal(st->target, 3);
	run(h, 3 * REPORT_NS);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	assert_non_null(
		strstr(log_event(h, CTL_EV_FAILOVER_REFUSED, 0)->u.event.text, "behind n2"));
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 3, true, NULL), 0);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 3);
	assert_int_equal(st->epoch, 2);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 1, 0)->node, 3); /* the old leader follows */
	h_free(h);
}

/* ---- switchover -------------------------------------------------------------------- */

static void test_switchover_success(void **state)
{
	struct h *h = elected(3, "first 1 (n2, n3)", 0);
	const struct ctl_state *st = ctl_state(h->c);
	unsigned fence_at = 0, promote_at = 0;

	(void)state;
	set_pos(h, 1, 1, 50);
	set_pos(h, 2, 1, 45);
	set_pos(h, 3, 1, 44);
	run(h, REPORT_NS);
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 2, false, NULL), 0);
	assert_int_equal(st->phase, CTL_PHASE_SWITCHOVER);
	assert_int_equal(st->target, 2);
	assert_int_equal(log_send(h, SL_CTL_PAUSE, 1, 0)->pause, 1);
	assert_non_null(log_event(h, CTL_EV_SWITCHOVER_START, 0));
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 3, false, NULL), -EBUSY);
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 0, false, NULL), -EBUSY);
	run(h, 2 * REPORT_NS);
	assert_int_equal(st->phase, CTL_PHASE_SWITCHOVER); /* n2 flushed 45 of 50 */
	set_pos(h, 2, 1, 50);
	run(h, REPORT_NS);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 2);
	assert_int_equal(st->epoch, 2);
	for (unsigned i = 0; i < h->n_log; i++) {
		const struct ctl_action *a = &h->log[i].a;

		if (a->type == CTL_ACT_SEND && a->u.send.cmd.cmd == SL_CTL_FENCE)
			fence_at = i;
		if (a->type == CTL_ACT_SEND && a->u.send.cmd.cmd == SL_CTL_PROMOTE)
			promote_at = i;
	}
	assert_true(fence_at && fence_at < promote_at);
	assert_int_equal(log_send(h, SL_CTL_FENCE, 1, 0)->epoch, 2);
	assert_int_equal(log_send(h, SL_CTL_PROMOTE, 2, 0)->epoch, 2);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 1, 0)->node, 2);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 3, 0)->node, 2);
	assert_string_equal(policy_str(&st->policy),
			    "first 1 (n1,n3) level=flushed durability=fsync sync_timeout_ms=0");
	assert_int_equal(log_event(h, CTL_EV_PROMOTED, 0)->u.event.b, 50);
	assert_null(log_event(h, CTL_EV_LEADER_LOST, 0));
	run(h, 2 * REPORT_NS);
	assert_int_equal(h->m[1].r.st.role, SL_ROLE_FOLLOWER);
	assert_int_equal(h->m[1].r.st.leader, 2);
	h_free(h);
}

static void test_switchover_timeout(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);
	const struct sl_control *unpause;

	(void)state;
	set_pos(h, 1, 1, 50);
	set_pos(h, 3, 1, 20);
	run(h, REPORT_NS);
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 3, false, NULL), 0);
	run(h, SO_NS - 2 * TICK_NS);
	assert_int_equal(st->phase, CTL_PHASE_SWITCHOVER);
	run(h, 3 * TICK_NS);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 1);
	assert_int_equal(st->epoch, 1);
	assert_int_equal(st->target, 0);
	unpause = log_send(h, SL_CTL_PAUSE, 1, log_count_sends(h, SL_CTL_PAUSE, 1) - 1);
	assert_int_equal(unpause->pause, 0);
	assert_non_null(
		strstr(log_event(h, CTL_EV_SWITCHOVER_ABORT, 0)->u.event.text, "flushed LSN 20"));
	assert_int_equal(log_count_sends(h, SL_CTL_PROMOTE, 0), 0);
	assert_false(h->m[1].r.st.paused);
	h_free(h);
}

static void test_switchover_refusals(void **state)
{
	struct h *h = h_new(3, "all", 1, 1u << 3);
	const struct ctl_state *st;
	uint64_t v;

	(void)state;
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 2, false, NULL), -EAGAIN); /* no leader */
	until_steady(h, 20 * REPORT_NS);
	run(h, 2 * REPORT_NS);
	st = ctl_state(h->c);
	v = st->version;
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 5, false, NULL), -ENOENT);
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 1, false, NULL), -EINVAL);
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 3, false, NULL), -EINVAL); /* learner */
	assert_non_null(strstr(h->out.why, "learner"));
	h->m[2].cut = true;
	run(h, 2 * FT_NS);
	v = st->version;
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 2, false, NULL), -EAGAIN); /* not heard */
	assert_int_equal(st->version, v);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	h_free(h);
}

/* A SET_POLICY that never arrived goes out again, once per failure timeout. */
static void test_policy_resent_to_leader(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	h->m[1].cut = true; /* the command is lost */
	assert_int_equal(admin(h, CTL_OP_SET_POLICY, 0, false, "any 1 (n2, n3)"), 0);
	h->m[1].cut = false;
	assert_int_equal(h->m[1].r.st.policy.kind, SL_POLICY_ALL);
	log_clear(h);
	report(h, 1);
	assert_int_equal(log_count_sends(h, SL_CTL_SET_POLICY, 1), 0); /* may be in flight */
	h->now += FT_NS;
	report(h, 1);
	assert_int_equal(log_count_sends(h, SL_CTL_SET_POLICY, 1), 1);
	assert_int_equal(h->m[1].r.st.policy.kind, SL_POLICY_ANY);
	assert_int_equal(st->policy_lsn, 0);
	set_pos(h, 1, 1, 7);
	report(h, 1);
	assert_int_equal(st->policy_lsn, 7);
	report(h, 1);
	assert_int_equal(log_count_sends(h, SL_CTL_SET_POLICY, 1), 1);
	h_free(h);
}

/* The leader dies during a switchover: it is abandoned, and a failover follows. */
static void test_switchover_abandoned_on_leader_loss(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	set_pos(h, 1, 1, 50);
	set_pos(h, 2, 1, 40);
	set_pos(h, 3, 1, 45);
	run(h, REPORT_NS);
	assert_int_equal(admin(h, CTL_OP_SWITCHOVER, 2, false, NULL), 0);
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_non_null(strstr(log_event(h, CTL_EV_SWITCHOVER_ABORT, 0)->u.event.text,
			       "abandoned for a failover"));
	assert_non_null(log_event(h, CTL_EV_LEADER_LOST, 0));
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->epoch, 2);
	assert_int_equal(st->leader, 3); /* the best, not the switchover's target */
	assert_int_equal(st->target, 0);
	h_free(h);
}

/* failover --to a node that never reports: the wait is said, --force --to elsewhere ends it. */
static void test_failover_to_silent_target(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	h->m[3].cut = true;
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 3, false, NULL), 0);
	run(h, 3 * FT_NS);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	assert_int_equal(log_count_events(h, CTL_EV_FAILOVER_REFUSED), 1);
	assert_non_null(strstr(log_event(h, CTL_EV_FAILOVER_REFUSED, 0)->u.event.text,
			       "waits for its position"));
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 2, true, NULL), 0);
	assert_int_equal(st->phase, CTL_PHASE_STEADY);
	assert_int_equal(st->leader, 2);
	h_free(h);
}

/* ---- membership -------------------------------------------------------------------- */

static void test_add_learner_and_promote(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);
	struct sl_core_status *ls = &h->m[1].r.st;

	(void)state;
	assert_int_equal(admin(h, CTL_OP_ADD_NODE, 2, false, NULL), -EINVAL);
	assert_int_equal(admin(h, CTL_OP_ADD_NODE, 0, false, NULL), -EINVAL);
	assert_int_equal(admin(h, CTL_OP_ADD_NODE, SL_NODE_MAX + 1, false, NULL), -EINVAL);
	assert_int_equal(admin(h, CTL_OP_ADD_NODE, 4, false, NULL), 0);
	assert_int_equal(st->n_members, 4);
	assert_true(st->members[3].learner);
	assert_int_equal(ctl_node(h->c, 3)->id, 4);
	assert_true(ctl_node(h->c, 3)->learner);
	assert_null(ctl_node(h->c, 4));
	/* Not a peer of the leader: nothing to tell it until node 4 reports its address. */
	assert_int_equal(log_count_sends(h, SL_CTL_SET_LEARNER, 1), 0);
	assert_non_null(log_event(h, CTL_EV_MEMBER, 0));
	/*
	 * The new node starts empty and fenced, configured with no peer: told every member
	 * (with the address each reported) before it is told to follow, as a learner. The
	 * others are told about it once it has reported its address.
	 */
	h->n = 4;
	h->m[4].r =
		(struct sl_node_report){ .node = 4, .cluster_id = CLUSTER_ID, .may_lead = true };
	strcpy(h->m[4].r.data_addr, "10.0.0.4:7400");
	log_clear(h);
	report(h, 4);
	for (uint16_t id = 1; id <= 3; id++)
		assert_int_equal(log_send(h, SL_CTL_ADD_PEER, 4, id - 1)->node, id);
	assert_string_equal(log_send(h, SL_CTL_ADD_PEER, 4, 0)->addr, "10.0.0.1:7400");
	assert_true(h->log[h->n_log - 1].a.u.send.cmd.cmd == SL_CTL_FOLLOW); /* after them */
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 4, 0)->learner, 1);
	assert_int_equal(h->m[4].r.st.role, SL_ROLE_LEARNER);
	assert_int_equal(h->m[4].peers, 7);
	report(h, 1);
	assert_int_equal(log_send(h, SL_CTL_ADD_PEER, 1, 0)->node, 4);
	assert_int_equal(log_send(h, SL_CTL_ADD_PEER, 1, 0)->learner, 1);
	assert_string_equal(log_send(h, SL_CTL_ADD_PEER, 1, 0)->addr, "10.0.0.4:7400");
	/* Far behind: stays a learner. */
	report(h, 1);
	*peer_in(ls, 4) = (struct sl_peer_status){
		.node = 4, .learner = true, .healthy = true, .lag_records = 1000
	};
	report(h, 1);
	assert_true(st->members[3].learner);
	/* Close enough: a member. */
	peer_in(ls, 4)->lag_records = 10;
	log_clear(h);
	report(h, 1);
	assert_false(st->members[3].learner);
	assert_false(ctl_node(h->c, 3)->learner);
	assert_int_equal(h->out.act[0].type, CTL_ACT_SAVE);
	assert_int_equal(log_send(h, SL_CTL_SET_LEARNER, 1, 0)->node, 4);
	assert_int_equal(log_send(h, SL_CTL_SET_LEARNER, 1, 0)->learner, 0);
	assert_non_null(strstr(log_event(h, CTL_EV_MEMBER, 0)->u.event.text, "member"));
	ls->n_peers = 0;
	report(h, 4); /* still a learner in its own eyes: FOLLOW as a follower */
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 4, 0)->learner, 0);
	assert_int_equal(h->m[4].r.st.role, SL_ROLE_FOLLOWER);
	h_free(h);
}

/* Learners are fenced with the rest, never counted, never promoted. */
static void test_learner_not_counted_nor_promoted(void **state)
{
	struct h *h = elected(3, "all", 1u << 3);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	assert_int_equal(h->m[3].r.st.role, SL_ROLE_LEARNER);
	set_pos(h, 2, 1, 10);
	set_pos(h, 3, 1, 99); /* the learner holds more: still not promoted */
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	assert_int_equal(st->leader, 2);
	assert_int_equal(log_send(h, SL_CTL_FENCE, 3, 0)->epoch, 2);
	assert_int_equal(log_send(h, SL_CTL_SET_LEARNER, 2, 0)->node, 3);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 3, 0)->learner, 1);
	h_free(h);
}

/*
 * A configured peer that is no member (a spare, a node removed) is removed from every
 * node's peers, or `all` would wait for it for ever; members are left alone.
 */
static void test_spare_peer_removed(void **state)
{
	struct h *h = elected(3, "all", 0);

	(void)state;
	for (uint16_t id = 1; id <= 3; id++)
		h->m[id].peers |= 1ull << 3; /* node 4 is in every configuration */
	log_clear(h);
	for (uint16_t id = 1; id <= 3; id++) {
		report(h, id);
		assert_int_equal(log_count_sends(h, SL_CTL_REMOVE_PEER, id), 1);
		assert_int_equal(log_send(h, SL_CTL_REMOVE_PEER, id, 0)->node, 4);
		assert_int_equal(h->m[id].peers, 7 & ~(1ull << (id - 1)));
	}
	assert_int_equal(log_count_sends(h, SL_CTL_SET_LEARNER, 0), 0); /* no member: removed */
	assert_int_equal(log_count_sends(h, SL_CTL_ADD_PEER, 0), 0);
	log_clear(h);
	for (uint16_t id = 1; id <= 3; id++)
		report(h, id); /* the peers agree: nothing more to say */
	assert_int_equal(log_count_sends(h, SL_CTL_REMOVE_PEER, 0), 0);
	assert_int_equal(log_count_sends(h, SL_CTL_SET_LEARNER, 0), 0);
	h_free(h);
}

static void test_remove_refusals(void **state)
{
	struct h *h = elected(4, "first 1 (n2, n3)", 0);
	const struct ctl_state *st = ctl_state(h->c);
	uint64_t v = st->version;

	(void)state;
	assert_int_equal(admin(h, CTL_OP_REMOVE_NODE, 1, false, NULL), -EINVAL);
	assert_non_null(strstr(h->out.why, "leads"));
	assert_int_equal(admin(h, CTL_OP_REMOVE_NODE, 2, false, NULL), -EINVAL);
	assert_non_null(strstr(h->out.why, "named in the commit policy"));
	assert_int_equal(admin(h, CTL_OP_REMOVE_NODE, 9, false, NULL), -ENOENT);
	assert_int_equal(st->version, v);
	assert_int_equal(st->n_members, 4);

	assert_int_equal(admin(h, CTL_OP_REMOVE_NODE, 4, false, NULL), 0);
	assert_int_equal(st->n_members, 3);
	assert_null(ctl_node(h->c, 3));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ctl_node(h->c, i)->id, st->members[i].id);
	assert_int_equal(log_send(h, SL_CTL_SET_LEARNER, 1, 0)->node, 4);
	assert_non_null(log_event(h, CTL_EV_MEMBER, 0));
	log_clear(h);
	run(h, 2 * REPORT_NS); /* n4's reports are no longer acted on */
	assert_int_equal(log_count_sends(h, SL_CTL_FOLLOW, 4), 0);
	for (uint16_t id = 1; id <= 3; id++) /* and it is no peer of any member */
		assert_int_equal(log_send(h, SL_CTL_REMOVE_PEER, id, 0)->node, 4);
	h_free(h);

	h = h_new(1, "all", 1, 0); /* the last member */
	assert_int_equal(admin(h, CTL_OP_REMOVE_NODE, 1, false, NULL), -EINVAL);
	assert_non_null(strstr(h->out.why, "last member"));
	h_free(h);

	/* Out of the policy, but still in the previous one until the change commits. */
	h = elected(4, "first 1 (n2, n3)", 0);
	assert_int_equal(admin(h, CTL_OP_SET_POLICY, 0, false, "first 1 (n3, n4)"), 0);
	assert_int_equal(admin(h, CTL_OP_REMOVE_NODE, 2, false, NULL), -EBUSY);
	assert_non_null(strstr(h->out.why, "previous commit policy"));
	assert_int_equal(ctl_state(h->c)->n_members, 4);
	h_free(h);
}

static void test_set_policy_refusals(void **state)
{
	struct h *h = elected(3, "all", 0);
	struct ctl_input in = { .type = CTL_IN_ADMIN };

	(void)state;
	assert_int_equal(admin(h, CTL_OP_SET_POLICY, 0, false, "first 1 (n2, n9)"), -EINVAL);
	assert_non_null(strstr(h->out.why, "n9"));
	in.u.admin.op = CTL_OP_SET_POLICY;
	in.u.admin.policy = policy_of("all");
	in.u.admin.policy.k = 3; /* not valid */
	assert_int_equal(step(h, &in), -EINVAL);
	assert_int_equal(ctl_state(h->c)->policy.kind, SL_POLICY_ALL);
	in.u.admin.op = 99;
	assert_int_equal(step(h, &in), -EINVAL);
	h_free(h);
}

/* ---- the SAVE rule, reconciliation, epochs ----------------------------------------- */

/* check_out() holds every step to it; here the failover step is taken apart. */
static void test_save_precedes_new_epoch(void **state)
{
	struct h *h = elected(3, "all", 0);

	(void)state;
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 0, false, NULL), 0);
	assert_int_equal(h->out.act[0].type, CTL_ACT_SAVE);
	assert_int_equal(ctl_state(h->c)->epoch, 2);
	for (unsigned i = 1; i < h->out.n_act; i++) {
		assert_int_not_equal(h->out.act[i].type, CTL_ACT_SAVE);
		if (h->out.act[i].type == CTL_ACT_SEND)
			assert_int_equal(h->out.act[i].u.send.cmd.epoch, 2);
	}
	assert_int_equal(log_count_sends(h, SL_CTL_FENCE, 0), 3);
	/* The promoting step stores leader and phase first as well. */
	report(h, 2);
	report(h, 3);
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_STEADY);
	assert_int_equal(h->out.act[0].type, CTL_ACT_SAVE);
	assert_int_not_equal(ctl_state(h->c)->leader, 1); /* the operator wanted another */
	/* A step that changes nothing saves nothing (check_out() asserts no SAVE). */
	report(h, ctl_state(h->c)->leader);
	report(h, ctl_state(h->c)->leader); /* policy LSN learnt the first time */
	assert_int_equal(h->out.n_act, 1);
	assert_int_equal(h->out.act[0].type, CTL_ACT_SEND); /* RENEW only */
	assert_int_equal(h->out.act[0].u.send.cmd.cmd, SL_CTL_RENEW);
	h_free(h);
}

/* commit_seen rides along with other saves: a leader's report costs no fsync. */
static void test_commit_seen_not_saved(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);
	uint16_t leader = st->leader;
	uint64_t version;

	(void)state;
	report(h, leader); /* policy LSN learnt: a save of its own */
	version = st->version;
	h->m[leader].r.st.commit_lsn = st->commit_seen + 40;
	report(h, leader);
	for (unsigned i = 0; i < h->out.n_act; i++)
		assert_int_not_equal(h->out.act[i].type, CTL_ACT_SAVE);
	assert_int_equal(st->version, version);
	assert_int_equal(st->commit_seen, h->m[leader].r.st.commit_lsn); /* in memory */
	/* The next save for another reason stores it: it is part of ctl_state(). */
	assert_int_equal(admin(h, CTL_OP_FAILOVER, 0, false, NULL), 0);
	assert_int_equal(h->out.act[0].type, CTL_ACT_SAVE);
	assert_int_equal(st->commit_seen, h->m[leader].r.st.commit_lsn);
	h_free(h);
}

/* A restart may bring back an older commit_seen: the async max-lag check must not
 * count the loss from it, so it waits for every member (the old leader among them). */
static void test_async_restart_commit_unknown(void **state)
{
	struct h *h = elected(3, "async", 0);
	struct ctl_state stored;

	(void)state;
	set_pos(h, 1, 1, 100);
	h->m[1].r.st.commit_lsn = 100;
	set_pos(h, 2, 1, 94);
	set_pos(h, 3, 1, 94);
	report(h, 1);
	stored = *ctl_state(h->c);
	stored.commit_seen = 97; /* the last save came before the last reports */
	h->c = ctl_init(h->mem, &h->cfg, &stored);
	assert_non_null(h->c);
	kill_node(h, 1);
	run(h, 3 * FT_NS);
	/* From 97, n2 would lack 3 records, within max_lag 5; in truth it lacks 6... */
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_FAILOVER);
	assert_non_null(strstr(log_event(h, CTL_EV_FAILOVER_REFUSED, 0)->u.event.text,
			       "not every member has reported"));
	assert_int_equal(log_count_sends(h, SL_CTL_PROMOTE, 0), 0);
	/* ...and the old leader, back, tells the commit position: it leads, nothing lost. */
	h->m[1].dead = false;
	h->m[1].r.st.role = SL_ROLE_FENCED;
	run(h, 3 * REPORT_NS);
	assert_int_equal(ctl_state(h->c)->phase, CTL_PHASE_STEADY);
	assert_int_equal(ctl_state(h->c)->leader, 1);
	assert_int_equal(ctl_state(h->c)->commit_seen, 100);
	assert_null(log_event(h, CTL_EV_ASYNC_LOSS, 0));
	h_free(h);
}

static void test_stale_node_gets_follow(void **state)
{
	struct h *h = elected(3, "all", 0);
	struct sl_core_status *s = &h->m[3].r.st;

	(void)state;
	*s = (struct sl_core_status){ .role = SL_ROLE_FOLLOWER, .epoch = 0, .leader = 2 };
	report(h, 3);
	assert_int_equal(log_count_sends(h, SL_CTL_FOLLOW, 3), 1); /* once per report */
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 3, 0)->node, 1);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 3, 0)->epoch, 1);
	assert_int_equal(log_send(h, SL_CTL_FOLLOW, 3, 0)->learner, 0);
	log_clear(h);
	report(h, 3); /* in line now */
	assert_int_equal(log_count_sends(h, SL_CTL_FOLLOW, 3), 0);
	s->role = SL_ROLE_LEARNER; /* the wrong role */
	report(h, 3);
	assert_int_equal(log_count_sends(h, SL_CTL_FOLLOW, 3), 1);
	s->leader = 2; /* another leader at our epoch */
	report(h, 3);
	assert_int_equal(log_count_sends(h, SL_CTL_FOLLOW, 3), 2);
	assert_int_equal(ctl_state(h->c)->epoch, 1);
	h_free(h);
}

static void test_higher_epoch_adopted(void **state)
{
	struct h *h = elected(3, "all", 0);
	const struct ctl_state *st = ctl_state(h->c);

	(void)state;
	h->m[2].r.st.epoch = 7; /* the controller's stored state was behind */
	report(h, 2);
	assert_int_equal(st->phase, CTL_PHASE_FAILOVER);
	assert_int_equal(st->epoch, 8);
	assert_int_equal(h->out.act[0].type, CTL_ACT_SAVE);
	assert_int_equal(log_send(h, SL_CTL_FENCE, 1, 0)->epoch, 8);
	assert_non_null(strstr(log_event(h, CTL_EV_FAILOVER_START, 0)->u.event.text, "epoch 7"));
	until_steady(h, 5 * REPORT_NS);
	assert_int_equal(st->epoch, 8);
	h_free(h);
}

/* ---- notes, node events, degradation, init ---------------------------------------- */

static void test_notes(void **state)
{
	struct h *h = elected(3, "all", 0);
	struct sl_node_note n = { .node = 3, .what = SL_NOTE_TRUNCATED, .a = 1001, .b = 12 };
	struct ctl_input in = { .type = CTL_IN_NOTE, .u.note = &n };
	const struct ctl_action *e;

	(void)state;
	assert_int_equal(step(h, &in), 0);
	e = log_event(h, CTL_EV_TRUNCATED, 0);
	assert_string_equal(e->u.event.text, "n3 discarded 12 records, LSN 1001-1012.");
	assert_int_equal(e->u.event.node, 3);
	assert_int_equal(e->u.event.a, 1001);
	assert_int_equal(e->u.event.b, 12);
	n = (struct sl_node_note){ .node = 2, .what = SL_NOTE_SPLIT_BRAIN, .a = 3 };
	assert_int_equal(step(h, &in), 0);
	e = log_event(h, CTL_EV_SPLIT_BRAIN, 0);
	assert_int_equal(e->u.event.a, 3);
	assert_non_null(strstr(e->u.event.text, "n2 saw n3"));
	n.node = 40; /* not a member: ignored */
	assert_int_equal(step(h, &in), 0);
	assert_int_equal(h->out.n_act, 0);
	h_free(h);
}

static void test_degraded_events(void **state)
{
	struct h *h = elected(3, "first 1 (n2, n3) sync_timeout_ms=5", 0);

	(void)state;
	h->m[1].r.st.degraded = true;
	run(h, 3 * REPORT_NS);
	assert_int_equal(log_count_events(h, CTL_EV_DEGRADED), 1);
	assert_int_equal(log_event(h, CTL_EV_DEGRADED, 0)->u.event.a, 1);
	h->m[1].r.st.degraded = false;
	run(h, 3 * REPORT_NS);
	assert_int_equal(log_count_events(h, CTL_EV_DEGRADED), 2);
	assert_int_equal(log_event(h, CTL_EV_DEGRADED, 1)->u.event.a, 0);
	h_free(h);
}

/* SNAPSHOT to node (0: every member) with the agents of connected (bit id - 1) up. */
static int snapshot_req(struct h *h, uint16_t node, uint64_t connected)
{
	struct ctl_input in = { .type = CTL_IN_ADMIN };
	int rc;

	in.u.admin =
		(struct ctl_admin){ .op = CTL_OP_SNAPSHOT, .node = node, .connected = connected };
	rc = step(h, &in);
	deliver(h);
	return rc;
}

#define BIT(id) (1ull << ((id)-1))

/*
 * The operator's SNAPSHOT: to one member or every member connected, at the epoch, with
 * no state change; refused for a node that is no member or not connected, and while no
 * leader is elected or a failover runs.
 */
static void test_snapshot_request(void **state)
{
	struct h *h = elected(4, "all", BIT(4));
	const struct ctl_state *st = ctl_state(h->c);
	uint64_t v = st->version;
	const struct sl_control *cmd;

	(void)state;
	assert_int_equal(snapshot_req(h, 9, ~0ull), -ENOENT);
	assert_string_equal(h->out.why, "n9 is not a member of the cluster.");
	assert_int_equal(snapshot_req(h, 2, BIT(1) | BIT(3)), -EAGAIN);
	assert_string_equal(h->out.why, "n2 is not connected to the controller.");
	assert_int_equal(snapshot_req(h, 0, 0), -EAGAIN);
	assert_string_equal(h->out.why, "No member is connected to the controller.");
	assert_int_equal(snapshot_req(h, 0, BIT(5) | BIT(64)), -EAGAIN); /* spares only */
	assert_int_equal(h->out.asked, 0);

	assert_int_equal(snapshot_req(h, 2, BIT(2)), 0);
	assert_int_equal(h->out.asked, BIT(2));
	assert_int_equal(h->out.n_act, 1); /* no SAVE: nothing of the state changed */
	cmd = log_send(h, SL_CTL_SNAPSHOT, 2, 0);
	assert_non_null(cmd);
	assert_int_equal(cmd->epoch, 1);
	assert_int_equal(cmd->node, 0);
	assert_int_equal(log_count_sends(h, SL_CTL_SNAPSHOT, 0), 1);

	/* All: the members connected (the learner n4 among them), not n3 nor a spare. */
	log_clear(h);
	assert_int_equal(snapshot_req(h, 0, BIT(1) | BIT(2) | BIT(4) | BIT(5)), 0);
	assert_int_equal(h->out.asked, BIT(1) | BIT(2) | BIT(4));
	assert_int_equal(log_count_sends(h, SL_CTL_SNAPSHOT, 0), 3);
	assert_int_equal(log_count_sends(h, SL_CTL_SNAPSHOT, 3), 0);
	assert_int_equal(log_count_sends(h, SL_CTL_SNAPSHOT, 5), 0);
	assert_int_equal(log_count_sends(h, SL_CTL_SNAPSHOT, 4), 1);
	assert_int_equal(st->version, v);
	/* A later step says nothing of what was asked. */
	tick(h);
	assert_int_equal(h->out.asked, 0);

	kill_node(h, 1);
	until_failover(h);
	assert_int_equal(snapshot_req(h, 2, ~0ull), -EBUSY);
	assert_non_null(strstr(h->out.why, "failover to epoch 2 is under way"));
	h_free(h);

	h = h_new(3, "all", 1, 0);
	assert_int_equal(snapshot_req(h, 0, ~0ull), -EAGAIN);
	assert_non_null(strstr(h->out.why, "first election"));
	h_free(h);
}

/* A report whose snapshot LSN moved is an event: written, installed, lost. */
static void test_snapshot_events(void **state)
{
	struct h *h = elected(3, "all", 0);
	struct sl_node_report *r2 = &h->m[2].r;
	const struct ctl_action *e;
	struct ctl_state saved;

	(void)state;
	set_pos(h, 2, 1, 500);
	assert_int_equal(snapshot_req(h, 2, BIT(2)), 0);
	assert_int_equal(r2->snapshot_lsn, 500); /* the model wrote it */
	run(h, 2 * REPORT_NS);
	assert_int_equal(log_count_events(h, CTL_EV_SNAPSHOT), 1);
	e = log_event(h, CTL_EV_SNAPSHOT, 0);
	assert_int_equal(e->u.event.node, 2);
	assert_int_equal(e->u.event.a, 500);
	assert_int_equal(e->u.event.b, 501);
	assert_string_equal(e->u.event.text,
			    "n2 wrote a snapshot at LSN 500; its WAL starts at LSN 501.");

	/* The leader's, installed: a follower the WAL no longer covered. */
	log_clear(h);
	r2->snapshot_lsn = 900;
	r2->wal_first_lsn = 901;
	r2->snapshots_installed = 1;
	run(h, 2 * REPORT_NS);
	assert_int_equal(log_count_events(h, CTL_EV_SNAPSHOT), 1);
	assert_string_equal(log_event(h, CTL_EV_SNAPSHOT, 0)->u.event.text,
			    "n2 installed the leader's snapshot at LSN 900; its WAL starts at LSN "
			    "901.");

	/* Restarted: its newest was damaged, an older one stands; then none at all. */
	log_clear(h);
	r2->snapshots_installed = 0;
	r2->snapshot_lsn = 500;
	run(h, 2 * REPORT_NS);
	assert_string_equal(log_event(h, CTL_EV_SNAPSHOT, 0)->u.event.text,
			    "n2's newest snapshot is at LSN 500, older than the one at LSN 900 it "
			    "had; its WAL starts at LSN 901.");
	r2->snapshot_lsn = 0;
	run(h, 2 * REPORT_NS);
	assert_int_equal(log_count_events(h, CTL_EV_SNAPSHOT), 2);
	e = log_event(h, CTL_EV_SNAPSHOT, 1);
	assert_int_equal(e->u.event.a, 0);
	assert_string_equal(e->u.event.text, "n2 reports no snapshot any more (it had one at LSN "
					     "500); its WAL starts at LSN 901.");

	/* A restarted controller only learns where each node is: no event. */
	r2->snapshot_lsn = 700;
	saved = *ctl_state(h->c);
	h->c = ctl_init(h->mem, &h->cfg, &saved);
	assert_non_null(h->c);
	log_clear(h);
	run(h, 3 * REPORT_NS);
	assert_int_equal(log_count_events(h, CTL_EV_NODE_UP), 3);
	assert_int_equal(log_count_events(h, CTL_EV_SNAPSHOT), 0);
	h_free(h);
}

static void test_init_refusals(void **state)
{
	struct ctl_config cfg = { .cluster_id = 1,
				  .failure_timeout_ns = FT_NS,
				  .switchover_timeout_ns = SO_NS };
	struct ctl_state st = { .cluster_id = 1, .n_members = 2 };
	void *mem = malloc(ctl_mem_size());
	struct ctl *c;

	(void)state;
	assert_non_null(mem);
	st.policy = st.prev_policy = policy_of("all");
	st.members[0] = (struct ctl_member){ 1, false };
	st.members[1] = (struct ctl_member){ 2, false };
	c = ctl_init(mem, &cfg, &st);
	assert_non_null(c);
	assert_int_equal(ctl_state(c)->phase, CTL_PHASE_BOOT);
	assert_string_equal(ctl_phase_name(CTL_PHASE_FAILOVER), "failover");
	assert_null(ctl_init(NULL, &cfg, &st));
	st.members[1].id = 1; /* twice */
	assert_null(ctl_init(mem, &cfg, &st));
	st.members[1].id = SL_NODE_MAX + 1;
	assert_null(ctl_init(mem, &cfg, &st));
	st.members[1].id = 2;
	st.cluster_id = 2;
	assert_null(ctl_init(mem, &cfg, &st));
	st.cluster_id = 1;
	st.phase = CTL_PHASE_STEADY; /* without a leader */
	assert_null(ctl_init(mem, &cfg, &st));
	st.leader = 2;
	assert_non_null(ctl_init(mem, &cfg, &st));
	st.members[0].learner = st.members[1].learner = true;
	assert_null(ctl_init(mem, &cfg, &st));
	free(mem);
}

/* A controller restarted from its stored state picks up where it was. */
static void test_restart_from_stored_state(void **state)
{
	struct h *h = elected(3, "all", 0);
	struct ctl_state saved = *ctl_state(h->c);

	(void)state;
	h->c = ctl_init(h->mem, &h->cfg, &saved);
	assert_non_null(h->c);
	log_clear(h);
	run(h, 5 * FT_NS);
	assert_int_equal(ctl_state(h->c)->epoch, 1);
	assert_int_equal(ctl_state(h->c)->leader, 1);
	assert_int_equal(log_count_events(h, CTL_EV_NODE_UP), 3);
	assert_null(log_event(h, CTL_EV_LEADER_LOST, 0));
	assert_true(log_count_sends(h, SL_CTL_RENEW, 1) > 0);
	h_free(h);
}

/*
 * A member added at run time is no peer in the others' files: a node that restarted has
 * lost it. Promoted by a failover, that node is told the member (ADD_PEER) before
 * PROMOTE, or `all` would commit without it until its first report as the leader.
 */
static void test_promoted_node_told_added_member_first(void **state)
{
	struct h *h = elected(3, "all", 0);
	unsigned add = 0, promote = 0;

	(void)state;
	assert_int_equal(admin(h, CTL_OP_ADD_NODE, 4, false, NULL), 0);
	h->n = 4;
	h->m[4].r =
		(struct sl_node_report){ .node = 4, .cluster_id = CLUSTER_ID, .may_lead = true };
	strcpy(h->m[4].r.data_addr, "10.0.0.4:7400");
	run(h, 3 * REPORT_NS);
	assert_int_equal(h->m[2].peers, 1 | 4 | 8); /* told about node 4 */
	set_pos(h, 2, 1, 20);			    /* the most up to date */
	set_pos(h, 3, 1, 10);
	kill_node(h, 1);
	until_failover(h);
	h->m[2].peers = 1 | 4; /* restarted meanwhile: its file's peers */
	log_clear(h);
	run(h, 3 * FT_NS);
	assert_int_equal(ctl_state(h->c)->leader, 2);
	for (unsigned i = 0; i < h->n_log; i++) {
		const struct ctl_action *a = &h->log[i].a;

		if (a->type != CTL_ACT_SEND || a->u.send.node != 2)
			continue;
		if (a->u.send.cmd.cmd == SL_CTL_ADD_PEER && a->u.send.cmd.node == 4 && !add)
			add = i + 1;
		if (a->u.send.cmd.cmd == SL_CTL_PROMOTE && !promote)
			promote = i + 1;
	}
	assert_true(add != 0 && promote != 0 && add < promote);
	h_free(h);
}

/*
 * The controller restarts in the middle of a failover, before any position is in: the
 * stored state still knows which leader is being replaced, so the failover it resumes
 * puts that node in the promoted one's place in the policy list, as without a restart.
 */
static void test_restart_mid_failover_keeps_old_leader(void **state)
{
	struct h *h = elected(3, "first 1 (n2, n3)", 0);
	struct ctl_state saved;

	(void)state;
	set_pos(h, 1, 1, 12);
	set_pos(h, 2, 1, 10);
	set_pos(h, 3, 1, 12);
	run(h, 2 * REPORT_NS);
	kill_node(h, 1);
	until_failover(h);
	saved = *ctl_state(h->c);
	assert_int_equal(saved.old_leader, 1);
	h->c = ctl_init(h->mem, &h->cfg, &saved);
	assert_non_null(h->c);
	until_steady(h, 20 * REPORT_NS);
	assert_int_equal(ctl_state(h->c)->leader, 3);
	assert_int_equal(ctl_state(h->c)->old_leader, 0);
	assert_string_equal(policy_str(&ctl_state(h->c)->policy),
			    "first 1 (n2,n1) level=flushed durability=fsync sync_timeout_ms=0");
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_election),
		cmocka_unit_test(test_first_election_most_up_to_date),
		cmocka_unit_test(test_leader_killed_followers_confirm),
		cmocka_unit_test(test_controller_partition_no_failover),
		cmocka_unit_test(test_controller_alone_no_failover),
		cmocka_unit_test(test_restarted_leader_fails_over_at_once),
		cmocka_unit_test(test_promote_in_flight_is_not_a_restart),
		cmocka_unit_test(test_first_1_waits_for_n_minus_k_plus_1),
		cmocka_unit_test(test_any_k_quorum),
		cmocka_unit_test(test_policy_change_quorum),
		cmocka_unit_test(test_async_max_lag_refusal_and_force),
		cmocka_unit_test(test_async_old_leader_returns),
		cmocka_unit_test(test_failover_to_target),
		cmocka_unit_test(test_switchover_success),
		cmocka_unit_test(test_switchover_timeout),
		cmocka_unit_test(test_switchover_refusals),
		cmocka_unit_test(test_switchover_abandoned_on_leader_loss),
		cmocka_unit_test(test_policy_resent_to_leader),
		cmocka_unit_test(test_failover_to_silent_target),
		cmocka_unit_test(test_add_learner_and_promote),
		cmocka_unit_test(test_learner_not_counted_nor_promoted),
		cmocka_unit_test(test_spare_peer_removed),
		cmocka_unit_test(test_remove_refusals),
		cmocka_unit_test(test_set_policy_refusals),
		cmocka_unit_test(test_save_precedes_new_epoch),
		cmocka_unit_test(test_commit_seen_not_saved),
		cmocka_unit_test(test_async_restart_commit_unknown),
		cmocka_unit_test(test_stale_node_gets_follow),
		cmocka_unit_test(test_higher_epoch_adopted),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_degraded_events),
		cmocka_unit_test(test_snapshot_request),
		cmocka_unit_test(test_snapshot_events),
		cmocka_unit_test(test_init_refusals),
		cmocka_unit_test(test_restart_from_stored_state),
		cmocka_unit_test(test_restart_mid_failover_keeps_old_leader),
		cmocka_unit_test(test_promoted_node_told_added_member_first),
	};

	setvbuf(stdout, NULL, _IONBF, 0); /* CTL_TRACE lines among cmocka's */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
