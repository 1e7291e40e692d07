/* libshiplog's request engine: one outstanding request, retries, redirects, deadline. */
#define _GNU_SOURCE /* ppoll */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <shiplog/client.h>

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull

struct sl_client {
	int fd;
	struct sl_client_codec codec; /* codec.key points at key below, or is NULL */
	struct sl_auth_key key;
	struct sl_client_server servers[SL_CLIENT_SERVERS_MAX];
	struct sockaddr_in addrs[SL_CLIENT_SERVERS_MAX]; /* servers[] as sendto() takes them */
	unsigned n_servers;
	unsigned leader; /* index of the server leader operations start at */
	uint64_t client_id;
	uint64_t next_seq;
	uint64_t frame_seq; /* per datagram sent: the frame header's seq */
	uint64_t attempt_timeout_ns;
	uint64_t deadline_ns;
	uint32_t tries_per_server;
	struct sl_client_stats stats;
	uint8_t *tx, *rx;
	size_t tx_cap, rx_cap;
};

/* One operation in flight: what it asks, where it is sent, when it is next due. */
struct op {
	struct sl_client_req req;
	const void *key, *val;
	void *out; /* GET: the caller's value buffer */
	uint32_t out_cap;
	int pinned; /* a follower read: stays on srv (until a NOT_LEADER) */
	int wait_stale;
	unsigned srv;	     /* index of the server the next datagram goes to */
	unsigned tries_here; /* unanswered attempts on srv in a row */
	unsigned redirects;  /* NOT_LEADER answers so far */
	uint32_t backoff_us; /* the next backoff */
	int in_backoff;	     /* timer_ns ends a backoff (send), not an attempt (resend) */
	uint64_t start_ns, deadline_ns, timer_ns;
	struct sl_client_result *res;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int server_index(const struct sl_client *c, uint16_t node_id)
{
	for (unsigned i = 0; i < c->n_servers; i++)
		if (c->servers[i].node_id == node_id)
			return (int)i;
	return -1;
}

const char *sl_client_result_status_name(unsigned status)
{
	return status == SL_CLIENT_ST_NONE ? "no_answer" : sl_client_status_name(status);
}

/* ---- open / close ------------------------------------------------------------------ */

static int opts_check(const struct sl_client_opts *o, const struct sl_limits *lim)
{
	if (o->cluster_id == 0 || o->servers == NULL || o->n_servers == 0 ||
	    o->n_servers > SL_CLIENT_SERVERS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < o->n_servers; i++) {
		const struct sl_client_server *s = &o->servers[i];

		if (s->node_id == 0 || s->node_id > SL_NODE_MAX || s->addr.s_addr == 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (o->servers[j].node_id == s->node_id)
				return -EINVAL;
	}
	if (lim->key_max == 0 || lim->key_max > UINT16_MAX ||
	    sl_client_req_max(lim) > SL_CLIENT_DGRAM_MAX ||
	    sl_client_resp_max(lim) > SL_CLIENT_DGRAM_MAX)
		return -EINVAL;
	return 0;
}

static int random_client_id(uint64_t *out)
{
	uint64_t id = 0;

	/* 0 is never drawn: it reads as "unset" in logs and dedup tables. */
	while (id == 0) {
		ssize_t n = getrandom(&id, sizeof(id), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(id))
			return n < 0 ? -errno : -EIO;
	}
	*out = id;
	return 0;
}

/* Non-blocking, DF set (DESIGN.md §3: no fragmentation), bound when asked. */
static int client_socket(const struct sl_client_opts *o)
{
	int pmtu = IP_PMTUDISC_DO, rc;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) != 0)
		goto out_close_fd;
	if (o->bind_addr.s_addr != 0 || o->bind_port != 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr = o->bind_addr,
					  .sin_port = htons(o->bind_port) };

		if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0)
			goto out_close_fd;
	}
	return fd;

out_close_fd:
	rc = -errno;
	close(fd);
	return rc;
}

static void client_set_servers(struct sl_client *c, const struct sl_client_opts *o)
{
	c->n_servers = (unsigned)o->n_servers;
	for (unsigned i = 0; i < c->n_servers; i++) {
		c->servers[i] = o->servers[i];
		if (c->servers[i].port == 0)
			c->servers[i].port = SL_UDP_PORT;
		c->addrs[i] = (struct sockaddr_in){ .sin_family = AF_INET,
						    .sin_addr = c->servers[i].addr,
						    .sin_port = htons(c->servers[i].port) };
	}
}

static void client_set_timing(struct sl_client *c, const struct sl_client_opts *o)
{
	c->attempt_timeout_ns = (o->attempt_timeout_ms ? o->attempt_timeout_ms
						       : SL_CLIENT_ATTEMPT_TIMEOUT_MS_DEFAULT) *
				NS_PER_MS;
	c->deadline_ns =
		(o->deadline_ms ? o->deadline_ms : SL_CLIENT_DEADLINE_MS_DEFAULT) * NS_PER_MS;
	c->tries_per_server =
		o->tries_per_server ? o->tries_per_server : SL_CLIENT_TRIES_PER_SERVER_DEFAULT;
}

int sl_client_open(const struct sl_client_opts *o, struct sl_client **out)
{
	struct sl_limits lim = o->limits;
	struct sl_client *c;
	int rc;

	if (lim.key_max == 0 && lim.val_max == 0)
		lim = sl_limits_default();
	rc = opts_check(o, &lim);
	if (rc != 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fd = -1;
	c->tx_cap = sl_client_req_max(&lim);
	c->rx_cap = sl_client_resp_max(&lim);
	c->tx = malloc(c->tx_cap);
	c->rx = malloc(c->rx_cap);
	rc = -ENOMEM;
	if (c->tx == NULL || c->rx == NULL)
		goto out_free;
	client_set_servers(c, o);
	client_set_timing(c, o);
	c->leader = o->first_node ? (unsigned)server_index(c, o->first_node) : 0;
	rc = -EINVAL;
	if (c->leader >= c->n_servers) /* first_node not listed: server_index gave -1 */
		goto out_free;
	c->codec = (struct sl_client_codec){ .cluster_id = o->cluster_id, .limits = lim };
	if (o->key != NULL) {
		c->key = *o->key;
		c->codec.key = &c->key;
	}
	c->next_seq = o->first_seq ? o->first_seq : 1;
	c->client_id = o->client_id;
	rc = c->client_id ? 0 : random_client_id(&c->client_id);
	if (rc != 0)
		goto out_free;
	c->fd = client_socket(o);
	rc = c->fd;
	if (rc < 0)
		goto out_free;
	*out = c;
	return 0;

out_free:
	sl_client_close(c); /* fd is still -1 on every path here */
	return rc;
}

void sl_client_close(struct sl_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->tx);
	free(c->rx);
	sodium_memzero(&c->key, sizeof(c->key));
	free(c);
}

/* ---- one operation ----------------------------------------------------------------- */

/* Sends the request to servers[op->srv] and arms the attempt timer. */
static int op_send(struct sl_client *c, struct op *op)
{
	const struct sl_client_server *s;
	int len;
	ssize_t n;

	assert(op->srv < c->n_servers);
	s = &c->servers[op->srv];
	len = sl_client_encode_req(&c->codec, c->tx, c->tx_cap, s->node_id, c->frame_seq++,
				   &op->req, op->key, op->val);
	assert(len > 0); /* validated before the operation started; tx sized for the limits */
	op->res->attempts++;
	op->in_backoff = 0;
	op->timer_ns = now_ns() + c->attempt_timeout_ns;
	do {
		n = sendto(c->fd, c->tx, (size_t)len, 0,
			   (const struct sockaddr *)&c->addrs[op->srv], sizeof(c->addrs[op->srv]));
	} while (n < 0 && errno == EINTR);
	if (n == len) {
		c->stats.sent++;
		return 0;
	}
	switch (n < 0 ? errno : EIO) {
	case EMSGSIZE: /* over the path MTU with DF set */
	case EBADF:
	case EFAULT:
	case EINVAL:
	case ENOTSOCK:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return n < 0 ? -errno : -EIO;
	}
	/* Unreachable networks, full queues, firewalls: the datagram is lost; the attempt
	 * timer retries it (and moves on to the next server). */
	c->stats.send_errors++;
	return 0;
}

static void op_backoff(struct op *op)
{
	op->in_backoff = 1;
	op->tries_here = 0;
	op->timer_ns = now_ns() + op->backoff_us * NS_PER_US;
	op->backoff_us = op->backoff_us * 2 > SL_CLIENT_BACKOFF_US_MAX ? SL_CLIENT_BACKOFF_US_MAX
								       : op->backoff_us * 2;
}

/* The timer fired before the deadline: a backoff ended, or an attempt went unanswered. */
static int op_on_timer(struct sl_client *c, struct op *op)
{
	if (op->in_backoff)
		return op_send(c, op);
	c->stats.retransmits++;
	if (++op->tries_here >= c->tries_per_server && !op->pinned && c->n_servers > 1) {
		op->srv = (op->srv + 1) % c->n_servers;
		op->tries_here = 0;
		c->stats.rotations++;
	}
	return op_send(c, op);
}

/*
 * NOT_LEADER: a hint naming another listed node is followed at once, unless the
 * answers have been bouncing between nodes (more redirects than servers: a leader
 * change in progress), which backs off first; without a usable hint, the next server
 * after the one that answered, after a backoff.
 */
static int op_redirect(struct sl_client *c, struct op *op, const struct sl_client_answer *a)
{
	int hint = a->resp.leader_hint ? server_index(c, a->resp.leader_hint) : -1;
	int from = server_index(c, a->node_id);

	op->pinned = 0; /* that node does not serve this read: the leader will */
	op->tries_here = 0;
	op->redirects++;
	if (hint >= 0 && hint != from) {
		op->srv = (unsigned)hint;
		c->leader = op->srv;
		if (op->redirects <= c->n_servers)
			return op_send(c, op);
	} else {
		op->srv = ((from >= 0 ? (unsigned)from : op->srv) + 1) % c->n_servers;
	}
	op_backoff(op);
	return 0;
}

/* An answer to this operation. Returns 1 when it is final, 0 to go on, or -errno. */
static int op_on_answer(struct sl_client *c, struct op *op, const struct sl_client_answer *a)
{
	struct sl_client_result *res = op->res;
	int from = server_index(c, a->node_id);

	/* client_recv_one matched it: an answer to another request is never acted on. */
	assert(a->resp.client_id == c->client_id && a->resp.seq == op->req.seq);
	assert(a->resp.status < SL_ST__MAX); /* the decoder refuses unknown statuses */
	res->status = a->resp.status;
	res->node_id = a->node_id;
	res->lsn = a->resp.lsn;
	res->epoch = a->resp.epoch;
	/* Whoever answered is alive: retries of a leader operation go there. */
	if (from >= 0 && !op->pinned)
		op->srv = (unsigned)from;
	switch (a->resp.status) {
	case SL_ST_NOT_LEADER:
		c->stats.not_leader++;
		res->leader_hint = a->resp.leader_hint;
		return op_redirect(c, op, a);
	case SL_ST_BUSY:
		c->stats.busy++;
		op_backoff(op);
		return 0;
	case SL_ST_TIMEOUT: /* outcome unknown: the same seq again, the server dedups */
		c->stats.server_timeouts++;
		op_backoff(op);
		return 0;
	case SL_ST_STALE:
		c->stats.stale++;
		if (!op->wait_stale)
			return 1;
		op_backoff(op);
		return 0;
	}
	if (from >= 0 && !op->pinned)
		c->leader = (unsigned)from; /* it answered, not redirected: it leads */
	return 1;
}

/* Why a datagram is not an answer: counted under its cause. */
static void count_ignored(struct sl_client *c, enum sl_reject r)
{
	sl_reject_count(&c->stats.rej, r);
	if (r == SL_REJ_BAD_CLUSTER)
		c->stats.ign_wrong_cluster++;
	else if (r == SL_REJ_BAD_CRC)
		c->stats.ign_bad_crc++;
	else if (r == SL_REJ_BAD_MAC)
		c->stats.ign_bad_mac++;
	else
		c->stats.ign_malformed++;
}

/* Reads one datagram; 1 when it answers op (*a filled), 0 otherwise, or -errno. */
static int client_recv_one(struct sl_client *c, const struct op *op, struct sl_client_answer *a)
{
	ssize_t n;
	enum sl_reject r;

	n = recv(c->fd, c->rx, c->rx_cap, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		/* An ICMP error reported on the socket is a lost attempt, not the end. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
			return 0;
		return -errno;
	}
	c->stats.received++;
	/* MSG_TRUNC: n is the datagram's real length; longer than any valid answer. */
	r = (size_t)n > c->rx_cap ? SL_REJ_BAD_LENGTH
				  : sl_client_decode_resp(&c->codec, c->rx, (size_t)n, a);
	if (r != SL_OK) {
		count_ignored(c, r);
		return 0;
	}
	if (a->resp.client_id != c->client_id || a->resp.seq != op->req.seq ||
	    a->resp.op != op->req.op) {
		c->stats.ign_not_ours++;
		return 0;
	}
	c->stats.answers++;
	return 1;
}

/* Waits until an answer to op arrives (1), until_ns passes (0), or an error (-errno). */
static int client_wait(struct sl_client *c, const struct op *op, uint64_t until_ns,
		       struct sl_client_answer *a)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	for (;;) {
		uint64_t now = now_ns(), left;
		struct timespec ts;
		int rc;

		if (now >= until_ns)
			return 0;
		left = until_ns - now;
		ts = (struct timespec){ .tv_sec = (time_t)(left / 1000000000ull),
					.tv_nsec = (long)(left % 1000000000ull) };
		rc = ppoll(&pfd, 1, &ts, NULL);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		rc = client_recv_one(c, op, a);
		if (rc != 0)
			return rc;
	}
}

/* The final answer's value into the caller's buffer. */
static int op_copy_value(const struct op *op, const struct sl_client_answer *a)
{
	uint32_t len = a->resp.val_len;

	assert(op->req.op == SL_OP_GET && a->resp.status == SL_ST_OK);
	op->res->val_len = len;
	if (len <= op->out_cap) {
		if (len > 0)
			memcpy(op->out, a->val, len);
		return 0;
	}
	if (op->out_cap > 0)
		memcpy(op->out, a->val, op->out_cap);
	return -ENOBUFS;
}

static int client_run(struct sl_client *c, struct op *op)
{
	struct sl_client_answer a;
	int rc;

	assert(op->req.seq != 0 && op->srv < c->n_servers);
	rc = op_send(c, op);
	while (rc == 0) {
		if (now_ns() >= op->deadline_ns) {
			c->stats.deadlines++;
			rc = -ETIMEDOUT;
			break;
		}
		rc = client_wait(
			c, op, op->timer_ns < op->deadline_ns ? op->timer_ns : op->deadline_ns, &a);
		if (rc == 0 && now_ns() < op->deadline_ns)
			rc = op_on_timer(c, op);
		else if (rc == 1)
			rc = op_on_answer(c, op, &a);
	}
	if (rc == 1) /* final: a is the answer */
		rc = (op->req.op == SL_OP_GET && a.resp.status == SL_ST_OK) ? op_copy_value(op, &a)
									    : 0;
	op->res->elapsed_us = (now_ns() - op->start_ns) / NS_PER_US;
	return rc;
}

/* Local checks (nothing sent, no seq taken), then the operation's state. */
static int op_start(struct sl_client *c, struct op *op, struct sl_client_result *res,
		    uint16_t node_id)
{
	const struct sl_limits *lim = &c->codec.limits;
	int pin = node_id ? server_index(c, node_id) : -1;

	if (op->key == NULL || op->req.key_len == 0 || (op->req.val_len > 0 && op->val == NULL) ||
	    (op->out_cap > 0 && op->out == NULL) || res == NULL)
		return -EINVAL;
	if (op->req.key_len > lim->key_max || op->req.val_len > lim->val_max)
		return -EMSGSIZE;
	if (node_id != 0 && pin < 0)
		return -ENOENT;
	memset(res, 0, sizeof(*res));
	res->status = SL_CLIENT_ST_NONE;
	res->op = op->req.op;
	res->seq = op->req.seq = c->next_seq++;
	op->req.client_id = c->client_id;
	op->res = res;
	op->pinned = pin >= 0;
	op->srv = pin >= 0 ? (unsigned)pin : c->leader;
	op->backoff_us = SL_CLIENT_BACKOFF_US_MIN;
	op->start_ns = now_ns();
	op->deadline_ns = op->start_ns + c->deadline_ns;
	c->stats.ops++;
	return 0;
}

int sl_client_put(struct sl_client *c, const void *key, uint16_t key_len, const void *val,
		  uint32_t val_len, struct sl_client_result *res)
{
	struct op op = { .req = { .op = SL_OP_PUT, .key_len = key_len, .val_len = val_len },
			 .key = key,
			 .val = val };
	int rc = op_start(c, &op, res, 0);

	return rc ? rc : client_run(c, &op);
}

int sl_client_del(struct sl_client *c, const void *key, uint16_t key_len,
		  struct sl_client_result *res)
{
	struct op op = { .req = { .op = SL_OP_DEL, .key_len = key_len }, .key = key };
	int rc = op_start(c, &op, res, 0);

	return rc ? rc : client_run(c, &op);
}

int sl_client_get(struct sl_client *c, const void *key, uint16_t key_len,
		  const struct sl_client_get_opts *go, void *val, uint32_t val_cap,
		  struct sl_client_result *res)
{
	static const struct sl_client_get_opts none;
	struct op op;
	int rc;

	if (go == NULL)
		go = &none;
	op = (struct op){ .req = { .op = SL_OP_GET, .key_len = key_len, .min_lsn = go->min_lsn },
			  .key = key,
			  .out = val,
			  .out_cap = val_cap,
			  .wait_stale = go->wait_stale };
	rc = op_start(c, &op, res, go->node_id);
	return rc ? rc : client_run(c, &op);
}

/* ---- accessors --------------------------------------------------------------------- */

uint64_t sl_client_id(const struct sl_client *c)
{
	return c->client_id;
}

uint64_t sl_client_next_seq(const struct sl_client *c)
{
	return c->next_seq;
}

int sl_client_set_seq(struct sl_client *c, uint64_t seq)
{
	if (seq == 0)
		return -EINVAL;
	c->next_seq = seq;
	return 0;
}

uint16_t sl_client_leader(const struct sl_client *c)
{
	return c->servers[c->leader].node_id;
}

void sl_client_get_stats(const struct sl_client *c, struct sl_client_stats *out)
{
	*out = c->stats;
}
