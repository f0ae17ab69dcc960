/*
 * hmac: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for proving
 * that a frame or a datagram came from someone who holds a shared key.
 *
 * It is here for the hub's and the peer's -k keyfile: dsd authenticating
 * its clients, dspeer signing every datagram.  Hash or MAC
 * with the init/update/final triple, or with the one-shot helpers.  A
 * struct hmac may be copied after hmac_init, so a program that signs
 * many messages with one key hashes the key once and copies the keyed
 * state for each message.  Compare a received MAC with hmac_equal,
 * never with memcmp, so that the time taken does not tell an attacker
 * how many leading bytes were right.  hmac_hex and hmac_unhex carry a
 * MAC in a text header field.
 *
 * This module authenticates; it does not encrypt, derive keys, make
 * nonces or guard against replay.  Those belong to the caller.  It does
 * no I/O and no allocation, so reading a key file is the program's job.
 * The *_final functions wipe their state, so the key does not linger in
 * a struct after use; temporaries on the stack are not scrubbed.
 */
#ifndef DS_HMAC_H
#define DS_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32   /* bytes in a digest */
#define SHA256_BLOCK 64 /* bytes in one block of input */
#define HMAC_LEN SHA256_LEN
#define HMAC_HEXLEN (2 * HMAC_LEN) /* hex digits in a MAC, without NUL */

struct sha256 {
	uint32_t h[8];                    /* chaining value */
	uint64_t len;                     /* bytes hashed so far */
	unsigned char buf[SHA256_BLOCK];  /* a partial block */
	size_t used;                      /* bytes in buf */
};

void sha256_init(struct sha256 *);
void sha256_update(struct sha256 *, const void *data, size_t n);
/* Write the digest to out and wipe the state; init again to reuse it. */
void sha256_final(struct sha256 *, unsigned char out[SHA256_LEN]);
void sha256(const void *data, size_t n, unsigned char out[SHA256_LEN]);

struct hmac {
	struct sha256 inner; /* keyed with K ^ ipad, then fed the message */
	struct sha256 outer; /* keyed with K ^ opad, fed the inner digest */
};

/*
 * Key the state.  A key longer than SHA256_BLOCK bytes is hashed first,
 * as RFC 2104 says; any length, including 0, is allowed.
 */
void hmac_init(struct hmac *, const void *key, size_t keylen);
void hmac_update(struct hmac *, const void *data, size_t n);
/* Write the MAC to out and wipe the state. */
void hmac_final(struct hmac *, unsigned char out[HMAC_LEN]);
void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
    unsigned char out[HMAC_LEN]);

/*
 * Return 1 when a[0..n) equals b[0..n), else 0, in time that depends
 * only on n.
 */
int hmac_equal(const unsigned char *a, const unsigned char *b, size_t n);

/* Write mac[0..n) as 2n lowercase hex digits and a NUL to dst. */
void hmac_hex(const unsigned char *mac, size_t n, char *dst);

/*
 * Decode src[0..srclen) (hex digits in either case, no NUL needed) into
 * dst[0..dstlen).  Returns 0, or -1 when srclen is not 2 * dstlen or a
 * byte is not a hex digit; dst may then hold a partial result.
 */
int hmac_unhex(const char *src, size_t srclen, unsigned char *dst,
    size_t dstlen);

#endif
