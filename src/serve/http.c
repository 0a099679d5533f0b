/* http.c: the HTTP side of mlexp serve on libmicrohttpd: a pool of threads
 * reads requests and their bodies (bounded by --max-body, multipart uploads
 * unpacked), serves files from web/, build/wasm/, examples/ and the model
 * directories without ever leaving them, and hands /api/ to api.c. Every
 * answer carries the cross-origin isolation headers threaded WebAssembly
 * needs. */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct srv_daemon {
    struct MHD_Daemon *d;
    srv *s;
    MHD_socket fd; /* the listening socket once quiesced, ours to close */
};

/* One request: what was read of its body. */
typedef struct request {
    double t0;
    char *body;      /* the body (JSON, an image), or the file part of a multipart upload */
    size_t len, cap;
    size_t received; /* body bytes seen, kept or not */
    int too_large, multipart, bad_multipart;
    int answered;    /* a response is queued (413 before the body) */
    struct MHD_PostProcessor *pp;
    char *file_key;  /* the multipart field whose file is kept */
} request;

/* ---- answers ---- */

static const struct {
    const char *ext, *type;
} g_types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".wasm", "application/wasm"}, {".json", "application/json"}, {".bin", "application/octet-stream"},
    {".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".svg", "image/svg+xml"},
    {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
};

static const char *content_type(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++) {
        size_t k = strlen(g_types[i].ext);
        if (n >= k && !strcasecmp(path + n - k, g_types[i].ext)) return g_types[i].type;
    }
    return "application/octet-stream";
}

static enum MHD_Result answer(srv *s, struct MHD_Connection *c, const char *method, const char *url, request *rq,
                            int status, struct MHD_Response *resp, const char *type, const char *allow) {
    if (!resp) return MHD_NO;
    rq->answered = 1;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* cross-origin isolation, for SharedArrayBuffer in the pages */
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Embedder-Policy", "require-corp");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache"); /* models change under a running server */
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    /* shutting down, or a body left unread: this connection ends here */
    if (atomic_load(&s->stopping) || rq->too_large) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result r = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (s->log) fprintf(stderr, "%s %s %d %.1f ms\n", method, url, status, 1e3 * (mx_now() - rq->t0));
    return r;
}

static enum MHD_Result send_json(srv *s, struct MHD_Connection *c, const char *method, const char *url, request *rq,
                                 int status, json_t *j, const char *allow) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    if (!text) {
        status = 500;
        text = strdup("{\"error\": \"out of memory\"}");
        if (!text) return MHD_NO;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) free(text);
    return answer(s, c, method, url, rq, status, resp, "application/json", allow);
}

#define SEND_ERROR(status, ...) send_json(s, c, method, url, rq, status, srv_error_json(__VA_ARGS__), NULL)

/* ---- files ---- */

/* Refuse what could leave the folder before touching the file system: ".."
 * and "." segments, empty ones (an absolute path after a prefix). A
 * trailing "/" stands for the folder's index.html. */
static int rel_ok(const char *rel) {
    if (rel[0] == '/') return 0;
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 0 && e) || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        if (!e) break;
        p = e + 1;
    }
    return 1;
}

static enum MHD_Result send_file(srv *s, struct MHD_Connection *c, const char *method, const char *url, request *rq,
                                 const char *root, const char *rel) {
    if (!root) return SEND_ERROR(404, "no file %.200s: the folder it would come from is missing here", url);
    if (!rel_ok(rel)) return SEND_ERROR(400, "refused path %.200s: no '.', '..' or empty segments", url);
    char path[PATH_MAX + 32], real[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof path - 16) return SEND_ERROR(404, "path too long");
    struct stat st;
    if (!rel[0] || rel[strlen(rel) - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        snprintf(path + n, sizeof path - (size_t)n, "%sindex.html", rel[0] && rel[strlen(rel) - 1] != '/' ? "/" : "");
    /* symlinks may point anywhere: the resolved file must still be inside root */
    size_t rn = strlen(root);
    if (!realpath(path, real)) return SEND_ERROR(404, "no file %.200s", url);
    if (strncmp(real, root, rn) || real[rn] != '/') return SEND_ERROR(404, "no file %.200s (it leads outside its folder)", url);
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SEND_ERROR(404, "no file %.200s (%s)", url, strerror(errno));
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return SEND_ERROR(404, "no file %.200s", url);
    }
    /* libmicrohttpd sends it (sendfile) and closes fd */
    struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (!resp) close(fd);
    return answer(s, c, method, url, rq, 200, resp, content_type(path), NULL);
}

/* ---- requests ---- */

static const char *query_arg(void *ctx, const char *name) {
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result route(srv *s, struct MHD_Connection *c, const char *method, const char *url, request *rq) {
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return SEND_ERROR(400, "refused path: NUL or control characters");
    if (url[0] != '/') return SEND_ERROR(400, "the path must start with /");
    if (!strcmp(url, "/api") || !strncmp(url, "/api/", 5)) {
        if (rq->too_large)
            return SEND_ERROR(413, "the body is larger than the limit of %zu bytes (--max-body)", s->max_body);
        if (rq->bad_multipart) return SEND_ERROR(400, "malformed multipart/form-data body");
        const char *allow = NULL;
        json_t *out = NULL;
        srv_request r = {method, url, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                         rq->body ? rq->body : "", rq->len, rq->multipart, query_arg, c};
        int status = srv_api(s, &r, &out, &allow);
        return send_json(s, c, method, url, rq, status, out, allow);
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_json(s, c, method, url, rq, 405,
                         srv_error_json("%s is not allowed on %.200s (allowed: GET, HEAD)", method, url), "GET, HEAD");
    if (!strncmp(url, "/wasm/", 6)) return send_file(s, c, method, url, rq, s->wasm_root, url + 6);
    if (!strncmp(url, "/examples/", 10)) return send_file(s, c, method, url, rq, s->examples_root, url + 10);
    if (!strncmp(url, "/models/", 8)) {
        const char *name = url + 8, *slash = strchr(name, '/');
        srv_model *sm = slash ? srv_model_find(s, name, (size_t)(slash - name)) : NULL;
        if (!sm) return SEND_ERROR(404, "no model directory for %.200s", url);
        return send_file(s, c, method, url, rq, sm->dir, slash + 1);
    }
    return send_file(s, c, method, url, rq, s->web_root, url + 1);
}

static int append(request *rq, const char *data, size_t n) {
    if (rq->len + n > rq->cap) {
        size_t cap = MX_MAX(rq->cap * 2, rq->len + n + 1);
        char *b = realloc(rq->body, cap);
        if (!b) return -1;
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    return 0;
}

/* The first multipart field with a file name is the upload; the others are ignored. */
static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *type, const char *encoding, const char *data, uint64_t off, size_t size) {
    request *rq = cls;
    MX_UNUSED(kind), MX_UNUSED(type), MX_UNUSED(encoding);
    if (!rq->file_key && filename && key) rq->file_key = strdup(key);
    if (!rq->file_key || !key || strcmp(key, rq->file_key) || off != rq->len) return MHD_YES;
    return append(rq, data, size) ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **state) {
    srv *s = cls;
    request *rq = *state;
    MX_UNUSED(version);
    if (!rq) { /* the headers are in; the body (if any) comes in the next calls */
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        *state = rq;
        rq->t0 = mx_now();
        atomic_fetch_add(&s->in_flight, 1);
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (len && strtoull(len, NULL, 10) > s->max_body) { /* refused before reading a byte of it */
            rq->too_large = 1;
            return SEND_ERROR(413, "the body is larger than the limit of %zu bytes (--max-body)", s->max_body);
        }
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (type && !strncasecmp(type, "multipart/form-data", 19)) {
            rq->multipart = 1;
            if (!(rq->pp = MHD_create_post_processor(c, 64 * 1024, on_part, rq))) rq->bad_multipart = 1;
        }
        return MHD_YES;
    }
    if (*size) {
        rq->received += *size;
        if (rq->received > 4 * s->max_body) return MHD_NO; /* it goes on and on: hang up */
        if (rq->received > s->max_body) /* no Content-Length (chunked): read on to answer 413, drop it */
            rq->too_large = 1;
        else if (rq->pp && !rq->bad_multipart)
            rq->bad_multipart = MHD_post_process(rq->pp, data, *size) != MHD_YES;
        else if (!rq->multipart && append(rq, data, *size))
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    if (rq->answered) return MHD_YES;
    if (rq->pp) {
        rq->bad_multipart |= MHD_destroy_post_processor(rq->pp) != MHD_YES;
        rq->pp = NULL;
    }
    return route(s, c, method, url, rq);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why) {
    srv *s = cls;
    request *rq = *state;
    MX_UNUSED(c), MX_UNUSED(why);
    if (!rq) return;
    if (rq->pp) MHD_destroy_post_processor(rq->pp);
    free(rq->body);
    free(rq->file_key);
    free(rq);
    *state = NULL;
    atomic_fetch_add(&s->served, 1);
    atomic_fetch_sub(&s->in_flight, 1);
}

/* %XX decoding in place, as libmicrohttpd's own, except that a decoded NUL
 * becomes a control character the router refuses: a NUL would cut the path
 * short ("/secret%00.png") instead of being refused. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *str) {
    MX_UNUSED(cls), MX_UNUSED(c);
    char *w = str;
    for (const char *r = str; *r;) {
        unsigned v;
        char hex[3] = {r[0] == '%' && r[1] ? r[1] : 0, r[0] == '%' && r[1] ? r[2] : 0, 0};
        if (hex[0] && hex[1] && strspn(hex, "0123456789abcdefABCDEF") == 2 && sscanf(hex, "%2x", &v) == 1) {
            *w++ = v ? (char)v : '\x01';
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - str);
}

static void on_log(void *cls, const char *fmt, va_list ap) {
    srv *s = cls;
    if (!s->log) return; /* clients that hang up mid-answer are routine */
    fprintf(stderr, "libmicrohttpd: ");
    vfprintf(stderr, fmt, ap);
}

srv_daemon *srv_start(srv *s, int fd, int threads) {
    srv_daemon *d = calloc(1, sizeof *d);
    if (!d) return mx_failp("out of memory");
    d->s = s;
    d->fd = MHD_INVALID_SOCKET;
    d->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request,
                            s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
                            NULL, MHD_OPTION_END);
    if (!d->d) {
        free(d);
        return mx_failp("libmicrohttpd did not start");
    }
    return d;
}

void srv_quiesce(srv_daemon *d) {
    atomic_store(&d->s->stopping, 1);
    d->fd = MHD_quiesce_daemon(d->d);
}

void srv_stop(srv_daemon *d) {
    MHD_stop_daemon(d->d);
    if (d->fd != MHD_INVALID_SOCKET) close(d->fd);
    free(d);
}
