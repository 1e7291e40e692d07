/*
 * The INI plumbing of the two configurations (conftext.h): errors, the checked line
 * reader inih reads through, values, numbers and whole files.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conftext.h"

int conftext_why(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CONFTEXT_WHY_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void conftext_err_put(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

struct conftext_shown conftext_show(const char *s, size_t n)
{
	struct conftext_shown out;
	size_t i;

	for (i = 0; i < n && s[i] && i < CONFTEXT_SHOW_MAX; i++)
		out.s[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (i < n && s[i]) {
		memcpy(out.s + i, "...", 3);
		i += 3;
	}
	out.s[i] = '\0';
	return out;
}

int conftext_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, const char *what,
		       char *why)
{
	unsigned long long x;
	char *end;

	if (*s == '\0')
		return conftext_why(why, "%sempty value", what);
	if (!isdigit((unsigned char)*s))
		return conftext_why(why, "%snot a decimal number", what);
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end != '\0')
		return conftext_why(why, "%strailing characters after the number", what);
	if (errno == ERANGE || x < lo || x > hi)
		return conftext_why(why, "%sout of range %llu..%llu", what, (unsigned long long)lo,
				    (unsigned long long)hi);
	*out = x;
	return 0;
}

int conftext_value(const char *value, size_t max, char *v, char *why)
{
	size_t len;

	while (isspace((unsigned char)*value))
		value++;
	len = strlen(value);
	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	if (len > max)
		return conftext_why(why, "value longer than %zu bytes", max);
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f)
			return conftext_why(why, "control character in the value");
		/* In a file, " ;" starts a comment: the value would come back cut short. */
		if (value[i] == ';' && (i == 0 || isspace((unsigned char)value[i - 1])))
			return conftext_why(why, "';' at the start or after a blank would read "
						 "as a comment in a file");
	}
	memcpy(v, value, len);
	v[len] = '\0';
	return 0;
}

int conftext_read_small(const char *path, char *buf, size_t max, size_t *len, char *why)
{
	struct stat st;
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return conftext_why(why, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return conftext_why(why, "not a regular file");
	}
	do {
		r = read(fd, buf + n, max + 1 - n);
		if (r > 0)
			n += (size_t)r;
	} while ((r > 0 && n <= max) || (r < 0 && errno == EINTR));
	close(fd);
	if (r < 0)
		return conftext_why(why, "cannot read: %s", strerror(errno));
	if (n > max)
		return conftext_why(why, "larger than %zu bytes", max);
	*len = n;
	return 0;
}

int conftext_read_file(const char *path, size_t max, char **text, size_t *len, char *err,
		       size_t err_len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int rc;

	if (f == NULL) {
		rc = -errno;
		conftext_err_put(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		conftext_err_put(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	errno = 0;
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		conftext_err_put(err, err_len, "%s: %s", path, strerror(-rc));
	} else if (n > max) {
		rc = -EFBIG;
		conftext_err_put(err, err_len, "%s: larger than %zu bytes", path, max);
	} else {
		rc = 0;
	}
	fclose(f);
	if (rc != 0) {
		conftext_text_free(buf, n);
		return rc;
	}
	*text = buf;
	*len = n;
	return 0;
}

void conftext_text_free(char *text, size_t len)
{
	if (text != NULL)
		explicit_bzero(text, len);
	free(text);
}

void conftext_fail(struct conftext_lines *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->msg, sizeof(ld->msg), fmt, ap);
	va_end(ap);
	ld->fail_line = ld->line;
}

/* As inih finds it: the first of chars, or of " ;" (an inline comment), in s[0..n). */
static size_t find_sep(const char *s, size_t n, const char *chars)
{
	bool was_space = false;
	size_t i;

	for (i = 0; i < n && !strchr(chars, s[i]) && !(was_space && s[i] == ';'); i++)
		was_space = isspace((unsigned char)s[i]);
	return i;
}

/* "[name]", maybe followed by a comment, naming a section of the format. */
static void check_section(struct conftext_lines *ld, const char *s, size_t n)
{
	size_t end = 1 + find_sep(s + 1, n - 1, "]"), rest;

	if (end == n || s[end] != ']') {
		conftext_fail(ld, "'[' without ']'");
		return;
	}
	for (rest = end + 1; rest < n && isspace((unsigned char)s[rest]); rest++)
		;
	if (rest < n && s[rest] != ';' && s[rest] != '#')
		conftext_fail(ld, "text after [section]");
	else if (!ld->section_known(s + 1, end - 1))
		conftext_fail(ld, "[%s]: unknown section%s", conftext_show(s + 1, end - 1).s,
			      ld->section_hint);
}

/* s[0..n): a line without its indentation and newline. */
static void check_line(struct conftext_lines *ld, const char *s, size_t n)
{
	size_t sep;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || s[0] == ';' || s[0] == '#')
		return;
	if (s[0] == '[') {
		check_section(ld, s, n);
		return;
	}
	sep = find_sep(s, n, "=:");
	if (sep == n || s[sep] == ';')
		conftext_fail(ld, "expected 'key = value' or '[section]'");
}

/*
 * inih's fgets: one checked line of the text, or NULL to stop. Indentation is removed:
 * inih's multi-line values (an indented line continuing the previous key) cannot
 * silently glue two lines into one value.
 */
static char *reader(char *str, int num, void *stream)
{
	struct conftext_lines *ld = stream;
	const char *nl, *s;
	size_t len, max, skip = 0;

	if (ld->fail_line != 0 || ld->left == 0 || num < 3)
		return NULL;
	max = (size_t)num - 2 < ld->line_max ? (size_t)num - 2 : ld->line_max;
	nl = memchr(ld->p, '\n', ld->left);
	len = nl ? (size_t)(nl - ld->p) : ld->left;
	s = ld->p;
	ld->p += len + (nl != NULL);
	ld->left -= len + (nl != NULL);
	ld->line++;
	if (len > max) {
		conftext_fail(ld, "line longer than %zu bytes", max);
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL) {
		conftext_fail(ld, "NUL byte in the line");
		return NULL;
	}
	if (ld->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		skip = 3; /* a UTF-8 byte order mark */
	while (skip < len && isspace((unsigned char)s[skip]))
		skip++;
	check_line(ld, s + skip, len - skip);
	if (ld->fail_line != 0)
		return NULL;
	memcpy(str, s + skip, len - skip);
	str[len - skip] = '\n';
	str[len - skip + 1] = '\0';
	return str;
}

int conftext_parse(struct conftext_lines *ld, const char *name, const char *text, size_t len,
		   ini_handler handler, void *user, char *err, size_t err_len)
{
	int rc;

	ld->p = text;
	ld->left = len;
	rc = ini_parse_stream(reader, ld, handler, user);
	if (rc < 0) {
		conftext_err_put(err, err_len, "%s: out of memory", name);
		return -ENOMEM;
	}
	if (rc > 0 && (ld->fail_line == 0 || (unsigned)rc < ld->fail_line)) {
		/* The reader lets through only lines inih takes: this is a safety net. */
		conftext_err_put(err, err_len, "%s:%d: syntax error", name, rc);
		return -EINVAL;
	}
	if (ld->fail_line != 0) {
		conftext_err_put(err, err_len, "%s:%u: %s", name, ld->fail_line, ld->msg);
		return -EINVAL;
	}
	return 0;
}
