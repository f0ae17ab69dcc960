#include "addr.h"

#include <stdio.h>
#include <string.h>

#include "num.h"

static int
fail(char *err, size_t errlen, const char *s, const char *why)
{
	snprintf(err, errlen, "bad address '%.80s': %s", s, why);
	return -1;
}

static int
parse_unix(const char *s, const char *path, struct addr *a, char *err,
    size_t errlen)
{
	size_t n = strlen(path);

	if (n == 0)
		return fail(err, errlen, s, "empty socket path");
	if (n >= sizeof a->path)
		return fail(err, errlen, s, "socket path too long");
	a->kind = ADDR_UNIX;
	memcpy(a->path, path, n + 1);
	return 0;
}

static int
valid_host_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
	    c == ':' || c == '%';
}

int
addr_parse(const char *s, struct addr *a, char *err, size_t errlen)
{
	const char *host, *colon, *port;
	size_t hostlen, i;
	uint64_t p;
	int rc;

	memset(a, 0, sizeof *a);
	if (strncmp(s, "unix:", 5) == 0)
		return parse_unix(s, s + 5, a, err, errlen);
	if (strchr(s, '/') != NULL)
		return parse_unix(s, s, a, err, errlen);

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return fail(err, errlen, s, "missing ']'");
		if (close[1] != ':')
			return fail(err, errlen, s, "expected ':port' after ']'");
		host = s + 1;
		hostlen = (size_t)(close - host);
		port = close + 2;
		if (memchr(host, ':', hostlen) == NULL)
			return fail(err, errlen, s,
			    "brackets are only for IPv6 addresses");
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return fail(err, errlen, s, "expected host:port");
		host = s;
		hostlen = (size_t)(colon - s);
		port = colon + 1;
		if (memchr(host, ':', hostlen) != NULL)
			return fail(err, errlen, s,
			    "an IPv6 address needs brackets: [addr]:port");
	}
	if (hostlen == 0)
		return fail(err, errlen, s, "missing host");
	if (hostlen > ADDR_HOST_MAX)
		return fail(err, errlen, s, "host name too long");
	for (i = 0; i < hostlen; i++)
		if (!valid_host_byte((unsigned char)host[i]))
			return fail(err, errlen, s, "bad character in host");
	rc = num_parse_u64(port, strlen(port), 65535, 0, &p);
	if (rc == NUM_EMPTY)
		return fail(err, errlen, s, "missing port");
	if (rc != NUM_OK)
		return fail(err, errlen, s, "port must be 0 to 65535");
	a->kind = ADDR_INET;
	memcpy(a->host, host, hostlen);
	a->host[hostlen] = '\0';
	a->port = (unsigned)p;
	return 0;
}

void
addr_format(const struct addr *a, char *dst, size_t dstsz)
{
	if (a->kind == ADDR_UNIX)
		snprintf(dst, dstsz, "unix:%s", a->path);
	else if (strchr(a->host, ':') != NULL)
		snprintf(dst, dstsz, "[%s]:%u", a->host, a->port);
	else
		snprintf(dst, dstsz, "%s:%u", a->host, a->port);
}
