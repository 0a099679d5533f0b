/* reshape.c: Flatten and Reshape. Both keep the data order, so the core
 * op is a copy (and the backward a copy of the gradient). */
#include "layers/common.h"

typedef struct flatten_cfg {
    int data_format;
} flatten_cfg;

static const mx_field flatten_fields[] = {
    {"data_format", MX_FIELD_ENUM, offsetof(flatten_cfg, data_format), "\"channels_last\"", 0,
     mx_data_format_names},
    {0},
};

typedef struct reshape_cfg {
    mx_shape_cfg target_shape;
} reshape_cfg;

static const mx_field reshape_fields[] = {
    {"target_shape", MX_FIELD_SHAPE, offsetof(reshape_cfg, target_shape), NULL, 0, NULL},
    {0},
};

static int flatten_build(mx_node *n) {
    flatten_cfg *c = n->layer->cfg;
    if (c->data_format != 0) return mx_fail("data_format 'channels_first' is not supported (NHWC only)");
    int64_t d[1] = {n->in[0]->size};
    return mx_node_set_output(n, 0, 1, d);
}

static int reshape_build(mx_node *n) {
    reshape_cfg *c = n->layer->cfg;
    const mx_shape_cfg *t = &c->target_shape;
    if (t->rank < 1 || t->rank > MX_MAX_RANK - 1) return mx_fail("target_shape must have 1 to %d entries", MX_MAX_RANK - 1);
    int64_t d[MX_MAX_RANK], known = 1;
    int unknown = -1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] == -1) {
            if (unknown >= 0) return mx_fail("target_shape may contain -1 only once");
            unknown = i;
            continue;
        }
        if (t->dims[i] <= 0) return mx_fail("target_shape entry %d is %lld", i, t->dims[i]);
        d[i] = t->dims[i];
        if (!mx_mul_ok(known, d[i], &known)) return mx_fail("target_shape is too large");
    }
    int64_t size = n->in[0]->size;
    if (unknown >= 0) {
        if (size % known) return mx_fail("cannot reshape %lld values to target_shape with -1", (long long)size);
        d[unknown] = size / known;
        known = size;
    }
    if (known != size)
        return mx_fail("target_shape holds %lld values but the input has %lld per sample",
                       (long long)known, (long long)size);
    return mx_node_set_output(n, 0, t->rank, d);
}

const mx_layer_type mx_layer_flatten = {
    .class_name = "Flatten",
    .fields = flatten_fields,
    .cfg_size = sizeof(flatten_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = flatten_build,
    .forward = mx_copy_forward,
    .backward = mx_copy_backward,
};

const mx_layer_type mx_layer_reshape = {
    .class_name = "Reshape",
    .fields = reshape_fields,
    .cfg_size = sizeof(reshape_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = reshape_build,
    .forward = mx_copy_forward,
    .backward = mx_copy_backward,
};
