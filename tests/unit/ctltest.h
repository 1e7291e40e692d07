/*
 * Helpers shared by the control plane's unit tests (test_ctladmin.c, test_ctlcore.c,
 * test_ctlmetrics.c, test_ctlmsg.c, test_ctlstore.c). Include after cmocka.h.
 */
#ifndef SHIPLOG_CTLTEST_H
#define SHIPLOG_CTLTEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shiplog/control.h"

/*
 * A report of node (cluster cluster_id) in role at epoch, its log at lsn everywhere
 * (last, flushed, applied, commit), node 1 the leader; a follower heard its leader
 * follower_age_ns ago, the leader reports UINT64_MAX (no leader to hear).
 */
/* The policy text names, or the test fails saying why not. */
static inline struct sl_policy policy_of(const char *text)
{
	struct sl_policy p;
	char err[128];

	if (sl_policy_parse(text, strlen(text), &p, err, sizeof(err)) != 0)
		fail_msg("policy '%s': %s", text, err);
	return p;
}

static inline struct sl_node_report ctltest_report(uint32_t cluster_id, unsigned node,
						   unsigned role, unsigned epoch, uint64_t lsn,
						   uint64_t follower_age_ns)
{
	struct sl_node_report r;

	memset(&r, 0, sizeof(r));
	r.node = (uint16_t)node;
	r.cluster_id = cluster_id;
	r.seq = 1;
	r.may_lead = true;
	snprintf(r.data_addr, sizeof(r.data_addr), "10.77.0.%u:7400", node);
	r.st.role = (uint8_t)role;
	r.st.epoch = epoch;
	r.st.leader = 1;
	r.st.last_epoch = epoch;
	r.st.last_lsn = r.st.flushed_lsn = r.st.applied_lsn = r.st.commit_lsn = lsn;
	r.st.leader_age_ns = role == SL_ROLE_LEADER ? UINT64_MAX : follower_age_ns;
	r.st.policy = sl_policy_default();
	return r;
}

#endif
