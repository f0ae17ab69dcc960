/*
 * jobmap: the jobs of dsctl map, their attempts, and the order their
 * outputs are written in.  See jobmap.h.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jobmap.h"
#include "num.h"

#define RING_FIRST 64

static struct jobmap_job *
slot(const struct jobmap *m, uint64_t seq)
{
	return &m->ring[seq & (m->cap - 1)];
}

static void
list_push(struct jobmap *m, struct jobmap_list *l, struct jobmap_job *j)
{
	j->next = 0;
	j->prev = l->tail;
	if (l->tail != 0)
		slot(m, l->tail)->next = j->seq;
	else
		l->head = j->seq;
	l->tail = j->seq;
	l->n++;
}

static void
list_unlink(struct jobmap *m, struct jobmap_list *l, struct jobmap_job *j)
{
	if (j->prev != 0)
		slot(m, j->prev)->next = j->next;
	else
		l->head = j->next;
	if (j->next != 0)
		slot(m, j->next)->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = 0;
	l->n--;
}

void
jobmap_init(struct jobmap *m, const struct jobmap_cfg *cfg)
{
	memset(m, 0, sizeof *m);
	m->cfg = *cfg;
	if (m->cfg.max_inflight == 0)
		m->cfg.max_inflight = JOBMAP_INFLIGHT_DEFAULT;
	if (m->cfg.max_inflight > JOBMAP_INFLIGHT_MAX)
		m->cfg.max_inflight = JOBMAP_INFLIGHT_MAX;
	if (m->cfg.window_max == 0)
		m->cfg.window_max = JOBMAP_WINDOW_DEFAULT;
	/* A window narrower than the cap would be the cap. */
	if (m->cfg.window_max < m->cfg.max_inflight)
		m->cfg.window_max = m->cfg.max_inflight;
	if (m->cfg.held_max == 0)
		m->cfg.held_max = JOBMAP_HELD_DEFAULT;
	if (m->cfg.retries > JOBMAP_RETRIES_MAX)
		m->cfg.retries = JOBMAP_RETRIES_MAX;
	m->base = m->fresh = m->next_seq = 1;
}

void
jobmap_free(struct jobmap *m)
{
	uint64_t s;

	for (s = m->base; s < m->next_seq; s++) {
		free(slot(m, s)->item);
		free(slot(m, s)->out);
	}
	free(m->ring);
	memset(m, 0, sizeof *m);
}

int
jobmap_cut(const char *p, size_t n, char sep, int eof, size_t max,
    size_t *scanned, size_t *len)
{
	size_t lim = n < max ? n : max, from = *scanned;
	const char *hit;

	if (n == 0)
		return JOBMAP_CUT_MORE;
	if (from > lim)
		from = lim;
	/* Past max bytes, a terminator would come too late anyway. */
	hit = memchr(p + from, sep, lim - from);
	if (hit != NULL) {
		*len = (size_t)(hit - p) + 1;
		*scanned = 0;
		return JOBMAP_CUT_ITEM;
	}
	*scanned = lim;
	if (n >= max)
		return JOBMAP_CUT_LONG;
	if (!eof)
		return JOBMAP_CUT_MORE;
	/* A last item without its terminator: one is added, which fits. */
	*len = n;
	*scanned = 0;
	return JOBMAP_CUT_ITEM;
}

int
jobmap_can_add(const struct jobmap *m)
{
	return !m->input_ended && m->inflight.n < m->cfg.max_inflight &&
	    m->retry.n == 0 && m->fresh == m->next_seq &&
	    m->next_seq - m->base < m->cfg.window_max &&
	    m->held < m->cfg.held_max;
}

/* Double the ring, keeping every job at its seq's new place. */
static int
grow(struct jobmap *m)
{
	size_t cap = m->cap == 0 ? RING_FIRST : m->cap * 2;
	struct jobmap_job *ring;
	uint64_t s;

	if (cap / 2 > SIZE_MAX / sizeof *ring / 2)
		return -1;
	ring = calloc(cap, sizeof *ring);
	if (ring == NULL)
		return -1;
	for (s = m->base; s < m->next_seq; s++)
		ring[s & (cap - 1)] = *slot(m, s);
	free(m->ring);
	m->ring = ring;
	m->cap = cap;
	return 0;
}

int
jobmap_add(struct jobmap *m, const char *p, size_t n, char sep)
{
	int add_sep = n == 0 || p[n - 1] != sep;
	struct jobmap_job *j;
	char *item;

	if (n > SIZE_MAX - 1)
		return -1;
	if (m->next_seq - m->base >= m->cap && grow(m) != 0)
		return -1;
	item = malloc(n + (size_t)add_sep);
	if (item == NULL)
		return -1;
	if (n > 0)
		memcpy(item, p, n);
	if (add_sep)
		item[n] = sep;
	j = slot(m, m->next_seq);
	memset(j, 0, sizeof *j);
	j->seq = m->next_seq++;
	j->state = JOBMAP_QUEUED;
	j->retries_left = m->cfg.retries;
	j->item = item;
	j->item_len = n + (size_t)add_sep;
	m->held += j->item_len;
	return 0;
}

void
jobmap_end_input(struct jobmap *m)
{
	m->input_ended = 1;
}

struct jobmap_job *
jobmap_start(struct jobmap *m, long long now_ms)
{
	struct jobmap_job *j;

	if (m->inflight.n >= m->cfg.max_inflight)
		return NULL;
	if (m->retry.n > 0) {
		j = slot(m, m->retry.head);
		list_unlink(m, &m->retry, j);
	} else if (m->fresh < m->next_seq) {
		j = slot(m, m->fresh++);
	} else {
		return NULL;
	}
	j->attempt++;
	snprintf(j->id, sizeof j->id, "%llu.%u", (unsigned long long)j->seq,
	    j->attempt);
	j->sent_ms = now_ms;
	j->state = JOBMAP_INFLIGHT;
	list_push(m, &m->inflight, j);
	m->n_attempts++;
	return j;
}

/* The attempt in flight that id "SEQ.ATTEMPT" names, or NULL. */
static struct jobmap_job *
find_attempt(const struct jobmap *m, const char *id, size_t n)
{
	const char *dot = id != NULL ? memchr(id, '.', n) : NULL;
	uint64_t seq, attempt;
	struct jobmap_job *j;

	if (dot == NULL ||
	    num_parse_u64(id, (size_t)(dot - id), UINT64_MAX, NUM_CANON,
	    &seq) != NUM_OK ||
	    num_parse_u64(dot + 1, n - (size_t)(dot - id) - 1, UINT32_MAX,
	    NUM_CANON, &attempt) != NUM_OK)
		return NULL;
	if (seq < m->base || seq >= m->next_seq)
		return NULL;
	j = slot(m, seq);
	if (j->state != JOBMAP_INFLIGHT || j->attempt != attempt)
		return NULL;
	return j;
}

/* The attempt failed: send it again if it may be, else 0. */
static int
retry(struct jobmap *m, struct jobmap_job *j)
{
	if (j->retries_left == 0)
		return 0;
	j->retries_left--;
	j->state = JOBMAP_RETRY;
	list_push(m, &m->retry, j);
	return 1;
}

/* The job is finished (off every list): keep its output for its turn. */
static void
finish(struct jobmap *m, struct jobmap_job *j, int result, long long now_ms)
{
	j->result = result;
	j->done_ms = now_ms;
	j->state = JOBMAP_DONE;
	m->held -= j->item_len;
	free(j->item);
	j->item = NULL;
	j->item_len = 0;
	m->held += j->out_len;
	m->n_done++;
	if (result == JOBMAP_REP)
		m->n_rep++;
	else if (result == JOBMAP_ERR)
		m->n_err++;
	else
		m->n_timeout++;
	if (m->cfg.unordered)
		list_push(m, &m->ready, j);
}

int
jobmap_reply(struct jobmap *m, const struct jobmap_reply *r, long long now_ms,
    struct jobmap_job **done)
{
	struct jobmap_job *j = find_attempt(m, r->re, r->re_len);
	const char *who;
	size_t who_len;
	uint64_t st;
	char *out = NULL;

	if (j == NULL) {
		m->n_ignored++;
		return JOBMAP_IGNORED;
	}
	if (r->is_err && j->retries_left > 0) {
		list_unlink(m, &m->inflight, j);
		(void)retry(m, j);
		return JOBMAP_RETRIED;
	}
	if (r->body_len > 0) {
		out = malloc(r->body_len);
		if (out == NULL)
			return JOBMAP_NOMEM;
		memcpy(out, r->body, r->body_len);
	}
	list_unlink(m, &m->inflight, j);
	j->out = out;
	j->out_len = r->body_len;
	j->status = 0;
	if (r->is_err) {
		/* An err without a (sane) status still failed. */
		j->status = 1;
		if (r->status != NULL && num_parse_u64(r->status, r->status_len,
		    UINT32_MAX, 0, &st) == NUM_OK)
			j->status = (unsigned long)st;
	}
	who = r->worker != NULL && r->worker_len > 0 ? r->worker : r->from;
	who_len = who == r->worker ? r->worker_len : r->from_len;
	if (who == NULL || who_len == 0)
		snprintf(j->worker, sizeof j->worker, "-");
	else
		(void)err_printable(j->worker, sizeof j->worker, who, who_len);
	finish(m, j, r->is_err ? JOBMAP_ERR : JOBMAP_REP, now_ms);
	*done = j;
	return JOBMAP_FINISHED;
}

long long
jobmap_next_deadline(const struct jobmap *m)
{
	if (m->cfg.timeout_ms <= 0 || m->inflight.n == 0)
		return -1;
	return slot(m, m->inflight.head)->sent_ms + m->cfg.timeout_ms;
}

int
jobmap_expire(struct jobmap *m, long long now_ms, struct jobmap_job **done)
{
	long long deadline = jobmap_next_deadline(m);
	struct jobmap_job *j;

	if (deadline < 0 || deadline > now_ms)
		return JOBMAP_NONE;
	j = slot(m, m->inflight.head);
	list_unlink(m, &m->inflight, j);
	if (retry(m, j))
		return JOBMAP_RETRIED;
	snprintf(j->worker, sizeof j->worker, "-");
	j->status = 0;
	j->out = NULL;
	j->out_len = 0;
	finish(m, j, JOBMAP_TIMEOUT, now_ms);
	*done = j;
	return JOBMAP_FINISHED;
}

struct jobmap_job *
jobmap_output(struct jobmap *m)
{
	struct jobmap_job *j;

	if (m->cfg.unordered)
		return m->ready.n > 0 ? slot(m, m->ready.head) : NULL;
	if (m->base == m->next_seq)
		return NULL;
	j = slot(m, m->base);
	return j->state == JOBMAP_DONE ? j : NULL;
}

void
jobmap_emitted(struct jobmap *m, struct jobmap_job *j)
{
	if (j->state != JOBMAP_DONE)
		return;
	if (m->cfg.unordered)
		list_unlink(m, &m->ready, j);
	m->held -= j->out_len;
	free(j->out);
	j->out = NULL;
	j->out_len = 0;
	j->state = JOBMAP_EMITTED;
	while (m->base < m->next_seq && slot(m, m->base)->state ==
	    JOBMAP_EMITTED)
		m->base++;
}

int
jobmap_finished(const struct jobmap *m)
{
	return m->input_ended && m->base == m->next_seq;
}

uint64_t
jobmap_pending(const struct jobmap *m)
{
	return m->next_seq - 1 - m->n_done;
}

const char *
jobmap_joblog_header(void)
{
	return "id\tworker\tstart\tseconds\tstatus\n";
}

size_t
jobmap_joblog_line(const struct jobmap *m, const struct jobmap_job *j,
    char *dst, size_t size)
{
	long long start = m->cfg.wall0_ms + (j->sent_ms - m->cfg.mono0_ms);
	long long took = j->done_ms - j->sent_ms;
	char status[24];
	int n;

	if (start < 0)
		start = 0;
	if (took < 0)
		took = 0;
	if (j->result == JOBMAP_TIMEOUT)
		snprintf(status, sizeof status, "timeout");
	else
		snprintf(status, sizeof status, "%lu", j->status);
	n = snprintf(dst, size, "%llu\t%s\t%lld.%03lld\t%lld.%03lld\t%s\n",
	    (unsigned long long)j->seq, j->worker, start / 1000, start % 1000,
	    took / 1000, took % 1000, status);
	if (n < 0)
		n = 0;
	return (size_t)n < size ? (size_t)n : size > 0 ? size - 1 : 0;
}

/* A time left, as "42s", "3m05s" or "2h07m". */
static void
fmt_eta(char *dst, size_t size, unsigned long long s)
{
	if (s < 60)
		snprintf(dst, size, "%llus", s);
	else if (s < 3600)
		snprintf(dst, size, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(dst, size, "%lluh%02llum", s / 3600, s / 60 % 60);
}

/* Append to dst[*at..size) what fits, keeping the NUL. */
static void DS_PRINTF(4, 5)
add(char *dst, size_t size, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(dst + *at, size - *at, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*at += (size_t)n < size - *at ? (size_t)n : size - *at - 1;
}

size_t
jobmap_progress(const struct jobmap *m, long long now_ms, char *dst,
    size_t size)
{
	long long elapsed = now_ms - m->cfg.mono0_ms;
	uint64_t failed = m->n_err + m->n_timeout, total = m->next_seq - 1;
	double rate = elapsed > 0 ? (double)m->n_done * 1000.0 /
	    (double)elapsed : 0.0;
	size_t at = 0;

	if (size == 0)
		return 0;
	dst[0] = '\0';
	if (m->input_ended)
		add(dst, size, &at, "%llu/%llu done",
		    (unsigned long long)m->n_done, (unsigned long long)total);
	else
		add(dst, size, &at, "%llu/? done",
		    (unsigned long long)m->n_done);
	if (failed > 0)
		add(dst, size, &at, ", %llu failed",
		    (unsigned long long)failed);
	add(dst, size, &at, ", %.1f/s", rate);
	if (m->input_ended && rate > 0.0 && total > m->n_done) {
		char eta[32];
		double left = (double)(total - m->n_done) / rate;

		fmt_eta(eta, sizeof eta, left > 1e9 ? 1000000000ull :
		    (unsigned long long)(left + 0.5));
		add(dst, size, &at, ", ETA %s", eta);
	}
	return at;
}

uint64_t
jobmap_summary(const struct jobmap *m, char *dst, size_t size)
{
	uint64_t failed = m->n_err + m->n_timeout, total = m->next_seq - 1;
	size_t at = 0;

	if (size > 0)
		dst[0] = '\0';
	if (failed == 0 || size == 0)
		return failed;
	add(dst, size, &at, "%llu of %llu job%s failed (",
	    (unsigned long long)failed, (unsigned long long)total,
	    total == 1 ? "" : "s");
	if (m->n_err > 0)
		add(dst, size, &at, "%llu err", (unsigned long long)m->n_err);
	if (m->n_timeout > 0)
		add(dst, size, &at, "%s%llu timed out", m->n_err > 0 ? ", " :
		    "", (unsigned long long)m->n_timeout);
	add(dst, size, &at, ")");
	return failed;
}
