/*
 * shiplogd's configuration: defaults, the INI file (Debian's inih), command-line
 * overrides, cross-key validation and the file form of the effective configuration.
 *
 * cfg_keys[] below is the configuration reference: one row per key with its section,
 * its parser and, for integers, the accepted range (README.md "Configuration reference"
 * is generated from it by hand: keep both in step).
 *
 * How inih is used. The checked reader (dataplane/wire/conftext.c, shared with the
 * controller's configuration) hands inih one line at a time and checks it first: a
 * line longer than CFG_LINE_MAX, a NUL byte, an unknown or malformed [section] and a line that is
 * neither comment, section nor key = value are errors with a precise message, and inih never sees
 * them. The reader also strips indentation, so that inih's multi-line values (an indented line
 * continuing the previous key) cannot silently glue two lines into one value. Parsing stops at the
 * first error (the reader reports end of input), and everything goes to a copy of the
 * configuration that replaces the caller's only when the whole text was good.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "conftext.h"
#include "core.h"
#include "wal.h"

#define CFG_DIM(a)	(sizeof(a) / sizeof((a)[0]))
#define CFG_PEER_FIELDS 5u /* ID IP MAC port= udp= */
#define CFG_IP_UDP_HDRS (20u + 8u)
#define CFG_SECTION_MAX 16u /* longer than any section name */
#define CFG_KEY_HEX	(2u * SL_AUTH_KEY_LEN)
#define CFG_FROM_FILE	1u /* key_apply: a file line, not an override */
#define KEY_REPEAT	1u /* may appear several times (port, peer) */
#define KEY_SEEN_PREV	2u /* one setting with the row before it (key_file) */
#define KEY_ZERO_UNSET	4u /* 0 means "not set": cfg_check says "required" */
#define CFG_U16		UINT16_MAX
#define CFG_U32		UINT32_MAX

struct cfg_out {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

struct cfg_key {
	const char *section;
	const char *name;
	/* Parses v (trimmed, printable, at most CFG_VALUE_MAX bytes) into c, or says why not. */
	int (*set)(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why);
	/* Writes the key's line(s) as cfg_format does; NULL: written by another row. */
	void (*put)(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
	uint16_t off;  /* integer and enum rows: the field */
	uint8_t size;  /* its size: 1, 2 or 4 */
	uint8_t flags; /* KEY_* */
	uint32_t min;
	uint32_t max;
	const char *const *names; /* enum rows: names[i] is value i */
	uint8_t n_names;
};

static int set_uint(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why);
static int set_enum(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why);
static int set_data_dir(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			char *why);
static int set_port(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why);
static int set_ip(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why);
static int set_key(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why);
static int set_key_file(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			char *why);
static int set_policy(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
		      char *why);
static int set_durability(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			  char *why);
static int set_peer(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why);
static int set_controller(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			  char *why);
static int set_lease(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
		     char *why);
static int set_token_file(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			  char *why);

static void put_uint(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_enum(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_data_dir(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_ports(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_ip(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_key(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_policy(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_durability(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_peers(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_controller(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_lease(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);
static void put_token_file(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k);

static const char *const idle_names[] = { [CFG_IDLE_BUSY] = "busy", [CFG_IDLE_SLEEP] = "sleep" };
static const char *const role_names[] = {
	[SL_ROLE_FENCED] = "fenced",
	[SL_ROLE_FOLLOWER] = "follower",
	[SL_ROLE_LEARNER] = "learner",
	[SL_ROLE_LEADER] = "leader",
};
static const char *const wal_mode_names[] = {
	[SL_WAL_BUFFERED] = "buffered",
	[SL_WAL_DSYNC] = "dsync",
	[SL_WAL_DIRECT] = "direct",
};
static const char *const dur_names[] = { [SL_DUR_NONE] = "none", [SL_DUR_FSYNC] = "fsync" };

#define CFG_FIELD(f) .off = offsetof(struct cfg, f), .size = sizeof(((struct cfg *)0)->f)
#define KEY_UINT(sec, key, f, lo, hi, fl)                                                    \
	{                                                                                    \
		.section = sec, .name = key, .set = set_uint, .put = put_uint, CFG_FIELD(f), \
		.flags = fl, .min = lo, .max = hi                                            \
	}
#define KEY_ENUM(sec, key, f, nm)                                                            \
	{                                                                                    \
		.section = sec, .name = key, .set = set_enum, .put = put_enum, CFG_FIELD(f), \
		.names = nm, .n_names = CFG_DIM(nm)                                          \
	}
#define KEY_FN(sec, key, setter, putter, fl)                                           \
	{                                                                              \
		.section = sec, .name = key, .set = setter, .put = putter, .flags = fl \
	}

/* The reference: sections in file order, and the order cfg_format writes. */
static const struct cfg_key cfg_keys[] = {
	KEY_UINT("node", "id", node_id, 1, SL_NODE_MAX, KEY_ZERO_UNSET),
	KEY_FN("node", "data_dir", set_data_dir, put_data_dir, 0),
	KEY_FN("node", "port", set_port, put_ports, KEY_REPEAT),
	KEY_FN("node", "ip", set_ip, put_ip, 0),
	KEY_UINT("node", "udp_port", udp_port, 1, CFG_U16, 0),
	KEY_UINT("node", "mtu", mtu, 576, 9000, 0),
	KEY_ENUM("node", "idle", idle, idle_names),
	KEY_UINT("node", "idle_sleep_us", idle_sleep_us, 1, 100000, 0),
	KEY_UINT("node", "lcores", lcores, 1, 2, 0),
	KEY_UINT("node", "mbufs", mbufs, 0, 1u << 24, 0),

	KEY_UINT("cluster", "id", cluster_id, 1, CFG_U32, KEY_ZERO_UNSET),
	KEY_FN("cluster", "key", set_key, put_key, 0),
	KEY_FN("cluster", "key_file", set_key_file, NULL, KEY_SEEN_PREV),
	KEY_UINT("cluster", "epoch", epoch, 1, CFG_U32, 0),
	KEY_ENUM("cluster", "role", role, role_names),
	KEY_UINT("cluster", "leader", leader, 1, SL_NODE_MAX, KEY_ZERO_UNSET),
	KEY_FN("cluster", "policy", set_policy, put_policy, 0),
	KEY_FN("cluster", "durability", set_durability, put_durability, 0),
	KEY_FN("cluster", "peer", set_peer, put_peers, KEY_REPEAT),

	KEY_ENUM("wal", "mode", wal_mode, wal_mode_names),
	KEY_UINT("wal", "segment_mb", segment_mb, 1, 65536, 0),
	KEY_UINT("wal", "batch_kb", batch_kb, 8, 65536, 0),
	KEY_UINT("wal", "queue_records", queue_records, 16, 1u << 24, 0),
	KEY_UINT("wal", "retention_mb", retention_mb, 0, 1u << 24, 0),
	KEY_UINT("wal", "snapshot_records", snapshot_records, 0, UINT32_MAX, 0),

	KEY_UINT("limits", "key_max", limits.key_max, 1, CFG_U16, 0),
	KEY_UINT("limits", "val_max", limits.val_max, SL_POLICY_TEXT_MAX, 65536, 0),
	KEY_UINT("limits", "ring_records", ring_records, 16, 1u << 24, 0),
	KEY_UINT("limits", "window_records", window_records, 1, 1u << 24, 0),
	KEY_UINT("limits", "kv_keys", kv_keys, 1, 1u << 26, 0),
	KEY_UINT("limits", "dedup_clients", dedup_clients, 1, 1u << 24, 0),
	KEY_UINT("limits", "pending_reads", pending_reads, 1, 1u << 20, 0),
	KEY_UINT("limits", "reorder_frames", reorder_frames, 0, 4096, 0),

	KEY_UINT("timing", "heartbeat_ms", heartbeat_ms, 1, 60000, 0),
	KEY_UINT("timing", "health_ms", health_ms, 1, 600000, 0),
	KEY_UINT("timing", "rto_min_us", rto_min_us, 1, 1000000, 0),
	KEY_UINT("timing", "rto_max_ms", rto_max_ms, 1, 60000, 0),
	KEY_UINT("timing", "read_wait_ms", read_wait_ms, 0, 60000, 0),
	KEY_UINT("timing", "client_timeout_ms", client_timeout_ms, 1, 3600000, 0),

	KEY_FN("control", "controller", set_controller, put_controller, 0),
	KEY_UINT("control", "report_ms", report_ms, 1, 999, 0),
	KEY_FN("control", "token_file", set_token_file, put_token_file, 0),
	KEY_FN("control", "lease_ms", set_lease, put_lease, 0),

	KEY_UINT("fault", "loss_ppm", fault_loss_ppm, 0, 1000000, 0),
	KEY_UINT("fault", "dup_ppm", fault_dup_ppm, 0, 1000000, 0),
	KEY_UINT("fault", "reorder_ppm", fault_reorder_ppm, 0, 1000000, 0),
	KEY_UINT("fault", "seed", fault_seed, 0, CFG_U32, 0),
};
_Static_assert(CFG_DIM(cfg_keys) <= 64 * CFG_DIM(((struct cfg *)0)->seen), "a seen bit per key");
_Static_assert(CFG_ERR_MAX == CONFTEXT_WHY_MAX, "a why buffer is conftext's");

static const char *const section_names[] = { "node",   "cluster", "wal",  "limits",
					     "timing", "control", "fault" };

static struct conftext_shown show(const char *s)
{
	return conftext_show(s, SIZE_MAX);
}

/* ---- the table -------------------------------------------------------------------------- */

static bool section_known(const char *s, size_t len)
{
	for (size_t i = 0; i < CFG_DIM(section_names); i++)
		if (strlen(section_names[i]) == len && memcmp(section_names[i], s, len) == 0)
			return true;
	return false;
}

static const struct cfg_key *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < CFG_DIM(cfg_keys); i++)
		if (strcmp(cfg_keys[i].section, section) == 0 &&
		    strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* "section.key: unknown ..." for a key the table lacks. */
static void key_unknown(char *why, const char *section, const char *name)
{
	if (section[0] == '\0')
		conftext_why(why, "%s: key outside any [section]", show(name).s);
	else if (!section_known(section, strlen(section)))
		conftext_why(why, "%s.%s: unknown section", show(section).s, show(name).s);
	else
		conftext_why(why, "%s.%s: unknown key", section, show(name).s);
}

static unsigned seen_bit(const struct cfg_key *k)
{
	unsigned i = (unsigned)(k - cfg_keys);

	return (k->flags & KEY_SEEN_PREV) ? i - 1 : i;
}

/* key and key_file: one setting, one bit. */
static bool seen_shared(const struct cfg_key *k)
{
	const struct cfg_key *next = k + 1;

	return (k->flags & KEY_SEEN_PREV) ||
	       (next < cfg_keys + CFG_DIM(cfg_keys) && (next->flags & KEY_SEEN_PREV));
}

static bool seen_test(const struct cfg *c, const struct cfg_key *k)
{
	unsigned b = seen_bit(k);

	return (c->seen[b / 64] >> (b % 64)) & 1;
}

static void seen_mark(struct cfg *c, const struct cfg_key *k)
{
	unsigned b = seen_bit(k);

	c->seen[b / 64] |= 1ull << (b % 64);
}

static uint32_t field_get(const struct cfg *c, const struct cfg_key *k)
{
	const uint8_t *p = (const uint8_t *)c + k->off;
	uint16_t v16;
	uint32_t v32;

	switch (k->size) {
	case 1:
		return *p;
	case 2:
		memcpy(&v16, p, sizeof(v16));
		return v16;
	default:
		memcpy(&v32, p, sizeof(v32));
		return v32;
	}
}

static void field_put(struct cfg *c, const struct cfg_key *k, uint32_t v)
{
	uint8_t *p = (uint8_t *)c + k->off;
	uint16_t v16 = (uint16_t)v;

	assert(v <= (k->size == 1 ? UINT8_MAX : k->size == 2 ? UINT16_MAX : UINT32_MAX));
	if (k->size == 1)
		*p = (uint8_t)v;
	else if (k->size == 2)
		memcpy(p, &v16, sizeof(v16));
	else
		memcpy(p, &v, sizeof(v));
}

/*
 * Trims v, refuses what a file could not carry back (cfg_format must write a file that
 * reads back the same), then hands a copy to the row's parser. The copy may hold key
 * material: it is wiped.
 */
static int key_apply(struct cfg *c, const struct cfg_key *k, const char *value, unsigned how,
		     char *why)
{
	char v[CFG_VALUE_MAX + 1];
	int rc;

	if (conftext_value(value, CFG_VALUE_MAX, v, why) != 0)
		return -EINVAL;
	rc = k->set(c, k, v, how, why);
	explicit_bzero(v, sizeof(v));
	return rc;
}

/* ---- value parsers ------------------------------------------------------------------------ */

/* Decimal, no sign, no blank, no overflow, lo..hi. what prefixes the reason. */
static int parse_num(const char *s, uint32_t lo, uint32_t hi, uint32_t *out, const char *what,
		     char *why)
{
	uint64_t x;

	if (conftext_parse_u64(s, lo, hi, &x, what, why) != 0)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Neither the unspecified address, loopback, multicast nor class E / broadcast. */
static bool ip_unicast(uint32_t ip)
{
	uint8_t a = (uint8_t)(ip >> 24);

	return a != 0 && a != 127 && a < 224;
}

static int parse_ip(const char *s, uint32_t *ip, const char *what, char *why)
{
	struct in_addr in;

	if (inet_pton(AF_INET, s, &in) != 1)
		return conftext_why(why, "%snot an IPv4 address (a.b.c.d)", what);
	if (!ip_unicast(ntohl(in.s_addr)))
		return conftext_why(why, "%snot a unicast IPv4 address", what);
	*ip = ntohl(in.s_addr);
	return 0;
}

static bool mac_usable(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return (mac[0] & 1) == 0 && memcmp(mac, zero, sizeof(zero)) != 0;
}

/* aa:bb:cc:dd:ee:ff exactly: a peer's unicast address. */
static int parse_mac(const char *s, uint8_t mac[6], char *why)
{
	if (strlen(s) != 17)
		return conftext_why(why, "MAC: expected aa:bb:cc:dd:ee:ff");
	for (unsigned i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return conftext_why(why, "MAC: expected aa:bb:cc:dd:ee:ff");
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!mac_usable(mac))
		return conftext_why(why, "MAC: multicast, broadcast or zero: not a peer's address");
	return 0;
}

/* Exactly CFG_KEY_HEX hex digits in s[0..len); never quotes them. */
static int parse_key_hex(const char *s, size_t len, struct sl_auth_key *key, char *why)
{
	struct sl_auth_key k;
	uint8_t any = 0;

	if (len != CFG_KEY_HEX)
		return conftext_why(why, "expected %u hex digits", CFG_KEY_HEX);
	for (unsigned i = 0; i < SL_AUTH_KEY_LEN; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			explicit_bzero(&k, sizeof(k));
			return conftext_why(why, "expected %u hex digits", CFG_KEY_HEX);
		}
		k.bytes[i] = (uint8_t)(hi << 4 | lo);
		any |= k.bytes[i];
	}
	if (any == 0)
		return conftext_why(why, "an all-zero key is a placeholder, not a secret");
	memcpy(key, &k, sizeof(k));
	explicit_bzero(&k, sizeof(k));
	return 0;
}

/* Reads at most CFG_KEY_FILE_MAX bytes of a regular file (a FIFO would block). */
static int read_small_file(const char *path, char *buf, size_t *len, char *why)
{
	return conftext_read_small(path, buf, CFG_KEY_FILE_MAX, len, why);
}

/* ---- setters ------------------------------------------------------------------------------ */

static int set_uint(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why)
{
	uint32_t x;

	(void)how;
	if (parse_num(v, k->min, k->max, &x, "", why) != 0)
		return -EINVAL;
	field_put(c, k, x);
	return 0;
}

static int enum_find(const struct cfg_key *k, const char *v, char *why)
{
	char list[CFG_ERR_MAX] = "";
	size_t n = 0;

	for (unsigned i = 0; i < k->n_names; i++)
		if (strcmp(v, k->names[i]) == 0)
			return (int)i;
	for (unsigned i = 0; i < k->n_names && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? "|" : "",
				      k->names[i]);
	return conftext_why(why, "expected %s", list);
}

static int set_enum(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why)
{
	int i = enum_find(k, v, why);

	(void)how;
	if (i < 0)
		return i;
	field_put(c, k, (uint32_t)i);
	return 0;
}

static int set_data_dir(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			char *why)
{
	(void)k, (void)how;
	if (v[0] != '/')
		return conftext_why(why, "not an absolute path");
	memset(c->data_dir, 0, sizeof(c->data_dir));
	memcpy(c->data_dir, v, strlen(v)); /* at most CFG_VALUE_MAX < CFG_PATH_MAX */
	return 0;
}

static int set_port(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why)
{
	size_t len = strlen(v);

	(void)k, (void)how;
	if (c->n_ports >= CFG_PORTS_MAX)
		return conftext_why(why, "more than %u ports", CFG_PORTS_MAX);
	if (len == 0 || len >= CFG_PORT_NAME_MAX)
		return conftext_why(why, "a port name has 1..%u bytes", CFG_PORT_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if (isspace((unsigned char)v[i]))
			return conftext_why(why, "blank in a port name");
	memset(c->ports[c->n_ports], 0, CFG_PORT_NAME_MAX);
	memcpy(c->ports[c->n_ports], v, len);
	c->n_ports++;
	return 0;
}

static int set_ip(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why)
{
	(void)k, (void)how;
	return parse_ip(v, &c->ip, "", why);
}

static int set_key(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why)
{
	(void)k, (void)how;
	if (parse_key_hex(v, strlen(v), &c->key, why) != 0)
		return -EINVAL;
	c->has_key = true;
	return 0;
}

/* The file holds the 64 hex digits, maybe with a newline (trailing blanks are cut). */
static int set_key_file(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			char *why)
{
	char buf[CFG_KEY_FILE_MAX + 1];
	size_t len = 0;
	int rc;

	(void)k, (void)how;
	rc = read_small_file(v, buf, &len, why);
	while (rc == 0 && len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	if (rc == 0)
		rc = parse_key_hex(buf, len, &c->key, why);
	explicit_bzero(buf, sizeof(buf));
	if (rc != 0)
		return -EINVAL;
	c->has_key = true;
	return 0;
}

static int set_policy(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
		      char *why)
{
	char perr[CFG_ERR_MAX];
	struct sl_policy p;

	(void)k, (void)how;
	if (sl_policy_parse(v, strlen(v), &p, perr, sizeof(perr)) != 0)
		return conftext_why(why, "%s", perr);
	/* cluster.durability wins over the policy's, whichever line came first. */
	if (c->durability != CFG_DUR_POLICY)
		p.durability = c->durability;
	memcpy(&c->policy, &p, sizeof(p));
	return 0;
}

static int set_durability(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			  char *why)
{
	static const struct cfg_key names = { .names = dur_names, .n_names = CFG_DIM(dur_names) };
	int d = enum_find(&names, v, why);

	(void)k, (void)how;
	if (d < 0)
		return d;
	c->durability = (uint8_t)d;
	c->policy.durability = (uint8_t)d;
	return 0;
}

/* One of [MAC] [port=N] [udp=PORT], each at most once (bit in *got). */
static int peer_field(struct cfg_peer *p, const char *t, unsigned *got, char *why)
{
	uint32_t x;

	if (strncmp(t, "port=", 5) == 0) {
		if (*got & 1u)
			return conftext_why(why, "port= given twice");
		*got |= 1u;
		if (parse_num(t + 5, 0, CFG_PORTS_MAX - 1, &x, "port=: ", why) != 0)
			return -EINVAL;
		p->port = (uint8_t)x;
	} else if (strncmp(t, "udp=", 4) == 0) {
		if (*got & 2u)
			return conftext_why(why, "udp= given twice");
		*got |= 2u;
		if (parse_num(t + 4, 1, CFG_U16, &x, "udp=: ", why) != 0)
			return -EINVAL;
		p->udp_port = (uint16_t)x;
	} else if (strchr(t, ':') != NULL) {
		if (*got & 4u)
			return conftext_why(why, "MAC given twice");
		*got |= 4u;
		if (parse_mac(t, p->mac, why) != 0)
			return -EINVAL;
		p->has_mac = true;
	} else {
		return conftext_why(why, "unknown field (expected MAC, port=N or udp=PORT)");
	}
	return 0;
}

/* "ID IP [MAC] [port=N] [udp=PORT]" */
static int parse_peer(const char *v, struct cfg_peer *p, char *why)
{
	char buf[CFG_VALUE_MAX + 1], *tok[CFG_PEER_FIELDS], *save = NULL;
	unsigned n = 0, got = 0;
	uint32_t id;

	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == CFG_PEER_FIELDS)
			return conftext_why(why,
					    "too many fields (ID IP [MAC] [port=N] [udp=PORT])");
		tok[n++] = t;
	}
	if (n < 2)
		return conftext_why(why, "expected ID IP [MAC] [port=N] [udp=PORT]");
	memset(p, 0, sizeof(*p));
	p->udp_port = SL_UDP_PORT;
	if (parse_num(tok[0], 1, SL_NODE_MAX, &id, "peer id: ", why) != 0 ||
	    parse_ip(tok[1], &p->ip, "peer IP: ", why) != 0)
		return -EINVAL;
	p->id = (uint16_t)id;
	for (unsigned i = 2; i < n; i++)
		if (peer_field(p, tok[i], &got, why) != 0)
			return -EINVAL;
	return 0;
}

static int set_peer(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why)
{
	struct cfg_peer p;
	unsigned i;

	(void)k;
	if (parse_peer(v, &p, why) != 0)
		return -EINVAL;
	for (i = 0; i < c->n_peers && c->peers[i].id != p.id; i++)
		;
	/* A file names each peer once; an override replaces the peer it names. */
	if (i < c->n_peers && (how & CFG_FROM_FILE))
		return conftext_why(why, "peer %u given twice", p.id);
	if (i == SL_NODE_MAX)
		return conftext_why(why, "more than %u peers", SL_NODE_MAX);
	memcpy(&c->peers[i], &p, sizeof(p));
	if (i == c->n_peers)
		c->n_peers++;
	return 0;
}

/* "IPv4[:PORT]" (port SL_CTL_AGENT_PORT when left out); "" is no controller. Loopback
 * is fine here: the agent speaks through the kernel, unlike the data path. */
static int set_controller(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			  char *why)
{
	char host[CFG_VALUE_MAX + 1];
	const char *colon = strrchr(v, ':');
	uint32_t port = SL_CTL_AGENT_PORT;
	struct in_addr in;
	size_t hl = colon ? (size_t)(colon - v) : strlen(v);

	(void)k, (void)how;
	if (v[0] == '\0') {
		c->ctl_ip = 0;
		c->ctl_port = 0;
		return 0;
	}
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &in) != 1)
		return conftext_why(why, "expected IPv4:PORT (a.b.c.d:port), or nothing for none");
	if (ntohl(in.s_addr) >> 24 == 0 || ntohl(in.s_addr) >> 24 >= 224)
		return conftext_why(why, "not a unicast IPv4 address");
	if (colon && parse_num(colon + 1, 1, CFG_U16, &port, "port: ", why) != 0)
		return -EINVAL;
	c->ctl_ip = ntohl(in.s_addr);
	c->ctl_port = (uint16_t)port;
	return 0;
}

static int set_lease(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how, char *why)
{
	uint32_t x;

	(void)k, (void)how;
	if (parse_num(v, 0, CFG_LEASE_MAX, &x, "", why) != 0)
		return -EINVAL;
	c->lease_ms = x;
	return 0;
}

/* Only the path: the token is read when shiplogd starts (cfg_read_token), never
 * written back by cfg_format. "" unsets it. */
static int set_token_file(struct cfg *c, const struct cfg_key *k, const char *v, unsigned how,
			  char *why)
{
	(void)k, (void)how;
	if (v[0] != '\0' && v[0] != '/')
		return conftext_why(why, "not an absolute path");
	memset(c->token_file, 0, sizeof(c->token_file));
	memcpy(c->token_file, v, strlen(v)); /* at most CFG_VALUE_MAX < CFG_PATH_MAX */
	return 0;
}

/* ---- defaults ----------------------------------------------------------------------------- */

/* The core's sizes and timings, in the configuration's units (exact: whole ms/us). */
static void core_defaults(struct cfg *c)
{
	struct sl_core_config cc;

	memset(&cc, 0, sizeof(cc));
	sl_core_config_default(&cc);
	c->ring_records = cc.ring_records;
	c->window_records = cc.window_records;
	c->kv_keys = cc.kv_keys;
	c->dedup_clients = cc.dedup_clients;
	c->pending_reads = cc.pending_reads;
	c->reorder_frames = cc.reorder_frames;
	c->heartbeat_ms = (uint32_t)(cc.heartbeat_ns / 1000000);
	c->health_ms = (uint32_t)(cc.health_ns / 1000000);
	c->rto_min_us = (uint32_t)(cc.rto_min_ns / 1000);
	c->rto_max_ms = (uint32_t)(cc.rto_max_ns / 1000000);
	c->read_wait_ms = (uint32_t)(cc.read_wait_ns / 1000000);
}

void cfg_default(struct cfg *c)
{
	struct sl_wal_config w;
	struct sl_policy p = sl_policy_default();

	memset(c, 0, sizeof(*c));
	sl_wal_config_default(&w);
	c->udp_port = SL_UDP_PORT;
	c->mtu = 1500;
	c->idle = CFG_IDLE_SLEEP;
	c->idle_sleep_us = 100;
	c->lcores = 2;
	c->epoch = 1;
	c->role = SL_ROLE_FOLLOWER;
	c->durability = CFG_DUR_POLICY;
	memcpy(&c->policy, &p, sizeof(p));
	c->wal_mode = w.mode;
	c->segment_mb = (uint32_t)(w.segment_bytes >> 20);
	c->batch_kb = w.batch_bytes >> 10;
	c->queue_records = w.queue_records;
	c->retention_mb = (uint32_t)(w.retention_bytes >> 20);
	c->limits = sl_limits_default();
	core_defaults(c);
	c->client_timeout_ms = 1000;
	c->report_ms = 100;
	c->lease_ms = CFG_LEASE_DEFAULT;
}

uint32_t cfg_lease_ms(const struct cfg *c)
{
	if (c->lease_ms != CFG_LEASE_DEFAULT)
		return c->lease_ms;
	return cfg_has_controller(c) ? CFG_LEASE_WITH_CTL : 0;
}

int cfg_read_token(const struct cfg *c, char *tok, size_t cap, char *err, size_t err_len)
{
	char buf[CFG_KEY_FILE_MAX + 1], why[CFG_ERR_MAX];
	size_t len = 0;
	int rc = 0;

	conftext_err_put(err, err_len, "%s", "");
	if (cap > 0)
		tok[0] = '\0';
	if (c->token_file[0] == '\0')
		return 0;
	if (read_small_file(c->token_file, buf, &len, why) != 0)
		rc = -EINVAL;
	while (rc == 0 && len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	if (rc == 0 && (len == 0 || len >= cap || len >= SL_CTL_TOKEN_MAX))
		rc = conftext_why(why, "a token has 1..%u bytes", SL_CTL_TOKEN_MAX - 1);
	for (size_t i = 0; rc == 0 && i < len; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e)
			rc = conftext_why(why, "a token is printable ASCII without blanks");
	if (rc == 0) {
		memcpy(tok, buf, len);
		tok[len] = '\0';
	} else {
		conftext_err_put(err, err_len, "control.token_file: %s", why);
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

bool cfg_equal(const struct cfg *a, const struct cfg *b)
{
	return memcmp(a, b, offsetof(struct cfg, seen)) == 0;
}

/* ---- one key, options ----------------------------------------------------------------------- */

int cfg_set(struct cfg *c, const char *section, const char *key, const char *value, char *err,
	    size_t err_len)
{
	char why[CFG_ERR_MAX];
	const struct cfg_key *k;
	struct cfg tmp;

	conftext_err_put(err, err_len, "%s", "");
	if (section == NULL || key == NULL || value == NULL) {
		conftext_err_put(err, err_len, "cfg_set: missing section, key or value");
		return -EINVAL;
	}
	k = key_find(section, key);
	if (k == NULL) {
		key_unknown(why, section, key);
		conftext_err_put(err, err_len, "%s", why);
		return -EINVAL;
	}
	memcpy(&tmp, c, sizeof(tmp));
	if (key_apply(&tmp, k, value, 0, why) != 0) {
		conftext_err_put(err, err_len, "%s.%s: %s", k->section, k->name, why);
		return -EINVAL;
	}
	memcpy(c, &tmp, sizeof(tmp));
	return 0;
}

int cfg_set_option(struct cfg *c, const char *name, const char *value, char *err, size_t err_len)
{
	static const struct {
		const char *option, *section, *key;
	} shorthands[] = {
		{ "node-id", "node", "id" },
		{ "data-dir", "node", "data_dir" },
		{ "idle", "node", "idle" },
	};
	char section[CFG_SECTION_MAX];
	const char *dot;

	if (name == NULL)
		name = "";
	for (size_t i = 0; i < CFG_DIM(shorthands); i++)
		if (strcmp(name, shorthands[i].option) == 0)
			return cfg_set(c, shorthands[i].section, shorthands[i].key, value, err,
				       err_len);
	dot = strchr(name, '.');
	if (dot == NULL || (size_t)(dot - name) >= sizeof(section)) {
		conftext_err_put(err, err_len, "%s: unknown option (expected section.key)",
				 show(name).s);
		return -EINVAL;
	}
	memcpy(section, name, (size_t)(dot - name));
	section[dot - name] = '\0';
	return cfg_set(c, section, dot + 1, value, err, err_len);
}

/* ---- files -------------------------------------------------------------------------------- */

struct cfg_load {
	struct conftext_lines lines;
	struct cfg tmp; /* replaces the caller's configuration on success */
};

static int load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_load *ld = user;
	const struct cfg_key *k;
	char why[CFG_ERR_MAX];

	if (ld->lines.fail_line != 0)
		return 0;
	k = key_find(section, name);
	if (k == NULL) {
		key_unknown(why, section, name);
		conftext_fail(&ld->lines, "%s", why);
		return 0;
	}
	if (!(k->flags & KEY_REPEAT) && seen_test(&ld->tmp, k)) {
		conftext_fail(&ld->lines, "%s.%s: set twice%s", k->section, k->name,
			      seen_shared(k) ? " (key and key_file are one setting)" : "");
		return 0;
	}
	if (key_apply(&ld->tmp, k, value, CFG_FROM_FILE, why) != 0) {
		conftext_fail(&ld->lines, "%s.%s: %s", k->section, k->name, why);
		return 0;
	}
	seen_mark(&ld->tmp, k);
	return 1;
}

static int load_text(struct cfg *c, const char *name, const char *text, size_t len, char *err,
		     size_t err_len)
{
	struct cfg_load ld;
	int rc;

	memset(&ld, 0, sizeof(ld));
	memcpy(&ld.tmp, c, sizeof(*c));
	ld.lines.line_max = CFG_LINE_MAX;
	ld.lines.section_known = section_known;
	ld.lines.section_hint = "";
	rc = conftext_parse(&ld.lines, name, text, len, load_handler, &ld, err, err_len);
	if (rc == 0)
		memcpy(c, &ld.tmp, sizeof(*c));
	explicit_bzero(&ld.tmp, sizeof(ld.tmp)); /* it may hold a key */
	return rc;
}

int cfg_load_string(struct cfg *c, const char *text, char *err, size_t err_len)
{
	conftext_err_put(err, err_len, "%s", "");
	return load_text(c, "<text>", text, strlen(text), err, err_len);
}

/* Reads the whole file (at most CFG_FILE_MAX) so that the reader sees its NUL bytes. */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t err_len)
{
	char *text;
	size_t n;
	int rc;

	conftext_err_put(err, err_len, "%s", "");
	rc = conftext_read_file(path, CFG_FILE_MAX, &text, &n, err, err_len);
	if (rc != 0)
		return rc;
	rc = load_text(c, path, text, n, err, err_len);
	conftext_text_free(text, n);
	return rc;
}

/* ---- cfg_format --------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void out_printf(struct cfg_out *o, const char *fmt,
							     ...)
{
	va_list ap;
	int n;

	if (o->overflow || o->buf == NULL || o->len >= o->cap) {
		o->overflow = true;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static void put_uint(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	uint32_t v = field_get(c, k);

	if (v == 0 && (k->flags & KEY_ZERO_UNSET))
		out_printf(o, "# %s: not set\n", k->name);
	else
		out_printf(o, "%s = %u\n", k->name, v);
}

static void put_enum(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	uint32_t v = field_get(c, k);

	out_printf(o, "%s = %s\n", k->name, v < k->n_names ? k->names[v] : "invalid");
}

static void put_data_dir(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	int len = (int)strnlen(c->data_dir, sizeof(c->data_dir) - 1);

	if (len == 0)
		out_printf(o, "# %s: not set\n", k->name);
	else
		out_printf(o, "%s = %.*s\n", k->name, len, c->data_dir);
}

static void put_ports(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	for (unsigned i = 0; i < c->n_ports && i < CFG_PORTS_MAX; i++)
		out_printf(o, "%s = %.*s\n", k->name,
			   (int)strnlen(c->ports[i], CFG_PORT_NAME_MAX - 1), c->ports[i]);
}

static const char *ip_text(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
	struct in_addr in = { .s_addr = htonl(ip) };

	return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

static void put_ip(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	char ip[INET_ADDRSTRLEN];

	if (c->ip == 0)
		out_printf(o, "# %s: not set\n", k->name);
	else
		out_printf(o, "%s = %s\n", k->name, ip_text(c->ip, ip));
}

/* The key itself, so that the file reads back the same: --print-config is secret. */
static void put_key(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	char hex[CFG_KEY_HEX + 1];

	if (!c->has_key)
		return;
	for (unsigned i = 0; i < SL_AUTH_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", c->key.bytes[i]);
	out_printf(o, "%s = %s\n", k->name, hex);
	explicit_bzero(hex, sizeof(hex));
}

static void put_policy(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	char text[SL_POLICY_TEXT_MAX];

	if (sl_policy_format(&c->policy, text, sizeof(text)) == 0)
		out_printf(o, "# %s: invalid\n", k->name);
	else
		out_printf(o, "%s = %s\n", k->name, text);
}

static void put_durability(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	if (c->durability != CFG_DUR_POLICY)
		out_printf(o, "%s = %s\n", k->name, sl_durability_name(c->durability));
}

static void put_controller(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	char ip[INET_ADDRSTRLEN];

	if (!cfg_has_controller(c))
		out_printf(o, "# %s: not set (the starting role comes from [cluster])\n", k->name);
	else
		out_printf(o, "%s = %s:%u\n", k->name, ip_text(c->ctl_ip, ip), c->ctl_port);
}

static void put_lease(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	if (c->lease_ms == CFG_LEASE_DEFAULT)
		out_printf(o, "# %s: default (%u with a controller, 0 without)\n", k->name,
			   CFG_LEASE_WITH_CTL);
	else
		out_printf(o, "%s = %u\n", k->name, c->lease_ms);
}

static void put_token_file(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	int len = (int)strnlen(c->token_file, sizeof(c->token_file) - 1);

	if (len == 0)
		out_printf(o, "# %s: not set\n", k->name);
	else
		out_printf(o, "%s = %.*s\n", k->name, len, c->token_file);
}

static void put_peers(struct cfg_out *o, const struct cfg *c, const struct cfg_key *k)
{
	char ip[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < c->n_peers && i < SL_NODE_MAX; i++) {
		const struct cfg_peer *p = &c->peers[i];
		const uint8_t *m = p->mac;

		out_printf(o, "%s = %u %s", k->name, p->id, ip_text(p->ip, ip));
		if (p->has_mac)
			out_printf(o, " %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
				   m[4], m[5]);
		if (p->port != 0)
			out_printf(o, " port=%u", p->port);
		if (p->udp_port != SL_UDP_PORT)
			out_printf(o, " udp=%u", p->udp_port);
		out_printf(o, "\n");
	}
}

size_t cfg_format(const struct cfg *c, char *buf, size_t cap)
{
	struct cfg_out o = { .buf = buf, .cap = cap };
	const char *section = NULL;

	out_printf(&o, "# shiplogd configuration\n");
	for (size_t i = 0; i < CFG_DIM(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (section == NULL || strcmp(section, k->section) != 0) {
			out_printf(&o, "\n[%s]\n", k->section);
			section = k->section;
		}
		if (k->put != NULL)
			k->put(&o, c, k);
	}
	if (o.overflow) {
		if (buf != NULL && cap > 0)
			buf[0] = '\0';
		return 0;
	}
	return o.len;
}

/* ---- cfg_check ---------------------------------------------------------------------------- */

static bool is_member(const struct cfg *c, uint16_t id)
{
	if (id == c->node_id)
		return true;
	for (unsigned i = 0; i < c->n_peers; i++)
		if (c->peers[i].id == id)
			return true;
	return false;
}

static int check_required(const struct cfg *c, char *why)
{
	if (c->node_id == 0)
		return conftext_why(why, "node.id: required");
	if (c->data_dir[0] == '\0')
		return conftext_why(why, "node.data_dir: required");
	if (c->n_ports == 0)
		return conftext_why(why, "node.port: at least one port required");
	if (c->ip == 0)
		return conftext_why(why, "node.ip: required");
	if (c->cluster_id == 0)
		return conftext_why(why, "cluster.id: required");
	return 0;
}

/* What the parsers guarantee, again, for a struct that did not come from them. */
static int check_ranges(const struct cfg *c, char *why)
{
	for (size_t i = 0; i < CFG_DIM(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		uint32_t v = k->size ? field_get(c, k) : 0;

		if (k->set == set_uint && !(v == 0 && (k->flags & KEY_ZERO_UNSET)) &&
		    (v < k->min || v > k->max))
			return conftext_why(why, "%s.%s: %u out of range %u..%u", k->section,
					    k->name, v, k->min, k->max);
		if (k->set == set_enum && v >= k->n_names)
			return conftext_why(why, "%s.%s: invalid value %u", k->section, k->name, v);
	}
	if (memchr(c->data_dir, '\0', CFG_VALUE_MAX + 1) == NULL || c->data_dir[0] != '/')
		return conftext_why(why, "node.data_dir: not an absolute path of at most %u bytes",
				    CFG_VALUE_MAX);
	if (c->n_ports > CFG_PORTS_MAX || c->n_peers > SL_NODE_MAX)
		return conftext_why(why, "node.port: more than %u ports or %u peers", CFG_PORTS_MAX,
				    SL_NODE_MAX);
	for (unsigned i = 0; i < c->n_ports; i++)
		if (memchr(c->ports[i], '\0', CFG_PORT_NAME_MAX) == NULL || c->ports[i][0] == '\0')
			return conftext_why(why, "node.port: port %u has no name", i);
	if (!ip_unicast(c->ip))
		return conftext_why(why, "node.ip: not a unicast IPv4 address");
	return 0;
}

static int check_leader(const struct cfg *c, char *why)
{
	/* The controller assigns roles: a static one in the file would only mislead. */
	if (cfg_has_controller(c)) {
		if (c->role != SL_ROLE_FOLLOWER && c->role != SL_ROLE_FENCED)
			return conftext_why(why,
					    "cluster.role: %s, but the controller assigns roles "
					    "(control.controller is set)",
					    role_names[c->role]);
		if (c->leader != 0)
			return conftext_why(why,
					    "cluster.leader: set, but the controller chooses the "
					    "leader (control.controller is set)");
		return 0;
	}
	if (c->leader == 0)
		return c->role == SL_ROLE_FENCED
			       ? 0
			       : conftext_why(
					 why,
					 "cluster.leader: required unless cluster.role is fenced");
	if (!is_member(c, c->leader))
		return conftext_why(why, "cluster.leader: node %u is neither this node nor a peer",
				    c->leader);
	if (c->role == SL_ROLE_LEADER && c->leader != c->node_id)
		return conftext_why(why, "cluster.role: leader, but cluster.leader is node %u",
				    c->leader);
	if ((c->role == SL_ROLE_FOLLOWER || c->role == SL_ROLE_LEARNER) && c->leader == c->node_id)
		return conftext_why(why, "cluster.role: %s, but cluster.leader is this node",
				    role_names[c->role]);
	return 0;
}

static int check_peer(const struct cfg *c, unsigned i, char *why)
{
	const struct cfg_peer *p = &c->peers[i];

	if (p->id == 0 || p->id > SL_NODE_MAX)
		return conftext_why(why, "cluster.peer: id %u out of range 1..%u", p->id,
				    SL_NODE_MAX);
	if (p->id == c->node_id)
		return conftext_why(why, "cluster.peer: node %u is this node", p->id);
	if (!ip_unicast(p->ip) || (p->has_mac && !mac_usable(p->mac)))
		return conftext_why(why, "cluster.peer: node %u: not a unicast address", p->id);
	if (p->ip == c->ip)
		return conftext_why(why, "cluster.peer: node %u has this node's IP address", p->id);
	if (p->port >= c->n_ports)
		return conftext_why(why,
				    "cluster.peer: node %u uses port %u, but %u port(s) configured",
				    p->id, p->port, c->n_ports);
	for (unsigned j = 0; j < i; j++) {
		if (c->peers[j].id == p->id)
			return conftext_why(why, "cluster.peer: node %u given twice", p->id);
		/* ARP maps an IP address to one node. MACs may repeat: a router's. */
		if (c->peers[j].ip == p->ip)
			return conftext_why(
				why, "cluster.peer: nodes %u and %u have the same IP address",
				c->peers[j].id, p->id);
	}
	return 0;
}

static int check_peers(const struct cfg *c, char *why)
{
	for (unsigned i = 0; i < c->n_peers; i++)
		if (check_peer(c, i, why) != 0)
			return -EINVAL;
	return 0;
}

static int check_policy(const struct cfg *c, char *why)
{
	const struct sl_policy *p = &c->policy;

	if (!sl_policy_valid(p))
		return conftext_why(why, "cluster.policy: invalid");
	if (c->durability != CFG_DUR_POLICY && c->durability != p->durability)
		return conftext_why(why, "cluster.durability: differs from the policy's");
	for (unsigned i = 0; i < p->n_nodes; i++) {
		if (!is_member(c, p->nodes[i]))
			return conftext_why(
				why, "cluster.policy: node %u is neither this node nor a peer",
				p->nodes[i]);
		if (c->leader != 0 && p->nodes[i] == c->leader)
			return conftext_why(why, "cluster.policy: lists the leader (node %u)",
					    p->nodes[i]);
		if (p->nodes[i] == c->node_id && c->role == SL_ROLE_LEARNER)
			return conftext_why(why, "cluster.policy: lists this node, a learner");
	}
	return 0;
}

/* A record of the largest key and value travels in one APPEND (the core's rule). */
static int check_sizes(const struct cfg *c, char *why)
{
	uint32_t room = c->mtu - CFG_IP_UDP_HDRS - SL_FRAME_HDR_LEN - sizeof(struct sl_append_hdr);
	uint32_t need = sl_record_size(SL_REC_F_ORIGIN, c->limits.key_max, c->limits.val_max);

	if (c->ring_records & (c->ring_records - 1))
		return conftext_why(why, "limits.ring_records: %u is not a power of two",
				    c->ring_records);
	/* Zero copy (DESIGN.md §4): the records in the log ring live in mbufs. */
	if (c->mbufs != 0 && c->mbufs < c->ring_records)
		return conftext_why(why, "node.mbufs: %u is below limits.ring_records (%u)",
				    c->mbufs, c->ring_records);
	if (c->window_records > c->ring_records)
		return conftext_why(why, "limits.window_records: %u is above ring_records (%u)",
				    c->window_records, c->ring_records);
	if (need > room)
		return conftext_why(
			why,
			"limits.val_max: a record of key_max %u + val_max %u takes %u bytes, "
			"an APPEND at mtu %u carries %u",
			c->limits.key_max, c->limits.val_max, need, c->mtu, room);
	return 0;
}

/* What sl_wal_open() requires of the sizes (dataplane/wal/wal.c wal_config_check). */
static int check_wal(const struct cfg *c, char *why)
{
	uint64_t batch = (uint64_t)c->batch_kb << 10, segment = (uint64_t)c->segment_mb << 20;
	uint32_t rec = sl_record_size(SL_REC_F_ORIGIN, c->limits.key_max, c->limits.val_max);

	if (c->batch_kb % 4 != 0)
		return conftext_why(why, "wal.batch_kb: not a multiple of 4 (O_DIRECT blocks)");
	if (batch < (uint64_t)rec + 4096)
		return conftext_why(
			why, "wal.batch_kb: below the largest record (%u bytes) + 4 KiB", rec);
	if (segment < SL_WAL_HDR_LEN + 2 * batch)
		return conftext_why(why, "wal.segment_mb: must hold a header and two batches");
	return 0;
}

static int check_control(const struct cfg *c, char *why)
{
	uint32_t lease = cfg_lease_ms(c);

	if ((c->ctl_ip == 0) != (c->ctl_port == 0) || (c->ctl_ip >> 24) >= 224 ||
	    c->reserved_control[0] != 0 || c->reserved_control[1] != 0)
		return conftext_why(why, "control.controller: invalid address");
	if (memchr(c->token_file, '\0', CFG_VALUE_MAX + 1) == NULL ||
	    (c->token_file[0] != '\0' && c->token_file[0] != '/'))
		return conftext_why(why,
				    "control.token_file: not an absolute path of at most %u bytes",
				    CFG_VALUE_MAX);
	if (c->lease_ms != CFG_LEASE_DEFAULT && c->lease_ms > CFG_LEASE_MAX)
		return conftext_why(why, "control.lease_ms: %u out of range 0..%u", c->lease_ms,
				    CFG_LEASE_MAX);
	if (!cfg_has_controller(c)) {
		if (lease != 0)
			return conftext_why(why,
					    "control.lease_ms: needs control.controller (a lease "
					    "is renewed by the controller)");
		if (c->token_file[0] != '\0')
			return conftext_why(why, "control.token_file: needs control.controller");
		return 0;
	}
	/* The controller renews the lease when a report reaches it (DESIGN.md §6). */
	if (lease != 0 && lease < 2 * c->report_ms)
		return conftext_why(why, "control.lease_ms: below twice report_ms: one late report "
					 "would end the lease");
	return 0;
}

static int check_timing(const struct cfg *c, char *why)
{
	if ((uint64_t)c->rto_min_us > (uint64_t)c->rto_max_ms * 1000)
		return conftext_why(why, "timing.rto_min_us: above rto_max_ms");
	if (c->health_ms <= c->heartbeat_ms)
		return conftext_why(why, "timing.health_ms: must exceed heartbeat_ms, or followers "
					 "flap between heartbeats");
	return 0;
}

int cfg_check(const struct cfg *c, char *err, size_t err_len)
{
	/* Ranges before the rest: check_sizes relies on mtu >= 576. */
	static int (*const checks[])(const struct cfg *, char *) = {
		check_required, check_ranges, check_leader, check_peers,   check_policy,
		check_sizes,	check_wal,    check_timing, check_control,
	};
	char why[CFG_ERR_MAX];

	conftext_err_put(err, err_len, "%s", "");
	for (size_t i = 0; i < CFG_DIM(checks); i++) {
		if (checks[i](c, why) != 0) {
			conftext_err_put(err, err_len, "%s", why);
			return -EINVAL;
		}
	}
	return 0;
}
