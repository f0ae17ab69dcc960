/*
 * dsctl: talk to a hub.  Ping it or a client, read its counters and
 * names, call a service and print the reply, send a message, kick a
 * name, shut the hub down; or, on a dspeer's control socket, list the
 * members of its group and make it leave.  See dsctl(1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/client.h"
#include "../lib/err.h"
#include "../lib/io.h"
#include "../lib/num.h"
#include "../lib/proto.h"

#define USAGE "usage: dsctl [-j] [-c address] [-k keyfile] [-w timeout] " \
	"command [arg ...]"

/* glibc permutes arguments unless told not to; the command's own
 * arguments may start with '-'. */
#ifdef __GLIBC__
#define OPTSTRING "+jc:k:w:"
#else
#define OPTSTRING "jc:k:w:"
#endif

#define DEFAULT_WAIT_MS 10000
#define WAIT_MAX_MS (86400ull * 1000 * 365)
/* The largest reply we take, and the largest body we read from stdin. */
#define BODY_MAX (1ull << 30)

struct ctl {
	struct client c;
	int json;
	int timeout_ms;          /* -w; -1 for none */
	const char *wait_text;   /* -w as given, for messages */
	long long deadline;      /* for the reply; -1 for none */
	char err[1024];
};

static void
usage(void)
{
	fprintf(stderr, "%s\n", USAGE);
	exit(DS_EXIT_USAGE);
}

static void
put(const void *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, stdout) != n)
		err_die_stdout();
}

static void
puts_json(const char *s, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* A JSON value: a plain decimal number as a number, else a string. */
static void
value_json(const char *s, size_t n)
{
	uint64_t v;

	if (num_parse_u64(s, n, UINT64_MAX, NUM_CANON, &v) == NUM_OK)
		printf("%llu", (unsigned long long)v);
	else
		puts_json(s, n);
}

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
left_ms(const struct ctl *x)
{
	long long left;

	if (x->deadline < 0)
		return -1;
	left = x->deadline - io_now_ms();
	return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Queue one frame to `to` with a fresh id (written to id) and send it. */
static void
request(struct ctl *x, const char *to, const char *type, const void *body,
    size_t len, char id[PROTO_TOKEN_MAX + 1])
{
	struct proto_hdr h;

	/* Each request has its -w, counted from when it is sent. */
	x->deadline = x->timeout_ms < 0 ? -1 : io_now_ms() + x->timeout_ms;
	client_id(&x->c, id);
	memset(&h, 0, sizeof h);
	h.from = x->c.name;
	h.to = to;
	h.type = type;
	h.id = id;
	if (client_send(&x->c, &h, body, len) != 0) {
		if (errno == EMSGSIZE)
			err_die(DS_EXIT_DATA, "a body of %zu bytes is over the "
			    "hub's limit of %llu", len,
			    (unsigned long long)x->c.hub_max);
		err_die(client_status(errno), "cannot send to %s:", to);
	}
	if (client_flush(&x->c, left_ms(x)) != 0) {
		if (errno == ETIMEDOUT)
			err_die(DS_EXIT_TIMEOUT, "cannot send to %s within %s s",
			    to, x->wait_text);
		err_die(client_status(errno), "cannot send to the hub at %s:",
		    x->c.addr);
	}
}

/* Wait for the frame that answers id; others are passed over. */
static const struct proto_msg *
await(struct ctl *x, const char *id, const char *who)
{
	const struct proto_msg *m;

	for (;;) {
		struct proto_str re;
		int rc = client_recv(&x->c, left_ms(x), &m, x->err,
		    sizeof x->err);

		if (rc == 0)
			err_die(DS_EXIT_SYS, "the hub at %s closed the "
			    "connection", x->c.addr);
		if (rc < 0) {
			if (errno == ETIMEDOUT)
				err_die(DS_EXIT_TIMEOUT, "no reply from %s "
				    "within %s s", who, x->wait_text);
			err_die(client_status(errno), "%s", x->err);
		}
		re = proto_get(m, PF_RE);
		if (re.p != NULL && re.n == strlen(id) &&
		    memcmp(re.p, id, re.n) == 0)
			return m;
	}
}

/*
 * An err reply: its body goes to stderr as it is (a service's own
 * words), or a line saying what came when the body is empty.
 */
static void DS_NORETURN
die_err_reply(const struct proto_msg *m, const char *who)
{
	if (m->body_len > 0) {
		fflush(stdout);
		if (io_write_all(2, m->body, (size_t)m->body_len) == 0 &&
		    m->body[m->body_len - 1] != '\n')
			(void)io_write_all(2, "\n", 1);
		exit(DS_EXIT_DATA);
	} else {
		struct proto_str st = proto_lookup(m, "status");
		struct proto_str rs = proto_lookup(m, "reason");
		char a[80], b[80];

		err_die(DS_EXIT_DATA, "error reply from %s (status=%s "
		    "reason=%s)", who, err_printable(a, sizeof a,
		    st.p != NULL ? st.p : "-", st.p != NULL ? st.n : 1),
		    err_printable(b, sizeof b, rs.p != NULL ? rs.p : "-",
		    rs.p != NULL ? rs.n : 1));
	}
}

/* A reply that must be a rep: dies on an err or anything else. */
static const struct proto_msg *
expect_rep(struct ctl *x, const char *id, const char *who)
{
	const struct proto_msg *m = await(x, id, who);
	struct proto_str type = proto_type(m);
	char shown[80];

	if (proto_str_eq(type, "rep"))
		return m;
	if (proto_str_eq(type, "err"))
		die_err_reply(m, who);
	err_die(DS_EXIT_DATA, "unexpected %s frame from %s in reply",
	    err_printable(shown, sizeof shown, type.p, type.n), who);
}

/* A control request to the hub: the command line as the body. */
static const struct proto_msg *
control(struct ctl *x, const char *cmd)
{
	char id[PROTO_TOKEN_MAX + 1];

	request(x, x->c.hub, "req", cmd, strlen(cmd), id);
	return expect_rep(x, id, x->c.hub);
}

static void
cmd_ping(struct ctl *x, const char *name)
{
	char id[PROTO_TOKEN_MAX + 1];
	long long t0, us;

	if (name == NULL)
		name = x->c.hub;
	t0 = now_us();
	request(x, name, "ping", NULL, 0, id);
	(void)expect_rep(x, id, name);
	us = now_us() - t0;
	if (x->json) {
		printf("{\"name\":");
		puts_json(name, strlen(name));
		printf(",\"ms\":%lld.%03lld}\n", us / 1000, us % 1000);
	} else {
		printf("%s\t%lld.%03lld\n", name, us / 1000, us % 1000);
	}
}

static void DS_NORETURN
bad_line(const char *what, const char *p, size_t n)
{
	char shown[120];

	err_die(DS_EXIT_DATA, "bad line in the hub's %s reply: '%s'", what,
	    err_printable(shown, sizeof shown, p, n));
}

/*
 * Cut a body of lines of nf fields separated by tabs (the last one takes
 * the rest of the line) and call fn for each.  A line with fewer tabs,
 * one that fn refuses (returns -1), or a last line without a newline is
 * bad data from the hub.
 */
static void
each_line(const struct proto_msg *m, const char *what, int nf,
    int (*fn)(const struct proto_str *f, int i))
{
	const char *p = m->body, *end = m->body + m->body_len;
	struct proto_str f[4];
	int i = 0, k;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q = p;

		if (nl == NULL)
			err_die(DS_EXIT_DATA, "the hub's %s reply does not end "
			    "in a newline", what);
		for (k = 0; k < nf - 1; k++) {
			const char *tab = memchr(q, '\t', (size_t)(nl - q));

			if (tab == NULL)
				bad_line(what, p, (size_t)(nl - p));
			f[k].p = q;
			f[k].n = (size_t)(tab - q);
			q = tab + 1;
		}
		f[k].p = q;
		f[k].n = (size_t)(nl - q);
		if (fn(f, i++) != 0)
			bad_line(what, p, (size_t)(nl - p));
		p = nl + 1;
	}
}

static int
stat_json(const struct proto_str *f, int i)
{
	putchar(i == 0 ? '{' : ',');
	puts_json(f[0].p, f[0].n);
	putchar(':');
	value_json(f[1].p, f[1].n);
	return 0;
}

static int
name_json(const struct proto_str *f, int i)
{
	(void)i;
	printf("{\"name\":");
	puts_json(f[0].p, f[0].n);
	printf(",\"holders\":");
	value_json(f[1].p, f[1].n);
	printf("}\n");
	return 0;
}

/* name, addr, state, inc: the incarnation must be a number. */
static int
member_json(const struct proto_str *f, int i)
{
	uint64_t inc;

	(void)i;
	if (num_parse_u64(f[3].p, f[3].n, UINT64_MAX, NUM_CANON, &inc) !=
	    NUM_OK)
		return -1;
	printf("{\"name\":");
	puts_json(f[0].p, f[0].n);
	printf(",\"addr\":");
	puts_json(f[1].p, f[1].n);
	printf(",\"state\":");
	puts_json(f[2].p, f[2].n);
	printf(",\"inc\":%llu}\n", (unsigned long long)inc);
	return 0;
}

static void
cmd_stats(struct ctl *x)
{
	const struct proto_msg *m = control(x, "stats\n");

	if (!x->json) {
		put(m->body, (size_t)m->body_len);
		return;
	}
	each_line(m, "stats", 2, stat_json);
	printf(m->body_len == 0 ? "{}\n" : "}\n");
}

static void
cmd_names(struct ctl *x)
{
	const struct proto_msg *m = control(x, "names\n");

	if (!x->json)
		put(m->body, (size_t)m->body_len);
	else
		each_line(m, "names", 2, name_json);
}

/* The members of a dspeer(1) group, from its control socket. */
static void
cmd_members(struct ctl *x)
{
	const struct proto_msg *m = control(x, "members\n");

	if (!x->json)
		put(m->body, (size_t)m->body_len);
	else
		each_line(m, "members", 4, member_json);
}

static void
cmd_kick(struct ctl *x, const char *name)
{
	char cmd[PROTO_NAME_MAX + 8];
	const struct proto_msg *m;
	uint64_t n;
	const char *b;
	size_t len;

	snprintf(cmd, sizeof cmd, "kick %s\n", name);
	m = control(x, cmd);
	if (!x->json) {
		put(m->body, (size_t)m->body_len);
		return;
	}
	/* The hub answers "kicked N". */
	b = m->body;
	len = (size_t)m->body_len;
	if (len > 0 && b[len - 1] == '\n')
		len--;
	if (len < 8 || memcmp(b, "kicked ", 7) != 0 ||
	    num_parse_u64(b + 7, len - 7, UINT64_MAX, 0, &n) != NUM_OK) {
		char shown[120];

		err_die(DS_EXIT_DATA, "unexpected reply to kick: '%s'",
		    err_printable(shown, sizeof shown, b, len));
	}
	printf("{\"name\":");
	puts_json(name, strlen(name));
	printf(",\"kicked\":%llu}\n", (unsigned long long)n);
}

/*
 * The body of call and send: the words joined by spaces, with a
 * newline, or all of standard input when there are none.
 */
static void
body_of(struct ctl *x, char **argv, int argc, struct buf *b)
{
	uint64_t max = x->c.hub_max > 0 && x->c.hub_max < BODY_MAX ?
	    x->c.hub_max : BODY_MAX;
	int i;

	buf_init(b, (size_t)max);
	if (argc > 0) {
		for (i = 0; i < argc; i++)
			if ((i > 0 && buf_append_byte(b, ' ') != BUF_OK) ||
			    buf_append_str(b, argv[i]) != BUF_OK)
				goto long_body;
		if (buf_append_byte(b, '\n') != BUF_OK)
			goto long_body;
		return;
	}
	for (;;) {
		size_t room = b->limit - buf_len(b), want;
		char one;
		ssize_t r;

		if (room == 0) {
			/* Full: one more byte means the input is too long. */
			r = io_read_some(0, &one, 1);
			if (r < 0)
				err_die(DS_EXIT_SYS, "cannot read standard "
				    "input:");
			if (r == 0)
				return;
			goto long_body;
		}
		want = room < 64 * 1024 ? room : 64 * 1024;
		if (buf_reserve(b, want) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
		r = io_read_some(0, buf_tail(b), want);
		if (r < 0)
			err_die(DS_EXIT_SYS, "cannot read standard input:");
		if (r == 0)
			return;
		buf_commit(b, (size_t)r);
	}
long_body:
	err_die(DS_EXIT_DATA, "the body is larger than the hub's limit of "
	    "%llu bytes", (unsigned long long)max);
}

static void
cmd_call(struct ctl *x, const char *name, char **argv, int argc)
{
	char id[PROTO_TOKEN_MAX + 1];
	const struct proto_msg *m;
	struct buf b;

	body_of(x, argv, argc, &b);
	request(x, name, "req", buf_head(&b), buf_len(&b), id);
	buf_free(&b);
	m = expect_rep(x, id, name);
	put(m->body, (size_t)m->body_len);
}

struct send_ctx {
	const char *id;
	const char *name;
	int failed;
};

static void
send_frame(void *ctx, const struct proto_msg *m)
{
	struct send_ctx *s = ctx;
	struct proto_str re = proto_get(m, PF_RE);

	if (s->failed || !proto_str_eq(proto_type(m), "err") || re.p == NULL ||
	    re.n != strlen(s->id) || memcmp(re.p, s->id, re.n) != 0)
		return;
	s->failed = 1;
	die_err_reply(m, s->name);
}

static void
cmd_send(struct ctl *x, const char *name, char **argv, int argc)
{
	char id[PROTO_TOKEN_MAX + 1];
	struct send_ctx s;
	struct buf b;

	body_of(x, argv, argc, &b);
	request(x, name, "msg", buf_head(&b), buf_len(&b), id);
	buf_free(&b);
	s.id = id;
	s.name = name;
	s.failed = 0;
	if (client_sync(&x->c, left_ms(x), send_frame, &s, x->err,
	    sizeof x->err) != 0) {
		if (errno == ETIMEDOUT)
			err_die(DS_EXIT_TIMEOUT, "the hub did not confirm "
			    "within %s s", x->wait_text);
		err_die(client_status(errno), "%s", x->err);
	}
}

static void
check_name(const char *what, const char *name)
{
	char shown[100];

	if (!proto_name_ok(name, strlen(name)))
		err_die(DS_EXIT_USAGE, "%s: bad name '%s': names are 1 to 64 "
		    "bytes of [A-Za-z0-9._-]", what, err_printable(shown,
		    sizeof shown, name, strlen(name)));
}

/* Check a command's arguments before anything is sent. */
static void
check_args(const char *cmd, int nargs, char **args)
{
	static const struct {
		const char *name;
		int min, max;   /* max -1: any number */
	} cmds[] = {
		{ "ping", 0, 1 }, { "stats", 0, 0 }, { "names", 0, 0 },
		{ "call", 1, -1 }, { "send", 1, -1 }, { "kick", 1, 1 },
		{ "shutdown", 0, 0 }, { "members", 0, 0 }, { "leave", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			break;
	if (i == sizeof cmds / sizeof cmds[0]) {
		char shown[100];

		err_warn("unknown command '%s'", err_printable(shown,
		    sizeof shown, cmd, strlen(cmd)));
		usage();
	}
	if (nargs < cmds[i].min || (cmds[i].max >= 0 && nargs > cmds[i].max))
		usage();
	if (nargs > 0)
		check_name(cmd, args[0]);
}

int
main(int argc, char **argv)
{
	static struct ctl x;
	struct client_opts o;
	char name[PROTO_NAME_MAX + 1];
	const char *cmd;
	uint64_t ms;
	int ch;

	err_init("dsctl");
	/* A hub that goes away shows as an error, not as SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof o);
	x.timeout_ms = DEFAULT_WAIT_MS;
	x.wait_text = "10";
	while ((ch = getopt(argc, argv, OPTSTRING)) != -1) {
		switch (ch) {
		case 'j':
			x.json = 1;
			break;
		case 'c':
			o.hubs = optarg;
			break;
		case 'k':
			o.keyfile = optarg;
			break;
		case 'w':
			if (num_parse_seconds(optarg, WAIT_MAX_MS, &ms) !=
			    NUM_OK)
				err_die(DS_EXIT_USAGE, "-w %s: expected seconds, "
				    "such as 10 or 0.5", optarg);
			x.timeout_ms = ms == 0 ? -1 : (int)ms;
			x.wait_text = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	check_args(cmd, argc - 1, argv + 1);

	snprintf(name, sizeof name, "dsctl-%ld", (long)getpid());
	o.name = name;
	o.timeout_ms = x.timeout_ms;
	o.max_body = BODY_MAX;
	if (client_init(&x.c, &o, x.err, sizeof x.err) != 0)
		err_die(errno == EINVAL ? DS_EXIT_USAGE : errno == EBADMSG ?
		    DS_EXIT_DATA : DS_EXIT_SYS, "%s", x.err);
	if (client_connect(&x.c, x.err, sizeof x.err) != 0)
		err_die(client_status(errno), "%s", x.err);

	if (strcmp(cmd, "ping") == 0)
		cmd_ping(&x, argc > 1 ? argv[1] : NULL);
	else if (strcmp(cmd, "stats") == 0)
		cmd_stats(&x);
	else if (strcmp(cmd, "names") == 0)
		cmd_names(&x);
	else if (strcmp(cmd, "call") == 0)
		cmd_call(&x, argv[1], argv + 2, argc - 2);
	else if (strcmp(cmd, "send") == 0)
		cmd_send(&x, argv[1], argv + 2, argc - 2);
	else if (strcmp(cmd, "kick") == 0)
		cmd_kick(&x, argv[1]);
	else if (strcmp(cmd, "members") == 0)
		cmd_members(&x);
	else if (strcmp(cmd, "leave") == 0)
		(void)control(&x, "leave\n");
	else
		(void)control(&x, "shutdown\n");

	if (fflush(stdout) != 0 || ferror(stdout))
		err_die_stdout();
	client_free(&x.c);
	return DS_EXIT_OK;
}
