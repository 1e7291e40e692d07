/* State images: the applied key-value state, client sessions and policy at one LSN. */
#ifndef SHIPLOG_CORE_IMAGE_H
#define SHIPLOG_CORE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <shiplog/policy.h>

#include "core.h"

/*
 * DESIGN.md §5 snapshots. An image is what a snapshot file holds (behind the WAL's own
 * header) and what a leader ships in SNAPSHOT_CHUNK frames to a follower the WAL no
 * longer covers. Installing it and applying the log from lsn + 1 gives the state every
 * replica has at that point, including what deduplication needs: the client sessions
 * are kept slot by slot, because the session table's eviction depends on the slots,
 * so the installing core must have the same session table size and hash_seed.
 *
 * Layout (little-endian, no padding), then a CRC32C of every byte before it:
 *   magic u32 "SLIM", version u16, flags u16 (zero), cluster_id u32,
 *   lsn u64, epoch u32, hash_seed u64, session_slots u32, n_keys u32, n_sessions u32,
 *   policy_len u16, policy text (sl_policy_format),
 *   n_keys x { key_len u16, val_len u32, lsn u64, key, val },
 *   n_sessions x { slot u32, client_id u64, seq u64, lsn u64, epoch u32, status u8 },
 *   crc u32.
 * One state has one image, so that damage cannot hide in bytes a reader would ignore:
 * the policy text is canonical, sessions come in ascending slot order, each in its
 * client's probe window, and every pair's and session's LSN is 1..lsn. Pairs come in
 * the table's slot order, which a core that loaded the image keeps.
 * Pure: no I/O, no allocation (DESIGN.md §2).
 */
#define SL_IMAGE_MAGIC	 0x4d494c53u /* "SLIM" little-endian */
#define SL_IMAGE_VERSION 1u

struct sl_image_info {
	uint64_t lsn;	/* the state after every record up to lsn */
	uint32_t epoch; /* epoch of the record at lsn */
	uint32_t cluster_id;
	uint32_t n_keys;
	uint32_t n_sessions;
	uint64_t len; /* bytes, trailer included */
	struct sl_policy policy;
};

/* Bytes the image of c's applied state takes now. */
size_t sl_core_image_size(const struct sl_core *c);

/* The most any image a core configured as cfg accepts may take (a receive buffer); 0 when
 * that does not fit in size_t. */
size_t sl_core_image_max(const struct sl_core_config *cfg);

/*
 * Writes the image of c's applied state, at its applied LSN, into buf: its length and
 * *info, -ENOSPC (cap too small: nothing usable written) or -EAGAIN (nothing applied
 * yet, or the epoch of the applied LSN is no longer known).
 */
int64_t sl_core_image_write(const struct sl_core *c, void *buf, size_t cap,
			    struct sl_image_info *info);

/*
 * Checks every byte of an image for a core configured as cfg, installing nothing:
 * 0 and *info; -EINVAL (not an image, another version, a bad CRC, a field out of
 * bounds, a duplicate slot, trailing bytes), -EXDEV (another cluster), -ERANGE (does
 * not fit cfg: more keys than kv_keys, a key or value over the limits, another session
 * table size or hash_seed). The CRC is checked first: a damaged image is -EINVAL
 * whatever field the damage hit. A duplicate key takes memory to find, which the check
 * has none of: loading finds it (core_image_load). Never reads outside [buf, buf + len).
 * The fuzz target's entry point.
 */
int sl_core_image_check(const void *buf, size_t len, const struct sl_core_config *cfg,
			struct sl_image_info *info);

/*
 * Calls fn for each key-value pair of an image, in image order, after checking its
 * layout and CRC (not a configuration's limits: for tools that read snapshot files,
 * such as shiplog-waldump). 0, the first non-zero value fn returned, or -EINVAL.
 */
int sl_image_pairs(const void *buf, size_t len,
		   int (*fn)(void *arg, const uint8_t *key, uint16_t key_len, const uint8_t *val,
			     uint32_t val_len, uint64_t lsn),
		   void *arg, struct sl_image_info *info);

#endif
