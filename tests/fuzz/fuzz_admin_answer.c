/*
 * libFuzzer target over the controller's admin answers as shiplogctl reads them
 * (tools/admin.c): one line from a controller that is not trusted. Beyond "no crash, no
 * sanitizer report": an answer that parses has a result object exactly when it is ok,
 * its strings are terminated and free of control characters, and a refusal of the line
 * leaves a one-line reason; every view prints any result object without failing. A
 * line that is a JSON object goes through the views as a result too, and the same
 * bytes are read as a --controller address.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin.h"
#include "fuzz.h"

#define ADDR_IN_MAX 512

/* Views write here: what they print is not checked, only that they can. */
static FILE *sink(void)
{
	static FILE *f;

	if (f == NULL)
		f = fopen("/dev/null", "w");
	CHECK(f != NULL);
	return f;
}

/* Terminated within cap, and nothing a terminal would act on. */
static void check_clean(const char *s, size_t cap)
{
	const char *nul = memchr(s, '\0', cap);

	CHECK(nul != NULL);
	for (const char *p = s; p < nul; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void check_views(const json_t *result)
{
	FILE *f = sink();

	CHECK(admin_print_status(f, result) == 0);
	CHECK(admin_print_members(f, result) == 0);
	CHECK(admin_print_events(f, result) == 0);
	CHECK(admin_print_ok(f, result) == 0);
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
	char err[ADMIN_ERR_MAX];
	struct admin_answer a;
	int rc;

	memset(err, 'x', sizeof(err));
	rc = admin_answer_parse((const char *)data, size, &a, err, sizeof(err));
	if (rc != 0) {
		CHECK(rc == -EPROTO || rc == -ENOMEM);
		CHECK(!a.ok && a.result == NULL);
		check_clean(err, sizeof(err));
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(err[0] == '\0');
	check_clean(a.code_name, sizeof(a.code_name));
	check_clean(a.error, sizeof(a.error));
	if (a.ok) {
		CHECK(json_is_object(a.result));
		CHECK(a.code == ADMIN_CODE_NONE && a.code_name[0] == '\0' && a.error[0] == '\0');
		check_views(a.result);
	} else {
		CHECK(a.result == NULL && a.code != ADMIN_CODE_NONE && a.code_name[0] != '\0');
		/* A code this build knows is named as it was received. */
		CHECK(a.code == ADMIN_CODE_OTHER || !strcmp(admin_code_name(a.code), a.code_name));
	}
	admin_answer_clear(&a);
	CHECK(a.result == NULL);
}

/* Any JSON object as a result: the views must not rely on the controller's shape. */
static void fuzz_views(const uint8_t *data, size_t size)
{
	json_t *o = json_loadb((const char *)data, size, 0, NULL);

	if (json_is_object(o))
		check_views(o);
	json_decref(o);
}

static void fuzz_addr(const uint8_t *data, size_t size)
{
	char s[ADDR_IN_MAX + 1], err[ADMIN_ERR_MAX];
	struct admin_addr a;
	size_t n = size < ADDR_IN_MAX ? size : ADDR_IN_MAX;
	int rc;

	memcpy(s, data, n);
	s[n] = '\0';
	rc = admin_addr_parse(s, &a, err, sizeof(err));
	if (rc != 0) {
		CHECK(rc == -EINVAL);
		check_clean(err, sizeof(err));
		CHECK(err[0] != '\0');
		return;
	}
	if (a.is_unix) {
		CHECK(a.path[0] != '\0' && memchr(a.path, '\0', sizeof(a.path)) != NULL);
		return;
	}
	CHECK(a.host[0] != '\0' && memchr(a.host, '\0', sizeof(a.host)) != NULL);
	for (const char *p = a.host; *p; p++)
		CHECK((unsigned char)*p > ' ' && *p != 0x7f);
	CHECK(atoi(a.port) >= 1 && atoi(a.port) <= 65535);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_answer(data, size);
	fuzz_views(data, size);
	fuzz_addr(data, size);
	return 0;
}
