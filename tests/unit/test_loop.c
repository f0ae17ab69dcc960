#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/loop.h"
#include "unit.h"

/*
 * Every test runs once for each backend: suite_loop() sets the flags
 * that new_loop() passes on, and a failure names the backend it came
 * from.
 */
static unsigned loop_flags;

static struct loop *
new_loop(size_t max_fds)
{
	return loop_new_flags(max_fds, loop_flags);
}

static const char *
backend(void)
{
#ifdef __linux__
	return loop_flags & LOOP_POLL ? "poll" : "epoll";
#else
	return "poll";
#endif
}

static void
loop_check(int ok, const char *what, const char *file, int line)
{
	char msg[512];

	if (!ok) {
		snprintf(msg, sizeof msg, "[%s] %s", backend(), what);
		what = msg;
	}
	unit_check(ok, what, file, line);
}

#undef CHECK
#undef CHECK_MEM
#define CHECK(cond) loop_check((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_MEM(got, n, want) \
	loop_check((n) == strlen(want) && memcmp((got), (want), (n)) == 0, \
	    #got " == " #want, __FILE__, __LINE__)

/*
 * Every wait below is a poll timeout with a round counter, so a broken
 * loop fails checks instead of hanging; the alarm in suite_loop() is
 * the last resort for loop_run(), which has no bound of its own.
 */
#define ROUNDS 200
#define WAIT_MS 1000

/* What one fd's callback saw. */
struct seen {
	int calls;
	int fd;
	unsigned events;
};

/* The fds called back, in order, across rounds. */
static int trace[512];
static int ntrace;

static void
on_fd(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct seen *s = ctx;

	(void)l;
	s->calls++;
	s->fd = fd;
	s->events = events;
	if (ntrace < (int)(sizeof trace / sizeof trace[0]))
		trace[ntrace++] = fd;
}

static int
nb_pipe(int p[2])
{
	if (pipe(p) < 0)
		return -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	return 0;
}

static void
close_pipe(int p[2])
{
	close(p[0]);
	close(p[1]);
}

/* Run rounds until *count reaches want; 1 if it did. */
static int
run_until(struct loop *l, const int *count, int want)
{
	int i;

	for (i = 0; i < ROUNDS && *count < want; i++)
		if (loop_run_once(l, WAIT_MS) < 0)
			return 0;
	return *count >= want;
}

static void
test_ready(void)
{
	struct loop *l = new_loop(8);
	struct seen r = { 0, -1, 0 }, w = { 0, -1, 0 };
	int p[2];

	CHECK(l != NULL);
	CHECK(nb_pipe(p) == 0);
	CHECK(loop_add(l, p[0], LOOP_IN, on_fd, &r) == 0);
	/* Nothing written yet: a round with a timeout dispatches nothing. */
	CHECK(loop_run_once(l, 10) == 0 && r.calls == 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(loop_run_once(l, WAIT_MS) == 1);
	CHECK(r.calls == 1 && r.fd == p[0] && r.events == LOOP_IN);
	/* Level-triggered: still readable until read. */
	CHECK(loop_run_once(l, 0) == 1 && r.calls == 2);
	CHECK(loop_add(l, p[1], LOOP_OUT, on_fd, &w) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 2);
	CHECK(w.calls == 1 && w.fd == p[1] && w.events == LOOP_OUT);
	loop_free(l);
	/* The loop leaves the caller's fds open. */
	CHECK(fcntl(p[0], F_GETFD) != -1 && fcntl(p[1], F_GETFD) != -1);
	close_pipe(p);
}

/*
 * A connection as a program keeps one: it asks for LOOP_OUT only while
 * output is queued.  An echo server echoes what it reads.
 */
struct conn {
	char in[64];
	size_t inlen;
	char out[64];
	size_t outlen;
	int echo;
	int eof;
};

static void
on_conn(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct conn *c = ctx;
	ssize_t n;

	if (events & LOOP_IN) {
		n = read(fd, c->in + c->inlen, sizeof c->in - c->inlen);
		if (n == 0)
			c->eof = 1;
		if (n > 0) {
			if (c->echo && c->outlen + (size_t)n <= sizeof c->out) {
				memcpy(c->out + c->outlen, c->in + c->inlen,
				    (size_t)n);
				c->outlen += (size_t)n;
				loop_want(l, fd, LOOP_IN | LOOP_OUT);
			}
			c->inlen += (size_t)n;
		}
	}
	if ((events & LOOP_OUT) && c->outlen > 0) {
		n = write(fd, c->out, c->outlen);
		if (n > 0) {
			memmove(c->out, c->out + n, c->outlen - (size_t)n);
			c->outlen -= (size_t)n;
		}
		if (c->outlen == 0)
			loop_want(l, fd, LOOP_IN);
	}
}

static void
test_socketpair(void)
{
	struct loop *l = new_loop(8);
	struct conn cli, srv;
	int sv[2], i, ok = 1;

	memset(&cli, 0, sizeof cli);
	memset(&srv, 0, sizeof srv);
	srv.echo = 1;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memcpy(cli.out, "ping", 4);
	cli.outlen = 4;
	CHECK(loop_add(l, sv[0], LOOP_IN | LOOP_OUT, on_conn, &cli) == 0);
	CHECK(loop_add(l, sv[1], LOOP_IN, on_conn, &srv) == 0);
	for (i = 0; i < ROUNDS && cli.inlen < 4; i++)
		ok &= loop_run_once(l, WAIT_MS) >= 0;
	CHECK(ok);
	CHECK_MEM(cli.in, cli.inlen, "ping");
	CHECK_MEM(srv.in, srv.inlen, "ping");
	/* Both sides dropped LOOP_OUT once their output went out. */
	CHECK(loop_wanted(l, sv[0]) == LOOP_IN);
	CHECK(loop_wanted(l, sv[1]) == LOOP_IN);
	/* Idle now: nothing is ready, so a short round dispatches nothing. */
	CHECK(loop_run_once(l, 10) == 0);

	/* The client hangs up: the server reads end of file. */
	loop_del(l, sv[0]);
	close(sv[0]);
	CHECK(run_until(l, &srv.eof, 1));
	loop_free(l);
	close(sv[1]);
}

static void
test_want(void)
{
	struct loop *l = new_loop(8);
	struct seen w = { 0, -1, 0 };
	int p[2];

	CHECK(nb_pipe(p) == 0);
	/* A writer with nothing queued asks for nothing. */
	CHECK(loop_add(l, p[1], 0, on_fd, &w) == 0);
	CHECK(loop_wanted(l, p[1]) == 0);
	CHECK(loop_run_once(l, 10) == 0 && w.calls == 0);
	CHECK(loop_want(l, p[1], LOOP_OUT) == 0);
	CHECK(loop_wanted(l, p[1]) == LOOP_OUT);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && w.events == LOOP_OUT);
	CHECK(loop_want(l, p[1], 0) == 0);
	CHECK(loop_run_once(l, 10) == 0 && w.calls == 1);
	CHECK(loop_want(l, p[1], LOOP_OUT) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && w.calls == 2);

	/* Errors. */
	errno = 0;
	CHECK(loop_want(l, p[0], LOOP_IN) == -1 && errno == ENOENT);
	errno = 0;
	CHECK(loop_want(l, p[1], LOOP_HUP) == -1 && errno == EINVAL);
	CHECK(loop_wanted(l, p[0]) == 0 && loop_wanted(l, -1) == 0);
	CHECK(loop_want(l, -1, LOOP_IN) == -1 && errno == ENOENT);
	loop_free(l);
	close_pipe(p);
}

/*
 * A full pipe: the writer is not called until the reader drains it, and
 * a parked reader is not called, not even for a hangup, until it asks.
 */
static void
test_full_pipe(void)
{
	struct loop *l = new_loop(8);
	struct seen r = { 0, -1, 0 }, w = { 0, -1, 0 };
	char chunk[4096];
	int p[2];
	ssize_t n;
	size_t filled = 0;
	int64_t start;

	memset(chunk, 'f', sizeof chunk);
	CHECK(nb_pipe(p) == 0);
	while ((n = write(p[1], chunk, sizeof chunk)) > 0)
		filled += (size_t)n;
	CHECK(n == -1 && errno == EAGAIN && filled > 0);
	/* Once a partial write made it, one more byte cannot. */
	while ((n = write(p[1], chunk, 1)) > 0)
		filled += (size_t)n;
	CHECK(loop_add(l, p[1], LOOP_OUT, on_fd, &w) == 0);
	CHECK(loop_add(l, p[0], 0, on_fd, &r) == 0);
	CHECK(loop_run_once(l, 20) == 0 && w.calls == 0 && r.calls == 0);

	/* The reader takes a little: the writer is still not called... */
	CHECK(loop_want(l, p[0], LOOP_IN) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && r.calls == 1 && w.calls == 0);
	CHECK(read(p[0], chunk, 1) == 1);
	filled--;
	CHECK(loop_want(l, p[0], 0) == 0);
	CHECK(loop_run_once(l, 20) == 0 && w.calls == 0);

	/* ...until it drains the pipe. */
	while (filled > 0 && (n = read(p[0], chunk, sizeof chunk)) > 0)
		filled -= (size_t)n;
	CHECK(filled == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && w.calls == 1 &&
	    w.events == LOOP_OUT);

	/*
	 * A parked reader does not hear the hangup until it asks; it is not
	 * polled at all, so the round sleeps out its timeout, not spins.
	 */
	CHECK(write(p[1], "z", 1) == 1);
	loop_del(l, p[1]);
	close(p[1]);
	start = loop_now(l);
	CHECK(loop_run_once(l, 20) == 0 && r.calls == 1);
	CHECK(loop_now(l) >= start + 20);
	CHECK(loop_want(l, p[0], LOOP_IN) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && r.calls == 2);
	CHECK((r.events & LOOP_IN) != 0);
	loop_free(l);
	close(p[0]);
}


/* A callback that deletes other fds and adds new ones, in one round. */
struct killer {
	struct seen seen;
	int victim[4];
	int nvictim;
	int add[2];             /* fds to add, or -1 */
	struct seen *add_seen[2];
	int add_rc[2];
	int pause;              /* an fd to switch to LOOP_OUT, or -1 */
};

static void
killer_init(struct killer *k)
{
	memset(k, 0, sizeof *k);
	k->add[0] = k->add[1] = k->pause = -1;
}

static void
on_kill(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct killer *k = ctx;
	int i;

	on_fd(l, fd, events, &k->seen);
	for (i = 0; i < k->nvictim; i++)
		loop_del(l, k->victim[i]);
	k->nvictim = 0;
	if (k->pause >= 0)
		loop_want(l, k->pause, LOOP_OUT);
	k->pause = -1;
	for (i = 0; i < 2; i++)
		if (k->add[i] >= 0) {
			k->add_rc[i] = loop_add(l, k->add[i], LOOP_IN, on_fd,
			    k->add_seen[i]);
			k->add[i] = -1;
		}
}

/* A reader that must never be called with LOOP_OUT, or after a pause. */
static void
on_pause(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct killer *k = ctx;

	if (events & ~LOOP_IN)
		k->seen.calls += 100;
	on_fd(l, fd, events, &k->seen);
}

static void
test_del_pending(void)
{
	struct loop *l = new_loop(8);
	struct killer ka, kb;
	int a[2], b[2];

	killer_init(&ka);
	killer_init(&kb);
	CHECK(nb_pipe(a) == 0 && nb_pipe(b) == 0);
	CHECK(write(a[1], "a", 1) == 1 && write(b[1], "b", 1) == 1);
	/* Each deletes the other: only the first in order may run. */
	ka.victim[0] = b[0];
	ka.nvictim = 1;
	kb.victim[0] = a[0];
	kb.nvictim = 1;
	CHECK(loop_add(l, a[0], LOOP_IN, on_kill, &ka) == 0);
	CHECK(loop_add(l, b[0], LOOP_IN, on_kill, &kb) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1);
	CHECK(ka.seen.calls == 1 && kb.seen.calls == 0);
	CHECK(loop_wanted(l, b[0]) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && ka.seen.calls == 2);

	/*
	 * Pausing another fd whose event is pending: it is not called with
	 * what it no longer wants.
	 */
	CHECK(loop_add(l, b[0], LOOP_IN, on_pause, &kb) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 2 && kb.seen.calls == 1);
	ka.pause = b[0];
	CHECK(loop_run_once(l, WAIT_MS) == 1 && kb.seen.calls == 1);
	CHECK(loop_wanted(l, b[0]) == LOOP_OUT);
	loop_del(l, b[0]);

	/* A callback deleting itself is just as safe. */
	ka.victim[0] = a[0];
	ka.nvictim = 1;
	CHECK(ka.seen.calls == 4);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && ka.seen.calls == 5);
	CHECK(loop_run_once(l, 10) == 0 && ka.seen.calls == 5);
	loop_free(l);
	close_pipe(a);
	close_pipe(b);
}

/*
 * A callback deletes and closes another fd whose event is pending, and a
 * new pipe takes its number in the same round: the newcomer must neither
 * inherit the event nor run before the next round.
 */
struct reuse {
	int calls;
	int victim;
	int newp[2];
	int rc;
	struct seen fresh;
};

static void
on_reuse(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct reuse *r = ctx;

	(void)fd;
	(void)events;
	r->calls++;
	if (r->victim < 0)
		return;
	loop_del(l, r->victim);
	close(r->victim);
	r->victim = -1;
	if (nb_pipe(r->newp) == 0 && write(r->newp[1], "n", 1) == 1)
		r->rc = loop_add(l, r->newp[0], LOOP_IN, on_fd, &r->fresh);
}

static void
test_reuse_in_round(void)
{
	struct loop *l = new_loop(8);
	struct reuse r;
	struct seen sb = { 0, -1, 0 };
	int a[2], b[2], old_b;

	memset(&r, 0, sizeof r);
	r.rc = -2;
	CHECK(nb_pipe(a) == 0 && nb_pipe(b) == 0);
	CHECK(write(a[1], "a", 1) == 1 && write(b[1], "b", 1) == 1);
	CHECK(loop_add(l, a[0], LOOP_IN, on_reuse, &r) == 0);
	CHECK(loop_add(l, b[0], LOOP_IN, on_fd, &sb) == 0);
	old_b = r.victim = b[0];
	CHECK(loop_run_once(l, WAIT_MS) == 1);
	CHECK(r.calls == 1 && r.rc == 0 && sb.calls == 0);
	/* The kernel hands out the lowest free number: b's. */
	CHECK(r.newp[0] == old_b);
	CHECK(r.fresh.calls == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 2);
	CHECK(r.calls == 2 && r.fresh.calls == 1 && r.fresh.fd == old_b);
	CHECK(sb.calls == 0);
	loop_free(l);
	close_pipe(a);
	close(b[1]);
	close_pipe(r.newp);
}

/*
 * Deleting two fds and adding two in one callback, with the loop at its
 * limit, makes it squeeze out the dead slots mid-round: the slot after
 * the callback's must still be dispatched once, the new ones not.
 */
static void
test_compact_in_round(void)
{
	struct loop *l = new_loop(4);
	struct killer ka;
	struct seen sb = { 0, -1, 0 }, sc = { 0, -1, 0 }, sd = { 0, -1, 0 };
	struct seen se = { 0, -1, 0 }, sf = { 0, -1, 0 }, sx = { 0, -1, 0 };
	int p[6][2], i;

	killer_init(&ka);
	for (i = 0; i < 6; i++) {
		CHECK(nb_pipe(p[i]) == 0);
		CHECK(write(p[i][1], "r", 1) == 1);
	}
	CHECK(loop_add(l, p[0][0], LOOP_IN, on_kill, &ka) == 0);
	CHECK(loop_add(l, p[1][0], LOOP_IN, on_fd, &sb) == 0);
	CHECK(loop_add(l, p[2][0], LOOP_IN, on_fd, &sc) == 0);
	CHECK(loop_add(l, p[3][0], LOOP_IN, on_fd, &sd) == 0);
	errno = 0;
	CHECK(loop_add(l, p[4][0], LOOP_IN, on_fd, &sx) == -1 &&
	    errno == ENOSPC);
	ka.victim[0] = p[1][0];
	ka.victim[1] = p[2][0];
	ka.nvictim = 2;
	ka.add[0] = p[4][0];
	ka.add_seen[0] = &se;
	ka.add[1] = p[5][0];
	ka.add_seen[1] = &sf;
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == 2);
	CHECK(ka.add_rc[0] == 0 && ka.add_rc[1] == 0);
	CHECK(ka.seen.calls == 1 && sd.calls == 1);
	CHECK(sb.calls == 0 && sc.calls == 0 && se.calls == 0 && sf.calls == 0);
	CHECK(ntrace == 2 && trace[0] == p[0][0] && trace[1] == p[3][0]);
	/* Full again. */
	CHECK(loop_add(l, p[1][0], LOOP_IN, on_fd, &sb) == -1 &&
	    errno == ENOSPC);
	/* Next round: everyone, in registration order. */
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == 4);
	CHECK(ntrace == 4 && trace[0] == p[0][0] && trace[1] == p[3][0] &&
	    trace[2] == p[4][0] && trace[3] == p[5][0]);
	loop_free(l);
	for (i = 0; i < 6; i++)
		close_pipe(p[i]);
}

/* Many fds: one round calls each once, in order; then one kills all. */
static void
test_many_fds(void)
{
	enum { NP = 100 };
	struct loop *l = new_loop(NP);
	static struct seen s[NP];
	static int p[NP][2];
	struct killer k;
	int i, ok = 1;

	killer_init(&k);
	memset(s, 0, sizeof s);
	for (i = 0; i < NP; i++) {
		ok &= nb_pipe(p[i]) == 0;
		ok &= write(p[i][1], "m", 1) == 1;
		if (i == 0)
			ok &= loop_add(l, p[i][0], LOOP_IN, on_kill, &k) == 0;
		else
			ok &= loop_add(l, p[i][0], LOOP_IN, on_fd, &s[i]) == 0;
	}
	CHECK(ok);
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == NP);
	for (i = 0, ok = ntrace == NP; ok && i < NP; i++)
		ok = trace[i] == p[i][0];
	CHECK(ok);

	/* Delete the middle one and add it back: it moves to the end. */
	loop_del(l, p[NP / 2][0]);
	CHECK(loop_add(l, p[NP / 2][0], LOOP_IN, on_fd, &s[NP / 2]) == 0);
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == NP);
	CHECK(ntrace == NP && trace[NP - 1] == p[NP / 2][0] &&
	    trace[NP / 2] == p[NP / 2 + 1][0]);

	/* The first deletes all the others before they run. */
	for (i = 1; i < NP && i < 5; i++)
		k.victim[i - 1] = p[i][0];
	k.nvictim = 4;
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == NP - 4);
	CHECK(s[1].calls == 2 && s[4].calls == 2 && s[5].calls == 3);
	loop_free(l);
	for (i = 0; i < NP; i++)
		close_pipe(p[i]);
}

static void
test_capacity(void)
{
	struct loop *l = new_loop(2), *none = new_loop(0);
	struct seen s = { 0, -1, 0 };
	int a[2], b[2], c[2];

	CHECK(l != NULL && none != NULL);
	CHECK(nb_pipe(a) == 0 && nb_pipe(b) == 0 && nb_pipe(c) == 0);
	CHECK(loop_add(l, a[0], LOOP_IN, on_fd, &s) == 0);
	CHECK(loop_add(l, b[0], LOOP_IN, on_fd, &s) == 0);
	errno = 0;
	CHECK(loop_add(l, c[0], LOOP_IN, on_fd, &s) == -1 && errno == ENOSPC);
	errno = 0;
	CHECK(loop_add(l, a[0], LOOP_IN, on_fd, &s) == -1 && errno == EEXIST);
	errno = 0;
	CHECK(loop_add(l, -1, LOOP_IN, on_fd, &s) == -1 && errno == EBADF);
	loop_del(l, a[0]);
	loop_del(l, a[0]);
	loop_del(l, -5);
	loop_del(l, 100000);
	errno = 0;
	CHECK(loop_add(l, c[0], LOOP_IN | LOOP_ERR, on_fd, &s) == -1 &&
	    errno == EINVAL);
	CHECK(loop_add(l, c[0], LOOP_IN, NULL, &s) == -1 && errno == EINVAL);
	CHECK(loop_add(l, c[0], LOOP_IN, on_fd, &s) == 0);
	CHECK(loop_add(l, a[0], LOOP_IN, on_fd, &s) == -1 && errno == ENOSPC);
	/* A large fd number is fine; only the count is bounded. */
	loop_del(l, c[0]);
	CHECK(dup2(c[0], 700) == 700);
	CHECK(loop_add(l, 700, LOOP_IN, on_fd, &s) == 0);
	loop_del(l, 700);
	close(700);
	CHECK(loop_add(none, a[0], LOOP_IN, on_fd, &s) == -1 &&
	    errno == ENOSPC);
	loop_free(l);
	loop_free(none);
	loop_free(NULL);
	close_pipe(a);
	close_pipe(b);
	close_pipe(c);
}

static void
test_hangup(void)
{
	struct loop *l = new_loop(8);
	struct seen r = { 0, -1, 0 }, w = { 0, -1, 0 }, sk = { 0, -1, 0 };
	struct seen bad = { 0, -1, 0 };
	char c;
	int p[2], q[2], sv[2], z[2];

	/* A pipe's writer closes: the reader hears LOOP_HUP. */
	CHECK(nb_pipe(p) == 0);
	CHECK(loop_add(l, p[0], LOOP_IN, on_fd, &r) == 0);
	close(p[1]);
	CHECK(run_until(l, &r.calls, 1));
	CHECK((r.events & LOOP_HUP) != 0);
	CHECK(read(p[0], &c, 1) == 0);
	loop_del(l, p[0]);
	close(p[0]);

	/* A pipe's reader closes: the writer hears of it. */
	CHECK(nb_pipe(q) == 0);
	CHECK(loop_add(l, q[1], LOOP_OUT, on_fd, &w) == 0);
	close(q[0]);
	CHECK(run_until(l, &w.calls, 1));
	CHECK((w.events & (LOOP_ERR | LOOP_HUP)) != 0);
	loop_del(l, q[1]);
	close(q[1]);

	/* A socket's peer closes: readable, and read says end of file. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	CHECK(loop_add(l, sv[0], LOOP_IN, on_fd, &sk) == 0);
	close(sv[1]);
	CHECK(run_until(l, &sk.calls, 1));
	CHECK((sk.events & (LOOP_IN | LOOP_HUP)) != 0);
	CHECK(read(sv[0], &c, 1) == 0);
	loop_del(l, sv[0]);
	close(sv[0]);

	/* An fd closed while registered shows up as LOOP_ERR. */
	CHECK(nb_pipe(z) == 0);
	CHECK(loop_add(l, z[0], LOOP_IN, on_fd, &bad) == 0);
	close(z[0]);
	CHECK(run_until(l, &bad.calls, 1));
	CHECK(bad.events == LOOP_ERR);
	/* Again, every round it wants something, as POLLNVAL is. */
	CHECK(loop_run_once(l, WAIT_MS) == 1 && bad.calls == 2);
	loop_del(l, z[0]);
	close(z[1]);
	loop_free(l);
}

/*
 * An fd closed after it has been polled: poll(2) reports it at once,
 * while epoll, which the close quietly leaves, hears of it only when the
 * loop next hands the fd to the kernel, on a change of interest (see
 * loop.h).  Either way LOOP_ERR comes once the interest has changed.
 */
static void
test_closed_later(void)
{
	struct loop *l = new_loop(4);
	struct seen bad = { 0, -1, 0 };
	int z[2];

	CHECK(nb_pipe(z) == 0);
	CHECK(loop_add(l, z[0], LOOP_IN, on_fd, &bad) == 0);
	CHECK(loop_run_once(l, 10) == 0 && bad.calls == 0);
	close(z[0]);
#ifdef __linux__
	if (!(loop_flags & LOOP_POLL)) {
		/* This is also how the test knows epoll is in use. */
		CHECK(loop_run_once(l, 20) == 0 && bad.calls == 0);
	} else
#endif
	{
		CHECK(loop_run_once(l, WAIT_MS) == 1 && bad.calls == 1);
		CHECK(bad.events == LOOP_ERR);
	}
	CHECK(loop_want(l, z[0], LOOP_IN | LOOP_OUT) == 0);
	bad.calls = 0;
	CHECK(loop_run_once(l, WAIT_MS) == 1 && bad.calls == 1);
	CHECK(bad.events == LOOP_ERR);
	/* Deleting it is quiet, and its number may be registered again. */
	loop_del(l, z[0]);
	CHECK(loop_run_once(l, 10) == 0 && bad.calls == 1);
	CHECK(nb_pipe(z) == 0);
	CHECK(loop_add(l, z[0], LOOP_IN, on_fd, &bad) == 0);
	CHECK(write(z[1], "x", 1) == 1);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && bad.calls == 2);
	CHECK(bad.events == LOOP_IN);
	loop_free(l);
	close_pipe(z);
}

/*
 * A parked fd hears no hangup, under either backend: with epoll, whose
 * set always reports EPOLLHUP and EPOLLERR, it has to leave the set.
 */
struct parker {
	struct seen seen;
	int park;               /* an fd to park, or -1 */
};

static void
on_park(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct parker *p = ctx;

	on_fd(l, fd, events, &p->seen);
	if (p->park >= 0)
		loop_want(l, p->park, 0);
	p->park = -1;
}

static void
test_parked_hangup(void)
{
	struct loop *l = new_loop(8);
	struct seen r = { 0, -1, 0 }, w = { 0, -1, 0 }, s = { 0, -1, 0 };
	struct parker pk;
	int sv[2], p[2], q[2];
	int64_t start;
	char c;

	/* A socket that has been polled, then parked, then hung up on. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	CHECK(loop_add(l, sv[0], LOOP_IN, on_fd, &s) == 0);
	CHECK(loop_run_once(l, 10) == 0);
	CHECK(loop_want(l, sv[0], 0) == 0);
	close(sv[1]);
	start = loop_now(l);
	CHECK(loop_run_once(l, 20) == 0 && s.calls == 0);
	CHECK(loop_now(l) >= start + 20);
	CHECK(loop_want(l, sv[0], LOOP_IN) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && s.calls == 1);
	CHECK((s.events & LOOP_IN) != 0 && (s.events & LOOP_HUP) != 0);
	CHECK(read(sv[0], &c, 1) == 0);
	loop_del(l, sv[0]);
	close(sv[0]);

	/* A pipe's writer, parked when its reader goes: no LOOP_ERR. */
	CHECK(nb_pipe(p) == 0);
	CHECK(loop_add(l, p[1], LOOP_OUT, on_fd, &w) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && w.calls == 1);
	CHECK(loop_want(l, p[1], 0) == 0);
	close(p[0]);
	CHECK(loop_run_once(l, 20) == 0 && w.calls == 1);
	CHECK(loop_want(l, p[1], LOOP_OUT) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && w.calls == 2);
	CHECK((w.events & LOOP_ERR) != 0);
	loop_del(l, p[1]);
	close(p[1]);

	/*
	 * The hangup is already pending when an earlier callback of the
	 * same round parks the fd: it is not called, then or later.
	 */
	memset(&pk, 0, sizeof pk);
	CHECK(nb_pipe(p) == 0 && nb_pipe(q) == 0);
	CHECK(loop_add(l, q[0], LOOP_IN, on_park, &pk) == 0);
	CHECK(loop_add(l, p[0], LOOP_IN, on_fd, &r) == 0);
	CHECK(loop_run_once(l, 10) == 0);
	pk.park = p[0];
	close(p[1]);
	CHECK(write(q[1], "q", 1) == 1);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && pk.seen.calls == 1);
	CHECK(r.calls == 0 && loop_wanted(l, p[0]) == 0);
	CHECK(read(q[0], &c, 1) == 1);
	CHECK(loop_run_once(l, 20) == 0 && r.calls == 0);
	CHECK(loop_want(l, p[0], LOOP_IN) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && r.calls == 1);
	CHECK((r.events & LOOP_HUP) != 0);
	loop_free(l);
	close(p[0]);
	close_pipe(q);
}

/*
 * Interest changed and changed back within a round: the fd is called as
 * if nothing had happened (the epoll backend makes no system call), and
 * an fd added and deleted over and over, which leaves stale entries in
 * the epoll backend's list of changes, upsets nothing.
 */
struct toggler {
	struct seen seen;
	int other;
};

static void
on_toggle(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct toggler *t = ctx;

	on_fd(l, fd, events, &t->seen);
	loop_want(l, t->other, 0);
	loop_want(l, t->other, LOOP_IN | LOOP_OUT);
	loop_want(l, t->other, LOOP_IN);
}

static void
test_churn(void)
{
	struct loop *l = new_loop(2);
	struct toggler t;
	struct seen s = { 0, -1, 0 };
	int a[2], b[2], i, ok = 1;

	memset(&t, 0, sizeof t);
	CHECK(nb_pipe(a) == 0 && nb_pipe(b) == 0);
	t.other = b[0];
	CHECK(loop_add(l, a[0], LOOP_IN, on_toggle, &t) == 0);
	CHECK(loop_add(l, b[0], LOOP_IN, on_fd, &s) == 0);
	CHECK(write(a[1], "a", 1) == 1 && write(b[1], "b", 1) == 1);
	CHECK(loop_run_once(l, WAIT_MS) == 2 && t.seen.calls == 1 &&
	    s.calls == 1 && s.events == LOOP_IN);
	CHECK(loop_wanted(l, b[0]) == LOOP_IN);
	for (i = 0; i < 50; i++) {
		loop_del(l, b[0]);
		ok &= loop_add(l, b[0], i % 2 ? LOOP_IN : 0, on_fd, &s) == 0;
		ok &= loop_want(l, b[0], LOOP_OUT) == 0;
	}
	CHECK(ok);
	CHECK(loop_want(l, b[0], LOOP_IN) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 2 && s.calls == 2 &&
	    s.events == LOOP_IN);
	CHECK(read(a[0], &i, 1) == 1 && read(b[0], &i, 1) == 1);
	CHECK(loop_run_once(l, 10) == 0);
	loop_free(l);
	close_pipe(a);
	close_pipe(b);
}

/*
 * Fds that epoll cannot watch, a regular file and /dev/null, are always
 * ready for what they want, as poll(2) says: the round does not wait.
 */
static void
test_always_ready(void)
{
	struct loop *l = new_loop(4);
	struct seen f = { 0, -1, 0 }, n = { 0, -1, 0 };
	FILE *tmp = tmpfile();
	int null = open("/dev/null", O_RDWR);
	int64_t start;

	CHECK(tmp != NULL && null >= 0);
	if (tmp == NULL || null < 0)
		goto out;
	CHECK(loop_add(l, fileno(tmp), LOOP_IN | LOOP_OUT, on_fd, &f) == 0);
	CHECK(loop_add(l, null, LOOP_OUT, on_fd, &n) == 0);
	start = loop_now(l);
	CHECK(loop_run_once(l, 5000) == 2);
	CHECK(loop_now(l) < start + 2000);
	CHECK(f.events == (LOOP_IN | LOOP_OUT) && n.events == LOOP_OUT);
	CHECK(loop_want(l, fileno(tmp), LOOP_IN) == 0);
	CHECK(loop_run_once(l, 5000) == 2 && f.events == LOOP_IN);
	/* Parked, it is left alone, and the round waits. */
	CHECK(loop_want(l, fileno(tmp), 0) == 0);
	CHECK(loop_want(l, null, 0) == 0);
	start = loop_now(l);
	CHECK(loop_run_once(l, 20) == 0 && f.calls == 2 && n.calls == 2);
	CHECK(loop_now(l) >= start + 20);
	CHECK(loop_want(l, null, LOOP_IN) == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && n.calls == 3 &&
	    n.events == LOOP_IN);
	loop_del(l, null);
	CHECK(loop_run_once(l, 20) == 0 && n.calls == 3);
out:
	loop_free(l);
	if (tmp != NULL)
		fclose(tmp);
	if (null >= 0)
		close(null);
}

/*
 * A crowd: 1000 registered fds, of which one or a few are active.  The
 * idle ones are copies of one empty pipe's reader, so the test needs few
 * more fds than that; the active ones sit among them.  Each round calls
 * exactly the active ones, in registration order, whatever order their
 * events came in.
 */
static void
test_crowd(void)
{
	enum { NFD = 1000, NACT = 5 };
	static int fd[NFD];
	static struct seen s[NFD];
	static const int at[NACT] = { 0, 250, 500, 750, NFD - 1 };
	struct loop *l = new_loop(NFD);
	struct rlimit rl;
	int idle[2], act[NACT][2], i, k, ok = 1, nfd = 0;
	char c;

	/* 1000 fds and some: more than a soft limit of 1024 may allow. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * NFD) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > 2 * NFD ? 2 * NFD : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(s, 0, sizeof s);
	CHECK(l != NULL && nb_pipe(idle) == 0);
	for (k = 0; k < NACT; k++)
		CHECK(nb_pipe(act[k]) == 0);
	for (i = 0, k = 0; i < NFD; i++) {
		if (k < NACT && i == at[k])
			fd[i] = act[k++][0];
		else
			fd[i] = dup(idle[0]);
		ok &= fd[i] >= 0 &&
		    loop_add(l, fd[i], LOOP_IN, on_fd, &s[i]) == 0;
		nfd += fd[i] >= 0;
	}
	CHECK(ok && nfd == NFD);
	if (!ok)
		goto out;
	CHECK(loop_run_once(l, 10) == 0);

	/* One active at a time, each in turn, a few times over. */
	for (i = 0; i < 4 * NACT; i++) {
		k = i % NACT;
		ntrace = 0;
		ok &= write(act[k][1], "a", 1) == 1;
		ok &= loop_run_once(l, WAIT_MS) == 1;
		ok &= ntrace == 1 && trace[0] == fd[at[k]] &&
		    s[at[k]].events == LOOP_IN;
		ok &= read(act[k][0], &c, 1) == 1;
	}
	CHECK(ok);
	for (i = 0, k = 0; i < NFD; i++)
		k += s[i].calls;
	CHECK(k == 4 * NACT);

	/* All active, woken last first: called first first. */
	for (k = NACT - 1; k >= 0; k--)
		CHECK(write(act[k][1], "a", 1) == 1);
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == NACT);
	for (k = 0, ok = ntrace == NACT; ok && k < NACT; k++)
		ok = trace[k] == fd[at[k]];
	CHECK(ok);

	/* Parked in the crowd, it is not called; asked again, it is. */
	CHECK(loop_want(l, fd[at[2]], 0) == 0);
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == NACT - 1 && ntrace == NACT - 1);
	CHECK(trace[1] == fd[at[1]] && trace[2] == fd[at[3]]);
	CHECK(loop_want(l, fd[at[2]], LOOP_IN) == 0);
	ntrace = 0;
	CHECK(loop_run_once(l, WAIT_MS) == NACT && trace[2] == fd[at[2]]);
	for (k = 0; k < NACT; k++)
		CHECK(read(act[k][0], &c, 1) == 1);
	CHECK(loop_run_once(l, 10) == 0);
out:
	loop_free(l);
	for (i = 0; i < NFD; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	close_pipe(idle);
	for (k = 0; k < NACT; k++)
		close(act[k][1]);
}

static void
test_flags(void)
{
	struct loop *l;
	struct seen s = { 0, -1, 0 };
	int p[2];

	errno = 0;
	CHECK(loop_new_flags(4, 0x2) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(loop_new_flags(4, LOOP_POLL | 0x100) == NULL && errno == EINVAL);
	/* loop_new() is the default, epoll where there is one. */
	l = loop_new(4);
	CHECK(l != NULL && nb_pipe(p) == 0);
	CHECK(loop_add(l, p[0], LOOP_IN, on_fd, &s) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && s.calls == 1);
	loop_free(l);
	close_pipe(p);
}

/* Timers record the order they fire in. */
static int fired[64];
static int nfired;

struct tctx {
	int label;
	int64_t due;
	int64_t at;             /* loop_now() when it fired */
	struct loop *l;
	uint64_t other;         /* a timer to cancel, or 0 */
	int cancel_rc;
	int rearm;              /* arm a 0 ms timer from this one, n times */
	uint64_t self;
	int self_cancel_rc;
};

static void
on_timer(struct loop *l, uint64_t id, void *ctx)
{
	struct tctx *t = ctx;

	t->at = loop_now(l);
	t->self_cancel_rc = loop_cancel(l, id);
	t->self = id;
	if (nfired < (int)(sizeof fired / sizeof fired[0]))
		fired[nfired++] = t->label;
	if (t->other != 0)
		t->cancel_rc = loop_cancel(l, t->other);
	if (t->rearm > 0) {
		t->rearm--;
		loop_timer(l, 0, on_timer, t);
	}
}

static int
fire_all(struct loop *l, int want)
{
	return run_until(l, &nfired, want);
}

static void
test_timer_order(void)
{
	struct loop *l = new_loop(0);
	struct tctx t[6];
	int64_t start;
	int i;

	memset(t, 0, sizeof t);
	for (i = 0; i < 6; i++)
		t[i].label = i;
	nfired = 0;
	start = loop_now(l);
	CHECK(loop_timer(l, 60, on_timer, &t[5]) != 0);
	CHECK(loop_timer(l, 20, on_timer, &t[1]) != 0);
	CHECK(loop_timer(l, 40, on_timer, &t[3]) != 0);
	/* Equal deadlines fire in the order they were armed. */
	CHECK(loop_timer(l, 30, on_timer, &t[2]) != 0);
	CHECK(loop_timer(l, 40, on_timer, &t[4]) != 0);
	CHECK(loop_timer(l, 10, on_timer, &t[0]) != 0);
	CHECK(fire_all(l, 6));
	CHECK(nfired == 6 && fired[0] == 0 && fired[1] == 1 &&
	    fired[2] == 2 && fired[3] == 3 && fired[4] == 4 && fired[5] == 5);
	/* None early; poll slept until the deadlines, not in a spin. */
	CHECK(t[0].at >= start + 10 && t[5].at >= start + 60);
	CHECK(t[5].at < start + WAIT_MS);
	/*
	 * Armed outside the loop after a while: counted from the clock, not
	 * from the last round's time.
	 */
	nfired = 0;
	start = loop_now(l);
	poll(NULL, 0, 30);
	CHECK(loop_timer(l, 10, on_timer, &t[0]) != 0);
	CHECK(loop_now(l) >= start + 30);
	CHECK(fire_all(l, 1) && t[0].at >= start + 40);
	/* A fired timer's id is spent, inside its callback and after. */
	CHECK(t[0].self_cancel_rc == 0 && loop_cancel(l, t[0].self) == 0);
	/* Nothing left: the loop does not wait. */
	CHECK(loop_run_once(l, -1) == 0);
	loop_free(l);
}

/* The poll timeout is the nearest timer's deadline. */
static void
test_timer_timeout(void)
{
	struct loop *l = new_loop(4);
	struct tctx t;
	int64_t start;
	int p[2];
	struct seen s = { 0, -1, 0 };

	memset(&t, 0, sizeof t);
	CHECK(nb_pipe(p) == 0);
	CHECK(loop_add(l, p[0], LOOP_IN, on_fd, &s) == 0);
	nfired = 0;
	CHECK(loop_timer(l, 30, on_timer, &t) != 0);
	start = loop_now(l);
	/* One round of up to 5 s: the timer ends it after 30 ms. */
	CHECK(loop_run_once(l, 5000) == 1 && nfired == 1);
	CHECK(loop_now(l) >= start + 30 && loop_now(l) < start + 2000);
	/* max_wait_ms bounds a round with a far timer. */
	CHECK(loop_timer(l, 60000, on_timer, &t) != 0);
	start = loop_now(l);
	CHECK(loop_run_once(l, 20) == 0 && nfired == 1);
	CHECK(loop_now(l) >= start + 20 && loop_now(l) < start + 2000);
	loop_free(l);
	close_pipe(p);
}

static void
test_timer_cancel(void)
{
	struct loop *l = new_loop(0);
	struct tctx t[4];
	uint64_t a, b, c;
	int i;

	memset(t, 0, sizeof t);
	for (i = 0; i < 4; i++)
		t[i].label = i;
	nfired = 0;
	a = loop_timer(l, 20, on_timer, &t[0]);
	b = loop_timer(l, 10, on_timer, &t[1]);
	c = loop_timer(l, 15, on_timer, &t[2]);
	CHECK(a != 0 && b != 0 && c != 0 && a != b && b != c && a != c);
	CHECK(loop_cancel(l, a) == 1);
	CHECK(loop_cancel(l, a) == 0);
	CHECK(loop_cancel(l, 0) == 0);
	CHECK(loop_cancel(l, UINT64_MAX) == 0);
	CHECK(loop_cancel(l, (uint64_t)7 << 32 | 1) == 0);
	CHECK(fire_all(l, 2));
	CHECK(nfired == 2 && fired[0] == 1 && fired[1] == 2);
	CHECK(loop_run_once(l, 30) == 0 && nfired == 2);

	/* A record reused after a cancel gets a new id; the old one is dead. */
	b = loop_timer(l, 1000, on_timer, &t[1]);
	CHECK(loop_cancel(l, b) == 1);
	c = loop_timer(l, 1000, on_timer, &t[1]);
	CHECK(c != b && loop_cancel(l, b) == 0 && loop_cancel(l, c) == 1);

	/* Cancelled by an earlier timer that is due in the same round. */
	nfired = 0;
	t[3].other = loop_timer(l, 0, on_timer, &t[2]);
	a = loop_timer(l, -5, on_timer, &t[3]);
	CHECK(a != 0);
	/* t[3] was armed later but is due earlier (negative means 0). */
	CHECK(loop_run_once(l, WAIT_MS) == 2 && nfired == 2);
	CHECK(fired[0] == 2 && fired[1] == 3 && t[3].cancel_rc == 0);
	t[3].other = loop_timer(l, 5, on_timer, &t[2]);
	CHECK(loop_timer(l, 0, on_timer, &t[3]) != 0);
	nfired = 0;
	CHECK(loop_run_once(l, WAIT_MS) == 1 && nfired == 1 &&
	    fired[0] == 3 && t[3].cancel_rc == 1);
	CHECK(loop_run_once(l, 30) == 0 && nfired == 1);
	loop_free(l);
}

/* A timer armed by a timer, and 0 ms timers: never in the same round. */
static void
test_timer_from_timer(void)
{
	struct loop *l = new_loop(0);
	struct tctx t;
	int i, ok = 1;

	memset(&t, 0, sizeof t);
	t.label = 7;
	t.rearm = 3;
	nfired = 0;
	CHECK(loop_timer(l, 0, on_timer, &t) != 0);
	/* A 0 ms timer is due at once: a round that does not wait fires it. */
	for (i = 1; i <= 4; i++)
		ok &= loop_run_once(l, 0) == 1 && nfired == i;
	CHECK(ok);
	CHECK(t.rearm == 0 && loop_run_once(l, 0) == 0 && nfired == 4);
	/* A timer armed by a timer, due earlier than a pending one. */
	memset(&t, 0, sizeof t);
	t.label = 8;
	t.rearm = 1;
	CHECK(loop_timer(l, 10, on_timer, &t) != 0);
	CHECK(fire_all(l, 6));
	CHECK(fired[4] == 8 && fired[5] == 8);
	loop_free(l);
}

/* Many timers, with random deadlines and every third cancelled. */
struct mtimer {
	int64_t due;
	int index;
	int fired;
};

static int64_t last_due;
static int last_index, many_fired, many_bad;

static void
on_many(struct loop *l, uint64_t id, void *ctx)
{
	struct mtimer *m = ctx;

	(void)id;
	if (m->due < last_due ||
	    (m->due == last_due && m->index < last_index) ||
	    loop_now(l) < m->due || m->fired)
		many_bad++;
	last_due = m->due;
	last_index = m->index;
	m->fired = 1;
	many_fired++;
}

static void
test_many_timers(void)
{
	enum { NT = 20000 };
	struct loop *l = new_loop(0);
	struct mtimer *m = calloc(NT, sizeof *m);
	uint64_t *id = calloc(NT, sizeof *id);
	int i, ok = 1, cancelled = 0;
	int64_t base;

	CHECK(l != NULL && m != NULL && id != NULL);
	if (l == NULL || m == NULL || id == NULL)
		goto out;
	base = loop_now(l);
	for (i = 0; i < NT; i++) {
		int64_t ms = (int64_t)((unsigned)i * 7919u % 40u);

		m[i].index = i;
		id[i] = loop_timer(l, ms, on_many, &m[i]);
		/* Armed outside the loop: counted from the clock. */
		m[i].due = loop_now(l) + ms;
		ok &= id[i] != 0 && loop_now(l) >= base;
	}
	CHECK(ok);
	for (i = 0; i < NT; i += 3) {
		ok &= loop_cancel(l, id[i]) == 1;
		cancelled++;
	}
	CHECK(ok);
	last_due = INT64_MIN;
	last_index = -1;
	many_fired = many_bad = 0;
	for (i = 0; i < ROUNDS && many_fired < NT - cancelled; i++)
		ok &= loop_run_once(l, WAIT_MS) >= 0;
	CHECK(many_fired == NT - cancelled && many_bad == 0);
	for (i = 0, ok = 1; i < NT; i++)
		ok &= m[i].fired == (i % 3 != 0);
	CHECK(ok);
out:
	free(m);
	free(id);
	loop_free(l);
}

/* Signals. */
static volatile sig_atomic_t prev_hits;
static volatile sig_atomic_t usr2_hits;

static void
prev_handler(int signo)
{
	(void)signo;
	prev_hits++;
}

static void
usr2_handler(int signo)
{
	(void)signo;
	usr2_hits++;
}

struct sseen {
	int calls;
	int signo;
	int stop;
};

static void
on_sig(struct loop *l, int signo, void *ctx)
{
	struct sseen *s = ctx;

	s->calls++;
	s->signo = signo;
	if (s->stop)
		loop_stop(l);
}

static void
test_signals(void)
{
	struct sigaction saved1, saved2, sa, now;
	struct loop *l = new_loop(4), *other = new_loop(4);
	struct sseen s = { 0, 0, 0 }, s2 = { 0, 0, 0 };
	int i;

	sigaction(SIGUSR1, NULL, &saved1);
	sigaction(SIGUSR2, NULL, &saved2);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = prev_handler;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	sa.sa_handler = SIG_DFL;
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);

	CHECK(loop_signal(l, SIGUSR1, on_sig, &s) == 0);
	prev_hits = 0;
	raise(SIGUSR1);
	/* The handler ran inside raise(); the callback waits for the loop. */
	CHECK(s.calls == 0 && prev_hits == 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1);
	CHECK(s.calls == 1 && s.signo == SIGUSR1);
	CHECK(loop_run_once(l, 10) == 0 && s.calls == 1);

	/*
	 * More signals than the pipe holds: the handler must not block on
	 * it (non-blocking pipe), and they merge into one call.
	 */
	for (i = 0; i < 70000; i++)
		raise(SIGUSR1);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && s.calls == 2);
	CHECK(loop_run_once(l, 10) == 0 && s.calls == 2);

	/* Bad numbers, and a second loop, are refused. */
	errno = 0;
	CHECK(loop_signal(l, 0, on_sig, &s) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(loop_signal(l, 10000, on_sig, &s) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(loop_signal(l, SIGKILL, on_sig, &s) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(loop_signal(other, SIGUSR2, on_sig, &s2) == -1 &&
	    errno == EBUSY);

	/* Two signals in one round; then taking one back. */
	CHECK(loop_signal(l, SIGUSR2, on_sig, &s2) == 0);
	raise(SIGUSR2);
	raise(SIGUSR1);
	CHECK(loop_run_once(l, WAIT_MS) == 2 && s.calls == 3 && s2.calls == 1);
	/* Each is called for its own signal only. */
	raise(SIGUSR2);
	CHECK(loop_run_once(l, WAIT_MS) == 1 && s.calls == 3 && s2.calls == 2);
	CHECK(loop_signal(l, SIGUSR2, NULL, NULL) == 0);
	CHECK(sigaction(SIGUSR2, NULL, &now) == 0 && now.sa_handler == SIG_DFL);

	/* loop_run() with only signals to wait for, stopped by one. */
	s.stop = 1;
	raise(SIGUSR1);
	CHECK(loop_run(l) == 0 && s.calls == 4);

	/* loop_free puts the old handler back. */
	loop_free(l);
	CHECK(sigaction(SIGUSR1, NULL, &now) == 0 &&
	    now.sa_handler == prev_handler);
	raise(SIGUSR1);
	CHECK(prev_hits == 1);
	/* And the signals are free for another loop. */
	CHECK(loop_signal(other, SIGUSR2, on_sig, &s2) == 0);
	loop_free(other);
	CHECK(sigaction(SIGUSR2, NULL, &now) == 0 && now.sa_handler == SIG_DFL);
	sigaction(SIGUSR1, &saved1, NULL);
	sigaction(SIGUSR2, &saved2, NULL);
}

/* A signal that is not the loop's interrupts poll: "not now". */
static void
test_eintr(void)
{
	struct sigaction saved, sa;
	struct loop *l = new_loop(4);
	int i, rc = 0, status;
	int64_t start;
	pid_t pid;

	sigaction(SIGUSR2, NULL, &saved);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = usr2_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	usr2_hits = 0;
	start = loop_now(l);
	pid = fork();
	if (pid == 0) {
		poll(NULL, 0, 50);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	CHECK(pid > 0);
	for (i = 0; i < 5 && usr2_hits == 0 && rc >= 0; i++)
		rc = loop_run_once(l, 3000);
	CHECK(rc == 0 && usr2_hits == 1);
	CHECK(loop_now(l) - start < 3000 * 5);
	CHECK(waitpid(pid, &status, 0) == pid);
	sigaction(SIGUSR2, &saved, NULL);
	loop_free(l);
}

static void
on_stop_timer(struct loop *l, uint64_t id, void *ctx)
{
	int *ticks = ctx;

	(void)id;
	if (++*ticks < 5)
		loop_timer(l, 2, on_stop_timer, ticks);
	else
		loop_stop(l);
}

static int nested_once, nested_run, nested_errno;

static void
on_nested(struct loop *l, uint64_t id, void *ctx)
{
	(void)id;
	(void)ctx;
	nested_once = loop_run_once(l, 0);
	nested_errno = errno;
	nested_run = loop_run(l);
}

static void
test_run_stop(void)
{
	struct loop *l = new_loop(4);
	struct seen s = { 0, -1, 0 };
	struct tctx t;
	int p[2], ticks = 0;

	memset(&t, 0, sizeof t);
	/* Nothing to wait for: loop_run returns at once. */
	CHECK(loop_run(l) == 0);
	/* A stop asked for beforehand: no rounds at all. */
	nfired = 0;
	CHECK(loop_timer(l, 0, on_timer, &t) != 0);
	loop_stop(l);
	CHECK(loop_run(l) == 0 && nfired == 0);
	/* Only timers: it runs until they are all done. */
	CHECK(loop_run(l) == 0 && nfired == 1);

	/* An fd that never becomes ready, and a timer chain that stops. */
	CHECK(nb_pipe(p) == 0);
	CHECK(loop_add(l, p[0], LOOP_IN, on_fd, &s) == 0);
	CHECK(loop_timer(l, 2, on_stop_timer, &ticks) != 0);
	CHECK(loop_run(l) == 0 && ticks == 5 && s.calls == 0);

	/* A callback may not run the loop inside the loop. */
	CHECK(loop_timer(l, 0, on_nested, NULL) != 0);
	CHECK(loop_run_once(l, WAIT_MS) == 1);
	CHECK(nested_once == -1 && nested_errno == EBUSY && nested_run == -1);
	loop_free(l);
	close_pipe(p);
}

static void
run_all(void)
{
	/* The last resort should loop_run() hang: die rather than wait. */
	alarm(60);
	test_ready();
	test_socketpair();
	test_want();
	test_full_pipe();
	test_del_pending();
	test_reuse_in_round();
	test_compact_in_round();
	test_many_fds();
	test_capacity();
	test_hangup();
	test_closed_later();
	test_parked_hangup();
	test_churn();
	test_always_ready();
	test_crowd();
	test_timer_order();
	test_timer_timeout();
	test_timer_cancel();
	test_timer_from_timer();
	test_many_timers();
	test_signals();
	test_eintr();
	test_run_stop();
}

void
suite_loop(void)
{
	unsigned left = alarm(0);

	test_flags();
	loop_flags = 0;
	run_all();
	loop_flags = LOOP_POLL;
	run_all();
	loop_flags = 0;
	alarm(left);
}
