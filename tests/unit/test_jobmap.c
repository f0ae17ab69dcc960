#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/jobmap.h"
#include "unit.h"

/* The epoch at the monotonic time 1000: 1700000000.000 s. */
#define WALL0 1700000000000LL
#define MONO0 1000LL

static void
cfg_of(struct jobmap_cfg *c, unsigned p, unsigned r, long long w, int u)
{
	memset(c, 0, sizeof *c);
	c->max_inflight = p;
	c->retries = r;
	c->timeout_ms = w;
	c->unordered = u;
	c->wall0_ms = WALL0;
	c->mono0_ms = MONO0;
}

static void
add_str(struct jobmap *m, const char *s)
{
	CHECK(jobmap_add(m, s, strlen(s), '\n') == 0);
}

/* A reply to id, a rep or (with status, which may be NULL) an err. */
static int
reply(struct jobmap *m, const char *id, int is_err, const char *status,
    const char *worker, const char *body, long long now,
    struct jobmap_job **done)
{
	struct jobmap_reply r;

	memset(&r, 0, sizeof r);
	r.re = id;
	r.re_len = strlen(id);
	r.is_err = is_err;
	r.status = status;
	r.status_len = status != NULL ? strlen(status) : 0;
	r.worker = worker;
	r.worker_len = worker != NULL ? strlen(worker) : 0;
	r.from = "work";
	r.from_len = 4;
	r.body = body;
	r.body_len = strlen(body);
	*done = NULL;
	return jobmap_reply(m, &r, now, done);
}

/* Every output now due, as "body|body|..." (an empty body as "-"). */
static const char *
drain(struct jobmap *m)
{
	static char s[4096];
	struct jobmap_job *j;

	s[0] = '\0';
	while ((j = jobmap_output(m)) != NULL) {
		size_t n = strlen(s);

		if (n > 0)
			s[n++] = '|';
		if (j->out_len == 0)
			s[n++] = '-';
		else
			memcpy(s + n, j->out, j->out_len);
		s[n + j->out_len] = '\0';
		jobmap_emitted(m, j);
	}
	return s;
}

static void
test_cut(void)
{
	size_t sc = 0, len = 0;

	CHECK(jobmap_cut("", 0, '\n', 0, 10, &sc, &len) == JOBMAP_CUT_MORE);
	CHECK(jobmap_cut("", 0, '\n', 1, 10, &sc, &len) == JOBMAP_CUT_MORE);
	CHECK(jobmap_cut("ab\ncd", 5, '\n', 0, 10, &sc, &len) ==
	    JOBMAP_CUT_ITEM && len == 3 && sc == 0);
	/* Part of an item: more, and the scanned part is remembered. */
	CHECK(jobmap_cut("cd", 2, '\n', 0, 10, &sc, &len) == JOBMAP_CUT_MORE &&
	    sc == 2);
	CHECK(jobmap_cut("cdef\n", 5, '\n', 0, 10, &sc, &len) ==
	    JOBMAP_CUT_ITEM && len == 5 && sc == 0);
	/* The last item, without its terminator. */
	CHECK(jobmap_cut("cd", 2, '\n', 1, 10, &sc, &len) == JOBMAP_CUT_ITEM &&
	    len == 2);
	/* An empty line is an item. */
	sc = 0;
	CHECK(jobmap_cut("\nx", 2, '\n', 0, 10, &sc, &len) == JOBMAP_CUT_ITEM &&
	    len == 1);
	/* NUL-terminated; a newline inside is data. */
	CHECK(jobmap_cut("a\nb\0c", 5, '\0', 0, 10, &sc, &len) ==
	    JOBMAP_CUT_ITEM && len == 4);
	/* Bounds: max bytes with the terminator. */
	sc = 0;
	CHECK(jobmap_cut("abcd\n", 5, '\n', 0, 5, &sc, &len) ==
	    JOBMAP_CUT_ITEM && len == 5);
	sc = 0;
	CHECK(jobmap_cut("abcde\n", 6, '\n', 0, 5, &sc, &len) ==
	    JOBMAP_CUT_LONG);
	sc = 0;
	CHECK(jobmap_cut("abcde", 5, '\n', 0, 5, &sc, &len) ==
	    JOBMAP_CUT_LONG);
	sc = 0;
	CHECK(jobmap_cut("abcd", 4, '\n', 0, 5, &sc, &len) ==
	    JOBMAP_CUT_MORE);
	/* At eof 4 bytes and the added terminator fit in 5, 5 do not. */
	CHECK(jobmap_cut("abcd", 4, '\n', 1, 5, &sc, &len) ==
	    JOBMAP_CUT_ITEM && len == 4);
	sc = 0;
	CHECK(jobmap_cut("abcde", 5, '\n', 1, 5, &sc, &len) ==
	    JOBMAP_CUT_LONG);
	/* A scanned mark past what is there is clamped. */
	sc = 100;
	CHECK(jobmap_cut("a\n", 2, '\n', 0, 5, &sc, &len) == JOBMAP_CUT_MORE);
	sc = 0;
	CHECK(jobmap_cut("a\n", 2, '\n', 0, 5, &sc, &len) == JOBMAP_CUT_ITEM);
}

static void
test_add_terminator(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *j;

	cfg_of(&c, 4, 0, 0, 0);
	jobmap_init(&m, &c);
	CHECK(jobmap_can_add(&m));
	CHECK(jobmap_add(&m, "a\n", 2, '\n') == 0);
	CHECK(!jobmap_can_add(&m));     /* job 1 is not sent yet */
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && j->item_len == 2 && memcmp(j->item, "a\n", 2) == 0);
	CHECK(j != NULL && strcmp(j->id, "1.1") == 0 && j->seq == 1);
	CHECK(jobmap_can_add(&m));
	CHECK(jobmap_add(&m, "b", 1, '\n') == 0);
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && j->item_len == 2 && memcmp(j->item, "b\n", 2) == 0);
	CHECK(jobmap_add(&m, "", 0, '\0') == 0);
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && j->item_len == 1 && j->item[0] == '\0');
	CHECK(jobmap_add(&m, "x\0", 2, '\0') == 0);
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && j->item_len == 2);
	CHECK(jobmap_pending(&m) == 4);
	jobmap_free(&m);
}

static void
test_order(int unordered)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *j, *done;
	char ids[5][JOBMAP_ID_MAX];
	int i;

	cfg_of(&c, 10, 0, 0, unordered);
	jobmap_init(&m, &c);
	for (i = 0; i < 5; i++) {
		char item[16];

		snprintf(item, sizeof item, "%d", i + 1);
		CHECK(jobmap_can_add(&m));
		add_str(&m, item);
		j = jobmap_start(&m, MONO0 + i);
		CHECK(j != NULL);
		if (j != NULL)
			strcpy(ids[i], j->id);
	}
	jobmap_end_input(&m);
	CHECK(!jobmap_can_add(&m));
	CHECK(jobmap_start(&m, MONO0) == NULL);
	/* Completions: 3, 5, 1, 4, 2. */
	CHECK(reply(&m, ids[2], 0, NULL, NULL, "three\n", 2000, &done) ==
	    JOBMAP_FINISHED && done != NULL && done->seq == 3);
	CHECK_STR(drain(&m), unordered ? "three\n" : "");
	CHECK(reply(&m, ids[4], 0, NULL, NULL, "five\n", 2001, &done) ==
	    JOBMAP_FINISHED);
	CHECK_STR(drain(&m), unordered ? "five\n" : "");
	CHECK(reply(&m, ids[0], 0, NULL, NULL, "one\n", 2002, &done) ==
	    JOBMAP_FINISHED);
	CHECK_STR(drain(&m), "one\n");
	CHECK(!jobmap_finished(&m));
	CHECK(reply(&m, ids[3], 1, "2", NULL, "four\n", 2003, &done) ==
	    JOBMAP_FINISHED);
	CHECK_STR(drain(&m), unordered ? "four\n" : "");
	CHECK(reply(&m, ids[1], 0, NULL, NULL, "", 2004, &done) ==
	    JOBMAP_FINISHED);
	CHECK_STR(drain(&m), unordered ? "-" : "-|three\n|four\n|five\n");
	CHECK(jobmap_finished(&m));
	CHECK(jobmap_pending(&m) == 0);
	CHECK(m.held == 0);
	CHECK(m.n_rep == 4 && m.n_err == 1 && m.n_timeout == 0);
	jobmap_free(&m);
}

static void
test_cap(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *j, *done;
	char id1[JOBMAP_ID_MAX];

	cfg_of(&c, 2, 0, 0, 0);
	jobmap_init(&m, &c);
	add_str(&m, "a");
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL);
	strcpy(id1, j != NULL ? j->id : "");
	add_str(&m, "b");
	CHECK(jobmap_start(&m, MONO0) != NULL);
	/* Two in flight: no more input, no more starts. */
	CHECK(!jobmap_can_add(&m));
	CHECK(m.inflight.n == 2);
	CHECK(reply(&m, id1, 0, NULL, NULL, "A", MONO0 + 5, &done) ==
	    JOBMAP_FINISHED);
	CHECK(jobmap_can_add(&m));
	add_str(&m, "c");
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && j->seq == 3);
	CHECK(jobmap_start(&m, MONO0) == NULL);
	CHECK(m.inflight.n == 2);
	jobmap_free(&m);

	/* The cap's bounds: 0 is the default, more than the most is the most. */
	cfg_of(&c, 0, 0, 0, 0);
	jobmap_init(&m, &c);
	CHECK(m.cfg.max_inflight == JOBMAP_INFLIGHT_DEFAULT);
	jobmap_free(&m);
	cfg_of(&c, JOBMAP_INFLIGHT_MAX + 1, 0, 0, 0);
	jobmap_init(&m, &c);
	CHECK(m.cfg.max_inflight == JOBMAP_INFLIGHT_MAX);
	CHECK(m.cfg.window_max >= JOBMAP_INFLIGHT_MAX);
	jobmap_free(&m);
}

static void
test_retry_err(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *j, *done;
	char id[JOBMAP_ID_MAX];

	cfg_of(&c, 1, 2, 0, 0);
	jobmap_init(&m, &c);
	add_str(&m, "x");
	jobmap_end_input(&m);
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && strcmp(j->id, "1.1") == 0);
	CHECK(reply(&m, "1.1", 1, "5", NULL, "bad\n", MONO0 + 1, &done) ==
	    JOBMAP_RETRIED && done == NULL);
	/* A failed attempt's body is not written. */
	CHECK_STR(drain(&m), "");
	CHECK(m.retry.n == 1 && m.inflight.n == 0);
	j = jobmap_start(&m, MONO0 + 2);
	CHECK(j != NULL && strcmp(j->id, "1.2") == 0 && j->item_len == 2);
	/* The first attempt's id no longer counts. */
	CHECK(reply(&m, "1.1", 0, NULL, NULL, "late\n", MONO0 + 3, &done) ==
	    JOBMAP_IGNORED);
	CHECK(reply(&m, "1.2", 1, "6", NULL, "bad\n", MONO0 + 4, &done) ==
	    JOBMAP_RETRIED);
	j = jobmap_start(&m, MONO0 + 5);
	CHECK(j != NULL && strcmp(j->id, "1.3") == 0);
	strcpy(id, j != NULL ? j->id : "");
	/* Out of retries: the err is final, its body written. */
	CHECK(reply(&m, id, 1, "7", NULL, "worse\n", MONO0 + 9, &done) ==
	    JOBMAP_FINISHED && done != NULL && done->status == 7 &&
	    done->result == JOBMAP_ERR && done->attempt == 3);
	CHECK_STR(drain(&m), "worse\n");
	CHECK(jobmap_finished(&m));
	CHECK(m.n_err == 1 && m.n_attempts == 3 && m.n_ignored == 1);
	jobmap_free(&m);

	/* A retry that succeeds; and retries go before fresh items. */
	cfg_of(&c, 1, 1, 0, 0);
	jobmap_init(&m, &c);
	add_str(&m, "x");
	(void)jobmap_start(&m, MONO0);
	CHECK(reply(&m, "1.1", 1, "1", NULL, "", MONO0, &done) ==
	    JOBMAP_RETRIED);
	CHECK(!jobmap_can_add(&m));
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && strcmp(j->id, "1.2") == 0);
	CHECK(reply(&m, "1.2", 0, NULL, NULL, "ok\n", MONO0, &done) ==
	    JOBMAP_FINISHED && done != NULL && done->status == 0 &&
	    done->result == JOBMAP_REP);
	CHECK_STR(drain(&m), "ok\n");
	jobmap_free(&m);
}

static void
test_timeout(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *j, *done = NULL;
	char line[256];

	cfg_of(&c, 4, 1, 1000, 0);
	jobmap_init(&m, &c);
	add_str(&m, "a");
	CHECK(jobmap_start(&m, 2000) != NULL);
	add_str(&m, "b");
	CHECK(jobmap_start(&m, 2500) != NULL);
	jobmap_end_input(&m);
	CHECK(jobmap_next_deadline(&m) == 3000);
	CHECK(jobmap_expire(&m, 2999, &done) == JOBMAP_NONE);
	/* Job 1 times out and goes again; job 2 is not due yet. */
	CHECK(jobmap_expire(&m, 3000, &done) == JOBMAP_RETRIED);
	CHECK(jobmap_expire(&m, 3000, &done) == JOBMAP_NONE);
	CHECK(jobmap_next_deadline(&m) == 3500);
	j = jobmap_start(&m, 3001);
	CHECK(j != NULL && strcmp(j->id, "1.2") == 0);
	CHECK(jobmap_next_deadline(&m) == 3500);
	/* The late reply to the first attempt is ignored. */
	CHECK(reply(&m, "1.1", 0, NULL, NULL, "late\n", 3002, &done) ==
	    JOBMAP_IGNORED);
	/* Job 2 times out and goes again; both retries then time out. */
	CHECK(jobmap_expire(&m, 3500, &done) == JOBMAP_RETRIED);
	j = jobmap_start(&m, 3600);
	CHECK(j != NULL && strcmp(j->id, "2.2") == 0);
	CHECK(jobmap_expire(&m, 4001, &done) == JOBMAP_FINISHED &&
	    done != NULL && done->seq == 1 && done->result == JOBMAP_TIMEOUT);
	if (done != NULL) {
		jobmap_joblog_line(&m, done, line, sizeof line);
		CHECK_STR(line, "1\t-\t1700000002.001\t1.000\ttimeout\n");
	}
	CHECK(jobmap_expire(&m, 4001, &done) == JOBMAP_NONE);
	CHECK(reply(&m, "2.2", 0, NULL, "x3", "b ok\n", 4100, &done) ==
	    JOBMAP_FINISHED);
	/* A second reply to the same attempt is ignored. */
	CHECK(reply(&m, "2.2", 0, NULL, "x3", "again\n", 4101, &done) ==
	    JOBMAP_IGNORED);
	/* A timed-out job has no output. */
	CHECK_STR(drain(&m), "-|b ok\n");
	CHECK(jobmap_finished(&m));
	CHECK(jobmap_summary(&m, line, sizeof line) == 1);
	CHECK_STR(line, "1 of 2 jobs failed (1 timed out)");
	CHECK(m.n_ignored == 2);
	jobmap_free(&m);

	/* No -w: nothing ever times out. */
	cfg_of(&c, 4, 0, 0, 0);
	jobmap_init(&m, &c);
	add_str(&m, "a");
	CHECK(jobmap_start(&m, 0) != NULL);
	CHECK(jobmap_next_deadline(&m) == -1);
	CHECK(jobmap_expire(&m, 1LL << 60, &done) == JOBMAP_NONE);
	jobmap_free(&m);
}

static void
test_ignored(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *done;
	static const char *bad[] = {
		"", "1", "1.", ".1", "1.2", "2.1", "0.1", "01.1", "1.01",
		"1.1.1", "x.1", "1.x", "99999999999999999999999.1",
		"1.99999999999", "-1.1", "1 .1",
	};
	size_t i;

	cfg_of(&c, 4, 0, 0, 0);
	jobmap_init(&m, &c);
	add_str(&m, "a");
	CHECK(jobmap_start(&m, MONO0) != NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(reply(&m, bad[i], 0, NULL, NULL, "x", MONO0, &done) ==
		    JOBMAP_IGNORED);
	/* A NULL re, as for a reply without one. */
	{
		struct jobmap_reply r;

		memset(&r, 0, sizeof r);
		CHECK(jobmap_reply(&m, &r, MONO0, &done) == JOBMAP_IGNORED);
	}
	CHECK(m.inflight.n == 1);
	CHECK(reply(&m, "1.1", 0, NULL, NULL, "x", MONO0, &done) ==
	    JOBMAP_FINISHED);
	CHECK(reply(&m, "1.1", 0, NULL, NULL, "x", MONO0, &done) ==
	    JOBMAP_IGNORED);
	CHECK_STR(drain(&m), "x");
	/* Retired: still ignored. */
	CHECK(reply(&m, "1.1", 0, NULL, NULL, "x", MONO0, &done) ==
	    JOBMAP_IGNORED);
	CHECK(m.n_rep == 1);
	jobmap_free(&m);
}

static void
test_joblog(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *done = NULL;
	char line[256];
	int i;

	CHECK_STR(jobmap_joblog_header(), "id\tworker\tstart\tseconds\tstatus\n");
	cfg_of(&c, 8, 0, 0, 1);
	jobmap_init(&m, &c);
	for (i = 0; i < 5; i++) {
		add_str(&m, "j");
		CHECK(jobmap_start(&m, MONO0 + 1234) != NULL);
	}
	CHECK(reply(&m, "1.1", 0, NULL, "127.0.0.1:4711", "", MONO0 + 2234,
	    &done) == JOBMAP_FINISHED && done != NULL);
	if (done != NULL) {
		jobmap_joblog_line(&m, done, line, sizeof line);
		CHECK_STR(line,
		    "1\t127.0.0.1:4711\t1700000001.234\t1.000\t0\n");
	}
	/* No worker= field: the reply's from. */
	CHECK(reply(&m, "2.1", 1, "3", NULL, "", MONO0 + 1235, &done) ==
	    JOBMAP_FINISHED && done != NULL);
	if (done != NULL) {
		jobmap_joblog_line(&m, done, line, sizeof line);
		CHECK_STR(line, "2\twork\t1700000001.234\t0.001\t3\n");
	}
	/* An err without a status, or a bad one, has status 1. */
	CHECK(reply(&m, "3.1", 1, NULL, "", "", MONO0 + 1300, &done) ==
	    JOBMAP_FINISHED && done != NULL);
	if (done != NULL) {
		jobmap_joblog_line(&m, done, line, sizeof line);
		CHECK_STR(line, "3\twork\t1700000001.234\t0.066\t1\n");
	}
	CHECK(reply(&m, "4.1", 1, "99999999999", NULL, "", MONO0 + 1300,
	    &done) == JOBMAP_FINISHED && done != NULL && done->status == 1);
	/* A label with a tab or newline cannot break the columns. */
	CHECK(reply(&m, "5.1", 0, NULL, "a\tb\nc", "", MONO0 + 1300, &done) ==
	    JOBMAP_FINISHED && done != NULL);
	if (done != NULL) {
		jobmap_joblog_line(&m, done, line, sizeof line);
		CHECK_STR(line, "5\ta\\x09b\\x0ac\t1700000001.234\t0.066\t0\n");
	}
	/* A short buffer: cut, NUL-terminated. */
	if (done != NULL) {
		CHECK(jobmap_joblog_line(&m, done, line, 4) == 3);
		CHECK_STR(line, "5\ta");
	}
	CHECK(jobmap_summary(&m, line, sizeof line) == 3);
	CHECK_STR(line, "3 of 5 jobs failed (3 err)");
	jobmap_free(&m);
}

static void
test_summary_progress(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *done;
	char s[256];
	int i;

	cfg_of(&c, 8, 0, 500, 0);
	jobmap_init(&m, &c);
	CHECK(jobmap_progress(&m, MONO0, s, sizeof s) > 0);
	CHECK_STR(s, "0/? done, 0.0/s");
	add_str(&m, "a");
	CHECK(jobmap_start(&m, MONO0) != NULL);
	CHECK(reply(&m, "1.1", 0, NULL, NULL, "", MONO0 + 100, &done) ==
	    JOBMAP_FINISHED);
	(void)jobmap_progress(&m, MONO0 + 2000, s, sizeof s);
	CHECK_STR(s, "1/? done, 0.5/s");
	for (i = 0; i < 3; i++) {
		add_str(&m, "b");
		CHECK(jobmap_start(&m, MONO0 + 2000) != NULL);
	}
	jobmap_end_input(&m);
	CHECK(reply(&m, "2.1", 1, "1", NULL, "", MONO0 + 3000, &done) ==
	    JOBMAP_FINISHED);
	(void)jobmap_progress(&m, MONO0 + 4000, s, sizeof s);
	CHECK_STR(s, "2/4 done, 1 failed, 0.5/s, ETA 4s");
	CHECK(jobmap_expire(&m, MONO0 + 3000, &done) == JOBMAP_FINISHED);
	CHECK(jobmap_summary(&m, s, sizeof s) == 2);
	CHECK_STR(s, "2 of 4 jobs failed (1 err, 1 timed out)");
	CHECK(jobmap_expire(&m, MONO0 + 3000, &done) == JOBMAP_FINISHED);
	(void)jobmap_progress(&m, MONO0 + 400000, s, sizeof s);
	CHECK_STR(s, "4/4 done, 3 failed, 0.0/s");
	/* Truncation keeps the NUL. */
	CHECK(jobmap_progress(&m, MONO0 + 4000, s, 5) == 4);
	CHECK_STR(s, "4/4 ");
	CHECK(jobmap_summary(&m, s, 8) == 3);
	CHECK_STR(s, "3 of 4 ");
	jobmap_free(&m);

	/* One job, failed: singular; none failed: nothing. */
	cfg_of(&c, 8, 0, 0, 0);
	jobmap_init(&m, &c);
	CHECK(jobmap_summary(&m, s, sizeof s) == 0 && s[0] == '\0');
	add_str(&m, "a");
	(void)jobmap_start(&m, MONO0);
	jobmap_end_input(&m);
	(void)reply(&m, "1.1", 1, "2", NULL, "", MONO0, &done);
	CHECK(jobmap_summary(&m, s, sizeof s) == 1);
	CHECK_STR(s, "1 of 1 job failed (1 err)");
	jobmap_free(&m);

	/* ETA in minutes and hours. */
	cfg_of(&c, 8, 0, 0, 0);
	jobmap_init(&m, &c);
	for (i = 0; i < 2; i++) {
		add_str(&m, "a");
		(void)jobmap_start(&m, MONO0);
	}
	jobmap_end_input(&m);
	(void)reply(&m, "1.1", 0, NULL, NULL, "", MONO0, &done);
	(void)jobmap_progress(&m, MONO0 + 125000, s, sizeof s);
	CHECK_STR(s, "1/2 done, 0.0/s, ETA 2m05s");
	(void)jobmap_progress(&m, MONO0 + 7500000, s, sizeof s);
	CHECK_STR(s, "1/2 done, 0.0/s, ETA 2h05m");
	jobmap_free(&m);
}

/* The window and held-byte bounds stop new items, never retries. */
static void
test_bounds(void)
{
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *j, *done;
	char id[JOBMAP_ID_MAX];
	int i;

	cfg_of(&c, 2, 1, 0, 0);
	c.window_max = 4;
	jobmap_init(&m, &c);
	add_str(&m, "1");
	j = jobmap_start(&m, MONO0);
	strcpy(id, j != NULL ? j->id : "");
	/* Jobs 2..4 finish; job 1 holds them back. */
	for (i = 2; i <= 4; i++) {
		CHECK(jobmap_can_add(&m));
		add_str(&m, "n");
		j = jobmap_start(&m, MONO0);
		CHECK(j != NULL);
		if (j != NULL)
			CHECK(reply(&m, j->id, 0, NULL, NULL, "o", MONO0,
			    &done) == JOBMAP_FINISHED);
	}
	CHECK_STR(drain(&m), "");
	CHECK(m.inflight.n == 1);
	CHECK(!jobmap_can_add(&m));     /* the window is full */
	/* Job 1 fails and is retried although the window is full. */
	CHECK(reply(&m, id, 1, "1", NULL, "", MONO0, &done) == JOBMAP_RETRIED);
	j = jobmap_start(&m, MONO0);
	CHECK(j != NULL && j->seq == 1 && j->attempt == 2);
	if (j != NULL)
		CHECK(reply(&m, j->id, 0, NULL, NULL, "first", MONO0, &done) ==
		    JOBMAP_FINISHED);
	CHECK_STR(drain(&m), "first|o|o|o");
	CHECK(jobmap_can_add(&m));
	CHECK(m.base == 5 && m.held == 0);
	jobmap_free(&m);

	/* Held bytes. */
	cfg_of(&c, 100, 0, 0, 0);
	c.held_max = 10;
	jobmap_init(&m, &c);
	add_str(&m, "0123456");     /* 8 bytes */
	(void)jobmap_start(&m, MONO0);
	CHECK(jobmap_can_add(&m));
	add_str(&m, "abc");         /* 12 */
	(void)jobmap_start(&m, MONO0);
	CHECK(m.held == 12);
	CHECK(!jobmap_can_add(&m));
	/* Job 2's output is held for job 1: 8 + 5. */
	CHECK(reply(&m, "2.1", 0, NULL, NULL, "12345", MONO0, &done) ==
	    JOBMAP_FINISHED);
	CHECK(m.held == 13);
	CHECK(!jobmap_can_add(&m));
	CHECK(reply(&m, "1.1", 0, NULL, NULL, "", MONO0, &done) ==
	    JOBMAP_FINISHED);
	CHECK(m.held == 5);
	CHECK(jobmap_can_add(&m));
	CHECK_STR(drain(&m), "-|12345");
	CHECK(m.held == 0);
	jobmap_free(&m);
}

/* Many jobs through a small cap, completed in a scrambled order. */
static void
test_many(int unordered)
{
	enum { N = 3000, P = 37 };
	struct jobmap_cfg c;
	struct jobmap m;
	struct jobmap_job *j, *done;
	static char inflight[P][JOBMAP_ID_MAX];
	static unsigned char seen[N + 1];
	int nin = 0, added = 0, outputs = 0, last = 0, in_order = 1, dup = 0;
	unsigned rnd = 12345;
	long long now = MONO0;

	cfg_of(&c, P, 0, 0, unordered);
	c.window_max = 128;
	jobmap_init(&m, &c);
	memset(seen, 0, sizeof seen);
	while (!jobmap_finished(&m)) {
		while (added < N && jobmap_can_add(&m)) {
			char item[16];

			snprintf(item, sizeof item, "%d", added + 1);
			add_str(&m, item);
			added++;
			if (added == N)
				jobmap_end_input(&m);
			while ((j = jobmap_start(&m, now)) != NULL)
				strcpy(inflight[nin++], j->id);
		}
		if (nin > 0) {
			int k;
			char body[16];
			size_t n;

			rnd = rnd * 1103515245u + 12345u;
			k = (int)((rnd >> 8) % (unsigned)nin);
			/* The body is the item: SEQ. */
			n = strcspn(inflight[k], ".");
			memcpy(body, inflight[k], n);
			body[n] = '\0';
			CHECK(reply(&m, inflight[k], 0, NULL, NULL, body, now,
			    &done) == JOBMAP_FINISHED);
			/* And a duplicate now and then. */
			if (rnd % 7 == 0)
				CHECK(reply(&m, inflight[k], 0, NULL, NULL,
				    body, now, &done) == JOBMAP_IGNORED);
			memmove(inflight[k], inflight[k + 1],
			    (size_t)(nin - k - 1) * JOBMAP_ID_MAX);
			nin--;
		}
		while ((j = jobmap_output(&m)) != NULL) {
			char tmp[16];
			int v;

			memcpy(tmp, j->out, j->out_len);
			tmp[j->out_len] = '\0';
			v = atoi(tmp);
			if (v < 1 || v > N || seen[v])
				dup++;
			else
				seen[v] = 1;
			if (v != last + 1)
				in_order = 0;
			last = v;
			outputs++;
			jobmap_emitted(&m, j);
		}
		now++;
		if (now > MONO0 + 10 * N)
			break;
	}
	CHECK(jobmap_finished(&m));
	CHECK(outputs == N && dup == 0);
	if (!unordered)
		CHECK(in_order);
	else
		CHECK(!in_order);
	CHECK(m.cap <= 128 && m.held == 0 && m.n_rep == N);
	jobmap_free(&m);
}

void
suite_jobmap(void)
{
	test_cut();
	test_add_terminator();
	test_order(0);
	test_order(1);
	test_cap();
	test_retry_err();
	test_timeout();
	test_ignored();
	test_joblog();
	test_summary_progress();
	test_bounds();
	test_many(0);
	test_many(1);
}
