/* CRC32C: portable slice-by-8 and the SSE4.2 instruction, one chosen at start-up. */
#include <stdbool.h>
#include <string.h>

#include <shiplog/crc32c.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc_table[8][256];
static bool crc_use_hw;

/* Builds the slice-by-8 tables and picks the implementation before main() runs. */
__attribute__((constructor)) static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
	crc_use_hw = sl_crc32c_hw_available();
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint32_t sl_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint64_t v = load_le64(p) ^ c;

		c = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
		    crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
		    crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
		    crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
	return ~c;
}

#if defined(__x86_64__)
/*
 * One dependency chain of 8-byte steps; x86 loads unaligned words at full speed, so
 * there is no alignment prologue, and the tail takes 4-, 2- and 1-byte steps (records
 * are short: a 64 B value makes a 112 B record, and every step is 3 cycles of latency).
 */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p,
							       size_t len)
{
	uint64_t c = ~crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u64(c, v);
	}
	if (len >= 4) {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u32((uint32_t)c, v);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t v;

		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u16((uint32_t)c, v);
		p += 2;
		len -= 2;
	}
	if (len > 0)
		c = _mm_crc32_u8((uint32_t)c, *p);
	return ~(uint32_t)c;
}
#endif

bool sl_crc32c_hw_available(void)
{
#if defined(__x86_64__)
	return __builtin_cpu_supports("sse4.2");
#else
	return false;
#endif
}

uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (sl_crc32c_hw_available())
		return crc32c_sse42(crc, buf, len);
#endif
	return sl_crc32c_sw(crc, buf, len);
}

uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	/* perf/crc32c_bench: the instruction is several times faster at every size. */
	if (crc_use_hw)
		return crc32c_sse42(crc, buf, len);
#endif
	return sl_crc32c_sw(crc, buf, len);
}

const char *sl_crc32c_impl(void)
{
	return crc_use_hw ? "sse4.2" : "slice-by-8";
}
