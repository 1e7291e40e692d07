/* Names of roles and control commands (include/shiplog/control.h). */
#include <string.h>

#include <shiplog/control.h>

static const char *const role_names[] = { "fenced", "follower", "learner", "leader" };

static const char *const cmd_names[SL_CTL__MAX] = {
	[SL_CTL_PROMOTE] = "promote",
	[SL_CTL_FOLLOW] = "follow",
	[SL_CTL_FENCE] = "fence",
	[SL_CTL_SET_POLICY] = "set_policy",
	[SL_CTL_SET_LEARNER] = "set_learner",
	[SL_CTL_PAUSE] = "pause",
	[SL_CTL_RENEW] = "renew",
	[SL_CTL_ADD_PEER] = "add_peer",
	[SL_CTL_REMOVE_PEER] = "remove_peer",
	[SL_CTL_SNAPSHOT] = "snapshot",
};

const char *sl_role_name(unsigned role)
{
	return role < sizeof(role_names) / sizeof(role_names[0]) ? role_names[role] : "unknown";
}

int sl_role_parse(const char *name)
{
	for (unsigned i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(name, role_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *sl_control_cmd_name(unsigned cmd)
{
	return cmd < SL_CTL__MAX && cmd_names[cmd] ? cmd_names[cmd] : "unknown";
}

int sl_control_cmd_parse(const char *name)
{
	for (unsigned i = 1; i < SL_CTL__MAX; i++)
		if (strcmp(name, cmd_names[i]) == 0)
			return (int)i;
	return -1;
}
