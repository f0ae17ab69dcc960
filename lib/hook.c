/*
 * hook: one command per event, in order, beside a loop; see hook.h.
 *
 * The queue is a ring of environment blocks, each the pushed variables
 * joined with NULs; the run at its head starts from a zero timer rather
 * than inside hook_push(), so that pushing from another module's callback
 * never re-enters it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hook.h"
#include "runner.h"

#define VARS_MAX 16

extern char **environ;

struct pending {
	char *block;      /* n NUL-terminated "KEY=VALUE" strings */
	size_t n;
};

struct hook {
	struct loop *l;
	struct runner *r;
	char *cmd;
	int timeout_ms;
	hook_log_fn *log;
	void *ctx;
	struct pending *q;
	size_t cap, head, count;
	int running, dropping;
	uint64_t timer, runs, dropped;
};

static void start_next(struct loop *l, uint64_t id, void *ctx);

static void
say(struct hook *h, const char *line)
{
	if (h->log != NULL)
		h->log(h->ctx, line);
}

static void
arm(struct hook *h)
{
	if (h->timer == 0 && !h->running && h->count > 0)
		h->timer = loop_timer(h->l, 0, start_next, h);
}

static void
done(void *ctx, const struct child_result *res, struct buf *out,
    struct buf *err)
{
	struct hook *h = ctx;
	const char *p = buf_head(err), *end = p + buf_len(err);
	char line[600], shown[512];

	(void)out;
	while (p != NULL && p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);

		say(h, err_printable(shown, sizeof shown, p, n));
		p += n + 1;
	}
	if (res->timed_out) {
		snprintf(line, sizeof line, "killed after %d ms",
		    h->timeout_ms);
		say(h, line);
	}
	h->running = 0;
	arm(h);
}

/* environ, less the variables e sets, then e's. */
static char **
environment(const struct pending *e)
{
	size_t n = 0, i, k, o = 0;
	char **envp;
	const char *v;

	while (environ[n] != NULL)
		n++;
	envp = calloc(n + e->n + 1, sizeof *envp);
	if (envp == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq != NULL ? (size_t)(eq - environ[i]) :
		    strlen(environ[i]);
		int shadowed = 0;

		for (k = 0, v = e->block; k < e->n; k++, v += strlen(v) + 1)
			if (strncmp(v, environ[i], klen) == 0 &&
			    v[klen] == '=')
				shadowed = 1;
		if (!shadowed)
			envp[o++] = environ[i];
	}
	for (k = 0, v = e->block; k < e->n; k++, v += strlen(v) + 1)
		envp[o++] = (char *)v;
	envp[o] = NULL;
	return envp;
}

static void
start_next(struct loop *l, uint64_t id, void *ctx)
{
	struct hook *h = ctx;
	char line[300];

	(void)l;
	(void)id;
	h->timer = 0;
	while (!h->running && h->count > 0) {
		struct pending e = h->q[h->head];
		char **envp;

		h->head = (h->head + 1) % h->cap;
		h->count--;
		envp = environment(&e);
		h->runs++;
		if (envp == NULL || runner_start(h->r, h->cmd, envp, NULL, 0,
		    h->timeout_ms, 0, 64 * 1024, done, h) < 0) {
			snprintf(line, sizeof line, "cannot run the command: "
			    "%s", strerror(envp == NULL ? ENOMEM : errno));
			say(h, line);
		} else {
			h->running = 1;
		}
		free(envp);
		free(e.block);
	}
	if (h->count == 0)
		h->dropping = 0;
}

struct hook *
hook_new(struct loop *l, const char *cmd, size_t max_queue, int timeout_ms,
    hook_log_fn *log, void *ctx)
{
	struct hook *h;

	if (cmd == NULL || max_queue == 0) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof *h);
	if (h == NULL)
		return NULL;
	h->l = l;
	h->cap = max_queue;
	h->timeout_ms = timeout_ms;
	h->log = log;
	h->ctx = ctx;
	h->q = calloc(max_queue, sizeof *h->q);
	h->cmd = strdup(cmd);
	if (h->q == NULL || h->cmd == NULL ||
	    (h->r = runner_new(l, 1)) == NULL) {
		int e = errno;

		free(h->q);
		free(h->cmd);
		free(h);
		errno = e;
		return NULL;
	}
	return h;
}

void
hook_free(struct hook *h)
{
	if (h == NULL)
		return;
	if (h->timer != 0)
		loop_cancel(h->l, h->timer);
	runner_free(h->r);
	while (h->count > 0) {
		free(h->q[h->head].block);
		h->head = (h->head + 1) % h->cap;
		h->count--;
	}
	free(h->q);
	free(h->cmd);
	free(h);
}

int
hook_push(struct hook *h, const char *const *vars, size_t n)
{
	struct pending *e;
	size_t i, len = 0, o = 0;
	char line[120];

	if (n > VARS_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strchr(vars[i], '=') == NULL || vars[i][0] == '=') {
			errno = EINVAL;
			return -1;
		}
		len += strlen(vars[i]) + 1;
	}
	if (h->count == h->cap) {
		h->dropped++;
		if (!h->dropping) {
			snprintf(line, sizeof line, "%zu events wait already: "
			    "dropping events", h->cap);
			say(h, line);
		}
		h->dropping = 1;
		errno = ENOBUFS;
		return -1;
	}
	e = &h->q[(h->head + h->count) % h->cap];
	e->block = malloc(len > 0 ? len : 1);
	if (e->block == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		size_t k = strlen(vars[i]) + 1;

		memcpy(e->block + o, vars[i], k);
		o += k;
	}
	e->n = n;
	h->count++;
	arm(h);
	return 0;
}

uint64_t
hook_runs(const struct hook *h)
{
	return h->runs;
}

uint64_t
hook_dropped(const struct hook *h)
{
	return h->dropped;
}
