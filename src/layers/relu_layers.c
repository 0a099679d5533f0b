/* relu_layers.c: the activation layers with options: ReLU (max_value,
 * negative_slope, threshold), LeakyReLU (alpha), Softmax (any axis) and
 * PReLU (a learned slope per value, optionally shared along axes). ReLU and
 * LeakyReLU are the layer's fused activation, like Activation. */
#include "kernels/vec.h"
#include "layers/common.h"

#include <math.h>
#include <string.h>

/* ---- ReLU, LeakyReLU ---- */

typedef struct relu_cfg {
    float max_value, negative_slope, threshold;
} relu_cfg;

static const mx_field relu_fields[] = {
    {"max_value", MX_FIELD_FLOAT_OR_NULL, offsetof(relu_cfg, max_value), "null", 0, NULL},
    {"negative_slope", MX_FIELD_FLOAT, offsetof(relu_cfg, negative_slope), "0", 0, NULL},
    {"threshold", MX_FIELD_FLOAT, offsetof(relu_cfg, threshold), "0", 0, NULL},
    {0},
};

static int relu_build(mx_node *n) {
    relu_cfg *c = n->layer->cfg;
    float mx = isnan(c->max_value) ? INFINITY : c->max_value;
    if (mx < 0) return mx_fail("max_value must not be negative, got %g", (double)c->max_value);
    if (c->negative_slope < 0) return mx_fail("negative_slope must not be negative");
    n->layer->act = mx_act_relu(mx, c->negative_slope, c->threshold);
    return mx_node_set_output(n, 0, n->in[0]->rank, n->in[0]->dims);
}

const mx_layer_type mx_layer_relu = {
    .class_name = "ReLU",
    .fields = relu_fields,
    .cfg_size = sizeof(relu_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = relu_build,
    .forward = mx_copy_forward,
    .backward = mx_copy_backward,
    .example = "{\"input\": [5], \"config\": {\"negative_slope\": 0.1}}",
};

typedef struct leaky_cfg {
    float alpha;
} leaky_cfg;

/* Keras 2 and TF.js call the slope alpha (default 0.3), Keras 3 negative_slope */
static const mx_field leaky_fields[] = {
    {"alpha", MX_FIELD_FLOAT, offsetof(leaky_cfg, alpha), "0.3", 0, NULL},
    {"negative_slope", MX_FIELD_FLOAT, offsetof(leaky_cfg, alpha), "0.3", 0, NULL},
    {0},
};

static int leaky_build(mx_node *n) {
    leaky_cfg *c = n->layer->cfg;
    n->layer->act = (mx_act){MX_ACT_LEAKY_RELU, c->alpha, INFINITY, 0, 1};
    return mx_node_set_output(n, 0, n->in[0]->rank, n->in[0]->dims);
}

const mx_layer_type mx_layer_leaky_relu = {
    .class_name = "LeakyReLU",
    .fields = leaky_fields,
    .cfg_size = sizeof(leaky_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = leaky_build,
    .forward = mx_copy_forward,
    .backward = mx_copy_backward,
    .example = "{\"input\": [5], \"config\": {\"alpha\": 0.2}}",
};

/* ---- Softmax over any axis: (outer, n, inner) with the axis in the middle ---- */

typedef struct softmax_cfg {
    mx_shape_cfg axis;
} softmax_cfg;

static const mx_field softmax_fields[] = {
    {"axis", MX_FIELD_AXES, offsetof(softmax_cfg, axis), "-1", 0, NULL},
    {0},
};

typedef struct axis_split {
    int64_t outer, n, inner; /* per sample */
} axis_split;

static int softmax_build(mx_node *n) {
    softmax_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    if (c->axis.rank != 1) return mx_fail("only one softmax axis is supported");
    int64_t a = c->axis.dims[0];
    if (a < 0) a += in->rank + 1; /* Keras counts the batch axis */
    if (a < 1 || a > in->rank) return mx_fail("axis %lld is out of range for rank %d", (long long)c->axis.dims[0], in->rank + 1);
    axis_split *s = mx_alloc(sizeof *s);
    if (!s) return -1;
    mx_free(n->state);
    n->state = s;
    s->outer = s->inner = 1;
    for (int i = 0; i < in->rank; i++) {
        if (i < a - 1) s->outer *= in->dims[i];
        if (i > a - 1) s->inner *= in->dims[i];
    }
    s->n = in->dims[a - 1];
    return mx_node_set_output(n, 0, in->rank, in->dims);
}

typedef struct softmax_job {
    const axis_split *s;
    const float *x, *y, *dy;
    float *out;
    int accumulate;
} softmax_job;

/* rows r = (outer index, inner index), elements strided by inner */
static void softmax_rows(void *p, int64_t r0, int64_t r1) {
    const softmax_job *j = p;
    const int64_t n = j->s->n, in = j->s->inner;
    for (int64_t r = r0; r < r1; r++) {
        int64_t base = (r / in) * n * in + r % in;
        const float *x = j->x + base;
        float *y = j->out + base, mx = x[0], sum = 0;
        for (int64_t i = 1; i < n; i++) mx = fmaxf(mx, x[i * in]);
        for (int64_t i = 0; i < n; i++) sum += y[i * in] = expf(x[i * in] - mx);
        for (int64_t i = 0; i < n; i++) y[i * in] /= sum;
    }
}

static void softmax_back_rows(void *p, int64_t r0, int64_t r1) {
    const softmax_job *j = p;
    const int64_t n = j->s->n, in = j->s->inner;
    for (int64_t r = r0; r < r1; r++) {
        int64_t base = (r / in) * n * in + r % in;
        const float *y = j->y + base, *dy = j->dy + base;
        float *dx = j->out + base, dot = 0;
        for (int64_t i = 0; i < n; i++) dot += y[i * in] * dy[i * in];
        for (int64_t i = 0; i < n; i++) {
            float g = y[i * in] * (dy[i * in] - dot);
            dx[i * in] = j->accumulate ? dx[i * in] + g : g;
        }
    }
}

static void softmax_forward(mx_node *n, const mx_exec *ex) {
    const axis_split *s = n->state;
    softmax_job j = {s, n->in[0]->data, NULL, NULL, n->z->data, 0};
    mx_parallel_for(ex->batch * s->outer * s->inner, 64, softmax_rows, &j);
}

static void softmax_backward(mx_node *n, const mx_exec *ex) {
    const axis_split *s = n->state;
    if (!n->in[0]->grad) return;
    softmax_job j = {s, NULL, n->z->data, n->z->grad, n->in[0]->grad, n->in_acc[0]};
    mx_parallel_for(ex->batch * s->outer * s->inner, 64, softmax_back_rows, &j);
}

const mx_layer_type mx_layer_softmax = {
    .class_name = "Softmax",
    .fields = softmax_fields,
    .cfg_size = sizeof(softmax_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = softmax_build,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .example = "{\"input\": [4], \"config\": {}}",
};

/* ---- PReLU: y = x > 0 ? x : alpha x, alpha of shape input with the shared
 * axes set to 1 (broadcast along them) ---- */

typedef struct prelu_cfg {
    mx_init alpha_init;
    mx_reg alpha_reg;
    mx_shape_cfg shared_axes;
} prelu_cfg;

static const mx_field prelu_fields[] = {
    {"alpha_initializer", MX_FIELD_INIT, offsetof(prelu_cfg, alpha_init), MX_ZEROS, 0, NULL},
    {"alpha_regularizer", MX_FIELD_REG, offsetof(prelu_cfg, alpha_reg), "null", 0, NULL},
    {"shared_axes", MX_FIELD_AXES, offsetof(prelu_cfg, shared_axes), "null", 0, NULL},
    {0},
};

typedef struct prelu_state {
    int rank;
    int64_t dims[MX_MAX_RANK];   /* input, per sample */
    int64_t adims[MX_MAX_RANK];  /* alpha: dims with shared axes 1 */
    int64_t size, asize;
} prelu_state;

static int prelu_build(mx_node *n) {
    prelu_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    prelu_state *s = mx_alloc(sizeof *s);
    if (!s) return -1;
    mx_free(n->state);
    n->state = s;
    s->rank = in->rank;
    s->size = in->size;
    s->asize = 1;
    memcpy(s->dims, in->dims, sizeof s->dims);
    memcpy(s->adims, in->dims, sizeof s->adims);
    for (int i = 0; c->shared_axes.rank > 0 && i < c->shared_axes.rank; i++) {
        long long a = c->shared_axes.dims[i];
        if (a < 1 || a > in->rank) return mx_fail("shared_axes entry %lld is out of range 1..%d", a, in->rank);
        s->adims[a - 1] = 1;
    }
    for (int i = 0; i < in->rank; i++) s->asize *= s->adims[i];
    if (!mx_layer_param(n, "alpha", in->rank, s->adims, &c->alpha_init, &c->alpha_reg, 1, s->asize, s->asize)) return -1;
    return mx_node_set_output(n, 0, in->rank, in->dims);
}

/* index of the alpha of element i of a sample */
static int64_t alpha_index(const prelu_state *s, int64_t i) {
    int64_t a = 0, stride = 1;
    for (int d = s->rank - 1; d >= 0; d--) {
        int64_t k = i % s->dims[d];
        i /= s->dims[d];
        if (s->adims[d] > 1) a += k * stride;
        stride *= s->adims[d];
    }
    return a;
}

static void prelu_forward(mx_node *n, const mx_exec *ex) {
    const prelu_state *s = n->state;
    const float *x = n->in[0]->data, *alpha = n->layer->params[0]->data;
    float *y = n->z->data;
    for (int64_t b = 0; b < ex->batch; b++)
        for (int64_t i = 0; i < s->size; i++) {
            float v = x[b * s->size + i];
            y[b * s->size + i] = v > 0 ? v : alpha[alpha_index(s, i)] * v;
        }
}

/* one pass in a fixed order: the alpha gradient sums over samples and
 * shared positions */
static void prelu_backward(mx_node *n, const mx_exec *ex) {
    const prelu_state *s = n->state;
    mx_param *alpha = n->layer->params[0];
    const float *x = n->in[0]->data, *dy = n->z->grad;
    float *dx = n->in[0]->grad, *da = alpha->grad;
    if (da && !n->param_acc) memset(da, 0, sizeof(float) * (size_t)s->asize);
    for (int64_t b = 0; b < ex->batch; b++)
        for (int64_t i = 0; i < s->size; i++) {
            int64_t k = b * s->size + i, a = alpha_index(s, i);
            float v = x[k], g = v > 0 ? dy[k] : alpha->data[a] * dy[k];
            if (dx) dx[k] = n->in_acc[0] ? dx[k] + g : g;
            if (da && v <= 0) da[a] += v * dy[k];
        }
}

static void prelu_explain_params(const mx_node *n, mx_text *t) {
    const prelu_cfg *c = n->layer->cfg;
    const prelu_state *s = n->state;
    mx_text_add(t, "alpha has the input's shape ");
    mx_text_product(t, s->rank, s->dims);
    if (c->shared_axes.rank > 0) {
        mx_text_add(t, " with shared_axes");
        for (int i = 0; i < c->shared_axes.rank; i++) mx_text_add(t, "%s %lld", i ? "," : "", c->shared_axes.dims[i]);
        mx_text_add(t, " set to 1: ");
        mx_text_product(t, s->rank, s->adims);
    }
    mx_text_add(t, " = %lld", (long long)s->asize);
}

const mx_layer_type mx_layer_prelu = {
    .class_name = "PReLU",
    .fields = prelu_fields,
    .cfg_size = sizeof(prelu_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = prelu_build,
    .forward = prelu_forward,
    .backward = prelu_backward,
    .explain_params = prelu_explain_params,
    .example = "{\"input\": [2, 2, 2], \"config\": {\"alpha_initializer\": {\"class_name\": \"Constant\", \"config\": {\"value\": 0.25}}}}",
};
