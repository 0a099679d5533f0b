/* test_tfjs.c: parity with TensorFlow.js (tests/tfjs/, @tensorflow/tfjs on
 * node), both directions. For each case of tests/tfjs/make_model.js, TF.js
 * builds a model with seeded weights and predicts a seeded input; mlexp loads
 * the model, predicts the same input and must agree; then mlexp saves the
 * model, TF.js loads that and must agree with mlexp. Parameter counts must
 * match too. Also Keras's MobileNetV2 (tests/tfjs/mobilenet_v2.js) and the
 * models of the experiment files (experiments/NAME.json). Needs node and the
 * npm package that scripts/setup.sh --test installs. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TOL
#define TOL 1e-4 /* on |mlexp - TF.js| / max(1, |TF.js|) */
#endif
#define MAX_X 4  /* model inputs a case may have */

/* snprintf that fails the test instead of cutting a path or command short */
static int fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t n, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(buf, n, f, ap);
    va_end(ap);
    CHECK_MSG(k >= 0 && (size_t)k < n, "path or command too long: %.80s...", buf);
    return k >= 0 && (size_t)k < n;
}

/* ---- running node ---- */

static int tfjs_ready(void) {
    char path[1200];
    fmt(path, sizeof path, "%s/tests/tfjs/node_modules/@tensorflow/tfjs/package.json", mx_test_root());
    int ok = system("node --version >/dev/null 2>&1") == 0 && access(path, R_OK) == 0;
    CHECK_MSG(ok, "node or its @tensorflow/tfjs package (%s) is missing: run scripts/setup.sh --test", path);
    return ok;
}

/* The start (or the end) of a text file, for messages: node's error comes
 * first, its stack trace after. */
static const char *log_text(const char *path, int end) {
    static char buf[2048];
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return buf;
    fseek(f, 0, SEEK_END);
    long n = ftell(f), start = end && n > (long)sizeof buf - 1 ? n - (long)sizeof buf + 1 : 0;
    fseek(f, start, SEEK_SET);
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    buf[got] = 0;
    fclose(f);
    /* up to the stack trace */
    char *at = end ? NULL : strstr(buf, "\n    at ");
    if (at) *at = 0;
    for (size_t k = strlen(buf); k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == ' '); k--) buf[k - 1] = 0;
    return buf;
}

/* Run `node tests/tfjs/<args>` from the repository root, output into
 * `log`; on failure the test fails with what node printed. */
static int node(const char *what, const char *log, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int node(const char *what, const char *log, const char *f, ...) {
    char args[3000], cmd[4200];
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(args, sizeof args, f, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof args ||
        !fmt(cmd, sizeof cmd, "cd '%s' && node tests/tfjs/%s >'%s' 2>&1", mx_test_root(), args, log))
        return 0;
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s: `node tests/tfjs/%s` failed (status %d):\n%s", what, args, rc, log_text(log, 0));
    return rc == 0;
}

/* ---- comparing ---- */

static void index_str(const mx_tensor *t, int64_t i, char *buf, size_t n) {
    int64_t idx[MX_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
    }
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->rank && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ", %lld" : "%lld", (long long)idx[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Same shape and |got - want| <= TOL * max(1, |want|) everywhere; the message
 * names the case, the comparison, the worst element and its index. */
static int compare(const char *name, const char *what, const mx_tensor *got, const char *got_by, const mx_tensor *want,
                   const char *want_by) {
    char a[128], b[128];
    int same = got->rank == want->rank;
    for (int d = 0; same && d < got->rank; d++) same = got->shape[d] == want->shape[d];
    CHECK_MSG(same, "case '%s': %s: %s gives shape %s, %s %s", name, what, got_by,
              mx_shape_str(got->rank, got->shape, a, sizeof a), want_by,
              mx_shape_str(want->rank, want->shape, b, sizeof b));
    if (!same) return 0;
    double worst = -1, worst_diff = 0;
    int64_t wi = 0, n = mx_tensor_size(want);
    for (int64_t i = 0; i < n; i++) {
        double g = got->data[i], w = want->data[i], diff = fabs(g - w);
        double e = isnan(diff) ? INFINITY : diff / fmax(1.0, fabs(w));
        if (e > worst) worst = e, worst_diff = diff, wi = i;
    }
    if (n == 0 || worst <= TOL) return 1;
    index_str(want, wi, a, sizeof a);
    mx_test_fail(__FILE__, __LINE__, "case '%s': %s: max diff %.3g (relative %.3g, tol %g) at %s: %s %.8g, %s %.8g",
                 name, what, worst_diff, worst, TOL, a, got_by, got->data[wi], want_by, want->data[wi]);
    return 0;
}

static mx_tensor *load_npy(const char *name, const char *dir, const char *file) {
    char path[1200];
    fmt(path, sizeof path, "%s/%s", dir, file);
    mx_tensor *t = mx_npy_load(path);
    CHECK_MSG(t != NULL, "case '%s': %s", name, mx_error());
    return t;
}

/* ---- predicting with mlexp ---- */

/* Output 0 of the model for inputs xs (mx_predict takes one input; more go
 * through the graph directly). NULL after a failed check. */
static mx_tensor *mlexp_predict(const char *name, mx_model *m, mx_tensor **xs, int nx) {
    CHECK_MSG(nx == mx_model_n_inputs(m), "case '%s': TF.js wrote %d inputs, mlexp's model has %d", name, nx,
              mx_model_n_inputs(m));
    if (nx != mx_model_n_inputs(m)) return NULL;
    int64_t batch = xs[0]->shape[0], shape[MX_MAX_RANK + 1];
    int r = mx_model_output_shape(m, 0, shape + 1);
    shape[0] = batch;
    mx_tensor *y = mx_tensor_new(r + 1, shape);
    if (!y) return NULL;
    int rc = 0;
    if (nx == 1) {
        rc = mx_predict(m, xs[0], y, 0);
    } else if (!(rc = mx_graph_plan(m, (int)batch, 0))) {
        for (int i = 0; i < nx && !rc; i++) {
            int64_t in_shape[MX_MAX_RANK];
            int ir = mx_model_input_shape(m, i, in_shape), ok = xs[i]->rank == ir + 1 && xs[i]->shape[0] == batch;
            for (int d = 0; ok && d < ir; d++) ok = xs[i]->shape[d + 1] == in_shape[d];
            if (!ok) {
                char a[128], b[128];
                rc = mx_fail("input %d is %s, the model expects (N, %s", i,
                             mx_shape_str(xs[i]->rank, xs[i]->shape, a, sizeof a), mx_shape_str(ir, in_shape, b, sizeof b) + 1);
            } else {
                memcpy(m->inputs[i]->data, xs[i]->data, sizeof(float) * (size_t)mx_tensor_size(xs[i]));
            }
        }
        if (!rc) {
            mx_exec ex = {(int)batch, 0, 0, 0};
            mx_graph_forward(m, &ex);
            memcpy(y->data, m->outputs[0]->data, sizeof(float) * (size_t)mx_tensor_size(y));
        }
    }
    CHECK_MSG(rc == 0, "case '%s': mlexp cannot predict: %s", name, mx_error());
    if (rc) {
        mx_tensor_free(y);
        return NULL;
    }
    return y;
}

/* Trainable and non-trainable counts against counts.json of TF.js. */
static void check_counts(const char *name, const mx_model *m, const char *dir) {
    char path[1200];
    fmt(path, sizeof path, "%s/counts.json", dir);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    CHECK_MSG(j != NULL, "case '%s': %s: %s", name, path, e.text);
    if (!j) return;
    long long tr = json_integer_value(json_object_get(j, "trainable"));
    long long nt = json_integer_value(json_object_get(j, "non_trainable"));
    mx_param_counts c = mx_model_param_counts(m);
    CHECK_MSG(c.trainable == tr && c.non_trainable == nt,
              "case '%s': mlexp counts %lld trainable + %lld non-trainable parameters, TF.js %lld + %lld", name,
              (long long)c.trainable, (long long)c.non_trainable, tr, nt);
    json_decref(j);
}

/* The inputs TF.js wrote: x.npy, x1.npy, ... */
static int load_inputs(const char *name, const char *dir, mx_tensor **xs, char *files, size_t files_n) {
    int n = 0;
    files[0] = 0;
    for (; n < MAX_X; n++) {
        char file[32], path[1200];
        fmt(file, sizeof file, n ? "x%d.npy" : "x.npy", n);
        fmt(path, sizeof path, "%s/%s", dir, file);
        if (access(path, R_OK) != 0) break;
        if (!(xs[n] = load_npy(name, dir, file))) break;
        size_t k = strlen(files);
        fmt(files + k, files_n - k, " '%s'", path);
    }
    CHECK_MSG(n > 0, "case '%s': TF.js wrote no x.npy in %s", name, dir);
    return n;
}

/* mlexp saves the model it predicted with; TF.js loads that and predicts
 * the same inputs; the results must agree. */
static void reverse(const char *name, mx_model *m, const char *inputs, const mx_tensor *ours) {
    char dir[1100], log[1200], y2[1200];
    fmt(dir, sizeof dir, "%s/saved_by_mlexp", mx_test_tmpdir());
    fmt(log, sizeof log, "%s/predict.log", mx_test_tmpdir());
    fmt(y2, sizeof y2, "%s/y2.npy", mx_test_tmpdir());
    CHECK_MSG(mx_model_save(m, dir) == 0, "case '%s': mlexp cannot save the model: %s", name, mx_error());
    char what[200];
    fmt(what, sizeof what, "case '%s': TF.js on the model mlexp saved (%s)", name, dir);
    if (!node(what, log, "predict.js '%s'%s '%s'", dir, inputs, y2)) return;
    mx_tensor *t = load_npy(name, mx_test_tmpdir(), "y2.npy");
    if (t) compare(name, "TF.js's prediction with the model saved by mlexp", t, "TF.js", ours, "mlexp");
    mx_tensor_free(t);
}

/* One model directory written by TF.js: load, count, predict, compare, and
 * the reverse direction (also when the prediction differs: whether TF.js
 * then agrees with mlexp tells a misread config from a wrong kernel). */
static void check_model_dir(const char *name, const char *dir) {
    mx_model *m = mx_model_load(dir);
    CHECK_MSG(m != NULL, "case '%s': mlexp cannot load the TF.js model: %s", name, mx_error());
    if (!m) return;
    check_counts(name, m, dir);
    mx_tensor *xs[MAX_X] = {0}, *want = NULL, *ours = NULL;
    char inputs[4 * 1200];
    int nx = load_inputs(name, dir, xs, inputs, sizeof inputs);
    if (nx && (want = load_npy(name, dir, "y.npy")) && (ours = mlexp_predict(name, m, xs, nx))) {
        compare(name, "mlexp's prediction with the model saved by TF.js", ours, "mlexp", want, "TF.js");
        reverse(name, m, inputs, ours);
    }
    for (int i = 0; i < nx; i++) mx_tensor_free(xs[i]);
    mx_tensor_free(want);
    mx_tensor_free(ours);
    mx_model_free(m);
}

static void run_case(const char *name) {
    if (!tfjs_ready()) return;
    char dir[1100], log[1200];
    fmt(dir, sizeof dir, "%s/saved_by_tfjs", mx_test_tmpdir());
    fmt(log, sizeof log, "%s/make_model.log", mx_test_tmpdir());
    char what[200];
    fmt(what, sizeof what, "case '%s': TF.js", name);
    if (node(what, log, "make_model.js '%s' '%s'", name, dir)) check_model_dir(name, dir);
}

/* ---- the cases: the same list as make_model.js --list (tfjs_case_list checks) ---- */

#define TFJS_CASES(X)                                                                                     \
    /* dense, convolutions, pooling, normalisation, shapes */                                              \
    X(dense) X(dense_nobias) X(dense_rank3) X(conv2d_same_s2) X(conv2d_same_s2_odd) X(conv2d_rect)         \
    X(conv2d_valid_dilated) X(conv2d_nobias_relu6) X(conv2d_1x1) X(maxpool_valid) X(maxpool_same)          \
    X(avgpool_valid_s1) X(avgpool_same) X(batchnorm) X(batchnorm_options) X(batchnorm_dense) X(dropout)    \
    X(flatten_reshape) X(reshape_infer)                                                                    \
    /* activations */                                                                                      \
    X(activation_relu) X(activation_relu6) X(activation_elu) X(activation_selu) X(activation_sigmoid)      \
    X(activation_tanh) X(activation_softmax) X(activation_softplus) X(activation_softsign)                 \
    X(activation_hardSigmoid) X(activation_linear) X(activation_swish) X(activation_gelu)                  \
    /* the layers of MobileNet-like models */                                                              \
    X(depthwise_same) X(depthwise_valid_s2_mult2) X(separable) X(separable_mult2) X(zeropad) X(cropping)   \
    X(upsampling_nearest) X(upsampling_bilinear) X(gap) X(gmp) X(relu_layer_maxvalue) X(leakyrelu)         \
    X(prelu) X(prelu_shared_axes) X(softmax_layer) X(softmax_layer_default)                                \
    /* merges */                                                                                           \
    X(add) X(multiply) X(average) X(concat_last) X(concat_axis1) X(permute)                                \
    /* composites */                                                                                       \
    X(residual_block) X(mobilenet_block) X(nested) X(nested_functional) X(nested_frozen)  \
    X(multi_input)                                                                                         \
    /* recurrent layers and their companions */                                                           \
    X(simple_rnn) X(simple_rnn_seq_backwards) X(lstm) X(lstm_tfjs_defaults) X(lstm_backwards_nobias)       \
    X(lstm_stacked) X(gru) X(gru_seq_backwards) X(lstm_return_state) X(lstm_initial_state)                 \
    X(gru_encoder_decoder) X(lstm_stateful) X(bidirectional_concat) X(bidirectional_sum)                   \
    X(bidirectional_mul) X(bidirectional_ave) X(bidirectional_none) X(time_distributed_dense)              \
    X(time_distributed_conv) X(repeat_vector) X(embedding) X(embedding_input_length) X(seq2seq_summation)  \
    /* transposed convolutions */                                                                          \
    X(conv2d_transpose_same) X(conv2d_transpose_valid) X(conv2d_transpose_small_kernel)

#define TFJS_CASE(name)                                                                                                \
    MX_TEST(tfjs_##name) { run_case(#name); }
TFJS_CASES(TFJS_CASE)

#define TFJS_NAME(name) #name,
static const char *const g_cases[] = {TFJS_CASES(TFJS_NAME) NULL};

/* Every case of make_model.js has a test here, and no test names a case it lacks. */
MX_TEST(tfjs_case_list) {
    if (!tfjs_ready()) return;
    char log[1200];
    fmt(log, sizeof log, "%s/list.txt", mx_test_tmpdir());
    if (!node("make_model.js --list", log, "make_model.js --list")) return;
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[256];
    int listed = 0, n_cases = 0;
    while (g_cases[n_cases]) n_cases++;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        int found = 0;
        for (int i = 0; g_cases[i] && !found; i++) found = strcmp(g_cases[i], line) == 0;
        CHECK_MSG(found, "make_model.js has case '%s' but test_tfjs.c has no TFJS_CASE(%s)", line, line);
        listed++;
    }
    fclose(f);
    CHECK_MSG(listed == n_cases, "test_tfjs.c lists %d cases, make_model.js --list %d", n_cases, listed);
}

/* ---- MobileNetV2 ---- */

/* `mlexp info DIR` of the build these tests belong to (next to mx_tests). */
static void check_info(const char *dir) {
    char exe[1024], cmd[3000], log[1200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    fmt(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "mlexp");
    if (access(exe, X_OK) != 0) return; /* the API check below still runs */
    fmt(log, sizeof log, "%s/info.txt", mx_test_tmpdir());
    fmt(cmd, sizeof cmd, "'%s' info '%s' >'%s' 2>&1", exe, dir, log);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "mobilenet_v2: `mlexp info` failed: %s", log_text(log, 0));
    /* the whole output: the totals end the summary, the count formulas follow */
    char *text = mx_read_file(log, NULL, 1 << 24);
    CHECK_MSG(text && strstr(text, "Total params: 3,538,984") && strstr(text, "Trainable params: 3,504,872") &&
                  strstr(text, "Non-trainable params: 34,112"),
              "mobilenet_v2: `mlexp info` does not report 3,538,984 = 3,504,872 + 34,112 parameters:\n%s", log_text(log, 1));
    CHECK_MSG(text && strstr(text, "(in + 1) * units = (1280 + 1) * 1000 = 1281000"),
              "mobilenet_v2: `mlexp info` does not explain the last Dense layer's count:\n%s", log_text(log, 1));
    mx_free(text);
}

MX_TEST(tfjs_mobilenet_v2) {
    if (!tfjs_ready()) return;
    char dir[1100], log[1200];
    fmt(dir, sizeof dir, "%s/mobilenet_v2", mx_test_tmpdir());
    fmt(log, sizeof log, "%s/mobilenet_v2.log", mx_test_tmpdir());
    if (!node("mobilenet_v2", log, "mobilenet_v2.js '%s'", dir)) return;
    char path[1200];
    fmt(path, sizeof path, "%s/metadata.json", dir);
    json_error_t e;
    json_t *meta = json_load_file(path, 0, &e);
    CHECK_MSG(json_array_size(json_object_get(meta, "classes")) == 1000, "mobilenet_v2: %s needs 1000 classes", path);
    json_decref(meta);
    check_info(dir);
    mx_model *m = mx_model_load(dir);
    CHECK_MSG(m != NULL, "mobilenet_v2: mlexp cannot load it: %s", mx_error());
    if (!m) return;
    mx_param_counts c = mx_model_param_counts(m);
    CHECK_MSG(c.trainable == 3504872 && c.non_trainable == 34112,
              "mobilenet_v2: mlexp counts %lld trainable + %lld non-trainable parameters, Keras 3,504,872 + 34,112",
              (long long)c.trainable, (long long)c.non_trainable);
    mx_model_free(m);
    check_model_dir("mobilenet_v2", dir);
}

/* ---- the experiments' models ---- */

/* Biases and BatchNormalization weights away from their initial 0 / 1, so
 * that the comparison sees them. */
static void perturb(mx_model *m) {
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        const char *kind = strrchr(p->name, '/');
        kind = kind ? kind + 1 : p->name;
        if (!strcmp(kind, "bias") || !strcmp(kind, "beta") || !strcmp(kind, "moving_mean"))
            tu_fill(p->data, p->size, 100 + (uint64_t)i, -0.5f, 0.5f);
        else if (!strcmp(kind, "gamma") || !strcmp(kind, "moving_variance"))
            tu_fill(p->data, p->size, 100 + (uint64_t)i, 0.5f, 1.5f);
    }
}

/* A text experiment's model as `mlexp train` builds it (cli/chars.c) for
 * an 83-character vocabulary (Moby Dick's) and the 3 samples predicted
 * here: "vocabulary" made a number, the stateful input batch 3. */
static void text_model(json_t *model) {
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(json_object_get(model, "config"), "layers"), i, l) {
        json_t *cfg = json_object_get(l, "config");
        const char *key;
        json_t *v;
        json_object_foreach(cfg, key, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), "vocabulary")) json_object_set_new(cfg, key, json_integer(83));
        }
        json_t *shape = json_object_get(cfg, "batch_input_shape");
        if (json_is_array(shape)) json_array_set_new(shape, 0, json_integer(3));
    }
}

/* One experiment's model built by mlexp from its config, saved, then
 * predicted by TF.js. Compiled with the experiment's loss and optimizer,
 * model.json also has their trainingConfig, which TF.js must be able to
 * train with (predict.js --train-step). Returns 0 for an experiment without
 * a "model" (transfer learning builds it from a base model directory). */
static int check_model(const char *file, const char *path, const char *part, char *model_text, char *opt_text,
                       char *loss_text, int compiled);

static int check_experiment(const char *file, int compiled) {
    char path[1200];
    fmt(path, sizeof path, "%s/experiments/%s", mx_test_root(), file);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    CHECK_MSG(j != NULL, "%s: %s", path, e.text);
    if (!j) return 1;
    json_t *kind = json_object_get(j, "kind");
    if (json_is_string(kind) && !strcmp(json_string_value(kind), "gan")) {
        /* both models of a GAN; they train through mx_gan_* only (no trainingConfig) */
        int seen = 0;
        for (int k = 0; k < 2 && !compiled; k++) {
            const char *part = k ? "discriminator" : "generator";
            seen += check_model(file, path, part, json_dumps(json_object_get(j, part), 0), NULL, NULL, 0);
        }
        json_decref(j);
        return seen > 0;
    }
    if (!json_is_object(json_object_get(j, "model"))) {
        json_decref(j);
        return 0;
    }
    const char *dataset = json_string_value(json_object_get(json_object_get(j, "dataset"), "name"));
    if (dataset && !strcmp(dataset, "text")) text_model(json_object_get(j, "model"));
    char *model_text = json_dumps(json_object_get(j, "model"), 0);
    json_t *train = json_object_get(j, "training");
    char *opt_text = json_dumps(json_object_get(train, "optimizer"), JSON_ENCODE_ANY);
    char *loss_text = json_dumps(json_object_get(train, "loss"), JSON_ENCODE_ANY);
    json_decref(j);
    return check_model(file, path, NULL, model_text, opt_text, loss_text, compiled);
}

/* The model of experiment `file` (part: a GAN's "generator" or
 * "discriminator", else NULL); takes the texts (freed here). */
static int check_model(const char *file, const char *path, const char *part, char *model_text, char *opt_text,
                       char *loss_text, int compiled) {
    char dir[1200], log[1200], xpath[1200], y2[1200];
    mx_model *m = model_text ? mx_model_from_json(model_text, path, 5) : NULL;
    CHECK_MSG(m != NULL, "experiment %s: mlexp cannot build its model: %s", file, mx_error());
    if (m && compiled) {
        mx_optimizer_config o;
        mx_loss_kind loss;
        int from_logits = 0, rc = !opt_text || !loss_text || mx_optimizer_parse(opt_text, &o) ||
                                  mx_loss_parse(loss_text, &loss, &from_logits) ||
                                  mx_model_compile(m, loss, from_logits, &o);
        CHECK_MSG(rc == 0, "experiment %s: cannot compile with its loss and optimizer: %s", file, mx_error());
    }
    free(model_text);
    free(opt_text);
    free(loss_text);
    if (!m) return 1;
    perturb(m);
    fmt(dir, sizeof dir, "%s/%.*s%s%s", mx_test_tmpdir(), (int)(strlen(file) - 5), file, part ? "_" : "", part ? part : "");
    fmt(log, sizeof log, "%s.log", dir);
    fmt(xpath, sizeof xpath, "%s/x.npy", dir);
    fmt(y2, sizeof y2, "%s/y_tfjs.npy", dir);
    CHECK_MSG(mx_model_save(m, dir) == 0, "experiment %s: mlexp cannot save: %s", file, mx_error());
    int64_t shape[MX_MAX_RANK + 1];
    int r = mx_model_input_shape(m, 0, shape + 1);
    shape[0] = 3;
    mx_tensor *x = mx_tensor_new(r + 1, shape);
    tu_fill(x->data, mx_tensor_size(x), 9, 0, 1);
    CHECK(mx_npy_save(xpath, x) == 0);
    mx_tensor *ours = mlexp_predict(file, m, &x, 1);
    char what[300];
    fmt(what, sizeof what, "experiment %s: TF.js on the model mlexp saved (%s)", file, dir);
    if (ours && node(what, log, "predict.js '%s' '%s' '%s'%s", dir, xpath, y2, compiled ? " --train-step" : "")) {
        mx_tensor *t = mx_npy_load(y2);
        CHECK_MSG(t != NULL, "experiment %s: %s", file, mx_error());
        if (t) compare(file, "TF.js's prediction with the model saved by mlexp", t, "TF.js", ours, "mlexp");
        mx_tensor_free(t);
    }
    mx_tensor_free(ours);
    mx_tensor_free(x);
    mx_model_free(m);
    return 1;
}

static void check_experiments(int compiled) {
    if (!tfjs_ready()) return;
    char dir[1100];
    fmt(dir, sizeof dir, "%s/experiments", mx_test_root());
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    CHECK_MSG(n > 0, "no experiments in %s", dir);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(list[i]->d_name);
        if (len > 5 && !strcmp(list[i]->d_name + len - 5, ".json")) seen += check_experiment(list[i]->d_name, compiled);
        free(list[i]);
    }
    if (n > 0) free(list);
    CHECK_MSG(seen > 0, "no experiment with a \"model\" in %s", dir);
}

MX_TEST(tfjs_experiments) { check_experiments(0); }

/* TF.js compiles a loaded model from its trainingConfig (as tf.loadLayersModel
 * does from files or URLs) and must train it. */
MX_TEST(tfjs_experiments_training_config) { check_experiments(1); }
