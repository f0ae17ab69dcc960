/*
 * dssend: frame input into ds1 messages.  See dssend(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/ident.h"
#include "../lib/io.h"
#include "../lib/num.h"
#include "../lib/proto.h"
#include "../lib/rec.h"

#define USAGE "usage: dssend -t to [-f from] [-T type] [-i id] [-r re] " \
	"[-H key=value]... [-l | -0 | -b size] [-M max] [file ...]"

enum mode { MODE_WHOLE, MODE_LINE, MODE_NUL, MODE_CHUNK };

/* Frames are queued and written once this much is waiting. */
#define FLUSH_AT (128 * 1024)
#define READ_CHUNK (256 * 1024)

struct sender {
	struct buf prefix;       /* "ds1 from=.. to=.. ..." encoded once */
	struct outq out;         /* frames waiting to be written */
	struct ident_seq ids;
	enum mode mode;
	uint64_t max;            /* body limit */
	uint64_t chunk;          /* -b size */
	int status;              /* exit status so far */
};

/* The one sender, for the hook that flushes it when dssend dies. */
static struct sender *dying_sender;

static void
flush_on_die(void)
{
	/* Frames already made are complete: let them out before we go. */
	if (dying_sender != NULL)
		(void)outq_flush(&dying_sender->out);
}

static void
usage(void)
{
	fprintf(stderr, "%s\n", USAGE);
	exit(DS_EXIT_USAGE);
}

static void
flush(struct sender *s)
{
	if (outq_flush(&s->out) < 0)
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
	rc = buf_reserve(in, want);
	if (rc != BUF_OK)
		err_die(DS_EXIT_SYS, "out of memory");
	r = io_read_some(fd, buf_tail(in), want);
	if (r < 0)
		err_die(DS_EXIT_SYS, "cannot read %s:", name);
	buf_commit(in, (size_t)r);
	return (size_t)r;
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
	while ((rc = rec_next(&in, &p, &n)) == REC_OK) {
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

		if (buf_reserve(in, want) != BUF_OK)
			err_die(DS_EXIT_SYS, "out of memory");
		r = io_read_some(fd, buf_tail(in), want);
		if (r < 0)
			err_die(DS_EXIT_SYS, "cannot read %s:", name);
		if (r == 0)
			goto changed;
		if (io_write_all(1, buf_tail(in), (size_t)r) < 0)
			err_die_stdout();
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

int
main(int argc, char *argv[])
{
	struct sender s;
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
	while ((c = getopt(argc, argv, "t:f:T:i:r:H:l0b:M:")) != -1) {
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
		default:
			usage();
		}
	}
	if (h.to == NULL) {
		err_warn("-t is required");
		usage();
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
	flush(&s);
	outq_free(&s.out);
	buf_free(&s.prefix);
	free(extra);
	return s.status;
}
