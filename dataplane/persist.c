/* shiplogd's persistence lcore: the WAL on io_uring, fed and answered through rings. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sdt.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "node.h"

/*
 * DESIGN.md §5: this lcore alone touches the WAL. Records arrive as NODE_M_REC (a
 * pointer into an mbuf whose reference the WAL now owns), are appended in arrival
 * order, and every loop turn submits one group commit and reaps completions. When
 * flushed_lsn moves, one PERSISTED message reports it (cumulative, so a full ring only
 * delays it). A WAL that fails stops the node: it never acknowledges what is not
 * durable and never retries on the assumption that it was.
 */

#define PERSIST_MSG_BATCH 256u

static void persist_release(void *arg, uint64_t handle)
{
	(void)arg;
	rte_pktmbuf_free((struct rte_mbuf *)(uintptr_t)handle);
}

/* false when the ring stayed full (only with one lcore: nobody else drains it). */
static bool persist_to_net(struct node *n, const struct node_msg *m)
{
	while (rte_ring_enqueue_elem(n->to_net, (void *)(uintptr_t)m, sizeof(*m)) != 0) {
		if (n->single_lcore)
			return false;
		rte_pause(); /* the network lcore drains it every turn */
	}
	return true;
}

static void persist_on_read(void *arg, uint64_t tag, int status, const uint8_t *buf, uint32_t len,
			    uint64_t first, uint32_t count)
{
	struct node *n = arg;
	unsigned idx = (unsigned)(tag & 0xff);
	struct node_msg m = { .kind = NODE_M_READ_DONE,
			      .status = (int8_t)(status < -127 ? -127 : status),
			      .d = (uint16_t)(tag >> 8),
			      .c = idx | count << 8,
			      .data = (uint8_t *)(uintptr_t)buf,
			      .a = first,
			      .b = status < 0 ? 0 : len };

	/* A failed read's buffer comes back at once; a good one when the network lcore
	 * has released all its records (NODE_M_BUF_DONE), even when there are none. A
	 * lost answer is asked again: the core retries catch-up reads on its timer. */
	if (status < 0 || !persist_to_net(n, &m))
		n->readbuf_free |= 1u << idx;
}

static void persist_fail(struct node *n, int rc, const char *what)
{
	n->per.wal_errors++;
	if (!atomic_load(&n->stop))
		fprintf(stderr, "shiplogd[%u]: WAL %s failed: %s; stopping the node\n",
			n->cfg.node_id, what, strerror(-rc));
	node_fail(n);
}

/* Appends what is held. false when the WAL's queue is full (try again later). */
static bool persist_append_held(struct node *n)
{
	int rc;

	if (n->n_held == 0)
		return true;
	rc = sl_wal_append(n->wal, n->held, n->n_held, n->held_hint);
	if (rc == -EAGAIN) {
		n->per.append_full++;
		return false;
	}
	if (rc < 0) {
		/* Not taken: the references are still ours to give back. */
		for (uint32_t i = 0; i < n->n_held; i++)
			persist_release(n, n->held[i].handle);
		persist_fail(n, rc, "append");
	}
	n->per.records += n->n_held;
	n->n_held = 0;
	return true;
}

/* Appends what is held even when the queue is full: waits for a batch to finish. */
static void persist_append_all(struct node *n)
{
	while (!persist_append_held(n)) {
		sl_wal_submit(n->wal);
		if (sl_wal_poll(n->wal, true) < 0)
			break;
	}
}

/* Until everything appended is on disk (or the WAL failed). */
static void persist_drain(struct node *n)
{
	struct sl_wal_status st;

	for (;;) {
		sl_wal_submit(n->wal);
		sl_wal_status(n->wal, &st);
		if (st.failed || (!st.in_flight && st.queued == 0))
			return;
		if (sl_wal_poll(n->wal, true) < 0)
			return;
	}
}

static void persist_read(struct node *n, const struct node_msg *m)
{
	struct node_msg fail = { .kind = NODE_M_READ_DONE, .status = -EBUSY, .d = m->d };
	unsigned idx;
	int rc;

	persist_append_all(n); /* a read of records still held here would find nothing */
	if (n->readbuf_free == 0) {
		persist_to_net(n, &fail); /* lost or not, the core asks again */
		return;
	}
	idx = (unsigned)__builtin_ctz(n->readbuf_free);
	n->readbuf_free &= ~(1u << idx);
	fail.c = idx;
	n->per.reads++;
	rc = sl_wal_read(n->wal, m->a, m->b, n->readbuf[idx], NODE_READ_BUF_LEN,
			 (uint64_t)m->d << 8 | idx);
	if (rc < 0) {
		n->readbuf_free |= 1u << idx;
		fail.status = (int8_t)rc;
		persist_to_net(n, &fail);
	}
}

static void persist_sync(struct node *n)
{
	struct node_sync *s = &n->sync;
	int rc = 0;

	persist_append_all(n);
	switch (s->op) {
	case NODE_SYNC_META:
		rc = sl_wal_save_meta(n->wal, s->epoch, s->hist, s->n_hist);
		break;
	case NODE_SYNC_TRUNCATE:
		rc = sl_wal_truncate(n->wal, s->after_lsn);
		n->sent_flushed = UINT64_MAX; /* report the new flushed point, even if lower */
		break;
	case NODE_SYNC_INSTALL:
		rc = sl_wal_install(n->wal, s->after_lsn, s->epoch,
				    &(struct iovec){ (void *)(uintptr_t)s->image, s->image_len },
				    1);
		n->sent_flushed = UINT64_MAX; /* report the new flushed point, even if lower */
		break;
	case NODE_SYNC_STOP:
		persist_drain(n);
		node_wal_snapshot_publish(n);
		sl_wal_close(n->wal);
		n->wal = NULL;
		atomic_store(&n->persist_done, true);
		break;
	}
	s->result = rc;
	if (rc < 0 && s->op != NODE_SYNC_STOP)
		persist_fail(n, rc,
			     s->op == NODE_SYNC_META	  ? "metadata write"
			     : s->op == NODE_SYNC_INSTALL ? "snapshot install"
							  : "truncation");
	atomic_store(&s->done, atomic_load(&s->asked));
}

/*
 * A snapshot of the state at m->a: saved once the log up to there is durable (the file
 * says the WAL holds everything after it), then retention deletes the segments no one
 * needs (m->b: the oldest LSN a follower lacks). The image goes back with the result.
 * A WAL that cannot write fails as always; a refusal (-EINVAL) is only reported.
 */
static void persist_snapshot(struct node *n, const struct node_msg *m)
{
	struct iovec iov = { m->data, m->len };
	struct node_msg back = *m;
	int rc, deleted = 0;

	persist_append_all(n);
	persist_drain(n);
	rc = sl_wal_snapshot_save(n->wal, m->a, m->c, &iov, 1);
	if (rc == 0)
		deleted = sl_wal_retain(n->wal, m->b);
	if (deleted < 0)
		rc = deleted;
	if (rc < 0 && rc != -EINVAL)
		persist_fail(n, rc, "snapshot");
	back.kind = NODE_M_SNAP_DONE;
	back.status = (int8_t)(rc < -127 ? -127 : rc);
	back.b = rc < 0 ? 0 : (uint64_t)deleted;
	node_wal_snapshot_publish(n);
	if (!persist_to_net(n, &back))
		n->per.wal_errors++; /* one lcore only: cannot happen (the loop drains it) */
}

static void persist_msg(struct node *n, const struct node_msg *m)
{
	switch (m->kind) {
	case NODE_M_REC:
		n->held[n->n_held++] = (struct sl_rec_ref){ m->data, m->len, m->a };
		break;
	case NODE_M_HINT:
		n->held_hint = m->a;
		break;
	case NODE_M_READ:
		persist_read(n, m);
		break;
	case NODE_M_BUF_DONE:
		if (m->c < NODE_READ_BUFS)
			n->readbuf_free |= 1u << m->c;
		break;
	case NODE_M_SYNC:
		persist_sync(n);
		break;
	case NODE_M_SNAPSHOT:
		persist_snapshot(n, m);
		break;
	}
}

static void persist_report(struct node *n)
{
	uint32_t epoch = 0;
	uint64_t lsn = sl_wal_flushed_lsn(n->wal, &epoch);
	struct node_msg m = { .kind = NODE_M_PERSISTED, .a = lsn, .c = epoch };

	if (lsn == n->sent_flushed)
		return;
	if (rte_ring_enqueue_elem(n->to_net, &m, sizeof(m)) == 0) {
		DTRACE_PROBE2(shiplog, persisted, lsn, epoch);
		n->sent_flushed = lsn;
		n->per.persisted_msgs++;
	}
}

void node_persist_iteration(struct node *n, bool *busy)
{
	struct node_msg msgs[PERSIST_MSG_BATCH];
	unsigned got = 0;
	int rc;

	if (!n->wal)
		return;
	/* Nothing more is taken while the WAL's queue is full: the ring is the buffer. */
	if (persist_append_held(n)) {
		unsigned room = n->cap_held - n->n_held;

		got = rte_ring_dequeue_burst_elem(
			n->to_persist, msgs, sizeof(msgs[0]),
			room < PERSIST_MSG_BATCH ? room : PERSIST_MSG_BATCH, NULL);
		for (unsigned i = 0; i < got && n->wal; i++)
			persist_msg(n, &msgs[i]);
		if (!n->wal)
			return;
		persist_append_held(n);
	}
	rc = sl_wal_submit(n->wal);
	if (rc > 0)
		*busy = true;
	rc = sl_wal_poll(n->wal, false);
	if (rc < 0)
		persist_fail(n, rc, "write");
	else if (rc > 0)
		*busy = true;
	persist_report(n);
	if (got)
		*busy = true;
	if (++n->persist_turns % 64 == 0) {
		/* Its own clock: now_ns belongs to the network lcore. */
		uint64_t now = node_now_ns();

		if (now >= n->next_wal_snapshot_ns) {
			node_wal_snapshot_publish(n);
			n->next_wal_snapshot_ns = now + 10000000ull;
		}
	}
}

int node_persist_loop(void *arg)
{
	struct node *n = arg;
	unsigned idle = 0;

	/* Runs until the network lcore's STOP request closes the WAL. */
	while (!atomic_load(&n->persist_done)) {
		bool busy = false;

		node_persist_iteration(n, &busy);
		node_idle(&n->cfg, &idle, busy);
	}
	return 0;
}

int node_persist_open(struct node *n)
{
	struct sl_wal_config wc;
	int rc;

	sl_wal_config_default(&wc);
	wc.dir = n->cfg.data_dir;
	wc.cluster_id = n->cfg.cluster_id;
	wc.node_id = n->cfg.node_id;
	wc.mode = n->cfg.wal_mode;
	wc.segment_bytes = (uint64_t)n->cfg.segment_mb << 20;
	wc.batch_bytes = n->cfg.batch_kb << 10;
	wc.queue_records = n->cfg.queue_records;
	wc.read_slots = NODE_READ_BUFS;
	wc.retention_bytes = (uint64_t)n->cfg.retention_mb << 20;
	wc.limits = n->cfg.limits;
	wc.release = persist_release;
	wc.on_read = persist_on_read;
	wc.arg = n;
	for (unsigned i = 0; i < NODE_READ_BUFS; i++) {
		n->readbuf[i] = rte_malloc("walread", NODE_READ_BUF_LEN, 4096);
		if (!n->readbuf[i])
			return -ENOMEM;
	}
	n->readbuf_free = (1u << NODE_READ_BUFS) - 1;
	n->cap_held = n->cfg.queue_records;
	n->held = rte_malloc("held", n->cap_held * sizeof(*n->held), 64);
	if (!n->held)
		return -ENOMEM;
	rc = sl_wal_open(&wc, &n->wal, &n->recovery);
	if (rc < 0) {
		fprintf(stderr, "shiplogd[%u]: opening the WAL in %s: %s\n", n->cfg.node_id,
			n->cfg.data_dir, strerror(-rc));
		return rc;
	}
	n->sent_flushed = sl_wal_flushed_lsn(n->wal, NULL);
	return node_image_load(n);
}
