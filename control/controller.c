/*
 * shiplog-controller (DESIGN.md §1, §6): one process per cluster. It listens for the
 * nodes' agents (control.h) and for operators (admin.h), feeds what it hears to the
 * controller's decisions (ctlcore.h) and executes what they ask, in order: store the
 * state, send commands, record events. One thread, one epoll loop, non-blocking
 * sockets, buffers of fixed size allocated at start-up.
 *
 * The rule it keeps for ctlcore: a command of an epoch leaves only after the state
 * holding that epoch is durable. A save that fails stops the controller (exit 1)
 * before anything after it in the step is executed.
 *
 * Metrics in the Prometheus text format (DESIGN.md §8), when metrics_listen is set: the
 * HTTP server (metrics.h) is one more fd in the loop, and renders the same state and
 * counters as the admin API's status result (ctlmetrics.h) on this same thread.
 */
#define _GNU_SOURCE /* accept4, struct ucred */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "admin.h"
#include "ctlconf.h"
#include "ctlcore.h"
#include "ctlmetrics.h"
#include "events.h"
#include "metrics.h"
#include "store.h"

#ifndef SHIPLOG_VERSION
#define SHIPLOG_VERSION "unknown"
#endif

#define PROG		   "shiplog-controller"
#define CTLD_TICK_NS	   20000000ull /* ctlcore's clock: CTL_IN_TICK */
#define CTLD_AGENTS_MAX	   (2u * SL_NODE_MAX)
#define CTLD_ADMINS_MAX	   16u
#define CTLD_AGENT_OUT_MAX (4u * SL_CTL_LINE_MAX) /* commands not yet written */
#define CTLD_HELLO_NS	   5000000000ull	  /* a new agent says hello within */
#define CTLD_AGENT_IDLE_NS 30000000000ull	  /* or 10 failure timeouts, the longer */
#define CTLD_ADMIN_IDLE_NS 300000000000ull
#define CTLD_EPOLL_BATCH   64
#define CTLD_OVERRIDES_MAX 64
#define CTLD_ERR_MAX	   512
#define EXIT_CONFIG	   2

/* epoll tags: fixed sources, then agents, then admin connections. */
enum { TAG_SIGNAL = 1, TAG_TIMER, TAG_AGENT_LISTEN, TAG_ADMIN_UNIX, TAG_ADMIN_TCP, TAG_METRICS };
#define TAG_AGENT 0x100u
#define TAG_ADMIN 0x200u

struct conn {
	int fd;	      /* -1: free */
	bool hello;   /* agent: said hello; node is set */
	bool closing; /* close once out[] is written */
	uint16_t node;
	uint32_t tag;
	uint32_t ep_events;
	uint64_t opened_ns;
	uint64_t last_ns;
	struct ctl_admin_peer peer;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
};

struct ctld {
	struct ctlconf conf;
	struct ctl_store *store;
	struct ctl *ctl;
	void *ctl_mem;
	struct ctl_events *events;
	struct ctl_out *out;
	struct ctl_counters counters;
	struct ctl_metrics_http *metrics; /* NULL: no metrics_listen */
	int epfd, sigfd, timerfd, agent_lfd, admin_ufd, admin_tfd, audit_fd, lock_fd;
	bool stop;
	bool fatal;
	bool stored; /* the store holds a state (loaded, or saved since) */
	char agent_addr[CTLCONF_ADDR_TEXT_MAX];
	char admin_addr[CTLCONF_ADDR_TEXT_MAX];
	char metrics_addr[CTLCONF_ADDR_TEXT_MAX];
	struct conn agents[CTLD_AGENTS_MAX];
	struct conn admins[CTLD_ADMINS_MAX];
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void addr_text(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, cap, "unix");
	}
}

/* ---- connections ------------------------------------------------------------------- */

static int ep_set(struct ctld *d, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = c->tag };

	if (events == c->ep_events)
		return 0;
	c->ep_events = events;
	return epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct ctld *d, struct conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if ((c->tag & TAG_AGENT) && c->hello) {
		d->counters.agents_connected--;
		fprintf(stderr, PROG ": node %u disconnected (%s)\n", c->node, c->peer.addr);
	}
	c->fd = -1;
	c->hello = false;
	c->closing = false;
	c->node = 0;
	c->in_len = c->out_len = c->out_off = 0;
	c->ep_events = 0;
}

/* Writes what it can; closes a connection that is done or broken. */
static void conn_flush(struct ctld *d, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			conn_close(d, c);
			return;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->closing) {
			conn_close(d, c);
			return;
		}
	}
	/* An operator's next request waits for the answer to the last one. */
	ep_set(d, c,
	       (c->out_len ? EPOLLOUT : 0) |
		       (c->closing || ((c->tag & TAG_ADMIN) && c->out_len) ? 0 : EPOLLIN));
}

/* Queues a whole line or nothing: false when it does not fit. */
static bool conn_queue(struct conn *c, const char *line, size_t n)
{
	if (c->out_off > 0 && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > c->out_cap)
		return false;
	memcpy(c->out + c->out_len, line, n);
	c->out_len += n;
	return true;
}

static struct conn *conn_new(struct ctld *d, struct conn *pool, unsigned n, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (unsigned i = 0; i < n; i++) {
		struct conn *c = &pool[i];

		if (c->fd >= 0)
			continue;
		c->fd = fd;
		c->tag = tag | i;
		c->opened_ns = c->last_ns = mono_ns();
		c->ep_events = EPOLLIN;
		ev.data.u32 = c->tag;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			c->fd = -1;
			return NULL;
		}
		return c;
	}
	return NULL;
}

/* ---- executing ctlcore's actions ------------------------------------------------------ */

static void agent_close_with(struct ctld *d, struct conn *c, const char *reason);

static struct conn *agent_of(struct ctld *d, unsigned node)
{
	for (unsigned i = 0; i < CTLD_AGENTS_MAX; i++)
		if (d->agents[i].fd >= 0 && d->agents[i].hello && d->agents[i].node == node &&
		    !d->agents[i].closing)
			return &d->agents[i];
	return NULL;
}

static void send_cmd(struct ctld *d, unsigned node, const struct sl_control *cmd)
{
	struct sl_ctl_msg m = { .type = SL_CTL_MSG_CMD, .u.cmd = *cmd };
	struct conn *c = agent_of(d, node);
	char line[2048];
	int n;

	if (c == NULL) {
		d->counters.cmds_unsent++; /* ctlcore sends again on a later report */
		return;
	}
	n = sl_ctl_encode(&m, line, sizeof(line));
	if (n <= 0) {
		fprintf(stderr, PROG ": command %s to node %u not encodable (%s)\n",
			sl_control_cmd_name(cmd->cmd), node, strerror(-n));
		d->counters.cmds_unsent++;
		return;
	}
	if (!conn_queue(c, line, (size_t)n)) {
		d->counters.cmds_dropped++;
		agent_close_with(d, c, "not reading its commands");
		return;
	}
	d->counters.cmds_sent++;
	conn_flush(d, c);
}

static int save_state(struct ctld *d)
{
	char err[CTLD_ERR_MAX];

	if (d->store->save(d->store, ctl_state(d->ctl), err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s: stopping (nothing of this epoch is sent)\n", err);
		d->fatal = true;
		return -EIO;
	}
	d->counters.state_saves++;
	d->stored = true;
	return 0;
}

/* In order; a failed save stops here (and the controller). */
static int execute(struct ctld *d, const struct ctl_out *out)
{
	for (uint32_t i = 0; i < out->n_act && i < CTL_ACTIONS_MAX; i++) {
		const struct ctl_action *a = &out->act[i];

		switch (a->type) {
		case CTL_ACT_SAVE:
			if (save_state(d) != 0)
				return -EIO;
			break;
		case CTL_ACT_SEND:
			send_cmd(d, a->u.send.node, &a->u.send.cmd);
			break;
		case CTL_ACT_EVENT:
			ctl_events_add(d->events, clock_ns(CLOCK_REALTIME), a->u.event.kind,
				       a->u.event.node, a->u.event.a, a->u.event.b,
				       a->u.event.text);
			break;
		default:
			fprintf(stderr, PROG ": unknown action %u from ctlcore\n", a->type);
			break;
		}
	}
	return 0;
}

static int step(struct ctld *d, struct ctl_input *in)
{
	int rc;

	if (d->fatal)
		return -EIO;
	in->now_ns = mono_ns();
	rc = ctl_step(d->ctl, in, d->out);
	if (execute(d, d->out) != 0)
		return -EIO;
	return rc;
}

/* The nodes a command reaches now (agent_of), bit id - 1, for ctlcore's SNAPSHOT. */
static uint64_t agents_connected(struct ctld *d)
{
	uint64_t mask = 0;

	for (unsigned id = 1; id <= SL_NODE_MAX; id++)
		if (agent_of(d, id) != NULL)
			mask |= 1ull << (id - 1);
	return mask;
}

/* The admin API's privileged operations (ctl_admin_ctx.apply). */
static int admin_apply(void *arg, const struct ctl_admin *op, uint64_t *asked, char *why,
		       size_t why_len)
{
	struct ctld *d = arg;
	struct ctl_input in = { .type = CTL_IN_ADMIN, .u.admin = *op };
	int rc;

	in.u.admin.connected = agents_connected(d);
	rc = step(d, &in);
	*asked = rc == 0 ? d->out->asked : 0;
	if (rc == -EIO && d->fatal)
		snprintf(why, why_len, "the state could not be saved: the controller stops");
	else if (rc != 0)
		snprintf(why, why_len, "%s", d->out->why);
	return rc;
}

/* ---- agents ------------------------------------------------------------------------- */

static void agent_close_with(struct ctld *d, struct conn *c, const char *reason)
{
	struct sl_ctl_msg m = { .type = SL_CTL_MSG_BYE };
	char line[256];
	int n;

	snprintf(m.u.bye.reason, sizeof(m.u.bye.reason), "%s", reason);
	n = sl_ctl_encode(&m, line, sizeof(line));
	if (n > 0)
		conn_queue(c, line, (size_t)n);
	c->closing = true;
	conn_flush(d, c);
}

static void agent_reject(struct ctld *d, struct conn *c, const char *why)
{
	d->counters.agent_lines_rejected++;
	if (c->hello)
		fprintf(stderr, PROG ": agent %s node %u: %s: closing\n", c->peer.addr, c->node,
			why);
	else
		fprintf(stderr, PROG ": agent %s: %s: closing\n", c->peer.addr, why);
	agent_close_with(d, c, why);
}

static bool node_known(const struct ctld *d, unsigned node)
{
	const struct ctl_state *st = ctl_state(d->ctl);

	for (unsigned i = 0; i < st->n_members; i++)
		if (st->members[i].id == node)
			return true;
	return node >= 1 && node <= SL_NODE_MAX && (d->conf.spares >> (node - 1)) & 1;
}

static void agent_hello(struct ctld *d, struct conn *c, const struct sl_ctl_msg *m)
{
	char token[SL_CTL_TOKEN_MAX] = { 0 };
	struct conn *old;
	bool good;

	memcpy(token, m->u.hello.token, strnlen(m->u.hello.token, SL_CTL_TOKEN_MAX - 1));
	good = sodium_memcmp(token, d->conf.agent_token, SL_CTL_TOKEN_MAX) == 0;
	explicit_bzero(token, sizeof(token));
	if (m->u.hello.cluster_id != d->conf.cluster_id) {
		agent_reject(d, c, "hello: wrong cluster id");
		return;
	}
	if (!node_known(d, m->u.hello.node)) {
		agent_reject(d, c, "hello: node is neither a member nor a spare");
		return;
	}
	if (d->conf.agent_token[0] != '\0' && !good) {
		agent_reject(d, c, "hello: wrong or missing agent token");
		return;
	}
	old = agent_of(d, m->u.hello.node);
	if (old != NULL)
		agent_close_with(d, old, "replaced by a newer connection from the same node");
	c->hello = true;
	c->node = m->u.hello.node;
	d->counters.agents_connected++;
	fprintf(stderr, PROG ": node %u connected from %s\n", c->node, c->peer.addr);
}

static void agent_line(struct ctld *d, struct conn *c, const char *line, size_t len)
{
	struct ctl_input in = { 0 };
	char err[200];
	struct sl_ctl_msg m;

	if (sl_ctl_decode(line, len, &m, err, sizeof(err)) != 0) {
		agent_reject(d, c, err);
		return;
	}
	if (!c->hello) {
		if (m.type == SL_CTL_MSG_HELLO)
			agent_hello(d, c, &m);
		else
			agent_reject(d, c, "hello first");
		return;
	}
	switch (m.type) {
	case SL_CTL_MSG_REPORT:
		if (m.u.report.node != c->node || m.u.report.cluster_id != d->conf.cluster_id) {
			agent_reject(d, c, "report: another node's or cluster's");
			return;
		}
		d->counters.agent_reports++;
		in.type = CTL_IN_REPORT;
		in.u.report = &m.u.report;
		break;
	case SL_CTL_MSG_NOTE:
		if (m.u.note.node != c->node) {
			agent_reject(d, c, "note: another node's");
			return;
		}
		d->counters.agent_notes++;
		in.type = CTL_IN_NOTE;
		in.u.note = &m.u.note;
		break;
	case SL_CTL_MSG_BYE:
		c->closing = true; /* the agent leaves: nothing to count */
		conn_flush(d, c);
		return;
	default:
		agent_reject(d, c,
			     m.type == SL_CTL_MSG_HELLO ? "hello twice"
							: "not a message for the controller");
		return;
	}
	step(d, &in);
}

/* Lines in c->in: each one handled, the rest kept; a line too long is an error. */
static void drain_lines(struct ctld *d, struct conn *c,
			void (*handle)(struct ctld *, struct conn *, const char *, size_t))
{
	size_t off = 0;
	char *nl;

	while (c->fd >= 0 && !c->closing && !d->fatal &&
	       (!(c->tag & TAG_ADMIN) || c->out_len == 0) &&
	       (nl = memchr(c->in + off, '\n', c->in_len - off)) != NULL) {
		size_t n = (size_t)(nl - (c->in + off)) + 1;

		handle(d, c, c->in + off, n);
		off += n;
		if ((c->tag & TAG_ADMIN) && c->out_len > 0)
			break; /* one answer in flight at a time */
	}
	if (c->fd < 0)
		return;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void conn_read(struct ctld *d, struct conn *c,
		      void (*handle)(struct ctld *, struct conn *, const char *, size_t),
		      void (*too_long)(struct ctld *, struct conn *))
{
	ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		conn_close(d, c);
		return;
	}
	c->in_len += (size_t)r;
	c->last_ns = mono_ns();
	drain_lines(d, c, handle);
	if (c->fd >= 0 && !c->closing && c->in_len == c->in_cap &&
	    memchr(c->in, '\n', c->in_len) == NULL)
		too_long(d, c);
}

static void agent_too_long(struct ctld *d, struct conn *c)
{
	agent_reject(d, c, "line longer than SL_CTL_LINE_MAX");
}

/* ---- admin connections -------------------------------------------------------------- */

static void admin_line(struct ctld *d, struct conn *c, const char *line, size_t len)
{
	struct ctl_admin_ctx x = {
		.conf = &d->conf,
		.ctl = d->ctl,
		.events = d->events,
		.counters = &d->counters,
		.audit_fd = d->audit_fd,
		.now_ns = mono_ns(),
		.wall_ns = clock_ns(CLOCK_REALTIME),
		.apply = admin_apply,
		.arg = d,
	};

	if (len <= 1 || (len == 2 && line[0] == '\r'))
		return; /* blank lines between requests */
	c->out_off = 0;
	c->out_len = ctl_admin_serve(&x, &c->peer, line, len, c->out, c->out_cap);
	conn_flush(d, c);
}

static void admin_too_long(struct ctld *d, struct conn *c)
{
	static const char line[] = "{\"v\":1,\"ok\":false,\"code\":\"bad_request\","
				   "\"error\":\"request longer than SL_ADMIN_LINE_MAX\"}\n";

	d->counters.admin_requests[CTL_ADMIN_BAD_REQUEST]++;
	c->in_len = 0;
	conn_queue(c, line, sizeof(line) - 1);
	c->closing = true;
	conn_flush(d, c);
}

/* ---- listeners ---------------------------------------------------------------------- */

static void accept_agent(struct ctld *d)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct conn *c;
	int one = 1,
	    fd = accept4(d->agent_lfd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = conn_new(d, d->agents, CTLD_AGENTS_MAX, fd, TAG_AGENT);
	if (c == NULL) {
		d->counters.agent_conns_refused++;
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	memset(&c->peer, 0, sizeof(c->peer));
	c->peer.transport = CTL_ADMIN_TCP;
	addr_text((struct sockaddr *)&sa, c->peer.addr, sizeof(c->peer.addr));
	d->counters.agent_conns++;
}

static void accept_admin(struct ctld *d, int lfd, bool unix_socket)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn *c;
	int fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = conn_new(d, d->admins, CTLD_ADMINS_MAX, fd, TAG_ADMIN);
	if (c == NULL) {
		d->counters.admin_conns_refused++;
		close(fd);
		return;
	}
	memset(&c->peer, 0, sizeof(c->peer));
	c->peer.uid = c->peer.pid = -1;
	c->peer.transport = unix_socket ? CTL_ADMIN_UNIX : CTL_ADMIN_TCP;
	if (unix_socket && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->peer.uid = cred.uid;
		c->peer.pid = cred.pid;
	}
	if (unix_socket)
		snprintf(c->peer.addr, sizeof(c->peer.addr), "uid %lld pid %lld",
			 (long long)c->peer.uid, (long long)c->peer.pid);
	else
		addr_text((struct sockaddr *)&sa, c->peer.addr, sizeof(c->peer.addr));
}

static int listen_tcp(const struct ctlconf_addr *a, char *shown, size_t cap, char *err,
		      size_t err_len)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1, fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)&a->sa, a->len) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		snprintf(err, err_len, "%s: %s", a->text, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	addr_text((struct sockaddr *)&bound, shown, cap);
	return fd;
}

/* The socket's folder (/run/shiplog by default), mode 0755 when we make it: shiplogctl
 * reaches the socket through it, and /run is emptied at boot. */
static int make_socket_dir(const char *path, char *err, size_t err_len)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0 || n >= sizeof(dir))
		return 0; /* "/x.sock", or too long: listen_unix says so */
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (mkdir(dir, 0755) != 0) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, err_len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (chmod(dir, 0755) != 0) { /* whatever the umask */
		snprintf(err, err_len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* A controller answers on path: its socket is not stale. */
static bool socket_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;

	if (fd >= 0)
		close(fd);
	return live;
}

/* The Unix socket, mode 0660 from the start (umask), replacing a stale one. The state
 * folder's lock does not cover it (the default path is shared by every controller of
 * the host): one that answers is another controller's. */
static int listen_unix(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int rc, fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	size_t n = strlen(path);

	if (fd < 0 || n >= sizeof(sun.sun_path)) {
		snprintf(err, err_len, "%s: %s", path,
			 fd < 0 ? strerror(errno) : "too long for a Unix socket");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(sun.sun_path, path, n + 1);
	if (make_socket_dir(path, err, err_len) != 0) {
		close(fd);
		return -1;
	}
	if (socket_live(&sun)) {
		snprintf(err, err_len, "%s: another controller listens on it", path);
		close(fd);
		return -1;
	}
	unlink(path);
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || chmod(path, 0660) != 0 || listen(fd, 16) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int ep_add(struct ctld *d, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return fd < 0 ? 0 : epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The page for GET /metrics (metrics.h): called inside ctl_metrics_http_run/tick. */
static int render_metrics(void *arg, char *buf, size_t cap)
{
	struct ctld *d = arg;
	struct ctl_metrics_src src = {
		.ctl = d->ctl,
		.counters = &d->counters,
		.events = d->events,
		.version = SHIPLOG_VERSION,
		.now_ns = mono_ns(),
	};

	return ctl_metrics_render(&src, buf, cap);
}

/* The Prometheus endpoint, when metrics_listen is set: bound here like the other TCP
 * listeners (the same error, the port the kernel chose), then handed to libmicrohttpd. */
static int open_metrics(struct ctld *d, char *err, size_t err_len)
{
	int fd;

	if (!d->conf.metrics_listen.set)
		return 0;
	fd = listen_tcp(&d->conf.metrics_listen, d->metrics_addr, sizeof(d->metrics_addr), err,
			err_len);
	if (fd < 0)
		return -1;
	d->metrics =
		ctl_metrics_http_start(fd, CTL_METRICS_TEXT_MAX, render_metrics, d, err, err_len);
	if (d->metrics == NULL)
		return -1;
	if (ep_add(d, ctl_metrics_http_fd(d->metrics), TAG_METRICS) != 0) {
		snprintf(err, err_len, "epoll: %s", strerror(errno));
		return -1;
	}
	fprintf(stderr, PROG ": metrics on http://%s" CTL_METRICS_PATH "\n", d->metrics_addr);
	return 0;
}

static int open_listeners(struct ctld *d, char *err, size_t err_len)
{
	d->agent_lfd = listen_tcp(&d->conf.agent_listen, d->agent_addr, sizeof(d->agent_addr), err,
				  err_len);
	if (d->agent_lfd < 0)
		return -1;
	if (d->conf.admin_socket[0] != '\0' &&
	    (d->admin_ufd = listen_unix(d->conf.admin_socket, err, err_len)) < 0)
		return -1;
	if (d->conf.admin_listen.set &&
	    (d->admin_tfd = listen_tcp(&d->conf.admin_listen, d->admin_addr, sizeof(d->admin_addr),
				       err, err_len)) < 0)
		return -1;
	if (ep_add(d, d->agent_lfd, TAG_AGENT_LISTEN) != 0 ||
	    ep_add(d, d->admin_ufd, TAG_ADMIN_UNIX) != 0 ||
	    ep_add(d, d->admin_tfd, TAG_ADMIN_TCP) != 0) {
		snprintf(err, err_len, "epoll: %s", strerror(errno));
		return -1;
	}
	return open_metrics(d, err, err_len);
}

/* ---- time --------------------------------------------------------------------------- */

/* Closes connections past their bounds: no hello, silent agents, idle operators. */
static void housekeeping(struct ctld *d, uint64_t now)
{
	uint64_t agent_idle = 10ull * d->conf.failure_timeout_ms * 1000000ull;

	agent_idle = agent_idle > CTLD_AGENT_IDLE_NS ? agent_idle : CTLD_AGENT_IDLE_NS;
	for (unsigned i = 0; i < CTLD_AGENTS_MAX; i++) {
		struct conn *c = &d->agents[i];

		if (c->fd < 0)
			continue;
		if (c->closing && now - c->last_ns > CTLD_HELLO_NS)
			conn_close(d, c); /* a bye nobody reads */
		else if (!c->closing && !c->hello && now - c->opened_ns > CTLD_HELLO_NS)
			agent_close_with(d, c, "no hello in time");
		else if (!c->closing && now - c->last_ns > agent_idle)
			agent_close_with(d, c, "silent for too long");
	}
	for (unsigned i = 0; i < CTLD_ADMINS_MAX; i++)
		if (d->admins[i].fd >= 0 && now - d->admins[i].last_ns > CTLD_ADMIN_IDLE_NS)
			conn_close(d, &d->admins[i]);
}

static void on_timer(struct ctld *d)
{
	struct ctl_input in = { .type = CTL_IN_TICK };
	uint64_t expirations;

	if (read(d->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	step(d, &in);
	housekeeping(d, mono_ns());
	if (d->metrics != NULL)
		ctl_metrics_http_tick(d->metrics, CTLD_TICK_NS / 1000000u);
}

static void on_signal(struct ctld *d)
{
	struct signalfd_siginfo si;

	if (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		fprintf(stderr, PROG ": signal %u: saving and stopping\n", si.ssi_signo);
		d->stop = true;
	}
}

static void dispatch(struct ctld *d, const struct epoll_event *ev)
{
	uint32_t tag = ev->data.u32;
	struct conn *c;

	switch (tag) {
	case TAG_SIGNAL:
		on_signal(d);
		return;
	case TAG_TIMER:
		on_timer(d);
		return;
	case TAG_AGENT_LISTEN:
		accept_agent(d);
		return;
	case TAG_ADMIN_UNIX:
		accept_admin(d, d->admin_ufd, true);
		return;
	case TAG_ADMIN_TCP:
		accept_admin(d, d->admin_tfd, false);
		return;
	case TAG_METRICS:
		ctl_metrics_http_run(d->metrics);
		return;
	}
	c = (tag & TAG_AGENT) ? &d->agents[(tag & 0xff) % CTLD_AGENTS_MAX]
			      : &d->admins[(tag & 0xff) % CTLD_ADMINS_MAX];
	if (c->fd < 0 || c->tag != tag)
		return;
	if (ev->events & EPOLLOUT)
		conn_flush(d, c);
	if (c->fd >= 0 && (c->tag & TAG_ADMIN) && c->out_len == 0 && !c->closing)
		drain_lines(d, c, admin_line); /* requests that waited for the answer */
	if (c->fd >= 0 && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->closing &&
	    ((c->tag & TAG_AGENT) || c->out_len == 0))
		conn_read(d, c, (tag & TAG_AGENT) ? agent_line : admin_line,
			  (tag & TAG_AGENT) ? agent_too_long : admin_too_long);
	else if (c->fd >= 0 && (ev->events & (EPOLLHUP | EPOLLERR)))
		conn_close(d, c);
}

static int run(struct ctld *d)
{
	struct epoll_event evs[CTLD_EPOLL_BATCH];

	while (!d->stop && !d->fatal) {
		int n = epoll_wait(d->epfd, evs, CTLD_EPOLL_BATCH, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, PROG ": epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n && !d->fatal; i++)
			dispatch(d, &evs[i]);
	}
	if (d->fatal)
		return 1;
	/* A cluster that never left its fresh state stays unstored: the next start still
	 * takes members and policy from the configuration. */
	if (!d->stored && ctl_state(d->ctl)->version == 0) {
		fprintf(stderr, PROG ": nothing to save: the cluster never changed its state\n");
		return 0;
	}
	return save_state(d) == 0 ? 0 : 1;
}

/* ---- start-up ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " --config FILE [--controller.KEY=VALUE ...]\n"
		   "  --config FILE             configuration file (INI, section [controller])\n"
		   "  --controller.KEY=VALUE    any configuration key, applied after the file\n"
		   "  --help, --version\n"
		   "exit status: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 bad usage or "
		   "configuration\n");
}

/* Options to the configuration; EXIT_CONFIG (after saying why), 0, or -1 for --help. */
static int load_config(struct ctlconf *conf, int argc, char **argv)
{
	const char *path = NULL, *names[CTLD_OVERRIDES_MAX], *values[CTLD_OVERRIDES_MAX];
	char err[CTLCONF_ERR_MAX], name[CTLCONF_ERR_MAX];
	unsigned n = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return -1;
		if (strcmp(a, "--version") == 0) {
			printf(PROG " %s\n", SHIPLOG_VERSION);
			return -2;
		}
		if (strncmp(a, "--", 2) != 0 || nlen <= 2 || value == NULL ||
		    n == CTLD_OVERRIDES_MAX) {
			fprintf(stderr, PROG ": %s: %s\n", a,
				strncmp(a, "--", 2) != 0 || nlen <= 2 ? "unknown argument"
				: value == NULL			      ? "needs a value"
								      : "too many options");
			usage(stderr);
			return EXIT_CONFIG;
		}
		i += eq == NULL;
		if (nlen == 8 && strncmp(a, "--config", 8) == 0) {
			path = value;
			continue;
		}
		names[n] = a + 2;
		values[n++] = value;
	}
	if (path == NULL) {
		fprintf(stderr, PROG ": --config FILE is required\n");
		usage(stderr);
		return EXIT_CONFIG;
	}
	ctlconf_default(conf);
	if (ctlconf_load_file(conf, path, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_CONFIG;
	}
	for (unsigned i = 0; i < n; i++) {
		size_t nlen = strcspn(names[i], "=");

		snprintf(name, sizeof(name), "%.*s", (int)nlen, names[i]);
		if (ctlconf_set_option(conf, name, values[i], err, sizeof(err)) != 0) {
			fprintf(stderr, PROG ": --%s: %s\n", name, err);
			return EXIT_CONFIG;
		}
	}
	if (ctlconf_finish(conf, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, err);
		return EXIT_CONFIG;
	}
	return 0;
}

/* The state folder: created when missing, and locked: one controller per folder. */
static int lock_state_dir(struct ctld *d)
{
	char path[CTLCONF_PATH_MAX + 16];

	if (mkdir(d->conf.state_dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": %s: %s\n", d->conf.state_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/lock", d->conf.state_dir);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", path,
			errno == EWOULDBLOCK ? "another controller uses this state_dir"
					     : strerror(errno));
		return -1;
	}
	return 0;
}

/* Where the state comes from: the store, or the configuration the first time. */
static int load_state(struct ctld *d, struct ctl_state *st)
{
	char err[CTLD_ERR_MAX], a[200], b[200];
	struct ctl_config cc;
	int rc;

	d->store = ctl_store_file_open(d->conf.state_dir, err, sizeof(err));
	if (d->store == NULL) {
		fprintf(stderr, PROG ": %s\n", err);
		return -1;
	}
	rc = d->store->load(d->store, st, err, sizeof(err));
	if (rc == -ENOENT) {
		ctlconf_fresh_state(&d->conf, st);
		fprintf(stderr, PROG ": no stored state: a new cluster (epoch 0)\n");
	} else if (rc != 0) {
		fprintf(stderr, PROG ": %s: refusing to start (the epoch must not go back)\n", err);
		return -1;
	} else if (st->cluster_id != d->conf.cluster_id) {
		fprintf(stderr,
			PROG ": %s/" CTL_STATE_FILE " belongs to cluster %u, the configuration "
			     "says %u: refusing to start\n",
			d->conf.state_dir, st->cluster_id, d->conf.cluster_id);
		return -1;
	} else {
		uint64_t ids = 0;

		d->stored = true;
		for (unsigned i = 0; i < st->n_members; i++)
			ids |= 1ull << (st->members[i].id - 1);
		ctlconf_ids_text(ids, a, sizeof(a));
		ctlconf_ids_text(d->conf.members, b, sizeof(b));
		fprintf(stderr, PROG ": stored state: epoch %u, leader %u, phase %s, members %s\n",
			st->epoch, st->leader, ctl_phase_name(st->phase), a);
		if (strcmp(a, b) != 0)
			fprintf(stderr,
				PROG ": the configuration's members (%s) are not the "
				     "stored ones: the stored ones rule\n",
				b);
	}
	ctlconf_core_config(&d->conf, &cc);
	d->ctl_mem = calloc(1, ctl_mem_size());
	d->ctl = d->ctl_mem ? ctl_init(d->ctl_mem, &cc, st) : NULL;
	if (d->ctl == NULL) {
		fprintf(stderr, PROG ": the controller core refused the state\n");
		return -1;
	}
	return 0;
}

static int alloc_conns(struct conn *pool, unsigned n, size_t in_cap, size_t out_cap)
{
	for (unsigned i = 0; i < n; i++) {
		pool[i].fd = -1;
		pool[i].in = malloc(in_cap);
		pool[i].out = malloc(out_cap);
		pool[i].in_cap = in_cap;
		pool[i].out_cap = out_cap;
		if (pool[i].in == NULL || pool[i].out == NULL)
			return -1;
	}
	return 0;
}

static int open_loop(struct ctld *d)
{
	struct itimerspec it = {
		.it_interval = { .tv_nsec = CTLD_TICK_NS },
		.it_value = { .tv_nsec = CTLD_TICK_NS },
	};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->timerfd < 0 || d->epfd < 0 ||
	    timerfd_settime(d->timerfd, 0, &it, NULL) != 0)
		return -1;
	if (ep_add(d, d->sigfd, TAG_SIGNAL) != 0 || ep_add(d, d->timerfd, TAG_TIMER) != 0)
		return -1;
	return 0;
}

static int start(struct ctld *d)
{
	char err[CTLD_ERR_MAX];
	struct ctl_state st;

	if (lock_state_dir(d) != 0 || load_state(d, &st) != 0)
		return -1;
	if (ctl_events_open(d->events, d->conf.state_dir, stderr, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return -1;
	}
	if (d->events->lines_skipped)
		fprintf(stderr, PROG ": " CTL_EVENTS_FILE ": %llu unreadable lines skipped\n",
			(unsigned long long)d->events->lines_skipped);
	d->audit_fd = ctl_jsonl_open(d->conf.state_dir, CTL_AUDIT_FILE);
	if (d->audit_fd < 0) {
		fprintf(stderr, PROG ": %s/" CTL_AUDIT_FILE ": %s\n", d->conf.state_dir,
			strerror(-d->audit_fd));
		return -1;
	}
	if (alloc_conns(d->agents, CTLD_AGENTS_MAX, SL_CTL_LINE_MAX, CTLD_AGENT_OUT_MAX) != 0 ||
	    alloc_conns(d->admins, CTLD_ADMINS_MAX, SL_ADMIN_LINE_MAX, SL_ADMIN_LINE_MAX) != 0 ||
	    open_loop(d) != 0) {
		fprintf(stderr, PROG ": start-up: %s\n", strerror(errno));
		return -1;
	}
	if (open_listeners(d, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": listen: %s\n", err);
		return -1;
	}
	fprintf(stderr, PROG ": cluster %u, agents on %s, admin on %s%s%s\n", d->conf.cluster_id,
		d->agent_addr, d->conf.admin_socket[0] ? d->conf.admin_socket : "",
		d->conf.admin_socket[0] && d->admin_addr[0] ? " and " : "",
		d->admin_addr[0]	  ? d->admin_addr
		: d->conf.admin_socket[0] ? ""
					  : "none");
	return 0;
}

static void stop(struct ctld *d)
{
	int fds[] = { d->agent_lfd, d->admin_tfd, d->epfd, d->sigfd, d->timerfd, d->audit_fd };

	for (unsigned i = 0; i < CTLD_AGENTS_MAX; i++) {
		if (d->agents[i].fd >= 0 && !d->fatal)
			agent_close_with(d, &d->agents[i], "the controller stops");
		conn_close(d, &d->agents[i]);
		free(d->agents[i].in);
		free(d->agents[i].out);
	}
	for (unsigned i = 0; i < CTLD_ADMINS_MAX; i++) {
		conn_close(d, &d->admins[i]);
		free(d->admins[i].in);
		free(d->admins[i].out);
	}
	if (d->admin_ufd >= 0) {
		close(d->admin_ufd);
		unlink(d->conf.admin_socket);
	}
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ctl_metrics_http_stop(d->metrics); /* its fds, the listener's included */
	ctl_events_close(d->events);
	if (d->store)
		d->store->close(d->store);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	ctlconf_wipe(&d->conf);
	free(d->ctl_mem);
	free(d->events);
	free(d->out);
}

int main(int argc, char **argv)
{
	struct ctld *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL || sodium_init() < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	d->epfd = d->sigfd = d->timerfd = d->agent_lfd = d->admin_ufd = d->admin_tfd = -1;
	d->audit_fd = d->lock_fd = -1;
	for (unsigned i = 0; i < CTLD_AGENTS_MAX; i++)
		d->agents[i].fd = -1;
	for (unsigned i = 0; i < CTLD_ADMINS_MAX; i++)
		d->admins[i].fd = -1;
	rc = load_config(&d->conf, argc, argv);
	if (rc != 0) {
		if (rc == -1)
			usage(stdout);
		free(d);
		return rc < 0 ? 0 : rc;
	}
	d->events = calloc(1, sizeof(*d->events));
	d->out = calloc(1, sizeof(*d->out));
	if (d->events != NULL)
		d->events->fd = -1;
	rc = d->events && d->out && start(d) == 0 ? run(d) : 1;
	stop(d);
	free(d);
	return rc;
}
