/* shiplogd: EAL, configuration, ports, WAL recovery, the control agent, the lcore loops. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "agent.h"
#include "node.h"

#define SHIPLOGD_OVERRIDES_MAX 64
#define SHIPLOGD_RX_DESC       1024u
#define SHIPLOGD_TX_DESC       1024u

static struct node the_node;
static struct agent the_agent; /* with a controller (control.controller) */

static void usage(FILE *f)
{
	fprintf(f, "usage: shiplogd [EAL options] -- [options]\n"
		   "  --config FILE          configuration file (INI; see README.md)\n"
		   "  --node-id N            node.id\n"
		   "  --data-dir DIR         node.data_dir\n"
		   "  --idle busy|sleep      node.idle: poll without pause, or back off when idle\n"
		   "  --SECTION.KEY=VALUE    any configuration key (applied after the file)\n"
		   "  --print-config         print the effective configuration and exit\n"
		   "  --help\n"
		   "Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure,\n"
		   "2 on a configuration or usage error.\n");
}

struct opts {
	const char *config;
	bool print;
	unsigned n;
	const char *name[SHIPLOGD_OVERRIDES_MAX];
	const char *value[SHIPLOGD_OVERRIDES_MAX];
	char *owned[SHIPLOGD_OVERRIDES_MAX];
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 0; i < argc; i++) {
		char *a = argv[i], *eq;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--print-config") == 0) {
			o->print = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			fprintf(stderr, "shiplogd: unexpected argument '%s'\n", a);
			return -EINVAL;
		}
		if (o->n == SHIPLOGD_OVERRIDES_MAX) {
			fprintf(stderr, "shiplogd: too many options\n");
			return -EINVAL;
		}
		a += 2;
		eq = strchr(a, '=');
		if (eq) {
			o->owned[o->n] = strndup(a, (size_t)(eq - a));
			o->name[o->n] = o->owned[o->n];
			o->value[o->n] = eq + 1;
		} else if (i + 1 < argc) {
			o->name[o->n] = a;
			o->value[o->n] = argv[++i];
		} else {
			fprintf(stderr, "shiplogd: option --%s needs a value\n", a);
			return -EINVAL;
		}
		if (!o->name[o->n])
			return -ENOMEM;
		if (strcmp(o->name[o->n], "config") == 0)
			o->config = o->value[o->n];
		else
			o->n++;
	}
	return 0;
}

/* The hello token, read once at start (a bad token_file is a configuration error). */
static int load_token(const struct cfg *c, char *tok, size_t cap)
{
	char err[CFG_ERR_MAX];

	if (cfg_read_token(c, tok, cap, err, sizeof(err)) < 0) {
		fprintf(stderr, "shiplogd: configuration: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static int load_config(struct cfg *c, int argc, char **argv, bool *print)
{
	struct opts o = { 0 };
	char err[CFG_ERR_MAX];
	int rc = parse_args(argc, argv, &o);

	cfg_default(c);
	if (rc == 0 && o.config && cfg_load_file(c, o.config, err, sizeof(err)) < 0) {
		fprintf(stderr, "shiplogd: %s\n", err);
		rc = -EINVAL;
	}
	for (unsigned i = 0; rc == 0 && i < o.n; i++)
		if (cfg_set_option(c, o.name[i], o.value[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "shiplogd: --%s: %s\n", o.name[i], err);
			rc = -EINVAL;
		}
	if (rc == 0 && cfg_check(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "shiplogd: configuration: %s\n", err);
		rc = -EINVAL;
	}
	for (unsigned i = 0; i < SHIPLOGD_OVERRIDES_MAX; i++)
		free(o.owned[i]);
	*print = o.print;
	return rc;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&the_node.stop, true);
}

static unsigned pow2_at_least(uint64_t v)
{
	unsigned p = 1;

	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

/* Pools and rings sized from the configuration (DESIGN.md §2: no allocation later). */
static int make_pools(struct node *n)
{
	const struct cfg *c = &n->cfg;
	unsigned socket = rte_socket_id();
	uint32_t mbufs = c->mbufs, ind;
	uint16_t room =
		(uint16_t)(RTE_PKTMBUF_HEADROOM + RTE_MAX((uint32_t)RTE_MBUF_DEFAULT_DATAROOM,
							  c->mtu + NET_ETH_HDR_LEN + 64u));

	/* Records held by the core's ring and the WAL's queue, plus what the ports hold. */
	if (mbufs == 0)
		mbufs = 2 * c->ring_records + c->queue_records +
			(SHIPLOGD_RX_DESC + SHIPLOGD_TX_DESC) * 2 * c->n_ports + 8192;
	n->pool = rte_pktmbuf_pool_create("sl_pool", mbufs, 256, 0, room, (int)socket);
	/* An indirect mbuf lives from an APPEND's build until its port has sent it: per
	 * port, what the tx ring (a descriptor per segment) and the tx buffer (32 frames
	 * of at most one segment per record) hold; twice that for frames being built.
	 * Running out costs a frame (no_mbuf), which the core retransmits. */
	ind = 2 * c->n_ports * (SHIPLOGD_TX_DESC + 32 * (c->mtu / SL_REC_HDR_LEN + 2));
	n->ind_pool = rte_pktmbuf_pool_create("sl_ind", ind, 256, 0, 0, (int)socket);
	n->ctl_pool = rte_pktmbuf_pool_create("sl_ctl", 1023, 0, 0, 256, (int)socket);
	n->to_persist = rte_ring_create_elem(
		"sl_to_persist", sizeof(struct node_msg),
		pow2_at_least(2ull * c->ring_records + c->queue_records + 4096), (int)socket,
		RING_F_SP_ENQ | RING_F_SC_DEQ);
	n->to_net = rte_ring_create_elem("sl_to_net", sizeof(struct node_msg), 1024, (int)socket,
					 RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!n->pool || !n->ind_pool || !n->ctl_pool || !n->to_persist || !n->to_net) {
		fprintf(stderr, "shiplogd: mempools/rings (%u mbufs of %u B): %s\n", mbufs, room,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

static int open_ports(struct node *n)
{
	for (unsigned i = 0; i < n->cfg.n_ports; i++) {
		struct port *p = &n->ports[i];
		int rc = port_open(p, n->cfg.ports[i], (uint8_t)i, n->pool, n->cfg.mtu,
				   SHIPLOGD_RX_DESC, SHIPLOGD_TX_DESC);

		if (rc < 0)
			return rc;
		p->local.ip = n->cfg.ip;
		p->local.udp_port = n->cfg.udp_port;
		n->n_ports = (uint8_t)(i + 1);
	}
	return 0;
}

static void report_start(const struct node *n)
{
	const struct sl_wal_recovery *r = &n->recovery;

	printf("shiplogd[%u]: cluster %u, %u port(s), %u peer(s), lcores %s, idle %s\n",
	       n->cfg.node_id, n->cfg.cluster_id, n->n_ports, n->cfg.n_peers,
	       n->single_lcore ? "1 (shared)" : "2 (net+core, persistence)",
	       n->cfg.idle == CFG_IDLE_BUSY ? "busy" : "sleep");
	printf("shiplogd[%u]: WAL %s: lsn %" PRIu64 "..%" PRIu64 ", epoch %u, commit hint %" PRIu64
	       "%s\n",
	       n->cfg.node_id, n->cfg.data_dir, r->first_lsn, r->last_lsn, r->epoch, r->commit_hint,
	       r->torn_lsn ? " (torn tail cut)" : "");
	if (r->snapshot_lsn)
		printf("shiplogd[%u]: state from the snapshot at lsn %" PRIu64
		       " (epoch %u, %" PRIu64 " bytes), then the log after it\n",
		       n->cfg.node_id, r->snapshot_lsn, r->snapshot_epoch, r->snapshot_len);
	fflush(stdout);
}

/* The persistence loop first: starting a role already stores an epoch through it. */
static int launch(struct node *n, unsigned *worker)
{
	n->single_lcore = n->cfg.lcores == 1;
	if (n->single_lcore)
		return 0;
	*worker = rte_get_next_lcore(-1, 1, 0);
	if (*worker >= RTE_MAX_LCORE) {
		fprintf(stderr, "shiplogd: node.lcores = 2 needs two EAL lcores (-l 0,1); "
				"or set node.lcores = 1\n");
		return -EINVAL;
	}
	return rte_eal_remote_launch(node_persist_loop, n, *worker) == 0 ? 0 : -EIO;
}

/* The agent reads the lcores' snapshots: the first is published before it starts. */
static int start_agent(struct node *n)
{
	if (!cfg_has_controller(&n->cfg))
		return 0;
	node_snapshot_publish(n);
	if (agent_start(&the_agent) < 0) {
		node_fail(n);
		return -EIO;
	}
	return 0;
}

/* After the loop: no more requests are read; everything appended is flushed, the WAL
 * closed (its commit hint stored), then the persistence lcore leaves. */
static void stop(struct node *n, unsigned worker)
{
	n->sync.op = NODE_SYNC_STOP;
	node_sync_request(n);
	if (!n->single_lcore)
		rte_eal_wait_lcore(worker);
}

int main(int argc, char **argv)
{
	struct node *n = &the_node;
	unsigned worker = RTE_MAX_LCORE;
	int dash = argc, rc, eal;
	bool print = false;
	char token[SL_CTL_TOKEN_MAX] = "";

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	}
	if (load_config(&n->cfg, argc - dash - 1 > 0 ? argc - dash - 1 : 0, argv + dash + 1,
			&print) < 0)
		return 2;
	if (print) {
		static char text[1 << 16];

		if (cfg_format(&n->cfg, text, sizeof(text)) == 0)
			return 1;
		fputs(text, stdout);
		return 0;
	}
	if (load_token(&n->cfg, token, sizeof(token)) < 0)
		return 2;
	eal = rte_eal_init(dash, argv);
	if (eal < 0) {
		fprintf(stderr, "shiplogd: EAL: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	rc = make_pools(n);
	if (rc == 0)
		rc = open_ports(n);
	if (rc == 0)
		rc = node_persist_open(n);
	if (rc == 0)
		node_wal_snapshot_publish(n); /* before the persistence lcore runs */
	if (rc == 0)
		rc = node_net_init(n);
	if (rc == 0 && cfg_has_controller(&n->cfg))
		rc = agent_init(&the_agent, n, token);
	explicit_bzero(token, sizeof(token));
	if (rc == 0 && node_telemetry_register(n) < 0)
		fprintf(stderr, "shiplogd: telemetry commands not registered\n");
	if (rc == 0)
		rc = launch(n, &worker);
	if (rc == 0) {
		report_start(n);
		if (node_net_start(n) == 0 && start_agent(n) == 0)
			node_net_loop(n);
		/* The agent first: it must not relay commands to a core that stopped. */
		agent_stop(&the_agent, AGENT_STOP_WAIT_MS_MAX);
		stop(n, worker);
	}
	for (unsigned i = 0; i < n->n_ports; i++)
		port_close(&n->ports[i]);
	if (rc == 0) {
		const struct sl_core_status *s = &n->snap.st;

		node_snapshot_publish(n);
		printf("shiplogd[%u]: stopped: role %s, epoch %u, last %" PRIu64
		       ", flushed %" PRIu64 ", commit %" PRIu64 ", applied %" PRIu64 "\n",
		       n->cfg.node_id, sl_role_name(s->role), s->epoch, s->last_lsn, s->flushed_lsn,
		       s->commit_lsn, s->applied_lsn);
		fflush(stdout); /* before the EAL's clean-up, whatever it does */
	}
	if (cfg_has_controller(&n->cfg))
		agent_fini(&the_agent);
	if (n->core)
		node_net_fini(n);
	rte_eal_cleanup();
	return rc == 0 && !atomic_load(&n->failed) ? 0 : 1;
}
