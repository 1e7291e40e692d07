/*
 * crash_kill: a child process writes the WAL with group commit and reports every
 * flushed LSN over a pipe; the parent SIGKILLs it at a random moment, recovers the
 * WAL, and checks that every reported-flushed record is there, byte for byte, and
 * that nothing else is damaged. Then a new child goes on from there. Real io_uring,
 * real files.
 *
 * usage: crash_kill [--kills N] [--mode M] [--seed S] [--dir DIR]
 * Exit 0; 1 on a violation; 77 when io_uring is not available here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wal.h"
#include "walrec.h"

#define VMAX		  300u
#define SLOTS		  8192u
#define SLOT_SIZE	  512u
#define CHILD_MAX_RECORDS 2000000u
#define CHILD_MAX_SECONDS 20

static uint8_t g_mode;

static void cfg_init(struct sl_wal_config *c, const char *dir)
{
	sl_wal_config_default(c);
	c->dir = dir;
	c->cluster_id = 5;
	c->node_id = 3;
	c->mode = g_mode;
	c->segment_bytes = 1 << 20;
	c->batch_bytes = 64 << 10;
	c->queue_records = 4096;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The child: append, submit, poll; every advance of flushed_lsn goes down the pipe. */
static int child(const char *dir, int out)
{
	static uint8_t arena[SLOTS * SLOT_SIZE];
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct sl_wal *w;
	uint64_t lsn, reported = 0;
	double end = now_s() + CHILD_MAX_SECONDS;
	int rc;

	cfg_init(&c, dir);
	rc = sl_wal_open(&c, &w, &rep);
	if (rc < 0)
		return 3;
	lsn = rep.last_lsn;
	for (uint32_t i = 0; i < CHILD_MAX_RECORDS && now_s() < end; i++) {
		uint8_t *p = arena + ((lsn + 1) % SLOTS) * SLOT_SIZE;
		struct sl_rec_ref r = { .data = p, .handle = lsn + 1 };
		uint64_t f;

		r.len = walrec_make(p, SLOT_SIZE, lsn + 1, 1, 0, VMAX);
		rc = sl_wal_append(w, &r, 1, 0);
		if (rc == 0)
			lsn++;
		else if (rc != -EAGAIN)
			return 4;
		if (rc == -EAGAIN || i % 16 == 0) {
			if (sl_wal_submit(w) < 0 || sl_wal_poll(w, rc == -EAGAIN) < 0)
				return 4;
		}
		f = sl_wal_flushed_lsn(w, NULL);
		if (f > reported) {
			if (write(out, &f, sizeof(f)) != sizeof(f))
				return 5;
			reported = f;
		}
	}
	sl_wal_close(w);
	return 0;
}

struct check {
	int status;
	const uint8_t *buf;
	uint32_t len, n;
	bool done;
};

static void on_read(void *arg, uint64_t tag, int status, const uint8_t *buf, uint32_t len,
		    uint64_t first, uint32_t n)
{
	struct check *k = arg;

	(void)tag;
	(void)first;
	*k = (struct check){ .status = status, .buf = buf, .len = len, .n = n, .done = true };
}

/* Recovers the WAL and checks records 1..last against what the child wrote. */
static int verify(const char *dir, uint64_t flushed, uint64_t *last, unsigned kill_no)
{
	static uint8_t buf[256 << 10];
	struct sl_wal_config c;
	struct sl_wal_recovery rep;
	struct check k;
	struct sl_wal *w;
	int rc;

	cfg_init(&c, dir);
	c.on_read = on_read;
	c.arg = &k;
	rc = sl_wal_open(&c, &w, &rep);
	if (rc < 0) {
		fprintf(stderr, "kill %u: recovery failed: %s\n", kill_no, strerror(-rc));
		return -1;
	}
	if (rep.last_lsn < flushed) {
		fprintf(stderr,
			"kill %u: log ends at %" PRIu64 ", %" PRIu64 " was reported flushed\n",
			kill_no, rep.last_lsn, flushed);
		sl_wal_close(w);
		return -1;
	}
	for (uint64_t lsn = 1; lsn <= rep.last_lsn;) {
		const uint8_t *p;

		k.done = false;
		if (sl_wal_read(w, lsn, rep.last_lsn, buf, sizeof(buf), 0) != 0)
			goto bad;
		while (!k.done)
			if (sl_wal_poll(w, true) < 0)
				goto bad;
		if (k.status != 0 || k.n == 0)
			goto bad;
		p = k.buf;
		for (uint32_t i = 0; i < k.n; i++, lsn++) {
			struct sl_record_view v;

			if (sl_record_decode(p, k.len - (uint32_t)(p - k.buf), &c.limits, 1, &v) !=
				    SL_OK ||
			    !walrec_check(p, v.total_len, lsn, 1, 0, VMAX)) {
				fprintf(stderr, "kill %u: record %" PRIu64 " differs\n", kill_no,
					lsn);
				sl_wal_close(w);
				return -1;
			}
			p += v.total_len;
		}
		continue;
	bad:
		fprintf(stderr, "kill %u: cannot read record %" PRIu64 "\n", kill_no, lsn);
		sl_wal_close(w);
		return -1;
	}
	*last = rep.last_lsn;
	sl_wal_close(w);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kills", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "seed", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tmp = getenv("TMPDIR");
	char dir[256] = { 0 }, cmd[300];
	unsigned kills = 50;
	uint64_t seed = 1, last = 0, max_flushed_seen = 0;
	void *probe;
	int opt;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'k')
			kills = (unsigned)strtoul(optarg, NULL, 0);
		else if (opt == 'm' && sl_wal_mode_parse(optarg) >= 0)
			g_mode = (uint8_t)sl_wal_mode_parse(optarg);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
		else if (opt == 'd')
			snprintf(dir, sizeof(dir), "%s", optarg);
		else
			return 2;
	}
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/crashkillXXXXXX", tmp ? tmp : "/var/tmp");
		if (!mkdtemp(dir))
			return 2;
	}
	if (sl_wal_uring_create(dir, 8, 4, &probe) < 0) {
		printf("SKIP: io_uring is not available here\n");
		return 77;
	}
	sl_wal_uring_ops.destroy(probe);
	srand((unsigned)seed);
	for (unsigned i = 0; i < kills; i++) {
		uint64_t f, flushed = 0;
		int fds[2], st;
		pid_t pid;

		if (pipe(fds) != 0)
			return 2;
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			_exit(child(dir, fds[1]));
		}
		close(fds[1]);
		usleep(1000 + (useconds_t)(rand() % 60000));
		kill(pid, SIGKILL);
		while (read(fds[0], &f, sizeof(f)) == sizeof(f))
			flushed = f;
		close(fds[0]);
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
			fprintf(stderr, "kill %u: the child failed by itself (%d)\n", i,
				WEXITSTATUS(st));
			return 1;
		}
		if (flushed > max_flushed_seen)
			max_flushed_seen = flushed;
		if (verify(dir, flushed, &last, i) != 0) {
			fprintf(stderr, "crash_kill: violation (seed %" PRIu64 ", dir %s kept)\n",
				seed, dir);
			return 1;
		}
	}
	printf("crash_kill: mode %s: %u kills, every reported-flushed record recovered; log at "
	       "%" PRIu64 " records\n",
	       sl_wal_mode_name(g_mode), kills, last);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
