#include "err.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "ds";
static void (*on_die)(void);

void
err_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	prog = slash ? slash + 1 : progname;
}

const char *
err_prog(void)
{
	return prog;
}

static void
vwarn(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);
	char line[1024];
	int len;

	/* Build the whole line first so that it reaches stderr in one write. */
	len = snprintf(line, sizeof line, "%s: ", prog);
	if (len < 0)
		return;
	vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':') {
		size_t used = strlen(line);
		snprintf(line + used, sizeof line - used, " %s", strerror(saved));
	}
	fprintf(stderr, "%s\n", line);
	errno = saved;
}

void
err_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
err_on_die(void (*fn)(void))
{
	on_die = fn;
}

void
err_die(int status, const char *fmt, ...)
{
	void (*fn)(void) = on_die;
	va_list ap;

	/* Clear it first: the hook itself may fail and come back here. */
	on_die = NULL;
	if (fn != NULL)
		fn();
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(status);
}

void
err_die_stdout(void)
{
	if (errno == EPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	err_die(DS_EXIT_SYS, "cannot write to standard output:");
}

char *
err_printable(char *dst, size_t dstsz, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;

		if (o + need + 4 > dstsz) {
			if (dstsz >= 4) {
				o = o > dstsz - 4 ? dstsz - 4 : o;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
