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
 */
#define IDENT_ID_MAX 64
struct ident_seq {
	char prefix[IDENT_ID_MAX + 1];
	size_t prefix_len;
	uint64_t next;
	int mode;          /* IDENT_AUTO, IDENT_COUNT or IDENT_FIXED */
};
enum { IDENT_AUTO, IDENT_COUNT, IDENT_FIXED };

/* Start a sequence; user may be NULL.  -1 when user is too long. */
int ident_seq_init(struct ident_seq *s, const char *user);
/* Write the next id into dst (IDENT_ID_MAX + 1 bytes); returns length. */
size_t ident_seq_next(struct ident_seq *s, char *dst);

#endif
