/* shiplog-sim: a deterministic cluster of real replication cores on a fake network and disk. */
#ifndef SHIPLOG_SIM_H
#define SHIPLOG_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <shiplog/policy.h>

/* Fault classes (--faults). */
enum sim_fault {
	SIM_F_LOSS = 1u << 0,	   /* frames dropped */
	SIM_F_DUP = 1u << 1,	   /* frames delivered twice */
	SIM_F_REORDER = 1u << 2,   /* frames overtaking each other */
	SIM_F_DELAY = 1u << 3,	   /* long, variable latency */
	SIM_F_PARTITION = 1u << 4, /* links cut, one or both directions */
	SIM_F_ISOLATE = 1u << 5,   /* the leader cut off from everyone */
	SIM_F_CRASH = 1u << 6,	   /* node crash and restart; unsynced writes kept/dropped/torn */
	SIM_F_DISK = 1u << 7,	   /* slow and variable persistence */
	SIM_F_POLICY = 1u << 8,	   /* commit policy switched at run time */
	SIM_F_ALL = (1u << 9) - 1,
};

struct sim_opts {
	uint64_t seed;
	unsigned nodes;	   /* 3..5 */
	bool policy_given; /* else each seed draws one */
	struct sl_policy policy;
	uint32_t faults;      /* SIM_F_* */
	uint32_t bugs;	      /* SL_BUG_* */
	uint64_t duration_ns; /* virtual time with faults, before the settle phase */
	unsigned clients;
	uint64_t lease_ns;	    /* check-quorum lease of the cores (0: off); the scripted
				     * controller renews it on every look while it reaches the leader */
	uint64_t client_timeout_ns; /* 0: the core's default */
	FILE *trace;		    /* non-NULL: print every event and action */
};

struct sim_result {
	uint64_t violations;
	char first_violation[256];
	uint64_t acked_writes;
	uint64_t lost_writes; /* acknowledged, then lost: only legal under async */
	uint64_t reads_checked;
	uint64_t failovers;
	uint64_t crashes;
	uint64_t truncated;
	uint64_t commit_lsn; /* leader's at the end */
	uint64_t frames;
	uint64_t rejected;  /* frames the codec refused */
	uint64_t reordered; /* APPENDs held by a follower until a gap filled */
	uint64_t retransmits;
	uint64_t nacks;		  /* NACKs followers sent */
	uint64_t nacks_ignored;	  /* of those, leaders ignored as repeats */
	uint64_t lease_stepdowns; /* leaders that stepped down for want of a lease */
	uint64_t client_timeouts; /* writes answered TIMEOUT */
	uint64_t history_resyncs; /* APPENDs whose prev was older than an epoch history */
	char policy[96];
};

const char *sim_fault_name(unsigned bit);
/* Parses "loss,dup,..." / "all" / "none" into *out; -1 on an unknown name. */
int sim_faults_parse(const char *s, uint32_t *out);

/* Runs one seed to the end. Returns 0; the result says whether anything broke. */
int sim_run(const struct sim_opts *o, struct sim_result *r);

/*
 * The same run in pieces, for scripted scenarios: sim_new() starts the cluster (node 1
 * leads after the first controller pass), sim_run_for() advances virtual time with the
 * faults of o->faults (0: only what the script does), sim_finish() heals everything,
 * waits for convergence, checks every acknowledged write and frees the simulation.
 */
struct sim;
struct sl_core_status;
struct sl_core_stats;
struct sl_client_req;
struct sl_client_resp;
struct sim *sim_new(const struct sim_opts *o, struct sim_result *r);
void sim_run_for(struct sim *s, uint64_t ns, bool clients);
void sim_finish(struct sim *s);
void sim_crash(struct sim *s, unsigned id);
void sim_restart(struct sim *s, unsigned id);
void sim_isolate(struct sim *s, unsigned id, bool on);
/* Cuts node id off from the controller only (its data links stay up), or heals that. */
void sim_ctl_cut(struct sim *s, unsigned id, bool on);
void sim_set_policy(struct sim *s, const struct sl_policy *p);
/* Node id receives the log but is not counted by the commit policy (nor promoted). */
void sim_set_learner(struct sim *s, unsigned id, bool on);
unsigned sim_leader(const struct sim *s);
void sim_node_status(struct sim *s, unsigned id, struct sl_core_status *st);
const struct sl_core_stats *sim_node_stats(struct sim *s, unsigned id);
uint64_t sim_node_digest(struct sim *s, unsigned id);
/* Sends one request from a scripted client to node and runs until its answer (0), or
 * -ETIMEDOUT after 50 ms of virtual time. */
int sim_request(struct sim *s, unsigned node, const struct sl_client_req *req, const char *key,
		const char *val, struct sl_client_resp *resp);

#endif
