/*
 * buf: a growable byte buffer with a read position and a hard size limit.
 *
 * Bytes are appended at the end and consumed from the front, so the same
 * struct serves as a connection's input buffer (read into the free tail,
 * parse from the front) and as an output queue (encode at the end, write
 * from the front).  Every buffer has a limit; an append that would pass it
 * fails with BUF_FULL instead of growing, so no peer can make us allocate
 * without bound.
 */
#ifndef DS_BUF_H
#define DS_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t start;   /* first unconsumed byte */
	size_t end;     /* one past the last byte */
	size_t cap;     /* allocated size */
	size_t limit;   /* most bytes it may ever hold (end - start) */
};

enum { BUF_OK = 0, BUF_FULL = -1, BUF_NOMEM = -2 };

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);

/* Bytes waiting to be consumed, and where they start. */
static inline size_t buf_len(const struct buf *b) { return b->end - b->start; }
/* An empty buffer may have no memory yet: no arithmetic on NULL. */
static inline char *buf_head(const struct buf *b)
{
	return b->data != NULL ? b->data + b->start : NULL;
}

/*
 * Make room for n more bytes after the end; compacts or grows.  On BUF_OK,
 * buf_tail() has at least n writable bytes; commit them with buf_commit().
 */
int buf_reserve(struct buf *b, size_t n);
static inline char *buf_tail(const struct buf *b)
{
	return b->data != NULL ? b->data + b->end : NULL;
}
static inline size_t buf_room(const struct buf *b) { return b->cap - b->end; }
void buf_commit(struct buf *b, size_t n);

int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, char c);

/* Drop n bytes from the front; an emptied buffer rewinds to offset 0. */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);

#endif
