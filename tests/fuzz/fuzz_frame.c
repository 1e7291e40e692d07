/*
 * libFuzzer target over frame and record decoding. The first input byte picks a mode:
 *   bit 0  re-seal the CRC first, so the fuzzer reaches the per-type checks
 *   bit 1  seal and verify with a cluster key (MAC path)
 *   bit 2  tight limits (16 B keys, 64 B values)
 *   bit 3  treat the rest as a stream of bare records (the WAL's view)
 * Beyond "no crash, no sanitizer report", every accepted input must re-encode to the
 * same bytes: what the decoder accepts, the encoder would have written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/wire.h>

#include "fuzz.h"

#define FUZZ_CLUSTER 0xc1a5u
#define FUZZ_NODE    2u
#define FUZZ_MAX     (64 * 1024)

static const struct sl_auth_key fuzz_key = { .bytes = "shiplog-fuzz-key-0123456789abcde" };
static uint8_t buf[FUZZ_MAX];
static uint8_t again[FUZZ_MAX];

static struct sl_record_desc desc_of(const struct sl_record_view *r)
{
	return (struct sl_record_desc){ .lsn = r->hdr.lsn,
					.epoch = r->hdr.epoch,
					.type = r->hdr.type,
					.flags = r->hdr.flags,
					.origin = r->origin,
					.key = r->key,
					.key_len = r->hdr.key_len,
					.val = r->val,
					.val_len = r->hdr.val_len };
}

/* An accepted record re-encodes to its own bytes (padding aside: the CRC skips it). */
static void check_record_identity(const struct sl_record_view *r)
{
	struct sl_record_desc d = desc_of(r);
	size_t n = sl_record_encode(again, sizeof(again), &d);
	size_t used = SL_REC_HDR_LEN + ((r->hdr.flags & SL_REC_F_ORIGIN) ? SL_REC_ORIGIN_LEN : 0) +
		      r->hdr.key_len + r->hdr.val_len;

	CHECK(n == r->total_len);
	CHECK(memcmp(again, r->raw, used) == 0);
}

static void fuzz_records(const uint8_t *p, size_t len, const struct sl_limits *lim)
{
	while (len > 0) {
		struct sl_record_view r;
		uint8_t *rec = (uint8_t *)p;

		if (sl_record_decode(p, len, lim, 0, &r) != SL_OK)
			return;
		/* In bounds: a re-stamped record must pass the full check. */
		sl_record_stamp(rec, r.hdr.lsn, r.hdr.epoch);
		CHECK(sl_record_decode(p, len, lim, 1, &r) == SL_OK);
		check_record_identity(&r);
		p += r.total_len;
		len -= r.total_len;
	}
}

static void fuzz_frame(size_t len, unsigned mode, const struct sl_frame_expect *exp)
{
	struct sl_frame_view v;
	size_t n;

	if ((mode & 1) && len >= SL_FRAME_HDR_LEN)
		sl_frame_seal_flat(buf, (uint32_t)(len - SL_FRAME_HDR_LEN), exp->key);
	if (sl_frame_decode(buf, len, exp, &v) != SL_OK)
		return;
	n = sl_frame_encode(again, sizeof(again), &v.hdr, &v.u, v.body, v.body_len, exp->key);
	CHECK(n == len);
	CHECK(memcmp(again, buf, len) == 0);
	if (v.hdr.type == SL_FRAME_APPEND) {
		struct sl_record_view r;
		uint32_t off = 0, count = 0;

		while (sl_append_next(&v, &off, &r)) {
			check_record_identity(&r);
			count++;
		}
		CHECK(count == v.u.append.count);
		CHECK(off == v.body_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_frame_expect exp = { .cluster_id = FUZZ_CLUSTER,
				       .node_id = FUZZ_NODE,
				       .min_epoch = 2,
				       .limits = sl_limits_default(),
				       .check_record_crc = 1 };
	unsigned mode;

	if (size < 1 || size - 1 > FUZZ_MAX)
		return 0;
	mode = data[0];
	size--;
	memcpy(buf, data + 1, size);
	if (mode & 2)
		exp.key = &fuzz_key;
	if (mode & 4)
		exp.limits = (struct sl_limits){ .key_max = 16, .val_max = 64 };
	if (mode & 8)
		fuzz_records(buf, size, &exp.limits);
	else
		fuzz_frame(size, mode, &exp);
	return 0;
}
