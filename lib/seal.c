#include "seal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"
#include "proto.h"

#define TS_PREFIX " ts="
#define TS_PREFIX_LEN 4
#define MAC_PREFIX " mac="
#define MAC_PREFIX_LEN 5
#define MAC_FIELD_LEN (MAC_PREFIX_LEN + HMAC_HEXLEN) /* " mac=M": 69 */
#define BUCKETS_MIN 16
#define BUCKETS_MAX ((size_t)1 << 22)

/*
 * What is remembered of one sender: its window of recent ts values, its
 * floor, and the links of the hash chain and of the recency list.  The
 * window is an unsorted array: 32 compares are cheaper than keeping it in
 * order, and it is only scanned for an authentic datagram.
 */
struct sender {
	struct sender *chain;       /* next in the same hash bucket */
	struct sender *newer;       /* recency list, most recent at the head */
	struct sender *older;
	uint64_t floor;             /* every ts at or below it is refused */
	uint64_t seen[SEAL_WINDOW]; /* ts values above the floor, taken */
	uint32_t hash;
	unsigned char nseen;
	unsigned char name_len;
	char name[PROTO_NAME_MAX];
};

struct seal {
	struct hmac keyed;         /* keyed once; copied per datagram */
	uint64_t last_ts;          /* the last T seal_sign wrote */
	uint64_t skew_us;
	size_t max_senders;
	size_t nsenders;
	struct sender **bucket;    /* chains, nbucket of them, a power of two */
	size_t nbucket;
	size_t max_bucket;
	struct sender *newest;     /* recency list */
	struct sender *oldest;
	/*
	 * A sender allocated up front, used first.  Senders are recycled,
	 * never freed, so once it is taken there is always one to evict when
	 * malloc fails, and seal_open never has to refuse an authentic
	 * datagram for want of memory.
	 */
	struct sender *spare;
};

/* Clear memory that held key material, in a way the compiler may not drop. */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* FNV-1a: names are short, and only key holders can make new ones. */
static uint32_t
name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

struct seal *
seal_new(const struct auth_key *key, size_t max_senders, unsigned skew_ms)
{
	struct seal *s;

	s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->max_senders = max_senders ? max_senders : SEAL_SENDERS_DEFAULT;
	s->skew_us = (uint64_t)(skew_ms ? skew_ms : SEAL_SKEW_DEFAULT_MS) *
	    1000u;
	/* The table grows with the senders, up to one bucket for each. */
	s->max_bucket = BUCKETS_MIN;
	while (s->max_bucket < s->max_senders && s->max_bucket < BUCKETS_MAX)
		s->max_bucket *= 2;
	s->nbucket = BUCKETS_MIN;
	s->bucket = calloc(s->nbucket, sizeof *s->bucket);
	s->spare = malloc(sizeof *s->spare);
	if (s->bucket == NULL || s->spare == NULL) {
		free(s->bucket);
		free(s->spare);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	hmac_init(&s->keyed, key->k, key->len);
	return s;
}

void
seal_free(struct seal *s)
{
	struct sender *p, *next;

	if (s == NULL)
		return;
	for (p = s->newest; p != NULL; p = next) {
		next = p->older;
		free(p);
	}
	free(s->spare);
	free(s->bucket);
	wipe(&s->keyed, sizeof s->keyed);
	free(s);
}

/* ---- signing ---- */

long
seal_sign(struct seal *s, char *buf, size_t len, size_t cap, uint64_t now_us)
{
	char ts_field[TS_PREFIX_LEN + NUM_U64_MAXLEN];
	char hex[HMAC_HEXLEN + 1];
	unsigned char mac[HMAC_LEN];
	struct hmac h;
	const char *lf;
	size_t hdr, ts_len, add;
	uint64_t ts;

	lf = len > 0 ? memchr(buf, '\n', len) : NULL;
	if (lf == NULL) {
		errno = EINVAL;
		return -1;
	}
	hdr = (size_t)(lf - buf);
	if (s->last_ts == UINT64_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	/* The clock may step back; T must not, or a receiver drops us. */
	ts = now_us > s->last_ts ? now_us : s->last_ts + 1;
	memcpy(ts_field, TS_PREFIX, TS_PREFIX_LEN);
	ts_len = TS_PREFIX_LEN + num_fmt_u64(ts_field + TS_PREFIX_LEN, ts);
	add = ts_len + MAC_FIELD_LEN;
	if (cap < len || cap - len < add || len > (size_t)LONG_MAX - add) {
		errno = EMSGSIZE;
		return -1;
	}
	memmove(buf + hdr + add, buf + hdr, len - hdr);
	memcpy(buf + hdr, ts_field, ts_len);
	/* The MAC covers everything but the " mac=M" it is written into. */
	h = s->keyed;
	hmac_update(&h, buf, hdr + ts_len);
	hmac_update(&h, buf + hdr + add, len - hdr);
	hmac_final(&h, mac);
	hmac_hex(mac, sizeof mac, hex);
	memcpy(buf + hdr + ts_len, MAC_PREFIX, MAC_PREFIX_LEN);
	memcpy(buf + hdr + ts_len + MAC_PREFIX_LEN, hex, HMAC_HEXLEN);
	s->last_ts = ts;
	return (long)(len + add);
}

/* ---- the replay window ---- */

static struct sender **
bucket_of(struct seal *s, uint32_t hash)
{
	return &s->bucket[hash & (s->nbucket - 1)];
}

static struct sender *
sender_find(struct seal *s, const char *name, size_t n, uint32_t hash)
{
	struct sender *p;

	for (p = *bucket_of(s, hash); p != NULL; p = p->chain)
		if (p->hash == hash && p->name_len == n &&
		    memcmp(p->name, name, n) == 0)
			return p;
	return NULL;
}

static void
recency_unlink(struct seal *s, struct sender *p)
{
	if (p->newer != NULL)
		p->newer->older = p->older;
	else
		s->newest = p->older;
	if (p->older != NULL)
		p->older->newer = p->newer;
	else
		s->oldest = p->newer;
	p->newer = p->older = NULL;
}

static void
recency_push(struct seal *s, struct sender *p)
{
	p->newer = NULL;
	p->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = p;
	else
		s->oldest = p;
	s->newest = p;
}

static void
chain_unlink(struct seal *s, struct sender *p)
{
	struct sender **pp;

	for (pp = bucket_of(s, p->hash); *pp != NULL; pp = &(*pp)->chain)
		if (*pp == p) {
			*pp = p->chain;
			return;
		}
}

/*
 * Double the table while senders outnumber buckets.  When the memory is
 * not there the chains just grow longer, which costs time, not
 * correctness.
 */
static void
table_grow(struct seal *s)
{
	struct sender **nb, *p, *next;
	size_t n, i, j;

	if (s->nsenders <= s->nbucket || s->nbucket >= s->max_bucket)
		return;
	n = s->nbucket * 2;
	nb = calloc(n, sizeof *nb);
	if (nb == NULL)
		return;
	for (i = 0; i < s->nbucket; i++)
		for (p = s->bucket[i]; p != NULL; p = next) {
			next = p->chain;
			j = p->hash & (n - 1);
			p->chain = nb[j];
			nb[j] = p;
		}
	free(s->bucket);
	s->bucket = nb;
	s->nbucket = n;
}

/*
 * A sender record for a name not yet known: the spare, a new one, or,
 * when the table is full or memory is short, the least recently used
 * one, which is forgotten.
 */
static struct sender *
sender_add(struct seal *s, const char *name, size_t n, uint32_t hash)
{
	struct sender *p = NULL;

	if (s->spare != NULL) {
		p = s->spare;
		s->spare = NULL;
		s->nsenders++;
	} else if (s->nsenders < s->max_senders) {
		p = malloc(sizeof *p);
		if (p != NULL)
			s->nsenders++;
	}
	if (p == NULL) {
		p = s->oldest;
		recency_unlink(s, p);
		chain_unlink(s, p);
	}
	memset(p, 0, sizeof *p);
	p->hash = hash;
	p->name_len = (unsigned char)n;
	memcpy(p->name, name, n);
	table_grow(s);
	p->chain = *bucket_of(s, hash);
	*bucket_of(s, hash) = p;
	recency_push(s, p);
	return p;
}

static int
window_has(const struct sender *p, uint64_t ts)
{
	unsigned i;

	if (ts <= p->floor)
		return 1;
	for (i = 0; i < p->nseen; i++)
		if (p->seen[i] == ts)
			return 1;
	return 0;
}

/* Take ts; when the window is full the smallest value becomes the floor. */
static void
window_add(struct sender *p, uint64_t ts)
{
	unsigned i, low;

	if (p->nseen < SEAL_WINDOW) {
		p->seen[p->nseen++] = ts;
		return;
	}
	low = 0;
	for (i = 1; i < SEAL_WINDOW; i++)
		if (p->seen[i] < p->seen[low])
			low = i;
	if (ts < p->seen[low]) {
		p->floor = ts;
	} else {
		p->floor = p->seen[low];
		p->seen[low] = ts;
	}
}

/* ---- opening ---- */

static int
is_lower_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Find the from name in the fields of buf[0..end) (the header line up to
 * its ts field).  Fields are split on single spaces, as ds1 writes them.
 * A header that repeats from, or carries another ts or mac field, is
 * refused, so that the name and ts seal_open keys on are the only ones
 * the caller will see.  Returns 0 with *name and *n set, or -1.
 */
static int
find_from(const char *buf, size_t end, const char **name, size_t *n)
{
	size_t pos = 3, start, flen;

	*name = NULL;
	*n = 0;
	if (end < 3 || memcmp(buf, PROTO_VERSION, 3) != 0)
		return -1;
	while (pos < end) {
		if (buf[pos] != ' ')
			return -1;
		start = ++pos;
		while (pos < end && buf[pos] != ' ')
			pos++;
		flen = pos - start;
		if (flen == 0)
			return -1;
		if ((flen >= 3 && memcmp(buf + start, "ts=", 3) == 0) ||
		    (flen >= 4 && memcmp(buf + start, "mac=", 4) == 0))
			return -1;
		if (flen >= 5 && memcmp(buf + start, "from=", 5) == 0) {
			if (*name != NULL)
				return -1;
			*name = buf + start + 5;
			*n = flen - 5;
		}
	}
	if (*name == NULL || !proto_name_ok(*name, *n))
		return -1;
	return 0;
}

long
seal_open(struct seal *s, char *buf, size_t len, uint64_t now_us)
{
	unsigned char want[HMAC_LEN], got[HMAC_LEN];
	struct hmac h;
	struct sender *p;
	const char *lf, *name;
	size_t hdr, mac_at, ts_end, ts_at, d, name_len, i;
	uint64_t ts, age;
	uint32_t hash;

	/* Syntax first: ts and mac must be the last two header fields. */
	lf = len > 0 ? memchr(buf, '\n', len) : NULL;
	if (lf == NULL)
		return SEAL_BAD;
	hdr = (size_t)(lf - buf);
	if (hdr < 3 + TS_PREFIX_LEN + 1 + MAC_FIELD_LEN)
		return SEAL_BAD;
	mac_at = hdr - HMAC_HEXLEN;
	ts_end = mac_at - MAC_PREFIX_LEN;
	if (memcmp(buf + ts_end, MAC_PREFIX, MAC_PREFIX_LEN) != 0)
		return SEAL_BAD;
	/* One spelling per MAC, so that a copy cannot differ in case. */
	for (i = 0; i < HMAC_HEXLEN; i++)
		if (!is_lower_hex((unsigned char)buf[mac_at + i]))
			return SEAL_BAD;
	if (hmac_unhex(buf + mac_at, HMAC_HEXLEN, want, sizeof want) != 0)
		return SEAL_BAD;
	d = ts_end;
	while (d > 0 && ts_end - d <= NUM_U64_MAXLEN && buf[d - 1] >= '0' &&
	    buf[d - 1] <= '9')
		d--;
	if (d < TS_PREFIX_LEN ||
	    memcmp(buf + d - TS_PREFIX_LEN, TS_PREFIX, TS_PREFIX_LEN) != 0)
		return SEAL_BAD;
	if (num_parse_u64(buf + d, ts_end - d, UINT64_MAX, NUM_CANON, &ts) !=
	    NUM_OK)
		return SEAL_BAD;
	ts_at = d - TS_PREFIX_LEN;
	if (find_from(buf, ts_at, &name, &name_len) != 0)
		return SEAL_BAD;

	/* Then the MAC, before anything that is remembered is looked at. */
	h = s->keyed;
	hmac_update(&h, buf, ts_end);
	hmac_update(&h, buf + hdr, len - hdr);
	hmac_final(&h, got);
	if (!hmac_equal(got, want, sizeof want))
		return SEAL_FORGED;

	age = ts <= now_us ? now_us - ts : ts - now_us;
	if (age > s->skew_us)
		return SEAL_STALE;

	hash = name_hash(name, name_len);
	p = sender_find(s, name, name_len, hash);
	if (p != NULL) {
		if (window_has(p, ts))
			return SEAL_REPLAY;
		recency_unlink(s, p);
		recency_push(s, p);
	} else {
		/* A new sender's floor is 0. */
		if (ts == 0)
			return SEAL_REPLAY;
		p = sender_add(s, name, name_len, hash);
	}
	window_add(p, ts);

	memmove(buf + ts_at, buf + hdr, len - hdr);
	return (long)(len - (hdr - ts_at));
}

const char *
seal_strerror(int code)
{
	switch (code) {
	case SEAL_BAD:
		return "no well-formed ts and mac fields";
	case SEAL_FORGED:
		return "bad MAC";
	case SEAL_STALE:
		return "timestamp outside the allowed clock skew";
	case SEAL_REPLAY:
		return "replayed";
	}
	return "unknown seal error";
}
