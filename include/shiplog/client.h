/* libshiplog: the shiplog client over kernel UDP (put/get/del, retries, leader discovery). */
#ifndef SHIPLOG_CLIENT_H
#define SHIPLOG_CLIENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <shiplog/record.h>
#include <shiplog/reject.h>
#include <shiplog/wire.h>

/*
 * One struct sl_client owns one UDP socket and has at most one request outstanding.
 * It is NOT thread-safe: use one per thread. The library starts no threads, installs
 * no signal handlers and allocates only in sl_client_open().
 *
 * Protocol (DESIGN.md §3, §4, §7; wire.h): each operation is one CLIENT_REQ frame in
 * one datagram (src_node 0, dst_node the id of the node it is sent to, epoch 0, the
 * frame seq a per-client datagram counter), answered by a CLIENT_RESP sent to the
 * source address and port of the request datagram. An answer is taken only when it
 * decodes (cluster, CRC, MAC when a key is configured) and echoes this client's
 * (client_id, seq, op); everything else is counted in struct sl_client_stats and
 * dropped.
 *
 * Every operation takes the next seq; its retries reuse it, so the server's
 * deduplication on (client_id, seq) makes a retried write apply once:
 *   - no answer within the attempt timeout: the same datagram again; after
 *     tries_per_server unanswered attempts the next server of the list is tried;
 *   - NOT_LEADER with a hint naming a listed node: sent there at once; with hint 0, an
 *     unknown node, or after as many redirects in a row as there are servers: the
 *     next server, after a backoff;
 *   - BUSY, TIMEOUT (and STALE when waiting was asked for): the same server again
 *     after a backoff of 1 ms doubling to 64 ms;
 *   - everything else is final and returned.
 * At the deadline the operation fails with -ETIMEDOUT. The node that answered a
 * leader operation last is where the next one starts.
 */

#define SL_CLIENT_SERVERS_MAX		     SL_NODE_MAX
#define SL_CLIENT_ATTEMPT_TIMEOUT_MS_DEFAULT 100u
#define SL_CLIENT_DEADLINE_MS_DEFAULT	     5000u
#define SL_CLIENT_TRIES_PER_SERVER_DEFAULT   2u
#define SL_CLIENT_BACKOFF_US_MIN	     1000u  /* first backoff after BUSY/TIMEOUT */
#define SL_CLIENT_BACKOFF_US_MAX	     64000u /* backoff doubles up to this */
#define SL_CLIENT_DGRAM_MAX		     65507u /* largest UDP payload over IPv4 */
#define SL_CLIENT_ERR_MAX		     160u   /* enough for any parser message */

/* result.status when no answer was heard at all (not an SL_ST_* value). */
#define SL_CLIENT_ST_NONE 0xffu

/* One shiplogd data endpoint. */
struct sl_client_server {
	uint16_t node_id;    /* 1..SL_NODE_MAX, as in the node's configuration */
	uint16_t port;	     /* UDP port, host order; 0 means SL_UDP_PORT */
	struct in_addr addr; /* IPv4, network order */
};

/* sl_client_open() options. Zero means the default for every field that has one. */
struct sl_client_opts {
	uint32_t cluster_id;			/* required, non-zero: the cluster's [cluster] id */
	const struct sl_auth_key *key;		/* NULL: frames unauthenticated; copied */
	const struct sl_client_server *servers; /* required; copied */
	size_t n_servers;			/* 1..SL_CLIENT_SERVERS_MAX, distinct node ids */
	uint32_t attempt_timeout_ms; /* wait for an answer before resending; default 100 */
	uint32_t deadline_ms;	     /* whole operation, retries included; default 5000 */
	uint32_t tries_per_server;   /* unanswered attempts before the next server; default 2 */
	uint64_t client_id;	     /* 0: random (getrandom) */
	uint64_t first_seq;	     /* seq of the first operation; default 1 (see below) */
	uint16_t first_node;	     /* node tried first; 0: the first of servers[] */
	struct in_addr bind_addr;    /* source IPv4 (multi-homed hosts); 0: the kernel picks */
	uint16_t bind_port;	     /* source UDP port, host order; 0: ephemeral */
	struct sl_limits limits;     /* key/value limits enforced before sending;
					all zero: sl_limits_default() */
};
/*
 * A fixed client_id reused by a later process must continue above the seqs it used
 * before (first_seq): the server answers a (client_id, seq) it has seen with the
 * earlier outcome instead of applying the new operation.
 */

/* Optional arguments of sl_client_get(); NULL means all zero. */
struct sl_client_get_opts {
	uint64_t min_lsn; /* the least applied LSN the answer may reflect (DESIGN.md §7); 0 = any */
	uint16_t node_id; /* read from this node (follower read) and retry only there; 0: the
			     leader. A NOT_LEADER answer from it sends the read to its hint. */
	int wait_stale;	  /* nonzero: retry STALE answers until the deadline instead of
			     returning them */
};

/* What an operation ended with. Filled unless it was refused before sending (-EINVAL,
 * -ENOENT, -EMSGSIZE for the limits). */
struct sl_client_result {
	uint8_t status;	      /* SL_ST_* of the last answer, SL_CLIENT_ST_NONE if none */
	uint8_t op;	      /* SL_OP_* */
	uint16_t node_id;     /* node that sent the last answer (its frame's src_node) */
	uint16_t leader_hint; /* of the last NOT_LEADER answer, else 0 */
	uint32_t epoch;	      /* commit token: epoch of a write answered OK */
	uint64_t lsn;	      /* commit token (writes OK), applied LSN (GET, STALE) */
	uint64_t seq;	      /* seq the operation used (to reissue it: sl_client_set_seq) */
	uint32_t attempts;    /* datagrams sent (or tried: see send_errors) for it */
	uint32_t val_len;     /* GET OK: length of the value, even when it did not fit */
	uint64_t elapsed_us;
};

/* Counters since sl_client_open(). */
struct sl_client_stats {
	uint64_t ops;		  /* operations started */
	uint64_t sent;		  /* datagrams sent, first attempts and retries */
	uint64_t retransmits;	  /* resent after an unanswered attempt */
	uint64_t rotations;	  /* moved to the next server after unanswered attempts */
	uint64_t send_errors;	  /* sendto() failures treated as a lost datagram */
	uint64_t not_leader;	  /* NOT_LEADER answers */
	uint64_t busy;		  /* BUSY answers */
	uint64_t server_timeouts; /* TIMEOUT answers */
	uint64_t stale;		  /* STALE answers */
	uint64_t deadlines;	  /* operations that ended with -ETIMEDOUT */
	uint64_t received;	  /* datagrams read from the socket */
	uint64_t answers;	  /* of those, answers to the outstanding request */
	/* Datagrams ignored, by cause; ign_* sum to received - answers. */
	uint64_t ign_wrong_cluster; /* SL_REJ_BAD_CLUSTER */
	uint64_t ign_bad_crc;	    /* SL_REJ_BAD_CRC */
	uint64_t ign_bad_mac;	    /* SL_REJ_BAD_MAC: tag missing, unexpected or wrong */
	uint64_t ign_not_ours;	    /* valid CLIENT_RESP for another client_id, seq or op
				       (a late answer to an earlier attempt, say) */
	uint64_t ign_malformed;	    /* any other refusal, not a CLIENT_RESP, or truncated */
	struct sl_reject_stats rej; /* every decoder refusal by reason */
};

struct sl_client;

/*
 * Validates o, creates and (with bind_addr/bind_port) binds the socket, and draws the
 * client_id. Returns 0 with *out set, or -EINVAL (bad options, with no reason given:
 * validate server lists with sl_client_servers_parse), -ENOMEM, or a socket error.
 */
int sl_client_open(const struct sl_client_opts *o, struct sl_client **out);

/* Closes the socket and frees c. NULL is accepted. */
void sl_client_close(struct sl_client *c);

/*
 * The operations. key (1..limits.key_max bytes) and val (0..limits.val_max bytes)
 * are sent as they are. Returns:
 *   0           a final answer: res->status is OK, NOT_FOUND, STALE (not waiting),
 *               TOO_LARGE or BAD_REQUEST;
 *   -ETIMEDOUT  the deadline passed without a final answer: res->status is the last
 *               answer heard (NOT_LEADER, BUSY, TIMEOUT, STALE) or SL_CLIENT_ST_NONE;
 *               a write's outcome is then unknown;
 *   -ENOBUFS    GET answered OK with a value longer than val_cap: the first val_cap
 *               bytes are copied, res->val_len is the length needed;
 *   -EMSGSIZE   key or value over the limits (nothing sent), or the datagram over the
 *               path MTU (IPv4 DF is set: shiplog does not fragment);
 *   -EINVAL     key_len 0 or a NULL pointer with a non-zero length;
 *   -ENOENT     get_opts->node_id is not in the server list;
 *   another -errno from the socket.
 * res may not be NULL. A GET copies the value into val (val_cap bytes; NULL with 0
 * asks only for the length).
 */
int sl_client_put(struct sl_client *c, const void *key, uint16_t key_len, const void *val,
		  uint32_t val_len, struct sl_client_result *res);
int sl_client_del(struct sl_client *c, const void *key, uint16_t key_len,
		  struct sl_client_result *res);
int sl_client_get(struct sl_client *c, const void *key, uint16_t key_len,
		  const struct sl_client_get_opts *go, void *val, uint32_t val_cap,
		  struct sl_client_result *res);

/* The client_id in every request of c. */
uint64_t sl_client_id(const struct sl_client *c);

/* The seq the next operation takes. */
uint64_t sl_client_next_seq(const struct sl_client *c);

/*
 * Sets the seq of the next operation: to reissue a write whose outcome is unknown
 * (-ETIMEDOUT) with its own res->seq, so that the server applies it at most once.
 * Returns 0, or -EINVAL for seq 0.
 */
int sl_client_set_seq(struct sl_client *c, uint64_t seq);

/* The node the next leader operation is sent to first. */
uint16_t sl_client_leader(const struct sl_client *c);

/* Copies the counters. */
void sl_client_get_stats(const struct sl_client *c, struct sl_client_stats *out);

/* "ok", "not_found", ... as sl_client_status_name(), and "no_answer" for SL_CLIENT_ST_NONE. */
const char *sl_client_result_status_name(unsigned status);

/*
 * Parses a server list "ID=IPV4[:PORT],..." ("1=10.0.0.1:7400,2=10.0.0.2", port
 * SL_UDP_PORT by default) into out[0..cap-1] and sets *n. Node ids are 1..SL_NODE_MAX
 * and distinct; so are addresses with their ports. No blanks. Returns 0, or -EINVAL
 * with a one-line reason naming the item in err (err_len bytes, SL_CLIENT_ERR_MAX is
 * enough; err may be NULL).
 */
int sl_client_servers_parse(const char *s, struct sl_client_server *out, size_t cap, size_t *n,
			    char *err, size_t err_len);

/* Parses exactly 64 hex digits (either case) into a key. 0 or -EINVAL. */
int sl_client_key_parse_hex(const char *hex, size_t len, struct sl_auth_key *out);

/*
 * Reads a key file: 64 hex digits, blanks and newlines around them allowed (the format
 * of shiplogd's [cluster] key_file). 0, -EINVAL for other content, or the open/read
 * error.
 */
int sl_client_key_file_read(const char *path, struct sl_auth_key *out);

/*
 * The codec the client uses, exported for a pipelined or open-loop sender
 * (shiplog-bench) that keeps many requests in flight on its own sockets.
 */
struct sl_client_codec {
	uint32_t cluster_id;
	const struct sl_auth_key *key; /* NULL: unauthenticated */
	struct sl_limits limits;       /* what requests may carry, what answers may */
};

/*
 * Encodes one CLIENT_REQ datagram into buf: frame header (src_node 0, dst_node,
 * epoch 0, frame_seq), req (host order: client_id, seq, min_lsn, op, key_len,
 * val_len; flags must be 0), key, then val for a PUT. Returns the datagram's length,
 * -EINVAL for a request sl_frame_decode would refuse as malformed (op, flags, key_len
 * 0, a value or min_lsn where the op takes none, NULL with a length), -EMSGSIZE when
 * key or value is over cc->limits, or -ENOBUFS when cap is too small.
 */
int sl_client_encode_req(const struct sl_client_codec *cc, void *buf, size_t cap, uint16_t dst_node,
			 uint64_t frame_seq, const struct sl_client_req *req, const void *key,
			 const void *val);

/* A decoded CLIENT_RESP, pointing into the datagram it was read from. */
struct sl_client_answer {
	struct sl_client_resp resp; /* host order */
	uint16_t node_id;	    /* the frame's src_node: who answered */
	uint32_t frame_epoch;	    /* the frame header's epoch */
	const uint8_t *val;	    /* resp.val_len bytes (GET) */
};

/*
 * Validates one received datagram with sl_frame_decode (cluster, CRC, MAC with
 * cc->key, lengths, status, val_len <= cc->limits.val_max; dst_node 0 or SL_NODE_ANY)
 * and checks that it is a CLIENT_RESP (SL_REJ_BAD_TYPE otherwise). Returns SL_OK with
 * *out filled, or the reason. Matching the answer to a request is the caller's.
 */
enum sl_reject sl_client_decode_resp(const struct sl_client_codec *cc, const void *buf, size_t len,
				     struct sl_client_answer *out);

/* Largest request datagram the limits allow, and largest answer. */
size_t sl_client_req_max(const struct sl_limits *lim);
size_t sl_client_resp_max(const struct sl_limits *lim);

#endif
