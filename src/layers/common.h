/* common.h: config fields and helpers that many layer types share. */
#ifndef MX_LAYERS_COMMON_H
#define MX_LAYERS_COMMON_H

#include "graph/graph.h"
#include "layers/config.h"

#include <stddef.h>

#define MX_GLOROT_UNIFORM "{\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}"
#define MX_ZEROS "{\"class_name\": \"Zeros\", \"config\": {}}"
#define MX_ONES "{\"class_name\": \"Ones\", \"config\": {}}"

/* TensorFlow's output size and leading padding for one spatial axis.
 * same: out = ceil(in / s), padding split with the extra pixel after. */
int mx_conv_out(int64_t in, int k, int s, int d, int padding, int64_t *out, int *pad_before);

/* z = in[0] and its gradient back: layers that only reinterpret the shape
 * (Flatten, Reshape) or whose whole work is the fused activation. */
void mx_copy_forward(mx_node *n, const mx_exec *ex);
void mx_copy_backward(mx_node *n, const mx_exec *ex);

#endif
