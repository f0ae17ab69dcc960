/*
 * loadgen: the load generator of bench/hub.sh.
 *
 * It speaks two protocols to a message hub on one TCP address: ds1 to
 * dsd (a hello with a name, then frames to names) and the NATS text
 * protocol to nats-server (CONNECT, SUB, PUB, MSG, PING and PONG).  The
 * same work is asked of both servers, and loadgen does as little as it
 * can per message so that the server, not loadgen, sets the pace: the
 * publisher writes from a buffer that holds a few hundred kilobytes of
 * ready-made frames, and the subscriber reads 256 KiB at a time and only
 * finds each frame's end (its header's LF and length, or the MSG line's
 * byte count).
 *
 *   loadgen port                       print a free TCP port on 127.0.0.1
 *   loadgen ds|nats ADDR wait SECS     wait until ADDR takes a connection
 *   loadgen ds|nats ADDR tp SIZE COUNT [WINDOW]
 *       1 -> 1 throughput: a publisher and a subscriber, COUNT messages
 *       of SIZE bytes; prints msgs= size= secs= rate= (messages a second,
 *       from the first byte published to the last message received)
 *   loadgen ds|nats ADDR rr SIZE COUNT
 *       request/reply: one requester, one responder, each request waits
 *       for its reply; prints n= p50_us= p99_us= mean_us= min_us= max_us=
 *   loadgen ds|nats ADDR idle COUNT
 *       open COUNT connections that each say hello (ds) or CONNECT and
 *       PING (NATS), print "ready COUNT" once all were answered, then
 *       answer pings until SIGTERM or until the server closes them all
 *
 * The publisher keeps at most WINDOW bytes (default 1 MiB) published but
 * not yet received, so neither server ever has more than that queued for
 * the subscriber: dsd holds back a producer whose consumer's queue is
 * full, and nats-server disconnects a slow consumer, and the window keeps
 * both out of that regime.  For ds the window is cut to the queue size
 * the hub announces in its hello.
 *
 * Exit status: 0 done, 1 a protocol error or an error reply, 2 usage,
 * 3 a system or network failure, 4 a timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#define READ_CAP (1u << 20)       /* a busy connection's input buffer */
#define READ_CHUNK (256u << 10)   /* the most one read asks for */
#define PUB_BUF (256u << 10)      /* ready-made frames to publish from */
#define IDLE_BUF 4096             /* an idle connection's input buffer */
#define IDLE_RAMP 256             /* idle connections not yet answered */
#define MAX_SIZE (1u << 20)       /* the largest body we send */
#define STALL_MS 10000            /* no progress for this long: timeout */
#define WINDOW (1u << 20)         /* published but not yet received */
#define RR_WARMUP 1000            /* round trips left out of the figures */

/* The start of a NATS CONNECT: no +OK for each operation, no checks. */
#define NATS_CONNECT "CONNECT {\"verbose\":false,\"pedantic\":false"

enum proto { DS, NATS };

/*
 * One frame (ds) or one operation (NATS) cut out of a conn's buffer.
 * For ds, head is the header line without its LF and the fields below
 * are found in it; for NATS, head is the control line without CRLF.
 */
enum op { OP_DS, OP_MSG, OP_PING, OP_PONG, OP_INFO, OP_OK, OP_ERR };
struct frame {
	enum op op;
	const char *head;
	size_t headlen;
	const char *body;
	size_t bodylen;
	/* ds: type, id, re and from/to; NATS MSG: subject and reply-to. */
	const char *type, *id, *re, *from, *to;
	size_t typelen, idlen, relen, fromlen, tolen;
};

/*
 * One connection: its fd and the unparsed bytes buf[off..fill), and a
 * memo of the last header (ds) or MSG line (NATS) cut out of them, with
 * what it said: a stream of alike messages is then cut by one memcmp
 * each instead of a parse.
 */
#define MEMO_MAX 256
struct conn {
	int fd;
	char *buf;
	size_t cap, off, fill;
	char memo[MEMO_MAX];
	size_t memolen;            /* the line with its LF; 0: none */
	struct frame memof;        /* its fields, pointing into memo */
};

static const char *prog = "loadgen";
static volatile sig_atomic_t stop_flag;

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(void)
{
	fprintf(stderr,
	    "usage: loadgen port\n"
	    "       loadgen ds|nats host:port wait seconds\n"
	    "       loadgen ds|nats host:port tp size count [window]\n"
	    "       loadgen ds|nats host:port rr size count\n"
	    "       loadgen ds|nats host:port idle count\n");
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long number(const char *s, unsigned long min,
    unsigned long max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		die(2, "%s: not a number: '%s'", what, s);
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		die(2, "%s must be %lu to %lu, not '%s'", what, min, max, s);
	return v;
}

/* A decimal number of at most 12 digits in s[0..n), or -1. */
static long long digits(const char *s, size_t n)
{
	long long v = 0;
	size_t i;

	if (n == 0 || n > 12)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* ---- sockets ---- */

static struct addrinfo *resolve(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints, *res;
	size_t hl;
	int rc;

	if (colon == NULL || colon == hostport || colon[1] == '\0')
		die(2, "address must be host:port, not '%s'", hostport);
	hl = (size_t)(colon - hostport);
	if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		die(2, "host name too long in '%s'", hostport);
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0)
		die(3, "cannot resolve %s: %s", hostport, gai_strerror(rc));
	return res;
}

/* A connected socket, or -1 with errno. */
static int dial(const struct addrinfo *ai)
{
	int fd, one = 1, e;

	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int dial_or_die(const struct addrinfo *ai, const char *addr)
{
	int fd = dial(ai);

	if (fd < 0)
		die(3, "cannot connect to %s: %s", addr, strerror(errno));
	return fd;
}

static void nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die(3, "fcntl: %s", strerror(errno));
}

/* Reads on fd give up with EAGAIN after ms milliseconds. */
static void read_timeout(int fd, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
		die(3, "setsockopt SO_RCVTIMEO: %s", strerror(errno));
}

/* Write all n bytes, waiting for room if fd is non-blocking. */
static void write_all(int fd, const char *p, size_t n)
{
	struct pollfd pfd;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, STALL_MS) == 0)
				die(4, "timed out writing to the server");
		} else if (w < 0 && errno != EINTR) {
			die(3, "write: %s", strerror(errno));
		}
	}
}

static void conn_init(struct conn *c, int fd, size_t cap)
{
	c->fd = fd;
	c->cap = cap;
	c->off = c->fill = 0;
	c->memolen = 0;
	c->buf = malloc(cap);
	if (c->buf == NULL)
		die(3, "out of memory");
}

/*
 * Read what is there (at most READ_CHUNK) after the unparsed bytes,
 * moving them to the front first when they sit near the end.  The read
 * count, 0 at end of file, or -1 with errno.
 */
static ssize_t conn_read(struct conn *c)
{
	size_t room;
	ssize_t r;

	if (c->off == c->fill) {
		c->off = c->fill = 0;
	} else if (c->off > 0 && c->cap - c->fill < READ_CHUNK) {
		memmove(c->buf, c->buf + c->off, c->fill - c->off);
		c->fill -= c->off;
		c->off = 0;
	}
	room = c->cap - c->fill;
	if (room > READ_CHUNK)
		room = READ_CHUNK;
	if (room == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	do
		r = read(c->fd, c->buf + c->fill, room);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		c->fill += (size_t)r;
	return r;
}

/* ---- parsing ---- */

/* ptr, which points into from, moved to the same place in to. */
static const char *rebase(const char *ptr, const char *from, const char *to)
{
	return ptr == NULL ? NULL : to + (ptr - from);
}

static void frame_rebase(struct frame *f, const char *from, const char *to)
{
	f->head = to;
	f->type = rebase(f->type, from, to);
	f->id = rebase(f->id, from, to);
	f->re = rebase(f->re, from, to);
	f->from = rebase(f->from, from, to);
	f->to = rebase(f->to, from, to);
}

/* Remember the n-byte line at p, which parsed as f (body not yet set). */
static void memo_keep(struct conn *c, const char *p, size_t n,
    const struct frame *f)
{
	if (n > MEMO_MAX) {
		c->memolen = 0;
		return;
	}
	memcpy(c->memo, p, n);
	c->memolen = n;
	c->memof = *f;
	frame_rebase(&c->memof, p, c->memo);
}

/* 1 and f filled but for its body if the bytes at p start with the memo. */
static int memo_hit(const struct conn *c, const char *p, size_t n,
    struct frame *f)
{
	if (c->memolen == 0 || n < c->memolen ||
	    memcmp(p, c->memo, c->memolen) != 0)
		return 0;
	*f = c->memof;
	frame_rebase(f, c->memo, p);
	return 1;
}

static int eq(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/*
 * The body of f, whose line of linebytes bytes (its LF included) starts
 * the unparsed bytes of c, and after the body the trailer trail: 1 and c
 * moved past them, 0 when they are not all there, or -1 with *why.
 */
static int take_body(struct conn *c, struct frame *f, size_t linebytes,
    const char *trail, size_t traillen, const char **why)
{
	const char *p = c->buf + c->off;
	size_t need = linebytes + f->bodylen + traillen;

	if (need > c->cap) {
		*why = "a message larger than the input buffer";
		return -1;
	}
	if (c->fill - c->off < need)
		return 0;
	if (memcmp(p + need - traillen, trail, traillen) != 0) {
		*why = "no end of line after a body";
		return -1;
	}
	f->body = p + linebytes;
	c->off += need;
	return 1;
}

/*
 * The next ds1 frame in c: 1 and f filled, 0 when it is not all there,
 * or -1 with a reason in *why.  Only what the benchmark needs is checked:
 * the version, the length, and the LF after the body.
 */
static int ds_next(struct conn *c, struct frame *f, const char **why)
{
	const char *p = c->buf + c->off, *nl, *q, *end, *eqs;
	size_t n = c->fill - c->off;
	long long len = 0;

	if (memo_hit(c, p, n, f))
		return take_body(c, f, c->memolen, "\n", 1, why);
	nl = memchr(p, '\n', n);
	if (nl == NULL) {
		if (n > 4096) {
			*why = "a header longer than 4096 bytes";
			return -1;
		}
		return 0;
	}
	if (nl - p < 3 || memcmp(p, "ds1", 3) != 0 ||
	    (nl - p > 3 && p[3] != ' ')) {
		*why = "a frame that does not start with ds1";
		return -1;
	}
	memset(f, 0, sizeof *f);
	f->op = OP_DS;
	f->head = p;
	f->headlen = (size_t)(nl - p);
	/* One pass over the fields, keeping the five we look at. */
	for (q = p + 3; q < nl; q = end) {
		q++;
		end = memchr(q, ' ', (size_t)(nl - q));
		if (end == NULL)
			end = nl;
		eqs = memchr(q, '=', (size_t)(end - q));
		if (eqs == NULL) {
			*why = "a header field without '='";
			return -1;
		}
		switch (eqs - q) {
		case 2:
			if (q[0] == 'i' && q[1] == 'd') {
				f->id = eqs + 1;
				f->idlen = (size_t)(end - f->id);
			} else if (q[0] == 'r' && q[1] == 'e') {
				f->re = eqs + 1;
				f->relen = (size_t)(end - f->re);
			} else if (q[0] == 't' && q[1] == 'o') {
				f->to = eqs + 1;
				f->tolen = (size_t)(end - f->to);
			}
			break;
		case 3:
			if (memcmp(q, "len", 3) == 0) {
				len = digits(eqs + 1, (size_t)(end - eqs - 1));
				if (len < 0 || len > (long long)MAX_SIZE * 16) {
					*why = "a bad or too large len";
					return -1;
				}
			}
			break;
		case 4:
			if (memcmp(q, "type", 4) == 0) {
				f->type = eqs + 1;
				f->typelen = (size_t)(end - f->type);
			} else if (memcmp(q, "from", 4) == 0) {
				f->from = eqs + 1;
				f->fromlen = (size_t)(end - f->from);
			}
			break;
		default:
			break;
		}
	}
	f->bodylen = (size_t)len;
	memo_keep(c, p, f->headlen + 1, f);
	return take_body(c, f, f->headlen + 1, "\n", 1, why);
}

/*
 * The next NATS operation in c, with the same results as ds_next().
 * For MSG, to is the subject and re the reply-to subject, if any.
 */
static int nats_next(struct conn *c, struct frame *f, const char **why)
{
	const char *p = c->buf + c->off, *nl, *tok[5], *q, *e;
	size_t n = c->fill - c->off, linelen, toklen[5], ntok;
	long long len;

	if (memo_hit(c, p, n, f))
		return take_body(c, f, c->memolen, "\r\n", 2, why);
	nl = memchr(p, '\n', n);
	if (nl == NULL) {
		if (n > 65536) {
			*why = "a control line longer than 64 KiB";
			return -1;
		}
		return 0;
	}
	memset(f, 0, sizeof *f);
	linelen = (size_t)(nl - p);
	if (linelen > 0 && p[linelen - 1] == '\r')
		linelen--;
	f->head = p;
	f->headlen = linelen;
	if (linelen >= 4 && memcmp(p, "MSG ", 4) == 0) {
		/* MSG <subject> <sid> [reply-to] <#bytes> */
		ntok = 0;
		for (q = p + 4, e = p + linelen; q < e && ntok < 5;) {
			const char *t;

			while (q < e && (*q == ' ' || *q == '\t'))
				q++;
			if (q == e)
				break;
			t = q;
			while (q < e && *q != ' ' && *q != '\t')
				q++;
			tok[ntok] = t;
			toklen[ntok++] = (size_t)(q - t);
		}
		if (ntok < 3 || ntok > 4) {
			*why = "a malformed MSG line";
			return -1;
		}
		len = digits(tok[ntok - 1], toklen[ntok - 1]);
		if (len < 0 || len > (long long)MAX_SIZE * 16) {
			*why = "a bad byte count in MSG";
			return -1;
		}
		f->op = OP_MSG;
		f->to = tok[0];
		f->tolen = toklen[0];
		if (ntok == 4) {
			f->re = tok[2];
			f->relen = toklen[2];
		}
		f->bodylen = (size_t)len;
		memo_keep(c, p, (size_t)(nl - p) + 1, f);
		return take_body(c, f, (size_t)(nl - p) + 1, "\r\n", 2, why);
	}
	if (eq(p, linelen, "PING"))
		f->op = OP_PING;
	else if (eq(p, linelen, "PONG"))
		f->op = OP_PONG;
	else if (linelen >= 4 && memcmp(p, "INFO", 4) == 0)
		f->op = OP_INFO;
	else if (eq(p, linelen, "+OK"))
		f->op = OP_OK;
	else if (linelen >= 4 && memcmp(p, "-ERR", 4) == 0)
		f->op = OP_ERR;
	else {
		*why = "an unknown operation";
		return -1;
	}
	c->off += (size_t)(nl - p) + 1;
	return 1;
}

static int next(enum proto pr, struct conn *c, struct frame *f,
    const char **why)
{
	return pr == DS ? ds_next(c, f, why) : nats_next(c, f, why);
}

/* Die with what an error frame or -ERR says. */
static void die_err(enum proto pr, const struct frame *f)
{
	size_t n = f->bodylen > 200 ? 200 : f->bodylen;

	if (pr == NATS)
		die(1, "server: %.*s", (int)f->headlen, f->head);
	while (n > 0 && f->body[n - 1] == '\n')
		n--;
	die(1, "hub: %.*s: %.*s", (int)f->headlen, f->head, (int)n, f->body);
}

static int is_type(const struct frame *f, const char *t)
{
	return f->type != NULL && eq(f->type, f->typelen, t);
}

/* A ping from the server: NATS PING, or a ds frame of type ping. */
static int is_ping(const struct frame *f)
{
	return f->op == OP_PING || (f->op == OP_DS && is_type(f, "ping"));
}

/* Answer a ping the server sent: PONG, or a ds rep from the name pinged. */
static void answer_ping(enum proto pr, int fd, const struct frame *f)
{
	char out[512];
	int n;

	if (pr == NATS) {
		write_all(fd, "PONG\r\n", 6);
		return;
	}
	if (f->from == NULL || f->to == NULL || f->fromlen > 64 ||
	    f->tolen > 64 || f->idlen > 64)
		return;
	n = snprintf(out, sizeof out,
	    "ds1 from=%.*s to=%.*s type=rep%s%.*s\n\n",
	    (int)f->tolen, f->to, (int)f->fromlen, f->from,
	    f->id != NULL ? " re=" : "", (int)f->idlen, f->id ? f->id : "");
	write_all(fd, out, (size_t)n);
}

/*
 * Read from a blocking conn (with a read timeout set) until a whole
 * frame is there; pings from the server are answered on the way.
 */
static void read_frame(enum proto pr, struct conn *c, struct frame *f)
{
	const char *why;
	ssize_t r;
	int rc;

	for (;;) {
		rc = next(pr, c, f, &why);
		if (rc < 0)
			die(1, "protocol error: %s", why);
		if (rc > 0) {
			if (is_ping(f))
				answer_ping(pr, c->fd, f);
			else if (f->op != OP_INFO && f->op != OP_OK)
				return;
			continue;
		}
		r = conn_read(c);
		if (r == 0)
			die(3, "the server closed the connection");
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			die(4, "timed out waiting for the server");
		if (r < 0)
			die(3, "read: %s", strerror(errno));
	}
}

/* The value of the numeric field key in a ds header, or 0. */
static size_t field_number(const struct frame *f, const char *key)
{
	const char *p = f->head, *end = f->head + f->headlen, *e;
	size_t kl = strlen(key);
	long long v;

	while ((p = memchr(p, ' ', (size_t)(end - p))) != NULL) {
		p++;
		e = memchr(p, ' ', (size_t)(end - p));
		if (e == NULL)
			e = end;
		if ((size_t)(e - p) > kl && memcmp(p, key, kl) == 0 &&
		    p[kl] == '=') {
			v = digits(p + kl + 1, (size_t)(e - p) - kl - 1);
			return v > 0 ? (size_t)v : 0;
		}
		p = e;
	}
	return 0;
}

/*
 * Start a session on a blocking conn: for ds, a hello claiming name,
 * answered by the hub's hello (its queue size goes to *queue); for NATS,
 * CONNECT and the extra operations (SUBs), then a PING whose PONG says
 * the server has handled them.
 */
static void session(enum proto pr, struct conn *c, const char *name,
    const char *extra, size_t *queue)
{
	char out[512];
	struct frame f;
	int n;

	if (pr == DS) {
		n = snprintf(out, sizeof out,
		    "ds1 from=%s to=* type=hello id=1\n\n", name);
		write_all(c->fd, out, (size_t)n);
		read_frame(pr, c, &f);
		if (is_type(&f, "err"))
			die_err(pr, &f);
		if (!is_type(&f, "hello") || f.re == NULL ||
		    !eq(f.re, f.relen, "1"))
			die(1, "hub: expected a hello, got: %.*s",
			    (int)f.headlen, f.head);
		if (queue != NULL)
			*queue = field_number(&f, "queue");
		return;
	}
	n = snprintf(out, sizeof out, "%s,\"name\":\"%s\"}\r\n%sPING\r\n",
	    NATS_CONNECT, name, extra ? extra : "");
	write_all(c->fd, out, (size_t)n);
	read_frame(pr, c, &f);
	if (f.op == OP_ERR)
		die_err(pr, &f);
	if (f.op != OP_PONG)
		die(1, "server: expected PONG, got: %.*s", (int)f.headlen,
		    f.head);
}

/* ---- port and wait ---- */

static int cmd_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die(3, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		die(3, "cannot bind 127.0.0.1:0: %s", strerror(errno));
	printf("%u\n", (unsigned)ntohs(sin.sin_port));
	close(fd);
	return 0;
}

static int cmd_wait(enum proto pr, const struct addrinfo *ai,
    const char *addr, unsigned long secs)
{
	double deadline = now() + (double)secs;
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
	struct conn c;
	struct frame f;
	const char *why;
	ssize_t r;
	int fd;

	while ((fd = dial(ai)) < 0) {
		if (errno != ECONNREFUSED)
			die(3, "cannot connect to %s: %s", addr,
			    strerror(errno));
		if (now() > deadline)
			die(4, "%s refused connections for %lu s", addr, secs);
		nanosleep(&pause, NULL);
	}
	if (pr == NATS) {
		/* A NATS server speaks first: wait for its INFO. */
		read_timeout(fd, (int)secs * 1000);
		conn_init(&c, fd, 65536 + 16);
		for (;;) {
			int rc = nats_next(&c, &f, &why);

			if (rc < 0)
				die(1, "protocol error: %s", why);
			if (rc > 0 && f.op == OP_INFO)
				break;
			if (rc > 0)
				die(1, "expected INFO first");
			r = conn_read(&c);
			if (r == 0)
				die(3, "%s closed before its INFO", addr);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				die(4, "no INFO from %s in %lu s", addr, secs);
			if (r < 0)
				die(3, "no INFO from %s: %s", addr,
				    strerror(errno));
		}
		free(c.buf);
	}
	close(fd);
	return 0;
}

/* ---- throughput ---- */

/*
 * Handle what arrived on the publisher's connection: nothing is expected
 * but pings, so an error reply ends the run.
 */
static void drain_pub(enum proto pr, struct conn *c)
{
	struct frame f;
	const char *why;
	ssize_t r;
	int rc;

	r = conn_read(c);
	if (r == 0)
		die(3, "the server closed the publisher's connection");
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		die(3, "read: %s", strerror(errno));
	}
	while ((rc = next(pr, c, &f, &why)) > 0) {
		if (is_ping(&f))
			answer_ping(pr, c->fd, &f);
		else if (f.op == OP_ERR || f.op == OP_DS)
			die_err(pr, &f);
	}
	if (rc < 0)
		die(1, "protocol error on the publisher: %s", why);
}

static int cmd_tp(enum proto pr, const struct addrinfo *ai, const char *addr,
    size_t size, unsigned long count, size_t window)
{
	struct conn pub, sub;
	struct frame f;
	struct pollfd pfd[2];
	const char *why;
	char head[128], *pbuf;
	size_t fs, hl, plen, k, i, queue = 0, win_msgs;
	unsigned long long sent = 0, total, limit, got = 0;
	double t0, t1, last;
	ssize_t w, r;
	int rc;

	conn_init(&sub, dial_or_die(ai, addr), READ_CAP);
	conn_init(&pub, dial_or_die(ai, addr), 65536 + 16);
	read_timeout(sub.fd, STALL_MS);
	read_timeout(pub.fd, STALL_MS);
	if (pr == DS) {
		session(pr, &sub, "bench-sub", NULL, &queue);
		session(pr, &pub, "bench-pub", NULL, NULL);
		hl = (size_t)snprintf(head, sizeof head,
		    "ds1 from=bench-pub to=bench-sub len=%zu\n", size);
		fs = hl + size + 1;
		if (queue > 0 && window > queue)
			window = queue;
	} else {
		session(pr, &sub, "bench-sub", "SUB bench 1\r\n", NULL);
		session(pr, &pub, "bench-pub", NULL, NULL);
		hl = (size_t)snprintf(head, sizeof head, "PUB bench %zu\r\n",
		    size);
		fs = hl + size + 2;
	}
	/* The frames to publish, all alike, back to back. */
	k = PUB_BUF / fs;
	if (k == 0)
		k = 1;
	plen = k * fs;
	pbuf = malloc(plen);
	if (pbuf == NULL)
		die(3, "out of memory");
	for (i = 0; i < k; i++) {
		char *p = pbuf + i * fs;

		memcpy(p, head, hl);
		memset(p + hl, 'a' + (int)(i % 26), size);
		if (pr == DS)
			p[hl + size] = '\n';
		else
			memcpy(p + hl + size, "\r\n", 2);
	}
	win_msgs = window / fs;
	if (win_msgs == 0)
		win_msgs = 1;
	nonblocking(pub.fd);
	nonblocking(sub.fd);
	total = (unsigned long long)count * fs;

	t0 = last = now();
	while (got < count) {
		limit = got + win_msgs;
		if (limit > count)
			limit = count;
		limit *= fs;
		/* Publish up to the window, from where the last write ended. */
		if (sent < limit) {
			size_t off = (size_t)(sent % plen), n = plen - off;

			if (n > limit - sent)
				n = (size_t)(limit - sent);
			w = write(pub.fd, pbuf + off, n);
			if (w > 0) {
				sent += (unsigned long long)w;
				last = now();
			} else if (w < 0 && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != EINTR) {
				die(3, "write: %s", strerror(errno));
			}
		}
		r = conn_read(&sub);
		if (r > 0) {
			while ((rc = next(pr, &sub, &f, &why)) > 0) {
				if (f.op == OP_MSG ||
				    (f.op == OP_DS && f.type == NULL)) {
					if (f.bodylen != size)
						die(1, "a message of %zu "
						    "bytes, not %zu",
						    f.bodylen, size);
					got++;
				} else if (is_ping(&f)) {
					answer_ping(pr, sub.fd, &f);
				} else if (f.op == OP_ERR || f.op == OP_DS) {
					die_err(pr, &f);
				}
			}
			if (rc < 0)
				die(1, "protocol error on the subscriber: %s",
				    why);
			last = now();
			continue;
		}
		if (r == 0)
			die(3, "the server closed the subscriber's connection");
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			die(3, "read: %s", strerror(errno));
		/* Nothing to read: wait for the subscriber, or for room. */
		pfd[0].fd = sub.fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = pub.fd;
		pfd[1].events = POLLIN | (sent < limit ? POLLOUT : 0);
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			die(3, "poll: %s", strerror(errno));
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			drain_pub(pr, &pub);
		if (now() - last > STALL_MS / 1000.0)
			die(4, "stalled: %llu of %lu messages received, "
			    "%llu of %llu bytes sent", got, count, sent, total);
	}
	t1 = now();
	printf("msgs=%lu size=%zu window=%zu secs=%.6f rate=%.0f\n", count,
	    size, win_msgs * fs, t1 - t0, (double)count / (t1 - t0));
	close(pub.fd);
	close(sub.fd);
	free(pbuf);
	free(pub.buf);
	free(sub.buf);
	return 0;
}

/* ---- request/reply ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmd_rr(enum proto pr, const struct addrinfo *ai, const char *addr,
    size_t size, unsigned long count)
{
	struct conn req, rsp;
	struct frame f;
	char *out, seq[32];
	double *lat, t0, sum = 0;
	unsigned long i, total = count + RR_WARMUP;
	size_t n, hl, seqlen, cap = size + 256;
	int sl;

	conn_init(&req, dial_or_die(ai, addr), 65536 + 16);
	conn_init(&rsp, dial_or_die(ai, addr), 65536 + 16);
	read_timeout(req.fd, STALL_MS);
	read_timeout(rsp.fd, STALL_MS);
	if (pr == DS) {
		session(pr, &rsp, "bench-rsp", NULL, NULL);
		session(pr, &req, "bench-req", NULL, NULL);
	} else {
		session(pr, &rsp, "bench-rsp", "SUB bench.svc 1\r\n", NULL);
		session(pr, &req, "bench-req", "SUB bench.inbox 2\r\n", NULL);
	}
	out = malloc(cap);
	lat = malloc(count * sizeof *lat);
	if (out == NULL || lat == NULL)
		die(3, "out of memory");

	for (i = 0; i < total; i++) {
		/* A request: its number is its id and starts its body. */
		sl = snprintf(seq, sizeof seq, "%lu", i);
		if (pr == DS)
			hl = (size_t)snprintf(out, cap,
			    "ds1 from=bench-req to=bench-rsp type=req id=%s "
			    "len=%zu\n", seq, size);
		else
			hl = (size_t)snprintf(out, cap,
			    "PUB bench.svc bench.inbox %zu\r\n", size);
		seqlen = (size_t)sl < size ? (size_t)sl : size;
		memset(out + hl, '.', size);
		memcpy(out + hl, seq, seqlen);
		n = hl + size;
		if (pr == DS)
			out[n++] = '\n';
		else {
			out[n++] = '\r';
			out[n++] = '\n';
		}
		t0 = now();
		write_all(req.fd, out, n);

		/* The responder answers with the body it got. */
		read_frame(pr, &rsp, &f);
		if (pr == DS) {
			if (is_type(&f, "err"))
				die_err(pr, &f);
			if (!is_type(&f, "req") || f.id == NULL || f.idlen > 64)
				die(1, "responder: not a request: %.*s",
				    (int)f.headlen, f.head);
			hl = (size_t)snprintf(out, cap,
			    "ds1 from=bench-rsp to=bench-req type=rep re=%.*s "
			    "len=%zu\n", (int)f.idlen, f.id, f.bodylen);
		} else {
			if (f.op == OP_ERR)
				die_err(pr, &f);
			if (f.op != OP_MSG || f.re == NULL || f.relen > 128)
				die(1, "responder: not a request: %.*s",
				    (int)f.headlen, f.head);
			hl = (size_t)snprintf(out, cap, "PUB %.*s %zu\r\n",
			    (int)f.relen, f.re, f.bodylen);
		}
		if (f.bodylen != size)
			die(1, "responder: a request of %zu bytes, not %zu",
			    f.bodylen, size);
		memcpy(out + hl, f.body, f.bodylen);
		n = hl + f.bodylen;
		if (pr == DS)
			out[n++] = '\n';
		else {
			out[n++] = '\r';
			out[n++] = '\n';
		}
		write_all(rsp.fd, out, n);

		/* The requester checks that the reply is to this request. */
		read_frame(pr, &req, &f);
		if (pr == DS) {
			if (is_type(&f, "err"))
				die_err(pr, &f);
			if (!is_type(&f, "rep") || f.re == NULL ||
			    !eq(f.re, f.relen, seq))
				die(1, "requester: not the reply to %s: %.*s",
				    seq, (int)f.headlen, f.head);
		} else {
			if (f.op == OP_ERR)
				die_err(pr, &f);
			if (f.op != OP_MSG || f.bodylen != size ||
			    memcmp(f.body, seq, seqlen) != 0)
				die(1, "requester: not the reply to %s: %.*s",
				    seq, (int)f.headlen, f.head);
		}
		if (i >= RR_WARMUP)
			lat[i - RR_WARMUP] = (now() - t0) * 1e6;
	}
	for (i = 0; i < count; i++)
		sum += lat[i];
	qsort(lat, count, sizeof *lat, cmp_double);
	printf("n=%lu size=%zu p50_us=%.1f p99_us=%.1f mean_us=%.1f "
	    "min_us=%.1f max_us=%.1f\n", count, size, lat[(count - 1) / 2],
	    lat[(count * 99 + 99) / 100 - 1], sum / (double)count, lat[0],
	    lat[count - 1]);
	close(req.fd);
	close(rsp.fd);
	free(out);
	free(lat);
	free(req.buf);
	free(rsp.buf);
	return 0;
}

/* ---- idle connections ---- */

/*
 * Handle what arrived on the idle connection c: 1 when its session was just
 * accepted, 0 otherwise; a closed connection gets fd -1.
 */
static int idle_input(enum proto pr, struct conn *c)
{
	struct frame f;
	const char *why;
	ssize_t r;
	int rc, ready = 0;

	r = conn_read(c);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r <= 0) {
		close(c->fd);
		c->fd = -1;
		return 0;
	}
	while ((rc = next(pr, c, &f, &why)) > 0) {
		if (is_ping(&f))
			answer_ping(pr, c->fd, &f);
		else if (f.op == OP_ERR || is_type(&f, "err"))
			die_err(pr, &f);
		else if (f.op == OP_PONG || is_type(&f, "hello"))
			ready = 1;
	}
	if (rc < 0)
		die(1, "protocol error on an idle connection: %s", why);
	return ready;
}

/* Open idle connection number i, and start its session. */
static void idle_open(enum proto pr, const struct addrinfo *ai,
    struct conn *c, size_t i)
{
	char out[256];
	int n;

	c->fd = dial(ai);
	if (c->fd < 0)
		die(3, "connection %zu: %s", i + 1, strerror(errno));
	if (pr == DS)
		n = snprintf(out, sizeof out,
		    "ds1 from=idle-%ld-%zu to=* type=hello id=1\n\n",
		    (long)getpid(), i);
	else
		n = snprintf(out, sizeof out, "%s}\r\nPING\r\n", NATS_CONNECT);
	write_all(c->fd, out, (size_t)n);
	nonblocking(c->fd);
}

static int cmd_idle(enum proto pr, const struct addrinfo *ai,
    unsigned long count)
{
	struct conn *c;
	struct pollfd *pfd;
	char *bufs;
	size_t *slot, npend = 0, i, j, opened = 0, ready = 0, open_now;
	struct sigaction sa;
	double last = now();
	int rc;

	c = calloc(count, sizeof *c);
	pfd = calloc(count, sizeof *pfd);
	slot = calloc(count, sizeof *slot);
	bufs = malloc(count * IDLE_BUF);
	if (c == NULL || pfd == NULL || slot == NULL || bufs == NULL)
		die(3, "out of memory");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/*
	 * Open them a few hundred at a time, so that the server's accept
	 * queue never overflows: slot[] holds the ones not yet answered.
	 */
	while (ready < count) {
		while (opened < count && npend < IDLE_RAMP) {
			idle_open(pr, ai, &c[opened], opened);
			c[opened].buf = bufs + opened * IDLE_BUF;
			c[opened].cap = IDLE_BUF;
			slot[npend++] = opened++;
		}
		for (i = 0; i < npend; i++) {
			pfd[i].fd = c[slot[i]].fd;
			pfd[i].events = POLLIN;
		}
		rc = poll(pfd, npend, 1000);
		if (rc < 0 && errno != EINTR)
			die(3, "poll: %s", strerror(errno));
		if (stop_flag)
			die(1, "stopped with %zu of %lu connections ready",
			    ready, count);
		if (rc > 0)
			last = now();
		else if (now() - last > STALL_MS / 1000.0)
			die(4, "%zu of %lu connections answered, "
			    "then nothing for %d s", ready, count,
			    STALL_MS / 1000);
		for (i = j = 0; i < npend; i++) {
			struct conn *ci = &c[slot[i]];

			if (pfd[i].revents != 0 && idle_input(pr, ci)) {
				ready++;
				continue;
			}
			if (ci->fd < 0)
				die(3, "the server closed connection %zu",
				    slot[i] + 1);
			slot[j++] = slot[i];
		}
		npend = j;
	}
	printf("ready %lu\n", count);
	fflush(stdout);

	/* Hold them, answering pings, until told to stop. */
	open_now = count;
	while (!stop_flag && open_now > 0) {
		for (i = 0; i < count; i++) {
			pfd[i].fd = c[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		rc = poll(pfd, count, -1);
		if (rc < 0 && errno != EINTR)
			die(3, "poll: %s", strerror(errno));
		for (i = 0; rc > 0 && i < count; i++) {
			if (pfd[i].revents == 0 || c[i].fd < 0)
				continue;
			idle_input(pr, &c[i]);
			if (c[i].fd < 0)
				open_now--;
		}
	}
	/*
	 * Reset rather than close, so that thousands of connections leave
	 * no TIME_WAIT behind to use up the ports of the next run.
	 */
	for (i = 0; i < count; i++) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		if (c[i].fd < 0)
			continue;
		setsockopt(c[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(c[i].fd);
	}
	free(c);
	free(pfd);
	free(slot);
	free(bufs);
	return 0;
}

int main(int argc, char **argv)
{
	enum proto pr;
	struct addrinfo *ai;
	const char *addr, *cmd;
	int rc = 2;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && strcmp(argv[1], "port") == 0)
		return cmd_port();
	if (argc < 4)
		usage();
	if (strcmp(argv[1], "ds") == 0)
		pr = DS;
	else if (strcmp(argv[1], "nats") == 0)
		pr = NATS;
	else
		usage();
	addr = argv[2];
	cmd = argv[3];
	ai = resolve(addr);
	if (strcmp(cmd, "wait") == 0 && argc == 5)
		rc = cmd_wait(pr, ai, addr,
		    number(argv[4], 1, 3600, "seconds"));
	else if (strcmp(cmd, "tp") == 0 && (argc == 6 || argc == 7))
		rc = cmd_tp(pr, ai, addr, number(argv[4], 1, MAX_SIZE, "size"),
		    number(argv[5], 1, ULONG_MAX / 2, "count"),
		    argc == 7 ? number(argv[6], 1, 1u << 30, "window") :
		    WINDOW);
	else if (strcmp(cmd, "rr") == 0 && argc == 6)
		rc = cmd_rr(pr, ai, addr, number(argv[4], 16, 65536, "size"),
		    number(argv[5], 1, 100000000, "count"));
	else if (strcmp(cmd, "idle") == 0 && argc == 5)
		rc = cmd_idle(pr, ai, number(argv[4], 1, 1000000, "count"));
	else
		usage();
	freeaddrinfo(ai);
	return rc;
}
