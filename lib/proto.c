#include "proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "num.h"

/* Byte classes, one table lookup per header byte. */
enum {
	C_NAME = 1,   /* may appear in a name: [A-Za-z0-9._-] */
	C_KEY = 2,    /* may appear in a key: [a-z0-9_-] */
	C_VALUE = 4,  /* may appear literally in a value */
	C_HEX = 8
};

static unsigned char cls[256];

static void
cls_init(void)
{
	int c;

	if (cls['a'] != 0)
		return;
	for (c = 0x21; c < 0x7f; c++)
		if (c != '=' && c != '%')
			cls[c] |= C_VALUE;
	for (c = 0x80; c < 0x100; c++)
		cls[c] |= C_VALUE;
	for (c = 'a'; c <= 'z'; c++)
		cls[c] |= C_NAME | C_KEY;
	for (c = 'A'; c <= 'Z'; c++)
		cls[c] |= C_NAME;
	for (c = '0'; c <= '9'; c++)
		cls[c] |= C_NAME | C_KEY | C_HEX;
	for (c = 'a'; c <= 'f'; c++)
		cls[c] |= C_HEX;
	for (c = 'A'; c <= 'F'; c++)
		cls[c] |= C_HEX;
	cls['.'] |= C_NAME;
	cls['-'] |= C_NAME | C_KEY;
	cls['_'] |= C_NAME | C_KEY;
}

static const char *const wk_names[PF_NWK] = {
	"from", "to", "type", "re", "id", "len"
};

static int
all_of(const char *s, size_t n, size_t max, unsigned char want)
{
	size_t i;

	cls_init();
	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!(cls[(unsigned char)s[i]] & want))
			return 0;
	return 1;
}

int
proto_name_ok(const char *s, size_t n)
{
	return all_of(s, n, PROTO_NAME_MAX, C_NAME);
}

int
proto_to_ok(const char *s, size_t n)
{
	return (n == 1 && s[0] == '*') || proto_name_ok(s, n);
}

int
proto_key_ok(const char *s, size_t n)
{
	return all_of(s, n, PROTO_KEY_MAX, C_KEY);
}

int
proto_type_ok(const char *s, size_t n)
{
	return all_of(s, n, PROTO_TOKEN_MAX, C_KEY);
}

/* Which well-known field a key names, or -1.  This runs once per field. */
static inline int
wk_index(const char *s, size_t n)
{
	switch (n) {
	case 2:
		if (s[0] == 't' && s[1] == 'o')
			return PF_TO;
		if (s[0] == 'i' && s[1] == 'd')
			return PF_ID;
		if (s[0] == 'r' && s[1] == 'e')
			return PF_RE;
		break;
	case 3:
		if (s[0] == 'l' && s[1] == 'e' && s[2] == 'n')
			return PF_LEN;
		break;
	case 4:
		if (memcmp(s, "from", 4) == 0)
			return PF_FROM;
		if (memcmp(s, "type", 4) == 0)
			return PF_TYPE;
		break;
	}
	return -1;
}

int
proto_key_is_wk(const char *s, size_t n)
{
	return wk_index(s, n) >= 0;
}

/* ---- parsing ---- */

struct perr {
	size_t off;     /* offset of the byte at fault, from the frame start */
	char *msg;
	size_t msglen;
};

static int
perr(struct perr *e, size_t off, const char *fmt, ...)
{
	va_list ap;

	e->off = off;
	va_start(ap, fmt);
	vsnprintf(e->msg, e->msglen, fmt, ap);
	va_end(ap);
	return PROTO_ERR;
}

static const char *
byte_name(unsigned char c, char tmp[8])
{
	if (c == '\n')
		return "newline";
	if (c == '\r')
		return "carriage return";
	if (c == ' ')
		return "space";
	if (c < 0x20 || c >= 0x7f)
		snprintf(tmp, 8, "0x%02x", c);
	else
		snprintf(tmp, 8, "'%c'", c);
	return tmp;
}

/* Check that the bytes seen so far can begin "ds1 " or "ds1\n". */
static int
check_version(const char *h, size_t n, struct perr *e)
{
	char tmp[8];
	size_t i;

	for (i = 0; i < n && i < 3; i++)
		if (h[i] != PROTO_VERSION[i]) {
			if (i == 2 && h[i] >= '0' && h[i] <= '9')
				return perr(e, 0, "unsupported protocol "
				    "version 'ds%c' (this is ds1)", h[i]);
			return perr(e, 0, "not a ds1 frame: header must "
			    "start with 'ds1 ', found %s",
			    byte_name((unsigned char)h[i], tmp));
		}
	if (n > 3 && h[3] != ' ' && h[3] != '\n') {
		if (h[3] >= '0' && h[3] <= '9')
			return perr(e, 0, "unsupported protocol version");
		return perr(e, 3, "expected a space after 'ds1', found %s",
		    byte_name((unsigned char)h[3], tmp));
	}
	return 0;
}

/*
 * Scan the value that starts at h[*pos] up to the next space or the final
 * LF at h[hlen - 1], which stops every loop.  Sets *pos to the byte after
 * the value.
 */
static int
scan_value(const char *h, size_t hlen, size_t *pos, const char *key,
    size_t keylen, struct perr *e)
{
	size_t i = *pos, start = i;
	char tmp[8];

	for (;;) {
		unsigned char c;

		/* Four bytes a step while the line lasts, then one. */
		while (i + 4 <= hlen && (cls[(unsigned char)h[i]] &
		    cls[(unsigned char)h[i + 1]] & cls[(unsigned char)h[i + 2]] &
		    cls[(unsigned char)h[i + 3]] & C_VALUE))
			i += 4;
		while (cls[(unsigned char)h[i]] & C_VALUE)
			i++;
		c = (unsigned char)h[i];
		if (c == ' ' || c == '\n')
			break;
		if (c == '%') {
			if (!(cls[(unsigned char)h[i + 1]] & C_HEX) ||
			    !(cls[(unsigned char)h[i + 2]] & C_HEX))
				return perr(e, i, "bad percent escape in "
				    "'%.*s'", (int)keylen, key);
			i += 3;
			continue;
		}
		if (c == '\r')
			return perr(e, i, "carriage return in header "
			    "(lines end with a bare newline)");
		return perr(e, i, "%s in the value of '%.*s' must be "
		    "percent-encoded", byte_name(c, tmp), (int)keylen, key);
	}
	if (i == start)
		return perr(e, start, "empty value for '%.*s'", (int)keylen,
		    key);
	*pos = i;
	return 0;
}

static int
check_wk(const char *h, int wk, size_t vs, size_t ve, uint64_t max_body, struct proto_msg *m, struct perr *e)
{
	const char *v = h + vs;
	size_t n = ve - vs;
	uint64_t len;
	int rc;

	switch (wk) {
	case PF_FROM:
		if (!proto_name_ok(v, n))
			return perr(e, vs, "bad name in 'from': names are 1 "
			    "to 64 bytes of [A-Za-z0-9._-]");
		break;
	case PF_TO:
		if (!proto_to_ok(v, n))
			return perr(e, vs, "bad name in 'to': names are 1 "
			    "to 64 bytes of [A-Za-z0-9._-], or '*'");
		break;
	case PF_TYPE:
		if (!proto_type_ok(v, n))
			return perr(e, vs, "bad type: types are 1 to 64 "
			    "bytes of [a-z0-9_-]");
		break;
	case PF_ID:
	case PF_RE:
		if (n > PROTO_TOKEN_MAX)
			return perr(e, vs, "'%s' is longer than %d bytes",
			    wk_names[wk], PROTO_TOKEN_MAX);
		break;
	case PF_LEN:
		rc = num_parse_u64(v, n, UINT64_MAX, NUM_CANON, &len);
		if (rc != NUM_OK || len > max_body) {
			char shown[40];

			/* The value may hold any byte from 0x80 up. */
			err_printable(shown, sizeof shown, v, n);
			if (rc == NUM_RANGE || rc == NUM_OK)
				return perr(e, vs, "len %s exceeds the limit "
				    "of %llu bytes", shown,
				    (unsigned long long)max_body);
			return perr(e, vs, "bad len '%s': %s", shown,
			    num_strerror(rc));
		}
		m->body_len = len;
		break;
	}
	return 0;
}

/* memcmp(a, b, n) == 0 for the few dozen bytes of a header start. */
static int
same(const char *a, const char *b, size_t n)
{
	uint64_t x, y;

	for (; n >= 8; a += 8, b += 8, n -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return 0;
	}
	for (; n > 0; a++, b++, n--)
		if (*a != *b)
			return 0;
	return 1;
}

/* Keep the start of a header that parsed well, for the next one. */
static void
remember(struct proto_parser *p, const struct proto_msg *m)
{
	size_t len = m->hdr_len - 1;
	int k, n = m->nfields;

	for (k = 0; k < m->nfields; k++) {
		int w = wk_index(m->frame + m->field[k].key.off,
		    m->field[k].key.len);

		if (w == PF_ID || w == PF_RE || w == PF_LEN) {
			n = k;
			len = (size_t)m->field[k].key.off - 1;
			break;
		}
	}
	if (len > sizeof p->memo || n > (int)(sizeof p->memo_field /
	    sizeof p->memo_field[0])) {
		p->memo_len = 0;
		return;
	}
	memcpy(p->memo, m->frame, len);
	memcpy(p->memo_field, m->field, (size_t)n * sizeof m->field[0]);
	for (k = 0; k < PF_NWK; k++)
		p->memo_wk[k] = m->wk[k] < n ? m->wk[k] : -1;
	p->memo_len = len;
	p->memo_fields = n;
}

/* Keep the whole header that m was parsed from, for same_shape(). */
static void
remember_last(struct proto_parser *p, const struct proto_msg *m)
{
	int k;

	if (m->hdr_len > sizeof p->last) {
		p->last_len = 0;
		return;
	}
	memcpy(p->last, m->frame, m->hdr_len);
	memset(p->last_isval, 0, m->hdr_len);
	for (k = 0; k < m->nfields; k++)
		memset(p->last_isval + m->field[k].val.off, 1,
		    m->field[k].val.len);
	/* Values with rules beyond their bytes are marked for a recheck. */
	for (k = 0; k < PF_NWK; k++)
		if (m->wk[k] >= 0 && k != PF_ID && k != PF_RE)
			memset(p->last_isval + m->field[m->wk[k]].val.off, 2,
			    m->field[m->wk[k]].val.len);
	p->last_len = m->hdr_len;
}

/*
 * Is changed byte q of h one that keeps the header's shape: inside a
 * value of the last header, a byte that may stand in a value (so no new
 * space, '=' or '%'), and not a hex digit of a %XX escape?
 */
static int
keeps_shape(const struct proto_parser *p, const char *h, size_t q)
{
	return p->last_isval[q] && (cls[(unsigned char)h[q]] & C_VALUE) &&
	    h[q - 1] != '%' && h[q - 2] != '%';
}

/*
 * The fast path for a stream of like frames: if h differs from the last
 * header only inside values, m (which still describes the last header)
 * needs only the changed well-known values checked again.  Returns 1 when
 * m now describes h, 0 to parse h in full (which also reports any error).
 */
static int
same_shape(struct proto_parser *p, const char *h, size_t hlen,
    struct proto_msg *m)
{
	static const int rechecked[] = { PF_LEN, PF_FROM, PF_TO, PF_TYPE };
	size_t i, lo = hlen, hi = 0;
	uint64_t x, y, len;
	int k, recheck = 0;

	/* A header is at least 16 bytes, so a last word may overlap. */
	if (p->last_len != hlen || hlen < 8)
		return 0;
	for (i = 0;; i += 8) {
		size_t at = i + 8 <= hlen ? i : hlen - 8, b;

		memcpy(&x, h + at, 8);
		memcpy(&y, p->last + at, 8);
		if (x != y) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			/* Visit just the changed bytes: the lowest set bit
			 * of x ^ y is in the first of them. */
			uint64_t z = x ^ y;

			if (at < i)   /* skip the overlap, already seen */
				z &= ~UINT64_C(0) << (8 * (i - at));
			while (z != 0) {
				unsigned sh = (unsigned)__builtin_ctzll(z) & ~7u;

				b = at + sh / 8;
				z &= ~(UINT64_C(0xff) << sh);
#else
			for (b = at < i ? i : at; b < at + 8; b++) {
				if (h[b] == p->last[b])
					continue;
#endif
				if (!keeps_shape(p, h, b))
					return 0;
				recheck |= p->last_isval[b] == 2;
				if (b < lo)
					lo = b;
				hi = b;
			}
		}
		if (at + 8 >= hlen)
			break;
	}
	/*
	 * Check again each well-known value that changed and has rules
	 * beyond its bytes; an id or re kept its length, and so its limit.
	 */
	for (k = 0; recheck && k < (int)(sizeof rechecked / sizeof
	    rechecked[0]); k++) {
		int w = rechecked[k], at = m->wk[w];
		const struct proto_field *f;
		const char *v;

		if (at < 0)
			continue;
		f = &m->field[at];
		if (f->val.off > hi || (size_t)f->val.off + f->val.len <= lo)
			continue;
		v = h + f->val.off;
		if ((w == PF_FROM && !proto_name_ok(v, f->val.len)) ||
		    (w == PF_TO && !proto_to_ok(v, f->val.len)) ||
		    (w == PF_TYPE && !proto_type_ok(v, f->val.len)))
			return 0;
		if (w == PF_LEN) {
			if (num_parse_u64(v, f->val.len, p->max_body, NUM_CANON,
			    &len) != NUM_OK)
				return 0;
			m->body_len = len;
		}
	}
	/* Only now, with every change accepted, does last follow h. */
	if (lo <= hi)
		memcpy(p->last + lo, h + lo, hi - lo + 1);
	m->frame = h;
	m->hdr_len = hlen;
	return 1;
}

/*
 * Parse the header line h[0..hlen), whose last byte is the LF, into m.
 * Offsets in errors count from h.
 */
static int
parse_header(const char *h, size_t hlen, uint64_t max_body,
    struct proto_msg *m, struct perr *e, struct proto_parser *memo)
{
	size_t i = 3, last = hlen - 1;
	int k, hit = 0;

	cls_init();
	m->frame = h;
	m->hdr_len = hlen;
	m->body_len = 0;
	if (memo != NULL && memo->memo_len > 0 && memo->memo_len < hlen &&
	    (h[memo->memo_len] == ' ' || h[memo->memo_len] == '\n') &&
	    same(h, memo->memo, memo->memo_len)) {
		i = memo->memo_len;
		m->nfields = memo->memo_fields;
		for (k = 0; k < m->nfields; k++)
			m->field[k] = memo->memo_field[k];
		for (k = 0; k < PF_NWK; k++)
			m->wk[k] = memo->memo_wk[k];
		hit = 1;
	} else {
		if (check_version(h, hlen, e) != 0)
			return PROTO_ERR;
		m->nfields = 0;
		for (k = 0; k < PF_NWK; k++)
			m->wk[k] = -1;
	}
	while (i < last) {
		size_t ks, ke, vs, ve;
		struct proto_field *f;
		int wk;

		/*
		 * Every frame but a hand-written empty one has a len, so it
		 * gets a path of its own: digits straight into the number.
		 * Anything unusual falls through to the general path, which
		 * reports it.  The short-circuit tests never pass the LF.
		 */
		if (h[i + 1] == 'l' && h[i + 2] == 'e' && h[i + 3] == 'n' &&
		    h[i + 4] == '=' && m->wk[PF_LEN] < 0 &&
		    m->nfields < PROTO_FIELDS_MAX) {
			size_t d = i + 5;
			uint64_t v = 0;

			while ((unsigned)((unsigned char)h[d] - '0') <= 9 &&
			    d - (i + 5) < 19) {
				v = v * 10 + (uint64_t)(h[d] - '0');
				d++;
			}
			if (d > i + 5 && (h[d] == ' ' || h[d] == '\n') &&
			    (h[i + 5] != '0' || d == i + 6) && v <= max_body) {
				f = &m->field[m->nfields];
				f->key.off = (uint16_t)(i + 1);
				f->key.len = 3;
				f->val.off = (uint16_t)(i + 5);
				f->val.len = (uint16_t)(d - (i + 5));
				m->wk[PF_LEN] = (signed char)m->nfields++;
				m->body_len = v;
				i = d;
				continue;
			}
		}

		/* h[i] is the space that starts a field. */
		ks = ++i;
		/* The LF at h[last] is in no class, so it stops the scans. */
		while (cls[(unsigned char)h[i]] & C_KEY)
			i++;
		ke = i;
		if (ke == ks) {
			char tmp[8];

			if (h[i] == ' ' || i == last)
				return perr(e, i, "empty field (one space "
				    "between fields, none at the end)");
			return perr(e, i, "bad byte %s in a key: keys are "
			    "[a-z0-9_-]", byte_name((unsigned char)h[i], tmp));
		}
		if (h[i] != '=') {
			char tmp[8];

			if (i == last || h[i] == ' ')
				return perr(e, i, "field '%.*s' has no '='",
				    (int)(ke - ks), h + ks);
			return perr(e, i, "bad byte %s in a key: keys are "
			    "[a-z0-9_-]", byte_name((unsigned char)h[i], tmp));
		}
		if (ke - ks > PROTO_KEY_MAX)
			return perr(e, ks, "key longer than %d bytes",
			    PROTO_KEY_MAX);
		vs = ++i;
		if (scan_value(h, hlen, &i, h + ks, ke - ks, e) != 0)
			return PROTO_ERR;
		ve = i;
		if (m->nfields == PROTO_FIELDS_MAX)
			return perr(e, ks, "more than %d fields",
			    PROTO_FIELDS_MAX);
		wk = wk_index(h + ks, ke - ks);
		if (wk >= 0) {
			if (m->wk[wk] >= 0)
				return perr(e, ks, "repeated field '%s'",
				    wk_names[wk]);
			if (check_wk(h, wk, vs, ve, max_body, m, e) != 0)
				return PROTO_ERR;
			m->wk[wk] = (signed char)m->nfields;
		}
		f = &m->field[m->nfields++];
		f->key.off = (uint16_t)ks;
		f->key.len = (uint16_t)(ke - ks);
		f->val.off = (uint16_t)vs;
		f->val.len = (uint16_t)(ve - vs);
	}
	if (m->wk[PF_FROM] < 0)
		return perr(e, last, "missing required field 'from'");
	if (m->wk[PF_TO] < 0)
		return perr(e, last, "missing required field 'to'");
	if (memo != NULL && !hit)
		remember(memo, m);
	return 0;
}

void
proto_parser_init(struct proto_parser *p, uint64_t max_body)
{
	memset(p, 0, sizeof *p);
	p->max_body = max_body;
}

static int
parser_fail(struct proto_parser *p, struct perr *e)
{
	p->err_off = p->off + e->off;
	return PROTO_ERR;
}

int
proto_parse(struct proto_parser *p, const char *buf, size_t n)
{
	struct proto_msg *m = &p->msg;
	size_t tried = 0;
	struct perr e;

	e.msg = p->err;
	e.msglen = sizeof p->err;
	if (n == 0)
		return PROTO_MORE;  /* and buf may be NULL */
	/*
	 * A header that ends where the last one ended, and matches it in
	 * shape, needs no search for its LF: same_shape() accepts only
	 * bytes that may stand in a value, which an LF may not, and the
	 * last header held its only LF at its end.
	 */
	if (!p->in_body && p->last_len > 0 && n >= p->last_len &&
	    buf[p->last_len - 1] == '\n') {
		if (same_shape(p, buf, p->last_len, m))
			p->in_body = 1;
		else
			tried = p->last_len;
	}
	if (!p->in_body) {
		size_t scan = n < PROTO_HDR_MAX ? n : PROTO_HDR_MAX;
		const char *lf = memchr(buf, '\n', scan);
		size_t hlen;

		if (lf == NULL) {
			/* Refuse garbage early rather than at 4096 bytes. */
			if (check_version(buf, n, &e) != 0)
				return parser_fail(p, &e);
			if (n >= PROTO_HDR_MAX) {
				perr(&e, PROTO_HDR_MAX, "header line longer "
				    "than %d bytes", PROTO_HDR_MAX);
				return parser_fail(p, &e);
			}
			p->need = 0;
			return PROTO_MORE;
		}
		hlen = (size_t)(lf - buf) + 1;
		if (hlen == tried || !same_shape(p, buf, hlen, m)) {
			if (parse_header(buf, hlen, p->max_body, m, &e,
			    p) != 0) {
				p->last_len = 0;
				return parser_fail(p, &e);
			}
			remember_last(p, m);
		}
		p->in_body = 1;
	}
	if (p->need == 0) {
		/* len <= max_body <= PROTO_BODY_MAX, so this cannot wrap. */
		p->need = m->hdr_len + (size_t)m->body_len + 1;
	}
	if (n < p->need)
		return PROTO_MORE;
	if (buf[p->need - 1] != '\n') {
		char tmp[8];

		perr(&e, p->need - 1, "expected a newline after the "
		    "%llu-byte body, found %s",
		    (unsigned long long)m->body_len,
		    byte_name((unsigned char)buf[p->need - 1], tmp));
		return parser_fail(p, &e);
	}
	m->frame = buf;
	m->body = buf + m->hdr_len;
	m->frame_len = p->need;
	p->in_body = 0;
	p->off += p->need;
	p->nmsg++;
	p->need = 0;
	return PROTO_MSG;
}

int
proto_parse_eof(struct proto_parser *p, const char *buf, size_t n)
{
	if (n == 0)
		return 0;
	if (!p->in_body) {
		struct perr e;

		e.msg = p->err;
		e.msglen = sizeof p->err;
		if (check_version(buf, n, &e) != 0)
			return parser_fail(p, &e);
		snprintf(p->err, sizeof p->err, "truncated frame: input ends "
		    "inside the header line (%zu bytes, no newline)", n);
	} else if (n < p->need - 1) {
		snprintf(p->err, sizeof p->err, "truncated frame: input ends "
		    "inside the body (%zu of %llu bytes)", n - p->msg.hdr_len,
		    (unsigned long long)p->msg.body_len);
	} else {
		snprintf(p->err, sizeof p->err, "truncated frame: missing "
		    "the newline after the %llu-byte body",
		    (unsigned long long)p->msg.body_len);
	}
	p->err_off = p->off + n;
	return PROTO_ERR;
}

int
proto_parse_datagram(const char *buf, size_t n, uint64_t max_body,
    struct proto_msg *m, uint64_t *err_off, char *err, size_t errlen)
{
	struct proto_parser p;
	int rc;

	proto_parser_init(&p, max_body);
	if (n == 0) {
		snprintf(err, errlen, "empty datagram");
		*err_off = 0;
		return PROTO_ERR;
	}
	rc = proto_parse(&p, buf, n);
	if (rc == PROTO_MORE)
		rc = proto_parse_eof(&p, buf, n);
	else if (rc == PROTO_MSG && p.msg.frame_len != n) {
		snprintf(p.err, sizeof p.err, "%zu bytes after the frame "
		    "(a datagram holds exactly one)", n - p.msg.frame_len);
		p.err_off = p.msg.frame_len;
		rc = PROTO_ERR;
	}
	if (rc == PROTO_MSG) {
		*m = p.msg;
		return PROTO_MSG;
	}
	*err_off = p.err_off;
	snprintf(err, errlen, "%s", p.err);
	return PROTO_ERR;
}

/* ---- views ---- */

static struct proto_str
span(const struct proto_msg *m, struct proto_span s)
{
	struct proto_str r;

	r.p = m->frame + s.off;
	r.n = s.len;
	return r;
}

struct proto_str
proto_get(const struct proto_msg *m, enum proto_wk wk)
{
	struct proto_str none = { NULL, 0 };

	if (m->wk[wk] < 0)
		return none;
	return span(m, m->field[m->wk[wk]].val);
}

struct proto_str
proto_key(const struct proto_msg *m, int i)
{
	return span(m, m->field[i].key);
}

struct proto_str
proto_val(const struct proto_msg *m, int i)
{
	return span(m, m->field[i].val);
}

struct proto_str
proto_lookup(const struct proto_msg *m, const char *key)
{
	struct proto_str none = { NULL, 0 };
	size_t n = strlen(key);
	int i;

	for (i = 0; i < m->nfields; i++)
		if (m->field[i].key.len == n &&
		    memcmp(m->frame + m->field[i].key.off, key, n) == 0)
			return proto_val(m, i);
	return none;
}

struct proto_str
proto_type(const struct proto_msg *m)
{
	struct proto_str def = { "msg", 3 };

	return m->wk[PF_TYPE] < 0 ? def : proto_get(m, PF_TYPE);
}

int
proto_str_eq(struct proto_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.p != NULL && s.n == n && memcmp(s.p, lit, n) == 0;
}

long
proto_decode(const char *s, size_t n, char *dst)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = num_hexval((unsigned char)s[i + 1]);
			lo = num_hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	return (long)o;
}

/* ---- encoding ---- */

const char *
proto_strerror(int code)
{
	switch (code) {
	case PROTO_E_FULL:
		return "output buffer full";
	case PROTO_E_NAME:
		return "names are 1 to 64 bytes of [A-Za-z0-9._-]";
	case PROTO_E_TYPE:
		return "types are 1 to 64 bytes of [a-z0-9_-]";
	case PROTO_E_KEY:
		return "keys are 1 to 32 bytes of [a-z0-9_-], and not one of "
		    "from, to, type, re, id, len";
	case PROTO_E_VALUE:
		return "values must be non-empty";
	case PROTO_E_LONG:
		return "header line would be longer than 4096 bytes";
	case PROTO_E_COUNT:
		return "a header holds at most 64 fields, id and len included";
	}
	return "unknown error";
}

size_t
proto_encoded_len(const char *s, size_t n)
{
	size_t i, len = n;

	cls_init();
	for (i = 0; i < n; i++)
		if (!(cls[(unsigned char)s[i]] & C_VALUE))
			len += 2;
	return len;
}

int
proto_encode_value(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;

	cls_init();
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3];

		if (cls[c] & C_VALUE)
			continue;
		/* Copy the literal run before this byte in one go. */
		if (buf_append(b, s + run, i - run) != BUF_OK)
			return PROTO_E_FULL;
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		if (buf_append(b, esc, 3) != BUF_OK)
			return PROTO_E_FULL;
		run = i + 1;
	}
	if (buf_append(b, s + run, n - run) != BUF_OK)
		return PROTO_E_FULL;
	return 0;
}

static int
put_field(struct buf *b, const char *key, const char *val, size_t n)
{
	if (buf_append_byte(b, ' ') != BUF_OK ||
	    buf_append_str(b, key) != BUF_OK ||
	    buf_append_byte(b, '=') != BUF_OK)
		return PROTO_E_FULL;
	return proto_encode_value(b, val, n);
}

static int
encode_prefix(struct buf *b, const struct proto_hdr *h)
{
	size_t i, re_len = 0;
	int rc;

	if (h->re != NULL)
		re_len = h->re_len ? h->re_len : strlen(h->re);

	if (h->from == NULL || !proto_name_ok(h->from, strlen(h->from)) ||
	    h->to == NULL || !proto_to_ok(h->to, strlen(h->to)))
		return PROTO_E_NAME;
	if (h->type != NULL && !proto_type_ok(h->type, strlen(h->type)))
		return PROTO_E_TYPE;
	if (h->re != NULL && (re_len == 0 ||
	    proto_encoded_len(h->re, re_len) > PROTO_TOKEN_MAX))
		return PROTO_E_VALUE;
	/* Room is kept for the id and len that follow the prefix. */
	if (2 + (h->type != NULL) + (h->re != NULL) + h->nextra + 2 >
	    PROTO_FIELDS_MAX)
		return PROTO_E_COUNT;
	if (buf_append_str(b, PROTO_VERSION) != BUF_OK)
		return PROTO_E_FULL;
	if ((rc = put_field(b, "from", h->from, strlen(h->from))) != 0 ||
	    (rc = put_field(b, "to", h->to, strlen(h->to))) != 0)
		return rc;
	if (h->type != NULL && strcmp(h->type, "msg") != 0 &&
	    (rc = put_field(b, "type", h->type, strlen(h->type))) != 0)
		return rc;
	if (h->re != NULL && (rc = put_field(b, "re", h->re, re_len)) != 0)
		return rc;
	for (i = 0; i < h->nextra; i++) {
		const struct proto_kv *kv = &h->extra[i];
		size_t kl = strlen(kv->key);

		if (!proto_key_ok(kv->key, kl) || proto_key_is_wk(kv->key, kl))
			return PROTO_E_KEY;
		if (kv->val_len == 0)
			return PROTO_E_VALUE;
		if ((rc = put_field(b, kv->key, kv->val, kv->val_len)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Marks are lengths, not offsets: buf_reserve() may slide the bytes to the
 * front of the buffer, which keeps lengths but not offsets.
 */
static void
undo(struct buf *b, size_t mark)
{
	b->end = b->start + mark;
}

/* Check the header just encoded after mark; on any failure, undo it. */
static int
finish(struct buf *b, size_t mark, int rc, int whole)
{
	if (rc == 0 && buf_len(b) - mark > (size_t)PROTO_HDR_MAX - !whole)
		rc = PROTO_E_LONG;
	if (rc != 0)
		undo(b, mark);
	return rc;
}

int
proto_encode_prefix(struct buf *b, const struct proto_hdr *h)
{
	size_t mark = buf_len(b);

	return finish(b, mark, encode_prefix(b, h), 0);
}

int
proto_encode_tail(struct buf *b, const char *id, size_t id_len,
    uint64_t body_len)
{
	char num[NUM_U64_MAXLEN + 6];
	size_t n;
	int rc = 0;

	if (id != NULL) {
		if (id_len == 0 ||
		    proto_encoded_len(id, id_len) > PROTO_TOKEN_MAX)
			return PROTO_E_VALUE;
		if ((rc = put_field(b, "id", id, id_len)) != 0)
			return rc;
	}
	memcpy(num, " len=", 5);
	n = 5 + num_fmt_u64(num + 5, body_len);
	num[n++] = '\n';
	if (buf_append(b, num, n) != BUF_OK)
		return PROTO_E_FULL;
	return 0;
}

int
proto_encode_frame(struct buf *b, const char *prefix, size_t prefix_len,
    const char *id_enc, size_t id_len, const void *body, size_t body_len)
{
	size_t need = prefix_len + 4 + id_len + 5 + NUM_U64_MAXLEN + 1;
	char *p;

	if (body != NULL)
		need += body_len + 1;
	if (buf_reserve(b, need) != BUF_OK)
		return PROTO_E_FULL;
	p = buf_tail(b);
	memcpy(p, prefix, prefix_len);
	p += prefix_len;
	if (id_enc != NULL) {
		memcpy(p, " id=", 4);
		memcpy(p + 4, id_enc, id_len);
		p += 4 + id_len;
	}
	memcpy(p, " len=", 5);
	p += 5;
	p += num_fmt_u64(p, body_len);
	*p++ = '\n';
	/* A growing id or a longer len can push a header past the limit. */
	if ((size_t)(p - buf_tail(b)) > PROTO_HDR_MAX)
		return PROTO_E_LONG;
	if (body != NULL) {
		memcpy(p, body, body_len);
		p += body_len;
		*p++ = '\n';
	}
	buf_commit(b, (size_t)(p - buf_tail(b)));
	return 0;
}

int
proto_encode_head(struct buf *b, const struct proto_hdr *h,
    uint64_t body_len)
{
	size_t mark = buf_len(b);
	int rc;

	rc = encode_prefix(b, h);
	if (rc == 0)
		rc = proto_encode_tail(b, h->id, h->id ? strlen(h->id) : 0,
		    body_len);
	return finish(b, mark, rc, 1);
}

int
proto_encode(struct buf *b, const struct proto_hdr *h, const void *body,
    size_t body_len)
{
	size_t mark = buf_len(b);
	int rc;

	rc = proto_encode_head(b, h, body_len);
	if (rc != 0)
		return rc;
	if (buf_append(b, body, body_len) != BUF_OK ||
	    buf_append_byte(b, '\n') != BUF_OK) {
		undo(b, mark);
		return PROTO_E_FULL;
	}
	return 0;
}

int
proto_set_field(struct buf *b, const struct proto_msg *m, const char *key,
    const char *val, size_t n)
{
	size_t klen = strlen(key), before = buf_len(b), at, head, rest;
	int i, found = -1;

	if (!proto_key_ok(key, klen) || proto_key_is_wk(key, klen))
		return PROTO_E_KEY;
	if (n == 0)
		return PROTO_E_VALUE;
	for (i = 0; i < m->nfields; i++)
		if (m->field[i].key.len == klen &&
		    memcmp(m->frame + m->field[i].key.off, key, klen) == 0)
			found = i;
	if (found < 0 && m->nfields >= PROTO_FIELDS_MAX)
		return PROTO_E_COUNT;
	/*
	 * The copy is what comes before the old value (or the header's LF),
	 * the new value, and everything after.
	 */
	if (found >= 0) {
		head = m->field[found].val.off;
		rest = head + m->field[found].val.len;
	} else {
		/* Before id and len, which writers put last. */
		head = m->hdr_len - 1;
		for (i = PF_ID; i <= PF_LEN; i++)
			if (m->wk[i] >= 0 &&
			    (size_t)m->field[m->wk[i]].key.off - 1 < head)
				head = (size_t)m->field[m->wk[i]].key.off - 1;
		rest = head;
	}
	if (buf_reserve(b, m->frame_len + klen + 2 + 3 * n) != BUF_OK)
		return PROTO_E_FULL;
	(void)buf_append(b, m->frame, head);
	if (found < 0) {
		(void)buf_append(b, " ", 1);
		(void)buf_append(b, key, klen);
		(void)buf_append(b, "=", 1);
	}
	(void)proto_encode_value(b, val, n);
	at = buf_len(b) - before;
	if (at + (m->hdr_len - rest) > PROTO_HDR_MAX) {
		b->end = b->start + before;
		return PROTO_E_LONG;
	}
	(void)buf_append(b, m->frame + rest, m->frame_len - rest);
	return 0;
}
