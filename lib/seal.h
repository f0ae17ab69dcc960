/*
 * seal: HMAC-SHA256 on every ds1 datagram, with a replay window, for the
 * peers of a group that share a key (dspeer -k).
 *
 * A sealed datagram's header line ends with two fields,
 *
 *   ds1 from=a to=b ... len=5 ts=1732400000000000 mac=<64 hex>\n
 *   hello\n
 *
 * where ts is the sender's counter (microseconds of the wall clock, kept
 * strictly increasing, canonical decimal) and mac is HMAC-SHA256(key, the
 * datagram without its " mac=..." field), in lowercase hex: the MAC covers
 * the header line ending in "ts=T\n", the body and the closing LF.  A
 * receiver learns that the datagram came whole from a key holder, and the
 * ts lets it refuse copies: one older or newer than the allowed clock skew,
 * and one whose (from, ts) it has already taken.  Nothing is encrypted.
 *
 *   s = seal_new(&key, 0, 0);                      // NULL with errno
 *   send: n = seal_sign(s, buf, len, sizeof buf, wall_us);  // -1, errno
 *   recv: n = seal_open(s, buf, len, wall_us);     // < 0: a SEAL_* code
 *         then parse buf[0..n) as a plain ds1 datagram.
 *   seal_free(s);
 *
 * Both sides pass the wall clock (CLOCK_REALTIME) in microseconds, since
 * ts is compared with the clock of another host.  One struct serves both
 * directions: its sign counter and its receive windows are apart.
 *
 * seal_open parses only what it needs (ds1, the from name, ts and mac);
 * the caller still parses the frame it returns.  It checks the MAC before
 * it looks at the replay state, and records a ts only for a datagram
 * whose MAC is right and which is not stale, so that bytes from someone
 * without the key cost a hash and never change what is remembered.
 *
 * Per sender name it remembers the last 32 ts values taken plus a floor
 * (the largest value pushed out of the window): a ts must be above the
 * floor and not among the 32, so datagrams reordered by up to 32 places
 * still pass.  A sender seen for the first time has floor 0, and the skew
 * bound is what stops older copies.  At most max_senders names are kept;
 * beyond that the least recently used one is forgotten, and copies of its
 * datagrams younger than the skew would pass again, so max_senders must
 * be well above the size of the group.
 *
 * Nothing here prints or exits, and the module reads no clock.
 */
#ifndef DS_SEAL_H
#define DS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

/* The most bytes seal_sign adds: " ts=" + 20 digits + " mac=" + 64 hex. */
#define SEAL_OVERHEAD (4 + 20 + 5 + HMAC_HEXLEN)
#define SEAL_WINDOW 32               /* ts values remembered per sender */
#define SEAL_SENDERS_DEFAULT 4096
#define SEAL_SKEW_DEFAULT_MS 60000

/* What seal_open refuses, as negative return values. */
enum {
	SEAL_BAD = -1,     /* no well-formed ts and mac last, not ds1, no from */
	SEAL_FORGED = -2,  /* the MAC does not match */
	SEAL_STALE = -3,   /* ts is further than the skew from our clock */
	SEAL_REPLAY = -4   /* this (from, ts) was taken before, or is too old */
};

struct seal;

/*
 * A sealer keyed with key (which may be freed afterwards: only the keyed
 * hash state is kept).  max_senders 0 means SEAL_SENDERS_DEFAULT, skew_ms
 * 0 means SEAL_SKEW_DEFAULT_MS.  NULL with errno ENOMEM.
 */
struct seal *seal_new(const struct auth_key *key, size_t max_senders,
    unsigned skew_ms);
void seal_free(struct seal *s);

/*
 * Seal the datagram buf[0..len) in place: insert " ts=T mac=M" just
 * before the LF that ends its header line.  cap is the room in buf.  T is
 * now_us, or one more than the last T when the clock has not moved past
 * it, so T never repeats.  Returns the new length, or -1 with errno
 * EMSGSIZE (cap too small; buf unchanged), EINVAL (no LF in buf) or
 * EOVERFLOW (the counter is at its end).
 */
long seal_sign(struct seal *s, char *buf, size_t len, size_t cap,
    uint64_t now_us);

/*
 * Check the datagram buf[0..len) and strip its " ts=T mac=M" in place.
 * Returns the new length, or a SEAL_* code with buf unchanged.
 */
long seal_open(struct seal *s, char *buf, size_t len, uint64_t now_us);

/* A short English reason for a SEAL_* code, such as "bad MAC". */
const char *seal_strerror(int code);

#endif
