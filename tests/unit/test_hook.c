#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/hook.h"
#include "../../lib/loop.h"
#include "unit.h"

static char logged[4096];

static void
log_line(void *ctx, const char *line)
{
	(void)ctx;
	strncat(logged, line, sizeof logged - strlen(logged) - 2);
	strcat(logged, "\n");
}

/* Run l until h has started want runs and none is left, for at most ms. */
static void
settle(struct loop *l, struct hook *h, uint64_t want, int ms)
{
	int64_t end = loop_now(l) + ms;

	while (loop_now(l) < end && hook_runs(h) < want)
		(void)loop_run_once(l, 10);
	/* And the last one's exit. */
	end = loop_now(l) + 500;
	while (loop_now(l) < end)
		(void)loop_run_once(l, 10);
}

static char *
slurp(const char *path)
{
	static char buf[1024];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f != NULL) {
		n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

void
suite_hook(void)
{
	char dir[] = "/tmp/ds-hook.XXXXXX", cmd[256], path[128];
	const char *a[] = { "EV=one", "HOME=/nowhere" };
	const char *b[] = { "EV=two" };
	const char *c[] = { "EV=three" };
	const char *bad[] = { "no-equals" };
	struct loop *l = loop_new(16);
	struct hook *h;

	CHECK(l != NULL && mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/out", dir);
	snprintf(cmd, sizeof cmd, "echo \"$EV $HOME\" >>%s; echo err $EV >&2; "
	    "echo to-stdout", path);
	h = hook_new(l, cmd, 2, 5000, log_line, NULL);
	CHECK(h != NULL);
	/* In order, one at a time, with the variables set and replacing. */
	CHECK(hook_push(h, a, 2) == 0);
	CHECK(hook_push(h, b, 1) == 0);
	/* A third waits beyond max_queue: dropped, said once. */
	CHECK(hook_push(h, c, 1) == -1 && errno == ENOBUFS);
	CHECK(hook_push(h, c, 1) == -1 && errno == ENOBUFS);
	CHECK(hook_dropped(h) == 2);
	CHECK(hook_push(h, bad, 1) == -1 && errno == EINVAL);
	settle(l, h, 2, 5000);
	CHECK(hook_runs(h) == 2);
	/* HOME replaced for the first run; the second has the program's. */
	CHECK(strncmp(slurp(path), "one /nowhere\ntwo ", 17) == 0);
	CHECK(strstr(logged, "2 events wait already: dropping events\n") !=
	    NULL);
	/* Said once for the two drops of one burst. */
	CHECK(strstr(strstr(logged, "dropping") + 1, "dropping") == NULL);
	CHECK(strstr(logged, "err one\n") != NULL &&
	    strstr(logged, "err two\n") > strstr(logged, "err one\n"));
	CHECK(strstr(logged, "to-stdout") == NULL);
	hook_free(h);

	logged[0] = '\0';
	h = hook_new(l, "sleep 5", 4, 100, log_line, NULL);
	CHECK(h != NULL);
	CHECK(hook_push(h, b, 1) == 0);
	settle(l, h, 1, 2000);
	CHECK(strstr(logged, "killed after 100 ms") != NULL);
	hook_free(h);
	CHECK(hook_new(l, NULL, 4, 100, NULL, NULL) == NULL && errno == EINVAL);
	loop_free(l);
	(void)unlink(path);
	(void)rmdir(dir);
}
