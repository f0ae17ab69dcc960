#include "../../lib/addr.h"
#include "unit.h"

static int
parse(const char *s, struct addr *a, char *err)
{
	return addr_parse(s, a, err, 128);
}

void
suite_addr(void)
{
	struct addr a;
	char err[128], out[160];

	CHECK(parse("127.0.0.1:7070", &a, err) == 0 && a.kind == ADDR_INET &&
	    strcmp(a.host, "127.0.0.1") == 0 && a.port == 7070);
	CHECK(parse("localhost:0", &a, err) == 0 && a.port == 0);
	CHECK(parse("[::1]:65535", &a, err) == 0 && a.kind == ADDR_INET &&
	    strcmp(a.host, "::1") == 0 && a.port == 65535);
	addr_format(&a, out, sizeof out);
	CHECK_STR(out, "[::1]:65535");
	CHECK(parse("[fe80::1%eth0]:1", &a, err) == 0 &&
	    strcmp(a.host, "fe80::1%eth0") == 0);
	CHECK(parse("unix:/run/ds.sock", &a, err) == 0 &&
	    a.kind == ADDR_UNIX && strcmp(a.path, "/run/ds.sock") == 0);
	addr_format(&a, out, sizeof out);
	CHECK_STR(out, "unix:/run/ds.sock");
	CHECK(parse("./ds.sock", &a, err) == 0 && a.kind == ADDR_UNIX &&
	    strcmp(a.path, "./ds.sock") == 0);
	CHECK(parse("unix:rel", &a, err) == 0 && strcmp(a.path, "rel") == 0);

	CHECK(parse("127.0.0.1", &a, err) < 0 &&
	    strstr(err, "expected host:port") != NULL);
	CHECK(parse(":7070", &a, err) < 0 &&
	    strstr(err, "missing host") != NULL);
	CHECK(parse("host:", &a, err) < 0 &&
	    strstr(err, "missing port") != NULL);
	CHECK(parse("host:65536", &a, err) < 0 &&
	    strstr(err, "port must be 0 to 65535") != NULL);
	CHECK(parse("host:7x", &a, err) < 0);
	CHECK(parse("::1:80", &a, err) < 0 &&
	    strstr(err, "needs brackets") != NULL);
	CHECK(parse("[::1]80", &a, err) < 0 &&
	    strstr(err, "expected ':port'") != NULL);
	CHECK(parse("[::1:80", &a, err) < 0 &&
	    strstr(err, "missing ']'") != NULL);
	CHECK(parse("[1.2.3.4]:80", &a, err) < 0 &&
	    strstr(err, "only for IPv6") != NULL);
	CHECK(parse("ho st:80", &a, err) < 0 &&
	    strstr(err, "bad character") != NULL);
	CHECK(parse("unix:", &a, err) < 0 &&
	    strstr(err, "empty socket path") != NULL);
	CHECK(parse("/a/very/long/path/that/goes/on/and/on/and/on/and/on/"
	    "and/on/and/on/and/on/and/on/and/on/and/on/and/on/x.sock", &a,
	    err) < 0 && strstr(err, "too long") != NULL);
	CHECK(strncmp(err, "bad address '", 13) == 0);
}
