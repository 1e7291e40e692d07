/* The controller's admin API: request decoding, tokens, who may do what, the audit trail,
 * the status result's shape (with ctlcore fed synthetic reports) and the events pages. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "admin.h"
#include "ctltest.h"

#define CLUSTER 7
#define ADMIN	"adm-s3cret"
#define OPER	"op-t0ken"

/* ---- decoding ------------------------------------------------------------------------- */

static unsigned decode(const char *line, struct ctl_admin_req *req)
{
	return ctl_admin_decode(line, strlen(line), req);
}

static void test_decode_good(void **state)
{
	struct ctl_admin_req r;

	(void)state;
	assert_int_equal(decode("{\"v\":1,\"token\":\"t\",\"cmd\":\"status\"}\n", &r), 0);
	assert_int_equal(r.cmd, CTL_ADM_STATUS);
	assert_true(r.envelope_ok && r.has_token);
	assert_string_equal(r.token, "t");
	assert_string_equal(r.args, "");

	assert_int_equal(decode("{\"v\":1,\"cmd\":\"members\",\"args\":{}}", &r), 0);
	assert_int_equal(r.cmd, CTL_ADM_MEMBERS);
	assert_false(r.has_token);

	assert_int_equal(
		decode("{\"v\":1,\"cmd\":\"events\",\"args\":{\"since\":5,\"limit\":7}}", &r), 0);
	assert_int_equal(r.since, 5);
	assert_int_equal(r.limit, 7);
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"events\"}", &r), 0);
	assert_int_equal(r.since, 0);
	assert_int_equal(r.limit, CTL_ADMIN_EVENTS_LIMIT);

	assert_int_equal(
		decode("{\"v\":1,\"cmd\":\"failover\",\"args\":{\"to\":3,\"force\":true}}", &r), 0);
	assert_int_equal(r.op.op, CTL_OP_FAILOVER);
	assert_int_equal(r.op.node, 3);
	assert_true(r.op.force);
	assert_true(ctl_admin_cmd_privileged(r.cmd));
	assert_string_equal(r.args, "{\"to\":3,\"force\":true}");
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"failover\",\"args\":{\"to\":null}}", &r), 0);
	assert_int_equal(r.op.node, 0);
	assert_false(r.op.force);

	assert_int_equal(decode("{\"v\":1,\"cmd\":\"switchover\",\"args\":{\"to\":2}}", &r), 0);
	assert_int_equal(r.op.op, CTL_OP_SWITCHOVER);
	assert_int_equal(r.op.node, 2);
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"set-policy\",\"args\":{\"policy\":\"any 1 "
				"(2,3)\"}}",
				&r),
			 0);
	assert_int_equal(r.op.op, CTL_OP_SET_POLICY);
	assert_int_equal(r.op.policy.kind, SL_POLICY_ANY);
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"add-node\",\"args\":{\"node\":64}}", &r), 0);
	assert_int_equal(r.op.op, CTL_OP_ADD_NODE);
	assert_int_equal(r.op.node, 64);
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"remove-node\",\"args\":{\"node\":1}}", &r), 0);
	assert_int_equal(r.op.op, CTL_OP_REMOVE_NODE);
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"node\":2}}", &r), 0);
	assert_int_equal(r.op.op, CTL_OP_SNAPSHOT);
	assert_int_equal(r.op.node, 2);
	assert_true(ctl_admin_cmd_privileged(r.cmd));
	assert_int_equal(
		decode("{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"node\":2,\"all\":false}}", &r),
		0);
	assert_int_equal(r.op.node, 2);
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"all\":true}}", &r), 0);
	assert_int_equal(r.op.op, CTL_OP_SNAPSHOT);
	assert_int_equal(r.op.node, 0); /* every member connected */
	assert_string_equal(r.args, "{\"all\":true}");
	/* Fields the controller does not know are ignored, as in the agent protocol. */
	assert_int_equal(decode("{\"v\":1,\"cmd\":\"status\",\"id\":9}", &r), 0);
}

static void test_decode_bad(void **state)
{
	static const struct {
		const char *line;
		unsigned code;
		bool envelope_ok;
		const char *msg;
	} cases[] = {
		{ "", CTL_ADMIN_BAD_REQUEST, false, "not JSON" },
		{ "{\"v\":1,", CTL_ADMIN_BAD_REQUEST, false, "not JSON" },
		{ "[1]", CTL_ADMIN_BAD_REQUEST, false, "not a JSON object" },
		{ "{\"v\":1,\"v\":1,\"cmd\":\"status\"}", CTL_ADMIN_BAD_REQUEST, false,
		  "not JSON" },
		{ "{\"cmd\":\"status\"}", CTL_ADMIN_BAD_REQUEST, false, "v: missing" },
		{ "{\"v\":\"1\",\"cmd\":\"status\"}", CTL_ADMIN_BAD_REQUEST, false,
		  "v: not an integer" },
		{ "{\"v\":2,\"cmd\":\"status\"}", CTL_ADMIN_BAD_REQUEST, false,
		  "speaks version 1" },
		{ "{\"v\":1,\"token\":5,\"cmd\":\"status\"}", CTL_ADMIN_BAD_REQUEST, false,
		  "token: not a string" },
		{ "{\"v\":1}", CTL_ADMIN_BAD_REQUEST, false, "cmd: missing" },
		{ "{\"v\":1,\"cmd\":[]}", CTL_ADMIN_BAD_REQUEST, false, "cmd: not a string" },
		{ "{\"v\":1,\"cmd\":\"status\",\"args\":[]}", CTL_ADMIN_BAD_REQUEST, false,
		  "args: not an object" },
		{ "{\"v\":1,\"cmd\":\"reboot\"}", CTL_ADMIN_UNKNOWN_COMMAND, true,
		  "unknown command \"reboot\"" },
		{ "{\"v\":1,\"cmd\":\"status\\u0000\"}", CTL_ADMIN_BAD_REQUEST, false, "not JSON" },
		{ "{\"v\":1,\"cmd\":\"status\",\"args\":{\"x\":1}}", CTL_ADMIN_BAD_REQUEST, true,
		  "unknown argument \"x\" for status" },
		{ "{\"v\":1,\"cmd\":\"events\",\"args\":{\"limit\":0}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.limit: out of range 1..1000" },
		{ "{\"v\":1,\"cmd\":\"events\",\"args\":{\"limit\":1001}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.limit: out of range" },
		{ "{\"v\":1,\"cmd\":\"events\",\"args\":{\"since\":-1}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.since: out of range" },
		{ "{\"v\":1,\"cmd\":\"events\",\"args\":{\"since\":\"3\"}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.since: not an integer" },
		{ "{\"v\":1,\"cmd\":\"failover\",\"args\":{\"to\":\"2\"}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.to: not an integer" },
		{ "{\"v\":1,\"cmd\":\"failover\",\"args\":{\"to\":0}}", CTL_ADMIN_BAD_REQUEST, true,
		  "args.to: out of range 1..64" },
		{ "{\"v\":1,\"cmd\":\"failover\",\"args\":{\"to\":65}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.to: out of range" },
		{ "{\"v\":1,\"cmd\":\"failover\",\"args\":{\"force\":\"yes\"}}",
		  CTL_ADMIN_BAD_REQUEST, true, "args.force: not true or false" },
		{ "{\"v\":1,\"cmd\":\"failover\",\"args\":{\"froce\":true}}", CTL_ADMIN_BAD_REQUEST,
		  true, "unknown argument \"froce\" for failover" },
		{ "{\"v\":1,\"cmd\":\"switchover\"}", CTL_ADMIN_BAD_REQUEST, true,
		  "args.to: required" },
		{ "{\"v\":1,\"cmd\":\"switchover\",\"args\":{\"to\":1.5}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.to: not an integer" },
		{ "{\"v\":1,\"cmd\":\"set-policy\",\"args\":{}}", CTL_ADMIN_BAD_REQUEST, true,
		  "args.policy: required" },
		{ "{\"v\":1,\"cmd\":\"set-policy\",\"args\":{\"policy\":3}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.policy: not a string" },
		{ "{\"v\":1,\"cmd\":\"set-policy\",\"args\":{\"policy\":\"most\"}}",
		  CTL_ADMIN_BAD_REQUEST, true, "args.policy: " },
		{ "{\"v\":1,\"cmd\":\"add-node\",\"args\":{\"nodes\":3}}", CTL_ADMIN_BAD_REQUEST,
		  true, "unknown argument" },
		{ "{\"v\":1,\"cmd\":\"remove-node\"}", CTL_ADMIN_BAD_REQUEST, true,
		  "args.node: required" },
		{ "{\"v\":1,\"cmd\":\"remove-node\",\"args\":{\"node\":true}}",
		  CTL_ADMIN_BAD_REQUEST, true, "args.node: not an integer" },
		{ "{\"v\":1,\"cmd\":\"snapshot\"}", CTL_ADMIN_BAD_REQUEST, true,
		  "args: node or all: true is required" },
		{ "{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"all\":false}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args: node or all: true is required" },
		{ "{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"node\":2,\"all\":true}}",
		  CTL_ADMIN_BAD_REQUEST, true, "args: node or all, not both" },
		{ "{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"all\":\"yes\"}}",
		  CTL_ADMIN_BAD_REQUEST, true, "args.all: not true or false" },
		{ "{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"node\":0}}", CTL_ADMIN_BAD_REQUEST,
		  true, "args.node: out of range 1..64" },
		{ "{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"node\":\"all\"}}",
		  CTL_ADMIN_BAD_REQUEST, true, "args.node: not an integer" },
		{ "{\"v\":1,\"cmd\":\"snapshot\",\"args\":{\"nodes\":[1]}}", CTL_ADMIN_BAD_REQUEST,
		  true, "unknown argument \"nodes\" for snapshot" },
	};
	struct ctl_admin_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned code = ctl_admin_decode(cases[i].line, strlen(cases[i].line), &r);

		if (code != cases[i].code || r.code != code ||
		    r.envelope_ok != cases[i].envelope_ok || !strstr(r.error, cases[i].msg))
			fail_msg("case %zu: code %u envelope %d \"%s\"", i, code, r.envelope_ok,
				 r.error);
		assert_null(strchr(r.error, '\n'));
	}
	/* The command's name is kept for the audit even when its arguments are wrong. */
	decode("{\"v\":1,\"cmd\":\"failover\",\"args\":{\"to\":\"2\"}}", &r);
	assert_int_equal(r.cmd, CTL_ADM_FAILOVER);
	assert_string_equal(r.cmd_name, "failover");
	assert_string_equal(r.args, "{\"to\":\"2\"}");
}

static void test_tokens(void **state)
{
	struct ctlconf conf;
	struct ctl_admin_req r;
	char line[512], big[200];

	(void)state;
	ctlconf_default(&conf);
	strcpy(conf.admin_token, ADMIN);
	strcpy(conf.operator_token, OPER);
	decode("{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"status\"}", &r);
	assert_int_equal(ctl_admin_auth(&conf, &r), CTL_AUTH_ADMIN);
	decode("{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"status\"}", &r);
	assert_int_equal(ctl_admin_auth(&conf, &r), CTL_AUTH_OPERATOR);
	decode("{\"v\":1,\"token\":\"adm-s3cre\",\"cmd\":\"status\"}", &r); /* a prefix */
	assert_int_equal(ctl_admin_auth(&conf, &r), CTL_AUTH_NONE);
	decode("{\"v\":1,\"token\":\"adm-s3cretX\",\"cmd\":\"status\"}", &r);
	assert_int_equal(ctl_admin_auth(&conf, &r), CTL_AUTH_NONE);
	decode("{\"v\":1,\"token\":\"\",\"cmd\":\"status\"}", &r);
	assert_false(r.has_token);
	assert_int_equal(ctl_admin_auth(&conf, &r), CTL_AUTH_NONE);
	decode("{\"v\":1,\"cmd\":\"status\"}", &r);
	assert_int_equal(ctl_admin_auth(&conf, &r), CTL_AUTH_NONE);
	/* Longer than any token: no match, no overrun. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(line, sizeof(line), "{\"v\":1,\"token\":\"%s\",\"cmd\":\"status\"}", big);
	assert_int_equal(decode(line, &r), 0);
	assert_false(r.has_token);
	/* Nothing configured: nobody matches, not even an empty token. */
	conf.admin_token[0] = conf.operator_token[0] = '\0';
	decode("{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"status\"}", &r);
	assert_int_equal(ctl_admin_auth(&conf, &r), CTL_AUTH_NONE);
}

/* ---- serving -------------------------------------------------------------------------- */

struct fixture {
	struct ctlconf conf;
	struct ctl *ctl;
	void *mem;
	struct ctl_events *events;
	struct ctl_counters counters;
	struct ctl_admin_ctx x;
	struct ctl_out out;
	char audit_path[64];
	int applied;	    /* apply() calls */
	int apply_rc;	    /* what the fake returns (0: runs ctl_step) */
	uint64_t connected; /* the agents the fake controller has, bit id - 1 */
	char *ans;
};

static int fake_apply(void *arg, const struct ctl_admin *op, uint64_t *asked, char *why,
		      size_t why_len)
{
	struct fixture *f = arg;
	struct ctl_input in = { .type = CTL_IN_ADMIN, .now_ns = 1000, .u.admin = *op };
	int rc;

	in.u.admin.connected = f->connected;
	f->applied++;
	if (f->apply_rc != 0) {
		snprintf(why, why_len, "the fake says %d", f->apply_rc);
		return f->apply_rc;
	}
	rc = ctl_step(f->ctl, &in, &f->out);
	*asked = f->out.asked;
	if (rc != 0)
		snprintf(why, why_len, "%s", f->out.why);
	return rc;
}

static struct fixture *fixture_new(const struct ctl_state *st)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ctl_config cc;
	char err[256];
	int fd;

	assert_non_null(f);
	ctlconf_default(&f->conf);
	assert_int_equal(ctlconf_load_string(&f->conf,
					     "[controller]\ncluster_id = 7\nmembers = 1,2,3,4\n"
					     "learners = 4\nstate_dir = /nonexistent\n",
					     err, sizeof(err)),
			 0);
	assert_int_equal(ctlconf_finish(&f->conf, err, sizeof(err)), 0);
	strcpy(f->conf.admin_token, ADMIN);
	strcpy(f->conf.operator_token, OPER);
	ctlconf_core_config(&f->conf, &cc);
	f->mem = calloc(1, ctl_mem_size());
	f->ctl = ctl_init(f->mem, &cc, st);
	assert_non_null(f->ctl);
	f->events = calloc(1, sizeof(*f->events));
	assert_int_equal(ctl_events_open(f->events, NULL, NULL, err, sizeof(err)), 0);
	snprintf(f->audit_path, sizeof(f->audit_path), "/tmp/test_ctladmin.XXXXXX");
	fd = mkstemp(f->audit_path);
	assert_true(fd >= 0);
	f->x = (struct ctl_admin_ctx){ .conf = &f->conf,
				       .ctl = f->ctl,
				       .events = f->events,
				       .counters = &f->counters,
				       .audit_fd = fd,
				       .now_ns = 5000000000ull,
				       .wall_ns = 1700000000000000000ull,
				       .apply = fake_apply,
				       .arg = f };
	f->ans = malloc(SL_ADMIN_LINE_MAX);
	assert_non_null(f->ans);
	return f;
}

static void fixture_free(struct fixture *f)
{
	close(f->x.audit_fd);
	unlink(f->audit_path);
	free(f->ans);
	free(f->events);
	free(f->mem);
	free(f);
}

/* Serves line over Unix from uid 1000; the answer parsed (owned by the caller). */
static json_t *serve(struct fixture *f, const char *line)
{
	struct ctl_admin_peer peer = { .transport = CTL_ADMIN_UNIX, .uid = 1000, .pid = 42 };
	size_t n = ctl_admin_serve(&f->x, &peer, line, strlen(line), f->ans, SL_ADMIN_LINE_MAX);
	json_t *a;

	assert_true(n > 0 && f->ans[n - 1] == '\n');
	assert_null(memchr(f->ans, '\n', n - 1));
	a = json_loadb(f->ans, n, 0, NULL);
	assert_non_null(a);
	assert_int_equal(json_integer_value(json_object_get(a, "v")), SL_ADMIN_PROTO_VERSION);
	return a;
}

static void expect_code(struct fixture *f, const char *line, const char *code)
{
	json_t *a = serve(f, line);

	if (strcmp(code, "ok") == 0) {
		assert_true(json_is_true(json_object_get(a, "ok")));
		assert_true(json_is_object(json_object_get(a, "result")));
	} else {
		assert_true(json_is_false(json_object_get(a, "ok")));
		if (strcmp(json_string_value(json_object_get(a, "code")), code) != 0)
			fail_msg("%s: %s, expected %s", line, f->ans, code);
		assert_true(json_string_length(json_object_get(a, "error")) > 0);
	}
	json_decref(a);
}

/* The audit file's lines, parsed into an array. */
static json_t *audit_lines(struct fixture *f)
{
	FILE *in = fopen(f->audit_path, "r");
	json_t *all = json_array();
	char line[4096];

	assert_non_null(in);
	while (fgets(line, sizeof(line), in))
		json_array_append_new(all, json_loads(line, 0, NULL));
	fclose(in);
	return all;
}

static void fresh(struct ctl_state *st)
{
	struct ctlconf conf;
	char err[256];

	ctlconf_default(&conf);
	assert_int_equal(ctlconf_load_string(&conf,
					     "[controller]\ncluster_id = 7\nmembers = 1,2,3,4\n"
					     "learners = 4\nstate_dir = /nonexistent\n",
					     err, sizeof(err)),
			 0);
	assert_int_equal(ctlconf_finish(&conf, err, sizeof(err)), 0);
	ctlconf_fresh_state(&conf, st);
}

static void test_authorization(void **state)
{
	static const char fo_none[] = "{\"v\":1,\"cmd\":\"failover\",\"args\":{\"to\":2}}";
	static const char fo_oper[] = "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"failover\"}";
	static const char fo_wrong[] = "{\"v\":1,\"token\":\"nope\",\"cmd\":\"failover\"}";
	static const char fo_admin[] = "{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"failover\"}";
	struct ctl_state st;
	struct fixture *f;
	json_t *lines, *l;

	(void)state;
	fresh(&st);
	f = fixture_new(&st);
	expect_code(f, "{\"v\":1,\"cmd\":\"status\"}", "unauthorized");
	expect_code(f, "{\"v\":1,\"token\":\"nope\",\"cmd\":\"status\"}", "unauthorized");
	expect_code(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"status\"}", "ok");
	expect_code(f, "{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"members\"}", "ok");
	expect_code(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"events\"}", "ok");
	/* The token is looked at before the command's name and arguments. */
	expect_code(f, "{\"v\":1,\"cmd\":\"reboot\"}", "unauthorized");
	expect_code(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"reboot\"}", "unknown_command");
	expect_code(f, "not json", "bad_request");
	expect_code(f, "{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"switchover\"}", "bad_request");

	expect_code(f, fo_none, "unauthorized");
	expect_code(f, fo_oper, "unauthorized");
	expect_code(f, fo_wrong, "unauthorized");
	assert_int_equal(f->applied, 0);
	assert_int_equal(ctl_state(f->ctl)->epoch, 0); /* nothing changed */
	f->apply_rc = -EBUSY;
	expect_code(f, fo_admin, "busy");
	f->apply_rc = -EAGAIN;
	expect_code(f, fo_admin, "refused");
	f->apply_rc = -ENOENT;
	expect_code(f, fo_admin, "not_found");
	f->apply_rc = -EIO;
	expect_code(f, fo_admin, "internal");
	f->apply_rc = 0;
	expect_code(f,
		    "{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"remove-node\",\"args\":{\"node\":"
		    "9}}",
		    "not_found");
	expect_code(f, fo_admin, "ok");
	assert_int_equal(ctl_state(f->ctl)->epoch, 1);
	assert_int_equal(f->applied, 6);

	/* Every privileged request is in the audit, read-only ones are not. */
	lines = audit_lines(f);
	assert_int_equal(json_array_size(lines), 10);
	l = json_array_get(lines, 0);
	assert_string_equal(json_string_value(json_object_get(l, "cmd")), "switchover");
	assert_string_equal(json_string_value(json_object_get(l, "outcome")), "bad_request");
	assert_string_equal(json_string_value(json_object_get(l, "token")), "admin");
	l = json_array_get(lines, 1);
	assert_string_equal(json_string_value(json_object_get(l, "transport")), "unix");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(l, "peer"), "uid")),
			 1000);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(l, "peer"), "pid")),
			 42);
	assert_string_equal(json_string_value(json_object_get(l, "token")), "none");
	assert_string_equal(json_string_value(json_object_get(l, "outcome")), "unauthorized");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(l, "args"), "to")), 2);
	assert_string_equal(json_string_value(json_object_get(l, "time")),
			    "2023-11-14T22:13:20.000Z");
	l = json_array_get(lines, 2);
	assert_string_equal(json_string_value(json_object_get(l, "token")), "operator");
	l = json_array_get(lines, 9);
	assert_string_equal(json_string_value(json_object_get(l, "outcome")), "ok");
	assert_string_equal(json_string_value(json_object_get(l, "token")), "admin");
	json_decref(lines);

	assert_int_equal(f->counters.admin_requests[CTL_ADMIN_UNAUTHORIZED], 6);
	assert_int_equal(f->counters.admin_requests[CTL_ADMIN_OK], 4);
	assert_int_equal(f->counters.admin_requests[CTL_ADMIN_BAD_REQUEST], 2);
	assert_int_equal(f->counters.admin_requests[CTL_ADMIN_UNKNOWN_COMMAND], 1);

	/* Without an admin token, privileged commands are refused for everyone. */
	f->conf.admin_token[0] = '\0';
	expect_code(f, fo_admin, "unauthorized");
	assert_non_null(strstr(f->ans, "no admin token is configured"));
	f->conf.operator_token[0] = '\0';
	expect_code(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"status\"}", "unauthorized");
	fixture_free(f);
}

static struct sl_node_report report(unsigned node, unsigned role, unsigned epoch, uint64_t lsn)
{
	return ctltest_report(CLUSTER, node, role, epoch, lsn, 1000);
}

static const json_t *status_node(const json_t *status, unsigned id)
{
	const json_t *nodes = json_object_get(status, "nodes"), *n;
	size_t i;

	json_array_foreach(nodes, i, n) if (json_integer_value(json_object_get(n, "node")) ==
					    (json_int_t)id) return n;
	fail_msg("node %u not in status", id);
	return NULL;
}

static const char *str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("%s: not an integer", key);
	return json_integer_value(v);
}

/* A steady cluster: node 1 leads epoch 3 under first 1 (2,3), nodes 2, 3 follow, 4 is a
 * learner that never reported. */
static void test_status(void **state)
{
	struct sl_node_report r1 = report(1, SL_ROLE_LEADER, 3, 1000), r2, r3;
	struct ctl_input in = { .type = CTL_IN_REPORT, .now_ns = 4000000000ull };
	struct ctl_state st;
	struct fixture *f;
	const json_t *n, *k;
	json_t *a, *s;

	(void)state;
	fresh(&st);
	st.epoch = 3;
	st.leader = 1;
	st.phase = CTL_PHASE_STEADY;
	assert_int_equal(sl_policy_parse("first 1 (2,3)", 13, &st.policy, NULL, 0), 0);
	st.prev_policy = st.policy;
	f = fixture_new(&st);
	r1.st.policy = st.policy;
	r1.st.n_peers = 2;
	r1.st.peers[0] = (struct sl_peer_status){ .node = 2,
						  .healthy = true,
						  .sync = true,
						  .received_lsn = 990,
						  .lag_records = 10,
						  .lag_bytes = 640,
						  .lag_ns = 250000 };
	r1.st.peers[1] = (struct sl_peer_status){ .node = 3,
						  .healthy = true,
						  .lag_records = 500,
						  .lag_bytes = 32000,
						  .lag_ns = 9000000 };
	r2 = report(2, SL_ROLE_FOLLOWER, 3, 990);
	r2.snapshot_lsn = 800;
	r2.wal_first_lsn = 801;
	r2.snapshots_installed = 1;
	r3 = report(3, SL_ROLE_FOLLOWER, 3, 500);
	in.u.report = &r1;
	ctl_step(f->ctl, &in, &f->out);
	in.u.report = &r2;
	ctl_step(f->ctl, &in, &f->out);
	in.u.report = &r3;
	ctl_step(f->ctl, &in, &f->out);

	a = serve(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"status\"}");
	s = json_object_get(a, "result");
	assert_int_equal(num(s, "cluster"), CLUSTER);
	assert_int_equal(num(s, "epoch"), 3);
	assert_int_equal(num(s, "leader"), 1);
	assert_string_equal(str(s, "phase"), "steady");
	assert_non_null(strstr(str(s, "policy"), "first 1 (n2,n3)"));
	assert_true(json_is_false(json_object_get(s, "degraded")));
	assert_true(strlen(str(s, "controller_version")) > 0);
	assert_int_equal(json_array_size(json_object_get(s, "nodes")), 4);

	n = status_node(s, 1);
	assert_string_equal(str(n, "role"), "leader");
	assert_string_equal(str(n, "member"), "member");
	assert_string_equal(str(n, "state"), "up");
	assert_string_equal(str(n, "sync"), "leader");
	assert_int_equal(num(n, "epoch"), 3);
	assert_int_equal(num(n, "last_lsn"), 1000);
	assert_int_equal(num(n, "commit_lsn"), 1000);
	assert_int_equal(num(n, "heard_ms_ago"), 1000);
	assert_int_equal(num(n, "lag_records"), 0);
	assert_string_equal(str(n, "data_addr"), "10.77.0.1:7400");
	assert_true(json_is_true(json_object_get(n, "may_lead")));
	assert_true(json_is_false(json_object_get(n, "paused")));

	n = status_node(s, 2); /* lag from the leader's peers[], not from its own report */
	assert_string_equal(str(n, "role"), "follower");
	assert_string_equal(str(n, "sync"), "sync");
	assert_int_equal(num(n, "lag_records"), 10);
	assert_int_equal(num(n, "lag_bytes"), 640);
	assert_int_equal(num(n, "lag_us"), 250);
	assert_int_equal(num(n, "flushed_lsn"), 990);
	assert_int_equal(num(n, "snapshot_lsn"), 800);
	assert_int_equal(num(n, "wal_first_lsn"), 801);
	assert_int_equal(num(n, "snapshots_sent"), 0);
	assert_int_equal(num(n, "snapshots_installed"), 1);
	n = status_node(s, 3);
	assert_int_equal(num(n, "snapshot_lsn"), 0);  /* none, or an agent that does not say */
	assert_string_equal(str(n, "sync"), "async"); /* in the list, not counted now */
	assert_int_equal(num(n, "lag_records"), 500);
	assert_int_equal(num(n, "lag_us"), 9000);
	n = status_node(s, 4);
	assert_string_equal(str(n, "member"), "learner");
	assert_string_equal(str(n, "state"), "never");
	assert_string_equal(str(n, "sync"), "learner");
	assert_null(json_object_get(n, "last_lsn"));
	assert_null(json_object_get(n, "snapshot_lsn"));
	assert_null(json_object_get(n, "lag_records"));

	k = json_object_get(s, "controller");
	assert_true(json_is_object(k));
	assert_non_null(json_object_get(k, "agent_lines_rejected"));
	assert_int_equal(num(json_object_get(k, "admin_requests"), "ok"), 0); /* counted after */
	json_decref(a);

	/* Under any 1 (2,3), both followers are quorum members. */
	expect_code(f,
		    "{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"set-policy\",\"args\":{\"policy\":"
		    "\"any 1 (2,3)\"}}",
		    "ok");
	a = serve(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"status\"}");
	s = json_object_get(a, "result");
	assert_string_equal(str(status_node(s, 2), "sync"), "quorum");
	assert_string_equal(str(status_node(s, 3), "sync"), "quorum");
	assert_non_null(json_object_get(s, "prev_policy"));
	json_decref(a);

	a = serve(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"members\"}");
	s = json_object_get(json_object_get(a, "result"), "members");
	assert_int_equal(json_array_size(s), 4);
	assert_int_equal(num(json_array_get(s, 3), "node"), 4);
	assert_true(json_is_true(json_object_get(json_array_get(s, 3), "learner")));
	json_decref(a);
	fixture_free(f);
}

/* The ids in a JSON array, as "1,2,4" ("" when empty). */
static const char *id_list(const json_t *a)
{
	static char buf[256];
	const json_t *v;
	size_t i, n = 0;

	assert_true(json_is_array(a));
	buf[0] = '\0';
	json_array_foreach(a, i, v)
	{
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%lld", i ? "," : "",
				      (long long)json_integer_value(v));
	}
	return buf;
}

#define SNAP_REQ(args) "{\"v\":1,\"token\":\"" ADMIN "\",\"cmd\":\"snapshot\",\"args\":" args "}"

/*
 * snapshot N | all through the admin API: admin token only, audited; the answer names the
 * nodes asked and, for all, the members left out (not connected); a node that is not
 * connected is refused, one that is no member is not found.
 */
static void test_snapshot(void **state)
{
	struct ctl_state st;
	struct fixture *f;
	json_t *a, *r, *lines, *l;

	(void)state;
	fresh(&st);
	st.epoch = 3;
	st.leader = 1;
	st.phase = CTL_PHASE_STEADY;
	f = fixture_new(&st);
	f->connected = 1u << 0 | 1u << 1 | 1u << 3; /* n1, n2 and the learner n4; not n3 */
	expect_code(f,
		    "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"snapshot\",\"args\":{\"all\":true}}",
		    "unauthorized");
	assert_int_equal(f->applied, 0);

	a = serve(f, SNAP_REQ("{\"all\":true}"));
	r = json_object_get(a, "result");
	assert_non_null(r);
	assert_int_equal(num(r, "epoch"), 3);
	assert_int_equal(num(r, "leader"), 1);
	assert_string_equal(str(r, "phase"), "steady");
	assert_int_equal(num(r, "state_version"), (json_int_t)st.version); /* no change */
	assert_string_equal(id_list(json_object_get(r, "asked")), "1,2,4");
	assert_string_equal(id_list(json_object_get(r, "skipped")), "3");
	json_decref(a);
	assert_int_equal(f->out.n_act, 3);
	for (unsigned i = 0; i < f->out.n_act; i++) {
		assert_int_equal(f->out.act[i].type, CTL_ACT_SEND);
		assert_int_equal(f->out.act[i].u.send.cmd.cmd, SL_CTL_SNAPSHOT);
		assert_int_equal(f->out.act[i].u.send.cmd.epoch, 3);
	}

	expect_code(f, SNAP_REQ("{\"node\":3}"), "refused");
	assert_non_null(strstr(f->ans, "n3 is not connected to the controller."));
	expect_code(f, SNAP_REQ("{\"node\":9}"), "not_found");
	a = serve(f, SNAP_REQ("{\"node\":2}"));
	r = json_object_get(a, "result");
	assert_string_equal(id_list(json_object_get(r, "asked")), "2");
	assert_string_equal(id_list(json_object_get(r, "skipped")), "");
	json_decref(a);
	f->connected = 0;
	expect_code(f, SNAP_REQ("{\"all\":true}"), "refused");
	assert_non_null(strstr(f->ans, "No member is connected"));

	/* Each request is audited: who, what, and what became of it. */
	lines = audit_lines(f);
	assert_int_equal(json_array_size(lines), 6);
	l = json_array_get(lines, 0);
	assert_string_equal(str(l, "cmd"), "snapshot");
	assert_string_equal(str(l, "token"), "operator");
	assert_string_equal(str(l, "outcome"), "unauthorized");
	l = json_array_get(lines, 1);
	assert_string_equal(str(l, "token"), "admin");
	assert_string_equal(str(l, "outcome"), "ok");
	assert_true(json_is_true(json_object_get(json_object_get(l, "args"), "all")));
	assert_int_equal(num(json_object_get(l, "peer"), "uid"), 1000);
	l = json_array_get(lines, 2);
	assert_string_equal(str(l, "outcome"), "refused");
	assert_int_equal(num(json_object_get(l, "args"), "node"), 3);
	assert_string_equal(str(l, "error"), "n3 is not connected to the controller.");
	assert_string_equal(str(json_array_get(lines, 3), "outcome"), "not_found");
	assert_string_equal(str(json_array_get(lines, 4), "outcome"), "ok");
	json_decref(lines);
	fixture_free(f);
}

static void test_events(void **state)
{
	struct ctl_state st;
	struct fixture *f;
	json_t *a, *r, *evs;

	(void)state;
	fresh(&st);
	f = fixture_new(&st);
	for (unsigned i = 0; i < CTL_EVENTS_KEEP + 5; i++)
		ctl_events_add(f->events, 1700000000000000000ull + i, CTL_EV_NODE_UP, 1 + i % 3, i,
			       0, "Node up \"quoted\"\n");
	assert_int_equal(f->events->count, CTL_EVENTS_KEEP);
	a = serve(f, "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"events\",\"args\":{\"limit\":3}}");
	r = json_object_get(a, "result");
	evs = json_object_get(r, "events");
	assert_int_equal(json_array_size(evs), 3);
	assert_int_equal(num(json_array_get(evs, 0), "seq"), 6); /* the oldest kept */
	assert_string_equal(str(json_array_get(evs, 0), "kind"), "node_up");
	assert_string_equal(str(json_array_get(evs, 0), "text"), "Node up \"quoted\"?");
	assert_string_equal(str(json_array_get(evs, 0), "time"), "2023-11-14T22:13:20.000Z");
	assert_int_equal(num(r, "next"), 9);
	json_decref(a);
	a = serve(f, "{\"v\":1,\"token\":\"" OPER
		     "\",\"cmd\":\"events\",\"args\":{\"since\":1000,\"limit\":1000}}");
	r = json_object_get(a, "result");
	assert_int_equal(json_array_size(json_object_get(r, "events")), 6);
	assert_int_equal(num(r, "next"), 1006);
	json_decref(a);
	a = serve(f,
		  "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"events\",\"args\":{\"since\":5000}}");
	r = json_object_get(a, "result");
	assert_int_equal(json_array_size(json_object_get(r, "events")), 0);
	assert_int_equal(num(r, "next"), 1006);
	json_decref(a);
	/* A whole page of the largest events still fits an answer line. */
	a = serve(f,
		  "{\"v\":1,\"token\":\"" OPER "\",\"cmd\":\"events\",\"args\":{\"limit\":1000}}");
	assert_int_equal(json_array_size(json_object_get(json_object_get(a, "result"), "events")),
			 1000);
	json_decref(a);
	fixture_free(f);
}

/* events.jsonl read back: the sequence continues, a torn last line is skipped. */
static void test_events_file(void **state)
{
	char dir[64], path[128], err[256];
	struct ctl_events *e = calloc(1, sizeof(*e));
	FILE *out;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_ctlevents.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(ctl_events_open(e, dir, NULL, err, sizeof(err)), 0);
	assert_int_equal(e->next_seq, 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ctl_events_add(e, 1000, CTL_EV_PROMOTED, 2, 5, i, "promoted"), 0);
	ctl_events_close(e);
	snprintf(path, sizeof(path), "%s/" CTL_EVENTS_FILE, dir);
	out = fopen(path, "a");
	fputs("{\"seq\":4,\"time_ns\":1,\"ki", out); /* a crash mid-write */
	fclose(out);
	assert_int_equal(ctl_events_open(e, dir, NULL, err, sizeof(err)), 0);
	assert_int_equal(e->next_seq, 4);
	assert_int_equal(e->count, 3);
	assert_int_equal(e->lines_skipped, 1);
	assert_int_equal(ctl_events_at(e, 2)->b, 2);
	assert_int_equal(ctl_events_add(e, 1000, CTL_EV_NODE_DOWN, 3, 0, 0, "down"), 0);
	ctl_events_close(e);
	assert_int_equal(ctl_events_open(e, dir, NULL, err, sizeof(err)), 0);
	assert_int_equal(e->next_seq, 5);
	assert_int_equal(e->count, 4);
	assert_int_equal(e->lines_skipped, 1);
	assert_int_equal(ctl_events_at(e, 3)->kind, CTL_EV_NODE_DOWN);
	ctl_events_close(e);
	unlink(path);
	rmdir(dir);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_good), cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_tokens),	    cmocka_unit_test(test_authorization),
		cmocka_unit_test(test_status),	    cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_events),	    cmocka_unit_test(test_events_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
