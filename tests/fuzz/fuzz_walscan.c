/*
 * libFuzzer target over what recovery reads from disk: a segment header block and the
 * records after it. Beyond "no crash": the scan's counts agree with what it reported
 * record by record, and it never claims bytes past the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/walfmt.h>

#include "fuzz.h"

struct seen {
	uint64_t n;
	uint64_t next_lsn;
	uint64_t next_off;
};

static int on_record(void *arg, uint64_t off, const struct sl_record_view *r)
{
	struct seen *s = arg;

	CHECK(off == s->next_off); /* records are back to back */
	CHECK(s->n == 0 || r->hdr.lsn == s->next_lsn);
	s->next_lsn = r->hdr.lsn + 1;
	s->next_off = off + r->total_len;
	s->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_limits lim = { .key_max = 64, .val_max = 512 };
	struct sl_wal_seg_hdr h;
	struct sl_wal_scan sc;
	struct seen s = { 0 };
	uint64_t first = 1;

	/* Short inputs are all body (a header block would need 4 KiB of input). */
	if (size >= SL_WAL_HDR_LEN && sl_wal_seg_hdr_read(data, size, &h) == 0) {
		first = h.first_lsn;
		data += SL_WAL_HDR_LEN;
		size -= SL_WAL_HDR_LEN;
	} else if (size >= 8) {
		memcpy(&first, data, 8);
		first = first % 1000 + 1;
		data += 8;
		size -= 8;
	}
	sl_wal_scan(data, size, first, &lim, on_record, &s, &sc);
	CHECK(sc.records == s.n);
	CHECK(sc.end_off <= size);
	CHECK(sc.records == 0 || (sc.first_lsn == first && sc.last_lsn == first + sc.records - 1));
	/* Clean or not, the scan ends just past the last record it vouched for. */
	CHECK(sc.end_off == (s.n ? s.next_off : 0));
	return 0;
}
