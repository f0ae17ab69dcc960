#include <stdlib.h>

#include "../../lib/child.h"
#include "unit.h"

extern char **environ;

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
