/*
 * Writes seed corpora: fuzz_gen_corpus [TARGET] DIR, TARGET one of
 *   frame    (the default) one valid frame of each type, in each mode
 *   walmeta  node metadata files: empty, typical and full epoch histories
 *   snaphdr  snapshot header blocks, alone and followed by their payload
 *   image    state images for fuzz_image's configuration: empty, typical, and damaged
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/crc32c.h>
#include <shiplog/walfmt.h>
#include <shiplog/wire.h>

#include "core_internal.h"
#include "fuzz_image.h"
#include "image.h"

static const struct sl_auth_key fuzz_key = { .bytes = "shiplog-fuzz-key-0123456789abcde" };

static void emit(const char *dir, const char *name, uint8_t mode, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-m%u", dir, name, mode);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return;
	}
	fputc(mode, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

static size_t frame(uint8_t *out, uint8_t type, const void *th, const void *body, uint32_t blen,
		    const struct sl_auth_key *key)
{
	struct sl_frame_hdr h = { .magic = SL_MAGIC,
				  .version = SL_WIRE_VERSION,
				  .type = type,
				  .cluster_id = 0xc1a5,
				  .epoch = 3,
				  .src_node = 1,
				  .dst_node = 2,
				  .seq = 1 };

	return sl_frame_encode(out, 65536, &h, th, body, blen, key);
}

static void gen_frame(const char *dir)
{
	static uint8_t body[4096], out[65536 + 64];
	struct sl_append_hdr ap = { .prev_lsn = 9, .prev_epoch = 3, .commit_lsn = 8, .count = 3 };
	struct sl_ack ack = { .received_lsn = 3, .flushed_lsn = 2, .applied_lsn = 1 };
	struct sl_heartbeat hb = { .commit_lsn = 5, .last_lsn = 6 };
	struct sl_nack nk = { .expected_lsn = 4, .last_lsn = 3, .last_epoch = 2, .reason = 1 };
	struct sl_snap_chunk sc = { .snap_lsn = 9, .total_len = 100, .chunk_len = 40 };
	struct sl_client_req rq = {
		.client_id = 1, .seq = 1, .op = SL_OP_PUT, .key_len = 3, .val_len = 5
	};
	struct sl_client_resp rs = { .client_id = 1, .seq = 1, .lsn = 9, .epoch = 3, .val_len = 5 };
	struct sl_record_desc d[3] = {
		{ .lsn = 10,
		  .epoch = 3,
		  .type = SL_REC_PUT,
		  .flags = SL_REC_F_ORIGIN,
		  .origin = { 7, 1 },
		  .key = "abc",
		  .key_len = 3,
		  .val = "hello",
		  .val_len = 5 },
		{ .lsn = 11, .epoch = 3, .type = SL_REC_DEL, .key = "abc", .key_len = 3 },
		{ .lsn = 12,
		  .epoch = 3,
		  .type = SL_REC_CONFIG,
		  .val = "first 1 (2)",
		  .val_len = 11 },
	};
	uint32_t blen = 0;
	size_t n;

	for (int i = 0; i < 3; i++)
		blen += (uint32_t)sl_record_encode(body + blen, sizeof(body) - blen, &d[i]);
	emit(dir, "records", 8, body, blen);
	for (uint8_t mode = 0; mode < 4; mode++) {
		const struct sl_auth_key *k = (mode & 2) ? &fuzz_key : NULL;

		n = frame(out, SL_FRAME_APPEND, &ap, body, blen, k);
		emit(dir, "append", mode, out, n);
		n = frame(out, SL_FRAME_ACK, &ack, NULL, 0, k);
		emit(dir, "ack", mode, out, n);
		n = frame(out, SL_FRAME_HEARTBEAT, &hb, NULL, 0, k);
		emit(dir, "heartbeat", mode, out, n);
		n = frame(out, SL_FRAME_NACK, &nk, NULL, 0, k);
		emit(dir, "nack", mode, out, n);
		memset(body + 2048, 's', 40);
		n = frame(out, SL_FRAME_SNAPSHOT_CHUNK, &sc, body + 2048, 40, k);
		emit(dir, "snapshot", mode, out, n);
		n = frame(out, SL_FRAME_CLIENT_REQ, &rq, "keyvalue", 8, k);
		emit(dir, "request", mode, out, n);
		n = frame(out, SL_FRAME_CLIENT_RESP, &rs, "value", 5, k);
		emit(dir, "response", mode, out, n);
	}
}

/* A whole file, name as given (the frame seeds carry a mode byte; these do not). */
static void emit_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		perror(path);
}

static void gen_walmeta(const char *dir)
{
	static uint8_t buf[SL_WAL_META_LEN];
	struct sl_wal_meta m = { .cluster_id = 0xc1a5, .node_id = 2, .epoch = 1 };

	sl_wal_meta_write(buf, &m);
	emit_file(dir, "fresh", buf, sizeof(buf));
	m.epoch = 7;
	m.n_hist = 3;
	m.hist[0] = (struct sl_epoch_start){ 1, 1 };
	m.hist[1] = (struct sl_epoch_start){ 3, 120 };
	m.hist[2] = (struct sl_epoch_start){ 7, 4000 };
	m.commit_hint = 4100;
	sl_wal_meta_write(buf, &m);
	emit_file(dir, "history", buf, sizeof(buf));
	m.refetch_lsn = 4200;
	m.trunc_lsn = 4150;
	sl_wal_meta_write(buf, &m);
	emit_file(dir, "refetch-trunc", buf, sizeof(buf));
	m.n_hist = SL_EPOCH_HIST_MAX;
	m.epoch = 1000;
	for (unsigned i = 0; i < SL_EPOCH_HIST_MAX; i++)
		m.hist[i] = (struct sl_epoch_start){ 10 * i + 1, 1000ull * i + 1 };
	sl_wal_meta_write(buf, &m);
	emit_file(dir, "full-history", buf, sizeof(buf));
}

static void gen_snaphdr(const char *dir)
{
	static uint8_t buf[SL_WAL_SNAP_HDR_LEN + 256];
	struct sl_wal_snap_hdr h = { .lsn = 150, .cluster_id = 0xc1a5, .node_id = 2, .epoch = 3 };

	sl_wal_snap_hdr_write(buf, &h);
	emit_file(dir, "empty", buf, SL_WAL_SNAP_HDR_LEN);
	memset(buf + SL_WAL_SNAP_HDR_LEN, 's', 256);
	h.payload_len = 256;
	h.payload_crc = sl_crc32c(0, buf + SL_WAL_SNAP_HDR_LEN, 256);
	sl_wal_snap_hdr_write(buf, &h);
	emit_file(dir, "payload", buf, sizeof(buf));
	h = (struct sl_wal_snap_hdr){ .lsn = UINT64_MAX,
				      .payload_len = UINT64_MAX,
				      .cluster_id = UINT32_MAX,
				      .node_id = UINT16_MAX,
				      .epoch = UINT32_MAX,
				      .payload_crc = UINT32_MAX };
	sl_wal_snap_hdr_write(buf, &h);
	emit_file(dir, "max", buf, SL_WAL_SNAP_HDR_LEN);
}

/*
 * A core's applied state set directly (what applying records leaves: pairs with their
 * LSNs, sessions in their clients' probe windows, a CONFIG's policy), then written by
 * sl_core_image_write(): the seeds are exactly what a node writes.
 */
static void image_state(struct sl_core *c)
{
	char key[16], val[256];
	struct sl_policy p;

	for (unsigned i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "seed-%u", i);
		memset(val, 'a' + (int)i, sizeof(val));
		core_kv_put(c->kv, key, (uint16_t)strlen(key), val, 50 * i, 100 + i);
	}
	for (uint64_t client = 11; client < 15; client++) {
		uint32_t slot = core_session_home(c->cfg.hash_seed, c->session_mask, client);

		while (c->sessions[slot].client_id != 0)
			slot = (slot + 1) & c->session_mask;
		c->sessions[slot] = (struct core_session){
			.client_id = client, .seq = client * 3, .lsn = 110 + client, .epoch = 3
		};
	}
	sl_policy_parse("first 1 (3) level=applied", 25, &p, NULL, 0);
	c->applied_policy = p;
	c->applied_lsn = 150;
}

/* The trailer CRC made right again after a change (image.h: little-endian). */
static void reseal(uint8_t *b, size_t len)
{
	uint32_t crc = sl_crc32c(0, b, len - 4);

	for (unsigned i = 0; i < 4; i++)
		b[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void gen_image(const char *dir)
{
	static uint8_t mem[1 << 20] __attribute__((aligned(64))), buf[1 << 16];
	const struct sl_core_recovered rec = { .epoch = 3,
					       .last_lsn = 150,
					       .commit_hint = 150,
					       .n_hist = 1,
					       .hist = { { .epoch = 3, .first_lsn = 1 } } };
	struct sl_core_config cfg;
	struct sl_image_info info;
	struct sl_core *c;
	size_t pair0;
	int64_t n;

	fuzz_image_config(&cfg);
	c = sl_core_init(mem, sizeof(mem), &cfg, &rec);
	if (!c || sl_core_image_max(&cfg) > sizeof(buf)) {
		fprintf(stderr, "gen_corpus: fuzz_image's core does not fit\n");
		return;
	}
	c->applied_lsn = 150; /* nothing in the table, the configured policy */
	n = sl_core_image_write(c, buf, sizeof(buf), &info);
	emit(dir, "empty", 0, buf, (size_t)n);
	image_state(c);
	n = sl_core_image_write(c, buf, sizeof(buf), &info);
	emit(dir, "state", 0, buf, (size_t)n);
	emit(dir, "state", 1, buf, (size_t)n);
	emit(dir, "truncated", 0, buf, (size_t)n - 7);
	/* Pairs follow the 46-byte header and the policy text, in the order put above. */
	pair0 = 46 + (size_t)(buf[44] | buf[45] << 8);
	buf[pair0 + 13] ^= 0x80; /* the first pair's LSN, past the image's once resealed */
	emit(dir, "lsn-flipped", 1, buf, (size_t)n);
	buf[pair0 + 13] ^= 0x80;
	/* "seed-1" (after "seed-0" and its empty value) becomes a second "seed-0": it
	 * passes the check, and the load refuses it. */
	buf[pair0 + 14 + 6 + 14 + 5] = '0';
	reseal(buf, (size_t)n);
	emit(dir, "duplicate-key", 0, buf, (size_t)n);
}

int main(int argc, char **argv)
{
	const char *target = argc > 2 ? argv[1] : "frame";
	const char *dir = argc > 2 ? argv[2] : argc > 1 ? argv[1] : ".";

	if (!strcmp(target, "frame"))
		gen_frame(dir);
	else if (!strcmp(target, "walmeta"))
		gen_walmeta(dir);
	else if (!strcmp(target, "snaphdr"))
		gen_snaphdr(dir);
	else if (!strcmp(target, "image"))
		gen_image(dir);
	else {
		fprintf(stderr, "usage: fuzz_gen_corpus [frame|walmeta|snaphdr|image] DIR\n");
		return 2;
	}
	return 0;
}
