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

/*
 * Write everything queued in b, then the n buffers of extra (which may be
 * NULL), in as few writev(2) calls as the kernel allows, and empty b.
 * Programs queue small frames in b and pass a large body as extra, so
 * that it goes out without being copied.  Returns 0, or -1 with errno.
 */
int io_flush(int fd, struct buf *b, const struct iovec *extra, int n);

/*
 * Ask the kernel for a larger pipe buffer where it allows that (Linux);
 * elsewhere, or on any failure, this does nothing.  Fewer, larger
 * transfers make a pipeline of framers cheaper.
 */
void io_grow_pipe(int fd);

#endif
