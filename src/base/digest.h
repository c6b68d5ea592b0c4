/* Content digests and random ids for files lorabert writes.
 *
 * Owns: SHA-256 of a whole file (hex), and fresh random ids (hex) from the kernel's CSPRNG.
 * Why: a checkpoint's files must be provably one set (resume.json lists the digest of every
 * other file and one id they all share), and the hub checks downloads the same way.
 * Guarantees: hex output is lowercase and NUL-terminated; errors name the file. */
#ifndef LB_BASE_DIGEST_H
#define LB_BASE_DIGEST_H
#include <stddef.h>
#include "base/error.h"

/* out: 64 hex digits + NUL. */
lb_status lb_sha256_file(const char *path, char out[65], lb_error *err);
/* out: 2*nbytes hex digits + NUL (nbytes <= 64). */
lb_status lb_random_hex(char *out, size_t nbytes, lb_error *err);

#endif
