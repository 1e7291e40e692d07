/* The file operations under the WAL: io_uring on a real disk, a fake disk in tests. */
#ifndef SHIPLOG_WAL_IO_H
#define SHIPLOG_WAL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * Why an interface: the crash suite runs this very WAL over a fake disk that keeps,
 * drops, tears or reorders unsynced writes at a simulated crash (SQLite's test6.c does
 * the same under its VFS); production runs it over io_uring (io_uring.c).
 *
 * File handles are small integers chosen by the backend (io_uring: registered-file
 * slots). Names are relative to the WAL directory. Every call returns 0 (or a count)
 * or a negative errno.
 *
 * Synchronous calls are for start-up, rollover, truncation, metadata and snapshots:
 * rare events on the persistence core. The data path is write/datasync/read, which
 * only queue; submit starts everything queued; reap returns completions.
 */
enum {
	SL_WAL_IO_CREATE = 1u << 0, /* create; fail when it exists */
	SL_WAL_IO_WRITE = 1u << 1,  /* open for writing (else read-only) */
	SL_WAL_IO_DIRECT = 1u << 2, /* O_DIRECT: aligned buffers, offsets and lengths */
	SL_WAL_IO_DSYNC = 1u << 3,  /* O_DSYNC: a completed write is durable */
};

/* The kinds of queued operation (the fault hook of struct sl_wal_config names them). */
enum sl_wal_op { SL_WAL_OP_WRITE = 1, SL_WAL_OP_SYNC, SL_WAL_OP_READ };

struct sl_wal_cqe {
	uint64_t tag;
	int32_t res; /* bytes, 0, or -errno (-ECANCELED: an earlier linked op failed) */
};

struct sl_wal_io_ops {
	int (*open)(void *io, const char *name, unsigned flags);
	int (*close)(void *io, int fh);
	int (*prealloc)(void *io, int fh, uint64_t len);
	ssize_t (*pread)(void *io, int fh, void *buf, size_t len, uint64_t off);
	ssize_t (*pwrite)(void *io, int fh, const void *buf, size_t len, uint64_t off);
	int (*fsync)(void *io, int fh);
	int (*rename)(void *io, const char *from, const char *to);
	int (*unlink)(void *io, const char *name);
	int (*sync_dir)(void *io);
	/* Calls fn for every name in the directory; a non-zero return stops the walk. */
	int (*list)(void *io, int (*fn)(void *arg, const char *name), void *arg);
	/* Registers a buffer for fixed writes: its index, or -errno (optional: NULL). */
	int (*register_buf)(void *io, void *buf, size_t len);

	/*
	 * Queued operations. link: the next queued operation starts only after this one
	 * completes in full (a short or failed one cancels it). buf_index >= 0: iov is
	 * one entry inside that registered buffer.
	 */
	int (*write)(void *io, int fh, uint64_t off, const struct iovec *iov, unsigned n,
		     int buf_index, bool link, uint64_t tag);
	int (*datasync)(void *io, int fh, bool link, uint64_t tag);
	int (*read)(void *io, int fh, uint64_t off, void *buf, uint32_t len, uint64_t tag);
	int (*submit)(void *io);
	/* Up to max completions; wait: block until at least one is there. */
	int (*reap)(void *io, struct sl_wal_cqe *cqe, unsigned max, bool wait);
	void (*destroy)(void *io);
};

/* The io_uring backend over directory dir: 0 or -errno; *io is then its state. */
int sl_wal_uring_create(const char *dir, unsigned entries, unsigned files, void **io);
extern const struct sl_wal_io_ops sl_wal_uring_ops;

#endif
