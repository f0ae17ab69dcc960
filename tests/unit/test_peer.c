#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/addr.h"
#include "../../lib/buf.h"
#include "../../lib/loop.h"
#include "../../lib/peer.h"
#include "../../lib/proto.h"
#include "../../lib/udp.h"
#include "unit.h"

/*
 * Real members on loopback sockets, all on one loop in this process,
 * with fast timings.  Each records what it is handed.
 */
#define NP 4

struct member {
	struct peer *p;
	int fd;
	char addr[UDP_ADDR_MAX + 1];
	struct buf got;           /* frames delivered, concatenated */
	int ndelivered, nrefused, nevents;
	char reason[32], why[200];
};

static struct loop *L;
static struct member M[NP];

static void
deliver(void *ctx, const char *frame, size_t len)
{
	struct member *m = ctx;

	(void)buf_append(&m->got, frame, len);
	m->ndelivered++;
}

static void
refused(void *ctx, const char *to, const char *id, size_t id_len,
    const char *reason, const char *why)
{
	struct member *m = ctx;

	(void)to;
	(void)id;
	(void)id_len;
	m->nrefused++;
	snprintf(m->reason, sizeof m->reason, "%s", reason);
	snprintf(m->why, sizeof m->why, "%s", why);
}

static void
event(void *ctx, enum swim_event ev, const struct swim_member *sm)
{
	struct member *m = ctx;

	(void)ev;
	(void)sm;
	m->nevents++;
}

static int
start(int i, const char *name, int hold_ms)
{
	struct peer_config c;
	struct addr a;
	char err[200];
	struct member *m = &M[i];

	memset(m, 0, sizeof *m);
	buf_init(&m->got, 1 << 20);
	if (addr_parse("127.0.0.1:0", &a, err, sizeof err) < 0)
		return -1;
	m->fd = udp_open(&a, err, sizeof err);
	if (m->fd < 0 || udp_local(m->fd, m->addr, sizeof m->addr) < 0)
		return -1;
	peer_config_init(&c);
	c.swim.name = name;
	c.swim.addr = m->addr;
	c.swim.group = "t";
	c.swim.seed = 42 + (uint64_t)i;
	c.swim.probe_interval = 50;
	c.swim.probe_timeout = 20;
	c.swim.gossip_interval = 20;
	c.swim.join_retry = 50;
	c.fd = m->fd;
	c.hold_ms = hold_ms;
	c.deliver = deliver;
	c.refuse = refused;
	c.event = event;
	c.ctx = m;
	m->p = peer_new(L, &c, err, sizeof err);
	return m->p != NULL ? 0 : -1;
}

static void
stop(int i)
{
	peer_free(M[i].p);
	M[i].p = NULL;
	close(M[i].fd);
	buf_free(&M[i].got);
}

/* Run the loop until cond(arg) holds, for at most ms. */
static int
run_until(int (*cond)(void *), void *arg, int ms)
{
	int64_t end = loop_now(L) + ms;

	while (!cond(arg)) {
		if (loop_now(L) >= end)
			return 0;
		(void)loop_run_once(L, 10);
	}
	return 1;
}

static int
all_see(void *arg)
{
	size_t n = *(size_t *)arg;
	int i;

	for (i = 0; i < NP; i++)
		if (M[i].p != NULL && swim_live(peer_swim(M[i].p)) != n)
			return 0;
	return 1;
}

static int
delivered(void *arg)
{
	struct member *m = arg;

	return m->ndelivered > 0;
}

static int
refusal(void *arg)
{
	struct member *m = arg;

	return m->nrefused > 0;
}

static int
acked(void *arg)
{
	struct member *m = arg;

	return peer_stats(m->p)->msgs_acked > 0;
}

/* Send the frame text s from member i. */
static int
send_text(int i, const char *s, int hold, const char **reason,
    struct buf *why)
{
	struct proto_msg msg;
	uint64_t off;
	char err[160];

	if (proto_parse_datagram(s, strlen(s), 1 << 20, &msg, &off, err,
	    sizeof err) != PROTO_MSG)
		return -9;
	return peer_send(M[i].p, &msg, hold, reason, why);
}

static int
got_is(int i, const char *want)
{
	int ok = buf_len(&M[i].got) == strlen(want) &&
	    memcmp(buf_head(&M[i].got), want, strlen(want)) == 0;

	if (!ok)
		fprintf(stderr, "peer: got '%.*s'\n", (int)buf_len(&M[i].got),
		    buf_head(&M[i].got));
	buf_clear(&M[i].got);
	M[i].ndelivered = 0;
	return ok;
}

static void
messages(void)
{
	struct buf why;
	const char *reason = NULL;
	char big[2000], frame[2100];
	size_t three = 3;
	int i;

	buf_init(&why, 4096);
	CHECK(send_text(0, "ds1 from=x to=b x=1 id=7 len=2\nhi\n", 1, &reason,
	    &why) == 1);
	CHECK(run_until(delivered, &M[1], 2000));
	/* from is the member's own name; g is stripped; the rest kept. */
	CHECK(got_is(1, "ds1 from=a to=b x=1 id=7 len=2\nhi\n"));

	CHECK(send_text(0, "ds1 from=a to=* len=3\nall\n", 1, &reason,
	    &why) == 1);
	CHECK(run_until(delivered, &M[1], 2000) &&
	    run_until(delivered, &M[2], 2000));
	CHECK(got_is(1, "ds1 from=a to=* len=3\nall\n"));
	CHECK(got_is(2, "ds1 from=a to=* len=3\nall\n"));
	CHECK(M[0].ndelivered == 0);

	CHECK(send_text(0, "ds1 from=a to=a len=2\nme\n", 1, &reason,
	    &why) == 0);
	CHECK(got_is(0, "ds1 from=a to=a len=2\nme\n"));

	/* Reliable: acknowledged, delivered once. */
	CHECK(send_text(0, "ds1 from=a to=c ack=1 len=1\nr\n", 1, &reason,
	    &why) == 1);
	CHECK(run_until(acked, &M[0], 2000));
	CHECK(got_is(2, "ds1 from=a to=c ack=1 len=1\nr\n"));
	CHECK(peer_pending(M[0].p) == 0);

	/* Refused at once: the transport's fields and types, and size. */
	CHECK(send_text(0, "ds1 from=a to=b g=x len=0\n\n", 1, &reason,
	    &why) == -1 && strcmp(reason, "bad-frame") == 0);
	CHECK(send_text(0, "ds1 from=a to=b seq=1 len=0\n\n", 1, &reason,
	    &why) == -1 && strcmp(reason, "bad-frame") == 0);
	CHECK(send_text(0, "ds1 from=a to=b type=swim-ping len=0\n\n", 1,
	    &reason, &why) == -1 && strcmp(reason, "bad-frame") == 0);
	CHECK(send_text(0, "ds1 from=a to=b type=peer-ack len=0\n\n", 1,
	    &reason, &why) == -1 && strcmp(reason, "bad-frame") == 0);
	memset(big, 'x', sizeof big);
	snprintf(frame, sizeof frame, "ds1 from=a to=b len=1390\n%.1390s\n",
	    big);
	CHECK(send_text(0, frame, 1, &reason, &why) == -1 &&
	    strcmp(reason, "too-big") == 0);
	buf_append(&why, "", 1);
	CHECK(strstr(buf_head(&why), "budget of 1400") != NULL);
	/* An unknown name, without holding. */
	CHECK(send_text(0, "ds1 from=a to=zz len=0\n\n", 0, &reason,
	    &why) == -1 && strcmp(reason, "no-route") == 0);

	/* Held for a name that joins later, then sent. */
	CHECK(send_text(0, "ds1 from=a to=d len=4\nlate\n", 1, &reason,
	    &why) == 1);
	CHECK(peer_pending(M[0].p) > 0);
	CHECK(start(3, "d", 5000) == 0);
	CHECK(peer_join(M[3].p, M[0].addr) == 0);
	CHECK(run_until(delivered, &M[3], 3000));
	CHECK(got_is(3, "ds1 from=a to=d len=4\nlate\n"));
	CHECK(peer_pending(M[0].p) == 0);
	three = 4;
	CHECK(run_until(all_see, &three, 3000));

	/* Held too long: refused through the callback. */
	M[1].nrefused = 0;
	CHECK(send_text(1, "ds1 from=b to=nobody id=9 len=0\n\n", 1, &reason,
	    &why) == 1);
	CHECK(run_until(refusal, &M[1], 2000));
	CHECK(strcmp(M[1].reason, "no-route") == 0 &&
	    strstr(M[1].why, "nobody") != NULL);

	/* Reliable to a member that dies: given up, never silently. */
	stop(3);
	M[0].nrefused = 0;
	CHECK(send_text(0, "ds1 from=a to=d ack=1 len=1\nx\n", 1, &reason,
	    &why) == 1);
	CHECK(run_until(refusal, &M[0], 8000));
	CHECK(strcmp(M[0].reason, "no-ack") == 0);
	CHECK(peer_stats(M[0].p)->msgs_failed == 1);
	/* And a dead member is refused at once. */
	CHECK(send_text(0, "ds1 from=a to=d len=1\nx\n", 1, &reason,
	    &why) == -1 && strcmp(reason, "no-route") == 0);
	for (i = 0; i < 3; i++)
		CHECK(M[i].nevents >= 3);
	buf_free(&why);
}

/* A copy sent twice by hand is acknowledged twice, delivered once. */
static void
duplicates(void)
{
	struct udp_addr to, src;
	struct addr a;
	char err[200], buf[512];
	const char *dg = "ds1 from=zed to=b seq=77 g=t len=1\nq\n";
	int fd, acks = 0, tries;

	CHECK(addr_parse("127.0.0.1:0", &a, err, sizeof err) == 0);
	fd = udp_open(&a, err, sizeof err);
	CHECK(fd >= 0);
	CHECK(udp_resolve(M[1].addr, 1, &to, err, sizeof err) == 0);
	CHECK(udp_send(fd, &to, dg, strlen(dg)) == 0);
	CHECK(udp_send(fd, &to, dg, strlen(dg)) == 0);
	/* Another group's copy is ignored altogether. */
	CHECK(udp_send(fd, &to, "ds1 from=zed to=b g=u len=1\nw\n", 30) == 0);
	for (tries = 0; tries < 200 && acks < 2; tries++) {
		ssize_t r;

		(void)loop_run_once(L, 5);
		while ((r = udp_recv(fd, buf, sizeof buf - 1, &src)) > 0) {
			buf[r] = '\0';
			if (strstr(buf, "type=peer-ack re=77") != NULL)
				acks++;
		}
	}
	CHECK(acks == 2);
	CHECK(got_is(1, "ds1 from=zed to=b len=1\nq\n"));
	CHECK(peer_stats(M[1].p)->msgs_dup == 1);
	close(fd);
}

void
suite_peer(void)
{
	size_t three = 3;
	int i;

	L = loop_new(64);
	CHECK(L != NULL);
	CHECK(start(0, "a", 5000) == 0 && start(1, "b", 300) == 0 &&
	    start(2, "c", 5000) == 0);
	CHECK(peer_join(M[1].p, M[0].addr) == 0);
	CHECK(peer_join(M[2].p, M[0].addr) == 0);
	CHECK(run_until(all_see, &three, 5000));
	duplicates();
	messages();
	for (i = 0; i < 3; i++)
		stop(i);
	loop_free(L);
}
