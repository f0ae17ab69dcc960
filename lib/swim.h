/*
 * swim: group membership by SWIM with the Lifeguard refinements, as a pure
 * state machine.
 *
 * The module knows who is in a group of peers, which of them are alive,
 * and tells the program when that changes.  It follows SWIM (Das, Gupta,
 * Motivala, 2002) with Lifeguard (Dadgar et al., 2017): one direct probe
 * per period, to members taken in shuffled round-robin order; k indirect
 * probes through other members when the ack does not come; nacks from
 * those helpers, so that a prober can tell when it is the slow one;
 * members that fail a probe are suspected before they are declared dead,
 * and a suspected member refutes by raising its incarnation number.
 * Updates travel piggybacked on the probes and their acks (and on small
 * gossip datagrams while there is news), each sent about lambda log N
 * times; a periodic full-state sync with one random member heals what
 * gossip missed, and lets partitions and late joiners catch up.
 *
 * It does no I/O and reads no clock.  Time is passed in, as milliseconds
 * of a monotonic clock; randomness comes from a generator inside the
 * struct, seeded by the caller; datagrams go out through a callback, to a
 * peer address that the module treats as an opaque string, and come in
 * through swim_recv().  So the same code runs over UDP in dspeer and over
 * a simulated lossy network in the unit tests.
 *
 *   struct swim_config c;
 *   swim_config_init(&c);
 *   c.name = "a"; c.addr = "10.0.0.1:7946"; c.group = "prod";
 *   c.seed = <64 random bits>; c.send = udp_send; c.event = on_event;
 *   s = swim_new(&c, now_ms, err, sizeof err);
 *   swim_join(s, now_ms, "10.0.0.2:7946");          // for each seed
 *   loop: on a datagram:  swim_recv(s, now_ms, src, bytes, n)
 *         on the timer:   swim_tick(s, now_ms)
 *         after either:   arm the timer at swim_next_deadline(s)
 *   on SIGTERM: swim_leave(s, now_ms), keep the loop running until
 *         swim_leave_done(s) (or a deadline), then swim_free(s).
 *
 * Callbacks run inside swim_recv(), swim_tick(), swim_join() and
 * swim_leave().  They may read the member list but must not call any
 * function that changes the state (recv, tick, join, leave, free).
 *
 * Members are identified by name ([A-Za-z0-9._-]{1,64}, as in ds1), not by
 * address.  An address is 1 to 64 printable ASCII bytes without spaces
 * (0x21 to 0x7E), such as "10.0.0.1:7946" or "[fe80::1%eth0]:7946"; the
 * program formats and resolves them, and must cope with any such string
 * that a peer advertises.  It should format the source address it hands
 * to swim_recv() the way peers advertise theirs: a datagram's inc field
 * (below) counts only when it comes from the address on record.
 *
 * ---- Wire format ----
 *
 * Every datagram is one ds1 frame (dsproto(7), "Datagrams"), at most
 * budget bytes long, closing LF included (1400 by default; never more).
 * Its type starts with "swim-"; any other type, such as a plain msg, is
 * not the module's: swim_recv() answers SWIM_NOT_MINE and leaves it to the
 * program.  The header carries:
 *
 *   from=NAME      the sender, always
 *   to=NAME        the member meant; "*" only in a join request (below)
 *   type=swim-...  one of the six types below
 *   inc=N          the sender's own incarnation, canonical decimal, at
 *                  most 2^53-1: a claim "I am alive at N", as good as the
 *                  sender's own alive line when the datagram comes from
 *                  the address on record for it.  Left out by a member
 *                  that is leaving.  A receiver that does not know the
 *                  sender at all asks it for its state (a swim-sync with
 *                  only the receiver's own line), at most once a second.
 *   g=GROUP        the group label, when the sender has one; a datagram
 *                  whose g differs from the receiver's (present on one
 *                  side, absent on the other, or another label) is
 *                  dropped and counted, whatever its type: two groups on
 *                  one network never merge and never see each other's
 *                  messages.  Labels have the syntax of names.
 *   id=SEQ, re=SEQ a probe's (or sync's) sequence number, and the answer's
 *                  reference to it: canonical decimal, at most 2^64-1
 *   len=N          the body length, as always
 *
 * Fields the module does not know are ignored, so a layer below can add
 * its own (an authentication layer adds and checks a mac field over the
 * whole datagram; reserve those bytes with cfg.reserve).  The types:
 *
 *   swim-ping      id=SEQ.  A direct probe.  The receiver, if to= is its
 *                  own name, answers with swim-ack re=SEQ to the address
 *                  the ping came from.
 *   swim-ack       re=SEQ.  The answer to a ping, or an ack relayed by a
 *                  helper of an indirect probe.
 *   swim-ping-req  id=SEQ target=NAME addr=ADDR.  An indirect probe: the
 *                  receiver pings NAME at ADDR (addr percent-encoded as
 *                  any ds1 value) with its own sequence number, relays
 *                  the ack as swim-ack re=SEQ, or sends swim-nack re=SEQ
 *                  when none came within 4/5 of its probe timeout.
 *   swim-nack      re=SEQ.  The helper is alive but the target did not
 *                  answer it (Lifeguard: the prober is not the slow one).
 *   swim-gossip    no id.  Only carries updates; never answered.
 *   swim-sync      id=SEQ: a full-state push, asking for the receiver's
 *                  full state back; re=SEQ: that answer (never answered).
 *                  The state is split over as many datagrams as the budget
 *                  needs, each one complete lines, so that every part is
 *                  merged on its own and a lost part loses only its lines.
 *                  A join request is a swim-sync with to=*, sent to a seed
 *                  address whose name is not known yet.
 *
 * Every type may carry a body of updates, one per line, the same lines
 * for piggybacked news and for full state:
 *
 *   body    = *update
 *   update  = alive / suspect / dead / left
 *   alive   = "a" SP name SP inc SP addr LF
 *   suspect = "s" SP name SP inc SP addr SP name LF   ; the suspecter
 *   dead    = "d" SP name SP inc SP addr SP name LF   ; who declared it
 *   left    = "l" SP name SP inc SP addr LF
 *   name    = 1*64( ALPHA / DIGIT / "." / "_" / "-" )
 *   inc     = "0" / %x31-39 *DIGIT                    ; at most 2^53-1
 *   addr    = 1*64( %x21-7E )
 *
 * for example:
 *
 *   ds1 from=a to=b type=swim-ping g=prod inc=3 id=4242 len=42\n
 *   a c 3 10.0.0.3:7946\n
 *   s d 7 10.0.0.4:7946 a\n
 *   \n
 *
 * Reading is strict: one space between tokens, none at the ends, every
 * line ends in LF, no empty line.  A datagram with one bad line, a bad or
 * missing id/re/inc/target/addr, an unknown swim- type, or a from equal
 * to the receiver's own name is dropped as a whole and counted; it
 * changes nothing.  Updates are merged by the SWIM rules: a higher
 * incarnation wins; at equal incarnations dead and left beat suspect,
 * which beats alive; a dead or left member comes back only with a higher
 * incarnation; a suspect line at a higher incarnation than a suspicion
 * held starts a new one, at the same incarnation it confirms it.  A dead
 * line that arrives in a swim-sync about a member held live only makes
 * it suspect (as memberlist does), so that after a partition heals the
 * members that one side's state calls dead get to refute.  An update
 * about the receiver itself that says suspect, dead or left (or alive at
 * a higher incarnation: a previous run of the same name, or alive at an
 * equal one with another address: a twin) is refuted with an alive line
 * at one more than its incarnation, sent at once to the suspecter named
 * in the line and then gossiped.
 *
 * ---- Probing ----
 *
 * Each period, a member pings the next member of its shuffled round-robin
 * order, or out of turn the longest-suspected member it has not probed
 * since the suspicion began: its ping carries the suspicion, so a live
 * member refutes before it acks and its ack's inc settles the suspicion
 * at once, while a dead one fails every such probe and the confirmations
 * bring every timer down to its minimum.  When the ack is late (probe
 * timeout), it pings the target once more itself (a UDP stand-in for
 * memberlist's TCP fallback) and sends swim-ping-req to indirect_checks
 * random alive members.  An ack (direct, late or relayed) within one
 * more probe timeout is a success (the helpers nack at 4/5 of theirs, so
 * their answers are in by then); otherwise the target becomes suspect
 * then, without waiting for the end of the period.  The next probe still
 * starts when the period ends.  A ping or an ack to a member we think
 * suspect or dead carries its own line first, whether that is news or
 * not, so that it can refute (the Lifeguard buddy system).
 *
 * Full-state syncs: one soon after start (2 to 4 join_retry periods), then
 * every sync_interval (x0.5 to x1.5, and x2, x3, ... above 32, 64, ...
 * live members) with a random live member and also with a random member
 * held dead, so that a healed partition joins up again.  A member answers
 * at most 64 sync requests at once and 8 a second after that, each
 * (sender, id) once.
 *
 * ---- Timing (the defaults, and why) ----
 *
 * serf (memberlist's LAN profile) probes once a second with a 500 ms
 * timeout, suspects a member at the end of the period, and waits a
 * suspicion timeout of 4 x log10(N) seconds once two more members
 * confirm (4.8 s at 16 members, 7.2 s at 64), six times that without
 * them; a killed member is declared dead some 6 s (16) to 10 s (64)
 * after the kill.  This module probes as often, so it sends about as
 * many bytes, but it reaches a verdict sooner on both counts.  The probe
 * timeout is 100 ms: a LAN round trip takes well under a millisecond, so
 * that is still two orders of magnitude of slack for scheduling delays,
 * and the verdict comes 200 ms after the probe began rather than a
 * second.  The suspicion timeout is 1 x log10(N) seconds (the minimum,
 * suspicion_mult 1) once suspicion_confirm = 3 other members confirm,
 * and six times that (suspicion_max_mult) with none: since every member
 * that hears a suspicion probes the suspect at once, a dead member
 * collects three confirmations within about a period, and a live one
 * that a lost datagram made suspect has six times as long to refute,
 * which it does as soon as one of those probes reaches it.  In the
 * simulation of the unit tests (1 to 3 ms latency), every survivor marks
 * a killed member dead within about 2 s at 16 and 64 members; 16 members
 * at 10 % loss went 5 simulated minutes without a false death, and so
 * did a member paused for 1.5 s or slowed by 250 ms.  The price of the
 * short minimum is that a member paused for longer than about
 * log10(N) + 0.5 seconds while the others confirm each other is
 * declared dead (and comes back with its next refutation, as "recover");
 * raise suspicion_mult for members that may stall that long.  A period
 * of 200 ms with suspicion_mult 4 detects in about a fifth of serf's
 * time, at four times its bytes.
 *
 * Local health (Lifeguard): a score from 0 to awareness_max-1 that rises
 * by one for a failed probe that no helper nacked, by the number of
 * missing nacks otherwise, and by one when we must refute a suspicion of
 * ourselves; it falls by one for each successful probe.  The probe
 * period and timeout are multiplied by score+1, so a member that is
 * itself slow probes less often and waits longer before it suspects.
 *
 * Suspicion timeout (Lifeguard, with memberlist's arithmetic), for N the
 * live members (alive or suspect, ourselves included) when the suspicion
 * starts, and c the independent confirmations so far:
 *
 *   scale = floor(1000 x max(1, log10 N))                  (milli-units)
 *   min   = suspicion_mult x scale x probe_interval / 1000  (ms, floored)
 *   max   = suspicion_max_mult x min
 *   k     = suspicion_confirm, or 0 when N - 2 < k
 *           (memberlist ties it to suspicion_mult - 2; apart, the minimum
 *           can be short while a lone suspicion still waits long)
 *   timeout(c) = min when k < 1, else
 *                max(min, floor(max - (max - min) x ln(c+1) / ln(k+1)))
 *
 * measured from the start of the suspicion; c counts distinct suspecters
 * other than the first, up to k.  Retransmissions: each update is sent
 * piggybacked at most retransmit_mult x ceil(log10(N+1)) times by each
 * member (the line about the recipient itself, put first as said under
 * Probing, is sent beyond that).  swim_suspicion_timeout() and
 * swim_retransmit_limit() compute both for a config, so the program and
 * the tests can print them.
 */
#ifndef DS_SWIM_H
#define DS_SWIM_H

#include <stddef.h>
#include <stdint.h>

#define SWIM_NAME_MAX 64
#define SWIM_ADDR_MAX 64
#define SWIM_INC_MAX ((UINT64_C(1) << 53) - 1) /* exact in JSON numbers */
#define SWIM_BUDGET_DEFAULT 1400
#define SWIM_BUDGET_MIN 1024    /* fits the longest header and one line */
#define SWIM_DGRAM_MAX 65507    /* the most a UDP datagram can carry */

enum swim_state {
	SWIM_ALIVE, SWIM_SUSPECT, SWIM_DEAD, SWIM_LEFT
};

/*
 * What the program is told.  join: a member we did not know, or that had
 * left, is alive; leave: a member left gracefully; fail: a member was
 * declared dead; recover: a dead member is alive again (it refuted, or a
 * partition healed); update: an alive member's address changed.  A
 * suspicion that is refuted in time makes no event.  Nothing is reported
 * about ourselves.
 */
enum swim_event {
	SWIM_EV_JOIN, SWIM_EV_LEAVE, SWIM_EV_FAIL, SWIM_EV_RECOVER,
	SWIM_EV_UPDATE
};

/* One member, as the program sees it: a copy, valid as long as it likes. */
struct swim_member {
	char name[SWIM_NAME_MAX + 1];
	char addr[SWIM_ADDR_MAX + 1];
	enum swim_state state;
	uint64_t inc;
	uint64_t since;    /* ms (the caller's clock) of the last change */
	int self;          /* 1 for ourselves */
};

typedef void swim_send_fn(void *ctx, const char *addr, const void *buf,
    size_t len);
typedef void swim_event_fn(void *ctx, enum swim_event ev,
    const struct swim_member *m);

/*
 * Every timing is in milliseconds.  swim_config_init() fills in the
 * defaults given here; swim_new() checks every field and refuses values
 * out of range with a message.
 */
struct swim_config {
	const char *name;          /* required: our name */
	const char *addr;          /* required: where peers reach us */
	const char *group;         /* NULL or "": no label */
	uint64_t seed;             /* seeds the generator: use real randomness */
	uint64_t incarnation;      /* to start from; 0, or e.g. a clock reading */
	size_t budget;             /* 1400: largest datagram, closing LF incl. */
	size_t reserve;            /* 0: bytes a layer below adds (a mac) */
	size_t max_members;        /* 4096: tombstones and ourselves included */
	unsigned probe_interval;   /* 200: one probe per period */
	unsigned probe_timeout;    /* 100: direct ack; at most half the period */
	unsigned indirect_checks;  /* 3: helpers asked when the ack is late */
	unsigned suspicion_mult;   /* 4: min timeout, in periods x log10 N */
	unsigned suspicion_max_mult; /* 6: max timeout, in min timeouts */
	unsigned suspicion_confirm; /* 3: k, confirmations that bring the
	                              timeout down from max to min */
	unsigned awareness_max;    /* 8: local health multiplier ceiling */
	unsigned retransmit_mult;  /* 4: lambda: sends per update / log10 N */
	unsigned gossip_interval;  /* 100: gossip rounds while there is news */
	unsigned gossip_nodes;     /* 3: members per round; 0: piggyback only */
	unsigned gossip_dead;      /* 10000: keep gossiping to the newly dead */
	unsigned sync_interval;    /* 15000: full-state sync; 0: never */
	unsigned join_retry;       /* 500: ask the seeds again while alone */
	unsigned dead_reap;        /* 600000: forget the dead after this */
	unsigned left_reap;        /* 600000: forget those who left */
	swim_send_fn *send;        /* required */
	swim_event_fn *event;      /* may be NULL */
	void *ctx;                 /* passed to both */
};

/* Counters, for "dsctl stats" and the tests. */
struct swim_stats {
	uint64_t dgrams_in, bytes_in, dgrams_out, bytes_out;
	uint64_t probes;           /* direct probes started */
	uint64_t indirect;         /* probes that went indirect */
	uint64_t probe_fails;      /* probes that ended with no ack */
	uint64_t nacks_in, nacks_out;
	uint64_t relayed;          /* ping-reqs we pinged for */
	uint64_t suspicions;       /* members that became suspect */
	uint64_t deaths;           /* members that became dead */
	uint64_t refutations;      /* suspicions of ourselves we refuted */
	uint64_t conflicts;        /* our name claimed at another address */
	uint64_t updates_in, updates_out; /* lines merged and piggybacked */
	uint64_t syncs;            /* full-state syncs we started */
	uint64_t sync_replies;
	uint64_t not_mine;         /* frames of other types, for the program */
	uint64_t bad;              /* malformed: not ds1, bad field or line */
	uint64_t foreign;          /* another group's label */
	uint64_t misdirected;      /* to= someone else, or from= ourselves */
	uint64_t dropped;          /* well-formed but refused: table full, rate */
	uint64_t oversize;         /* frames we refused to send: always 0 */
};

/* What swim_recv() says about a datagram. */
enum {
	SWIM_OK = 0,          /* a swim datagram, handled */
	SWIM_NOT_MINE = 1,    /* a ds1 frame of the group, of another type */
	SWIM_BAD = -1,        /* malformed; swim_error() says why */
	SWIM_FOREIGN = -2,    /* another group's label */
	SWIM_DROP = -3        /* well-formed, but not for us or refused */
};

void swim_config_init(struct swim_config *c);

/* NULL, with err filled, when a config field is out of range. */
struct swim *swim_new(const struct swim_config *c, uint64_t now, char *err,
    size_t errlen);
void swim_free(struct swim *s);

/*
 * Remember a seed address and send it a join request (a swim-sync to=*).
 * While we know no other live member, the seeds are asked again every
 * join_retry ms.  -1 for an address that is not 1 to 64 printable bytes,
 * or when 16 seeds are already known.
 */
int swim_join(struct swim *s, uint64_t now, const char *addr);

/* Hand over one datagram; from_addr is where it came from. */
int swim_recv(struct swim *s, uint64_t now, const char *from_addr,
    const void *buf, size_t len);

/* Do what is due: probes, timeouts, gossip, sync, reaping. */
void swim_tick(struct swim *s, uint64_t now);

/* When swim_tick() wants to run next; may be in the past. */
uint64_t swim_next_deadline(const struct swim *s);

/*
 * Leave gracefully: stop probing, announce "left" with a new incarnation
 * and keep gossiping it.  swim_leave_done() turns 1 once every
 * retransmission of the announcement has gone out (or nobody is left to
 * tell); the program stops then, or at a deadline of its own.
 */
void swim_leave(struct swim *s, uint64_t now);
int swim_leave_done(const struct swim *s);

/*
 * The member list, ourselves and tombstones included, sorted by name.
 * Indexes stay valid until the next call that changes the state.
 */
size_t swim_count(const struct swim *s);
int swim_member_at(const struct swim *s, size_t i, struct swim_member *out);
/* 0 and *out filled (when out is not NULL), or -1 when unknown. */
int swim_find(const struct swim *s, const char *name, struct swim_member *out);
size_t swim_live(const struct swim *s);   /* alive or suspect, us incl. */

const struct swim_stats *swim_stats(const struct swim *s);
const char *swim_error(const struct swim *s);   /* why the last was bad */
unsigned swim_health(const struct swim *s);     /* local health score */
uint64_t swim_incarnation(const struct swim *s);

/* The arithmetic of the header comment, for a config and N members. */
uint64_t swim_suspicion_min(const struct swim_config *c, size_t n);
uint64_t swim_suspicion_timeout(const struct swim_config *c, size_t n,
    unsigned confirmations);
unsigned swim_retransmit_limit(const struct swim_config *c, size_t n);

const char *swim_state_name(enum swim_state st);   /* "alive", ... */
const char *swim_event_name(enum swim_event ev);   /* "join", ... */

#endif
