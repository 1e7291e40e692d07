/* The controller's durable state (struct ctl_state): a store interface and its file form. */
#ifndef SHIPLOG_CTL_STORE_H
#define SHIPLOG_CTL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ctlcore.h"

/*
 * A store keeps one struct ctl_state. The file store is the first; an etcd-backed one
 * (an HA controller, DESIGN.md §1) implements the same three calls. Every call writes
 * a one-line reason into err on failure.
 */
struct ctl_store {
	const char *kind; /* "file" */
	/* 0 and *out; -ENOENT when nothing was ever stored; another -errno when what is
	 * stored is unreadable, corrupt or inconsistent (never reset silently). */
	int (*load)(struct ctl_store *s, struct ctl_state *out, char *err, size_t err_len);
	/* 0 once st is durable: a crash after it returns finds st, before it the old. */
	int (*save)(struct ctl_store *s, const struct ctl_state *st, char *err, size_t err_len);
	void (*close)(struct ctl_store *s);
};

#define CTL_STATE_FILE	   "state.json"
#define CTL_STATE_FORMAT   1
#define CTL_STATE_TEXT_MAX 32768u /* an encoded state never needs more (64 members) */

/*
 * The file store: <dir>/state.json, replaced atomically (write state.json.tmp, fsync,
 * rename, fsync the folder). NULL with errno and err when dir cannot be opened.
 */
struct ctl_store *ctl_store_file_open(const char *dir, char *err, size_t err_len);

/* Tests: the next save fails (-EIO) at this step, leaving what a crash there leaves. */
enum ctl_store_fault {
	CTL_STORE_FAULT_NONE = 0,
	CTL_STORE_FAULT_WRITE,	/* after half the temporary file is written */
	CTL_STORE_FAULT_FSYNC,	/* the temporary file written whole, not synced */
	CTL_STORE_FAULT_RENAME, /* synced, not renamed */
};
void ctl_store_file_fault(struct ctl_store *s, unsigned fault);

/*
 * The file's text: {"format":1,"state":{...},"crc32c":N}, the CRC over the state's
 * canonical compact encoding. Returns the length (a newline ends it), or 0 when st is
 * not consistent (ctl_state_check) or cap is too small.
 */
size_t ctl_state_encode(const struct ctl_state *st, char *buf, size_t cap);

#define CTL_STATE_NO_CRC 1u /* decode: skip the checksum (the fuzzer forges none) */

/*
 * Decodes len bytes (never reads past them, any bytes). Every field is required, of
 * its type and range; unknown fields are errors; the result must pass ctl_state_check.
 * 0 and *out (zeroed first: equal states compare equal with memcmp), or -EINVAL with
 * a sentence in err; *out is unspecified then.
 */
int ctl_state_decode(const char *text, size_t len, struct ctl_state *out, unsigned flags, char *err,
		     size_t err_len);

/* The invariants a stored state keeps (ids, phase, leader and target members, valid
 * policies ...). 0 or -EINVAL with a sentence. */
int ctl_state_check(const struct ctl_state *st, char *err, size_t err_len);

/* Field by field (struct ctl_state has padding). */
int ctl_state_equal(const struct ctl_state *a, const struct ctl_state *b);

#endif
