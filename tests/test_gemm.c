/* test_gemm.c: mx_gemm against a double-precision reference over many shapes,
 * all transpose combinations, padded leading dimensions and accumulate on/off;
 * bit-identical results for 1, 2 and 3 threads. */
#include "test.h"

#include "core/core.h"
#include "kernels/gemm.h"

#include <stdlib.h>
#include <string.h>

typedef struct gcase {
    int ta, tb, acc;
    int64_t M, N, K;
    int64_t pad_a, pad_b, pad_c; /* extra elements per stored row */
} gcase;

/* Stored shapes: A is M x K (K x M with ta), B is K x N (N x K with tb). */
static int64_t rows_a(const gcase *c) { return c->ta ? c->K : c->M; }
static int64_t lda_of(const gcase *c) { return (c->ta ? c->M : c->K) + c->pad_a; }
static int64_t rows_b(const gcase *c) { return c->tb ? c->N : c->K; }
static int64_t ldb_of(const gcase *c) { return (c->tb ? c->K : c->N) + c->pad_b; }
static int64_t ldc_of(const gcase *c) { return c->N + c->pad_c; }

static float *filled(int64_t n, mx_rng *r) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)(2 * mx_rng_uniform(r) - 1);
    return p;
}

/* Runs one case and compares every element, and checks that C's padding is
 * untouched. Padding of A and B holds NaN, so reading it would show. With
 * accumulate off, C starts as NaN: it must not be read either. */
static int check_case(const gcase *c, uint64_t seed) {
    mx_rng r;
    mx_rng_seed(&r, seed);
    const int64_t lda = lda_of(c), ldb = ldb_of(c), ldc = ldc_of(c);
    float *A = filled(rows_a(c) * lda, &r), *B = filled(rows_b(c) * ldb, &r);
    float *C = filled(c->M * ldc, &r);
    for (int64_t i = 0; i < rows_a(c); i++)
        for (int64_t j = lda - c->pad_a; j < lda; j++) A[i * lda + j] = NAN;
    for (int64_t i = 0; i < rows_b(c); i++)
        for (int64_t j = ldb - c->pad_b; j < ldb; j++) B[i * ldb + j] = NAN;
    if (!c->acc)
        for (int64_t i = 0; i < c->M; i++)
            for (int64_t j = 0; j < c->N; j++) C[i * ldc + j] = NAN;
    float *C0 = malloc((size_t)(c->M * ldc) * sizeof(float));
    memcpy(C0, C, (size_t)(c->M * ldc) * sizeof(float));

    mx_gemm(c->ta, c->tb, c->M, c->N, c->K, A, lda, B, ldb, C, ldc, c->acc);

    int bad = 0;
    const double tol = 1e-5 * sqrt((double)c->K + 1);
    for (int64_t i = 0; i < c->M && !bad; i++) {
        for (int64_t j = 0; j < ldc && !bad; j++) {
            const float got = C[i * ldc + j];
            if (j >= c->N) { /* padding: bit-identical */
                if (memcmp(&got, &C0[i * ldc + j], sizeof got) != 0) bad = 1;
                continue;
            }
            double s = c->acc ? C0[i * ldc + j] : 0, mag = fabs(s);
            for (int64_t k = 0; k < c->K; k++) {
                double a = c->ta ? A[k * lda + i] : A[i * lda + k];
                double b = c->tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            if (!(fabs(got - s) <= tol * fmax(mag, 1e-30))) bad = 1;
            if (bad)
                mx_test_fail(__FILE__, __LINE__,
                             "ta=%d tb=%d acc=%d M=%lld N=%lld K=%lld pads=%lld/%lld/%lld: "
                             "C[%lld][%lld] = %.8g, expected %.8g",
                             c->ta, c->tb, c->acc, (long long)c->M, (long long)c->N,
                             (long long)c->K, (long long)c->pad_a, (long long)c->pad_b,
                             (long long)c->pad_c, (long long)i, (long long)j, got, s);
        }
    }
    free(A);
    free(B);
    free(C);
    free(C0);
    return bad;
}

static const int64_t k_sizes[] = {1, 2, 3, 4, 5, 7, 8, 13, 14, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100, 129};

/* Small and odd sizes: every edge of the register tile, all four transpose
 * combinations, accumulate on and off, with and without padding. */
MX_TEST(gemm_small_shapes) {
    const int ns = (int)(sizeof k_sizes / sizeof k_sizes[0]);
    mx_rng r;
    mx_rng_seed(&r, 7);
    int fails = 0;
    for (int t = 0; t < 400 && fails < 3; t++) {
        gcase c = {t & 1, (t >> 1) & 1, (t >> 2) & 1,
                   k_sizes[mx_rng_below(&r, ns)], k_sizes[mx_rng_below(&r, ns)],
                   k_sizes[mx_rng_below(&r, ns)],
                   (int64_t)mx_rng_below(&r, 3) * 3, (int64_t)mx_rng_below(&r, 3) * 5,
                   (int64_t)mx_rng_below(&r, 3) * 2};
        fails += check_case(&c, (uint64_t)t);
    }
}

/* Sizes past the cache blocks (K > KC, M > MC, N > NC), with threads. */
MX_TEST(gemm_large_shapes) {
    static const int64_t shapes[][3] = {
        {300, 37, 300}, {257, 259, 513}, {700, 33, 70}, {31, 300, 1000}, {3, 5000, 17},
        {1, 300, 300},  {300, 1, 300},   {1, 1, 2000},  {47, 5000, 3},   {400, 96, 1},
        {9, 32, 3000},  {5, 20, 9000}, /* one tile, long K: threads split K */
    };
    mx_set_threads(2);
    int fails = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && fails < 3; s++)
        for (int t = 0; t < 8; t++) {
            gcase c = {t & 1, (t >> 1) & 1, (t >> 2) & 1, shapes[s][0], shapes[s][1], shapes[s][2],
                       t % 3, (t + 1) % 3, t % 2};
            fails += check_case(&c, (uint64_t)(100 * s + t));
        }
    mx_threads_shutdown();
}

/* K = 0 is an empty sum: C = 0, or C unchanged when accumulating. */
MX_TEST(gemm_k_zero) {
    float A[1] = {NAN}, B[1] = {NAN}, C[3 * 5];
    for (int acc = 0; acc < 2; acc++)
        for (int t = 0; t < 4; t++) {
            for (int i = 0; i < 15; i++) C[i] = (float)i + 1;
            mx_gemm(t & 1, t >> 1, 3, 4, 0, A, 1, B, 1, C, 5, acc);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 5; j++)
                    CHECK(C[i * 5 + j] == (acc || j == 4 ? (float)(i * 5 + j) + 1 : 0.0f));
        }
}

/* Same bits for 1, 2 and 3 threads, on shapes that split by rows (conv) and
 * by columns (small batch), with and without accumulate. */
MX_TEST(gemm_deterministic_threads) {
    static const gcase cases[] = {
        {0, 0, 0, 1000, 64, 288, 0, 0, 0}, {1, 0, 1, 288, 64, 2000, 0, 0, 0},
        {0, 1, 0, 500, 288, 64, 0, 0, 0},  {0, 0, 1, 32, 128, 3136, 0, 0, 0},
        {0, 1, 0, 32, 1000, 128, 0, 0, 0}, {1, 1, 1, 333, 333, 333, 1, 2, 3},
        {1, 0, 0, 9, 32, 25088, 0, 0, 0},  {1, 0, 1, 9, 32, 25088, 0, 0, 5},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        const gcase *c = &cases[s];
        mx_rng r;
        mx_rng_seed(&r, s);
        float *A = filled(rows_a(c) * lda_of(c), &r), *B = filled(rows_b(c) * ldb_of(c), &r);
        float *C0 = filled(c->M * ldc_of(c), &r), *ref = NULL;
        const size_t bytes = (size_t)(c->M * ldc_of(c)) * sizeof(float);
        for (int nth = 1; nth <= 3; nth++) {
            mx_set_threads(nth);
            float *C = malloc(bytes);
            memcpy(C, C0, bytes);
            mx_gemm(c->ta, c->tb, c->M, c->N, c->K, A, lda_of(c), B, ldb_of(c), C, ldc_of(c), c->acc);
            if (!ref)
                ref = C;
            else {
                CHECK_MSG(memcmp(C, ref, bytes) == 0, "case %zu differs with %d threads", s, nth);
                free(C);
            }
        }
        free(A);
        free(B);
        free(C0);
        free(ref);
    }
    mx_threads_shutdown();
}

/* Called from inside a parallel region, mx_gemm runs on the calling thread;
 * each worker multiplies its own matrices. */
typedef struct nested_ctx {
    const float *A, *B;
    float *C[3];
} nested_ctx;

static void nested_task(void *p, int ith, int nth) {
    nested_ctx *x = p;
    for (int i = ith; i < 3; i += nth) mx_gemm(0, 0, 200, 70, 150, x->A, 150, x->B, 70, x->C[i], 70, 0);
}

MX_TEST(gemm_nested_in_parallel) {
    mx_rng r;
    mx_rng_seed(&r, 3);
    float *A = filled(200 * 150, &r), *B = filled(150 * 70, &r);
    float *ref = filled(200 * 70, &r);
    mx_gemm(0, 0, 200, 70, 150, A, 150, B, 70, ref, 70, 0);
    mx_set_threads(3);
    nested_ctx x = {A, B, {filled(200 * 70, &r), filled(200 * 70, &r), filled(200 * 70, &r)}};
    mx_parallel(nested_task, &x);
    for (int i = 0; i < 3; i++) {
        CHECK(memcmp(x.C[i], ref, 200 * 70 * sizeof(float)) == 0);
        free(x.C[i]);
    }
    mx_threads_shutdown();
    free(A);
    free(B);
    free(ref);
}

/* bias and activation applied by the epilogue equal the separate passes,
 * for the row-split, column-split and k-split paths and any thread count */
MX_TEST(gemm_epilogue) {
    static const int64_t shapes[][3] = {{300, 64, 288}, {32, 300, 100}, {9, 32, 25088}, {5, 7, 0}};
    for (int t = 1; t <= 2; t++) {
        mx_set_threads(t);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            mx_rng r;
            mx_rng_seed(&r, 7 + s);
            float *a = filled(M * MX_MAX(K, 1), &r), *b = filled(MX_MAX(K, 1) * N, &r), *bias = filled(N, &r);
            float *c1 = filled(M * N, &r), *c2 = filled(M * N, &r), *out = filled(M * N, &r);
            mx_act act = {.kind = MX_ACT_RELU};
            mx_gemm_epilogue e = {bias, act, out};
            mx_gemm_ex(0, 0, M, N, K, a, K, b, N, c1, N, 0, &e);
            mx_gemm(0, 0, M, N, K, a, K, b, N, c2, N, 0);
            int ok = 1;
            for (int64_t i = 0; i < M * N; i++) {
                float z = c2[i] + bias[i % N];
                ok &= c1[i] == z && out[i] == (z > 0 ? z : 0);
            }
            CHECK_MSG(ok, "epilogue differs from bias + relu passes for %lldx%lldx%lld, %d threads", (long long)M,
                      (long long)N, (long long)K, t);
            free(a), free(b), free(bias), free(c1), free(c2), free(out);
        }
    }
}
