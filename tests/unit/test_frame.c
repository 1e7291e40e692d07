/* Frame codec: a round trip per type, boundaries, and one named case per refusal reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <shiplog/wire.h>

#define CLUSTER	 0xc1a5u
#define ME	 2u
#define PEER	 1u
#define EPOCH	 5u
#define BODY_MAX 8192

/* A frame to build: header, the type's payload header, body; and what the receiver expects. */
struct spec {
	struct sl_frame_hdr h;
	union sl_type_hdr t;
	uint8_t body[BODY_MAX];
	uint32_t body_len;
	const struct sl_auth_key *seal_key;
	struct sl_frame_expect exp;
};

static const struct sl_auth_key key_a = { .bytes = "0123456789abcdef0123456789abcdef" };
static const struct sl_auth_key key_b = { .bytes = "fedcba9876543210fedcba9876543210" };
static uint8_t frame[SL_FRAME_HDR_LEN + 64 + BODY_MAX];
static struct spec sp;

static void spec_init(uint8_t type)
{
	memset(&sp, 0, sizeof(sp));
	sp.h = (struct sl_frame_hdr){
		.magic = SL_MAGIC,
		.version = SL_WIRE_VERSION,
		.type = type,
		.cluster_id = CLUSTER,
		.epoch = EPOCH,
		.src_node = PEER,
		.dst_node = ME,
		.seq = 77,
	};
	sp.exp = (struct sl_frame_expect){
		.cluster_id = CLUSTER,
		.node_id = ME,
		.min_epoch = EPOCH,
		.limits = sl_limits_default(),
		.check_record_crc = 1,
	};
}

/* APPEND of n PUT records (key 8 B, value 16 B) starting after prev_lsn 100. */
static void spec_append(uint32_t n)
{
	spec_init(SL_FRAME_APPEND);
	sp.t.append = (struct sl_append_hdr){ .prev_lsn = 100,
					      .prev_epoch = 4,
					      .commit_lsn = 90,
					      .send_ts_ns = 123456789,
					      .count = n };
	for (uint32_t i = 0; i < n; i++) {
		struct sl_record_desc d = { .lsn = 101 + i,
					    .epoch = EPOCH,
					    .type = SL_REC_PUT,
					    .key = "key-0000",
					    .key_len = 8,
					    .val = "value-0123456789",
					    .val_len = 16 };
		size_t w = sl_record_encode(sp.body + sp.body_len, BODY_MAX - sp.body_len, &d);
		assert_int_not_equal(w, 0);
		sp.body_len += (uint32_t)w;
	}
}

static void spec_req(uint8_t op, uint16_t key_len, uint32_t val_len)
{
	spec_init(SL_FRAME_CLIENT_REQ);
	sp.h.src_node = 0;
	sp.h.dst_node = SL_NODE_ANY;
	sp.h.epoch = 0;
	sp.t.req = (struct sl_client_req){
		.client_id = 0xabcdef, .seq = 9, .op = op, .key_len = key_len, .val_len = val_len
	};
	memset(sp.body, 'k', key_len);
	memset(sp.body + key_len, 'v', val_len);
	sp.body_len = key_len + val_len;
}

static void spec_resp(uint8_t status, uint32_t val_len)
{
	spec_init(SL_FRAME_CLIENT_RESP);
	sp.h.src_node = ME;
	sp.h.dst_node = 0;
	sp.exp.node_id = 0;
	sp.t.resp = (struct sl_client_resp){ .client_id = 0xabcdef,
					     .seq = 9,
					     .lsn = 1000,
					     .epoch = EPOCH,
					     .status = status,
					     .op = SL_OP_GET,
					     .leader_hint = 3,
					     .val_len = val_len };
	memset(sp.body, 'v', val_len);
	sp.body_len = val_len;
}

static void spec_ack(void)
{
	spec_init(SL_FRAME_ACK);
	sp.t.ack = (struct sl_ack){ .received_lsn = 30,
				    .flushed_lsn = 20,
				    .applied_lsn = 10,
				    .echo_ts_ns = 555,
				    .last_epoch = EPOCH };
}

static void spec_heartbeat(void)
{
	spec_init(SL_FRAME_HEARTBEAT);
	sp.t.heartbeat = (struct sl_heartbeat){ .commit_lsn = 7, .last_lsn = 8, .send_ts_ns = 9 };
}

static void spec_nack(void)
{
	spec_init(SL_FRAME_NACK);
	sp.t.nack = (struct sl_nack){
		.expected_lsn = 51, .last_lsn = 50, .last_epoch = 3, .reason = SL_NACK_MISMATCH
	};
}

static void spec_snap(uint32_t chunk_len)
{
	spec_init(SL_FRAME_SNAPSHOT_CHUNK);
	sp.t.snap = (struct sl_snap_chunk){ .snap_lsn = 4000,
					    .offset = 1000,
					    .total_len = 5000,
					    .snap_epoch = 4,
					    .chunk_len = chunk_len };
	memset(sp.body, 's', chunk_len);
	sp.body_len = chunk_len;
}

static size_t build(void)
{
	size_t n = sl_frame_encode(frame, sizeof(frame), &sp.h, &sp.t, sp.body, sp.body_len,
				   sp.seal_key);

	assert_int_not_equal(n, 0);
	return n;
}

static enum sl_reject decode(size_t len, struct sl_frame_view *v)
{
	return sl_frame_decode(frame, len, &sp.exp, v);
}

/* Re-computes CRC (and tag) after a raw-byte change, so a later check is reached. */
static void reseal(size_t len)
{
	assert_int_equal(sl_frame_seal_flat(frame, (uint32_t)(len - SL_FRAME_HDR_LEN), sp.seal_key),
			 0);
}

static void check_roundtrip(void)
{
	struct sl_frame_view v;
	size_t n = build();
	uint32_t thl = sl_frame_type_hdr_len(sp.h.type);

	assert_int_equal(decode(n, &v), SL_OK);
	assert_int_equal(v.hdr.magic, SL_MAGIC);
	assert_int_equal(v.hdr.version, SL_WIRE_VERSION);
	assert_int_equal(v.hdr.type, sp.h.type);
	assert_int_equal(v.hdr.cluster_id, sp.h.cluster_id);
	assert_int_equal(v.hdr.epoch, sp.h.epoch);
	assert_int_equal(v.hdr.src_node, sp.h.src_node);
	assert_int_equal(v.hdr.dst_node, sp.h.dst_node);
	assert_true(v.hdr.seq == sp.h.seq);
	assert_int_equal(v.hdr.payload_len, thl + sp.body_len);
	assert_memory_equal(&v.u, &sp.t, thl);
	assert_int_equal(v.body_len, sp.body_len);
	if (sp.body_len)
		assert_memory_equal(v.body, sp.body, sp.body_len);
}

static void test_roundtrip_append(void **state)
{
	struct sl_frame_view v;
	struct sl_record_view r;
	uint32_t off = 0, i = 0;

	(void)state;
	spec_append(3);
	check_roundtrip();
	assert_int_equal(decode(build(), &v), SL_OK);
	while (sl_append_next(&v, &off, &r)) {
		assert_true(r.hdr.lsn == 101 + i);
		assert_memory_equal(r.key, "key-0000", 8);
		assert_memory_equal(r.val, "value-0123456789", 16);
		i++;
	}
	assert_int_equal(i, 3);
	assert_int_equal(off, v.body_len);
}

static void test_roundtrip_fixed_types(void **state)
{
	(void)state;
	spec_ack();
	check_roundtrip();
	spec_heartbeat();
	check_roundtrip();
	spec_nack();
	check_roundtrip();
	spec_nack();
	sp.t.nack.reason = SL_NACK_GAP;
	check_roundtrip();
}

static void test_roundtrip_client_and_snapshot(void **state)
{
	(void)state;
	spec_req(SL_OP_PUT, 10, 100);
	check_roundtrip();
	spec_req(SL_OP_DEL, 10, 0);
	check_roundtrip();
	spec_req(SL_OP_GET, 10, 0);
	sp.t.req.min_lsn = 42;
	check_roundtrip();
	for (uint8_t st = 0; st < SL_ST__MAX; st++) {
		spec_resp(st, st == SL_ST_OK ? 33 : 0);
		check_roundtrip();
	}
	spec_snap(512);
	check_roundtrip();
}

/* Known bytes of a header: the layout is a contract with other builds. */
static void test_golden_header(void **state)
{
	static const uint8_t want[] = {
		'S',  'H',  'P', 'L', 1,  SL_FRAME_HEARTBEAT,
		0,    0, /* magic version type flags */
		0xa5, 0xc1, 0,	 0,   5,  0,
		0,    0, /* cluster epoch */
		1,    0,    2,	 0,   24, 0,
		0,    0, /* src dst payload_len */
		77,   0,    0,	 0,   0,  0,
		0,    0, /* seq */
	};

	(void)state;
	spec_heartbeat();
	build();
	assert_memory_equal(frame, want, sizeof(want));
	assert_memory_equal(frame + 36, "\0\0\0\0", 4);
	for (unsigned i = 0; i < SL_TAG_LEN; i++)
		assert_int_equal(frame[SL_FRAME_TAG_OFF + i], 0);
	assert_int_equal(SL_FRAME_HDR_LEN + sl_frame_type_hdr_len(SL_FRAME_APPEND), 88);
}

static void test_accept_boundaries(void **state)
{
	struct sl_frame_view v;

	(void)state;
	spec_append(0); /* an empty APPEND carries only the commit point */
	assert_int_equal(decode(build(), &v), SL_OK);
	spec_append(1);
	sp.h.dst_node = SL_NODE_ANY;
	assert_int_equal(decode(build(), &v), SL_OK);
	spec_append(1);
	sp.h.epoch = EPOCH + 1;
	assert_int_equal(decode(build(), &v), SL_OK);
	spec_append(1);
	sp.h.src_node = SL_NODE_MAX;
	assert_int_equal(decode(build(), &v), SL_OK);
	spec_req(SL_OP_PUT, SL_KEY_MAX_DEFAULT, SL_VAL_MAX_DEFAULT);
	sp.h.epoch = 0; /* clients are not fenced: their epoch is only a hint */
	assert_int_equal(decode(build(), &v), SL_OK);
	spec_append(1);
	sp.seal_key = &key_a;
	sp.exp.key = &key_a;
	assert_int_equal(decode(build(), &v), SL_OK);
	assert_true(v.hdr.flags & SL_FRAME_F_AUTH);
	spec_append(150); /* a jumbo (9000 B MTU) frame of records */
	assert_int_equal(decode(build(), &v), SL_OK);
	spec_append(1);
	sp.exp.check_record_crc = 0;
	sp.body[SL_REC_HDR_LEN] ^= 1; /* record damage the caller chose not to check */
	assert_int_equal(decode(build(), &v), SL_OK);
}

static void test_encode_refuses(void **state)
{
	(void)state;
	spec_heartbeat();
	assert_int_equal(sl_frame_encode(frame, SL_FRAME_HDR_LEN + 23, &sp.h, &sp.t, NULL, 0, NULL),
			 0);
	sp.h.type = 0;
	assert_int_equal(sl_frame_encode(frame, sizeof(frame), &sp.h, &sp.t, NULL, 0, NULL), 0);
}

/* ---- one case per refusal reason ---------------------------------------------------- */

struct reject_case {
	const char *name;
	enum sl_reject want;
	void (*setup)(void);
	/* raw damage after sealing; may change the length handed to the decoder */
	void (*after)(size_t *len);
};

static void base_append2(void)
{
	spec_append(2);
}

static void flip_byte(size_t off)
{
	frame[off] ^= 0x10;
}

static void a_len0(size_t *len)
{
	*len = 0;
}
static void a_len55(size_t *len)
{
	*len = SL_FRAME_HDR_LEN - 1;
}
static void a_type0(size_t *len)
{
	frame[5] = 0;
	reseal(*len);
}
static void a_type8(size_t *len)
{
	frame[5] = SL_FRAME__MAX;
	reseal(*len);
}
static void a_type255(size_t *len)
{
	frame[5] = 255;
	reseal(*len);
}
static void a_len_plus1(size_t *len)
{
	*len += 1;
}
static void a_len_minus1(size_t *len)
{
	*len -= 1;
}
static void a_below_type_hdr(size_t *len)
{
	*len = SL_FRAME_HDR_LEN + 8;
	reseal(*len);
}
static void a_crc_payload(size_t *len)
{
	flip_byte(*len - 1);
}
static void a_crc_header(size_t *len)
{
	(void)len;
	flip_byte(12);
}
static void a_crc_field(size_t *len)
{
	(void)len;
	flip_byte(SL_FRAME_CRC_OFF);
}
static void a_tag(size_t *len)
{
	(void)len;
	flip_byte(SL_FRAME_TAG_OFF + 7);
}

static void s_magic(void)
{
	spec_heartbeat();
	sp.h.magic ^= 1;
}
static void s_version(void)
{
	spec_heartbeat();
	sp.h.version = SL_WIRE_VERSION + 1;
}
static void s_flags(void)
{
	spec_heartbeat();
	sp.h.flags = 0x8000;
}
static void s_reserved(void)
{
	spec_heartbeat();
	sp.h.reserved = 1;
}
static void s_ack_flags(void)
{
	spec_ack();
	sp.t.ack.flags = 1;
}
static void s_req_flags(void)
{
	spec_req(SL_OP_PUT, 4, 4);
	sp.t.req.flags = 2;
}
static void s_resp_reserved(void)
{
	spec_resp(SL_ST_OK, 0);
	sp.t.resp.reserved = 1;
}
static void s_cluster(void)
{
	spec_heartbeat();
	sp.h.cluster_id = CLUSTER + 1;
}
static void s_dest(void)
{
	spec_heartbeat();
	sp.h.dst_node = ME + 1;
}
static void s_src0(void)
{
	spec_append(1);
	sp.h.src_node = 0;
}
static void s_src_high(void)
{
	spec_ack();
	sp.h.src_node = SL_NODE_MAX + 1;
}
static void s_heartbeat_extra(void)
{
	spec_heartbeat();
	sp.body_len = 8;
}
static void s_req_len(void)
{
	spec_req(SL_OP_PUT, 4, 4);
	sp.t.req.val_len = 5;
}
static void s_snap_len(void)
{
	spec_snap(64);
	sp.t.snap.chunk_len = 63;
}
static void s_resp_len(void)
{
	spec_resp(SL_ST_OK, 16);
	sp.t.resp.val_len = 15;
}
static void s_mac_missing(void)
{
	spec_append(1);
	sp.exp.key = &key_a;
}
static void s_mac_unexpected(void)
{
	spec_append(1);
	sp.seal_key = &key_a;
}
static void s_mac_wrong_key(void)
{
	spec_append(1);
	sp.seal_key = &key_b;
	sp.exp.key = &key_a;
}
static void s_mac_tag(void)
{
	spec_append(1);
	sp.seal_key = &key_a;
	sp.exp.key = &key_a;
}
static void s_stale_append(void)
{
	spec_append(1);
	sp.h.epoch = EPOCH - 1;
}
static void s_stale_heartbeat(void)
{
	spec_heartbeat();
	sp.h.epoch = 0;
}
static void s_nack_reason(void)
{
	spec_nack();
	sp.t.nack.reason = 3;
}
static void s_snap_offset(void)
{
	spec_snap(64);
	sp.t.snap.offset = sp.t.snap.total_len - 63;
}
static void s_rec_overrun(void)
{
	spec_append(1);
	sp.body[16] += 64; /* val_len 16 -> 80: runs past the frame */
}
static void s_rec_type(void)
{
	spec_append(2);
	sp.body[48 + 12] = 0; /* second record (48 bytes each) */
}
static void s_rec_flags(void)
{
	spec_append(1);
	sp.body[13] = 0x40;
}
static void s_rec_fields(void)
{
	spec_append(1);
	sp.body[12] = SL_REC_NOOP; /* a NOOP with a key and value */
	sl_record_stamp(sp.body, 101, EPOCH);
}
static void s_rec_crc(void)
{
	spec_append(2);
	sp.body[48 + 30] ^= 1; /* frame CRC is recomputed; the record's is not */
}
static void s_key_append(void)
{
	spec_append(1);
	sp.exp.limits.key_max = 7;
}
static void s_val_append(void)
{
	spec_append(1);
	sp.exp.limits.val_max = 15;
}
static void s_key_req(void)
{
	spec_req(SL_OP_PUT, SL_KEY_MAX_DEFAULT + 1, 4);
}
static void s_val_req(void)
{
	spec_req(SL_OP_PUT, 4, SL_VAL_MAX_DEFAULT + 1);
}
static void s_val_resp(void)
{
	spec_resp(SL_ST_OK, 64);
	sp.exp.limits.val_max = 63;
}
static void s_count_high(void)
{
	spec_append(2);
	sp.t.append.count = 3;
}
static void s_count_low(void)
{
	spec_append(2);
	sp.t.append.count = 1;
}
static void s_count_absurd(void)
{
	spec_append(2);
	sp.t.append.count = UINT32_MAX;
}
static void s_count_trailing(void)
{
	spec_append(2);
	memset(sp.body + sp.body_len, 0, 8);
	sp.body_len += 8;
}
static void s_op0(void)
{
	spec_req(SL_OP_PUT, 4, 4);
	sp.t.req.op = 0;
}
static void s_op4(void)
{
	spec_req(SL_OP_PUT, 4, 4);
	sp.t.req.op = SL_OP_GET + 1;
}
static void s_req_empty_key(void)
{
	spec_req(SL_OP_PUT, 0, 4);
}
static void s_req_get_value(void)
{
	spec_req(SL_OP_GET, 4, 4);
}
static void s_req_del_value(void)
{
	spec_req(SL_OP_DEL, 4, 1);
}
static void s_req_put_min_lsn(void)
{
	spec_req(SL_OP_PUT, 4, 4);
	sp.t.req.min_lsn = 5;
}
static void s_status(void)
{
	spec_resp(SL_ST__MAX, 0);
}

static const struct reject_case reject_cases[] = {
	{ "short_empty", SL_REJ_SHORT, base_append2, a_len0 },
	{ "short_header", SL_REJ_SHORT, base_append2, a_len55 },
	{ "bad_magic", SL_REJ_BAD_MAGIC, s_magic, NULL },
	{ "bad_version", SL_REJ_BAD_VERSION, s_version, NULL },
	{ "bad_type_zero", SL_REJ_BAD_TYPE, spec_heartbeat, a_type0 },
	{ "bad_type_past_last", SL_REJ_BAD_TYPE, spec_heartbeat, a_type8 },
	{ "bad_type_255", SL_REJ_BAD_TYPE, spec_heartbeat, a_type255 },
	{ "bad_flags_unknown_bit", SL_REJ_BAD_FLAGS, s_flags, NULL },
	{ "bad_flags_reserved", SL_REJ_BAD_FLAGS, s_reserved, NULL },
	{ "bad_flags_ack", SL_REJ_BAD_FLAGS, s_ack_flags, NULL },
	{ "bad_flags_request", SL_REJ_BAD_FLAGS, s_req_flags, NULL },
	{ "bad_flags_response_reserved", SL_REJ_BAD_FLAGS, s_resp_reserved, NULL },
	{ "bad_cluster", SL_REJ_BAD_CLUSTER, s_cluster, NULL },
	{ "bad_dest", SL_REJ_BAD_DEST, s_dest, NULL },
	{ "bad_src_zero", SL_REJ_BAD_SRC, s_src0, NULL },
	{ "bad_src_past_max", SL_REJ_BAD_SRC, s_src_high, NULL },
	{ "bad_length_extra_byte", SL_REJ_BAD_LENGTH, base_append2, a_len_plus1 },
	{ "bad_length_missing_byte", SL_REJ_BAD_LENGTH, base_append2, a_len_minus1 },
	{ "bad_length_below_type_header", SL_REJ_BAD_LENGTH, base_append2, a_below_type_hdr },
	{ "bad_length_fixed_type_extra", SL_REJ_BAD_LENGTH, s_heartbeat_extra, NULL },
	{ "bad_length_request_body", SL_REJ_BAD_LENGTH, s_req_len, NULL },
	{ "bad_length_snapshot_chunk", SL_REJ_BAD_LENGTH, s_snap_len, NULL },
	{ "bad_length_response_value", SL_REJ_BAD_LENGTH, s_resp_len, NULL },
	{ "bad_crc_payload", SL_REJ_BAD_CRC, base_append2, a_crc_payload },
	{ "bad_crc_header", SL_REJ_BAD_CRC, base_append2, a_crc_header },
	{ "bad_crc_field", SL_REJ_BAD_CRC, base_append2, a_crc_field },
	{ "bad_mac_missing", SL_REJ_BAD_MAC, s_mac_missing, NULL },
	{ "bad_mac_unexpected", SL_REJ_BAD_MAC, s_mac_unexpected, NULL },
	{ "bad_mac_wrong_key", SL_REJ_BAD_MAC, s_mac_wrong_key, NULL },
	{ "bad_mac_tag_flipped", SL_REJ_BAD_MAC, s_mac_tag, a_tag },
	{ "bad_mac_tag_without_flag", SL_REJ_BAD_MAC, spec_heartbeat, a_tag },
	{ "stale_epoch_append", SL_REJ_STALE_EPOCH, s_stale_append, NULL },
	{ "stale_epoch_heartbeat", SL_REJ_STALE_EPOCH, s_stale_heartbeat, NULL },
	{ "bad_field_nack_reason", SL_REJ_BAD_FIELD, s_nack_reason, NULL },
	{ "bad_field_snapshot_offset", SL_REJ_BAD_FIELD, s_snap_offset, NULL },
	{ "rec_overrun", SL_REJ_REC_OVERRUN, s_rec_overrun, NULL },
	{ "rec_type", SL_REJ_REC_TYPE, s_rec_type, NULL },
	{ "rec_flags", SL_REJ_REC_FLAGS, s_rec_flags, NULL },
	{ "rec_fields", SL_REJ_REC_FIELDS, s_rec_fields, NULL },
	{ "rec_crc", SL_REJ_REC_CRC, s_rec_crc, NULL },
	{ "key_too_large_append", SL_REJ_KEY_TOO_LARGE, s_key_append, NULL },
	{ "key_too_large_request", SL_REJ_KEY_TOO_LARGE, s_key_req, NULL },
	{ "val_too_large_append", SL_REJ_VAL_TOO_LARGE, s_val_append, NULL },
	{ "val_too_large_request", SL_REJ_VAL_TOO_LARGE, s_val_req, NULL },
	{ "val_too_large_response", SL_REJ_VAL_TOO_LARGE, s_val_resp, NULL },
	{ "rec_count_too_high", SL_REJ_REC_COUNT, s_count_high, NULL },
	{ "rec_count_too_low", SL_REJ_REC_COUNT, s_count_low, NULL },
	{ "rec_count_absurd", SL_REJ_REC_COUNT, s_count_absurd, NULL },
	{ "rec_count_trailing_bytes", SL_REJ_REC_COUNT, s_count_trailing, NULL },
	{ "bad_op_zero", SL_REJ_BAD_OP, s_op0, NULL },
	{ "bad_op_past_last", SL_REJ_BAD_OP, s_op4, NULL },
	{ "bad_request_empty_key", SL_REJ_BAD_REQUEST, s_req_empty_key, NULL },
	{ "bad_request_get_with_value", SL_REJ_BAD_REQUEST, s_req_get_value, NULL },
	{ "bad_request_del_with_value", SL_REJ_BAD_REQUEST, s_req_del_value, NULL },
	{ "bad_request_put_with_min_lsn", SL_REJ_BAD_REQUEST, s_req_put_min_lsn, NULL },
	{ "bad_status", SL_REJ_BAD_STATUS, s_status, NULL },
};
#define N_REJECT_CASES (sizeof(reject_cases) / sizeof(reject_cases[0]))

static void run_reject_case(void **state)
{
	const struct reject_case *c = *state;
	struct sl_frame_view v;
	size_t len;
	enum sl_reject got;

	c->setup();
	len = build();
	if (c->after)
		c->after(&len);
	got = decode(len, &v);
	if (got != c->want)
		fail_msg("%s: want %s, got %s", c->name, sl_reject_name(c->want),
			 sl_reject_name(got));
}

/* The table above is the proof that every reason is tested: it must name them all. */
static void test_every_reason_has_a_case(void **state)
{
	(void)state;
	for (unsigned r = 1; r < SL_REJ__MAX; r++) {
		int found = 0;

		for (size_t i = 0; i < N_REJECT_CASES; i++)
			found |= reject_cases[i].want == r;
		/* record-level reasons of plain records are also in test_record.c */
		if (!found)
			fail_msg("no frame case for reason %s", sl_reject_name(r));
	}
}

static void test_reason_names(void **state)
{
	(void)state;
	for (unsigned r = 0; r < SL_REJ__MAX; r++) {
		assert_non_null(sl_reject_name(r));
		assert_non_null(sl_reject_str(r));
		assert_string_not_equal(sl_reject_name(r), "unknown");
		for (unsigned q = 0; q < r; q++)
			assert_string_not_equal(sl_reject_name(r), sl_reject_name(q));
	}
	assert_string_equal(sl_reject_name(SL_REJ__MAX), "unknown");
	assert_string_equal(sl_reject_str((enum sl_reject) - 1), "unknown reason");
	assert_string_equal(sl_frame_type_name(0), "unknown");
	assert_string_equal(sl_frame_type_name(SL_FRAME_APPEND), "append");
	assert_string_equal(sl_client_status_name(SL_ST_STALE), "stale");
	assert_string_equal(sl_client_status_name(SL_ST__MAX), "unknown");
}

static void test_stats_sum(void **state)
{
	struct sl_reject_stats a = { { 0 } }, b = { { 0 } };

	(void)state;
	sl_reject_count(&a, SL_REJ_BAD_CRC);
	sl_reject_count(&a, SL_REJ_BAD_CRC);
	sl_reject_count(&b, SL_REJ_SHORT);
	sl_reject_count(&b, SL_REJ__MAX); /* out of range: ignored, not a write past the end */
	sl_reject_stats_add(&a, &b);
	assert_int_equal(a.count[SL_REJ_BAD_CRC], 2);
	assert_int_equal(a.count[SL_REJ_SHORT], 1);
	assert_int_equal(sl_reject_stats_total(&a), 3);
}

/* A refused request still yields the client's id and seq, so it can be answered. */
static void test_refused_request_is_answerable(void **state)
{
	struct sl_frame_view v;

	(void)state;
	spec_req(SL_OP_PUT, SL_KEY_MAX_DEFAULT + 1, 4);
	assert_int_equal(decode(build(), &v), SL_REJ_KEY_TOO_LARGE);
	assert_true(v.u.req.client_id == 0xabcdef);
	assert_true(v.u.req.seq == 9);
}

int main(void)
{
	static struct CMUnitTest tests[N_REJECT_CASES + 16];
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_roundtrip_append),
		cmocka_unit_test(test_roundtrip_fixed_types),
		cmocka_unit_test(test_roundtrip_client_and_snapshot),
		cmocka_unit_test(test_golden_header),
		cmocka_unit_test(test_accept_boundaries),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_every_reason_has_a_case),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_stats_sum),
		cmocka_unit_test(test_refused_request_is_answerable),
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	for (size_t i = 0; i < N_REJECT_CASES; i++)
		tests[n++] = (struct CMUnitTest){ .name = reject_cases[i].name,
						  .test_func = run_reject_case,
						  .initial_state = (void *)&reject_cases[i] };
	return _cmocka_run_group_tests("frame", tests, n, NULL, NULL);
}
