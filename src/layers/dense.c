/* dense.c: Dense, y = x W + b over the last axis (Keras applies it to every
 * leading position of higher-rank inputs). */
#include "kernels/gemm.h"
#include "kernels/vec.h"
#include "layers/common.h"

typedef struct dense_cfg {
    int units;
    int use_bias;
    mx_init kernel_init, bias_init;
    mx_reg kernel_reg, bias_reg;
} dense_cfg;

static const mx_field dense_fields[] = {
    {"units", MX_FIELD_INT, offsetof(dense_cfg, units), NULL, 0, NULL},
    {"activation", MX_FIELD_ACT, 0, "\"linear\"", 0, NULL},
    {"use_bias", MX_FIELD_BOOL, offsetof(dense_cfg, use_bias), "true", 0, NULL},
    {"kernel_initializer", MX_FIELD_INIT, offsetof(dense_cfg, kernel_init), MX_GLOROT_UNIFORM, 0, NULL},
    {"bias_initializer", MX_FIELD_INIT, offsetof(dense_cfg, bias_init), MX_ZEROS, 0, NULL},
    {"kernel_regularizer", MX_FIELD_REG, offsetof(dense_cfg, kernel_reg), "null", 0, NULL},
    {"bias_regularizer", MX_FIELD_REG, offsetof(dense_cfg, bias_reg), "null", 0, NULL},
    {0},
};

static int dense_build(mx_node *n) {
    dense_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    if (c->units <= 0) return mx_fail("units must be positive, got %d", c->units);
    if (in->rank < 1) return mx_fail("input must have at least one axis besides the batch");
    int64_t k = in->dims[in->rank - 1];
    int64_t kdims[2] = {k, c->units}, bdims[1] = {c->units};
    if (!mx_layer_param(n, "kernel", 2, kdims, &c->kernel_init, &c->kernel_reg, 1, k, c->units)) return -1;
    if (c->use_bias && !mx_layer_param(n, "bias", 1, bdims, &c->bias_init, &c->bias_reg, 1, k, c->units))
        return -1;
    int64_t od[MX_MAX_RANK];
    for (int i = 0; i < in->rank; i++) od[i] = in->dims[i];
    od[in->rank - 1] = c->units;
    return mx_node_set_output(n, 0, in->rank, od);
}

static void dense_forward(mx_node *n, const mx_exec *ex) {
    dense_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    int64_t k = in->dims[in->rank - 1];
    int64_t rows = ex->batch * in->size / k;
    mx_param *w = n->layer->params[0]; /* (k, units) */
    mx_fused fz = mx_fused_params(n, w->data, w->size, c->use_bias ? n->layer->params[1]->data : NULL, c->units);
    /* z (rows, units) = x W, then bias and activation while each block is in cache */
    mx_gemm_epilogue epi = {fz.bias, fz.act, fz.out};
    mx_gemm_ex(0, 0, rows, c->units, k, in->data, k, fz.w, c->units, fz.z, c->units, 0, &epi);
}

static void dense_backward(mx_node *n, const mx_exec *ex) {
    dense_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    int64_t k = in->dims[in->rank - 1];
    int64_t rows = ex->batch * in->size / k;
    const float *dz = n->z->grad; /* (rows, units) */
    mx_param *w = n->layer->params[0];
    if (w->grad) /* dW (k, units) = x^T dz */
        mx_gemm(1, 0, k, c->units, rows, in->data, k, dz, c->units, w->grad, c->units, n->param_acc);
    if (c->use_bias && n->layer->params[1]->grad)
        mx_vec_sum_rows(dz, n->layer->params[1]->grad, rows, c->units, n->param_acc);
    if (in->grad) /* dx (rows, k) = dz W^T */
        mx_gemm(0, 1, rows, k, c->units, dz, c->units, w->data, c->units, in->grad, k, n->in_acc[0]);
}

static void dense_explain_params(const mx_node *n, mx_text *t) {
    const dense_cfg *c = n->layer->cfg;
    long long k = n->in[0]->dims[n->in[0]->rank - 1], u = c->units;
    if (c->use_bias)
        mx_text_add(t, "(in + 1) * units = (%lld + 1) * %lld = %lld", k, u, (k + 1) * u);
    else
        mx_text_add(t, "in * units = %lld * %lld = %lld", k, u, k * u);
}

static void dense_explain_shape(const mx_node *n, mx_text *t) {
    const dense_cfg *c = n->layer->cfg;
    mx_text_add(t, "the last axis %lld becomes units = %d", (long long)n->in[0]->dims[n->in[0]->rank - 1], c->units);
}

const mx_layer_type mx_layer_dense = {
    .class_name = "Dense",
    .fields = dense_fields,
    .cfg_size = sizeof(dense_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .has_activation = 1,
    .fuses_activation = 1,
    .folds = 1,
    .build = dense_build,
    .forward = dense_forward,
    .backward = dense_backward,
    .explain_params = dense_explain_params,
    .explain_shape = dense_explain_shape,
    .example = "{\"input\": [3], \"config\": {\"units\": 2, \"activation\": \"tanh\"}}",
};
