/* The agent protocol's JSON codec: round trips of every message and command, and refusals. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <shiplog/control.h>

#include "ctltest.h"
#include "testutil.h"

#define RANDOM_ROUND_TRIPS 2000

static char line[SL_CTL_LINE_MAX + 64];

/* Encodes m, checks the line's shape, decodes it and wants m back, byte for byte. */
static void round_trip(const struct sl_ctl_msg *m)
{
	struct sl_ctl_msg back;
	char err[256];
	int n = sl_ctl_encode(m, line, sizeof(line));

	if (n <= 0)
		fail_msg("type %u not encoded: %d", m->type, n);
	assert_int_equal(strlen(line), (size_t)n);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', (size_t)n - 1));
	assert_true(n <= (int)SL_CTL_LINE_MAX);
	memset(&back, 0x77, sizeof(back));
	if (sl_ctl_decode(line, (size_t)n, &back, err, sizeof(err)) != 0)
		fail_msg("%s refused: %s", line, err);
	assert_string_equal(err, "");
	assert_memory_equal(m, &back, sizeof(back));
	/* Without its newline too. */
	memset(&back, 0, sizeof(back));
	assert_int_equal(sl_ctl_decode(line, (size_t)n - 1, &back, err, sizeof(err)), 0);
	assert_memory_equal(m, &back, sizeof(back));
}

static void fill_report(struct sl_ctl_msg *m, uint64_t *rng, unsigned peers)
{
	struct sl_node_report *r = &m->u.report;

	memset(m, 0, sizeof(*m));
	m->type = SL_CTL_MSG_REPORT;
	r->node = (uint16_t)(1 + test_rand(rng) % SL_NODE_MAX);
	r->cluster_id = (uint32_t)test_rand(rng);
	r->seq = test_rand(rng) >> 1;
	r->may_lead = test_rand(rng) & 1;
	r->refetch_lsn = test_rand(rng) >> 2;
	snprintf(r->data_addr, sizeof(r->data_addr), "10.0.%u.%u:7400",
		 (unsigned)(test_rand(rng) % 256), (unsigned)(test_rand(rng) % 256));
	r->stale_epoch = test_rand(rng) % 1000;
	r->truncated_records = test_rand(rng) % 100000;
	r->retransmits = test_rand(rng) >> 1;
	r->client_busy = test_rand(rng) % 7;
	r->snapshot_lsn = test_rand(rng) & 1 ? 0 : test_rand(rng) >> 1;
	r->wal_first_lsn = test_rand(rng) >> 1;
	r->snapshots_sent = test_rand(rng) % 100;
	r->snapshots_installed = test_rand(rng) % 100;
	r->st.role = (uint8_t)(test_rand(rng) % 4);
	r->st.epoch = (uint32_t)test_rand(rng);
	r->st.leader = (uint16_t)(test_rand(rng) % (SL_NODE_MAX + 1));
	r->st.last_lsn = test_rand(rng) >> 1;
	r->st.last_epoch = (uint32_t)test_rand(rng);
	r->st.flushed_lsn = test_rand(rng) >> 1;
	r->st.applied_lsn = test_rand(rng) >> 1;
	r->st.commit_lsn = test_rand(rng) >> 1;
	r->st.degraded = test_rand(rng) & 1;
	r->st.paused = test_rand(rng) & 1;
	r->st.lease_expired = test_rand(rng) & 1;
	r->st.leader_age_ns = test_rand(rng) & 1 ? UINT64_MAX : test_rand(rng) >> 1;
	r->st.policy = test_rand(rng) & 1 ? policy_of("any 2 (n2, n5, n9) level=applied")
					  : policy_of("async durability=none sync_timeout_ms=17");
	r->st.n_peers = (uint8_t)peers;
	for (unsigned i = 0; i < peers; i++) {
		struct sl_peer_status *p = &r->st.peers[i];

		p->node = (uint16_t)(i + 1);
		p->learner = test_rand(rng) & 1;
		p->healthy = test_rand(rng) & 1;
		p->sync = test_rand(rng) & 1;
		p->received_lsn = test_rand(rng) >> 1;
		p->flushed_lsn = test_rand(rng) >> 1;
		p->applied_lsn = test_rand(rng) >> 1;
		p->lag_records = test_rand(rng) % 5000;
		p->lag_bytes = test_rand(rng) % 5000000;
		p->lag_ns = test_rand(rng) % 1000000000;
		p->rto_ns = test_rand(rng) % 100000000;
	}
}

static void test_round_trip_hello_note_bye(void **state)
{
	struct sl_ctl_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = SL_CTL_MSG_HELLO;
	m.u.hello.node = 2;
	m.u.hello.cluster_id = UINT32_MAX;
	strcpy(m.u.hello.token, "s3cr\"et\\ with \t and \xc3\xa9");
	round_trip(&m);
	memset(m.u.hello.token, 'x', sizeof(m.u.hello.token) - 1);
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = SL_CTL_MSG_NOTE;
	m.u.note = (struct sl_node_note){ .node = SL_NODE_MAX, .what = 3, .a = 1001, .b = 12 };
	round_trip(&m);

	memset(&m, 0, sizeof(m));
	m.type = SL_CTL_MSG_BYE;
	strcpy(m.u.bye.reason, "the controller is shutting down\nfor an upgrade");
	round_trip(&m);
	memset(m.u.bye.reason, 0, sizeof(m.u.bye.reason));
	round_trip(&m);
}

static void test_round_trip_report(void **state)
{
	uint64_t rng = test_seed();
	struct sl_ctl_msg m;

	(void)state;
	for (unsigned peers = 0; peers <= 8; peers++) {
		fill_report(&m, &rng, peers);
		round_trip(&m);
	}
	for (unsigned i = 0; i < RANDOM_ROUND_TRIPS; i++) {
		fill_report(&m, &rng, (unsigned)(test_rand(&rng) % 9));
		round_trip(&m);
	}
	/* Bounds: the largest encodable u64, "none heard", zero everywhere else. */
	fill_report(&m, &rng, 1);
	m.u.report.st.last_lsn = (uint64_t)INT64_MAX;
	m.u.report.st.leader_age_ns = UINT64_MAX;
	m.u.report.st.peers[0].rto_ns = (uint64_t)INT64_MAX;
	round_trip(&m);
	m.u.report.st.leader_age_ns = 0;
	round_trip(&m);
}

/* Every role name, and what the line says for each field. */
static void test_report_fields_by_name(void **state)
{
	uint64_t rng = test_seed();
	struct sl_ctl_msg m;

	(void)state;
	fill_report(&m, &rng, 1);
	m.u.report.st.leader_age_ns = UINT64_MAX;
	for (unsigned role = 0; role <= SL_ROLE_LEADER; role++) {
		char want[64];

		m.u.report.st.role = (uint8_t)role;
		round_trip(&m);
		snprintf(want, sizeof(want), "\"st\":{\"role\":\"%s\"", sl_role_name(role));
		assert_non_null(strstr(line, want));
	}
	assert_non_null(strstr(line, "\"leader_age_ns\":null"));
	assert_non_null(strstr(line, "\"peers\":[{\"node\":1,"));
	assert_non_null(strstr(line, "\"policy\":\""));
	assert_non_null(strstr(line, "\"data_addr\":\"10.0."));
	m.u.report.snapshot_lsn = 1000;
	m.u.report.wal_first_lsn = 900;
	m.u.report.snapshots_sent = 2;
	m.u.report.snapshots_installed = 1;
	round_trip(&m);
	assert_non_null(strstr(line, "\"snapshot_lsn\":1000,\"wal_first_lsn\":900,"
				     "\"snapshots_sent\":2,\"snapshots_installed\":1,"));
}

/* A 64-node cluster's report with LSNs in the trillions still fits one line. */
static void test_report_full_cluster(void **state)
{
	uint64_t rng = test_seed();
	struct sl_ctl_msg m;

	(void)state;
	fill_report(&m, &rng, SL_NODE_MAX);
	for (unsigned i = 0; i < SL_NODE_MAX; i++) {
		struct sl_peer_status *p = &m.u.report.st.peers[i];

		p->received_lsn = p->flushed_lsn = p->applied_lsn = 1000000000000ull + i;
	}
	round_trip(&m);
}

static void test_round_trip_every_command(void **state)
{
	const char *const policies[] = { "all", "first 1 (n2, n3) level=received",
					 "any 2 (n2, n3, n4) durability=none sync_timeout_ms=5",
					 "async" };
	struct sl_ctl_msg m;

	(void)state;
	for (unsigned cmd = 1; cmd < SL_CTL__MAX; cmd++) {
		for (unsigned i = 0; i < 4; i++) {
			memset(&m, 0, sizeof(m));
			m.type = SL_CTL_MSG_CMD;
			m.u.cmd.cmd = (uint8_t)cmd;
			m.u.cmd.epoch = i == 3 ? UINT32_MAX : 5 + i;
			m.u.cmd.node = (uint16_t)(i == 2 ? SL_NODE_MAX : 1 + i);
			m.u.cmd.learner = (uint8_t)(i & 1);
			m.u.cmd.pause = (uint8_t)(i >> 1 & 1);
			m.u.cmd.policy = policy_of(policies[i]);
			if (cmd ==
			    SL_CTL_ADD_PEER) /* the longest address there is, or a short one */
				strcpy(m.u.cmd.addr,
				       i == 2 ? "255.255.255.255:65535" : "10.77.0.4:7400");
			round_trip(&m);
			assert_non_null(strstr(line, sl_control_cmd_name(cmd)));
			if (cmd == SL_CTL_FOLLOW || cmd == SL_CTL_SET_LEARNER ||
			    cmd == SL_CTL_ADD_PEER || cmd == SL_CTL_REMOVE_PEER)
				continue;
			m.u.cmd.node = 0; /* PROMOTE, FENCE, ... name no node */
			round_trip(&m);
		}
	}
}

/* The exact text, as include/shiplog/control.h shows it. */
static void test_encode_text(void **state)
{
	struct sl_ctl_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = SL_CTL_MSG_NOTE;
	m.u.note = (struct sl_node_note){ .node = 2, .what = 3, .a = 1001, .b = 12 };
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), 56);
	assert_string_equal(line, "{\"v\":1,\"type\":\"note\",\"node\":2,\"what\":3,\"a\":1001,"
				  "\"b\":12}\n");
	memset(&m, 0, sizeof(m));
	m.type = SL_CTL_MSG_HELLO;
	m.u.hello.node = 2;
	m.u.hello.cluster_id = 7;
	strcpy(m.u.hello.token, "abc");
	assert_true(sl_ctl_encode(&m, line, sizeof(line)) > 0);
	assert_string_equal(line, "{\"v\":1,\"type\":\"hello\",\"node\":2,\"cluster\":7,"
				  "\"token\":\"abc\"}\n");
	memset(&m, 0, sizeof(m));
	m.type = SL_CTL_MSG_CMD;
	m.u.cmd = (struct sl_control){ .cmd = SL_CTL_PROMOTE,
				       .epoch = 5,
				       .policy = policy_of("first 1 (2,3)") };
	assert_true(sl_ctl_encode(&m, line, sizeof(line)) > 0);
	assert_string_equal(line, "{\"v\":1,\"type\":\"cmd\",\"cmd\":\"promote\",\"epoch\":5,"
				  "\"node\":0,\"learner\":0,\"pause\":0,\"policy\":\"first 1 (n2,"
				  "n3) level=flushed durability=fsync sync_timeout_ms=0\"}\n");
	/* SNAPSHOT names no node: the controller's epoch is all it needs. */
	m.u.cmd.cmd = SL_CTL_SNAPSHOT;
	m.u.cmd.epoch = 7;
	m.u.cmd.policy = policy_of("all");
	assert_true(sl_ctl_encode(&m, line, sizeof(line)) > 0);
	assert_string_equal(line, "{\"v\":1,\"type\":\"cmd\",\"cmd\":\"snapshot\",\"epoch\":7,"
				  "\"node\":0,\"learner\":0,\"pause\":0,\"policy\":\"all "
				  "level=flushed durability=fsync sync_timeout_ms=0\"}\n");
}

static int decode(const char *s, struct sl_ctl_msg *m, char *err, size_t err_len)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees a read past it */
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = sl_ctl_decode(copy, len, m, err, err_len);
	free(copy);
	return rc;
}

static void decode_ok(const char *s, struct sl_ctl_msg *m)
{
	char err[256];

	if (decode(s, m, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", s, err);
}

/* -EINVAL, *out untouched, one line in err that names the problem. */
static void refused(const char *s, const char *needle)
{
	struct sl_ctl_msg m, before;
	char err[256];
	int rc;

	memset(&m, 0x5a, sizeof(m));
	before = m;
	rc = decode(s, &m, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("'%.200s' gave %d, expected -EINVAL", s, rc);
	assert_memory_equal(&m, &before, sizeof(m));
	assert_null(strchr(err, '\n'));
	if (!strstr(err, needle))
		fail_msg("'%.200s': error '%s' does not say '%s'", s, err, needle);
	/* Small and absent error buffers are safe. */
	assert_int_equal(decode(s, &m, err, 4), -EINVAL);
	assert_true(strlen(err) <= 3);
	assert_int_equal(decode(s, &m, NULL, 0), -EINVAL);
}

#define NOTE_PREFIX "{\"v\":1,\"type\":\"note\","
#define CMD_PREFIX  "{\"v\":1,\"type\":\"cmd\","

static void test_refuse_framing(void **state)
{
	char *big = malloc(SL_CTL_LINE_MAX + 8);

	(void)state;
	refused("", "not JSON");
	refused("\n", "not JSON");
	refused("{\"v\":1,", "not JSON");
	refused("{\"v\":1} trailing", "not JSON");
	refused("{\"v\":1}{\"v\":1}", "not JSON");
	refused("[1,2]", "must be a JSON object, not an array");
	refused("\"report\"", "must be a JSON object");
	refused("{\"v\":1,\n\"type\":\"bye\",\"reason\":\"\"}", "newline inside");
	refused("{\"v\":1,\"type\":\"bye\",\"reason\":\"x\",\"reason\":\"y\"}", "duplicate");
	refused("{\"v\":1,\"type\":\"bye\",\"reason\":\"\\u0000\"}", "not JSON");
	refused("{\"v\":1,\"type\":\"bye\",\"reason\":\"\xff\"}", "not JSON");
	assert_non_null(big);
	memset(big, ' ', SL_CTL_LINE_MAX + 7);
	memcpy(big, "{\"v\":1,\"type\":\"bye\",\"reason\":\"\"}", 32);
	big[SL_CTL_LINE_MAX - 1] = '\0'; /* SL_CTL_LINE_MAX with the newline: accepted */
	{
		struct sl_ctl_msg m;

		decode_ok(big, &m);
		assert_int_equal(m.type, SL_CTL_MSG_BYE);
	}
	big[SL_CTL_LINE_MAX - 1] = ' ';
	big[SL_CTL_LINE_MAX] = '\0';
	refused(big, "bytes is longer than the");
	free(big);
}

static void test_refuse_header(void **state)
{
	(void)state;
	refused("{\"type\":\"bye\",\"reason\":\"\"}", "\"v\" is missing");
	refused("{\"v\":2,\"type\":\"bye\",\"reason\":\"\"}", "protocol version 2 is not 1");
	refused("{\"v\":\"1\",\"type\":\"bye\",\"reason\":\"\"}",
		"must be an integer, not a string");
	refused("{\"v\":1.0,\"type\":\"bye\",\"reason\":\"\"}", "not a real number");
	refused("{\"v\":1,\"reason\":\"\"}", "\"type\" is missing");
	refused("{\"v\":1,\"type\":3}", "type must be a string");
	refused("{\"v\":1,\"type\":\"goodbye\"}", "type must be hello, report");
	refused("{\"v\":1,\"type\":\"Report\"}", "type must be hello");
}

static void test_refuse_missing_fields(void **state)
{
	(void)state;
	refused(NOTE_PREFIX "\"what\":3,\"a\":1,\"b\":2}", "note: the field node is missing");
	refused(NOTE_PREFIX "\"node\":2,\"what\":3,\"a\":1}", "the field b is missing");
	refused("{\"v\":1,\"type\":\"hello\",\"node\":2,\"token\":\"\"}",
		"the field cluster is missing");
	refused("{\"v\":1,\"type\":\"hello\",\"node\":2,\"cluster\":7}", "token is missing");
	refused("{\"v\":1,\"type\":\"bye\"}", "reason is missing");
	refused(CMD_PREFIX "\"epoch\":1,\"node\":0,\"learner\":0,\"pause\":0}", "cmd is missing");
	refused(CMD_PREFIX "\"cmd\":\"fence\",\"node\":0,\"learner\":0,\"pause\":0}",
		"the field epoch is missing");
	refused(CMD_PREFIX "\"cmd\":\"set_policy\",\"epoch\":1,\"node\":0,\"learner\":0,"
			   "\"pause\":0}",
		"the field policy is missing");
}

/* A valid report line, with one part replaced by a caller's text. */
static void report_line(char *buf, size_t cap, const char *top, const char *st, const char *peer)
{
	snprintf(buf, cap,
		 "{\"v\":1,\"type\":\"report\",%s\"cluster_id\":7,\"seq\":1,\"may_lead\":true,"
		 "\"refetch_lsn\":0,\"data_addr\":\"10.0.0.2:7400\",\"stale_epoch\":0,"
		 "\"truncated_records\":0,\"retransmits\":0,\"client_busy\":0,"
		 "\"st\":{%s\"epoch\":3,\"leader\":1,\"last_lsn\":10,\"last_epoch\":3,"
		 "\"flushed_lsn\":10,\"applied_lsn\":9,\"commit_lsn\":9,\"degraded\":false,"
		 "\"paused\":false,\"lease_expired\":false,\"leader_age_ns\":1000,"
		 "\"policy\":\"all\",\"peers\":[{%s\"learner\":false,\"healthy\":true,"
		 "\"sync\":false,\"received_lsn\":1,\"flushed_lsn\":1,\"applied_lsn\":1,"
		 "\"lag_records\":0,\"lag_bytes\":0,\"lag_ns\":0,\"rto_ns\":5}]}}",
		 top, st, peer);
}

static void test_report_line_decodes(void **state)
{
	static char buf[4096];
	struct sl_ctl_msg m;

	(void)state;
	report_line(buf, sizeof(buf), "\"node\":2,\"extra\":[1,{\"x\":null}],",
		    "\"role\":\"follower\",\"future\":1,", "\"node\":3,\"more\":\"?\",");
	decode_ok(buf, &m);
	assert_int_equal(m.type, SL_CTL_MSG_REPORT);
	assert_int_equal(m.u.report.node, 2);
	assert_int_equal(m.u.report.cluster_id, 7);
	assert_true(m.u.report.may_lead);
	assert_string_equal(m.u.report.data_addr, "10.0.0.2:7400");
	assert_int_equal(m.u.report.st.role, SL_ROLE_FOLLOWER);
	assert_int_equal(m.u.report.st.epoch, 3);
	assert_int_equal(m.u.report.st.leader_age_ns, 1000);
	assert_int_equal(m.u.report.st.policy.kind, SL_POLICY_ALL);
	assert_int_equal(m.u.report.st.n_peers, 1);
	assert_int_equal(m.u.report.st.peers[0].node, 3);
	assert_int_equal(m.u.report.st.peers[0].rto_ns, 5);
	/* hello's cluster under the struct member's name as well */
	decode_ok("{\"v\":1,\"type\":\"hello\",\"node\":2,\"cluster_id\":9,\"token\":\"t\"}", &m);
	assert_int_equal(m.u.hello.cluster_id, 9);
	/* commands other than set_policy may leave the policy out */
	decode_ok(CMD_PREFIX "\"cmd\":\"renew\",\"epoch\":4,\"node\":0,\"learner\":0,\"pause\":0}",
		  &m);
	assert_int_equal(m.u.cmd.cmd, SL_CTL_RENEW);
	assert_int_equal(m.u.cmd.epoch, 4);
}

static void refused_report(const char *top, const char *st, const char *peer, const char *needle)
{
	static char buf[4096];

	report_line(buf, sizeof(buf), top, st, peer);
	refused(buf, needle);
}

/* Replaces the first old in buf (room for cap bytes) by new. */
static void subst(char *buf, size_t cap, const char *old, const char *new)
{
	char *at = strstr(buf, old);
	size_t lo = strlen(old), ln = strlen(new);

	assert_non_null(at);
	assert_true(strlen(buf) - lo + ln < cap);
	memmove(at + ln, at + lo, strlen(at + lo) + 1);
	memcpy(at, new, ln);
}

/* The valid report line with old replaced by new: refused, err says needle. */
static void refused_edit(const char *old, const char *new, const char *needle)
{
	static char buf[4096];

	report_line(buf, sizeof(buf), "\"node\":2,", "\"role\":\"follower\",", "\"node\":3,");
	subst(buf, sizeof(buf), old, new);
	refused(buf, needle);
}

static void test_refuse_report(void **state)
{
	const char *n2 = "\"node\":2,", *fol = "\"role\":\"follower\",", *p3 = "\"node\":3,";
	static char buf[8192];
	char *peers;

	(void)state;
	refused_report("", fol, p3, "report: the field node is missing");
	refused_report("\"node\":0,", fol, p3, "node must be from 1 to 64, not 0");
	refused_report("\"node\":65,", fol, p3, "node must be from 1 to 64, not 65");
	refused_report("\"node\":-1,", fol, p3, "node must be from 1 to 64, not -1");
	refused_report("\"node\":\"2\",", fol, p3, "node must be an integer, not a string");
	refused_report("\"node\":2.5,", fol, p3, "node must be an integer, not a real number");
	refused_report(n2, "", p3, "the field st.role is missing");
	refused_report(n2, "\"role\":\"boss\",", p3, "st.role must be fenced, follower");
	refused_report(n2, "\"role\":3,", p3, "st.role must be a string, not an integer");
	refused_report(n2, fol, "", "the field st.peers[0].node is missing");
	refused_report(n2, fol, "\"node\":65,", "st.peers[0].node must be from 1 to 64");
	refused_report(n2, fol, "\"node\":99999999999999999999,", "not JSON"); /* too big */
	refused_report("\"node\":2,\"cluster_id\":1,", fol, p3, "duplicate");
	refused_edit("\"cluster_id\":7", "\"cluster_id\":4294967296",
		     "cluster_id must be from 0 to 4294967295, not 4294967296");
	refused_edit("\"seq\":1", "\"seq\":9223372036854775808", "not JSON");
	refused_edit("\"epoch\":3", "\"epoch\":4294967296",
		     "st.epoch must be from 0 to 4294967295, not 4294967296");
	refused_edit("\"may_lead\":true", "\"may_lead\":1",
		     "may_lead must be true or false, not an integer");
	refused_edit("\"leader\":1,", "\"leader\":65,", "st.leader must be from 0 to 64, not 65");
	refused_edit("\"leader_age_ns\":1000", "\"leader_age_ns\":true",
		     "st.leader_age_ns must be an integer or null, not true");
	refused_edit("\"lease_expired\":false", "\"lease_expired\":null",
		     "st.lease_expired must be true or false, not null");
	refused_edit("\"policy\":\"all\"", "\"policy\":\"alL\"",
		     "st.policy is not a commit policy");
	refused_edit("\"st\":{", "\"st\":7,\"x\":{", "st must be an object, not an integer");
	refused_edit("\"data_addr\":\"10.0.0.2:7400\"",
		     "\"data_addr\":\"123456789012345678901234567890123456789012345678\"",
		     "data_addr is 48 bytes long, at most 47");
	refused_edit(",\"flushed_lsn\":10", "", "the field st.flushed_lsn is missing");
	refused_edit(",\"rto_ns\":5", "", "the field st.peers[0].rto_ns is missing");
	refused_edit("\"peers\":[{", "\"peers\":[7,{",
		     "st.peers[0] must be an object, not an integer");
	refused_edit("\"peers\":[{", "\"peers\":{\"a\":{", "not JSON");
	refused_edit("\"peers\":[", "\"peers\":{},\"x\":[",
		     "st.peers must be an array, not an object");
	/* 65 peers */
	report_line(buf, sizeof(buf), n2, fol, p3);
	peers = strstr(buf, "\"peers\":[") + 9;
	*peers = '\0';
	for (unsigned i = 0; i <= SL_NODE_MAX; i++)
		strcat(buf, i ? ",{}" : "{}");
	strcat(buf, "]}}");
	refused(buf, "st.peers has 65 entries, at most 64");
}

/*
 * The snapshot fields came after version 1: a report without them (an older agent) reads
 * as zeros, one with them reads them, and a bad value is refused like any other field.
 */
static void test_report_snapshot_fields(void **state)
{
	static char buf[4096];
	struct sl_ctl_msg m;

	(void)state;
	report_line(buf, sizeof(buf), "\"node\":2,", "\"role\":\"follower\",", "\"node\":3,");
	memset(&m, 0x5a, sizeof(m));
	decode_ok(buf, &m);
	assert_int_equal(m.u.report.snapshot_lsn, 0);
	assert_int_equal(m.u.report.wal_first_lsn, 0);
	assert_int_equal(m.u.report.snapshots_sent, 0);
	assert_int_equal(m.u.report.snapshots_installed, 0);
	subst(buf, sizeof(buf), "\"client_busy\":0,",
	      "\"client_busy\":0,\"snapshot_lsn\":800,\"wal_first_lsn\":801,"
	      "\"snapshots_sent\":3,\"snapshots_installed\":1,");
	decode_ok(buf, &m);
	assert_int_equal(m.u.report.snapshot_lsn, 800);
	assert_int_equal(m.u.report.wal_first_lsn, 801);
	assert_int_equal(m.u.report.snapshots_sent, 3);
	assert_int_equal(m.u.report.snapshots_installed, 1);
	/* Only some of them: the others are 0. */
	report_line(buf, sizeof(buf), "\"node\":2,\"wal_first_lsn\":5,", "\"role\":\"leader\",",
		    "\"node\":3,");
	decode_ok(buf, &m);
	assert_int_equal(m.u.report.wal_first_lsn, 5);
	assert_int_equal(m.u.report.snapshot_lsn, 0);
	refused_edit("\"client_busy\":0,", "\"client_busy\":0,\"snapshot_lsn\":\"800\",",
		     "snapshot_lsn must be an integer, not a string");
	refused_edit("\"client_busy\":0,", "\"client_busy\":0,\"wal_first_lsn\":-1,",
		     "wal_first_lsn must be from 0 to 9223372036854775807, not -1");
	refused_edit("\"client_busy\":0,", "\"client_busy\":0,\"snapshots_installed\":null,",
		     "snapshots_installed must be an integer, not null");
	refused_edit("\"client_busy\":0,",
		     "\"client_busy\":0,\"snapshots_sent\":1,\"snapshots_sent\":2,", "duplicate");
}

static void test_refuse_cmd_hello_note(void **state)
{
	(void)state;
	refused(CMD_PREFIX "\"cmd\":\"explode\",\"epoch\":1,\"node\":0,\"learner\":0,\"pause\":0}",
		"cmd must be promote, follow");
	refused(CMD_PREFIX "\"cmd\":\"Snapshot\",\"epoch\":1,\"node\":0,\"learner\":0,\"pause\":0}",
		"remove_peer or snapshot");
	refused(CMD_PREFIX "\"cmd\":\"snapshot\",\"node\":0,\"learner\":0,\"pause\":0}",
		"cmd: the field epoch is missing");
	refused(CMD_PREFIX "\"cmd\":\"follow\",\"epoch\":1,\"node\":0,\"learner\":0,\"pause\":0}",
		"follow needs a node from 1 to 64");
	refused(CMD_PREFIX "\"cmd\":\"set_learner\",\"epoch\":1,\"node\":0,\"learner\":1,"
			   "\"pause\":0}",
		"set_learner needs a node");
	refused(CMD_PREFIX "\"cmd\":\"follow\",\"epoch\":1,\"node\":65,\"learner\":0,\"pause\":0}",
		"node must be from 0 to 64, not 65");
	refused(CMD_PREFIX "\"cmd\":\"remove_peer\",\"epoch\":1,\"node\":0,\"learner\":0,"
			   "\"pause\":0}",
		"remove_peer needs a node");
	refused(CMD_PREFIX "\"cmd\":\"add_peer\",\"epoch\":1,\"node\":4,\"learner\":1,"
			   "\"pause\":0}",
		"addr");
	refused(CMD_PREFIX "\"cmd\":\"add_peer\",\"epoch\":1,\"node\":4,\"learner\":1,"
			   "\"pause\":0,\"addr\":\"\"}",
		"add_peer needs the node's addr");
	refused(CMD_PREFIX "\"cmd\":\"add_peer\",\"epoch\":1,\"node\":4,\"learner\":1,"
			   "\"pause\":0,\"addr\":7}",
		"addr must be a string");
	refused(CMD_PREFIX "\"cmd\":\"pause\",\"epoch\":1,\"node\":0,\"learner\":0,\"pause\":2}",
		"pause must be from 0 to 1, not 2");
	refused(CMD_PREFIX "\"cmd\":\"follow\",\"epoch\":1,\"node\":2,\"learner\":true,"
			   "\"pause\":0}",
		"learner must be an integer, not true");
	refused(CMD_PREFIX "\"cmd\":\"fence\",\"epoch\":-1,\"node\":0,\"learner\":0,\"pause\":0}",
		"epoch must be from 0 to 4294967295, not -1");
	refused(CMD_PREFIX "\"cmd\":\"set_policy\",\"epoch\":1,\"node\":0,\"learner\":0,"
			   "\"pause\":0,\"policy\":\"first 3 (n2, n3)\"}",
		"policy is not a commit policy");
	refused(CMD_PREFIX "\"cmd\":\"promote\",\"epoch\":1,\"node\":0,\"learner\":0,\"pause\":0,"
			   "\"policy\":7}",
		"policy must be a string, not an integer");
	refused("{\"v\":1,\"type\":\"hello\",\"node\":0,\"cluster\":7,\"token\":\"\"}",
		"hello: node must be from 1 to 64, not 0");
	refused("{\"v\":1,\"type\":\"hello\",\"node\":1,\"cluster\":-7,\"token\":\"\"}",
		"cluster must be from 0 to 4294967295, not -7");
	refused("{\"v\":1,\"type\":\"hello\",\"node\":1,\"cluster\":7,\"token\":null}",
		"token must be a string, not null");
	refused(NOTE_PREFIX "\"node\":2,\"what\":4294967296,\"a\":1,\"b\":2}",
		"what must be from 0 to 4294967295");
	refused(NOTE_PREFIX "\"node\":2,\"what\":3,\"a\":1,\"b\":false}",
		"b must be an integer, not false");
	refused("{\"v\":1,\"type\":\"bye\",\"reason\":[]}",
		"reason must be a string, not an array");
}

static void test_refuse_long_strings(void **state)
{
	static char buf[1024];

	(void)state;
	snprintf(buf, sizeof(buf),
		 "{\"v\":1,\"type\":\"hello\",\"node\":1,\"cluster\":7,"
		 "\"token\":\"%0128d\"}",
		 0);
	refused(buf, "token is 128 bytes long, at most 127");
	snprintf(buf, sizeof(buf), "{\"v\":1,\"type\":\"bye\",\"reason\":\"%0128d\"}", 0);
	refused(buf, "reason is 128 bytes long, at most 127");
}

/* What the decoder would refuse, the encoder does not write. */
static void test_encode_refusals(void **state)
{
	uint64_t rng = test_seed();
	struct sl_ctl_msg m, r;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL); /* type 0 */
	m.type = SL_CTL_MSG_BYE + 1;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m.type = SL_CTL_MSG_CMD;
	m.u.cmd.cmd = SL_CTL__MAX;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m.u.cmd.cmd = 0;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m.u.cmd.cmd = SL_CTL_FOLLOW; /* no leader named */
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m.u.cmd.node = 2;
	m.u.cmd.learner = 2;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m.u.cmd.learner = 1;
	m.u.cmd.policy.kind = 9; /* not a policy */
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m.u.cmd.policy.kind = SL_POLICY_ALL;
	m.u.cmd.cmd = SL_CTL_ADD_PEER; /* without its address */
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m.u.cmd.cmd = SL_CTL_FOLLOW;
	assert_true(sl_ctl_encode(&m, line, sizeof(line)) > 0);
	/* too small a buffer, and one that fits exactly (the line, newline, NUL) */
	assert_int_equal(sl_ctl_encode(&m, line, 10), -ENOSPC);
	assert_int_equal(sl_ctl_encode(&m, line, strlen(line)), -ENOSPC);
	assert_int_equal(sl_ctl_encode(&m, line, strlen(line) + 1), (int)strlen(line));

	memset(&m, 0, sizeof(m));
	m.type = SL_CTL_MSG_HELLO;
	m.u.hello.cluster_id = 1;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL); /* node 0 */
	m.u.hello.node = 1;
	memset(m.u.hello.token, 'a', sizeof(m.u.hello.token)); /* no NUL */
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	strcpy(m.u.hello.token, "\xc3(");
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL); /* not UTF-8 */

	fill_report(&r, &rng, 2);
	m = r;
	m.u.report.st.role = SL_ROLE_LEADER + 1;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m = r;
	m.u.report.st.n_peers = SL_NODE_MAX + 1;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m = r;
	m.u.report.st.peers[1].node = 0;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m = r;
	m.u.report.st.leader = SL_NODE_MAX + 1;
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m = r;
	m.u.report.st.commit_lsn = (uint64_t)INT64_MAX + 1; /* past what JSON carries here */
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m = r;
	m.u.report.st.policy.k = 1; /* "async" with a k */
	assert_int_equal(sl_ctl_encode(&m, line, sizeof(line)), -EINVAL);
	m = r;
	m.u.report.st.leader_age_ns = (uint64_t)INT64_MAX + 1; /* an age this old: none heard */
	assert_true(sl_ctl_encode(&m, line, sizeof(line)) > 0);
	decode_ok(line, &m);
	assert_true(m.u.report.st.leader_age_ns == UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_hello_note_bye),
		cmocka_unit_test(test_round_trip_report),
		cmocka_unit_test(test_report_fields_by_name),
		cmocka_unit_test(test_report_full_cluster),
		cmocka_unit_test(test_round_trip_every_command),
		cmocka_unit_test(test_encode_text),
		cmocka_unit_test(test_refuse_framing),
		cmocka_unit_test(test_refuse_header),
		cmocka_unit_test(test_refuse_missing_fields),
		cmocka_unit_test(test_report_line_decodes),
		cmocka_unit_test(test_refuse_report),
		cmocka_unit_test(test_report_snapshot_fields),
		cmocka_unit_test(test_refuse_cmd_hello_note),
		cmocka_unit_test(test_refuse_long_strings),
		cmocka_unit_test(test_encode_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
