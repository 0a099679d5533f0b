/* registry.c: every layer type, looked up by Keras class name. */
#include "graph/graph.h"

#include <stddef.h>

extern const mx_layer_type mx_layer_input, mx_layer_dense, mx_layer_conv2d, mx_layer_max_pooling2d,
    mx_layer_average_pooling2d, mx_layer_flatten, mx_layer_reshape, mx_layer_dropout,
    mx_layer_batch_normalization, mx_layer_activation, mx_layer_add;

const mx_layer_type *const mx_layer_types[] = {
    &mx_layer_input,   &mx_layer_dense,   &mx_layer_conv2d,  &mx_layer_max_pooling2d,
    &mx_layer_average_pooling2d, &mx_layer_flatten, &mx_layer_reshape, &mx_layer_dropout,
    &mx_layer_batch_normalization, &mx_layer_activation, &mx_layer_add, NULL,
};

const char *const mx_padding_names[] = {"valid", "same", NULL};
const char *const mx_data_format_names[] = {"channels_last", "channels_first", NULL};
