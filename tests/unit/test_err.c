#include "../../lib/err.h"
#include "unit.h"

void
suite_err(void)
{
	char out[32], small[8];

	err_init("/usr/local/bin/dsthing");
	CHECK_STR(err_prog(), "dsthing");
	CHECK_STR(err_printable(out, sizeof out, "ab\n\x01\\z\xff", 7),
	    "ab\\x0a\\x01\\x5cz\\xff");
	/* Too long for the buffer: cut, marked with "...", terminated. */
	CHECK_STR(err_printable(small, sizeof small, "abcdefghijkl", 12),
	    "abcd...");
	CHECK_STR(err_printable(out, sizeof out, "", 0), "");
	CHECK(DS_EXIT_OK == 0 && DS_EXIT_DATA == 1 && DS_EXIT_USAGE == 2 &&
	    DS_EXIT_SYS == 3 && DS_EXIT_TIMEOUT == 4);
}
