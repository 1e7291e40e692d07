/*
 * The WAL on a real disk: group commit over io_uring (cfg.io = NULL), one thread
 * polling as a persistence core does, records pre-encoded and appended zero-copy.
 *
 * usage: wal_bench --dir DIR [--value B] [--records N] [--mode buffered|dsync|direct]
 *                  [--rate R] [--segment-mb MB] [--batch-kb KB] [--queue N] [--window N]
 *                  [--stride B] [--time-cap S] [--wait] [--keep] [--json]
 *
 * A fresh directory DIR/wal-XXXXXX holds the WAL; it is removed at the end unless
 * --keep (its path is printed, for `shiplog-waldump --verify`). The record is a PUT
 * with an 8-byte key: 24 B header + 8 + value, padded to 8 (--value 32, 992, 4064 make
 * 64 B, 1 KiB, 4 KiB records). --rate R offers R records/s (open loop, appended when
 * due); 0 appends whenever fewer than --window records are unflushed (closed loop;
 * default two batches' worth: one in flight, one waiting).
 * --stride B places records B bytes apart in memory (default: contiguous; 2048 looks
 * like one record per mbuf, one iovec each).
 *
 * Measured: for every record, its append to the moment flushed_lsn covers it; for
 * every batch, the sl_wal_submit() call that started it to flushed_lsn moving (the
 * WAL's own work, the write, the sync, and a rollover when the batch opened a segment);
 * and the time spent inside sl_wal_submit() (io_uring may do a buffered write inline).
 * Throughput and syncs come from sl_wal_stats, taken after a warm-up batch that also
 * creates the first segment. Afterwards the WAL is reopened and recovery must find
 * every record. Stops after N records or --time-cap seconds (default 60), whichever
 * comes first. MB is 10^6 bytes, as fio reports it.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wal.h"

#define WARMUP	     256u /* records flushed before the clock starts */
#define KEY_LEN	     8u
#define DRAIN_MAX_NS 10000000000ull /* a batch not flushed by then: the WAL stalled */
#define EPOCH	     1u
#define NS_PER_S     1000000000ull

struct opts {
	const char *dir;
	uint32_t value_len;
	uint64_t records;
	int mode;
	double rate; /* records/s; 0: closed loop */
	uint32_t segment_mb;
	uint32_t batch_kb;
	uint32_t queue;	 /* cfg.queue_records */
	uint32_t window; /* closed loop: unflushed records at most */
	uint32_t stride; /* bytes between records in memory; 0: contiguous */
	double time_cap_s;
	bool wait; /* closed loop: block in sl_wal_poll() while the window is full */
	bool keep;
	bool json;
};

struct bench {
	struct opts o;
	char path[PATH_MAX];
	struct sl_wal_config cfg;
	struct sl_wal *w;
	uint8_t *buf;
	struct sl_rec_ref *refs; /* record i has LSN i + 1; the first WARMUP are warm-up */
	uint32_t rec_len;
	uint64_t *rec_ns;    /* per measured record: append time, then latency */
	uint64_t *batch_ns;  /* per batch: submit called to flushed_lsn moving */
	uint64_t *submit_ns; /* per batch: time inside sl_wal_submit() */
	uint64_t n_batches;
	uint64_t released;  /* release callbacks, in handle order */
	bool release_order; /* false once one came out of order */
	uint64_t appended;  /* measured records appended */
	uint64_t submitted; /* LSN of the last record submitted */
	uint64_t flushed;   /* LSN flushed */
	bool in_flight;
	uint64_t batch_t;    /* sl_wal_submit() called for the batch in flight */
	uint64_t t0, t_end;  /* first append, last flush */
	uint64_t max_lag_ns; /* open loop: how late an append was, at worst */
	struct sl_wal_stats st0, st1;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double pct_us(const uint64_t *v, uint64_t n, double p)
{
	double x = p / 100.0 * (double)n;
	uint64_t k = (uint64_t)x;

	k += (double)k < x;
	if (n == 0)
		return 0;
	return (double)v[k ? k - 1 : 0] / 1e3;
}

static void on_release(void *arg, uint64_t handle)
{
	struct bench *b = arg;

	/* The WAL hands bytes back in LSN order: written (or copied, O_DIRECT) in order. */
	if (handle != b->released)
		b->release_order = false;
	b->released++;
}

static void window_set(struct bench *b)
{
	b->rec_len = sl_record_size(0, KEY_LEN, b->o.value_len);
	/* Closed loop: a full batch waits while one is in flight, so every batch is full
	 * and a record waits about two flushes; a deeper queue would only add waiting. */
	if (!b->o.window)
		b->o.window = b->o.rate > 0 ? b->o.queue
					    : 2 * ((b->o.batch_kb << 10) - 4096) / b->rec_len;
	if (b->o.window > b->o.queue)
		b->o.window = b->o.queue;
	if (!b->o.window)
		b->o.window = 1;
}

/* Encodes every record (LSN i + 1, epoch 1) before anything is timed. */
static int records_make(struct bench *b)
{
	uint64_t total = WARMUP + b->o.records;
	uint32_t stride;
	uint8_t *val = malloc(b->o.value_len + 1);
	char key[KEY_LEN + 1];

	stride = b->o.stride ? b->o.stride : b->rec_len;
	if (stride < b->rec_len || stride % SL_REC_ALIGN != 0) {
		fprintf(stderr, "wal_bench: --stride must be a multiple of 8, at least %u\n",
			b->rec_len);
		free(val);
		return -EINVAL;
	}
	b->buf = aligned_alloc(4096, ((size_t)total * stride + 4095) & ~(size_t)4095);
	b->refs = calloc(total, sizeof(*b->refs));
	b->rec_ns = calloc(b->o.records, sizeof(*b->rec_ns));
	b->batch_ns = calloc(total, sizeof(*b->batch_ns)); /* a batch has a record */
	b->submit_ns = calloc(total, sizeof(*b->submit_ns));
	if (!val || !b->buf || !b->refs || !b->rec_ns || !b->batch_ns || !b->submit_ns) {
		fprintf(stderr, "wal_bench: cannot allocate %" PRIu64 " records of %u B\n", total,
			stride);
		free(val);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < total; i++) {
		struct sl_record_desc d = { .lsn = i + 1, .epoch = EPOCH, .type = SL_REC_PUT };
		uint8_t *p = b->buf + i * stride;

		snprintf(key, sizeof(key), "%08" PRIx64, (i + 1) & 0xffffffffu);
		memset(val, (int)(i * 31), b->o.value_len);
		d.key = key;
		d.key_len = KEY_LEN;
		d.val = val;
		d.val_len = b->o.value_len;
		if (sl_record_encode(p, b->rec_len, &d) != b->rec_len) {
			free(val);
			return -EINVAL;
		}
		b->refs[i] = (struct sl_rec_ref){ .data = p, .len = b->rec_len, .handle = i };
	}
	free(val);
	return 0;
}

static void config_make(struct bench *b)
{
	struct sl_wal_config *c = &b->cfg;

	sl_wal_config_default(c);
	c->dir = b->path;
	c->cluster_id = 1;
	c->node_id = 1;
	c->mode = (uint8_t)b->o.mode;
	c->segment_bytes = (uint64_t)b->o.segment_mb << 20;
	c->batch_bytes = b->o.batch_kb << 10;
	c->queue_records = b->o.queue;
	/* 4 KiB values need more than the default 1 KiB; batch_bytes >= record max + 4 KiB. */
	c->limits.val_max = b->o.value_len > 8192 ? b->o.value_len : 8192;
	c->release = on_release;
	c->arg = b;
}

/* Fails the run: the WAL's numbers did not add up. */
static int bench_bad(const char *what, uint64_t got, uint64_t want)
{
	fprintf(stderr, "wal_bench: %s: %" PRIu64 ", expected %" PRIu64 "\n", what, got, want);
	return -EPROTO;
}

/* flushed_lsn moved: it must end the batch in flight; every record in it is done. */
static int on_flushed(struct bench *b, uint64_t t)
{
	uint32_t epoch;
	uint64_t f = sl_wal_flushed_lsn(b->w, &epoch);

	if (!b->in_flight || f != b->submitted || epoch != EPOCH)
		return bench_bad("flushed_lsn after a batch", f, b->submitted);
	for (uint64_t lsn = b->flushed + 1; lsn <= f; lsn++)
		if (lsn > WARMUP)
			b->rec_ns[lsn - WARMUP - 1] = t - b->rec_ns[lsn - WARMUP - 1];
	b->flushed = f;
	b->batch_ns[b->n_batches++] = t - b->batch_t;
	b->in_flight = false;
	b->t_end = t;
	return 0;
}

/* Appends the records due now: all the window allows (closed loop), or by the rate. */
static int append_due(struct bench *b, uint64_t now)
{
	uint64_t want = b->o.records, unflushed = WARMUP + b->appended - b->flushed, n;
	int rc;

	if (b->o.rate > 0) {
		uint64_t due = (uint64_t)((double)(now - b->t0) * b->o.rate / 1e9) + 1;

		want = due < want ? due : want;
	}
	if (want <= b->appended || unflushed >= b->o.window)
		return 0;
	n = want - b->appended;
	n = n < b->o.window - unflushed ? n : b->o.window - unflushed;
	if (b->o.rate > 0) {
		uint64_t due_ns = b->t0 + (uint64_t)((double)b->appended * 1e9 / b->o.rate);

		if (now > due_ns && now - due_ns > b->max_lag_ns)
			b->max_lag_ns = now - due_ns;
	}
	rc = sl_wal_append(b->w, &b->refs[WARMUP + b->appended], (uint32_t)n, 0);
	if (rc == -EAGAIN)
		return 0; /* counted by the WAL (append_full); the window should prevent it */
	if (rc < 0)
		return rc;
	for (uint64_t i = 0; i < n; i++)
		b->rec_ns[b->appended + i] = now;
	b->appended += n;
	return 0;
}

static int submit(struct bench *b)
{
	uint64_t t;
	int rc;

	if (b->in_flight)
		return 0;
	t = now_ns();
	rc = sl_wal_submit(b->w);
	if (rc > 0) {
		b->batch_t = t;
		b->submit_ns[b->n_batches] = now_ns() - t;
		b->in_flight = true;
		b->submitted += (uint64_t)rc;
	}
	return rc < 0 ? rc : 0;
}

/* Whether a record may be appended before the batch in flight is flushed (open loop: yes). */
static bool can_append(const struct bench *b)
{
	return b->o.rate > 0 ||
	       (b->appended < b->o.records && WARMUP + b->appended - b->flushed < b->o.window);
}

/*
 * The measured loop: poll, submit when nothing is in flight, append what is due. It
 * spins, as a persistence core does; --wait blocks in the poll instead when nothing
 * can be appended (closed loop), leaving the CPU to the kernel's io_uring workers.
 */
static int bench_loop(struct bench *b)
{
	uint64_t cap = (uint64_t)(b->o.time_cap_s * 1e9), stop_at = 0;
	int rc = 0;

	b->t0 = b->t_end = now_ns();
	while (rc >= 0 && (b->appended < b->o.records || b->flushed < WARMUP + b->appended)) {
		uint64_t now = now_ns();

		rc = sl_wal_poll(b->w, b->o.wait && b->in_flight && !can_append(b));
		if (rc == 1)
			rc = on_flushed(b, now_ns());
		if (rc < 0)
			break;
		if (!stop_at && now - b->t0 >= cap) {
			stop_at = now; /* time is up: drain what was appended */
			b->o.records = b->appended;
		}
		/* What waited during the last flush goes first; then new records, which
		 * start a batch of their own when none is in flight. */
		rc = submit(b);
		if (rc >= 0 && !stop_at)
			rc = append_due(b, now_ns());
		if (rc >= 0)
			rc = submit(b);
		if (stop_at && now - stop_at > DRAIN_MAX_NS)
			return bench_bad("WAL stalled: flushed_lsn", b->flushed,
					 WARMUP + b->appended);
	}
	if (rc < 0)
		fprintf(stderr, "wal_bench: WAL error: %s\n", strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* Warm-up: the first segment is created and one batch is flushed before timing. */
static int warm_up(struct bench *b)
{
	struct sl_epoch_start hist = { .epoch = EPOCH, .first_lsn = 1 };
	uint64_t t = now_ns();
	/* As a node does: the epoch is durable before its first record is appended. */
	int rc = sl_wal_save_meta(b->w, EPOCH, &hist, 1);

	if (rc == 0)
		rc = sl_wal_append(b->w, b->refs, WARMUP, 0);
	if (rc == 0)
		rc = submit(b);
	while (rc >= 0 && b->flushed < WARMUP) {
		if (now_ns() - t > DRAIN_MAX_NS)
			return bench_bad("WAL stalled in warm-up: flushed_lsn", b->flushed, WARMUP);
		rc = sl_wal_poll(b->w, false);
		if (rc == 1)
			rc = on_flushed(b, now_ns());
		if (rc >= 0 && !b->in_flight)
			rc = submit(b);
	}
	b->n_batches = 0;
	sl_wal_stats(b->w, &b->st0);
	return rc < 0 ? rc : 0;
}

/* Recovery must find exactly the records written: last LSN, epoch, nothing torn. */
static int reopen_check(struct bench *b, double *open_ms)
{
	struct sl_wal_recovery rep;
	struct sl_wal *w;
	uint64_t t = now_ns();
	int rc = sl_wal_open(&b->cfg, &w, &rep);

	*open_ms = (double)(now_ns() - t) / 1e6;
	if (rc < 0) {
		fprintf(stderr, "wal_bench: reopen: %s\n", strerror(-rc));
		return rc;
	}
	sl_wal_close(w);
	if (rep.last_lsn != b->flushed || rep.last_epoch != EPOCH || rep.first_lsn != 1)
		return bench_bad("recovered last_lsn", rep.last_lsn, b->flushed);
	if (rep.torn_lsn || rep.damaged_from || rep.refetch_lsn)
		return bench_bad("recovery cut off from LSN", rep.torn_lsn | rep.damaged_from, 0);
	return 0;
}

static int dir_remove(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int fd, rc = 0;

	if (!d)
		return -errno;
	fd = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc |= unlinkat(fd, de->d_name, 0);
	closedir(d);
	rc |= rmdir(path);
	return rc ? -errno : 0;
}

/* What one run measured; the summary line prints every field. */
struct result {
	uint64_t records, bytes, syncs, batches, rollovers;
	double elapsed_s, rec_per_batch;
	double rec_us[4], flush_us[4], submit_us[4]; /* p50, p99, p99.9, max */
};

static void result_make(struct bench *b, struct result *r)
{
	static const double pcts[4] = { 50, 99, 99.9, 100 };
	const struct sl_wal_stats *s0 = &b->st0, *s1 = &b->st1;
	uint64_t nb = b->n_batches;

	r->records = b->flushed - WARMUP;
	r->bytes = s1->bytes_written - s0->bytes_written;
	r->syncs = s1->syncs - s0->syncs;
	r->batches = s1->batches - s0->batches;
	r->rollovers = s1->rollovers - s0->rollovers;
	r->elapsed_s = (double)(b->t_end - b->t0) / 1e9;
	r->rec_per_batch =
		r->batches ? (double)(s1->batch_records - s0->batch_records) / (double)r->batches
			   : 0;
	qsort(b->rec_ns, r->records, sizeof(*b->rec_ns), cmp_u64);
	qsort(b->batch_ns, nb, sizeof(*b->batch_ns), cmp_u64);
	qsort(b->submit_ns, nb, sizeof(*b->submit_ns), cmp_u64);
	for (int i = 0; i < 4; i++) {
		r->rec_us[i] = pct_us(b->rec_ns, r->records, pcts[i]);
		r->flush_us[i] = pct_us(b->batch_ns, nb, pcts[i]);
		r->submit_us[i] = pct_us(b->submit_ns, nb, pcts[i]);
	}
}

static void report_text(const struct bench *b, const struct result *r, double open_ms)
{
	const struct sl_wal_stats *s0 = &b->st0, *s1 = &b->st1;
	double el = r->elapsed_s;

	printf("wal_bench: mode %s, record %u B (value %u B), %" PRIu64 " records, offered %.0f "
	       "records/s (0: closed loop, window %u), batch %u KiB, segment %u MiB\n",
	       sl_wal_mode_name((unsigned)b->o.mode), b->rec_len, b->o.value_len, r->records,
	       b->o.rate, b->o.window, b->o.batch_kb, b->o.segment_mb);
	printf("  throughput     %.0f records/s  %.1f MB/s  %.0f syncs/s  %.0f batches/s  %.1f "
	       "records/batch  %.0f B/batch  (%.3f s)\n",
	       (double)r->records / el, (double)r->bytes / el / 1e6, (double)r->syncs / el,
	       (double)r->batches / el, r->rec_per_batch,
	       r->batches ? (double)r->bytes / (double)r->batches : 0, el);
	printf("  record latency p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
	       r->rec_us[0], r->rec_us[1], r->rec_us[2], r->rec_us[3]);
	printf("  batch flush    p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
	       r->flush_us[0], r->flush_us[1], r->flush_us[2], r->flush_us[3]);
	printf("  inside submit  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
	       r->submit_us[0], r->submit_us[1], r->submit_us[2], r->submit_us[3]);
	printf("  rollovers %" PRIu64 ", short writes %" PRIu64 ", append_full %" PRIu64
	       ", bytes copied %" PRIu64 ", open-loop lag max %.1f us, reopen %.1f ms\n",
	       r->rollovers, s1->short_writes - s0->short_writes, s1->append_full - s0->append_full,
	       s1->bytes_copied - s0->bytes_copied, (double)b->max_lag_ns / 1e3, open_ms);
}

/* One line: key=value pairs, or a JSON object with --json. */
static void report_line(const struct bench *b, const struct result *r)
{
	const char *const names[] = {
		"rec_s",	 "mb_s",	  "syncs_s",	   "batches_s",	   "rec_per_batch",
		"batch_bytes",	 "rec_p50_us",	  "rec_p99_us",	   "rec_p999_us",  "rec_max_us",
		"flush_p50_us",	 "flush_p99_us",  "flush_p999_us", "flush_max_us", "submit_p50_us",
		"submit_p99_us", "submit_max_us", "lag_max_us",	   "elapsed_s"
	};
	double el = r->elapsed_s;
	const double v[] = { (double)r->records / el,
			     (double)r->bytes / el / 1e6,
			     (double)r->syncs / el,
			     (double)r->batches / el,
			     r->rec_per_batch,
			     r->batches ? (double)r->bytes / (double)r->batches : 0,
			     r->rec_us[0],
			     r->rec_us[1],
			     r->rec_us[2],
			     r->rec_us[3],
			     r->flush_us[0],
			     r->flush_us[1],
			     r->flush_us[2],
			     r->flush_us[3],
			     r->submit_us[0],
			     r->submit_us[1],
			     r->submit_us[3],
			     (double)b->max_lag_ns / 1e3,
			     el };
	const char *q = b->o.json ? "\"" : "";

	_Static_assert(sizeof(names) / sizeof(names[0]) == sizeof(v) / sizeof(v[0]), "summary");
	printf(b->o.json ? "{\"mode\":\"%s\",\"record_bytes\":%u,\"value_bytes\":%u,\"rate\":%.0f,"
			   "\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"syncs\":%" PRIu64
			   ",\"batches\":%" PRIu64 ",\"rollovers\":%" PRIu64
			 : "wal_bench: mode=%s record_bytes=%u value_bytes=%u rate=%.0f "
			   "records=%" PRIu64 " bytes=%" PRIu64 " syncs=%" PRIu64
			   " batches=%" PRIu64 " rollovers=%" PRIu64,
	       sl_wal_mode_name((unsigned)b->o.mode), b->rec_len, b->o.value_len, b->o.rate,
	       r->records, r->bytes, r->syncs, r->batches, r->rollovers);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		printf("%s%s%s%s%s%.6g", b->o.json ? "," : " ", q, names[i], q,
		       b->o.json ? ":" : "=", v[i]);
	printf(b->o.json ? "}\n" : "\n");
}

static int opts_parse(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = { { "dir", required_argument, 0, 'd' },
					    { "value", required_argument, 0, 'v' },
					    { "records", required_argument, 0, 'n' },
					    { "mode", required_argument, 0, 'm' },
					    { "rate", required_argument, 0, 'r' },
					    { "segment-mb", required_argument, 0, 's' },
					    { "batch-kb", required_argument, 0, 'b' },
					    { "queue", required_argument, 0, 'q' },
					    { "window", required_argument, 0, 'w' },
					    { "stride", required_argument, 0, 'S' },
					    { "time-cap", required_argument, 0, 't' },
					    { "keep", no_argument, 0, 'k' },
					    { "wait", no_argument, 0, 'W' },
					    { "json", no_argument, 0, 'j' },
					    { 0, 0, 0, 0 } };
	int c;

	*o = (struct opts){ .value_len = 32,
			    .records = 200000,
			    .mode = SL_WAL_BUFFERED,
			    .segment_mb = 64,
			    .batch_kb = 1024,
			    .queue = 65536,
			    .time_cap_s = 60 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'd')
			o->dir = optarg;
		else if (c == 'v')
			o->value_len = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'n')
			o->records = strtoull(optarg, NULL, 10);
		else if (c == 'm')
			o->mode = sl_wal_mode_parse(optarg);
		else if (c == 'r')
			o->rate = strtod(optarg, NULL);
		else if (c == 's')
			o->segment_mb = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'b')
			o->batch_kb = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'q')
			o->queue = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'w')
			o->window = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'S')
			o->stride = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 't')
			o->time_cap_s = strtod(optarg, NULL);
		else if (c == 'k')
			o->keep = true;
		else if (c == 'W')
			o->wait = true;
		else if (c == 'j')
			o->json = true;
		else
			return -EINVAL;
	}
	if (!o->dir || o->mode < 0 || o->records < 1 || o->rate < 0 || o->value_len > (1u << 20) ||
	    o->queue < WARMUP || o->batch_kb < 16 || o->batch_kb > (1u << 20) ||
	    o->time_cap_s <= 0 || optind != argc) {
		fprintf(stderr,
			"usage: wal_bench --dir DIR [--value B] [--records N] [--mode "
			"buffered|dsync|direct] [--rate R] [--segment-mb MB] [--batch-kb KB] "
			"[--queue N] [--window N] [--stride B] [--time-cap S] [--wait] [--keep] "
			"[--json]\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct sl_wal_recovery rep;
	double open_ms = 0;
	int rc;

	if (opts_parse(&b.o, argc, argv) < 0)
		return 2;
	b.release_order = true;
	window_set(&b);
	if (records_make(&b) < 0)
		return 2;
	snprintf(b.path, sizeof(b.path), "%s/wal-XXXXXX", b.o.dir);
	if (!mkdtemp(b.path)) {
		fprintf(stderr, "wal_bench: mkdtemp %s: %s\n", b.path, strerror(errno));
		return 1;
	}
	config_make(&b);
	rc = sl_wal_open(&b.cfg, &b.w, &rep);
	if (rc < 0) {
		fprintf(stderr, "wal_bench: sl_wal_open: %s\n", strerror(-rc));
		goto out_remove;
	}
	rc = warm_up(&b);
	if (rc == 0)
		rc = bench_loop(&b);
	sl_wal_stats(b.w, &b.st1);
	sl_wal_close(b.w);
	if (rc == 0 && (b.released != b.flushed || !b.release_order))
		rc = bench_bad("records released (in order)", b.released, b.flushed);
	if (rc == 0)
		rc = reopen_check(&b, &open_ms);
	if (rc == 0) {
		struct result r;

		result_make(&b, &r);
		if (!b.o.json)
			report_text(&b, &r, open_ms);
		report_line(&b, &r);
	}
out_remove:
	if (b.o.keep)
		fprintf(b.o.json ? stderr : stdout, "wal_bench: kept %s\n", b.path);
	else if (dir_remove(b.path) < 0)
		fprintf(stderr, "wal_bench: cannot remove %s: %s\n", b.path, strerror(errno));
	return rc < 0 ? 1 : 0;
}
