/*
 * udp: datagram sockets and address strings; see udp.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "udp.h"

#define RCVBUF (4 << 20) /* a whole group answering a sync at once */

static int
fail(char *err, size_t errlen, int e, const char *fmt, const char *a,
    const char *b)
{
	if (errlen > 0)
		snprintf(err, errlen, fmt, a, b);
	errno = e;
	return -1;
}

static void
no_fragments(int fd, int family)
{
	/*
	 * Linux would otherwise fragment a datagram larger than the path;
	 * the budget is meant to keep datagrams whole, so a send that
	 * cannot be whole had better fail where it can be counted.
	 */
#if defined(IP_MTU_DISCOVER) && defined(IP_PMTUDISC_DO)
	int v = IP_PMTUDISC_DO;

	if (family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
#endif
#if defined(IPV6_MTU_DISCOVER) && defined(IPV6_PMTUDISC_DO)
	int v6 = IPV6_PMTUDISC_DO;

	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6,
		    sizeof v6);
#endif
	(void)fd;
	(void)family;
}

int
udp_open(const struct addr *a, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char port[8], shown[UDP_ADDR_MAX + 300];
	int fd = -1, e = 0, rc, rcvbuf = RCVBUF;

	addr_format(a, shown, sizeof shown);
	if (a->kind != ADDR_INET)
		return fail(err, errlen, EINVAL, "%s: a UDP address is "
		    "host:port%s", shown, "");
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof port, "%u", a->port);
	rc = getaddrinfo(a->host, port, &hints, &res);
	if (rc != 0)
		return fail(err, errlen, EINVAL, "cannot resolve %s: %s",
		    shown, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			no_fragments(fd, ai->ai_family);
			break;
		}
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(err, errlen, e, "cannot bind %s: %s", shown,
		    strerror(e));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (net_nonblock(fd, 1) < 0 || net_cloexec(fd) < 0) {
		e = errno;
		close(fd);
		return fail(err, errlen, e, "cannot set up %s: %s", shown,
		    strerror(e));
	}
	return fd;
}

int
udp_resolve(const char *s, int numeric, struct udp_addr *out, char *err,
    size_t errlen)
{
	struct addr a;
	struct addrinfo hints, *res;
	char port[8];
	int rc;

	if (addr_parse(s, &a, err, errlen) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (a.kind != ADDR_INET)
		return fail(err, errlen, EINVAL, "%s: a UDP address is "
		    "host:port%s", s, "");
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = numeric ? AI_NUMERICHOST | AI_NUMERICSERV :
	    AI_NUMERICSERV;
	snprintf(port, sizeof port, "%u", a.port);
	rc = getaddrinfo(a.host, port, &hints, &res);
	if (rc != 0)
		return fail(err, errlen, numeric ? EINVAL : EHOSTUNREACH,
		    "cannot resolve %s: %s", s, gai_strerror(rc));
	if (res->ai_addrlen > sizeof out->ss) {
		freeaddrinfo(res);
		return fail(err, errlen, EINVAL, "%s: address too long%s", s,
		    "");
	}
	memset(out, 0, sizeof *out);
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void
udp_format(const struct sockaddr *sa, socklen_t len, char *dst, size_t n)
{
	char host[INET6_ADDRSTRLEN + 1], port[8];

	if (n == 0)
		return;
	dst[0] = '\0';
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;

		if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof host) ==
		    NULL)
			return;
		snprintf(dst, n, "%s:%u", host, (unsigned)ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		/* getnameinfo spells the zone of a link-local address. */
		if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
		    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			return;
		snprintf(dst, n, "[%s]:%u", host,
		    (unsigned)ntohs(in6->sin6_port));
	}
}

int
udp_local(int fd, char *dst, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	udp_format((struct sockaddr *)&ss, len, dst, n);
	if (dst[0] == '\0') {
		errno = EAFNOSUPPORT;
		return -1;
	}
	return 0;
}

int
udp_source_for(const struct udp_addr *to, struct udp_addr *out)
{
	int fd, e;

	fd = socket(to->ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	out->len = sizeof out->ss;
	/* connect(2) on UDP sends nothing: it only picks a route. */
	if (connect(fd, (const struct sockaddr *)&to->ss, to->len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&out->ss, &out->len) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

int
udp_is_wildcard(const struct udp_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&a->ss;

		return in->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&a->ss;

		return memcmp(&in6->sin6_addr, &in6addr_any,
		    sizeof in6addr_any) == 0;
	}
	return 0;
}

void
udp_set_port(struct udp_addr *a, unsigned port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)(void *)&a->ss)->sin_port =
		    htons((unsigned short)port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)&a->ss)->sin6_port =
		    htons((unsigned short)port);
}

int
udp_send(int fd, const struct udp_addr *to, const void *buf, size_t n)
{
	ssize_t w;

	do
		w = sendto(fd, buf, n, 0, (const struct sockaddr *)&to->ss,
		    to->len);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -1 : 0;
}

ssize_t
udp_recv(int fd, void *buf, size_t n, struct udp_addr *from)
{
	struct msghdr mh;
	struct iovec iov;
	ssize_t r;

	memset(&mh, 0, sizeof mh);
	iov.iov_base = buf;
	iov.iov_len = n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_name = &from->ss;
	mh.msg_namelen = sizeof from->ss;
	do
		r = recvmsg(fd, &mh, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	from->len = mh.msg_namelen;
	/* A cut datagram is reported as longer than the buffer. */
	if (mh.msg_flags & MSG_TRUNC)
		return (ssize_t)n + 1;
	return r;
}
