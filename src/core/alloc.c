/* alloc.c: checked, aligned, zeroed allocation. Every allocation of the
 * engine goes through here so failures carry a message. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

bool mx_mul_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return false;
    if (a != 0 && b > INT64_MAX / a) return false;
    *out = a * b;
    return true;
}

void *mx_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    size_t rounded = (bytes + MX_ALIGN - 1) / MX_ALIGN * MX_ALIGN;
    if (rounded < bytes) return mx_failp("out of memory: %zu bytes requested", bytes);
    void *p = aligned_alloc(MX_ALIGN, rounded);
    if (!p) return mx_failp("out of memory: %zu bytes requested", bytes);
    memset(p, 0, rounded);
    return p;
}

void *mx_alloc_array(size_t count, size_t elem) {
    if (elem && count > SIZE_MAX / elem)
        return mx_failp("out of memory: %zu x %zu bytes overflows", count, elem);
    return mx_alloc(count * elem);
}

void mx_free(void *p) { free(p); }

char *mx_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mx_alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
