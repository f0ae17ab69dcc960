#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/io.h"
#include "../../lib/runner.h"
#include "unit.h"

extern char **environ;

/*
 * Deadlines that only a broken runner should meet, long enough for a
 * loaded machine and a sanitizer build: the tests wait for events, so a
 * good run takes a couple of seconds whatever these are.
 */
#define LONG_MS 30000   /* a child's timeout, where none is tested */
#define WAIT_MS 40000   /* how long a test waits for what it expects */

/* What one child's callback saw, kept past the callback. */
struct seen {
	int calls;
	struct child_result res;
	char *out, *err;
	size_t outlen, errlen;
	long long at;           /* io_now_ms() when it came */
};

static char *
copy_buf(const struct buf *b, size_t *len)
{
	char *p = malloc(buf_len(b) + 1);

	if (p == NULL)
		abort();
	if (buf_len(b) > 0)
		memcpy(p, buf_head(b), buf_len(b));
	p[buf_len(b)] = '\0';
	*len = buf_len(b);
	return p;
}

static void
on_done(void *ctx, const struct child_result *res, struct buf *out,
    struct buf *err)
{
	struct seen *s = ctx;

	s->calls++;
	s->res = *res;
	free(s->out);
	free(s->err);
	s->out = copy_buf(out, &s->outlen);
	s->err = copy_buf(err, &s->errlen);
	s->at = io_now_ms();
}

static void
seen_free(struct seen *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].out);
		free(s[i].err);
	}
	memset(s, 0, n * sizeof *s);
}

static int
total_calls(const struct seen *s, size_t n)
{
	int calls = 0;
	size_t i;

	for (i = 0; i < n; i++)
		calls += s[i].calls;
	return calls;
}

/* Run the loop until n callbacks have come, for at most ms.  1 if so. */
static int
run_until(struct loop *l, const struct seen *s, size_t n, long long ms)
{
	long long deadline = io_now_ms() + ms;

	while (total_calls(s, n) < (int)n) {
		long long left = deadline - io_now_ms();

		if (left <= 0)
			return 0;
		if (loop_run_once(l, (int)left) < 0)
			return 0;
	}
	return 1;
}

/* A few more rounds, to show that nothing else comes. */
static void
run_idle(struct loop *l, int rounds)
{
	while (rounds-- > 0)
		loop_run_once(l, 20);
}

/*
 * A witness: a pipe whose write end every child started while it is open
 * inherits, so that end of file on the read end means each of them, and
 * whatever they started, is gone.
 */
static void
witness_open(int w[2])
{
	if (pipe(w) < 0)
		abort();
	fcntl(w[0], F_SETFD, FD_CLOEXEC);
}

static int
witness_gone(int w[2], int ms)
{
	long long deadline = io_now_ms() + ms;
	char b[64];

	if (w[1] >= 0) {
		close(w[1]);
		w[1] = -1;
	}
	for (;;) {
		struct pollfd p;
		long long left = deadline - io_now_ms();

		if (left <= 0)
			return 0;
		p.fd = w[0];
		p.events = POLLIN;
		if (poll(&p, 1, (int)left) > 0) {
			ssize_t r = read(w[0], b, sizeof b);

			if (r == 0)
				return 1;
			if (r < 0 && errno != EINTR)
				return 0;
		}
	}
}

static void
witness_close(int w[2])
{
	if (w[0] >= 0)
		close(w[0]);
	if (w[1] >= 0)
		close(w[1]);
	w[0] = w[1] = -1;
}

/* Wait, running the loop, until path exists.  1 if it does. */
static int
wait_file(struct loop *l, const char *path, int ms)
{
	long long deadline = io_now_ms() + ms;
	struct stat st;

	while (stat(path, &st) < 0) {
		if (io_now_ms() >= deadline)
			return 0;
		loop_run_once(l, 20);
	}
	return 1;
}

static char *
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	static char dir[512];

	snprintf(dir, sizeof dir, "%s/ds-runner-XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	return dir;
}

static void
remove_tmpdir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		CHECK(!"rm -rf of the temporary directory");
}

/* Ends, status, stdin, stdout, stderr and their limits, all at once. */
static void
test_results(void)
{
	enum { N = 1 << 20, JOBS = 13 };
	struct loop *l = loop_new(64);
	struct runner *r = runner_new(l, 16);
	struct seen s[JOBS];
	char *big = malloc(N), *want = malloc(N);
	char *env[] = { "DS_TEST=yes", "PATH=/usr/bin:/bin", NULL };
	size_t i;

	memset(s, 0, sizeof s);
	CHECK(l != NULL && r != NULL && big != NULL && want != NULL);
	if (l == NULL || r == NULL || big == NULL || want == NULL)
		return;
	for (i = 0; i < N; i++)
		big[i] = (char)(i * 13 + (i >> 12));

	CHECK(runner_start(r, "cat", environ, "hello", 5, LONG_MS, 100, 100,
	    on_done, &s[0]) == 0);
	/* More than a pipe holds, in and out at once. */
	CHECK(runner_start(r, "cat", environ, big, N, LONG_MS, 2 * N, 100,
	    on_done, &s[1]) == 0);
	CHECK(runner_start(r, "exit 3", environ, "", 0, LONG_MS, 100, 100,
	    on_done, &s[2]) == 0);
	CHECK(runner_start(r, "kill -TERM $$", environ, "", 0, LONG_MS, 100, 100,
	    on_done, &s[3]) == 0);
	CHECK(runner_start(r, "echo out; echo oops >&2; exit 1", environ, "",
	    0, LONG_MS, 100, 100, on_done, &s[4]) == 0);
	CHECK(runner_start(r,
	    "head -c 10000 /dev/zero; head -c 5000 /dev/zero >&2", environ, "",
	    0, LONG_MS, 4096, 100, on_done, &s[5]) == 0);
	/* Exactly the limit is not an overflow. */
	CHECK(runner_start(r, "head -c 4096 /dev/zero", environ, "", 0, LONG_MS,
	    4096, 0, on_done, &s[6]) == 0);
	/* Children that never read a megabyte of input: EPIPE, no hang. */
	CHECK(runner_start(r, "true", environ, big, N, LONG_MS, 100, 100,
	    on_done, &s[7]) == 0);
	CHECK(runner_start(r, "exec 0<&-; sleep 0.1; exit 4", environ, big, N,
	    LONG_MS, 100, 100, on_done, &s[8]) == 0);
	/* No input: stdin is at end of file at once. */
	CHECK(runner_start(r, "cat; echo end", environ, NULL, 0, -1, 100, 100,
	    on_done, &s[9]) == 0);
	CHECK(runner_start(r, "printf %s \"$DS_TEST\"", env, "", 0, LONG_MS, 100,
	    100, on_done, &s[10]) == 0);
	/* Output with nowhere to keep it is still read, and flagged. */
	CHECK(runner_start(r, "echo x; echo y >&2", environ, "", 0, LONG_MS, 0,
	    0, on_done, &s[11]) == 0);
	/* A shell that cannot run its command. */
	CHECK(runner_start(r, "/nonexistent/command", environ, "", 0, LONG_MS,
	    100, 100, on_done, &s[12]) == 0);
	CHECK(runner_running(r) == JOBS);
	/* Nothing has been written yet, and the input was copied. */
	memcpy(want, big, N);
	memset(big, 'x', N);

	CHECK(run_until(l, s, JOBS, WAIT_MS));
	run_idle(l, 3);
	for (i = 0; i < JOBS; i++)
		CHECK(s[i].calls == 1);
	CHECK(runner_running(r) == 0);

	CHECK(s[0].res.status == 0 && !s[0].res.signaled &&
	    !s[0].res.timed_out);
	CHECK_MEM(s[0].out, s[0].outlen, "hello");
	CHECK(s[0].errlen == 0);

	CHECK(s[1].res.status == 0 && !s[1].res.out_overflow);
	CHECK(s[1].outlen == N && memcmp(s[1].out, want, N) == 0);

	CHECK(s[2].res.status == 3 && !s[2].res.signaled);

	CHECK(s[3].res.status == 128 + SIGTERM && s[3].res.signaled &&
	    !s[3].res.timed_out);

	CHECK(s[4].res.status == 1);
	CHECK_MEM(s[4].out, s[4].outlen, "out\n");
	CHECK_MEM(s[4].err, s[4].errlen, "oops\n");

	CHECK(s[5].res.status == 0 && s[5].res.out_overflow &&
	    s[5].res.err_overflow);
	CHECK(s[5].outlen == 4096 && s[5].errlen == 100);

	CHECK(s[6].res.status == 0 && !s[6].res.out_overflow &&
	    !s[6].res.err_overflow && s[6].outlen == 4096);

	CHECK(s[7].res.status == 0 && !s[7].res.timed_out);
	CHECK(s[8].res.status == 4 && !s[8].res.timed_out);

	CHECK_MEM(s[9].out, s[9].outlen, "end\n");

	CHECK_MEM(s[10].out, s[10].outlen, "yes");

	CHECK(s[11].res.status == 0 && s[11].outlen == 0 &&
	    s[11].errlen == 0 && s[11].res.out_overflow &&
	    s[11].res.err_overflow);

	CHECK(s[12].res.status == 127 && s[12].errlen > 0);

	seen_free(s, JOBS);
	runner_free(r);
	loop_free(l);
	free(big);
	free(want);
}

/* The deadline kills the child and all it started, and says so. */
static void
test_timeout(void)
{
	struct loop *l = loop_new(32);
	struct runner *r = runner_new(l, 4);
	struct seen s[3];
	int w[2];
	long long t0;

	memset(s, 0, sizeof s);
	CHECK(l != NULL && r != NULL);
	if (l == NULL || r == NULL)
		return;
	witness_open(w);
	t0 = io_now_ms();
	CHECK(runner_start(r, "sleep 100", environ, "", 0, 100, 100, 100,
	    on_done, &s[0]) == 0);
	/* The grandchild holds the pipes; only the group kill frees them. */
	CHECK(runner_start(r, "sleep 100 & wait", environ, "", 0, 100, 100,
	    100, on_done, &s[1]) == 0);
	/* In time: no kill. */
	CHECK(runner_start(r, "echo hi", environ, "", 0, LONG_MS, 100, 100,
	    on_done, &s[2]) == 0);
	close(w[1]);
	w[1] = -1;
	CHECK(run_until(l, s, 3, WAIT_MS));
	CHECK(s[0].res.timed_out && s[0].res.signaled &&
	    s[0].res.status == 128 + SIGKILL);
	CHECK(s[1].res.timed_out && s[1].res.signaled &&
	    s[1].res.status == 128 + SIGKILL);
	CHECK(s[0].at - t0 < 5000 && s[1].at - t0 < 5000);
	CHECK(!s[2].res.timed_out && s[2].res.status == 0);
	CHECK_MEM(s[2].out, s[2].outlen, "hi\n");
	/* Every sleep is gone, not just the shells. */
	CHECK(witness_gone(w, WAIT_MS));
	run_idle(l, 2);
	CHECK(total_calls(s, 3) == 3);
	witness_close(w);
	seen_free(s, 3);
	runner_free(r);
	loop_free(l);
}

/*
 * A child that exits while something it started keeps its output open
 * is reported after a short grace, with its own status.
 */
static void
test_grace(void)
{
	struct loop *l = loop_new(32);
	struct runner *r = runner_new(l, 4);
	struct seen s[2];
	long long t0;
	int i;

	memset(s, 0, sizeof s);
	CHECK(l != NULL && r != NULL);
	if (l == NULL || r == NULL)
		return;
	t0 = io_now_ms();
	CHECK(runner_start(r, "sleep 100 & echo $!; exit 5", environ, "", 0,
	    -1, 100, 100, on_done, &s[0]) == 0);
	/* The grace ends at the deadline, if that comes first. */
	CHECK(runner_start(r, "sleep 100 & echo $!", environ, "", 0, 300, 100,
	    100, on_done, &s[1]) == 0);
	CHECK(run_until(l, s, 2, WAIT_MS));
	CHECK(s[0].res.status == 5 && !s[0].res.timed_out);
	CHECK(s[0].at - t0 >= 900 && s[0].at - t0 < 8000);
	/*
	 * A machine slow enough to take 300 ms to start a shell meets the
	 * deadline instead, and the group kill takes the sleep.
	 */
	CHECK(s[1].res.timed_out || s[1].res.status == 0);
	for (i = 0; i < 2; i++) {
		long pid = s[i].out != NULL ? strtol(s[i].out, NULL, 10) : 0;

		CHECK(pid > 1 || (i == 1 && s[1].res.timed_out));
		/* Not ours to reap: init takes it. */
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
	}
	seen_free(s, 2);
	runner_free(r);
	loop_free(l);
}

/* All at once, up to the limit, and no more. */
static void
test_concurrent(void)
{
	enum { JOBS = 8 };
	struct loop *l = loop_new(64);
	struct runner *r = runner_new(l, JOBS);
	struct seen s[JOBS], extra;
	char *dir = make_tmpdir();
	char cmd[1024];
	size_t i;

	memset(s, 0, sizeof s);
	memset(&extra, 0, sizeof extra);
	CHECK(l != NULL && r != NULL);
	if (l == NULL || r == NULL)
		return;
	CHECK(!runner_full(r) && runner_running(r) == 0);
	/*
	 * Each child waits until all of them have started, so they can only
	 * all end if they all ran at the same time: no timing is measured.
	 */
	for (i = 0; i < JOBS; i++) {
		snprintf(cmd, sizeof cmd, "touch '%s/%zu'; "
		    "until [ $(ls '%s' | wc -l) -ge %d ]; do sleep 0.05; done",
		    dir, i, dir, JOBS);
		CHECK(runner_start(r, cmd, environ, "", 0, LONG_MS, 100, 100,
		    on_done, &s[i]) == 0);
		CHECK(runner_running(r) == i + 1);
	}
	CHECK(runner_full(r));
	errno = 0;
	CHECK(runner_start(r, "true", environ, "", 0, 1000, 100, 100, on_done,
	    &extra) == -1 && errno == EAGAIN);
	CHECK(runner_running(r) == JOBS);
	CHECK(run_until(l, s, JOBS, WAIT_MS));
	for (i = 0; i < JOBS; i++)
		CHECK(s[i].calls == 1 && s[i].res.status == 0 &&
		    !s[i].res.timed_out);
	CHECK(extra.calls == 0);
	CHECK(runner_running(r) == 0 && !runner_full(r));
	seen_free(s, JOBS);
	runner_free(r);
	loop_free(l);
	remove_tmpdir(dir);
}

/* A callback that starts the next job, and one that frees the runner. */
struct chain {
	struct runner *r;
	struct seen s[3];
	int next;
	int started;
};

static void
on_chain(void *ctx, const struct child_result *res, struct buf *out,
    struct buf *err)
{
	struct chain *c = ctx;
	char cmd[32];

	on_done(&c->s[c->next], res, out, err);
	if (++c->next < 3) {
		snprintf(cmd, sizeof cmd, "echo %d", c->next);
		if (runner_start(c->r, cmd, environ, "", 0, LONG_MS, 100, 100,
		    on_chain, c) == 0)
			c->started++;
	}
}

struct freer {
	struct runner **r;
	int calls;
};

static void
on_free_runner(void *ctx, const struct child_result *res, struct buf *out,
    struct buf *err)
{
	struct freer *f = ctx;

	(void)res;
	(void)out;
	(void)err;
	f->calls++;
	runner_free(*f->r);
	*f->r = NULL;
}

static void
test_callbacks(void)
{
	struct loop *l = loop_new(32);
	struct runner *r = runner_new(l, 2);
	struct chain c;
	struct freer f;
	struct seen s[2];
	int w[2], i;

	memset(&c, 0, sizeof c);
	memset(s, 0, sizeof s);
	CHECK(l != NULL && r != NULL);
	if (l == NULL || r == NULL)
		return;
	c.r = r;
	CHECK(runner_start(r, "echo 0", environ, "", 0, LONG_MS, 100, 100,
	    on_chain, &c) == 0);
	CHECK(run_until(l, c.s, 3, WAIT_MS));
	CHECK(c.started == 2);
	for (i = 0; i < 3; i++) {
		char want[16];

		snprintf(want, sizeof want, "%d\n", i);
		CHECK(c.s[i].calls == 1);
		CHECK(c.s[i].out != NULL && strcmp(c.s[i].out, want) == 0);
	}
	seen_free(c.s, 3);

	/* Freed from a callback while another child still runs. */
	witness_open(w);
	f.r = &r;
	f.calls = 0;
	CHECK(runner_start(r, "sleep 100 & wait", environ, "", 0, -1, 100, 100,
	    on_done, &s[0]) == 0);
	CHECK(runner_start(r, "true", environ, "", 0, LONG_MS, 100, 100,
	    on_free_runner, &f) == 0);
	close(w[1]);
	w[1] = -1;
	{
		long long deadline = io_now_ms() + WAIT_MS;

		while (f.calls == 0 && io_now_ms() < deadline)
			loop_run_once(l, 100);
	}
	CHECK(f.calls == 1 && r == NULL);
	CHECK(witness_gone(w, WAIT_MS));
	run_idle(l, 3);
	CHECK(s[0].calls == 0 && f.calls == 1);
	witness_close(w);
	seen_free(s, 2);
	if (r != NULL)
		runner_free(r);
	loop_free(l);
}

/* runner_free with children running, one of them still being fed. */
static void
test_free_running(void)
{
	enum { N = 1 << 20 };
	struct loop *l = loop_new(32);
	struct runner *r = runner_new(l, 8);
	struct seen s[4];
	char *dir = make_tmpdir();
	char cmd[1024], path[600];
	char *big = calloc(1, N);
	int w[2];

	memset(s, 0, sizeof s);
	CHECK(l != NULL && r != NULL && big != NULL);
	if (l == NULL || r == NULL || big == NULL)
		return;
	witness_open(w);
	snprintf(path, sizeof path, "%s/started", dir);
	snprintf(cmd, sizeof cmd, "sleep 100 & touch '%s'; wait", path);
	CHECK(runner_start(r, cmd, environ, "", 0, -1, 100, 100, on_done,
	    &s[0]) == 0);
	CHECK(runner_start(r, "sleep 100", environ, big, N, 60000, 100, 100,
	    on_done, &s[1]) == 0);
	CHECK(runner_start(r, "sleep 100", environ, "", 0, -1, 100, 100,
	    on_done, &s[2]) == 0);
	CHECK(runner_start(r, "exec sleep 100", environ, "", 0, -1, 100, 100,
	    on_done, &s[3]) == 0);
	close(w[1]);
	w[1] = -1;
	CHECK(wait_file(l, path, WAIT_MS));
	CHECK(runner_running(r) == 4);
	runner_free(r);
	CHECK(total_calls(s, 4) == 0);
	CHECK(witness_gone(w, WAIT_MS));
	/* SIGCHLD was given back: another runner may take it. */
	r = runner_new(l, 1);
	CHECK(r != NULL);
	runner_free(r);
	witness_close(w);
	loop_free(l);
	remove_tmpdir(dir);
	free(big);
}

static void
test_errors(void)
{
	struct loop *l = loop_new(2);
	struct runner *r;
	struct seen s[2];

	memset(s, 0, sizeof s);
	CHECK(l != NULL);
	if (l == NULL)
		return;
	errno = 0;
	CHECK(runner_new(l, 0) == NULL && errno == EINVAL);
	r = runner_new(l, 4);
	CHECK(r != NULL);
	if (r == NULL) {
		loop_free(l);
		return;
	}
	errno = 0;
	CHECK(runner_new(l, 4) == NULL && errno == EBUSY);
	/* Input takes a third fd, and the loop has room for two. */
	errno = 0;
	CHECK(runner_start(r, "cat", environ, "x", 1, 1000, 100, 100, on_done,
	    &s[0]) == -1 && errno == ENOSPC);
	CHECK(runner_running(r) == 0);
	/* Without input, two are enough. */
	CHECK(runner_start(r, "echo ok", environ, "", 0, LONG_MS, 100, 100,
	    on_done, &s[1]) == 0);
	CHECK(run_until(l, &s[1], 1, WAIT_MS));
	CHECK_MEM(s[1].out, s[1].outlen, "ok\n");
	CHECK(s[0].calls == 0);
	seen_free(s, 2);
	runner_free(r);
	loop_free(l);
}

void
suite_runner(void)
{
	test_results();
	test_timeout();
	test_grace();
	test_concurrent();
	test_callbacks();
	test_free_running();
	test_errors();
}
