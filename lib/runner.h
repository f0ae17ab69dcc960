/*
 * runner: handlers run beside a poll loop, never blocking it.
 *
 * The hub (dsd -e) and, later, dsrecv -P run "sh -c command" for each
 * message, many at a time.  runner_start() spawns one, then the loop
 * feeds it its input and collects its output and error through
 * non-blocking pipes; the runner reaps it through SIGCHLD and calls the
 * done callback exactly once, with the child_result and what the child
 * wrote.  A child that outlives its deadline is killed (SIGKILL to its
 * process group) and reported with timed_out set.
 *
 *   struct runner *r = runner_new(loop, 16);      // at most 16 at once
 *   runner_start(r, cmd, envp, body, len, 30000, out_max, err_max,
 *       on_done, ctx);
 *   ...
 *   static void on_done(void *ctx, const struct child_result *res,
 *       struct buf *out, struct buf *err) { ... }
 *
 * Each child is spawned with child_spawn_group(), so that it leads a
 * process group and the kill at the deadline reaches whatever it started
 * (a "sleep" holding its pipes, say).  The callback waits for the exit
 * and for end of file on both output pipes; if something the child left
 * behind keeps a pipe open, the runner waits at most a second more (and
 * never past the deadline), then closes the pipes and reports.
 *
 * The runner takes SIGCHLD through loop_signal(), so there is one runner
 * per process, and a program that uses it must not take SIGCHLD itself
 * nor reap with waitpid(-1), which would take the runner's children from
 * it.  It reaps only its own, so child_run() may still be used beside it.
 * The caller must ignore SIGPIPE: a child may exit without reading its
 * input.  Each child takes up to three of the loop's max_fds.  The input
 * is copied, so the caller's body may go away after runner_start()
 * returns.  Nothing here prints or exits.
 */
#ifndef DS_RUNNER_H
#define DS_RUNNER_H

#include <stddef.h>

#include "buf.h"
#include "child.h"
#include "loop.h"

struct runner;

/*
 * Called once per child, from the loop, after the child has exited and
 * both its output pipes are at end of file (or the grace period after
 * its exit has passed).  out and err belong to the runner and are freed
 * when the callback returns.  The callback may call runner_start() (to
 * start the next job, say) and even runner_free().
 */
typedef void runner_done_fn(void *ctx, const struct child_result *res,
    struct buf *out, struct buf *err);

/*
 * A runner on l for at most max_children at once.  NULL with errno:
 * EINVAL for max_children 0, EBUSY when a runner already exists or
 * another loop holds signals, ENOMEM.
 */
struct runner *runner_new(struct loop *l, size_t max_children);

/*
 * Kill (SIGKILL, to each child's process group) and reap every child
 * still running, without calling their callbacks, give SIGCHLD back and
 * free the runner.  Before loop_free(l).
 */
void runner_free(struct runner *r);

/*
 * Children started whose callback has not run yet (one that has exited
 * but is still in its grace period counts), and whether another may
 * start.
 */
size_t runner_running(const struct runner *r);
int runner_full(const struct runner *r);

/*
 * Start cmd with in[0..inlen) on its standard input.  timeout_ms < 0 means
 * no deadline.  Standard output beyond out_max bytes, and standard error
 * beyond err_max, is read and thrown away and flagged in the result
 * (out_overflow, err_overflow).  Input the child does not read is
 * dropped.  Returns 0, or -1 with errno: EAGAIN when the runner is full,
 * ENOSPC when the loop has no room for the pipes, EINVAL, or an error
 * from spawning; then no child is left behind and done is not called.
 */
int runner_start(struct runner *r, const char *cmd, char *const envp[],
    const void *in, size_t inlen, int timeout_ms, size_t out_max,
    size_t err_max, runner_done_fn *done, void *ctx);

#endif
