/* activation_layer.c: the Activation layer. Its function is the layer's
 * fused activation, so the core op is a copy into z. */
#include "layers/common.h"

static const mx_field activation_fields[] = {
    {"activation", MX_FIELD_ACT, 0, NULL, 0, NULL},
    {0},
};

static int activation_build(mx_node *n) {
    mx_value *in = n->in[0];
    return mx_node_set_output(n, 0, in->rank, in->dims);
}

const mx_layer_type mx_layer_activation = {
    .class_name = "Activation",
    .fields = activation_fields,
    .cfg_size = 0,
    .min_inputs = 1,
    .max_inputs = 1,
    .has_activation = 1,
    .build = activation_build,
    .forward = mx_copy_forward,
    .backward = mx_copy_backward,
    .example = "{\"input\": [5], \"config\": {\"activation\": \"sigmoid\"}}",
};

extern const mx_layer_type mx_layer_relu, mx_layer_leaky_relu;

int mx_is_activation_layer(const mx_node *n) {
    const mx_layer_type *t = n->layer->type;
    return (t == &mx_layer_activation || t == &mx_layer_relu || t == &mx_layer_leaky_relu) &&
           n->layer->act.kind != MX_ACT_SOFTMAX;
}
