#include <stdio.h>
#include <stdlib.h>

#include "../../lib/proto.h"
#include "unit.h"

static struct proto_hdr
hdr(const char *from, const char *to)
{
	struct proto_hdr h;

	memset(&h, 0, sizeof h);
	h.from = from;
	h.to = to;
	return h;
}

static int
encodes_to(const struct proto_hdr *h, const char *body, const char *want)
{
	struct buf b;
	int ok;

	buf_init(&b, 1 << 20);
	ok = proto_encode(&b, h, body, strlen(body)) == 0 &&
	    buf_len(&b) == strlen(want) &&
	    memcmp(buf_head(&b), want, strlen(want)) == 0;
	if (!ok)
		fprintf(stderr, "  got '%.*s'\n", (int)buf_len(&b),
		    buf_head(&b));
	buf_free(&b);
	return ok;
}

/* proto_set_field(frame, key, val) gives want, which parses. */
static int
sets_to(const char *frame, const char *key, const char *val, const char *want)
{
	struct proto_msg m;
	struct buf b;
	uint64_t off;
	char e[120];
	int ok;

	if (proto_parse_datagram(frame, strlen(frame), 1 << 20, &m, &off, e,
	    sizeof e) != PROTO_MSG)
		return 0;
	buf_init(&b, 1 << 20);
	ok = proto_set_field(&b, &m, key, val, strlen(val)) == 0 &&
	    buf_len(&b) == strlen(want) &&
	    memcmp(buf_head(&b), want, strlen(want)) == 0 &&
	    proto_parse_datagram(buf_head(&b), buf_len(&b), 1 << 20, &m, &off,
	    e, sizeof e) == PROTO_MSG;
	if (!ok)
		fprintf(stderr, "  got '%.*s'\n", (int)buf_len(&b),
		    buf_head(&b));
	buf_free(&b);
	return ok;
}

static void
set_field(void)
{
	struct proto_msg m;
	struct buf b, big;
	uint64_t off;
	char e[120];
	const char *f = "ds1 from=a to=b id=1 len=2\nhi\n";
	int i;

	CHECK(sets_to(f, "worker", "x1",
	    "ds1 from=a to=b worker=x1 id=1 len=2\nhi\n"));
	CHECK(sets_to("ds1 from=a len=2 to=b\nhi\n", "k", "v",
	    "ds1 from=a k=v len=2 to=b\nhi\n"));
	CHECK(sets_to("ds1 from=a to=b type=rep re=1 len=0\n\n", "worker",
	    "x1", "ds1 from=a to=b type=rep re=1 worker=x1 len=0\n\n"));
	CHECK(sets_to("ds1 from=a to=b worker=old id=1 len=0\n\n", "worker",
	    "new one", "ds1 from=a to=b worker=new%20one id=1 len=0\n\n"));
	CHECK(sets_to("ds1 from=a to=b redelivered=1 len=2\nhi\n",
	    "redelivered", "12", "ds1 from=a to=b redelivered=12 len=2\nhi\n"));
	CHECK(proto_parse_datagram(f, strlen(f), 99, &m, &off, e, sizeof e) ==
	    PROTO_MSG);
	buf_init(&b, 1 << 20);
	CHECK(proto_set_field(&b, &m, "to", "x", 1) == PROTO_E_KEY);
	CHECK(proto_set_field(&b, &m, "Bad", "x", 1) == PROTO_E_KEY);
	CHECK(proto_set_field(&b, &m, "k", "", 0) == PROTO_E_VALUE);
	CHECK(buf_len(&b) == 0);
	/* A header at its limit takes no more, and b is left as it was. */
	buf_append(&b, "keep", 4);
	buf_init(&big, 1 << 20);
	buf_append_str(&big, "ds1 from=a to=b pad=");
	for (i = 0; buf_len(&big) < PROTO_HDR_MAX - 8; i++)
		buf_append_byte(&big, 'p');
	buf_append_str(&big, " len=0\n\n");
	CHECK(proto_parse_datagram(buf_head(&big), buf_len(&big), 99, &m, &off,
	    e, sizeof e) == PROTO_MSG);
	CHECK(proto_set_field(&b, &m, "worker", "x1", 2) == PROTO_E_LONG);
	CHECK(buf_len(&b) == 4 && memcmp(buf_head(&b), "keep", 4) == 0);
	buf_free(&big);
	buf_free(&b);
}

void
suite_encode(void)
{
	struct proto_hdr h = hdr("alice", "bob");
	struct proto_kv kv[3];
	struct proto_parser p;
	struct buf b;
	char dec[64];
	long n;
	int i;

	set_field();
	h.id = "7";
	CHECK(encodes_to(&h, "hello world",
	    "ds1 from=alice to=bob id=7 len=11\nhello world\n"));
	h.id = NULL;
	CHECK(encodes_to(&h, "", "ds1 from=alice to=bob len=0\n\n"));
	/* The field order: from to type re extra... id len. */
	h.type = "rep";
	h.re = "a b";
	h.id = "9";
	kv[0].key = "subject";
	kv[0].val = "x=y%z\n\x01\x7f caf\xc3\xa9";
	kv[0].val_len = strlen(kv[0].val);
	h.extra = kv;
	h.nextra = 1;
	CHECK(encodes_to(&h, "ok", "ds1 from=alice to=bob type=rep re=a%20b "
	    "subject=x%3Dy%25z%0A%01%7F%20caf\xc3\xa9 id=9 len=2\nok\n"));
	/* The default type is not written. */
	h = hdr("a", "*");
	h.type = "msg";
	CHECK(encodes_to(&h, "", "ds1 from=a to=* len=0\n\n"));

	/* What it writes, the parser reads back to the same values. */
	h = hdr("a", "b");
	kv[0].key = "k";
	kv[0].val = "\0\x01 =%\n";
	kv[0].val_len = 6;
	h.extra = kv;
	h.nextra = 1;
	buf_init(&b, 1 << 20);
	CHECK(proto_encode(&b, &h, "\0\n", 2) == 0);
	proto_parser_init(&p, PROTO_BODY_DEFAULT);
	CHECK(proto_parse(&p, buf_head(&b), buf_len(&b)) == PROTO_MSG);
	n = proto_decode(proto_lookup(&p.msg, "k").p,
	    proto_lookup(&p.msg, "k").n, dec);
	CHECK(n == 6 && memcmp(dec, "\0\x01 =%\n", 6) == 0);
	CHECK(p.msg.body_len == 2 && memcmp(p.msg.body, "\0\n", 2) == 0);
	buf_free(&b);

	/* Refusals leave the buffer as it was. */
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "keep");
	h = hdr("a b", "c");
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_NAME);
	h = hdr("a", "");
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_NAME);
	h = hdr("*", "b");
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_NAME);
	h = hdr("a", "b");
	h.type = "Bad";
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_TYPE);
	h = hdr("a", "b");
	h.re = "";
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_VALUE);
	h = hdr("a", "b");
	h.id = "";
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_VALUE);
	kv[0].key = "len";
	kv[0].val = "1";
	kv[0].val_len = 1;
	h.id = NULL;
	h.extra = kv;
	h.nextra = 1;
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_KEY);
	kv[0].key = "Key";
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_KEY);
	kv[0].key = "k";
	kv[0].val_len = 0;
	CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_VALUE);
	/* 1400 bytes that each need escaping make a 4200-byte value. */
	{
		char *v = malloc(1400);

		memset(v, ' ', 1400);
		kv[0].val = v;
		kv[0].val_len = 1400;
		CHECK(proto_encode(&b, &h, "", 0) == PROTO_E_LONG);
		CHECK(proto_encode_prefix(&b, &h) == PROTO_E_LONG);
		kv[0].val_len = 1300;
		CHECK(proto_encode_prefix(&b, &h) == 0);
		b.end = b.start + 4;
		free(v);
	}
	CHECK_MEM(buf_head(&b), buf_len(&b), "keep");
	/* A full output buffer is reported, with the buffer unchanged. */
	{
		struct buf tiny;

		buf_init(&tiny, 20);
		h = hdr("alice", "bob");
		CHECK(proto_encode(&tiny, &h, "body", 4) == PROTO_E_FULL);
		CHECK(buf_len(&tiny) == 0);
		buf_free(&tiny);
	}
	buf_free(&b);

	/* The fast path writes exactly what the general encoder writes. */
	{
		struct buf fast, slow;

		buf_init(&fast, 1 << 20);
		buf_init(&slow, 1 << 20);
		h = hdr("a", "b");
		h.type = "req";
		CHECK(proto_encode_prefix(&fast, &h) == 0);
		i = (int)buf_len(&fast);
		{
			char prefix[256];

			memcpy(prefix, buf_head(&fast), (size_t)i);
			buf_clear(&fast);
			CHECK(proto_encode_frame(&fast, prefix, (size_t)i, "12",
			    2, "xyz", 3) == 0);
			CHECK(proto_encode_frame(&fast, prefix, (size_t)i, NULL,
			    0, NULL, 5) == 0);
		}
		h.id = "12";
		CHECK(proto_encode(&slow, &h, "xyz", 3) == 0);
		h.id = NULL;
		CHECK(proto_encode_head(&slow, &h, 5) == 0);
		CHECK(buf_len(&fast) == buf_len(&slow) &&
		    memcmp(buf_head(&fast), buf_head(&slow),
		    buf_len(&slow)) == 0);
		buf_free(&fast);
		buf_free(&slow);
	}
	/* id and re are limited as written, after encoding. */
	CHECK(proto_encoded_len("a b%", 4) == 8 && proto_encoded_len("", 0) == 0);
	{
		struct buf t;
		char v[40];

		buf_init(&t, 1 << 20);
		memset(v, ' ', sizeof v);
		h = hdr("a", "b");
		h.re = v;
		h.re_len = 22;
		CHECK(proto_encode(&t, &h, "", 0) == PROTO_E_VALUE);
		h.re_len = 21;
		h.id = "7";
		CHECK(proto_encode(&t, &h, "", 0) == 0);
		CHECK(proto_encode_tail(&t, v, 22, 0) == PROTO_E_VALUE);
		buf_clear(&t);
		/* A re holding a NUL byte goes out encoded. */
		h.re = "x\0y";
		h.re_len = 3;
		h.id = NULL;
		CHECK(proto_encode(&t, &h, "", 0) == 0);
		CHECK_MEM(buf_head(&t), buf_len(&t),
		    "ds1 from=a to=b re=x%00y len=0\n\n");
		buf_free(&t);
	}
	/* 60 extra fields leave room for id and len; 61 do not. */
	{
		struct proto_kv many[61];
		struct buf t;

		for (i = 0; i < 61; i++) {
			many[i].key = "k";
			many[i].val = "v";
			many[i].val_len = 1;
		}
		buf_init(&t, 1 << 20);
		h = hdr("a", "b");
		h.id = "1";
		h.extra = many;
		h.nextra = 60;
		CHECK(proto_encode(&t, &h, "", 0) == 0);
		proto_parser_init(&p, PROTO_BODY_DEFAULT);
		CHECK(proto_parse(&p, buf_head(&t), buf_len(&t)) == PROTO_MSG &&
		    p.msg.nfields == 64);
		h.nextra = 61;
		CHECK(proto_encode(&t, &h, "", 0) == PROTO_E_COUNT);
		buf_free(&t);
	}
	CHECK(strstr(proto_strerror(PROTO_E_LONG), "4096") != NULL);
	CHECK(strstr(proto_strerror(PROTO_E_KEY), "keys") != NULL);
}
