/* WAL segment format: header, names, and the scan that tells a torn tail from damage. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <shiplog/walfmt.h>

#define SEG_BODY 8192

static uint8_t body[SEG_BODY];
static size_t used;
static size_t offs[256]; /* offset of each record written */

/* n PUT records from first_lsn on, back to back, zeros after. */
static void fill(uint64_t first_lsn, unsigned n)
{
	memset(body, 0, sizeof(body));
	used = 0;
	for (unsigned i = 0; i < n; i++) {
		char key[16], val[40];
		struct sl_record_desc d = {
			.lsn = first_lsn + i,
			.epoch = 3,
			.type = SL_REC_PUT,
			.key = key,
			.key_len = (uint16_t)snprintf(key, sizeof(key), "k%u", i),
			.val = val,
			.val_len = (uint32_t)snprintf(val, sizeof(val), "value-%u", i)
		};
		size_t w = sl_record_encode(body + used, sizeof(body) - used, &d);

		assert_int_not_equal(w, 0);
		offs[i] = used;
		used += w;
	}
}

static struct sl_wal_scan scan(size_t len, uint64_t expect)
{
	struct sl_limits lim = sl_limits_default();
	struct sl_wal_scan s;

	sl_wal_scan(body, len, expect, &lim, NULL, NULL, &s);
	return s;
}

static void test_header_roundtrip(void **state)
{
	static uint8_t block[SL_WAL_HDR_LEN];
	struct sl_wal_seg_hdr h = { .magic = SL_WAL_MAGIC,
				    .first_lsn = 1001,
				    .size = 64 << 20,
				    .cluster_id = 7,
				    .node_id = 2 },
			      got;

	(void)state;
	sl_wal_seg_hdr_write(block, &h);
	assert_int_equal(sl_wal_seg_hdr_read(block, sizeof(block), &got), 0);
	assert_true(got.first_lsn == 1001 && got.size == (64u << 20));
	assert_int_equal(got.cluster_id, 7);
	assert_int_equal(got.node_id, 2);
	assert_memory_equal(block, "SHPLWAL\1", 8);
	block[9] ^= 1;
	assert_int_equal(sl_wal_seg_hdr_read(block, sizeof(block), &got), -EINVAL);
	block[9] ^= 1;
	assert_int_equal(sl_wal_seg_hdr_read(block, sizeof(block) - 1, &got), -EINVAL);
}

/* Whatever sits in the struct's padding never reaches the block (a reader checks it). */
static void test_header_padding(void **state)
{
	static uint8_t blk[SL_WAL_HDR_LEN];
	struct sl_wal_seg_hdr h, back;

	(void)state;
	memset(&h, 0xa5, sizeof(h));
	h.magic = SL_WAL_MAGIC;
	h.first_lsn = 77;
	h.size = 1 << 20;
	h.cluster_id = 3;
	h.node_id = 4;
	h.reserved = 0;
	sl_wal_seg_hdr_write(blk, &h);
	for (size_t i = 36; i < SL_WAL_HDR_LEN; i++)
		assert_int_equal(blk[i], 0);
	assert_int_equal(sl_wal_seg_hdr_read(blk, sizeof(blk), &back), 0);
	assert_int_equal(back.first_lsn, 77);
	blk[4000] = 1; /* and a non-zero byte there is refused */
	assert_int_equal(sl_wal_seg_hdr_read(blk, sizeof(blk), &back), -EINVAL);
}

static void test_names(void **state)
{
	char name[SL_WAL_NAME_LEN];
	uint64_t lsn;

	(void)state;
	sl_wal_seg_name(42, name);
	assert_string_equal(name, "00000000000000000042.wal");
	assert_int_equal(sl_wal_seg_name_parse(name, &lsn), 0);
	assert_true(lsn == 42);
	assert_int_equal(sl_wal_seg_name_parse("00000000000000000042.tmp", &lsn), -EINVAL);
	assert_int_equal(sl_wal_seg_name_parse("0000000000000000004x.wal", &lsn), -EINVAL);
	assert_int_equal(sl_wal_seg_name_parse("00000000000000000000.wal", &lsn), -EINVAL);
	assert_int_equal(sl_wal_seg_name_parse("99999999999999999999.wal", &lsn), -EINVAL);
	assert_int_equal(sl_wal_seg_name_parse("meta", &lsn), -EINVAL);
}

static void test_clean(void **state)
{
	struct sl_wal_scan s;

	(void)state;
	fill(100, 50);
	s = scan(sizeof(body), 100);
	assert_int_equal(s.status, SL_WAL_CLEAN);
	assert_true(s.records == 50 && s.first_lsn == 100 && s.last_lsn == 149);
	assert_int_equal(s.last_epoch, 3);
	assert_true(s.end_off == used);
	s = scan(used, 100); /* no preallocated tail at all */
	assert_int_equal(s.status, SL_WAL_CLEAN);
	assert_true(s.records == 50);
	fill(1, 0);
	s = scan(sizeof(body), 1);
	assert_int_equal(s.status, SL_WAL_CLEAN);
	assert_true(s.records == 0 && s.end_off == 0);
}

/* A write cut short at every possible byte: always torn, never more than what's whole. */
static void test_torn_tail_every_cut(void **state)
{
	struct sl_record_hdr h;
	size_t data_end;

	(void)state;
	fill(1, 20);
	sl_record_hdr_read(body + offs[19], &h);
	data_end = offs[19] + SL_REC_HDR_LEN + h.key_len + h.val_len; /* padding is zeros anyway */
	for (size_t cut = offs[19] + 1; cut < data_end; cut++) {
		struct sl_wal_scan s;
		uint8_t saved[64];
		size_t rest = used - cut;

		memcpy(saved, body + cut, rest);
		memset(body + cut, 0, rest);
		s = scan(sizeof(body), 1);
		assert_int_equal(s.status, SL_WAL_TORN);
		assert_true(s.records == 19 && s.bad_lsn == 20 && s.end_off == offs[19]);
		memcpy(body + cut, saved, rest);
	}
}

static void test_torn_garbage_tail(void **state)
{
	struct sl_wal_scan s;

	(void)state;
	fill(1, 10);
	memset(body + used, 0x5a, 100); /* a sector of junk after the last record */
	s = scan(sizeof(body), 1);
	assert_int_equal(s.status, SL_WAL_TORN);
	assert_true(s.records == 10 && s.bad_lsn == 11);
}

/* A flipped byte in the middle, valid records after it: corruption, with the range. */
static void test_corrupt_middle(void **state)
{
	struct sl_wal_scan s;

	(void)state;
	fill(1000, 30);
	body[offs[12] + 30] ^= 0x01;
	s = scan(sizeof(body), 1000);
	assert_int_equal(s.status, SL_WAL_CORRUPT);
	assert_true(s.records == 12 && s.bad_lsn == 1012 && s.resume_lsn == 1013);
	assert_int_equal(s.reason, SL_REJ_REC_CRC);
	assert_true(s.bad_off == offs[12] && s.end_off == offs[12]);
}

/* Zeros where a record should be, valid records after: a lost write, not the end. */
static void test_hole_then_records(void **state)
{
	struct sl_wal_scan s;

	(void)state;
	fill(1, 30);
	memset(body + offs[5], 0, offs[6] - offs[5]);
	s = scan(sizeof(body), 1);
	assert_int_equal(s.status, SL_WAL_CORRUPT);
	assert_true(s.records == 5 && s.bad_lsn == 6 && s.resume_lsn == 7);
}

static void test_gap(void **state)
{
	struct sl_wal_scan s;

	(void)state;
	fill(1, 10);
	s = scan(sizeof(body), 2); /* the segment was expected to start at 2 */
	assert_int_equal(s.status, SL_WAL_GAP);
	assert_true(s.records == 0 && s.bad_lsn == 2 && s.resume_lsn == 1);
}

static int stop_at_5(void *arg, uint64_t off, const struct sl_record_view *r)
{
	unsigned *seen = arg;

	(void)off;
	if (r->hdr.lsn == 5)
		return 1;
	(*seen)++;
	return 0;
}

static void test_callback_and_stop(void **state)
{
	struct sl_limits lim = sl_limits_default();
	struct sl_wal_scan s;
	unsigned seen = 0;

	(void)state;
	fill(1, 10);
	sl_wal_scan(body, sizeof(body), 1, &lim, stop_at_5, &seen, &s);
	assert_int_equal(seen, 4);
	assert_true(s.records == 4 && s.end_off == offs[4]);
	assert_int_equal(s.status, SL_WAL_CLEAN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_header_padding),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_torn_tail_every_cut),
		cmocka_unit_test(test_torn_garbage_tail),
		cmocka_unit_test(test_corrupt_middle),
		cmocka_unit_test(test_hole_then_records),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_callback_and_stop),
	};

	return cmocka_run_group_tests_name("walfmt", tests, NULL, NULL);
}
