/* test.h: a tiny test harness. MX_TEST(name) { ... } registers a test;
 * CHECK / CHECK_NEAR record failures and continue; the runner (tests/main.c)
 * prints one line per test and ends with "N passed, N failed". */
#ifndef MX_TEST_H
#define MX_TEST_H

#include <math.h>
#include <stdio.h>

typedef void (*mx_test_fn)(void);
void mx_test_register(const char *name, const char *file, mx_test_fn fn);
void mx_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Directory for temporary files of the running test (created, emptied). */
const char *mx_test_tmpdir(void);
/* Root of the repository (for test data and experiments). */
const char *mx_test_root(void);

#define MX_TEST(name)                                                              \
    static void name(void);                                                        \
    __attribute__((constructor)) static void name##_register(void) {               \
        mx_test_register(#name, __FILE__, name);                                   \
    }                                                                              \
    static void name(void)

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) mx_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);         \
    } while (0)

#define CHECK_MSG(cond, ...)                                                       \
    do {                                                                           \
        if (!(cond)) mx_test_fail(__FILE__, __LINE__, __VA_ARGS__);                \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol)                                                      \
    do {                                                                           \
        double a_ = (a), b_ = (b), t_ = (tol) * fmax(1.0, fabs(b_));               \
        if (!(fabs(a_ - b_) <= t_))                                                \
            mx_test_fail(__FILE__, __LINE__, "%s = %.8g, expected %s = %.8g (tol %g)", \
                         #a, a_, #b, b_, (double)(tol));                           \
    } while (0)

#endif
