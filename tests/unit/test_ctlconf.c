/* shiplog-controller's configuration: defaults, every key, every refusal, cross-key checks. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctlconf.h"

static char tmpdir[64];
static char admin_tok[128], oper_tok[128], agent_tok[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ctlconf.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(admin_tok, sizeof(admin_tok), "%s/admin.token", tmpdir);
	snprintf(oper_tok, sizeof(oper_tok), "%s/oper.token", tmpdir);
	snprintf(agent_tok, sizeof(agent_tok), "%s/agent.token", tmpdir);
	write_file(admin_tok, "adm-s3cret\n");
	write_file(oper_tok, "op-t0ken");
	write_file(agent_tok, "ag3nt\r\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Loads text over the defaults and finishes; 0 or the first failing rc, err set. */
static int load(struct ctlconf *c, const char *text, char *err, size_t err_len)
{
	int rc;

	ctlconf_default(c);
	rc = ctlconf_load_string(c, text, err, err_len);
	return rc ? rc : ctlconf_finish(c, err, err_len);
}

#define MINIMAL "[controller]\ncluster_id = 7\nmembers = 1,2,3\nstate_dir = /var/lib/ctl\n"

static void test_defaults(void **state)
{
	struct sl_policy all = sl_policy_default();
	struct ctl_config cc;
	struct ctl_state st;
	struct ctlconf c;
	char err[CTLCONF_ERR_MAX];

	(void)state;
	assert_int_equal(load(&c, MINIMAL, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.cluster_id, 7);
	assert_int_equal(c.members, 0x7);
	assert_int_equal(c.learners, 0);
	assert_int_equal(c.preferred_leader, 1);
	assert_memory_equal(&c.policy, &all, sizeof(all));
	assert_int_equal(c.failure_timeout_ms, 1000);
	assert_int_equal(c.switchover_timeout_ms, 5000);
	assert_int_equal(c.max_lag_on_failover, 0);
	assert_int_equal(c.learner_catchup_records, 1000);
	assert_string_equal(c.agent_listen.text, "0.0.0.0:7410");
	assert_int_equal(ntohs(((struct sockaddr_in *)&c.agent_listen.sa)->sin_port), 7410);
	assert_string_equal(c.admin_socket, "/run/shiplog/controller.sock"); /* shiplogctl's */
	assert_false(c.admin_listen.set);
	assert_false(c.metrics_listen.set); /* no metrics endpoint unless asked */
	assert_string_equal(c.admin_token, "");
	assert_string_equal(c.operator_token, "");
	assert_string_equal(c.agent_token, "");

	ctlconf_core_config(&c, &cc);
	assert_int_equal(cc.cluster_id, 7);
	assert_int_equal(cc.failure_timeout_ns, 1000000000ull);
	assert_int_equal(cc.switchover_timeout_ns, 5000000000ull);
	ctlconf_fresh_state(&c, &st);
	assert_int_equal(st.epoch, 0);
	assert_int_equal(st.phase, CTL_PHASE_BOOT);
	assert_int_equal(st.n_members, 3);
	assert_int_equal(st.members[2].id, 3);
	assert_int_equal(st.preferred, 1);
}

static void test_every_key(void **state)
{
	char text[2048], err[CTLCONF_ERR_MAX], ids[64];
	struct ctlconf c;

	(void)state;
	snprintf(text, sizeof(text),
		 "# every key\n"
		 "[controller]\n"
		 "cluster_id = 4294967295\n"
		 "members = 3, 1,2 ,4\n"
		 "learners = 4\n"
		 "spares = 5,64\n"
		 "preferred_leader = 2\n"
		 "policy = first 1 (2,3) level=received sync_timeout_ms=50\n"
		 "failure_timeout_ms = 250\n"
		 "switchover_timeout_ms = 9000\n"
		 "max_lag_on_failover = 12\n"
		 "learner_catchup_records = 34\n"
		 "state_dir = /srv/ctl\n"
		 "agent_listen = 127.0.0.1:0\n"
		 "admin_socket = \n"
		 "admin_listen = [::1]:7411\n"
		 "metrics_listen = 10.0.0.5:9410\n"
		 "admin_token_file = %s\n"
		 "operator_token_file = %s\n"
		 "agent_token_file = %s\n",
		 admin_tok, oper_tok, agent_tok);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.cluster_id, UINT32_MAX);
	ctlconf_ids_text(c.members, ids, sizeof(ids));
	assert_string_equal(ids, "1,2,3,4");
	assert_int_equal(c.learners, 1u << 3);
	assert_int_equal(c.spares, (1ull << 4) | (1ull << 63));
	assert_int_equal(c.preferred_leader, 2);
	assert_int_equal(c.policy.kind, SL_POLICY_FIRST);
	assert_int_equal(c.policy.sync_timeout_ms, 50);
	assert_int_equal(c.failure_timeout_ms, 250);
	assert_int_equal(c.switchover_timeout_ms, 9000);
	assert_int_equal(c.max_lag_on_failover, 12);
	assert_int_equal(c.learner_catchup_records, 34);
	assert_string_equal(c.state_dir, "/srv/ctl");
	assert_string_equal(c.agent_listen.text, "127.0.0.1:0");
	assert_string_equal(c.admin_socket, ""); /* none */
	assert_true(c.admin_listen.set);
	assert_int_equal(c.admin_listen.sa.ss_family, AF_INET6);
	assert_true(c.metrics_listen.set);
	assert_string_equal(c.metrics_listen.text, "10.0.0.5:9410");
	assert_int_equal(c.metrics_listen.sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c.metrics_listen.sa)->sin_port), 9410);
	assert_string_equal(c.admin_token, "adm-s3cret");
	assert_string_equal(c.operator_token, "op-t0ken");
	assert_string_equal(c.agent_token, "ag3nt");
	ctlconf_wipe(&c);
	assert_string_equal(c.admin_token, "");
}

struct bad {
	const char *text; /* appended to MINIMAL (MINIMAL's keys then are set twice) */
	const char *msg;  /* a part of the error */
};

static void test_refusals(void **state)
{
	static const struct bad bad[] = {
		{ "cluster_id = 0\n", "<text>:5: controller.cluster_id: set twice" },
		{ "nonsense = 1\n", "<text>:5: controller.nonsense: unknown key" },
		{ "[other]\n", "<text>:5: [other]: unknown section" },
		{ "[controller\n", "'[' without ']'" },
		{ "just words\n", "expected 'key = value'" },
		{ "learners = 0\n", "controller.learners: a node id is a number 1..64" },
		{ "learners = 65\n", "a node id is a number" },
		{ "learners = 1,1\n", "node 1 listed twice" },
		{ "learners = 1,,2\n", "empty entry" },
		{ "learners = ,1\n", "empty entry" },
		{ "learners = x\n", "a node id" },
		{ "spares = 2\n", "controller.spares: a spare is not a member yet" },
		{ "preferred_leader = 9\n", "controller.preferred_leader: not a member" },
		{ "preferred_leader = 0\n", "out of range 1..64" },
		{ "learners = 1\npreferred_leader = 1\n", "a learner never leads" },
		{ "learners = 1,2,3\n", "at least one member must not be a learner" },
		{ "policy = first 3 (2,3)\n", "controller.policy:" },
		{ "policy = first 1 (2,9)\n", "policy: node 9 is not a member" },
		{ "learners = 3\npolicy = any 1 (2,3)\n", "policy: node 3 is a learner" },
		{ "failure_timeout_ms = 9\n", "out of range 10..600000" },
		{ "failure_timeout_ms = -1\n", "not a decimal number" },
		{ "failure_timeout_ms = 10x\n", "trailing characters" },
		{ "switchover_timeout_ms = 99999999999\n", "out of range" },
		{ "max_lag_on_failover = 99999999999999999999999\n", "out of range" },
		{ "learner_catchup_records = \n", "empty value" },
		{ "agent_listen = 1.2.3.4\n", "expected host:port" },
		{ "agent_listen = 1.2.3.4:65536\n", "port: a number 0..65535" },
		{ "agent_listen = host.example:80\n", "not an IPv4 address" },
		{ "agent_listen = [::1\n", "expected [IPv6]:port" },
		{ "agent_listen = [1.2.3.4]:80\n", "not an IPv6 address" },
		{ "admin_listen = :80\n", "numeric address" },
		{ "metrics_listen = 9410\n",
		  "<text>:5: controller.metrics_listen: expected host:port" },
		{ "metrics_listen = localhost:9410\n",
		  "controller.metrics_listen: not an IPv4 address" },
		{ "metrics_listen = 127.0.0.1:99999\n",
		  "controller.metrics_listen: port: a number" },
		{ "metrics_listen = [::1]9410\n",
		  "controller.metrics_listen: expected [IPv6]:port" },
		{ "metrics_listen = 127.0.0.1:9410\nmetrics_listen = \n",
		  "<text>:6: controller.metrics_listen: set twice" },
		{ "admin_socket = relative.sock\n", "not an absolute path" },
		{ "admin_token_file = /nonexistent/token\n", "controller.admin_token_file: cannot "
							     "open" },
		{ "operator_token_file = /tmp\n", "not a regular file" },
		{ "key = ;x\n", "unknown key" },
	};
	char text[1024], err[CTLCONF_ERR_MAX];
	struct ctlconf c, before;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "%s", bad[i].text);
		ctlconf_default(&c);
		before = c;
		if (ctlconf_load_string(&c, text, err, sizeof(err)) == 0) {
			assert_memory_equal(&c, &c, sizeof(c));
			assert_int_equal(ctlconf_finish(&c, err, sizeof(err)), -EINVAL);
		} else {
			assert_memory_equal(&c, &before, sizeof(c)); /* unchanged on error */
		}
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].msg);
		assert_null(strchr(err, '\n'));
	}
}

static void test_required(void **state)
{
	static const struct bad missing[] = {
		{ "[controller]\nmembers = 1\nstate_dir = /a\n",
		  "controller.cluster_id: required" },
		{ "[controller]\ncluster_id = 1\nstate_dir = /a\n",
		  "controller.members: required" },
		{ "[controller]\ncluster_id = 1\nmembers = 1\n", "controller.state_dir: required" },
		{ "cluster_id = 1\n", "<text>:1: cluster_id: key outside [controller]" },
		{ "[controller]\nmembers = \n", "controller.members: at least one member" },
	};
	char err[CTLCONF_ERR_MAX];
	struct ctlconf c;

	(void)state;
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		assert_int_equal(load(&c, missing[i].text, err, sizeof(err)), -EINVAL);
		if (strstr(err, missing[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, missing[i].msg);
	}
}

static void test_tokens(void **state)
{
	static const char *const bad[] = {
		"",	       /* empty */
		"\n",	       /* empty once the newline goes */
		"two words\n", /* a blank */
		"one\ntwo\n",  /* two lines */
		"tab\there",
	};
	char path[128], err[CTLCONF_ERR_MAX], big[300];
	struct ctlconf c;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.token", tmpdir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i]);
		ctlconf_default(&c);
		assert_int_equal(ctlconf_set(&c, "agent_token_file", path, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "controller.agent_token_file: "));
		assert_null(strstr(err, "two")); /* never quoted */
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	assert_int_equal(ctlconf_set(&c, "admin_token_file", path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a token has 1..127 bytes"));
	big[127] = '\0';
	write_file(path, big);
	assert_int_equal(ctlconf_set(&c, "admin_token_file", path, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.admin_token), 127);
}

static void test_overrides(void **state)
{
	char err[CTLCONF_ERR_MAX];
	struct ctlconf c, before;

	(void)state;
	ctlconf_default(&c);
	assert_int_equal(ctlconf_load_string(&c, MINIMAL, err, sizeof(err)), 0);
	/* An override replaces what the file set (no "set twice"). */
	assert_int_equal(ctlconf_set_option(&c, "controller.cluster_id", "9", err, sizeof(err)), 0);
	assert_int_equal(c.cluster_id, 9);
	assert_int_equal(ctlconf_set_option(&c, "controller.members", "1,2", err, sizeof(err)), 0);
	assert_int_equal(c.members, 3);
	before = c;
	assert_int_equal(ctlconf_set_option(&c, "cluster.id", "9", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown option (expected controller.KEY)"));
	assert_int_equal(ctlconf_set_option(&c, "controller.bogus", "9", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "controller.bogus: unknown key");
	assert_int_equal(ctlconf_set_option(&c, "controller.cluster_id", "x", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "controller.cluster_id: not a decimal number");
	assert_int_equal(ctlconf_set(&c, "policy", "all\x01", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "control character"));
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(ctlconf_set(&c, "admin_listen", "", err, sizeof(err)), 0);
	assert_false(c.admin_listen.set);
	assert_int_equal(
		ctlconf_set_option(&c, "controller.metrics_listen", "[::1]:0", err, sizeof(err)),
		0);
	assert_true(c.metrics_listen.set);
	assert_int_equal(c.metrics_listen.sa.ss_family, AF_INET6);
	before = c;
	assert_int_equal(ctlconf_set(&c, "metrics_listen", "::1:9410", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "controller.metrics_listen: not an IPv4 address (a.b.c.d:port or "
				 "[v6]:port)");
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(ctlconf_set(&c, "metrics_listen", "", err, sizeof(err)), 0);
	assert_false(c.metrics_listen.set);
	assert_int_equal(ctlconf_finish(&c, err, sizeof(err)), 0);
}

static void test_file(void **state)
{
	char path[128], err[CTLCONF_ERR_MAX], big[256];
	struct ctlconf c;

	(void)state;
	snprintf(path, sizeof(path), "%s/ctl.conf", tmpdir);
	write_file(path, "\xef\xbb\xbf; comment\n[controller] ; here\n  cluster_id = 3 ; why\n"
			 "members=1\nstate_dir=/x\n");
	ctlconf_default(&c);
	assert_int_equal(ctlconf_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.cluster_id, 3);
	assert_int_equal(ctlconf_finish(&c, err, sizeof(err)), 0);

	write_file(path, "[controller]\ncluster_id = 3\nmembers = 1,2\nbogus = 1\n");
	ctlconf_default(&c); /* a second file may not set a key again either */
	assert_int_equal(ctlconf_load_file(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(big, sizeof(big), "%s:4: controller.bogus: unknown key", path);
	assert_string_equal(err, big);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	assert_int_equal(ctlconf_load_file(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: line longer than"));
	assert_int_equal(ctlconf_load_file(&c, "/nonexistent/ctl.conf", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ctl.conf: "));
	/* A small error buffer is terminated, never overrun. */
	assert_int_equal(ctlconf_load_string(&c, "[x]\n", err, 6), -EINVAL);
	assert_int_equal(strlen(err), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults), cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_refusals), cmocka_unit_test(test_required),
		cmocka_unit_test(test_tokens),	 cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
