/*
 * pool: serve messages with a command, up to n at once, beside a loop:
 * dsrecv -e -P n.
 *
 * Each message is served by the service contract of lib/svc ("sh -c
 * command", the body on its stdin, the header as DS_* variables), run
 * through lib/runner so that the loop goes on moving bytes while the
 * handlers work.  When a handler ends, the done callback gets its reply
 * frame, already encoded by svc_reply(): replies come in the order the
 * handlers finish, not the order the messages came.
 *
 *   struct pool_opts o = { "./job.sh", 4, 4, 0, -1, 16 << 20 };
 *   struct pool *p = pool_new(loop, &o, on_reply, ctx);
 *   while (!pool_full(p) && (m = next_message()) != NULL)
 *       pool_start(p, m, "work", tag);
 *   ...
 *   static void on_reply(void *ctx, const struct pool_reply *r)
 *   { queue r->frame, r->len for the requester ... }
 *
 * A message that comes while all n handlers run may wait in the pool, in
 * order, up to max_waiting messages (and, beyond the first, max_wait_bytes
 * of frames): a program that must keep reading its input while the pool
 * is busy (a hub's pings come between the jobs) holds what it read there.
 * pool_full() says that neither a slot nor a place in the queue is free,
 * and then the caller stops reading.
 *
 * The pool owns the process's runner (lib/runner: one per process, which
 * takes SIGCHLD from the loop); each running handler takes up to three of
 * the loop's fds.  The caller ignores SIGPIPE.  Nothing here prints or
 * exits.
 */
#ifndef DS_POOL_H
#define DS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "child.h"
#include "loop.h"
#include "proto.h"

#define POOL_MAX 1024           /* the most handlers one pool runs at once */

struct pool;

struct pool_opts {
	const char *cmd;          /* the handler, for sh -c (copied) */
	size_t max_running;       /* handlers at once, 1..POOL_MAX */
	size_t max_waiting;       /* messages that may wait for a slot */
	size_t max_wait_bytes;    /* their frames' bytes, beyond the first;
	                             0: no bound but max_waiting */
	int timeout_ms;           /* per handler; < 0: none */
	uint64_t max_body;        /* reply bodies, and the handler's stdout
	                             and stderr that are kept */
};

/* How one message ended, for the done callback. */
struct pool_reply {
	uint64_t tag;             /* as given to pool_start() */
	const char *frame;        /* the reply, rep or err; NULL on failure */
	size_t len;
	const struct child_result *res;  /* NULL when it did not start */
	const struct buf *err;    /* the handler's stderr (NULL likewise) */
	int start_errno;          /* not 0: a waiting message's handler
	                             could not be started */
	int encode_rc;            /* not 0: svc_reply() failed (PROTO_E_*) */
};

/*
 * Called from the loop once per message pool_start() took, in the order
 * the handlers end.  r and what it points to are valid only during the
 * call.  The callback may call pool_start() (the pool has a free slot by
 * then), pool_limit() and pool_drop_waiting(), but not pool_free().
 */
typedef void pool_done_fn(void *ctx, const struct pool_reply *r);

/*
 * A pool on l.  NULL with errno: EINVAL for a bad option, EBUSY when the
 * process has a runner already, ENOMEM.
 */
struct pool *pool_new(struct loop *l, const struct pool_opts *o,
    pool_done_fn *done, void *ctx);

/*
 * Kill every running handler (SIGKILL to its process group), reap it,
 * forget waiting messages, all without calling back, and free the pool.
 * Before loop_free(l).
 */
void pool_free(struct pool *p);

/*
 * Serve m as self (the name the reply comes from, and DS_NAME): start a
 * handler now if a slot is free and nothing waits, else queue m.  What
 * is needed of m and self is copied.  0, or -1 with errno: ENOBUFS when
 * the pool is full, EINVAL for a self that is not a name, ENOMEM, or,
 * for a handler started at once, an error of runner_start() (the done
 * callback is not called then).
 */
int pool_start(struct pool *p, const struct proto_msg *m, const char *self,
    uint64_t tag);

/* No room for another message, running or waiting. */
int pool_full(const struct pool *p);
/* Handlers running (their callback not called yet), messages waiting. */
size_t pool_running(const struct pool *p);
size_t pool_waiting(const struct pool *p);

/*
 * Change max_body, for the handlers started and the replies made from
 * now on (dsrecv -c lowers it to the hub's limit).
 */
void pool_limit(struct pool *p, uint64_t max_body);

/* Forget the waiting messages without serving them; returns how many. */
size_t pool_drop_waiting(struct pool *p);

#endif
