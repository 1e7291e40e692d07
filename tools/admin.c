/*
 * shiplogctl's side of the controller's admin API: addresses, the answer parser, the
 * text views and the connection (tools/admin.h). Everything a controller sends is
 * untrusted: sizes are bounded, strings lose their control characters before they
 * reach a terminal, and a field of the wrong type prints as "-".
 */
#define _GNU_SOURCE /* explicit_bzero */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <shiplog/admin.h>
#include <shiplog/control.h>
#include <shiplog/wire.h>

#include "admin.h"

#define CELL_MAX	 40 /* bytes of one table cell, NUL included */
#define STATUS_COLS	 15
#define STATUS_ROWS_MAX	 SL_NODE_MAX
#define UNIX_RETRY_MS	 10 /* a Unix socket's backlog is full: connect again after */
#define EVENT_TEXT_MAX	 512
#define ADMIN_OK_VAL_MAX 128

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t err_len,
							  const char *fmt, ...);

/* Copies len bytes of src into dst (cap bytes, NUL added): control characters become
 * '?', and a cut never splits a UTF-8 sequence. Returns the length written. */
static size_t copy_clean(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;

	if (n < len)
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[n] = '\0';
	return n;
}

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	char tmp[ADMIN_ERR_MAX];
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Messages may quote what the controller or the user sent. */
	copy_clean(err, err_len, tmp, strlen(tmp));
}

/* ---- addresses ----------------------------------------------------------------------- */

static int parse_port(const char *s, char out[6])
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > UINT16_MAX)
		return -EINVAL;
	snprintf(out, 6, "%lu", v);
	return 0;
}

/* HOST[:PORT] or [IPV6][:PORT] into a. */
static int parse_host_port(const char *s, struct admin_addr *a, char *err, size_t err_len)
{
	const char *host = s, *host_end, *port = NULL, *colon;
	struct in6_addr in6;

	if (s[0] == '[') {
		host = s + 1;
		host_end = strchr(host, ']');
		if (host_end == NULL || (host_end[1] != '\0' && host_end[1] != ':'))
			goto out_syntax;
		port = host_end[1] == ':' ? host_end + 2 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && memchr(s, ':', (size_t)(colon - s)) != NULL) {
			set_err(err, err_len,
				"\"%s\": an IPv6 address goes in brackets: [ADDR]:PORT", s);
			return -EINVAL;
		}
		host_end = colon != NULL ? colon : s + strlen(s);
		port = colon != NULL ? colon + 1 : NULL;
	}
	if (host_end == host || (size_t)(host_end - host) >= sizeof(a->host))
		goto out_syntax;
	for (const char *p = host; p < host_end; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '[' || *p == ']')
			goto out_syntax;
	memcpy(a->host, host, (size_t)(host_end - host));
	a->host[host_end - host] = '\0';
	if (s[0] == '[' && inet_pton(AF_INET6, a->host, &in6) != 1) {
		set_err(err, err_len, "\"%s\": \"%s\" is not an IPv6 address", s, a->host);
		return -EINVAL;
	}
	if (port == NULL)
		snprintf(a->port, sizeof(a->port), "%u", SL_CTL_ADMIN_PORT);
	else if (parse_port(port, a->port) != 0) {
		set_err(err, err_len, "\"%s\": port \"%s\" is not a number from 1 to 65535", s,
			port);
		return -EINVAL;
	}
	return 0;

out_syntax:
	set_err(err, err_len, "\"%s\": expected unix:/PATH or HOST:PORT", s);
	return -EINVAL;
}

int admin_addr_parse(const char *s, struct admin_addr *out, char *err, size_t err_len)
{
	struct admin_addr a;
	const char *path = NULL;

	memset(&a, 0, sizeof(a));
	if (strncmp(s, "unix:", 5) == 0)
		path = s + 5;
	else if (s[0] == '/')
		path = s;
	if (path == NULL) {
		if (parse_host_port(s, &a, err, err_len) != 0)
			return -EINVAL;
		*out = a;
		return 0;
	}
	if (path[0] == '\0') {
		set_err(err, err_len, "\"%s\": no socket path after \"unix:\"", s);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(a.path)) {
		set_err(err, err_len, "socket path is %zu bytes, over the limit of %zu",
			strlen(path), sizeof(a.path) - 1);
		return -EINVAL;
	}
	a.is_unix = true;
	memcpy(a.path, path, strlen(path) + 1);
	*out = a;
	return 0;
}

/* For messages: "unix:/path", "host:port" or "[v6]:port". */
static void addr_text(const struct admin_addr *a, char *buf, size_t len)
{
	if (a->is_unix)
		snprintf(buf, len, "unix:%s", a->path);
	else if (strchr(a->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%s", a->host, a->port);
	else
		snprintf(buf, len, "%s:%s", a->host, a->port);
}

/* ---- answers ------------------------------------------------------------------------- */

static const char *const code_names[] = {
	[ADMIN_CODE_NONE] = "",
	[ADMIN_CODE_UNAUTHORIZED] = "unauthorized",
	[ADMIN_CODE_BAD_REQUEST] = "bad_request",
	[ADMIN_CODE_UNKNOWN_COMMAND] = "unknown_command",
	[ADMIN_CODE_REFUSED] = "refused",
	[ADMIN_CODE_BUSY] = "busy",
	[ADMIN_CODE_NOT_FOUND] = "not_found",
	[ADMIN_CODE_INTERNAL] = "internal",
	[ADMIN_CODE_OTHER] = "other",
};

const char *admin_code_name(enum admin_code code)
{
	return (unsigned)code <= ADMIN_CODE_OTHER ? code_names[code] : "other";
}

static enum admin_code code_of(const char *name)
{
	for (unsigned c = ADMIN_CODE_UNAUTHORIZED; c < ADMIN_CODE_OTHER; c++)
		if (strcmp(name, code_names[c]) == 0)
			return (enum admin_code)c;
	return ADMIN_CODE_OTHER;
}

/* The refusal's code and sentence; the code is required, the sentence is not. */
static int answer_refusal(const json_t *root, struct admin_answer *a, char *err, size_t err_len)
{
	const json_t *code = json_object_get(root, "code");
	const json_t *error = json_object_get(root, "error");

	if (!json_is_string(code) || json_string_length(code) == 0) {
		set_err(err, err_len, "the controller refused without a \"code\"");
		return -EPROTO;
	}
	a->code = code_of(json_string_value(code));
	copy_clean(a->code_name, sizeof(a->code_name), json_string_value(code),
		   json_string_length(code));
	if (json_is_string(error))
		copy_clean(a->error, sizeof(a->error), json_string_value(error),
			   json_string_length(error));
	return 0;
}

static int answer_fields(const json_t *root, struct admin_answer *a, char *err, size_t err_len)
{
	const json_t *v = json_object_get(root, "v");
	const json_t *ok = json_object_get(root, "ok");
	json_t *result = json_object_get(root, "result");

	if (!json_is_object(root)) {
		set_err(err, err_len, "the answer is not a JSON object");
		return -EPROTO;
	}
	if (!json_is_integer(v)) {
		set_err(err, err_len, "the answer has no protocol version (\"v\")");
		return -EPROTO;
	}
	if (json_integer_value(v) != SL_ADMIN_PROTO_VERSION) {
		set_err(err, err_len,
			"the controller speaks admin protocol version %" JSON_INTEGER_FORMAT
			", this shiplogctl speaks %d",
			json_integer_value(v), SL_ADMIN_PROTO_VERSION);
		return -EPROTO;
	}
	if (!json_is_boolean(ok)) {
		set_err(err, err_len, "the answer has no \"ok\" (true or false)");
		return -EPROTO;
	}
	if (!json_is_true(ok))
		return answer_refusal(root, a, err, err_len);
	/* A command with nothing to say may leave "result" out; anything else is wrong. */
	if (result != NULL && !json_is_object(result)) {
		set_err(err, err_len, "the answer's \"result\" is not an object");
		return -EPROTO;
	}
	a->ok = true;
	a->result = result != NULL ? json_incref(result) : json_object();
	if (a->result == NULL) {
		set_err(err, err_len, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

int admin_answer_parse(const char *line, size_t len, struct admin_answer *a, char *err,
		       size_t err_len)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(a, 0, sizeof(*a));
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		set_err(err, err_len, "the answer is not JSON: %s", jerr.text);
		return -EPROTO;
	}
	rc = answer_fields(root, a, err, err_len);
	json_decref(root);
	if (rc != 0)
		admin_answer_clear(a);
	else if (err != NULL && err_len > 0)
		err[0] = '\0';
	return rc;
}

void admin_answer_clear(struct admin_answer *a)
{
	json_decref(a->result);
	memset(a, 0, sizeof(*a));
}

/* ---- views --------------------------------------------------------------------------- */

/* An integer member as decimal, else "-". */
static void cell_int(char *cell, const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (json_is_integer(v))
		snprintf(cell, CELL_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(cell, CELL_MAX, "-");
}

/* A string member (cleaned), a boolean as yes/no, an integer, else "-". */
static void cell_str(char *cell, const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (json_is_string(v) && json_string_length(v) > 0)
		copy_clean(cell, CELL_MAX, json_string_value(v), json_string_length(v));
	else if (json_is_boolean(v))
		snprintf(cell, CELL_MAX, "%s", json_is_true(v) ? "yes" : "no");
	else
		cell_int(cell, o, name);
}

/* A node id, or an LSN that may be none (a snapshot): 0 and null mean none. */
static void cell_some(char *cell, const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (json_is_integer(v) && json_integer_value(v) != 0)
		cell_int(cell, o, name);
	else
		snprintf(cell, CELL_MAX, "-");
}

/* Milliseconds ago as 850ms, 12.3s, 5m07s, 3h05m or 2d03h. */
static void cell_ago(char *cell, const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);
	json_int_t ms = json_is_integer(v) ? json_integer_value(v) : -1;

	if (ms < 0)
		snprintf(cell, CELL_MAX, "-");
	else if (ms < 1000)
		snprintf(cell, CELL_MAX, "%" JSON_INTEGER_FORMAT "ms", ms);
	else if (ms < 60000)
		snprintf(cell, CELL_MAX, "%" JSON_INTEGER_FORMAT ".%" JSON_INTEGER_FORMAT "s",
			 ms / 1000, ms % 1000 / 100);
	else if (ms < 3600000)
		snprintf(cell, CELL_MAX, "%" JSON_INTEGER_FORMAT "m%02" JSON_INTEGER_FORMAT "s",
			 ms / 60000, ms % 60000 / 1000);
	else if (ms < 86400000)
		snprintf(cell, CELL_MAX, "%" JSON_INTEGER_FORMAT "h%02" JSON_INTEGER_FORMAT "m",
			 ms / 3600000, ms % 3600000 / 60000);
	else
		snprintf(cell, CELL_MAX, "%" JSON_INTEGER_FORMAT "d%02" JSON_INTEGER_FORMAT "h",
			 ms / 86400000, ms % 86400000 / 3600000);
}

/* Columns on screen: UTF-8 continuation bytes take none. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

struct status_col {
	const char *head;
	const char *name; /* the node's member */
	void (*fill)(char *cell, const json_t *o, const char *name);
	bool right;    /* numbers are right-aligned */
	bool reported; /* only from a node that reported: "-" for state "never" */
};

static const struct status_col status_cols[STATUS_COLS] = {
	{ "NODE", "node", cell_int, true, false },
	{ "ROLE", "role", cell_str, false, false },
	{ "MEMBER", "member", cell_str, false, false },
	{ "STATE", "state", cell_str, false, false },
	{ "EPOCH", "epoch", cell_int, true, true },
	{ "LAST_LSN", "last_lsn", cell_int, true, true },
	{ "FLUSHED_LSN", "flushed_lsn", cell_int, true, true },
	{ "APPLIED_LSN", "applied_lsn", cell_int, true, true },
	{ "SNAP_LSN", "snapshot_lsn", cell_some, true, true },
	{ "WAL_FROM", "wal_first_lsn", cell_some, true, true },
	{ "LAG_REC", "lag_records", cell_int, true, true },
	{ "LAG_BYTES", "lag_bytes", cell_int, true, true },
	{ "LAG_US", "lag_us", cell_int, true, true },
	{ "SYNC", "sync", cell_str, false, true },
	{ "HEARD", "heard_ms_ago", cell_ago, true, true },
};

struct status_table {
	unsigned n_rows;
	size_t width[STATUS_COLS];
	char cell[STATUS_ROWS_MAX][STATUS_COLS][CELL_MAX];
};

static void status_fill_row(struct status_table *t, const json_t *node)
{
	const json_t *state = json_object_get(node, "state");
	bool never = json_is_string(state) && strcmp(json_string_value(state), "never") == 0;
	unsigned r = t->n_rows++;

	for (unsigned c = 0; c < STATUS_COLS; c++) {
		const struct status_col *col = &status_cols[c];
		char *cell = t->cell[r][c];

		/* A node that never reported has no LSNs, whatever zeros the answer holds. */
		if (never && col->reported)
			snprintf(cell, CELL_MAX, "-");
		else
			col->fill(cell, node, col->name);
		if (text_width(cell) > t->width[c])
			t->width[c] = text_width(cell);
	}
}

static void status_print_row(FILE *f, const struct status_table *t, const char *const *cells)
{
	for (unsigned c = 0; c < STATUS_COLS; c++) {
		size_t pad = t->width[c] - text_width(cells[c]);
		bool last = c == STATUS_COLS - 1;

		if (status_cols[c].right)
			fprintf(f, "%*s%s", (int)pad, "", cells[c]);
		else
			fprintf(f, "%s%*s", cells[c], last ? 0 : (int)pad, "");
		fputs(last ? "\n" : "  ", f);
	}
}

static void status_print_header(FILE *f, const json_t *r)
{
	char cluster[CELL_MAX], epoch[CELL_MAX], leader[CELL_MAX], phase[CELL_MAX];
	char degraded[CELL_MAX], policy[SL_POLICY_TEXT_MAX];
	const json_t *p = json_object_get(r, "policy");

	cell_int(cluster, r, "cluster");
	cell_int(epoch, r, "epoch");
	cell_some(leader, r, "leader");
	cell_str(phase, r, "phase");
	cell_str(degraded, r, "degraded");
	if (json_is_string(p))
		copy_clean(policy, sizeof(policy), json_string_value(p), json_string_length(p));
	else
		snprintf(policy, sizeof(policy), "-");
	fprintf(f, "cluster %s  epoch %s  leader %s  policy \"%s\"  phase %s  degraded %s\n",
		cluster, epoch, leader, policy, phase, degraded);
}

int admin_print_status(FILE *f, const json_t *result)
{
	static struct status_table t; /* 33 KiB: not on the stack */
	const json_t *nodes = json_object_get(result, "nodes");
	const char *cells[STATUS_COLS];
	size_t n = json_array_size(nodes), i;

	memset(&t, 0, sizeof(t));
	for (unsigned c = 0; c < STATUS_COLS; c++)
		t.width[c] = strlen(status_cols[c].head);
	for (i = 0; i < n && t.n_rows < STATUS_ROWS_MAX; i++)
		if (json_is_object(json_array_get(nodes, i)))
			status_fill_row(&t, json_array_get(nodes, i));
	status_print_header(f, result);
	for (unsigned c = 0; c < STATUS_COLS; c++)
		cells[c] = status_cols[c].head;
	status_print_row(f, &t, cells);
	for (unsigned r = 0; r < t.n_rows; r++) {
		for (unsigned c = 0; c < STATUS_COLS; c++)
			cells[c] = t.cell[r][c];
		status_print_row(f, &t, cells);
	}
	if (i < n)
		fprintf(f, "(%zu more nodes: --json shows them)\n", n - i);
	return ferror(f) ? -EIO : 0;
}

int admin_print_members(FILE *f, const json_t *result)
{
	const json_t *members = json_object_get(result, "members");
	char node[CELL_MAX];
	size_t i;
	json_t *m;

	fprintf(f, "NODE  MEMBERSHIP\n");
	json_array_foreach(members, i, m)
	{
		const json_t *learner = json_object_get(m, "learner");

		cell_int(node, m, "node");
		fprintf(f, "%4s  %s\n", node,
			!json_is_boolean(learner) ? "-"
			: json_is_true(learner)	  ? "learner"
						  : "member");
	}
	return ferror(f) ? -EIO : 0;
}

int admin_print_events(FILE *f, const json_t *result)
{
	const json_t *events = json_object_get(result, "events");
	char seq[CELL_MAX], time[CELL_MAX], kind[CELL_MAX], node[CELL_MAX];
	char text[EVENT_TEXT_MAX];
	size_t i;
	json_t *e, *t;

	fprintf(f, "%8s  %-24s  %-18s  %4s  %s\n", "SEQ", "TIME", "KIND", "NODE", "TEXT");
	json_array_foreach(events, i, e)
	{
		cell_int(seq, e, "seq");
		cell_str(time, e, "time");
		cell_str(kind, e, "kind");
		cell_some(node, e, "node");
		t = json_object_get(e, "text");
		if (json_is_string(t))
			copy_clean(text, sizeof(text), json_string_value(t), json_string_length(t));
		else
			snprintf(text, sizeof(text), "-");
		fprintf(f, "%8s  %-24s  %-18s  %4s  %s\n", seq, time, kind, node, text);
	}
	return ferror(f) ? -EIO : 0;
}

/* An array of integers (node ids) as 1,2,3, "none" when empty; other arrays not at all. */
static void print_int_list(FILE *f, const char *name, const json_t *v)
{
	const json_t *item;
	size_t i;

	json_array_foreach(v, i, item)
	{
		if (!json_is_integer(item))
			return;
	}
	fprintf(f, " %s=%s", name, json_array_size(v) ? "" : "none");
	json_array_foreach(v, i, item)
	{
		fprintf(f, "%s%" JSON_INTEGER_FORMAT, i ? "," : "", json_integer_value(item));
	}
}

int admin_print_ok(FILE *f, const json_t *result)
{
	char val[ADMIN_OK_VAL_MAX], name[CELL_MAX];
	const char *key;
	json_t *v;

	fputs("OK", f);
	json_object_foreach((json_t *)result, key, v)
	{
		copy_clean(name, sizeof(name), key, strlen(key));
		if (json_is_string(v)) {
			copy_clean(val, sizeof(val), json_string_value(v), json_string_length(v));
			fprintf(f, strpbrk(val, " \"") ? " %s=\"%s\"" : " %s=%s", name, val);
		} else if (json_is_integer(v))
			fprintf(f, " %s=%" JSON_INTEGER_FORMAT, name, json_integer_value(v));
		else if (json_is_real(v))
			fprintf(f, " %s=%g", name, json_real_value(v));
		else if (json_is_boolean(v))
			fprintf(f, " %s=%s", name, json_is_true(v) ? "true" : "false");
		else if (json_is_array(v))
			print_int_list(f, name, v);
		/* Objects, nulls and other arrays: --json shows them. */
	}
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

/* ---- the connection ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline_ms - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* A non-blocking connect finished by the deadline: 0 or -errno. */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline_ms)
{
	int so_err = 0, rc;
	socklen_t so_len = sizeof(so_err);

	while (connect(fd, sa, len) != 0) {
		if (errno == EINTR)
			continue;
		/* A Unix socket with a full backlog says EAGAIN: try again, bounded. */
		if (errno == EAGAIN && sa->sa_family == AF_UNIX) {
			if (now_ms() + UNIX_RETRY_MS >= deadline_ms)
				return -ETIMEDOUT;
			nanosleep(&(struct timespec){ .tv_nsec = UNIX_RETRY_MS * 1000000L }, NULL);
			continue;
		}
		if (errno != EINPROGRESS)
			return -errno;
		rc = wait_fd(fd, POLLOUT, deadline_ms);
		if (rc != 0)
			return rc;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &so_len) != 0)
			return -errno;
		return -so_err;
	}
	return 0;
}

static int connect_unix(struct admin_conn *c, int64_t deadline_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc;

	if (fd < 0)
		return -errno;
	memcpy(sun.sun_path, c->addr.path, strlen(c->addr.path) + 1);
	rc = connect_wait(fd, (const struct sockaddr *)&sun, sizeof(sun), deadline_ms);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	c->fd = fd;
	return 0;
}

/* Each address the name resolves to in turn, until one connects or the deadline. */
static int connect_tcp(struct admin_conn *c, int64_t deadline_ms, char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ais, *ai;
	int rc = -EHOSTUNREACH, gai;

	/* getaddrinfo has no deadline: a numeric address or /etc/hosts does not wait. */
	gai = getaddrinfo(c->addr.host, c->addr.port, &hints, &ais);
	if (gai != 0) {
		set_err(err, err_len, "%s: %s", c->addr.host,
			gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -EHOSTUNREACH;
	}
	for (ai = ais; ai != NULL && rc != 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);

		if (fd < 0) {
			rc = -errno;
			continue;
		}
		rc = connect_wait(fd, ai->ai_addr, ai->ai_addrlen, deadline_ms);
		if (rc == 0)
			c->fd = fd;
		else
			close(fd);
	}
	freeaddrinfo(ais);
	if (rc != 0)
		set_err(err, err_len, "%s", strerror(-rc));
	return rc;
}

static int conn_connect(struct admin_conn *c, int64_t deadline_ms, char *err, size_t err_len)
{
	char where[ADMIN_HOST_MAX + 16], why[ADMIN_ERR_MAX] = "";
	int rc;

	c->len = 0;
	c->requests = 0;
	rc = c->addr.is_unix ? connect_unix(c, deadline_ms)
			     : connect_tcp(c, deadline_ms, why, sizeof(why));
	if (rc == 0)
		return 0;
	addr_text(&c->addr, where, sizeof(where));
	if (rc == -ETIMEDOUT)
		set_err(err, err_len,
			"cannot reach the controller at %s: no connection within %u ms", where,
			c->timeout_ms);
	else
		set_err(err, err_len, "cannot reach the controller at %s: %s", where,
			why[0] ? why : strerror(-rc));
	return -ENOTCONN;
}

static void conn_drop(struct admin_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->requests = 0;
}

/* A reused connection the controller closed (or wrote to unasked) is dropped before a
 * request goes out on it: nothing was sent, so any request may go on a fresh one. */
static void conn_check_idle(struct admin_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (c->fd >= 0 && (c->len > 0 || poll(&p, 1, 0) != 0))
		conn_drop(c);
}

int admin_conn_init(struct admin_conn *c, const struct admin_addr *addr, const char *token,
		    uint32_t timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->addr = *addr;
	c->token = token;
	c->timeout_ms = timeout_ms;
	c->fd = -1;
	c->buf = malloc(SL_ADMIN_LINE_MAX);
	return c->buf != NULL ? 0 : -ENOMEM;
}

void admin_conn_close(struct admin_conn *c)
{
	conn_drop(c);
	free(c->buf);
	c->buf = NULL;
}

/* The token as a JSON string body: it never passes through jansson, whose copies are
 * freed without being wiped. Printable ASCII only (shiplogctl checks), escaped anyway. */
static size_t token_escape(const char *token, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = token; *p && n + 2 < cap; p++) {
		if (*p == '"' || *p == '\\')
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n] = '\0';
	return n;
}

/* The request line, newline included, in a malloc'd buffer of *len bytes (wiped and
 * freed by the caller). NULL: out of memory, or over SL_ADMIN_LINE_MAX (*len says). */
static char *request_line(const struct admin_conn *c, const char *cmd, const json_t *args,
			  size_t *len)
{
	char tok[2 * ADMIN_TOKEN_MAX + 1];
	json_t *o = args ? json_pack("{s:s, s:O}", "cmd", cmd, "args", (json_t *)args)
			 : json_pack("{s:s, s:{}}", "cmd", cmd, "args");
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL, *line = NULL;
	size_t tok_len = c->token ? token_escape(c->token, tok, sizeof(tok)) : 0;
	size_t cap;

	json_decref(o);
	if (body == NULL)
		return NULL;
	/* {"v":1,"token":"...", then the body without its '{' */
	cap = 32 + tok_len + strlen(body) + 2;
	if (cap <= SL_ADMIN_LINE_MAX && (line = malloc(cap)) != NULL)
		*len = (size_t)snprintf(line, cap, "{\"v\":%d,%s%s%s%s\n", SL_ADMIN_PROTO_VERSION,
					c->token ? "\"token\":\"" : "", c->token ? tok : "",
					c->token ? "\"," : "", body + 1);
	else
		*len = cap;
	explicit_bzero(tok, sizeof(tok));
	free(body);
	return line;
}

/* All of buf, or -errno (-ETIMEDOUT at the deadline). */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline_ms)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int rc;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = wait_fd(fd, POLLOUT, deadline_ms);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The next line in c->buf (newline replaced by NUL): its length, or -errno. */
static long recv_line(struct admin_conn *c, int64_t deadline_ms)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;
		int rc;

		if (nl != NULL) {
			*nl = '\0';
			return nl - c->buf;
		}
		if (c->len == SL_ADMIN_LINE_MAX)
			return -EMSGSIZE;
		n = recv(c->fd, c->buf + c->len, SL_ADMIN_LINE_MAX - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return errno == EPIPE ? -ECONNRESET : -errno;
		rc = wait_fd(c->fd, POLLIN, deadline_ms);
		if (rc != 0)
			return rc;
	}
}

/* One request on a connected c: 0 with *a, or admin_call's errors. */
static int exchange(struct admin_conn *c, const char *line, size_t len, struct admin_answer *a,
		    int64_t deadline_ms, char *err, size_t err_len)
{
	long n;
	int rc = send_all(c->fd, line, len, deadline_ms);

	if (rc == -EPIPE)
		rc = -ECONNRESET;
	n = rc == 0 ? recv_line(c, deadline_ms) : rc;
	if (n == -ETIMEDOUT)
		set_err(err, err_len, "no answer from the controller within %u ms", c->timeout_ms);
	else if (n == -ECONNRESET)
		set_err(err, err_len, "the controller closed the connection without answering");
	else if (n == -EMSGSIZE)
		set_err(err, err_len, "the answer is longer than %d bytes", SL_ADMIN_LINE_MAX);
	else if (n < 0)
		set_err(err, err_len, "talking to the controller: %s", strerror((int)-n));
	if (n < 0)
		return n == -EMSGSIZE			     ? -EPROTO
		       : n == -ETIMEDOUT || n == -ECONNRESET ? (int)n
							     : -EIO;
	rc = admin_answer_parse(c->buf, (size_t)n, a, err, err_len);
	/* Answers come in order: what follows the line belongs to the next request. */
	c->len -= (size_t)n + 1;
	memmove(c->buf, c->buf + n + 1, c->len);
	c->requests++;
	return rc;
}

int admin_call(struct admin_conn *c, const char *cmd, const json_t *args, bool idempotent,
	       struct admin_answer *a, char *err, size_t err_len)
{
	int64_t deadline_ms = now_ms() + c->timeout_ms;
	size_t len = 0;
	char *line = request_line(c, cmd, args, &len);
	bool reused;
	int rc;

	memset(a, 0, sizeof(*a));
	if (line == NULL) {
		set_err(err, err_len, "the request is %s",
			len ? "over the line limit" : "not built");
		return len ? -EMSGSIZE : -ENOMEM;
	}
	conn_check_idle(c);
	reused = c->fd >= 0;
	rc = c->fd >= 0 ? 0 : conn_connect(c, deadline_ms, err, err_len);
	if (rc == 0)
		rc = exchange(c, line, len, a, deadline_ms, err, err_len);
	/* A reused connection may have closed while idle after the check: only a request that
	 * may be done twice goes again, and only once. */
	if (rc == -ECONNRESET && reused && idempotent) {
		conn_drop(c);
		rc = conn_connect(c, deadline_ms, err, err_len);
		if (rc == 0)
			rc = exchange(c, line, len, a, deadline_ms, err, err_len);
	}
	/* After a failure the stream's state is unknown: the next request starts afresh. */
	if (rc != 0)
		conn_drop(c);
	explicit_bzero(line, len);
	free(line);
	return rc;
}
