/*
 * proto: the ds1 wire format (see dsproto(7)): parse, validate, encode.
 *
 *   ds1 from=alice to=bob id=7 len=11\n
 *   hello world\n
 *
 * The module is pure: it works on bytes in memory and does no I/O, so the
 * same code reads pipes, sockets and datagrams, and can be fuzzed alone.
 *
 * Parsing a stream: keep the unconsumed bytes in one buffer and call
 * proto_parse() with a pointer to the first byte of the next frame each
 * time more bytes arrive.  It answers PROTO_MORE (read more; p->need says
 * how many bytes the frame takes once its header is known), PROTO_MSG (a
 * whole frame: p->msg holds views into the buffer; consume
 * p->msg.frame_len bytes and call again) or PROTO_ERR (p->err says why and
 * p->err_off is the stream offset of the offending byte).  A header line
 * is scanned once; a large body costs no rescans.  Nothing is allocated,
 * and a len above the limit is refused as soon as the header is read.
 *
 * Field views are offsets into the frame, so they stay valid when the
 * caller's buffer moves between calls.  Values are returned as written
 * (percent-encoded); proto_decode() turns them into bytes.
 */
#ifndef DS_PROTO_H
#define DS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROTO_VERSION "ds1"
#define PROTO_HDR_MAX 4096            /* header line, LF included */
#define PROTO_NAME_MAX 64             /* from and to */
#define PROTO_KEY_MAX 32              /* a field's key */
#define PROTO_TOKEN_MAX 64            /* id, re and type, as written */
#define PROTO_FIELDS_MAX 64           /* fields in one header */
#define PROTO_BODY_DEFAULT (16u << 20) /* default body limit: 16 MiB */
#define PROTO_BODY_MAX ((uint64_t)1 << 40) /* highest limit a tool may set */

/* The well-known fields, in the order the encoder writes them. */
enum proto_wk { PF_FROM, PF_TO, PF_TYPE, PF_RE, PF_ID, PF_LEN, PF_NWK };

struct proto_span {
	uint16_t off;   /* from the first byte of the frame */
	uint16_t len;
};

struct proto_field {
	struct proto_span key;
	struct proto_span val;
};

/* A borrowed string: a view into someone else's bytes. */
struct proto_str {
	const char *p;
	size_t n;
};

struct proto_msg {
	const char *frame;        /* first byte of the frame */
	size_t hdr_len;           /* header line, LF included */
	uint64_t body_len;        /* the len field */
	size_t frame_len;         /* header + body + the closing LF */
	const char *body;
	int nfields;
	signed char wk[PF_NWK];   /* index into field[] or -1 */
	struct proto_field field[PROTO_FIELDS_MAX];
};

enum { PROTO_ERR = -1, PROTO_MORE = 0, PROTO_MSG = 1 };

struct proto_parser {
	uint64_t max_body;
	uint64_t off;       /* stream offset of the current frame */
	uint64_t nmsg;      /* whole frames returned so far */
	size_t need;        /* bytes the current frame takes, once known */
	int in_body;        /* header parsed, waiting for the body */
	struct proto_msg msg;
	uint64_t err_off;   /* stream offset of the byte at fault */
	char err[160];
	/*
	 * The start of the last header, up to its first id, re or len field,
	 * and what it parsed to.  A stream from one sender repeats it in
	 * every frame; a header that begins with the same bytes parses to the
	 * same fields, so only the rest of the line is scanned.
	 */
	char memo[256];
	size_t memo_len;    /* 0: nothing remembered */
	int memo_fields;
	signed char memo_wk[PF_NWK];
	struct proto_field memo_field[8];
	/*
	 * The whole last header, when it parsed well, with a mark on each
	 * byte that lies inside a value.  A header of the same length that
	 * differs from it only inside values, by bytes that may stand in a
	 * value, has the same fields at the same places: only the changed
	 * values need a look (see same_shape() in proto.c).  p->msg still
	 * describes it, so callers must not change p->msg.
	 */
	char last[256];
	size_t last_len;    /* 0: nothing to compare with */
	unsigned char last_isval[256];
};

void proto_parser_init(struct proto_parser *p, uint64_t max_body);
int proto_parse(struct proto_parser *p, const char *buf, size_t n);

/*
 * Call at end of input with the n bytes left over.  Returns 0 when n is 0,
 * else PROTO_ERR with p->err saying where the frame was cut short.
 */
int proto_parse_eof(struct proto_parser *p, const char *buf, size_t n);

/*
 * Parse a datagram, which holds exactly one frame.  Returns PROTO_MSG or
 * PROTO_ERR (with err filled and *err_off set).
 */
int proto_parse_datagram(const char *buf, size_t n, uint64_t max_body,
    struct proto_msg *m, uint64_t *err_off, char *err, size_t errlen);

/* Views of a parsed message.  An absent field gives {NULL, 0}. */
struct proto_str proto_get(const struct proto_msg *m, enum proto_wk wk);
struct proto_str proto_key(const struct proto_msg *m, int i);
struct proto_str proto_val(const struct proto_msg *m, int i);
/* The first field named key, or {NULL, 0}. */
struct proto_str proto_lookup(const struct proto_msg *m, const char *key);
/* The type, with the default "msg" when the field is absent. */
struct proto_str proto_type(const struct proto_msg *m);
int proto_str_eq(struct proto_str s, const char *lit);

/*
 * Decode a percent-encoded value into dst, which must hold n bytes.
 * Returns the decoded length, or -1 on a malformed escape.
 */
long proto_decode(const char *s, size_t n, char *dst);

/* Checks on names, keys and type tokens, for tools that take them. */
int proto_name_ok(const char *s, size_t n);     /* [A-Za-z0-9._-]{1,64} */
int proto_to_ok(const char *s, size_t n);       /* a name, or "*" */
int proto_key_ok(const char *s, size_t n);      /* [a-z0-9_-]{1,32} */
int proto_type_ok(const char *s, size_t n);     /* [a-z0-9_-]{1,64} */
int proto_key_is_wk(const char *s, size_t n);   /* from, to, len, ... */

/* One extra field for the encoder; the value is raw and gets encoded. */
struct proto_kv {
	const char *key;
	const char *val;
	size_t val_len;
};

struct proto_hdr {
	const char *from;
	const char *to;
	const char *type;   /* NULL for the default, msg */
	const char *re;     /* NULL when absent; raw, encoded on output */
	size_t re_len;      /* bytes of re; 0 means strlen(re) */
	const char *id;     /* NULL when absent; raw, encoded on output */
	const struct proto_kv *extra;
	size_t nextra;
};

enum {
	PROTO_E_FULL = -1,   /* the output buffer refused the bytes */
	PROTO_E_NAME = -2,   /* from or to is not a valid name */
	PROTO_E_TYPE = -3,   /* type is not a valid token */
	PROTO_E_KEY = -4,    /* an extra key is invalid or well-known */
	PROTO_E_VALUE = -5,  /* an empty value, or an id or re over 64 bytes */
	PROTO_E_LONG = -6,   /* the header line would pass PROTO_HDR_MAX */
	PROTO_E_COUNT = -7   /* more fields than PROTO_FIELDS_MAX */
};
const char *proto_strerror(int code);

/*
 * Append "ds1 from=.. to=.. [type=..] [re=..] [key=val..]": the header up
 * to, not including, the id and len fields.  Tools that send many frames
 * with one header encode this prefix once and finish each frame with
 * proto_encode_tail().  On failure the buffer is left as it was.
 */
int proto_encode_prefix(struct buf *b, const struct proto_hdr *h);
/* Append " [id=..] len=N\n"; id may be NULL. */
int proto_encode_tail(struct buf *b, const char *id, size_t id_len,
    uint64_t body_len);
/*
 * The fast path for tools that send many frames with one header: append
 * prefix (made once by proto_encode_prefix), then " id=" and id_enc, which
 * must already be encoded (NULL for none), then " len=N\n", and then, if
 * body is not NULL, the body and its closing LF, all with one reserve.
 * Returns PROTO_E_LONG, with nothing added, for a header over the limit.
 */
int proto_encode_frame(struct buf *b, const char *prefix, size_t prefix_len,
    const char *id_enc, size_t id_len, const void *body, size_t body_len);
/* A whole header line. */
int proto_encode_head(struct buf *b, const struct proto_hdr *h,
    uint64_t body_len);
/* A whole frame: header line, body and the closing LF. */
int proto_encode(struct buf *b, const struct proto_hdr *h, const void *body,
    size_t body_len);
/* How many bytes the percent-encoding of n raw bytes takes. */
size_t proto_encoded_len(const char *s, size_t n);
/* Append the percent-encoding of n raw bytes. */
int proto_encode_value(struct buf *b, const char *s, size_t n);

/*
 * Append to b a copy of the frame m with the field key set to the raw
 * value val[0..n): it replaces the field where m has it, or is added
 * before id and len (or at the end of the header line without them).  The body is copied as it is.  Returns 0,
 * PROTO_E_KEY for a bad or well-known key, PROTO_E_VALUE for an empty
 * value, PROTO_E_LONG or PROTO_E_COUNT when the header would pass its
 * limits, PROTO_E_FULL; on failure b is left as it was.
 */
int proto_set_field(struct buf *b, const struct proto_msg *m,
    const char *key, const char *val, size_t n);

#endif
