/* CRC32C (Castagnoli): the checksum of every frame and every log record. */
#ifndef SHIPLOG_CRC32C_H
#define SHIPLOG_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * All three functions share one convention: pass 0 to start, pass the previous
 * result to continue, so sl_crc32c(sl_crc32c(0, a, n), b, m) is the CRC of a||b.
 * The check value of "123456789" is 0xE3069283 (RFC 3720, B.4).
 */

/* Fastest implementation this CPU has, chosen once at start-up. */
uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len);

/* Portable table-driven implementation (slice-by-8). Always available. */
uint32_t sl_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/*
 * The CPU's CRC32C instruction (x86-64 SSE4.2). Call it only when
 * sl_crc32c_hw_available() says so; elsewhere it falls back to the portable path.
 */
uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool sl_crc32c_hw_available(void);

/* Name of the implementation sl_crc32c() uses: "sse4.2" or "slice-by-8". */
const char *sl_crc32c_impl(void);

#endif
