/* Commit policy (DESIGN.md §4): which followers must hold a record before it commits. */
#ifndef SHIPLOG_POLICY_H
#define SHIPLOG_POLICY_H

#include <stddef.h>
#include <stdint.h>

enum sl_policy_kind {
	SL_POLICY_ASYNC = 0,
	SL_POLICY_FIRST = 1,
	SL_POLICY_ANY = 2,
	SL_POLICY_ALL = 3
};
enum sl_level { SL_LEVEL_RECEIVED = 0, SL_LEVEL_FLUSHED = 1, SL_LEVEL_APPLIED = 2 };
enum sl_durability { SL_DUR_NONE = 0, SL_DUR_FSYNC = 1 };

#define SL_POLICY_NODES_MAX	 16
#define SL_POLICY_NODE_ID_MAX	 64	 /* node ids are 1..64 */
#define SL_POLICY_TIMEOUT_MS_MAX 3600000 /* an hour: longer is a typo, not a policy */
#define SL_POLICY_TEXT_MAX	 256	 /* longest canonical text incl. NUL */

/*
 * The value shared by the replication core, the controller and the CLI. Its text form
 * (sl_policy_format) is the body of CONFIG log records. No padding: two policies are
 * equal iff memcmp says so, which is why unused fields must be zero.
 */
struct sl_policy {
	uint8_t kind;	     /* SL_POLICY_* */
	uint8_t k;	     /* FIRST/ANY: how many of nodes[]; 0 otherwise */
	uint8_t level;	     /* SL_LEVEL_*: what a follower must reach */
	uint8_t durability;  /* SL_DUR_*: the leader's own durability before commit */
	uint8_t n_nodes;     /* FIRST/ANY: list length; 0 otherwise */
	uint8_t reserved[3]; /* zero */
	uint16_t nodes[SL_POLICY_NODES_MAX]; /* priority order; unused entries zero */
	uint32_t sync_timeout_ms;	     /* 0: never degrade to async */
};
_Static_assert(sizeof(struct sl_policy) == 44, "no padding: memcmp compares policies");

/* all, level=flushed, durability=fsync, sync_timeout_ms=0. */
struct sl_policy sl_policy_default(void);

/*
 * Parses text (len bytes, not NUL-terminated; never read past len). Returns 0, or
 * -EINVAL with a one-line reason in err (NUL-terminated, truncated to err_len; err may
 * be NULL). *out is written only on success. Grammar (spaces and tabs between tokens):
 *   policy := kind option*
 *   kind   := "async" | "all" | ("first" | "any") INT "(" node ("," node)* ")"
 *   node   := ["n"] INT                       (1..SL_POLICY_NODE_ID_MAX)
 *   option := "level=" ("received" | "flushed" | "applied")
 *           | "durability=" ("none" | "fsync")
 *           | "sync_timeout_ms=" INT          (0..SL_POLICY_TIMEOUT_MS_MAX)
 */
int sl_policy_parse(const char *text, size_t len, struct sl_policy *out, char *err, size_t err_len);

/*
 * Canonical text: kind, then all three options in the order above. Returns its length
 * (excluding NUL), or 0 if cap is too small or p is not valid (nothing to write that
 * sl_policy_parse would read back). SL_POLICY_TEXT_MAX is always enough.
 */
size_t sl_policy_format(const struct sl_policy *p, char *buf, size_t cap);

/* 1 if p is valid (what parse would accept), else 0. */
int sl_policy_valid(const struct sl_policy *p);

const char *sl_level_name(unsigned level);	/* "received" ... ; "unknown" out of range */
const char *sl_durability_name(unsigned d);	/* "none" | "fsync" */
const char *sl_policy_kind_name(unsigned kind); /* "async" | "first" | "any" | "all" */

#endif
