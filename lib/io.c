/* F_SETPIPE_SZ is a Linux extension; ask for it where it exists. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

/* IOV_MAX is XSI; POSIX only promises 16. */
#ifndef IOV_MAX
#define IOV_MAX 16
#endif

static int
io_wait(int fd, short events)
{
	struct pollfd p;

	p.fd = fd;
	p.events = events;
	p.revents = 0;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
io_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (io_wait(fd, POLLOUT) < 0)
					return -1;
				continue;
			}
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
io_writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t w;
		int batch = cnt > IOV_MAX ? IOV_MAX : cnt;

		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		w = writev(fd, iov, batch);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (io_wait(fd, POLLOUT) < 0)
					return -1;
				continue;
			}
			return -1;
		}
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

ssize_t
io_read_some(int fd, void *p, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, p, n);

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (io_wait(fd, POLLIN) < 0)
				return -1;
			continue;
		}
		return -1;
	}
}

ssize_t
io_read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = io_read_some(fd, c + got, n - got);

		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
io_flush(int fd, struct buf *b, const struct iovec *extra, int n)
{
	struct iovec iov[8];
	int cnt = 0, i;

	if (n > 7)
		return -1;
	if (buf_len(b) > 0) {
		iov[cnt].iov_base = buf_head(b);
		iov[cnt++].iov_len = buf_len(b);
	}
	for (i = 0; i < n; i++)
		iov[cnt++] = extra[i];
	if (io_writev_all(fd, iov, cnt) < 0)
		return -1;
	buf_clear(b);
	return 0;
}

void
io_grow_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	/* 1 MiB is the default ceiling for unprivileged users. */
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#else
	(void)fd;
#endif
}
