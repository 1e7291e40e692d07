/* A fake disk under the WAL's file interface: it crashes the way disks do. */
#ifndef SHIPLOG_FAKEFS_H
#define SHIPLOG_FAKEFS_H

#include <stdbool.h>
#include <stdint.h>

#include "wal_io.h"

/*
 * Every file has a durable image and a current one; a write changes the current image
 * and is remembered as pending until an fsync (or O_DSYNC) makes it durable. Directory
 * changes (create, rename, unlink) are pending until the directory is synced. At a
 * simulated crash (fakefs_crash) the durable state survives, plus, by the model:
 *   - a prefix of the pending directory changes (metadata is journaled in order);
 *   - of each file's pending writes: none, all, a prefix, a random subset (reordered),
 *     a random subset of 512 B or 4 KiB sectors (torn), or sectors of garbage.
 * Preallocation is durable at once (the WAL syncs it before use in any case).
 * This is SQLite's test6.c crash model, applied to our file interface.
 */
struct fakefs;

enum fakefs_model {
	FF_KEEP_NONE = 0,
	FF_KEEP_ALL,
	FF_PREFIX,
	FF_SUBSET, /* whole writes, any subset: unsynced writes reordered */
	FF_TORN_512,
	FF_TORN_4K,
	FF_GARBLE, /* some pending sectors written with garbage */
	FF_MODELS,
};

struct fakefs *fakefs_new(void);
void fakefs_free(struct fakefs *f);

/* A disk as it could be found after a crash now: a new fake disk. */
struct fakefs *fakefs_crash(const struct fakefs *f, unsigned model, uint64_t seed);

/* Called after every operation that changes the disk (a crash point). */
void fakefs_on_change(struct fakefs *f, void (*fn)(void *arg, struct fakefs *f), void *arg);

/* Queued fdatasyncs after the next n fail with EIO and sync nothing (n < 0: never). */
void fakefs_fail_syncs(struct fakefs *f, int n);

/* Operations that changed the disk so far. */
uint64_t fakefs_changes(const struct fakefs *f);

extern const struct sl_wal_io_ops fakefs_ops;

#endif
