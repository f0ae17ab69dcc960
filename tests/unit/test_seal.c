#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/hmac.h"
#include "../../lib/seal.h"
#include "unit.h"

#define KEY "sesame"
#define T0 UINT64_C(1732400000000000) /* a wall clock in microseconds */
#define SEC UINT64_C(1000000)

/*
 * The MAC of the known-answer test was computed apart from this code,
 * with both of
 *   printf 'ds1 from=a to=b len=2 ts=1732400000000000\nhi\n' |
 *       openssl dgst -sha256 -hmac sesame
 *   python3 -c 'import hmac, hashlib; print(hmac.new(b"sesame",
 *       b"ds1 from=a to=b len=2 ts=1732400000000000\nhi\n",
 *       hashlib.sha256).hexdigest())'
 */
#define KAT_MAC "e39f8f08f801460b2e823263b6dde28630d8a1da3b21d5db3a5f1966f9351fd3"

static void
set_key(struct auth_key *k, const char *s)
{
	k->len = strlen(s);
	memcpy(k->k, s, k->len);
}

static struct seal *
new_seal(const char *key, size_t max_senders, unsigned skew_ms)
{
	static struct auth_key k;

	set_key(&k, key);
	return seal_new(&k, max_senders, skew_ms);
}

/* Copy the NUL-terminated dgram into buf and sign it; the new length. */
static long
sign(struct seal *s, char *buf, size_t cap, const char *dgram,
    uint64_t now_us)
{
	size_t n = strlen(dgram);

	memcpy(buf, dgram, n);
	return seal_sign(s, buf, n, cap, now_us);
}

/*
 * Seal by hand, as the wire rule says and without the module: the MAC
 * over head (which ends in " ts=T") + "\n" + rest, then " mac=M" put
 * between head and the LF.  Lets a test give a datagram a right MAC
 * whatever its other faults.
 */
static size_t
hand_seal(const char *key, const char *head, const char *rest, char *out)
{
	char msg[4096], hex[HMAC_HEXLEN + 1];
	unsigned char mac[HMAC_LEN];
	int n;

	n = snprintf(msg, sizeof msg, "%s\n%s", head, rest);
	hmac_sha256(key, strlen(key), msg, (size_t)n, mac);
	hmac_hex(mac, sizeof mac, hex);
	n = sprintf(out, "%s mac=%s\n%s", head, hex, rest);
	return (size_t)n;
}

/* Open a copy of d[0..n), so that d stays as it was for the next try. */
static long
open_copy(struct seal *s, const char *d, size_t n, uint64_t now_us)
{
	char buf[4096];

	memcpy(buf, d, n);
	return seal_open(s, buf, n, now_us);
}

/* The ts a sealed datagram carries, or 0. */
static uint64_t
ts_of(const char *buf, size_t n)
{
	const char *lf = memchr(buf, '\n', n), *p;
	uint64_t v = 0;

	if (lf == NULL || (size_t)(lf - buf) < 70 + 4)
		return 0;
	p = lf - 70;
	while (p > buf && p[-1] != '=')
		p--;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

static void
test_round_trip(void)
{
	static const char *const dgrams[] = {
		"ds1 from=a to=b type=msg id=7 len=5\nhello\n",
		"ds1 from=a to=b\n\n",
		"ds1 from=node-1.x to=* type=swim-ping inc=3 len=7\na\nb\nc\n\n",
		"ds1 to=b from=a len=4\n\0\xff\n\r\n",
	};
	static const size_t lens[] = { 0, 0, 0, 27 };
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal(KEY, 0, 0);
	char buf[512];
	size_t i, n;
	long r, w;

	CHECK(tx != NULL && rx != NULL);
	for (i = 0; i < sizeof dgrams / sizeof dgrams[0]; i++) {
		n = lens[i] ? lens[i] : strlen(dgrams[i]);
		memcpy(buf, dgrams[i], n);
		w = seal_sign(tx, buf, n, sizeof buf, T0 + i);
		/* 16 digits of ts, 64 of MAC. */
		CHECK(w == (long)(n + 4 + 16 + 5 + 64));
		CHECK(w <= (long)(n + SEAL_OVERHEAD));
		CHECK(ts_of(buf, (size_t)w) == T0 + i);
		r = seal_open(rx, buf, (size_t)w, T0 + i);
		CHECK(r == (long)n);
		CHECK(r == (long)n && memcmp(buf, dgrams[i], n) == 0);
	}
	/* Where the fields go: just before the first LF, nowhere else. */
	w = sign(tx, buf, sizeof buf, "ds1 from=a to=b len=3\nx\ny\n", T0);
	CHECK(w > 0 && memcmp(buf, "ds1 from=a to=b len=3 ts=", 25) == 0);
	CHECK(w > 0 && memcmp(buf + w - 5, "\nx\ny\n", 5) == 0);
	seal_free(tx);
	seal_free(rx);
}

static void
test_known_answer(void)
{
	const char *want = "ds1 from=a to=b len=2 ts=1732400000000000 mac="
	    KAT_MAC "\nhi\n";
	struct seal *s = new_seal(KEY, 0, 0);
	char buf[512], hand[512];
	size_t n;
	long w;

	w = sign(s, buf, sizeof buf, "ds1 from=a to=b len=2\nhi\n", T0);
	CHECK(w == (long)strlen(want));
	CHECK(w > 0 && memcmp(buf, want, (size_t)w) == 0);
	/* The same with the MAC computed here by hmac_sha256. */
	n = hand_seal(KEY, "ds1 from=a to=b len=2 ts=1732400000000000",
	    "hi\n", hand);
	CHECK(n == strlen(want) && memcmp(hand, want, n) == 0);
	seal_free(s);
}

static void
test_every_byte(void)
{
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal(KEY, 0, 0);
	char d[512], buf[512];
	size_t i, bad = 0, changed = 0;
	long w, r;
	int bit;

	w = sign(tx, d, sizeof d,
	    "ds1 from=a to=b type=req id=1 len=5\nhello\n", T0);
	CHECK(w > 0);
	for (i = 0; i < (size_t)w; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, d, (size_t)w);
			buf[i] = (char)(buf[i] ^ (1 << bit));
			r = seal_open(rx, buf, (size_t)w, T0);
			if (r != SEAL_FORGED && r != SEAL_BAD)
				bad++;
			/* A refusal leaves the bytes as they came. */
			if (memcmp(buf, d, i) != 0 ||
			    memcmp(buf + i + 1, d + i + 1, (size_t)w - i - 1))
				changed++;
		}
	CHECK(bad == 0);
	CHECK(changed == 0);
	/* None of them touched the window: the real one still passes. */
	CHECK(open_copy(rx, d, (size_t)w, T0) > 0);
	seal_free(tx);
	seal_free(rx);
}

static void
test_wrong_key(void)
{
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal("sesamf", 0, 0);
	char d[512];
	long w;

	w = sign(tx, d, sizeof d, "ds1 from=a to=b\n\n", T0);
	CHECK(w > 0);
	CHECK(open_copy(rx, d, (size_t)w, T0) == SEAL_FORGED);
	seal_free(tx);
	seal_free(rx);
}

static void
test_malformed(void)
{
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal(KEY, 0, 0);
	char d[512], m[512];
	size_t n, i, mi;
	long w;
	int letters;

	w = sign(tx, d, sizeof d, "ds1 from=a to=b len=2\nhi\n", T0);
	CHECK(w > 0);
	mi = (size_t)(strstr(d, " mac=") + 5 - d);

	/* No seal at all, an empty datagram, no LF. */
	CHECK(open_copy(rx, "ds1 from=a to=b len=2\nhi\n", 25, T0) ==
	    SEAL_BAD);
	CHECK(open_copy(rx, "", 0, T0) == SEAL_BAD);
	CHECK(open_copy(rx, d, (size_t)(strchr(d, '\n') - d), T0) ==
	    SEAL_BAD);

	/* A field after the MAC. */
	n = (size_t)(strchr(d, '\n') - d);
	memcpy(m, d, n);
	memcpy(m + n, " x=1", 4);
	memcpy(m + n + 4, d + n, (size_t)w - n);
	CHECK(open_copy(rx, m, (size_t)w + 4, T0) == SEAL_BAD);

	/* mac before ts. */
	n = (size_t)sprintf(m, "ds1 from=a to=b len=2 mac=%.64s ts=%llu\nhi\n",
	    d + mi, (unsigned long long)T0);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);

	/* Uppercase hex: the same MAC in another spelling. */
	memcpy(m, d, (size_t)w);
	letters = 0;
	for (i = mi; i < mi + HMAC_HEXLEN; i++)
		if (m[i] >= 'a' && m[i] <= 'f') {
			m[i] = (char)(m[i] - 'a' + 'A');
			letters++;
		}
	CHECK(letters > 0);
	CHECK(open_copy(rx, m, (size_t)w, T0) == SEAL_BAD);

	/* 63 and 65 digits. */
	n = mi;
	memcpy(m, d, n + 63);
	memcpy(m + n + 63, d + n + 64, (size_t)w - n - 64);
	CHECK(open_copy(rx, m, (size_t)w - 1, T0) == SEAL_BAD);
	memcpy(m, d, n + 64);
	m[n + 64] = '0';
	memcpy(m + n + 65, d + n + 64, (size_t)w - n - 64);
	CHECK(open_copy(rx, m, (size_t)w + 1, T0) == SEAL_BAD);

	/*
	 * Faults other than the MAC, each with a right MAC, so that only the
	 * syntax can refuse them.  First a control that passes.
	 */
	n = hand_seal(KEY, "ds1 from=a to=b ts=1732400000000000", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == 17);
	n = hand_seal(KEY, "ds1 from=a to=b ts=01732400000000000", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a to=b ts=", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a to=b ts=+1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a to=b ts=18446744073709551616", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a to=b ts=184467440737095516150", "\n",
	    m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	/* The largest ts parses, and is merely far in the future. */
	n = hand_seal(KEY, "ds1 from=a to=b ts=18446744073709551615", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_STALE);
	n = hand_seal(KEY, "ds1 from=a to=b tx=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a to=bts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds2 from=a to=b ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 to=b ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from= to=b ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a/b to=b ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a from=c to=b ts=1732400000000001", "\n",
	    m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a  to=b ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 ts=1 from=a to=b ts=1732400000000001", "\n",
	    m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 from=a mac=1 to=b ts=1732400000000001", "\n",
	    m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	n = hand_seal(KEY, "ds1 ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	/* A from of 64 bytes is a name; one of 65 is not. */
	n = hand_seal(KEY, "ds1 from=" "0123456789012345678901234567890123456789"
	    "012345678901234567890123 ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) > 0);
	n = hand_seal(KEY, "ds1 from=" "0123456789012345678901234567890123456789"
	    "0123456789012345678901234 ts=1732400000000001", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == SEAL_BAD);
	/* A field value may hold "ts=" and "mac=" inside it. */
	n = hand_seal(KEY, "ds1 from=a to=b note=ts=1,mac=2 ts=1732400000000002",
	    "\n", m);
	CHECK(open_copy(rx, m, n, T0) > 0);
	seal_free(tx);
	seal_free(rx);
}

static void
test_replay(void)
{
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal(KEY, 0, 0);
	char d[41][128], m[128];
	long w[41];
	size_t i, n;
	int ok;

	for (i = 0; i < 41; i++) {
		w[i] = sign(tx, d[i], sizeof d[i], "ds1 from=a to=b\n\n", T0 + i);
		CHECK(w[i] > 0 && ts_of(d[i], (size_t)w[i]) == T0 + i);
	}
	/* The same datagram twice. */
	CHECK(open_copy(rx, d[20], (size_t)w[20], T0) == 17);
	CHECK(open_copy(rx, d[20], (size_t)w[20], T0) == SEAL_REPLAY);
	seal_free(rx);

	/* 32 in reverse order all pass: reordering within the window. */
	rx = new_seal(KEY, 0, 0);
	ok = 1;
	for (i = 32; i >= 1; i--)
		if (open_copy(rx, d[i], (size_t)w[i], T0) != 17)
			ok = 0;
	CHECK(ok);
	/* The 33rd pushes the smallest, d[1], out: it becomes the floor. */
	CHECK(open_copy(rx, d[33], (size_t)w[33], T0) == 17);
	CHECK(open_copy(rx, d[1], (size_t)w[1], T0) == SEAL_REPLAY);
	/* d[0] was never seen, but it is at or below the floor. */
	CHECK(open_copy(rx, d[0], (size_t)w[0], T0) == SEAL_REPLAY);
	/* In the window: seen ones are refused. */
	CHECK(open_copy(rx, d[2], (size_t)w[2], T0) == SEAL_REPLAY);
	CHECK(open_copy(rx, d[33], (size_t)w[33], T0) == SEAL_REPLAY);
	/* Later ones out of order still pass. */
	CHECK(open_copy(rx, d[40], (size_t)w[40], T0) == 17);
	CHECK(open_copy(rx, d[35], (size_t)w[35], T0) == 17);
	CHECK(open_copy(rx, d[34], (size_t)w[34], T0) == 17);
	CHECK(open_copy(rx, d[2], (size_t)w[2], T0) == SEAL_REPLAY);
	CHECK(open_copy(rx, d[4], (size_t)w[4], T0) == SEAL_REPLAY);
	CHECK(open_copy(rx, d[5], (size_t)w[5], T0) == SEAL_REPLAY);
	seal_free(rx);

	/* A 33rd that is older than the whole window becomes the floor. */
	rx = new_seal(KEY, 0, 0);
	for (i = 9; i <= 40; i++)
		CHECK(open_copy(rx, d[i], (size_t)w[i], T0) == 17);
	CHECK(open_copy(rx, d[5], (size_t)w[5], T0) == 17);
	CHECK(open_copy(rx, d[5], (size_t)w[5], T0) == SEAL_REPLAY);
	CHECK(open_copy(rx, d[3], (size_t)w[3], T0) == SEAL_REPLAY);
	CHECK(open_copy(rx, d[6], (size_t)w[6], T0) == 17);
	seal_free(rx);

	/* Windows are per sender: b's ts may equal a's. */
	rx = new_seal(KEY, 0, 0);
	n = hand_seal(KEY, "ds1 from=a to=c ts=1732400000000000", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == 17);
	n = hand_seal(KEY, "ds1 from=b to=c ts=1732400000000000", "\n", m);
	CHECK(open_copy(rx, m, n, T0) == 17);
	CHECK(open_copy(rx, m, n, T0) == SEAL_REPLAY);
	/* A new sender's floor is 0, so ts=0 is refused as a replay. */
	n = hand_seal(KEY, "ds1 from=z to=c ts=0", "\n", m);
	CHECK(open_copy(rx, m, n, 0) == SEAL_REPLAY);
	seal_free(rx);
	seal_free(tx);
}

static void
test_stale(void)
{
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal(KEY, 0, 1000);
	char d[128];
	long w;

	w = sign(tx, d, sizeof d, "ds1 from=a to=b\n\n", T0);
	CHECK(w > 0);
	/* More than a second behind us, or ahead of us. */
	CHECK(open_copy(rx, d, (size_t)w, T0 + SEC + 1) == SEAL_STALE);
	CHECK(open_copy(rx, d, (size_t)w, T0 - SEC - 1) == SEAL_STALE);
	CHECK(open_copy(rx, d, (size_t)w, UINT64_MAX) == SEAL_STALE);
	CHECK(open_copy(rx, d, (size_t)w, 0) == SEAL_STALE);
	/* A stale one is not remembered: the same bytes pass in time. */
	CHECK(open_copy(rx, d, (size_t)w, T0 + SEC) == 17);
	CHECK(open_copy(rx, d, (size_t)w, T0 + SEC) == SEAL_REPLAY);
	w = sign(tx, d, sizeof d, "ds1 from=a to=b\n\n", T0 + 10);
	CHECK(open_copy(rx, d, (size_t)w, T0 + 10 - SEC) == 17);
	seal_free(rx);
	/* The default skew is 60 s. */
	rx = new_seal(KEY, 0, 0);
	CHECK(open_copy(rx, d, (size_t)w, T0 + 10 + 61 * SEC) == SEAL_STALE);
	CHECK(open_copy(rx, d, (size_t)w, T0 + 10 + 60 * SEC) == 17);
	seal_free(rx);
	seal_free(tx);
}

static void
test_increasing(void)
{
	struct seal *s = new_seal(KEY, 0, 0);
	static const uint64_t now[] = { 1000, 500, 1001, 1001, 0, 5000, 4999 };
	static const uint64_t want[] = { 1000, 1001, 1002, 1003, 1004, 5000,
		5001 };
	char d[128];
	size_t i;
	long w;

	for (i = 0; i < sizeof now / sizeof now[0]; i++) {
		w = sign(s, d, sizeof d, "ds1 from=a to=b\n\n", now[i]);
		CHECK(w > 0 && ts_of(d, (size_t)w) == want[i]);
	}
	/* The first ts is at least 1, even at time 0. */
	seal_free(s);
	s = new_seal(KEY, 0, 0);
	w = sign(s, d, sizeof d, "ds1 from=a to=b\n\n", 0);
	CHECK(w > 0 && ts_of(d, (size_t)w) == 1);
	/* The counter's end is an error, never a wrap to 0. */
	w = sign(s, d, sizeof d, "ds1 from=a to=b\n\n", UINT64_MAX);
	CHECK(w == 17 + SEAL_OVERHEAD);
	errno = 0;
	CHECK(sign(s, d, sizeof d, "ds1 from=a to=b\n\n", UINT64_MAX) == -1);
	CHECK(errno == EOVERFLOW);
	errno = 0;
	CHECK(sign(s, d, sizeof d, "ds1 from=a to=b\n\n", 5) == -1);
	CHECK(errno == EOVERFLOW);
	seal_free(s);
}

static void
test_eviction(void)
{
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal(KEY, 2, 0);
	char a1[128], a2[128], b1[128], c1[128], dgram[64];
	static char d[10000][112];
	static long w[10000];
	long wa1, wa2, wb1, wc1;
	size_t i, bad;

	wa1 = sign(tx, a1, sizeof a1, "ds1 from=a to=x\n\n", T0 + 1);
	wb1 = sign(tx, b1, sizeof b1, "ds1 from=b to=x\n\n", T0 + 2);
	wa2 = sign(tx, a2, sizeof a2, "ds1 from=a to=x\n\n", T0 + 3);
	wc1 = sign(tx, c1, sizeof c1, "ds1 from=c to=x\n\n", T0 + 4);
	CHECK(wa1 > 0 && wb1 > 0 && wa2 > 0 && wc1 > 0);
	CHECK(open_copy(rx, a1, (size_t)wa1, T0) == 17);
	CHECK(open_copy(rx, b1, (size_t)wb1, T0) == 17);
	CHECK(open_copy(rx, a2, (size_t)wa2, T0) == 17);
	/* Two senders are kept: c pushes out b, used longer ago than a. */
	CHECK(open_copy(rx, c1, (size_t)wc1, T0) == 17);
	CHECK(open_copy(rx, a1, (size_t)wa1, T0) == SEAL_REPLAY);
	CHECK(open_copy(rx, c1, (size_t)wc1, T0) == SEAL_REPLAY);
	/* b is forgotten, so its old datagram passes again (the cost). */
	CHECK(open_copy(rx, b1, (size_t)wb1, T0) == 17);
	/* ... and a, the least recent now, went in its place. */
	CHECK(open_copy(rx, c1, (size_t)wc1, T0) == SEAL_REPLAY);
	CHECK(open_copy(rx, a2, (size_t)wa2, T0) == 17);
	seal_free(rx);

	/* Many senders through the default table of 4096. */
	rx = new_seal(KEY, 0, 0);
	bad = 0;
	for (i = 0; i < 10000; i++) {
		snprintf(dgram, sizeof dgram, "ds1 from=n%zu to=x\n\n", i);
		w[i] = sign(tx, d[i], sizeof d[i], dgram, T0 + i);
		if (w[i] <= 0 || open_copy(rx, d[i], (size_t)w[i], T0) <= 0)
			bad++;
	}
	CHECK(bad == 0);
	/* The last 4096 are remembered; the one before them is not. */
	bad = 0;
	for (i = 10000 - 4096; i < 10000; i++)
		if (open_copy(rx, d[i], (size_t)w[i], T0) != SEAL_REPLAY)
			bad++;
	CHECK(bad == 0);
	CHECK(open_copy(rx, d[10000 - 4097], (size_t)w[10000 - 4097], T0) > 0);
	seal_free(rx);
	seal_free(tx);
}

static void
test_sizes(void)
{
	struct seal *s = new_seal(KEY, 0, 0);
	const char *dg = "ds1 from=a to=b len=2\nhi\n";
	size_t n = strlen(dg), need = n + 4 + 16 + 5 + 64;
	char buf[256];

	memset(buf, '#', sizeof buf);
	errno = 0;
	CHECK(sign(s, buf, need - 1, dg, T0) == -1);
	CHECK(errno == EMSGSIZE);
	/* Refused without a change, and the counter did not move. */
	CHECK(memcmp(buf, dg, n) == 0 && buf[n] == '#');
	CHECK(sign(s, buf, need, dg, T0) == (long)need);
	CHECK(ts_of(buf, need) == T0);
	errno = 0;
	CHECK(seal_sign(s, buf, 0, sizeof buf, T0) == -1);
	CHECK(errno == EINVAL);
	errno = 0;
	CHECK(sign(s, buf, sizeof buf, "ds1 from=a to=b", T0) == -1);
	CHECK(errno == EINVAL);
	memcpy(buf, dg, n);
	errno = 0;
	CHECK(seal_sign(s, buf, n, 5, T0) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(SEAL_OVERHEAD == 93);
	seal_free(s);
	seal_free(NULL);
}

static void
test_strerror(void)
{
	CHECK_STR(seal_strerror(SEAL_BAD), "no well-formed ts and mac fields");
	CHECK_STR(seal_strerror(SEAL_FORGED), "bad MAC");
	CHECK(strcmp(seal_strerror(SEAL_STALE), seal_strerror(SEAL_REPLAY)));
	CHECK(seal_strerror(-99)[0] != '\0');
}

/* xorshift64*: a fixed seed, so a failure can be run again. */
static uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rand64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(2685821657736338717);
}

static size_t
below(size_t n)
{
	return n ? (size_t)(rand64() % n) : 0;
}

/*
 * Random damage to a sealed datagram, each tried in a buffer of exactly
 * its length (so that ASan sees any read past it): byte changes, bit
 * flips, cuts, inserted and deleted bytes, case flips in the MAC.
 */
static void
test_random(void)
{
	static const char chars[] = "0123456789abcdefABCDEF =\n tsmac";
	struct seal *tx = new_seal(KEY, 0, 0), *rx = new_seal(KEY, 0, 0);
	const char *orig = "ds1 from=a to=b type=req id=9 len=6\nhello\n\n";
	char d[256], m[300];
	char *heap;
	size_t n, len, i, k, at, accepted = 0, wrong = 0, same = 0;
	long w, r;

	w = sign(tx, d, sizeof d, orig, T0);
	CHECK(w > 0);
	n = (size_t)w;
	for (i = 0; i < 10000; i++) {
		memcpy(m, d, n);
		len = n;
		for (k = 0; k < 1 + below(3); k++) {
			at = below(len);
			switch (below(7)) {
			case 0:
				m[at] = (char)rand64();
				break;
			case 1:
				m[at] = (char)(m[at] ^ (1 << below(8)));
				break;
			case 2:
				len = below(len + 1);
				break;
			case 3:
				if (len < sizeof m - 1) {
					memmove(m + at + 1, m + at, len - at);
					m[at] = chars[below(sizeof chars - 1)];
					len++;
				}
				break;
			case 4:
				if (len > 0) {
					memmove(m + at, m + at + 1, len - at - 1);
					len--;
				}
				break;
			case 5:
				m[at] = chars[below(sizeof chars - 1)];
				break;
			default:
				at = n - 8 - 64 + below(64);
				if (at < len)
					m[at] = (char)(m[at] ^ 0x20);
				break;
			}
		}
		heap = malloc(len ? len : 1);
		if (heap == NULL)
			continue;
		memcpy(heap, m, len);
		r = seal_open(rx, heap, len, T0);
		if (len == n && memcmp(m, d, n) == 0) {
			/* Unchanged: taken the first time, a replay after. */
			if (r != (same++ == 0 ? (long)strlen(orig) : SEAL_REPLAY))
				wrong++;
		} else if (r >= 0) {
			accepted++;
		} else if (r != SEAL_BAD && r != SEAL_FORGED) {
			wrong++;
		}
		free(heap);
	}
	CHECK(accepted == 0);
	CHECK(wrong == 0);
	seal_free(tx);
	seal_free(rx);
}

void
suite_seal(void)
{
	test_round_trip();
	test_known_answer();
	test_every_byte();
	test_wrong_key();
	test_malformed();
	test_replay();
	test_stale();
	test_increasing();
	test_eviction();
	test_sizes();
	test_strerror();
	test_random();
}
