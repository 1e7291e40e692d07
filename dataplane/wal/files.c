/* WAL files other than the log itself: metadata, snapshots, segment deletion, retention. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/crc32c.h>

#include "wal_internal.h"

/*
 * Replaces file name with bytes iov[0..n) atomically (DESIGN.md §5): written under
 * tmp, synced, renamed over name, and the directory synced. After a crash, name holds
 * the old contents or the new, never a mix.
 */
static int wal_replace(struct sl_wal *w, const char *tmp, const char *name, const struct iovec *iov,
		       unsigned n)
{
	uint64_t off = 0;
	int fh, rc = 0;

	w->io->unlink(w->iop, tmp);
	fh = w->io->open(w->iop, tmp, SL_WAL_IO_CREATE | SL_WAL_IO_WRITE);
	if (fh < 0)
		return fh;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		ssize_t k = w->io->pwrite(w->iop, fh, iov[i].iov_base, iov[i].iov_len, off);

		rc = k < 0 ? (int)k : 0;
		off += iov[i].iov_len;
	}
	if (rc == 0)
		rc = w->io->fsync(w->iop, fh);
	w->io->close(w->iop, fh);
	if (rc == 0)
		rc = w->io->rename(w->iop, tmp, name);
	if (rc == 0)
		rc = w->io->sync_dir(w->iop);
	if (rc < 0)
		w->io->unlink(w->iop, tmp);
	return rc;
}

int wal_meta_store(struct sl_wal *w)
{
	uint8_t buf[SL_WAL_META_LEN];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	int rc;

	w->meta.cluster_id = w->cfg.cluster_id;
	w->meta.node_id = w->cfg.node_id;
	sl_wal_meta_write(buf, &w->meta);
	rc = wal_replace(w, WAL_TMP_META, SL_WAL_META_NAME, &iov, 1);
	w->st.meta_writes += rc == 0;
	return rc;
}

/* 0 with *found set, or -EUCLEAN for a metadata file that is damaged or not ours. */
int wal_meta_load(struct sl_wal *w, bool *found)
{
	uint8_t buf[SL_WAL_META_LEN];
	int fh = w->io->open(w->iop, SL_WAL_META_NAME, 0);
	ssize_t n;

	*found = false;
	if (fh == -ENOENT)
		return 0;
	if (fh < 0)
		return fh;
	n = w->io->pread(w->iop, fh, buf, sizeof(buf), 0);
	w->io->close(w->iop, fh);
	if (n < 0)
		return (int)n;
	if (sl_wal_meta_read(buf, (size_t)n, &w->meta) != 0 ||
	    w->meta.cluster_id != w->cfg.cluster_id || w->meta.node_id != w->cfg.node_id)
		return -EUCLEAN;
	*found = true;
	return 0;
}

int sl_wal_save_meta(struct sl_wal *w, uint32_t epoch, const struct sl_epoch_start *hist,
		     uint8_t n_hist)
{
	struct sl_wal_meta keep = w->meta;
	int rc;

	if (n_hist > SL_EPOCH_HIST_MAX || epoch < w->meta.epoch)
		return -EINVAL;
	w->meta.epoch = epoch;
	w->meta.n_hist = n_hist;
	memcpy(w->meta.hist, hist, n_hist * sizeof(*hist));
	if (w->commit_hint > w->meta.commit_hint)
		w->meta.commit_hint = w->commit_hint;
	{
		/* What could not be read back is refused, not stored. */
		uint8_t buf[SL_WAL_META_LEN];
		struct sl_wal_meta check;

		sl_wal_meta_write(buf, &w->meta);
		rc = sl_wal_meta_read(buf, sizeof(buf), &check);
	}
	if (rc == 0)
		rc = wal_meta_store(w);
	if (rc < 0)
		w->meta = keep;
	return rc;
}

/* ---- segments ------------------------------------------------------------------------ */

/* Unlinks segment i and forgets it; the directory is synced before returning. */
int wal_delete_seg(struct sl_wal *w, uint32_t i)
{
	struct wal_seg *s = &w->segs[i], *idx_keep;
	char name[SL_WAL_NAME_LEN];
	struct wal_idx *idx = s->idx;
	int rc;

	if (s->read_fh >= 0)
		w->io->close(w->iop, s->read_fh);
	if (i == w->n_segs - 1 && w->write_fh >= 0) {
		w->io->close(w->iop, w->write_fh);
		w->write_fh = -1;
	}
	sl_wal_seg_name(s->first_lsn, name);
	rc = w->io->unlink(w->iop, name);
	if (rc == 0 || rc == -ENOENT)
		rc = w->io->sync_dir(w->iop);
	/* Keep every slot's index storage: the freed one moves to the end. */
	memmove(s, s + 1, (w->n_segs - i - 1) * sizeof(*s));
	w->n_segs--;
	idx_keep = &w->segs[w->n_segs];
	idx_keep->idx = idx;
	w->st.segments_deleted++;
	return rc;
}

/* Opens the newest segment for appending (with the mode's flags). */
int wal_open_write_seg(struct sl_wal *w)
{
	struct wal_seg *s = wal_seg_last(w);

	if (w->write_fh >= 0) {
		w->io->close(w->iop, w->write_fh);
		w->write_fh = -1;
	}
	if (!s)
		return 0;
	w->write_fh = wal_seg_open(w, s->first_lsn, wal_write_flags(w));
	if (w->write_fh < 0) {
		int rc = w->write_fh;

		w->write_fh = -1;
		return rc;
	}
	return w->cfg.mode == SL_WAL_DIRECT ? wal_load_tail_block(w) : 0;
}

/* O_DIRECT: the partial block the newest segment ends with, to write behind. */
int wal_load_tail_block(struct sl_wal *w)
{
	struct wal_seg *s = wal_seg_last(w);
	uint64_t start;
	ssize_t n;

	memset(w->tail_block, 0, WAL_ALIGN);
	if (!s || s->end_off % WAL_ALIGN == 0)
		return 0;
	start = s->end_off & ~(uint64_t)(WAL_ALIGN - 1);
	n = w->io->pread(w->iop, w->write_fh, w->tail_block, WAL_ALIGN, SL_WAL_HDR_LEN + start);
	return n < 0 ? (int)n : 0;
}

/* ---- snapshots ----------------------------------------------------------------------- */

/* Checks a snapshot file: 0 with its header, or -EUCLEAN. */
static int wal_snapshot_check(struct sl_wal *w, uint64_t lsn, struct sl_wal_snap_hdr *h, void *out,
			      size_t cap)
{
	char name[SL_WAL_SNAP_NAME_LEN];
	uint32_t crc = 0;
	uint64_t off;
	int fh, rc = 0;
	ssize_t n;

	sl_wal_snap_name(lsn, name);
	fh = w->io->open(w->iop, name, 0);
	if (fh < 0)
		return fh;
	n = w->io->pread(w->iop, fh, w->scratch, SL_WAL_SNAP_HDR_LEN, 0);
	if (n < 0 || sl_wal_snap_hdr_read(w->scratch, (size_t)n, h) != 0 || h->lsn != lsn ||
	    h->cluster_id != w->cfg.cluster_id || h->node_id != w->cfg.node_id) {
		rc = -EUCLEAN;
		goto out_close;
	}
	if (out && h->payload_len > cap) {
		rc = -ENOSPC;
		goto out_close;
	}
	for (off = 0; off < h->payload_len;) {
		uint64_t k = h->payload_len - off;
		uint8_t *dst = out ? (uint8_t *)out + off : w->scratch;

		if (!out && k > w->scratch_len)
			k = w->scratch_len;
		n = w->io->pread(w->iop, fh, dst, k, SL_WAL_SNAP_HDR_LEN + off);
		if (n <= 0) {
			rc = -EUCLEAN;
			goto out_close;
		}
		crc = sl_crc32c(crc, dst, (size_t)n);
		off += (uint64_t)n;
	}
	if (crc != h->payload_crc)
		rc = -EUCLEAN;
out_close:
	w->io->close(w->iop, fh);
	return rc;
}

/* The newest snapshot that checks out, among lsns[0..n) (ascending). */
int wal_snapshot_find(struct sl_wal *w, uint64_t *lsns, uint32_t n, struct sl_wal_recovery *rep)
{
	for (uint32_t i = n; i-- > 0;) {
		struct sl_wal_snap_hdr h;

		if (wal_snapshot_check(w, lsns[i], &h, NULL, 0) != 0) {
			rep->bad_snapshots++;
			continue;
		}
		w->snap_lsn = h.lsn;
		w->snap_epoch = h.epoch;
		rep->snapshot_lsn = h.lsn;
		rep->snapshot_epoch = h.epoch;
		rep->snapshot_len = h.payload_len;
		return 0;
	}
	return 0;
}

int64_t sl_wal_snapshot_load(struct sl_wal *w, void *buf, size_t cap)
{
	struct sl_wal_snap_hdr h;
	int rc;

	if (w->snap_lsn == 0)
		return -ENOENT;
	rc = wal_snapshot_check(w, w->snap_lsn, &h, buf, cap);
	return rc < 0 ? rc : (int64_t)h.payload_len;
}

struct snap_list {
	uint64_t keep;
	uint64_t old[64];
	uint32_t n;
};

static int snap_list_fn(void *arg, const char *name)
{
	struct snap_list *l = arg;
	uint64_t lsn;

	if (sl_wal_snap_name_parse(name, &lsn) == 0 && lsn != l->keep && l->n < 64)
		l->old[l->n++] = lsn;
	return 0;
}

/* Unlinks every snapshot file but keep's, then syncs the directory: 0 or the first -errno. */
static int wal_snapshots_drop(struct sl_wal *w, uint64_t keep)
{
	struct snap_list old = { .keep = keep };
	char name[SL_WAL_SNAP_NAME_LEN];
	int rc;

	do {
		old.n = 0;
		rc = w->io->list(w->iop, snap_list_fn, &old);
		for (uint32_t i = 0; i < old.n; i++) {
			int k;

			sl_wal_snap_name(old.old[i], name);
			k = w->io->unlink(w->iop, name);
			if (rc == 0 && k < 0 && k != -ENOENT)
				rc = k;
		}
		if (old.n) {
			int k = w->io->sync_dir(w->iop);

			rc = rc < 0 ? rc : k;
		}
	} while (rc == 0 && old.n == 64); /* the list was full: there may be more */
	return rc;
}

/* The header block of a snapshot of the state at lsn, payload iov[0..n), into hdr. */
static void wal_snapshot_hdr(const struct sl_wal *w, uint64_t lsn, uint32_t epoch,
			     const struct iovec *iov, unsigned n, uint8_t hdr[SL_WAL_SNAP_HDR_LEN])
{
	struct sl_wal_snap_hdr h = { .lsn = lsn,
				     .epoch = epoch,
				     .cluster_id = w->cfg.cluster_id,
				     .node_id = w->cfg.node_id };

	for (unsigned i = 0; i < n; i++) {
		h.payload_crc = sl_crc32c(h.payload_crc, iov[i].iov_base, iov[i].iov_len);
		h.payload_len += iov[i].iov_len;
	}
	sl_wal_snap_hdr_write(hdr, &h);
}

/* Installs snapshot file lsn (header block hdr, payload iov[0..n), n <= 16) atomically. */
static int wal_snapshot_write(struct sl_wal *w, uint64_t lsn, uint8_t hdr[SL_WAL_SNAP_HDR_LEN],
			      const struct iovec *iov, unsigned n)
{
	struct iovec all[17];
	char name[SL_WAL_SNAP_NAME_LEN];

	all[0] = (struct iovec){ .iov_base = hdr, .iov_len = SL_WAL_SNAP_HDR_LEN };
	memcpy(all + 1, iov, n * sizeof(*iov));
	sl_wal_snap_name(lsn, name);
	return wal_replace(w, WAL_TMP_SNAP, name, all, n + 1);
}

int sl_wal_snapshot_save(struct sl_wal *w, uint64_t lsn, uint32_t epoch, const struct iovec *iov,
			 unsigned n)
{
	uint8_t hdr[SL_WAL_SNAP_HDR_LEN];
	int rc;

	if (w->failed)
		return w->failed;
	if (lsn == 0 || lsn > w->flushed_lsn || lsn < w->snap_lsn || n > 16)
		return -EINVAL;
	wal_snapshot_hdr(w, lsn, epoch, iov, n, hdr);
	rc = wal_snapshot_write(w, lsn, hdr, iov, n);
	if (rc < 0)
		return rc;
	w->snap_lsn = lsn;
	w->snap_epoch = epoch;
	w->st.snapshots++;
	if (w->commit_hint < lsn)
		w->commit_hint = lsn;
	/* Older snapshots go only once the new one is durable; one left over is harmless
	 * (recovery takes the newest), so a failure here is not the save's. */
	wal_snapshots_drop(w, lsn);
	return 0;
}

/* ---- install ------------------------------------------------------------------------ */

/*
 * The files of sl_wal_install, in an order that recovery can undo or finish at every
 * step (DESIGN.md §5: a crash leaves the old log or the new state, never a mix):
 *  1. the marker WAL_INSTALL, holding the new snapshot's header block, made durable.
 *     Until that snapshot is in place the old log stands: recovery drops the marker.
 *  2. the snapshot itself, atomically (wal_replace). Once its name is durable the
 *     install is decided: recovery sees marker and snapshot agree, and finishes it.
 *  3. wal_install_finish: segments, other snapshots, metadata, the marker last.
 * The old log's segments cannot simply be deleted after the snapshot: recovery would
 * keep those below it, and those above it would continue it as if they were its own.
 */
int wal_install_files(struct sl_wal *w, uint64_t lsn, uint32_t epoch, const struct iovec *iov,
		      unsigned n)
{
	uint8_t hdr[SL_WAL_SNAP_HDR_LEN];
	struct iovec mark = { .iov_base = hdr, .iov_len = sizeof(hdr) };
	int rc;

	wal_snapshot_hdr(w, lsn, epoch, iov, n, hdr);
	rc = wal_replace(w, WAL_TMP_INSTALL, WAL_INSTALL, &mark, 1);
	if (rc == 0)
		rc = wal_snapshot_write(w, lsn, hdr, iov, n);
	if (rc == 0)
		rc = wal_install_finish(w, lsn);
	return rc;
}

/*
 * Recovery found an install's marker: 1 with *lsn when the snapshot it names is in place
 * (the install was decided: finish it), 0 when it is not (never decided: the marker is
 * dropped and the old log stands), or -errno. A marker or a snapshot at its LSN that
 * fails its checks is -EUCLEAN: no crash does that (both are synced before their
 * rename), and guessing either way could lose records the old log acknowledged.
 */
int wal_install_pending(struct sl_wal *w, uint64_t *lsn)
{
	struct sl_wal_snap_hdr m, h;
	int fh = w->io->open(w->iop, WAL_INSTALL, 0), rc;
	ssize_t n;

	if (fh < 0)
		return fh;
	n = w->io->pread(w->iop, fh, w->scratch, SL_WAL_SNAP_HDR_LEN, 0);
	w->io->close(w->iop, fh);
	if (n < 0)
		return (int)n;
	if (sl_wal_snap_hdr_read(w->scratch, (size_t)n, &m) != 0 ||
	    m.cluster_id != w->cfg.cluster_id || m.node_id != w->cfg.node_id)
		return -EUCLEAN;
	rc = wal_snapshot_check(w, m.lsn, &h, NULL, 0);
	if (rc == 0 && h.epoch == m.epoch && h.payload_len == m.payload_len &&
	    h.payload_crc == m.payload_crc) {
		*lsn = m.lsn;
		return 1;
	}
	/* None at that LSN, or the one the install was to replace. */
	if (rc == 0 || rc == -ENOENT) {
		rc = w->io->unlink(w->iop, WAL_INSTALL);
		if (rc == 0 || rc == -ENOENT)
			rc = w->io->sync_dir(w->iop);
	}
	return rc;
}

/*
 * The end of an install whose snapshot at lsn is in place: every segment goes (newest
 * first, so that even a marker lost to damage leaves a prefix of the old log, never a
 * hole), then every other snapshot (recovery takes the newest, which may be an old one
 * above lsn), then the metadata keeps only what still holds: commit hint lsn, no
 * truncation under way. The marker goes last and durably: nothing may be appended
 * while it stands, or recovery would delete the new records with the old.
 */
int wal_install_finish(struct sl_wal *w, uint64_t lsn)
{
	int rc = 0;

	while (w->n_segs > 0 && rc == 0)
		rc = wal_delete_seg(w, w->n_segs - 1);
	if (rc == 0)
		rc = wal_snapshots_drop(w, lsn);
	if (rc == 0) {
		w->meta.commit_hint = lsn;
		w->meta.trunc_lsn = 0;
		rc = wal_meta_store(w);
	}
	if (rc == 0) {
		rc = w->io->unlink(w->iop, WAL_INSTALL);
		if (rc == 0 || rc == -ENOENT)
			rc = w->io->sync_dir(w->iop);
	}
	return rc;
}

/* ---- retention ---------------------------------------------------------------------- */

/*
 * Local recovery needs every record after the snapshot (without one, all of them);
 * followers need what they lack (need_lsn). The followers' share is capped by
 * retention_bytes: past it, a follower that far behind needs a snapshot instead.
 */
int sl_wal_retain(struct sl_wal *w, uint64_t need_lsn)
{
	uint64_t local = w->snap_lsn + 1, floor = need_lsn < local ? need_lsn : local;
	uint64_t kept = 0;
	int deleted = 0;

	if (w->cfg.retention_bytes) {
		/* Segments wholly below local, newest first, while they fit the limit. */
		for (uint32_t i = w->n_segs; i-- > 0;) {
			const struct wal_seg *s = &w->segs[i];

			if (s->last_lsn >= local || s->first_lsn >= local)
				continue;
			kept += w->cfg.segment_bytes;
			if (kept > w->cfg.retention_bytes && s->last_lsn + 1 > floor) {
				w->st.retention_forced += need_lsn <= s->last_lsn;
				floor = s->last_lsn + 1;
			}
		}
	}
	/* Whole segments below floor; never the newest, which appends continue in. */
	while (w->n_segs > 1 && w->segs[0].last_lsn < floor && w->segs[0].last_lsn < local) {
		int rc = wal_delete_seg(w, 0);

		if (rc < 0)
			return rc;
		deleted++;
	}
	return deleted;
}
