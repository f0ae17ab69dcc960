/*
 * client: one connection to a hub, as dssend -c, dsrecv -c and dsctl
 * make it (see dsproto(7), "The hub").
 *
 * client_init() takes a comma-separated list of hub addresses (a Unix
 * socket path in it must not hold a comma); client_connect() tries them
 * in turn, starting with c->next, until one accepts the hello (and,
 * with a key, the challenge both ways), and leaves c->next at the one
 * that answered, so that a program that connects again tries that hub
 * first.  The address "-" means the hub connection is our standard
 * input and output (dsd -x workers, ssh); they are made non-blocking
 * while connected and put back by client_close(), and since writes to
 * them are plain write(2)s, such a program should ignore SIGPIPE (on a
 * socket, the client never raises it).  The connection is
 * blocking-free: its fds are non-blocking, and every call that waits
 * takes a deadline.
 *
 *   struct client c;
 *   if (client_init(&c, &opts, err, sizeof err) == -1 ||
 *       client_connect(&c, err, sizeof err) == -1) die...
 *   client_send(&c, &hdr, body, len);
 *   client_flush(&c, timeout_ms);
 *   while ((r = client_recv(&c, timeout_ms, &m, err, sizeof err)) == 1)
 *       ...;
 *   client_free(&c);
 *
 * A program with its own poll(2) loop watches client_fd_in() for
 * POLLIN (and client_fd_out() for POLLOUT while client_pending() is not
 * 0), calls client_read() when it is readable, then client_next() until
 * it returns 0, and client_write() when it is writable.  Frames may be
 * buffered already before the first poll (they can come with the hub's
 * hello, or be read by client_flush()), so call client_next() until it
 * returns 0 before every wait.
 *
 * Pings addressed to a name we hold are answered (queued; written by the
 * next call that writes) inside client_next()/client_recv() and never
 * handed to the caller; a ping to "*" is dropped.  Nothing here prints
 * or exits; calls return -1 with errno and fill the caller's err:
 *   ETIMEDOUT       a deadline passed                      (exit 4)
 *   ECONNREFUSED, ENOENT, ECONNRESET, EPIPE and the like:
 *                   no hub could be reached, or it went away (exit 3)
 *   EACCES          authentication failed, or the key setup of the hub
 *                   and ours do not match                  (exit 1)
 *   EPROTO          a protocol error: a bad frame, a refused hello
 *                                                          (exit 1)
 *   EMSGSIZE        a body over the hub's limit            (exit 1)
 *   EINVAL          from client_init: a bad address list, name or
 *                   credit                                 (exit 2)
 *   EBADMSG         from client_init: an empty or too large key file
 *                                                          (exit 1)
 */
#ifndef DS_CLIENT_H
#define DS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "buf.h"
#include "proto.h"

#define CLIENT_DEFAULT_HUB "127.0.0.1:7070"
#define CLIENT_HUBS_MAX 16
#define CLIENT_ADDR_MAX 256     /* bytes in one address, with its NUL */
#define CLIENT_CREDIT_MAX 1024  /* the highest credit a hello may carry */

struct client_opts {
	const char *hubs;       /* "a,b,c"; NULL: $DS_HUB, else the default */
	const char *name;       /* the name to claim; NULL: ident_default() */
	const char *keyfile;    /* NULL: $DS_KEY, else no key; "": no key */
	int timeout_ms;         /* connect and hello, per hub; <0: none */
	uint64_t max_body;      /* our body limit for what we read; 0: 16 MiB */
	unsigned credit;        /* hello credit=N: jobs run at once; 0: none */
};

struct client {
	struct client_opts o;
	char name[PROTO_NAME_MAX + 1];
	char hub[PROTO_NAME_MAX + 1];     /* the hub's name, from its hello */
	char addr[CLIENT_ADDR_MAX];       /* the address that answered */
	uint64_t hub_max;                 /* the hub's body limit; 0: unknown */
	uint64_t hub_queue;               /* its per-connection queue */
	int rfd, wfd;                     /* one socket, or 0 and 1 for "-"; -1 */
	int next;                         /* the hub to try first next time */
	int have_key;
	struct auth_key key;
	struct proto_parser p;
	struct buf in;                    /* bytes read, not yet parsed */
	struct buf out;                   /* frames to write */
	uint64_t seq;                     /* for ids the client makes */
	/* The parsed list of hub addresses. */
	int nhubs;
	char hubs[CLIENT_HUBS_MAX][CLIENT_ADDR_MAX];
	size_t used;        /* bytes of in under the frame last returned */
	int eof;            /* the hub closed its side */
	int is_std;         /* connected through "-" */
	int std_fl[2];      /* the O_NONBLOCK state of fds 0 and 1 before */
};

/*
 * Copy the options (the strings are borrowed, but the hub list is
 * parsed and copied here), check the name, and load the key, if any.
 * 0, or -1 with errno (EINVAL, EBADMSG, or that of reading the key file)
 * and err.  After a failure there is nothing to free.
 */
int client_init(struct client *c, const struct client_opts *o, char *err,
    size_t errlen);

/*
 * Split a comma-separated list of hub addresses into out[0..max), each
 * checked with addr_parse() unless it is "-".  Returns the count, or -1
 * with errno EINVAL and err (an empty element, a bad address, more than
 * max of them).
 */
int client_parse_hubs(const char *list, char (*out)[CLIENT_ADDR_MAX],
    int max, char *err, size_t errlen);

/* Dial, hello, authenticate.  0, or -1 with errno and err. */
int client_connect(struct client *c, char *err, size_t errlen);

/* Close the connection; client_connect() may be called again. */
void client_close(struct client *c);
/* client_close(), free the buffers and wipe the key. */
void client_free(struct client *c);

/*
 * Queue a frame; nothing is written until client_flush() or
 * client_write().  0, or -1 with errno: EMSGSIZE when len is over the
 * hub's limit, EINVAL for a header proto_encode() refuses (a bad name,
 * type or field), ENOBUFS when the queue is full (flush first).
 */
int client_send(struct client *c, const struct proto_hdr *h, const void *body,
    size_t len);
/* Queue bytes that already are whole frames.  0, or -1 (ENOBUFS). */
int client_send_raw(struct client *c, const void *p, size_t n);

/*
 * Write what is queued, waiting at most timeout_ms (<0: no limit).
 * While it waits it also reads what the hub sends, so that neither side
 * stalls on the other; that ends the view of the last frame returned.
 * 0 or -1 with errno.
 */
int client_flush(struct client *c, int timeout_ms);

/*
 * Return the next whole frame from the hub in *m (a view into c, valid
 * until the next call on c that reads: client_recv, client_next,
 * client_read, client_flush, client_sync), waiting at most timeout_ms
 * (<0: no limit).  Queued output is written while it waits.
 * 1: a frame; 0: the hub closed the connection between frames; -1 with
 * errno and err.
 */
int client_recv(struct client *c, int timeout_ms, const struct proto_msg **m,
    char *err, size_t errlen);

/* For a program's own poll loop (see the top of this file). */
int client_fd_in(const struct client *c);
int client_fd_out(const struct client *c);
/* Bytes queued and not yet written. */
size_t client_pending(const struct client *c);
/*
 * Read what the hub has sent, without waiting.  Returns the bytes read
 * (> 0), 0 when the hub has closed its side, or -1 with errno: EAGAIN
 * when there is nothing now, ENOBUFS when the frames read are not taken
 * with client_next() first.
 */
ssize_t client_read(struct client *c, char *err, size_t errlen);
/*
 * The next whole frame among the bytes read, without reading: 1 with *m
 * (valid as for client_recv), 0 when more bytes are needed (or, after
 * client_read() returned 0, when nothing is left), or -1 with errno
 * EPROTO and err for a bad frame or one cut short by the hub's close.
 */
int client_next(struct client *c, const struct proto_msg **m, char *err,
    size_t errlen);
/* Write what is queued, without waiting.  0 (some may be left), or -1. */
int client_write(struct client *c);

/*
 * A fresh id for a frame of ours, written to dst with a NUL.
 */
void client_id(struct client *c, char dst[PROTO_TOKEN_MAX + 1]);

/*
 * Confirm that the hub has handled everything sent so far: send a ping
 * to the hub and wait at most timeout_ms for its reply.  Frames that
 * arrive first (err replies to earlier frames, say) are passed to fn, if
 * not NULL.  0, or -1 with errno and err (ECONNRESET when the hub closes
 * the connection first).
 */
typedef void client_frame_fn(void *ctx, const struct proto_msg *m);
int client_sync(struct client *c, int timeout_ms, client_frame_fn *fn,
    void *ctx, char *err, size_t errlen);

/*
 * The exit status for a client call that failed with errno e, by the
 * house rules: 4 for a deadline (ETIMEDOUT), 1 for a hub that refused us
 * or broke the protocol (EACCES, EPROTO, EMSGSIZE, EBADMSG), 2 for a bad
 * address or name (EINVAL), and 3 for anything else a retry may cure.
 */
int client_status(int e);

#endif
