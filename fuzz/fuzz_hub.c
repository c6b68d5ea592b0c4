/* libFuzzer harness for the parsing lorabert does on data from a hub server (src/formats/hub.c,
 * through the internal entry points of hub.h): the header block of a HEAD answer (status line,
 * Location resolved and checked for http/https, ETag / X-Linked-Etag, X-Linked-Size /
 * Content-Length, Content-Range, X-Error-*), the API's revision JSON (sha + siblings), and the
 * repo id rules. Input: header block, "\r\n\r\n", API body (either part may be empty). Anything
 * must be accepted or refused with a one-line message, never crash or leak, and what is accepted
 * must satisfy the promises the downloader relies on (asserted below). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "formats/hub.h"

#define REQUEST_URL "https://huggingface.co/org/name/resolve/0123456789abcdef0123456789abcdef01234567/dir/f.bin"

static void check_msg(const lb_error *e) {
    if (!e->msg[0] || strchr(e->msg, '\n') || strchr(e->msg, '\r')) abort();
}

static void plain_url(const char *u) {
    if (strncasecmp(u, "http://", 7) && strncasecmp(u, "https://", 8)) abort();
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) abort();
}

static void safe_rel(const char *f) {
    if (!*f || *f == '/') abort();
    for (const char *p = f;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) abort();
        if (!p[n]) break;
        p += n + 1;
    }
    for (const unsigned char *p = (const unsigned char *)f; *p; p++)
        if (*p < 0x20 || *p == 0x7f) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    size_t hlen = size;
    const char *body = NULL;
    size_t blen = 0;
    for (size_t i = 0; i + 4 <= size; i++)
        if (!memcmp(in + i, "\r\n\r\n", 4)) {
            hlen = i + 2;
            body = in + i + 4;
            blen = size - i - 4;
            break;
        }

    /* HEAD answer */
    lb_hub_file_meta m;
    lb_error e = {0};
    if (lb_hub_parse_head_answer(in, hlen, REQUEST_URL, &m, &e) == LB_OK) {
        if (m.status < 200 || m.status >= 400) abort();
        if (m.location) plain_url(m.location);
        if (m.range_start != -1 &&
            (m.range_start < 0 || m.range_end < m.range_start || (m.range_total != -1 && m.range_end >= m.range_total)))
            abort();
        if (m.follow) {
            if (!m.location || strncmp(m.location, "https://huggingface.co/", 23)) abort(); /* same origin */
        } else {
            size_t el = strlen(m.etag);
            if (el == 0 || el > 200 || m.etag[0] == '.' || m.size < -1) abort();
            for (size_t i = 0; i < el; i++)
                if (!isalnum((unsigned char)m.etag[i]) && !strchr("-_.", m.etag[i])) abort();
        }
    } else {
        check_msg(&e);
    }
    lb_hub_file_meta_free(&m);

    /* API answer: the body part, or the whole input when there is no separator */
    lb_hub_revision_info info;
    const char *api = body ? body : in;
    size_t alen = body ? blen : size;
    if (lb_hub_parse_revision_info(api, alen, "model org/name",
                                   "https://huggingface.co/api/models/org/name/revision/main", &info, &e) == LB_OK) {
        if (strlen(info.sha) != 40) abort();
        for (size_t i = 0; i < 40; i++)
            if (!isxdigit((unsigned char)info.sha[i])) abort();
        for (size_t i = 0; i < info.n_files; i++) safe_rel(info.files[i]);
    } else {
        check_msg(&e);
    }
    lb_hub_revision_info_free(&info);

    /* the first line as a repo id */
    char id[256];
    const char *eol = memchr(in, '\n', size);
    size_t il = eol ? (size_t)(eol - in) : size;
    if (il >= sizeof id) il = sizeof id - 1;
    memcpy(id, in, il);
    id[il] = '\0';
    if (lb_hub_check_repo_id(id, &e) == LB_OK) {
        size_t n = strlen(id), slashes = 0;
        if (!n || strstr(id, "--") || strstr(id, "..") || id[0] == '-' || id[0] == '.' || id[n - 1] == '-' ||
            id[n - 1] == '.')
            abort();
        for (size_t i = 0; i < n; i++) {
            if (!isalnum((unsigned char)id[i]) && !strchr("-_./", id[i])) abort();
            slashes += id[i] == '/';
        }
        if (slashes > 1) abort();
    } else {
        check_msg(&e);
    }
    return 0;
}
