/* accept4(2) is a Linux (and BSD) extension; ask for it where it exists. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "num.h"

#if defined(__linux__) && defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
#define HAVE_ACCEPT4 1
#endif

/* Room for "[" host "]:" port, or "unix:" path. */
#define NAME_MAX_LEN (ADDR_HOST_MAX + 16)

static int
fail(char *err, size_t errlen, const char *what, const struct addr *a, int e)
{
	char name[NAME_MAX_LEN];

	addr_format(a, name, sizeof name);
	snprintf(err, errlen, "%s %s: %s", what, name, strerror(e));
	errno = e;
	return -1;
}

/* Close fd without letting close(2) clobber the errno being reported. */
static void
close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

int
net_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (!!(fl & O_NONBLOCK) == !!on)
		return 0;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int
net_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -1;
	if (fl & FD_CLOEXEC)
		return 0;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

int
net_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/*
 * A socket that is non-blocking and close-on-exec from birth where the
 * system can do that in one call, so that a fork elsewhere in the
 * process never sees it without the flag.
 */
static int
new_socket(int domain, int type, int protocol)
{
	int fd;

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
	fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	/* A kernel older than the flags: fall through to fcntl. */
#endif
	fd = socket(domain, type, protocol);
	if (fd < 0)
		return -1;
	if (net_nonblock(fd, 1) < 0 || net_cloexec(fd) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

static int
unix_sockaddr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(path);

	if (n >= sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/* Write sa in addr_parse's syntax; 0, or -1 with errno. */
static int
format_sockaddr(const struct sockaddr_storage *ss, socklen_t len, char *dst,
    size_t n)
{
	const struct sockaddr *sa = (const struct sockaddr *)ss;
	char host[INET6_ADDRSTRLEN + 16];
	int w;

	if (len < (socklen_t)sizeof sa->sa_family) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host) ==
		    NULL)
			return -1;
		w = snprintf(dst, n, "%s:%u", host,
		    (unsigned)ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)ss;
		size_t used;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host) ==
		    NULL)
			return -1;
		/* A link-local address needs its interface to be dialled. */
		used = strlen(host);
		if (sin6->sin6_scope_id != 0)
			snprintf(host + used, sizeof host - used, "%%%lu",
			    (unsigned long)sin6->sin6_scope_id);
		w = snprintf(dst, n, "[%s]:%u", host,
		    (unsigned)ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = len > off ? (size_t)len - off : 0;

		if (plen > sizeof sun->sun_path)
			plen = sizeof sun->sun_path;
		if (plen == 0 || sun->sun_path[0] == '\0') {
#ifdef __linux__
			/* Linux's abstract namespace: any bytes may follow. */
			if (plen > 1) {
				char shown[512];

				err_printable(shown, sizeof shown,
				    sun->sun_path + 1, plen - 1);
				w = snprintf(dst, n, "unix:@%s", shown);
			} else
#endif
				w = snprintf(dst, n, "unix:");
		} else {
			size_t pl = 0;

			while (pl < plen && sun->sun_path[pl] != '\0')
				pl++;
			w = snprintf(dst, n, "unix:%.*s", (int)pl,
			    sun->sun_path);
		}
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (w < 0 || (size_t)w >= n) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

int
net_bound_name(int fd, char *dst, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return format_sockaddr(&ss, len, dst, n);
}

int
net_peer_name(int fd, char *dst, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return format_sockaddr(&ss, len, dst, n);
}

/*
 * getaddrinfo for a stream socket.  Its errors are not errno values:
 * report them as text and stand ENOENT in for them (ENOMEM and the
 * system's own error where that is what happened).
 */
static struct addrinfo *
resolve(const struct addr *a, int passive, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char port[8], name[NAME_MAX_LEN];
	int rc, e;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/*
	 * No AI_ADDRCONFIG: it hides ::1 and 127.0.0.1 on a host whose only
	 * interface is loopback, which is exactly where tests run.
	 */
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(port, sizeof port, "%u", a->port);
	rc = getaddrinfo(a->host, port, &hints, &res);
	if (rc == 0 && res != NULL)
		return res;
	if (rc == 0)
		rc = EAI_NONAME;
	if (rc == EAI_SYSTEM)
		e = errno != 0 ? errno : EIO;
	else
		e = rc == EAI_MEMORY ? ENOMEM : ENOENT;
	addr_format(a, name, sizeof name);
	snprintf(err, errlen, "cannot resolve %s: %s", name,
	    rc == EAI_SYSTEM ? strerror(e) : gai_strerror(rc));
	errno = e;
	return NULL;
}

static int
listen_inet(const struct addr *a, int backlog, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, e = EADDRNOTAVAIL, one = 1;

	if ((res = resolve(a, 1, err, errlen)) == NULL)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = new_socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol);
		if (fd < 0) {
			/* A family this host lacks says less than others. */
			if (errno != EAFNOSUPPORT || ai == res)
				e = errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof one) == 0 &&
#ifdef IPV6_V6ONLY
		    (ai->ai_family != AF_INET6 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof one) == 0) &&
#endif
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(err, errlen, "cannot listen on", a, e);
	return fd;
}

/*
 * Is anyone accepting on the Unix socket file at sun?  1 yes, 0 no (a
 * socket left behind by a dead server), -1 cannot tell (errno).  The
 * probe is non-blocking, since on Linux a connect to a socket whose
 * backlog is full would otherwise wait.
 */
static int
unix_in_use(const struct sockaddr_un *sun, socklen_t len)
{
	int fd = new_socket(AF_UNIX, SOCK_STREAM, 0), rc;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, len) == 0)
		rc = 1;
	else if (errno == ECONNREFUSED || errno == ENOENT)
		rc = 0;
	else if (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINPROGRESS || errno == EINTR || errno == EPROTOTYPE)
		/* A full backlog, or a socket of another type: it is live. */
		rc = 1;
	else
		rc = -1;
	close_keep_errno(fd);
	return rc;
}

static int
listen_unix(const struct addr *a, int backlog, int mode, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len;
	struct stat st;
	mode_t old_mask = 0;
	int fd, rc;

	if (unix_sockaddr(a->path, &sun, &len) < 0)
		return fail(err, errlen, "cannot listen on", a, errno);
	if (lstat(a->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fail(err, errlen, "cannot listen on", a, EEXIST);
			snprintf(err + strlen(err), errlen - strlen(err),
			    " and is not a socket");
			return -1;
		}
		rc = unix_in_use(&sun, len);
		if (rc != 0)
			return fail(err, errlen, "cannot listen on", a,
			    rc > 0 ? EADDRINUSE : errno);
		if (unlink(a->path) < 0 && errno != ENOENT)
			return fail(err, errlen, "cannot listen on", a, errno);
	} else if (errno != ENOENT) {
		return fail(err, errlen, "cannot listen on", a, errno);
	}
	if ((fd = new_socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return fail(err, errlen, "cannot listen on", a, errno);
	if (mode >= 0)
		old_mask = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sun, len);
	if (mode >= 0) {
		int saved = errno;

		umask(old_mask);
		errno = saved;
	}
	if (rc < 0) {
		close_keep_errno(fd);
		return fail(err, errlen, "cannot listen on", a, errno);
	}
	if (listen(fd, backlog) < 0) {
		close_keep_errno(fd);
		/* The file is ours: do not leave it for the next start. */
		rc = errno;
		unlink(a->path);
		return fail(err, errlen, "cannot listen on", a, rc);
	}
	return fd;
}

int
net_listen_mode(const struct addr *a, int backlog, int mode, char *err,
    size_t errlen)
{
	if (a->kind == ADDR_UNIX)
		return listen_unix(a, backlog, mode, err, errlen);
	return listen_inet(a, backlog, err, errlen);
}

int
net_listen(const struct addr *a, int backlog, char *err, size_t errlen)
{
	return net_listen_mode(a, backlog, -1, err, errlen);
}

int
net_accept(int lfd, char *peer, size_t n, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	for (;;) {
		len = sizeof ss;
		memset(&ss, 0, sizeof ss);
#ifdef HAVE_ACCEPT4
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
		fd = accept(lfd, (struct sockaddr *)&ss, &len);
		if (fd >= 0 && (net_nonblock(fd, 1) < 0 || net_cloexec(fd) <
		    0)) {
			close_keep_errno(fd);
			fd = -1;
		}
#endif
		if (fd >= 0)
			break;
		/* A client that gave up while queued costs only itself. */
		if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO)
			break;
	}
	if (fd < 0) {
		char name[NAME_MAX_LEN];
		int e = errno == EWOULDBLOCK ? EAGAIN : errno;

		/* EAGAIN is the common case: spare it a getsockname. */
		if (e == EAGAIN || net_bound_name(lfd, name, sizeof name) < 0)
			snprintf(err, errlen, "cannot accept: %s",
			    strerror(e));
		else
			snprintf(err, errlen, "cannot accept on %s: %s", name,
			    strerror(e));
		errno = e;
		return -1;
	}
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		net_nodelay(fd);
	if (peer != NULL && n > 0 &&
	    format_sockaddr(&ss, len, peer, n) < 0)
		snprintf(peer, n, "?");
	return fd;
}

/*
 * Wait for a non-blocking connect to finish.  0 when connected, or -1
 * with errno (ETIMEDOUT at the deadline).
 */
static int
connect_wait(int fd, long long deadline)
{
	struct pollfd p;
	socklen_t len;
	int rc, soerr;

	for (;;) {
		p.fd = fd;
		p.events = POLLOUT;
		p.revents = 0;
		rc = poll(&p, 1, io_remaining_ms(deadline));
		if (rc > 0)
			break;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
	soerr = 0;
	len = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/* One address: the connected fd, or -1 with errno. */
static int
dial_one(int domain, int protocol, const struct sockaddr *sa,
    socklen_t salen, long long deadline)
{
	int fd = new_socket(domain, SOCK_STREAM, protocol);
	int nap = 1;

	if (fd < 0)
		return -1;
	for (;;) {
		if (connect(fd, sa, salen) == 0)
			break;
		/* After EINTR the connect goes on in the background. */
		if (errno == EINPROGRESS || errno == EINTR) {
			if (connect_wait(fd, deadline) == 0)
				break;
			goto fail;
		}
		/*
		 * Linux: a Unix socket with a full backlog.  There is nothing
		 * to poll for, so try again after a short nap that grows.
		 */
		if (domain == AF_UNIX && (errno == EAGAIN ||
		    errno == EWOULDBLOCK)) {
			int left = io_remaining_ms(deadline);

			if (left == 0) {
				errno = ETIMEDOUT;
				goto fail;
			}
			if (left < 0 || left > nap)
				left = nap;
			poll(NULL, 0, left);
			if (nap < 64)
				nap *= 2;
			continue;
		}
		goto fail;
	}
	if (domain == AF_INET || domain == AF_INET6)
		net_nodelay(fd);
	return fd;
fail:
	close_keep_errno(fd);
	return -1;
}

int
net_dial(const struct addr *a, int timeout_ms, char *err, size_t errlen)
{
	long long deadline = timeout_ms < 0 ? -1 : io_now_ms() + timeout_ms;
	struct addrinfo *res, *ai;
	int fd = -1, e = ECONNREFUSED;

	if (a->kind == ADDR_UNIX) {
		struct sockaddr_un sun;
		socklen_t len;

		if (unix_sockaddr(a->path, &sun, &len) < 0)
			return fail(err, errlen, "cannot connect to", a,
			    errno);
		fd = dial_one(AF_UNIX, 0, (struct sockaddr *)&sun, len,
		    deadline);
		if (fd < 0)
			return fail(err, errlen, "cannot connect to", a,
			    errno);
		return fd;
	}
	if ((res = resolve(a, 0, err, errlen)) == NULL)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = dial_one(ai->ai_family, ai->ai_protocol, ai->ai_addr,
		    ai->ai_addrlen, deadline);
		if (fd >= 0)
			break;
		/* A family this host lacks says less than others. */
		if (errno != EAFNOSUPPORT || ai == res)
			e = errno;
		if (errno == ETIMEDOUT && io_remaining_ms(deadline) == 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(err, errlen, "cannot connect to", a, e);
	return fd;
}

/* Copy an environment value for a diagnostic: short and printable. */
static const char *
shown(char *dst, size_t n, const char *s)
{
	size_t len = strlen(s);

	return err_printable(dst, n, s, len > 64 ? 64 : len);
}

/*
 * Split LISTEN_FDNAMES into count names.  0, or -1 with err set.
 */
static int
split_names(const char *s, int count, char (*names)[NET_NAME_MAX],
    char *err, size_t errlen)
{
	const char *p = s;
	int i;

	for (i = 0; i < count; i++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p), k;

		if (len >= NET_NAME_MAX) {
			snprintf(err, errlen,
			    "LISTEN_FDNAMES: name %d is longer than %d bytes",
			    i + 1, NET_NAME_MAX - 1);
			return -1;
		}
		for (k = 0; k < len; k++)
			if ((unsigned char)p[k] < 0x20 ||
			    (unsigned char)p[k] == 0x7f) {
				snprintf(err, errlen, "LISTEN_FDNAMES: name %d "
				    "has a control character", i + 1);
				return -1;
			}
		if (names != NULL) {
			memcpy(names[i], p, len);
			names[i][len] = '\0';
		}
		if (end == NULL) {
			if (i + 1 != count)
				break;
			return 0;
		}
		p = end + 1;
	}
	/* Count the names for the message. */
	for (i = 1, p = s; *p != '\0'; p++)
		i += *p == ':';
	snprintf(err, errlen, "LISTEN_FDNAMES has %d names for %d sockets",
	    i, count);
	return -1;
}

static int
activation(int *fds, char (*names)[NET_NAME_MAX], int max, char *err,
    size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID");
	const char *fds_s = getenv("LISTEN_FDS");
	const char *names_s = getenv("LISTEN_FDNAMES");
	char show[80];
	uint64_t pid, n;
	int rc, i;

	if (pid_s == NULL)
		return 0;
	rc = num_parse_u64(pid_s, strlen(pid_s), UINT64_MAX, 0, &pid);
	if (rc != NUM_OK || pid == 0) {
		snprintf(err, errlen, "bad LISTEN_PID '%s': %s",
		    shown(show, sizeof show, pid_s),
		    rc != NUM_OK ? num_strerror(rc) : "zero");
		errno = EINVAL;
		return -1;
	}
	/* Meant for another process (our parent, say): not ours to take. */
	if (pid != (uint64_t)getpid() || fds_s == NULL)
		return 0;
	rc = num_parse_u64(fds_s, strlen(fds_s),
	    (uint64_t)INT_MAX - NET_ACTIVATION_FD0, 0, &n);
	if (rc != NUM_OK) {
		snprintf(err, errlen, "bad LISTEN_FDS '%s': %s",
		    shown(show, sizeof show, fds_s), num_strerror(rc));
		errno = EINVAL;
		return -1;
	}
	if (n > (uint64_t)(max < 0 ? 0 : max)) {
		snprintf(err, errlen, "LISTEN_FDS=%d is more than the %d "
		    "sockets supported", (int)n, max);
		errno = EINVAL;
		return -1;
	}
	if (names_s != NULL && n > 0 &&
	    split_names(names_s, (int)n, names, err, errlen) < 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < (int)n; i++)
		if (fcntl(NET_ACTIVATION_FD0 + i, F_GETFD) < 0) {
			snprintf(err, errlen, "LISTEN_FDS=%d but fd %d is not "
			    "open", (int)n, NET_ACTIVATION_FD0 + i);
			errno = EBADF;
			return -1;
		}
	/* Only now that everything checks out is any fd touched. */
	for (i = 0; i < (int)n; i++) {
		if (net_cloexec(NET_ACTIVATION_FD0 + i) < 0) {
			snprintf(err, errlen, "cannot set close-on-exec on fd "
			    "%d: %s", NET_ACTIVATION_FD0 + i, strerror(errno));
			return -1;
		}
		fds[i] = NET_ACTIVATION_FD0 + i;
		if (names != NULL && names_s == NULL)
			snprintf(names[i], NET_NAME_MAX, "unknown");
	}
	return (int)n;
}

int
net_activation(int *fds, char (*names)[NET_NAME_MAX], int max, char *err,
    size_t errlen)
{
	int rc = activation(fds, names, max, err, errlen), saved = errno;

	/* After the parse: getenv's strings may not outlive unsetenv. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	errno = saved;
	return rc;
}

int
net_fd_kind(int fd)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return errno == ENOTSOCK ? NET_NOT_SOCKET : -1;
	if (type == SOCK_DGRAM)
		return NET_DGRAM;
#ifdef SO_ACCEPTCONN
	len = sizeof listening;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
#endif
	{
		struct sockaddr_storage ss;

		len = sizeof ss;
		listening = getpeername(fd, (struct sockaddr *)&ss, &len) < 0;
	}
	if (listening)
		return NET_LISTENING;
	return type == SOCK_STREAM ? NET_CONNECTED : NET_OTHER_SOCKET;
}
