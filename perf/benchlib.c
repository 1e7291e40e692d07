/* What shiplog-bench and shiplog-bench-dpdk share: option parsing, leader choice, report. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "benchlib.h"

int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

unsigned bench_leader_after(const uint16_t *node_id0, size_t stride, unsigned n, unsigned leader,
			    uint16_t hint)
{
	const char *id = (const char *)node_id0;

	assert(n > 0 && leader < n);
	for (unsigned i = 0; i < n; i++, id += stride)
		if (*(const uint16_t *)id == hint)
			return i;
	return (leader + 1) % n;
}

static int bench_cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The p-th percentile (nearest rank on the sorted samples), in microseconds. */
static double bench_pct_us(const uint64_t *sorted, uint64_t n, double unit_hz, double p)
{
	uint64_t i;

	if (n == 0)
		return 0;
	i = (uint64_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)sorted[i] * 1e6 / unit_hz;
}

void bench_latencies(uint64_t *lat, uint64_t n, double unit_hz, struct bench_result *r)
{
	qsort(lat, n, sizeof(lat[0]), bench_cmp_u64);
	r->p50_us = bench_pct_us(lat, n, unit_hz, 50);
	r->p90_us = bench_pct_us(lat, n, unit_hz, 90);
	r->p99_us = bench_pct_us(lat, n, unit_hz, 99);
	r->p999_us = bench_pct_us(lat, n, unit_hz, 99.9);
	r->max_us = bench_pct_us(lat, n, unit_hz, 100);
}

static double bench_ops_per_s(const struct bench_result *r)
{
	return r->seconds > 0 ? (double)r->acked / r->seconds : 0;
}

void bench_print_text(const struct bench_result *r, const char *done, const char *per_s)
{
	int d = r->us_decimals;

	printf("%s %" PRIu64 ", failed %" PRIu64 " in %.2f s: %.0f%s\n", done, r->acked, r->failed,
	       r->seconds, bench_ops_per_s(r), per_s);
	printf("latency us: p50 %.*f  p90 %.*f  p99 %.*f  p99.9 %.*f  max %.*f\n", d, r->p50_us, d,
	       r->p90_us, d, r->p99_us, d, r->p999_us, d, r->max_us);
}

void bench_print_json(const struct bench_result *r)
{
	int d = r->us_decimals;

	printf("\"acked\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"seconds\":%.3f,\"ops_per_s\":%.1f,"
	       "\"p50_us\":%.*f,\"p90_us\":%.*f,\"p99_us\":%.*f,\"p999_us\":%.*f,\"max_us\":%.*f,"
	       "\"retransmits\":%" PRIu64 ",\"not_leader\":%" PRIu64 ",\"busy\":%" PRIu64
	       ",\"ignored\":%" PRIu64,
	       r->acked, r->failed, r->seconds, bench_ops_per_s(r), d, r->p50_us, d, r->p90_us, d,
	       r->p99_us, d, r->p999_us, d, r->max_us, r->retransmits, r->not_leader, r->busy,
	       r->ignored);
}
