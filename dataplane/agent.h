/* shiplogd's control agent: the TCP link to shiplog-controller (DESIGN.md §1, §6). */
#ifndef SHIPLOG_DP_AGENT_H
#define SHIPLOG_DP_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <shiplog/control.h>

struct node;
struct rte_ring;

/*
 * A plain thread (a DPDK control thread: off the lcores' cores), started only when
 * control.controller is set. It keeps one TCP connection to the controller: hello, then
 * a report every control.report_ms built from the snapshots the lcores publish (the
 * ones telemetry reads), and the core's notes. Commands it reads go to the network
 * lcore through node.ctl_cmds; notes come back through node.ctl_notes. Both rings are
 * small and neither side ever waits on the other: a full ring drops and counts. The
 * agent never touches the core, the WAL or a port.
 */
#define AGENT_RING_LEN	       64u   /* commands or notes in flight */
#define AGENT_CONNECT_MS       1000u /* a connect that takes longer failed */
#define AGENT_BACKOFF_MIN_MS   100u  /* between attempts; doubles while they fail ... */
#define AGENT_BACKOFF_MAX_MS   1000u /* ... up to this */
#define AGENT_STABLE_MS	       2000u /* a connection that lived this long resets the backoff */
#define AGENT_STALL_MS	       3000u /* the controller read nothing this long: reconnect */
#define AGENT_TICK_MS	       10u   /* longest wait: notes and stop are seen this fast */
#define AGENT_TX_LEN	       (2u * SL_CTL_LINE_MAX)
#define AGENT_STOP_WAIT_MS_MAX 2000u

/* Counters, written by the agent thread, read by telemetry (/shiplog/stats). */
struct agent_stats {
	atomic_uint_fast64_t connected; /* 1 while a connection is up */
	atomic_uint_fast64_t connects;
	atomic_uint_fast64_t reconnects; /* connections made after one was lost */
	atomic_uint_fast64_t connect_failures;
	atomic_uint_fast64_t reports_sent;
	atomic_uint_fast64_t reports_skipped; /* the previous ones were not sent yet */
	atomic_uint_fast64_t notes_sent;
	atomic_uint_fast64_t commands_received;
	atomic_uint_fast64_t commands_dropped; /* the command ring was full */
	atomic_uint_fast64_t bad_lines;	       /* from the controller: connection dropped */
	atomic_uint_fast64_t encode_errors;
};

/* A command on its way to the network lcore: ring elements are multiples of 4 bytes. */
union agent_cmd {
	struct sl_control ctl;
	uint32_t words[(sizeof(struct sl_control) + 3) / 4];
};
_Static_assert(sizeof(union agent_cmd) % 4 == 0, "ring element size is a multiple of 4");
_Static_assert(sizeof(struct sl_node_note) % 4 == 0, "ring element size is a multiple of 4");

struct agent {
	struct node *node;
	struct rte_ring *cmds;	/* agent -> network lcore (multi-producer safe) */
	struct rte_ring *notes; /* network lcore -> agent */
	char token[SL_CTL_TOKEN_MAX];
	char addr[32];	    /* the controller, "a.b.c.d:port", for logs */
	char data_addr[48]; /* this node's data path, for the reports */
	pthread_t thread;
	bool running;
	atomic_bool stop;
	atomic_bool exited;
	struct agent_stats stats;

	/* The agent thread's own. */
	int fd;
	uint32_t backoff_ms;
	uint64_t next_try_ns;
	uint64_t connected_ns;
	uint64_t next_report_ns;
	uint64_t report_seq;
	uint64_t stalled_since_ns; /* 0: nothing waits to be sent */
	uint32_t failures;	   /* connect attempts failed since the last connection */
	bool ever_connected;
	bool bad_line_logged;
	bool encode_logged;
	struct sl_ctl_msg msg; /* a report being built, a line being decoded */
	uint32_t rx_len;
	uint32_t tx_off, tx_len;
	char rx[SL_CTL_LINE_MAX];
	char tx[AGENT_TX_LEN];
};

/*
 * Creates the two rings and hands them to the node (node.ctl_cmds, node.ctl_notes);
 * token is the hello token (cfg_read_token). 0 or a negative errno.
 */
int agent_init(struct agent *a, struct node *n, const char *token);
/* Starts the thread. 0 or a negative errno. */
int agent_start(struct agent *a);
/* Asks the thread to stop and joins it, waiting at most wait_ms (it checks every
 * AGENT_TICK_MS; a connect in progress within 100 ms). Before the lcores stop. */
void agent_stop(struct agent *a, unsigned wait_ms);
/* Frees the rings, once the network lcore is done with them. */
void agent_fini(struct agent *a);

#endif
