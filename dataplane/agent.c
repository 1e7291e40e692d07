/* shiplogd's control agent: hello, reports and notes to the controller, its commands in. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "agent.h"
#include "node.h"

/*
 * The protocol is include/shiplog/control.h's: one JSON object per line each way. The
 * thread's loop: when not connected, one connect attempt per back-off period; when
 * connected, a report when one is due, the notes the lcore left, whatever fits into the
 * socket, then a wait of at most AGENT_TICK_MS for the controller's lines. Every wait
 * is bounded, so a stop request is seen within AGENT_TICK_MS (a connect: 100 ms).
 *
 * Logging: one line when a connection is made, one when it is lost (with the reason),
 * one for the first failed attempt of an outage; the first bad line from a controller
 * is logged, later ones only counted. Nothing here logs per report.
 */

#define AGENT_NOTE_BATCH 16u
#define MS		 1000000ull

static void agent_log(const struct agent *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void agent_log(const struct agent *a, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One call: stdio locks the stream, so the lcore's lines never cut into it. */
	printf("shiplogd[%u]: agent: %s\n", a->node->cfg.node_id, line);
	fflush(stdout);
}

static void stat_inc(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static bool agent_stopping(const struct agent *a)
{
	return atomic_load_explicit(&a->stop, memory_order_relaxed);
}

/* ---- connection --------------------------------------------------------------------- */

static void agent_disconnect(struct agent *a, const char *why)
{
	uint64_t now = node_now_ns();
	bool stable = now - a->connected_ns >= AGENT_STABLE_MS * MS;

	agent_log(a, "lost the controller at %s: %s", a->addr, why);
	close(a->fd);
	a->fd = -1;
	atomic_store_explicit(&a->stats.connected, 0, memory_order_relaxed);
	/* A controller that drops us at once (a bad line, a refused hello) is not
	 * hammered: the back-off grows unless the connection lasted. */
	if (stable)
		a->backoff_ms = AGENT_BACKOFF_MIN_MS;
	a->next_try_ns = now + a->backoff_ms * MS;
	if (!stable && a->backoff_ms < AGENT_BACKOFF_MAX_MS)
		a->backoff_ms = a->backoff_ms * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS
									 : a->backoff_ms * 2;
}

static void agent_connect_failed(struct agent *a, int fd, int err)
{
	if (fd >= 0)
		close(fd);
	stat_inc(&a->stats.connect_failures);
	if (a->failures++ == 0)
		agent_log(a, "cannot reach the controller at %s: %s (retrying every %u ms at most)",
			  a->addr, strerror(err), AGENT_BACKOFF_MAX_MS);
	a->next_try_ns = node_now_ns() + a->backoff_ms * MS;
	a->backoff_ms =
		a->backoff_ms * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : a->backoff_ms * 2;
}

/* Waits for a non-blocking connect in slices, so that a stop is seen. 0 or an errno. */
static int agent_connect_wait(struct agent *a, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = ETIMEDOUT;
	socklen_t len = sizeof(err);

	for (unsigned waited = 0; waited < AGENT_CONNECT_MS && !agent_stopping(a); waited += 100) {
		int rc = poll(&p, 1, 100);

		if (rc < 0 && errno != EINTR)
			return errno;
		if (rc > 0) {
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				return errno;
			return err;
		}
	}
	return agent_stopping(a) ? ECANCELED : ETIMEDOUT;
}

static void agent_send_hello(struct agent *a);

static void agent_connect(struct agent *a)
{
	const struct cfg *c = &a->node->cfg;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(c->ctl_port),
				  .sin_addr.s_addr = htonl(c->ctl_ip) };
	int one = 1, fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		agent_connect_failed(a, -1, errno);
		return;
	}
	err = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
	if (err == EINPROGRESS)
		err = agent_connect_wait(a, fd);
	if (err == ECANCELED) { /* shiplogd is stopping: not a failure */
		close(fd);
		return;
	}
	if (err != 0) {
		agent_connect_failed(a, fd, err);
		return;
	}
	/* Reports are small and latency matters more than segment count. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	a->fd = fd;
	a->connected_ns = node_now_ns();
	a->next_report_ns = a->connected_ns; /* the first report right after the hello */
	a->rx_len = a->tx_off = a->tx_len = 0;
	a->stalled_since_ns = 0;
	stat_inc(&a->stats.connects);
	if (a->ever_connected)
		stat_inc(&a->stats.reconnects);
	atomic_store_explicit(&a->stats.connected, 1, memory_order_relaxed);
	if (a->failures)
		agent_log(a, "connected to the controller at %s (after %u failed attempts)",
			  a->addr, a->failures);
	else
		agent_log(a, "connected to the controller at %s", a->addr);
	a->ever_connected = true;
	a->failures = 0;
	agent_send_hello(a);
}

/* ---- sending ------------------------------------------------------------------------ */

/* Appends one encoded message to the send buffer: false when it does not fit now. */
static bool agent_queue(struct agent *a, const struct sl_ctl_msg *m)
{
	int len;

	if (a->tx_off > 0) {
		memmove(a->tx, a->tx + a->tx_off, a->tx_len - a->tx_off);
		a->tx_len -= a->tx_off;
		a->tx_off = 0;
	}
	if (AGENT_TX_LEN - a->tx_len < SL_CTL_LINE_MAX)
		return false;
	len = sl_ctl_encode(m, a->tx + a->tx_len, AGENT_TX_LEN - a->tx_len);
	if (len < 0) {
		/* Ours, not the controller's: count it, say it once, go on. */
		stat_inc(&a->stats.encode_errors);
		if (!a->encode_logged)
			agent_log(a, "cannot encode a message of type %u: %s", m->type,
				  strerror(-len));
		a->encode_logged = true;
		return true;
	}
	a->tx_len += (uint32_t)len;
	return true;
}

static void agent_send_hello(struct agent *a)
{
	struct sl_ctl_msg m = { .type = SL_CTL_MSG_HELLO };

	m.u.hello.node = a->node->cfg.node_id;
	m.u.hello.cluster_id = a->node->cfg.cluster_id;
	memcpy(m.u.hello.token, a->token, sizeof(m.u.hello.token));
	agent_queue(a, &m); /* the buffer is empty on a new connection */
	explicit_bzero(&m, sizeof(m));
}

/*
 * A report from what the lcores published (DESIGN.md §6 detection). may_lead and
 * refetch_lsn follow recovery's rule on the WAL's live status: a node whose log was
 * damaged may lead again once its flushed log reaches refetch_lsn.
 */
static void agent_build_report(struct agent *a, struct sl_node_report *r)
{
	struct node_net_snapshot s;
	struct node_wal_snapshot w;
	uint64_t refetch;

	node_snapshot_read(a->node, &s);
	node_wal_snapshot_read(a->node, &w);
	refetch = w.st.refetch_lsn > w.st.flushed_lsn ? w.st.refetch_lsn : 0;
	memset(r, 0, sizeof(*r));
	r->node = a->node->cfg.node_id;
	r->cluster_id = a->node->cfg.cluster_id;
	r->seq = ++a->report_seq;
	r->may_lead = refetch == 0 && w.st.failed == 0;
	r->refetch_lsn = refetch;
	memcpy(r->data_addr, a->data_addr, sizeof(r->data_addr));
	r->stale_epoch = s.core.stale_epoch;
	r->truncated_records = s.core.truncated_records;
	r->retransmits = s.core.retransmits;
	r->client_busy = s.core.client_busy;
	/* What is on disk now: below wal_first_lsn a follower gets the snapshot, not records. */
	r->snapshot_lsn = w.st.snapshot_lsn;
	r->wal_first_lsn = w.st.first_lsn;
	r->snapshots_sent = s.core.snapshots_sent;
	r->snapshots_installed = s.core.snapshots_installed;
	r->st = s.st;
}

static void agent_report(struct agent *a, uint64_t now)
{
	struct sl_ctl_msg *m = &a->msg;

	/* On time, but never in a burst after a stall. */
	a->next_report_ns += a->node->cfg.report_ms * MS;
	if (a->next_report_ns <= now)
		a->next_report_ns = now + a->node->cfg.report_ms * MS;
	m->type = SL_CTL_MSG_REPORT;
	agent_build_report(a, &m->u.report);
	if (agent_queue(a, m))
		stat_inc(&a->stats.reports_sent);
	else
		stat_inc(&a->stats.reports_skipped); /* the last ones are still queued */
}

/* Notes wait in their ring while there is no room (or no connection). */
static void agent_notes(struct agent *a)
{
	struct sl_ctl_msg m = { .type = SL_CTL_MSG_NOTE };

	for (unsigned i = 0; i < AGENT_NOTE_BATCH; i++) {
		if (AGENT_TX_LEN - (a->tx_len - a->tx_off) < SL_CTL_LINE_MAX)
			return;
		if (rte_ring_sc_dequeue_elem(a->notes, &m.u.note, sizeof(m.u.note)) != 0)
			return;
		if (agent_queue(a, &m))
			stat_inc(&a->stats.notes_sent);
	}
}

/* Writes what the socket takes. false when the connection is to be dropped. */
static bool agent_flush(struct agent *a, uint64_t now, const char **why)
{
	while (a->tx_off < a->tx_len) {
		ssize_t n = send(a->fd, a->tx + a->tx_off, a->tx_len - a->tx_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			a->tx_off += (uint32_t)n;
			a->stalled_since_ns = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (a->stalled_since_ns == 0)
				a->stalled_since_ns = now;
			if (now - a->stalled_since_ns > AGENT_STALL_MS * MS) {
				*why = "the controller has not read for 3 s";
				return false;
			}
			return true;
		}
		*why = n < 0 ? strerror(errno) : "send wrote nothing";
		return false;
	}
	a->tx_off = a->tx_len = 0;
	a->stalled_since_ns = 0;
	return true;
}

/* ---- receiving ---------------------------------------------------------------------- */

static void agent_bad_line(struct agent *a, const char *err)
{
	stat_inc(&a->stats.bad_lines);
	if (!a->bad_line_logged)
		agent_log(a,
			  "bad line from the controller (%s); further ones are only counted "
			  "(agent_bad_lines in /shiplog/stats)",
			  err);
	a->bad_line_logged = true;
}

static void agent_command(struct agent *a, const struct sl_control *ctl)
{
	union agent_cmd e;

	memset(&e, 0, sizeof(e));
	e.ctl = *ctl;
	stat_inc(&a->stats.commands_received);
	if (ctl->cmd != SL_CTL_RENEW)
		agent_log(a, "command %s, epoch %u, node %u", sl_control_cmd_name(ctl->cmd),
			  ctl->epoch, ctl->node);
	/* The lcore takes up to a burst per loop turn: full means it is stuck. */
	if (rte_ring_mp_enqueue_elem(a->cmds, &e, sizeof(e)) != 0) {
		stat_inc(&a->stats.commands_dropped);
		agent_log(a, "command ring full: %s dropped", sl_control_cmd_name(ctl->cmd));
	}
}

/* One line without its newline. false when the connection is to be dropped. */
static bool agent_line(struct agent *a, const char *line, size_t len, const char **why)
{
	struct sl_ctl_msg *m = &a->msg;
	char err[160];

	if (sl_ctl_decode(line, len, m, err, sizeof(err)) != 0) {
		agent_bad_line(a, err);
		*why = "it sent a bad line";
		return false;
	}
	switch (m->type) {
	case SL_CTL_MSG_CMD:
		agent_command(a, &m->u.cmd);
		return true;
	case SL_CTL_MSG_BYE:
		m->u.bye.reason[sizeof(m->u.bye.reason) - 1] = '\0';
		for (char *q = m->u.bye.reason; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				*q = '?'; /* one line in our log, whatever it sent */
		agent_log(a, "the controller says bye: %s", m->u.bye.reason);
		*why = "it said bye";
		return false;
	default:
		agent_bad_line(a, "a message type a controller does not send");
		*why = "it sent a bad line";
		return false;
	}
}

static bool agent_read(struct agent *a, const char **why)
{
	ssize_t n = recv(a->fd, a->rx + a->rx_len, sizeof(a->rx) - a->rx_len, MSG_DONTWAIT);
	uint32_t start = 0;
	char *nl;

	if (n == 0) {
		*why = "connection closed by the controller";
		return false;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		*why = strerror(errno);
		return false;
	}
	a->rx_len += (uint32_t)n;
	while ((nl = memchr(a->rx + start, '\n', a->rx_len - start)) != NULL) {
		size_t len = (size_t)(nl - (a->rx + start));

		if (!agent_line(a, a->rx + start, len, why))
			return false;
		start += (uint32_t)len + 1;
	}
	memmove(a->rx, a->rx + start, a->rx_len - start);
	a->rx_len -= start;
	if (a->rx_len == sizeof(a->rx)) {
		agent_bad_line(a, "a line longer than SL_CTL_LINE_MAX");
		*why = "it sent a bad line";
		return false;
	}
	return true;
}

/* ---- the loop ----------------------------------------------------------------------- */

static void agent_session_turn(struct agent *a)
{
	struct pollfd p = { .fd = a->fd, .events = POLLIN };
	uint64_t now = node_now_ns();
	const char *why = NULL;
	int timeout_ms = AGENT_TICK_MS, rc;

	if (now >= a->next_report_ns)
		agent_report(a, now);
	agent_notes(a);
	if (!agent_flush(a, now, &why)) {
		agent_disconnect(a, why);
		return;
	}
	if (a->tx_off < a->tx_len)
		p.events |= POLLOUT;
	if (a->next_report_ns > now && (a->next_report_ns - now) / MS < (uint64_t)timeout_ms)
		timeout_ms = (int)((a->next_report_ns - now) / MS);
	rc = poll(&p, 1, timeout_ms);
	if (rc < 0 && errno != EINTR) {
		agent_disconnect(a, strerror(errno));
		return;
	}
	if (rc > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) && !agent_read(a, &why))
		agent_disconnect(a, why);
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	sigset_t set;

	/* SIGTERM and SIGINT are the main thread's business (shiplogd.c). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!agent_stopping(a)) {
		uint64_t now;

		if (a->fd >= 0) {
			agent_session_turn(a);
			continue;
		}
		now = node_now_ns();
		if (now >= a->next_try_ns) {
			agent_connect(a);
			continue;
		}
		poll(NULL, 0,
		     (int)((a->next_try_ns - now) / MS < AGENT_TICK_MS ? (a->next_try_ns - now) / MS
								       : AGENT_TICK_MS));
	}
	if (a->fd >= 0) {
		close(a->fd);
		a->fd = -1;
		atomic_store_explicit(&a->stats.connected, 0, memory_order_relaxed);
	}
	atomic_store(&a->exited, true);
	return NULL;
}

/* ---- set-up ------------------------------------------------------------------------- */

int agent_init(struct agent *a, struct node *n, const char *token)
{
	const struct cfg *c = &n->cfg;
	char ip[INET_ADDRSTRLEN];
	struct in_addr in;

	memset(a, 0, sizeof(*a));
	a->node = n;
	a->fd = -1;
	a->backoff_ms = AGENT_BACKOFF_MIN_MS;
	snprintf(a->token, sizeof(a->token), "%s", token);
	in.s_addr = htonl(c->ctl_ip);
	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	snprintf(a->addr, sizeof(a->addr), "%s:%u", ip, c->ctl_port);
	in.s_addr = htonl(c->ip);
	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	snprintf(a->data_addr, sizeof(a->data_addr), "%s:%u", ip, c->udp_port);
	a->cmds = rte_ring_create_elem("sl_ctl_cmds", sizeof(union agent_cmd), AGENT_RING_LEN,
				       (int)rte_socket_id(), RING_F_SC_DEQ | RING_F_EXACT_SZ);
	a->notes = rte_ring_create_elem("sl_ctl_notes", sizeof(struct sl_node_note), AGENT_RING_LEN,
					(int)rte_socket_id(),
					RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (!a->cmds || !a->notes) {
		fprintf(stderr, "shiplogd: agent rings: %s\n", rte_strerror(rte_errno));
		agent_fini(a);
		return -ENOMEM;
	}
	n->ctl_cmds = a->cmds;
	n->ctl_notes = a->notes;
	n->agent = a;
	return 0;
}

int agent_start(struct agent *a)
{
	int rc = rte_ctrl_thread_create(&a->thread, "sl-agent", NULL, agent_main, a);

	if (rc != 0) {
		fprintf(stderr, "shiplogd: agent thread: %s\n", strerror(rc < 0 ? -rc : rc));
		return rc < 0 ? rc : -rc;
	}
	a->running = true;
	agent_log(a, "started: controller %s, a report every %u ms, lease %u ms", a->addr,
		  a->node->cfg.report_ms, cfg_lease_ms(&a->node->cfg));
	return 0;
}

void agent_stop(struct agent *a, unsigned wait_ms)
{
	struct timespec until;
	int rc;

	if (!a->running)
		return;
	atomic_store(&a->stop, true);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	rc = pthread_timedjoin_np(a->thread, NULL, &until);
	if (rc != 0) {
		/* Its waits are bounded: this is a bug, not a reason to hang the stop. */
		fprintf(stderr, "shiplogd[%u]: the agent did not stop within %u ms (%s)\n",
			a->node->cfg.node_id, wait_ms, strerror(rc));
		return;
	}
	a->running = false;
}

void agent_fini(struct agent *a)
{
	/* A thread that did not stop may still use the rings: leave them to the exit. */
	if (a->running)
		return;
	if (a->node) {
		a->node->ctl_cmds = NULL;
		a->node->ctl_notes = NULL;
	}
	rte_ring_free(a->cmds);
	rte_ring_free(a->notes);
	a->cmds = a->notes = NULL;
}
