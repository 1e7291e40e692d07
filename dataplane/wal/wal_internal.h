/* State of the WAL shared by its writer, recovery and file-management parts. */
#ifndef SHIPLOG_WAL_INTERNAL_H
#define SHIPLOG_WAL_INTERNAL_H

#include "wal.h"

#define WAL_SEG_MAX	  4096u /* segments on disk at most */
#define WAL_IDX_MAX	  256u	/* sparse LSN -> offset entries per segment */
#define WAL_WRITES_MAX	  4u	/* linked writev per batch */
#define WAL_IOV_PER_WRITE 1024u /* UIO_MAXIOV */
#define WAL_SHORT_MAX	  16u	/* short writes one batch may requeue */
#define WAL_READ_HOPS_MAX 4u	/* re-reads beyond one index stride's worth */
#define WAL_READ_FH_MAX	  4u	/* segments kept open for catch-up reads */
#define WAL_ALIGN	  4096u /* O_DIRECT block */
#define WAL_CQE_BATCH	  32u

#define WAL_TMP_SEG  "seg.tmp"
#define WAL_TMP_META "meta.tmp"
#define WAL_TMP_SNAP "snap.tmp"

/*
 * An install under way (sl_wal_install): the header block of the snapshot being
 * installed, written before that snapshot and removed last. While it names a snapshot
 * that is in place, the old log is void and recovery finishes the install.
 */
#define WAL_INSTALL	"install"
#define WAL_TMP_INSTALL "install.tmp"

struct wal_idx {
	uint64_t lsn;
	uint64_t off; /* from the end of the header block */
};

struct wal_seg {
	uint64_t first_lsn;
	uint64_t last_lsn; /* first_lsn - 1 while empty */
	uint64_t end_off;  /* bytes of records after the header block */
	int read_fh;	   /* -1: not open */
	uint32_t n_idx;
	struct wal_idx *idx;
};

struct wal_qrec {
	uint8_t *data;
	uint32_t len;
	uint32_t epoch;
	uint64_t lsn;
	uint64_t handle;
};

struct wal_wop {
	uint32_t iov_first;
	uint32_t n_iov;
	uint64_t off; /* file offset */
	uint64_t left;
	bool done;
};

struct wal_batch {
	bool active;
	uint32_t n_recs; /* from q_head */
	uint64_t last_lsn;
	uint32_t last_epoch;
	uint64_t end_off; /* segment end_off once written */
	uint32_t n_ops;
	uint32_t ops_out; /* completions still expected */
	uint32_t shorts;
	bool synced;
	int err;
	struct wal_wop ops[WAL_WRITES_MAX];
};

struct wal_read {
	bool busy;
	uint64_t tag;
	uint8_t *buf;
	uint32_t cap;
	uint64_t first_lsn; /* of the segment read from */
	uint64_t off;	    /* segment data offset read at */
	uint64_t at_lsn;    /* LSN of the record at off */
	uint64_t from, to;
	uint32_t hops;
};

struct sl_wal {
	struct sl_wal_config cfg;
	const struct sl_wal_io_ops *io;
	void *iop;

	struct sl_wal_meta meta;
	struct sl_epoch_start lhist[SL_EPOCH_HIST_MAX]; /* from the records themselves */
	uint8_t n_lhist;
	uint64_t commit_hint;
	uint64_t snap_lsn;
	uint32_t snap_epoch;

	struct wal_seg *segs; /* oldest first */
	uint32_t n_segs;
	struct wal_idx *idx_mem;
	int write_fh;  /* the newest segment, -1 before the first */
	bool seg_full; /* the next batch must start a new segment */
	uint64_t idx_stride;

	/* the queue: [q_head, q_sub) in flight, [q_sub, q_tail) waiting; counters mod q_cap;
	 * below q_rel every record's handle has gone back to the caller */
	struct wal_qrec *q;
	uint32_t q_cap;
	uint64_t q_head, q_sub, q_tail, q_rel;

	uint64_t last_lsn; /* appended */
	uint32_t last_epoch;
	uint64_t flushed_lsn;
	uint32_t flushed_epoch;
	int failed;

	struct wal_batch batch;
	struct iovec *iov;
	uint8_t *staging; /* O_DIRECT: batch_bytes + one block, aligned, registered */
	int staging_buf;
	uint8_t *tail_block; /* O_DIRECT: the partial block at the end of the segment */
	uint8_t *scratch;    /* a segment's bytes at recovery; zeros for cutting */
	size_t scratch_len;

	struct wal_read *reads;
	struct sl_wal_stats st;
};

/* wal.c */
struct wal_seg *wal_seg_last(struct sl_wal *w);
int wal_seg_open(struct sl_wal *w, uint64_t first_lsn, unsigned flags);
unsigned wal_write_flags(const struct sl_wal *w);
uint64_t wal_first_lsn(const struct sl_wal *w);
int wal_seg_find(const struct sl_wal *w, uint64_t lsn);
void wal_idx_add(struct sl_wal *w, struct wal_seg *s, uint64_t lsn, uint64_t off);
int wal_cut(struct sl_wal *w, uint32_t seg_i, uint64_t off, uint64_t zero_end);
int wal_load_tail_block(struct sl_wal *w);
int wal_open_write_seg(struct sl_wal *w);
void wal_lhist_note(struct sl_wal *w, uint32_t epoch, uint64_t lsn);

/* files.c */
int wal_meta_store(struct sl_wal *w);
int wal_meta_load(struct sl_wal *w, bool *found);
int wal_snapshot_find(struct sl_wal *w, uint64_t *lsns, uint32_t n, struct sl_wal_recovery *rep);
int wal_delete_seg(struct sl_wal *w, uint32_t i);
int wal_install_files(struct sl_wal *w, uint64_t lsn, uint32_t epoch, const struct iovec *iov,
		      unsigned n);
int wal_install_pending(struct sl_wal *w, uint64_t *lsn);
int wal_install_finish(struct sl_wal *w, uint64_t lsn);

/* recover.c */
int wal_recover(struct sl_wal *w, struct sl_wal_recovery *rep);

#endif
