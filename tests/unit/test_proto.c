#include <stdio.h>
#include <stdlib.h>

#include "../../lib/proto.h"
#include "unit.h"

static struct proto_parser P;

/* Parse the first frame of s (a C string) with the default limit. */
static int
one(const char *s)
{
	proto_parser_init(&P, PROTO_BODY_DEFAULT);
	return proto_parse(&P, s, strlen(s));
}

/* Expect s to fail with a message containing why at stream offset off. */
static int
fails(const char *s, const char *why, unsigned long long off)
{
	int rc = one(s);

	if (rc != PROTO_ERR || strstr(P.err, why) == NULL ||
	    P.err_off != off) {
		fprintf(stderr, "  input %s: rc %d, off %llu, err '%s'\n", s,
		    rc, (unsigned long long)P.err_off, P.err);
		return 0;
	}
	return 1;
}

static void
states(void)
{
	const char *f = "ds1 from=alice to=bob id=7 len=11\nhello world\n";
	size_t n = strlen(f), i;
	int rc;

	/* Whole: one message, with views into the input. */
	CHECK(one(f) == PROTO_MSG);
	CHECK(P.msg.frame == f && P.msg.frame_len == n);
	CHECK(P.msg.hdr_len == 34 && P.msg.body_len == 11);
	CHECK_MEM(P.msg.body, (size_t)P.msg.body_len, "hello world");
	CHECK(P.msg.nfields == 4 && P.nmsg == 1 && P.off == n);
	CHECK_MEM(proto_get(&P.msg, PF_FROM).p, proto_get(&P.msg, PF_FROM).n,
	    "alice");
	CHECK(proto_str_eq(proto_get(&P.msg, PF_TO), "bob"));
	CHECK(proto_str_eq(proto_get(&P.msg, PF_ID), "7"));
	CHECK(proto_str_eq(proto_get(&P.msg, PF_LEN), "11"));
	CHECK(proto_get(&P.msg, PF_RE).p == NULL);
	CHECK(proto_str_eq(proto_type(&P.msg), "msg"));
	CHECK(proto_str_eq(proto_key(&P.msg, 2), "id"));
	CHECK(proto_str_eq(proto_val(&P.msg, 0), "alice"));
	CHECK(proto_str_eq(proto_lookup(&P.msg, "to"), "bob"));
	CHECK(proto_lookup(&P.msg, "nope").p == NULL);

	/* Fed one byte more at a time: need-more until the last byte. */
	proto_parser_init(&P, PROTO_BODY_DEFAULT);
	for (i = 0; i < n; i++) {
		rc = proto_parse(&P, f, i);
		if (rc != PROTO_MORE)
			break;
		/* In the header, need is unknown; after it, the whole size. */
		if (i < 34 && P.need != 0)
			break;
		if (i >= 34 && P.need != n)
			break;
	}
	CHECK(i == n);
	CHECK(proto_parse(&P, f, n) == PROTO_MSG);
	CHECK(P.msg.body_len == 11 && P.msg.frame_len == n);

	/* Two frames back to back, then a third cut short. */
	{
		const char *s = "ds1 from=a to=b len=1\nx\n"
		    "ds1 from=a to=b\n\nds1 from=a to";
		size_t len = strlen(s), off = 0;

		proto_parser_init(&P, PROTO_BODY_DEFAULT);
		CHECK(proto_parse(&P, s, len) == PROTO_MSG);
		off += P.msg.frame_len;
		CHECK(proto_parse(&P, s + off, len - off) == PROTO_MSG);
		CHECK(P.msg.body_len == 0 && P.msg.frame_len == 17);
		off += P.msg.frame_len;
		CHECK(proto_parse(&P, s + off, len - off) == PROTO_MORE);
		CHECK(P.nmsg == 2 && P.off == off);
		CHECK(proto_parse_eof(&P, s + off, len - off) == PROTO_ERR);
		CHECK(strstr(P.err, "inside the header line") != NULL);
		CHECK(P.err_off == len);
	}

	/* End of input in the body, and just before its closing LF. */
	proto_parser_init(&P, PROTO_BODY_DEFAULT);
	CHECK(proto_parse(&P, f, n - 5) == PROTO_MORE);
	CHECK(proto_parse_eof(&P, f, n - 5) == PROTO_ERR);
	CHECK(strstr(P.err, "inside the body (7 of 11 bytes)") != NULL);
	proto_parser_init(&P, PROTO_BODY_DEFAULT);
	CHECK(proto_parse(&P, f, n - 1) == PROTO_MORE);
	CHECK(proto_parse_eof(&P, f, n - 1) == PROTO_ERR);
	CHECK(strstr(P.err, "missing the newline after the 11-byte body") !=
	    NULL);
	proto_parser_init(&P, PROTO_BODY_DEFAULT);
	CHECK(proto_parse_eof(&P, f, 0) == 0);
	CHECK(proto_parse_eof(&P, "xy", 2) == PROTO_ERR &&
	    strstr(P.err, "not a ds1 frame") != NULL);
}

static void
errors(void)
{
	char big[PROTO_HDR_MAX + 64];
	size_t i;
	int k;

	CHECK(fails("hello\n", "not a ds1 frame: header must start with "
	    "'ds1 ', found 'h'", 0));
	/* Garbage is refused at once, without waiting for a newline. */
	CHECK(fails("GET", "not a ds1 frame", 0));
	CHECK(one("d") == PROTO_MORE && one("ds1") == PROTO_MORE);
	CHECK(fails("ds2 from=a to=b\n\n", "unsupported protocol version "
	    "'ds2'", 0));
	CHECK(fails("ds12 from=a\n", "unsupported protocol version", 0));
	CHECK(fails("ds1x from=a\n", "expected a space after 'ds1', "
	    "found 'x'", 3));
	CHECK(fails("ds1\n\n", "missing required field 'from'", 3));
	CHECK(fails("ds1 from=a\n\n", "missing required field 'to'", 10));
	CHECK(fails("ds1 to=a\n\n", "missing required field 'from'", 8));
	CHECK(fails("ds1  from=a to=b\n\n", "empty field", 4));
	CHECK(fails("ds1 from=a to=b \n\n", "empty field", 16));
	CHECK(fails("ds1 \n\n", "empty field", 4));
	CHECK(fails("ds1 From=a to=b\n\n", "bad byte 'F' in a key", 4));
	CHECK(fails("ds1 fRom=a to=b\n\n", "bad byte 'R' in a key", 5));
	CHECK(fails("ds1 from to=b\n\n", "field 'from' has no '='", 8));
	CHECK(fails("ds1 from=a to=b x\n\n", "field 'x' has no '='", 17));
	CHECK(fails("ds1 =a\n\n", "bad byte '=' in a key", 4));
	CHECK(fails("ds1 from=a to=b "
	    "abcdefghijabcdefghijabcdefghijabc=1\n\n",
	    "key longer than 32 bytes", 16));
	CHECK(fails("ds1 from=a to=b x=%4\n\n", "bad percent escape in 'x'",
	    18));
	CHECK(fails("ds1 from=a to=b x=%zz\n\n", "bad percent escape", 18));
	CHECK(fails("ds1 from=a to=b x=%\n\n", "bad percent escape", 18));
	CHECK(fails("ds1 from=a to=b\r\n\n", "carriage return in header",
	    15));
	CHECK(fails("ds1 from=a to=b x=a\tb\n\n", "0x09 in the value of 'x' "
	    "must be percent-encoded", 19));
	CHECK(fails("ds1 from=a to=b x=a=b\n\n", "'=' in the value of 'x'",
	    19));
	CHECK(fails("ds1 from=a to=b x=\x7f\n\n", "0x7f in the value", 18));
	CHECK(fails("ds1 from=a to=b x=\n\n", "empty value for 'x'", 18));
	CHECK(fails("ds1 from=a to=b x= y=1\n\n", "empty value for 'x'", 18));
	CHECK(fails("ds1 from=a to=b to=c\n\n", "repeated field 'to'", 16));
	CHECK(fails("ds1 from=a to=b len=1 len=1\nx\n", "repeated field "
	    "'len'", 22));
	CHECK(fails("ds1 from=a to=b id=1 id=1\n\n", "repeated field 'id'",
	    21));
	CHECK(fails("ds1 from=a to=b type=req type=req\n\n",
	    "repeated field 'type'", 25));
	CHECK(fails("ds1 from=a to=b re=1 re=2\n\n", "repeated field 're'",
	    21));
	CHECK(fails("ds1 from=a from=a to=b\n\n", "repeated field 'from'",
	    11));
	CHECK(fails("ds1 from=a%20b to=b\n\n", "bad name in 'from'", 9));
	CHECK(fails("ds1 from=a@b to=b\n\n", "bad name in 'from'", 9));
	CHECK(fails("ds1 from=* to=b\n\n", "bad name in 'from'", 9));
	CHECK(fails("ds1 from=a to=b/c\n\n", "bad name in 'to'", 14));
	CHECK(fails("ds1 from=a to=**\n\n", "bad name in 'to'", 14));
	CHECK(fails("ds1 from=a to="
	    "12345678901234567890123456789012345678901234567890123456789012345"
	    "\n\n", "bad name in 'to'", 14));
	CHECK(fails("ds1 from=a to=b type=Req\n\n", "bad type", 21));
	CHECK(fails("ds1 from=a to=b id="
	    "12345678901234567890123456789012345678901234567890123456789012345"
	    "\n\n", "'id' is longer than 64 bytes", 19));
	CHECK(fails("ds1 from=a to=b re="
	    "12345678901234567890123456789012345678901234567890123456789012345"
	    "\n\n", "'re' is longer than 64 bytes", 19));
	CHECK(fails("ds1 from=a to=b len=01\nx\n", "bad len '01': leading "
	    "zero", 20));
	CHECK(fails("ds1 from=a to=b len=1x\nx\n", "bad len '1x': not a "
	    "decimal number", 20));
	CHECK(fails("ds1 from=a to=b len=-1\nx\n", "bad len", 20));
	CHECK(fails("ds1 from=a to=b len=16777217\n", "len 16777217 exceeds "
	    "the limit of 16777216 bytes", 20));
	CHECK(fails("ds1 from=a to=b len=99999999999999999999999\n",
	    "exceeds the limit", 20));
	CHECK(fails("ds1 from=a to=b len=1\nxy\n", "expected a newline after "
	    "the 1-byte body, found 'y'", 23));
	CHECK(fails("ds1 from=a to=b\nx", "expected a newline after the "
	    "0-byte body, found 'x'", 16));

	/* The header limit: 4096 bytes with the LF, not one more. */
	memset(big, 0, sizeof big);
	memcpy(big, "ds1 from=a to=b x=", 18);
	for (i = 18; i < PROTO_HDR_MAX - 1; i++)
		big[i] = 'v';
	big[PROTO_HDR_MAX - 1] = '\n';
	big[PROTO_HDR_MAX] = '\n';
	CHECK(one(big) == PROTO_MSG && P.msg.hdr_len == PROTO_HDR_MAX);
	big[PROTO_HDR_MAX - 1] = 'v';
	big[PROTO_HDR_MAX] = '\n';
	CHECK(fails(big, "header line longer than 4096 bytes", 4096));
	/* Without any LF, the verdict comes at 4096 bytes, not before. */
	proto_parser_init(&P, PROTO_BODY_DEFAULT);
	CHECK(proto_parse(&P, big, PROTO_HDR_MAX - 1) == PROTO_MORE);

	/* 64 fields are fine; 65 are not. */
	strcpy(big, "ds1 from=a to=b");
	for (k = 2; k < PROTO_FIELDS_MAX; k++)
		strcat(big, " k=v");
	strcat(big, "\n\n");
	CHECK(one(big) == PROTO_MSG && P.msg.nfields == PROTO_FIELDS_MAX);
	big[strlen(big) - 2] = '\0';
	strcat(big, " k=v\n\n");
	CHECK(fails(big, "more than 64 fields", strlen(big) - 5));

	/* The error offset counts from the start of the stream. */
	{
		const char *s = "ds1 from=a to=b\n\nds1 from=a to=b len=x\n\n";
		size_t off;

		proto_parser_init(&P, PROTO_BODY_DEFAULT);
		CHECK(proto_parse(&P, s, strlen(s)) == PROTO_MSG);
		off = P.msg.frame_len;
		CHECK(proto_parse(&P, s + off, strlen(s) - off) == PROTO_ERR);
		CHECK(P.err_off == 17 + 20 && P.nmsg == 1);
	}
}

static void
accepts(void)
{
	char dec[64];
	long n;

	/* Hand-written: no len means an empty body. */
	CHECK(one("ds1 from=me to=echo\n\n") == PROTO_MSG &&
	    P.msg.body_len == 0 && P.msg.frame_len == 21);
	CHECK(one("ds1 from=me to=echo len=5\nhello\n") == PROTO_MSG);
	CHECK(one("ds1 from=a to=* type=req\n\n") == PROTO_MSG &&
	    proto_str_eq(proto_type(&P.msg), "req"));
	CHECK(one("ds1 to=b from=a len=0\n\n") == PROTO_MSG);
	CHECK(one("ds1 from=A.b_c-9 to=b custom-type=x type=my_type-2\n\n") ==
	    PROTO_MSG);
	/* Unknown fields may repeat, and keep their order. */
	CHECK(one("ds1 from=a to=b x=1 x=2 y=%20\n\n") == PROTO_MSG &&
	    P.msg.nfields == 5 && proto_str_eq(proto_val(&P.msg, 2), "1") &&
	    proto_str_eq(proto_val(&P.msg, 3), "2") &&
	    proto_str_eq(proto_lookup(&P.msg, "x"), "1"));
	/* UTF-8 stands as it is; escapes may be in either case. */
	CHECK(one("ds1 from=a to=b x=caf\xc3\xa9 y=%2a%2A\n\n") == PROTO_MSG);
	n = proto_decode("%2a%2A%00z", 10, dec);
	CHECK(n == 4 && memcmp(dec, "**\0z", 4) == 0);
	CHECK(proto_decode("%2", 2, dec) == -1);
	CHECK(proto_decode("%", 1, dec) == -1);
	CHECK(proto_decode("%g0", 3, dec) == -1);
	CHECK(proto_decode("", 0, dec) == 0);
	/* Binary bodies, newlines and NULs included. */
	{
		static const char s[] = "ds1 from=a to=b len=4\n\n\0\n\r\n";

		proto_parser_init(&P, PROTO_BODY_DEFAULT);
		CHECK(proto_parse(&P, s, sizeof s - 1) == PROTO_MSG &&
		    memcmp(P.msg.body, "\n\0\n\r", 4) == 0);
	}
	/* A lower limit is enforced; a body at the limit is fine. */
	proto_parser_init(&P, 3);
	CHECK(proto_parse(&P, "ds1 from=a to=b len=3\nabc\n", 26) ==
	    PROTO_MSG);
	proto_parser_init(&P, 3);
	CHECK(proto_parse(&P, "ds1 from=a to=b len=4\nabcd\n", 27) ==
	    PROTO_ERR && strstr(P.err, "limit of 3 bytes") != NULL);

	CHECK(proto_name_ok("a", 1) && !proto_name_ok("", 0) &&
	    !proto_name_ok("a b", 3) && !proto_name_ok("*", 1));
	CHECK(proto_to_ok("*", 1) && proto_to_ok("x.y", 3));
	CHECK(proto_key_ok("a-b_9", 5) && !proto_key_ok("A", 1));
	CHECK(proto_type_ok("req", 3) && !proto_type_ok("r q", 3));
	CHECK(proto_key_is_wk("len", 3) && proto_key_is_wk("from", 4) &&
	    proto_key_is_wk("type", 4) && proto_key_is_wk("re", 2) &&
	    proto_key_is_wk("id", 2) && proto_key_is_wk("to", 2) &&
	    !proto_key_is_wk("lenx", 4) && !proto_key_is_wk("x", 1));
}

/* The memo of the last header must never change what a header means. */
static void
memo(void)
{
	const char *s = "ds1 from=a to=b id=1 len=1\nx\n"
	    "ds1 from=a to=b id=2 len=2\nxy\n"
	    "ds1 from=a to=bb id=3\n\n"
	    "ds1 from=a to=b\n\n"
	    "ds1 from=a to=b x=1\n\n"
	    "ds1 from=a to=b to=c\n\n";
	size_t len = strlen(s), off = 0;
	int i;

	proto_parser_init(&P, PROTO_BODY_DEFAULT);
	for (i = 0; i < 5; i++) {
		CHECK(proto_parse(&P, s + off, len - off) == PROTO_MSG);
		switch (i) {
		case 0:
			CHECK(proto_str_eq(proto_get(&P.msg, PF_ID), "1"));
			break;
		case 1:
			CHECK(proto_str_eq(proto_get(&P.msg, PF_ID), "2") &&
			    P.msg.body_len == 2 && P.msg.nfields == 4);
			break;
		case 2:
			CHECK(proto_str_eq(proto_get(&P.msg, PF_TO), "bb") &&
			    P.msg.body_len == 0 &&
			    proto_get(&P.msg, PF_LEN).p == NULL);
			break;
		case 3:
			CHECK(P.msg.nfields == 2 &&
			    proto_get(&P.msg, PF_ID).p == NULL);
			break;
		case 4:
			CHECK(P.msg.nfields == 3 &&
			    proto_str_eq(proto_lookup(&P.msg, "x"), "1"));
			break;
		}
		off += P.msg.frame_len;
	}
	/* The remembered to= still counts as given. */
	CHECK(proto_parse(&P, s + off, len - off) == PROTO_ERR &&
	    strstr(P.err, "repeated field 'to'") != NULL);
}

static void
datagrams(void)
{
	struct proto_msg m;
	uint64_t off = 0;
	char err[160];

	CHECK(proto_parse_datagram("ds1 from=a to=b len=2\nhi\n", 25,
	    PROTO_BODY_DEFAULT, &m, &off, err, sizeof err) == PROTO_MSG &&
	    m.body_len == 2 && memcmp(m.body, "hi", 2) == 0);
	CHECK(proto_str_eq(proto_get(&m, PF_FROM), "a"));
	CHECK(proto_parse_datagram("ds1 from=a to=b len=2\nhi\nX", 26,
	    PROTO_BODY_DEFAULT, &m, &off, err, sizeof err) == PROTO_ERR &&
	    strstr(err, "1 bytes after the frame") != NULL && off == 25);
	CHECK(proto_parse_datagram("ds1 from=a to=b len=2\nh", 23,
	    PROTO_BODY_DEFAULT, &m, &off, err, sizeof err) == PROTO_ERR &&
	    strstr(err, "truncated") != NULL);
	CHECK(proto_parse_datagram("", 0, PROTO_BODY_DEFAULT, &m, &off, err,
	    sizeof err) == PROTO_ERR);
	CHECK(proto_parse_datagram("ds1 from=a\n\n", 12, PROTO_BODY_DEFAULT,
	    &m, &off, err, sizeof err) == PROTO_ERR &&
	    strstr(err, "missing required field 'to'") != NULL);
}

/*
 * The fast paths (the memo of the header start, the same-shape check
 * against the whole last header) must never change a verdict: after a
 * good frame, every one-byte change of it must parse exactly as it does
 * for a parser that has seen nothing.
 */
static int
same_result(const char *a, size_t alen, const char *b, size_t blen)
{
	static struct proto_parser warm, cold;
	int rw, rc, i;

	proto_parser_init(&warm, 100);
	proto_parser_init(&cold, 100);
	if (proto_parse(&warm, a, alen) != PROTO_MSG)
		return 0;
	rw = proto_parse(&warm, b, blen);
	rc = proto_parse(&cold, b, blen);
	if (rw != rc)
		return 0;
	if (rc == PROTO_ERR)
		return strcmp(warm.err, cold.err) == 0 &&
		    warm.err_off - alen == cold.err_off;
	if (rc == PROTO_MORE)
		return warm.need == cold.need;
	if (warm.msg.nfields != cold.msg.nfields ||
	    warm.msg.body_len != cold.msg.body_len ||
	    warm.msg.frame_len != cold.msg.frame_len ||
	    warm.msg.hdr_len != cold.msg.hdr_len ||
	    memcmp(warm.msg.wk, cold.msg.wk, sizeof warm.msg.wk) != 0)
		return 0;
	for (i = 0; i < cold.msg.nfields; i++)
		if (memcmp(&warm.msg.field[i], &cold.msg.field[i],
		    sizeof cold.msg.field[i]) != 0)
			return 0;
	return 1;
}

static void
fast_paths(void)
{
	static const char *const bases[] = {
		"ds1 from=alice to=bob type=req x=%41b id=1795-12 len=3\nabc\n",
		"ds1 from=a to=* re=9 id=10 len=0\n\n",
		"ds1 from=vm to=x id=1795515911343410-1 len=1\n1\n",
	};
	static const char subst[] = "09Aa%= \n\r*@-.\x80\x7f\x01";
	char a[128], b[128];
	size_t bi, q, c, n, bad = 0, tried = 0;

	for (bi = 0; bi < sizeof bases / sizeof bases[0]; bi++) {
		n = strlen(bases[bi]);
		memcpy(a, bases[bi], n);
		for (q = 0; q < n; q++) {
			for (c = 0; c < sizeof subst - 1; c++) {
				memcpy(b, a, n);
				if (b[q] == subst[c])
					continue;
				b[q] = subst[c];
				tried++;
				if (!same_result(a, n, b, n)) {
					if (bad++ < 5)
						fprintf(stderr, "  differs: base "
						    "%zu byte %zu -> 0x%02x\n",
						    bi, q,
						    (unsigned char)subst[c]);
				}
				/* And the same byte put in, one longer. */
				memcpy(b, a, q);
				b[q] = subst[c];
				memcpy(b + q + 1, a + q, n - q);
				tried++;
				if (!same_result(a, n, b, n + 1) && bad++ < 5)
					fprintf(stderr, "  differs: base %zu "
					    "insert at %zu\n", bi, q);
			}
			/* One byte taken out. */
			memcpy(b, a, q);
			memcpy(b + q, a + q + 1, n - q - 1);
			tried++;
			if (!same_result(a, n, b, n - 1) && bad++ < 5)
				fprintf(stderr, "  differs: base %zu delete "
				    "%zu\n", bi, q);
		}
	}
	CHECK(tried > 1000 && bad == 0);
	/* A changed len that passes the limit is still refused. */
	CHECK(same_result("ds1 from=a to=b len=1\nx\n", 24,
	    "ds1 from=a to=b len=9\nxxxxxxxxx\n", 32));
	proto_parser_init(&P, 5);
	CHECK(proto_parse(&P, "ds1 from=a to=b len=1\nx\n", 24) == PROTO_MSG);
	CHECK(proto_parse(&P, "ds1 from=a to=b len=9\nxxxxxxxxx\n", 32) ==
	    PROTO_ERR && strstr(P.err, "exceeds the limit of 5") != NULL);
}

void
suite_proto(void)
{
	fast_paths();
	states();
	errors();
	accepts();
	memo();
	datagrams();
}
