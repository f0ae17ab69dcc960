/*
 * auth: the shared-key challenge-response of the hub (see dsproto(7)).
 *
 * A hub started with -k and every client given the same keyfile prove to
 * each other that they know the key without sending it: each side sends
 * a fresh random nonce, and the other answers with
 * hex(HMAC-SHA256(key, nonce + " " + name)), which is compared in
 * constant time.  This authenticates; it does not encrypt.
 *
 * Nothing here prints or exits: calls return 0 or -1 and fill err.
 */
#ifndef DS_AUTH_H
#define DS_AUTH_H

#include <stddef.h>

#include "hmac.h"

#define AUTH_KEY_MAX 4096            /* bytes in a key file */
#define AUTH_NONCE_LEN 32            /* random bytes in a nonce */
#define AUTH_NONCE_HEX (2 * AUTH_NONCE_LEN)
#define AUTH_MAC_HEX HMAC_HEXLEN     /* 64 hex digits */

struct auth_key {
	unsigned char k[AUTH_KEY_MAX];
	size_t len;
};

/*
 * Read a key file: its bytes, less one trailing newline (LF or CRLF).
 * An empty key or one longer than AUTH_KEY_MAX bytes is an error: -1
 * with errno EINVAL and err set ("key file PATH is empty", ...).  A
 * file that cannot be opened or read gives -1 with that errno.
 */
int auth_key_load(struct auth_key *key, const char *path, char *err,
    size_t errlen);

/*
 * Fill dst with AUTH_NONCE_HEX lowercase hex digits and a NUL, from
 * AUTH_NONCE_LEN bytes of /dev/urandom.  Returns 0, or -1 with errno.
 */
int auth_nonce(char dst[AUTH_NONCE_HEX + 1]);

/*
 * The proof for (nonce, name): hex(HMAC-SHA256(key, nonce " " name)),
 * AUTH_MAC_HEX lowercase digits and a NUL.
 */
void auth_mac(const struct auth_key *key, const char *nonce, size_t nonce_len,
    const char *name, size_t name_len, char dst[AUTH_MAC_HEX + 1]);

/*
 * Is mac (as received, mac_len bytes, either case of hex) the proof for
 * (nonce, name)?  1 or 0; the comparison takes the same time whatever
 * the bytes.
 */
int auth_check(const struct auth_key *key, const char *nonce,
    size_t nonce_len, const char *name, size_t name_len, const char *mac,
    size_t mac_len);

#endif
