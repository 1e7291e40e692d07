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
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "ctlconf.h"

#define CONF_DIM(a)	  (sizeof(a) / sizeof((a)[0]))
#define CONF_SECTION	  "controller"
#define CONF_SHOW_MAX	  32u
#define CONF_DEFAULT_PORT "7410"
_Static_assert(SL_NODE_MAX == 64, "node id sets are one uint64_t");

struct conf_key {
	const char *name;
	/* Parses v (trimmed, printable, at most CTLCONF_VALUE_MAX bytes) or says why not. */
	int (*set)(struct ctlconf *c, const char *v, char *why);
};

/* The name as an error quotes it: bounded and printable. */
struct conf_shown {
	char s[CONF_SHOW_MAX + 4];
};

__attribute__((format(printf, 2, 3))) static int why_set(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CTLCONF_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

__attribute__((format(printf, 3, 4))) static void err_put(char *err, size_t err_len,
							  const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static struct conf_shown show(const char *s, size_t n)
{
	struct conf_shown out;
	size_t i;

	for (i = 0; i < n && s[i] && i < CONF_SHOW_MAX; i++)
		out.s[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (i < n && s[i]) {
		memcpy(out.s + i, "...", 3);
		i += 3;
	}
	out.s[i] = '\0';
	return out;
}

/* ---- value parsers ------------------------------------------------------------------ */

/* Decimal, no sign, no blank, lo..hi. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, char *why)
{
	unsigned long long x;
	char *end;

	if (*s == '\0')
		return why_set(why, "empty value");
	if (!isdigit((unsigned char)*s))
		return why_set(why, "not a decimal number");
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end != '\0')
		return why_set(why, "trailing characters after the number");
	if (errno == ERANGE || x < lo || x > hi)
		return why_set(why, "out of range %llu..%llu", (unsigned long long)lo,
			       (unsigned long long)hi);
	*out = x;
	return 0;
}

/* "1, 2,3": distinct ids 1..SL_NODE_MAX; "" is the empty set. */
static int parse_ids(const char *v, uint64_t *out, char *why)
{
	char buf[CTLCONF_VALUE_MAX + 1], *save = NULL;
	uint64_t ids = 0, id;

	snprintf(buf, sizeof(buf), "%s", v);
	if (buf[0] != '\0' && (buf[0] == ',' || buf[strlen(buf) - 1] == ','))
		return why_set(why, "empty entry in the list");
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t n;

		while (isspace((unsigned char)*t))
			t++;
		n = strlen(t);
		while (n > 0 && isspace((unsigned char)t[n - 1]))
			t[--n] = '\0';
		if (n == 0)
			return why_set(why, "empty entry in the list");
		if (parse_u64(t, 1, SL_NODE_MAX, &id, why) != 0)
			return why_set(why, "a node id is a number 1..%u", SL_NODE_MAX);
		if (ids & (1ull << (id - 1)))
			return why_set(why, "node %llu listed twice", (unsigned long long)id);
		ids |= 1ull << (id - 1);
	}
	if (strstr(v, ",,") != NULL)
		return why_set(why, "empty entry in the list");
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
			return why_set(why, "expected [IPv6]:port");
		h = v + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL)
			return why_set(why, "expected host:port");
		hlen = (size_t)(colon - v);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return why_set(why, "expected host:port with a numeric address");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (parse_u64(colon + 1, 0, UINT16_MAX, &port, why) != 0)
		return why_set(why, "port: a number 0..65535");
	if (v[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return why_set(why, "not an IPv6 address");
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return why_set(why, "not an IPv4 address (a.b.c.d:port or [v6]:port)");
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
	struct stat st;
	size_t n = 0;
	ssize_t r;
	int rc = 0, fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return why_set(why, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return why_set(why, "not a regular file");
	}
	do {
		r = read(fd, buf + n, sizeof(buf) - n);
		if (r > 0)
			n += (size_t)r;
	} while ((r > 0 && n < sizeof(buf)) || (r < 0 && errno == EINTR));
	close(fd);
	if (r < 0)
		rc = why_set(why, "cannot read: %s", strerror(errno));
	else if (n > CTLCONF_TOKEN_FILE_MAX)
		rc = why_set(why, "larger than %u bytes", CTLCONF_TOKEN_FILE_MAX);
	if (rc == 0 && n > 0 && buf[n - 1] == '\n')
		n -= 1 + (n > 1 && buf[n - 2] == '\r');
	if (rc == 0 && (n == 0 || n >= SL_CTL_TOKEN_MAX))
		rc = why_set(why, "a token has 1..%u bytes", SL_CTL_TOKEN_MAX - 1);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (buf[i] <= ' ' || buf[i] > '~')
			rc = why_set(why, "one token per file: printable, no blank, no newline");
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
		return why_set(why, "at least one member");
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
		return why_set(why, "%s", perr);
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
		return why_set(why, "empty value");
	if (n > 0 && v[0] != '/')
		return why_set(why, "not an absolute path");
	if (n >= cap)
		return why_set(why, "longer than %zu bytes", cap - 1);
	memset(dst, 0, cap);
	memcpy(dst, v, n);
	return 0;
}

static int set_state_dir(struct ctlconf *c, const char *v, char *why)
{
	/* Room for "/admin.sock" and the other file names after it. */
	return set_path(c->state_dir, sizeof(c->state_dir), v, false, why);
}

static int set_admin_socket(struct ctlconf *c, const char *v, char *why)
{
	if (strlen(v) > CTLCONF_SUN_PATH_MAX)
		return why_set(why, "longer than %u bytes (a Unix socket path)",
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

static int set_admin_listen(struct ctlconf *c, const char *v, char *why)
{
	if (v[0] == '\0') {
		memset(&c->admin_listen, 0, sizeof(c->admin_listen));
		return 0;
	}
	return parse_addr(v, &c->admin_listen, why);
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
	size_t len;
	int rc;

	while (isspace((unsigned char)*value))
		value++;
	len = strlen(value);
	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	if (len > CTLCONF_VALUE_MAX)
		return why_set(why, "value longer than %u bytes", CTLCONF_VALUE_MAX);
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f)
			return why_set(why, "control character in the value");
		if (value[i] == ';' && (i == 0 || isspace((unsigned char)value[i - 1])))
			return why_set(why, "';' at the start or after a blank would read as a "
					    "comment in a file");
	}
	memcpy(v, value, len);
	v[len] = '\0';
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

	err_put(err, err_len, "%s", "");
	if (key == NULL || value == NULL) {
		err_put(err, err_len, "ctlconf_set: missing key or value");
		return -EINVAL;
	}
	k = key_find(key);
	if (k == NULL) {
		err_put(err, err_len, CONF_SECTION ".%s: unknown key",
			show(key, CTLCONF_VALUE_MAX).s);
		return -EINVAL;
	}
	memcpy(&tmp, c, sizeof(tmp));
	rc = key_apply(&tmp, k, value, why);
	if (rc == 0)
		memcpy(c, &tmp, sizeof(tmp));
	else
		err_put(err, err_len, CONF_SECTION ".%s: %s", k->name, why);
	explicit_bzero(&tmp, sizeof(tmp));
	return rc == 0 ? 0 : -EINVAL;
}

int ctlconf_set_option(struct ctlconf *c, const char *name, const char *value, char *err,
		       size_t err_len)
{
	static const char prefix[] = CONF_SECTION ".";

	if (name == NULL || strncmp(name, prefix, sizeof(prefix) - 1) != 0) {
		err_put(err, err_len, "%s: unknown option (expected controller.KEY)",
			show(name ? name : "", CTLCONF_VALUE_MAX).s);
		return -EINVAL;
	}
	return ctlconf_set(c, name + sizeof(prefix) - 1, value, err, err_len);
}

/* ---- files -------------------------------------------------------------------------------- */

struct conf_load {
	struct ctlconf tmp;
	const char *p; /* what inih has not read yet */
	size_t left;
	unsigned line;
	unsigned fail_line;
	char msg[CTLCONF_ERR_MAX];
};

__attribute__((format(printf, 2, 3))) static void load_fail(struct conf_load *ld, const char *fmt,
							    ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->msg, sizeof(ld->msg), fmt, ap);
	va_end(ap);
	ld->fail_line = ld->line;
}

/* As inih finds it: the first of chars, or of " ;" (an inline comment), in s[0..n). */
static size_t find_sep(const char *s, size_t n, const char *chars)
{
	bool was_space = false;
	size_t i;

	for (i = 0; i < n && !strchr(chars, s[i]) && !(was_space && s[i] == ';'); i++)
		was_space = isspace((unsigned char)s[i]);
	return i;
}

static void check_section(struct conf_load *ld, const char *s, size_t n)
{
	size_t end = 1 + find_sep(s + 1, n - 1, "]"), rest;

	if (end == n || s[end] != ']') {
		load_fail(ld, "'[' without ']'");
		return;
	}
	for (rest = end + 1; rest < n && isspace((unsigned char)s[rest]); rest++)
		;
	if (rest < n && s[rest] != ';' && s[rest] != '#')
		load_fail(ld, "text after [section]");
	else if (end - 1 != strlen(CONF_SECTION) || memcmp(s + 1, CONF_SECTION, end - 1) != 0)
		load_fail(ld, "[%s]: unknown section (expected [" CONF_SECTION "])",
			  show(s + 1, end - 1).s);
}

static void check_line(struct conf_load *ld, const char *s, size_t n)
{
	size_t sep;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || s[0] == ';' || s[0] == '#')
		return;
	if (s[0] == '[') {
		check_section(ld, s, n);
		return;
	}
	sep = find_sep(s, n, "=:");
	if (sep == n || s[sep] == ';')
		load_fail(ld, "expected 'key = value' or '[section]'");
}

/* inih's fgets: one checked line, indentation removed (no multi-line values), or NULL. */
static char *load_reader(char *str, int num, void *stream)
{
	struct conf_load *ld = stream;
	const char *nl, *s;
	size_t len, max, skip = 0;

	if (ld->fail_line != 0 || ld->left == 0 || num < 3)
		return NULL;
	max = (size_t)num - 2 < CTLCONF_LINE_MAX ? (size_t)num - 2 : CTLCONF_LINE_MAX;
	nl = memchr(ld->p, '\n', ld->left);
	len = nl ? (size_t)(nl - ld->p) : ld->left;
	s = ld->p;
	ld->p += len + (nl != NULL);
	ld->left -= len + (nl != NULL);
	ld->line++;
	if (len > max) {
		load_fail(ld, "line longer than %zu bytes", max);
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL) {
		load_fail(ld, "NUL byte in the line");
		return NULL;
	}
	if (ld->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		skip = 3;
	while (skip < len && isspace((unsigned char)s[skip]))
		skip++;
	check_line(ld, s + skip, len - skip);
	if (ld->fail_line != 0)
		return NULL;
	memcpy(str, s + skip, len - skip);
	str[len - skip] = '\n';
	str[len - skip + 1] = '\0';
	return str;
}

static int load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct conf_load *ld = user;
	const struct conf_key *k;
	char why[CTLCONF_ERR_MAX];
	unsigned bit;

	if (ld->fail_line != 0)
		return 0;
	if (section[0] == '\0') {
		load_fail(ld, "%s: key outside [" CONF_SECTION "]",
			  show(name, CTLCONF_VALUE_MAX).s);
		return 0;
	}
	k = key_find(name);
	if (k == NULL) {
		load_fail(ld, CONF_SECTION ".%s: unknown key", show(name, CTLCONF_VALUE_MAX).s);
		return 0;
	}
	bit = 1u << (k - keys);
	if (ld->tmp.seen & bit) {
		load_fail(ld, CONF_SECTION ".%s: set twice", k->name);
		return 0;
	}
	if (key_apply(&ld->tmp, k, value, why) != 0) {
		load_fail(ld, CONF_SECTION ".%s: %s", k->name, why);
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
		err_put(err, err_len, "%s: out of memory", name);
		return -ENOMEM;
	}
	memcpy(&ld->tmp, c, sizeof(*c));
	ld->p = text;
	ld->left = len;
	rc = ini_parse_stream(load_reader, ld, load_handler, ld);
	if (rc < 0) {
		err_put(err, err_len, "%s: out of memory", name);
		rc = -ENOMEM;
	} else if (rc > 0 && (ld->fail_line == 0 || (unsigned)rc < ld->fail_line)) {
		/* The reader lets through only lines inih takes: a safety net. */
		err_put(err, err_len, "%s:%d: syntax error", name, rc);
		rc = -EINVAL;
	} else if (ld->fail_line != 0) {
		err_put(err, err_len, "%s:%u: %s", name, ld->fail_line, ld->msg);
		rc = -EINVAL;
	} else {
		memcpy(c, &ld->tmp, sizeof(*c));
	}
	explicit_bzero(ld, sizeof(*ld)); /* tokens */
	free(ld);
	return rc;
}

int ctlconf_load_string(struct ctlconf *c, const char *text, char *err, size_t err_len)
{
	err_put(err, err_len, "%s", "");
	return load_text(c, "<text>", text, strlen(text), err, err_len);
}

int ctlconf_load_file(struct ctlconf *c, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "re");
	char *text;
	size_t n;
	int rc;

	err_put(err, err_len, "%s", "");
	if (f == NULL) {
		rc = -errno;
		err_put(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	text = malloc(CTLCONF_FILE_MAX + 1);
	if (text == NULL) {
		fclose(f);
		err_put(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	errno = 0;
	n = fread(text, 1, CTLCONF_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		err_put(err, err_len, "%s: %s", path, strerror(-rc));
	} else if (n > CTLCONF_FILE_MAX) {
		rc = -EFBIG;
		err_put(err, err_len, "%s: larger than %u bytes", path, CTLCONF_FILE_MAX);
	} else {
		rc = load_text(c, path, text, n, err, err_len);
	}
	fclose(f);
	free(text);
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
		return why_set(why, "policy: invalid");
	for (unsigned i = 0; i < p->n_nodes; i++) {
		if (!(c->members & id_bit(p->nodes[i])))
			return why_set(why, "policy: node %u is not a member", p->nodes[i]);
		if (c->learners & id_bit(p->nodes[i]))
			return why_set(why, "policy: node %u is a learner", p->nodes[i]);
	}
	/* A leader and k followers of the list must be able to exist. */
	if ((p->kind == SL_POLICY_FIRST || p->kind == SL_POLICY_ANY) &&
	    (unsigned)__builtin_popcountll(voters) < p->k + 1u)
		return why_set(why, "policy: needs %u non-learner members, there are %d", p->k + 1,
			       __builtin_popcountll(voters));
	return 0;
}

static int check_keys(const struct ctlconf *c, char *why)
{
	if (c->cluster_id == 0)
		return why_set(why, "cluster_id: required");
	if (c->members == 0)
		return why_set(why, "members: required");
	if (c->state_dir[0] == '\0')
		return why_set(why, "state_dir: required");
	if (!c->agent_listen.set)
		return why_set(why, "agent_listen: required");
	if (c->learners & ~c->members)
		return why_set(why, "learners: every learner must be a member");
	if ((c->members & ~c->learners) == 0)
		return why_set(why, "learners: at least one member must not be a learner");
	if (c->spares & c->members)
		return why_set(why, "spares: a spare is not a member yet");
	if (c->preferred_leader != 0 && !(c->members & id_bit(c->preferred_leader)))
		return why_set(why, "preferred_leader: not a member");
	if (c->preferred_leader != 0 && (c->learners & id_bit(c->preferred_leader)))
		return why_set(why, "preferred_leader: a learner never leads");
	if (!c->admin_socket_set && strlen(c->state_dir) + 11 > CTLCONF_SUN_PATH_MAX)
		return why_set(why,
			       "admin_socket: <state_dir>/admin.sock is longer than %u "
			       "bytes: set admin_socket",
			       CTLCONF_SUN_PATH_MAX);
	return check_policy(c, why);
}

int ctlconf_finish(struct ctlconf *c, char *err, size_t err_len)
{
	char why[CTLCONF_ERR_MAX];

	err_put(err, err_len, "%s", "");
	if (check_keys(c, why) != 0) {
		err_put(err, err_len, CONF_SECTION ".%s", why);
		return -EINVAL;
	}
	if (c->preferred_leader == 0) {
		uint64_t voters = c->members & ~c->learners;

		c->preferred_leader = (uint16_t)(__builtin_ctzll(voters) + 1);
	}
	if (!c->admin_socket_set) {
		snprintf(c->admin_socket, sizeof(c->admin_socket), "%s/admin.sock", c->state_dir);
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
