/* One shiplogd node: the state shared by its network lcore and its persistence lcore. */
#ifndef SHIPLOG_DP_NODE_H
#define SHIPLOG_DP_NODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <shiplog/reject.h>
#include <shiplog/wire.h>

#include "config.h"
#include "core.h"
#include "pkt.h"
#include "port.h"
#include "wal.h"

struct agent;
struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

/*
 * Threads (DESIGN.md §2, §5). The network lcore owns the ports, the replication core and
 * everything in struct node_net; the persistence lcore owns the WAL and struct
 * node_persist. They talk through two rings of struct node_msg (single producer,
 * single consumer each) and nothing else, except the synchronous requests (metadata,
 * truncation) below and the counters, which each side writes and the telemetry thread
 * only reads. With lcores = 1 the same two loops take turns on one lcore.
 *
 * With a controller, a third thread (agent.h, not an lcore) reads the snapshots the
 * lcores publish, and talks to the network lcore through two small rings only:
 * ctl_cmds (controller commands in, fed to the core as SL_EV_CONTROL) and ctl_notes
 * (the core's notes out). The network lcore never waits on either.
 *
 * Record memory (DESIGN.md §4 zero copy). A record's handle is the rte_mbuf that holds
 * it. Every holder (the core, the WAL, an indirect mbuf in a frame being sent) owns one
 * reference on that mbuf (rte_mbuf_refcnt), so the mbuf goes back to its pool when the
 * last of them lets go. Records read back from the WAL for catch-up live in read
 * buffers instead: their handles carry NODE_H_READBUF.
 */
#define NODE_H_READBUF	  (1ull << 62)
#define NODE_READ_BUFS	  8u
#define NODE_READ_BUF_LEN (256u << 10)
#define NODE_BURST	  32u

enum node_msg_kind {
	/* network -> persistence */
	NODE_M_REC = 1,	 /* one record: data, len, handle (an mbuf reference the WAL owns) */
	NODE_M_HINT,	 /* a = commit hint for the records before it */
	NODE_M_READ,	 /* a = from, b = to, c = node: read records for catch-up or apply */
	NODE_M_BUF_DONE, /* c = read buffer index: every record of it released */
	NODE_M_SYNC,	 /* the synchronous request in node.sync */
	NODE_M_SNAPSHOT, /* save the image data, len at a = lsn, c = epoch; b = need_lsn */
	/* persistence -> network */
	NODE_M_PERSISTED, /* a = lsn, c = epoch */
	NODE_M_READ_DONE, /* a = first lsn, b = len, c = buf | n << 8, d = node, status */
	NODE_M_SNAP_DONE, /* the SNAPSHOT back: status, b = WAL segments deleted */
};

struct node_msg {
	uint8_t kind;
	int8_t status; /* READ_DONE: 0 or a negative errno (clamped) */
	uint16_t d;
	uint32_t c;
	uint32_t len;
	uint8_t *data;
	uint64_t a; /* REC: handle */
	uint64_t b;
};
_Static_assert(sizeof(struct node_msg) == 40, "ring element size is a multiple of 4");

enum node_sync_op {
	NODE_SYNC_META = 1,
	NODE_SYNC_TRUNCATE,
	NODE_SYNC_STOP,	   /* flush, close the WAL, leave the persistence loop */
	NODE_SYNC_INSTALL, /* the log restarts after a snapshot received from the leader */
};

/* A request the network lcore waits for (rare: epoch changes, truncation, stop). */
struct node_sync {
	uint8_t op;
	uint32_t epoch;
	uint8_t n_hist;
	struct sl_epoch_start hist[SL_EPOCH_HIST_MAX];
	uint64_t after_lsn;   /* TRUNCATE; INSTALL: the snapshot's LSN */
	const uint8_t *image; /* INSTALL */
	uint64_t image_len;
	int result;
	atomic_uint_fast64_t asked; /* written by the network lcore */
	atomic_uint_fast64_t done;  /* written by the persistence lcore */
};

/* Counters of the network lcore (DESIGN.md §8). */
struct node_net_stats {
	uint64_t rx_pkts;
	uint64_t rx_oversized; /* frames over the configured MTU (chained mbufs): dropped */
	uint64_t tx_pkts;
	uint64_t tx_dropped; /* the port's queue was full: the core retransmits */
	uint64_t no_route;   /* a frame for a node without a resolved MAC (ARP asked) */
	uint64_t arp_requests;
	uint64_t arp_replies;
	uint64_t client_reqs;
	uint64_t client_writes;
	uint64_t client_reads;
	uint64_t client_refused; /* answered TOO_LARGE or BAD_REQUEST at the door */
	uint64_t replies;
	uint64_t records_in;	   /* client records taken, and records of APPENDs received */
	uint64_t bytes_zero_copy;  /* record bytes sent by reference (indirect mbufs) */
	uint64_t bytes_copied;	   /* record bytes copied on the hot path (should stay 0) */
	uint64_t ctl_bytes_copied; /* the core's own NOOP/CONFIG records and catch-up reads */
	uint64_t no_mbuf;	   /* allocation failed: the frame was not sent */
	uint64_t ring_waits;	   /* the persistence ring was full: waited */
	uint64_t read_errors;	   /* a WAL read for catch-up failed */
	uint64_t core_errors;	   /* sl_core_step returned an error */
	uint64_t commit_lsn_moves;
	uint64_t steps;
	uint64_t idle_sleeps;
	uint64_t fault_dropped; /* [fault] knobs: datagrams dropped, duplicated, reordered */
	uint64_t fault_duplicated;
	uint64_t fault_reordered;
	uint64_t ctl_commands;	  /* controller commands fed to the core */
	uint64_t ctl_refused;	  /* ... that the core refused (stale epoch, wrong role) */
	uint64_t notes_dropped;	  /* notes for the controller: the agent's ring was full */
	uint64_t snapshots_saved; /* SNAPSHOT (command or snapshot_records) written */
	uint64_t snapshot_errors; /* ... that could not be: refused, too large, WAL error */
	uint64_t snapshot_unsent; /* chunks not sent: the image asked for is not in memory */
	struct net_drop_stats drops;
	struct sl_reject_stats rejects;
};

struct node_persist_stats {
	uint64_t records;
	uint64_t persisted_msgs;
	uint64_t reads;
	uint64_t append_full; /* -EAGAIN from the WAL: held and retried */
	uint64_t wal_errors;
};

/* What the telemetry thread may read, copied out by each lcore under a seqcount. */
struct node_net_snapshot {
	struct sl_core_status st;
	struct sl_core_stats core;
	struct node_net_stats net;
	uint64_t tx_dropped;
};

struct node_wal_snapshot {
	struct sl_wal_status st;
	struct sl_wal_stats stats;
	struct node_persist_stats per;
};

struct node {
	struct cfg cfg;
	uint8_t n_ports;
	struct port ports[CFG_PORTS_MAX];
	struct rte_mempool *pool;     /* direct mbufs: receive and headers */
	struct rte_mempool *ind_pool; /* indirect mbufs: references to records */
	struct rte_mempool *ctl_pool; /* copies of the core's own records for the WAL */
	struct rte_ring *to_persist;
	struct rte_ring *to_net;
	struct rte_ring *ctl_cmds;  /* from the agent; NULL without a controller */
	struct rte_ring *ctl_notes; /* to the agent; NULL without a controller */
	struct agent *agent;	    /* its counters, for telemetry; NULL without */

	/* network lcore */
	struct sl_core *core;
	void *core_mem;
	struct sl_core_config core_cfg;
	struct sl_actions out;
	struct sl_frame_expect expect;
	struct net_neigh_table neigh;
	uint64_t frame_seq[SL_NODE_MAX + 1];
	uint64_t last_commit;
	uint32_t readbuf_refs[NODE_READ_BUFS];
	struct sl_rec_ref *wal_refs; /* one WAL read's records, for SL_EV_WAL_RECORDS */
	uint32_t cap_wal_refs;
	uint64_t now_ns;
	uint64_t next_snapshot_ns;
	/* Snapshots (snapshot.c in this folder): images in plain memory. */
	uint8_t *image; /* the newest snapshot on disk, which a leader ships (NULL: none) */
	uint64_t image_len, image_lsn;
	uint32_t image_epoch;
	uint8_t *image_saving;	  /* handed to the persistence lcore, until NODE_M_SNAP_DONE */
	bool image_overtaken;	  /* an install from the leader came after it: it is gone */
	uint64_t image_write_ns;  /* how long writing it paused the network lcore */
	uint64_t image_saving_ns; /* when it was handed over */
	uint64_t rx_start_ns;	  /* when its first chunk arrived */
	uint8_t *rx_image;	  /* follower: the snapshot being received */
	uint64_t rx_cap, rx_len, rx_lsn;
	uint32_t rx_epoch;
	bool rx_ready;		     /* rx_image is whole: feed it to the core */
	bool load_ready;	     /* the core asked for image back (SL_ACT_SNAP_LOAD) */
	uint64_t fault_rng;	     /* [fault]: xorshift state; 0 when no fault is set */
	struct rte_mbuf *fault_held; /* a datagram held back to reorder it */
	struct port *fault_held_port;
	struct net_pkt fault_held_pkt;
	struct node_net_stats net;

	/* persistence lcore */
	struct sl_wal *wal;
	struct sl_wal_recovery recovery;
	uint8_t *readbuf[NODE_READ_BUFS];
	uint32_t readbuf_free; /* bit per free buffer */
	struct sl_rec_ref *held;
	uint32_t n_held, cap_held;
	uint64_t held_hint;
	uint64_t sent_flushed;
	uint64_t persist_turns;
	struct node_persist_stats per;

	struct node_sync sync;
	atomic_uint snap_seq; /* odd while the network lcore writes snap */
	struct node_net_snapshot snap;
	atomic_uint wal_seq; /* odd while the persistence lcore writes wal_snap */
	struct node_wal_snapshot wal_snap;
	uint64_t next_wal_snapshot_ns;
	atomic_bool stop;	  /* SIGTERM/SIGINT, or a failure */
	atomic_bool failed;	  /* the node stopped on a failure: exit status 1 */
	atomic_bool persist_done; /* the persistence loop has closed the WAL */
	bool single_lcore;
};

uint64_t node_now_ns(void);
/* One idle back-off step of a loop (both lcores' loops): true when it slept. */
bool node_idle(const struct cfg *c, unsigned *idle_rounds, bool busy);
/* Stops the node for a failure (the exit status says so). */
void node_fail(struct node *n);

/* Network lcore (node.c). */
int node_net_init(struct node *n);
void node_net_fini(struct node *n);
/* The starting role: from [cluster], or fenced until the controller says (DESIGN.md §6). */
int node_net_start(struct node *n);
void node_net_iteration(struct node *n, bool *busy);
int node_net_loop(void *arg);

/* One event through the core, its actions executed: sl_core_step's result. */
int node_step(struct node *n, const struct sl_event *ev);
/* Messages to the persistence lcore, in order (waits while its ring is full). */
void node_msgs_send(struct node *n, const struct node_msg *m, unsigned count);

/* Snapshots (nodesnap.c). */
/* Starts a snapshot of the applied state (SL_CTL_SNAPSHOT, snapshot_records): 0 (also
 * when there is nothing new), -EBUSY (one is being saved, or the current one is being
 * sent to a follower), -E2BIG (an image over 4 GiB), -ENOMEM. */
int node_image_take(struct node *n);
void node_image_saved(struct node *n, const struct node_msg *m);
void node_image_store(struct node *n, const struct sl_action *a);
void node_image_install(struct node *n, const struct sl_action *a);
/* After a step's actions: an image the core is to take (received, or asked back). */
void node_image_feed(struct node *n);
/* Start-up (persistence side, before node_net_init): the newest snapshot's image. */
int node_image_load(struct node *n);
/* The body of a SNAPSHOT_CHUNK the core sends: NULL when that image is not here. */
const uint8_t *node_image_chunk(struct node *n, const struct sl_snap_chunk *s);

/* Persistence lcore (persist.c). */
int node_persist_open(struct node *n);
void node_persist_iteration(struct node *n, bool *busy);
int node_persist_loop(void *arg);
/* Asks the persistence side to do n->sync (filled by the caller) and waits for it. */
int node_sync_request(struct node *n);

/* DPDK telemetry (telemetry.c): /shiplog/stats, /shiplog/lsn, /shiplog/peers. */
int node_telemetry_register(struct node *n);
void node_snapshot_publish(struct node *n);
void node_wal_snapshot_publish(struct node *n);
/* Consistent copies of what the lcores published, from any thread. */
void node_snapshot_read(struct node *n, struct node_net_snapshot *out);
void node_wal_snapshot_read(struct node *n, struct node_wal_snapshot *out);

#endif
