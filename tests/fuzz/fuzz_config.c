/*
 * libFuzzer target over shiplogd's configuration. The input is read twice:
 *
 *   - as a file's text (up to its first NUL): whatever loads must format to a file that
 *     loads back to the same settings and formats to the same text, and passes
 *     cfg_check exactly when the original does; a refusal must leave the configuration
 *     untouched and a one-line, bounded error;
 *   - split at NULs into section, key and value for cfg_set (and name, value for
 *     cfg_set_option), applied to a valid configuration, with the same properties.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

/* A configuration that passes cfg_check, for cfg_set to change. */
static const char base_text[] = "[node]\n"
				"id = 1\n"
				"data_dir = /var/lib/shiplog\n"
				"port = net_memif0\n"
				"port = net_memif1\n"
				"ip = 10.0.0.1\n"
				"[cluster]\n"
				"id = 7\n"
				"role = leader\n"
				"leader = 1\n"
				"policy = any 1 (n2, n3)\n"
				"peer = 2 10.0.0.2 02:00:00:00:00:02\n"
				"peer = 3 10.0.0.3 port=1\n";

/* A refusal: -EINVAL, err terminated within cap, one line, not empty. */
static void check_refusal(int rc, const char *err, size_t cap)
{
	CHECK(rc == -EINVAL);
	CHECK(memchr(err, '\0', cap) != NULL);
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
}

static void check_round_trip(const struct cfg *c)
{
	static char text[CFG_TEXT_MAX], again[CFG_TEXT_MAX];
	char err[CFG_ERR_MAX];
	struct cfg d;
	size_t n = cfg_format(c, text, sizeof(text));
	int checked = cfg_check(c, err, sizeof(err));

	CHECK(n > 0 && n < sizeof(text) && strlen(text) == n);
	CHECK(cfg_format(c, again, n) == 0);
	cfg_default(&d);
	CHECK(cfg_load_string(&d, text, err, sizeof(err)) == 0);
	CHECK(cfg_equal(c, &d));
	CHECK(cfg_format(&d, again, sizeof(again)) == n && memcmp(text, again, n + 1) == 0);
	CHECK(cfg_check(&d, err, sizeof(err)) == checked);
	if (checked != 0)
		check_refusal(checked, err, sizeof(err));
}

static void fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[CFG_ERR_MAX];
	struct cfg c, before;
	int rc;

	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	cfg_default(&c);
	before = c;
	memset(err, 'x', sizeof(err));
	rc = cfg_load_string(&c, text, err, sizeof(err));
	if (rc == 0) {
		CHECK(err[0] == '\0');
		check_round_trip(&c);
	} else {
		check_refusal(rc, err, sizeof(err));
		CHECK(strncmp(err, "<text>:", 7) == 0);
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
		/* A small error buffer is still terminated, never overrun (ASan watches). */
		CHECK(cfg_load_string(&c, text, err, 5) == rc);
		CHECK(strlen(err) <= 4);
		CHECK(cfg_load_string(&c, text, NULL, 0) == rc);
	}
	free(text);
}

/* section \0 key \0 value: cfg_set; name \0 value: cfg_set_option. */
static void fuzz_set(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *key, *value, err[CFG_ERR_MAX];
	struct cfg c, before;
	int rc;

	CHECK(buf != NULL);
	memcpy(buf, data, size);
	buf[size] = '\0';
	key = memchr(buf, '\0', size + 1);
	if (key == buf + size)
		goto out_free;
	key++;
	value = key + strlen(key);
	value += value < buf + size;
	cfg_default(&c);
	CHECK(cfg_load_string(&c, base_text, err, sizeof(err)) == 0);
	CHECK(cfg_check(&c, err, sizeof(err)) == 0);
	before = c;
	rc = cfg_set(&c, buf, key, value, err, sizeof(err));
	if (rc == 0)
		check_round_trip(&c);
	else
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	if (rc != 0)
		check_refusal(rc, err, sizeof(err));
	c = before;
	rc = cfg_set_option(&c, buf, key, err, sizeof(err));
	if (rc == 0)
		check_round_trip(&c);
	else
		check_refusal(rc, err, sizeof(err));
	if (rc != 0)
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
out_free:
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_text(data, size);
	fuzz_set(data, size);
	return 0;
}
