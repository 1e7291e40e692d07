/* Bounded key-value state machine over caller memory (the core's applied state). */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kv.h"

/*
 * Arena layout, each part 8-byte aligned where it needs it:
 *
 *   struct core_kv | kv_meta[max_keys] | index[cap] | free_slots[max_keys] | slots
 *
 * A slot is key_max + val_max bytes (key, then value): fixed-size so a put never
 * fragments and the footprint is known at start-up. index[] is an open-addressing table
 * of slot + 1 (0 = empty bucket) with linear probing; cap is a power of two >= 2 *
 * max_keys, so the load factor stays <= 1/2 and an empty bucket always ends a probe run.
 * Deletion shifts the run back instead of leaving tombstones, so probe runs after any
 * history are as short as if the live keys had been inserted fresh.
 */

#define KV_MAGIC 0x6b765f7374617465ull /* "kv_state" */
#define KV_ALIGN 8

/* Fixed, not hash_seed: the digest must be a function of the contents alone. */
#define KV_DIGEST_SEED 0x243f6a8885a308d3ull

/* xxHash64 primes: odd, with well-spread bits. */
#define KV_P1 0x9e3779b185ebca87ull
#define KV_P2 0xc2b2ae3d27d4eb4full
#define KV_P3 0x165667b19e3779f9ull
#define KV_P4 0x85ebca77c2b2ae63ull

struct kv_meta {
	uint64_t hash; /* seeded key hash: home bucket, and a cheap compare before memcmp */
	uint64_t lsn;  /* of the write that set the value */
	uint32_t val_len;
	uint16_t key_len; /* 0 marks a free slot: keys are never empty */
	uint16_t pad;
};

_Static_assert(sizeof(struct kv_meta) % KV_ALIGN == 0, "kv_meta keeps the index aligned");

struct core_kv {
	uint64_t magic;
	struct core_kv_config cfg;
	size_t slot_size;
	size_t index_mask; /* buckets - 1 */
	uint32_t count;
	uint32_t free_n;
	struct kv_meta *meta; /* [max_keys] */
	uint32_t *index;      /* [index_mask + 1]: slot + 1, 0 = empty */
	uint32_t *free_slots; /* [max_keys], a stack: [0, free_n) are free */
	uint8_t *slots;	      /* [max_keys * slot_size] */
};

struct kv_layout {
	size_t buckets;
	size_t slot_size;
	size_t meta_off;
	size_t index_off;
	size_t free_off;
	size_t slots_off;
	size_t total;
};

static inline uint64_t kv_rotl(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Little-endian loads: the digest must agree across hosts of either byte order. */
static inline uint64_t kv_load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	if (n == 8) {
		memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v = __builtin_bswap64(v);
#endif
		return v;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t kv_round(uint64_t h, uint64_t k)
{
	k *= KV_P2;
	k = kv_rotl(k, 31);
	k *= KV_P1;
	h ^= k;
	return kv_rotl(h, 27) * KV_P1 + KV_P4;
}

/*
 * xxHash64's round and avalanche over a single lane (simpler than, and not equal to,
 * xxHash64 itself: keys are short). The length goes in first, so keys that differ
 * only by trailing zero bytes differ. The seed goes through every multiply, so which
 * keys collide depends on it; it is not a keyed PRF like SipHash, only enough that
 * clients cannot pick colliding keys without knowing the configured seed.
 */
static inline uint64_t kv_hash(uint64_t seed, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = seed + KV_P3 + (uint64_t)len * KV_P1;

	for (; len >= 8; p += 8, len -= 8)
		h = kv_round(h, kv_load_le(p, 8));
	if (len > 0)
		h = kv_round(h, kv_load_le(p, len));
	h ^= h >> 33;
	h *= KV_P2;
	h ^= h >> 29;
	h *= KV_P3;
	h ^= h >> 32;
	return h;
}

/* Chained so the key/value boundary counts: ("ab", "c") and ("a", "bc") differ. */
static uint64_t kv_entry_digest(const uint8_t *key, uint16_t key_len, const uint8_t *val,
				uint32_t val_len)
{
	return kv_hash(kv_hash(KV_DIGEST_SEED, key, key_len), val, val_len);
}

/* acc += n * size; false on overflow. */
static bool kv_mul_add(size_t *acc, size_t n, size_t size)
{
	size_t bytes;

	return !__builtin_mul_overflow(n, size, &bytes) &&
	       !__builtin_add_overflow(*acc, bytes, acc);
}

static bool kv_cfg_valid(const struct core_kv_config *cfg)
{
	return cfg != NULL && cfg->max_keys >= 1 && cfg->key_max >= 1 && cfg->key_max <= UINT16_MAX;
}

static bool kv_layout(const struct core_kv_config *cfg, struct kv_layout *l)
{
	size_t want, acc;
	bool ok;

	if (!kv_cfg_valid(cfg))
		return false;
	if (__builtin_mul_overflow((size_t)cfg->max_keys, (size_t)2, &want))
		return false;
	for (l->buckets = 1; l->buckets < want; l->buckets <<= 1) {
		if (l->buckets > SIZE_MAX / 2)
			return false;
	}
	if (__builtin_add_overflow((size_t)cfg->key_max, (size_t)cfg->val_max, &l->slot_size))
		return false;

	l->meta_off = (sizeof(struct core_kv) + KV_ALIGN - 1) & ~(size_t)(KV_ALIGN - 1);
	acc = l->meta_off;
	ok = kv_mul_add(&acc, cfg->max_keys, sizeof(struct kv_meta));
	l->index_off = acc;
	ok = ok && kv_mul_add(&acc, l->buckets, sizeof(uint32_t));
	l->free_off = acc;
	ok = ok && kv_mul_add(&acc, cfg->max_keys, sizeof(uint32_t));
	l->slots_off = acc;
	ok = ok && kv_mul_add(&acc, cfg->max_keys, l->slot_size);
	l->total = acc;
	return ok;
}

size_t core_kv_mem_size(const struct core_kv_config *cfg)
{
	struct kv_layout l;

	return kv_layout(cfg, &l) ? l.total : 0;
}

struct core_kv *core_kv_init(void *mem, size_t len, const struct core_kv_config *cfg)
{
	uint8_t *base = mem;
	struct core_kv *kv = mem;
	struct kv_layout l;

	if (!kv_layout(cfg, &l) || mem == NULL || (uintptr_t)mem % KV_ALIGN != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (len < l.total) {
		errno = ENOMEM;
		return NULL;
	}
	memset(kv, 0, sizeof(*kv));
	kv->magic = KV_MAGIC;
	kv->cfg = *cfg;
	kv->slot_size = l.slot_size;
	kv->index_mask = l.buckets - 1;
	kv->meta = (struct kv_meta *)(void *)(base + l.meta_off);
	kv->index = (uint32_t *)(void *)(base + l.index_off);
	kv->free_slots = (uint32_t *)(void *)(base + l.free_off);
	kv->slots = base + l.slots_off;
	core_kv_reset(kv);
	return kv;
}

void core_kv_reset(struct core_kv *kv)
{
	uint32_t n = kv->cfg.max_keys;

	assert(kv->magic == KV_MAGIC);
	memset(kv->meta, 0, (size_t)n * sizeof(*kv->meta));
	memset(kv->index, 0, (kv->index_mask + 1) * sizeof(*kv->index));
	/* Reversed so slots are handed out 0, 1, 2...: deterministic, and dense for next(). */
	for (uint32_t i = 0; i < n; i++)
		kv->free_slots[i] = n - 1 - i;
	kv->free_n = n;
	kv->count = 0;
}

static inline uint8_t *kv_key_at(const struct core_kv *kv, uint32_t slot)
{
	return kv->slots + (size_t)slot * kv->slot_size;
}

static inline uint8_t *kv_val_at(const struct core_kv *kv, uint32_t slot)
{
	return kv_key_at(kv, slot) + kv->cfg.key_max;
}

/* The bucket holding key, or the empty bucket ending its probe run; *found says which. */
static inline size_t kv_find(const struct core_kv *kv, const void *key, uint16_t key_len,
			     uint64_t hash, bool *found)
{
	size_t pos = hash & kv->index_mask;

	for (size_t probes = 0;; probes++) {
		uint32_t ref = kv->index[pos];

		/* Load <= 1/2 guarantees an empty bucket before the run wraps around. */
		assert(probes <= kv->index_mask);
		if (ref == 0) {
			*found = false;
			return pos;
		}
		assert(ref <= kv->cfg.max_keys);
		const struct kv_meta *m = &kv->meta[ref - 1];

		if (m->hash == hash && m->key_len == key_len &&
		    memcmp(kv_key_at(kv, ref - 1), key, key_len) == 0) {
			*found = true;
			return pos;
		}
		pos = (pos + 1) & kv->index_mask;
	}
}

/*
 * Empty bucket hole by shifting the rest of its probe run back (Knuth 6.4 algorithm R).
 * An entry at j may fill the hole unless its home bucket lies cyclically in (hole, j]:
 * then the hole sits before its home and a lookup, which starts at home, would never
 * reach it there. Runs end at an empty bucket, which load <= 1/2 guarantees exists.
 */
static void kv_unlink(struct core_kv *kv, size_t hole)
{
	size_t mask = kv->index_mask;
	size_t j = hole;

	for (;;) {
		j = (j + 1) & mask;
		assert(j != hole);
		uint32_t ref = kv->index[j];

		if (ref == 0)
			break;
		size_t home = kv->meta[ref - 1].hash & mask;

		if (((j - home) & mask) >= ((j - hole) & mask)) {
			kv->index[hole] = ref;
			hole = j;
		}
	}
	kv->index[hole] = 0;
}

/* Take a free slot for a new key whose empty bucket kv_find() returned. */
static uint32_t kv_link(struct core_kv *kv, size_t pos, const void *key, uint16_t key_len,
			uint64_t hash)
{
	uint32_t slot = kv->free_slots[--kv->free_n];
	struct kv_meta *m = &kv->meta[slot];

	assert(slot < kv->cfg.max_keys && m->key_len == 0 && kv->index[pos] == 0);
	kv->index[pos] = slot + 1;
	kv->count++;
	memcpy(kv_key_at(kv, slot), key, key_len);
	m->hash = hash;
	m->key_len = key_len;
	return slot;
}

int core_kv_put(struct core_kv *kv, const void *key, uint16_t key_len, const void *val,
		uint32_t val_len, uint64_t lsn)
{
	struct kv_meta *m;
	uint64_t hash;
	uint32_t slot;
	size_t pos;
	bool found;

	assert(kv->magic == KV_MAGIC);
	if (key_len == 0)
		return -EINVAL;
	if (key_len > kv->cfg.key_max || val_len > kv->cfg.val_max)
		return -E2BIG;
	assert(key != NULL && (val != NULL || val_len == 0));

	hash = kv_hash(kv->cfg.hash_seed, key, key_len);
	pos = kv_find(kv, key, key_len, hash, &found);
	if (found) {
		slot = kv->index[pos] - 1;
	} else if (kv->free_n == 0) {
		return -ENOSPC;
	} else {
		slot = kv_link(kv, pos, key, key_len, hash);
	}
	m = &kv->meta[slot];
	/* memmove: val may be this very slot's value, handed out by get or next. */
	if (val_len > 0)
		memmove(kv_val_at(kv, slot), val, val_len);
	m->val_len = val_len;
	m->lsn = lsn;
	assert(kv->count + kv->free_n == kv->cfg.max_keys);
	return 0;
}

/* The bucket of an existing key (true), for del and get: empty and oversized keys are
 * never stored, so they are simply absent. */
static bool kv_lookup(const struct core_kv *kv, const void *key, uint16_t key_len, size_t *pos)
{
	bool found;

	assert(kv->magic == KV_MAGIC);
	if (key_len == 0 || key_len > kv->cfg.key_max)
		return false;
	assert(key != NULL);
	*pos = kv_find(kv, key, key_len, kv_hash(kv->cfg.hash_seed, key, key_len), &found);
	return found;
}

int core_kv_del(struct core_kv *kv, const void *key, uint16_t key_len)
{
	uint32_t slot;
	size_t pos;

	if (!kv_lookup(kv, key, key_len, &pos))
		return -ENOENT;
	slot = kv->index[pos] - 1;
	memset(&kv->meta[slot], 0, sizeof(kv->meta[slot]));
	kv->free_slots[kv->free_n++] = slot;
	kv->count--;
	kv_unlink(kv, pos);
	assert(kv->count + kv->free_n == kv->cfg.max_keys);
	return 0;
}

int core_kv_get(const struct core_kv *kv, const void *key, uint16_t key_len, const uint8_t **val,
		uint32_t *val_len, uint64_t *lsn)
{
	const struct kv_meta *m;
	uint32_t slot;
	size_t pos;

	if (!kv_lookup(kv, key, key_len, &pos))
		return -ENOENT;
	slot = kv->index[pos] - 1;
	m = &kv->meta[slot];
	assert(m->key_len == key_len);
	if (val != NULL)
		*val = kv_val_at(kv, slot);
	if (val_len != NULL)
		*val_len = m->val_len;
	if (lsn != NULL)
		*lsn = m->lsn;
	return 0;
}

uint32_t core_kv_count(const struct core_kv *kv)
{
	assert(kv->magic == KV_MAGIC);
	return kv->count;
}

/*
 * Sum of every entry's hash, so the order of insertion does not matter. Computed on
 * demand (replica comparisons, snapshots): the write path does not pay for it.
 */
uint64_t core_kv_digest(const struct core_kv *kv)
{
	uint64_t d = 0;

	assert(kv->magic == KV_MAGIC);
	for (uint32_t slot = 0; slot < kv->cfg.max_keys; slot++) {
		const struct kv_meta *m = &kv->meta[slot];

		if (m->key_len != 0)
			d += kv_entry_digest(kv_key_at(kv, slot), m->key_len, kv_val_at(kv, slot),
					     m->val_len);
	}
	return d;
}

/* Walks slots, not buckets: slot order depends only on history, never on hash_seed. */
int core_kv_next(const struct core_kv *kv, uint32_t *cursor, const uint8_t **key, uint16_t *key_len,
		 const uint8_t **val, uint32_t *val_len, uint64_t *lsn)
{
	assert(kv->magic == KV_MAGIC);
	for (uint32_t s = *cursor; s < kv->cfg.max_keys; s++) {
		const struct kv_meta *m = &kv->meta[s];

		if (m->key_len == 0)
			continue;
		*cursor = s + 1;
		if (key != NULL)
			*key = kv_key_at(kv, s);
		if (key_len != NULL)
			*key_len = m->key_len;
		if (val != NULL)
			*val = kv_val_at(kv, s);
		if (val_len != NULL)
			*val_len = m->val_len;
		if (lsn != NULL)
			*lsn = m->lsn;
		return 1;
	}
	*cursor = kv->cfg.max_keys;
	return 0;
}
