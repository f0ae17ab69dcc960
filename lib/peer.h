/*
 * peer: one member of a dspeer group, on a loop: SWIM membership (lib/swim)
 * over a UDP socket (lib/udp), every datagram optionally signed and
 * checked (lib/seal), and messages to other members by name.
 *
 * The program hands over frames to send (peer_send) and gets back, through
 * callbacks, the frames sent to us, the membership events, and the
 * messages that could not be delivered.  Delivery is best-effort, one
 * datagram per message and recipient; a frame that carries ack=1 is
 * acknowledged by the recipient (type peer-ack re=SEQ), retransmitted
 * until it is (after 200, 400, 800, 1600 and 3200 ms, giving up 3200 ms
 * after the sixth copy), and delivered only once at the far end: the
 * receiver remembers the last 4096 (sender, seq) pairs it took.  On the wire the sender is always the member's own
 * name, the group label travels as g= and the sequence number of a
 * reliable message as seq=; the receiver strips both before it hands the
 * frame on.  See dsproto(7), "Peers".
 *
 *   struct peer_config c;
 *   peer_config_init(&c);  c.swim.name = ...; c.fd = udp socket; ...
 *   p = peer_new(loop, &c, err, sizeof err);
 *   peer_join(p, "10.0.0.2:7946");
 *   peer_send(p, &msg, 1, &reason, &why);     // for each frame to send
 *   loop_run(loop);
 *   on SIGTERM: peer_leave(p), run until peer_leave_done(p).
 *
 * Nothing here prints or exits.
 */
#ifndef DS_PEER_H
#define DS_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"
#include "proto.h"
#include "seal.h"
#include "swim.h"

#define PEER_TRIES 6             /* sends of a reliable message in all */
#define PEER_RETRY_MS 200        /* the first wait for its ack; doubles */
#define PEER_PENDING_MAX (1u << 20) /* held and unacked bytes, at most */

struct peer;

/* A frame for us (to our name or to *), ready to write out. */
typedef void peer_deliver_fn(void *ctx, const char *frame, size_t len);
/*
 * A frame that could not be delivered, found out after peer_send()
 * returned: held too long for an unknown name (no-route), or never
 * acknowledged (no-ack).  id is the frame's id, decoded (NULL if none).
 */
typedef void peer_refuse_fn(void *ctx, const char *to, const char *id,
    size_t id_len, const char *reason, const char *why);
typedef void peer_event_fn(void *ctx, enum swim_event ev,
    const struct swim_member *m);

struct peer_config {
	struct swim_config swim;   /* name, addr, group, timings; peer sets
	                              send, event and ctx */
	int fd;                    /* the UDP socket, non-blocking */
	struct seal *seal;         /* NULL: datagrams are not signed */
	int hold_ms;               /* frames to unknown names wait this long */
	peer_deliver_fn *deliver;  /* required */
	peer_refuse_fn *refuse;    /* required */
	peer_event_fn *event;      /* may be NULL */
	void *ctx;
};

struct peer_stats {
	uint64_t msgs_in, msgs_out;  /* user messages received and sent */
	uint64_t msgs_acked, msgs_retried, msgs_failed, msgs_dup;
	uint64_t auth_fail, replayed, stale; /* refused by the seal */
	uint64_t oversize;           /* datagrams larger than we read */
	uint64_t send_errors;        /* sendto failed (full buffer, ...) */
	uint64_t unroutable;         /* frames refused: no-route */
	uint64_t misdirected;        /* messages to another name, or from us */
};

void peer_config_init(struct peer_config *c);

/* NULL with err for a bad config (swim_new's messages). */
struct peer *peer_new(struct loop *l, const struct peer_config *c, char *err,
    size_t errlen);
void peer_free(struct peer *p);

/* Join through a seed, a numeric host:port.  0, or -1 (see swim_join). */
int peer_join(struct peer *p, const char *addr);

/*
 * Send m as ours.  1: sent (or, with hold set, held until its recipient
 * joins); 0: delivered to ourselves; -1: refused now, with *reason
 * (bad-frame, no-route, too-big) and a one-line why (no LF) in why.
 */
int peer_send(struct peer *p, const struct proto_msg *m, int hold,
    const char **reason, struct buf *why);

/* Bytes of frames held or waiting for an ack: stop reading above max. */
size_t peer_pending(const struct peer *p);

void peer_leave(struct peer *p);
int peer_leave_done(const struct peer *p);

/*
 * For a control socket: append one "name\taddr\tstate\tinc\n" line per
 * member, ourselves and tombstones included, sorted by name, with state
 * alive, suspect, failed or left; and "key\tvalue\n" lines of counters
 * (dspeer(1) lists them).  0, or -1 when b is full.
 */
int peer_members_text(const struct peer *p, struct buf *b);
int peer_stats_text(const struct peer *p, struct buf *b);
/* One more "key\tvalue\n" line, for counters the program keeps itself. */
int peer_stat_line(struct buf *b, const char *key, uint64_t v);
/* "failed" for SWIM_DEAD: what a user reads; swim_state_name otherwise. */
const char *peer_state_name(enum swim_state st);

/*
 * Malformed datagrams so far (the "bad" counter: swim's, and those over
 * the budget), and the source and reason of the last one, so that a
 * program can sum them up now and then instead of logging each.
 */
uint64_t peer_bad(const struct peer *p, const char **addr,
    const char **why);

const struct swim *peer_swim(const struct peer *p);
const struct peer_stats *peer_stats(const struct peer *p);

#endif
