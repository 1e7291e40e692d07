/* WAL segment header and the record scan shared by recovery and shiplog-waldump. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <shiplog/crc32c.h>
#include <shiplog/walfmt.h>

#include "wire_le.h"

static const struct wire_field seg_hdr_fields[] = {
	WIRE_FIELD(struct sl_wal_seg_hdr, magic),   WIRE_FIELD(struct sl_wal_seg_hdr, first_lsn),
	WIRE_FIELD(struct sl_wal_seg_hdr, size),    WIRE_FIELD(struct sl_wal_seg_hdr, cluster_id),
	WIRE_FIELD(struct sl_wal_seg_hdr, node_id), WIRE_FIELD(struct sl_wal_seg_hdr, reserved),
	WIRE_FIELD(struct sl_wal_seg_hdr, crc),
};

#define SEG_CRC_OFF 32u

/* True when p[0..n) is all zeros: the padding a writer leaves, checked on read. */
static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

void sl_wal_seg_hdr_write(void *buf, const struct sl_wal_seg_hdr *h)
{
	uint8_t *b = buf;

	memset(b, 0, SL_WAL_HDR_LEN);
	/* The struct's tail padding (36..39) is not copied: those bytes stay zero. */
	wire_write(b, h, SEG_CRC_OFF + 4, seg_hdr_fields, WIRE_NFIELDS(seg_hdr_fields));
	wire_put_le32(b + SEG_CRC_OFF, sl_crc32c(0, b, SEG_CRC_OFF));
}

int sl_wal_seg_hdr_read(const void *buf, size_t len, struct sl_wal_seg_hdr *out)
{
	const uint8_t *b = buf;

	if (len < SL_WAL_HDR_LEN)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	wire_read(out, b, SEG_CRC_OFF + 4, seg_hdr_fields, WIRE_NFIELDS(seg_hdr_fields));
	if (out->magic != SL_WAL_MAGIC || out->reserved != 0 ||
	    out->crc != sl_crc32c(0, b, SEG_CRC_OFF) || out->size < SL_WAL_HDR_LEN ||
	    out->first_lsn == 0 || !all_zero(b + SEG_CRC_OFF + 4, SL_WAL_HDR_LEN - SEG_CRC_OFF - 4))
		return -EINVAL;
	return 0;
}

void sl_wal_seg_name(uint64_t first_lsn, char name[SL_WAL_NAME_LEN])
{
	snprintf(name, SL_WAL_NAME_LEN, "%020llu.wal", (unsigned long long)first_lsn);
}

/* "<20 digits><suffix>" with a non-zero number: the number, or -EINVAL. */
static int lsn_name_parse(const char *name, const char *suffix, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(name[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (strcmp(name + 20, suffix) != 0 || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int sl_wal_seg_name_parse(const char *name, uint64_t *first_lsn)
{
	return lsn_name_parse(name, ".wal", first_lsn);
}

void sl_wal_snap_name(uint64_t lsn, char name[SL_WAL_SNAP_NAME_LEN])
{
	snprintf(name, SL_WAL_SNAP_NAME_LEN, "%020llu.snap", (unsigned long long)lsn);
}

int sl_wal_snap_name_parse(const char *name, uint64_t *lsn)
{
	return lsn_name_parse(name, ".snap", lsn);
}

/* ---- node metadata ------------------------------------------------------------- */

#define META_HIST_OFF 48u
#define META_CRC_OFF  (META_HIST_OFF + SL_EPOCH_HIST_MAX * 16u)

_Static_assert(META_CRC_OFF + 4 <= SL_WAL_META_LEN, "meta fits its block");

static void put_le64(uint8_t *p, uint64_t v)
{
	wire_put_le32(p, (uint32_t)v);
	wire_put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_le64(const uint8_t *p)
{
	return wire_get_le32(p) | (uint64_t)wire_get_le32(p + 4) << 32;
}

void sl_wal_meta_write(void *buf, const struct sl_wal_meta *m)
{
	uint8_t *b = buf;

	memset(b, 0, SL_WAL_META_LEN);
	put_le64(b, SL_WAL_META_MAGIC);
	wire_put_le32(b + 8, m->cluster_id);
	b[12] = (uint8_t)m->node_id;
	b[13] = (uint8_t)(m->node_id >> 8);
	b[14] = m->n_hist;
	wire_put_le32(b + 16, m->epoch);
	put_le64(b + 24, m->commit_hint);
	put_le64(b + 32, m->refetch_lsn);
	put_le64(b + 40, m->trunc_lsn);
	for (unsigned i = 0; i < m->n_hist && i < SL_EPOCH_HIST_MAX; i++) {
		wire_put_le32(b + META_HIST_OFF + i * 16, m->hist[i].epoch);
		put_le64(b + META_HIST_OFF + i * 16 + 8, m->hist[i].first_lsn);
	}
	wire_put_le32(b + META_CRC_OFF, sl_crc32c(0, b, META_CRC_OFF));
}

/*
 * Only the encoding sl_wal_meta_write() produces is accepted: history entries past
 * n_hist and the bytes after the CRC (not covered by it) must be zero as written, so a
 * flipped bit anywhere in the file is refused rather than ignored (fuzz_walmeta).
 */
int sl_wal_meta_read(const void *buf, size_t len, struct sl_wal_meta *out)
{
	const uint8_t *b = buf;

	memset(out, 0, sizeof(*out));
	if (len < SL_WAL_META_LEN || get_le64(b) != SL_WAL_META_MAGIC ||
	    wire_get_le32(b + META_CRC_OFF) != sl_crc32c(0, b, META_CRC_OFF) || b[15] != 0 ||
	    wire_get_le32(b + 20) != 0 || b[14] > SL_EPOCH_HIST_MAX ||
	    !all_zero(b + META_HIST_OFF + b[14] * 16u, (SL_EPOCH_HIST_MAX - b[14]) * 16u) ||
	    !all_zero(b + META_CRC_OFF + 4, SL_WAL_META_LEN - META_CRC_OFF - 4))
		return -EINVAL;
	out->cluster_id = wire_get_le32(b + 8);
	out->node_id = (uint16_t)(b[12] | b[13] << 8);
	out->n_hist = b[14];
	out->epoch = wire_get_le32(b + 16);
	out->commit_hint = get_le64(b + 24);
	out->refetch_lsn = get_le64(b + 32);
	out->trunc_lsn = get_le64(b + 40);
	for (unsigned i = 0; i < out->n_hist; i++) {
		const uint8_t *h = b + META_HIST_OFF + i * 16;

		out->hist[i].epoch = wire_get_le32(h);
		out->hist[i].first_lsn = get_le64(h + 8);
		if (wire_get_le32(h + 4) != 0 || out->hist[i].epoch > out->epoch ||
		    (i > 0 && (out->hist[i].epoch <= out->hist[i - 1].epoch ||
			       out->hist[i].first_lsn <= out->hist[i - 1].first_lsn)))
			return -EINVAL;
	}
	return 0;
}

/* ---- snapshot header ----------------------------------------------------------- */

#define SNAP_CRC_OFF 40u

void sl_wal_snap_hdr_write(void *buf, const struct sl_wal_snap_hdr *h)
{
	uint8_t *b = buf;

	memset(b, 0, SL_WAL_SNAP_HDR_LEN);
	put_le64(b, SL_WAL_SNAP_MAGIC);
	put_le64(b + 8, h->lsn);
	put_le64(b + 16, h->payload_len);
	wire_put_le32(b + 24, h->cluster_id);
	b[28] = (uint8_t)h->node_id;
	b[29] = (uint8_t)(h->node_id >> 8);
	wire_put_le32(b + 32, h->epoch);
	wire_put_le32(b + 36, h->payload_crc);
	wire_put_le32(b + SNAP_CRC_OFF, sl_crc32c(0, b, SNAP_CRC_OFF));
}

/* As for the metadata, only what the writer produces: the rest of the block is zero. */
int sl_wal_snap_hdr_read(const void *buf, size_t len, struct sl_wal_snap_hdr *out)
{
	const uint8_t *b = buf;

	memset(out, 0, sizeof(*out));
	if (len < SL_WAL_SNAP_HDR_LEN || get_le64(b) != SL_WAL_SNAP_MAGIC ||
	    wire_get_le32(b + SNAP_CRC_OFF) != sl_crc32c(0, b, SNAP_CRC_OFF) || b[30] != 0 ||
	    b[31] != 0 || !all_zero(b + SNAP_CRC_OFF + 4, SL_WAL_SNAP_HDR_LEN - SNAP_CRC_OFF - 4))
		return -EINVAL;
	out->lsn = get_le64(b + 8);
	out->payload_len = get_le64(b + 16);
	out->cluster_id = wire_get_le32(b + 24);
	out->node_id = (uint16_t)(b[28] | b[29] << 8);
	out->epoch = wire_get_le32(b + 32);
	out->payload_crc = wire_get_le32(b + 36);
	return out->lsn == 0 ? -EINVAL : 0;
}

const char *sl_wal_scan_status_name(unsigned status)
{
	static const char *const names[] = { "clean", "torn", "corrupt", "gap" };

	return status < 4 ? names[status] : "unknown";
}

static bool zero_hdr(const uint8_t *p)
{
	static const uint8_t zero[SL_REC_HDR_LEN];

	return memcmp(p, zero, SL_REC_HDR_LEN) == 0;
}

/*
 * The first offset at or after from holding a valid record with an LSN of at least
 * min_lsn: the difference between a torn tail (nothing valid follows) and corruption
 * (the log goes on after the damage). Zero words, the preallocated tail, are skipped.
 */
static bool find_valid_after(const uint8_t *buf, size_t len, size_t from, uint64_t min_lsn,
			     const struct sl_limits *lim, struct sl_record_view *r, size_t *at)
{
	for (size_t off = (from + SL_REC_ALIGN - 1) & ~(size_t)(SL_REC_ALIGN - 1);
	     off + SL_REC_HDR_LEN <= len; off += SL_REC_ALIGN) {
		uint64_t word;

		memcpy(&word, buf + off, sizeof(word));
		if (word == 0)
			continue;
		if (sl_record_decode(buf + off, len - off, lim, 1, r) == SL_OK &&
		    r->hdr.lsn >= min_lsn) {
			*at = off;
			return true;
		}
	}
	return false;
}

/* Damage at off: torn if nothing valid follows, corrupt if the log resumes later. */
static void scan_damage(const uint8_t *buf, size_t len, size_t off, uint64_t expect,
			const struct sl_limits *lim, enum sl_reject why, struct sl_wal_scan *out)
{
	struct sl_record_view r;
	size_t at;

	out->bad_off = off;
	out->bad_lsn = expect;
	out->reason = why;
	out->status = SL_WAL_TORN;
	if (find_valid_after(buf, len, off + SL_REC_ALIGN, expect, lim, &r, &at)) {
		out->status = SL_WAL_CORRUPT;
		out->resume_lsn = r.hdr.lsn;
		out->resume_off = at;
	}
}

void sl_wal_scan(const uint8_t *buf, size_t len, uint64_t expect_lsn, const struct sl_limits *lim,
		 sl_wal_record_fn fn, void *arg, struct sl_wal_scan *out)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	while (off + SL_REC_HDR_LEN <= len) {
		struct sl_record_view r;
		enum sl_reject rc;

		if (zero_hdr(buf + off)) {
			/* The end of the log, unless records follow a hole of zeros. */
			struct sl_record_view later;
			size_t at;

			if (find_valid_after(buf, len, off + SL_REC_ALIGN, expect_lsn, lim, &later,
					     &at)) {
				out->status = SL_WAL_CORRUPT;
				out->bad_off = off;
				out->bad_lsn = expect_lsn;
				out->resume_lsn = later.hdr.lsn;
				out->resume_off = at;
				out->reason = SL_REJ_REC_TYPE;
			}
			break;
		}
		rc = sl_record_decode(buf + off, len - off, lim, 1, &r);
		if (rc != SL_OK) {
			scan_damage(buf, len, off, expect_lsn, lim, rc, out);
			break;
		}
		if (r.hdr.lsn != expect_lsn) {
			out->status = SL_WAL_GAP;
			out->bad_off = off;
			out->bad_lsn = expect_lsn;
			out->resume_lsn = r.hdr.lsn;
			out->resume_off = off;
			break;
		}
		if (fn && fn(arg, off, &r) != 0)
			break;
		if (out->records++ == 0)
			out->first_lsn = r.hdr.lsn;
		out->last_lsn = r.hdr.lsn;
		out->last_epoch = r.hdr.epoch;
		off += r.total_len;
		expect_lsn++;
	}
	if (out->status == SL_WAL_CLEAN && off < len && off + SL_REC_HDR_LEN > len) {
		/* Fewer bytes than a header left: zeros end the log, anything else is torn. */
		for (size_t i = off; i < len; i++) {
			if (buf[i] != 0) {
				out->status = SL_WAL_TORN;
				out->bad_off = off;
				out->bad_lsn = expect_lsn;
				out->reason = SL_REJ_REC_OVERRUN;
				break;
			}
		}
	}
	out->end_off = out->status == SL_WAL_CLEAN ? off : out->bad_off;
}
