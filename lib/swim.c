/*
 * swim: SWIM membership with the Lifeguard refinements; see swim.h for the
 * protocol, the wire format and the arithmetic.
 *
 * Members live in slots of one array (a slot keeps its number while the
 * member exists), with an index sorted by name for lookups and listing,
 * and the probe order, a shuffled list of the live members' slots.  Each
 * member carries its own dissemination state: the line that describes
 * its current state is the one update about it worth sending, so "queue
 * an update" means "reset the member's send count", and a newer update
 * about a member replaces the older one for free.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "num.h"
#include "proto.h"
#include "swim.h"

#define CONFIRM_MAX 16      /* suspecters remembered: k+1, k <= 14 */
#define RELAY_MAX 64        /* indirect probes we ping for at once */
#define SEEDS_MAX 16
#define SEEN_MAX 32         /* sync requests remembered, not answered twice */
#define PULLED_MAX 8        /* strangers asked for their state lately */
#define SYNC_BURST 64       /* sync answers at once: a whole group joining */
#define SYNC_RATE 8         /* and per second after that */
/* "s NAME INC ADDR FROM\n", the longest line. */
#define LINE_MAX_LEN (2 + SWIM_NAME_MAX + 1 + NUM_U64_MAXLEN + 1 + \
    SWIM_ADDR_MAX + 1 + SWIM_NAME_MAX + 1)

enum ftype { T_PING, T_ACK, T_NACK, T_PINGREQ, T_GOSSIP, T_SYNC, T_N };
static const char *const type_names[T_N] = {
	"swim-ping", "swim-ack", "swim-nack", "swim-ping-req", "swim-gossip",
	"swim-sync"
};

struct mem {
	char name[SWIM_NAME_MAX + 1];
	char addr[SWIM_ADDR_MAX + 1];
	char from[SWIM_NAME_MAX + 1];  /* suspecter, or who declared it dead */
	size_t namelen;
	uint64_t inc;
	uint64_t since;
	uint64_t qgen;                 /* when its line was queued */
	unsigned tx;                   /* times that line was piggybacked */
	unsigned char state;
	unsigned char used;
	/* The suspicion timer, while suspect. */
	uint64_t susp_start, susp_deadline, susp_min, susp_max;
	unsigned susp_n, susp_k, nconf;
	int susp_probed;               /* we probed it since it is suspect */
	uint64_t conf[CONFIRM_MAX];    /* hashes of the suspecters' names */
};

/* An indirect probe we ping for: its ack or nack goes to the requester. */
struct relay {
	int used;
	uint64_t seq;                  /* our ping to the target */
	uint64_t req_seq;              /* the requester's id */
	uint64_t deadline;             /* nack then */
	char req_name[SWIM_NAME_MAX + 1];
	char req_addr[SWIM_ADDR_MAX + 1];
};

struct seen {
	uint64_t hash, id;
};

struct cand {
	unsigned slot, tx;
	uint64_t qgen;
};

/* One update line, as views into the datagram. */
struct upd {
	char kind;
	const char *name, *addr, *from;
	size_t namelen, addrlen, fromlen;
	uint64_t inc;
};

/* The header of a frame to send. */
struct frame {
	enum ftype type;
	const char *to;
	int has_id, has_re;
	uint64_t id, re;
	const char *target, *taddr;
};

struct swim {
	struct swim_config c;
	char name[SWIM_NAME_MAX + 1];
	char addr[SWIM_ADDR_MAX + 1];
	char group[SWIM_NAME_MAX + 1];
	size_t namelen, grouplen;
	size_t budget;                 /* budget - reserve */
	uint64_t rng, now, seq, qgen;

	struct mem *mem;
	size_t nslots, cap;            /* slots in use or freed; allocated */
	unsigned *byname;              /* count slots, sorted by name */
	size_t count;
	unsigned self;
	size_t nlive;                  /* alive or suspect, us included */
	unsigned *order;               /* live members but us, probe order */
	size_t norder, opos;
	struct cand *cand;             /* scratch */
	unsigned *pick;                /* scratch */

	int probing, acked, indirect_sent;
	char pname[SWIM_NAME_MAX + 1];
	uint64_t pseq, pindirect, pend, pfail, next_probe;
	unsigned nack_expect, nack_got;
	unsigned health;

	struct relay relay[RELAY_MAX];
	char seeds[SEEDS_MAX][SWIM_ADDR_MAX + 1];
	size_t nseeds;
	uint64_t next_join, next_gossip, next_sync;
	struct seen seen[SEEN_MAX];
	unsigned seen_pos;
	struct seen pulled[PULLED_MAX];  /* id holds the time asked */
	unsigned pulled_pos;
	uint64_t tokens, tokens_at;    /* sync answers, in thousandths */
	int leaving;

	struct buf out;
	char *body;
	struct swim_stats st;
	char err[200];
};

/* ---- small helpers ---- */

/* splitmix64: small, fast, and good enough to pick probe targets. */
static uint64_t
rnd(struct swim *s)
{
	uint64_t z = (s->rng += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static size_t
rnd_below(struct swim *s, size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd(s) % n);
}

static uint64_t
hash_name(const char *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static int
addr_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > SWIM_ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

static int
str_is(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static void
copy_str(char *dst, const char *p, size_t n)
{
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static int
is_live(int st)
{
	return st == SWIM_ALIVE || st == SWIM_SUSPECT;
}

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * ln(x) for x >= 1, without libm: halve x into [1, 2), then
 * ln(m) = 2 atanh((m-1)/(m+1)), whose series converges fast there.
 * Exact to about 1e-15, which the 1e-9 slack of the callers covers.
 */
static double
ln_ge1(double x)
{
	static const double ln2 = 0.69314718055994530942;
	double t, t2, term, sum = 0;
	int e = 0, i;

	while (x >= 2.0) {
		x /= 2.0;
		e++;
	}
	t = (x - 1.0) / (x + 1.0);
	t2 = t * t;
	term = t;
	for (i = 1; i < 64; i += 2) {
		sum += term / i;
		term *= t2;
	}
	return 2.0 * sum + e * ln2;
}

/* ---- the arithmetic ---- */

uint64_t
swim_suspicion_min(const struct swim_config *c, size_t n)
{
	uint64_t scale = 1000;

	if (n > 10)
		scale = (uint64_t)(1000.0 * ln_ge1((double)n) /
		    2.30258509299404568402 + 1e-9);
	return (uint64_t)c->suspicion_mult * scale * c->probe_interval / 1000;
}

static unsigned
suspicion_k(const struct swim_config *c, size_t n)
{
	unsigned k = c->suspicion_confirm;

	return n < (size_t)k + 2 ? 0 : k;
}

static uint64_t
timeout_for(unsigned c, unsigned k, uint64_t lo, uint64_t hi)
{
	double frac, raw;
	uint64_t t;

	if (k < 1 || c >= k)
		return lo;
	frac = ln_ge1((double)c + 1.0) / ln_ge1((double)k + 1.0);
	raw = (double)hi - frac * (double)(hi - lo);
	t = raw <= 0 ? 0 : (uint64_t)(raw + 1e-9);
	return t < lo ? lo : t;
}

uint64_t
swim_suspicion_timeout(const struct swim_config *c, size_t n,
    unsigned confirmations)
{
	uint64_t lo = swim_suspicion_min(c, n);

	return timeout_for(confirmations, suspicion_k(c, n), lo,
	    lo * c->suspicion_max_mult);
}

unsigned
swim_retransmit_limit(const struct swim_config *c, size_t n)
{
	unsigned digits = 1;   /* ceil(log10(n+1)) is the digits of n */

	while (n >= 10) {
		n /= 10;
		digits++;
	}
	return c->retransmit_mult * digits;
}

static unsigned
tx_limit(const struct swim *s)
{
	return swim_retransmit_limit(&s->c, s->nlive);
}

/* The sync interval grows with the group above 32, as in memberlist. */
static uint64_t
sync_period(const struct swim *s)
{
	uint64_t p = s->c.sync_interval;
	size_t t = 32;

	while (s->nlive > t && t < ((size_t)1 << 30)) {
		p += s->c.sync_interval;
		t *= 2;
	}
	return p;
}

static void
health_add(struct swim *s, int delta)
{
	long h = (long)s->health + delta;

	if (h < 0)
		h = 0;
	if (h > (long)s->c.awareness_max - 1)
		h = (long)s->c.awareness_max - 1;
	s->health = (unsigned)h;
}

/* ---- the member table ---- */

static int
namecmp(const struct mem *m, const char *p, size_t n)
{
	size_t k = m->namelen < n ? m->namelen : n;
	int c = memcmp(m->name, p, k);

	if (c != 0)
		return c;
	return m->namelen < n ? -1 : m->namelen > n;
}

/* The slot of name, or -1; *pos is where it is or would go in byname. */
static long
lookup(const struct swim *s, const char *p, size_t n, size_t *pos)
{
	size_t lo = 0, hi = s->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = namecmp(&s->mem[s->byname[mid]], p, n);

		if (c == 0) {
			if (pos != NULL)
				*pos = mid;
			return (long)s->byname[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos != NULL)
		*pos = lo;
	return -1;
}

static int
grow(struct swim *s)
{
	size_t ncap = s->cap * 2;
	void *p;

	if (ncap > s->c.max_members)
		ncap = s->c.max_members;
	if (ncap <= s->cap)
		return -1;
	if ((p = realloc(s->mem, ncap * sizeof *s->mem)) == NULL)
		return -1;
	s->mem = p;
	if ((p = realloc(s->byname, ncap * sizeof *s->byname)) == NULL)
		return -1;
	s->byname = p;
	if ((p = realloc(s->order, ncap * sizeof *s->order)) == NULL)
		return -1;
	s->order = p;
	if ((p = realloc(s->cand, ncap * sizeof *s->cand)) == NULL)
		return -1;
	s->cand = p;
	if ((p = realloc(s->pick, ncap * sizeof *s->pick)) == NULL)
		return -1;
	s->pick = p;
	s->cap = ncap;
	return 0;
}

static void
order_insert(struct swim *s, unsigned slot)
{
	/* Somewhere in what is left of this round, so it is probed in it. */
	size_t at = s->opos + rnd_below(s, s->norder - s->opos + 1);

	memmove(s->order + at + 1, s->order + at,
	    (s->norder - at) * sizeof *s->order);
	s->order[at] = slot;
	s->norder++;
}

static void
order_remove(struct swim *s, unsigned slot)
{
	size_t i;

	for (i = 0; i < s->norder; i++)
		if (s->order[i] == slot)
			break;
	if (i == s->norder)
		return;
	memmove(s->order + i, s->order + i + 1,
	    (s->norder - i - 1) * sizeof *s->order);
	s->norder--;
	if (i < s->opos)
		s->opos--;
}

static void
set_state(struct swim *s, unsigned slot, int st, uint64_t now)
{
	struct mem *m = &s->mem[slot];
	int was = is_live(m->state), will = is_live(st);

	m->state = (unsigned char)st;
	m->since = now;
	if (was && !will) {
		s->nlive--;
		if (slot != s->self)
			order_remove(s, slot);
	} else if (!was && will) {
		s->nlive++;
		if (slot != s->self)
			order_insert(s, slot);
	}
}

/* Make its current line news again. */
static void
queue(struct swim *s, unsigned slot)
{
	s->mem[slot].tx = 0;
	s->mem[slot].qgen = ++s->qgen;
}

static void
remove_member(struct swim *s, unsigned slot)
{
	struct mem *m = &s->mem[slot];
	size_t pos;

	if (is_live(m->state)) {
		s->nlive--;
		order_remove(s, slot);
	}
	if (lookup(s, m->name, m->namelen, &pos) == (long)slot) {
		memmove(s->byname + pos, s->byname + pos + 1,
		    (s->count - pos - 1) * sizeof *s->byname);
		s->count--;
	}
	m->used = 0;
}

/* Make room in a full table by forgetting the oldest tombstone. */
static int
evict_tombstone(struct swim *s)
{
	long best = -1;
	size_t i;

	for (i = 0; i < s->nslots; i++) {
		struct mem *m = &s->mem[i];

		if (!m->used || is_live(m->state) || i == s->self)
			continue;
		if (best < 0 || m->since < s->mem[best].since)
			best = (long)i;
	}
	if (best < 0)
		return -1;
	remove_member(s, (unsigned)best);
	return 0;
}

static long
add_member(struct swim *s, uint64_t now, const struct upd *u, int st)
{
	struct mem *m;
	size_t pos, slot;

	if (s->count >= s->c.max_members && evict_tombstone(s) < 0)
		return -1;
	for (slot = 0; slot < s->nslots; slot++)
		if (!s->mem[slot].used)
			break;
	if (slot == s->nslots) {
		if (s->nslots == s->cap && grow(s) < 0)
			return -1;
		s->nslots++;
	}
	(void)lookup(s, u->name, u->namelen, &pos);
	m = &s->mem[slot];
	memset(m, 0, sizeof *m);
	copy_str(m->name, u->name, u->namelen);
	m->namelen = u->namelen;
	copy_str(m->addr, u->addr, u->addrlen);
	if (u->from != NULL)
		copy_str(m->from, u->from, u->fromlen);
	m->inc = u->inc;
	m->used = 1;
	m->state = SWIM_DEAD;          /* not live, so set_state counts it */
	memmove(s->byname + pos + 1, s->byname + pos,
	    (s->count - pos) * sizeof *s->byname);
	s->byname[pos] = (unsigned)slot;
	s->count++;
	set_state(s, (unsigned)slot, st, now);
	m->tx = UINT_MAX;            /* no news until queued */
	return (long)slot;
}

static void
to_member(const struct swim *s, unsigned slot, struct swim_member *out)
{
	const struct mem *m = &s->mem[slot];

	memcpy(out->name, m->name, sizeof out->name);
	memcpy(out->addr, m->addr, sizeof out->addr);
	out->state = (enum swim_state)m->state;
	out->inc = m->inc;
	out->since = m->since;
	out->self = slot == s->self;
}

static void
notify(struct swim *s, enum swim_event ev, unsigned slot)
{
	struct swim_member info;

	if (s->c.event == NULL)
		return;
	to_member(s, slot, &info);
	s->c.event(s->c.ctx, ev, &info);
}

static size_t
others_live(const struct swim *s)
{
	return s->nlive - (is_live(s->mem[s->self].state) ? 1 : 0);
}

/* ---- suspicion ---- */

static void
suspect_start(struct swim *s, uint64_t now, unsigned slot, const char *from,
    size_t fromlen)
{
	struct mem *m = &s->mem[slot];
	size_t n = s->nlive + (is_live(m->state) ? 0 : 1);

	m->susp_start = now;
	m->susp_k = suspicion_k(&s->c, n);
	m->susp_min = swim_suspicion_min(&s->c, n);
	m->susp_max = m->susp_min * s->c.suspicion_max_mult;
	m->susp_n = 0;
	m->susp_probed = 0;
	m->nconf = 1;
	m->conf[0] = hash_name(from, fromlen);
	m->susp_deadline = now + timeout_for(0, m->susp_k, m->susp_min,
	    m->susp_max);
	copy_str(m->from, from, fromlen);
	s->st.suspicions++;
}

/* 1 when from is a new, independent suspecter. */
static int
suspect_confirm(struct swim *s, unsigned slot, const char *from,
    size_t fromlen)
{
	struct mem *m = &s->mem[slot];
	uint64_t h = hash_name(from, fromlen);
	unsigned i;

	if (m->susp_n >= m->susp_k || m->nconf >= CONFIRM_MAX)
		return 0;
	for (i = 0; i < m->nconf; i++)
		if (m->conf[i] == h)
			return 0;
	m->conf[m->nconf++] = h;
	m->susp_n++;
	m->susp_deadline = m->susp_start + timeout_for(m->susp_n, m->susp_k,
	    m->susp_min, m->susp_max);
	copy_str(m->from, from, fromlen);
	return 1;
}

/* ---- sending ---- */

static size_t
fmt_line(const struct mem *m, char *dst)
{
	static const char kinds[] = "asdl";
	char *p = dst;

	*p++ = kinds[m->state];
	*p++ = ' ';
	memcpy(p, m->name, m->namelen);
	p += m->namelen;
	*p++ = ' ';
	p += num_fmt_u64(p, m->inc);
	*p++ = ' ';
	memcpy(p, m->addr, strlen(m->addr));
	p += strlen(m->addr);
	if (m->state == SWIM_SUSPECT || m->state == SWIM_DEAD) {
		*p++ = ' ';
		memcpy(p, m->from, strlen(m->from));
		p += strlen(m->from);
	}
	*p++ = '\n';
	return (size_t)(p - dst);
}

static void
hdr_build(struct swim *s, const struct frame *f, struct proto_hdr *h,
    struct proto_kv *kv, char *id, char *re, char *inc)
{
	size_t nkv = 0;

	memset(h, 0, sizeof *h);
	h->from = s->name;
	h->to = f->to;
	h->type = type_names[f->type];
	if (f->has_re) {
		re[num_fmt_u64(re, f->re)] = '\0';
		h->re = re;
	}
	if (f->has_id) {
		id[num_fmt_u64(id, f->id)] = '\0';
		h->id = id;
	}
	if (s->grouplen > 0) {
		kv[nkv].key = "g";
		kv[nkv].val = s->group;
		kv[nkv++].val_len = s->grouplen;
	}
	if (!s->leaving) {
		inc[num_fmt_u64(inc, s->mem[s->self].inc)] = '\0';
		kv[nkv].key = "inc";
		kv[nkv].val = inc;
		kv[nkv++].val_len = strlen(inc);
	}
	if (f->target != NULL) {
		kv[nkv].key = "target";
		kv[nkv].val = f->target;
		kv[nkv++].val_len = strlen(f->target);
		kv[nkv].key = "addr";
		kv[nkv].val = f->taddr;
		kv[nkv++].val_len = strlen(f->taddr);
	}
	h->extra = kv;
	h->nextra = nkv;
}

/* Bytes left for the body once the header of f is written. */
static size_t
body_room(struct swim *s, const struct frame *f)
{
	struct proto_hdr h;
	struct proto_kv kv[4];
	char id[NUM_U64_MAXLEN + 1], re[NUM_U64_MAXLEN + 1];
	char inc[NUM_U64_MAXLEN + 1];
	size_t hl;

	hdr_build(s, f, &h, kv, id, re, inc);
	buf_clear(&s->out);
	/* No body is over 99999 bytes, so five digits bound "len=". */
	if (proto_encode_head(&s->out, &h, 99999) != 0)
		return 0;
	hl = buf_len(&s->out);
	buf_clear(&s->out);
	return hl + 1 < s->budget ? s->budget - hl - 1 : 0;
}

static void
send_frame(struct swim *s, const char *addr, const struct frame *f,
    const char *body, size_t n)
{
	struct proto_hdr h;
	struct proto_kv kv[4];
	char id[NUM_U64_MAXLEN + 1], re[NUM_U64_MAXLEN + 1];
	char inc[NUM_U64_MAXLEN + 1];

	hdr_build(s, f, &h, kv, id, re, inc);
	buf_clear(&s->out);
	if (proto_encode(&s->out, &h, body, n) != 0 ||
	    buf_len(&s->out) > s->budget) {
		s->st.oversize++;
		buf_clear(&s->out);
		return;
	}
	s->st.dgrams_out++;
	s->st.bytes_out += buf_len(&s->out);
	s->c.send(s->c.ctx, addr, buf_head(&s->out), buf_len(&s->out));
	buf_clear(&s->out);
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->tx != y->tx)
		return x->tx < y->tx ? -1 : 1;
	if (x->qgen != y->qgen)
		return x->qgen > y->qgen ? -1 : 1;
	return 0;
}

/*
 * Fill dst with the freshest news that fits: the lines sent the fewest
 * times first, and of those the newest.  prio (or -1) goes first whether
 * it is news or not: it is the line about the member the datagram goes to,
 * when we think it suspect or worse, so that it can refute at once.
 */
static size_t
piggyback(struct swim *s, char *dst, size_t room, long prio)
{
	unsigned limit = tx_limit(s);
	char line[LINE_MAX_LEN];
	size_t n = 0, nc = 0, i, len;

	if (prio >= 0) {
		struct mem *m = &s->mem[prio];

		len = fmt_line(m, line);
		if (len <= room) {
			memcpy(dst, line, len);
			n = len;
			if (m->tx < limit) {
				m->tx++;
				s->st.updates_out++;
			}
		}
	}
	for (i = 0; i < s->nslots; i++) {
		struct mem *m = &s->mem[i];

		if (!m->used || m->tx >= limit || (long)i == prio)
			continue;
		s->cand[nc].slot = (unsigned)i;
		s->cand[nc].tx = m->tx;
		s->cand[nc++].qgen = m->qgen;
	}
	if (nc > 1)
		qsort(s->cand, nc, sizeof *s->cand, cand_cmp);
	for (i = 0; i < nc && room - n >= 10; i++) {
		struct mem *m = &s->mem[s->cand[i].slot];

		len = fmt_line(m, line);
		if (len > room - n)
			continue;
		memcpy(dst + n, line, len);
		n += len;
		m->tx++;
		s->st.updates_out++;
	}
	return n;
}

static int
news_pending(const struct swim *s)
{
	unsigned limit = tx_limit(s);
	size_t i;

	for (i = 0; i < s->nslots; i++)
		if (s->mem[i].used && s->mem[i].tx < limit)
			return 1;
	return 0;
}

/* Send f to addr with what news fits; an empty gossip is not sent. */
static void
send_news(struct swim *s, const char *addr, const struct frame *f,
    long prio)
{
	size_t room = body_room(s, f);
	size_t n = piggyback(s, s->body, room, prio);

	if (n == 0 && f->type == T_GOSSIP)
		return;
	send_frame(s, addr, f, s->body, n);
}

/* The member the line is about, when we think it suspect or worse. */
static long
buddy(const struct swim *s, const char *name, size_t n)
{
	long slot = lookup(s, name, n, NULL);

	if (slot < 0 || (unsigned)slot == s->self ||
	    s->mem[slot].state == SWIM_ALIVE)
		return -1;
	return slot;
}

/*
 * Our whole table, ourselves first, in as many datagrams as it takes; or
 * only our own line, when all we want is the other side's state.
 */
static void
send_state(struct swim *s, const char *addr, const struct frame *f,
    int full)
{
	size_t room = body_room(s, f), n = 0, i;
	char line[LINE_MAX_LEN];

	for (i = 0; i <= (full ? s->count : 0); i++) {
		unsigned slot = i == 0 ? s->self : s->byname[i - 1];
		size_t len;

		if (i > 0 && slot == s->self)
			continue;
		len = fmt_line(&s->mem[slot], line);
		if (n > 0 && n + len > room) {
			send_frame(s, addr, f, s->body, n);
			n = 0;
		}
		if (len > room) {
			s->st.oversize++;
			continue;
		}
		memcpy(s->body + n, line, len);
		n += len;
	}
	if (n > 0)
		send_frame(s, addr, f, s->body, n);
}

static void
sync_to(struct swim *s, const char *addr, const char *to, int full)
{
	struct frame f;

	memset(&f, 0, sizeof f);
	f.type = T_SYNC;
	f.to = to;
	f.has_id = 1;
	f.id = ++s->seq;
	s->st.syncs++;
	send_state(s, addr, &f, full);
}

/* ---- probing ---- */

/*
 * The suspect we heard of first and have not probed since.  Probing it
 * out of turn settles the suspicion early: our ping carries the suspicion
 * to it, so a live member refutes before it acks, and the ack carries its
 * new incarnation back; a dead one fails the probe, and our confirmation
 * brings every timer down to its minimum.
 */
static struct mem *
first_suspect(struct swim *s)
{
	struct mem *best = NULL;
	size_t i;

	for (i = 0; i < s->nslots; i++) {
		struct mem *m = &s->mem[i];

		if (m->used && m->state == SWIM_SUSPECT && !m->susp_probed &&
		    (best == NULL || m->susp_start < best->susp_start))
			best = m;
	}
	return best;
}

static void
probe_start(struct swim *s, uint64_t now)
{
	struct frame f;
	struct mem *m = NULL;
	unsigned mult = s->health + 1;

	if (s->norder == 0) {
		s->next_probe = now + s->c.probe_interval;
		return;
	}
	if ((m = first_suspect(s)) != NULL)
		m->susp_probed = 1;
	else if (s->opos >= s->norder) {
		size_t i;

		for (i = s->norder - 1; i > 0; i--) {
			size_t j = rnd_below(s, i + 1);
			unsigned t = s->order[i];

			s->order[i] = s->order[j];
			s->order[j] = t;
		}
		s->opos = 0;
	}
	if (m == NULL)
		m = &s->mem[s->order[s->opos++]];
	memcpy(s->pname, m->name, sizeof s->pname);
	s->probing = 1;
	s->acked = 0;
	s->indirect_sent = 0;
	s->nack_expect = 0;
	s->nack_got = 0;
	s->pseq = ++s->seq;
	s->pindirect = now + (uint64_t)s->c.probe_timeout * mult;
	s->pend = now + (uint64_t)s->c.probe_interval * mult;
	/* The verdict comes one probe timeout after the indirect probes
	 * went out (their helpers nack at 4/5 of it), not at the end of a
	 * long period: the next probe still waits for the period. */
	s->pfail = min64(s->pend, now + 2 * (uint64_t)s->c.probe_timeout *
	    mult);
	s->st.probes++;
	memset(&f, 0, sizeof f);
	f.type = T_PING;
	f.to = m->name;
	f.has_id = 1;
	f.id = s->pseq;
	send_news(s, m->addr, &f, m->state == SWIM_SUSPECT ?
	    (long)(m - s->mem) : -1);
}

/* Up to k random live members but us and except; returns how many. */
static size_t
pick_members(struct swim *s, size_t k, long except, int alive_only,
    uint64_t now, uint64_t dead_for)
{
	size_t n = 0, i;

	for (i = 0; i < s->nslots; i++) {
		const struct mem *m = &s->mem[i];

		if (!m->used || i == s->self || (long)i == except)
			continue;
		if (alive_only ? m->state != SWIM_ALIVE :
		    !(is_live(m->state) || (m->state == SWIM_DEAD &&
		    now - m->since < dead_for)))
			continue;
		s->pick[n++] = (unsigned)i;
	}
	for (i = 0; i < k && i < n; i++) {
		size_t j = i + rnd_below(s, n - i);
		unsigned t = s->pick[i];

		s->pick[i] = s->pick[j];
		s->pick[j] = t;
	}
	return k < n ? k : n;
}

static void
probe_indirect(struct swim *s, uint64_t now)
{
	long target = lookup(s, s->pname, strlen(s->pname), NULL);
	struct frame f;
	size_t n, i;

	s->indirect_sent = 1;
	if (target < 0 || !is_live(s->mem[target].state))
		return;
	/* Ask again ourselves too, in case only a datagram was lost: the
	 * analogue of memberlist's TCP ping, which a UDP peer cannot do. */
	memset(&f, 0, sizeof f);
	f.type = T_PING;
	f.to = s->mem[target].name;
	f.has_id = 1;
	f.id = s->pseq;
	send_news(s, s->mem[target].addr, &f,
	    s->mem[target].state == SWIM_SUSPECT ? target : -1);
	n = pick_members(s, s->c.indirect_checks, target, 1, now, 0);
	if (n > 0)
		s->st.indirect++;
	memset(&f, 0, sizeof f);
	f.type = T_PINGREQ;
	f.has_id = 1;
	f.id = s->pseq;
	f.target = s->mem[target].name;
	f.taddr = s->mem[target].addr;
	for (i = 0; i < n; i++) {
		f.to = s->mem[s->pick[i]].name;
		send_news(s, s->mem[s->pick[i]].addr, &f, -1);
	}
	s->nack_expect = (unsigned)n;
}

static void
probe_finish(struct swim *s, uint64_t now)
{
	long target = lookup(s, s->pname, strlen(s->pname), NULL);
	struct mem *m;

	s->probing = 0;
	s->next_probe = s->pend;
	if (target < 0 || !is_live(s->mem[target].state))
		return;      /* it left or died meanwhile: nobody's fault */
	if (s->acked) {
		health_add(s, -1);
		return;
	}
	s->st.probe_fails++;
	if (s->nack_expect > 0)
		health_add(s, (int)(s->nack_expect - s->nack_got));
	else
		health_add(s, 1);
	m = &s->mem[target];
	if (m->state == SWIM_ALIVE) {
		suspect_start(s, now, (unsigned)target, s->name, s->namelen);
		set_state(s, (unsigned)target, SWIM_SUSPECT, now);
		queue(s, (unsigned)target);
	} else if (suspect_confirm(s, (unsigned)target, s->name,
	    s->namelen)) {
		queue(s, (unsigned)target);
	}
}

/* ---- merging updates ---- */

static void
about_self(struct swim *s, const struct upd *u)
{
	struct mem *me = &s->mem[s->self];
	int refute = 0, moved = !str_is(u->addr, u->addrlen, me->addr);

	switch (u->kind) {
	case 'a':
		/* A previous run of ours, or someone else with our name. */
		refute = u->inc > me->inc || (u->inc == me->inc &&
		    (me->state != SWIM_ALIVE || moved));
		if (refute && moved)
			s->st.conflicts++;
		break;
	case 's':
	case 'd':
		refute = u->inc >= me->inc;
		break;
	case 'l':
		refute = u->inc > me->inc || (u->inc == me->inc &&
		    !s->leaving);
		break;
	}
	if (!refute)
		return;
	if (u->inc >= SWIM_INC_MAX) {
		s->st.dropped++;     /* cannot go higher; only a forger gets here */
		return;
	}
	me->inc = u->inc + 1;
	queue(s, s->self);
	if (!s->leaving && (u->kind == 's' || u->kind == 'd')) {
		long by = lookup(s, u->from, u->fromlen, NULL);

		s->st.refutations++;
		health_add(s, 1);
		/* The suspecter's timer started first: tell it at once. */
		if (by >= 0 && (unsigned)by != s->self &&
		    is_live(s->mem[by].state)) {
			struct frame f;

			memset(&f, 0, sizeof f);
			f.type = T_GOSSIP;
			f.to = s->mem[by].name;
			send_news(s, s->mem[by].addr, &f, -1);
		}
	}
}

static void
set_addr(struct mem *m, const struct upd *u)
{
	copy_str(m->addr, u->addr, u->addrlen);
}

static void
set_from(struct mem *m, const struct upd *u)
{
	if (u->from != NULL)
		copy_str(m->from, u->from, u->fromlen);
}

/*
 * Merge one update.  Every change is news to pass on, even a member first
 * heard of in someone's full state: when a whole group starts at once,
 * the early joiners hear of the later ones only by gossip, and gossip
 * needs all the forwarders it can get to reach everyone.
 */
static void
merge(struct swim *s, uint64_t now, const struct upd *u, int via_sync)
{
	long slot = lookup(s, u->name, u->namelen, NULL);
	struct mem *m;
	int old, moved;

	s->st.updates_in++;
	if (slot >= 0 && (unsigned)slot == s->self) {
		about_self(s, u);
		return;
	}
	if (slot < 0) {
		int st = u->kind == 'a' ? SWIM_ALIVE : u->kind == 's' ?
		    SWIM_SUSPECT : u->kind == 'd' ? SWIM_DEAD : SWIM_LEFT;

		if ((slot = add_member(s, now, u, st)) < 0) {
			s->st.dropped++;
			return;
		}
		if (st == SWIM_SUSPECT)
			suspect_start(s, now, (unsigned)slot, u->from,
			    u->fromlen);
		if (is_live(st)) {
			queue(s, (unsigned)slot);
			notify(s, SWIM_EV_JOIN, (unsigned)slot);
		}
		return;
	}
	m = &s->mem[slot];
	old = m->state;
	if (u->inc < m->inc)
		return;
	/*
	 * A death heard in someone's full state is only a suspicion here
	 * (as in memberlist): after a partition heals, each side's state
	 * says the other side is dead, and the members so named must get
	 * the chance to refute instead of being killed on the spot.
	 */
	if (via_sync && u->kind == 'd' && is_live(old)) {
		struct upd su = *u;

		su.kind = 's';
		merge(s, now, &su, 0);
		s->st.updates_in--;
		return;
	}
	switch (u->kind) {
	case 'a':
		if (u->inc == m->inc)
			return;
		moved = !str_is(u->addr, u->addrlen, m->addr);
		m->inc = u->inc;
		set_addr(m, u);
		if (old != SWIM_ALIVE)
			set_state(s, (unsigned)slot, SWIM_ALIVE, now);
		queue(s, (unsigned)slot);
		if (old == SWIM_DEAD)
			notify(s, SWIM_EV_RECOVER, (unsigned)slot);
		else if (old == SWIM_LEFT)
			notify(s, SWIM_EV_JOIN, (unsigned)slot);
		else if (moved)
			notify(s, SWIM_EV_UPDATE, (unsigned)slot);
		break;
	case 's':
		/*
		 * Suspect at a higher incarnation than the suspicion we hold:
		 * it refuted that one and is suspected anew, so the timer
		 * starts again; at the same one, another suspecter confirms.
		 */
		if (old == SWIM_ALIVE ||
		    (old == SWIM_SUSPECT && u->inc > m->inc)) {
			m->inc = u->inc;
			suspect_start(s, now, (unsigned)slot, u->from,
			    u->fromlen);
			set_state(s, (unsigned)slot, SWIM_SUSPECT, now);
			queue(s, (unsigned)slot);
		} else if (old == SWIM_SUSPECT) {
			if (suspect_confirm(s, (unsigned)slot, u->from,
			    u->fromlen))
				queue(s, (unsigned)slot);
		}
		break;
	case 'd':
		if (old == SWIM_DEAD || old == SWIM_LEFT)
			return;
		m->inc = u->inc;
		set_from(m, u);
		set_state(s, (unsigned)slot, SWIM_DEAD, now);
		queue(s, (unsigned)slot);
		s->st.deaths++;
		notify(s, SWIM_EV_FAIL, (unsigned)slot);
		break;
	case 'l':
		if (old == SWIM_LEFT)
			return;
		m->inc = u->inc;
		set_state(s, (unsigned)slot, SWIM_LEFT, now);
		queue(s, (unsigned)slot);
		notify(s, SWIM_EV_LEAVE, (unsigned)slot);
		break;
	}
}

/*
 * A datagram straight from a member, with inc=N in its header, says that
 * it is alive at incarnation N: as good as its own alive line, so it
 * settles any older suspicion (or death) on the spot.  Only when it comes
 * from the address we know, though: a member that came back elsewhere
 * must be learnt from its own line, which carries the new address (taking
 * N with the old one would make us ignore that line, of the same N).
 */
static void
sender_alive(struct swim *s, uint64_t now, const char *name, size_t n,
    uint64_t inc, const char *from_addr)
{
	long slot = lookup(s, name, n, NULL);
	char addr[SWIM_ADDR_MAX + 1];
	struct upd u;

	if (slot < 0 || (unsigned)slot == s->self ||
	    inc <= s->mem[slot].inc || strcmp(s->mem[slot].addr, from_addr) != 0)
		return;
	memcpy(addr, s->mem[slot].addr, sizeof addr);
	memset(&u, 0, sizeof u);
	u.kind = 'a';
	u.name = name;
	u.namelen = n;
	u.inc = inc;
	u.addr = addr;
	u.addrlen = strlen(addr);
	merge(s, now, &u, 0);
	s->st.updates_in--;
}

/* ---- receiving ---- */

/* One line at p (n bytes to the end of the body); NULL or why not. */
static const char *
parse_line(const char *p, size_t n, struct upd *u, size_t *used)
{
	const char *e = memchr(p, '\n', n), *q = p, *tok[6];
	size_t tl[6], nt = 0;

	if (e == NULL)
		return "a line without LF";
	for (;;) {
		const char *sp = memchr(q, ' ', (size_t)(e - q));
		const char *te = sp != NULL ? sp : e;

		if (nt == 6)
			return "too many tokens";
		if (te == q)
			return "an empty token";
		tok[nt] = q;
		tl[nt++] = (size_t)(te - q);
		if (sp == NULL)
			break;
		q = sp + 1;
	}
	if (tl[0] != 1 || memchr("asdl", tok[0][0], 4) == NULL)
		return "an unknown kind of line";
	u->kind = tok[0][0];
	if (nt != (u->kind == 's' || u->kind == 'd' ? 5u : 4u))
		return "a line with the wrong number of tokens";
	if (!proto_name_ok(tok[1], tl[1]))
		return "a bad name";
	if (num_parse_u64(tok[2], tl[2], SWIM_INC_MAX, NUM_CANON, &u->inc) !=
	    NUM_OK)
		return "a bad incarnation";
	if (!addr_ok(tok[3], tl[3]))
		return "a bad address";
	u->name = tok[1];
	u->namelen = tl[1];
	u->addr = tok[3];
	u->addrlen = tl[3];
	u->from = NULL;
	u->fromlen = 0;
	if (nt == 5) {
		if (!proto_name_ok(tok[4], tl[4]))
			return "a bad suspecter name";
		u->from = tok[4];
		u->fromlen = tl[4];
	}
	*used = (size_t)(e - p) + 1;
	return NULL;
}

static int
bad(struct swim *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	s->st.bad++;
	return SWIM_BAD;
}

static int
need_seq(const struct proto_msg *m, enum proto_wk wk, uint64_t *out)
{
	struct proto_str v = proto_get(m, wk);

	return v.p != NULL &&
	    num_parse_u64(v.p, v.n, UINT64_MAX, NUM_CANON, out) == NUM_OK;
}

static void
send_reply(struct swim *s, const char *addr, enum ftype type,
    const char *to, uint64_t re, long prio)
{
	struct frame f;

	memset(&f, 0, sizeof f);
	f.type = type;
	f.to = to;
	f.has_re = 1;
	f.re = re;
	send_news(s, addr, &f, prio);
}

static void
on_ack(struct swim *s, uint64_t re)
{
	size_t i;

	if (s->probing && re == s->pseq) {
		s->acked = 1;
		return;
	}
	for (i = 0; i < RELAY_MAX; i++) {
		struct relay *r = &s->relay[i];

		if (r->used && r->seq == re) {
			send_reply(s, r->req_addr, T_ACK, r->req_name,
			    r->req_seq, -1);
			r->used = 0;
			return;
		}
	}
}

static void
on_ping_req(struct swim *s, uint64_t now, const char *from_addr,
    const char *from, uint64_t id, const char *target, const char *taddr)
{
	struct relay *r = NULL;
	struct frame f;
	size_t i;

	if (strcmp(target, s->name) == 0) {
		send_reply(s, from_addr, T_ACK, from, id, -1);
		return;
	}
	for (i = 0; i < RELAY_MAX && r == NULL; i++)
		if (!s->relay[i].used)
			r = &s->relay[i];
	if (r == NULL || s->leaving) {
		s->st.dropped++;
		return;
	}
	r->used = 1;
	r->seq = ++s->seq;
	r->req_seq = id;
	r->deadline = now + (s->c.probe_timeout * 4 + 4) / 5;
	snprintf(r->req_name, sizeof r->req_name, "%s", from);
	snprintf(r->req_addr, sizeof r->req_addr, "%s", from_addr);
	s->st.relayed++;
	memset(&f, 0, sizeof f);
	f.type = T_PING;
	f.to = target;
	f.has_id = 1;
	f.id = r->seq;
	send_news(s, taddr, &f, buddy(s, target, strlen(target)));
}

static int
seen_sync(struct swim *s, const char *from, uint64_t id)
{
	uint64_t h = hash_name(from, strlen(from));
	size_t i;

	for (i = 0; i < SEEN_MAX; i++)
		if (s->seen[i].hash == h && s->seen[i].id == id)
			return 1;
	s->seen[s->seen_pos].hash = h;
	s->seen[s->seen_pos].id = id;
	s->seen_pos = (s->seen_pos + 1) % SEEN_MAX;
	return 0;
}

/* Take one from the bucket that bounds the syncs others make us send. */
static int
take_token(struct swim *s, uint64_t now)
{
	if (now - s->tokens_at > SYNC_BURST * 1000)
		s->tokens = SYNC_BURST * 1000;
	else
		s->tokens += (now - s->tokens_at) * SYNC_RATE;
	if (s->tokens > SYNC_BURST * 1000)
		s->tokens = SYNC_BURST * 1000;
	s->tokens_at = now;
	if (s->tokens < 1000) {
		s->st.dropped++;
		return 0;
	}
	s->tokens -= 1000;
	return 1;
}

static void
on_sync(struct swim *s, uint64_t now, const char *from_addr,
    const char *from, uint64_t id)
{
	struct frame f;

	if (seen_sync(s, from, id) || !take_token(s, now))
		return;
	s->st.sync_replies++;
	memset(&f, 0, sizeof f);
	f.type = T_SYNC;
	f.to = from;
	f.has_re = 1;
	f.re = id;
	send_state(s, from_addr, &f, 1);
}

/*
 * A member of the group we have not heard of (the gossip that announced
 * it missed us) has just talked to us: ask it for its state, sending only
 * our own line, once a second at most per name.
 */
static void
pull_stranger(struct swim *s, uint64_t now, const char *from_addr,
    const char *name)
{
	uint64_t h = hash_name(name, strlen(name));
	size_t i;

	if (s->leaving)
		return;
	for (i = 0; i < PULLED_MAX; i++)
		if (s->pulled[i].hash == h && now - s->pulled[i].id < 1000)
			return;
	if (!take_token(s, now))
		return;
	s->pulled[s->pulled_pos].hash = h;
	s->pulled[s->pulled_pos].id = now;
	s->pulled_pos = (s->pulled_pos + 1) % PULLED_MAX;
	sync_to(s, from_addr, name, 0);
}

static uint64_t
clock_at(struct swim *s, uint64_t now)
{
	if (now < s->now)
		now = s->now;
	s->now = now;
	return now;
}

int
swim_recv(struct swim *s, uint64_t now, const char *from_addr,
    const void *buf, size_t len)
{
	struct proto_msg m;
	struct proto_str g, type, from, to, v;
	char perr[160], from_name[SWIM_NAME_MAX + 1];
	char target[SWIM_NAME_MAX + 1], taddr[3 * SWIM_ADDR_MAX + 1];
	uint64_t err_off, id = 0, re = 0, inc = 0;
	int t, has_id = 0, has_re = 0, has_inc = 0;
	size_t off, used;
	struct upd u;
	const char *why;

	now = clock_at(s, now);
	s->st.dgrams_in++;
	s->st.bytes_in += len;
	if (len == 0 || len > SWIM_DGRAM_MAX)
		return bad(s, "a datagram of %zu bytes", len);
	if (proto_parse_datagram(buf, len, SWIM_DGRAM_MAX, &m, &err_off,
	    perr, sizeof perr) != PROTO_MSG)
		return bad(s, "byte %llu: %s", (unsigned long long)err_off,
		    perr);
	g = proto_lookup(&m, "g");
	if (g.p == NULL ? s->grouplen != 0 :
	    !str_is(g.p, g.n, s->group)) {
		snprintf(s->err, sizeof s->err, "another group's datagram");
		s->st.foreign++;
		return SWIM_FOREIGN;
	}
	type = proto_type(&m);
	if (type.n < 5 || memcmp(type.p, "swim-", 5) != 0) {
		s->st.not_mine++;
		return SWIM_NOT_MINE;
	}
	for (t = 0; t < T_N; t++)
		if (str_is(type.p, type.n, type_names[t]))
			break;
	if (t == T_N)
		return bad(s, "unknown type %.*s", (int)type.n, type.p);
	if (from_addr == NULL || !addr_ok(from_addr, strlen(from_addr)))
		return bad(s, "a bad source address");
	from = proto_get(&m, PF_FROM);
	to = proto_get(&m, PF_TO);
	copy_str(from_name, from.p, from.n);
	if (str_is(from.p, from.n, s->name) ||
	    !(str_is(to.p, to.n, s->name) ||
	    (t == T_SYNC && str_is(to.p, to.n, "*")))) {
		snprintf(s->err, sizeof s->err, "from=%s to=%.*s is not for us",
		    from_name, (int)to.n, to.p);
		s->st.misdirected++;
		return SWIM_DROP;
	}
	if (proto_get(&m, PF_ID).p != NULL) {
		if (!need_seq(&m, PF_ID, &id))
			return bad(s, "a bad id");
		has_id = 1;
	}
	if (proto_get(&m, PF_RE).p != NULL) {
		if (!need_seq(&m, PF_RE, &re))
			return bad(s, "a bad re");
		has_re = 1;
	}
	if ((v = proto_lookup(&m, "inc")).p != NULL) {
		if (num_parse_u64(v.p, v.n, SWIM_INC_MAX, NUM_CANON, &inc) !=
		    NUM_OK)
			return bad(s, "a bad inc");
		has_inc = 1;
	}
	if ((t == T_PING || t == T_PINGREQ) && !has_id)
		return bad(s, "%s without an id", type_names[t]);
	if ((t == T_ACK || t == T_NACK) && !has_re)
		return bad(s, "%s without re", type_names[t]);
	if (t == T_SYNC && has_id == has_re)
		return bad(s, "swim-sync needs one of id and re");
	if (t == T_PINGREQ) {
		long n;

		v = proto_lookup(&m, "target");
		if (v.p == NULL || !proto_name_ok(v.p, v.n))
			return bad(s, "swim-ping-req without a good target");
		copy_str(target, v.p, v.n);
		v = proto_lookup(&m, "addr");
		if (v.p == NULL || v.n > 3 * SWIM_ADDR_MAX ||
		    (n = proto_decode(v.p, v.n, taddr)) < 0 ||
		    !addr_ok(taddr, (size_t)n))
			return bad(s, "swim-ping-req without a good addr");
		taddr[n] = '\0';
	}
	/* Every line is checked before any is merged. */
	for (off = 0; off < m.body_len; off += used)
		if ((why = parse_line(m.body + off, m.body_len - off, &u,
		    &used)) != NULL)
			return bad(s, "body byte %zu: %s", off, why);
	for (off = 0; off < m.body_len; off += used) {
		(void)parse_line(m.body + off, m.body_len - off, &u, &used);
		merge(s, now, &u, t == T_SYNC);
	}
	if (has_inc) {
		if (lookup(s, from.p, from.n, NULL) < 0)
			pull_stranger(s, now, from_addr, from_name);
		else
			sender_alive(s, now, from.p, from.n, inc, from_addr);
	}

	switch (t) {
	case T_PING:
		send_reply(s, from_addr, T_ACK, from_name, id,
		    buddy(s, from.p, from.n));
		break;
	case T_ACK:
		on_ack(s, re);
		break;
	case T_NACK:
		if (s->probing && re == s->pseq &&
		    s->nack_got < s->nack_expect) {
			s->nack_got++;
			s->st.nacks_in++;
		}
		break;
	case T_PINGREQ:
		on_ping_req(s, now, from_addr, from_name, id, target, taddr);
		break;
	case T_SYNC:
		if (has_id)
			on_sync(s, now, from_addr, from_name, id);
		break;
	}
	return SWIM_OK;
}

/* ---- time ---- */

static void
gossip_round(struct swim *s, uint64_t now)
{
	struct frame f;
	size_t n, i;

	n = pick_members(s, s->c.gossip_nodes, -1, 0, now, s->c.gossip_dead);
	memset(&f, 0, sizeof f);
	f.type = T_GOSSIP;
	for (i = 0; i < n; i++) {
		const struct mem *m = &s->mem[s->pick[i]];

		f.to = m->name;
		send_news(s, m->addr, &f, m->state != SWIM_ALIVE ?
		    (long)s->pick[i] : -1);
	}
}

static void
sync_round(struct swim *s, uint64_t now)
{
	uint64_t p = sync_period(s);
	size_t n, i, ndead = 0;

	s->next_sync = now + p / 2 + rnd_below(s, p + 1);
	if (s->leaving)
		return;
	if (pick_members(s, 1, -1, 0, now, 0) == 1)
		sync_to(s, s->mem[s->pick[0]].addr, s->mem[s->pick[0]].name,
		    1);
	/*
	 * And one member we think dead: if it is alive behind a partition
	 * that has healed, each side learns the other's view of it and
	 * refutes, so the group joins up again.
	 */
	for (i = 0; i < s->nslots; i++)
		if (s->mem[i].used && s->mem[i].state == SWIM_DEAD)
			s->pick[ndead++] = (unsigned)i;
	if (ndead > 0) {
		n = s->pick[rnd_below(s, ndead)];
		sync_to(s, s->mem[n].addr, s->mem[n].name, 1);
	}
}

void
swim_tick(struct swim *s, uint64_t now)
{
	size_t i;

	now = clock_at(s, now);
	if (!s->leaving) {
		if (s->probing && !s->acked && !s->indirect_sent &&
		    now >= s->pindirect)
			probe_indirect(s, now);
		if (s->probing && now >= s->pfail)
			probe_finish(s, now);
		if (!s->probing && now >= s->next_probe)
			probe_start(s, now);
	}
	for (i = 0; i < RELAY_MAX; i++) {
		struct relay *r = &s->relay[i];

		if (r->used && now >= r->deadline) {
			send_reply(s, r->req_addr, T_NACK, r->req_name,
			    r->req_seq, -1);
			s->st.nacks_out++;
			r->used = 0;
		}
	}
	for (i = 0; i < s->nslots; i++) {
		struct mem *m = &s->mem[i];

		if (!m->used || i == s->self)
			continue;
		if (m->state == SWIM_SUSPECT && now >= m->susp_deadline) {
			snprintf(m->from, sizeof m->from, "%s", s->name);
			set_state(s, (unsigned)i, SWIM_DEAD, now);
			queue(s, (unsigned)i);
			s->st.deaths++;
			notify(s, SWIM_EV_FAIL, (unsigned)i);
		} else if ((m->state == SWIM_DEAD &&
		    now - m->since >= s->c.dead_reap) ||
		    (m->state == SWIM_LEFT &&
		    now - m->since >= s->c.left_reap)) {
			remove_member(s, (unsigned)i);
		}
	}
	if (s->c.gossip_nodes > 0 && now >= s->next_gossip) {
		s->next_gossip = now + s->c.gossip_interval;
		if (news_pending(s))
			gossip_round(s, now);
	}
	if (s->c.sync_interval > 0 && now >= s->next_sync)
		sync_round(s, now);
	if (s->nseeds > 0 && !s->leaving && others_live(s) == 0 &&
	    now >= s->next_join) {
		for (i = 0; i < s->nseeds; i++)
			sync_to(s, s->seeds[i], "*", 1);
		s->next_join = now + s->c.join_retry;
	}
}

uint64_t
swim_next_deadline(const struct swim *s)
{
	uint64_t d = UINT64_MAX;
	unsigned limit = tx_limit(s);
	int pending = 0;
	size_t i;

	if (!s->leaving) {
		if (!s->probing)
			d = s->next_probe;
		else if (!s->acked && !s->indirect_sent)
			d = min64(s->pindirect, s->pfail);
		else
			d = s->pfail;
	}
	for (i = 0; i < RELAY_MAX; i++)
		if (s->relay[i].used)
			d = min64(d, s->relay[i].deadline);
	for (i = 0; i < s->nslots; i++) {
		const struct mem *m = &s->mem[i];

		if (!m->used)
			continue;
		if (m->tx < limit)
			pending = 1;
		if (i == s->self)
			continue;
		if (m->state == SWIM_SUSPECT)
			d = min64(d, m->susp_deadline);
		else if (m->state == SWIM_DEAD)
			d = min64(d, m->since + s->c.dead_reap);
		else if (m->state == SWIM_LEFT)
			d = min64(d, m->since + s->c.left_reap);
	}
	if (pending && s->c.gossip_nodes > 0)
		d = min64(d, s->next_gossip);
	if (s->c.sync_interval > 0)
		d = min64(d, s->next_sync);
	if (s->nseeds > 0 && !s->leaving && others_live(s) == 0)
		d = min64(d, s->next_join);
	return d;
}

/* ---- the rest of the API ---- */

void
swim_config_init(struct swim_config *c)
{
	memset(c, 0, sizeof *c);
	c->budget = SWIM_BUDGET_DEFAULT;
	c->max_members = 4096;
	c->probe_interval = 1000;
	c->probe_timeout = 100;
	c->indirect_checks = 3;
	c->suspicion_mult = 1;
	c->suspicion_max_mult = 6;
	c->suspicion_confirm = 3;
	c->awareness_max = 8;
	c->retransmit_mult = 4;
	c->gossip_interval = 100;
	c->gossip_nodes = 3;
	c->gossip_dead = 10000;
	c->sync_interval = 30000;
	c->join_retry = 500;
	c->dead_reap = 600000;
	c->left_reap = 600000;
}

static const char *
check_config(const struct swim_config *c)
{
	if (c->name == NULL || !proto_name_ok(c->name, strlen(c->name)))
		return "the name must be 1 to 64 bytes of [A-Za-z0-9._-]";
	if (c->addr == NULL || !addr_ok(c->addr, strlen(c->addr)))
		return "the address must be 1 to 64 printable bytes";
	if (c->group != NULL && c->group[0] != '\0' &&
	    !proto_name_ok(c->group, strlen(c->group)))
		return "the group must be 1 to 64 bytes of [A-Za-z0-9._-]";
	if (c->budget > SWIM_DGRAM_MAX || c->reserve > c->budget ||
	    c->budget - c->reserve < SWIM_BUDGET_MIN)
		return "the datagram budget, less the reserve, must be 1024 "
		    "to 65507 bytes";
	if (c->max_members < 2 || c->max_members > 1000000)
		return "max_members must be 2 to 1000000";
	if (c->probe_timeout < 1 || c->probe_interval > 600000 ||
	    c->probe_interval < 2 * c->probe_timeout)
		return "the probe timeout must be at least 1 ms and at most "
		    "half the probe interval (at most 600 s)";
	if (c->indirect_checks > 16)
		return "indirect_checks must be at most 16";
	if (c->suspicion_mult < 1 || c->suspicion_mult > CONFIRM_MAX)
		return "suspicion_mult must be 1 to 16";
	if (c->suspicion_max_mult < 1 || c->suspicion_max_mult > 100)
		return "suspicion_max_mult must be 1 to 100";
	if (c->suspicion_confirm > CONFIRM_MAX - 2)
		return "suspicion_confirm must be 0 to 14";
	if (c->awareness_max < 1 || c->awareness_max > 64)
		return "awareness_max must be 1 to 64";
	if (c->retransmit_mult < 1 || c->retransmit_mult > 64)
		return "retransmit_mult must be 1 to 64";
	if (c->gossip_nodes > 64 ||
	    (c->gossip_nodes > 0 && c->gossip_interval < 1))
		return "gossip_nodes must be at most 64, with an interval";
	if (c->join_retry < 1)
		return "join_retry must be at least 1 ms";
	if (c->dead_reap < 1000 || c->left_reap < 1000)
		return "tombstones must be kept at least 1 s (dead_reap, "
		    "left_reap)";
	if (c->send == NULL)
		return "a send callback is required";
	return NULL;
}

struct swim *
swim_new(const struct swim_config *c, uint64_t now, char *err, size_t errlen)
{
	const char *why = check_config(c);
	struct swim *s;
	struct upd me;

	if (why != NULL) {
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->c = *c;
	snprintf(s->name, sizeof s->name, "%s", c->name);
	snprintf(s->addr, sizeof s->addr, "%s", c->addr);
	snprintf(s->group, sizeof s->group, "%s", c->group ? c->group : "");
	s->c.name = s->name;
	s->c.addr = s->addr;
	s->c.group = s->group;
	s->namelen = strlen(s->name);
	s->grouplen = strlen(s->group);
	s->budget = c->budget - c->reserve;
	s->rng = c->seed;
	s->now = now;
	s->seq = rnd(s) >> 33;
	s->tokens = SYNC_BURST * 1000;
	s->tokens_at = now;
	s->cap = 8;
	if (s->cap > c->max_members)
		s->cap = c->max_members;
	s->mem = malloc(s->cap * sizeof *s->mem);
	s->byname = malloc(s->cap * sizeof *s->byname);
	s->order = malloc(s->cap * sizeof *s->order);
	s->cand = malloc(s->cap * sizeof *s->cand);
	s->pick = malloc(s->cap * sizeof *s->pick);
	s->body = malloc(s->budget);
	buf_init(&s->out, SWIM_DGRAM_MAX + PROTO_HDR_MAX);
	if (s->mem == NULL || s->byname == NULL || s->order == NULL ||
	    s->cand == NULL || s->pick == NULL || s->body == NULL) {
		swim_free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(&me, 0, sizeof me);
	me.kind = 'a';
	me.name = s->name;
	me.namelen = s->namelen;
	me.addr = s->addr;
	me.addrlen = strlen(s->addr);
	me.inc = c->incarnation > SWIM_INC_MAX - 1 ? SWIM_INC_MAX - 1 :
	    c->incarnation;
	s->self = (unsigned)add_member(s, now, &me, SWIM_ALIVE);
	queue(s, s->self);
	/* Spread the first probe over a period, so a group started at
	 * once does not probe in step. */
	s->next_probe = now + rnd_below(s, c->probe_interval);
	s->next_gossip = now;
	/* The first sync comes soon: what a start in a crowd missed (an
	 * announcement that gossip did not bring) is caught up at once. */
	s->next_sync = now + 2 * (uint64_t)c->join_retry +
	    rnd_below(s, 2 * (uint64_t)c->join_retry + 1);
	return s;
}

void
swim_free(struct swim *s)
{
	if (s == NULL)
		return;
	free(s->mem);
	free(s->byname);
	free(s->order);
	free(s->cand);
	free(s->pick);
	free(s->body);
	buf_free(&s->out);
	free(s);
}

int
swim_join(struct swim *s, uint64_t now, const char *addr)
{
	size_t i;

	now = clock_at(s, now);
	if (addr == NULL || !addr_ok(addr, strlen(addr)))
		return -1;
	for (i = 0; i < s->nseeds; i++)
		if (strcmp(s->seeds[i], addr) == 0)
			break;
	if (i == s->nseeds) {
		if (s->nseeds == SEEDS_MAX)
			return -1;
		snprintf(s->seeds[s->nseeds++], SWIM_ADDR_MAX + 1, "%s", addr);
	}
	sync_to(s, addr, "*", 1);
	s->next_join = now + s->c.join_retry;
	return 0;
}

void
swim_leave(struct swim *s, uint64_t now)
{
	struct mem *me = &s->mem[s->self];

	now = clock_at(s, now);
	if (s->leaving)
		return;
	s->leaving = 1;
	s->probing = 0;
	if (me->inc < SWIM_INC_MAX)
		me->inc++;
	set_state(s, s->self, SWIM_LEFT, now);
	queue(s, s->self);
	if (s->c.gossip_nodes > 0) {
		gossip_round(s, now);
		s->next_gossip = now + s->c.gossip_interval;
	}
}

int
swim_leave_done(const struct swim *s)
{
	return s->leaving && (s->mem[s->self].tx >= tx_limit(s) ||
	    others_live(s) == 0);
}

size_t
swim_count(const struct swim *s)
{
	return s->count;
}

int
swim_member_at(const struct swim *s, size_t i, struct swim_member *out)
{
	if (i >= s->count)
		return -1;
	to_member(s, s->byname[i], out);
	return 0;
}

int
swim_find(const struct swim *s, const char *name, struct swim_member *out)
{
	long slot = lookup(s, name, strlen(name), NULL);

	if (slot < 0)
		return -1;
	if (out != NULL)
		to_member(s, (unsigned)slot, out);
	return 0;
}

size_t
swim_live(const struct swim *s)
{
	return s->nlive;
}

const struct swim_stats *
swim_stats(const struct swim *s)
{
	return &s->st;
}

const char *
swim_error(const struct swim *s)
{
	return s->err;
}

unsigned
swim_health(const struct swim *s)
{
	return s->health;
}

uint64_t
swim_incarnation(const struct swim *s)
{
	return s->mem[s->self].inc;
}

const char *
swim_state_name(enum swim_state st)
{
	static const char *const names[] = { "alive", "suspect", "dead",
		"left" };

	return (unsigned)st < 4 ? names[st] : "unknown";
}

const char *
swim_event_name(enum swim_event ev)
{
	static const char *const names[] = { "join", "leave", "fail",
		"recover", "update" };

	return (unsigned)ev < 5 ? names[ev] : "unknown";
}
