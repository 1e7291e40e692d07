/*
 * shiplog-waldump: lists and verifies a WAL directory: node metadata, snapshots and
 * segments (DESIGN.md §5).
 *
 * usage: shiplog-waldump [--verify] [--json] [--records] [--kv-digest [--upto LSN]] PATH...
 * A PATH is a WAL directory (its "meta" file, its *.snap snapshots and its *.wal
 * segments, in LSN order) or single files of those kinds. A snapshot is listed with
 * its LSN, epoch and payload length and whether its header and its payload CRC check
 * out; the metadata with its cluster, node, epoch, commit hint, refetch_lsn, trunc_lsn
 * and epoch history. In a directory, segments must continue from the newest valid
 * snapshot (at LSN S, or S = 0 without one), as recovery reads them: the oldest
 * segment must start at or below S + 1, and segments before the last one that does
 * are optional (listed, but neither their damage nor their gaps count).
 * Exit status: 0; with --verify, 1 when any record is damaged, LSNs are not continuous,
 * or the metadata or a snapshot is damaged (each named with the reason); 2 on bad
 * arguments or unreadable files.
 */
#define _GNU_SOURCE /* asprintf */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include <shiplog/crc32c.h>
#include <shiplog/walfmt.h>

#include "image.h"

/* Where the CRCs sit in the metadata and snapshot header (layouts in walfmt.h). */
#define META_CRC_OFF (48u + SL_EPOCH_HIST_MAX * 16u)
#define SNAP_CRC_OFF 40u

struct opts {
	bool verify, json, records, kv;
	uint64_t upto; /* --kv-digest: replay records up to this LSN (0: all) */
};

/*
 * --kv-digest: the key-value state the records leave, replayed PUT by PUT and DEL by
 * DEL, summed into one order-independent number, so that two nodes' WALs can be
 * compared without comparing their files (they differ in segment layout). Keys are
 * told apart by a 64-bit hash of their bytes.
 */
struct kv_slot {
	uint64_t key_hash; /* 0: free */
	uint64_t val_hash;
	bool live;
};

struct kv_replay {
	struct kv_slot *slot;
	size_t cap, used, live;
	uint64_t last_lsn, records;
};

struct seg {
	char *path;
	uint64_t first_lsn;
};

struct dump {
	struct opts o;
	json_t *segments, *snapshots, *metas, *problems; /* --json */
	bool damaged;
	uint64_t next_lsn; /* the LSN the next segment should start at (0: unknown) */
	bool have_meta;	   /* a valid metadata file seen in this directory: */
	uint32_t cluster_id;
	uint16_t node_id;
	struct kv_replay kv;
	uint64_t kv_floor;	 /* --kv-digest: the snapshot's LSN the replay started from */
	uint64_t snap_pairs_lsn; /* the snapshot whose pairs snap_pair is given */
};

/* What checking one snapshot file found. */
struct snap_info {
	char *path;
	uint64_t name_lsn; /* from the file name (0: not a snapshot name) */
	struct sl_wal_snap_hdr h;
	bool header_ok, payload_ok, ok;
	char why[160]; /* when !ok */
};

static const char *const rec_types[] = { "?", "PUT", "DEL", "NOOP", "CONFIG" };

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Damage not tied to one segment's scan: a line in text, an entry of "problems" in JSON. */
static void problem(struct dump *d, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct dump *d, const char *path, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (d->o.json)
		json_array_append_new(d->problems,
				      json_pack("{s:s, s:s}", "file", path, "reason", why));
	else
		printf("%s: %s\n", path, why);
	d->damaged = true;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "shiplog-waldump: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf || fread(*buf, 1, *len, f) != *len) {
		fprintf(stderr, "shiplog-waldump: %s: cannot read\n", path);
		fclose(f);
		free(*buf);
		return -1;
	}
	fclose(f);
	return 0;
}

/* A key as text: printable bytes as they are, others as \xNN. */
static void print_key(const uint8_t *k, uint16_t len)
{
	for (uint16_t i = 0; i < len; i++) {
		if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
			putchar(k[i]);
		else
			printf("\\x%02x", k[i]);
	}
}

static uint64_t fnv64(const uint8_t *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static struct kv_slot *kv_find(struct kv_replay *kv, uint64_t kh)
{
	size_t i;

	if (kv->used * 2 >= kv->cap) {
		struct kv_replay old = *kv;

		kv->cap = kv->cap ? kv->cap * 2 : 1024;
		kv->slot = calloc(kv->cap, sizeof(*kv->slot));
		if (!kv->slot) {
			perror("shiplog-waldump");
			exit(2);
		}
		kv->used = 0;
		for (size_t k = 0; k < old.cap; k++)
			if (old.slot[k].key_hash && old.slot[k].live) {
				*kv_find(kv, old.slot[k].key_hash) = old.slot[k];
				kv->used++;
			}
		free(old.slot);
	}
	for (i = kh & (kv->cap - 1); kv->slot[i].key_hash && kv->slot[i].key_hash != kh;
	     i = (i + 1) & (kv->cap - 1))
		;
	return &kv->slot[i];
}

/* key now holds val (live), or nothing (a DEL). */
static void kv_set(struct kv_replay *kv, const uint8_t *key, uint16_t key_len, const uint8_t *val,
		   uint32_t val_len, bool live)
{
	uint64_t kh = fnv64(key, key_len, 0xcbf29ce484222325ull) | 1;
	struct kv_slot *s = kv_find(kv, kh);

	if (!s->key_hash) {
		s->key_hash = kh;
		kv->used++;
	}
	kv->live += live - s->live;
	s->live = live;
	s->val_hash = live ? fnv64(val, val_len, 0xcbf29ce484222325ull) : 0;
}

static void kv_apply(struct kv_replay *kv, const struct sl_record_view *r)
{
	kv->last_lsn = r->hdr.lsn;
	kv->records++;
	if (r->hdr.type == SL_REC_PUT || r->hdr.type == SL_REC_DEL)
		kv_set(kv, r->key, r->hdr.key_len, r->val, r->hdr.val_len,
		       r->hdr.type == SL_REC_PUT);
}

static uint64_t kv_digest(const struct kv_replay *kv)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < kv->cap; i++)
		if (kv->slot[i].key_hash && kv->slot[i].live)
			sum += mix64(kv->slot[i].key_hash ^ mix64(kv->slot[i].val_hash));
	return sum;
}

static int print_record(void *arg, uint64_t off, const struct sl_record_view *r)
{
	struct dump *d = arg;

	if (d->o.kv) {
		/* Records the snapshot holds (segments kept for followers) count once. */
		if ((!d->o.upto || r->hdr.lsn <= d->o.upto) && r->hdr.lsn > d->kv_floor)
			kv_apply(&d->kv, r);
		if (!d->o.records || d->o.json)
			return 0;
	}
	printf("  lsn %" PRIu64 " epoch %u %-6s off %" PRIu64, r->hdr.lsn, r->hdr.epoch,
	       rec_types[r->hdr.type <= SL_REC_CONFIG ? r->hdr.type : 0], off + SL_WAL_HDR_LEN);
	if (r->hdr.flags & SL_REC_F_ORIGIN)
		printf(" client %" PRIu64 "/%" PRIu64, r->origin.client_id, r->origin.seq);
	if (r->hdr.key_len) {
		printf(" key ");
		print_key(r->key, r->hdr.key_len);
	}
	printf(" val_len %u\n", r->hdr.val_len);
	return 0;
}

/* ---- node metadata ------------------------------------------------------------------ */

/* Why sl_wal_meta_read() refused b: the checks it makes, the cheap ones named. */
static void meta_damage(const uint8_t *b, size_t len, char *why, size_t cap)
{
	if (len < SL_WAL_META_LEN)
		snprintf(why, cap, "short file: %zu of %u bytes", len, SL_WAL_META_LEN);
	else if (le64(b) != SL_WAL_META_MAGIC)
		snprintf(why, cap, "bad magic");
	else if (le32(b + META_CRC_OFF) != sl_crc32c(0, b, META_CRC_OFF))
		snprintf(why, cap, "CRC mismatch (stored %08x, computed %08x)",
			 le32(b + META_CRC_OFF), sl_crc32c(0, b, META_CRC_OFF));
	else
		snprintf(why, cap, "invalid fields (reserved bytes, epoch history or padding)");
}

static void meta_text(const char *path, const struct sl_wal_meta *m)
{
	printf("%s: cluster %u, node %u, epoch %u, commit hint %" PRIu64 ", refetch_lsn %" PRIu64
	       ", trunc_lsn %" PRIu64 ", history:",
	       path, m->cluster_id, m->node_id, m->epoch, m->commit_hint, m->refetch_lsn,
	       m->trunc_lsn);
	if (m->n_hist == 0)
		printf(" none");
	for (unsigned i = 0; i < m->n_hist; i++)
		printf("%s epoch %u from lsn %" PRIu64, i ? "," : "", m->hist[i].epoch,
		       m->hist[i].first_lsn);
	putchar('\n');
}

static void meta_json(struct dump *d, const char *path, const struct sl_wal_meta *m)
{
	json_t *hist = json_array();

	for (unsigned i = 0; i < m->n_hist; i++)
		json_array_append_new(hist,
				      json_pack("{s:I, s:I}", "epoch", (json_int_t)m->hist[i].epoch,
						"first_lsn", (json_int_t)m->hist[i].first_lsn));
	json_array_append_new(
		d->metas,
		json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "file", path, "ok", 1,
			  "cluster_id", (json_int_t)m->cluster_id, "node_id",
			  (json_int_t)m->node_id, "epoch", (json_int_t)m->epoch, "commit_hint",
			  (json_int_t)m->commit_hint, "refetch_lsn", (json_int_t)m->refetch_lsn,
			  "trunc_lsn", (json_int_t)m->trunc_lsn, "hist", hist));
}

static int dump_meta(struct dump *d, const char *path)
{
	struct sl_wal_meta m;
	uint8_t *buf;
	size_t len;

	if (read_file(path, &buf, &len) != 0)
		return -1;
	if (sl_wal_meta_read(buf, len, &m) != 0) {
		char why[128];

		meta_damage(buf, len, why, sizeof(why));
		if (d->o.json)
			json_array_append_new(d->metas, json_pack("{s:s, s:b, s:s}", "file", path,
								  "ok", 0, "reason", why));
		else
			printf("%s: metadata damaged: %s\n", path, why);
		d->damaged = true;
		free(buf);
		return 0;
	}
	if (d->o.json)
		meta_json(d, path, &m);
	else
		meta_text(path, &m);
	d->have_meta = true;
	d->cluster_id = m.cluster_id;
	d->node_id = m.node_id;
	free(buf);
	return 0;
}

/* ---- snapshots ---------------------------------------------------------------------- */

/* Why sl_wal_snap_hdr_read() refused b (len bytes read of the header block). */
static void snap_hdr_damage(const uint8_t *b, size_t len, char *why, size_t cap)
{
	if (len < SL_WAL_SNAP_HDR_LEN)
		snprintf(why, cap, "header damaged: short file: %zu of %u header bytes", len,
			 SL_WAL_SNAP_HDR_LEN);
	else if (le64(b) != SL_WAL_SNAP_MAGIC)
		snprintf(why, cap, "header damaged: bad magic");
	else if (le32(b + SNAP_CRC_OFF) != sl_crc32c(0, b, SNAP_CRC_OFF))
		snprintf(why, cap, "header damaged: CRC mismatch (stored %08x, computed %08x)",
			 le32(b + SNAP_CRC_OFF), sl_crc32c(0, b, SNAP_CRC_OFF));
	else
		snprintf(why, cap, "header damaged: invalid fields (reserved, lsn 0 or padding)");
}

/* The payload's CRC, streamed: a snapshot may be larger than memory. */
static void snap_check_payload(FILE *f, struct snap_info *si)
{
	static uint8_t chunk[1 << 20];
	uint64_t off = 0;
	uint32_t crc = 0;

	while (off < si->h.payload_len) {
		uint64_t want = si->h.payload_len - off;
		size_t n = fread(chunk, 1, want < sizeof(chunk) ? (size_t)want : sizeof(chunk), f);

		if (n == 0)
			break;
		crc = sl_crc32c(crc, chunk, n);
		off += n;
	}
	if (off < si->h.payload_len)
		snprintf(si->why, sizeof(si->why),
			 "payload damaged: truncated, %" PRIu64 " of %" PRIu64 " bytes", off,
			 si->h.payload_len);
	else if (crc != si->h.payload_crc)
		snprintf(si->why, sizeof(si->why),
			 "payload damaged: CRC mismatch (stored %08x, computed %08x)",
			 si->h.payload_crc, crc);
	else
		si->payload_ok = true;
}

/* Checks a snapshot file into si: -1 when it cannot be read at all. */
static int snap_check(const struct dump *d, struct snap_info *si)
{
	static uint8_t hdr[SL_WAL_SNAP_HDR_LEN];
	FILE *f = fopen(si->path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "shiplog-waldump: %s: %s\n", si->path, strerror(errno));
		return -1;
	}
	n = fread(hdr, 1, sizeof(hdr), f);
	if (sl_wal_snap_hdr_read(hdr, n, &si->h) != 0)
		snap_hdr_damage(hdr, n, si->why, sizeof(si->why));
	else if (si->name_lsn && si->h.lsn != si->name_lsn)
		snprintf(si->why, sizeof(si->why), "header damaged: holds lsn %" PRIu64, si->h.lsn);
	else
		si->header_ok = true;
	if (si->header_ok)
		snap_check_payload(f, si);
	fclose(f);
	if (si->payload_ok && d->have_meta &&
	    (si->h.cluster_id != d->cluster_id || si->h.node_id != d->node_id))
		snprintf(si->why, sizeof(si->why),
			 "of cluster %u node %u, but the metadata is of cluster %u node %u",
			 si->h.cluster_id, si->h.node_id, d->cluster_id, d->node_id);
	else
		si->ok = si->payload_ok;
	return 0;
}

/* Lists a checked snapshot; newest: the one recovery starts from. */
static void snap_report(struct dump *d, const struct snap_info *si, bool newest)
{
	uint64_t lsn = si->header_ok ? si->h.lsn : si->name_lsn;

	if (d->o.json) {
		json_t *o = json_pack("{s:s, s:I, s:b, s:b, s:b}", "file", si->path, "lsn",
				      (json_int_t)lsn, "header_ok", si->header_ok, "payload_ok",
				      si->payload_ok, "ok", si->ok);

		if (si->header_ok) {
			json_object_set_new(o, "epoch", json_integer(si->h.epoch));
			json_object_set_new(o, "payload_len",
					    json_integer((json_int_t)si->h.payload_len));
			json_object_set_new(o, "cluster_id", json_integer(si->h.cluster_id));
			json_object_set_new(o, "node_id", json_integer(si->h.node_id));
		}
		if (!si->ok)
			json_object_set_new(o, "reason", json_string(si->why));
		if (newest)
			json_object_set_new(o, "newest", json_true());
		json_array_append_new(d->snapshots, o);
		return;
	}
	printf("%s: snapshot lsn %" PRIu64, si->path, lsn);
	if (si->header_ok)
		printf(", epoch %u, payload %" PRIu64 " bytes, header ok", si->h.epoch,
		       si->h.payload_len);
	if (si->payload_ok)
		printf(", payload ok");
	if (!si->ok)
		printf(": %s", si->why);
	if (newest)
		printf(" (newest valid: segments needed from lsn %" PRIu64 ")", si->h.lsn + 1);
	putchar('\n');
}

static int dump_snapshot(struct dump *d, const char *path, uint64_t name_lsn)
{
	struct snap_info si = { .path = (char *)path, .name_lsn = name_lsn };

	if (snap_check(d, &si) != 0)
		return -1;
	snap_report(d, &si, false);
	d->damaged |= !si.ok;
	return 0;
}

/* ---- segments ----------------------------------------------------------------------- */

static void report_text(const char *path, const struct sl_wal_seg_hdr *h,
			const struct sl_wal_scan *s, uint64_t below_snap)
{
	printf("%s: first %" PRIu64 ", records %" PRIu64, path, h->first_lsn, s->records);
	if (s->records)
		printf(" (%" PRIu64 "..%" PRIu64 ", last epoch %u)", s->first_lsn, s->last_lsn,
		       s->last_epoch);
	printf(", %s", sl_wal_scan_status_name(s->status));
	if (s->status == SL_WAL_TORN || s->status == SL_WAL_CORRUPT)
		printf(": lsn %" PRIu64 " damaged at offset %" PRIu64 " (%s)", s->bad_lsn,
		       s->bad_off + SL_WAL_HDR_LEN, sl_reject_str(s->reason));
	if (s->status == SL_WAL_CORRUPT)
		printf(", valid records resume at lsn %" PRIu64, s->resume_lsn);
	if (s->status == SL_WAL_GAP)
		printf(": expected lsn %" PRIu64 ", found %" PRIu64, s->bad_lsn, s->resume_lsn);
	if (below_snap)
		printf(" (below snapshot %" PRIu64 ": optional)", below_snap);
	putchar('\n');
}

static void report_json(struct dump *d, const char *path, const struct sl_wal_seg_hdr *h,
			const struct sl_wal_scan *s, uint64_t below_snap)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:s}", "file", path, "first_lsn",
			      (json_int_t)h->first_lsn, "records", (json_int_t)s->records, "status",
			      sl_wal_scan_status_name(s->status));

	if (s->records) {
		json_object_set_new(o, "last_lsn", json_integer((json_int_t)s->last_lsn));
		json_object_set_new(o, "last_epoch", json_integer(s->last_epoch));
	}
	if (s->status != SL_WAL_CLEAN) {
		json_object_set_new(o, "bad_lsn", json_integer((json_int_t)s->bad_lsn));
		json_object_set_new(o, "bad_offset",
				    json_integer((json_int_t)(s->bad_off + SL_WAL_HDR_LEN)));
	}
	if (s->status == SL_WAL_TORN || s->status == SL_WAL_CORRUPT)
		json_object_set_new(o, "reason", json_string(sl_reject_name(s->reason)));
	if (s->status == SL_WAL_CORRUPT || s->status == SL_WAL_GAP)
		json_object_set_new(o, "resume_lsn", json_integer((json_int_t)s->resume_lsn));
	if (below_snap)
		json_object_set_new(o, "optional", json_true());
	json_array_append_new(d->segments, o);
}

/*
 * Lists one segment and checks that it continues the one before. below_snap (non-zero:
 * the newest valid snapshot's LSN) marks a segment recovery does not need: its damage
 * and its place in the sequence do not count.
 */
static int dump_segment(struct dump *d, const char *path, uint64_t below_snap)
{
	struct sl_limits lim = { .key_max = UINT16_MAX, .val_max = UINT32_MAX };
	struct sl_wal_seg_hdr h;
	struct sl_wal_scan s;
	uint8_t *buf;
	size_t len;

	if (read_file(path, &buf, &len) != 0)
		return -1;
	if (sl_wal_seg_hdr_read(buf, len, &h) != 0) {
		fprintf(stderr, "shiplog-waldump: %s: not a WAL segment (bad header)\n", path);
		d->damaged |= !below_snap;
		free(buf);
		return 0;
	}
	if (!below_snap && d->next_lsn && h.first_lsn != d->next_lsn)
		problem(d, path, "expected to start at lsn %" PRIu64, d->next_lsn);
	if (!below_snap && d->have_meta &&
	    (h.cluster_id != d->cluster_id || h.node_id != d->node_id))
		problem(d, path, "of cluster %u node %u, but the metadata is of cluster %u node %u",
			h.cluster_id, h.node_id, d->cluster_id, d->node_id);
	if (d->o.records && !d->o.json)
		printf("%s:\n", path);
	sl_wal_scan(buf + SL_WAL_HDR_LEN, len - SL_WAL_HDR_LEN, h.first_lsn, &lim,
		    (d->o.records && !d->o.json) || (d->o.kv && !below_snap) ? print_record : NULL,
		    d, &s);
	if (d->o.json)
		report_json(d, path, &h, &s, below_snap);
	else
		report_text(path, &h, &s, below_snap);
	d->damaged |= !below_snap && s.status != SL_WAL_CLEAN;
	d->next_lsn = s.status == SL_WAL_CLEAN ? h.first_lsn + s.records : 0;
	free(buf);
	return 0;
}

/* ---- directories -------------------------------------------------------------------- */

/* What a WAL directory holds, sorted by LSN. */
struct dir_list {
	struct seg *segs;
	size_t n_segs;
	struct snap_info *snaps;
	size_t n_snaps;
	bool meta;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return (x->first_lsn > y->first_lsn) - (x->first_lsn < y->first_lsn);
}

static int snap_cmp(const void *a, const void *b)
{
	const struct snap_info *x = a, *y = b;

	return (x->name_lsn > y->name_lsn) - (x->name_lsn < y->name_lsn);
}

/* Grows *p (of *cap elements of size sz) to hold n + 1; aborts when out of memory. */
static void *grow(void *p, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 64;
	p = realloc(p, *cap * sz);
	if (!p)
		abort();
	return p;
}

static int dir_list(const char *dir, struct dir_list *l)
{
	size_t seg_cap = 0, snap_cap = 0;
	struct dirent *de;
	DIR *dp = opendir(dir);

	if (!dp) {
		fprintf(stderr, "shiplog-waldump: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		uint64_t lsn;
		char *path;

		if (!strcmp(de->d_name, SL_WAL_META_NAME)) {
			l->meta = true;
			continue;
		}
		if (sl_wal_seg_name_parse(de->d_name, &lsn) != 0 &&
		    sl_wal_snap_name_parse(de->d_name, &lsn) != 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			abort();
		if (sl_wal_seg_name_parse(de->d_name, &lsn) == 0) {
			l->segs = grow(l->segs, &seg_cap, l->n_segs, sizeof(*l->segs));
			l->segs[l->n_segs++] = (struct seg){ .path = path, .first_lsn = lsn };
		} else {
			l->snaps = grow(l->snaps, &snap_cap, l->n_snaps, sizeof(*l->snaps));
			l->snaps[l->n_snaps++] =
				(struct snap_info){ .path = path, .name_lsn = lsn };
		}
	}
	closedir(dp);
	if (l->n_segs) /* qsort() wants a pointer even for none */
		qsort(l->segs, l->n_segs, sizeof(*l->segs), seg_cmp);
	if (l->n_snaps)
		qsort(l->snaps, l->n_snaps, sizeof(*l->snaps), snap_cmp);
	return 0;
}

static void dir_list_free(struct dir_list *l)
{
	for (size_t i = 0; i < l->n_segs; i++)
		free(l->segs[i].path);
	for (size_t i = 0; i < l->n_snaps; i++)
		free(l->snaps[i].path);
	free(l->segs);
	free(l->snaps);
}

/* Checks and lists the snapshots: the LSN of the newest valid one (0: none), or -1. */
static int64_t dump_dir_snaps(struct dump *d, struct dir_list *l)
{
	size_t newest = l->n_snaps;

	for (size_t i = 0; i < l->n_snaps; i++) {
		if (snap_check(d, &l->snaps[i]) != 0)
			return -1;
		if (l->snaps[i].ok)
			newest = i;
		d->damaged |= !l->snaps[i].ok;
	}
	for (size_t i = 0; i < l->n_snaps; i++)
		snap_report(d, &l->snaps[i], i == newest);
	return newest < l->n_snaps ? (int64_t)l->snaps[newest].h.lsn : 0;
}

/*
 * Recovery needs every LSN after the newest valid snapshot S (DESIGN.md §5): the
 * segments from the last one starting at or below S + 1 on must be continuous and
 * whole; those before it are wholly below S + 1 and optional.
 */
static int dump_dir_segs(struct dump *d, const struct dir_list *l, uint64_t snap_lsn)
{
	size_t i0 = 0;
	int rc = 0;

	for (size_t i = 0; i < l->n_segs; i++)
		if (l->segs[i].first_lsn <= snap_lsn + 1)
			i0 = i;
	if (l->n_segs && l->segs[0].first_lsn > snap_lsn + 1) {
		uint64_t from = snap_lsn + 1, to = l->segs[0].first_lsn - 1;
		char held[96], missing[96];

		if (snap_lsn)
			snprintf(held, sizeof(held),
				 "the newest valid snapshot holds up to lsn %" PRIu64, snap_lsn);
		else
			snprintf(held, sizeof(held), "there is no valid snapshot");
		if (from == to)
			snprintf(missing, sizeof(missing), "lsn %" PRIu64 " is", from);
		else
			snprintf(missing, sizeof(missing), "lsns %" PRIu64 "..%" PRIu64 " are",
				 from, to);
		problem(d, l->segs[0].path, "starts at lsn %" PRIu64 ", but %s: %s missing",
			l->segs[0].first_lsn, held, missing);
	}
	for (size_t i = 0; i < l->n_segs && rc == 0; i++) {
		if (i == i0)
			d->next_lsn = 0; /* nothing before it is needed */
		rc = dump_segment(d, l->segs[i].path, i < i0 ? snap_lsn : 0);
	}
	return rc;
}

/*
 * A pair of the newest snapshot's state image: --kv-digest starts its replay from them;
 * --records lists them ("snapshot lsn S key K lsn L val_len N": L is the write that set
 * K), since a node installed from a snapshot holds no record at or below S.
 */
static int snap_pair(void *arg, const uint8_t *key, uint16_t key_len, const uint8_t *val,
		     uint32_t val_len, uint64_t lsn)
{
	struct dump *d = arg;

	if (d->o.kv)
		kv_set(&d->kv, key, key_len, val, val_len, true);
	if (d->o.records && !d->o.json) {
		printf("  snapshot lsn %" PRIu64 " key ", d->snap_pairs_lsn);
		print_key(key, key_len);
		printf(" lsn %" PRIu64 " val_len %u\n", lsn, val_len);
	}
	return 0;
}

/* The newest valid snapshot's state image, through snap_pair. */
static int snap_pairs(struct dump *d, const struct dir_list *l, uint64_t snap_lsn)
{
	struct sl_image_info info;
	const struct snap_info *si = NULL;
	uint8_t *buf;
	FILE *f;
	int rc;

	for (size_t i = 0; i < l->n_snaps; i++)
		if (l->snaps[i].ok && l->snaps[i].h.lsn == snap_lsn)
			si = &l->snaps[i];
	if (!si)
		return 0;
	buf = malloc(si->h.payload_len ? si->h.payload_len : 1);
	f = fopen(si->path, "rb");
	if (!buf || !f || fseek(f, SL_WAL_SNAP_HDR_LEN, SEEK_SET) != 0 ||
	    fread(buf, 1, si->h.payload_len, f) != si->h.payload_len) {
		fprintf(stderr, "shiplog-waldump: %s: cannot read the snapshot\n", si->path);
		free(buf);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	d->snap_pairs_lsn = snap_lsn;
	rc = sl_image_pairs(buf, si->h.payload_len, snap_pair, d, &info);
	free(buf);
	if (rc != 0 || info.lsn != snap_lsn) {
		problem(d, si->path, "the payload is no state image of lsn %" PRIu64, snap_lsn);
		return 0;
	}
	if (d->o.kv) {
		d->kv_floor = snap_lsn;
		if (d->kv.last_lsn < snap_lsn)
			d->kv.last_lsn = snap_lsn;
	}
	return 0;
}

static int dump_dir(struct dump *d, const char *dir)
{
	struct dir_list l = { 0 };
	int64_t snap_lsn;
	int rc = 0;

	if (dir_list(dir, &l) != 0)
		return -1;
	d->have_meta = false;
	d->next_lsn = 0;
	if (l.meta) {
		char *path;

		if (asprintf(&path, "%s/%s", dir, SL_WAL_META_NAME) < 0)
			abort();
		rc = dump_meta(d, path);
		free(path);
	} else if (!d->o.json) {
		printf("%s: no metadata file\n", dir);
	}
	snap_lsn = rc == 0 ? dump_dir_snaps(d, &l) : -1;
	d->kv_floor = 0;
	if (snap_lsn < 0)
		rc = -1;
	else if ((d->o.kv || (d->o.records && !d->o.json)) && snap_lsn > 0)
		rc = snap_pairs(d, &l, (uint64_t)snap_lsn);
	if (rc == 0)
		rc = dump_dir_segs(d, &l, (uint64_t)snap_lsn);
	dir_list_free(&l);
	return rc;
}

/* A file named on the command line: metadata, snapshot or segment by its name. */
static int dump_file(struct dump *d, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	uint64_t lsn;

	if (!strcmp(base, SL_WAL_META_NAME))
		return dump_meta(d, path);
	if (sl_wal_snap_name_parse(base, &lsn) == 0)
		return dump_snapshot(d, path, lsn);
	return dump_segment(d, path, 0);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shiplog-waldump [--verify] [--json] [--records] [--kv-digest [--upto "
		   "LSN]]\n"
		   "       PATH...\n"
		   "  PATH        a WAL directory, or files in one: segments "
		   "(NNNNNNNNNNNNNNNNNNNN.wal),\n"
		   "              snapshots (NNNNNNNNNNNNNNNNNNNN.snap), the metadata (meta)\n"
		   "  --verify    exit 1 if any record, snapshot or the metadata is damaged, or\n"
		   "              LSNs do not continue from the newest valid snapshot\n"
		   "  --json      one JSON document on stdout\n"
		   "  --records   list every record, and in a directory the newest snapshot's\n"
		   "              key-value pairs (text output)\n"
		   "  --kv-digest replay PUT/DEL records into a key-value state and print its\n"
		   "              digest, key count and last LSN (equal states, equal digests);\n"
		   "              in a directory, from the newest valid snapshot's state on\n"
		   "  --upto LSN  with --kv-digest: replay records up to LSN only\n");
}

static void print_json(struct dump *d)
{
	json_t *doc =
		json_pack("{s:o, s:o, s:o, s:o, s:b}", "meta", d->metas, "snapshots", d->snapshots,
			  "segments", d->segments, "problems", d->problems, "ok", !d->damaged);

	if (d->o.kv) {
		char hex[20];

		snprintf(hex, sizeof(hex), "%016" PRIx64, kv_digest(&d->kv));
		json_object_set_new(doc, "kv",
				    json_pack("{s:s, s:I, s:I, s:I, s:I}", "digest", hex, "keys",
					      (json_int_t)d->kv.live, "last_lsn",
					      (json_int_t)d->kv.last_lsn, "records",
					      (json_int_t)d->kv.records, "snapshot_lsn",
					      (json_int_t)d->kv_floor));
	}

	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "verify", no_argument, 0, 'v' },
						  { "json", no_argument, 0, 'j' },
						  { "records", no_argument, 0, 'r' },
						  { "kv-digest", no_argument, 0, 'k' },
						  { "upto", required_argument, 0, 'u' },
						  { "help", no_argument, 0, 'h' },
						  { 0, 0, 0, 0 } };
	struct dump d = { 0 };
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'v')
			d.o.verify = true;
		else if (c == 'j')
			d.o.json = true;
		else if (c == 'r')
			d.o.records = true;
		else if (c == 'k')
			d.o.kv = true;
		else if (c == 'u' && sscanf(optarg, "%" SCNu64, &d.o.upto) == 1 && d.o.upto > 0)
			continue;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return usage(stderr), 2;
	}
	if (optind == argc)
		return usage(stderr), 2;
	d.segments = json_array();
	d.snapshots = json_array();
	d.metas = json_array();
	d.problems = json_array();
	for (int i = optind; i < argc && rc == 0; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "shiplog-waldump: %s: %s\n", argv[i], strerror(errno));
			rc = -1;
		} else {
			rc = S_ISDIR(st.st_mode) ? dump_dir(&d, argv[i]) : dump_file(&d, argv[i]);
		}
	}
	if (d.o.kv && !d.o.json && rc == 0)
		printf("kv digest %016" PRIx64 " keys %zu last_lsn %" PRIu64 " records %" PRIu64
		       "\n",
		       kv_digest(&d.kv), d.kv.live, d.kv.last_lsn, d.kv.records);
	if (d.o.json && rc == 0) {
		print_json(&d);
	} else {
		json_decref(d.segments);
		json_decref(d.snapshots);
		json_decref(d.metas);
		json_decref(d.problems);
	}
	free(d.kv.slot);
	if (rc != 0)
		return 2;
	return d.o.verify && d.damaged ? 1 : 0;
}
