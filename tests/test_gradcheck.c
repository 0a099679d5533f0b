/* test_gradcheck.c: the gradient check of `mlexp gradcheck` passes on
 * every layer type of the registry (each built from its own example, so a
 * new type is covered, or this test fails until it has one), on every loss
 * (with and without the output activation fused into it) and on every
 * activation. */
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

extern const mx_layer_type *const mx_layer_types[]; /* layers/registry.c */

/* Input -> the layer (on the input, or for merges on the input and
 * tanh(input)) as a functional Keras config */
static char *model_of(const mx_layer_type *t, json_t *ex) {
    json_t *input = json_object_get(ex, "input"), *cfg = json_object_get(ex, "config");
    int n_in = json_is_integer(json_object_get(ex, "inputs")) ? (int)json_integer_value(json_object_get(ex, "inputs")) : 1;
    json_t *shape = json_array();
    json_array_append_new(shape, json_null());
    json_array_extend(shape, input);
    json_t *layers = json_array();
    json_array_append_new(layers, json_pack("{s:s, s:s, s:{s:s, s:o}, s:[]}", "class_name", "InputLayer", "name", "x",
                                            "config", "name", "x", "batch_input_shape", shape, "inbound_nodes"));
    json_t *inbound = json_array();
    json_array_append_new(inbound, json_pack("[s, i, i, {}]", "x", 0, 0));
    if (n_in == 2) {
        json_array_append_new(layers, json_pack("{s:s, s:s, s:{s:s, s:s}, s:[[[s, i, i, {}]]]}", "class_name",
                                                "Activation", "name", "branch", "config", "name", "branch", "activation",
                                                "tanh", "inbound_nodes", "x", 0, 0));
        json_array_append_new(inbound, json_pack("[s, i, i, {}]", "branch", 0, 0));
    }
    json_t *lc = json_deep_copy(cfg);
    json_object_set_new(lc, "name", json_string("under_test"));
    json_array_append_new(layers, json_pack("{s:s, s:s, s:o, s:[o]}", "class_name", t->class_name, "name", "under_test",
                                            "config", lc, "inbound_nodes", inbound));
    json_t *m = json_pack("{s:s, s:{s:s, s:o, s:[[s, i, i]], s:[[s, i, i]]}}", "class_name", "Functional", "config",
                          "name", "t", "layers", layers, "input_layers", "x", 0, 0, "output_layers", "under_test", 0, 0);
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return s;
}

/* uniform in [-1, 1], or in the example's "range" [lo, hi] */
static mx_tensor *random_input(mx_model *m, int batch, uint64_t seed, json_t *range) {
    int64_t shape[MX_MAX_RANK];
    shape[0] = batch;
    int r = mx_model_input_shape(m, 0, shape + 1);
    mx_tensor *x = mx_tensor_new(r + 1, shape);
    float lo = -1, hi = 1;
    if (json_array_size(range) == 2) {
        lo = (float)json_number_value(json_array_get(range, 0));
        hi = (float)json_number_value(json_array_get(range, 1));
    }
    if (x) tu_fill(x->data, mx_tensor_size(x), seed, lo, hi);
    return x;
}

static void check_report(const mx_gradcheck_report *r, const char *what) {
    CHECK_MSG(r->pass, "%s: fails, worst %s (error %.3g)", what, r->worst, r->max_err);
    CHECK_MSG(r->checked > 0, "%s: nothing checked", what);
    CHECK_MSG(r->skipped * 4 <= r->checked + r->skipped, "%s: %d of %d probes at kinks", what, r->skipped,
              r->checked + r->skipped);
}

MX_TEST(gradcheck_every_layer_type) {
    int covered = 0;
    for (int i = 0; mx_layer_types[i]; i++) {
        const mx_layer_type *t = mx_layer_types[i];
        if (!strcmp(t->class_name, "InputLayer")) continue;
        CHECK_MSG(t->example, "layer type %s has no example (mx_layer_type.example): add one", t->class_name);
        if (!t->example) continue;
        json_error_t e;
        json_t *ex = json_loads(t->example, 0, &e);
        CHECK_MSG(ex, "%s: example is not JSON: %s", t->class_name, e.text);
        if (!ex) continue;
        char *cfg = model_of(t, ex);
        mx_model *m = mx_model_from_json(cfg, t->class_name, 7);
        CHECK_MSG(m, "%s: the example does not build: %s", t->class_name, mx_error());
        int batch = json_is_integer(json_object_get(ex, "batch")) ? (int)json_integer_value(json_object_get(ex, "batch")) : 2;
        if (m) {
            mx_tensor *x = random_input(m, batch, (uint64_t)i + 1, json_object_get(ex, "range"));
            mx_gradcheck_options o = {0};
            o.seed = (uint64_t)i + 11;
            mx_gradcheck_report r;
            CHECK_MSG(mx_model_gradcheck(m, x, &o, &r) == 0, "%s: %s", t->class_name, mx_error());
            check_report(&r, t->class_name);
            /* the input and each trainable weight are in the table */
            int weights = 0;
            for (int k = 0; k < m->n_params; k++) weights += m->params[k]->trainable;
            CHECK_MSG(r.n == weights + 1, "%s: %d tensors checked, want %d", t->class_name, r.n, weights + 1);
            covered++;
            mx_gradcheck_report_free(&r);
            mx_tensor_free(x);
        }
        mx_model_free(m);
        free(cfg);
        json_decref(ex);
    }
    CHECK(covered >= 34);
}

/* Every loss through a Dense layer, with targets it accepts, with the
 * output activation fused into the loss (softmax/sigmoid with
 * cross-entropy), from logits, and on plain outputs. */
MX_TEST(gradcheck_every_loss) {
    static const struct {
        const char *loss, *act;
        int logits;
    } cases[] = {
        {"sparse_categorical_crossentropy", "softmax", 0}, {"sparse_categorical_crossentropy", "linear", 1},
        {"categorical_crossentropy", "softmax", 0},        {"categorical_crossentropy", "linear", 1},
        {"categorical_crossentropy", "sigmoid", 0},        {"binary_crossentropy", "sigmoid", 0},
        {"binary_crossentropy", "linear", 1},              {"binary_crossentropy", "softplus", 0},
        {"mean_squared_error", "linear", 0},               {"half_squared_error", "tanh", 0},
        {"sum_squared_error", "sigmoid", 0},
    };
    const int batch = 4, classes = 3;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char layer[256], what[128];
        /* softplus keeps probabilities below 1 here: its outputs are small */
        snprintf(layer, sizeof layer,
                 "{\"class_name\": \"Dense\", \"config\": {\"units\": %d, \"activation\": \"%s\", \"kernel_regularizer\": "
                 "{\"class_name\": \"L2\", \"config\": {\"l2\": 0.01}}}}",
                 classes, cases[i].act);
        snprintf(what, sizeof what, "%s after %s%s", cases[i].loss, cases[i].act, cases[i].logits ? " (from logits)" : "");
        mx_model *m = tu_sequential("5", layer, 3);
        if (!m) continue;
        mx_loss_kind k;
        int logits;
        char lj[200];
        snprintf(lj, sizeof lj, "{\"class_name\": \"%s\", \"config\": {\"from_logits\": %s}}", cases[i].loss,
                 cases[i].logits ? "true" : "false");
        CHECK(mx_loss_parse(lj, &k, &logits) == 0);
        mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
        mx_model_compile(m, k, logits, &o);
        float t[4 * 3];
        mx_rng rng;
        mx_rng_seed(&rng, i);
        for (int n = 0; n < batch; n++) {
            int cls = (int)mx_rng_below(&rng, classes);
            for (int j = 0; j < classes; j++) {
                float v = k == MX_LOSS_BINARY_CE ? (float)mx_rng_uniform(&rng) : k == MX_LOSS_CATEGORICAL_CE ? (float)(j == cls)
                                                                                                            : (float)mx_rng_normal(&rng);
                t[n * classes + j] = v;
            }
            if (k == MX_LOSS_SPARSE_CATEGORICAL_CE) t[n] = (float)cls;
        }
        mx_tensor *x = random_input(m, batch, i + 5, NULL);
        mx_gradcheck_options go = {0};
        go.seed = i;
        go.targets = t;
        mx_gradcheck_report r;
        CHECK_MSG(mx_model_gradcheck(m, x, &go, &r) == 0, "%s: %s", what, mx_error());
        check_report(&r, what);
        CHECK(r.uses_loss);
        mx_gradcheck_report_free(&r);
        mx_tensor_free(x);
        mx_model_free(m);
    }
}

MX_TEST(gradcheck_every_activation) {
    for (int k = 0; k < MX_ACT_COUNT; k++) {
        const char *name = mx_act_name((mx_act_kind)k);
        char layer[200];
        snprintf(layer, sizeof layer, "{\"class_name\": \"Dense\", \"config\": {\"units\": 4, \"activation\": \"%s\"}}", name);
        if (k == MX_ACT_RELU_X) /* the ReLU layer's general form */
            snprintf(layer, sizeof layer, "{\"class_name\": \"ReLU\", \"config\": {\"max_value\": 0.5, \"threshold\": -0.2, "
                                          "\"negative_slope\": 0.1}}");
        mx_model *m = tu_sequential("4", layer, 5);
        if (!m) continue;
        tu_gradcheck(m, 3, (uint64_t)k + 40, 1e-2, name);
        mx_model_free(m);
    }
    /* softmax with a temperature */
    mx_model *m = tu_sequential("4", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": "
                                     "{\"name\": \"softmax\", \"temperature\": 0.5}}}", 5);
    if (m) tu_gradcheck(m, 3, 77, 1e-2, "softmax T=0.5");
    mx_model_free(m);
}

/* The report: one row per weight tensor and the input, with shapes; large
 * tensors are also checked along a direction. */
MX_TEST(gradcheck_report_rows) {
    mx_model *m = tu_sequential("6, 6, 1", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 3, "
                                           "\"activation\": \"tanh\"}}, {\"class_name\": \"Flatten\", \"config\": {}}, "
                                           "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}", 2);
    if (!m) return;
    mx_tensor *x = random_input(m, 2, 3, NULL);
    mx_gradcheck_options o = {0};
    o.per_tensor = 8;
    mx_gradcheck_report r;
    CHECK(mx_model_gradcheck(m, x, &o, &r) == 0);
    CHECK(r.n == 5);
    if (r.n == 5) {
        CHECK(!strcmp(r.tensors[0].name, "conv2d/kernel") && r.tensors[0].rank == 4 && r.tensors[0].shape[3] == 4);
        CHECK(r.tensors[0].checked + r.tensors[0].skipped == 8 && r.tensors[0].directional);
        CHECK(!strcmp(r.tensors[1].name, "conv2d/bias") && r.tensors[1].size == 4 && !r.tensors[1].directional);
        CHECK(!strcmp(r.tensors[4].name, "input") && r.tensors[4].shape[0] == 2 && r.tensors[4].size == 72);
    }
    check_report(&r, "conv flatten dense");
    /* the weights are as before */
    mx_model *same = tu_sequential("6, 6, 1", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 3, "
                                              "\"activation\": \"tanh\"}}, {\"class_name\": \"Flatten\", \"config\": {}}, "
                                              "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}", 2);
    if (same) CHECK(tu_maxdiff(m->param_mem, same->param_mem, 36) == 0);
    mx_model_free(same);
    mx_gradcheck_report_free(&r);
    mx_tensor_free(x);
    mx_model_free(m);
}

/* A wrong gradient is caught, not excused as a kink: Dense whose kernel
 * gradient comes out 10% too large. */
extern const mx_layer_type mx_layer_dense;

static void wrong_backward(mx_node *n, const mx_exec *ex) {
    mx_layer_dense.backward(n, ex);
    mx_param *w = n->layer->params[0];
    for (int64_t i = 0; w->grad && i < w->size; i++) w->grad[i] *= 1.1f;
}

MX_TEST(gradcheck_catches_a_wrong_gradient) {
    mx_layer_type wrong = mx_layer_dense;
    wrong.backward = wrong_backward;
    mx_model *m = tu_sequential("4", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"relu\"}}", 3);
    if (!m) return;
    m->layers[1]->type = &wrong; /* the same layer, its backward swapped */
    mx_tensor *x = random_input(m, 4, 9, NULL);
    mx_gradcheck_report r;
    mx_gradcheck_options o = {0};
    CHECK(mx_model_gradcheck(m, x, &o, &r) == 0);
    CHECK(!r.pass);
    CHECK(r.n == 3 && !r.tensors[0].pass && r.tensors[1].pass && r.tensors[2].pass);
    CHECK(!strcmp(r.worst, "dense/kernel"));
    mx_gradcheck_report_free(&r);
    mx_tensor_free(x);
    mx_model_free(m);
}
