/*
 * hub: the routing core of dsd, on one poll(2) loop.
 *
 * A hub owns connections (accepted from listening sockets, or one given
 * to it on stdin and stdout), the names they hold, the local services it
 * runs itself, and the counters that "stats" reports.  Every rule it
 * follows is written in dsproto(7), "The hub": clients say hello with a
 * name, the hub checks every from against the names a connection holds,
 * and delivers to=NAME to one holder in turn, to=NAME fan=all to every
 * holder, and to=* to every client.
 *
 * Limits are what keep one client from hurting the others: a bounded
 * output queue per connection, with producers held back (not dropped)
 * while their destinations are full, and a consumer that stays over its
 * queue past the write deadline disconnected; a high-water mark on all
 * queued bytes, past which no connection is read until they drain;
 * deadlines for the hello, for a frame that stalls half-way and, if
 * asked, for an idle connection; and a cap on connections, at which the
 * hub stops accepting rather than accepting and dropping.
 *
 *   struct hub *h = hub_new(loop, &cfg, err, sizeof err);
 *   hub_listen(h, fd, 0);               // for each -l, or activation
 *   hub_service(h, "sum", "awk ...");    // for each -e
 *   loop_run(loop);                      // until hub_done()
 *
 * The hub takes SIGCHLD (through its runner) but no other signal: the
 * program calls hub_drain() on SIGTERM.  It reports through cfg.log, one
 * line at a time, and never prints or exits.
 */
#ifndef DS_HUB_H
#define DS_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "loop.h"

struct hub;

typedef void hub_log_fn(void *ctx, const char *line);

struct hub_config {
	const char *name;          /* the hub's own name */
	size_t maxconn;            /* clients at once */
	uint64_t max_body;         /* body limit of what the hub reads */
	size_t queue;              /* output queue per connection, bytes */
	size_t high_water;         /* all queues together; 0: the default */
	int write_ms;              /* slow-consumer deadline */
	int hello_ms;              /* hello, and a stalled frame */
	int idle_ms;               /* 0: no idle timeout */
	size_t max_children;       /* local service handlers at once */
	int child_ms;              /* a handler's deadline; <0: none */
	int keepalive_ms;          /* ping a quiet worker; <0: never */
	size_t jobs_max;           /* jobs waiting in all queues */
	const struct auth_key *key; /* NULL: no authentication */
	int verbose;               /* log connections, not only faults */
	hub_log_fn *log;
	void *log_ctx;
};

/* Defaults for the fields the program leaves 0. */
#define HUB_MAXCONN 1024
#define HUB_QUEUE (1u << 20)
#define HUB_HIGH_WATER_MIN (64u << 20)
#define HUB_WRITE_MS 10000
#define HUB_HELLO_MS 10000
#define HUB_CHILDREN 16
#define HUB_CHILD_MS 60000
#define HUB_NAMES_PER_CONN 64
#define HUB_CONTROL_MAX 16          /* control connections, beside -c */
#define HUB_KEEPALIVE_MS 5000       /* a worker quiet twice this is lost */
#define HUB_CREDIT_MAX 1024         /* jobs one worker may take at once */
#define HUB_JOBS_MAX 65536          /* jobs waiting, in all queues */
#define HUB_JOBS_BYTES (64u << 20)  /* and their bytes */

/*
 * A hub on loop l.  The loop must have room for maxconn connections, the
 * listening sockets, and three pipes per handler.  NULL with err set.
 */
struct hub *hub_new(struct loop *l, const struct hub_config *cfg, char *err,
    size_t errlen);
void hub_free(struct hub *h);

/*
 * Accept connections on the listening socket fd (made non-blocking
 * here).  A control listener's clients may also kick and shut down.
 * 0, or -1 with errno.
 */
int hub_listen(struct hub *h, int fd, int control);

/*
 * Serve one connection that reads rfd and writes wfd (the same socket,
 * or stdin and stdout), and finish when it ends: hub_done() becomes true
 * and the loop is stopped.  Without a key, the hello is optional.
 */
int hub_single(struct hub *h, int rfd, int wfd);

/*
 * Serve one more client that reads rfd and writes wfd (a socketpair, a
 * child's pipes); peer names it in the log.  0, or -1 with errno.
 */
int hub_add(struct hub *h, int rfd, int wfd, const char *peer);

/*
 * Serve messages to name by running "sh -c cmd", as dsrecv -e does.
 * 0, or -1 with errno (EEXIST when name is already a service, EINVAL for
 * a bad name).
 */
int hub_service(struct hub *h, const char *name, const char *cmd);

/*
 * Start "sh -c cmd" as a supervised worker (dsd -x): its standard input
 * and output are a client connection of the hub, its standard error is
 * logged a line at a time as "x<N>: line", and it is started again,
 * with backoff, whenever it ends (see super.h).  Its connection's name
 * in the log, and in the worker= field of the replies it sends to jobs,
 * is x<N>, N counting from 1 in the order of the calls.  0, or -1 with
 * errno.
 */
int hub_worker(struct hub *h, const char *cmd);

/*
 * Stop accepting and reading, let the queued output and the running
 * handlers finish for at most deadline_ms, then stop the loop.
 */
void hub_drain(struct hub *h, int deadline_ms);

/* Connections open now, and bytes in their output queues. */
size_t hub_clients(const struct hub *h);
size_t hub_queued(const struct hub *h);

/* The loop was stopped because the hub is finished. */
int hub_done(const struct hub *h);

/*
 * The single connection (hub_single) ended on a protocol error: a bad or
 * truncated frame, a failed key, a deadline.  The program exits 1.
 */
int hub_failed(const struct hub *h);

#endif
