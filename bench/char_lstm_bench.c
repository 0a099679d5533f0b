/* char_lstm_bench.c: mlexp's side of the character LSTM benchmark (the peer
 * is bench/char_lstm_torch.py; bench/char_lstm.sh runs both). The model of
 * experiments/moby_dick.json: Embedding(vocab, 256), stateful LSTM(1024)
 * returning sequences, Dense(vocab) softmax (fused with the loss); Adam 1e-3 with the global norm
 * clipped at 5; batch 64 of 100 characters, states carried from batch to
 * batch. Training characters/s over --steps steps after 2 warm-up steps on
 * random characters, then generation characters/s: a batch-1, one-step
 * stateful copy of the model fed its own samples (temperature 0.5), as
 * `mlexp generate` does. Prints one JSON line.
 *
 * Usage: char_lstm_bench [--threads N] [--steps N] [--gen N] [--vocab N]
 *                        [--batch N] [--seq N] [--units N] [--profile] */
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

static int fail(const char *what) {
    fprintf(stderr, "char_lstm_bench: %s: %s\n", what, mx_error());
    return 1;
}

static mx_model *build(int batch, int seq, int vocab, int units) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"char_lstm\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [%d, %d], \"name\": \"chars\"}},"
             "{\"class_name\": \"Embedding\", \"config\": {\"name\": \"embedding\", \"input_dim\": %d, \"output_dim\": 256}},"
             "{\"class_name\": \"LSTM\", \"config\": {\"name\": \"lstm\", \"units\": %d, \"return_sequences\": true, "
             "\"stateful\": true}},"
             "{\"class_name\": \"Dense\", \"config\": {\"name\": \"next_char\", \"units\": %d, \"activation\": \"softmax\"}}]}}",
             batch, seq, vocab, units, vocab);
    return mx_model_from_json(json, "char_lstm_bench", 1);
}

int main(int argc, char **argv) {
    int threads = 2, steps = 10, gen = 300, vocab = 83, batch = 64, seq = 100, units = 1024, profile = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--profile")) {
            profile = 1;
            continue;
        }
        if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--gen")) gen = atoi(v);
        else if (!strcmp(a, "--vocab")) vocab = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--seq")) seq = atoi(v);
        else if (!strcmp(a, "--units")) units = atoi(v);
        else return fprintf(stderr, "char_lstm_bench: unknown option %s\n", a), 2;
        i++;
    }
    if (mx_set_threads(threads)) return fail("threads");
    mx_model *m = build(batch, seq, vocab, units);
    if (!m) return fail("model");
    mx_optimizer_config opt = mx_optimizer_defaults(MX_OPT_ADAM);
    opt.global_clipnorm = 5;
    if (mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &opt)) return fail("compile");

    /* random characters: x (batch, seq) indices, y (batch, seq) next ones */
    const size_t n = (size_t)batch * (size_t)seq;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    if (!x || !y) return fail("memory");
    uint64_t r = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (float)(r % (uint64_t)vocab);
        y[i] = (float)((r >> 20) % (uint64_t)vocab);
    }
    double loss = 0;
    for (int s = 0; s < 2; s++)
        if (mx_train_batch(m, x, y, batch, &loss)) return fail("train");
    if (profile) mx_model_profile(m, 1);
    double t = now();
    for (int s = 0; s < steps; s++)
        if (mx_train_batch(m, x, y, batch, &loss)) return fail("train");
    const double train_cps = (double)steps * (double)n / (now() - t);
    if (profile) {
        mx_model_profile_report(m, stderr);
        mx_model_profile(m, 0);
    }

    /* generation: the trained weights in a batch-1, one-step model */
    mx_model *g = build(1, 1, vocab, units);
    if (!g) return fail("generator");
    float *w = malloc(sizeof(float) * (size_t)mx_model_weights_size(m));
    if (!w) return fail("memory");
    mx_model_weights_get(m, w);
    mx_model_weights_set(g, w);
    free(w);
    mx_tensor *gx = mx_tensor_new(2, (int64_t[]){1, 1}), *gy = mx_tensor_new(3, (int64_t[]){1, 1, vocab});
    if (!gx || !gy) return fail("memory");
    mx_model_reset_states(g);
    if (mx_predict(g, gx, gy, 1)) return fail("generate");
    if (profile) mx_model_profile(g, 1);
    t = now();
    for (int i = 0; i < gen; i++) {
        gx->data[0] = (float)mx_sample_class(gy->data, vocab, 0, 0.5f, (double)((i * 2654435761u) % 1000003u) / 1000003.0);
        if (mx_predict(g, gx, gy, 1)) return fail("generate");
    }
    const double gen_cps = gen / (now() - t);
    if (profile) mx_model_profile_report(g, stderr);
    printf("{\"train_chars_per_s\": %.1f, \"generate_chars_per_s\": %.1f, \"loss\": %.4f, \"threads\": %d}\n", train_cps,
           gen_cps, loss, mx_threads());
    mx_tensor_free(gx);
    mx_tensor_free(gy);
    mx_model_free(g);
    mx_model_free(m);
    free(x);
    free(y);
    return 0;
}
