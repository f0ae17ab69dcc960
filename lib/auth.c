#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

/* Clear memory that held a key, in a way the compiler may not drop. */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

int
auth_key_load(struct auth_key *key, const char *path, char *err,
    size_t errlen)
{
	/* Room for the largest key, its CRLF, and one byte more to notice. */
	unsigned char tmp[AUTH_KEY_MAX + 3];
	ssize_t n;
	size_t len;
	int fd, e;

	key->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open key file %s: %s", path,
		    strerror(e));
		errno = e;
		return -1;
	}
	n = io_read_full(fd, tmp, sizeof tmp);
	e = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read key file %s: %s", path,
		    strerror(e));
		errno = e;
		return -1;
	}
	len = (size_t)n;
	/* One trailing newline is the editor's, not the key's. */
	if (len > 0 && tmp[len - 1] == '\n') {
		len--;
		if (len > 0 && tmp[len - 1] == '\r')
			len--;
	}
	if (len == 0 || len > AUTH_KEY_MAX) {
		wipe(tmp, sizeof tmp);
		if (len == 0)
			snprintf(err, errlen, "key file %s is empty", path);
		else
			snprintf(err, errlen, "key file %s is larger than %d "
			    "bytes", path, AUTH_KEY_MAX);
		errno = EINVAL;
		return -1;
	}
	memcpy(key->k, tmp, len);
	key->len = len;
	wipe(tmp, sizeof tmp);
	return 0;
}

int
auth_nonce(char dst[AUTH_NONCE_HEX + 1])
{
	unsigned char raw[AUTH_NONCE_LEN];
	ssize_t n;
	int fd, e;

	/*
	 * getrandom(2) is hidden by _POSIX_C_SOURCE on glibc, and a nonce
	 * is made once per connection, so the device is cheap enough.
	 */
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = io_read_full(fd, raw, sizeof raw);
	e = errno;
	close(fd);
	if (n != (ssize_t)sizeof raw) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	hmac_hex(raw, sizeof raw, dst);
	return 0;
}

static void
mac_raw(const struct auth_key *key, const char *nonce, size_t nonce_len,
    const char *name, size_t name_len, unsigned char out[HMAC_LEN])
{
	struct hmac h;

	hmac_init(&h, key->k, key->len);
	hmac_update(&h, nonce, nonce_len);
	hmac_update(&h, " ", 1);
	hmac_update(&h, name, name_len);
	hmac_final(&h, out);
}

void
auth_mac(const struct auth_key *key, const char *nonce, size_t nonce_len,
    const char *name, size_t name_len, char dst[AUTH_MAC_HEX + 1])
{
	unsigned char raw[HMAC_LEN];

	mac_raw(key, nonce, nonce_len, name, name_len, raw);
	hmac_hex(raw, sizeof raw, dst);
}

int
auth_check(const struct auth_key *key, const char *nonce,
    size_t nonce_len, const char *name, size_t name_len, const char *mac,
    size_t mac_len)
{
	unsigned char want[HMAC_LEN], got[HMAC_LEN];

	/* The length is no secret; the bytes are compared in fixed time. */
	if (mac_len != AUTH_MAC_HEX ||
	    hmac_unhex(mac, mac_len, got, sizeof got) != 0)
		return 0;
	mac_raw(key, nonce, nonce_len, name, name_len, want);
	return hmac_equal(want, got, sizeof want);
}
