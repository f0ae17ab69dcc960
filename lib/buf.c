#include "buf.h"

#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t limit)
{
	b->data = NULL;
	b->start = b->end = b->cap = 0;
	b->limit = limit;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->limit);
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t used = b->end - b->start, want, ncap;
	char *p;

	if (n > b->limit - used)
		return BUF_FULL;
	if (b->cap - b->end >= n)
		return BUF_OK;
	/* Sliding the live bytes to the front is cheaper than growing. */
	if (b->start > 0 && b->cap - used >= n) {
		memmove(b->data, b->data + b->start, used);
		b->start = 0;
		b->end = used;
		return BUF_OK;
	}
	want = used + n;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want)
		ncap = ncap > ((size_t)-1) / 2 ? want : ncap * 2;
	/* want <= limit holds here, so capping at the limit still fits. */
	if (ncap > b->limit)
		ncap = b->limit;
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, used);
		b->start = 0;
		b->end = used;
	}
	p = realloc(b->data, ncap);
	if (p == NULL)
		return BUF_NOMEM;
	b->data = p;
	b->cap = ncap;
	return BUF_OK;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->end += n;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return BUF_OK;
	rc = buf_reserve(b, n);
	if (rc != BUF_OK)
		return rc;
	memcpy(b->data + b->end, p, n);
	b->end += n;
	return BUF_OK;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_append_byte(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

void
buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		b->start = b->end = 0;
}

void
buf_clear(struct buf *b)
{
	b->start = b->end = 0;
}
