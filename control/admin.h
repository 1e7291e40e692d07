/* The controller's side of the admin API (include/shiplog/admin.h): requests, tokens,
 * answers and the audit trail. No sockets here: controller.c hands in lines. */
#ifndef SHIPLOG_CTL_ADMIN_H
#define SHIPLOG_CTL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <shiplog/admin.h>
#include <shiplog/control.h>

#include "ctlconf.h"
#include "ctlcore.h"
#include "events.h"

enum ctl_admin_cmd {
	CTL_ADM_NONE = 0, /* missing or unknown */
	CTL_ADM_STATUS,
	CTL_ADM_MEMBERS,
	CTL_ADM_EVENTS,
	CTL_ADM_FAILOVER, /* privileged from here on */
	CTL_ADM_SWITCHOVER,
	CTL_ADM_SET_POLICY,
	CTL_ADM_ADD_NODE,
	CTL_ADM_REMOVE_NODE,
	CTL_ADM_SNAPSHOT,
	CTL_ADM__MAX,
};

/* The answer's "code" (admin.h), OK first. */
enum ctl_admin_code {
	CTL_ADMIN_OK = 0,
	CTL_ADMIN_UNAUTHORIZED,
	CTL_ADMIN_BAD_REQUEST,
	CTL_ADMIN_UNKNOWN_COMMAND,
	CTL_ADMIN_REFUSED,
	CTL_ADMIN_BUSY,
	CTL_ADMIN_NOT_FOUND,
	CTL_ADMIN_INTERNAL,
	CTL_ADMIN__CODES,
};

enum ctl_auth {
	CTL_AUTH_NONE = 0,
	CTL_AUTH_OPERATOR, /* read-only commands */
	CTL_AUTH_ADMIN,	   /* everything */
};

#define CTL_ADMIN_ARGS_MAX     512u /* the args kept for the audit, compact JSON */
#define CTL_ADMIN_ERR_MAX      200u
#define CTL_ADMIN_EVENTS_LIMIT 100u /* events: the default limit */
#define CTL_ADMIN_CMD_NAME_MAX 32u

/*
 * A decoded request. When decoding fails, what could be read is still there: the
 * token and command when envelope_ok (so the caller checks the token before saying
 * what else is wrong), and the command's name for the audit.
 */
struct ctl_admin_req {
	uint8_t cmd;	  /* CTL_ADM_* */
	uint8_t code;	  /* CTL_ADMIN_OK, or what is wrong (BAD_REQUEST, UNKNOWN_COMMAND) */
	bool envelope_ok; /* a JSON object of this version, token and cmd of their types */
	bool has_token;	  /* a token of at most SL_CTL_TOKEN_MAX - 1 bytes */
	char token[SL_CTL_TOKEN_MAX];	       /* zero-padded: compared whole */
	char cmd_name[CTL_ADMIN_CMD_NAME_MAX]; /* printable, cut */
	char args[CTL_ADMIN_ARGS_MAX];	       /* compact JSON, cut ("" none) */
	char error[CTL_ADMIN_ERR_MAX];
	uint64_t since;	     /* events */
	uint32_t limit;	     /* events: 1..CTL_EVENTS_KEEP */
	struct ctl_admin op; /* privileged commands: what ctlcore is asked */
};

/* Pure: any bytes. Returns req->code. */
unsigned ctl_admin_decode(const char *line, size_t len, struct ctl_admin_req *req);

bool ctl_admin_cmd_privileged(unsigned cmd);
const char *ctl_admin_cmd_name(unsigned cmd);	/* "status" ...; "unknown" */
const char *ctl_admin_code_name(unsigned code); /* "ok", "unauthorized" ... */
const char *ctl_auth_name(unsigned auth);	/* "none" | "operator" | "admin" */

/* Which configured token the request carries, compared in constant time. */
unsigned ctl_admin_auth(const struct ctlconf *conf, const struct ctl_admin_req *req);

/* What the controller counts, shown under "controller" in status. */
struct ctl_counters {
	uint64_t agents_connected;     /* now, after hello */
	uint64_t agent_conns;	       /* accepted since start */
	uint64_t agent_conns_refused;  /* over the connection limit */
	uint64_t agent_lines_rejected; /* bad lines, hellos refused, buffers overrun */
	uint64_t agent_reports;
	uint64_t agent_notes;
	uint64_t cmds_sent;
	uint64_t cmds_unsent;  /* the node had no connection: ctlcore sends again */
	uint64_t cmds_dropped; /* the connection's buffer was full: it was closed */
	uint64_t state_saves;
	uint64_t admin_conns_refused;
	uint64_t admin_requests[CTL_ADMIN__CODES];
	uint64_t audit_write_errors;
};

enum ctl_admin_transport { CTL_ADMIN_UNIX = 0, CTL_ADMIN_TCP };

struct ctl_admin_peer {
	uint8_t transport; /* CTL_ADMIN_* */
	int64_t uid;	   /* Unix: SO_PEERCRED, -1 unknown */
	int64_t pid;
	char addr[64]; /* TCP: "a.b.c.d:port" */
};

/* What answering needs; controller.c fills it, tests too. */
struct ctl_admin_ctx {
	const struct ctlconf *conf;
	const struct ctl *ctl;
	const struct ctl_events *events;
	struct ctl_counters *counters;
	int audit_fd;	 /* audit.jsonl, -1 none */
	uint64_t now_ns; /* CLOCK_MONOTONIC, as ctlcore's reports were stamped */
	uint64_t wall_ns;
	/* Runs a privileged operation through ctlcore and executes what it asks, saying
	 * which nodes it asked (ctl_out.asked). 0, or -EBUSY/-EINVAL/-EAGAIN/-ENOENT with
	 * why (ctl_step), another -errno when the controller failed (a save: it is
	 * stopping). */
	int (*apply)(void *arg, const struct ctl_admin *op, uint64_t *asked, char *why,
		     size_t why_len);
	void *arg;
};

/*
 * Answers one request line: decode, check the token, run, audit privileged requests
 * (accepted, refused or not), count the outcome. The answer (one line, its newline
 * included) goes to ans; returns its length (cap >= SL_ADMIN_LINE_MAX is always enough,
 * 0 only when cap is smaller than a short error answer).
 */
size_t ctl_admin_serve(struct ctl_admin_ctx *x, const struct ctl_admin_peer *peer, const char *line,
		       size_t len, char *ans, size_t cap);

/* The status result (admin.h). */
json_t *ctl_admin_status(const struct ctl_admin_ctx *x);

/* What status and the metrics read of the leader: its view, when it reported (NULL:
 * no leader, or not heard since the controller started); and its status of follower
 * id, where the lag comes from (NULL: lv NULL, or id not among its peers). */
const struct ctl_node_view *ctl_admin_leader_view(const struct ctl *c);
const struct sl_peer_status *ctl_admin_peer_of(const struct ctl_node_view *lv, unsigned id);

#endif
