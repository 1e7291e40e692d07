/*
 * libFuzzer target over the controller's state file decoder (control/store.h). The
 * input is decoded without its CRC (a fuzzer forges none) and with it. Whatever
 * decodes is consistent, encodes to a file that decodes back to the same state (CRC
 * checked), and encodes the same way twice; a refusal is -EINVAL with a one-line reason.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "store.h"

static void check_refusal(int rc, const char *err, size_t cap)
{
	CHECK(rc == -EINVAL);
	CHECK(memchr(err, '\0', cap) != NULL);
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
}

static void check_state(const struct ctl_state *st)
{
	static char text[CTL_STATE_TEXT_MAX], again[CTL_STATE_TEXT_MAX];
	struct ctl_state back;
	char err[256];
	size_t n;

	CHECK(ctl_state_check(st, err, sizeof(err)) == 0);
	n = ctl_state_encode(st, text, sizeof(text));
	CHECK(n > 0 && n == strlen(text));
	CHECK(ctl_state_decode(text, n, &back, 0, err, sizeof(err)) == 0);
	CHECK(ctl_state_equal(st, &back));
	CHECK(ctl_state_encode(&back, again, sizeof(again)) == n);
	CHECK(memcmp(text, again, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_state st, crc_st;
	char err[256];
	int rc, crc_rc;

	memset(err, 'x', sizeof(err));
	rc = ctl_state_decode((const char *)data, size, &st, CTL_STATE_NO_CRC, err, sizeof(err));
	if (rc == 0)
		check_state(&st);
	else
		check_refusal(rc, err, sizeof(err));
	crc_rc = ctl_state_decode((const char *)data, size, &crc_st, 0, err, sizeof(err));
	if (crc_rc == 0) {
		CHECK(rc == 0); /* the CRC only takes away */
		CHECK(ctl_state_equal(&st, &crc_st));
	} else {
		check_refusal(crc_rc, err, sizeof(err));
	}
	/* A tiny error buffer is terminated, never overrun. */
	if (rc != 0) {
		CHECK(ctl_state_decode((const char *)data, size, &st, CTL_STATE_NO_CRC, err, 3) ==
		      rc);
		CHECK(strlen(err) <= 2);
		CHECK(ctl_state_decode((const char *)data, size, &st, CTL_STATE_NO_CRC, NULL, 0) ==
		      rc);
	}
	return 0;
}
