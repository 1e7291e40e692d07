/* Commit policy: validation and the text form that CONFIG records carry. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <shiplog/policy.h>

#define POLICY_DIM(a)	  (sizeof(a) / sizeof((a)[0]))
#define POLICY_SHOW_MAX	  32 /* bytes of a bad token quoted in an error */
#define POLICY_U32_DIGITS 10 /* decimal digits of UINT32_MAX */

static const char *const kind_names[] = { "async", "first", "any", "all" };
static const char *const level_names[] = { "received", "flushed", "applied" };
static const char *const dur_names[] = { "none", "fsync" };

enum policy_opt { OPT_LEVEL, OPT_DURABILITY, OPT_SYNC_TIMEOUT, OPT__MAX };
static const char *const opt_names[OPT__MAX] = { "level", "durability", "sync_timeout_ms" };

enum policy_num { NUM_OK = 0, NUM_NOT_DECIMAL = -1, NUM_OVERFLOW = -2 };

/* A slice of the input. The input is not NUL-terminated, so nothing here is a C string. */
struct policy_tok {
	const char *s;
	size_t len;
};

struct policy_lex {
	const char *s;
	size_t len;
	size_t pos; /* invariant: pos <= len */
	char *err;
	size_t err_len;
};

static const char *name_of(const char *const *names, size_t n, unsigned i)
{
	return i < n ? names[i] : "unknown";
}

const char *sl_level_name(unsigned level)
{
	return name_of(level_names, POLICY_DIM(level_names), level);
}

const char *sl_durability_name(unsigned d)
{
	return name_of(dur_names, POLICY_DIM(dur_names), d);
}

const char *sl_policy_kind_name(unsigned kind)
{
	return name_of(kind_names, POLICY_DIM(kind_names), kind);
}

struct sl_policy sl_policy_default(void)
{
	struct sl_policy p;

	memset(&p, 0, sizeof(p));
	p.kind = SL_POLICY_ALL;
	p.level = SL_LEVEL_FLUSHED;
	p.durability = SL_DUR_FSYNC;
	return p;
}

static bool kind_has_nodes(unsigned kind)
{
	return kind == SL_POLICY_FIRST || kind == SL_POLICY_ANY;
}

/* The node list part of sl_policy_valid(): ids in range, no repeats, unused slots zero. */
static bool nodes_valid(const struct sl_policy *p)
{
	uint64_t seen = 0;

	for (unsigned i = 0; i < p->n_nodes; i++) {
		unsigned id = p->nodes[i];

		if (id < 1 || id > SL_POLICY_NODE_ID_MAX || (seen & (1ull << (id - 1))))
			return false;
		seen |= 1ull << (id - 1);
	}
	for (unsigned i = p->n_nodes; i < SL_POLICY_NODES_MAX; i++)
		if (p->nodes[i] != 0)
			return false;
	return true;
}

int sl_policy_valid(const struct sl_policy *p)
{
	if (p == NULL || p->kind > SL_POLICY_ALL || p->level > SL_LEVEL_APPLIED ||
	    p->durability > SL_DUR_FSYNC || p->sync_timeout_ms > SL_POLICY_TIMEOUT_MS_MAX)
		return 0;
	if (p->reserved[0] | p->reserved[1] | p->reserved[2])
		return 0;
	if (kind_has_nodes(p->kind)) {
		if (p->n_nodes < 1 || p->n_nodes > SL_POLICY_NODES_MAX || p->k < 1 ||
		    p->k > p->n_nodes)
			return 0;
	} else if (p->k != 0 || p->n_nodes != 0) {
		return 0;
	}
	return nodes_valid(p);
}

/* ---- lexing: every read goes through lex_peek(), which stops at len ---- */

static bool lex_eof(const struct policy_lex *lx)
{
	return lx->pos >= lx->len;
}

/* The next byte, or NUL at the end (NUL in the input is garbage anyway). */
static char lex_peek(const struct policy_lex *lx)
{
	return lex_eof(lx) ? '\0' : lx->s[lx->pos];
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* ASCII only, by hand: <ctype.h> answers by locale. */
static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static void lex_skip_ws(struct policy_lex *lx)
{
	while (!lex_eof(lx) && is_ws(lex_peek(lx)))
		lx->pos++;
}

static bool lex_accept(struct policy_lex *lx, char c)
{
	if (lex_eof(lx) || lex_peek(lx) != c)
		return false;
	lx->pos++;
	return true;
}

/* The longest run at pos whose bytes satisfy pred; consumed if take. */
static struct policy_tok lex_run(struct policy_lex *lx, bool (*pred)(char), bool want, bool take)
{
	size_t end = lx->pos;
	struct policy_tok t = { .s = lx->s + lx->pos };

	while (end < lx->len && pred(lx->s[end]) == want)
		end++;
	t.len = end - lx->pos;
	if (take)
		lx->pos = end;
	return t;
}

/* Keywords, option names, k and node ids: [A-Za-z0-9_]+, so "first1" is one (bad) word. */
static struct policy_tok lex_word(struct policy_lex *lx)
{
	return lex_run(lx, is_word, true, true);
}

/* Option values run to the next blank, so "applied)" is refused whole, not half-read. */
static struct policy_tok lex_value(struct policy_lex *lx)
{
	return lex_run(lx, is_ws, false, true);
}

/* What is at pos, for an error message; not consumed. */
static struct policy_tok lex_rest(struct policy_lex *lx)
{
	return lex_run(lx, is_ws, false, false);
}

static bool tok_eq(struct policy_tok t, const char *kw)
{
	size_t n = strlen(kw);

	return t.len == n && memcmp(t.s, kw, n) == 0;
}

static int tok_lookup(struct policy_tok t, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tok_eq(t, names[i]))
			return (int)i;
	return -1;
}

/*
 * Decimal digits only: no sign, no blanks, no locale. Leading zeros are skipped so any
 * number of them is fine, and more significant digits than UINT32_MAX has is refused
 * before it could wrap.
 */
static enum policy_num tok_to_u32(struct policy_tok t, uint32_t *v)
{
	uint64_t acc = 0;
	size_t i = 0, sig = 0;

	if (t.len == 0)
		return NUM_NOT_DECIMAL;
	for (size_t j = 0; j < t.len; j++)
		if (t.s[j] < '0' || t.s[j] > '9')
			return NUM_NOT_DECIMAL;
	while (i < t.len && t.s[i] == '0')
		i++;
	for (; i < t.len; i++, sig++) {
		if (sig >= POLICY_U32_DIGITS)
			return NUM_OVERFLOW;
		acc = acc * 10 + (uint64_t)(t.s[i] - '0');
	}
	if (acc > UINT32_MAX)
		return NUM_OVERFLOW;
	*v = (uint32_t)acc;
	return NUM_OK;
}

/* A bad token as err quotes it: bounded and printable, so err stays one short line. */
static const char *tok_show(struct policy_tok t, char *buf, size_t cap)
{
	size_t n = t.len < cap - 4 ? t.len : cap - 4;

	for (size_t i = 0; i < n; i++)
		buf[i] = (t.s[i] >= 0x20 && t.s[i] < 0x7f) ? t.s[i] : '?';
	if (n < t.len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static int lex_fail(struct policy_lex *lx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Always -EINVAL: a policy is refused whole, err only says why. */
static int lex_fail(struct policy_lex *lx, const char *fmt, ...)
{
	va_list ap;

	if (lx->err != NULL && lx->err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(lx->err, lx->err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* One message per way a number can be refused; what says which number it was. */
static int lex_fail_num(struct policy_lex *lx, const char *what, struct policy_tok t,
			enum policy_num rc)
{
	char show[POLICY_SHOW_MAX];

	if (rc == NUM_OVERFLOW)
		return lex_fail(lx, "%s '%s': integer overflow", what,
				tok_show(t, show, sizeof(show)));
	return lex_fail(lx, "%s '%s' is not a decimal number", what,
			tok_show(t, show, sizeof(show)));
}

/* ---- parsing: one function per grammar rule ---- */

static int parse_node_id(struct policy_lex *lx, struct policy_tok t, uint16_t *id)
{
	struct policy_tok num = t;
	enum policy_num rc;
	uint32_t v;

	if (t.len == 0) {
		char show[POLICY_SHOW_MAX];

		if (lex_eof(lx))
			return lex_fail(lx, "node list ended early: missing node id and ')'");
		return lex_fail(lx, "expected a node id, found '%s'",
				tok_show(lex_rest(lx), show, sizeof(show)));
	}
	if (num.s[0] == 'n') {
		num.s++;
		num.len--;
	}
	rc = tok_to_u32(num, &v);
	if (rc != NUM_OK)
		return lex_fail_num(lx, "node id", t, rc);
	if (v < 1 || v > SL_POLICY_NODE_ID_MAX)
		return lex_fail(lx, "node id %u out of range 1..%u", v, SL_POLICY_NODE_ID_MAX);
	*id = (uint16_t)v;
	return 0;
}

/* "(" node ("," node)* ")": ids in priority order, each once. */
static int parse_nodes(struct policy_lex *lx, struct sl_policy *p)
{
	char show[POLICY_SHOW_MAX];
	uint64_t seen = 0;
	uint16_t id = 0;
	int rc;

	lex_skip_ws(lx);
	if (!lex_accept(lx, '('))
		return lex_fail(lx, "%s: expected '(' and a node list after k, found '%s'",
				kind_names[p->kind], tok_show(lex_rest(lx), show, sizeof(show)));
	for (;;) {
		lex_skip_ws(lx);
		rc = parse_node_id(lx, lex_word(lx), &id);
		if (rc != 0)
			return rc;
		if (p->n_nodes == SL_POLICY_NODES_MAX)
			return lex_fail(lx, "too many nodes: at most %u", SL_POLICY_NODES_MAX);
		if (seen & (1ull << (id - 1)))
			return lex_fail(lx, "duplicate node n%u in the list", id);
		seen |= 1ull << (id - 1);
		p->nodes[p->n_nodes++] = id;
		lex_skip_ws(lx);
		if (lex_accept(lx, ','))
			continue;
		if (lex_accept(lx, ')'))
			return 0;
		if (lex_eof(lx))
			return lex_fail(lx, "node list not closed: missing ')'");
		return lex_fail(lx, "expected ',' or ')' in the node list, found '%s'",
				tok_show(lex_rest(lx), show, sizeof(show)));
	}
}

/* first|any: INT "(" nodes ")", with 1 <= k <= number of nodes. */
static int parse_quorum(struct policy_lex *lx, struct sl_policy *p)
{
	const char *kind = kind_names[p->kind];
	struct policy_tok t;
	enum policy_num num;
	uint32_t k;
	int rc;

	lex_skip_ws(lx);
	t = lex_word(lx);
	if (t.len == 0)
		return lex_fail(lx, "%s: missing k (how many of the nodes must acknowledge)", kind);
	num = tok_to_u32(t, &k);
	if (num != NUM_OK)
		return lex_fail_num(lx, "k", t, num);
	if (k == 0)
		return lex_fail(lx, "%s: k is 0; async is the policy that waits for no follower",
				kind);
	rc = parse_nodes(lx, p);
	if (rc != 0)
		return rc;
	if (k > p->n_nodes)
		return lex_fail(lx, "%s: k %u is more than the %u nodes listed", kind, k,
				p->n_nodes);
	p->k = (uint8_t)k;
	return 0;
}

static int parse_kind(struct policy_lex *lx, struct sl_policy *p)
{
	char show[POLICY_SHOW_MAX];
	struct policy_tok t;
	int kind;

	lex_skip_ws(lx);
	if (lex_eof(lx))
		return lex_fail(lx, "empty policy: expected a kind (async, first, any, all)");
	t = lex_word(lx);
	kind = tok_lookup(t, kind_names, POLICY_DIM(kind_names));
	if (kind < 0) {
		if (t.len == 0)
			t = lex_rest(lx);
		return lex_fail(lx, "unknown policy kind '%s' (async, first, any, all)",
				tok_show(t, show, sizeof(show)));
	}
	p->kind = (uint8_t)kind;
	if (kind_has_nodes(p->kind))
		return parse_quorum(lx, p);
	lex_skip_ws(lx);
	if (lex_peek(lx) == '(')
		return lex_fail(lx, "%s takes no node list", kind_names[kind]);
	return 0;
}

static int parse_option_value(struct policy_lex *lx, struct sl_policy *p, enum policy_opt opt,
			      struct policy_tok v)
{
	char show[POLICY_SHOW_MAX];
	enum policy_num num;
	uint32_t ms;
	int i;

	if (v.len == 0)
		return lex_fail(lx, "option %s has no value", opt_names[opt]);
	switch (opt) {
	case OPT_LEVEL:
		i = tok_lookup(v, level_names, POLICY_DIM(level_names));
		if (i < 0)
			return lex_fail(lx, "bad value '%s' for level (received, flushed, applied)",
					tok_show(v, show, sizeof(show)));
		p->level = (uint8_t)i;
		return 0;
	case OPT_DURABILITY:
		i = tok_lookup(v, dur_names, POLICY_DIM(dur_names));
		if (i < 0)
			return lex_fail(lx, "bad value '%s' for durability (none, fsync)",
					tok_show(v, show, sizeof(show)));
		p->durability = (uint8_t)i;
		return 0;
	default:
		num = tok_to_u32(v, &ms);
		if (num != NUM_OK)
			return lex_fail_num(lx, "sync_timeout_ms", v, num);
		if (ms > SL_POLICY_TIMEOUT_MS_MAX)
			return lex_fail(lx, "bad value %u for sync_timeout_ms: out of range 0..%u",
					ms, SL_POLICY_TIMEOUT_MS_MAX);
		p->sync_timeout_ms = ms;
		return 0;
	}
}

/* option*: each at most once, so a CONFIG record has one meaning, not "last one wins". */
static int parse_options(struct policy_lex *lx, struct sl_policy *p)
{
	char show[POLICY_SHOW_MAX];
	unsigned given = 0;
	struct policy_tok t;
	int opt, rc;

	for (;;) {
		lex_skip_ws(lx);
		if (lex_eof(lx))
			return 0;
		t = lex_word(lx);
		if (t.len == 0)
			return lex_fail(lx, "garbage after the policy: '%s'",
					tok_show(lex_rest(lx), show, sizeof(show)));
		opt = tok_lookup(t, opt_names, OPT__MAX);
		if (opt < 0)
			return lex_fail(lx,
					"unknown option '%s' (level, durability, sync_timeout_ms)",
					tok_show(t, show, sizeof(show)));
		if (given & (1u << opt))
			return lex_fail(lx, "option %s given twice", opt_names[opt]);
		given |= 1u << opt;
		lex_skip_ws(lx);
		if (!lex_accept(lx, '='))
			return lex_fail(lx, "option %s: expected '=' and a value", opt_names[opt]);
		lex_skip_ws(lx);
		rc = parse_option_value(lx, p, (enum policy_opt)opt, lex_value(lx));
		if (rc != 0)
			return rc;
	}
}

int sl_policy_parse(const char *text, size_t len, struct sl_policy *out, char *err, size_t err_len)
{
	struct policy_lex lx = { .s = text, .len = len, .err = err, .err_len = err_len };
	struct sl_policy p = sl_policy_default();
	int rc;

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (out == NULL || (text == NULL && len > 0))
		return lex_fail(&lx, "no policy text or no place to put it");
	/* Start from the defaults: they are the values of options not given. */
	rc = parse_kind(&lx, &p);
	if (rc == 0)
		rc = parse_options(&lx, &p);
	if (rc != 0)
		return rc;
	/* What parse accepts, valid() accepts: the CLI and the core check the same rules. */
	assert(sl_policy_valid(&p));
	*out = p;
	return 0;
}

/* ---- formatting: by hand, so the text cannot depend on the locale ---- */

struct policy_out {
	char *s;
	size_t cap;
	size_t len;
};

static void out_str(struct policy_out *o, const char *str)
{
	for (; *str != '\0'; str++) {
		if (o->len < o->cap)
			o->s[o->len] = *str;
		o->len++;
	}
}

static void out_u32(struct policy_out *o, uint32_t v)
{
	char digits[POLICY_U32_DIGITS + 1];
	size_t n = sizeof(digits) - 1;

	digits[n] = '\0';
	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	out_str(o, digits + n);
}

size_t sl_policy_format(const struct sl_policy *p, char *buf, size_t cap)
{
	char tmp[SL_POLICY_TEXT_MAX];
	struct policy_out o = { .s = tmp, .cap = sizeof(tmp) };

	if (!sl_policy_valid(p))
		return 0;
	out_str(&o, kind_names[p->kind]);
	if (kind_has_nodes(p->kind)) {
		out_str(&o, " ");
		out_u32(&o, p->k);
		for (unsigned i = 0; i < p->n_nodes; i++) {
			out_str(&o, i == 0 ? " (n" : ",n");
			out_u32(&o, p->nodes[i]);
		}
		out_str(&o, ")");
	}
	out_str(&o, " level=");
	out_str(&o, level_names[p->level]);
	out_str(&o, " durability=");
	out_str(&o, dur_names[p->durability]);
	out_str(&o, " sync_timeout_ms=");
	out_u32(&o, p->sync_timeout_ms);
	/* The longest valid policy is about 130 bytes: SL_POLICY_TEXT_MAX cannot overflow. */
	assert(o.len < sizeof(tmp));
	/* All or nothing: a caller never sees a truncated policy that still parses. */
	if (buf == NULL || o.len >= cap)
		return 0;
	memcpy(buf, tmp, o.len);
	buf[o.len] = '\0';
	return o.len;
}
