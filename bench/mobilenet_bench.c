/* mobilenet_bench.c: MobileNetV2 (224x224, a TF.js layers model, e.g. made
 * by tests/tfjs/mobilenet_v2.js) in inference: batch-1 latency (median of
 * 30 runs) and batch-32 throughput (median of 5). Prints one JSON line; the
 * peer is bench/mobilenet_torch.py, bench/mobilenet.sh runs both.
 *
 * Usage: mobilenet_bench MODEL_DIR [--threads N] */
#include "mx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median seconds of `reps` predictions of a batch */
static double time_batch(mx_model *m, int batch, int reps) {
    int64_t xs[4] = {batch, 224, 224, 3}, ys[2] = {batch, 1000};
    mx_tensor *x = mx_tensor_new(4, xs), *y = mx_tensor_new(2, ys);
    if (!x || !y) return -1;
    for (int64_t i = 0; i < mx_tensor_size(x); i++) x->data[i] = (float)((i * 7919) % 255) / 127.5f - 1;
    double t[64];
    if (mx_predict(m, x, y, batch)) return -1; /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (mx_predict(m, x, y, batch)) return -1;
        t[r] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp);
    mx_tensor_free(x);
    mx_tensor_free(y);
    return t[reps / 2];
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: mobilenet_bench MODEL_DIR [--threads N]\n");
        return 2;
    }
    int threads = argc > 3 && !strcmp(argv[2], "--threads") ? atoi(argv[3]) : 2;
    if (mx_set_threads(threads)) return 1;
    mx_model *m = mx_model_load(argv[1]);
    if (!m) {
        fprintf(stderr, "mobilenet_bench: %s\n", mx_error());
        return 1;
    }
    double t1 = time_batch(m, 1, 30), t32 = time_batch(m, 32, 5);
    if (t1 < 0 || t32 < 0) {
        fprintf(stderr, "mobilenet_bench: %s\n", mx_error());
        return 1;
    }
    printf("{\"engine\": \"mlexp %s\", \"threads\": %d, \"batch1_ms\": %.2f, \"batch32_images_per_s\": %.1f}\n", MX_VERSION,
           mx_threads(), t1 * 1e3, 32 / t32);
    mx_model_free(m);
    return 0;
}
