/* depthwise.h: depthwise 2-D convolution kernels (NHWC input, kernel
 * (kh, kw, c, depth_multiplier), output channel c * dm + m). The geometry's
 * f is c * dm. */
#ifndef MX_DEPTHWISE_H
#define MX_DEPTHWISE_H

#include "kernels/activation.h"
#include "kernels/conv.h"

/* z (batch, oh, ow, f) = the convolution + bias; out = act(z) when given (may be z) */
void mx_depthwise_forward(const mx_conv_geom *g, int dm, const float *x, const float *w, const float *bias, mx_act act,
                          float *z, float *out, int batch);
/* dx (batch, h, w, c) (=|+=) the input gradient for dz (batch, oh, ow, f) */
void mx_depthwise_backward_data(const mx_conv_geom *g, int dm, const float *dz, const float *w, float *dx,
                                int accumulate, int batch);
/* dw (kh, kw, f) (=|+=) the weight gradient; part: MX_DEPTHWISE_PARTS * kh * kw * f floats */
#define MX_DEPTHWISE_PARTS 16
void mx_depthwise_weight_grad(const mx_conv_geom *g, int dm, const float *x, const float *dz, float *dw, float *part,
                              int batch, int accumulate);

#endif
