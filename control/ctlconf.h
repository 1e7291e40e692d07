/* shiplog-controller's configuration: the [controller] INI section, overrides, checks. */
#ifndef SHIPLOG_CTLCONF_H
#define SHIPLOG_CTLCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <shiplog/control.h>
#include <shiplog/policy.h>

#include "ctlcore.h"

/*
 * The file is INI (inih), one section [controller], in the manner of shiplogd's
 * (dataplane/config.h): '#' or ';' comments at the start of a line, " ;" ends a value.
 * Every key is also settable as --controller.KEY=VALUE, applied after the file.
 *
 *   cluster_id              required, 1..2^32-1
 *   members                 required: node ids 1..64, "1,2,3" (blanks allowed)
 *   learners                a subset of members, not counted and never promoted
 *   spares                  ids that are not members but may connect (add-node later)
 *   preferred_leader        a non-learner member; default the lowest
 *   policy                  sl_policy_parse text; default "all"
 *   failure_timeout_ms      10..600000, default 1000
 *   switchover_timeout_ms   10..3600000, default 5000
 *   max_lag_on_failover     records, default 0
 *   learner_catchup_records default 1000
 *   state_dir               required, absolute: state.json, events.jsonl, audit.jsonl
 *   agent_listen            host:port (IPv4 or [IPv6]), default 0.0.0.0:7410; port 0:
 *                           any free port (the start-up line says which)
 *   admin_socket            absolute path; default CTLCONF_ADMIN_SOCKET, shiplogctl's
 *                           default (the controller makes a missing folder, 0755;
 *                           the socket is 0660); "" none
 *   admin_listen            host:port; "" none (the default)
 *   metrics_listen          host:port of the Prometheus endpoint (GET /metrics, plain
 *                           HTTP, no token: bind it to a management address); port 0
 *                           as for agent_listen; "" none (the default)
 *   admin_token_file, operator_token_file, agent_token_file
 *                           one token per file (1..127 printable bytes, no blank; a
 *                           trailing newline is ignored)
 *
 * Unknown sections or keys, values out of range and repeated keys are errors. Errors
 * say "FILE:LINE: controller.KEY: reason" and never quote a value.
 */

#define CTLCONF_ERR_MAX	       256u
#define CTLCONF_LINE_MAX       198u /* bytes on a line, '\n' not counted */
#define CTLCONF_VALUE_MAX      176u
#define CTLCONF_PATH_MAX       (CTLCONF_VALUE_MAX + 1u)
#define CTLCONF_SUN_PATH_MAX   107u /* sun_path less its NUL */
#define CTLCONF_FILE_MAX       (1u << 20)
#define CTLCONF_TOKEN_FILE_MAX 4096u
#define CTLCONF_ADDR_TEXT_MAX  64u
#define CTLCONF_ADMIN_SOCKET   "/run/shiplog/controller.sock"

struct ctlconf_addr {
	bool set; /* false: none */
	socklen_t len;
	struct sockaddr_storage sa;
	char text[CTLCONF_ADDR_TEXT_MAX]; /* as configured, for the logs */
};

struct ctlconf {
	uint32_t cluster_id;
	uint64_t members;	   /* bit id-1 */
	uint64_t learners;	   /* a subset of members */
	uint64_t spares;	   /* disjoint from members */
	uint16_t preferred_leader; /* 0 until ctlconf_finish: the lowest non-learner */
	struct sl_policy policy;
	uint32_t failure_timeout_ms;
	uint32_t switchover_timeout_ms;
	uint64_t max_lag_on_failover;
	uint64_t learner_catchup_records;
	char state_dir[CTLCONF_PATH_MAX];
	bool admin_socket_set; /* false: CTLCONF_ADMIN_SOCKET once finished */
	char admin_socket[CTLCONF_PATH_MAX + 16];
	struct ctlconf_addr agent_listen;
	struct ctlconf_addr admin_listen;
	struct ctlconf_addr metrics_listen;
	char admin_token[SL_CTL_TOKEN_MAX]; /* "" none */
	char operator_token[SL_CTL_TOKEN_MAX];
	char agent_token[SL_CTL_TOKEN_MAX];
	uint32_t seen; /* which keys a file set: a second line is an error */
};

void ctlconf_default(struct ctlconf *c);

/* One key. 0, or -EINVAL with "controller.KEY: reason" in err; *c unchanged then. */
int ctlconf_set(struct ctlconf *c, const char *key, const char *value, char *err, size_t err_len);

/* "controller.KEY" (an option without its dashes) and its value. */
int ctlconf_set_option(struct ctlconf *c, const char *name, const char *value, char *err,
		       size_t err_len);

/* A whole file, or a text in the same format ("<text>" in errors). *c unchanged on error.
 * 0; -EINVAL for the content; -errno when the file cannot be read; -EFBIG too large. */
int ctlconf_load_file(struct ctlconf *c, const char *path, char *err, size_t err_len);
int ctlconf_load_string(struct ctlconf *c, const char *text, char *err, size_t err_len);

/* Cross-key checks once everything is applied, then the derived defaults
 * (preferred_leader, admin_socket). 0 or -EINVAL with "controller.KEY: reason". */
int ctlconf_finish(struct ctlconf *c, char *err, size_t err_len);

/* Forgets the tokens. */
void ctlconf_wipe(struct ctlconf *c);

/* What ctlcore reads, and the state of a cluster that never ran (epoch 0, BOOT). */
void ctlconf_core_config(const struct ctlconf *c, struct ctl_config *out);
void ctlconf_fresh_state(const struct ctlconf *c, struct ctl_state *out);

/* "1,2,3" for a set of ids (bit id-1); "" for none. */
void ctlconf_ids_text(uint64_t ids, char *buf, size_t cap);

#endif
