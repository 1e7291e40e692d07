/*
 * The controller's history (events.h). Events are appended one JSON line at a time and
 * synced (they are rare: leadership changes, nodes lost and found), so that after a
 * crash the sequence continues from what the file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"

static const char *const kind_names[] = {
	[CTL_EV_LEADER_LOST] = "leader_lost",
	[CTL_EV_FAILOVER_START] = "failover_start",
	[CTL_EV_FAILOVER_WAIT] = "failover_wait",
	[CTL_EV_FAILOVER_REFUSED] = "failover_refused",
	[CTL_EV_PROMOTED] = "promoted",
	[CTL_EV_ASYNC_LOSS] = "async_loss",
	[CTL_EV_TRUNCATED] = "truncated",
	[CTL_EV_SWITCHOVER_START] = "switchover_start",
	[CTL_EV_SWITCHOVER_ABORT] = "switchover_abort",
	[CTL_EV_POLICY] = "policy",
	[CTL_EV_MEMBER] = "member",
	[CTL_EV_DEGRADED] = "degraded",
	[CTL_EV_NODE_UP] = "node_up",
	[CTL_EV_NODE_DOWN] = "node_down",
	[CTL_EV_SPLIT_BRAIN] = "split_brain",
	[CTL_EV_SNAPSHOT] = "snapshot",
};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))
_Static_assert(N_KINDS == CTL_EV__MAX, "a name per kind");

const char *ctl_event_kind_name(unsigned kind)
{
	return kind < N_KINDS && kind_names[kind] ? kind_names[kind] : "unknown";
}

int ctl_event_kind_parse(const char *name)
{
	for (unsigned i = 1; i < N_KINDS; i++)
		if (kind_names[i] && strcmp(name, kind_names[i]) == 0)
			return (int)i;
	return -1;
}

void ctl_time_iso(uint64_t time_ns, char *buf, size_t cap)
{
	time_t secs = (time_t)(time_ns / 1000000000u);
	struct tm tm;

	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, cap, "?");
		return;
	}
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(time_ns / 1000000u % 1000u));
}

static json_int_t clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (json_int_t)v;
}

json_t *ctl_event_json(const struct ctl_event_rec *r)
{
	char iso[40];

	ctl_time_iso(r->time_ns, iso, sizeof(iso));
	return json_pack("{s:I,s:I,s:s,s:s,s:i,s:I,s:I,s:s}", "seq", clamp(r->seq), "time_ns",
			 clamp(r->time_ns), "time", iso, "kind", ctl_event_kind_name(r->kind),
			 "node", (int)r->node, "a", clamp(r->a), "b", clamp(r->b), "text", r->text);
}

int ctl_event_from_json(const json_t *o, struct ctl_event_rec *r)
{
	json_int_t seq, time_ns, node, a, b;
	const char *kind, *text;
	int k;

	memset(r, 0, sizeof(*r));
	if (json_unpack((json_t *)o, "{s:I,s:I,s:s,s:I,s:I,s:I,s:s}", "seq", &seq, "time_ns",
			&time_ns, "kind", &kind, "node", &node, "a", &a, "b", &b, "text",
			&text) != 0)
		return -EINVAL;
	k = ctl_event_kind_parse(kind);
	if (seq < 1 || time_ns < 0 || node < 0 || node > SL_NODE_MAX || a < 0 || b < 0 || k < 0)
		return -EINVAL;
	r->seq = (uint64_t)seq;
	r->time_ns = (uint64_t)time_ns;
	r->kind = (uint8_t)k;
	r->node = (uint16_t)node;
	r->a = (uint64_t)a;
	r->b = (uint64_t)b;
	snprintf(r->text, sizeof(r->text), "%s", text);
	for (char *p = r->text; *p; p++) /* as ctl_events_add keeps them */
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return 0;
}

int ctl_jsonl_append(int fd, const json_t *o, bool sync)
{
	char *line = json_dumps(o, JSON_COMPACT);
	size_t n, off = 0;
	int rc = 0;

	if (line == NULL)
		return -ENOMEM;
	n = strlen(line);
	line[n++] = '\n'; /* replaces the NUL: written by length */
	while (rc == 0 && off < n) {
		ssize_t w = write(fd, line + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	free(line);
	if (rc == 0 && sync && fdatasync(fd) != 0)
		rc = -errno;
	return rc;
}

int ctl_jsonl_open(const char *dir, const char *name)
{
	char path[1024];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	return fd < 0 ? -errno : fd;
}

static void ring_push(struct ctl_events *e, const struct ctl_event_rec *r)
{
	uint32_t slot = (e->head + e->count) % CTL_EVENTS_KEEP;

	if (e->count == CTL_EVENTS_KEEP) {
		slot = e->head;
		e->head = (e->head + 1) % CTL_EVENTS_KEEP;
	} else {
		e->count++;
	}
	e->ring[slot] = *r;
}

const struct ctl_event_rec *ctl_events_at(const struct ctl_events *e, uint32_t i)
{
	return i < e->count ? &e->ring[(e->head + i) % CTL_EVENTS_KEEP] : NULL;
}

/* One line of the tail read back. */
static void tail_line(struct ctl_events *e, const char *s, size_t n)
{
	struct ctl_event_rec r;
	json_t *o;

	if (n == 0)
		return;
	o = json_loadb(s, n, 0, NULL);
	if (o == NULL || ctl_event_from_json(o, &r) != 0) {
		e->lines_skipped++;
	} else {
		ring_push(e, &r);
		if (r.seq >= e->next_seq)
			e->next_seq = r.seq + 1;
	}
	json_decref(o);
}

/* Reads the last CTL_EVENTS_TAIL_MAX bytes; a torn last line gets its newline. */
static int read_tail(struct ctl_events *e, int rfd)
{
	struct stat st;
	size_t want, n = 0, start = 0;
	char *buf;
	ssize_t r;

	if (fstat(rfd, &st) != 0)
		return -errno;
	want = (size_t)st.st_size < CTL_EVENTS_TAIL_MAX ? (size_t)st.st_size : CTL_EVENTS_TAIL_MAX;
	if (want == 0)
		return 0;
	buf = malloc(want);
	if (buf == NULL)
		return -ENOMEM;
	while (n < want) {
		r = pread(rfd, buf + n, want - n, st.st_size - (off_t)want + (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if ((size_t)st.st_size > want) { /* began mid-line: skip to the next */
		while (start < n && buf[start] != '\n')
			start++;
		start++;
	}
	for (size_t i = start; i < n;) {
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (buf + i)) : n - i;

		tail_line(e, buf + i, len);
		i += len + 1;
	}
	if (n > 0 && buf[n - 1] != '\n' && e->fd >= 0 && write(e->fd, "\n", 1) != 1)
		e->write_errors++;
	free(buf);
	return 0;
}

int ctl_events_open(struct ctl_events *e, const char *dir, FILE *echo, char *err, size_t err_len)
{
	char path[1024];
	int rc = 0, rfd;

	memset(e, 0, sizeof(*e));
	e->fd = -1;
	e->echo = echo;
	e->next_seq = 1;
	if (dir == NULL)
		return 0;
	rc = ctl_jsonl_open(dir, CTL_EVENTS_FILE);
	if (rc < 0) {
		snprintf(err, err_len, "%s/" CTL_EVENTS_FILE ": %s", dir, strerror(-rc));
		return rc;
	}
	e->fd = rc;
	snprintf(path, sizeof(path), "%s/" CTL_EVENTS_FILE, dir);
	rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	rc = rfd < 0 ? -errno : read_tail(e, rfd);
	if (rfd >= 0)
		close(rfd);
	if (rc != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
		ctl_events_close(e);
	}
	return rc;
}

void ctl_events_close(struct ctl_events *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

int ctl_events_add(struct ctl_events *e, uint64_t time_ns, unsigned kind, unsigned node, uint64_t a,
		   uint64_t b, const char *text)
{
	struct ctl_event_rec r = {
		.seq = e->next_seq++,
		.time_ns = time_ns,
		.kind = (uint8_t)kind,
		.node = (uint16_t)node,
		.a = a,
		.b = b,
	};
	json_t *o;
	int rc = 0;

	snprintf(r.text, sizeof(r.text), "%s", text ? text : "");
	for (char *p = r.text; *p; p++) /* JSON wants UTF-8, logs want one line */
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	ring_push(e, &r);
	e->added[kind < CTL_EV__MAX ? kind : 0]++;
	if (e->echo != NULL)
		fprintf(e->echo, "shiplog-controller: event %llu %s node %u: %s\n",
			(unsigned long long)r.seq, ctl_event_kind_name(kind), node, r.text);
	if (e->fd < 0)
		return 0;
	o = ctl_event_json(&r);
	rc = o ? ctl_jsonl_append(e->fd, o, true) : -ENOMEM;
	json_decref(o);
	if (rc != 0)
		e->write_errors++;
	return rc;
}
