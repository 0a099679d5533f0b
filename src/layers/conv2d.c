/* conv2d.c: Conv2D on NHWC images with an HWIO kernel (Keras layout), as
 * im2col + GEMM. The column matrix is kept from forward for the weight
 * gradient and then reused for the input gradient. A 1x1 stride-1
 * convolution is a plain GEMM on the input. */
#include "kernels/gemm.h"
#include "kernels/vec.h"
#include "layers/common.h"

#include <string.h>

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

/* geometry of one call, derived in build */
typedef struct conv_geom {
    int64_t h, w, c;        /* input (h, w, c) */
    int64_t oh, ow, f;      /* output (oh, ow, f) */
    int kh, kw, sh, sw, dh, dw;
    int pad_top, pad_left;
    int64_t kdim;           /* kh * kw * c: one im2col row */
    int direct;             /* 1x1, stride 1, no padding: no im2col */
} conv_geom;

static int conv2d_build(mx_node *n) {
    conv2d_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    if (c->data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    if (c->groups != 1) return mx_fail("groups=%d is not supported (only 1)", c->groups);
    if (c->filters <= 0) return mx_fail("filters must be positive, got %d", c->filters);
    if (in->rank != 3) return mx_fail("expects input (batch, height, width, channels), got rank %d", in->rank + 1);
    if ((c->strides[0] > 1 || c->strides[1] > 1) && (c->dilation_rate[0] > 1 || c->dilation_rate[1] > 1))
        return mx_fail("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)");
    conv_geom *g = mx_alloc(sizeof *g);
    if (!g) return -1;
    mx_free(n->state);
    n->state = g;
    g->h = in->dims[0];
    g->w = in->dims[1];
    g->c = in->dims[2];
    g->f = c->filters;
    g->kh = c->kernel_size[0];
    g->kw = c->kernel_size[1];
    g->sh = c->strides[0];
    g->sw = c->strides[1];
    g->dh = c->dilation_rate[0];
    g->dw = c->dilation_rate[1];
    if (mx_conv_out(g->h, g->kh, g->sh, g->dh, c->padding, &g->oh, &g->pad_top) ||
        mx_conv_out(g->w, g->kw, g->sw, g->dw, c->padding, &g->ow, &g->pad_left))
        return -1;
    g->kdim = (int64_t)g->kh * g->kw * g->c;
    g->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_top == 0 && g->pad_left == 0;
    int64_t kd[4] = {g->kh, g->kw, g->c, g->f}, bd[1] = {g->f};
    int64_t rf = (int64_t)g->kh * g->kw; /* receptive field, Keras fan computation */
    if (!mx_layer_param(n, "kernel", 4, kd, &c->kernel_init, &c->kernel_reg, 1, rf * g->c, rf * g->f)) return -1;
    if (c->use_bias && !mx_layer_param(n, "bias", 1, bd, &c->bias_init, &c->bias_reg, 1, rf * g->c, rf * g->f))
        return -1;
    n->ws_per_sample = g->direct ? 0 : g->oh * g->ow * g->kdim; /* im2col rows of one image */
    int64_t od[3] = {g->oh, g->ow, g->f};
    return mx_node_set_output(n, 0, 3, od);
}

typedef struct conv_job {
    const conv_geom *g;
    const float *x; /* (batch, h, w, c) */
    float *col;     /* (batch * oh * ow, kdim) */
    float *dx;
    int accumulate;
} conv_job;

/* im2col for rows [r0, r1) of the column matrix; padding reads as zero */
static void im2col_range(void *p, int64_t r0, int64_t r1) {
    const conv_job *j = p;
    const conv_geom *g = j->g;
    size_t crow = sizeof(float) * (size_t)g->c;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / (g->oh * g->ow), pix = r % (g->oh * g->ow);
        int64_t oy = pix / g->ow, ox = pix % g->ow;
        const float *img = j->x + b * g->h * g->w * g->c;
        float *dst = j->col + r * g->kdim;
        for (int ky = 0; ky < g->kh; ky++) {
            int64_t iy = oy * g->sh - g->pad_top + ky * g->dh;
            for (int kx = 0; kx < g->kw; kx++, dst += g->c) {
                int64_t ix = ox * g->sw - g->pad_left + kx * g->dw;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                    memset(dst, 0, crow);
                else
                    memcpy(dst, img + (iy * g->w + ix) * g->c, crow);
            }
        }
    }
}

/* col2im for images [b0, b1): each image's gradient is written by one thread,
 * in a fixed order, so results do not depend on the thread count */
static void col2im_range(void *p, int64_t b0, int64_t b1) {
    const conv_job *j = p;
    const conv_geom *g = j->g;
    int64_t img_size = g->h * g->w * g->c;
    for (int64_t b = b0; b < b1; b++) {
        float *dimg = j->dx + b * img_size;
        if (!j->accumulate) memset(dimg, 0, sizeof(float) * (size_t)img_size);
        const float *src = j->col + b * g->oh * g->ow * g->kdim;
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++)
                for (int ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh - g->pad_top + ky * g->dh;
                    for (int kx = 0; kx < g->kw; kx++, src += g->c) {
                        int64_t ix = ox * g->sw - g->pad_left + kx * g->dw;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                        float *d = dimg + (iy * g->w + ix) * g->c;
                        for (int64_t ch = 0; ch < g->c; ch++) d[ch] += src[ch];
                    }
                }
    }
}

static void conv2d_forward(mx_node *n, const mx_exec *ex) {
    conv2d_cfg *c = n->layer->cfg;
    const conv_geom *g = n->state;
    int64_t rows = ex->batch * g->oh * g->ow;
    const float *a = n->in[0]->data;
    if (!g->direct) {
        conv_job j = {g, n->in[0]->data, n->ws, NULL, 0};
        mx_parallel_for(rows, 256, im2col_range, &j);
        a = n->ws;
    }
    float *z = n->z->data; /* (rows, f) */
    if (c->use_bias) mx_vec_broadcast_rows(z, n->layer->params[1]->data, rows, g->f);
    mx_gemm(0, 0, rows, g->f, g->kdim, a, g->kdim, n->layer->params[0]->data, g->f, z, g->f, c->use_bias);
}

static void conv2d_backward(mx_node *n, const mx_exec *ex) {
    conv2d_cfg *c = n->layer->cfg;
    const conv_geom *g = n->state;
    int64_t rows = ex->batch * g->oh * g->ow;
    const float *dz = n->z->grad; /* (rows, f) */
    mx_param *w = n->layer->params[0];
    const float *col = g->direct ? n->in[0]->data : n->ws; /* (rows, kdim) */
    if (w->grad) /* dW (kdim, f) = col^T dz */
        mx_gemm(1, 0, g->kdim, g->f, rows, col, g->kdim, dz, g->f, w->grad, g->f, n->param_acc);
    if (c->use_bias && n->layer->params[1]->grad)
        mx_vec_sum_rows(dz, n->layer->params[1]->grad, rows, g->f, n->param_acc);
    mx_value *in = n->in[0];
    if (!in->grad) return;
    if (g->direct) { /* dx (rows, c) = dz W^T */
        mx_gemm(0, 1, rows, g->c, g->f, dz, g->f, w->data, g->f, in->grad, g->c, n->in_acc[0]);
        return;
    }
    /* dcol (rows, kdim) = dz W^T, into the column buffer (its forward use is done) */
    mx_gemm(0, 1, rows, g->kdim, g->f, dz, g->f, w->data, g->f, n->ws, g->kdim, 0);
    conv_job j = {g, NULL, n->ws, in->grad, n->in_acc[0]};
    mx_parallel_for(ex->batch, 1, col2im_range, &j);
}

const mx_layer_type mx_layer_conv2d = {
    .class_name = "Conv2D",
    .fields = conv2d_fields,
    .cfg_size = sizeof(conv2d_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .has_activation = 1,
    .build = conv2d_build,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
};
