/* conv2d.c: Conv2D on NHWC images with an HWIO kernel (Keras layout).
 * Three ways to compute it, picked from the geometry: a plain GEMM (1x1),
 * Winograd F(2x2, 3x3) (3x3 stride 1) or im2col + GEMM (the rest). */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/pool.h"
#include "kernels/vec.h"
#include "layers/common.h"


typedef struct conv2d_cfg {
    int filters;
    int kernel_size[2];
    int strides[2];
    int padding;
    int data_format;
    int dilation_rate[2];
    int groups;
    int use_bias;
    mx_init kernel_init, bias_init;
    mx_reg kernel_reg, bias_reg;
} conv2d_cfg;

static const mx_field conv2d_fields[] = {
    {"filters", MX_FIELD_INT, offsetof(conv2d_cfg, filters), NULL, 0, NULL},
    {"kernel_size", MX_FIELD_INTS, offsetof(conv2d_cfg, kernel_size), NULL, 2, NULL},
    {"strides", MX_FIELD_INTS, offsetof(conv2d_cfg, strides), "[1, 1]", 2, NULL},
    {"padding", MX_FIELD_ENUM, offsetof(conv2d_cfg, padding), "\"valid\"", 0, mx_padding_names},
    {"data_format", MX_FIELD_ENUM, offsetof(conv2d_cfg, data_format), "\"channels_last\"", 0,
     mx_data_format_names},
    {"dilation_rate", MX_FIELD_INTS, offsetof(conv2d_cfg, dilation_rate), "[1, 1]", 2, NULL},
    {"groups", MX_FIELD_INT, offsetof(conv2d_cfg, groups), "1", 0, NULL},
    {"activation", MX_FIELD_ACT, 0, "\"linear\"", 0, NULL},
    {"use_bias", MX_FIELD_BOOL, offsetof(conv2d_cfg, use_bias), "true", 0, NULL},
    {"kernel_initializer", MX_FIELD_INIT, offsetof(conv2d_cfg, kernel_init), MX_GLOROT_UNIFORM, 0, NULL},
    {"bias_initializer", MX_FIELD_INIT, offsetof(conv2d_cfg, bias_init), MX_ZEROS, 0, NULL},
    {"kernel_regularizer", MX_FIELD_REG, offsetof(conv2d_cfg, kernel_reg), "null", 0, NULL},
    {"bias_regularizer", MX_FIELD_REG, offsetof(conv2d_cfg, bias_reg), "null", 0, NULL},
    {0},
};

/* how a call is computed, chosen in build from its geometry */
enum { CONV_IM2COL, CONV_POINTWISE, CONV_WINOGRAD, CONV_DIRECT };

typedef struct conv_state {
    mx_conv_geom g;
    int path;
    int64_t lead; /* images per sample: leading axes before (h, w, c) */
} conv_state;

static int conv2d_build(mx_node *n) {
    conv2d_cfg *c = n->layer->cfg;
    if (c->groups != 1) return mx_fail("groups=%d is not supported (only 1)", c->groups);
    if (c->filters <= 0) return mx_fail("filters must be positive, got %d", c->filters);
    conv_state *st = mx_alloc(sizeof *st);
    if (!st) return -1;
    mx_free(n->state);
    n->state = st;
    mx_conv_geom *g = &st->g;
    if (mx_conv_geometry(n, c->kernel_size, c->strides, c->dilation_rate, c->padding, c->data_format, c->filters, g,
                         &st->lead))
        return -1;
    /* 1x1 stride 1 is a plain GEMM on the input; 3x3 stride 1 with a few
     * channels or more goes through Winograd (2.25x fewer multiplications);
     * in inference, few values per output (first layers) are summed
     * directly; anything else is im2col + GEMM, whose columns also serve
     * the gradients. */
    st->path = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 ? CONV_POINTWISE
               : mx_winograd_ok(g) && g->c >= 4                      ? CONV_WINOGRAD
               : mx_conv_direct_ok(g)                                ? CONV_DIRECT
                                                                     : CONV_IM2COL;
    int64_t kd[4] = {g->kh, g->kw, g->c, g->f}, bd[1] = {g->f};
    int64_t rf = (int64_t)g->kh * g->kw; /* receptive field, Keras fan computation */
    if (!mx_layer_param(n, "kernel", 4, kd, &c->kernel_init, &c->kernel_reg, 1, rf * g->c, rf * g->f)) return -1;
    if (c->use_bias && !mx_layer_param(n, "bias", 1, bd, &c->bias_init, &c->bias_reg, 1, rf * g->c, rf * g->f))
        return -1;
    /* im2col rows of one image (kept for the weight gradient, then reused
     * for the input gradient), or Winograd's transformed tiles (the input's
     * likewise kept for the weight gradient) */
    n->ws_per_sample = st->path == CONV_POINTWISE ? 0 : g->oh * g->ow * g->kdim;
    if (st->path == CONV_WINOGRAD) {
        n->ws_per_sample = mx_winograd_ws_per_sample(g);
        n->ws_fixed = mx_winograd_ws_fixed(g);
    }
    n->ws_per_sample *= st->lead;
    return mx_conv_set_output(n, g);
}

/* Winograd's transformed filters in the workspace: made again only when the
 * weights changed or the workspace is new; training makes them every step
 * (the weights change, and the backward pass reuses the space). */
static void winograd_filters(mx_node *n, const float *w, int training) {
    const conv_state *st = n->state;
    const uint64_t version = n->layer->model->weights_version + 1;
    if (training || n->ws_version != version) mx_winograd_filters(&st->g, w, n->ws);
    n->ws_version = training ? 0 : version;
}

/* Inference with the 2x2 max pooling that follows done here: one image at a
 * time per thread, so its full-size output is pooled while still in cache. */
typedef struct pooled_job {
    const mx_node *n;
    const float *w, *bias;
} pooled_job;

static void pooled_range(void *p, int64_t b0, int64_t b1) {
    const pooled_job *j = p;
    const mx_node *n = j->n;
    const conv_state *st = n->state;
    const mx_conv_geom *g = &st->g;
    const int64_t pix = g->oh * g->ow;
    for (int64_t b = b0; b < b1; b++) {
        const float *x = n->in[0]->data + b * g->h * g->w * g->c;
        float *col = n->ws + b * pix * g->kdim, *z = n->z->data + b * pix * g->f;
        if (st->path == CONV_DIRECT) {
            mx_conv_direct(g, x, j->w, j->bias, n->layer->act, z, z, 1);
        } else {
            const float *a = x;
            if (st->path == CONV_IM2COL) {
                mx_im2col(g, x, col, 1);
                a = col;
            }
            mx_gemm_epilogue epi = {j->bias, n->layer->act, z};
            mx_gemm_ex(0, 0, pix, g->f, g->kdim, a, g->kdim, j->w, g->f, z, g->f, 0, &epi);
        }
        mx_maxpool_2x2(z, g->oh, g->ow, g->f, n->pool_into->z->data + b * (g->oh / 2) * (g->ow / 2) * g->f);
    }
}

static void forward_pooled(mx_node *n, const float *w, const float *bias, int batch) {
    const conv_state *st = n->state;
    if (st->path == CONV_WINOGRAD) {
        winograd_filters(n, w, 0);
        mx_winograd_forward_pool2(&st->g, n->in[0]->data, bias, n->layer->act, n->pool_into->z->data, n->ws, batch);
        return;
    }
    pooled_job j = {n, w, bias};
    mx_parallel_for(batch, 1, pooled_range, &j);
}

static void conv2d_forward(mx_node *n, const mx_exec *ex) {
    conv2d_cfg *c = n->layer->cfg;
    const conv_state *st = n->state;
    const mx_conv_geom *g = &st->g;
    const int images = (int)(ex->batch * st->lead);
    int64_t rows = images * g->oh * g->ow;
    mx_param *kernel = n->layer->params[0];
    mx_fused fz = mx_fused_params(n, kernel->data, kernel->size, c->use_bias ? n->layer->params[1]->data : NULL, g->f);
    if (n->pool_into && !ex->training) {
        forward_pooled(n, fz.w, fz.bias, images);
        return;
    }
    if (st->path == CONV_WINOGRAD) {
        winograd_filters(n, fz.w, ex->training);
        mx_winograd_forward(g, n->in[0]->data, fz.bias, fz.act, fz.z, fz.out, n->ws, images);
        return;
    }
    if (st->path == CONV_DIRECT && !ex->training) { /* training keeps im2col's columns for dW */
        mx_conv_direct(g, n->in[0]->data, fz.w, fz.bias, fz.act, fz.z, fz.out, images);
        return;
    }
    const float *a = n->in[0]->data; /* (rows, kdim) */
    if (st->path == CONV_IM2COL || st->path == CONV_DIRECT) {
        mx_im2col(g, n->in[0]->data, n->ws, images);
        a = n->ws;
    }
    /* z (rows, f) = col W, then bias and activation while each block is in cache */
    mx_gemm_epilogue epi = {fz.bias, fz.act, fz.out};
    mx_gemm_ex(0, 0, rows, g->f, g->kdim, a, g->kdim, fz.w, g->f, fz.z, g->f, 0, &epi);
}

static int conv2d_can_pool(const mx_node *n) {
    MX_UNUSED(n);
    return 1;
}

static void conv2d_backward(mx_node *n, const mx_exec *ex) {
    conv2d_cfg *c = n->layer->cfg;
    const conv_state *st = n->state;
    const mx_conv_geom *g = &st->g;
    const int images = (int)(ex->batch * st->lead);
    int64_t rows = images * g->oh * g->ow;
    const float *dz = n->z->grad; /* (rows, f) */
    mx_param *w = n->layer->params[0];
    mx_value *in = n->in[0];
    if (w->grad) {
        if (st->path == CONV_WINOGRAD) { /* from the transformed input the forward pass left in ws */
            mx_winograd_weight_grad(g, dz, w->grad, n->param_acc, n->ws, images);
        } else { /* dW (kdim, f) = col^T dz */
            mx_gemm(1, 0, g->kdim, g->f, rows, st->path == CONV_POINTWISE ? in->data : n->ws, g->kdim, dz, g->f,
                    w->grad, g->f, n->param_acc);
        }
    }
    if (c->use_bias && n->layer->params[1]->grad)
        mx_vec_sum_rows(dz, n->layer->params[1]->grad, rows, g->f, n->param_acc);
    if (!in->grad) return;
    if (st->path == CONV_POINTWISE) { /* dx (rows, c) = dz W^T */
        mx_gemm(0, 1, rows, g->c, g->f, dz, g->f, w->data, g->f, in->grad, g->c, n->in_acc[0]);
    } else if (st->path == CONV_WINOGRAD) { /* dx = dz convolved with the flipped kernel (reuses ws) */
        mx_winograd_backward_data(g, dz, w->data, in->grad, n->in_acc[0], n->ws, images);
    } else { /* dcol (rows, kdim) = dz W^T, into the column buffer (its forward use is done), then to pixels */
        mx_gemm(0, 1, rows, g->kdim, g->f, dz, g->f, w->data, g->f, n->ws, g->kdim, 0);
        mx_col2im(g, n->ws, in->grad, images, n->in_acc[0]);
    }
}

static int conv2d_window(const mx_node *n, mx_conv_geom *g) {
    *g = ((const conv_state *)n->state)->g;
    return 0;
}

static void conv2d_explain_params(const mx_node *n, mx_text *t) {
    const conv2d_cfg *c = n->layer->cfg;
    const mx_conv_geom *g = &((const conv_state *)n->state)->g;
    long long k = (long long)g->kh * g->kw * g->c;
    if (c->use_bias)
        mx_text_add(t, "(kh*kw*cin + 1) * filters = (%d*%d*%lld + 1) * %lld = %lld", g->kh, g->kw, (long long)g->c,
                    (long long)g->f, (k + 1) * g->f);
    else
        mx_text_add(t, "kh*kw*cin * filters = %d*%d*%lld * %lld = %lld", g->kh, g->kw, (long long)g->c, (long long)g->f,
                    k * g->f);
}

static void conv2d_explain_shape(const mx_node *n, mx_text *t) {
    const conv2d_cfg *c = n->layer->cfg;
    mx_explain_window_shape(&((const conv_state *)n->state)->g, c->padding == MX_PAD_SAME, t);
    mx_text_add(t, ", channels = filters = %d", c->filters);
}

const mx_layer_type mx_layer_conv2d = {
    .class_name = "Conv2D",
    .fields = conv2d_fields,
    .cfg_size = sizeof(conv2d_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .has_activation = 1,
    .fuses_activation = 1,
    .folds = 1,
    .build = conv2d_build,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .can_pool = conv2d_can_pool,
    .window = conv2d_window,
    .explain_params = conv2d_explain_params,
    .explain_shape = conv2d_explain_shape,
    .example = "{\"input\": [5, 5, 2], \"config\": {\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}}",
};
