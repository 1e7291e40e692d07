/*
 * The agent protocol's codec (include/shiplog/control.h): one JSON object per line
 * between shiplogd's agent and shiplog-controller, built and read with jansson.
 *
 * The encoder checks what the decoder checks (node ids, role and command names, a
 * valid policy, string lengths), so every line it writes decodes back to the same
 * message. Two things JSON numbers cannot carry through jansson (json_int_t is signed
 * 64-bit): a u64 above INT64_MAX is not encodable (-EINVAL; no LSN, counter or
 * duration gets there), except st.leader_age_ns, whose "none heard" (UINT64_MAX, or
 * any age past INT64_MAX) travels as null.
 *
 * Hello carries the cluster as "cluster", as control.h shows it ("cluster_id" is read
 * too); every other field is named after its C struct member. Fields added after
 * version 1 (the report's snapshot fields) are always written, and read as 0 when an
 * older agent leaves them out.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <shiplog/control.h>

#define CTLMSG_DIM(a)	    (sizeof(a) / sizeof((a)[0]))
#define CTLMSG_U64_WIRE_MAX ((uint64_t)INT64_MAX) /* jansson's json_int_t */
#define CTLMSG_PATH_MAX	    64			  /* "st.peers[63].received_lsn" */

static const char *const type_names[] = {
	[SL_CTL_MSG_HELLO] = "hello", [SL_CTL_MSG_REPORT] = "report", [SL_CTL_MSG_NOTE] = "note",
	[SL_CTL_MSG_CMD] = "cmd",     [SL_CTL_MSG_BYE] = "bye",
};

/* ---- field tables ------------------------------------------------------------------ */

enum field_kind {
	F_BOOL, /* JSON true/false */
	F_U8,	/* JSON integers in [min, max] */
	F_U16,
	F_U32,
	F_U64,
	F_AGE, /* u64, or null for "none" (UINT64_MAX) */
};

struct field {
	const char *name;
	size_t off;
	uint8_t kind;
	uint64_t min, max;
	bool optional; /* added after version 1: an older sender leaves it out (0) */
};

#define F_B(s, f)                                       \
	{                                               \
#f, offsetof(s, f), F_BOOL, 0, 1, false \
	}
#define F_N(s, f, k, lo, hi)                         \
	{                                            \
#f, offsetof(s, f), k, lo, hi, false \
	}
#define F_N64(s, f)                                                      \
	{                                                                \
#f, offsetof(s, f), F_U64, 0, CTLMSG_U64_WIRE_MAX, false \
	}
#define F_OPT64(s, f)                                                   \
	{                                                               \
#f, offsetof(s, f), F_U64, 0, CTLMSG_U64_WIRE_MAX, true \
	}

static const struct field report_fields[] = {
	F_N(struct sl_node_report, node, F_U16, 1, SL_NODE_MAX),
	F_N(struct sl_node_report, cluster_id, F_U32, 0, UINT32_MAX),
	F_N64(struct sl_node_report, seq),
	F_B(struct sl_node_report, may_lead),
	F_N64(struct sl_node_report, refetch_lsn),
	F_N64(struct sl_node_report, stale_epoch),
	F_N64(struct sl_node_report, truncated_records),
	F_N64(struct sl_node_report, retransmits),
	F_N64(struct sl_node_report, client_busy),
	F_OPT64(struct sl_node_report, snapshot_lsn),
	F_OPT64(struct sl_node_report, wal_first_lsn),
	F_OPT64(struct sl_node_report, snapshots_sent),
	F_OPT64(struct sl_node_report, snapshots_installed),
};

static const struct field status_fields[] = {
	F_N(struct sl_core_status, epoch, F_U32, 0, UINT32_MAX),
	F_N(struct sl_core_status, leader, F_U16, 0, SL_NODE_MAX),
	F_N64(struct sl_core_status, last_lsn),
	F_N(struct sl_core_status, last_epoch, F_U32, 0, UINT32_MAX),
	F_N64(struct sl_core_status, flushed_lsn),
	F_N64(struct sl_core_status, applied_lsn),
	F_N64(struct sl_core_status, commit_lsn),
	F_B(struct sl_core_status, degraded),
	F_B(struct sl_core_status, paused),
	F_B(struct sl_core_status, lease_expired),
	F_N(struct sl_core_status, leader_age_ns, F_AGE, 0, CTLMSG_U64_WIRE_MAX),
};

static const struct field peer_fields[] = {
	F_N(struct sl_peer_status, node, F_U16, 1, SL_NODE_MAX),
	F_B(struct sl_peer_status, learner),
	F_B(struct sl_peer_status, healthy),
	F_B(struct sl_peer_status, sync),
	F_N64(struct sl_peer_status, received_lsn),
	F_N64(struct sl_peer_status, flushed_lsn),
	F_N64(struct sl_peer_status, applied_lsn),
	F_N64(struct sl_peer_status, lag_records),
	F_N64(struct sl_peer_status, lag_bytes),
	F_N64(struct sl_peer_status, lag_ns),
	F_N64(struct sl_peer_status, rto_ns),
};

static const struct field note_fields[] = {
	F_N(struct sl_node_note, node, F_U16, 1, SL_NODE_MAX),
	F_N(struct sl_node_note, what, F_U32, 0, UINT32_MAX),
	F_N64(struct sl_node_note, a),
	F_N64(struct sl_node_note, b),
};

static const struct field hello_fields[] = {
	{ "node", offsetof(struct sl_ctl_msg, u.hello.node), F_U16, 1, SL_NODE_MAX, false },
	{ "cluster", offsetof(struct sl_ctl_msg, u.hello.cluster_id), F_U32, 0, UINT32_MAX, false },
};

/* "cmd" (the name) and "policy" are read apart; node is 1..SL_NODE_MAX where it names one. */
static const struct field cmd_fields[] = {
	F_N(struct sl_control, epoch, F_U32, 0, UINT32_MAX),
	F_N(struct sl_control, node, F_U16, 0, SL_NODE_MAX),
	F_N(struct sl_control, learner, F_U8, 0, 1),
	F_N(struct sl_control, pause, F_U8, 0, 1),
};

static uint64_t field_load(const void *base, const struct field *f)
{
	const void *p = (const uint8_t *)base + f->off;

	switch (f->kind) {
	case F_BOOL:
		return *(const bool *)p;
	case F_U8:
		return *(const uint8_t *)p;
	case F_U16:
		return *(const uint16_t *)p;
	case F_U32:
		return *(const uint32_t *)p;
	}
	return *(const uint64_t *)p;
}

static void field_store(void *base, const struct field *f, uint64_t v)
{
	void *p = (uint8_t *)base + f->off;

	switch (f->kind) {
	case F_BOOL:
		*(bool *)p = v != 0;
		break;
	case F_U8:
		*(uint8_t *)p = (uint8_t)v;
		break;
	case F_U16:
		*(uint16_t *)p = (uint16_t)v;
		break;
	case F_U32:
		*(uint32_t *)p = (uint32_t)v;
		break;
	default:
		*(uint64_t *)p = v;
		break;
	}
}

/* ---- encoding ---------------------------------------------------------------------- */

/* Takes v's reference whatever happens; NULL (allocation or UTF-8 refused) is -EINVAL. */
static int put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -EINVAL;
}

/* A C string of at most cap - 1 bytes, valid UTF-8. */
static int put_str(json_t *o, const char *key, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	return n < cap ? put(o, key, json_stringn(s, n)) : -EINVAL;
}

static int put_fields(json_t *o, const void *base, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = field_load(base, &f[i]);
		json_t *j;

		if (f[i].kind == F_AGE && v > f[i].max)
			j = json_null(); /* UINT64_MAX: none heard */
		else if (f[i].kind == F_BOOL)
			j = json_boolean(v);
		else if (v < f[i].min || v > f[i].max)
			return -EINVAL;
		else
			j = json_integer((json_int_t)v);
		if (put(o, f[i].name, j) != 0)
			return -EINVAL;
	}
	return 0;
}

static int put_policy(json_t *o, const struct sl_policy *p)
{
	char text[SL_POLICY_TEXT_MAX];
	size_t n = sl_policy_format(p, text, sizeof(text));

	return n ? put(o, "policy", json_stringn(text, n)) : -EINVAL;
}

static int enc_peers(json_t *st, const struct sl_core_status *s)
{
	json_t *arr = json_array();

	if (put(st, "peers", arr) != 0 || s->n_peers > SL_NODE_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < s->n_peers; i++) {
		json_t *p = json_object();

		if (!p || json_array_append_new(arr, p) != 0)
			return -EINVAL;
		if (put_fields(p, &s->peers[i], peer_fields, CTLMSG_DIM(peer_fields)) != 0)
			return -EINVAL;
	}
	return 0;
}

static int enc_report(json_t *o, const struct sl_node_report *r)
{
	const struct sl_core_status *s = &r->st;
	json_t *st = json_object();

	if (put_fields(o, r, report_fields, CTLMSG_DIM(report_fields)) != 0 ||
	    put_str(o, "data_addr", r->data_addr, sizeof(r->data_addr)) != 0 ||
	    put(o, "st", st) != 0 || s->role > SL_ROLE_LEADER ||
	    put(st, "role", json_string(sl_role_name(s->role))) != 0 ||
	    put_fields(st, s, status_fields, CTLMSG_DIM(status_fields)) != 0 ||
	    put_policy(st, &s->policy) != 0)
		return -EINVAL;
	return enc_peers(st, s);
}

/* Commands that name a node (node 0 is refused for them). */
static bool cmd_names_node(unsigned cmd)
{
	return cmd == SL_CTL_FOLLOW || cmd == SL_CTL_SET_LEARNER || cmd == SL_CTL_ADD_PEER ||
	       cmd == SL_CTL_REMOVE_PEER;
}

static int enc_cmd(json_t *o, const struct sl_control *c)
{
	if (c->cmd == 0 || c->cmd >= SL_CTL__MAX)
		return -EINVAL;
	if (cmd_names_node(c->cmd) && c->node == 0)
		return -EINVAL;
	if (c->cmd == SL_CTL_ADD_PEER &&
	    (c->addr[0] == '\0' || put_str(o, "addr", c->addr, sizeof(c->addr)) != 0))
		return -EINVAL;
	if (put(o, "cmd", json_string(sl_control_cmd_name(c->cmd))) != 0 ||
	    put_fields(o, c, cmd_fields, CTLMSG_DIM(cmd_fields)) != 0)
		return -EINVAL;
	return put_policy(o, &c->policy);
}

static int enc_body(json_t *o, const struct sl_ctl_msg *m)
{
	switch (m->type) {
	case SL_CTL_MSG_HELLO:
		if (put_fields(o, m, hello_fields, CTLMSG_DIM(hello_fields)) != 0)
			return -EINVAL;
		return put_str(o, "token", m->u.hello.token, sizeof(m->u.hello.token));
	case SL_CTL_MSG_REPORT:
		return enc_report(o, &m->u.report);
	case SL_CTL_MSG_NOTE:
		return put_fields(o, &m->u.note, note_fields, CTLMSG_DIM(note_fields));
	case SL_CTL_MSG_CMD:
		return enc_cmd(o, &m->u.cmd);
	case SL_CTL_MSG_BYE:
		return put_str(o, "reason", m->u.bye.reason, sizeof(m->u.bye.reason));
	}
	return -EINVAL;
}

/* The object as one line: text, newline and a NUL for the caller. */
static int enc_line(const json_t *o, char *buf, size_t cap)
{
	/* JSON_COMPACT escapes control characters: no newline inside the line. */
	size_t n = json_dumpb(o, buf, cap, JSON_COMPACT);

	if (n == 0)
		return -EINVAL;
	if (n + 2 > cap || n + 1 > SL_CTL_LINE_MAX)
		return -ENOSPC;
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return (int)(n + 1);
}

int sl_ctl_encode(const struct sl_ctl_msg *m, char *buf, size_t cap)
{
	json_t *o;
	int rc;

	if (!m || (!buf && cap) || m->type < SL_CTL_MSG_HELLO || m->type > SL_CTL_MSG_BYE)
		return -EINVAL;
	o = json_object();
	if (!o)
		return -ENOMEM;
	rc = put(o, "v", json_integer(SL_CTL_PROTO_VERSION));
	if (rc == 0)
		rc = put(o, "type", json_string(type_names[m->type]));
	if (rc == 0)
		rc = enc_body(o, m);
	if (rc == 0)
		rc = enc_line(o, buf, cap);
	json_decref(o);
	return rc;
}

/* ---- decoding ---------------------------------------------------------------------- */

struct dec {
	char *err;
	size_t err_len;
	const char *what; /* "line", then the message type */
};

/* Writes "<what>: <sentence>." into err, one line of printable ASCII. Returns -EINVAL. */
__attribute__((format(printf, 2, 3))) static int dec_fail(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!d->err || d->err_len == 0)
		return -EINVAL;
	n = (size_t)snprintf(d->err, d->err_len, "%s: ", d->what);
	if (n < d->err_len) {
		va_start(ap, fmt);
		vsnprintf(d->err + n, d->err_len - n, fmt, ap);
		va_end(ap);
	}
	for (char *p = d->err; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?'; /* jansson quotes input bytes in its errors */
	return -EINVAL;
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

static json_t *need(struct dec *d, const json_t *o, const char *path, const char *key, int *rc)
{
	json_t *j = json_object_get(o, key);

	if (!j)
		*rc = dec_fail(d, "the field %s%s is missing", path, key);
	return j;
}

static int get_field(struct dec *d, const json_t *o, const char *path, const struct field *f,
		     void *base)
{
	int rc = 0;
	json_t *j;
	json_int_t v;

	if (f->optional && !json_object_get(o, f->name))
		return 0; /* the message was zeroed before decoding */
	j = need(d, o, path, f->name, &rc);
	if (!j)
		return rc;
	if (f->kind == F_BOOL) {
		if (!json_is_boolean(j))
			return dec_fail(d, "%s%s must be true or false, not %s", path, f->name,
					json_kind(j));
		field_store(base, f, json_is_true(j));
		return 0;
	}
	if (f->kind == F_AGE && json_is_null(j)) {
		field_store(base, f, UINT64_MAX);
		return 0;
	}
	if (!json_is_integer(j))
		return dec_fail(d, "%s%s must be an integer%s, not %s", path, f->name,
				f->kind == F_AGE ? " or null" : "", json_kind(j));
	v = json_integer_value(j);
	if (v < 0 || (uint64_t)v < f->min || (uint64_t)v > f->max)
		return dec_fail(d, "%s%s must be from %" PRIu64 " to %" PRIu64 ", not %lld", path,
				f->name, f->min, f->max, (long long)v);
	field_store(base, f, (uint64_t)v);
	return 0;
}

static int get_fields(struct dec *d, const json_t *o, const char *path, const struct field *f,
		      size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		int rc = get_field(d, o, path, &f[i], base);

		if (rc != 0)
			return rc;
	}
	return 0;
}

/* A string field that must fit dst (cap bytes with its NUL). */
static int get_str(struct dec *d, const json_t *o, const char *path, const char *key, char *dst,
		   size_t cap)
{
	int rc = 0;
	json_t *j = need(d, o, path, key, &rc);
	size_t n;

	if (!j)
		return rc;
	if (!json_is_string(j))
		return dec_fail(d, "%s%s must be a string, not %s", path, key, json_kind(j));
	n = json_string_length(j);
	if (n >= cap)
		return dec_fail(d, "%s%s is %zu bytes long, at most %zu", path, key, n, cap - 1);
	memcpy(dst, json_string_value(j), n);
	dst[n] = '\0';
	return 0;
}

static int get_policy(struct dec *d, const json_t *o, const char *path, struct sl_policy *p)
{
	char why[128];
	int rc = 0;
	json_t *j = need(d, o, path, "policy", &rc);

	if (!j)
		return rc;
	if (!json_is_string(j))
		return dec_fail(d, "%spolicy must be a string, not %s", path, json_kind(j));
	if (sl_policy_parse(json_string_value(j), json_string_length(j), p, why, sizeof(why)))
		return dec_fail(d, "%spolicy is not a commit policy: %s", path, why);
	return 0;
}

static int get_peers(struct dec *d, const json_t *st, struct sl_core_status *s)
{
	int rc = 0;
	json_t *arr = need(d, st, "st.", "peers", &rc);
	size_t i;
	json_t *p;

	if (!arr)
		return rc;
	if (!json_is_array(arr))
		return dec_fail(d, "st.peers must be an array, not %s", json_kind(arr));
	if (json_array_size(arr) > SL_NODE_MAX)
		return dec_fail(d, "st.peers has %zu entries, at most %u", json_array_size(arr),
				SL_NODE_MAX);
	json_array_foreach(arr, i, p)
	{
		char path[CTLMSG_PATH_MAX];

		snprintf(path, sizeof(path), "st.peers[%zu].", i);
		if (!json_is_object(p))
			return dec_fail(d, "st.peers[%zu] must be an object, not %s", i,
					json_kind(p));
		rc = get_fields(d, p, path, peer_fields, CTLMSG_DIM(peer_fields), &s->peers[i]);
		if (rc != 0)
			return rc;
	}
	s->n_peers = (uint8_t)i;
	return 0;
}

static int get_role(struct dec *d, const json_t *st, uint8_t *role)
{
	int rc = 0, r;
	json_t *j = need(d, st, "st.", "role", &rc);

	if (!j)
		return rc;
	if (!json_is_string(j))
		return dec_fail(d, "st.role must be a string, not %s", json_kind(j));
	r = strlen(json_string_value(j)) == json_string_length(j)
		    ? sl_role_parse(json_string_value(j))
		    : -1;
	if (r < 0)
		return dec_fail(d, "st.role must be fenced, follower, learner or leader");
	*role = (uint8_t)r;
	return 0;
}

static int dec_report(struct dec *d, const json_t *o, struct sl_node_report *r)
{
	int rc = get_fields(d, o, "", report_fields, CTLMSG_DIM(report_fields), r);
	json_t *st;

	if (rc == 0)
		rc = get_str(d, o, "", "data_addr", r->data_addr, sizeof(r->data_addr));
	if (rc != 0)
		return rc;
	st = need(d, o, "", "st", &rc);
	if (!st)
		return rc;
	if (!json_is_object(st))
		return dec_fail(d, "st must be an object, not %s", json_kind(st));
	rc = get_role(d, st, &r->st.role);
	if (rc == 0)
		rc = get_fields(d, st, "st.", status_fields, CTLMSG_DIM(status_fields), &r->st);
	if (rc == 0)
		rc = get_policy(d, st, "st.", &r->st.policy);
	return rc ? rc : get_peers(d, st, &r->st);
}

static int dec_cmd(struct dec *d, const json_t *o, struct sl_control *c)
{
	int rc = 0, cmd;
	json_t *j = need(d, o, "", "cmd", &rc);

	if (!j)
		return rc;
	if (!json_is_string(j))
		return dec_fail(d, "cmd must be a string, not %s", json_kind(j));
	cmd = strlen(json_string_value(j)) == json_string_length(j)
		      ? sl_control_cmd_parse(json_string_value(j))
		      : -1;
	if (cmd < 0)
		return dec_fail(d, "cmd must be promote, follow, fence, set_policy, set_learner, "
				   "pause, renew, add_peer, remove_peer or snapshot");
	c->cmd = (uint8_t)cmd;
	rc = get_fields(d, o, "", cmd_fields, CTLMSG_DIM(cmd_fields), c);
	if (rc != 0)
		return rc;
	if (cmd_names_node(c->cmd) && c->node == 0)
		return dec_fail(d, "%s needs a node from 1 to %u", sl_control_cmd_name(c->cmd),
				SL_NODE_MAX);
	if (cmd == SL_CTL_ADD_PEER) {
		rc = get_str(d, o, "", "addr", c->addr, sizeof(c->addr));
		if (rc != 0)
			return rc;
		if (c->addr[0] == '\0')
			return dec_fail(d, "add_peer needs the node's addr");
	}
	/* Only set_policy needs the policy; the others carry it when they have one. */
	if (cmd != SL_CTL_SET_POLICY && !json_object_get(o, "policy"))
		return 0;
	return get_policy(d, o, "", &c->policy);
}

static int dec_hello(struct dec *d, const json_t *o, struct sl_ctl_msg *m)
{
	const struct field *cluster = &hello_fields[1];
	const struct field alias = { "cluster_id", cluster->off, cluster->kind, 0,
				     cluster->max, false };
	int rc = get_field(d, o, "", &hello_fields[0], m);

	/* control.h shows "cluster"; the struct member's name is read as well. */
	if (!json_object_get(o, "cluster") && json_object_get(o, "cluster_id"))
		cluster = &alias;
	if (rc == 0)
		rc = get_field(d, o, "", cluster, m);
	if (rc == 0)
		rc = get_str(d, o, "", "token", m->u.hello.token, sizeof(m->u.hello.token));
	return rc;
}

/* "v" and "type": sets m->type and d->what. */
static int dec_header(struct dec *d, const json_t *o, struct sl_ctl_msg *m)
{
	const json_t *v = json_object_get(o, "v"), *t = json_object_get(o, "type");

	if (!v)
		return dec_fail(d, "the protocol version \"v\" is missing");
	if (!json_is_integer(v))
		return dec_fail(d, "the protocol version \"v\" must be an integer, not %s",
				json_kind(v));
	if (json_integer_value(v) != SL_CTL_PROTO_VERSION)
		return dec_fail(d, "protocol version %lld is not %d, the one spoken here",
				(long long)json_integer_value(v), SL_CTL_PROTO_VERSION);
	if (!t)
		return dec_fail(d, "the message \"type\" is missing");
	if (!json_is_string(t))
		return dec_fail(d, "type must be a string, not %s", json_kind(t));
	for (unsigned i = SL_CTL_MSG_HELLO; i < CTLMSG_DIM(type_names); i++) {
		if (strlen(json_string_value(t)) == json_string_length(t) &&
		    strcmp(json_string_value(t), type_names[i]) == 0) {
			m->type = (uint8_t)i;
			d->what = type_names[i];
			return 0;
		}
	}
	return dec_fail(d, "type must be hello, report, note, cmd or bye");
}

static int dec_object(struct dec *d, const json_t *o, struct sl_ctl_msg *m)
{
	int rc = dec_header(d, o, m);

	if (rc != 0)
		return rc;
	switch (m->type) {
	case SL_CTL_MSG_HELLO:
		return dec_hello(d, o, m);
	case SL_CTL_MSG_REPORT:
		return dec_report(d, o, &m->u.report);
	case SL_CTL_MSG_NOTE:
		return get_fields(d, o, "", note_fields, CTLMSG_DIM(note_fields), &m->u.note);
	case SL_CTL_MSG_CMD:
		return dec_cmd(d, o, &m->u.cmd);
	}
	return get_str(d, o, "", "reason", m->u.bye.reason, sizeof(m->u.bye.reason));
}

int sl_ctl_decode(const char *line, size_t len, struct sl_ctl_msg *out, char *err, size_t err_len)
{
	struct dec d = { err, err_len, "line" };
	struct sl_ctl_msg m;
	json_error_t je;
	json_t *root;
	int rc;

	if (err && err_len)
		err[0] = '\0';
	if (!out || (!line && len))
		return dec_fail(&d, "nothing to decode into, or no bytes");
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len + 1 > SL_CTL_LINE_MAX)
		return dec_fail(&d, "%zu bytes is longer than the %u a line may have", len + 1,
				SL_CTL_LINE_MAX);
	if (memchr(line, '\n', len))
		return dec_fail(&d, "a newline inside: one object per line");
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root)
		return dec_fail(&d, "not JSON at column %d: %s", je.column, je.text);
	memset(&m, 0, sizeof(m));
	if (!json_is_object(root))
		rc = dec_fail(&d, "must be a JSON object, not %s", json_kind(root));
	else
		rc = dec_object(&d, root, &m);
	json_decref(root);
	if (rc == 0)
		*out = m;
	return rc;
}
