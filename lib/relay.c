#include "relay.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* Reads per round of the pump, so that a busy hub cannot starve writes. */
#define READS_PER_ROUND 4

/*
 * Hand out every whole frame the client holds, reading first if the hub
 * may have sent more.  1: go on; 0: the hub closed; -1: an error.
 */
static int
take_frames(struct relay *r, int readable, char *err, size_t errlen)
{
	const struct proto_msg *m;
	int reads = 0, rc;

	for (;;) {
		ssize_t got;

		while (!r->stop && (rc = client_next(r->c, &m, err,
		    errlen)) != 0) {
			if (rc < 0)
				return -1;
			if (r->on_frame != NULL)
				r->on_frame(r->ctx, m);
		}
		if (r->stop)
			return 1;
		if (r->c->eof)
			return 0;
		if (!readable || reads++ == READS_PER_ROUND)
			return 1;
		got = client_read(r->c, err, errlen);
		if (got < 0)
			return errno == EAGAIN ? 1 : -1;
	}
}

/* Write what the connection takes now.  0, or -1 with errno and err. */
static int
write_some(struct relay *r, char *err, size_t errlen)
{
	if (client_pending(r->c) == 0 || client_write(r->c) == 0)
		return 0;
	snprintf(err, errlen, "cannot write to the hub at %s: %s",
	    r->c->addr, strerror(errno));
	return -1;
}

int
relay_pump(struct relay *r, int in_fd, size_t mark, int timeout_ms,
    char *err, size_t errlen)
{
	struct client *c = r->c;
	long long deadline = timeout_ms < 0 ? -1 : io_now_ms() + timeout_ms;
	int input = 0, hub_ready = 1;

	for (;;) {
		struct pollfd pf[3];
		int n = 0, i_in = -1, i_hub, wait, rc;
		size_t pending;

		/* Frames may wait in the client's buffer from before. */
		rc = take_frames(r, hub_ready, err, errlen);
		if (rc <= 0)
			return rc < 0 ? RELAY_ERR : RELAY_CLOSED;
		if (r->stop)
			return RELAY_STOP;
		if (write_some(r, err, errlen) < 0)
			return RELAY_ERR;
		pending = client_pending(c);
		if (input)
			return RELAY_INPUT;
		if (mark != RELAY_NO_MARK && pending <= mark)
			return RELAY_DRAINED;

		if (in_fd >= 0) {
			i_in = n;
			pf[n].fd = in_fd;
			pf[n++].events = POLLIN;
		}
		i_hub = n;
		pf[n].fd = client_fd_in(c);
		pf[n++].events = POLLIN;
		if (pending > 0) {
			/* One socket reads and writes; "-" has two fds. */
			if (client_fd_out(c) == client_fd_in(c)) {
				pf[i_hub].events |= POLLOUT;
			} else {
				pf[n].fd = client_fd_out(c);
				pf[n++].events = POLLOUT;
			}
		}
		if (r->on_idle != NULL)
			r->on_idle(r->ctx);
		wait = -1;
		if (deadline >= 0) {
			long long left = deadline - io_now_ms();

			if (left <= 0) {
				snprintf(err, errlen, "the hub at %s: timed "
				    "out", c->addr);
				errno = ETIMEDOUT;
				return RELAY_ERR;
			}
			wait = left > 60000 ? 60000 : (int)left;
		}
		pf[0].revents = pf[1].revents = pf[2].revents = 0;
		if (poll(pf, (nfds_t)n, wait) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return RELAY_ERR;
		}
		/* The hub goes first: the loop's top reads and writes. */
		hub_ready = (pf[i_hub].revents & ~POLLOUT) != 0;
		if (i_in >= 0 && pf[i_in].revents != 0)
			input = 1;
	}
}

int
relay_take(struct client *c, struct outq *q)
{
	size_t len = buf_len(&q->copy);
	int i;

	for (i = 0; i < q->n; i++) {
		const struct outq_piece *p = &q->piece[i];
		const char *at = p->p != NULL ? p->p :
		    buf_head(&q->copy) + p->off;

		if (p->len > 0 && client_send_raw(c, at, p->len) < 0)
			return -1;
	}
	/* Copied bytes after the last piece are not sealed into one yet. */
	if (len > q->mark && client_send_raw(c, buf_head(&q->copy) + q->mark,
	    len - q->mark) < 0)
		return -1;
	buf_clear(&q->copy);
	q->mark = 0;
	q->n = 0;
	q->borrowed = 0;
	return 0;
}

void
relay_backoff_init(struct relay_backoff *b, unsigned min_ms, unsigned max_ms)
{
	b->min_ms = min_ms > 0 ? min_ms : 1;
	b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
	b->step_ms = b->min_ms;
	/* Different processes, different draws; no need to be secret. */
	b->seed = (uint32_t)io_now_ms() ^ ((uint32_t)getpid() << 16) ^
	    0x9e3779b9u;
	if (b->seed == 0)
		b->seed = 1;
}

unsigned
relay_backoff_next(struct relay_backoff *b)
{
	unsigned step = b->step_ms, half = step / 2;
	uint32_t x = b->seed;

	/* xorshift32: enough to spread clients apart. */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	b->seed = x;
	b->step_ms = step > b->max_ms / 2 ? b->max_ms : step * 2;
	return step - half + (half > 0 ? x % (half + 1) : 0);
}

void
relay_backoff_reset(struct relay_backoff *b)
{
	b->step_ms = b->min_ms;
}

int
relay_sleep(unsigned ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	return nanosleep(&ts, NULL);
}
