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
	struct iovec iov[3];
	struct buf b;
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

	/* writev of a queue plus extra pieces, in order. */
	CHECK(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		buf_init(&b, N);
		buf_append_str(&b, "head:");
		iov[0].iov_base = out;
		iov[0].iov_len = N / 2;
		iov[1].iov_base = "";
		iov[1].iov_len = 0;
		iov[2].iov_base = ":tail";
		iov[2].iov_len = 5;
		_exit(io_flush(fds[1], &b, iov, 3) == 0 && buf_len(&b) == 0 ?
		    0 : 1);
	}
	close(fds[1]);
	CHECK(io_read_full(fds[0], in, N) == 5 + N / 2 + 5);
	CHECK(memcmp(in, "head:", 5) == 0 && memcmp(in + 5, out, N / 2) == 0 &&
	    memcmp(in + 5 + N / 2, ":tail", 5) == 0);
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
