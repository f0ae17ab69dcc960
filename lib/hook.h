/*
 * hook: run a command for each event, one run at a time and in the order
 * the events came, with the event in the command's environment, beside a
 * loop: dspeer -E, in the manner of serf's event handlers.
 *
 *   h = hook_new(loop, "sh command", 1024, 60000, log, ctx);
 *   const char *vars[] = { "DS_EVENT=join", "DS_PEER=b" };
 *   hook_push(h, vars, 2);          // from anywhere, callbacks included
 *
 * Each run is "sh -c command" with the program's environment plus the
 * variables pushed (which replace any of the same name), an empty
 * standard input and a deadline, after which its process group is
 * killed.  What it writes on its standard output is thrown away, since a
 * program's own output is its data; each line of its standard error goes
 * to the log callback, and so does a run that was killed, and the first
 * event dropped because max_queue events wait already (once until the
 * queue empties again).  It uses lib/runner, so a program has one hook
 * at most and no other runner.  Nothing here prints or exits.
 */
#ifndef DS_HOOK_H
#define DS_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct hook;

typedef void hook_log_fn(void *ctx, const char *line);

/* NULL with errno: EINVAL, ENOMEM, or runner_new's. */
struct hook *hook_new(struct loop *l, const char *cmd, size_t max_queue,
    int timeout_ms, hook_log_fn *log, void *ctx);
void hook_free(struct hook *h);

/*
 * Queue one run with n "KEY=VALUE" variables (copied).  0, or -1 with
 * errno: ENOBUFS when max_queue runs wait already (the event is counted
 * as dropped), EINVAL for a variable without '=', ENOMEM.
 */
int hook_push(struct hook *h, const char *const *vars, size_t n);

/* Runs started, and events dropped, so far. */
uint64_t hook_runs(const struct hook *h);
uint64_t hook_dropped(const struct hook *h);

#endif
