/*
 * udp: the datagram sockets of dspeer, and the one spelling of an
 * address that peers advertise and compare.
 *
 * A member of a group is reached at "host:port" (IPv4) or "[v6]:port"
 * (IPv6, a zone as "%eth0" inside the brackets).  Peers write their own
 * address into the datagrams they send, and a receiver checks that a
 * datagram came from the address on record for its sender, so the
 * string made from a datagram's source (udp_format) must be the same one
 * the sender advertises: numeric, without leading zeros, IPv6 in the
 * compressed form of inet_ntop(3).
 *
 *   fd = udp_open(&bind_addr, err, sizeof err);      // non-blocking
 *   udp_local(fd, buf, sizeof buf);                  // what we bound
 *   udp_parse("10.0.0.2:7946", &to, err, sizeof err);  // numeric only
 *   udp_send(fd, &to, dgram, len);
 *   n = udp_recv(fd, buf, sizeof buf, &from);        // then udp_format
 *
 * The socket asks the kernel never to fragment (IP_PMTUDISC_DO, where
 * Linux has it): a datagram larger than the path takes fails to send
 * rather than travelling in pieces, one of which may be lost.  Nothing
 * here prints or exits; errors fill a caller buffer with one line.
 */
#ifndef DS_UDP_H
#define DS_UDP_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "addr.h"

/* The longest address string, as lib/swim takes it. */
#define UDP_ADDR_MAX 64

struct udp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * A UDP socket bound to a (host names resolved, the first address that
 * binds wins), non-blocking and close-on-exec, with room for bursts in
 * its receive buffer.  The fd, or -1 with errno and err.
 */
int udp_open(const struct addr *a, char *err, size_t errlen);

/*
 * Resolve "host:port" or "[v6]:port" to one address.  With numeric set,
 * host names are refused (EINVAL) and nothing is looked up: the form for
 * addresses that come off the network.  0, or -1 with errno and err.
 */
int udp_resolve(const char *s, int numeric, struct udp_addr *out, char *err,
    size_t errlen);

/* Format sa as above into dst; "" when it is not IPv4 or IPv6. */
void udp_format(const struct sockaddr *sa, socklen_t len, char *dst,
    size_t n);

/* The address fd is bound to, formatted.  0, or -1 with errno. */
int udp_local(int fd, char *dst, size_t n);

/*
 * The local address (without port) the kernel would send from to reach
 * to, found by connecting a scratch socket: where a member bound to a
 * wildcard is reached.  0, or -1 with errno.
 */
int udp_source_for(const struct udp_addr *to, struct udp_addr *out);

/* Whether a is the wildcard address of its family. */
int udp_is_wildcard(const struct udp_addr *a);

/* Set the port of a. */
void udp_set_port(struct udp_addr *a, unsigned port);

/*
 * Send one datagram; 0, or -1 with errno (EAGAIN when the socket buffer
 * is full, EMSGSIZE when the path is too small).  EINTR is retried.
 */
int udp_send(int fd, const struct udp_addr *to, const void *buf, size_t n);

/*
 * Receive one datagram into buf (at most n bytes; a longer one is cut,
 * and reported as its real length when the system says so, so that the
 * caller can tell).  The length, or -1 with errno (EAGAIN: none now).
 */
ssize_t udp_recv(int fd, void *buf, size_t n, struct udp_addr *from);

#endif
