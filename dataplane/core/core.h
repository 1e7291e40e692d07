/* The sans-I/O replication core: one state machine per node, driven by sl_core_step(). */
#ifndef SHIPLOG_CORE_H
#define SHIPLOG_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shiplog/control.h>
#include <shiplog/policy.h>
#include <shiplog/record.h>
#include <shiplog/wire.h>

/*
 * DESIGN.md §2: this module does no I/O. It reads no clock (time arrives in events),
 * draws no random numbers, and allocates nothing: the caller sizes one block of memory
 * with sl_core_mem_size() and the action buffers with sl_actions_caps().
 *
 * Ownership of record bytes. Records live in caller memory (an mbuf, a frame buffer of
 * the simulator) and are passed as struct sl_rec_ref with an opaque handle. Every
 * handle passed in an event comes back exactly once in a step's freed[] list: in the
 * same step when the core does not keep the record, later when it lets go of it. The
 * caller executes a step's actions first, then releases the freed handles. A leader
 * stamps LSN and epoch into a client's record in place (sl_record_stamp).
 *
 * The core's own records (NOOP, CONFIG) live in its memory and carry handles with
 * SL_CORE_HANDLE_OWN set. They appear in SEND and PERSIST actions but never in freed[];
 * their bytes are valid until the next step, so a caller that keeps them copies them.
 *
 * Loop shape (DESIGN.md §4 batching): the caller feeds a burst of CLIENT and FRAME
 * events, then one TICK with the current time. New records go to followers and to
 * the WAL at the TICK, so one poll-loop iteration makes one APPEND per follower.
 */

#define SL_CORE_HANDLE_OWN (1ull << 63) /* caller handles must leave this bit clear */

/* Sizes and timings of one node. */
struct sl_core_config {
	uint16_t node_id;
	uint32_t cluster_id;
	uint16_t members[SL_NODE_MAX]; /* every node of the cluster, self included */
	uint8_t n_members;
	uint8_t max_members; /* room for SL_CTL_ADD_PEER up to this many (0: n_members) */
	struct sl_limits limits;
	uint32_t ring_records;	 /* in-memory log ring, a power of two */
	uint32_t window_records; /* per follower, unacknowledged records in flight */
	uint32_t batch_bytes;	 /* APPEND body at most (MTU less headers) */
	uint32_t kv_keys;	 /* key-value capacity */
	uint32_t dedup_clients;	 /* client sessions remembered for deduplication */
	uint32_t pending_reads;	 /* reads waiting for min_lsn */
	uint32_t reorder_frames; /* APPENDs a follower holds that arrived ahead of a gap */
	uint64_t hash_seed;	 /* key-value table seed */
	uint64_t heartbeat_ns;	 /* leader sends at least this often */
	uint64_t health_ns;	 /* a follower silent longer is not healthy (first k) */
	uint64_t rto_min_ns;	 /* retransmission timeout bounds */
	uint64_t rto_max_ns;
	uint64_t read_wait_ns;	    /* a read waits this long for min_lsn, then STALE */
	uint64_t client_timeout_ns; /* leader: a write not committed this long is answered
				     * TIMEOUT (outcome unknown: it may still commit; 0: off) */
	uint64_t lease_ns;	    /* leader: steps down when neither the controller (SL_CTL_RENEW)
				     * nor a majority of followers were heard this long (0: off) */
	uint64_t pause_max_ns;	    /* SL_CTL_PAUSE ends by itself after this long (0: only
				     * PAUSE 0 or a role or epoch change ends it) */
	struct sl_policy policy;    /* until a CONFIG record says otherwise */
	uint32_t bugs;		    /* SL_BUG_*: honoured only in the simulator's build */
};

/* What recovery found on disk (all zero for a new node). */
struct sl_core_recovered {
	uint32_t epoch; /* highest epoch this node had seen (node metadata) */
	uint64_t last_lsn;
	uint64_t commit_hint; /* a commit_lsn the node knew; everything up to it is committed */
	struct sl_epoch_start hist[SL_EPOCH_HIST_MAX];
	uint8_t n_hist;
	/* The newest snapshot's payload, a state image (image.h), or NULL: the state is
	 * loaded from it and the log applied from the LSN after it (last_lsn >= its LSN). */
	const uint8_t *image;
	uint64_t image_len;
};

enum sl_event_type {
	SL_EV_TICK = 1,
	SL_EV_CLIENT,
	SL_EV_FRAME,
	SL_EV_PERSISTED,
	SL_EV_WAL_RECORDS,
	SL_EV_CONTROL,
	SL_EV_SNAP_SAVED, /* the node's newest snapshot on disk is now u.snap (lsn, epoch, len) */
	SL_EV_SNAP_RECEIVED, /* the snapshot assembled (SL_ACT_SNAP_STORE) is whole, or the image
			      * SL_ACT_SNAP_LOAD asked for */
};

struct sl_event {
	uint8_t type;
	uint64_t now_ns;
	union {
		struct {
			struct sl_client_req req;
			const uint8_t *key;
			struct sl_rec_ref rec; /* PUT/DEL: the encoded record (lsn 0) */
			uint64_t ctx;	       /* caller's reply context */
		} client;
		struct {
			const struct sl_frame_view *view; /* validated by sl_frame_decode */
			const struct sl_rec_ref *recs;	  /* APPEND: one ref per record */
			uint32_t n_recs;
		} frame;
		struct {
			uint64_t lsn;	/* the WAL holds everything up to lsn durably ... */
			uint32_t epoch; /* ... where epoch is the epoch of the record at lsn */
		} persisted;
		struct {
			uint16_t node; /* catch-up for this follower; 0: for local apply */
			const struct sl_rec_ref *recs;
			uint32_t n_recs;
			bool gone; /* no records: those asked for were deleted (below retention) */
		} wal;
		struct sl_control control;
		struct {
			uint64_t lsn;
			uint32_t epoch;
			uint64_t len;
			const uint8_t *image; /* RECEIVED: the assembled image, len bytes */
			bool own; /* RECEIVED: the node's own snapshot, as SL_ACT_SNAP_LOAD asked */
		} snap;
	} u;
};

enum sl_action_type {
	SL_ACT_SEND = 1,     /* a frame to a node */
	SL_ACT_PERSIST,	     /* append records to the WAL */
	SL_ACT_REPLY,	     /* answer a client */
	SL_ACT_TRUNCATE,     /* drop the WAL above an LSN */
	SL_ACT_WAL_READ,     /* read records from the WAL: answer with SL_EV_WAL_RECORDS */
	SL_ACT_SAVE_META,    /* durably store epoch and epoch history before anything else */
	SL_ACT_NOTIFY,	     /* something an operator should see */
	SL_ACT_SNAP_STORE,   /* follower: copy a received chunk into the snapshot being assembled */
	SL_ACT_SNAP_INSTALL, /* follower: the image received is the state now: store it durably
			      * and restart the WAL after its LSN, before anything else */
	SL_ACT_SNAP_LOAD,    /* feed the newest snapshot (u.snap.lsn) back as SL_EV_SNAP_RECEIVED:
			      * the applied state is rebuilt from it */
};

/* SL_ACT_NOTIFY carries an enum sl_notify (shiplog/control.h). */

struct sl_action {
	uint8_t type;
	union {
		struct {
			uint16_t dst;
			uint8_t frame_type;
			uint32_t epoch;
			union sl_type_hdr hdr;
			const struct sl_rec_ref *recs; /* APPEND: records, in LSN order */
			uint32_t n_recs;
		} send;
		struct {
			const struct sl_rec_ref *recs;
			uint32_t n_recs;
			uint64_t first_lsn;
			uint64_t last_lsn;
			uint32_t last_epoch;
			uint64_t commit_lsn; /* stored with the batch: the restart commit hint */
		} persist;
		struct {
			uint64_t ctx;
			struct sl_client_resp resp;
			const uint8_t *val; /* GET value, valid until the next step */
		} reply;
		struct {
			uint64_t after_lsn;
		} truncate;
		struct {
			uint16_t node;
			uint64_t from_lsn;
			uint64_t to_lsn;
		} wal_read;
		struct {
			uint32_t epoch;
			uint8_t n_hist;
			const struct sl_epoch_start *hist; /* valid until the next step */
		} meta;
		struct {
			uint32_t what;
			uint64_t a;
			uint64_t b;
		} notify;
		struct {
			uint64_t lsn;
			uint32_t epoch;
			uint64_t offset;     /* STORE: where data goes (0: a new snapshot begins) */
			uint64_t total;	     /* the image's length */
			const uint8_t *data; /* STORE: chunk bytes, valid until the step ends */
			uint32_t len;
			bool last; /* STORE: the image is whole: feed it back as SL_EV_SNAP_RECEIVED
				    */
		} snap;
	} u;
};

struct sl_actions_caps {
	uint32_t actions;
	uint32_t refs;
	uint32_t freed;
};

/* One step's output; buffers owned by the caller, sized by sl_actions_caps(). */
struct sl_actions {
	struct sl_action *act;
	uint32_t n_act, cap_act;
	struct sl_rec_ref *refs; /* storage that SEND and PERSIST point into */
	uint32_t n_refs, cap_refs;
	uint64_t *freed;
	uint32_t n_freed, cap_freed;
};

/* Counters; monotonically increasing. */
struct sl_core_stats {
	uint64_t records_appended;
	uint64_t records_applied;
	uint64_t frames_sent[SL_FRAME__MAX];
	uint64_t frames_received[SL_FRAME__MAX];
	uint64_t retransmits;
	uint64_t nacks_sent;
	uint64_t nacks_ignored;	  /* leader: repeats of a NACK whose retransmission is under way */
	uint64_t history_resyncs; /* follower: an APPEND's prev older than an epoch history */
	uint64_t stale_epoch;	  /* frames or commands of an older epoch, ignored */
	uint64_t foreign_frames;  /* frames that make no sense in our role */
	uint64_t client_not_leader;
	uint64_t client_busy;
	uint64_t client_timeouts; /* writes answered TIMEOUT (client_timeout_ns) */
	uint64_t lease_expired;	  /* times the leader stepped down for want of a lease */
	uint64_t client_dup;	  /* writes recognised as retries at apply */
	uint64_t reads_stale;
	uint64_t degraded_count;
	uint64_t truncated_records;
	uint64_t wal_reads;
	uint64_t kv_full;
	uint64_t ring_full_drops; /* records a follower could not take yet */
	uint64_t reordered;	  /* APPENDs held until the gap before them filled */
	uint64_t snapshots_sent;  /* leader: snapshot transfers begun (a follower behind the WAL) */
	uint64_t snapshots_installed; /* follower: received snapshots installed */
	uint64_t snapshot_rejects;    /* follower: received images that failed their checks */
};

enum sl_bug {
	SL_BUG_COMMIT_BEFORE_QUORUM = 1u << 0, /* leader commits on its own durability */
	SL_BUG_APPLY_PAST_COMMIT = 1u << 1,    /* follower applies what it received */
	SL_BUG_ACCEPT_OLD_EPOCH = 1u << 2,     /* follower takes frames of older epochs */
	SL_BUG_SKIP_TRUNCATE = 1u << 3,	       /* follower keeps a divergent suffix */
};

struct sl_core;

/* Fills sensible defaults around node_id, cluster_id and members. */
void sl_core_config_default(struct sl_core_config *cfg);

/* 0 if the configuration is unusable (non power-of-two ring, zero sizes, ...). */
size_t sl_core_mem_size(const struct sl_core_config *cfg);
void sl_actions_caps(const struct sl_core_config *cfg, struct sl_actions_caps *caps);

/* NULL when len is too small or cfg/rec are invalid. rec may be NULL (empty node). */
struct sl_core *sl_core_init(void *mem, size_t len, const struct sl_core_config *cfg,
			     const struct sl_core_recovered *rec);

/*
 * Consumes one event, appends actions to out (reset n_* first). Returns 0, or
 * -EINVAL for an event that cannot be handled (its handles are still freed).
 */
int sl_core_step(struct sl_core *c, const struct sl_event *ev, struct sl_actions *out);

/* Read-only views. */
void sl_core_status(const struct sl_core *c, uint64_t now_ns, struct sl_core_status *out);
const struct sl_core_stats *sl_core_stats(const struct sl_core *c);
uint32_t sl_core_epoch(const struct sl_core *c);
/* The highest committed LSN this node knows (cheap: for per-step probes and counters). */
uint64_t sl_core_commit_lsn(const struct sl_core *c);
uint64_t sl_core_kv_digest(const struct sl_core *c);
/* The value of key in the applied state (0), or -ENOENT. */
int sl_core_kv_get(const struct sl_core *c, const void *key, uint16_t key_len, const uint8_t **val,
		   uint32_t *val_len);
/* A leader sending its snapshot to a follower: a new one would restart the transfer. */
bool sl_core_snap_sending(const struct sl_core *c);
/* The record at lsn if it is still in the in-memory ring (0), else -ENOENT. */
int sl_core_log_record(const struct sl_core *c, uint64_t lsn, struct sl_rec_ref *out);

#endif
