/* core.h: internal helpers shared by every part of the engine:
 * errors, checked allocation, random numbers, the thread pool, time. */
#ifndef MX_CORE_H
#define MX_CORE_H

#include "mx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_ALIGN 64
#define MX_MAX_THREADS 64
#define MX_UNUSED(x) ((void)(x))
#define MX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MX_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__) || defined(__clang__)
#define MX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MX_PRINTF(f, a)
#endif

/* ---- errors: set the thread's message; always return -1 so callers can
 * `return mx_fail(...)`. mx_failp returns NULL. ---- */
int mx_fail(const char *fmt, ...) MX_PRINTF(1, 2);
void *mx_failp(const char *fmt, ...) MX_PRINTF(1, 2);
/* Prepend context ("model.json: ") to the current message. */
int mx_fail_context(const char *fmt, ...) MX_PRINTF(1, 2);

/* ---- allocation: 64-byte aligned, zero-filled, NULL + message on failure.
 * Sizes are checked for overflow. ---- */
void *mx_alloc(size_t bytes);
void *mx_alloc_array(size_t count, size_t elem);
void mx_free(void *p);
/* a * b with overflow check into *out; false on overflow. */
bool mx_mul_ok(int64_t a, int64_t b, int64_t *out);
char *mx_strdup(const char *s);

/* ---- random numbers: counter-based, so any element of any stream can be
 * drawn independently (thread- and batching-independent results). ---- */
uint64_t mx_hash64(uint64_t x);
/* Stream key from a seed and up to three counters (epoch, step, layer, ...). */
uint64_t mx_stream(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
/* Uniform float in [0, 1) for element i of a stream. */
float mx_uniform(uint64_t stream, uint64_t i);

/* Sequential generator for work that is naturally sequential (shuffles,
 * initialisers). */
typedef struct mx_rng {
    uint64_t s[4];
} mx_rng;
void mx_rng_seed(mx_rng *r, uint64_t seed);
uint64_t mx_rng_u64(mx_rng *r);
double mx_rng_uniform(mx_rng *r);          /* [0, 1) */
double mx_rng_normal(mx_rng *r);           /* standard normal */
uint64_t mx_rng_below(mx_rng *r, uint64_t n); /* [0, n), unbiased */

/* ---- thread pool: fn(ctx, ith, nth) runs on every worker; the caller is
 * worker 0. A call from inside a parallel region runs inline with nth = 1. ---- */
typedef void (*mx_task_fn)(void *ctx, int ith, int nth);
void mx_parallel(mx_task_fn fn, void *ctx);
/* Split [0, n) into nth nearly equal ranges, give range ith. */
void mx_split_range(int64_t n, int ith, int nth, int64_t *begin, int64_t *end);
/* fn(ctx, begin, end) over [0, n) split across the pool; inline when n is
 * below 2 * grain (too little work to share). */
typedef void (*mx_range_fn)(void *ctx, int64_t begin, int64_t end);
void mx_parallel_for(int64_t n, int64_t grain, mx_range_fn fn, void *ctx);
/* Per-thread scratch memory of MX_SCRATCH_FLOATS floats, allocated with the
 * pool; for packing buffers inside leaf kernels (GEMM). Threads outside the
 * pool share one buffer: call kernels from one such thread at a time. */
#define MX_SCRATCH_FLOATS ((size_t)1 << 21) /* 8 MiB */
float *mx_scratch(void);
void mx_threads_shutdown(void);

/* ---- files (core/file.c) ---- */
/* A whole file, NUL-terminated; *len receives its size. Larger than
 * max_bytes is an error. */
char *mx_read_file(const char *path, size_t *len, size_t max_bytes);
/* Write bytes to path via path.tmp + rename. */
int mx_write_file(const char *path, const void *data, size_t len);
/* mkdir -p */
int mx_mkdirs(const char *dir);
/* remove a file or a directory and everything under it; a missing path is fine */
int mx_remove_tree(const char *path);

/* 1234567 -> "1,234,567" into buf; returns buf. */
char *mx_thousands(int64_t v, char *buf, size_t n);

/* ---- text built piece by piece (explanations). Running out of memory
 * leaves it truncated; adding never fails. ---- */
typedef struct mx_text {
    char *s;
    size_t len, cap;
} mx_text;
void mx_text_add(mx_text *t, const char *fmt, ...) MX_PRINTF(2, 3);
/* "a*b*c" of a shape */
void mx_text_product(mx_text *t, int rank, const int64_t *dims);
/* "" while empty */
const char *mx_text_str(const mx_text *t);
void mx_text_clear(mx_text *t);
void mx_text_free(mx_text *t);

/* ---- time ---- */
double mx_now(void); /* seconds, monotonic */

#endif
