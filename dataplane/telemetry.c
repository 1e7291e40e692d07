/* shiplogd's DPDK telemetry commands: /shiplog/stats, /shiplog/lsn, /shiplog/peers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_pause.h>
#include <rte_telemetry.h>

#include "agent.h"
#include "node.h"

/*
 * DESIGN.md §8. Telemetry callbacks run on DPDK's telemetry thread, not on an lcore:
 * they read only the snapshots each lcore publishes every 10 ms under a seqcount, and
 * retry while a writer is mid-copy. Nothing here touches the core or the WAL. The
 * control agent (agent.c) reads the same snapshots for its reports.
 */

static struct node *tele_node;

static void snap_write_begin(atomic_uint *seq)
{
	atomic_fetch_add_explicit(seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void snap_write_end(atomic_uint *seq)
{
	atomic_thread_fence(memory_order_release);
	atomic_fetch_add_explicit(seq, 1, memory_order_relaxed);
}

/* Copies len bytes of src published under seq into dst, consistently. */
static void snap_read(atomic_uint *seq, void *dst, const void *src, size_t len)
{
	unsigned a, b;

	do {
		while ((a = atomic_load_explicit(seq, memory_order_acquire)) & 1)
			rte_pause();
		memcpy(dst, src, len);
		atomic_thread_fence(memory_order_acquire);
		b = atomic_load_explicit(seq, memory_order_relaxed);
	} while (a != b);
}

void node_snapshot_publish(struct node *n)
{
	snap_write_begin(&n->snap_seq);
	sl_core_status(n->core, n->now_ns, &n->snap.st);
	n->snap.core = *sl_core_stats(n->core);
	n->snap.net = n->net;
	n->snap.tx_dropped = 0;
	for (unsigned i = 0; i < n->n_ports; i++)
		n->snap.tx_dropped += n->ports[i].tx_dropped;
	snap_write_end(&n->snap_seq);
}

void node_wal_snapshot_publish(struct node *n)
{
	if (!n->wal)
		return;
	snap_write_begin(&n->wal_seq);
	sl_wal_status(n->wal, &n->wal_snap.st);
	sl_wal_stats(n->wal, &n->wal_snap.stats);
	n->wal_snap.per = n->per;
	snap_write_end(&n->wal_seq);
}

void node_snapshot_read(struct node *n, struct node_net_snapshot *out)
{
	snap_read(&n->snap_seq, out, &n->snap, sizeof(*out));
}

void node_wal_snapshot_read(struct node *n, struct node_wal_snapshot *out)
{
	snap_read(&n->wal_seq, out, &n->wal_snap, sizeof(*out));
}

#define ADD(d, s, f) rte_tel_data_add_dict_u64(d, #f, (s)->f)

static int tele_lsn(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct node_net_snapshot s;
	struct node_wal_snapshot w;

	(void)cmd;
	(void)params;
	snap_read(&tele_node->snap_seq, &s, &tele_node->snap, sizeof(s));
	snap_read(&tele_node->wal_seq, &w, &tele_node->wal_snap, sizeof(w));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "node", tele_node->cfg.node_id);
	rte_tel_data_add_dict_string(d, "role", sl_role_name(s.st.role));
	rte_tel_data_add_dict_u64(d, "epoch", s.st.epoch);
	rte_tel_data_add_dict_u64(d, "leader", s.st.leader);
	ADD(d, &s.st, last_lsn);
	ADD(d, &s.st, flushed_lsn);
	ADD(d, &s.st, applied_lsn);
	ADD(d, &s.st, commit_lsn);
	rte_tel_data_add_dict_u64(d, "wal_first_lsn", w.st.first_lsn);
	rte_tel_data_add_dict_u64(d, "wal_flushed_lsn", w.st.flushed_lsn);
	rte_tel_data_add_dict_u64(d, "degraded", s.st.degraded);
	return 0;
}

static struct rte_tel_data *tele_counts(const uint64_t *v, unsigned n,
					const char *(*name)(unsigned))
{
	struct rte_tel_data *c = rte_tel_data_alloc();

	if (!c)
		return NULL;
	rte_tel_data_start_dict(c);
	for (unsigned i = 0; i < n; i++)
		rte_tel_data_add_dict_u64(c, name(i), v[i]);
	return c;
}

static const char *tele_reject_name(unsigned r)
{
	return sl_reject_name((enum sl_reject)r);
}

static void tele_net(struct rte_tel_data *d, const struct node_net_snapshot *s)
{
	const struct node_net_stats *t = &s->net;
	uint64_t recs = t->records_in ? t->records_in : 1;

	ADD(d, t, rx_pkts);
	ADD(d, t, rx_oversized);
	ADD(d, t, tx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_dropped", s->tx_dropped);
	ADD(d, t, no_route);
	ADD(d, t, arp_requests);
	ADD(d, t, arp_replies);
	ADD(d, t, client_reqs);
	ADD(d, t, client_writes);
	ADD(d, t, client_reads);
	ADD(d, t, client_refused);
	ADD(d, t, replies);
	ADD(d, t, records_in);
	ADD(d, t, bytes_zero_copy);
	ADD(d, t, bytes_copied);
	ADD(d, t, ctl_bytes_copied);
	/* The zero-copy claim in one number (DESIGN.md §4): hot-path bytes copied per
	 * record, in thousandths. */
	rte_tel_data_add_dict_u64(d, "bytes_copied_per_record_milli",
				  t->bytes_copied * 1000 / recs);
	ADD(d, t, no_mbuf);
	ADD(d, t, ring_waits);
	ADD(d, t, read_errors);
	ADD(d, t, core_errors);
	ADD(d, t, steps);
	ADD(d, t, idle_sleeps);
	ADD(d, t, fault_dropped);
	ADD(d, t, fault_duplicated);
	ADD(d, t, fault_reordered);
	ADD(d, t, ctl_commands);
	ADD(d, t, ctl_refused);
	ADD(d, t, snapshots_saved);
	ADD(d, t, snapshot_errors);
	ADD(d, t, snapshot_unsent);
}

#define ADD_AGENT(d, st, f)                       \
	rte_tel_data_add_dict_u64(d, "agent_" #f, \
				  (st) ? atomic_load_explicit(&(st)->f, memory_order_relaxed) : 0)

/* The control agent's counters (zero without a controller). */
static void tele_agent(struct rte_tel_data *d, const struct node_net_snapshot *s)
{
	const struct agent *a = tele_node->agent;
	struct agent_stats *st = a ? (struct agent_stats *)&a->stats : NULL;

	ADD_AGENT(d, st, connected);
	ADD_AGENT(d, st, connects);
	ADD_AGENT(d, st, reconnects);
	ADD_AGENT(d, st, connect_failures);
	ADD_AGENT(d, st, reports_sent);
	ADD_AGENT(d, st, reports_skipped);
	ADD_AGENT(d, st, notes_sent);
	rte_tel_data_add_dict_u64(d, "agent_notes_dropped", s->net.notes_dropped);
	ADD_AGENT(d, st, commands_received);
	ADD_AGENT(d, st, commands_dropped);
	ADD_AGENT(d, st, bad_lines);
	ADD_AGENT(d, st, encode_errors);
}

static void tele_core(struct rte_tel_data *d, const struct sl_core_stats *c)
{
	ADD(d, c, records_appended);
	ADD(d, c, records_applied);
	ADD(d, c, retransmits);
	ADD(d, c, nacks_sent);
	ADD(d, c, stale_epoch);
	ADD(d, c, foreign_frames);
	ADD(d, c, client_not_leader);
	ADD(d, c, client_busy);
	ADD(d, c, client_dup);
	ADD(d, c, reads_stale);
	ADD(d, c, degraded_count);
	ADD(d, c, truncated_records);
	ADD(d, c, wal_reads);
	ADD(d, c, kv_full);
	ADD(d, c, ring_full_drops);
	ADD(d, c, reordered);
	ADD(d, c, nacks_ignored);
	ADD(d, c, history_resyncs);
	ADD(d, c, client_timeouts);
	ADD(d, c, lease_expired);
	ADD(d, c, snapshots_sent);
	ADD(d, c, snapshots_installed);
	ADD(d, c, snapshot_rejects);
}

static void tele_wal(struct rte_tel_data *d, const struct node_wal_snapshot *w)
{
	rte_tel_data_add_dict_u64(d, "wal_batches", w->stats.batches);
	rte_tel_data_add_dict_u64(d, "wal_batch_records", w->stats.batch_records);
	rte_tel_data_add_dict_u64(d, "wal_bytes_written", w->stats.bytes_written);
	rte_tel_data_add_dict_u64(d, "wal_bytes_copied", w->stats.bytes_copied);
	rte_tel_data_add_dict_u64(d, "wal_syncs", w->stats.syncs);
	rte_tel_data_add_dict_u64(d, "wal_append_full", w->per.append_full);
	rte_tel_data_add_dict_u64(d, "wal_errors", w->per.wal_errors);
	rte_tel_data_add_dict_u64(d, "wal_failed", w->st.failed != 0);
	rte_tel_data_add_dict_u64(d, "wal_segments", w->st.segments);
	rte_tel_data_add_dict_u64(d, "wal_first_lsn", w->st.first_lsn);
	rte_tel_data_add_dict_u64(d, "wal_snapshot_lsn", w->st.snapshot_lsn);
	rte_tel_data_add_dict_u64(d, "wal_segments_deleted", w->stats.segments_deleted);
	rte_tel_data_add_dict_u64(d, "wal_read_below_retention", w->stats.read_below_retention);
}

static int tele_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct node_net_snapshot s;
	struct node_wal_snapshot w;
	struct rte_tel_data *drops, *rejects;

	(void)cmd;
	(void)params;
	snap_read(&tele_node->snap_seq, &s, &tele_node->snap, sizeof(s));
	snap_read(&tele_node->wal_seq, &w, &tele_node->wal_snap, sizeof(w));
	rte_tel_data_start_dict(d);
	tele_net(d, &s);
	tele_core(d, &s.core);
	tele_wal(d, &w);
	tele_agent(d, &s);
	rte_tel_data_add_dict_u64(d, "rejects_total", sl_reject_stats_total(&s.net.rejects));
	drops = tele_counts(s.net.drops.count, NET_DROP__MAX, net_drop_name);
	rejects = tele_counts(s.net.rejects.count, SL_REJ__MAX, tele_reject_name);
	if (drops)
		rte_tel_data_add_dict_container(d, "drops", drops, 0);
	if (rejects)
		rte_tel_data_add_dict_container(d, "rejects", rejects, 0);
	return 0;
}

static int tele_peers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct node_net_snapshot s;
	char name[16];

	(void)cmd;
	(void)params;
	snap_read(&tele_node->snap_seq, &s, &tele_node->snap, sizeof(s));
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < s.st.n_peers; i++) {
		const struct sl_peer_status *p = &s.st.peers[i];
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (!c)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "learner", p->learner);
		snprintf(name, sizeof(name), "n%u", p->node);
		if (s.st.role != SL_ROLE_LEADER) { /* only a leader tracks its peers' positions */
			rte_tel_data_add_dict_container(d, name, c, 0);
			continue;
		}
		rte_tel_data_add_dict_u64(c, "healthy", p->healthy);
		rte_tel_data_add_dict_u64(c, "sync", p->sync);
		ADD(c, p, received_lsn);
		ADD(c, p, flushed_lsn);
		ADD(c, p, applied_lsn);
		ADD(c, p, lag_records);
		ADD(c, p, lag_bytes);
		ADD(c, p, lag_ns);
		ADD(c, p, rto_ns);
		rte_tel_data_add_dict_container(d, name, c, 0);
	}
	return 0;
}

int node_telemetry_register(struct node *n)
{
	int rc;

	tele_node = n;
	rc = rte_telemetry_register_cmd(
		"/shiplog/stats", tele_stats,
		"Counters: packets, drops and rejects by reason, core, WAL");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/shiplog/lsn", tele_lsn,
						"Role, epoch, leader and LSNs of this node");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/shiplog/peers", tele_peers,
						"Per-follower progress and lag (leader)");
	return rc;
}
