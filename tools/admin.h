/*
 * shiplogctl's side of the controller's admin API (include/shiplog/admin.h): the
 * controller's address, one connection, a request and its answer, and the text views
 * of status, members and events. The parsers and views are pure (no I/O but the FILE
 * they are handed) and fuzzed (tests/fuzz/fuzz_admin_answer.c).
 */
#ifndef SHIPLOG_TOOLS_ADMIN_H
#define SHIPLOG_TOOLS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/un.h>

#include <jansson.h>

#define ADMIN_CONTROLLER_DEFAULT "unix:/run/shiplog/controller.sock"
#define ADMIN_TOKEN_MAX		 1024 /* bytes; a token is a short secret, not a file */
#define ADMIN_HOST_MAX		 256  /* a DNS name is at most 253 characters */
#define ADMIN_ERR_MAX		 320  /* one sentence: ours, or the controller's cut short */
#define ADMIN_CODE_MAX		 32

struct admin_addr {
	bool is_unix;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* is_unix */
	char host[ADMIN_HOST_MAX];				/* !is_unix: no brackets */
	char port[6];						/* !is_unix: "1".."65535" */
};

/*
 * "unix:/PATH" (or a bare "/PATH"), or "HOST[:PORT]" with HOST a name, an IPv4 address
 * or a bracketed IPv6 address ("[::1]:7411"); PORT defaults to SL_CTL_ADMIN_PORT.
 * Returns 0, or -EINVAL with a one-line reason in err.
 */
int admin_addr_parse(const char *s, struct admin_addr *out, char *err, size_t err_len);

/* The controller's error codes (admin.h); ADMIN_CODE_OTHER: one this build does not know. */
enum admin_code {
	ADMIN_CODE_NONE = 0, /* ok */
	ADMIN_CODE_UNAUTHORIZED,
	ADMIN_CODE_BAD_REQUEST,
	ADMIN_CODE_UNKNOWN_COMMAND,
	ADMIN_CODE_REFUSED,
	ADMIN_CODE_BUSY,
	ADMIN_CODE_NOT_FOUND,
	ADMIN_CODE_INTERNAL,
	ADMIN_CODE_OTHER,
};

/* One answer. Strings are NUL-terminated, cut to size and free of control characters. */
struct admin_answer {
	bool ok;
	enum admin_code code;		/* ADMIN_CODE_NONE when ok */
	char code_name[ADMIN_CODE_MAX]; /* as received; "" when ok */
	char error[ADMIN_ERR_MAX];	/* the controller's sentence; "" when ok */
	json_t *result;			/* ok: the result object (owned); else NULL */
};

/*
 * One answer line (len bytes, the newline not included; never read past len) into *a.
 * Returns 0 (a->ok says whether the controller did it), or -EPROTO with a one-line
 * reason in err when the line is not an answer of SL_ADMIN_PROTO_VERSION; *a then
 * holds no result. admin_answer_clear() releases the result.
 */
int admin_answer_parse(const char *line, size_t len, struct admin_answer *a, char *err,
		       size_t err_len);
void admin_answer_clear(struct admin_answer *a);

/* The code's wire name ("refused"), "" for ADMIN_CODE_NONE, "other" for OTHER. */
const char *admin_code_name(enum admin_code code);

/*
 * Text views of a result object: a table with a header line, one row per item.
 * Fields missing or of the wrong type show as "-"; strings are printed without
 * control characters. Returns 0, or -EIO when f has an error.
 */
int admin_print_status(FILE *f, const json_t *result);
int admin_print_members(FILE *f, const json_t *result);
int admin_print_events(FILE *f, const json_t *result);
/* "OK" and the result's scalar members as name=value, on one line. */
int admin_print_ok(FILE *f, const json_t *result);

/* A connection to the controller; requests on it are answered in order. */
struct admin_conn {
	struct admin_addr addr;
	const char *token;   /* sent with every request; NULL: none (never printed) */
	uint32_t timeout_ms; /* per request: connecting, sending and the answer */
	int fd;		     /* -1: not connected */
	char *buf;	     /* SL_ADMIN_LINE_MAX bytes, allocated by admin_conn_init */
	size_t len;	     /* bytes of buf received and not yet consumed */
	unsigned requests;   /* answered on this fd */
};

/* Returns 0, or -ENOMEM. Nothing is connected until the first request. */
int admin_conn_init(struct admin_conn *c, const struct admin_addr *addr, const char *token,
		    uint32_t timeout_ms);
void admin_conn_close(struct admin_conn *c);

/*
 * Sends {"v":1,"token":..,"cmd":cmd,"args":args} (args may be NULL; it is not stolen)
 * and reads the answer into *a, connecting first when needed. An idempotent request
 * that finds a reused connection closed is sent once more on a fresh one.
 * Returns 0 with *a filled (a->ok or the controller's code), or with a one-line reason
 * in err:
 *   -ENOTCONN   nothing was sent: the controller could not be reached
 *   -ETIMEDOUT  sent, no answer within timeout_ms: the outcome is unknown
 *   -ECONNRESET sent, the connection closed before the answer: the outcome is unknown
 *   -EPROTO     the answer is not the admin protocol
 *   other       a local failure (-ENOMEM, ...)
 */
int admin_call(struct admin_conn *c, const char *cmd, const json_t *args, bool idempotent,
	       struct admin_answer *a, char *err, size_t err_len);

#endif
