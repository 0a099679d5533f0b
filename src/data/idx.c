/* idx.c: IDX files (MNIST, Fashion-MNIST), gzipped or plain: zlib's gzread
 * reads both. Header: magic 0x0000TTDD (TT = 0x08 unsigned byte, DD = number
 * of dimensions), then DD big-endian uint32 sizes, then the bytes. */
#include "data/data.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
/* Caps so a corrupt header cannot ask for unbounded memory: the images of
 * MNIST are 47 MB; these allow ~20x that. */
#define IDX_MAX_SIDE 4096
#define IDX_MAX_BYTES ((int64_t)1 << 30)
#define IDX_READ_CHUNK ((int64_t)64 << 20) /* first allocation: all of MNIST */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static gzFile open_idx(const char *path) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) return mx_failp("%s: cannot open (%s)", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    return f;
}

/* Up to len bytes into buf; returns bytes read or -1 on a read error. */
static int64_t read_some(gzFile f, const char *path, void *buf, int64_t len) {
    int64_t got = 0;
    while (got < len) {
        int r = gzread(f, (char *)buf + got, (unsigned)MX_MIN(len - got, (int64_t)1 << 30));
        if (r < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            return mx_fail("%s: read error (%s)", path, code == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

/* Magic and the `ndims` sizes; `what` is "images" or "labels". */
static int read_header(gzFile f, const char *path, int ndims, const char *what, uint32_t *dims) {
    unsigned char h[4 + 4 * 3];
    int64_t want = 4 + 4 * (int64_t)ndims;
    int64_t got = read_some(f, path, h, want);
    if (got < 0) return -1;
    uint32_t magic = got >= 4 ? be32(h) : 0, expected = (uint32_t)IDX_UBYTE << 8 | (uint32_t)ndims;
    if (got >= 4 && magic != expected) { /* a wrong file says more than a short one */
        if ((magic >> 16) != 0) return mx_fail("%s: not an IDX file (magic 0x%08x)", path, magic);
        if (((magic >> 8) & 0xff) != IDX_UBYTE)
            return mx_fail("%s: IDX element type 0x%02x is not unsigned byte (0x08)", path, (magic >> 8) & 0xff);
        return mx_fail("%s: IDX magic 0x%08x has %u dimensions; %s need 0x%08x", path, magic, magic & 0xff, what,
                       expected);
    }
    if (got < want)
        return mx_fail("%s: truncated IDX header: expected %lld bytes, found %lld", path, (long long)want,
                       (long long)got);
    for (int i = 0; i < ndims; i++) dims[i] = be32(h + 4 + 4 * i);
    return 0;
}

/* Exactly `len` payload bytes after a header of `hdr` bytes, `desc` saying
 * what they hold. Memory grows with what the file really holds, so a header
 * that overstates the size fails on truncation without a large allocation. */
static unsigned char *read_payload(gzFile f, const char *path, int64_t hdr, int64_t len, const char *desc) {
    int64_t cap = MX_MIN(len, IDX_READ_CHUNK), have = 0;
    unsigned char *buf = mx_alloc((size_t)cap); /* (cap) bytes, grows to (len) */
    if (!buf) return NULL;
    while (have < len) {
        if (have == cap) {
            int64_t ncap = MX_MIN(len, cap * 2);
            unsigned char *nb = mx_alloc((size_t)ncap);
            if (!nb) {
                mx_free(buf);
                return NULL;
            }
            memcpy(nb, buf, (size_t)have);
            mx_free(buf);
            buf = nb;
            cap = ncap;
        }
        int64_t r = read_some(f, path, buf + have, cap - have);
        if (r < 0) {
            mx_free(buf);
            return NULL;
        }
        if (r == 0) break;
        have += r;
    }
    unsigned char extra;
    int64_t more = have == len ? read_some(f, path, &extra, 1) : 0;
    if (have < len || more != 0) {
        mx_free(buf);
        if (more < 0) return NULL;
        if (have < len)
            return mx_failp("%s: truncated: expected %lld bytes (%s), found %lld", path, (long long)(hdr + len), desc,
                            (long long)(hdr + have));
        return mx_failp("%s: unexpected data after the %lld bytes of %s", path, (long long)(hdr + len), desc);
    }
    return buf;
}

static unsigned char *load_images(const char *path, uint32_t *n, uint32_t *rows, uint32_t *cols) {
    gzFile f = open_idx(path);
    if (!f) return NULL;
    uint32_t d[3] = {0};
    unsigned char *px = NULL;
    if (read_header(f, path, 3, "images", d) == 0) {
        char desc[128];
        snprintf(desc, sizeof desc, "%u images of %ux%u", d[0], d[1], d[2]);
        if (d[0] == 0 || d[1] == 0 || d[2] == 0 || d[1] > IDX_MAX_SIDE || d[2] > IDX_MAX_SIDE ||
            (int64_t)d[1] * d[2] > IDX_MAX_BYTES / d[0])
            mx_fail("%s: implausible IDX header: %s (limits: sides 1..%d, %lld bytes)", path, desc, IDX_MAX_SIDE,
                    (long long)IDX_MAX_BYTES);
        else
            px = read_payload(f, path, 16, (int64_t)d[0] * d[1] * d[2], desc);
    }
    gzclose(f);
    *n = d[0], *rows = d[1], *cols = d[2];
    return px;
}

static unsigned char *load_labels(const char *path, uint32_t *n) {
    gzFile f = open_idx(path);
    if (!f) return NULL;
    uint32_t d[1] = {0};
    unsigned char *lab = NULL;
    if (read_header(f, path, 1, "labels", d) == 0) {
        char desc[64];
        snprintf(desc, sizeof desc, "%u labels", d[0]);
        if (d[0] == 0 || d[0] > IDX_MAX_BYTES)
            mx_fail("%s: implausible IDX header: %s (limit %lld)", path, desc, (long long)IDX_MAX_BYTES);
        else
            lab = read_payload(f, path, 8, d[0], desc);
    }
    gzclose(f);
    *n = d[0];
    return lab;
}

mx_dataset *mx_idx_load(const char *images_path, const char *labels_path) {
    uint32_t n = 0, rows = 0, cols = 0, n_labels = 0;
    unsigned char *px = load_images(images_path, &n, &rows, &cols); /* (n, rows, cols) */
    if (!px) return NULL;
    unsigned char *lab = load_labels(labels_path, &n_labels); /* (n) */
    if (!lab) {
        mx_free(px);
        return NULL;
    }
    mx_dataset *d = NULL;
    if (n_labels != n) {
        mx_fail("%s has %u images but %s has %u labels", images_path, n, labels_path, n_labels);
    } else if ((d = mx_dataset_new(n, 3, (const int64_t[]){rows, cols, 1}, 1))) {
        int64_t total = (int64_t)n * rows * cols;
        for (int64_t i = 0; i < total; i++) d->x[i] = (float)px[i];
        int max = 0;
        for (uint32_t i = 0; i < n; i++) {
            d->y[i] = lab[i];
            max = MX_MAX(max, (int)lab[i]);
        }
        d->n_classes = max + 1; /* a byte: at most 256 classes */
    }
    mx_free(px);
    mx_free(lab);
    return d;
}
