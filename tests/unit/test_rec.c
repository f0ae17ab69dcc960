#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/rec.h"
#include "unit.h"

/* A reader on a pipe fed by a child with the n bytes of s. */
static int
feed(const char *s, size_t n, pid_t *pid)
{
	int fds[2];

	if (pipe(fds) != 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		size_t off = 0;

		close(fds[0]);
		/* Dribble, so that records cross reads. */
		while (off < n) {
			size_t k = n - off < 7 ? n - off : 7;

			if (write(fds[1], s + off, k) != (ssize_t)k)
				_exit(1);
			off += k;
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

void
suite_rec(void)
{
	struct rec r;
	const char *p;
	size_t n;
	pid_t pid;
	int fd, st;
	char *big;

	fd = feed("one\n\nthree\nlast", 15, &pid);
	rec_init(&r, fd, '\n', 100);
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 3 && !memcmp(p, "one", 3));
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 0);
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 5 &&
	    !memcmp(p, "three", 5));
	/* The last record has no newline and is still a record. */
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 4 &&
	    !memcmp(p, "last", 4));
	CHECK(rec_next(&r, &p, &n) == REC_END && r.count == 4);
	CHECK(rec_next(&r, &p, &n) == REC_END);
	rec_free(&r);
	close(fd);
	waitpid(pid, &st, 0);

	fd = feed("a\0b\0", 4, &pid);
	rec_init(&r, fd, '\0', 100);
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 1 && p[0] == 'a');
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 1 && p[0] == 'b');
	CHECK(rec_next(&r, &p, &n) == REC_END);
	rec_free(&r);
	close(fd);
	waitpid(pid, &st, 0);

	/* A record of exactly max is fine; one byte more is not. */
	big = malloc(40);
	memset(big, 'x', 40);
	big[10] = '\n';
	big[22] = '\n';
	fd = feed(big, 40, &pid);
	rec_init(&r, fd, '\n', 11);
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 10);
	CHECK(rec_next(&r, &p, &n) == REC_OK && n == 11);
	CHECK(rec_next(&r, &p, &n) == REC_LONG && r.count == 2);
	rec_free(&r);
	close(fd);
	waitpid(pid, &st, 0);
	free(big);

	/* Empty input has no records; a bad descriptor is an error. */
	fd = feed("", 0, &pid);
	rec_init(&r, fd, '\n', 10);
	CHECK(rec_next(&r, &p, &n) == REC_END && r.count == 0);
	rec_free(&r);
	close(fd);
	waitpid(pid, &st, 0);
	rec_init(&r, -1, '\n', 10);
	CHECK(rec_next(&r, &p, &n) == REC_SYS);
	rec_free(&r);
}
