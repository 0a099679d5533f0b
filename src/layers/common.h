/* common.h: config fields and helpers that many layer types share. */
#ifndef MX_LAYERS_COMMON_H
#define MX_LAYERS_COMMON_H

#include "graph/graph.h"
#include "kernels/conv.h"
#include "layers/config.h"

#include <stddef.h>

#define MX_GLOROT_UNIFORM "{\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}"
#define MX_ZEROS "{\"class_name\": \"Zeros\", \"config\": {}}"
#define MX_ONES "{\"class_name\": \"Ones\", \"config\": {}}"
#define MX_ORTHOGONAL "{\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 1.0, \"seed\": null}}"

/* TensorFlow's output size and leading padding for one spatial axis.
 * same: out = ceil(in / s), padding split with the extra pixel after. */
int mx_conv_out(int64_t in, int k, int s, int d, int padding, int64_t *out, int *pad_before);

/* The geometry of a 2-D convolution (or pooling) window over the last three
 * axes (height, width, channels) of input 0; leading axes beyond those count
 * as more images (*lead of them per sample), as Keras allows. Checks the
 * options and names what is wrong. */
int mx_conv_geometry(const mx_node *n, const int kernel[2], const int strides[2], const int dilation[2], int padding,
                     int data_format, int64_t filters, mx_conv_geom *g, int64_t *lead);
/* out[0] = input's leading axes + (oh, ow, f) */
int mx_conv_set_output(mx_node *n, const mx_conv_geom *g);

/* For Bidirectional (recurrent.c): whether l is SimpleRNN, LSTM or GRU,
 * and turning its go_backwards over. */
int mx_is_recurrent(const mx_layer *l);
void mx_rnn_reverse(mx_layer *l);

/* Explanations of a window's output size along both axes, with numbers:
 * "height floor((28 + 2*0 - 5) / 1) + 1 = 24, width ..." ('valid'), or the
 * 'same' rule ceil(in / s) with the padding it implies. */
void mx_explain_window_shape(const mx_conv_geom *g, int same, mx_text *t);

/* z = in[0] and its gradient back: layers that only reinterpret the shape
 * (Flatten, Reshape) or whose whole work is the fused activation. */
void mx_copy_forward(mx_node *n, const mx_exec *ex);
void mx_copy_backward(mx_node *n, const mx_exec *ex);

#endif
