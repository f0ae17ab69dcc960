/*
 * dsctl: talk to a hub.  Ping it or a client, read its counters and
 * names, call a service and print the reply, send a message, kick a
 * name, shut the hub down; or, on a dspeer's control socket, list the
 * members of its group and make it leave.  See dsctl(1).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../lib/buf.h"
#include "../lib/client.h"
#include "../lib/err.h"
#include "../lib/io.h"
#include "../lib/jobmap.h"
#include "../lib/num.h"
#include "../lib/proto.h"

#define USAGE "usage: dsctl [-j] [-c address] [-k keyfile] [-w timeout] " \
	"command [arg ...]"

/* glibc permutes arguments unless told not to; the command's own
 * arguments may start with '-'. */
#ifdef __GLIBC__
#define OPTSTRING "+jc:k:w:"
#define MAP_OPTSTRING "+0quP:w:r:J:"
#else
#define OPTSTRING "jc:k:w:"
#define MAP_OPTSTRING "0quP:w:r:J:"
#endif
#define MAP_USAGE "usage: dsctl [-c address] [-k keyfile] map [-0qu] " \
	"[-P jobs] [-w seconds] [-r retries] [-J joblog] name"

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

/*
 * map: each input item a request to one name, through lib/jobmap.  The
 * loop reads standard input only as jobs can start, keeps at most -P in
 * flight, and writes the replies as their turn comes.
 */
#define MAP_CHUNK (64 * 1024)
/* Bytes queued for the hub past which no more jobs start until it reads. */
#define MAP_SEND_HIGH (256 * 1024)
/* The progress line is drawn at most this often. */
#define PROGRESS_MS 200
/*
 * Output queued for a pipe or terminal past which no more jobs start
 * until the reader catches up.  The replies of the jobs in flight are
 * still read and queued, so the hub never sees us as a slow consumer.
 */
#define MAP_OUT_HIGH (1024 * 1024)

struct map_opts {
	const char *name;
	char sep;                /* '\n', or '\0' with -0 */
	int unordered;           /* -u */
	int quiet;               /* -q */
	unsigned inflight;       /* -P */
	unsigned retries;        /* -r */
	long long timeout_ms;    /* -w; 0: none */
	const char *wait_text;
	const char *joblog;      /* -J */
};

struct map_run {
	struct ctl *x;
	const struct map_opts *o;
	struct jobmap m;
	struct buf in;           /* standard input not yet cut into items */
	size_t scanned;          /* bytes of in known to hold no separator */
	size_t item_max;         /* the hub's body limit */
	int in_eof;
	FILE *log;
	int progress;            /* draw the progress line */
	int out_tty;             /* stdout is a terminal too */
	int out_queued;          /* stdout is a pipe, socket or terminal */
	struct buf outq;         /* what waits to be written there */
	int shown;               /* the progress line is on the screen */
	long long next_draw;
};

static struct map_run *map_now;

static void DS_NORETURN map_lost(struct map_run *r);

static void
map_usage(void)
{
	fprintf(stderr, "%s\n", MAP_USAGE);
	exit(DS_EXIT_USAGE);
}

static void
map_options(int argc, char **argv, struct map_opts *mo)
{
	uint64_t v;
	int ch;

	memset(mo, 0, sizeof *mo);
	mo->sep = '\n';
	mo->inflight = JOBMAP_INFLIGHT_DEFAULT;
	/* Again from "map", with our own words for a bad option. */
	optind = 1;
	opterr = 0;
	while ((ch = getopt(argc, argv, MAP_OPTSTRING)) != -1) {
		switch (ch) {
		case '0':
			mo->sep = '\0';
			break;
		case 'u':
			mo->unordered = 1;
			break;
		case 'q':
			mo->quiet = 1;
			break;
		case 'P':
			if (num_parse_u64(optarg, strlen(optarg),
			    JOBMAP_INFLIGHT_MAX, 0, &v) != NUM_OK || v == 0)
				err_die(DS_EXIT_USAGE, "map: -P %s: expected a "
				    "number from 1 to %u", optarg,
				    JOBMAP_INFLIGHT_MAX);
			mo->inflight = (unsigned)v;
			break;
		case 'r':
			if (num_parse_u64(optarg, strlen(optarg),
			    JOBMAP_RETRIES_MAX, 0, &v) != NUM_OK)
				err_die(DS_EXIT_USAGE, "map: -r %s: expected a "
				    "number from 0 to %u", optarg,
				    JOBMAP_RETRIES_MAX);
			mo->retries = (unsigned)v;
			break;
		case 'w':
			if (num_parse_seconds(optarg, WAIT_MAX_MS, &v) != NUM_OK)
				err_die(DS_EXIT_USAGE, "map: -w %s: expected "
				    "seconds, such as 10 or 0.5", optarg);
			mo->timeout_ms = (long long)v;
			mo->wait_text = optarg;
			break;
		case 'J':
			mo->joblog = optarg;
			break;
		default:
			if (optopt != 0 && strchr("PwrJ", optopt) != NULL)
				err_warn("map: -%c needs an argument", optopt);
			else if (optopt > ' ' && optopt < 0x7f)
				err_warn("map: unknown option -%c", optopt);
			map_usage();
		}
	}
	if (argc - optind != 1)
		map_usage();
	mo->name = argv[optind];
	check_name("map", mo->name);
}

static void
progress_clear(struct map_run *r)
{
	if (r->shown) {
		(void)io_write_all(2, "\r\033[K", 4);
		r->shown = 0;
	}
}

static void
progress_draw(struct map_run *r, long long now)
{
	char line[160];
	size_t n;

	if (!r->progress || now < r->next_draw)
		return;
	r->next_draw = now + PROGRESS_MS;
	if (fflush(stdout) != 0)
		err_die_stdout();
	memcpy(line, "\rdsctl: map: ", 13);
	n = 13 + jobmap_progress(&r->m, now, line + 13, sizeof line - 16);
	memcpy(line + n, "\033[K", 3);
	(void)io_write_all(2, line, n + 3);
	r->shown = 1;
}

/*
 * Standard output.  A file takes the outputs through stdio at once.  To
 * a pipe, socket or terminal, whose reader may pause, they are queued
 * and written when poll(2) says there is room, at most PIPE_BUF bytes at
 * a time so that the write does not block: the loop goes on reading the
 * hub's replies meanwhile.
 */
static void
out_put(struct map_run *r, const char *p, size_t n)
{
	if (!r->out_queued)
		put(p, n);
	else if (n > 0 && buf_append(&r->outq, p, n) != BUF_OK)
		err_die(DS_EXIT_SYS, "map: out of memory");
}

/* Write what poll(2) said there is room for. */
static void
out_some(struct map_run *r)
{
	size_t n = buf_len(&r->outq);
	ssize_t w;

	if (n == 0)
		return;
	if (r->out_tty)
		progress_clear(r);
	if (n > PIPE_BUF)
		n = PIPE_BUF;
	w = write(1, buf_head(&r->outq), n);
	if (w < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		err_die_stdout();
	}
	buf_consume(&r->outq, (size_t)w);
}

/* Write everything, waiting as long as it takes. */
static void
out_drain(struct map_run *r)
{
	if (r->out_tty)
		progress_clear(r);
	if (buf_len(&r->outq) > 0) {
		if (io_write_all(1, buf_head(&r->outq), buf_len(&r->outq)) != 0)
			err_die_stdout();
		buf_clear(&r->outq);
	}
	if (fflush(stdout) != 0)
		err_die_stdout();
}

/* Before dying: what is finished is written, the line goes. */
static void
map_on_die(void)
{
	struct map_run *r = map_now;

	if (r == NULL)
		return;
	progress_clear(r);
	if (r->log != NULL)
		(void)fflush(r->log);
	if (buf_len(&r->outq) > 0)
		(void)io_write_all(1, buf_head(&r->outq), buf_len(&r->outq));
	(void)fflush(stdout);
}

static void
log_job(struct map_run *r, const struct jobmap_job *j)
{
	char line[256];
	size_t n;

	if (r->log == NULL)
		return;
	n = jobmap_joblog_line(&r->m, j, line, sizeof line);
	if (fwrite(line, 1, n, r->log) != n)
		err_die(DS_EXIT_SYS, "map: cannot write the joblog %s:",
		    r->o->joblog);
}

/* Copy a field's decoded value into dst (of size n + 1 at least). */
static const char *
field(const struct proto_msg *m, const char *key, char *dst, size_t size,
    size_t *len)
{
	struct proto_str v = proto_lookup(m, key);
	long n;

	if (v.p == NULL || v.n >= size || (n = proto_decode(v.p, v.n,
	    dst)) < 0)
		return NULL;
	dst[n] = '\0';
	*len = (size_t)n;
	return dst;
}

static void
map_frame(struct map_run *r, const struct proto_msg *msg, long long now)
{
	static char worker[PROTO_HDR_MAX];
	char re[PROTO_TOKEN_MAX + 1], status[32];
	struct proto_str type = proto_type(msg), from;
	struct jobmap_reply rp;
	struct jobmap_job *done;
	int rc;

	if (!proto_str_eq(type, "rep") && !proto_str_eq(type, "err"))
		return;
	memset(&rp, 0, sizeof rp);
	rp.is_err = proto_str_eq(type, "err");
	if ((rp.re = field(msg, "re", re, sizeof re, &rp.re_len)) == NULL)
		return;
	rp.status = field(msg, "status", status, sizeof status,
	    &rp.status_len);
	rp.worker = field(msg, "worker", worker, sizeof worker,
	    &rp.worker_len);
	from = proto_get(msg, PF_FROM);
	rp.from = from.p;
	rp.from_len = from.n;
	rp.body = msg->body;
	rp.body_len = (size_t)msg->body_len;
	rc = jobmap_reply(&r->m, &rp, now, &done);
	if (rc == JOBMAP_NOMEM)
		err_die(DS_EXIT_SYS, "map: out of memory");
	if (rc == JOBMAP_FINISHED)
		log_job(r, done);
}

static void
map_replies(struct map_run *r, long long now)
{
	const struct proto_msg *msg;
	int rc;

	while ((rc = client_next(&r->x->c, &msg, r->x->err,
	    sizeof r->x->err)) == 1)
		map_frame(r, msg, now);
	/* A frame cut short by the hub's close is the hub going away. */
	if (rc < 0 && r->x->c.eof)
		map_lost(r);
	if (rc < 0)
		err_die(client_status(errno), "map: %s", r->x->err);
}

static void
map_expire(struct map_run *r, long long now)
{
	struct jobmap_job *done;
	int rc;

	while ((rc = jobmap_expire(&r->m, now, &done)) != JOBMAP_NONE)
		if (rc == JOBMAP_FINISHED)
			log_job(r, done);
}

/* Cut the next item out of what standard input gave; 1 when one was. */
static int
map_item(struct map_run *r)
{
	size_t len;
	int rc = jobmap_cut(buf_head(&r->in), buf_len(&r->in), r->o->sep,
	    r->in_eof, r->item_max, &r->scanned, &len);

	if (rc == JOBMAP_CUT_LONG)
		err_die(DS_EXIT_DATA, "map: item %llu is larger than the "
		    "hub's limit of %llu bytes",
		    (unsigned long long)r->m.next_seq,
		    (unsigned long long)r->item_max);
	if (rc == JOBMAP_CUT_MORE) {
		if (r->in_eof && !r->m.input_ended)
			jobmap_end_input(&r->m);
		return 0;
	}
	if (jobmap_add(&r->m, buf_head(&r->in), len, r->o->sep) != 0)
		err_die(DS_EXIT_SYS, "map: out of memory");
	buf_consume(&r->in, len);
	return 1;
}

/* Room to start jobs: the hub takes what we send, stdout what we write. */
static int
map_may_send(const struct map_run *r)
{
	return client_pending(&r->x->c) < MAP_SEND_HIGH &&
	    buf_len(&r->outq) < MAP_OUT_HIGH;
}

/* Start what may start: retries first, then new items. */
static void
map_feed(struct map_run *r, long long now)
{
	struct jobmap_job *j;
	struct proto_hdr h;

	memset(&h, 0, sizeof h);
	h.from = r->x->c.name;
	h.to = r->o->name;
	h.type = "req";
	for (;;) {
		while (map_may_send(r) && (j = jobmap_start(&r->m, now)) !=
		    NULL) {
			h.id = j->id;
			if (client_send(&r->x->c, &h, j->item, j->item_len) !=
			    0)
				err_die(client_status(errno), "map: cannot "
				    "send to %s:", r->o->name);
		}
		if (!map_may_send(r) || !jobmap_can_add(&r->m) ||
		    !map_item(r))
			return;
	}
}

static void
map_outputs(struct map_run *r)
{
	struct jobmap_job *j;

	while ((j = jobmap_output(&r->m)) != NULL) {
		if (j->result == JOBMAP_REP) {
			out_put(r, j->out, j->out_len);
		} else {
			/* The two streams in order, for a terminal that shows both. */
			out_drain(r);
			progress_clear(r);
			if (j->result == JOBMAP_TIMEOUT)
				err_warn("map: job %llu: no reply within %s s",
				    (unsigned long long)j->seq,
				    r->o->wait_text);
			else if (j->out_len == 0)
				err_warn("map: job %llu: error reply from %s "
				    "(status=%lu)", (unsigned long long)j->seq,
				    j->worker, j->status);
			else if (io_write_all(2, j->out, j->out_len) == 0 &&
			    j->out[j->out_len - 1] != '\n')
				(void)io_write_all(2, "\n", 1);
		}
		jobmap_emitted(&r->m, j);
	}
}

static void
map_read_input(struct map_run *r)
{
	ssize_t n;

	if (buf_reserve(&r->in, MAP_CHUNK) != BUF_OK)
		err_die(DS_EXIT_SYS, "map: out of memory");
	n = read(0, buf_tail(&r->in), MAP_CHUNK);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		err_die(DS_EXIT_SYS, "map: cannot read standard input:");
	}
	if (n == 0)
		r->in_eof = 1;
	else
		buf_commit(&r->in, (size_t)n);
}

/* The hub went away: exit 3, as the other commands do. */
static void DS_NORETURN
map_lost(struct map_run *r)
{
	err_die(DS_EXIT_SYS, "map: lost the hub at %s; %llu jobs done, %llu "
	    "unfinished", r->x->c.addr, (unsigned long long)r->m.n_done,
	    (unsigned long long)jobmap_pending(&r->m));
}

/* Wait for input that is wanted, replies, room to write, or a deadline. */
static void
map_wait(struct map_run *r)
{
	struct client *c = &r->x->c;
	struct pollfd pfd[4];
	int n = 0, in = -1, hub = -1, out = -1, std = -1;
	long long deadline = jobmap_next_deadline(&r->m);
	ssize_t got;

	if (!r->in_eof && jobmap_can_add(&r->m) && map_may_send(r)) {
		pfd[n].fd = 0;
		pfd[n].events = POLLIN;
		in = n++;
	}
	pfd[n].fd = client_fd_in(c);
	pfd[n].events = POLLIN;
	hub = n++;
	if (client_pending(c) > 0) {
		if (client_fd_out(c) == client_fd_in(c)) {
			pfd[hub].events |= POLLOUT;
			out = hub;
		} else {
			pfd[n].fd = client_fd_out(c);
			pfd[n].events = POLLOUT;
			out = n++;
		}
	}
	if (buf_len(&r->outq) > 0) {
		pfd[n].fd = 1;
		pfd[n].events = POLLOUT;
		std = n++;
	}
	if (r->progress && (deadline < 0 || r->next_draw < deadline))
		deadline = r->next_draw;
	if (poll(pfd, (nfds_t)n, io_remaining_ms(deadline)) < 0) {
		if (errno == EINTR)
			return;
		err_die(DS_EXIT_SYS, "map: poll:");
	}
	if (in >= 0 && pfd[in].revents != 0)
		map_read_input(r);
	if (pfd[hub].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
		got = client_read(c, r->x->err, sizeof r->x->err);
		if (got < 0 && errno != EAGAIN)
			map_lost(r);
	}
	if (out >= 0 && (pfd[out].revents & (POLLOUT | POLLHUP | POLLERR)) &&
	    client_write(c) != 0)
		map_lost(r);
	if (std >= 0 && pfd[std].revents != 0)
		out_some(r);
}

static void
cmd_map(struct ctl *x, const struct map_opts *mo, FILE *log)
{
	static struct map_run r;
	struct jobmap_cfg cfg;
	struct timespec ts;
	struct stat st;
	long long now;
	char summary[160];

	memset(&r, 0, sizeof r);
	r.x = x;
	r.o = mo;
	r.log = log;
	r.item_max = x->c.hub_max > 0 && x->c.hub_max < BODY_MAX ?
	    (size_t)x->c.hub_max : (size_t)BODY_MAX;
	buf_init(&r.in, r.item_max + MAP_CHUNK);
	r.progress = !mo->quiet && isatty(2);
	r.out_tty = isatty(1);
	r.out_queued = fstat(1, &st) == 0 && (S_ISFIFO(st.st_mode) ||
	    S_ISSOCK(st.st_mode) || r.out_tty);
	buf_init(&r.outq, SIZE_MAX);
	memset(&cfg, 0, sizeof cfg);
	cfg.max_inflight = mo->inflight;
	cfg.retries = mo->retries;
	cfg.timeout_ms = mo->timeout_ms;
	cfg.unordered = mo->unordered;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = io_now_ms();
	cfg.wall0_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	cfg.mono0_ms = now;
	jobmap_init(&r.m, &cfg);
	r.next_draw = now + PROGRESS_MS;
	map_now = &r;
	err_on_die(map_on_die);

	for (;;) {
		now = io_now_ms();
		map_replies(&r, now);
		map_expire(&r, now);
		map_feed(&r, now);
		map_outputs(&r);
		if (jobmap_finished(&r.m))
			break;
		if (x->c.eof)
			map_lost(&r);
		if (client_write(&x->c) != 0)
			map_lost(&r);
		progress_draw(&r, now);
		if (fflush(stdout) != 0)
			err_die_stdout();
		if (log != NULL && fflush(log) != 0)
			err_die(DS_EXIT_SYS, "map: cannot write the joblog "
			    "%s:", mo->joblog);
		map_wait(&r);
	}
	out_drain(&r);
	progress_clear(&r);
	if (fflush(stdout) != 0 || ferror(stdout))
		err_die_stdout();
	buf_free(&r.outq);
	if (log != NULL && (fflush(log) != 0 || ferror(log) || fclose(log) !=
	    0)) {
		r.log = NULL;
		err_die(DS_EXIT_SYS, "map: cannot write the joblog %s:",
		    mo->joblog);
	}
	r.log = NULL;
	buf_free(&r.in);
	if (jobmap_summary(&r.m, summary, sizeof summary) > 0) {
		jobmap_free(&r.m);
		map_now = NULL;
		err_die(DS_EXIT_DATA, "map: %s", summary);
	}
	jobmap_free(&r.m);
	map_now = NULL;
}

int
main(int argc, char **argv)
{
	static struct ctl x;
	struct client_opts o;
	struct map_opts mo;
	FILE *log = NULL;
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
	if (strcmp(cmd, "map") == 0) {
		map_options(argc, argv, &mo);
		/* The joblog is made before anything is sent. */
		if (mo.joblog != NULL && (log = fopen(mo.joblog, "w")) ==
		    NULL)
			err_die(DS_EXIT_SYS, "map: cannot create the joblog "
			    "%s:", mo.joblog);
		if (log != NULL && fputs(jobmap_joblog_header(), log) == EOF)
			err_die(DS_EXIT_SYS, "map: cannot write the joblog "
			    "%s:", mo.joblog);
	} else {
		check_args(cmd, argc - 1, argv + 1);
	}

	snprintf(name, sizeof name, "dsctl-%ld", (long)getpid());
	o.name = name;
	o.timeout_ms = x.timeout_ms;
	o.max_body = BODY_MAX;
	if (client_init(&x.c, &o, x.err, sizeof x.err) != 0)
		err_die(errno == EINVAL ? DS_EXIT_USAGE : errno == EBADMSG ?
		    DS_EXIT_DATA : DS_EXIT_SYS, "%s", x.err);
	if (client_connect(&x.c, x.err, sizeof x.err) != 0)
		err_die(client_status(errno), "%s", x.err);

	if (strcmp(cmd, "map") == 0)
		cmd_map(&x, &mo, log);
	else if (strcmp(cmd, "ping") == 0)
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
