/* input.c: InputLayer, the node that holds a model input. The caller
 * writes the batch into its value; it has no computation of its own. */
#include "layers/common.h"

#include <string.h>

typedef struct input_cfg {
    mx_shape_cfg batch_input_shape;
    int sparse, ragged;
} input_cfg;

/* Keras 2 writes batch_input_shape, Keras 3 batch_shape: both are read. */
static const mx_field input_fields[] = {
    {"batch_input_shape", MX_FIELD_SHAPE, offsetof(input_cfg, batch_input_shape), "null", 0, NULL},
    {"batch_shape", MX_FIELD_SHAPE, offsetof(input_cfg, batch_input_shape), "null", 0, NULL},
    {"sparse", MX_FIELD_BOOL, offsetof(input_cfg, sparse), "false", 0, NULL},
    {"ragged", MX_FIELD_BOOL, offsetof(input_cfg, ragged), "false", 0, NULL},
    {0},
};

static int input_build(mx_node *n) {
    input_cfg *c = n->layer->cfg;
    const mx_shape_cfg *s = &c->batch_input_shape;
    if (c->sparse || c->ragged) return mx_fail("sparse and ragged inputs are not supported");
    if (s->rank < 0) return mx_fail("missing batch_input_shape");
    int off = 1; /* the first entry is the batch size, normally null */
    if (s->rank - off < 1) return mx_fail("batch_input_shape needs at least one dimension besides the batch");
    int64_t d[MX_MAX_RANK];
    for (int i = off; i < s->rank; i++) {
        if (s->dims[i] <= 0)
            return mx_fail("batch_input_shape: dimension %d is %s; every dimension besides the batch must be known",
                           i, s->dims[i] < 0 ? "null" : "0");
        d[i - off] = s->dims[i];
    }
    return mx_node_set_output(n, 0, s->rank - off, d);
}

int mx_node_input_batch(const mx_node *n) {
    while (n && n->n_in > 0) n = n->in[0]->producer;
    if (!n || strcmp(n->layer->type->class_name, "InputLayer") != 0) return 0;
    const input_cfg *c = n->layer->cfg;
    const long long b = c->batch_input_shape.rank > 0 ? c->batch_input_shape.dims[0] : -1;
    return b > 0 && b < (1 << 30) ? (int)b : 0;
}

static void input_noop(mx_node *n, const mx_exec *ex) {
    MX_UNUSED(n);
    MX_UNUSED(ex);
}

const mx_layer_type mx_layer_input = {
    .class_name = "InputLayer",
    .fields = input_fields,
    .cfg_size = sizeof(input_cfg),
    .min_inputs = 0,
    .max_inputs = 0,
    .build = input_build,
    .forward = input_noop,
    .backward = input_noop,
};
