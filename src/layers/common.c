/* common.c: helpers shared by layer types. */
#include "layers/common.h"

#include "kernels/vec.h"

#include <string.h>

int mx_conv_out(int64_t in, int k, int s, int d, int padding, int64_t *out, int *pad_before) {
    if (k <= 0 || s <= 0 || d <= 0) return mx_fail("kernel size, strides and dilation must be positive");
    int64_t ek = (int64_t)(k - 1) * d + 1; /* extent of a dilated kernel */
    if (padding == MX_PAD_SAME) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + ek - in;
        if (total < 0) total = 0;
        *pad_before = (int)(total / 2);
    } else {
        if (in < ek) return mx_fail("input size %lld is smaller than the window %lld with padding 'valid'",
                                    (long long)in, (long long)ek);
        *out = (in - ek) / s + 1;
        *pad_before = 0;
    }
    return 0;
}

void mx_copy_forward(mx_node *n, const mx_exec *ex) {
    mx_vec_store(n->z->data, n->in[0]->data, ex->batch * n->in[0]->size, 0);
}

void mx_copy_backward(mx_node *n, const mx_exec *ex) {
    if (n->in[0]->grad) mx_vec_store(n->in[0]->grad, n->z->grad, ex->batch * n->in[0]->size, n->in_acc[0]);
}

int mx_conv_geometry(const mx_node *n, const int kernel[2], const int strides[2], const int dilation[2], int padding,
                     int data_format, int64_t filters, mx_conv_geom *g, int64_t *lead) {
    const mx_value *in = n->in[0];
    if (data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    if (in->rank < 3) return mx_fail("expects input (batch, height, width, channels), got rank %d", in->rank + 1);
    if ((strides[0] > 1 || strides[1] > 1) && (dilation[0] > 1 || dilation[1] > 1))
        return mx_fail("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)");
    const int r = in->rank;
    *lead = 1;
    for (int i = 0; i < r - 3; i++) *lead *= in->dims[i];
    memset(g, 0, sizeof *g);
    g->h = in->dims[r - 3];
    g->w = in->dims[r - 2];
    g->c = in->dims[r - 1];
    g->f = filters;
    g->kh = kernel[0], g->kw = kernel[1];
    g->sh = strides[0], g->sw = strides[1];
    g->dh = dilation[0], g->dw = dilation[1];
    if (mx_conv_out(g->h, g->kh, g->sh, g->dh, padding, &g->oh, &g->pad_top) ||
        mx_conv_out(g->w, g->kw, g->sw, g->dw, padding, &g->ow, &g->pad_left))
        return -1;
    g->kdim = (int64_t)g->kh * g->kw * g->c;
    return 0;
}

int mx_conv_set_output(mx_node *n, const mx_conv_geom *g) {
    const mx_value *in = n->in[0];
    int64_t od[MX_MAX_RANK];
    memcpy(od, in->dims, sizeof(int64_t) * (size_t)in->rank);
    od[in->rank - 3] = g->oh;
    od[in->rank - 2] = g->ow;
    od[in->rank - 1] = g->f;
    return mx_node_set_output(n, 0, in->rank, od);
}

/* One axis: out = floor((in + pb + pa - ek) / s) + 1 with ek = d (k - 1) + 1. */
static void window_axis(mx_text *t, const char *axis, int64_t in, int k, int s, int d, int pb, int64_t out, int same) {
    long long ek = (long long)(k - 1) * d + 1;
    char ks[64];
    if (d > 1)
        snprintf(ks, sizeof ks, "(%d*(%d - 1) + 1)", d, k);
    else
        snprintf(ks, sizeof ks, "%d", k);
    if (same) {
        long long total = (long long)(out - 1) * s + ek - in;
        if (total < 0) total = 0;
        mx_text_add(t, "%s ceil(%lld / %d) = %lld ('same': padding max((%lld - 1)*%d + %lld - %lld, 0) = %lld, %d before, %lld after)",
                    axis, (long long)in, s, (long long)out, (long long)out, s, ek, (long long)in, total, pb, total - pb);
        return;
    }
    mx_text_add(t, "%s floor((%lld + 2*0 - %s) / %d) + 1 = %lld", axis, (long long)in, ks, s, (long long)out);
}

void mx_explain_window_shape(const mx_conv_geom *g, int same, mx_text *t) {
    window_axis(t, "height", g->h, g->kh, g->sh, g->dh, g->pad_top, g->oh, same);
    mx_text_add(t, ", ");
    window_axis(t, "width", g->w, g->kw, g->sw, g->dw, g->pad_left, g->ow, same);
}
