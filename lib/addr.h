/*
 * addr: parse the address strings that ds programs take on the command
 * line, without resolving or touching the network.
 *
 *   host:port        127.0.0.1:7070, localhost:0, example.org:7070
 *   [v6addr]:port    [::1]:7070
 *   unix:/path       a Unix-domain socket
 *   any/thing        an argument containing '/' is a Unix socket path
 *
 * The result names the kind and holds the pieces as NUL-terminated
 * strings, ready for getaddrinfo(3) or a sockaddr_un.  Errors fill a
 * caller buffer with one line and return -1.
 */
#ifndef DS_ADDR_H
#define DS_ADDR_H

#include <stddef.h>

enum addr_kind { ADDR_INET = 1, ADDR_UNIX = 2 };

#define ADDR_HOST_MAX 255
/* sizeof(struct sockaddr_un.sun_path) is 108 on Linux, 104 on the BSDs. */
#define ADDR_PATH_MAX 104

struct addr {
	enum addr_kind kind;
	char host[ADDR_HOST_MAX + 1];  /* ADDR_INET, without brackets */
	unsigned port;                 /* ADDR_INET, 0..65535 */
	char path[ADDR_PATH_MAX];      /* ADDR_UNIX */
};

int addr_parse(const char *s, struct addr *a, char *err, size_t errlen);

/* Format a back into the syntax addr_parse accepts. */
void addr_format(const struct addr *a, char *dst, size_t dstsz);

#endif
