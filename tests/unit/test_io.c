#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/io.h"
#include "unit.h"

void
suite_io(void)
{
	enum { N = 1 << 20 };
	char *out = malloc(N), *in = malloc(N + 1);
	int fds[2], i;
	pid_t pid;

	for (i = 0; i < N; i++)
		out[i] = (char)(i * 7);
	/* A writer child and a reader that reads until end of file. */
	CHECK(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		/* Non-blocking on purpose: io must wait, not give up. */
		fcntl(fds[1], F_SETFL, O_NONBLOCK);
		_exit(io_write_all(fds[1], out, N) == 0 ? 0 : 1);
	}
	close(fds[1]);
	CHECK(io_read_full(fds[0], in, N + 1) == N);
	CHECK(memcmp(in, out, N) == 0);
	close(fds[0]);
	CHECK(waitpid(pid, &i, 0) == pid && WIFEXITED(i) &&
	    WEXITSTATUS(i) == 0);

	/*
	 * The output queue: copied and borrowed pieces come out in order,
	 * also when the copy buffer moves between them and when the pieces
	 * outnumber one writev.
	 */
	CHECK(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		struct outq q;
		int k, ok = 1;

		close(fds[0]);
		outq_init(&q, fds[1]);
		ok &= outq_copy(&q, "head:", 5) == 0;
		ok &= outq_borrow(&q, out, N / 2) == 0;
		ok &= outq_borrow(&q, "", 0) == 0;
		/* Enough copying to move the copy buffer. */
		for (k = 0; k < 1000; k++)
			ok &= outq_copy(&q, "0123456789", 10) == 0;
		for (k = 0; k < 100; k++) {
			ok &= outq_borrow(&q, "B", 1) == 0;
			ok &= outq_copy(&q, "c", 1) == 0;
		}
		ok &= outq_pending(&q) > 0;
		ok &= outq_flush(&q) == 0 && outq_pending(&q) == 0;
		ok &= outq_flush(&q) == 0;
		outq_free(&q);
		_exit(ok ? 0 : 1);
	}
	close(fds[1]);
	CHECK(io_read_full(fds[0], in, N) == 5 + N / 2 + 10000 + 200);
	CHECK(memcmp(in, "head:", 5) == 0 && memcmp(in + 5, out, N / 2) == 0);
	CHECK(memcmp(in + 5 + N / 2, "0123456789", 10) == 0 &&
	    memcmp(in + 5 + N / 2 + 9990, "0123456789", 10) == 0);
	CHECK(memcmp(in + 5 + N / 2 + 10000, "BcBc", 4) == 0 &&
	    memcmp(in + 5 + N / 2 + 10000 + 196, "BcBc", 4) == 0);
	close(fds[0]);
	CHECK(waitpid(pid, &i, 0) == pid && WIFEXITED(i) &&
	    WEXITSTATUS(i) == 0);

	/* Errors come back as -1 with errno, never as a crash. */
	CHECK(io_write_all(-1, "x", 1) == -1);
	CHECK(io_read_some(-1, in, 1) == -1);
	CHECK(pipe(fds) == 0);
	io_grow_pipe(fds[1]);
	close(fds[1]);
	CHECK(io_read_some(fds[0], in, 10) == 0);
	close(fds[0]);
	free(out);
	free(in);
}
