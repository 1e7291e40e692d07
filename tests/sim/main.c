/* shiplog-sim: runs seeds of the deterministic cluster simulator and reports violations. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "sim.h"

static const struct {
	const char *name;
	uint32_t bit;
	const char *what;
} bugs[] = {
	{ "commit-before-quorum", SL_BUG_COMMIT_BEFORE_QUORUM,
	  "the leader commits on its own durability, ignoring the policy" },
	{ "apply-past-commit", SL_BUG_APPLY_PAST_COMMIT,
	  "followers apply what they received, committed or not" },
	{ "accept-old-epoch", SL_BUG_ACCEPT_OLD_EPOCH,
	  "followers take frames from leaders of older epochs" },
	{ "skip-truncate", SL_BUG_SKIP_TRUNCATE,
	  "followers keep a divergent suffix instead of truncating it" },
};

static const char *fault_names[] = { "loss",	"dup",	 "reorder", "delay", "partition",
				     "isolate", "crash", "disk",    "policy" };

const char *sim_fault_name(unsigned bit)
{
	for (unsigned i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
		if (bit == 1u << i)
			return fault_names[i];
	return "unknown";
}

int sim_faults_parse(const char *s, uint32_t *out)
{
	char buf[256], *tok, *save = NULL;

	*out = 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		if (strcmp(tok, "all") == 0) {
			*out |= SIM_F_ALL;
			continue;
		}
		if (strcmp(tok, "none") == 0)
			continue;
		for (i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
			if (strcmp(tok, fault_names[i]) == 0)
				break;
		if (i == sizeof(fault_names) / sizeof(fault_names[0]))
			return -1;
		*out |= 1u << i;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shiplog-sim [--seeds A..B | --seed S [--trace]] [options]\n"
		"  --faults LIST      loss,dup,reorder,delay,partition,isolate,crash,disk,policy,\n"
		"                     all (default) or none\n"
		"  --nodes N          3..5 (default 3)\n"
		"  --policy TEXT      e.g. 'first 1 (n2,n3)'; default: each seed draws one\n"
		"  --duration-ms N    virtual time with faults per seed (default 300)\n"
		"  --clients N        1..8 (default 4)\n"
		"  --lease-ms N       leader lease for every seed, 0: off (default: 10 ms on\n"
		"                     even seeds, off on odd ones)\n"
		"  --client-timeout-ms N  writes not committed this long are answered TIMEOUT\n"
		"                     (default: the core's, 5 s)\n"
		"  --inject-bug NAME  enable a known bug (see --list-bugs)\n"
		"  --expect-violations  exit 0 only if a violation was found\n"
		"  --stop-at-first    stop after the first seed with a violation\n"
		"  --trace            print every event and action (with --seed)\n"
		"exit status: 0 with no violation, 1 with any, 2 on bad arguments\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

static int parse_seeds(const char *s, uint64_t *a, uint64_t *b)
{
	char tmp[64];
	char *dots = strstr(s, "..");

	if (!dots || strlen(s) >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, (size_t)(dots - s));
	tmp[dots - s] = 0;
	return parse_u64(tmp, a) || parse_u64(dots + 2, b) || *b < *a ? -1 : 0;
}

static int parse_bug(const char *name, uint32_t *bits)
{
	for (unsigned i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++) {
		if (strcmp(name, bugs[i].name) == 0) {
			*bits |= bugs[i].bit;
			return 0;
		}
	}
	return -1;
}

struct totals {
	uint64_t runs, bad_seeds, violations, acked, lost, reads, failovers, crashes, truncated;
	uint64_t reordered, retransmits, nacks, nacks_ignored, stepdowns, timeouts, resyncs;
};

static void report(uint64_t seed, const struct sim_result *r, struct totals *t)
{
	t->runs++;
	t->violations += r->violations;
	t->acked += r->acked_writes;
	t->lost += r->lost_writes;
	t->reads += r->reads_checked;
	t->failovers += r->failovers;
	t->crashes += r->crashes;
	t->truncated += r->truncated;
	t->reordered += r->reordered;
	t->retransmits += r->retransmits;
	t->nacks += r->nacks;
	t->nacks_ignored += r->nacks_ignored;
	t->stepdowns += r->lease_stepdowns;
	t->timeouts += r->client_timeouts;
	t->resyncs += r->history_resyncs;
	if (r->violations == 0)
		return;
	t->bad_seeds++;
	printf("seed %" PRIu64 ": %" PRIu64 " violation(s), first: %s [policy %s]\n", seed,
	       r->violations, r->first_violation, r->policy);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seeds", required_argument, 0, 's' },
		{ "seed", required_argument, 0, 'S' },
		{ "faults", required_argument, 0, 'f' },
		{ "nodes", required_argument, 0, 'n' },
		{ "policy", required_argument, 0, 'p' },
		{ "trace", no_argument, 0, 't' },
		{ "inject-bug", required_argument, 0, 'b' },
		{ "list-bugs", no_argument, 0, 'l' },
		{ "duration-ms", required_argument, 0, 'd' },
		{ "clients", required_argument, 0, 'c' },
		{ "lease-ms", required_argument, 0, 'L' },
		{ "client-timeout-ms", required_argument, 0, 'T' },
		{ "expect-violations", no_argument, 0, 'e' },
		{ "stop-at-first", no_argument, 0, '1' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct sim_opts o = {
		.nodes = 3, .faults = SIM_F_ALL, .duration_ns = 300000000, .clients = 4
	};
	/* Half the seeds run with a lease shorter than the controller's failure timeout
	 * (20 ms), as deployments must; the seed decides, the random stream is untouched. */
	int64_t lease_ms = -1;
	uint64_t a = 1, b = 100, v;
	bool trace = false, expect = false, stop = false;
	struct totals t = { 0 };
	char err[128];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_seeds(optarg, &a, &b))
				goto bad;
			break;
		case 'S':
			if (parse_u64(optarg, &a))
				goto bad;
			b = a;
			break;
		case 'f':
			if (sim_faults_parse(optarg, &o.faults))
				goto bad;
			break;
		case 'n':
			if (parse_u64(optarg, &v) || v < 3 || v > 5)
				goto bad;
			o.nodes = (unsigned)v;
			break;
		case 'p':
			if (sl_policy_parse(optarg, strlen(optarg), &o.policy, err, sizeof(err))) {
				fprintf(stderr, "shiplog-sim: --policy: %s\n", err);
				return 2;
			}
			o.policy_given = true;
			break;
		case 't':
			trace = true;
			break;
		case 'b':
			if (parse_bug(optarg, &o.bugs))
				goto bad;
			break;
		case 'l':
			for (unsigned i = 0; i < sizeof(bugs) / sizeof(bugs[0]); i++)
				printf("%-22s %s\n", bugs[i].name, bugs[i].what);
			return 0;
		case 'd':
			if (parse_u64(optarg, &v) || v < 1 || v > 100000)
				goto bad;
			o.duration_ns = v * 1000000;
			break;
		case 'c':
			if (parse_u64(optarg, &v) || v < 1 || v > 8)
				goto bad;
			o.clients = (unsigned)v;
			break;
		case 'L':
			if (parse_u64(optarg, &v) || v > 100000)
				goto bad;
			lease_ms = (int64_t)v;
			break;
		case 'T':
			if (parse_u64(optarg, &v) || v < 1 || v > 100000)
				goto bad;
			o.client_timeout_ns = v * 1000000;
			break;
		case 'e':
			expect = true;
			break;
		case '1':
			stop = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || (trace && a != b))
		goto bad;
	for (uint64_t seed = a; seed <= b; seed++) {
		struct sim_result r;

		o.seed = seed;
		o.lease_ns = lease_ms >= 0 ? (uint64_t)lease_ms * 1000000 : seed % 2 ? 0 : 10000000;
		o.trace = trace ? stdout : NULL;
		sim_run(&o, &r);
		report(seed, &r, &t);
		if (trace)
			printf("seed %" PRIu64 ": policy %s, commit %" PRIu64 ", acked %" PRIu64
			       ", lost %" PRIu64 ", failovers %" PRIu64 ", crashes %" PRIu64
			       ", frames %" PRIu64 ", rejected %" PRIu64 "\n",
			       seed, r.policy, r.commit_lsn, r.acked_writes, r.lost_writes,
			       r.failovers, r.crashes, r.frames, r.rejected);
		if (stop && r.violations)
			break;
	}
	printf("sim: seeds %" PRIu64 "..%" PRIu64 ", %" PRIu64 " runs, %" PRIu64
	       " violations in %" PRIu64 " seeds; acked writes %" PRIu64
	       ", lost under async %" PRIu64 ", reads checked %" PRIu64 ", failovers %" PRIu64
	       ", crashes %" PRIu64 ", records truncated %" PRIu64
	       ", frames held for reordering %" PRIu64 ", retransmissions %" PRIu64
	       ", NACKs %" PRIu64 " (%" PRIu64 " ignored as repeats), lease step-downs %" PRIu64
	       ", client timeouts %" PRIu64 ", resyncs past the epoch history %" PRIu64 "\n",
	       a, b, t.runs, t.violations, t.bad_seeds, t.acked, t.lost, t.reads, t.failovers,
	       t.crashes, t.truncated, t.reordered, t.retransmits, t.nacks, t.nacks_ignored,
	       t.stepdowns, t.timeouts, t.resyncs);
	if (expect)
		return t.violations ? 0 : 1;
	return t.violations ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
