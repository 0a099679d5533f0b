/* test_layers_more.c: the layers of TF.js/Keras image models beyond the
 * basic CNN: forward against known values or a direct reference, and a
 * finite-difference gradient check of weights and input. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *rand_input(const mx_model *m, int batch, uint64_t seed) {
    int64_t n = batch * m->inputs[0]->size;
    float *x = malloc(sizeof(float) * (size_t)n);
    tu_fill(x, n, seed, -1, 1);
    return x;
}

/* functional model: one input, two Dense branches joined by `merge` */
static mx_model *two_branch(const char *merge, const char *cfg, int units_b) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"class_name\": \"Model\", \"config\": {\"name\": \"m\", \"layers\": ["
             "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3, 4]}, \"inbound_nodes\": []},"
             "{\"name\": \"a\", \"class_name\": \"Dense\", \"config\": {\"units\": 5, \"activation\": \"tanh\"}, \"inbound_nodes\": [[[\"x\", 0, 0, {}]]]},"
             "{\"name\": \"b\", \"class_name\": \"Dense\", \"config\": {\"units\": %d}, \"inbound_nodes\": [[[\"x\", 0, 0, {}]]]},"
             "{\"name\": \"j\", \"class_name\": \"%s\", \"config\": {%s}, \"inbound_nodes\": [[[\"a\", 0, 0, {}], [\"b\", 0, 0, {}]]]}],"
             "\"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"j\", 0, 0]]}}",
             units_b, merge, cfg);
    return mx_model_from_json(json, "merge.json", 4); /* NULL: see mx_error() */
}

/* ---- depthwise and separable convolutions ---- */

static void ref_depthwise(const float *x, int b, int h, int w, int c, const float *k, int kh, int kw, int dm,
                          const float *bias, int s, int d, int same, float *y, int *oh, int *ow) {
    int ekh = (kh - 1) * d + 1, ekw = (kw - 1) * d + 1, pt = 0, pl = 0;
    if (same) {
        *oh = (h + s - 1) / s, *ow = (w + s - 1) / s;
        int th = (*oh - 1) * s + ekh - h, tw = (*ow - 1) * s + ekw - w;
        pt = th > 0 ? th / 2 : 0, pl = tw > 0 ? tw / 2 : 0;
    } else {
        *oh = (h - ekh) / s + 1, *ow = (w - ekw) / s + 1;
    }
    for (int n = 0; n < b; n++)
        for (int oy = 0; oy < *oh; oy++)
            for (int ox = 0; ox < *ow; ox++)
                for (int ci = 0; ci < c; ci++)
                    for (int m = 0; m < dm; m++) {
                        double a = bias ? bias[ci * dm + m] : 0;
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int iy = oy * s - pt + ky * d, ix = ox * s - pl + kx * d;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                a += (double)x[((n * h + iy) * w + ix) * c + ci] * k[((ky * kw + kx) * c + ci) * dm + m];
                            }
                        y[((n * *oh + oy) * *ow + ox) * c * dm + ci * dm + m] = (float)a;
                    }
}

MX_TEST(layer_depthwise_reference) {
    struct {
        int h, w, c, k, dm, s, d, same, bias;
    } cases[] = {{6, 7, 3, 3, 1, 1, 1, 1, 1}, {8, 8, 20, 3, 1, 2, 1, 0, 0}, {7, 7, 4, 3, 2, 1, 2, 1, 1},
                 {9, 8, 17, 5, 1, 2, 1, 1, 1}, {5, 5, 2, 3, 3, 1, 1, 0, 1}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        char in[64], cfg[300];
        snprintf(in, sizeof in, "%d, %d, %d", cases[t].h, cases[t].w, cases[t].c);
        snprintf(cfg, sizeof cfg,
                 "{\"class_name\": \"DepthwiseConv2D\", \"config\": {\"kernel_size\": %d, \"strides\": %d, \"dilation_rate\": %d, "
                 "\"depth_multiplier\": %d, \"padding\": \"%s\", \"use_bias\": %s}}",
                 cases[t].k, cases[t].s, cases[t].d, cases[t].dm, cases[t].same ? "same" : "valid", cases[t].bias ? "true" : "false");
        mx_model *m = tu_sequential(in, cfg, 5);
        if (!m) return;
        float *bias = cases[t].bias ? m->params[1]->data : NULL;
        if (bias) tu_fill(bias, m->params[1]->size, 3, -1, 1);
        float *x = rand_input(m, 2, t);
        int64_t n = 2 * m->outputs[0]->size;
        float *ref = malloc(sizeof(float) * (size_t)n);
        int oh, ow;
        ref_depthwise(x, 2, cases[t].h, cases[t].w, cases[t].c, m->params[0]->data, cases[t].k, cases[t].k, cases[t].dm,
                      bias, cases[t].s, cases[t].d, cases[t].same, ref, &oh, &ow);
        CHECK_MSG(m->outputs[0]->dims[0] == oh && m->outputs[0]->dims[1] == ow && m->outputs[0]->dims[2] == cases[t].c * cases[t].dm,
                  "case %zu: shape", t);
        CHECK_MSG(tu_maxdiff(tu_forward(m, x, 2, 0), ref, n) < 1e-5, "case %zu differs from the reference", t);
        tu_gradcheck(m, 2, 30 + t, 1e-2, cfg);
        free(x);
        free(ref);
        mx_model_free(m);
    }
    /* Keras's weight name and parameter count: 3 * 3 * c * dm (+ bias c * dm) */
    mx_model *m = tu_sequential("8, 8, 6", "{\"class_name\": \"DepthwiseConv2D\", \"config\": {\"kernel_size\": 3, \"depth_multiplier\": 2}}", 1);
    if (!m) return;
    CHECK(!strcmp(m->params[0]->name, "depthwise_conv2d/depthwise_kernel"));
    CHECK(mx_model_param_counts(m).trainable == 3 * 3 * 6 * 2 + 12);
    mx_model_free(m);
}

MX_TEST(layer_separable_conv) {
    mx_model *m = tu_sequential("7, 6, 4", "{\"class_name\": \"SeparableConv2D\", \"config\": {\"filters\": 5, \"kernel_size\": 3, "
                                           "\"padding\": \"same\", \"depth_multiplier\": 2, \"activation\": \"relu\"}}", 2);
    if (!m) return;
    CHECK(m->n_params == 3 && !strcmp(m->params[1]->name, "separable_conv2d/pointwise_kernel"));
    CHECK(m->params[1]->dims[2] == 8 && m->params[1]->dims[3] == 5);
    tu_fill(m->params[2]->data, 5, 4, -0.5f, 0.5f);
    float *x = rand_input(m, 2, 1);
    /* reference: depthwise, then each pixel's 8 values times the 8x5 pointwise kernel, bias, relu */
    int oh, ow;
    float *mid = malloc(sizeof(float) * 2 * 7 * 6 * 8), ref[2 * 7 * 6 * 5];
    ref_depthwise(x, 2, 7, 6, 4, m->params[0]->data, 3, 3, 2, NULL, 1, 1, 1, mid, &oh, &ow);
    for (int p = 0; p < 2 * 7 * 6; p++)
        for (int f = 0; f < 5; f++) {
            double a = m->params[2]->data[f];
            for (int k = 0; k < 8; k++) a += mid[p * 8 + k] * m->params[1]->data[k * 5 + f];
            ref[p * 5 + f] = a > 0 ? (float)a : 0;
        }
    CHECK(tu_maxdiff(tu_forward(m, x, 2, 0), ref, 2 * 7 * 6 * 5) < 1e-5);
    tu_gradcheck(m, 2, 5, 1e-2, "separable");
    free(x);
    free(mid);
    mx_model_free(m);
}

/* ---- padding, cropping, upsampling, global pooling ---- */

MX_TEST(layer_padding_cropping) {
    mx_model *m = tu_sequential("2, 3, 1", "{\"class_name\": \"ZeroPadding2D\", \"config\": {\"padding\": [[1, 0], [0, 2]]}}", 1);
    if (!m) return;
    float x[6] = {1, 2, 3, 4, 5, 6};
    const float *y = tu_forward(m, x, 1, 0);
    float want[15] = {0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0};
    CHECK(m->outputs[0]->dims[0] == 3 && m->outputs[0]->dims[1] == 5);
    CHECK(tu_maxdiff(y, want, 15) == 0);
    tu_gradcheck(m, 2, 1, 1e-2, "zeropad");
    mx_model_free(m);
    m = tu_sequential("4, 5, 2", "{\"class_name\": \"Cropping2D\", \"config\": {\"cropping\": [[1, 2], [2, 1]]}}", 1);
    if (!m) return;
    float x2[40];
    for (int i = 0; i < 40; i++) x2[i] = (float)i;
    y = tu_forward(m, x2, 1, 0);
    CHECK(m->outputs[0]->dims[0] == 1 && m->outputs[0]->dims[1] == 2);
    float want2[4] = {14, 15, 16, 17}; /* row 1, columns 2 and 3, both channels */
    CHECK(tu_maxdiff(y, want2, 4) == 0);
    tu_gradcheck(m, 2, 2, 1e-2, "cropping");
    mx_model_free(m);
    m = tu_sequential("3, 3, 1", "{\"class_name\": \"ZeroPadding2D\", \"config\": {\"padding\": 2}}", 1);
    if (!m) return;
    CHECK(m->outputs[0]->dims[0] == 7 && m->outputs[0]->dims[1] == 7);
    mx_model_free(m);
}

MX_TEST(layer_upsampling) {
    mx_model *m = tu_sequential("2, 2, 1", "{\"class_name\": \"UpSampling2D\", \"config\": {\"size\": [2, 3]}}", 1);
    if (!m) return;
    float x[4] = {1, 2, 3, 4};
    const float *y = tu_forward(m, x, 1, 0);
    float want[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    CHECK(tu_maxdiff(y, want, 24) == 0);
    tu_gradcheck(m, 2, 1, 1e-2, "upsampling nearest");
    mx_model_free(m);
    /* bilinear as TF.js's resizeBilinear: source x = out_x * in / out, no half-pixel offset */
    m = tu_sequential("1, 2, 1", "{\"class_name\": \"UpSampling2D\", \"config\": {\"size\": [1, 2], \"interpolation\": \"bilinear\"}}", 1);
    if (!m) return;
    float r[2] = {1, 3};
    y = tu_forward(m, r, 1, 0);
    float want2[4] = {1, 2, 3, 3};
    CHECK_MSG(tu_maxdiff(y, want2, 4) < 1e-6, "bilinear: %g %g %g %g", y[0], y[1], y[2], y[3]);
    mx_model_free(m);
    m = tu_sequential("3, 4, 2", "{\"class_name\": \"UpSampling2D\", \"config\": {\"interpolation\": \"bilinear\"}}", 1);
    if (!m) return;
    tu_gradcheck(m, 2, 3, 1e-2, "upsampling bilinear");
    mx_model_free(m);
}

MX_TEST(layer_global_pooling) {
    mx_model *m = tu_sequential("2, 2, 3", "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {}}", 1);
    if (!m) return;
    float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    CHECK(m->outputs[0]->rank == 1 && m->outputs[0]->dims[0] == 3);
    float avg[3] = {5.5f, 6.5f, 7.5f};
    CHECK(tu_maxdiff(tu_forward(m, x, 1, 0), avg, 3) < 1e-6);
    tu_gradcheck(m, 3, 1, 1e-2, "gap");
    mx_model_free(m);
    m = tu_sequential("2, 2, 3", "{\"class_name\": \"GlobalMaxPooling2D\", \"config\": {\"keepdims\": true}}", 1);
    if (!m) return;
    CHECK(m->outputs[0]->rank == 3 && m->outputs[0]->dims[0] == 1 && m->outputs[0]->dims[2] == 3);
    float mx[3] = {10, 11, 12};
    CHECK(tu_maxdiff(tu_forward(m, x, 1, 0), mx, 3) == 0);
    tu_gradcheck(m, 3, 2, 1e-2, "gmp");
    mx_model_free(m);
}

/* ---- activation layers ---- */

MX_TEST(layer_relu_variants) {
    float x[6] = {-2, -0.5f, 0.5f, 1.5f, 4, 8};
    struct {
        const char *cfg;
        float want[6];
    } cases[] = {
        {"{\"class_name\": \"ReLU\", \"config\": {}}", {0, 0, 0.5f, 1.5f, 4, 8}},
        {"{\"class_name\": \"ReLU\", \"config\": {\"max_value\": 6}}", {0, 0, 0.5f, 1.5f, 4, 6}},
        {"{\"class_name\": \"ReLU\", \"config\": {\"max_value\": 3, \"negative_slope\": 0.1, \"threshold\": 1}}",
         {-0.3f, -0.15f, -0.05f, 1.5f, 3, 3}},
        {"{\"class_name\": \"LeakyReLU\", \"config\": {}}", {-0.6f, -0.15f, 0.5f, 1.5f, 4, 8}},
        {"{\"class_name\": \"LeakyReLU\", \"config\": {\"alpha\": 0.5}}", {-1, -0.25f, 0.5f, 1.5f, 4, 8}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        mx_model *m = tu_sequential("6", cases[t].cfg, 1);
        if (!m) return;
        CHECK_MSG(tu_maxdiff(tu_forward(m, x, 1, 0), cases[t].want, 6) < 1e-6, "%s", cases[t].cfg);
        tu_gradcheck(m, 3, t, 1e-2, cases[t].cfg);
        mx_model_free(m);
    }
}

MX_TEST(layer_prelu) {
    mx_model *m = tu_sequential("2, 3, 4", "{\"class_name\": \"PReLU\", \"config\": {\"shared_axes\": [1, 2]}}", 1);
    if (!m) return;
    CHECK(m->params[0]->rank == 3 && m->params[0]->dims[0] == 1 && m->params[0]->dims[1] == 1 && m->params[0]->dims[2] == 4);
    float alpha[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    memcpy(m->params[0]->data, alpha, sizeof alpha);
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)(i - 12);
    const float *y = tu_forward(m, x, 1, 0);
    for (int i = 0; i < 24; i++) CHECK_NEAR(y[i], x[i] > 0 ? x[i] : alpha[i % 4] * x[i], 1e-6);
    tu_gradcheck(m, 2, 3, 1e-2, "prelu shared");
    mx_model_free(m);
    m = tu_sequential("5", "{\"class_name\": \"PReLU\", \"config\": {\"alpha_initializer\": {\"class_name\": \"Constant\", \"config\": {\"value\": 0.25}}}}", 1);
    if (!m) return;
    CHECK(m->params[0]->size == 5 && m->params[0]->data[3] == 0.25f);
    tu_gradcheck(m, 3, 4, 1e-2, "prelu");
    mx_model_free(m);
}

MX_TEST(layer_softmax_axis) {
    for (int axis = 1; axis <= 3; axis++) {
        char cfg[128];
        snprintf(cfg, sizeof cfg, "{\"class_name\": \"Softmax\", \"config\": {\"axis\": %d}}", axis == 3 ? -1 : axis);
        mx_model *m = tu_sequential("3, 4, 5", cfg, 1);
        if (!m) return;
        float *x = rand_input(m, 1, axis);
        const float *y = tu_forward(m, x, 1, 0);
        /* along the axis the values sum to 1 */
        int dims[3] = {3, 4, 5}, stride[3] = {20, 5, 1}, a = axis - 1;
        for (int i = 0; i < 60; i++) {
            int idx[3] = {i / 20, i / 5 % 4, i % 5};
            if (idx[a] != 0) continue;
            double s = 0;
            for (int k = 0; k < dims[a]; k++) s += y[i + k * stride[a]];
            CHECK_NEAR(s, 1, 1e-5);
        }
        tu_gradcheck(m, 2, axis, 1e-2, cfg);
        free(x);
        mx_model_free(m);
    }
}

/* ---- merging and reordering ---- */

MX_TEST(layer_merges) {
    const char *ops[] = {"Subtract", "Multiply", "Average", "Add"};
    for (int i = 0; i < 4; i++) {
        mx_model *m = two_branch(ops[i], "", 5);
        CHECK_MSG(m != NULL, "%s: %s", ops[i], mx_error());
        if (!m) return;
        float *x = rand_input(m, 2, i);
        const float *y = tu_forward(m, x, 2, 0);
        const float *a = m->nodes[1]->out[0]->data, *b = m->nodes[2]->out[0]->data;
        for (int k = 0; k < 2 * 3 * 5; k++) {
            float want = i == 0 ? a[k] - b[k] : i == 1 ? a[k] * b[k] : i == 2 ? (a[k] + b[k]) / 2 : a[k] + b[k];
            CHECK_NEAR(y[k], want, 1e-6);
        }
        tu_gradcheck(m, 2, 10 + i, 1e-2, ops[i]);
        free(x);
        mx_model_free(m);
    }
    /* Concatenate along the last axis and along axis 1 */
    mx_model *m = two_branch("Concatenate", "\"axis\": -1", 2);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    CHECK(m->outputs[0]->dims[0] == 3 && m->outputs[0]->dims[1] == 7);
    float *x = rand_input(m, 2, 5);
    const float *y = tu_forward(m, x, 2, 0);
    CHECK(y[5] == m->nodes[2]->out[0]->data[0] && y[7] == m->nodes[1]->out[0]->data[5]);
    tu_gradcheck(m, 2, 20, 1e-2, "concat -1");
    free(x);
    mx_model_free(m);
    m = two_branch("Concatenate", "\"axis\": 1", 5);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    CHECK(m->outputs[0]->dims[0] == 6 && m->outputs[0]->dims[1] == 5);
    tu_gradcheck(m, 2, 21, 1e-2, "concat 1");
    mx_model_free(m);
    /* shapes that do not fit */
    m = two_branch("Subtract", "", 4);
    CHECK(!m && strstr(mx_error(), "same shape"));
    m = two_branch("Concatenate", "\"axis\": 1", 4);
    CHECK(!m && strstr(mx_error(), "except along axis"));
}

MX_TEST(layer_permute) {
    mx_model *m = tu_sequential("2, 3, 4", "{\"class_name\": \"Permute\", \"config\": {\"dims\": [3, 1, 2]}}", 1);
    if (!m) return;
    CHECK(m->outputs[0]->dims[0] == 4 && m->outputs[0]->dims[1] == 2 && m->outputs[0]->dims[2] == 3);
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    const float *y = tu_forward(m, x, 1, 0);
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 3; c++) CHECK(y[(a * 2 + b) * 3 + c] == x[(b * 3 + c) * 4 + a]);
    tu_gradcheck(m, 2, 1, 1e-2, "permute");
    mx_model_free(m);
}

/* Conv2D on (frames, height, width, channels): each frame convolved alone */
MX_TEST(layer_conv2d_leading_axes) {
    mx_model *m = tu_sequential("3, 6, 5, 2", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 3, \"strides\": 2}}", 1);
    mx_model *one = tu_sequential("6, 5, 2", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 3, \"strides\": 2}}", 1);
    if (!m || !one) return;
    CHECK(m->outputs[0]->rank == 4 && m->outputs[0]->dims[0] == 3 && m->outputs[0]->dims[1] == 2 && m->outputs[0]->dims[2] == 2);
    float *x = rand_input(m, 2, 1);
    int64_t n = 2 * m->outputs[0]->size;
    float *y = malloc(sizeof(float) * (size_t)n);
    memcpy(y, tu_forward(m, x, 2, 0), sizeof(float) * (size_t)n);
    CHECK(tu_maxdiff(y, tu_forward(one, x, 6, 0), n) < 1e-6); /* 2 samples x 3 frames = 6 images */
    tu_gradcheck(m, 2, 2, 1e-2, "conv2d on frames");
    free(x);
    free(y);
    mx_model_free(m);
    mx_model_free(one);
}

/* ---- Conv2DTranspose ---- */

/* y[iy s - pad + ky, ix s - pad + kx, f] += x[iy, ix, c] k[ky, kx, f, c], plus bias */
static void ref_deconv(const float *x, int b, int h, int w, int c, const float *k, int kh, int kw, int f,
                       const float *bias, int s, int pad_t, int pad_l, int oh, int ow, float *y) {
    for (int i = 0; i < b * oh * ow * f; i++) y[i] = bias ? bias[i % f] : 0;
    for (int n = 0; n < b; n++)
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int oy = iy * s - pad_t + ky, ox = ix * s - pad_l + kx;
                        if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                        for (int o = 0; o < f; o++)
                            for (int i = 0; i < c; i++)
                                y[((n * oh + oy) * ow + ox) * f + o] +=
                                    x[((n * h + iy) * w + ix) * c + i] * k[((ky * kw + kx) * f + o) * c + i];
                    }
}

MX_TEST(layer_conv2d_transpose) {
    struct {
        int h, w, c, f, kh, kw, s, same, op, bias, oh, ow;
    } cases[] = {
        /* sizes as Keras and TF.js compute them */
        {4, 5, 3, 2, 3, 3, 2, 1, -1, 1, 8, 10},  {4, 5, 3, 2, 3, 3, 2, 0, -1, 1, 9, 11},
        {3, 3, 2, 4, 2, 2, 2, 0, -1, 0, 6, 6},   {3, 4, 2, 3, 1, 1, 3, 0, -1, 1, 9, 12}, /* k < s */
        {5, 4, 2, 3, 3, 2, 1, 1, -1, 1, 5, 4},   {3, 3, 2, 2, 3, 3, 2, 1, 1, 1, 6, 6},   /* output_padding */
        {3, 3, 2, 2, 4, 4, 3, 0, 2, 0, 12, 12},  {4, 4, 5, 3, 5, 5, 2, 1, -1, 1, 8, 8},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        char in[64], cfg[512], op[32] = "null";
        if (cases[t].op >= 0) snprintf(op, sizeof op, "%d", cases[t].op);
        snprintf(in, sizeof in, "%d, %d, %d", cases[t].h, cases[t].w, cases[t].c);
        snprintf(cfg, sizeof cfg,
                 "{\"class_name\": \"Conv2DTranspose\", \"config\": {\"filters\": %d, \"kernel_size\": [%d, %d], "
                 "\"strides\": %d, \"padding\": \"%s\", \"output_padding\": %s, \"use_bias\": %s}}",
                 cases[t].f, cases[t].kh, cases[t].kw, cases[t].s, cases[t].same ? "same" : "valid", op,
                 cases[t].bias ? "true" : "false");
        mx_model *m = tu_sequential(in, cfg, 5);
        if (!m) return;
        CHECK_MSG(m->outputs[0]->dims[0] == cases[t].oh && m->outputs[0]->dims[1] == cases[t].ow &&
                      m->outputs[0]->dims[2] == cases[t].f,
                  "case %zu: output %lldx%lld, want %dx%d", t, (long long)m->outputs[0]->dims[0],
                  (long long)m->outputs[0]->dims[1], cases[t].oh, cases[t].ow);
        CHECK(m->params[0]->dims[2] == cases[t].f && m->params[0]->dims[3] == cases[t].c); /* (kh, kw, filters, in) */
        float *bias = NULL;
        if (cases[t].bias) {
            bias = m->params[1]->data;
            tu_fill(bias, cases[t].f, 9, -1, 1);
        }
        int oh = cases[t].oh, ow = cases[t].ow, kh = cases[t].kh, kw = cases[t].kw, s = cases[t].s;
        /* the convolution's padding: TF's 'same' from the output size */
        int pt = 0, pl = 0;
        if (cases[t].same) {
            int th = (cases[t].h - 1) * s + kh - oh, tw = (cases[t].w - 1) * s + kw - ow;
            pt = th > 0 ? th / 2 : 0, pl = tw > 0 ? tw / 2 : 0;
        }
        float *x = rand_input(m, 2, t);
        int64_t n = 2 * m->outputs[0]->size;
        float *ref = malloc(sizeof(float) * (size_t)n);
        ref_deconv(x, 2, cases[t].h, cases[t].w, cases[t].c, m->params[0]->data, kh, kw, cases[t].f, bias, s, pt, pl, oh,
                   ow, ref);
        CHECK_MSG(tu_maxdiff(tu_forward(m, x, 2, 0), ref, n) < 1e-5, "case %zu differs from the reference by %g", t,
                  tu_maxdiff(tu_forward(m, x, 2, 0), ref, n));
        tu_gradcheck(m, 2, 40 + t, 1e-2, cfg);
        free(x);
        free(ref);
        mx_model_free(m);
    }
    mx_model *m = tu_sequential("4, 4, 2", "{\"class_name\": \"Conv2DTranspose\", \"config\": {\"filters\": 3, "
                                           "\"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", \"activation\": \"relu\"}}", 1);
    if (!m) return;
    tu_fill(m->params[1]->data, 3, 2, -0.3f, 0.3f);
    tu_gradcheck(m, 2, 3, 1e-2, "conv2d_transpose relu");
    mx_model_free(m);
    m = tu_sequential_try("4, 4, 2", "{\"class_name\": \"Conv2DTranspose\", \"config\": {\"filters\": 3, "
                                     "\"kernel_size\": 3, \"strides\": 2, \"output_padding\": 2}}", 1);
    CHECK(m == NULL && strstr(mx_error(), "output_padding"));
    mx_model_free(m);
}
