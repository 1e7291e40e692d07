/*
 * libFuzzer target over the controller's admin request decoder (control/admin.h). For
 * any bytes: a known code with a bounded one-line reason; the envelope holds before the
 * token is trusted; a token is 1..SL_CTL_TOKEN_MAX-1 bytes, zero-padded (compared
 * whole); a privileged request that decodes carries its ctlcore operation; decoding is
 * deterministic; the name and args kept for the audit are printable and terminated.
 */
#include <stdint.h>
#include <string.h>

#include "admin.h"
#include "fuzz.h"

static void check_text(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);

	CHECK(end != NULL);
	for (; s < end; s++)
		CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctl_admin_req r, again;
	unsigned code = ctl_admin_decode((const char *)data, size, &r);
	size_t tlen = strnlen(r.token, sizeof(r.token));

	CHECK(code < CTL_ADMIN__CODES && code == r.code);
	CHECK(code == CTL_ADMIN_OK || code == CTL_ADMIN_BAD_REQUEST ||
	      code == CTL_ADMIN_UNKNOWN_COMMAND);
	CHECK(r.cmd < CTL_ADM__MAX);
	check_text(r.error, sizeof(r.error));
	check_text(r.cmd_name, sizeof(r.cmd_name));
	CHECK(memchr(r.args, '\0', sizeof(r.args)) != NULL);
	CHECK((code == CTL_ADMIN_OK) == (r.error[0] == '\0'));
	if (code == CTL_ADMIN_OK || code == CTL_ADMIN_UNKNOWN_COMMAND)
		CHECK(r.envelope_ok);
	if (code == CTL_ADMIN_OK)
		CHECK(r.cmd != CTL_ADM_NONE);
	if (code == CTL_ADMIN_UNKNOWN_COMMAND)
		CHECK(r.cmd == CTL_ADM_NONE);
	CHECK(tlen < SL_CTL_TOKEN_MAX);
	CHECK(r.has_token == (tlen > 0));
	for (size_t i = tlen; i < sizeof(r.token); i++)
		CHECK(r.token[i] == '\0');
	if (!r.envelope_ok)
		CHECK(!r.has_token);
	if (code == CTL_ADMIN_OK && ctl_admin_cmd_privileged(r.cmd)) {
		CHECK(r.op.op >= CTL_OP_FAILOVER && r.op.op <= CTL_OP_SNAPSHOT);
		CHECK(r.op.node <= SL_NODE_MAX);
		/* snapshot's node 0 is "all" */
		if (r.op.op != CTL_OP_FAILOVER && r.op.op != CTL_OP_SET_POLICY &&
		    r.op.op != CTL_OP_SNAPSHOT)
			CHECK(r.op.node >= 1);
		CHECK(r.op.connected == 0); /* the controller's to fill, never the request's */
		if (r.op.op == CTL_OP_SET_POLICY)
			CHECK(sl_policy_valid(&r.op.policy));
	}
	if (code == CTL_ADMIN_OK && r.cmd == CTL_ADM_EVENTS)
		CHECK(r.limit >= 1 && r.limit <= CTL_EVENTS_KEEP);
	CHECK(ctl_admin_decode((const char *)data, size, &again) == code);
	CHECK(memcmp(&r, &again, sizeof(r)) == 0);
	return 0;
}
