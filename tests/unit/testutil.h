/* Helpers shared by the unit tests: a seeded PRNG whose seed every failure names. */
#ifndef SHIPLOG_TESTUTIL_H
#define SHIPLOG_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* SHIPLOG_SEED=N reproduces a run; the default is fixed so runs are repeatable. */
static inline uint64_t test_seed(void)
{
	const char *s = getenv("SHIPLOG_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed5eedull;

	return seed ? seed : 1;
}

/* xorshift64*: tiny, deterministic, good enough for test data. */
static inline uint64_t test_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

#endif
