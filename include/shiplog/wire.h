/* The shiplog datagram: fixed frame header, per-type payload headers, codec. */
#ifndef SHIPLOG_WIRE_H
#define SHIPLOG_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <shiplog/record.h>
#include <shiplog/reject.h>

/*
 * Every shiplog UDP payload is one frame (DESIGN.md §3), little-endian:
 *
 *   0  magic        u32  SL_MAGIC ("SHPL" in memory order)
 *   4  version      u8   SL_WIRE_VERSION, bumped on any incompatible change
 *   5  type         u8   SL_FRAME_*
 *   6  flags        u16  SL_FRAME_F_*
 *   8  cluster_id   u32
 *  12  epoch        u32  sender's epoch: the fencing token
 *  16  src_node     u16  0 for clients
 *  18  dst_node     u16  SL_NODE_ANY for "whoever receives it"
 *  20  payload_len  u32  bytes after the header
 *  24  seq          u64  per (src, dst) frame sequence
 *  32  crc32c       u32  over bytes 0..31, 36..39 and the payload
 *  36  reserved     u32  zero
 *  40  tag          u8[16] keyed BLAKE2b over the header (tag zeroed) and payload,
 *                        present when SL_FRAME_F_AUTH is set, zero otherwise
 *  56  payload: a type header (below), then what the type carries
 */
#define SL_MAGIC	0x4c504853u
#define SL_WIRE_VERSION 1u
#define SL_NODE_ANY	0xffffu
#define SL_NODE_MAX	64u /* node ids are 1..SL_NODE_MAX */
#define SL_UDP_PORT	7400u
#define SL_TAG_LEN	16u
#define SL_AUTH_KEY_LEN 32u

struct sl_frame_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t cluster_id;
	uint32_t epoch;
	uint16_t src_node;
	uint16_t dst_node;
	uint32_t payload_len;
	uint64_t seq;
	uint32_t crc;
	uint32_t reserved;
	uint8_t tag[SL_TAG_LEN];
};

#define SL_FRAME_HDR_LEN 56u
#define SL_FRAME_CRC_OFF 32u
#define SL_FRAME_TAG_OFF 40u

_Static_assert(sizeof(struct sl_frame_hdr) == SL_FRAME_HDR_LEN, "frame header is 56 bytes");
_Static_assert(offsetof(struct sl_frame_hdr, magic) == 0, "magic at 0");
_Static_assert(offsetof(struct sl_frame_hdr, version) == 4, "version at 4");
_Static_assert(offsetof(struct sl_frame_hdr, type) == 5, "type at 5");
_Static_assert(offsetof(struct sl_frame_hdr, flags) == 6, "flags at 6");
_Static_assert(offsetof(struct sl_frame_hdr, cluster_id) == 8, "cluster_id at 8");
_Static_assert(offsetof(struct sl_frame_hdr, epoch) == 12, "epoch at 12");
_Static_assert(offsetof(struct sl_frame_hdr, src_node) == 16, "src_node at 16");
_Static_assert(offsetof(struct sl_frame_hdr, dst_node) == 18, "dst_node at 18");
_Static_assert(offsetof(struct sl_frame_hdr, payload_len) == 20, "payload_len at 20");
_Static_assert(offsetof(struct sl_frame_hdr, seq) == 24, "seq at 24");
_Static_assert(offsetof(struct sl_frame_hdr, crc) == SL_FRAME_CRC_OFF, "crc at 32");
_Static_assert(offsetof(struct sl_frame_hdr, reserved) == 36, "reserved at 36");
_Static_assert(offsetof(struct sl_frame_hdr, tag) == SL_FRAME_TAG_OFF, "tag at 40");

enum sl_frame_type {
	SL_FRAME_CLIENT_REQ = 1,
	SL_FRAME_CLIENT_RESP = 2,
	SL_FRAME_APPEND = 3,
	SL_FRAME_ACK = 4,
	SL_FRAME_HEARTBEAT = 5,
	SL_FRAME_SNAPSHOT_CHUNK = 6,
	SL_FRAME_NACK = 7,
	SL_FRAME__MAX
};

#define SL_FRAME_F_AUTH 0x0001u /* tag holds a keyed MAC */
#define SL_FRAME_F_ALL	SL_FRAME_F_AUTH

/* APPEND: a batch of consecutive log records for one follower (DESIGN.md §4). */
struct sl_append_hdr {
	uint64_t prev_lsn;   /* LSN just before the first record (log matching) */
	uint64_t commit_lsn; /* leader's commit point */
	uint64_t send_ts_ns; /* leader's clock, echoed in the ACK */
	uint32_t prev_epoch; /* epoch of prev_lsn */
	uint32_t count;	     /* records that follow, exactly filling the payload */
};
_Static_assert(sizeof(struct sl_append_hdr) == 32, "append header is 32 bytes");
_Static_assert(offsetof(struct sl_append_hdr, prev_lsn) == 0, "prev_lsn at 0");
_Static_assert(offsetof(struct sl_append_hdr, commit_lsn) == 8, "commit_lsn at 8");
_Static_assert(offsetof(struct sl_append_hdr, send_ts_ns) == 16, "send_ts_ns at 16");
_Static_assert(offsetof(struct sl_append_hdr, prev_epoch) == 24, "prev_epoch at 24");
_Static_assert(offsetof(struct sl_append_hdr, count) == 28, "count at 28");

/* ACK: cumulative progress of a follower at three levels. */
struct sl_ack {
	uint64_t received_lsn; /* in memory */
	uint64_t flushed_lsn;  /* durable */
	uint64_t applied_lsn;  /* visible to reads */
	uint64_t echo_ts_ns;   /* send_ts_ns of the frame that caused this ACK */
	uint32_t last_epoch;   /* epoch of received_lsn */
	uint32_t flags;	       /* zero */
};
_Static_assert(sizeof(struct sl_ack) == 40, "ack is 40 bytes");
_Static_assert(offsetof(struct sl_ack, received_lsn) == 0, "received_lsn at 0");
_Static_assert(offsetof(struct sl_ack, flushed_lsn) == 8, "flushed_lsn at 8");
_Static_assert(offsetof(struct sl_ack, applied_lsn) == 16, "applied_lsn at 16");
_Static_assert(offsetof(struct sl_ack, echo_ts_ns) == 24, "echo_ts_ns at 24");
_Static_assert(offsetof(struct sl_ack, last_epoch) == 32, "last_epoch at 32");
_Static_assert(offsetof(struct sl_ack, flags) == 36, "ack flags at 36");

/* HEARTBEAT: leader liveness and commit point when there is nothing to append. */
struct sl_heartbeat {
	uint64_t commit_lsn;
	uint64_t last_lsn;
	uint64_t send_ts_ns;
};
_Static_assert(sizeof(struct sl_heartbeat) == 24, "heartbeat is 24 bytes");
_Static_assert(offsetof(struct sl_heartbeat, commit_lsn) == 0, "commit_lsn at 0");
_Static_assert(offsetof(struct sl_heartbeat, last_lsn) == 8, "last_lsn at 8");
_Static_assert(offsetof(struct sl_heartbeat, send_ts_ns) == 16, "send_ts_ns at 16");

/* NACK: a follower that cannot take an APPEND says where it stands. */
enum sl_nack_reason {
	SL_NACK_GAP = 1,      /* prev_lsn is ahead of the follower's log */
	SL_NACK_MISMATCH = 2, /* prev_epoch disagrees: the follower holds a divergent suffix */
};
struct sl_nack {
	uint64_t expected_lsn; /* next LSN the follower can take */
	uint64_t last_lsn;     /* follower's last LSN */
	uint32_t last_epoch;   /* epoch of last_lsn */
	uint32_t reason;       /* SL_NACK_* */
};
_Static_assert(sizeof(struct sl_nack) == 24, "nack is 24 bytes");
_Static_assert(offsetof(struct sl_nack, expected_lsn) == 0, "expected_lsn at 0");
_Static_assert(offsetof(struct sl_nack, last_lsn) == 8, "last_lsn at 8");
_Static_assert(offsetof(struct sl_nack, last_epoch) == 16, "last_epoch at 16");
_Static_assert(offsetof(struct sl_nack, reason) == 20, "reason at 20");

/* SNAPSHOT_CHUNK: one piece of a KV snapshot taken at snap_lsn. */
struct sl_snap_chunk {
	uint64_t snap_lsn;
	uint64_t offset;    /* of this chunk within the snapshot */
	uint64_t total_len; /* of the whole snapshot */
	uint32_t snap_epoch;
	uint32_t chunk_len; /* bytes that follow, exactly filling the payload */
};
_Static_assert(sizeof(struct sl_snap_chunk) == 32, "snapshot chunk header is 32 bytes");
_Static_assert(offsetof(struct sl_snap_chunk, snap_lsn) == 0, "snap_lsn at 0");
_Static_assert(offsetof(struct sl_snap_chunk, offset) == 8, "offset at 8");
_Static_assert(offsetof(struct sl_snap_chunk, total_len) == 16, "total_len at 16");
_Static_assert(offsetof(struct sl_snap_chunk, snap_epoch) == 24, "snap_epoch at 24");
_Static_assert(offsetof(struct sl_snap_chunk, chunk_len) == 28, "chunk_len at 28");

/* CLIENT_REQ: one operation from a client, followed by key then value. */
enum sl_client_op {
	SL_OP_PUT = 1,
	SL_OP_DEL = 2,
	SL_OP_GET = 3,
};
struct sl_client_req {
	uint64_t client_id;
	uint64_t seq;	  /* per client; a retry reuses it */
	uint64_t min_lsn; /* GET: the least applied LSN the answer may reflect; 0 = any */
	uint8_t op;	  /* SL_OP_* */
	uint8_t flags;	  /* zero */
	uint16_t key_len;
	uint32_t val_len; /* PUT only */
};
_Static_assert(sizeof(struct sl_client_req) == 32, "client request is 32 bytes");
_Static_assert(offsetof(struct sl_client_req, client_id) == 0, "client_id at 0");
_Static_assert(offsetof(struct sl_client_req, seq) == 8, "seq at 8");
_Static_assert(offsetof(struct sl_client_req, min_lsn) == 16, "min_lsn at 16");
_Static_assert(offsetof(struct sl_client_req, op) == 24, "op at 24");
_Static_assert(offsetof(struct sl_client_req, flags) == 25, "req flags at 25");
_Static_assert(offsetof(struct sl_client_req, key_len) == 26, "key_len at 26");
_Static_assert(offsetof(struct sl_client_req, val_len) == 28, "val_len at 28");

/* CLIENT_RESP: the answer, followed by the value for a successful GET. */
enum sl_client_status {
	SL_ST_OK = 0,
	SL_ST_NOT_FOUND = 1,   /* GET of an absent key */
	SL_ST_NOT_LEADER = 2,  /* leader_hint names the leader, or 0 if unknown */
	SL_ST_STALE = 3,       /* lsn is this node's applied LSN, below min_lsn */
	SL_ST_BUSY = 4,	       /* backpressure: retry later */
	SL_ST_TOO_LARGE = 5,   /* key or value over the limit */
	SL_ST_BAD_REQUEST = 6, /* malformed request */
	SL_ST_TIMEOUT = 7,     /* not committed in time; outcome unknown */
	SL_ST_FULL = 8,	       /* the key-value table has no room for the key: final */
	SL_ST__MAX
};
struct sl_client_resp {
	uint64_t client_id;
	uint64_t seq;
	uint64_t lsn;	/* commit token (writes), applied LSN (reads, STALE) */
	uint32_t epoch; /* commit token's epoch */
	uint8_t status; /* SL_ST_* */
	uint8_t op;	/* echo of the request's op */
	uint16_t leader_hint;
	uint32_t val_len; /* GET value that follows */
	uint32_t reserved;
};
_Static_assert(sizeof(struct sl_client_resp) == 40, "client response is 40 bytes");
_Static_assert(offsetof(struct sl_client_resp, client_id) == 0, "client_id at 0");
_Static_assert(offsetof(struct sl_client_resp, seq) == 8, "seq at 8");
_Static_assert(offsetof(struct sl_client_resp, lsn) == 16, "lsn at 16");
_Static_assert(offsetof(struct sl_client_resp, epoch) == 24, "epoch at 24");
_Static_assert(offsetof(struct sl_client_resp, status) == 28, "status at 28");
_Static_assert(offsetof(struct sl_client_resp, op) == 29, "op at 29");
_Static_assert(offsetof(struct sl_client_resp, leader_hint) == 30, "leader_hint at 30");
_Static_assert(offsetof(struct sl_client_resp, val_len) == 32, "val_len at 32");
_Static_assert(offsetof(struct sl_client_resp, reserved) == 36, "resp reserved at 36");

/* Length of each type's fixed payload header, indexed by SL_FRAME_*. */
uint32_t sl_frame_type_hdr_len(unsigned type);
const char *sl_frame_type_name(unsigned type);
const char *sl_client_status_name(unsigned status);

/* Cluster key for frame authentication. */
struct sl_auth_key {
	uint8_t bytes[SL_AUTH_KEY_LEN];
};

/* What a receiver expects of a frame. */
struct sl_frame_expect {
	uint32_t cluster_id;
	uint16_t node_id;   /* this node: accepted as dst_node, as is SL_NODE_ANY */
	uint32_t min_epoch; /* replication frames of older epochs are refused */
	struct sl_limits limits;
	const struct sl_auth_key *key; /* NULL: no authentication configured */
	int check_record_crc;	       /* also verify each APPEND record's CRC */
};

/* Any type's payload header, in host order; the frame's type says which member. */
union sl_type_hdr {
	struct sl_append_hdr append;
	struct sl_ack ack;
	struct sl_heartbeat heartbeat;
	struct sl_nack nack;
	struct sl_snap_chunk snap;
	struct sl_client_req req;
	struct sl_client_resp resp;
};

/* A validated frame, pointing into the buffer it was read from. */
struct sl_frame_view {
	struct sl_frame_hdr hdr;
	const uint8_t *payload; /* payload_len bytes */
	const uint8_t *body;	/* after the type's header: records, key+value, chunk */
	uint32_t body_len;
	union sl_type_hdr u;
};

/* Header/struct <-> wire bytes (explicit little-endian; no validation). */
void sl_frame_hdr_write(void *buf, const struct sl_frame_hdr *h);
void sl_frame_hdr_read(const void *buf, struct sl_frame_hdr *h);
void sl_append_hdr_write(void *buf, const struct sl_append_hdr *a);
void sl_ack_write(void *buf, const struct sl_ack *a);
void sl_heartbeat_write(void *buf, const struct sl_heartbeat *h);
void sl_nack_write(void *buf, const struct sl_nack *n);
void sl_snap_chunk_write(void *buf, const struct sl_snap_chunk *s);
void sl_client_req_write(void *buf, const struct sl_client_req *r);
void sl_client_resp_write(void *buf, const struct sl_client_resp *r);

/*
 * Encodes a whole frame contiguously: the header h (payload_len, crc and tag are
 * computed), the type's payload header type_hdr (a struct of the type h->type names,
 * in host order), then body_len bytes of body. Returns the frame's length, or 0 when
 * the type is unknown or cap is too small.
 */
size_t sl_frame_encode(void *buf, size_t cap, const struct sl_frame_hdr *h, const void *type_hdr,
		       const void *body, uint32_t body_len, const struct sl_auth_key *key);

/*
 * Finishes a frame whose header (crc and tag ignored) is encoded at hdr and whose
 * payload is the iovcnt segments of iov (a chained mbuf, say: no copy). Sets the
 * header's payload_len, crc and, with a key, SL_FRAME_F_AUTH and the tag.
 * Returns 0, or -EINVAL when the segments exceed UINT32_MAX bytes.
 */
int sl_frame_seal(void *hdr, const struct iovec *iov, int iovcnt, const struct sl_auth_key *key);

/* The same for a frame contiguous in memory: header then payload_len bytes. */
int sl_frame_seal_flat(void *frame, uint32_t payload_len, const struct sl_auth_key *key);

/*
 * Validates one received frame of len bytes (header and payload contiguous): every
 * check of DESIGN.md §3 plus the type's own structure (APPEND records, request
 * fields). On SL_OK fills *out; on any other result *out is unspecified.
 */
enum sl_reject sl_frame_decode(const void *buf, size_t len, const struct sl_frame_expect *exp,
			       struct sl_frame_view *out);

/*
 * Iterates the records of a validated APPEND view: *off starts at 0. Returns 1 with
 * *rec filled, or 0 after the last record. Records were validated by sl_frame_decode.
 */
int sl_append_next(const struct sl_frame_view *v, uint32_t *off, struct sl_record_view *rec);

#endif
