/* test_memory.c: what the WebAssembly engine builds on: loading a model from
 * model.json's text and shards in memory, and one training step at a time
 * (mx_train_batch), compared with the file loader and with mx_fit. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CNN "4, 4, 2", \
    "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}}," \
    "{\"class_name\": \"Flatten\", \"config\": {}}," \
    "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.3}}," \
    "{\"class_name\": \"Dense\", \"config\": {\"units\": 4, \"activation\": \"softmax\"}}"

/* replace the first `from` in s (malloc'd) by `to` */
static char *replace(char *s, const char *from, const char *to) {
    char *at = strstr(s, from);
    if (!at) return s;
    size_t n = strlen(s) + strlen(to) + 1;
    char *r = malloc(n);
    snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    free(s);
    return r;
}

static void expect_fail(mx_model *m, const char *needle, const char *what) {
    CHECK_MSG(m == NULL, "%s: loaded", what);
    CHECK_MSG(strstr(mx_error(), needle) != NULL, "%s: error '%s' lacks '%s'", what, mx_error(), needle);
    mx_model_free(m);
}

MX_TEST(model_load_memory_matches_files) {
    mx_model *m = tu_sequential(CNN, 4);
    if (!m) return;
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/cnn", mx_test_tmpdir());
    CHECK_MSG(mx_model_save(m, dir) == 0, "%s", mx_error());
    snprintf(path, sizeof path, "%s/model.json", dir);
    char *json = mx_read_file(path, NULL, (size_t)1 << 24);
    size_t len = 0;
    snprintf(path, sizeof path, "%s/group1-shard1of1.bin", dir);
    char *bin = mx_read_file(path, &len, (size_t)1 << 24);
    if (!json || !bin) return;
    float x[2 * 32], a[8];
    tu_fill(x, 2 * 32, 3, -1, 1);
    memcpy(a, tu_forward(m, x, 2, 0), sizeof a);

    mx_shard one = {"group1-shard1of1.bin", bin, len};
    mx_model *l = mx_model_load_memory(json, "cnn/model.json", &one, 1);
    CHECK_MSG(l != NULL, "%s", mx_error());
    if (l) CHECK(tu_maxdiff(a, tu_forward(l, x, 2, 0), 8) == 0);
    mx_model_free(l);

    /* the same bytes in two shards, given in the other order */
    char *two = replace(strdup(json), "\"group1-shard1of1.bin\"", "\"a.bin\", \"b.bin\"");
    mx_shard halves[2] = {{"b.bin", bin + len / 2, len - len / 2}, {"a.bin", bin, len / 2}};
    l = mx_model_load_memory(two, "two", halves, 2);
    CHECK_MSG(l != NULL, "%s", mx_error());
    if (l) CHECK(tu_maxdiff(a, tu_forward(l, x, 2, 0), 8) == 0);
    mx_model_free(l);

    /* bad input: clear errors, no crash */
    expect_fail(mx_model_load_memory(two, "two", halves + 1, 1), "shard 'b.bin' is missing", "missing shard");
    mx_shard shorter = {"group1-shard1of1.bin", bin, len - 4};
    expect_fail(mx_model_load_memory(json, "short", &shorter, 1), "a missing or short shard", "short shard");
    expect_fail(mx_model_load_memory("{\"modelTopology\": ", "cut.json", &one, 1), "cut.json", "cut JSON");
    expect_fail(mx_model_load_memory("[1, 2]", "list.json", &one, 1), "no modelTopology", "not a model");
    expect_fail(mx_model_load_memory(NULL, "null", NULL, 0), "no model.json text", "no text");
    free(two);
    mx_free(json);
    mx_free(bin);
    mx_model_free(m);
}

/* mx_train_batch steps equal mx_fit over the same batches (no shuffling) */
MX_TEST(train_batch_equals_fit) {
    enum { N = 12, B = 4 };
    mx_model *a = tu_sequential(CNN, 7), *b = tu_sequential(CNN, 7);
    if (!a || !b) return;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    CHECK(mx_model_compile(a, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o) == 0);
    CHECK(mx_model_compile(b, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o) == 0);
    mx_dataset d = {N, 3, {4, 4, 2}, NULL, NULL, 4, NULL, 0};
    float x[N * 32], y[N];
    int32_t labels[N];
    tu_fill(x, N * 32, 5, 0, 1);
    for (int i = 0; i < N; i++) y[i] = (float)(labels[i] = i % 4);
    d.x = x;
    d.y = labels;
    mx_fit_options fo = mx_fit_defaults();
    fo.batch_size = B;
    fo.shuffle = 0;
    fo.seed = 7; /* the model's seed: the same dropout streams */
    mx_history h = {0};
    CHECK_MSG(mx_fit(a, &d, &fo, &h) == 0, "%s", mx_error());
    mx_history_free(&h);
    double loss = 0;
    for (int s = 0; s < N / B; s++) {
        CHECK_MSG(mx_train_batch(b, x + s * B * 32, y + s * B, B, &loss) == 0, "%s", mx_error());
        CHECK(isfinite(loss) && loss > 0);
    }
    int64_t n = mx_model_weights_size(a);
    float *wa = malloc(sizeof(float) * (size_t)n), *wb = malloc(sizeof(float) * (size_t)n);
    mx_model_weights_get(a, wa);
    mx_model_weights_get(b, wb);
    CHECK_MSG(tu_maxdiff(wa, wb, n) == 0, "weights differ by %g", tu_maxdiff(wa, wb, n));
    /* a smaller batch reuses the plan */
    CHECK(mx_train_batch(b, x, y, 1, NULL) == 0);

    float bad[B] = {0, 1, 4, 2};
    CHECK(mx_train_batch(b, x, bad, B, NULL) == -1 && strstr(mx_error(), "not a class index in 0..3"));
    bad[2] = 1.5f;
    CHECK(mx_train_batch(b, x, bad, B, NULL) == -1 && strstr(mx_error(), "target 2 is 1.5"));
    mx_model *c = tu_sequential(CNN, 7);
    CHECK(mx_train_batch(c, x, y, B, NULL) == -1 && strstr(mx_error(), "compile it first"));
    mx_model_free(c);
    free(wa);
    free(wb);
    mx_model_free(a);
    mx_model_free(b);
}
