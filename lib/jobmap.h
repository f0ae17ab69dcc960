/*
 * jobmap: the bookkeeping of dsctl map (see dsctl(1)): a stream of input
 * items, each sent as a request, retried, timed out, and its reply
 * written out once, in input order or in the order the replies come.
 *
 * The module is pure state and formatting: it does no I/O and reads no
 * clock.  The caller reads its input, sends the frames, takes the replies
 * and passes in the time (monotonic milliseconds), so every rule here can
 * be tested with made-up replies and times:
 *
 *   jobmap_init(&m, &cfg);
 *   for (;;) {
 *       while (jobmap_can_add(&m) && an item is at hand)
 *           jobmap_add(&m, item, len, '\n');
 *       while ((j = jobmap_start(&m, now)) != NULL)
 *           send a req with id j->id and body j->item;
 *       a reply:   jobmap_reply(&m, &r, now, &j) -> JOBMAP_FINISHED: log j
 *       a timeout: jobmap_expire(&m, now, &j) until JOBMAP_NONE
 *       while ((j = jobmap_output(&m)) != NULL)
 *           write j->out; jobmap_emitted(&m, j);
 *       if (input ended && jobmap_finished(&m)) break;
 *       wait for input, replies or jobmap_next_deadline(&m)
 *   }
 *   jobmap_free(&m);
 *
 * Jobs are numbered by their input position from 1 (the joblog's id).
 * Every attempt of a job gets a fresh request id, "SEQ.ATTEMPT", so a
 * reply that comes after its attempt timed out, or a second reply to
 * the same attempt, is recognised and ignored.
 *
 * Memory is bounded: jobs are kept from the oldest one whose output is
 * not written yet to the newest read (at most window_max of them), and
 * no new job starts while the items in flight and the outputs held for
 * their turn pass held_max bytes.  Retries always go ahead, so the job
 * at the head of the window always makes progress.
 *
 * A job pointer returned by a call stays valid until the next
 * jobmap_add() or jobmap_emitted().
 */
#ifndef DS_JOBMAP_H
#define DS_JOBMAP_H

#include <stddef.h>
#include <stdint.h>

#define JOBMAP_INFLIGHT_DEFAULT 1024u
#define JOBMAP_INFLIGHT_MAX (1u << 20)
#define JOBMAP_RETRIES_MAX 1000000u
#define JOBMAP_WINDOW_DEFAULT ((size_t)1 << 16)
#define JOBMAP_HELD_DEFAULT ((size_t)256 << 20)
#define JOBMAP_ID_MAX 32        /* "SEQ.ATTEMPT" and its NUL */
#define JOBMAP_WORKER_MAX 96    /* a worker's label, made printable */

struct jobmap_cfg {
	unsigned max_inflight;  /* -P: 0 for JOBMAP_INFLIGHT_DEFAULT */
	unsigned retries;       /* -r: more attempts after an err or timeout */
	long long timeout_ms;   /* -w: per attempt, from its start; <= 0 none */
	int unordered;          /* -u: outputs in the order they finish */
	size_t window_max;      /* 0 for JOBMAP_WINDOW_DEFAULT */
	size_t held_max;        /* 0 for JOBMAP_HELD_DEFAULT */
	long long wall0_ms;     /* the epoch time (ms) at mono0_ms, for the */
	long long mono0_ms;     /*   joblog's start column and the rate */
};

/* A job's state. */
enum {
	JOBMAP_QUEUED,     /* read, never sent */
	JOBMAP_INFLIGHT,   /* an attempt is out */
	JOBMAP_RETRY,      /* failed, waiting to be sent again */
	JOBMAP_DONE,       /* finished; its output is not written yet */
	JOBMAP_EMITTED     /* finished and written */
};

/* How a finished job ended. */
enum { JOBMAP_REP, JOBMAP_ERR, JOBMAP_TIMEOUT };

struct jobmap_job {
	uint64_t seq;            /* input position, from 1 */
	unsigned attempt;        /* attempts sent so far */
	unsigned retries_left;
	int state;
	int result;              /* once done: JOBMAP_REP, _ERR, _TIMEOUT */
	unsigned long status;    /* an err's status= (1 when it has none) */
	long long sent_ms;       /* the last attempt's start */
	long long done_ms;       /* when it finished */
	char *item;              /* the body sent, its terminator included */
	size_t item_len;
	char *out;               /* the final reply's body */
	size_t out_len;
	char id[JOBMAP_ID_MAX];  /* the request id of the last attempt */
	char worker[JOBMAP_WORKER_MAX];   /* who answered; "-" on timeout */
	uint64_t prev, next;     /* links on the list it is on, by seq; 0 */
};

struct jobmap_list {
	uint64_t head, tail;
	size_t n;
};

struct jobmap {
	struct jobmap_cfg cfg;
	struct jobmap_job *ring;    /* the window; job seq at seq & (cap-1) */
	size_t cap;                 /* a power of two, or 0 */
	uint64_t base;              /* the oldest job kept */
	uint64_t fresh;             /* the next job never sent */
	uint64_t next_seq;          /* the seq the next job added gets */
	int input_ended;
	size_t held;                /* bytes of items and outputs kept */
	struct jobmap_list inflight;  /* in order of start: of deadline */
	struct jobmap_list retry;     /* waiting to be sent again */
	struct jobmap_list ready;     /* -u: finished, to be written */
	/* Counters. */
	uint64_t n_done, n_rep, n_err, n_timeout;
	uint64_t n_attempts, n_ignored;
};

/* Results of jobmap_reply() and jobmap_expire(). */
enum {
	JOBMAP_NOMEM = -1,   /* the reply's body could not be kept */
	JOBMAP_NONE = 0,     /* jobmap_expire: nothing is due */
	JOBMAP_IGNORED = 0,  /* jobmap_reply: not an attempt in flight */
	JOBMAP_RETRIED = 1,  /* the attempt failed; the job will be sent again */
	JOBMAP_FINISHED = 2  /* the job is finished: *done is set */
};

/* Items read from the input: see jobmap_cut(). */
enum { JOBMAP_CUT_LONG = -1, JOBMAP_CUT_MORE = 0, JOBMAP_CUT_ITEM = 1 };

/* A reply to one of our requests, its fields decoded. */
struct jobmap_reply {
	const char *re;          /* the request id it answers */
	size_t re_len;
	int is_err;              /* type=err; else type=rep */
	const char *status;      /* an err's status= field; NULL: none */
	size_t status_len;
	const char *worker;      /* the hub's worker= field; NULL: none */
	size_t worker_len;
	const char *from;        /* the reply's from */
	size_t from_len;
	const char *body;
	size_t body_len;
};

void jobmap_init(struct jobmap *m, const struct jobmap_cfg *cfg);
void jobmap_free(struct jobmap *m);

/*
 * Find the next input item at the front of p[0..n), cut by sep, at most
 * max bytes with its terminator.  *scanned is how many bytes of p are
 * known to hold no sep, so that a long item is not searched again each
 * time more of it arrives: 0 to start, kept by the caller between
 * calls, and set back to 0 here when an item is returned.  Returns
 * JOBMAP_CUT_ITEM with *len, the bytes the item takes in p (the last
 * one is sep, except for a last item at eof that lacks it),
 * JOBMAP_CUT_MORE when more bytes are needed (or, at eof, when n is 0),
 * or JOBMAP_CUT_LONG for an item over max.
 */
int jobmap_cut(const char *p, size_t n, char sep, int eof, size_t max,
    size_t *scanned, size_t *len);

/*
 * May another item be added now?  Only when it could start at once: a
 * free slot, no retry waiting, no job unsent, and the window and held
 * bytes under their bounds.
 */
int jobmap_can_add(const struct jobmap *m);
/*
 * Add an item (copied, with sep added when it does not end in one).
 * 0, or -1 when out of memory.
 */
int jobmap_add(struct jobmap *m, const char *p, size_t n, char sep);
/* There will be no more items: the total is known. */
void jobmap_end_input(struct jobmap *m);

/*
 * The next attempt to send, now in flight with a fresh j->id: a retry
 * first, else the oldest job never sent; NULL when none is waiting or
 * the in-flight cap is reached.
 */
struct jobmap_job *jobmap_start(struct jobmap *m, long long now_ms);

/*
 * Match a reply to its attempt.  JOBMAP_IGNORED for one that answers no
 * attempt in flight (late, repeated, or not ours); JOBMAP_RETRIED for an
 * err with retries left; JOBMAP_FINISHED with *done; JOBMAP_NOMEM.
 */
int jobmap_reply(struct jobmap *m, const struct jobmap_reply *r,
    long long now_ms, struct jobmap_job **done);

/*
 * Time out the oldest attempt whose deadline has passed, if any:
 * JOBMAP_NONE, JOBMAP_RETRIED or JOBMAP_FINISHED with *done.  Call it
 * until it returns JOBMAP_NONE.
 */
int jobmap_expire(struct jobmap *m, long long now_ms,
    struct jobmap_job **done);
/* The earliest deadline of an attempt in flight, or -1 for none. */
long long jobmap_next_deadline(const struct jobmap *m);

/*
 * The next finished job whose output is due (in input order, or with
 * -u in the order they finished), or NULL; then jobmap_emitted() once
 * it is written, which lets go of its memory.
 */
struct jobmap_job *jobmap_output(struct jobmap *m);
void jobmap_emitted(struct jobmap *m, struct jobmap_job *j);

/* The input has ended and every job's output is written. */
int jobmap_finished(const struct jobmap *m);
/* Jobs read and not finished yet. */
uint64_t jobmap_pending(const struct jobmap *m);

/* The joblog's header line, with its newline. */
const char *jobmap_joblog_header(void);
/*
 * A finished job's joblog line, "id worker start seconds status" with
 * tabs and a newline, into dst (NUL-terminated); its length.
 */
size_t jobmap_joblog_line(const struct jobmap *m, const struct jobmap_job *j,
    char *dst, size_t size);

/*
 * The progress line, without a newline: "12/200 done, 34.5/s, ETA 5s"
 * ("12/?" while the input lasts; with "N failed" when some have).
 */
size_t jobmap_progress(const struct jobmap *m, long long now_ms, char *dst,
    size_t size);

/*
 * The failed jobs: their count, and when it is not 0 the summary,
 * "3 of 200 jobs failed (2 err, 1 timed out)", in dst.
 */
uint64_t jobmap_summary(const struct jobmap *m, char *dst, size_t size);

#endif
