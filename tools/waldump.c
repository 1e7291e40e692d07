/*
 * shiplog-waldump: lists and verifies WAL segments (DESIGN.md §5).
 *
 * usage: shiplog-waldump [--verify] [--json] [--records] PATH...
 * A PATH is a WAL directory (its *.wal segments, in LSN order) or segment files.
 * Exit status: 0; with --verify, 1 when any record is damaged or LSNs are not
 * continuous; 2 on bad arguments or unreadable files.
 */
#define _GNU_SOURCE /* asprintf */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include <shiplog/walfmt.h>

struct opts {
	bool verify, json, records;
};

struct seg {
	char *path;
	uint64_t first_lsn;
};

struct dump {
	struct opts o;
	json_t *segments; /* --json */
	bool damaged;
	uint64_t next_lsn; /* the LSN the next segment should start at (0: unknown) */
};

static const char *const rec_types[] = { "?", "PUT", "DEL", "NOOP", "CONFIG" };

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "shiplog-waldump: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf || fread(*buf, 1, *len, f) != *len) {
		fprintf(stderr, "shiplog-waldump: %s: cannot read\n", path);
		fclose(f);
		free(*buf);
		return -1;
	}
	fclose(f);
	return 0;
}

/* A key as text: printable bytes as they are, others as \xNN. */
static void print_key(const uint8_t *k, uint16_t len)
{
	for (uint16_t i = 0; i < len; i++) {
		if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
			putchar(k[i]);
		else
			printf("\\x%02x", k[i]);
	}
}

static int print_record(void *arg, uint64_t off, const struct sl_record_view *r)
{
	(void)arg;
	printf("  lsn %" PRIu64 " epoch %u %-6s off %" PRIu64, r->hdr.lsn, r->hdr.epoch,
	       rec_types[r->hdr.type <= SL_REC_CONFIG ? r->hdr.type : 0], off + SL_WAL_HDR_LEN);
	if (r->hdr.flags & SL_REC_F_ORIGIN)
		printf(" client %" PRIu64 "/%" PRIu64, r->origin.client_id, r->origin.seq);
	if (r->hdr.key_len) {
		printf(" key ");
		print_key(r->key, r->hdr.key_len);
	}
	printf(" val_len %u\n", r->hdr.val_len);
	return 0;
}

static void report_text(const char *path, const struct sl_wal_seg_hdr *h,
			const struct sl_wal_scan *s)
{
	printf("%s: first %" PRIu64 ", records %" PRIu64, path, h->first_lsn, s->records);
	if (s->records)
		printf(" (%" PRIu64 "..%" PRIu64 ", last epoch %u)", s->first_lsn, s->last_lsn,
		       s->last_epoch);
	printf(", %s", sl_wal_scan_status_name(s->status));
	if (s->status == SL_WAL_TORN || s->status == SL_WAL_CORRUPT)
		printf(": lsn %" PRIu64 " damaged at offset %" PRIu64 " (%s)", s->bad_lsn,
		       s->bad_off + SL_WAL_HDR_LEN, sl_reject_str(s->reason));
	if (s->status == SL_WAL_CORRUPT)
		printf(", valid records resume at lsn %" PRIu64, s->resume_lsn);
	if (s->status == SL_WAL_GAP)
		printf(": expected lsn %" PRIu64 ", found %" PRIu64, s->bad_lsn, s->resume_lsn);
	putchar('\n');
}

static void report_json(struct dump *d, const char *path, const struct sl_wal_seg_hdr *h,
			const struct sl_wal_scan *s)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:s}", "file", path, "first_lsn",
			      (json_int_t)h->first_lsn, "records", (json_int_t)s->records, "status",
			      sl_wal_scan_status_name(s->status));

	if (s->records) {
		json_object_set_new(o, "last_lsn", json_integer((json_int_t)s->last_lsn));
		json_object_set_new(o, "last_epoch", json_integer(s->last_epoch));
	}
	if (s->status != SL_WAL_CLEAN) {
		json_object_set_new(o, "bad_lsn", json_integer((json_int_t)s->bad_lsn));
		json_object_set_new(o, "bad_offset",
				    json_integer((json_int_t)(s->bad_off + SL_WAL_HDR_LEN)));
	}
	if (s->status == SL_WAL_TORN || s->status == SL_WAL_CORRUPT)
		json_object_set_new(o, "reason", json_string(sl_reject_name(s->reason)));
	if (s->status == SL_WAL_CORRUPT || s->status == SL_WAL_GAP)
		json_object_set_new(o, "resume_lsn", json_integer((json_int_t)s->resume_lsn));
	json_array_append_new(d->segments, o);
}

static int dump_segment(struct dump *d, const char *path)
{
	struct sl_limits lim = { .key_max = UINT16_MAX, .val_max = UINT32_MAX };
	struct sl_wal_seg_hdr h;
	struct sl_wal_scan s;
	uint8_t *buf;
	size_t len;

	if (read_file(path, &buf, &len) != 0)
		return -1;
	if (sl_wal_seg_hdr_read(buf, len, &h) != 0) {
		fprintf(stderr, "shiplog-waldump: %s: not a WAL segment (bad header)\n", path);
		d->damaged = true;
		free(buf);
		return 0;
	}
	if (d->next_lsn && h.first_lsn != d->next_lsn) {
		if (!d->o.json)
			printf("%s: expected to start at lsn %" PRIu64 "\n", path, d->next_lsn);
		d->damaged = true;
	}
	if (d->o.records && !d->o.json)
		printf("%s:\n", path);
	sl_wal_scan(buf + SL_WAL_HDR_LEN, len - SL_WAL_HDR_LEN, h.first_lsn, &lim,
		    d->o.records && !d->o.json ? print_record : NULL, NULL, &s);
	if (d->o.json)
		report_json(d, path, &h, &s);
	else
		report_text(path, &h, &s);
	d->damaged |= s.status != SL_WAL_CLEAN;
	d->next_lsn = s.status == SL_WAL_CLEAN ? h.first_lsn + s.records : 0;
	free(buf);
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return (x->first_lsn > y->first_lsn) - (x->first_lsn < y->first_lsn);
}

static int dump_dir(struct dump *d, const char *dir)
{
	struct seg *segs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dp = opendir(dir);
	int rc = 0;

	if (!dp) {
		fprintf(stderr, "shiplog-waldump: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		uint64_t first;

		if (sl_wal_seg_name_parse(de->d_name, &first) != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			segs = realloc(segs, cap * sizeof(*segs));
			if (!segs)
				abort();
		}
		segs[n].first_lsn = first;
		if (asprintf(&segs[n].path, "%s/%s", dir, de->d_name) < 0)
			abort();
		n++;
	}
	closedir(dp);
	qsort(segs, n, sizeof(*segs), seg_cmp);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = dump_segment(d, segs[i].path);
		free(segs[i].path);
	}
	free(segs);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shiplog-waldump [--verify] [--json] [--records] PATH...\n"
		   "  PATH        a WAL directory or segment files (NNNNNNNNNNNNNNNNNNNN.wal)\n"
		   "  --verify    exit 1 if any record is damaged or LSNs are not continuous\n"
		   "  --json      one JSON document on stdout\n"
		   "  --records   list every record (text output)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "verify", no_argument, 0, 'v' },
						  { "json", no_argument, 0, 'j' },
						  { "records", no_argument, 0, 'r' },
						  { "help", no_argument, 0, 'h' },
						  { 0, 0, 0, 0 } };
	struct dump d = { 0 };
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'v')
			d.o.verify = true;
		else if (c == 'j')
			d.o.json = true;
		else if (c == 'r')
			d.o.records = true;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return usage(stderr), 2;
	}
	if (optind == argc)
		return usage(stderr), 2;
	d.segments = json_array();
	for (int i = optind; i < argc && rc == 0; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "shiplog-waldump: %s: %s\n", argv[i], strerror(errno));
			rc = -1;
		} else {
			rc = S_ISDIR(st.st_mode) ? dump_dir(&d, argv[i])
						 : dump_segment(&d, argv[i]);
		}
	}
	if (d.o.json && rc == 0) {
		json_t *doc = json_pack("{s:o, s:b}", "segments", d.segments, "ok", !d.damaged);

		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
	} else {
		json_decref(d.segments);
	}
	if (rc != 0)
		return 2;
	return d.o.verify && d.damaged ? 1 : 0;
}
