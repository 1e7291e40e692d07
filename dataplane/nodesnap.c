/* shiplogd's snapshots: taking them, shipping their bytes, receiving and installing one. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "node.h"

/*
 * DESIGN.md §5. The replication core decides (core/snapshot.c); this file holds the
 * bytes. Images live in plain memory, not in mbufs: a chunk is copied into its frame
 * (snapshots are rare and their chunks count as ctl_bytes_copied).
 *
 * Taking one: the network lcore writes the image of the applied state between two core
 * steps (a pause of the data path proportional to the state: about a memory copy of it)
 * and hands it to the persistence lcore, which waits for the log up to the image's LSN
 * to be durable, saves it (sl_wal_snapshot_save), applies WAL retention and hands it
 * back. Until then the previous image stays the one shipped to followers.
 *
 * Keeping one: the newest image saved or installed stays in memory (image), because a
 * leader ships it to any follower behind the WAL, and because the core rebuilds its
 * applied state from it after a truncation below what it applied.
 */

static void node_image_replace(struct node *n, uint8_t *buf, uint64_t len, uint64_t lsn,
			       uint32_t epoch)
{
	if (n->image != buf)
		free(n->image);
	n->image = buf;
	n->image_len = len;
	n->image_lsn = lsn;
	n->image_epoch = epoch;
}

/* The oldest LSN a follower still lacks (leader), for WAL retention; 1 elsewhere. */
static uint64_t node_need_lsn(const struct node *n)
{
	struct sl_core_status st;
	uint64_t need = UINT64_MAX;

	sl_core_status(n->core, n->now_ns, &st);
	if (st.role != SL_ROLE_LEADER)
		return 1; /* keep what the limit allows: this node may lead later */
	for (unsigned i = 0; i < st.n_peers; i++)
		if (st.peers[i].received_lsn + 1 < need)
			need = st.peers[i].received_lsn + 1;
	return need == UINT64_MAX ? st.last_lsn + 1 : need;
}

int node_image_take(struct node *n)
{
	size_t size = sl_core_image_size(n->core);
	struct sl_image_info info;
	struct node_msg m;
	uint8_t *buf;
	uint64_t t0 = node_now_ns();
	int64_t len;

	/* A new image would restart a transfer of the current one from its start: with
	 * frequent snapshots, a large one might never arrive. The next one waits. */
	if (n->image_saving || sl_core_snap_sending(n->core))
		return -EBUSY;
	if (size > UINT32_MAX) {
		n->net.snapshot_errors++;
		return -E2BIG;
	}
	buf = malloc(size);
	if (!buf) {
		n->net.snapshot_errors++;
		return -ENOMEM;
	}
	len = sl_core_image_write(n->core, buf, size, &info);
	if (len < 0 || info.lsn <= n->image_lsn) {
		free(buf);
		if (len < 0 && len != -EAGAIN)
			n->net.snapshot_errors++;
		return len < 0 && len != -EAGAIN ? (int)len : 0; /* nothing new to save */
	}
	m = (struct node_msg){ .kind = NODE_M_SNAPSHOT,
			       .data = buf,
			       .len = (uint32_t)len,
			       .a = info.lsn,
			       .b = node_need_lsn(n),
			       .c = info.epoch };
	n->image_saving = buf;
	n->image_saving_ns = node_now_ns();
	n->image_write_ns = n->image_saving_ns - t0;
	node_msgs_send(n, &m, 1);
	return 0;
}

void node_image_saved(struct node *n, const struct node_msg *m)
{
	struct sl_event ev = { .type = SL_EV_SNAP_SAVED, .now_ns = n->now_ns };

	n->image_saving = NULL;
	if (n->image_overtaken) {
		n->image_overtaken = false;
		free(m->data);
		return;
	}
	if (m->status < 0 || m->a <= n->image_lsn) {
		/* An install from the leader overtook it, or the WAL would not take it. */
		if (m->status < 0) {
			n->net.snapshot_errors++;
			printf("shiplogd[%u]: snapshot at lsn %" PRIu64 " not saved: %s\n",
			       n->cfg.node_id, m->a, strerror(-m->status));
			fflush(stdout);
		}
		free(m->data);
		return;
	}
	node_image_replace(n, m->data, m->len, m->a, m->c);
	n->net.snapshots_saved++;
	printf("shiplogd[%u]: snapshot at lsn %" PRIu64 " (epoch %u, %u bytes) saved; %" PRIu64
	       " WAL segments deleted; the image took %" PRIu64 " us to write (a pause of the "
	       "data path), saving it %" PRIu64 " ms\n",
	       n->cfg.node_id, m->a, m->c, m->len, m->b, n->image_write_ns / 1000,
	       (node_now_ns() - n->image_saving_ns) / 1000000);
	fflush(stdout);
	ev.u.snap.lsn = m->a;
	ev.u.snap.epoch = m->c;
	ev.u.snap.len = m->len;
	node_step(n, &ev);
}

/*
 * A chunk the core accepted, in order: into the image being assembled. One that cannot
 * be kept (no memory for the image, or not where the assembly stands) ends this image:
 * the core is handed it empty, refuses it and asks the leader for it from its start.
 */
void node_image_store(struct node *n, const struct sl_action *a)
{
	bool ok = true;

	if (a->u.snap.offset == 0) {
		n->rx_lsn = a->u.snap.lsn;
		n->rx_epoch = a->u.snap.epoch;
		n->rx_len = 0;
		n->rx_start_ns = n->now_ns;
		if (a->u.snap.total > n->rx_cap) {
			uint8_t *buf = realloc(n->rx_image, a->u.snap.total);

			if (buf) {
				n->rx_image = buf;
				n->rx_cap = a->u.snap.total;
			}
		}
		printf("shiplogd[%u]: receiving the leader's snapshot at lsn %" PRIu64 " (%" PRIu64
		       " bytes)\n",
		       n->cfg.node_id, a->u.snap.lsn, a->u.snap.total);
		fflush(stdout);
	}
	if (a->u.snap.lsn != n->rx_lsn || a->u.snap.offset != n->rx_len ||
	    a->u.snap.total > n->rx_cap || a->u.snap.len > a->u.snap.total - a->u.snap.offset)
		ok = false;
	if (!ok) {
		n->net.snapshot_errors++;
		n->rx_len = 0;
		n->rx_ready = true;
		return;
	}
	memcpy(n->rx_image + a->u.snap.offset, a->u.snap.data, a->u.snap.len);
	n->rx_len += a->u.snap.len;
	if (a->u.snap.last)
		n->rx_ready = true;
}

/* The core took the received image: the WAL restarts after it, durably, now. */
void node_image_install(struct node *n, const struct sl_action *a)
{
	if (n->image_saving)
		n->image_overtaken = true; /* the install deletes what that save wrote */
	n->sync.op = NODE_SYNC_INSTALL;
	n->sync.after_lsn = a->u.snap.lsn;
	n->sync.epoch = a->u.snap.epoch;
	n->sync.image = n->rx_image;
	n->sync.image_len = n->rx_len;
	if (n->rx_len != a->u.snap.total || node_sync_request(n) < 0) {
		fprintf(stderr,
			"shiplogd[%u]: installing the snapshot at lsn %" PRIu64
			" failed: stopping\n",
			n->cfg.node_id, a->u.snap.lsn);
		node_fail(n);
		return;
	}
	node_image_replace(n, n->rx_image, n->rx_len, a->u.snap.lsn, a->u.snap.epoch);
	n->rx_image = NULL;
	n->rx_cap = n->rx_len = 0;
	printf("shiplogd[%u]: installed the leader's snapshot at lsn %" PRIu64
	       " (epoch %u, %" PRIu64 " bytes, %" PRIu64
	       " ms after its first chunk); the log continues after it\n",
	       n->cfg.node_id, a->u.snap.lsn, a->u.snap.epoch, n->image_len,
	       (node_now_ns() - n->rx_start_ns) / 1000000);
	fflush(stdout);
}

static int node_image_step(struct node *n, const uint8_t *image, uint64_t len, uint64_t lsn,
			   uint32_t epoch, bool own)
{
	struct sl_event ev = { .type = SL_EV_SNAP_RECEIVED, .now_ns = n->now_ns };

	ev.u.snap.own = own;
	ev.u.snap.lsn = lsn;
	ev.u.snap.epoch = epoch;
	ev.u.snap.len = len;
	ev.u.snap.image = image;
	return node_step(n, &ev);
}

void node_image_feed(struct node *n)
{
	if (n->rx_ready) {
		n->rx_ready = false;
		if (node_image_step(n, n->rx_image, n->rx_len, n->rx_lsn, n->rx_epoch, false) < 0) {
			printf("shiplogd[%u]: the snapshot received at lsn %" PRIu64
			       " was refused; asking for it again\n",
			       n->cfg.node_id, n->rx_lsn);
			fflush(stdout);
		}
	}
	if (n->load_ready) {
		n->load_ready = false;
		node_image_step(n, n->image, n->image_len, n->image_lsn, n->image_epoch, true);
	}
}

const uint8_t *node_image_chunk(struct node *n, const struct sl_snap_chunk *s)
{
	if (!n->image || s->snap_lsn != n->image_lsn || s->total_len != n->image_len ||
	    s->offset > n->image_len || n->image_len - s->offset < s->chunk_len) {
		n->net.snapshot_unsent++;
		return NULL;
	}
	n->net.ctl_bytes_copied += s->chunk_len;
	return n->image + s->offset;
}

int node_image_load(struct node *n)
{
	const struct sl_wal_recovery *r = &n->recovery;
	int64_t got;

	if (r->snapshot_lsn == 0)
		return 0;
	n->image = malloc(r->snapshot_len ? r->snapshot_len : 1);
	if (!n->image)
		return -ENOMEM;
	got = sl_wal_snapshot_load(n->wal, n->image, r->snapshot_len);
	if (got < 0 || (uint64_t)got != r->snapshot_len) {
		fprintf(stderr, "shiplogd[%u]: reading the snapshot at lsn %" PRIu64 ": %s\n",
			n->cfg.node_id, r->snapshot_lsn, strerror(got < 0 ? (int)-got : EIO));
		return got < 0 ? (int)got : -EIO;
	}
	n->image_len = r->snapshot_len;
	n->image_lsn = r->snapshot_lsn;
	n->image_epoch = r->snapshot_epoch;
	return 0;
}
