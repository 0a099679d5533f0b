/* test_layers.c: every layer's forward pass against known values (hand
 * computed or a direct reference implementation) and a finite-difference
 * gradient check of its weights and input. */
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reference implementations: plain loops, TensorFlow padding ---- */

static int tf_out(int in, int k, int s, int d, int same, int *pad) {
    int ek = (k - 1) * d + 1;
    if (same) {
        int out = (in + s - 1) / s;
        int total = (out - 1) * s + ek - in;
        *pad = total > 0 ? total / 2 : 0;
        return out;
    }
    *pad = 0;
    return (in - ek) / s + 1;
}

static void ref_conv(const float *x, int b, int h, int w, int c, const float *k, int kh, int kw, int f,
                     const float *bias, int sh, int sw, int dh, int dw, int same, float *y, int *oh, int *ow) {
    int pt, pl;
    *oh = tf_out(h, kh, sh, dh, same, &pt);
    *ow = tf_out(w, kw, sw, dw, same, &pl);
    for (int n = 0; n < b; n++)
        for (int oy = 0; oy < *oh; oy++)
            for (int ox = 0; ox < *ow; ox++)
                for (int o = 0; o < f; o++) {
                    double s = bias ? bias[o] : 0;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            for (int i = 0; i < c; i++)
                                s += (double)x[((n * h + iy) * w + ix) * c + i] * k[((ky * kw + kx) * c + i) * f + o];
                        }
                    y[((n * *oh + oy) * *ow + ox) * f + o] = (float)s;
                }
}

static void ref_pool(const float *x, int b, int h, int w, int c, int ph, int pw, int sh, int sw, int same, int max,
                     float *y, int *oh, int *ow) {
    int pt, pl;
    *oh = tf_out(h, ph, sh, 1, same, &pt);
    *ow = tf_out(w, pw, sw, 1, same, &pl);
    for (int n = 0; n < b; n++)
        for (int oy = 0; oy < *oh; oy++)
            for (int ox = 0; ox < *ow; ox++)
                for (int i = 0; i < c; i++) {
                    double s = max ? -DBL_MAX : 0;
                    int cnt = 0;
                    for (int ky = 0; ky < ph; ky++)
                        for (int kx = 0; kx < pw; kx++) {
                            int iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double v = x[((n * h + iy) * w + ix) * c + i];
                            s = max ? fmax(s, v) : s + v;
                            cnt++;
                        }
                    y[((n * *oh + oy) * *ow + ox) * c + i] = (float)(max ? s : s / cnt);
                }
}

/* ---- Dense ---- */

MX_TEST(layer_dense_known_values) {
    mx_model *m = tu_sequential("2", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3}}", 1);
    if (!m) return;
    float k[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {0.5f, -1, 0};
    memcpy(tu_param(m, "dense/kernel")->data, k, sizeof k);
    memcpy(tu_param(m, "dense/bias")->data, bias, sizeof bias);
    float x[4] = {1, 2, -1, 0.5f};
    const float *y = tu_forward(m, x, 2, 0);
    /* [1 2] W = [1+8, 2+10, 3+12] + b; [-1 .5] W = [-1+2, -2+2.5, -3+3] + b */
    float want[6] = {9.5f, 11, 15, 1.5f, -0.5f, 0};
    CHECK(tu_maxdiff(y, want, 6) < 1e-6);
    mx_model_free(m);
}

MX_TEST(layer_dense_gradcheck) {
    const char *acts[] = {"linear", "relu", "tanh", "sigmoid", "softmax"};
    for (int i = 0; i < 5; i++) {
        char cfg[256];
        snprintf(cfg, sizeof cfg, "{\"class_name\": \"Dense\", \"config\": {\"units\": 5, \"activation\": \"%s\"}}", acts[i]);
        mx_model *m = tu_sequential("7", cfg, 2);
        if (!m) return;
        tu_fill(tu_param(m, "dense/bias")->data, 5, 3, -0.5f, 0.5f);
        tu_gradcheck(m, 3, 10 + i, 1e-2, acts[i]);
        mx_model_free(m);
    }
    /* rank 3 input: applied to every position of the last axis, as Keras does */
    mx_model *m = tu_sequential("4, 6", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"use_bias\": false}}", 4);
    if (!m) return;
    CHECK(m->outputs[0]->rank == 2 && m->outputs[0]->dims[0] == 4 && m->outputs[0]->dims[1] == 3);
    CHECK(m->n_params == 1);
    tu_gradcheck(m, 2, 5, 1e-2, "dense rank 3");
    mx_model_free(m);
}

/* ---- Conv2D ---- */

MX_TEST(layer_conv2d_known_values) {
    /* 3x3 image 1..9, 2x2 kernel of ones, valid: sums of 2x2 windows */
    mx_model *m = tu_sequential("3, 3, 1", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 1, \"kernel_size\": 2}}", 1);
    if (!m) return;
    for (int i = 0; i < 4; i++) tu_param(m, "conv2d/kernel")->data[i] = 1;
    tu_param(m, "conv2d/bias")->data[0] = 0.25f;
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float *y = tu_forward(m, x, 1, 0);
    float want[4] = {12.25f, 16.25f, 24.25f, 28.25f};
    CHECK(m->outputs[0]->dims[0] == 2 && m->outputs[0]->dims[1] == 2);
    CHECK(tu_maxdiff(y, want, 4) < 1e-6);
    mx_model_free(m);
    /* TensorFlow's 'same' with stride 2 on 4x4 pads one row/column after, none before:
     * windows start at (0,0), (0,2), (2,0), (2,2) */
    m = tu_sequential("4, 4, 1",
                      "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 1, \"kernel_size\": 3, \"strides\": 2, "
                      "\"padding\": \"same\", \"use_bias\": false}}",
                      1);
    if (!m) return;
    for (int i = 0; i < 9; i++) tu_param(m, "conv2d/kernel")->data[i] = 1;
    float x4[16];
    for (int i = 0; i < 16; i++) x4[i] = (float)(i + 1);
    y = tu_forward(m, x4, 1, 0);
    /* top-left: rows 0-2 cols 0-2 = 1+2+3+5+6+7+9+10+11 = 54; top-right: cols 2-3 of rows 0-2 = 3+4+7+8+11+12 = 45;
     * bottom-left: rows 2-3 cols 0-2 = 9+10+11+13+14+15 = 72; bottom-right: 11+12+15+16 = 54 */
    float want4[4] = {54, 45, 72, 54};
    CHECK(tu_maxdiff(y, want4, 4) < 1e-5);
    mx_model_free(m);
}

MX_TEST(layer_conv2d_reference) {
    struct {
        int h, w, c, f, kh, kw, s, d, same, bias;
    } cases[] = {
        {7, 6, 3, 4, 3, 3, 1, 1, 0, 1}, {7, 6, 3, 4, 3, 3, 1, 1, 1, 1}, {8, 9, 2, 5, 3, 2, 2, 1, 1, 0},
        {9, 9, 3, 2, 5, 5, 2, 1, 0, 1}, {6, 6, 4, 3, 1, 1, 1, 1, 0, 1}, {10, 8, 2, 3, 3, 3, 1, 2, 1, 1},
        {5, 5, 1, 8, 5, 5, 1, 1, 1, 1}, {12, 12, 16, 24, 3, 3, 2, 1, 1, 1},
        /* 3x3 stride 1 with 4+ channels: Winograd, odd sizes, vector tails */
        {9, 7, 8, 6, 3, 3, 1, 1, 1, 1}, {8, 8, 5, 7, 3, 3, 1, 1, 0, 1}, {13, 11, 20, 33, 3, 3, 1, 1, 1, 0},
        {3, 3, 4, 2, 3, 3, 1, 1, 0, 1},
        /* few values per output and filters in whole vectors: direct in inference */
        {10, 9, 1, 32, 3, 3, 1, 1, 1, 1}, {11, 10, 3, 16, 3, 3, 2, 1, 0, 1}, {9, 9, 2, 48, 5, 3, 1, 2, 1, 0},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        char in[64], cfg[512];
        snprintf(in, sizeof in, "%d, %d, %d", cases[t].h, cases[t].w, cases[t].c);
        snprintf(cfg, sizeof cfg,
                 "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": %d, \"kernel_size\": [%d, %d], "
                 "\"strides\": %d, \"dilation_rate\": %d, \"padding\": \"%s\", \"use_bias\": %s}}",
                 cases[t].f, cases[t].kh, cases[t].kw, cases[t].s, cases[t].d, cases[t].same ? "same" : "valid",
                 cases[t].bias ? "true" : "false");
        mx_model *m = tu_sequential(in, cfg, 5);
        if (!m) return;
        int b = 3, n = b * cases[t].h * cases[t].w * cases[t].c;
        float *x = malloc(sizeof(float) * (size_t)n);
        tu_fill(x, n, t, -1, 1);
        float *bias = NULL;
        if (cases[t].bias) {
            bias = tu_param(m, "conv2d/bias")->data;
            tu_fill(bias, cases[t].f, 9, -1, 1);
        }
        const float *y = tu_forward(m, x, b, 0);
        float *ref = malloc(sizeof(float) * (size_t)(b * m->outputs[0]->size));
        float *ytrain = malloc(sizeof(float) * (size_t)(b * m->outputs[0]->size));
        memcpy(ytrain, tu_forward(m, x, b, 1), sizeof(float) * (size_t)(b * m->outputs[0]->size));
        y = tu_forward(m, x, b, 0);
        int oh, ow;
        ref_conv(x, b, cases[t].h, cases[t].w, cases[t].c, tu_param(m, "conv2d/kernel")->data, cases[t].kh,
                 cases[t].kw, cases[t].f, bias, cases[t].s, cases[t].s, cases[t].d, cases[t].d, cases[t].same, ref, &oh,
                 &ow);
        CHECK_MSG(m->outputs[0]->dims[0] == oh && m->outputs[0]->dims[1] == ow, "case %zu: output %lldx%lld, want %dx%d", t,
                  (long long)m->outputs[0]->dims[0], (long long)m->outputs[0]->dims[1], oh, ow);
        CHECK_MSG(tu_maxdiff(y, ref, b * m->outputs[0]->size) < 1e-4, "case %zu differs from the reference by %g", t,
                  tu_maxdiff(y, ref, b * m->outputs[0]->size));
        CHECK_MSG(tu_maxdiff(ytrain, ref, b * m->outputs[0]->size) < 1e-4, "case %zu (training) differs by %g", t,
                  tu_maxdiff(ytrain, ref, b * m->outputs[0]->size));
        free(ytrain);
        if (t != 7) tu_gradcheck(m, 2, 20 + t, 1e-2, cfg);
        free(x);
        free(ref);
        mx_model_free(m);
    }
}

MX_TEST(layer_conv2d_fused_activation) {
    mx_model *m = tu_sequential("6, 6, 2", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 3, \"kernel_size\": 3, "
                                           "\"activation\": \"relu\", \"padding\": \"same\"}}", 7);
    if (!m) return;
    tu_gradcheck(m, 2, 3, 1e-2, "conv relu");
    /* ReLU runs in place by default; keep_preactivations keeps z observable */
    mx_node *n = m->nodes[1];
    CHECK(n->z != n->out[0]);
    CHECK(strcmp(n->z->name, "conv2d/z") == 0);
    float x[72];
    tu_fill(x, 72, 3, -1, 1);
    const float *y = tu_forward(m, x, 1, 1);
    CHECK(n->z->data == n->out[0]->data);
    float in_place[108];
    memcpy(in_place, y, sizeof in_place);
    m->keep_preactivations = 1;
    mx_free(m->plan_mem);
    m->plan_mem = NULL;
    y = tu_forward(m, x, 1, 1);
    CHECK(n->z->data != n->out[0]->data);
    CHECK(tu_maxdiff(y, in_place, 108) == 0);
    int negative = 0;
    for (int i = 0; i < 108; i++) {
        negative += n->z->data[i] < 0;
        CHECK(y[i] == (n->z->data[i] > 0 ? n->z->data[i] : 0));
    }
    CHECK(negative > 0);
    tu_gradcheck(m, 2, 4, 1e-2, "conv relu, pre-activations kept");
    mx_model_free(m);
}

/* ---- pooling ---- */

MX_TEST(layer_pooling_reference) {
    struct {
        int h, w, c, p, s, same;
    } cases[] = {{4, 4, 3, 2, 2, 0}, {5, 5, 3, 2, 2, 0}, {5, 5, 35, 2, 2, 1}, {7, 6, 3, 3, 2, 1},
                 {6, 6, 20, 3, 1, 0}, {8, 8, 32, 2, 2, 0}};
    for (int max = 0; max < 2; max++)
        for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
            char in[64], cfg[256];
            int c = cases[t].c;
            snprintf(in, sizeof in, "%d, %d, %d", cases[t].h, cases[t].w, c);
            snprintf(cfg, sizeof cfg, "{\"class_name\": \"%s\", \"config\": {\"pool_size\": %d, \"strides\": %d, \"padding\": \"%s\"}}",
                     max ? "MaxPooling2D" : "AveragePooling2D", cases[t].p, cases[t].s, cases[t].same ? "same" : "valid");
            mx_model *m = tu_sequential(in, cfg, 1);
            if (!m) return;
            int b = 2, n = b * cases[t].h * cases[t].w * c;
            float *x = malloc(sizeof(float) * (size_t)n), *ref = malloc(sizeof(float) * (size_t)n);
            tu_fill(x, n, t, -1, 1);
            int oh, ow;
            ref_pool(x, b, cases[t].h, cases[t].w, c, cases[t].p, cases[t].p, cases[t].s, cases[t].s, cases[t].same, max,
                     ref, &oh, &ow);
            for (int training = 0; training < 2; training++) {
                const float *y = tu_forward(m, x, b, training);
                CHECK_MSG(m->outputs[0]->dims[0] == oh && m->outputs[0]->dims[1] == ow, "%s: shape", cfg);
                CHECK_MSG(tu_maxdiff(y, ref, b * oh * ow * c) < 1e-6, "%s (%d channels) differs from the reference", cfg, c);
            }
            tu_gradcheck(m, 2, 40 + t, 1e-2, cfg);
            free(x);
            free(ref);
            mx_model_free(m);
        }
}

/* In inference a convolution does the 2x2 max pooling after it in the same
 * pass (direct, Winograd and im2col paths): the same outputs as separate layers. */
MX_TEST(layer_conv_pool_fused) {
    const char *convs[] = {
        "\"filters\": 32, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"",
        "\"filters\": 12, \"kernel_size\": 3, \"padding\": \"valid\", \"activation\": \"tanh\"",
        "\"filters\": 7, \"kernel_size\": 5, \"padding\": \"same\", \"activation\": \"sigmoid\"",
    };
    const char *inputs[] = {"13, 12, 1", "11, 10, 6", "9, 8, 6"};
    for (int i = 0; i < 3; i++) {
        char layers[512];
        snprintf(layers, sizeof layers,
                 "{\"class_name\": \"Conv2D\", \"config\": {%s}}, {\"class_name\": \"MaxPooling2D\", \"config\": {}}, "
                 "{\"class_name\": \"Flatten\", \"config\": {}}",
                 convs[i]);
        mx_model *a = tu_sequential(inputs[i], layers, 3), *b = tu_sequential(inputs[i], layers, 3);
        if (!a || !b) return;
        b->keep_preactivations = 1; /* no fusion */
        tu_fill(a->params[1]->data, a->params[1]->size, 5, -0.3f, 0.3f);
        memcpy(b->params[1]->data, a->params[1]->data, sizeof(float) * (size_t)a->params[1]->size);
        int n = 5 * (int)a->inputs[0]->size;
        float *x = malloc(sizeof(float) * (size_t)n);
        tu_fill(x, n, 6, -1, 1);
        int64_t size = 5 * a->outputs[0]->size;
        float *ya = malloc(sizeof(float) * (size_t)size);
        memcpy(ya, tu_forward(a, x, 5, 0), sizeof(float) * (size_t)size);
        CHECK_MSG(a->nodes[1]->pool_into == a->nodes[2], "case %d: not fused", i);
        CHECK_MSG(tu_maxdiff(ya, tu_forward(b, x, 5, 0), size) == 0, "case %d: fused pooling differs", i);
        free(x);
        free(ya);
        mx_model_free(a);
        mx_model_free(b);
    }
}

/* Winograd's transformed filters are kept between inference passes: they
 * must follow new weights (set, trained) and new plans. */
MX_TEST(layer_conv2d_winograd_filters_follow_weights) {
    const char *layers = "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 8, \"kernel_size\": 3, "
                         "\"padding\": \"same\"}}";
    mx_model *a = tu_sequential("6, 6, 4", layers, 1), *b = tu_sequential("6, 6, 4", layers, 2);
    if (!a || !b) return;
    float x[2 * 144], ya[2 * 288], w[8 * 36 + 8];
    tu_fill(x, 2 * 144, 3, -1, 1);
    int64_t nw = mx_model_weights_size(a);
    CHECK(nw == 8 * 36 + 8);
    tu_forward(a, x, 2, 0); /* a's filters in its workspace */
    mx_model_weights_get(b, w);
    mx_model_weights_set(a, w);
    memcpy(ya, tu_forward(a, x, 2, 0), sizeof ya);
    CHECK_MSG(tu_maxdiff(ya, tu_forward(b, x, 2, 0), 2 * 288) == 0, "set weights: stale filters");
    /* a training step changes the weights; a smaller batch keeps the plan */
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    CHECK(mx_model_compile(a, MX_LOSS_MSE, 0, &o) == 0 && mx_model_compile(b, MX_LOSS_MSE, 0, &o) == 0);
    CHECK(mx_train_batch(a, x, ya, 2, NULL) == 0 && mx_train_batch(b, x, ya, 2, NULL) == 0);
    memcpy(ya, tu_forward(a, x, 1, 0), sizeof(float) * 288);
    CHECK_MSG(tu_maxdiff(ya, tu_forward(b, x, 1, 0), 288) == 0, "after training");
    CHECK(tu_maxdiff(ya, tu_forward(a, x, 1, 0), 288) == 0); /* again, with the kept filters */
    mx_model_free(a);
    mx_model_free(b);
}

MX_TEST(layer_pooling_defaults) {
    /* Keras: strides default to the pool size */
    mx_model *m = tu_sequential("6, 6, 1", "{\"class_name\": \"MaxPooling2D\", \"config\": {}}", 1);
    if (!m) return;
    CHECK(m->outputs[0]->dims[0] == 3 && m->outputs[0]->dims[1] == 3);
    mx_model_free(m);
}

/* ---- Flatten, Reshape, Activation, Dropout ---- */

MX_TEST(layer_reshape_flatten) {
    mx_model *m = tu_sequential("2, 3, 2",
                                "{\"class_name\": \"Flatten\", \"config\": {}}, "
                                "{\"class_name\": \"Reshape\", \"config\": {\"target_shape\": [3, -1]}}, "
                                "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}",
                                1);
    if (!m) return;
    CHECK(m->nodes[1]->out[0]->rank == 1 && m->nodes[1]->out[0]->dims[0] == 12);
    CHECK(m->nodes[2]->out[0]->rank == 2 && m->nodes[2]->out[0]->dims[0] == 3 && m->nodes[2]->out[0]->dims[1] == 4);
    float x[24];
    tu_fill(x, 24, 1, -1, 1);
    tu_forward(m, x, 2, 0);
    CHECK(tu_maxdiff(m->nodes[2]->out[0]->data, x, 24) == 0);
    tu_gradcheck(m, 2, 3, 1e-2, "flatten reshape dense");
    mx_model_free(m);
}

static void expect_build_error(const char *input, const char *layers, const char *needle) {
    char *json = malloc(strlen(layers) + 512);
    sprintf(json,
            "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"t\", \"layers\": ["
            "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %s]}}, %s]}}",
            input, layers);
    mx_model *m = mx_model_from_json(json, "bad.json", 1);
    CHECK_MSG(!m, "expected an error for %s", layers);
    CHECK_MSG(strstr(mx_error(), needle) != NULL, "error '%s' does not mention '%s'", mx_error(), needle);
    CHECK_MSG(strstr(mx_error(), "bad.json") != NULL, "error '%s' does not name the file", mx_error());
    mx_model_free(m);
    free(json);
}

MX_TEST(layer_config_errors) {
    expect_build_error("12", "{\"class_name\": \"Reshape\", \"config\": {\"target_shape\": [5, -1]}}", "reshape");
    expect_build_error("12", "{\"class_name\": \"Reshape\", \"config\": {\"target_shape\": [5, 2]}}", "target_shape");
    expect_build_error("4", "{\"class_name\": \"Dense\", \"config\": {}}", "units");
    expect_build_error("4", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"colour\": 1}}", "colour");
    expect_build_error("4", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"zap\"}}", "zap");
    expect_build_error("4", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"kernel_constraint\": {\"class_name\": \"MaxNorm\"}}}",
                       "kernel_constraint");
    expect_build_error("4", "{\"class_name\": \"Wobble\", \"config\": {}}", "Wobble");
    expect_build_error("4, 4, 1", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 2, \"kernel_size\": 5}}", "smaller");
    expect_build_error("4, 4, 1", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 2, \"kernel_size\": 3, \"padding\": \"full\"}}",
                       "padding");
    expect_build_error("4", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 2, \"kernel_size\": 1}}", "rank");
    expect_build_error("4", "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 1.5}}", "rate");
    expect_build_error("4", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"kernel_initializer\": \"magic\"}}",
                       "magic");
}

MX_TEST(layer_activation_functions) {
    /* f(x) at a few points against the textbook formulas */
    struct {
        const char *name;
        double (*f)(double);
    } acts[] = {{"relu", NULL}, {"relu6", NULL}, {"leaky_relu", NULL}, {"elu", NULL}, {"selu", NULL},
                {"sigmoid", NULL}, {"hard_sigmoid", NULL}, {"tanh", NULL}, {"softplus", NULL}, {"softsign", NULL},
                {"swish", NULL}, {"gelu", NULL}, {"exponential", NULL}, {"linear", NULL}};
    float x[8] = {-7.0f, -2.7f, -0.6f, -0.1f, 0.2f, 1.3f, 3.1f, 6.6f};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        char cfg[128];
        snprintf(cfg, sizeof cfg, "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"%s\"}}", acts[a].name);
        mx_model *m = tu_sequential("8", cfg, 1);
        if (!m) return;
        const float *y = tu_forward(m, x, 1, 0);
        for (int i = 0; i < 8; i++) {
            double v = x[i], want = 0;
            const char *n = acts[a].name;
            if (!strcmp(n, "relu")) want = v > 0 ? v : 0;
            else if (!strcmp(n, "relu6")) want = fmin(fmax(v, 0), 6);
            else if (!strcmp(n, "leaky_relu")) want = v > 0 ? v : 0.2 * v;
            else if (!strcmp(n, "elu")) want = v > 0 ? v : exp(v) - 1;
            else if (!strcmp(n, "selu")) want = 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (exp(v) - 1));
            else if (!strcmp(n, "sigmoid")) want = 1 / (1 + exp(-v));
            else if (!strcmp(n, "hard_sigmoid")) want = fmin(1, fmax(0, 0.2 * v + 0.5));
            else if (!strcmp(n, "tanh")) want = tanh(v);
            else if (!strcmp(n, "softplus")) want = log(1 + exp(v));
            else if (!strcmp(n, "softsign")) want = v / (1 + fabs(v));
            else if (!strcmp(n, "swish")) want = v / (1 + exp(-v));
            else if (!strcmp(n, "gelu")) want = 0.5 * v * (1 + erf(v / sqrt(2)));
            else if (!strcmp(n, "exponential")) want = exp(v);
            else want = v;
            CHECK_MSG(fabs(y[i] - want) <= 1e-5 * fmax(1, fabs(want)), "%s(%g) = %g, want %g", n, v, y[i], want);
        }
        tu_gradcheck(m, 3, a, 1e-2, acts[a].name);
        mx_model_free(m);
    }
}

MX_TEST(layer_softmax_values_and_gradient) {
    mx_model *m = tu_sequential("4", "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"softmax\"}}", 1);
    if (!m) return;
    float x[8] = {1, 2, 3, 4, 1000, 1000, 1000, 1000}; /* large logits must not overflow */
    const float *y = tu_forward(m, x, 2, 0);
    double s = exp(1) + exp(2) + exp(3) + exp(4);
    for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], exp(i + 1) / s, 1e-6);
    for (int i = 4; i < 8; i++) CHECK_NEAR(y[i], 0.25, 1e-6);
    tu_gradcheck(m, 3, 7, 1e-2, "softmax");
    mx_model_free(m);
}

/* The textbook activations Keras lacks, and the activation object form.
 * softmax((1, 2, 3) / 2) = exp(0.5, 1, 1.5) / (e^0.5 + e^1 + e^1.5) = (0.186324, 0.307196, 0.506480) */
MX_TEST(layer_textbook_activations) {
    mx_model *m = tu_sequential("3", "{\"class_name\": \"Activation\", \"config\": {\"activation\": "
                                     "{\"name\": \"softmax\", \"temperature\": 2}}}", 1);
    if (!m) return;
    float x[3] = {1, 2, 3};
    const float *y = tu_forward(m, x, 1, 0);
    double s = exp(0.5) + exp(1) + exp(1.5);
    for (int i = 0; i < 3; i++) CHECK_NEAR(y[i], exp(0.5 * (i + 1)) / s, 1e-6);
    tu_gradcheck(m, 3, 8, 1e-2, "softmax temperature 2");
    /* written back as the object, plain names as strings */
    CHECK(mx_model_save(m, mx_test_tmpdir()) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/model.json", mx_test_tmpdir());
    char *json = mx_read_file(path, NULL, 1 << 20);
    CHECK(json && strstr(json, "\"temperature\": 2"));
    mx_free(json);
    mx_model *back = mx_model_load(mx_test_tmpdir());
    CHECK(back && mx_act_temperature(back->layers[1]->act) == 2);
    mx_model_free(back);
    mx_model_free(m);
    /* heaviside: 1 for x > 0, 0 otherwise (also at 0); its gradient is 0 */
    m = tu_sequential("4", "{\"class_name\": \"Dense\", \"config\": {\"units\": 4, \"activation\": \"heaviside\"}}", 1);
    if (!m) return;
    mx_param *w = m->params[0];
    memset(w->data, 0, sizeof(float) * 16);
    for (int i = 0; i < 4; i++) w->data[i * 4 + i] = 1; /* identity kernel */
    float xs[4] = {-1, 0, 0.5f, 3};
    y = tu_forward(m, xs, 1, 0);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == 1);
    float d[4];
    mx_act_derivative(m->layers[1]->act, xs, y, d, 4);
    CHECK(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0);
    mx_model_free(m);
    /* identity is linear; a leaky_relu slope travels in the object form */
    m = tu_sequential("2", "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"identity\"}}, "
                           "{\"class_name\": \"Activation\", \"config\": {\"activation\": {\"name\": \"leaky_relu\", \"alpha\": 0.01}}}", 1);
    if (!m) return;
    float xl[2] = {-2, 3};
    y = tu_forward(m, xl, 1, 0);
    CHECK_NEAR(y[0], -0.02, 1e-7);
    CHECK_NEAR(y[1], 3, 1e-7);
    CHECK(m->layers[1]->act.kind == MX_ACT_LINEAR);
    mx_model_free(m);
    expect_build_error("3", "{\"class_name\": \"Activation\", \"config\": {\"activation\": {\"name\": \"softmax\", \"temperature\": 0}}}",
                       "temperature");
    expect_build_error("3", "{\"class_name\": \"Activation\", \"config\": {\"activation\": {\"name\": \"relu\", \"alpha\": 1}}}",
                       "alpha");
}

MX_TEST(layer_dropout_training_and_inference) {
    mx_model *m = tu_sequential("1000", "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.25}}", 1);
    if (!m) return;
    float x[4000];
    for (int i = 0; i < 4000; i++) x[i] = 1;
    const float *y = tu_forward(m, x, 4, 0);
    CHECK(tu_maxdiff(y, x, 4000) == 0); /* inference: identity */
    y = tu_forward(m, x, 4, 1);
    int zeros = 0;
    for (int i = 0; i < 4000; i++) {
        CHECK(y[i] == 0 || fabsf(y[i] - 1 / 0.75f) < 1e-6); /* inverted scaling */
        zeros += y[i] == 0;
    }
    CHECK_MSG(zeros > 850 && zeros < 1150, "%d of 4000 dropped, expected about 1000", zeros);
    mx_model_free(m);
    /* gradient flows through the kept units only, scaled; the mask is fixed for a step */
    m = tu_sequential("6", "{\"class_name\": \"Dense\", \"config\": {\"units\": 8}}, "
                           "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.5}}", 3);
    if (!m) return;
    tu_gradcheck(m, 2, 5, 1e-2, "dense dropout");
    mx_model_free(m);
}

/* ---- BatchNormalization ---- */

MX_TEST(layer_batchnorm_training_statistics) {
    mx_model *m = tu_sequential("3, 3, 2", "{\"class_name\": \"BatchNormalization\", \"config\": {}}", 1);
    if (!m) return;
    CHECK(m->n_params == 4);
    CHECK(!strcmp(m->params[0]->name, "batch_normalization/gamma") && !strcmp(m->params[3]->name, "batch_normalization/moving_variance"));
    int b = 4, n = b * 18;
    float x[72];
    tu_fill(x, n, 2, -3, 5);
    const float *y = tu_forward(m, x, b, 1);
    /* each channel normalised with the biased batch variance and eps = 1e-3 */
    for (int ch = 0; ch < 2; ch++) {
        double mean = 0, var = 0, ym = 0, yv = 0;
        for (int i = ch; i < n; i += 2) mean += x[i];
        mean /= n / 2;
        for (int i = ch; i < n; i += 2) var += (x[i] - mean) * (x[i] - mean);
        var /= n / 2;
        for (int i = ch; i < n; i += 2) {
            CHECK_NEAR(y[i], (x[i] - mean) / sqrt(var + 1e-3), 1e-4);
            ym += y[i];
        }
        for (int i = ch; i < n; i += 2) yv += y[i] * y[i];
        CHECK_NEAR(ym / (n / 2), 0, 1e-5);
        CHECK_NEAR(yv / (n / 2), var / (var + 1e-3), 1e-4); /* unit variance, up to epsilon */
        /* moving statistics: momentum 0.99, unbiased variance */
        CHECK_NEAR(tu_param(m, "batch_normalization/moving_mean")->data[ch], 0.01 * mean, 1e-6);
        CHECK_NEAR(tu_param(m, "batch_normalization/moving_variance")->data[ch], 0.99 + 0.01 * var * (n / 2) / (n / 2 - 1), 1e-6);
    }
    mx_model_free(m);
}

MX_TEST(layer_batchnorm_inference_and_gradients) {
    mx_model *m = tu_sequential("2, 2, 3", "{\"class_name\": \"BatchNormalization\", \"config\": {\"epsilon\": 0.01}}", 1);
    if (!m) return;
    float mm[3] = {1, -2, 0.5f}, mv[3] = {4, 0.25f, 1}, g[3] = {2, 1, -1}, be[3] = {0, 1, 3};
    memcpy(tu_param(m, "batch_normalization/moving_mean")->data, mm, sizeof mm);
    memcpy(tu_param(m, "batch_normalization/moving_variance")->data, mv, sizeof mv);
    memcpy(tu_param(m, "batch_normalization/gamma")->data, g, sizeof g);
    memcpy(tu_param(m, "batch_normalization/beta")->data, be, sizeof be);
    float x[12];
    tu_fill(x, 12, 3, -2, 2);
    const float *y = tu_forward(m, x, 1, 0);
    for (int i = 0; i < 12; i++) {
        int c = i % 3;
        CHECK_NEAR(y[i], g[c] * (x[i] - mm[c]) / sqrt(mv[c] + 0.01) + be[c], 1e-5);
    }
    tu_gradcheck(m, 5, 4, 1e-2, "batchnorm (batch statistics)");
    /* a frozen layer runs in inference mode in training too (Keras 2) */
    m->layers[1]->trainable = 0;
    tu_gradcheck(m, 5, 5, 1e-2, "batchnorm frozen");
    mx_model_free(m);
    m = tu_sequential("6", "{\"class_name\": \"Dense\", \"config\": {\"units\": 5}}, "
                           "{\"class_name\": \"BatchNormalization\", \"config\": {\"center\": false}}, "
                           "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"tanh\"}}", 2);
    if (!m) return;
    CHECK(m->n_params == 5); /* kernel, bias, gamma, moving mean and variance */
    tu_gradcheck(m, 4, 6, 1e-2, "dense batchnorm(center=false) tanh");
    mx_model_free(m);
}

/* ---- a DAG: skip connection and a value with two consumers ---- */

MX_TEST(layer_add_residual_dag) {
    const char *json =
        "{\"class_name\": \"Model\", \"config\": {\"name\": \"res\", \"layers\": ["
        "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 5]}, \"inbound_nodes\": []},"
        "{\"name\": \"d1\", \"class_name\": \"Dense\", \"config\": {\"units\": 5, \"activation\": \"tanh\"}, "
        " \"inbound_nodes\": [[[\"x\", 0, 0, {}]]]},"
        "{\"name\": \"sum\", \"class_name\": \"Add\", \"config\": {}, \"inbound_nodes\": [[[\"d1\", 0, 0, {}], [\"x\", 0, 0, {}]]]},"
        "{\"name\": \"out\", \"class_name\": \"Dense\", \"config\": {\"units\": 3}, \"inbound_nodes\": [[[\"sum\", 0, 0, {}]]]}],"
        "\"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"out\", 0, 0]]}}";
    mx_model *m = mx_model_from_json(json, "res.json", 3);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    CHECK(m->n_nodes == 4);
    float x[10];
    tu_fill(x, 10, 1, -1, 1);
    const float *y = tu_forward(m, x, 2, 0);
    /* by hand: out = (tanh(x W1 + b1) + x) W2 + b2 */
    mx_param *w1 = tu_param(m, "d1/kernel"), *b1 = tu_param(m, "d1/bias"), *w2 = tu_param(m, "out/kernel");
    tu_fill(b1->data, 5, 2, -1, 1);
    y = tu_forward(m, x, 2, 0);
    for (int s = 0; s < 2; s++) {
        double h[5];
        for (int j = 0; j < 5; j++) {
            double a = b1->data[j];
            for (int i = 0; i < 5; i++) a += x[s * 5 + i] * w1->data[i * 5 + j];
            h[j] = tanh(a) + x[s * 5 + j];
        }
        for (int k = 0; k < 3; k++) {
            double o = 0;
            for (int j = 0; j < 5; j++) o += h[j] * w2->data[j * 3 + k];
            CHECK_NEAR(y[s * 3 + k], o, 1e-5);
        }
    }
    /* the input feeds two layers: its gradient is the sum of both paths */
    tu_gradcheck(m, 3, 9, 1e-2, "residual");
    mx_model_free(m);
    /* a shared layer called twice accumulates its weight gradient */
    const char *shared =
        "{\"class_name\": \"Model\", \"config\": {\"name\": \"shared\", \"layers\": ["
        "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4]}, \"inbound_nodes\": []},"
        "{\"name\": \"d\", \"class_name\": \"Dense\", \"config\": {\"units\": 4, \"activation\": \"sigmoid\"}, "
        " \"inbound_nodes\": [[[\"x\", 0, 0, {}]], [[\"d\", 0, 0, {}]]]}],"
        "\"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"d\", 1, 0]]}}";
    m = mx_model_from_json(shared, "shared.json", 3);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    CHECK(m->n_nodes == 3 && m->n_params == 2);
    tu_gradcheck(m, 3, 10, 1e-2, "shared layer");
    mx_model_free(m);
}
