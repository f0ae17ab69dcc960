#include "rec.h"

#include <errno.h>
#include <string.h>

#include "io.h"

/* Read this much at a time: few system calls, a small buffer. */
#define REC_READ (256 * 1024)

void
rec_init(struct rec *r, int fd, char sep, size_t max)
{
	r->fd = fd;
	r->sep = sep;
	r->max = max;
	buf_init(&r->in, max + REC_READ + 1);
	r->scanned = 0;
	r->used = 0;
	r->eof = 0;
	r->count = 0;
}

void
rec_free(struct rec *r)
{
	buf_free(&r->in);
}

int
rec_next(struct rec *r, const char **p, size_t *n)
{
	/* buf_consume(), by hand: this runs once per record. */
	r->in.start += r->used;
	if (r->in.start == r->in.end)
		r->in.start = r->in.end = 0;
	r->used = 0;
	for (;;) {
		char *head = buf_head(&r->in);
		size_t len = buf_len(&r->in);
		char *hit;
		ssize_t got;

		/* Only bytes not searched before need a look. */
		hit = len > r->scanned ? memchr(head + r->scanned, r->sep,
		    len - r->scanned) : NULL;
		if (hit != NULL || (r->eof && len > 0)) {
			size_t rlen = hit != NULL ? (size_t)(hit - head) : len;

			if (rlen > r->max)
				return REC_LONG;
			*p = head;
			*n = rlen;
			r->used = hit != NULL ? rlen + 1 : rlen;
			r->scanned = 0;
			r->count++;
			return REC_OK;
		}
		if (r->eof)
			return REC_END;
		r->scanned = len;
		if (len > r->max)
			return REC_LONG;
		if (buf_reserve(&r->in, REC_READ) != BUF_OK) {
			errno = ENOMEM;
			return REC_SYS;
		}
		got = io_read_some(r->fd, buf_tail(&r->in), REC_READ);
		if (got < 0)
			return REC_SYS;
		if (got == 0)
			r->eof = 1;
		buf_commit(&r->in, (size_t)got);
	}
}
