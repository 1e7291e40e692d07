/* What shiplog-bench and shiplog-bench-dpdk share: option parsing, leader choice, report. */
#ifndef SHIPLOG_PERF_BENCHLIB_H
#define SHIPLOG_PERF_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>

/* A run's outcome as both tools report it; latencies in microseconds. */
struct bench_result {
	uint64_t acked, failed, retransmits, not_leader, busy, ignored;
	double seconds;
	double p50_us, p90_us, p99_us, p999_us, max_us;
	int us_decimals; /* digits after the point of the latencies printed */
};

/* A decimal in [min, max] into *out: 0 or -EINVAL (signs, junk and overflow refused). */
int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * The server to ask after a NOT_LEADER answer: the index of the node hint names, or the
 * one after leader when hint is none of them. node_id0 points at the first server's node
 * id, the n servers lie stride bytes apart (each tool keeps its own server struct).
 */
unsigned bench_leader_after(const uint16_t *node_id0, size_t stride, unsigned n, unsigned leader,
			    uint16_t hint);

/* Sorts the n latencies (in units of unit_hz per second) and fills r's percentiles. */
void bench_latencies(uint64_t *lat, uint64_t n, double unit_hz, struct bench_result *r);

/*
 * The two text lines both tools start their report with:
 *   "<done> N, failed N in S s: R<per_s>"  and  "latency us: p50 ... max ...".
 */
void bench_print_text(const struct bench_result *r, const char *done, const char *per_s);

/* The JSON members both tools print, "acked" through "ignored", with no braces or commas
 * around them: the caller adds its own. */
void bench_print_json(const struct bench_result *r);

#endif
