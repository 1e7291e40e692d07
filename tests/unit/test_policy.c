/* Commit policy: parsing, canonical text, round trips, and one test per refusal. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <shiplog/policy.h>

#include "testutil.h"

#define ROUND_TRIPS 20000

/*
 * Parses a copy of exactly len bytes in its own allocation, so that a read past len is
 * an ASan report in the sanitized build rather than a lucky NUL.
 */
static int parse_n(const char *s, size_t len, struct sl_policy *p, char *err, size_t err_len)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = sl_policy_parse(copy, len, p, err, err_len);
	free(copy);
	return rc;
}

static struct sl_policy parse_ok(const char *s)
{
	struct sl_policy p;
	char err[128];
	int rc;

	memset(&p, 0xa5, sizeof(p));
	rc = parse_n(s, strlen(s), &p, err, sizeof(err));
	if (rc != 0)
		fail_msg("'%s' refused: %s", s, err);
	assert_int_equal(err[0], '\0');
	assert_true(sl_policy_valid(&p));
	return p;
}

/* Refused with -EINVAL, *out untouched, and err says which problem. */
static void parse_fails(const char *s, const char *needle)
{
	struct sl_policy p, before;
	char err[128];
	int rc;

	memset(&p, 0x5a, sizeof(p));
	before = p;
	rc = parse_n(s, strlen(s), &p, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("'%s' gave %d, expected -EINVAL", s, rc);
	assert_int_not_equal(err[0], '\0');
	assert_null(strchr(err, '\n'));
	if (strstr(err, needle) == NULL)
		fail_msg("'%s': error '%s' does not mention '%s'", s, err, needle);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void expect_format(const struct sl_policy *p, const char *want)
{
	char buf[SL_POLICY_TEXT_MAX];
	size_t n = sl_policy_format(p, buf, sizeof(buf));

	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);
}

static struct sl_policy quorum(uint8_t kind, uint8_t k, const uint16_t *nodes, uint8_t n)
{
	struct sl_policy p = sl_policy_default();

	p.kind = kind;
	p.k = k;
	p.n_nodes = n;
	memcpy(p.nodes, nodes, n * sizeof(nodes[0]));
	return p;
}

static void test_default(void **state)
{
	struct sl_policy p = sl_policy_default();

	(void)state;
	assert_int_equal(p.kind, SL_POLICY_ALL);
	assert_int_equal(p.level, SL_LEVEL_FLUSHED);
	assert_int_equal(p.durability, SL_DUR_FSYNC);
	assert_int_equal(p.sync_timeout_ms, 0);
	assert_true(sl_policy_valid(&p));
	expect_format(&p, "all level=flushed durability=fsync sync_timeout_ms=0");
	struct sl_policy q = parse_ok("all");
	assert_memory_equal(&p, &q, sizeof(p));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(sl_level_name(SL_LEVEL_RECEIVED), "received");
	assert_string_equal(sl_level_name(SL_LEVEL_FLUSHED), "flushed");
	assert_string_equal(sl_level_name(SL_LEVEL_APPLIED), "applied");
	assert_string_equal(sl_level_name(3), "unknown");
	assert_string_equal(sl_durability_name(SL_DUR_NONE), "none");
	assert_string_equal(sl_durability_name(SL_DUR_FSYNC), "fsync");
	assert_string_equal(sl_durability_name(2), "unknown");
	assert_string_equal(sl_policy_kind_name(SL_POLICY_ASYNC), "async");
	assert_string_equal(sl_policy_kind_name(SL_POLICY_FIRST), "first");
	assert_string_equal(sl_policy_kind_name(SL_POLICY_ANY), "any");
	assert_string_equal(sl_policy_kind_name(SL_POLICY_ALL), "all");
	assert_string_equal(sl_policy_kind_name(4), "unknown");
	assert_string_equal(sl_policy_kind_name(~0u), "unknown");
}

static void test_parse_async_all(void **state)
{
	struct sl_policy p;

	(void)state;
	p = parse_ok("async");
	assert_int_equal(p.kind, SL_POLICY_ASYNC);
	assert_int_equal(p.level, SL_LEVEL_FLUSHED);
	assert_int_equal(p.durability, SL_DUR_FSYNC);
	assert_int_equal(p.k, 0);
	assert_int_equal(p.n_nodes, 0);
	p = parse_ok(" \tasync durability=none\t ");
	assert_int_equal(p.kind, SL_POLICY_ASYNC);
	assert_int_equal(p.durability, SL_DUR_NONE);
	p = parse_ok("all level=received");
	assert_int_equal(p.kind, SL_POLICY_ALL);
	assert_int_equal(p.level, SL_LEVEL_RECEIVED);
	p = parse_ok("all\tsync_timeout_ms=3600000  level = applied durability=\tfsync");
	assert_int_equal(p.level, SL_LEVEL_APPLIED);
	assert_int_equal(p.durability, SL_DUR_FSYNC);
	assert_int_equal(p.sync_timeout_ms, 3600000);
}

static void test_parse_first_any(void **state)
{
	struct sl_policy p;

	(void)state;
	p = parse_ok("first 1 (n2,n3)");
	assert_int_equal(p.kind, SL_POLICY_FIRST);
	assert_int_equal(p.k, 1);
	assert_int_equal(p.n_nodes, 2);
	assert_int_equal(p.nodes[0], 2);
	assert_int_equal(p.nodes[1], 3);
	assert_int_equal(p.nodes[2], 0);
	assert_int_equal(p.level, SL_LEVEL_FLUSHED);
	p = parse_ok("any 2 (2, 3, 4) level=applied durability=none sync_timeout_ms=50");
	assert_int_equal(p.kind, SL_POLICY_ANY);
	assert_int_equal(p.k, 2);
	assert_int_equal(p.n_nodes, 3);
	assert_int_equal(p.nodes[2], 4);
	assert_int_equal(p.level, SL_LEVEL_APPLIED);
	assert_int_equal(p.durability, SL_DUR_NONE);
	assert_int_equal(p.sync_timeout_ms, 50);
	/* Odd blanks everywhere a token boundary is; priority order is kept as written. */
	p = parse_ok("\t first\t2(\tn64 ,1,\tn7 )sync_timeout_ms=007 \t");
	assert_int_equal(p.kind, SL_POLICY_FIRST);
	assert_int_equal(p.k, 2);
	assert_int_equal(p.n_nodes, 3);
	assert_int_equal(p.nodes[0], 64);
	assert_int_equal(p.nodes[1], 1);
	assert_int_equal(p.nodes[2], 7);
	assert_int_equal(p.sync_timeout_ms, 7);
	p = parse_ok("any 16 (1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16)");
	assert_int_equal(p.k, 16);
	assert_int_equal(p.n_nodes, SL_POLICY_NODES_MAX);
}

static void test_format_canonical(void **state)
{
	static const uint16_t n23[] = { 2, 3 }, n234[] = { 2, 3, 4 };
	struct sl_policy p;

	(void)state;
	p = quorum(SL_POLICY_FIRST, 1, n23, 2);
	expect_format(&p, "first 1 (n2,n3) level=flushed durability=fsync sync_timeout_ms=0");
	p = quorum(SL_POLICY_ANY, 2, n234, 3);
	p.level = SL_LEVEL_APPLIED;
	p.durability = SL_DUR_NONE;
	p.sync_timeout_ms = 50;
	expect_format(&p, "any 2 (n2,n3,n4) level=applied durability=none sync_timeout_ms=50");
	p = sl_policy_default();
	p.kind = SL_POLICY_ASYNC;
	expect_format(&p, "async level=flushed durability=fsync sync_timeout_ms=0");
	p = parse_ok("all level=received");
	expect_format(&p, "all level=received durability=fsync sync_timeout_ms=0");
	p = parse_ok("  any 2 (2, 3, 4) level=applied durability=none sync_timeout_ms=50 ");
	expect_format(&p, "any 2 (n2,n3,n4) level=applied durability=none sync_timeout_ms=50");
}

/* A random valid policy: every field drawn over its whole allowed range. */
static struct sl_policy gen_policy(uint64_t *rng)
{
	struct sl_policy p = sl_policy_default();
	uint64_t seen = 0;

	p.kind = (uint8_t)(test_rand(rng) % 4);
	p.level = (uint8_t)(test_rand(rng) % 3);
	p.durability = (uint8_t)(test_rand(rng) % 2);
	switch (test_rand(rng) % 4) {
	case 0:
		p.sync_timeout_ms = 0;
		break;
	case 1:
		p.sync_timeout_ms = SL_POLICY_TIMEOUT_MS_MAX;
		break;
	default:
		p.sync_timeout_ms = (uint32_t)(test_rand(rng) % (SL_POLICY_TIMEOUT_MS_MAX + 1));
	}
	if (p.kind != SL_POLICY_FIRST && p.kind != SL_POLICY_ANY)
		return p;
	p.n_nodes = (uint8_t)(1 + test_rand(rng) % SL_POLICY_NODES_MAX);
	p.k = (uint8_t)(1 + test_rand(rng) % p.n_nodes);
	for (unsigned i = 0; i < p.n_nodes; i++) {
		unsigned id;

		do
			id = 1 + (unsigned)(test_rand(rng) % SL_POLICY_NODE_ID_MAX);
		while (seen & (1ull << (id - 1)));
		seen |= 1ull << (id - 1);
		p.nodes[i] = (uint16_t)id;
	}
	return p;
}

static void test_round_trip(void **state)
{
	uint64_t seed = test_seed(), rng = seed;
	char buf[SL_POLICY_TEXT_MAX], again[SL_POLICY_TEXT_MAX];

	(void)state;
	for (int i = 0; i < ROUND_TRIPS; i++) {
		struct sl_policy p = gen_policy(&rng), q;
		char err[128];
		size_t n, m;

		assert_true(sl_policy_valid(&p));
		n = sl_policy_format(&p, buf, sizeof(buf));
		assert_true(n > 0 && n < SL_POLICY_TEXT_MAX);
		if (parse_n(buf, n, &q, err, sizeof(err)) != 0)
			fail_msg("seed %llu: '%s' refused: %s", (unsigned long long)seed, buf, err);
		if (memcmp(&p, &q, sizeof(p)) != 0)
			fail_msg("seed %llu: '%s' read back differently", (unsigned long long)seed,
				 buf);
		m = sl_policy_format(&q, again, sizeof(again));
		assert_int_equal(m, n);
		assert_string_equal(again, buf);
	}
}

static void test_format_cap(void **state)
{
	struct sl_policy p = parse_ok("any 2 (2,3,4) level=applied durability=none");
	char buf[SL_POLICY_TEXT_MAX];
	size_t n = sl_policy_format(&p, buf, sizeof(buf));

	(void)state;
	assert_true(n > 0);
	for (size_t cap = 0; cap <= n; cap++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(sl_policy_format(&p, buf, cap), 0);
		/* All or nothing: no truncated text left behind to be mistaken for a policy. */
		assert_int_equal(buf[0], 'x');
	}
	assert_int_equal(sl_policy_format(&p, buf, n + 1), n);
	assert_int_equal(sl_policy_format(&p, NULL, 0), 0);
	p.level = 9;
	assert_int_equal(sl_policy_format(&p, buf, sizeof(buf)), 0);
}

static void test_err_unknown_kind(void **state)
{
	(void)state;
	parse_fails("sync", "unknown policy kind");
	parse_fails("ALL", "unknown policy kind");
	parse_fails("asyncx", "unknown policy kind");
	parse_fails("first1 (n2)", "unknown policy kind");
	parse_fails("(n2)", "unknown policy kind");
	parse_fails("", "empty policy");
	parse_fails(" \t ", "empty policy");
}

static void test_err_missing_k(void **state)
{
	(void)state;
	parse_fails("first", "missing k");
	parse_fails("any (n2,n3)", "missing k");
	parse_fails("first   ", "missing k");
}

static void test_err_bad_k(void **state)
{
	(void)state;
	parse_fails("first x (n2)", "not a decimal number");
	parse_fails("first 1x (n2)", "not a decimal number");
	parse_fails("any -1 (n2)", "missing k");
	parse_fails("any 1", "expected '('");
	parse_fails("any 1 n2", "expected '('");
}

static void test_err_k_zero(void **state)
{
	(void)state;
	parse_fails("first 0 (n2)", "k is 0");
	parse_fails("any 000 (n2)", "k is 0");
}

static void test_err_k_too_large(void **state)
{
	(void)state;
	parse_fails("any 3 (n2,n3)", "more than the 2 nodes");
	parse_fails("first 300 (n2)", "more than the 1 nodes");
}

static void test_err_node_range(void **state)
{
	(void)state;
	parse_fails("first 1 (n0)", "out of range");
	parse_fails("first 1 (n65)", "out of range");
	parse_fails("first 1 (65536)", "out of range");
	parse_fails("first 1 (n)", "node id");
	parse_fails("first 1 (x2)", "node id");
	parse_fails("first 1 (nn2)", "node id");
	parse_fails("first 1 ()", "expected a node id");
	parse_fails("first 1 (n2,)", "expected a node id");
}

static void test_err_duplicate_node(void **state)
{
	(void)state;
	parse_fails("any 2 (n2,n3,2)", "duplicate node n2");
	parse_fails("any 1 (n64,n64)", "duplicate");
}

static void test_err_too_many_nodes(void **state)
{
	(void)state;
	parse_fails("any 1 (1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17)", "too many nodes");
}

static void test_err_unknown_option(void **state)
{
	(void)state;
	parse_fails("async lvl=flushed", "unknown option");
	parse_fails("all Level=flushed", "unknown option");
	parse_fails("all async", "unknown option");
	parse_fails("all level", "expected '='");
	parse_fails("all level:flushed", "expected '='");
}

static void test_err_bad_option_value(void **state)
{
	(void)state;
	parse_fails("all level=fsync", "bad value");
	parse_fails("all level=applied)", "bad value");
	parse_fails("all durability=yes", "bad value");
	parse_fails("all level=", "no value");
	parse_fails("all sync_timeout_ms=3600001", "out of range");
	parse_fails("all sync_timeout_ms=-1", "not a decimal number");
	parse_fails("all sync_timeout_ms=1.5", "not a decimal number");
}

static void test_err_option_twice(void **state)
{
	(void)state;
	parse_fails("all level=applied level=applied", "given twice");
	parse_fails("async durability=none sync_timeout_ms=1 durability=fsync", "given twice");
}

static void test_err_garbage(void **state)
{
	(void)state;
	parse_fails("async;", "garbage");
	parse_fails("first 1 (n2)) level=applied", "garbage");
	parse_fails("all\nlevel=applied", "garbage");
	parse_fails("all, level=applied", "garbage");
	parse_fails("all (n2)", "no node list");
	parse_fails("first 1 (n2 n3)", "expected ',' or ')'");
	parse_fails("first 1 (n2", "missing ')'");
}

/* Long digit strings are refused, not wrapped into something that looks valid. */
static void test_err_overflow(void **state)
{
	char text[128];

	(void)state;
	parse_fails("all sync_timeout_ms=4294967296", "overflow");
	parse_fails("all sync_timeout_ms=99999999999999999999999999", "overflow");
	parse_fails("first 4294967297 (n2)", "overflow");
	parse_fails("first 1 (n18446744073709551617)", "overflow");
	/* 4294967295 fits 32 bits: refused for its range, not as an overflow. */
	parse_fails("all sync_timeout_ms=4294967295", "out of range");
	/* Leading zeros carry no magnitude. */
	snprintf(text, sizeof(text), "all sync_timeout_ms=%0*d", 80, 50);
	assert_int_equal(parse_ok(text).sync_timeout_ms, 50);
}

/* The byte at len is a valid continuation: parse must not look at it. */
static void test_no_read_past_len(void **state)
{
	static const char *const ok[] = {
		"async",
		"first 1 (n2)",
		"any 2 (2, 3, 4) level=applied durability=none sync_timeout_ms=50",
		"all level=received",
	};
	struct sl_policy p;
	char err[128];

	(void)state;
	assert_int_equal(sl_policy_parse("async", 3, &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(sl_policy_parse("first 1 (n2)", 11, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "missing ')'"));
	assert_int_equal(sl_policy_parse("all level=received", 16, &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(sl_policy_parse("async level=flushedX", 19, &p, err, sizeof(err)), 0);
	assert_int_equal(p.level, SL_LEVEL_FLUSHED);
	assert_int_equal(sl_policy_parse("all sync_timeout_ms=12", 21, &p, err, sizeof(err)), 0);
	assert_int_equal(p.sync_timeout_ms, 1);
	assert_int_equal(sl_policy_parse(NULL, 0, &p, err, sizeof(err)), -EINVAL);
	/* Every prefix of a valid text, each in an allocation of exactly its length. */
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		for (size_t len = 0; len <= strlen(ok[i]); len++) {
			int rc = parse_n(ok[i], len, &p, err, sizeof(err));

			assert_true(rc == 0 || rc == -EINVAL);
			assert_true(rc == 0 || err[0] != '\0');
		}
}

static void test_err_buffer(void **state)
{
	struct sl_policy p;
	char err[8];

	(void)state;
	assert_int_equal(sl_policy_parse("bogus", 5, &p, NULL, 0), -EINVAL);
	assert_int_equal(sl_policy_parse("bogus", 5, &p, NULL, 100), -EINVAL);
	memset(err, 'x', sizeof(err));
	assert_int_equal(sl_policy_parse("bogus", 5, &p, err, 1), -EINVAL);
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'x');
	assert_int_equal(sl_policy_parse("bogus", 5, &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(sl_policy_parse("bogus", 5, NULL, err, sizeof(err)), -EINVAL);
	/* A quoted token is bounded and printable whatever the input held. */
	{
		char big[200], msg[256];

		memset(big, 0x01, sizeof(big));
		assert_int_equal(sl_policy_parse(big, sizeof(big), &p, msg, sizeof(msg)), -EINVAL);
		assert_true(strlen(msg) < 100);
		for (const char *c = msg; *c; c++)
			assert_true(*c >= 0x20 && *c < 0x7f);
	}
}

/* Mutations of valid policies: valid() must say exactly what format + parse would. */
static void test_valid_agrees(void **state)
{
	uint64_t seed = test_seed() ^ 0x9e3779b97f4a7c15ull, rng = seed;

	(void)state;
	for (int i = 0; i < ROUND_TRIPS; i++) {
		struct sl_policy p = gen_policy(&rng), q;
		uint8_t *bytes = (uint8_t *)&p;
		char buf[SL_POLICY_TEXT_MAX];
		size_t n;

		for (uint64_t flips = test_rand(&rng) % 3; flips > 0; flips--)
			bytes[test_rand(&rng) % sizeof(p)] ^=
				(uint8_t)(1u << (test_rand(&rng) % 8));
		n = sl_policy_format(&p, buf, sizeof(buf));
		if (!sl_policy_valid(&p)) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_true(n > 0);
		assert_int_equal(parse_n(buf, n, &q, NULL, 0), 0);
		if (memcmp(&p, &q, sizeof(p)) != 0)
			fail_msg("seed %llu: valid '%s' read back differently",
				 (unsigned long long)seed, buf);
	}
}

static void test_valid_cases(void **state)
{
	static const uint16_t n23[] = { 2, 3 };
	struct sl_policy p;

	(void)state;
	assert_false(sl_policy_valid(NULL));
	p = quorum(SL_POLICY_ANY, 2, n23, 2);
	assert_true(sl_policy_valid(&p));
	p.reserved[1] = 1;
	assert_false(sl_policy_valid(&p));
	p = quorum(SL_POLICY_ANY, 3, n23, 2);
	assert_false(sl_policy_valid(&p));
	p = quorum(SL_POLICY_ANY, 0, n23, 2);
	assert_false(sl_policy_valid(&p));
	p = quorum(SL_POLICY_ANY, 1, n23, 2);
	p.nodes[5] = 4;
	assert_false(sl_policy_valid(&p));
	p = quorum(SL_POLICY_ANY, 1, n23, 2);
	p.nodes[1] = 2;
	assert_false(sl_policy_valid(&p));
	p.nodes[1] = 65;
	assert_false(sl_policy_valid(&p));
	p = quorum(SL_POLICY_FIRST, 1, n23, 0);
	assert_false(sl_policy_valid(&p));
	p = quorum(SL_POLICY_ALL, 1, n23, 2);
	assert_false(sl_policy_valid(&p));
	p = sl_policy_default();
	p.nodes[0] = 2;
	assert_false(sl_policy_valid(&p));
	p = sl_policy_default();
	p.sync_timeout_ms = SL_POLICY_TIMEOUT_MS_MAX + 1;
	assert_false(sl_policy_valid(&p));
	p = sl_policy_default();
	p.kind = 4;
	assert_false(sl_policy_valid(&p));
	p = sl_policy_default();
	p.durability = 2;
	assert_false(sl_policy_valid(&p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_parse_async_all),
		cmocka_unit_test(test_parse_first_any),
		cmocka_unit_test(test_format_canonical),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_cap),
		cmocka_unit_test(test_err_unknown_kind),
		cmocka_unit_test(test_err_missing_k),
		cmocka_unit_test(test_err_bad_k),
		cmocka_unit_test(test_err_k_zero),
		cmocka_unit_test(test_err_k_too_large),
		cmocka_unit_test(test_err_node_range),
		cmocka_unit_test(test_err_duplicate_node),
		cmocka_unit_test(test_err_too_many_nodes),
		cmocka_unit_test(test_err_unknown_option),
		cmocka_unit_test(test_err_bad_option_value),
		cmocka_unit_test(test_err_option_twice),
		cmocka_unit_test(test_err_garbage),
		cmocka_unit_test(test_err_overflow),
		cmocka_unit_test(test_no_read_past_len),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_valid_agrees),
		cmocka_unit_test(test_valid_cases),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
