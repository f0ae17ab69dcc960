/*
 * peer: a dspeer member on a loop; see peer.h.
 *
 * Three small queues hang off the member: frames held until their
 * recipient joins (oldest first, so the first to expire is at the head),
 * reliable messages waiting for their ack (each with a timer), and a ring
 * of the reliable messages received lately, so that a retransmitted copy
 * is acknowledged again but delivered only once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "num.h"
#include "peer.h"
#include "udp.h"

#define RECV_BATCH 64            /* datagrams read per readable event */
#define DEDUP_N 4096             /* reliable messages remembered */
#define ID_MAX 64

struct held {
	struct held *next;
	char to[SWIM_NAME_MAX + 1];
	char id[ID_MAX];
	size_t id_len;
	int has_id, reliable;
	uint64_t deadline;
	size_t len;
	char *dgram;             /* without seq, which is added on release */
};

struct unacked {
	struct unacked *next;
	struct peer *p;
	char to[SWIM_NAME_MAX + 1];
	char id[ID_MAX];
	size_t id_len;
	int has_id;
	uint64_t seq, timer;
	unsigned tries;
	size_t len;
	char *dgram;
};

struct seen_msg {
	uint64_t hash, seq;
};

struct peer {
	struct loop *l;
	struct peer_config c;
	struct swim *s;
	uint64_t timer, timer_at;
	struct held *held, *held_tail;
	uint64_t held_timer;
	struct unacked *unacked;
	size_t pending;
	uint64_t seq;
	struct seen_msg *seen;   /* DEDUP_N, allocated on first use */
	size_t seen_pos;
	struct peer_stats st;
	char bad_addr[UDP_ADDR_MAX + 1];
	char bad_why[160];
	char name[SWIM_NAME_MAX + 1];
	char group[SWIM_NAME_MAX + 1];
	char rbuf[SWIM_DGRAM_MAX + 2];
	char sbuf[SWIM_DGRAM_MAX + 1];
	struct buf out;          /* scratch for datagrams being built */
	struct buf strip;        /* scratch for frames handed out */
};

static uint64_t
now_ms(const struct peer *p)
{
	return (uint64_t)loop_now(p->l);
}

static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t
hash_name(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* ---- sending datagrams ---- */

/* Sign (if keyed) and send one datagram to addr. */
static void
send_to(struct peer *p, const char *addr, const char *buf, size_t len)
{
	struct udp_addr to;
	char err[128];
	const char *out = buf;

	if (udp_resolve(addr, 1, &to, err, sizeof err) < 0) {
		p->st.send_errors++;
		return;
	}
	if (p->c.seal != NULL) {
		long n;

		if (len > sizeof p->sbuf) {
			p->st.send_errors++;
			return;
		}
		memcpy(p->sbuf, buf, len);
		n = seal_sign(p->c.seal, p->sbuf, len, sizeof p->sbuf,
		    wall_us());
		if (n < 0) {
			p->st.send_errors++;
			return;
		}
		out = p->sbuf;
		len = (size_t)n;
	}
	if (udp_send(p->c.fd, &to, out, len) < 0)
		p->st.send_errors++;
}

static void
swim_send(void *ctx, const char *addr, const void *buf, size_t len)
{
	send_to(ctx, addr, buf, len);
}

/* The address of a live member, or NULL. */
static const char *
live_addr(struct peer *p, const char *name, struct swim_member *m)
{
	if (swim_find(p->s, name, m) < 0)
		return NULL;
	if (m->state != SWIM_ALIVE && m->state != SWIM_SUSPECT)
		return NULL;
	return m->addr;
}

/*
 * A datagram built without seq gets " seq=N" before its id and len
 * fields: the tail of the header is " [id=..] len=N\n", so it goes in
 * front of whichever of them comes first after the other fields.  Here
 * it is simply appended after g= when the header is built (see build()),
 * so this only copies dgram into out with seq inserted at offset at.
 */
static int
with_seq(struct buf *out, const char *dgram, size_t len, size_t at,
    uint64_t seq)
{
	char num[32];
	int n = snprintf(num, sizeof num, " seq=%llu",
	    (unsigned long long)seq);

	buf_clear(out);
	if (buf_append(out, dgram, at) < 0 ||
	    buf_append(out, num, (size_t)n) < 0 ||
	    buf_append(out, dgram + at, len - at) < 0)
		return -1;
	return 0;
}

/* ---- reliable messages ---- */

static void unacked_fire(struct loop *l, uint64_t id, void *ctx);

static void
unacked_free(struct peer *p, struct unacked *u)
{
	struct unacked **pp;

	for (pp = &p->unacked; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	if (u->timer != 0)
		loop_cancel(p->l, u->timer);
	p->pending -= u->len;
	free(u->dgram);
	free(u);
}

static void
unacked_give_up(struct peer *p, struct unacked *u, const char *why)
{
	char to[SWIM_NAME_MAX + 1], id[ID_MAX];
	size_t id_len = u->id_len;
	int has_id = u->has_id;

	memcpy(to, u->to, sizeof to);
	memcpy(id, u->id, id_len);
	p->st.msgs_failed++;
	unacked_free(p, u);
	p->c.refuse(p->c.ctx, to, has_id ? id : NULL, id_len, "no-ack", why);
}

static void
unacked_fire(struct loop *l, uint64_t id, void *ctx)
{
	struct unacked *u = ctx;
	struct peer *p = u->p;
	struct swim_member m;
	const char *addr;
	char why[160];

	(void)l;
	(void)id;
	u->timer = 0;
	addr = live_addr(p, u->to, &m);
	if (u->tries >= PEER_TRIES || addr == NULL) {
		snprintf(why, sizeof why, "no acknowledgement from %s after "
		    "%u tries", u->to, u->tries);
		unacked_give_up(p, u, why);
		return;
	}
	send_to(p, addr, u->dgram, u->len);
	p->st.msgs_retried++;
	/* 200, 400, ... 3200 ms; the last copy gets as long as the one
	 * before it, so that the whole ends 9.4 s after the first. */
	u->timer = loop_timer(p->l, (int64_t)PEER_RETRY_MS <<
	    (u->tries < PEER_TRIES - 1 ? u->tries : PEER_TRIES - 2),
	    unacked_fire, u);
	u->tries++;
}

/* Send dgram (built without seq; seq goes in at offset at) reliably. */
static int
send_reliable(struct peer *p, const char *to, const char *addr,
    const char *dgram, size_t len, size_t at, const char *id, size_t id_len,
    int has_id)
{
	struct unacked *u;

	if (with_seq(&p->strip, dgram, len, at, ++p->seq) < 0)
		return -1;
	u = calloc(1, sizeof *u);
	if (u == NULL || (u->dgram = malloc(buf_len(&p->strip))) == NULL) {
		free(u);
		return -1;
	}
	u->p = p;
	u->len = buf_len(&p->strip);
	memcpy(u->dgram, buf_head(&p->strip), u->len);
	snprintf(u->to, sizeof u->to, "%s", to);
	u->has_id = has_id;
	u->id_len = id_len;
	if (has_id)
		memcpy(u->id, id, id_len);
	u->seq = p->seq;
	u->tries = 1;
	u->timer = loop_timer(p->l, PEER_RETRY_MS, unacked_fire, u);
	if (u->timer == 0) {
		free(u->dgram);
		free(u);
		return -1;
	}
	u->next = p->unacked;
	p->unacked = u;
	p->pending += u->len;
	send_to(p, addr, u->dgram, u->len);
	return 0;
}

static void
on_ack(struct peer *p, struct proto_str from, struct proto_str re)
{
	struct unacked *u;
	uint64_t seq;

	if (re.p == NULL || num_parse_u64(re.p, re.n, UINT64_MAX, NUM_CANON,
	    &seq) != NUM_OK)
		return;
	for (u = p->unacked; u != NULL; u = u->next)
		if (u->seq == seq && strlen(u->to) == from.n &&
		    memcmp(u->to, from.p, from.n) == 0) {
			p->st.msgs_acked++;
			unacked_free(p, u);
			return;
		}
}

/* 1 when (from, seq) was delivered lately; remembers it otherwise. */
static int
seen_before(struct peer *p, struct proto_str from, uint64_t seq)
{
	uint64_t h = hash_name(from.p, from.n);
	size_t i;

	if (p->seen == NULL) {
		p->seen = calloc(DEDUP_N, sizeof *p->seen);
		if (p->seen == NULL)
			return 0;
	}
	for (i = 0; i < DEDUP_N; i++)
		if (p->seen[i].seq == seq && p->seen[i].hash == h)
			return 1;
	p->seen[p->seen_pos].hash = h;
	p->seen[p->seen_pos].seq = seq;
	p->seen_pos = (p->seen_pos + 1) % DEDUP_N;
	return 0;
}

/* ---- held frames ---- */

static void held_fire(struct loop *l, uint64_t id, void *ctx);

static void
held_arm(struct peer *p)
{
	uint64_t now = now_ms(p);

	if (p->held_timer != 0) {
		loop_cancel(p->l, p->held_timer);
		p->held_timer = 0;
	}
	if (p->held != NULL)
		p->held_timer = loop_timer(p->l, p->held->deadline > now ?
		    (int64_t)(p->held->deadline - now) : 0, held_fire, p);
}

static void
held_unlink(struct peer *p, struct held *h, struct held *prev)
{
	if (prev == NULL)
		p->held = h->next;
	else
		prev->next = h->next;
	if (p->held_tail == h)
		p->held_tail = prev;
	p->pending -= h->len;
}

static void
held_fire(struct loop *l, uint64_t id, void *ctx)
{
	struct peer *p = ctx;
	uint64_t now = now_ms(p);
	char why[160];

	(void)l;
	(void)id;
	p->held_timer = 0;
	while (p->held != NULL && p->held->deadline <= now) {
		struct held *h = p->held;

		held_unlink(p, h, NULL);
		snprintf(why, sizeof why, "no member named %s joined within "
		    "%d ms", h->to, p->c.hold_ms);
		p->st.unroutable++;
		p->c.refuse(p->c.ctx, h->to, h->has_id ? h->id : NULL,
		    h->id_len, "no-route", why);
		free(h->dgram);
		free(h);
	}
	held_arm(p);
}

/* Where the seq field goes in a held datagram: before " len=". */
static size_t
seq_offset(const char *dgram, size_t len)
{
	const char *lf = memchr(dgram, '\n', len);
	const char *q;

	/* build() always writes len last. */
	for (q = lf; q > dgram; q--)
		if (*q == ' ')
			return (size_t)(q - dgram);
	return 0;
}

/* Send what waits for name, now that it is alive. */
static void
held_release(struct peer *p, const char *name, const char *addr)
{
	struct held *h, *prev = NULL, *next;

	for (h = p->held; h != NULL; h = next) {
		next = h->next;
		if (strcmp(h->to, name) != 0) {
			prev = h;
			continue;
		}
		held_unlink(p, h, prev);
		if (h->reliable) {
			if (send_reliable(p, h->to, addr, h->dgram, h->len,
			    seq_offset(h->dgram, h->len), h->id, h->id_len,
			    h->has_id) < 0)
				p->st.send_errors++;
		} else {
			send_to(p, addr, h->dgram, h->len);
		}
		p->st.msgs_out++;
		free(h->dgram);
		free(h);
	}
	held_arm(p);
}

/* ---- membership events ---- */

static void
swim_event(void *ctx, enum swim_event ev, const struct swim_member *m)
{
	struct peer *p = ctx;
	struct unacked *u, *next;

	if (ev == SWIM_EV_JOIN || ev == SWIM_EV_RECOVER ||
	    ev == SWIM_EV_UPDATE)
		held_release(p, m->name, m->addr);
	if (ev == SWIM_EV_FAIL || ev == SWIM_EV_LEAVE)
		for (u = p->unacked; u != NULL; u = next) {
			char why[160];

			next = u->next;
			if (strcmp(u->to, m->name) != 0)
				continue;
			snprintf(why, sizeof why, "%s %s before it "
			    "acknowledged", m->name, ev == SWIM_EV_FAIL ?
			    "failed" : "left");
			unacked_give_up(p, u, why);
		}
	if (p->c.event != NULL)
		p->c.event(p->c.ctx, ev, m);
}

/* ---- receiving ---- */

/* Write m out without the fields that belong to the transport. */
static void
hand_out(struct peer *p, const struct proto_msg *m)
{
	int i;

	buf_clear(&p->strip);
	if (buf_append(&p->strip, "ds1", 3) < 0)
		return;
	for (i = 0; i < m->nfields; i++) {
		struct proto_str k = proto_key(m, i);

		if (proto_str_eq(k, "g") || proto_str_eq(k, "seq"))
			continue;
		if (buf_append(&p->strip, " ", 1) < 0 ||
		    buf_append(&p->strip, k.p, (size_t)(proto_val(m, i).p +
		    proto_val(m, i).n - k.p)) < 0)
			return;
	}
	if (buf_append(&p->strip, "\n", 1) < 0 ||
	    buf_append(&p->strip, m->body, (size_t)m->body_len) < 0 ||
	    buf_append(&p->strip, "\n", 1) < 0)
		return;
	p->st.msgs_in++;
	p->c.deliver(p->c.ctx, buf_head(&p->strip), buf_len(&p->strip));
}

static void
send_ack(struct peer *p, const char *addr, struct proto_str from,
    struct proto_str seq)
{
	struct proto_hdr h;
	char to[SWIM_NAME_MAX + 1];
	struct proto_kv g = { "g", p->group, strlen(p->group) };

	memcpy(to, from.p, from.n);
	to[from.n] = '\0';
	memset(&h, 0, sizeof h);
	h.from = p->name;
	h.to = to;
	h.type = "peer-ack";
	h.re = seq.p;
	h.re_len = seq.n;
	if (p->group[0] != '\0') {
		h.extra = &g;
		h.nextra = 1;
	}
	buf_clear(&p->out);
	if (proto_encode(&p->out, &h, NULL, 0) == 0)
		send_to(p, addr, buf_head(&p->out), buf_len(&p->out));
}

/* A datagram of the group that is not the membership's. */
static void
user_frame(struct peer *p, const char *addr, const char *buf, size_t len)
{
	struct proto_msg m;
	struct proto_str from, to, seq;
	uint64_t err_off, n;
	char err[160];

	if (proto_parse_datagram(buf, len, SWIM_DGRAM_MAX, &m, &err_off, err,
	    sizeof err) != PROTO_MSG)
		return;
	from = proto_get(&m, PF_FROM);
	to = proto_get(&m, PF_TO);
	if (proto_str_eq(from, p->name) || (!proto_str_eq(to, p->name) &&
	    !proto_str_eq(to, "*"))) {
		p->st.misdirected++;
		return;
	}
	if (proto_str_eq(proto_type(&m), "peer-ack")) {
		on_ack(p, from, proto_get(&m, PF_RE));
		return;
	}
	seq = proto_lookup(&m, "seq");
	if (seq.p != NULL) {
		if (num_parse_u64(seq.p, seq.n, UINT64_MAX, NUM_CANON, &n) !=
		    NUM_OK)
			return;
		send_ack(p, addr, from, seq);
		if (seen_before(p, from, n)) {
			p->st.msgs_dup++;
			return;
		}
	}
	hand_out(p, &m);
}

static void
on_readable(struct loop *l, int fd, unsigned events, void *ctx)
{
	struct peer *p = ctx;
	struct udp_addr from;
	char addr[UDP_ADDR_MAX + 1];
	int i;

	(void)l;
	(void)events;
	for (i = 0; i < RECV_BATCH; i++) {
		ssize_t r = udp_recv(fd, p->rbuf, SWIM_DGRAM_MAX + 1, &from);
		size_t len;

		if (r < 0)
			break;
		/* No member sends more than the budget: the group shares it. */
		if ((size_t)r > p->c.swim.budget) {
			p->st.oversize++;
			udp_format((struct sockaddr *)&from.ss, from.len,
			    p->bad_addr, sizeof p->bad_addr);
			snprintf(p->bad_why, sizeof p->bad_why, "a datagram "
			    "larger than the budget of %zu bytes",
			    p->c.swim.budget);
			continue;
		}
		len = (size_t)r;
		if (p->c.seal != NULL) {
			long n = seal_open(p->c.seal, p->rbuf, len, wall_us());

			if (n < 0) {
				if (n == SEAL_REPLAY)
					p->st.replayed++;
				else if (n == SEAL_STALE)
					p->st.stale++;
				else
					p->st.auth_fail++;
				continue;
			}
			len = (size_t)n;
		}
		udp_format((struct sockaddr *)&from.ss, from.len, addr,
		    sizeof addr);
		switch (swim_recv(p->s, now_ms(p), addr, p->rbuf, len)) {
		case SWIM_NOT_MINE:
			user_frame(p, addr, p->rbuf, len);
			break;
		case SWIM_BAD:
			memcpy(p->bad_addr, addr, sizeof p->bad_addr);
			snprintf(p->bad_why, sizeof p->bad_why, "%s",
			    swim_error(p->s));
			break;
		default:
			break;
		}
	}
}

/* ---- the timer ---- */

static void on_timer(struct loop *l, uint64_t id, void *ctx);

static void
rearm(struct peer *p)
{
	uint64_t at = swim_next_deadline(p->s), now = now_ms(p);

	if (p->timer != 0 && at == p->timer_at)
		return;
	if (p->timer != 0)
		loop_cancel(p->l, p->timer);
	p->timer_at = at;
	p->timer = loop_timer(p->l, at > now ? (int64_t)(at - now) : 0,
	    on_timer, p);
}

static void
on_timer(struct loop *l, uint64_t id, void *ctx)
{
	struct peer *p = ctx;

	(void)l;
	(void)id;
	p->timer = 0;
	swim_tick(p->s, now_ms(p));
	rearm(p);
}

/* After anything that may have moved swim's next deadline. */
static void
on_readable_rearm(struct loop *l, int fd, unsigned events, void *ctx)
{
	on_readable(l, fd, events, ctx);
	rearm(ctx);
}

/* ---- the public face ---- */

void
peer_config_init(struct peer_config *c)
{
	memset(c, 0, sizeof *c);
	swim_config_init(&c->swim);
	c->fd = -1;
	c->hold_ms = 5000;
}

struct peer *
peer_new(struct loop *l, const struct peer_config *c, char *err,
    size_t errlen)
{
	struct peer *p;
	struct swim_config sc;

	p = calloc(1, sizeof *p);
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->l = l;
	p->c = *c;
	sc = c->swim;
	sc.send = swim_send;
	sc.event = swim_event;
	sc.ctx = p;
	if (c->seal != NULL)
		sc.reserve += SEAL_OVERHEAD;
	p->s = swim_new(&sc, (uint64_t)loop_now(l), err, errlen);
	if (p->s == NULL) {
		free(p);
		return NULL;
	}
	snprintf(p->name, sizeof p->name, "%s", sc.name);
	snprintf(p->group, sizeof p->group, "%s",
	    sc.group != NULL ? sc.group : "");
	/* Start late enough that no two processes share a sequence. */
	p->seq = wall_us();
	buf_init(&p->out, SWIM_DGRAM_MAX + 1);
	buf_init(&p->strip, SWIM_DGRAM_MAX + 64);
	if (loop_add(l, c->fd, LOOP_IN, on_readable_rearm, p) < 0) {
		snprintf(err, errlen, "cannot watch the socket: %s",
		    strerror(errno));
		peer_free(p);
		return NULL;
	}
	rearm(p);
	return p;
}

void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	while (p->unacked != NULL)
		unacked_free(p, p->unacked);
	while (p->held != NULL) {
		struct held *h = p->held;

		held_unlink(p, h, NULL);
		free(h->dgram);
		free(h);
	}
	if (p->held_timer != 0)
		loop_cancel(p->l, p->held_timer);
	if (p->timer != 0)
		loop_cancel(p->l, p->timer);
	if (p->c.fd >= 0)
		loop_del(p->l, p->c.fd);
	swim_free(p->s);
	free(p->seen);
	buf_free(&p->out);
	buf_free(&p->strip);
	free(p);
}

int
peer_join(struct peer *p, const char *addr)
{
	int rc = swim_join(p->s, now_ms(p), addr);

	rearm(p);
	return rc;
}

static int
refuse(struct buf *why, const char **reason, const char *r, const char *fmt,
    ...)
{
	char line[256];
	va_list ap;

	*reason = r;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	buf_clear(why);
	(void)buf_append(why, line, strlen(line));
	return -1;
}

/* Keys a sender may not set: the transport writes them. */
static int
reserved_key(struct proto_str k)
{
	return proto_str_eq(k, "g") || proto_str_eq(k, "seq") ||
	    proto_str_eq(k, "ts") || proto_str_eq(k, "mac") ||
	    proto_str_eq(k, "inc");
}

/*
 * Build the datagram for m in p->out: from= our name, m's other fields
 * in their order without len, g= our group, then len last.
 */
static int
build(struct peer *p, const struct proto_msg *m, const char **reason,
    struct buf *why)
{
	char num[40];
	int i, n;

	buf_clear(&p->out);
	if (buf_append(&p->out, "ds1 from=", 9) < 0 ||
	    buf_append(&p->out, p->name, strlen(p->name)) < 0)
		goto nomem;
	for (i = 0; i < m->nfields; i++) {
		struct proto_str k = proto_key(m, i), v = proto_val(m, i);

		if (proto_str_eq(k, "from") || proto_str_eq(k, "len"))
			continue;
		if (reserved_key(k))
			return refuse(why, reason, "bad-frame", "the field "
			    "%.*s= is the transport's and may not be sent",
			    (int)k.n, k.p);
		if (buf_append(&p->out, " ", 1) < 0 ||
		    buf_append(&p->out, k.p, (size_t)(v.p + v.n - k.p)) < 0)
			goto nomem;
	}
	if (p->group[0] != '\0' && (buf_append(&p->out, " g=", 3) < 0 ||
	    buf_append(&p->out, p->group, strlen(p->group)) < 0))
		goto nomem;
	n = snprintf(num, sizeof num, " len=%llu\n",
	    (unsigned long long)m->body_len);
	if (buf_append(&p->out, num, (size_t)n) < 0 ||
	    buf_append(&p->out, m->body, (size_t)m->body_len) < 0 ||
	    buf_append(&p->out, "\n", 1) < 0)
		goto nomem;
	return 0;
nomem:
	return refuse(why, reason, "bad-frame", "out of memory");
}

int
peer_send(struct peer *p, const struct proto_msg *m, int hold,
    const char **reason, struct buf *why)
{
	struct proto_str to = proto_get(m, PF_TO), type = proto_type(m);
	struct proto_str idv = proto_get(m, PF_ID), ack;
	struct swim_member mem;
	char name[SWIM_NAME_MAX + 1], id[ID_MAX];
	size_t limit, need, at, i;
	long id_len = 0;
	int reliable;

	if (type.n >= 5 && memcmp(type.p, "swim-", 5) == 0)
		return refuse(why, reason, "bad-frame", "the types swim-* are "
		    "the membership's and may not be sent");
	if (proto_str_eq(type, "peer-ack"))
		return refuse(why, reason, "bad-frame", "the type peer-ack is "
		    "the transport's and may not be sent");
	if (idv.p != NULL) {
		id_len = proto_decode(idv.p, idv.n, id);
		if (id_len < 0 || (size_t)id_len > sizeof id)
			id_len = 0;
	}
	ack = proto_lookup(m, "ack");
	reliable = proto_str_eq(ack, "1");
	if (build(p, m, reason, why) < 0)
		return -1;
	/* The seq field and the seal must fit too. */
	need = buf_len(&p->out) + (reliable ? 5 + NUM_U64_MAXLEN : 0) +
	    (p->c.seal != NULL ? SEAL_OVERHEAD : 0);
	limit = p->c.swim.budget;
	if (need > limit)
		return refuse(why, reason, "too-big", "a frame of %zu bytes "
		    "does not fit the datagram budget of %zu bytes", need,
		    limit);
	memcpy(name, to.p, to.n);
	name[to.n] = '\0';
	at = seq_offset(buf_head(&p->out), buf_len(&p->out));
	if (strcmp(name, p->name) == 0) {
		struct proto_msg self;
		uint64_t off;
		char err[160];

		if (proto_parse_datagram(buf_head(&p->out), buf_len(&p->out),
		    SWIM_DGRAM_MAX, &self, &off, err, sizeof err) !=
		    PROTO_MSG)
			return refuse(why, reason, "bad-frame", "%s", err);
		hand_out(p, &self);
		return 0;
	}
	if (strcmp(name, "*") == 0) {
		for (i = 0; i < swim_count(p->s); i++) {
			if (swim_member_at(p->s, i, &mem) < 0 || mem.self ||
			    (mem.state != SWIM_ALIVE &&
			    mem.state != SWIM_SUSPECT))
				continue;
			if (reliable)
				(void)send_reliable(p, mem.name, mem.addr,
				    buf_head(&p->out), buf_len(&p->out), at,
				    id, (size_t)id_len, idv.p != NULL);
			else
				send_to(p, mem.addr, buf_head(&p->out),
				    buf_len(&p->out));
			p->st.msgs_out++;
		}
		return 1;
	}
	if (swim_find(p->s, name, &mem) == 0) {
		if (mem.state == SWIM_DEAD || mem.state == SWIM_LEFT) {
			p->st.unroutable++;
			return refuse(why, reason, "no-route", "no route to "
			    "%s: it %s", name, mem.state == SWIM_DEAD ?
			    "failed" : "left");
		}
		if (reliable) {
			if (send_reliable(p, name, mem.addr,
			    buf_head(&p->out), buf_len(&p->out), at, id,
			    (size_t)id_len, idv.p != NULL) < 0)
				return refuse(why, reason, "bad-frame",
				    "out of memory");
		} else {
			send_to(p, mem.addr, buf_head(&p->out),
			    buf_len(&p->out));
		}
		p->st.msgs_out++;
		return 1;
	}
	if (!hold || p->c.hold_ms <= 0) {
		p->st.unroutable++;
		return refuse(why, reason, "no-route", "no route to %s: no "
		    "such member", name);
	}
	{
		struct held *h = calloc(1, sizeof *h);

		if (h == NULL || (h->dgram = malloc(buf_len(&p->out))) ==
		    NULL) {
			free(h);
			return refuse(why, reason, "bad-frame",
			    "out of memory");
		}
		memcpy(h->to, name, sizeof h->to);
		h->len = buf_len(&p->out);
		memcpy(h->dgram, buf_head(&p->out), h->len);
		h->has_id = idv.p != NULL;
		h->id_len = (size_t)id_len;
		memcpy(h->id, id, (size_t)id_len);
		h->reliable = reliable;
		h->deadline = now_ms(p) + (uint64_t)p->c.hold_ms;
		if (p->held_tail != NULL)
			p->held_tail->next = h;
		else
			p->held = h;
		p->held_tail = h;
		p->pending += h->len;
		if (p->held_timer == 0)
			held_arm(p);
	}
	return 1;
}

size_t
peer_pending(const struct peer *p)
{
	return p->pending;
}

void
peer_leave(struct peer *p)
{
	swim_leave(p->s, now_ms(p));
	rearm(p);
}

int
peer_leave_done(const struct peer *p)
{
	return swim_leave_done(p->s);
}

const char *
peer_state_name(enum swim_state st)
{
	return st == SWIM_DEAD ? "failed" : swim_state_name(st);
}

int
peer_members_text(const struct peer *p, struct buf *b)
{
	struct swim_member m;
	char line[SWIM_NAME_MAX + SWIM_ADDR_MAX + 64];
	size_t i;
	int n;

	for (i = 0; i < swim_count(p->s); i++) {
		if (swim_member_at(p->s, i, &m) < 0)
			continue;
		n = snprintf(line, sizeof line, "%s\t%s\t%s\t%llu\n", m.name,
		    m.addr, peer_state_name(m.state),
		    (unsigned long long)m.inc);
		if (buf_append(b, line, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

int
peer_stat_line(struct buf *b, const char *key, uint64_t v)
{
	char line[96];
	int n = snprintf(line, sizeof line, "%s\t%llu\n", key,
	    (unsigned long long)v);

	return buf_append(b, line, (size_t)n);
}

int
peer_stats_text(const struct peer *p, struct buf *b)
{
	const struct swim_stats *w = swim_stats(p->s);
	const struct peer_stats *q = &p->st;
	struct swim_member m;
	uint64_t by[4] = { 0, 0, 0, 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < swim_count(p->s); i++)
		if (swim_member_at(p->s, i, &m) == 0 && m.state < 4)
			by[m.state]++;
	rc |= buf_append(b, "name\t", 5);
	rc |= buf_append(b, p->name, strlen(p->name));
	rc |= buf_append(b, "\n", 1);
	rc |= peer_stat_line(b, "incarnation", swim_incarnation(p->s));
	rc |= peer_stat_line(b, "members", swim_count(p->s));
	rc |= peer_stat_line(b, "alive", by[SWIM_ALIVE]);
	rc |= peer_stat_line(b, "suspect", by[SWIM_SUSPECT]);
	rc |= peer_stat_line(b, "failed", by[SWIM_DEAD]);
	rc |= peer_stat_line(b, "left", by[SWIM_LEFT]);
	rc |= peer_stat_line(b, "health", swim_health(p->s));
	rc |= peer_stat_line(b, "dgrams_in", w->dgrams_in);
	rc |= peer_stat_line(b, "bytes_in", w->bytes_in);
	rc |= peer_stat_line(b, "dgrams_out", w->dgrams_out);
	rc |= peer_stat_line(b, "bytes_out", w->bytes_out);
	rc |= peer_stat_line(b, "probes", w->probes);
	rc |= peer_stat_line(b, "indirect", w->indirect);
	rc |= peer_stat_line(b, "probe_fails", w->probe_fails);
	rc |= peer_stat_line(b, "nacks_in", w->nacks_in);
	rc |= peer_stat_line(b, "nacks_out", w->nacks_out);
	rc |= peer_stat_line(b, "suspicions", w->suspicions);
	rc |= peer_stat_line(b, "deaths", w->deaths);
	rc |= peer_stat_line(b, "refutations", w->refutations);
	rc |= peer_stat_line(b, "syncs", w->syncs);
	rc |= peer_stat_line(b, "bad", w->bad + q->oversize);
	rc |= peer_stat_line(b, "foreign", w->foreign);
	rc |= peer_stat_line(b, "misdirected", w->misdirected + q->misdirected);
	rc |= peer_stat_line(b, "dropped", w->dropped);
	rc |= peer_stat_line(b, "auth_fail", q->auth_fail);
	rc |= peer_stat_line(b, "replayed", q->replayed);
	rc |= peer_stat_line(b, "stale", q->stale);
	rc |= peer_stat_line(b, "msgs_in", q->msgs_in);
	rc |= peer_stat_line(b, "msgs_out", q->msgs_out);
	rc |= peer_stat_line(b, "msgs_acked", q->msgs_acked);
	rc |= peer_stat_line(b, "msgs_retried", q->msgs_retried);
	rc |= peer_stat_line(b, "msgs_failed", q->msgs_failed);
	rc |= peer_stat_line(b, "msgs_dup", q->msgs_dup);
	rc |= peer_stat_line(b, "send_errors", q->send_errors);
	return rc < 0 ? -1 : 0;
}

uint64_t
peer_bad(const struct peer *p, const char **addr, const char **why)
{
	*addr = p->bad_addr;
	*why = p->bad_why;
	return swim_stats(p->s)->bad + p->st.oversize;
}

const struct swim *
peer_swim(const struct peer *p)
{
	return p->s;
}

const struct peer_stats *
peer_stats(const struct peer *p)
{
	return &p->st;
}
