/* The WAL over real io_uring in a temporary directory: writes, recovery, errors. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <shiplog/crc32c.h>

#include "walrec.h"
#include "wal.h"

#define VMAX	   300u
#define ARENA_RECS 4096u

struct tw {
	char dir[64];
	struct sl_wal_config cfg;
	struct sl_wal *w;
	struct sl_wal_recovery rep;
	uint8_t *arena; /* record lsn lives at slot lsn % ARENA_RECS */
	uint64_t released;
	uint8_t rel_count[ARENA_RECS]; /* per handle: a record's bytes go back exactly once */
	int fault_op, fault_res, fault_after, short_once;
	/* the last read answer */
	int rd_status;
	uint64_t rd_first;
	uint32_t rd_n, rd_len;
	const uint8_t *rd_buf;
	bool rd_done;
	/* what tw_check expects: epoch/gen lo below split, hi from it */
	uint64_t split;
	uint32_t epoch_lo, epoch_hi, gen_lo, gen_hi;
	bool poke_marker; /* tw_open_marked damages the marker it writes */
};

static void tw_release(void *arg, uint64_t handle)
{
	struct tw *t = arg;

	t->released++;
	if (++t->rel_count[handle % ARENA_RECS] > 1)
		fail_msg("handle %llu released twice", (unsigned long long)handle);
}

static void tw_on_read(void *arg, uint64_t tag, int status, const uint8_t *buf, uint32_t len,
		       uint64_t first, uint32_t n)
{
	struct tw *t = arg;

	(void)tag;
	t->rd_status = status;
	t->rd_buf = buf;
	t->rd_len = len;
	t->rd_first = first;
	t->rd_n = n;
	t->rd_done = true;
}

static int tw_fault(void *arg, unsigned op, int32_t res)
{
	struct tw *t = arg;

	if (op == SL_WAL_OP_WRITE && t->short_once && res > 8) {
		t->short_once = 0;
		return res / 2; /* the kernel wrote it all; the WAL must write the rest again */
	}
	if ((int)op == t->fault_op && t->fault_after-- <= 0)
		return t->fault_res;
	return res;
}

static int tw_open(struct tw *t)
{
	int rc;

	t->cfg.dir = t->dir;
	t->cfg.arg = t;
	t->cfg.release = tw_release;
	t->cfg.on_read = tw_on_read;
	t->cfg.fault = tw_fault;
	rc = sl_wal_open(&t->cfg, &t->w, &t->rep);
	return rc;
}

static struct tw *tw_new(uint8_t mode)
{
	struct tw *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "%s/walXXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->dir));
	t->arena = aligned_alloc(64, (size_t)ARENA_RECS * 2048);
	assert_non_null(t->arena);
	sl_wal_config_default(&t->cfg);
	t->cfg.mode = mode;
	t->cfg.segment_bytes = 256 << 10;
	t->cfg.batch_bytes = 64 << 10;
	t->cfg.queue_records = 2048;
	t->cfg.cluster_id = 7;
	t->cfg.node_id = 2;
	t->fault_op = -1;
	t->epoch_lo = 1;
	assert_int_equal(tw_open(t), 0);
	return t;
}

static void tw_free(struct tw *t)
{
	char cmd[128];

	sl_wal_close(t->w);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t->arena);
	free(t);
}

/* Appends lsn from..to at epoch/gen and waits until all are flushed: 0 or -errno. */
static int tw_write(struct tw *t, uint64_t from, uint64_t to, uint32_t epoch, uint32_t gen)
{
	for (uint64_t lsn = from; lsn <= to; lsn++) {
		uint8_t *p = t->arena + (lsn % ARENA_RECS) * 2048;
		struct sl_rec_ref r = { .data = p, .handle = lsn };
		int rc;

		r.len = walrec_make(p, 2048, lsn, epoch, gen, VMAX);
		t->rel_count[lsn % ARENA_RECS] = 0; /* a new record in this slot */
		while ((rc = sl_wal_append(t->w, &r, 1, lsn > 3 ? lsn - 3 : 0)) == -EAGAIN) {
			sl_wal_submit(t->w);
			if ((rc = sl_wal_poll(t->w, true)) < 0)
				return rc;
		}
		if (rc < 0)
			return rc;
		if (lsn % 97 == 0 && (rc = sl_wal_submit(t->w)) < 0)
			return rc;
		if ((rc = sl_wal_poll(t->w, false)) < 0)
			return rc;
	}
	while (sl_wal_flushed_lsn(t->w, NULL) < to) {
		int rc = sl_wal_submit(t->w);

		if (rc < 0 || (rc = sl_wal_poll(t->w, true)) < 0)
			return rc;
	}
	return 0;
}

/* Reads lsn from..to back with sl_wal_read() and checks every record. */
static void tw_check(struct tw *t, uint64_t from, uint64_t to)
{
	static uint8_t buf[64 << 10];

	for (uint64_t lsn = from; lsn <= to;) {
		const uint8_t *p;

		t->rd_done = false;
		assert_int_equal(sl_wal_read(t->w, lsn, to, buf, sizeof(buf), 1), 0);
		while (!t->rd_done)
			assert_true(sl_wal_poll(t->w, true) >= 0);
		assert_int_equal(t->rd_status, 0);
		assert_int_equal(t->rd_first, lsn);
		assert_true(t->rd_n > 0);
		p = t->rd_buf;
		for (uint32_t i = 0; i < t->rd_n; i++, lsn++) {
			struct sl_record_view v;

			assert_int_equal(sl_record_decode(p, t->rd_len, &t->cfg.limits, 1, &v),
					 SL_OK);
			bool hi = t->split && lsn >= t->split;

			if (!walrec_check(p, v.total_len, lsn, hi ? t->epoch_hi : t->epoch_lo,
					  hi ? t->gen_hi : t->gen_lo, VMAX))
				fail_msg("record %llu differs", (unsigned long long)lsn);
			p += v.total_len;
		}
	}
}

static void tw_reopen(struct tw *t)
{
	sl_wal_close(t->w);
	t->w = NULL;
	assert_int_equal(tw_open(t), 0);
}

/* Byte offset in its segment file of record lsn (a fresh scan of the directory). */
static void tw_record_file(struct tw *t, uint64_t lsn, char *path, size_t cap, off_t *off)
{
	struct wal_probe {
		uint64_t first;
	} best = { 0 };
	char cmd[256];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls %s | grep '\\.wal$' | sort", t->dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(cmd, sizeof(cmd), f)) {
		uint64_t v = strtoull(cmd, NULL, 10);

		if (v <= lsn && v > best.first)
			best.first = v;
	}
	pclose(f);
	snprintf(path, cap, "%s/%020llu.wal", t->dir, (unsigned long long)best.first);
	{
		int fd = open(path, O_RDONLY);
		static uint8_t seg[256 << 10];
		ssize_t n;
		uint64_t at = SL_WAL_HDR_LEN, l = best.first;

		assert_true(fd >= 0);
		n = pread(fd, seg, sizeof(seg), 0);
		close(fd);
		assert_true(n > (ssize_t)SL_WAL_HDR_LEN);
		while (l < lsn) {
			struct sl_record_view v;

			assert_int_equal(
				sl_record_decode(seg + at, (size_t)n - at, &t->cfg.limits, 1, &v),
				SL_OK);
			at += v.total_len;
			l++;
		}
		*off = (off_t)at;
	}
}

static void poke(const char *path, off_t off, uint8_t x)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= x;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* ---- tests ------------------------------------------------------------------------ */

static void write_reopen_read(uint8_t mode)
{
	struct tw *t = tw_new(mode);
	struct sl_wal_stats st;

	assert_int_equal(t->rep.last_lsn, 0);
	assert_true(t->rep.may_lead);
	assert_int_equal(tw_write(t, 1, 3000, 1, 0), 0);
	assert_int_equal(t->released, 3000);
	sl_wal_stats(t->w, &st);
	assert_true(st.rollovers >= 3); /* 3000 records of ~180 B over 256 KiB segments */
	assert_true(st.batches < 3000); /* group commit gathered records */
	tw_check(t, 1, 3000);
	{
		struct sl_wal_status ws;

		/* direct writes come from the registered staging buffer (WRITE_FIXED) */
		sl_wal_status(t->w, &ws);
		assert_int_equal(ws.fixed_buf, mode == SL_WAL_DIRECT);
	}
	tw_reopen(t);
	assert_int_equal(t->rep.last_lsn, 3000);
	assert_int_equal(t->rep.last_epoch, 1);
	assert_int_equal(t->rep.torn_lsn, 0);
	assert_int_equal(t->rep.damaged_from, 0);
	assert_true(t->rep.commit_hint >= 2997 - 100 && t->rep.commit_hint <= 3000);
	tw_check(t, 1, 3000);
	tw_check(t, 1234, 1300);
	/* and it goes on where it stopped */
	assert_int_equal(tw_write(t, 3001, 3500, 2, 0), 0);
	tw_reopen(t);
	assert_int_equal(t->rep.last_lsn, 3500);
	assert_int_equal(t->rep.last_epoch, 2);
	assert_int_equal(t->rep.n_hist, 2);
	assert_int_equal(t->rep.hist[1].first_lsn, 3001);
	t->split = 3001;
	t->epoch_hi = 2;
	tw_check(t, 2990, 3500);
	tw_free(t);
}

static void test_buffered(void **state)
{
	(void)state;
	write_reopen_read(SL_WAL_BUFFERED);
}

static void test_dsync(void **state)
{
	(void)state;
	write_reopen_read(SL_WAL_DSYNC);
}

static void test_direct(void **state)
{
	(void)state;
	write_reopen_read(SL_WAL_DIRECT);
}

/* A divergent suffix goes, durably; the log continues from the cut in a new epoch. */
static void test_truncate(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	struct sl_wal_status st;

	(void)state;
	assert_int_equal(tw_write(t, 1, 2000, 1, 0), 0);
	assert_int_equal(sl_wal_truncate(t->w, 700), 0);
	sl_wal_status(t->w, &st);
	assert_int_equal(st.flushed_lsn, 700);
	assert_int_equal(st.flushed_epoch, 1);
	assert_true(st.segments <= 2); /* 700 records fit in two 256 KiB segments */
	assert_int_equal(tw_write(t, 701, 900, 3, 1), 0);
	t->split = 701;
	t->epoch_hi = 3;
	t->gen_hi = 1;
	tw_check(t, 600, 900);
	tw_reopen(t);
	assert_int_equal(t->rep.last_lsn, 900);
	assert_int_equal(t->rep.last_epoch, 3);
	assert_false(t->rep.redid_truncate);
	tw_check(t, 1, 900);
	/* appended, not yet written: dropped from the queue and handed back */
	assert_int_equal(sl_wal_truncate(t->w, 0 + 899), 0);
	assert_int_equal(sl_wal_truncate(t->w, 10), 0);
	tw_reopen(t);
	assert_int_equal(t->rep.last_lsn, 10);
	tw_check(t, 1, 10);
	tw_free(t);
}

/* A record cut short at the end is a torn tail: cut off, reported, the node may lead. */
static void test_torn_tail(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	char path[128];
	off_t off;

	(void)state;
	assert_int_equal(tw_write(t, 1, 500, 1, 0), 0);
	sl_wal_close(t->w);
	t->w = NULL;
	tw_record_file(t, 500, path, sizeof(path), &off);
	poke(path, off + 30, 0xff); /* inside the last record's body */
	assert_int_equal(tw_open(t), 0);
	assert_int_equal(t->rep.torn_lsn, 500);
	assert_true(t->rep.torn_bytes > 0);
	assert_int_equal(t->rep.last_lsn, 499);
	assert_true(t->rep.may_lead);
	tw_check(t, 1, 499);
	assert_int_equal(tw_write(t, 500, 600, 1, 0), 0);
	tw_reopen(t);
	assert_int_equal(t->rep.torn_lsn, 0);
	assert_int_equal(t->rep.last_lsn, 600);
	tw_free(t);
}

/* Damage followed by valid records: reported, refetch stored, no leading until then. */
static void test_corrupt_middle(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	char path[128];
	off_t off;

	(void)state;
	assert_int_equal(tw_write(t, 1, 1500, 1, 0), 0);
	sl_wal_close(t->w);
	t->w = NULL;
	tw_record_file(t, 321, path, sizeof(path), &off);
	poke(path, off + 5, 0x10); /* record 321's header */
	assert_int_equal(tw_open(t), 0);
	assert_int_equal(t->rep.damaged_from, 321);
	assert_int_equal(t->rep.damaged_to, 321);
	assert_int_equal(t->rep.refetch_lsn, 1500);
	assert_false(t->rep.may_lead);
	assert_int_equal(t->rep.last_lsn, 320);
	assert_int_equal(t->rep.torn_lsn, 0);
	tw_check(t, 1, 320);
	/* the refetch point survives a restart ... */
	tw_reopen(t);
	assert_false(t->rep.may_lead);
	assert_int_equal(t->rep.refetch_lsn, 1500);
	/* ... until the log holds it again (fetched from a peer) */
	assert_int_equal(tw_write(t, 321, 1500, 1, 0), 0);
	tw_reopen(t);
	assert_true(t->rep.may_lead);
	tw_check(t, 1, 1500);
	tw_free(t);
}

/* EIO or ENOSPC on a sync or a write: failed for good, flushed_lsn never moves again. */
static void fail_on(int op, int err, uint8_t mode)
{
	struct tw *t = tw_new(mode);
	uint64_t before;

	assert_int_equal(tw_write(t, 1, 100, 1, 0), 0);
	before = sl_wal_flushed_lsn(t->w, NULL);
	t->fault_op = op;
	t->fault_res = err;
	t->fault_after = 0;
	assert_int_equal(tw_write(t, 101, 200, 1, 0), err);
	assert_int_equal(sl_wal_flushed_lsn(t->w, NULL), before);
	t->fault_op = -1;
	/* no retry on the assumption that it worked */
	assert_int_equal(sl_wal_submit(t->w), err);
	assert_int_equal(sl_wal_poll(t->w, false), err);
	assert_int_equal(sl_wal_flushed_lsn(t->w, NULL), before);
	{
		uint8_t rec[2048];
		struct sl_rec_ref r = { .data = rec };

		r.len = walrec_make(rec, sizeof(rec), 201, 1, 0, VMAX);
		assert_int_equal(sl_wal_append(t->w, &r, 1, 0), err);
	}
	{
		struct sl_wal_status st;

		sl_wal_status(t->w, &st);
		assert_int_equal(st.failed, err);
	}
	tw_free(t);
}

static void test_sync_eio(void **state)
{
	(void)state;
	fail_on(SL_WAL_OP_SYNC, -EIO, SL_WAL_BUFFERED);
	fail_on(SL_WAL_OP_SYNC, -EIO, SL_WAL_DIRECT);
}

static void test_write_enospc(void **state)
{
	(void)state;
	fail_on(SL_WAL_OP_WRITE, -ENOSPC, SL_WAL_BUFFERED);
	fail_on(SL_WAL_OP_WRITE, -ENOSPC, SL_WAL_DIRECT);
}

/* A short write: the rest goes again and the log is whole. */
static void test_short_write(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	struct sl_wal_stats st;

	(void)state;
	t->short_once = 1;
	assert_int_equal(tw_write(t, 1, 300, 1, 0), 0);
	sl_wal_stats(t->w, &st);
	assert_int_equal(st.short_writes, 1);
	tw_reopen(t);
	assert_int_equal(t->rep.last_lsn, 300);
	tw_check(t, 1, 300);
	tw_free(t);
}

/* Snapshots: installed atomically, found at open; segments below them deleted. */
static void test_snapshot_retention(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	static uint8_t state_bytes[100000], back[100000];
	struct iovec iov[2] = { { state_bytes, 60000 }, { state_bytes + 60000, 40000 } };
	struct sl_wal_status st;
	static uint8_t buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(state_bytes); i++)
		state_bytes[i] = (uint8_t)(i * 13);
	assert_int_equal(tw_write(t, 1, 5000, 1, 0), 0);
	sl_wal_status(t->w, &st);
	assert_true(st.segments >= 4);
	assert_int_equal(sl_wal_snapshot_save(t->w, 6000, 1, iov, 2), -EINVAL); /* not written */
	assert_int_equal(sl_wal_snapshot_save(t->w, 4000, 1, iov, 2), 0);
	/* a follower still needs 100: kept while there is no byte limit */
	assert_int_equal(sl_wal_retain(t->w, 100), 0);
	t->cfg.retention_bytes = 256 << 10; /* one segment for followers */
	sl_wal_close(t->w);
	t->w = NULL;
	assert_int_equal(tw_open(t), 0);
	assert_int_equal(t->rep.snapshot_lsn, 4000);
	assert_int_equal(t->rep.snapshot_len, sizeof(state_bytes));
	assert_int_equal(t->rep.last_lsn, 5000);
	assert_int_equal(sl_wal_snapshot_load(t->w, back, sizeof(back)), sizeof(back));
	assert_memory_equal(back, state_bytes, sizeof(back));
	assert_true(sl_wal_retain(t->w, 100) > 0);
	sl_wal_status(t->w, &st);
	assert_true(st.first_lsn > 100 && st.first_lsn <= 4001);
	{
		struct sl_wal_stats s2;

		sl_wal_stats(t->w, &s2);
		assert_true(s2.retention_forced > 0);
	}
	/* that follower needs a snapshot now */
	assert_int_equal(sl_wal_read(t->w, 100, 200, buf, sizeof(buf), 1), -ENOENT);
	t->split = 0;
	tw_check(t, 4001, 5000);
	tw_reopen(t);
	assert_int_equal(t->rep.snapshot_lsn, 4000);
	assert_int_equal(t->rep.last_lsn, 5000);
	tw_check(t, 4001, 5000);
	tw_free(t);
}

/* A snapshot whose bytes changed is ignored, and an older WAL is used instead. */
static void test_bad_snapshot(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	uint8_t payload[5000];
	struct iovec iov = { payload, sizeof(payload) };
	char path[128];

	(void)state;
	memset(payload, 0xab, sizeof(payload));
	assert_int_equal(tw_write(t, 1, 400, 1, 0), 0);
	assert_int_equal(sl_wal_snapshot_save(t->w, 300, 1, &iov, 1), 0);
	sl_wal_close(t->w);
	t->w = NULL;
	snprintf(path, sizeof(path), "%s/%020llu.snap", t->dir, 300ull);
	poke(path, SL_WAL_SNAP_HDR_LEN + 77, 1);
	assert_int_equal(tw_open(t), 0);
	assert_int_equal(t->rep.bad_snapshots, 1);
	assert_int_equal(t->rep.snapshot_lsn, 0);
	assert_int_equal(t->rep.last_lsn, 400);
	tw_free(t);
}

/* Metadata that could not be read back is refused and nothing changes. */
static void test_meta_checks(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	struct sl_epoch_start h[2] = { { .epoch = 2, .first_lsn = 5 },
				       { .epoch = 3, .first_lsn = 5 } };

	(void)state;
	assert_int_equal(sl_wal_save_meta(t->w, 3, h, 2), -EINVAL); /* first_lsn not rising */
	assert_int_equal(sl_wal_save_meta(t->w, 2, h, 1), 0);
	assert_int_equal(sl_wal_save_meta(t->w, 1, h, 0), -EINVAL); /* epochs never go back */
	assert_int_equal(sl_wal_save_meta(t->w, 4, h, SL_EPOCH_HIST_MAX + 1), -EINVAL);
	tw_reopen(t);
	assert_int_equal(t->rep.epoch, 2);
	tw_free(t);
}

/* A directory that belongs to another node is refused. */
static void test_other_node(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);

	(void)state;
	assert_int_equal(tw_write(t, 1, 10, 1, 0), 0);
	sl_wal_close(t->w);
	t->w = NULL;
	t->cfg.node_id = 3;
	assert_int_equal(tw_open(t), -EUCLEAN);
	t->cfg.node_id = 2;
	assert_int_equal(tw_open(t), 0);
	tw_free(t);
}

/* Appends that do not continue the log change nothing. */
static void test_append_checks(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	uint8_t rec[2][2048];
	struct sl_rec_ref r[2] = { { .data = rec[0], .handle = 1 },
				   { .data = rec[1], .handle = 2 } };

	(void)state;
	r[0].len = walrec_make(rec[0], 2048, 1, 1, 0, VMAX);
	r[1].len = walrec_make(rec[1], 2048, 3, 1, 0, VMAX);
	assert_int_equal(sl_wal_append(t->w, r, 2, 0), -EINVAL);
	r[1].len = walrec_make(rec[1], 2048, 2, 1, 0, VMAX);
	assert_int_equal(sl_wal_append(t->w, r, 2, 0), 0);
	assert_int_equal(sl_wal_append(t->w, r, 1, 0), -EINVAL);
	tw_free(t);
}

/* ---- install: a snapshot from the leader replaces the log ---------------------------- */

/* A payload that tells installs apart: len bytes from salt. */
static void payload_fill(uint8_t *b, size_t len, uint32_t salt)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + salt * 131 + (i >> 8));
}

/* Installs a payload of len bytes (in two pieces) made from salt. */
static int tw_install(struct tw *t, uint64_t lsn, uint32_t epoch, size_t len, uint32_t salt)
{
	static uint8_t p[70000];
	struct iovec iov[2] = { { p, len / 3 }, { p + len / 3, len - len / 3 } };

	assert_true(len <= sizeof(p));
	payload_fill(p, len, salt);
	return sl_wal_install(t->w, lsn, epoch, iov, 2);
}

static void tw_check_payload(struct tw *t, size_t len, uint32_t salt)
{
	static uint8_t want[70000], got[70000];

	payload_fill(want, len, salt);
	assert_int_equal(sl_wal_snapshot_load(t->w, got, sizeof(got)), (int64_t)len);
	assert_memory_equal(got, want, len);
}

/* What sl_wal_install leaves, live: the log is the snapshot at lsn, nothing else. */
static void tw_check_installed(struct tw *t, uint64_t lsn, uint32_t epoch)
{
	static uint8_t buf[4096];
	struct sl_wal_status st;

	sl_wal_status(t->w, &st);
	assert_int_equal(st.first_lsn, lsn + 1);
	assert_int_equal(st.last_lsn, lsn);
	assert_int_equal(st.flushed_lsn, lsn);
	assert_int_equal(st.flushed_epoch, epoch);
	assert_int_equal(st.snapshot_lsn, lsn);
	assert_int_equal(st.segments, 0);
	assert_int_equal(st.queued, 0);
	assert_false(st.in_flight);
	assert_int_equal(st.failed, 0);
	assert_int_equal(sl_wal_read(t->w, 1, lsn, buf, sizeof(buf), 1), -ENOENT);
	assert_int_equal(sl_wal_read(t->w, lsn, lsn, buf, sizeof(buf), 1), -ENOENT);
	assert_int_equal(sl_wal_read(t->w, lsn + 1, lsn + 5, buf, sizeof(buf), 1), -EAGAIN);
}

/* What the reopened directory says after an install at lsn and nothing since. */
static void tw_check_reopened(struct tw *t, uint64_t lsn, uint32_t epoch)
{
	tw_reopen(t);
	assert_int_equal(t->rep.snapshot_lsn, lsn);
	assert_int_equal(t->rep.snapshot_epoch, epoch);
	assert_int_equal(t->rep.first_lsn, lsn + 1);
	assert_int_equal(t->rep.last_lsn, lsn);
	assert_int_equal(t->rep.last_epoch, epoch);
	assert_int_equal(t->rep.commit_hint, lsn);
	assert_int_equal(t->rep.segments, 0);
	assert_true(t->rep.may_lead);
	assert_int_equal(t->rep.torn_lsn, 0);
	assert_int_equal(t->rep.damaged_from, 0);
	assert_false(t->rep.redid_install);
	tw_check_installed(t, lsn, epoch);
}

/* Files in the WAL directory whose names end with suffix. */
static int tw_count(struct tw *t, const char *suffix)
{
	char cmd[160];
	FILE *f;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "ls %s", t->dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(cmd, sizeof(cmd), f)) {
		size_t a = strcspn(cmd, "\n"), b = strlen(suffix);

		cmd[a] = 0;
		n += a >= b && strcmp(cmd + a - b, suffix) == 0;
	}
	pclose(f);
	return n;
}

/*
 * Above the log's end, with a batch in flight, records queued and a read outstanding:
 * the batch and the read finish first, the queued records go back unwritten, and the
 * log continues from lsn + 1 in a segment of its own, across a restart.
 */
static void install_above(uint8_t mode)
{
	struct tw *t = tw_new(mode);
	static uint8_t buf[16 << 10];
	struct sl_wal_stats st;

	assert_int_equal(tw_write(t, 1, 2000, 1, 0), 0);
	for (uint64_t lsn = 2001; lsn <= 2010; lsn++) {
		uint8_t *p = t->arena + (lsn % ARENA_RECS) * 2048;
		struct sl_rec_ref r = { .data = p, .handle = lsn };

		r.len = walrec_make(p, 2048, lsn, 1, 0, VMAX);
		assert_int_equal(sl_wal_append(t->w, &r, 1, 0), 0);
		if (lsn == 2005)
			assert_int_equal(sl_wal_submit(t->w), 5);
	}
	t->rd_done = false;
	assert_int_equal(sl_wal_read(t->w, 10, 20, buf, sizeof(buf), 1), 0);
	assert_int_equal(tw_install(t, 3000, 2, 50000, 1), 0);
	assert_true(t->rd_done);
	assert_int_equal(t->rd_status, 0);
	assert_int_equal(t->released, 2010);
	tw_check_installed(t, 3000, 2);
	tw_check_payload(t, 50000, 1);
	sl_wal_stats(t->w, &st);
	assert_int_equal(st.installs, 1);
	assert_true(tw_count(t, ".wal") == 0 && tw_count(t, ".snap") == 1);
	assert_int_equal(tw_count(t, "install"), 0);
	/* appends go on from lsn + 1, in a new segment */
	t->split = 3001;
	t->epoch_hi = 2;
	assert_int_equal(tw_write(t, 3001, 3400, 2, 0), 0);
	tw_check(t, 3001, 3400);
	assert_int_equal(sl_wal_read(t->w, 2999, 3001, buf, sizeof(buf), 1), -ENOENT);
	tw_reopen(t);
	assert_int_equal(t->rep.snapshot_lsn, 3000);
	assert_int_equal(t->rep.first_lsn, 3001);
	assert_int_equal(t->rep.last_lsn, 3400);
	assert_int_equal(t->rep.last_epoch, 2);
	assert_true(t->rep.may_lead);
	assert_int_equal(t->rep.torn_lsn, 0);
	assert_int_equal(t->rep.damaged_from, 0);
	tw_check(t, 3001, 3400);
	tw_check_payload(t, 50000, 1);
	tw_free(t);
}

static void test_install_above(void **state)
{
	(void)state;
	install_above(SL_WAL_BUFFERED);
	install_above(SL_WAL_DSYNC);
	install_above(SL_WAL_DIRECT);
}

/*
 * Below the log's end and below its snapshot: the old records at and below lsn go too
 * (the leader's may differ), and so does the newer snapshot, or recovery would take it.
 */
static void test_install_below(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	uint8_t old[3000];
	struct iovec iov = { old, sizeof(old) };
	struct sl_wal_status st;

	(void)state;
	memset(old, 0x5a, sizeof(old));
	assert_int_equal(tw_write(t, 1, 2000, 1, 0), 0);
	assert_int_equal(sl_wal_snapshot_save(t->w, 1500, 1, &iov, 1), 0);
	assert_int_equal(tw_install(t, 700, 3, 20000, 2), 0);
	tw_check_installed(t, 700, 3);
	tw_check_payload(t, 20000, 2);
	assert_int_equal(tw_count(t, ".snap"), 1);
	tw_check_reopened(t, 700, 3);
	tw_check_payload(t, 20000, 2);
	/* the leader's records from 701 on, in a later epoch, other contents */
	t->split = 701;
	t->epoch_hi = 4;
	t->gen_hi = 1;
	assert_int_equal(tw_write(t, 701, 900, 4, 1), 0);
	tw_check(t, 701, 900);
	/* the epoch of record lsn is known: a cut back to it finds it */
	assert_int_equal(sl_wal_truncate(t->w, 700), 0);
	sl_wal_status(t->w, &st);
	assert_int_equal(st.flushed_lsn, 700);
	assert_int_equal(st.flushed_epoch, 3);
	assert_int_equal(tw_write(t, 701, 750, 4, 1), 0);
	tw_reopen(t);
	assert_int_equal(t->rep.snapshot_lsn, 700);
	assert_int_equal(t->rep.first_lsn, 701);
	assert_int_equal(t->rep.last_lsn, 750);
	assert_int_equal(t->rep.last_epoch, 4);
	tw_check(t, 701, 750);
	tw_free(t);
}

/* At the log's end exactly: the records the snapshot covers are dropped all the same. */
static void test_install_equal(void **state)
{
	struct tw *t = tw_new(SL_WAL_DIRECT);

	(void)state;
	assert_int_equal(tw_write(t, 1, 500, 1, 0), 0);
	assert_int_equal(tw_install(t, 500, 1, 4096, 3), 0);
	tw_check_installed(t, 500, 1);
	tw_check_reopened(t, 500, 1);
	tw_check_payload(t, 4096, 3);
	assert_int_equal(tw_write(t, 501, 700, 1, 0), 0);
	tw_reopen(t);
	assert_int_equal(t->rep.last_lsn, 700);
	tw_check(t, 501, 700);
	tw_free(t);
}

/* Installs one after another, the same LSN again with another payload, then lower. */
static void test_install_twice(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);

	(void)state;
	assert_int_equal(tw_write(t, 1, 300, 1, 0), 0);
	assert_int_equal(tw_install(t, 400, 2, 9000, 4), 0);
	assert_int_equal(tw_install(t, 400, 2, 7000, 5), 0);
	tw_check_installed(t, 400, 2);
	tw_check_payload(t, 7000, 5);
	assert_int_equal(tw_write(t, 401, 450, 2, 0), 0);
	assert_int_equal(tw_install(t, 350, 2, 6000, 6), 0);
	tw_check_installed(t, 350, 2);
	tw_check_reopened(t, 350, 2);
	tw_check_payload(t, 6000, 6);
	assert_int_equal(tw_count(t, ".snap"), 1);
	assert_int_equal(tw_install(t, 360, 3, 100, 7), 0);
	tw_check_reopened(t, 360, 3);
	tw_check_payload(t, 100, 7);
	tw_free(t);
}

/* Refused arguments change nothing; a failed WAL installs nothing. */
static void test_install_checks(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	uint8_t p[16];
	struct iovec iov[17];
	struct sl_wal_status st;

	(void)state;
	for (int i = 0; i < 17; i++)
		iov[i] = (struct iovec){ p, sizeof(p) };
	assert_int_equal(tw_write(t, 1, 100, 1, 0), 0);
	assert_int_equal(sl_wal_install(t->w, 0, 1, iov, 1), -EINVAL);
	assert_int_equal(sl_wal_install(t->w, 50, 1, iov, 17), -EINVAL);
	sl_wal_status(t->w, &st);
	assert_int_equal(st.last_lsn, 100);
	assert_int_equal(st.snapshot_lsn, 0);
	assert_int_equal(sl_wal_install(t->w, 50, 1, iov, 16), 0); /* 16 pieces are fine */
	tw_check_installed(t, 50, 1);
	t->fault_op = SL_WAL_OP_SYNC;
	t->fault_res = -EIO;
	t->fault_after = 0;
	assert_int_equal(tw_write(t, 51, 60, 1, 0), -EIO);
	assert_int_equal(sl_wal_install(t->w, 80, 1, iov, 1), -EIO);
	tw_free(t);
}

/*
 * Closes the WAL, leaves in its directory the marker of an install cut short by a crash
 * (WAL_INSTALL: the header of the snapshot at lsn with payload p[0..len)), and opens it
 * again: what sl_wal_open answers.
 */
static int tw_open_marked(struct tw *t, uint64_t lsn, const uint8_t *p, uint32_t len)
{
	static uint8_t hdr[SL_WAL_SNAP_HDR_LEN];
	struct sl_wal_snap_hdr h = {
		.lsn = lsn, .payload_len = len, .cluster_id = 7, .node_id = 2, .epoch = 1
	};
	char path[128];
	int fd;

	sl_wal_close(t->w);
	t->w = NULL;
	h.payload_crc = sl_crc32c(0, p, len);
	sl_wal_snap_hdr_write(hdr, &h);
	snprintf(path, sizeof(path), "%s/install", t->dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	close(fd);
	if (t->poke_marker)
		poke(path, 9, 1);
	return tw_open(t);
}

/*
 * An install a crash cut short, as recovery finds it: a marker whose snapshot is in
 * place is finished (the old log goes); one whose snapshot is not is dropped (the old
 * log stands); one that is damaged is refused.
 */
static void test_install_recovery(void **state)
{
	struct tw *t = tw_new(SL_WAL_BUFFERED);
	uint8_t p[3000];
	struct iovec iov = { p, sizeof(p) };
	char path[128];

	(void)state;
	memset(p, 0x3c, sizeof(p));
	assert_int_equal(tw_write(t, 1, 800, 1, 0), 0);
	assert_int_equal(sl_wal_snapshot_save(t->w, 300, 1, &iov, 1), 0);
	/* not decided: no snapshot at 600 */
	assert_int_equal(tw_open_marked(t, 600, p, sizeof(p)), 0);
	assert_false(t->rep.redid_install);
	assert_int_equal(t->rep.snapshot_lsn, 300);
	assert_int_equal(t->rep.last_lsn, 800);
	assert_int_equal(tw_count(t, "install"), 0);
	tw_check(t, 1, 800);
	/* not decided: the snapshot at 300 is another one (the one it was to replace) */
	assert_int_equal(tw_open_marked(t, 300, p, 100), 0);
	assert_false(t->rep.redid_install);
	assert_int_equal(t->rep.last_lsn, 800);
	/* decided: the snapshot at 300 is the one named */
	assert_int_equal(tw_open_marked(t, 300, p, sizeof(p)), 0);
	assert_true(t->rep.redid_install);
	assert_int_equal(t->rep.snapshot_lsn, 300);
	assert_int_equal(t->rep.first_lsn, 301);
	assert_int_equal(t->rep.last_lsn, 300);
	assert_int_equal(t->rep.segments, 0);
	assert_true(t->rep.may_lead);
	assert_int_equal(tw_count(t, "install") + tw_count(t, ".wal"), 0);
	tw_check_installed(t, 300, 1);
	/* damaged: refused, whatever it named */
	t->poke_marker = true;
	assert_int_equal(tw_open_marked(t, 300, p, sizeof(p)), -EUCLEAN);
	snprintf(path, sizeof(path), "%s/install", t->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tw_open(t), 0);
	tw_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffered),       cmocka_unit_test(test_dsync),
		cmocka_unit_test(test_direct),	       cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_torn_tail),      cmocka_unit_test(test_corrupt_middle),
		cmocka_unit_test(test_sync_eio),       cmocka_unit_test(test_write_enospc),
		cmocka_unit_test(test_short_write),    cmocka_unit_test(test_snapshot_retention),
		cmocka_unit_test(test_bad_snapshot),   cmocka_unit_test(test_meta_checks),
		cmocka_unit_test(test_other_node),     cmocka_unit_test(test_append_checks),
		cmocka_unit_test(test_install_above),  cmocka_unit_test(test_install_below),
		cmocka_unit_test(test_install_equal),  cmocka_unit_test(test_install_twice),
		cmocka_unit_test(test_install_checks), cmocka_unit_test(test_install_recovery),
	};

	void *probe;

	/* A kernel or sandbox without io_uring cannot run these: say so (liburing's habit). */
	if (sl_wal_uring_create("/", 8, 4, &probe) < 0) {
		printf("SKIP: io_uring is not available here\n");
		return 77;
	}
	sl_wal_uring_ops.destroy(probe);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
