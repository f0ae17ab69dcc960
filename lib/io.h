/*
 * io: whole reads and writes on blocking or non-blocking descriptors.
 *
 * The tools that run in a pipeline (dssend, dsrecv) want "write all of
 * this" and "read until full or end of file"; these helpers retry on EINTR
 * and on short counts, and wait with poll(2) when a descriptor someone
 * handed us turns out to be non-blocking.  They return 0 or -1 with errno
 * set; they never print.
 */
#ifndef DS_IO_H
#define DS_IO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "buf.h"

/* Write all n bytes.  Returns 0, or -1 with errno. */
int io_write_all(int fd, const void *p, size_t n);

/*
 * Write every byte described by iov[0..cnt).  The array is modified as
 * it is consumed.  Returns 0, or -1 with errno.
 */
int io_writev_all(int fd, struct iovec *iov, int cnt);

/*
 * Read until n bytes have arrived or end of file.  Returns the count
 * read (less than n only at end of file), or -1 with errno.
 */
ssize_t io_read_full(int fd, void *p, size_t n);

/* One read(2) that retries on EINTR and waits out EAGAIN. */
ssize_t io_read_some(int fd, void *p, size_t n);

/* Milliseconds on the monotonic clock, for deadlines. */
long long io_now_ms(void);

/*
 * Milliseconds left until deadline (an io_now_ms() value, or negative
 * for none), as poll(2) takes them: -1 for no deadline, never below 0,
 * at most INT_MAX.
 */
int io_remaining_ms(long long deadline);

/*
 * An output queue that writes with as few writev(2) calls as it can.
 * Small pieces (headers, short bodies) are copied into q->copy, where an
 * encoder may also write directly; large bodies are borrowed by pointer,
 * so they go out without a copy.  A borrowed piece must stay valid until
 * the next outq_flush(), so a program flushes before it reuses the memory
 * (before its next read, say).
 */
#define OUTQ_PIECES 64
struct outq {
	int fd;
	struct buf copy;
	size_t mark;        /* copy bytes before this are in piece[] */
	int n;
	int borrowed;       /* how many pieces are borrowed */
	struct outq_piece {
		const char *p;  /* borrowed bytes, or NULL for copy bytes */
		size_t off;     /* for copy bytes: their offset in copy */
		size_t len;
	} piece[OUTQ_PIECES];
};

void outq_init(struct outq *q, int fd);
void outq_free(struct outq *q);
/* Bytes waiting, copied or borrowed. */
size_t outq_pending(const struct outq *q);
/* Queue n bytes by copying them.  Returns 0, or -1 when memory runs out. */
int outq_copy(struct outq *q, const void *p, size_t n);
/* Queue n bytes by pointer.  Returns 0, or -1 with errno from a write. */
int outq_borrow(struct outq *q, const void *p, size_t n);
/*
 * Queue n bytes, borrowed when they are at least OUTQ_BORROW_AT bytes and
 * so worth the writev entry, else copied.  0, or -1 with errno.
 */
#define OUTQ_BORROW_AT (32 * 1024)
int outq_put(struct outq *q, const void *p, size_t n);
/* Write everything queued.  Returns 0, or -1 with errno. */
int outq_flush(struct outq *q);

/*
 * Ask the kernel for a larger pipe buffer where it allows that (Linux);
 * elsewhere, or on any failure, this does nothing.  Fewer, larger
 * transfers make a pipeline of framers cheaper.
 */
void io_grow_pipe(int fd);

/*
 * Raise the soft limit on open files to want, or as near as the hard
 * limit allows, when it is lower: room for many clients or handlers.
 */
void io_raise_nofile(size_t want);

#endif
