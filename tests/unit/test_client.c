/*
 * libshiplog against fake servers: UDP sockets on 127.0.0.1 served by a thread that
 * decodes each request with sl_frame_decode and answers per a script.
 *
 * "test_client --serve MODE CLUSTER [KEYFILE]" runs one fake server as a process for
 * shiplogctl's tests instead: it prints its port, then answers until killed. MODE:
 * kv (a key-value store), busy, drop, stale, not-leader.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <shiplog/client.h>

#define CLUSTER	   0x5117u
#define EPOCH	   3u
#define SEEN_MAX   64
#define KV_MAX	   32
#define JUNK_LSN   666u /* every junk answer carries it: the one taken must not */
#define ATTEMPT_MS 150u /* generous: a loaded CI machine must not look like loss */

static const struct sl_auth_key key_a = { .bytes = "0123456789abcdef0123456789abcdef" };
static const struct sl_auth_key key_b = { .bytes = "fedcba9876543210fedcba9876543210" };

/* ---- the fake server ---------------------------------------------------------------- */

enum fs_act {
	FS_DROP = 1,
	FS_REPLY = 2,
};

/* Junk datagrams sent to the client before a reply. */
#define J_GARBAGE 0x01u /* not a frame at all */
#define J_CLUSTER 0x02u /* the right answer from another cluster */
#define J_SEQ	  0x04u /* an answer to another seq */
#define J_CRC	  0x08u /* the right answer with a flipped byte */
#define J_CLIENT  0x10u /* an answer to another client */
#define J_MAC	  0x20u /* the right answer sealed with another key (or a key at all) */
#define J_OP	  0x40u /* an answer echoing another op */
#define J_REQ	  0x80u /* a CLIENT_REQ frame, not an answer */

struct fs_step {
	enum fs_act act;
	uint8_t status;
	uint64_t lsn;
	uint16_t hint;
	const char *val; /* GET value, NUL-terminated */
	unsigned junk;
	unsigned delay_ms; /* sleep before answering (requests queue meanwhile) */
};

/* One request the server decoded. */
struct fs_seen {
	struct sl_client_req req;
	uint64_t frame_seq;
	uint16_t dst_node;
	char key[SL_KEY_MAX_DEFAULT + 1];
	struct sockaddr_in from;
};

struct fs_kv {
	char key[SL_KEY_MAX_DEFAULT + 1];
	uint8_t val[SL_VAL_MAX_DEFAULT];
	uint32_t val_len;
};

struct fake {
	int fd;
	uint16_t port;
	uint16_t node_id;
	const struct sl_auth_key *key; /* required on requests, sealed on answers */
	const struct fs_step *script;
	size_t n_steps, next;
	const struct fs_step *after; /* for every request once the script is done; NULL: drop */
	int kv;			     /* after the script: a key-value store */
	uint64_t lsn;
	struct fs_kv kvs[KV_MAX];
	size_t n_kv;
	pthread_t th;
	atomic_int stop;
	struct fs_seen seen[SEEN_MAX];
	size_t n_seen;
	uint64_t rejected; /* requests sl_frame_decode refused */
	enum sl_reject last_reject;
};

static void fake_init(struct fake *f, uint16_t node_id, const struct fs_step *script,
		      size_t n_steps)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->node_id = node_id;
	f->script = script;
	f->n_steps = n_steps;
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
}

static void fs_send(struct fake *f, const struct sockaddr_in *to, const void *buf, size_t len)
{
	/* Loopback does not drop; an error here shows as a test's missing answer. */
	(void)sendto(f->fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to));
}

/* An answer frame to req, with the given changes, sealed with key. */
static size_t fs_answer(const struct fake *f, uint8_t *buf, size_t cap,
			const struct sl_client_req *req, const struct sl_client_resp *resp,
			const void *val, uint32_t cluster, const struct sl_auth_key *key)
{
	const struct sl_frame_hdr h = { .magic = SL_MAGIC,
					.version = SL_WIRE_VERSION,
					.type = SL_FRAME_CLIENT_RESP,
					.cluster_id = cluster,
					.epoch = EPOCH,
					.src_node = f->node_id,
					.dst_node = 0,
					.seq = req->seq };

	return sl_frame_encode(buf, cap, &h, resp, val, resp->val_len, key);
}

static void fs_junk(struct fake *f, const struct sockaddr_in *to, const struct sl_client_req *req,
		    unsigned junk)
{
	struct sl_client_resp r = { .client_id = req->client_id,
				    .seq = req->seq,
				    .lsn = JUNK_LSN,
				    .epoch = EPOCH,
				    .status = SL_ST_OK,
				    .op = req->op };
	uint8_t buf[2048];
	size_t n;

	if (junk & J_GARBAGE)
		fs_send(f, to, "hello, not a shiplog frame", 26);
	if (junk & J_CLUSTER)
		fs_send(f, to, buf,
			fs_answer(f, buf, sizeof(buf), req, &r, NULL, CLUSTER + 1, f->key));
	if (junk & J_CRC) {
		n = fs_answer(f, buf, sizeof(buf), req, &r, NULL, CLUSTER, f->key);
		buf[SL_FRAME_HDR_LEN + 16] ^= 0x01; /* the lsn */
		fs_send(f, to, buf, n);
	}
	if (junk & J_MAC)
		fs_send(f, to, buf,
			fs_answer(f, buf, sizeof(buf), req, &r, NULL, CLUSTER,
				  f->key ? &key_b : &key_a));
	if (junk & J_REQ) {
		const struct sl_frame_hdr h = { .magic = SL_MAGIC,
						.version = SL_WIRE_VERSION,
						.type = SL_FRAME_CLIENT_REQ,
						.cluster_id = CLUSTER,
						.dst_node = SL_NODE_ANY };
		const struct sl_client_req q = {
			.client_id = req->client_id, .seq = req->seq, .op = SL_OP_DEL, .key_len = 1
		};

		fs_send(f, to, buf, sl_frame_encode(buf, sizeof(buf), &h, &q, "k", 1, f->key));
	}
	r.seq = req->seq + 1000;
	if (junk & J_SEQ)
		fs_send(f, to, buf, fs_answer(f, buf, sizeof(buf), req, &r, NULL, CLUSTER, f->key));
	r.seq = req->seq;
	r.client_id = req->client_id ^ 1;
	if (junk & J_CLIENT)
		fs_send(f, to, buf, fs_answer(f, buf, sizeof(buf), req, &r, NULL, CLUSTER, f->key));
	r.client_id = req->client_id;
	r.op = req->op == SL_OP_GET ? SL_OP_PUT : SL_OP_GET;
	if (junk & J_OP)
		fs_send(f, to, buf, fs_answer(f, buf, sizeof(buf), req, &r, NULL, CLUSTER, f->key));
}

static struct fs_kv *kv_find(struct fake *f, const char *key)
{
	for (size_t i = 0; i < f->n_kv; i++)
		if (!strcmp(f->kvs[i].key, key))
			return &f->kvs[i];
	return NULL;
}

/* The store: PUT and DEL take the next LSN; GET answers at the last one. */
static struct fs_step fs_kv_step(struct fake *f, const struct fs_seen *s, const uint8_t *val,
				 struct fs_kv **hit)
{
	struct fs_step st = { .act = FS_REPLY, .status = SL_ST_OK };
	struct fs_kv *e = kv_find(f, s->key);

	*hit = NULL;
	if (s->req.op == SL_OP_GET && s->req.min_lsn > f->lsn) {
		st.status = SL_ST_STALE;
	} else if (s->req.op == SL_OP_GET) {
		st.status = e ? SL_ST_OK : SL_ST_NOT_FOUND;
		*hit = e;
	} else if (s->req.op == SL_OP_DEL) {
		f->lsn++;
		if (e != NULL)
			*e = f->kvs[--f->n_kv];
	} else if (e == NULL && f->n_kv == KV_MAX) {
		st.status = SL_ST_BUSY;
	} else {
		f->lsn++;
		e = e ? e : &f->kvs[f->n_kv++];
		memcpy(e->key, s->key, sizeof(e->key));
		memcpy(e->val, val, s->req.val_len);
		e->val_len = s->req.val_len;
	}
	st.lsn = f->lsn;
	return st;
}

static void fs_reply(struct fake *f, const struct fs_seen *s, const struct fs_step *st,
		     const struct fs_kv *hit)
{
	struct sl_client_resp r = { .client_id = s->req.client_id,
				    .seq = s->req.seq,
				    .lsn = st->lsn,
				    .epoch = EPOCH,
				    .status = st->status,
				    .op = s->req.op,
				    .leader_hint = st->hint };
	const void *val = NULL;
	uint8_t buf[2048];

	if (hit != NULL) {
		val = hit->val;
		r.val_len = hit->val_len;
	} else if (st->val != NULL) {
		val = st->val;
		r.val_len = (uint32_t)strlen(st->val);
	}
	fs_send(f, &s->from, buf,
		fs_answer(f, buf, sizeof(buf), &s->req, &r, val, CLUSTER, f->key));
}

/* Decodes one datagram into s and *val (PUT's value). 0, or -1 when refused (counted). */
static int fs_decode(struct fake *f, const uint8_t *buf, size_t n, struct fs_seen *s,
		     const uint8_t **val)
{
	const struct sl_frame_expect exp = { .cluster_id = CLUSTER,
					     .node_id = f->node_id,
					     .limits = sl_limits_default(),
					     .key = f->key };
	struct sl_frame_view v;
	enum sl_reject r = sl_frame_decode(buf, n, &exp, &v);

	if (r == SL_OK && v.hdr.type != SL_FRAME_CLIENT_REQ)
		r = SL_REJ_BAD_TYPE;
	if (r != SL_OK) {
		f->rejected++;
		f->last_reject = r;
		return -1;
	}
	memset(s, 0, sizeof(*s));
	s->req = v.u.req;
	s->frame_seq = v.hdr.seq;
	s->dst_node = v.hdr.dst_node;
	memcpy(s->key, v.body, v.u.req.key_len);
	*val = v.body + v.u.req.key_len;
	return 0;
}

/* One datagram: decoded, recorded, answered per the script (or the store). */
static void fs_serve_one(struct fake *f)
{
	uint8_t buf[4096];
	struct fs_seen s;
	struct fs_step kvst;
	const struct fs_step *st;
	struct fs_kv *hit = NULL;
	const uint8_t *val;
	socklen_t alen = sizeof(s.from);
	struct sockaddr_in from;
	ssize_t n = recvfrom(f->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &alen);

	if (n < 0 || fs_decode(f, buf, (size_t)n, &s, &val) != 0)
		return;
	s.from = from;
	if (f->n_seen < SEEN_MAX)
		f->seen[f->n_seen++] = s;
	if (f->next < f->n_steps) {
		st = &f->script[f->next++];
	} else if (f->kv) {
		kvst = fs_kv_step(f, &s, val, &hit);
		st = &kvst;
	} else {
		st = f->after;
	}
	if (st == NULL || st->act == FS_DROP)
		return;
	if (st->delay_ms)
		usleep(st->delay_ms * 1000u);
	fs_junk(f, &s.from, &s.req, st->junk);
	fs_reply(f, &s, st, hit);
}

static void *fs_thread(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->fd, .events = POLLIN };

	while (!atomic_load(&f->stop))
		if (poll(&p, 1, 10) > 0)
			fs_serve_one(f);
	return NULL;
}

static void fake_start(struct fake *f)
{
	assert_int_equal(pthread_create(&f->th, NULL, fs_thread, f), 0);
}

/* Stops the thread: what it recorded may be read after this. */
static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	assert_int_equal(pthread_join(f->th, NULL), 0);
	close(f->fd);
}

/* Nodes 1 and 2, each with its script, both serving. */
static void fakes_start2(struct fake f[2], const struct fs_step *a, size_t na,
			 const struct fs_step *b, size_t nb)
{
	fake_init(&f[0], 1, a, na);
	fake_init(&f[1], 2, b, nb);
	fake_start(&f[0]);
	fake_start(&f[1]);
}

static void fakes_stop2(struct fake f[2])
{
	fake_stop(&f[0]);
	fake_stop(&f[1]);
}

/* ---- helpers ------------------------------------------------------------------------ */

static struct sl_client_server g_srv[4];

/* Options for a client of fakes f[0..n-1], with fast timeouts. */
static struct sl_client_opts opts_for(struct fake *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g_srv[i] = (struct sl_client_server){ .node_id = f[i].node_id,
						      .port = f[i].port,
						      .addr.s_addr = htonl(INADDR_LOOPBACK) };
	return (struct sl_client_opts){ .cluster_id = CLUSTER,
					.servers = g_srv,
					.n_servers = n,
					.attempt_timeout_ms = ATTEMPT_MS,
					.deadline_ms = 2000 };
}

static struct sl_client *open_with(const struct sl_client_opts *o)
{
	struct sl_client *c = NULL;

	assert_int_equal(sl_client_open(o, &c), 0);
	assert_non_null(c);
	return c;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int put(struct sl_client *c, const char *k, const char *v, struct sl_client_result *r)
{
	return sl_client_put(c, k, (uint16_t)strlen(k), v, (uint32_t)strlen(v), r);
}

static void stats_consistent(struct sl_client *c)
{
	struct sl_client_stats s;

	sl_client_get_stats(c, &s);
	assert_true(s.ign_wrong_cluster + s.ign_bad_crc + s.ign_bad_mac + s.ign_not_ours +
			    s.ign_malformed ==
		    s.received - s.answers);
}

#define OK_STEP(l)                                              \
	{                                                       \
		.act = FS_REPLY, .status = SL_ST_OK, .lsn = (l) \
	}
#define DROP_STEP              \
	{                      \
		.act = FS_DROP \
	}

/* ---- writes ------------------------------------------------------------------------- */

static void test_put_ok_token(void **state)
{
	static const struct fs_step script[] = { OK_STEP(1042) };
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;

	(void)state;
	fake_init(&f, 1, script, 1);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(put(c, "alpha", "one", &r), 0);
	fake_stop(&f);
	assert_int_equal(r.status, SL_ST_OK);
	assert_int_equal(r.epoch, EPOCH);
	assert_true(r.lsn == 1042);
	assert_int_equal(r.node_id, 1);
	assert_int_equal(r.attempts, 1);
	assert_true(r.seq == 1);
	assert_int_equal(f.n_seen, 1);
	assert_true(f.seen[0].req.client_id == sl_client_id(c));
	assert_int_equal(f.seen[0].req.op, SL_OP_PUT);
	assert_int_equal(f.seen[0].dst_node, 1);
	assert_string_equal(f.seen[0].key, "alpha");
	assert_int_equal(f.seen[0].req.val_len, 3);
	sl_client_close(c);
}

static void test_retry_same_seq_then_next(void **state)
{
	static const struct fs_step script[] = { DROP_STEP, OK_STEP(7), OK_STEP(8) };
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	fake_init(&f, 1, script, 3);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	assert_int_equal(r.attempts, 2);
	assert_true(r.lsn == 7);
	assert_true(r.elapsed_us >= ATTEMPT_MS * 1000u);
	assert_int_equal(sl_client_del(c, "k", 1, &r), 0);
	assert_true(r.lsn == 8 && r.seq == 2);
	fake_stop(&f);
	assert_int_equal(f.n_seen, 3);
	assert_true(f.seen[0].req.client_id == f.seen[1].req.client_id);
	assert_true(f.seen[0].req.client_id == f.seen[2].req.client_id);
	assert_true(f.seen[0].req.seq == 1 && f.seen[1].req.seq == 1);
	assert_true(f.seen[2].req.seq == 2);
	assert_int_equal(f.seen[2].req.op, SL_OP_DEL);
	assert_true(f.seen[0].frame_seq != f.seen[1].frame_seq); /* per datagram */
	sl_client_get_stats(c, &s);
	assert_true(s.ops == 2 && s.sent == 3 && s.retransmits == 1);
	assert_true(sl_client_next_seq(c) == 3);
	sl_client_close(c);
}

static void test_not_leader_hint_followed(void **state)
{
	static const struct fs_step a_script[] = {
		{ .act = FS_REPLY, .status = SL_ST_NOT_LEADER, .hint = 2 },
	};
	static const struct fs_step b_script[] = { OK_STEP(50), OK_STEP(51) };
	struct fake f[2];
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;

	(void)state;
	fakes_start2(f, a_script, 1, b_script, 2);
	o = opts_for(f, 2);
	c = open_with(&o);
	assert_int_equal(sl_client_leader(c), 1);
	assert_int_equal(put(c, "k", "v", &r), 0);
	assert_int_equal(r.status, SL_ST_OK);
	assert_int_equal(r.node_id, 2);
	assert_int_equal(r.leader_hint, 2);
	assert_int_equal(r.attempts, 2);
	assert_true(r.elapsed_us < ATTEMPT_MS * 1000u); /* redirected at once, no timeout */
	assert_int_equal(sl_client_leader(c), 2);
	/* The next operation starts at the leader it learned. */
	assert_int_equal(put(c, "k2", "v", &r), 0);
	assert_int_equal(r.node_id, 2);
	assert_int_equal(r.attempts, 1);
	fakes_stop2(f);
	assert_int_equal(f[0].n_seen, 1);
	assert_int_equal(f[1].n_seen, 2);
	assert_true(f[0].seen[0].req.seq == 1 && f[1].seen[0].req.seq == 1);
	assert_true(f[0].seen[0].req.client_id == f[1].seen[0].req.client_id);
	assert_int_equal(f[1].seen[0].dst_node, 2);
	assert_true(f[1].seen[1].req.seq == 2);
	sl_client_close(c);
}

static void test_not_leader_no_hint_rotates(void **state)
{
	static const struct fs_step a_script[] = {
		{ .act = FS_REPLY, .status = SL_ST_NOT_LEADER, .hint = 0 },
	};
	static const struct fs_step b_script[] = { OK_STEP(9) };
	struct fake f[2];
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;

	(void)state;
	fakes_start2(f, a_script, 1, b_script, 1);
	o = opts_for(f, 2);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	fakes_stop2(f);
	assert_int_equal(r.node_id, 2);
	assert_true(r.lsn == 9);
	assert_int_equal(f[1].n_seen, 1);
	assert_true(f[1].seen[0].req.seq == f[0].seen[0].req.seq);
	sl_client_close(c);
}

/* Two nodes naming each other: bounded by backoff, not a hot loop, and -ETIMEDOUT. */
static void test_not_leader_ping_pong_bounded(void **state)
{
	static const struct fs_step to_b = { .act = FS_REPLY,
					     .status = SL_ST_NOT_LEADER,
					     .hint = 2 };
	static const struct fs_step to_a = { .act = FS_REPLY,
					     .status = SL_ST_NOT_LEADER,
					     .hint = 1 };
	struct fake f[2];
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;

	(void)state;
	fake_init(&f[0], 1, NULL, 0);
	fake_init(&f[1], 2, NULL, 0);
	f[0].after = &to_b;
	f[1].after = &to_a;
	fake_start(&f[0]);
	fake_start(&f[1]);
	o = opts_for(f, 2);
	o.deadline_ms = 300;
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), -ETIMEDOUT);
	fakes_stop2(f);
	assert_int_equal(r.status, SL_ST_NOT_LEADER);
	assert_true(r.leader_hint == 1 || r.leader_hint == 2);
	/* 1+2+...+64 ms of backoff, then 64 ms steps: well under 30 in 300 ms. */
	assert_true(r.attempts >= 4 && r.attempts < 30);
	sl_client_close(c);
}

static void test_busy_backs_off_then_ok(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_BUSY },
		{ .act = FS_REPLY, .status = SL_ST_BUSY },
		OK_STEP(77),
	};
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	fake_init(&f, 1, script, 3);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	fake_stop(&f);
	assert_int_equal(r.status, SL_ST_OK);
	assert_true(r.lsn == 77);
	assert_int_equal(r.attempts, 3);
	assert_true(r.elapsed_us >= 3000); /* 1 ms, then 2 ms */
	assert_int_equal(f.n_seen, 3);
	assert_true(f.seen[0].req.seq == f.seen[2].req.seq);
	sl_client_get_stats(c, &s);
	assert_true(s.busy == 2 && s.retransmits == 0);
	sl_client_close(c);
}

static void test_busy_until_deadline(void **state)
{
	static const struct fs_step busy = { .act = FS_REPLY, .status = SL_ST_BUSY };
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;

	(void)state;
	fake_init(&f, 1, NULL, 0);
	f.after = &busy;
	fake_start(&f);
	o = opts_for(&f, 1);
	o.deadline_ms = 200;
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), -ETIMEDOUT);
	fake_stop(&f);
	assert_int_equal(r.status, SL_ST_BUSY);
	assert_true(r.attempts >= 4 && r.attempts < 20);
	sl_client_close(c);
}

static void test_timeout_status_same_seq(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_TIMEOUT },
		OK_STEP(31),
	};
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	fake_init(&f, 1, script, 2);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	fake_stop(&f);
	assert_true(r.status == SL_ST_OK && r.lsn == 31 && r.attempts == 2);
	assert_int_equal(f.n_seen, 2);
	assert_true(f.seen[0].req.seq == f.seen[1].req.seq);
	sl_client_get_stats(c, &s);
	assert_true(s.server_timeouts == 1);
	sl_client_close(c);
}

/* The presumed leader is silent: after tries_per_server attempts the next server. */
static void test_silent_server_rotates(void **state)
{
	static const struct fs_step b_script[] = { OK_STEP(5) };
	struct fake f[2];
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	fakes_start2(f, NULL, 0, b_script, 1);
	o = opts_for(f, 2);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	fakes_stop2(f);
	assert_int_equal(r.node_id, 2);
	assert_int_equal(r.attempts, SL_CLIENT_TRIES_PER_SERVER_DEFAULT + 1);
	assert_int_equal(f[0].n_seen, SL_CLIENT_TRIES_PER_SERVER_DEFAULT);
	assert_true(f[1].seen[0].req.seq == f[0].seen[0].req.seq);
	sl_client_get_stats(c, &s);
	assert_true(s.rotations == 1);
	assert_int_equal(sl_client_leader(c), 2);
	sl_client_close(c);
}

static void test_first_node_option(void **state)
{
	static const struct fs_step b_script[] = { OK_STEP(5) };
	struct fake f[2];
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;

	(void)state;
	fakes_start2(f, NULL, 0, b_script, 1);
	o = opts_for(f, 2);
	o.first_node = 2;
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	fakes_stop2(f);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(f[0].n_seen, 0);
	sl_client_close(c);
}

/*
 * Late duplicate answers to the previous operation are not taken for the next one: the
 * first answer comes after some retries, and the retries' answers (seq 1) arrive while
 * seq 2 is outstanding.
 */
static void test_late_answer_not_ours(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_OK, .lsn = 1, .delay_ms = 2 * ATTEMPT_MS + 20 },
	};
	static const struct fs_step then = OK_STEP(2);
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	fake_init(&f, 1, script, 1);
	f.after = &then;
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	assert_true(r.lsn == 1 && r.attempts >= 2);
	assert_int_equal(put(c, "k", "w", &r), 0);
	assert_true(r.lsn == 2 && r.seq == 2);
	fake_stop(&f);
	sl_client_get_stats(c, &s);
	assert_true(s.ign_not_ours >= 1);
	stats_consistent(c);
	sl_client_close(c);
}

/* ---- reads -------------------------------------------------------------------------- */

static void test_get_value(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_OK, .lsn = 42, .val = "hello" },
		{ .act = FS_REPLY, .status = SL_ST_NOT_FOUND, .lsn = 42 },
	};
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	char buf[64];

	(void)state;
	fake_init(&f, 1, script, 2);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(sl_client_get(c, "k", 1, NULL, buf, sizeof(buf), &r), 0);
	assert_int_equal(r.status, SL_ST_OK);
	assert_int_equal(r.val_len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_true(r.lsn == 42);
	assert_int_equal(sl_client_get(c, "nope", 4, NULL, buf, sizeof(buf), &r), 0);
	assert_int_equal(r.status, SL_ST_NOT_FOUND);
	assert_int_equal(r.val_len, 0);
	fake_stop(&f);
	assert_int_equal(f.seen[0].req.op, SL_OP_GET);
	assert_true(f.seen[0].req.min_lsn == 0);
	sl_client_close(c);
}

static void test_get_stale(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_STALE, .lsn = 50 },
	};
	const struct sl_client_get_opts go = { .min_lsn = 100 };
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	char buf[16];

	(void)state;
	fake_init(&f, 1, script, 1);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(sl_client_get(c, "k", 1, &go, buf, sizeof(buf), &r), 0);
	fake_stop(&f);
	assert_int_equal(r.status, SL_ST_STALE);
	assert_true(r.lsn == 50);
	assert_int_equal(r.attempts, 1); /* returned, not retried */
	assert_true(f.seen[0].req.min_lsn == 100);
	sl_client_close(c);
}

static void test_get_stale_wait(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_STALE, .lsn = 50 },
		{ .act = FS_REPLY, .status = SL_ST_OK, .lsn = 100, .val = "v" },
	};
	const struct sl_client_get_opts go = { .min_lsn = 100, .wait_stale = 1 };
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	char buf[16];

	(void)state;
	fake_init(&f, 1, script, 2);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(sl_client_get(c, "k", 1, &go, buf, sizeof(buf), &r), 0);
	fake_stop(&f);
	assert_true(r.status == SL_ST_OK && r.lsn == 100 && r.attempts == 2);
	assert_true(f.seen[1].req.seq == f.seen[0].req.seq);
	sl_client_close(c);
}

static void test_get_buffer_too_small(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_OK, .lsn = 1, .val = "0123456789" },
		{ .act = FS_REPLY, .status = SL_ST_OK, .lsn = 1, .val = "0123456789" },
	};
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	char buf[8] = "xxxxxxx";

	(void)state;
	fake_init(&f, 1, script, 2);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(sl_client_get(c, "k", 1, NULL, buf, 4, &r), -ENOBUFS);
	assert_int_equal(r.val_len, 10);
	assert_memory_equal(buf, "0123xxx", 8);
	/* NULL with 0 asks for the length only. */
	assert_int_equal(sl_client_get(c, "k", 1, NULL, NULL, 0, &r), -ENOBUFS);
	assert_int_equal(r.val_len, 10);
	fake_stop(&f);
	sl_client_close(c);
}

static void test_get_follower_node(void **state)
{
	static const struct fs_step b_script[] = {
		{ .act = FS_REPLY, .status = SL_ST_OK, .lsn = 3, .val = "f" },
	};
	const struct sl_client_get_opts go = { .node_id = 2 };
	const struct sl_client_get_opts bad = { .node_id = 9 };
	struct fake f[2];
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	char buf[4];

	(void)state;
	fakes_start2(f, NULL, 0, b_script, 1);
	o = opts_for(f, 2);
	c = open_with(&o);
	assert_int_equal(sl_client_get(c, "k", 1, &bad, buf, sizeof(buf), &r), -ENOENT);
	assert_int_equal(sl_client_get(c, "k", 1, &go, buf, sizeof(buf), &r), 0);
	assert_int_equal(r.node_id, 2);
	assert_int_equal(sl_client_leader(c), 1); /* a follower read does not move the leader */
	fakes_stop2(f);
	assert_int_equal(f[0].n_seen, 0);
	assert_int_equal(f[1].seen[0].dst_node, 2);
	sl_client_close(c);
}

/* ---- what is not an answer ---------------------------------------------------------- */

static void test_junk_ignored_and_counted(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY,
		  .status = SL_ST_OK,
		  .lsn = 12,
		  .junk = J_GARBAGE | J_CLUSTER | J_SEQ | J_CRC | J_CLIENT | J_MAC | J_OP | J_REQ },
	};
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	fake_init(&f, 1, script, 1);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	fake_stop(&f);
	assert_true(r.lsn == 12);
	assert_int_equal(r.attempts, 1);
	sl_client_get_stats(c, &s);
	assert_true(s.received == 9 && s.answers == 1);
	assert_true(s.ign_wrong_cluster == 1);
	assert_true(s.ign_bad_crc == 1);
	assert_true(s.ign_bad_mac == 1);
	assert_true(s.ign_not_ours == 3);  /* seq, client_id, op */
	assert_true(s.ign_malformed == 2); /* garbage, a request */
	assert_true(s.rej.count[SL_REJ_BAD_TYPE] == 1);
	assert_true(s.rej.count[SL_REJ_BAD_CLUSTER] == 1);
	stats_consistent(c);
	sl_client_close(c);
}

static void test_auth(void **state)
{
	static const struct fs_step script[] = {
		{ .act = FS_REPLY, .status = SL_ST_OK, .lsn = 4, .junk = J_MAC | J_CRC },
	};
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c, *nokey;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	fake_init(&f, 1, script, 1);
	f.key = &key_a;
	fake_start(&f);
	o = opts_for(&f, 1);
	o.key = &key_a;
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	assert_true(r.lsn == 4);
	sl_client_get_stats(c, &s);
	assert_true(s.ign_bad_mac == 1 && s.ign_bad_crc == 1);
	/* Without the key the server refuses every request: no answer. */
	o.key = NULL;
	o.deadline_ms = 100;
	nokey = open_with(&o);
	assert_int_equal(put(nokey, "k", "v", &r), -ETIMEDOUT);
	assert_int_equal(r.status, SL_CLIENT_ST_NONE);
	fake_stop(&f);
	assert_int_equal(f.n_seen, 1);
	assert_true(f.rejected >= 1);
	assert_int_equal(f.last_reject, SL_REJ_BAD_MAC);
	sl_client_close(c);
	sl_client_close(nokey);
}

/* ---- deadline and local refusals ---------------------------------------------------- */

static void test_deadline_bounded(void **state)
{
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;
	uint64_t t0, ms;

	(void)state;
	fake_init(&f, 1, NULL, 0); /* drops everything */
	fake_start(&f);
	o = opts_for(&f, 1);
	o.deadline_ms = 300;
	o.attempt_timeout_ms = 40;
	c = open_with(&o);
	t0 = mono_ms();
	assert_int_equal(put(c, "k", "v", &r), -ETIMEDOUT);
	ms = mono_ms() - t0;
	fake_stop(&f);
	assert_true(ms >= 300);
	assert_true(ms < 300 + 100);
	assert_int_equal(r.status, SL_CLIENT_ST_NONE);
	assert_true(r.attempts >= 6 && r.attempts <= 8); /* at 0, 40, ..., 280 ms */
	assert_int_equal(f.n_seen, r.attempts);
	sl_client_get_stats(c, &s);
	assert_true(s.deadlines == 1);
	/* The outcome is unknown: the next operation still takes a new seq. */
	assert_true(sl_client_next_seq(c) == 2);
	sl_client_close(c);
}

static void test_local_refusals_send_nothing(void **state)
{
	static char big[SL_VAL_MAX_DEFAULT + 2];
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;
	struct sl_client_stats s;

	(void)state;
	memset(big, 'x', sizeof(big));
	fake_init(&f, 1, NULL, 0);
	fake_start(&f);
	o = opts_for(&f, 1);
	c = open_with(&o);
	assert_int_equal(sl_client_put(c, big, SL_KEY_MAX_DEFAULT + 1, "v", 1, &r), -EMSGSIZE);
	assert_int_equal(sl_client_put(c, "k", 1, big, SL_VAL_MAX_DEFAULT + 1, &r), -EMSGSIZE);
	assert_int_equal(sl_client_get(c, big, SL_KEY_MAX_DEFAULT + 1, NULL, NULL, 0, &r),
			 -EMSGSIZE);
	assert_int_equal(sl_client_put(c, "k", 0, "v", 1, &r), -EINVAL);
	assert_int_equal(sl_client_put(c, "k", 1, NULL, 1, &r), -EINVAL);
	sl_client_close(c);
	/* Configured limits, not the defaults. */
	o.limits = (struct sl_limits){ .key_max = 8, .val_max = 16 };
	c = open_with(&o);
	assert_int_equal(sl_client_put(c, "123456789", 9, "v", 1, &r), -EMSGSIZE);
	assert_int_equal(sl_client_put(c, "k", 1, big, 17, &r), -EMSGSIZE);
	sl_client_get_stats(c, &s);
	assert_true(s.sent == 0 && s.ops == 0);
	assert_true(sl_client_next_seq(c) == 1); /* no seq taken */
	usleep(20 * 1000);
	fake_stop(&f);
	assert_int_equal(f.n_seen, 0);
	assert_true(f.rejected == 0);
	sl_client_close(c);
}

/* ---- open, ids, seqs, bind ---------------------------------------------------------- */

static void test_open_refuses(void **state)
{
	const struct sl_client_server two[2] = {
		{ .node_id = 1, .addr.s_addr = htonl(INADDR_LOOPBACK) },
		{ .node_id = 1, .port = 7401, .addr.s_addr = htonl(INADDR_LOOPBACK) },
	};
	struct sl_client_opts o = { .cluster_id = CLUSTER, .servers = two, .n_servers = 1 };
	struct sl_client *c = NULL;

	(void)state;
	assert_int_equal(sl_client_open(&o, &c), 0);
	assert_int_equal(sl_client_leader(c), 1);
	sl_client_close(c);
	o.cluster_id = 0;
	assert_int_equal(sl_client_open(&o, &c), -EINVAL);
	o.cluster_id = CLUSTER;
	o.n_servers = 2; /* node 1 twice */
	assert_int_equal(sl_client_open(&o, &c), -EINVAL);
	o.n_servers = 0;
	assert_int_equal(sl_client_open(&o, &c), -EINVAL);
	o.n_servers = 1;
	o.first_node = 5;
	assert_int_equal(sl_client_open(&o, &c), -EINVAL);
	o.first_node = 0;
	o.limits = (struct sl_limits){ .key_max = 256, .val_max = 70000 };
	assert_int_equal(sl_client_open(&o, &c), -EINVAL);
	sl_client_close(NULL);
}

static void test_ids_and_seqs(void **state)
{
	const struct sl_client_server one = { .node_id = 1, .addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sl_client_opts o = { .cluster_id = CLUSTER, .servers = &one, .n_servers = 1 };
	struct sl_client *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(sl_client_open(&o, &a), 0);
	assert_int_equal(sl_client_open(&o, &b), 0);
	assert_true(sl_client_id(a) != 0 && sl_client_id(b) != 0);
	assert_true(sl_client_id(a) != sl_client_id(b));
	assert_true(sl_client_next_seq(a) == 1);
	assert_int_equal(sl_client_set_seq(a, 0), -EINVAL);
	assert_int_equal(sl_client_set_seq(a, 41), 0);
	assert_true(sl_client_next_seq(a) == 41);
	sl_client_close(a);
	sl_client_close(b);
	o.client_id = 0xfeed;
	o.first_seq = 1000;
	assert_int_equal(sl_client_open(&o, &a), 0);
	assert_true(sl_client_id(a) == 0xfeed && sl_client_next_seq(a) == 1000);
	sl_client_close(a);
}

/* The answer goes to the request's source: here a bound address and port. */
static void test_bind_source(void **state)
{
	static const struct fs_step script[] = { OK_STEP(1) };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int probe = socket(AF_INET, SOCK_DGRAM, 0);
	struct fake f;
	struct sl_client_opts o;
	struct sl_client *c;
	struct sl_client_result r;

	(void)state;
	/* A free port: taken, then given back for the client to bind. */
	assert_int_equal(bind(probe, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&sa, &len), 0);
	close(probe);
	fake_init(&f, 1, script, 1);
	fake_start(&f);
	o = opts_for(&f, 1);
	o.bind_addr.s_addr = htonl(INADDR_LOOPBACK);
	o.bind_port = ntohs(sa.sin_port);
	c = open_with(&o);
	assert_int_equal(put(c, "k", "v", &r), 0);
	fake_stop(&f);
	assert_int_equal(ntohs(f.seen[0].from.sin_port), o.bind_port);
	assert_true(f.seen[0].from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	sl_client_close(c);
}

/* ---- codec -------------------------------------------------------------------------- */

static void test_codec_roundtrip(void **state)
{
	const struct sl_client_codec cc = { .cluster_id = CLUSTER,
					    .key = &key_a,
					    .limits = sl_limits_default() };
	const struct sl_frame_expect exp = {
		.cluster_id = CLUSTER, .node_id = 3, .limits = sl_limits_default(), .key = &key_a
	};
	struct sl_client_req q = {
		.client_id = 5, .seq = 6, .op = SL_OP_PUT, .key_len = 3, .val_len = 4
	};
	struct sl_client_resp resp = { .client_id = 5,
				       .seq = 6,
				       .lsn = 9,
				       .epoch = 2,
				       .status = SL_ST_OK,
				       .op = SL_OP_GET,
				       .val_len = 2 };
	const struct sl_frame_hdr h = { .magic = SL_MAGIC,
					.version = SL_WIRE_VERSION,
					.type = SL_FRAME_CLIENT_RESP,
					.cluster_id = CLUSTER,
					.src_node = 3 };
	struct sl_client_answer a;
	struct sl_frame_view v;
	uint8_t buf[512];
	int n;

	(void)state;
	n = sl_client_encode_req(&cc, buf, sizeof(buf), 3, 77, &q, "key", "valu");
	assert_int_equal(n, SL_FRAME_HDR_LEN + 32 + 7);
	assert_int_equal(sl_frame_decode(buf, (size_t)n, &exp, &v), SL_OK);
	assert_true(v.hdr.seq == 77 && v.hdr.src_node == 0 && v.hdr.dst_node == 3);
	assert_true(v.hdr.flags & SL_FRAME_F_AUTH);
	assert_true(v.u.req.client_id == 5 && v.u.req.seq == 6);
	assert_memory_equal(v.body, "keyvalu", 7);
	/* A request is not an answer (addressed to a node, it is refused before that). */
	assert_int_equal(sl_client_decode_resp(&cc, buf, (size_t)n, &a), SL_REJ_BAD_DEST);
	n = sl_client_encode_req(&cc, buf, sizeof(buf), SL_NODE_ANY, 77, &q, "key", "valu");
	assert_int_equal(sl_client_decode_resp(&cc, buf, (size_t)n, &a), SL_REJ_BAD_TYPE);
	assert_int_equal(sl_client_encode_req(&cc, buf, (size_t)n - 1, 3, 77, &q, "key", "valu"),
			 -ENOBUFS);
	q.op = SL_OP_GET;
	assert_int_equal(sl_client_encode_req(&cc, buf, sizeof(buf), 3, 1, &q, "key", "v"),
			 -EINVAL);
	q.op = SL_OP_PUT;
	q.min_lsn = 1;
	assert_int_equal(sl_client_encode_req(&cc, buf, sizeof(buf), 3, 1, &q, "key", "v"),
			 -EINVAL);
	q.min_lsn = 0;
	q.op = 9;
	assert_int_equal(sl_client_encode_req(&cc, buf, sizeof(buf), 3, 1, &q, "key", "v"),
			 -EINVAL);
	q.op = SL_OP_PUT;
	q.key_len = SL_KEY_MAX_DEFAULT + 1;
	assert_int_equal(sl_client_encode_req(&cc, buf, sizeof(buf), 3, 1, &q, buf, "v"),
			 -EMSGSIZE);

	n = (int)sl_frame_encode(buf, sizeof(buf), &h, &resp, "hi", 2, &key_a);
	assert_int_equal(sl_client_decode_resp(&cc, buf, (size_t)n, &a), SL_OK);
	assert_true(a.resp.lsn == 9 && a.resp.epoch == 2 && a.node_id == 3);
	assert_int_equal(a.resp.val_len, 2);
	assert_memory_equal(a.val, "hi", 2);
	assert_int_equal(sl_client_decode_resp(&cc, buf, (size_t)n - 1, &a), SL_REJ_BAD_LENGTH);
	assert_true(sl_client_req_max(&cc.limits) == SL_FRAME_HDR_LEN + 32 + 256 + 1024);
	assert_true(sl_client_resp_max(&cc.limits) == SL_FRAME_HDR_LEN + 40 + 1024);
}

/* ---- parsers ------------------------------------------------------------------------ */

static void test_servers_parse_good(void **state)
{
	struct sl_client_server s[SL_CLIENT_SERVERS_MAX];
	char err[SL_CLIENT_ERR_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(sl_client_servers_parse("1=10.0.0.1:7400,2=10.0.0.2,3=10.0.0.3:7401", s,
						 SL_CLIENT_SERVERS_MAX, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 3);
	assert_true(s[0].node_id == 1 && s[0].port == 7400 &&
		    s[0].addr.s_addr == inet_addr("10.0.0.1"));
	assert_true(s[1].node_id == 2 && s[1].port == SL_UDP_PORT &&
		    s[1].addr.s_addr == inet_addr("10.0.0.2"));
	assert_true(s[2].node_id == 3 && s[2].port == 7401);
	assert_int_equal(sl_client_servers_parse("64=127.0.0.1:1", s, 1, &n, NULL, 0), 0);
	assert_true(n == 1 && s[0].node_id == 64 && s[0].port == 1);
	/* Same address, other ports: a local cluster. */
	assert_int_equal(sl_client_servers_parse("1=127.0.0.1:7400,2=127.0.0.1:7401", s, 2, &n, err,
						 sizeof(err)),
			 0);
}

static void test_servers_parse_bad(void **state)
{
	static const struct {
		const char *in;
		const char *says;
	} cases[] = {
		{ "", "server list is empty" },
		{ ",", "item 1 \"\": empty" },
		{ "1=10.0.0.1,", "item 2 \"\": empty" },
		{ "1=10.0.0.1,,2=10.0.0.2", "item 2" },
		{ "1", "expected ID=IPV4[:PORT]" },
		{ "x=10.0.0.1", "node id \"x\" is not a number from 1 to 64" },
		{ "0=10.0.0.1", "node id \"0\"" },
		{ "65=10.0.0.1", "node id \"65\"" },
		{ "-1=10.0.0.1", "node id \"-1\"" },
		{ " 1=10.0.0.1", "node id \" 1\"" },
		{ "1=", "\"\" is not an IPv4 address" },
		{ "1=10.0.0.256", "\"10.0.0.256\" is not an IPv4 address" },
		{ "1=10.0.0", "\"10.0.0\" is not an IPv4 address" },
		{ "1=host.example", "is not an IPv4 address" },
		{ "1=10.0.0.1:", "port \"\" is not a number from 1 to 65535" },
		{ "1=10.0.0.1:0", "port \"0\"" },
		{ "1=10.0.0.1:65536", "port \"65536\"" },
		{ "1=10.0.0.1:74x", "port \"74x\"" },
		{ "1=0.0.0.0", "0.0.0.0 is not a server address" },
		{ "1=10.0.0.1,1=10.0.0.2", "item 2 \"1=10.0.0.2\": node id 1 appears twice" },
		{ "1=10.0.0.1,2=10.0.0.1:7400", "same address and port as node 1" },
		{ "1=10.0.0.1,2=10.0.0.2,3=10.0.0.3",
		  "item 3 \"3=10.0.0.3\": more than 2 servers" },
	};
	struct sl_client_server s[2];
	char err[SL_CLIENT_ERR_MAX];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (sl_client_servers_parse(cases[i].in, s, 2, &n, err, sizeof(err)) != -EINVAL ||
		    strstr(err, cases[i].says) == NULL)
			fail_msg("\"%s\": got \"%s\", expected it to say \"%s\"", cases[i].in, err,
				 cases[i].says);
	}
	assert_int_equal(sl_client_servers_parse("junk", s, 2, &n, NULL, 0), -EINVAL);
	/* A long item is shortened in the message, which stays one line within the buffer. */
	assert_int_equal(sl_client_servers_parse("1=1111111111111111111111111111111111111111111111",
						 s, 2, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "...\""));
	assert_null(strchr(err, '\n'));
}

static void test_key_parse(void **state)
{
	const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
	char path[] = "/tmp/test_client_key.XXXXXX";
	struct sl_auth_key k;
	int fd;

	(void)state;
	assert_int_equal(sl_client_key_parse_hex(hex, 64, &k), 0);
	for (unsigned i = 0; i < SL_AUTH_KEY_LEN; i++)
		assert_int_equal(k.bytes[i], i);
	assert_int_equal(sl_client_key_parse_hex(hex, 63, &k), -EINVAL);
	assert_int_equal(sl_client_key_parse_hex("zz02030405060708090a0b0c0d0e0f101112131415161718"
						 "191a1b1c1d1e1f",
						 64, &k),
			 -EINVAL);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "  ", 2), 2);
	assert_int_equal(write(fd, hex, 64), 64);
	assert_int_equal(write(fd, "\n", 1), 1);
	memset(&k, 0, sizeof(k));
	assert_int_equal(sl_client_key_file_read(path, &k), 0);
	assert_int_equal(k.bytes[31], 31);
	assert_int_equal(write(fd, "ab\n", 3), 3); /* 66 digits now */
	assert_int_equal(sl_client_key_file_read(path, &k), -EINVAL);
	close(fd);
	unlink(path);
	assert_int_equal(sl_client_key_file_read(path, &k), -ENOENT);
	assert_string_equal(sl_client_result_status_name(SL_CLIENT_ST_NONE), "no_answer");
	assert_string_equal(sl_client_result_status_name(SL_ST_STALE), "stale");
}

/* ---- --serve: one fake server as a process, for shiplogctl's tests ------------------- */

static int serve(int argc, char **argv)
{
	static const struct fs_step busy = { .act = FS_REPLY, .status = SL_ST_BUSY };
	static const struct fs_step stale = { .act = FS_REPLY, .status = SL_ST_STALE, .lsn = 5 };
	static const struct fs_step not_leader = { .act = FS_REPLY, .status = SL_ST_NOT_LEADER };
	static struct fake f;
	static struct sl_auth_key key;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	const char *mode = argv[2];

	if (argc < 4 || strtoul(argv[3], NULL, 0) != CLUSTER) {
		fprintf(stderr,
			"usage: test_client --serve kv|busy|drop|stale|not-leader %u [KEYFILE]\n",
			CLUSTER);
		return 2;
	}
	f.node_id = 1;
	f.kv = !strcmp(mode, "kv");
	f.after = !strcmp(mode, "busy")		? &busy
		  : !strcmp(mode, "stale")	? &stale
		  : !strcmp(mode, "not-leader") ? &not_leader
						: NULL;
	if (argc > 4 && sl_client_key_file_read(argv[4], &key) != 0)
		return 2;
	f.key = argc > 4 ? &key : NULL;
	f.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f.fd < 0 || bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(f.fd, (struct sockaddr *)&sa, &len) != 0)
		return 1;
	printf("%u\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;)
		fs_serve_one(&f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_ok_token),
		cmocka_unit_test(test_retry_same_seq_then_next),
		cmocka_unit_test(test_not_leader_hint_followed),
		cmocka_unit_test(test_not_leader_no_hint_rotates),
		cmocka_unit_test(test_not_leader_ping_pong_bounded),
		cmocka_unit_test(test_busy_backs_off_then_ok),
		cmocka_unit_test(test_busy_until_deadline),
		cmocka_unit_test(test_timeout_status_same_seq),
		cmocka_unit_test(test_silent_server_rotates),
		cmocka_unit_test(test_first_node_option),
		cmocka_unit_test(test_late_answer_not_ours),
		cmocka_unit_test(test_get_value),
		cmocka_unit_test(test_get_stale),
		cmocka_unit_test(test_get_stale_wait),
		cmocka_unit_test(test_get_buffer_too_small),
		cmocka_unit_test(test_get_follower_node),
		cmocka_unit_test(test_junk_ignored_and_counted),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_deadline_bounded),
		cmocka_unit_test(test_local_refusals_send_nothing),
		cmocka_unit_test(test_open_refuses),
		cmocka_unit_test(test_ids_and_seqs),
		cmocka_unit_test(test_bind_source),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_servers_parse_good),
		cmocka_unit_test(test_servers_parse_bad),
		cmocka_unit_test(test_key_parse),
	};

	if (argc > 2 && !strcmp(argv[1], "--serve"))
		return serve(argc, argv);
	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
