/* The fake disk of the crash suite: durable and current images, pending writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakefs.h"

#define FF_NAME	   40
#define FF_FILES   256
#define FF_HANDLES 64
#define FF_DIROPS  256
#define FF_SQ	   256

struct ff_write {
	uint64_t off;
	uint32_t len;
	uint8_t *bytes;
};

struct ff_inode {
	bool used;
	uint8_t *dur, *cur;
	uint64_t dur_len, cur_len, cap;
	struct ff_write *pend;
	uint32_t n_pend, cap_pend;
};

struct ff_dent {
	char name[FF_NAME];
	int ino; /* -1: free */
};

enum { DOP_CREATE = 1, DOP_RENAME, DOP_UNLINK };

struct ff_dirop {
	uint8_t kind;
	char a[FF_NAME], b[FF_NAME];
	int ino;
};

struct ff_handle {
	int ino; /* -1: free */
	unsigned flags;
};

struct ff_sqe {
	uint8_t op; /* SL_WAL_OP_* */
	int fh;
	uint64_t off;
	const struct iovec *iov; /* the WAL keeps its iovecs until the completion */
	unsigned n_iov;
	uint8_t *rbuf;
	uint32_t rlen;
	uint64_t tag;
	bool link, submitted;
};

struct fakefs {
	struct ff_inode ino[FF_FILES];
	struct ff_dent cur[FF_FILES], dur[FF_FILES];
	struct ff_dirop dirops[FF_DIROPS];
	uint32_t n_dirops;
	struct ff_handle h[FF_HANDLES];
	struct ff_sqe sq[FF_SQ];
	uint32_t n_sq;
	struct sl_wal_cqe cq[FF_SQ];
	uint32_t n_cq;
	uint64_t changes;
	int syncs_ok; /* < 0: every sync works */
	void (*on_change)(void *arg, struct fakefs *f);
	void *arg;
};

static uint64_t ff_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void ff_changed(struct fakefs *f)
{
	f->changes++;
	if (f->on_change)
		f->on_change(f->arg, f);
}

struct fakefs *fakefs_new(void)
{
	struct fakefs *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	for (int i = 0; i < FF_FILES; i++)
		f->cur[i].ino = f->dur[i].ino = -1;
	for (int i = 0; i < FF_HANDLES; i++)
		f->h[i].ino = -1;
	f->syncs_ok = -1;
	return f;
}

static void ff_inode_free(struct ff_inode *n)
{
	for (uint32_t i = 0; i < n->n_pend; i++)
		free(n->pend[i].bytes);
	free(n->pend);
	free(n->dur);
	free(n->cur);
	memset(n, 0, sizeof(*n));
}

void fakefs_free(struct fakefs *f)
{
	if (!f)
		return;
	for (int i = 0; i < FF_FILES; i++)
		ff_inode_free(&f->ino[i]);
	free(f);
}

void fakefs_on_change(struct fakefs *f, void (*fn)(void *arg, struct fakefs *f), void *arg)
{
	f->on_change = fn;
	f->arg = arg;
}

void fakefs_fail_syncs(struct fakefs *f, int n)
{
	f->syncs_ok = n;
}

uint64_t fakefs_changes(const struct fakefs *f)
{
	return f->changes;
}

static void ff_grow(struct ff_inode *n, uint64_t len)
{
	if (len <= n->cap)
		return;
	uint64_t cap = n->cap ? n->cap : 4096;

	while (cap < len)
		cap *= 2;
	n->cur = realloc(n->cur, cap);
	n->dur = realloc(n->dur, cap);
	if (!n->cur || !n->dur)
		abort();
	memset(n->cur + n->cap, 0, cap - n->cap);
	memset(n->dur + n->cap, 0, cap - n->cap);
	n->cap = cap;
}

static void ff_apply(uint8_t *img, uint64_t *len, uint64_t off, const uint8_t *b, uint32_t n)
{
	memcpy(img + off, b, n);
	if (off + n > *len)
		*len = off + n;
}

static void ff_sync_inode(struct ff_inode *n)
{
	for (uint32_t i = 0; i < n->n_pend; i++) {
		ff_apply(n->dur, &n->dur_len, n->pend[i].off, n->pend[i].bytes, n->pend[i].len);
		free(n->pend[i].bytes);
	}
	n->n_pend = 0;
}

static int ff_lookup(const struct ff_dent *d, const char *name)
{
	for (int i = 0; i < FF_FILES; i++)
		if (d[i].ino >= 0 && strcmp(d[i].name, name) == 0)
			return i;
	return -1;
}

static int ff_dent_add(struct ff_dent *d, const char *name, int ino)
{
	for (int i = 0; i < FF_FILES; i++) {
		if (d[i].ino < 0) {
			snprintf(d[i].name, FF_NAME, "%s", name);
			d[i].ino = ino;
			return 0;
		}
	}
	return -ENOSPC;
}

static void ff_dirop(struct fakefs *f, uint8_t kind, const char *a, const char *b, int ino)
{
	struct ff_dirop *o;

	if (f->n_dirops == FF_DIROPS)
		abort(); /* the WAL syncs its directory long before this */
	o = &f->dirops[f->n_dirops++];
	o->kind = kind;
	snprintf(o->a, FF_NAME, "%s", a);
	snprintf(o->b, FF_NAME, "%s", b ? b : "");
	o->ino = ino;
}

static struct ff_inode *ff_fh(struct fakefs *f, int fh)
{
	if (fh < 0 || fh >= FF_HANDLES || f->h[fh].ino < 0)
		return NULL;
	return &f->ino[f->h[fh].ino];
}

/* ---- synchronous operations ------------------------------------------------------ */

static int ff_open(void *io, const char *name, unsigned flags)
{
	struct fakefs *f = io;
	int d = ff_lookup(f->cur, name), ino = -1, fh = -1;

	if (strlen(name) >= FF_NAME)
		return -ENAMETOOLONG;
	for (int i = 0; i < FF_HANDLES && fh < 0; i++)
		if (f->h[i].ino < 0)
			fh = i;
	if (fh < 0)
		return -EMFILE;
	if (flags & SL_WAL_IO_CREATE) {
		if (d >= 0)
			return -EEXIST;
		for (int i = 0; i < FF_FILES && ino < 0; i++)
			if (!f->ino[i].used)
				ino = i;
		if (ino < 0 || ff_dent_add(f->cur, name, ino) < 0)
			return -ENOSPC;
		f->ino[ino].used = true;
		ff_dirop(f, DOP_CREATE, name, NULL, ino);
		ff_changed(f);
	} else {
		if (d < 0)
			return -ENOENT;
		ino = f->cur[d].ino;
	}
	f->h[fh] = (struct ff_handle){ .ino = ino, .flags = flags };
	return fh;
}

static int ff_close(void *io, int fh)
{
	struct fakefs *f = io;

	if (!ff_fh(f, fh))
		return -EBADF;
	f->h[fh].ino = -1;
	return 0;
}

static int ff_prealloc(void *io, int fh, uint64_t len)
{
	struct ff_inode *n = ff_fh(io, fh);

	if (!n)
		return -EBADF;
	ff_grow(n, len);
	if (n->cur_len < len)
		n->cur_len = len;
	if (n->dur_len < len)
		n->dur_len = len;
	return 0;
}

static ssize_t ff_pread(void *io, int fh, void *buf, size_t len, uint64_t off)
{
	struct ff_inode *n = ff_fh(io, fh);

	if (!n)
		return -EBADF;
	if (off >= n->cur_len)
		return 0;
	if (len > n->cur_len - off)
		len = n->cur_len - off;
	memcpy(buf, n->cur + off, len);
	return (ssize_t)len;
}

/* A write lands in the current image and stays pending (or is durable: O_DSYNC). */
static void ff_write_bytes(struct fakefs *f, int fh, uint64_t off, const uint8_t *b, uint32_t len)
{
	struct ff_inode *n = ff_fh(f, fh);
	struct ff_write *w;

	ff_grow(n, off + len);
	ff_apply(n->cur, &n->cur_len, off, b, len);
	if (n->n_pend == n->cap_pend) {
		n->cap_pend = n->cap_pend ? 2 * n->cap_pend : 16;
		n->pend = realloc(n->pend, n->cap_pend * sizeof(*n->pend));
		if (!n->pend)
			abort();
	}
	w = &n->pend[n->n_pend++];
	w->off = off;
	w->len = len;
	w->bytes = malloc(len ? len : 1);
	if (!w->bytes)
		abort();
	memcpy(w->bytes, b, len);
	ff_changed(f); /* a crash here finds the write pending */
	if (f->h[fh].flags & SL_WAL_IO_DSYNC) {
		ff_sync_inode(n);
		ff_changed(f);
	}
}

static ssize_t ff_pwrite(void *io, int fh, const void *buf, size_t len, uint64_t off)
{
	if (!ff_fh(io, fh))
		return -EBADF;
	ff_write_bytes(io, fh, off, buf, (uint32_t)len);
	return (ssize_t)len;
}

static int ff_fsync(void *io, int fh)
{
	struct ff_inode *n = ff_fh(io, fh);

	if (!n)
		return -EBADF;
	ff_sync_inode(n);
	ff_changed(io);
	return 0;
}

static int ff_rename(void *io, const char *from, const char *to)
{
	struct fakefs *f = io;
	int a = ff_lookup(f->cur, from), b;

	if (a < 0)
		return -ENOENT;
	b = ff_lookup(f->cur, to);
	if (b >= 0)
		f->cur[b].ino = -1; /* the replaced file's inode lives on in dur if synced */
	snprintf(f->cur[a].name, FF_NAME, "%s", to);
	ff_dirop(f, DOP_RENAME, from, to, f->cur[a].ino);
	ff_changed(f);
	return 0;
}

static int ff_unlink(void *io, const char *name)
{
	struct fakefs *f = io;
	int a = ff_lookup(f->cur, name);

	if (a < 0)
		return -ENOENT;
	ff_dirop(f, DOP_UNLINK, name, NULL, f->cur[a].ino);
	f->cur[a].ino = -1;
	ff_changed(f);
	return 0;
}

static int ff_sync_dir(void *io)
{
	struct fakefs *f = io;

	memcpy(f->dur, f->cur, sizeof(f->dur));
	f->n_dirops = 0;
	/* Files no name and no handle refers to any more are gone for good. */
	for (int i = 0; i < FF_FILES; i++) {
		bool ref = false;

		for (int k = 0; k < FF_FILES && !ref; k++)
			ref = f->cur[k].ino == i;
		for (int k = 0; k < FF_HANDLES && !ref; k++)
			ref = f->h[k].ino == i;
		if (f->ino[i].used && !ref)
			ff_inode_free(&f->ino[i]);
	}
	ff_changed(f);
	return 0;
}

static int ff_list(void *io, int (*fn)(void *arg, const char *name), void *arg)
{
	struct fakefs *f = io;

	for (int i = 0; i < FF_FILES; i++) {
		if (f->cur[i].ino >= 0) {
			int rc = fn(arg, f->cur[i].name);

			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- queued operations -------------------------------------------------------------- */

static struct ff_sqe *ff_sqe(struct fakefs *f)
{
	if (f->n_sq == FF_SQ)
		return NULL;
	memset(&f->sq[f->n_sq], 0, sizeof(f->sq[0]));
	return &f->sq[f->n_sq++];
}

static int ff_q_write(void *io, int fh, uint64_t off, const struct iovec *iov, unsigned n,
		      int buf_index, bool link, uint64_t tag)
{
	struct ff_sqe *e = ff_fh(io, fh) ? ff_sqe(io) : NULL;

	(void)buf_index;
	if (!e)
		return ff_fh(io, fh) ? -EBUSY : -EBADF;
	*e = (struct ff_sqe){ .op = SL_WAL_OP_WRITE,
			      .fh = fh,
			      .off = off,
			      .iov = iov,
			      .n_iov = n,
			      .tag = tag,
			      .link = link };
	return 0;
}

static int ff_q_datasync(void *io, int fh, bool link, uint64_t tag)
{
	struct ff_sqe *e = ff_fh(io, fh) ? ff_sqe(io) : NULL;

	if (!e)
		return ff_fh(io, fh) ? -EBUSY : -EBADF;
	*e = (struct ff_sqe){ .op = SL_WAL_OP_SYNC, .fh = fh, .tag = tag, .link = link };
	return 0;
}

static int ff_q_read(void *io, int fh, uint64_t off, void *buf, uint32_t len, uint64_t tag)
{
	struct ff_sqe *e = ff_fh(io, fh) ? ff_sqe(io) : NULL;

	if (!e)
		return ff_fh(io, fh) ? -EBUSY : -EBADF;
	*e = (struct ff_sqe){
		.op = SL_WAL_OP_READ, .fh = fh, .off = off, .rbuf = buf, .rlen = len, .tag = tag
	};
	return 0;
}

/* Runs everything queued, in order, as the kernel would run a linked chain. */
static int ff_submit(void *io)
{
	struct fakefs *f = io;
	uint32_t n = f->n_sq;

	for (uint32_t i = 0; i < n; i++) {
		struct ff_sqe *e = &f->sq[i];
		int32_t res = 0;

		if (e->op == SL_WAL_OP_WRITE) {
			for (unsigned k = 0; k < e->n_iov; k++) {
				ff_write_bytes(f, e->fh, e->off + (uint64_t)res, e->iov[k].iov_base,
					       (uint32_t)e->iov[k].iov_len);
				res += (int32_t)e->iov[k].iov_len;
			}
		} else if (e->op == SL_WAL_OP_SYNC) {
			if (f->syncs_ok == 0)
				res = -EIO; /* and the pending writes stay pending */
			else
				ff_fsync(f, e->fh);
			if (f->syncs_ok > 0)
				f->syncs_ok--;
		} else {
			ssize_t k = ff_pread(f, e->fh, e->rbuf, e->rlen, e->off);

			res = (int32_t)k;
		}
		f->cq[f->n_cq++] = (struct sl_wal_cqe){ .tag = e->tag, .res = res };
	}
	f->n_sq = 0;
	return (int)n;
}

static int ff_reap(void *io, struct sl_wal_cqe *out, unsigned max, bool wait)
{
	struct fakefs *f = io;
	unsigned n = f->n_cq < max ? f->n_cq : max;

	(void)wait;
	memcpy(out, f->cq, n * sizeof(*out));
	memmove(f->cq, f->cq + n, (f->n_cq - n) * sizeof(*out));
	f->n_cq -= n;
	return (int)n;
}

static void ff_destroy(void *io)
{
	struct fakefs *f = io;

	/* The disk outlives the WAL: the test reopens it, or crashes it. */
	for (int i = 0; i < FF_HANDLES; i++)
		f->h[i].ino = -1;
	f->n_sq = f->n_cq = 0;
}

const struct sl_wal_io_ops fakefs_ops = {
	.open = ff_open,
	.close = ff_close,
	.prealloc = ff_prealloc,
	.pread = ff_pread,
	.pwrite = ff_pwrite,
	.fsync = ff_fsync,
	.rename = ff_rename,
	.unlink = ff_unlink,
	.sync_dir = ff_sync_dir,
	.list = ff_list,
	.register_buf = NULL,
	.write = ff_q_write,
	.datasync = ff_q_datasync,
	.read = ff_q_read,
	.submit = ff_submit,
	.reap = ff_reap,
	.destroy = ff_destroy,
};

/* ---- the crash ---------------------------------------------------------------------- */

/* Sectors of one pending write kept (torn), or garbled, by the model. */
static void ff_crash_write(uint8_t *img, uint64_t *len, const struct ff_write *w, unsigned model,
			   uint64_t *rng)
{
	uint32_t sec = model == FF_TORN_4K ? 4096 : 512;

	if (model != FF_TORN_512 && model != FF_TORN_4K && model != FF_GARBLE) {
		ff_apply(img, len, w->off, w->bytes, w->len);
		return;
	}
	/* Sectors are aligned on the disk, not in the write. */
	for (uint64_t s = w->off & ~(uint64_t)(sec - 1); s < w->off + w->len; s += sec) {
		uint64_t a = s < w->off ? w->off : s,
			 b = s + sec < w->off + w->len ? s + sec : w->off + w->len;
		uint64_t r = ff_rand(rng);

		if (model == FF_GARBLE) {
			if (r % 4 == 0) {
				/* Garbage where the write changed bytes: rewriting a byte with
				 * its own value is assumed safe ("powersafe overwrite", as
				 * SQLite assumes of modern disks); O_DIRECT relies on it. */
				for (uint64_t i = a; i < b; i++)
					if (i >= *len || img[i] != w->bytes[i - w->off])
						img[i] = (uint8_t)ff_rand(rng);
				if (b > *len)
					*len = b;
			} else if (r % 4 != 1) {
				ff_apply(img, len, a, w->bytes + (a - w->off), (uint32_t)(b - a));
			}
		} else if (r & 1) {
			ff_apply(img, len, a, w->bytes + (a - w->off), (uint32_t)(b - a));
		}
	}
}

static void ff_crash_inode(struct ff_inode *dst, const struct ff_inode *src, unsigned model,
			   uint64_t *rng)
{
	uint32_t keep = 0;

	dst->used = true;
	if (src->cap == 0)
		return; /* created, never written: no image to copy (memcpy from NULL is UB) */
	ff_grow(dst, src->cap);
	memcpy(dst->dur, src->dur, src->cap);
	dst->dur_len = src->dur_len;
	if (model == FF_KEEP_ALL || model >= FF_TORN_512)
		keep = src->n_pend;
	else if (model == FF_PREFIX && src->n_pend)
		keep = (uint32_t)(ff_rand(rng) % (src->n_pend + 1));
	for (uint32_t i = 0; i < src->n_pend; i++) {
		bool take = i < keep || (model == FF_SUBSET && (ff_rand(rng) & 1));

		if (take)
			ff_crash_write(dst->dur, &dst->dur_len, &src->pend[i], model, rng);
	}
	memcpy(dst->cur, dst->dur, dst->cap);
	dst->cur_len = dst->dur_len;
}

struct fakefs *fakefs_crash(const struct fakefs *f, unsigned model, uint64_t seed)
{
	struct fakefs *g = fakefs_new();
	uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;
	uint32_t k;

	if (!g)
		abort();
	/* The directory: what was synced, then a prefix of the changes since. */
	memcpy(g->cur, f->dur, sizeof(g->cur));
	k = model == FF_KEEP_NONE  ? 0
	    : model == FF_KEEP_ALL ? f->n_dirops
				   : (uint32_t)(ff_rand(&rng) % (f->n_dirops + 1));
	for (uint32_t i = 0; i < k; i++) {
		const struct ff_dirop *o = &f->dirops[i];
		int a = ff_lookup(g->cur, o->a);

		if (o->kind == DOP_CREATE && a < 0)
			ff_dent_add(g->cur, o->a, o->ino);
		else if (o->kind == DOP_UNLINK && a >= 0)
			g->cur[a].ino = -1;
		else if (o->kind == DOP_RENAME && a >= 0) {
			int b = ff_lookup(g->cur, o->b);

			if (b >= 0)
				g->cur[b].ino = -1;
			snprintf(g->cur[a].name, FF_NAME, "%s", o->b);
		}
	}
	memcpy(g->dur, g->cur, sizeof(g->dur));
	for (int i = 0; i < FF_FILES; i++) {
		int ino = g->cur[i].ino;

		if (ino >= 0 && !g->ino[ino].used)
			ff_crash_inode(&g->ino[ino], &f->ino[ino], model, &rng);
	}
	return g;
}
