/*
 * Control messages (DESIGN.md §1, §6): what the controller tells a node, what a node
 * reports back, and the text protocol that carries both between shiplogd's agent and
 * shiplog-controller. The replication core takes struct sl_control as an event and
 * fills struct sl_core_status; the controller's decisions (control/ctlcore.h) read
 * reports and write commands. One set of types for the three of them.
 */
#ifndef SHIPLOG_CONTROL_H
#define SHIPLOG_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shiplog/policy.h>
#include <shiplog/wire.h>

enum sl_role {
	SL_ROLE_FENCED = 0, /* takes no writes and no log; serves reads of its applied state */
	SL_ROLE_FOLLOWER,
	SL_ROLE_LEARNER, /* receives the log but is not counted by the commit policy */
	SL_ROLE_LEADER,
};

enum sl_control_cmd {
	SL_CTL_PROMOTE = 1, /* become leader of epoch */
	SL_CTL_FOLLOW,	    /* follow leader at epoch (learner when learner = 1) */
	SL_CTL_FENCE,	    /* stop at epoch: no writes, no log from older epochs */
	SL_CTL_SET_POLICY,  /* leader: replicate a CONFIG record with policy */
	SL_CTL_SET_LEARNER, /* leader: count node (learner = 0) or not (learner = 1) */
	SL_CTL_PAUSE,	    /* leader of epoch: refuse new writes (pause = 1) or take them again */
	SL_CTL_RENEW,	    /* the controller heard this node at epoch: renews the lease */
	SL_CTL_ADD_PEER,    /* node joins the peers (learner = 1: not counted), at addr */
	SL_CTL_REMOVE_PEER, /* node leaves the peers */
	SL_CTL_SNAPSHOT,    /* write a snapshot of the applied state, then apply WAL retention */
	SL_CTL__MAX,
};

struct sl_control {
	uint8_t cmd;
	uint8_t learner;
	uint16_t node; /* FOLLOW: the leader; SET_LEARNER, ADD_PEER, REMOVE_PEER: the node */
	uint32_t epoch;
	uint8_t pause; /* PAUSE */
	struct sl_policy policy;
	char addr[48]; /* ADD_PEER: "IPv4:port" of the node's data path (as data_addr) */
};

/* Per-follower view for status (leader only). */
struct sl_peer_status {
	uint16_t node;
	bool learner;
	bool healthy;
	bool sync;	       /* currently counted by a first-k policy */
	uint64_t received_lsn; /* as acknowledged */
	uint64_t flushed_lsn;
	uint64_t applied_lsn;
	uint64_t lag_records; /* last_lsn - acknowledged at the policy's level */
	uint64_t lag_bytes;   /* of those records still in the ring */
	uint64_t lag_ns;      /* age of the oldest record not yet acknowledged */
	uint64_t rto_ns;
};

/* One node's view of itself, from sl_core_status(). */
struct sl_core_status {
	uint8_t role;
	uint32_t epoch;
	uint16_t leader;
	uint64_t last_lsn;
	uint32_t last_epoch;
	uint64_t flushed_lsn;
	uint64_t applied_lsn;
	uint64_t commit_lsn;
	bool degraded;
	bool paused;	    /* leader: refusing writes for a switchover */
	bool lease_expired; /* leader stepped down: lost the controller and a majority */
	/* Follower or learner: since the last valid frame from the leader of its epoch
	 * (UINT64_MAX: none heard since it took this role). The controller's failure
	 * detector asks followers whether they lost the leader too (DESIGN.md §6). */
	uint64_t leader_age_ns;
	struct sl_policy policy;
	uint8_t n_peers;
	struct sl_peer_status peers[SL_NODE_MAX];
};

/* What a node's agent sends the controller, a few times per failure timeout. */
struct sl_node_report {
	uint16_t node;
	uint32_t cluster_id;
	uint64_t seq;	      /* the agent's report counter, from 1 */
	bool may_lead;	      /* recovery found the log whole (wal.h) */
	uint64_t refetch_lsn; /* when not: the LSN it must hold again before leading */
	char data_addr[48];   /* "IPv4:port" of the node's data path, for clients */
	/* A few counters for `shiplogctl status` and the controller's metrics. */
	uint64_t stale_epoch;
	uint64_t truncated_records;
	uint64_t retransmits;
	uint64_t client_busy;
	/* Snapshots (DESIGN.md §5), added after version 1: a report without them (an older
	 * agent) decodes with zeros. */
	uint64_t snapshot_lsn;	      /* the newest snapshot on disk (0: none) */
	uint64_t wal_first_lsn;	      /* the oldest LSN the WAL still holds (0: not reported) */
	uint64_t snapshots_sent;      /* leader: snapshot transfers begun */
	uint64_t snapshots_installed; /* follower: snapshots received and installed */
	struct sl_core_status st;
};

/* What a node's core notes (SL_ACT_NOTIFY) and its agent forwards to the controller
 * as it is (struct sl_node_note). */
enum sl_notify {
	SL_NOTE_ROLE = 1,    /* a = role, b = epoch */
	SL_NOTE_DEGRADED,    /* a = 1 entering async degradation, 0 leaving */
	SL_NOTE_TRUNCATED,   /* a = first discarded LSN, b = records discarded */
	SL_NOTE_SPLIT_BRAIN, /* a = other node claiming leadership of our epoch */
	SL_NOTE_KV_FULL,     /* a = LSN whose PUT found the table full (answered SL_ST_FULL) */
};

/* Something a node's core noted that the controller records (SL_NOTE_*). */
struct sl_node_note {
	uint16_t node;
	uint32_t what;
	uint64_t a;
	uint64_t b;
};

/*
 * The agent protocol. TCP, one JSON object per line (UTF-8, no newline inside; at most
 * SL_CTL_LINE_MAX bytes including the newline). Every object has "v" (the protocol
 * version, SL_CTL_PROTO_VERSION) and "type". A receiver rejects, counts and reports
 * a line that does not parse, has another version, or lacks a field it needs; it drops
 * the connection after one such line from an agent (the agent reconnects), and ignores
 * fields it does not know (additions keep the version). A field added after version 1
 * is optional on decode (0 when absent), so that a newer receiver still reads an older
 * sender.
 *
 *   agent -> controller
 *     hello   {"v":1,"type":"hello","node":2,"cluster":7,"token":"..."}
 *     report  {"v":1,"type":"report","node":2, ... struct sl_node_report ...}
 *     note    {"v":1,"type":"note","node":2,"what":3,"a":1001,"b":12}
 *   controller -> agent
 *     cmd     {"v":1,"type":"cmd","cmd":"promote","epoch":5,"node":0,"learner":0,
 *              "pause":0,"policy":"first 1 (2,3) level=flushed ..."}
 *     bye     {"v":1,"type":"bye","reason":"..."}  (before the controller closes)
 *
 * Field names are those of the C structs; the role is a name (sl_role_name), the
 * policy its canonical text (sl_policy_format), durations in nanoseconds as integers.
 */
#define SL_CTL_PROTO_VERSION 1
#define SL_CTL_AGENT_PORT    7410 /* controller: agents connect here */
#define SL_CTL_ADMIN_PORT    7411 /* controller: admin API over TCP */
#define SL_CTL_LINE_MAX	     65536
#define SL_CTL_TOKEN_MAX     128

enum sl_ctl_msg_type {
	SL_CTL_MSG_HELLO = 1,
	SL_CTL_MSG_REPORT,
	SL_CTL_MSG_NOTE,
	SL_CTL_MSG_CMD,
	SL_CTL_MSG_BYE,
};

struct sl_ctl_msg {
	uint8_t type; /* SL_CTL_MSG_* */
	union {
		struct {
			uint16_t node;
			uint32_t cluster_id;
			char token[SL_CTL_TOKEN_MAX];
		} hello;
		struct sl_node_report report;
		struct sl_node_note note;
		struct sl_control cmd;
		struct {
			char reason[128];
		} bye;
	} u;
};

/*
 * Encodes m as one line, newline included, into buf. Returns its length, or -ENOSPC
 * when it does not fit, -EINVAL when m is not encodable (unknown type or command).
 */
int sl_ctl_encode(const struct sl_ctl_msg *m, char *buf, size_t cap);

/*
 * Decodes one line (with or without its newline). Returns 0, or -EINVAL with a
 * sentence in err saying what is wrong (never a crash, for any bytes).
 */
int sl_ctl_decode(const char *line, size_t len, struct sl_ctl_msg *out, char *err, size_t err_len);

const char *sl_role_name(unsigned role);       /* "fenced" | "follower" | ... */
int sl_role_parse(const char *name);	       /* SL_ROLE_* or -1 */
const char *sl_control_cmd_name(unsigned cmd); /* "promote" | ... | "unknown" */
int sl_control_cmd_parse(const char *name);    /* SL_CTL_* or -1 */

#endif
