/*
 * dsrecv: unframe ds1 messages, or serve each one with a command.
 * See dsrecv(1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/child.h"
#include "../lib/client.h"
#include "../lib/err.h"
#include "../lib/fmt.h"
#include "../lib/ident.h"
#include "../lib/io.h"
#include "../lib/loop.h"
#include "../lib/num.h"
#include "../lib/pool.h"
#include "../lib/proto.h"
#include "../lib/relay.h"
#include "../lib/svc.h"

#define USAGE "usage: dsrecv [-H | -l | -0 | -F format] [-f from] [-t to] " \
	"[-n count] [-e command [-P n]] [-N name] " \
	"[-c address [-R] [-k keyfile]] [-M max]"

enum out_mode { OUT_BODY, OUT_FRAME, OUT_LINE, OUT_NUL, OUT_FORMAT };

#define FLUSH_AT (128 * 1024)
#define READ_CHUNK (256 * 1024)

/* -c: the hello, per hub, and the last replies before an exit. */
#define HUB_CONNECT_MS 10000
#define HUB_FINISH_MS 10000
/*
 * -R: the waits between attempts.  A connection that lasted the longest
 * wait starts the next round of waits from the shortest again.
 */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/*
 * -e -c: while every handler runs, messages from the hub may wait for
 * one, so that its pings (which come between them) are still read and
 * answered: up to -P messages and this many bytes beyond the first.
 */
#define WAIT_BYTES (4u << 20)

struct config {
	enum out_mode mode;
	const char *format;
	const char *from;       /* -f filter */
	const char *to;         /* -t filter */
	uint64_t count;         /* -n, 0 for no limit */
	const char *command;    /* -e */
	const char *name;       /* -N */
	uint64_t max;           /* -M */
	const char *hubs;       /* -c */
	const char *keyfile;    /* -k */
	int reconnect;          /* -R */
	int hub_std;            /* -c -: the hub is stdin and stdout */
	unsigned parallel;      /* -P: handlers at once */
};

/* -e -c: why the serving loop ended. */
enum hub_end {
	END_NONE,
	END_COUNT,      /* -n handlers have finished */
	END_CLOSED,     /* the hub closed the connection */
	END_LATE,       /* the hub closed it, and handlers outran the wait */
	END_ERR         /* r->why and r->why_errno say what went wrong */
};

struct receiver {
	const struct config *cfg;
	struct outq q;          /* what goes to stdout */
	uint64_t done;          /* messages printed or served */
	char self[PROTO_NAME_MAX + 1];  /* default reply name for -e */
	struct client *hub;     /* -c: frames come from, replies go to it */
	struct relay relay;
	/* -e: the handlers, beside one loop. */
	struct loop *loop;
	struct pool *pool;
	uint64_t taken;         /* messages handed to the pool */
	uint64_t finished;      /* handlers that have ended */
	int taking_done;        /* -n messages taken: take no more */
	/* -e on stdin. */
	struct proto_parser p;
	struct buf in;
	int in_eof;             /* read to the end */
	int in_done;            /* ... and every frame in it taken */
	int bad;                /* stopped at a bad frame */
	/* -e -c. */
	uint64_t gen;           /* the connection; a reply's tag names its */
	struct buf backlog;     /* replies the client's queue had no room for */
	enum hub_end end;
	char why[512];
	int why_errno;
	uint64_t late_timer;
};

/* The one receiver, for the hook that flushes it when dsrecv dies. */
static struct receiver *dying_receiver;

static void
flush_on_die(void)
{
	struct receiver *r = dying_receiver;

	if (r == NULL)
		return;
	/* Every good message before a bad one goes out first. */
	(void)outq_flush(&r->q);
	/* Handlers whose replies have nowhere to go end with us. */
	pool_free(r->pool);
	r->pool = NULL;
}

static void
usage(void)
{
	fprintf(stderr, "%s\n", USAGE);
	exit(DS_EXIT_USAGE);
}

static void
flush(struct receiver *r)
{
	if (outq_flush(&r->q) < 0)
		err_die_stdout();
}

/*
 * Queue bytes for stdout.  Large ones (bodies in the input buffer) are
 * queued by pointer; run() flushes before the next read can move them.
 */
static void
put(struct receiver *r, const void *p, size_t n)
{
	if (outq_put(&r->q, p, n) < 0)
		err_die_stdout();
}

/* Put a body and the byte that ends it, in one step when small. */
static void
put_ended(struct receiver *r, const char *p, size_t n, char end)
{
	struct buf *b = &r->q.copy;

	if (n >= OUTQ_BORROW_AT) {
		put(r, p, n);
		put(r, &end, 1);
		return;
	}
	if (buf_room(b) <= n && buf_reserve(b, n + 1) != BUF_OK)
		err_die(DS_EXIT_SYS, "out of memory");
	memcpy(buf_tail(b), p, n);
	buf_tail(b)[n] = end;
	buf_commit(b, n + 1);
}

static int
filtered_in(const struct config *cfg, const struct proto_msg *m)
{
	if (cfg->from != NULL && !proto_str_eq(proto_get(m, PF_FROM),
	    cfg->from))
		return 0;
	if (cfg->to != NULL && !proto_str_eq(proto_get(m, PF_TO), cfg->to))
		return 0;
	return 1;
}

/* Does m pass the -f and -t filters?  Most runs have none. */
#define matches(cfg, m) \
	(((cfg)->from == NULL && (cfg)->to == NULL) || filtered_in(cfg, m))

/* The name a reply to m comes from: -N, else the name it was sent to. */
static const char *
reply_name(struct receiver *r, const struct proto_msg *m, char *tmp)
{
	struct proto_str to = proto_get(m, PF_TO);

	if (r->cfg->name != NULL)
		return r->cfg->name;
	if (!proto_str_eq(to, "*")) {
		memcpy(tmp, to.p, to.n);
		tmp[to.n] = '\0';
		return tmp;
	}
	/* A broadcast names nobody; answer as this host. */
	return r->self;
}

/*
 * -c -: the standard output is the hub, so what is not served has no
 * place to go.  An error is worth a line on stderr; the rest is dropped.
 */
static void
not_served(const struct proto_msg *m)
{
	struct proto_str from = proto_get(m, PF_FROM), re = proto_get(m, PF_RE);
	char f[PROTO_NAME_MAX * 4 + 4], id[PROTO_TOKEN_MAX * 4 + 4], b[400];
	size_t n = (size_t)m->body_len;

	if (!proto_str_eq(proto_type(m), "err"))
		return;
	while (n > 0 && m->body[n - 1] == '\n')
		n--;
	err_warn("err from %s re %s: %s", err_printable(f, sizeof f, from.p,
	    from.n), re.p != NULL ? err_printable(id, sizeof id, re.p, re.n) :
	    "-", err_printable(b, sizeof b, m->body, n));
}

/* -e: hand m to the pool; returns 1 once -n count is reached. */
static int
serve(struct receiver *r, const struct proto_msg *m)
{
	char tmp[PROTO_NAME_MAX + 1];

	if (pool_start(r->pool, m, reply_name(r, m, tmp), r->gen) < 0)
		err_die(DS_EXIT_SYS, "cannot run the command:");
	r->taken++;
	if (r->cfg->count != 0 && r->taken >= r->cfg->count)
		r->taking_done = 1;
	return r->taking_done;
}

/* Handle one message; returns 1 once -n count is reached. */
static int
handle(struct receiver *r, const struct proto_msg *m)
{
	const struct config *cfg = r->cfg;

	if (cfg->command != NULL) {
		/* Frames that are not served pass through, for chaining. */
		if (!matches(cfg, m) || !svc_wants(m)) {
			if (cfg->hub_std)
				not_served(m);
			else
				put(r, m->frame, m->frame_len);
			if (buf_len(&r->q.copy) >= FLUSH_AT)
				flush(r);
			return 0;
		}
		return serve(r, m);
	} else {
		if (!matches(cfg, m))
			return 0;
		switch (cfg->mode) {
		case OUT_BODY:
			put(r, m->body, (size_t)m->body_len);
			break;
		case OUT_LINE:
			put_ended(r, m->body, (size_t)m->body_len, '\n');
			break;
		case OUT_NUL:
			put_ended(r, m->body, (size_t)m->body_len, '\0');
			break;
		case OUT_FRAME:
			put(r, m->frame, m->frame_len);
			break;
		case OUT_FORMAT:
			if (fmt_render(&r->q, cfg->format, m) < 0)
				err_die_stdout();
			break;
		}
	}
	if (buf_len(&r->q.copy) >= FLUSH_AT)
		flush(r);
	r->done++;
	return cfg->count != 0 && r->done >= cfg->count;
}

/* The flush-on-die hook writes out every good message first. */
static void
bad_input(const struct proto_parser *p)
{
	err_die(DS_EXIT_DATA, "message %llu at byte %llu: %s",
	    (unsigned long long)p->nmsg + 1,
	    (unsigned long long)p->err_off, p->err);
}

static int
run(struct receiver *r)
{
	struct proto_parser p;
	struct buf in;

	proto_parser_init(&p, r->cfg->max);
	/* One frame at most, plus one read's worth. */
	buf_init(&in, PROTO_HDR_MAX + (size_t)r->cfg->max + 1 + READ_CHUNK);
	/*
	 * A read usually ends inside a frame, whose start must then slide
	 * to the front before the next read.  With room for several reads
	 * that happens seldom, so large bodies are not copied twice.
	 */
	(void)buf_reserve(&in, 4 * READ_CHUNK);
	for (;;) {
		size_t want = READ_CHUNK;
		ssize_t got;
		int rc;

		/* For a large body, read the rest of it in one go. */
		if (p.need > buf_len(&in) + want)
			want = p.need - buf_len(&in);
		if (buf_reserve(&in, want) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
		got = io_read_some(0, buf_tail(&in), want);
		if (got < 0)
			err_die(DS_EXIT_SYS, "cannot read standard input:");
		if (got == 0) {
			if (proto_parse_eof(&p, buf_head(&in), buf_len(&in)))
				bad_input(&p);
			break;
		}
		buf_commit(&in, (size_t)got);
		while ((rc = proto_parse(&p, buf_head(&in), buf_len(&in))) ==
		    PROTO_MSG) {
			int stop = handle(r, &p.msg);

			buf_consume(&in, p.msg.frame_len);
			if (stop)
				goto done;
		}
		if (rc == PROTO_ERR)
			bad_input(&p);
		/* Waiting for input: what we have must not wait with us. */
		flush(r);
	}
done:
	flush(r);
	buf_free(&in);
	return DS_EXIT_OK;
}

/* -c: each frame from the hub, handled as one from stdin would be. */
static void
hub_frame(void *ctx, const struct proto_msg *m)
{
	struct receiver *r = ctx;

	if (handle(r, m))
		r->relay.stop = 1;
	/* A body queued by pointer lives in the client's buffer. */
	if (r->q.borrowed > 0)
		flush(r);
}

/* -c: before the pump waits, what we have must not wait with it. */
static void
hub_idle(void *ctx)
{
	flush(ctx);
}

/*
 * -c: connect, or with -R keep trying, with backoff, until a hub takes
 * us.  A hub that refused us (a key, a name) is not tried again.
 */
static void
hub_connect(struct receiver *r, struct relay_backoff *bo, int again)
{
	char err[512];
	int warned = 0;

	for (;;) {
		int e;

		if (client_connect(r->hub, err, sizeof err) == 0) {
			if (again || warned)
				err_warn("connected to the hub at %s",
				    r->hub->addr);
			return;
		}
		e = errno;
		if (!r->cfg->reconnect || e == EACCES || e == EPROTO ||
		    e == EINVAL)
			err_die(client_status(e), "%s", err);
		if (!warned)
			err_warn("%s; retrying", err);
		warned = 1;
		(void)relay_sleep(relay_backoff_next(bo));
	}
}

/*
 * -n was reached: let the replies out, and with -e make sure the hub
 * has them before we go; frames that come meanwhile are not ours to take.
 */
static void
hub_finish(struct receiver *r)
{
	char err[512];
	int rc;

	r->relay.stop = 0;
	r->relay.on_frame = NULL;
	rc = relay_pump(&r->relay, -1, 0, HUB_FINISH_MS, err, sizeof err);
	if (rc == RELAY_DRAINED && r->cfg->command != NULL)
		rc = client_sync(r->hub, HUB_FINISH_MS, NULL, NULL, err,
		    sizeof err) == 0 ? RELAY_DRAINED : RELAY_ERR;
	if (rc == RELAY_CLOSED)
		err_die(DS_EXIT_SYS, "lost the hub at %s", r->hub->addr);
	if (rc != RELAY_DRAINED)
		err_die(client_status(errno), "%s", err);
}

/*
 * -c: take frames from the hub until -n is reached; when the hub goes
 * away, -R connects again, to the next hub in the list first.
 */
static int
run_hub(struct receiver *r)
{
	struct relay_backoff bo;
	char err[512];

	relay_backoff_init(&bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	hub_connect(r, &bo, 0);
	for (;;) {
		long long since = io_now_ms();
		int rc, e;

		rc = relay_pump(&r->relay, -1, RELAY_NO_MARK, -1, err,
		    sizeof err);
		e = errno;
		flush(r);
		if (rc == RELAY_STOP) {
			hub_finish(r);
			return DS_EXIT_OK;
		}
		/*
		 * A pipe from the hub that ends between frames is the end;
		 * the pipe to it may still take the last replies.
		 */
		if (r->cfg->hub_std && rc == RELAY_CLOSED) {
			if (client_flush(r->hub, HUB_FINISH_MS) < 0)
				err_die(client_status(errno), "cannot write to "
				    "the hub:");
			return DS_EXIT_OK;
		}
		if (!r->cfg->reconnect || r->cfg->hub_std) {
			if (rc == RELAY_CLOSED)
				err_die(DS_EXIT_SYS, "lost the hub at %s",
				    r->hub->addr);
			err_die(client_status(e), "%s", err);
		}
		if (rc == RELAY_CLOSED)
			err_warn("lost the hub at %s; reconnecting",
			    r->hub->addr);
		else
			err_warn("%s; reconnecting", err);
		/* A hub that keeps dropping us is not hammered. */
		if (io_now_ms() - since >= BACKOFF_MAX_MS)
			relay_backoff_reset(&bo);
		client_close(r->hub);
		/* Rotate: the hub after the lost one is tried first. */
		r->hub->next = (r->hub->next + 1) % r->hub->nhubs;
		(void)relay_sleep(relay_backoff_next(&bo));
		hub_connect(r, &bo, 1);
	}
}

/* -c: the client, the name it says hello as, and the pump around it. */
static void
hub_open(struct receiver *r, struct config *cfg, struct client *c)
{
	struct client_opts o;
	char err[512];

	memset(&o, 0, sizeof o);
	o.hubs = cfg->hubs[0] != '\0' ? cfg->hubs : NULL;
	o.name = cfg->name;
	o.keyfile = cfg->keyfile;
	o.timeout_ms = HUB_CONNECT_MS;
	o.max_body = cfg->max;
	/* A worker tells the hub how many jobs it runs at once. */
	if (cfg->command != NULL)
		o.credit = cfg->parallel;
	if (client_init(c, &o, err, sizeof err) < 0)
		err_die(client_status(errno), "%s", err);
	/* Replies come from the name we hold, whatever they answer. */
	cfg->name = c->name;
	r->hub = c;
	r->relay.c = c;
	r->relay.on_frame = hub_frame;
	r->relay.on_idle = hub_idle;
	r->relay.ctx = r;
	/* A hub that goes away must be an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
}

/*
 * -e: the handlers run beside one loop, up to -P at once.  Frames are
 * taken only while the pool has room, so with -P 1 each is served, or
 * passed on, after the one before it is answered.
 */

static void stdin_pump(struct receiver *r);
static void hub_pump(struct receiver *r);

/* A handler has ended: its reply goes out now, in completion order. */
static void
on_reply(void *ctx, const struct pool_reply *rep)
{
	struct receiver *r = ctx;

	if (rep->start_errno != 0) {
		errno = rep->start_errno;
		err_die(DS_EXIT_SYS, "cannot run the command:");
	}
	if (rep->encode_rc != 0)
		err_die(DS_EXIT_SYS, "cannot encode the reply: %s",
		    proto_strerror(rep->encode_rc));
	r->finished++;
	if (rep->res->status == 0 && buf_len(rep->err) > 0 &&
	    io_write_all(2, buf_head(rep->err), buf_len(rep->err)) < 0)
		err_warn("cannot write to standard error:");
	if (r->hub == NULL) {
		put(r, rep->frame, rep->len);
		flush(r);
		stdin_pump(r);
		return;
	}
	/* A reply to a connection that is gone: the hub gave its job away. */
	if (rep->tag == r->gen) {
		if ((buf_len(&r->backlog) > 0 || client_send_raw(r->hub,
		    rep->frame, rep->len) < 0) &&
		    buf_append(&r->backlog, rep->frame, rep->len) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
	}
	hub_pump(r);
}

/* A loop and a pool for -e, waiting at most max_waiting messages. */
static void
pool_open(struct receiver *r, size_t max_waiting)
{
	const struct config *cfg = r->cfg;
	size_t fds = 3 * (size_t)cfg->parallel + 8;
	struct pool_opts o;

	/*
	 * Three fds for each handler, and the input and output; a spawn
	 * takes three more for a moment.
	 */
	io_raise_nofile(fds + 3 + 16);
	r->loop = loop_new(fds);
	if (r->loop == NULL)
		err_die(DS_EXIT_SYS, "cannot make the event loop:");
	memset(&o, 0, sizeof o);
	o.cmd = cfg->command;
	o.max_running = cfg->parallel;
	o.max_waiting = max_waiting;
	o.max_wait_bytes = WAIT_BYTES;
	o.timeout_ms = -1;
	o.max_body = cfg->max;
	r->pool = pool_new(r->loop, &o, on_reply, r);
	if (r->pool == NULL)
		err_die(DS_EXIT_SYS, "cannot start the handler pool:");
}

static void
pool_close(struct receiver *r)
{
	pool_free(r->pool);
	r->pool = NULL;
	loop_free(r->loop);
	r->loop = NULL;
}

static int
pool_idle(const struct receiver *r)
{
	return pool_running(r->pool) == 0 && pool_waiting(r->pool) == 0;
}

/* -e on stdin: take the frames read while there is room for them. */
static void
stdin_pump(struct receiver *r)
{
	int rc = PROTO_MORE;

	while (!r->taking_done && !r->bad && !r->in_done &&
	    !pool_full(r->pool) && (rc = proto_parse(&r->p,
	    buf_head(&r->in), buf_len(&r->in))) == PROTO_MSG) {
		size_t used = r->p.msg.frame_len;

		(void)handle(r, &r->p.msg);
		buf_consume(&r->in, used);
	}
	if (rc == PROTO_ERR)
		r->bad = 1;
	else if (rc == PROTO_MORE && r->in_eof && !r->bad && !r->in_done &&
	    !r->taking_done && !pool_full(r->pool)) {
		if (proto_parse_eof(&r->p, buf_head(&r->in), buf_len(&r->in)))
			r->bad = 1;
		else
			r->in_done = 1;
	}
	flush(r);
	(void)loop_want(r->loop, 0, r->in_eof || r->bad || r->taking_done ||
	    pool_full(r->pool) ? 0 : LOOP_IN);
	if ((r->cfg->count != 0 && r->finished >= r->cfg->count) ||
	    ((r->bad || r->in_done) && pool_idle(r)))
		loop_stop(r->loop);
}

static void
on_stdin(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct receiver *r = ctx;
	size_t want = READ_CHUNK;
	ssize_t got;

	(void)l;
	(void)events;
	/* Frames passed on by pointer must be out before the buffer moves. */
	flush(r);
	if (r->p.need > buf_len(&r->in) + want)
		want = r->p.need - buf_len(&r->in);
	if (buf_reserve(&r->in, want) != BUF_OK)
		err_die(DS_EXIT_SYS, "out of memory");
	got = io_read_some(fd, buf_tail(&r->in), want);
	if (got < 0)
		err_die(DS_EXIT_SYS, "cannot read standard input:");
	if (got == 0)
		r->in_eof = 1;
	else
		buf_commit(&r->in, (size_t)got);
	stdin_pump(r);
}

/*
 * -e with frames on stdin: replies go to stdout as the handlers end.  A
 * bad frame stops the reading; the handlers running finish first, then
 * dsrecv exits 1.
 */
static int
run_pool(struct receiver *r)
{
	pool_open(r, 0);
	proto_parser_init(&r->p, r->cfg->max);
	buf_init(&r->in, PROTO_HDR_MAX + (size_t)r->cfg->max + 1 + READ_CHUNK);
	if (loop_add(r->loop, 0, LOOP_IN, on_stdin, r) < 0)
		err_die(DS_EXIT_SYS, "cannot watch standard input:");
	if (loop_run(r->loop) < 0)
		err_die(DS_EXIT_SYS, "event loop:");
	flush(r);
	if (r->bad)
		bad_input(&r->p);
	loop_del(r->loop, 0);
	pool_close(r);
	buf_free(&r->in);
	return DS_EXIT_OK;
}

/* -e -c: the serving loop ends; run_hub_pool() takes it from there. */
static void
hub_end(struct receiver *r, enum hub_end why)
{
	if (r->end == END_NONE)
		r->end = why;
	loop_stop(r->loop);
}

static void
hub_fail(struct receiver *r, int e, const char *why)
{
	if (r->end == END_NONE) {
		r->why_errno = e;
		snprintf(r->why, sizeof r->why, "%s", why);
	}
	hub_end(r, END_ERR);
}

/*
 * Move replies that waited into the client's queue, as far as it has
 * room.  Bytes, not frames: the two are emptied together when the
 * connection goes, so a frame cut here is never left half sent.
 */
static void
hub_take_backlog(struct receiver *r)
{
	struct buf *out = &r->hub->out;
	size_t room, n = buf_len(&r->backlog);

	if (n == 0)
		return;
	room = out->limit > buf_len(out) ? out->limit - buf_len(out) : 0;
	if (n > room)
		n = room;
	if (n > 0 && client_send_raw(r->hub, buf_head(&r->backlog), n) == 0)
		buf_consume(&r->backlog, n);
}

/* -c -: the hub has gone and the handlers were given time enough. */
static void
on_late(struct loop *l, uint64_t id, void *ctx)
{
	struct receiver *r = ctx;

	(void)l;
	(void)id;
	r->late_timer = 0;
	hub_end(r, END_LATE);
}

/*
 * -e -c: take the frames the hub sent while the pool has room (pings are
 * answered inside client_next()), write what is queued, and say what
 * the connection's fds wait for.
 */
static void
hub_pump(struct receiver *r)
{
	struct client *c = r->hub;
	const struct proto_msg *m;
	char err[512];
	unsigned in, out;
	int rc = 0;

	if (r->end != END_NONE)
		return;
	/*
	 * Once -n are taken, or the hub has gone, what comes is not ours
	 * to take (the hub gives its jobs to another worker), but pings
	 * still are to answer.
	 */
	rc = 1;
	while (c->eof || r->taking_done || !pool_full(r->pool)) {
		rc = client_next(c, &m, err, sizeof err);
		if (rc <= 0)
			break;
		if (!r->taking_done && !c->eof)
			hub_frame(r, m);
	}
	if (rc < 0) {
		hub_fail(r, errno, err);
		return;
	}
	flush(r);
	hub_take_backlog(r);
	if (client_pending(c) > 0 && client_write(c) < 0) {
		snprintf(err, sizeof err, "cannot write to the hub at %s: %s",
		    c->addr, strerror(errno));
		hub_fail(r, errno, err);
		return;
	}
	if (r->cfg->count != 0 && r->finished >= r->cfg->count) {
		hub_end(r, END_COUNT);
		return;
	}
	if (rc == 0 && c->eof && r->late_timer == 0) {
		if (!r->cfg->hub_std) {
			hub_end(r, END_CLOSED);
			return;
		}
		/*
		 * A pipe from the hub that ends is the end, but the pipe to
		 * it may still take the replies of the handlers running.
		 */
		(void)pool_drop_waiting(r->pool);
		r->late_timer = loop_timer(r->loop, HUB_FINISH_MS, on_late, r);
		if (r->late_timer == 0)
			err_die(DS_EXIT_SYS, "out of memory");
	}
	if (c->eof && pool_idle(r)) {
		hub_end(r, END_CLOSED);
		return;
	}
	in = !c->eof && (r->taking_done || !pool_full(r->pool)) ? LOOP_IN : 0;
	out = client_pending(c) > 0 ? LOOP_OUT : 0;
	if (c->rfd == c->wfd) {
		(void)loop_want(r->loop, c->rfd, in | out);
	} else {
		(void)loop_want(r->loop, c->rfd, in);
		(void)loop_want(r->loop, c->wfd, out);
	}
}

static void
on_hub(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct receiver *r = ctx;
	struct client *c = r->hub;
	char err[512];

	(void)l;
	if (fd == c->wfd && (events & (LOOP_OUT | LOOP_ERR | LOOP_HUP)) &&
	    client_pending(c) > 0 && client_write(c) < 0) {
		snprintf(err, sizeof err, "cannot write to the hub at %s: %s",
		    c->addr, strerror(errno));
		hub_fail(r, errno, err);
		return;
	}
	if (fd == c->rfd && (events & (LOOP_IN | LOOP_ERR | LOOP_HUP))) {
		/* Frames passed on by pointer live in the client's buffer. */
		flush(r);
		if (client_read(c, err, sizeof err) < 0 && errno != EAGAIN) {
			hub_fail(r, errno, err);
			return;
		}
	}
	hub_pump(r);
}

/* Serve one connection until it ends; returns why. */
static enum hub_end
hub_serve(struct receiver *r)
{
	struct client *c = r->hub;
	uint64_t max = r->cfg->max;

	if (c->hub_max > 0 && c->hub_max < max)
		max = c->hub_max;
	pool_limit(r->pool, max);
	r->end = END_NONE;
	r->why[0] = '\0';
	if (loop_add(r->loop, c->rfd, LOOP_IN, on_hub, r) < 0 ||
	    (c->wfd != c->rfd && loop_add(r->loop, c->wfd, 0, on_hub, r) < 0))
		err_die(DS_EXIT_SYS, "cannot watch the hub connection:");
	/* Frames may have come with the hub's hello. */
	hub_pump(r);
	if (r->end == END_NONE && loop_run(r->loop) < 0)
		err_die(DS_EXIT_SYS, "event loop:");
	loop_del(r->loop, c->rfd);
	loop_del(r->loop, c->wfd);
	if (r->late_timer != 0)
		loop_cancel(r->loop, r->late_timer);
	r->late_timer = 0;
	return r->end;
}

/* Put every reply into the client's queue and write it out. */
static void
hub_flush_all(struct receiver *r)
{
	while (buf_len(&r->backlog) > 0 || client_pending(r->hub) > 0) {
		hub_take_backlog(r);
		if (client_flush(r->hub, HUB_FINISH_MS) < 0)
			err_die(client_status(errno), "cannot write to the "
			    "hub at %s:", r->hub->addr);
	}
}

/*
 * -e -c: serve the hub's frames on the loop, so that its pings are
 * answered while handlers run; when the hub goes away, -R connects
 * again, and the replies of the handlers started before are dropped
 * (the hub gives their jobs to another worker).
 */
static int
run_hub_pool(struct receiver *r)
{
	struct relay_backoff bo;

	relay_backoff_init(&bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	pool_open(r, r->cfg->parallel);
	buf_init(&r->backlog, (size_t)-1);
	hub_connect(r, &bo, 0);
	for (;;) {
		long long since = io_now_ms();
		enum hub_end end = hub_serve(r);

		switch (end) {
		case END_COUNT:
			hub_flush_all(r);
			hub_finish(r);
			goto done;
		case END_CLOSED:
		case END_LATE:
			if (!r->cfg->hub_std)
				break;
			hub_flush_all(r);
			if (end == END_LATE)
				err_die(DS_EXIT_TIMEOUT, "the hub closed the "
				    "connection; %zu handler%s still running "
				    "after %d ms", pool_running(r->pool),
				    pool_running(r->pool) == 1 ? "" : "s",
				    HUB_FINISH_MS);
			goto done;
		default:
			break;
		}
		if (!r->cfg->reconnect || r->cfg->hub_std) {
			if (end == END_CLOSED)
				err_die(DS_EXIT_SYS, "lost the hub at %s",
				    r->hub->addr);
			err_die(client_status(r->why_errno), "%s", r->why);
		}
		if (end == END_CLOSED)
			err_warn("lost the hub at %s; reconnecting",
			    r->hub->addr);
		else
			err_warn("%s; reconnecting", r->why);
		/* A hub that keeps dropping us is not hammered. */
		if (io_now_ms() - since >= BACKOFF_MAX_MS)
			relay_backoff_reset(&bo);
		client_close(r->hub);
		buf_clear(&r->backlog);
		/* Jobs not started yet were the lost hub's to give away. */
		r->taken -= pool_drop_waiting(r->pool);
		r->taking_done = r->cfg->count != 0 &&
		    r->taken >= r->cfg->count;
		r->gen++;
		/* Rotate: the hub after the lost one is tried first. */
		r->hub->next = (r->hub->next + 1) % r->hub->nhubs;
		(void)relay_sleep(relay_backoff_next(&bo));
		hub_connect(r, &bo, 1);
	}
done:
	pool_close(r);
	buf_free(&r->backlog);
	return DS_EXIT_OK;
}

static void
set_mode(struct config *cfg, enum out_mode m, int *seen)
{
	if (*seen && cfg->mode != m) {
		err_warn("-H, -l, -0 and -F are exclusive");
		usage();
	}
	*seen = 1;
	cfg->mode = m;
}

int
main(int argc, char *argv[])
{
	struct config cfg;
	struct receiver r;
	struct client hub;
	uint64_t n;
	int c, seen = 0, rc;

	err_init(argv[0]);
	memset(&cfg, 0, sizeof cfg);
	cfg.max = PROTO_BODY_DEFAULT;
	while ((c = getopt(argc, argv, "Hl0F:f:t:n:e:P:N:M:c:k:R")) != -1) {
		switch (c) {
		case 'H':
			set_mode(&cfg, OUT_FRAME, &seen);
			break;
		case 'l':
			set_mode(&cfg, OUT_LINE, &seen);
			break;
		case '0':
			set_mode(&cfg, OUT_NUL, &seen);
			break;
		case 'F':
			set_mode(&cfg, OUT_FORMAT, &seen);
			cfg.format = optarg;
			break;
		case 'f':
			cfg.from = optarg;
			if (!proto_name_ok(optarg, strlen(optarg)))
				err_die(DS_EXIT_USAGE, "-f %s: names are 1 to "
				    "64 bytes of [A-Za-z0-9._-]", optarg);
			break;
		case 't':
			cfg.to = optarg;
			if (!proto_to_ok(optarg, strlen(optarg)))
				err_die(DS_EXIT_USAGE, "-t %s: names are 1 to "
				    "64 bytes of [A-Za-z0-9._-], or '*'",
				    optarg);
			break;
		case 'n':
			if (num_parse_u64(optarg, strlen(optarg), UINT64_MAX,
			    0, &cfg.count) != NUM_OK || cfg.count == 0)
				err_die(DS_EXIT_USAGE, "-n %s: expected a "
				    "count of 1 or more", optarg);
			break;
		case 'e':
			cfg.command = optarg;
			break;
		case 'P':
			if (num_parse_u64(optarg, strlen(optarg), POOL_MAX, 0,
			    &n) != NUM_OK || n == 0)
				err_die(DS_EXIT_USAGE, "-P %s: expected 1 "
				    "to %d handlers at once", optarg,
				    POOL_MAX);
			cfg.parallel = (unsigned)n;
			break;
		case 'N':
			cfg.name = optarg;
			if (!proto_name_ok(optarg, strlen(optarg)))
				err_die(DS_EXIT_USAGE, "-N %s: names are 1 to "
				    "64 bytes of [A-Za-z0-9._-]", optarg);
			break;
		case 'M':
			if (num_parse_size(optarg, 0, PROTO_BODY_MAX,
			    &cfg.max) != NUM_OK)
				err_die(DS_EXIT_USAGE, "-M %s: expected a size "
				    "such as 65536, 64k or 16M", optarg);
			break;
		case 'c':
			cfg.hubs = optarg;
			cfg.hub_std = strcmp(optarg, "-") == 0;
			break;
		case 'k':
			cfg.keyfile = optarg;
			break;
		case 'R':
			cfg.reconnect = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc) {
		err_warn("unexpected argument: %s", argv[optind]);
		usage();
	}
	if (cfg.command != NULL && seen) {
		err_warn("-e writes reply frames; it takes no -H, -l, -0 "
		    "or -F");
		usage();
	}
	if (cfg.name != NULL && cfg.command == NULL && cfg.hubs == NULL) {
		err_warn("-N names the service of -e");
		usage();
	}
	if ((cfg.keyfile != NULL || cfg.reconnect) && cfg.hubs == NULL) {
		err_warn("-k and -R need -c");
		usage();
	}
	if (cfg.parallel != 0 && cfg.command == NULL)
		err_die(DS_EXIT_USAGE, "-P runs handlers at once: it takes -e");
	if (cfg.parallel == 0)
		cfg.parallel = 1;
	if (cfg.hub_std && cfg.command == NULL)
		err_die(DS_EXIT_USAGE, "-c -: the standard output is the hub; "
		    "it takes -e");
	if (cfg.hub_std && cfg.reconnect)
		err_die(DS_EXIT_USAGE, "-c -: there is no hub to reconnect "
		    "to (-R)");
	if (cfg.mode == OUT_FORMAT) {
		char why[80];

		if (fmt_check(cfg.format, why, sizeof why) < 0)
			err_die(DS_EXIT_USAGE, "-F: %s", why);
	}

	memset(&r, 0, sizeof r);
	r.cfg = &cfg;
	outq_init(&r.q, 1);
	/* Room for a full batch up front keeps the per-message path short. */
	if (buf_reserve(&r.q.copy, FLUSH_AT + 4096) != BUF_OK)
		err_die(DS_EXIT_SYS, "out of memory");
	if (cfg.hubs != NULL)
		hub_open(&r, &cfg, &hub);
	if (cfg.command != NULL) {
		char why[160];

		/* Checked now, not at the first broadcast it answers. */
		if (ident_default(r.self, why, sizeof why) < 0)
			err_die(DS_EXIT_USAGE, "%s", why);
		/* A handler that exits without reading must not kill us. */
		signal(SIGPIPE, SIG_IGN);
	}
	dying_receiver = &r;
	err_on_die(flush_on_die);
	if (r.hub != NULL) {
		rc = cfg.command != NULL ? run_hub_pool(&r) : run_hub(&r);
		client_free(r.hub);
	} else {
		io_grow_pipe(0);
		rc = cfg.command != NULL ? run_pool(&r) : run(&r);
	}
	outq_free(&r.q);
	return rc;
}
