/*
 * shiplogctl: the operator's command line (DESIGN.md §1).
 *
 * usage: shiplogctl [GLOBAL OPTIONS] COMMAND [ARGS]
 * Data commands (put, get, del) talk to shiplogd's data port through libshiplog
 * (include/shiplog/client.h). Cluster commands (status, failover, set-policy, ...) will
 * talk to the controller's admin API: each is one row of ctl_cmds[] and opens what it
 * needs itself, so they do not need --servers.
 *
 * Exit status (also in --help and shiplogctl(1)):
 *   0 OK; 1 NOT_FOUND; 2 usage error (bad arguments, key or value over the limit);
 *   3 no answer before the deadline; 4 refused by the cluster (NOT_LEADER with no
 *   reachable leader, BUSY at the deadline, TOO_LARGE, BAD_REQUEST, STALE, TIMEOUT);
 *   5 local error (socket, file, output).
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
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include <shiplog/client.h>

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
};

/* What the steps of a command return when it should go on (anything else is an exit). */
#define CTL_GO_ON (-1)

#define TIMEOUT_MS_MAX 3600000u /* an hour: anything longer is a typo */

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

/* Cluster commands (status, failover, ...) join here with the controller's admin API. */
static const struct ctl_cmd ctl_cmds[] = {
	{ "put", "KEY VALUE", "store VALUE under KEY (VALUE - reads stdin)", cmd_put },
	{ "get", "KEY [--min-lsn N] [--node N] [--wait]", "print KEY's value", cmd_get },
	{ "del", "KEY", "delete KEY", cmd_del },
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

		snprintf(synopsis, sizeof(synopsis), "%s %s", ctl_cmds[i].name, ctl_cmds[i].args);
		fprintf(f, "  %-44s %s\n", synopsis, ctl_cmds[i].summary);
	}
	fprintf(f,
		"\n"
		"Options:\n"
		"  --servers LIST          data endpoints ID=IPV4[:PORT],... (default port %u;\n"
		"                          environment: SHIPLOG_SERVERS)\n"
		"  --cluster-id N          the cluster's id (SHIPLOG_CLUSTER_ID)\n"
		"  --key-file F            cluster key, 64 hex digits (SHIPLOG_KEY_FILE)\n"
		"  --timeout-ms N          give up after N ms, retries included (default %u)\n"
		"  --attempt-timeout-ms N  resend an unanswered request after N ms (default %u)\n"
		"  --bind IPV4             source address (multi-homed hosts)\n"
		"  --key-max N, --val-max N  limits checked before sending (default %u, %u)\n"
		"  --json                  one JSON object per command on stdout\n"
		"  -h, --help              this help; COMMAND --help for a command's\n"
		"  -V, --version           the version\n"
		"\n"
		"Exit status:\n"
		"  0  OK\n"
		"  1  NOT_FOUND\n"
		"  2  usage error (bad arguments; key or value over the limit)\n"
		"  3  no answer before the deadline\n"
		"  4  refused by the cluster: NOT_LEADER with no reachable leader, BUSY at the\n"
		"     deadline, TOO_LARGE, BAD_REQUEST, STALE, TIMEOUT (outcome unknown)\n"
		"  5  local error (socket, file, output)\n",
		SL_UDP_PORT, SL_CLIENT_DEADLINE_MS_DEFAULT, SL_CLIENT_ATTEMPT_TIMEOUT_MS_DEFAULT,
		SL_KEY_MAX_DEFAULT, SL_VAL_MAX_DEFAULT);
}

static int cmd_usage(const struct ctl_cmd *cmd, FILE *f, int code)
{
	fprintf(f, "usage: shiplogctl [OPTIONS] %s %s\n  %s\n", cmd->name, cmd->args, cmd->summary);
	if (!strcmp(cmd->name, "get"))
		fprintf(f, "  --min-lsn N  the answer must reflect LSN N (a commit token)\n"
			   "  --node N     read from node N (a follower read)\n"
			   "  --wait       with --min-lsn: wait while the node is behind, up to\n"
			   "               the deadline, instead of answering STALE (exit 4)\n");
	if (!strcmp(cmd->name, "put"))
		fprintf(f, "  VALUE - reads the value from stdin; -- before a VALUE that starts "
			   "with '-'\n");
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
 * The command's own options (opts, handled by on_opt) and exactly nargs operands into
 * args[]. CTL_GO_ON, or the exit code (help, usage error).
 */
static int cmd_parse(const struct ctl_cmd *cmd, int argc, char **argv, const struct option *opts,
		     int (*on_opt)(int c, void *arg), void *arg, int nargs, char **args)
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
	if (argc - optind != nargs) {
		fprintf(stderr, "shiplogctl %s: expected %d argument%s, got %d\n", cmd->name, nargs,
			nargs == 1 ? "" : "s", argc - optind);
		return cmd_usage(cmd, stderr, CTL_EXIT_USAGE);
	}
	for (int i = 0; i < nargs; i++)
		args[i] = argv[optind + i];
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
};

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
	case 'h':
		usage(stdout);
		return CTL_EXIT_OK;
	case 'V':
		printf("shiplogctl %s (wire version %u)\n", SHIPLOG_VERSION, SL_WIRE_VERSION);
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
			return rc;
	}
	if (optind == argc)
		return usage_error("no command given");
	cmd = find_cmd(argv[optind]);
	if (cmd == NULL)
		return usage_error("unknown command \"%s\"", argv[optind]);
	rc = cmd->run(&ctl, argc - optind, argv + optind);
	sl_client_close(ctl.client);
	return rc;
}
