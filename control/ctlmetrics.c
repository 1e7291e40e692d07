/*
 * The controller's metrics (ctlmetrics.h). The text format wants each family once, its
 * # HELP and # TYPE first and its samples together, so the text is written a family at
 * a time: cluster, then members (one sample per member, node="N"), then the controller's
 * own counters. The numbers are those of the admin API's status (admin.c) read the same
 * way; durations are seconds written from nanoseconds with integer arithmetic, so that
 * a test compares exact text. A value the controller does not have (a member that never
 * reported, a lag without a leader's report) is left out, never written as 0.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctlmetrics.h"

#define NS_PER_S 1000000000ull

struct mbuf {
	char *p;
	size_t cap;
	size_t len;
	bool full; /* a write did not fit: the text is cut */
};

__attribute__((format(printf, 2, 3))) static void put(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = true;
		return;
	}
	b->len += (size_t)n;
}

/* The help texts are ours: no backslash, no newline, nothing to escape. */
static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum unit {
	U_NUMBER = 0,
	U_SECONDS, /* the value is in nanoseconds, written in seconds; UINT64_MAX: +Inf */
};

/* " value\n", after the name and labels. */
static void value(struct mbuf *b, uint64_t v, unsigned unit)
{
	if (unit == U_NUMBER)
		put(b, " %llu\n", (unsigned long long)v);
	else if (v == UINT64_MAX)
		put(b, " +Inf\n");
	else
		put(b, " %llu.%09llu\n", (unsigned long long)(v / NS_PER_S),
		    (unsigned long long)(v % NS_PER_S));
}

/* A family of one sample without labels. */
static void single(struct mbuf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	family(b, name, type, help);
	put(b, "%s", name);
	value(b, v, U_NUMBER);
}

size_t ctl_metrics_escape(const char *s, size_t len, char *buf, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		char two = c == '\\' ? '\\' : c == '"' ? '"' : c == '\n' ? 'n' : '\0';

		if (n + 1 + (two != '\0') >= cap)
			break;
		if (two != '\0') {
			buf[n++] = '\\';
			buf[n++] = two;
		} else {
			buf[n++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
		}
	}
	buf[n] = '\0';
	return n;
}

/* ---- cluster ------------------------------------------------------------------------- */

static void cluster_metrics(struct mbuf *b, const struct ctl_metrics_src *src,
			    const struct ctl_state *st)
{
	const struct ctl_node_view *lv = ctl_admin_leader_view(src->ctl);
	char policy[SL_POLICY_TEXT_MAX], version[CTL_METRICS_LABEL_MAX];

	ctl_metrics_escape(src->version ? src->version : "unknown", SIZE_MAX, version,
			   sizeof(version));
	family(b, "shiplog_controller_info", "gauge",
	       "The controller's cluster id and version (labels); always 1.");
	put(b, "shiplog_controller_info{cluster=\"%u\",version=\"%s\"} 1\n", st->cluster_id,
	    version);
	single(b, "shiplog_epoch", "gauge", "The highest epoch the controller handed out.",
	       st->epoch);
	single(b, "shiplog_leader", "gauge", "The node id of the epoch's leader; 0: none.",
	       st->leader);
	family(b, "shiplog_phase", "gauge",
	       "1 for the controller's current phase (boot, steady, failover, switchover).");
	for (unsigned ph = CTL_PHASE_BOOT; ph <= CTL_PHASE_SWITCHOVER; ph++)
		put(b, "shiplog_phase{phase=\"%s\"} %u\n", ctl_phase_name(ph), st->phase == ph);
	if (sl_policy_format(&st->policy, policy, sizeof(policy)) == 0)
		snprintf(policy, sizeof(policy), "invalid");
	family(b, "shiplog_policy_info", "gauge",
	       "The commit policy in force, as canonical text (label); always 1.");
	put(b, "shiplog_policy_info{policy=\"%s\"} 1\n", policy);
	single(b, "shiplog_policy_change_pending", "gauge",
	       "1 while a new policy is not yet known committed (the previous one still counts).",
	       memcmp(&st->policy, &st->prev_policy, sizeof(st->policy)) != 0);
	single(b, "shiplog_degraded", "gauge",
	       "1 when the leader reports it degraded to async (sync_timeout_ms).",
	       lv != NULL && lv->last.st.degraded);
	single(b, "shiplog_state_version", "gauge",
	       "The stored state's version: +1 on every change.", st->version);
}

/* ---- members ------------------------------------------------------------------------- */

enum member_metric {
	M_UP = 0,
	M_LEARNER,
	M_REPORT_AGE,
	M_EPOCH,
	M_LAST_LSN,
	M_COMMIT_LSN,
	M_FLUSHED_LSN,
	M_APPLIED_LSN,
	M_LAG_RECORDS,
	M_LAG_BYTES,
	M_LAG_SECONDS,
	M_LEADER_AGE,
	M_MAY_LEAD,
	M_PAUSED,
	M_STALE_EPOCH,
	M_TRUNCATED,
	M_RETRANSMITS,
	M_CLIENT_BUSY,
	M_SNAPSHOT_LSN,
	M_WAL_FIRST_LSN,
	M_SNAPSHOTS_SENT,
	M_SNAPSHOTS_INSTALLED,
	M__COUNT,
};

static const struct member_family {
	const char *name;
	const char *type;
	uint8_t unit;
	const char *help;
} member_families[M__COUNT] = {
	[M_UP] = { "shiplog_member_up", "gauge", U_NUMBER,
		   "1 when the member reported within failure_timeout_ms." },
	[M_LEARNER] = { "shiplog_member_learner", "gauge", U_NUMBER,
			"1 for a learner: receives the log, not counted, never promoted." },
	[M_REPORT_AGE] = { "shiplog_member_report_age_seconds", "gauge", U_SECONDS,
			   "Since the member's last report reached the controller." },
	[M_EPOCH] = { "shiplog_member_epoch", "gauge", U_NUMBER,
		      "The epoch the member is at, as it reported." },
	[M_LAST_LSN] = { "shiplog_member_last_lsn", "gauge", U_NUMBER,
			 "The last LSN in the member's log." },
	[M_COMMIT_LSN] = { "shiplog_member_commit_lsn", "gauge", U_NUMBER,
			   "The commit LSN the member knows." },
	[M_FLUSHED_LSN] = { "shiplog_member_flushed_lsn", "gauge", U_NUMBER,
			    "The last LSN the member made durable." },
	[M_APPLIED_LSN] = { "shiplog_member_applied_lsn", "gauge", U_NUMBER,
			    "The last LSN the member applied to its state machine." },
	[M_LAG_RECORDS] = { "shiplog_member_lag_records", "gauge", U_NUMBER,
			    "Records behind the leader at the policy's level, as the leader "
			    "reports; 0 for the leader." },
	[M_LAG_BYTES] = { "shiplog_member_lag_bytes", "gauge", U_NUMBER,
			  "Bytes of those records still in the leader's ring." },
	[M_LAG_SECONDS] = { "shiplog_member_lag_seconds", "gauge", U_SECONDS,
			    "Age of the oldest record the member has not acknowledged." },
	[M_LEADER_AGE] = { "shiplog_member_leader_age_seconds", "gauge", U_SECONDS,
			   "Follower or learner: since its last valid frame from the leader "
			   "(+Inf: none since it took its role)." },
	[M_MAY_LEAD] = { "shiplog_member_may_lead", "gauge", U_NUMBER,
			 "1 when recovery found the member's log whole (it may be promoted)." },
	[M_PAUSED] = { "shiplog_member_paused", "gauge", U_NUMBER,
		       "1 for a leader refusing writes for a switchover." },
	[M_STALE_EPOCH] = { "shiplog_member_stale_epoch_total", "counter", U_NUMBER,
			    "Frames or commands of an older epoch the member ignored." },
	[M_TRUNCATED] = { "shiplog_member_truncated_records_total", "counter", U_NUMBER,
			  "Records the member discarded from a divergent log suffix." },
	[M_RETRANSMITS] = { "shiplog_member_retransmits_total", "counter", U_NUMBER,
			    "Frames the member sent again." },
	[M_CLIENT_BUSY] = { "shiplog_member_client_busy_total", "counter", U_NUMBER,
			    "Client writes the member answered busy." },
	[M_SNAPSHOT_LSN] = { "shiplog_member_snapshot_lsn", "gauge", U_NUMBER,
			     "The LSN of the member's newest snapshot on disk; 0: none." },
	[M_WAL_FIRST_LSN] = { "shiplog_member_wal_first_lsn", "gauge", U_NUMBER,
			      "The oldest LSN the member's WAL still holds; a follower behind it "
			      "gets the leader's snapshot." },
	[M_SNAPSHOTS_SENT] = { "shiplog_member_snapshots_sent_total", "counter", U_NUMBER,
			       "Snapshot transfers the member began as a leader." },
	[M_SNAPSHOTS_INSTALLED] = { "shiplog_member_snapshots_installed_total", "counter", U_NUMBER,
				    "Snapshots the member received from a leader and installed." },
};

struct member_sample {
	uint64_t v[M__COUNT];
	bool has[M__COUNT];
};

static void sample_set(struct member_sample *s, unsigned m, uint64_t v)
{
	s->v[m] = v;
	s->has[m] = true;
}

/* What the member said of itself in its last report. */
static void member_reported(struct member_sample *s, const struct ctl_metrics_src *src,
			    const struct ctl_node_view *v)
{
	const struct sl_node_report *r = &v->last;

	sample_set(s, M_REPORT_AGE, src->now_ns > v->heard_ns ? src->now_ns - v->heard_ns : 0);
	sample_set(s, M_EPOCH, r->st.epoch);
	sample_set(s, M_LAST_LSN, r->st.last_lsn);
	sample_set(s, M_COMMIT_LSN, r->st.commit_lsn);
	sample_set(s, M_FLUSHED_LSN, r->st.flushed_lsn);
	sample_set(s, M_APPLIED_LSN, r->st.applied_lsn);
	if (r->st.role != SL_ROLE_LEADER)
		sample_set(s, M_LEADER_AGE, r->st.leader_age_ns);
	sample_set(s, M_MAY_LEAD, r->may_lead);
	sample_set(s, M_PAUSED, r->st.paused);
	sample_set(s, M_STALE_EPOCH, r->stale_epoch);
	sample_set(s, M_TRUNCATED, r->truncated_records);
	sample_set(s, M_RETRANSMITS, r->retransmits);
	sample_set(s, M_CLIENT_BUSY, r->client_busy);
	sample_set(s, M_SNAPSHOT_LSN, r->snapshot_lsn);
	/* A WAL starts at LSN 1 at the least: 0 is an agent that does not say. */
	if (r->wal_first_lsn != 0)
		sample_set(s, M_WAL_FIRST_LSN, r->wal_first_lsn);
	sample_set(s, M_SNAPSHOTS_SENT, r->snapshots_sent);
	sample_set(s, M_SNAPSHOTS_INSTALLED, r->snapshots_installed);
}

/* One member's values: what the controller knows of it, as status shows it (admin.c). */
static void member_sample(const struct ctl_metrics_src *src, const struct ctl_state *st,
			  const struct ctl_node_view *v, const struct ctl_node_view *lv,
			  struct member_sample *s)
{
	const struct sl_peer_status *peer;

	memset(s, 0, sizeof(*s));
	sample_set(s, M_UP, v->heard);
	sample_set(s, M_LEARNER, v->learner);
	if (v->heard_ns != 0)
		member_reported(s, src, v);
	/* The lag is the leader's view of its followers: none without the leader's report. */
	if (v->id == st->leader && lv != NULL) {
		sample_set(s, M_LAG_RECORDS, 0);
		sample_set(s, M_LAG_BYTES, 0);
		sample_set(s, M_LAG_SECONDS, 0);
	} else if (v->id != st->leader && (peer = ctl_admin_peer_of(lv, v->id)) != NULL) {
		sample_set(s, M_LAG_RECORDS, peer->lag_records);
		sample_set(s, M_LAG_BYTES, peer->lag_bytes);
		sample_set(s, M_LAG_SECONDS, peer->lag_ns);
	}
}

/* Info families: one sample a member, the value 1, what it says in a label. */
static void member_labels(struct mbuf *b, const struct ctl *c)
{
	char addr[CTL_METRICS_LABEL_MAX];
	const struct ctl_node_view *v;

	family(b, "shiplog_member_role", "gauge",
	       "The member's role (label) in its last report, \"unknown\" before one; always 1.");
	for (unsigned i = 0; (v = ctl_node(c, i)) != NULL; i++)
		put(b, "shiplog_member_role{node=\"%u\",role=\"%s\"} 1\n", v->id,
		    v->heard_ns != 0 ? sl_role_name(v->last.st.role) : "unknown");
	family(b, "shiplog_member_info", "gauge",
	       "The member's data path address (label) in its last report; always 1.");
	for (unsigned i = 0; (v = ctl_node(c, i)) != NULL; i++) {
		if (v->heard_ns == 0)
			continue;
		ctl_metrics_escape(v->last.data_addr, sizeof(v->last.data_addr), addr,
				   sizeof(addr));
		put(b, "shiplog_member_info{node=\"%u\",data_addr=\"%s\"} 1\n", v->id, addr);
	}
}

static void member_metrics(struct mbuf *b, const struct ctl_metrics_src *src,
			   const struct ctl_state *st)
{
	const struct ctl_node_view *lv = ctl_admin_leader_view(src->ctl), *v;
	struct member_sample s;

	single(b, "shiplog_members", "gauge", "Members of the cluster, learners included.",
	       st->n_members);
	member_labels(b, src->ctl);
	for (unsigned m = 0; m < M__COUNT; m++) {
		const struct member_family *f = &member_families[m];

		family(b, f->name, f->type, f->help);
		for (unsigned i = 0; (v = ctl_node(src->ctl, i)) != NULL; i++) {
			member_sample(src, st, v, lv, &s);
			if (!s.has[m])
				continue;
			put(b, "%s{node=\"%u\"}", f->name, v->id);
			value(b, s.v[m], f->unit);
		}
	}
}

/* ---- the controller's counters ------------------------------------------------------- */

static const struct counter_family {
	const char *name;
	const char *type;
	size_t off; /* in struct ctl_counters */
	const char *help;
} counter_families[] = {
	{ "shiplog_agents_connected", "gauge", offsetof(struct ctl_counters, agents_connected),
	  "Agents connected now (after their hello)." },
	{ "shiplog_agent_connections_total", "counter", offsetof(struct ctl_counters, agent_conns),
	  "Agent connections accepted." },
	{ "shiplog_agent_connections_refused_total", "counter",
	  offsetof(struct ctl_counters, agent_conns_refused),
	  "Agent connections refused: over the connection limit." },
	{ "shiplog_agent_lines_rejected_total", "counter",
	  offsetof(struct ctl_counters, agent_lines_rejected),
	  "Agent lines rejected (bad lines, refused hellos, overlong lines): the connection "
	  "closes." },
	{ "shiplog_agent_reports_total", "counter", offsetof(struct ctl_counters, agent_reports),
	  "Status reports received from agents." },
	{ "shiplog_agent_notes_total", "counter", offsetof(struct ctl_counters, agent_notes),
	  "Notes received from agents." },
	{ "shiplog_commands_sent_total", "counter", offsetof(struct ctl_counters, cmds_sent),
	  "Commands queued to a node's agent." },
	{ "shiplog_commands_unsent_total", "counter", offsetof(struct ctl_counters, cmds_unsent),
	  "Commands for a node without a connection (sent again on a later report)." },
	{ "shiplog_commands_dropped_total", "counter", offsetof(struct ctl_counters, cmds_dropped),
	  "Commands dropped because the agent did not read (its connection closed)." },
	{ "shiplog_state_saves_total", "counter", offsetof(struct ctl_counters, state_saves),
	  "Durable saves of the controller's state." },
	{ "shiplog_admin_connections_refused_total", "counter",
	  offsetof(struct ctl_counters, admin_conns_refused),
	  "Admin connections refused: over the connection limit." },
	{ "shiplog_audit_write_errors_total", "counter",
	  offsetof(struct ctl_counters, audit_write_errors),
	  "Privileged requests that audit.jsonl could not record." },
};

static uint64_t counter_at(const struct ctl_counters *k, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)k + off, sizeof(v));
	return v;
}

static void controller_metrics(struct mbuf *b, const struct ctl_metrics_src *src)
{
	const struct ctl_counters *k = src->counters;

	for (size_t i = 0; i < sizeof(counter_families) / sizeof(counter_families[0]); i++) {
		const struct counter_family *f = &counter_families[i];

		single(b, f->name, f->type, f->help, counter_at(k, f->off));
	}
	family(b, "shiplog_admin_requests_total", "counter",
	       "Admin API requests by outcome (label code).");
	for (unsigned c = 0; c < CTL_ADMIN__CODES; c++)
		put(b, "shiplog_admin_requests_total{code=\"%s\"} %llu\n", ctl_admin_code_name(c),
		    (unsigned long long)k->admin_requests[c]);
	if (src->events == NULL)
		return;
	family(b, "shiplog_events_total", "counter",
	       "Events recorded by kind (label) since the controller started: failover_start "
	       "counts failovers, switchover_start switchovers, failover_refused refusals.");
	for (unsigned kind = 1; kind < CTL_EV__MAX; kind++)
		put(b, "shiplog_events_total{kind=\"%s\"} %llu\n", ctl_event_kind_name(kind),
		    (unsigned long long)src->events->added[kind]);
	single(b, "shiplog_event_write_errors_total", "counter",
	       "Events that events.jsonl could not record (kept in memory).",
	       src->events->write_errors);
}

int ctl_metrics_render(const struct ctl_metrics_src *src, char *buf, size_t cap)
{
	struct mbuf b = { .p = buf, .cap = cap > INT_MAX ? INT_MAX : cap };
	const struct ctl_state *st;

	if (cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	st = ctl_state(src->ctl);
	cluster_metrics(&b, src, st);
	member_metrics(&b, src, st);
	controller_metrics(&b, src);
	if (b.full) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return (int)b.len;
}
