#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "ident.h"
#include "io.h"
#include "net.h"
#include "num.h"

/* Bytes asked of one read(2). */
#define READ_CHUNK (64 * 1024)
/* Room in the output queue beyond one frame of the largest body. */
#define OUT_SLACK (4u << 20)
/* Bytes of a hub's error body quoted in a diagnostic. */
#define SHOWN_MAX 200

enum { CAN_READ = 1, CAN_WRITE = 2 };

static long long
deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : io_now_ms() + timeout_ms;
}

/* A buffer limit of one frame with a body of max bytes, plus slack. */
static size_t
limit_for(uint64_t max, size_t slack)
{
	uint64_t want = max + PROTO_HDR_MAX + 1 + slack;

	return want > (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)want;
}

static int
fail(char *err, size_t errlen, int e, const char *fmt, ...)
    DS_PRINTF(4, 5);

static int
fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

int
client_parse_hubs(const char *list, char (*out)[CLIENT_ADDR_MAX], int max,
    char *err, size_t errlen)
{
	char shown[100];
	const char *p = list;
	struct addr a;
	int n = 0;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == 0)
			return fail(err, errlen, EINVAL, "empty address in "
			    "the hub list '%s'", err_printable(shown,
			    sizeof shown, list, strlen(list)));
		if (n == max)
			return fail(err, errlen, EINVAL, "more than %d "
			    "addresses in the hub list", max);
		if (len >= CLIENT_ADDR_MAX)
			return fail(err, errlen, EINVAL, "hub address "
			    "'%s' is longer than %d bytes", err_printable(
			    shown, sizeof shown, p, len), CLIENT_ADDR_MAX - 1);
		memcpy(out[n], p, len);
		out[n][len] = '\0';
		if (strcmp(out[n], "-") != 0 &&
		    addr_parse(out[n], &a, err, errlen) != 0) {
			errno = EINVAL;
			return -1;
		}
		n++;
		if (end == NULL)
			return n;
		p = end + 1;
	}
}

int
client_init(struct client *c, const struct client_opts *o, char *err,
    size_t errlen)
{
	const char *hubs = o->hubs, *keyfile = o->keyfile;
	int n;

	memset(c, 0, sizeof *c);
	c->o = *o;
	c->rfd = c->wfd = -1;
	if (c->o.max_body == 0)
		c->o.max_body = PROTO_BODY_DEFAULT;
	if (c->o.max_body > PROTO_BODY_MAX)
		c->o.max_body = PROTO_BODY_MAX;
	if (c->o.credit > CLIENT_CREDIT_MAX)
		return fail(err, errlen, EINVAL, "bad credit %u: expected 1 "
		    "to %d", c->o.credit, CLIENT_CREDIT_MAX);
	buf_init(&c->in, limit_for(c->o.max_body, READ_CHUNK));
	buf_init(&c->out, limit_for(c->o.max_body, OUT_SLACK));
	proto_parser_init(&c->p, c->o.max_body);

	if (hubs == NULL)
		hubs = getenv("DS_HUB");
	if (hubs == NULL || hubs[0] == '\0')
		hubs = CLIENT_DEFAULT_HUB;
	n = client_parse_hubs(hubs, c->hubs, CLIENT_HUBS_MAX, err, errlen);
	if (n < 0)
		return -1;
	c->nhubs = n;

	if (o->name != NULL) {
		char shown[100];

		if (!proto_name_ok(o->name, strlen(o->name)))
			return fail(err, errlen, EINVAL, "bad name '%s': "
			    "names are 1 to 64 bytes of [A-Za-z0-9._-]",
			    err_printable(shown, sizeof shown, o->name,
			    strlen(o->name)));
		memcpy(c->name, o->name, strlen(o->name) + 1);
	} else if (ident_default(c->name, err, errlen) != 0) {
		errno = EINVAL;
		return -1;
	}

	if (keyfile == NULL)
		keyfile = getenv("DS_KEY");
	if (keyfile != NULL && keyfile[0] != '\0') {
		if (auth_key_load(&c->key, keyfile, err, errlen) != 0) {
			if (errno == EINVAL)
				errno = EBADMSG;
			return -1;
		}
		c->have_key = 1;
	}
	return 0;
}

void
client_id(struct client *c, char dst[PROTO_TOKEN_MAX + 1])
{
	snprintf(dst, PROTO_TOKEN_MAX + 1, "%llu",
	    (unsigned long long)++c->seq);
}

int
client_fd_in(const struct client *c)
{
	return c->rfd;
}

int
client_fd_out(const struct client *c)
{
	return c->wfd;
}

size_t
client_pending(const struct client *c)
{
	return buf_len(&c->out);
}

/* Let go of the frame handed out last: its bytes may now be reused. */
static void
drop_used(struct client *c)
{
	if (c->used > 0) {
		buf_consume(&c->in, c->used);
		c->used = 0;
	}
}

int
client_send(struct client *c, const struct proto_hdr *h, const void *body,
    size_t len)
{
	int rc;

	if (c->hub_max > 0 && len > c->hub_max) {
		errno = EMSGSIZE;
		return -1;
	}
	rc = proto_encode(&c->out, h, body, len);
	if (rc == PROTO_E_FULL) {
		errno = ENOBUFS;
		return -1;
	}
	if (rc < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
client_send_raw(struct client *c, const void *p, size_t n)
{
	if (buf_append(&c->out, p, n) != BUF_OK) {
		errno = ENOBUFS;
		return -1;
	}
	return 0;
}

int
client_write(struct client *c)
{
	if (c->wfd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	while (buf_len(&c->out) > 0) {
		ssize_t w;

#ifdef MSG_NOSIGNAL
		/* A hub that went away must not kill us with SIGPIPE. */
		if (!c->is_std)
			w = send(c->wfd, buf_head(&c->out), buf_len(&c->out),
			    MSG_NOSIGNAL);
		else
#endif
			w = write(c->wfd, buf_head(&c->out), buf_len(&c->out));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		buf_consume(&c->out, (size_t)w);
	}
	return 0;
}

ssize_t
client_read(struct client *c, char *err, size_t errlen)
{
	size_t want;
	ssize_t r;

	drop_used(c);
	if (c->rfd < 0)
		return fail(err, errlen, ENOTCONN, "not connected to a hub");
	if (c->eof)
		return 0;
	want = c->in.limit - buf_len(&c->in);
	if (want > READ_CHUNK)
		want = READ_CHUNK;
	if (want == 0)
		return fail(err, errlen, ENOBUFS, "frames from the hub are "
		    "waiting to be taken");
	if (buf_reserve(&c->in, want) != BUF_OK)
		return fail(err, errlen, ENOMEM, "out of memory");
	do
		r = read(c->rfd, buf_tail(&c->in), want);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			errno = EAGAIN;
			return -1;
		}
		return fail(err, errlen, errno, "cannot read from the hub at "
		    "%s: %s", c->addr, strerror(errno));
	}
	if (r == 0) {
		c->eof = 1;
		return 0;
	}
	buf_commit(&c->in, (size_t)r);
	return r;
}

/*
 * Answer a ping addressed to a name we hold (the hub routes to holders
 * only) with an empty rep from that name.  A ping to "*" goes unanswered,
 * or every client would answer every broadcast.
 */
static void
answer_ping(struct client *c, const struct proto_msg *m)
{
	struct proto_str to = proto_get(m, PF_TO), from = proto_get(m, PF_FROM);
	struct proto_str id = proto_get(m, PF_ID);
	char me[PROTO_NAME_MAX + 1], pinger[PROTO_NAME_MAX + 1];
	char re[PROTO_TOKEN_MAX + 1];
	struct proto_hdr h;
	long n = 0;

	if (to.n == 1 && to.p[0] == '*')
		return;
	/* The parser checked both names: at most PROTO_NAME_MAX bytes. */
	memcpy(me, to.p, to.n);
	me[to.n] = '\0';
	memcpy(pinger, from.p, from.n);
	pinger[from.n] = '\0';
	memset(&h, 0, sizeof h);
	h.from = me;
	h.to = pinger;
	h.type = "rep";
	if (id.p != NULL && (n = proto_decode(id.p, id.n, re)) > 0) {
		h.re = re;
		h.re_len = (size_t)n;
	}
	/* A full queue only costs the pinger its answer. */
	if (proto_encode(&c->out, &h, NULL, 0) == 0)
		(void)client_write(c);
}

int
client_next(struct client *c, const struct proto_msg **m, char *err,
    size_t errlen)
{
	for (;;) {
		int rc;

		drop_used(c);
		rc = proto_parse(&c->p, buf_head(&c->in), buf_len(&c->in));
		if (rc == PROTO_MORE) {
			if (!c->eof || buf_len(&c->in) == 0)
				return 0;
			proto_parse_eof(&c->p, buf_head(&c->in),
			    buf_len(&c->in));
			return fail(err, errlen, EPROTO, "the hub at %s closed "
			    "the connection inside a frame: %s", c->addr,
			    c->p.err);
		}
		if (rc == PROTO_ERR)
			return fail(err, errlen, EPROTO, "bad frame from the "
			    "hub at %s (byte %llu): %s", c->addr,
			    (unsigned long long)c->p.err_off, c->p.err);
		c->used = c->p.msg.frame_len;
		if (proto_str_eq(proto_type(&c->p.msg), "ping")) {
			answer_ping(c, &c->p.msg);
			continue;
		}
		*m = &c->p.msg;
		return 1;
	}
}

/*
 * Wait until the connection is readable (want & CAN_READ) or writable
 * (want & CAN_WRITE).  Returns what it can do now, or -1 with errno
 * ETIMEDOUT at the deadline.
 */
static int
wait_io(struct client *c, int want, long long deadline)
{
	struct pollfd pfd[2];
	int n = 0, rc, got = 0, i;

	if (want & CAN_READ) {
		pfd[n].fd = c->rfd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	if (want & CAN_WRITE) {
		if (n > 0 && c->wfd == c->rfd)
			pfd[0].events |= POLLOUT;
		else {
			pfd[n].fd = c->wfd;
			pfd[n].events = POLLOUT;
			pfd[n++].revents = 0;
		}
	}
	for (;;) {
		rc = poll(pfd, (nfds_t)n, io_remaining_ms(deadline));
		if (rc > 0)
			break;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
	for (i = 0; i < n; i++) {
		short r = pfd[i].revents;

		/* An error or hangup shows in the read or write that follows. */
		if ((pfd[i].events & POLLIN) &&
		    (r & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
			got |= CAN_READ;
		if ((pfd[i].events & POLLOUT) &&
		    (r & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)))
			got |= CAN_WRITE;
	}
	return got;
}

/* Is there room to read into, so that polling for input makes sense? */
static int
can_read(const struct client *c)
{
	return !c->eof && buf_len(&c->in) - c->used < c->in.limit;
}

int
client_flush(struct client *c, int timeout_ms)
{
	long long deadline = deadline_of(timeout_ms);
	char err[256];

	if (c->wfd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	for (;;) {
		int got;

		if (client_write(c) < 0)
			return -1;
		if (buf_len(&c->out) == 0)
			return 0;
		got = wait_io(c, CAN_WRITE | (can_read(c) ? CAN_READ : 0),
		    deadline);
		if (got < 0)
			return -1;
		if ((got & CAN_READ) && client_read(c, err, sizeof err) < 0 &&
		    errno != EAGAIN)
			return -1;
	}
}

/*
 * The next frame, waiting until the deadline and writing queued output
 * meanwhile.  As client_recv(); a timeout leaves err for the caller.
 */
static int
recv_until(struct client *c, long long deadline, const struct proto_msg **m,
    char *err, size_t errlen)
{
	for (;;) {
		int rc, got;

		rc = client_next(c, m, err, errlen);
		if (rc != 0)
			return rc;
		if (c->eof)
			return 0;
		if (c->rfd < 0)
			return fail(err, errlen, ENOTCONN, "not connected to "
			    "a hub");
		got = wait_io(c, CAN_READ | (buf_len(&c->out) > 0 ?
		    CAN_WRITE : 0), deadline);
		if (got < 0)
			return fail(err, errlen, errno, "%s",
			    errno == ETIMEDOUT ? "timed out waiting for the "
			    "hub" : strerror(errno));
		/*
		 * What cannot be written is lost with the connection; what
		 * the hub sent before it went is still worth reading.
		 */
		if ((got & CAN_WRITE) && client_write(c) < 0)
			buf_clear(&c->out);
		if ((got & CAN_READ) && client_read(c, err, errlen) < 0 &&
		    errno != EAGAIN)
			return -1;
	}
}

int
client_recv(struct client *c, int timeout_ms, const struct proto_msg **m,
    char *err, size_t errlen)
{
	int rc = recv_until(c, deadline_of(timeout_ms), m, err, errlen);

	if (rc < 0 && errno == ETIMEDOUT)
		snprintf(err, errlen, "no frame from the hub at %s within "
		    "%d ms", c->addr, timeout_ms);
	return rc;
}

/* A value as written, for a diagnostic: printable and bounded. */
static const char *
shown(char *dst, size_t n, struct proto_str s)
{
	return err_printable(dst, n, s.p != NULL ? s.p : "", s.n);
}

/* The body of an err frame as one printable line, without its newline. */
static const char *
shown_body(char *dst, size_t n, const struct proto_msg *m)
{
	size_t len = (size_t)m->body_len;

	if (len > SHOWN_MAX)
		len = SHOWN_MAX;
	while (len > 0 && m->body[len - 1] == '\n')
		len--;
	return err_printable(dst, n, m->body, len);
}

/*
 * An err frame in answer to the hello or the auth: EACCES when the key
 * was refused, else EPROTO.
 */
static int
refused(struct client *c, const struct proto_msg *m, const char *what,
    char *err, size_t errlen)
{
	struct proto_str reason = proto_lookup(m, "reason");
	char why[SHOWN_MAX * 4 + 8], rs[80];

	shown_body(why, sizeof why, m);
	if (why[0] == '\0')
		shown(why, sizeof why, reason);
	if (proto_str_eq(reason, "auth"))
		return fail(err, errlen, EACCES, "%s: authentication failed: "
		    "%s", c->addr, why);
	return fail(err, errlen, EPROTO, "%s: the hub refused the %s "
	    "(reason=%s): %s", c->addr, what, shown(rs, sizeof rs, reason),
	    why);
}

/* Send what is queued and wait for the answer to id; 1 with *m, or -1. */
static int
exchange(struct client *c, const char *id, const char *what,
    long long deadline, const struct proto_msg **m, char *err,
    size_t errlen)
{
	char tmp[80];
	struct proto_str re;
	int rc;

	if (client_flush(c, io_remaining_ms(deadline)) != 0) {
		if (errno == ETIMEDOUT)
			return fail(err, errlen, ETIMEDOUT, "%s: the hub took "
			    "no %s within %d ms", c->addr, what,
			    c->o.timeout_ms);
		return fail(err, errlen, errno, "%s: cannot send the %s: %s",
		    c->addr, what, strerror(errno));
	}
	rc = recv_until(c, deadline, m, err, errlen);
	if (rc == 0)
		return fail(err, errlen, ECONNRESET, "%s: the hub closed the "
		    "connection during the %s", c->addr, what);
	if (rc < 0) {
		if (errno == ETIMEDOUT)
			return fail(err, errlen, ETIMEDOUT, "%s: no answer "
			    "to the %s within %d ms", c->addr, what,
			    c->o.timeout_ms);
		/* The messages of client_next() and _read() name the hub. */
		return -1;
	}
	re = proto_get(*m, PF_RE);
	if (re.p == NULL || re.n != strlen(id) || memcmp(re.p, id, re.n) != 0)
		return fail(err, errlen, EPROTO, "%s: unexpected frame from "
		    "the hub during the %s (type=%s)", c->addr, what,
		    shown(tmp, sizeof tmp, proto_type(*m)));
	return 1;
}

/* A field that must be a decimal number; absent leaves *v as it is. */
static int
number_field(struct client *c, const struct proto_msg *m, const char *key,
    uint64_t *v, char *err, size_t errlen)
{
	struct proto_str s = proto_lookup(m, key);
	char tmp[80];

	if (s.p == NULL)
		return 0;
	if (num_parse_u64(s.p, s.n, UINT64_MAX, 0, v) != NUM_OK)
		return fail(err, errlen, EPROTO, "%s: bad %s '%s' in the "
		    "hub's hello", c->addr, key, shown(tmp, sizeof tmp, s));
	return 0;
}

static int
is_hex(struct proto_str s, size_t n)
{
	size_t i;

	if (s.p == NULL || s.n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (num_hexval((unsigned char)s.p[i]) < 0)
			return 0;
	return 1;
}

/* The second half of the handshake, with the hub's hello in m. */
static int
authenticate(struct client *c, const struct proto_msg *m,
    const char *my_nonce, long long deadline, char *err, size_t errlen)
{
	struct proto_str auth = proto_lookup(m, "auth");
	struct proto_str hn = proto_lookup(m, "nonce");
	struct proto_str hm = proto_lookup(m, "mac");
	char nonce[AUTH_NONCE_HEX + 1], mac[AUTH_MAC_HEX + 1], tmp[80];
	char id[PROTO_TOKEN_MAX + 1];
	struct proto_kv kv;
	struct proto_hdr h;

	if (auth.p == NULL) {
		if (c->have_key)
			return fail(err, errlen, EACCES, "%s: hub does not "
			    "authenticate, but a key was given", c->addr);
		return 0;
	}
	if (!c->have_key)
		return fail(err, errlen, EACCES, "%s: hub requires a key (-k)",
		    c->addr);
	if (!proto_str_eq(auth, "hmac-sha256"))
		return fail(err, errlen, EPROTO, "%s: the hub asks for "
		    "authentication of an unknown kind '%s'", c->addr,
		    shown(tmp, sizeof tmp, auth));
	if (!is_hex(hn, AUTH_NONCE_HEX))
		return fail(err, errlen, EPROTO, "%s: the hub's nonce is not "
		    "%d hex digits", c->addr, AUTH_NONCE_HEX);
	/* The hub proves itself first, so a fake one learns nothing. */
	if (hm.p == NULL || !auth_check(&c->key, my_nonce, AUTH_NONCE_HEX,
	    c->hub, strlen(c->hub), hm.p, hm.n))
		return fail(err, errlen, EACCES, "%s: the hub failed to prove "
		    "that it knows the key (another key?)", c->addr);
	memcpy(nonce, hn.p, AUTH_NONCE_HEX);
	nonce[AUTH_NONCE_HEX] = '\0';
	auth_mac(&c->key, nonce, AUTH_NONCE_HEX, c->name, strlen(c->name), mac);

	client_id(c, id);
	memset(&h, 0, sizeof h);
	h.from = c->name;
	h.to = c->hub;
	h.type = "auth";
	h.id = id;
	kv.key = "mac";
	kv.val = mac;
	kv.val_len = AUTH_MAC_HEX;
	h.extra = &kv;
	h.nextra = 1;
	if (client_send(c, &h, NULL, 0) != 0)
		return fail(err, errlen, errno, "%s: cannot queue the auth "
		    "frame: %s", c->addr, strerror(errno));
	if (exchange(c, id, "authentication", deadline, &m, err, errlen) < 0)
		return -1;
	if (proto_str_eq(proto_type(m), "err"))
		return refused(c, m, "authentication", err, errlen);
	if (!proto_str_eq(proto_type(m), "rep"))
		return fail(err, errlen, EPROTO, "%s: unexpected %s frame in "
		    "answer to the auth", c->addr, shown(tmp, sizeof tmp,
		    proto_type(m)));
	return 0;
}

/* Say hello on a fresh connection, and authenticate if asked to. */
static int
hello(struct client *c, long long deadline, char *err, size_t errlen)
{
	char id[PROTO_TOKEN_MAX + 1], nonce[AUTH_NONCE_HEX + 1], tmp[80];
	char credit[16];
	const struct proto_msg *m;
	struct proto_str from;
	struct proto_kv kv[2];
	struct proto_hdr h;

	nonce[0] = '\0';
	client_id(c, id);
	memset(&h, 0, sizeof h);
	h.from = c->name;
	h.to = "*";
	h.type = "hello";
	h.id = id;
	h.extra = kv;
	if (c->o.credit > 0) {
		/* A worker: the hub sends it up to this many jobs at once. */
		snprintf(credit, sizeof credit, "%u", c->o.credit);
		kv[h.nextra].key = "credit";
		kv[h.nextra].val = credit;
		kv[h.nextra++].val_len = strlen(credit);
	}
	if (c->have_key) {
		if (auth_nonce(nonce) != 0)
			return fail(err, errlen, errno, "cannot make a nonce: "
			    "%s", strerror(errno));
		kv[h.nextra].key = "nonce";
		kv[h.nextra].val = nonce;
		kv[h.nextra++].val_len = AUTH_NONCE_HEX;
	}
	if (client_send(c, &h, NULL, 0) != 0)
		return fail(err, errlen, errno, "cannot queue the hello: %s",
		    strerror(errno));
	if (exchange(c, id, "hello", deadline, &m, err, errlen) < 0)
		return -1;
	if (proto_str_eq(proto_type(m), "err"))
		return refused(c, m, "hello", err, errlen);
	if (!proto_str_eq(proto_type(m), "hello"))
		return fail(err, errlen, EPROTO, "%s: unexpected %s frame in "
		    "answer to the hello", c->addr, shown(tmp, sizeof tmp,
		    proto_type(m)));
	from = proto_get(m, PF_FROM);
	memcpy(c->hub, from.p, from.n);
	c->hub[from.n] = '\0';
	if (number_field(c, m, "max", &c->hub_max, err, errlen) != 0 ||
	    number_field(c, m, "queue", &c->hub_queue, err, errlen) != 0)
		return -1;
	if (c->hub_max > 0) {
		size_t lim = limit_for(c->hub_max, OUT_SLACK);

		/* Only ever raised: the queue may hold bytes already. */
		if (lim > c->out.limit)
			c->out.limit = lim;
	}
	return authenticate(c, m, nonce, deadline, err, errlen);
}

/* Use standard input and output as the connection, made non-blocking. */
static int
open_std(struct client *c, char *err, size_t errlen)
{
	int fd;

	for (fd = 0; fd <= 1; fd++) {
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0)
			return fail(err, errlen, errno, "hub '-': standard %s "
			    "is not open", fd == 0 ? "input" : "output");
		c->std_fl[fd] = fl;
	}
	c->is_std = 1;
	c->rfd = 0;
	c->wfd = 1;
	for (fd = 0; fd <= 1; fd++)
		if (fcntl(fd, F_SETFL, c->std_fl[fd] | O_NONBLOCK) < 0)
			return fail(err, errlen, errno, "hub '-': cannot make "
			    "fd %d non-blocking: %s", fd, strerror(errno));
	return 0;
}

static int
connect_one(struct client *c, int k, char *err, size_t errlen)
{
	long long deadline = deadline_of(c->o.timeout_ms);
	int rc;

	client_close(c);
	c->hub[0] = '\0';
	c->hub_max = c->hub_queue = 0;
	snprintf(c->addr, sizeof c->addr, "%s", c->hubs[k]);
	if (strcmp(c->hubs[k], "-") == 0) {
		if (open_std(c, err, errlen) != 0) {
			rc = errno;
			client_close(c);
			errno = rc;
			return -1;
		}
	} else {
		struct addr a;
		int fd;

		if (addr_parse(c->hubs[k], &a, err, errlen) != 0) {
			errno = EINVAL;
			return -1;
		}
		fd = net_dial(&a, c->o.timeout_ms < 0 ? -1 :
		    io_remaining_ms(deadline), err, errlen);
		if (fd < 0)
			return -1;
		c->rfd = c->wfd = fd;
	}
	if (hello(c, deadline, err, errlen) != 0) {
		rc = errno;
		client_close(c);
		errno = rc;
		return -1;
	}
	return 0;
}

/* Which failure to report when every hub failed: the most telling. */
static int
rank(int e)
{
	if (e == EACCES)
		return 3;
	if (e == EPROTO)
		return 2;
	if (e == ETIMEDOUT)
		return 1;
	return 0;
}

int
client_connect(struct client *c, char *err, size_t errlen)
{
	char one[512], best[512];
	int i, best_e = ECONNREFUSED, best_rank = -1;

	if (c->nhubs <= 0)
		return fail(err, errlen, EINVAL, "no hub address");
	if (c->next < 0 || c->next >= c->nhubs)
		c->next = 0;
	best[0] = '\0';
	for (i = 0; i < c->nhubs; i++) {
		int k = (c->next + i) % c->nhubs, e;

		one[0] = '\0';
		if (connect_one(c, k, one, sizeof one) == 0) {
			c->next = k;
			return 0;
		}
		e = errno;
		if (rank(e) > best_rank) {
			best_rank = rank(e);
			best_e = e;
			snprintf(best, sizeof best, "%s", one);
		}
	}
	if (c->nhubs > 1)
		snprintf(err, errlen, "%s (and %d other hub%s failed)", best,
		    c->nhubs - 1, c->nhubs > 2 ? "s" : "");
	else
		snprintf(err, errlen, "%s", best);
	errno = best_e;
	return -1;
}

int
client_sync(struct client *c, int timeout_ms, client_frame_fn *fn,
    void *ctx, char *err, size_t errlen)
{
	long long deadline = deadline_of(timeout_ms);
	char id[PROTO_TOKEN_MAX + 1], tmp[SHOWN_MAX * 4 + 8];
	const struct proto_msg *m;
	struct proto_hdr h;

	client_id(c, id);
	memset(&h, 0, sizeof h);
	h.from = c->name;
	h.to = c->hub;
	h.type = "ping";
	h.id = id;
	if (client_send(c, &h, NULL, 0) != 0)
		return fail(err, errlen, errno, "cannot queue a ping: %s",
		    strerror(errno));
	if (client_flush(c, io_remaining_ms(deadline)) != 0)
		return fail(err, errlen, errno, "%s: cannot write to the hub: "
		    "%s", c->addr, strerror(errno));
	for (;;) {
		struct proto_str re, from;
		int rc = recv_until(c, deadline, &m, err, errlen);

		if (rc == 0)
			return fail(err, errlen, ECONNRESET, "%s: the hub "
			    "closed the connection", c->addr);
		if (rc < 0) {
			if (errno == ETIMEDOUT)
				snprintf(err, errlen, "%s: the hub did not "
				    "answer within %d ms", c->addr, timeout_ms);
			return -1;
		}
		re = proto_get(m, PF_RE);
		from = proto_get(m, PF_FROM);
		if (re.p != NULL && re.n == strlen(id) &&
		    memcmp(re.p, id, re.n) == 0 && from.n == strlen(c->hub) &&
		    memcmp(from.p, c->hub, from.n) == 0) {
			if (proto_str_eq(proto_type(m), "rep"))
				return 0;
			return fail(err, errlen, EPROTO, "%s: the hub "
			    "answered the ping with %s: %s", c->addr,
			    shown(tmp, 80, proto_type(m)),
			    shown_body(tmp + 80, sizeof tmp - 80, m));
		}
		if (fn != NULL)
			fn(ctx, m);
	}
}

void
client_close(struct client *c)
{
	if (c->is_std) {
		(void)fcntl(0, F_SETFL, c->std_fl[0]);
		(void)fcntl(1, F_SETFL, c->std_fl[1]);
	} else if (c->rfd >= 0) {
		close(c->rfd);
	}
	c->rfd = c->wfd = -1;
	c->is_std = 0;
	c->used = 0;
	c->eof = 0;
	buf_clear(&c->in);
	buf_clear(&c->out);
	proto_parser_init(&c->p, c->o.max_body);
}

void
client_free(struct client *c)
{
	volatile unsigned char *k = c->key.k;
	size_t i;

	client_close(c);
	buf_free(&c->in);
	buf_free(&c->out);
	for (i = 0; i < sizeof c->key.k; i++)
		k[i] = 0;
	c->key.len = 0;
	c->have_key = 0;
}

int
client_status(int e)
{
	switch (e) {
	case ETIMEDOUT:
		return DS_EXIT_TIMEOUT;
	case EACCES:
	case EPROTO:
	case EMSGSIZE:
	case EBADMSG:
		return DS_EXIT_DATA;
	case EINVAL:
		return DS_EXIT_USAGE;
	default:
		return DS_EXIT_SYS;
	}
}
