/* format.c: numbers and shapes for messages, summaries and reports. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

char *mx_shape_str(int rank, const int64_t *shape, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - MX_MIN(k, n), "(");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - MX_MIN(k, n), "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (rank == 1 && k < n) k += (size_t)snprintf(buf + k, n - MX_MIN(k, n), ",");
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

char *mx_thousands(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
    size_t len = strlen(raw), k = 0;
    if (v < 0 && k + 1 < n) buf[k++] = '-';
    for (size_t i = 0; i < len && k + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = raw[i];
    }
    buf[k] = 0;
    return buf;
}

void mx_text_add(mx_text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *s = mx_alloc(cap);
        if (!s) return;
        if (t->s) memcpy(s, t->s, t->len + 1);
        mx_free(t->s);
        t->s = s;
        t->cap = cap;
    }
    if ((size_t)n < sizeof small) {
        memcpy(t->s + t->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    t->len += (size_t)n;
}

void mx_text_product(mx_text *t, int rank, const int64_t *dims) {
    for (int i = 0; i < rank; i++) mx_text_add(t, "%s%lld", i ? "*" : "", (long long)dims[i]);
    if (rank == 0) mx_text_add(t, "1");
}

const char *mx_text_str(const mx_text *t) { return t->s ? t->s : ""; }

void mx_text_clear(mx_text *t) {
    t->len = 0;
    if (t->s) t->s[0] = 0;
}

void mx_text_free(mx_text *t) {
    mx_free(t->s);
    *t = (mx_text){0};
}
