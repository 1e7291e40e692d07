/* Bounded key-value state machine over caller memory (the core's applied state). */
#ifndef SHIPLOG_CORE_KV_H
#define SHIPLOG_CORE_KV_H

#include <stddef.h>
#include <stdint.h>

/*
 * The replication core may not allocate, do I/O, read clocks or draw randomness, so the
 * table lives in one arena the caller sizes with core_kv_mem_size() and hands to
 * core_kv_init(). Every operation is bounded and deterministic: the same calls in the
 * same order leave two arenas with the same contents, digest and iteration order.
 * Not thread-safe; one owner per table.
 */
struct core_kv;

struct core_kv_config {
	uint32_t max_keys;  /* entries the table holds at most (>= 1) */
	uint32_t key_max;   /* bytes, 1..65535 */
	uint32_t val_max;   /* bytes */
	uint64_t hash_seed; /* from configuration; keeps client-chosen keys from colliding on
			       purpose */
};

/* Bytes of arena cfg needs; 0 if cfg is invalid or the size does not fit in size_t. */
size_t core_kv_mem_size(const struct core_kv_config *cfg);

/*
 * Lay out an empty table in mem (8-byte aligned at least). NULL with errno EINVAL if cfg
 * is invalid or mem is NULL or misaligned, ENOMEM if len < core_kv_mem_size(cfg). The
 * table holds pointers into mem: it may not be moved or copied to another address.
 */
struct core_kv *core_kv_init(void *mem, size_t len, const struct core_kv_config *cfg);

/*
 * Insert or overwrite key. 0; -EINVAL if key_len is 0; -E2BIG if key or value is over its
 * limit; -ENOSPC if the table is full and key absent. On error nothing changes.
 * val may be NULL when val_len is 0, and may point into the table itself.
 */
int core_kv_put(struct core_kv *kv, const void *key, uint16_t key_len, const void *val,
		uint32_t val_len, uint64_t lsn);

/* Remove key: 0, or -ENOENT. */
int core_kv_del(struct core_kv *kv, const void *key, uint16_t key_len);

/*
 * Look key up: 0 with *val pointing into the table (valid until the next put, del or
 * reset) and *lsn the LSN of the write that set it; -ENOENT leaves the outputs alone.
 * Any output pointer may be NULL.
 */
int core_kv_get(const struct core_kv *kv, const void *key, uint16_t key_len, const uint8_t **val,
		uint32_t *val_len, uint64_t *lsn);

uint32_t core_kv_count(const struct core_kv *kv);

/* Empty the table; O(max_keys). */
void core_kv_reset(struct core_kv *kv);

/*
 * Order-independent digest of the (key, value) pairs, not the LSNs and not hash_seed:
 * equal on two tables with the same contents whatever their history; O(max_keys).
 */
uint64_t core_kv_digest(const struct core_kv *kv);

/*
 * Iterate for snapshots: *cursor starts at 0; returns 1 per entry with the outputs set
 * (any may be NULL), 0 at the end. A put or del between calls invalidates the walk.
 */
int core_kv_next(const struct core_kv *kv, uint32_t *cursor, const uint8_t **key, uint16_t *key_len,
		 const uint8_t **val, uint32_t *val_len, uint64_t *lsn);

#endif
