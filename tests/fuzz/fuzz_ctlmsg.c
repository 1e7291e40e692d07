/*
 * libFuzzer target over the agent protocol's decoder (include/shiplog/control.h): the
 * input is one line from an agent or the controller. Whatever decodes must encode to a
 * line that decodes to the same message and encodes to the same bytes; a refusal must
 * leave the message untouched and say why in one bounded line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shiplog/control.h>

#include "fuzz.h"

#define ERR_MAX 256

/* -EINVAL, err terminated within cap, one printable line, not empty. */
static void check_refusal(int rc, const char *err, size_t cap)
{
	CHECK(rc == -EINVAL);
	CHECK(memchr(err, '\0', cap) != NULL);
	CHECK(err[0] != '\0');
	for (const char *p = err; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void check_round_trip(const struct sl_ctl_msg *m)
{
	static char line[SL_CTL_LINE_MAX + 1], again[SL_CTL_LINE_MAX + 1];
	static struct sl_ctl_msg back;
	char err[ERR_MAX];
	int n = sl_ctl_encode(m, line, sizeof(line)), n2;

	/* The canonical text may be longer than the input ("all" -> every option). */
	if (n == -ENOSPC) {
		CHECK(m->type == SL_CTL_MSG_REPORT);
		return;
	}
	CHECK(n > 0 && n <= (int)SL_CTL_LINE_MAX && strlen(line) == (size_t)n);
	CHECK(line[n - 1] == '\n' && memchr(line, '\n', (size_t)n - 1) == NULL);
	memset(&back, 0xa5, sizeof(back));
	CHECK(sl_ctl_decode(line, (size_t)n, &back, err, sizeof(err)) == 0);
	CHECK(err[0] == '\0');
	CHECK(memcmp(m, &back, sizeof(back)) == 0);
	n2 = sl_ctl_encode(&back, again, sizeof(again));
	CHECK(n2 == n && memcmp(line, again, (size_t)n) == 0);
	/* One byte short of the line, its newline and the NUL. */
	CHECK(sl_ctl_encode(m, again, (size_t)n) == -ENOSPC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_ctl_msg m, before;
	char *copy = malloc(size ? size : 1), err[ERR_MAX];
	int rc;

	CHECK(copy != NULL);
	memcpy(copy, data, size); /* exactly size bytes: ASan sees a read past them */
	memset(&m, 0x5a, sizeof(m));
	before = m;
	memset(err, 'x', sizeof(err));
	rc = sl_ctl_decode(copy, size, &m, err, sizeof(err));
	if (rc == 0) {
		CHECK(err[0] == '\0');
		CHECK(m.type >= SL_CTL_MSG_HELLO && m.type <= SL_CTL_MSG_BYE);
		check_round_trip(&m);
	} else {
		check_refusal(rc, err, sizeof(err));
		CHECK(memcmp(&m, &before, sizeof(m)) == 0);
		/* A small error buffer is still terminated, never overrun (ASan watches). */
		CHECK(sl_ctl_decode(copy, size, &m, err, 5) == rc);
		CHECK(strlen(err) <= 4);
		CHECK(sl_ctl_decode(copy, size, &m, NULL, 0) == rc);
	}
	free(copy);
	return 0;
}
