/*
 * The admin API's requests and answers (admin.h). The decoder is pure and total (a fuzz
 * target); tokens are compared in constant time over their whole padded buffers; every
 * privileged request, whatever became of it, leaves a line in audit.jsonl.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"

#ifndef SHIPLOG_VERSION
#define SHIPLOG_VERSION "unknown"
#endif

static const char *const cmd_names[] = {
	[CTL_ADM_NONE] = "unknown",
	[CTL_ADM_STATUS] = "status",
	[CTL_ADM_MEMBERS] = "members",
	[CTL_ADM_EVENTS] = "events",
	[CTL_ADM_FAILOVER] = "failover",
	[CTL_ADM_SWITCHOVER] = "switchover",
	[CTL_ADM_SET_POLICY] = "set-policy",
	[CTL_ADM_ADD_NODE] = "add-node",
	[CTL_ADM_REMOVE_NODE] = "remove-node",
	[CTL_ADM_SNAPSHOT] = "snapshot",
};
_Static_assert(sizeof(cmd_names) / sizeof(cmd_names[0]) == CTL_ADM__MAX, "a name per cmd");

static const char *const code_names[] = {
	[CTL_ADMIN_OK] = "ok",
	[CTL_ADMIN_UNAUTHORIZED] = "unauthorized",
	[CTL_ADMIN_BAD_REQUEST] = "bad_request",
	[CTL_ADMIN_UNKNOWN_COMMAND] = "unknown_command",
	[CTL_ADMIN_REFUSED] = "refused",
	[CTL_ADMIN_BUSY] = "busy",
	[CTL_ADMIN_NOT_FOUND] = "not_found",
	[CTL_ADMIN_INTERNAL] = "internal",
};
_Static_assert(sizeof(code_names) / sizeof(code_names[0]) == CTL_ADMIN__CODES, "a name each");

bool ctl_admin_cmd_privileged(unsigned cmd)
{
	return cmd >= CTL_ADM_FAILOVER && cmd < CTL_ADM__MAX;
}

const char *ctl_admin_cmd_name(unsigned cmd)
{
	return cmd < CTL_ADM__MAX ? cmd_names[cmd] : "unknown";
}

const char *ctl_admin_code_name(unsigned code)
{
	return code < CTL_ADMIN__CODES ? code_names[code] : "internal";
}

const char *ctl_auth_name(unsigned auth)
{
	return auth == CTL_AUTH_ADMIN ? "admin" : auth == CTL_AUTH_OPERATOR ? "operator" : "none";
}

__attribute__((format(printf, 3, 4))) static unsigned req_fail(struct ctl_admin_req *req,
							       unsigned code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->error, sizeof(req->error), fmt, ap);
	va_end(ap);
	/* jansson quotes the bytes it choked on: the answer and the audit want ASCII. */
	for (char *p = req->error; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	req->code = (uint8_t)code;
	return code;
}

/* ---- decoding -------------------------------------------------------------------------- */

/* args.key, absent (0 and *set false), or an integer lo..hi. */
static int arg_uint(const json_t *args, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
		    bool *set, struct ctl_admin_req *req)
{
	const json_t *v = args ? json_object_get(args, key) : NULL;

	*set = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST, "args.%s: not an integer", key);
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < lo ||
	    (uint64_t)json_integer_value(v) > hi)
		return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST, "args.%s: out of range %llu..%llu",
				     key, (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)json_integer_value(v);
	*set = true;
	return 0;
}

static int arg_node(const json_t *args, const char *key, bool required, struct ctl_admin_req *req)
{
	uint64_t id = 0;
	bool set;

	if (arg_uint(args, key, 1, SL_NODE_MAX, &id, &set, req) != 0)
		return -1;
	if (!set && required)
		return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST, "args.%s: required", key);
	req->op.node = (uint16_t)id;
	return 0;
}

/* Every key of args must be one of names (a typo in "force" must not pass). */
static int args_known(const json_t *args, const char *const *names, size_t n,
		      struct ctl_admin_req *req)
{
	const char *key;
	json_t *v;

	if (args == NULL)
		return 0;
	json_object_foreach((json_t *)args, key, v)
	{
		size_t i;

		for (i = 0; i < n && strcmp(key, names[i]) != 0; i++)
			;
		if (i == n) {
			char shown[33];

			snprintf(shown, sizeof(shown), "%s", key);
			for (char *p = shown; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
					*p = '?';
			return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST,
					     "args: unknown argument \"%s\" for %s", shown,
					     cmd_names[req->cmd]);
		}
	}
	return 0;
}

static int args_events(const json_t *args, struct ctl_admin_req *req)
{
	static const char *const names[] = { "since", "limit" };
	uint64_t limit = CTL_ADMIN_EVENTS_LIMIT;
	bool set;

	if (args_known(args, names, 2, req) != 0 ||
	    arg_uint(args, "since", 0, INT64_MAX, &req->since, &set, req) != 0 ||
	    arg_uint(args, "limit", 1, CTL_EVENTS_KEEP, &limit, &set, req) != 0)
		return -1;
	req->limit = (uint32_t)limit;
	return 0;
}

/* args.key: absent or null (false), true or false. */
static int arg_bool(const json_t *args, const char *key, bool *out, struct ctl_admin_req *req)
{
	const json_t *v = args ? json_object_get(args, key) : NULL;

	if (v != NULL && !json_is_boolean(v) && !json_is_null(v))
		return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST, "args.%s: not true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int args_failover(const json_t *args, struct ctl_admin_req *req)
{
	static const char *const names[] = { "to", "force" };

	if (args_known(args, names, 2, req) != 0 || arg_node(args, "to", false, req) != 0 ||
	    arg_bool(args, "force", &req->op.force, req) != 0)
		return -1;
	return 0;
}

static int args_policy(const json_t *args, struct ctl_admin_req *req)
{
	static const char *const names[] = { "policy" };
	const json_t *p = args ? json_object_get(args, "policy") : NULL;
	char why[CTL_ADMIN_ERR_MAX - 16];

	if (args_known(args, names, 1, req) != 0)
		return -1;
	if (!json_is_string(p))
		return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST, "args.policy: %s",
				     p ? "not a string" : "required");
	if (sl_policy_parse(json_string_value(p), json_string_length(p), &req->op.policy, why,
			    sizeof(why)) != 0)
		return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST, "args.policy: %s", why);
	return 0;
}

/* {"node":N} or {"all":true}: one node, or every member connected (node 0). */
static int args_snapshot(const json_t *args, struct ctl_admin_req *req)
{
	static const char *const names[] = { "node", "all" };
	bool all = false;

	if (args_known(args, names, 2, req) != 0 || arg_node(args, "node", false, req) != 0 ||
	    arg_bool(args, "all", &all, req) != 0)
		return -1;
	if (all == (req->op.node != 0))
		return (int)req_fail(req, CTL_ADMIN_BAD_REQUEST, "args: %s",
				     req->op.node ? "node or all, not both"
						  : "node or all: true is required");
	return 0;
}

static int decode_args(const json_t *args, struct ctl_admin_req *req)
{
	static const char *const to[] = { "to" }, *const node[] = { "node" };

	switch (req->cmd) {
	case CTL_ADM_EVENTS:
		return args_events(args, req);
	case CTL_ADM_FAILOVER:
		req->op.op = CTL_OP_FAILOVER;
		return args_failover(args, req);
	case CTL_ADM_SWITCHOVER:
		req->op.op = CTL_OP_SWITCHOVER;
		return args_known(args, to, 1, req) || arg_node(args, "to", true, req) ? -1 : 0;
	case CTL_ADM_SET_POLICY:
		req->op.op = CTL_OP_SET_POLICY;
		return args_policy(args, req);
	case CTL_ADM_ADD_NODE:
	case CTL_ADM_REMOVE_NODE:
		req->op.op = req->cmd == CTL_ADM_ADD_NODE ? CTL_OP_ADD_NODE : CTL_OP_REMOVE_NODE;
		return args_known(args, node, 1, req) || arg_node(args, "node", true, req) ? -1 : 0;
	case CTL_ADM_SNAPSHOT:
		req->op.op = CTL_OP_SNAPSHOT;
		return args_snapshot(args, req);
	default: /* status, members: no arguments */
		return args_known(args, NULL, 0, req);
	}
}

/* The printable name, and the command it names. */
static void decode_cmd(const json_t *cmd, struct ctl_admin_req *req)
{
	const char *s = json_string_value(cmd);
	size_t n = json_string_length(cmd);

	snprintf(req->cmd_name, sizeof(req->cmd_name), "%.*s",
		 (int)(n < sizeof(req->cmd_name) - 1 ? n : sizeof(req->cmd_name) - 1), s);
	for (char *p = req->cmd_name; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	for (unsigned i = 1; i < CTL_ADM__MAX; i++)
		if (strlen(cmd_names[i]) == n && memcmp(s, cmd_names[i], n) == 0)
			req->cmd = (uint8_t)i;
}

/* v, token, cmd and args' types: what must hold before the token is looked at. */
static unsigned decode_envelope(const json_t *o, struct ctl_admin_req *req)
{
	const json_t *v = json_object_get(o, "v"), *token = json_object_get(o, "token");
	const json_t *cmd = json_object_get(o, "cmd"), *args = json_object_get(o, "args");

	if (!json_is_integer(v))
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "v: %s",
				v ? "not an integer" : "missing (the protocol version)");
	if (json_integer_value(v) != SL_ADMIN_PROTO_VERSION)
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "v: this controller speaks version %d",
				SL_ADMIN_PROTO_VERSION);
	if (token != NULL && !json_is_string(token))
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "token: not a string");
	if (!json_is_string(cmd))
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "cmd: %s",
				cmd ? "not a string" : "missing");
	decode_cmd(cmd, req);
	if (args != NULL && !json_is_object(args) && !json_is_null(args))
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "args: not an object");
	if (token != NULL && json_string_length(token) > 0 &&
	    json_string_length(token) < SL_CTL_TOKEN_MAX) {
		memcpy(req->token, json_string_value(token), json_string_length(token));
		req->has_token = true;
	}
	req->envelope_ok = true;
	return CTL_ADMIN_OK;
}

static void keep_args(const json_t *args, struct ctl_admin_req *req)
{
	char *text;

	if (!json_is_object(args))
		return;
	text = json_dumps(args, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text == NULL)
		return;
	snprintf(req->args, sizeof(req->args), "%s", text);
	free(text);
}

unsigned ctl_admin_decode(const char *line, size_t len, struct ctl_admin_req *req)
{
	json_error_t jerr;
	json_t *o, *args;

	memset(req, 0, sizeof(*req));
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= SL_ADMIN_LINE_MAX)
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "request longer than %u bytes",
				SL_ADMIN_LINE_MAX - 1);
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "not JSON: %.80s", jerr.text);
	if (!json_is_object(o)) {
		json_decref(o);
		return req_fail(req, CTL_ADMIN_BAD_REQUEST, "not a JSON object");
	}
	if (decode_envelope(o, req) == CTL_ADMIN_OK) {
		args = json_object_get(o, "args");
		args = json_is_object(args) ? args : NULL;
		keep_args(args, req);
		if (req->cmd == CTL_ADM_NONE)
			req_fail(req, CTL_ADMIN_UNKNOWN_COMMAND, "unknown command \"%s\"",
				 req->cmd_name);
		else
			decode_args(args, req);
	}
	json_decref(o);
	return req->code;
}

/* ---- tokens ---------------------------------------------------------------------------- */

/* Both buffers zero-padded to SL_CTL_TOKEN_MAX: equal bytes and equal lengths. */
static bool token_equal(const char *a, const char *b)
{
	return sodium_memcmp(a, b, SL_CTL_TOKEN_MAX) == 0;
}

unsigned ctl_admin_auth(const struct ctlconf *conf, const struct ctl_admin_req *req)
{
	bool admin, oper;

	if (!req->has_token)
		return CTL_AUTH_NONE;
	/* Both compared whatever the first says: the time tells nothing. */
	admin = token_equal(req->token, conf->admin_token);
	oper = token_equal(req->token, conf->operator_token);
	if (admin && conf->admin_token[0] != '\0')
		return CTL_AUTH_ADMIN;
	if (oper && conf->operator_token[0] != '\0')
		return CTL_AUTH_OPERATOR;
	return CTL_AUTH_NONE;
}

/* NULL when auth may run req, else why not. */
static const char *auth_refusal(const struct ctlconf *conf, const struct ctl_admin_req *req,
				unsigned auth)
{
	if (ctl_admin_cmd_privileged(req->cmd)) {
		if (conf->admin_token[0] == '\0')
			return "no admin token is configured: privileged commands are refused";
		return auth == CTL_AUTH_ADMIN ? NULL : "this command needs the admin token";
	}
	if (conf->admin_token[0] == '\0' && conf->operator_token[0] == '\0')
		return "no operator or admin token is configured";
	return auth != CTL_AUTH_NONE ? NULL : "an operator or admin token is required";
}

/* ---- results --------------------------------------------------------------------------- */

static json_int_t clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (json_int_t)v;
}

static json_t *policy_text(const struct sl_policy *p)
{
	char text[SL_POLICY_TEXT_MAX];

	return json_string(sl_policy_format(p, text, sizeof(text)) ? text : "invalid");
}

static bool in_list(const struct sl_policy *p, unsigned id)
{
	for (unsigned i = 0; i < p->n_nodes && i < SL_POLICY_NODES_MAX; i++)
		if (p->nodes[i] == id)
			return true;
	return false;
}

/* How the policy counts node v now, as the leader sees it (NULL: not heard). */
static const char *sync_name(const struct ctl_state *st, const struct ctl_node_view *v,
			     const struct ctl_node_view *lv, const struct sl_peer_status *peer)
{
	if (v->id == st->leader && st->leader != 0)
		return "leader";
	if (v->learner)
		return "learner";
	if (st->leader == 0)
		return "-";
	if (lv != NULL && lv->last.st.degraded)
		return "async";
	switch (st->policy.kind) {
	case SL_POLICY_ALL:
		return "sync";
	case SL_POLICY_FIRST:
		if (!in_list(&st->policy, v->id))
			return "async";
		return peer == NULL || peer->sync ? "sync" : "async";
	case SL_POLICY_ANY:
		return in_list(&st->policy, v->id) ? "quorum" : "async";
	default:
		return "async";
	}
}

const struct sl_peer_status *ctl_admin_peer_of(const struct ctl_node_view *lv, unsigned id)
{
	if (lv == NULL)
		return NULL;
	for (unsigned j = 0; j < lv->last.st.n_peers && j < SL_NODE_MAX; j++)
		if (lv->last.st.peers[j].node == id)
			return &lv->last.st.peers[j];
	return NULL;
}

/* The LSNs and what the node said of itself, once it reported. */
static int node_reported(json_t *o, const struct ctl_admin_ctx *x, const struct ctl_node_view *v)
{
	const struct sl_core_status *s = &v->last.st;
	uint64_t ago = x->now_ns > v->heard_ns ? x->now_ns - v->heard_ns : 0;

	return json_object_set_new(o, "role", json_string(sl_role_name(s->role))) ||
	       json_object_set_new(o, "epoch", json_integer(s->epoch)) ||
	       json_object_set_new(o, "last_lsn", json_integer(clamp(s->last_lsn))) ||
	       json_object_set_new(o, "flushed_lsn", json_integer(clamp(s->flushed_lsn))) ||
	       json_object_set_new(o, "applied_lsn", json_integer(clamp(s->applied_lsn))) ||
	       json_object_set_new(o, "commit_lsn", json_integer(clamp(s->commit_lsn))) ||
	       json_object_set_new(o, "snapshot_lsn", json_integer(clamp(v->last.snapshot_lsn))) ||
	       json_object_set_new(o, "wal_first_lsn",
				   json_integer(clamp(v->last.wal_first_lsn))) ||
	       json_object_set_new(o, "snapshots_sent",
				   json_integer(clamp(v->last.snapshots_sent))) ||
	       json_object_set_new(o, "snapshots_installed",
				   json_integer(clamp(v->last.snapshots_installed))) ||
	       json_object_set_new(o, "heard_ms_ago", json_integer(clamp(ago / 1000000u))) ||
	       json_object_set_new(o, "data_addr",
				   json_stringn_nocheck(v->last.data_addr,
							strnlen(v->last.data_addr,
								sizeof(v->last.data_addr)))) ||
	       json_object_set_new(o, "may_lead", json_boolean(v->last.may_lead)) ||
	       json_object_set_new(o, "paused", json_boolean(s->paused)) ||
	       json_object_set_new(o, "degraded", json_boolean(s->degraded));
}

static json_t *node_json(const struct ctl_admin_ctx *x, const struct ctl_state *st,
			 const struct ctl_node_view *v, const struct ctl_node_view *lv)
{
	const struct sl_peer_status *peer =
		v->id == st->leader ? NULL : ctl_admin_peer_of(lv, v->id);
	const char *state = v->heard ? "up" : v->heard_ns != 0 ? "lost" : "never";
	json_t *o = json_pack("{s:i,s:s,s:s,s:s}", "node", (int)v->id, "member",
			      v->learner ? "learner" : "member", "state", state, "sync",
			      sync_name(st, v, lv, peer));
	int bad = o == NULL;

	if (!bad && v->heard_ns != 0)
		bad = node_reported(o, x, v);
	else if (!bad)
		bad = json_object_set_new(o, "role", json_string("-"));
	if (!bad && v->id == st->leader && lv != NULL)
		bad = json_object_set_new(o, "lag_records", json_integer(0)) ||
		      json_object_set_new(o, "lag_bytes", json_integer(0)) ||
		      json_object_set_new(o, "lag_us", json_integer(0));
	else if (!bad && peer != NULL)
		bad = json_object_set_new(o, "lag_records",
					  json_integer(clamp(peer->lag_records))) ||
		      json_object_set_new(o, "lag_bytes", json_integer(clamp(peer->lag_bytes))) ||
		      json_object_set_new(o, "lag_us", json_integer(clamp(peer->lag_ns / 1000u)));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *counters_json(const struct ctl_admin_ctx *x)
{
	const struct ctl_counters *k = x->counters;
	json_t *req = json_object(), *o;

	for (unsigned i = 0; req != NULL && i < CTL_ADMIN__CODES; i++)
		json_object_set_new(req, code_names[i], json_integer(clamp(k->admin_requests[i])));
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o*}",
		      "agents_connected", clamp(k->agents_connected), "agent_conns",
		      clamp(k->agent_conns), "agent_conns_refused", clamp(k->agent_conns_refused),
		      "agent_lines_rejected", clamp(k->agent_lines_rejected), "agent_reports",
		      clamp(k->agent_reports), "agent_notes", clamp(k->agent_notes), "cmds_sent",
		      clamp(k->cmds_sent), "cmds_unsent", clamp(k->cmds_unsent), "cmds_dropped",
		      clamp(k->cmds_dropped), "state_saves", clamp(k->state_saves),
		      "admin_conns_refused", clamp(k->admin_conns_refused), "audit_write_errors",
		      clamp(k->audit_write_errors), "events_next_seq",
		      clamp(x->events ? x->events->next_seq : 0), "event_write_errors",
		      clamp(x->events ? x->events->write_errors : 0), "admin_requests", req);
	return o;
}

const struct ctl_node_view *ctl_admin_leader_view(const struct ctl *c)
{
	const struct ctl_state *st = ctl_state(c);
	const struct ctl_node_view *v;

	/* Its view of its peers once it reports as the leader of the epoch: a report made
	 * before (as a follower, just promoted) lists them without positions. */
	for (unsigned i = 0; st->leader != 0 && (v = ctl_node(c, i)) != NULL; i++)
		if (v->id == st->leader)
			return v->heard_ns != 0 && v->last.st.role == SL_ROLE_LEADER &&
					       v->last.st.epoch == st->epoch
				       ? v
				       : NULL;
	return NULL;
}

json_t *ctl_admin_status(const struct ctl_admin_ctx *x)
{
	const struct ctl_state *st = ctl_state(x->ctl);
	const struct ctl_node_view *lv = ctl_admin_leader_view(x->ctl), *v;
	json_t *nodes = json_array(), *o;
	int bad = nodes == NULL;

	for (unsigned i = 0; !bad && (v = ctl_node(x->ctl, i)) != NULL; i++)
		bad = json_array_append_new(nodes, node_json(x, st, v, lv));
	o = bad ? NULL
		: json_pack("{s:I,s:I,s:i,s:s,s:o,s:b,s:s,s:I,s:o,s:o*}", "cluster",
			    (json_int_t)st->cluster_id, "epoch", (json_int_t)st->epoch, "leader",
			    (int)st->leader, "phase", ctl_phase_name(st->phase), "policy",
			    policy_text(&st->policy), "degraded",
			    lv != NULL && lv->last.st.degraded, "controller_version",
			    SHIPLOG_VERSION, "state_version", clamp(st->version), "nodes", nodes,
			    "controller", counters_json(x));
	if (o != NULL && st->target != 0)
		json_object_set_new(o, "target", json_integer(st->target));
	if (o != NULL && memcmp(&st->policy, &st->prev_policy, sizeof(st->policy)) != 0)
		json_object_set_new(o, "prev_policy", policy_text(&st->prev_policy));
	if (o == NULL && bad)
		json_decref(nodes);
	return o;
}

static json_t *members_json(const struct ctl_admin_ctx *x)
{
	const struct ctl_state *st = ctl_state(x->ctl);
	json_t *m = json_array();

	for (unsigned i = 0; m != NULL && i < st->n_members; i++)
		json_array_append_new(m, json_pack("{s:i,s:b}", "node", (int)st->members[i].id,
						   "learner", (int)st->members[i].learner));
	return json_pack("{s:o*}", "members", m);
}

/* Events with seq >= since, at most limit; "next" is where the next call starts. */
static json_t *events_json(const struct ctl_admin_ctx *x, uint64_t since, uint32_t limit)
{
	const struct ctl_events *e = x->events;
	uint64_t next = e ? e->next_seq : 1;
	json_t *a = json_array();
	uint32_t n = 0;

	for (uint32_t i = 0; a != NULL && e != NULL && i < e->count && n < limit; i++) {
		const struct ctl_event_rec *r = ctl_events_at(e, i);

		if (r->seq < since)
			continue;
		json_array_append_new(a, ctl_event_json(r));
		next = r->seq + 1;
		n++;
	}
	return json_pack("{s:o*,s:I}", "events", a, "next", clamp(next));
}

/* ---- serving --------------------------------------------------------------------------- */

static unsigned code_of(int rc)
{
	switch (rc) {
	case 0:
		return CTL_ADMIN_OK;
	case -EBUSY:
		return CTL_ADMIN_BUSY;
	case -EINVAL:
	case -EAGAIN:
		return CTL_ADMIN_REFUSED;
	case -ENOENT:
		return CTL_ADMIN_NOT_FOUND;
	default:
		return CTL_ADMIN_INTERNAL;
	}
}

/*
 * SNAPSHOT's answer: "asked", the nodes sent the command, and "skipped", the members
 * "all" left out because they were not connected (none for one node), by id.
 */
static json_t *with_asked(json_t *o, const struct ctl_state *st, const struct ctl_admin *op,
			  uint64_t asked)
{
	json_t *a = json_array(), *skipped = json_array();
	uint64_t members = 0;
	int bad = 0;

	for (unsigned i = 0; i < st->n_members && i < SL_NODE_MAX; i++)
		members |= 1ull << (st->members[i].id - 1);
	for (unsigned id = 1; a && skipped && id <= SL_NODE_MAX; id++) {
		if (asked >> (id - 1) & 1)
			bad |= json_array_append_new(a, json_integer(id));
		else if (op->node == 0 && (members >> (id - 1) & 1))
			bad |= json_array_append_new(skipped, json_integer(id));
	}
	if (o == NULL || a == NULL || skipped == NULL) {
		json_decref(a);
		json_decref(skipped);
		bad = 1;
	} else { /* each takes its value, set or not */
		bad |= json_object_set_new(o, "asked", a);
		bad |= json_object_set_new(o, "skipped", skipped);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Runs an authorized, well-formed request: the result, or NULL with req->code set. */
static json_t *run(struct ctl_admin_ctx *x, struct ctl_admin_req *req)
{
	const struct ctl_state *st;
	char why[CTL_TEXT_MAX] = "";
	uint64_t asked = 0;
	json_t *o;
	int rc;

	switch (req->cmd) {
	case CTL_ADM_STATUS:
		return ctl_admin_status(x);
	case CTL_ADM_MEMBERS:
		return members_json(x);
	case CTL_ADM_EVENTS:
		return events_json(x, req->since, req->limit);
	default:
		break;
	}
	rc = x->apply ? x->apply(x->arg, &req->op, &asked, why, sizeof(why)) : -ENOSYS;
	if (rc != 0) {
		req_fail(req, code_of(rc), "%s", why[0] ? why : strerror(-rc));
		return NULL;
	}
	st = ctl_state(x->ctl);
	o = json_pack("{s:I,s:i,s:s,s:I}", "epoch", (json_int_t)st->epoch, "leader",
		      (int)st->leader, "phase", ctl_phase_name(st->phase), "state_version",
		      clamp(st->version));
	return req->cmd == CTL_ADM_SNAPSHOT ? with_asked(o, st, &req->op, asked) : o;
}

static void audit(struct ctl_admin_ctx *x, const struct ctl_admin_peer *peer,
		  const struct ctl_admin_req *req, unsigned auth)
{
	json_t *args = req->args[0] ? json_loads(req->args, 0, NULL) : json_object();
	json_t *who, *o;
	char iso[40];

	if (args == NULL) /* cut short: kept as text */
		args = json_string(req->args);
	if (peer->transport == CTL_ADMIN_UNIX)
		who = json_pack("{s:I,s:I}", "uid", (json_int_t)peer->uid, "pid",
				(json_int_t)peer->pid);
	else
		who = json_string(peer->addr);
	ctl_time_iso(x->wall_ns, iso, sizeof(iso));
	o = json_pack("{s:I,s:s,s:s,s:o*,s:s,s:s,s:o*,s:s,s:s}", "time_ns", clamp(x->wall_ns),
		      "time", iso, "transport", peer->transport == CTL_ADMIN_UNIX ? "unix" : "tcp",
		      "peer", who, "token", ctl_auth_name(auth), "cmd", req->cmd_name, "args", args,
		      "outcome", ctl_admin_code_name(req->code), "error", req->error);
	if (o == NULL || x->audit_fd < 0 || ctl_jsonl_append(x->audit_fd, o, true) != 0) {
		x->counters->audit_write_errors++;
		fprintf(stderr, "shiplog-controller: audit.jsonl: cannot record %s (%s)\n",
			req->cmd_name, ctl_admin_code_name(req->code));
	}
	json_decref(o);
}

static size_t answer(char *ans, size_t cap, json_t *result, const struct ctl_admin_req *req)
{
	json_t *o = result ? json_pack("{s:i,s:b,s:o}", "v", SL_ADMIN_PROTO_VERSION, "ok", 1,
				       "result", result)
			   : json_pack("{s:i,s:b,s:s,s:s}", "v", SL_ADMIN_PROTO_VERSION, "ok", 0,
				       "code", ctl_admin_code_name(req->code), "error", req->error);
	size_t n = o ? json_dumpb(o, ans, cap > 0 ? cap - 1 : 0, JSON_COMPACT) : 0;

	json_decref(o);
	if (o == NULL || n == 0 || n >= cap) {
		n = (size_t)snprintf(ans, cap,
				     "{\"v\":%d,\"ok\":false,\"code\":\"internal\",\"error\":"
				     "\"the answer does not fit\"}",
				     SL_ADMIN_PROTO_VERSION);
		if (n + 1 >= cap)
			return 0;
	}
	ans[n++] = '\n';
	return n;
}

size_t ctl_admin_serve(struct ctl_admin_ctx *x, const struct ctl_admin_peer *peer, const char *line,
		       size_t len, char *ans, size_t cap)
{
	struct ctl_admin_req *req = malloc(sizeof(*req));
	unsigned auth = CTL_AUTH_NONE;
	json_t *result = NULL;
	const char *refusal;
	size_t n;

	if (req == NULL)
		return answer(ans, cap, NULL,
			      &(struct ctl_admin_req){ .code = CTL_ADMIN_INTERNAL,
						       .error = "out of memory" });
	ctl_admin_decode(line, len, req);
	if (req->envelope_ok) {
		auth = ctl_admin_auth(x->conf, req);
		refusal = auth_refusal(x->conf, req, auth);
		if (refusal != NULL)
			req_fail(req, CTL_ADMIN_UNAUTHORIZED, "%s", refusal);
		else if (req->code == CTL_ADMIN_OK && (result = run(x, req)) == NULL &&
			 req->code == CTL_ADMIN_OK)
			req_fail(req, CTL_ADMIN_INTERNAL, "out of memory");
	}
	if (ctl_admin_cmd_privileged(req->cmd))
		audit(x, peer, req, auth);
	x->counters
		->admin_requests[req->code < CTL_ADMIN__CODES ? req->code : CTL_ADMIN_INTERNAL]++;
	n = answer(ans, cap, result, req);
	explicit_bzero(req->token, sizeof(req->token));
	free(req);
	return n;
}
