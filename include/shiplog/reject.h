/* Why a frame, record or request was refused: one named reason each, and their counters. */
#ifndef SHIPLOG_REJECT_H
#define SHIPLOG_REJECT_H

#include <stdint.h>

/*
 * Every decoder in shiplog returns one of these. Nothing refused is ever acted on
 * (DESIGN.md §3); the caller counts the reason and drops the input.
 */
enum sl_reject {
	SL_OK = 0,
	SL_REJ_SHORT,	      /* buffer shorter than the fixed header */
	SL_REJ_BAD_MAGIC,     /* not a shiplog frame */
	SL_REJ_BAD_VERSION,   /* wire version this build does not speak */
	SL_REJ_BAD_TYPE,      /* unknown frame type */
	SL_REJ_BAD_FLAGS,     /* unknown flag bits or reserved field not zero */
	SL_REJ_BAD_CLUSTER,   /* frame of another cluster */
	SL_REJ_BAD_DEST,      /* addressed to another node */
	SL_REJ_BAD_SRC,	      /* replication frame from an invalid source node */
	SL_REJ_BAD_LENGTH,    /* payload length disagrees with the buffer or the type */
	SL_REJ_BAD_CRC,	      /* frame CRC32C mismatch */
	SL_REJ_BAD_MAC,	      /* authentication tag missing, unexpected or wrong */
	SL_REJ_STALE_EPOCH,   /* replication frame from an older epoch (fencing) */
	SL_REJ_BAD_FIELD,     /* a field holds a value its type does not allow */
	SL_REJ_REC_OVERRUN,   /* a record runs past the end of the frame or buffer */
	SL_REJ_REC_TYPE,      /* unknown record type */
	SL_REJ_REC_FLAGS,     /* unknown record flag bits */
	SL_REJ_REC_FIELDS,    /* record fields that contradict its type */
	SL_REJ_REC_CRC,	      /* record CRC32C mismatch */
	SL_REJ_KEY_TOO_LARGE, /* key over the configured limit */
	SL_REJ_VAL_TOO_LARGE, /* value over the configured limit */
	SL_REJ_REC_COUNT,     /* record count disagrees with the payload */
	SL_REJ_BAD_OP,	      /* unknown client operation */
	SL_REJ_BAD_REQUEST,   /* client request fields that contradict its operation */
	SL_REJ_BAD_STATUS,    /* unknown client response status */
	SL_REJ__MAX
};

/* Stable, lowercase, underscore name of a reason (for counters and logs). */
const char *sl_reject_name(enum sl_reject r);

/* One sentence an operator can read. */
const char *sl_reject_str(enum sl_reject r);

/* Per-reason counters. One per lcore on the data path, summed on read. */
struct sl_reject_stats {
	uint64_t count[SL_REJ__MAX];
};

static inline void sl_reject_count(struct sl_reject_stats *s, enum sl_reject r)
{
	if ((unsigned)r < SL_REJ__MAX)
		s->count[r]++;
}

/* dst += src, reason by reason. */
void sl_reject_stats_add(struct sl_reject_stats *dst, const struct sl_reject_stats *src);

/* Sum of all refusals (SL_OK excluded). */
uint64_t sl_reject_stats_total(const struct sl_reject_stats *s);

#endif
