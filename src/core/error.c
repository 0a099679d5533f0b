/* error.c: one message per thread describing the last failure. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[1024];

const char *mx_error(void) { return g_msg; }

void mx_clear_error(void) { g_msg[0] = 0; }

static void set_msg(const char *fmt, va_list ap) {
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
}

int mx_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return -1;
}

void *mx_failp(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return NULL;
}

int mx_fail_context(const char *fmt, ...) {
    char prefix[512], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t k = strlen(prefix);
    if (k >= sizeof g_msg) k = sizeof g_msg - 1;
    memcpy(g_msg, prefix, k);
    size_t rest = strlen(old);
    if (rest > sizeof g_msg - 1 - k) rest = sizeof g_msg - 1 - k;
    memcpy(g_msg + k, old, rest);
    g_msg[k + rest] = 0;
    return -1;
}
