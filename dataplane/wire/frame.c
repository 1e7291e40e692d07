/* Frame codec: header and per-type payloads, sealing (CRC, MAC), validation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <shiplog/crc32c.h>
#include <shiplog/wire.h>

#include "wire_le.h"

static const struct wire_field frame_hdr_fields[] = {
	WIRE_FIELD(struct sl_frame_hdr, magic),	      WIRE_FIELD(struct sl_frame_hdr, flags),
	WIRE_FIELD(struct sl_frame_hdr, cluster_id),  WIRE_FIELD(struct sl_frame_hdr, epoch),
	WIRE_FIELD(struct sl_frame_hdr, src_node),    WIRE_FIELD(struct sl_frame_hdr, dst_node),
	WIRE_FIELD(struct sl_frame_hdr, payload_len), WIRE_FIELD(struct sl_frame_hdr, seq),
	WIRE_FIELD(struct sl_frame_hdr, crc),	      WIRE_FIELD(struct sl_frame_hdr, reserved),
};
static const struct wire_field append_fields[] = {
	WIRE_FIELD(struct sl_append_hdr, prev_lsn),   WIRE_FIELD(struct sl_append_hdr, commit_lsn),
	WIRE_FIELD(struct sl_append_hdr, send_ts_ns), WIRE_FIELD(struct sl_append_hdr, prev_epoch),
	WIRE_FIELD(struct sl_append_hdr, count),
};
static const struct wire_field ack_fields[] = {
	WIRE_FIELD(struct sl_ack, received_lsn), WIRE_FIELD(struct sl_ack, flushed_lsn),
	WIRE_FIELD(struct sl_ack, applied_lsn),	 WIRE_FIELD(struct sl_ack, echo_ts_ns),
	WIRE_FIELD(struct sl_ack, last_epoch),	 WIRE_FIELD(struct sl_ack, flags),
};
static const struct wire_field heartbeat_fields[] = {
	WIRE_FIELD(struct sl_heartbeat, commit_lsn),
	WIRE_FIELD(struct sl_heartbeat, last_lsn),
	WIRE_FIELD(struct sl_heartbeat, send_ts_ns),
};
static const struct wire_field nack_fields[] = {
	WIRE_FIELD(struct sl_nack, expected_lsn),
	WIRE_FIELD(struct sl_nack, last_lsn),
	WIRE_FIELD(struct sl_nack, last_epoch),
	WIRE_FIELD(struct sl_nack, reason),
};
static const struct wire_field snap_fields[] = {
	WIRE_FIELD(struct sl_snap_chunk, snap_lsn),  WIRE_FIELD(struct sl_snap_chunk, offset),
	WIRE_FIELD(struct sl_snap_chunk, total_len), WIRE_FIELD(struct sl_snap_chunk, snap_epoch),
	WIRE_FIELD(struct sl_snap_chunk, chunk_len),
};
static const struct wire_field req_fields[] = {
	WIRE_FIELD(struct sl_client_req, client_id), WIRE_FIELD(struct sl_client_req, seq),
	WIRE_FIELD(struct sl_client_req, min_lsn),   WIRE_FIELD(struct sl_client_req, key_len),
	WIRE_FIELD(struct sl_client_req, val_len),
};
static const struct wire_field resp_fields[] = {
	WIRE_FIELD(struct sl_client_resp, client_id),	WIRE_FIELD(struct sl_client_resp, seq),
	WIRE_FIELD(struct sl_client_resp, lsn),		WIRE_FIELD(struct sl_client_resp, epoch),
	WIRE_FIELD(struct sl_client_resp, leader_hint), WIRE_FIELD(struct sl_client_resp, val_len),
	WIRE_FIELD(struct sl_client_resp, reserved),
};

/* One row per frame type: its payload header and how to convert it. */
static const struct {
	const char *name;
	uint32_t hdr_len;
	const struct wire_field *fields;
	size_t nfields;
	int replication; /* node-to-node: fenced by epoch, needs a valid source */
} frame_types[SL_FRAME__MAX] = {
	[SL_FRAME_CLIENT_REQ] = { "client_req", sizeof(struct sl_client_req), req_fields,
				  WIRE_NFIELDS(req_fields), 0 },
	[SL_FRAME_CLIENT_RESP] = { "client_resp", sizeof(struct sl_client_resp), resp_fields,
				   WIRE_NFIELDS(resp_fields), 0 },
	[SL_FRAME_APPEND] = { "append", sizeof(struct sl_append_hdr), append_fields,
			      WIRE_NFIELDS(append_fields), 1 },
	[SL_FRAME_ACK] = { "ack", sizeof(struct sl_ack), ack_fields, WIRE_NFIELDS(ack_fields), 1 },
	[SL_FRAME_HEARTBEAT] = { "heartbeat", sizeof(struct sl_heartbeat), heartbeat_fields,
				 WIRE_NFIELDS(heartbeat_fields), 1 },
	[SL_FRAME_SNAPSHOT_CHUNK] = { "snapshot_chunk", sizeof(struct sl_snap_chunk), snap_fields,
				      WIRE_NFIELDS(snap_fields), 1 },
	[SL_FRAME_NACK] = { "nack", sizeof(struct sl_nack), nack_fields, WIRE_NFIELDS(nack_fields),
			    1 },
};

static const char *const client_status_names[SL_ST__MAX] = {
	[SL_ST_OK] = "ok",
	[SL_ST_NOT_FOUND] = "not_found",
	[SL_ST_NOT_LEADER] = "not_leader",
	[SL_ST_STALE] = "stale",
	[SL_ST_BUSY] = "busy",
	[SL_ST_TOO_LARGE] = "too_large",
	[SL_ST_BAD_REQUEST] = "bad_request",
	[SL_ST_TIMEOUT] = "timeout",
	[SL_ST_FULL] = "full",
};

/* libsodium picks its fastest BLAKE2b once; calling it first is required for that. */
__attribute__((constructor)) static void frame_init(void)
{
	if (sodium_init() < 0)
		abort();
}

static int frame_type_known(unsigned type)
{
	return type > 0 && type < SL_FRAME__MAX;
}

uint32_t sl_frame_type_hdr_len(unsigned type)
{
	return frame_type_known(type) ? frame_types[type].hdr_len : 0;
}

const char *sl_frame_type_name(unsigned type)
{
	return frame_type_known(type) ? frame_types[type].name : "unknown";
}

const char *sl_client_status_name(unsigned status)
{
	return status < SL_ST__MAX ? client_status_names[status] : "unknown";
}

static void type_hdr_write(unsigned type, void *buf, const void *s)
{
	wire_write(buf, s, frame_types[type].hdr_len, frame_types[type].fields,
		   frame_types[type].nfields);
}

void sl_frame_hdr_write(void *buf, const struct sl_frame_hdr *h)
{
	wire_write(buf, h, sizeof(*h), frame_hdr_fields, WIRE_NFIELDS(frame_hdr_fields));
}

void sl_frame_hdr_read(const void *buf, struct sl_frame_hdr *h)
{
	wire_read(h, buf, sizeof(*h), frame_hdr_fields, WIRE_NFIELDS(frame_hdr_fields));
}

void sl_append_hdr_write(void *buf, const struct sl_append_hdr *a)
{
	type_hdr_write(SL_FRAME_APPEND, buf, a);
}

void sl_ack_write(void *buf, const struct sl_ack *a)
{
	type_hdr_write(SL_FRAME_ACK, buf, a);
}

void sl_heartbeat_write(void *buf, const struct sl_heartbeat *h)
{
	type_hdr_write(SL_FRAME_HEARTBEAT, buf, h);
}

void sl_nack_write(void *buf, const struct sl_nack *n)
{
	type_hdr_write(SL_FRAME_NACK, buf, n);
}

void sl_snap_chunk_write(void *buf, const struct sl_snap_chunk *s)
{
	type_hdr_write(SL_FRAME_SNAPSHOT_CHUNK, buf, s);
}

void sl_client_req_write(void *buf, const struct sl_client_req *r)
{
	type_hdr_write(SL_FRAME_CLIENT_REQ, buf, r);
}

void sl_client_resp_write(void *buf, const struct sl_client_resp *r)
{
	type_hdr_write(SL_FRAME_CLIENT_RESP, buf, r);
}

/* The frame CRC skips its own field and the tag (the tag is computed after it). */
static uint32_t frame_crc(const uint8_t *hdr, const struct iovec *iov, int iovcnt)
{
	uint32_t c = sl_crc32c(0, hdr, SL_FRAME_CRC_OFF);

	c = sl_crc32c(c, hdr + SL_FRAME_CRC_OFF + 4, SL_FRAME_TAG_OFF - SL_FRAME_CRC_OFF - 4);
	for (int i = 0; i < iovcnt; i++)
		c = sl_crc32c(c, iov[i].iov_base, iov[i].iov_len);
	return c;
}

/* Keyed BLAKE2b-128 over the header with a zero tag, then the payload. */
static void frame_mac(const uint8_t *hdr, const struct iovec *iov, int iovcnt,
		      const struct sl_auth_key *key, uint8_t tag[SL_TAG_LEN])
{
	crypto_generichash_state st;
	uint8_t h[SL_FRAME_HDR_LEN];

	memcpy(h, hdr, sizeof(h));
	memset(h + SL_FRAME_TAG_OFF, 0, SL_TAG_LEN);
	crypto_generichash_init(&st, key->bytes, SL_AUTH_KEY_LEN, SL_TAG_LEN);
	crypto_generichash_update(&st, h, sizeof(h));
	for (int i = 0; i < iovcnt; i++)
		crypto_generichash_update(&st, iov[i].iov_base, iov[i].iov_len);
	crypto_generichash_final(&st, tag, SL_TAG_LEN);
}

int sl_frame_seal(void *hdr, const struct iovec *iov, int iovcnt, const struct sl_auth_key *key)
{
	uint8_t *b = hdr;
	struct sl_frame_hdr h;
	uint64_t len = 0;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > UINT32_MAX - SL_FRAME_HDR_LEN)
		return -EINVAL;
	sl_frame_hdr_read(b, &h);
	h.payload_len = (uint32_t)len;
	h.flags = key ? (h.flags | SL_FRAME_F_AUTH) : (h.flags & ~SL_FRAME_F_AUTH);
	memset(h.tag, 0, SL_TAG_LEN);
	sl_frame_hdr_write(b, &h);
	wire_put_le32(b + SL_FRAME_CRC_OFF, frame_crc(b, iov, iovcnt));
	if (key)
		frame_mac(b, iov, iovcnt, key, b + SL_FRAME_TAG_OFF);
	return 0;
}

int sl_frame_seal_flat(void *frame, uint32_t payload_len, const struct sl_auth_key *key)
{
	struct iovec iov = { .iov_base = (uint8_t *)frame + SL_FRAME_HDR_LEN,
			     .iov_len = payload_len };

	return sl_frame_seal(frame, &iov, 1, key);
}

size_t sl_frame_encode(void *buf, size_t cap, const struct sl_frame_hdr *h, const void *type_hdr,
		       const void *body, uint32_t body_len, const struct sl_auth_key *key)
{
	uint8_t *b = buf;
	uint32_t thl = sl_frame_type_hdr_len(h->type);
	uint64_t total = (uint64_t)SL_FRAME_HDR_LEN + thl + body_len;

	if (thl == 0 || total > cap || total > UINT32_MAX)
		return 0;
	sl_frame_hdr_write(b, h);
	type_hdr_write(h->type, b + SL_FRAME_HDR_LEN, type_hdr);
	if (body_len > 0)
		memcpy(b + SL_FRAME_HDR_LEN + thl, body, body_len);
	if (sl_frame_seal_flat(b, thl + body_len, key) != 0)
		return 0;
	return (size_t)total;
}

static enum sl_reject frame_check_auth(const uint8_t *b, const struct sl_frame_hdr *h,
				       const struct sl_frame_expect *exp)
{
	struct iovec iov = { .iov_base = (void *)(b + SL_FRAME_HDR_LEN),
			     .iov_len = h->payload_len };
	uint8_t tag[SL_TAG_LEN];

	if (!(h->flags & SL_FRAME_F_AUTH)) {
		/* Unauthenticated frames carry a zero tag: the CRC does not cover it. */
		static const uint8_t zero[SL_TAG_LEN];

		if (exp->key != NULL || memcmp(h->tag, zero, SL_TAG_LEN) != 0)
			return SL_REJ_BAD_MAC;
		return SL_OK;
	}
	if (exp->key == NULL)
		return SL_REJ_BAD_MAC;
	frame_mac(b, &iov, 1, exp->key, tag);
	return sodium_memcmp(tag, h->tag, SL_TAG_LEN) == 0 ? SL_OK : SL_REJ_BAD_MAC;
}

/* Every record of an APPEND must be valid and exactly fill the body. */
static enum sl_reject append_check(const struct sl_frame_view *v, const struct sl_frame_expect *exp)
{
	uint32_t off = 0;

	if (v->u.append.count > v->body_len / SL_REC_HDR_LEN)
		return SL_REJ_REC_COUNT;
	for (uint32_t i = 0; i < v->u.append.count; i++) {
		struct sl_record_view r;
		enum sl_reject rc;

		if (off == v->body_len)
			return SL_REJ_REC_COUNT;
		rc = sl_record_decode(v->body + off, v->body_len - off, &exp->limits,
				      exp->check_record_crc, &r);
		if (rc != SL_OK)
			return rc;
		off += r.total_len;
	}
	return off == v->body_len ? SL_OK : SL_REJ_REC_COUNT;
}

static enum sl_reject client_req_check(const struct sl_frame_view *v,
				       const struct sl_frame_expect *exp)
{
	const struct sl_client_req *r = &v->u.req;

	if (r->op < SL_OP_PUT || r->op > SL_OP_GET)
		return SL_REJ_BAD_OP;
	if (r->flags != 0)
		return SL_REJ_BAD_FLAGS;
	if (r->key_len > exp->limits.key_max)
		return SL_REJ_KEY_TOO_LARGE;
	if (r->val_len > exp->limits.val_max)
		return SL_REJ_VAL_TOO_LARGE;
	if ((uint64_t)r->key_len + r->val_len != v->body_len)
		return SL_REJ_BAD_LENGTH;
	if (r->key_len == 0 || (r->op != SL_OP_PUT && r->val_len != 0) ||
	    (r->op != SL_OP_GET && r->min_lsn != 0))
		return SL_REJ_BAD_REQUEST;
	return SL_OK;
}

static enum sl_reject client_resp_check(const struct sl_frame_view *v,
					const struct sl_frame_expect *exp)
{
	const struct sl_client_resp *r = &v->u.resp;

	if (r->status >= SL_ST__MAX)
		return SL_REJ_BAD_STATUS;
	if (r->reserved != 0)
		return SL_REJ_BAD_FLAGS;
	if (r->val_len > exp->limits.val_max)
		return SL_REJ_VAL_TOO_LARGE;
	return r->val_len == v->body_len ? SL_OK : SL_REJ_BAD_LENGTH;
}

/* The type's own structure, once the header, CRC and MAC are known good. */
static enum sl_reject frame_check_body(const struct sl_frame_view *v,
				       const struct sl_frame_expect *exp)
{
	switch (v->hdr.type) {
	case SL_FRAME_APPEND:
		return append_check(v, exp);
	case SL_FRAME_CLIENT_REQ:
		return client_req_check(v, exp);
	case SL_FRAME_CLIENT_RESP:
		return client_resp_check(v, exp);
	case SL_FRAME_SNAPSHOT_CHUNK:
		if (v->u.snap.chunk_len != v->body_len)
			return SL_REJ_BAD_LENGTH;
		if (v->u.snap.offset > v->u.snap.total_len ||
		    v->u.snap.total_len - v->u.snap.offset < v->u.snap.chunk_len)
			return SL_REJ_BAD_FIELD;
		return SL_OK;
	case SL_FRAME_ACK:
		return v->u.ack.flags == 0 ? SL_OK : SL_REJ_BAD_FLAGS;
	case SL_FRAME_NACK:
		return (v->u.nack.reason == SL_NACK_GAP || v->u.nack.reason == SL_NACK_MISMATCH)
			       ? SL_OK
			       : SL_REJ_BAD_FIELD;
	}
	return SL_OK; /* HEARTBEAT: nothing beyond its fixed length */
}

/* Fixed types carry nothing after their header; the others carry a body. */
static int frame_type_has_body(unsigned type)
{
	return type == SL_FRAME_APPEND || type == SL_FRAME_SNAPSHOT_CHUNK ||
	       type == SL_FRAME_CLIENT_REQ || type == SL_FRAME_CLIENT_RESP;
}

static enum sl_reject frame_check_hdr(const struct sl_frame_hdr *h, size_t len,
				      const struct sl_frame_expect *exp)
{
	if (h->magic != SL_MAGIC)
		return SL_REJ_BAD_MAGIC;
	if (h->version != SL_WIRE_VERSION)
		return SL_REJ_BAD_VERSION;
	if (!frame_type_known(h->type))
		return SL_REJ_BAD_TYPE;
	if ((h->flags & ~SL_FRAME_F_ALL) != 0 || h->reserved != 0)
		return SL_REJ_BAD_FLAGS;
	if (h->cluster_id != exp->cluster_id)
		return SL_REJ_BAD_CLUSTER;
	if (h->dst_node != exp->node_id && h->dst_node != SL_NODE_ANY)
		return SL_REJ_BAD_DEST;
	if (frame_types[h->type].replication && (h->src_node == 0 || h->src_node > SL_NODE_MAX))
		return SL_REJ_BAD_SRC;
	if ((uint64_t)h->payload_len + SL_FRAME_HDR_LEN != len ||
	    h->payload_len < frame_types[h->type].hdr_len ||
	    (!frame_type_has_body(h->type) && h->payload_len != frame_types[h->type].hdr_len))
		return SL_REJ_BAD_LENGTH;
	return SL_OK;
}

enum sl_reject sl_frame_decode(const void *buf, size_t len, const struct sl_frame_expect *exp,
			       struct sl_frame_view *out)
{
	const uint8_t *b = buf;
	struct sl_frame_hdr *h = &out->hdr;
	struct iovec iov;
	enum sl_reject rc;
	unsigned t;

	if (len < SL_FRAME_HDR_LEN)
		return SL_REJ_SHORT;
	sl_frame_hdr_read(b, h);
	rc = frame_check_hdr(h, len, exp);
	if (rc != SL_OK)
		return rc;
	iov = (struct iovec){ .iov_base = (void *)(b + SL_FRAME_HDR_LEN),
			      .iov_len = h->payload_len };
	if (frame_crc(b, &iov, 1) != h->crc)
		return SL_REJ_BAD_CRC;
	rc = frame_check_auth(b, h, exp);
	if (rc != SL_OK)
		return rc;
	t = h->type;
	if (frame_types[t].replication && h->epoch < exp->min_epoch)
		return SL_REJ_STALE_EPOCH;

	out->payload = b + SL_FRAME_HDR_LEN;
	out->body = out->payload + frame_types[t].hdr_len;
	out->body_len = h->payload_len - frame_types[t].hdr_len;
	wire_read(&out->u, out->payload, frame_types[t].hdr_len, frame_types[t].fields,
		  frame_types[t].nfields);
	return frame_check_body(out, exp);
}

int sl_append_next(const struct sl_frame_view *v, uint32_t *off, struct sl_record_view *rec)
{
	static const struct sl_limits unlimited = { .key_max = UINT16_MAX, .val_max = UINT32_MAX };

	if (*off >= v->body_len)
		return 0;
	/* Already validated against the configured limits by sl_frame_decode(). */
	if (sl_record_decode(v->body + *off, v->body_len - *off, &unlimited, 0, rec) != SL_OK)
		return 0;
	*off += rec->total_len;
	return 1;
}
