#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/loop.h"
#include "../../lib/super.h"
#include "unit.h"

struct seen {
	char log[8192];
	int starts;
	int rfd[8], wfd[8];     /* the last connection of each child */
	int refuse;             /* the start callback says no */
};

static void
log_line(void *ctx, const char *line)
{
	struct seen *s = ctx;

	strncat(s->log, line, sizeof s->log - strlen(s->log) - 2);
	strcat(s->log, "\n");
}

static int
on_start(void *ctx, size_t i, const char *label, int rfd, int wfd)
{
	struct seen *s = ctx;
	char line[64];

	snprintf(line, sizeof line, "start %s", label);
	log_line(s, line);
	s->starts++;
	if (s->refuse)
		return -1;
	if (i < 8) {
		if (s->rfd[i] >= 0)
			close(s->rfd[i]);
		if (s->wfd[i] >= 0)
			close(s->wfd[i]);
		s->rfd[i] = rfd;
		s->wfd[i] = wfd;
	}
	return 0;
}

static void
seen_init(struct seen *s)
{
	int i;

	memset(s, 0, sizeof *s);
	for (i = 0; i < 8; i++)
		s->rfd[i] = s->wfd[i] = -1;
}

static void
seen_close(struct seen *s, size_t i)
{
	if (s->rfd[i] >= 0)
		close(s->rfd[i]);
	if (s->wfd[i] >= 0)
		close(s->wfd[i]);
	s->rfd[i] = s->wfd[i] = -1;
}

/* Run l until cond holds or ms pass. */
#define RUN_UNTIL(l, ms, cond) do { \
	int64_t end_ = loop_now(l) + (ms); \
	while (!(cond) && loop_now(l) < end_) \
		(void)loop_run_once(l, 20); \
} while (0)

/* Count the lines of log that hold needle. */
static int
count(const char *log, const char *needle)
{
	int n = 0;

	while ((log = strstr(log, needle)) != NULL) {
		n++;
		log += strlen(needle);
	}
	return n;
}

static void
restarts_with_backoff(void)
{
	struct loop *l = loop_new(64);
	struct seen s;
	struct super *sup;

	seen_init(&s);
	sup = super_new(l, on_start, log_line, &s);
	CHECK(super_add(sup, "echo 'it broke' >&2; printf partial >&2; "
	    "exit 3") == 0);
	CHECK(s.starts == 1);
	/* Its stderr, a line at a time, and the end it came to. */
	RUN_UNTIL(l, 3000, strstr(s.log, "exited with status 3") != NULL);
	CHECK(strstr(s.log, "x1: it broke\n") != NULL);
	CHECK(strstr(s.log, "x1: partial\n") != NULL);
	/* Its connection is still ours: no restart until it is lost. */
	CHECK(s.starts == 1);
	super_lost(sup, 0);
	seen_close(&s, 0);
	CHECK(strstr(s.log, "x1: exited with status 3; starting again in "
	    "0.1 s") != NULL);
	/* The waits double: 0.1, 0.2, 0.4 s. */
	RUN_UNTIL(l, 3000, s.starts == 2);
	CHECK(s.starts == 2);
	RUN_UNTIL(l, 3000, count(s.log, "exited with status 3") == 2);
	super_lost(sup, 0);
	seen_close(&s, 0);
	CHECK(strstr(s.log, "starting again in 0.2 s") != NULL);
	RUN_UNTIL(l, 3000, s.starts == 3);
	RUN_UNTIL(l, 3000, count(s.log, "exited with status 3") == 3);
	super_lost(sup, 0);
	seen_close(&s, 0);
	CHECK(strstr(s.log, "starting again in 0.4 s") != NULL);
	CHECK(super_starts(sup) == 3);
	/* Stopped: the pending restart never comes. */
	super_stop(sup);
	(void)loop_run_once(l, 600);
	(void)loop_run_once(l, 100);
	CHECK(s.starts == 3);
	super_free(sup);
	loop_free(l);
}

static void
lost_connection_ends_it(void)
{
	struct loop *l = loop_new(64);
	struct seen s;
	struct super *sup;
	char b[64];
	ssize_t n;

	seen_init(&s);
	sup = super_new(l, on_start, log_line, &s);
	/* Its stdin and stdout are the connection. */
	CHECK(super_add(sup, "read x; echo got $x; exec sleep 30") == 0);
	CHECK(super_add(sup, "exec sleep 30") == 1);
	CHECK(strstr(s.log, "start x1\nstart x2\n") != NULL);
	CHECK(write(s.wfd[0], "hi\n", 3) == 3);
	RUN_UNTIL(l, 3000, read(s.rfd[0], b, sizeof b) > 0);
	CHECK(super_alive(sup) == 2);
	/* Lost: SIGTERM to its group, the sleep included, then a restart. */
	super_lost(sup, 0);
	seen_close(&s, 0);
	RUN_UNTIL(l, 3000, strstr(s.log, "x1: killed by signal 15") != NULL);
	CHECK(strstr(s.log, "x1: killed by signal 15; starting again in "
	    "0.1 s") != NULL);
	RUN_UNTIL(l, 3000, s.starts == 3);
	CHECK(s.starts == 3 && super_alive(sup) == 2);
	CHECK(write(s.wfd[0], "again\n", 6) == 6);
	memset(b, 0, sizeof b);
	n = 0;
	RUN_UNTIL(l, 3000, (n = read(s.rfd[0], b, sizeof b - 1)) > 0);
	CHECK(n > 0 && strcmp(b, "got again\n") == 0);
	/* Free kills and reaps what is left. */
	super_free(sup);
	seen_close(&s, 0);
	seen_close(&s, 1);
	loop_free(l);
}

static void
refused_start(void)
{
	struct loop *l = loop_new(64);
	struct seen s;
	struct super *sup;

	seen_init(&s);
	s.refuse = 1;
	sup = super_new(l, on_start, log_line, &s);
	CHECK(super_add(sup, "exec sleep 30") == 0);
	/* Not taken: it is ended and tried again later. */
	RUN_UNTIL(l, 3000, strstr(s.log, "starting again") != NULL);
	CHECK(strstr(s.log, "x1: killed by signal 15; starting again in "
	    "0.1 s") != NULL);
	super_free(sup);
	loop_free(l);
}

void
suite_super(void)
{
	signal(SIGPIPE, SIG_IGN);
	restarts_with_backoff();
	lost_connection_ends_it();
	refused_start();
}
