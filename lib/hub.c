/*
 * hub: connections, names, routing, limits.  See hub.h and dsproto(7).
 *
 * Data path: a readable connection is read into one shared scratch
 * buffer when it has nothing buffered (the common case: whole frames),
 * else into its own input buffer; every whole frame is handled in turn;
 * what is left (a partial frame, or frames held back because their
 * destination is full) is kept in the connection's buffer.  A frame that
 * is passed on is copied, header and all, byte for byte, to the output
 * queue of each destination; the destinations written to are flushed
 * once the whole read is handled, so that one read makes one write per
 * destination.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "hub.h"
#include "net.h"
#include "num.h"
#include "proto.h"
#include "runner.h"
#include "super.h"
#include "svc.h"

#define SCRATCH (64 * 1024)
#define ERR_MAX (64 * 1024)           /* a handler's standard error */
#define REPLY_ROOM (1u << 20)         /* beyond the queue, for replies */

enum { C_HELLO, C_AUTH, C_READY, C_CLOSING };
enum { H_OK, H_BLOCK, H_GONE };

struct conn;
struct hjob;

struct service {
	char *cmd;
};

struct name {
	struct name *next;                /* hash chain */
	char s[PROTO_NAME_MAX + 1];
	size_t len;
	struct conn **holder;
	size_t n, cap, rr;
	struct service *svc;
	size_t ncredit;                   /* holders that announced credit */
	unsigned farm : 1;                /* a credit holder has held it */
	struct hjob *qhead, *qtail;       /* jobs waiting for a holder */
	size_t qn;
};

/*
 * A job: a request to a name whose holders take credit.  It waits in
 * the name's queue, then is in flight at one worker until its reply;
 * the hub keeps the frame, to send it again if that worker is lost.
 */
struct hjob {
	struct hjob *next;
	struct conn *req;                 /* NULL once the requester left */
	struct name *name;
	unsigned sent;                    /* deliveries so far */
	size_t idlen;
	char id[PROTO_TOKEN_MAX + 1];     /* decoded */
	char from[PROTO_NAME_MAX + 1];
	size_t len;
	char frame[];
};

struct conn {
	struct hub *h;
	struct conn *prev, *next;         /* every connection */
	struct conn *next_dirty;
	struct conn *next_blocked;
	int rfd, wfd;
	unsigned long serial;
	int state;
	unsigned control : 1, single : 1, anon : 1, dirty : 1, blocked : 1,
	    eof : 1, pending : 1, dead : 1, kill : 1;
	int busy;                          /* callbacks on the stack */
	unsigned credit;                   /* jobs at once; 0: not a worker */
	unsigned inflight;
	struct hjob *jobs, *jobs_tail;     /* in flight here, oldest first */
	size_t requested;                  /* its jobs not yet answered */
	size_t worker;                     /* dsd -x: index + 1; 0: not */
	unsigned ka_sent : 1;              /* a keepalive ping is out */
	size_t children;                   /* handlers working for it */
	char peer[80];
	char hello[PROTO_NAME_MAX + 1];
	char nonce[AUTH_NONCE_HEX + 1];
	struct name **names;               /* names[0] is the hello name */
	size_t nnames;
	int64_t born, partial_since, last_read, last_active, over_since,
	    closing_since;
	uint64_t msgs_in, msgs_out;
	struct buf in, out;
	struct proto_parser p;
};

struct listener {
	struct hub *h;
	int fd;
	int control;
};

struct stats {
	uint64_t conns_total, msgs_in, msgs_out, bytes_in, bytes_out, drops,
	    no_route, refused, bad_frames, slow, auth_failures, timeouts,
	    handlers, jobs, jobs_done, redelivered, keepalive_lost;
};

struct hub {
	struct loop *l;
	struct hub_config cfg;
	char name[PROTO_NAME_MAX + 1];
	size_t name_len;
	struct runner *run;
	struct listener **lis;
	size_t nlis;
	int backoff_ms;
	uint64_t backoff_timer;
	struct conn *conns;
	size_t nconns;
	size_t nctl;                       /* of them, on the control socket */
	unsigned long serial;
	struct conn *dirty;
	struct conn *blocked;
	struct name **tab;
	size_t tabsize, nnames;
	char *scratch;
	size_t queued;                     /* bytes in every output queue */
	size_t high_water;
	uint64_t tick_timer, wake_timer, drain_timer;
	int tick_ms;
	int draining, done;
	int failed;                        /* the single connection broke */
	int freeing;
	int64_t started;
	struct stats st;
	struct super *sup;                 /* dsd -x workers */
	size_t jobs_queued, jobs_bytes;    /* in every name's queue */
	uint64_t pump_timer;
	unsigned long ka_seq;
	unsigned char *x_said;             /* each -x worker's first hello */
	size_t nx, x_pending;              /* of them, and those not yet */
	int64_t x_until;                   /* jobs wait for them until then */
};

static void close_conn(struct conn *c, const char *why);
static void update_accept(struct hub *h);
static void process(struct conn *c, const char *base, size_t len,
    int scratch);
static void update_want(struct conn *c);
static void pump(struct hub *h);
static size_t requeue_jobs(struct conn *c);
static void worker_said_hello(struct conn *c);
static void forget_requester(struct conn *c);

/* Logging. */

static void
hub_log(struct hub *h, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (h->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	h->cfg.log(h->cfg.log_ctx, line);
}

/* "client 7 (127.0.0.1:40112 as alice)", for log lines. */
static const char *
who(const struct conn *c, char *dst, size_t n)
{
	if (c->hello[0] != '\0')
		snprintf(dst, n, "client %lu (%s as %s)", c->serial, c->peer,
		    c->hello);
	else
		snprintf(dst, n, "client %lu (%s)", c->serial, c->peer);
	return dst;
}

/* Names. */

static size_t
hash(const char *s, size_t n)
{
	size_t h = 2166136261u, i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct name *
name_find(struct hub *h, const char *s, size_t n)
{
	struct name *e;

	for (e = h->tab[hash(s, n) & (h->tabsize - 1)]; e != NULL; e = e->next)
		if (e->len == n && memcmp(e->s, s, n) == 0)
			return e;
	return NULL;
}

static int
name_grow(struct hub *h)
{
	size_t nsize = h->tabsize * 2, i;
	struct name **nt = calloc(nsize, sizeof *nt), *e, *next;

	if (nt == NULL)
		return -1;
	for (i = 0; i < h->tabsize; i++)
		for (e = h->tab[i]; e != NULL; e = next) {
			size_t k = hash(e->s, e->len) & (nsize - 1);

			next = e->next;
			e->next = nt[k];
			nt[k] = e;
		}
	free(h->tab);
	h->tab = nt;
	h->tabsize = nsize;
	return 0;
}

static struct name *
name_get(struct hub *h, const char *s, size_t n)
{
	struct name *e = name_find(h, s, n);
	size_t k;

	if (e != NULL)
		return e;
	if (h->nnames >= h->tabsize && name_grow(h) == -1)
		return NULL;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	memcpy(e->s, s, n);
	e->len = n;
	k = hash(s, n) & (h->tabsize - 1);
	e->next = h->tab[k];
	h->tab[k] = e;
	h->nnames++;
	return e;
}

static void
name_drop(struct hub *h, struct name *e)
{
	struct name **pp = &h->tab[hash(e->s, e->len) & (h->tabsize - 1)];

	if (e->n > 0 || e->svc != NULL || e->qn > 0)
		return;
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	h->nnames--;
	free(e->holder);
	free(e);
}

static int
holds(const struct conn *c, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < c->nnames; i++)
		if (c->names[i]->len == n && memcmp(c->names[i]->s, s, n) == 0)
			return 1;
	return 0;
}

/* 0, or a reason for refusing: "is a service", "too many names". */
static const char *
hold(struct conn *c, const char *s, size_t n)
{
	struct hub *h = c->h;
	struct name *e;
	void *p;

	if (holds(c, s, n))
		return NULL;
	if (c->nnames >= HUB_NAMES_PER_CONN)
		return "too many names";
	if ((e = name_get(h, s, n)) == NULL)
		return "out of memory";
	if (e->svc != NULL)
		return "is a service of this hub";
	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 2;

		if ((p = realloc(e->holder, ncap * sizeof *e->holder)) == NULL)
			goto nomem;
		e->holder = p;
		e->cap = ncap;
	}
	if ((p = realloc(c->names, (c->nnames + 1) * sizeof *c->names)) ==
	    NULL)
		goto nomem;
	c->names = p;
	c->names[c->nnames++] = e;
	e->holder[e->n++] = c;
	if (c->credit > 0) {
		e->ncredit++;
		e->farm = 1;
		if (e->qn > 0)
			pump(h);  /* a worker for the jobs waiting there */
	}
	return NULL;
nomem:
	name_drop(h, e);
	return "out of memory";
}

static void
unhold_at(struct conn *c, size_t i)
{
	struct name *e = c->names[i];
	size_t k;

	for (k = 0; k < e->n; k++)
		if (e->holder[k] == c) {
			memmove(&e->holder[k], &e->holder[k + 1],
			    (e->n - k - 1) * sizeof *e->holder);
			e->n--;
			if (e->rr > k)
				e->rr--;
			if (c->credit > 0)
				e->ncredit--;
			break;
		}
	memmove(&c->names[i], &c->names[i + 1],
	    (c->nnames - i - 1) * sizeof *c->names);
	c->nnames--;
	name_drop(c->h, e);
}

static void
unhold_all(struct conn *c)
{
	while (c->nnames > 0)
		unhold_at(c, c->nnames - 1);
	free(c->names);
	c->names = NULL;
}

/* Queues. */

static int
has_room(const struct conn *d)
{
	return d->state == C_READY && !d->kill &&
	    buf_len(&d->out) < d->h->cfg.queue;
}

static void
mark_dirty(struct conn *d)
{
	if (!d->dirty) {
		d->dirty = 1;
		d->next_dirty = d->h->dirty;
		d->h->dirty = d;
	}
}

/* Account for bytes that an encoder appended to d->out. */
static void
queued(struct conn *d, size_t before)
{
	struct hub *h = d->h;
	size_t now = buf_len(&d->out);

	if (now > before)
		h->queued += now - before;
	if (now >= h->cfg.queue && d->over_since == 0)
		d->over_since = loop_now(h->l);
	mark_dirty(d);
}

static void
enqueue(struct conn *d, const char *p, size_t n)
{
	size_t before = buf_len(&d->out);

	if (buf_append(&d->out, p, n) != BUF_OK) {
		/* Only memory can run out here; the limit has room. */
		d->kill = 1;
		mark_dirty(d);
		return;
	}
	d->msgs_out++;
	d->h->st.msgs_out++;
	queued(d, before);
}

static void
wake(struct hub *h);

/* Write what d has queued; close it on an error. */
static void
write_out(struct conn *d)
{
	struct hub *h = d->h;
	size_t len = buf_len(&d->out);
	int was_full = len >= h->cfg.queue;
	ssize_t n;

	while (len > 0) {
		n = write(d->wfd, buf_head(&d->out), len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			h->queued -= len;
			buf_clear(&d->out);
			close_conn(d, errno == EPIPE || errno == ECONNRESET ?
			    NULL : strerror(errno));
			return;
		}
		buf_consume(&d->out, (size_t)n);
		h->queued -= (size_t)n;
		h->st.bytes_out += (size_t)n;
		d->last_active = loop_now(h->l);
		len -= (size_t)n;
	}
	if (len < h->cfg.queue) {
		d->over_since = 0;
		if (was_full || h->blocked != NULL)
			wake(h);
	}
	if (len == 0 && d->children == 0 && (d->state == C_CLOSING ||
	    (d->eof && !d->pending))) {
		close_conn(d, NULL);
		return;
	}
	update_want(d);
}

static void
flush_dirty(struct hub *h)
{
	struct conn *d;

	while ((d = h->dirty) != NULL) {
		h->dirty = d->next_dirty;
		d->dirty = 0;
		if (d->dead)
			continue;
		if (d->kill)
			close_conn(d, "out of memory for its queue");
		else
			write_out(d);
	}
	if (h->draining && h->queued == 0 && runner_running(h->run) == 0) {
		h->done = 1;
		loop_stop(h->l);
	}
}

static void
update_want(struct conn *c)
{
	struct hub *h = c->h;
	int in = !c->blocked && !c->eof && !c->dead && !c->kill &&
	    c->state != C_CLOSING && !h->draining;
	int out = buf_len(&c->out) > 0;

	if (c->dead)
		return;
	if (c->rfd == c->wfd) {
		loop_want(h->l, c->rfd, (in ? LOOP_IN : 0) | (out ? LOOP_OUT : 0));
	} else {
		loop_want(h->l, c->rfd, in ? LOOP_IN : 0);
		loop_want(h->l, c->wfd, out ? LOOP_OUT : 0);
	}
}

/* Hold c's input back until a destination drains. */
static void
block(struct conn *c)
{
	struct hub *h = c->h;

	if (!c->blocked) {
		c->blocked = 1;
		c->next_blocked = h->blocked;
		h->blocked = c;
	}
	update_want(c);
}

static void
on_wake(struct loop *l, uint64_t id, void *ctx)
{
	struct hub *h = ctx;
	struct conn *c, *next, *list = h->blocked;

	(void)l;
	(void)id;
	h->wake_timer = 0;
	h->blocked = NULL;
	/*
	 * Held, so that none is freed while the list is walked: handling one
	 * connection's frames may close another (kick).
	 */
	for (c = list; c != NULL; c = c->next_blocked) {
		c->blocked = 0;
		c->busy++;
	}
	for (c = list; c != NULL; c = next) {
		next = c->next_blocked;
		if (!c->dead) {
			process(c, buf_head(&c->in), buf_len(&c->in), 0);
			if (!c->dead)
				update_want(c);
			if (!c->dead && !c->blocked && c->eof && !c->pending &&
			    buf_len(&c->out) == 0 && c->children == 0)
				close_conn(c, NULL);
		}
		c->busy--;
		if (c->dead)
			close_conn(c, NULL);    /* frees it */
	}
	flush_dirty(h);
}

/* Let held-back producers try again, in the next round. */
static void
wake(struct hub *h)
{
	if (h->blocked != NULL && h->wake_timer == 0)
		h->wake_timer = loop_timer(h->l, 0, on_wake, h);
}

/* Connections. */

static void
free_conn(struct conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/*
 * Close c now: its names go, its queue is dropped, and a producer held
 * back for it may go on.  The struct itself lives on while a callback
 * that uses it is on the stack or a handler still works for it.
 */
static void
close_conn(struct conn *c, const char *why)
{
	struct hub *h = c->h;
	struct conn **pp;
	char w[200];

	if (c->dead) {
		if (c->busy == 0 && c->children == 0)
			free_conn(c);
		return;
	}
	if (why != NULL)
		hub_log(h, "%s: closed: %s", who(c, w, sizeof w), why);
	else if (h->cfg.verbose)
		hub_log(h, "%s: closed", who(c, w, sizeof w));
	c->dead = 1;
	/* Requeued first: a name with jobs waiting is kept. */
	if (c->inflight > 0 && !h->freeing) {
		size_t n = requeue_jobs(c);

		if (n > 0)
			hub_log(h, "%s: %zu job%s in flight queued again",
			    who(c, w, sizeof w), n, n == 1 ? "" : "s");
		pump(h);
	} else if (c->inflight > 0) {
		struct hjob *j, *jn;

		for (j = c->jobs; j != NULL; j = jn) {
			jn = j->next;
			free(j);
		}
		c->jobs = c->jobs_tail = NULL;
		c->inflight = 0;
	}
	unhold_all(c);
	if (c->requested > 0)
		forget_requester(c);
	if (c->worker > 0 && h->sup != NULL)
		super_lost(h->sup, c->worker - 1);
	h->queued -= buf_len(&c->out);
	buf_clear(&c->out);
	if (c->pending)
		h->st.drops++;
	if (c->blocked) {
		for (pp = &h->blocked; *pp != c; pp = &(*pp)->next_blocked)
			;
		*pp = c->next_blocked;
		c->blocked = 0;
	}
	if (c->dirty) {
		for (pp = &h->dirty; *pp != c; pp = &(*pp)->next_dirty)
			;
		*pp = c->next_dirty;
		c->dirty = 0;
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	loop_del(h->l, c->rfd);
	close(c->rfd);
	if (c->wfd != c->rfd) {
		loop_del(h->l, c->wfd);
		close(c->wfd);
	}
	h->nconns--;
	if (c->control)
		h->nctl--;
	if (c->single) {
		h->done = 1;
		loop_stop(h->l);
	}
	update_accept(h);
	wake(h);
	if (c->busy == 0 && c->children == 0)
		free_conn(c);
}

/* Stop reading from c, send what it has queued, then close it. */
static void
start_closing(struct conn *c)
{
	if (c->state == C_CLOSING || c->dead)
		return;
	unhold_all(c);
	c->state = C_CLOSING;
	c->closing_since = loop_now(c->h->l);
	mark_dirty(c);
	update_want(c);
}

static void on_conn(struct loop *l, int fd, unsigned ev, void *ctx);

static struct conn *
new_conn(struct hub *h, int rfd, int wfd, const char *peer)
{
	struct conn *c = calloc(1, sizeof *c);
	size_t frame_max = PROTO_HDR_MAX + (size_t)h->cfg.max_body + 1;

	if (c == NULL)
		return NULL;
	c->h = h;
	c->rfd = rfd;
	c->wfd = wfd;
	c->serial = ++h->serial;
	c->state = C_HELLO;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	buf_init(&c->in, frame_max + SCRATCH);
	buf_init(&c->out, h->cfg.queue + frame_max + REPLY_ROOM);
	proto_parser_init(&c->p, h->cfg.max_body);
	c->born = c->last_active = loop_now(h->l);
	if (loop_add(h->l, rfd, LOOP_IN, on_conn, c) == -1) {
		free_conn(c);
		return NULL;
	}
	if (wfd != rfd && loop_add(h->l, wfd, 0, on_conn, c) == -1) {
		loop_del(h->l, rfd);
		free_conn(c);
		return NULL;
	}
	c->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = c;
	h->conns = c;
	h->nconns++;
	h->st.conns_total++;
	if (h->cfg.verbose) {
		char w[200];

		hub_log(h, "%s: connected", who(c, w, sizeof w));
	}
	return c;
}

/* Replies from the hub itself. */

/*
 * Append a frame from the hub to c: type, re= the id of m (if any), the
 * extra fields, and the body.  It goes to m's sender, or to c's name.
 */
static void
say(struct conn *c, const struct proto_msg *m, const char *type,
    const struct proto_kv *kv, size_t nkv, const char *body, size_t n)
{
	struct hub *h = c->h;
	struct proto_hdr hd;
	char to[PROTO_NAME_MAX + 1], re[PROTO_TOKEN_MAX + 1];
	size_t before = buf_len(&c->out);

	memset(&hd, 0, sizeof hd);
	hd.from = h->name;
	hd.type = type;
	hd.extra = kv;
	hd.nextra = nkv;
	if (c->hello[0] != '\0')
		hd.to = c->hello;
	else
		hd.to = "*";
	if (m != NULL) {
		struct proto_str from = proto_get(m, PF_FROM);
		struct proto_str id = proto_get(m, PF_ID);

		/* To the name it sent as, when that is one of its own. */
		if ((c->anon || holds(c, from.p, from.n) ||
		    c->hello[0] == '\0') && !(from.n == h->name_len &&
		    memcmp(from.p, h->name, from.n) == 0)) {
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
	if (proto_encode(&c->out, &hd, body, n) != 0) {
		c->kill = 1;
		mark_dirty(c);
		return;
	}
	c->msgs_out++;
	h->st.msgs_out++;
	queued(c, before);
}

static void
say_err(struct conn *c, const struct proto_msg *m, const char *reason,
    const char *fmt, ...)
{
	char body[600];
	struct proto_kv kv[2] = {
		{ "status", "1", 1 }, { "reason", reason, strlen(reason) }
	};
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof body - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof body - 2)
		n = (int)sizeof body - 2;
	body[n++] = '\n';
	say(c, m, "err", kv, 2, body, (size_t)n);
}

/* Control: messages to the hub's own name. */

static int
cmp_name(const void *a, const void *b)
{
	const struct name *x = *(const struct name *const *)a;
	const struct name *y = *(const struct name *const *)b;

	return strcmp(x->s, y->s);
}

static void
ctl_names(struct conn *c, const struct proto_msg *m)
{
	struct hub *h = c->h;
	struct name **all, *e;
	struct buf b;
	size_t i, k = 0;
	char line[PROTO_NAME_MAX + 32];

	if ((all = malloc((h->nnames + 1) * sizeof *all)) == NULL) {
		say_err(c, m, "busy", "out of memory");
		return;
	}
	for (i = 0; i < h->tabsize; i++)
		for (e = h->tab[i]; e != NULL; e = e->next)
			all[k++] = e;
	qsort(all, k, sizeof *all, cmp_name);
	buf_init(&b, (size_t)-1);
	for (i = 0; i < k; i++) {
		int n = snprintf(line, sizeof line, "%s\t%zu\n", all[i]->s,
		    all[i]->svc != NULL ? (size_t)1 : all[i]->n);

		buf_append(&b, line, (size_t)n);
	}
	free(all);
	say(c, m, "rep", NULL, 0, buf_head(&b), buf_len(&b));
	buf_free(&b);
}

static void
ctl_stats(struct conn *c, const struct proto_msg *m)
{
	struct hub *h = c->h;
	const struct stats *s = &h->st;
	struct conn *d;
	size_t qmax = 0, nblocked = 0, workers = 0, inflight = 0;
	char body[1536];
	int n;

	for (d = h->conns; d != NULL; d = d->next)
		if (buf_len(&d->out) > qmax)
			qmax = buf_len(&d->out);
	for (d = h->blocked; d != NULL; d = d->next_blocked)
		nblocked++;
	for (d = h->conns; d != NULL; d = d->next)
		if (d->credit > 0) {
			workers++;
			inflight += d->inflight;
		}
	n = snprintf(body, sizeof body,
	    "connections\t%zu\nconnections_total\t%llu\nnames\t%zu\n"
	    "msgs_in\t%llu\nmsgs_out\t%llu\nbytes_in\t%llu\nbytes_out\t%llu\n"
	    "drops\t%llu\nno_route\t%llu\nrefused\t%llu\nbad_frames\t%llu\n"
	    "slow_disconnects\t%llu\nauth_failures\t%llu\ntimeouts\t%llu\n"
	    "queued_bytes\t%zu\nqueue_max\t%zu\nblocked\t%zu\n"
	    "handlers_running\t%zu\nhandlers_total\t%llu\n"
	    "workers\t%zu\njobs_queued\t%zu\njobs_in_flight\t%zu\n"
	    "jobs_total\t%llu\njobs_done\t%llu\njobs_redelivered\t%llu\n"
	    "keepalive_lost\t%llu\nuptime_s\t%lld\n",
	    h->nconns, (unsigned long long)s->conns_total, h->nnames,
	    (unsigned long long)s->msgs_in, (unsigned long long)s->msgs_out,
	    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
	    (unsigned long long)s->drops, (unsigned long long)s->no_route,
	    (unsigned long long)s->refused, (unsigned long long)s->bad_frames,
	    (unsigned long long)s->slow,
	    (unsigned long long)s->auth_failures,
	    (unsigned long long)s->timeouts, h->queued, qmax, nblocked,
	    runner_running(h->run), (unsigned long long)s->handlers,
	    workers, h->jobs_queued, inflight, (unsigned long long)s->jobs,
	    (unsigned long long)s->jobs_done,
	    (unsigned long long)s->redelivered,
	    (unsigned long long)s->keepalive_lost, (long long)((loop_now(h->l) - h->started) / 1000));
	say(c, m, "rep", NULL, 0, body, (size_t)n);
}

static void
ctl_kick(struct conn *c, const struct proto_msg *m, const char *s, size_t n)
{
	struct hub *h = c->h;
	struct name *e = name_find(h, s, n);
	struct conn **victims;
	size_t i, k = 0;
	char body[32];
	int len;

	if (e != NULL && e->n > 0) {
		if ((victims = malloc(e->n * sizeof *victims)) == NULL) {
			say_err(c, m, "busy", "out of memory");
			return;
		}
		k = e->n;
		memcpy(victims, e->holder, k * sizeof *victims);
		/* Answer first: the one asking may be among them. */
		len = snprintf(body, sizeof body, "kicked %zu\n", k);
		say(c, m, "rep", NULL, 0, body, (size_t)len);
		for (i = 0; i < k; i++)
			if (!victims[i]->dead)
				close_conn(victims[i], "kicked");
		free(victims);
		return;
	}
	say(c, m, "rep", NULL, 0, "kicked 0\n", 9);
}

static void
control(struct conn *c, const struct proto_msg *m)
{
	struct hub *h = c->h;
	struct proto_str t = proto_type(m);
	const char *p = m->body, *end, *w1, *w2 = NULL;
	size_t n1, n2 = 0, len = (size_t)m->body_len;
	const char *eol = memchr(p, '\n', len);

	if (proto_str_eq(t, "rep") || proto_str_eq(t, "err"))
		return;         /* never answer an answer */
	if (proto_str_eq(t, "ping")) {
		say(c, m, "rep", NULL, 0, NULL, 0);
		return;
	}
	end = eol != NULL ? eol : p + len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	w1 = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	n1 = (size_t)(p - w1);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end) {
		w2 = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		n2 = (size_t)(p - w2);
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p < end) {
			say_err(c, m, "bad-argument", "too many words");
			return;
		}
	}
#define IS(w, n, lit) ((n) == sizeof(lit) - 1 && memcmp(w, lit, n) == 0)
	if (IS(w1, n1, "ping") && w2 == NULL) {
		say(c, m, "rep", NULL, 0, "pong\n", 5);
	} else if (IS(w1, n1, "stats") && w2 == NULL) {
		ctl_stats(c, m);
	} else if (IS(w1, n1, "names") && w2 == NULL) {
		ctl_names(c, m);
	} else if (IS(w1, n1, "join") || IS(w1, n1, "leave") ||
	    IS(w1, n1, "kick")) {
		const char *why;

		if (w2 == NULL || !proto_name_ok(w2, n2) ||
		    (n2 == h->name_len && memcmp(w2, h->name, n2) == 0)) {
			say_err(c, m, "bad-argument", "%.*s needs a name "
			    "other than the hub's", (int)n1, w1);
		} else if (IS(w1, n1, "kick")) {
			if (!c->control)
				say_err(c, m, "denied", "kick is allowed only "
				    "on the control socket");
			else
				ctl_kick(c, m, w2, n2);
		} else if (c->anon) {
			say_err(c, m, "no-hello", "say hello before %.*s",
			    (int)n1, w1);
		} else if (IS(w1, n1, "join")) {
			if ((why = hold(c, w2, n2)) != NULL)
				say_err(c, m, "bad-argument", "cannot join "
				    "%.*s: %s", (int)n2, w2, why);
			else {
				say(c, m, "rep", NULL, 0, NULL, 0);
				wake(h);
			}
		} else {
			size_t i;

			for (i = 0; i < c->nnames; i++)
				if (c->names[i]->len == n2 &&
				    memcmp(c->names[i]->s, w2, n2) == 0)
					break;
			if (i == c->nnames)
				say_err(c, m, "bad-argument", "not holding %.*s",
				    (int)n2, w2);
			else if (i == 0)
				say_err(c, m, "bad-argument", "cannot leave "
				    "the hello name %.*s", (int)n2, w2);
			else {
				unhold_at(c, i);
				say(c, m, "rep", NULL, 0, NULL, 0);
			}
		}
	} else if (IS(w1, n1, "shutdown") && w2 == NULL) {
		if (!c->control) {
			say_err(c, m, "denied", "shutdown is allowed only on "
			    "the control socket");
		} else {
			say(c, m, "rep", NULL, 0, NULL, 0);
			hub_log(h, "shutdown asked on the control socket");
			hub_drain(h, h->cfg.write_ms);
		}
	} else {
		char s[80];

		say_err(c, m, "unknown-command", "unknown command '%s' (try "
		    "ping, stats, names, join, leave, kick, shutdown)",
		    err_printable(s, sizeof s, w1, n1));
	}
#undef IS
}

/* Local services. */

struct job {
	struct conn *c;
	char self[PROTO_NAME_MAX + 1];
	size_t len;
	char frame[];
};

static void
on_job_done(void *ctx, const struct child_result *res, struct buf *out,
    struct buf *err)
{
	struct job *j = ctx;
	struct conn *c = j->c;
	struct hub *h = c->h;
	struct proto_msg m;
	uint64_t off;
	char e[160];

	c->children--;
	if (c->dead) {
		h->st.drops++;
		if (c->children == 0 && c->busy == 0)
			free_conn(c);
	} else if (proto_parse_datagram(j->frame, j->len, UINT64_MAX, &m, &off,
	    e, sizeof e) == PROTO_MSG) {
		size_t before = buf_len(&c->out);

		if (res->timed_out && buf_len(err) == 0) {
			/* Say why, for people, as an err body should. */
			char why[80];
			int n = snprintf(why, sizeof why, "%s: the handler ran "
			    "past its deadline of %d ms\n", j->self,
			    h->cfg.child_ms);

			buf_append(err, why, (size_t)n);
		}
		if (svc_reply(&c->out, &m, j->self, res, out, err,
		    h->cfg.max_body) != 0)
			c->kill = 1;
		c->msgs_out++;
		h->st.msgs_out++;
		queued(c, before);
	}
	free(j);
	wake(h);
	flush_dirty(h);
}

static int
run_service(struct conn *c, const struct proto_msg *m, struct name *e)
{
	struct hub *h = c->h;
	struct svc_env env;
	struct job *j;

	if (runner_full(h->run))
		return H_BLOCK;
	if (!svc_wants(m))
		return H_OK;    /* a stray reply to a service: nothing to do */
	if ((j = malloc(sizeof *j + m->frame_len)) == NULL) {
		say_err(c, m, "busy", "out of memory");
		return H_OK;
	}
	j->c = c;
	memcpy(j->self, e->s, e->len + 1);
	j->len = m->frame_len;
	memcpy(j->frame, m->frame, m->frame_len);
	svc_env_init(&env);
	if (svc_env_build(&env, m, e->s) == -1 ||
	    runner_start(h->run, e->svc->cmd, env.envp, m->body,
	    (size_t)m->body_len, h->cfg.child_ms, (size_t)h->cfg.max_body,
	    ERR_MAX, on_job_done, j) == -1) {
		say_err(c, m, "busy", "cannot run the handler for %s: %s",
		    e->s, strerror(errno));
		svc_env_free(&env);
		free(j);
		return H_OK;
	}
	svc_env_free(&env);
	c->children++;
	h->st.handlers++;
	return H_OK;
}

/* The hello and the key. */

static int
do_hello(struct conn *c, const struct proto_msg *m)
{
	struct hub *h = c->h;
	struct proto_str from = proto_get(m, PF_FROM);
	struct proto_str cn = proto_lookup(m, "nonce");
	struct proto_str cr = proto_lookup(m, "credit");
	struct proto_kv kv[6];
	char smax[24], squeue[24], scredit[24], mac[AUTH_MAC_HEX + 1];
	const char *why;
	size_t nkv = 0;

	if (from.n == h->name_len && memcmp(from.p, h->name, from.n) == 0) {
		say_err(c, m, "bad-hello", "%s is the hub's own name", h->name);
		start_closing(c);
		return H_GONE;
	}
	memcpy(c->hello, from.p, from.n);
	c->hello[from.n] = '\0';
	snprintf(smax, sizeof smax, "%llu", (unsigned long long)h->cfg.max_body);
	snprintf(squeue, sizeof squeue, "%zu", h->cfg.queue);
	kv[nkv++] = (struct proto_kv){ "max", smax, strlen(smax) };
	kv[nkv++] = (struct proto_kv){ "queue", squeue, strlen(squeue) };
	if (cr.p != NULL) {
		uint64_t v;

		if (num_parse_u64(cr.p, cr.n, HUB_CREDIT_MAX, 0, &v) != NUM_OK ||
		    v == 0) {
			say_err(c, m, "bad-hello", "credit must be a count "
			    "from 1 to %d", HUB_CREDIT_MAX);
			start_closing(c);
			return H_GONE;
		}
		c->credit = (unsigned)v;
		snprintf(scredit, sizeof scredit, "%u", c->credit);
		kv[nkv++] = (struct proto_kv){ "credit", scredit,
		    strlen(scredit) };
	}
	if (h->cfg.key != NULL && !c->control) {
		if (auth_nonce(c->nonce) == -1) {
			say_err(c, m, "busy", "cannot make a nonce: %s",
			    strerror(errno));
			start_closing(c);
			return H_GONE;
		}
		kv[nkv++] = (struct proto_kv){ "auth", "hmac-sha256", 11 };
		kv[nkv++] = (struct proto_kv){ "nonce", c->nonce,
		    AUTH_NONCE_HEX };
		if (cn.p != NULL) {
			auth_mac(h->cfg.key, cn.p, cn.n, h->name, h->name_len,
			    mac);
			kv[nkv++] = (struct proto_kv){ "mac", mac, AUTH_MAC_HEX };
		}
		c->state = C_AUTH;
		say(c, m, "hello", kv, nkv, NULL, 0);
		return H_OK;
	}
	if ((why = hold(c, from.p, from.n)) != NULL) {
		say_err(c, m, "bad-hello", "cannot hold %s: %s", c->hello, why);
		start_closing(c);
		return H_GONE;
	}
	c->state = C_READY;
	c->anon = 0;
	say(c, m, "hello", kv, nkv, NULL, 0);
	worker_said_hello(c);
	if (h->cfg.verbose) {
		char w[200];

		hub_log(h, "%s: hello", who(c, w, sizeof w));
	}
	wake(h);
	return H_OK;
}

static int
do_auth(struct conn *c, const struct proto_msg *m)
{
	struct hub *h = c->h;
	struct proto_str from = proto_get(m, PF_FROM);
	struct proto_str mac = proto_lookup(m, "mac");
	const char *why;
	char w[200];

	if (mac.p == NULL || strlen(c->hello) != from.n ||
	    memcmp(c->hello, from.p, from.n) != 0 ||
	    !auth_check(h->cfg.key, c->nonce, AUTH_NONCE_HEX, c->hello,
	    from.n, mac.p, mac.n)) {
		h->st.auth_failures++;
		if (c->single)
			h->failed = 1;
		hub_log(h, "%s: authentication failed", who(c, w, sizeof w));
		say_err(c, m, "auth", "authentication failed");
		start_closing(c);
		return H_GONE;
	}
	if ((why = hold(c, from.p, from.n)) != NULL) {
		say_err(c, m, "bad-hello", "cannot hold %s: %s", c->hello, why);
		start_closing(c);
		return H_GONE;
	}
	c->state = C_READY;
	say(c, m, "rep", NULL, 0, NULL, 0);
	worker_said_hello(c);
	if (h->cfg.verbose)
		hub_log(h, "%s: hello, key proven", who(c, w, sizeof w));
	wake(h);
	return H_OK;
}

/*
 * Jobs: requests to a name whose holders announced credit (dsrecv -P).
 * A job goes only to a holder with credit to spare; the rest wait in
 * the name's queue, in order.  The hub keeps each job until its reply,
 * sends it again, marked redelivered=N, when its worker is lost, and
 * passes on exactly one reply, to the requester's own connection, with
 * worker= added to say who ran it.
 */

static int
sender_full(const struct conn *c)
{
	return buf_len(&c->out) >= c->h->cfg.queue;
}

static int
is_job(const struct proto_msg *m)
{
	return m->wk[PF_ID] >= 0 && proto_str_eq(proto_type(m), "req");
}

/* A holder of e with credit to spare and room in its queue, in turn. */
static struct conn *
pick_worker(struct name *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		size_t k = (e->rr + i) % e->n;
		struct conn *d = e->holder[k];

		if (d->credit > d->inflight && has_room(d)) {
			e->rr = k + 1;
			return d;
		}
	}
	return NULL;
}

static void
send_job(struct conn *w, struct hjob *j)
{
	struct hub *h = w->h;
	struct proto_msg m;
	uint64_t off;
	char e[80], n[24];
	int rc = -1;

	if (j->sent > 0 && proto_parse_datagram(j->frame, j->len, UINT64_MAX,
	    &m, &off, e, sizeof e) == PROTO_MSG) {
		size_t before = buf_len(&w->out);

		snprintf(n, sizeof n, "%u", j->sent);
		rc = proto_set_field(&w->out, &m, "redelivered", n, strlen(n));
		if (rc == 0) {
			w->msgs_out++;
			h->st.msgs_out++;
			queued(w, before);
		} else if (rc == PROTO_E_FULL) {
			w->kill = 1;
			mark_dirty(w);
		}
	}
	/* A header with no room for the mark goes as it came. */
	if (rc != 0 && !w->kill)
		enqueue(w, j->frame, j->len);
	j->sent++;
	j->next = NULL;
	if (w->jobs_tail != NULL)
		w->jobs_tail->next = j;
	else
		w->jobs = j;
	w->jobs_tail = j;
	w->inflight++;
}

/* Hand e's queued jobs to its holders while they have credit. */
static void
dispatch(struct hub *h, struct name *e)
{
	struct conn *w;
	int moved = 0;

	while (e->qhead != NULL && (w = pick_worker(e)) != NULL) {
		struct hjob *j = e->qhead;

		if ((e->qhead = j->next) == NULL)
			e->qtail = NULL;
		e->qn--;
		h->jobs_queued--;
		h->jobs_bytes -= j->len;
		send_job(w, j);
		moved = 1;
	}
	if (moved)
		wake(h);          /* a requester held back may go on */
}

/* Every name with jobs waiting, in the next round. */
static void
on_pump(struct loop *l, uint64_t id, void *ctx)
{
	struct hub *h = ctx;
	size_t i;

	(void)l;
	(void)id;
	h->pump_timer = 0;
	if (h->jobs_queued == 0)
		return;
	for (i = 0; i < h->tabsize; i++) {
		struct name *e;

		for (e = h->tab[i]; e != NULL; e = e->next)
			if (e->qn > 0)
				dispatch(h, e);
	}
	flush_dirty(h);
}

static void
pump(struct hub *h)
{
	if (h->jobs_queued > 0 && h->pump_timer == 0 && !h->draining)
		h->pump_timer = loop_timer(h->l, 0, on_pump, h);
}

static int
submit_job(struct conn *c, const struct proto_msg *m, struct name *e)
{
	struct hub *h = c->h;
	struct proto_str id = proto_get(m, PF_ID);
	struct proto_str from = proto_get(m, PF_FROM);
	struct hjob *j;
	long n;

	if (h->jobs_queued >= h->cfg.jobs_max ||
	    h->jobs_bytes + m->frame_len > HUB_JOBS_BYTES)
		return H_BLOCK;
	if (sender_full(c))
		return H_BLOCK;   /* it may need an error from us */
	if ((j = malloc(sizeof *j + m->frame_len)) == NULL) {
		say_err(c, m, "busy", "out of memory");
		return H_OK;
	}
	if ((n = proto_decode(id.p, id.n, j->id)) < 0) {
		free(j);
		say_err(c, m, "bad-frame", "a malformed id");
		return H_OK;
	}
	j->idlen = (size_t)n;
	memcpy(j->from, from.p, from.n);
	j->from[from.n] = '\0';
	j->req = c;
	j->name = e;
	j->sent = 0;
	j->len = m->frame_len;
	memcpy(j->frame, m->frame, m->frame_len);
	j->next = NULL;
	if (e->qtail != NULL)
		e->qtail->next = j;
	else
		e->qhead = j;
	e->qtail = j;
	e->qn++;
	h->jobs_queued++;
	h->jobs_bytes += j->len;
	h->st.jobs++;
	c->requested++;
	dispatch(h, e);
	return H_OK;
}

/* x1 for dsd -x, the address of a TCP peer, else "client N". */
static void
worker_label(const struct conn *w, char *dst, size_t n)
{
	if (w->worker > 0 || (strchr(w->peer, ':') != NULL &&
	    strncmp(w->peer, "unix:", 5) != 0))
		snprintf(dst, n, "%s", w->peer);
	else
		snprintf(dst, n, "client%lu", w->serial);
}

/*
 * A rep or err from worker w: if it answers one of w's jobs, pass it to
 * the job's requester and give w its credit back.  H_OK, H_BLOCK (the
 * requester's queue is full), or -1: not an answer to a job.
 */
static int
job_reply(struct conn *w, const struct proto_msg *m)
{
	struct hub *h = w->h;
	struct proto_str re = proto_get(m, PF_RE), to = proto_get(m, PF_TO);
	struct hjob *j, *prev = NULL;
	struct conn *r;
	char id[PROTO_TOKEN_MAX + 1], label[100];
	long n;
	size_t i;

	if (re.p == NULL || re.n > PROTO_TOKEN_MAX ||
	    (n = proto_decode(re.p, re.n, id)) < 0)
		return -1;
	for (j = w->jobs; j != NULL; prev = j, j = j->next)
		if (j->idlen == (size_t)n && memcmp(j->id, id, j->idlen) == 0 &&
		    strlen(j->from) == to.n && memcmp(j->from, to.p, to.n) == 0)
			break;
	if (j == NULL)
		return -1;
	r = j->req;
	if (r != NULL && !r->dead) {
		size_t before = buf_len(&r->out);
		int rc;

		if (buf_len(&r->out) >= h->cfg.queue)
			return H_BLOCK;
		worker_label(w, label, sizeof label);
		rc = proto_set_field(&r->out, m, "worker", label,
		    strlen(label));
		if (rc == 0) {
			r->msgs_out++;
			h->st.msgs_out++;
			queued(r, before);
		} else if (rc == PROTO_E_FULL) {
			r->kill = 1;
			mark_dirty(r);
		} else {
			enqueue(r, m->frame, m->frame_len);
		}
		r->requested--;
	} else {
		h->st.drops++;    /* its requester has gone */
	}
	if (prev != NULL)
		prev->next = j->next;
	else
		w->jobs = j->next;
	if (w->jobs_tail == j)
		w->jobs_tail = prev;
	w->inflight--;
	h->st.jobs_done++;
	free(j);
	for (i = 0; i < w->nnames; i++)
		if (w->names[i]->qn > 0)
			dispatch(h, w->names[i]);
	return H_OK;
}

/* Worker c is lost: its jobs go back to the front of their queues. */
static size_t
requeue_jobs(struct conn *c)
{
	struct hub *h = c->h;
	struct hjob *j, *next, *rev = NULL;
	size_t n = 0;

	/* Reversed, so that pushing each to the front keeps their order. */
	for (j = c->jobs; j != NULL; j = next) {
		next = j->next;
		j->next = rev;
		rev = j;
	}
	c->jobs = c->jobs_tail = NULL;
	c->inflight = 0;
	for (j = rev; j != NULL; j = next) {
		struct name *e = j->name;

		next = j->next;
		if (j->req == NULL) {
			free(j);          /* nobody waits for it any more */
			continue;
		}
		j->next = e->qhead;
		e->qhead = j;
		if (e->qtail == NULL)
			e->qtail = j;
		e->qn++;
		h->jobs_queued++;
		h->jobs_bytes += j->len;
		h->st.redelivered++;
		n++;
	}
	return n;
}

/* Requester c has gone: drop its waiting jobs, orphan those in flight. */
static void
forget_requester(struct conn *c)
{
	struct hub *h = c->h;
	struct conn *d;
	size_t i;

	for (i = 0; i < h->tabsize && c->requested > 0; i++) {
		struct name *e, *enext;

		for (e = h->tab[i]; e != NULL; e = enext) {
			struct hjob **pp = &e->qhead, *j;

			enext = e->next;
			e->qtail = NULL;
			while ((j = *pp) != NULL) {
				if (j->req == c) {
					*pp = j->next;
					e->qn--;
					h->jobs_queued--;
					h->jobs_bytes -= j->len;
					c->requested--;
					free(j);
				} else {
					e->qtail = j;
					pp = &j->next;
				}
			}
			name_drop(h, e);
		}
	}
	for (d = h->conns; d != NULL && c->requested > 0; d = d->next) {
		struct hjob *j;

		for (j = d->jobs; j != NULL; j = j->next)
			if (j->req == c) {
				j->req = NULL;
				c->requested--;
			}
	}
	c->requested = 0;
}

/*
 * While dsd -x workers start, a job to a name nobody holds waits for
 * them (until the hello deadline), so that a script may start the hub
 * and map at once.  When they have all said hello, or the deadline has
 * passed, jobs to names that no worker took get no-route after all, and
 * those to names held by clients without credit go to them in turn, as
 * they would have gone at first.
 */
static void
no_worker_came(struct hub *h)
{
	size_t i;

	for (i = 0; i < h->tabsize; i++) {
		struct name *e, *enext;

		for (e = h->tab[i]; e != NULL; e = enext) {
			struct hjob *j;

			enext = e->next;
			if (e->qn == 0 || e->farm)
				continue;
			while ((j = e->qhead) != NULL) {
				struct proto_msg m;
				uint64_t off;
				char err[80];

				e->qhead = j->next;
				e->qn--;
				h->jobs_queued--;
				h->jobs_bytes -= j->len;
				if (j->req != NULL)
					j->req->requested--;
				if (e->n > 0) {
					enqueue(e->holder[e->rr++ % e->n],
					    j->frame, j->len);
				} else if (j->req != NULL && !j->req->dead &&
				    proto_parse_datagram(j->frame, j->len,
				    UINT64_MAX, &m, &off, err, sizeof err) ==
				    PROTO_MSG) {
					h->st.no_route++;
					h->st.drops++;
					say_err(j->req, &m, "no-route",
					    "no route to %s", e->s);
				}
				free(j);
			}
			e->qtail = NULL;
			name_drop(h, e);
		}
	}
}

static void
worker_said_hello(struct conn *c)
{
	struct hub *h = c->h;
	size_t i = c->worker - 1;

	if (c->worker == 0 || i >= h->nx || h->x_said[i])
		return;
	h->x_said[i] = 1;
	if (h->x_pending > 0 && --h->x_pending == 0)
		no_worker_came(h);
}

/* Keepalive: ask a quiet worker whether it is still there. */
static void
ping_worker(struct conn *c)
{
	struct hub *h = c->h;
	struct proto_hdr hd;
	char id[32];
	size_t before = buf_len(&c->out);

	snprintf(id, sizeof id, "ka%lu", ++h->ka_seq);
	memset(&hd, 0, sizeof hd);
	hd.from = h->name;
	hd.to = c->hello;
	hd.type = "ping";
	hd.id = id;
	if (proto_encode(&c->out, &hd, NULL, 0) != 0) {
		c->kill = 1;
		mark_dirty(c);
		return;
	}
	c->ka_sent = 1;
	c->msgs_out++;
	h->st.msgs_out++;
	queued(c, before);
}

/* Routing one frame. */

static int
fan_out(struct conn *c, const struct proto_msg *m, struct name *e)
{
	struct hub *h = c->h;
	struct conn *d;
	size_t i;

	if (e != NULL) {
		for (i = 0; i < e->n; i++)
			if (e->holder[i] != c && !has_room(e->holder[i]))
				return H_BLOCK;
		for (i = 0; i < e->n; i++)
			if (e->holder[i] != c)
				enqueue(e->holder[i], m->frame, m->frame_len);
		return H_OK;
	}
	for (d = h->conns; d != NULL; d = d->next)
		if (d != c && d->state == C_READY && !has_room(d))
			return H_BLOCK;
	for (d = h->conns; d != NULL; d = d->next)
		if (d != c && d->state == C_READY)
			enqueue(d, m->frame, m->frame_len);
	return H_OK;
}

static int
handle(struct conn *c, const struct proto_msg *m)
{
	struct hub *h = c->h;
	struct proto_str from, to, type, fan;
	struct name *e;
	size_t i;

	/*
	 * What the hub answers itself goes on the sender's own queue, so a
	 * frame that may be answered waits while that queue is full.  A frame
	 * passed on to others does not: a worker whose queue is full of
	 * requests must still be able to send its replies.
	 */
	if (c->state != C_READY) {
		if (sender_full(c))
			return H_BLOCK;
		type = proto_type(m);
		if (c->state == C_HELLO && proto_str_eq(type, "hello"))
			return do_hello(c, m);
		if (c->state == C_AUTH && proto_str_eq(type, "auth"))
			return do_auth(c, m);
		if (c->single && h->cfg.key == NULL && c->state == C_HELLO) {
			c->anon = 1;
			c->state = C_READY;
		} else {
			say_err(c, m, "no-hello", c->state == C_AUTH ?
			    "authenticate before sending" :
			    "say hello before sending");
			start_closing(c);
			return H_GONE;
		}
	}
	if (m->wk[PF_TYPE] >= 0) {
		type = proto_type(m);
		if (proto_str_eq(type, "hello") || proto_str_eq(type, "auth")) {
			if (sender_full(c))
				return H_BLOCK;
			say_err(c, m, "bad-hello", "already said hello");
			h->st.refused++;
			h->st.drops++;
			return H_OK;
		}
	}
	from = proto_get(m, PF_FROM);
	if (!c->anon && !holds(c, from.p, from.n)) {
		if (sender_full(c))
			return H_BLOCK;
		say_err(c, m, "not-yours", "this connection does not hold the "
		    "name %.*s", (int)from.n, from.p);
		h->st.refused++;
		h->st.drops++;
		return H_OK;
	}
	if (c->inflight > 0 && m->wk[PF_RE] >= 0) {
		int r = job_reply(c, m);

		if (r >= 0)
			return r;
	}
	to = proto_get(m, PF_TO);
	if (to.n == h->name_len && memcmp(to.p, h->name, to.n) == 0) {
		if (sender_full(c))
			return H_BLOCK;
		control(c, m);
		return H_OK;
	}
	if (to.n == 1 && to.p[0] == '*')
		return fan_out(c, m, NULL);
	e = name_find(h, to.p, to.n);
	if (e != NULL && e->svc != NULL)
		return run_service(c, m, e);
	if ((e == NULL || (e->n == 0 && e->qn == 0)) && h->x_pending > 0 &&
	    loop_now(h->l) < h->x_until && is_job(m) &&
	    (e = name_get(h, to.p, to.n)) != NULL)
		return submit_job(c, m, e);   /* a worker may come for it */
	if (e == NULL || (e->n == 0 && e->qn == 0))
		goto no_route;
	if (m->nfields > (m->wk[PF_TYPE] >= 0) + (m->wk[PF_RE] >= 0) +
	    (m->wk[PF_ID] >= 0) + (m->wk[PF_LEN] >= 0) + 2) {
		/* Only a frame with extension fields may have fan=. */
		fan = proto_lookup(m, "fan");
		if (proto_str_eq(fan, "all"))
			return e->n > 0 ? fan_out(c, m, e) : H_OK;
	}
	if ((e->ncredit > 0 || e->qn > 0) && is_job(m))
		return submit_job(c, m, e);
	if (e->n == 0)
		goto no_route;
	for (i = 0; i < e->n; i++) {
		size_t k = (e->rr + i) % e->n;
		struct conn *d = e->holder[k];

		if (has_room(d)) {
			e->rr = k + 1;
			enqueue(d, m->frame, m->frame_len);
			return H_OK;
		}
	}
	return H_BLOCK;
no_route:
	if (sender_full(c))
		return H_BLOCK;
	h->st.no_route++;
	h->st.drops++;
	type = proto_type(m);
	if (!proto_str_eq(type, "rep") && !proto_str_eq(type, "err"))
		say_err(c, m, "no-route", "no route to %.*s", (int)to.n, to.p);
	return H_OK;
}

static void
bad_frame(struct conn *c)
{
	struct hub *h = c->h;
	char w[200];

	if (c->single)
		h->failed = 1;
	h->st.bad_frames++;
	hub_log(h, "%s: message %llu at byte %llu: %s", who(c, w, sizeof w),
	    (unsigned long long)c->p.nmsg + 1,
	    (unsigned long long)c->p.err_off, c->p.err);
	say_err(c, NULL, "bad-frame", "message %llu at byte %llu: %s",
	    (unsigned long long)c->p.nmsg + 1,
	    (unsigned long long)c->p.err_off, c->p.err);
	c->pending = 0;
	buf_clear(&c->in);
	start_closing(c);
}

/*
 * Handle every whole frame in base[0..len): the connection's own input
 * buffer, or the scratch buffer it was just read into.  What is left is
 * kept in c->in.
 */
static void
process(struct conn *c, const char *base, size_t len, int scratch)
{
	struct hub *h = c->h;
	size_t off = 0;
	int r;

	if (c->pending) {
		c->pending = 0;
		r = handle(c, &c->p.msg);
		if (r == H_BLOCK) {
			c->pending = 1;
			block(c);
			return;
		}
		off = c->p.msg.frame_len;
	}
	while (off < len && !c->dead && c->state != C_CLOSING) {
		r = proto_parse(&c->p, base + off, len - off);
		if (r == PROTO_MORE)
			break;
		if (r == PROTO_ERR) {
			bad_frame(c);
			return;
		}
		h->st.msgs_in++;
		c->msgs_in++;
		r = handle(c, &c->p.msg);
		if (r == H_BLOCK) {
			c->pending = 1;
			block(c);
			break;
		}
		off += c->p.msg.frame_len;
	}
	if (c->dead || c->state == C_CLOSING) {
		buf_clear(&c->in);
		c->pending = 0;
		return;
	}
	if (scratch) {
		if (off < len && buf_append(&c->in, base + off, len - off) !=
		    BUF_OK) {
			close_conn(c, "out of memory for its input");
			return;
		}
	} else {
		buf_consume(&c->in, off);
	}
	if (c->pending) {
		/* The held frame now lives at the head of c->in. */
		c->p.msg.frame = buf_head(&c->in);
		c->p.msg.body = c->p.msg.frame + c->p.msg.hdr_len;
		c->partial_since = 0;
	} else if (buf_len(&c->in) > 0) {
		if (c->partial_since == 0)
			c->partial_since = loop_now(h->l);
	} else {
		c->partial_since = 0;
	}
}

static void
on_eof(struct conn *c)
{
	struct hub *h = c->h;

	if (buf_len(&c->in) > 0 && !c->pending) {
		if (proto_parse_eof(&c->p, buf_head(&c->in), buf_len(&c->in)) ==
		    PROTO_ERR) {
			char w[200];

			h->st.bad_frames++;
			if (c->single)
				h->failed = 1;
			hub_log(h, "%s: %s", who(c, w, sizeof w), c->p.err);
		}
		close_conn(c, NULL);
		return;
	}
	c->eof = 1;
	if (!c->pending && buf_len(&c->out) == 0 && c->children == 0) {
		close_conn(c, NULL);
		return;
	}
	update_want(c);
}

/*
 * One read into the scratch buffer (when nothing is buffered) or into
 * c->in.  Returns the count read, 0 at end of file, -1 with errno.
 */
static ssize_t
read_once(struct conn *c)
{
	struct hub *h = c->h;
	ssize_t n;

	if (buf_len(&c->in) == 0) {
		n = read(c->rfd, h->scratch, SCRATCH);
		if (n > 0) {
			h->st.bytes_in += (size_t)n;
			c->last_read = c->last_active = loop_now(h->l);
			c->ka_sent = 0;
			process(c, h->scratch, (size_t)n, 1);
		}
	} else {
		size_t want = SCRATCH;

		if (c->p.need > buf_len(&c->in) &&
		    c->p.need - buf_len(&c->in) > want)
			want = c->p.need - buf_len(&c->in);
		if (buf_reserve(&c->in, want) != BUF_OK) {
			errno = ENOMEM;
			return -1;
		}
		n = read(c->rfd, buf_tail(&c->in), buf_room(&c->in));
		if (n > 0) {
			buf_commit(&c->in, (size_t)n);
			h->st.bytes_in += (size_t)n;
			c->last_read = c->last_active = loop_now(h->l);
			c->ka_sent = 0;
			process(c, buf_head(&c->in), buf_len(&c->in), 0);
		}
	}
	return n;
}

/*
 * Read what c has sent.  A busy connection is read several times in one
 * round, while each read fills the buffer: a round of poll(2) over many
 * idle connections is dear, so each should move as much as it can.
 */
#define READS_PER_ROUND 16
static void
read_in(struct conn *c)
{
	struct hub *h = c->h;
	ssize_t n;
	int i;

	for (i = 0; i < READS_PER_ROUND; i++) {
		if (c->dead || c->blocked || c->state == C_CLOSING ||
		    h->draining)
			return;
		if (h->queued >= h->high_water) {
			/* Too much is queued: read nothing until it drains. */
			block(c);
			return;
		}
		n = read_once(c);
		if (n == 0) {
			on_eof(c);
			return;
		}
		if (n < 0) {
			if (errno == ENOMEM)
				close_conn(c, "out of memory for its input");
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				close_conn(c, errno == ECONNRESET ? NULL :
				    strerror(errno));
			return;
		}
		if ((size_t)n < SCRATCH)
			return;
		/* Its destinations may want their bytes before more come. */
		flush_dirty(h);
	}
}

static void
on_conn(struct loop *l, int fd, unsigned ev, void *ctx)
{
	struct conn *c = ctx;
	struct hub *h = c->h;

	(void)l;
	c->busy++;
	if ((ev & LOOP_OUT) && fd == c->wfd)
		write_out(c);
	if (!c->dead && fd == c->rfd) {
		if (ev & LOOP_IN)
			read_in(c);
		else if (ev & (LOOP_HUP | LOOP_ERR)) {
			if (buf_len(&c->out) > 0)
				write_out(c);  /* it fails and closes c */
			else if (!c->eof)
				read_in(c);
		}
	} else if (!c->dead && (ev & (LOOP_HUP | LOOP_ERR)) && fd == c->wfd &&
	    !(ev & LOOP_OUT)) {
		close_conn(c, NULL);
	}
	c->busy--;
	if (c->dead)
		close_conn(c, NULL);    /* frees it, when nothing holds it */
	flush_dirty(h);
}

/* Accepting. */

/*
 * Whether a listener may take another connection now.  Clients count
 * against -c; the control socket has its own few places, so that an
 * operator can still look and act when the hub is full.
 */
static int
has_place(const struct hub *h, const struct listener *li)
{
	if (li->control)
		return h->nctl < HUB_CONTROL_MAX;
	return h->nconns - h->nctl < h->cfg.maxconn;
}

/* Watch or park each listener as its places and the backoff allow. */
static void
update_accept(struct hub *h)
{
	size_t i;

	for (i = 0; i < h->nlis; i++) {
		struct listener *li = h->lis[i];

		if (li->fd < 0)
			continue;
		loop_want(h->l, li->fd, !h->draining && h->backoff_timer == 0 &&
		    has_place(h, li) ? LOOP_IN : 0);
	}
}

static void
on_backoff(struct loop *l, uint64_t id, void *ctx)
{
	struct hub *h = ctx;

	(void)l;
	(void)id;
	h->backoff_timer = 0;
	update_accept(h);
}

static void
on_accept(struct loop *l, int fd, unsigned ev, void *ctx)
{
	struct listener *li = ctx;
	struct hub *h = li->h;
	struct conn *c;
	char peer[80], err[256];
	int cfd;

	(void)l;
	(void)ev;
	while (has_place(h, li)) {
		cfd = net_accept(fd, peer, sizeof peer, err, sizeof err);
		if (cfd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Never spin on a listener that stays ready. */
				if (h->backoff_ms == 0)
					h->backoff_ms = 100;
				hub_log(h, "%s; accepting again in %d ms", err,
				    h->backoff_ms);
				h->backoff_timer = loop_timer(h->l, h->backoff_ms,
				    on_backoff, h);
				if (h->backoff_ms < 2000)
					h->backoff_ms *= 2;
				update_accept(h);
				return;
			}
			hub_log(h, "%s", err);
			return;
		}
		h->backoff_ms = 0;
		if ((c = new_conn(h, cfd, cfd, peer)) == NULL) {
			hub_log(h, "cannot take the connection from %s: %s",
			    peer, strerror(errno));
			close(cfd);
			continue;
		}
		if (li->control) {
			c->control = 1;
			h->nctl++;
		}
	}
	/* Full: the next client waits in the kernel's backlog. */
	update_accept(h);
}

/* The tick: deadlines of every connection. */

static void
on_tick(struct loop *l, uint64_t id, void *ctx)
{
	struct hub *h = ctx;
	struct conn *c, *next;
	int64_t now = loop_now(l);
	const struct hub_config *cfg = &h->cfg;
	char w[200];

	(void)id;
	if (h->x_pending > 0 && now >= h->x_until) {
		h->x_pending = 0;
		no_worker_came(h);
	}
	for (c = h->conns; c != NULL; c = next) {
		next = c->next;
		if (c->credit > 0 && cfg->keepalive_ms > 0 &&
		    c->state == C_READY && !c->dead) {
			int64_t quiet = now - (c->last_read > c->born ?
			    c->last_read : c->born);

			if (quiet >= 2 * (int64_t)cfg->keepalive_ms) {
				h->st.keepalive_lost++;
				close_conn(c, "no answer to the keepalive");
				continue;
			}
			if (quiet >= cfg->keepalive_ms && !c->ka_sent)
				ping_worker(c);
		}
		if ((c->state == C_HELLO || c->state == C_AUTH) &&
		    !(c->single && cfg->key == NULL) &&
		    now - c->born >= cfg->hello_ms) {
			h->st.timeouts++;
			h->failed |= c->single;
			hub_log(h, "%s: no hello within %d ms", who(c, w,
			    sizeof w), cfg->hello_ms);
			say_err(c, NULL, "timeout", "no hello within %d ms",
			    cfg->hello_ms);
			start_closing(c);
		} else if (c->partial_since != 0 && !c->blocked &&
		    (c->p.in_body ? now - c->last_read :
		    now - c->partial_since) >= cfg->hello_ms) {
			h->st.timeouts++;
			h->failed |= c->single;
			say_err(c, NULL, "timeout", "a frame stalled for %d ms",
			    cfg->hello_ms);
			hub_log(h, "%s: a frame stalled for %d ms", who(c, w,
			    sizeof w), cfg->hello_ms);
			c->partial_since = 0;
			buf_clear(&c->in);
			start_closing(c);
		} else if (cfg->idle_ms > 0 && c->state != C_CLOSING &&
		    now - c->last_active >= cfg->idle_ms) {
			h->st.timeouts++;
			close_conn(c, "idle");
		} else if (c->over_since != 0 &&
		    now - c->over_since >= cfg->write_ms) {
			h->st.slow++;
			close_conn(c, "slow consumer: its queue stayed full");
		} else if (c->state == C_CLOSING && c->children == 0 &&
		    now - c->closing_since >= cfg->write_ms) {
			close_conn(c, NULL);
		} else if (now - c->last_active >= 1000) {
			/* Quiet for a second: give its buffers back. */
			if (buf_len(&c->out) == 0 && c->out.cap > 0) {
				buf_free(&c->out);
				buf_init(&c->out, c->out.limit);
			}
			if (buf_len(&c->in) == 0 && c->in.cap > 0) {
				buf_free(&c->in);
				buf_init(&c->in, c->in.limit);
			}
		}
	}
	flush_dirty(h);
	h->tick_timer = loop_timer(l, h->tick_ms, on_tick, h);
}

/* The public calls. */

static int
min_pos(int a, int b)
{
	if (a <= 0)
		return b;
	if (b <= 0)
		return a;
	return a < b ? a : b;
}

struct hub *
hub_new(struct loop *l, const struct hub_config *cfg, char *err,
    size_t errlen)
{
	struct hub *h = calloc(1, sizeof *h);
	int t;

	if (h == NULL)
		goto nomem;
	h->l = l;
	h->cfg = *cfg;
	if (h->cfg.name == NULL)
		h->cfg.name = "dsd";
	h->name_len = strlen(h->cfg.name);
	if (!proto_name_ok(h->cfg.name, h->name_len)) {
		snprintf(err, errlen, "bad hub name '%s'", h->cfg.name);
		free(h);
		errno = EINVAL;
		return NULL;
	}
	memcpy(h->name, h->cfg.name, h->name_len + 1);
	if (h->cfg.maxconn == 0)
		h->cfg.maxconn = HUB_MAXCONN;
	if (h->cfg.max_body == 0)
		h->cfg.max_body = PROTO_BODY_DEFAULT;
	if (h->cfg.queue == 0)
		h->cfg.queue = HUB_QUEUE;
	if (h->cfg.write_ms <= 0)
		h->cfg.write_ms = HUB_WRITE_MS;
	if (h->cfg.hello_ms <= 0)
		h->cfg.hello_ms = HUB_HELLO_MS;
	if (h->cfg.max_children == 0)
		h->cfg.max_children = HUB_CHILDREN;
	if (h->cfg.child_ms == 0)
		h->cfg.child_ms = HUB_CHILD_MS;
	if (h->cfg.keepalive_ms == 0)
		h->cfg.keepalive_ms = HUB_KEEPALIVE_MS;
	if (h->cfg.jobs_max == 0)
		h->cfg.jobs_max = HUB_JOBS_MAX;
	h->high_water = h->cfg.high_water;
	if (h->high_water == 0) {
		h->high_water = 16 * h->cfg.queue;
		if (h->high_water < HUB_HIGH_WATER_MIN)
			h->high_water = HUB_HIGH_WATER_MIN;
	}
	t = min_pos(min_pos(h->cfg.write_ms, h->cfg.hello_ms), h->cfg.idle_ms);
	t = min_pos(t, h->cfg.keepalive_ms);
	h->tick_ms = t / 4;
	if (h->tick_ms < 20)
		h->tick_ms = 20;
	if (h->tick_ms > 1000)
		h->tick_ms = 1000;
	h->tabsize = 64;
	if ((h->tab = calloc(h->tabsize, sizeof *h->tab)) == NULL ||
	    (h->scratch = malloc(SCRATCH)) == NULL ||
	    (h->run = runner_new(l, h->cfg.max_children)) == NULL)
		goto nomem;
	h->started = loop_now(l);
	if ((h->tick_timer = loop_timer(l, h->tick_ms, on_tick, h)) == 0)
		goto nomem;
	return h;
nomem:
	snprintf(err, errlen, "out of memory");
	if (h != NULL) {
		if (h->run != NULL)
			runner_free(h->run);
		free(h->tab);
		free(h->scratch);
		free(h);
	}
	errno = ENOMEM;
	return NULL;
}

int
hub_listen(struct hub *h, int fd, int control)
{
	struct listener *li, **nl;

	if (net_nonblock(fd, 1) == -1 || net_cloexec(fd) == -1)
		return -1;
	if ((nl = realloc(h->lis, (h->nlis + 1) * sizeof *nl)) == NULL)
		return -1;
	h->lis = nl;
	if ((li = malloc(sizeof *li)) == NULL)
		return -1;
	li->h = h;
	li->fd = fd;
	li->control = control;
	if (loop_add(h->l, fd, LOOP_IN, on_accept, li) == -1) {
		free(li);
		return -1;
	}
	h->lis[h->nlis++] = li;
	return 0;
}

int
hub_single(struct hub *h, int rfd, int wfd)
{
	struct conn *c;
	char peer[80];

	if (net_nonblock(rfd, 1) == -1 || (wfd != rfd &&
	    net_nonblock(wfd, 1) == -1))
		return -1;
	if (net_peer_name(rfd, peer, sizeof peer) == -1)
		snprintf(peer, sizeof peer, "%s", rfd == wfd ? "socket" :
		    "stdin");
	if ((c = new_conn(h, rfd, wfd, peer)) == NULL)
		return -1;
	c->single = 1;
	return 0;
}

int
hub_add(struct hub *h, int rfd, int wfd, const char *peer)
{
	if (net_nonblock(rfd, 1) == -1 || (wfd != rfd &&
	    net_nonblock(wfd, 1) == -1))
		return -1;
	return new_conn(h, rfd, wfd, peer) != NULL ? 0 : -1;
}

int
hub_service(struct hub *h, const char *name, const char *cmd)
{
	size_t n = strlen(name);
	struct name *e;

	if (!proto_name_ok(name, n) || (n == h->name_len &&
	    memcmp(name, h->name, n) == 0)) {
		errno = EINVAL;
		return -1;
	}
	if ((e = name_get(h, name, n)) == NULL)
		return -1;
	if (e->svc != NULL) {
		errno = EEXIST;
		return -1;
	}
	if ((e->svc = malloc(sizeof *e->svc)) == NULL ||
	    (e->svc->cmd = strdup(cmd)) == NULL) {
		free(e->svc);
		e->svc = NULL;
		name_drop(h, e);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void
on_drain_late(struct loop *l, uint64_t id, void *ctx)
{
	struct hub *h = ctx;

	(void)id;
	hub_log(h, "drain deadline passed with %zu bytes queued", h->queued);
	h->done = 1;
	loop_stop(l);
}

void
hub_drain(struct hub *h, int deadline_ms)
{
	struct conn *c;
	size_t i;

	if (h->draining)
		return;
	h->draining = 1;
	/* Closed, so that new clients are refused rather than left waiting. */
	for (i = 0; i < h->nlis; i++) {
		loop_del(h->l, h->lis[i]->fd);
		close(h->lis[i]->fd);
		h->lis[i]->fd = -1;
	}
	loop_cancel(h->l, h->backoff_timer);
	h->backoff_timer = 0;
	if (h->sup != NULL)
		super_stop(h->sup);
	for (c = h->conns; c != NULL; c = c->next) {
		update_want(c);
		mark_dirty(c);
	}
	h->drain_timer = loop_timer(h->l, deadline_ms, on_drain_late, h);
	flush_dirty(h);
}

size_t
hub_clients(const struct hub *h)
{
	return h->nconns;
}

size_t
hub_queued(const struct hub *h)
{
	return h->queued;
}

int
hub_done(const struct hub *h)
{
	return h->done;
}

int
hub_failed(const struct hub *h)
{
	return h->failed;
}

void
hub_free(struct hub *h)
{
	size_t i;

	if (h == NULL)
		return;
	h->freeing = 1;
	while (h->conns != NULL) {
		struct conn *c = h->conns;

		c->single = 0;
		c->busy = 0;
		close_conn(c, NULL);
	}
	runner_free(h->run);
	super_free(h->sup);
	for (i = 0; i < h->tabsize; i++) {
		struct name *e, *next;

		for (e = h->tab[i]; e != NULL; e = next) {
			struct hjob *j, *jn;

			next = e->next;
			for (j = e->qhead; j != NULL; j = jn) {
				jn = j->next;
				free(j);
			}
			if (e->svc != NULL) {
				free(e->svc->cmd);
				free(e->svc);
			}
			free(e->holder);
			free(e);
		}
	}
	for (i = 0; i < h->nlis; i++) {
		if (h->lis[i]->fd >= 0)
			loop_del(h->l, h->lis[i]->fd);
		free(h->lis[i]);
	}
	loop_cancel(h->l, h->tick_timer);
	loop_cancel(h->l, h->wake_timer);
	loop_cancel(h->l, h->drain_timer);
	loop_cancel(h->l, h->backoff_timer);
	loop_cancel(h->l, h->pump_timer);
	free(h->lis);
	free(h->x_said);
	free(h->tab);
	free(h->scratch);
	free(h);
}

/* dsd -x: supervised workers. */

static int
on_worker_start(void *ctx, size_t i, const char *label, int rfd, int wfd)
{
	struct hub *h = ctx;
	struct conn *c;

	if (h->draining || (c = new_conn(h, rfd, wfd, label)) == NULL)
		return -1;
	c->worker = i + 1;
	return 0;
}

static void
on_worker_log(void *ctx, const char *line)
{
	hub_log(ctx, "%s", line);
}

int
hub_worker(struct hub *h, const char *cmd)
{
	unsigned char *said;

	if (h->sup == NULL &&
	    (h->sup = super_new(h->l, on_worker_start, on_worker_log, h)) ==
	    NULL)
		return -1;
	if ((said = realloc(h->x_said, h->nx + 1)) == NULL)
		return -1;
	h->x_said = said;
	h->x_said[h->nx++] = 0;
	h->x_pending++;
	h->x_until = loop_now(h->l) + h->cfg.hello_ms;
	return super_add(h->sup, cmd) < 0 ? -1 : 0;
}
