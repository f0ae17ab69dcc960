/*
 * relay: a framer's traffic over a hub connection, for dssend -c and
 * dsrecv -c.
 *
 * A program that talks to a hub must read while it writes.  The hub
 * answers bad frames with err replies and sends pings; if nobody reads
 * them while we wait for the hub to take our frames, its queue towards
 * us fills and both sides wait for ever.  relay_pump() is the one
 * poll(2) loop for this: it writes what the client has queued whenever
 * the connection takes it, hands every whole frame the hub sends to a
 * callback, and returns as soon as the caller has something to do: its
 * input is readable, the client's queue has drained to a mark, the
 * callback asked to stop, the hub went away, or a deadline passed.
 *
 *   struct relay r = { &client, on_frame, on_idle, ctx, 0 };
 *   relay_take(&client, &framer_outq);          // frames made, to the hub
 *   rc = relay_pump(&r, input_fd, RELAY_NO_MARK, -1, err, sizeof err);
 *
 * relay_backoff_*() space out the attempts of a client that reconnects.
 * Nothing here prints or exits.
 */
#ifndef DS_RELAY_H
#define DS_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "io.h"

struct relay {
	struct client *c;
	client_frame_fn *on_frame;  /* each whole frame from the hub */
	void (*on_idle)(void *ctx); /* just before the pump waits, or NULL */
	void *ctx;
	int stop;                   /* on_frame sets it to end the pump */
};

enum {
	RELAY_ERR = -1,     /* errno and err say why; ETIMEDOUT: deadline */
	RELAY_CLOSED = 0,   /* the hub closed the connection between frames */
	RELAY_INPUT = 1,    /* the input fd is readable, or at end of file */
	RELAY_DRAINED = 2,  /* no more than the mark is queued for the hub */
	RELAY_STOP = 3      /* on_frame set stop */
};

/* A mark that is never reached: pump until input, stop or the end. */
#define RELAY_NO_MARK ((size_t)-1)

/*
 * Move the hub's frames and write the client's queue until one of the
 * RELAY_* events.  in_fd < 0: no input to watch.  timeout_ms < 0: no
 * deadline.  Frames that are already buffered are handed out before
 * anything waits, and on_idle (which may flush the caller's own output)
 * runs each time the pump is about to wait in poll(2).
 */
int relay_pump(struct relay *r, int in_fd, size_t mark, int timeout_ms,
    char *err, size_t errlen);

/*
 * Move every byte that q holds (whole frames, copied or borrowed) into
 * the client's queue, in order, and empty q, so that memory q borrowed
 * may be reused at once.  0, or -1 with errno when memory runs out.
 */
int relay_take(struct client *c, struct outq *q);

/*
 * Exponential backoff with jitter: each wait is drawn from the upper
 * half of the current step, which then doubles up to max_ms, so that
 * clients that lost one hub together do not come back in step.
 */
struct relay_backoff {
	unsigned min_ms, max_ms, step_ms;
	uint32_t seed;
};
void relay_backoff_init(struct relay_backoff *b, unsigned min_ms,
    unsigned max_ms);
/* The next wait, in milliseconds. */
unsigned relay_backoff_next(struct relay_backoff *b);
/* Start again from min_ms, after a connection that worked. */
void relay_backoff_reset(struct relay_backoff *b);
/* Sleep ms milliseconds (EINTR cuts it short).  0, or -1 with errno. */
int relay_sleep(unsigned ms);

#endif
