#include <errno.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include "../../lib/addr.h"
#include "../../lib/udp.h"
#include "unit.h"

static int
open_at(const char *s, char *err, size_t n)
{
	struct addr a;

	if (addr_parse(s, &a, err, n) < 0)
		return -1;
	return udp_open(&a, err, n);
}

static void
formats(void)
{
	struct udp_addr a;
	char err[200], s[UDP_ADDR_MAX + 1];

	CHECK(udp_resolve("127.0.0.1:7946", 1, &a, err, sizeof err) == 0);
	udp_format((struct sockaddr *)&a.ss, a.len, s, sizeof s);
	CHECK_STR(s, "127.0.0.1:7946");
	/* The spelling peers compare is the one inet_ntop makes. */
	CHECK(udp_resolve("[0:0::1]:1", 1, &a, err, sizeof err) == 0);
	udp_format((struct sockaddr *)&a.ss, a.len, s, sizeof s);
	CHECK_STR(s, "[::1]:1");
	CHECK(udp_resolve("localhost:1", 1, &a, err, sizeof err) < 0 &&
	    errno == EINVAL && strstr(err, "localhost") != NULL);
	CHECK(udp_resolve("localhost:1", 0, &a, err, sizeof err) == 0);
	CHECK(udp_resolve("/tmp/x", 1, &a, err, sizeof err) < 0);
	CHECK(udp_resolve("1.2.3.4", 1, &a, err, sizeof err) < 0);
	CHECK(udp_resolve("0.0.0.0:5", 1, &a, err, sizeof err) == 0 &&
	    udp_is_wildcard(&a));
	CHECK(udp_resolve("[::]:5", 1, &a, err, sizeof err) == 0 &&
	    udp_is_wildcard(&a));
	CHECK(udp_resolve("10.0.0.1:5", 1, &a, err, sizeof err) == 0 &&
	    !udp_is_wildcard(&a));
	udp_set_port(&a, 6);
	udp_format((struct sockaddr *)&a.ss, a.len, s, sizeof s);
	CHECK_STR(s, "10.0.0.1:6");
}

static void
round_trip(void)
{
	char err[200], la[UDP_ADDR_MAX + 1], lb[UDP_ADDR_MAX + 1];
	char buf[100], from[UDP_ADDR_MAX + 1];
	struct udp_addr to, src, via;
	int a, b;
	ssize_t r;

	a = open_at("127.0.0.1:0", err, sizeof err);
	b = open_at("127.0.0.1:0", err, sizeof err);
	CHECK(a >= 0 && b >= 0);
	CHECK(udp_local(a, la, sizeof la) == 0 && strncmp(la, "127.0.0.1:",
	    10) == 0 && strcmp(la, "127.0.0.1:0") != 0);
	CHECK(udp_local(b, lb, sizeof lb) == 0);
	CHECK(udp_recv(b, buf, sizeof buf, &src) < 0 && errno == EAGAIN);
	CHECK(udp_resolve(lb, 1, &to, err, sizeof err) == 0);
	CHECK(udp_send(a, &to, "hello", 5) == 0);
	r = -1;
	for (int i = 0; i < 1000 && r < 0; i++) {
		r = udp_recv(b, buf, sizeof buf, &src);
		if (r < 0)
			(void)poll(NULL, 0, 1);
	}
	CHECK(r == 5 && memcmp(buf, "hello", 5) == 0);
	udp_format((struct sockaddr *)&src.ss, src.len, from, sizeof from);
	CHECK_STR(from, la);
	/* A datagram longer than the buffer says so. */
	CHECK(udp_send(a, &to, "0123456789", 10) == 0);
	r = -1;
	for (int i = 0; i < 1000 && r < 0; i++) {
		r = udp_recv(b, buf, 4, &src);
		if (r < 0)
			(void)poll(NULL, 0, 1);
	}
	CHECK(r == 5);
	CHECK(udp_source_for(&to, &via) == 0);
	udp_format((struct sockaddr *)&via.ss, via.len, from, sizeof from);
	CHECK(strncmp(from, "127.0.0.1:", 10) == 0);
	close(a);
	close(b);
	/* A port taken is an error that names the address. */
	a = open_at("127.0.0.1:0", err, sizeof err);
	CHECK(udp_local(a, la, sizeof la) == 0);
	CHECK(open_at(la, err, sizeof err) < 0 && errno == EADDRINUSE &&
	    strstr(err, la) != NULL);
	close(a);
	CHECK(open_at("unix:/tmp/x", err, sizeof err) < 0 &&
	    strstr(err, "host:port") != NULL);
}

void
suite_udp(void)
{
	formats();
	round_trip();
}
