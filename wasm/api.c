/* api.c: the functions the WebAssembly module exports to web/js/engine.js.
 * A thin layer over include/mx.h with types JavaScript can pass (pointers
 * into the module's memory, int32 and double). Failures return -1 or NULL
 * and leave the engine's message in mx_wasm_error(); engine.js turns them
 * into exceptions. Nothing here aborts on bad input. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "train/train.h"

#include <emscripten/emscripten.h>
#include <stdio.h>
#include <stdlib.h>

#define API EMSCRIPTEN_KEEPALIVE

API const char *mx_wasm_error(void) { return mx_error(); }

API int mx_wasm_set_threads(int n) { return mx_set_threads(n); }

API int mx_wasm_threads(void) { return mx_threads(); }

/* model.json's text and n shards: names[i] (NUL-terminated), data[i] of
 * sizes[i] bytes. */
API mx_model *mx_wasm_load(const char *json, const char *origin, int n, const char *const *names,
                           const void *const *data, const int *sizes) {
    if (n < 0) return mx_failp("%s: invalid shard count %d", origin, n);
    mx_shard *shards = mx_alloc_array((size_t)(n > 0 ? n : 1), sizeof *shards);
    if (!shards) return NULL;
    for (int i = 0; i < n; i++) shards[i] = (mx_shard){names[i], data[i], (size_t)sizes[i]};
    mx_model *m = mx_model_load_memory(json, origin, shards, n);
    mx_free(shards);
    return m;
}

/* A Keras model config (or a whole model.json, whose weights are ignored),
 * weights initialised from seed (an integer below 2^53). */
API mx_model *mx_wasm_from_config(const char *json, double seed) {
    return mx_model_from_json(json, "model config", (uint64_t)seed);
}

API void mx_wasm_free(mx_model *m) { mx_model_free(m); }

/* Shape of input 0 (output 0 when `output`) without the batch axis into
 * dims (MX_MAX_RANK int32); returns the rank. */
API int mx_wasm_shape(const mx_model *m, int output, int *dims) {
    int64_t s[MX_MAX_RANK];
    int rank = output ? mx_model_output_shape(m, 0, s) : mx_model_input_shape(m, 0, s);
    for (int i = 0; i < rank; i++) dims[i] = (int)s[i];
    return rank;
}

API int mx_wasm_n_inputs(const mx_model *m) { return mx_model_n_inputs(m); }

API int mx_wasm_n_outputs(const mx_model *m) { return mx_model_n_outputs(m); }

/* What print(m, f) writes, malloc'd: the caller frees it. */
static char *text_of(const mx_model *m, void (*print)(const mx_model *, FILE *)) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return mx_failp("out of memory");
    print(m, f);
    fclose(f);
    return text;
}

/* The Keras-style summary (`mlexp info`). */
API char *mx_wasm_summary(const mx_model *m) { return text_of(m, mx_model_summary); }

/* Per-layer timing: on (1 resets the counters) or off, and the table. */
API void mx_wasm_profile(mx_model *m, int on) { mx_model_profile(m, on); }

API char *mx_wasm_profile_report(const mx_model *m) { return text_of(m, mx_model_profile_report); }

API double mx_wasm_params(const mx_model *m, int trainable) {
    mx_param_counts c = mx_model_param_counts(m);
    return (double)(trainable ? c.trainable : c.non_trainable);
}

/* x (batch, input shape...) -> y (batch, output shape...), caller's buffers. */
API int mx_wasm_predict(mx_model *m, const float *x, int batch, float *y) {
    mx_tensor tx = {0}, ty = {0};
    tx.rank = 1 + mx_model_input_shape(m, 0, tx.shape + 1);
    ty.rank = 1 + mx_model_output_shape(m, 0, ty.shape + 1);
    tx.shape[0] = ty.shape[0] = batch;
    tx.data = (float *)x;
    ty.data = y;
    return mx_predict(m, &tx, &ty, batch);
}

/* loss and optimizer as Keras configs: "sparse_categorical_crossentropy",
 * "adam" or {"class_name": "Adam", "config": {...}} */
API int mx_wasm_compile(mx_model *m, const char *loss, const char *optimizer) {
    mx_loss_kind kind;
    int from_logits;
    mx_optimizer_config o;
    if (mx_loss_parse(loss, &kind, &from_logits) || mx_optimizer_parse(optimizer, &o)) return -1;
    return mx_model_compile(m, kind, from_logits, &o);
}

/* Floats of targets per sample for the compiled loss (mx_train_batch's y):
 * one class index per row of the last axis for sparse categorical
 * crossentropy, else the output size; 0 before compile. */
API int mx_wasm_target_size(const mx_model *m) {
    if (!m->compiled) return 0;
    const mx_value *out = m->outputs[0];
    int64_t c = out->rank ? out->dims[out->rank - 1] : 1;
    return (int)(mx_loss_sparse(m->loss_kind) ? out->size / c : out->size);
}

API int mx_wasm_train_batch(mx_model *m, const float *x, const float *y, int batch, double *loss) {
    return mx_train_batch(m, x, y, batch, loss);
}

/* mx_test_batch: out[0] the loss (with regularization), out[1] the right
 * predictions. */
API int mx_wasm_test_batch(mx_model *m, const float *x, const float *y, int batch, double *out) {
    int64_t correct = 0;
    if (mx_test_batch(m, x, y, batch, &out[0], &correct)) return -1;
    out[1] = (double)correct;
    return 0;
}

/* Plan memory for batches of up to `batch` samples, for training too when
 * `training`: a page that alternates training steps, tests and predictions
 * of different sizes plans once for the largest, and no call allocates
 * after that (each would otherwise plan again for its own size and mode). */
API int mx_wasm_plan(mx_model *m, int batch, int training) { return mx_graph_plan(m, batch, training); }

API double mx_wasm_weights_size(const mx_model *m) { return (double)mx_model_weights_size(m); }

API void mx_wasm_weights_get(const mx_model *m, float *dst) { mx_model_weights_get(m, dst); }

API void mx_wasm_weights_set(mx_model *m, const float *src) { mx_model_weights_set(m, src); }

/* The trace of a network description (docs/explain.md, `mlexp explain
 * --format json`), malloc'd JSON text: the caller frees it. steps and
 * precision 0 take the description's and the default. */
API char *mx_wasm_explain(const char *text, const char *origin, int steps, int precision) {
    /* the command line's limits (--steps, --precision) */
    if (steps < 0 || steps > 1000) return mx_failp("%s: steps must be 1 to 1000, got %d", origin, steps);
    if (precision < 0 || precision > 17) return mx_failp("%s: precision must be 1 to 17, got %d", origin, precision);
    mx_explain_options o = {steps, precision};
    return mx_explain(text, origin, &o);
}
