/* libshiplog's codec: CLIENT_REQ datagrams out, CLIENT_RESP datagrams in (wire.h). */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <shiplog/client.h>

size_t sl_client_req_max(const struct sl_limits *lim)
{
	return (size_t)SL_FRAME_HDR_LEN + sizeof(struct sl_client_req) + lim->key_max +
	       lim->val_max;
}

size_t sl_client_resp_max(const struct sl_limits *lim)
{
	return (size_t)SL_FRAME_HDR_LEN + sizeof(struct sl_client_resp) + lim->val_max;
}

/* The checks client_req_check() in the frame decoder makes, as an errno. */
static int req_check(const struct sl_client_codec *cc, const struct sl_client_req *req,
		     const void *key, const void *val)
{
	if (req->op < SL_OP_PUT || req->op > SL_OP_GET || req->flags != 0)
		return -EINVAL;
	if (req->key_len == 0 || key == NULL || (req->val_len > 0 && val == NULL))
		return -EINVAL;
	if ((req->op != SL_OP_PUT && req->val_len != 0) ||
	    (req->op != SL_OP_GET && req->min_lsn != 0))
		return -EINVAL;
	if (req->key_len > cc->limits.key_max || req->val_len > cc->limits.val_max)
		return -EMSGSIZE;
	return 0;
}

int sl_client_encode_req(const struct sl_client_codec *cc, void *buf, size_t cap, uint16_t dst_node,
			 uint64_t frame_seq, const struct sl_client_req *req, const void *key,
			 const void *val)
{
	const struct sl_frame_hdr h = {
		.magic = SL_MAGIC,
		.version = SL_WIRE_VERSION,
		.type = SL_FRAME_CLIENT_REQ,
		.cluster_id = cc->cluster_id,
		.epoch = 0, /* clients are not fenced: only replication frames carry epochs */
		.src_node = 0,
		.dst_node = dst_node,
		.seq = frame_seq,
	};
	uint64_t payload = (uint64_t)sizeof(*req) + req->key_len + req->val_len;
	uint8_t *b = buf;
	int rc = req_check(cc, req, key, val);

	if (rc < 0)
		return rc;
	/* The length is returned as an int: a codec with absurd limits still cannot wrap. */
	if (SL_FRAME_HDR_LEN + payload > cap || SL_FRAME_HDR_LEN + payload > INT32_MAX)
		return -ENOBUFS;
	/* Header and key/value straight into buf: no staging copy of the body. */
	sl_frame_hdr_write(b, &h);
	sl_client_req_write(b + SL_FRAME_HDR_LEN, req);
	memcpy(b + SL_FRAME_HDR_LEN + sizeof(*req), key, req->key_len);
	if (req->val_len > 0)
		memcpy(b + SL_FRAME_HDR_LEN + sizeof(*req) + req->key_len, val, req->val_len);
	rc = sl_frame_seal_flat(b, (uint32_t)payload, cc->key);
	assert(rc == 0); /* payload is below INT32_MAX */
	return (int)(SL_FRAME_HDR_LEN + payload);
}

enum sl_reject sl_client_decode_resp(const struct sl_client_codec *cc, const void *buf, size_t len,
				     struct sl_client_answer *out)
{
	/* node_id 0: answers are addressed to the client (0) or to SL_NODE_ANY. */
	const struct sl_frame_expect exp = {
		.cluster_id = cc->cluster_id,
		.node_id = 0,
		.min_epoch = 0,
		.limits = cc->limits,
		.key = cc->key,
	};
	struct sl_frame_view v;
	enum sl_reject r = sl_frame_decode(buf, len, &exp, &v);

	if (r != SL_OK)
		return r;
	if (v.hdr.type != SL_FRAME_CLIENT_RESP)
		return SL_REJ_BAD_TYPE;
	assert(v.body_len == v.u.resp.val_len); /* checked by the decoder */
	out->resp = v.u.resp;
	out->node_id = v.hdr.src_node;
	out->frame_epoch = v.hdr.epoch;
	out->val = v.body;
	return SL_OK;
}
