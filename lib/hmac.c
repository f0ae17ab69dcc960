#include "hmac.h"

#include <string.h>

#include "num.h"

/*
 * The first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes (FIPS 180-4, 4.2.2).
 */
static const uint32_t k256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

/*
 * Zero n bytes through a volatile pointer, so that the compiler cannot
 * drop the stores as dead when the memory is not read again.
 */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

static uint32_t
ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/*
 * Big-endian loads and stores, built from bytes so that the host's
 * byte order never matters.
 */
static uint32_t
load32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
store32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Fold one 64-byte block into the chaining value (FIPS 180-4, 6.2.2). */
static void
compress(uint32_t h[8], const unsigned char *block)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load32(block + 4 * i);
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^
		    (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^
		    (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
		    ((e & f) ^ (~e & g)) + k256[i] + w[i];
		t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void
sha256_init(struct sha256 *s)
{
	/* The fractional parts of the square roots of the first 8 primes. */
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(s->h, iv, sizeof iv);
	s->len = 0;
	s->used = 0;
}

void
sha256_update(struct sha256 *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	/*
	 * Returning here also keeps a NULL pointer with n == 0 away from
	 * memcpy.
	 */
	if (n == 0)
		return;
	s->len += n;
	if (s->used > 0) {
		size_t take = SHA256_BLOCK - s->used;

		if (take > n)
			take = n;
		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used < SHA256_BLOCK)
			return;
		compress(s->h, s->buf);
		s->used = 0;
	}
	/* Whole blocks are hashed straight from the caller's memory. */
	for (; n >= SHA256_BLOCK; p += SHA256_BLOCK, n -= SHA256_BLOCK)
		compress(s->h, p);
	if (n > 0) {
		memcpy(s->buf, p, n);
		s->used = n;
	}
}

void
sha256_final(struct sha256 *s, unsigned char out[SHA256_LEN])
{
	uint64_t bits = s->len << 3;
	int i;

	/*
	 * Pad with 0x80, zeros, and the message length in bits as a
	 * 64-bit big-endian number, spilling into a second block when
	 * fewer than 8 bytes are left in this one (FIPS 180-4, 5.1.1).
	 */
	s->buf[s->used++] = 0x80;
	if (s->used > SHA256_BLOCK - 8) {
		memset(s->buf + s->used, 0, SHA256_BLOCK - s->used);
		compress(s->h, s->buf);
		s->used = 0;
	}
	memset(s->buf + s->used, 0, SHA256_BLOCK - 8 - s->used);
	store32(s->buf + SHA256_BLOCK - 8, (uint32_t)(bits >> 32));
	store32(s->buf + SHA256_BLOCK - 4, (uint32_t)bits);
	compress(s->h, s->buf);
	for (i = 0; i < 8; i++)
		store32(out + 4 * i, s->h[i]);
	wipe(s, sizeof *s);
}

void
sha256(const void *data, size_t n, unsigned char out[SHA256_LEN])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, n);
	sha256_final(&s, out);
}

void
hmac_init(struct hmac *m, const void *key, size_t keylen)
{
	unsigned char k[SHA256_BLOCK], pad[SHA256_BLOCK];
	int i;

	/*
	 * K is the key zero-padded to one block, or its digest when it
	 * is longer than a block (RFC 2104, section 2).
	 */
	memset(k, 0, sizeof k);
	if (keylen > SHA256_BLOCK)
		sha256(key, keylen, k);
	else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&m->inner);
	sha256_update(&m->inner, pad, sizeof pad);
	for (i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&m->outer);
	sha256_update(&m->outer, pad, sizeof pad);
	wipe(k, sizeof k);
	wipe(pad, sizeof pad);
}

void
hmac_update(struct hmac *m, const void *data, size_t n)
{
	sha256_update(&m->inner, data, n);
}

void
hmac_final(struct hmac *m, unsigned char out[HMAC_LEN])
{
	unsigned char ih[SHA256_LEN];

	sha256_final(&m->inner, ih);
	sha256_update(&m->outer, ih, sizeof ih);
	sha256_final(&m->outer, out);
	wipe(ih, sizeof ih);
}

void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
    unsigned char out[HMAC_LEN])
{
	struct hmac m;

	hmac_init(&m, key, keylen);
	hmac_update(&m, msg, n);
	hmac_final(&m, out);
}

int
hmac_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned diff = 0;
	size_t i;

	/*
	 * Look at every byte whatever the earlier ones held, and turn the
	 * result into 0 or 1 without a branch on the data: diff - 1 wraps
	 * to all ones only when diff is 0.
	 */
	for (i = 0; i < n; i++)
		diff |= (unsigned)(a[i] ^ b[i]);
	return (int)(1 & ((diff - 1) >> 8));
}

void
hmac_hex(const unsigned char *mac, size_t n, char *dst)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = digits[mac[i] >> 4];
		dst[2 * i + 1] = digits[mac[i] & 0xf];
	}
	dst[2 * n] = '\0';
}

int
hmac_unhex(const char *src, size_t srclen, unsigned char *dst,
    size_t dstlen)
{
	size_t i;

	/* Compare by halving so that a huge dstlen cannot wrap 2 * dstlen. */
	if (srclen % 2 != 0 || srclen / 2 != dstlen)
		return -1;
	for (i = 0; i < dstlen; i++) {
		int hi = num_hexval((unsigned char)src[2 * i]);
		int lo = num_hexval((unsigned char)src[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		dst[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
