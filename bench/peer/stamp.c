/*
 * stamp: copy lines from stdin to stdout, each one prefixed with the
 * wall-clock time at which it was read, as seconds since the epoch with
 * nine decimals and a space: "1732456789.123456789 line".  bench/peer.sh
 * puts one behind each member's log, so that a membership change is timed
 * when the member writes it, and not to the second of the member's own
 * log format.  What is read is written out at once: nothing waits in a
 * buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char in[65536], out[65536 + 64];

static int
put(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
main(void)
{
	int bol = 1;

	for (;;) {
		struct timespec ts;
		char pre[48];
		size_t pl, o = 0;
		ssize_t r, i;

		r = read(0, in, sizeof in);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0;
		clock_gettime(CLOCK_REALTIME, &ts);
		pl = (size_t)snprintf(pre, sizeof pre, "%lld.%09ld ",
		    (long long)ts.tv_sec, ts.tv_nsec);
		for (i = 0; i < r; i++) {
			if (o + pl + 1 > sizeof out) {
				if (put(out, o) < 0)
					return 1;
				o = 0;
			}
			if (bol) {
				memcpy(out + o, pre, pl);
				o += pl;
			}
			out[o++] = in[i];
			bol = in[i] == '\n';
		}
		if (put(out, o) < 0)
			return 1;
	}
}
