/* The durable log of one node: WAL segments, group commit, recovery, snapshots. */
#ifndef SHIPLOG_WAL_H
#define SHIPLOG_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <shiplog/record.h>
#include <shiplog/walfmt.h>

#include "wal_io.h"

/*
 * DESIGN.md §5. One struct sl_wal belongs to one persistence core; nothing here is
 * thread-safe and nothing on the data path blocks: sl_wal_append() queues pointers to
 * the caller's record bytes (no copy), sl_wal_submit() starts a group commit, and
 * sl_wal_poll() reaps completions, advancing flushed_lsn and handing record bytes back
 * through cfg.release. Truncation, metadata and snapshots are synchronous: they are
 * rare, and the caller must not act on them (DESIGN.md §4) before they are durable.
 *
 * Group commit. At most one batch is in flight: everything queued since the last
 * submission goes out as one writev (a few, linked, past UIO_MAXIOV) and one linked
 * fdatasync. Records queued meanwhile wait for the next batch, so batches grow with
 * the offered load while a write costs about one fsync. One batch at a time is also
 * what makes recovery exact: unsynced bytes are only ever those of the last batch.
 *
 * Failure (DESIGN.md §5): a write or fdatasync that fails (EIO, ENOSPC, a short
 * write that cannot be completed) puts the WAL in a failed state for good. flushed_lsn
 * never advances again and nothing is retried on the assumption that it was durable.
 */

enum sl_wal_mode {
	SL_WAL_BUFFERED = 0, /* writev from the caller's memory + linked fdatasync */
	SL_WAL_DSYNC,	     /* writev on an O_DSYNC file: the write is the sync */
	SL_WAL_DIRECT,	     /* O_DIRECT from a registered, aligned staging buffer + fdatasync */
};

struct sl_wal_config {
	const char *dir; /* must exist */
	uint32_t cluster_id;
	uint16_t node_id;
	uint8_t mode;		  /* enum sl_wal_mode */
	uint64_t segment_bytes;	  /* preallocated size of a segment, header block included */
	uint32_t queue_records;	  /* records appended and not yet flushed, at most */
	uint32_t batch_bytes;	  /* one group commit writes at most this much */
	uint32_t read_slots;	  /* catch-up reads in flight, at most */
	uint64_t retention_bytes; /* WAL kept only for lagging followers, at most (0: no limit) */
	struct sl_limits limits;
	/* Backend; NULL: io_uring over dir. The WAL destroys it at close. */
	const struct sl_wal_io_ops *io;
	void *io_arg;
	/* A record's bytes are no longer needed: written, or dropped by truncation. */
	void (*release)(void *arg, uint64_t handle);
	/* A read finished: status 0 with n whole records (CRC-checked, LSNs from first) in
	 * buf[0..len), or -errno (-ENOENT: below what retention kept). */
	void (*on_read)(void *arg, uint64_t tag, int status, const uint8_t *buf, uint32_t len,
			uint64_t first, uint32_t n);
	void *arg;
	/* Tests: may replace the result of a completion (a write, a sync) with an error. */
	int (*fault)(void *arg, unsigned op, int32_t res);
};

void sl_wal_config_default(struct sl_wal_config *cfg);

/* What sl_wal_open() found on disk and did about it. */
struct sl_wal_recovery {
	uint32_t epoch;	      /* highest epoch seen (metadata, or a record's) */
	uint64_t first_lsn;   /* oldest LSN the WAL holds (snapshot_lsn + 1 when none) */
	uint64_t last_lsn;    /* newest LSN: the log continues at last_lsn + 1 */
	uint32_t last_epoch;  /* epoch of the record at last_lsn */
	uint64_t commit_hint; /* at most last_lsn */
	struct sl_epoch_start hist[SL_EPOCH_HIST_MAX];
	uint8_t n_hist;
	uint64_t snapshot_lsn; /* newest valid snapshot (0: none) */
	uint32_t snapshot_epoch;
	uint64_t snapshot_len;
	uint32_t segments;
	uint32_t bad_snapshots; /* snapshot files that failed their CRC, ignored */
	uint64_t torn_lsn;	/* a torn tail from this LSN was cut off (0: none) */
	uint64_t torn_bytes;
	uint64_t damaged_from; /* damage followed by valid records: LSNs damaged_from .. */
	uint64_t damaged_to;   /* .. damaged_to were lost here; cut off like a torn tail */
	uint64_t refetch_lsn;  /* the log must reach this LSN again before leading (0: none) */
	bool may_lead;
	bool redid_truncate; /* a truncation cut short by a crash was finished */
	bool redid_install;  /* an install (sl_wal_install) cut short by a crash was finished */
};

struct sl_wal_stats {
	uint64_t appended_records;
	uint64_t batches;
	uint64_t batch_records;
	uint64_t bytes_written;
	uint64_t bytes_copied; /* staging copies (O_DIRECT mode only) */
	uint64_t syncs;
	uint64_t short_writes;
	uint64_t rollovers;
	uint64_t truncations;
	uint64_t reads;
	uint64_t read_errors;
	uint64_t read_below_retention;
	uint64_t segments_deleted;
	uint64_t retention_forced; /* segments deleted that a follower still wanted */
	uint64_t snapshots;
	uint64_t installs; /* snapshots from the leader that replaced the log */
	uint64_t meta_writes;
	uint64_t append_full; /* -EAGAIN: the queue was full */
	uint64_t write_errors;
};

struct sl_wal_status {
	uint64_t first_lsn; /* oldest LSN on disk */
	uint64_t last_lsn;  /* newest appended */
	uint64_t flushed_lsn;
	uint32_t flushed_epoch;
	uint64_t snapshot_lsn;
	uint64_t bytes; /* on disk, segments */
	uint32_t segments;
	uint32_t queued; /* records not yet flushed */
	bool in_flight;
	int failed;	/* 0, or the -errno that failed the WAL */
	bool fixed_buf; /* direct: the staging buffer is registered (else plain writes) */
	uint64_t refetch_lsn;
};

struct sl_wal;

/* Opens or creates the WAL in cfg->dir and recovers it: 0, or -errno (-EUCLEAN: the
 * directory belongs to another node or cluster, or LSNs are missing; -EINVAL from the
 * file system: mode direct where O_DIRECT is not supported). */
int sl_wal_open(const struct sl_wal_config *cfg, struct sl_wal **out, struct sl_wal_recovery *rep);

/* Waits for the batch in flight, stores the commit hint, releases everything. */
void sl_wal_close(struct sl_wal *w);

/*
 * Queues n records (encoded, padded, in LSN order continuing the log). Their bytes
 * must stay put until cfg.release hands their handle back. commit_hint: a commit LSN
 * the caller knows, stored for restart. 0, -EAGAIN (queue full: nothing queued),
 * -EINVAL (LSNs do not continue the log), or the failed state's -errno.
 */
int sl_wal_append(struct sl_wal *w, const struct sl_rec_ref *recs, uint32_t n,
		  uint64_t commit_hint);

/* Starts a group commit of everything queued unless one is in flight: records in it. */
int sl_wal_submit(struct sl_wal *w);

/* Reaps completions without waiting (wait: block for one). Returns 1 when flushed_lsn
 * moved, 0 when not, or the failed state's -errno. */
int sl_wal_poll(struct sl_wal *w, bool wait);

uint64_t sl_wal_flushed_lsn(const struct sl_wal *w, uint32_t *epoch);

/* Drops every record after after_lsn, durably, before returning (waits for the batch
 * in flight; a crash midway is finished at the next open). */
int sl_wal_truncate(struct sl_wal *w, uint64_t after_lsn);

/* Reads records from..to (at most cap bytes of them) into buf: the answer comes through
 * cfg.on_read during a later poll. 0, -EBUSY (no read slot), -ENOENT (below retention),
 * -EAGAIN (not written yet). */
int sl_wal_read(struct sl_wal *w, uint64_t from, uint64_t to, void *buf, uint32_t cap,
		uint64_t tag);

/* Stores epoch and history durably (with the current commit hint). */
int sl_wal_save_meta(struct sl_wal *w, uint32_t epoch, const struct sl_epoch_start *hist,
		     uint8_t n_hist);

/* Installs a snapshot of the state at lsn (<= written) atomically, then applies the
 * retention rule. The payload is opaque here: iov[0..n). */
int sl_wal_snapshot_save(struct sl_wal *w, uint64_t lsn, uint32_t epoch, const struct iovec *iov,
			 unsigned n);

/*
 * Replaces the whole log with a snapshot received from the leader: the payload iov[0..n)
 * of the state at lsn (epoch: that of the record at lsn) becomes the newest snapshot and
 * the log continues at lsn + 1; every record the WAL held, on disk or queued, is dropped
 * (queued records' handles go back through cfg.release), and so is every other snapshot.
 * Waits for the batch in flight and the reads. lsn may be above, below or equal to the
 * log's end, and below the newest snapshot. Afterwards: records up to lsn are -ENOENT to
 * sl_wal_read, the commit hint is lsn, and the next append starts a new segment at
 * lsn + 1. A crash at any point leaves, at the next open, the old log as it was or
 * exactly the installed state (see wal_install_files). 0, or -errno: -EINVAL for lsn 0
 * or n > 16 (nothing changes), else the failed state's (an I/O error fails the WAL).
 */
int sl_wal_install(struct sl_wal *w, uint64_t lsn, uint32_t epoch, const struct iovec *iov,
		   unsigned n);

/* Reads the newest valid snapshot's payload into buf (cap bytes): its length, or -errno
 * (-ENOENT: none, -ENOSPC: cap too small, -EUCLEAN: its CRC no longer matches). */
int64_t sl_wal_snapshot_load(struct sl_wal *w, void *buf, size_t cap);

/* Deletes whole segments below what the snapshot and the followers need (need_lsn:
 * the oldest LSN a follower still lacks), within cfg.retention_bytes: segments deleted. */
int sl_wal_retain(struct sl_wal *w, uint64_t need_lsn);

void sl_wal_status(const struct sl_wal *w, struct sl_wal_status *st);
void sl_wal_stats(const struct sl_wal *w, struct sl_wal_stats *st);

const char *sl_wal_mode_name(unsigned mode);
int sl_wal_mode_parse(const char *s);

#endif
