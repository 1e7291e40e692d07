/* Names and descriptions of refusal reasons; counter arithmetic. */
#include <shiplog/reject.h>

static const struct {
	const char *name;
	const char *text;
} reject_info[SL_REJ__MAX] = {
	[SL_OK] = { "ok", "accepted" },
	[SL_REJ_SHORT] = { "short", "buffer shorter than the fixed header" },
	[SL_REJ_BAD_MAGIC] = { "bad_magic", "not a shiplog frame (bad magic)" },
	[SL_REJ_BAD_VERSION] = { "bad_version", "unsupported wire version" },
	[SL_REJ_BAD_TYPE] = { "bad_type", "unknown frame type" },
	[SL_REJ_BAD_FLAGS] = { "bad_flags", "unknown flag bits or reserved field not zero" },
	[SL_REJ_BAD_CLUSTER] = { "bad_cluster", "frame of another cluster" },
	[SL_REJ_BAD_DEST] = { "bad_dest", "frame addressed to another node" },
	[SL_REJ_BAD_SRC] = { "bad_src", "replication frame from an invalid source node" },
	[SL_REJ_BAD_LENGTH] = { "bad_length", "payload length disagrees with buffer or type" },
	[SL_REJ_BAD_CRC] = { "bad_crc", "frame CRC32C mismatch" },
	[SL_REJ_BAD_MAC] = { "bad_mac", "authentication tag missing, unexpected or wrong" },
	[SL_REJ_STALE_EPOCH] = { "stale_epoch", "replication frame from an older epoch" },
	[SL_REJ_BAD_FIELD] = { "bad_field", "a field holds a value its type does not allow" },
	[SL_REJ_REC_OVERRUN] = { "rec_overrun", "record runs past the end of the frame" },
	[SL_REJ_REC_TYPE] = { "rec_type", "unknown record type" },
	[SL_REJ_REC_FLAGS] = { "rec_flags", "unknown record flag bits" },
	[SL_REJ_REC_FIELDS] = { "rec_fields", "record fields contradict its type" },
	[SL_REJ_REC_CRC] = { "rec_crc", "record CRC32C mismatch" },
	[SL_REJ_KEY_TOO_LARGE] = { "key_too_large", "key over the configured limit" },
	[SL_REJ_VAL_TOO_LARGE] = { "val_too_large", "value over the configured limit" },
	[SL_REJ_REC_COUNT] = { "rec_count", "record count disagrees with the payload" },
	[SL_REJ_BAD_OP] = { "bad_op", "unknown client operation" },
	[SL_REJ_BAD_REQUEST] = { "bad_request", "request fields contradict its operation" },
	[SL_REJ_BAD_STATUS] = { "bad_status", "unknown client response status" },
};

const char *sl_reject_name(enum sl_reject r)
{
	return (unsigned)r < SL_REJ__MAX ? reject_info[r].name : "unknown";
}

const char *sl_reject_str(enum sl_reject r)
{
	return (unsigned)r < SL_REJ__MAX ? reject_info[r].text : "unknown reason";
}

void sl_reject_stats_add(struct sl_reject_stats *dst, const struct sl_reject_stats *src)
{
	for (unsigned i = 0; i < SL_REJ__MAX; i++)
		dst->count[i] += src->count[i];
}

uint64_t sl_reject_stats_total(const struct sl_reject_stats *s)
{
	uint64_t n = 0;

	for (unsigned i = 1; i < SL_REJ__MAX; i++)
		n += s->count[i];
	return n;
}
