/*
 * The controller's decisions (DESIGN.md §6), sans I/O in the manner of the replication
 * core: no sockets, no clock, no files, no allocation. shiplog-controller feeds it node
 * reports, notes, admin requests and ticks, and executes what it asks: store the state
 * durably, send commands to nodes, record events. The simulator drives the same code.
 *
 * Rules it keeps:
 * - The epoch is a fencing token. It is stored (CTL_ACT_SAVE, always the first action
 *   of a step) before any command of that epoch goes out, so a restarted controller
 *   never hands out an epoch twice.
 * - A leader is failed when the controller has not heard it for failure_timeout AND
 *   no follower heard it within failure_timeout either (a controller cut off from the
 *   leader alone does not fail over), or at once when the leader itself reports that
 *   it no longer leads the current epoch (restarted, lease expired).
 * - Failover fences every node it reaches at E+1, then waits for enough fenced reports
 *   to include a node that holds every committed record (n-k+1 non-learner nodes for
 *   first k / any k; under a policy change not yet committed, the larger of the two
 *   quorums), and promotes the most up-to-date eligible one: highest (last_epoch,
 *   last_lsn), may_lead, not a learner. Under async it refuses when the best lacks more
 *   than max_lag_on_failover records the old leader had committed, unless forced.
 * - A promoted standby takes the old leader's place in a first k / any k list.
 * - Switchover pauses the leader's writes, waits for the target to flush the leader's
 *   last LSN, then fences the old leader and promotes the target at E+1: no loss.
 * - Learners are fenced with the rest but never counted and never promoted.
 * - A snapshot is the operator's to ask for, of members connected now, at the current
 *   epoch; it changes no state. A report whose snapshot LSN moved is an event.
 */
#ifndef SHIPLOG_CTLCORE_H
#define SHIPLOG_CTLCORE_H

#include <stdbool.h>
#include <stdint.h>

#include <shiplog/control.h>
#include <shiplog/policy.h>

#define CTL_TEXT_MAX 200 /* an event's or a refusal's sentence */

struct ctl_config {
	uint32_t cluster_id;
	uint64_t failure_timeout_ns;	  /* leader silent this long: suspect */
	uint64_t switchover_timeout_ns;	  /* target must catch up within this */
	uint64_t max_lag_on_failover;	  /* async: committed records a new leader may lack */
	uint64_t learner_catchup_records; /* a learner this close to the leader becomes a member */
};

struct ctl_member {
	uint16_t id;
	bool learner;
};

enum ctl_phase {
	CTL_PHASE_BOOT = 0,   /* no leader yet: the first election waits for reports */
	CTL_PHASE_STEADY,     /* a leader of epoch leads */
	CTL_PHASE_FAILOVER,   /* fenced at epoch, collecting positions */
	CTL_PHASE_SWITCHOVER, /* leader paused, target catching up */
};

/* Everything the controller must not forget across a restart (the store keeps it). */
struct ctl_state {
	uint64_t version; /* +1 on every change */
	uint32_t cluster_id;
	uint32_t epoch;	     /* the highest epoch handed out */
	uint16_t leader;     /* of epoch; 0: none */
	uint8_t phase;	     /* CTL_PHASE_* */
	uint16_t target;     /* switchover target, or failover --to (0: the best) */
	uint16_t old_leader; /* FAILOVER: the leader being replaced (0: none); it takes the
			      * promoted node's place in the policy list */
	bool force;	     /* failover --force: the async lag bound is waived */
	uint16_t preferred;  /* first election: who leads when everyone is equal */
	struct sl_policy policy;
	struct sl_policy prev_policy; /* in force until policy_lsn is known committed */
	uint64_t policy_lsn;	      /* the CONFIG record of policy (0: not seen yet) */
	uint64_t commit_seen;	      /* highest commit LSN a leader of this state reported */
	uint8_t n_members;
	struct ctl_member members[SL_NODE_MAX];
};

enum ctl_input_type {
	CTL_IN_TICK = 1, /* time passes */
	CTL_IN_REPORT,	 /* a node's agent reported */
	CTL_IN_NOTE,	 /* a node's core noted something */
	CTL_IN_ADMIN,	 /* an operator asks */
};

enum ctl_op {
	CTL_OP_FAILOVER = 1, /* node: --to (0: best); force */
	CTL_OP_SWITCHOVER,   /* node: target */
	CTL_OP_SET_POLICY,   /* policy */
	CTL_OP_ADD_NODE,     /* node: joins as a learner (it must be in the nodes' config) */
	CTL_OP_REMOVE_NODE,  /* node */
	CTL_OP_SNAPSHOT,     /* node (0: every member connected) */
};

struct ctl_admin {
	uint8_t op; /* CTL_OP_* */
	uint16_t node;
	bool force;
	struct sl_policy policy;
	/* SNAPSHOT: bit id - 1 for each node whose agent is connected now. The caller knows
	 * its connections; a request does not carry them. */
	uint64_t connected;
};

struct ctl_input {
	uint8_t type;
	uint64_t now_ns; /* every input carries the time */
	union {
		const struct sl_node_report *report;
		const struct sl_node_note *note;
		struct ctl_admin admin;
	} u;
};

enum ctl_action_type {
	CTL_ACT_SAVE = 1, /* store the state durably before executing anything after it */
	CTL_ACT_SEND,	  /* a command to a node */
	CTL_ACT_EVENT,	  /* a line of history */
};

enum ctl_event_kind {
	CTL_EV_LEADER_LOST = 1,	 /* node = leader; a = ms since the controller heard it */
	CTL_EV_FAILOVER_START,	 /* node = old leader; a = new epoch */
	CTL_EV_FAILOVER_WAIT,	 /* a = heard, b = needed (once per change) */
	CTL_EV_FAILOVER_REFUSED, /* text says why */
	CTL_EV_PROMOTED,	 /* node = new leader; a = epoch; b = its last LSN */
	CTL_EV_ASYNC_LOSS,	 /* node = old leader; a = first LSN lost, b = records lost */
	CTL_EV_TRUNCATED,	 /* node; a = first discarded LSN, b = records discarded */
	CTL_EV_SWITCHOVER_START, /* node = target */
	CTL_EV_SWITCHOVER_ABORT, /* node = target; text says why */
	CTL_EV_POLICY,		 /* the policy changed; text is the policy */
	CTL_EV_MEMBER,		 /* node added, promoted from learner or removed; text says */
	CTL_EV_DEGRADED,	 /* node = leader; a = 1 entering async degradation, 0 leaving */
	CTL_EV_NODE_UP,		 /* node reported for the first time, or after being lost */
	CTL_EV_NODE_DOWN,	 /* node silent for failure_timeout */
	CTL_EV_SPLIT_BRAIN,	 /* node noted another leader of its epoch (a) */
	CTL_EV_SNAPSHOT, /* node's newest snapshot moved: a = its LSN, b = WAL's first LSN */
	CTL_EV__MAX,
};

struct ctl_action {
	uint8_t type;
	union {
		struct {
			uint16_t node;
			struct sl_control cmd;
		} send;
		struct {
			uint8_t kind; /* CTL_EV_* */
			uint16_t node;
			uint64_t a;
			uint64_t b;
			char text[CTL_TEXT_MAX]; /* the whole sentence, for the history */
		} event;
	} u;
};

#define CTL_ACTIONS_MAX (4 * SL_NODE_MAX + 16) /* one step never asks for more */

struct ctl_out {
	struct ctl_action act[CTL_ACTIONS_MAX];
	uint32_t n_act;
	char why[CTL_TEXT_MAX]; /* an admin request refused: the reason */
	uint64_t asked;		/* SNAPSHOT accepted: bit id - 1 for each node sent it */
};

/* What the controller knows of one node right now (not stored). */
struct ctl_node_view {
	uint16_t id;
	bool learner;
	bool heard;		    /* a report within failure_timeout */
	uint64_t heard_ns;	    /* when its last report arrived (0: never) */
	struct sl_node_report last; /* valid when heard_ns != 0 */
};

struct ctl;

/* Bytes for ctl_init(); the caller allocates them once. */
unsigned long ctl_mem_size(void);

/*
 * Starts from state (a stored one, or a fresh one: cluster id, members, policy,
 * preferred leader, epoch 0, phase BOOT). NULL when cfg or state is unusable.
 */
struct ctl *ctl_init(void *mem, const struct ctl_config *cfg, const struct ctl_state *state);

/*
 * One input; actions go to out (reset by the call). Returns 0, or for CTL_IN_ADMIN a
 * negative errno with out->why when the request is refused (nothing changed then):
 * -EBUSY another operation is under way, -EINVAL the request makes no sense for this
 * cluster, -EAGAIN the cluster is not in a state that allows it now (why says what
 * is missing), -ENOENT no such node.
 */
int ctl_step(struct ctl *c, const struct ctl_input *in, struct ctl_out *out);

const struct ctl_state *ctl_state(const struct ctl *c);
/* Node view i (0 <= i < ctl_state()->n_members); NULL past the end. */
const struct ctl_node_view *ctl_node(const struct ctl *c, unsigned i);

const char *ctl_phase_name(unsigned phase);

#endif
