#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/addr.h"
#include "../../lib/net.h"
#include "unit.h"

/*
 * Every socket here is on 127.0.0.0/8, ::1 or a Unix path in a private
 * temporary directory, and every wait is bounded by WAIT_MS.
 */
enum { WAIT_MS = 5000 };

static char dir[64];

/* Open descriptors below 1024, counted without opening one (no /proc). */
static int
count_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static int
is_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & O_NONBLOCK) && fdfl >= 0 &&
	    (fdfl & FD_CLOEXEC);
}

static int
has_nodelay(int fd)
{
	int on = 0;
	socklen_t len = sizeof on;

	return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 &&
	    on != 0;
}

static int
wait_for(int fd, short events)
{
	struct pollfd p;

	p.fd = fd;
	p.events = events;
	p.revents = 0;
	return poll(&p, 1, WAIT_MS) == 1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
parse(const char *s, struct addr *a)
{
	char err[128];

	return addr_parse(s, a, err, sizeof err);
}

/* Send msg one way on a connected pair and check it arrives whole. */
static int
carries(int from, int to, const char *msg)
{
	char got[64];
	size_t want = strlen(msg);
	ssize_t r;

	if (write(from, msg, want) != (ssize_t)want || !wait_for(to, POLLIN))
		return 0;
	r = read(to, got, sizeof got);
	return r == (ssize_t)want && memcmp(got, msg, want) == 0;
}

/*
 * Listen on s, dial the bound address, accept, and talk both ways.
 * Writes the bound name to bound.  Returns the listening fd, open.
 */
static int
round_trip(const char *s, char *bound, size_t n, const char *peer_prefix)
{
	struct addr a, b;
	char err[256], peer[128], local[128];
	int lfd, cfd, afd;

	CHECK(parse(s, &a) == 0);
	lfd = net_listen(&a, SOMAXCONN, err, sizeof err);
	CHECK(lfd >= 0);
	if (lfd < 0) {
		fprintf(stderr, "net: %s\n", err);
		return -1;
	}
	CHECK(is_nonblock_cloexec(lfd));
	CHECK(net_fd_kind(lfd) == NET_LISTENING);
	CHECK(net_bound_name(lfd, bound, n) == 0);
	CHECK(parse(bound, &b) == 0);

	/* Nothing pending yet: EAGAIN at once, not a wait. */
	errno = 0;
	CHECK(net_accept(lfd, peer, sizeof peer, err, sizeof err) == -1 &&
	    errno == EAGAIN);

	cfd = net_dial(&b, WAIT_MS, err, sizeof err);
	CHECK(cfd >= 0);
	CHECK(wait_for(lfd, POLLIN));
	afd = net_accept(lfd, peer, sizeof peer, err, sizeof err);
	CHECK(afd >= 0);
	if (cfd >= 0 && afd >= 0) {
		CHECK(is_nonblock_cloexec(cfd));
		CHECK(is_nonblock_cloexec(afd));
		CHECK(net_fd_kind(cfd) == NET_CONNECTED);
		CHECK(net_fd_kind(afd) == NET_CONNECTED);
		CHECK(strncmp(peer, peer_prefix, strlen(peer_prefix)) == 0);
		/* The accepted peer is the dialler's own end. */
		if (a.kind == ADDR_INET) {
			CHECK(net_bound_name(cfd, local, sizeof local) == 0);
			CHECK_STR(peer, local);
			CHECK(has_nodelay(cfd) && has_nodelay(afd));
		}
		CHECK(net_peer_name(cfd, local, sizeof local) == 0);
		CHECK_STR(local, bound);
		CHECK(carries(cfd, afd, "ping"));
		CHECK(carries(afd, cfd, "pong"));
	}
	if (cfd >= 0)
		close(cfd);
	if (afd >= 0)
		close(afd);
	return lfd;
}

static void
test_tcp4(void)
{
	struct addr a;
	char bound[128], err[256], want[300];
	int lfd, fd;

	lfd = round_trip("127.0.0.1:0", bound, sizeof bound, "127.0.0.1:");
	if (lfd < 0)
		return;
	CHECK(strncmp(bound, "127.0.0.1:", 10) == 0 &&
	    strcmp(bound, "127.0.0.1:0") != 0);
	CHECK(parse(bound, &a) == 0 && a.port != 0);

	/* The same port twice: the error reads as the style guide's. */
	CHECK(net_listen(&a, SOMAXCONN, err, sizeof err) == -1 &&
	    errno == EADDRINUSE);
	snprintf(want, sizeof want, "cannot listen on %s: %s", bound,
	    strerror(EADDRINUSE));
	CHECK_STR(err, want);

	/* A name is resolved: localhost reaches the same listener. */
	snprintf(want, sizeof want, "localhost:%u", a.port);
	CHECK(parse(want, &a) == 0);
	fd = net_dial(&a, WAIT_MS, err, sizeof err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);

	/* Once closed, the port refuses, and the error says so. */
	close(lfd);
	CHECK(parse(bound, &a) == 0);
	CHECK(net_dial(&a, WAIT_MS, err, sizeof err) == -1 &&
	    errno == ECONNREFUSED);
	snprintf(want, sizeof want, "cannot connect to %s: %s", bound,
	    strerror(ECONNREFUSED));
	CHECK_STR(err, want);

	/* Elsewhere in 127/8 (the dialler's source may be any of it). */
	lfd = round_trip("127.0.0.2:0", bound, sizeof bound, "127.");
	CHECK(strncmp(bound, "127.0.0.2:", 10) == 0);
	if (lfd >= 0)
		close(lfd);
	/* By name with port 0. */
	CHECK(parse("localhost:0", &a) == 0);
	lfd = net_listen(&a, 1, err, sizeof err);
	CHECK(lfd >= 0 && net_bound_name(lfd, bound, sizeof bound) == 0 &&
	    (strncmp(bound, "127.0.0.1:", 10) == 0 ||
	    strncmp(bound, "[::1]:", 6) == 0));
	if (lfd >= 0)
		close(lfd);
}

static void
test_tcp6(void)
{
	struct addr a;
	char bound[128], err[256];
	int fd, lfd;

	/* No IPv6 in this kernel: say so, and prove that is why. */
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0) {
		CHECK(errno == EAFNOSUPPORT);
		fprintf(stderr, "net: no IPv6 (EAFNOSUPPORT); [::1] skipped\n");
		return;
	}
	close(fd);
	/* IPv6 but no ::1 (lo with disable_ipv6): the same, one step on. */
	CHECK(parse("[::1]:0", &a) == 0);
	lfd = net_listen(&a, SOMAXCONN, err, sizeof err);
	if (lfd < 0) {
		CHECK(errno == EADDRNOTAVAIL);
		fprintf(stderr, "net: no ::1 (%s); [::1] skipped\n", err);
		return;
	}
	close(lfd);

	lfd = round_trip("[::1]:0", bound, sizeof bound, "[::1]:");
	CHECK(strncmp(bound, "[::1]:", 6) == 0 &&
	    strcmp(bound, "[::1]:0") != 0);
	if (lfd >= 0)
		close(lfd);
}

static void
path_in_dir(char *dst, size_t n, const char *name)
{
	snprintf(dst, n, "%s/%s", dir, name);
}

/* Fill the backlog of a Unix listener that never accepts. */
static int
fill_backlog(const char *path, int *fds, int max)
{
	struct sockaddr_un sun;
	size_t len = strlen(path);
	int n = 0;

	if (len >= sizeof sun.sun_path)
		return 0;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len + 1);
	while (n < max) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd < 0)
			break;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	return n;
}

static void
test_unix(void)
{
	struct addr a;
	struct stat st;
	char path[128], bound[128], err[256], want[300], longpath[200];
	int lfd, fd, i, n, full[16], status;
	long long t0, took;
	mode_t old;
	pid_t pid;

	path_in_dir(path, sizeof path, "s.sock");
	snprintf(want, sizeof want, "unix:%s", path);
	lfd = round_trip(want, bound, sizeof bound, "unix:");
	CHECK_STR(bound, want);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK(parse(want, &a) == 0);

	/* Somebody is listening: refuse, and leave their socket alone. */
	CHECK(net_listen(&a, 1, err, sizeof err) == -1 &&
	    errno == EADDRINUSE);
	snprintf(want, sizeof want, "cannot listen on unix:%s: %s", path,
	    strerror(EADDRINUSE));
	CHECK_STR(err, want);
	fd = net_dial(&a, WAIT_MS, err, sizeof err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);

	/* The listener dies and leaves its file: dialling is refused... */
	if (lfd >= 0)
		close(lfd);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK(net_dial(&a, WAIT_MS, err, sizeof err) == -1 &&
	    errno == ECONNREFUSED);
	/* ...and the next listener replaces the stale file. */
	lfd = net_listen(&a, 1, err, sizeof err);
	CHECK(lfd >= 0);
	fd = net_dial(&a, WAIT_MS, err, sizeof err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	CHECK(unlink(path) == 0);

	/* No such socket. */
	CHECK(net_dial(&a, WAIT_MS, err, sizeof err) == -1 &&
	    errno == ENOENT && strstr(err, "cannot connect to unix:") != NULL);

	/* A file that is not a socket is refused and kept. */
	path_in_dir(path, sizeof path, "plain");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
	if (fd >= 0)
		close(fd);
	CHECK(parse(path, &a) == 0);
	CHECK(net_listen(&a, 1, err, sizeof err) == -1 && errno == EEXIST);
	snprintf(want, sizeof want, "cannot listen on unix:%s: %s and is "
	    "not a socket", path, strerror(EEXIST));
	CHECK_STR(err, want);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
	CHECK(unlink(path) == 0);

	/* A private socket gets exactly its mode; the umask is restored. */
	path_in_dir(path, sizeof path, "ctl.sock");
	CHECK(parse(path, &a) == 0);
	old = umask(0);
	lfd = net_listen_mode(&a, 1, 0600, err, sizeof err);
	CHECK(lfd >= 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(umask(old) == 0);
	if (lfd >= 0)
		close(lfd);
	unlink(path);

	/* A path too long for sun_path stops at the parser. */
	memset(longpath, 'x', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	memcpy(longpath, dir, strlen(dir));
	longpath[strlen(dir)] = '/';
	CHECK(addr_parse(longpath, &a, err, sizeof err) == -1 &&
	    strstr(err, "too long") != NULL);

	/*
	 * A deadline: a Unix listener that never accepts, with its backlog
	 * full.  Linux makes the next connect wait (EAGAIN), so the dial
	 * must give up at its deadline; other systems may refuse at once.
	 */
	path_in_dir(path, sizeof path, "full.sock");
	CHECK(parse(path, &a) == 0);
	lfd = net_listen(&a, 0, err, sizeof err);
	CHECK(lfd >= 0);
	n = fill_backlog(path, full, 16);
	CHECK(n > 0 && n < 16);
	t0 = now_ms();
	fd = net_dial(&a, 150, err, sizeof err);
	took = now_ms() - t0;
#ifdef __linux__
	CHECK(fd == -1 && errno == ETIMEDOUT);
	CHECK(took >= 140 && took < WAIT_MS);
	snprintf(want, sizeof want, "cannot connect to unix:%s: %s", path,
	    strerror(ETIMEDOUT));
	CHECK_STR(err, want);
	CHECK(net_dial(&a, 0, err, sizeof err) == -1 && errno == ETIMEDOUT);
#else
	CHECK(fd == -1 && (errno == ETIMEDOUT || errno == ECONNREFUSED));
	(void)took;
#endif
	if (fd >= 0)
		close(fd);
	/*
	 * A dial that starts while the backlog is full and succeeds once a
	 * child makes room 100 ms later: the dial waits, it does not fail.
	 */
	pid = fork();
	if (pid == 0) {
		poll(NULL, 0, 100);
		fd = accept(lfd, NULL, NULL);
		_exit(fd >= 0 ? 0 : 1);
	}
	CHECK(pid > 0);
	t0 = now_ms();
	fd = net_dial(&a, WAIT_MS, err, sizeof err);
	took = now_ms() - t0;
	CHECK(fd >= 0);
#ifdef __linux__
	CHECK(took >= 50);
#endif
	if (fd >= 0)
		close(fd);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < n; i++)
		close(full[i]);
	if (lfd >= 0)
		close(lfd);
	CHECK(unlink(path) == 0);
}

/* Move fd to a number at or above 20, closing the original. */
static int
move_high(int fd)
{
	int high = fcntl(fd, F_DUPFD, 20);

	close(fd);
	return high;
}

static void
set_env(const char *pid_s, const char *fds_s, const char *names_s)
{
	char mine[32];

	if (pid_s == NULL) {
		snprintf(mine, sizeof mine, "%ld", (long)getpid());
		pid_s = mine;
	}
	setenv("LISTEN_PID", pid_s, 1);
	if (fds_s != NULL)
		setenv("LISTEN_FDS", fds_s, 1);
	if (names_s != NULL)
		setenv("LISTEN_FDNAMES", names_s, 1);
}

static int
env_gone(void)
{
	return getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL &&
	    getenv("LISTEN_FDNAMES") == NULL;
}

static int
cloexec_of(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & FD_CLOEXEC);
}

static void
test_activation(void)
{
	struct addr a;
	char names[4][NET_NAME_MAX], err[256], bound[2][128], got[128];
	char other[32];
	int fds[4], saved[2], l[2], i, five_open;

	/* Whatever the runner has on 3 and 4 is put back at the end. */
	for (i = 0; i < 2; i++)
		saved[i] = fcntl(3 + i, F_DUPFD, 20);
	five_open = fcntl(5, F_GETFD) >= 0;

	CHECK(parse("127.0.0.1:0", &a) == 0);
	for (i = 0; i < 2; i++) {
		l[i] = move_high(net_listen(&a, 1, err, sizeof err));
		CHECK(l[i] >= 20);
		CHECK(net_bound_name(l[i], bound[i], sizeof bound[i]) == 0);
	}
	/* dup2 clears FD_CLOEXEC, as a fresh exec from systemd would. */
	for (i = 0; i < 2; i++) {
		CHECK(dup2(l[i], 3 + i) == 3 + i);
		close(l[i]);
		CHECK(!cloexec_of(3 + i));
	}

	set_env(NULL, "2", "web:ctl");
	memset(fds, -1, sizeof fds);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == 2);
	CHECK(fds[0] == 3 && fds[1] == 4);
	CHECK_STR(names[0], "web");
	CHECK_STR(names[1], "ctl");
	CHECK(cloexec_of(3) && cloexec_of(4));
	CHECK(env_gone());
	for (i = 0; i < 2; i++) {
		CHECK(net_fd_kind(3 + i) == NET_LISTENING);
		CHECK(net_bound_name(3 + i, got, sizeof got) == 0);
		CHECK_STR(got, bound[i]);
	}

	/* Without names each one is "unknown"; names may be NULL. */
	set_env(NULL, "2", NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == 2);
	CHECK_STR(names[1], "unknown");
	set_env(NULL, "2", "a:b");
	CHECK(net_activation(fds, NULL, 2, err, sizeof err) == 2);
	CHECK(env_gone());

	/* Meant for another process: 0, and the fds are not touched. */
	for (i = 0; i < 2; i++)
		fcntl(3 + i, F_SETFD, 0);
	snprintf(other, sizeof other, "%ld", (long)getpid() + 1);
	set_env(other, "2", "web:ctl");
	CHECK(net_activation(fds, names, 4, err, sizeof err) == 0);
	CHECK(!cloexec_of(3) && !cloexec_of(4));
	CHECK(env_gone());
	/* Not activated at all, or no LISTEN_FDS. */
	CHECK(net_activation(fds, names, 4, err, sizeof err) == 0);
	set_env(NULL, NULL, NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == 0);
	set_env(NULL, "0", NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == 0);

	/* Malformed or unacceptable: an error, fds untouched, env gone. */
	set_env(NULL, "2x", NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1 &&
	    strstr(err, "bad LISTEN_FDS '2x'") != NULL);
	CHECK(env_gone());
	set_env(NULL, "", NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1);
	set_env(NULL, "-1", NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1);
	set_env(NULL, "99999999999999999999", NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1);
	set_env("12ab", "2", NULL);
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1 &&
	    strstr(err, "bad LISTEN_PID '12ab'") != NULL);
	set_env(NULL, "2", NULL);
	CHECK(net_activation(fds, names, 1, err, sizeof err) == -1 &&
	    strstr(err, "LISTEN_FDS=2 is more than the 1") != NULL);
	set_env(NULL, "2", "web");
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1 &&
	    strstr(err, "has 1 names for 2 sockets") != NULL);
	set_env(NULL, "2", "a:b:c");
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1 &&
	    strstr(err, "has 3 names for 2 sockets") != NULL);
	set_env(NULL, "2", "a:b\nc");
	CHECK(net_activation(fds, names, 4, err, sizeof err) == -1 &&
	    strstr(err, "control character") != NULL);
	if (!five_open) {
		set_env(NULL, "3", NULL);
		CHECK(net_activation(fds, names, 4, err, sizeof err) == -1 &&
		    strstr(err, "fd 5 is not open") != NULL);
	}
	CHECK(!cloexec_of(3) && !cloexec_of(4));
	CHECK(env_gone());

	for (i = 0; i < 2; i++) {
		close(3 + i);
		if (saved[i] >= 0) {
			dup2(saved[i], 3 + i);
			close(saved[i]);
		}
	}
}

static void
test_kind(void)
{
	struct addr a;
	char err[256], name[128];
	int sp[2], fds[2], fd;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	CHECK(net_fd_kind(sp[0]) == NET_CONNECTED);
	CHECK(net_bound_name(sp[0], name, sizeof name) == 0);
	CHECK_STR(name, "unix:");
	close(sp[0]);
	close(sp[1]);
#ifdef __linux__
	{
		/* Linux's abstract namespace is shown with an '@'. */
		struct sockaddr_un sun;
		socklen_t len;

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1,
		    "ds-net-%ld", (long)getpid());
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(sun.sun_path + 1));
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sun, len) == 0);
		CHECK(net_bound_name(fd, name, sizeof name) == 0 &&
		    strncmp(name, "unix:@ds-net-", 13) == 0);
		if (fd >= 0)
			close(fd);
	}
#endif
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == 0);
	CHECK(net_fd_kind(sp[0]) == NET_DGRAM);
	close(sp[0]);
	close(sp[1]);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(fd >= 0 && net_fd_kind(fd) == NET_DGRAM);
	if (fd >= 0)
		close(fd);

	CHECK(pipe(fds) == 0);
	CHECK(net_fd_kind(fds[0]) == NET_NOT_SOCKET);
	CHECK(net_fd_kind(fds[1]) == NET_NOT_SOCKET);
	errno = 0;
	CHECK(net_bound_name(fds[0], name, sizeof name) == -1 &&
	    errno == ENOTSOCK);
	/* The flag helpers, on the pipe. */
	CHECK(net_nonblock(fds[0], 1) == 0 &&
	    (fcntl(fds[0], F_GETFL) & O_NONBLOCK));
	CHECK(net_nonblock(fds[0], 1) == 0);
	CHECK(net_nonblock(fds[0], 0) == 0 &&
	    !(fcntl(fds[0], F_GETFL) & O_NONBLOCK));
	CHECK(net_cloexec(fds[0]) == 0 && cloexec_of(fds[0]));
	CHECK(net_nodelay(fds[0]) == -1);
	close(fds[0]);
	close(fds[1]);

	fd = open("/dev/null", O_RDONLY);
	CHECK(fd >= 0 && net_fd_kind(fd) == NET_NOT_SOCKET);
	if (fd >= 0)
		close(fd);
	errno = 0;
	CHECK(net_fd_kind(fd) == -1 && errno == EBADF);
	CHECK(net_nonblock(fd, 1) == -1 && errno == EBADF);

	/* A small buffer is an error, not a cut-off name. */
	CHECK(parse("127.0.0.1:0", &a) == 0);
	fd = net_listen(&a, 1, err, sizeof err);
	CHECK(fd >= 0);
	CHECK(net_bound_name(fd, name, 8) == -1 && errno == ENOSPC);
	/* Listening, so it has no peer. */
	CHECK(net_peer_name(fd, name, sizeof name) == -1 &&
	    errno == ENOTCONN);
	if (fd >= 0)
		close(fd);
}

void
suite_net(void)
{
	int before = count_fds();

	snprintf(dir, sizeof dir, "/tmp/ds-net-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return;
	}
	test_tcp4();
	test_tcp6();
	test_unix();
	test_activation();
	test_kind();
	CHECK(rmdir(dir) == 0);
	CHECK(count_fds() == before);
}
