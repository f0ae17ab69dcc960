/*
 * rec: cut a byte stream into records that end in a separator (a newline
 * for lines, a NUL for -0 records), in memory bounded by the longest
 * record allowed, not by the size of the stream.
 *
 * rec_next() hands out each record as a view into its buffer, without
 * the separator; the view stays valid until the next call.  A last
 * record without its separator is still a record.  dssend -l and -0 read
 * their input this way, and so can any tool that takes one job per line.
 */
#ifndef DS_REC_H
#define DS_REC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct rec {
	int fd;
	char sep;
	size_t max;         /* the longest record allowed */
	struct buf in;
	size_t scanned;     /* bytes at the head already searched */
	size_t used;        /* the last record handed out, and its separator */
	int eof;
	uint64_t count;     /* records handed out so far */
};

enum {
	REC_END = 0,    /* no more records */
	REC_OK = 1,     /* *p and *n hold the next record */
	REC_SYS = -1,   /* a read failed or memory ran out; see errno */
	REC_LONG = -2   /* record count + 1 is longer than max */
};

void rec_init(struct rec *r, int fd, char sep, size_t max);
void rec_free(struct rec *r);
int rec_next(struct rec *r, const char **p, size_t *n);

#endif
