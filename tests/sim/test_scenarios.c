/*
 * Key replication scenarios, scripted on the simulator with no random faults. Each test
 * drives a 3-node cluster, asserts on node state and on the text trace of what happened,
 * then heals the cluster and lets sim_finish() check every acknowledged write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core.h"
#include "sim.h"

#define MS 1000000ull

struct scenario {
	struct sim_opts o;
	struct sim_result r;
	struct sim *s;
	char *trace;
	size_t trace_len;
};

/* A 3-node cluster with a leader lease (0: off) and a client timeout (0: default). */
static void start_with(struct scenario *sc, const char *policy, unsigned clients, uint64_t lease_ns,
		       uint64_t client_timeout_ns)
{
	memset(sc, 0, sizeof(*sc));
	sc->o = (struct sim_opts){ .seed = 42,
				   .nodes = 3,
				   .faults = 0,
				   .clients = clients,
				   .lease_ns = lease_ns,
				   .client_timeout_ns = client_timeout_ns };
	assert_int_equal(sl_policy_parse(policy, strlen(policy), &sc->o.policy, NULL, 0), 0);
	sc->o.policy_given = true;
	sc->o.trace = open_memstream(&sc->trace, &sc->trace_len);
	assert_non_null(sc->o.trace);
	sc->s = sim_new(&sc->o, &sc->r);
	sim_run_for(sc->s, 5 * MS, clients > 0);
	assert_int_equal(sim_leader(sc->s), 1);
}

static void start(struct scenario *sc, const char *policy, unsigned clients)
{
	start_with(sc, policy, clients, 0, 0);
}

/* Heals, converges, checks the acknowledged writes; nothing may have been violated. */
static void finish(struct scenario *sc)
{
	sim_finish(sc->s);
	fclose(sc->o.trace);
	if (sc->r.violations && getenv("SIM_TRACE_DUMP")) { /* the trace of a failure */
		FILE *f = fopen(getenv("SIM_TRACE_DUMP"), "w");
		fwrite(sc->trace, 1, sc->trace_len, f);
		fclose(f);
	}
	if (sc->r.violations)
		fail_msg("violation: %s", sc->r.first_violation);
	assert_int_equal(sc->r.lost_writes, 0);
	free(sc->trace);
}

static bool traced(struct scenario *sc, const char *what)
{
	fflush(sc->o.trace);
	return strstr(sc->trace, what) != NULL;
}

static uint64_t commit_of(struct scenario *sc, unsigned id)
{
	struct sl_core_status st;

	sim_node_status(sc->s, id, &st);
	return st.commit_lsn;
}

static struct sl_client_req put_req(uint64_t client, uint64_t seq, const char *key, const char *val)
{
	return (struct sl_client_req){ .client_id = client,
				       .seq = seq,
				       .op = SL_OP_PUT,
				       .key_len = (uint16_t)strlen(key),
				       .val_len = (uint32_t)strlen(val) };
}

/* Policy all: kill the leader under load; the new leader has every acknowledged write. */
static void test_sync_failover_no_loss(void **state)
{
	struct scenario sc;

	(void)state;
	start(&sc, "all", 4);
	sim_run_for(sc.s, 50 * MS, true);
	assert_true(sc.r.acked_writes > 20);
	sim_crash(sc.s, 1);
	sim_run_for(sc.s, 60 * MS, true);
	assert_int_not_equal(sim_leader(sc.s), 1);
	assert_true(traced(&sc, "ctl: FAILOVER to n"));
	assert_true(commit_of(&sc, sim_leader(sc.s)) > 0);
	sim_restart(sc.s, 1);
	sim_run_for(sc.s, 20 * MS, true);
	finish(&sc);
}

/* The old leader, cut off, takes writes it cannot commit; on rejoin it truncates them. */
static void test_old_leader_rejoins_and_truncates(void **state)
{
	struct scenario sc;
	struct sl_core_status st;

	(void)state;
	start(&sc, "all", 4);
	sim_run_for(sc.s, 20 * MS, true);
	sim_isolate(sc.s, 1, true);
	sim_run_for(sc.s, 60 * MS, true);
	assert_int_not_equal(sim_leader(sc.s), 1);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_LEADER); /* still believes it leads epoch 1 */
	assert_true(st.last_lsn > st.commit_lsn);  /* with writes it could not commit */
	sim_isolate(sc.s, 1, false);
	sim_run_for(sc.s, 30 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_FOLLOWER);
	assert_true(traced(&sc, "n1 truncate after"));
	assert_true(sc.r.truncated > 0);
	finish(&sc);
}

/* first 1 (n2,n3): with n2 down, n3 becomes the sync standby and commits go on. */
static void test_semi_sync_follower_down(void **state)
{
	struct scenario sc;
	uint64_t before;

	(void)state;
	start(&sc, "first 1 (n2,n3)", 4);
	sim_run_for(sc.s, 20 * MS, true);
	sim_crash(sc.s, 2);
	sim_run_for(sc.s, 5 * MS, true);
	before = commit_of(&sc, 1);
	sim_run_for(sc.s, 30 * MS, true);
	assert_true(commit_of(&sc, 1) > before + 10);
	sim_restart(sc.s, 2);
	sim_run_for(sc.s, 20 * MS, true);
	finish(&sc);
}

/* async -> all at run time: the switch is a CONFIG record; under all a dead follower
 * stops commits, and they resume when it is back. */
static void test_policy_switch_at_runtime(void **state)
{
	struct scenario sc;
	struct sl_policy all = sl_policy_default();
	struct sl_core_status st;
	uint64_t stalled;

	(void)state;
	start(&sc, "async", 4);
	sim_run_for(sc.s, 10 * MS, true);
	sim_set_policy(sc.s, &all);
	sim_run_for(sc.s, 10 * MS, true);
	for (unsigned id = 1; id <= 3; id++) {
		sim_node_status(sc.s, id, &st);
		assert_int_equal(st.policy.kind, SL_POLICY_ALL); /* applied everywhere */
	}
	sim_crash(sc.s, 3);
	sim_run_for(sc.s, 5 * MS, true);
	stalled = commit_of(&sc, 1);
	sim_run_for(sc.s, 15 * MS, true);
	assert_int_equal(commit_of(&sc, 1), stalled);
	sim_restart(sc.s, 3);
	sim_run_for(sc.s, 30 * MS, true);
	assert_true(commit_of(&sc, 1) > stalled);
	finish(&sc);
}

/* A retry with the same (client_id, seq) gets the original token and applies once. */
static void test_duplicate_client_retry(void **state)
{
	struct scenario sc;
	struct sl_client_req req = put_req(77, 1, "kx", "first");
	struct sl_client_resp a, b;

	(void)state;
	start(&sc, "all", 0);
	assert_int_equal(sim_request(sc.s, 1, &req, "kx", "first", &a), 0);
	assert_int_equal(a.status, SL_ST_OK);
	assert_int_equal(sim_request(sc.s, 1, &req, "kx", "first", &b), 0);
	assert_int_equal(b.status, SL_ST_OK);
	assert_true(b.lsn == a.lsn);
	assert_int_equal(b.epoch, a.epoch);
	sim_run_for(sc.s, 5 * MS, false);
	for (unsigned id = 1; id <= 3; id++)
		assert_int_equal(sim_node_stats(sc.s, id)->client_dup, 1);
	/* A retry of an older request after a newer one changes nothing either. */
	req = put_req(77, 2, "kx", "second");
	assert_int_equal(sim_request(sc.s, 1, &req, "kx", "second", &a), 0);
	req = put_req(77, 1, "kx", "first");
	assert_int_equal(sim_request(sc.s, 1, &req, "kx", "first", &b), 0);
	sim_run_for(sc.s, 5 * MS, false);
	assert_true(sim_node_digest(sc.s, 2) == sim_node_digest(sc.s, 1));
	for (unsigned id = 1; id <= 3; id++)
		assert_int_equal(sim_node_stats(sc.s, id)->client_dup, 2);
	finish(&sc);
}

/* A follower down for longer than the ring holds is caught up from the leader's WAL. */
static void test_follower_catch_up_from_wal(void **state)
{
	struct scenario sc;
	struct sl_core_status st, down;

	(void)state;
	start(&sc, "first 1 (n2,n3)", 8);
	sim_node_status(sc.s, 3, &down);
	sim_crash(sc.s, 3);
	sim_run_for(sc.s, 300 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_true(st.last_lsn > down.last_lsn + 2 * 256); /* the ring holds 256 records */
	sim_restart(sc.s, 3);
	sim_run_for(sc.s, 100 * MS, true);
	assert_true(sim_node_stats(sc.s, 1)->wal_reads > 0);
	finish(&sc);
}

/* A learner gets the log but is not counted: under all, losing it stops nothing. */
static void test_learner_not_counted(void **state)
{
	struct scenario sc;
	struct sl_core_status st;
	uint64_t before;

	(void)state;
	start(&sc, "all", 4);
	sim_set_learner(sc.s, 3, true);
	sim_run_for(sc.s, 10 * MS, true);
	sim_node_status(sc.s, 3, &st);
	assert_int_equal(st.role, SL_ROLE_LEARNER);
	assert_true(st.applied_lsn > 0); /* it does receive and apply the log */
	sim_crash(sc.s, 3);
	sim_run_for(sc.s, 2 * MS, true);
	before = commit_of(&sc, 1);
	sim_run_for(sc.s, 20 * MS, true);
	/* Under all, a dead member would stop this. */
	assert_true(commit_of(&sc, 1) > before);
	sim_restart(sc.s, 3);
	sim_run_for(sc.s, 20 * MS, true);
	sim_node_status(sc.s, 3, &st);
	assert_int_equal(st.role, SL_ROLE_LEARNER);
	finish(&sc);
}

/* sync_timeout_ms: a dead sync follower degrades the leader to async, visibly, and the
 * leader recovers when the follower is back and caught up. */
static void test_sync_timeout_degrades_and_recovers(void **state)
{
	struct scenario sc;
	struct sl_core_status st;
	uint64_t before;

	(void)state;
	start(&sc, "all sync_timeout_ms=5", 4);
	sim_run_for(sc.s, 10 * MS, true);
	sim_crash(sc.s, 3);
	sim_run_for(sc.s, 10 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_true(st.degraded);
	assert_int_equal(sim_node_stats(sc.s, 1)->degraded_count, 1);
	assert_true(traced(&sc, "n1 notify 2 a=1"));
	before = commit_of(&sc, 1);
	sim_run_for(sc.s, 10 * MS, true);
	assert_true(commit_of(&sc, 1) > before); /* writes go on, at async durability */
	sim_restart(sc.s, 3);
	sim_run_for(sc.s, 30 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_false(st.degraded);
	assert_true(traced(&sc, "n1 notify 2 a=0"));
	finish(&sc);
}

/*
 * Check-quorum: the leader, cut off from the controller and its followers, steps down
 * within its lease (10 ms), before the controller's failure timeout (20 ms) lets anyone
 * else lead. It stays at its epoch; the followers are not disturbed by it.
 */
static void test_lease_isolated_leader_steps_down(void **state)
{
	struct scenario sc;
	struct sl_core_status st;

	(void)state;
	start_with(&sc, "any 1 (n2,n3)", 4, 10 * MS, 0);
	sim_run_for(sc.s, 20 * MS, true);
	sim_isolate(sc.s, 1, true);
	sim_run_for(sc.s, 9 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_LEADER); /* renewed a millisecond ago at most */
	sim_run_for(sc.s, 2 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_FENCED);
	assert_int_equal(st.epoch, 1);
	assert_int_equal(st.leader, 0);
	assert_true(st.lease_expired);
	assert_true(traced(&sc, "n1 notify 1 a=0 b=1"));
	assert_true(sim_node_stats(sc.s, 1)->lease_expired == 1);
	for (unsigned id = 2; id <= 3; id++) {
		sim_node_status(sc.s, id, &st);
		assert_int_equal(st.role, SL_ROLE_FOLLOWER);
		assert_int_equal(st.epoch, 1);
		assert_int_equal(st.leader, 1);
		assert_true(st.leader_age_ns >= 10 * MS); /* they lost it too */
		assert_true(st.leader_age_ns != UINT64_MAX);
	}
	assert_int_equal(sim_leader(sc.s), 1); /* the controller has not moved yet */
	assert_true(sc.r.failovers == 1);      /* the first election only */
	sim_run_for(sc.s, 20 * MS, true);
	assert_int_not_equal(sim_leader(sc.s), 1);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_FENCED); /* took no write since */
	sim_isolate(sc.s, 1, false);
	sim_run_for(sc.s, 30 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_FOLLOWER);
	assert_false(st.lease_expired);
	for (unsigned id = 2; id <= 3; id++)
		assert_true(sim_node_stats(sc.s, id)->lease_expired == 0);
	finish(&sc);
}

/* Either half of the lease keeps a leader: its followers, or the controller alone. */
static void test_lease_kept_by_followers_or_controller(void **state)
{
	struct scenario sc;
	struct sl_core_status st;
	uint64_t before;

	(void)state;
	start_with(&sc, "any 1 (n2,n3)", 4, 10 * MS, 0);
	sim_run_for(sc.s, 10 * MS, true);
	sim_ctl_cut(sc.s, 1, true); /* no RENEW, but both followers acknowledge */
	sim_run_for(sc.s, 15 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_LEADER);
	assert_false(st.lease_expired);
	sim_ctl_cut(sc.s, 1, false);
	sim_run_for(sc.s, 5 * MS, true);
	sim_isolate(sc.s, 2, true); /* no follower at all, but the controller renews */
	sim_isolate(sc.s, 3, true);
	sim_run_for(sc.s, 25 * MS, true);
	sim_node_status(sc.s, 1, &st);
	assert_int_equal(st.role, SL_ROLE_LEADER);
	assert_int_equal(sim_leader(sc.s), 1);
	sim_isolate(sc.s, 2, false);
	sim_isolate(sc.s, 3, false);
	before = commit_of(&sc, 1);
	sim_run_for(sc.s, 20 * MS, true);
	assert_true(commit_of(&sc, 1) > before);
	assert_true(sim_node_stats(sc.s, 1)->lease_expired == 0);
	assert_true(sc.r.failovers == 1);
	finish(&sc);
}

/* A write stuck without its quorum is answered TIMEOUT; once it commits, the client's
 * retry with the same (client_id, seq) gets OK and the original commit token. */
static void test_client_timeout_then_retry(void **state)
{
	struct scenario sc;
	struct sl_client_req req = put_req(78, 1, "kt", "late");
	struct sl_client_resp a, b;
	uint64_t stuck;

	(void)state;
	start_with(&sc, "all", 0, 0, 10 * MS);
	sim_crash(sc.s, 3);
	sim_run_for(sc.s, 2 * MS, false);
	assert_int_equal(sim_request(sc.s, 1, &req, "kt", "late", &a), 0);
	assert_int_equal(a.status, SL_ST_TIMEOUT);
	assert_true(sim_node_stats(sc.s, 1)->client_timeouts == 1);
	stuck = commit_of(&sc, 1);
	sim_restart(sc.s, 3);
	sim_run_for(sc.s, 20 * MS, false);
	assert_true(commit_of(&sc, 1) > stuck); /* it committed after all */
	assert_int_equal(sim_request(sc.s, 1, &req, "kt", "late", &b), 0);
	assert_int_equal(b.status, SL_ST_OK);
	assert_true(b.lsn == stuck + 1);
	assert_int_equal(b.epoch, 1);
	sim_run_for(sc.s, 5 * MS, false);
	for (unsigned id = 1; id <= 3; id++)
		assert_int_equal(sim_node_stats(sc.s, id)->client_dup, 1);
	finish(&sc);
}

/* rounds failovers under load: the leader killed, another leads, the old one restarts. */
static void kill_leaders(struct scenario *sc, unsigned rounds)
{
	for (unsigned round = 0; round < rounds; round++) {
		unsigned old = sim_leader(sc->s);

		sim_run_for(sc->s, 5 * MS, true);
		sim_crash(sc->s, old);
		sim_run_for(sc->s, 60 * MS, true);
		assert_int_not_equal(sim_leader(sc->s), old);
		sim_restart(sc->s, old);
		sim_run_for(sc->s, 20 * MS, true);
	}
}

/*
 * More failovers than a node remembers epochs (SL_EPOCH_HIST_MAX): the oldest epoch
 * starts drop out of the history while the killed leaders restart and catch up.
 */
static void test_history_outlived_by_failovers(void **state)
{
	struct scenario sc;
	struct sl_core_status st;

	(void)state;
	start(&sc, "first 1 (n2,n3)", 4);
	kill_leaders(&sc, SL_EPOCH_HIST_MAX + 8);
	sim_node_status(sc.s, sim_leader(sc.s), &st);
	assert_true(st.epoch > SL_EPOCH_HIST_MAX + 8);
	finish(&sc);
}

/*
 * A node away for more failovers than the epoch history holds (5 nodes, `any 2`, node 5
 * down for 40 failovers among the others) rejoins: the leader no longer knows the epoch
 * of the record where it ends, so it is sent the log from LSN 1 once, and is caught up
 * from there (it had livelocked: every later APPEND's prev was unknown again).
 */
static void test_node_away_past_history(void **state)
{
	struct scenario sc;
	struct sl_core_status st, lst;
	const char *policy = "any 2 (n1,n2,n3,n4,n5)";

	(void)state;
	memset(&sc, 0, sizeof(sc));
	sc.o = (struct sim_opts){ .seed = 42, .nodes = 5, .faults = 0, .clients = 4 };
	assert_int_equal(sl_policy_parse(policy, strlen(policy), &sc.o.policy, NULL, 0), 0);
	sc.o.policy_given = true;
	sc.o.trace = open_memstream(&sc.trace, &sc.trace_len);
	assert_non_null(sc.o.trace);
	sc.s = sim_new(&sc.o, &sc.r);
	sim_run_for(sc.s, 10 * MS, true);
	sim_crash(sc.s, 5);
	kill_leaders(&sc, SL_EPOCH_HIST_MAX + 8);
	sim_restart(sc.s, 5);
	sim_run_for(sc.s, 300 * MS, false);
	sim_node_status(sc.s, 5, &st);
	sim_node_status(sc.s, sim_leader(sc.s), &lst);
	assert_true(st.last_lsn == lst.last_lsn);
	assert_true(sim_node_stats(sc.s, 5)->history_resyncs >= 1);
	assert_true(sim_node_stats(sc.s, 5)->history_resyncs <= 3);
	finish(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_failover_no_loss),
		cmocka_unit_test(test_old_leader_rejoins_and_truncates),
		cmocka_unit_test(test_semi_sync_follower_down),
		cmocka_unit_test(test_policy_switch_at_runtime),
		cmocka_unit_test(test_duplicate_client_retry),
		cmocka_unit_test(test_follower_catch_up_from_wal),
		cmocka_unit_test(test_learner_not_counted),
		cmocka_unit_test(test_sync_timeout_degrades_and_recovers),
		cmocka_unit_test(test_lease_isolated_leader_steps_down),
		cmocka_unit_test(test_lease_kept_by_followers_or_controller),
		cmocka_unit_test(test_client_timeout_then_retry),
		cmocka_unit_test(test_history_outlived_by_failovers),
		cmocka_unit_test(test_node_away_past_history),
	};

	return cmocka_run_group_tests_name("scenarios", tests, NULL, NULL);
}
