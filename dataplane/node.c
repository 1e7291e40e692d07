/* shiplogd's network lcore: ports in, replication core, frames and replies out. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <time.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <shiplog/record.h>

#include "agent.h"
#include "image.h"
#include "node.h"

/*
 * The loop (DESIGN.md §4 batching, STYLE.md l2fwd shape): a burst from each port, each
 * packet one core step; then what the persistence lcore reported; then one TICK, which
 * turns the iteration's new records into one APPEND per follower; then the tx buffers
 * are flushed. Nothing here allocates except from the mempools, and nothing blocks
 * except the rare synchronous requests (epoch metadata, truncation).
 */

#define NODE_SEG_MAX	  512u /* segments of one APPEND: header + records */
#define NODE_ARP_RETRY_NS 100000000ull
#define NODE_SNAPSHOT_NS  10000000ull
#define NODE_MSG_BATCH	  64u
#define NODE_CTL_BATCH	  8u /* controller commands per loop turn */

void node_fail(struct node *n)
{
	atomic_store(&n->failed, true);
	atomic_store(&n->stop, true);
}

uint64_t node_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- messages to the persistence lcore --------------------------------------------- */

void node_msgs_send(struct node *n, const struct node_msg *m, unsigned count)
{
	unsigned done = 0;

	while (done < count) {
		done += rte_ring_enqueue_burst_elem(n->to_persist, (void *)(uintptr_t)(m + done),
						    sizeof(*m), count - done, NULL);
		if (done == count)
			break;
		/* Bounded: the ring holds more than the core's log ring can have unflushed. */
		n->net.ring_waits++;
		if (n->single_lcore) {
			bool busy = false;

			node_persist_iteration(n, &busy);
		} else {
			rte_pause();
		}
	}
}

int node_sync_request(struct node *n)
{
	uint64_t want = atomic_load(&n->sync.asked) + 1;
	struct node_msg m = { .kind = NODE_M_SYNC };

	atomic_store(&n->sync.asked, want);
	node_msgs_send(n, &m, 1);
	while (atomic_load(&n->sync.done) != want) {
		if (n->single_lcore) {
			bool busy = false;

			node_persist_iteration(n, &busy);
		} else {
			rte_pause();
		}
	}
	return n->sync.result;
}

/* ---- record handles ----------------------------------------------------------------- */

static inline bool node_is_mbuf(uint64_t h)
{
	return (h & (SL_CORE_HANDLE_OWN | NODE_H_READBUF)) == 0;
}

static void node_release(struct node *n, uint64_t h)
{
	if (likely(node_is_mbuf(h))) {
		rte_pktmbuf_free((struct rte_mbuf *)(uintptr_t)h);
		return;
	}
	if (h & NODE_H_READBUF) {
		unsigned idx = (unsigned)(h & 0xff);

		if (idx < NODE_READ_BUFS && n->readbuf_refs[idx] > 0 &&
		    --n->readbuf_refs[idx] == 0) {
			struct node_msg m = { .kind = NODE_M_BUF_DONE, .c = idx };

			node_msgs_send(n, &m, 1);
		}
	}
}

/* ---- sending ------------------------------------------------------------------------ */

static struct rte_mbuf *node_hdr_mbuf(struct node *n, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(n->pool);

	if (unlikely(!m)) {
		n->net.no_mbuf++;
		return NULL;
	}
	if (!rte_pktmbuf_append(m, (uint16_t)len)) {
		rte_pktmbuf_free(m);
		n->net.no_mbuf++;
		return NULL;
	}
	return m;
}

/* Ethernet/IPv4/UDP in front of a frame of frame_len bytes, then onto the port. */
static void node_xmit(struct node *n, struct port *p, struct rte_mbuf *m, const uint8_t *mac,
		      uint32_t ip, uint16_t udp_port, uint32_t frame_len)
{
	uint8_t *h = rte_pktmbuf_mtod(m, uint8_t *);

	net_udp_hdrs_write(h, &p->local, mac, ip, udp_port, frame_len, !p->ip_csum_offload);
	if (p->ip_csum_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		m->l2_len = NET_ETH_HDR_LEN;
		m->l3_len = NET_IP_HDR_LEN;
	}
	n->net.tx_pkts++;
	port_tx(p, m);
}

static void node_arp_request(struct node *n, struct port *p, uint32_t ip)
{
	struct rte_mbuf *m = node_hdr_mbuf(n, NET_ETH_MIN_LEN);

	if (!m)
		return;
	memset(rte_pktmbuf_mtod(m, uint8_t *), 0, NET_ETH_MIN_LEN);
	net_arp_write(rte_pktmbuf_mtod(m, uint8_t *), &p->local, false, NULL, ip);
	n->net.arp_requests++;
	n->net.tx_pkts++;
	port_tx(p, m);
}

/* Where node id lives: port, IP, UDP port and (when resolved) MAC. */
static const struct cfg_peer *node_peer(const struct node *n, uint16_t id)
{
	for (unsigned i = 0; i < n->cfg.n_peers; i++)
		if (n->cfg.peers[i].id == id)
			return &n->cfg.peers[i];
	return NULL;
}

static const uint8_t *node_resolve(struct node *n, uint8_t port, uint32_t ip)
{
	const struct net_neigh *e = net_neigh_lookup(&n->neigh, ip);

	if (likely(e != NULL))
		return e->mac;
	n->net.no_route++;
	if (port < n->n_ports && net_neigh_want(&n->neigh, ip, port, n->now_ns, NODE_ARP_RETRY_NS))
		node_arp_request(n, &n->ports[port], ip);
	return NULL;
}

/* Appends len bytes to the chain's last segment, or to a new direct one. */
static int node_chain_copy(struct node *n, struct rte_mbuf *head, struct rte_mbuf **last,
			   const uint8_t *data, uint32_t len)
{
	uint8_t *dst;

	if (RTE_MBUF_DIRECT(*last) && rte_pktmbuf_tailroom(*last) >= len) {
		dst = (uint8_t *)rte_pktmbuf_append(*last, (uint16_t)len);
		if (*last != head)
			head->pkt_len += len;
	} else {
		struct rte_mbuf *s = node_hdr_mbuf(n, len);

		if (!s)
			return -ENOMEM;
		dst = rte_pktmbuf_mtod(s, uint8_t *);
		(*last)->next = s;
		*last = s;
		head->nb_segs++;
		head->pkt_len += len;
	}
	memcpy(dst, data, len);
	return 0;
}

/* One record by reference: an indirect mbuf over the bytes in the record's own mbuf. */
static int node_chain_ref(struct node *n, struct rte_mbuf *head, struct rte_mbuf **last,
			  const struct sl_rec_ref *r)
{
	struct rte_mbuf *src = (struct rte_mbuf *)(uintptr_t)r->handle;
	struct rte_mbuf *mi = rte_pktmbuf_alloc(n->ind_pool);

	if (unlikely(!mi)) {
		n->net.no_mbuf++;
		return -ENOMEM;
	}
	rte_pktmbuf_attach(mi, src);
	mi->data_off = (uint16_t)(r->data - (uint8_t *)src->buf_addr);
	mi->data_len = (uint16_t)r->len;
	mi->pkt_len = r->len;
	(*last)->next = mi;
	*last = mi;
	head->nb_segs++;
	head->pkt_len += r->len;
	return 0;
}

/*
 * An APPEND: a header mbuf (network headers, frame header, APPEND header) chained to
 * one indirect mbuf per record (DESIGN.md §4). Records without an mbuf (the core's
 * NOOP and CONFIG, catch-up reads from the WAL) are copied and counted.
 */
static struct rte_mbuf *node_build_append(struct node *n, const struct port *p,
					  const struct sl_action *a, struct iovec *iov, int *iovcnt)
{
	const uint32_t hl = NET_HDRS_LEN + SL_FRAME_HDR_LEN + sizeof(struct sl_append_hdr);
	struct rte_mbuf *h = node_hdr_mbuf(n, hl), *last;
	int cnt = 0;

	if (!h)
		return NULL;
	last = h;
	for (uint32_t i = 0; i < a->u.send.n_recs; i++) {
		const struct sl_rec_ref *r = &a->u.send.recs[i];
		bool by_ref =
			p->multi_seg && node_is_mbuf(r->handle) && h->nb_segs < NODE_SEG_MAX - 1;
		int rc;

		if (by_ref) {
			rc = node_chain_ref(n, h, &last, r);
			n->net.bytes_zero_copy += r->len;
		} else {
			rc = node_chain_copy(n, h, &last, r->data, r->len);
			if (node_is_mbuf(r->handle))
				n->net.bytes_copied += r->len;
			else
				n->net.ctl_bytes_copied += r->len;
		}
		if (rc < 0) {
			rte_pktmbuf_free(h);
			return NULL;
		}
	}
	/* The payload as the seal sees it: APPEND header, then each segment after it. */
	iov[cnt++] = (struct iovec){ rte_pktmbuf_mtod_offset(h, uint8_t *, hl - 32), 32 };
	if (h->data_len > hl)
		iov[cnt++] = (struct iovec){ rte_pktmbuf_mtod_offset(h, uint8_t *, hl),
					     h->data_len - hl };
	for (struct rte_mbuf *s = h->next; s && cnt < (int)NODE_SEG_MAX + 1; s = s->next)
		iov[cnt++] = (struct iovec){ rte_pktmbuf_mtod(s, uint8_t *), s->data_len };
	*iovcnt = cnt;
	return h;
}

static void node_send(struct node *n, const struct sl_action *a)
{
	const struct cfg_peer *peer = node_peer(n, a->u.send.dst);
	struct iovec iov[NODE_SEG_MAX + 2];
	struct sl_frame_hdr fh = { .magic = SL_MAGIC,
				   .version = SL_WIRE_VERSION,
				   .type = a->u.send.frame_type,
				   .cluster_id = n->cfg.cluster_id,
				   .epoch = a->u.send.epoch,
				   .src_node = n->cfg.node_id,
				   .dst_node = a->u.send.dst };
	const uint8_t *mac;
	struct rte_mbuf *m;
	struct port *p;
	uint8_t *f;
	int iovcnt = 0;

	if (!peer || peer->port >= n->n_ports)
		return;
	p = &n->ports[peer->port];
	mac = node_resolve(n, peer->port, peer->ip);
	if (!mac)
		return;
	fh.seq = n->frame_seq[fh.dst_node]++;
	if (fh.type == SL_FRAME_APPEND) {
		m = node_build_append(n, p, a, iov, &iovcnt);
		if (!m)
			return;
		f = rte_pktmbuf_mtod_offset(m, uint8_t *, NET_HDRS_LEN);
		sl_frame_hdr_write(f, &fh);
		sl_append_hdr_write(f + SL_FRAME_HDR_LEN, &a->u.send.hdr.append);
		sl_frame_seal(f, iov, iovcnt, n->expect.key);
	} else {
		uint32_t len = SL_FRAME_HDR_LEN + sl_frame_type_hdr_len(fh.type), body_len = 0;
		const uint8_t *body = NULL;

		if (fh.type == SL_FRAME_SNAPSHOT_CHUNK && a->u.send.hdr.snap.chunk_len > 0) {
			body = node_image_chunk(n, &a->u.send.hdr.snap);
			if (!body)
				return; /* that image is gone: the core moves to the new one */
			if (a->u.send.hdr.snap.offset == 0) {
				printf("shiplogd[%u]: node %u needs records the WAL no longer "
				       "holds: sending it the snapshot at lsn %" PRIu64 " (%" PRIu64
				       " bytes)\n",
				       n->cfg.node_id, fh.dst_node, a->u.send.hdr.snap.snap_lsn,
				       a->u.send.hdr.snap.total_len);
				fflush(stdout);
			}
			body_len = a->u.send.hdr.snap.chunk_len;
			len += body_len;
		}
		m = node_hdr_mbuf(n, NET_HDRS_LEN + len);
		if (!m)
			return;
		f = rte_pktmbuf_mtod_offset(m, uint8_t *, NET_HDRS_LEN);
		if (sl_frame_encode(f, len, &fh, &a->u.send.hdr, body, body_len, n->expect.key) ==
		    0) {
			rte_pktmbuf_free(m);
			return;
		}
	}
	if (fh.type == SL_FRAME_ACK)
		DTRACE_PROBE3(shiplog, follower_ack, fh.dst_node, a->u.send.hdr.ack.flushed_lsn,
			      a->u.send.hdr.ack.received_lsn);
	node_xmit(n, p, m, mac, peer->ip, peer->udp_port, m->pkt_len - NET_HDRS_LEN);
}

/* ---- replies ------------------------------------------------------------------------- */

/* A client's address, packed into the core's reply context. */
static inline uint64_t node_ctx(uint8_t port, uint32_t ip, uint16_t udp_port)
{
	return (uint64_t)port << 48 | (uint64_t)udp_port << 32 | ip;
}

static void node_reply_to(struct node *n, uint64_t ctx, const struct sl_client_resp *r,
			  const uint8_t *val)
{
	uint8_t port = (uint8_t)(ctx >> 48);
	uint16_t udp_port = (uint16_t)(ctx >> 32);
	uint32_t ip = (uint32_t)ctx;
	uint32_t len = SL_FRAME_HDR_LEN + sizeof(*r) + r->val_len;
	struct sl_frame_hdr fh = { .magic = SL_MAGIC,
				   .version = SL_WIRE_VERSION,
				   .type = SL_FRAME_CLIENT_RESP,
				   .cluster_id = n->cfg.cluster_id,
				   .epoch = sl_core_epoch(n->core),
				   .src_node = n->cfg.node_id,
				   .dst_node = 0,
				   .seq = n->frame_seq[0]++ };
	const uint8_t *mac;
	struct rte_mbuf *m;

	if (port >= n->n_ports)
		return;
	mac = node_resolve(n, port, ip);
	if (!mac)
		return;
	m = node_hdr_mbuf(n, NET_HDRS_LEN + len);
	if (!m)
		return;
	if (sl_frame_encode(rte_pktmbuf_mtod_offset(m, uint8_t *, NET_HDRS_LEN), len, &fh, r, val,
			    r->val_len, n->expect.key) == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	DTRACE_PROBE4(shiplog, reply, r->client_id, r->seq, r->status, r->lsn);
	n->net.replies++;
	node_xmit(n, &n->ports[port], m, mac, ip, udp_port, len);
}

/* ---- executing a step's actions ------------------------------------------------------ */

static void node_persist(struct node *n, const struct sl_action *a)
{
	struct node_msg msgs[NODE_MSG_BATCH];
	unsigned k = 0;

	for (uint32_t i = 0; i < a->u.persist.n_recs; i++) {
		const struct sl_rec_ref *r = &a->u.persist.recs[i];
		struct node_msg *m = &msgs[k++];

		*m = (struct node_msg){ .kind = NODE_M_REC, .data = r->data, .len = r->len };
		if (node_is_mbuf(r->handle)) {
			/* The WAL's own reference, given back through its release callback. */
			rte_mbuf_refcnt_update((struct rte_mbuf *)(uintptr_t)r->handle, 1);
			m->a = r->handle;
		} else {
			/* The core's NOOP/CONFIG: copied, since the core reuses its slot. */
			struct rte_mbuf *c = rte_pktmbuf_alloc(n->ctl_pool);

			if (!c || !rte_pktmbuf_append(c, (uint16_t)r->len)) {
				/* Rare records from a reserved pool: running out is a bug. */
				fprintf(stderr,
					"shiplogd[%u]: control record pool empty: stopping\n",
					n->cfg.node_id);
				atomic_store(&n->stop, true);
				rte_pktmbuf_free(c);
				k--;
				continue;
			}
			memcpy(rte_pktmbuf_mtod(c, uint8_t *), r->data, r->len);
			m->data = rte_pktmbuf_mtod(c, uint8_t *);
			m->a = (uintptr_t)c;
			n->net.ctl_bytes_copied += r->len;
		}
		if (k == NODE_MSG_BATCH) {
			node_msgs_send(n, msgs, k);
			k = 0;
		}
	}
	msgs[k++] = (struct node_msg){ .kind = NODE_M_HINT, .a = a->u.persist.commit_lsn };
	node_msgs_send(n, msgs, k);
}

/* What the controller records (DESIGN.md §6): to the agent, never waiting for it. */
static void node_note_to_agent(struct node *n, const struct sl_action *a)
{
	struct sl_node_note note;

	if (!n->ctl_notes)
		return;
	switch (a->u.notify.what) {
	case SL_NOTE_ROLE:
	case SL_NOTE_TRUNCATED:
	case SL_NOTE_SPLIT_BRAIN:
		break;
	default:
		return;
	}
	memset(&note, 0, sizeof(note));
	note.node = n->cfg.node_id;
	note.what = a->u.notify.what;
	note.a = a->u.notify.a;
	note.b = a->u.notify.b;
	if (rte_ring_sp_enqueue_elem(n->ctl_notes, &note, sizeof(note)) != 0)
		n->net.notes_dropped++;
}

static void node_notify(struct node *n, const struct sl_action *a)
{
	uint64_t x = a->u.notify.a, y = a->u.notify.b;

	node_note_to_agent(n, a);
	switch (a->u.notify.what) {
	case SL_NOTE_ROLE:
		printf("shiplogd[%u]: role %s, epoch %" PRIu64 "\n", n->cfg.node_id,
		       sl_role_name((unsigned)x), y);
		break;
	case SL_NOTE_DEGRADED:
		printf("shiplogd[%u]: %s async degradation\n", n->cfg.node_id,
		       x ? "entering" : "leaving");
		break;
	case SL_NOTE_TRUNCATED:
		printf("shiplogd[%u]: truncated %" PRIu64 " records from lsn %" PRIu64 "\n",
		       n->cfg.node_id, y, x);
		break;
	case SL_NOTE_SPLIT_BRAIN:
		printf("shiplogd[%u]: node %" PRIu64 " claims to lead epoch %" PRIu64 "\n",
		       n->cfg.node_id, x, y);
		break;
	case SL_NOTE_KV_FULL:
		printf("shiplogd[%u]: key-value table full at lsn %" PRIu64 "\n", n->cfg.node_id,
		       x);
		break;
	}
	fflush(stdout);
}

static void node_sync_meta(struct node *n, const struct sl_action *a)
{
	n->sync.op = NODE_SYNC_META;
	n->sync.epoch = a->u.meta.epoch;
	n->sync.n_hist = a->u.meta.n_hist;
	memcpy(n->sync.hist, a->u.meta.hist, sizeof(n->sync.hist[0]) * a->u.meta.n_hist);
	if (node_sync_request(n) < 0) {
		fprintf(stderr, "shiplogd[%u]: storing epoch %u failed: stopping\n", n->cfg.node_id,
			a->u.meta.epoch);
		atomic_store(&n->stop, true);
	}
}

static void node_exec(struct node *n, const struct sl_action *a)
{
	struct node_msg m = { 0 };

	switch (a->type) {
	case SL_ACT_SEND:
		node_send(n, a);
		break;
	case SL_ACT_PERSIST:
		node_persist(n, a);
		break;
	case SL_ACT_REPLY:
		node_reply_to(n, a->u.reply.ctx, &a->u.reply.resp, a->u.reply.val);
		break;
	case SL_ACT_TRUNCATE:
		n->sync.op = NODE_SYNC_TRUNCATE;
		n->sync.after_lsn = a->u.truncate.after_lsn;
		if (node_sync_request(n) < 0) {
			fprintf(stderr, "shiplogd[%u]: truncation failed: stopping\n",
				n->cfg.node_id);
			node_fail(n);
		}
		break;
	case SL_ACT_WAL_READ:
		m = (struct node_msg){ .kind = NODE_M_READ,
				       .a = a->u.wal_read.from_lsn,
				       .b = a->u.wal_read.to_lsn,
				       .d = a->u.wal_read.node };
		node_msgs_send(n, &m, 1);
		break;
	case SL_ACT_NOTIFY:
		node_notify(n, a);
		break;
	case SL_ACT_SNAP_STORE:
		node_image_store(n, a);
		break;
	case SL_ACT_SNAP_INSTALL:
		node_image_install(n, a);
		break;
	case SL_ACT_SNAP_LOAD:
		n->load_ready = true; /* another or no image is refused, counted, asked again */
		break;
	}
}

int node_step(struct node *n, const struct sl_event *ev)
{
	struct sl_actions *out = &n->out;
	uint64_t commit;
	int rc;

	out->n_act = out->n_refs = out->n_freed = 0;
	n->net.steps++;
	rc = sl_core_step(n->core, ev, out);
	if (unlikely(rc < 0))
		n->net.core_errors++;
	/* The epoch and its history are durable before anything of the step leaves. */
	for (uint32_t i = 0; i < out->n_act; i++)
		if (unlikely(out->act[i].type == SL_ACT_SAVE_META))
			node_sync_meta(n, &out->act[i]);
	for (uint32_t i = 0; i < out->n_act; i++)
		node_exec(n, &out->act[i]);
	for (uint32_t i = 0; i < out->n_freed; i++)
		node_release(n, out->freed[i]);
	commit = sl_core_commit_lsn(n->core);
	if (commit != n->last_commit) {
		DTRACE_PROBE2(shiplog, commit, commit, sl_core_epoch(n->core));
		n->last_commit = commit;
		n->net.commit_lsn_moves++;
	}
	n->expect.min_epoch = sl_core_epoch(n->core);
	if (unlikely(n->rx_ready || n->load_ready))
		node_image_feed(n);
	return rc;
}

/* A control command at the current time: the starting role's and the controller's. */
/*
 * ADD_PEER carries the node's data address ("IPv4:port", as its agent reports it): it
 * becomes a peer as a [cluster] peer line would make one (reached through port 0, its
 * MAC by ARP), before the core hears of the node.
 */
static int node_peer_add(struct node *n, const struct sl_control *ctl)
{
	const char *colon = strrchr(ctl->addr, ':');
	char value[96], err[CFG_ERR_MAX];

	if (ctl->node == n->cfg.node_id || colon == NULL)
		return -EINVAL;
	snprintf(value, sizeof(value), "%u %.*s udp=%s", ctl->node, (int)(colon - ctl->addr),
		 ctl->addr, colon + 1);
	if (cfg_set(&n->cfg, "cluster", "peer", value, err, sizeof(err)) != 0) {
		printf("shiplogd[%u]: add_peer %u at %s: %s\n", n->cfg.node_id, ctl->node,
		       ctl->addr, err);
		return -EINVAL;
	}
	return 0;
}

/* After REMOVE_PEER: nothing is sent to the node any more. */
static void node_peer_forget(struct node *n, uint16_t id)
{
	for (unsigned i = 0; i < n->cfg.n_peers; i++) {
		if (n->cfg.peers[i].id != id)
			continue;
		memmove(&n->cfg.peers[i], &n->cfg.peers[i + 1],
			(n->cfg.n_peers - i - 1) * sizeof(n->cfg.peers[0]));
		n->cfg.n_peers--;
		return;
	}
}

static int node_control(struct node *n, const struct sl_control *ctl)
{
	struct sl_event ev = { .type = SL_EV_CONTROL, .now_ns = n->now_ns };
	int rc;

	if (ctl->cmd == SL_CTL_SNAPSHOT) /* the node's business, not the core's */
		return ctl->epoch < sl_core_epoch(n->core) ? -ESTALE : node_image_take(n);
	if (ctl->cmd == SL_CTL_ADD_PEER && (rc = node_peer_add(n, ctl)) != 0)
		return rc;
	ev.u.control = *ctl;
	rc = node_step(n, &ev);
	if (rc == 0 && ctl->cmd == SL_CTL_REMOVE_PEER)
		node_peer_forget(n, ctl->node);
	return rc;
}

/* ---- receiving ----------------------------------------------------------------------- */

/* A request the decoder refused for its content (not its integrity): tell the client. */
static void node_refuse(struct node *n, uint64_t ctx, enum sl_reject rc,
			const struct sl_client_req *req)
{
	struct sl_client_resp r = { .client_id = req->client_id, .seq = req->seq, .op = req->op };

	if (rc == SL_REJ_KEY_TOO_LARGE || rc == SL_REJ_VAL_TOO_LARGE)
		r.status = SL_ST_TOO_LARGE;
	else if (rc == SL_REJ_BAD_OP || rc == SL_REJ_BAD_REQUEST)
		r.status = SL_ST_BAD_REQUEST;
	else
		return;
	if (r.op > SL_OP_GET)
		r.op = 0;
	n->net.client_refused++;
	node_reply_to(n, ctx, &r, NULL);
}

/*
 * A write becomes a record where it lies: the 40 bytes before the key (the end of the
 * frame header and the request header, both decoded already) take the record header
 * and origin, the bytes after the value its zero padding. Returns NULL when the mbuf
 * lacks the tailroom for the padding.
 */
static uint8_t *node_record_in_place(struct rte_mbuf *m, const struct sl_frame_view *v,
				     uint32_t *size)
{
	const struct sl_client_req *q = &v->u.req;
	uint8_t *key = (uint8_t *)(uintptr_t)v->body;
	uint8_t *rec = key - SL_REC_HDR_LEN - SL_REC_ORIGIN_LEN;
	uint32_t sz = sl_record_size(SL_REC_F_ORIGIN, q->key_len, q->val_len);
	uint32_t used = SL_REC_HDR_LEN + SL_REC_ORIGIN_LEN + q->key_len + q->val_len;
	uint64_t lsn0 = 0, cid = rte_cpu_to_le_64(q->client_id), seq = rte_cpu_to_le_64(q->seq);
	uint32_t zero = 0, vlen = rte_cpu_to_le_32(q->val_len);
	uint16_t klen = rte_cpu_to_le_16(q->key_len);
	uint8_t type = q->op == SL_OP_PUT ? SL_REC_PUT : SL_REC_DEL, flags = SL_REC_F_ORIGIN;

	if (rec + sz > (uint8_t *)m->buf_addr + m->buf_len)
		return NULL;
	memcpy(rec, &lsn0, 8);
	memcpy(rec + 8, &zero, 4);
	rec[12] = type;
	rec[13] = flags;
	memcpy(rec + 14, &klen, 2);
	memcpy(rec + 16, &vlen, 4);
	memcpy(rec + 20, &zero, 4); /* the leader's sl_record_stamp computes the CRC */
	memcpy(rec + 24, &cid, 8);
	memcpy(rec + 32, &seq, 8);
	memset(rec + used, 0, sz - used);
	*size = sz;
	return rec;
}

static void node_rx_client(struct node *n, struct rte_mbuf *m, const struct sl_frame_view *v,
			   uint64_t ctx)
{
	struct sl_event ev = { .type = SL_EV_CLIENT, .now_ns = n->now_ns };
	const struct sl_client_req *q = &v->u.req;

	n->net.client_reqs++;
	DTRACE_PROBE3(shiplog, request, q->client_id, q->seq, q->op);
	ev.u.client.req = *q;
	ev.u.client.key = v->body;
	ev.u.client.ctx = ctx;
	if (q->op == SL_OP_GET) {
		n->net.client_reads++;
		node_step(n, &ev);
		rte_pktmbuf_free(m);
		return;
	}
	n->net.client_writes++;
	ev.u.client.rec.data = node_record_in_place(m, v, &ev.u.client.rec.len);
	if (unlikely(!ev.u.client.rec.data)) {
		/* No room for the padding: a copy, counted (mbufs are sized to avoid it). */
		struct sl_record_desc d = { .type = q->op == SL_OP_PUT ? SL_REC_PUT : SL_REC_DEL,
					    .flags = SL_REC_F_ORIGIN,
					    .origin = { q->client_id, q->seq },
					    .key = v->body,
					    .key_len = q->key_len,
					    .val = v->body + q->key_len,
					    .val_len = q->val_len };
		uint32_t sz = sl_record_size(d.flags, d.key_len, d.val_len);
		struct rte_mbuf *c = node_hdr_mbuf(n, sz);

		if (!c) {
			rte_pktmbuf_free(m);
			return;
		}
		sl_record_encode(rte_pktmbuf_mtod(c, uint8_t *), sz, &d);
		n->net.bytes_copied += sz;
		rte_pktmbuf_free(m);
		m = c;
		ev.u.client.rec.data = rte_pktmbuf_mtod(c, uint8_t *);
		ev.u.client.rec.len = sz;
	}
	n->net.records_in++;
	ev.u.client.rec.handle = (uintptr_t)m;
	node_step(n, &ev);
}

static void node_rx_append(struct node *n, struct rte_mbuf *m, struct sl_event *ev,
			   const struct sl_frame_view *v)
{
	struct sl_rec_ref refs[NODE_SEG_MAX];
	struct sl_record_view r;
	uint32_t off = 0, i = 0;

	while (i < NODE_SEG_MAX && sl_append_next(v, &off, &r))
		refs[i++] = (struct sl_rec_ref){ (uint8_t *)(uintptr_t)r.raw, r.total_len,
						 (uintptr_t)m };
	/* One mbuf reference per record handed to the core; the receive one is reused. */
	if (i > 1)
		rte_mbuf_refcnt_update(m, (int16_t)(i - 1));
	n->net.records_in += i;
	ev->u.frame.recs = refs;
	ev->u.frame.n_recs = i;
	node_step(n, ev);
	if (i == 0)
		rte_pktmbuf_free(m);
}

static void node_rx_udp(struct node *n, struct port *p, struct rte_mbuf *m,
			const struct net_pkt *pk)
{
	const uint8_t *f = rte_pktmbuf_mtod_offset(m, uint8_t *, pk->payload_off);
	struct sl_event ev = { .type = SL_EV_FRAME, .now_ns = n->now_ns };
	uint64_t ctx = node_ctx(p->index, pk->src_ip, pk->src_port);
	struct sl_frame_view v;
	enum sl_reject rc = sl_frame_decode(f, pk->payload_len, &n->expect, &v);

	if (rc != SL_OK) {
		sl_reject_count(&n->net.rejects, rc);
		/* Reasons from BAD_FIELD on come after the CRC and MAC passed: the header
		 * and the request's fields were read. */
		if (rc >= SL_REJ_BAD_FIELD && v.hdr.type == SL_FRAME_CLIENT_REQ) {
			net_neigh_learn(&n->neigh, pk->src_ip, pk->src_mac, p->index, n->now_ns);
			node_refuse(n, ctx, rc, &v.u.req);
		}
		rte_pktmbuf_free(m);
		return;
	}
	/* Frames that passed their CRC (and MAC) teach us where their sender is. */
	net_neigh_learn(&n->neigh, pk->src_ip, pk->src_mac, p->index, n->now_ns);
	switch (v.hdr.type) {
	case SL_FRAME_CLIENT_REQ:
		node_rx_client(n, m, &v, ctx);
		return;
	case SL_FRAME_APPEND:
		ev.u.frame.view = &v;
		node_rx_append(n, m, &ev, &v);
		return;
	default:
		ev.u.frame.view = &v;
		node_step(n, &ev);
		rte_pktmbuf_free(m);
	}
}

static void node_rx_arp(struct node *n, struct port *p, struct rte_mbuf *m,
			const struct net_pkt *pk)
{
	/* Someone announcing our own address is not a neighbour to send to. */
	if (pk->src_ip != p->local.ip)
		net_neigh_learn(&n->neigh, pk->src_ip, pk->src_mac, p->index, n->now_ns);
	if (pk->kind == NET_PKT_ARP_REQUEST) {
		/* Answer in the request's own mbuf: it is big enough and ours. */
		uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);

		if (rte_pktmbuf_data_len(m) < NET_ETH_MIN_LEN &&
		    !rte_pktmbuf_append(m, (uint16_t)(NET_ETH_MIN_LEN - rte_pktmbuf_data_len(m)))) {
			rte_pktmbuf_free(m);
			return;
		}
		memset(b, 0, NET_ETH_MIN_LEN);
		net_arp_write(b, &p->local, true, pk->src_mac, pk->src_ip);
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - NET_ETH_MIN_LEN));
		n->net.arp_replies++;
		n->net.tx_pkts++;
		port_tx(p, m);
		return;
	}
	rte_pktmbuf_free(m);
}

/* ---- [fault]: loss, duplication and reordering for tests --------------------------- */

static uint32_t node_fault_draw(struct node *n)
{
	uint64_t x = n->fault_rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	n->fault_rng = x;
	return (uint32_t)(x % 1000000);
}

static void node_rx(struct node *n, struct port *p, struct rte_mbuf *m);

/* true when the fault took the datagram (dropped or held back); a duplicate is
 * delivered here and the original goes on. A copy parses as its original: pk serves. */
static bool node_fault(struct node *n, struct port *p, struct rte_mbuf *m, const struct net_pkt *pk)
{
	const struct cfg *c = &n->cfg;
	uint32_t r = node_fault_draw(n);
	struct rte_mbuf *dup;

	if (r < c->fault_loss_ppm) {
		n->net.fault_dropped++;
		rte_pktmbuf_free(m);
		return true;
	}
	r -= c->fault_loss_ppm;
	if (r < c->fault_dup_ppm) {
		dup = rte_pktmbuf_copy(m, n->pool, 0, UINT32_MAX);
		if (dup) {
			n->net.fault_duplicated++;
			node_rx_udp(n, p, dup, pk);
		}
		return false;
	}
	r -= c->fault_dup_ppm;
	if (r < c->fault_reorder_ppm && !n->fault_held) {
		n->net.fault_reordered++;
		n->fault_held = m;
		n->fault_held_port = p;
		n->fault_held_pkt = *pk;
		return true;
	}
	return false;
}

/* The held datagram goes in after the ones that overtook it. */
static void node_fault_release(struct node *n)
{
	struct rte_mbuf *m = n->fault_held;

	n->fault_held = NULL;
	node_rx_udp(n, n->fault_held_port, m, &n->fault_held_pkt);
}

static void node_rx(struct node *n, struct port *p, struct rte_mbuf *m)
{
	struct net_pkt pk;
	int rc;

	n->net.rx_pkts++;
	if (unlikely(m->nb_segs > 1)) {
		/* Mbufs hold a whole frame at the configured MTU: a chain is oversized. */
		n->net.rx_oversized++;
		rte_pktmbuf_free(m);
		return;
	}
	rc = net_pkt_parse(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m), &p->local, &pk);
	if (rc >= 0) {
		n->net.drops.count[rc]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (pk.kind != NET_PKT_UDP) {
		node_rx_arp(n, p, m, &pk);
		return;
	}
	if (unlikely(n->fault_rng) && node_fault(n, p, m, &pk))
		return;
	node_rx_udp(n, p, m, &pk);
}

/* ---- what the persistence lcore reports ------------------------------------------- */

static void node_read_done(struct node *n, const struct node_msg *m)
{
	struct sl_event ev = { .type = SL_EV_WAL_RECORDS, .now_ns = n->now_ns };
	unsigned idx = m->c & 0xff, want = m->c >> 8;
	const uint8_t *buf = m->data;
	struct sl_record_hdr h;
	uint32_t off = 0, i = 0;

	if (m->status == -ENOENT && m->d != 0) {
		/* Retention deleted what a follower lacks: the core may ship a snapshot. */
		ev.u.wal.node = m->d;
		ev.u.wal.gone = true;
		node_step(n, &ev);
		return;
	}
	if (m->status < 0 || idx >= NODE_READ_BUFS) {
		n->net.read_errors++;
		return;
	}
	/* The WAL checked every record's CRC; here only their extents are needed. */
	while (i < want && i < n->cap_wal_refs && off + SL_REC_HDR_LEN <= m->b) {
		uint32_t sz;

		sl_record_hdr_read(buf + off, &h);
		sz = sl_record_size(h.flags, h.key_len, h.val_len);
		if (off + sz > m->b)
			break;
		n->wal_refs[i++] = (struct sl_rec_ref){ (uint8_t *)(uintptr_t)(buf + off), sz,
							NODE_H_READBUF | idx };
		off += sz;
	}
	n->readbuf_refs[idx] = i;
	ev.u.wal.node = m->d;
	ev.u.wal.recs = n->wal_refs;
	ev.u.wal.n_recs = i;
	if (i == 0) {
		struct node_msg back = { .kind = NODE_M_BUF_DONE, .c = idx };

		node_msgs_send(n, &back, 1);
	}
	node_step(n, &ev);
}

static unsigned node_from_persist(struct node *n)
{
	struct node_msg msgs[NODE_MSG_BATCH];
	unsigned got =
		rte_ring_dequeue_burst_elem(n->to_net, msgs, sizeof(msgs[0]), NODE_MSG_BATCH, NULL);

	for (unsigned i = 0; i < got; i++) {
		struct sl_event ev = { .type = SL_EV_PERSISTED, .now_ns = n->now_ns };

		if (msgs[i].kind == NODE_M_PERSISTED) {
			ev.u.persisted.lsn = msgs[i].a;
			ev.u.persisted.epoch = msgs[i].c;
			node_step(n, &ev);
		} else if (msgs[i].kind == NODE_M_READ_DONE) {
			node_read_done(n, &msgs[i]);
		} else if (msgs[i].kind == NODE_M_SNAP_DONE) {
			node_image_saved(n, &msgs[i]);
		}
	}
	return got;
}

/* ---- what the agent relays from the controller -------------------------------------- */

static unsigned node_from_agent(struct node *n)
{
	union agent_cmd cmds[NODE_CTL_BATCH];
	unsigned got = rte_ring_sc_dequeue_burst_elem(n->ctl_cmds, cmds, sizeof(cmds[0]),
						      NODE_CTL_BATCH, NULL);

	for (unsigned i = 0; i < got; i++) {
		int rc = node_control(n, &cmds[i].ctl);

		n->net.ctl_commands++;
		if (rc == 0)
			continue;
		n->net.ctl_refused++;
		/* Rare, and worth a line (RENEW of a past epoch is routine: counted only). */
		if (cmds[i].ctl.cmd != SL_CTL_RENEW) {
			printf("shiplogd[%u]: controller command %s at epoch %u refused: %s\n",
			       n->cfg.node_id, sl_control_cmd_name(cmds[i].ctl.cmd),
			       cmds[i].ctl.epoch, strerror(-rc));
			fflush(stdout);
		}
	}
	return got;
}

/* ---- the loop ----------------------------------------------------------------------- */

void node_net_iteration(struct node *n, bool *busy)
{
	struct rte_mbuf *pkts[NODE_BURST];
	struct sl_event tick = { .type = SL_EV_TICK };

	struct rte_mbuf *held = n->fault_held;

	n->now_ns = node_now_ns();
	for (unsigned i = 0; i < n->n_ports; i++) {
		uint16_t got = port_rx(&n->ports[i], pkts, NODE_BURST);

		for (uint16_t k = 0; k < got; k++)
			node_rx(n, &n->ports[i], pkts[k]);
		if (got)
			*busy = true;
	}
	/* A datagram held back since an earlier turn goes in after this turn's. */
	if (unlikely(held != NULL) && n->fault_held == held)
		node_fault_release(n);
	if (node_from_persist(n))
		*busy = true;
	if (n->ctl_cmds && node_from_agent(n))
		*busy = true;
	tick.now_ns = n->now_ns;
	node_step(n, &tick);
	for (unsigned i = 0; i < n->n_ports; i++)
		port_flush(&n->ports[i]);
	if (n->now_ns >= n->next_snapshot_ns) {
		node_snapshot_publish(n);
		n->next_snapshot_ns = n->now_ns + NODE_SNAPSHOT_NS;
		/* [wal] snapshot_records: a snapshot each time that many records committed. */
		if (n->cfg.snapshot_records && !n->image_saving &&
		    sl_core_commit_lsn(n->core) - n->image_lsn >= n->cfg.snapshot_records &&
		    sl_core_commit_lsn(n->core) > n->image_lsn)
			node_image_take(n);
	}
}

bool node_idle(const struct cfg *c, unsigned *idle_rounds, bool busy)
{
	uint32_t us;

	if (busy || c->idle == CFG_IDLE_BUSY) {
		*idle_rounds = 0;
		return false;
	}
	/* Back off from 1 us to idle_sleep_us while nothing arrives (DESIGN.md §9). */
	us = *idle_rounds < 16 ? 0 : 1u << (*idle_rounds < 26 ? *idle_rounds - 16 : 10);
	if (us > c->idle_sleep_us)
		us = c->idle_sleep_us;
	(*idle_rounds)++;
	if (us)
		rte_delay_us_sleep(us);
	return us != 0;
}

int node_net_loop(void *arg)
{
	struct node *n = arg;
	unsigned idle_rounds = 0;

	while (!atomic_load_explicit(&n->stop, memory_order_relaxed)) {
		bool busy = false;

		node_net_iteration(n, &busy);
		if (n->single_lcore)
			node_persist_iteration(n, &busy);
		if (node_idle(&n->cfg, &idle_rounds, busy))
			n->net.idle_sleeps++;
	}
	return 0;
}

/* ---- set-up --------------------------------------------------------------------------- */

static void node_core_config(struct node *n, struct sl_core_config *cc)
{
	const struct cfg *c = &n->cfg;

	memset(cc, 0, sizeof(*cc));
	sl_core_config_default(cc);
	cc->node_id = c->node_id;
	cc->cluster_id = c->cluster_id;
	cc->members[cc->n_members++] = c->node_id;
	for (unsigned i = 0; i < c->n_peers; i++)
		cc->members[cc->n_members++] = c->peers[i].id;
	cc->limits = c->limits;
	cc->ring_records = c->ring_records;
	cc->window_records = c->window_records;
	cc->batch_bytes = c->mtu - NET_IP_HDR_LEN - NET_UDP_HDR_LEN - SL_FRAME_HDR_LEN -
			  (uint32_t)sizeof(struct sl_append_hdr);
	cc->kv_keys = c->kv_keys;
	cc->dedup_clients = c->dedup_clients;
	cc->pending_reads = c->pending_reads;
	cc->reorder_frames = c->reorder_frames;
	cc->heartbeat_ns = (uint64_t)c->heartbeat_ms * 1000000;
	cc->health_ns = (uint64_t)c->health_ms * 1000000;
	cc->rto_min_ns = (uint64_t)c->rto_min_us * 1000;
	cc->rto_max_ns = (uint64_t)c->rto_max_ms * 1000000;
	cc->read_wait_ns = (uint64_t)c->read_wait_ms * 1000000;
	cc->client_timeout_ns = (uint64_t)c->client_timeout_ms * 1000000;
	cc->lease_ns = (uint64_t)cfg_lease_ms(c) * 1000000;
	cc->policy = c->policy;
	/* The controller may add peers at run time (add-node): room for every node id. */
	if (cfg_has_controller(c))
		cc->max_members = SL_NODE_MAX;
}

static int node_alloc_actions(struct node *n)
{
	struct sl_actions_caps caps;

	sl_actions_caps(&n->core_cfg, &caps);
	n->out.act = rte_zmalloc("actions", caps.actions * sizeof(struct sl_action), 64);
	n->out.refs = rte_zmalloc("refs", caps.refs * sizeof(struct sl_rec_ref), 64);
	n->out.freed = rte_zmalloc("freed", caps.freed * sizeof(uint64_t), 64);
	n->cap_wal_refs = NODE_READ_BUF_LEN / SL_REC_HDR_LEN;
	n->wal_refs = rte_zmalloc("walrefs", n->cap_wal_refs * sizeof(struct sl_rec_ref), 64);
	if (!n->out.act || !n->out.refs || !n->out.freed || !n->wal_refs)
		return -ENOMEM;
	n->out.cap_act = caps.actions;
	n->out.cap_refs = caps.refs;
	n->out.cap_freed = caps.freed;
	return 0;
}

int node_net_init(struct node *n)
{
	const struct sl_wal_recovery *r = &n->recovery;
	struct sl_core_recovered rec = { .epoch = r->epoch,
					 .last_lsn = r->last_lsn,
					 .commit_hint = r->commit_hint,
					 .n_hist = r->n_hist };
	size_t len;
	int rc;

	node_core_config(n, &n->core_cfg);
	memcpy(rec.hist, r->hist, sizeof(rec.hist));
	if (n->image) {
		struct sl_image_info info;

		rc = sl_core_image_check(n->image, n->image_len, &n->core_cfg, &info);
		if (rc < 0) {
			fprintf(stderr, "shiplogd[%u]: the snapshot at lsn %" PRIu64 " %s: %s\n",
				n->cfg.node_id, n->image_lsn,
				rc == -ERANGE ? "does not fit this configuration (kv_keys, "
						"dedup_clients or limits changed?)"
					      : "cannot be used",
				strerror(-rc));
			return -EINVAL;
		}
		rec.image = n->image;
		rec.image_len = n->image_len;
	}
	len = sl_core_mem_size(&n->core_cfg);
	if (len == 0) {
		fprintf(stderr, "shiplogd: the configured sizes make no replication core\n");
		return -EINVAL;
	}
	n->core_mem = rte_zmalloc("core", len, 64);
	if (!n->core_mem)
		return -ENOMEM;
	n->core = sl_core_init(n->core_mem, len, &n->core_cfg, &rec);
	if (!n->core)
		return -EINVAL;
	rc = node_alloc_actions(n);
	if (rc < 0)
		return rc;
	n->expect = (struct sl_frame_expect){ .cluster_id = n->cfg.cluster_id,
					      .node_id = n->cfg.node_id,
					      .min_epoch = sl_core_epoch(n->core),
					      .limits = n->cfg.limits,
					      .key = n->cfg.has_key ? &n->cfg.key : NULL,
					      .check_record_crc = 1 };
	net_neigh_init(&n->neigh);
	for (unsigned i = 0; i < n->cfg.n_peers; i++) {
		const struct cfg_peer *p = &n->cfg.peers[i];

		if (p->has_mac && net_neigh_add_static(&n->neigh, p->ip, p->mac, p->port) < 0) {
			fprintf(stderr, "shiplogd: peer %u: its MAC cannot be used\n", p->id);
			return -EINVAL;
		}
	}
	n->last_commit = sl_core_commit_lsn(n->core);
	if (n->cfg.fault_loss_ppm || n->cfg.fault_dup_ppm || n->cfg.fault_reorder_ppm)
		n->fault_rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n->cfg.fault_seed << 16) ^
			       n->cfg.node_id;
	return 0;
}

void node_net_fini(struct node *n)
{
	rte_free(n->out.act);
	rte_free(n->out.refs);
	rte_free(n->out.freed);
	rte_free(n->wal_refs);
	rte_free(n->core_mem);
	free(n->image);
	free(n->rx_image);
	free(n->image_saving);
	n->image = n->rx_image = n->image_saving = NULL;
}

/*
 * The starting role. With a controller, the node is fenced at its recovered epoch until
 * the controller's PROMOTE or FOLLOW comes through the agent (DESIGN.md §6). Without
 * one, the static roles of [cluster]: the configured leader leads, the others follow.
 * A leader never resumes an epoch it led before a restart (its old followers may hold
 * records of that epoch it lost): it takes the next one, which its followers learn
 * from its first frame.
 */
static void node_start_role(const struct node *n, struct sl_control *ctl)
{
	uint32_t epoch = n->cfg.epoch;

	memset(ctl, 0, sizeof(*ctl));
	if (cfg_has_controller(&n->cfg)) {
		ctl->cmd = SL_CTL_FENCE;
		ctl->epoch = n->recovery.epoch;
		return;
	}
	if (n->recovery.epoch >= epoch)
		epoch = n->recovery.epoch + (n->cfg.role == SL_ROLE_LEADER ? 1 : 0);
	ctl->epoch = epoch;
	switch (n->cfg.role) {
	case SL_ROLE_LEADER:
		ctl->cmd = n->recovery.may_lead ? SL_CTL_PROMOTE : SL_CTL_FENCE;
		break;
	case SL_ROLE_FOLLOWER:
	case SL_ROLE_LEARNER:
		ctl->cmd = SL_CTL_FOLLOW;
		ctl->node = n->cfg.leader;
		ctl->learner = n->cfg.role == SL_ROLE_LEARNER;
		break;
	default:
		ctl->cmd = SL_CTL_FENCE;
	}
}

int node_net_start(struct node *n)
{
	const struct cfg *c = &n->cfg;
	struct sl_control ctl;
	struct in_addr ip = { .s_addr = htonl(c->ctl_ip) };
	char addr[INET_ADDRSTRLEN];
	int rc;

	node_start_role(n, &ctl);
	if (cfg_has_controller(c))
		printf("shiplogd[%u]: node %u: fenced at epoch %u, waiting for the controller at "
		       "%s:%u\n",
		       c->node_id, c->node_id, ctl.epoch,
		       inet_ntop(AF_INET, &ip, addr, sizeof(addr)), c->ctl_port);
	else if (c->role == SL_ROLE_LEADER && ctl.cmd == SL_CTL_FENCE)
		fprintf(stderr,
			"shiplogd[%u]: the log was damaged up to lsn %" PRIu64
			": not leading until it is re-fetched; fenced\n",
			c->node_id, n->recovery.refetch_lsn);
	fflush(stdout);
	n->now_ns = node_now_ns();
	rc = node_control(n, &ctl);
	if (rc < 0) {
		fprintf(stderr,
			"shiplogd[%u]: the replication core refused the starting role: %s\n",
			c->node_id, strerror(-rc));
		node_fail(n);
		return rc;
	}
	return 0;
}
