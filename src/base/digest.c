/* SHA-256 of files and random ids; see digest.h. */
#include "base/digest.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void to_hex(const unsigned char *b, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

lb_status lb_sha256_file(const char *path, char out[65], lb_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return lb_err(err, LB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    lb_status st = LB_OK;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        st = lb_err(err, LB_ERR_NOMEM, "%s: cannot start a SHA-256 digest", path);
        goto out;
    }
    unsigned char buf[1 << 16];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = lb_err(err, LB_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0) break;
        EVP_DigestUpdate(ctx, buf, (size_t)r);
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    to_hex(md, 32, out);
out:
    EVP_MD_CTX_free(ctx);
    close(fd);
    return st;
}

lb_status lb_random_hex(char *out, size_t nbytes, lb_error *err) {
    unsigned char b[64];
    if (nbytes > sizeof b) return lb_err(err, LB_ERR_USAGE, "random id: %zu bytes asked, at most 64", nbytes);
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(b + got, nbytes - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return lb_err(err, LB_ERR_IO, "random id: getrandom failed: %s", strerror(errno));
        got += (size_t)r;
    }
    to_hex(b, nbytes, out);
    return LB_OK;
}
