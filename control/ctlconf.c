/*
 * shiplog-controller's configuration (ctlconf.h). Same habits as shiplogd's
 * (dataplane/config.c): a checked reader hands inih one line at a time (too long, NUL
 * byte, unknown section and malformed lines are precise errors inih never sees), the
 * first error stops parsing, and the result replaces the caller's configuration only
 * when the whole text was good. keys[] below is the reference for the key names.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conftext.h"
#include "ctlconf.h"

#define CONF_DIM(a)	  (sizeof(a) / sizeof((a)[0]))
#define CONF_SECTION	  "controller"
#define CONF_DEFAULT_PORT "7410"
_Static_assert(SL_NODE_MAX == 64, "node id sets are one uint64_t");
_Static_assert(CTLCONF_ERR_MAX == CONFTEXT_WHY_MAX, "a why buffer is conftext's");

struct conf_key {
	const char *name;
	/* Parses v (trimmed, printable, at most CTLCONF_VALUE_MAX bytes) or says why not. */
	int (*set)(struct ctlconf *c, const char *v, char *why);
};

/* ---- value parsers ------------------------------------------------------------------ */

/* Decimal, no sign, no blank, lo..hi. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, char *why)
{
	return conftext_parse_u64(s, lo, hi, out, "", why);
}

/* "1, 2,3": distinct ids 1..SL_NODE_MAX; "" is the empty set. */
static int parse_ids(const char *v, uint64_t *out, char *why)
{
	char buf[CTLCONF_VALUE_MAX + 1], *save = NULL;
	uint64_t ids = 0, id;

	snprintf(buf, sizeof(buf), "%s", v);
	if (buf[0] != '\0' && (buf[0] == ',' || buf[strlen(buf) - 1] == ','))
		return conftext_why(why, "empty entry in the list");
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t n;

		while (isspace((unsigned char)*t))
			t++;
		n = strlen(t);
		while (n > 0 && isspace((unsigned char)t[n - 1]))
			t[--n] = '\0';
		if (n == 0)
			return conftext_why(why, "empty entry in the list");
		if (parse_u64(t, 1, SL_NODE_MAX, &id, why) != 0)
			return conftext_why(why, "a node id is a number 1..%u", SL_NODE_MAX);
		if (ids & (1ull << (id - 1)))
			return conftext_why(why, "node %llu listed twice", (unsigned long long)id);
		ids |= 1ull << (id - 1);
	}
	if (strstr(v, ",,") != NULL)
		return conftext_why(why, "empty entry in the list");
	*out = ids;
	return 0;
}

/* "a.b.c.d:port" or "[v6]:port", numeric only; port 0 asks the kernel for one. */
static int parse_addr(const char *v, struct ctlconf_addr *a, char *why)
{
	char host[CTLCONF_ADDR_TEXT_MAX];
	const char *colon, *h = v;
	size_t hlen;
	uint64_t port;

	memset(a, 0, sizeof(*a));
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');

		if (rb == NULL || rb[1] != ':')
			return conftext_why(why, "expected [IPv6]:port");
		h = v + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL)
			return conftext_why(why, "expected host:port");
		hlen = (size_t)(colon - v);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return conftext_why(why, "expected host:port with a numeric address");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (parse_u64(colon + 1, 0, UINT16_MAX, &port, why) != 0)
		return conftext_why(why, "port: a number 0..65535");
	if (v[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return conftext_why(why, "not an IPv6 address");
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return conftext_why(why, "not an IPv4 address (a.b.c.d:port or [v6]:port)");
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*s4);
	}
	snprintf(a->text, sizeof(a->text), "%s", v);
	a->set = true;
	return 0;
}

/* Reads a token file: one token, maybe a newline; never quotes it. */
static int read_token(const char *path, char token[SL_CTL_TOKEN_MAX], char *why)
{
	char buf[CTLCONF_TOKEN_FILE_MAX + 1];
	size_t n = 0;
	int rc = conftext_read_small(path, buf, CTLCONF_TOKEN_FILE_MAX, &n, why);

	if (rc == 0 && n > 0 && buf[n - 1] == '\n')
		n -= 1 + (n > 1 && buf[n - 2] == '\r');
	if (rc == 0 && (n == 0 || n >= SL_CTL_TOKEN_MAX))
		rc = conftext_why(why, "a token has 1..%u bytes", SL_CTL_TOKEN_MAX - 1);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (buf[i] <= ' ' || buf[i] > '~')
			rc = conftext_why(why,
					  "one token per file: printable, no blank, no newline");
	if (rc == 0) {
		memset(token, 0, SL_CTL_TOKEN_MAX);
		memcpy(token, buf, n);
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* ---- setters -------------------------------------------------------------------------- */

static int set_cluster_id(struct ctlconf *c, const char *v, char *why)
{
	uint64_t x;

	if (parse_u64(v, 1, UINT32_MAX, &x, why) != 0)
		return -EINVAL;
	c->cluster_id = (uint32_t)x;
	return 0;
}

static int set_members(struct ctlconf *c, const char *v, char *why)
{
	uint64_t ids;

	if (parse_ids(v, &ids, why) != 0)
		return -EINVAL;
	if (ids == 0)
		return conftext_why(why, "at least one member");
	c->members = ids;
	return 0;
}

static int set_learners(struct ctlconf *c, const char *v, char *why)
{
	return parse_ids(v, &c->learners, why);
}

static int set_spares(struct ctlconf *c, const char *v, char *why)
{
	return parse_ids(v, &c->spares, why);
}

static int set_preferred(struct ctlconf *c, const char *v, char *why)
{
	uint64_t x;

	if (parse_u64(v, 1, SL_NODE_MAX, &x, why) != 0)
		return -EINVAL;
	c->preferred_leader = (uint16_t)x;
	return 0;
}

static int set_policy(struct ctlconf *c, const char *v, char *why)
{
	char perr[CTLCONF_ERR_MAX];
	struct sl_policy p;

	if (sl_policy_parse(v, strlen(v), &p, perr, sizeof(perr)) != 0)
		return conftext_why(why, "%s", perr);
	memcpy(&c->policy, &p, sizeof(p));
	return 0;
}

static int set_failure_timeout(struct ctlconf *c, const char *v, char *why)
{
	uint64_t x;

	if (parse_u64(v, 10, 600000, &x, why) != 0)
		return -EINVAL;
	c->failure_timeout_ms = (uint32_t)x;
	return 0;
}

static int set_switchover_timeout(struct ctlconf *c, const char *v, char *why)
{
	uint64_t x;

	if (parse_u64(v, 10, 3600000, &x, why) != 0)
		return -EINVAL;
	c->switchover_timeout_ms = (uint32_t)x;
	return 0;
}

static int set_max_lag(struct ctlconf *c, const char *v, char *why)
{
	return parse_u64(v, 0, INT64_MAX, &c->max_lag_on_failover, why);
}

static int set_catchup(struct ctlconf *c, const char *v, char *why)
{
	return parse_u64(v, 0, INT64_MAX, &c->learner_catchup_records, why);
}

static int set_path(char *dst, size_t cap, const char *v, bool may_be_empty, char *why)
{
	size_t n = strlen(v);

	if (n == 0 && !may_be_empty)
		return conftext_why(why, "empty value");
	if (n > 0 && v[0] != '/')
		return conftext_why(why, "not an absolute path");
	if (n >= cap)
		return conftext_why(why, "longer than %zu bytes", cap - 1);
	memset(dst, 0, cap);
	memcpy(dst, v, n);
	return 0;
}

static int set_state_dir(struct ctlconf *c, const char *v, char *why)
{
	/* Room for "/events.jsonl" and the other file names after it. */
	return set_path(c->state_dir, sizeof(c->state_dir), v, false, why);
}

static int set_admin_socket(struct ctlconf *c, const char *v, char *why)
{
	if (strlen(v) > CTLCONF_SUN_PATH_MAX)
		return conftext_why(why, "longer than %u bytes (a Unix socket path)",
				    CTLCONF_SUN_PATH_MAX);
	if (set_path(c->admin_socket, sizeof(c->admin_socket), v, true, why) != 0)
		return -EINVAL;
	c->admin_socket_set = true;
	return 0;
}

static int set_agent_listen(struct ctlconf *c, const char *v, char *why)
{
	return parse_addr(v, &c->agent_listen, why);
}

/* An optional listener: "" is none. */
static int set_optional_addr(struct ctlconf_addr *a, const char *v, char *why)
{
	if (v[0] == '\0') {
		memset(a, 0, sizeof(*a));
		return 0;
	}
	return parse_addr(v, a, why);
}

static int set_admin_listen(struct ctlconf *c, const char *v, char *why)
{
	return set_optional_addr(&c->admin_listen, v, why);
}

static int set_metrics_listen(struct ctlconf *c, const char *v, char *why)
{
	return set_optional_addr(&c->metrics_listen, v, why);
}

static int set_admin_token(struct ctlconf *c, const char *v, char *why)
{
	return read_token(v, c->admin_token, why);
}

static int set_operator_token(struct ctlconf *c, const char *v, char *why)
{
	return read_token(v, c->operator_token, why);
}

static int set_agent_token(struct ctlconf *c, const char *v, char *why)
{
	return read_token(v, c->agent_token, why);
}

static const struct conf_key keys[] = {
	{ "cluster_id", set_cluster_id },
	{ "members", set_members },
	{ "learners", set_learners },
	{ "spares", set_spares },
	{ "preferred_leader", set_preferred },
	{ "policy", set_policy },
	{ "failure_timeout_ms", set_failure_timeout },
	{ "switchover_timeout_ms", set_switchover_timeout },
	{ "max_lag_on_failover", set_max_lag },
	{ "learner_catchup_records", set_catchup },
	{ "state_dir", set_state_dir },
	{ "agent_listen", set_agent_listen },
	{ "admin_socket", set_admin_socket },
	{ "admin_listen", set_admin_listen },
	{ "metrics_listen", set_metrics_listen },
	{ "admin_token_file", set_admin_token },
	{ "operator_token_file", set_operator_token },
	{ "agent_token_file", set_agent_token },
};
_Static_assert(CONF_DIM(keys) <= 32, "a seen bit per key");

static const struct conf_key *key_find(const char *name)
{
	for (size_t i = 0; i < CONF_DIM(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Trims, refuses what a file could not carry, hands a wiped copy to the setter. */
static int key_apply(struct ctlconf *c, const struct conf_key *k, const char *value, char *why)
{
	char v[CTLCONF_VALUE_MAX + 1];
	int rc;

	if (conftext_value(value, CTLCONF_VALUE_MAX, v, why) != 0)
		return -EINVAL;
	why[0] = '\0';
	rc = k->set(c, v, why);
	explicit_bzero(v, sizeof(v));
	return rc;
}

/* ---- defaults, one key, options ---------------------------------------------------------- */

void ctlconf_default(struct ctlconf *c)
{
	struct sl_policy p = sl_policy_default();
	char why[CTLCONF_ERR_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	memcpy(&c->policy, &p, sizeof(p));
	c->failure_timeout_ms = 1000;
	c->switchover_timeout_ms = 5000;
	c->learner_catchup_records = 1000;
	rc = parse_addr("0.0.0.0:" CONF_DEFAULT_PORT, &c->agent_listen, why);
	assert(rc == 0);
	(void)rc;
}

int ctlconf_set(struct ctlconf *c, const char *key, const char *value, char *err, size_t err_len)
{
	char why[CTLCONF_ERR_MAX];
	const struct conf_key *k;
	struct ctlconf tmp;
	int rc;

	conftext_err_put(err, err_len, "%s", "");
	if (key == NULL || value == NULL) {
		conftext_err_put(err, err_len, "ctlconf_set: missing key or value");
		return -EINVAL;
	}
	k = key_find(key);
	if (k == NULL) {
		conftext_err_put(err, err_len, CONF_SECTION ".%s: unknown key",
				 conftext_show(key, SIZE_MAX).s);
		return -EINVAL;
	}
	memcpy(&tmp, c, sizeof(tmp));
	rc = key_apply(&tmp, k, value, why);
	if (rc == 0)
		memcpy(c, &tmp, sizeof(tmp));
	else
		conftext_err_put(err, err_len, CONF_SECTION ".%s: %s", k->name, why);
	explicit_bzero(&tmp, sizeof(tmp));
	return rc == 0 ? 0 : -EINVAL;
}

int ctlconf_set_option(struct ctlconf *c, const char *name, const char *value, char *err,
		       size_t err_len)
{
	static const char prefix[] = CONF_SECTION ".";

	if (name == NULL || strncmp(name, prefix, sizeof(prefix) - 1) != 0) {
		conftext_err_put(err, err_len, "%s: unknown option (expected controller.KEY)",
				 conftext_show(name ? name : "", SIZE_MAX).s);
		return -EINVAL;
	}
	return ctlconf_set(c, name + sizeof(prefix) - 1, value, err, err_len);
}

/* ---- files -------------------------------------------------------------------------------- */

struct conf_load {
	struct conftext_lines lines;
	struct ctlconf tmp;
};

static bool section_known(const char *name, size_t len)
{
	return len == strlen(CONF_SECTION) && memcmp(name, CONF_SECTION, len) == 0;
}

static int load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_load *ld = user;
	const struct conf_key *k;
	char why[CTLCONF_ERR_MAX];
	unsigned bit;

	if (ld->lines.fail_line != 0)
		return 0;
	if (section[0] == '\0') {
		conftext_fail(&ld->lines, "%s: key outside [" CONF_SECTION "]",
			      conftext_show(name, SIZE_MAX).s);
		return 0;
	}
	k = key_find(name);
	if (k == NULL) {
		conftext_fail(&ld->lines, CONF_SECTION ".%s: unknown key",
			      conftext_show(name, SIZE_MAX).s);
		return 0;
	}
	bit = 1u << (k - keys);
	if (ld->tmp.seen & bit) {
		conftext_fail(&ld->lines, CONF_SECTION ".%s: set twice", k->name);
		return 0;
	}
	if (key_apply(&ld->tmp, k, value, why) != 0) {
		conftext_fail(&ld->lines, CONF_SECTION ".%s: %s", k->name, why);
		return 0;
	}
	ld->tmp.seen |= bit;
	return 1;
}

static int load_text(struct ctlconf *c, const char *name, const char *text, size_t len, char *err,
		     size_t err_len)
{
	struct conf_load *ld = calloc(1, sizeof(*ld));
	int rc;

	if (ld == NULL) {
		conftext_err_put(err, err_len, "%s: out of memory", name);
		return -ENOMEM;
	}
	memcpy(&ld->tmp, c, sizeof(*c));
	ld->lines.line_max = CTLCONF_LINE_MAX;
	ld->lines.section_known = section_known;
	ld->lines.section_hint = " (expected [" CONF_SECTION "])";
	rc = conftext_parse(&ld->lines, name, text, len, load_handler, ld, err, err_len);
	if (rc == 0)
		memcpy(c, &ld->tmp, sizeof(*c));
	explicit_bzero(ld, sizeof(*ld)); /* tokens */
	free(ld);
	return rc;
}

int ctlconf_load_string(struct ctlconf *c, const char *text, char *err, size_t err_len)
{
	conftext_err_put(err, err_len, "%s", "");
	return load_text(c, "<text>", text, strlen(text), err, err_len);
}

int ctlconf_load_file(struct ctlconf *c, const char *path, char *err, size_t err_len)
{
	char *text;
	size_t n;
	int rc;

	conftext_err_put(err, err_len, "%s", "");
	rc = conftext_read_file(path, CTLCONF_FILE_MAX, &text, &n, err, err_len);
	if (rc != 0)
		return rc;
	rc = load_text(c, path, text, n, err, err_len);
	conftext_text_free(text, n);
	return rc;
}

/* ---- checks ------------------------------------------------------------------------------- */

static uint64_t id_bit(unsigned id)
{
	return id >= 1 && id <= SL_NODE_MAX ? 1ull << (id - 1) : 0;
}

void ctlconf_ids_text(uint64_t ids, char *buf, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
	for (unsigned id = 1; id <= SL_NODE_MAX && n < cap; id++)
		if (ids & id_bit(id))
			n += (size_t)snprintf(buf + n, cap - n, "%s%u", n ? "," : "", id);
}

static int check_policy(const struct ctlconf *c, char *why)
{
	const struct sl_policy *p = &c->policy;
	uint64_t voters = c->members & ~c->learners;

	if (!sl_policy_valid(p))
		return conftext_why(why, "policy: invalid");
	for (unsigned i = 0; i < p->n_nodes; i++) {
		if (!(c->members & id_bit(p->nodes[i])))
			return conftext_why(why, "policy: node %u is not a member", p->nodes[i]);
		if (c->learners & id_bit(p->nodes[i]))
			return conftext_why(why, "policy: node %u is a learner", p->nodes[i]);
	}
	/* A leader and k followers of the list must be able to exist. */
	if ((p->kind == SL_POLICY_FIRST || p->kind == SL_POLICY_ANY) &&
	    (unsigned)__builtin_popcountll(voters) < p->k + 1u)
		return conftext_why(why, "policy: needs %u non-learner members, there are %d",
				    p->k + 1, __builtin_popcountll(voters));
	return 0;
}

static int check_keys(const struct ctlconf *c, char *why)
{
	if (c->cluster_id == 0)
		return conftext_why(why, "cluster_id: required");
	if (c->members == 0)
		return conftext_why(why, "members: required");
	if (c->state_dir[0] == '\0')
		return conftext_why(why, "state_dir: required");
	if (!c->agent_listen.set)
		return conftext_why(why, "agent_listen: required");
	if (c->learners & ~c->members)
		return conftext_why(why, "learners: every learner must be a member");
	if ((c->members & ~c->learners) == 0)
		return conftext_why(why, "learners: at least one member must not be a learner");
	if (c->spares & c->members)
		return conftext_why(why, "spares: a spare is not a member yet");
	if (c->preferred_leader != 0 && !(c->members & id_bit(c->preferred_leader)))
		return conftext_why(why, "preferred_leader: not a member");
	if (c->preferred_leader != 0 && (c->learners & id_bit(c->preferred_leader)))
		return conftext_why(why, "preferred_leader: a learner never leads");
	return check_policy(c, why);
}

int ctlconf_finish(struct ctlconf *c, char *err, size_t err_len)
{
	char why[CTLCONF_ERR_MAX];

	conftext_err_put(err, err_len, "%s", "");
	if (check_keys(c, why) != 0) {
		conftext_err_put(err, err_len, CONF_SECTION ".%s", why);
		return -EINVAL;
	}
	if (c->preferred_leader == 0) {
		uint64_t voters = c->members & ~c->learners;

		c->preferred_leader = (uint16_t)(__builtin_ctzll(voters) + 1);
	}
	if (!c->admin_socket_set) {
		snprintf(c->admin_socket, sizeof(c->admin_socket), "%s", CTLCONF_ADMIN_SOCKET);
		c->admin_socket_set = true;
	}
	return 0;
}

void ctlconf_wipe(struct ctlconf *c)
{
	explicit_bzero(c->admin_token, sizeof(c->admin_token));
	explicit_bzero(c->operator_token, sizeof(c->operator_token));
	explicit_bzero(c->agent_token, sizeof(c->agent_token));
}

void ctlconf_core_config(const struct ctlconf *c, struct ctl_config *out)
{
	memset(out, 0, sizeof(*out));
	out->cluster_id = c->cluster_id;
	out->failure_timeout_ns = (uint64_t)c->failure_timeout_ms * 1000000u;
	out->switchover_timeout_ns = (uint64_t)c->switchover_timeout_ms * 1000000u;
	out->max_lag_on_failover = c->max_lag_on_failover;
	out->learner_catchup_records = c->learner_catchup_records;
}

void ctlconf_fresh_state(const struct ctlconf *c, struct ctl_state *out)
{
	memset(out, 0, sizeof(*out));
	out->cluster_id = c->cluster_id;
	out->phase = CTL_PHASE_BOOT;
	out->preferred = c->preferred_leader;
	memcpy(&out->policy, &c->policy, sizeof(out->policy));
	memcpy(&out->prev_policy, &c->policy, sizeof(out->prev_policy));
	for (unsigned id = 1; id <= SL_NODE_MAX; id++) {
		if (!(c->members & id_bit(id)))
			continue;
		out->members[out->n_members].id = (uint16_t)id;
		out->members[out->n_members].learner = (c->learners & id_bit(id)) != 0;
		out->n_members++;
	}
}
