/*
 * libFuzzer target over the node metadata file ("meta", what recovery reads first).
 * Beyond "no crash": whatever sl_wal_meta_read() accepts is canonical, so encoding it
 * again with sl_wal_meta_write() gives back the identical SL_WAL_META_LEN bytes. A
 * decoder that accepted two encodings of one state would let damage it cannot see (in
 * bytes it ignores) pass as a valid file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/walfmt.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[SL_WAL_META_LEN];
	struct sl_wal_meta m, back;

	if (sl_wal_meta_read(data, size, &m) != 0)
		return 0;
	CHECK(size >= SL_WAL_META_LEN);
	CHECK(m.n_hist <= SL_EPOCH_HIST_MAX);
	for (unsigned i = 0; i < m.n_hist; i++) {
		CHECK(m.hist[i].epoch <= m.epoch);
		CHECK(i == 0 || (m.hist[i].epoch > m.hist[i - 1].epoch &&
				 m.hist[i].first_lsn > m.hist[i - 1].first_lsn));
	}
	sl_wal_meta_write(again, &m);
	CHECK(memcmp(again, data, SL_WAL_META_LEN) == 0);
	/* And what was written reads back to the same fields. */
	CHECK(sl_wal_meta_read(again, sizeof(again), &back) == 0);
	CHECK(back.cluster_id == m.cluster_id && back.node_id == m.node_id &&
	      back.n_hist == m.n_hist && back.epoch == m.epoch &&
	      back.commit_hint == m.commit_hint && back.refetch_lsn == m.refetch_lsn &&
	      back.trunc_lsn == m.trunc_lsn);
	for (unsigned i = 0; i < m.n_hist; i++)
		CHECK(back.hist[i].epoch == m.hist[i].epoch &&
		      back.hist[i].first_lsn == m.hist[i].first_lsn);
	return 0;
}
