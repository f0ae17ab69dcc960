#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/proto.h"
#include "../../lib/swim.h"
#include "unit.h"

/*
 * The SWIM module on a simulated network: N nodes, a fake clock that jumps
 * to the next thing due (a datagram's arrival or a node's deadline), and
 * datagrams in a queue ordered by arrival time, with a random latency, a
 * seeded loss rate, per-node extra delay, pauses (a SIGSTOP: datagrams
 * wait until the node runs again) and partitions.  Everything is seeded,
 * so every run is the same.  SWIM_VERBOSE=1 prints what was measured.
 */
#define MAXN 64
#define NEVER UINT64_MAX

struct dg {
	uint64_t at, serial;
	int src, dst;
	size_t len;
	char *data;
};

struct node {
	struct swim *s;
	char name[SWIM_NAME_MAX + 1];
	char addr[SWIM_ADDR_MAX + 1];
	int up;
	int part;                 /* a partition: only same-part traffic */
	uint64_t out_delay;       /* added to what it sends */
	uint64_t paused_until;
	uint64_t deadline;
	uint64_t sent;            /* datagrams */
	unsigned lines_about;     /* lines about S.watch, outside syncs */
};

static struct {
	int n;
	struct node node[MAXN];
	uint64_t now, rng, serial;
	unsigned loss;            /* per 10000 */
	unsigned lat_min, lat_max;
	size_t budget;            /* the most any datagram may be */
	size_t max_seen;          /* the longest datagram sent */
	uint64_t over_budget, unparsable, delivered, stuck;
	int watch;                /* count lines about this node, or -1 */
	/* events: [observer][subject] */
	uint64_t fail_at[MAXN][MAXN];
	unsigned fails[MAXN][MAXN], joins[MAXN][MAXN], leaves[MAXN][MAXN];
	unsigned recovers[MAXN][MAXN];
	struct dg *heap;
	size_t nheap, capheap;
	/* a capture of valid datagrams, for the hostile-input test */
	char *cap[256];
	size_t caplen[256], ncap;
	void (*tweak)(struct swim_config *, int);
	int long_ids;
} S;

static int verbose;

static uint64_t
srnd(void)
{
	uint64_t z = (S.rng += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* ---- the datagram queue: a binary heap on (at, serial) ---- */

static int
dg_before(const struct dg *a, const struct dg *b)
{
	return a->at != b->at ? a->at < b->at : a->serial < b->serial;
}

static void
heap_push(struct dg g)
{
	size_t i;

	if (S.nheap == S.capheap) {
		S.capheap = S.capheap ? 2 * S.capheap : 1024;
		S.heap = realloc(S.heap, S.capheap * sizeof *S.heap);
	}
	g.serial = S.serial++;
	i = S.nheap++;
	while (i > 0 && dg_before(&g, &S.heap[(i - 1) / 2])) {
		S.heap[i] = S.heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	S.heap[i] = g;
}

static struct dg
heap_pop(void)
{
	struct dg top = S.heap[0], last = S.heap[--S.nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= S.nheap)
			break;
		if (c + 1 < S.nheap && dg_before(&S.heap[c + 1], &S.heap[c]))
			c++;
		if (!dg_before(&S.heap[c], &last))
			break;
		S.heap[i] = S.heap[c];
		i = c;
	}
	if (S.nheap > 0)
		S.heap[i] = last;
	return top;
}

/* ---- the nodes ---- */

static int
node_by_addr(const char *addr)
{
	int i;

	for (i = 0; i < S.n; i++)
		if (strcmp(S.node[i].addr, addr) == 0)
			return i;
	return -1;
}

static int
node_by_name(const char *name)
{
	int i;

	for (i = 0; i < S.n; i++)
		if (strcmp(S.node[i].name, name) == 0)
			return i;
	return -1;
}

/* Count the lines about the watched node in a datagram (not a sync). */
static void
count_lines(struct node *from, const struct proto_msg *m)
{
	const char *p = m->body, *end = m->body + m->body_len;
	const char *name = S.node[S.watch].name;
	size_t nl = strlen(name);

	if (proto_str_eq(proto_type(m), "swim-sync"))
		return;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));

		if (e == NULL)
			break;
		if (e - p > (long)nl + 2 && memcmp(p + 2, name, nl) == 0 &&
		    p[2 + nl] == ' ')
			from->lines_about++;
		p = e + 1;
	}
}

static void
sim_send(void *ctx, const char *addr, const void *buf, size_t len)
{
	struct node *from = ctx;
	int src = (int)(from - S.node), dst = node_by_addr(addr);
	struct proto_msg m;
	uint64_t off;
	char err[160];
	struct dg g;

	from->sent++;
	if (len > S.max_seen)
		S.max_seen = len;
	if (len > S.budget)
		S.over_budget++;
	if (proto_parse_datagram(buf, len, 1 << 20, &m, &off, err,
	    sizeof err) != PROTO_MSG) {
		S.unparsable++;
		return;
	}
	if (S.watch >= 0)
		count_lines(from, &m);
	if (S.ncap < 256) {
		S.cap[S.ncap] = malloc(len);
		memcpy(S.cap[S.ncap], buf, len);
		S.caplen[S.ncap++] = len;
	}
	if (dst < 0 || S.node[dst].part != from->part ||
	    srnd() % 10000 < S.loss)
		return;
	g.at = S.now + S.lat_min + srnd() % (S.lat_max - S.lat_min + 1) +
	    from->out_delay;
	g.src = src;
	g.dst = dst;
	g.len = len;
	g.data = malloc(len);
	memcpy(g.data, buf, len);
	heap_push(g);
}

static void
sim_event(void *ctx, enum swim_event ev, const struct swim_member *m)
{
	int obs = (int)((struct node *)ctx - S.node);
	int sub = node_by_name(m->name);

	if (sub < 0)
		return;
	switch (ev) {
	case SWIM_EV_FAIL:
		if (S.fails[obs][sub]++ == 0)
			S.fail_at[obs][sub] = S.now;
		break;
	case SWIM_EV_JOIN:
		S.joins[obs][sub]++;
		break;
	case SWIM_EV_LEAVE:
		S.leaves[obs][sub]++;
		break;
	case SWIM_EV_RECOVER:
		S.recovers[obs][sub]++;
		break;
	case SWIM_EV_UPDATE:
		break;
	}
}

static void
base_config(struct swim_config *c, int i)
{
	swim_config_init(c);
	c->name = S.node[i].name;
	c->addr = S.node[i].addr;
	c->group = "blue";
	c->seed = UINT64_C(0x5eed0000) + (uint64_t)i * 7919 + S.rng;
	c->send = sim_send;
	c->event = sim_event;
	c->ctx = &S.node[i];
}

static void
refresh(struct node *nd)
{
	nd->deadline = swim_next_deadline(nd->s);
}

static void
node_start(int i, int join)
{
	struct node *nd = &S.node[i];
	struct swim_config c;
	char err[200];

	base_config(&c, i);
	if (S.tweak != NULL)
		S.tweak(&c, i);
	nd->s = swim_new(&c, S.now, err, sizeof err);
	CHECK(nd->s != NULL);
	if (nd->s == NULL) {
		fprintf(stderr, "swim_new: %s\n", err);
		exit(1);
	}
	nd->up = 1;
	nd->paused_until = 0;
	if (join)
		CHECK(swim_join(nd->s, S.now, S.node[0].addr) == 0);
	refresh(nd);
}

static void
node_kill(int i)
{
	swim_free(S.node[i].s);
	S.node[i].s = NULL;
	S.node[i].up = 0;
}

static void
sim_init(int n, uint64_t seed, int long_ids)
{
	int i;

	memset(&S, 0, sizeof S);
	S.n = n;
	S.rng = seed;
	S.lat_min = 1;
	S.lat_max = 3;
	S.budget = SWIM_BUDGET_DEFAULT;
	S.watch = -1;
	S.long_ids = long_ids;
	S.now = 1000;
	for (i = 0; i < n; i++) {
		struct node *nd = &S.node[i];

		if (long_ids) {
			/* The longest names and addresses there are. */
			memset(nd->name, 'x', SWIM_NAME_MAX);
			nd->name[SWIM_NAME_MAX] = '\0';
			memcpy(nd->name, "n", 1);
			nd->name[1] = (char)('0' + i / 10);
			nd->name[2] = (char)('0' + i % 10);
			memset(nd->addr, '0', SWIM_ADDR_MAX);
			nd->addr[SWIM_ADDR_MAX] = '\0';
			memcpy(nd->addr, "[fd00::", 7);
			nd->addr[7] = (char)('0' + i / 10);
			nd->addr[8] = (char)('0' + i % 10);
			memcpy(nd->addr + SWIM_ADDR_MAX - 6, "]:7946", 6);
		} else {
			snprintf(nd->name, sizeof nd->name, "n%02d", i);
			snprintf(nd->addr, sizeof nd->addr, "10.0.0.%d:7946",
			    i + 1);
		}
	}
}

/* Start every node at once, all joining through node 0. */
static void
sim_start_all(void)
{
	int i;

	for (i = 0; i < S.n; i++)
		node_start(i, i > 0);
}

static void
sim_free(void)
{
	size_t i;
	int k;

	for (k = 0; k < S.n; k++)
		if (S.node[k].up)
			node_kill(k);
	for (i = 0; i < S.nheap; i++)
		free(S.heap[i].data);
	free(S.heap);
	for (i = 0; i < S.ncap; i++)
		free(S.cap[i]);
	S.heap = NULL;
	S.nheap = S.capheap = S.ncap = 0;
}

static void
run_until(uint64_t until)
{
	while (S.now < until) {
		uint64_t next = until;
		int i;

		if (S.nheap > 0 && S.heap[0].at < next)
			next = S.heap[0].at;
		for (i = 0; i < S.n; i++) {
			struct node *nd = &S.node[i];
			uint64_t d;

			if (!nd->up)
				continue;
			d = nd->deadline > nd->paused_until ? nd->deadline :
			    nd->paused_until;
			if (d < next)
				next = d;
		}
		if (next > S.now)
			S.now = next;
		while (S.nheap > 0 && S.heap[0].at <= S.now) {
			struct dg g = heap_pop();
			struct node *nd = &S.node[g.dst];

			if (nd->up && nd->paused_until > S.now) {
				g.at = nd->paused_until;
				heap_push(g);
				continue;
			}
			if (nd->up) {
				S.delivered++;
				swim_recv(nd->s, S.now, S.node[g.src].addr,
				    g.data, g.len);
				refresh(nd);
			}
			free(g.data);
		}
		for (i = 0; i < S.n; i++) {
			struct node *nd = &S.node[i];

			if (!nd->up || nd->paused_until > S.now ||
			    nd->deadline > S.now)
				continue;
			swim_tick(nd->s, S.now);
			refresh(nd);
			if (nd->deadline <= S.now) {
				S.stuck++;     /* a deadline that does not move */
				nd->deadline = S.now + 1;
			}
		}
	}
}

static int
sees(int i, int j, enum swim_state st)
{
	struct swim_member m;

	return swim_find(S.node[i].s, S.node[j].name, &m) == 0 &&
	    m.state == st;
}

/* Every running node sees exactly the running nodes as alive. */
static int
converged(void)
{
	size_t up = 0;
	int i, j;

	for (i = 0; i < S.n; i++)
		up += S.node[i].up;
	for (i = 0; i < S.n; i++) {
		if (!S.node[i].up)
			continue;
		if (swim_live(S.node[i].s) != up)
			return 0;
		for (j = 0; j < S.n; j++)
			if (S.node[j].up && !sees(i, j, SWIM_ALIVE))
				return 0;
	}
	return 1;
}

/* Every running node sees j in state st. */
static int
all_see(int j, enum swim_state st)
{
	int i;

	for (i = 0; i < S.n; i++)
		if (S.node[i].up && i != j && !sees(i, j, st))
			return 0;
	return 1;
}

/* Run in steps until cond holds; the time it took, or NEVER. */
static uint64_t
run_until_cond(int (*cond)(void), uint64_t limit)
{
	uint64_t start = S.now;

	while (S.now - start < limit) {
		if (cond())
			return S.now - start;
		run_until(S.now + 10);
	}
	return cond() ? S.now - start : NEVER;
}

static unsigned
total_fails_of(int sub)
{
	unsigned t = 0;
	int i;

	for (i = 0; i < S.n; i++)
		t += S.fails[i][sub];
	return t;
}

static unsigned
total_fails(void)
{
	unsigned t = 0;
	int j;

	for (j = 0; j < S.n; j++)
		t += total_fails_of(j);
	return t;
}

static uint64_t
sum_stat(size_t off)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < S.n; i++)
		if (S.node[i].up)
			t += *(const uint64_t *)(const void *)
			    ((const char *)swim_stats(S.node[i].s) + off);
	return t;
}
#define SUM(field) sum_stat(offsetof(struct swim_stats, field))

/* ---- the arithmetic ---- */

static void
test_arithmetic(void)
{
	struct swim_config c;

	swim_config_init(&c);
	/*
	 * The defaults: one probe a second, min = 1 x floor(1000 log10 16)
	 * x 1000 / 1000, max six times that, down to min at 3 confirmations.
	 */
	CHECK(swim_suspicion_min(&c, 16) == 1204);
	CHECK(swim_suspicion_timeout(&c, 16, 0) == 7224);
	CHECK(swim_suspicion_timeout(&c, 16, 1) == 4214);   /* ln2/ln4 = .5 */
	CHECK(swim_suspicion_timeout(&c, 16, 2) == 2453);
	CHECK(swim_suspicion_timeout(&c, 16, 3) == 1204);
	CHECK(swim_suspicion_timeout(&c, 64, 3) == 1806);
	CHECK(swim_suspicion_timeout(&c, 4, 0) == 1000);    /* N - 2 < k */
	/* memberlist's arrangement, k = suspicion_mult - 2, on 200 ms. */
	c.probe_interval = 200;
	c.suspicion_mult = 4;
	c.suspicion_confirm = 2;
	/* min = 4 x floor(1000 log10 16) x 200 / 1000 = 4 x 1204 x 0.2 */
	CHECK(swim_suspicion_min(&c, 16) == 963);
	CHECK(swim_suspicion_timeout(&c, 16, 0) == 5778);   /* 6 x min */
	CHECK(swim_suspicion_timeout(&c, 16, 1) == 2740);
	CHECK(swim_suspicion_timeout(&c, 16, 2) == 963);    /* k = 2 */
	CHECK(swim_suspicion_timeout(&c, 16, 9) == 963);
	CHECK(swim_suspicion_timeout(&c, 64, 0) == 8664);
	CHECK(swim_suspicion_timeout(&c, 64, 1) == 4108);
	CHECK(swim_suspicion_timeout(&c, 64, 2) == 1444);
	CHECK(swim_suspicion_timeout(&c, 100, 0) == 9600);  /* log10 exact */
	CHECK(swim_suspicion_timeout(&c, 100, 1) == 4552);
	CHECK(swim_suspicion_timeout(&c, 1000, 1) == 6828);
	CHECK(swim_suspicion_timeout(&c, 10, 0) == 4800);   /* scale 1 */
	CHECK(swim_suspicion_timeout(&c, 1, 0) == 800);     /* k = 0 */
	CHECK(swim_suspicion_timeout(&c, 3, 0) == 800);     /* N - 2 < k */
	CHECK(swim_suspicion_timeout(&c, 4, 0) == 4800);
	CHECK(swim_suspicion_timeout(&c, 4, 1) == 2276);
	c.suspicion_mult = 5;
	c.suspicion_confirm = 3;
	CHECK(swim_suspicion_timeout(&c, 16, 0) == 7224);
	CHECK(swim_suspicion_timeout(&c, 16, 1) == 4214);   /* ln2/ln4 = .5 */
	CHECK(swim_suspicion_timeout(&c, 16, 2) == 2453);
	CHECK(swim_suspicion_timeout(&c, 16, 3) == 1204);
	/* serf's LAN profile: 1 s periods */
	c.suspicion_mult = 4;
	c.suspicion_confirm = 2;
	c.probe_interval = 1000;
	CHECK(swim_suspicion_timeout(&c, 16, 2) == 4816);
	CHECK(swim_suspicion_timeout(&c, 16, 0) == 28896);
	CHECK(swim_suspicion_timeout(&c, 64, 2) == 7224);

	/* lambda x ceil(log10(N + 1)) */
	CHECK(swim_retransmit_limit(&c, 1) == 4);
	CHECK(swim_retransmit_limit(&c, 9) == 4);
	CHECK(swim_retransmit_limit(&c, 10) == 8);
	CHECK(swim_retransmit_limit(&c, 16) == 8);
	CHECK(swim_retransmit_limit(&c, 64) == 8);
	CHECK(swim_retransmit_limit(&c, 99) == 8);
	CHECK(swim_retransmit_limit(&c, 100) == 12);
	c.retransmit_mult = 3;
	CHECK(swim_retransmit_limit(&c, 1000) == 12);

	CHECK_STR(swim_state_name(SWIM_SUSPECT), "suspect");
	CHECK_STR(swim_event_name(SWIM_EV_RECOVER), "recover");
}

static void
dummy_send(void *ctx, const char *addr, const void *buf, size_t len)
{
	(void)ctx;
	(void)addr;
	(void)buf;
	(void)len;
}

static void
test_config(void)
{
	struct swim_config c;
	struct swim *s;
	char err[200];

	swim_config_init(&c);
	c.name = "a";
	c.addr = "127.0.0.1:1";
	c.send = dummy_send;
	s = swim_new(&c, 0, err, sizeof err);
	CHECK(s != NULL);
	CHECK(swim_count(s) == 1 && swim_live(s) == 1);
	CHECK(swim_join(s, 0, "has space:1") == -1);
	swim_free(s);

	c.name = "a b";
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	CHECK(strstr(err, "name") != NULL);
	c.name = "a";
	c.group = "x=y";
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	c.group = NULL;
	c.budget = 1000;
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	CHECK(strstr(err, "budget") != NULL);
	c.budget = 1400;
	c.reserve = 400;
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	c.reserve = 0;
	c.probe_timeout = 600;
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	c.probe_timeout = 100;
	c.addr = "";
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	c.addr = "x:1";
	c.suspicion_mult = 0;
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	c.suspicion_mult = 4;
	c.suspicion_confirm = 15;
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	CHECK(strstr(err, "suspicion_confirm") != NULL);
	c.suspicion_confirm = 3;
	c.left_reap = 0;
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
	c.left_reap = 1000;
	c.send = NULL;
	CHECK(swim_new(&c, 0, err, sizeof err) == NULL);
}

/* ---- the merge rules, one datagram at a time ---- */

static struct {
	int n;
	enum swim_event ev[16], last_ev;
	char name[16][SWIM_NAME_MAX + 1];
	size_t sent;
	char last[2048];
} R;

static void
rec_send(void *ctx, const char *addr, const void *buf, size_t len)
{
	(void)ctx;
	(void)addr;
	R.sent++;
	if (len < sizeof R.last) {
		memcpy(R.last, buf, len);
		R.last[len] = '\0';
	}
}

static void
rec_event(void *ctx, enum swim_event ev, const struct swim_member *m)
{
	(void)ctx;
	R.last_ev = ev;
	if (R.n < 16) {
		R.ev[R.n] = ev;
		snprintf(R.name[R.n++], SWIM_NAME_MAX + 1, "%s", m->name);
	}
}

/* A datagram from one member with one body. */
static int
say(struct swim *s, uint64_t now, const char *from, const char *type,
    const char *extra, const char *body, const char *from_addr)
{
	char d[2048];
	int n = snprintf(d, sizeof d, "ds1 from=%s to=me type=%s g=blue%s "
	    "len=%zu\n%s\n", from, type, extra, strlen(body), body);

	return swim_recv(s, now, from_addr, d, (size_t)n);
}
#define GOSSIP(body) \
	say(s, now, "n01", "swim-gossip", "", (body), "10.1.1.1:1")

static int
state_of(struct swim *s, const char *name, uint64_t *inc, char *addr)
{
	struct swim_member m;

	if (swim_find(s, name, &m) != 0)
		return -1;
	if (inc != NULL)
		*inc = m.inc;
	if (addr != NULL)
		strcpy(addr, m.addr);
	return (int)m.state;
}

static void
test_merge(void)
{
	struct swim_config c;
	struct swim *s;
	char err[200], addr[SWIM_ADDR_MAX + 1], body[2048];
	uint64_t inc = 0, now = 5000, t;
	size_t i, n;

	memset(&R, 0, sizeof R);
	swim_config_init(&c);
	c.name = "me";
	c.addr = "10.0.0.1:1";
	c.group = "blue";
	c.send = rec_send;
	c.event = rec_event;
	c.gossip_nodes = 0;       /* quiet: only what the test asks for */
	c.sync_interval = 0;
	/* The timer arithmetic below is memberlist's, on 200 ms periods. */
	c.probe_interval = 200;
	c.suspicion_mult = 4;
	c.suspicion_confirm = 2;
	s = swim_new(&c, now, err, sizeof err);
	CHECK(s != NULL);

	CHECK(GOSSIP("a x 1 A:1\n") == SWIM_OK);
	CHECK(state_of(s, "x", &inc, addr) == SWIM_ALIVE && inc == 1);
	CHECK(R.n == 1 && R.ev[0] == SWIM_EV_JOIN);
	CHECK(GOSSIP("s x 1 A:1 y\n") == SWIM_OK);
	CHECK(state_of(s, "x", &inc, NULL) == SWIM_SUSPECT && inc == 1);
	CHECK(GOSSIP("a x 1 A:1\n") == SWIM_OK);        /* not a refutation */
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_SUSPECT);
	CHECK(GOSSIP("a x 2 A:1\n") == SWIM_OK);        /* the refutation */
	CHECK(state_of(s, "x", &inc, NULL) == SWIM_ALIVE && inc == 2);
	CHECK(R.n == 1);                                  /* no event */
	CHECK(GOSSIP("s x 1 A:1 y\n") == SWIM_OK);      /* stale */
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_ALIVE);
	CHECK(GOSSIP("d x 2 A:1 y\n") == SWIM_OK);
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_DEAD);
	CHECK(R.n == 2 && R.ev[1] == SWIM_EV_FAIL);
	CHECK(GOSSIP("a x 2 A:1\ns x 9 A:1 y\n") == SWIM_OK);
	CHECK(state_of(s, "x", &inc, NULL) == SWIM_DEAD && inc == 2);
	CHECK(GOSSIP("a x 3 B:2\n") == SWIM_OK);        /* came back */
	CHECK(state_of(s, "x", &inc, addr) == SWIM_ALIVE && inc == 3);
	CHECK_STR(addr, "B:2");
	CHECK(R.n == 3 && R.ev[2] == SWIM_EV_RECOVER);
	CHECK(GOSSIP("a x 4 C:3\n") == SWIM_OK);
	CHECK(R.n == 4 && R.ev[3] == SWIM_EV_UPDATE);
	CHECK(GOSSIP("l x 4 C:3\n") == SWIM_OK);
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_LEFT);
	CHECK(R.n == 5 && R.ev[4] == SWIM_EV_LEAVE);
	CHECK(GOSSIP("a x 4 C:3\nd x 4 C:3 y\n") == SWIM_OK);
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_LEFT);
	CHECK(GOSSIP("a x 5 C:3\n") == SWIM_OK);        /* rejoined */
	CHECK(R.n == 6 && R.ev[5] == SWIM_EV_JOIN);
	/* Unknown members heard dead or left are tombstones, no event. */
	CHECK(GOSSIP("d gone 3 G:1 y\nl went 2 W:1\n") == SWIM_OK);
	CHECK(state_of(s, "gone", NULL, NULL) == SWIM_DEAD);
	CHECK(state_of(s, "went", NULL, NULL) == SWIM_LEFT);
	CHECK(R.n == 6);
	CHECK(swim_live(s) == 2);

	/* About ourselves: refute, at one more than what was said. */
	CHECK(GOSSIP("s me 0 10.0.0.1:1 x\n") == SWIM_OK);
	CHECK(swim_incarnation(s) == 1 && swim_stats(s)->refutations == 1);
	CHECK(swim_health(s) == 1);
	CHECK(GOSSIP("d me 4 10.0.0.1:1 x\n") == SWIM_OK);
	CHECK(swim_incarnation(s) == 5);
	CHECK(GOSSIP("a me 5 10.0.0.1:1\n") == SWIM_OK);  /* our own echo */
	CHECK(swim_incarnation(s) == 5);
	CHECK(GOSSIP("a me 5 10.9.9.9:1\n") == SWIM_OK);  /* a twin */
	CHECK(swim_incarnation(s) == 6 && swim_stats(s)->conflicts == 1);
	CHECK(GOSSIP("l me 6 10.0.0.1:1\n") == SWIM_OK);
	CHECK(swim_incarnation(s) == 7);
	CHECK(state_of(s, "me", NULL, NULL) == SWIM_ALIVE);

	/* A death heard in a full state is only a suspicion. */
	CHECK(say(s, now, "n01", "swim-sync", " re=1", "d x 5 C:3 y\n",
	    "10.1.1.1:1") == SWIM_OK);
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_SUSPECT);
	/* The member itself, from its own address, says inc=6: refuted. */
	CHECK(say(s, now, "x", "swim-ping", " inc=6 id=7", "", "C:3") ==
	    SWIM_OK);
	CHECK(state_of(s, "x", &inc, NULL) == SWIM_ALIVE && inc == 6);
	CHECK(strstr(R.last, "type=swim-ack") != NULL);
	CHECK(strstr(R.last, " re=7 ") != NULL);
	CHECK(strstr(R.last, " inc=7 ") != NULL);       /* ours */
	/* But not from an address that is not its own. */
	CHECK(GOSSIP("s x 6 C:3 y\n") == SWIM_OK);
	CHECK(say(s, now, "x", "swim-gossip", " inc=7", "", "D:4") == SWIM_OK);
	CHECK(state_of(s, "x", &inc, NULL) == SWIM_SUSPECT && inc == 6);

	/*
	 * The suspicion timer, with 17 live members: it runs from when the
	 * suspicion was heard, and each new suspecter brings it down.
	 */
	n = 0;
	for (i = 0; i < 15; i++)
		n += (size_t)snprintf(body + n, sizeof body - n,
		    "a m%02zu 1 M:%zu\n", i, i);
	CHECK(GOSSIP(body) == SWIM_OK);
	CHECK(GOSSIP("a x 7 C:3\n") == SWIM_OK);
	CHECK(swim_live(s) == 17);
	now += 1000;
	CHECK(GOSSIP("s x 7 C:3 m00\n") == SWIM_OK);
	t = swim_suspicion_timeout(&c, 17, 0);
	CHECK(t == 5904);     /* 6 x floor(4 x 1230 x 200 / 1000) */
	CHECK(swim_next_deadline(s) <= now + t);
	swim_tick(s, now + t - 1);
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_SUSPECT);
	CHECK(GOSSIP("s x 7 C:3 m00\n") == SWIM_OK);   /* same suspecter */
	CHECK(GOSSIP("s x 7 C:3 m01\n") == SWIM_OK);   /* a confirmation */
	/* now + t - 1 is past start + timeout(1): due at once */
	CHECK(swim_next_deadline(s) == now + swim_suspicion_timeout(&c, 17,
	    1));
	swim_tick(s, now + t);
	CHECK(state_of(s, "x", NULL, NULL) == SWIM_DEAD);
	CHECK(R.last_ev == SWIM_EV_FAIL);
	swim_free(s);
}

/* ---- convergence ---- */

static void
test_convergence(int n, uint64_t bound)
{
	uint64_t t;

	sim_init(n, 100 + (uint64_t)n, 0);
	sim_start_all();
	t = run_until_cond(converged, 20000);
	CHECK(t <= bound);
	if (verbose)
		printf("  swim: %d members from one seed converge in %llu ms,"
		    " %llu datagrams\n", n, (unsigned long long)t,
		    (unsigned long long)S.delivered);
	CHECK(total_fails() == 0);
	CHECK(S.over_budget == 0 && S.unparsable == 0 && S.stuck == 0);
	sim_free();
}

/* ---- detection of a killed member ---- */

static int victim;

static int
victim_dead_everywhere(void)
{
	return all_see(victim, SWIM_DEAD);
}

/*
 * The bound: every survivor probes every live member once a round, so
 * within N periods one survivor has suspected the victim, and its
 * suspicion times out within the maximum timeout even with no
 * confirmation; the death then spreads in a few gossip rounds (we allow
 * 2 s).  The expected time is much shorter, and is checked too.
 */
static void
test_detection(int n, uint64_t seed)
{
	struct swim_config c;
	uint64_t t, hard, typical, killed, worst = 0;
	int i;

	sim_init(n, seed, 0);
	sim_start_all();
	CHECK(run_until_cond(converged, 20000) != NEVER);
	run_until(S.now + 3000);
	swim_config_init(&c);
	hard = (uint64_t)n * c.probe_interval +
	    swim_suspicion_timeout(&c, (size_t)n, 0) + 2000;
	/* a probe period or two, the timeout at k confirmations, gossip */
	typical = 3 * c.probe_interval +
	    swim_suspicion_timeout(&c, (size_t)n, 2) + 1000;
	victim = n / 3;
	killed = S.now;
	node_kill(victim);
	t = run_until_cond(victim_dead_everywhere, hard + 1000);
	CHECK(t <= hard);
	CHECK(t <= typical);
	for (i = 0; i < n; i++) {
		if (i == victim)
			continue;
		CHECK(S.fails[i][victim] == 1);
		if (S.fail_at[i][victim] - killed > worst)
			worst = S.fail_at[i][victim] - killed;
	}
	if (verbose)
		printf("  swim: %d members: a kill is seen by all in %llu ms "
		    "(typical bound %llu, hard bound %llu)\n", n,
		    (unsigned long long)worst, (unsigned long long)typical,
		    (unsigned long long)hard);
	/* And nobody else died. */
	CHECK(total_fails() == (unsigned)(n - 1));
	CHECK(S.over_budget == 0 && S.stuck == 0);
	sim_free();
}

/* ---- refutation ---- */

static int slow;

static void
test_refute_pause(uint64_t seed, uint64_t pause)
{
	uint64_t refuted;
	int i;

	sim_init(16, seed, 0);
	sim_start_all();
	CHECK(run_until_cond(converged, 20000) != NEVER);
	run_until(S.now + 2000);
	slow = 5;
	/* As a SIGSTOP: it neither runs nor reads for a while. */
	S.node[slow].paused_until = S.now + pause;
	run_until(S.now + pause + 10000);
	refuted = swim_stats(S.node[slow].s)->refutations;
	CHECK(refuted >= 1);
	CHECK(total_fails_of(slow) == 0);
	CHECK(converged());
	for (i = 0; i < S.n; i++)
		CHECK(S.recovers[i][slow] == 0);
	if (verbose)
		printf("  swim: paused %llu ms: %llu refutations, "
		    "incarnation %llu, no death\n", (unsigned long long)pause,
		    (unsigned long long)refuted,
		    (unsigned long long)swim_incarnation(S.node[slow].s));
	sim_free();
}

static void
test_refute_slow(uint64_t seed)
{
	uint64_t refuted;

	sim_init(16, seed, 0);
	sim_start_all();
	CHECK(run_until_cond(converged, 20000) != NEVER);
	run_until(S.now + 2000);
	slow = 9;
	/* Everything it sends arrives 250 ms late: its acks come after
	 * every probe period, but it hears of its suspicion at once. */
	S.node[slow].out_delay = 250;
	run_until(S.now + 5000);
	S.node[slow].out_delay = 0;
	run_until(S.now + 5000);
	refuted = swim_stats(S.node[slow].s)->refutations;
	CHECK(refuted >= 1);
	CHECK(total_fails_of(slow) == 0);
	CHECK(converged());
	if (verbose)
		printf("  swim: slow by 250 ms for 5 s: %llu refutations, "
		    "no death\n", (unsigned long long)refuted);
	sim_free();
}

/* ---- no false death under loss ---- */

static void
test_loss(uint64_t seed, uint64_t ms)
{
	sim_init(16, seed, 0);
	sim_start_all();
	CHECK(run_until_cond(converged, 20000) != NEVER);
	S.loss = 1000;     /* 10 % of datagrams */
	run_until(S.now + ms);
	CHECK(total_fails() == 0);
	S.loss = 0;
	CHECK(run_until_cond(converged, 5000) != NEVER);
	if (verbose)
		printf("  swim: 16 members, 10%% loss, %llu s: %llu suspicions"
		    ", %llu refutations, 0 deaths, %llu datagrams\n",
		    (unsigned long long)ms / 1000,
		    (unsigned long long)SUM(suspicions),
		    (unsigned long long)SUM(refutations),
		    (unsigned long long)S.delivered);
	sim_free();
}

/* ---- dissemination and graceful leave ---- */

static void
short_reap(struct swim_config *c, int i)
{
	(void)i;
	c->left_reap = 20000;
	c->dead_reap = 20000;
}

static void
test_leave(void)
{
	struct swim_config c;
	unsigned limit, most = 0;
	int i, leaver = 7, dead = 3;

	sim_init(16, 77, 0);
	S.tweak = short_reap;
	sim_start_all();
	CHECK(run_until_cond(converged, 20000) != NEVER);
	run_until(S.now + 3000);
	swim_config_init(&c);
	limit = swim_retransmit_limit(&c, 16);
	CHECK(swim_retransmit_limit(&c, 15) == limit);
	S.watch = leaver;
	swim_leave(S.node[leaver].s, S.now);
	refresh(&S.node[leaver]);
	CHECK(!swim_leave_done(S.node[leaver].s));
	run_until(S.now + 3000);
	CHECK(swim_leave_done(S.node[leaver].s));
	CHECK(all_see(leaver, SWIM_LEFT));
	for (i = 0; i < S.n; i++) {
		if (S.node[i].lines_about > most)
			most = S.node[i].lines_about;
		CHECK(S.node[i].lines_about <= limit);
		if (i != leaver)
			CHECK(S.leaves[i][leaver] == 1);
	}
	CHECK(total_fails() == 0);
	if (verbose)
		printf("  swim: a leave reaches all 15; each member sent it "
		    "at most %u times (limit %u)\n", most, limit);
	/* The one that left stops; nobody declares it dead later. */
	node_kill(leaver);
	run_until(S.now + 15000);
	CHECK(total_fails() == 0);
	CHECK(all_see(leaver, SWIM_LEFT));
	/* Tombstones go after left_reap (dead ones after dead_reap). */
	node_kill(dead);
	run_until(S.now + 6000);
	for (i = 0; i < S.n; i++) {
		if (!S.node[i].up)
			continue;
		CHECK(swim_find(S.node[i].s, S.node[leaver].name, NULL) == -1);
		CHECK(sees(i, dead, SWIM_DEAD));
		CHECK(swim_count(S.node[i].s) == 15);
	}
	run_until(S.now + 20000);
	for (i = 0; i < S.n; i++) {
		if (!S.node[i].up)
			continue;
		CHECK(swim_find(S.node[i].s, S.node[dead].name, NULL) == -1);
		CHECK(swim_count(S.node[i].s) == 14);
		CHECK(swim_live(S.node[i].s) == 14);
	}
	sim_free();
}

/* ---- a restart: the dead come back with a higher incarnation ---- */

static void
test_restart(void)
{
	int i, r = 4;

	sim_init(16, 99, 0);
	sim_start_all();
	CHECK(run_until_cond(converged, 20000) != NEVER);
	victim = r;
	node_kill(r);
	CHECK(run_until_cond(victim_dead_everywhere, 15000) != NEVER);
	node_start(r, 1);           /* same name and address, incarnation 0 */
	CHECK(run_until_cond(converged, 5000) != NEVER);
	CHECK(swim_incarnation(S.node[r].s) >= 1);
	for (i = 0; i < S.n; i++)
		if (i != r)
			CHECK(S.recovers[i][r] == 1);
	/* Again, but it comes back at another address. */
	node_kill(r);
	CHECK(run_until_cond(victim_dead_everywhere, 15000) != NEVER);
	snprintf(S.node[r].addr, sizeof S.node[r].addr, "10.0.1.1:40000");
	node_start(r, 1);
	CHECK(run_until_cond(converged, 5000) != NEVER);
	for (i = 0; i < S.n; i++) {
		struct swim_member m;

		if (i == r)
			continue;
		CHECK(S.recovers[i][r] == 2);
		CHECK(swim_find(S.node[i].s, S.node[r].name, &m) == 0);
		CHECK_STR(m.addr, "10.0.1.1:40000");
	}
	sim_free();
}

/* ---- partition and heal ---- */

static int
split_seen(void)
{
	int i, j;

	for (i = 0; i < S.n; i++)
		for (j = 0; j < S.n; j++)
			if (S.node[i].part != S.node[j].part &&
			    !sees(i, j, SWIM_DEAD))
				return 0;
	return 1;
}

static void
test_partition(void)
{
	struct swim_config c;
	uint64_t t;
	int i;

	sim_init(16, 4242, 0);
	sim_start_all();
	CHECK(run_until_cond(converged, 20000) != NEVER);
	for (i = 8; i < 16; i++)
		S.node[i].part = 1;
	CHECK(run_until_cond(split_seen, 20000) != NEVER);
	for (i = 0; i < 16; i++)
		S.node[i].part = 0;
	swim_config_init(&c);
	/* The next sync of any member to one it thinks dead heals it. */
	t = run_until_cond(converged, 3 * c.sync_interval);
	CHECK(t <= c.sync_interval * 3 / 2 + 5000);
	if (verbose)
		printf("  swim: a healed partition converges in %llu ms\n",
		    (unsigned long long)t);
	sim_free();
}

/* ---- group labels ---- */

static void
red_group(struct swim_config *c, int i)
{
	if (i == 4)
		c->group = "red";
	if (i == 5)
		c->group = NULL;
}

static void
test_group(void)
{
	int i;

	sim_init(6, 5, 0);
	S.tweak = red_group;
	sim_start_all();
	run_until(S.now + 5000);
	for (i = 0; i < 4; i++) {
		CHECK(swim_live(S.node[i].s) == 4);
		CHECK(swim_find(S.node[i].s, "n04", NULL) == -1);
		CHECK(swim_find(S.node[i].s, "n05", NULL) == -1);
	}
	CHECK(swim_live(S.node[4].s) == 1);
	CHECK(swim_live(S.node[5].s) == 1);
	/* Node 0 dropped their join requests and counted them. */
	CHECK(swim_stats(S.node[0].s)->foreign >= 2);
	CHECK(swim_stats(S.node[0].s)->bad == 0);
	sim_free();
}

/* ---- the datagram budget ---- */

static size_t budget_now;

static void
small_budget(struct swim_config *c, int i)
{
	(void)i;
	c->budget = budget_now + 40;
	c->reserve = 40;      /* as a mac field would take */
}

static void
test_budget(size_t budget)
{
	uint64_t t;

	sim_init(64, 31337 + budget, 1);
	budget_now = budget;
	S.budget = budget;
	S.tweak = small_budget;
	sim_start_all();
	t = run_until_cond(converged, 20000);
	CHECK(t != NEVER);
	/* A full-state sync from everyone, and a death. */
	run_until(S.now + 16000);
	node_kill(40);
	run_until(S.now + 15000);
	CHECK(S.over_budget == 0);
	CHECK(S.unparsable == 0);
	CHECK(SUM(oversize) == 0);
	CHECK(SUM(bad) == 0);
	CHECK(SUM(syncs) > 64);
	CHECK(S.max_seen <= budget);
	CHECK(S.max_seen > budget - 300);   /* the budget was used */
	if (verbose)
		printf("  swim: 64 longest names and addresses, budget %zu: "
		    "longest datagram %zu, converged in %llu ms\n", budget,
		    S.max_seen, (unsigned long long)t);
	sim_free();
}

/* ---- hostile input ---- */

struct snap {
	size_t n;
	struct swim_member m[8];
};

static void
snapshot(struct swim *s, struct snap *sn)
{
	size_t i;

	sn->n = swim_count(s);
	memset(sn->m, 0, sizeof sn->m);
	for (i = 0; i < sn->n && i < 8; i++)
		swim_member_at(s, i, &sn->m[i]);
}

static int
same(const struct snap *a, const struct snap *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n && i < 8; i++)
		if (strcmp(a->m[i].name, b->m[i].name) != 0 ||
		    a->m[i].state != b->m[i].state ||
		    a->m[i].inc != b->m[i].inc ||
		    strcmp(a->m[i].addr, b->m[i].addr) != 0)
			return 0;
	return 1;
}

static int
feed(struct swim *s, const char *d)
{
	return swim_recv(s, S.now, "10.9.9.9:1", d, strlen(d));
}

static void
test_hostile(void)
{
	static const char *const crafted[] = {
		"",
		"ds1",
		"ds2 from=n01 to=n00 type=swim-ping g=blue id=1\n\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue id=1 len=0\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue id=1 len=0\n\nx",
		"ds1 from=n01 to=n00 type=swim-ping g=blue id=01 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue id=-1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue "
		    "id=18446744073709551616 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ack g=blue len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue inc=01 id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue inc=x id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping g=blue "
		    "inc=9007199254740992 id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-nack g=blue id=3 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-sync g=blue len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-sync g=blue re=1 id=2 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-what g=blue id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping-req g=blue id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping-req g=blue target=n02 "
		    "id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping-req g=blue target=n%02 "
		    "addr=x:1 id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping-req g=blue target=n02 "
		    "addr=x%00:1 id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping-req g=blue target=n02 "
		    "addr=x%20y id=1 len=0\n\n",
		/* one good line, then a bad one: nothing is merged */
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=26\n"
		    "a zz 1 x:1\na zy 1 x:1 n01\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=12\n"
		    "a zz 1 x:1\n\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=10\n"
		    "a zz 1 x:1\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=12\n"
		    "a  zz 1 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=12\n"
		    "a zz 1 x:1 \n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=12\n"
		    " a zz 1 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=11\n"
		    "x zz 1 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=11\n"
		    "s zz 1 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=12\n"
		    "a zz 01 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=26\n"
		    "a zz 9007199254740992 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=33\n"
		    "d n02 99999999999999999999 x:1 y\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=12\n"
		    "a zz -1 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=10\n"
		    "a zz 1 x\r\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=12\n"
		    "a z%z 1 x:1\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=11\n"
		    "l n02 5 \x7f\x01\n\n",
		"ds1 from=n01 to=n00 type=swim-gossip g=blue len=11\n"
		    "a zz 1 x:1\n\n",   /* 11 bytes are fine: see below */
		/* a name of 65 bytes */
		("ds1 from=n01 to=n00 type=swim-gossip g=blue len=74\n"
		    "a xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxx 1 x:1\n\n"),
	};
	/* Well-formed, refused for another reason. */
	static const char *const refused[] = {
		"ds1 from=n01 to=n00 type=swim-ping g=red id=1 len=0\n\n",
		"ds1 from=n01 to=n00 type=swim-ping id=1 len=0\n\n",
		"ds1 from=n00 to=n00 type=swim-ping g=blue id=1 len=0\n\n",
		"ds1 from=n01 to=n03 type=swim-ping g=blue id=1 len=0\n\n",
		"ds1 from=n01 to=* type=swim-ping g=blue id=1 len=0\n\n",
		("ds1 from=n01 to=n00 type=swim-gossip g=red len=11\n"
		    "a zz 1 x:1\n\n"),
	};
	struct snap before, after;
	struct swim *s;
	uint64_t sent, bad0;
	char buf[1600];
	size_t i, k;
	int rc, bad_rc = 1;

	sim_init(4, 666, 0);
	sim_start_all();
	CHECK(run_until_cond(converged, 10000) != NEVER);
	run_until(S.now + 2000);
	s = S.node[0].s;
	snapshot(s, &before);
	sent = S.node[0].sent;

	for (i = 0; i < sizeof crafted / sizeof crafted[0]; i++) {
		rc = feed(s, crafted[i]);
		/* The 11-byte line is good; it is checked after this loop. */
		if (i == sizeof crafted / sizeof crafted[0] - 2)
			continue;
		if (rc != SWIM_BAD) {
			fprintf(stderr, "crafted %zu: %d\n", i, rc);
			bad_rc = 0;
		}
	}
	CHECK(bad_rc);
	CHECK(strlen(swim_error(s)) > 0);
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
		CHECK(feed(s, refused[i]) < 0);
	CHECK(swim_stats(s)->foreign == 3);
	CHECK(swim_stats(s)->misdirected == 3);
	/* Not swim's: a plain message of the group goes to the program. */
	CHECK(feed(s, "ds1 from=n01 to=n00 g=blue len=2\nhi\n") ==
	    SWIM_NOT_MINE);
	CHECK(feed(s, "ds1 from=n01 to=n00 type=req g=blue len=0\n\n") ==
	    SWIM_NOT_MINE);
	CHECK(feed(s, "ds1 from=n01 to=n00 len=2\nhi\n") == SWIM_FOREIGN);
	/* The good line of the crafted list did add zz; take it out of the
	 * comparison by checking it separately. */
	CHECK(swim_find(s, "zz", NULL) == 0);
	CHECK(swim_find(s, "zy", NULL) == -1);
	CHECK(swim_find(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxx", NULL) == -1);
	CHECK(S.node[0].sent == sent);
	snapshot(s, &before);
	bad0 = swim_stats(s)->bad;

	/* Random bytes, and random bytes after a good header start. */
	for (i = 0; i < 20000; i++) {
		size_t n = srnd() % sizeof buf, start = 0;

		if (i % 2 == 1) {
			static const char h[] =
			    "ds1 from=n01 to=n00 type=swim-gossip g=blue len=";

			memcpy(buf, h, sizeof h - 1);
			start = sizeof h - 1;
			if (n < start)
				n = start;
		}
		for (k = start; k < n; k++)
			buf[k] = (char)srnd();
		CHECK(swim_recv(s, S.now, "10.9.9.9:1", buf, n) < 0 || 1);
	}
	/* Every good datagram seen, cut short at every length. */
	for (i = 0; i < S.ncap; i++)
		for (k = 0; k < S.caplen[i]; k++)
			if (swim_recv(s, S.now, "10.9.9.9:1", S.cap[i], k) !=
			    SWIM_BAD)
				bad_rc = 0;
	CHECK(bad_rc);
	CHECK(S.ncap > 20);
	CHECK(swim_stats(s)->bad > bad0 + 20000);
	snapshot(s, &after);
	CHECK(same(&before, &after));
	CHECK(S.node[0].sent == sent);

	/*
	 * Flipped bytes: these may make another well-formed datagram, which
	 * is then merged as any would be; what counts is that nothing
	 * crashes and the tables stay consistent.
	 */
	for (i = 0; i < 20000; i++) {
		size_t j = srnd() % S.ncap, n = S.caplen[j];

		memcpy(buf, S.cap[j], n);
		for (k = 0; k < 1 + srnd() % 4; k++)
			buf[srnd() % n] = (char)srnd();
		swim_recv(s, S.now, "10.9.9.9:1", buf, n);
	}
	for (i = 0; i < swim_count(s); i++) {
		struct swim_member m;

		CHECK(swim_member_at(s, i, &m) == 0);
		CHECK(swim_find(s, m.name, &m) == 0);
	}
	refresh(&S.node[0]);
	/* The group still works afterwards. */
	run_until(S.now + 20000);
	for (i = 1; i < 4; i++)
		CHECK(all_see((int)i, SWIM_ALIVE));
	sim_free();
}

void
suite_swim(void)
{
	verbose = getenv("SWIM_VERBOSE") != NULL;
	test_arithmetic();
	test_config();
	test_merge();
	test_convergence(16, 3000);
	test_convergence(64, 5000);
	test_detection(16, 1);
	test_detection(16, 2);
	test_detection(64, 3);
	test_refute_pause(11, 1500);
	test_refute_pause(12, 1000);
	test_refute_slow(13);
	test_loss(21, 300000);
	test_leave();
	test_restart();
	test_partition();
	test_group();
	test_budget(SWIM_BUDGET_DEFAULT);
	test_budget(SWIM_BUDGET_MIN);
	test_hostile();
}
