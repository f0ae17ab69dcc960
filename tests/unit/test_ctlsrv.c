#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/addr.h"
#include "../../lib/client.h"
#include "../../lib/ctlsrv.h"
#include "../../lib/io.h"
#include "../../lib/loop.h"
#include "../../lib/net.h"
#include "../../lib/proto.h"
#include "unit.h"

/*
 * The control server in a forked child, on its own loop, over a real
 * Unix socket in a private directory; the tests talk to it with
 * lib/client, as dsctl does, and with raw sockets for what a well-behaved
 * client never sends.  Its command callback can report what the message
 * callback last saw, so every check is made through the protocol.  Each
 * test starts a fresh server; every wait has a deadline.
 */
enum { WAIT_MS = 3000 };

#define SRV "srv"
#define HELLO_MS 300
#define WRITE_MS 300
#define QUEUE 65536
#define MAXCONN 4
#define MAX_BODY 4096

static char dir[64], sock[96], logpath[96];
static pid_t srv_pid = -1;
static unsigned loop_flags;    /* LOOP_POLL for the second run */

/* ---- the server's side, in the child ---- */

static char last[512];
static struct ctlsrv *S;

static int
starts(const char *line, size_t n, const char *word)
{
	size_t w = strlen(word);

	return n >= w && memcmp(line, word, w) == 0 &&
	    (n == w || line[w] == ' ');
}

static int
on_cmd(void *ctx, const char *line, size_t n, struct buf *reply,
    const char **reason)
{
	(void)ctx;
	if (starts(line, n, "echo")) {
		size_t skip = n > 5 ? 5 : n;

		if (buf_append(reply, line + skip, n - skip) != BUF_OK ||
		    buf_append_byte(reply, '\n') != BUF_OK)
			return -1;
		return 0;
	}
	if (starts(line, n, "fail")) {
		*reason = "bad-argument";
		(void)buf_append_str(reply, "it failed");
		return -1;
	}
	if (starts(line, n, "noreason")) {
		(void)buf_append_str(reply, "no reason given\n");
		return -1;
	}
	if (starts(line, n, "big")) {
		char num[16];
		long k;

		snprintf(num, sizeof num, "%.*s", (int)(n - 3), line + 3);
		k = strtol(num, NULL, 10);
		while (k-- > 0)
			if (buf_append_byte(reply, 'x') != BUF_OK) {
				buf_clear(reply);
				*reason = "too-big";
				(void)buf_append_str(reply, "too big");
				return -1;
			}
		return 0;
	}
	if (starts(line, n, "last")) {
		(void)buf_append_str(reply, last);
		return 0;
	}
	if (starts(line, n, "clients")) {
		char num[32];

		snprintf(num, sizeof num, "%zu\n", ctlsrv_clients(S));
		(void)buf_append_str(reply, num);
		return 0;
	}
	if (starts(line, n, "drain")) {
		ctlsrv_drain(S);
		(void)buf_append_str(reply, "draining\n");
		return 0;
	}
	*reason = "unknown-command";
	(void)buf_append_str(reply, "unknown command");
	return -1;
}

static int
on_msg(void *ctx, const struct proto_msg *m, struct buf *why,
    const char **reason)
{
	struct proto_str to = proto_get(m, PF_TO);
	struct proto_str type = proto_type(m);
	struct proto_str id = proto_get(m, PF_ID);

	(void)ctx;
	snprintf(last, sizeof last, "to=%.*s type=%.*s id=%.*s body=%.*s",
	    (int)to.n, to.p, (int)type.n, type.p, id.p != NULL ? (int)id.n : 1,
	    id.p != NULL ? id.p : "-", (int)m->body_len, m->body);
	if (proto_str_eq(to, "nobody")) {
		*reason = "no-route";
		(void)buf_append_str(why, "no route to nobody");
		return -1;
	}
	if (proto_str_eq(to, "odd"))
		return -1;
	return 0;
}

static void
on_log(void *ctx, const char *line)
{
	int fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, 0600);

	(void)ctx;
	if (fd >= 0) {
		(void)io_write_all(fd, line, strlen(line));
		(void)io_write_all(fd, "\n", 1);
		close(fd);
	}
}

static void
on_term(struct loop *l, int signo, void *ctx)
{
	(void)signo;
	(void)ctx;
	loop_stop(l);
}

static void
srv_start(void)
{
	struct ctlsrv_config cfg;
	struct addr a;
	char err[256];
	int lfd;

	unlink(logpath);
	CHECK(addr_parse(sock, &a, err, sizeof err) == 0);
	lfd = net_listen_mode(&a, 8, 0600, err, sizeof err);
	CHECK(lfd >= 0);
	srv_pid = fork();
	CHECK(srv_pid >= 0);
	if (srv_pid == 0) {
		struct loop *l = loop_new_flags(MAXCONN + 8, loop_flags);

		alarm(30);
		if (l == NULL)
			_exit(2);
		memset(&cfg, 0, sizeof cfg);
		cfg.maxconn = MAXCONN;
		cfg.max_body = MAX_BODY;
		cfg.queue = QUEUE;
		cfg.hello_ms = HELLO_MS;
		cfg.write_ms = WRITE_MS;
		cfg.cmd = on_cmd;
		cfg.msg = on_msg;
		cfg.log = on_log;
		S = ctlsrv_new(l, lfd, SRV, &cfg, err, sizeof err);
		if (S == NULL || loop_signal(l, SIGTERM, on_term, NULL) != 0)
			_exit(3);
		strcpy(last, "nothing\n");
		(void)loop_run(l);
		ctlsrv_free(S);
		loop_free(l);
		close(lfd);
		/* exit, not _exit: a leak check sees the server freed. */
		exit(0);
	}
	close(lfd);
}

static void
srv_stop(void)
{
	int st = -1;

	kill(srv_pid, SIGTERM);
	CHECK(waitpid(srv_pid, &st, 0) == srv_pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	srv_pid = -1;
	unlink(sock);
}

/* The server's log holds a line with s. */
static int
logged(const char *s)
{
	char buf[8192];
	int fd = open(logpath, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = io_read_full(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, s) != NULL;
}

/* ---- clients: lib/client, as dsctl ---- */

static int
cl_open(struct client *c, const char *name)
{
	struct client_opts o;
	char err[256];

	memset(&o, 0, sizeof o);
	o.hubs = sock;
	o.name = name;
	o.keyfile = "";
	o.timeout_ms = WAIT_MS;
	if (client_init(c, &o, err, sizeof err) != 0)
		return -1;
	if (client_connect(c, err, sizeof err) != 0) {
		client_free(c);
		return -1;
	}
	return 0;
}

/* Send a frame and return the one that answers it (NULL: none). */
static const struct proto_msg *
cl_ask(struct client *c, const char *to, const char *type, const char *body)
{
	char id[PROTO_TOKEN_MAX + 1], err[256];
	const struct proto_msg *m;
	struct proto_hdr h;

	client_id(c, id);
	memset(&h, 0, sizeof h);
	h.from = c->name;
	h.to = to;
	h.type = type;
	h.id = id;
	if (client_send(c, &h, body, body != NULL ? strlen(body) : 0) != 0 ||
	    client_flush(c, WAIT_MS) != 0)
		return NULL;
	while (client_recv(c, WAIT_MS, &m, err, sizeof err) == 1) {
		struct proto_str re = proto_get(m, PF_RE);

		if (re.p != NULL && re.n == strlen(id) &&
		    memcmp(re.p, id, re.n) == 0)
			return m;
	}
	return NULL;
}

static int
is(const struct proto_msg *m, const char *type, const char *reason,
    const char *body)
{
	struct proto_str rs = proto_lookup(m, "reason");

	if (m == NULL || !proto_str_eq(proto_type(m), type))
		return 0;
	if (reason != NULL && (!proto_str_eq(rs, reason) ||
	    !proto_str_eq(proto_lookup(m, "status"), "1")))
		return 0;
	if (reason == NULL && rs.p != NULL)
		return 0;
	return body == NULL || (m->body_len == strlen(body) &&
	    memcmp(m->body, body, strlen(body)) == 0);
}

struct seen {
	int n;
	char last[256];
};

static void
on_frame(void *ctx, const struct proto_msg *m)
{
	struct seen *s = ctx;
	struct proto_str re = proto_get(m, PF_RE);
	struct proto_str rs = proto_lookup(m, "reason");

	s->n++;
	snprintf(s->last, sizeof s->last, "%.*s re=%.*s reason=%.*s %.*s",
	    (int)proto_type(m).n, proto_type(m).p, (int)re.n,
	    re.p != NULL ? re.p : "", (int)rs.n, rs.p != NULL ? rs.p : "",
	    (int)m->body_len, m->body);
}

/* Send a frame with id and confirm it, as dsctl send does. */
static int
cl_send(struct client *c, const char *to, const char *type, const char *id,
    const char *body, struct seen *seen)
{
	char err[256];
	struct proto_hdr h;

	memset(&h, 0, sizeof h);
	h.from = c->name;
	h.to = to;
	h.type = type;
	h.id = id;
	seen->n = 0;
	seen->last[0] = '\0';
	if (client_send(c, &h, body, strlen(body)) != 0)
		return -1;
	return client_sync(c, WAIT_MS, on_frame, seen, err, sizeof err);
}

/* ---- raw clients ---- */

struct raw {
	int fd;
	char *buf;
	size_t len, used, cap;
	int eof;
	struct proto_parser p;
	uint64_t bytes;
};

static struct raw *
raw_open(void)
{
	struct raw *r = calloc(1, sizeof *r);
	struct addr a;
	char err[256];

	CHECK(addr_parse(sock, &a, err, sizeof err) == 0);
	r->fd = net_dial(&a, WAIT_MS, err, sizeof err);
	CHECK(r->fd >= 0);
	r->cap = 1 << 16;
	r->buf = malloc(r->cap);
	proto_parser_init(&r->p, 1 << 20);
	return r;
}

static void
raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}

static int
raw_say(struct raw *r, const char *s)
{
	size_t n = strlen(s);
	long long deadline = io_now_ms() + WAIT_MS;

	while (n > 0) {
		struct pollfd p = { r->fd, POLLOUT, 0 };
		ssize_t w;

		if (poll(&p, 1, io_remaining_ms(deadline)) != 1)
			return -1;
		w = write(r->fd, s, n);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		}
	}
	return 0;
}

/* Read once, waiting at most ms.  1: bytes, 0: eof, -1: nothing. */
static int
raw_fill(struct raw *r, int ms)
{
	struct pollfd p = { r->fd, POLLIN, 0 };
	ssize_t n;

	if (r->used > 0) {
		memmove(r->buf, r->buf + r->used, r->len - r->used);
		r->len -= r->used;
		r->used = 0;
	}
	if (r->len == r->cap)
		r->len = 0;     /* only counted: raw_eof() drops bytes */
	if (poll(&p, 1, ms) != 1)
		return -1;
	n = read(r->fd, r->buf + r->len, r->cap - r->len);
	if (n > 0) {
		r->len += (size_t)n;
		r->bytes += (uint64_t)n;
		return 1;
	}
	if (n == 0 || errno == ECONNRESET) {
		r->eof = 1;
		return 0;
	}
	return -1;
}

/* The next frame: 1 with *m, 0 at eof, -1 after the deadline. */
static int
raw_frame(struct raw *r, const struct proto_msg **m, int ms)
{
	long long deadline = io_now_ms() + ms;

	for (;;) {
		int rc = proto_parse(&r->p, r->buf + r->used, r->len - r->used);

		if (rc == PROTO_MSG) {
			*m = &r->p.msg;
			r->used += r->p.msg.frame_len;
			return 1;
		}
		if (rc == PROTO_ERR || r->eof)
			return rc == PROTO_ERR ? -1 : 0;
		rc = raw_fill(r, io_remaining_ms(deadline));
		if (rc < 0)
			return -1;
	}
}

/* Read and drop everything until end of file; 1 if it came in time. */
static int
raw_eof(struct raw *r, int ms)
{
	long long deadline = io_now_ms() + ms;

	while (!r->eof) {
		r->used = r->len;
		if (raw_fill(r, io_remaining_ms(deadline)) < 0)
			return 0;
	}
	return 1;
}

/* The whole next frame, as text, for exact comparisons. */
static int
raw_next_is(struct raw *r, const char *want)
{
	const struct proto_msg *m;

	if (raw_frame(r, &m, WAIT_MS) != 1)
		return 0;
	if (m->frame_len != strlen(want) || memcmp(m->frame, want,
	    m->frame_len) != 0) {
		fprintf(stderr, "got: %.*s", (int)m->frame_len, m->frame);
		return 0;
	}
	return 1;
}

#define HELLO "ds1 from=me to=* type=hello id=h len=0\n\n"
#define HELLO_REP "ds1 from=srv to=me type=hello re=h max=4096 " \
	"queue=65536 len=0\n\n"

/* ---- the tests ---- */

static void
test_config(void)
{
	struct ctlsrv_config cfg;
	struct loop *l = loop_new(4);
	char err[256];
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	memset(&cfg, 0, sizeof cfg);
	errno = 0;
	CHECK(ctlsrv_new(l, sv[0], "a b", &cfg, err, sizeof err) == NULL);
	CHECK(errno == EINVAL);
	CHECK_STR(err, "bad server name 'a b'");
	cfg.queue = 100;
	CHECK(ctlsrv_new(l, sv[0], "a", &cfg, err, sizeof err) == NULL);
	CHECK(errno == EINVAL);
	cfg.queue = 0;
	cfg.max_body = PROTO_BODY_DEFAULT + 1;
	CHECK(ctlsrv_new(l, sv[0], "a", &cfg, err, sizeof err) == NULL);
	CHECK(errno == EINVAL);
	cfg.max_body = 0;
	CHECK(ctlsrv_new(l, -1, "a", &cfg, err, sizeof err) == NULL);
	/* NULL: every default. */
	S = ctlsrv_new(l, sv[0], "a", NULL, err, sizeof err);
	CHECK(S != NULL && ctlsrv_clients(S) == 0);
	ctlsrv_free(S);
	S = NULL;
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

static void
test_hello_and_commands(void)
{
	struct client c;
	const struct proto_msg *m;
	struct raw *r;

	srv_start();
	CHECK(cl_open(&c, "tester") == 0);
	CHECK_STR(c.hub, SRV);
	CHECK(c.hub_max == MAX_BODY);
	CHECK(c.hub_queue == QUEUE);

	/* A ping to the server: what client_sync uses. */
	m = cl_ask(&c, SRV, "ping", NULL);
	CHECK(is(m, "rep", NULL, ""));
	CHECK(proto_str_eq(proto_get(m, PF_FROM), SRV));
	CHECK(proto_str_eq(proto_get(m, PF_TO), "tester"));

	/* Commands: the first line only. */
	CHECK(is(cl_ask(&c, SRV, "req", "echo hello world\nmore\n"), "rep",
	    NULL, "hello world\n"));
	CHECK(is(cl_ask(&c, SRV, "msg", "echo no newline"), "rep", NULL,
	    "no newline\n"));
	CHECK(is(cl_ask(&c, SRV, "req", "fail\n"), "err", "bad-argument",
	    "it failed\n"));
	CHECK(is(cl_ask(&c, SRV, "req", "noreason\n"), "err", "bad-argument",
	    "no reason given\n"));
	CHECK(is(cl_ask(&c, SRV, "req", "frob\n"), "err", "unknown-command",
	    "unknown command\n"));
	CHECK(is(cl_ask(&c, SRV, "req", "clients\n"), "rep", NULL, "1\n"));
	/* An answer of half the queue fits; one byte more does not. */
	m = cl_ask(&c, SRV, "req", "big 32768\n");
	CHECK(is(m, "rep", NULL, NULL) && m->body_len == 32768);
	CHECK(is(cl_ask(&c, SRV, "req", "big 32769\n"), "err", "too-big",
	    "too big\n"));
	client_free(&c);

	/* The bytes, exactly. */
	r = raw_open();
	CHECK(raw_say(r, HELLO "ds1 from=me to=srv type=ping id=1 len=0\n\n"
	    "ds1 from=me to=srv type=req id=2 len=7\necho a\n\n"
	    "ds1 from=me to=srv type=req id=3 len=5\nfail\n\n") == 0);
	CHECK(raw_next_is(r, HELLO_REP));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=rep re=1 len=0\n\n"));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=rep re=2 len=2\na\n\n"));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=err re=3 status=1 "
	    "reason=bad-argument len=10\nit failed\n\n"));
	/* Answers to the server are dropped, never answered. */
	CHECK(raw_say(r, "ds1 from=me to=srv type=rep re=9 len=0\n\n"
	    "ds1 from=me to=srv type=err re=9 len=0\n\n"
	    "ds1 from=other to=srv type=rep re=9 len=0\n\n"
	    "ds1 from=me to=srv type=ping id=4 len=0\n\n") == 0);
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=rep re=4 len=0\n\n"));
	/* Half-closed after a request: answered, then closed. */
	CHECK(raw_say(r, "ds1 from=me to=srv type=ping id=5 len=0\n\n") == 0);
	CHECK(shutdown(r->fd, SHUT_WR) == 0);
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=rep re=5 len=0\n\n"));
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);
	srv_stop();
}

static void
test_messages(void)
{
	struct client c;
	struct seen seen;
	struct raw *r;

	srv_start();
	CHECK(cl_open(&c, "tester") == 0);
	CHECK(is(cl_ask(&c, SRV, "req", "last\n"), "rep", NULL, "nothing\n"));

	/* Taken: nothing comes back but the sync's rep. */
	CHECK(cl_send(&c, "bob", NULL, "m1", "hi\n", &seen) == 0);
	CHECK(seen.n == 0);
	CHECK(is(cl_ask(&c, SRV, "req", "last\n"), "rep", NULL,
	    "to=bob type=msg id=m1 body=hi\n"));
	CHECK(cl_send(&c, "*", "req", "m2", "all", &seen) == 0);
	CHECK(seen.n == 0);
	CHECK(is(cl_ask(&c, SRV, "req", "last\n"), "rep", NULL,
	    "to=* type=req id=m2 body=all"));

	/* Refused: an err with the callback's reason and why, and a LF. */
	CHECK(cl_send(&c, "nobody", NULL, "m3", "x\n", &seen) == 0);
	CHECK(seen.n == 1);
	CHECK_STR(seen.last, "err re=m3 reason=no-route no route to nobody\n");
	CHECK(cl_send(&c, "odd", "ping", "m4", "", &seen) == 0);
	CHECK(seen.n == 1);
	CHECK_STR(seen.last, "err re=m4 reason=no-route ");
	/* ... but never for an answer, which is still handed on. */
	CHECK(cl_send(&c, "nobody", "rep", "m5", "r\n", &seen) == 0);
	CHECK(seen.n == 0);
	CHECK(is(cl_ask(&c, SRV, "req", "last\n"), "rep", NULL,
	    "to=nobody type=rep id=m5 body=r\n"));
	client_free(&c);

	/* Not yours: refused, the connection stays. */
	r = raw_open();
	CHECK(raw_say(r, HELLO "ds1 from=other to=bob id=7 len=0\n\n"
	    "ds1 from=other to=srv type=ping id=8 len=0\n\n"
	    "ds1 from=me to=* type=hello id=9 len=0\n\n"
	    "ds1 from=me to=srv type=ping id=10 len=0\n\n") == 0);
	CHECK(raw_next_is(r, HELLO_REP));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=err re=7 status=1 "
	    "reason=not-yours len=45\nthis connection does not hold the name "
	    "other\n\n"));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=err re=8 status=1 "
	    "reason=not-yours len=45\nthis connection does not hold the name "
	    "other\n\n"));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=err re=9 status=1 "
	    "reason=bad-hello len=19\nalready said hello\n\n"));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=rep re=10 len=0\n\n"));
	raw_close(r);
	/* The last message the callback saw is still bob's. */
	CHECK(cl_open(&c, "tester") == 0);
	CHECK(is(cl_ask(&c, SRV, "req", "last\n"), "rep", NULL,
	    "to=nobody type=rep id=m5 body=r\n"));
	client_free(&c);
	srv_stop();
}

static void
test_protocol_errors(void)
{
	struct client c;
	struct raw *r;
	struct seen seen;
	const struct proto_msg *m;
	long long t0;

	srv_start();
	CHECK(cl_open(&c, "tester") == 0);

	/* A bad frame: an err, then that connection alone is closed. */
	r = raw_open();
	CHECK(raw_say(r, HELLO "ds1 from=me to=srv id=1 len=x\n\n") == 0);
	CHECK(raw_next_is(r, HELLO_REP));
	CHECK(raw_frame(r, &m, WAIT_MS) == 1);
	CHECK(is(m, "err", "bad-frame", NULL));
	CHECK(proto_str_eq(proto_get(m, PF_TO), "me"));
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);
	CHECK(logged("control client 2 (me): message 2 at byte"));
	CHECK(cl_send(&c, "bob", NULL, "ok", "still here\n", &seen) == 0);
	CHECK(seen.n == 0);

	/* A body over max=: a bad frame too. */
	r = raw_open();
	CHECK(raw_say(r, HELLO "ds1 from=me to=srv id=1 len=4097\n") == 0);
	CHECK(raw_next_is(r, HELLO_REP));
	CHECK(raw_frame(r, &m, WAIT_MS) == 1);
	CHECK(is(m, "err", "bad-frame", NULL));
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);

	/* Before the hello: no-hello, closed. */
	r = raw_open();
	CHECK(raw_say(r, "ds1 from=me to=srv type=ping id=p len=0\n\n") == 0);
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=err re=p status=1 "
	    "reason=no-hello len=25\nsay hello before sending\n\n"));
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);

	/* A hello that claims the server's name. */
	r = raw_open();
	CHECK(raw_say(r, "ds1 from=srv to=* type=hello id=h len=0\n\n") == 0);
	CHECK(raw_next_is(r, "ds1 from=srv to=* type=err re=h status=1 "
	    "reason=bad-hello len=29\nsrv is the server's own name\n\n"));
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);

	/* No hello in time. */
	r = raw_open();
	t0 = io_now_ms();
	CHECK(raw_next_is(r, "ds1 from=srv to=* type=err status=1 "
	    "reason=timeout len=23\nno hello within 300 ms\n\n"));
	CHECK(io_now_ms() - t0 >= HELLO_MS - 50);
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);
	CHECK(logged("control client 6: no hello within 300 ms"));

	/* A frame that stalls half-way. */
	r = raw_open();
	CHECK(raw_say(r, HELLO "ds1 from=me to=srv") == 0);
	CHECK(raw_next_is(r, HELLO_REP));
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=err status=1 "
	    "reason=timeout len=27\na frame stalled for 300 ms\n\n"));
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);

	/* A frame cut short by the end of the input: logged, closed. */
	r = raw_open();
	CHECK(raw_say(r, HELLO "ds1 from=me to=srv len=5\nab") == 0);
	CHECK(shutdown(r->fd, SHUT_WR) == 0);
	CHECK(raw_next_is(r, HELLO_REP));
	CHECK(raw_eof(r, WAIT_MS));
	raw_close(r);
	CHECK(logged("control client 8 (me): truncated frame"));

	/* Through all that, the first client was served. */
	CHECK(is(cl_ask(&c, SRV, "req", "clients\n"), "rep", NULL, "1\n"));
	client_free(&c);
	srv_stop();
}

static void
test_output_bound(void)
{
	struct raw *r;
	char *req;
	size_t i, n;
	int reps = 0, rc;
	const struct proto_msg *m;

	srv_start();
	/*
	 * Pipelined requests whose answers pass the queue many times over,
	 * read as they come: held back, never dropped.
	 */
	r = raw_open();
	req = malloc(200 * 64);
	n = 0;
	for (i = 0; i < 200; i++)
		n += (size_t)sprintf(req + n, "ds1 from=me to=srv type=req "
		    "id=%zu len=10\nbig 20000\n\n", i);
	CHECK(raw_say(r, HELLO) == 0);
	CHECK(raw_next_is(r, HELLO_REP));
	/* Written while the answers are read, as client_flush does. */
	{
		size_t off = 0;
		long long deadline = io_now_ms() + 4 * WAIT_MS;

		while ((off < n || reps < 200) && io_now_ms() < deadline) {
			struct pollfd p = { r->fd, POLLIN |
			    (off < n ? POLLOUT : 0), 0 };

			if (poll(&p, 1, 100) < 0)
				break;
			if ((p.revents & POLLOUT) && off < n) {
				ssize_t w = write(r->fd, req + off, n - off);

				if (w > 0)
					off += (size_t)w;
			}
			if (p.revents & (POLLIN | POLLHUP)) {
				while ((rc = raw_frame(r, &m, 0)) == 1)
					if (is(m, "rep", NULL, NULL) &&
					    m->body_len == 20000)
						reps++;
				if (r->eof)
					break;
			}
		}
	}
	CHECK(reps == 200);
	CHECK(!r->eof);
	raw_close(r);

	/* The same requests from a client that reads nothing: closed. */
	r = raw_open();
	{
		int one = 4096;

		(void)setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &one,
		    sizeof one);
	}
	CHECK(raw_say(r, HELLO) == 0);
	CHECK(raw_say(r, req) == 0);
	CHECK(!logged("stayed unread"));
	{
		long long deadline = io_now_ms() + WAIT_MS;

		while (!logged("stayed unread") && io_now_ms() < deadline)
			(void)poll(NULL, 0, 20);
	}
	CHECK(logged("control client 2 (me): closed: its replies stayed "
	    "unread"));
	CHECK(raw_eof(r, WAIT_MS));
	CHECK(r->bytes < 200 * 20000);
	raw_close(r);
	free(req);
	srv_stop();
}

static void
test_many_clients(void)
{
	struct client c[MAXCONN];
	struct raw *r;
	const struct proto_msg *m;
	char body[64], want[64];
	int i, k;

	srv_start();
	for (i = 0; i < MAXCONN; i++) {
		char name[16];

		snprintf(name, sizeof name, "c%d", i);
		CHECK(cl_open(&c[i], name) == 0);
	}
	/* Interleaved: each gets its own answers. */
	for (k = 0; k < 20; k++)
		for (i = 0; i < MAXCONN; i++) {
			snprintf(body, sizeof body, "echo %d.%d\n", i, k);
			snprintf(want, sizeof want, "%d.%d\n", i, k);
			m = cl_ask(&c[i], SRV, "req", body);
			CHECK(is(m, "rep", NULL, want));
			CHECK(proto_str_eq(proto_get(m, PF_TO), c[i].name));
		}
	CHECK(is(cl_ask(&c[0], SRV, "req", "clients\n"), "rep", NULL, "4\n"));

	/* One more waits in the backlog, unanswered... */
	r = raw_open();
	CHECK(raw_say(r, HELLO) == 0);
	CHECK(raw_frame(r, &m, 2 * HELLO_MS) == -1);
	/* ... until a place is free. */
	client_free(&c[0]);
	CHECK(raw_next_is(r, HELLO_REP));
	CHECK(raw_say(r, "ds1 from=me to=srv type=req id=1 len=8\nclients\n\n")
	    == 0);
	CHECK(raw_next_is(r, "ds1 from=srv to=me type=rep re=1 len=2\n4\n\n"));
	raw_close(r);
	for (i = 1; i < MAXCONN; i++)
		client_free(&c[i]);
	srv_stop();
}

static void
test_drain(void)
{
	struct client c, d;
	struct raw *r;

	srv_start();
	CHECK(cl_open(&c, "a") == 0);
	CHECK(cl_open(&d, "b") == 0);
	CHECK(is(cl_ask(&c, SRV, "req", "drain\n"), "rep", NULL,
	    "draining\n"));
	/* Both are closed once their answers are out. */
	CHECK(cl_ask(&c, SRV, "ping", NULL) == NULL);
	CHECK(cl_ask(&d, SRV, "ping", NULL) == NULL);
	client_free(&c);
	client_free(&d);
	/* No one else is taken. */
	r = raw_open();
	CHECK(raw_say(r, HELLO) == 0);
	{
		const struct proto_msg *m;

		CHECK(raw_frame(r, &m, 2 * HELLO_MS) == -1);
	}
	raw_close(r);
	srv_stop();
}

void
suite_ctlsrv(void)
{
	const char *tmp = getenv("TMPDIR");

	/* A Unix socket path must stay short. */
	snprintf(dir, sizeof dir, "%s/ds-ctlsrv.XXXXXX",
	    tmp != NULL && strlen(tmp) < 30 ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof sock, "%s/ctl.sock", dir);
	snprintf(logpath, sizeof logpath, "%s/log", dir);
	test_config();
	test_hello_and_commands();
	test_messages();
	test_protocol_errors();
	test_output_bound();
	test_many_clients();
	test_drain();
	/* The I/O again on poll(2), where the loop has epoll. */
	loop_flags = LOOP_POLL;
	test_hello_and_commands();
	test_protocol_errors();
	test_output_bound();
	unlink(logpath);
	CHECK(rmdir(dir) == 0);
}
