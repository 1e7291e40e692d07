/* Log record codec: round trips, sizes at the limits, one test per refusal reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <shiplog/record.h>

#include "testutil.h"

#define BUF_LEN 4096

static uint8_t key_bytes[UINT16_MAX];
static uint8_t val_bytes[BUF_LEN];
static uint8_t buf[BUF_LEN + 64];

static struct sl_record_desc desc(uint8_t type, uint16_t key_len, uint32_t val_len)
{
	return (struct sl_record_desc){
		.lsn = 0x0102030405060708ull,
		.epoch = 7,
		.type = type,
		.key = key_bytes,
		.key_len = key_len,
		.val = val_bytes,
		.val_len = val_len,
	};
}

static void roundtrip(const struct sl_record_desc *d)
{
	struct sl_limits lim = { .key_max = UINT16_MAX, .val_max = BUF_LEN };
	struct sl_record_view v;
	size_t n;

	memset(buf, 0xa5, sizeof(buf));
	n = sl_record_encode(buf, sizeof(buf), d);
	assert_int_equal(n, sl_record_size(d->flags, d->key_len, d->val_len));
	assert_int_equal(n % SL_REC_ALIGN, 0);
	assert_int_equal(sl_record_decode(buf, n, &lim, 1, &v), SL_OK);
	assert_int_equal(v.total_len, n);
	assert_true(v.hdr.lsn == d->lsn);
	assert_int_equal(v.hdr.epoch, d->epoch);
	assert_int_equal(v.hdr.type, d->type);
	assert_int_equal(v.hdr.flags, d->flags);
	assert_int_equal(v.hdr.key_len, d->key_len);
	assert_int_equal(v.hdr.val_len, d->val_len);
	assert_int_equal(v.hdr.crc, sl_record_crc(buf));
	assert_true(v.origin.client_id == d->origin.client_id);
	assert_true(v.origin.seq == d->origin.seq);
	assert_memory_equal(v.key, key_bytes, d->key_len);
	if (d->val_len)
		assert_memory_equal(v.val, val_bytes, d->val_len);
	/* Padding is written as zeros, never left as whatever was in the buffer. */
	for (size_t i = (size_t)(v.val - buf) + d->val_len; i < n; i++)
		assert_int_equal(buf[i], 0);
}

static void test_roundtrip_every_type(void **state)
{
	struct sl_record_desc d;

	(void)state;
	d = desc(SL_REC_PUT, 5, 11);
	roundtrip(&d);
	d.flags = SL_REC_F_ORIGIN;
	d.origin = (struct sl_record_origin){ .client_id = 0xdeadbeefcafeull, .seq = 42 };
	roundtrip(&d);
	d = desc(SL_REC_DEL, 9, 0);
	roundtrip(&d);
	d.flags = SL_REC_F_ORIGIN;
	d.origin.client_id = 3;
	roundtrip(&d);
	d = desc(SL_REC_NOOP, 0, 0);
	roundtrip(&d);
	d = desc(SL_REC_CONFIG, 0, 40);
	roundtrip(&d);
}

/* Known bytes: the layout is the contract with the disk and with older builds. */
static void test_golden_layout(void **state)
{
	static const uint8_t want[] = {
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* lsn */
		0x07, 0x00, 0x00, 0x00,				/* epoch */
		0x01, 0x01,					/* type PUT, flags ORIGIN */
		0x01, 0x00,					/* key_len */
		0x02, 0x00, 0x00, 0x00,				/* val_len */
	};
	struct sl_record_desc d = desc(SL_REC_PUT, 1, 2);

	(void)state;
	d.flags = SL_REC_F_ORIGIN;
	d.origin = (struct sl_record_origin){ .client_id = 0x1122, .seq = 0x33 };
	key_bytes[0] = 'k';
	val_bytes[0] = 'v';
	val_bytes[1] = 'w';
	assert_int_equal(sl_record_encode(buf, sizeof(buf), &d), 48);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[24], 0x22);
	assert_int_equal(buf[25], 0x11);
	assert_int_equal(buf[32], 0x33);
	assert_memory_equal(buf + 40, "kvw", 3);
	assert_int_equal(buf[20] | buf[21] << 8 | buf[22] << 16 | (uint32_t)buf[23] << 24,
			 sl_record_crc(buf));
}

static void test_sizes_and_padding(void **state)
{
	(void)state;
	assert_int_equal(sl_record_size(0, 0, 0), 24);
	assert_int_equal(sl_record_size(0, 1, 0), 32);
	assert_int_equal(sl_record_size(0, 8, 0), 32);
	assert_int_equal(sl_record_size(0, 8, 1), 40);
	assert_int_equal(sl_record_size(SL_REC_F_ORIGIN, 0, 0), 40);
	assert_int_equal(sl_record_size(0, UINT16_MAX, UINT32_MAX), UINT32_MAX);
	for (uint16_t k = 1; k <= 17; k++) {
		for (uint32_t v = 0; v <= 17; v++) {
			struct sl_record_desc d = desc(SL_REC_PUT, k, v);
			roundtrip(&d);
		}
	}
}

static void test_limits_boundary(void **state)
{
	struct sl_limits lim = sl_limits_default();
	struct sl_record_desc d = desc(SL_REC_PUT, SL_KEY_MAX_DEFAULT, SL_VAL_MAX_DEFAULT);
	struct sl_record_view v;
	size_t n;

	(void)state;
	n = sl_record_encode(buf, sizeof(buf), &d);
	assert_int_equal(sl_record_decode(buf, n, &lim, 1, &v), SL_OK);
	d = desc(SL_REC_PUT, SL_KEY_MAX_DEFAULT + 1, 1);
	n = sl_record_encode(buf, sizeof(buf), &d);
	assert_int_equal(sl_record_decode(buf, n, &lim, 1, &v), SL_REJ_KEY_TOO_LARGE);
	d = desc(SL_REC_PUT, 1, SL_VAL_MAX_DEFAULT + 1);
	n = sl_record_encode(buf, sizeof(buf), &d);
	assert_int_equal(sl_record_decode(buf, n, &lim, 1, &v), SL_REJ_VAL_TOO_LARGE);
}

static void test_encode_refuses(void **state)
{
	struct sl_record_desc d = desc(SL_REC_PUT, 4, 4);

	(void)state;
	assert_int_equal(sl_record_encode(buf, 31, &d), 0);
	assert_int_equal(sl_record_encode(buf, 32, &d), 32);
	d.type = 0;
	assert_int_equal(sl_record_encode(buf, sizeof(buf), &d), 0);
	d = desc(SL_REC_DEL, 4, 1);
	assert_int_equal(sl_record_encode(buf, sizeof(buf), &d), 0);
	d = desc(SL_REC_PUT, 4, 4);
	d.flags = 0x80;
	assert_int_equal(sl_record_encode(buf, sizeof(buf), &d), 0);
}

/* Stamping sequences a client's record in place; the result validates. */
static void test_stamp(void **state)
{
	struct sl_limits lim = sl_limits_default();
	struct sl_record_desc d = desc(SL_REC_PUT, 3, 100);
	struct sl_record_view v;
	size_t n;

	(void)state;
	d.lsn = 0;
	d.epoch = 0;
	n = sl_record_encode(buf, sizeof(buf), &d);
	sl_record_stamp(buf, 123456789, 9);
	assert_int_equal(sl_record_decode(buf, n, &lim, 1, &v), SL_OK);
	assert_true(v.hdr.lsn == 123456789);
	assert_int_equal(v.hdr.epoch, 9);
	assert_memory_equal(v.val, val_bytes, 100);
}

/* Encodes a valid PUT, lets the case damage it, expects one reason. */
static enum sl_reject decode_after(void (*damage)(uint8_t *rec, size_t *len))
{
	struct sl_limits lim = sl_limits_default();
	struct sl_record_desc d = desc(SL_REC_PUT, 8, 16);
	struct sl_record_view v;
	size_t n = sl_record_encode(buf, sizeof(buf), &d);

	damage(buf, &n);
	return sl_record_decode(buf, n, &lim, 1, &v);
}

static void restamp(uint8_t *rec)
{
	struct sl_record_hdr h;

	sl_record_hdr_read(rec, &h);
	sl_record_stamp(rec, h.lsn, h.epoch);
}

static void dmg_short_hdr(uint8_t *rec, size_t *len)
{
	(void)rec;
	*len = SL_REC_HDR_LEN - 1;
}

static void dmg_truncated_body(uint8_t *rec, size_t *len)
{
	(void)rec;
	*len -= 8;
}

static void dmg_type(uint8_t *rec, size_t *len)
{
	(void)len;
	rec[12] = 9;
}

static void dmg_flags(uint8_t *rec, size_t *len)
{
	(void)len;
	rec[13] = 0x40;
}

static void dmg_del_with_value(uint8_t *rec, size_t *len)
{
	(void)len;
	rec[12] = SL_REC_DEL;
	restamp(rec);
}

static void dmg_key_len(uint8_t *rec, size_t *len)
{
	(void)len;
	rec[14] = 0x01;
	rec[15] = 0x01; /* 257 */
}

static void dmg_val_len(uint8_t *rec, size_t *len)
{
	(void)len;
	rec[17] = 0x04; /* 1024 + 16 */
}

static void dmg_value_byte(uint8_t *rec, size_t *len)
{
	(void)len;
	rec[SL_REC_HDR_LEN + 8 + 3] ^= 0x01;
}

static void dmg_lsn_byte(uint8_t *rec, size_t *len)
{
	(void)len;
	rec[0] ^= 0x80;
}

static void test_reject_overrun(void **state)
{
	(void)state;
	assert_int_equal(decode_after(dmg_short_hdr), SL_REJ_REC_OVERRUN);
	assert_int_equal(decode_after(dmg_truncated_body), SL_REJ_REC_OVERRUN);
}

static void test_reject_type(void **state)
{
	(void)state;
	assert_int_equal(decode_after(dmg_type), SL_REJ_REC_TYPE);
}

static void test_reject_flags(void **state)
{
	(void)state;
	assert_int_equal(decode_after(dmg_flags), SL_REJ_REC_FLAGS);
}

static void test_reject_fields(void **state)
{
	(void)state;
	assert_int_equal(decode_after(dmg_del_with_value), SL_REJ_REC_FIELDS);
}

static void test_reject_key_too_large(void **state)
{
	(void)state;
	assert_int_equal(decode_after(dmg_key_len), SL_REJ_KEY_TOO_LARGE);
}

static void test_reject_val_too_large(void **state)
{
	(void)state;
	assert_int_equal(decode_after(dmg_val_len), SL_REJ_VAL_TOO_LARGE);
}

static void test_reject_crc(void **state)
{
	(void)state;
	assert_int_equal(decode_after(dmg_value_byte), SL_REJ_REC_CRC);
	assert_int_equal(decode_after(dmg_lsn_byte), SL_REJ_REC_CRC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_golden_layout),
		cmocka_unit_test(test_sizes_and_padding),
		cmocka_unit_test(test_limits_boundary),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_reject_overrun),
		cmocka_unit_test(test_reject_type),
		cmocka_unit_test(test_reject_flags),
		cmocka_unit_test(test_reject_fields),
		cmocka_unit_test(test_reject_key_too_large),
		cmocka_unit_test(test_reject_val_too_large),
		cmocka_unit_test(test_reject_crc),
	};

	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
