/*
 * pool: handlers for messages, up to n at once; see pool.h.
 *
 * A running job keeps a copy of its message's header only (the runner
 * copied the body for the handler's stdin): the reply needs nothing but
 * the from and id fields.  A waiting job keeps its whole frame until it
 * starts.  The field views of a parsed message are offsets from its
 * first byte, so a copy of the struct whose frame pointer is moved to
 * the copied bytes describes them as well.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "runner.h"
#include "svc.h"

struct job {
	struct pool *p;
	struct job *prev, *next;  /* in the running list or the queue */
	uint64_t tag;
	size_t held;              /* bytes of frame */
	char *frame;
	struct proto_msg m;       /* views into frame */
	char self[PROTO_NAME_MAX + 1];
};

struct pool {
	struct loop *l;
	struct runner *r;
	char *cmd;
	size_t max_running, max_waiting, max_wait_bytes;
	int timeout_ms;
	uint64_t max_body;
	pool_done_fn *done;
	void *ctx;
	struct job *running;      /* a list, in no order */
	size_t nrunning;
	struct job *head, *tail;  /* the queue, oldest first */
	size_t nwaiting, wait_bytes;
	struct svc_env env;       /* reused from one start to the next */
	struct buf reply;
	int draining;             /* in drain(): no nested call */
};

static void
free_job(struct job *j)
{
	free(j->frame);
	free(j);
}

/* Copy the first n bytes of m's frame into j, and point j->m at them. */
static int
hold(struct job *j, const struct proto_msg *m, size_t n)
{
	char *copy = malloc(n);

	if (copy == NULL)
		return -1;
	memcpy(copy, m->frame, n);
	free(j->frame);
	j->frame = copy;
	j->held = n;
	j->m = *m;
	j->m.frame = copy;
	/* The body is there only while the whole frame is. */
	j->m.body = n >= m->frame_len ? copy + (m->body - m->frame) : NULL;
	return 0;
}

static void
unlink_running(struct pool *p, struct job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		p->running = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	p->nrunning--;
}

static void
add_running(struct pool *p, struct job *j)
{
	j->prev = NULL;
	j->next = p->running;
	if (p->running != NULL)
		p->running->prev = j;
	p->running = j;
	p->nrunning++;
}

static void
call_done(struct pool *p, struct pool_reply *r)
{
	p->done(p->ctx, r);
}

static void
on_done(void *ctx, const struct child_result *res, struct buf *out,
    struct buf *err);
static void drain(struct pool *p);

/* Start j's handler, its stdin the body of m (whose bytes may be j's). */
static int
launch(struct pool *p, struct job *j, const struct proto_msg *m)
{
	if (svc_env_build(&p->env, &j->m, j->self) < 0)
		return -1;
	if (runner_start(p->r, p->cmd, p->env.envp, m->body,
	    (size_t)m->body_len, p->timeout_ms, (size_t)p->max_body,
	    (size_t)p->max_body, on_done, j) < 0)
		return -1;
	add_running(p, j);
	return 0;
}

static void
on_done(void *ctx, const struct child_result *res, struct buf *out,
    struct buf *err)
{
	struct job *j = ctx;
	struct pool *p = j->p;
	struct pool_reply r;

	unlink_running(p, j);
	if (res->timed_out && buf_len(err) == 0) {
		/* Say why, for people, as an err body should. */
		char why[120];
		int n = snprintf(why, sizeof why, "%s: the handler ran past "
		    "its deadline of %d ms\n", j->self, p->timeout_ms);

		(void)buf_append(err, why, (size_t)n);
	}
	memset(&r, 0, sizeof r);
	r.tag = j->tag;
	r.res = res;
	r.err = err;
	buf_clear(&p->reply);
	r.encode_rc = svc_reply(&p->reply, &j->m, j->self, res, out, err,
	    p->max_body);
	if (r.encode_rc == 0) {
		r.frame = buf_head(&p->reply);
		r.len = buf_len(&p->reply);
	}
	free_job(j);
	call_done(p, &r);
	drain(p);
}

/*
 * Start waiting jobs while slots are free.  One that cannot start is
 * reported through the callback, which may start more itself.
 */
static void
drain(struct pool *p)
{
	if (p->draining)
		return;
	p->draining = 1;
	while (p->head != NULL && p->nrunning < p->max_running) {
		struct job *j = p->head;
		struct pool_reply r;
		struct proto_msg m;

		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		j->next = NULL;
		p->nwaiting--;
		p->wait_bytes -= j->held;
		m = j->m;
		if (launch(p, j, &m) == 0) {
			/*
			 * The runner has the body now: keep the header only
			 * (or, without memory for the copy, all of it).
			 */
			(void)hold(j, &m, m.hdr_len);
			continue;
		}
		memset(&r, 0, sizeof r);
		r.tag = j->tag;
		r.start_errno = errno;
		free_job(j);
		call_done(p, &r);
	}
	p->draining = 0;
}

struct pool *
pool_new(struct loop *l, const struct pool_opts *o, pool_done_fn *done,
    void *ctx)
{
	struct pool *p;

	if (l == NULL || o == NULL || o->cmd == NULL || done == NULL ||
	    o->max_running == 0 || o->max_running > POOL_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	p->l = l;
	p->max_running = o->max_running;
	p->max_waiting = o->max_waiting;
	p->max_wait_bytes = o->max_wait_bytes;
	p->timeout_ms = o->timeout_ms;
	p->max_body = o->max_body;
	p->done = done;
	p->ctx = ctx;
	svc_env_init(&p->env);
	buf_init(&p->reply, (size_t)-1);
	if ((p->cmd = strdup(o->cmd)) == NULL ||
	    (p->r = runner_new(l, o->max_running)) == NULL) {
		int e = errno;

		free(p->cmd);
		svc_env_free(&p->env);
		free(p);
		errno = e;
		return NULL;
	}
	return p;
}

void
pool_free(struct pool *p)
{
	struct job *j;

	if (p == NULL)
		return;
	runner_free(p->r);
	while ((j = p->running) != NULL) {
		p->running = j->next;
		free_job(j);
	}
	(void)pool_drop_waiting(p);
	svc_env_free(&p->env);
	buf_free(&p->reply);
	free(p->cmd);
	free(p);
}

int
pool_full(const struct pool *p)
{
	if (p->nrunning < p->max_running)
		return 0;
	if (p->nwaiting >= p->max_waiting)
		return 1;
	return p->nwaiting > 0 && p->max_wait_bytes > 0 &&
	    p->wait_bytes >= p->max_wait_bytes;
}

size_t
pool_running(const struct pool *p)
{
	return p->nrunning;
}

size_t
pool_waiting(const struct pool *p)
{
	return p->nwaiting;
}

void
pool_limit(struct pool *p, uint64_t max_body)
{
	p->max_body = max_body;
}

size_t
pool_drop_waiting(struct pool *p)
{
	size_t n = p->nwaiting;
	struct job *j;

	while ((j = p->head) != NULL) {
		p->head = j->next;
		free_job(j);
	}
	p->tail = NULL;
	p->nwaiting = 0;
	p->wait_bytes = 0;
	return n;
}

int
pool_start(struct pool *p, const struct proto_msg *m, const char *self,
    uint64_t tag)
{
	size_t slen = self != NULL ? strlen(self) : 0;
	int now = p->nrunning < p->max_running && p->head == NULL;
	struct job *j;

	if (!proto_name_ok(self != NULL ? self : "", slen)) {
		errno = EINVAL;
		return -1;
	}
	if (!now && pool_full(p)) {
		errno = ENOBUFS;
		return -1;
	}
	if ((j = calloc(1, sizeof *j)) == NULL)
		return -1;
	j->p = p;
	j->tag = tag;
	memcpy(j->self, self, slen + 1);
	if (hold(j, m, now ? m->hdr_len : m->frame_len) < 0) {
		free(j);
		errno = ENOMEM;
		return -1;
	}
	if (now) {
		if (launch(p, j, m) < 0) {
			int e = errno;

			free_job(j);
			errno = e;
			return -1;
		}
		return 0;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->nwaiting++;
	p->wait_bytes += j->held;
	return 0;
}
