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
#include "../lib/client.h"
#include "../lib/err.h"
#include "../lib/fmt.h"
#include "../lib/ident.h"
#include "../lib/io.h"
#include "../lib/num.h"
#include "../lib/proto.h"
#include "../lib/relay.h"
#include "../lib/svc.h"

#define USAGE "usage: dsrecv [-H | -l | -0 | -F format] [-f from] [-t to] " \
	"[-n count] [-e command] [-N name] [-c address [-R] [-k keyfile]] " \
	"[-M max]"

enum out_mode { OUT_BODY, OUT_FRAME, OUT_LINE, OUT_NUL, OUT_FORMAT };

#define FLUSH_AT (128 * 1024)
#define READ_CHUNK (256 * 1024)

/* -c: the hello, per hub, and the last replies before an exit. */
#define HUB_CONNECT_MS 10000
#define HUB_FINISH_MS 10000
/*
 * -R: the waits between attempts.  A connection that lasted the longest
 * wait starts the next round of waits from the shortest again.
 */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct config {
	enum out_mode mode;
	const char *format;
	const char *from;       /* -f filter */
	const char *to;         /* -t filter */
	uint64_t count;         /* -n, 0 for no limit */
	const char *command;    /* -e */
	const char *name;       /* -N */
	uint64_t max;           /* -M */
	const char *hubs;       /* -c */
	const char *keyfile;    /* -k */
	int reconnect;          /* -R */
	int hub_std;            /* -c -: the hub is stdin and stdout */
};

struct receiver {
	const struct config *cfg;
	struct outq q;          /* what goes to stdout */
	uint64_t done;          /* messages printed or served */
	char self[PROTO_NAME_MAX + 1];  /* default reply name for -e */
	struct svc_env env;
	struct buf child_out, child_err;
	struct client *hub;     /* -c: frames come from, replies go to it */
	struct relay relay;
	struct buf reply;       /* -c: a reply on its way to the hub */
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

/* -c: the reply goes back through the hub, within the hub's limit. */
static void
serve_to_hub(struct receiver *r, const struct proto_msg *m,
    const char *self, const struct child_result *res)
{
	uint64_t max = r->cfg->max;
	int rc;

	if (r->hub->hub_max > 0 && r->hub->hub_max < max)
		max = r->hub->hub_max;
	buf_clear(&r->reply);
	rc = svc_reply(&r->reply, m, self, res, &r->child_out, &r->child_err,
	    max);
	if (rc != 0)
		err_die(DS_EXIT_SYS, "cannot encode the reply: %s",
		    proto_strerror(rc));
	if (client_send_raw(r->hub, buf_head(&r->reply),
	    buf_len(&r->reply)) < 0)
		err_die(DS_EXIT_SYS, "out of memory");
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
	if (r->hub != NULL) {
		serve_to_hub(r, m, self, &res);
		return;
	}
	rc = svc_reply(&r->q.copy, m, self, &res, &r->child_out,
	    &r->child_err, r->cfg->max);
	if (rc != 0)
		err_die(DS_EXIT_SYS, "cannot encode the reply: %s",
		    proto_strerror(rc));
	flush(r);
}

/*
 * -c -: the standard output is the hub, so what is not served has no
 * place to go.  An error is worth a line on stderr; the rest is dropped.
 */
static void
not_served(const struct proto_msg *m)
{
	struct proto_str from = proto_get(m, PF_FROM), re = proto_get(m, PF_RE);
	char f[PROTO_NAME_MAX * 4 + 4], id[PROTO_TOKEN_MAX * 4 + 4], b[400];
	size_t n = (size_t)m->body_len;

	if (!proto_str_eq(proto_type(m), "err"))
		return;
	while (n > 0 && m->body[n - 1] == '\n')
		n--;
	err_warn("err from %s re %s: %s", err_printable(f, sizeof f, from.p,
	    from.n), re.p != NULL ? err_printable(id, sizeof id, re.p, re.n) :
	    "-", err_printable(b, sizeof b, m->body, n));
}

/* Handle one message; returns 1 once -n count is reached. */
static int
handle(struct receiver *r, const struct proto_msg *m)
{
	const struct config *cfg = r->cfg;

	if (cfg->command != NULL) {
		/* Frames that are not served pass through, for chaining. */
		if (!matches(cfg, m) || !svc_wants(m)) {
			if (cfg->hub_std)
				not_served(m);
			else
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

/* -c: each frame from the hub, handled as one from stdin would be. */
static void
hub_frame(void *ctx, const struct proto_msg *m)
{
	struct receiver *r = ctx;

	if (handle(r, m))
		r->relay.stop = 1;
	/* A body queued by pointer lives in the client's buffer. */
	if (r->q.borrowed > 0)
		flush(r);
}

/* -c: before the pump waits, what we have must not wait with it. */
static void
hub_idle(void *ctx)
{
	flush(ctx);
}

/*
 * -c: connect, or with -R keep trying, with backoff, until a hub takes
 * us.  A hub that refused us (a key, a name) is not tried again.
 */
static void
hub_connect(struct receiver *r, struct relay_backoff *bo, int again)
{
	char err[512];
	int warned = 0;

	for (;;) {
		int e;

		if (client_connect(r->hub, err, sizeof err) == 0) {
			if (again || warned)
				err_warn("connected to the hub at %s",
				    r->hub->addr);
			return;
		}
		e = errno;
		if (!r->cfg->reconnect || e == EACCES || e == EPROTO ||
		    e == EINVAL)
			err_die(client_status(e), "%s", err);
		if (!warned)
			err_warn("%s; retrying", err);
		warned = 1;
		(void)relay_sleep(relay_backoff_next(bo));
	}
}

/*
 * -n was reached: let the replies out, and with -e make sure the hub
 * has them before we go; frames that come meanwhile are not ours to take.
 */
static void
hub_finish(struct receiver *r)
{
	char err[512];
	int rc;

	r->relay.stop = 0;
	r->relay.on_frame = NULL;
	rc = relay_pump(&r->relay, -1, 0, HUB_FINISH_MS, err, sizeof err);
	if (rc == RELAY_DRAINED && r->cfg->command != NULL)
		rc = client_sync(r->hub, HUB_FINISH_MS, NULL, NULL, err,
		    sizeof err) == 0 ? RELAY_DRAINED : RELAY_ERR;
	if (rc == RELAY_CLOSED)
		err_die(DS_EXIT_SYS, "lost the hub at %s", r->hub->addr);
	if (rc != RELAY_DRAINED)
		err_die(client_status(errno), "%s", err);
}

/*
 * -c: take frames from the hub until -n is reached; when the hub goes
 * away, -R connects again, to the next hub in the list first.
 */
static int
run_hub(struct receiver *r)
{
	struct relay_backoff bo;
	char err[512];

	relay_backoff_init(&bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
	hub_connect(r, &bo, 0);
	for (;;) {
		long long since = io_now_ms();
		int rc, e;

		rc = relay_pump(&r->relay, -1, RELAY_NO_MARK, -1, err,
		    sizeof err);
		e = errno;
		flush(r);
		if (rc == RELAY_STOP) {
			hub_finish(r);
			return DS_EXIT_OK;
		}
		/*
		 * A pipe from the hub that ends between frames is the end;
		 * the pipe to it may still take the last replies.
		 */
		if (r->cfg->hub_std && rc == RELAY_CLOSED) {
			if (client_flush(r->hub, HUB_FINISH_MS) < 0)
				err_die(client_status(errno), "cannot write to "
				    "the hub:");
			return DS_EXIT_OK;
		}
		if (!r->cfg->reconnect || r->cfg->hub_std) {
			if (rc == RELAY_CLOSED)
				err_die(DS_EXIT_SYS, "lost the hub at %s",
				    r->hub->addr);
			err_die(client_status(e), "%s", err);
		}
		if (rc == RELAY_CLOSED)
			err_warn("lost the hub at %s; reconnecting",
			    r->hub->addr);
		else
			err_warn("%s; reconnecting", err);
		/* A hub that keeps dropping us is not hammered. */
		if (io_now_ms() - since >= BACKOFF_MAX_MS)
			relay_backoff_reset(&bo);
		client_close(r->hub);
		/* Rotate: the hub after the lost one is tried first. */
		r->hub->next = (r->hub->next + 1) % r->hub->nhubs;
		(void)relay_sleep(relay_backoff_next(&bo));
		hub_connect(r, &bo, 1);
	}
}

/* -c: the client, the name it says hello as, and the pump around it. */
static void
hub_open(struct receiver *r, struct config *cfg, struct client *c)
{
	struct client_opts o;
	char err[512];

	memset(&o, 0, sizeof o);
	o.hubs = cfg->hubs[0] != '\0' ? cfg->hubs : NULL;
	o.name = cfg->name;
	o.keyfile = cfg->keyfile;
	o.timeout_ms = HUB_CONNECT_MS;
	o.max_body = cfg->max;
	if (client_init(c, &o, err, sizeof err) < 0)
		err_die(client_status(errno), "%s", err);
	/* Replies come from the name we hold, whatever they answer. */
	cfg->name = c->name;
	r->hub = c;
	r->relay.c = c;
	r->relay.on_frame = hub_frame;
	r->relay.on_idle = hub_idle;
	r->relay.ctx = r;
	buf_init(&r->reply, (size_t)-1);
	/* A hub that goes away must be an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
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
	struct client hub;
	int c, seen = 0, rc;

	err_init(argv[0]);
	memset(&cfg, 0, sizeof cfg);
	cfg.max = PROTO_BODY_DEFAULT;
	while ((c = getopt(argc, argv, "Hl0F:f:t:n:e:N:M:c:k:R")) != -1) {
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
		case 'c':
			cfg.hubs = optarg;
			cfg.hub_std = strcmp(optarg, "-") == 0;
			break;
		case 'k':
			cfg.keyfile = optarg;
			break;
		case 'R':
			cfg.reconnect = 1;
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
	if (cfg.name != NULL && cfg.command == NULL && cfg.hubs == NULL) {
		err_warn("-N names the service of -e");
		usage();
	}
	if ((cfg.keyfile != NULL || cfg.reconnect) && cfg.hubs == NULL) {
		err_warn("-k and -R need -c");
		usage();
	}
	if (cfg.hub_std && cfg.command == NULL)
		err_die(DS_EXIT_USAGE, "-c -: the standard output is the hub; "
		    "it takes -e");
	if (cfg.hub_std && cfg.reconnect)
		err_die(DS_EXIT_USAGE, "-c -: there is no hub to reconnect "
		    "to (-R)");
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
	if (cfg.hubs != NULL)
		hub_open(&r, &cfg, &hub);
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
	dying_receiver = &r;
	err_on_die(flush_on_die);
	if (r.hub != NULL) {
		rc = run_hub(&r);
		client_free(r.hub);
		buf_free(&r.reply);
	} else {
		io_grow_pipe(0);
		rc = run(&r);
	}
	outq_free(&r.q);
	if (cfg.command != NULL) {
		svc_env_free(&r.env);
		buf_free(&r.child_out);
		buf_free(&r.child_err);
	}
	return rc;
}
