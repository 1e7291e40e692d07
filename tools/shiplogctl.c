/*
 * shiplogctl: the operator's command line (DESIGN.md §1).
 *
 * usage: shiplogctl [GLOBAL OPTIONS] COMMAND [ARGS]
 * Data commands (put, get, del) talk to shiplogd's data port through libshiplog
 * (include/shiplog/client.h). Cluster commands (status, members, events, watch,
 * failover, switchover, set-policy, add-node, remove-node, snapshot) talk to the
 * controller's admin API (include/shiplog/admin.h, tools/admin.h). Each command is one
 * row of ctl_cmds[] and opens what it needs itself: cluster commands do not need
 * --servers, data commands do not need --controller.
 *
 * Exit status (also in --help and shiplogctl(1)); codes are only ever added:
 *   0 OK; 1 NOT_FOUND (a key; a node for the controller); 2 usage error (bad arguments,
 *   key or value over the limit, a policy that does not parse: nothing was sent);
 *   3 no answer before the deadline (outcome unknown); 4 refused (by the cluster:
 *   NOT_LEADER with no reachable leader, BUSY at the deadline, TOO_LARGE, BAD_REQUEST,
 *   STALE, TIMEOUT; by the controller: refused, busy); 5 local error (socket, file,
 *   output); 6 controller unreachable (nothing was sent); 7 unauthorized (no or wrong
 *   token); 8 the controller failed or does not speak this protocol (internal,
 *   bad_request, unknown_command, an answer that does not parse); 9 switchover accepted
 *   but the target did not lead before --wait-ms ended.
 */
#define _GNU_SOURCE /* getopt_long with a leading '+' */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include <shiplog/admin.h>
#include <shiplog/client.h>
#include <shiplog/control.h>
#include <shiplog/policy.h>

#include "admin.h"

#ifndef SHIPLOG_VERSION
#define SHIPLOG_VERSION "unknown"
#endif

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_NOT_FOUND = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_NO_ANSWER = 3,
	CTL_EXIT_REFUSED = 4,
	CTL_EXIT_LOCAL = 5,
	CTL_EXIT_UNREACHABLE = 6,  /* the controller: nothing was sent */
	CTL_EXIT_UNAUTHORIZED = 7, /* the controller: no or wrong token */
	CTL_EXIT_PROTOCOL = 8,	   /* the controller failed, or speaks something else */
	CTL_EXIT_NOT_DONE = 9,	   /* switchover --wait-ms: accepted, not done in time */
};

/* What the steps of a command return when it should go on (anything else is an exit). */
#define CTL_GO_ON (-1)

#define TIMEOUT_MS_MAX		  3600000u /* an hour: anything longer is a typo */
#define EVENTS_LIMIT_MAX	  10000u   /* events per page */
#define WATCH_INTERVAL_MS_DEFAULT 1000u
#define WATCH_INTERVAL_MS_MIN	  10u
#define SWITCHOVER_POLL_MS	  100u	/* status polls while waiting for the new leader */
#define POLICY_ARG_MAX		  1024u /* set-policy's words joined, NUL included */

/* Global options; what came from the environment is read when a command needs it. */
struct ctl {
	const char *servers, *servers_from; /* the list, and "--servers" or the variable */
	const char *cluster_id, *cluster_from;
	const char *key_file;
	uint32_t deadline_ms, attempt_ms; /* 0: the library's defaults */
	struct in_addr bind_addr;
	struct sl_limits limits;
	bool json;
	struct sl_client *client; /* opened by ctl_client() */
	struct sl_client_server servers_v[SL_CLIENT_SERVERS_MAX];
	size_t n_servers;
	/* Cluster commands. The token is never printed, and wiped before exit. */
	const char *controller, *controller_from;
	const char *token_file;
	const char *token_from; /* "--token", "--token-file", "SHIPLOG_TOKEN"; NULL: none */
	char token[ADMIN_TOKEN_MAX + 1]; /* from --token, the file or the variable */
	struct admin_conn admin;	 /* opened by ctl_admin() */
	bool admin_open;
};

struct ctl_cmd {
	const char *name;
	const char *args;				    /* synopsis after the name */
	const char *summary;				    /* one line for --help */
	int (*run)(struct ctl *ctl, int argc, char **argv); /* argv[0] is the name */
};

static int cmd_put(struct ctl *ctl, int argc, char **argv);
static int cmd_get(struct ctl *ctl, int argc, char **argv);
static int cmd_del(struct ctl *ctl, int argc, char **argv);
static int cmd_status(struct ctl *ctl, int argc, char **argv);
static int cmd_members(struct ctl *ctl, int argc, char **argv);
static int cmd_events(struct ctl *ctl, int argc, char **argv);
static int cmd_watch(struct ctl *ctl, int argc, char **argv);
static int cmd_failover(struct ctl *ctl, int argc, char **argv);
static int cmd_switchover(struct ctl *ctl, int argc, char **argv);
static int cmd_set_policy(struct ctl *ctl, int argc, char **argv);
static int cmd_add_node(struct ctl *ctl, int argc, char **argv);
static int cmd_remove_node(struct ctl *ctl, int argc, char **argv);
static int cmd_snapshot(struct ctl *ctl, int argc, char **argv);

static const struct ctl_cmd ctl_cmds[] = {
	{ "put", "KEY VALUE", "store VALUE under KEY (VALUE - reads stdin)", cmd_put },
	{ "get", "KEY [--min-lsn N] [--node N] [--wait]", "print KEY's value", cmd_get },
	{ "del", "KEY", "delete KEY", cmd_del },
	{ "status", "", "the cluster and each node: roles, LSNs, lag", cmd_status },
	{ "members", "", "the member and learner nodes", cmd_members },
	{ "events", "[--since SEQ] [--limit N]", "the controller's history", cmd_events },
	{ "watch", "[--interval-ms MS] [--count N]", "status again and again", cmd_watch },
	{ "failover", "[--to N] [--force]", "promote a follower now (leader lost)", cmd_failover },
	{ "switchover", "--to N [--wait-ms MS]", "hand leadership to node N, no loss",
	  cmd_switchover },
	{ "set-policy", "POLICY", "change the commit policy", cmd_set_policy },
	{ "add-node", "N", "add node N as a learner", cmd_add_node },
	{ "remove-node", "N", "remove node N", cmd_remove_node },
	{ "snapshot", "N|all", "node N (or all) snapshots its state, trims its WAL", cmd_snapshot },
};
#define CTL_N_CMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static const struct ctl_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < CTL_N_CMDS; i++)
		if (!strcmp(ctl_cmds[i].name, name))
			return &ctl_cmds[i];
	return NULL;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("shiplogctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'shiplogctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

__attribute__((format(printf, 2, 3))) static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("shiplogctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* Decimal digits only, min..max: "12abc", "-1", "" and overflows are refused. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int opt_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, min, max, &v) != 0)
		return usage_error("%s: \"%s\" is not a number from %" PRIu32 " to %" PRIu32, name,
				   s, min, max);
	*out = (uint32_t)v;
	return CTL_GO_ON;
}

/* ---- help -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: shiplogctl [OPTIONS] COMMAND [ARGS]\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < CTL_N_CMDS; i++) {
		char synopsis[64];

		snprintf(synopsis, sizeof(synopsis), "%s%s%s", ctl_cmds[i].name,
			 ctl_cmds[i].args[0] ? " " : "", ctl_cmds[i].args);
		fprintf(f, "  %-44s %s\n", synopsis, ctl_cmds[i].summary);
	}
	fprintf(f,
		"\n"
		"Options for data commands (put, get, del):\n"
		"  --servers LIST          data endpoints ID=IPV4[:PORT],... (default port %u;\n"
		"                          environment: SHIPLOG_SERVERS)\n"
		"  --cluster-id N          the cluster's id (SHIPLOG_CLUSTER_ID)\n"
		"  --key-file F            cluster key, 64 hex digits (SHIPLOG_KEY_FILE)\n"
		"  --attempt-timeout-ms N  resend an unanswered request after N ms (default %u)\n"
		"  --bind IPV4             source address (multi-homed hosts)\n"
		"  --key-max N, --val-max N  limits checked before sending (default %u, %u)\n"
		"\n"
		"Options for cluster commands (the others):\n"
		"  --controller ADDR       unix:/PATH or HOST[:PORT] (default port %u;\n"
		"                          SHIPLOG_CONTROLLER; default %s)\n"
		"  --token-file F          the admin or operator token, first line of F\n"
		"  --token T               the token itself (visible to ps: prefer --token-file;\n"
		"                          SHIPLOG_TOKEN when neither is given)\n"
		"\n"
		"Options for all commands:\n"
		"  --timeout-ms N          give up after N ms, retries included (default %u)\n"
		"  --json                  one JSON object per command on stdout (watch: per\n"
		"                          status), failures included\n"
		"  -h, --help              this help; COMMAND --help for a command's\n"
		"  -V, --version           the version\n"
		"\n"
		"Exit status:\n"
		"  0  OK\n"
		"  1  NOT_FOUND (a key; for the controller, a node)\n"
		"  2  usage error (bad arguments; key or value over the limit; a policy that\n"
		"     does not parse): nothing was sent\n"
		"  3  no answer before the deadline (outcome unknown)\n"
		"  4  refused by the cluster: NOT_LEADER with no reachable leader, BUSY at the\n"
		"     deadline, TOO_LARGE, BAD_REQUEST, STALE, FULL, TIMEOUT (outcome unknown);\n"
		"     or by the controller: refused, busy\n"
		"  5  local error (socket, file, output)\n"
		"  6  controller unreachable: nothing was sent\n"
		"  7  unauthorized: no token, or a token without the right\n"
		"  8  controller error: internal, bad_request, unknown_command, or an answer\n"
		"     that is not the admin protocol (another version?)\n"
		"  9  switchover accepted, but node N did not lead before --wait-ms ended\n",
		SL_UDP_PORT, SL_CLIENT_ATTEMPT_TIMEOUT_MS_DEFAULT, SL_KEY_MAX_DEFAULT,
		SL_VAL_MAX_DEFAULT, SL_CTL_ADMIN_PORT, ADMIN_CONTROLLER_DEFAULT,
		SL_CLIENT_DEADLINE_MS_DEFAULT);
}

/* A command's own options, for COMMAND --help. */
static const char *const cmd_help[][2] = {
	{ "get", "  --min-lsn N  the answer must reflect LSN N (a commit token)\n"
		 "  --node N     read from node N (a follower read)\n"
		 "  --wait       with --min-lsn: wait while the node is behind, up to\n"
		 "               the deadline, instead of answering STALE (exit 4)\n" },
	{ "put", "  VALUE - reads the value from stdin; -- before a VALUE that starts with '-'\n" },
	{ "events", "  --since SEQ  events from sequence number SEQ on (\"next\" of a page)\n"
		    "  --limit N    at most N events (1 to 10000)\n" },
	{ "watch", "  --interval-ms MS  between two statuses (default 1000)\n"
		   "  --count N         stop after N statuses (default: until interrupted)\n"
		   "  A controller that cannot be reached or does not answer is reported\n"
		   "  and asked again; any other error ends the watch with its exit status.\n" },
	{ "failover", "  --to N   promote node N (default: the most up-to-date eligible node)\n"
		      "  --force  promote even past the policy's loss bound (recorded)\n" },
	{ "switchover", "  --to N       the node to lead (required)\n"
			"  --wait-ms MS after the controller accepts, poll status until node N\n"
			"               leads at a higher epoch (exit 0) or MS pass (exit 9)\n" },
	{ "set-policy", "  POLICY  async | all | first K (N,...) | any K (N,...), then options\n"
			"          level=received|flushed|applied durability=none|fsync\n"
			"          sync_timeout_ms=MS; checked before it is sent\n" },
	{ "add-node", "  N  a node id from 1 to 64; it joins as a learner\n" },
	{ "remove-node", "  N  a node id from 1 to 64\n" },
	{ "snapshot", "  N    a node id from 1 to 64: that node (connected to the controller)\n"
		      "  all  every member connected to the controller\n"
		      "  Each writes a snapshot of its state, then deletes the WAL segments\n"
		      "  it no longer needs ([wal] retention_mb).\n" },
};

static int cmd_usage(const struct ctl_cmd *cmd, FILE *f, int code)
{
	fprintf(f, "usage: shiplogctl [OPTIONS] %s%s%s\n  %s\n", cmd->name, cmd->args[0] ? " " : "",
		cmd->args, cmd->summary);
	for (size_t i = 0; i < sizeof(cmd_help) / sizeof(cmd_help[0]); i++)
		if (!strcmp(cmd->name, cmd_help[i][0]))
			fputs(cmd_help[i][1], f);
	return code;
}

/* ---- the client -------------------------------------------------------------------- */

/* Options the command line did not give, from the environment. */
static void ctl_env(struct ctl *ctl)
{
	if (ctl->servers == NULL && (ctl->servers = getenv("SHIPLOG_SERVERS")) != NULL)
		ctl->servers_from = "SHIPLOG_SERVERS";
	if (ctl->cluster_id == NULL && (ctl->cluster_id = getenv("SHIPLOG_CLUSTER_ID")) != NULL)
		ctl->cluster_from = "SHIPLOG_CLUSTER_ID";
	if (ctl->key_file == NULL)
		ctl->key_file = getenv("SHIPLOG_KEY_FILE");
}

/* Servers and cluster id: what every data command needs. CTL_GO_ON or an exit code. */
static int ctl_check_target(struct ctl *ctl, uint32_t *cluster_id)
{
	char err[SL_CLIENT_ERR_MAX];
	uint64_t v;

	ctl_env(ctl);
	if (ctl->servers == NULL)
		return usage_error("no servers: give --servers ID=IPV4[:PORT],... or set "
				   "SHIPLOG_SERVERS");
	if (sl_client_servers_parse(ctl->servers, ctl->servers_v, SL_CLIENT_SERVERS_MAX,
				    &ctl->n_servers, err, sizeof(err)) != 0)
		return usage_error("%s: %s", ctl->servers_from, err);
	if (ctl->cluster_id == NULL)
		return usage_error("no cluster id: give --cluster-id N or set SHIPLOG_CLUSTER_ID");
	if (parse_u64(ctl->cluster_id, 1, UINT32_MAX, &v) != 0)
		return usage_error("%s: \"%s\" is not a number from 1 to %" PRIu32,
				   ctl->cluster_from, ctl->cluster_id, UINT32_MAX);
	*cluster_id = (uint32_t)v;
	return CTL_GO_ON;
}

/* Opens ctl->client for a data command. CTL_GO_ON or an exit code. */
static int ctl_client(struct ctl *ctl)
{
	struct sl_auth_key key;
	struct sl_client_opts o = { .deadline_ms = ctl->deadline_ms,
				    .attempt_timeout_ms = ctl->attempt_ms,
				    .bind_addr = ctl->bind_addr,
				    .limits = ctl->limits };
	int rc = ctl_check_target(ctl, &o.cluster_id);

	if (rc != CTL_GO_ON)
		return rc;
	if (sl_client_req_max(&ctl->limits) > SL_CLIENT_DGRAM_MAX)
		return usage_error("--key-max %" PRIu32 " with --val-max %" PRIu32
				   " does not fit one UDP datagram (%u bytes)",
				   ctl->limits.key_max, ctl->limits.val_max, SL_CLIENT_DGRAM_MAX);
	o.servers = ctl->servers_v;
	o.n_servers = ctl->n_servers;
	if (ctl->key_file != NULL) {
		rc = sl_client_key_file_read(ctl->key_file, &key);
		if (rc == -EINVAL)
			return fail(CTL_EXIT_LOCAL, "key file %s: expected 64 hex digits",
				    ctl->key_file);
		if (rc != 0)
			return fail(CTL_EXIT_LOCAL, "key file %s: %s", ctl->key_file,
				    strerror(-rc));
		o.key = &key;
	}
	rc = sl_client_open(&o, &ctl->client);
	sodium_memzero(&key, sizeof(key));
	if (rc != 0)
		return fail(CTL_EXIT_LOCAL, "cannot open the client: %s", strerror(-rc));
	return CTL_GO_ON;
}

/* ---- results ----------------------------------------------------------------------- */

static int exit_code(int rc, const struct sl_client_result *r)
{
	if (rc == 0 && r->status == SL_ST_OK)
		return CTL_EXIT_OK;
	if (rc == 0 && r->status == SL_ST_NOT_FOUND)
		return CTL_EXIT_NOT_FOUND;
	if (rc == 0)
		return CTL_EXIT_REFUSED; /* STALE, TOO_LARGE, BAD_REQUEST */
	if (rc == -ETIMEDOUT)
		return r->status == SL_CLIENT_ST_NONE ? CTL_EXIT_NO_ANSWER : CTL_EXIT_REFUSED;
	return CTL_EXIT_LOCAL;
}

/* One sentence saying why an operation did not succeed (rc, r as the library gave them). */
static void why(const struct ctl *ctl, int rc, const struct sl_client_result *r, uint64_t min_lsn,
		char *buf, size_t len)
{
	uint32_t ms = ctl->deadline_ms ? ctl->deadline_ms : SL_CLIENT_DEADLINE_MS_DEFAULT;

	if (rc == -ETIMEDOUT && r->status == SL_CLIENT_ST_NONE)
		snprintf(buf, len, "no answer within %" PRIu32 " ms (%" PRIu32 " attempts to %s)",
			 ms, r->attempts, ctl->servers);
	else if (rc == -ETIMEDOUT && r->status == SL_ST_NOT_LEADER)
		snprintf(buf, len, "no reachable leader within %" PRIu32 " ms (last hint: %s%u)",
			 ms, r->leader_hint ? "node " : "none", r->leader_hint);
	else if (rc == -ETIMEDOUT && r->status == SL_ST_TIMEOUT)
		snprintf(buf, len, "not committed within %" PRIu32 " ms: outcome unknown", ms);
	else if (rc == -ETIMEDOUT)
		snprintf(buf, len, "%s at the deadline (%" PRIu32 " ms, node %u)",
			 sl_client_result_status_name(r->status), ms, r->node_id);
	else if (rc == -EMSGSIZE)
		snprintf(buf, len,
			 "the request is larger than the path MTU (shiplog does not "
			 "fragment: values this large need jumbo frames)");
	else if (rc != 0)
		snprintf(buf, len, "%s", strerror(-rc));
	else if (r->status == SL_ST_NOT_FOUND)
		snprintf(buf, len, "not found (node %u)", r->node_id);
	else if (r->status == SL_ST_STALE)
		snprintf(buf, len, "stale: node %u has applied lsn %" PRIu64 ", below %" PRIu64,
			 r->node_id, r->lsn, min_lsn);
	else
		snprintf(buf, len, "refused by node %u: %s", r->node_id,
			 sl_client_result_status_name(r->status));
}

/* Bytes as a JSON string under name when they are UTF-8, else base64 under name_base64. */
static int json_set_bytes(json_t *o, const char *name, const void *v, size_t len)
{
	json_t *s = json_stringn(v, len);
	char b64_name[32];
	size_t b64_len;
	char *b64;

	if (s != NULL)
		return json_object_set_new(o, name, s);
	b64_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	b64 = malloc(b64_len);
	if (b64 == NULL)
		return -1;
	sodium_bin2base64(b64, b64_len, v, len, sodium_base64_VARIANT_ORIGINAL);
	snprintf(b64_name, sizeof(b64_name), "%s_base64", name);
	json_object_set_new(o, b64_name, json_string(b64));
	free(b64);
	return 0;
}

static int print_json(const struct ctl *ctl, const char *cmd, const char *key, int rc,
		      const struct sl_client_result *r, const uint8_t *val, uint64_t min_lsn)
{
	char client_id[19], msg[256];
	int code = exit_code(rc, r);
	json_t *o;

	snprintf(client_id, sizeof(client_id), "0x%016" PRIx64, sl_client_id(ctl->client));
	o = json_pack("{s:s, s:b, s:s, s:i, s:i, s:I, s:I, s:I, s:s, s:i, s:I}", "command", cmd,
		      "ok", code == CTL_EXIT_OK, "status", sl_client_result_status_name(r->status),
		      "exit", code, "node", r->node_id, "epoch", (json_int_t)r->epoch, "lsn",
		      (json_int_t)r->lsn, "seq", (json_int_t)r->seq, "client_id", client_id,
		      "attempts", (int)r->attempts, "elapsed_us", (json_int_t)r->elapsed_us);
	if (o == NULL || json_set_bytes(o, "key", key, strlen(key)) != 0) {
		json_decref(o);
		return fail(CTL_EXIT_LOCAL, "cannot build the JSON output");
	}
	if (r->leader_hint)
		json_object_set_new(o, "leader_hint", json_integer(r->leader_hint));
	if (val != NULL && code == CTL_EXIT_OK) {
		json_object_set_new(o, "value_len", json_integer(r->val_len));
		json_set_bytes(o, "value", val, r->val_len);
	}
	if (code != CTL_EXIT_OK) {
		why(ctl, rc, r, min_lsn, msg, sizeof(msg));
		json_object_set_new(o, "error", json_string(msg));
	}
	if (json_dumpf(o, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF)
		code = CTL_EXIT_LOCAL;
	json_decref(o);
	return code;
}

/*
 * The outcome of one data command, on stdout (success) or stderr (the reason). A GET's
 * value is written exactly as stored, with nothing added. Returns the exit code.
 */
static int report(const struct ctl *ctl, const char *cmd, const char *key, int rc,
		  const struct sl_client_result *r, const uint8_t *val, uint64_t min_lsn)
{
	int code = exit_code(rc, r);
	char msg[256];

	if (ctl->json)
		code = print_json(ctl, cmd, key, rc, r, val, min_lsn);
	else if (code != CTL_EXIT_OK) {
		why(ctl, rc, r, min_lsn, msg, sizeof(msg));
		fail(code, "%s %s: %s", cmd, key, msg);
	} else if (val != NULL)
		fwrite(val, 1, r->val_len, stdout);
	else
		printf("OK epoch=%" PRIu32 " lsn=%" PRIu64 " node=%u\n", r->epoch, r->lsn,
		       r->node_id);
	if (fflush(stdout) != 0 || ferror(stdout))
		return fail(CTL_EXIT_LOCAL, "writing the output: %s", strerror(errno));
	return code;
}

/* ---- commands ---------------------------------------------------------------------- */

/*
 * The command's own options (opts, handled by on_opt); the operands are then
 * argv[*first..argc-1]. CTL_GO_ON, or the exit code (help, usage error).
 */
static int cmd_parse_opts(const struct ctl_cmd *cmd, int argc, char **argv,
			  const struct option *opts, int (*on_opt)(int c, void *arg), void *arg,
			  int *first)
{
	int c;

	/* glibc: optind 0 starts a fresh scan; options may follow the operands ("get KEY
	 * --node 2"), so an operand that starts with '-' comes after "--". */
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int rc;

		if (c == 'h')
			return cmd_usage(cmd, stdout, CTL_EXIT_OK);
		if (c == '?')
			return cmd_usage(cmd, stderr, CTL_EXIT_USAGE);
		rc = on_opt ? on_opt(c, arg) : CTL_EXIT_USAGE;
		if (rc != CTL_GO_ON)
			return rc;
	}
	*first = optind;
	return CTL_GO_ON;
}

/* cmd_parse_opts, then exactly nargs operands into args[]. */
static int cmd_parse(const struct ctl_cmd *cmd, int argc, char **argv, const struct option *opts,
		     int (*on_opt)(int c, void *arg), void *arg, int nargs, char **args)
{
	int first = 0, rc = cmd_parse_opts(cmd, argc, argv, opts, on_opt, arg, &first);

	if (rc != CTL_GO_ON)
		return rc;
	if (argc - first != nargs) {
		fprintf(stderr, "shiplogctl %s: expected %d argument%s, got %d\n", cmd->name, nargs,
			nargs == 1 ? "" : "s", argc - first);
		return cmd_usage(cmd, stderr, CTL_EXIT_USAGE);
	}
	for (int i = 0; i < nargs; i++)
		args[i] = argv[first + i];
	return CTL_GO_ON;
}

/* KEY: non-empty and within --key-max. CTL_GO_ON, or the exit code. */
static int check_key(const struct ctl *ctl, const char *cmd, const char *key)
{
	size_t len = strlen(key);

	if (len == 0)
		return usage_error("%s: KEY may not be empty", cmd);
	if (len > ctl->limits.key_max)
		return usage_error("%s: key is %zu bytes, over the limit of %" PRIu32
				   " (--key-max)",
				   cmd, len, ctl->limits.key_max);
	return CTL_GO_ON;
}

/* VALUE "-": all of stdin, at most --val-max bytes. CTL_GO_ON, or the exit code. */
static int read_stdin(const struct ctl *ctl, uint8_t *buf, uint32_t *len)
{
	size_t cap = (size_t)ctl->limits.val_max + 1, got = 0, n;

	while (got < cap && (n = fread(buf + got, 1, cap - got, stdin)) > 0)
		got += n;
	if (ferror(stdin))
		return fail(CTL_EXIT_LOCAL, "put: reading the value from stdin: %s",
			    strerror(errno));
	if (got > ctl->limits.val_max)
		return usage_error("put: the value on stdin is over the limit of %" PRIu32
				   " bytes (--val-max)",
				   ctl->limits.val_max);
	*len = (uint32_t)got;
	return CTL_GO_ON;
}

static const struct option no_opts[] = { { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };

/* VALUE from the command line or, for "-", stdin (*buf then holds it, for the caller to
 * free). CTL_GO_ON, or the exit code. */
static int put_value(const struct ctl *ctl, const char *arg, uint8_t **buf, const void **val,
		     uint32_t *len)
{
	size_t n = strlen(arg);

	if (strcmp(arg, "-") != 0) {
		if (n > ctl->limits.val_max)
			return usage_error("put: value is over the limit of %" PRIu32
					   " bytes (--val-max)",
					   ctl->limits.val_max);
		*val = arg;
		*len = (uint32_t)n;
		return CTL_GO_ON;
	}
	*buf = malloc((size_t)ctl->limits.val_max + 1);
	if (*buf == NULL)
		return fail(CTL_EXIT_LOCAL, "put: %s", strerror(ENOMEM));
	*val = *buf;
	return read_stdin(ctl, *buf, len);
}

static int cmd_put(struct ctl *ctl, int argc, char **argv)
{
	struct sl_client_result r;
	char *args[2];
	uint8_t *buf = NULL;
	const void *val = NULL;
	uint32_t len = 0;
	int rc = cmd_parse(find_cmd("put"), argc, argv, no_opts, NULL, NULL, 2, args);

	if (rc == CTL_GO_ON)
		rc = check_key(ctl, "put", args[0]);
	if (rc == CTL_GO_ON)
		rc = put_value(ctl, args[1], &buf, &val, &len);
	if (rc == CTL_GO_ON)
		rc = ctl_client(ctl);
	if (rc == CTL_GO_ON) {
		rc = sl_client_put(ctl->client, args[0], (uint16_t)strlen(args[0]), val, len, &r);
		rc = report(ctl, "put", args[0], rc, &r, NULL, 0);
	}
	free(buf);
	return rc;
}

static int cmd_del(struct ctl *ctl, int argc, char **argv)
{
	struct sl_client_result r;
	char *args[1];
	int rc = cmd_parse(find_cmd("del"), argc, argv, no_opts, NULL, NULL, 1, args);

	if (rc == CTL_GO_ON)
		rc = check_key(ctl, "del", args[0]);
	if (rc == CTL_GO_ON)
		rc = ctl_client(ctl);
	if (rc != CTL_GO_ON)
		return rc;
	rc = sl_client_del(ctl->client, args[0], (uint16_t)strlen(args[0]), &r);
	return report(ctl, "del", args[0], rc, &r, NULL, 0);
}

static bool ctl_has_node(const struct ctl *ctl, uint16_t node_id)
{
	for (size_t i = 0; i < ctl->n_servers; i++)
		if (ctl->servers_v[i].node_id == node_id)
			return true;
	return false;
}

static int get_opt(int c, void *arg)
{
	struct sl_client_get_opts *go = arg;
	uint64_t v;

	if (c == 'm' && parse_u64(optarg, 1, UINT64_MAX, &v) != 0)
		return usage_error("get --min-lsn: \"%s\" is not a number from 1 to %" PRIu64,
				   optarg, UINT64_MAX);
	if (c == 'm')
		go->min_lsn = v;
	if (c == 'n' && parse_u64(optarg, 1, SL_NODE_MAX, &v) != 0)
		return usage_error("get --node: \"%s\" is not a node id from 1 to %u", optarg,
				   SL_NODE_MAX);
	if (c == 'n')
		go->node_id = (uint16_t)v;
	if (c == 'w')
		go->wait_stale = 1;
	return CTL_GO_ON;
}

static int cmd_get(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "min-lsn", required_argument, 0, 'm' },
					      { "node", required_argument, 0, 'n' },
					      { "wait", no_argument, 0, 'w' },
					      { "help", no_argument, 0, 'h' },
					      { 0, 0, 0, 0 } };
	struct sl_client_get_opts go = { 0 };
	struct sl_client_result r;
	char *args[1];
	uint8_t *val;
	int rc = cmd_parse(find_cmd("get"), argc, argv, opts, get_opt, &go, 1, args);

	if (rc == CTL_GO_ON)
		rc = check_key(ctl, "get", args[0]);
	if (rc == CTL_GO_ON && go.wait_stale && go.min_lsn == 0)
		rc = usage_error("get: --wait needs --min-lsn");
	if (rc == CTL_GO_ON)
		rc = ctl_client(ctl);
	if (rc == CTL_GO_ON && go.node_id != 0 && !ctl_has_node(ctl, go.node_id))
		rc = usage_error("get --node: node %u is not in the server list", go.node_id);
	if (rc != CTL_GO_ON)
		return rc;
	/* val_max + 1: a value the server sends is checked against val_max on decode. */
	val = malloc((size_t)ctl->limits.val_max + 1);
	if (val == NULL)
		return fail(CTL_EXIT_LOCAL, "get: %s", strerror(ENOMEM));
	rc = sl_client_get(ctl->client, args[0], (uint16_t)strlen(args[0]), &go, val,
			   ctl->limits.val_max, &r);
	rc = report(ctl, "get", args[0], rc, &r, val, go.min_lsn);
	free(val);
	return rc;
}

/* ---- cluster commands: the controller's admin API ---------------------------------- */

/* A token is printable ASCII without blanks: anything else is a copy-paste accident. */
static bool token_ok(const char *t, size_t len)
{
	if (len == 0 || len > ADMIN_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (t[i] < 0x21 || t[i] > 0x7e)
			return false;
	return true;
}

/* --token-file: its first line, blanks around it dropped. CTL_GO_ON or an exit code. */
static int token_file_read(struct ctl *ctl)
{
	char buf[ADMIN_TOKEN_MAX + 64];
	FILE *f = fopen(ctl->token_file, "re");
	size_t n, b = 0, e;
	int rc = CTL_GO_ON;
	const char *nl;

	if (f == NULL)
		return fail(CTL_EXIT_LOCAL, "token file %s: %s", ctl->token_file, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		rc = fail(CTL_EXIT_LOCAL, "token file %s: %s", ctl->token_file, strerror(errno));
	fclose(f);
	nl = memchr(buf, '\n', n);
	e = nl != NULL ? (size_t)(nl - buf) : n;
	while (b < e && (buf[b] == ' ' || buf[b] == '\t'))
		b++;
	while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r'))
		e--;
	/* The messages never quote the file: it holds a secret. */
	if (rc == CTL_GO_ON && !token_ok(buf + b, e - b))
		rc = fail(CTL_EXIT_LOCAL,
			  "token file %s: expected one line of 1 to %u printable ASCII "
			  "characters without blanks",
			  ctl->token_file, ADMIN_TOKEN_MAX);
	if (rc == CTL_GO_ON) {
		memcpy(ctl->token, buf + b, e - b);
		ctl->token[e - b] = '\0';
		ctl->token_from = "--token-file";
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

/* The token: --token (already read), --token-file, else SHIPLOG_TOKEN; none is allowed
 * (the controller then answers unauthorized unless it needs none). */
static int ctl_token(struct ctl *ctl)
{
	const char *env;

	if (ctl->token_file != NULL && ctl->token_from != NULL)
		return usage_error("give --token or --token-file, not both");
	if (ctl->token_file != NULL)
		return token_file_read(ctl);
	if (ctl->token_from != NULL || (env = getenv("SHIPLOG_TOKEN")) == NULL || env[0] == '\0')
		return CTL_GO_ON;
	if (!token_ok(env, strlen(env)))
		return usage_error("SHIPLOG_TOKEN: expected 1 to %u printable ASCII characters "
				   "without blanks",
				   ADMIN_TOKEN_MAX);
	memcpy(ctl->token, env, strlen(env) + 1);
	ctl->token_from = "SHIPLOG_TOKEN";
	return CTL_GO_ON;
}

/* Opens ctl->admin for a cluster command (once). CTL_GO_ON or an exit code. */
static int ctl_admin(struct ctl *ctl)
{
	uint32_t timeout_ms = ctl->deadline_ms ? ctl->deadline_ms : SL_CLIENT_DEADLINE_MS_DEFAULT;
	struct admin_addr addr;
	char err[ADMIN_ERR_MAX];
	int rc;

	if (ctl->admin_open)
		return CTL_GO_ON;
	if (ctl->controller == NULL && (ctl->controller = getenv("SHIPLOG_CONTROLLER")) != NULL)
		ctl->controller_from = "SHIPLOG_CONTROLLER";
	if (ctl->controller == NULL)
		ctl->controller = ADMIN_CONTROLLER_DEFAULT, ctl->controller_from = "--controller";
	if (admin_addr_parse(ctl->controller, &addr, err, sizeof(err)) != 0)
		return usage_error("%s: %s", ctl->controller_from, err);
	rc = ctl_token(ctl);
	if (rc != CTL_GO_ON)
		return rc;
	rc = admin_conn_init(&ctl->admin, &addr, ctl->token_from ? ctl->token : NULL, timeout_ms);
	if (rc != 0) {
		admin_conn_close(&ctl->admin);
		return fail(CTL_EXIT_LOCAL, "%s", strerror(ENOMEM));
	}
	ctl->admin_open = true;
	return CTL_GO_ON;
}

/* admin_call's outcome as an exit code. */
static int admin_exit(int rc, const struct admin_answer *a)
{
	if (rc == -ENOTCONN)
		return CTL_EXIT_UNREACHABLE;
	if (rc == -ETIMEDOUT || rc == -ECONNRESET)
		return CTL_EXIT_NO_ANSWER;
	if (rc == -EPROTO)
		return CTL_EXIT_PROTOCOL;
	if (rc != 0)
		return CTL_EXIT_LOCAL;
	switch (a->code) {
	case ADMIN_CODE_NONE:
		return CTL_EXIT_OK;
	case ADMIN_CODE_UNAUTHORIZED:
		return CTL_EXIT_UNAUTHORIZED;
	case ADMIN_CODE_REFUSED:
	case ADMIN_CODE_BUSY:
		return CTL_EXIT_REFUSED;
	case ADMIN_CODE_NOT_FOUND:
		return CTL_EXIT_NOT_FOUND;
	default: /* internal, bad_request, unknown_command, and codes newer than us */
		return CTL_EXIT_PROTOCOL;
	}
}

/* The "code" in --json of a failure that shiplogctl saw itself. */
static const char *local_code_name(int code)
{
	switch (code) {
	case CTL_EXIT_NO_ANSWER:
		return "no_answer";
	case CTL_EXIT_UNREACHABLE:
		return "unreachable";
	case CTL_EXIT_PROTOCOL:
		return "protocol";
	case CTL_EXIT_NOT_DONE:
		return "not_done";
	default:
		return "local";
	}
}

/* {"ok":false,"code":..,"error":..,"exit":..} on stdout. Returns code. */
static int json_fail(int code, const char *code_name, const char *msg)
{
	json_t *o = json_pack("{s:b, s:s}", "ok", 0, "code", code_name);
	json_t *m = json_string(msg); /* NULL: not UTF-8 (it may quote a path) */

	if (o != NULL) {
		json_object_set_new(o, "error", m ? m : json_string("(a message not in UTF-8)"));
		json_object_set_new(o, "exit", json_integer(code));
	} else
		json_decref(m);
	if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		code = fail(CTL_EXIT_LOCAL, "writing the output: %s",
			    o == NULL ? strerror(ENOMEM) : strerror(errno));
	json_decref(o);
	return code;
}

/* Why a request failed, on stderr (or stdout with --json). Returns the exit code. */
static int admin_report_fail(const struct ctl *ctl, const char *cmd, int rc,
			     const struct admin_answer *a, const char *err)
{
	int code = admin_exit(rc, a);
	const char *hint = "";

	if (rc != 0)
		return ctl->json ? json_fail(code, local_code_name(code), err)
				 : fail(code, "%s: %s", cmd, err);
	if (ctl->json)
		return json_fail(code, a->code_name, a->error);
	if (a->code == ADMIN_CODE_UNAUTHORIZED && ctl->token_from == NULL)
		hint = " (no token given: --token-file FILE, or SHIPLOG_TOKEN)";
	return fail(code, "%s: %s: %s%s", cmd, a->code_name,
		    a->error[0] ? a->error : "no reason given", hint);
}

/* A result: as received with --json (one line), else through view. The exit code. */
static int admin_print(const struct ctl *ctl, const json_t *result,
		       int (*view)(FILE *f, const json_t *result))
{
	int rc;

	if (ctl->json)
		rc = json_dumpf(result, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF;
	else
		rc = view(stdout, result);
	if (rc != 0 || fflush(stdout) != 0 || ferror(stdout))
		return fail(CTL_EXIT_LOCAL, "writing the output: %s", strerror(errno));
	return CTL_EXIT_OK;
}

/*
 * Sends cmd with args (consumed; NULL: none). CTL_GO_ON with the result in *a (the
 * caller clears it), or the exit code once the failure is reported.
 */
static int admin_request(struct ctl *ctl, const char *cmd, json_t *args, bool idempotent,
			 struct admin_answer *a)
{
	char err[ADMIN_ERR_MAX];
	int rc = ctl_admin(ctl);

	memset(a, 0, sizeof(*a));
	if (rc != CTL_GO_ON) {
		json_decref(args);
		return rc;
	}
	rc = admin_call(&ctl->admin, cmd, args, idempotent, a, err, sizeof(err));
	json_decref(args);
	if (rc == 0 && a->ok)
		return CTL_GO_ON;
	rc = admin_report_fail(ctl, cmd, rc, a, err);
	admin_answer_clear(a);
	return rc;
}

/* One request, its result printed through view. The exit code. */
static int admin_run(struct ctl *ctl, const char *cmd, json_t *args, bool idempotent,
		     int (*view)(FILE *f, const json_t *result))
{
	struct admin_answer a;
	int rc = admin_request(ctl, cmd, args, idempotent, &a);

	if (rc != CTL_GO_ON)
		return rc;
	rc = admin_print(ctl, a.result, view);
	admin_answer_clear(&a);
	return rc;
}

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	int rc = cmd_parse(find_cmd("status"), argc, argv, no_opts, NULL, NULL, 0, NULL);

	return rc != CTL_GO_ON ? rc : admin_run(ctl, "status", NULL, true, admin_print_status);
}

static int cmd_members(struct ctl *ctl, int argc, char **argv)
{
	int rc = cmd_parse(find_cmd("members"), argc, argv, no_opts, NULL, NULL, 0, NULL);

	return rc != CTL_GO_ON ? rc : admin_run(ctl, "members", NULL, true, admin_print_members);
}

struct events_opts {
	bool has_since;
	uint64_t since;
	uint32_t limit; /* 0: the controller's page */
};

static int events_opt(int c, void *arg)
{
	struct events_opts *eo = arg;

	if (c == 's' && parse_u64(optarg, 0, INT64_MAX, &eo->since) != 0)
		return usage_error("events --since: \"%s\" is not a number from 0 to %" PRId64,
				   optarg, INT64_MAX);
	if (c == 's')
		eo->has_since = true;
	if (c == 'l')
		return opt_u32("events --limit", optarg, 1, EVENTS_LIMIT_MAX, &eo->limit);
	return CTL_GO_ON;
}

static int cmd_events(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "since", required_argument, 0, 's' },
					      { "limit", required_argument, 0, 'l' },
					      { "help", no_argument, 0, 'h' },
					      { 0, 0, 0, 0 } };
	struct events_opts eo = { 0 };
	struct admin_answer a;
	const json_t *next;
	json_t *args;
	int rc = cmd_parse(find_cmd("events"), argc, argv, opts, events_opt, &eo, 0, NULL);

	if (rc != CTL_GO_ON)
		return rc;
	args = json_object();
	if (args == NULL)
		return fail(CTL_EXIT_LOCAL, "%s", strerror(ENOMEM));
	if (eo.has_since)
		json_object_set_new(args, "since", json_integer((json_int_t)eo.since));
	if (eo.limit)
		json_object_set_new(args, "limit", json_integer(eo.limit));
	rc = admin_request(ctl, "events", args, true, &a);
	if (rc != CTL_GO_ON)
		return rc;
	rc = admin_print(ctl, a.result, admin_print_events);
	/* A full page may have more after it: say how to ask (stderr keeps stdout a table). */
	next = json_object_get(a.result, "next");
	if (rc == CTL_EXIT_OK && !ctl->json && eo.limit && json_is_integer(next) &&
	    json_array_size(json_object_get(a.result, "events")) == eo.limit)
		fprintf(stderr, "(more: shiplogctl events --since %" JSON_INTEGER_FORMAT ")\n",
			json_integer_value(next));
	admin_answer_clear(&a);
	return rc;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct watch_opts {
	uint32_t interval_ms;
	uint32_t count; /* 0: until interrupted */
};

static int watch_opt(int c, void *arg)
{
	struct watch_opts *wo = arg;

	if (c == 'i')
		return opt_u32("watch --interval-ms", optarg, WATCH_INTERVAL_MS_MIN, TIMEOUT_MS_MAX,
			       &wo->interval_ms);
	if (c == 'c')
		return opt_u32("watch --count", optarg, 1, UINT32_MAX, &wo->count);
	return CTL_GO_ON;
}

static int cmd_watch(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "interval-ms", required_argument, 0, 'i' },
					      { "count", required_argument, 0, 'c' },
					      { "help", no_argument, 0, 'h' },
					      { 0, 0, 0, 0 } };
	struct watch_opts wo = { .interval_ms = WATCH_INTERVAL_MS_DEFAULT };
	struct admin_answer a;
	int rc = cmd_parse(find_cmd("watch"), argc, argv, opts, watch_opt, &wo, 0, NULL);
	int last = CTL_EXIT_OK;

	if (rc != CTL_GO_ON)
		return rc;
	/* One connection for the whole watch; admin_call reconnects when it was closed. */
	for (uint32_t i = 0; wo.count == 0 || i < wo.count; i++) {
		if (i > 0) {
			sleep_ms(wo.interval_ms);
			if (!ctl->json)
				putchar('\n');
		}
		rc = admin_request(ctl, "status", NULL, true, &a);
		/*
		 * A controller that cannot be reached (restarting, say) was reported like any
		 * failure; the watch goes on, and ends with that status if it was the last.
		 */
		if (rc == CTL_EXIT_UNREACHABLE || rc == CTL_EXIT_NO_ANSWER) {
			last = rc;
			continue;
		}
		if (rc != CTL_GO_ON)
			return rc;
		rc = admin_print(ctl, a.result, admin_print_status);
		admin_answer_clear(&a);
		if (rc != CTL_EXIT_OK)
			return rc;
		last = CTL_EXIT_OK;
	}
	return last;
}

struct leader_opts {
	uint16_t to; /* 0: not given */
	bool force;
	uint32_t wait_ms; /* 0: do not wait */
};

static int leader_opt(int c, void *arg)
{
	struct leader_opts *lo = arg;
	uint64_t v;

	if (c == 't' && parse_u64(optarg, 1, SL_NODE_MAX, &v) != 0)
		return usage_error("--to: \"%s\" is not a node id from 1 to %u", optarg,
				   SL_NODE_MAX);
	if (c == 't')
		lo->to = (uint16_t)v;
	if (c == 'f')
		lo->force = true;
	if (c == 'w')
		return opt_u32("switchover --wait-ms", optarg, 1, TIMEOUT_MS_MAX, &lo->wait_ms);
	return CTL_GO_ON;
}

static int cmd_failover(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "to", required_argument, 0, 't' },
					      { "force", no_argument, 0, 'f' },
					      { "help", no_argument, 0, 'h' },
					      { 0, 0, 0, 0 } };
	struct leader_opts lo = { 0 };
	json_t *args;
	int rc = cmd_parse(find_cmd("failover"), argc, argv, opts, leader_opt, &lo, 0, NULL);

	if (rc != CTL_GO_ON)
		return rc;
	args = lo.to ? json_pack("{s:i, s:b}", "to", lo.to, "force", lo.force)
		     : json_pack("{s:b}", "force", lo.force);
	if (args == NULL)
		return fail(CTL_EXIT_LOCAL, "%s", strerror(ENOMEM));
	return admin_run(ctl, "failover", args, false, admin_print_ok);
}

/* One status poll: 1 when node `to` leads at an epoch above epoch0, 0 when not yet (or
 * no answer: the controller may be busy switching), else the negated exit code. */
static int switchover_poll(struct ctl *ctl, uint16_t to, json_int_t epoch0, uint32_t left_ms,
			   json_int_t *leader, json_int_t *epoch)
{
	uint32_t timeout_ms = ctl->admin.timeout_ms;
	char err[ADMIN_ERR_MAX];
	struct admin_answer a;
	int rc;

	/* The wait bounds the whole command: the last poll gets what is left of it. */
	ctl->admin.timeout_ms = left_ms < timeout_ms ? left_ms : timeout_ms;
	rc = admin_call(&ctl->admin, "status", NULL, true, &a, err, sizeof(err));
	ctl->admin.timeout_ms = timeout_ms;
	if (rc == -ENOTCONN || rc == -ETIMEDOUT || rc == -ECONNRESET)
		return 0;
	if (rc != 0 || !a.ok) {
		rc = admin_report_fail(ctl, "switchover", rc, &a, err);
		admin_answer_clear(&a);
		return -rc;
	}
	*leader = json_integer_value(json_object_get(a.result, "leader"));
	*epoch = json_integer_value(json_object_get(a.result, "epoch"));
	admin_answer_clear(&a);
	return *leader == to && *epoch > epoch0;
}

/* What switchover --wait-ms prints once node `to` leads. The exit code. */
static int switchover_done(const struct ctl *ctl, const struct leader_opts *lo, json_t *result,
			   json_int_t epoch, int64_t waited_ms)
{
	if (!ctl->json) {
		printf("node %u leads at epoch %" JSON_INTEGER_FORMAT " after %" PRId64 " ms\n",
		       lo->to, epoch, waited_ms);
		if (fflush(stdout) != 0 || ferror(stdout))
			return fail(CTL_EXIT_LOCAL, "writing the output: %s", strerror(errno));
		return CTL_EXIT_OK;
	}
	/* The controller's result as received, and what the wait saw. */
	json_object_set_new(result, "wait",
			    json_pack("{s:b, s:i, s:I, s:I}", "done", 1, "leader", lo->to, "epoch",
				      epoch, "waited_ms", (json_int_t)waited_ms));
	return admin_print(ctl, result, admin_print_ok);
}

/*
 * switchover --wait-ms: the epoch before, the request, then a status poll every
 * SWITCHOVER_POLL_MS until node `to` leads at a higher epoch or the wait ends (exit 9).
 */
static int switchover_wait(struct ctl *ctl, const struct leader_opts *lo)
{
	json_int_t epoch0, leader = -1, epoch = -1;
	struct admin_answer a;
	int64_t start, left;
	int done = 0, rc = admin_request(ctl, "status", NULL, true, &a);
	char msg[200];

	if (rc != CTL_GO_ON)
		return rc;
	epoch0 = json_integer_value(json_object_get(a.result, "epoch"));
	admin_answer_clear(&a);
	rc = admin_request(ctl, "switchover", json_pack("{s:i}", "to", lo->to), false, &a);
	if (rc != CTL_GO_ON)
		return rc;
	/* Accepted: say so now, the wait may be long. */
	rc = ctl->json ? CTL_EXIT_OK : admin_print(ctl, a.result, admin_print_ok);
	start = mono_ms();
	while (rc == CTL_EXIT_OK && done == 0 && (left = lo->wait_ms - (mono_ms() - start)) > 0) {
		sleep_ms(left < SWITCHOVER_POLL_MS ? (uint32_t)left : SWITCHOVER_POLL_MS);
		left = lo->wait_ms - (mono_ms() - start);
		done = switchover_poll(ctl, lo->to, epoch0, left > 0 ? (uint32_t)left : 1, &leader,
				       &epoch);
		if (done < 0)
			rc = -done;
	}
	if (rc == CTL_EXIT_OK && done == 1)
		rc = switchover_done(ctl, lo, a.result, epoch, mono_ms() - start);
	else if (rc == CTL_EXIT_OK && leader < 0)
		snprintf(msg, sizeof(msg),
			 "accepted, but node %u does not lead after %" PRIu32
			 " ms (no status answered meanwhile)",
			 lo->to, lo->wait_ms);
	else if (rc == CTL_EXIT_OK)
		snprintf(msg, sizeof(msg),
			 "accepted, but node %u does not lead after %" PRIu32
			 " ms (last seen: leader %" JSON_INTEGER_FORMAT
			 ", epoch %" JSON_INTEGER_FORMAT ")",
			 lo->to, lo->wait_ms, leader, epoch);
	if (rc == CTL_EXIT_OK && done != 1) {
		rc = ctl->json ? json_fail(CTL_EXIT_NOT_DONE, "not_done", msg)
			       : fail(CTL_EXIT_NOT_DONE, "switchover: %s", msg);
	}
	admin_answer_clear(&a);
	return rc;
}

static int cmd_switchover(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "to", required_argument, 0, 't' },
					      { "wait-ms", required_argument, 0, 'w' },
					      { "help", no_argument, 0, 'h' },
					      { 0, 0, 0, 0 } };
	struct leader_opts lo = { 0 };
	int rc = cmd_parse(find_cmd("switchover"), argc, argv, opts, leader_opt, &lo, 0, NULL);

	if (rc != CTL_GO_ON)
		return rc;
	if (lo.to == 0)
		return usage_error("switchover: --to N is required");
	if (lo.wait_ms)
		return switchover_wait(ctl, &lo);
	return admin_run(ctl, "switchover", json_pack("{s:i}", "to", lo.to), false, admin_print_ok);
}

/* POLICY as one word or several ("first 1 (2,3)" or first 1 "(2,3)"), joined by spaces. */
static int policy_join(int argc, char **argv, int first, char *text, size_t cap)
{
	size_t len = 0;

	for (int i = first; i < argc; i++) {
		size_t w = strlen(argv[i]);

		if (len + w + 2 > cap)
			return usage_error("set-policy: the policy is over %zu bytes", cap - 1);
		if (len > 0)
			text[len++] = ' ';
		memcpy(text + len, argv[i], w);
		len += w;
	}
	text[len] = '\0';
	return CTL_GO_ON;
}

static int cmd_set_policy(struct ctl *ctl, int argc, char **argv)
{
	const struct ctl_cmd *cmd = find_cmd("set-policy");
	char text[POLICY_ARG_MAX], canon[SL_POLICY_TEXT_MAX], err[128];
	struct sl_policy p;
	int first = 0, rc = cmd_parse_opts(cmd, argc, argv, no_opts, NULL, NULL, &first);

	if (rc != CTL_GO_ON)
		return rc;
	if (first == argc) {
		fprintf(stderr, "shiplogctl set-policy: expected a POLICY\n");
		return cmd_usage(cmd, stderr, CTL_EXIT_USAGE);
	}
	rc = policy_join(argc, argv, first, text, sizeof(text));
	if (rc != CTL_GO_ON)
		return rc;
	/* Checked here with the parser the cluster uses: a typo never reaches the controller. */
	if (sl_policy_parse(text, strlen(text), &p, err, sizeof(err)) != 0)
		return usage_error("set-policy: \"%s\" is not a policy: %s", text, err);
	if (sl_policy_format(&p, canon, sizeof(canon)) == 0)
		return fail(CTL_EXIT_LOCAL, "set-policy: cannot format the policy");
	return admin_run(ctl, "set-policy", json_pack("{s:s}", "policy", canon), false,
			 admin_print_ok);
}

/* add-node N, remove-node N. */
static int node_cmd(struct ctl *ctl, int argc, char **argv, const char *name)
{
	char *args[1];
	uint64_t v;
	int rc = cmd_parse(find_cmd(name), argc, argv, no_opts, NULL, NULL, 1, args);

	if (rc != CTL_GO_ON)
		return rc;
	if (parse_u64(args[0], 1, SL_NODE_MAX, &v) != 0)
		return usage_error("%s: \"%s\" is not a node id from 1 to %u", name, args[0],
				   SL_NODE_MAX);
	return admin_run(ctl, name, json_pack("{s:I}", "node", (json_int_t)v), false,
			 admin_print_ok);
}

static int cmd_add_node(struct ctl *ctl, int argc, char **argv)
{
	return node_cmd(ctl, argc, argv, "add-node");
}

static int cmd_remove_node(struct ctl *ctl, int argc, char **argv)
{
	return node_cmd(ctl, argc, argv, "remove-node");
}

/* snapshot N | all: the answer names the nodes asked ("asked") and, for all, the members
 * left out because they were not connected ("skipped"). */
static int cmd_snapshot(struct ctl *ctl, int argc, char **argv)
{
	char *args[1];
	uint64_t v;
	int rc = cmd_parse(find_cmd("snapshot"), argc, argv, no_opts, NULL, NULL, 1, args);

	if (rc != CTL_GO_ON)
		return rc;
	if (strcmp(args[0], "all") == 0)
		return admin_run(ctl, "snapshot", json_pack("{s:b}", "all", 1), false,
				 admin_print_ok);
	if (parse_u64(args[0], 1, SL_NODE_MAX, &v) != 0)
		return usage_error("snapshot: \"%s\" is not a node id from 1 to %u, nor all",
				   args[0], SL_NODE_MAX);
	return admin_run(ctl, "snapshot", json_pack("{s:I}", "node", (json_int_t)v), false,
			 admin_print_ok);
}

/* ---- main -------------------------------------------------------------------------- */

enum {
	OPT_SERVERS = 256,
	OPT_CLUSTER_ID,
	OPT_KEY_FILE,
	OPT_TIMEOUT_MS,
	OPT_ATTEMPT_MS,
	OPT_BIND,
	OPT_KEY_MAX,
	OPT_VAL_MAX,
	OPT_JSON,
	OPT_CONTROLLER,
	OPT_TOKEN,
	OPT_TOKEN_FILE,
};

/* --token: copied, then wiped from argv so that /proc/PID/cmdline no longer shows it
 * (ps could until now: the manual says to prefer --token-file). */
static int opt_token(struct ctl *ctl, char *arg)
{
	size_t len = strlen(arg);

	if (!token_ok(arg, len)) {
		sodium_memzero(arg, len);
		return usage_error("--token: expected 1 to %u printable ASCII characters without "
				   "blanks",
				   ADMIN_TOKEN_MAX);
	}
	memcpy(ctl->token, arg, len + 1);
	ctl->token_from = "--token";
	memset(arg, 'x', len);
	return CTL_GO_ON;
}

/* One global option. CTL_GO_ON, or an exit code (help, version, usage error). */
static int global_opt(struct ctl *ctl, int c)
{
	switch (c) {
	case OPT_SERVERS:
		ctl->servers = optarg, ctl->servers_from = "--servers";
		return CTL_GO_ON;
	case OPT_CLUSTER_ID:
		ctl->cluster_id = optarg, ctl->cluster_from = "--cluster-id";
		return CTL_GO_ON;
	case OPT_KEY_FILE:
		ctl->key_file = optarg;
		return CTL_GO_ON;
	case OPT_TIMEOUT_MS:
		return opt_u32("--timeout-ms", optarg, 1, TIMEOUT_MS_MAX, &ctl->deadline_ms);
	case OPT_ATTEMPT_MS:
		return opt_u32("--attempt-timeout-ms", optarg, 1, TIMEOUT_MS_MAX, &ctl->attempt_ms);
	case OPT_BIND:
		if (inet_pton(AF_INET, optarg, &ctl->bind_addr) != 1)
			return usage_error("--bind: \"%s\" is not an IPv4 address", optarg);
		return CTL_GO_ON;
	case OPT_KEY_MAX:
		return opt_u32("--key-max", optarg, 1, UINT16_MAX, &ctl->limits.key_max);
	case OPT_VAL_MAX:
		return opt_u32("--val-max", optarg, 0, SL_CLIENT_DGRAM_MAX, &ctl->limits.val_max);
	case OPT_JSON:
		ctl->json = true;
		return CTL_GO_ON;
	case OPT_CONTROLLER:
		ctl->controller = optarg, ctl->controller_from = "--controller";
		return CTL_GO_ON;
	case OPT_TOKEN:
		return opt_token(ctl, optarg);
	case OPT_TOKEN_FILE:
		ctl->token_file = optarg;
		return CTL_GO_ON;
	case 'h':
		usage(stdout);
		return CTL_EXIT_OK;
	case 'V':
		printf("shiplogctl %s (wire version %u, admin protocol %d)\n", SHIPLOG_VERSION,
		       SL_WIRE_VERSION, SL_ADMIN_PROTO_VERSION);
		return CTL_EXIT_OK;
	}
	fputs("Try 'shiplogctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "servers", required_argument, 0, OPT_SERVERS },
		{ "cluster-id", required_argument, 0, OPT_CLUSTER_ID },
		{ "key-file", required_argument, 0, OPT_KEY_FILE },
		{ "timeout-ms", required_argument, 0, OPT_TIMEOUT_MS },
		{ "attempt-timeout-ms", required_argument, 0, OPT_ATTEMPT_MS },
		{ "bind", required_argument, 0, OPT_BIND },
		{ "key-max", required_argument, 0, OPT_KEY_MAX },
		{ "val-max", required_argument, 0, OPT_VAL_MAX },
		{ "json", no_argument, 0, OPT_JSON },
		{ "controller", required_argument, 0, OPT_CONTROLLER },
		{ "token", required_argument, 0, OPT_TOKEN },
		{ "token-file", required_argument, 0, OPT_TOKEN_FILE },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },
		{ 0, 0, 0, 0 },
	};
	struct ctl ctl = { .limits = sl_limits_default() };
	const struct ctl_cmd *cmd;
	int c, rc;

	/* '+': options end at the command; the rest is the command's. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		rc = global_opt(&ctl, c);
		if (rc != CTL_GO_ON)
			goto out_wipe;
	}
	if (optind == argc)
		rc = usage_error("no command given");
	else if ((cmd = find_cmd(argv[optind])) == NULL)
		rc = usage_error("unknown command \"%s\"", argv[optind]);
	else
		rc = cmd->run(&ctl, argc - optind, argv + optind);
	sl_client_close(ctl.client);
	if (ctl.admin_open)
		admin_conn_close(&ctl.admin);
out_wipe:
	sodium_memzero(ctl.token, sizeof(ctl.token));
	return rc;
}
