/*
 * dsrecv: unframe ds1 messages, or serve each one with a command.
 * See dsrecv(1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/child.h"
#include "../lib/err.h"
#include "../lib/fmt.h"
#include "../lib/ident.h"
#include "../lib/io.h"
#include "../lib/num.h"
#include "../lib/proto.h"
#include "../lib/svc.h"

#define USAGE "usage: dsrecv [-H | -l | -0 | -F format] [-f from] [-t to] " \
	"[-n count] [-e command [-N name]] [-M max]"

enum out_mode { OUT_BODY, OUT_FRAME, OUT_LINE, OUT_NUL, OUT_FORMAT };

#define FLUSH_AT (128 * 1024)
#define READ_CHUNK (256 * 1024)

struct config {
	enum out_mode mode;
	const char *format;
	const char *from;       /* -f filter */
	const char *to;         /* -t filter */
	uint64_t count;         /* -n, 0 for no limit */
	const char *command;    /* -e */
	const char *name;       /* -N */
	uint64_t max;           /* -M */
};

struct receiver {
	const struct config *cfg;
	struct outq q;          /* what goes to stdout */
	uint64_t done;          /* messages printed or served */
	char self[PROTO_NAME_MAX + 1];  /* default reply name for -e */
	struct svc_env env;
	struct buf child_out, child_err;
};

/* The one receiver, for the hook that flushes it when dsrecv dies. */
static struct receiver *dying_receiver;

static void
flush_on_die(void)
{
	/* Every good message before a bad one goes out first. */
	if (dying_receiver != NULL)
		(void)outq_flush(&dying_receiver->q);
}

static void
usage(void)
{
	fprintf(stderr, "%s\n", USAGE);
	exit(DS_EXIT_USAGE);
}

static void
flush(struct receiver *r)
{
	if (outq_flush(&r->q) < 0)
		err_die_stdout();
}

/*
 * Queue bytes for stdout.  Large ones (bodies in the input buffer) are
 * queued by pointer; run() flushes before the next read can move them.
 */
static void
put(struct receiver *r, const void *p, size_t n)
{
	if (outq_put(&r->q, p, n) < 0)
		err_die_stdout();
}

/* Put a body and the byte that ends it, in one step when small. */
static void
put_ended(struct receiver *r, const char *p, size_t n, char end)
{
	struct buf *b = &r->q.copy;

	if (n >= OUTQ_BORROW_AT) {
		put(r, p, n);
		put(r, &end, 1);
		return;
	}
	if (buf_room(b) <= n && buf_reserve(b, n + 1) != BUF_OK)
		err_die(DS_EXIT_SYS, "out of memory");
	memcpy(buf_tail(b), p, n);
	buf_tail(b)[n] = end;
	buf_commit(b, n + 1);
}

static int
filtered_in(const struct config *cfg, const struct proto_msg *m)
{
	if (cfg->from != NULL && !proto_str_eq(proto_get(m, PF_FROM),
	    cfg->from))
		return 0;
	if (cfg->to != NULL && !proto_str_eq(proto_get(m, PF_TO), cfg->to))
		return 0;
	return 1;
}

/* Does m pass the -f and -t filters?  Most runs have none. */
#define matches(cfg, m) \
	(((cfg)->from == NULL && (cfg)->to == NULL) || filtered_in(cfg, m))

/* The name a reply to m comes from: -N, else the name it was sent to. */
static const char *
reply_name(struct receiver *r, const struct proto_msg *m, char *tmp)
{
	struct proto_str to = proto_get(m, PF_TO);

	if (r->cfg->name != NULL)
		return r->cfg->name;
	if (!proto_str_eq(to, "*")) {
		memcpy(tmp, to.p, to.n);
		tmp[to.n] = '\0';
		return tmp;
	}
	/* A broadcast names nobody; answer as this host. */
	return r->self;
}

static void
serve(struct receiver *r, const struct proto_msg *m)
{
	char tmp[PROTO_NAME_MAX + 1];
	const char *self = reply_name(r, m, tmp);
	struct child_result res;
	int rc;

	/* The child's output must reach stdout after what came before. */
	flush(r);
	if (svc_env_build(&r->env, m, self) < 0)
		err_die(DS_EXIT_SYS, "out of memory");
	buf_clear(&r->child_out);
	buf_clear(&r->child_err);
	if (child_run(r->cfg->command, r->env.envp, m->body,
	    (size_t)m->body_len, -1, &r->child_out, &r->child_err, &res) < 0)
		err_die(DS_EXIT_SYS, "cannot run the command:");
	if (res.status == 0 && buf_len(&r->child_err) > 0 &&
	    io_write_all(2, buf_head(&r->child_err),
	    buf_len(&r->child_err)) < 0)
		err_warn("cannot write to standard error:");
	rc = svc_reply(&r->q.copy, m, self, &res, &r->child_out,
	    &r->child_err, r->cfg->max);
	if (rc != 0)
		err_die(DS_EXIT_SYS, "cannot encode the reply: %s",
		    proto_strerror(rc));
	flush(r);
}

/* Handle one message; returns 1 once -n count is reached. */
static int
handle(struct receiver *r, const struct proto_msg *m)
{
	const struct config *cfg = r->cfg;

	if (cfg->command != NULL) {
		/* Frames that are not served pass through, for chaining. */
		if (!matches(cfg, m) || !svc_wants(m)) {
			put(r, m->frame, m->frame_len);
			return 0;
		}
		serve(r, m);
	} else {
		if (!matches(cfg, m))
			return 0;
		switch (cfg->mode) {
		case OUT_BODY:
			put(r, m->body, (size_t)m->body_len);
			break;
		case OUT_LINE:
			put_ended(r, m->body, (size_t)m->body_len, '\n');
			break;
		case OUT_NUL:
			put_ended(r, m->body, (size_t)m->body_len, '\0');
			break;
		case OUT_FRAME:
			put(r, m->frame, m->frame_len);
			break;
		case OUT_FORMAT:
			if (fmt_render(&r->q, cfg->format, m) < 0)
				err_die_stdout();
			break;
		}
	}
	if (buf_len(&r->q.copy) >= FLUSH_AT)
		flush(r);
	r->done++;
	return cfg->count != 0 && r->done >= cfg->count;
}

/* The flush-on-die hook writes out every good message first. */
static void
bad_input(const struct proto_parser *p)
{
	err_die(DS_EXIT_DATA, "message %llu at byte %llu: %s",
	    (unsigned long long)p->nmsg + 1,
	    (unsigned long long)p->err_off, p->err);
}

static int
run(struct receiver *r)
{
	struct proto_parser p;
	struct buf in;

	proto_parser_init(&p, r->cfg->max);
	/* One frame at most, plus one read's worth. */
	buf_init(&in, PROTO_HDR_MAX + (size_t)r->cfg->max + 1 + READ_CHUNK);
	/*
	 * A read usually ends inside a frame, whose start must then slide
	 * to the front before the next read.  With room for several reads
	 * that happens seldom, so large bodies are not copied twice.
	 */
	(void)buf_reserve(&in, 4 * READ_CHUNK);
	for (;;) {
		size_t want = READ_CHUNK;
		ssize_t got;
		int rc;

		/* For a large body, read the rest of it in one go. */
		if (p.need > buf_len(&in) + want)
			want = p.need - buf_len(&in);
		if (buf_reserve(&in, want) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
		got = io_read_some(0, buf_tail(&in), want);
		if (got < 0)
			err_die(DS_EXIT_SYS, "cannot read standard input:");
		if (got == 0) {
			if (proto_parse_eof(&p, buf_head(&in), buf_len(&in)))
				bad_input(&p);
			break;
		}
		buf_commit(&in, (size_t)got);
		while ((rc = proto_parse(&p, buf_head(&in), buf_len(&in))) ==
		    PROTO_MSG) {
			int stop = handle(r, &p.msg);

			buf_consume(&in, p.msg.frame_len);
			if (stop)
				goto done;
		}
		if (rc == PROTO_ERR)
			bad_input(&p);
		/* Waiting for input: what we have must not wait with us. */
		flush(r);
	}
done:
	flush(r);
	buf_free(&in);
	return DS_EXIT_OK;
}

static void
set_mode(struct config *cfg, enum out_mode m, int *seen)
{
	if (*seen && cfg->mode != m) {
		err_warn("-H, -l, -0 and -F are exclusive");
		usage();
	}
	*seen = 1;
	cfg->mode = m;
}

int
main(int argc, char *argv[])
{
	struct config cfg;
	struct receiver r;
	int c, seen = 0, rc;

	err_init(argv[0]);
	memset(&cfg, 0, sizeof cfg);
	cfg.max = PROTO_BODY_DEFAULT;
	while ((c = getopt(argc, argv, "Hl0F:f:t:n:e:N:M:")) != -1) {
		switch (c) {
		case 'H':
			set_mode(&cfg, OUT_FRAME, &seen);
			break;
		case 'l':
			set_mode(&cfg, OUT_LINE, &seen);
			break;
		case '0':
			set_mode(&cfg, OUT_NUL, &seen);
			break;
		case 'F':
			set_mode(&cfg, OUT_FORMAT, &seen);
			cfg.format = optarg;
			break;
		case 'f':
			cfg.from = optarg;
			if (!proto_name_ok(optarg, strlen(optarg)))
				err_die(DS_EXIT_USAGE, "-f %s: names are 1 to "
				    "64 bytes of [A-Za-z0-9._-]", optarg);
			break;
		case 't':
			cfg.to = optarg;
			if (!proto_to_ok(optarg, strlen(optarg)))
				err_die(DS_EXIT_USAGE, "-t %s: names are 1 to "
				    "64 bytes of [A-Za-z0-9._-], or '*'",
				    optarg);
			break;
		case 'n':
			if (num_parse_u64(optarg, strlen(optarg), UINT64_MAX,
			    0, &cfg.count) != NUM_OK || cfg.count == 0)
				err_die(DS_EXIT_USAGE, "-n %s: expected a "
				    "count of 1 or more", optarg);
			break;
		case 'e':
			cfg.command = optarg;
			break;
		case 'N':
			cfg.name = optarg;
			if (!proto_name_ok(optarg, strlen(optarg)))
				err_die(DS_EXIT_USAGE, "-N %s: names are 1 to "
				    "64 bytes of [A-Za-z0-9._-]", optarg);
			break;
		case 'M':
			if (num_parse_size(optarg, 0, PROTO_BODY_MAX,
			    &cfg.max) != NUM_OK)
				err_die(DS_EXIT_USAGE, "-M %s: expected a size "
				    "such as 65536, 64k or 16M", optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc) {
		err_warn("unexpected argument: %s", argv[optind]);
		usage();
	}
	if (cfg.command != NULL && seen) {
		err_warn("-e writes reply frames; it takes no -H, -l, -0 "
		    "or -F");
		usage();
	}
	if (cfg.name != NULL && cfg.command == NULL) {
		err_warn("-N names the service of -e");
		usage();
	}
	if (cfg.mode == OUT_FORMAT) {
		char why[80];

		if (fmt_check(cfg.format, why, sizeof why) < 0)
			err_die(DS_EXIT_USAGE, "-F: %s", why);
	}

	memset(&r, 0, sizeof r);
	r.cfg = &cfg;
	outq_init(&r.q, 1);
	/* Room for a full batch up front keeps the per-message path short. */
	if (buf_reserve(&r.q.copy, FLUSH_AT + 4096) != BUF_OK)
		err_die(DS_EXIT_SYS, "out of memory");
	if (cfg.command != NULL) {
		char why[160];

		/* Checked now, not at the first broadcast it answers. */
		if (ident_default(r.self, why, sizeof why) < 0)
			err_die(DS_EXIT_USAGE, "%s", why);
		/* A handler that exits without reading must not kill us. */
		signal(SIGPIPE, SIG_IGN);
		svc_env_init(&r.env);
		buf_init(&r.child_out, (size_t)cfg.max);
		buf_init(&r.child_err, (size_t)cfg.max);
	}
	io_grow_pipe(0);
	dying_receiver = &r;
	err_on_die(flush_on_die);
	rc = run(&r);
	outq_free(&r.q);
	if (cfg.command != NULL) {
		svc_env_free(&r.env);
		buf_free(&r.child_out);
		buf_free(&r.child_err);
	}
	return rc;
}
