/* chars.c: text as a sequence of characters for character-level language
 * models. A UTF-8 file becomes the index of each character (code point) in
 * the vocabulary, the file's distinct code points in ascending order, so
 * that a model's classes mean the same characters wherever the vocabulary
 * is read back (metadata.json). Invalid UTF-8 (overlong forms, surrogates,
 * truncated sequences, bytes that start nothing) is an error naming the
 * byte offset. The training layout, parallel streams for truncated
 * backpropagation through time, is mx_chars_streams. */
#include "data/data.h"

#include <math.h>
#include <string.h>

/* One code point from s[0..n) into *cp; its length, or 0 if invalid. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    const unsigned char b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    int len = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? (b <= 0xef ? 3 : 0) : b >= 0xc2 ? 2 : 0;
    if (!len || (size_t)len > n) return 0;
    uint32_t v = b & (0x7f >> len);
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[k] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

int mx_utf8_put(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* n bytes as code points into cps (room for n); count into *count */
static int decode(const char *bytes, size_t n, const char *origin, uint32_t *cps, int64_t *count) {
    const unsigned char *s = (const unsigned char *)bytes;
    int64_t k = 0;
    for (size_t at = 0; at < n;) {
        int len = utf8_next(s + at, n - at, &cps[k]);
        if (!len) return mx_fail("%s: invalid UTF-8 at byte offset %zu (byte 0x%02x)", origin, at, s[at]);
        at += (size_t)len;
        k++;
    }
    *count = k;
    return 0;
}

int mx_chars_index(const mx_chars *c, uint32_t cp) {
    int lo = 0, hi = c->vocab_size - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->vocab[mid] == cp) return mid;
        if (c->vocab[mid] < cp) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* the distinct code points of cps, sorted: a counting pass over a bitmap of
 * the 0x110000 code points (136 KiB) */
static int make_vocab(mx_chars *c, const uint32_t *cps, int64_t n) {
    uint8_t *seen = mx_alloc(0x110000 / 8);
    if (!seen) return -1;
    int count = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t bit = (uint8_t)(1u << (cps[i] & 7));
        if (!(seen[cps[i] >> 3] & bit)) count++;
        seen[cps[i] >> 3] |= bit;
    }
    c->vocab = mx_alloc_array((size_t)MX_MAX(count, 1), sizeof(uint32_t));
    if (!c->vocab) {
        mx_free(seen);
        return -1;
    }
    for (uint32_t cp = 0; cp < 0x110000; cp++)
        if (seen[cp >> 3] & (1u << (cp & 7))) c->vocab[c->vocab_size++] = cp;
    mx_free(seen);
    return 0;
}

mx_chars *mx_chars_decode(const char *bytes, size_t n, const char *origin, const uint32_t *vocab, int vocab_size) {
    if (!origin) origin = "text";
    mx_chars *c = mx_alloc(sizeof *c);
    uint32_t *cps = c ? mx_alloc_array(MX_MAX(n, (size_t)1), sizeof(uint32_t)) : NULL;
    if (!cps || decode(bytes, n, origin, cps, &c->n)) goto fail;
    if (vocab) {
        if (vocab_size <= 0) {
            mx_fail("%s: empty vocabulary", origin);
            goto fail;
        }
        c->vocab = mx_alloc_array((size_t)vocab_size, sizeof(uint32_t));
        if (!c->vocab) goto fail;
        memcpy(c->vocab, vocab, sizeof(uint32_t) * (size_t)vocab_size);
        c->vocab_size = vocab_size;
        for (int i = 1; i < vocab_size; i++)
            if (vocab[i] <= vocab[i - 1]) {
                mx_fail("%s: the vocabulary must be sorted code points without repeats", origin);
                goto fail;
            }
    } else if (make_vocab(c, cps, c->n)) {
        goto fail;
    }
    c->ids = mx_alloc_array((size_t)MX_MAX(c->n, 1), sizeof(int32_t));
    if (!c->ids) goto fail;
    for (int64_t i = 0; i < c->n; i++) {
        int id = mx_chars_index(c, cps[i]);
        if (id < 0) {
            char ch[5] = {0};
            mx_utf8_put(cps[i], ch);
            mx_fail("%s: character %lld '%s' (U+%04X) is not in the model's vocabulary of %d characters", origin,
                    (long long)i, ch, (unsigned)cps[i], c->vocab_size);
            goto fail;
        }
        c->ids[i] = id;
    }
    mx_free(cps);
    return c;
fail:
    mx_free(cps);
    mx_chars_free(c);
    return NULL;
}

/* 2 GiB: the characters are held as 4-byte ids and the dataset as floats */
#define MAX_TEXT_BYTES ((size_t)1 << 31)

mx_chars *mx_chars_load(const char *path) {
    size_t len = 0;
    char *bytes = mx_read_file(path, &len, MAX_TEXT_BYTES);
    if (!bytes) return NULL;
    mx_chars *c = mx_chars_decode(bytes, len, path, NULL, 0);
    mx_free(bytes);
    if (c && c->n < 2) {
        mx_chars_free(c);
        return mx_failp("%s: a text needs at least 2 characters", path);
    }
    return c;
}

void mx_chars_free(mx_chars *c) {
    if (!c) return;
    mx_free(c->ids);
    mx_free(c->vocab);
    mx_free(c);
}

mx_dataset *mx_chars_streams(const int32_t *ids, int64_t n, int vocab_size, int streams, int seq) {
    if (streams <= 0 || seq <= 0) return mx_failp("text streams: %d streams of windows of %d characters", streams, seq);
    const int64_t per = (n - 1) / streams, windows = per / seq;
    if (windows < 1)
        return mx_failp("%lld characters are too few for %d streams of %d-character windows (%lld needed)",
                        (long long)n, streams, seq, (long long)streams * seq + 1);
    mx_dataset *d = mx_dataset_new(windows * streams, 1, (const int64_t[]){seq}, seq);
    if (!d) return NULL;
    d->n_classes = vocab_size;
    for (int64_t w = 0; w < windows; w++)
        for (int b = 0; b < streams; b++) {
            const int32_t *src = ids + b * per + w * seq; /* stream b, window w */
            const int64_t i = w * streams + b;
            for (int t = 0; t < seq; t++) {
                d->x[i * seq + t] = (float)src[t];
                d->y[i * seq + t] = src[t + 1];
            }
        }
    return d;
}

int mx_sample_class(const float *scores, int n, int from_logits, float temperature, double u) {
    int best = 0;
    for (int k = 1; k < n; k++)
        if (scores[k] > scores[best]) best = k;
    if (!(temperature > 1e-3f)) return best; /* temperature 0: the most likely class */
    /* p_k proportional to exp(logit_k / T), or p_k^(1/T) from probabilities;
     * relative to the best class, so exp never overflows */
    double total = 0;
    for (int k = 0; k < n; k++) {
        const double rel = from_logits ? (double)(scores[k] - scores[best])
                                       : log((double)MX_MAX(scores[k], 1e-30f)) - log((double)MX_MAX(scores[best], 1e-30f));
        total += exp(rel / temperature);
    }
    double target = u * total, run = 0;
    for (int k = 0; k < n; k++) {
        const double rel = from_logits ? (double)(scores[k] - scores[best])
                                       : log((double)MX_MAX(scores[k], 1e-30f)) - log((double)MX_MAX(scores[best], 1e-30f));
        run += exp(rel / temperature);
        if (target < run) return k;
    }
    return best;
}
