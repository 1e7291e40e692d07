/*
 * libFuzzer target over the commit policy text (the body of CONFIG records). Beyond "no
 * crash, no sanitizer report", a policy that parses must format to text that parses
 * back to the identical struct and formats identically again, and a refusal must leave
 * a one-line reason. The same bytes are also read as a raw struct sl_policy: whatever
 * sl_policy_valid() accepts must survive format and parse unchanged, and nothing else
 * may format.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/policy.h>

#include "fuzz.h"

/* format(p) parses back to p, and formatting that gives the same text. */
static void check_round_trip(const struct sl_policy *p)
{
	char text[SL_POLICY_TEXT_MAX], again[SL_POLICY_TEXT_MAX], err[128];
	struct sl_policy q;
	size_t n, m;

	CHECK(sl_policy_valid(p));
	n = sl_policy_format(p, text, sizeof(text));
	CHECK(n > 0 && n < sizeof(text) && text[n] == '\0' && strlen(text) == n);
	CHECK(sl_policy_format(p, again, n) == 0);
	CHECK(sl_policy_parse(text, n, &q, err, sizeof(err)) == 0);
	CHECK(memcmp(p, &q, sizeof(q)) == 0);
	m = sl_policy_format(&q, again, sizeof(again));
	CHECK(m == n && memcmp(text, again, n + 1) == 0);
}

static void fuzz_text(const uint8_t *data, size_t size)
{
	struct sl_policy p, before;
	char err[96];
	int rc;

	memset(&p, 0xa5, sizeof(p));
	before = p;
	memset(err, 'x', sizeof(err));
	rc = sl_policy_parse((const char *)data, size, &p, err, sizeof(err));
	if (rc == 0) {
		CHECK(err[0] == '\0');
		check_round_trip(&p);
		return;
	}
	CHECK(rc == -EINVAL);
	CHECK(memcmp(&p, &before, sizeof(p)) == 0);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	/* A small error buffer is still terminated, never overrun (ASan watches it). */
	CHECK(sl_policy_parse((const char *)data, size, &p, err, 5) == -EINVAL);
	CHECK(strlen(err) <= 4);
}

static void fuzz_struct(const uint8_t *data, size_t size)
{
	char text[SL_POLICY_TEXT_MAX];
	struct sl_policy p;

	if (size < sizeof(p))
		return;
	memcpy(&p, data, sizeof(p));
	if (sl_policy_valid(&p))
		check_round_trip(&p);
	else
		CHECK(sl_policy_format(&p, text, sizeof(text)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_text(data, size);
	fuzz_struct(data, size);
	return 0;
}
