/* gemm_bench: GFLOP/s of mx_gemm on the Fashion-MNIST CNN shapes with 1 and 2
 * threads (median over repetitions after a warm-up).
 *   gemm_bench                      all shapes
 *   gemm_bench ta tb M N K          one shape */
#include "core/core.h"
#include "kernels/gemm.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct shape {
    const char *name;
    int ta, tb;
    int64_t M, N, K;
} shape;

static const shape k_shapes[] = {
    {"conv2 fwd b32", 0, 0, 6272, 64, 288},
    {"conv2 fwd b256", 0, 0, 50176, 64, 288},
    {"conv2 wgrad", 1, 0, 288, 64, 6272},
    {"conv2 igrad", 0, 1, 6272, 288, 64},
    {"conv1 fwd", 0, 0, 25088, 32, 9},
    {"conv1 wgrad", 1, 0, 9, 32, 25088},
    {"dense1 fwd", 0, 0, 32, 128, 3136},
    {"dense1 wgrad", 1, 0, 3136, 128, 32},
    {"dense1 igrad", 0, 1, 32, 3136, 128},
    {"dense2 fwd", 0, 0, 32, 10, 128},
    {"dense2 wgrad", 1, 0, 128, 10, 32},
    {"dense2 igrad", 0, 1, 32, 128, 10},
    {"square 1024", 0, 0, 1024, 1024, 1024},
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *random_floats(int64_t n, uint64_t seed) {
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    mx_rng r;
    mx_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(2 * mx_rng_uniform(&r) - 1);
    return p;
}

/* Median GFLOP/s: each sample times `batch` calls, batch sized to ~2 ms. */
static double measure(const shape *s, const float *A, const float *B, float *C) {
    const int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double t0 = mx_now();
    int warm = 0;
    while (warm < 3 || mx_now() - t0 < 0.05) {
        mx_gemm(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb, C, s->N, 0);
        warm++;
    }
    int batch = (int)(0.002 / ((mx_now() - t0) / warm)) + 1;
    enum { SAMPLES = 15 };
    double gf[SAMPLES];
    for (int r = 0; r < SAMPLES; r++) {
        double t = mx_now();
        for (int b = 0; b < batch; b++)
            mx_gemm(s->ta, s->tb, s->M, s->N, s->K, A, lda, B, ldb, C, s->N, 0);
        t = (mx_now() - t) / batch;
        gf[r] = 2.0 * (double)s->M * (double)s->N * (double)s->K / t * 1e-9;
    }
    qsort(gf, SAMPLES, sizeof gf[0], cmp_double);
    return gf[SAMPLES / 2];
}

static void run(const shape *s) {
    float *A = random_floats(s->M * s->K, 1), *B = random_floats(s->K * s->N, 2);
    float *C = random_floats(s->M * s->N, 3);
    double g[2];
    for (int t = 1; t <= 2; t++) {
        mx_set_threads(t);
        g[t - 1] = measure(s, A, B, C);
    }
    printf("%-15s (%d,%d,%6lld,%5lld,%6lld) %8.1f %8.1f\n", s->name, s->ta, s->tb, (long long)s->M,
           (long long)s->N, (long long)s->K, g[0], g[1]);
    fflush(stdout);
    free(A);
    free(B);
    free(C);
}

int main(int argc, char **argv) {
    printf("%-15s %-26s %8s %8s\n", "shape", "(ta,tb,     M,    N,      K)", "1 thr", "2 thr");
    if (argc == 6) {
        shape s = {"custom", atoi(argv[1]), atoi(argv[2]), atoll(argv[3]), atoll(argv[4]),
                   atoll(argv[5])};
        run(&s);
    } else {
        for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++) run(&k_shapes[i]);
    }
    mx_threads_shutdown();
    return 0;
}
