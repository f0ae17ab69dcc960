/*
 * child: run "sh -c command" with its standard input, output and error on
 * pipes, so that a program can hand it bytes and collect its answer
 * without ever blocking on one pipe while another fills.
 *
 * child_spawn() starts the command and returns the parent's ends of the
 * pipes, non-blocking and close-on-exec, for a caller that has its own
 * poll loop (the hub).  child_run() is the whole exchange for a caller
 * that serves one message at a time (dsrecv -e): write the input, read
 * both outputs up to their buffers' limits, wait for the exit, and kill
 * the child if it outlives a timeout.
 *
 * A command of plain words ("sleep 0.5", "./job.sh -v") is run without
 * the shell in between, which halves the cost of starting a short job;
 * it behaves as "sh -c command" would (see spawn() in child.c).
 *
 * A child may exit without reading all its input, so a caller must ignore
 * SIGPIPE (and so see EPIPE) before it hands a child anything.
 */
#ifndef DS_CHILD_H
#define DS_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct child {
	pid_t pid;
	int in;     /* write end of the child's stdin, or -1 */
	int out;    /* read end of its stdout, or -1 */
	int err;    /* read end of its stderr, or -1 */
};

/*
 * Start sh -c cmd with envp as its environment.  Returns 0, or -1 with
 * errno set and nothing left open.
 */
int child_spawn(struct child *c, const char *cmd, char *const envp[]);

/*
 * The same, but the child leads a new process group of its own (its
 * group id is its pid), so that kill(-pid, sig) reaches whatever it
 * starts too, such as a "sleep" that would hold its pipes open.  The
 * runner spawns this way.
 */
int child_spawn_group(struct child *c, const char *cmd, char *const envp[]);

struct child_result {
	int status;         /* exit status, or 128 + signal number */
	int signaled;       /* it died of a signal (signal = status - 128) */
	int timed_out;      /* we killed it at the deadline */
	int out_overflow;   /* stdout passed its buffer's limit */
	int err_overflow;   /* stderr passed its buffer's limit */
};

/*
 * Run cmd with in[0..inlen) on its stdin, collecting stdout into out and
 * stderr into err.  Output past a buffer's limit is read and discarded
 * and flagged.  timeout_ms < 0 means no deadline; with one, the child
 * runs in a process group of its own, all of which is killed at the
 * deadline.  Returns 0 with r filled, or -1 with errno when the child
 * could not be run at all.  A child that closes its stdin early is not an
 * error: what it did not read is dropped.
 */
int child_run(const char *cmd, char *const envp[], const void *in,
    size_t inlen, int timeout_ms, struct buf *out, struct buf *err,
    struct child_result *r);

/* Fill r from a waitpid(2) status. */
void child_decode_status(int wstatus, struct child_result *r);

#endif
