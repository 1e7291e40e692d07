/* The simulator's world: virtual time, a PRNG, record buffers, the fake network and disk. */
#ifndef SHIPLOG_SIM_WORLD_H
#define SHIPLOG_SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every random choice of a run comes from one test_rand() state, seeded by --seed. */
#include "testutil.h"

/* Uniform in [lo, hi]. */
static inline uint64_t sim_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + test_rand(s) % (hi - lo + 1);
}

/* 1 with probability ppm / 1e6. */
static inline bool sim_chance(uint64_t *s, uint32_t ppm)
{
	return test_rand(s) % 1000000 < ppm;
}

/*
 * Record bytes handed to a core. One buffer may hold several records (an APPEND frame):
 * each record handed out takes a reference; the core's freed handles drop them. A
 * reference dropped below zero is a double free, which the run reports.
 */
struct simbuf {
	int32_t refs;
	uint32_t len;
	uint8_t *bytes;
	struct simbuf *all_next;
};

struct simbuf *simbuf_new(const void *bytes, uint32_t len, int32_t refs);
/* Returns false on a double free. */
bool simbuf_put(uint64_t handle);
void simbuf_free_all(void);

/* ---- network: endpoints 1..n_nodes are nodes, the rest are clients ------------------- */

#define SIM_EP_MAX 32

struct net_msg {
	uint64_t at;
	uint64_t id;
	uint8_t src;
	uint8_t dst;
	uint32_t len;
	uint8_t *bytes;
};

struct net_faults {
	uint32_t loss_ppm;
	uint32_t dup_ppm;
	uint64_t delay_min_ns;
	uint64_t delay_max_ns;
	uint32_t reorder_ppm; /* a frame this likely gets an extra delay ... */
	uint64_t reorder_ns;  /* ... of up to this much */
};

struct net {
	struct net_msg *heap;
	size_t n, cap;
	uint64_t next_id;
	bool cut[SIM_EP_MAX][SIM_EP_MAX]; /* cut[a][b]: nothing from a reaches b */
	struct net_faults f;
	uint64_t *rng;
	uint64_t sent, dropped, duplicated;
};

void net_init(struct net *n, uint64_t *rng);
void net_free(struct net *n);
void net_send(struct net *n, uint64_t now, unsigned src, unsigned dst, const void *bytes,
	      uint32_t len);
/* Pops the earliest message due at or before now for dst (any dst when dst == 0). */
bool net_pop(struct net *n, uint64_t now, struct net_msg *out);

/* ---- disk: one node's WAL, with group commit and crash semantics --------------------- */

struct disk_rec {
	uint8_t *bytes;
	uint32_t len;
	uint64_t lsn;
	uint32_t epoch;
};

enum disk_op_kind { DISK_WRITE = 1, DISK_TRUNCATE, DISK_READ };

struct disk_op {
	uint8_t kind;
	uint64_t done_ns;
	struct disk_rec *recs; /* WRITE */
	uint32_t n;
	uint64_t commit_hint; /* WRITE */
	uint64_t after;	      /* TRUNCATE */
	uint16_t node;	      /* READ: for which follower (0: local apply) */
	uint64_t from, to;    /* READ */
};

struct disk {
	struct disk_rec *log; /* LSN 1..n_log: written and synced */
	uint64_t n_log, cap_log;
	uint64_t commit_hint;
	uint32_t meta_epoch; /* node metadata: written atomically, at once */
	struct disk_op *ops; /* FIFO: group commit completes in order */
	size_t n_ops, cap_ops;
	uint64_t lat_min_ns, lat_max_ns;
	uint64_t *rng;
};

void disk_init(struct disk *d, uint64_t *rng);
void disk_free(struct disk *d);
void disk_write(struct disk *d, uint64_t now, const struct disk_rec *recs, uint32_t n,
		uint64_t commit_hint);
void disk_truncate(struct disk *d, uint64_t now, uint64_t after);
void disk_read(struct disk *d, uint64_t now, uint16_t node, uint64_t from, uint64_t to);
/* The oldest operation if it completed by now (caller frees its recs with disk_op_done). */
bool disk_pop(struct disk *d, uint64_t now, struct disk_op *out);
void disk_op_done(struct disk_op *op);
/* A crash: pending writes survive as a random prefix, the rest is lost. */
void disk_crash(struct disk *d);

#endif
