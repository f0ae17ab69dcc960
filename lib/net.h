/*
 * net: from an addr (see addr.h) to a socket, and back to a name.
 *
 * A server calls net_listen() for each -l address (or net_activation()
 * when systemd passed it sockets, or net_fd_kind(0) to see whether inetd
 * or tcpserver handed it a connection on stdin), prints net_bound_name()
 * for -1, polls the listening fds and calls net_accept() until it says
 * EAGAIN.  A client calls net_dial() with a deadline.
 *
 * In the manner of redis's anet.c, each call returns a code and, on
 * failure, fills the caller's err buffer with one line such as
 * "cannot listen on 127.0.0.1:7070: Address already in use" and leaves
 * errno set, so that the program can choose the exit status (ETIMEDOUT
 * means a deadline passed).  Nothing here prints or exits.  Every fd
 * returned is non-blocking and close-on-exec, and on TCP has Nagle
 * turned off: ds programs batch their own writes, so Nagle would only
 * delay the last frame of a request.
 *
 * Names follow addr_parse's syntax, so a printed address can be fed back
 * to -l or -c: "127.0.0.1:40213", "[::1]:40213", "unix:/run/ds.sock".
 * An unnamed Unix socket (the peer of an accepted Unix connection, or a
 * socketpair) is "unix:", and a Linux abstract one is "unix:@name".
 */
#ifndef DS_NET_H
#define DS_NET_H

#include <stddef.h>

#include "addr.h"

/*
 * Listen on a TCP address (host names are resolved and the first result
 * that binds is used; port 0 picks a free port; SO_REUSEADDR is set and
 * an IPv6 socket is IPV6_V6ONLY, so [::]:p and 0.0.0.0:p can coexist) or
 * on a Unix stream socket.  backlog goes to listen(2); SOMAXCONN is the
 * usual choice.
 *
 * A Unix socket file left behind by a dead server is replaced: if the
 * path is a socket that refuses connections, it is removed first.  A
 * socket someone still accepts on fails with EADDRINUSE, and a path that
 * is not a socket at all fails with EEXIST and is left alone.  The
 * caller removes the file at exit if it wants it gone.
 *
 * Returns the listening fd, or -1 with err and errno set.
 */
int net_listen(const struct addr *a, int backlog, char *err, size_t errlen);

/*
 * net_listen(), but a Unix socket file is created with exactly the
 * permission bits mode (0600 for a control socket) rather than what the
 * umask allows.  The umask is changed around bind(2) instead of a chmod
 * after it, so the socket is never reachable with looser permissions;
 * that makes the call unsafe only in a threaded program.  A negative
 * mode, or a TCP address, behaves as net_listen().
 */
int net_listen_mode(const struct addr *a, int backlog, int mode, char *err,
    size_t errlen);

/*
 * Accept one connection on the non-blocking listening socket lfd (an
 * inherited one needs net_nonblock() first, or accept would block).
 * Returns the new fd and writes the peer's name to peer[0..n) unless
 * peer is NULL.  Returns -1 with errno EAGAIN when nothing is pending;
 * EMFILE or ENFILE mean the caller should stop accepting for a while.
 * Connections that were reset while they waited are skipped.
 */
int net_accept(int lfd, char *peer, size_t n, char *err, size_t errlen);

/*
 * Connect to a, trying every address the name resolves to, within
 * timeout_ms milliseconds in all (negative: no deadline but the
 * kernel's; 0: only what completes at once).  A Unix socket whose
 * backlog is full is retried until the deadline.  Returns the connected
 * fd, or -1 with err and errno set (ETIMEDOUT at the deadline; ENOENT
 * when the name does not resolve).
 */
int net_dial(const struct addr *a, int timeout_ms, char *err, size_t errlen);

/*
 * The address fd is bound to (net_bound_name) or connected to
 * (net_peer_name), written to dst[0..n) in addr_parse's syntax.
 * Returns 0, or -1 with errno (ENOSPC when n is too small,
 * EAFNOSUPPORT for a family that has no such syntax).
 */
int net_bound_name(int fd, char *dst, size_t n);
int net_peer_name(int fd, char *dst, size_t n);

/*
 * systemd socket activation (Accept=no), without libsystemd.
 *
 * When LISTEN_PID is this process, the LISTEN_FDS sockets start at fd
 * NET_ACTIVATION_FD0.  Each is checked to be open and made
 * close-on-exec, fds[i] gets its number and names[i] (unless names is
 * NULL) its LISTEN_FDNAMES entry, or "unknown" when that is not set.
 * Their O_NONBLOCK flag is shared with systemd's copy and is left to
 * the caller (net_nonblock), as is checking their kind (net_fd_kind).
 *
 * The three variables are removed from the environment in every case,
 * so that children never see them.  Returns the count (0 when this
 * process was not activated), or -1 with err set when a variable is
 * malformed, the names do not match the count, a fd is not open, or
 * there are more than max sockets; then no fd is touched.
 */
#define NET_ACTIVATION_FD0 3
#define NET_NAME_MAX 256 /* systemd allows 255 bytes in a name */
int net_activation(int *fds, char (*names)[NET_NAME_MAX], int max, char *err,
    size_t errlen);

/*
 * What an inherited or passed fd is: a listening socket (SO_ACCEPTCONN),
 * a connected stream socket, a datagram socket, some other socket, or
 * not a socket at all (a pipe, a tty, a file).  Returns one of these, or
 * -1 with errno (EBADF) when fd is not open.
 *
 * Where SO_ACCEPTCONN is missing, a stream socket with a peer counts as
 * connected and one without as listening.
 */
enum {
	NET_NOT_SOCKET = 1,
	NET_LISTENING,
	NET_CONNECTED,
	NET_DGRAM,
	NET_OTHER_SOCKET
};
int net_fd_kind(int fd);

/* Set or clear O_NONBLOCK; set FD_CLOEXEC.  0, or -1 with errno. */
int net_nonblock(int fd, int on);
int net_cloexec(int fd);

/*
 * Turn off Nagle on a TCP socket (net_accept and net_dial do it already;
 * this is for a connection inherited on stdin).  0, or -1 with errno
 * (EOPNOTSUPP or ENOPROTOOPT on a socket that is not TCP).
 */
int net_nodelay(int fd);

#endif
