/* shiplogd's configuration: the key = value file, command-line overrides, validation. */
#ifndef SHIPLOG_DP_CONFIG_H
#define SHIPLOG_DP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shiplog/control.h>
#include <shiplog/policy.h>
#include <shiplog/record.h>
#include <shiplog/wire.h>

/*
 * The file is INI (parsed by Debian's inih): "key = value" lines in sections, '#' or ';'
 * comments at the start of a line, and " ;" (a blank, then ';') ending a value early.
 * Every key is also settable from the command line as --section.key=value (cfg_set),
 * applied after the file. README.md "Configuration reference" lists them, with their
 * ranges (the table at the top of config.c is the source of truth):
 *
 *   [node]     id, data_dir, port (DPDK port name or number; repeat for several ports,
 *              in order: port index 0, 1, ...), ip, udp_port, mtu, idle (busy|sleep),
 *              idle_sleep_us, lcores (1: rx/tx, core and persistence on one lcore;
 *              2: persistence on the next lcore), mbufs
 *   [cluster]  id, key (64 hex digits) or key_file (a file holding them), epoch, role
 *              (leader|follower|learner|fenced), leader (node id), policy (the text
 *              sl_policy_parse reads), durability (none|fsync: the policy's durability),
 *              peer (repeatable: "ID IP [MAC] [port=N] [udp=PORT]"; without MAC the
 *              dataplane resolves it with ARP)
 *   [wal]      mode (buffered|dsync|direct), segment_mb, batch_kb, queue_records,
 *              retention_mb, snapshot_records (a snapshot each time this many records
 *              were applied since the last; 0: only on the controller's command)
 *   [limits]   key_max, val_max, ring_records, window_records, kv_keys, dedup_clients,
 *              pending_reads, reorder_frames
 *   [timing]   heartbeat_ms, health_ms, rto_min_us, rto_max_ms, read_wait_ms,
 *              client_timeout_ms
 *   [control]  controller (IPv4:PORT of shiplog-controller's agent port; empty: none,
 *              and the starting role comes from [cluster]), report_ms (how often the
 *              agent reports), token_file (a file holding the hello token, read at
 *              start), lease_ms (the leader's check-quorum lease, DESIGN.md §6; 0: off;
 *              default 1000 with a controller, and it must be 0 without one)
 *   [fault]    loss_ppm, dup_ppm, reorder_ppm, seed: faults injected on received
 *              datagrams, for tests (default 0: none)
 *
 * Unknown sections or keys, values out of range, trailing junk and repeated singleton
 * keys are errors: a typo in a replication appliance's config must not pass silently.
 * cluster.durability, when given, overrides the durability inside cluster.policy
 * whichever of the two comes first (and whether the policy comes from the file or the
 * command line). Error messages never quote a value: a key in the wrong place must not
 * end up in a log.
 */

#define CFG_PORTS_MAX	   4u
#define CFG_PORT_NAME_MAX  64u
#define CFG_PATH_MAX	   256u
#define CFG_ERR_MAX	   256u
#define CFG_LINE_MAX	   198u	      /* bytes on a line, '\n' not counted: inih's buffer */
#define CFG_VALUE_MAX	   176u	      /* bytes in a value: "key = value" always fits a line */
#define CFG_FILE_MAX	   (1u << 20) /* a configuration file is at most 1 MiB */
#define CFG_KEY_FILE_MAX   4096u      /* a key_file is at most 4 KiB */
#define CFG_TEXT_MAX	   8192u      /* cfg_format never needs more */
#define CFG_DUR_POLICY	   0xffu      /* cfg.durability: no override, the policy decides */
#define CFG_LEASE_DEFAULT  UINT32_MAX /* cfg.lease_ms: 1000 with a controller, else 0 */
#define CFG_LEASE_WITH_CTL 500u	      /* ms: the lease when a controller is configured */
#define CFG_LEASE_MAX	   600000u

enum cfg_idle {
	CFG_IDLE_BUSY = 0,  /* poll without pause: production, on an isolated core */
	CFG_IDLE_SLEEP = 1, /* back off (up to idle_sleep_us) while queues are empty */
};

/*
 * struct cfg_peer and struct cfg have no padding (explicit reserved bytes instead, kept
 * zero), so that cfg_equal() is a memcmp, as with struct sl_policy.
 */
struct cfg_peer {
	uint16_t id;
	uint8_t port; /* index into cfg.ports[] the peer is reached through */
	bool has_mac; /* false: resolve with ARP */
	uint32_t ip;  /* host byte order */
	uint8_t mac[6];
	uint16_t udp_port; /* udp=PORT, default SL_UDP_PORT (not this node's udp_port) */
};
_Static_assert(sizeof(struct cfg_peer) == 16, "no padding in struct cfg_peer");

struct cfg {
	/* [node] */
	uint16_t node_id;	     /* 1..SL_NODE_MAX; required */
	uint16_t udp_port;	     /* default SL_UDP_PORT */
	uint16_t mtu;		     /* IP MTU, 576..9000, default 1500 */
	uint8_t n_ports;	     /* at least 1 after cfg_check */
	uint8_t idle;		     /* enum cfg_idle, default sleep */
	uint8_t lcores;		     /* 1 or 2, default 2 */
	uint8_t reserved_node[3];    /* zero */
	uint32_t ip;		     /* host byte order; required */
	uint32_t idle_sleep_us;	     /* default 100 */
	uint32_t mbufs;		     /* 0: derived from the sizes below */
	char data_dir[CFG_PATH_MAX]; /* required; absolute, at most CFG_VALUE_MAX bytes */
	char ports[CFG_PORTS_MAX][CFG_PORT_NAME_MAX];

	/* [cluster] */
	uint32_t cluster_id; /* required, non-zero */
	uint32_t epoch;	     /* static start epoch until the controller exists; default 1 */
	uint16_t leader;     /* node id of the leader; required unless role is fenced */
	uint8_t role;	     /* enum sl_role (dataplane/core/core.h), default follower */
	bool has_key;
	uint8_t n_peers;
	uint8_t durability;	     /* SL_DUR_* overriding policy.durability, or CFG_DUR_POLICY */
	uint8_t reserved_cluster[2]; /* zero */
	struct sl_auth_key key;
	struct sl_policy policy; /* default sl_policy_default() */
	struct cfg_peer peers[SL_NODE_MAX];

	/* [wal] */
	uint8_t wal_mode;	 /* enum sl_wal_mode, default direct */
	uint8_t reserved_wal[3]; /* zero */
	uint32_t segment_mb;
	uint32_t batch_kb;
	uint32_t queue_records;
	uint32_t retention_mb;	   /* 0: no cap */
	uint32_t snapshot_records; /* 0: snapshots only when the controller asks */
	uint32_t reserved_wal2;	   /* zero: keeps struct cfg free of padding */

	/* [limits] */
	struct sl_limits limits;
	uint32_t ring_records; /* power of two */
	uint32_t window_records;
	uint32_t kv_keys;
	uint32_t dedup_clients;
	uint32_t pending_reads;
	uint32_t reorder_frames;

	/* [timing] */
	uint32_t heartbeat_ms;
	uint32_t health_ms;
	uint32_t rto_min_us;
	uint32_t rto_max_ms;
	uint32_t read_wait_ms;
	uint32_t client_timeout_ms; /* a write not committed by then is answered TIMEOUT */

	/* [fault]: injected on every UDP datagram received, for tests of loss (in parts
	 * per million; all 0 in production). */
	uint32_t fault_loss_ppm;
	uint32_t fault_dup_ppm;
	uint32_t fault_reorder_ppm; /* held back and delivered after the next datagram */
	uint32_t fault_seed;

	/* [control]: shiplog-controller (DESIGN.md §1, §6). */
	uint32_t ctl_ip;	       /* host byte order; 0: no controller (static roles) */
	uint16_t ctl_port;	       /* 0 exactly when ctl_ip is 0 */
	uint8_t reserved_control[2];   /* zero */
	uint32_t report_ms;	       /* agent reports this often, 1..999, default 100 */
	uint32_t lease_ms;	       /* 0: off; CFG_LEASE_DEFAULT: see cfg_lease_ms() */
	char token_file[CFG_PATH_MAX]; /* empty: no token; at most CFG_VALUE_MAX bytes */

	/*
	 * Which singleton keys a file set (bit per key, internal to config.c): a second
	 * line, or a second file, setting one is an error. cfg_set ignores and keeps it.
	 * Not part of the settings: cfg_equal() leaves it out.
	 */
	uint64_t seen[2];
};
_Static_assert(sizeof(struct cfg) == 2040, "no padding in struct cfg");
_Static_assert(offsetof(struct cfg, seen) == 2024, "seen is last");

/* Defaults for everything with a default; required keys stay zero. */
void cfg_default(struct cfg *c);

/*
 * Applies one key. section/key as in the file; value without surrounding blanks (they
 * are trimmed). Returns 0, or -EINVAL with "section.key: reason" in err (NUL-terminated,
 * at most err_len bytes, never a newline; err may be NULL). *c is unchanged on error.
 * A singleton key replaces what was there. cluster.peer with a known id replaces that
 * peer (the file loader refuses it instead); node.port adds a port.
 */
int cfg_set(struct cfg *c, const char *section, const char *key, const char *value, char *err,
	    size_t err_len);

/*
 * Applies a whole file or a NUL-terminated text in the same format. Errors say
 * "FILE:LINE: section.key: reason" ("<text>" for a string). Parsing stops at the first
 * error and *c is then unchanged. Returns 0; -EINVAL for the content; for the file,
 * -errno when it cannot be read, -EFBIG above CFG_FILE_MAX.
 */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t err_len);
int cfg_load_string(struct cfg *c, const char *text, char *err, size_t err_len);

/*
 * "--section.key=value" or "--section.key value" style overrides are split by the
 * caller; this parses "section.key" into its parts and applies value. Shorthands:
 * "node-id" = node.id, "data-dir" = node.data_dir, "idle" = node.idle.
 */
int cfg_set_option(struct cfg *c, const char *name, const char *value, char *err, size_t err_len);

/* Cross-key validation after everything is applied: required keys present, leader a
 * member, policy nodes members, peers unique and not self, peer ports < n_ports, sizes
 * consistent (ring a power of two, window <= ring, ...). 0 or -EINVAL with a reason. */
int cfg_check(const struct cfg *c, char *err, size_t err_len);

/* Writes the effective configuration as a file cfg_load_string reads back to an
 * identical struct (tests, "shiplogd --print-config"). Returns the length, or 0 when
 * cap is too small (CFG_TEXT_MAX is always enough). */
size_t cfg_format(const struct cfg *c, char *buf, size_t cap);

/* Same settings: everything but seen. */
bool cfg_equal(const struct cfg *a, const struct cfg *b);

static inline bool cfg_has_controller(const struct cfg *c)
{
	return c->ctl_ip != 0;
}

/* The lease in effect: lease_ms, or its default (1000 with a controller, 0 without). */
uint32_t cfg_lease_ms(const struct cfg *c);

/*
 * Reads control.token_file into tok (NUL-terminated; trailing blanks and newline cut):
 * 1..SL_CTL_TOKEN_MAX-1 printable ASCII bytes. tok is "" when no token_file is set. 0, or
 * -EINVAL with "control.token_file: reason" in err (never the token itself).
 */
int cfg_read_token(const struct cfg *c, char *tok, size_t cap, char *err, size_t err_len);

#endif
