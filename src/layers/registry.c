/* registry.c: every layer type, looked up by Keras class name. */
#include "graph/graph.h"

#include <stddef.h>

extern const mx_layer_type mx_layer_input, mx_layer_dense, mx_layer_conv2d, mx_layer_depthwise_conv2d,
    mx_layer_separable_conv2d, mx_layer_max_pooling2d, mx_layer_average_pooling2d,
    mx_layer_global_average_pooling2d, mx_layer_global_max_pooling2d, mx_layer_zero_padding2d, mx_layer_cropping2d,
    mx_layer_upsampling2d, mx_layer_flatten, mx_layer_reshape, mx_layer_permute, mx_layer_dropout,
    mx_layer_batch_normalization, mx_layer_activation, mx_layer_relu, mx_layer_leaky_relu, mx_layer_prelu,
    mx_layer_softmax, mx_layer_add, mx_layer_subtract, mx_layer_multiply, mx_layer_average, mx_layer_concatenate,
    mx_layer_simple_rnn, mx_layer_lstm, mx_layer_gru, mx_layer_embedding, mx_layer_repeat_vector,
    mx_layer_time_distributed, mx_layer_bidirectional, mx_layer_conv2d_transpose;

const mx_layer_type *const mx_layer_types[] = {
    &mx_layer_input, &mx_layer_dense, &mx_layer_conv2d, &mx_layer_depthwise_conv2d, &mx_layer_separable_conv2d,
    &mx_layer_max_pooling2d, &mx_layer_average_pooling2d, &mx_layer_global_average_pooling2d,
    &mx_layer_global_max_pooling2d, &mx_layer_zero_padding2d, &mx_layer_cropping2d, &mx_layer_upsampling2d,
    &mx_layer_flatten, &mx_layer_reshape, &mx_layer_permute, &mx_layer_dropout, &mx_layer_batch_normalization,
    &mx_layer_activation, &mx_layer_relu, &mx_layer_leaky_relu, &mx_layer_prelu, &mx_layer_softmax, &mx_layer_add,
    &mx_layer_subtract, &mx_layer_multiply, &mx_layer_average, &mx_layer_concatenate, &mx_layer_simple_rnn,
    &mx_layer_lstm, &mx_layer_gru, &mx_layer_embedding, &mx_layer_repeat_vector,
    &mx_layer_time_distributed, &mx_layer_bidirectional, &mx_layer_conv2d_transpose, NULL,
};

const char *const mx_padding_names[] = {"valid", "same", NULL};
const char *const mx_data_format_names[] = {"channels_last", "channels_first", NULL};
