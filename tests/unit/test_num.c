#include <stdint.h>

#include "../../lib/num.h"
#include "unit.h"

static int
p(const char *s, uint64_t max, int flags, uint64_t *v)
{
	return num_parse_u64(s, strlen(s), max, flags, v);
}

void
suite_num(void)
{
	uint64_t v = 0;
	char out[NUM_U64_MAXLEN];

	CHECK(p("0", 10, NUM_CANON, &v) == NUM_OK && v == 0);
	CHECK(p("10", 10, NUM_CANON, &v) == NUM_OK && v == 10);
	CHECK(p("11", 10, 0, &v) == NUM_RANGE);
	CHECK(p("", 10, 0, &v) == NUM_EMPTY);
	CHECK(p("1a", 100, 0, &v) == NUM_SYNTAX);
	CHECK(p("-1", 100, 0, &v) == NUM_SYNTAX);
	CHECK(p("+1", 100, 0, &v) == NUM_SYNTAX);
	CHECK(p(" 1", 100, 0, &v) == NUM_SYNTAX);
	CHECK(p("07", 100, NUM_CANON, &v) == NUM_LEADZERO);
	CHECK(p("07", 100, 0, &v) == NUM_OK && v == 7);
	CHECK(p("18446744073709551615", UINT64_MAX, 0, &v) == NUM_OK &&
	    v == UINT64_MAX);
	CHECK(p("18446744073709551616", UINT64_MAX, 0, &v) == NUM_RANGE);
	CHECK(p("99999999999999999999999", UINT64_MAX, 0, &v) == NUM_RANGE);
	/* A maximum below one digit's value must not wrap. */
	CHECK(p("9", 5, 0, &v) == NUM_RANGE);
	/* Length-limited: the bytes after n are not looked at. */
	CHECK(num_parse_u64("12x", 2, 100, 0, &v) == NUM_OK && v == 12);

	CHECK(num_parse_size("65536", 0, UINT64_MAX, &v) == NUM_OK &&
	    v == 65536);
	CHECK(num_parse_size("64k", 0, UINT64_MAX, &v) == NUM_OK &&
	    v == 65536);
	CHECK(num_parse_size("16M", 0, UINT64_MAX, &v) == NUM_OK &&
	    v == 16u << 20);
	CHECK(num_parse_size("1G", 0, UINT64_MAX, &v) == NUM_OK &&
	    v == 1u << 30);
	CHECK(num_parse_size("2KiB", 0, UINT64_MAX, &v) == NUM_OK &&
	    v == 2048);
	CHECK(num_parse_size("3mB", 0, UINT64_MAX, &v) == NUM_OK &&
	    v == 3u << 20);
	CHECK(num_parse_size("1x", 0, UINT64_MAX, &v) == NUM_SYNTAX);
	CHECK(num_parse_size("1kx", 0, UINT64_MAX, &v) == NUM_SYNTAX);
	CHECK(num_parse_size("k", 0, UINT64_MAX, &v) == NUM_EMPTY);
	CHECK(num_parse_size("", 0, UINT64_MAX, &v) == NUM_EMPTY);
	CHECK(num_parse_size("0", 1, 100, &v) == NUM_RANGE);
	CHECK(num_parse_size("2k", 0, 2047, &v) == NUM_RANGE);
	CHECK(num_parse_size("17179869184G", 0, UINT64_MAX, &v) ==
	    NUM_RANGE);

	CHECK_MEM(out, num_fmt_u64(out, 0), "0");
	CHECK_MEM(out, num_fmt_u64(out, 7), "7");
	CHECK_MEM(out, num_fmt_u64(out, 10), "10");
	CHECK_MEM(out, num_fmt_u64(out, 99), "99");
	CHECK_MEM(out, num_fmt_u64(out, 100), "100");
	CHECK_MEM(out, num_fmt_u64(out, 1234567), "1234567");
	CHECK_MEM(out, num_fmt_u64(out, UINT64_MAX), "18446744073709551615");
	CHECK_STR(num_strerror(NUM_RANGE), "out of range");
	CHECK_STR(num_strerror(NUM_LEADZERO), "leading zero");
}
