/*
 * libFuzzer target over a snapshot file's header block (what recovery reads to pick
 * the snapshot it starts from). Beyond "no crash": whatever sl_wal_snap_hdr_read()
 * accepts is canonical, so sl_wal_snap_hdr_write() gives back the identical
 * SL_WAL_SNAP_HDR_LEN bytes, and the file name of its LSN parses back to that LSN.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/walfmt.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[SL_WAL_SNAP_HDR_LEN];
	char name[SL_WAL_SNAP_NAME_LEN];
	struct sl_wal_snap_hdr h, back;
	uint64_t lsn;

	if (sl_wal_snap_hdr_read(data, size, &h) != 0)
		return 0;
	CHECK(size >= SL_WAL_SNAP_HDR_LEN && h.lsn != 0);
	sl_wal_snap_hdr_write(again, &h);
	CHECK(memcmp(again, data, SL_WAL_SNAP_HDR_LEN) == 0);
	CHECK(sl_wal_snap_hdr_read(again, sizeof(again), &back) == 0);
	CHECK(back.lsn == h.lsn && back.payload_len == h.payload_len &&
	      back.cluster_id == h.cluster_id && back.node_id == h.node_id &&
	      back.epoch == h.epoch && back.payload_crc == h.payload_crc);
	sl_wal_snap_name(h.lsn, name);
	CHECK(strlen(name) == SL_WAL_SNAP_NAME_LEN - 1);
	CHECK(sl_wal_snap_name_parse(name, &lsn) == 0 && lsn == h.lsn);
	return 0;
}
