/* The INI plumbing shiplogd's and shiplog-controller's configurations share (inih). */
#ifndef SHIPLOG_CONFTEXT_H
#define SHIPLOG_CONFTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ini.h>

/*
 * dataplane/config.c and control/ctlconf.c read files of the same format with the same
 * habits: a checked reader hands inih one line at a time (too long, NUL byte, unknown
 * section and malformed lines are precise errors inih never sees), the first error
 * stops parsing, errors are one printable line and never quote a value.
 *
 * A "why" buffer holds CONFTEXT_WHY_MAX bytes: the callers' CFG_ERR_MAX and
 * CTLCONF_ERR_MAX (each asserts it).
 */

#define CONFTEXT_WHY_MAX  256u
#define CONFTEXT_SHOW_MAX 32u /* bytes of a section or key name quoted in an error */

/* The name as an error quotes it: bounded and printable. */
struct conftext_shown {
	char s[CONFTEXT_SHOW_MAX + 4];
};

/* The reader's state; embedded in each configuration's load state (user of inih). */
struct conftext_lines {
	const char *p; /* what inih has not read yet */
	size_t left;
	size_t line_max;    /* bytes on a line, '\n' not counted */
	unsigned line;	    /* the line inih is on */
	unsigned fail_line; /* 0, or the line of the first error */
	/* Whether "[name]" (name[0..len), no NUL) is a section of the format. */
	bool (*section_known)(const char *name, size_t len);
	const char *section_hint; /* after "[x]: unknown section"; "" none */
	char msg[CONFTEXT_WHY_MAX];
};

/* vsnprintf into why (CONFTEXT_WHY_MAX bytes); returns -EINVAL. */
__attribute__((format(printf, 2, 3))) int conftext_why(char *why, const char *fmt, ...);

/* One line into err: bounded, NUL-terminated, control characters (a newline in a file
 * name, say) replaced by '?'; err may be NULL. */
__attribute__((format(printf, 3, 4))) void conftext_err_put(char *err, size_t err_len,
							    const char *fmt, ...);

/* s[0..n) (or up to its NUL), at most CONFTEXT_SHOW_MAX bytes then "...". */
struct conftext_shown conftext_show(const char *s, size_t n);

/* Decimal, no sign, no blank, no overflow, lo..hi. what prefixes the reason ("" none). */
int conftext_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, const char *what,
		       char *why);

/*
 * A value as a file could carry it back: value trimmed into v (max + 1 bytes), at most
 * max bytes, no control character but tab, no ';' at the start or after a blank (inih
 * would read a comment). 0 or -EINVAL with the reason in why.
 */
int conftext_value(const char *value, size_t max, char *v, char *why);

/* At most max bytes of a regular file (a FIFO would block) into buf (max + 1 bytes).
 * 0 with *len, or -EINVAL with "cannot open: ...", "larger than N bytes"... in why. */
int conftext_read_small(const char *path, char *buf, size_t max, size_t *len, char *why);

/*
 * The whole file, at most max bytes, so that the reader sees its NUL bytes: 0 with a
 * malloc'd *text of *len bytes (conftext_text_free), or -errno, -ENOMEM, -EFBIG with
 * "PATH: reason" in err.
 */
int conftext_read_file(const char *path, size_t max, char **text, size_t *len, char *err,
		       size_t err_len);
void conftext_text_free(char *text, size_t len); /* wiped: it may hold a key */

/* The reader's error at its current line (a handler's too). */
__attribute__((format(printf, 2, 3))) void conftext_fail(struct conftext_lines *ld, const char *fmt,
							 ...);

/*
 * Runs inih over text[0..len) with the checked reader ld (line_max, section_known and
 * section_hint set, the rest zero) and handler(user, ...), which stops at the first
 * conftext_fail. 0; -ENOMEM; -EINVAL with "NAME:LINE: reason" in err.
 */
int conftext_parse(struct conftext_lines *ld, const char *name, const char *text, size_t len,
		   ini_handler handler, void *user, char *err, size_t err_len);

#endif
