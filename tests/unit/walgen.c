/*
 * Writes a WAL directory for tool tests: SEGMENTS segments of RECORDS records each
 * (epoch 1 in the first segment, 2 after), the metadata file, and with SNAP_LSN a
 * snapshot at that LSN whose payload is the text "key-N=value\n" of the records up to
 * it. usage: walgen DIR SEGMENTS RECORDS [SNAP_LSN]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/crc32c.h>
#include <shiplog/walfmt.h>

static int write_file(const char *dir, const char *name, const void *a, size_t alen, const void *b,
		      size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) ||
	    fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static int write_segments(const char *dir, unsigned segs, unsigned recs)
{
	static uint8_t buf[SL_WAL_HDR_LEN + (1 << 20)];
	uint64_t lsn = 1;

	for (unsigned s = 0; s < segs; s++) {
		struct sl_wal_seg_hdr h = { .magic = SL_WAL_MAGIC,
					    .first_lsn = lsn,
					    .size = sizeof(buf),
					    .cluster_id = 1,
					    .node_id = 1 };
		char name[SL_WAL_NAME_LEN];
		size_t off = SL_WAL_HDR_LEN;

		memset(buf, 0, sizeof(buf));
		sl_wal_seg_hdr_write(buf, &h);
		for (unsigned i = 0; i < recs; i++, lsn++) {
			char key[32], val[64];
			struct sl_record_desc d = {
				.lsn = lsn,
				.epoch = s == 0 ? 1 : 2,
				.type = SL_REC_PUT,
				.key = key,
				.key_len = (uint16_t)snprintf(key, sizeof(key), "key-%llu",
							      (unsigned long long)lsn),
				.val = val,
				.val_len = (uint32_t)snprintf(val, sizeof(val), "value-%u", i),
			};

			off += sl_record_encode(buf + off, sizeof(buf) - off, &d);
		}
		sl_wal_seg_name(h.first_lsn, name);
		if (write_file(dir, name, buf, off + 4096, NULL, 0) != 0)
			return -1;
	}
	return 0;
}

static int write_meta(const char *dir, unsigned segs, unsigned recs)
{
	struct sl_wal_meta m = { .cluster_id = 1,
				 .node_id = 1,
				 .epoch = segs > 1 ? 2 : 1,
				 .commit_hint = (uint64_t)segs * recs,
				 .n_hist = segs > 1 ? 2 : 1,
				 .hist = { { 1, 1 }, { 2, (uint64_t)recs + 1 } } };
	uint8_t buf[SL_WAL_META_LEN];

	sl_wal_meta_write(buf, &m);
	return write_file(dir, SL_WAL_META_NAME, buf, sizeof(buf), NULL, 0);
}

static int write_snapshot(const char *dir, uint64_t lsn, unsigned recs)
{
	static char payload[1 << 20];
	struct sl_wal_snap_hdr h = {
		.lsn = lsn, .cluster_id = 1, .node_id = 1, .epoch = lsn > recs ? 2 : 1
	};
	uint8_t hdr[SL_WAL_SNAP_HDR_LEN];
	char name[SL_WAL_SNAP_NAME_LEN];
	size_t n = 0;

	for (uint64_t l = 1; l <= lsn && n + 64 < sizeof(payload); l++)
		n += (size_t)snprintf(payload + n, sizeof(payload) - n, "key-%llu=value-%llu\n",
				      (unsigned long long)l, (unsigned long long)((l - 1) % recs));
	h.payload_len = n;
	h.payload_crc = sl_crc32c(0, payload, n);
	sl_wal_snap_hdr_write(hdr, &h);
	sl_wal_snap_name(lsn, name);
	return write_file(dir, name, hdr, sizeof(hdr), payload, n);
}

int main(int argc, char **argv)
{
	unsigned segs, recs;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: walgen DIR SEGMENTS RECORDS [SNAP_LSN]\n");
		return 2;
	}
	segs = (unsigned)atoi(argv[2]);
	recs = (unsigned)atoi(argv[3]);
	if (recs == 0 || write_segments(argv[1], segs, recs) != 0 ||
	    write_meta(argv[1], segs, recs) != 0)
		return 1;
	if (argc == 5 && write_snapshot(argv[1], strtoull(argv[4], NULL, 10), recs) != 0)
		return 1;
	return 0;
}
