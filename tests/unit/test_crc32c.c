/* CRC32C: check values, and the portable and hardware paths agree everywhere. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <shiplog/crc32c.h>

#include "testutil.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void skip_without_hw(void)
{
	if (!sl_crc32c_hw_available()) {
		print_message("no CRC32C instruction on this CPU: hardware path skipped\n");
		skip();
	}
}

/* RFC 3720 B.4 and the common check value. */
static void check_vectors(crc_fn f)
{
	uint8_t buf[32];

	assert_int_equal(f(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(f(0, "", 0), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(f(0, buf, sizeof(buf)), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(f(0, buf, sizeof(buf)), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(f(0, buf, sizeof(buf)), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(f(0, buf, sizeof(buf)), 0x113fdb5cu);
}

static void test_sw_vectors(void **state)
{
	(void)state;
	check_vectors(sl_crc32c_sw);
}

static void test_hw_vectors(void **state)
{
	(void)state;
	skip_without_hw();
	check_vectors(sl_crc32c_hw);
}

static void test_dispatch_vectors(void **state)
{
	(void)state;
	check_vectors(sl_crc32c);
	if (sl_crc32c_hw_available())
		assert_string_equal(sl_crc32c_impl(), "sse4.2");
	else
		assert_string_equal(sl_crc32c_impl(), "slice-by-8");
}

/* Every length 0..4096, at every start alignment mod 8, random contents. */
static void test_sw_hw_agree(void **state)
{
	static uint8_t buf[4096 + 8];
	uint64_t seed = test_seed();
	uint64_t rng = seed;

	(void)state;
	skip_without_hw();
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)test_rand(&rng);
	for (size_t len = 0; len <= 4096; len++) {
		size_t off = len % 8;
		uint32_t init = (len % 3 == 0) ? 0 : (uint32_t)test_rand(&rng);
		uint32_t sw = sl_crc32c_sw(init, buf + off, len);
		uint32_t hw = sl_crc32c_hw(init, buf + off, len);

		if (sw != hw)
			fail_msg("seed %llu len %zu off %zu: sw %08x hw %08x",
				 (unsigned long long)seed, len, off, sw, hw);
		assert_int_equal(sl_crc32c(init, buf + off, len), sw);
	}
}

/* crc(a || b) == crc(crc(a), b): frames are checksummed segment by segment. */
static void test_chaining(void **state)
{
	static uint8_t buf[1500];
	uint64_t rng = test_seed();

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)test_rand(&rng);
	uint32_t whole_sw = sl_crc32c_sw(0, buf, sizeof(buf));
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
		uint32_t a = sl_crc32c_sw(0, buf, cut);
		assert_int_equal(sl_crc32c_sw(a, buf + cut, sizeof(buf) - cut), whole_sw);
		a = sl_crc32c(0, buf, cut);
		assert_int_equal(sl_crc32c(a, buf + cut, sizeof(buf) - cut), whole_sw);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sw_vectors),	 cmocka_unit_test(test_hw_vectors),
		cmocka_unit_test(test_dispatch_vectors), cmocka_unit_test(test_sw_hw_agree),
		cmocka_unit_test(test_chaining),
	};

	return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
