/*
 * The controller's state store (store.h): the JSON codec of struct ctl_state and the
 * file store. The epoch in it is a fencing token (DESIGN.md §6): a state that does not
 * decode whole, or breaks an invariant, stops the controller instead of being reset,
 * since a fresh state would hand out epochs again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <shiplog/crc32c.h>

#include "store.h"

#define STATE_TMP     CTL_STATE_FILE ".tmp"
#define STORE_DIR_MAX 512u

static const char *const phase_names[] = {
	[CTL_PHASE_BOOT] = "boot",
	[CTL_PHASE_STEADY] = "steady",
	[CTL_PHASE_FAILOVER] = "failover",
	[CTL_PHASE_SWITCHOVER] = "switchover",
};
#define N_PHASES (sizeof(phase_names) / sizeof(phase_names[0]))

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_len, const char *fmt,
						      ...)
{
	va_list ap;

	if (err != NULL && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return -EINVAL;
}

/* ---- invariants ------------------------------------------------------------------------ */

static const struct ctl_member *member_find(const struct ctl_state *st, unsigned id)
{
	for (unsigned i = 0; i < st->n_members && i < SL_NODE_MAX; i++)
		if (st->members[i].id == id)
			return &st->members[i];
	return NULL;
}

static int check_members(const struct ctl_state *st, char *err, size_t err_len)
{
	uint64_t seen = 0;
	bool voter = false;

	if (st->n_members == 0 || st->n_members > SL_NODE_MAX)
		return fail(err, err_len, "members: 1..%u members", SL_NODE_MAX);
	for (unsigned i = 0; i < st->n_members; i++) {
		unsigned id = st->members[i].id;

		if (id < 1 || id > SL_NODE_MAX)
			return fail(err, err_len, "members: node id %u out of range 1..%u", id,
				    SL_NODE_MAX);
		if (seen & (1ull << (id - 1)))
			return fail(err, err_len, "members: node %u listed twice", id);
		seen |= 1ull << (id - 1);
		voter |= !st->members[i].learner;
	}
	if (!voter)
		return fail(err, err_len, "members: every member is a learner");
	return 0;
}

static int check_roles(const struct ctl_state *st, char *err, size_t err_len)
{
	const struct ctl_member *leader = member_find(st, st->leader);

	if (st->leader != 0 && (leader == NULL || leader->learner))
		return fail(err, err_len, "leader: node %u is not a non-learner member",
			    st->leader);
	if (st->target != 0 && member_find(st, st->target) == NULL)
		return fail(err, err_len, "target: node %u is not a member", st->target);
	if (st->preferred > SL_NODE_MAX)
		return fail(err, err_len, "preferred: out of range 0..%u", SL_NODE_MAX);
	if (st->epoch == 0 && (st->leader != 0 || st->phase != CTL_PHASE_BOOT))
		return fail(err, err_len, "epoch 0 has neither leader nor phase past boot");
	if ((st->phase == CTL_PHASE_STEADY || st->phase == CTL_PHASE_SWITCHOVER) && st->leader == 0)
		return fail(err, err_len, "phase %s without a leader", phase_names[st->phase]);
	if (st->phase == CTL_PHASE_SWITCHOVER && (st->target == 0 || st->target == st->leader))
		return fail(err, err_len, "switchover without a target other than the leader");
	return 0;
}

int ctl_state_check(const struct ctl_state *st, char *err, size_t err_len)
{
	if (st->cluster_id == 0)
		return fail(err, err_len, "cluster_id: 0");
	if (st->phase >= N_PHASES)
		return fail(err, err_len, "phase: %u unknown", st->phase);
	if (!sl_policy_valid(&st->policy))
		return fail(err, err_len, "policy: invalid");
	if (!sl_policy_valid(&st->prev_policy))
		return fail(err, err_len, "prev_policy: invalid");
	if (st->version > INT64_MAX || st->policy_lsn > INT64_MAX || st->commit_seen > INT64_MAX)
		return fail(err, err_len, "a counter beyond 2^63-1");
	if (check_members(st, err, err_len) != 0)
		return -EINVAL;
	return check_roles(st, err, err_len);
}

int ctl_state_equal(const struct ctl_state *a, const struct ctl_state *b)
{
	if (a->version != b->version || a->cluster_id != b->cluster_id || a->epoch != b->epoch ||
	    a->leader != b->leader || a->phase != b->phase || a->target != b->target ||
	    a->force != b->force || a->preferred != b->preferred ||
	    a->old_leader != b->old_leader ||
	    memcmp(&a->policy, &b->policy, sizeof(a->policy)) != 0 ||
	    memcmp(&a->prev_policy, &b->prev_policy, sizeof(a->prev_policy)) != 0 ||
	    a->policy_lsn != b->policy_lsn || a->commit_seen != b->commit_seen ||
	    a->n_members != b->n_members)
		return 0;
	for (unsigned i = 0; i < a->n_members && i < SL_NODE_MAX; i++)
		if (a->members[i].id != b->members[i].id ||
		    a->members[i].learner != b->members[i].learner)
			return 0;
	return 1;
}

/* ---- encoding -------------------------------------------------------------------------- */

static json_t *policy_json(const struct sl_policy *p)
{
	char text[SL_POLICY_TEXT_MAX];

	if (sl_policy_format(p, text, sizeof(text)) == 0)
		return NULL;
	return json_string(text);
}

static json_t *state_json(const struct ctl_state *st)
{
	json_t *o = json_object(), *m = json_array();
	int bad = o == NULL || m == NULL;

	for (unsigned i = 0; !bad && i < st->n_members; i++)
		bad |= json_array_append_new(m,
					     json_pack("{s:i,s:b}", "node", (int)st->members[i].id,
						       "learner", (int)st->members[i].learner));
	bad = bad || json_object_set_new(o, "version", json_integer((json_int_t)st->version)) ||
	      json_object_set_new(o, "cluster_id", json_integer(st->cluster_id)) ||
	      json_object_set_new(o, "epoch", json_integer(st->epoch)) ||
	      json_object_set_new(o, "leader", json_integer(st->leader)) ||
	      json_object_set_new(o, "phase", json_string(phase_names[st->phase])) ||
	      json_object_set_new(o, "target", json_integer(st->target)) ||
	      json_object_set_new(o, "force", json_boolean(st->force)) ||
	      json_object_set_new(o, "preferred", json_integer(st->preferred)) ||
	      /* Only while a failover runs: a state without one reads (and sums, for
	       * its CRC) as the files written before the key existed. */
	      (st->old_leader &&
	       json_object_set_new(o, "old_leader", json_integer(st->old_leader))) ||
	      json_object_set_new(o, "policy", policy_json(&st->policy)) ||
	      json_object_set_new(o, "prev_policy", policy_json(&st->prev_policy)) ||
	      json_object_set_new(o, "policy_lsn", json_integer((json_int_t)st->policy_lsn)) ||
	      json_object_set_new(o, "commit_seen", json_integer((json_int_t)st->commit_seen)) ||
	      json_object_set(o, "members", m);
	json_decref(m);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The CRC of the state's canonical compact text; 0 and *ok false when it cannot be made. */
static uint32_t state_crc(const json_t *so, bool *ok)
{
	char *text = json_dumps(so, JSON_COMPACT);
	uint32_t crc;

	*ok = text != NULL;
	if (text == NULL)
		return 0;
	crc = sl_crc32c(0, text, strlen(text));
	free(text);
	return crc;
}

size_t ctl_state_encode(const struct ctl_state *st, char *buf, size_t cap)
{
	json_t *so, *file;
	size_t n = 0;
	bool ok;
	uint32_t crc;

	if (ctl_state_check(st, NULL, 0) != 0 || (so = state_json(st)) == NULL)
		return 0;
	crc = state_crc(so, &ok);
	file = json_pack("{s:i,s:o,s:I}", "format", CTL_STATE_FORMAT, "state", so, "crc32c",
			 (json_int_t)crc);
	if (ok && file != NULL)
		n = json_dumpb(file, buf, cap, JSON_INDENT(1));
	else if (file == NULL)
		ok = false;
	json_decref(file);
	if (!ok || n == 0 || n + 2 > cap)
		return 0;
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

/* ---- decoding -------------------------------------------------------------------------- */

/* Fails when o has a key not in names[]. */
static int only_keys(const json_t *o, const char *const *names, size_t n, const char *what,
		     char *err, size_t err_len)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)o, key, v)
	{
		size_t i;

		for (i = 0; i < n && strcmp(key, names[i]) != 0; i++)
			;
		if (i == n)
			return fail(err, err_len, "%s: unknown field \"%.32s\"", what, key);
	}
	return 0;
}

static int get_uint(const json_t *o, const char *key, uint64_t max, uint64_t *out, char *err,
		    size_t err_len)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return fail(err, err_len, "%s: missing", key);
	if (!json_is_integer(v))
		return fail(err, err_len, "%s: not an integer", key);
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return fail(err, err_len, "%s: out of range 0..%llu", key, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_policy(const json_t *o, const char *key, struct sl_policy *out, char *err,
		      size_t err_len)
{
	const json_t *v = json_object_get(o, key);
	char perr[128];

	if (v == NULL)
		return fail(err, err_len, "%s: missing", key);
	if (!json_is_string(v))
		return fail(err, err_len, "%s: not a string", key);
	if (sl_policy_parse(json_string_value(v), json_string_length(v), out, perr, sizeof(perr)) !=
	    0)
		return fail(err, err_len, "%s: %s", key, perr);
	return 0;
}

static int get_phase(const json_t *o, uint8_t *out, char *err, size_t err_len)
{
	const json_t *v = json_object_get(o, "phase");

	if (v == NULL)
		return fail(err, err_len, "phase: missing");
	for (unsigned i = 0; json_is_string(v) && i < N_PHASES; i++)
		if (strcmp(json_string_value(v), phase_names[i]) == 0) {
			*out = (uint8_t)i;
			return 0;
		}
	return fail(err, err_len, "phase: expected boot|steady|failover|switchover");
}

static int get_bool(const json_t *o, const char *key, bool *out, char *err, size_t err_len)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL)
		return fail(err, err_len, "%s: missing", key);
	if (!json_is_boolean(v))
		return fail(err, err_len, "%s: not true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int get_members(const json_t *o, struct ctl_state *st, char *err, size_t err_len)
{
	static const char *const names[] = { "node", "learner" };
	const json_t *m = json_object_get(o, "members");
	size_t i;
	json_t *e;

	if (!json_is_array(m))
		return fail(err, err_len, "members: %s", m ? "not an array" : "missing");
	if (json_array_size(m) == 0 || json_array_size(m) > SL_NODE_MAX)
		return fail(err, err_len, "members: 1..%u members", SL_NODE_MAX);
	json_array_foreach(m, i, e)
	{
		uint64_t id;

		if (!json_is_object(e))
			return fail(err, err_len, "members[%zu]: not an object", i);
		if (only_keys(e, names, 2, "members[]", err, err_len) != 0 ||
		    get_uint(e, "node", SL_NODE_MAX, &id, err, err_len) != 0 ||
		    get_bool(e, "learner", &st->members[i].learner, err, err_len) != 0)
			return -EINVAL;
		st->members[i].id = (uint16_t)id;
	}
	st->n_members = (uint8_t)i;
	return 0;
}

static int decode_state(const json_t *o, struct ctl_state *st, char *err, size_t err_len)
{
	static const char *const names[] = { "version", "cluster_id",  "epoch",	     "leader",
					     "phase",	"target",      "force",	     "preferred",
					     "policy",	"prev_policy", "policy_lsn", "commit_seen",
					     "members", "old_leader" };
	uint64_t v[6] = { 0 };

	if (!json_is_object(o))
		return fail(err, err_len, "state: not an object");
	if (only_keys(o, names, sizeof(names) / sizeof(names[0]), "state", err, err_len) != 0 ||
	    get_uint(o, "version", INT64_MAX, &st->version, err, err_len) != 0 ||
	    get_uint(o, "cluster_id", UINT32_MAX, &v[0], err, err_len) != 0 ||
	    get_uint(o, "epoch", UINT32_MAX, &v[1], err, err_len) != 0 ||
	    get_uint(o, "leader", SL_NODE_MAX, &v[2], err, err_len) != 0 ||
	    get_phase(o, &st->phase, err, err_len) != 0 ||
	    get_uint(o, "target", SL_NODE_MAX, &v[3], err, err_len) != 0 ||
	    get_bool(o, "force", &st->force, err, err_len) != 0 ||
	    get_uint(o, "preferred", SL_NODE_MAX, &v[4], err, err_len) != 0 ||
	    /* Newer than the first state files: absent is none. */
	    (json_object_get(o, "old_leader") &&
	     get_uint(o, "old_leader", SL_NODE_MAX, &v[5], err, err_len) != 0) ||
	    get_policy(o, "policy", &st->policy, err, err_len) != 0 ||
	    get_policy(o, "prev_policy", &st->prev_policy, err, err_len) != 0 ||
	    get_uint(o, "policy_lsn", INT64_MAX, &st->policy_lsn, err, err_len) != 0 ||
	    get_uint(o, "commit_seen", INT64_MAX, &st->commit_seen, err, err_len) != 0 ||
	    get_members(o, st, err, err_len) != 0)
		return -EINVAL;
	st->cluster_id = (uint32_t)v[0];
	st->epoch = (uint32_t)v[1];
	st->leader = (uint16_t)v[2];
	st->target = (uint16_t)v[3];
	st->preferred = (uint16_t)v[4];
	st->old_leader = (uint16_t)v[5];
	return ctl_state_check(st, err, err_len);
}

/* The CRC written is the CRC of the state as this controller encodes what it read. */
static int check_crc(const json_t *file, const struct ctl_state *st, char *err, size_t err_len)
{
	uint64_t stored;
	json_t *so;
	uint32_t crc;
	bool ok;

	if (get_uint(file, "crc32c", UINT32_MAX, &stored, err, err_len) != 0)
		return -EINVAL;
	so = state_json(st);
	if (so == NULL)
		return fail(err, err_len, "state: cannot be encoded again");
	crc = state_crc(so, &ok);
	json_decref(so);
	if (!ok)
		return fail(err, err_len, "out of memory");
	if (crc != stored)
		return fail(err, err_len,
			    "crc32c: 0x%08x stored, 0x%08x computed: the file was changed or "
			    "damaged",
			    (unsigned)stored, (unsigned)crc);
	return 0;
}

int ctl_state_decode(const char *text, size_t len, struct ctl_state *out, unsigned flags, char *err,
		     size_t err_len)
{
	static const char *const names[] = { "format", "state", "crc32c" };
	json_error_t jerr;
	json_t *file;
	uint64_t format;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > CTL_STATE_TEXT_MAX)
		return fail(err, err_len, "larger than %u bytes", CTL_STATE_TEXT_MAX);
	file = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (file == NULL)
		return fail(err, err_len, "not JSON: line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(file))
		rc = fail(err, err_len, "not a JSON object");
	else if ((rc = only_keys(file, names, 3, "file", err, err_len)) != 0)
		;
	else if ((rc = get_uint(file, "format", UINT32_MAX, &format, err, err_len)) != 0)
		;
	else if (format != CTL_STATE_FORMAT)
		rc = fail(err, err_len, "format %llu: this controller reads format %u",
			  (unsigned long long)format, CTL_STATE_FORMAT);
	else if (json_object_get(file, "state") == NULL)
		rc = fail(err, err_len, "state: missing");
	else if ((rc = decode_state(json_object_get(file, "state"), out, err, err_len)) != 0)
		;
	else if (!(flags & CTL_STATE_NO_CRC))
		rc = check_crc(file, out, err, err_len);
	else if (json_object_get(file, "crc32c") == NULL)
		rc = fail(err, err_len, "crc32c: missing");
	json_decref(file);
	return rc == 0 ? 0 : -EINVAL;
}

/* ---- the file store -------------------------------------------------------------------- */

struct file_store {
	struct ctl_store base;
	int dirfd;
	unsigned fault; /* enum ctl_store_fault, for the next save */
	char dir[STORE_DIR_MAX];
	char text[CTL_STATE_TEXT_MAX + 1];
	struct ctl_state check; /* the state read back before writing */
};

static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	ssize_t r;

	do {
		r = read(fd, buf + n, cap - n);
		if (r > 0)
			n += (size_t)r;
	} while ((r > 0 && n < cap) || (r < 0 && errno == EINTR));
	*len = n;
	return r < 0 ? -errno : 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int file_load(struct ctl_store *s, struct ctl_state *out, char *err, size_t err_len)
{
	struct file_store *fs = (struct file_store *)s;
	char why[256];
	struct stat st;
	size_t n = 0;
	int rc, fd = openat(fs->dirfd, CTL_STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		rc = -errno;
		fail(err, err_len, "%s/" CTL_STATE_FILE ": %s", fs->dir, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		fail(err, err_len, "%s/" CTL_STATE_FILE ": not a regular file", fs->dir);
		return -EINVAL;
	}
	rc = read_all(fd, fs->text, CTL_STATE_TEXT_MAX + 1, &n);
	close(fd);
	if (rc != 0) {
		fail(err, err_len, "%s/" CTL_STATE_FILE ": %s", fs->dir, strerror(-rc));
		return rc;
	}
	rc = ctl_state_decode(fs->text, n, out, 0, why, sizeof(why));
	if (rc != 0)
		fail(err, err_len, "%s/" CTL_STATE_FILE ": %s", fs->dir, why);
	return rc;
}

/* Writes the temporary file whole and synced, or fails (fault injection included). */
static int write_tmp(struct file_store *fs, size_t n)
{
	int rc, fd = openat(fs->dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	if (fs->fault == CTL_STORE_FAULT_WRITE) {
		rc = write_all(fd, fs->text, n / 2);
		close(fd);
		return -EIO;
	}
	rc = write_all(fd, fs->text, n);
	if (rc == 0 && fs->fault == CTL_STORE_FAULT_FSYNC) {
		close(fd);
		return -EIO;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int file_save(struct ctl_store *s, const struct ctl_state *state, char *err, size_t err_len)
{
	struct file_store *fs = (struct file_store *)s;
	size_t n = ctl_state_encode(state, fs->text, sizeof(fs->text));
	unsigned fault = fs->fault;
	int rc;

	if (n == 0) {
		char why[256] = "too large";

		ctl_state_check(state, why, sizeof(why));
		fail(err, err_len, "%s/" CTL_STATE_FILE ": state not saved: %s", fs->dir, why);
		return -EINVAL;
	}
	/* Read it back before it replaces the old: an encoder bug must not reach disk. */
	if (ctl_state_decode(fs->text, n, &fs->check, 0, NULL, 0) != 0 ||
	    !ctl_state_equal(&fs->check, state)) {
		fail(err, err_len, "%s/" CTL_STATE_FILE ": encoded state does not read back",
		     fs->dir);
		return -EINVAL;
	}
	rc = write_tmp(fs, n);
	fs->fault = CTL_STORE_FAULT_NONE;
	if (rc == 0 && fault == CTL_STORE_FAULT_RENAME)
		rc = -EIO;
	if (rc == 0 && renameat(fs->dirfd, STATE_TMP, fs->dirfd, CTL_STATE_FILE) != 0)
		rc = -errno;
	if (rc == 0 && fsync(fs->dirfd) != 0)
		rc = -errno;
	if (rc != 0) {
		if (fault == CTL_STORE_FAULT_NONE)
			unlinkat(fs->dirfd, STATE_TMP, 0);
		fail(err, err_len, "%s/" CTL_STATE_FILE ": save failed: %s", fs->dir,
		     strerror(-rc));
	}
	return rc;
}

static void file_close(struct ctl_store *s)
{
	struct file_store *fs = (struct file_store *)s;

	if (fs == NULL)
		return;
	close(fs->dirfd);
	free(fs);
}

struct ctl_store *ctl_store_file_open(const char *dir, char *err, size_t err_len)
{
	struct file_store *fs;
	int e;

	if (strlen(dir) >= STORE_DIR_MAX) {
		fail(err, err_len, "%.64s...: path too long", dir);
		errno = ENAMETOOLONG;
		return NULL;
	}
	fs = calloc(1, sizeof(*fs));
	if (fs == NULL) {
		fail(err, err_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	fs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->dirfd < 0) {
		e = errno;
		fail(err, err_len, "%s: %s", dir, strerror(e));
		free(fs);
		errno = e;
		return NULL;
	}
	snprintf(fs->dir, sizeof(fs->dir), "%s", dir);
	fs->base.kind = "file";
	fs->base.load = file_load;
	fs->base.save = file_save;
	fs->base.close = file_close;
	return &fs->base;
}

void ctl_store_file_fault(struct ctl_store *s, unsigned fault)
{
	((struct file_store *)s)->fault = fault;
}
