/* Writes a WAL directory of SEGMENTS segments of RECORDS records each, for tool tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/walfmt.h>

int main(int argc, char **argv)
{
	static uint8_t buf[SL_WAL_HDR_LEN + (1 << 20)];
	unsigned segs, recs;
	uint64_t lsn = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: walgen DIR SEGMENTS RECORDS\n");
		return 2;
	}
	segs = (unsigned)atoi(argv[2]);
	recs = (unsigned)atoi(argv[3]);
	for (unsigned s = 0; s < segs; s++) {
		struct sl_wal_seg_hdr h = { .magic = SL_WAL_MAGIC,
					    .first_lsn = lsn,
					    .size = sizeof(buf),
					    .cluster_id = 1,
					    .node_id = 1 };
		char name[SL_WAL_NAME_LEN], path[4096];
		size_t off = SL_WAL_HDR_LEN;
		FILE *f;

		memset(buf, 0, sizeof(buf));
		sl_wal_seg_hdr_write(buf, &h);
		for (unsigned i = 0; i < recs; i++, lsn++) {
			char key[32], val[64];
			struct sl_record_desc d = {
				.lsn = lsn,
				.epoch = 1,
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
		snprintf(path, sizeof(path), "%s/%s", argv[1], name);
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, off + 4096, f) != off + 4096 || fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
