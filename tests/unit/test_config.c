/* shiplogd's configuration: defaults, every key's refusals, round trips, cross-key checks. */
#include <ctype.h>
#include <errno.h>
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

#include "config.h"
#include "core.h"
#include "wal.h"

#include "testutil.h"

#define RANDOM_CONFIGS 2000
#define KEY_HEX	       "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210"

/* Every key, every section, nothing at its default. */
static const char full_text[] = "# a full configuration\n"
				"[node]\n"
				"id = 1\n"
				"data_dir = /var/lib/shiplog\n"
				"port = 0000:3b:00.0\n"
				"port = net_memif0,role=server\n"
				"ip = 10.0.0.1\n"
				"udp_port = 7401\n"
				"mtu = 9000\n"
				"idle = busy\n"
				"idle_sleep_us = 50\n"
				"lcores = 1\n"
				"mbufs = 65536\n"
				"\n"
				"[cluster]\n"
				"id = 42\n"
				"key = " KEY_HEX "\n"
				"epoch = 7\n"
				"role = leader\n"
				"leader = 1\n"
				"policy = first 1 (n2, n3) level=applied sync_timeout_ms=500\n"
				"durability = none\n"
				"peer = 2 10.0.0.2 02:00:00:00:00:02\n"
				"peer = 3 10.0.0.3 port=1 udp=7402\n"
				"peer = 4 10.0.1.4 02:00:00:00:00:04 port=1 udp=7500\n"
				"\n"
				"[wal]\n"
				"mode = dsync\n"
				"segment_mb = 128\n"
				"batch_kb = 512\n"
				"queue_records = 32768\n"
				"retention_mb = 4096\n"
				"\n"
				"[limits]\n"
				"key_max = 128\n"
				"val_max = 4096\n"
				"ring_records = 8192\n"
				"window_records = 2048\n"
				"kv_keys = 100000\n"
				"dedup_clients = 1000\n"
				"pending_reads = 64\n"
				"reorder_frames = 8\n"
				"\n"
				"[timing]\n"
				"heartbeat_ms = 2\n"
				"health_ms = 50\n"
				"rto_min_us = 500\n"
				"rto_max_ms = 100\n"
				"read_wait_ms = 20\n"
				"client_timeout_ms = 2000\n"
				"\n"
				"[control]\n"
				"report_ms = 50\n"
				"lease_ms = 0\n";

/* A node whose role comes from shiplog-controller: no static role or leader. */
static const char ctl_text[] = "[node]\n"
			       "id = 2\n"
			       "data_dir = /var/lib/shiplog\n"
			       "port = net_af_packet0\n"
			       "ip = 10.77.0.2\n"
			       "[cluster]\n"
			       "id = 7\n"
			       "policy = first 1 (n1, n3)\n"
			       "peer = 1 10.77.0.1\n"
			       "peer = 3 10.77.0.3\n"
			       "[control]\n"
			       "controller = 10.78.0.254:7410\n";

/* Each integer key with its range: the README's table, checked at both ends. */
static const struct {
	const char *section, *key;
	uint32_t lo, hi;
} int_keys[] = {
	{ "node", "id", 1, 64 },
	{ "node", "udp_port", 1, 65535 },
	{ "node", "mtu", 576, 9000 },
	{ "node", "idle_sleep_us", 1, 100000 },
	{ "node", "lcores", 1, 2 },
	{ "node", "mbufs", 0, 1u << 24 },
	{ "cluster", "id", 1, UINT32_MAX },
	{ "cluster", "epoch", 1, UINT32_MAX },
	{ "cluster", "leader", 1, 64 },
	{ "wal", "segment_mb", 1, 65536 },
	{ "wal", "batch_kb", 8, 65536 },
	{ "wal", "queue_records", 16, 1u << 24 },
	{ "wal", "retention_mb", 0, 1u << 24 },
	{ "limits", "key_max", 1, 65535 },
	{ "limits", "val_max", 256, 65536 },
	{ "limits", "ring_records", 16, 1u << 24 },
	{ "limits", "window_records", 1, 1u << 24 },
	{ "limits", "kv_keys", 1, 1u << 26 },
	{ "limits", "dedup_clients", 1, 1u << 24 },
	{ "limits", "pending_reads", 1, 1u << 20 },
	{ "limits", "reorder_frames", 0, 4096 },
	{ "timing", "heartbeat_ms", 1, 60000 },
	{ "timing", "health_ms", 1, 600000 },
	{ "timing", "rto_min_us", 1, 1000000 },
	{ "timing", "rto_max_ms", 1, 60000 },
	{ "timing", "read_wait_ms", 0, 60000 },
	{ "timing", "client_timeout_ms", 1, 3600000 },
	{ "control", "report_ms", 1, 999 },
	{ "control", "lease_ms", 0, 600000 },
};

static char tmp_dir[] = "/tmp/test_config.XXXXXX";
static char rt_context[64]; /* named by a failed round trip: the seed that made it */

static void err_is_one_line(const char *err, size_t cap)
{
	assert_non_null(memchr(err, '\0', cap));
	assert_int_not_equal(err[0], '\0');
	assert_null(strchr(err, '\n'));
}

static void expect_in(const char *what, const char *err, const char *needle)
{
	if (strstr(err, needle) == NULL)
		fail_msg("%s: error '%s' does not mention '%s'", what, err, needle);
}

static struct cfg load_ok(const char *text)
{
	struct cfg c;
	char err[CFG_ERR_MAX];

	cfg_default(&c);
	if (cfg_load_string(&c, text, err, sizeof(err)) != 0)
		fail_msg("refused: %s\n--\n%s", err, text);
	assert_string_equal(err, "");
	return c;
}

static struct cfg full(void)
{
	struct cfg c = load_ok(full_text);
	char err[CFG_ERR_MAX];

	if (cfg_check(&c, err, sizeof(err)) != 0)
		fail_msg("full config fails its check: %s", err);
	return c;
}

/* Refused with -EINVAL, *c untouched (seen bits included), err one line naming needle. */
static void load_fails(const char *text, const char *needle)
{
	struct cfg c, before;
	char err[CFG_ERR_MAX];
	int rc;

	cfg_default(&c);
	before = c;
	memset(err, 'x', sizeof(err));
	rc = cfg_load_string(&c, text, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("'%s' gave %d, expected -EINVAL", text, rc);
	err_is_one_line(err, sizeof(err));
	expect_in(text, err, needle);
	assert_memory_equal(&c, &before, sizeof(c));
}

/* In a [section] of its own after the full configuration. */
static void line_fails(const char *section, const char *line, const char *needle)
{
	char text[sizeof(full_text) + 512];

	snprintf(text, sizeof(text), "[%s]\n%s\n", section, line);
	load_fails(text, needle);
}

/* cfg_set on the full configuration: refused, nothing changed. */
static void set_fails(const char *section, const char *key, const char *value, const char *needle)
{
	struct cfg c = full(), before = c;
	char err[CFG_ERR_MAX], what[512];

	snprintf(what, sizeof(what), "%s.%s = '%s'", section, key, value);
	memset(err, 'x', sizeof(err));
	if (cfg_set(&c, section, key, value, err, sizeof(err)) != -EINVAL)
		fail_msg("%s accepted", what);
	err_is_one_line(err, sizeof(err));
	expect_in(what, err, needle);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void set_ok(struct cfg *c, const char *section, const char *key, const char *value)
{
	char err[CFG_ERR_MAX];

	if (cfg_set(c, section, key, value, err, sizeof(err)) != 0)
		fail_msg("%s.%s = '%s' refused: %s", section, key, value, err);
}

/* format, load onto defaults, compare; format again gives the same text. */
static void round_trip(const struct cfg *c)
{
	static char text[CFG_TEXT_MAX], again[CFG_TEXT_MAX];
	struct cfg d;
	char err[CFG_ERR_MAX];
	size_t n = cfg_format(c, text, sizeof(text));

	assert_true(n > 0 && n < sizeof(text));
	assert_int_equal(strlen(text), n);
	cfg_default(&d);
	if (cfg_load_string(&d, text, err, sizeof(err)) != 0)
		fail_msg("%sformatted text refused: %s\n--\n%s", rt_context, err, text);
	if (!cfg_equal(c, &d))
		fail_msg("%sround trip differs:\n%s", rt_context, text);
	assert_int_equal(cfg_format(&d, again, sizeof(again)), n);
	assert_string_equal(text, again);
}

static void check_fails(const struct cfg *c, const char *needle, char *err)
{
	memset(err, 'x', CFG_ERR_MAX);
	if (cfg_check(c, err, CFG_ERR_MAX) != -EINVAL)
		fail_msg("cfg_check accepted; wanted '%s'", needle);
	err_is_one_line(err, CFG_ERR_MAX);
	expect_in("cfg_check", err, needle);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* ---- defaults --------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct sl_policy pol = sl_policy_default();
	struct sl_wal_config w;
	struct cfg c;
	char err[CFG_ERR_MAX];

	(void)state;
	sl_wal_config_default(&w);
	memset(&c, 0xa5, sizeof(c));
	cfg_default(&c);
	assert_int_equal(c.node_id, 0);
	assert_int_equal(c.data_dir[0], '\0');
	assert_int_equal(c.n_ports, 0);
	assert_int_equal(c.ip, 0);
	assert_int_equal(c.udp_port, SL_UDP_PORT);
	assert_int_equal(c.mtu, 1500);
	assert_int_equal(c.idle, CFG_IDLE_SLEEP);
	assert_int_equal(c.idle_sleep_us, 100);
	assert_int_equal(c.lcores, 2);
	assert_int_equal(c.mbufs, 0);
	assert_int_equal(c.cluster_id, 0);
	assert_false(c.has_key);
	assert_int_equal(c.epoch, 1);
	assert_int_equal(c.role, SL_ROLE_FOLLOWER);
	assert_int_equal(c.leader, 0);
	assert_memory_equal(&c.policy, &pol, sizeof(pol));
	assert_int_equal(c.durability, CFG_DUR_POLICY);
	assert_int_equal(c.n_peers, 0);
	assert_int_equal(c.wal_mode, SL_WAL_DIRECT);
	assert_int_equal((uint64_t)c.segment_mb << 20, w.segment_bytes);
	assert_int_equal(c.batch_kb << 10, w.batch_bytes);
	assert_int_equal(c.queue_records, w.queue_records);
	assert_int_equal(c.retention_mb, 0);
	assert_int_equal(c.limits.key_max, SL_KEY_MAX_DEFAULT);
	assert_int_equal(c.limits.val_max, SL_VAL_MAX_DEFAULT);
	/* sl_core_config_default() (dataplane/core/core.c), in the config's units. */
	assert_int_equal(c.ring_records, 4096);
	assert_int_equal(c.window_records, 1024);
	assert_int_equal(c.kv_keys, 65536);
	assert_int_equal(c.dedup_clients, 4096);
	assert_int_equal(c.pending_reads, 256);
	assert_int_equal(c.reorder_frames, 16);
	assert_int_equal(c.heartbeat_ms, 1);
	assert_int_equal(c.health_ms, 20);
	assert_int_equal(c.rto_min_us, 200);
	assert_int_equal(c.rto_max_ms, 50);
	assert_int_equal(c.read_wait_ms, 10);
	assert_int_equal(c.client_timeout_ms, 1000);
	/* No controller: the static roles of [cluster], no lease. */
	assert_int_equal(c.ctl_ip, 0);
	assert_int_equal(c.ctl_port, 0);
	assert_int_equal(c.report_ms, 100);
	assert_int_equal(c.lease_ms, CFG_LEASE_DEFAULT);
	assert_int_equal(cfg_lease_ms(&c), 0);
	assert_int_equal(c.token_file[0], '\0');
	assert_int_equal(c.reserved_control[0] | c.reserved_control[1], 0);
	assert_int_equal(c.seen[0] | c.seen[1], 0);
	/* Padding and reserved bytes are zero: cfg_equal is a memcmp. */
	assert_int_equal(c.reserved_node[0] | c.reserved_node[1] | c.reserved_node[2], 0);
	/* Required keys stay required. */
	check_fails(&c, "node.id: required", err);
	/* An empty file and comments only change nothing. */
	struct cfg e = load_ok("");
	assert_memory_equal(&e, &c, sizeof(c));
	e = load_ok("# nothing\n; at all\n\n   \n");
	assert_memory_equal(&e, &c, sizeof(c));
	round_trip(&c);
}

/* ---- a full file -------------------------------------------------------------------------- */

static void test_full_file(void **state)
{
	struct cfg c = full();

	(void)state;
	assert_int_equal(c.node_id, 1);
	assert_string_equal(c.data_dir, "/var/lib/shiplog");
	assert_int_equal(c.n_ports, 2);
	assert_string_equal(c.ports[0], "0000:3b:00.0");
	assert_string_equal(c.ports[1], "net_memif0,role=server");
	assert_int_equal(c.ip, 0x0a000001);
	assert_int_equal(c.udp_port, 7401);
	assert_int_equal(c.mtu, 9000);
	assert_int_equal(c.idle, CFG_IDLE_BUSY);
	assert_int_equal(c.lcores, 1);
	assert_int_equal(c.cluster_id, 42);
	assert_true(c.has_key);
	assert_int_equal(c.key.bytes[0], 0x00);
	assert_int_equal(c.key.bytes[1], 0x11);
	assert_int_equal(c.key.bytes[31], 0x10);
	assert_int_equal(c.epoch, 7);
	assert_int_equal(c.role, SL_ROLE_LEADER);
	assert_int_equal(c.leader, 1);
	assert_int_equal(c.policy.kind, SL_POLICY_FIRST);
	assert_int_equal(c.policy.k, 1);
	assert_int_equal(c.policy.n_nodes, 2);
	assert_int_equal(c.policy.level, SL_LEVEL_APPLIED);
	assert_int_equal(c.policy.durability, SL_DUR_NONE);
	assert_int_equal(c.policy.sync_timeout_ms, 500);
	assert_int_equal(c.durability, SL_DUR_NONE);
	assert_int_equal(c.n_peers, 3);
	assert_int_equal(c.peers[0].id, 2);
	assert_int_equal(c.peers[0].ip, 0x0a000002);
	assert_true(c.peers[0].has_mac);
	assert_int_equal(c.peers[0].mac[5], 2);
	assert_int_equal(c.peers[0].port, 0);
	/* A peer's UDP port is SL_UDP_PORT unless its line says udp=, whatever ours is. */
	assert_int_equal(c.peers[0].udp_port, SL_UDP_PORT);
	assert_false(c.peers[1].has_mac);
	assert_int_equal(c.peers[1].port, 1);
	assert_int_equal(c.peers[1].udp_port, 7402);
	assert_int_equal(c.peers[2].udp_port, 7500);
	assert_int_equal(c.wal_mode, SL_WAL_DSYNC);
	assert_int_equal(c.segment_mb, 128);
	assert_int_equal(c.retention_mb, 4096);
	assert_int_equal(c.limits.key_max, 128);
	assert_int_equal(c.limits.val_max, 4096);
	assert_int_equal(c.reorder_frames, 8);
	assert_int_equal(c.rto_min_us, 500);
	assert_int_equal(c.client_timeout_ms, 2000);
	assert_int_equal(c.report_ms, 50);
	assert_int_equal(c.lease_ms, 0);
	assert_false(cfg_has_controller(&c));
	round_trip(&c);
}

static void test_format_cap(void **state)
{
	struct cfg c = full();
	char text[CFG_TEXT_MAX], small[CFG_TEXT_MAX];
	size_t n = cfg_format(&c, text, sizeof(text));

	(void)state;
	assert_true(n > 0);
	for (size_t cap = 0; cap <= n; cap++) {
		memset(small, 'x', sizeof(small));
		assert_int_equal(cfg_format(&c, small, cap), 0);
		if (cap > 0)
			assert_int_equal(small[0], '\0');
	}
	assert_int_equal(cfg_format(&c, small, n + 1), n);
	assert_string_equal(small, text);
	assert_int_equal(cfg_format(&c, NULL, 0), 0);
	/* The formatted key is the key: it reads back identically. */
	assert_non_null(strstr(text, "key = " KEY_HEX "\n"));
}

/* The largest configuration still fits CFG_TEXT_MAX, every line fits CFG_LINE_MAX. */
static void test_format_largest(void **state)
{
	static char text[CFG_TEXT_MAX];
	struct cfg c = full();
	char v[CFG_VALUE_MAX + 1], err[CFG_ERR_MAX];
	size_t n;

	(void)state;
	memset(v, 'd', CFG_VALUE_MAX);
	v[0] = '/';
	v[CFG_VALUE_MAX] = '\0';
	set_ok(&c, "node", "data_dir", v);
	memset(v, 'p', CFG_PORT_NAME_MAX - 1);
	v[CFG_PORT_NAME_MAX - 1] = '\0';
	set_ok(&c, "node", "port", v);
	set_ok(&c, "node", "port", v);
	c.n_peers = 0;
	for (unsigned id = 2; id <= SL_NODE_MAX; id++) {
		snprintf(v, sizeof(v), "%u 10.200.%u.%u aa:bb:cc:dd:ee:%02x port=3 udp=65535", id,
			 id, 250 - id, id);
		set_ok(&c, "cluster", "peer", v);
	}
	set_ok(&c, "cluster", "policy",
	       "first 16 (49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64) level=received "
	       "durability=fsync sync_timeout_ms=3600000");
	set_ok(&c, "cluster", "epoch", "4294967295");
	/* With the longest controller settings: roles then come from the controller. */
	c.leader = 0;
	set_ok(&c, "cluster", "role", "fenced");
	set_ok(&c, "control", "controller", "223.255.255.255:65535");
	set_ok(&c, "control", "report_ms", "999");
	set_ok(&c, "control", "lease_ms", "600000");
	memset(v, 't', CFG_VALUE_MAX);
	v[0] = '/';
	v[CFG_VALUE_MAX] = '\0';
	set_ok(&c, "control", "token_file", v);
	assert_int_equal(cfg_check(&c, err, sizeof(err)), 0);
	n = cfg_format(&c, text, sizeof(text));
	assert_true(n > 0 && n < CFG_TEXT_MAX);
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_true((size_t)(nl - line) <= CFG_LINE_MAX);
	}
	round_trip(&c);
}

/* Random values at random keys: whatever loads formats back to the same struct. */
static void test_round_trip_random(void **state)
{
	static const char *const enums[][6] = {
		{ "node", "idle", "busy", "sleep" },
		{ "cluster", "role", "fenced", "follower", "learner", "leader" },
		{ "wal", "mode", "buffered", "dsync", "direct" },
		{ "cluster", "durability", "none", "fsync" },
	};
	static const unsigned n_enum[] = { 2, 4, 3, 2 };
	uint64_t seed = test_seed(), s = seed;
	char v[64];

	(void)state;
	for (unsigned iter = 0; iter < RANDOM_CONFIGS; iter++) {
		struct cfg c = full();

		for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
			uint64_t span = (uint64_t)int_keys[i].hi - int_keys[i].lo + 1;

			if (test_rand(&s) % 2)
				continue;
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)(int_keys[i].lo + test_rand(&s) % span));
			set_ok(&c, int_keys[i].section, int_keys[i].key, v);
		}
		for (size_t i = 0; i < 4; i++)
			if (test_rand(&s) % 2)
				set_ok(&c, enums[i][0], enums[i][1],
				       enums[i][2 + test_rand(&s) % n_enum[i]]);
		snprintf(v, sizeof(v), "%u 10.1.%u.%u port=%u", (unsigned)(test_rand(&s) % 64 + 1),
			 (unsigned)(test_rand(&s) % 256), (unsigned)(test_rand(&s) % 254 + 1),
			 (unsigned)(test_rand(&s) % 4));
		set_ok(&c, "cluster", "peer", v);
		if (test_rand(&s) % 4 == 0) {
			c.has_key = false;
			memset(&c.key, 0, sizeof(c.key));
		}
		snprintf(rt_context, sizeof(rt_context),
			 "seed %llu iteration %u: ", (unsigned long long)seed, iter);
		round_trip(&c);
	}
	rt_context[0] = '\0';
}

/* ---- refusals, key by key ------------------------------------------------------------------- */

static void test_int_ranges(void **state)
{
	char v[32];

	(void)state;
	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
		const char *sec = int_keys[i].section, *key = int_keys[i].key;
		struct cfg c = full();

		snprintf(v, sizeof(v), "%u", int_keys[i].lo);
		set_ok(&c, sec, key, v);
		snprintf(v, sizeof(v), "%u", int_keys[i].hi);
		set_ok(&c, sec, key, v);
		if (int_keys[i].lo > 0) {
			snprintf(v, sizeof(v), "%u", int_keys[i].lo - 1);
			set_fails(sec, key, v, "out of range");
		}
		snprintf(v, sizeof(v), "%llu", (unsigned long long)int_keys[i].hi + 1);
		set_fails(sec, key, v, "out of range");
		set_fails(sec, key, "18446744073709551616", "out of range");
		set_fails(sec, key, "99999999999999999999999999", "out of range");
		set_fails(sec, key, "", "empty value");
		set_fails(sec, key, "abc", "not a decimal number");
		set_fails(sec, key, "-1", "not a decimal number");
		set_fails(sec, key, "+1", "not a decimal number");
		set_fails(sec, key, "0x10", "trailing characters");
		set_fails(sec, key, "12abc", "trailing characters");
		set_fails(sec, key, "1 2", "trailing characters");
		set_fails(sec, key, "1.0", "trailing characters");
	}
	/* From a file, with the key named and the value never quoted. */
	line_fails("node", "mtu = 1500 # one five hundred", "node.mtu: trailing characters");
	line_fails("node", "mtu = 575", "node.mtu: out of range 576..9000");
	line_fails("node", "lcores = 3", "node.lcores: out of range 1..2");
	line_fails("node", "id = 0", "node.id: out of range 1..64");
	line_fails("cluster", "id = 4294967296", "cluster.id: out of range");
	line_fails("node", "mtu =", "node.mtu: empty value");
	/* Leading zeros are still decimal; surrounding blanks are not part of the value. */
	struct cfg c = load_ok("[node]\nmtu = 01400\n");
	assert_int_equal(c.mtu, 1400);
	c = full();
	set_ok(&c, "node", "mtu", "  1600\t");
	assert_int_equal(c.mtu, 1600);
}

static void test_enums(void **state)
{
	(void)state;
	set_fails("node", "idle", "fast", "expected busy|sleep");
	set_fails("node", "idle", "Busy", "expected busy|sleep");
	set_fails("cluster", "role", "boss", "expected fenced|follower|learner|leader");
	set_fails("wal", "mode", "sync", "expected buffered|dsync|direct");
	set_fails("cluster", "durability", "always", "expected none|fsync");
	set_fails("cluster", "role", "", "expected");
	line_fails("wal", "mode = direct2", "wal.mode: expected buffered|dsync|direct");
}

static void test_ip(void **state)
{
	static const char *const bad[] = { "10.0.0",	"10.0.0.256", "1.2.3.4.5",
					   "::1",	"10.0.0.1 x", "ten",
					   "010.0.0.1", "10.0.0.-1",  "10.0.0.1/24" };
	static const char *const not_unicast[] = { "0.0.0.0",	     "0.1.2.3",	  "127.0.0.1",
						   "224.0.0.1",	     "239.1.1.1", "240.0.0.1",
						   "255.255.255.255" };
	struct cfg c = full();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		set_fails("node", "ip", bad[i], "node.ip: not an IPv4 address");
	for (size_t i = 0; i < sizeof(not_unicast) / sizeof(not_unicast[0]); i++)
		set_fails("node", "ip", not_unicast[i], "not a unicast IPv4 address");
	set_ok(&c, "node", "ip", "192.168.1.254");
	assert_int_equal(c.ip, 0xc0a801fe);
	set_fails("cluster", "peer", "5 10.0.0.256", "peer IP: not an IPv4 address");
	set_fails("cluster", "peer", "5 224.0.0.5", "peer IP: not a unicast");
}

static void test_peer(void **state)
{
	static const struct {
		const char *value, *needle;
	} bad[] = {
		{ "", "expected ID IP" },
		{ "5", "expected ID IP" },
		{ "x 10.0.0.5", "peer id: not a decimal number" },
		{ "0 10.0.0.5", "peer id: out of range 1..64" },
		{ "65 10.0.0.5", "peer id: out of range 1..64" },
		{ "5x 10.0.0.5", "peer id: trailing characters" },
		{ "5 10.0.0.5 port=4", "port=: out of range 0..3" },
		{ "5 10.0.0.5 port=", "port=: empty value" },
		{ "5 10.0.0.5 port=-1", "port=: not a decimal number" },
		{ "5 10.0.0.5 udp=0", "udp=: out of range 1..65535" },
		{ "5 10.0.0.5 udp=65536", "udp=: out of range 1..65535" },
		{ "5 10.0.0.5 port=1 port=1", "port= given twice" },
		{ "5 10.0.0.5 udp=1 udp=2", "udp= given twice" },
		{ "5 10.0.0.5 02:00:00:00:00:05 02:00:00:00:00:06", "MAC given twice" },
		{ "5 10.0.0.5 prot=1", "unknown field" },
		{ "5 10.0.0.5 02-00-00-00-00-05", "unknown field" },
		{ "5 10.0.0.5 a b c d", "too many fields" },
		{ "5 10.0.0.5 aa:bb:cc:dd:ee", "MAC: expected aa:bb:cc:dd:ee:ff" },
		{ "5 10.0.0.5 aa:bb:cc:dd:ee:fg", "MAC: expected" },
		{ "5 10.0.0.5 aa:bb:cc:dd:ee:ff:00", "MAC: expected" },
		{ "5 10.0.0.5 aa:bb:cc:dd:eeeff", "MAC: expected" },
		{ "5 10.0.0.5 aab:b:cc:dd:ee:ff", "MAC: expected" },
		{ "5 10.0.0.5 01:00:5e:00:00:01", "MAC: multicast" },
		{ "5 10.0.0.5 ff:ff:ff:ff:ff:ff", "MAC: multicast, broadcast" },
		{ "5 10.0.0.5 00:00:00:00:00:00", "or zero" },
	};
	struct cfg c = full();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		set_fails("cluster", "peer", bad[i].value, bad[i].needle);
	/* Fields after IP in any order, tabs between them, MAC in either case. */
	set_ok(&c, "cluster", "peer", "5\t10.0.0.5  udp=9 port=1 AA:bB:cc:DD:ee:F0");
	assert_int_equal(c.n_peers, 4);
	assert_int_equal(c.peers[3].id, 5);
	assert_int_equal(c.peers[3].udp_port, 9);
	assert_int_equal(c.peers[3].port, 1);
	assert_int_equal(c.peers[3].mac[0], 0xaa);
	assert_int_equal(c.peers[3].mac[5], 0xf0);
	/* A file names each peer once. */
	load_fails("[cluster]\npeer = 2 10.0.0.2\npeer = 3 10.0.0.3\npeer = 2 10.0.0.9\n",
		   "<text>:4: cluster.peer: peer 2 given twice");
	/* Port indexes are checked against CFG_PORTS_MAX here, n_ports in cfg_check. */
	c = load_ok("[cluster]\npeer = 2 10.0.0.2 port=3\n");
	assert_int_equal(c.peers[0].port, 3);
}

static void test_peers_max(void **state)
{
	struct cfg c;
	char v[64];

	(void)state;
	cfg_default(&c);
	for (unsigned id = 1; id <= SL_NODE_MAX; id++) {
		snprintf(v, sizeof(v), "%u 10.9.0.%u", id, id);
		set_ok(&c, "cluster", "peer", v);
	}
	assert_int_equal(c.n_peers, SL_NODE_MAX);
	/* Full: a new id is refused, a known id is still replaced. */
	struct cfg before = c;
	char err[CFG_ERR_MAX];
	assert_int_equal(cfg_set(&c, "cluster", "peer", "3 10.9.1.3", err, sizeof(err)), 0);
	assert_int_equal(c.peers[2].ip, 0x0a090103);
	c = before;
	assert_int_equal(cfg_set(&c, "cluster", "peer", "99 10.9.1.3", err, sizeof(err)), -EINVAL);
	expect_in("peer", err, "out of range");
}

static void test_strings(void **state)
{
	char v[CFG_VALUE_MAX + 2];
	struct cfg c = full();

	(void)state;
	set_fails("node", "data_dir", "var/lib/shiplog", "node.data_dir: not an absolute path");
	set_fails("node", "data_dir", "", "not an absolute path");
	memset(v, 'a', CFG_VALUE_MAX + 1);
	v[0] = '/';
	v[CFG_VALUE_MAX + 1] = '\0';
	set_fails("node", "data_dir", v, "value longer than 176 bytes");
	v[CFG_VALUE_MAX] = '\0';
	set_ok(&c, "node", "data_dir", v);
	set_ok(&c, "node", "data_dir", "/x"); /* a shorter one leaves no tail behind */
	assert_int_equal(c.data_dir[3], '\0');
	assert_int_equal(c.data_dir[CFG_VALUE_MAX - 1], '\0');
	set_ok(&c, "node", "data_dir", "/srv/ship log#1;x");
	round_trip(&c);
	set_fails("node", "data_dir", "/a\001b", "control character");
	set_fails("node", "data_dir", "/a\nb", "control character");
	set_fails("node", "data_dir", "/a\177b", "control character");
	set_ok(&c, "node", "data_dir", "/a\tb"); /* a tab inside a value is kept */
	round_trip(&c);
	/* What would read back as a comment cannot be written to a file. */
	set_fails("node", "data_dir", "/a ;b", "comment");
	set_fails("node", "port", ";x", "comment");
	set_fails("node", "port", "a b", "blank in a port name");
	set_fails("node", "port", "", "1..63 bytes");
	memset(v, 'p', CFG_PORT_NAME_MAX);
	v[CFG_PORT_NAME_MAX] = '\0';
	set_fails("node", "port", v, "1..63 bytes");
	set_ok(&c, "node", "port", "net_tap0");
	set_ok(&c, "node", "port", "net_tap1");
	assert_int_equal(c.n_ports, 4);
	struct cfg before = c;
	char err[CFG_ERR_MAX];
	assert_int_equal(cfg_set(&c, "node", "port", "net_tap2", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "node.port: more than 4 ports");
	assert_memory_equal(&c, &before, sizeof(c));
	load_fails("[node]\nport = a\nport = b\nport = c\nport = d\nport = e\n",
		   "<text>:6: node.port: more than 4 ports");
	/* Non-ASCII bytes are a name's business (UTF-8 paths). */
	set_ok(&c, "node", "data_dir", "/srv/\xc3\xa9t\xc3\xa9");
	round_trip(&c);
}

static void test_policy(void **state)
{
	struct cfg c = full();
	char err[CFG_ERR_MAX];

	(void)state;
	set_fails("cluster", "policy", "first 3 (2)", "cluster.policy: ");
	set_fails("cluster", "policy", "sometimes", "cluster.policy: ");
	/* The parser's own reason comes through. */
	assert_int_equal(cfg_set(&c, "cluster", "policy", "first 3 (2)", err, sizeof(err)),
			 -EINVAL);
	char perr[CFG_ERR_MAX];
	struct sl_policy p;
	assert_int_equal(sl_policy_parse("first 3 (2)", 11, &p, perr, sizeof(perr)), -EINVAL);
	expect_in("policy", err, perr);
	set_ok(&c, "cluster", "policy", "any 1 (n2,n3,n4) durability=fsync");
	assert_int_equal(c.policy.kind, SL_POLICY_ANY);
	/* The file's durability = none still decides. */
	assert_int_equal(c.policy.durability, SL_DUR_NONE);
}

/*
 * cluster.durability overrides the policy's durability whichever comes first, from a
 * file or the command line; without it, the policy's own durability counts.
 */
static void test_durability_order(void **state)
{
	static const char *const texts[] = {
		"[cluster]\ndurability = none\npolicy = all durability=fsync\n",
		"[cluster]\npolicy = all durability=fsync\ndurability = none\n",
	};
	struct cfg c;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		c = load_ok(texts[i]);
		assert_int_equal(c.durability, SL_DUR_NONE);
		assert_int_equal(c.policy.durability, SL_DUR_NONE);
		assert_int_equal(c.policy.kind, SL_POLICY_ALL);
		round_trip(&c);
		/* A policy from the command line keeps the file's durability. */
		assert_int_equal(
			cfg_set_option(&c, "cluster.policy", "async durability=fsync", NULL, 0), 0);
		assert_int_equal(c.policy.kind, SL_POLICY_ASYNC);
		assert_int_equal(c.policy.durability, SL_DUR_NONE);
	}
	c = load_ok("[cluster]\npolicy = all durability=none\n");
	assert_int_equal(c.durability, CFG_DUR_POLICY);
	assert_int_equal(c.policy.durability, SL_DUR_NONE);
	round_trip(&c);
	assert_int_equal(cfg_set_option(&c, "cluster.durability", "fsync", NULL, 0), 0);
	assert_int_equal(c.policy.durability, SL_DUR_FSYNC);
	round_trip(&c);
}

static void test_key(void **state)
{
	struct cfg c = full();
	char err[CFG_ERR_MAX], k[80];

	(void)state;
	set_fails("cluster", "key", "0011", "cluster.key: expected 64 hex digits");
	set_fails("cluster", "key", KEY_HEX "0", "expected 64 hex digits");
	memcpy(k, KEY_HEX, sizeof(KEY_HEX));
	k[63] = 'g';
	set_fails("cluster", "key", k, "expected 64 hex digits");
	memset(k, '0', 64);
	k[64] = '\0';
	set_fails("cluster", "key", k, "all-zero key");
	/* The key is never quoted, not even a wrong one, not even a part of it. */
	memcpy(k, KEY_HEX, sizeof(KEY_HEX));
	k[0] = 'z';
	assert_int_equal(cfg_set(&c, "cluster", "key", k, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "1122334455"));
	assert_int_equal(cfg_set(&c, "cluster", "id", KEY_HEX, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "1122334455"));
	assert_int_equal(cfg_set(&c, "cluster", "kye", KEY_HEX, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "1122334455"));
	/* Upper case reads the same. */
	struct cfg d = full(), want = full();
	for (size_t i = 0; i < 64; i++)
		k[i] = (char)toupper((unsigned char)KEY_HEX[i]);
	k[64] = '\0';
	set_ok(&d, "cluster", "key", k);
	assert_memory_equal(&d.key, &want.key, sizeof(d.key));
}

static void test_key_file(void **state)
{
	char path[256], dir[256], fifo[256], err[CFG_ERR_MAX], big[CFG_KEY_FILE_MAX + 8];
	struct cfg c = full(), want = full();

	(void)state;
	snprintf(path, sizeof(path), "%s/key", tmp_dir);
	write_file(path, KEY_HEX "\n  \t\n", sizeof(KEY_HEX) + 4);
	c.has_key = false;
	memset(&c.key, 0, sizeof(c.key));
	set_ok(&c, "cluster", "key_file", path);
	assert_true(c.has_key);
	assert_memory_equal(&c.key, &want.key, sizeof(c.key));
	/* A file with the key reads back as the key itself. */
	round_trip(&c);

	snprintf(path, sizeof(path), "%s/missing", tmp_dir);
	set_fails("cluster", "key_file", path, "cluster.key_file: cannot open: No such file");
	snprintf(path, sizeof(path), "%s/short", tmp_dir);
	write_file(path, KEY_HEX, 63);
	set_fails("cluster", "key_file", path, "cluster.key_file: expected 64 hex digits");
	assert_int_equal(cfg_set(&c, "cluster", "key_file", path, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "1122334455"));
	snprintf(path, sizeof(path), "%s/lead", tmp_dir);
	write_file(path, " " KEY_HEX, 65);
	set_fails("cluster", "key_file", path, "expected 64 hex digits");
	snprintf(path, sizeof(path), "%s/empty", tmp_dir);
	write_file(path, "", 0);
	set_fails("cluster", "key_file", path, "expected 64 hex digits");
	snprintf(path, sizeof(path), "%s/big", tmp_dir);
	memset(big, ' ', sizeof(big));
	memcpy(big, KEY_HEX, 64);
	write_file(path, big, CFG_KEY_FILE_MAX + 1);
	set_fails("cluster", "key_file", path, "larger than 4096 bytes");
	write_file(path, big, CFG_KEY_FILE_MAX); /* 4 KiB of which the rest is blank: fine */
	set_ok(&c, "cluster", "key_file", path);
	snprintf(dir, sizeof(dir), "%s", tmp_dir);
	set_fails("cluster", "key_file", dir, "not a regular file");
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp_dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	set_fails("cluster", "key_file", fifo, "not a regular file"); /* and does not block */
	/* key and key_file are one setting: a file gives only one of them. */
	snprintf(path, sizeof(path), "%s/key", tmp_dir);
	snprintf(big, sizeof(big), "[cluster]\nkey = %s\nkey_file = %s\n", KEY_HEX, path);
	load_fails(big, "<text>:3: cluster.key_file: set twice (key and key_file are one setting)");
	snprintf(big, sizeof(big), "[cluster]\nkey_file = %s\nkey = %s\n", path, KEY_HEX);
	load_fails(big, "<text>:3: cluster.key: set twice (key and key_file are one setting)");
}

/* ---- file structure ------------------------------------------------------------------------ */

static void test_unknown(void **state)
{
	struct cfg c = full(), before = c;
	char err[CFG_ERR_MAX];

	(void)state;
	load_fails("[wall]\nmode = direct\n", "<text>:1: [wall]: unknown section");
	load_fails("[node]\nid = 1\n[bogus]\n", "<text>:3: [bogus]: unknown section");
	load_fails("[ node ]\n", "[ node ]: unknown section");
	load_fails("[nodenodenodenodenodenodenodenodenode]\n",
		   "<text>:1: [nodenodenodenodenodenodenodenode...]: unknown section");
	load_fails("[node]\nidd = 1\n", "<text>:2: node.idd: unknown key");
	load_fails("[node]\ndata dir = /x\n", "node.data dir: unknown key");
	load_fails("id = 1\n", "<text>:1: id: key outside any [section]");
	load_fails("[node]\n= 1\n", "node.: unknown key");
	assert_int_equal(cfg_set(&c, "nodes", "id", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "nodes.id: unknown section");
	assert_int_equal(cfg_set(&c, "node", "ids", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "node.ids: unknown key");
	/* A name is quoted bounded and printable. */
	assert_int_equal(cfg_set(&c, "node", "x\001yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", "1",
				 err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "node.x?yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...: unknown key");
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_syntax(void **state)
{
	char line[CFG_LINE_MAX + 16], text[CFG_LINE_MAX + 64];
	struct cfg c;

	(void)state;
	load_fails("[node]\nid 1\n", "<text>:2: expected 'key = value' or '[section]'");
	load_fails("[node]\nid ;= 1\n", "<text>:2: expected 'key = value'");
	load_fails("[node\n", "<text>:1: '[' without ']'");
	load_fails("[node ;]\n", "'[' without ']'");
	load_fails("[node] id = 1\n", "<text>:1: text after [section]");
	/* An indented line is a line of its own, never the continuation of a value. */
	load_fails("[node]\nid = 1\n    2\n", "<text>:3: expected 'key = value'");
	c = load_ok("[node]\n  id = 3\n\tmtu = 1400\n");
	assert_int_equal(c.node_id, 3);
	assert_int_equal(c.mtu, 1400);
	/* Comments: whole lines, " ;" after a value, after a section. */
	c = load_ok("; one\n# two\n[node] ; three\n[node] # four\nmtu = 1400 ; five\n"
		    "mbufs: 12 ;six\n");
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(c.mbufs, 12);
	load_fails("[node]\nmtu = 1400;five\n", "trailing characters");
	/* CRLF, a byte order mark. */
	c = load_ok("\xef\xbb\xbf[node]\r\nmtu = 1280\r\n");
	assert_int_equal(c.mtu, 1280);
	/* The longest line is CFG_LINE_MAX bytes, newline not counted. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "mtu = 1400", 10);
	line[CFG_LINE_MAX] = '\0';
	snprintf(text, sizeof(text), "[node]\n%s\n", line);
	c = load_ok(text);
	assert_int_equal(c.mtu, 1400);
	line[CFG_LINE_MAX] = ' ';
	line[CFG_LINE_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "[node]\n%s\n", line);
	load_fails(text, "<text>:2: line longer than 198 bytes");
	snprintf(text, sizeof(text), "# x\n%s", line); /* no newline at the end */
	load_fails(text, "<text>:2: line longer than 198 bytes");
	/* Lines after an error are not applied: the struct is unchanged, seen included. */
	load_fails("[node]\nid = 2\nmtu = 0\nlcores = 1\n", "<text>:3: node.mtu: out of range");
}

static void test_set_twice(void **state)
{
	struct cfg c;
	char err[CFG_ERR_MAX];

	(void)state;
	load_fails("[node]\nid = 1\nid = 1\n", "<text>:3: node.id: set twice");
	load_fails("[node]\nid = 1\n[cluster]\nid = 2\n[node]\nid = 2\n",
		   "<text>:6: node.id: set twice");
	load_fails("[cluster]\npolicy = all\npolicy = async\n", "cluster.policy: set twice");
	load_fails("[cluster]\ndurability = none\ndurability = none\n",
		   "cluster.durability: set twice");
	/* Repeatable keys repeat. */
	c = load_ok("[node]\nport = a\nport = b\n[cluster]\npeer = 2 10.0.0.2\n"
		    "peer = 3 10.0.0.3\n");
	assert_int_equal(c.n_ports, 2);
	assert_int_equal(c.n_peers, 2);
	/* A second file setting the same key repeats it too. */
	c = load_ok("[node]\nid = 1\n");
	assert_int_equal(cfg_load_string(&c, "[node]\nmtu = 1400\n", err, sizeof(err)), 0);
	assert_int_equal(cfg_load_string(&c, "[node]\nid = 2\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "<text>:2: node.id: set twice");
	assert_int_equal(c.node_id, 1);
	assert_int_equal(c.mtu, 1400);
}

/* ---- cfg_set, cfg_set_option ---------------------------------------------------------------- */

static void test_set_unchanged(void **state)
{
	struct cfg c = full(), before = c;
	char err[CFG_ERR_MAX];

	(void)state;
	/* Refusals after part of the value was parsed. */
	assert_int_equal(
		cfg_set(&c, "cluster", "peer", "9 10.0.0.9 port=1 udp=0", err, sizeof(err)),
		-EINVAL);
	assert_int_equal(
		cfg_set(&c, "cluster", "policy", "first 1 (2) level=nope", err, sizeof(err)),
		-EINVAL);
	assert_int_equal(cfg_set(&c, "cluster", "key", KEY_HEX "00", err, sizeof(err)), -EINVAL);
	assert_int_equal(cfg_set(&c, "node", "port", "x y", err, sizeof(err)), -EINVAL);
	assert_int_equal(cfg_set(&c, "node", NULL, "1", err, sizeof(err)), -EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	/* Success clears err. */
	assert_int_equal(cfg_set(&c, "node", "mtu", "1500", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	/* cfg_set neither checks nor marks seen. */
	assert_memory_equal(c.seen, before.seen, sizeof(c.seen));
}

static void test_set_option(void **state)
{
	struct cfg c = full();
	char err[CFG_ERR_MAX];

	(void)state;
	/* The command line overrides what the file set: not "set twice". */
	assert_int_equal(cfg_set_option(&c, "node.mtu", "1500", err, sizeof(err)), 0);
	assert_int_equal(c.mtu, 1500);
	assert_int_equal(cfg_set_option(&c, "node.mtu", "1400", err, sizeof(err)), 0);
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(cfg_set_option(&c, "node-id", "9", err, sizeof(err)), 0);
	assert_int_equal(c.node_id, 9);
	assert_int_equal(cfg_set_option(&c, "data-dir", "/tmp/x", err, sizeof(err)), 0);
	assert_string_equal(c.data_dir, "/tmp/x");
	assert_int_equal(cfg_set_option(&c, "idle", "sleep", err, sizeof(err)), 0);
	assert_int_equal(c.idle, CFG_IDLE_SLEEP);
	assert_int_equal(cfg_set_option(&c, "timing.rto_max_ms", "7", err, sizeof(err)), 0);
	assert_int_equal(c.rto_max_ms, 7);
	/* A peer override replaces the peer it names; a port adds one. */
	assert_int_equal(cfg_set_option(&c, "cluster.peer", "3 10.0.0.33", err, sizeof(err)), 0);
	assert_int_equal(c.n_peers, 3);
	assert_int_equal(c.peers[1].ip, 0x0a000021);
	assert_int_equal(c.peers[1].port, 0);
	assert_int_equal(cfg_set_option(&c, "node.port", "net_tap0", err, sizeof(err)), 0);
	assert_int_equal(c.n_ports, 3);
	/* Errors name the key as in the file. */
	assert_int_equal(cfg_set_option(&c, "node-id", "0", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "node.id: out of range 1..64");
	assert_int_equal(cfg_set_option(&c, "idle", "nap", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "node.idle: expected busy|sleep");
	assert_int_equal(cfg_set_option(&c, "nodeid", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "nodeid: unknown option (expected section.key)");
	assert_int_equal(cfg_set_option(&c, "--node.id", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--node.id: unknown section");
	assert_int_equal(cfg_set_option(&c, "averyveryverylongsection.id", "1", err, sizeof(err)),
			 -EINVAL);
	expect_in("long", err, "unknown option");
	assert_int_equal(cfg_set_option(&c, "node.", "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "node.: unknown key");
	assert_int_equal(cfg_set_option(&c, NULL, "1", err, sizeof(err)), -EINVAL);
	assert_int_equal(cfg_set_option(&c, "node.mtu", NULL, err, sizeof(err)), -EINVAL);
}

/* ---- cfg_check ------------------------------------------------------------------------------ */

struct check_case {
	const char *options[4]; /* name=value applied with cfg_set_option */
	void (*mutate)(struct cfg *c);
	const char *needle;
};

static void no_node_id(struct cfg *c)
{
	c->node_id = 0;
}
static void no_data_dir(struct cfg *c)
{
	c->data_dir[0] = '\0';
}
static void no_ports(struct cfg *c)
{
	c->n_ports = 0;
}
static void no_ip(struct cfg *c)
{
	c->ip = 0;
}
static void no_cluster_id(struct cfg *c)
{
	c->cluster_id = 0;
}
static void no_leader(struct cfg *c)
{
	c->leader = 0;
}
static void bad_mtu(struct cfg *c)
{
	c->mtu = 100;
}
static void bad_role(struct cfg *c)
{
	c->role = 9;
}
static void relative_dir(struct cfg *c)
{
	c->data_dir[0] = 'x';
}
static void dup_peer(struct cfg *c)
{
	c->peers[2].id = c->peers[0].id;
}
static void durability_differs(struct cfg *c)
{
	c->policy.durability = SL_DUR_FSYNC;
}
static void lcores_3(struct cfg *c)
{
	c->lcores = 3;
}
static void ctl_no_leader(struct cfg *c)
{
	c->leader = 0;
	c->role = SL_ROLE_FENCED;
}
static void ctl_port_only(struct cfg *c)
{
	c->ctl_port = 7410;
}
static void ctl_lease_big(struct cfg *c)
{
	c->lease_ms = CFG_LEASE_MAX + 1;
}
static void ctl_token_relative(struct cfg *c)
{
	memcpy(c->token_file, "tok", 4);
}

static const struct check_case check_cases[] = {
	{ { NULL }, no_node_id, "node.id: required" },
	{ { NULL }, no_data_dir, "node.data_dir: required" },
	{ { NULL }, no_ports, "node.port: at least one port required" },
	{ { NULL }, no_ip, "node.ip: required" },
	{ { NULL }, no_cluster_id, "cluster.id: required" },
	{ { NULL }, bad_mtu, "node.mtu: 100 out of range 576..9000" },
	{ { NULL }, lcores_3, "node.lcores: 3 out of range 1..2" },
	{ { NULL }, bad_role, "cluster.role: invalid value 9" },
	{ { NULL }, relative_dir, "node.data_dir: not an absolute path" },
	{ { NULL }, no_leader, "cluster.leader: required unless cluster.role is fenced" },
	{ { "cluster.leader=9" }, NULL, "cluster.leader: node 9 is neither this node nor a peer" },
	{ { "cluster.leader=2" }, NULL, "cluster.role: leader, but cluster.leader is node 2" },
	{ { "cluster.role=follower" }, NULL, "cluster.role: follower, but cluster.leader is this" },
	{ { "cluster.peer=1 10.0.0.99" }, NULL, "cluster.peer: node 1 is this node" },
	{ { "cluster.peer=5 10.0.0.1" }, NULL, "cluster.peer: node 5 has this node's IP address" },
	{ { "cluster.peer=5 10.0.0.2" }, NULL, "cluster.peer: nodes 2 and 5 have the same IP" },
	{ { "cluster.peer=5 10.0.0.5 port=2" },
	  NULL,
	  "cluster.peer: node 5 uses port 2, but 2 port(s) configured" },
	{ { NULL }, dup_peer, "cluster.peer: node 2 given twice" },
	{ { "cluster.policy=any 1 (n2, n9)" }, NULL, "cluster.policy: node 9 is neither" },
	{ { "cluster.policy=any 2 (n1, n2, n3)" },
	  NULL,
	  "cluster.policy: lists the leader (node 1)" },
	{ { "cluster.role=learner", "cluster.leader=2", "cluster.policy=any 1 (n1, n3)" },
	  NULL,
	  "cluster.policy: lists this node, a learner" },
	{ { NULL }, durability_differs, "cluster.durability: differs from the policy's" },
	{ { "limits.ring_records=1000" }, NULL, "limits.ring_records: 1000 is not a power of two" },
	{ { "node.mbufs=8191" }, NULL, "node.mbufs: 8191 is below limits.ring_records (8192)" },
	{ { "limits.window_records=8193" }, NULL, "limits.window_records: 8193 is above ring" },
	{ { "node.mtu=1500" },
	  NULL,
	  "limits.val_max: a record of key_max 128 + val_max 4096 takes 4264 bytes, an APPEND at "
	  "mtu 1500 carries 1384" },
	{ { "wal.batch_kb=10" }, NULL, "wal.batch_kb: not a multiple of 4" },
	{ { "wal.batch_kb=8" },
	  NULL,
	  "wal.batch_kb: below the largest record (4264 bytes) + 4 KiB" },
	{ { "wal.segment_mb=1", "wal.batch_kb=512" },
	  NULL,
	  "wal.segment_mb: must hold a header and two batches" },
	{ { "timing.rto_min_us=100001" }, NULL, "timing.rto_min_us: above rto_max_ms" },
	{ { "timing.health_ms=2" }, NULL, "timing.health_ms: must exceed heartbeat_ms" },
	{ { "control.lease_ms=500" }, NULL, "control.lease_ms: needs control.controller" },
	{ { "control.token_file=/etc/tok" }, NULL, "control.token_file: needs control.controller" },
	{ { "control.controller=10.0.0.9:7410" },
	  NULL,
	  "cluster.role: leader, but the controller assigns roles" },
	{ { "control.controller=10.0.0.9", "cluster.role=learner" },
	  NULL,
	  "cluster.role: learner, but the controller assigns roles" },
	{ { "control.controller=10.0.0.9:7410", "cluster.role=follower" },
	  NULL,
	  "cluster.leader: set, but the controller chooses the leader" },
	{ { "control.controller=10.0.0.9:7410", "control.lease_ms=99" },
	  ctl_no_leader,
	  "control.lease_ms: below twice report_ms" },
	{ { NULL }, ctl_port_only, "control.controller: invalid address" },
	{ { NULL }, ctl_lease_big, "control.lease_ms: 600001 out of range 0..600000" },
	{ { NULL }, ctl_token_relative, "control.token_file: not an absolute path" },
};

static void test_check(void **state)
{
	enum { N = sizeof(check_cases) / sizeof(check_cases[0]) };
	static char errs[N][CFG_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < N; i++) {
		struct cfg c = full();
		char err[CFG_ERR_MAX];

		for (size_t j = 0; j < 4 && check_cases[i].options[j]; j++) {
			char name[64];
			const char *eq = strchr(check_cases[i].options[j], '=');

			snprintf(name, sizeof(name), "%.*s", (int)(eq - check_cases[i].options[j]),
				 check_cases[i].options[j]);
			if (cfg_set_option(&c, name, eq + 1, err, sizeof(err)) != 0)
				fail_msg("case %zu: %s", i, err);
		}
		if (check_cases[i].mutate)
			check_cases[i].mutate(&c);
		check_fails(&c, check_cases[i].needle, errs[i]);
	}
	/* One reason per failure: no two messages alike. */
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(errs[i], errs[j]) == 0)
				fail_msg("cases %zu and %zu both say '%s'", j, i, errs[i]);
}

static void test_check_passes(void **state)
{
	struct cfg c = full();
	char err[CFG_ERR_MAX];

	(void)state;
	/* A fenced node needs no leader. */
	c.leader = 0;
	set_ok(&c, "cluster", "role", "fenced");
	set_ok(&c, "cluster", "policy", "any 1 (n2, n3)");
	assert_int_equal(cfg_check(&c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	/* A follower of node 2 listed in the policy itself; several peers behind a router. */
	c = full();
	set_ok(&c, "cluster", "role", "follower");
	set_ok(&c, "cluster", "leader", "2");
	set_ok(&c, "cluster", "policy", "first 2 (n1, n3, n4)");
	set_ok(&c, "cluster", "peer", "3 10.0.0.3 02:00:00:00:00:02 port=1");
	assert_int_equal(cfg_check(&c, err, sizeof(err)), 0);
	/* The smallest MTU with records that still fit. */
	set_ok(&c, "node", "mtu", "576");
	set_ok(&c, "limits", "key_max", "16");
	set_ok(&c, "limits", "val_max", "400");
	assert_int_equal(cfg_check(&c, err, sizeof(err)), 0);
	set_ok(&c, "limits", "val_max", "405");
	check_fails(&c, "limits.val_max", err);
}

/* ---- [control] ------------------------------------------------------------------------------ */

static void test_control(void **state)
{
	static const char *const bad[][2] = {
		{ "10.0.0.1:0", "port: out of range 1..65535" },
		{ "10.0.0.1:65536", "port: out of range" },
		{ "10.0.0.1:", "port: empty value" },
		{ "10.0.0.1:x", "port: not a decimal number" },
		{ "10.0.0.1:7410 x", "port: trailing characters" },
		{ "ctl.example:7410", "expected IPv4:PORT" },
		{ "[::1]:7410", "expected IPv4:PORT" },
		{ "10.0.0:7410", "expected IPv4:PORT" },
		{ "0.0.0.0:7410", "not a unicast IPv4 address" },
		{ "224.0.0.1:7410", "not a unicast IPv4 address" },
		{ "255.255.255.255:7410", "not a unicast IPv4 address" },
	};
	struct cfg c = load_ok(ctl_text), d;
	char err[CFG_ERR_MAX];

	(void)state;
	if (cfg_check(&c, err, sizeof(err)) != 0)
		fail_msg("controller config fails its check: %s", err);
	assert_true(cfg_has_controller(&c));
	assert_int_equal(c.ctl_ip, 0x0a4e00fe);
	assert_int_equal(c.ctl_port, 7410);
	assert_int_equal(c.role, SL_ROLE_FOLLOWER); /* unused: the controller decides */
	assert_int_equal(c.leader, 0);
	/* The lease is on by default with a controller, off without. */
	assert_int_equal(c.lease_ms, CFG_LEASE_DEFAULT);
	assert_int_equal(cfg_lease_ms(&c), 500);
	round_trip(&c);
	set_ok(&c, "control", "lease_ms", "0");
	assert_int_equal(cfg_lease_ms(&c), 0);
	assert_int_equal(cfg_check(&c, err, sizeof(err)), 0);
	round_trip(&c);
	set_ok(&c, "control", "lease_ms", "200");
	assert_int_equal(cfg_check(&c, err, sizeof(err)), 0);
	set_ok(&c, "cluster", "role", "fenced");
	assert_int_equal(cfg_check(&c, err, sizeof(err)), 0);
	/* The port defaults to the agent port; loopback is a controller on this host. */
	set_ok(&c, "control", "controller", "127.0.0.1");
	assert_int_equal(c.ctl_ip, 0x7f000001);
	assert_int_equal(c.ctl_port, SL_CTL_AGENT_PORT);
	round_trip(&c);
	/* Empty is no controller: back to the static roles (and then no lease). */
	d = c;
	set_ok(&d, "control", "controller", "");
	assert_false(cfg_has_controller(&d));
	assert_int_equal(d.ctl_port, 0);
	check_fails(&d, "control.lease_ms: needs control.controller", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char needle[128];

		snprintf(needle, sizeof(needle), "control.controller: %s", bad[i][1]);
		set_fails("control", "controller", bad[i][0], needle);
	}
	line_fails("control", "controller = 10.0.0.1:99999", "control.controller: port: out of");
	line_fails("control", "report_ms = 1000", "control.report_ms: out of range 1..999");
	set_fails("control", "token_file", "etc/token", "control.token_file: not an absolute");
	set_ok(&c, "control", "token_file", "/etc/shiplog/token");
	assert_string_equal(c.token_file, "/etc/shiplog/token");
	round_trip(&c);
	set_ok(&c, "control", "token_file", "");
	assert_int_equal(c.token_file[0], '\0');
	/* An option sets it like any key. */
	assert_int_equal(cfg_set_option(&c, "control.controller", "10.1.2.3:9", err, sizeof(err)),
			 0);
	assert_int_equal(c.ctl_port, 9);
}

static void test_token(void **state)
{
	struct cfg c = load_ok(ctl_text);
	char path[256], tok[SL_CTL_TOKEN_MAX], err[CFG_ERR_MAX], big[SL_CTL_TOKEN_MAX + 8];

	(void)state;
	/* No token_file: an empty token. */
	memset(tok, 'x', sizeof(tok));
	assert_int_equal(cfg_read_token(&c, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(tok, "");
	snprintf(path, sizeof(path), "%s/token", tmp_dir);
	write_file(path, "s3cr3t-Token\n\n", 14);
	set_ok(&c, "control", "token_file", path);
	assert_int_equal(cfg_read_token(&c, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(tok, "s3cr3t-Token");
	assert_string_equal(err, "");
	/* Refusals never quote the token. */
	write_file(path, "s3cr3t Token\n", 13);
	assert_int_equal(cfg_read_token(&c, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	expect_in("blank", err, "control.token_file: a token is printable ASCII");
	assert_null(strstr(err, "s3cr3t"));
	write_file(path, "\n", 1);
	assert_int_equal(cfg_read_token(&c, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	expect_in("empty", err, "a token has 1..127 bytes");
	memset(big, 'a', sizeof(big));
	write_file(path, big, SL_CTL_TOKEN_MAX - 1);
	assert_int_equal(cfg_read_token(&c, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_int_equal(strlen(tok), SL_CTL_TOKEN_MAX - 1);
	assert_int_equal(cfg_read_token(&c, tok, 16, err, sizeof(err)), -EINVAL);
	write_file(path, big, SL_CTL_TOKEN_MAX);
	assert_int_equal(cfg_read_token(&c, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	expect_in("long", err, "a token has 1..127 bytes");
	snprintf(path, sizeof(path), "%s/no-token", tmp_dir);
	set_ok(&c, "control", "token_file", path);
	assert_int_equal(cfg_read_token(&c, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
	expect_in("missing", err, "control.token_file: cannot open: No such file");
	err_is_one_line(err, sizeof(err));
}

/* ---- errors --------------------------------------------------------------------------------- */

static void test_err_buffer(void **state)
{
	struct cfg c = full(), before = c;
	char full_err[CFG_ERR_MAX], err[8];

	(void)state;
	assert_int_equal(cfg_set(&c, "node", "mtu", "1", full_err, sizeof(full_err)), -EINVAL);
	for (size_t len = 1; len <= sizeof(err); len++) {
		memset(err, 'x', sizeof(err));
		assert_int_equal(cfg_set(&c, "node", "mtu", "1", err, len), -EINVAL);
		assert_int_equal(strlen(err), len - 1);
		assert_memory_equal(err, full_err, len - 1);
		for (size_t i = len; i < sizeof(err); i++)
			assert_int_equal(err[i], 'x');
	}
	err[0] = 'x';
	assert_int_equal(cfg_set(&c, "node", "mtu", "1", err, 0), -EINVAL);
	assert_int_equal(err[0], 'x');
	assert_int_equal(cfg_set(&c, "node", "mtu", "1", NULL, 0), -EINVAL);
	assert_int_equal(cfg_set(&c, "node", "mtu", "1", NULL, 100), -EINVAL);
	assert_int_equal(cfg_set_option(&c, "bad", "1", err, 5), -EINVAL);
	assert_int_equal(strlen(err), 4);
	assert_int_equal(cfg_load_string(&c, "[x]\n", err, 5), -EINVAL);
	assert_string_equal(err, "<tex");
	assert_int_equal(cfg_load_string(&c, "[x]\n", NULL, 0), -EINVAL);
	c.node_id = 0;
	assert_int_equal(cfg_check(&c, err, 5), -EINVAL);
	assert_string_equal(err, "node");
	assert_int_equal(cfg_check(&c, NULL, 0), -EINVAL);
	c.node_id = 1;
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_load_file(void **state)
{
	char path[512], err[CFG_ERR_MAX];
	struct cfg c, want = full();
	char *big;

	(void)state;
	snprintf(path, sizeof(path), "%s/shiplogd.conf", tmp_dir);
	write_file(path, full_text, strlen(full_text));
	cfg_default(&c);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_true(cfg_equal(&c, &want));
	/* Errors name the file and the line. */
	write_file(path, "[node]\n\nmtu = 9001\n", 19);
	cfg_default(&c);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), -EINVAL);
	char want_err[600];
	snprintf(want_err, sizeof(want_err), "%s:3: node.mtu: out of range 576..9000", path);
	assert_string_equal(err, want_err);
	/* A NUL byte is not the end of a line. */
	write_file(path, "[node]\nmtu = 1400\0 junk\n", 24);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), -EINVAL);
	expect_in("nul", err, ":2: NUL byte in the line");
	assert_int_equal(cfg_load_file(&c, tmp_dir, err, sizeof(err)), -EISDIR);
	expect_in("dir", err, "Is a directory");
	snprintf(path, sizeof(path), "%s/missing.conf", tmp_dir);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), -ENOENT);
	expect_in("missing", err, "missing.conf: No such file or directory");
	/* A newline in the file name does not make a second line. */
	snprintf(path, sizeof(path), "%s/odd\nname.conf", tmp_dir);
	write_file(path, "[x]\n", 4);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), -EINVAL);
	err_is_one_line(err, sizeof(err));
	expect_in("odd", err, "odd?name.conf:1: [x]: unknown section");
	/* Size limit. */
	big = malloc(CFG_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '\n', CFG_FILE_MAX + 1);
	snprintf(path, sizeof(path), "%s/big.conf", tmp_dir);
	write_file(path, big, CFG_FILE_MAX);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	write_file(path, big, CFG_FILE_MAX + 1);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), -EFBIG);
	expect_in("big", err, "larger than 1048576 bytes");
	free(big);
}

static int setup_dir(void **state)
{
	(void)state;
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_format_cap),
		cmocka_unit_test(test_format_largest),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_int_ranges),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_peers_max),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_durability_order),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_set_twice),
		cmocka_unit_test(test_set_unchanged),
		cmocka_unit_test(test_set_option),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_passes),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests_name("config", tests, setup_dir, remove_dir);
}
