/*
 * ident: the name a program speaks as when the user gave none.
 *
 * The default is $DS_NAME when it is set, else the host name cut at its
 * first dot, with every byte that is not allowed in a name turned into
 * '-', and at most 64 bytes.  dssend, dsrecv -e and later the hub and the
 * peer all use the same rule, so one host is one name by default.
 */
#ifndef DS_IDENT_H
#define DS_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * Fill dst (PROTO_NAME_MAX + 1 bytes) with the default name.  Returns 0,
 * or -1 with a one-line reason in err when $DS_NAME is set but invalid.
 */
int ident_default(char *dst, char *err, size_t errlen);

/*
 * Message ids.  Without a user's choice, ids are "<start>-<n>": the time
 * the sequence began in microseconds, a dash, and a counter from 1.  They
 * increase within a run and differ between runs of one sender.  A
 * user's decimal id N gives N, N+1, ...; any other user id is repeated
 * as it is on every message.
 *
 * The id is kept as encoded text and counted up in place, so a tool that
 * sends millions of frames pays no number formatting per frame.
 */
#define IDENT_TEXT_MAX (3 * PROTO_TOKEN_MAX)
struct ident_seq {
	char text[IDENT_TEXT_MAX + 1];   /* the id, percent-encoded */
	size_t len;
	size_t digits_at;   /* where the counted digits start */
	int mode;           /* IDENT_AUTO, IDENT_COUNT or IDENT_FIXED */
	int started;
};
enum { IDENT_AUTO, IDENT_COUNT, IDENT_FIXED };

/* Start a sequence; user may be NULL.  -1 when user is empty or too long. */
int ident_seq_init(struct ident_seq *s, const char *user);

/* The length of the id the next call will give, encoded. */
size_t ident_seq_peek_len(const struct ident_seq *s);

/*
 * The next id, encoded, as a pointer into s that stays valid until the
 * next call; its length goes to *len.
 */
const char *ident_seq_next(struct ident_seq *s, size_t *len);

#endif
