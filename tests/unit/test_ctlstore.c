/* The controller's state store: codec round trips, every corrupt field refused, the file
 * store's atomic replace (the old state survives a save that fails at any step). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "ctltest.h"
#include "store.h"
#include "testutil.h"

#define RANDOM_STATES 500

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ctlstore.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Cluster 7 at epoch 5, node 2 leading, node 4 a learner. */
static void sample(struct ctl_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = 42;
	st->cluster_id = 7;
	st->epoch = 5;
	st->leader = 2;
	st->phase = CTL_PHASE_STEADY;
	st->preferred = 1;
	st->policy = policy_of("first 1 (2,3) level=flushed");
	st->prev_policy = policy_of("all");
	st->policy_lsn = 100;
	st->commit_seen = 200;
	st->n_members = 4;
	for (unsigned i = 0; i < 4; i++)
		st->members[i].id = (uint16_t)(i + 1);
	st->members[3].learner = true;
}

static void round_trip(const struct ctl_state *st)
{
	static char text[CTL_STATE_TEXT_MAX];
	char err[256];
	struct ctl_state back;
	size_t n = ctl_state_encode(st, text, sizeof(text));

	assert_true(n > 0 && n == strlen(text) && text[n - 1] == '\n');
	if (ctl_state_decode(text, n, &back, 0, err, sizeof(err)) != 0)
		fail_msg("%s\n%s", err, text);
	assert_true(ctl_state_equal(st, &back));
	assert_int_equal(ctl_state_encode(st, text, n), 0); /* no room for the NUL */
}

static void test_round_trip(void **state)
{
	static const char *const policies[] = { "all", "async", "any 2 (1,2,3)",
						"first 2 (3,1) level=applied durability=none",
						"all sync_timeout_ms=3600000" };
	uint64_t seed = test_seed();
	struct ctl_state st;

	(void)state;
	sample(&st);
	round_trip(&st);
	/* No failover under way: no old_leader key, so files from before it still check. */
	{
		static char text[CTL_STATE_TEXT_MAX];

		assert_true(ctl_state_encode(&st, text, sizeof(text)) > 0);
		assert_null(strstr(text, "old_leader"));
		st.old_leader = 2;
		assert_true(ctl_state_encode(&st, text, sizeof(text)) > 0);
		assert_non_null(strstr(text, "\"old_leader\": 2,"));
		round_trip(&st);
		st.old_leader = 0;
	}
	for (unsigned r = 0; r < RANDOM_STATES; r++) {
		memset(&st, 0, sizeof(st));
		st.cluster_id = (uint32_t)(test_rand(&seed) % UINT32_MAX) + 1;
		st.version = test_rand(&seed) >> 1;
		st.policy_lsn = test_rand(&seed) >> 1;
		st.commit_seen = test_rand(&seed) >> 1;
		st.n_members = (uint8_t)(3 + test_rand(&seed) % (SL_NODE_MAX - 2));
		for (unsigned i = 0; i < st.n_members; i++) {
			st.members[i].id = (uint16_t)(SL_NODE_MAX - i);
			st.members[i].learner = i > 2 && test_rand(&seed) % 2;
		}
		st.policy = policy_of(policies[test_rand(&seed) % 5]);
		st.prev_policy = policy_of(policies[test_rand(&seed) % 5]);
		st.preferred = (uint16_t)(test_rand(&seed) % (SL_NODE_MAX + 1));
		st.old_leader = (uint16_t)(test_rand(&seed) % (SL_NODE_MAX + 1));
		st.phase = (uint8_t)(test_rand(&seed) % 4);
		st.epoch = (uint32_t)(st.phase == CTL_PHASE_BOOT ? test_rand(&seed) % 2
								 : 1 + test_rand(&seed) % 1000);
		if (st.phase != CTL_PHASE_BOOT || st.epoch != 0)
			st.leader = st.members[test_rand(&seed) % 3].id;
		if (st.phase == CTL_PHASE_SWITCHOVER)
			st.target = st.members[st.leader == st.members[0].id].id;
		st.force = st.phase == CTL_PHASE_FAILOVER && test_rand(&seed) % 2;
		if (ctl_state_check(&st, NULL, 0) != 0)
			fail_msg("seed %llu, state %u: not consistent", (unsigned long long)seed,
				 r);
		round_trip(&st);
	}
}

/* The sample's file text, changed by edit() in its "state" object, decoded (no CRC). */
typedef void (*edit_fn)(json_t *file, json_t *st);

static int decode_edited(edit_fn edit, char *err, size_t err_len)
{
	static char text[CTL_STATE_TEXT_MAX];
	struct ctl_state st, out;
	json_t *file;
	char *dumped;
	int rc;

	sample(&st);
	assert_true(ctl_state_encode(&st, text, sizeof(text)) > 0);
	file = json_loads(text, 0, NULL);
	assert_non_null(file);
	edit(file, json_object_get(file, "state"));
	dumped = json_dumps(file, JSON_COMPACT);
	assert_non_null(dumped);
	rc = ctl_state_decode(dumped, strlen(dumped), &out, CTL_STATE_NO_CRC, err, err_len);
	free(dumped);
	json_decref(file);
	return rc;
}

#define EDIT(name, body)                           \
	static void name(json_t *file, json_t *st) \
	{                                          \
		(void)file;                        \
		(void)st;                          \
		body;                              \
	}

static json_t *member(json_t *st, size_t i)
{
	return json_array_get(json_object_get(st, "members"), i);
}

EDIT(e_none, )
EDIT(e_no_version, json_object_del(st, "version"))
EDIT(e_version_neg, json_object_set_new(st, "version", json_integer(-1)))
EDIT(e_version_str, json_object_set_new(st, "version", json_string("1")))
EDIT(e_cluster_zero, json_object_set_new(st, "cluster_id", json_integer(0)))
EDIT(e_cluster_big, json_object_set_new(st, "cluster_id", json_integer(1ll << 32)))
EDIT(e_epoch_real, json_object_set_new(st, "epoch", json_real(5.0)))
EDIT(e_epoch_big, json_object_set_new(st, "epoch", json_integer(1ll << 32)))
EDIT(e_leader_65, json_object_set_new(st, "leader", json_integer(65)))
EDIT(e_leader_absent, json_object_set_new(st, "leader", json_integer(9)))
EDIT(e_leader_learner, json_object_set_new(st, "leader", json_integer(4)))
EDIT(e_no_leader, json_object_set_new(st, "leader", json_integer(0)))
EDIT(e_phase_bad, json_object_set_new(st, "phase", json_string("steadyish")))
EDIT(e_phase_int, json_object_set_new(st, "phase", json_integer(1)))
EDIT(e_target_absent, json_object_set_new(st, "target", json_integer(9)))
EDIT(e_switch_no_target, json_object_set_new(st, "phase", json_string("switchover")))
EDIT(e_force_int, json_object_set_new(st, "force", json_integer(0)))
EDIT(e_preferred_big, json_object_set_new(st, "preferred", json_integer(65)))
EDIT(e_old_leader_big, json_object_set_new(st, "old_leader", json_integer(65)))
EDIT(e_policy_bad, json_object_set_new(st, "policy", json_string("first 9 (1)")))
EDIT(e_policy_null, json_object_set_new(st, "policy", json_null()))
EDIT(e_prev_missing, json_object_del(st, "prev_policy"))
EDIT(e_lsn_neg, json_object_set_new(st, "policy_lsn", json_integer(-5)))
EDIT(e_commit_str, json_object_set_new(st, "commit_seen", json_string("200")))
EDIT(e_members_obj, json_object_set_new(st, "members", json_object()))
EDIT(e_members_empty, json_object_set_new(st, "members", json_array()))
EDIT(e_member_dup, json_object_set_new(member(st, 1), "node", json_integer(1)))
EDIT(e_member_zero, json_object_set_new(member(st, 1), "node", json_integer(0)))
EDIT(e_member_learner_int, json_object_set_new(member(st, 1), "learner", json_integer(1)))
EDIT(e_member_extra, json_object_set_new(member(st, 1), "weight", json_integer(1)))
EDIT(e_member_not_obj, json_array_set_new(json_object_get(st, "members"), 0, json_integer(1)))
EDIT(e_all_learners,
     for (size_t i = 0; i < 4; i++) json_object_set_new(member(st, i), "learner", json_true()))
EDIT(e_state_extra, json_object_set_new(st, "term", json_integer(1)))
EDIT(e_file_extra, json_object_set_new(file, "comment", json_string("x")))
EDIT(e_format_2, json_object_set_new(file, "format", json_integer(2)))
EDIT(e_no_format, json_object_del(file, "format"))
EDIT(e_no_state, json_object_del(file, "state"))
EDIT(e_state_array, json_object_set_new(file, "state", json_array()))
EDIT(e_no_crc, json_object_del(file, "crc32c"))
EDIT(e_epoch0_leader, json_object_set_new(st, "epoch", json_integer(0)))

static void test_corrupt_fields(void **state)
{
	static const struct {
		edit_fn edit;
		const char *msg;
	} cases[] = {
		{ e_no_version, "version: missing" },
		{ e_version_neg, "version: out of range" },
		{ e_version_str, "version: not an integer" },
		{ e_cluster_zero, "cluster_id: 0" },
		{ e_cluster_big, "cluster_id: out of range" },
		{ e_epoch_real, "epoch: not an integer" },
		{ e_epoch_big, "epoch: out of range" },
		{ e_leader_65, "leader: out of range 0..64" },
		{ e_leader_absent, "leader: node 9 is not a non-learner member" },
		{ e_leader_learner, "leader: node 4 is not a non-learner member" },
		{ e_no_leader, "phase steady without a leader" },
		{ e_phase_bad, "phase: expected boot|steady|failover|switchover" },
		{ e_phase_int, "phase: expected" },
		{ e_target_absent, "target: node 9 is not a member" },
		{ e_switch_no_target, "switchover without a target" },
		{ e_force_int, "force: not true or false" },
		{ e_preferred_big, "preferred: out of range" },
		{ e_old_leader_big, "old_leader: out of range" },
		{ e_policy_bad, "policy: " },
		{ e_policy_null, "policy: not a string" },
		{ e_prev_missing, "prev_policy: missing" },
		{ e_lsn_neg, "policy_lsn: out of range" },
		{ e_commit_str, "commit_seen: not an integer" },
		{ e_members_obj, "members: not an array" },
		{ e_members_empty, "members: 1..64 members" },
		{ e_member_dup, "members: node 1 listed twice" },
		{ e_member_zero, "members: node id 0 out of range 1..64" },
		{ e_member_learner_int, "learner: not true or false" },
		{ e_member_extra, "members[]: unknown field \"weight\"" },
		{ e_member_not_obj, "members[0]: not an object" },
		{ e_all_learners, "every member is a learner" },
		{ e_state_extra, "state: unknown field \"term\"" },
		{ e_file_extra, "file: unknown field \"comment\"" },
		{ e_format_2, "format 2: this controller reads format 1" },
		{ e_no_format, "format: missing" },
		{ e_no_state, "state: missing" },
		{ e_state_array, "state: not an object" },
		{ e_no_crc, "crc32c: missing" },
		{ e_epoch0_leader, "epoch 0 has neither leader nor phase past boot" },
	};
	char err[256];

	(void)state;
	assert_int_equal(decode_edited(e_none, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(decode_edited(cases[i].edit, err, sizeof(err)), -EINVAL);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].msg);
	}
}

static void test_corrupt_text(void **state)
{
	static char text[CTL_STATE_TEXT_MAX];
	struct ctl_state st, out;
	char err[256], *p;
	size_t n;

	(void)state;
	sample(&st);
	n = ctl_state_encode(&st, text, sizeof(text));
	assert_true(n > 0);
	/* Every proper prefix is refused (a torn file), and so is every single flipped bit
	 * that still parses (the CRC). */
	for (size_t len = 0; len + 1 < n; len++)
		assert_int_equal(ctl_state_decode(text, len, &out, 0, NULL, 0), -EINVAL);
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			text[i] ^= (char)(1u << bit);
			if (ctl_state_decode(text, n, &out, 0, NULL, 0) == 0)
				/* Only a change of blanks keeps the same state. */
				assert_true(ctl_state_equal(&st, &out));
			text[i] ^= (char)(1u << bit);
		}
	}
	p = strstr(text, "\"epoch\": 5");
	assert_non_null(p);
	p[9] = '6';
	assert_int_equal(ctl_state_decode(text, n, &out, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "crc32c: "));
	assert_non_null(strstr(err, "changed or damaged"));
	assert_int_equal(ctl_state_decode(text, n, &out, CTL_STATE_NO_CRC, err, sizeof(err)), 0);
	assert_int_equal(out.epoch, 6);
	assert_int_equal(
		ctl_state_decode("{\"format\":1,\"format\":1}", 24, &out, 0, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "not JSON"));
	assert_int_equal(ctl_state_decode("[]", 2, &out, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(ctl_state_decode("\0", 1, &out, 0, err, sizeof(err)), -EINVAL);
	/* An inconsistent state is not encoded. */
	st.leader = 4;
	assert_int_equal(ctl_state_encode(&st, text, sizeof(text)), 0);
}

static void write_text(const char *path, const char *text, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
}

static void test_file_store(void **state)
{
	struct ctl_state st, next, out;
	char err[512], path[128], dir[96];
	struct ctl_store *s;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/store", tmpdir);
	assert_null(ctl_store_file_open(dir, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mkdir(dir, 0700), 0);
	s = ctl_store_file_open(dir, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->kind, "file");
	assert_int_equal(s->load(s, &out, err, sizeof(err)), -ENOENT);

	sample(&st);
	assert_int_equal(s->save(s, &st, err, sizeof(err)), 0);
	assert_int_equal(s->load(s, &out, err, sizeof(err)), 0);
	assert_true(ctl_state_equal(&st, &out));
	next = st;
	next.epoch = 6;
	next.version++;
	next.leader = 3;
	assert_int_equal(s->save(s, &next, err, sizeof(err)), 0);
	assert_int_equal(s->load(s, &out, err, sizeof(err)), 0);
	assert_true(ctl_state_equal(&next, &out));

	/* Inconsistent: refused, nothing written. */
	out = next;
	out.leader = 4;
	out.epoch = 99;
	assert_int_equal(s->save(s, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "state not saved: leader: node 4"));
	assert_int_equal(s->load(s, &out, err, sizeof(err)), 0);
	assert_true(ctl_state_equal(&next, &out));

	/* A corrupt file is an error naming the file, never a fresh state. */
	snprintf(path, sizeof(path), "%s/" CTL_STATE_FILE, dir);
	write_text(path, "{\"format\":1,", 12);
	assert_int_equal(s->load(s, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not JSON"));
	write_text(path, "", 0);
	assert_int_equal(s->load(s, &out, err, sizeof(err)), -EINVAL);
	s->close(s);
}

/* A save failing at each step leaves the previous state whole. */
static void test_atomic_replace(void **state)
{
	static const unsigned faults[] = { CTL_STORE_FAULT_WRITE, CTL_STORE_FAULT_FSYNC,
					   CTL_STORE_FAULT_RENAME };
	struct ctl_state st, next, out;
	char err[512], dir[96], tmp[160];
	struct ctl_store *s;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/atomic", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	s = ctl_store_file_open(dir, err, sizeof(err));
	assert_non_null(s);
	sample(&st);
	assert_int_equal(s->save(s, &st, err, sizeof(err)), 0);
	next = st;
	next.epoch = 77;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		ctl_store_file_fault(s, faults[i]);
		assert_int_equal(s->save(s, &next, err, sizeof(err)), -EIO);
		assert_non_null(strstr(err, "save failed"));
		assert_int_equal(s->load(s, &out, err, sizeof(err)), 0);
		assert_true(ctl_state_equal(&st, &out));
	}
	/* The temporary file cannot be made (a folder in its place): the same. */
	snprintf(tmp, sizeof(tmp), "%s/" CTL_STATE_FILE ".tmp", dir);
	unlink(tmp);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_true(s->save(s, &next, err, sizeof(err)) < 0);
	assert_int_equal(s->load(s, &out, err, sizeof(err)), 0);
	assert_true(ctl_state_equal(&st, &out));
	assert_int_equal(rmdir(tmp), 0);
	/* And the next save goes through. */
	assert_int_equal(s->save(s, &next, err, sizeof(err)), 0);
	assert_int_equal(s->load(s, &out, err, sizeof(err)), 0);
	assert_true(ctl_state_equal(&next, &out));
	assert_int_equal(access(tmp, F_OK), -1);
	s->close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_corrupt_fields),
		cmocka_unit_test(test_corrupt_text),   cmocka_unit_test(test_file_store),
		cmocka_unit_test(test_atomic_replace),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
