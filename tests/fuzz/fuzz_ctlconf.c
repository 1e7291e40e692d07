/*
 * libFuzzer target over shiplog-controller's configuration (control/ctlconf.h). The
 * input is read as a file's text (up to its first NUL) and, split at NULs, as an
 * option name and value applied to a good configuration. A refusal leaves the
 * configuration untouched with a bounded one-line error; what loads either finishes
 * or is refused the same way, and finishing fills the derived defaults.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlconf.h"
#include "fuzz.h"

static const char base_text[] = "[controller]\n"
				"cluster_id = 7\n"
				"members = 1,2,3,4\n"
				"learners = 4\n"
				"policy = first 1 (2,3)\n"
				"state_dir = /var/lib/shiplog-controller\n"
				"agent_listen = 127.0.0.1:7410\n";

static void check_refusal(int rc, const char *err, size_t cap)
{
	CHECK(rc == -EINVAL || rc == -ENOENT || rc == -EACCES);
	CHECK(memchr(err, '\0', cap) != NULL);
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
}

static void check_finish(struct ctlconf *c)
{
	char err[CTLCONF_ERR_MAX];
	int rc = ctlconf_finish(c, err, sizeof(err));

	if (rc != 0) {
		check_refusal(rc, err, sizeof(err));
		CHECK(strncmp(err, "controller.", 11) == 0);
		return;
	}
	CHECK(c->cluster_id != 0 && c->members != 0 && c->state_dir[0] == '/');
	CHECK(c->preferred_leader >= 1 && (c->members >> (c->preferred_leader - 1)) & 1);
	CHECK(((c->learners >> (c->preferred_leader - 1)) & 1) == 0);
	CHECK((c->learners & ~c->members) == 0 && (c->spares & c->members) == 0);
	CHECK(c->admin_socket_set && strlen(c->admin_socket) <= CTLCONF_SUN_PATH_MAX);
	CHECK(sl_policy_valid(&c->policy));
}

static void fuzz_text(const uint8_t *data, size_t size)
{
	static struct ctlconf c, before;
	char *text = malloc(size + 1), err[CTLCONF_ERR_MAX];
	int rc;

	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	ctlconf_default(&c);
	before = c;
	rc = ctlconf_load_string(&c, text, err, sizeof(err));
	if (rc == 0) {
		CHECK(err[0] == '\0');
		check_finish(&c);
	} else {
		check_refusal(rc, err, sizeof(err));
		CHECK(strncmp(err, "<text>:", 7) == 0);
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
		CHECK(ctlconf_load_string(&c, text, err, 4) == rc && strlen(err) <= 3);
	}
	free(text);
}

/* name \0 value */
static void fuzz_option(const uint8_t *data, size_t size)
{
	static struct ctlconf c, before;
	char *buf = malloc(size + 1), *value, err[CTLCONF_ERR_MAX];
	int rc;

	CHECK(buf != NULL);
	memcpy(buf, data, size);
	buf[size] = '\0';
	value = memchr(buf, '\0', size + 1);
	value += value < buf + size;
	ctlconf_default(&c);
	CHECK(ctlconf_load_string(&c, base_text, err, sizeof(err)) == 0);
	before = c;
	rc = ctlconf_set_option(&c, buf, value, err, sizeof(err));
	if (rc == 0) {
		check_finish(&c);
	} else {
		check_refusal(rc, err, sizeof(err));
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_text(data, size);
	fuzz_option(data, size);
	return 0;
}
