/*
 * super: supervised children on their own connection (see super.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "err.h"
#include "super.h"

#define TICK_MS 100

extern char **environ;

struct worker {
	struct super *s;
	size_t i;
	char label[24];
	char *cmd;
	pid_t pid;            /* alive, not yet reaped; 0 when none */
	pid_t pgid;           /* its group, while anything may be left */
	int errfd;            /* its stderr, until end of file; -1 */
	int connected;        /* the program holds its connection */
	int64_t started, term_at;
	int backoff_ms;
	uint64_t restart_timer;
	char why[80];         /* how it ended, for the restart line */
	size_t nline;
	char line[SUPER_LINE_MAX + 1];
};

struct super {
	struct loop *l;
	super_start_fn *start;
	super_log_fn *log;
	void *ctx;
	struct worker **w;
	size_t n;
	uint64_t tick;
	int stopping;
	unsigned long starts;
};

static void say(struct super *s, const char *fmt, ...) DS_PRINTF(2, 3);

static void
say(struct super *s, const char *fmt, ...)
{
	char line[SUPER_LINE_MAX + 64];
	va_list ap;

	if (s->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->log(s->ctx, line);
}

static void arm(struct super *s);
static int spawn(struct worker *w);

/* Its standard error, a line at a time. */

static void
emit(struct worker *w)
{
	size_t n = w->nline;

	/* A line may end in CR LF: the CR is no part of it. */
	if (n > 0 && w->line[n - 1] == '\r')
		n--;
	w->line[n] = '\0';
	say(w->s, "%s: %s", w->label, w->line);
	w->nline = 0;
}

static void
close_err(struct worker *w)
{
	if (w->errfd < 0)
		return;
	if (w->nline > 0)
		emit(w);
	loop_del(w->s->l, w->errfd);
	close(w->errfd);
	w->errfd = -1;
}

static void
on_err(struct loop *l, int fd, unsigned ev, void *ctx)
{
	struct worker *w = ctx;
	char b[4096];
	ssize_t n, k;

	(void)l;
	(void)fd;
	(void)ev;
	n = read(w->errfd, b, sizeof b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		close_err(w);
		return;
	}
	for (k = 0; k < n; k++) {
		if (b[k] == '\n') {
			emit(w);
			continue;
		}
		if (w->nline == SUPER_LINE_MAX)
			emit(w);          /* cut, never dropped */
		w->line[w->nline++] = b[k];
	}
}

/* Starting and restarting. */

static void
on_restart(struct loop *l, uint64_t id, void *ctx)
{
	struct worker *w = ctx;

	(void)l;
	(void)id;
	w->restart_timer = 0;
	if (!w->s->stopping)
		(void)spawn(w);
}

/* Both halves are over: schedule the next start. */
static void
maybe_restart(struct worker *w)
{
	struct super *s = w->s;
	int64_t now = loop_now(s->l);
	int wait;

	if (w->pid != 0 || w->connected || s->stopping ||
	    w->restart_timer != 0)
		return;
	if (now - w->started >= SUPER_BACKOFF_MAX_MS)
		w->backoff_ms = SUPER_BACKOFF_MIN_MS;
	wait = w->backoff_ms;
	w->backoff_ms = wait >= SUPER_BACKOFF_MAX_MS / 2 ?
	    SUPER_BACKOFF_MAX_MS : wait * 2;
	say(s, "%s: %s; starting again in %d.%d s", w->label,
	    w->why[0] != '\0' ? w->why : "ended", wait / 1000,
	    wait % 1000 / 100);
	w->restart_timer = loop_timer(s->l, wait, on_restart, w);
}

static int
spawn(struct worker *w)
{
	struct super *s = w->s;
	struct child c;

	w->started = loop_now(s->l);
	w->why[0] = '\0';
	w->term_at = 0;
	close_err(w);
	if (child_spawn_group(&c, w->cmd, environ) == -1) {
		snprintf(w->why, sizeof w->why, "cannot start: %s",
		    strerror(errno));
		maybe_restart(w);
		return -1;
	}
	s->starts++;
	w->pid = w->pgid = c.pid;
	w->errfd = c.err;
	if (loop_add(s->l, c.err, LOOP_IN, on_err, w) == -1) {
		close(c.err);
		w->errfd = -1;
	}
	w->connected = 1;
	if (s->start(s->ctx, w->i, w->label, c.out, c.in) == -1) {
		close(c.out);
		close(c.in);
		super_lost(s, w->i);
	}
	arm(s);
	return 0;
}

/* Reaping, and the kill after the grace period. */

static void
reaped(struct worker *w, int status)
{
	if (WIFEXITED(status))
		snprintf(w->why, sizeof w->why, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(w->why, sizeof w->why, "killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(w->why, sizeof w->why, "ended");
	w->pid = 0;
	/* Whatever it left behind holding the pipes goes with it. */
	if (w->connected || w->errfd >= 0)
		(void)kill(-w->pgid, SIGKILL);
	maybe_restart(w);
}

static void
on_tick(struct loop *l, uint64_t id, void *ctx)
{
	struct super *s = ctx;
	int64_t now = loop_now(l);
	size_t i;

	(void)id;
	s->tick = 0;
	for (i = 0; i < s->n; i++) {
		struct worker *w = s->w[i];
		int status;
		pid_t r;

		if (w->pid == 0)
			continue;
		r = waitpid(w->pid, &status, WNOHANG);
		if (r == w->pid || (r == -1 && errno == ECHILD)) {
			reaped(w, r == w->pid ? status : 0);
			continue;
		}
		if (w->term_at != 0 && now - w->term_at >= SUPER_KILL_MS) {
			(void)kill(-w->pgid, SIGKILL);
			w->term_at = 0;
		}
	}
	arm(s);
}

/* Keep the tick while anything is alive. */
static void
arm(struct super *s)
{
	size_t i;

	if (s->tick != 0)
		return;
	for (i = 0; i < s->n; i++)
		if (s->w[i]->pid != 0) {
			s->tick = loop_timer(s->l, TICK_MS, on_tick, s);
			return;
		}
}

/* The public calls. */

struct super *
super_new(struct loop *l, super_start_fn *start, super_log_fn *log,
    void *ctx)
{
	struct super *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->l = l;
	s->start = start;
	s->log = log;
	s->ctx = ctx;
	return s;
}

long
super_add(struct super *s, const char *cmd)
{
	struct worker *w, **nw;

	if ((nw = realloc(s->w, (s->n + 1) * sizeof *nw)) == NULL)
		return -1;
	s->w = nw;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return -1;
	if ((w->cmd = strdup(cmd)) == NULL) {
		free(w);
		return -1;
	}
	w->s = s;
	w->i = s->n;
	w->errfd = -1;
	w->backoff_ms = SUPER_BACKOFF_MIN_MS;
	snprintf(w->label, sizeof w->label, "x%zu", s->n + 1);
	s->w[s->n++] = w;
	(void)spawn(w);
	return (long)w->i;
}

void
super_lost(struct super *s, size_t i)
{
	struct worker *w;

	if (i >= s->n)
		return;
	w = s->w[i];
	if (!w->connected)
		return;
	w->connected = 0;
	if (w->pid != 0) {
		(void)kill(-w->pgid, SIGTERM);
		w->term_at = loop_now(s->l);
		arm(s);
	} else {
		maybe_restart(w);
	}
}

void
super_stop(struct super *s)
{
	size_t i;

	s->stopping = 1;
	for (i = 0; i < s->n; i++) {
		struct worker *w = s->w[i];

		if (w->restart_timer != 0) {
			loop_cancel(s->l, w->restart_timer);
			w->restart_timer = 0;
		}
		if (w->pid != 0) {
			(void)kill(-w->pgid, SIGTERM);
			if (w->term_at == 0)
				w->term_at = loop_now(s->l);
		}
	}
}

size_t
super_alive(const struct super *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		n += s->w[i]->pid != 0;
	return n;
}

unsigned long
super_starts(const struct super *s)
{
	return s->starts;
}

void
super_free(struct super *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->tick != 0)
		loop_cancel(s->l, s->tick);
	for (i = 0; i < s->n; i++) {
		struct worker *w = s->w[i];

		if (w->restart_timer != 0)
			loop_cancel(s->l, w->restart_timer);
		if (w->pid != 0) {
			(void)kill(-w->pgid, SIGKILL);
			while (waitpid(w->pid, NULL, 0) == -1 && errno == EINTR)
				;
		}
		w->nline = 0;
		close_err(w);
		free(w->cmd);
		free(w);
	}
	free(s->w);
	free(s);
}
