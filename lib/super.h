/*
 * super: supervised children whose standard input and output are a
 * connection of the program (dsd -x workers), restarted when they end.
 *
 * Each command runs as "sh -c command" in a process group of its own,
 * with its stdin and stdout on pipes that super hands to the program's
 * start callback (the hub makes them a client connection) and its stderr
 * read here and passed on a line at a time, prefixed with the child's
 * label, x1, x2, ... in the order they were added.
 *
 * A child is over when it has exited and the program has said its
 * connection is gone (super_lost()).  Either one brings the other:
 * a lost connection gets the process group SIGTERM, and SIGKILL two
 * seconds later; a child that exits while its connection lingers (a
 * grandchild holding the pipes) gets its group SIGKILLed.  Then it
 * starts again after a wait that begins at SUPER_BACKOFF_MIN_MS and
 * doubles up to SUPER_BACKOFF_MAX_MS; a child that ran for at least
 * the longest wait starts the next round from the shortest.
 *
 * Children are reaped with waitpid() on their own pids from a timer, not
 * through SIGCHLD, so super lives beside a runner (which takes SIGCHLD).
 * Nothing here prints or exits.
 *
 *   struct super *s = super_new(loop, start, log, ctx);
 *   super_add(s, "ssh h1 dsrecv -c - -N work -e ./job.sh");
 *   ...
 *   super_lost(s, i);     // from the program, when connection i ends
 *   super_stop(s);        // at exit: no more restarts, SIGTERM to all
 *   super_free(s);        // SIGKILL and reap what is left
 */
#ifndef DS_SUPER_H
#define DS_SUPER_H

#include <stddef.h>
#include <sys/types.h>

#include "loop.h"

#define SUPER_BACKOFF_MIN_MS 100
#define SUPER_BACKOFF_MAX_MS 30000
#define SUPER_KILL_MS 2000          /* from SIGTERM to SIGKILL */
#define SUPER_LINE_MAX 1024         /* a stderr line longer is cut */

struct super;

/*
 * Child i (label "x<i+1>") has started: rfd reads its stdout, wfd writes
 * its stdin (both non-blocking, close-on-exec, now the program's to
 * close).  Return 0, or -1 when the program cannot take them (they are
 * closed then, and the child treated as lost).
 */
typedef int super_start_fn(void *ctx, size_t i, const char *label, int rfd,
    int wfd);
typedef void super_log_fn(void *ctx, const char *line);

struct super *super_new(struct loop *l, super_start_fn *start,
    super_log_fn *log, void *ctx);

/*
 * Add a command and start it now.  Returns its index, or -1 with errno
 * (its start is retried with backoff when only the spawn failed).
 */
long super_add(struct super *s, const char *cmd);

/* The connection of child i has ended. */
void super_lost(struct super *s, size_t i);

/* No more restarts; SIGTERM every child's group. */
void super_stop(struct super *s);

/* Children alive now, and starts so far (restarts included). */
size_t super_alive(const struct super *s);
unsigned long super_starts(const struct super *s);

/* SIGKILL every group, reap, free.  Before loop_free(). */
void super_free(struct super *s);

#endif
