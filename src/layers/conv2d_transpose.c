/* conv2d_transpose.c: Conv2DTranspose on NHWC images, Keras's kernel layout
 * (kh, kw, filters, in_channels). A transposed convolution is the input
 * gradient of a convolution: the convolution that maps its output
 * (oh, ow, filters) back to its input (h, w, in_channels) has an HWIO
 * kernel that is exactly this layer's kernel. So its forward pass is that
 * convolution's backward data pass (a GEMM into im2col's columns, then
 * col2im), and its backward pass is that convolution's forward pass (im2col
 * of the output gradient, then GEMMs for the input and the kernel).
 * Output size (Keras, TF.js): valid: h s + max(k - s, 0), same: h s; with
 * output_padding p: (h - 1) s + k + p, or with same (h - 1) s + k - 2 (k / 2) + p. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/vec.h"
#include "layers/common.h"

#include <string.h>

typedef struct deconv_cfg {
    int filters;
    int kernel_size[2];
    int strides[2];
    int padding;
    mx_shape_cfg output_padding;
    int data_format;
    int dilation_rate[2];
    int use_bias;
    mx_init kernel_init, bias_init;
    mx_reg kernel_reg, bias_reg;
} deconv_cfg;

static const mx_field deconv_fields[] = {
    {"filters", MX_FIELD_INT, offsetof(deconv_cfg, filters), NULL, 0, NULL},
    {"kernel_size", MX_FIELD_INTS, offsetof(deconv_cfg, kernel_size), NULL, 2, NULL},
    {"strides", MX_FIELD_INTS, offsetof(deconv_cfg, strides), "[1, 1]", 2, NULL},
    {"padding", MX_FIELD_ENUM, offsetof(deconv_cfg, padding), "\"valid\"", 0, mx_padding_names},
    {"output_padding", MX_FIELD_AXES, offsetof(deconv_cfg, output_padding), "null", 0, NULL},
    {"data_format", MX_FIELD_ENUM, offsetof(deconv_cfg, data_format), "\"channels_last\"", 0, mx_data_format_names},
    {"dilation_rate", MX_FIELD_INTS, offsetof(deconv_cfg, dilation_rate), "[1, 1]", 2, NULL},
    {"activation", MX_FIELD_ACT, 0, "\"linear\"", 0, NULL},
    {"use_bias", MX_FIELD_BOOL, offsetof(deconv_cfg, use_bias), "true", 0, NULL},
    {"kernel_initializer", MX_FIELD_INIT, offsetof(deconv_cfg, kernel_init), MX_GLOROT_UNIFORM, 0, NULL},
    {"bias_initializer", MX_FIELD_INIT, offsetof(deconv_cfg, bias_init), MX_ZEROS, 0, NULL},
    {"kernel_regularizer", MX_FIELD_REG, offsetof(deconv_cfg, kernel_reg), "null", 0, NULL},
    {"bias_regularizer", MX_FIELD_REG, offsetof(deconv_cfg, bias_reg), "null", 0, NULL},
    {"groups", MX_FIELD_IGNORE, 0, "1", 0, NULL}, /* Keras writes 1 (the only value it allows) */
    {0},
};

/* the convolution this layer is the transpose of: its input is our output */
typedef struct deconv_state {
    mx_conv_geom g;
} deconv_state;

/* our output size along one axis, and the leading padding of the convolution */
static int64_t deconv_len(int64_t in, int k, int s, int same, int op, int *pad) {
    int64_t out = op < 0 ? (same ? in * s : in * s + MX_MAX(k - s, 0))
                         : (in - 1) * s + k + op - (same ? 2 * (k / 2) : 0);
    int64_t total = same ? (in - 1) * s + k - out : 0;
    *pad = total > 0 ? (int)(total / 2) : 0;
    return out;
}

static int deconv_build(mx_node *n) {
    deconv_cfg *c = n->layer->cfg;
    const mx_value *in = n->in[0];
    if (c->data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    if (in->rank != 3) return mx_fail("expects input (batch, height, width, channels), got rank %d", in->rank + 1);
    if (c->filters <= 0) return mx_fail("filters must be positive, got %d", c->filters);
    if (c->dilation_rate[0] != 1 || c->dilation_rate[1] != 1) return mx_fail("dilation_rate other than 1 is not supported");
    int op[2] = {-1, -1};
    const mx_shape_cfg *p = &c->output_padding;
    if (p->rank >= 0) {
        if (p->rank != 1 && p->rank != 2) return mx_fail("output_padding must be null, an integer or 2 integers");
        for (int i = 0; i < 2; i++) {
            op[i] = (int)p->dims[p->rank == 1 ? 0 : i];
            if (op[i] < 0 || op[i] >= c->strides[i])
                return mx_fail("output_padding %d must be from 0 to strides - 1 (%d)", op[i], c->strides[i] - 1);
        }
    }
    deconv_state *st = mx_alloc(sizeof *st);
    if (!st) return -1;
    mx_free(n->state);
    n->state = st;
    mx_conv_geom *g = &st->g;
    const int same = c->padding == MX_PAD_SAME;
    g->kh = c->kernel_size[0], g->kw = c->kernel_size[1];
    g->sh = c->strides[0], g->sw = c->strides[1];
    g->dh = g->dw = 1;
    g->oh = in->dims[0], g->ow = in->dims[1], g->f = in->dims[2];
    g->h = deconv_len(g->oh, g->kh, g->sh, same, op[0], &g->pad_top);
    g->w = deconv_len(g->ow, g->kw, g->sw, same, op[1], &g->pad_left);
    g->c = c->filters;
    g->kdim = (int64_t)g->kh * g->kw * g->c;
    if (g->h <= 0 || g->w <= 0) return mx_fail("the output would be empty");
    int64_t kd[4] = {g->kh, g->kw, g->c, g->f}, bd[1] = {g->c};
    int64_t rf = (int64_t)g->kh * g->kw; /* Keras's fans of the kernel shape */
    if (!mx_layer_param(n, "kernel", 4, kd, &c->kernel_init, &c->kernel_reg, 1, rf * g->c, rf * g->f)) return -1;
    if (c->use_bias && !mx_layer_param(n, "bias", 1, bd, &c->bias_init, &c->bias_reg, 1, rf * g->c, rf * g->f)) return -1;
    n->ws_per_sample = g->oh * g->ow * g->kdim; /* the convolution's columns */
    int64_t od[3] = {g->h, g->w, g->c};
    return mx_node_set_output(n, 0, 3, od);
}

static void deconv_forward(mx_node *n, const mx_exec *ex) {
    const deconv_cfg *c = n->layer->cfg;
    const mx_conv_geom *g = &((deconv_state *)n->state)->g;
    const int64_t rows = ex->batch * g->oh * g->ow;
    /* col (rows, kdim) = x K^T; z = the columns summed into their pixels */
    mx_gemm(0, 1, rows, g->kdim, g->f, n->in[0]->data, g->f, n->layer->params[0]->data, g->f, n->ws, g->kdim, 0);
    mx_col2im(g, n->ws, n->z->data, ex->batch, 0);
    if (c->use_bias) {
        const float *b = n->layer->params[1]->data;
        const int64_t pixels = ex->batch * g->h * g->w;
        for (int64_t p = 0; p < pixels; p++)
            for (int64_t k = 0; k < g->c; k++) n->z->data[p * g->c + k] += b[k];
    }
}

static void deconv_backward(mx_node *n, const mx_exec *ex) {
    const deconv_cfg *c = n->layer->cfg;
    const mx_conv_geom *g = &((deconv_state *)n->state)->g;
    const int64_t rows = ex->batch * g->oh * g->ow;
    const float *dz = n->z->grad; /* (batch, h, w, filters) */
    mx_param *k = n->layer->params[0];
    if (c->use_bias && n->layer->params[1]->grad)
        mx_vec_sum_rows(dz, n->layer->params[1]->grad, ex->batch * g->h * g->w, g->c, n->param_acc);
    if (!k->grad && !n->in[0]->grad) return;
    mx_im2col(g, dz, n->ws, ex->batch); /* dcol (rows, kdim) */
    if (k->grad) /* dK (kdim, in) = dcol^T x */
        mx_gemm(1, 0, g->kdim, g->f, rows, n->ws, g->kdim, n->in[0]->data, g->f, k->grad, g->f, n->param_acc);
    if (n->in[0]->grad) /* dx (rows, in) = dcol K */
        mx_gemm(0, 0, rows, g->f, g->kdim, n->ws, g->kdim, k->data, g->f, n->in[0]->grad, g->f, n->in_acc[0]);
}

const mx_layer_type mx_layer_conv2d_transpose = {
    .class_name = "Conv2DTranspose",
    .fields = deconv_fields,
    .cfg_size = sizeof(deconv_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .has_activation = 1,
    .build = deconv_build,
    .forward = deconv_forward,
    .backward = deconv_backward,
    .example = "{\"input\": [3, 3, 2], \"config\": {\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}}",
};
