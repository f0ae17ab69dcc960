#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../lib/hub.h"
#include "../../lib/loop.h"
#include "unit.h"

/*
 * The hub on a real loop, with clients on socketpairs.  Every wait is a
 * bounded number of loop rounds, so a broken hub fails checks instead of
 * hanging.
 */
#define ROUNDS 400

struct tc {
	int fd;
	char *buf;
	size_t len, cap;
	int eof;
};

static struct loop *L;
static struct hub *H;

static void
pump(int rounds)
{
	while (rounds-- > 0)
		loop_run_once(L, 5);
}

static struct tc *
tc_new(void)
{
	struct tc *t = calloc(1, sizeof *t);
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(hub_add(H, sv[0], sv[0], "test") == 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	t->fd = sv[1];
	t->cap = 1 << 16;
	t->buf = malloc(t->cap);
	return t;
}

static void
tc_free(struct tc *t)
{
	close(t->fd);
	free(t->buf);
	free(t);
}

/* Write all of p, letting the hub run while the socket is full. */
static void
tc_send(struct tc *t, const char *p, size_t n)
{
	int rounds = 0;

	while (n > 0 && rounds < 100 * ROUNDS) {
		ssize_t w = write(t->fd, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else {
			pump(1);
			rounds++;
		}
	}
	CHECK(n == 0);
}

static void
tc_say(struct tc *t, const char *s)
{
	tc_send(t, s, strlen(s));
}

static void
tc_read(struct tc *t)
{
	ssize_t n;

	for (;;) {
		if (t->cap - t->len < 4096) {
			t->cap *= 2;
			t->buf = realloc(t->buf, t->cap);
		}
		n = read(t->fd, t->buf + t->len, t->cap - t->len - 1);
		if (n > 0) {
			t->len += (size_t)n;
		} else {
			if (n == 0)
				t->eof = 1;
			break;
		}
	}
	t->buf[t->len] = '\0';
}

/* Pump until t has received s (or the rounds run out). */
static int
tc_wait(struct tc *t, const char *s)
{
	int i;

	for (i = 0; i < ROUNDS; i++) {
		tc_read(t);
		if (strstr(t->buf, s) != NULL)
			return 1;
		pump(1);
	}
	return 0;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static void
tc_clear(struct tc *t)
{
	t->len = 0;
	t->buf[0] = '\0';
}

static struct tc *
hello(const char *name)
{
	struct tc *t = tc_new();
	char s[200], want[200];

	snprintf(s, sizeof s, "ds1 from=%s to=* type=hello id=h\n\n", name);
	snprintf(want, sizeof want, "ds1 from=dsd to=%s type=hello re=h "
	    "max=1048576 queue=4096 len=0\n\n", name);
	tc_say(t, s);
	CHECK(tc_wait(t, want));
	CHECK_STR(t->buf, want);
	tc_clear(t);
	return t;
}

static void
test_routing(void)
{
	struct tc *a = hello("a"), *b = hello("b"), *w[3];
	int i;

	/* Unicast, byte for byte. */
	tc_say(a, "ds1 from=a to=b id=5 len=2\nhi\n");
	CHECK(tc_wait(b, "hi\n"));
	CHECK_STR(b->buf, "ds1 from=a to=b id=5 len=2\nhi\n");
	tc_clear(b);

	/* A group shares the load in turn. */
	for (i = 0; i < 3; i++)
		w[i] = hello("w");
	for (i = 0; i < 6; i++)
		tc_say(a, "ds1 from=a to=w len=1\nx\n");
	pump(20);
	for (i = 0; i < 3; i++) {
		tc_read(w[i]);
		CHECK(count(w[i]->buf, "ds1 from=a to=w len=1\nx\n") == 2);
		tc_clear(w[i]);
	}

	/* fan=all: every holder once, not the sender. */
	tc_say(w[0], "ds1 from=w to=w fan=all len=1\nf\n");
	pump(20);
	for (i = 0; i < 3; i++) {
		tc_read(w[i]);
		CHECK(count(w[i]->buf, "fan=all") == (i == 0 ? 0 : 1));
		tc_clear(w[i]);
	}

	/* to=*: every client but the sender. */
	tc_say(a, "ds1 from=a to=* len=1\nB\n");
	pump(20);
	tc_read(a);
	tc_read(b);
	CHECK(count(a->buf, "to=*") == 0);
	CHECK(count(b->buf, "ds1 from=a to=* len=1\nB\n") == 1);
	for (i = 0; i < 3; i++) {
		tc_read(w[i]);
		CHECK(count(w[i]->buf, "to=*") == 1);
		tc_clear(w[i]);
	}
	tc_clear(b);

	/* A sender that is not ours is refused, not delivered. */
	tc_say(a, "ds1 from=b to=b id=7 len=1\nS\n");
	CHECK(tc_wait(a, "reason=not-yours"));
	CHECK(strstr(a->buf, "ds1 from=dsd to=a type=err re=7 status=1 "
	    "reason=not-yours") != NULL);
	tc_read(b);
	CHECK(b->len == 0);
	tc_clear(a);

	/* No route, correlated by re. */
	tc_say(a, "ds1 from=a to=nobody id=8\n\n");
	CHECK(tc_wait(a, "no route to nobody\n"));
	CHECK_STR(a->buf, "ds1 from=dsd to=a type=err re=8 status=1 "
	    "reason=no-route len=19\nno route to nobody\n\n");
	tc_clear(a);

	/* Join a name, get its messages, leave it. */
	tc_say(b, "ds1 from=b to=dsd type=req id=j len=7\njoin g\n\n");
	CHECK(tc_wait(b, "ds1 from=dsd to=b type=rep re=j len=0\n\n"));
	tc_clear(b);
	tc_say(a, "ds1 from=a to=g len=1\ng\n");
	CHECK(tc_wait(b, "ds1 from=a to=g len=1\ng\n"));
	tc_clear(b);
	tc_say(b, "ds1 from=b to=dsd type=req id=l len=7\nleave b\n");
	CHECK(tc_wait(b, "reason=bad-argument"));
	tc_clear(b);

	/* Names, sorted, with their holders. */
	tc_say(a, "ds1 from=a to=dsd type=req id=n len=5\nnames\n");
	CHECK(tc_wait(a, "w\t3\n"));
	CHECK(strstr(a->buf, "len=28\na\t1\nb\t1\nfail\t1\ng\t1\nup\t1\nw\t3\n\n") != NULL);
	tc_clear(a);

	/* Privileged commands are refused off the control socket. */
	tc_say(a, "ds1 from=a to=dsd type=req id=k len=6\nkick b\n");
	CHECK(tc_wait(a, "reason=denied"));
	tc_clear(a);

	/* A bad frame closes its own connection only. */
	tc_say(w[2], "ds1 from=w to=a len=x\n\n");
	CHECK(tc_wait(w[2], "reason=bad-frame"));
	for (i = 0; i < ROUNDS && !w[2]->eof; i++) {
		pump(1);
		tc_read(w[2]);
	}
	CHECK(w[2]->eof);
	tc_say(a, "ds1 from=a to=b len=2\nok\n");
	CHECK(tc_wait(b, "ok\n"));

	tc_free(a);
	tc_free(b);
	for (i = 0; i < 3; i++)
		tc_free(w[i]);
	pump(10);
}

/*
 * A consumer that does not read holds its producer back; nothing is
 * lost, and the hub's queue for it stays near its bound.
 */
static void
test_backpressure(void)
{
	struct tc *p = hello("p"), *c = hello("c"), *x = hello("x"),
	    *y = hello("y");
	static char frame[1100];
	int i, n, got = 0, ok = 1;
	size_t total = 0;
	char *s;

	for (i = 0; i < 2000; i++) {
		n = snprintf(frame, sizeof frame, "ds1 from=p to=c id=%d "
		    "len=1000\n", i);
		memset(frame + n, 'a' + i % 26, 1000);
		frame[n + 1000] = '\n';
		total += (size_t)n + 1001;
		/* A bystander pair goes on meanwhile. */
		if (i % 100 == 0)
			tc_say(x, "ds1 from=x to=y len=1\nz\n");
		{
			const char *q = frame;
			size_t left = (size_t)n + 1001;
			int r = 0;

			while (left > 0 && r < ROUNDS) {
				ssize_t w = write(p->fd, q, left);

				if (w > 0) {
					q += w;
					left -= (size_t)w;
				} else {
					/* Stuck: read the consumer a bit. */
					pump(1);
					if (++r % 8 == 0)
						tc_read(c);
				}
			}
			if (left != 0)
				ok = 0;
		}
	}
	CHECK(ok);
	/* Wait for every byte, counting bytes, not frames: cheap per round. */
	for (i = 0; i < 10 * ROUNDS; i++) {
		tc_read(c);
		if (c->len >= total)
			break;
		pump(1);
	}
	CHECK(count(c->buf, "len=1000\n") == 2000);
	/* In order. */
	for (s = c->buf, i = 0; (s = strstr(s, "id=")) != NULL; i++) {
		if (atoi(s + 3) != i)
			break;
		s += 3;
		got++;
	}
	CHECK(got == 2000);
	CHECK(tc_wait(y, "z\n"));
	CHECK(count(y->buf, "ds1 from=x to=y len=1\nz\n") == 20);
	tc_free(p);
	tc_free(c);
	tc_free(x);
	tc_free(y);
	pump(10);
}

static void
test_service(void)
{
	struct tc *a = hello("a");
	int i;

	tc_say(a, "ds1 from=a to=up id=1 len=4\nabc\n\n");
	for (i = 0; i < 50 && strstr(a->buf, "ABC") == NULL; i++) {
		tc_wait(a, "ABC\n");
	}
	CHECK_STR(a->buf, "ds1 from=up to=a type=rep re=1 len=4\nABC\n\n");
	tc_clear(a);
	tc_say(a, "ds1 from=a to=fail id=2\n\n");
	for (i = 0; i < 50 && strstr(a->buf, "oops") == NULL; i++)
		tc_wait(a, "oops");
	CHECK_STR(a->buf, "ds1 from=fail to=a type=err re=2 status=3 "
	    "len=5\noops\n\n");
	tc_free(a);
	pump(10);
}

void
suite_hub(void)
{
	struct hub_config cfg;
	char err[200];

	memset(&cfg, 0, sizeof cfg);
	cfg.max_body = 1 << 20;
	cfg.queue = 4096;
	L = loop_new(256);
	H = hub_new(L, &cfg, err, sizeof err);
	CHECK(H != NULL);
	if (H == NULL)
		return;
	CHECK(hub_service(H, "up", "tr a-z A-Z") == 0);
	CHECK(hub_service(H, "fail", "echo oops >&2; exit 3") == 0);
	CHECK(hub_service(H, "up", "cat") == -1 && errno == EEXIST);
	CHECK(hub_service(H, "dsd", "cat") == -1 && errno == EINVAL);
	test_routing();
	test_backpressure();
	test_service();
	hub_free(H);
	loop_free(L);
}
