/*
 * err: diagnostics and the exit statuses shared by every ds program.
 *
 * A program calls err_init() once with its name.  Diagnostics are one line
 * on stderr that starts with that name.  A format that ends in ':' gets
 * ": strerror(errno)" appended, in the manner of sbase's eprintf.
 *
 * err_die() exits the process, so it is only for start-up and for
 * short-lived tools; a server loop reports with err_warn() and drops only
 * the client at fault.
 */
#ifndef DS_ERR_H
#define DS_ERR_H

#include <stddef.h>

enum {
	DS_EXIT_OK = 0,      /* success */
	DS_EXIT_DATA = 1,    /* bad data, a protocol error, or an error reply */
	DS_EXIT_USAGE = 2,   /* bad command line */
	DS_EXIT_SYS = 3,     /* system or network failure; a retry may help */
	DS_EXIT_TIMEOUT = 4  /* a deadline passed */
};

void err_init(const char *progname);
const char *err_prog(void);

#if defined(__GNUC__) || defined(__clang__)
#define DS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DS_NORETURN __attribute__((noreturn))
#else
#define DS_PRINTF(a, b)
#define DS_NORETURN
#endif

/*
 * Run fn once before err_die() exits, so that a tool can first write out
 * the good output it has queued.  It runs at most once, even if it dies.
 */
void err_on_die(void (*fn)(void));

void err_warn(const char *fmt, ...) DS_PRINTF(1, 2);
void err_die(int status, const char *fmt, ...) DS_PRINTF(2, 3) DS_NORETURN;

/*
 * A write to standard output failed (errno says why).  A closed pipe
 * ends the program as SIGPIPE would, quietly, as cat(1) does; anything
 * else is reported and exits with DS_EXIT_SYS.
 */
void err_die_stdout(void) DS_NORETURN;

/*
 * Copy at most n bytes of untrusted src into dst (of size dstsz) so that
 * the result is printable ASCII and NUL-terminated: control bytes, '\\'
 * and bytes >= 0x7f become \xHH.  A result that does not fit ends in "...".
 * Returns dst, so it can be used as a printf argument.
 */
char *err_printable(char *dst, size_t dstsz, const char *src, size_t n);

#endif
