/* conv.h: 2-D convolution kernels on NHWC images with HWIO kernels:
 * im2col/col2im around GEMM, and Winograd F(2x2, 3x3). */
#ifndef MX_CONV_H
#define MX_CONV_H

#include "kernels/activation.h"

#include <stdint.h>

/* Geometry of one convolution call (TensorFlow padding). */
typedef struct mx_conv_geom {
    int64_t h, w, c;        /* input (h, w, c) */
    int64_t oh, ow, f;      /* output (oh, ow, f) */
    int kh, kw, sh, sw, dh, dw;
    int pad_top, pad_left;
    int64_t kdim;           /* kh * kw * c: one im2col row */
} mx_conv_geom;

/* col (batch * oh * ow, kdim) from x (batch, h, w, c); padding is zero. */
void mx_im2col(const mx_conv_geom *g, const float *x, float *col, int batch);
/* dx (batch, h, w, c) (=|+=) the sum of dcol's rows into their pixels. */
void mx_col2im(const mx_conv_geom *g, const float *dcol, float *dx, int batch, int accumulate);

/* Direct convolution when each output sums few values (first layers on 1-3
 * channels), where im2col + GEMM would mostly move 4-byte pieces around:
 * z (batch * oh * ow, f) = conv(x, w) + bias; out = act(z) when given (may be z). */
#define MX_CONV_DIRECT_KDIM 32
int mx_conv_direct_ok(const mx_conv_geom *g);
void mx_conv_direct(const mx_conv_geom *g, const float *x, const float *w, const float *bias, mx_act act, float *z,
                    float *out, int batch);

/* Winograd F(2x2, 3x3) for 3x3, stride-1, undilated convolutions: 2.25x
 * fewer multiplications. Workspace: ws_fixed + batch * ws_per_sample floats. */
int mx_winograd_ok(const mx_conv_geom *g);
int64_t mx_winograd_ws_fixed(const mx_conv_geom *g);
int64_t mx_winograd_ws_per_sample(const mx_conv_geom *g);
/* The transformed filters of w (3, 3, c, f) into the start of the workspace,
 * where the forward passes read them: made once for many inference passes
 * (at batch 1 they cost as much as the convolution). The backward pass
 * overwrites them. */
void mx_winograd_filters(const mx_conv_geom *g, const float *w, float *ws);
/* z (batch, oh, ow, f) = conv(x, w) + bias with the filters in ws; out =
 * act(z) when out is given (elementwise act, out may be z). */
void mx_winograd_forward(const mx_conv_geom *g, const float *x, const float *bias, mx_act act, float *z, float *out,
                         float *ws, int batch);
/* The same followed by 2x2 max pooling (stride 2, valid) in one pass: pooled
 * (batch, oh/2, ow/2, f) = act(max over each window of conv + bias). act
 * must be non-decreasing, so that it commutes with max. */
void mx_winograd_forward_pool2(const mx_conv_geom *g, const float *x, const float *bias, mx_act act, float *pooled,
                               float *ws, int batch);
/* dw (3, 3, c, f) (=|+=) the weight gradient for dz; the workspace must
 * still hold the transformed input of the last forward pass. */
void mx_winograd_weight_grad(const mx_conv_geom *g, const float *dz, float *dw, int accumulate, float *ws, int batch);
/* dx (batch, h, w, c) (=|+=) the input gradient for dz (batch, oh, ow, f). */
void mx_winograd_backward_data(const mx_conv_geom *g, const float *dz, const float *w, float *dx, int accumulate,
                               float *ws, int batch);

#endif
