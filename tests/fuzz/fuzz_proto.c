/*
 * fuzz_proto: a libFuzzer target for the ds1 parser and encoder (lib/proto).
 *
 * Build and run it with `make fuzz SECONDS=n`; tests/fuzz/smoke.sh runs it
 * briefly under `make check`.  The input is a byte stream that a reader
 * might receive, so the seeds in tests/fuzz/corpus are plain frames.  Each
 * input goes through:
 *
 *  1. The stream parser over the whole input at once, checking every
 *     message against an independent reading of dsproto(7): every span
 *     inside the header, the fields tiling it, the body inside the buffer.
 *     Where it fails, a fresh parser (which has no memo of the previous
 *     header) must fail on that frame in the same way.
 *  2. The same parser fed in pieces, as dsrecv feeds it: the bytes pile up
 *     in a buffer, and each PROTO_MSG consumes frame_len bytes.  The size of
 *     each piece is picked by the input byte it starts with, so the fuzzer
 *     steers the cuts.  The parser always sees a copy that ends exactly at
 *     the end of an allocation, so ASan catches a read past the bytes it
 *     was given.  The pieces must give the same frames and the same final
 *     error, at the same offset, as the whole input.
 *  3. The whole input again with a small body limit: the same frames up to
 *     the first one whose len passes the limit, which must be refused.
 *  4. proto_parse_datagram on the whole input, and on each frame alone,
 *     which must agree with 1.
 *  5. For each message: proto_decode on every value, then a round trip.
 *     The decoded fields go back through the encoder, whose output must be
 *     byte for byte the canonical frame built here from the spec, the same
 *     from proto_encode, proto_encode_prefix + proto_encode_tail and
 *     proto_encode_frame, and must parse back to the same decoded fields
 *     and body.  Where the frame breaks the field count or header length
 *     limit, the encoder must refuse it and leave its buffer as it was.
 *     An id or re twice as long must be refused exactly when its encoding
 *     passes 64 bytes.
 *
 * Any broken rule prints one line and aborts, which libFuzzer reports as a
 * crash with the input saved.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) \
		fail(__LINE__, #cond); \
} while (0)

static void
fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_proto.c:%d: check failed: %s\n", line, what);
	abort();
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

/* ---- the spec, written out again independently of lib/proto.c ---- */

static int
is_key_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '-';
}

static int
is_name_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || is_key_byte(c) || c == '.';
}

/* A byte that a value may hold literally; all others are %XX. */
static int
is_literal(unsigned char c)
{
	return (c >= 0x21 && c <= 0x7e && c != '=' && c != '%') || c >= 0x80;
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
all_bytes(const char *s, size_t n, size_t max, int (*ok)(unsigned char))
{
	size_t i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
eq(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static const char *const wk_name[PF_NWK] = {
	"from", "to", "type", "re", "id", "len"
};

static int
wk_of(const char *s, size_t n)
{
	int i;

	for (i = 0; i < PF_NWK; i++)
		if (eq(s, n, wk_name[i]))
			return i;
	return -1;
}

/* Diagnostics are one line of text: no control bytes may leak into them. */
static void
check_err_text(const char *err, size_t cap)
{
	size_t i, n = strnlen(err, cap);

	CHECK(n > 0 && n < cap);
	for (i = 0; i < n; i++)
		CHECK((unsigned char)err[i] >= 0x20 &&
		    (unsigned char)err[i] != 0x7f);
}

/*
 * Check a message the parser returned from the n bytes at buf against the
 * spec: every span inside the header, the fields tiling it exactly, and
 * the views agreeing with the spans.
 */
static void
check_msg(const struct proto_msg *m, const char *buf, size_t n,
    uint64_t max_body)
{
	const char *f = m->frame;
	size_t pos = 3, i;
	int k, wk[PF_NWK];

	CHECK(f == buf);
	CHECK(m->hdr_len >= 4 && m->hdr_len <= PROTO_HDR_MAX);
	CHECK(m->body_len <= max_body);
	CHECK(m->frame_len <= n);
	CHECK(m->frame_len == m->hdr_len + m->body_len + 1);
	CHECK(m->body == f + m->hdr_len);
	CHECK(memcmp(f, "ds1", 3) == 0);
	CHECK(f[m->hdr_len - 1] == '\n');
	CHECK(memchr(f, '\n', m->hdr_len - 1) == NULL);
	CHECK(memchr(f, '\r', m->hdr_len) == NULL);
	CHECK(f[m->frame_len - 1] == '\n');
	CHECK(m->nfields >= 2 && m->nfields <= PROTO_FIELDS_MAX);
	for (k = 0; k < PF_NWK; k++)
		wk[k] = -1;
	for (k = 0; k < m->nfields; k++) {
		const struct proto_field *fl = &m->field[k];
		const char *key = f + fl->key.off, *val = f + fl->val.off;
		struct proto_str s;
		int w;

		/* " key=value", right after the previous field. */
		CHECK(fl->key.off == pos + 1 && f[pos] == ' ');
		CHECK(all_bytes(key, fl->key.len, PROTO_KEY_MAX, is_key_byte));
		CHECK(fl->val.off == fl->key.off + fl->key.len + 1);
		CHECK(f[fl->val.off - 1] == '=');
		CHECK(fl->val.len > 0);
		pos = (size_t)fl->val.off + fl->val.len;
		CHECK(pos < m->hdr_len);
		CHECK(f[pos] == ' ' || pos == m->hdr_len - 1);
		for (i = 0; i < fl->val.len; i++) {
			unsigned char c = (unsigned char)val[i];

			if (c == '%') {
				CHECK(i + 2 < fl->val.len);
				CHECK(is_hex((unsigned char)val[i + 1]) &&
				    is_hex((unsigned char)val[i + 2]));
				i += 2;
			} else {
				CHECK(is_literal(c));
			}
		}
		s = proto_key(m, k);
		CHECK(s.p == key && s.n == fl->key.len);
		s = proto_val(m, k);
		CHECK(s.p == val && s.n == fl->val.len);
		w = wk_of(key, fl->key.len);
		if (w >= 0) {
			CHECK(wk[w] < 0);
			wk[w] = k;
		}
	}
	CHECK(pos == m->hdr_len - 1);
	for (k = 0; k < PF_NWK; k++) {
		struct proto_str s = proto_get(m, (enum proto_wk)k);

		CHECK(m->wk[k] == wk[k]);
		if (wk[k] < 0) {
			CHECK(s.p == NULL && s.n == 0);
			continue;
		}
		CHECK(s.p == f + m->field[wk[k]].val.off);
		s = proto_lookup(m, wk_name[k]);
		CHECK(s.p == f + m->field[wk[k]].val.off);
	}
	CHECK(wk[PF_FROM] >= 0 && wk[PF_TO] >= 0);
	{
		struct proto_str from = proto_get(m, PF_FROM);
		struct proto_str to = proto_get(m, PF_TO);
		struct proto_str type = proto_type(m);
		struct proto_str len = proto_get(m, PF_LEN);
		struct proto_str s;

		CHECK(all_bytes(from.p, from.n, PROTO_NAME_MAX, is_name_byte));
		CHECK(proto_name_ok(from.p, from.n));
		CHECK(eq(to.p, to.n, "*") ||
		    all_bytes(to.p, to.n, PROTO_NAME_MAX, is_name_byte));
		CHECK(proto_to_ok(to.p, to.n));
		CHECK(all_bytes(type.p, type.n, PROTO_TOKEN_MAX, is_key_byte));
		CHECK(proto_type_ok(type.p, type.n));
		CHECK(wk[PF_TYPE] >= 0 || eq(type.p, type.n, "msg"));
		s = proto_get(m, PF_ID);
		CHECK(s.n <= PROTO_TOKEN_MAX);
		s = proto_get(m, PF_RE);
		CHECK(s.n <= PROTO_TOKEN_MAX);
		if (len.p == NULL) {
			CHECK(m->body_len == 0);
		} else {
			uint64_t v = 0;

			CHECK(len.n == 1 || len.p[0] != '0');
			for (i = 0; i < len.n; i++) {
				CHECK(len.p[i] >= '0' && len.p[i] <= '9');
				CHECK(v <= (UINT64_MAX - 9) / 10);
				v = v * 10 + (uint64_t)(len.p[i] - '0');
			}
			CHECK(v == m->body_len);
		}
	}
}

/* ---- recording the frames of one parse, to compare parses ---- */

struct rec {
	uint64_t off;       /* stream offset of the frame */
	size_t frame_len;
	size_t hdr_len;
	uint64_t body_len;
	int nfields;
	signed char wk[PF_NWK];
	struct proto_field field[PROTO_FIELDS_MAX];
};

struct run {
	struct rec *recs;
	size_t nrecs, cap;
	int failed;         /* ended in PROTO_ERR, not at a clean end */
	uint64_t err_off;
	char err[sizeof ((struct proto_parser *)0)->err];
};

static void
run_add(struct run *r, uint64_t off, const struct proto_msg *m)
{
	struct rec *rc;

	if (r->nrecs == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->recs = realloc(r->recs, r->cap * sizeof *r->recs);
		if (r->recs == NULL)
			abort();
	}
	rc = &r->recs[r->nrecs++];
	rc->off = off;
	rc->frame_len = m->frame_len;
	rc->hdr_len = m->hdr_len;
	rc->body_len = m->body_len;
	rc->nfields = m->nfields;
	memcpy(rc->wk, m->wk, sizeof rc->wk);
	memcpy(rc->field, m->field, (size_t)m->nfields * sizeof m->field[0]);
}

static int
rec_eq(const struct rec *a, const struct rec *b)
{
	return a->off == b->off && a->frame_len == b->frame_len &&
	    a->hdr_len == b->hdr_len && a->body_len == b->body_len &&
	    a->nfields == b->nfields &&
	    memcmp(a->wk, b->wk, sizeof a->wk) == 0 &&
	    memcmp(a->field, b->field,
	    (size_t)a->nfields * sizeof a->field[0]) == 0;
}

/* The recorded frame a, at stream offset off, is the message m. */
static int
rec_same(const struct rec *a, const struct proto_msg *m, uint64_t off)
{
	return a->off == off && a->frame_len == m->frame_len &&
	    a->hdr_len == m->hdr_len && a->body_len == m->body_len &&
	    a->nfields == m->nfields &&
	    memcmp(a->wk, m->wk, sizeof a->wk) == 0 &&
	    memcmp(a->field, m->field,
	    (size_t)m->nfields * sizeof m->field[0]) == 0;
}

static void
run_end(struct run *r, const struct proto_parser *p, int rc)
{
	CHECK(rc == 0 || rc == PROTO_ERR);
	CHECK(p->nmsg == r->nrecs);
	r->failed = rc == PROTO_ERR;
	if (r->failed) {
		check_err_text(p->err, sizeof p->err);
		r->err_off = p->err_off;
		memcpy(r->err, p->err, sizeof r->err);
	}
}

/* What PROTO_MORE promises about the n bytes it was given. */
static void
check_more(const struct proto_parser *p, const char *buf, size_t n)
{
	if (p->in_body) {
		CHECK(p->need > n);
		CHECK(p->need == p->msg.hdr_len + p->msg.body_len + 1);
	} else {
		CHECK(n < PROTO_HDR_MAX);
		CHECK(memchr(buf, '\n', n) == NULL);
	}
}

/* Part 1 (and 3): the whole input at once. */
static void
parse_whole(const char *data, size_t size, uint64_t max_body, struct run *r,
    int full_checks)
{
	struct proto_parser p;
	size_t pos = 0;
	int rc;

	proto_parser_init(&p, max_body);
	for (;;) {
		rc = proto_parse(&p, data + pos, size - pos);
		if (rc != PROTO_MSG)
			break;
		if (full_checks)
			check_msg(&p.msg, data + pos, size - pos, max_body);
		CHECK(p.msg.frame_len > 0 && p.msg.frame_len <= size - pos);
		run_add(r, pos, &p.msg);
		pos += p.msg.frame_len;
		CHECK(p.off == pos);
	}
	if (rc == PROTO_MORE) {
		check_more(&p, data + pos, size - pos);
		rc = proto_parse_eof(&p, data + pos, size - pos);
		CHECK(rc == (pos == size ? 0 : PROTO_ERR));
		if (rc == PROTO_ERR)
			CHECK(p.err_off == size);
	} else {
		CHECK(rc == PROTO_ERR);
		CHECK(p.err_off >= pos && p.err_off <= size);
	}
	run_end(r, &p, rc);
}

/*
 * Piece sizes, picked by the byte each piece starts with: mostly small, to
 * cut headers and bodies everywhere, and now and then large, to bring
 * several frames in one read.
 */
static size_t
piece_size(unsigned char c)
{
	static const size_t sizes[16] = {
		1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64, 100, 255, 512, 4095, 4097
	};

	return sizes[(c ^ (c >> 4)) & 15];
}

/*
 * The parser's copy of the unconsumed bytes, in an allocation of exactly
 * their size, so that a read past them is a heap overflow.
 */
static const char *
exact_copy(char **keep, const struct buf *in)
{
	size_t n = buf_len(in);

	free(*keep);
	*keep = xmalloc(n);
	if (n > 0)
		memcpy(*keep, buf_head(in), n);
	return *keep;
}

/* Part 2: the input in pieces, compared frame by frame with the whole. */
static void
parse_pieces(const char *data, size_t size, const struct run *whole)
{
	struct proto_parser p;
	struct buf in;
	char *view = NULL;
	const char *v;
	size_t fed = 0, k = 0;
	uint64_t consumed = 0;
	int rc = PROTO_MORE;

	proto_parser_init(&p, PROTO_BODY_DEFAULT);
	buf_init(&in, size + 1);
	while (fed < size && rc != PROTO_ERR) {
		size_t piece = piece_size((unsigned char)data[fed]);

		if (piece > size - fed)
			piece = size - fed;
		CHECK(buf_append(&in, data + fed, piece) == BUF_OK);
		fed += piece;
		for (;;) {
			v = exact_copy(&view, &in);
			rc = proto_parse(&p, v, buf_len(&in));
			if (rc != PROTO_MSG)
				break;
			check_msg(&p.msg, v, buf_len(&in), PROTO_BODY_DEFAULT);
			CHECK(k < whole->nrecs);
			CHECK(rec_same(&whole->recs[k], &p.msg, consumed));
			CHECK(memcmp(p.msg.frame, data + consumed,
			    p.msg.frame_len) == 0);
			k++;
			consumed += p.msg.frame_len;
			CHECK(p.off == consumed);
			buf_consume(&in, p.msg.frame_len);
		}
		if (rc == PROTO_MORE)
			check_more(&p, v, buf_len(&in));
	}
	if (rc == PROTO_MORE) {
		v = exact_copy(&view, &in);
		rc = proto_parse_eof(&p, v, buf_len(&in));
	}
	CHECK(k == whole->nrecs);
	CHECK((rc == PROTO_ERR) == whole->failed);
	if (rc == PROTO_ERR) {
		CHECK(p.err_off == whole->err_off);
		CHECK(strcmp(p.err, whole->err) == 0);
	}
	free(view);
	buf_free(&in);
}

/* Part 3: a small body limit refuses the first frame whose len passes it. */
static void
parse_limited(const char *data, size_t size, const struct run *whole)
{
	struct run lim;
	uint64_t limit = size / 4;
	size_t k, ok = whole->nrecs;

	memset(&lim, 0, sizeof lim);
	parse_whole(data, size, limit, &lim, 0);
	for (k = 0; k < whole->nrecs; k++)
		if (whole->recs[k].body_len > limit) {
			ok = k;
			break;
		}
	CHECK(lim.nrecs == ok);
	for (k = 0; k < ok; k++)
		CHECK(rec_eq(&lim.recs[k], &whole->recs[k]));
	if (ok < whole->nrecs) {
		const struct rec *r = &whole->recs[ok];
		const struct proto_field *len = &r->field[r->wk[PF_LEN]];

		CHECK(lim.failed);
		CHECK(strstr(lim.err, "exceeds the limit") != NULL);
		CHECK(lim.err_off == r->off + len->val.off);
	} else {
		CHECK(lim.failed == whole->failed);
	}
	free(lim.recs);
}

/*
 * The parser remembers the start of the last good header, to skip it in
 * the next one.  A fresh parser, which remembers nothing, must fail on the
 * bad frame in the same way.
 */
static void
parse_fresh(const char *data, size_t size, const struct run *whole)
{
	struct proto_parser p;
	size_t pos = 0;
	int rc;

	if (whole->nrecs > 0) {
		const struct rec *last = &whole->recs[whole->nrecs - 1];

		pos = (size_t)last->off + last->frame_len;
	}
	proto_parser_init(&p, PROTO_BODY_DEFAULT);
	rc = proto_parse(&p, data + pos, size - pos);
	if (rc == PROTO_MORE)
		rc = proto_parse_eof(&p, data + pos, size - pos);
	CHECK(rc != PROTO_MSG);
	CHECK((rc == PROTO_ERR) == whole->failed);
	if (rc == PROTO_ERR) {
		CHECK(p.err_off + pos == whole->err_off);
		CHECK(strcmp(p.err, whole->err) == 0);
	}
}

/* Part 4: a datagram holds exactly the one frame. */
static void
parse_dgram(const char *data, size_t size, const struct run *whole)
{
	struct proto_msg m;
	uint64_t off = 0;
	char err[sizeof whole->err];
	int rc;

	memset(err, 0, sizeof err);
	rc = proto_parse_datagram(data, size, PROTO_BODY_DEFAULT, &m, &off,
	    err, sizeof err);
	if (whole->nrecs >= 1 && whole->recs[0].frame_len == size) {
		CHECK(rc == PROTO_MSG);
		check_msg(&m, data, size, PROTO_BODY_DEFAULT);
		CHECK(rec_same(&whole->recs[0], &m, 0));
		return;
	}
	CHECK(rc == PROTO_ERR);
	check_err_text(err, sizeof err);
	if (whole->nrecs >= 1) {
		CHECK(off == whole->recs[0].frame_len);
		CHECK(strstr(err, "after the frame") != NULL);
	} else if (whole->failed) {
		CHECK(off == whole->err_off);
		CHECK(strcmp(err, whole->err) == 0);
	}
}

/* ---- part 5: decoding and the round trip ---- */

/* A decoded value; text is NUL-terminated for the encoder's C strings. */
struct val {
	char *text;
	size_t n;
	int has_nul;
};

struct dmsg {
	struct val wk[PF_NWK];
	int present[PF_NWK];
	struct val extra[PROTO_FIELDS_MAX];
	char key[PROTO_FIELDS_MAX][PROTO_KEY_MAX + 1];
	int nextra;
	int nfields;
};

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	CHECK(c >= 'A' && c <= 'F');
	return c - 'A' + 10;
}

static void
decode_val(const char *s, size_t n, struct val *v)
{
	size_t pct = 0, i;
	long got;

	for (i = 0; i < n; i++)
		pct += s[i] == '%';
	v->text = xmalloc(n + 1);
	got = proto_decode(s, n, v->text);
	CHECK(got >= 0 && (size_t)got == n - 2 * pct);
	v->n = (size_t)got;
	v->text[v->n] = '\0';
	v->has_nul = memchr(v->text, '\0', v->n) != NULL;
	/* The decoding, done here by hand. */
	for (i = 0; i < v->n; i++) {
		if (*s != '%') {
			CHECK(v->text[i] == *s++);
			continue;
		}
		CHECK((unsigned char)v->text[i] ==
		    (hexval((unsigned char)s[1]) << 4 |
		    hexval((unsigned char)s[2])));
		s += 3;
	}
}

static void
decode_msg(const struct proto_msg *m, struct dmsg *d)
{
	int k;

	memset(d, 0, sizeof *d);
	d->nfields = m->nfields;
	for (k = 0; k < m->nfields; k++) {
		struct proto_str key = proto_key(m, k);
		struct proto_str val = proto_val(m, k);
		int w = wk_of(key.p, key.n);

		if (w >= 0) {
			decode_val(val.p, val.n, &d->wk[w]);
			d->present[w] = 1;
		} else {
			memcpy(d->key[d->nextra], key.p, key.n);
			d->key[d->nextra][key.n] = '\0';
			decode_val(val.p, val.n, &d->extra[d->nextra++]);
		}
	}
}

static void
free_dmsg(struct dmsg *d)
{
	int k;

	for (k = 0; k < PF_NWK; k++)
		free(d->wk[k].text);
	for (k = 0; k < d->nextra; k++)
		free(d->extra[k].text);
}

static int
val_eq(const struct val *a, const struct val *b)
{
	return a->n == b->n && memcmp(a->text, b->text, a->n) == 0;
}

static int
is_msg_type(const struct dmsg *d)
{
	return !d->present[PF_TYPE] || eq(d->wk[PF_TYPE].text,
	    d->wk[PF_TYPE].n, "msg");
}

/* Two decoded messages carry the same fields, with type msg the default. */
static int
dmsg_same(const struct dmsg *a, const struct dmsg *b)
{
	int k;

	for (k = 0; k < PF_NWK; k++) {
		if (k == PF_TYPE || k == PF_LEN)
			continue;
		if (a->present[k] != b->present[k])
			return 0;
		if (a->present[k] && !val_eq(&a->wk[k], &b->wk[k]))
			return 0;
	}
	if (is_msg_type(a) != is_msg_type(b))
		return 0;
	if (!is_msg_type(a) && !val_eq(&a->wk[PF_TYPE], &b->wk[PF_TYPE]))
		return 0;
	if (a->nextra != b->nextra)
		return 0;
	for (k = 0; k < a->nextra; k++)
		if (strcmp(a->key[k], b->key[k]) != 0 ||
		    !val_eq(&a->extra[k], &b->extra[k]))
			return 0;
	return 1;
}

/* The canonical encoding of a value, per the spec: uppercase %XX. */
static void
canon_value(struct buf *b, const struct val *v)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, before = buf_len(b);

	for (i = 0; i < v->n; i++) {
		unsigned char c = (unsigned char)v->text[i];
		char esc[3];

		if (is_literal(c)) {
			CHECK(buf_append_byte(b, (char)c) == BUF_OK);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		CHECK(buf_append(b, esc, 3) == BUF_OK);
	}
	CHECK(proto_encoded_len(v->text, v->n) == buf_len(b) - before);
}

static void
canon_field(struct buf *b, const char *key, const struct val *v)
{
	CHECK(buf_append_byte(b, ' ') == BUF_OK);
	CHECK(buf_append_str(b, key) == BUF_OK);
	CHECK(buf_append_byte(b, '=') == BUF_OK);
	canon_value(b, v);
}

/*
 * The canonical header line for d, in the encoder's documented order:
 * from to [type, unless msg] [re] [extra fields in order] [id] len.
 */
static void
canon_header(struct buf *b, const struct dmsg *d, uint64_t body_len)
{
	char num[32];
	int k;

	CHECK(buf_append_str(b, "ds1") == BUF_OK);
	canon_field(b, "from", &d->wk[PF_FROM]);
	canon_field(b, "to", &d->wk[PF_TO]);
	if (!is_msg_type(d))
		canon_field(b, "type", &d->wk[PF_TYPE]);
	if (d->present[PF_RE])
		canon_field(b, "re", &d->wk[PF_RE]);
	for (k = 0; k < d->nextra; k++)
		canon_field(b, d->key[k], &d->extra[k]);
	if (d->present[PF_ID])
		canon_field(b, "id", &d->wk[PF_ID]);
	snprintf(num, sizeof num, " len=%llu\n", (unsigned long long)body_len);
	CHECK(buf_append_str(b, num) == BUF_OK);
}

/* How many fields the canonical header has. */
static int
canon_nfields(const struct dmsg *d)
{
	return 3 + !is_msg_type(d) + d->present[PF_RE] + d->nextra +
	    d->present[PF_ID];
}

/*
 * How many fields the encoder counts against the limit: it keeps room for
 * an id and a len after the prefix, and counts a type given as msg.  It is
 * never fewer than the canonical count, so the encoder never writes a
 * header with more fields than a reader takes.
 */
static int
encoder_nfields(const struct dmsg *d)
{
	return 4 + d->present[PF_TYPE] + d->present[PF_RE] + d->nextra;
}

/* The header for d; the id is left to the caller, who may need id_len. */
static void
fill_hdr(const struct dmsg *d, struct proto_hdr *h, struct proto_kv *kv)
{
	int k;

	memset(h, 0, sizeof *h);
	h->from = d->wk[PF_FROM].text;
	h->to = d->wk[PF_TO].text;
	h->type = d->present[PF_TYPE] ? d->wk[PF_TYPE].text : NULL;
	if (d->present[PF_RE]) {
		h->re = d->wk[PF_RE].text;
		h->re_len = d->wk[PF_RE].n;
	}
	for (k = 0; k < d->nextra; k++) {
		kv[k].key = d->key[k];
		kv[k].val = d->extra[k].text;
		kv[k].val_len = d->extra[k].n;
	}
	h->extra = kv;
	h->nextra = (size_t)d->nextra;
}

static int
buf_eq(const struct buf *a, const struct buf *b)
{
	return buf_len(a) == buf_len(b) &&
	    memcmp(buf_head(a), buf_head(b), buf_len(a)) == 0;
}

/*
 * The ways a tool can write the frame for d, which must all give want, the
 * canonical frame: a prefix plus proto_encode_tail, a prefix plus
 * proto_encode_frame with and without the body, and, when the id holds no
 * NUL (proto_hdr takes it as a C string), proto_encode.
 */
static void
encode_all_ways(const struct dmsg *d, const struct buf *want,
    const char *body, size_t body_len)
{
	struct proto_kv kv[PROTO_FIELDS_MAX];
	struct proto_hdr h;
	struct buf prefix, id, out;
	const struct val *idv = d->present[PF_ID] ? &d->wk[PF_ID] : NULL;

	fill_hdr(d, &h, kv);
	buf_init(&prefix, (size_t)-1);
	buf_init(&id, (size_t)-1);
	buf_init(&out, (size_t)-1);
	/* The whole header fits, so the shorter prefix does. */
	CHECK(proto_encode_prefix(&prefix, &h) == 0);
	CHECK(buf_append(&out, buf_head(&prefix), buf_len(&prefix)) ==
	    BUF_OK);
	CHECK(proto_encode_tail(&out, idv ? idv->text : NULL, idv ? idv->n : 0,
	    body_len) == 0);
	CHECK(buf_append(&out, body, body_len) == BUF_OK);
	CHECK(buf_append_byte(&out, '\n') == BUF_OK);
	CHECK(buf_eq(&out, want));

	if (idv != NULL)
		CHECK(proto_encode_value(&id, idv->text, idv->n) == 0);
	buf_clear(&out);
	CHECK(proto_encode_frame(&out, buf_head(&prefix), buf_len(&prefix),
	    idv ? buf_head(&id) : NULL, buf_len(&id), body, body_len) == 0);
	CHECK(buf_eq(&out, want));
	buf_clear(&out);
	CHECK(proto_encode_frame(&out, buf_head(&prefix), buf_len(&prefix),
	    idv ? buf_head(&id) : NULL, buf_len(&id), NULL, body_len) == 0);
	CHECK(buf_len(&out) == buf_len(want) - body_len - 1);
	CHECK(memcmp(buf_head(&out), buf_head(want), buf_len(&out)) == 0);

	if (idv == NULL || !idv->has_nul) {
		h.id = idv ? idv->text : NULL;
		buf_clear(&out);
		CHECK(proto_encode(&out, &h, body, body_len) == 0);
		CHECK(buf_eq(&out, want));
	}
	buf_free(&prefix);
	buf_free(&id);
	buf_free(&out);
}

/*
 * id and re are limited to 64 bytes as written, so the encoder must refuse
 * one whose encoding is longer.  Try each twice over, which may pass it.
 */
static void
check_token_limits(const struct dmsg *d)
{
	struct proto_kv kv[PROTO_FIELDS_MAX];
	struct proto_hdr h;
	struct buf out;
	struct val twice;
	size_t enc;
	int w, rc;

	buf_init(&out, (size_t)-1);
	for (w = PF_RE; w <= PF_ID; w++) {
		const struct val *v = &d->wk[w];

		if (!d->present[w])
			continue;
		twice.n = 2 * v->n;
		twice.text = xmalloc(twice.n + 1);
		memcpy(twice.text, v->text, v->n);
		memcpy(twice.text + v->n, v->text, v->n);
		twice.text[twice.n] = '\0';
		enc = 2 * proto_encoded_len(v->text, v->n);
		CHECK(proto_encoded_len(twice.text, twice.n) == enc);
		buf_clear(&out);
		if (w == PF_ID) {
			rc = proto_encode_tail(&out, twice.text, twice.n, 0);
		} else {
			fill_hdr(d, &h, kv);
			h.re = twice.text;
			h.re_len = twice.n;
			rc = proto_encode_prefix(&out, &h);
		}
		if (enc > PROTO_TOKEN_MAX) {
			CHECK(rc == PROTO_E_VALUE);
			CHECK(buf_len(&out) == 0);
		} else if (w == PF_ID) {
			CHECK(rc == 0);
		}
		free(twice.text);
	}
	buf_free(&out);
}

static void
round_trip(const struct proto_msg *m)
{
	struct dmsg d, d2;
	struct proto_hdr h;
	struct proto_kv kv[PROTO_FIELDS_MAX];
	struct buf want, out;
	struct proto_msg m2;
	uint64_t off;
	char err[160];
	char *copy;
	size_t hdr_len, body_len = (size_t)m->body_len;
	int nfields, rc;

	decode_msg(m, &d);
	check_token_limits(&d);
	buf_init(&want, (size_t)-1);
	buf_init(&out, (size_t)-1);
	canon_header(&want, &d, m->body_len);
	hdr_len = buf_len(&want);
	CHECK(buf_append(&want, m->body, body_len) == BUF_OK);
	CHECK(buf_append_byte(&want, '\n') == BUF_OK);

	/*
	 * Where the frame breaks a limit, the encoder must refuse it, leaving
	 * what the buffer held before as it was: too many fields (the len
	 * field the encoder always writes can take a header of 64 fields past
	 * the limit), or a header line over 4096 bytes.
	 */
	nfields = encoder_nfields(&d);
	CHECK(nfields >= canon_nfields(&d));
	if (nfields > PROTO_FIELDS_MAX || hdr_len > PROTO_HDR_MAX) {
		int want_rc = nfields > PROTO_FIELDS_MAX ? PROTO_E_COUNT :
		    PROTO_E_LONG;

		fill_hdr(&d, &h, kv);
		CHECK(buf_append_str(&out, "xyz") == BUF_OK);
		buf_consume(&out, 1);
		if (nfields > PROTO_FIELDS_MAX)
			CHECK(proto_encode_prefix(&out, &h) == PROTO_E_COUNT);
		if (!d.present[PF_ID] || !d.wk[PF_ID].has_nul) {
			h.id = d.present[PF_ID] ? d.wk[PF_ID].text : NULL;
			CHECK(proto_encode(&out, &h, m->body, body_len) ==
			    want_rc);
		}
		CHECK(buf_len(&out) == 2 && memcmp(buf_head(&out), "yz", 2) == 0);
		goto done;
	}
	encode_all_ways(&d, &want, m->body, body_len);

	/* Parse it back, from an allocation of exactly its size. */
	copy = xmalloc(buf_len(&want));
	memcpy(copy, buf_head(&want), buf_len(&want));
	rc = proto_parse_datagram(copy, buf_len(&want), m->body_len, &m2, &off,
	    err, sizeof err);
	CHECK(rc == PROTO_MSG);
	check_msg(&m2, copy, buf_len(&want), m->body_len);
	CHECK(m2.hdr_len == hdr_len && m2.body_len == m->body_len);
	CHECK(memcmp(m2.body, m->body, body_len) == 0);
	decode_msg(&m2, &d2);
	CHECK(dmsg_same(&d, &d2));
	free_dmsg(&d2);
	free(copy);
done:
	free_dmsg(&d);
	buf_free(&want);
	buf_free(&out);
}

/* proto_decode on raw bytes: -1 or a shorter or equal length, never more. */
static void
decode_raw(const char *data, size_t size)
{
	size_t n = size < 256 ? size : 256;
	char *dst = xmalloc(n);
	long got = proto_decode(data, n, dst);

	CHECK(got == -1 || (got >= 0 && (size_t)got <= n));
	free(dst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	static const char none[1];
	const char *data = size > 0 ? (const char *)bytes : none;
	struct run whole;
	size_t k;

	memset(&whole, 0, sizeof whole);
	parse_whole(data, size, PROTO_BODY_DEFAULT, &whole, 1);
	parse_fresh(data, size, &whole);
	parse_pieces(data, size, &whole);
	parse_limited(data, size, &whole);
	parse_dgram(data, size, &whole);
	for (k = 0; k < whole.nrecs; k++) {
		struct proto_msg m;
		uint64_t off;
		char err[160];
		const struct rec *r = &whole.recs[k];

		/* A frame on its own is a datagram. */
		CHECK(proto_parse_datagram(data + r->off, r->frame_len,
		    PROTO_BODY_DEFAULT, &m, &off, err, sizeof err) ==
		    PROTO_MSG);
		CHECK(rec_same(r, &m, r->off));
		round_trip(&m);
	}
	decode_raw(data, size);
	free(whole.recs);
	return 0;
}
