/* format.c: numbers and shapes for messages, summaries and reports. */
#include "core.h"

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
