/* Core key-value table: limits, refusals, digest, iteration, and a model-checked random walk. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kv.h"

#include "testutil.h"

#define ARENA_BYTES (1u << 20)
#define KEY_MAX	    16
#define VAL_MAX	    64
#define POOL_MAX    256

/* Computed once by this implementation; see test_digest_golden(). */
#define GOLDEN_DIGEST 0x414d336d619c027full

/* uint64_t so the arenas are 8-byte aligned, as core_kv_init() requires. */
static uint64_t arena[ARENA_BYTES / 8];
static uint64_t arena2[ARENA_BYTES / 8];

static struct core_kv *make_kv(uint64_t *mem, uint32_t max_keys, uint32_t key_max, uint32_t val_max,
			       uint64_t seed)
{
	struct core_kv_config cfg = {
		.max_keys = max_keys,
		.key_max = key_max,
		.val_max = val_max,
		.hash_seed = seed,
	};
	size_t need = core_kv_mem_size(&cfg);
	struct core_kv *kv;

	assert_true(need > 0 && need <= ARENA_BYTES);
	/* Dirty memory: init must not rely on the caller zeroing it. */
	memset(mem, 0xa5, need);
	kv = core_kv_init(mem, need, &cfg);
	assert_non_null(kv);
	assert_int_equal(core_kv_count(kv), 0);
	return kv;
}

static int put_str(struct core_kv *kv, const char *key, const char *val, uint64_t lsn)
{
	return core_kv_put(kv, key, (uint16_t)strlen(key), val, (uint32_t)strlen(val), lsn);
}

static int del_str(struct core_kv *kv, const char *key)
{
	return core_kv_del(kv, key, (uint16_t)strlen(key));
}

static void expect_str(const struct core_kv *kv, const char *key, const char *val, uint64_t lsn)
{
	const uint8_t *v = NULL;
	uint32_t vlen = 0;
	uint64_t l = 0;

	assert_int_equal(core_kv_get(kv, key, (uint16_t)strlen(key), &v, &vlen, &l), 0);
	assert_int_equal(vlen, strlen(val));
	if (vlen > 0)
		assert_memory_equal(v, val, vlen);
	assert_true(l == lsn);
}

static void expect_absent(const struct core_kv *kv, const char *key)
{
	assert_int_equal(core_kv_get(kv, key, (uint16_t)strlen(key), NULL, NULL, NULL), -ENOENT);
}

static void test_put_get_overwrite_del(void **state)
{
	struct core_kv *kv = make_kv(arena, 8, KEY_MAX, VAL_MAX, 1);

	(void)state;
	assert_int_equal(put_str(kv, "alpha", "one", 10), 0);
	assert_int_equal(put_str(kv, "beta", "two", 11), 0);
	assert_int_equal(core_kv_count(kv), 2);
	expect_str(kv, "alpha", "one", 10);
	expect_str(kv, "beta", "two", 11);

	assert_int_equal(put_str(kv, "alpha", "uno, longer", 12), 0);
	assert_int_equal(core_kv_count(kv), 2);
	expect_str(kv, "alpha", "uno, longer", 12);
	assert_int_equal(put_str(kv, "alpha", "", 13), 0);
	expect_str(kv, "alpha", "", 13);
	assert_int_equal(core_kv_put(kv, "gamma", 5, NULL, 0, 14), 0);
	expect_str(kv, "gamma", "", 14);

	assert_int_equal(del_str(kv, "alpha"), 0);
	assert_int_equal(core_kv_count(kv), 2);
	expect_absent(kv, "alpha");
	expect_str(kv, "beta", "two", 11);
	assert_int_equal(put_str(kv, "alpha", "again", 15), 0);
	expect_str(kv, "alpha", "again", 15);
	assert_int_equal(core_kv_count(kv), 3);
}

/* A value handed out by get may be written back: the copy is onto itself. */
static void test_put_from_own_value(void **state)
{
	struct core_kv *kv = make_kv(arena, 4, KEY_MAX, VAL_MAX, 2);
	const uint8_t *v;
	uint32_t vlen;

	(void)state;
	assert_int_equal(put_str(kv, "k", "self", 1), 0);
	assert_int_equal(core_kv_get(kv, "k", 1, &v, &vlen, NULL), 0);
	assert_int_equal(core_kv_put(kv, "k", 1, v, vlen, 2), 0);
	expect_str(kv, "k", "self", 2);
	assert_int_equal(core_kv_get(kv, "k", 1, &v, &vlen, NULL), 0);
	assert_int_equal(core_kv_put(kv, "other", 5, v, vlen, 3), 0);
	expect_str(kv, "other", "self", 3);
}

static void test_missing(void **state)
{
	struct core_kv *kv = make_kv(arena, 8, KEY_MAX, VAL_MAX, 3);
	const uint8_t *v = (const uint8_t *)"untouched";
	uint32_t vlen = 77;
	uint64_t lsn = 88;

	(void)state;
	assert_int_equal(core_kv_get(kv, "nope", 4, &v, &vlen, &lsn), -ENOENT);
	assert_string_equal((const char *)v, "untouched");
	assert_int_equal(vlen, 77);
	assert_true(lsn == 88);
	assert_int_equal(del_str(kv, "nope"), -ENOENT);
	assert_int_equal(put_str(kv, "here", "x", 1), 0);
	/* Prefixes and extensions of a stored key are other keys. */
	expect_absent(kv, "her");
	expect_absent(kv, "heree");
	assert_int_equal(del_str(kv, "her"), -ENOENT);
	assert_int_equal(del_str(kv, "here"), 0);
	assert_int_equal(del_str(kv, "here"), -ENOENT);
	/* Keys that cannot exist are absent, not errors of another kind. */
	assert_int_equal(core_kv_get(kv, "", 0, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(core_kv_del(kv, "", 0), -ENOENT);
	assert_int_equal(core_kv_get(kv, arena2, KEY_MAX + 1, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(core_kv_del(kv, arena2, KEY_MAX + 1), -ENOENT);
}

static void test_limits(void **state)
{
	static uint8_t big[UINT16_MAX + 1];
	struct core_kv *kv = make_kv(arena, 4, KEY_MAX, VAL_MAX, 4);
	uint64_t digest;

	(void)state;
	memset(big, 'k', sizeof(big));
	assert_int_equal(core_kv_put(kv, big, 0, "v", 1, 1), -EINVAL);
	assert_int_equal(core_kv_put(kv, big, KEY_MAX + 1, "v", 1, 1), -E2BIG);
	assert_int_equal(core_kv_put(kv, big, KEY_MAX, big, VAL_MAX + 1, 1), -E2BIG);
	assert_int_equal(core_kv_count(kv), 0);
	assert_true(core_kv_digest(kv) == 0);

	assert_int_equal(core_kv_put(kv, big, KEY_MAX, big, VAL_MAX, 2), 0);
	assert_int_equal(core_kv_put(kv, big, 1, big, 0, 3), 0);
	digest = core_kv_digest(kv);
	/* An oversized overwrite of a present key leaves the old value. */
	assert_int_equal(core_kv_put(kv, big, 1, big, VAL_MAX + 1, 4), -E2BIG);
	assert_int_equal(core_kv_count(kv), 2);
	assert_true(core_kv_digest(kv) == digest);
	expect_str(kv, "k", "", 3);

	/* The widest key the format allows, with no room for values at all. */
	kv = make_kv(arena, 1, UINT16_MAX, 0, 5);
	assert_int_equal(core_kv_put(kv, big, UINT16_MAX, NULL, 0, 6), 0);
	assert_int_equal(core_kv_put(kv, big, UINT16_MAX, "v", 1, 7), -E2BIG);
	assert_int_equal(core_kv_get(kv, big, UINT16_MAX, NULL, NULL, NULL), 0);
	assert_int_equal(core_kv_get(kv, big, UINT16_MAX - 1, NULL, NULL, NULL), -ENOENT);
}

static void test_full(void **state)
{
	struct core_kv *kv = make_kv(arena, 4, KEY_MAX, VAL_MAX, 6);
	uint64_t digest;

	(void)state;
	assert_int_equal(put_str(kv, "a", "1", 1), 0);
	assert_int_equal(put_str(kv, "b", "2", 2), 0);
	assert_int_equal(put_str(kv, "c", "3", 3), 0);
	assert_int_equal(put_str(kv, "d", "4", 4), 0);
	digest = core_kv_digest(kv);
	assert_int_equal(put_str(kv, "e", "5", 5), -ENOSPC);
	assert_int_equal(core_kv_count(kv), 4);
	assert_true(core_kv_digest(kv) == digest);
	expect_absent(kv, "e");

	/* Full is about new keys: overwrites still go through. */
	assert_int_equal(put_str(kv, "b", "two", 6), 0);
	expect_str(kv, "b", "two", 6);
	assert_int_equal(core_kv_count(kv), 4);

	assert_int_equal(del_str(kv, "c"), 0);
	assert_int_equal(put_str(kv, "e", "5", 7), 0);
	assert_int_equal(put_str(kv, "c", "3", 8), -ENOSPC);
	expect_str(kv, "a", "1", 1);
	expect_str(kv, "b", "two", 6);
	expect_str(kv, "d", "4", 4);
	expect_str(kv, "e", "5", 7);
}

static void test_reset(void **state)
{
	struct core_kv *kv = make_kv(arena, 4, KEY_MAX, VAL_MAX, 7);
	uint32_t cursor = 0;
	char key[2] = "a";

	(void)state;
	for (int i = 0; i < 4; i++) {
		key[0] = (char)('a' + i);
		assert_int_equal(put_str(kv, key, "v", (uint64_t)i), 0);
	}
	core_kv_reset(kv);
	assert_int_equal(core_kv_count(kv), 0);
	assert_true(core_kv_digest(kv) == 0);
	expect_absent(kv, "a");
	assert_int_equal(core_kv_next(kv, &cursor, NULL, NULL, NULL, NULL, NULL), 0);
	/* All of the room comes back. */
	for (int i = 0; i < 4; i++) {
		key[0] = (char)('p' + i);
		assert_int_equal(put_str(kv, key, "w", (uint64_t)i), 0);
	}
	assert_int_equal(put_str(kv, "z", "w", 9), -ENOSPC);
	expect_str(kv, "s", "w", 3);
}

static void test_digest_history_independent(void **state)
{
	struct core_kv *a = make_kv(arena, 64, KEY_MAX, VAL_MAX, 8);
	/* Another hash_seed, as a second process would not have: the digest ignores it. */
	struct core_kv *b = make_kv(arena2, 64, KEY_MAX, VAL_MAX, 0x0123456789abcdefull);
	char key[16], val[24];

	(void)state;
	assert_true(core_kv_digest(a) == core_kv_digest(b));
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "value-%d", i * 7);
		assert_int_equal(put_str(a, key, val, (uint64_t)i), 0);
	}
	for (int i = 49; i >= 0; i--) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "value-%d", i * 7);
		assert_int_equal(put_str(b, key, val, 1000 + (uint64_t)i), 0);
	}
	assert_true(core_kv_digest(a) == core_kv_digest(b));

	/* Deletes, reinserts and a round trip through another value leave no trace. */
	for (int i = 0; i < 50; i += 3) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "value-%d", i * 7);
		assert_int_equal(del_str(a, key), 0);
		assert_int_equal(put_str(a, key, val, 5000), 0);
	}
	assert_int_equal(put_str(a, "k1", "detour", 6000), 0);
	assert_true(core_kv_digest(a) != core_kv_digest(b));
	assert_int_equal(put_str(a, "k1", "value-7", 6001), 0);
	assert_true(core_kv_digest(a) == core_kv_digest(b));

	assert_int_equal(put_str(a, "new", "x", 1), 0);
	assert_true(core_kv_digest(a) != core_kv_digest(b));
	assert_int_equal(del_str(a, "new"), 0);
	assert_true(core_kv_digest(a) == core_kv_digest(b));
	assert_int_equal(del_str(a, "k2"), 0);
	assert_true(core_kv_digest(a) != core_kv_digest(b));
}

static uint64_t digest_of(const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct core_kv *kv = make_kv(arena, 4, KEY_MAX, VAL_MAX, 9);

	assert_int_equal(put_str(kv, k1, v1, 1), 0);
	if (k2 != NULL)
		assert_int_equal(put_str(kv, k2, v2, 2), 0);
	return core_kv_digest(kv);
}

static void test_digest_sensitive(void **state)
{
	uint64_t base = digest_of("ab", "c", "x", "y");

	(void)state;
	assert_true(digest_of("x", "y", "ab", "c") == base);
	assert_true(digest_of("a", "bc", "x", "y") != base);
	assert_true(digest_of("ab", "d", "x", "y") != base);
	assert_true(digest_of("ab", "c", "x", "z") != base);
	assert_true(digest_of("ab", "c", "z", "y") != base);
	assert_true(digest_of("ab", "y", "x", "c") != base);
	assert_true(digest_of("ab", "c", NULL, NULL) != base);
	assert_true(digest_of("k", "", NULL, NULL) != digest_of("k", "\x01", NULL, NULL));
	assert_true(digest_of("k", "", NULL, NULL) != 0);
	/* Key and value are not interchangeable. */
	assert_true(digest_of("ab", "c", NULL, NULL) != digest_of("c", "ab", NULL, NULL));
}

/* Lengths count, not only bytes: trailing zeros make another key or value. */
static void test_digest_trailing_zeros(void **state)
{
	static const uint8_t z[] = { 'k', 0, 0, 0, 0, 0, 0, 0, 0 };
	uint64_t d[2][2];

	(void)state;
	for (int k = 0; k < 2; k++) {
		for (int v = 0; v < 2; v++) {
			struct core_kv *kv = make_kv(arena, 4, KEY_MAX, VAL_MAX, 11);

			assert_int_equal(
				core_kv_put(kv, z, (uint16_t)(1 + k), z, (uint32_t)(1 + v), 1), 0);
			d[k][v] = core_kv_digest(kv);
		}
	}
	assert_true(d[0][0] != d[0][1] && d[0][0] != d[1][0] && d[0][1] != d[1][0]);
	assert_true(d[1][1] != d[0][0] && d[1][1] != d[0][1] && d[1][1] != d[1][0]);
}

/* Every bit of key and value reaches the digest, whether in a full word or the tail. */
static void test_digest_every_bit(void **state)
{
	static uint64_t d[1 + 8 * (11 + 24)];
	uint8_t key[11] = { 'k' }, val[24] = { 0 };
	size_t n = 0;

	(void)state;
	for (size_t bit = 0; bit <= 8 * (sizeof(key) + sizeof(val)); bit++) {
		struct core_kv *kv = make_kv(arena, 1, KEY_MAX, VAL_MAX, 12);
		uint8_t *byte = NULL;

		if (bit > 0 && bit <= 8 * sizeof(key))
			byte = &key[(bit - 1) / 8];
		else if (bit > 0)
			byte = &val[(bit - 1) / 8 - sizeof(key)];
		if (byte != NULL)
			*byte ^= (uint8_t)(1u << ((bit - 1) % 8));
		assert_int_equal(core_kv_put(kv, key, sizeof(key), val, sizeof(val), 1), 0);
		d[n++] = core_kv_digest(kv);
		if (byte != NULL)
			*byte ^= (uint8_t)(1u << ((bit - 1) % 8));
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (d[i] == d[j])
				fail_msg("bit flips %zu and %zu give digest %016llx", i, j,
					 (unsigned long long)d[i]);
		}
	}
}

/*
 * Replicas of different builds and hosts compare digests, so the function is part of the
 * protocol: a change here must be deliberate, with a version bump.
 */
static void test_digest_golden(void **state)
{
	struct core_kv *kv = make_kv(arena, 8, KEY_MAX, VAL_MAX, 13);

	(void)state;
	assert_int_equal(put_str(kv, "a", "", 1), 0);
	assert_int_equal(put_str(kv, "shiplog", "replicated state", 2), 0);
	assert_int_equal(put_str(kv, "0123456789abcdef", "0123456789", 3), 0);
	assert_true(core_kv_digest(kv) == GOLDEN_DIGEST);
}

static void test_iteration(void **state)
{
	struct core_kv *kv = make_kv(arena, 128, KEY_MAX, VAL_MAX, 10);
	bool seen[100] = { false };
	const uint8_t *k, *v;
	uint32_t cursor = 0, vlen, n = 0;
	uint16_t klen;
	uint64_t lsn;
	char key[16];

	(void)state;
	assert_int_equal(core_kv_next(kv, &cursor, &k, &klen, &v, &vlen, &lsn), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(
			core_kv_put(kv, key, (uint16_t)strlen(key), &i, sizeof(i), (uint64_t)i), 0);
	}
	for (int i = 0; i < 100; i += 4) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(del_str(kv, key), 0);
	}
	cursor = 0;
	while (core_kv_next(kv, &cursor, &k, &klen, &v, &vlen, &lsn) == 1) {
		int i;

		assert_int_equal(vlen, sizeof(i));
		memcpy(&i, v, sizeof(i));
		assert_true(i >= 0 && i < 100 && i % 4 != 0);
		assert_false(seen[i]);
		seen[i] = true;
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(klen, strlen(key));
		assert_memory_equal(k, key, klen);
		assert_true(lsn == (uint64_t)i);
		n++;
	}
	assert_int_equal(n, 75);
	assert_int_equal(n, core_kv_count(kv));
	/* The end stays the end. */
	assert_int_equal(core_kv_next(kv, &cursor, NULL, NULL, NULL, NULL, NULL), 0);
}

/* Snapshots from replicas with one history list entries in one order, whatever the seed. */
static void test_iteration_order_deterministic(void **state)
{
	struct core_kv *a = make_kv(arena, 32, KEY_MAX, VAL_MAX, 14);
	struct core_kv *b = make_kv(arena2, 32, KEY_MAX, VAL_MAX, 0xfeedfacecafebeefull);
	const uint8_t *ka, *kb;
	uint16_t la, lb;
	uint32_t ca = 0, cb = 0, n = 0;
	uint64_t rng = test_seed();
	char key[16];

	(void)state;
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "%u", (unsigned int)(test_rand(&rng) % 48));
		if (test_rand(&rng) % 3 == 0) {
			assert_int_equal(del_str(a, key), del_str(b, key));
		} else {
			assert_int_equal(put_str(a, key, key, (uint64_t)i),
					 put_str(b, key, key, (uint64_t)i));
		}
	}
	while (core_kv_next(a, &ca, &ka, &la, NULL, NULL, NULL) == 1) {
		assert_int_equal(core_kv_next(b, &cb, &kb, &lb, NULL, NULL, NULL), 1);
		assert_int_equal(la, lb);
		assert_memory_equal(ka, kb, la);
		n++;
	}
	assert_int_equal(core_kv_next(b, &cb, NULL, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(n, core_kv_count(a));
	assert_true(n > 0);
}

static void test_init_refuses(void **state)
{
	struct core_kv_config ok = { .max_keys = 16, .key_max = 8, .val_max = 8, .hash_seed = 1 };
	struct core_kv_config bad;
	size_t need = core_kv_mem_size(&ok);

	(void)state;
	assert_true(need > 0 && need <= ARENA_BYTES);
	assert_null(core_kv_init(arena, need - 1, &ok));
	assert_int_equal(errno, ENOMEM);
	assert_null(core_kv_init(arena, 0, &ok));
	assert_null(core_kv_init(NULL, need, &ok));
	assert_int_equal(errno, EINVAL);
	assert_null(core_kv_init((uint8_t *)arena + 4, need, &ok));
	assert_int_equal(errno, EINVAL);
	assert_null(core_kv_init(arena, need, NULL));
	assert_int_equal(core_kv_mem_size(NULL), 0);
	/* 8-byte alignment is enough. */
	assert_non_null(core_kv_init(arena + 1, need, &ok));
	assert_non_null(core_kv_init(arena, need, &ok));

	bad = ok;
	bad.max_keys = 0;
	assert_int_equal(core_kv_mem_size(&bad), 0);
	assert_null(core_kv_init(arena, ARENA_BYTES, &bad));
	assert_int_equal(errno, EINVAL);
	bad = ok;
	bad.key_max = 0;
	assert_int_equal(core_kv_mem_size(&bad), 0);
	assert_null(core_kv_init(arena, ARENA_BYTES, &bad));
	bad.key_max = UINT16_MAX + 1;
	assert_int_equal(core_kv_mem_size(&bad), 0);
	assert_null(core_kv_init(arena, ARENA_BYTES, &bad));
	bad.key_max = UINT16_MAX;
	assert_true(core_kv_mem_size(&bad) > 0);

	/* Sizes past size_t are refused, not wrapped into a small arena. */
	bad = (struct core_kv_config){ .max_keys = UINT32_MAX,
				       .key_max = UINT16_MAX,
				       .val_max = UINT32_MAX };
	assert_int_equal(core_kv_mem_size(&bad), 0);
	assert_null(core_kv_init(arena, ARENA_BYTES, &bad));
	bad.key_max = 1;
	assert_int_equal(core_kv_mem_size(&bad), 0);
	/* Huge but representable is a size, not a refusal. */
	bad.val_max = 0;
	if (SIZE_MAX > UINT32_MAX)
		assert_true(core_kv_mem_size(&bad) > 0);
}

/*
 * The reference model: a pool of distinct keys, each present or not. Keys come from a
 * three-letter alphabet so the pool is full of prefixes of one another.
 */
struct model_ent {
	uint8_t key[KEY_MAX];
	uint16_t key_len;
	bool present;
	bool seen;
	uint8_t val[VAL_MAX];
	uint32_t val_len;
	uint64_t lsn;
};

struct model {
	uint64_t seed;
	uint32_t op;
	uint32_t n_keys;
	uint32_t count;
	uint32_t max_keys;
	uint64_t rng;
	struct model_ent e[POOL_MAX];
};

static struct model model;

#define CHECK(m, cond)                                                                          \
	do {                                                                                    \
		if (!(cond))                                                                    \
			fail_msg("seed %llu op %u: %s", (unsigned long long)(m)->seed, (m)->op, \
				 #cond);                                                        \
	} while (0)

static void model_init(struct model *m, uint64_t seed, uint32_t n_keys, uint32_t key_len_max,
		       uint32_t max_keys)
{
	memset(m, 0, sizeof(*m));
	m->seed = seed;
	m->rng = seed;
	m->n_keys = n_keys;
	m->max_keys = max_keys;
	for (uint32_t i = 0; i < n_keys; i++) {
		struct model_ent *e = &m->e[i];
		bool dup;

		do {
			e->key_len = (uint16_t)(1 + test_rand(&m->rng) % key_len_max);
			for (uint16_t b = 0; b < e->key_len; b++)
				e->key[b] = (uint8_t)('a' + test_rand(&m->rng) % 3);
			dup = false;
			for (uint32_t j = 0; j < i && !dup; j++)
				dup = m->e[j].key_len == e->key_len &&
				      memcmp(m->e[j].key, e->key, e->key_len) == 0;
		} while (dup);
	}
}

static struct model_ent *model_lookup(struct model *m, const uint8_t *key, uint16_t key_len)
{
	for (uint32_t i = 0; i < m->n_keys; i++) {
		if (m->e[i].key_len == key_len && memcmp(m->e[i].key, key, key_len) == 0)
			return &m->e[i];
	}
	return NULL;
}

static void model_put(struct core_kv *kv, struct model *m, struct model_ent *e)
{
	uint8_t val[VAL_MAX + 1];
	uint32_t val_len = (uint32_t)(test_rand(&m->rng) % (VAL_MAX + 2));
	int want, rc;

	for (uint32_t b = 0; b < val_len; b++)
		val[b] = (uint8_t)test_rand(&m->rng);
	if (val_len > VAL_MAX)
		want = -E2BIG;
	else if (!e->present && m->count == m->max_keys)
		want = -ENOSPC;
	else
		want = 0;
	rc = core_kv_put(kv, e->key, e->key_len, val, val_len, m->op);
	CHECK(m, rc == want);
	if (rc != 0)
		return;
	m->count += !e->present;
	e->present = true;
	memcpy(e->val, val, val_len);
	e->val_len = val_len;
	e->lsn = m->op;
}

static void model_get(const struct core_kv *kv, struct model *m, const struct model_ent *e)
{
	const uint8_t *v;
	uint32_t vlen;
	uint64_t lsn;
	int rc = core_kv_get(kv, e->key, e->key_len, &v, &vlen, &lsn);

	CHECK(m, rc == (e->present ? 0 : -ENOENT));
	if (rc != 0)
		return;
	CHECK(m, vlen == e->val_len);
	CHECK(m, vlen == 0 || memcmp(v, e->val, vlen) == 0);
	CHECK(m, lsn == e->lsn);
}

/* Every key findable or not as the model says, iteration exact, digest history-free. */
static void model_check_all(const struct core_kv *kv, struct model *m)
{
	struct core_kv *fresh = make_kv(arena2, m->max_keys, KEY_MAX, VAL_MAX, ~m->seed);
	const uint8_t *k, *v;
	uint32_t cursor = 0, vlen, n = 0;
	uint16_t klen;
	uint64_t lsn;

	CHECK(m, core_kv_count(kv) == m->count);
	for (uint32_t i = 0; i < m->n_keys; i++) {
		m->e[i].seen = false;
		model_get(kv, m, &m->e[i]);
	}
	while (core_kv_next(kv, &cursor, &k, &klen, &v, &vlen, &lsn) == 1) {
		struct model_ent *e = model_lookup(m, k, klen);

		CHECK(m, e != NULL && e->present && !e->seen);
		CHECK(m, vlen == e->val_len && lsn == e->lsn);
		e->seen = true;
		n++;
	}
	CHECK(m, n == m->count);
	/* Rebuilt back to front under another hash_seed: only the contents may count. */
	for (uint32_t i = m->n_keys; i-- > 0;) {
		const struct model_ent *e = &m->e[i];

		if (e->present)
			CHECK(m,
			      core_kv_put(fresh, e->key, e->key_len, e->val, e->val_len, 0) == 0);
	}
	CHECK(m, core_kv_digest(fresh) == core_kv_digest(kv));
}

static void model_step(struct core_kv *kv, struct model *m)
{
	struct model_ent *e = &m->e[test_rand(&m->rng) % m->n_keys];
	uint32_t r = (uint32_t)(test_rand(&m->rng) % 100);
	int rc;

	if (r < 50) {
		model_put(kv, m, e);
	} else if (r < 75) {
		rc = core_kv_del(kv, e->key, e->key_len);
		CHECK(m, rc == (e->present ? 0 : -ENOENT));
		m->count -= e->present;
		e->present = false;
	} else if (r < 99 || test_rand(&m->rng) % 64 != 0) {
		model_get(kv, m, e);
	} else {
		core_kv_reset(kv);
		for (uint32_t i = 0; i < m->n_keys; i++)
			m->e[i].present = false;
		m->count = 0;
	}
}

/* 100k random operations against the model; 200 keys for 128 places keeps it full often. */
static void test_random_vs_model(void **state)
{
	struct model *m = &model;
	struct core_kv *kv;
	uint32_t nospc_seen = 0;

	(void)state;
	model_init(m, test_seed(), 200, KEY_MAX, 128);
	kv = make_kv(arena, m->max_keys, KEY_MAX, VAL_MAX, m->seed);
	for (m->op = 1; m->op <= 100000; m->op++) {
		model_step(kv, m);
		nospc_seen += m->count == m->max_keys;
		if (m->op % 1000 == 0)
			model_check_all(kv, m);
	}
	model_check_all(kv, m);
	CHECK(m, nospc_seen > 0);
}

/*
 * Tables of 2 to 32 buckets, so keys share home buckets and runs wrap past the end all the
 * time; after every operation every key is looked up, which catches a backward shift that
 * strands an entry before its home bucket.
 */
static void test_tiny_tables_collide(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 3, 4, 5, 8, 13, 16 };
	struct model *m = &model;
	uint64_t seed = test_seed();

	(void)state;
	for (uint32_t t = 0; t < 400; t++) {
		uint32_t max_keys = sizes[t % (sizeof(sizes) / sizeof(sizes[0]))];
		struct core_kv *kv;

		model_init(m, seed + t, 24, 3, max_keys);
		kv = make_kv(arena, max_keys, KEY_MAX, VAL_MAX, m->seed);
		for (m->op = 1; m->op <= 300; m->op++) {
			model_step(kv, m);
			CHECK(m, core_kv_count(kv) == m->count);
			for (uint32_t i = 0; i < m->n_keys; i++)
				model_get(kv, m, &m->e[i]);
		}
		model_check_all(kv, m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_overwrite_del),
		cmocka_unit_test(test_put_from_own_value),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_digest_history_independent),
		cmocka_unit_test(test_digest_sensitive),
		cmocka_unit_test(test_digest_trailing_zeros),
		cmocka_unit_test(test_digest_every_bit),
		cmocka_unit_test(test_digest_golden),
		cmocka_unit_test(test_iteration),
		cmocka_unit_test(test_iteration_order_deterministic),
		cmocka_unit_test(test_init_refuses),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_tiny_tables_collide),
	};

	return cmocka_run_group_tests_name("kv", tests, NULL, NULL);
}
