/* The WAL writer: queue, group commit, completions, rollover, truncation, catch-up reads. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/crc32c.h>

#include "wal_internal.h"

#define TAG_KIND_SHIFT 56
#define TAG_WRITE      1ull
#define TAG_SYNC       2ull
#define TAG_READ       3ull
#define TAG(kind, i)   ((kind) << TAG_KIND_SHIFT | (uint64_t)(i))

void sl_wal_config_default(struct sl_wal_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = SL_WAL_DIRECT; /* fastest in perf/results/wal.md, most so for small records */
	cfg->segment_bytes = 64ull << 20;
	cfg->queue_records = 65536;
	cfg->batch_bytes = 1u << 20;
	cfg->read_slots = 8;
	cfg->retention_bytes = 0;
	cfg->limits = sl_limits_default();
}

const char *sl_wal_mode_name(unsigned mode)
{
	static const char *const names[] = { "buffered", "dsync", "direct" };

	return mode < 3 ? names[mode] : "unknown";
}

int sl_wal_mode_parse(const char *s)
{
	for (unsigned i = 0; i < 3; i++)
		if (strcmp(s, sl_wal_mode_name(i)) == 0)
			return (int)i;
	return -EINVAL;
}

/* ---- segments and their sparse index ---------------------------------------------- */

struct wal_seg *wal_seg_last(struct sl_wal *w)
{
	return w->n_segs ? &w->segs[w->n_segs - 1] : NULL;
}

/* Opens segment first_lsn (SL_WAL_IO_* flags): a handle, or -errno. */
int wal_seg_open(struct sl_wal *w, uint64_t first_lsn, unsigned flags)
{
	char name[SL_WAL_NAME_LEN];

	sl_wal_seg_name(first_lsn, name);
	return w->io->open(w->iop, name, flags);
}

/* How the newest segment is opened for appending in this mode. */
unsigned wal_write_flags(const struct sl_wal *w)
{
	return SL_WAL_IO_WRITE | (w->cfg.mode == SL_WAL_DIRECT ? SL_WAL_IO_DIRECT : 0) |
	       (w->cfg.mode == SL_WAL_DSYNC ? SL_WAL_IO_DSYNC : 0);
}

/* The oldest LSN on disk: the first segment's (recovery refuses a hole before it). */
uint64_t wal_first_lsn(const struct sl_wal *w)
{
	return w->n_segs ? w->segs[0].first_lsn : w->snap_lsn + 1;
}

/* Index of the segment holding lsn, or -1. */
int wal_seg_find(const struct sl_wal *w, uint64_t lsn)
{
	for (uint32_t i = w->n_segs; i-- > 0;) {
		const struct wal_seg *s = &w->segs[i];

		if (s->first_lsn <= lsn)
			return lsn <= s->last_lsn ? (int)i : -1;
	}
	return -1;
}

/* Remembers where lsn starts when it is the first record past an index stride. */
void wal_idx_add(struct sl_wal *w, struct wal_seg *s, uint64_t lsn, uint64_t off)
{
	uint64_t slot = off / w->idx_stride;

	if (s->n_idx == 0 || (slot >= s->n_idx && s->n_idx < WAL_IDX_MAX)) {
		s->idx[s->n_idx++] = (struct wal_idx){ .lsn = lsn, .off = off };
		/* Strides in which no record starts get this entry too (the next record). */
		while (s->n_idx <= slot && s->n_idx < WAL_IDX_MAX)
			s->idx[s->n_idx++] = (struct wal_idx){ .lsn = lsn, .off = off };
	}
}

static const struct wal_idx *wal_idx_floor(const struct wal_seg *s, uint64_t lsn)
{
	const struct wal_idx *best = NULL;

	for (uint32_t i = 0; i < s->n_idx && s->idx[i].lsn <= lsn; i++)
		best = &s->idx[i];
	return best;
}

static void wal_idx_trim(struct wal_seg *s, uint64_t last_lsn)
{
	while (s->n_idx > 0 && s->idx[s->n_idx - 1].lsn > last_lsn)
		s->n_idx--;
}

/*
 * Makes everything from off in segment seg_i, and every later segment, not part of
 * the log. Later segments go first, newest first, so that a crash midway leaves the
 * log a prefix of what it was; then zeros cover [off, zero_end) of seg_i.
 */
int wal_cut(struct sl_wal *w, uint32_t seg_i, uint64_t off, uint64_t zero_end)
{
	int fh, rc = 0;

	while (w->n_segs > seg_i + 1) {
		rc = wal_delete_seg(w, w->n_segs - 1);
		if (rc < 0)
			return rc;
	}
	if (seg_i < w->n_segs && zero_end > off) {
		fh = wal_seg_open(w, w->segs[seg_i].first_lsn, SL_WAL_IO_WRITE);
		if (fh < 0)
			return fh;
		memset(w->scratch, 0, w->scratch_len);
		for (uint64_t at = off; at < zero_end && rc >= 0;) {
			uint64_t n =
				zero_end - at < w->scratch_len ? zero_end - at : w->scratch_len;
			ssize_t done =
				w->io->pwrite(w->iop, fh, w->scratch, n, SL_WAL_HDR_LEN + at);

			rc = done < 0 ? (int)done : 0;
			at += n;
		}
		if (rc >= 0)
			rc = w->io->fsync(w->iop, fh);
		w->io->close(w->iop, fh);
	}
	return rc;
}

/* ---- open, close -------------------------------------------------------------------- */

static int wal_config_check(const struct sl_wal_config *c)
{
	uint64_t rec_max = sl_record_size(SL_REC_F_ORIGIN, c->limits.key_max, c->limits.val_max);

	if (!c->dir || c->mode > SL_WAL_DIRECT || c->queue_records == 0 || c->read_slots == 0 ||
	    c->read_slots > 1024 || c->batch_bytes < rec_max + WAL_ALIGN ||
	    c->batch_bytes % WAL_ALIGN != 0 || c->segment_bytes % WAL_ALIGN != 0 ||
	    c->segment_bytes < SL_WAL_HDR_LEN + 2 * (uint64_t)c->batch_bytes ||
	    c->segment_bytes > (1ull << 40) || c->limits.key_max > UINT16_MAX)
		return -EINVAL;
	return 0;
}

static int wal_alloc(struct sl_wal *w)
{
	const struct sl_wal_config *c = &w->cfg;

	w->idx_stride = (c->segment_bytes - SL_WAL_HDR_LEN + WAL_IDX_MAX - 1) / WAL_IDX_MAX;
	w->segs = calloc(WAL_SEG_MAX, sizeof(*w->segs));
	w->idx_mem = calloc((size_t)WAL_SEG_MAX * WAL_IDX_MAX, sizeof(struct wal_idx));
	w->q_cap = c->queue_records;
	w->q = calloc(w->q_cap, sizeof(*w->q));
	w->iov = calloc(WAL_WRITES_MAX * WAL_IOV_PER_WRITE, sizeof(*w->iov));
	w->reads = calloc(c->read_slots, sizeof(*w->reads));
	w->scratch_len = c->segment_bytes - SL_WAL_HDR_LEN;
	w->scratch = aligned_alloc(WAL_ALIGN, w->scratch_len);
	w->staging = aligned_alloc(WAL_ALIGN, c->batch_bytes + WAL_ALIGN);
	w->tail_block = aligned_alloc(WAL_ALIGN, WAL_ALIGN);
	if (!w->segs || !w->idx_mem || !w->q || !w->iov || !w->reads || !w->scratch ||
	    !w->staging || !w->tail_block)
		return -ENOMEM;
	memset(w->tail_block, 0, WAL_ALIGN);
	for (uint32_t i = 0; i < WAL_SEG_MAX; i++)
		w->segs[i].idx = w->idx_mem + (size_t)i * WAL_IDX_MAX;
	w->write_fh = -1;
	w->staging_buf = -1;
	return 0;
}

/* O_DIRECT refused by the file system (tmpfs) is said at open, not at the first write. */
static int wal_probe_direct(struct sl_wal *w)
{
	int fh = w->io->open(w->iop, WAL_TMP_SEG,
			     SL_WAL_IO_CREATE | SL_WAL_IO_WRITE | SL_WAL_IO_DIRECT);

	if (fh < 0)
		return fh;
	w->io->close(w->iop, fh);
	return w->io->unlink(w->iop, WAL_TMP_SEG);
}

static void wal_free(struct sl_wal *w)
{
	if (w->iop)
		w->io->destroy(w->iop);
	free(w->segs);
	free(w->idx_mem);
	free(w->q);
	free(w->iov);
	free(w->reads);
	free(w->scratch);
	free(w->staging);
	free(w->tail_block);
	free(w);
}

int sl_wal_open(const struct sl_wal_config *cfg, struct sl_wal **out, struct sl_wal_recovery *rep)
{
	struct sl_wal *w;
	int rc = wal_config_check(cfg);

	if (rc < 0)
		return rc;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	/* A backend given in cfg is the WAL's from here on, whatever happens next. */
	w->io = cfg->io ? cfg->io : &sl_wal_uring_ops;
	w->iop = cfg->io ? cfg->io_arg : NULL;
	rc = wal_alloc(w);
	if (rc < 0)
		goto out_free;
	if (!cfg->io) {
		/* The ring holds the largest chain (writes + sync) and every read at once. */
		rc = sl_wal_uring_create(cfg->dir, 64 + cfg->read_slots, 64, &w->iop);
		if (rc < 0)
			goto out_free;
	}
	if (cfg->mode == SL_WAL_DIRECT && w->io->register_buf) {
		w->staging_buf =
			w->io->register_buf(w->iop, w->staging, cfg->batch_bytes + WAL_ALIGN);
		if (w->staging_buf < 0)
			w->staging_buf = -1; /* plain O_DIRECT writes still work */
	}
	rc = wal_recover(w, rep);
	if (rc == 0 && cfg->mode == SL_WAL_DIRECT && w->write_fh < 0)
		rc = wal_probe_direct(w);
	if (rc < 0)
		goto out_free;
	*out = w;
	return 0;

out_free:
	wal_free(w);
	return rc;
}

/* Hands back every queued record below queue index to, each exactly once. */
static void wal_release_upto(struct sl_wal *w, uint64_t to)
{
	for (; w->q_rel < to; w->q_rel++)
		if (w->cfg.release)
			w->cfg.release(w->cfg.arg, w->q[w->q_rel % w->q_cap].handle);
}

void sl_wal_close(struct sl_wal *w)
{
	if (!w)
		return;
	/* A failed WAL waits for nothing: its batch may never have reached the kernel. */
	while (w->batch.active && !w->failed && sl_wal_poll(w, true) >= 0)
		;
	for (uint32_t i = 0; i < w->cfg.read_slots; i++)
		while (w->reads[i].busy && sl_wal_poll(w, true) >= 0)
			;
	if (!w->failed && w->commit_hint > w->meta.commit_hint) {
		w->meta.commit_hint = w->commit_hint;
		wal_meta_store(w);
	}
	/* Records still queued were never written; their bytes go back all the same. */
	wal_release_upto(w, w->q_tail);
	if (w->write_fh >= 0)
		w->io->close(w->iop, w->write_fh);
	for (uint32_t i = 0; i < w->n_segs; i++)
		if (w->segs[i].read_fh >= 0)
			w->io->close(w->iop, w->segs[i].read_fh);
	wal_free(w);
}

/* ---- append ------------------------------------------------------------------------ */

int sl_wal_append(struct sl_wal *w, const struct sl_rec_ref *recs, uint32_t n, uint64_t commit_hint)
{
	uint64_t expect = w->last_lsn + 1;

	if (w->failed)
		return w->failed;
	if (w->q_tail - w->q_head + n > w->q_cap) {
		w->st.append_full++;
		return -EAGAIN;
	}
	/* Check everything before queueing anything: a refused call changes nothing. */
	for (uint32_t i = 0; i < n; i++) {
		struct sl_record_hdr h;

		if (recs[i].len < SL_REC_HDR_LEN || recs[i].len % SL_REC_ALIGN != 0 ||
		    recs[i].len > w->cfg.batch_bytes - WAL_ALIGN)
			return -EINVAL;
		memcpy(&h, recs[i].data, sizeof(h));
		if (h.lsn != expect + i)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct wal_qrec *q = &w->q[w->q_tail++ % w->q_cap];
		struct sl_record_hdr h;

		memcpy(&h, recs[i].data, sizeof(h));
		wal_lhist_note(w, h.epoch, h.lsn);
		*q = (struct wal_qrec){ .data = recs[i].data,
					.len = recs[i].len,
					.epoch = h.epoch,
					.lsn = h.lsn,
					.handle = recs[i].handle };
		w->last_epoch = h.epoch;
	}
	w->last_lsn += n;
	w->st.appended_records += n;
	if (commit_hint > w->commit_hint)
		w->commit_hint = commit_hint;
	return 0;
}

/* ---- group commit ------------------------------------------------------------------- */

static int wal_fail(struct sl_wal *w, int err)
{
	if (!w->failed) {
		w->failed = err < 0 ? err : -EIO;
		w->st.write_errors++;
	}
	return w->failed;
}

/*
 * A new segment for the records from first_lsn: created under a temporary name,
 * preallocated, its header written and synced, then renamed and the directory synced,
 * so that a segment under its final name always has a durable header.
 */
static int wal_rollover(struct sl_wal *w, uint64_t first_lsn)
{
	struct sl_wal_seg_hdr h = { .magic = SL_WAL_MAGIC,
				    .first_lsn = first_lsn,
				    .size = w->cfg.segment_bytes,
				    .cluster_id = w->cfg.cluster_id,
				    .node_id = w->cfg.node_id };
	char name[SL_WAL_NAME_LEN];
	struct wal_seg *s;
	int fh, rc;

	if (w->n_segs == WAL_SEG_MAX)
		return -ENOSPC;
	w->io->unlink(w->iop, WAL_TMP_SEG);
	fh = w->io->open(w->iop, WAL_TMP_SEG, SL_WAL_IO_CREATE | wal_write_flags(w));
	if (fh < 0)
		return fh;
	sl_wal_seg_hdr_write(w->tail_block, &h);
	rc = w->io->prealloc(w->iop, fh, w->cfg.segment_bytes);
	if (rc == 0) {
		ssize_t n = w->io->pwrite(w->iop, fh, w->tail_block, SL_WAL_HDR_LEN, 0);

		rc = n < 0 ? (int)n : 0;
	}
	memset(w->tail_block, 0, WAL_ALIGN);
	sl_wal_seg_name(first_lsn, name);
	if (rc == 0)
		rc = w->io->fsync(w->iop, fh);
	if (rc == 0)
		rc = w->io->rename(w->iop, WAL_TMP_SEG, name);
	if (rc == 0)
		rc = w->io->sync_dir(w->iop);
	if (rc < 0) {
		w->io->close(w->iop, fh);
		return rc;
	}
	if (w->write_fh >= 0)
		w->io->close(w->iop, w->write_fh);
	w->write_fh = fh;
	s = &w->segs[w->n_segs++];
	s->first_lsn = first_lsn;
	s->last_lsn = first_lsn - 1;
	s->end_off = 0;
	s->read_fh = -1;
	s->n_idx = 0;
	w->seg_full = false;
	w->st.rollovers++;
	return 0;
}

/* Records from q_sub that fit the batch and the segment: their count and bytes. */
static uint32_t wal_batch_take(struct sl_wal *w, const struct wal_seg *s, uint64_t *bytes)
{
	uint64_t room = w->cfg.segment_bytes - SL_WAL_HDR_LEN - s->end_off;
	uint64_t cap = w->cfg.batch_bytes - WAL_ALIGN; /* O_DIRECT rewrites the tail block */
	uint32_t n = 0, iov = 0;
	const uint8_t *prev_end = NULL;

	*bytes = 0;
	for (uint64_t i = w->q_sub; i < w->q_tail; i++) {
		const struct wal_qrec *q = &w->q[i % w->q_cap];

		if (*bytes + q->len > room || *bytes + q->len > cap)
			break;
		if (q->data != prev_end && w->cfg.mode != SL_WAL_DIRECT) {
			if (iov == WAL_WRITES_MAX * WAL_IOV_PER_WRITE)
				break;
			iov++;
		}
		prev_end = q->data + q->len;
		*bytes += q->len;
		n++;
	}
	return n;
}

/* Buffered and O_DSYNC: iovecs straight over the caller's records, contiguous ones merged. */
static void wal_batch_iov(struct sl_wal *w, struct wal_seg *s, uint32_t n)
{
	struct wal_batch *b = &w->batch;
	uint64_t off = s->end_off;
	uint32_t n_iov = 0;

	b->n_ops = 0;
	for (uint32_t k = 0; k < n; k++) {
		const struct wal_qrec *q = &w->q[(w->q_sub + k) % w->q_cap];
		struct iovec *last = n_iov ? &w->iov[n_iov - 1] : NULL;

		wal_idx_add(w, s, q->lsn, off);
		off += q->len;
		if (last && (uint8_t *)last->iov_base + last->iov_len == q->data) {
			last->iov_len += q->len;
			b->ops[b->n_ops - 1].left += q->len;
			continue;
		}
		if (b->n_ops == 0 || n_iov - b->ops[b->n_ops - 1].iov_first == WAL_IOV_PER_WRITE) {
			b->ops[b->n_ops] = (struct wal_wop){
				.iov_first = n_iov,
				.off = SL_WAL_HDR_LEN + off - q->len,
			};
			b->n_ops++;
		}
		w->iov[n_iov++] = (struct iovec){ .iov_base = q->data, .iov_len = q->len };
		b->ops[b->n_ops - 1].n_iov++;
		b->ops[b->n_ops - 1].left += q->len;
	}
}

/*
 * O_DIRECT: records are copied behind the partial block the segment ends with, and the
 * whole run is written from that block's start, padded with zeros to a block. The
 * block's old bytes are rewritten unchanged, so a torn sector keeps them either way.
 */
static void wal_batch_staging(struct sl_wal *w, struct wal_seg *s, uint32_t n)
{
	struct wal_batch *b = &w->batch;
	uint64_t start = s->end_off & ~(uint64_t)(WAL_ALIGN - 1);
	uint64_t head = s->end_off - start, len = head, off = s->end_off;

	memcpy(w->staging, w->tail_block, head);
	for (uint32_t k = 0; k < n; k++) {
		const struct wal_qrec *q = &w->q[(w->q_sub + k) % w->q_cap];

		wal_idx_add(w, s, q->lsn, off);
		memcpy(w->staging + len, q->data, q->len);
		len += q->len;
		off += q->len;
	}
	w->st.bytes_copied += len - head;
	len = (len + WAL_ALIGN - 1) & ~(uint64_t)(WAL_ALIGN - 1);
	memset(w->staging + (off - start), 0, len - (off - start));
	w->iov[0] = (struct iovec){ .iov_base = w->staging, .iov_len = len };
	b->ops[0] = (struct wal_wop){
		.iov_first = 0, .n_iov = 1, .off = SL_WAL_HDR_LEN + start, .left = len
	};
	b->n_ops = 1;
	/* The caller's bytes are no longer needed once copied. */
	wal_release_upto(w, w->q_sub + n);
}

/* Queues the writes of the batch not yet complete, linked, and the sync after them. */
static int wal_batch_issue(struct sl_wal *w)
{
	struct wal_batch *b = &w->batch;
	bool sync = w->cfg.mode != SL_WAL_DSYNC;
	int rc = 0;

	for (uint32_t i = 0; i < b->n_ops && rc == 0; i++) {
		struct wal_wop *op = &b->ops[i];
		bool more = sync;

		if (op->done)
			continue;
		for (uint32_t j = i + 1; j < b->n_ops; j++)
			more |= !b->ops[j].done;
		rc = w->io->write(w->iop, w->write_fh, op->off, &w->iov[op->iov_first], op->n_iov,
				  w->cfg.mode == SL_WAL_DIRECT ? w->staging_buf : -1, more,
				  TAG(TAG_WRITE, i));
		b->ops_out += rc == 0;
	}
	if (rc == 0 && sync) {
		rc = w->io->datasync(w->iop, w->write_fh, false, TAG(TAG_SYNC, 0));
		b->ops_out += rc == 0;
		w->st.syncs += rc == 0;
	}
	b->synced = false;
	if (rc == 0)
		rc = w->io->submit(w->iop);
	return rc < 0 ? rc : 0;
}

int sl_wal_submit(struct sl_wal *w)
{
	struct wal_batch *b = &w->batch;
	struct wal_seg *s = wal_seg_last(w);
	uint64_t bytes;
	uint32_t n;
	int rc;

	if (w->failed)
		return w->failed;
	if (b->active || w->q_sub == w->q_tail)
		return 0;
	n = s && !w->seg_full ? wal_batch_take(w, s, &bytes) : 0;
	if (n == 0) {
		rc = wal_rollover(w, w->q[w->q_sub % w->q_cap].lsn);
		if (rc < 0)
			return wal_fail(w, rc);
		s = wal_seg_last(w);
		n = wal_batch_take(w, s, &bytes);
		assert(n > 0);
	}
	memset(b, 0, sizeof(*b));
	b->active = true;
	b->n_recs = n;
	b->last_lsn = w->q[(w->q_sub + n - 1) % w->q_cap].lsn;
	b->last_epoch = w->q[(w->q_sub + n - 1) % w->q_cap].epoch;
	b->end_off = s->end_off + bytes;
	if (w->cfg.mode == SL_WAL_DIRECT)
		wal_batch_staging(w, s, n);
	else
		wal_batch_iov(w, s, n);
	w->q_sub += n;
	rc = wal_batch_issue(w);
	if (rc < 0) {
		b->active = false; /* nothing of it is to be waited for */
		return wal_fail(w, rc);
	}
	w->st.batches++;
	w->st.batch_records += n;
	w->st.bytes_written += bytes;
	return (int)n;
}

/* The batch is durable: the segment grows, flushed_lsn moves, the bytes go back. */
static void wal_batch_done(struct sl_wal *w)
{
	struct wal_batch *b = &w->batch;
	struct wal_seg *s = wal_seg_last(w);

	if (w->cfg.mode == SL_WAL_DIRECT) {
		uint64_t start = s->end_off & ~(uint64_t)(WAL_ALIGN - 1);
		uint64_t tail = b->end_off & ~(uint64_t)(WAL_ALIGN - 1);

		memcpy(w->tail_block, w->staging + (tail - start), WAL_ALIGN);
	} else {
		wal_release_upto(w, w->q_head + b->n_recs);
	}
	s->end_off = b->end_off;
	s->last_lsn = b->last_lsn;
	w->q_head += b->n_recs;
	w->flushed_lsn = b->last_lsn;
	w->flushed_epoch = b->last_epoch;
	b->active = false;
}

/* A write came back: done, short (the rest goes again), cancelled by a link, or failed. */
static void wal_on_write(struct sl_wal *w, uint32_t i, int32_t res)
{
	struct wal_batch *b = &w->batch;
	struct wal_wop *op = &b->ops[i];
	uint64_t n = res > 0 ? (uint64_t)res : 0;

	if (res == -ECANCELED)
		return;
	if (res < 0) {
		b->err = res;
		return;
	}
	if (n >= op->left) {
		op->left = 0;
		op->done = true;
		return;
	}
	w->st.short_writes++;
	if (w->cfg.mode == SL_WAL_DIRECT) {
		/* The rest would start unaligned, which O_DIRECT refuses: fail honestly. */
		b->err = -EIO;
		return;
	}
	/* Short: drop what was written from the front of this write's iovecs. */
	b->shorts++;
	op->off += n;
	op->left -= n;
	while (n > 0) {
		struct iovec *v = &w->iov[op->iov_first];
		uint64_t k = n < v->iov_len ? n : v->iov_len;

		v->iov_base = (uint8_t *)v->iov_base + k;
		v->iov_len -= k;
		n -= k;
		if (v->iov_len == 0) {
			op->iov_first++;
			op->n_iov--;
		}
	}
}

static void wal_on_batch_cqe(struct sl_wal *w, uint64_t kind, uint32_t i, int32_t res)
{
	struct wal_batch *b = &w->batch;
	bool all_done = true;

	if (w->cfg.fault)
		res = w->cfg.fault(w->cfg.arg, kind == TAG_WRITE ? SL_WAL_OP_WRITE : SL_WAL_OP_SYNC,
				   res);
	if (kind == TAG_WRITE)
		wal_on_write(w, i, res);
	else if (res < 0 && res != -ECANCELED)
		b->err = res;
	else if (res >= 0)
		b->synced = true;
	if (--b->ops_out > 0)
		return;
	for (uint32_t k = 0; k < b->n_ops; k++)
		all_done &= b->ops[k].done;
	if (b->err) {
		wal_fail(w, b->err);
		b->active = false;
	} else if (all_done && (b->synced || w->cfg.mode == SL_WAL_DSYNC)) {
		wal_batch_done(w);
	} else if (b->shorts > WAL_SHORT_MAX || wal_batch_issue(w) < 0) {
		wal_fail(w, -EIO);
		b->active = false;
	}
}

static void wal_on_read(struct sl_wal *w, uint32_t slot, int32_t res);

int sl_wal_poll(struct sl_wal *w, bool wait)
{
	struct sl_wal_cqe cqe[WAL_CQE_BATCH];
	uint64_t before = w->flushed_lsn;
	int n = w->io->reap(w->iop, cqe, WAL_CQE_BATCH, wait);

	if (n < 0 && n != -EINTR && n != -EAGAIN)
		return wal_fail(w, n);
	for (int i = 0; i < n; i++) {
		uint64_t kind = cqe[i].tag >> TAG_KIND_SHIFT;
		uint32_t idx = (uint32_t)cqe[i].tag;

		if (kind == TAG_READ)
			wal_on_read(w, idx, cqe[i].res);
		else if (w->batch.active)
			wal_on_batch_cqe(w, kind, idx, cqe[i].res);
	}
	if (w->failed)
		return w->failed;
	return w->flushed_lsn != before;
}

uint64_t sl_wal_flushed_lsn(const struct sl_wal *w, uint32_t *epoch)
{
	if (epoch)
		*epoch = w->flushed_epoch;
	return w->flushed_lsn;
}

/* ---- truncation ---------------------------------------------------------------------- */

struct cut_find {
	uint64_t want; /* LSN whose record starts the cut */
	uint64_t off;
	bool found;
};

static int cut_find_fn(void *arg, uint64_t off, const struct sl_record_view *r)
{
	struct cut_find *f = arg;

	if (r->hdr.lsn == f->want) {
		f->off = off;
		f->found = true;
		return 1;
	}
	return 0;
}

/* Offset of record lsn in segment i. */
static int wal_locate(struct sl_wal *w, uint32_t i, uint64_t lsn, uint64_t *off)
{
	struct wal_seg *s = &w->segs[i];
	const struct wal_idx *ix = wal_idx_floor(s, lsn);
	uint64_t from = ix ? ix->off : 0, start = ix ? ix->lsn : s->first_lsn;
	struct cut_find f = { .want = lsn };
	struct sl_wal_scan sc;
	ssize_t got;
	int fh;

	fh = wal_seg_open(w, s->first_lsn, 0);
	if (fh < 0)
		return fh;
	got = w->io->pread(w->iop, fh, w->scratch, s->end_off - from, SL_WAL_HDR_LEN + from);
	w->io->close(w->iop, fh);
	if (got < 0)
		return (int)got;
	sl_wal_scan(w->scratch, (size_t)got, start, &w->cfg.limits, cut_find_fn, &f, &sc);
	if (!f.found)
		return -EUCLEAN;
	*off = from + f.off;
	return 0;
}

/* Waits for the batch in flight and for every read, before the log changes under them. */
static int wal_quiesce(struct sl_wal *w)
{
	int rc;

	while (w->batch.active)
		if ((rc = sl_wal_poll(w, true)) < 0)
			return rc;
	/* Reads answer from the log as it was when they were asked; none may see the change. */
	for (uint32_t i = 0; i < w->cfg.read_slots; i++)
		while (w->reads[i].busy)
			if ((rc = sl_wal_poll(w, true)) < 0)
				return rc;
	return 0;
}

/* Drops queued records past after_lsn and hands their bytes back. */
static void wal_drop_queued(struct sl_wal *w, uint64_t after_lsn)
{
	while (w->q_tail > w->q_sub && w->q[(w->q_tail - 1) % w->q_cap].lsn > after_lsn) {
		w->q_tail--;
		if (w->cfg.release)
			w->cfg.release(w->cfg.arg, w->q[w->q_tail % w->q_cap].handle);
	}
}

static int wal_truncate_disk(struct sl_wal *w, uint64_t after_lsn)
{
	int i = wal_seg_find(w, after_lsn + 1);
	uint64_t off = 0;
	int rc;

	if (i < 0)
		return 0;
	if (after_lsn + 1 > w->segs[i].first_lsn) {
		rc = wal_locate(w, (uint32_t)i, after_lsn + 1, &off);
		if (rc < 0)
			return rc;
	}
	rc = wal_cut(w, (uint32_t)i, off, w->segs[i].end_off);
	if (rc < 0)
		return rc;
	w->segs[i].end_off = off;
	w->segs[i].last_lsn = after_lsn;
	wal_idx_trim(&w->segs[i], after_lsn);
	/* Appends continue in segment i (emptied or not) at after_lsn + 1. */
	return wal_open_write_seg(w);
}

/* The epoch of the record at lsn, from the log's own history. */
static uint32_t wal_epoch_at(const struct sl_wal *w, uint64_t lsn)
{
	uint32_t e = lsn <= w->snap_lsn ? w->snap_epoch : 0;

	for (unsigned i = 0; i < w->n_lhist; i++)
		if (w->lhist[i].first_lsn <= lsn)
			e = w->lhist[i].epoch;
	return e;
}

/* Notes where an epoch's records start; the oldest entry goes when the table is full. */
void wal_lhist_note(struct sl_wal *w, uint32_t epoch, uint64_t lsn)
{
	if (w->n_lhist > 0 && w->lhist[w->n_lhist - 1].epoch >= epoch)
		return;
	if (w->n_lhist == SL_EPOCH_HIST_MAX) {
		memmove(w->lhist, w->lhist + 1, sizeof(w->lhist[0]) * (SL_EPOCH_HIST_MAX - 1));
		w->n_lhist--;
	}
	w->lhist[w->n_lhist++] = (struct sl_epoch_start){ .epoch = epoch, .first_lsn = lsn };
}

static void wal_lhist_trim(struct sl_wal *w, uint64_t last_lsn)
{
	while (w->n_lhist > 0 && w->lhist[w->n_lhist - 1].first_lsn > last_lsn)
		w->n_lhist--;
}

int sl_wal_truncate(struct sl_wal *w, uint64_t after_lsn)
{
	int rc;

	if (w->failed)
		return w->failed;
	if (after_lsn >= w->last_lsn)
		return 0;
	if (after_lsn < w->snap_lsn)
		return -EINVAL; /* below the snapshot: that state is committed */
	if ((rc = wal_quiesce(w)) < 0)
		return rc;
	wal_drop_queued(w, after_lsn);
	if (w->commit_hint > after_lsn)
		w->commit_hint = after_lsn;
	if (w->meta.commit_hint > after_lsn)
		w->meta.commit_hint = after_lsn;
	if (after_lsn < w->flushed_lsn) {
		/* Redone at open if a crash cuts this short (DESIGN.md §5). */
		w->meta.trunc_lsn = after_lsn;
		rc = wal_meta_store(w);
		if (rc == 0)
			rc = wal_truncate_disk(w, after_lsn);
		if (rc == 0) {
			w->meta.trunc_lsn = 0;
			rc = wal_meta_store(w);
		}
		if (rc < 0)
			return wal_fail(w, rc);
		w->flushed_lsn = after_lsn;
	}
	wal_lhist_trim(w, after_lsn);
	w->flushed_epoch = w->flushed_lsn ? wal_epoch_at(w, w->flushed_lsn) : 0;
	w->last_lsn = after_lsn;
	w->last_epoch = after_lsn ? wal_epoch_at(w, after_lsn) : 0;
	w->st.truncations++;
	return 0;
}

/* ---- install ----------------------------------------------------------------------- */

int sl_wal_install(struct sl_wal *w, uint64_t lsn, uint32_t epoch, const struct iovec *iov,
		   unsigned n)
{
	int rc;

	if (w->failed)
		return w->failed;
	if (lsn == 0 || n > 16)
		return -EINVAL;
	if ((rc = wal_quiesce(w)) < 0)
		return rc;
	assert(w->q_head == w->q_sub && w->q_rel <= w->q_sub);
	/* Queued records continue the old log: they are never written, whatever follows. */
	wal_release_upto(w, w->q_tail);
	w->q_head = w->q_sub = w->q_tail;
	rc = wal_install_files(w, lsn, epoch, iov, n);
	if (rc < 0)
		return wal_fail(w, rc); /* memory and disk may disagree now: stop (DESIGN.md §5) */
	assert(w->n_segs == 0 && w->write_fh < 0);
	w->snap_lsn = lsn;
	w->snap_epoch = epoch;
	w->last_lsn = w->flushed_lsn = lsn;
	w->last_epoch = w->flushed_epoch = epoch;
	w->commit_hint = lsn; /* the leader's snapshot holds committed state only */
	/* Of epochs, the log now knows only that record lsn has this one. */
	w->lhist[0] = (struct sl_epoch_start){ .epoch = epoch, .first_lsn = lsn };
	w->n_lhist = 1;
	w->seg_full = true; /* lsn + 1 starts a segment of its own */
	w->st.snapshots++;
	w->st.installs++;
	return 0;
}

/* ---- catch-up reads -------------------------------------------------------------------- */

/*
 * At most WAL_READ_FH_MAX segments stay open for reads: registered file slots are few
 * and rollover, metadata and snapshots need them too. One that no read in flight uses
 * is closed to make room.
 */
static void wal_read_fh_make_room(struct sl_wal *w)
{
	uint32_t open = 0;

	for (uint32_t i = 0; i < w->n_segs; i++)
		open += w->segs[i].read_fh >= 0;
	for (uint32_t i = 0; i < w->n_segs && open >= WAL_READ_FH_MAX; i++) {
		struct wal_seg *s = &w->segs[i];
		bool used = false;

		for (uint32_t k = 0; k < w->cfg.read_slots && !used; k++)
			used = w->reads[k].busy && w->reads[k].first_lsn == s->first_lsn;
		if (s->read_fh >= 0 && !used) {
			w->io->close(w->iop, s->read_fh);
			s->read_fh = -1;
			open--;
		}
	}
}

static int wal_read_issue(struct sl_wal *w, uint32_t slot)
{
	struct wal_read *r = &w->reads[slot];
	int i = wal_seg_find(w, r->at_lsn);
	struct wal_seg *s;
	uint64_t len;
	int rc;

	if (i < 0)
		return -ENOENT;
	s = &w->segs[i];
	if (s->read_fh < 0) {
		wal_read_fh_make_room(w);
		s->read_fh = wal_seg_open(w, s->first_lsn, 0);
		if (s->read_fh < 0) {
			rc = s->read_fh;
			s->read_fh = -1;
			return rc;
		}
	}
	len = s->end_off - r->off < r->cap ? s->end_off - r->off : r->cap;
	r->first_lsn = s->first_lsn;
	rc = w->io->read(w->iop, s->read_fh, SL_WAL_HDR_LEN + r->off, r->buf, (uint32_t)len,
			 TAG(TAG_READ, slot));
	if (rc == 0)
		rc = w->io->submit(w->iop);
	return rc < 0 ? rc : 0;
}

int sl_wal_read(struct sl_wal *w, uint64_t from, uint64_t to, void *buf, uint32_t cap, uint64_t tag)
{
	uint64_t oldest = wal_first_lsn(w);
	const struct wal_idx *ix;
	struct wal_read *r = NULL;
	int i, rc;

	if (w->failed)
		return w->failed;
	if (from == 0 || to < from)
		return -EINVAL;
	if (from < oldest) {
		w->st.read_below_retention++;
		return -ENOENT;
	}
	if (from > w->flushed_lsn)
		return -EAGAIN;
	for (uint32_t k = 0; k < w->cfg.read_slots && !r; k++)
		if (!w->reads[k].busy)
			r = &w->reads[k];
	if (!r)
		return -EBUSY;
	i = wal_seg_find(w, from);
	if (i < 0)
		return -ENOENT;
	ix = wal_idx_floor(&w->segs[i], from);
	*r = (struct wal_read){ .busy = true,
				.tag = tag,
				.buf = buf,
				.cap = cap,
				.off = ix ? ix->off : 0,
				.at_lsn = ix ? ix->lsn : w->segs[i].first_lsn,
				.from = from,
				.to = to < w->flushed_lsn ? to : w->flushed_lsn };
	rc = wal_read_issue(w, (uint32_t)(r - w->reads));
	if (rc < 0) {
		r->busy = false;
		return rc;
	}
	w->st.reads++;
	return 0;
}

static void wal_read_finish(struct sl_wal *w, struct wal_read *r, int status, const uint8_t *p,
			    uint32_t len, uint64_t first, uint32_t n)
{
	r->busy = false;
	if (status < 0)
		w->st.read_errors++;
	if (w->cfg.on_read)
		w->cfg.on_read(w->cfg.arg, r->tag, status, p, len, first, n);
}

/* Walks the bytes read from at_lsn: skips to from, keeps whole records up to to. */
static void wal_on_read(struct sl_wal *w, uint32_t slot, int32_t res)
{
	struct wal_read *r = &w->reads[slot];
	uint64_t lsn = r->at_lsn, off = 0, keep_off = 0;
	uint32_t n = 0;

	if (w->cfg.fault)
		res = w->cfg.fault(w->cfg.arg, SL_WAL_OP_READ, res);
	if (res < 0) {
		wal_read_finish(w, r, res, NULL, 0, 0, 0);
		return;
	}
	while (off + SL_REC_HDR_LEN <= (uint64_t)res && lsn <= r->to) {
		struct sl_record_view v;

		if (sl_record_decode(r->buf + off, (size_t)res - off, &w->cfg.limits, 1, &v) !=
		    SL_OK)
			break; /* damaged, or cut off by the end of the read */
		if (v.hdr.lsn != lsn) {
			res = -EUCLEAN;
			break;
		}
		if (lsn == r->from)
			keep_off = off;
		n += lsn >= r->from;
		off += v.total_len;
		lsn++;
	}
	if (n > 0) {
		wal_read_finish(w, r, 0, r->buf + keep_off, (uint32_t)(off - keep_off), r->from, n);
		return;
	}
	if (res >= 0 && off == 0 && (uint32_t)res == r->cap) {
		/* Not even one whole record fits the caller's buffer. */
		wal_read_finish(w, r, -EMSGSIZE, NULL, 0, 0, 0);
		return;
	}
	if (res >= 0 && off > 0 && lsn <= r->from &&
	    ++r->hops <= w->idx_stride / r->cap + WAL_READ_HOPS_MAX) {
		/* Not there yet: read on from the last whole record. */
		r->off += off;
		r->at_lsn = lsn;
		if (wal_read_issue(w, slot) == 0)
			return;
	}
	wal_read_finish(w, r, res < 0 ? res : -EUCLEAN, NULL, 0, 0, 0);
}

/* ---- status ------------------------------------------------------------------------------ */

void sl_wal_status(const struct sl_wal *w, struct sl_wal_status *st)
{
	memset(st, 0, sizeof(*st));
	st->first_lsn = wal_first_lsn(w);
	st->last_lsn = w->last_lsn;
	st->flushed_lsn = w->flushed_lsn;
	st->flushed_epoch = w->flushed_epoch;
	st->snapshot_lsn = w->snap_lsn;
	st->bytes = (uint64_t)w->n_segs * w->cfg.segment_bytes;
	st->segments = w->n_segs;
	st->queued = (uint32_t)(w->q_tail - w->q_head);
	st->in_flight = w->batch.active;
	st->failed = w->failed;
	st->fixed_buf = w->staging_buf >= 0;
	st->refetch_lsn = w->meta.refetch_lsn;
}

void sl_wal_stats(const struct sl_wal *w, struct sl_wal_stats *st)
{
	*st = w->st;
}
