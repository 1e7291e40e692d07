/* The replication core's state and the functions its files share (not for callers). */
#ifndef SHIPLOG_CORE_INTERNAL_H
#define SHIPLOG_CORE_INTERNAL_H

#include <assert.h>

#include "core.h"
#include "kv.h"

#define CORE_SLAB_SLOTS	     32u /* NOOP and CONFIG records the core writes itself */
#define CORE_SLAB_SLOT_LEN   288u
#define CORE_SLAB_HANDLE     SL_CORE_HANDLE_OWN /* handles with this bit are slab slots */
#define CORE_SESSION_PROBE   8u			/* linear-probe window of the session table */
#define CORE_FRAMES_PER_TICK 32u		/* APPENDs to one follower in one loop turn */

#ifdef SHIPLOG_SIM_BUGS
#define CORE_BUG(c, bug) (((c)->cfg.bugs & (bug)) != 0)
#else
#define CORE_BUG(c, bug) 0
#endif

/* One record of the in-memory log ring. */
struct core_entry {
	struct sl_rec_ref ref;
	uint64_t lsn;
	uint64_t arrival_ns; /* leader: when it was sequenced */
	/* Leader, for the client that wrote it: who asked, and the answer once applied. */
	uint64_t ctx;
	uint64_t client_id;
	uint64_t seq;
	uint64_t tok_lsn;
	uint32_t tok_epoch;
	uint32_t epoch;
	uint8_t type;
	uint8_t has_ctx;
	uint8_t status;
};

/* What the leader knows of one other node. */
struct core_peer {
	uint16_t id;
	bool learner;
	bool sync;	       /* counted by first k at the last evaluation */
	uint64_t next_lsn;     /* next record to send */
	uint64_t probe_lsn;    /* where sending (re)started without an ACK: at promotion, our
				* end; after a NACK, where the follower said to resume */
	uint64_t received_lsn; /* acknowledged, cumulative */
	uint64_t flushed_lsn;
	uint64_t applied_lsn;
	uint64_t last_send_ns;
	uint64_t last_ack_ns;
	uint64_t progress_ns; /* last time received_lsn moved or a send began */
	uint64_t srtt_ns;
	uint64_t rttvar_ns;
	uint64_t rto_ns;
	uint64_t wal_read_ns;	  /* a catch-up read is pending since (0: none) */
	uint64_t commit_sent_lsn; /* commit_lsn carried by the last frame to it */
	uint64_t nack_ns;	  /* when a NACK last moved probe_lsn (0: none since reset) */
	/* A snapshot transfer (snapshot.c): the WAL no longer holds what the peer lacks. */
	bool snap_active;
	uint64_t snap_lsn;	/* the snapshot being sent */
	uint64_t snap_off;	/* next byte to send */
	uint64_t snap_acked;	/* bytes the peer said it holds */
	uint64_t snap_heard_ns; /* the transfer began, or the peer last said how far it got */
};

/* An APPEND as a follower handles it: from a frame, or from the reorder buffer. */
struct core_append {
	struct sl_append_hdr hdr;
	uint32_t epoch; /* of the frame */
	const struct sl_rec_ref *recs;
	uint32_t n_recs;
};

/* An APPEND that arrived ahead of a gap, held (with its handles) until the gap fills. */
struct core_parked {
	struct sl_append_hdr hdr;
	uint32_t epoch;
	uint32_t n_recs;
	uint64_t arrival_ns;
	bool used;
	struct sl_rec_ref *recs; /* batch-sized slice of the core's memory */
};

/* A client session: the last write applied for a client (deduplication). */
struct core_session {
	uint64_t client_id; /* 0: free slot */
	uint64_t seq;
	uint64_t lsn;
	uint32_t epoch;
	uint8_t status;
};

/*
 * The first slot of client_id's probe window in a session table of mask + 1 slots. One
 * function for apply.c, which places sessions, and image.c, which checks that an image
 * places them where apply.c would look for them.
 */
static inline uint32_t core_session_home(uint64_t hash_seed, uint32_t mask, uint64_t client_id)
{
	uint64_t h = (client_id ^ hash_seed) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & mask;
}

/* A read waiting for the applied state to reach min_lsn. */
struct core_read {
	uint64_t ctx;
	uint64_t client_id;
	uint64_t seq;
	uint64_t min_lsn;
	uint64_t deadline_ns;
	uint16_t key_len;
	bool used;
};

struct sl_core {
	struct sl_core_config cfg;
	uint8_t role;
	uint32_t epoch;
	uint16_t leader;

	/* The log: [ring_lo, last_lsn] in the ring, everything below in the WAL. */
	uint64_t last_lsn;
	uint32_t last_epoch;
	uint64_t persist_lsn; /* highest LSN handed to PERSIST */
	uint64_t flushed_lsn;
	uint64_t applied_lsn;
	uint64_t commit_lsn;
	uint64_t ring_lo;
	struct core_entry *ring;
	uint32_t ring_mask;
	struct sl_epoch_start hist[SL_EPOCH_HIST_MAX];
	uint8_t n_hist;

	/* Leader. */
	uint64_t epoch_start_lsn; /* this epoch's NOOP: commit never counts older records */
	uint64_t replied_lsn;	  /* clients of records up to here have their answer */
	bool noop_pending;
	struct sl_policy policy; /* in force: leader's last appended, others' last applied */
	struct sl_policy applied_policy;
	bool degraded;
	struct core_peer peers[SL_NODE_MAX];
	uint8_t n_peers;
	uint64_t timeout_lsn;	 /* clients up to here were checked for client_timeout_ns */
	uint64_t lease_renew_ns; /* PROMOTE or the last SL_CTL_RENEW */
	bool lease_expired;	 /* stepped down for want of a lease, until the next role */
	bool paused;		 /* SL_CTL_PAUSE: new writes are refused ... */
	uint64_t pause_ns;	 /* ... since */

	/* Follower. */
	uint64_t match_lsn; /* the log agrees with the current leader's up to here */
	uint64_t echo_ts_ns;
	bool ack_due;
	uint64_t acked_flushed, acked_applied; /* what the last ACK said */
	struct core_parked *parked;	       /* [cfg.reorder_frames] */
	uint32_t n_parked;
	uint64_t gap_nack_lsn;	  /* last GAP NACK asked for this LSN (0: none) ... */
	uint64_t gap_nack_ns;	  /* ... at this time: one per gap per rto_min_ns */
	uint64_t leader_heard_ns; /* last valid frame from the leader (UINT64_MAX: none) */

	/* Applying from the WAL (restart, or after a truncation below applied). */
	uint64_t apply_read_ns;

	/* Snapshots (snapshot.c): the newest on this node's disk, which a leader ships. */
	uint64_t snap_lsn; /* 0: none */
	uint32_t snap_epoch;
	uint64_t snap_len;
	bool snap_load_pending; /* SL_ACT_SNAP_STORE asked the caller to feed it back */
	/* Follower: the snapshot being received from the leader. */
	uint64_t rx_snap_lsn;
	uint32_t rx_snap_epoch;
	uint64_t rx_snap_total;
	uint64_t rx_snap_off; /* bytes stored so far */
	bool snap_ack_due;

	struct core_kv *kv;
	struct core_session *sessions;
	uint32_t session_mask;
	struct core_read *reads;
	uint32_t n_reads; /* parked */
	uint8_t *read_keys;
	uint8_t *slab;
	uint32_t slab_free; /* bit i set: slot i free */

	uint64_t now_ns;
	struct sl_core_stats stats;
};

/* core.c: actions, ring, history. */
struct sl_action *core_act(struct sl_actions *out, uint8_t type);
void core_free(struct sl_actions *out, uint64_t handle);
void core_release_ref(struct sl_core *c, struct sl_actions *out, const struct sl_rec_ref *ref);
bool core_ring_make_room(struct sl_core *c, struct sl_actions *out);
void core_ring_push(struct sl_core *c, const struct sl_rec_ref *ref, uint64_t lsn, uint32_t epoch,
		    uint8_t type);
uint32_t core_epoch_at(const struct sl_core *c, uint64_t lsn);
uint64_t core_epoch_end(const struct sl_core *c, uint32_t epoch);
void core_truncate(struct sl_core *c, uint64_t after_lsn, struct sl_actions *out);
void core_save_meta(struct sl_core *c, struct sl_actions *out);
void core_notify(struct sl_actions *out, uint32_t what, uint64_t a, uint64_t b);
void core_set_role(struct sl_core *c, uint8_t role, uint32_t epoch, uint16_t leader,
		   struct sl_actions *out);
void core_persist_new(struct sl_core *c, struct sl_actions *out);
bool core_slab_alloc(struct sl_core *c, struct sl_rec_ref *ref);
bool core_is_member(const struct sl_core *c, uint16_t node);

/* leader.c */
void core_leader_start(struct sl_core *c, struct sl_actions *out);
void core_leader_peer_reset(struct sl_core *c, struct core_peer *p);
void core_leader_client_write(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out);
void core_leader_on_ack(struct sl_core *c, uint16_t src, const struct sl_ack *ack,
			struct sl_actions *out);
void core_leader_on_nack(struct sl_core *c, uint16_t src, const struct sl_nack *nack,
			 struct sl_actions *out);
void core_leader_on_wal(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out);
void core_leader_tick(struct sl_core *c, struct sl_actions *out);
void core_leader_commit(struct sl_core *c, struct sl_actions *out);
void core_leader_set_policy(struct sl_core *c, const struct sl_policy *p, struct sl_actions *out);
void core_leader_abandon_clients(struct sl_core *c, struct sl_actions *out);
uint64_t core_peer_level_lsn(const struct core_peer *p, uint8_t level);
struct core_peer *core_peer_find(struct sl_core *c, uint16_t node);

/* follower.c */
void core_follower_reset(struct sl_core *c, struct sl_actions *out);
uint32_t core_batch_records_max(const struct sl_core_config *cfg);
void core_follower_on_append(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out);
void core_follower_tick(struct sl_core *c, struct sl_actions *out);

/* snapshot.c: shipping snapshots to followers behind the WAL, installing them. */
void core_snap_saved(struct sl_core *c, const struct sl_event *ev);
void core_snap_start(struct sl_core *c, struct core_peer *p);
bool core_snap_send(struct sl_core *c, struct core_peer *p, struct sl_actions *out);
void core_snap_on_ack(struct sl_core *c, uint16_t src, const struct sl_snap_chunk *s);
void core_snap_done(struct core_peer *p, uint64_t received_lsn);
void core_snap_on_chunk(struct sl_core *c, const struct sl_frame_view *v, struct sl_actions *out);
void core_snap_rx_reset(struct sl_core *c);
void core_snap_tick(struct sl_core *c, struct sl_actions *out);
int core_snap_received(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out);
void core_snap_reload(struct sl_core *c, struct sl_actions *out);

/* apply.c: the key-value state machine, sessions, reads. */
void core_apply(struct sl_core *c, uint64_t upto, struct sl_actions *out);
/* What may be applied now: the commit point (a follower: also locally durable). */
uint64_t core_apply_target(const struct sl_core *c);
void core_apply_from_wal(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out);
void core_apply_reset(struct sl_core *c);

/* image.c: after sl_core_image_check() against c's configuration, replaces the applied
 * state (key-value pairs, sessions, policy) with the image's and sets applied_lsn to
 * its LSN; the log positions and epoch history are the caller's. 0, or the check's
 * -errno (nothing changed), or -EINVAL for a duplicate key, which only loading finds:
 * the applied state is then empty, as core_apply_reset() leaves it. */
struct sl_image_info;
int core_image_load(struct sl_core *c, const void *buf, size_t len, struct sl_image_info *info);
void core_client_read(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out);
void core_reads_answer(struct sl_core *c, struct sl_actions *out);
void core_reply(struct sl_core *c, struct sl_actions *out, uint64_t ctx,
		const struct sl_client_req *req, uint8_t status, uint64_t lsn, uint32_t epoch);
size_t core_sessions_size(uint32_t clients, uint32_t *mask);
bool core_session_holds(struct sl_core *c, uint64_t client_id, uint64_t seq);

/*
 * SL_CTL_PAUSE is in force at now_ns. pause_max_ns bounds it: a switchover whose
 * controller died half-way must not leave the cluster refusing writes for ever.
 */
static inline bool core_paused(const struct sl_core *c, uint64_t now_ns)
{
	if (!c->paused || c->cfg.pause_max_ns == 0 || now_ns < c->pause_ns)
		return c->paused;
	return now_ns - c->pause_ns < c->cfg.pause_max_ns;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The ring slot of lsn, or NULL when lsn is not in the ring. */
static inline struct core_entry *core_entry(const struct sl_core *c, uint64_t lsn)
{
	if (lsn < c->ring_lo || lsn > c->last_lsn || lsn == 0)
		return NULL;
	return &c->ring[lsn & c->ring_mask];
}

#endif
