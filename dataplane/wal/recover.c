/* WAL recovery: metadata, newest valid snapshot, then every segment's records checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wal_internal.h"

/*
 * DESIGN.md §5. Every record after the snapshot is read and its CRC and LSN checked.
 *  - A torn tail (damage with nothing valid after it, in this segment or a later one)
 *    is what a crash leaves of the last batch: it is cut off and reported.
 *  - Damage followed by valid records is not a torn tail. The records from the damage
 *    on are cut off too (they cannot be trusted to continue the log), but first the
 *    highest LSN seen is stored in the metadata as refetch_lsn: some of those records
 *    may have been acknowledged, so the node must not lead until it has fetched the
 *    log back up to there from a peer (protocol-aware recovery).
 *  - A truncation that a crash interrupted (metadata trunc_lsn) is finished first:
 *    whatever lies past it was being removed, damaged or not.
 *  - An install that a crash interrupted (its marker) is finished, or undone when it
 *    was not yet decided, before any of that: see wal_install_files.
 */

struct dir_list {
	uint64_t *segs;
	uint32_t n_segs;
	uint64_t snaps[64];
	uint32_t n_snaps;
	uint32_t tmps;
	bool overflow;
	bool install; /* an install's marker (WAL_INSTALL) */
};

static int dir_list_fn(void *arg, const char *name)
{
	struct dir_list *l = arg;
	uint64_t v;

	if (sl_wal_seg_name_parse(name, &v) == 0) {
		if (l->n_segs == WAL_SEG_MAX)
			l->overflow = true;
		else
			l->segs[l->n_segs++] = v;
	} else if (sl_wal_snap_name_parse(name, &v) == 0) {
		if (l->n_snaps == 64)
			l->overflow = true;
		else
			l->snaps[l->n_snaps++] = v;
	} else if (!strcmp(name, WAL_INSTALL)) {
		l->install = true;
	} else if (!strcmp(name, WAL_TMP_SEG) || !strcmp(name, WAL_TMP_META) ||
		   !strcmp(name, WAL_TMP_SNAP) || !strcmp(name, WAL_TMP_INSTALL)) {
		l->tmps++;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* What the scan of one segment learned, beyond struct sl_wal_scan. */
struct seg_scan {
	struct sl_wal *w;
	struct wal_seg *s;
	uint64_t cut_lsn; /* a pending truncation's first dropped LSN (0: none) */
	uint64_t cut_off;
	bool cut_found;
	bool note_hist;
};

static int seg_scan_fn(void *arg, uint64_t off, const struct sl_record_view *r)
{
	struct seg_scan *c = arg;

	if (c->cut_lsn && r->hdr.lsn == c->cut_lsn) {
		c->cut_off = off;
		c->cut_found = true;
		return 1; /* nothing past a pending truncation counts */
	}
	wal_idx_add(c->w, c->s, r->hdr.lsn, off);
	if (c->note_hist)
		wal_lhist_note(c->w, r->hdr.epoch, r->hdr.lsn);
	return 0;
}

/* Reads segment first_lsn into scratch: bytes read after the header, or -EUCLEAN. */
static ssize_t seg_load(struct sl_wal *w, uint64_t first_lsn)
{
	struct sl_wal_seg_hdr h;
	ssize_t n;
	int fh;

	fh = wal_seg_open(w, first_lsn, 0);
	if (fh < 0)
		return fh;
	n = w->io->pread(w->iop, fh, w->scratch, SL_WAL_HDR_LEN, 0);
	if (n >= 0 &&
	    (sl_wal_seg_hdr_read(w->scratch, (size_t)n, &h) != 0 || h.first_lsn != first_lsn ||
	     h.cluster_id != w->cfg.cluster_id || h.node_id != w->cfg.node_id))
		n = -EUCLEAN;
	if (n >= 0)
		n = w->io->pread(w->iop, fh, w->scratch, w->scratch_len, SL_WAL_HDR_LEN);
	w->io->close(w->iop, fh);
	return n;
}

/* Offset just past the last non-zero byte of buf[0..len). */
static uint64_t nonzero_end(const uint8_t *buf, uint64_t len)
{
	while (len > 0 && buf[len - 1] == 0)
		len--;
	return len;
}

/* Highest valid LSN in the segments after index i (0: none), for refetch_lsn. */
static uint64_t highest_after(struct sl_wal *w, const struct dir_list *l, uint32_t i)
{
	uint64_t best = 0;

	for (uint32_t j = i + 1; j < l->n_segs; j++) {
		ssize_t n = seg_load(w, l->segs[j]);
		struct sl_wal_scan sc;

		if (n < 0)
			continue;
		sl_wal_scan(w->scratch, (size_t)n, l->segs[j], &w->cfg.limits, NULL, NULL, &sc);
		if (sc.records && sc.last_lsn > best)
			best = sc.last_lsn;
	}
	return best;
}

struct damage {
	uint32_t seg_i; /* index in w->segs of the damaged segment */
	uint64_t lsn;	/* first LSN lost */
	uint64_t off;	/* where the cut starts in that segment */
	uint64_t zero_end;
	uint64_t resume_lsn; /* first valid LSN after it in this segment (0: none) */
	uint64_t highest;    /* highest valid LSN after it anywhere (0: torn) */
	bool drop_seg;	     /* the segment itself is unusable (its header) */
};

/* Cuts the log at the damage: a torn tail, or damage to report and refetch. */
static int recover_cut(struct sl_wal *w, const struct damage *d, struct sl_wal_recovery *rep)
{
	int rc;

	if (d->highest) {
		rep->damaged_from = d->lsn;
		rep->damaged_to = d->resume_lsn ? d->resume_lsn - 1 : d->highest;
		if (d->highest > w->meta.refetch_lsn)
			w->meta.refetch_lsn = d->highest;
		rc = wal_meta_store(w); /* known before anything is cut */
		if (rc < 0)
			return rc;
	} else {
		rep->torn_lsn = d->lsn;
		rep->torn_bytes = d->zero_end > d->off ? d->zero_end - d->off : 0;
	}
	if (d->drop_seg) {
		while (w->n_segs > d->seg_i)
			if ((rc = wal_delete_seg(w, w->n_segs - 1)) < 0)
				return rc;
		return 0;
	}
	rc = wal_cut(w, d->seg_i, d->off, d->zero_end);
	if (rc == 0) {
		w->segs[d->seg_i].end_off = d->off;
		w->segs[d->seg_i].last_lsn = d->lsn - 1;
	}
	return rc;
}

/*
 * Scans segment l->segs[i] into table slot n_segs. Returns 1 when the log goes on,
 * 0 when it ended here (clean), 2 with *d filled for damage, or -errno.
 */
static int recover_seg(struct sl_wal *w, const struct dir_list *l, uint32_t i, uint64_t expect,
		       bool below_snap, struct damage *d)
{
	struct wal_seg *s = &w->segs[w->n_segs];
	struct seg_scan c = { .w = w,
			      .s = s,
			      .cut_lsn = w->meta.trunc_lsn ? w->meta.trunc_lsn + 1 : 0,
			      .note_hist = true };
	struct sl_wal_scan sc;
	ssize_t n = seg_load(w, l->segs[i]);
	uint64_t later, valid_end = 0;

	*s = (struct wal_seg){
		.first_lsn = l->segs[i], .last_lsn = l->segs[i] - 1, .read_fh = -1, .idx = s->idx
	};
	w->n_segs++;
	if (n < 0 && n != -EUCLEAN)
		return (int)n;
	if (n < 0 || (!below_snap && l->segs[i] != expect)) {
		*d = (struct damage){ .seg_i = w->n_segs - 1, .lsn = expect, .drop_seg = true };
		d->highest = highest_after(w, l, i);
		if (n >= 0 && l->segs[i] > expect && !d->highest)
			d->highest = l->segs[i]; /* a gap between segments */
		return 2;
	}
	sl_wal_scan(w->scratch, (size_t)n, l->segs[i], &w->cfg.limits, seg_scan_fn, &c, &sc);
	s->last_lsn = sc.records ? sc.last_lsn : s->first_lsn - 1;
	s->end_off = c.cut_found ? c.cut_off : sc.end_off;
	if (c.cut_found) {
		/* A truncation was under way: finish it here, whatever follows. */
		*d = (struct damage){ .seg_i = w->n_segs - 1,
				      .lsn = c.cut_lsn,
				      .off = c.cut_off,
				      .zero_end = nonzero_end(w->scratch, (uint64_t)n) };
		return 2;
	}
	if (sc.status == SL_WAL_CLEAN && i + 1 < l->n_segs)
		return 1;
	if (sc.status == SL_WAL_CLEAN) {
		/* The log ends here; bytes after its end (a torn write behind zeros) would
		 * meet the records appended next, so they go like a torn tail. */
		uint64_t end = nonzero_end(w->scratch, (uint64_t)n);

		if (end <= sc.end_off)
			return 0;
		*d = (struct damage){ .seg_i = w->n_segs - 1,
				      .lsn = s->last_lsn + 1,
				      .off = sc.end_off,
				      .zero_end = end };
		return 2;
	}
	*d = (struct damage){ .seg_i = w->n_segs - 1,
			      .lsn = sc.bad_lsn,
			      .off = sc.bad_off,
			      .zero_end = nonzero_end(w->scratch, (uint64_t)n) };
	if (sc.status != SL_WAL_TORN) {
		struct sl_wal_scan rest;

		d->resume_lsn = sc.resume_lsn;
		sl_wal_scan(w->scratch + sc.resume_off, (size_t)n - sc.resume_off, sc.resume_lsn,
			    &w->cfg.limits, NULL, NULL, &rest);
		d->highest = rest.records ? rest.last_lsn : sc.resume_lsn;
		valid_end = sc.resume_off + rest.end_off;
	}
	later = highest_after(w, l, i);
	if (later > d->highest)
		d->highest = later;
	/*
	 * Only the last batch can hold unsynced bytes (one batch in flight, never across
	 * segments), and a crash may have persisted its pages in any order. Damage with
	 * valid records after it, all within one batch of the end of the log, is that: a
	 * torn last batch, cut like a torn tail. (Bit rot there would be taken for it.)
	 */
	if (d->highest && !later && i + 1 == l->n_segs &&
	    valid_end - d->off <= w->cfg.batch_bytes) {
		d->highest = 0;
		d->resume_lsn = 0;
	}
	/* A truncation under way covers damage past its point: that was being removed. */
	if (c.cut_lsn && d->lsn >= c.cut_lsn)
		d->highest = 0;
	return 2;
}

/* Fills the report and the WAL's positions from what the segments hold. */
static void recover_finish(struct sl_wal *w, struct sl_wal_recovery *rep)
{
	const struct wal_seg *s = wal_seg_last(w);
	uint64_t last = s ? s->last_lsn : 0;
	struct sl_epoch_start h[SL_EPOCH_HIST_MAX];
	uint64_t oldest_scanned = w->n_lhist ? w->lhist[0].first_lsn : UINT64_MAX;
	unsigned n = 0;

	if (last < w->snap_lsn) {
		last = w->snap_lsn;
		w->seg_full = true; /* the next record starts a segment of its own */
	}
	while (w->n_lhist > 0 && w->lhist[w->n_lhist - 1].first_lsn > last)
		w->n_lhist--;
	/* The history: metadata below the records scanned, then the records' own. */
	for (unsigned i = 0; i < w->meta.n_hist && n < SL_EPOCH_HIST_MAX; i++)
		if (w->meta.hist[i].first_lsn < oldest_scanned &&
		    w->meta.hist[i].first_lsn <= last &&
		    (w->n_lhist == 0 || w->meta.hist[i].epoch < w->lhist[0].epoch))
			h[n++] = w->meta.hist[i];
	for (unsigned i = 0; i < w->n_lhist; i++) {
		if (n == SL_EPOCH_HIST_MAX) {
			memmove(h, h + 1, sizeof(h[0]) * (SL_EPOCH_HIST_MAX - 1));
			n--;
		}
		h[n++] = w->lhist[i];
	}
	w->last_lsn = w->flushed_lsn = last;
	w->last_epoch = w->flushed_epoch = w->snap_epoch;
	for (unsigned i = 0; i < n; i++)
		if (h[i].first_lsn <= last && h[i].first_lsn > w->snap_lsn)
			w->last_epoch = w->flushed_epoch = h[i].epoch;
	memcpy(w->lhist, h, sizeof(h));
	w->n_lhist = (uint8_t)n;
	rep->last_lsn = last;
	rep->last_epoch = w->last_epoch;
	rep->first_lsn = wal_first_lsn(w);
	rep->epoch = w->meta.epoch > w->last_epoch ? w->meta.epoch : w->last_epoch;
	memcpy(rep->hist, h, sizeof(h));
	rep->n_hist = (uint8_t)n;
	w->commit_hint = w->meta.commit_hint > w->snap_lsn ? w->meta.commit_hint : w->snap_lsn;
	if (w->commit_hint > last)
		w->commit_hint = last;
	rep->commit_hint = w->commit_hint;
	rep->segments = w->n_segs;
	rep->refetch_lsn = w->meta.refetch_lsn > last ? w->meta.refetch_lsn : 0;
	rep->may_lead = rep->refetch_lsn == 0;
}

/* Adds segments l->segs[from..] to the table unread: they are there to be deleted. */
static void recover_list_segs(struct sl_wal *w, const struct dir_list *l, uint32_t from)
{
	for (uint32_t j = from; j < l->n_segs; j++) {
		struct wal_seg *s = &w->segs[w->n_segs++];

		*s = (struct wal_seg){ .first_lsn = l->segs[j],
				       .last_lsn = l->segs[j] - 1,
				       .read_fh = -1,
				       .idx = s->idx };
	}
}

/*
 * An install's marker (wal_install_files): when its snapshot is in place the install
 * was decided, and it is finished here over every segment listed; what is left to
 * recover is that snapshot alone. Otherwise the marker is gone and the old log stands.
 */
static int recover_install(struct sl_wal *w, struct dir_list *l, struct sl_wal_recovery *rep)
{
	uint64_t lsn;
	int rc = wal_install_pending(w, &lsn);

	if (rc <= 0)
		return rc;
	recover_list_segs(w, l, 0);
	rc = wal_install_finish(w, lsn);
	if (rc < 0)
		return rc;
	l->n_segs = 0;
	l->snaps[0] = lsn;
	l->n_snaps = 1;
	rep->redid_install = true;
	return 0;
}

static int recover_segments(struct sl_wal *w, struct dir_list *l, struct sl_wal_recovery *rep)
{
	uint64_t start = w->snap_lsn + 1, expect;
	uint32_t i0 = 0;
	struct damage d = { 0 };
	int rc = 0;

	for (uint32_t i = 0; i < l->n_segs; i++)
		if (l->segs[i] <= start)
			i0 = i;
	if (l->n_segs && l->segs[i0] > start)
		return -EUCLEAN; /* LSNs start .. segs[0] - 1 are nowhere */
	expect = l->segs[i0];
	for (uint32_t i = 0; i < l->n_segs; i++) {
		rc = recover_seg(w, l, i, i < i0 ? l->segs[i] : expect, i < i0, &d);
		if (rc < 0)
			return rc;
		if (rc == 2 && i < i0) {
			/* Below the snapshot nothing is needed locally: drop it and older. */
			while (w->n_segs > 0)
				if ((rc = wal_delete_seg(w, 0)) < 0)
					return rc;
			w->n_lhist = 0;
			continue;
		}
		if (rc == 2) {
			/* Every later segment goes with the cut. */
			recover_list_segs(w, l, i + 1);
			rep->redid_truncate = w->meta.trunc_lsn != 0;
			rc = recover_cut(w, &d, rep);
			if (rc < 0)
				return rc;
			break;
		}
		expect = w->segs[w->n_segs - 1].last_lsn + 1;
		if (i >= i0 && rc == 0)
			break;
	}
	if (w->meta.trunc_lsn) {
		w->meta.trunc_lsn = 0;
		rc = wal_meta_store(w);
	}
	return rc;
}

/*
 * What recovery adopts may never have been synced: the process that wrote it may have
 * died before its fdatasync, or seen it fail. Sync every segment and the directory
 * before calling any of it flushed.
 */
static int recover_sync(struct sl_wal *w)
{
	int rc = 0;

	for (uint32_t i = 0; i < w->n_segs && rc == 0; i++) {
		int fh = wal_seg_open(w, w->segs[i].first_lsn, 0);

		if (fh < 0)
			return fh;
		rc = w->io->fsync(w->iop, fh);
		w->io->close(w->iop, fh);
	}
	return rc == 0 ? w->io->sync_dir(w->iop) : rc;
}

int wal_recover(struct sl_wal *w, struct sl_wal_recovery *rep)
{
	struct dir_list l = { .segs = calloc(WAL_SEG_MAX, sizeof(uint64_t)) };
	bool found;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (!l.segs)
		return -ENOMEM;
	rc = w->io->list(w->iop, dir_list_fn, &l);
	if (rc == 0 && l.overflow)
		rc = -EMFILE;
	if (rc < 0)
		goto out;
	qsort(l.segs, l.n_segs, sizeof(uint64_t), cmp_u64);
	qsort(l.snaps, l.n_snaps, sizeof(uint64_t), cmp_u64);
	/* Left by a crash during a replace or a rollover: never part of the state. */
	w->io->unlink(w->iop, WAL_TMP_SEG);
	w->io->unlink(w->iop, WAL_TMP_META);
	w->io->unlink(w->iop, WAL_TMP_SNAP);
	w->io->unlink(w->iop, WAL_TMP_INSTALL);
	rc = wal_meta_load(w, &found);
	if (rc < 0)
		goto out;
	if (!found) {
		rc = l.n_segs || l.n_snaps || l.install ? -EUCLEAN : wal_meta_store(w);
		if (rc < 0)
			goto out;
	}
	/* Before anything reads the segments: an install decided makes them void. */
	rc = l.install ? recover_install(w, &l, rep) : 0;
	if (rc == 0)
		rc = wal_snapshot_find(w, l.snaps, l.n_snaps, rep);
	if (rc == 0)
		rc = recover_segments(w, &l, rep);
	if (rc == 0)
		rc = recover_sync(w);
	if (rc == 0)
		rc = wal_open_write_seg(w);
	if (rc == 0)
		recover_finish(w, rep);
out:
	free(l.segs);
	return rc;
}
