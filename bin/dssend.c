/*
 * dssend: frame input into ds1 messages.  See dssend(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/client.h"
#include "../lib/err.h"
#include "../lib/ident.h"
#include "../lib/io.h"
#include "../lib/num.h"
#include "../lib/proto.h"
#include "../lib/rec.h"
#include "../lib/relay.h"

#define USAGE "usage: dssend -t to [-f from] [-T type] [-i id] [-r re] " \
	"[-H key=value]... [-l | -0 | -b size] [-M max] " \
	"[-c address [-k keyfile]] [file ...]"

enum mode { MODE_WHOLE, MODE_LINE, MODE_NUL, MODE_CHUNK };

/* Frames are queued and written once this much is waiting. */
#define FLUSH_AT (128 * 1024)
#define READ_CHUNK (256 * 1024)

/*
 * -c: frames wait in the client's queue until the hub takes them; past
 * this much, dssend stops making more until it has drained.
 */
#define HUB_MARK (1024 * 1024)
/* -c: the hello, per hub, and the final confirmation. */
#define HUB_CONNECT_MS 10000
#define HUB_SYNC_MS 30000

struct sender {
	struct buf prefix;       /* "ds1 from=.. to=.. ..." encoded once */
	struct outq out;         /* frames waiting to be written */
	struct ident_seq ids;
	enum mode mode;
	uint64_t max;            /* body limit */
	uint64_t chunk;          /* -b size */
	int status;              /* exit status so far */
	struct client *hub;      /* -c: frames go to the hub, not stdout */
	struct relay relay;
	int hub_gone;            /* the connection failed: do not pump */
	const char *to;          /* -t, for reports of err replies */
};

/* The one sender, for the hook that flushes it when dssend dies. */
static struct sender *dying_sender;

static void
flush_on_die(void)
{
	struct sender *s = dying_sender;
	char err[256];

	/* Frames already made are complete: let them out before we go. */
	if (s == NULL)
		return;
	if (s->hub == NULL) {
		(void)outq_flush(&s->out);
		return;
	}
	if (!s->hub_gone && relay_take(s->hub, &s->out) == 0)
		(void)relay_pump(&s->relay, -1, 0, HUB_CONNECT_MS, err,
		    sizeof err);
}

static void
usage(void)
{
	fprintf(stderr, "%s\n", USAGE);
	exit(DS_EXIT_USAGE);
}

/* The connection to the hub failed in relay_pump() with rc. */
static void
hub_lost(struct sender *s, int rc, const char *why)
{
	int e = errno;

	s->hub_gone = 1;
	if (rc == RELAY_CLOSED)
		err_die(DS_EXIT_SYS, "lost the hub at %s", s->hub->addr);
	err_die(client_status(e), "%s", why);
}

/*
 * -c: report an err reply of the hub to one of our frames.  Replies of
 * services (to a -T req, say) are not ours to judge, and are dropped.
 */
static void
hub_frame(void *ctx, const struct proto_msg *m)
{
	struct sender *s = ctx;
	struct proto_str re = proto_get(m, PF_RE), body = m->body != NULL ?
	    (struct proto_str){ m->body, (size_t)m->body_len } :
	    (struct proto_str){ "", 0 };
	char id[PROTO_TOKEN_MAX + 1], shown_id[4 * PROTO_TOKEN_MAX + 4];
	char shown_body[512];
	const char *nl;
	long n;

	if (!proto_str_eq(proto_type(m), "err") ||
	    !proto_str_eq(proto_get(m, PF_FROM), s->hub->hub))
		return;
	if (s->status == 0)
		s->status = DS_EXIT_DATA;
	/* The first line of the body says why; the reason, if there is none. */
	if ((nl = memchr(body.p, '\n', body.n)) != NULL)
		body.n = (size_t)(nl - body.p);
	if (body.n == 0)
		body = proto_lookup(m, "reason");
	err_printable(shown_body, sizeof shown_body, body.p, body.n);
	if (re.p == NULL) {
		err_warn("the hub: %s", shown_body);
		return;
	}
	n = re.n <= PROTO_TOKEN_MAX ? proto_decode(re.p, re.n, id) : -1;
	if (n < 0)
		err_printable(shown_id, sizeof shown_id, re.p, re.n);
	else
		err_printable(shown_id, sizeof shown_id, id, (size_t)n);
	err_warn("message %s to %s: %s", shown_id, s->to, shown_body);
}

/*
 * -c: hand the frames made so far to the client, and let the hub take
 * them until no more than mark bytes wait, reading its replies meanwhile.
 */
static void
hub_push(struct sender *s, size_t mark)
{
	char err[256];
	int rc;

	if (relay_take(s->hub, &s->out) < 0)
		err_die(DS_EXIT_SYS, "out of memory");
	if (client_pending(s->hub) <= mark)
		return;
	rc = relay_pump(&s->relay, -1, mark, -1, err, sizeof err);
	if (rc != RELAY_DRAINED)
		hub_lost(s, rc, err);
}

/*
 * Before a read of the input that may block: with -c, keep the hub
 * moving until the input has something, so that its replies never wait
 * for ours.
 */
static void
wait_input(struct sender *s, int fd)
{
	char err[256];
	int rc;

	if (s->hub == NULL)
		return;
	if (relay_take(s->hub, &s->out) < 0)
		err_die(DS_EXIT_SYS, "out of memory");
	rc = relay_pump(&s->relay, fd, RELAY_NO_MARK, -1, err, sizeof err);
	if (rc != RELAY_INPUT)
		hub_lost(s, rc, err);
}

static void
flush(struct sender *s)
{
	if (s->hub != NULL) {
		hub_push(s, HUB_MARK);
		return;
	}
	if (outq_flush(&s->out) < 0)
		err_die_stdout();
}

/* Write bytes of a frame that are not in the queue: a streamed body. */
static void
put_raw(struct sender *s, const char *p, size_t n)
{
	if (s->hub != NULL) {
		if (client_send_raw(s->hub, p, n) < 0)
			err_die(DS_EXIT_SYS, "out of memory");
		hub_push(s, HUB_MARK);
		return;
	}
	if (io_write_all(1, p, n) < 0)
		err_die_stdout();
}

/* Queue one frame; with body NULL, only its header. */
static void
put_frame(struct sender *s, const char *body, uint64_t len)
{
	size_t idlen;
	const char *id = ident_seq_next(&s->ids, &idlen);
	int rc;

	rc = proto_encode_frame(&s->out.copy, buf_head(&s->prefix),
	    buf_len(&s->prefix), id, idlen, body, len);
	if (rc == PROTO_E_LONG)
		err_die(DS_EXIT_DATA, "id %s: the header would be longer than "
		    "%d bytes", id, PROTO_HDR_MAX);
	if (rc != 0)
		err_die(DS_EXIT_SYS, "out of memory");
}

/*
 * Send one whole message.  A large body is queued by pointer, so the
 * caller must flush before the memory under it changes.
 */
static void
emit(struct sender *s, const char *body, size_t len)
{
	if (len >= OUTQ_BORROW_AT) {
		put_frame(s, NULL, len);
		if (outq_borrow(&s->out, body, len) < 0)
			err_die_stdout();
		if (outq_copy(&s->out, "\n", 1) < 0)
			err_die(DS_EXIT_SYS, "out of memory");
		return;
	}
	put_frame(s, body, len);
	if (buf_len(&s->out.copy) >= FLUSH_AT)
		flush(s);
}

/* Read more of fd into in; returns the count, 0 at end of file. */
static size_t
fill(struct sender *s, int fd, const char *name, struct buf *in,
    size_t want)
{
	ssize_t r;
	int rc;

	/* Bodies queued by pointer live in in, which may now move. */
	if (s->out.borrowed > 0)
		flush(s);
	wait_input(s, fd);
	rc = buf_reserve(in, want);
	if (rc != BUF_OK)
		err_die(DS_EXIT_SYS, "out of memory");
	r = io_read_some(fd, buf_tail(in), want);
	if (r < 0)
		err_die(DS_EXIT_SYS, "cannot read %s:", name);
	buf_commit(in, (size_t)r);
	return (size_t)r;
}

/*
 * Will rec_next() have to read?  Only then may the input keep us
 * waiting, and only then must -c watch the hub while it waits.
 */
static int
rec_would_read(const struct rec *in)
{
	const char *at = buf_head(&in->in);
	size_t len = buf_len(&in->in);

	if (in->eof || len - in->used > in->max)
		return 0;
	return len == in->used ||
	    memchr(at + in->used, in->sep, len - in->used) == NULL;
}

/* -l and -0: one message per record that ends in a newline or a NUL. */
static void
send_records(struct sender *s, int fd, const char *name)
{
	struct rec in;
	const char *p;
	size_t n;
	int rc;

	rec_init(&in, fd, s->mode == MODE_LINE ? '\n' : '\0', (size_t)s->max);
	for (;;) {
		if (s->hub != NULL && rec_would_read(&in))
			wait_input(s, fd);
		if ((rc = rec_next(&in, &p, &n)) != REC_OK)
			break;
		emit(s, p, n);
		/* A long record went by pointer; the next read may move it. */
		if (s->out.borrowed > 0)
			flush(s);
	}
	if (rc == REC_LONG)
		err_die(DS_EXIT_DATA, "%s: %s %llu is longer than the limit "
		    "of %llu bytes (raise it with -M)", name,
		    s->mode == MODE_LINE ? "line" : "record",
		    (unsigned long long)in.count + 1,
		    (unsigned long long)s->max);
	if (rc == REC_SYS)
		err_die(DS_EXIT_SYS, "cannot read %s:", name);
	rec_free(&in);
}

/*
 * -b: chunks of at most s->chunk bytes, in constant memory.  Each read
 * takes what is there, up to a few chunks' worth, so that a live stream
 * is not held back waiting for a chunk to fill, and so that a fast one
 * costs few system calls: the chunks of one read go out in one writev.
 */
static void
send_chunks(struct sender *s, int fd, const char *name, struct buf *in)
{
	size_t want = s->chunk < READ_CHUNK ? READ_CHUNK - READ_CHUNK %
	    s->chunk : s->chunk;

	for (;;) {
		size_t off = 0;
		ssize_t r;

		wait_input(s, fd);
		if (buf_reserve(in, want) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
		r = io_read_some(fd, buf_tail(in), want);
		if (r < 0)
			err_die(DS_EXIT_SYS, "cannot read %s:", name);
		if (r == 0)
			return;
		while (off < (size_t)r) {
			size_t len = (size_t)r - off;

			if (len > s->chunk)
				len = (size_t)s->chunk;
			emit(s, buf_tail(in) + off, len);
			off += len;
		}
		/* The next read reuses the memory under the chunks. */
		flush(s);
	}
}

/*
 * Whole-input mode for a regular file: the size is known, so the frame
 * is streamed straight from the file in constant memory.
 */
static void
send_file(struct sender *s, int fd, const char *name, uint64_t size,
    struct buf *in)
{
	uint64_t left = size;

	if (size > s->max)
		err_die(DS_EXIT_DATA, "%s: %llu bytes exceeds the limit of "
		    "%llu (raise it with -M, or stream with -b)", name,
		    (unsigned long long)size, (unsigned long long)s->max);
	if (size < OUTQ_BORROW_AT) {
		ssize_t r;

		if (buf_reserve(in, (size_t)size) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
		r = io_read_full(fd, buf_tail(in), (size_t)size);
		if (r < 0)
			err_die(DS_EXIT_SYS, "cannot read %s:", name);
		if ((uint64_t)r != size)
			goto changed;
		emit(s, buf_tail(in), (size_t)size);
		return;
	}
	put_frame(s, NULL, size);
	flush(s);
	while (left > 0) {
		size_t want = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
		ssize_t r;

		wait_input(s, fd);
		if (buf_reserve(in, want) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
		r = io_read_some(fd, buf_tail(in), want);
		if (r < 0)
			err_die(DS_EXIT_SYS, "cannot read %s:", name);
		if (r == 0)
			goto changed;
		put_raw(s, buf_tail(in), (size_t)r);
		left -= (uint64_t)r;
	}
	if (outq_copy(&s->out, "\n", 1) < 0)
		err_die(DS_EXIT_SYS, "out of memory");
	return;
changed:
	/* The header promised size bytes; the frame cannot be completed. */
	err_die(DS_EXIT_DATA, "%s changed size while being read", name);
}

/* Whole-input mode for a pipe or terminal: buffer up to the limit. */
static void
send_stream(struct sender *s, int fd, const char *name, struct buf *in)
{
	in->limit = (size_t)s->max + 1;
	for (;;) {
		size_t room = in->limit - buf_len(in);

		if (room == 0)
			err_die(DS_EXIT_DATA, "%s: input exceeds the limit of "
			    "%llu bytes (raise it with -M, or stream with -b)",
			    name, (unsigned long long)s->max);
		if (fill(s, fd, name, in, room < READ_CHUNK ? room :
		    READ_CHUNK) == 0)
			break;
	}
	emit(s, buf_head(in), buf_len(in));
	buf_clear(in);
}

static void
send_fd(struct sender *s, int fd, const char *name)
{
	struct buf in;
	struct stat st;
	off_t pos;

	buf_init(&in, (size_t)s->max + READ_CHUNK + 1);
	switch (s->mode) {
	case MODE_LINE:
	case MODE_NUL:
		send_records(s, fd, name);
		break;
	case MODE_CHUNK:
		send_chunks(s, fd, name, &in);
		break;
	case MODE_WHOLE:
		/*
		 * Files such as those in /proc claim size 0; stream them.  A
		 * file handed over part-read (stdin after a read(1)) is sent
		 * from where it stands.
		 */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_size > 0 && (pos = lseek(fd, 0, SEEK_CUR)) >= 0 &&
		    pos < st.st_size)
			send_file(s, fd, name, (uint64_t)(st.st_size - pos),
			    &in);
		else
			send_stream(s, fd, name, &in);
		break;
	}
	/* Bodies still queued by pointer point into in. */
	if (s->out.borrowed > 0)
		flush(s);
	buf_free(&in);
}

static void
add_header(struct proto_kv **kv, size_t *n, char *arg)
{
	char *eq = strchr(arg, '=');
	struct proto_kv *p;
	size_t kl;

	if (eq == NULL)
		err_die(DS_EXIT_USAGE, "-H %s: expected key=value", arg);
	kl = (size_t)(eq - arg);
	*eq = '\0';
	if (!proto_key_ok(arg, kl))
		err_die(DS_EXIT_USAGE, "-H %s: keys are 1 to 32 bytes of "
		    "[a-z0-9_-]", arg);
	if (proto_key_is_wk(arg, kl))
		err_die(DS_EXIT_USAGE, "-H %s: a well-known field; use its "
		    "own option", arg);
	if (eq[1] == '\0')
		err_die(DS_EXIT_USAGE, "-H %s: values must be non-empty", arg);
	p = realloc(*kv, (*n + 1) * sizeof *p);
	if (p == NULL)
		err_die(DS_EXIT_SYS, "out of memory");
	p[*n].key = arg;
	p[*n].val = eq + 1;
	p[*n].val_len = strlen(eq + 1);
	*kv = p;
	(*n)++;
}

static uint64_t
size_arg(int opt, const char *arg, uint64_t min)
{
	uint64_t v;

	if (num_parse_size(arg, min, PROTO_BODY_MAX, &v) != NUM_OK)
		err_die(DS_EXIT_USAGE, "-%c %s: expected a size from %llu to "
		    "%llu, such as 65536, 64k or 16M", opt, arg,
		    (unsigned long long)min,
		    (unsigned long long)PROTO_BODY_MAX);
	return v;
}

/*
 * -c: connect and say hello as the sender.  An empty address is the
 * default ($DS_HUB, else the client's own).
 */
static void
hub_open(struct sender *s, struct client *c, const char *hubs,
    const char *keyfile, const char *from)
{
	struct client_opts o;
	char err[256];

	memset(&o, 0, sizeof o);
	o.hubs = hubs[0] != '\0' ? hubs : NULL;
	o.name = from;
	o.keyfile = keyfile;
	o.timeout_ms = HUB_CONNECT_MS;
	o.max_body = s->max;
	if (client_init(c, &o, err, sizeof err) < 0)
		err_die(client_status(errno), "%s", err);
	/* A hub that goes away must be an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (client_connect(c, err, sizeof err) < 0)
		err_die(client_status(errno), "%s", err);
	s->hub = c;
	s->relay.c = c;
	s->relay.on_frame = hub_frame;
	s->relay.ctx = s;
	/* What the hub would refuse is better refused here. */
	if (c->hub_max > 0 && c->hub_max < s->max) {
		if (s->mode == MODE_CHUNK && s->chunk > c->hub_max)
			err_die(DS_EXIT_DATA, "-b %llu is larger than the body "
			    "limit of the hub at %s, %llu bytes",
			    (unsigned long long)s->chunk, c->addr,
			    (unsigned long long)c->hub_max);
		s->max = c->hub_max;
	}
	/* The queue is handed to the client; it never writes itself. */
	s->out.fd = -1;
}

/* -c: everything out, then one round trip that confirms it. */
static void
hub_close(struct sender *s)
{
	char err[256];

	hub_push(s, 0);
	if (client_sync(s->hub, HUB_SYNC_MS, hub_frame, s, err,
	    sizeof err) < 0) {
		s->hub_gone = 1;
		err_die(client_status(errno), "%s", err);
	}
	client_free(s->hub);
}

int
main(int argc, char *argv[])
{
	struct sender s;
	struct client hub;
	const char *hubs = NULL, *keyfile = NULL;
	struct proto_hdr h;
	struct proto_kv *extra = NULL;
	size_t nextra = 0;
	char self[PROTO_NAME_MAX + 1], why[160];
	const char *id = NULL;
	int c, rc, i;
	int modes = 0;  /* bits: 1 = -l, 2 = -0, 4 = -b */

	err_init(argv[0]);
	memset(&s, 0, sizeof s);
	memset(&h, 0, sizeof h);
	s.max = PROTO_BODY_DEFAULT;
	s.mode = MODE_WHOLE;
	while ((c = getopt(argc, argv, "t:f:T:i:r:H:l0b:M:c:k:")) != -1) {
		switch (c) {
		case 't':
			h.to = optarg;
			break;
		case 'f':
			h.from = optarg;
			break;
		case 'T':
			h.type = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'r':
			h.re = optarg;
			break;
		case 'H':
			add_header(&extra, &nextra, optarg);
			break;
		case 'l':
			s.mode = MODE_LINE;
			modes |= 1;
			break;
		case '0':
			s.mode = MODE_NUL;
			modes |= 2;
			break;
		case 'b':
			s.mode = MODE_CHUNK;
			s.chunk = size_arg('b', optarg, 1);
			modes |= 4;
			break;
		case 'M':
			s.max = size_arg('M', optarg, 0);
			break;
		case 'c':
			hubs = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (h.to == NULL) {
		err_warn("-t is required");
		usage();
	}
	if (keyfile != NULL && hubs == NULL) {
		err_warn("-k needs -c");
		usage();
	}
	if (hubs != NULL && strcmp(hubs, "-") == 0) {
		for (i = optind; i < argc; i++)
			if (strcmp(argv[i], "-") == 0)
				break;
		if (optind == argc || i < argc)
			err_die(DS_EXIT_USAGE, "-c -: the standard input is "
			    "the hub; name the files to send");
	}
	if (modes != 0 && (modes & (modes - 1)) != 0) {
		err_warn("-l, -0 and -b are exclusive");
		usage();
	}
	if (s.mode == MODE_CHUNK && s.chunk > s.max)
		err_die(DS_EXIT_USAGE, "-b %llu is larger than the body limit "
		    "%llu (-M)", (unsigned long long)s.chunk,
		    (unsigned long long)s.max);
	if (!proto_to_ok(h.to, strlen(h.to)))
		err_die(DS_EXIT_USAGE, "-t %s: names are 1 to 64 bytes of "
		    "[A-Za-z0-9._-], or '*'", h.to);
	if (h.from == NULL) {
		if (ident_default(self, why, sizeof why) < 0)
			err_die(DS_EXIT_USAGE, "%s", why);
		h.from = self;
	} else if (!proto_name_ok(h.from, strlen(h.from))) {
		err_die(DS_EXIT_USAGE, "-f %s: names are 1 to 64 bytes of "
		    "[A-Za-z0-9._-]", h.from);
	}
	if (h.type != NULL && !proto_type_ok(h.type, strlen(h.type)))
		err_die(DS_EXIT_USAGE, "-T %s: types are 1 to 64 bytes of "
		    "[a-z0-9_-]", h.type);
	if (h.re != NULL && (h.re[0] == '\0' ||
	    proto_encoded_len(h.re, strlen(h.re)) > PROTO_TOKEN_MAX))
		err_die(DS_EXIT_USAGE, "-r: ids are 1 to %d bytes, once "
		    "percent-encoded", PROTO_TOKEN_MAX);
	if (ident_seq_init(&s.ids, id) < 0)
		err_die(DS_EXIT_USAGE, "-i: ids are 1 to %d bytes, once "
		    "percent-encoded", PROTO_TOKEN_MAX);
	h.extra = extra;
	h.nextra = nextra;
	s.to = h.to;

	/* No limit here: the encoder itself measures against 4096. */
	buf_init(&s.prefix, (size_t)-1);
	outq_init(&s.out, 1);
	rc = proto_encode_prefix(&s.prefix, &h);
	/*
	 * The first id and the shortest len must fit as well.  A header can
	 * still grow with its id and len; the encoder checks every frame.
	 */
	if (rc == 0 && buf_len(&s.prefix) + 4 + ident_seq_peek_len(&s.ids) +
	    5 + 1 + 1 > PROTO_HDR_MAX)
		rc = PROTO_E_LONG;
	if (rc != 0)
		err_die(DS_EXIT_USAGE, "cannot build the header: %s",
		    proto_strerror(rc));
	if (hubs != NULL)
		hub_open(&s, &hub, hubs, keyfile, h.from);
	else
		io_grow_pipe(1);
	dying_sender = &s;
	err_on_die(flush_on_die);

	if (optind == argc) {
		send_fd(&s, 0, "standard input");
	} else {
		for (i = optind; i < argc; i++) {
			int fd;

			if (strcmp(argv[i], "-") == 0) {
				send_fd(&s, 0, "standard input");
				continue;
			}
			fd = open(argv[i], O_RDONLY);
			if (fd < 0) {
				err_warn("cannot open %s:", argv[i]);
				s.status = DS_EXIT_SYS;
				continue;
			}
			send_fd(&s, fd, argv[i]);
			close(fd);
		}
	}
	if (s.hub != NULL)
		hub_close(&s);
	else
		flush(&s);
	outq_free(&s.out);
	buf_free(&s.prefix);
	free(extra);
	return s.status;
}
