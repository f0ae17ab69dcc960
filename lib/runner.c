#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * How long the output pipes may stay open once the child has been
 * reaped: something it started in the background may still hold them,
 * and its answer must not wait on that for long.
 */
#define GRACE_MS 1000

/*
 * Bytes read from one pipe per event.  A child that writes without pause
 * would otherwise keep the loop in one callback; poll is level-triggered,
 * so what is left comes back in the next round.
 */
#define READ_BUDGET (256 * 1024)

/* One child, from runner_start() to its done callback. */
struct job {
	struct job *prev, *next;
	struct runner *r;
	pid_t pid;              /* also its process group */
	int in, out, err;       /* the parent's ends, or -1 once closed */
	char *input;            /* our copy of what goes to its stdin */
	size_t inlen, inoff;
	struct buf outb, errb;
	struct child_result res;
	int reaped;
	int64_t deadline;       /* in loop_now() time, or -1 */
	uint64_t timer;         /* the deadline, then the grace period */
	runner_done_fn *done;
	void *ctx;
};

struct runner {
	struct loop *l;
	size_t max;
	size_t n;               /* jobs whose callback has not run */
	struct job *head;
	int calling;            /* done callbacks in progress */
	int freed;              /* runner_free() came from one of them */
};

/* SIGCHLD has one callback per process, so one runner may hold it. */
static struct runner *sigchld_owner;

/* What finish() and settle() did: the caller may have to stop looking. */
enum { KEPT, FINISHED, GONE };

static void
close_fd(struct loop *l, int *fd)
{
	if (*fd < 0)
		return;
	loop_del(l, *fd);
	close(*fd);
	*fd = -1;
}

static void
kill_group(pid_t pid)
{
	/*
	 * The group reaches what the child started; the pid alone covers a
	 * child that left its group.  Either may already be gone.
	 */
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
}

/* Wait for a child that has been sent SIGKILL: it is about to go. */
static void
reap_killed(struct job *j)
{
	int wstatus;

	while (waitpid(j->pid, &wstatus, 0) < 0 && errno == EINTR)
		;
}

/*
 * Reap j if it has exited, without waiting.  Returns whether it is
 * reaped now.
 */
static int
try_reap(struct job *j)
{
	int wstatus;
	pid_t got;

	do
		got = waitpid(j->pid, &wstatus, WNOHANG);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return 0;
	if (got > 0) {
		child_decode_status(wstatus, &j->res);
	} else {
		/*
		 * ECHILD: someone else's waitpid(-1) took it.  Its status is
		 * lost, but waiting for it would be waiting forever.
		 */
		j->res.status = 255;
		j->res.signaled = 0;
	}
	j->reaped = 1;
	return 1;
}

/*
 * Read what fd has into b, past b's limit reading and dropping it.
 * Returns 1 at end of file or on an error (nothing more will come),
 * 0 when it has nothing more for now or this event's budget is spent.
 */
static int
drain(int fd, struct buf *b, int *overflow)
{
	char scratch[16384];
	size_t total = 0;

	while (total < READ_BUDGET) {
		char *dst = scratch;
		size_t room = sizeof scratch;
		size_t want = b->limit - buf_len(b);
		ssize_t got;

		/*
		 * A full buffer is not yet an overflow: only a byte that does
		 * not fit is, so output of exactly the limit is fine.
		 */
		if (want > 65536)
			want = 65536;
		if (!*overflow && want > 0 && buf_reserve(b, want) == BUF_OK) {
			dst = buf_tail(b);
			room = want;
		}
		got = read(fd, dst, room);
		if (got == 0)
			return 1;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
		}
		if (dst != scratch)
			buf_commit(b, (size_t)got);
		else
			*overflow = 1;
		total += (size_t)got;
	}
	return 0;
}

static void
unlink_job(struct runner *r, struct job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		r->head = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	r->n--;
}

/* Close what j holds open and free it; no callback. */
static void
drop_job(struct loop *l, struct job *j)
{
	loop_cancel(l, j->timer);
	close_fd(l, &j->in);
	close_fd(l, &j->out);
	close_fd(l, &j->err);
	free(j->input);
	buf_free(&j->outb);
	buf_free(&j->errb);
	free(j);
}

/*
 * Hand j's result to its callback and free it.  The job leaves the list
 * first, so the callback may start others or even free the runner;
 * GONE says it did, and the caller must then not touch r.
 */
static int
finish(struct job *j)
{
	struct runner *r = j->r;
	struct loop *l = r->l;

	unlink_job(r, j);
	loop_cancel(l, j->timer);
	j->timer = 0;
	close_fd(l, &j->in);
	close_fd(l, &j->out);
	close_fd(l, &j->err);
	r->calling++;
	j->done(j->ctx, &j->res, &j->outb, &j->errb);
	r->calling--;
	drop_job(l, j);
	if (r->freed && r->calling == 0) {
		free(r);
		return GONE;
	}
	return FINISHED;
}

static void
on_grace(struct loop *l, uint64_t id, void *ctx)
{
	struct job *j = ctx;

	(void)id;
	j->timer = 0;
	/* What was written before the deadline is still taken. */
	if (j->out >= 0)
		(void)drain(j->out, &j->outb, &j->res.out_overflow);
	if (j->err >= 0)
		(void)drain(j->err, &j->errb, &j->res.err_overflow);
	close_fd(l, &j->out);
	close_fd(l, &j->err);
	(void)finish(j);
}

/*
 * The child of j has just been reaped: take what its pipes hold, and
 * finish if they are at end of file; otherwise something it started
 * holds them, and it gets a short grace period, no longer than what is
 * left of the deadline.
 */
static int
settle(struct job *j)
{
	struct loop *l = j->r->l;
	int64_t ms = GRACE_MS;

	loop_cancel(l, j->timer);
	j->timer = 0;
	if (j->out >= 0 && drain(j->out, &j->outb, &j->res.out_overflow))
		close_fd(l, &j->out);
	if (j->err >= 0 && drain(j->err, &j->errb, &j->res.err_overflow))
		close_fd(l, &j->err);
	if (j->out < 0 && j->err < 0)
		return finish(j);
	if (j->deadline >= 0) {
		int64_t left = j->deadline - loop_now(l);

		if (left < ms)
			ms = left < 0 ? 0 : left;
	}
	j->timer = loop_timer(l, ms, on_grace, j);
	if (j->timer == 0) {
		/* Without a timer nothing would end the wait: end it now. */
		close_fd(l, &j->out);
		close_fd(l, &j->err);
		return finish(j);
	}
	return KEPT;
}

static void
on_timeout(struct loop *l, uint64_t id, void *ctx)
{
	struct job *j = ctx;

	(void)l;
	(void)id;
	j->timer = 0;
	/* It may have exited in this very round: then it was in time. */
	if (try_reap(j)) {
		(void)settle(j);
		return;
	}
	kill_group(j->pid);
	j->res.timed_out = 1;
	/* SIGCHLD comes next, and the pipes close as the group dies. */
}

static void
on_sigchld(struct loop *l, int signo, void *ctx)
{
	struct runner *r = ctx;
	struct job *j;

	(void)l;
	(void)signo;
	/*
	 * Deliveries merge, so every child is asked.  A callback may change
	 * the list, so after one the walk starts again; the reaped ones are
	 * skipped, so it ends.
	 */
again:
	for (j = r->head; j != NULL; j = j->next) {
		if (j->reaped || !try_reap(j))
			continue;
		switch (settle(j)) {
		case KEPT:
			break;
		case FINISHED:
			goto again;
		default:
			return;
		}
	}
}

static void
on_input(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct job *j = ctx;

	(void)fd;
	(void)events;
	while (j->inoff < j->inlen) {
		ssize_t w = write(j->in, j->input + j->inoff,
		    j->inlen - j->inoff);

		if (w > 0) {
			j->inoff += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EPIPE: it will not read the rest, which is dropped. */
		break;
	}
	close_fd(l, &j->in);
	free(j->input);
	j->input = NULL;
}

static void
on_output(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct job *j = ctx;

	(void)events;
	if (fd == j->out) {
		if (drain(fd, &j->outb, &j->res.out_overflow))
			close_fd(l, &j->out);
	} else if (drain(fd, &j->errb, &j->res.err_overflow)) {
		close_fd(l, &j->err);
	}
	if (j->out >= 0 || j->err >= 0)
		return;
	/*
	 * Both at end of file: usually the child has just exited, and
	 * reaping it here saves waiting for SIGCHLD, which is still what
	 * brings it in if it has not quite gone yet.
	 */
	if (j->reaped || try_reap(j))
		(void)finish(j);
}

struct runner *
runner_new(struct loop *l, size_t max_children)
{
	struct runner *r;

	if (l == NULL || max_children == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (sigchld_owner != NULL) {
		errno = EBUSY;
		return NULL;
	}
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->l = l;
	r->max = max_children;
	if (loop_signal(l, SIGCHLD, on_sigchld, r) < 0) {
		int saved = errno;

		free(r);
		errno = saved;
		return NULL;
	}
	sigchld_owner = r;
	return r;
}

void
runner_free(struct runner *r)
{
	struct job *j;

	if (r == NULL || r->freed)
		return;
	while ((j = r->head) != NULL) {
		unlink_job(r, j);
		/*
		 * A reaped child's group may still hold what it started in
		 * the background, so that is killed too.
		 */
		kill_group(j->pid);
		if (!j->reaped)
			reap_killed(j);
		drop_job(r->l, j);
	}
	(void)loop_signal(r->l, SIGCHLD, NULL, NULL);
	sigchld_owner = NULL;
	if (r->calling > 0) {
		/* From a done callback: finish() frees it on the way out. */
		r->freed = 1;
		return;
	}
	free(r);
}

size_t
runner_running(const struct runner *r)
{
	return r->n;
}

int
runner_full(const struct runner *r)
{
	return r->n >= r->max;
}

int
runner_start(struct runner *r, const char *cmd, char *const envp[],
    const void *in, size_t inlen, int timeout_ms, size_t out_max,
    size_t err_max, runner_done_fn *done, void *ctx)
{
	struct loop *l = r->l;
	struct child c;
	struct job *j;
	int saved;

	if (r->freed || cmd == NULL || done == NULL ||
	    (in == NULL && inlen > 0)) {
		errno = EINVAL;
		return -1;
	}
	if (r->n >= r->max) {
		errno = EAGAIN;
		return -1;
	}
	if ((j = calloc(1, sizeof *j)) == NULL)
		return -1;
	j->r = r;
	j->in = j->out = j->err = -1;
	j->deadline = -1;
	j->done = done;
	j->ctx = ctx;
	buf_init(&j->outb, out_max);
	buf_init(&j->errb, err_max);
	if (inlen > 0) {
		if ((j->input = malloc(inlen)) == NULL) {
			free(j);
			return -1;
		}
		memcpy(j->input, in, inlen);
		j->inlen = inlen;
	}
	if (child_spawn_group(&c, cmd, envp) < 0) {
		saved = errno;
		free(j->input);
		free(j);
		errno = saved;
		return -1;
	}
	j->pid = c.pid;
	j->out = c.out;
	j->err = c.err;
	if (inlen > 0) {
		j->in = c.in;
	} else {
		/* Nothing to say: it sees end of file at once. */
		close(c.in);
	}
	/* The loop writes the input, so nothing here can block. */
	if ((j->in >= 0 && loop_add(l, j->in, LOOP_OUT, on_input, j) < 0) ||
	    loop_add(l, j->out, LOOP_IN, on_output, j) < 0 ||
	    loop_add(l, j->err, LOOP_IN, on_output, j) < 0)
		goto undo;
	if (timeout_ms >= 0) {
		if ((j->timer = loop_timer(l, timeout_ms, on_timeout, j)) == 0)
			goto undo;
		/* loop_timer() has just set the loop's clock it counts from. */
		j->deadline = loop_now(l) + timeout_ms;
	}
	j->next = r->head;
	if (r->head != NULL)
		r->head->prev = j;
	r->head = j;
	r->n++;
	return 0;
undo:
	/*
	 * The loop is full or memory ran out.  The child has done nothing
	 * yet worth keeping; after SIGKILL, waiting for it is brief.
	 */
	saved = errno;
	kill_group(j->pid);
	reap_killed(j);
	drop_job(l, j);
	errno = saved;
	return -1;
}
