/* F_SETPIPE_SZ is a Linux extension; ask for it where it exists. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/resource.h>
#include <time.h>
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

long long
io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
outq_init(struct outq *q, int fd)
{
	q->fd = fd;
	buf_init(&q->copy, (size_t)-1);
	q->mark = 0;
	q->n = 0;
	q->borrowed = 0;
}

void
outq_free(struct outq *q)
{
	buf_free(&q->copy);
}

size_t
outq_pending(const struct outq *q)
{
	size_t total = buf_len(&q->copy) - q->mark;
	int i;

	for (i = 0; i < q->n; i++)
		total += q->piece[i].len;
	return total;
}

int
outq_copy(struct outq *q, const void *p, size_t n)
{
	return buf_append(&q->copy, p, n) == BUF_OK ? 0 : -1;
}

/* Close the run of copied bytes not yet in piece[] as a piece. */
static void
seal(struct outq *q)
{
	size_t len = buf_len(&q->copy);

	if (len > q->mark) {
		struct outq_piece *c = &q->piece[q->n++];

		c->p = NULL;
		c->off = q->mark;
		c->len = len - q->mark;
		q->mark = len;
	}
}

int
outq_borrow(struct outq *q, const void *p, size_t n)
{
	struct outq_piece *c;

	if (n == 0)
		return 0;
	/* Room for a sealed copy run, this piece, and the run after it. */
	if (q->n + 3 > OUTQ_PIECES && outq_flush(q) < 0)
		return -1;
	seal(q);
	c = &q->piece[q->n++];
	c->p = p;
	c->off = 0;
	c->len = n;
	q->borrowed++;
	return 0;
}

int
outq_put(struct outq *q, const void *p, size_t n)
{
	if (n >= OUTQ_BORROW_AT)
		return outq_borrow(q, p, n);
	if (outq_copy(q, p, n) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
outq_flush(struct outq *q)
{
	struct iovec iov[OUTQ_PIECES];
	int i;

	seal(q);
	/* The copy buffer may have moved since: offsets make it right. */
	for (i = 0; i < q->n; i++) {
		iov[i].iov_base = (void *)(q->piece[i].p != NULL ?
		    q->piece[i].p : buf_head(&q->copy) + q->piece[i].off);
		iov[i].iov_len = q->piece[i].len;
	}
	if (io_writev_all(q->fd, iov, q->n) < 0)
		return -1;
	buf_clear(&q->copy);
	q->mark = 0;
	q->n = 0;
	q->borrowed = 0;
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

int
io_remaining_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - io_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

void
io_raise_nofile(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > want ? want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}
