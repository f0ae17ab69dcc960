/*
 * svc: the service contract shared by "dsrecv -e" and "dsd -e".
 *
 * A message is served by running a command with the body on its stdin
 * and the header in its environment:
 *
 *   DS_FROM DS_TO DS_ID DS_RE DS_TYPE DS_LEN   the well-known fields
 *   DS_<KEY>                                   every other field, with the
 *                                              key upper-cased and '-'
 *                                              turned into '_'
 *   DS_NAME                                    the name the service
 *                                              answers as
 *
 * Values are percent-decoded; one that would decode to hold a NUL byte is
 * passed as written.  When the command ends, svc_reply() makes the answer:
 * type=rep with its stdout as the body if it exited 0, else type=err with
 * a status field and its stderr as the body.  The reply goes from the
 * service to the requester and carries re=<the request's id>.
 */
#ifndef DS_SVC_H
#define DS_SVC_H

#include "buf.h"
#include "child.h"
#include "proto.h"

/* Room for an environment: the inherited one plus one entry per field. */
struct svc_env {
	char **envp;          /* NULL-terminated, for execve */
	size_t n, cap;
	struct buf strings;   /* backing store for the DS_* entries */
};

void svc_env_init(struct svc_env *e);
void svc_env_free(struct svc_env *e);

/*
 * Build the environment for serving m as self: the process environment
 * without any DS_* variable the message could set, plus the message's.
 * Returns 0, or -1 when memory runs out.
 */
int svc_env_build(struct svc_env *e, const struct proto_msg *m,
    const char *self);

/* Is this a message a service should run?  Replies and errors are not. */
int svc_wants(const struct proto_msg *m);

/*
 * Append the reply to req to out, given how the handler ended and what it
 * wrote.  Returns 0 or a PROTO_E_* code.
 */
int svc_reply(struct buf *out, const struct proto_msg *req,
    const char *self, const struct child_result *r, const struct buf *sout,
    const struct buf *serr, uint64_t max_body);

#endif
