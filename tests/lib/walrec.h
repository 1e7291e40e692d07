/* Test records whose content follows from their LSN, so any reader can check them. */
#ifndef SHIPLOG_TEST_WALREC_H
#define SHIPLOG_TEST_WALREC_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <shiplog/record.h>

/* Value length of record lsn: varied, 0 .. vmax (vmax <= 1024). */
static inline uint32_t walrec_vlen(uint64_t lsn, uint32_t vmax)
{
	return vmax ? (uint32_t)((lsn * 2654435761u) % (vmax + 1)) : 0;
}

/*
 * Encodes the record for (lsn, epoch, gen) into buf: key "k<lsn>", a value derived
 * from all three (gen tells apart records rewritten at the same LSN). Its size.
 */
static inline uint32_t walrec_make(void *buf, size_t cap, uint64_t lsn, uint32_t epoch,
				   uint32_t gen, uint32_t vmax)
{
	char key[24];
	uint8_t val[1024];
	uint32_t vlen = walrec_vlen(lsn, vmax);
	struct sl_record_desc d = { .lsn = lsn, .epoch = epoch, .type = SL_REC_PUT };

	for (uint32_t i = 0; i < vlen; i++)
		val[i] = (uint8_t)(lsn * 31 + i * 7 + gen * 13 + epoch);
	d.key = key;
	d.key_len = (uint16_t)snprintf(key, sizeof(key), "k%llu", (unsigned long long)lsn);
	d.val = val;
	d.val_len = vlen;
	return (uint32_t)sl_record_encode(buf, cap, &d);
}

/* 1 when rec[0..len) is exactly the record walrec_make() makes for these. */
static inline int walrec_check(const void *rec, uint32_t len, uint64_t lsn, uint32_t epoch,
			       uint32_t gen, uint32_t vmax)
{
	uint8_t want[2048];
	uint32_t n = walrec_make(want, sizeof(want), lsn, epoch, gen, vmax);

	return n == len && memcmp(want, rec, n) == 0;
}

#endif
