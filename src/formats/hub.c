/* Hugging Face Hub client and cache (see hub.h for the layout and the guarantees).
 *
 * Flow of lb_hub_resolve for a repo id, mirroring huggingface_hub's snapshot_download:
 *   GET  {endpoint}/api/{kind}s/{repo}/revision/{rev}   -> commit sha + file list
 *   refs/{rev} <- sha                                    (atomic write)
 *   for each file wanted and not yet in snapshots/{sha}/:
 *     HEAD {endpoint}[/datasets]/{repo}/resolve/{sha}/{file}   -> etag, size, CDN location
 *     GET  location (Range: bytes=N- when blobs/{etag}.incomplete holds N bytes)
 *     verify size + digest, rename to blobs/{etag}, symlink snapshots/{sha}/{file}
 */
#include "formats/hub.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "base/fileio.h"

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_MAX_ATTEMPTS 5                   /* download attempts per file, each resuming the last */
#define HUB_MAX_HOPS 5                       /* relative redirects of a HEAD (renamed repos) followed by hand */
#define HUB_PROTOCOLS "http,https"           /* the only schemes of a request or of a redirect libcurl follows */
#define HUB_MAX_API_BYTES ((size_t)16 << 20) /* cap on an API answer (file list) or error body in memory */
/* cap on a file whose size the server declares nowhere (no X-Linked-Size, no Content-Length) */
#define HUB_MAX_UNDECLARED_BYTES ((long long)4 << 30)

/* ---------------------------------------------------------------- small string helpers */

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static bool env_true(const char *name) {
    const char *v = getenv(name);
    if (!v) return false;
    return !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on");
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* Percent-encodes s; characters in `safe` and RFC 3986 unreserved ones pass through. */
static char *url_quote(const char *s, const char *safe) {
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p) || (*p && strchr(safe, *p))) *o++ = (char)*p;
        else o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

/* s for an error message: at most 200 bytes, control and non-ASCII bytes shown as '?' (server
 * data never puts a line break or a terminal escape into a message). */
static const char *printable(const char *s, char *buf, size_t n) {
    size_t i = 0;
    for (; s[i] && i + 1 < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    if (s[i] && i >= 3) memcpy(buf + i - 3, "...", 3);
    buf[i] = '\0';
    return buf;
}

/* The scheme of an absolute URL (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"),
 * into out (truncated to fit); false when s does not start with one. */
static bool url_scheme(const char *s, char *out, size_t n) {
    if (!isalpha((unsigned char)s[0])) return false;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') i++;
    if (s[i] != ':') return false;
    snprintf(out, n, "%.*s", (int)i, s);
    return true;
}

static bool scheme_is_http(const char *scheme) { return !strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"); }

/* The first byte of url that cannot appear in a URL sent as is (control, space, non-ASCII), or 0. */
static unsigned char url_bad_byte(const char *url) {
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) return *p;
    return 0;
}

/* Checks that url is an absolute http:// or https:// URL with a host. On failure the message
 * is "<what> '<url>': <why>". */
static lb_status check_http_url(const char *url, const char *what, lb_status code, lb_error *err) {
    char pb[256], scheme[32];
    unsigned char bad = url_bad_byte(url);
    if (bad)
        return lb_err(err, code, "%s '%s': not a plain URL (byte 0x%02x)", what, printable(url, pb, sizeof pb), bad);
    if (!url_scheme(url, scheme, sizeof scheme))
        return lb_err(err, code, "%s '%s': no scheme; lorabert talks to the hub only over http:// or https://", what,
                      printable(url, pb, sizeof pb));
    if (!scheme_is_http(scheme))
        return lb_err(err, code,
                      "%s '%s': scheme '%s' is not allowed; lorabert talks to the hub only over http:// or https://",
                      what, printable(url, pb, sizeof pb), scheme);
    const char *rest = url + strlen(scheme) + 1;
    if (strncmp(rest, "//", 2) || !rest[2] || strchr("/?#", rest[2]))
        return lb_err(err, code, "%s '%s': no host after '%s://'", what, printable(url, pb, sizeof pb), scheme);
    return LB_OK;
}

/* Length of the origin ("scheme://host[:port]") of an absolute URL. */
static size_t url_origin_len(const char *url) {
    const char *se = strstr(url, "://");
    if (!se) return strlen(url);
    return (size_t)(se + 3 - url) + strcspn(se + 3, "/?#");
}

/* The target of a redirect: loc (a Location header) resolved against base (the URL asked).
 * *external: loc named a host (absolute or "//host/..."), so it is not the hub itself (a CDN);
 * otherwise it is on the hub's origin (a renamed repo). Only http:// and https:// targets are
 * accepted: anything else is refused here, before any connection. */
static lb_status resolve_location(const char *base, const char *loc, const char *file, char **out, bool *external,
                                  lb_error *err) {
    *out = NULL;
    *external = false;
    char pb[256], pb2[256], scheme[32], what[700];
    snprintf(what, sizeof what, "%s: refusing the redirect from %s to", file, printable(base, pb2, sizeof pb2));
    if (!*loc) return lb_err(err, LB_ERR_NETWORK, "%s an empty Location", what);
    unsigned char bad = url_bad_byte(loc);
    if (bad)
        return lb_err(err, LB_ERR_NETWORK, "%s '%s': not a plain URL (byte 0x%02x)", what,
                      printable(loc, pb, sizeof pb), bad);
    if (url_scheme(loc, scheme, sizeof scheme)) {
        lb_status st = check_http_url(loc, what, LB_ERR_NETWORK, err);
        if (st) return st;
        *out = strdup(loc);
        *external = true;
    } else if (loc[0] == '/' && loc[1] == '/') {
        size_t sl = strcspn(base, ":");
        *out = xasprintf("%.*s:%s", (int)sl, base, loc);
        if (!*out) return lb_err(err, LB_ERR_NOMEM, "out of memory");
        lb_status st = check_http_url(*out, what, LB_ERR_NETWORK, err);
        if (st) {
            free(*out);
            *out = NULL;
            return st;
        }
        *external = true;
    } else if (loc[0] == '/') {
        *out = xasprintf("%.*s%s", (int)url_origin_len(base), base, loc);
    } else {
        /* relative to the folder of base (RFC 3986 5.2.3); dot segments are left to the server */
        size_t ol = url_origin_len(base);
        size_t pl = strcspn(base + ol, "?#");
        const char *last = NULL;
        for (const char *p = base + ol; p < base + ol + pl; p++)
            if (*p == '/') last = p;
        size_t keep = last ? (size_t)(last - base) + 1 : ol;
        *out = xasprintf("%.*s%s%s", (int)keep, base, last ? "" : "/", loc);
    }
    return *out ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
}

/* A repo file name is used as a path below snapshots/<sha>/: it must stay inside it. */
static bool safe_rel_path(const char *f) {
    if (!*f || *f == '/') return false;
    const char *p = f;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return false;
        if (!slash) break;
        p = slash + 1;
    }
    for (p = f; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return false;
    return true;
}

/* An etag names a file in blobs/: a plain name, no separators. */
static bool safe_etag(const char *e) {
    if (!*e || *e == '.' || strlen(e) > 200) return false;
    for (const char *p = e; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p)) return false;
    return true;
}

/* A branch/tag/commit name is used as a path below refs/. */
static bool safe_revision(const char *r) { return safe_rel_path(r) && !strchr(r, '\\'); }

/* ---------------------------------------------------------------- public helpers */

lb_status lb_hub_check_repo_id(const char *s, lb_error *err) {
    /* huggingface_hub's validate_repo_id: ^(\b[\w\-.]+\b/)?\b[\w\-.]{1,96}\b$ (ASCII \w here),
     * no "--" or "..", not ending in ".git". */
    char pb[256];
    if (!s || !*s) return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '': it is empty");
    const char *shown = printable(s, pb, sizeof pb);
    const char *rules = " (huggingface_hub's validate_repo_id rules)";
    size_t n = strlen(s);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (!isalnum(c) && !strchr("_-./", c)) {
            if (c > 0x20 && c < 0x7f)
                return lb_err(err, LB_ERR_USAGE,
                              "invalid hub repo id '%s': character '%c' at position %zu is not allowed (letters, "
                              "digits, '-', '_', '.' and one '/')%s",
                              shown, c, k + 1, rules);
            return lb_err(err, LB_ERR_USAGE,
                          "invalid hub repo id '%s': byte 0x%02x at position %zu is not allowed (letters, digits, "
                          "'-', '_', '.' and one '/'; ' ' is 0x20)%s",
                          shown, c, k + 1, rules);
        }
    }
    const char *slash = strchr(s, '/');
    if (slash && strchr(slash + 1, '/'))
        return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': more than one '/' (it is 'name' or 'org/name')%s",
                      shown, rules);
    const char *parts[2] = {s, slash ? slash + 1 : NULL};
    size_t lens[2] = {slash ? (size_t)(slash - s) : n, slash ? strlen(slash + 1) : 0};
    for (int i = 0; i < 2 && parts[i]; i++) {
        const char *p = parts[i];
        size_t len = lens[i];
        bool is_name = p == parts[slash ? 1 : 0];
        if (len == 0)
            return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': empty %s%s", shown, is_name ? "name" : "org",
                          rules);
        if (!isalnum((unsigned char)p[0]) && p[0] != '_')
            return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': '-' and '.' cannot start or end the %s%s",
                          shown, is_name ? "name" : "org", rules);
        if (!isalnum((unsigned char)p[len - 1]) && p[len - 1] != '_')
            return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': '-' and '.' cannot start or end the %s%s",
                          shown, is_name ? "name" : "org", rules);
        if (is_name && len > 96)
            return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': the name is %zu characters, at most 96%s",
                          shown, len, rules);
    }
    if (strstr(s, "--"))
        return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': '--' is forbidden%s", shown, rules);
    if (strstr(s, ".."))
        return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': '..' is forbidden%s", shown, rules);
    if (n >= 4 && !strcmp(s + n - 4, ".git"))
        return lb_err(err, LB_ERR_USAGE, "invalid hub repo id '%s': it cannot end in '.git'%s", shown, rules);
    return LB_OK;
}

bool lb_hub_looks_like_repo_id(const char *s) {
    if (!s || !*s) return false;
    struct stat sb;
    if (stat(s, &sb) == 0) return false;
    lb_error e;
    return lb_hub_check_repo_id(s, &e) == LB_OK;
}

char *lb_hub_cache_dir(void) {
    const char *v;
    if ((v = env_nonempty("HF_HUB_CACHE"))) return strdup(v);
    if ((v = env_nonempty("HUGGINGFACE_HUB_CACHE"))) return strdup(v);
    if ((v = env_nonempty("HF_HOME"))) return lb_path_join(v, "hub");
    if ((v = env_nonempty("XDG_CACHE_HOME"))) return xasprintf("%s/huggingface/hub", v);
    const char *home = env_nonempty("HOME");
    return xasprintf("%s/.cache/huggingface/hub", home ? home : ".");
}

char *lb_hub_repo_folder_name(const char *repo_id, const char *kind) {
    if (!repo_id || !kind || (strcmp(kind, "model") && strcmp(kind, "dataset"))) return NULL;
    char *s = xasprintf("%ss--%s", kind, repo_id);
    if (!s) return NULL;
    /* "org/name" -> "org--name": each '/' becomes the two-dash separator. */
    size_t slashes = 0;
    for (char *p = s; *p; p++) slashes += *p == '/';
    if (!slashes) return s;
    char *out = malloc(strlen(s) + slashes + 1), *o = out;
    if (!out) {
        free(s);
        return NULL;
    }
    for (char *p = s; *p; p++) {
        if (*p == '/') {
            *o++ = '-';
            *o++ = '-';
        } else *o++ = *p;
    }
    *o = '\0';
    free(s);
    return out;
}

/* Hashes a file with EVP digest md; prefix (may be NULL) is hashed first. */
static lb_status digest_file(const char *path, const EVP_MD *md, const char *prefix, size_t prefix_len, char *hex,
                             lb_error *err) {
    int fd;
    lb_status ost = lb_open_regular(path, SIZE_MAX, "file", &fd, NULL, err);
    if (ost) return ost;
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return lb_err(err, LB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL)) {
        fclose(fp);
        EVP_MD_CTX_free(ctx);
        return lb_err(err, LB_ERR_INTERNAL, "%s: cannot initialise the digest", path);
    }
    if (prefix) EVP_DigestUpdate(ctx, prefix, prefix_len);
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
        fclose(fp);
        EVP_MD_CTX_free(ctx);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    size_t got;
    while ((got = fread(buf, 1, CHUNK, fp)) > 0) EVP_DigestUpdate(ctx, buf, got);
    int bad = ferror(fp);
    fclose(fp);
    free(buf);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dn = 0;
    EVP_DigestFinal_ex(ctx, d, &dn);
    EVP_MD_CTX_free(ctx);
    if (bad) return lb_err(err, LB_ERR_IO, "%s: read failed", path);
    for (unsigned i = 0; i < dn; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    hex[2 * dn] = '\0';
    return LB_OK;
}

lb_status lb_hub_file_sha256(const char *path, char out[65], lb_error *err) {
    return digest_file(path, EVP_sha256(), NULL, 0, out, err);
}

lb_status lb_hub_git_blob_sha1(const char *path, char out[41], lb_error *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return lb_err(err, LB_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "blob %lld", (long long)sb.st_size);
    return digest_file(path, EVP_sha1(), prefix, (size_t)n + 1 /* the NUL */, out, err);
}

/* ---------------------------------------------------------------- HTTP */

typedef struct hub {
    char *endpoint;   /* no trailing slash */
    char *token;      /* NULL: anonymous */
    const char *kind; /* "model" | "dataset" */
    const char *repo; /* "org/name" */
    char *repo_q;     /* repo URL-encoded, '/' kept (a no-op on a valid id, which is all it gets) */
    const char *revision;
    char *storage; /* <cache>/<kind>s--org--name */
    bool progress;
} hub;

typedef struct http_resp {
    long status;
    /* headers of the last response received (redirects reset them) */
    char *location, *etag, *linked_etag, *repo_commit, *error_code, *error_msg, *content_range;
    long long content_length, linked_size; /* -1: absent, -2: malformed */
    /* body: to `fp` when set and the status is 2xx, else kept in memory (API, errors) */
    FILE *fp;
    long long resume_from; /* bytes already in fp when the request started */
    long long written;     /* bytes written to fp by this request */
    long long limit;       /* most bytes the whole file may have (fp only) */
    bool fp_started;
    int write_errno;
    /* stopped on purpose: more than `limit` (fp) or HUB_MAX_API_BYTES (memory) would have been
     * kept (`received`: the count that passed it; `announced`: a Content-Length said so before
     * any byte); or a 206 for another range than the one asked */
    bool too_big, announced, range_bad;
    long long received;
    char *body;
    size_t body_len, body_cap;
    /* progress line */
    const char *name;
    long long total;
    double last_draw;
    double t0;
    bool drew;
} http_resp;

static void resp_clear_headers(http_resp *r) {
    free(r->location);
    free(r->etag);
    free(r->linked_etag);
    free(r->repo_commit);
    free(r->error_code);
    free(r->error_msg);
    free(r->content_range);
    r->location = r->etag = r->linked_etag = r->repo_commit = r->error_code = r->error_msg = r->content_range = NULL;
    r->content_length = r->linked_size = -1;
}

static void resp_free(http_resp *r) {
    resp_clear_headers(r);
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
}

static char *header_value(const char *v, size_t n) {
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, v, n);
    s[n] = '\0';
    return s;
}

static void set_str(char **dst, char *v) {
    free(*dst);
    *dst = v;
}

/* A size header (Content-Length, X-Linked-Size): decimal digits only, at most 18 of them (no
 * sign, no overflow); -2 when it is anything else. */
static long long parse_size(const char *s) {
    if (!s || !*s) return -2;
    long long v = 0;
    for (size_t n = 0; s[n]; n++) {
        if (!isdigit((unsigned char)s[n]) || n >= 18) return -2;
        v = v * 10 + (s[n] - '0');
    }
    return v;
}

/* Content-Range of a 206: "bytes START-END/TOTAL" (TOTAL may be "*", then -1). */
static bool parse_content_range(const char *s, long long *start, long long *end, long long *total) {
    if (!s || strncasecmp(s, "bytes ", 6)) return false;
    s += 6;
    while (*s == ' ') s++;
    char num[3][24];
    const char *seps = "-/";
    for (int i = 0; i < 3; i++) {
        size_t k = 0;
        while (s[k] && (i == 2 || s[k] != seps[i])) k++;
        if (k == 0 || k >= sizeof num[i] || (i < 2 && !s[k])) return false;
        memcpy(num[i], s, k);
        num[i][k] = '\0';
        s += k + (i < 2);
    }
    *start = parse_size(num[0]);
    *end = parse_size(num[1]);
    *total = strcmp(num[2], "*") ? parse_size(num[2]) : -1;
    return *start >= 0 && *end >= *start && *total != -2 && (*total < 0 || *end < *total);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
    http_resp *r = ud;
    size_t n = size * nitems;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) {
        /* A new response (the first, or after a redirect / 100 Continue). */
        resp_clear_headers(r);
        const char *sp = memchr(buf, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return n;
    size_t kl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = n - kl - 1;
#define HDR(name) (kl == sizeof(name) - 1 && !strncasecmp(buf, name, kl))
    if (HDR("location")) set_str(&r->location, header_value(v, vl));
    else if (HDR("etag")) set_str(&r->etag, header_value(v, vl));
    else if (HDR("x-linked-etag")) set_str(&r->linked_etag, header_value(v, vl));
    else if (HDR("x-repo-commit")) set_str(&r->repo_commit, header_value(v, vl));
    else if (HDR("x-error-code")) set_str(&r->error_code, header_value(v, vl));
    else if (HDR("x-error-message")) set_str(&r->error_msg, header_value(v, vl));
    else if (HDR("content-range")) set_str(&r->content_range, header_value(v, vl));
    else if (HDR("content-length") || HDR("x-linked-size")) {
        char *s = header_value(v, vl);
        long long val = parse_size(s);
        free(s);
        if (HDR("content-length")) r->content_length = val;
        else r->linked_size = val;
    }
#undef HDR
    return n;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud) {
    http_resp *r = ud;
    size_t n = size * nmemb;
    if (r->fp && (r->status == 200 || r->status == 206)) {
        if (!r->fp_started) {
            r->fp_started = true;
            /* The server ignored our Range header: start the file over. */
            if (r->status == 200 && r->resume_from > 0) {
                if (fflush(r->fp) != 0 || ftruncate(fileno(r->fp), 0) != 0) {
                    r->write_errno = errno;
                    return 0;
                }
                rewind(r->fp);
                r->resume_from = 0;
            }
            /* A 206 must continue the file exactly where it stops. */
            long long start, end, total;
            if (r->status == 206 &&
                (!parse_content_range(r->content_range, &start, &end, &total) || start != r->resume_from)) {
                r->range_bad = true;
                return 0;
            }
            /* A length announced beyond the limit: refused before a byte is written. */
            if (r->content_length >= 0 && r->content_length > r->limit - r->resume_from) {
                r->too_big = r->announced = true;
                r->received = r->resume_from + r->content_length;
                return 0;
            }
        }
        /* Never more than the declared size on disk: stop at the write that would pass it. */
        if ((long long)n > r->limit - r->resume_from - r->written) {
            r->too_big = true;
            r->received = r->resume_from + r->written + (long long)n;
            return 0;
        }
        if (fwrite(buf, 1, n, r->fp) != n) {
            r->write_errno = errno ? errno : EIO;
            return 0;
        }
        r->written += (long long)n;
        return n;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        if (r->body_len + n + 1 > HUB_MAX_API_BYTES) {
            r->too_big = true;
            r->received = (long long)(r->body_len + n);
            return 0;
        }
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1) cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb) return 0;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, buf, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void human_bytes(double b, char *out, size_t n) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4) {
        b /= 1000;
        i++;
    }
    snprintf(out, n, i ? "%.1f%s" : "%.0f%s", b, u[i]);
}

/* The caller's download progress callback (lb_hub_set_progress); NULL: none. Process-wide. */
static lb_download_progress_fn g_progress;
static void *g_progress_user;

void lb_hub_set_progress(lb_download_progress_fn fn, void *user) {
    g_progress = fn;
    g_progress_user = user;
}

static void draw_progress(http_resp *r, bool final) {
    long long done = r->resume_from + r->written;
    double t = now_s(), el = t - r->t0;
    lb_download_progress_fn fn = g_progress;
    if (fn)
        fn(g_progress_user, r->name, done, r->total > 0 ? r->total : -1, el > 0 ? (double)r->written / el : 0, final);
    r->last_draw = t;
    r->drew = true;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    http_resp *r = ud;
    if (now_s() - r->last_draw >= 0.1) draw_progress(r, false);
    return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* One HTTP request. method: "GET" or "HEAD". follow: follow redirects. Returns the curl code;
 * r->status is the final HTTP status (0 when none arrived). */
static CURLcode http_do(const hub *h, const char *url, const char *method, bool follow, bool auth, http_resp *r,
                        char *curl_msg /* [CURL_ERROR_SIZE] */) {
    curl_msg[0] = '\0';
    /* Only http(s), whatever the caller passes (HF_ENDPOINT and Location were checked before). */
    lb_error ue;
    if (check_http_url(url, "URL", LB_ERR_NETWORK, &ue)) {
        snprintf(curl_msg, CURL_ERROR_SIZE, "%.250s", ue.msg);
        return CURLE_UNSUPPORTED_PROTOCOL;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(curl_msg, CURL_ERROR_SIZE, "libcurl initialisation failed");
        return curl_init_rc;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(curl_msg, CURL_ERROR_SIZE, "libcurl initialisation failed");
        return CURLE_FAILED_INIT;
    }
    struct curl_slist *hdrs = NULL;
    char *auth_hdr = NULL;
    if (auth && h->token) {
        auth_hdr = xasprintf("Authorization: Bearer %s", h->token);
        if (auth_hdr) hdrs = curl_slist_append(hdrs, auth_hdr);
    }
    /* The real size of the file is wanted, never a compressed transfer. */
    hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
    r->status = 0;
    r->content_length = r->linked_size = -1;
    /* http and https only, for the request and for every redirect libcurl follows: a hub (or
     * whoever answers as one) redirecting to gopher://, dict://, file://... gets an error, not a
     * connection. Fail closed if this libcurl cannot be restricted. */
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string forms; the bitmasks are deprecated */
    CURLcode prc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, HUB_PROTOCOLS);
    if (prc == CURLE_OK) prc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, HUB_PROTOCOLS);
#else
    CURLcode prc = curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    if (prc == CURLE_OK) prc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (prc != CURLE_OK) {
        snprintf(curl_msg, CURL_ERROR_SIZE, "libcurl cannot restrict requests to %s (%s)", HUB_PROTOCOLS,
                 curl_easy_strerror(prc));
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        free(auth_hdr);
        return prc;
    }
    /* The Authorization header (HF_TOKEN) never follows a redirect to another host. */
    curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "lorabert/" LORABERT_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A stalled transfer (under 1 byte/s for 30 s) fails and is resumed by the caller. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (r->fp) curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024); /* few large reads */
    if (r->fp && r->resume_from > 0) {
        char range[32];
        snprintf(range, sizeof range, "%lld-", r->resume_from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    if (r->fp && h->progress) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    if (!curl_msg[0] && rc != CURLE_OK) snprintf(curl_msg, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    free(auth_hdr);
    return rc;
}

static bool curl_is_connection_error(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return true;
    default: return false;
    }
}

/* Turns a failed request into one line a user can act on. what: "repo org/name", "file f". */
static lb_status http_fail(const hub *h, const char *what, const char *url, CURLcode rc, const http_resp *r,
                           const char *curl_msg, lb_error *err) {
    char pb[256], pb2[256], scheme[32];
    if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        /* a redirect libcurl refused to follow (CURLOPT_REDIR_PROTOCOLS_STR): r->location */
        if (r->location && url_scheme(r->location, scheme, sizeof scheme) && !scheme_is_http(scheme))
            return lb_err(err, LB_ERR_NETWORK,
                          "%s: refusing the redirect (asking %s) to '%s': scheme '%s' is not allowed; lorabert talks "
                          "to the hub only over http:// or https://",
                          what, printable(url, pb2, sizeof pb2), printable(r->location, pb, sizeof pb), scheme);
        return lb_err(err, LB_ERR_NETWORK, "%s: %s (asking %s)", what, curl_msg, printable(url, pb2, sizeof pb2));
    }
    if (r->status >= 300 && r->status < 400 && r->location) {
        /* a redirect libcurl stopped at (a scheme it may not follow): say which and why */
        char *target = NULL;
        bool external;
        lb_status st = resolve_location(url, r->location, what, &target, &external, err);
        free(target);
        if (st) return st;
    }
    if (r->too_big && r->status == 200)
        return lb_err(err, LB_ERR_NETWORK, "%s: the answer of %s is larger than the %d MiB cap on API answers", what,
                      url, (int)(HUB_MAX_API_BYTES >> 20));
    /* an error body cut at the cap still has its status */
    if (r->too_big && r->status >= 300) rc = CURLE_OK;
    if (rc != CURLE_OK && r->status == 0)
        return lb_err(err, LB_ERR_NETWORK,
                      "%s: cannot reach %s (%s); check the connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 "
                      "to use only the local cache",
                      what, h->endpoint, curl_msg);
    if (rc != CURLE_OK) return lb_err(err, LB_ERR_NETWORK, "%s: transfer from %s failed (%s)", what, url, curl_msg);
    const char *code = r->error_code ? r->error_code : "";
    const char *srv = r->error_msg ? printable(r->error_msg, pb, sizeof pb) : "";
    switch (r->status) {
    case 401:
        return lb_err(err, LB_ERR_NETWORK,
                      "%s: 401 Unauthorized from %s: the repo is private or gated, or does not exist; %s", what,
                      h->endpoint,
                      h->token ? "the token in HF_TOKEN has no access to it" : "set HF_TOKEN to an access token");
    case 403:
        return lb_err(err, LB_ERR_NETWORK,
                      "%s: 403 Forbidden from %s%s%s: access is restricted (a gated repo: accept its conditions on "
                      "the Hub with the account of HF_TOKEN)",
                      what, h->endpoint, *srv ? ": " : "", srv);
    case 404:
        if (!strcmp(code, "RepoNotFound"))
            return lb_err(err, LB_ERR_NETWORK, "%s: no such %s repo '%s' on %s (404)", what, h->kind, h->repo,
                          h->endpoint);
        if (!strcmp(code, "RevisionNotFound"))
            return lb_err(err, LB_ERR_NETWORK, "%s: no such revision '%s' in %s repo '%s' (404)", what, h->revision,
                          h->kind, h->repo);
        if (!strcmp(code, "EntryNotFound"))
            return lb_err(err, LB_ERR_NETWORK, "%s: no such file in %s repo '%s' (404)", what, h->kind, h->repo);
        return lb_err(err, LB_ERR_NETWORK, "%s: 404 Not Found: %s (no such repo, revision or file)", what, url);
    default:
        return lb_err(err, LB_ERR_NETWORK, "%s: HTTP %ld from %s%s%s", what, r->status, url, *srv ? ": " : "", srv);
    }
}

/* ---------------------------------------------------------------- cache */

static char *read_ref(const hub *h, const char *revision) {
    if (is_hex(revision, 40)) return strdup(revision);
    char *path = xasprintf("%s/refs/%s", h->storage, revision);
    if (!path) return NULL;
    char *data = NULL;
    size_t n = 0;
    lb_error e;
    lb_status st = lb_read_file_max(path, LB_MAX_SMALL_BYTES, "hub ref or token file", &data, &n, &e);
    free(path);
    if (st) return NULL;
    while (n && isspace((unsigned char)data[n - 1])) data[--n] = '\0';
    if (!is_hex(data, 40)) {
        free(data);
        return NULL;
    }
    return data;
}

/* The cached snapshot directory of revision, or an error explaining that it is missing. */
static lb_status cached_snapshot(const hub *h, const char *revision, lb_status code, const char *why, char **out_dir,
                                 lb_error *err) {
    char *commit = read_ref(h, revision);
    char *dir = commit ? xasprintf("%s/snapshots/%s", h->storage, commit) : NULL;
    free(commit);
    if (dir && lb_dir_exists(dir)) {
        *out_dir = dir;
        return LB_OK;
    }
    free(dir);
    return lb_err(err, code,
                  "%s%s %s '%s' (revision %s) is not in the cache %s; run 'lorabert download %s%s' while online", why,
                  why[0] ? " and" : "", h->kind, h->repo, revision, h->storage, h->repo,
                  !strcmp(h->kind, "dataset") ? " --dataset" : "");
}

static lb_status mkdir_parent(const char *path, lb_error *err) {
    char *d = strdup(path);
    if (!d) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    char *slash = strrchr(d, '/');
    lb_status st = LB_OK;
    if (slash && slash != d) {
        *slash = '\0';
        st = lb_mkdir_p(d, err);
    }
    free(d);
    return st;
}

/* snapshots/<sha>/<file> -> ../../blobs/<etag> (one more ../ per directory in file), replaced
 * atomically so a reader never sees a missing or dangling link. */
static lb_status link_pointer(const char *pointer, const char *file, const char *etag, lb_error *err) {
    size_t depth = 2;
    for (const char *p = file; *p; p++) depth += *p == '/';
    size_t tl = depth * 3 + strlen("blobs/") + strlen(etag) + 1;
    char *target = malloc(tl);
    char *tmp = xasprintf("%s.lbtmp.%ld", pointer, (long)getpid());
    if (!target || !tmp) {
        free(target);
        free(tmp);
        return lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    target[0] = '\0';
    for (size_t i = 0; i < depth; i++) strcat(target, "../");
    strcat(target, "blobs/");
    strcat(target, etag);
    lb_status st = mkdir_parent(pointer, err);
    if (!st) {
        unlink(tmp);
        if (symlink(target, tmp) != 0)
            st = lb_err(err, LB_ERR_IO, "%s: cannot create symlink: %s", tmp, strerror(errno));
        else if (rename(tmp, pointer) != 0) {
            st = lb_err(err, LB_ERR_IO, "%s: cannot rename symlink into place: %s", pointer, strerror(errno));
            unlink(tmp);
        }
    }
    free(target);
    free(tmp);
    return st;
}

static void fsync_dir_of(const char *path) {
    char *d = strdup(path);
    if (!d) return;
    char *slash = strrchr(d, '/');
    if (slash) *slash = '\0';
    int fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(d);
}

static lb_status check_disk_space(const char *dir, long long need, lb_error *err) {
    struct statvfs vs;
    if (need <= 0 || statvfs(dir, &vs) != 0) return LB_OK;
    long long avail = (long long)vs.f_bavail * (long long)vs.f_frsize;
    if (avail >= need) return LB_OK;
    char a[32], b[32];
    human_bytes((double)need, a, sizeof a);
    human_bytes((double)avail, b, sizeof b);
    return lb_err(err, LB_ERR_IO, "%s: not enough disk space: the download needs %s, %s free", dir, a, b);
}

/* Checks a complete blob against its etag: sha256 (LFS files) or git blob sha1 (others). */
static lb_status verify_blob(const char *path, const char *etag, const char *file, lb_error *err) {
    char hex[65];
    lb_status st = LB_OK;
    if (is_hex(etag, 64)) st = lb_hub_file_sha256(path, hex, err);
    else if (is_hex(etag, 40)) st = lb_hub_git_blob_sha1(path, hex, err);
    else return LB_OK; /* an etag that is no digest: size was the only check */
    if (st) return st;
    if (strcasecmp(hex, etag))
        return lb_err(err, LB_ERR_NETWORK,
                      "%s: checksum mismatch after download: expected %s, got %s (the damaged download was "
                      "removed; run again)",
                      file, etag, hex);
    return LB_OK;
}

/* Downloads url into blob_path (through blob_path.incomplete, resumed when present). */
static lb_status download_blob(const hub *h, const char *url, bool auth, const char *blob_path, const char *etag,
                               long long size, const char *file, lb_error *err) {
    char *inc = xasprintf("%s.incomplete", blob_path);
    if (!inc) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    lb_status st = LB_OK;
    long long last_have = -1;
    for (int attempt = 1;; attempt++) {
        struct stat sb;
        long long have = stat(inc, &sb) == 0 ? (long long)sb.st_size : 0;
        if (size >= 0 && have > size) {
            (void)truncate(inc, 0);
            have = 0;
        }
        if (size >= 0 && have == size) break; /* complete from an earlier run */
        if ((st = check_disk_space(h->storage, size >= 0 ? size - have : 0, err))) break;
        FILE *fp = fopen(inc, "ab");
        if (!fp) {
            st = lb_err(err, LB_ERR_IO, "%s: cannot open: %s", inc, strerror(errno));
            break;
        }
        setvbuf(fp, NULL, _IOFBF, 1 << 20); /* few large writes */
        http_resp r = {0};
        r.fp = fp;
        r.resume_from = have;
        r.limit = size >= 0 ? size : HUB_MAX_UNDECLARED_BYTES;
        r.name = file;
        r.total = size;
        r.t0 = r.last_draw = now_s();
        char cmsg[CURL_ERROR_SIZE];
        CURLcode rc = http_do(h, url, "GET", true, auth, &r, cmsg);
        int close_bad = fclose(fp) != 0;
        int close_errno = errno;
        if (h->progress && (r.drew || rc == CURLE_OK)) draw_progress(&r, true);
        if (r.too_big && r.fp_started) {
            /* Nothing of an answer that overflows its declared size is kept. */
            unlink(inc);
            if (size >= 0)
                st = lb_err(err, LB_ERR_NETWORK,
                            "%s: the server sent more than it declared (declared %lld bytes, %s %lld bytes); the "
                            "download was refused and removed",
                            file, size, r.announced ? "the answer announces" : "stopped at", r.received);
            else
                st = lb_err(err, LB_ERR_NETWORK,
                            "%s: the server declared no size and sent more than the %lld GiB cap on such files "
                            "(stopped at %lld bytes); the download was refused and removed",
                            file, HUB_MAX_UNDECLARED_BYTES >> 30, r.received);
            resp_free(&r);
            break;
        }
        if (r.range_bad) {
            /* A 206 for another range than ours: the partial file cannot be trusted; restart. */
            resp_free(&r);
            (void)truncate(inc, 0);
            if (attempt < HUB_MAX_ATTEMPTS) continue;
            st = lb_err(err, LB_ERR_NETWORK,
                        "%s: the server answered the resume request (Range: bytes=%lld-) with "
                        "another range",
                        file, have);
            break;
        }
        if (r.write_errno || (close_bad && rc == CURLE_OK)) {
            int e = r.write_errno ? r.write_errno : close_errno;
            st = lb_err(err, LB_ERR_IO, "%s: cannot write: %s%s", inc, strerror(e),
                        e == ENOSPC ? " (disk full; free space and run again to resume)" : "");
            resp_free(&r);
            break;
        }
        if (r.status == 416) {
            /* Range not satisfiable: our partial file does not fit the remote one; restart. */
            resp_free(&r);
            (void)truncate(inc, 0);
            if (attempt < HUB_MAX_ATTEMPTS) continue;
            st = lb_err(err, LB_ERR_NETWORK, "%s: server refused to resume the download (416)", file);
            break;
        }
        if (r.status != 0 && r.status != 200 && r.status != 206) {
            st = http_fail(h, file, url, CURLE_OK, &r, cmsg, err);
            resp_free(&r);
            break;
        }
        if (rc == CURLE_OK) {
            resp_free(&r);
            break;
        }
        /* Cut transfer: try again from where it stopped while each attempt makes progress. */
        long long now_have = stat(inc, &sb) == 0 ? (long long)sb.st_size : 0;
        bool progressed = now_have > last_have;
        last_have = now_have;
        if (curl_is_connection_error(rc) && progressed && attempt < HUB_MAX_ATTEMPTS) {
            resp_free(&r);
            continue;
        }
        st = http_fail(h, file, url, rc, &r, cmsg, err);
        if (now_have > 0)
            lb_err_prefix(err, "%s: download interrupted at %lld bytes (kept for resuming)", file, now_have);
        resp_free(&r);
        break;
    }
    if (!st) {
        struct stat sb;
        long long have = stat(inc, &sb) == 0 ? (long long)sb.st_size : -1;
        if (size >= 0 && have != size) {
            st = lb_err(err, LB_ERR_NETWORK, "%s: downloaded %lld bytes, expected %lld (kept for resuming)", file, have,
                        size);
        } else if ((st = verify_blob(inc, etag, file, err))) {
            unlink(inc);
        } else {
            int fd = open(inc, O_RDONLY);
            if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
            }
            mode_t um = umask(0);
            umask(um);
            (void)chmod(inc, 0644 & ~um);
            if (rename(inc, blob_path) != 0)
                st = lb_err(err, LB_ERR_IO, "%s: cannot rename into place: %s", blob_path, strerror(errno));
            else fsync_dir_of(blob_path);
        }
    }
    if (st) {
        /* keep a partial download for resuming, but not an empty file */
        struct stat sb;
        if (stat(inc, &sb) == 0 && sb.st_size == 0) unlink(inc);
    }
    free(inc);
    return st;
}

/* What a HEAD answer (2xx or 3xx) says about a file, into m: a redirect on the hub itself to
 * follow (m->follow, m->location), or the ETag (X-Linked-Etag first, quotes and W/ removed,
 * safe as a file name), the declared size (X-Linked-Size, else Content-Length; -1: none) and the
 * absolute http(s) URL of a CDN copy (m->location, or NULL). */
static lb_status head_meta(const http_resp *r, const char *req_url, const char *file, lb_hub_file_meta *m,
                           lb_error *err) {
    char pb[256];
    memset(m, 0, sizeof *m);
    m->status = r->status;
    m->size = m->range_start = m->range_end = m->range_total = -1;
    if (r->status >= 300 && r->status < 400 && r->location) {
        bool external;
        lb_status st = resolve_location(req_url, r->location, file, &m->location, &external, err);
        if (st) return st;
        m->follow = !external;
        if (m->follow) return LB_OK;
    }
    lb_status st = LB_OK;
    const char *raw_etag = r->linked_etag ? r->linked_etag : r->etag;
    if (!raw_etag) {
        st = lb_err(err, LB_ERR_NETWORK, "%s: the server sent no ETag for %s, so the file cannot be cached safely",
                    file, printable(req_url, pb, sizeof pb));
        goto fail;
    }
    /* W/"abc" or "abc" -> abc */
    const char *e = raw_etag;
    if (!strncmp(e, "W/", 2)) e += 2;
    size_t el = strlen(e);
    if (el >= 2 && e[0] == '"' && e[el - 1] == '"') {
        e++;
        el -= 2;
    }
    if (el >= sizeof m->etag) el = sizeof m->etag - 1;
    memcpy(m->etag, e, el);
    m->etag[el] = '\0';
    if (!safe_etag(m->etag)) {
        char pb2[256];
        st = lb_err(err, LB_ERR_NETWORK, "%s: unusable ETag '%s' from %s", file, printable(m->etag, pb2, sizeof pb2),
                    printable(req_url, pb, sizeof pb));
        goto fail;
    }
    long long size = r->linked_size != -1 ? r->linked_size : r->content_length;
    if (size == -2) {
        st = lb_err(err, LB_ERR_NETWORK, "%s: malformed %s header from %s (not a plain byte count)", file,
                    r->linked_size != -1 ? "X-Linked-Size" : "Content-Length", printable(req_url, pb, sizeof pb));
        goto fail;
    }
    m->size = size;
    return LB_OK;
fail:
    free(m->location);
    m->location = NULL;
    return st;
}

void lb_hub_file_meta_free(lb_hub_file_meta *m) {
    if (!m) return;
    free(m->location);
    m->location = NULL;
}

lb_status lb_hub_parse_head_answer(const char *raw, size_t len, const char *request_url, lb_hub_file_meta *out,
                                   lb_error *err) {
    memset(out, 0, sizeof *out);
    out->size = out->range_start = out->range_end = out->range_total = -1;
    http_resp r = {0};
    r.content_length = r.linked_size = -1;
    /* one header line at a time, as libcurl hands them to on_header */
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(raw + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (raw + i)) + 1 : len - i;
        char *line = malloc(n + 1);
        if (!line) {
            resp_free(&r);
            return lb_err(err, LB_ERR_NOMEM, "out of memory");
        }
        memcpy(line, raw + i, n);
        line[n] = '\0';
        on_header(line, 1, n, &r);
        free(line);
        i += n;
    }
    lb_status st;
    if (r.status < 200 || r.status >= 400) {
        st = lb_err(err, LB_ERR_NETWORK, "HTTP %ld from %s", r.status, request_url);
    } else {
        st = head_meta(&r, request_url, "file", out, err);
        if (!st && !parse_content_range(r.content_range, &out->range_start, &out->range_end, &out->range_total))
            out->range_start = out->range_end = out->range_total = -1;
    }
    resp_free(&r);
    return st;
}

lb_status lb_hub_parse_revision_info(const char *body, size_t len, const char *what, const char *url,
                                     lb_hub_revision_info *out, lb_error *err) {
    memset(out, 0, sizeof *out);
    char pb[256];
    if (len > HUB_MAX_API_BYTES)
        return lb_err(err, LB_ERR_NETWORK, "%s: the answer of %s is larger than the %d MiB cap on API answers", what,
                      url, (int)(HUB_MAX_API_BYTES >> 20));
    cJSON *json = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *jsha = cJSON_GetObjectItemCaseSensitive(json, "sha");
    const cJSON *sibs = cJSON_GetObjectItemCaseSensitive(json, "siblings");
    lb_status st = LB_OK;
    if (!cJSON_IsString(jsha) || !is_hex(jsha->valuestring, 40) || !cJSON_IsArray(sibs)) {
        st = lb_err(err, LB_ERR_NETWORK, "%s: unexpected answer from %s: expected JSON with \"sha\" and \"siblings\"",
                    what, url);
        goto done;
    }
    /* Check every name before anything is written. */
    int n = cJSON_GetArraySize(sibs);
    out->files = calloc((size_t)n + 1, sizeof *out->files);
    if (!out->files) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto done;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, sibs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "rfilename");
        if (!cJSON_IsString(name) || !safe_rel_path(name->valuestring)) {
            st = lb_err(err, LB_ERR_NETWORK, "%s: refusing file name '%s' from %s (it would leave the snapshot)", what,
                        cJSON_IsString(name) ? printable(name->valuestring, pb, sizeof pb) : "(not a string)", url);
            goto done;
        }
        if (out->n_files >= (size_t)n) break;
        if (!(out->files[out->n_files] = strdup(name->valuestring))) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            goto done;
        }
        out->n_files++;
    }
    memcpy(out->sha, jsha->valuestring, 41);
done:
    cJSON_Delete(json);
    if (st) lb_hub_revision_info_free(out);
    return st;
}

void lb_hub_revision_info_free(lb_hub_revision_info *info) {
    if (!info) return;
    for (size_t i = 0; i < info->n_files; i++) free(info->files[i]);
    free(info->files);
    info->files = NULL;
    info->n_files = 0;
}

/* Makes snapshots/<sha>/<file> present (HEAD for the etag, then download the blob if new). */
static lb_status fetch_file(const hub *h, const char *sha, const char *file, lb_error *err) {
    char *pointer = xasprintf("%s/snapshots/%s/%s", h->storage, sha, file);
    if (!pointer) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (lb_file_exists(pointer)) {
        free(pointer);
        return LB_OK;
    }

    char *qfile = url_quote(file, "/");
    char *url = qfile ? xasprintf("%s%s/%s/resolve/%s/%s", h->endpoint, strcmp(h->kind, "dataset") ? "" : "/datasets",
                                  h->repo_q, sha, qfile)
                      : NULL;
    free(qfile);
    char *blob = NULL, *lock = NULL, *dl_url = NULL;
    lb_status st = LB_OK;
    http_resp r = {0};
    if (!url) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto done;
    }

    /* HEAD without following redirects: an absolute redirect is the CDN copy (download from
     * there); a relative one is a renamed repo (follow it), as huggingface_hub does. */
    char cmsg[CURL_ERROR_SIZE];
    char *head_url = strdup(url);
    lb_hub_file_meta m;
    memset(&m, 0, sizeof m);
    for (int hop = 0;; hop++) {
        resp_free(&r);
        if (!head_url) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            goto done;
        }
        CURLcode rc = http_do(h, head_url, "HEAD", false, true, &r, cmsg);
        if (rc != CURLE_OK || r.status >= 400 || r.status < 200) {
            st = http_fail(h, file, head_url, rc, &r, cmsg, err);
            free(head_url);
            goto done;
        }
        if ((st = head_meta(&r, head_url, file, &m, err))) {
            free(head_url);
            goto done;
        }
        if (!m.follow) break;
        free(head_url);
        head_url = m.location;
        m.location = NULL;
        if (hop + 1 >= HUB_MAX_HOPS) {
            char pb[256];
            st = lb_err(err, LB_ERR_NETWORK, "%s: more than %d redirects on the hub (last to %s)", file, HUB_MAX_HOPS,
                        head_url ? printable(head_url, pb, sizeof pb) : "?");
            free(head_url);
            goto done;
        }
    }
    const char *etag = m.etag;
    long long size = m.size;
    bool redirected = m.location != NULL;
    if (redirected) {
        dl_url = m.location;
        free(head_url);
    } else dl_url = head_url;
    m.location = NULL;

    blob = xasprintf("%s/blobs/%s", h->storage, etag);
    lock = xasprintf("%s/blobs/%s.lock", h->storage, etag);
    if (!blob || !lock) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = mkdir_parent(blob, err))) goto done;
    if (!lb_file_exists(blob)) {
        /* Same lock file as huggingface_hub (filelock = flock), so concurrent downloaders of one
         * blob take turns instead of writing the same .incomplete. */
        int lfd = open(lock, O_RDWR | O_CREAT, 0644);
        if (lfd >= 0) (void)flock(lfd, LOCK_EX);
        if (!lb_file_exists(blob)) /* Credentials go only to the hub itself, not to the CDN it redirects to. */
            st = download_blob(h, dl_url, !redirected, blob, etag, size, file, err);
        if (lfd >= 0) {
            unlink(lock);
            close(lfd);
        }
        if (st) goto done;
    }
    st = link_pointer(pointer, file, etag, err);
done:
    resp_free(&r);
    free(pointer);
    free(url);
    free(blob);
    free(lock);
    free(dl_url);
    return st;
}

/* fnmatch as Python's fnmatch: '*' crosses '/'; a pattern "dir/" matches everything below dir. */
static bool include_match(const char *const *include, const char *file) {
    if (!include) return true;
    for (const char *const *p = include; *p; p++) {
        size_t n = strlen(*p);
        if (n && (*p)[n - 1] == '/') {
            char *pat = xasprintf("%s*", *p);
            bool ok = pat && fnmatch(pat, file, 0) == 0;
            free(pat);
            if (ok) return true;
        } else if (fnmatch(*p, file, 0) == 0) {
            return true;
        }
    }
    return false;
}

static lb_status resolve_online(hub *h, const char *revision, const char *const *include, char **out_dir,
                                lb_error *err) {
    /* the revision is one path component: "refs/pr/1" -> "refs%2Fpr%2F1" (quote(revision, safe="")) */
    char *qrev = url_quote(revision, "");
    char *api = qrev ? xasprintf("%s/api/%ss/%s/revision/%s", h->endpoint, h->kind, h->repo_q, qrev) : NULL;
    free(qrev);
    if (!api) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    char what[512];
    snprintf(what, sizeof what, "%s %s", h->kind, h->repo);
    http_resp r = {0};
    char cmsg[CURL_ERROR_SIZE];
    CURLcode rc = http_do(h, api, "GET", true, true, &r, cmsg);
    lb_status st = LB_OK;
    lb_hub_revision_info info = {0};
    char *snap = NULL;
    if (rc != CURLE_OK && r.status == 0 && curl_is_connection_error(rc)) {
        /* Hub unreachable: a cached snapshot still does the job (as huggingface_hub does). */
        lb_error e2;
        if (cached_snapshot(h, revision, LB_ERR_NETWORK, "", out_dir, &e2) == LB_OK) goto done;
    }
    if (rc != CURLE_OK || r.status != 200) {
        st = http_fail(h, what, api, rc, &r, cmsg, err);
        goto done;
    }
    if ((st = lb_hub_parse_revision_info(r.body, r.body_len, what, api, &info, err))) goto done;
    const char *sha = info.sha;
    snap = xasprintf("%s/snapshots/%s", h->storage, sha);
    if (!snap) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (strcmp(revision, sha)) {
        char *ref = xasprintf("%s/refs/%s", h->storage, revision);
        if (!ref) {
            st = lb_err(err, LB_ERR_NOMEM, "out of memory");
            goto done;
        }
        st = mkdir_parent(ref, err);
        if (!st) st = lb_write_file_atomic(ref, sha, strlen(sha), err);
        free(ref);
        if (st) goto done;
    }
    for (size_t i = 0; i < info.n_files; i++) {
        const char *name = info.files[i];
        if (!include_match(include, name)) continue;
        if ((st = fetch_file(h, sha, name, err))) {
            lb_err_prefix(err, "%s", what);
            goto done;
        }
    }
    /* Exists even when no file matched, so the caller gets a real directory. */
    if ((st = lb_mkdir_p(snap, err))) goto done;
    *out_dir = snap;
    snap = NULL;
done:
    lb_hub_revision_info_free(&info);
    resp_free(&r);
    free(api);
    free(snap);
    return st;
}

/* A token goes into an HTTP header: huggingface_hub strips it (the newline of the file
 * `huggingface-cli login` writes, spaces); what is left must be visible ASCII (0x21-0x7e), since
 * a CR or LF would start a header of someone else's choosing. *out: the stripped copy. */
static lb_status take_token(const char *v, size_t n, const char *source, char **out, lb_error *err) {
    size_t a = 0;
    while (a < n && isspace((unsigned char)v[a])) a++;
    while (n > a && isspace((unsigned char)v[n - 1])) n--;
    for (size_t i = a; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x21 || c > 0x7e)
            return lb_err(err, LB_ERR_USAGE,
                          "%s: byte 0x%02x at position %zu is not allowed in a token (visible ASCII only: no space, "
                          "line break, control or non-ASCII character); the token was not sent",
                          source, c, i + 1);
    }
    if (n == a) return LB_OK; /* empty: no token, as huggingface_hub */
    *out = malloc(n - a + 1);
    if (!*out) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    memcpy(*out, v + a, n - a);
    (*out)[n - a] = '\0';
    return LB_OK;
}

/* HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the file of `huggingface-cli login` ($HF_TOKEN_PATH, else
 * $HF_HOME/token); *out NULL when there is none. */
static lb_status read_token(char **out, lb_error *err) {
    *out = NULL;
    const char *v;
    if ((v = env_nonempty("HF_TOKEN"))) return take_token(v, strlen(v), "HF_TOKEN", out, err);
    if ((v = env_nonempty("HUGGING_FACE_HUB_TOKEN")))
        return take_token(v, strlen(v), "HUGGING_FACE_HUB_TOKEN", out, err);
    char *path = NULL;
    if ((v = env_nonempty("HF_TOKEN_PATH"))) path = strdup(v);
    else if ((v = env_nonempty("HF_HOME"))) path = lb_path_join(v, "token");
    else if ((v = env_nonempty("XDG_CACHE_HOME"))) path = xasprintf("%s/huggingface/token", v);
    else if ((v = env_nonempty("HOME"))) path = xasprintf("%s/.cache/huggingface/token", v);
    else return LB_OK;
    if (!path) return lb_err(err, LB_ERR_NOMEM, "out of memory");
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        free(path);
        return LB_OK;
    }
    char *data = NULL;
    size_t n = 0;
    lb_status st = lb_read_file_max(path, LB_MAX_SMALL_BYTES, "hub ref or token file", &data, &n, err);
    if (!st) st = take_token(data, n, path, out, err);
    free(data);
    free(path);
    return st;
}

lb_status lb_hub_resolve(const char *id_or_path, const char *kind, const char *revision, const char *const *include,
                         char **out_dir, lb_error *err) {
    *out_dir = NULL;
    if (!id_or_path || !*id_or_path) return lb_err(err, LB_ERR_USAGE, "empty model/dataset name");
    if (!kind || (strcmp(kind, "model") && strcmp(kind, "dataset")))
        return lb_err(err, LB_ERR_USAGE, "hub kind must be \"model\" or \"dataset\", got \"%s\"",
                      kind ? kind : "(null)");
    if (lb_dir_exists(id_or_path)) {
        *out_dir = strdup(id_or_path);
        return *out_dir ? LB_OK : lb_err(err, LB_ERR_NOMEM, "out of memory");
    }
    struct stat sb;
    if (stat(id_or_path, &sb) == 0)
        return lb_err(err, LB_ERR_USAGE, "%s: is a file; expected a %s directory or a hub repo id", id_or_path, kind);
    if (!lb_hub_looks_like_repo_id(id_or_path))
        return lb_err(err, LB_ERR_IO, "%s: no such directory (and not a hub repo id like 'org/name')", id_or_path);
    return lb_hub_resolve_repo(id_or_path, kind, revision, include, out_dir, err);
}

lb_status lb_hub_resolve_repo(const char *repo_id, const char *kind, const char *revision, const char *const *include,
                              char **out_dir, lb_error *err) {
    const char *id_or_path = repo_id;
    *out_dir = NULL;
    if (!kind || (strcmp(kind, "model") && strcmp(kind, "dataset")))
        return lb_err(err, LB_ERR_USAGE, "hub kind must be \"model\" or \"dataset\", got \"%s\"",
                      kind ? kind : "(null)");
    lb_status st = lb_hub_check_repo_id(repo_id, err);
    if (st) return st;
    if (!revision || !*revision) revision = "main";
    if (!safe_revision(revision)) {
        char pb[256];
        return lb_err(err, LB_ERR_USAGE,
                      "invalid revision '%s': a branch, tag or commit is a relative path with no empty, '.' or '..' "
                      "part, no '\\' and no control character",
                      printable(revision, pb, sizeof pb));
    }

    hub h = {0};
    h.kind = kind;
    h.repo = id_or_path;
    h.repo_q = url_quote(id_or_path, "/");
    h.revision = revision;
    const char *ep = env_nonempty("HF_ENDPOINT");
    h.endpoint = strdup(ep ? ep : HUB_DEFAULT_ENDPOINT);
    char *cache = lb_hub_cache_dir();
    char *folder = lb_hub_repo_folder_name(id_or_path, kind);
    h.storage = cache && folder ? lb_path_join(cache, folder) : NULL;
    free(cache);
    free(folder);
    if (!h.endpoint || !h.storage || !h.repo_q) {
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t el = strlen(h.endpoint);
    while (el > 0 && h.endpoint[el - 1] == '/') h.endpoint[--el] = '\0';
    h.progress = g_progress != NULL;

    if (env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE")) {
        st = cached_snapshot(&h, revision, LB_ERR_IO, "HF_HUB_OFFLINE is set", out_dir, err);
        goto done;
    }
    /* Only http(s) endpoints: HF_ENDPOINT=gopher://... or file://... is refused before any request. */
    if ((st = check_http_url(h.endpoint, "HF_ENDPOINT", LB_ERR_UNSUPPORTED, err))) goto done;
    if ((st = read_token(&h.token, err))) goto done;
    if ((st = lb_mkdir_p(h.storage, err))) goto done;
    st = resolve_online(&h, revision, include, out_dir, err);
done:
    free(h.endpoint);
    free(h.repo_q);
    free(h.token);
    free(h.storage);
    return st;
}
