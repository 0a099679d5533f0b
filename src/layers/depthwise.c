/* depthwise.c: DepthwiseConv2D (each channel with its own filters) and
 * SeparableConv2D (a depthwise convolution followed by a 1x1 one, as one
 * layer). Kernels: (kh, kw, c, depth_multiplier) and (1, 1, c * dm, filters). */
#include "kernels/depthwise.h"
#include "kernels/gemm.h"
#include "kernels/vec.h"
#include "layers/common.h"

typedef struct dw_cfg {
    int filters; /* SeparableConv2D only */
    int kernel_size[2], strides[2], padding, data_format, dilation_rate[2];
    int depth_multiplier;
    int use_bias;
    mx_init depthwise_init, pointwise_init, bias_init;
    mx_reg depthwise_reg, pointwise_reg, bias_reg;
} dw_cfg;

#define DW_COMMON_FIELDS                                                                                               \
    {"kernel_size", MX_FIELD_INTS, offsetof(dw_cfg, kernel_size), NULL, 2, NULL},                                     \
        {"strides", MX_FIELD_INTS, offsetof(dw_cfg, strides), "[1, 1]", 2, NULL},                                     \
        {"padding", MX_FIELD_ENUM, offsetof(dw_cfg, padding), "\"valid\"", 0, mx_padding_names},                     \
        {"data_format", MX_FIELD_ENUM, offsetof(dw_cfg, data_format), "\"channels_last\"", 0, mx_data_format_names},  \
        {"dilation_rate", MX_FIELD_INTS, offsetof(dw_cfg, dilation_rate), "[1, 1]", 2, NULL},                         \
        {"depth_multiplier", MX_FIELD_INT, offsetof(dw_cfg, depth_multiplier), "1", 0, NULL},                         \
        {"activation", MX_FIELD_ACT, 0, "\"linear\"", 0, NULL},                                                        \
        {"use_bias", MX_FIELD_BOOL, offsetof(dw_cfg, use_bias), "true", 0, NULL},                                     \
        {"depthwise_initializer", MX_FIELD_INIT, offsetof(dw_cfg, depthwise_init), MX_GLOROT_UNIFORM, 0, NULL},       \
        {"bias_initializer", MX_FIELD_INIT, offsetof(dw_cfg, bias_init), MX_ZEROS, 0, NULL},                          \
        {"depthwise_regularizer", MX_FIELD_REG, offsetof(dw_cfg, depthwise_reg), "null", 0, NULL},                    \
        {"bias_regularizer", MX_FIELD_REG, offsetof(dw_cfg, bias_reg), "null", 0, NULL}

static const mx_field depthwise_fields[] = {DW_COMMON_FIELDS, {0}};

static const mx_field separable_fields[] = {
    {"filters", MX_FIELD_INT, offsetof(dw_cfg, filters), NULL, 0, NULL},
    DW_COMMON_FIELDS,
    {"pointwise_initializer", MX_FIELD_INIT, offsetof(dw_cfg, pointwise_init), MX_GLOROT_UNIFORM, 0, NULL},
    {"pointwise_regularizer", MX_FIELD_REG, offsetof(dw_cfg, pointwise_reg), "null", 0, NULL},
    {0},
};

typedef struct dw_state {
    mx_conv_geom g;      /* the depthwise step: f = c * dm */
    int64_t lead;        /* images per sample */
    int separable;
    mx_param *dw, *pw, *bias;
} dw_state;

static int dw_build(mx_node *n) {
    dw_cfg *cf = n->layer->cfg;
    dw_state *s = mx_alloc(sizeof *s);
    if (!s) return -1;
    mx_free(n->state);
    n->state = s;
    s->separable = cf->filters > 0;
    if (cf->depth_multiplier < 1) return mx_fail("depth_multiplier must be positive, got %d", cf->depth_multiplier);
    int64_t c = n->in[0]->rank ? n->in[0]->dims[n->in[0]->rank - 1] : 0;
    mx_conv_geom *g = &s->g;
    if (mx_conv_geometry(n, cf->kernel_size, cf->strides, cf->dilation_rate, cf->padding, cf->data_format,
                         c * cf->depth_multiplier, g, &s->lead))
        return -1;
    /* Keras fans of a (kh, kw, in, out) kernel: kh kw in and kh kw out */
    int64_t rf = (int64_t)g->kh * g->kw, kd[4] = {g->kh, g->kw, g->c, cf->depth_multiplier};
    if (!(s->dw = mx_layer_param(n, "depthwise_kernel", 4, kd, &cf->depthwise_init, &cf->depthwise_reg, 1, rf * g->c,
                                 rf * cf->depth_multiplier)))
        return -1;
    int64_t out = g->f;
    if (s->separable) {
        int64_t pd[4] = {1, 1, g->f, cf->filters};
        if (!(s->pw = mx_layer_param(n, "pointwise_kernel", 4, pd, &cf->pointwise_init, &cf->pointwise_reg, 1, g->f,
                                     cf->filters)))
            return -1;
        out = cf->filters;
        n->ws_per_sample = s->lead * g->oh * g->ow * g->f; /* the depthwise result, and its gradient */
    }
    int64_t bd[1] = {out};
    if (cf->use_bias && !(s->bias = mx_layer_param(n, "bias", 1, bd, &cf->bias_init, &cf->bias_reg, 1, out, out)))
        return -1;
    n->ws_fixed = MX_DEPTHWISE_PARTS * g->kh * g->kw * g->f;
    mx_conv_geom o = *g;
    o.f = out;
    return mx_conv_set_output(n, &o);
}

static void dw_forward(mx_node *n, const mx_exec *ex) {
    const dw_state *s = n->state;
    const int images = (int)(ex->batch * s->lead);
    float *out = mx_act_fused(n) && n->z != n->out[0] ? n->out[0]->data : NULL;
    const float *bias = s->bias ? s->bias->data : NULL;
    if (!s->separable) {
        mx_fused fz = mx_fused_params(n, s->dw->data, s->dw->size, bias, s->g.f);
        mx_depthwise_forward(&s->g, (int)s->dw->dims[3], n->in[0]->data, fz.w, fz.bias, fz.act, fz.z, fz.out, images);
        return;
    }
    /* depthwise into the workspace (no bias), then the 1x1 convolution as a GEMM */
    mx_act linear = {.kind = MX_ACT_LINEAR};
    mx_depthwise_forward(&s->g, (int)s->dw->dims[3], n->in[0]->data, s->dw->data, NULL, linear, n->ws, NULL, images);
    int64_t rows = images * s->g.oh * s->g.ow, f = s->pw->dims[3];
    mx_gemm_epilogue epi = {bias, n->layer->act, out};
    mx_gemm_ex(0, 0, rows, f, s->g.f, n->ws, s->g.f, s->pw->data, f, n->z->data, f, 0, &epi);
}

static void dw_backward(mx_node *n, const mx_exec *ex) {
    const dw_state *s = n->state;
    const int images = (int)(ex->batch * s->lead);
    const int dm = (int)s->dw->dims[3];
    int64_t rows = images * s->g.oh * s->g.ow, fo = n->z->dims[n->z->rank - 1];
    const float *dz = n->z->grad; /* (rows, fo) */
    float *parts = n->ws + ex->batch * n->ws_per_sample;
    if (s->bias && s->bias->grad) mx_vec_sum_rows(dz, s->bias->grad, rows, fo, n->param_acc);
    if (s->separable) {
        /* pointwise: dW_pw (c dm, f) = inter^T dz, then d inter (rows, c dm) = dz W_pw^T over inter */
        if (s->pw->grad)
            mx_gemm(1, 0, s->g.f, fo, rows, n->ws, s->g.f, dz, fo, s->pw->grad, fo, n->param_acc);
        if (!s->dw->grad && !n->in[0]->grad) return;
        /* the intermediate is done with: its gradient takes its place */
        mx_gemm(0, 1, rows, s->g.f, fo, dz, fo, s->pw->data, fo, n->ws, s->g.f, 0);
        dz = n->ws;
    }
    if (s->dw->grad) mx_depthwise_weight_grad(&s->g, dm, n->in[0]->data, dz, s->dw->grad, parts, images, n->param_acc);
    if (n->in[0]->grad) mx_depthwise_backward_data(&s->g, dm, dz, s->dw->data, n->in[0]->grad, n->in_acc[0], images);
}

static int dw_window(const mx_node *n, mx_conv_geom *g) {
    *g = ((const dw_state *)n->state)->g;
    return 0;
}

static void dw_explain_params(const mx_node *n, mx_text *t) {
    const dw_cfg *cf = n->layer->cfg;
    const mx_conv_geom *g = &((const dw_state *)n->state)->g;
    long long c = g->c, dm = cf->depth_multiplier, dwk = (long long)g->kh * g->kw * c * dm;
    int b = cf->use_bias;
    if (cf->filters > 0) { /* depthwise kernel, pointwise kernel, bias of the filters */
        long long f = cf->filters;
        mx_text_add(t, "kh*kw*cin*depth_multiplier + cin*depth_multiplier*filters%s = %d*%d*%lld*%lld + %lld*%lld*%lld",
                    b ? " + filters" : "", g->kh, g->kw, c, dm, c, dm, f);
        if (b) mx_text_add(t, " + %lld", f);
        mx_text_add(t, " = %lld", dwk + c * dm * f + (b ? f : 0));
        return;
    }
    mx_text_add(t, "kh*kw*cin*depth_multiplier%s = %d*%d*%lld*%lld", b ? " + cin*depth_multiplier" : "", g->kh, g->kw,
                c, dm);
    if (b) mx_text_add(t, " + %lld*%lld", c, dm);
    mx_text_add(t, " = %lld", dwk + (b ? c * dm : 0));
}

static void dw_explain_shape(const mx_node *n, mx_text *t) {
    const dw_cfg *cf = n->layer->cfg;
    const mx_conv_geom *g = &((const dw_state *)n->state)->g;
    mx_explain_window_shape(g, cf->padding == MX_PAD_SAME, t);
    if (cf->filters > 0)
        mx_text_add(t, ", channels = filters = %d", cf->filters);
    else
        mx_text_add(t, ", channels = cin*depth_multiplier = %lld*%d = %lld", (long long)g->c, cf->depth_multiplier,
                    (long long)g->f);
}

const mx_layer_type mx_layer_depthwise_conv2d = {
    .class_name = "DepthwiseConv2D",
    .fields = depthwise_fields,
    .cfg_size = sizeof(dw_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .has_activation = 1,
    .fuses_activation = 1,
    .folds = 1,
    .build = dw_build,
    .forward = dw_forward,
    .backward = dw_backward,
    .window = dw_window,
    .explain_params = dw_explain_params,
    .explain_shape = dw_explain_shape,
    .example = "{\"input\": [5, 5, 2], \"config\": {\"kernel_size\": 3, \"depth_multiplier\": 2}}",
};

const mx_layer_type mx_layer_separable_conv2d = {
    .class_name = "SeparableConv2D",
    .fields = separable_fields,
    .cfg_size = sizeof(dw_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .has_activation = 1,
    .fuses_activation = 1,
    .build = dw_build,
    .forward = dw_forward,
    .backward = dw_backward,
    .window = dw_window,
    .explain_params = dw_explain_params,
    .explain_shape = dw_explain_shape,
    .example = "{\"input\": [5, 5, 2], \"config\": {\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\"}}",
};
