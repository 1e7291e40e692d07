/* The log record: identical on the wire (inside APPEND) and on disk (WAL segments). */
#ifndef SHIPLOG_RECORD_H
#define SHIPLOG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <shiplog/reject.h>

/*
 * Layout, little-endian, every record padded to 8 bytes (DESIGN.md §3):
 *
 *   0  lsn      u64
 *   8  epoch    u32
 *  12  type     u8    SL_REC_*
 *  13  flags    u8    SL_REC_F_*
 *  14  key_len  u16
 *  16  val_len  u32
 *  20  crc32c   u32   over bytes 0..19, then the body (origin, key, value; not padding)
 *  24  [origin: client_id u64, seq u64]   only with SL_REC_F_ORIGIN
 *      key, value, zero padding to a multiple of 8
 *
 * The origin is our one addition to DESIGN.md's record: a write carries the client's
 * (client_id, seq) in the log so that any later leader can deduplicate a retry, not
 * only the leader that took it. Records without a client (NOOP, CONFIG) omit it.
 */
struct sl_record_hdr {
	uint64_t lsn;
	uint32_t epoch;
	uint8_t type;
	uint8_t flags;
	uint16_t key_len;
	uint32_t val_len;
	uint32_t crc;
};

struct sl_record_origin {
	uint64_t client_id;
	uint64_t seq;
};

_Static_assert(sizeof(struct sl_record_hdr) == 24, "record header is 24 bytes");
_Static_assert(offsetof(struct sl_record_hdr, lsn) == 0, "lsn at 0");
_Static_assert(offsetof(struct sl_record_hdr, epoch) == 8, "epoch at 8");
_Static_assert(offsetof(struct sl_record_hdr, type) == 12, "type at 12");
_Static_assert(offsetof(struct sl_record_hdr, flags) == 13, "flags at 13");
_Static_assert(offsetof(struct sl_record_hdr, key_len) == 14, "key_len at 14");
_Static_assert(offsetof(struct sl_record_hdr, val_len) == 16, "val_len at 16");
_Static_assert(offsetof(struct sl_record_hdr, crc) == 20, "crc at 20");
_Static_assert(sizeof(struct sl_record_origin) == 16, "record origin is 16 bytes");
_Static_assert(offsetof(struct sl_record_origin, client_id) == 0, "client_id at 0");
_Static_assert(offsetof(struct sl_record_origin, seq) == 8, "seq at 8");

enum sl_record_type {
	SL_REC_PUT = 1,	   /* key, value */
	SL_REC_DEL = 2,	   /* key, no value */
	SL_REC_NOOP = 3,   /* no key, no value: the first record of a leader's epoch */
	SL_REC_CONFIG = 4, /* no key; value is a policy or membership change */
};

#define SL_REC_F_ORIGIN 0x01u /* a client origin follows the header */
#define SL_REC_F_ALL	SL_REC_F_ORIGIN

#define SL_REC_HDR_LEN	  24u
#define SL_REC_ORIGIN_LEN 16u
#define SL_REC_ALIGN	  8u
#define SL_REC_CRC_OFF	  20u

/* Encoded record bytes in caller memory, with the caller's handle for them (an mbuf). */
struct sl_rec_ref {
	uint8_t *data;
	uint32_t len;
	uint64_t handle;
};

/* The epoch history: where each epoch's records start (DESIGN.md §5 node metadata). */
#define SL_EPOCH_HIST_MAX 32 /* epoch -> first LSN pairs a node remembers */

struct sl_epoch_start {
	uint32_t epoch;
	uint64_t first_lsn;
};

/* Default limits (DESIGN.md §3); the configuration may lower or raise them. */
#define SL_KEY_MAX_DEFAULT 256u
#define SL_VAL_MAX_DEFAULT 1024u

struct sl_limits {
	uint32_t key_max; /* bytes, at most UINT16_MAX */
	uint32_t val_max; /* bytes */
};

static inline struct sl_limits sl_limits_default(void)
{
	return (struct sl_limits){ .key_max = SL_KEY_MAX_DEFAULT, .val_max = SL_VAL_MAX_DEFAULT };
}

/* What a caller wants encoded. key/val may be NULL when their length is 0. */
struct sl_record_desc {
	uint64_t lsn;
	uint32_t epoch;
	uint8_t type;
	uint8_t flags; /* SL_REC_F_ORIGIN to carry the origin below */
	struct sl_record_origin origin;
	const void *key;
	uint16_t key_len;
	const void *val;
	uint32_t val_len;
};

/* A validated record, pointing into the buffer it was read from. */
struct sl_record_view {
	struct sl_record_hdr hdr;
	struct sl_record_origin origin; /* zero without SL_REC_F_ORIGIN */
	const uint8_t *key;
	const uint8_t *val;
	const uint8_t *raw; /* first byte of the record */
	uint32_t total_len; /* bytes the record occupies, padding included */
};

/* Bytes a record with these lengths occupies, padding included. */
static inline uint32_t sl_record_size(uint8_t flags, uint32_t key_len, uint32_t val_len)
{
	uint64_t n = SL_REC_HDR_LEN + ((flags & SL_REC_F_ORIGIN) ? SL_REC_ORIGIN_LEN : 0) +
		     (uint64_t)key_len + val_len;

	n = (n + SL_REC_ALIGN - 1) & ~(uint64_t)(SL_REC_ALIGN - 1);
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/*
 * Writes the record, CRC and padding included, into buf. Returns the bytes written,
 * or 0 when cap is too small or the description is invalid (errno-free: a caller
 * that sized buf with sl_record_size() and a valid type gets a non-zero result).
 */
size_t sl_record_encode(void *buf, size_t cap, const struct sl_record_desc *d);

/*
 * Sets lsn and epoch of an encoded record in place and recomputes its CRC. This is
 * how a leader sequences a client's record without copying it (DESIGN.md §4).
 */
void sl_record_stamp(void *rec, uint64_t lsn, uint32_t epoch);

/*
 * Validates the record at the start of buf (len bytes available) against the limits
 * and fills *out. check_crc = 0 skips the record CRC (for callers that verified a
 * checksum over the same bytes already).
 */
enum sl_reject sl_record_decode(const void *buf, size_t len, const struct sl_limits *lim,
				int check_crc, struct sl_record_view *out);

/* CRC of an encoded record, computed the way its crc field is defined. */
uint32_t sl_record_crc(const void *rec);

/* Header fields in host order from an encoded record (no validation). */
void sl_record_hdr_read(const void *rec, struct sl_record_hdr *out);

#endif
