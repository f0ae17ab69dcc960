#include "num.h"

#include <string.h>

int
num_parse_u64(const char *s, size_t n, uint64_t max, int flags,
    uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return NUM_EMPTY;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return NUM_SYNTAX;
		/* Check before each step so that the value never wraps. */
		if (v > max / 10)
			return NUM_RANGE;
		v *= 10;
		if (d > max - v)
			return NUM_RANGE;
		v += d;
	}
	if ((flags & NUM_CANON) && n > 1 && s[0] == '0')
		return NUM_LEADZERO;
	*out = v;
	return NUM_OK;
}

int
num_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	size_t digits = 0, n = strlen(s);
	uint64_t v, mult = 1;
	const char *suf;
	int rc;

	while (digits < n && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	suf = s + digits;
	switch (*suf) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		return digits == 0 ? NUM_EMPTY : NUM_SYNTAX;
	}
	if (*suf != '\0') {
		suf++;
		if (strcmp(suf, "") != 0 && strcmp(suf, "B") != 0 &&
		    strcmp(suf, "iB") != 0)
			return NUM_SYNTAX;
	}
	rc = num_parse_u64(s, digits, max / mult, 0, &v);
	if (rc != NUM_OK)
		return rc;
	v *= mult;
	if (v < min)
		return NUM_RANGE;
	*out = v;
	return NUM_OK;
}

int
num_parse_seconds(const char *s, uint64_t max_ms, uint64_t *ms)
{
	const char *dot = strchr(s, '.');
	size_t whole = dot != NULL ? (size_t)(dot - s) : strlen(s);
	uint64_t sec, frac = 0;
	size_t i, nfrac = 0;
	int rc;

	if (whole == 0 && dot == NULL)
		return NUM_EMPTY;
	if (whole == 0)
		sec = 0;
	else if ((rc = num_parse_u64(s, whole, max_ms / 1000, 0, &sec)) !=
	    NUM_OK)
		return rc;
	if (dot != NULL) {
		nfrac = strlen(dot + 1);
		if (nfrac == 0 || nfrac > 3)
			return NUM_SYNTAX;
		if ((rc = num_parse_u64(dot + 1, nfrac, 999, 0, &frac)) !=
		    NUM_OK)
			return rc;
		for (i = nfrac; i < 3; i++)
			frac *= 10;
	}
	if (sec * 1000 + frac > max_ms)
		return NUM_RANGE;
	*ms = sec * 1000 + frac;
	return NUM_OK;
}

int
num_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

const char *
num_strerror(int code)
{
	switch (code) {
	case NUM_OK:
		return "no error";
	case NUM_EMPTY:
		return "no digits";
	case NUM_SYNTAX:
		return "not a decimal number";
	case NUM_LEADZERO:
		return "leading zero";
	case NUM_RANGE:
		return "out of range";
	}
	return "unknown error";
}

size_t
num_fmt_u64(char *dst, uint64_t v)
{
	/* Two digits per division: this runs for every frame a tool sends. */
	static const char pairs[] =
	    "00010203040506070809101112131415161718192021222324252627282930"
	    "31323334353637383940414243444546474849505152535455565758596061"
	    "6263646566676869707172737475767778798081828384858687888990919293"
	    "949596979899";
	char tmp[NUM_U64_MAXLEN];
	size_t n = NUM_U64_MAXLEN;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		tmp[--n] = pairs[d + 1];
		tmp[--n] = pairs[d];
	}
	if (v >= 10) {
		tmp[--n] = pairs[v * 2 + 1];
		tmp[--n] = pairs[v * 2];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(dst, tmp + n, NUM_U64_MAXLEN - n);
	return NUM_U64_MAXLEN - n;
}
