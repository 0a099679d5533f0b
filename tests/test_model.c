/* test_model.c: the experiment models (Keras parameter counts), the TF.js
 * model format both ways, corrupt files, and training determinism and
 * resumption. */
#define _POSIX_C_SOURCE 200809L
#include "io/model_io.h"
#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static mx_model *experiment_model(const char *name, uint64_t seed) {
    char path[1024];
    snprintf(path, sizeof path, "%s/experiments/%s.json", mx_test_root(), name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) {
        mx_test_fail(__FILE__, __LINE__, "%s: %s", path, e.text);
        return NULL;
    }
    char *text = json_dumps(json_object_get(j, "model"), 0);
    mx_model *m = mx_model_from_json(text, path, seed);
    if (!m) mx_test_fail(__FILE__, __LINE__, "%s: %s", name, mx_error());
    free(text);
    json_decref(j);
    return m;
}

static char *summary_of(const mx_model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mx_model_summary(m, f);
    fclose(f);
    return buf;
}

MX_TEST(model_experiment_parameter_counts) {
    struct {
        const char *name, *total;
        int64_t n;
    } cases[] = {{"digits_mlp", "118,282", 118282}, {"digits_cnn", "37,610", 37610}, {"fashion_cnn", "421,642", 421642}};
    for (int i = 0; i < 3; i++) {
        mx_model *m = experiment_model(cases[i].name, 1);
        if (!m) continue;
        mx_param_counts c = mx_model_param_counts(m);
        CHECK_MSG(c.trainable == cases[i].n && c.non_trainable == 0, "%s: %lld + %lld params", cases[i].name,
                  (long long)c.trainable, (long long)c.non_trainable);
        char *s = summary_of(m);
        char want[64];
        snprintf(want, sizeof want, "Total params: %s", cases[i].total);
        CHECK_MSG(strstr(s, want) != NULL, "%s summary lacks '%s':\n%s", cases[i].name, want, s);
        free(s);
        mx_model_free(m);
    }
    /* Keras's layer names and output shapes */
    mx_model *m = experiment_model("fashion_cnn", 1);
    if (!m) return;
    char *s = summary_of(m);
    CHECK(strstr(s, "conv2d_1 (Conv2D)") && strstr(s, "(None, 14, 14, 64)") && strstr(s, "max_pooling2d_1 (MaxPooling2D)"));
    CHECK(strstr(s, "dense_1 (Dense)") && strstr(s, "(None, 3136)") && strstr(s, "401,536"));
    free(s);
    mx_model_free(m);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    b[n] = 0;
    fclose(f);
    return b;
}

static void save_text(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
}

MX_TEST(model_save_load_round_trip) {
    mx_model *m = experiment_model("fashion_cnn", 3);
    if (!m) return;
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/fashion", mx_test_tmpdir());
    CHECK_MSG(mx_model_save(m, dir) == 0, "%s", mx_error());
    /* 421,642 floats = 1.6 MiB: one shard */
    snprintf(path, sizeof path, "%s/group1-shard1of1.bin", dir);
    CHECK(access(path, F_OK) == 0);
    mx_model *l = mx_model_load(dir);
    CHECK_MSG(l != NULL, "%s", mx_error());
    if (!l) return;
    float x[2 * 784];
    tu_fill(x, 2 * 784, 1, 0, 1);
    float a[20], b[20];
    memcpy(a, tu_forward(m, x, 2, 0), sizeof a);
    memcpy(b, tu_forward(l, x, 2, 0), sizeof b);
    CHECK(tu_maxdiff(a, b, 20) == 0);
    /* saving the loaded model writes the same model.json */
    char dir2[1060];
    snprintf(dir2, sizeof dir2, "%s/again", mx_test_tmpdir());
    CHECK(mx_model_save(l, dir2) == 0);
    snprintf(path, sizeof path, "%s/model.json", dir);
    char *t1 = slurp(path);
    snprintf(path, sizeof path, "%s/model.json", dir2);
    char *t2 = slurp(path);
    CHECK(t1 && t2 && strcmp(t1, t2) == 0);
    CHECK(t1 && strstr(t1, "\"format\": \"layers-model\"") && strstr(t1, "\"weightsManifest\""));
    free(t1);
    free(t2);
    mx_model_free(m);
    mx_model_free(l);
}

MX_TEST(model_functional_round_trip) {
    const char *json =
        "{\"class_name\": \"Model\", \"config\": {\"name\": \"res\", \"layers\": ["
        "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 6, 6, 2]}, \"inbound_nodes\": []},"
        "{\"name\": \"c\", \"class_name\": \"Conv2D\", \"config\": {\"filters\": 2, \"kernel_size\": 3, \"padding\": \"same\"}, "
        " \"inbound_nodes\": [[[\"x\", 0, 0, {}]]]},"
        "{\"name\": \"bn\", \"class_name\": \"BatchNormalization\", \"config\": {}, \"inbound_nodes\": [[[\"c\", 0, 0, {}]]]},"
        "{\"name\": \"sum\", \"class_name\": \"Add\", \"config\": {}, \"inbound_nodes\": [[[\"bn\", 0, 0, {}], [\"x\", 0, 0, {}]]]},"
        "{\"name\": \"f\", \"class_name\": \"Flatten\", \"config\": {}, \"inbound_nodes\": [[[\"sum\", 0, 0, {}]]]},"
        "{\"name\": \"out\", \"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"softmax\"}, \"inbound_nodes\": [[[\"f\", 0, 0, {}]]]}],"
        "\"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"out\", 0, 0]]}}";
    mx_model *m = mx_model_from_json(json, "res.json", 2);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    tu_fill(tu_param(m, "bn/moving_mean")->data, 2, 5, -1, 1);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/res", mx_test_tmpdir());
    CHECK(mx_model_save(m, dir) == 0);
    mx_model *l = mx_model_load(dir);
    CHECK_MSG(l != NULL, "%s", mx_error());
    if (!l) return;
    CHECK(!l->sequential && l->n_nodes == 6);
    mx_param_counts a = mx_model_param_counts(m), b = mx_model_param_counts(l);
    CHECK(a.trainable == b.trainable && a.non_trainable == b.non_trainable && a.non_trainable == 4);
    float x[72], ya[3];
    tu_fill(x, 72, 1, -1, 1);
    memcpy(ya, tu_forward(m, x, 1, 0), sizeof ya);
    CHECK(tu_maxdiff(ya, tu_forward(l, x, 1, 0), 3) == 0);
    char *s = summary_of(l);
    CHECK(strstr(s, "Connected to") && strstr(s, "bn[0][0]") && strstr(s, "x[0][0]"));
    free(s);
    mx_model_free(m);
    mx_model_free(l);
}

/* corrupt a saved model in one way and check the error names the problem */
static void expect_load_error(const char *dir, const char *needle, const char *what) {
    mx_model *m = mx_model_load(dir);
    CHECK_MSG(m == NULL, "%s: loaded a broken model", what);
    CHECK_MSG(strstr(mx_error(), needle) != NULL, "%s: error '%s' lacks '%s'", what, mx_error(), needle);
    mx_model_free(m);
}

MX_TEST(model_corrupt_files) {
    mx_model *m = experiment_model("digits_cnn", 1);
    if (!m) return;
    char dir[1024], json[1100], shard[1100];
    snprintf(dir, sizeof dir, "%s/m", mx_test_tmpdir());
    CHECK(mx_model_save(m, dir) == 0);
    mx_model_free(m);
    snprintf(json, sizeof json, "%s/model.json", dir);
    snprintf(shard, sizeof shard, "%s/group1-shard1of1.bin", dir);
    char *good = slurp(json), *bin = slurp(shard);
    size_t glen = strlen(good);
    long blen = 37610 * 4;

    save_text(json, good, glen / 2); /* truncated */
    expect_load_error(dir, "model.json", "truncated model.json");
    expect_load_error(dir, "invalid JSON", "truncated model.json");
    save_text(json, "not json at all", 15);
    expect_load_error(dir, "line 1", "not JSON");
    save_text(json, "[1, 2]", 6);
    expect_load_error(dir, "modelTopology", "JSON but not a model");
    save_text(json, good, glen);

    save_text(shard, bin, (size_t)blen - 100); /* short shard */
    expect_load_error(dir, "bytes", "short shard");
    remove(shard);
    expect_load_error(dir, "group1-shard1of1.bin", "missing shard");
    save_text(shard, bin, (size_t)blen);

    /* edit the manifest: a kernel shape that does not fit, then absurd sizes */
    json_t *j = json_loads(good, 0, NULL);
    json_t *shape = json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(j, "weightsManifest"), 0),
                                                                   "weights"), 0), "shape");
    CHECK(json_is_array(shape) && json_array_size(shape) == 4);
    json_array_set_new(shape, 3, json_integer(9));
    json_dump_file(j, json, 0);
    expect_load_error(dir, "conv2d", "wrong weight shape");
    expect_load_error(dir, "(5, 5, 1, 8)", "wrong weight shape");
    json_array_set_new(shape, 0, json_integer(99999999));
    json_array_set_new(shape, 1, json_integer(99999999));
    json_array_set_new(shape, 2, json_integer(99999));
    json_dump_file(j, json, 0);
    expect_load_error(dir, "too large", "huge shape");
    json_decref(j);
    char *bad = strdup(good), *p = strstr(bad, "\"Dropout\"");
    CHECK(p != NULL);
    if (p) {
        memcpy(p, "\"Dropoff\"", 9);
        save_text(json, bad, glen);
        expect_load_error(dir, "Dropoff", "unknown layer");
    }
    free(bad);
    free(good);
    free(bin);
}

/* ---- training: determinism and resumption ---- */

static mx_dataset *synthetic(int n, uint64_t seed) {
    mx_dataset *d = calloc(1, sizeof *d);
    d->n = n;
    d->rank = 3;
    d->shape[0] = 8, d->shape[1] = 8, d->shape[2] = 1;
    d->x = malloc(sizeof(float) * (size_t)(n * 64));
    d->y = malloc(sizeof(int32_t) * (size_t)n);
    d->n_classes = 3;
    mx_rng r;
    mx_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int c = (int)mx_rng_below(&r, 3);
        d->y[i] = c;
        /* class c: a bright bar in row band c, plus noise */
        for (int p = 0; p < 64; p++)
            d->x[i * 64 + p] = (float)(255 * (((p / 8) / 3 == c) ? 0.8 : 0.1) + 40 * mx_rng_uniform(&r));
    }
    return d;
}

static void free_synthetic(mx_dataset *d) {
    free(d->x);
    free(d->y);
    free(d);
}

static const char *small_cnn =
    "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 3, \"activation\": \"relu\", \"padding\": \"same\"}},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {}},"
    "{\"class_name\": \"Flatten\", \"config\": {}},"
    "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.3}},"
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"softmax\"}}";

static float *train_small(int threads, int epochs, int split_at, const char *dir, mx_history *hist_out) {
    mx_set_threads(threads);
    mx_dataset *d = synthetic(200, 4);
    mx_model *m = tu_sequential("8, 8, 1", small_cnn, 11);
    if (!m) return NULL;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    o.learning_rate = 0.01f;
    mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
    mx_augment aug = {.shift = 0.1f, .rotation = 10, .zoom = 0.1f};
    mx_fit_options f = mx_fit_defaults();
    f.batch_size = 16;
    f.seed = 9;
    f.scale = 1 / 255.0f;
    f.augment = &aug;
    f.validation_split = 0.2f;
    mx_history h = {0};
    if (split_at) { /* train part of the way, save, and continue in a fresh model */
        f.epochs = split_at;
        CHECK(mx_fit(m, d, &f, &h) == 0);
        char op[1100];
        snprintf(op, sizeof op, "%s/opt.bin", dir);
        CHECK(mx_model_save(m, dir) == 0 && mx_optimizer_state_save(m, op) == 0);
        mx_model_free(m);
        m = mx_model_load(dir);
        CHECK_MSG(m != NULL, "%s", mx_error());
        if (!m) return NULL;
        mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
        CHECK_MSG(mx_optimizer_state_load(m, op) == 0, "%s", mx_error());
        f.initial_epoch = h.n;
    }
    f.epochs = epochs;
    CHECK_MSG(mx_fit(m, d, &f, &h) == 0, "%s", mx_error());
    float *w = malloc(sizeof(float) * (size_t)mx_model_weights_size(m));
    mx_model_weights_get(m, w);
    if (hist_out) *hist_out = h;
    else mx_history_free(&h);
    mx_model_free(m);
    free_synthetic(d);
    return w;
}

MX_TEST(train_learns_and_is_deterministic) {
    mx_history h;
    float *a = train_small(2, 4, 0, NULL, &h);
    float *b = train_small(2, 4, 0, NULL, NULL);
    float *c = train_small(1, 4, 0, NULL, NULL);
    if (!a || !b || !c) return;
    int64_t n = 4 * 9 + 4 + 4 * 4 + 64 * 3 + 3;
    CHECK(h.n == 4);
    CHECK_MSG(h.epochs[3].val_accuracy > 0.9, "validation accuracy %.3f after 4 epochs", h.epochs[3].val_accuracy);
    CHECK(h.epochs[3].loss < h.epochs[0].loss);
    CHECK_MSG(memcmp(a, b, sizeof(float) * (size_t)n) == 0, "same seed, same threads: weights differ");
    CHECK_MSG(memcmp(a, c, sizeof(float) * (size_t)n) == 0, "1 and 2 threads: weights differ");
    mx_history_free(&h);
    free(a);
    free(b);
    free(c);
}

MX_TEST(train_resume_is_bit_identical) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/ck", mx_test_tmpdir());
    mx_history h1, h2;
    float *a = train_small(2, 3, 0, NULL, &h1);
    float *b = train_small(2, 3, 1, dir, &h2);
    if (!a || !b) return;
    int64_t n = 4 * 9 + 4 + 4 * 4 + 64 * 3 + 3;
    CHECK_MSG(memcmp(a, b, sizeof(float) * (size_t)n) == 0, "resumed training differs from an uninterrupted run");
    CHECK(h2.n == 3 && h1.epochs[2].loss == h2.epochs[2].loss);
    mx_history_free(&h1);
    mx_history_free(&h2);
    free(a);
    free(b);
}

MX_TEST(train_early_stopping_restores_best) {
    mx_dataset *d = synthetic(120, 5);
    mx_model *m = tu_sequential("8, 8, 1", small_cnn, 3);
    if (!m) return;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
    mx_fit_options f = mx_fit_defaults();
    f.epochs = 30;
    f.batch_size = 8;
    f.scale = 1 / 255.0f;
    f.validation_split = 0.25f;
    /* no later epoch improves by 10: stop after patience, back at the first epoch's weights */
    f.early_stopping_min_delta = 10;
    f.early_stopping_patience = 2;
    f.restore_best_weights = 1;
    mx_history h = {0};
    CHECK(mx_fit(m, d, &f, &h) == 0);
    CHECK_MSG(h.stopped_early && h.n < 30, "did not stop early (%d epochs)", h.n);
    if (h.stopped_early) {
        CHECK(h.n - h.best_epoch == 2);
        /* the restored weights give the best validation loss again */
        mx_dataset val = *d;
        val.n = 30;
        val.x = d->x + 90 * 64;
        val.y = d->y + 90;
        mx_eval_result r;
        CHECK(mx_evaluate(m, &val, 1 / 255.0f, 0, 8, &r) == 0);
        CHECK_NEAR(r.loss, h.epochs[h.best_epoch - 1].val_loss, 1e-5);
        mx_eval_result_free(&r);
    }
    mx_history_free(&h);
    mx_model_free(m);
    free_synthetic(d);
}

MX_TEST(train_bad_data_is_an_error) {
    mx_dataset *d = synthetic(10, 1);
    mx_model *m = tu_sequential("8, 8, 2", "{\"class_name\": \"Flatten\", \"config\": {}}, {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}", 1);
    if (!m) return;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    mx_fit_options f = mx_fit_defaults();
    mx_history h = {0};
    CHECK(mx_fit(m, d, &f, &h) == -1 && strstr(mx_error(), "compile"));
    mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
    CHECK(mx_fit(m, d, &f, &h) == -1 && strstr(mx_error(), "(8, 8, 1)") && strstr(mx_error(), "(8, 8, 2)"));
    mx_model_free(m);
    m = tu_sequential("8, 8, 1", "{\"class_name\": \"Flatten\", \"config\": {}}, {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}", 1);
    mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
    CHECK(mx_fit(m, d, &f, &h) == -1 && strstr(mx_error(), "label 2"));
    mx_history_free(&h);
    mx_model_free(m);
    free_synthetic(d);
}

/* A frozen Sequential base nested in a functional model and called with
 * training=False (the transfer-learning shape): Keras's counts and summary
 * row, inference mode inside, frozen weights, and a faithful round trip. */
MX_TEST(model_nested_frozen_base) {
    const char *json =
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"transfer\", \"layers\": ["
        "{\"name\": \"img\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 8, 8, 3]}, \"inbound_nodes\": []},"
        "{\"name\": \"base\", \"class_name\": \"Sequential\", \"config\": {\"name\": \"base\", \"trainable\": false, \"layers\": ["
        "  {\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 8, 8, 3], \"name\": \"base_in\"}},"
        "  {\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}},"
        "  {\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\"}},"
        "  {\"class_name\": \"Dropout\", \"config\": {\"name\": \"drop\", \"rate\": 0.5}},"
        "  {\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"gap\"}}]},"
        " \"inbound_nodes\": [[[\"img\", 0, 0, {\"training\": false}]]]},"
        "{\"name\": \"head\", \"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"softmax\"}, \"inbound_nodes\": [[[\"base\", 0, 0, {}]]]}],"
        "\"input_layers\": [[\"img\", 0, 0]], \"output_layers\": [[\"head\", 0, 0]]}}";
    mx_model *m = mx_model_from_json(json, "transfer.json", 7);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    mx_param_counts c = mx_model_param_counts(m);
    CHECK_MSG(c.trainable == 4 * 3 + 3 && c.non_trainable == 3 * 3 * 3 * 4 + 4 + 4 * 4, "counts %lld + %lld",
              (long long)c.trainable, (long long)c.non_trainable);
    char *s = summary_of(m);
    CHECK_MSG(strstr(s, "base (Sequential)") && strstr(s, "(None, 4)") && strstr(s, "img[0][0]") && !strstr(s, "bn (Batch"),
              "summary:\n%s", s);
    free(s);
    /* training=False: the dropout inside stays off in a training step */
    float x[2 * 192], y0[6];
    tu_fill(x, 2 * 192, 3, 0, 1);
    memcpy(y0, tu_forward(m, x, 2, 0), sizeof y0);
    CHECK(tu_maxdiff(tu_forward(m, x, 2, 1), y0, 6) == 0);
    /* fitting trains the head only; the base (moving statistics included) stays */
    int64_t nw = mx_model_weights_size(m);
    float *before = malloc(sizeof(float) * (size_t)nw), *after = malloc(sizeof(float) * (size_t)nw);
    mx_model_weights_get(m, before);
    mx_dataset *d = calloc(1, sizeof *d);
    d->n = 16, d->rank = 3, d->shape[0] = 8, d->shape[1] = 8, d->shape[2] = 3, d->n_classes = 3;
    d->x = malloc(sizeof(float) * 16 * 192);
    d->y = malloc(sizeof(int32_t) * 16);
    tu_fill(d->x, 16 * 192, 9, 0, 255);
    for (int i = 0; i < 16; i++) d->y[i] = i % 3;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o);
    mx_fit_options f = mx_fit_defaults();
    f.epochs = 2, f.batch_size = 4, f.scale = 1 / 255.0f;
    mx_history h = {0};
    CHECK_MSG(mx_fit(m, d, &f, &h) == 0, "%s", mx_error());
    mx_model_weights_get(m, after);
    int64_t base = 3 * 3 * 3 * 4 + 4 + 4 * 4;
    CHECK_MSG(memcmp(before, after, sizeof(float) * (size_t)base) == 0, "frozen base weights changed");
    CHECK_MSG(memcmp(before + base, after + base, sizeof(float) * (size_t)(nw - base)) != 0, "the head did not train");
    /* written back nested, with training=False, and read back the same */
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/transfer", mx_test_tmpdir());
    CHECK(mx_model_save(m, dir) == 0);
    snprintf(path, sizeof path, "%s/model.json", dir);
    char *text = slurp(path);
    CHECK(text && strstr(text, "\"Sequential\"") && strstr(text, "\"training\": false") && strstr(text, "\"base_in\""));
    free(text);
    mx_model *l = mx_model_load(dir);
    CHECK_MSG(l != NULL, "%s", mx_error());
    if (l) {
        mx_param_counts c2 = mx_model_param_counts(l);
        CHECK(c2.trainable == c.trainable && c2.non_trainable == c.non_trainable);
        float ya[6];
        memcpy(ya, tu_forward(m, x, 2, 0), sizeof ya);
        CHECK(tu_maxdiff(tu_forward(l, x, 2, 0), ya, 6) == 0);
        mx_model_free(l);
    }
    mx_history_free(&h);
    free(before);
    free(after);
    free(d->x);
    free(d->y);
    free(d);
    mx_model_free(m);
}

/* The tensorflowjs converter's output: the topology wrapped in model_config
 * with training_config beside it, weight names with a model prefix and ":0",
 * and weights quantized to uint8 / uint16 / float16 (dequantized on load). */
static uint16_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xff, mant = x & 0x7fffff;
    if (e < 113) return (uint16_t)sign; /* tiny: zero */
    return (uint16_t)(sign | ((e - 112) << 10) | (mant >> 13));
}

MX_TEST(model_converter_quantized) {
    mx_model *m = tu_sequential("6", "{\"class_name\": \"Dense\", \"config\": {\"units\": 5, \"activation\": \"tanh\"}},"
                                     "{\"class_name\": \"Dense\", \"config\": {\"units\": 3}}", 5);
    if (!m) return;
    const char *dtypes[] = {"uint8", "uint16", "float16"};
    for (int q = 0; q < 3; q++) {
        json_t *specs = json_array();
        unsigned char *bytes = malloc(1 << 16);
        size_t off = 0;
        mx_model *want = tu_sequential("6", "{\"class_name\": \"Dense\", \"config\": {\"units\": 5, \"activation\": \"tanh\"}},"
                                            "{\"class_name\": \"Dense\", \"config\": {\"units\": 3}}", 5);
        for (int i = 0; i < m->n_params; i++) {
            mx_param *p = m->params[i];
            float mn = p->data[0], mx = p->data[0];
            for (int64_t k = 0; k < p->size; k++) mn = fminf(mn, p->data[k]), mx = fmaxf(mx, p->data[k]);
            int levels = q == 0 ? 255 : 65535;
            float scale = mx > mn ? (mx - mn) / (float)levels : 1;
            json_t *shape = json_array();
            for (int d = 0; d < p->rank; d++) json_array_append_new(shape, json_integer(p->dims[d]));
            char name[sizeof p->name + 16];
            snprintf(name, sizeof name, "sequential_7/%s:0", p->name);
            json_t *quant = q == 2 ? json_pack("{s:s}", "dtype", "float16")
                                   : json_pack("{s:s, s:f, s:f}", "dtype", dtypes[q], "scale", (double)scale, "min", (double)mn);
            json_array_append_new(specs, json_pack("{s:s, s:o, s:s, s:o}", "name", name, "shape", shape, "dtype", "float32",
                                                   "quantization", quant));
            for (int64_t k = 0; k < p->size; k++) {
                float deq;
                if (q == 2) {
                    uint16_t h = to_half(p->data[k]);
                    memcpy(bytes + off, &h, 2), off += 2;
                    deq = NAN; /* checked by tolerance below */
                } else {
                    uint32_t v = (uint32_t)lroundf((p->data[k] - mn) / scale);
                    if (q == 0) bytes[off++] = (unsigned char)v;
                    else {
                        uint16_t v16 = (uint16_t)v;
                        memcpy(bytes + off, &v16, 2), off += 2;
                    }
                    deq = (float)v * scale + mn;
                }
                want->params[i]->data[k] = q == 2 ? p->data[k] : deq;
            }
        }
        char dir[1024], path[1100];
        snprintf(dir, sizeof dir, "%s/conv_%s", mx_test_tmpdir(), dtypes[q]);
        mx_mkdirs(dir);
        snprintf(path, sizeof path, "%s/group1-shard1of1.bin", dir);
        mx_write_file(path, bytes, off);
        json_t *topo = mx_topology_write(m);
        json_t *root = json_pack("{s:{s:s, s:s, s:o, s:{s:s}}, s:[{s:[s], s:o}]}", "modelTopology", "keras_version", "2.4.0",
                                 "backend", "tensorflow", "model_config", topo, "training_config", "loss", "mse",
                                 "weightsManifest", "paths", "group1-shard1of1.bin", "weights", specs);
        snprintf(path, sizeof path, "%s/model.json", dir);
        json_dump_file(root, path, 0);
        json_decref(root);
        mx_model *l = mx_model_load(dir);
        CHECK_MSG(l != NULL, "%s: %s", dtypes[q], mx_error());
        if (l) {
            float x[12], ya[6];
            tu_fill(x, 12, 3, -1, 1);
            memcpy(ya, tu_forward(want, x, 2, 0), sizeof ya);
            double tol = q == 2 ? 2e-3 : 1e-5; /* float16 keeps 11 significant bits */
            CHECK_MSG(tu_maxdiff(tu_forward(l, x, 2, 0), ya, 6) < tol, "%s weights: outputs differ by %g", dtypes[q],
                      tu_maxdiff(tu_forward(l, x, 2, 0), ya, 6));
            mx_model_free(l);
        }
        mx_model_free(want);
        free(bytes);
    }
    mx_model_free(m);
}

/* Hostile configs: errors, never a crash or an unbounded allocation. */
MX_TEST(model_malicious_configs) {
    const char *cases[][2] = {
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
         "{\"batch_input_shape\": [null, 1000000000, 1000000000, 3]}}]}}", "too large"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
         "{\"batch_input_shape\": [null, 4]}}, {\"class_name\": \"Dense\", \"config\": {\"units\": 2000000000}}]}}", "units"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
         "{\"batch_input_shape\": [null, 4]}}, {\"class_name\": \"Dense\", \"config\": {\"units\": -3}}]}}", "units"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
         "{\"batch_input_shape\": [null, -4]}}]}}", "batch_input_shape"},
        {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
         "{\"batch_input_shape\": [null, 8, 8, 3]}}, {\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, "
         "\"kernel_size\": 99999999}}]}}", "kernel_size"},
        {"{\"class_name\": \"Model\", \"config\": {\"layers\": [{\"name\": \"a\", \"class_name\": \"Dense\", \"config\": "
         "{\"units\": 2}, \"inbound_nodes\": [[[\"a\", 0, 0, {}]]]}], \"input_layers\": [], \"output_layers\": [[\"a\", 0, 0]]}}",
         "cycle"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_model *m = mx_model_from_json(cases[i][0], "evil.json", 1);
        CHECK_MSG(!m, "case %zu loaded", i);
        CHECK_MSG(strstr(mx_error(), cases[i][1]) && strstr(mx_error(), "evil.json"), "case %zu: '%s'", i, mx_error());
        mx_model_free(m);
    }
    /* JSON nested far deeper than any model: the parser refuses it */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = 0;
    mx_model *m = mx_model_from_json(deep, "deep.json", 1);
    CHECK(!m && strstr(mx_error(), "deep.json"));
    free(deep);
    /* models nested 64 deep: read (or refused) without trouble */
    char *nest = malloc(1 << 20), *p = nest;
    p += sprintf(p, "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", "
                    "\"config\": {\"batch_input_shape\": [null, 3]}}");
    for (int k = 0; k < 64; k++)
        p += sprintf(p, "%s{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s%d\", \"layers\": [", k ? "" : ", ", k);
    p += sprintf(p, "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}");
    for (int k = 0; k < 64; k++) p += sprintf(p, "]}}");
    sprintf(p, "]}}");
    m = mx_model_from_json(nest, "nest.json", 1);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (m) CHECK(mx_model_param_counts(m).trainable == 8);
    mx_model_free(m);
    free(nest);
}
