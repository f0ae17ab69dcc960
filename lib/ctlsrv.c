/*
 * ctlsrv: the hub's side of the client protocol, for a control socket.
 * See ctlsrv.h and dsproto(7), "The hub".
 *
 * Each connection has an input buffer that holds at most one frame and
 * one read beyond it, and an output queue.  A readable connection is
 * read once, and its whole frames are handled in order while its queue
 * is under half its bound (the mark); then the queue is written.  When
 * the queue is at the mark the frames left wait in the input buffer and
 * the connection is not read, until the client takes its replies.  One
 * tick, armed while anyone is connected, watches the deadlines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlsrv.h"
#include "err.h"
#include "net.h"

#define READ_MAX (64 * 1024)    /* one read */
#define WHY_MAX 1024            /* the why of a refused message */
#define ERR_BODY_MAX 600        /* the body of an error we make */

enum { C_HELLO, C_READY, C_CLOSING };

struct conn {
	struct ctlsrv *s;
	struct conn *prev, *next;
	int fd;
	unsigned long serial;
	int state;
	int eof;        /* the client shut down its side */
	int held;       /* frames wait in in: the queue is at the mark */
	int fresh;      /* bytes came that were not parsed yet */
	int kill;       /* memory ran out: close at the next chance */
	int dead;       /* closed; freed once busy is 0 */
	int busy;       /* callbacks on the stack */
	char hello[PROTO_NAME_MAX + 1];
	int64_t born, last_read, partial_since, over_since, closing_since;
	struct buf in, out;
	struct proto_parser p;
};

struct ctlsrv {
	struct loop *l;
	struct ctlsrv_config cfg;
	char name[PROTO_NAME_MAX + 1];
	size_t name_len;
	int lfd;
	size_t mark;            /* half the queue */
	struct conn *conns;
	size_t nconns;
	unsigned long serial;
	struct buf reply, why;  /* lent to the callbacks */
	uint64_t tick_timer, backoff_timer, drain_timer;
	int tick_ms, backoff_ms;
	int draining;
};

static void close_conn(struct conn *c, const char *why);
static void serve(struct conn *c);

/* Logging. */

static void DS_PRINTF(2, 3)
srv_log(struct ctlsrv *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (s->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->cfg.log(s->cfg.log_ctx, line);
}

/* "control client 3 (dsctl-4711)", for log lines. */
static const char *
who(const struct conn *c, char *dst, size_t n)
{
	if (c->hello[0] != '\0')
		snprintf(dst, n, "control client %lu (%s)", c->serial,
		    c->hello);
	else
		snprintf(dst, n, "control client %lu", c->serial);
	return dst;
}

/* Frames from the server. */

/*
 * Queue a frame of type to c: re= the id of m (if any), the fields kv,
 * and body[0..n) with a newline added when add_lf is set.  It goes to
 * the hello name, or before the hello to the name m came from.
 */
static void
say(struct conn *c, const struct proto_msg *m, const char *type,
    const struct proto_kv *kv, size_t nkv, const char *body, size_t n,
    int add_lf)
{
	struct ctlsrv *s = c->s;
	struct proto_hdr hd;
	char to[PROTO_NAME_MAX + 1], re[PROTO_TOKEN_MAX + 1];
	size_t len = n + (add_lf ? 1 : 0);

	memset(&hd, 0, sizeof hd);
	hd.from = s->name;
	hd.to = "*";
	hd.type = type;
	hd.extra = kv;
	hd.nextra = nkv;
	if (c->hello[0] != '\0')
		hd.to = c->hello;
	if (m != NULL) {
		struct proto_str from = proto_get(m, PF_FROM);
		struct proto_str id = proto_get(m, PF_ID);

		if (c->hello[0] == '\0' && from.p != NULL &&
		    from.n <= PROTO_NAME_MAX && !(from.n == s->name_len &&
		    memcmp(from.p, s->name, from.n) == 0)) {
			memcpy(to, from.p, from.n);
			to[from.n] = '\0';
			hd.to = to;
		}
		if (id.p != NULL) {
			long dn = proto_decode(id.p, id.n, re);

			if (dn > 0) {
				hd.re = re;
				hd.re_len = (size_t)dn;
			}
		}
	}
	/* Room first, so that a frame is queued whole or not at all. */
	if (buf_reserve(&c->out, PROTO_HDR_MAX + len + 1) != BUF_OK ||
	    proto_encode_head(&c->out, &hd, len) != 0 ||
	    buf_append(&c->out, body, n) != BUF_OK ||
	    (add_lf && buf_append_byte(&c->out, '\n') != BUF_OK) ||
	    buf_append_byte(&c->out, '\n') != BUF_OK)
		c->kill = 1;
}

/* An err with status=1 and reason, its body one line (a LF is added). */
static void
say_err(struct conn *c, const struct proto_msg *m, const char *reason,
    const char *body, size_t n)
{
	struct proto_kv kv[2] = {
		{ "status", "1", 1 }, { "reason", reason, strlen(reason) }
	};

	say(c, m, "err", kv, 2, body, n, n > 0 && body[n - 1] != '\n');
}

static void DS_PRINTF(4, 5)
say_errf(struct conn *c, const struct proto_msg *m, const char *reason,
    const char *fmt, ...)
{
	char body[ERR_BODY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof body)
		n = (int)sizeof body - 1;
	say_err(c, m, reason, body, (size_t)n);
}

/* Connections. */

static void
update_want(struct conn *c)
{
	int in = c->state != C_CLOSING && !c->eof && !c->held &&
	    !c->s->draining;
	int out = buf_len(&c->out) > 0;

	if (!c->dead)
		(void)loop_want(c->s->l, c->fd, (in ? LOOP_IN : 0u) |
		    (out ? LOOP_OUT : 0u));
}

/* Watch the listener while there are places and no backoff. */
static void
update_accept(struct ctlsrv *s)
{
	(void)loop_want(s->l, s->lfd, !s->draining && s->backoff_timer == 0 &&
	    s->nconns < s->cfg.maxconn ? LOOP_IN : 0u);
}

static void
free_conn(struct conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/*
 * Close c now; the struct lives on while a callback that uses it is on
 * the stack.
 */
static void
close_conn(struct conn *c, const char *why)
{
	struct ctlsrv *s = c->s;
	char w[120];

	if (c->dead) {
		if (c->busy == 0)
			free_conn(c);
		return;
	}
	if (why != NULL)
		srv_log(s, "%s: closed: %s", who(c, w, sizeof w), why);
	c->dead = 1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	loop_del(s->l, c->fd);
	close(c->fd);
	s->nconns--;
	update_accept(s);
	if (c->busy == 0)
		free_conn(c);
}

/* Read nothing more: send what is queued, then close. */
static void
start_closing(struct conn *c)
{
	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	c->closing_since = loop_now(c->s->l);
	c->held = 0;
	c->partial_since = 0;
	buf_clear(&c->in);
}

/* Handling frames. */

static int
is_name(struct proto_str v, const char *name, size_t n)
{
	return v.p != NULL && v.n == n && memcmp(v.p, name, n) == 0;
}

static void
do_hello(struct conn *c, const struct proto_msg *m)
{
	struct ctlsrv *s = c->s;
	struct proto_str from = proto_get(m, PF_FROM);
	char smax[24], squeue[24];
	struct proto_kv kv[2];

	if (is_name(from, s->name, s->name_len)) {
		say_errf(c, m, "bad-hello", "%s is the server's own name",
		    s->name);
		start_closing(c);
		return;
	}
	memcpy(c->hello, from.p, from.n);
	c->hello[from.n] = '\0';
	c->state = C_READY;
	snprintf(smax, sizeof smax, "%llu",
	    (unsigned long long)s->cfg.max_body);
	snprintf(squeue, sizeof squeue, "%zu", s->cfg.queue);
	kv[0] = (struct proto_kv){ "max", smax, strlen(smax) };
	kv[1] = (struct proto_kv){ "queue", squeue, strlen(squeue) };
	say(c, m, "hello", kv, 2, NULL, 0, 0);
}

/* A command: the first line of the body goes to cfg.cmd. */
static void
command(struct conn *c, const struct proto_msg *m)
{
	struct ctlsrv *s = c->s;
	const char *line = m->body, *eol;
	size_t n = (size_t)m->body_len;
	const char *reason = NULL;
	int rc;

	if ((eol = memchr(line, '\n', n)) != NULL)
		n = (size_t)(eol - line);
	buf_clear(&s->reply);
	if (s->cfg.cmd != NULL) {
		rc = s->cfg.cmd(s->cfg.ctx, line, n, &s->reply, &reason);
	} else {
		char shown[80];

		rc = -1;
		reason = "unknown-command";
		(void)buf_append_str(&s->reply, "unknown command '");
		(void)buf_append_str(&s->reply, err_printable(shown,
		    sizeof shown, line, n));
		(void)buf_append_str(&s->reply, "'");
	}
	if (rc == 0)
		say(c, m, "rep", NULL, 0, buf_head(&s->reply),
		    buf_len(&s->reply), 0);
	else
		say_err(c, m, reason != NULL ? reason : "bad-argument",
		    buf_head(&s->reply), buf_len(&s->reply));
	/* A large answer is rare: give its memory back. */
	if (s->reply.cap > READ_MAX)
		buf_free(&s->reply);
}

/* A frame to another name, for cfg.msg. */
static void
message(struct conn *c, const struct proto_msg *m, int answer)
{
	struct ctlsrv *s = c->s;
	const char *reason = NULL;
	struct proto_str to;

	if (s->cfg.msg == NULL) {
		to = proto_get(m, PF_TO);
		if (!answer)
			say_errf(c, m, "no-route", "no route to %.*s",
			    (int)to.n, to.p);
		return;
	}
	buf_clear(&s->why);
	if (s->cfg.msg(s->cfg.ctx, m, &s->why, &reason) != 0 && !answer)
		say_err(c, m, reason != NULL ? reason : "no-route",
		    buf_head(&s->why), buf_len(&s->why));
}

static void
handle(struct conn *c, const struct proto_msg *m)
{
	struct ctlsrv *s = c->s;
	struct proto_str type = proto_type(m);
	struct proto_str from = proto_get(m, PF_FROM);
	int answer = proto_str_eq(type, "rep") || proto_str_eq(type, "err");

	if (c->state == C_HELLO) {
		if (proto_str_eq(type, "hello")) {
			do_hello(c, m);
		} else {
			say_errf(c, m, "no-hello", "say hello before sending");
			start_closing(c);
		}
		return;
	}
	if (proto_str_eq(type, "hello") || proto_str_eq(type, "auth")) {
		say_errf(c, m, "bad-hello", "already said hello");
		return;
	}
	if (!is_name(from, c->hello, strlen(c->hello))) {
		if (!answer)
			say_errf(c, m, "not-yours", "this connection does not "
			    "hold the name %.*s", (int)from.n, from.p);
		return;
	}
	if (is_name(proto_get(m, PF_TO), s->name, s->name_len)) {
		if (answer)
			return;         /* never answer an answer */
		if (proto_str_eq(type, "ping"))
			say(c, m, "rep", NULL, 0, NULL, 0, 0);
		else
			command(c, m);
		return;
	}
	message(c, m, answer);
}

static void
bad_frame(struct conn *c)
{
	char w[120];

	srv_log(c->s, "%s: message %llu at byte %llu: %s", who(c, w, sizeof w),
	    (unsigned long long)c->p.nmsg + 1,
	    (unsigned long long)c->p.err_off, c->p.err);
	say_errf(c, NULL, "bad-frame", "message %llu at byte %llu: %s",
	    (unsigned long long)c->p.nmsg + 1,
	    (unsigned long long)c->p.err_off, c->p.err);
	start_closing(c);
}

/* Handle the whole frames in c->in while the queue is under the mark. */
static void
process(struct conn *c)
{
	struct ctlsrv *s = c->s;
	const char *base = buf_head(&c->in);
	size_t off = 0, len = buf_len(&c->in);

	c->held = 0;
	c->fresh = 0;
	while (off < len && c->state != C_CLOSING && !c->kill) {
		int r;

		if (buf_len(&c->out) >= s->mark) {
			c->held = 1;
			break;
		}
		r = proto_parse(&c->p, base + off, len - off);
		if (r == PROTO_MORE)
			break;
		if (r == PROTO_ERR) {
			bad_frame(c);
			break;
		}
		handle(c, &c->p.msg);
		off += c->p.msg.frame_len;
	}
	if (c->state == C_CLOSING) {
		buf_clear(&c->in);
		return;
	}
	buf_consume(&c->in, off);
	if (c->held || buf_len(&c->in) == 0)
		c->partial_since = 0;
	else if (c->partial_since == 0)
		c->partial_since = loop_now(s->l);
}

/* Write what is queued.  0, or -1 when c was closed. */
static int
write_out(struct conn *c)
{
	struct ctlsrv *s = c->s;
	size_t len;

	while ((len = buf_len(&c->out)) > 0) {
		ssize_t n = write(c->fd, buf_head(&c->out), len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			close_conn(c, errno == EPIPE || errno == ECONNRESET ?
			    NULL : strerror(errno));
			return -1;
		}
		buf_consume(&c->out, (size_t)n);
	}
	if (buf_len(&c->out) < s->mark)
		c->over_since = 0;
	else if (c->over_since == 0)
		c->over_since = loop_now(s->l);
	return 0;
}

/*
 * After any event: handle what can be handled, write, and close when
 * the connection is done.
 */
static void
serve(struct conn *c)
{
	struct ctlsrv *s = c->s;

	for (;;) {
		if (c->state != C_CLOSING && (c->fresh || c->held))
			process(c);
		if (c->kill) {
			close_conn(c, "out of memory");
			return;
		}
		if (write_out(c) != 0)
			return;
		/* Written down below the mark: the held frames may go on. */
		if (!c->held || buf_len(&c->out) >= s->mark)
			break;
	}
	if (buf_len(&c->out) == 0) {
		if (c->state == C_CLOSING) {
			close_conn(c, NULL);
			return;
		}
		if (c->eof && !c->held) {
			if (buf_len(&c->in) > 0 && proto_parse_eof(&c->p,
			    buf_head(&c->in), buf_len(&c->in)) == PROTO_ERR) {
				char w[120];

				srv_log(s, "%s: %s", who(c, w, sizeof w),
				    c->p.err);
			}
			close_conn(c, NULL);
			return;
		}
	}
	update_want(c);
}

static void
read_once(struct conn *c)
{
	struct ctlsrv *s = c->s;
	size_t want = READ_MAX, have = buf_len(&c->in);
	ssize_t n;

	if (c->state == C_CLOSING || c->eof || c->held || s->draining)
		return;
	/* A body larger than one read comes in one piece. */
	if (c->p.need > have && c->p.need - have > want)
		want = c->p.need - have;
	if (buf_reserve(&c->in, want) != BUF_OK) {
		c->kill = 1;
		return;
	}
	n = read(c->fd, buf_tail(&c->in), want);
	if (n > 0) {
		buf_commit(&c->in, (size_t)n);
		c->last_read = loop_now(s->l);
		c->fresh = 1;
	} else if (n == 0) {
		c->eof = 1;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		close_conn(c, errno == ECONNRESET ? NULL : strerror(errno));
	}
}

static void
on_conn(struct loop *l, int fd, unsigned ev, void *ctx)
{
	struct conn *c = ctx;

	(void)l;
	(void)fd;
	c->busy++;
	if (ev & (LOOP_IN | LOOP_HUP | LOOP_ERR))
		read_once(c);
	if (!c->dead)
		serve(c);
	c->busy--;
	if (c->dead)
		close_conn(c, NULL);    /* frees it */
}

static void
on_tick(struct loop *l, uint64_t id, void *ctx)
{
	struct ctlsrv *s = ctx;
	const struct ctlsrv_config *cfg = &s->cfg;
	int64_t now = loop_now(l);
	struct conn *c, *next;
	char w[120];

	(void)id;
	s->tick_timer = 0;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == C_HELLO && now - c->born >= cfg->hello_ms) {
			srv_log(s, "%s: no hello within %d ms",
			    who(c, w, sizeof w), cfg->hello_ms);
			say_errf(c, NULL, "timeout", "no hello within %d ms",
			    cfg->hello_ms);
			start_closing(c);
			serve(c);
		} else if (c->state != C_CLOSING && c->partial_since != 0 &&
		    !c->held && (c->p.in_body ? now - c->last_read :
		    now - c->partial_since) >= cfg->hello_ms) {
			srv_log(s, "%s: a frame stalled for %d ms",
			    who(c, w, sizeof w), cfg->hello_ms);
			say_errf(c, NULL, "timeout",
			    "a frame stalled for %d ms", cfg->hello_ms);
			start_closing(c);
			serve(c);
		} else if (c->state != C_CLOSING && c->over_since != 0 &&
		    now - c->over_since >= cfg->write_ms) {
			close_conn(c, "its replies stayed unread");
		} else if (c->state == C_CLOSING &&
		    now - c->closing_since >= cfg->write_ms) {
			close_conn(c, NULL);
		}
	}
	if (s->nconns > 0)
		s->tick_timer = loop_timer(l, s->tick_ms, on_tick, s);
}

/* Accepting. */

static struct conn *
new_conn(struct ctlsrv *s, int fd)
{
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	c->s = s;
	c->fd = fd;
	c->serial = ++s->serial;
	c->state = C_HELLO;
	/* A frame, and one read beyond it. */
	buf_init(&c->in, PROTO_HDR_MAX + (size_t)s->cfg.max_body + 1 +
	    READ_MAX);
	/* Under the mark, plus one reply of at most the mark. */
	buf_init(&c->out, s->cfg.queue + PROTO_HDR_MAX + ERR_BODY_MAX +
	    WHY_MAX);
	proto_parser_init(&c->p, s->cfg.max_body);
	c->born = c->last_read = loop_now(s->l);
	if (loop_add(s->l, fd, LOOP_IN, on_conn, c) == -1) {
		free_conn(c);
		return NULL;
	}
	if (s->tick_timer == 0 &&
	    (s->tick_timer = loop_timer(s->l, s->tick_ms, on_tick, s)) == 0) {
		loop_del(s->l, fd);
		free_conn(c);
		errno = ENOMEM;
		return NULL;
	}
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	return c;
}

static void
on_backoff(struct loop *l, uint64_t id, void *ctx)
{
	struct ctlsrv *s = ctx;

	(void)l;
	(void)id;
	s->backoff_timer = 0;
	update_accept(s);
}

static void
on_accept(struct loop *l, int fd, unsigned ev, void *ctx)
{
	struct ctlsrv *s = ctx;
	char err[256];
	int cfd;

	(void)l;
	(void)ev;
	while (s->nconns < s->cfg.maxconn && !s->draining) {
		cfd = net_accept(fd, NULL, 0, err, sizeof err);
		if (cfd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Never spin on a listener that stays ready. */
				if (s->backoff_ms == 0)
					s->backoff_ms = 100;
				srv_log(s, "%s; accepting again in %d ms", err,
				    s->backoff_ms);
				s->backoff_timer = loop_timer(s->l,
				    s->backoff_ms, on_backoff, s);
				if (s->backoff_ms < 2000)
					s->backoff_ms *= 2;
				break;
			}
			srv_log(s, "%s", err);
			break;
		}
		s->backoff_ms = 0;
		if (new_conn(s, cfd) == NULL) {
			srv_log(s, "cannot take a control connection: %s",
			    strerror(errno));
			close(cfd);
		}
	}
	/* Full: the next client waits in the listen backlog. */
	update_accept(s);
}

static void
on_drain(struct loop *l, uint64_t id, void *ctx)
{
	struct ctlsrv *s = ctx;
	struct conn *c, *next;

	(void)l;
	(void)id;
	s->drain_timer = 0;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		start_closing(c);
		serve(c);
	}
}

/* The public calls. */

struct ctlsrv *
ctlsrv_new(struct loop *l, int lfd, const char *name,
    const struct ctlsrv_config *cfg, char *err, size_t errlen)
{
	static const struct ctlsrv_config defaults;
	struct ctlsrv *s;
	size_t n = name != NULL ? strlen(name) : 0;
	int t;

	if (cfg == NULL)
		cfg = &defaults;
	if (name == NULL || !proto_name_ok(name, n)) {
		snprintf(err, errlen, "bad server name '%s'", name != NULL ?
		    name : "");
		errno = EINVAL;
		return NULL;
	}
	if (cfg->max_body > PROTO_BODY_DEFAULT ||
	    (cfg->queue != 0 && cfg->queue < CTLSRV_QUEUE_MIN)) {
		snprintf(err, errlen, "control server limits out of range: "
		    "body %llu (at most %llu), queue %zu (at least %u)",
		    (unsigned long long)cfg->max_body,
		    (unsigned long long)PROTO_BODY_DEFAULT, cfg->queue,
		    (unsigned)CTLSRV_QUEUE_MIN);
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->l = l;
	s->cfg = *cfg;
	memcpy(s->name, name, n + 1);
	s->name_len = n;
	s->lfd = lfd;
	if (s->cfg.maxconn == 0)
		s->cfg.maxconn = CTLSRV_MAXCONN;
	if (s->cfg.max_body == 0)
		s->cfg.max_body = CTLSRV_MAX_BODY;
	if (s->cfg.queue == 0)
		s->cfg.queue = CTLSRV_QUEUE;
	if (s->cfg.hello_ms <= 0)
		s->cfg.hello_ms = CTLSRV_HELLO_MS;
	if (s->cfg.write_ms <= 0)
		s->cfg.write_ms = CTLSRV_WRITE_MS;
	s->mark = s->cfg.queue / 2;
	t = s->cfg.hello_ms < s->cfg.write_ms ? s->cfg.hello_ms :
	    s->cfg.write_ms;
	s->tick_ms = t / 4 < 10 ? 10 : t / 4 > 1000 ? 1000 : t / 4;
	buf_init(&s->reply, s->mark);
	buf_init(&s->why, WHY_MAX);
	if (net_nonblock(lfd, 1) == -1 ||
	    loop_add(l, lfd, LOOP_IN, on_accept, s) == -1) {
		int e = errno;

		snprintf(err, errlen, "cannot serve the control socket: %s",
		    strerror(e));
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

void
ctlsrv_drain(struct ctlsrv *s)
{
	if (s->draining)
		return;
	s->draining = 1;
	update_accept(s);
	/* Not now: a callback of the server's may be on the stack. */
	s->drain_timer = loop_timer(s->l, 0, on_drain, s);
}

size_t
ctlsrv_clients(const struct ctlsrv *s)
{
	return s->nconns;
}

void
ctlsrv_free(struct ctlsrv *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL) {
		struct conn *c = s->conns;

		if (buf_len(&c->out) > 0)
			(void)write(c->fd, buf_head(&c->out), buf_len(&c->out));
		c->busy = 0;
		close_conn(c, NULL);
	}
	loop_del(s->l, s->lfd);
	loop_cancel(s->l, s->tick_timer);
	loop_cancel(s->l, s->backoff_timer);
	loop_cancel(s->l, s->drain_timer);
	buf_free(&s->reply);
	buf_free(&s->why);
	free(s);
}
