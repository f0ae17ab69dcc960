/*
 * ctlsrv: a small control server that speaks the client side of the hub
 * protocol (dsproto(7), "The hub"), so that dsctl(1) can talk to a
 * program that is not a hub, such as dspeer(1) on its -C socket.
 *
 * The server answers a client's hello as a hub named cfg.name would
 * (without authentication: the socket's mode is the protection), checks
 * that every later frame comes from the hello name, answers pings to its
 * name itself, and hands the rest to the program:
 *   - a frame of any other type to its name is a command: the first line
 *     of the body goes to cfg.cmd, and what it writes to *reply is the
 *     body of the rep (0) or of an err with status=1 and its reason (-1);
 *   - a frame to any other name, or to *, goes to cfg.msg, which answers
 *     nothing on success and an err with its reason and why on -1.
 * rep and err frames are never answered with an error, so two programs
 * cannot bounce errors at each other.
 *
 *   int fd = net_listen_mode(&a, SOMAXCONN, 0600, err, sizeof err);
 *   cfg.name = "a"; cfg.cmd = on_command; cfg.msg = on_message; ...
 *   struct ctlsrv *s = ctlsrv_new(loop, fd, &cfg, err, sizeof err);
 *   loop_run(loop);
 *   ctlsrv_free(s); close(fd); unlink(path);
 *
 * Limits: at most maxconn clients at once (more wait in the listen
 * backlog, as at dsd: the server stops accepting rather than accepting
 * and dropping); a body limit on what it reads (announced as max= in its
 * hello; a larger frame is a bad frame); an output queue per client of
 * queue bytes (announced as queue=).  A client's frames are handled only
 * while its queue holds less than half that, so a client that pipelines
 * requests is held back, not dropped; one that leaves its replies unread
 * for write_ms with the queue at that mark is closed.  The hello must
 * come within hello_ms, and a frame begun must not stall longer.
 *
 * Errors, as a hub sends them (reason=...): no-hello for a frame before
 * the hello and bad-frame for a malformed one (the connection is then
 * closed), timeout for a late hello or a stalled frame (closed too),
 * bad-hello for a hello that claims the server's name (closed) or comes
 * twice (kept open), not-yours for a frame from another name (kept open).
 * Only that client's connection pays for its mistakes.
 *
 * Nothing here prints or exits; faults (bad frames, timeouts, slow
 * clients, failed accepts) are reported through cfg.log, one line each.
 * Not for use from more than one thread.
 */
#ifndef DS_CTLSRV_H
#define DS_CTLSRV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"
#include "proto.h"

#define CTLSRV_MAXCONN 16
#define CTLSRV_MAX_BODY (64u * 1024)
#define CTLSRV_QUEUE (1u << 20)
#define CTLSRV_QUEUE_MIN 4096
#define CTLSRV_HELLO_MS 10000
#define CTLSRV_WRITE_MS 10000

struct ctlsrv;

/*
 * A command: line[0..n) is the first line of the body, without its
 * newline.  Append the answer to reply (at most half the queue; an
 * append that fails means the answer is too large) and return 0 for a
 * rep, or -1 for an err with status=1, reason=*reason (NULL stands for
 * bad-argument) and reply as its body: one line saying why (a newline is
 * added when it lacks one).
 */
typedef int ctlsrv_cmd_fn(void *ctx, const char *line, size_t n,
    struct buf *reply, const char **reason);

/*
 * A frame to another name, or to *, from the client's own name.  Return
 * 0 when it was taken (nothing is sent back), or -1 to refuse it: the
 * client gets an err with re= the frame's id, status=1,
 * reason=*reason (NULL stands for no-route) and why, one line, as the
 * body (up to 1 KiB; a newline is added).  The frame is a view that
 * lasts only during the call.
 */
typedef int ctlsrv_msg_fn(void *ctx, const struct proto_msg *m,
    struct buf *why, const char **reason);

typedef void ctlsrv_log_fn(void *ctx, const char *line);

struct ctlsrv_config {
	size_t maxconn;          /* clients at once; 0: CTLSRV_MAXCONN */
	uint64_t max_body;       /* body limit of what we read, up to
	                            PROTO_BODY_DEFAULT; 0: CTLSRV_MAX_BODY */
	size_t queue;            /* per client, at least CTLSRV_QUEUE_MIN;
	                            0: CTLSRV_QUEUE */
	int hello_ms;            /* <= 0: CTLSRV_HELLO_MS */
	int write_ms;            /* <= 0: CTLSRV_WRITE_MS */
	ctlsrv_cmd_fn *cmd;      /* NULL: every command is unknown-command */
	ctlsrv_msg_fn *msg;      /* NULL: every such frame is no-route */
	void *ctx;               /* for cmd and msg */
	ctlsrv_log_fn *log;      /* NULL: no log */
	void *log_ctx;
};

/*
 * Serve the listening socket lfd (made non-blocking here) on l as name,
 * with cfg (copied; NULL for every default).  The loop needs room for
 * maxconn more fds.  lfd stays the caller's: it is taken off the loop by
 * ctlsrv_free(), not closed.  NULL with errno and err (EINVAL for a bad
 * name or config, ENOMEM, or loop_add's).
 */
struct ctlsrv *ctlsrv_new(struct loop *l, int lfd, const char *name,
    const struct ctlsrv_config *cfg, char *err, size_t errlen);

/*
 * Close every client, after one write, without waiting, of what it has
 * queued (so that the answer to a last command such as "leave" is not
 * lost when the program exits right after), and free the server.  Not
 * from a callback of the server's.
 */
void ctlsrv_free(struct ctlsrv *s);

/*
 * Stop accepting and reading; each client is closed once what is queued
 * for it is written (or after write_ms).  Safe from the callbacks.
 * ctlsrv_clients() reaches 0 when it is done.
 */
void ctlsrv_drain(struct ctlsrv *s);

/* Clients connected now, said hello or not. */
size_t ctlsrv_clients(const struct ctlsrv *s);

#endif
