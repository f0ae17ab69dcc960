/*
 * num: checked number parsing and fast formatting.
 *
 * Every parser takes an explicit length, so it works on views into a
 * network buffer that are not NUL-terminated.  It accepts only plain
 * decimal digits (no sign, no spaces, no base prefix), refuses leading
 * zeros where a protocol wants one spelling per number, and refuses any
 * value above the caller's maximum.  Nothing here allocates or prints.
 */
#ifndef DS_NUM_H
#define DS_NUM_H

#include <stddef.h>
#include <stdint.h>

enum {
	NUM_OK = 0,
	NUM_EMPTY = -1,     /* no digits */
	NUM_SYNTAX = -2,    /* a byte that is not a digit, or a bad suffix */
	NUM_LEADZERO = -3,  /* leading zero where NUM_CANON asked for none */
	NUM_RANGE = -4      /* above the maximum */
};

#define NUM_CANON 1 /* refuse leading zeros: "0" is fine, "07" is not */

/* Parse s[0..n) as a decimal number no greater than max. */
int num_parse_u64(const char *s, size_t n, uint64_t max, int flags,
    uint64_t *out);

/*
 * Parse a NUL-terminated size such as "65536", "64k", "16M" or "1G"
 * (powers of 1024; the suffix may also be lowercase or followed by "iB"
 * or "B").  The result must lie in [min, max].
 */
int num_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* The value of one hex digit (either case), or -1. */
int num_hexval(unsigned char c);

/*
 * Parse a duration in seconds, "30", "0.5" or "2.25" (at most three
 * decimals), into milliseconds, at most max_ms.  A NUM_* code.
 */
int num_parse_seconds(const char *s, uint64_t max_ms, uint64_t *ms);

/* A short English reason for a NUM_* code, for diagnostics. */
const char *num_strerror(int code);

/*
 * Write v in decimal to dst, which must hold NUM_U64_MAXLEN bytes.
 * Returns the number of bytes written; no NUL is added.
 */
#define NUM_U64_MAXLEN 20
size_t num_fmt_u64(char *dst, uint64_t v);

#endif
