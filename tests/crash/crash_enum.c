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

struct run {
	uint8_t mode;
	unsigned variants;
	uint64_t seed, rng;
	struct oracle o;
	uint8_t *arena;
	uint64_t points, images, failures, torn, damaged, redone, continued;
	bool checking;
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

static void check_image(struct run *r, struct fakefs *disk, uint64_t point, unsigned model,
			uint64_t seed)
{
	struct fakefs *g = fakefs_crash(disk, model, seed);
	const struct oracle *o = &r->o;
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct sl_wal *w = NULL;
	int rc;

	wal_cfg(r, &c, g);
	r->images++;
	rc = sl_wal_open(&c, &w, &rep);
	if (rc != 0) {
		fail(r, point, model, seed, "recovery failed, errno", (uint64_t)-rc);
		goto out;
	}
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
		check_image(r, disk, point, (unsigned)((point + v) % FF_MODELS), point * 131 + v);
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
	uint64_t min_images = 0;
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
	r.arena = aligned_alloc(64, (size_t)SLOTS * SLOT_SIZE);
	if (!r.arena)
		return 2;
	if (workload(&r, steps) != 0) {
		fprintf(stderr, "crash_enum: the workload itself failed\n");
		return 1;
	}
	if (r.mode != SL_WAL_DSYNC) /* no separate sync there to fail */
		scenario_restart_after_failure(&r);
	printf("crash_enum: mode %s seed %" PRIu64 ": %" PRIu64 " crash points, %" PRIu64
	       " images recovered (%" PRIu64 " torn tails cut, %" PRIu64 " damage reports, %" PRIu64
	       " truncations finished, %" PRIu64 " continued), %" PRIu64
	       " records written, %" PRIu64 " violations\n",
	       sl_wal_mode_name(r.mode), r.seed, r.points, r.images, r.torn, r.damaged, r.redone,
	       r.continued, r.o.last, r.failures);
	free(r.arena);
	if (r.images < min_images) {
		fprintf(stderr, "crash_enum: only %" PRIu64 " images, wanted %" PRIu64 "\n",
			r.images, min_images);
		return 1;
	}
	return r.failures ? 1 : 0;
}
