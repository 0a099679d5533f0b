/* npy.c: numpy .npy files. Loading accepts format versions 1.0-3.0 and the
 * common little-endian numeric dtypes, converted to float32; saving writes
 * version 1.0 float32 C-order, as np.save does for a float32 array.
 *
 * Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.x,
 * uint32 LE for 2.x/3.x), a Python dict literal such as
 * "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" padded with
 * spaces and '\n' to a multiple of 64 bytes, then the raw data. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* numpy itself refuses headers above 10,000 bytes by default */
#define NPY_MAX_HEADER ((uint32_t)1 << 20)

typedef enum npy_kind { NPY_F4, NPY_F8, NPY_U1, NPY_I4, NPY_I8, NPY_B1 } npy_kind;

typedef struct npy_dtype {
    const char *descr;
    npy_kind kind;
    int size;
} npy_dtype;

/* '<' little-endian; '|' not applicable (one byte) */
static const npy_dtype g_dtypes[] = {
    {"<f4", NPY_F4, 4}, {"<f8", NPY_F8, 8}, {"|u1", NPY_U1, 1}, {"<u1", NPY_U1, 1},
    {"<i4", NPY_I4, 4}, {"<i8", NPY_I8, 8}, {"|b1", NPY_B1, 1}, {"<b1", NPY_B1, 1},
};

typedef struct npy_header {
    const npy_dtype *dtype;
    int fortran;
    int rank;
    int64_t shape[MX_MAX_RANK];
} npy_header;

static uint64_t le_read(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void le_write32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- header dict parser: just enough of Python literal syntax ---- */

typedef struct cursor {
    const char *p, *end;
    const char *path;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static int expect(cursor *c, char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return mx_fail("%s: malformed .npy header: expected '%c'", c->path, ch);
    c->p++;
    return 0;
}

/* A quoted string into buf (no escapes: keys and dtype codes have none). */
static int parse_string(cursor *c, char *buf, size_t n) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return mx_fail("%s: malformed .npy header: expected a quoted string", c->path);
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (k + 1 >= n) return mx_fail("%s: malformed .npy header: string too long", c->path);
        buf[k++] = *c->p++;
    }
    if (c->p >= c->end) return mx_fail("%s: malformed .npy header: unterminated string", c->path);
    c->p++;
    buf[k] = 0;
    return 0;
}

static int parse_bool(cursor *c, int *out) {
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && !memcmp(c->p, "True", 4)) {
        c->p += 4;
        *out = 1;
    } else if (left >= 5 && !memcmp(c->p, "False", 5)) {
        c->p += 5;
        *out = 0;
    } else {
        return mx_fail("%s: malformed .npy header: fortran_order must be True or False", c->path);
    }
    return 0;
}

/* "(d0, d1, ...)" with an optional trailing comma; "()" is a scalar. */
static int parse_shape(cursor *c, npy_header *h) {
    if (expect(c, '(')) return -1;
    h->rank = 0;
    for (;;) {
        skip_ws(c);
        if (c->p < c->end && *c->p == ')') break;
        if (c->p >= c->end || !isdigit((unsigned char)*c->p))
            return mx_fail("%s: malformed .npy header: bad shape", c->path);
        int64_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            int d = *c->p++ - '0';
            if (v > (INT64_MAX - d) / 10) return mx_fail("%s: .npy shape dimension is too large", c->path);
            v = v * 10 + d;
        }
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 long literal */
        if (h->rank == MX_MAX_RANK)
            return mx_fail("%s: .npy array has more than %d dimensions", c->path, MX_MAX_RANK);
        h->shape[h->rank++] = v;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') c->p++;
        else if (c->p < c->end && *c->p == ')') break;
        else return mx_fail("%s: malformed .npy header: bad shape", c->path);
    }
    c->p++;
    return 0;
}

static int parse_header(const char *text, size_t len, const char *path, npy_header *h) {
    cursor c = {text, text + len, path};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    if (expect(&c, '{')) return -1;
    for (;;) {
        skip_ws(&c);
        if (c.p < c.end && *c.p == '}') break;
        char key[32], descr[32];
        if (parse_string(&c, key, sizeof key) || expect(&c, ':')) return -1;
        if (!strcmp(key, "descr")) {
            if (parse_string(&c, descr, sizeof descr)) return -1;
            h->dtype = NULL;
            for (size_t i = 0; i < sizeof g_dtypes / sizeof g_dtypes[0]; i++)
                if (!strcmp(descr, g_dtypes[i].descr)) h->dtype = &g_dtypes[i];
            if (!h->dtype)
                return mx_fail("%s: unsupported .npy dtype '%s' (supported: <f4, <f8, |u1, <i4, <i8, |b1)", path,
                               descr);
            seen_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (parse_bool(&c, &h->fortran)) return -1;
            seen_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (parse_shape(&c, h)) return -1;
            seen_shape = 1;
        } else {
            return mx_fail("%s: unexpected key '%s' in .npy header", path, key);
        }
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') c.p++;
        else if (c.p >= c.end || *c.p != '}') return mx_fail("%s: malformed .npy header: expected ',' or '}'", path);
    }
    c.p++;
    skip_ws(&c); /* padding: spaces and the final newline */
    if (c.p != c.end) return mx_fail("%s: malformed .npy header: text after '}'", path);
    if (!seen_descr || !seen_fortran || !seen_shape)
        return mx_fail("%s: .npy header lacks %s", path,
                       !seen_descr ? "'descr'" : !seen_fortran ? "'fortran_order'" : "'shape'");
    if (h->fortran)
        return mx_fail("%s: Fortran-order .npy arrays are not supported; "
                       "save with np.save(path, np.ascontiguousarray(a))", path);
    return 0;
}

/* Reads magic, version and header; *data_offset receives where data starts. */
static int read_header(FILE *f, const char *path, npy_header *h, int64_t *data_offset) {
    unsigned char pre[NPY_MAGIC_LEN + 2 + 4];
    if (fread(pre, 1, NPY_MAGIC_LEN + 2, f) != NPY_MAGIC_LEN + 2 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN))
        return mx_fail("%s: not a .npy file (bad magic)", path);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return mx_fail("%s: unsupported .npy format version %d.%d (supported: 1.0, 2.0, 3.0)", path, major, minor);
    int len_bytes = major == 1 ? 2 : 4;
    if (fread(pre + 8, 1, (size_t)len_bytes, f) != (size_t)len_bytes)
        return mx_fail("%s: truncated .npy header", path);
    uint32_t hlen = (uint32_t)le_read(pre + 8, len_bytes);
    if (hlen > NPY_MAX_HEADER) return mx_fail("%s: .npy header of %u bytes is too large", path, hlen);
    char *text = mx_alloc(hlen + 1);
    if (!text) return -1;
    if (fread(text, 1, hlen, f) != hlen) {
        mx_free(text);
        return mx_fail("%s: truncated .npy header (%u bytes announced)", path, hlen);
    }
    int rc = parse_header(text, hlen, path, h);
    mx_free(text);
    *data_offset = 8 + len_bytes + (int64_t)hlen;
    return rc;
}

static float decode(const unsigned char *p, npy_kind kind) {
    switch (kind) {
    case NPY_F4: {
        uint32_t u = (uint32_t)le_read(p, 4);
        float v;
        memcpy(&v, &u, 4);
        return v;
    }
    case NPY_F8: {
        uint64_t u = le_read(p, 8);
        double v;
        memcpy(&v, &u, 8);
        return (float)v;
    }
    case NPY_U1: return (float)p[0];
    case NPY_I4: return (float)(int32_t)(uint32_t)le_read(p, 4);
    case NPY_I8: return (float)(int64_t)le_read(p, 8);
    case NPY_B1: return p[0] ? 1.0f : 0.0f;
    }
    return 0;
}

mx_tensor *mx_npy_load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return mx_failp("%s: cannot open (%s)", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return mx_failp("%s: not a regular file", path);
    }
    npy_header h = {0};
    int64_t offset = 0;
    if (read_header(f, path, &h, &offset)) {
        fclose(f);
        return NULL;
    }
    /* the file size bounds what we allocate: a lying shape fails here */
    char shape[256];
    mx_shape_str(h.rank, h.shape, shape, sizeof shape);
    int64_t count = 1, need = 0;
    for (int i = 0; i < h.rank; i++)
        if (!mx_mul_ok(count, h.shape[i], &count)) count = -1;
    if (count < 0 || !mx_mul_ok(count, h.dtype->size, &need)) {
        fclose(f);
        return mx_failp("%s: .npy shape %s is too large", path, shape);
    }
    int64_t have = (int64_t)st.st_size - offset;
    if (have != need) {
        fclose(f);
        return mx_failp("%s: .npy data is %lld bytes but shape %s of %s needs %lld bytes (%s)", path,
                        (long long)have, shape, h.dtype->descr, (long long)need,
                        have < need ? "truncated file" : "trailing data after the array");
    }
    mx_tensor *t = mx_tensor_new(h.rank, h.shape);
    if (!t) {
        fclose(f);
        return mx_failp("%s: cannot allocate %s array: %s", path, shape, mx_error());
    }
    /* convert through a small buffer: no second copy of the data */
    unsigned char buf[1 << 16];
    int64_t per = (int64_t)sizeof buf / h.dtype->size;
    for (int64_t done = 0; done < count;) {
        int64_t k = MX_MIN(per, count - done);
        if (fread(buf, (size_t)h.dtype->size, (size_t)k, f) != (size_t)k) {
            fclose(f);
            mx_tensor_free(t);
            return mx_failp("%s: read error after %lld of %lld elements", path, (long long)done, (long long)count);
        }
        for (int64_t i = 0; i < k; i++) t->data[done + i] = decode(buf + i * h.dtype->size, h.dtype->kind);
        done += k;
    }
    fclose(f);
    return t;
}

int mx_npy_save(const char *path, const mx_tensor *t) {
    if (!t || t->rank < 0 || t->rank > MX_MAX_RANK) return mx_fail("%s: invalid tensor to save", path);
    char dims[256];
    mx_shape_str(t->rank, t->shape, dims, sizeof dims);
    char header[512];
    int len = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", dims);
    /* magic + version + uint16 length + dict + padding + '\n' is a multiple of 64 */
    int total = NPY_MAGIC_LEN + 2 + 2 + len + 1;
    int pad = (NPY_ALIGN - total % NPY_ALIGN) % NPY_ALIGN;
    int hlen = len + pad + 1;
    int64_t count = mx_tensor_size(t), bytes;
    if (!mx_mul_ok(count, 4, &bytes) || bytes > INT64_MAX - 1024) return mx_fail("%s: tensor too large", path);
    size_t size = (size_t)(NPY_MAGIC_LEN + 4 + hlen) + (size_t)bytes;
    unsigned char *buf = mx_alloc(size); /* (header + count * 4) bytes */
    if (!buf) return mx_fail_context("%s: ", path);
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, header, (size_t)len);
    memset(buf + 10 + len, ' ', (size_t)pad);
    buf[10 + hlen - 1] = '\n';
    unsigned char *data = buf + 10 + hlen;
    for (int64_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &t->data[i], 4);
        le_write32(data + 4 * i, u);
    }
    int rc = mx_write_file(path, buf, size);
    mx_free(buf);
    return rc;
}
