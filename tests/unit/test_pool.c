#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/client.h"
#include "../../lib/io.h"
#include "../../lib/loop.h"
#include "../../lib/pool.h"
#include "../../lib/proto.h"
#include "unit.h"

/*
 * The pool with real children on a real loop.  Every handler that waits
 * for another does so for a file, with a deadline, so that a pool that
 * does not run them at once fails instead of hanging.
 */

#define MAX_REPLIES 16

struct got {
	int n;
	uint64_t tag[MAX_REPLIES];
	char frame[MAX_REPLIES][512];
	char err[MAX_REPLIES][128];
	int start_errno, encode_rc;
};

static void
on_reply(void *ctx, const struct pool_reply *r)
{
	struct got *g = ctx;
	size_t n;

	if (g->n == MAX_REPLIES)
		return;
	g->tag[g->n] = r->tag;
	if (r->start_errno != 0)
		g->start_errno = r->start_errno;
	if (r->encode_rc != 0)
		g->encode_rc = r->encode_rc;
	n = r->frame != NULL && r->len < sizeof g->frame[0] ? r->len : 0;
	memcpy(g->frame[g->n], r->frame != NULL ? r->frame : "", n);
	g->frame[g->n][n] = '\0';
	n = r->err != NULL ? buf_len(r->err) : 0;
	if (n >= sizeof g->err[0])
		n = sizeof g->err[0] - 1;
	memcpy(g->err[g->n], n > 0 ? buf_head(r->err) : "", n);
	g->err[g->n][n] = '\0';
	g->n++;
}

/* Run l until want replies came, or ms passed. */
static void
settle(struct loop *l, struct got *g, int want, int ms)
{
	int64_t end = loop_now(l) + ms;

	while (g->n < want && loop_now(l) < end)
		(void)loop_run_once(l, 50);
}

/* Parse the frame in s; m's views point into s. */
static int
msg(const char *s, struct proto_msg *m)
{
	char e[160];
	uint64_t off;

	return proto_parse_datagram(s, strlen(s), 1 << 20, m, &off, e,
	    sizeof e) == PROTO_MSG ? 0 : -1;
}

static void
pool_basics(void)
{
	struct pool_opts o;
	struct loop *l = loop_new(64);
	struct proto_msg m;
	struct got g;
	struct pool *p;
	char f[128];
	int i;

	CHECK(l != NULL);
	memset(&o, 0, sizeof o);
	memset(&g, 0, sizeof g);
	o.cmd = "cat";
	o.timeout_ms = 5000;
	o.max_body = 1024;
	/* Bad options. */
	o.max_running = 0;
	CHECK(pool_new(l, &o, on_reply, &g) == NULL && errno == EINVAL);
	o.max_running = POOL_MAX + 1;
	CHECK(pool_new(l, &o, on_reply, &g) == NULL && errno == EINVAL);
	o.max_running = 2;
	CHECK(pool_new(l, &o, NULL, &g) == NULL && errno == EINVAL);

	/* Two run, two wait, the fifth is refused. */
	o.max_waiting = 2;
	p = pool_new(l, &o, on_reply, &g);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(msg("ds1 from=a to=svc id=1 len=3\none\n", &m) == 0);
	CHECK(pool_start(p, &m, "bad name", 0) == -1 && errno == EINVAL);
	for (i = 1; i <= 4; i++) {
		snprintf(f, sizeof f, "ds1 from=a to=svc id=%d len=2\n%d\n\n",
		    i, i);
		CHECK(msg(f, &m) == 0);
		CHECK(!pool_full(p));
		CHECK(pool_start(p, &m, "svc", (uint64_t)i * 10) == 0);
		/* The message's memory is the caller's again at once. */
		memset(f, 'x', strlen(f));
	}
	CHECK(pool_running(p) == 2 && pool_waiting(p) == 2);
	CHECK(pool_full(p));
	CHECK(msg("ds1 from=a to=svc id=5 len=0\n\n", &m) == 0);
	CHECK(pool_start(p, &m, "svc", 50) == -1 && errno == ENOBUFS);
	settle(l, &g, 4, 5000);
	CHECK(g.n == 4);
	CHECK(pool_running(p) == 0 && pool_waiting(p) == 0);
	/* Each reply answers its own request, whatever the order. */
	for (i = 0; i < g.n; i++) {
		unsigned k = (unsigned)(g.tag[i] / 10);

		snprintf(f, sizeof f, "ds1 from=svc to=a type=rep re=%u len=2\n"
		    "%u\n\n", k, k);
		CHECK_STR(g.frame[i], f);
	}
	CHECK(g.start_errno == 0 && g.encode_rc == 0);
	pool_free(p);
	loop_free(l);
}

static void
pool_concurrent(void)
{
	char dir[] = "/tmp/ds-pool.XXXXXX", cmd[512], f[160];
	struct pool_opts o;
	struct loop *l = loop_new(64);
	struct proto_msg m;
	struct got g;
	struct pool *p;
	int i;

	CHECK(l != NULL && mkdtemp(dir) != NULL);
	/*
	 * Each of three handlers says it has started, then waits (2 s at
	 * most) until all three have: only handlers that run at once get
	 * there.  The third to start has to wait for no one, and the
	 * second waits until the third is done, so the replies come
	 * third, second, first: in the order they end.
	 */
	snprintf(cmd, sizeof cmd, "d=%s; touch $d/go.$DS_ID; i=0; "
	    "while [ $i -lt 200 ]; do "
	    "[ -e $d/go.1 ] && [ -e $d/go.2 ] && [ -e $d/go.3 ] && break; "
	    "sleep 0.01; i=$((i+1)); done; [ $i -lt 200 ] || exit 9; "
	    "n=$((DS_ID + 1)); i=0; "
	    "while [ $DS_ID -lt 3 ] && [ ! -e $d/done.$n ] && "
	    "[ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done; "
	    "echo \"ran $DS_ID\"; echo \"note $DS_ID\" >&2; "
	    "touch $d/done.$DS_ID",
	    dir);
	memset(&o, 0, sizeof o);
	memset(&g, 0, sizeof g);
	o.cmd = cmd;
	o.max_running = 3;
	o.timeout_ms = 10000;
	o.max_body = 1024;
	p = pool_new(l, &o, on_reply, &g);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	for (i = 1; i <= 3; i++) {
		snprintf(f, sizeof f, "ds1 from=me to=job id=%d len=0\n\n", i);
		CHECK(msg(f, &m) == 0);
		CHECK(pool_start(p, &m, "job", (uint64_t)i) == 0);
	}
	CHECK(pool_full(p));
	settle(l, &g, 3, 10000);
	CHECK(g.n == 3);
	for (i = 0; i < 3; i++) {
		CHECK(g.tag[i] == (uint64_t)(3 - i));
		snprintf(f, sizeof f, "ds1 from=job to=me type=rep re=%d "
		    "len=6\nran %d\n\n", 3 - i, 3 - i);
		CHECK_STR(g.frame[i], f);
		snprintf(f, sizeof f, "note %d\n", 3 - i);
		CHECK_STR(g.err[i], f);
	}
	pool_free(p);
	loop_free(l);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

static void
pool_failures(void)
{
	struct pool_opts o;
	struct loop *l = loop_new(64);
	struct proto_msg m;
	struct got g;
	struct pool *p;

	CHECK(l != NULL);
	memset(&o, 0, sizeof o);
	memset(&g, 0, sizeof g);
	o.cmd = "case $DS_ID in 1) echo oops >&2; exit 3;; 2) sleep 5;; "
	    "3) printf %065d 0;; 4) echo hello;; 5) echo hi;; esac";
	o.max_running = 4;
	o.max_waiting = 4;
	o.timeout_ms = 300;
	o.max_body = 64;
	p = pool_new(l, &o, on_reply, &g);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	/* A failure is an err with the status and the stderr as its body. */
	CHECK(msg("ds1 from=a to=s id=1 len=0\n\n", &m) == 0);
	CHECK(pool_start(p, &m, "s", 1) == 0);
	settle(l, &g, 1, 5000);
	CHECK(g.n == 1);
	CHECK_STR(g.frame[0], "ds1 from=s to=a type=err re=1 status=3 len=5\n"
	    "oops\n\n");
	CHECK_STR(g.err[0], "oops\n");
	/* A handler past its deadline is killed, and the body says so. */
	CHECK(msg("ds1 from=a to=s id=2 len=0\n\n", &m) == 0);
	CHECK(pool_start(p, &m, "s", 2) == 0);
	settle(l, &g, 2, 5000);
	CHECK(g.n == 2);
	CHECK_STR(g.frame[1], "ds1 from=s to=a type=err re=2 status=137 "
	    "reason=timeout len=47\ns: the handler ran past its deadline of "
	    "300 ms\n\n");
	/* Output over max_body is an err, reply-too-large. */
	CHECK(msg("ds1 from=a to=s id=3 len=0\n\n", &m) == 0);
	CHECK(pool_start(p, &m, "s", 3) == 0);
	settle(l, &g, 3, 5000);
	CHECK(g.n == 3);
	CHECK_STR(g.frame[2], "ds1 from=s to=a type=err re=3 status=0 "
	    "reason=reply-too-large len=0\n\n");
	/* pool_limit() lowers it for the handlers started from then on. */
	pool_limit(p, 4);
	CHECK(msg("ds1 from=a to=s id=4 len=0\n\n", &m) == 0);
	CHECK(pool_start(p, &m, "s", 4) == 0);
	CHECK(msg("ds1 from=a to=s id=5 len=0\n\n", &m) == 0);
	CHECK(pool_start(p, &m, "s", 5) == 0);
	settle(l, &g, 5, 5000);
	CHECK(g.n == 5);
	CHECK(strstr(g.frame[3], " re=4 status=0 reason=reply-too-large ") !=
	    NULL || strstr(g.frame[4], " re=4 status=0 "
	    "reason=reply-too-large ") != NULL);
	CHECK(strcmp(g.frame[3], "ds1 from=s to=a type=rep re=5 len=3\n"
	    "hi\n\n") == 0 || strcmp(g.frame[4], "ds1 from=s to=a type=rep "
	    "re=5 len=3\nhi\n\n") == 0);
	pool_free(p);
	loop_free(l);
}

static void
pool_drop_and_free(void)
{
	struct pool_opts o;
	struct loop *l = loop_new(64);
	struct proto_msg m;
	struct got g;
	struct pool *p;
	int i;

	CHECK(l != NULL);
	memset(&o, 0, sizeof o);
	memset(&g, 0, sizeof g);
	o.cmd = "sleep 30";
	o.max_running = 1;
	o.max_waiting = 3;
	o.max_wait_bytes = 1;
	o.timeout_ms = -1;
	o.max_body = 64;
	p = pool_new(l, &o, on_reply, &g);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(msg("ds1 from=a to=s id=1 len=0\n\n", &m) == 0);
	for (i = 0; i < 2; i++)
		CHECK(pool_start(p, &m, "s", 1) == 0);
	/* One frame always waits; a second passes max_wait_bytes. */
	CHECK(pool_full(p));
	CHECK(pool_start(p, &m, "s", 1) == -1 && errno == ENOBUFS);
	CHECK(pool_drop_waiting(p) == 1);
	CHECK(pool_waiting(p) == 0 && pool_running(p) == 1 && !pool_full(p));
	(void)loop_run_once(l, 50);
	/* Freeing kills what runs, without a callback. */
	pool_free(p);
	CHECK(g.n == 0);
	loop_free(l);
}

/*
 * client_opts.credit: a fake hub, forked, takes the hello on a Unix
 * socket, reports whether it carried credit=4, and answers it.
 */
static int
fake_hub(int lfd, const char *want)
{
	char buf[4096], e[160];
	struct proto_msg m;
	struct proto_str s;
	struct pollfd pfd;
	size_t len = 0;
	uint64_t off;
	int fd;
	const char *reply = "ds1 from=hub to=w type=hello re=1 max=1024 "
	    "queue=4096 len=0\n\n";

	pfd.fd = lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || (fd = accept(lfd, NULL, NULL)) < 0)
		return 2;
	for (;;) {
		ssize_t r;

		pfd.fd = fd;
		if (poll(&pfd, 1, 5000) != 1)
			return 3;
		r = read(fd, buf + len, sizeof buf - len);
		if (r <= 0)
			return 4;
		len += (size_t)r;
		if (proto_parse_datagram(buf, len, 1024, &m, &off, e,
		    sizeof e) == PROTO_MSG)
			break;
	}
	s = proto_lookup(&m, "credit");
	if (want == NULL ? s.p != NULL : s.p == NULL || s.n != strlen(want) ||
	    memcmp(s.p, want, s.n) != 0)
		return 5;
	if (io_write_all(fd, reply, strlen(reply)) < 0)
		return 6;
	/* Hold the connection until the client closes it. */
	(void)poll(&pfd, 1, 5000);
	return 0;
}

static void
credit_hello(unsigned credit, const char *want, const char *path)
{
	struct sockaddr_un sa;
	struct client_opts o;
	struct client c;
	char err[256], hubs[128];
	int lfd, st = -1;
	pid_t pid;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	(void)unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    listen(lfd, 1) == 0);
	pid = fork();
	if (pid == 0)
		_exit(fake_hub(lfd, want));
	close(lfd);
	snprintf(hubs, sizeof hubs, "unix:%s", path);
	memset(&o, 0, sizeof o);
	o.hubs = hubs;
	o.name = "w";
	o.keyfile = "";
	o.timeout_ms = 5000;
	o.credit = credit;
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	CHECK(client_connect(&c, err, sizeof err) == 0);
	client_free(&c);
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	(void)unlink(path);
}

static void
client_credit(void)
{
	char dir[] = "/tmp/ds-credit.XXXXXX", path[128], err[256];
	struct client_opts o;
	struct client c;

	memset(&o, 0, sizeof o);
	o.hubs = "127.0.0.1:1";
	o.name = "w";
	o.keyfile = "";
	o.credit = CLIENT_CREDIT_MAX + 1;
	CHECK(client_init(&c, &o, err, sizeof err) == -1 && errno == EINVAL);
	CHECK(strstr(err, "credit 1025") != NULL);
	o.credit = CLIENT_CREDIT_MAX;
	CHECK(client_init(&c, &o, err, sizeof err) == 0);
	client_free(&c);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/hub.sock", dir);
	credit_hello(4, "4", path);
	credit_hello(0, NULL, path);
	(void)rmdir(dir);
}

void
suite_pool(void)
{
	pool_basics();
	pool_concurrent();
	pool_failures();
	pool_drop_and_free();
	client_credit();
}
