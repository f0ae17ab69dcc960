#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>

#include "../../lib/child.h"
#include "unit.h"

extern char **environ;

/* Run cmd with envp; its stdout in out, its stderr in err. */
static int
run_env(const char *cmd, char *const envp[], struct buf *out, struct buf *err,
    struct child_result *r)
{
	buf_clear(out);
	buf_clear(err);
	return child_run(cmd, envp, "", 0, -1, out, err, r);
}

static int
has(const struct buf *b, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i + n <= buf_len(b); i++)
		if (memcmp(buf_head(b) + i, s, n) == 0)
			return 1;
	return 0;
}

/* Plain words run without a shell, and act just as they did with one. */
static void
plain_commands(void)
{
	char path[] = "/tmp/ds-child-XXXXXX";
	char script[64], cmd[128];
	char *envp[] = { "PATH=/usr/bin:/bin", "DS_X=from%20envp", NULL };
	struct child_result r;
	struct buf out, err;
	int fd;

	buf_init(&out, 1 << 16);
	buf_init(&err, 1 << 16);
	/* The environment and PATH are envp's, not ours. */
	CHECK(run_env("env", envp, &out, &err, &r) == 0 && r.status == 0);
	CHECK(has(&out, "DS_X=from%20envp\n"));
	CHECK(run_env("  expr  2 + 3 ", envp, &out, &err, &r) == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out), "5\n");
	/* Words that mean something to sh still go to it. */
	CHECK(run_env("expr 2 '*' 3", envp, &out, &err, &r) == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out), "6\n");
	CHECK(run_env("X=1 env", envp, &out, &err, &r) == 0);
	CHECK(has(&out, "X=1\n"));
	CHECK(run_env("exit 4", envp, &out, &err, &r) == 0 && r.status == 4);
	CHECK(run_env("echo a$DS_X", envp, &out, &err, &r) == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out), "afrom%20envp\n");
	/* Not found: sh's own words and status. */
	CHECK(run_env("no-such-program-here x", envp, &out, &err, &r) == 0);
	CHECK(r.status == 127 && has(&err, "not found"));
	/* A script without #! is run by sh, as it always was. */
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, "echo script $1\n", 15) == 15);
	close(fd);
	chmod(path, 0700);
	snprintf(script, sizeof script, "%s", path);
	snprintf(cmd, sizeof cmd, "%s one", script);
	CHECK(run_env(cmd, envp, &out, &err, &r) == 0 && r.status == 0);
	CHECK_MEM(buf_head(&out), buf_len(&out), "script one\n");
	unlink(path);
	buf_free(&out);
	buf_free(&err);
}

void
suite_child(void)
{
	struct child_result r;
	struct buf out, err;
	enum { N = 1 << 20 };
	char *big = malloc(N);
	int i;

	for (i = 0; i < N; i++)
		big[i] = (char)(i * 13);
	buf_init(&out, 2 * N);
	buf_init(&err, 4096);
	plain_commands();

	CHECK(child_run("tr a-z A-Z; echo warn >&2", environ, "hello", 5, -1,
	    &out, &err, &r) == 0);
	CHECK(r.status == 0 && !r.signaled && !r.timed_out);
	CHECK_MEM(buf_head(&out), buf_len(&out), "HELLO");
	CHECK_MEM(buf_head(&err), buf_len(&err), "warn\n");

	/* A megabyte in and out at once: no deadlock between the pipes. */
	buf_clear(&out);
	buf_clear(&err);
	CHECK(child_run("cat", environ, big, N, -1, &out, &err, &r) == 0);
	CHECK(r.status == 0 && buf_len(&out) == N &&
	    memcmp(buf_head(&out), big, N) == 0);

	/* A child that reads nothing still gets a clean end. */
	buf_clear(&out);
	CHECK(child_run("exit 3", environ, big, N, -1, &out, &err, &r) == 0);
	CHECK(r.status == 3 && !r.signaled);

	buf_clear(&out);
	CHECK(child_run("kill -TERM $$", environ, "", 0, -1, &out, &err,
	    &r) == 0);
	CHECK(r.signaled && r.status == 128 + 15);

	/* Output beyond the buffer's limit is dropped and flagged. */
	buf_clear(&out);
	buf_clear(&err);
	CHECK(child_run("head -c 10000 /dev/zero >&2", environ, "", 0, -1,
	    &out, &err, &r) == 0);
	CHECK(r.status == 0 && r.err_overflow && buf_len(&err) == 4096);

	/* The deadline kills it. */
	buf_clear(&err);
	CHECK(child_run("sleep 5", environ, "", 0, 100, &out, &err, &r) == 0);
	CHECK(r.timed_out && r.signaled && r.status == 128 + 9);

	/* The environment given is the one it sees. */
	{
		char *env[] = { "DS_TEST=yes", "PATH=/usr/bin:/bin", NULL };

		buf_clear(&out);
		CHECK(child_run("printf %s \"$DS_TEST\"", env, "", 0, -1, &out,
		    &err, &r) == 0);
		CHECK_MEM(buf_head(&out), buf_len(&out), "yes");
	}
	buf_free(&out);
	buf_free(&err);
	free(big);
}
