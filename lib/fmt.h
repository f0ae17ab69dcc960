/*
 * fmt: print a message by a format, in the spirit of mosquitto_sub -F.
 *
 *   %f %t %i %r   from, to, id, re (percent-decoded; absent prints nothing)
 *   %T            type, "msg" when absent
 *   %l            body length        %b   body, as received
 *   %h            header line without its LF
 *   %{key}        any field, decoded %%  a percent sign
 *   \n \t \0 \\   newline, tab, NUL, backslash
 *
 * Check a format once with fmt_check() before any input, so that a typo
 * is a usage error and not a failure halfway through a stream; then
 * fmt_render() queues each message's rendering on an output queue, with
 * a large body borrowed rather than copied (see outq in io.h).
 */
#ifndef DS_FMT_H
#define DS_FMT_H

#include <stddef.h>

#include "io.h"
#include "proto.h"

/* 0 if format is good, else -1 with a one-line reason in err. */
int fmt_check(const char *format, char *err, size_t errlen);

/* Queue m rendered by a checked format.  0, or -1 with errno. */
int fmt_render(struct outq *q, const char *format,
    const struct proto_msg *m);

#endif
