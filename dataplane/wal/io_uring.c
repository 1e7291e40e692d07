/* The WAL's io_uring backend: registered files, fixed buffers, linked write + fdatasync. */
#define _GNU_SOURCE /* O_DIRECT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal_io.h"

/*
 * One ring per persistence core (DESIGN.md §5). Files are registered in a sparse
 * table and every queued operation names its slot (IOSQE_FIXED_FILE), which spares
 * the kernel a file lookup and reference per operation. The plain descriptor is kept
 * for the synchronous calls.
 */
struct uring_io {
	struct io_uring ring;
	int dir_fd;
	unsigned n_files;
	int *fds; /* slot -> descriptor, -1 when free */
	unsigned n_bufs;
	unsigned queued; /* SQEs queued since the last submit */
};

static int uring_slot_fd(struct uring_io *u, int fh)
{
	if (fh < 0 || (unsigned)fh >= u->n_files || u->fds[fh] < 0)
		return -EBADF;
	return u->fds[fh];
}

static int uring_open(void *io, const char *name, unsigned flags)
{
	struct uring_io *u = io;
	int oflags = O_CLOEXEC, fd, slot = -1, rc;

	for (unsigned i = 0; i < u->n_files; i++) {
		if (u->fds[i] < 0) {
			slot = (int)i;
			break;
		}
	}
	if (slot < 0)
		return -EMFILE;
	oflags |= (flags & SL_WAL_IO_WRITE) ? O_RDWR : O_RDONLY;
	oflags |= (flags & SL_WAL_IO_CREATE) ? O_CREAT | O_EXCL : 0;
	oflags |= (flags & SL_WAL_IO_DIRECT) ? O_DIRECT : 0;
	oflags |= (flags & SL_WAL_IO_DSYNC) ? O_DSYNC : 0;
	fd = openat(u->dir_fd, name, oflags, 0640);
	if (fd < 0)
		return -errno;
	rc = io_uring_register_files_update(&u->ring, (unsigned)slot, &fd, 1);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	u->fds[slot] = fd;
	return slot;
}

static int uring_close(void *io, int fh)
{
	struct uring_io *u = io;
	int fd = uring_slot_fd(u, fh), none = -1;

	if (fd < 0)
		return fd;
	io_uring_register_files_update(&u->ring, (unsigned)fh, &none, 1);
	u->fds[fh] = -1;
	return close(fd) == 0 ? 0 : -errno;
}

static int uring_prealloc(void *io, int fh, uint64_t len)
{
	int fd = uring_slot_fd(io, fh);

	if (fd < 0)
		return fd;
	/* posix_fallocate returns the error; it never sets errno. */
	return -posix_fallocate(fd, 0, (off_t)len);
}

static ssize_t uring_pread(void *io, int fh, void *buf, size_t len, uint64_t off)
{
	int fd = uring_slot_fd(io, fh);
	size_t done = 0;

	if (fd < 0)
		return fd;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static ssize_t uring_pwrite(void *io, int fh, const void *buf, size_t len, uint64_t off)
{
	int fd = uring_slot_fd(io, fh);
	size_t done = 0;

	if (fd < 0)
		return fd;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int uring_fsync(void *io, int fh)
{
	int fd = uring_slot_fd(io, fh);

	if (fd < 0)
		return fd;
	return fsync(fd) == 0 ? 0 : -errno;
}

static int uring_rename(void *io, const char *from, const char *to)
{
	struct uring_io *u = io;

	return renameat(u->dir_fd, from, u->dir_fd, to) == 0 ? 0 : -errno;
}

static int uring_unlink(void *io, const char *name)
{
	struct uring_io *u = io;

	return unlinkat(u->dir_fd, name, 0) == 0 ? 0 : -errno;
}

static int uring_sync_dir(void *io)
{
	struct uring_io *u = io;

	return fsync(u->dir_fd) == 0 ? 0 : -errno;
}

static int uring_list(void *io, int (*fn)(void *arg, const char *name), void *arg)
{
	struct uring_io *u = io;
	int fd = dup(u->dir_fd), rc = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			rc = fn(arg, de->d_name);
	}
	closedir(d);
	return rc;
}

static int uring_register_buf(void *io, void *buf, size_t len)
{
	struct uring_io *u = io;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int rc;

	/* One registered buffer: the staging area of O_DIRECT writes. */
	if (u->n_bufs > 0)
		return -EBUSY;
	rc = io_uring_register_buffers(&u->ring, &iov, 1);
	if (rc < 0)
		return rc;
	return (int)u->n_bufs++;
}

/*
 * An SQE for an operation on registered file fh, or NULL with *err set. Never submits
 * on its own: a linked chain must reach the kernel in one piece, so the WAL sizes the
 * ring for its largest chain plus its reads.
 */
static struct io_uring_sqe *uring_sqe(struct uring_io *u, int fh, int *err)
{
	struct io_uring_sqe *sqe;

	if (uring_slot_fd(u, fh) < 0) {
		*err = -EBADF;
		return NULL;
	}
	sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		*err = -EBUSY;
		return NULL;
	}
	u->queued++;
	return sqe;
}

static int uring_write(void *io, int fh, uint64_t off, const struct iovec *iov, unsigned n,
		       int buf_index, bool link, uint64_t tag)
{
	struct uring_io *u = io;
	struct io_uring_sqe *sqe;
	int err;

	if (buf_index >= 0 && n != 1)
		return -EINVAL;
	sqe = uring_sqe(u, fh, &err);
	if (!sqe)
		return err;
	if (buf_index >= 0)
		io_uring_prep_write_fixed(sqe, fh, iov[0].iov_base, (unsigned)iov[0].iov_len, off,
					  buf_index);
	else
		io_uring_prep_writev(sqe, fh, iov, n, off);
	sqe->flags |= IOSQE_FIXED_FILE | (link ? IOSQE_IO_LINK : 0);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_datasync(void *io, int fh, bool link, uint64_t tag)
{
	struct io_uring_sqe *sqe;
	int err;

	sqe = uring_sqe(io, fh, &err);
	if (!sqe)
		return err;
	io_uring_prep_fsync(sqe, fh, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_FIXED_FILE | (link ? IOSQE_IO_LINK : 0);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_read(void *io, int fh, uint64_t off, void *buf, uint32_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe;
	int err;

	sqe = uring_sqe(io, fh, &err);
	if (!sqe)
		return err;
	io_uring_prep_read(sqe, fh, buf, len, off);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_submit(void *io)
{
	struct uring_io *u = io;
	int rc;

	if (u->queued == 0)
		return 0;
	rc = io_uring_submit(&u->ring);
	if (rc >= 0)
		u->queued = 0;
	return rc;
}

static int uring_reap(void *io, struct sl_wal_cqe *out, unsigned max, bool wait)
{
	struct uring_io *u = io;
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	if (wait && max > 0) {
		int rc = io_uring_wait_cqe(&u->ring, &cqe);

		if (rc < 0)
			return rc;
	}
	while (n < max && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		out[n].tag = io_uring_cqe_get_data64(cqe);
		out[n].res = cqe->res;
		n++;
		io_uring_cqe_seen(&u->ring, cqe);
	}
	return (int)n;
}

static void uring_destroy(void *io)
{
	struct uring_io *u = io;

	for (unsigned i = 0; i < u->n_files; i++)
		if (u->fds[i] >= 0)
			close(u->fds[i]);
	io_uring_queue_exit(&u->ring);
	close(u->dir_fd);
	free(u->fds);
	free(u);
}

int sl_wal_uring_create(const char *dir, unsigned entries, unsigned files, void **io)
{
	struct uring_io *u = calloc(1, sizeof(*u));
	int rc = -ENOMEM;

	if (!u)
		return -ENOMEM;
	u->fds = malloc(files * sizeof(int));
	if (!u->fds)
		goto out_free;
	for (unsigned i = 0; i < files; i++)
		u->fds[i] = -1;
	u->n_files = files;
	u->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u->dir_fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = io_uring_queue_init(entries, &u->ring, 0);
	if (rc < 0)
		goto out_close_dir;
	rc = io_uring_register_files_sparse(&u->ring, files);
	if (rc < 0)
		goto out_exit_ring;
	*io = u;
	return 0;

out_exit_ring:
	io_uring_queue_exit(&u->ring);
out_close_dir:
	close(u->dir_fd);
out_free:
	free(u->fds);
	free(u);
	return rc;
}

const struct sl_wal_io_ops sl_wal_uring_ops = {
	.open = uring_open,
	.close = uring_close,
	.prealloc = uring_prealloc,
	.pread = uring_pread,
	.pwrite = uring_pwrite,
	.fsync = uring_fsync,
	.rename = uring_rename,
	.unlink = uring_unlink,
	.sync_dir = uring_sync_dir,
	.list = uring_list,
	.register_buf = uring_register_buf,
	.write = uring_write,
	.datasync = uring_datasync,
	.read = uring_read,
	.submit = uring_submit,
	.reap = uring_reap,
	.destroy = uring_destroy,
};
