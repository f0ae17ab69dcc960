#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/auth.h"
#include "unit.h"

/*
 * The MACs below were computed apart from this code, with
 *   printf '%s' "$nonce $name" | openssl dgst -sha256 -hmac "$key"
 */
#define V1_KEY "secret key"
#define V1_NONCE "abc123"
#define V1_NAME "dsd"
#define V1_MAC "0efd160806b6ea0a7b24fbef68c0da5976456f4c2bb82b4ea99a9462da754f55"
#define V2_KEY "sesame"
#define V2_NAME "client-1"
#define V2_MAC "a29479df3224ab7d8ea226a88b86b95e15a993bb03769e9f0f5f88615b21c044"
/* A key longer than a block (100 times 'k') is hashed first. */
#define V3_NONCE "n0"
#define V3_NAME "name"
#define V3_MAC "4c47aabb6171578a4b2868a77d714fed284bc67e540230523c655e323a1d8aec"

static char dir[64];

static void
put_file(const char *name, const void *p, size_t n, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(fwrite(p, 1, n, f) == n);
	CHECK(fclose(f) == 0);
}

static int
load(const void *content, size_t n, struct auth_key *k, char *err,
    size_t errlen)
{
	char path[128];

	put_file("key", content, n, path, sizeof path);
	return auth_key_load(k, path, err, errlen);
}

static void
set_key(struct auth_key *k, const char *s)
{
	k->len = strlen(s);
	memcpy(k->k, s, k->len);
}

static void
test_key_load(void)
{
	static struct auth_key k;
	static char big[AUTH_KEY_MAX + 3];
	char err[256], path[128];

	CHECK(load("key\n", 4, &k, err, sizeof err) == 0);
	CHECK_MEM(k.k, k.len, "key");
	CHECK(load("key\r\n", 5, &k, err, sizeof err) == 0);
	CHECK_MEM(k.k, k.len, "key");
	CHECK(load("key", 3, &k, err, sizeof err) == 0);
	CHECK_MEM(k.k, k.len, "key");
	/* Only one newline goes. */
	CHECK(load("key\n\n", 5, &k, err, sizeof err) == 0);
	CHECK_MEM(k.k, k.len, "key\n");
	CHECK(load("key\r\n\r\n", 7, &k, err, sizeof err) == 0);
	CHECK_MEM(k.k, k.len, "key\r\n");
	/* A lone CR is part of the key, and so are inner bytes of any kind. */
	CHECK(load("key\r", 4, &k, err, sizeof err) == 0);
	CHECK_MEM(k.k, k.len, "key\r");
	CHECK(load("a\0b\n", 4, &k, err, sizeof err) == 0);
	CHECK(k.len == 3 && memcmp(k.k, "a\0b", 3) == 0);
	CHECK(load(" x ", 3, &k, err, sizeof err) == 0);
	CHECK_MEM(k.k, k.len, " x ");

	/* Empty, before and after the newline is taken off. */
	errno = 0;
	CHECK(load("", 0, &k, err, sizeof err) == -1);
	CHECK(errno == EINVAL);
	CHECK(strstr(err, "key file ") == err);
	CHECK(strstr(err, "/key is empty") != NULL);
	CHECK(load("\n", 1, &k, err, sizeof err) == -1);
	CHECK(strstr(err, "is empty") != NULL);
	CHECK(load("\r\n", 2, &k, err, sizeof err) == -1);
	CHECK(strstr(err, "is empty") != NULL);

	/* The limit counts the key, not its newline. */
	memset(big, 'x', sizeof big);
	CHECK(load(big, AUTH_KEY_MAX, &k, err, sizeof err) == 0);
	CHECK(k.len == AUTH_KEY_MAX);
	big[AUTH_KEY_MAX] = '\n';
	CHECK(load(big, AUTH_KEY_MAX + 1, &k, err, sizeof err) == 0);
	CHECK(k.len == AUTH_KEY_MAX);
	big[AUTH_KEY_MAX] = '\r';
	big[AUTH_KEY_MAX + 1] = '\n';
	CHECK(load(big, AUTH_KEY_MAX + 2, &k, err, sizeof err) == 0);
	CHECK(k.len == AUTH_KEY_MAX);
	memset(big, 'x', sizeof big);
	errno = 0;
	CHECK(load(big, AUTH_KEY_MAX + 1, &k, err, sizeof err) == -1);
	CHECK(errno == EINVAL);
	CHECK(strstr(err, "is larger than 4096 bytes") != NULL);
	CHECK(load(big, sizeof big, &k, err, sizeof err) == -1);
	CHECK(strstr(err, "is larger than 4096 bytes") != NULL);

	/* Files that cannot be read. */
	snprintf(path, sizeof path, "%s/missing", dir);
	errno = 0;
	CHECK(auth_key_load(&k, path, err, sizeof err) == -1);
	CHECK(errno == ENOENT);
	CHECK(strstr(err, "cannot open key file ") == err);
	CHECK(strstr(err, "/missing: ") != NULL);
	errno = 0;
	CHECK(auth_key_load(&k, dir, err, sizeof err) == -1);
	CHECK(errno == EISDIR);
	CHECK(strstr(err, "cannot read key file ") == err);
	/* Unreadable by mode; root reads it anyway, so only check then. */
	put_file("locked", "k\n", 2, path, sizeof path);
	CHECK(chmod(path, 0) == 0);
	if (geteuid() != 0) {
		errno = 0;
		CHECK(auth_key_load(&k, path, err, sizeof err) == -1);
		CHECK(errno == EACCES);
	}
	unlink(path);
}

static int
all_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return 1;
}

static void
test_nonce(void)
{
	char a[AUTH_NONCE_HEX + 1], b[AUTH_NONCE_HEX + 1];

	memset(a, '?', sizeof a);
	CHECK(auth_nonce(a) == 0);
	CHECK(auth_nonce(b) == 0);
	CHECK(strlen(a) == AUTH_NONCE_HEX);
	CHECK(strlen(b) == AUTH_NONCE_HEX);
	CHECK(all_lower_hex(a, AUTH_NONCE_HEX));
	CHECK(strcmp(a, b) != 0);
}

static void
test_mac(void)
{
	static struct auth_key k;
	char mac[AUTH_MAC_HEX + 1], nonce[65];

	set_key(&k, V1_KEY);
	memset(mac, '?', sizeof mac);
	auth_mac(&k, V1_NONCE, strlen(V1_NONCE), V1_NAME, strlen(V1_NAME), mac);
	CHECK_STR(mac, V1_MAC);

	memset(nonce, 'a', 64);
	nonce[64] = '\0';
	set_key(&k, V2_KEY);
	auth_mac(&k, nonce, 64, V2_NAME, strlen(V2_NAME), mac);
	CHECK_STR(mac, V2_MAC);
	/* The lengths are honoured: no NUL is needed after either. */
	auth_mac(&k, "aaaaX", 4, "client-1X", 8, mac);
	CHECK(strcmp(mac, V2_MAC) != 0);

	memset(k.k, 'k', 100);
	k.len = 100;
	auth_mac(&k, V3_NONCE, 2, V3_NAME, 4, mac);
	CHECK_STR(mac, V3_MAC);
}

static void
test_check(void)
{
	static struct auth_key k;
	char mac[AUTH_MAC_HEX + 2];
	size_t i;

	set_key(&k, V1_KEY);
#define CHK(m, n) auth_check(&k, V1_NONCE, strlen(V1_NONCE), V1_NAME, \
	strlen(V1_NAME), (m), (n))
	snprintf(mac, sizeof mac, "%s", V1_MAC);
	CHECK(CHK(mac, 64) == 1);
	/* Either case of hex. */
	for (i = 0; i < 64; i++)
		if (mac[i] >= 'a' && mac[i] <= 'f')
			mac[i] = (char)(mac[i] - 'a' + 'A');
	CHECK(CHK(mac, 64) == 1);
	mac[1] = 'f';   /* was 'e', now lower again but another value */
	CHECK(CHK(mac, 64) == 0);
	snprintf(mac, sizeof mac, "%s", V1_MAC);
	mac[1] = 'E';   /* mixed case, same value */
	CHECK(CHK(mac, 64) == 1);

	/* Wrong lengths. */
	CHECK(CHK(V1_MAC, 63) == 0);
	CHECK(CHK(V1_MAC, 0) == 0);
	snprintf(mac, sizeof mac, "%s0", V1_MAC);
	CHECK(CHK(mac, 65) == 0);

	/* A wrong digit anywhere, and a byte that is not hex. */
	for (i = 0; i < 64; i += 21) {
		snprintf(mac, sizeof mac, "%s", V1_MAC);
		mac[i] = mac[i] == '0' ? '1' : '0';
		CHECK(CHK(mac, 64) == 0);
	}
	snprintf(mac, sizeof mac, "%s", V1_MAC);
	mac[63] = 'g';
	CHECK(CHK(mac, 64) == 0);
#undef CHK

	/* The right mac for another nonce, name or key. */
	CHECK(auth_check(&k, "abc124", 6, V1_NAME, 3, V1_MAC, 64) == 0);
	CHECK(auth_check(&k, V1_NONCE, 6, "dse", 3, V1_MAC, 64) == 0);
	CHECK(auth_check(&k, V1_NONCE, 5, V1_NAME, 3, V1_MAC, 64) == 0);
	set_key(&k, "secret kez");
	CHECK(auth_check(&k, V1_NONCE, 6, V1_NAME, 3, V1_MAC, 64) == 0);
}

void
suite_auth(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/ds-auth.XXXXXX",
	    tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	test_key_load();
	test_nonce();
	test_mac();
	test_check();
	{
		char path[128];

		snprintf(path, sizeof path, "%s/key", dir);
		unlink(path);
		CHECK(rmdir(dir) == 0);
	}
}
