/*
 * crash_enum: runs a WAL workload on the fake disk and, at every operation that
 * changes the disk, crashes a copy of it several ways and recovers from each copy.
 *
 * usage: crash_enum [--mode buffered|dsync|direct] [--steps N] [--variants V]
 *                   [--seed S] [--min-images N]
 *
 * Every recovered image must: open without error; hold every record reported
 * flushed before the crash, byte for byte; hold nothing but records that were
 * written for their LSN (never a damaged one); keep the newest saved epoch and the
 * newest installed snapshot; and take new records afterwards. Exit 1 on a violation
 * (its crash point, model and seed are printed to reproduce it), or when fewer than
 * --min-images images were checked.
 *
 * Then sl_wal_install, over logs of several shapes, crashed at every step the same
 * ways: each image must recover as the old log exactly or as the installed snapshot
 * exactly; and a recovery that finishes an install is itself crashed at every step.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakefs.h"
#include "wal.h"
#include "walrec.h"

#define VMAX	  200u
#define MAX_LSN	  40000u
#define VERS	  4u
#define SLOTS	  4096u
#define SLOT_SIZE 512u
#define SNAP_LEN  3000u
#define INST_LEN  5000u

struct oracle {
	uint64_t last, flushed;
	uint32_t epoch, meta_epoch;
	uint64_t snap_lsn;
	uint32_t gen;
	uint8_t n_ver[MAX_LSN + 1];
	uint32_t ver_epoch[MAX_LSN + 1][VERS];
	uint32_t ver_gen[MAX_LSN + 1][VERS];
	struct sl_epoch_start hist[SL_EPOCH_HIST_MAX];
	uint8_t n_hist;
};

/* One install under test: what a recovered image may be, and what was found. */
struct install_want {
	uint64_t lsn;
	uint32_t epoch;
	uint64_t old_first, old_last, old_snap; /* the log as it was */
	uint64_t old_images, new_images, redone, redo_images;
	bool redo_checked;
};

struct run {
	uint8_t mode;
	unsigned variants;
	uint64_t seed, rng;
	struct oracle o;
	uint8_t *arena;
	uint64_t points, images, failures, torn, damaged, redone, continued;
	bool checking;
	/* what every crash image is checked for: check_image, check_install_image */
	void (*check)(struct run *r, struct fakefs *disk, uint64_t point, unsigned model,
		      uint64_t seed);
	struct install_want *inst; /* the install scenario's, while it runs */
	uint64_t released;
	/* read answers while checking an image */
	int rd_status;
	const uint8_t *rd_buf;
	uint32_t rd_len, rd_n;
	bool rd_done;
};

static uint64_t rnd(struct run *r)
{
	uint64_t x = r->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void snap_bytes(uint8_t *b, uint64_t lsn)
{
	for (uint32_t i = 0; i < SNAP_LEN; i++)
		b[i] = (uint8_t)(lsn * 7 + i);
}

/* What the install scenario installs at lsn: not what snap_bytes makes for it. */
static void inst_bytes(uint8_t *b, uint64_t lsn)
{
	for (uint32_t i = 0; i < INST_LEN; i++)
		b[i] = (uint8_t)(lsn * 11 + i * 3 + 1);
}

static void on_read(void *arg, uint64_t tag, int status, const uint8_t *buf, uint32_t len,
		    uint64_t first, uint32_t n)
{
	struct run *r = arg;

	(void)tag;
	(void)first;
	r->rd_status = status;
	r->rd_buf = buf;
	r->rd_len = len;
	r->rd_n = n;
	r->rd_done = true;
}

static void wal_cfg(struct run *r, struct sl_wal_config *c, struct fakefs *f)
{
	sl_wal_config_default(c);
	c->dir = "fake";
	c->cluster_id = 9;
	c->node_id = 1;
	c->mode = r->mode;
	c->segment_bytes = 64 << 10;
	c->batch_bytes = 16 << 10;
	c->queue_records = 1024;
	c->read_slots = 2;
	c->io = &fakefs_ops;
	c->io_arg = f;
	c->on_read = on_read;
	c->arg = r;
}

/* ---- checking one crashed image ------------------------------------------------------- */

static int fail(struct run *r, uint64_t point, unsigned model, uint64_t seed, const char *what,
		uint64_t a)
{
	fprintf(stderr,
		"VIOLATION at crash point %" PRIu64 " model %u image seed %" PRIu64
		" (run --seed %" PRIu64 "): %s (%" PRIu64 ")\n",
		point, model, seed, r->seed, what, a);
	r->failures++;
	return -1;
}

static bool is_version(const struct oracle *o, uint64_t lsn, const uint8_t *p, uint32_t len,
		       bool current_only)
{
	unsigned n = o->n_ver[lsn];

	for (unsigned i = current_only && n ? n - 1 : 0; i < n; i++)
		if (walrec_check(p, len, lsn, o->ver_epoch[lsn][i], o->ver_gen[lsn][i], VMAX))
			return true;
	return false;
}

/* Reads from..to back and checks each record against what was written. */
static int check_records(struct run *r, struct sl_wal *w, uint64_t from, uint64_t to,
			 uint64_t point, unsigned model, uint64_t seed)
{
	static uint8_t buf[32 << 10];

	for (uint64_t lsn = from; lsn <= to;) {
		const uint8_t *p;

		r->rd_done = false;
		if (sl_wal_read(w, lsn, to, buf, sizeof(buf), 0) != 0)
			return fail(r, point, model, seed, "read refused at LSN", lsn);
		while (!r->rd_done)
			if (sl_wal_poll(w, true) < 0)
				return fail(r, point, model, seed, "poll failed reading", lsn);
		if (r->rd_status != 0 || r->rd_n == 0)
			return fail(r, point, model, seed, "read failed at LSN", lsn);
		p = r->rd_buf;
		for (uint32_t i = 0; i < r->rd_n; i++, lsn++) {
			struct sl_record_view v;
			struct sl_limits lim = sl_limits_default();

			if (sl_record_decode(p, r->rd_len - (uint32_t)(p - r->rd_buf), &lim, 1,
					     &v) != SL_OK)
				return fail(r, point, model, seed, "damaged record returned", lsn);
			if (!is_version(&r->o, lsn, p, v.total_len, lsn <= r->o.flushed))
				return fail(r, point, model, seed,
					    lsn <= r->o.flushed ? "flushed record lost or changed"
								: "record never written",
					    lsn);
			p += v.total_len;
		}
	}
	return 0;
}

/* The recovered WAL takes records again, and keeps them across another restart. */
static int check_continues(struct run *r, struct sl_wal **wp, struct sl_wal_config *c,
			   struct sl_wal_recovery *rep, uint64_t point, unsigned model,
			   uint64_t seed)
{
	uint8_t rec[3][SLOT_SIZE];
	struct sl_rec_ref ref[3];
	struct sl_wal_recovery again;
	uint64_t last = rep->last_lsn;

	for (int i = 0; i < 3; i++) {
		ref[i].data = rec[i];
		ref[i].handle = 0;
		ref[i].len = walrec_make(rec[i], SLOT_SIZE, last + 1 + (uint64_t)i, rep->epoch, 999,
					 VMAX);
	}
	if (sl_wal_append(*wp, ref, 3, 0) != 0)
		return fail(r, point, model, seed, "append after recovery refused", last);
	while (sl_wal_flushed_lsn(*wp, NULL) < last + 3)
		if (sl_wal_submit(*wp) < 0 || sl_wal_poll(*wp, true) < 0)
			return fail(r, point, model, seed, "flush after recovery failed", last);
	sl_wal_close(*wp);
	*wp = NULL;
	if (sl_wal_open(c, wp, &again) != 0 || again.last_lsn != last + 3 || again.damaged_from ||
	    again.torn_lsn) {
		fprintf(stderr,
			"  first recovery: last %" PRIu64 " torn %" PRIu64 " damaged %" PRIu64
			"; second: last %" PRIu64 " torn %" PRIu64 " damaged %" PRIu64 "..%" PRIu64
			"\n",
			last, rep->torn_lsn, rep->damaged_from, again.last_lsn, again.torn_lsn,
			again.damaged_from, again.damaged_to);
		return fail(r, point, model, seed, "second recovery lost the new records", last);
	}
	r->continued++;
	return 0;
}

/* Opens the WAL on crashed image g, counted: NULL (a violation) where recovery fails. */
static struct sl_wal *open_image(struct run *r, struct fakefs *g, struct sl_wal_config *c,
				 struct sl_wal_recovery *rep, uint64_t point, unsigned model,
				 uint64_t seed)
{
	struct sl_wal *w = NULL;
	int rc;

	wal_cfg(r, c, g);
	r->images++;
	rc = sl_wal_open(c, &w, rep);
	if (rc != 0) {
		fail(r, point, model, seed, "recovery failed, errno", (uint64_t)-rc);
		return NULL;
	}
	return w;
}

static void check_image(struct run *r, struct fakefs *disk, uint64_t point, unsigned model,
			uint64_t seed)
{
	struct fakefs *g = fakefs_crash(disk, model, seed);
	const struct oracle *o = &r->o;
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct sl_wal *w = open_image(r, g, &c, &rep, point, model, seed);

	if (!w)
		goto out;
	r->torn += rep.torn_lsn != 0;
	r->damaged += rep.damaged_from != 0;
	r->redone += rep.redid_truncate;
	if (rep.last_lsn < o->flushed) {
		fail(r, point, model, seed, "log ends before the flushed LSN", rep.last_lsn);
		goto out;
	}
	if (rep.damaged_from && rep.damaged_from <= o->flushed) {
		fail(r, point, model, seed, "a crash damaged a flushed record", rep.damaged_from);
		goto out;
	}
	if (rep.epoch < o->meta_epoch || rep.snapshot_lsn < o->snap_lsn) {
		fail(r, point, model, seed, "saved epoch or snapshot lost", rep.epoch);
		goto out;
	}
	if (rep.snapshot_lsn) {
		uint8_t got[SNAP_LEN], want[SNAP_LEN];

		snap_bytes(want, rep.snapshot_lsn);
		if (sl_wal_snapshot_load(w, got, sizeof(got)) != SNAP_LEN ||
		    memcmp(got, want, SNAP_LEN) != 0) {
			fail(r, point, model, seed, "snapshot content", rep.snapshot_lsn);
			goto out;
		}
	}
	if (rep.last_lsn > rep.snapshot_lsn &&
	    check_records(r, w, rep.snapshot_lsn + 1, rep.last_lsn, point, model, seed) != 0)
		goto out;
	if (r->images % 16 == 0)
		check_continues(r, &w, &c, &rep, point, model, seed);
out:
	sl_wal_close(w);
	fakefs_free(g);
}

static void on_change(void *arg, struct fakefs *disk)
{
	struct run *r = arg;
	uint64_t point = fakefs_changes(disk);

	if (r->checking)
		return;
	r->checking = true;
	r->points++;
	for (unsigned v = 0; v < r->variants; v++)
		r->check(r, disk, point, (unsigned)((point + v) % FF_MODELS), point * 131 + v);
	r->checking = false;
}

/* ---- the workload ------------------------------------------------------------------------ */

static void note_version(struct oracle *o, uint64_t lsn)
{
	uint8_t *n = &o->n_ver[lsn];

	if (*n == VERS) {
		memmove(o->ver_epoch[lsn], o->ver_epoch[lsn] + 1, (VERS - 1) * sizeof(uint32_t));
		memmove(o->ver_gen[lsn], o->ver_gen[lsn] + 1, (VERS - 1) * sizeof(uint32_t));
		(*n)--;
	}
	o->ver_epoch[lsn][*n] = o->epoch;
	o->ver_gen[lsn][*n] = o->gen;
	(*n)++;
}

static int step_append(struct run *r, struct sl_wal *w)
{
	unsigned n = 1 + (unsigned)(rnd(r) % 40);
	struct oracle *o = &r->o;

	for (unsigned i = 0; i < n && o->last < MAX_LSN; i++) {
		uint64_t lsn = o->last + 1;
		uint8_t *p = r->arena + (lsn % SLOTS) * SLOT_SIZE;
		struct sl_rec_ref ref = { .data = p, .handle = lsn };
		int rc;

		ref.len = walrec_make(p, SLOT_SIZE, lsn, o->epoch, o->gen, VMAX);
		note_version(o, lsn);
		while ((rc = sl_wal_append(w, &ref, 1, o->flushed)) == -EAGAIN) {
			sl_wal_submit(w);
			if (sl_wal_poll(w, true) < 0)
				return -1;
			o->flushed = sl_wal_flushed_lsn(w, NULL);
		}
		if (rc < 0)
			return -1;
		o->last = lsn;
	}
	return 0;
}

static int step_new_epoch(struct run *r, struct sl_wal *w)
{
	struct oracle *o = &r->o;

	o->epoch++;
	if (o->n_hist > 0 && o->hist[o->n_hist - 1].first_lsn == o->last + 1) {
		o->n_hist--; /* an epoch that wrote nothing: superseded */
	} else if (o->n_hist == SL_EPOCH_HIST_MAX) {
		memmove(o->hist, o->hist + 1, sizeof(o->hist[0]) * (SL_EPOCH_HIST_MAX - 1));
		o->n_hist--;
	}
	o->hist[o->n_hist++] =
		(struct sl_epoch_start){ .epoch = o->epoch, .first_lsn = o->last + 1 };
	if (sl_wal_save_meta(w, o->epoch, o->hist, o->n_hist) != 0)
		return -1;
	o->meta_epoch = o->epoch;
	return 0;
}

/* A follower's divergent suffix: cut at some recent LSN above the snapshot. */
static int step_truncate(struct run *r, struct sl_wal *w)
{
	struct oracle *o = &r->o;
	uint64_t lo = o->last > 80 ? o->last - 80 : 0, t;

	if (lo < o->snap_lsn)
		lo = o->snap_lsn;
	if (o->last <= lo)
		return 0;
	t = lo + rnd(r) % (o->last - lo);
	if (o->flushed > t)
		o->flushed = t; /* the caller gives those up */
	if (sl_wal_truncate(w, t) != 0)
		return -1;
	o->last = t;
	o->gen++;
	while (o->n_hist > 0 && o->hist[o->n_hist - 1].first_lsn > t + 1)
		o->n_hist--;
	return step_new_epoch(r, w);
}

static int step_snapshot(struct run *r, struct sl_wal *w)
{
	struct oracle *o = &r->o;
	uint8_t b[SNAP_LEN];
	struct iovec iov = { b, sizeof(b) };
	uint64_t lsn = o->flushed;

	if (lsn == 0 || lsn <= o->snap_lsn)
		return 0;
	snap_bytes(b, lsn);
	if (sl_wal_snapshot_save(w, lsn, 0, &iov, 1) != 0)
		return -1;
	o->snap_lsn = lsn;
	sl_wal_retain(w, lsn > 300 ? lsn - 300 : 1);
	return 0;
}

static int workload(struct run *r, unsigned steps)
{
	struct fakefs *disk = fakefs_new();
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct sl_wal *w;
	int rc = 0;

	r->o.epoch = 1;
	wal_cfg(r, &c, disk);
	fakefs_on_change(disk, on_change, r);
	if (sl_wal_open(&c, &w, &rep) != 0)
		return -1;
	for (unsigned s = 0; s < steps && rc == 0 && r->o.last < MAX_LSN - 100; s++) {
		uint64_t k = rnd(r) % 100;

		if (k < 75)
			rc = step_append(r, w);
		else if (k < 82)
			rc = step_truncate(r, w);
		else if (k < 85)
			rc = step_snapshot(r, w);
		else if (k < 87)
			rc = step_new_epoch(r, w);
		if (rc == 0 && sl_wal_submit(w) < 0)
			rc = -1;
		if (rc == 0 && sl_wal_poll(w, k % 3 == 0) < 0)
			rc = -1;
		r->o.flushed = sl_wal_flushed_lsn(w, NULL);
	}
	fakefs_on_change(disk, NULL, NULL);
	sl_wal_close(w);
	fakefs_free(disk);
	return rc;
}

static int append_n(struct sl_wal *w, uint8_t *arena, uint64_t from, uint64_t to)
{
	for (uint64_t lsn = from; lsn <= to; lsn++) {
		uint8_t *p = arena + (lsn % SLOTS) * SLOT_SIZE;
		struct sl_rec_ref ref = { .data = p, .handle = lsn };
		int rc;

		ref.len = walrec_make(p, SLOT_SIZE, lsn, 1, 0, VMAX);
		if ((rc = sl_wal_append(w, &ref, 1, 0)) < 0)
			return rc;
		if (lsn % 7 == 0 &&
		    ((rc = sl_wal_submit(w)) < 0 || (rc = sl_wal_poll(w, true)) < 0))
			return rc;
	}
	return 0;
}

/*
 * A node whose sync failed stops, restarts on the same disk (its page cache intact),
 * and then loses power: everything the restarted WAL called flushed must survive.
 */
static void scenario_restart_after_failure(struct run *r)
{
	struct fakefs *disk = fakefs_new(), *after;
	struct sl_wal_config c;
	struct sl_wal_recovery rep1, rep2;
	struct sl_wal *w;

	wal_cfg(r, &c, disk);
	fakefs_fail_syncs(disk, 5);
	if (sl_wal_open(&c, &w, &rep1) != 0)
		abort();
	if (append_n(w, r->arena, 1, 300) != -EIO) {
		fail(r, 0, 0, 0, "the injected sync error was not reported", 0);
		sl_wal_close(w);
		fakefs_free(disk);
		return;
	}
	sl_wal_close(w);
	fakefs_fail_syncs(disk, -1);
	if (sl_wal_open(&c, &w, &rep1) != 0)
		abort();
	sl_wal_close(w);
	after = fakefs_crash(disk, FF_KEEP_NONE, 1);
	wal_cfg(r, &c, after);
	if (sl_wal_open(&c, &w, &rep2) != 0 || rep2.last_lsn < rep1.last_lsn)
		fail(r, 0, FF_KEEP_NONE, 1,
		     "restart after a failed sync called unsynced records flushed", rep1.last_lsn);
	sl_wal_close(w);
	fakefs_free(after);
	fakefs_free(disk);
	r->images++;
}

/* ---- install: every crash point of sl_wal_install ------------------------------------- */

struct install_case {
	uint64_t last, snap, lsn; /* the old log's end and snapshot (0: none); install at lsn */
};

static const struct install_case install_cases[] = {
	{ 1200, 800, 1500 }, /* above the log's end */
	{ 1200, 800, 1000 }, /* between the snapshot and the end */
	{ 1200, 800, 500 },  /* below the snapshot, which must go too */
	{ 1205, 800, 1205 }, /* at the end (with the batch in flight) */
	{ 1200, 800, 800 },  /* at the snapshot's LSN, another payload */
	{ 300, 0, 100 },     /* no snapshot before */
};

static void count_release(void *arg, uint64_t handle)
{
	(void)handle;
	((struct run *)arg)->released++;
}

static bool snapshot_is(struct sl_wal *w, uint64_t lsn, bool installed)
{
	uint8_t got[INST_LEN], want[INST_LEN];
	uint32_t len = installed ? INST_LEN : SNAP_LEN;

	if (installed)
		inst_bytes(want, lsn);
	else
		snap_bytes(want, lsn);
	return sl_wal_snapshot_load(w, got, sizeof(got)) == len && memcmp(got, want, len) == 0;
}

/* The recovered image is exactly the installed state. */
static bool is_installed(const struct install_want *iw, const struct sl_wal_recovery *rep)
{
	return rep->snapshot_lsn == iw->lsn && rep->snapshot_epoch == iw->epoch &&
	       rep->first_lsn == iw->lsn + 1 && rep->last_lsn == iw->lsn &&
	       rep->last_epoch == iw->epoch && rep->segments == 0;
}

/* A crash while recovery finishes an install: the next recovery finishes it too. */
static void on_redo_change(void *arg, struct fakefs *disk)
{
	struct run *r = arg;
	struct install_want *iw = r->inst;
	uint64_t point = fakefs_changes(disk);

	for (unsigned v = 0; v < r->variants; v++) {
		unsigned model = (unsigned)((point + v) % FF_MODELS);
		uint64_t seed = point * 977 + v;
		struct fakefs *g = fakefs_crash(disk, model, seed);
		struct sl_wal_config c;
		struct sl_wal_recovery rep;
		struct sl_wal *w = open_image(r, g, &c, &rep, point, model, seed);

		iw->redo_images++;
		if (w && (!is_installed(iw, &rep) || !snapshot_is(w, iw->lsn, true)))
			fail(r, point, model, seed, "a crashed recovery undid a decided install",
			     iw->lsn);
		sl_wal_close(w);
		fakefs_free(g);
	}
}

/* Recovers the image again with every step of that recovery crashed (once a case). */
static void check_redo(struct run *r, struct fakefs *disk, unsigned model, uint64_t seed)
{
	struct fakefs *g = fakefs_crash(disk, model, seed);
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct sl_wal *w = NULL;

	r->inst->redo_checked = true;
	wal_cfg(r, &c, g);
	fakefs_on_change(g, on_redo_change, r);
	if (sl_wal_open(&c, &w, &rep) != 0 || !rep.redid_install)
		fail(r, 0, model, seed, "the same image recovered otherwise", rep.last_lsn);
	fakefs_on_change(g, NULL, NULL);
	sl_wal_close(w);
	fakefs_free(g);
}

/* An image crashed during sl_wal_install: the old log exactly, or the new state exactly. */
static void check_install_image(struct run *r, struct fakefs *disk, uint64_t point, unsigned model,
				uint64_t seed)
{
	struct fakefs *g = fakefs_crash(disk, model, seed);
	struct install_want *iw = r->inst;
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct sl_wal *w = open_image(r, g, &c, &rep, point, model, seed);

	if (!w)
		goto out;
	if (rep.torn_lsn || rep.damaged_from || !rep.may_lead) {
		fail(r, point, model, seed, "recovery reported damage", rep.last_lsn);
		goto out;
	}
	if (is_installed(iw, &rep)) {
		if (!snapshot_is(w, iw->lsn, true)) {
			fail(r, point, model, seed, "installed snapshot content", iw->lsn);
			goto out;
		}
		iw->new_images++;
		iw->redone += rep.redid_install;
		if (rep.redid_install && !iw->redo_checked)
			check_redo(r, disk, model, seed);
	} else if (rep.snapshot_lsn == iw->old_snap && rep.first_lsn == iw->old_first &&
		   rep.last_lsn == iw->old_last && !rep.redid_install) {
		if (iw->old_snap && !snapshot_is(w, iw->old_snap, false)) {
			fail(r, point, model, seed, "old snapshot content", iw->old_snap);
			goto out;
		}
		if (check_records(r, w, iw->old_first, iw->old_last, point, model, seed) != 0)
			goto out;
		iw->old_images++;
	} else {
		fprintf(stderr,
			"  recovered: snapshot %" PRIu64 " first %" PRIu64 " last %" PRIu64
			" segments %u redid %d\n",
			rep.snapshot_lsn, rep.first_lsn, rep.last_lsn, rep.segments,
			rep.redid_install);
		fail(r, point, model, seed, "neither the old log nor the installed state", iw->lsn);
		goto out;
	}
	if (r->images % 8 == 0)
		check_continues(r, &w, &c, &rep, point, model, seed);
out:
	sl_wal_close(w);
	fakefs_free(g);
}

/* Appends from..to (epoch and gen of the oracle); note: the oracle expects them written. */
static int queue_n(struct run *r, struct sl_wal *w, uint64_t from, uint64_t to, bool note)
{
	for (uint64_t lsn = from; lsn <= to; lsn++) {
		uint8_t *p = r->arena + (lsn % SLOTS) * SLOT_SIZE;
		struct sl_rec_ref ref = { .data = p, .handle = lsn };
		int rc;

		ref.len = walrec_make(p, SLOT_SIZE, lsn, r->o.epoch, r->o.gen, VMAX);
		if (note)
			note_version(&r->o, lsn);
		while ((rc = sl_wal_append(w, &ref, 1, 0)) == -EAGAIN)
			if (sl_wal_submit(w) < 0 || sl_wal_poll(w, true) < 0)
				return -1;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int flush_all(struct sl_wal *w, uint64_t to)
{
	while (sl_wal_flushed_lsn(w, NULL) < to)
		if (sl_wal_submit(w) < 0 || sl_wal_poll(w, true) < 0)
			return -1;
	return 0;
}

/* The old log: 1..last, a snapshot, five records in flight and five only queued. */
static int install_setup(struct run *r, struct sl_wal *w, const struct install_case *ic)
{
	uint8_t b[SNAP_LEN];
	struct iovec iov = { b, sizeof(b) };
	uint64_t base = ic->last - 5;

	memset(&r->o, 0, sizeof(r->o));
	r->o.epoch = 1;
	if (queue_n(r, w, 1, base, true) != 0 || flush_all(w, base) != 0)
		return -1;
	snap_bytes(b, ic->snap);
	if (ic->snap && sl_wal_snapshot_save(w, ic->snap, 1, &iov, 1) != 0)
		return -1;
	if (queue_n(r, w, base + 1, ic->last, true) != 0 || sl_wal_submit(w) != 5)
		return -1;
	r->o.flushed = ic->last; /* durable before the install's first step, on this disk */
	return queue_n(r, w, ic->last + 1, ic->last + 5, false);
}

/* After the install, live and across a crash: the new state, and the log goes on. */
static void install_after(struct run *r, struct sl_wal *w, struct fakefs *disk,
			  const struct install_case *ic)
{
	struct install_want *iw = r->inst;
	struct sl_wal_status st;
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct fakefs *g;

	sl_wal_status(w, &st);
	if (st.first_lsn != iw->lsn + 1 || st.last_lsn != iw->lsn || st.flushed_lsn != iw->lsn ||
	    st.flushed_epoch != iw->epoch || st.snapshot_lsn != iw->lsn || st.segments ||
	    st.queued || r->released != ic->last + 5)
		fail(r, 0, 0, 0, "state after the install", iw->lsn);
	r->o.epoch = iw->epoch;
	r->o.gen = 1;
	if (queue_n(r, w, iw->lsn + 1, iw->lsn + 20, true) != 0 ||
	    flush_all(w, iw->lsn + 20) != 0) {
		fail(r, 0, 0, 0, "appends after the install", iw->lsn);
		return;
	}
	r->o.flushed = iw->lsn + 20;
	g = fakefs_crash(disk, FF_KEEP_NONE, 1);
	w = open_image(r, g, &c, &rep, 0, FF_KEEP_NONE, 1);
	if (w && (rep.snapshot_lsn != iw->lsn || rep.first_lsn != iw->lsn + 1 ||
		  rep.last_lsn != iw->lsn + 20 || !snapshot_is(w, iw->lsn, true) ||
		  check_records(r, w, iw->lsn + 1, iw->lsn + 20, 0, FF_KEEP_NONE, 1) != 0))
		fail(r, 0, FF_KEEP_NONE, 1, "records appended after the install", iw->lsn);
	sl_wal_close(w);
	fakefs_free(g);
}

static void scenario_install(struct run *r, const struct install_case *ic)
{
	struct fakefs *disk = fakefs_new();
	struct install_want iw = { .lsn = ic->lsn, .epoch = 3, .old_snap = ic->snap };
	uint8_t b[INST_LEN];
	struct iovec iov[2] = { { b, 1000 }, { b + 1000, INST_LEN - 1000 } };
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct sl_wal_status st;
	struct sl_wal *w;

	wal_cfg(r, &c, disk);
	c.release = count_release;
	r->released = 0;
	if (sl_wal_open(&c, &w, &rep) != 0 || install_setup(r, w, ic) != 0) {
		fail(r, 0, 0, 0, "building the log to install over", ic->lsn);
		goto out;
	}
	sl_wal_status(w, &st);
	iw.old_first = st.first_lsn;
	iw.old_last = ic->last;
	r->inst = &iw;
	inst_bytes(b, ic->lsn);
	r->check = check_install_image;
	fakefs_on_change(disk, on_change, r);
	if (sl_wal_install(w, ic->lsn, iw.epoch, iov, 2) != 0)
		fail(r, 0, 0, 0, "install refused", ic->lsn);
	fakefs_on_change(disk, NULL, NULL);
	install_after(r, w, disk, ic);
	/* Both sides of the decision were seen, or the crash points missed it. */
	if (!iw.old_images || !iw.new_images || !iw.redone || !iw.redo_images)
		fail(r, 0, 0, 0, "crash points did not reach both sides of the install", ic->lsn);
	printf("crash_enum: install at %" PRIu64 " over 1..%" PRIu64 " (snapshot %" PRIu64
	       "): %" PRIu64 " images the old log, %" PRIu64 " installed (%" PRIu64
	       " finished at open), %" PRIu64 " of crashed recoveries\n",
	       ic->lsn, ic->last, ic->snap, iw.old_images, iw.new_images, iw.redone,
	       iw.redo_images);
	r->inst = NULL;
	r->check = check_image;
out:
	sl_wal_close(w);
	fakefs_free(disk);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "steps", required_argument, NULL, 'n' },
		{ "variants", required_argument, NULL, 'v' },
		{ "seed", required_argument, NULL, 's' },
		{ "min-images", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	static struct run r;
	unsigned steps = 300;
	uint64_t min_images = 0, written;
	int opt;

	r.variants = 8;
	r.seed = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int m;

		switch (opt) {
		case 'm':
			m = sl_wal_mode_parse(optarg);
			if (m < 0) {
				fprintf(stderr, "crash_enum: unknown mode %s\n", optarg);
				return 2;
			}
			r.mode = (uint8_t)m;
			break;
		case 'n':
			steps = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'v':
			r.variants = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 's':
			r.seed = strtoull(optarg, NULL, 0);
			break;
		case 'i':
			min_images = strtoull(optarg, NULL, 0);
			break;
		default:
			return 2;
		}
	}
	r.rng = r.seed * 0x9e3779b97f4a7c15ull + 7;
	r.check = check_image;
	r.arena = aligned_alloc(64, (size_t)SLOTS * SLOT_SIZE);
	if (!r.arena)
		return 2;
	if (workload(&r, steps) != 0) {
		fprintf(stderr, "crash_enum: the workload itself failed\n");
		return 1;
	}
	written = r.o.last;	    /* the install scenarios use the oracle anew */
	if (r.mode != SL_WAL_DSYNC) /* no separate sync there to fail */
		scenario_restart_after_failure(&r);
	for (size_t i = 0; i < sizeof(install_cases) / sizeof(install_cases[0]); i++)
		scenario_install(&r, &install_cases[i]);
	printf("crash_enum: mode %s seed %" PRIu64 ": %" PRIu64 " crash points, %" PRIu64
	       " images recovered (%" PRIu64 " torn tails cut, %" PRIu64 " damage reports, %" PRIu64
	       " truncations finished, %" PRIu64 " continued), %" PRIu64
	       " records written, %" PRIu64 " violations\n",
	       sl_wal_mode_name(r.mode), r.seed, r.points, r.images, r.torn, r.damaged, r.redone,
	       r.continued, written, r.failures);
	free(r.arena);
	if (r.images < min_images) {
		fprintf(stderr, "crash_enum: only %" PRIu64 " images, wanted %" PRIu64 "\n",
			r.images, min_images);
		return 1;
	}
	return r.failures ? 1 : 0;
}
