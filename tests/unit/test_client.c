#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/auth.h"
#include "../../lib/client.h"
#include "../../lib/io.h"
#include "../../lib/proto.h"
#include "unit.h"

/*
 * The client against fake hubs: a forked child that accepts on a Unix
 * socket in a private directory and speaks the hub's side of the
 * handshake from a script, checking what the client sends.  The child
 * reports by its exit status (0, or the line of the check that failed),
 * and every wait on either side is bounded.
 */
enum { WAIT_MS = 5000 };

static char dir[64];

#define KEY "sesame"
#define NAME "tester"
#define HUB "hub1"

/* ---- the fake hub's side ---- */

struct fh {
	int fd;
	struct proto_parser p;
	char buf[8192];
	size_t len, used;
};

static void
fh_init(struct fh *h, int fd)
{
	h->fd = fd;
	h->len = h->used = 0;
	proto_parser_init(&h->p, sizeof h->buf);
}

/* The next frame: 1, 0 at end of file, -1 on an error or a timeout. */
static int
fh_read(struct fh *h, const struct proto_msg **m)
{
	if (h->used > 0) {
		memmove(h->buf, h->buf + h->used, h->len - h->used);
		h->len -= h->used;
		h->used = 0;
	}
	for (;;) {
		struct pollfd p;
		ssize_t r;
		int rc = proto_parse(&h->p, h->buf, h->len);

		if (rc == PROTO_MSG) {
			h->used = h->p.msg.frame_len;
			*m = &h->p.msg;
			return 1;
		}
		if (rc == PROTO_ERR || h->len == sizeof h->buf)
			return -1;
		p.fd = h->fd;
		p.events = POLLIN;
		if (poll(&p, 1, WAIT_MS) != 1)
			return -1;
		r = read(h->fd, h->buf + h->len, sizeof h->buf - h->len);
		if (r < 0 && errno == ECONNRESET)
			return 0;
		if (r <= 0)
			return (int)r;
		h->len += (size_t)r;
	}
}

static int
fh_write(struct fh *h, const char *s)
{
	return io_write_all(h->fd, s, strlen(s));
}

static int
is(const struct proto_msg *m, const char *key, const char *want)
{
	struct proto_str s = proto_lookup(m, key);

	if (want == NULL)
		return s.p == NULL;
	return s.p != NULL && s.n == strlen(want) && memcmp(s.p, want, s.n) ==
	    0;
}

/* Copy a field's value (as written) to dst, which holds 128 bytes. */
static int
get(const struct proto_msg *m, const char *key, char *dst)
{
	struct proto_str s = proto_lookup(m, key);

	if (s.p == NULL || s.n >= 128)
		return -1;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

#define EXPECT(c) do { if (!(c)) return __LINE__ % 250 + 1; } while (0)

enum script {
	S_PLAIN,        /* hello, sync, pings, a message each way */
	S_HELLO,        /* hello only, then wait for the close */
	S_CLOSE,        /* close at once */
	S_SILENT,       /* read the hello, never answer */
	S_GARBAGE,      /* answer with something that is not ds1 */
	S_BADHELLO,     /* refuse the hello */
	S_AUTH,         /* the whole challenge, both ways */
	S_AUTH_BADMAC,  /* a hub that does not know the key */
	S_AUTH_REFUSE,  /* refuse the client's proof */
	S_NEEDKEY,      /* ask for auth from a client that has no key */
	S_STREAM        /* frames in one write, a ping, a frame cut short */
};

static int
hub_hello(struct fh *h, const struct proto_msg *m, const char *extra)
{
	char id[128], line[512];

	if (get(m, "id", id) != 0)
		return -1;
	snprintf(line, sizeof line, "ds1 from=" HUB " to=" NAME " type=hello "
	    "re=%s max=1000 queue=2000%s len=0\n\n", id, extra);
	return fh_write(h, line);
}

/* Answer a hello carrying a nonce with a challenge; mac may be wrong. */
static int
hub_challenge(struct fh *h, const struct proto_msg *m, const char *hn,
    int good)
{
	static struct auth_key key;
	char cn[128], mac[AUTH_MAC_HEX + 1], extra[256];

	key.len = strlen(KEY);
	memcpy(key.k, KEY, key.len);
	if (get(m, "nonce", cn) != 0 || strlen(cn) != AUTH_NONCE_HEX)
		return -1;
	auth_mac(&key, cn, strlen(cn), HUB, strlen(HUB), mac);
	if (!good)
		mac[10] = mac[10] == '0' ? '1' : '0';
	snprintf(extra, sizeof extra, " auth=hmac-sha256 nonce=%s mac=%s", hn,
	    mac);
	return hub_hello(h, m, extra);
}

static int
script(int fd, enum script s)
{
	static const char hn[] = "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef";
	const struct proto_msg *m;
	char id[128], line[512];
	struct fh h;

	fh_init(&h, fd);
	if (s == S_CLOSE)
		return 0;
	EXPECT(fh_read(&h, &m) == 1);
	EXPECT(is(m, "type", "hello"));
	EXPECT(is(m, "from", NAME));
	EXPECT(is(m, "to", "*"));
	EXPECT(m->body_len == 0);
	EXPECT(get(m, "id", id) == 0);
	/* A client with a key sends a nonce; S_HELLO serves either kind. */
	if (s == S_AUTH || s == S_AUTH_BADMAC || s == S_AUTH_REFUSE)
		EXPECT(!is(m, "nonce", NULL));
	else if (s != S_HELLO)
		EXPECT(is(m, "nonce", NULL));
	switch (s) {
	case S_SILENT:
		EXPECT(fh_read(&h, &m) == 0);
		return 0;
	case S_GARBAGE:
		EXPECT(fh_write(&h, "HTTP/1.1 400 Bad Request\r\n\r\n") == 0);
		EXPECT(fh_read(&h, &m) == 0);
		return 0;
	case S_BADHELLO:
		snprintf(line, sizeof line, "ds1 from=" HUB " to=" NAME
		    " type=err re=%s status=1 reason=bad-hello len=18\n"
		    "that name is mine\n\n", id);
		EXPECT(fh_write(&h, line) == 0);
		return 0;
	case S_NEEDKEY:
		EXPECT(hub_hello(&h, m, " auth=hmac-sha256 nonce=" "0123456789"
		    "abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
		    == 0);
		EXPECT(fh_read(&h, &m) == 0);
		return 0;
	case S_AUTH_BADMAC:
		EXPECT(hub_challenge(&h, m, hn, 0) == 0);
		/* The client must give up without sending its proof. */
		EXPECT(fh_read(&h, &m) == 0);
		return 0;
	case S_AUTH:
	case S_AUTH_REFUSE: {
		static struct auth_key key;
		char mac[128];

		key.len = strlen(KEY);
		memcpy(key.k, KEY, key.len);
		EXPECT(hub_challenge(&h, m, hn, 1) == 0);
		EXPECT(fh_read(&h, &m) == 1);
		EXPECT(is(m, "type", "auth"));
		EXPECT(is(m, "from", NAME));
		EXPECT(is(m, "to", HUB));
		EXPECT(get(m, "id", id) == 0);
		EXPECT(get(m, "mac", mac) == 0);
		EXPECT(auth_check(&key, hn, strlen(hn), NAME, strlen(NAME), mac,
		    strlen(mac)));
		if (s == S_AUTH_REFUSE) {
			snprintf(line, sizeof line, "ds1 from=" HUB " to=" NAME
			    " type=err re=%s status=1 reason=auth len=21\n"
			    "authentication failed\n", id);
			EXPECT(fh_write(&h, line) == 0);
			return 0;
		}
		snprintf(line, sizeof line, "ds1 from=" HUB " to=" NAME
		    " type=rep re=%s len=0\n\n", id);
		EXPECT(fh_write(&h, line) == 0);
		EXPECT(fh_read(&h, &m) == 0);
		return 0;
	}
	default:
		break;
	}
	EXPECT(hub_hello(&h, m, "") == 0);
	if (s == S_HELLO) {
		EXPECT(fh_read(&h, &m) == 0);
		return 0;
	}
	if (s == S_STREAM) {
		EXPECT(fh_write(&h, "ds1 from=a to=" NAME " id=1 len=1\n1\n"
		    "ds1 from=a to=" NAME " type=ping id=p len=0\n\n"
		    "ds1 from=a to=" NAME " id=2 len=2\n22\n"
		    "ds1 from=a to=" NAME " id=3 len=0\n\n") == 0);
		EXPECT(fh_read(&h, &m) == 1);
		EXPECT(is(m, "type", "rep"));
		EXPECT(is(m, "re", "p"));
		EXPECT(fh_write(&h, "ds1 from=a to=" NAME " len=10\nabc") == 0);
		return 0;
	}

	/* client_sync: an err for an earlier frame, then the pong. */
	EXPECT(fh_read(&h, &m) == 1);
	EXPECT(is(m, "type", "ping"));
	EXPECT(is(m, "to", HUB));
	EXPECT(is(m, "from", NAME));
	EXPECT(get(m, "id", id) == 0);
	EXPECT(fh_write(&h, "ds1 from=" HUB " to=" NAME " type=err re=99 "
	    "status=1 reason=no-route len=13\nno route to x\n") == 0);
	snprintf(line, sizeof line, "ds1 from=" HUB " to=" NAME " type=rep "
	    "re=%s len=0\n\n", id);
	EXPECT(fh_write(&h, line) == 0);

	/* Pings the client answers (or not) by itself, then a message. */
	EXPECT(fh_write(&h, "ds1 from=pinger to=" NAME " type=ping id=p%3D1 "
	    "len=0\n\n") == 0);
	EXPECT(fh_write(&h, "ds1 from=pinger to=* type=ping id=all len=0\n\n")
	    == 0);
	EXPECT(fh_write(&h, "ds1 from=pinger to=group type=ping id=g "
	    "len=0\n\n") == 0);
	EXPECT(fh_write(&h, "ds1 from=alice to=" NAME " id=m1 len=5\nhello\n")
	    == 0);
	EXPECT(fh_read(&h, &m) == 1);
	EXPECT(is(m, "from", NAME));
	EXPECT(is(m, "to", "pinger"));
	EXPECT(is(m, "type", "rep"));
	EXPECT(is(m, "re", "p%3D1"));
	EXPECT(m->body_len == 0);
	EXPECT(fh_read(&h, &m) == 1);
	EXPECT(is(m, "from", "group"));
	EXPECT(is(m, "to", "pinger"));
	EXPECT(is(m, "re", "g"));
	EXPECT(fh_read(&h, &m) == 1);
	EXPECT(is(m, "from", NAME));
	EXPECT(is(m, "to", "alice"));
	EXPECT(is(m, "re", "m1"));
	EXPECT(m->body_len == 6 && memcmp(m->body, "hello!", 6) == 0);
	/* Then the hub hangs up, which the client sees between frames. */
	return 0;
}

/* ---- the test's side ---- */

static void
sock_path(const char *name, char *dst, size_t n)
{
	snprintf(dst, n, "%s/%s", dir, name);
}

static int
listen_at(const char *name)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	sock_path(name, sun.sun_path, sizeof sun.sun_path);
	unlink(sun.sun_path);
	CHECK(bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0);
	CHECK(listen(fd, 8) == 0);
	return fd;
}

/*
 * A fake hub on socket name that serves the scripts s[0..n), one
 * connection each, and exits with the first failure.
 */
static pid_t
fake_hub(const char *name, const enum script *s, int n)
{
	int lfd = listen_at(name);
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		int i;

		alarm(20);
		for (i = 0; i < n; i++) {
			int fd = accept(lfd, NULL, NULL), rc;

			if (fd < 0)
				_exit(200);
			rc = script(fd, s[i]);
			close(fd);
			if (rc != 0)
				_exit(rc);
		}
		_exit(0);
	}
	close(lfd);
	return pid;
}

static pid_t
fake_hub1(const char *name, enum script s)
{
	return fake_hub(name, &s, 1);
}

static int
exit_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (!WIFEXITED(st))
		return 1000 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

static void
opts_for(struct client_opts *o, const char *hubs, const char *keyfile)
{
	memset(o, 0, sizeof *o);
	o->hubs = hubs;
	o->name = NAME;
	o->keyfile = keyfile;
	o->timeout_ms = WAIT_MS;
}

static void
test_parse_hubs(void)
{
	static char out[CLIENT_HUBS_MAX][CLIENT_ADDR_MAX];
	char err[256], list[CLIENT_HUBS_MAX * 16 + 16], *p;
	int i;

	CHECK(client_parse_hubs("127.0.0.1:7070", out, 4, err, sizeof err)
	    == 1);
	CHECK_STR(out[0], "127.0.0.1:7070");
	CHECK(client_parse_hubs("a:1,[::1]:2,unix:/x/y,-,/run/ds.sock", out,
	    8, err, sizeof err) == 5);
	CHECK_STR(out[0], "a:1");
	CHECK_STR(out[1], "[::1]:2");
	CHECK_STR(out[2], "unix:/x/y");
	CHECK_STR(out[3], "-");
	CHECK_STR(out[4], "/run/ds.sock");

	errno = 0;
	CHECK(client_parse_hubs("a:1,,b:2", out, 4, err, sizeof err) == -1);
	CHECK(errno == EINVAL);
	CHECK_STR(err, "empty address in the hub list 'a:1,,b:2'");
	CHECK(client_parse_hubs("", out, 4, err, sizeof err) == -1);
	CHECK(strstr(err, "empty address") != NULL);
	CHECK(client_parse_hubs("a:1,", out, 4, err, sizeof err) == -1);
	CHECK(strstr(err, "empty address") != NULL);
	CHECK(client_parse_hubs("a:1,nohost", out, 4, err, sizeof err) == -1);
	CHECK_STR(err, "bad address 'nohost': expected host:port");
	CHECK(client_parse_hubs("a:1,b:99999", out, 4, err, sizeof err) == -1);
	CHECK_STR(err, "bad address 'b:99999': port must be 0 to 65535");
	CHECK(client_parse_hubs("a:1,b:2,c:3", out, 2, err, sizeof err) == -1);
	CHECK_STR(err, "more than 2 addresses in the hub list");
	for (i = 0, p = list; i < CLIENT_HUBS_MAX; i++)
		p += sprintf(p, "%sh%d:%d", i > 0 ? "," : "", i, i + 1);
	CHECK(client_parse_hubs(list, out, CLIENT_HUBS_MAX, err, sizeof err)
	    == CLIENT_HUBS_MAX);
	CHECK_STR(out[CLIENT_HUBS_MAX - 1], "h15:16");
	strcat(list, ",x:1");
	CHECK(client_parse_hubs(list, out, CLIENT_HUBS_MAX, err, sizeof err)
	    == -1);
	{
		static char big[CLIENT_ADDR_MAX + 16];

		memset(big, 'h', sizeof big - 8);
		strcpy(big + sizeof big - 8, ":1");
		CHECK(client_parse_hubs(big, out, 4, err, sizeof err) == -1);
		CHECK(strstr(err, "is longer than 255 bytes") != NULL);
	}
}

static void
write_file(const char *name, const char *s, char *path, size_t n)
{
	FILE *f;

	sock_path(name, path, n);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs(s, f);
		fclose(f);
	}
}

static void
test_init(void)
{
	static struct client c;
	struct client_opts o;
	char err[256], keyfile[128], empty[128];
	const char *old_hub = getenv("DS_HUB"), *old_key = getenv("DS_KEY");
	char *saved_hub = old_hub ? strdup(old_hub) : NULL;
	char *saved_key = old_key ? strdup(old_key) : NULL;

	write_file("key", KEY "\n", keyfile, sizeof keyfile);
	write_file("empty", "", empty, sizeof empty);

	/* $DS_HUB, then the default; an empty $DS_HUB is unset. */
	unsetenv("DS_HUB");
	unsetenv("DS_KEY");
	opts_for(&o, NULL, NULL);
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(c.nhubs == 1);
	CHECK_STR(c.hubs[0], CLIENT_DEFAULT_HUB);
	CHECK_STR(c.hubs[0], "127.0.0.1:7070");
	CHECK(c.have_key == 0);
	CHECK(c.rfd == -1 && c.wfd == -1);
	CHECK_STR(c.name, NAME);
	client_free(&c);
	setenv("DS_HUB", "unix:/a/b,-", 1);
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(c.nhubs == 2);
	CHECK_STR(c.hubs[0], "unix:/a/b");
	CHECK_STR(c.hubs[1], "-");
	client_free(&c);
	/* An explicit list wins over $DS_HUB. */
	o.hubs = "h:1";
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(c.nhubs == 1);
	CHECK_STR(c.hubs[0], "h:1");
	client_free(&c);
	o.hubs = NULL;
	setenv("DS_HUB", "", 1);
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK_STR(c.hubs[0], "127.0.0.1:7070");
	client_free(&c);
	setenv("DS_HUB", "nonsense", 1);
	errno = 0;
	CHECK(client_init(&c, &o, err, sizeof err) == -1);
	CHECK(errno == EINVAL);
	CHECK_STR(err, "bad address 'nonsense': expected host:port");
	unsetenv("DS_HUB");

	/* Names. */
	o.name = "a b";
	errno = 0;
	CHECK(client_init(&c, &o, err, sizeof err) == -1);
	CHECK(errno == EINVAL);
	CHECK(strstr(err, "bad name 'a b'") == err);
	o.name = NULL;
	setenv("DS_NAME", "from-env", 1);
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK_STR(c.name, "from-env");
	client_free(&c);
	unsetenv("DS_NAME");
	o.name = NAME;

	/* Keys: $DS_KEY unless the caller says "" for none. */
	setenv("DS_KEY", keyfile, 1);
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(c.have_key == 1);
	CHECK_MEM(c.key.k, c.key.len, KEY);
	client_free(&c);
	CHECK(c.have_key == 0 && c.key.len == 0 && c.key.k[0] == 0);
	o.keyfile = "";
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(c.have_key == 0);
	client_free(&c);
	unsetenv("DS_KEY");
	o.keyfile = empty;
	errno = 0;
	CHECK(client_init(&c, &o, err, sizeof err) == -1);
	CHECK(errno == EBADMSG);
	CHECK(strstr(err, "is empty") != NULL);
	o.keyfile = "/nonexistent/key";
	errno = 0;
	CHECK(client_init(&c, &o, err, sizeof err) == -1);
	CHECK(errno == ENOENT);
	CHECK_STR(err, "cannot open key file /nonexistent/key: "
	    "No such file or directory");

	if (saved_hub != NULL)
		setenv("DS_HUB", saved_hub, 1);
	if (saved_key != NULL)
		setenv("DS_KEY", saved_key, 1);
	free(saved_hub);
	free(saved_key);
	unlink(keyfile);
	unlink(empty);
}

static int nframes;
static char frame_re[32];

static void
count_frame(void *ctx, const struct proto_msg *m)
{
	struct proto_str re = proto_get(m, PF_RE);

	(void)ctx;
	nframes++;
	if (re.p != NULL && re.n < sizeof frame_re) {
		memcpy(frame_re, re.p, re.n);
		frame_re[re.n] = '\0';
	}
}

/* A socket file that nobody listens on: connecting is refused. */
static void
dead_socket(const char *name)
{
	int fd = listen_at(name);

	close(fd);
}

static void
test_session(void)
{
	static struct client c;
	const struct proto_msg *m;
	struct client_opts o;
	struct proto_hdr h;
	char err[512], hubs[300], d[128], ok[128];
	pid_t pid;

	dead_socket("dead.sock");
	pid = fake_hub1("hub.sock", S_PLAIN);
	sock_path("dead.sock", d, sizeof d);
	sock_path("hub.sock", ok, sizeof ok);
	snprintf(hubs, sizeof hubs, "unix:%s,%s", d, ok);
	opts_for(&o, hubs, "");
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(c.next == 0);
	CHECK(client_connect(&c, err, sizeof err) == 0);
	/* The first refused, the second answered, and that is remembered. */
	CHECK(c.next == 1);
	CHECK_STR(c.addr, ok);
	CHECK_STR(c.hub, HUB);
	CHECK(c.hub_max == 1000);
	CHECK(c.hub_queue == 2000);
	CHECK(client_fd_in(&c) >= 0 && client_fd_in(&c) == client_fd_out(&c));
	CHECK(fcntl(client_fd_in(&c), F_GETFL) & O_NONBLOCK);

	nframes = 0;
	CHECK(client_sync(&c, WAIT_MS, count_frame, NULL, err, sizeof err) ==
	    0);
	CHECK(nframes == 1);
	CHECK_STR(frame_re, "99");

	/* The pings are answered and swallowed; the message comes out. */
	CHECK(client_recv(&c, WAIT_MS, &m, err, sizeof err) == 1);
	CHECK(proto_str_eq(proto_get(m, PF_FROM), "alice"));
	CHECK(proto_str_eq(proto_type(m), "msg"));
	CHECK(m->body_len == 5 && memcmp(m->body, "hello", 5) == 0);

	memset(&h, 0, sizeof h);
	h.from = NAME;
	h.to = "alice";
	h.re = "m1";
	CHECK(client_send(&c, &h, "hello!", 6) == 0);
	/* Over the hub's max: refused before anything is queued. */
	{
		static char big[1001];

		errno = 0;
		CHECK(client_send(&c, &h, big, sizeof big) == -1);
		CHECK(errno == EMSGSIZE);
		CHECK(client_send(&c, &h, big, 1000) == 0);
		buf_clear(&c.out);
		CHECK(client_send(&c, &h, "hello!", 6) == 0);
	}
	h.to = "bad name";
	errno = 0;
	CHECK(client_send(&c, &h, "x", 1) == -1);
	CHECK(errno == EINVAL);
	CHECK(client_pending(&c) > 0);
	CHECK(client_flush(&c, WAIT_MS) == 0);
	CHECK(client_pending(&c) == 0);
	/* The fake hub closes after the last check. */
	CHECK(client_recv(&c, WAIT_MS, &m, err, sizeof err) == 0);
	client_close(&c);
	CHECK(c.rfd == -1);
	{
		int st = exit_status(pid);

		CHECK(st == 0);
		if (st != 0)
			fprintf(stderr, "fake hub: exit %d\n", st);
	}
	client_free(&c);
	unlink(d);
	unlink(ok);
}

/* Which hub is tried first, over several connects. */
static void
test_failover_order(void)
{
	static struct client c;
	static const enum script three[] = { S_HELLO, S_HELLO, S_HELLO };
	static const enum script two_closes[] = { S_CLOSE, S_CLOSE };
	struct client_opts o;
	char err[512], hubs[300], a[128], b[128];
	pid_t closer, hub;

	closer = fake_hub("closer.sock", two_closes, 2);
	hub = fake_hub("hub.sock", three, 3);
	sock_path("closer.sock", a, sizeof a);
	sock_path("hub.sock", b, sizeof b);
	snprintf(hubs, sizeof hubs, "%s,unix:%s", a, b);
	opts_for(&o, hubs, "");
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	/* The closer costs one try, and the hub answers. */
	CHECK(client_connect(&c, err, sizeof err) == 0);
	CHECK(c.next == 1);
	client_close(&c);
	/* Again: the hub that answered is tried first. */
	CHECK(client_connect(&c, err, sizeof err) == 0);
	CHECK(c.next == 1);
	/* Told to start at the closer, it goes round again. */
	c.next = 0;
	CHECK(client_connect(&c, err, sizeof err) == 0);
	CHECK(c.next == 1);
	client_close(&c);
	CHECK(exit_status(hub) == 0);
	/* Both hubs gone: the closer already exited after two accepts. */
	CHECK(exit_status(closer) == 0);
	errno = 0;
	CHECK(client_connect(&c, err, sizeof err) == -1);
	CHECK(errno == ECONNREFUSED);
	CHECK(strstr(err, "cannot connect to ") == err);
	CHECK(strstr(err, "(and 1 other hub failed)") != NULL);
	client_free(&c);
	unlink(a);
	unlink(b);
}

/* One connect against one scripted hub; returns errno (0 on success). */
static int
one(enum script s, const char *keyfile, int timeout_ms, char *err,
    size_t errlen)
{
	static struct client c;
	struct client_opts o;
	char path[128];
	pid_t pid = fake_hub1("one.sock", s);
	int rc, e = 0;

	sock_path("one.sock", path, sizeof path);
	opts_for(&o, path, keyfile);
	o.timeout_ms = timeout_ms;
	CHECK(client_init(&c, &o, err, errlen) == 0);
	rc = client_connect(&c, err, errlen);
	if (rc != 0)
		e = errno;
	CHECK(rc == 0 || c.rfd == -1);
	client_free(&c);
	CHECK(exit_status(pid) == 0);
	unlink(path);
	return e;
}

static void
test_handshakes(void)
{
	char err[512], keyfile[128];

	write_file("key", KEY "\r\n", keyfile, sizeof keyfile);
	CHECK(one(S_HELLO, "", WAIT_MS, err, sizeof err) == 0);
	CHECK(one(S_AUTH, keyfile, WAIT_MS, err, sizeof err) == 0);

	CHECK(one(S_AUTH_BADMAC, keyfile, WAIT_MS, err, sizeof err) == EACCES);
	CHECK(strstr(err, "one.sock: the hub failed to prove that it knows "
	    "the key (another key?)") != NULL);
	CHECK(one(S_AUTH_REFUSE, keyfile, WAIT_MS, err, sizeof err) ==
	    EACCES);
	CHECK(strstr(err, "one.sock: authentication failed: authentication "
	    "failed") != NULL);
	CHECK(one(S_HELLO, keyfile, WAIT_MS, err, sizeof err) == EACCES);
	CHECK(strstr(err, "one.sock: hub does not authenticate") != NULL);
	CHECK(one(S_NEEDKEY, "", WAIT_MS, err, sizeof err) == EACCES);
	CHECK(strstr(err, "one.sock: hub requires a key (-k)") != NULL);

	CHECK(one(S_BADHELLO, "", WAIT_MS, err, sizeof err) == EPROTO);
	CHECK(strstr(err, "one.sock: the hub refused the hello "
	    "(reason=bad-hello): that name is mine") != NULL);
	CHECK(one(S_GARBAGE, "", WAIT_MS, err, sizeof err) == EPROTO);
	CHECK(strstr(err, "bad frame from the hub at ") == err);
	CHECK(strstr(err, "not a ds1 frame") != NULL);
	CHECK(one(S_CLOSE, "", WAIT_MS, err, sizeof err) != 0);
	CHECK(strstr(err, "one.sock: the hub closed the connection during "
	    "the hello") != NULL || strstr(err, "cannot") != NULL);
	{
		long long t0 = io_now_ms();

		CHECK(one(S_SILENT, "", 200, err, sizeof err) == ETIMEDOUT);
		CHECK(io_now_ms() - t0 >= 190);
		CHECK(io_now_ms() - t0 < WAIT_MS);
		CHECK(strstr(err, "one.sock: no answer to the hello within "
		    "200 ms") != NULL);
	}
	unlink(keyfile);
}

/* The calls for a program's own poll loop. */
static void
test_poll_api(void)
{
	static struct client c;
	const struct proto_msg *m;
	struct client_opts o;
	char err[512], path[128], ids[16] = "";
	int n = 0, rc = 0, eof = 0;
	long long end = io_now_ms() + WAIT_MS;
	pid_t pid = fake_hub1("poll.sock", S_STREAM);

	sock_path("poll.sock", path, sizeof path);
	opts_for(&o, path, "");
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(client_connect(&c, err, sizeof err) == 0);
	/*
	 * Frames that came with the hub's hello may be read already, so
	 * the loop takes what is buffered before it waits.
	 */
	while (io_now_ms() < end) {
		struct pollfd p;
		ssize_t r;

		while ((rc = client_next(&c, &m, err, sizeof err)) == 1) {
			struct proto_str id = proto_get(m, PF_ID);

			if (id.p != NULL && n < 8)
				ids[n++] = id.p[0];
		}
		if (rc < 0 || eof)
			break;
		p.fd = client_fd_in(&c);
		p.events = POLLIN;
		if (poll(&p, 1, WAIT_MS) != 1)
			break;
		r = client_read(&c, err, sizeof err);
		if (r == 0)
			eof = 1;
		else if (r < 0)
			CHECK(errno == EAGAIN);
	}
	CHECK(eof);
	/* The ping is not handed out; the frame cut short is an error. */
	CHECK_STR(ids, "123");
	CHECK(rc == -1);
	CHECK(errno == EPROTO);
	CHECK(strstr(err, "poll.sock closed the connection inside a frame: "
	    "truncated frame: input ends inside the body (3 of 10 bytes)") !=
	    NULL);
	/* The pong went out by itself. */
	CHECK(client_pending(&c) == 0);
	CHECK(client_write(&c) == 0);
	client_free(&c);
	CHECK(exit_status(pid) == 0);
	unlink(path);
}

/* "-": the hub is on standard input and output. */
static void
test_stdio(void)
{
	int sv[2], st;
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		static struct client c;
		struct client_opts o;
		char err[512];

		alarm(20);
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(90);
		close(sv[0]);
		close(sv[1]);
		opts_for(&o, "-", "");
		if (client_init(&c, &o, err, sizeof err) != 0)
			_exit(91);
		if (fcntl(0, F_GETFL) & O_NONBLOCK)
			_exit(92);
		if (client_connect(&c, err, sizeof err) != 0)
			_exit(93);
		if (c.rfd != 0 || c.wfd != 1 || strcmp(c.addr, "-") != 0 ||
		    strcmp(c.hub, HUB) != 0)
			_exit(94);
		if (!(fcntl(0, F_GETFL) & O_NONBLOCK))
			_exit(95);
		client_close(&c);
		/* Standard input is left as it was found, and open. */
		if (fcntl(0, F_GETFL) & O_NONBLOCK)
			_exit(96);
		client_free(&c);
		_exit(0);
	}
	close(sv[1]);
	st = script(sv[0], S_HELLO);
	CHECK(st == 0);
	close(sv[0]);
	CHECK(exit_status(pid) == 0);
}

void
suite_client(void)
{
	const char *tmp = getenv("TMPDIR");

	/* A Unix socket path must stay short. */
	snprintf(dir, sizeof dir, "%s/ds-client.XXXXXX",
	    tmp != NULL && strlen(tmp) < 30 ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	test_parse_hubs();
	test_init();
	test_session();
	test_failover_order();
	test_handshakes();
	test_poll_api();
	test_stdio();
	CHECK(rmdir(dir) == 0);
}
