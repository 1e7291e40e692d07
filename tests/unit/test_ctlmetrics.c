/* The controller's metrics text (ctlmetrics.h), with ctlcore fed synthetic reports: exact
 * lines for a small cluster, label escaping, the shape of every line (what a Prometheus
 * server parses), a fresh cluster, the largest cluster and a buffer too small. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctlmetrics.h"
#include "ctltest.h"

#define CLUSTER 7
#define NOW_NS	5000000000ull
#define SEEN_NS 4000000000ull /* the reports: a second before NOW_NS */

struct fixture {
	struct ctl *ctl;
	void *mem;
	struct ctl_events *events;
	struct ctl_counters counters;
	struct ctl_metrics_src src;
	struct ctl_out out;
	char *text;
	int len;
};

/* A cluster of members (learners among them) in the state st_init leaves it. */
static struct fixture *fixture_new(const char *members, const char *learners,
				   void (*st_init)(struct ctl_state *))
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ctl_config cc;
	struct ctl_state st;
	struct ctlconf conf;
	char text[256], err[256];

	assert_non_null(f);
	snprintf(text, sizeof(text),
		 "[controller]\ncluster_id = %u\nmembers = %s\nlearners = %s\n"
		 "state_dir = /nonexistent\n",
		 CLUSTER, members, learners);
	ctlconf_default(&conf);
	if (ctlconf_load_string(&conf, text, err, sizeof(err)) != 0 ||
	    ctlconf_finish(&conf, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	ctlconf_fresh_state(&conf, &st);
	if (st_init != NULL)
		st_init(&st);
	ctlconf_core_config(&conf, &cc);
	f->mem = calloc(1, ctl_mem_size());
	f->ctl = ctl_init(f->mem, &cc, &st);
	assert_non_null(f->ctl);
	f->events = calloc(1, sizeof(*f->events));
	assert_non_null(f->events);
	assert_int_equal(ctl_events_open(f->events, NULL, NULL, err, sizeof(err)), 0);
	f->src = (struct ctl_metrics_src){ .ctl = f->ctl,
					   .counters = &f->counters,
					   .events = f->events,
					   .version = "9.9.9",
					   .now_ns = NOW_NS };
	f->text = malloc(CTL_METRICS_TEXT_MAX);
	assert_non_null(f->text);
	return f;
}

static void fixture_free(struct fixture *f)
{
	free(f->text);
	free(f->events);
	free(f->mem);
	free(f);
}

static void feed(struct fixture *f, const struct sl_node_report *r)
{
	struct ctl_input in = { .type = CTL_IN_REPORT, .now_ns = SEEN_NS, .u.report = r };

	ctl_step(f->ctl, &in, &f->out);
}

static void render(struct fixture *f)
{
	f->len = ctl_metrics_render(&f->src, f->text, CTL_METRICS_TEXT_MAX);
	assert_true(f->len > 0);
	assert_int_equal(strlen(f->text), (size_t)f->len);
}

/* The leader says it heard itself just now: its leader age renders as 0. */
static struct sl_node_report report(unsigned node, unsigned role, unsigned epoch, uint64_t lsn)
{
	struct sl_node_report r = ctltest_report(CLUSTER, node, role, epoch, lsn, 1500);

	if (role == SL_ROLE_LEADER)
		r.st.leader_age_ns = 0;
	return r;
}

/* line is one whole line of text. */
static void expect_line(const struct fixture *f, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = f->text; (p = strstr(p, line)) != NULL; p++)
		if ((p == f->text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("no line \"%s\" in:\n%s", line, f->text);
}

/* No line starts with prefix. */
static void expect_no_line(const struct fixture *f, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = f->text; (p = strstr(p, prefix)) != NULL; p += n)
		if (p == f->text || p[-1] == '\n')
			fail_msg("unexpected line \"%.*s\"", (int)strcspn(p, "\n"), p);
}

/* ---- the shape: what a Prometheus server's parser wants ------------------------------- */

static bool name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' ||
	       (!first && isdigit((unsigned char)c));
}

/* A metric or label name; returns its length (0: none). */
static size_t name_len(const char *p)
{
	size_t n = 0;

	while (name_char(p[n], n == 0))
		n++;
	return n;
}

/* {name="value",...}: returns its length, or fails. Escapes: \\ \" \n only. */
static size_t labels_len(const char *line, const char *p)
{
	const char *s = p;

	if (*p != '{')
		return 0;
	p++;
	while (*p != '}') {
		size_t n = name_len(p);

		if (n == 0 || p[n] != '=' || p[n + 1] != '"')
			fail_msg("a label name, = and a quote expected: %s", line);
		for (p += n + 2; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n')
				fail_msg("an unterminated label value: %s", line);
			if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
				fail_msg("an escape other than \\\\, \\\" or \\n: %s", line);
			p += *p == '\\';
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			fail_msg("a comma or } expected: %s", line);
	}
	return (size_t)(p + 1 - s);
}

/* An integer, a decimal, or +Inf, then the end of the line. */
static void check_value(const char *line, const char *p)
{
	size_t n = strspn(p, "0123456789");

	if (strcmp(p, "+Inf") == 0)
		return;
	if (n > 0 && p[n] == '.')
		n += 1 + strspn(p + n + 1, "0123456789");
	if (n == 0 || p[n] != '\0')
		fail_msg("a value expected: %s", line);
}

/*
 * Every line a # HELP, a # TYPE (gauge or counter) or "name{labels} value"; each family
 * once, HELP then TYPE then its samples; counters, and only they, end in _total. Returns
 * the number of samples.
 */
static unsigned check_shape(const char *text)
{
	char family[128] = "", key[132], line[1024], seen[8192] = " ";
	unsigned samples = 0;
	bool typed = false;

	assert_true(text[0] != '\0' && text[strlen(text) - 1] == '\n');
	for (const char *p = text; *p; p += strlen(line) + 1) {
		size_t n = strcspn(p, "\n"), k;

		assert_true(n > 0 && n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		if (strncmp(line, "# HELP ", 7) == 0) {
			k = name_len(line + 7);
			assert_true(k > 0 && k < sizeof(family) && line[7 + k] == ' ');
			snprintf(family, sizeof(family), "%.*s", (int)k, line + 7);
			assert_null(strchr(line, '\\'));
			snprintf(key, sizeof(key), " %s ", family);
			if (strstr(seen, key) != NULL)
				fail_msg("family %s twice", family);
			assert_true(strlen(seen) + strlen(key) < sizeof(seen));
			strcat(seen, key + 1); /* seen ends with a blank */
			typed = false;
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			const char *type = line + 7 + strlen(family) + 1;
			bool total = strlen(family) > 6 &&
				     strcmp(family + strlen(family) - 6, "_total") == 0;

			assert_true(family[0] && strncmp(line + 7, family, strlen(family)) == 0);
			if (strcmp(type, total ? "counter" : "gauge") != 0)
				fail_msg("%s: %s", family, line);
			typed = true;
		} else {
			k = name_len(line);
			if (!typed || k != strlen(family) || strncmp(line, family, k) != 0)
				fail_msg("a sample outside its family %s: %s", family, line);
			k += labels_len(line, line + k);
			if (line[k] != ' ')
				fail_msg("a blank before the value expected: %s", line);
			check_value(line, line + k + 1);
			samples++;
		}
	}
	return samples;
}

/* ---- a small cluster ------------------------------------------------------------------ */

/* Node 1 leads epoch 3 under first 1 (2,3); 2 and 3 follow; 4 is a learner never heard. */
static void steady(struct ctl_state *st)
{
	st->epoch = 3;
	st->leader = 1;
	st->phase = CTL_PHASE_STEADY;
	assert_int_equal(sl_policy_parse("first 1 (2,3)", 13, &st->policy, NULL, 0), 0);
	st->prev_policy = st->policy;
}

static struct fixture *small_cluster(void)
{
	struct fixture *f = fixture_new("1,2,3,4", "4", steady);
	struct sl_node_report r1 = report(1, SL_ROLE_LEADER, 3, 1000), r2, r3;

	r1.st.policy = ctl_state(f->ctl)->policy;
	r1.retransmits = 17;
	r1.client_busy = 2;
	r1.snapshot_lsn = 900;
	r1.wal_first_lsn = 901;
	r1.snapshots_sent = 3;
	r1.st.n_peers = 2;
	r1.st.peers[0] = (struct sl_peer_status){ .node = 2,
						  .healthy = true,
						  .sync = true,
						  .lag_records = 10,
						  .lag_bytes = 640,
						  .lag_ns = 250000 };
	r1.st.peers[1] = (struct sl_peer_status){ .node = 3,
						  .healthy = true,
						  .lag_records = 500,
						  .lag_bytes = 32000,
						  .lag_ns = 9000000000ull };
	r2 = report(2, SL_ROLE_FOLLOWER, 3, 990);
	r2.snapshot_lsn = 900;
	r2.wal_first_lsn = 700;
	r2.snapshots_installed = 1;
	r3 = report(3, SL_ROLE_FOLLOWER, 3, 500);
	r3.st.leader_age_ns = UINT64_MAX; /* no frame since it took its role */
	r3.stale_epoch = 4;
	feed(f, &r1);
	feed(f, &r2);
	feed(f, &r3);
	return f;
}

static void test_small_cluster(void **state)
{
	struct fixture *f = small_cluster();

	(void)state;
	f->counters.agents_connected = 3;
	f->counters.agent_conns = 5;
	f->counters.agent_lines_rejected = 2;
	f->counters.state_saves = 9;
	f->counters.admin_requests[CTL_ADMIN_OK] = 12;
	f->counters.admin_requests[CTL_ADMIN_UNAUTHORIZED] = 4;
	f->counters.admin_requests[CTL_ADMIN_REFUSED] = 1;
	ctl_events_add(f->events, 1, CTL_EV_FAILOVER_START, 1, 4, 0, "failover");
	ctl_events_add(f->events, 2, CTL_EV_FAILOVER_START, 2, 5, 0, "failover");
	ctl_events_add(f->events, 3, CTL_EV_PROMOTED, 2, 5, 990, "promoted");
	render(f);

	expect_line(f, "# HELP shiplog_epoch The highest epoch the controller handed out.");
	expect_line(f, "# TYPE shiplog_epoch gauge");
	expect_line(f, "shiplog_epoch 3");
	expect_line(f, "shiplog_leader 1");
	expect_line(f, "shiplog_controller_info{cluster=\"7\",version=\"9.9.9\"} 1");
	expect_line(f, "shiplog_phase{phase=\"boot\"} 0");
	expect_line(f, "shiplog_phase{phase=\"steady\"} 1");
	expect_line(f, "shiplog_phase{phase=\"failover\"} 0");
	expect_line(f, "shiplog_phase{phase=\"switchover\"} 0");
	expect_line(f, "shiplog_policy_info{policy=\"first 1 (n2,n3) level=flushed "
		       "durability=fsync sync_timeout_ms=0\"} 1");
	expect_line(f, "shiplog_policy_change_pending 0");
	expect_line(f, "shiplog_degraded 0");
	expect_line(f, "shiplog_members 4");

	/* Members: what each said of itself, the lag as the leader sees it. */
	expect_line(f, "shiplog_member_up{node=\"1\"} 1");
	expect_line(f, "shiplog_member_up{node=\"4\"} 0");
	expect_line(f, "shiplog_member_learner{node=\"3\"} 0");
	expect_line(f, "shiplog_member_learner{node=\"4\"} 1");
	expect_line(f, "shiplog_member_role{node=\"1\",role=\"leader\"} 1");
	expect_line(f, "shiplog_member_role{node=\"2\",role=\"follower\"} 1");
	expect_line(f, "shiplog_member_role{node=\"4\",role=\"unknown\"} 1");
	expect_line(f, "shiplog_member_info{node=\"2\",data_addr=\"10.77.0.2:7400\"} 1");
	expect_line(f, "shiplog_member_report_age_seconds{node=\"2\"} 1.000000000");
	expect_line(f, "shiplog_member_epoch{node=\"3\"} 3");
	expect_line(f, "shiplog_member_last_lsn{node=\"1\"} 1000");
	expect_line(f, "shiplog_member_commit_lsn{node=\"2\"} 990");
	expect_line(f, "shiplog_member_flushed_lsn{node=\"3\"} 500");
	expect_line(f, "shiplog_member_applied_lsn{node=\"2\"} 990");
	expect_line(f, "shiplog_member_lag_records{node=\"1\"} 0");
	expect_line(f, "shiplog_member_lag_records{node=\"2\"} 10");
	expect_line(f, "shiplog_member_lag_bytes{node=\"2\"} 640");
	expect_line(f, "shiplog_member_lag_seconds{node=\"2\"} 0.000250000");
	expect_line(f, "shiplog_member_lag_records{node=\"3\"} 500");
	expect_line(f, "shiplog_member_lag_seconds{node=\"3\"} 9.000000000");
	expect_line(f, "shiplog_member_leader_age_seconds{node=\"2\"} 0.000001500");
	expect_line(f, "shiplog_member_leader_age_seconds{node=\"3\"} +Inf");
	expect_line(f, "shiplog_member_may_lead{node=\"1\"} 1");
	expect_line(f, "shiplog_member_retransmits_total{node=\"1\"} 17");
	expect_line(f, "shiplog_member_client_busy_total{node=\"1\"} 2");
	expect_line(f, "shiplog_member_stale_epoch_total{node=\"3\"} 4");
	expect_line(f, "# TYPE shiplog_member_stale_epoch_total counter");
	/* Snapshots: n1 shipped them, n2 installed one, n3 has none (an older agent). */
	expect_line(f, "# TYPE shiplog_member_snapshot_lsn gauge");
	expect_line(f, "shiplog_member_snapshot_lsn{node=\"1\"} 900");
	expect_line(f, "shiplog_member_snapshot_lsn{node=\"3\"} 0");
	expect_line(f, "# TYPE shiplog_member_wal_first_lsn gauge");
	expect_line(f, "shiplog_member_wal_first_lsn{node=\"1\"} 901");
	expect_line(f, "shiplog_member_wal_first_lsn{node=\"2\"} 700");
	expect_line(f, "# TYPE shiplog_member_snapshots_sent_total counter");
	expect_line(f, "shiplog_member_snapshots_sent_total{node=\"1\"} 3");
	expect_line(f, "shiplog_member_snapshots_sent_total{node=\"2\"} 0");
	expect_line(f, "# TYPE shiplog_member_snapshots_installed_total counter");
	expect_line(f, "shiplog_member_snapshots_installed_total{node=\"2\"} 1");
	expect_no_line(f, "shiplog_member_wal_first_lsn{node=\"3\"}"); /* 0: not reported */
	expect_no_line(f, "shiplog_member_snapshot_lsn{node=\"4\"}");
	/* Left out, not 0: the leader has no leader age; node 4 never reported. */
	expect_no_line(f, "shiplog_member_leader_age_seconds{node=\"1\"}");
	expect_no_line(f, "shiplog_member_last_lsn{node=\"4\"}");
	expect_no_line(f, "shiplog_member_lag_records{node=\"4\"}");
	expect_no_line(f, "shiplog_member_info{node=\"4\"");

	/* The controller's counters. */
	expect_line(f, "shiplog_agents_connected 3");
	expect_line(f, "# TYPE shiplog_agents_connected gauge");
	expect_line(f, "shiplog_agent_connections_total 5");
	expect_line(f, "# TYPE shiplog_agent_connections_total counter");
	expect_line(f, "shiplog_agent_lines_rejected_total 2");
	expect_line(f, "shiplog_state_saves_total 9");
	expect_line(f, "shiplog_admin_requests_total{code=\"ok\"} 12");
	expect_line(f, "shiplog_admin_requests_total{code=\"unauthorized\"} 4");
	expect_line(f, "shiplog_admin_requests_total{code=\"refused\"} 1");
	expect_line(f, "shiplog_admin_requests_total{code=\"internal\"} 0");
	expect_line(f, "shiplog_events_total{kind=\"failover_start\"} 2");
	expect_line(f, "shiplog_events_total{kind=\"promoted\"} 1");
	expect_line(f, "shiplog_events_total{kind=\"switchover_start\"} 0");
	expect_line(f, "shiplog_events_total{kind=\"snapshot\"} 0");
	expect_line(f, "shiplog_event_write_errors_total 0");

	check_shape(f->text);
	fixture_free(f);
}

/* A policy change not yet committed, and a leader in async degradation. */
static void test_pending_policy(void **state)
{
	struct fixture *f = fixture_new("1,2,3", "", steady);
	struct sl_node_report r1 = report(1, SL_ROLE_LEADER, 3, 1000);
	struct ctl_input in = { .type = CTL_IN_ADMIN, .now_ns = SEEN_NS };

	(void)state;
	r1.st.degraded = true;
	r1.st.policy = ctl_state(f->ctl)->policy;
	feed(f, &r1);
	in.u.admin.op = CTL_OP_SET_POLICY;
	assert_int_equal(sl_policy_parse("async", 5, &in.u.admin.policy, NULL, 0), 0);
	assert_int_equal(ctl_step(f->ctl, &in, &f->out), 0);
	render(f);
	expect_line(f, "shiplog_policy_info{policy=\"async level=flushed durability=fsync "
		       "sync_timeout_ms=0\"} 1");
	expect_line(f, "shiplog_policy_change_pending 1");
	expect_line(f, "shiplog_degraded 1");
	check_shape(f->text);
	fixture_free(f);
}

/* ---- escaping ------------------------------------------------------------------------- */

static void test_escape(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(ctl_metrics_escape("a\\b\"c\nd", SIZE_MAX, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "a\\\\b\\\"c\\nd");
	/* Other control bytes and bytes past ASCII: the format is UTF-8, keep it ASCII. */
	assert_int_equal(ctl_metrics_escape("t\tx\xc3\xa9\x7f", SIZE_MAX, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "t?x???");
	/* len bounds a value that has no NUL (a report's data_addr[48]). */
	assert_int_equal(ctl_metrics_escape("abcdef", 3, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	/* Cut before an escape that would not fit: never half of one. */
	assert_int_equal(ctl_metrics_escape("ab\"", SIZE_MAX, buf, 4), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(ctl_metrics_escape("abc", SIZE_MAX, buf, 4), 3);
	assert_int_equal(ctl_metrics_escape("abc", SIZE_MAX, buf, 0), 0);
	assert_int_equal(ctl_metrics_escape("", SIZE_MAX, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

/* A node's data_addr is whatever its agent sent: escaped in the text, the line parses. */
static void test_escape_in_text(void **state)
{
	struct fixture *f = fixture_new("1,2,3", "", steady);
	struct sl_node_report r1 = report(1, SL_ROLE_LEADER, 3, 7),
			      r2 = report(2, SL_ROLE_FOLLOWER, 3, 7);

	(void)state;
	snprintf(r1.data_addr, sizeof(r1.data_addr), "a\\b\"c\nd}");
	memset(r2.data_addr, 'x', sizeof(r2.data_addr)); /* no NUL */
	feed(f, &r1);
	feed(f, &r2);
	render(f);
	expect_line(f, "shiplog_member_info{node=\"1\",data_addr=\"a\\\\b\\\"c\\nd}\"} 1");
	expect_line(f, "shiplog_member_info{node=\"2\",data_addr=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		       "xxxxxxxxxxxxxxxx\"} 1");
	check_shape(f->text);
	fixture_free(f);
}

/* ---- a fresh cluster, the largest one, a buffer too small ----------------------------- */

static void test_fresh(void **state)
{
	struct fixture *f = fixture_new("1,2,3", "", NULL);

	(void)state;
	f->src.events = NULL; /* no history: no event counters */
	render(f);
	expect_line(f, "shiplog_epoch 0");
	expect_line(f, "shiplog_leader 0");
	expect_line(f, "shiplog_phase{phase=\"boot\"} 1");
	expect_line(f, "shiplog_policy_info{policy=\"all level=flushed durability=fsync "
		       "sync_timeout_ms=0\"} 1");
	expect_line(f, "shiplog_member_up{node=\"3\"} 0");
	expect_line(f, "shiplog_member_role{node=\"1\",role=\"unknown\"} 1");
	expect_line(f, "# TYPE shiplog_member_last_lsn gauge"); /* a family without samples */
	expect_no_line(f, "shiplog_member_last_lsn{");
	expect_no_line(f, "shiplog_member_lag_records{");
	expect_no_line(f, "shiplog_events_total");
	assert_int_equal(check_shape(f->text), 41);
	fixture_free(f);
}

/* Every id a member (more than a configuration line holds: members added later), 64 a
 * learner. */
static void steady_64(struct ctl_state *st)
{
	steady(st);
	st->n_members = SL_NODE_MAX;
	for (unsigned i = 0; i < SL_NODE_MAX; i++)
		st->members[i] = (struct ctl_member){ .id = (uint16_t)(i + 1),
						      .learner = i + 1 == SL_NODE_MAX };
}

static void test_largest(void **state)
{
	struct sl_node_report r;
	struct fixture *f;

	(void)state;
	f = fixture_new("1,2,3", "", steady_64);
	for (unsigned id = 64; id >= 1; id--) {
		r = report(id, id == 1 ? SL_ROLE_LEADER : SL_ROLE_FOLLOWER, 3, UINT64_MAX - 1);
		memset(r.data_addr, '"', sizeof(r.data_addr)); /* every byte escaped */
		r.stale_epoch = r.truncated_records = r.retransmits = r.client_busy = UINT64_MAX;
		r.snapshot_lsn = r.wal_first_lsn = r.snapshots_sent = r.snapshots_installed =
			UINT64_MAX;
		r.st.leader_age_ns = UINT64_MAX - 1;
		if (id == 1) {
			r.st.policy = ctl_state(f->ctl)->policy;
			r.st.n_peers = 63;
			for (unsigned j = 0; j < 63; j++)
				r.st.peers[j] = (struct sl_peer_status){ .node = (uint16_t)(j + 2),
									 .lag_records = UINT64_MAX,
									 .lag_bytes = UINT64_MAX,
									 .lag_ns = UINT64_MAX - 1 };
		}
		feed(f, &r);
	}
	for (unsigned i = 0; i < CTL_ADMIN__CODES; i++)
		f->counters.admin_requests[i] = UINT64_MAX;
	render(f);
	expect_line(f, "shiplog_members 64");
	expect_line(f, "shiplog_member_lag_records{node=\"64\"} 18446744073709551615");
	expect_line(f, "shiplog_member_lag_seconds{node=\"64\"} 18446744073.709551614");
	check_shape(f->text);
	/* The page's bound holds with room to spare. */
	assert_true((size_t)f->len < CTL_METRICS_TEXT_MAX / 2);
	fixture_free(f);
}

static void test_too_small(void **state)
{
	struct fixture *f = small_cluster();
	char *buf;
	int n;

	(void)state;
	render(f);
	buf = malloc((size_t)f->len + 1);
	assert_non_null(buf);
	assert_int_equal(ctl_metrics_render(&f->src, buf, (size_t)f->len + 1), f->len);
	assert_memory_equal(buf, f->text, (size_t)f->len + 1);
	n = ctl_metrics_render(&f->src, buf, (size_t)f->len); /* no room for the NUL */
	assert_int_equal(n, -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(ctl_metrics_render(&f->src, buf, 100), -ENOSPC);
	assert_int_equal(ctl_metrics_render(&f->src, buf, 0), -ENOSPC);
	free(buf);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_cluster), cmocka_unit_test(test_pending_policy),
		cmocka_unit_test(test_escape),	      cmocka_unit_test(test_escape_in_text),
		cmocka_unit_test(test_fresh),	      cmocka_unit_test(test_largest),
		cmocka_unit_test(test_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
