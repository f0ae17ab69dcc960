/*
 * dspeer: a member of a peer-to-peer group over UDP.  Membership by SWIM
 * (lib/swim), messages to members by name (lib/peer); frames read on the
 * standard input are sent, frames for us come out on the standard output.
 * See dspeer(1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/addr.h"
#include "../lib/auth.h"
#include "../lib/buf.h"
#include "../lib/ctlsrv.h"
#include "../lib/err.h"
#include "../lib/io.h"
#include "../lib/loop.h"
#include "../lib/net.h"
#include "../lib/num.h"
#include "../lib/peer.h"
#include "../lib/proto.h"
#include "../lib/hook.h"
#include "../lib/seal.h"
#include "../lib/udp.h"

#define USAGE "usage: dspeer -n name [-1Mv] [-l address] [-a address] " \
	"[-j seed]... [-g group] [-k keyfile] [-C control-socket] " \
	"[-E command] [-w seconds] [-o key=value]..."

#define DEFAULT_LISTEN "0.0.0.0:7946"
#define SEEDS_MAX 16
#define OUT_MAX (16u << 20)      /* frames waiting for our stdout */
#define IN_MAX_BODY (16u << 20)  /* a frame on stdin, as dsproto allows */
#define EVENTS_MAX 1024          /* -E runs waiting their turn */
#define EVENT_MS 60000           /* an -E run's deadline */
#define LEAVE_MS 3000            /* how long a graceful leave may take */

struct dspeer {
	struct loop *l;
	struct peer *p;
	struct ctlsrv *ctl;
	const char *name;
	int verbose, event_frames;

	struct proto_parser parser;
	struct buf in;
	int in_open, in_watched, in_eof;

	struct buf out;
	int out_watched, out_broken, out_epipe;
	int out_dropping;           /* told, until the queue has room again */
	uint64_t out_dropped;

	const char *event_cmd;
	struct hook *hook;          /* -E */

	int leaving, status, done;
	uint64_t bad_told;          /* bad datagrams logged so far (-v) */
	uint64_t leave_timer;
	struct buf scratch;
};

static void
usage(void)
{
	fprintf(stderr, "%s\n", USAGE);
	exit(DS_EXIT_USAGE);
}

/* ---- standard output ---- */

static void out_ready(struct loop *l, int fd, unsigned ev, void *ctx);
static void start_leave(struct dspeer *d, int status);

static void
out_flush(struct dspeer *d)
{
	while (buf_len(&d->out) > 0 && !d->out_broken) {
		ssize_t w = write(1, buf_head(&d->out), buf_len(&d->out));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0) {
			/* Nobody reads what we are for: leave, as a filter
			 * whose reader went away (see main). */
			if (errno == EPIPE)
				d->out_epipe = 1;
			else
				err_warn("cannot write standard output: %s",
				    strerror(errno));
			d->out_broken = 1;
			buf_clear(&d->out);
			start_leave(d, DS_EXIT_SYS);
			break;
		}
		buf_consume(&d->out, (size_t)w);
	}
	if (buf_len(&d->out) < OUT_MAX / 2)
		d->out_dropping = 0;
	if (buf_len(&d->out) > 0 && !d->out_watched) {
		if (loop_add(d->l, 1, LOOP_OUT, out_ready, d) == 0)
			d->out_watched = 1;
	} else if (buf_len(&d->out) == 0 && d->out_watched) {
		loop_del(d->l, 1);
		d->out_watched = 0;
	}
}

static void
out_ready(struct loop *l, int fd, unsigned ev, void *ctx)
{
	(void)l;
	(void)fd;
	(void)ev;
	out_flush(ctx);
}

static void
emit(struct dspeer *d, const char *frame, size_t len)
{
	if (d->out_broken)
		return;
	if (buf_len(&d->out) + len > OUT_MAX) {
		d->out_dropped++;
		if (!d->out_dropping)
			err_warn("standard output is not read: dropping "
			    "frames");
		d->out_dropping = 1;
		return;
	}
	if (buf_append(&d->out, frame, len) < 0) {
		d->out_dropped++;
		return;
	}
	out_flush(d);
}

static void
deliver(void *ctx, const char *frame, size_t len)
{
	emit(ctx, frame, len);
}

/* An err frame to ourselves, and a line on stderr. */
static void
refuse(void *ctx, const char *to, const char *id, size_t id_len,
    const char *reason, const char *why)
{
	struct dspeer *d = ctx;
	struct proto_hdr h;
	struct proto_kv kv[2] = {
		{ "status", "1", 1 }, { "reason", reason, strlen(reason) }
	};
	char line[300];
	int n;

	err_warn("cannot send to %s: %s", to, why);
	memset(&h, 0, sizeof h);
	h.from = d->name;
	h.to = d->name;
	h.type = "err";
	if (id != NULL) {
		h.re = id;
		h.re_len = id_len;
	}
	h.extra = kv;
	h.nextra = 2;
	n = snprintf(line, sizeof line, "%s\n", why);
	buf_clear(&d->scratch);
	if (proto_encode(&d->scratch, &h, line, (size_t)n) == 0)
		emit(d, buf_head(&d->scratch), buf_len(&d->scratch));
}

/* ---- events ---- */

static void
hook_log(void *ctx, const char *line)
{
	(void)ctx;
	err_warn("-E: %s", line);
}

static const char *
event_verb(enum swim_event ev)
{
	switch (ev) {
	case SWIM_EV_JOIN:
		return "joined";
	case SWIM_EV_LEAVE:
		return "left";
	case SWIM_EV_FAIL:
		return "failed";
	case SWIM_EV_RECOVER:
		return "recovered";
	default:
		return "moved";
	}
}

static void
on_event(void *ctx, enum swim_event ev, const struct swim_member *m)
{
	struct dspeer *d = ctx;

	if (d->verbose)
		err_warn("%s %s (%s)", m->name, event_verb(ev), m->addr);
	if (d->event_frames) {
		char inc[32];
		struct proto_hdr h;
		struct proto_kv kv[4];

		snprintf(inc, sizeof inc, "%llu", (unsigned long long)m->inc);
		kv[0] = (struct proto_kv){ "event", swim_event_name(ev),
		    strlen(swim_event_name(ev)) };
		kv[1] = (struct proto_kv){ "peer", m->name, strlen(m->name) };
		kv[2] = (struct proto_kv){ "addr", m->addr, strlen(m->addr) };
		kv[3] = (struct proto_kv){ "inc", inc, strlen(inc) };
		memset(&h, 0, sizeof h);
		h.from = d->name;
		h.to = d->name;
		h.type = "event";
		h.extra = kv;
		h.nextra = 4;
		buf_clear(&d->scratch);
		if (proto_encode(&d->scratch, &h, NULL, 0) == 0)
			emit(d, buf_head(&d->scratch), buf_len(&d->scratch));
	}
	if (d->hook != NULL) {
		char ev_s[32], peer_s[80], addr_s[80], inc_s[40], self_s[80];
		const char *vars[5];

		snprintf(ev_s, sizeof ev_s, "DS_EVENT=%s", swim_event_name(ev));
		snprintf(peer_s, sizeof peer_s, "DS_PEER=%s", m->name);
		snprintf(addr_s, sizeof addr_s, "DS_ADDR=%s", m->addr);
		snprintf(inc_s, sizeof inc_s, "DS_INC=%llu",
		    (unsigned long long)m->inc);
		snprintf(self_s, sizeof self_s, "DS_SELF=%s", d->name);
		vars[0] = ev_s;
		vars[1] = peer_s;
		vars[2] = addr_s;
		vars[3] = inc_s;
		vars[4] = self_s;
		/* A full queue is logged and counted by the hook. */
		(void)hook_push(d->hook, vars, 5);
	}
}

/* ---- standard input ---- */

static void in_ready(struct loop *l, int fd, unsigned ev, void *ctx);

static void
in_watch(struct dspeer *d)
{
	int want = d->in_open && !d->leaving &&
	    peer_pending(d->p) < PEER_PENDING_MAX &&
	    buf_len(&d->out) < OUT_MAX / 2;

	if (want && !d->in_watched) {
		if (loop_add(d->l, 0, LOOP_IN, in_ready, d) == 0)
			d->in_watched = 1;
	} else if (!want && d->in_watched) {
		loop_del(d->l, 0);
		d->in_watched = 0;
	}
}


/*
 * Send the whole frames read so far, as long as the peer takes more; at
 * the end of the input, what is left must be nothing.  Called after
 * every read and every round of the loop, since frames left behind while
 * the peer was full wait for room, not for more input.
 */
static void
in_frames(struct dspeer *d)
{
	int rc = PROTO_MORE;

	while (peer_pending(d->p) < PEER_PENDING_MAX &&
	    (rc = proto_parse(&d->parser, buf_head(&d->in),
	    buf_len(&d->in))) == PROTO_MSG) {
		const char *reason;
		struct proto_str id = proto_get(&d->parser.msg, PF_ID);
		char raw[PROTO_TOKEN_MAX];
		long n = 0;

		if (peer_send(d->p, &d->parser.msg, 1, &reason,
		    &d->scratch) < 0) {
			char why[300], to[PROTO_NAME_MAX + 2];
			struct proto_str t = proto_get(&d->parser.msg, PF_TO);

			snprintf(why, sizeof why, "%.*s",
			    (int)buf_len(&d->scratch), buf_head(&d->scratch));
			snprintf(to, sizeof to, "%.*s", (int)t.n, t.p);
			if (id.p != NULL)
				n = proto_decode(id.p, id.n, raw);
			refuse(d, to, id.p != NULL && n >= 0 ? raw : NULL,
			    n >= 0 ? (size_t)n : 0, reason, why);
		}
		buf_consume(&d->in, d->parser.msg.frame_len);
	}
	if (rc == PROTO_ERR) {
		err_warn("standard input: %s", d->parser.err);
		d->in_open = 0;
		d->in_eof = 0;
		buf_clear(&d->in);
		start_leave(d, DS_EXIT_DATA);
	} else if (d->in_eof && rc == PROTO_MORE) {
		/* The end of the input is not the end of the member. */
		if (proto_parse_eof(&d->parser, buf_head(&d->in),
		    buf_len(&d->in)) != 0)
			err_warn("standard input: %s", d->parser.err);
		buf_clear(&d->in);
		d->in_eof = 0;
	}
}

static void
in_ready(struct loop *l, int fd, unsigned ev, void *ctx)
{
	struct dspeer *d = ctx;
	ssize_t r;

	(void)l;
	(void)ev;
	if (buf_reserve(&d->in, 65536) < 0) {
		err_warn("standard input: a frame is too large");
		d->in_open = 0;
		buf_clear(&d->in);
		start_leave(d, DS_EXIT_DATA);
		in_watch(d);
		return;
	}
	r = read(fd, buf_tail(&d->in), buf_room(&d->in));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r < 0)
		err_warn("cannot read standard input: %s", strerror(errno));
	if (r <= 0) {
		d->in_open = 0;
		d->in_eof = 1;
	} else {
		buf_commit(&d->in, (size_t)r);
	}
	in_frames(d);
	in_watch(d);
}

/* With -v, sum up the bad datagrams once a second: a flood of them
 * must not become a flood of lines. */
static void
tell_bad(struct loop *l, uint64_t id, void *ctx)
{
	struct dspeer *d = ctx;
	const char *addr, *why;
	uint64_t bad = peer_bad(d->p, &addr, &why);
	char shown[200];

	(void)id;
	if (bad > d->bad_told)
		err_warn("dropped %llu bad datagram%s (last from %s: %s)",
		    (unsigned long long)(bad - d->bad_told),
		    bad - d->bad_told == 1 ? "" : "s", addr,
		    err_printable(shown, sizeof shown, why, strlen(why)));
	d->bad_told = bad;
	(void)loop_timer(l, 1000, tell_bad, d);
}

/* ---- stopping ---- */

static void
leave_check(struct loop *l, uint64_t id, void *ctx)
{
	struct dspeer *d = ctx;

	(void)id;
	if (peer_leave_done(d->p) || io_now_ms() >= (long long)d->leave_timer) {
		out_flush(d);
		d->done = 1;
		return;
	}
	(void)loop_timer(l, 20, leave_check, d);
}

static void
start_leave(struct dspeer *d, int status)
{
	if (d->leaving)
		return;
	d->leaving = 1;
	d->status = status;
	peer_leave(d->p);
	d->leave_timer = (uint64_t)io_now_ms() + LEAVE_MS;
	(void)loop_timer(d->l, 0, leave_check, d);
}

static void
on_signal(struct loop *l, int signo, void *ctx)
{
	(void)l;
	(void)signo;
	start_leave(ctx, 0);
}

/* ---- the control socket ---- */

static int
ctl_cmd(void *ctx, const char *line, size_t n, struct buf *reply,
    const char **reason)
{
	struct dspeer *d = ctx;

#define IS(w) (n == sizeof(w) - 1 && memcmp(line, w, n) == 0)
	if (IS("ping"))
		return buf_append_str(reply, "pong\n") < 0 ? -1 : 0;
	if (IS("members"))
		return peer_members_text(d->p, reply);
	if (IS("stats")) {
		if (peer_stats_text(d->p, reply) < 0 ||
		    peer_stat_line(reply, "msgs_dropped", d->out_dropped) < 0 ||
		    peer_stat_line(reply, "events", d->hook != NULL ?
		    hook_runs(d->hook) : 0) < 0 ||
		    peer_stat_line(reply, "events_dropped", d->hook != NULL ?
		    hook_dropped(d->hook) : 0) < 0)
			return -1;
		return 0;
	}
	if (IS("leave")) {
		start_leave(d, 0);
		return buf_append_str(reply, "leaving\n") < 0 ? -1 : 0;
	}
#undef IS
	*reason = "unknown-command";
	(void)buf_append_str(reply, "unknown command; dspeer knows ping, "
	    "stats, members and leave");
	return -1;
}

/* dsctl send NAME: as from the standard input, but refused at once. */
static int
ctl_msg(void *ctx, const struct proto_msg *m, struct buf *why,
    const char **reason)
{
	struct dspeer *d = ctx;

	return peer_send(d->p, m, 0, reason, why) < 0 ? -1 : 0;
}

static void
ctl_log(void *ctx, const char *line)
{
	(void)ctx;
	err_warn("-C: %s", line);
}

/* ---- options ---- */

struct knob {
	const char *key;
	unsigned *u;
	size_t *z;
};

static void
set_knob(struct swim_config *c, const char *arg)
{
	struct knob knobs[] = {
		{ "probe", &c->probe_interval, NULL },
		{ "probe-timeout", &c->probe_timeout, NULL },
		{ "indirect", &c->indirect_checks, NULL },
		{ "suspicion", &c->suspicion_mult, NULL },
		{ "suspicion-max", &c->suspicion_max_mult, NULL },
		{ "confirm", &c->suspicion_confirm, NULL },
		{ "retransmit", &c->retransmit_mult, NULL },
		{ "gossip", &c->gossip_interval, NULL },
		{ "gossip-nodes", &c->gossip_nodes, NULL },
		{ "sync", &c->sync_interval, NULL },
		{ "join-retry", &c->join_retry, NULL },
		{ "reap", &c->dead_reap, NULL },
		{ "awareness", &c->awareness_max, NULL },
		{ "budget", NULL, &c->budget },
	};
	const char *eq = strchr(arg, '=');
	uint64_t v;
	size_t i;

	for (i = 0; eq != NULL && i < sizeof knobs / sizeof knobs[0]; i++) {
		if (strlen(knobs[i].key) != (size_t)(eq - arg) ||
		    memcmp(knobs[i].key, arg, (size_t)(eq - arg)) != 0)
			continue;
		if (num_parse_u64(eq + 1, strlen(eq + 1), 0xffffffffu,
		    NUM_CANON, &v) != NUM_OK)
			err_die(DS_EXIT_USAGE, "-o %s: expected a whole "
			    "number", arg);
		if (knobs[i].u != NULL)
			*knobs[i].u = (unsigned)v;
		else
			*knobs[i].z = (size_t)v;
		if (knobs[i].u == &c->dead_reap)
			c->left_reap = (unsigned)v;
		return;
	}
	err_die(DS_EXIT_USAGE, "-o %s: unknown setting (known: probe, "
	    "probe-timeout, indirect, suspicion, suspicion-max, confirm, "
	    "retransmit, "
	    "gossip, gossip-nodes, sync, join-retry, reap, awareness, "
	    "budget)", arg);
}

static uint64_t
random_seed(void)
{
	uint64_t s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	FILE *f = fopen("/dev/urandom", "rb");

	if (f != NULL) {
		uint64_t r;

		if (fread(&r, sizeof r, 1, f) == 1)
			s ^= r;
		fclose(f);
	}
	return s;
}

/*
 * The address to advertise: -a, or the bound one, or, bound to a
 * wildcard, the one the kernel would send from towards the first seed.
 */
static void
advertise(int fd, const char *a_opt, const char *listen, const char *seed,
    char *dst, size_t n)
{
	struct udp_addr bound, via, to;
	char err[300], local[UDP_ADDR_MAX + 1];
	unsigned port;
	const char *colon;

	if (udp_local(fd, local, sizeof local) < 0)
		err_die(DS_EXIT_SYS, "cannot read the bound address:");
	colon = strrchr(local, ':');
	port = (unsigned)strtoul(colon + 1, NULL, 10);
	if (a_opt != NULL) {
		if (udp_resolve(a_opt, 1, &via, err, sizeof err) < 0)
			err_die(DS_EXIT_USAGE, "-a %s: %s (a numeric "
			    "host:port)", a_opt, err);
		if (udp_is_wildcard(&via))
			err_die(DS_EXIT_USAGE, "-a %s: peers cannot reach a "
			    "wildcard address", a_opt);
	} else {
		if (udp_resolve(local, 1, &bound, err, sizeof err) < 0)
			err_die(DS_EXIT_SYS, "%s", err);
		if (!udp_is_wildcard(&bound)) {
			snprintf(dst, n, "%s", local);
			return;
		}
		if (seed == NULL)
			err_die(DS_EXIT_USAGE, "-l %s is a wildcard: give -a "
			    "with the address peers should use", listen);
		if (udp_resolve(seed, 0, &to, err, sizeof err) < 0 ||
		    udp_source_for(&to, &via) < 0)
			err_die(DS_EXIT_SYS, "cannot tell which address "
			    "reaches %s: give -a", seed);
	}
	if (((struct sockaddr *)&via.ss)->sa_family == AF_INET6 ||
	    ((struct sockaddr *)&via.ss)->sa_family == AF_INET) {
		char s[UDP_ADDR_MAX + 1];

		udp_format((struct sockaddr *)&via.ss, via.len, s, sizeof s);
		if (a_opt != NULL && strrchr(s, ':') != NULL &&
		    strcmp(strrchr(s, ':'), ":0") != 0) {
			snprintf(dst, n, "%s", s);
			return;
		}
		udp_set_port(&via, port);
		udp_format((struct sockaddr *)&via.ss, via.len, dst, n);
	}
}

int
main(int argc, char **argv)
{
	static struct dspeer d;
	struct peer_config pc;
	struct addr la;
	struct auth_key key;
	struct seal *seal = NULL;
	const char *seeds[SEEDS_MAX], *listen = DEFAULT_LISTEN, *a_opt = NULL;
	const char *group = NULL, *keyfile = NULL, *ctl_path = NULL;
	char err[512], adv[UDP_ADDR_MAX + 1];
	char seed_addr[SEEDS_MAX][UDP_ADDR_MAX + 1];
	size_t nseeds = 0, i;
	int opt, print_addr = 0, fd, hold_ms = 5000, ctl_fd = -1;

	err_init("dspeer");
	peer_config_init(&pc);
	while ((opt = getopt(argc, argv, "1Mvn:l:a:j:g:k:C:E:w:o:")) != -1) {
		switch (opt) {
		case '1':
			print_addr = 1;
			break;
		case 'M':
			d.event_frames = 1;
			break;
		case 'v':
			d.verbose = 1;
			break;
		case 'n':
			d.name = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'a':
			a_opt = optarg;
			break;
		case 'j':
			if (nseeds == SEEDS_MAX)
				err_die(DS_EXIT_USAGE, "-j: at most %d seeds",
				    SEEDS_MAX);
			seeds[nseeds++] = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'C':
			ctl_path = optarg;
			break;
		case 'E':
			d.event_cmd = optarg;
			break;
		case 'w': {
			uint64_t ms;

			if (num_parse_seconds(optarg, 86400000, &ms) !=
			    NUM_OK)
				err_die(DS_EXIT_USAGE, "-w %s: expected "
				    "seconds, such as 5 or 0.5", optarg);
			hold_ms = (int)ms;
			break;
		}
		case 'o':
			set_knob(&pc.swim, optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || d.name == NULL)
		usage();
	if (!proto_name_ok(d.name, strlen(d.name)))
		err_die(DS_EXIT_USAGE, "-n %s: names are 1 to 64 bytes of "
		    "[A-Za-z0-9._-]", d.name);
	if (group != NULL && !proto_name_ok(group, strlen(group)))
		err_die(DS_EXIT_USAGE, "-g %s: a group label has the syntax "
		    "of a name: 1 to 64 bytes of [A-Za-z0-9._-]", group);
	if (addr_parse(listen, &la, err, sizeof err) < 0 ||
	    la.kind != ADDR_INET)
		err_die(DS_EXIT_USAGE, "-l %s: expected host:port", listen);
	if (keyfile != NULL) {
		if (auth_key_load(&key, keyfile, err, sizeof err) < 0)
			err_die(errno == EINVAL ? DS_EXIT_DATA : DS_EXIT_SYS,
			    "%s", err);
		if ((seal = seal_new(&key, 0, 0)) == NULL)
			err_die(DS_EXIT_SYS, "out of memory");
	}
	/* Seeds are resolved once, now; the membership takes numbers. */
	for (i = 0; i < nseeds; i++) {
		struct udp_addr sa;

		if (udp_resolve(seeds[i], 0, &sa, err, sizeof err) < 0)
			err_die(errno == EINVAL ? DS_EXIT_USAGE : DS_EXIT_SYS,
			    "-j %s", err);
		udp_format((struct sockaddr *)&sa.ss, sa.len, seed_addr[i],
		    sizeof seed_addr[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	fd = udp_open(&la, err, sizeof err);
	if (fd < 0)
		err_die(DS_EXIT_SYS, "%s", err);
	advertise(fd, a_opt, listen, nseeds > 0 ? seed_addr[0] : NULL, adv,
	    sizeof adv);
	if (ctl_path != NULL) {
		struct addr ca;

		if (addr_parse(ctl_path, &ca, err, sizeof err) < 0 ||
		    ca.kind != ADDR_UNIX)
			err_die(DS_EXIT_USAGE, "-C %s: expected a path",
			    ctl_path);
		ctl_fd = net_listen_mode(&ca, 16, 0600, err, sizeof err);
		if (ctl_fd < 0)
			err_die(DS_EXIT_SYS, "%s", err);
	}

	if ((d.l = loop_new(64 + CTLSRV_MAXCONN)) == NULL)
		err_die(DS_EXIT_SYS, "out of memory");
	pc.swim.name = d.name;
	pc.swim.addr = adv;
	pc.swim.group = group;
	pc.swim.seed = random_seed();
	/* A restarted member must outrank what the group remembers of it. */
	pc.swim.incarnation = (uint64_t)time(NULL);
	pc.fd = fd;
	pc.seal = seal;
	pc.hold_ms = hold_ms;
	pc.deliver = deliver;
	pc.refuse = refuse;
	pc.event = on_event;
	pc.ctx = &d;
	d.p = peer_new(d.l, &pc, err, sizeof err);
	if (d.p == NULL)
		err_die(DS_EXIT_USAGE, "%s", err);
	if (d.event_cmd != NULL) {
		d.hook = hook_new(d.l, d.event_cmd, EVENTS_MAX, EVENT_MS,
		    hook_log, NULL);
		if (d.hook == NULL)
			err_die(DS_EXIT_SYS, "cannot run -E commands:");
	}
	if (ctl_fd >= 0) {
		struct ctlsrv_config cc;

		memset(&cc, 0, sizeof cc);
		cc.cmd = ctl_cmd;
		cc.msg = ctl_msg;
		cc.ctx = &d;
		cc.log = ctl_log;
		d.ctl = ctlsrv_new(d.l, ctl_fd, d.name, &cc, err, sizeof err);
		if (d.ctl == NULL)
			err_die(DS_EXIT_SYS, "-C %s: %s", ctl_path, err);
	}
	if (loop_signal(d.l, SIGTERM, on_signal, &d) < 0 ||
	    loop_signal(d.l, SIGINT, on_signal, &d) < 0)
		err_die(DS_EXIT_SYS, "cannot take signals:");
	buf_init(&d.in, IN_MAX_BODY + PROTO_HDR_MAX + 65536);
	buf_init(&d.out, OUT_MAX);
	buf_init(&d.scratch, 1u << 20);
	proto_parser_init(&d.parser, IN_MAX_BODY);
	(void)net_nonblock(0, 1);
	(void)net_nonblock(1, 1);
	if (print_addr) {
		char line[UDP_ADDR_MAX + 2];
		int n = snprintf(line, sizeof line, "%s\n", adv);

		emit(&d, line, (size_t)n);
	}
	for (i = 0; i < nseeds; i++)
		(void)peer_join(d.p, seed_addr[i]);
	if (d.verbose)
		(void)loop_timer(d.l, 1000, tell_bad, &d);
	d.in_open = 1;
	in_watch(&d);
	while (!d.done && loop_run_once(d.l, -1) >= 0) {
		if (buf_len(&d.in) > 0 || d.in_eof)
			in_frames(&d);
		in_watch(&d);
	}
	out_flush(&d);
	/* The descriptions may be shared with the shell: put them back. */
	(void)net_nonblock(0, 0);
	(void)net_nonblock(1, 0);
	if (buf_len(&d.out) > 0)
		(void)io_write_all(1, buf_head(&d.out), buf_len(&d.out));
	if (d.ctl != NULL) {
		ctlsrv_free(d.ctl);
		(void)unlink(ctl_path);
	}
	if (d.out_epipe) {
		/* As every filter does when its reader is gone. */
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	return d.status;
}
