/* fashion_bench.c: mlexp's side of the Fashion-MNIST benchmark (the peer is
 * bench/fashion_torch.py; bench/run.sh runs both). One training epoch of the
 * experiment's CNN (Adam 1e-3, batch 32, no validation), then batch-256
 * inference over the test set. Prints one JSON line.
 *
 * Usage: fashion_bench [--threads N] [--limit N] */
#include "mx.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0;
}

static int fail(const char *what) {
    fprintf(stderr, "fashion_bench: %s: %s\n", what, mx_error());
    return 1;
}

int main(int argc, char **argv) {
    int threads = 2, infer_batch = 256;
    int64_t limit = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--limit")) limit = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--infer-batch")) infer_batch = atoi(argv[i + 1]);
    }
    const char *root = getenv("MX_ROOT") ? getenv("MX_ROOT") : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/experiments/fashion_cnn.json", root);
    json_error_t e;
    json_t *exp = json_load_file(path, 0, &e);
    if (!exp) return fprintf(stderr, "fashion_bench: %s: %s\n", path, e.text), 1;
    char *model_json = json_dumps(json_object_get(exp, "model"), 0);
    json_decref(exp);

    if (mx_set_threads(threads)) return fail("threads");
    mx_dataset *train = mx_dataset_load("fashion_mnist", "train", NULL);
    mx_dataset *test = mx_dataset_load("fashion_mnist", "test", NULL);
    if (!train || !test) return fail("dataset");
    if (limit > 0 && limit < train->n) train->n = limit;
    mx_model *m = mx_model_from_json(model_json, path, 1);
    free(model_json);
    if (!m) return fail("model");
    mx_optimizer_config opt = mx_optimizer_defaults(MX_OPT_ADAM);
    if (mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &opt)) return fail("compile");

    mx_fit_options o = mx_fit_defaults();
    o.epochs = 1;
    o.batch_size = 32;
    o.scale = 1 / 255.0f;
    mx_history h = {0};
    int profile = getenv("MX_PROFILE") != NULL;
    if (profile) mx_model_profile(m, 1);
    double t0 = now();
    if (mx_fit(m, train, &o, &h)) return fail("fit");
    double train_s = now() - t0, train_rss = peak_rss_mib();
    if (profile) mx_model_profile_report(m, stderr);

    /* inference: the test images, scaled, in batches of 256 */
    int64_t ss = mx_dataset_sample_size(test);
    int64_t xs[4] = {test->n, 28, 28, 1}, ys[2] = {test->n, 10};
    mx_tensor *x = mx_tensor_new(4, xs), *y = mx_tensor_new(2, ys);
    if (!x || !y) return fail("alloc");
    for (int64_t i = 0; i < test->n * ss; i++) x->data[i] = test->x[i] / 255.0f;
    mx_tensor warm = *x;
    warm.shape[0] = 256;
    mx_tensor wy = *y;
    wy.shape[0] = 256;
    if (mx_predict(m, &warm, &wy, 256)) return fail("predict");
    if (profile) mx_model_profile(m, 1);
    t0 = now();
    if (mx_predict(m, x, y, infer_batch)) return fail("predict");
    double infer_s = now() - t0;
    if (profile) mx_model_profile_report(m, stderr);

    printf("{\"engine\": \"mlexp %s\", \"threads\": %d, \"train_seconds\": %.3f, \"train_images_per_s\": %.1f, "
           "\"infer_seconds\": %.3f, \"infer_images_per_s\": %.1f, \"peak_rss_mib\": %.1f, \"final_loss\": %.4f}\n",
           MX_VERSION, mx_threads(), train_s, (double)train->n / train_s, infer_s, (double)test->n / infer_s, train_rss,
           h.epochs[0].loss);
    mx_history_free(&h);
    mx_tensor_free(x);
    mx_tensor_free(y);
    mx_model_free(m);
    mx_dataset_free(train);
    mx_dataset_free(test);
    return 0;
}
