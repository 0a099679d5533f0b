/* reshape.c: Flatten and Reshape, which keep the data order (the core op
 * is a copy, and the backward a copy of the gradient), Permute, which
 * reorders the axes, and RepeatVector, which repeats a vector n times. */
#include "layers/common.h"

#include <string.h>

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

static void flatten_explain_shape(const mx_node *n, mx_text *t) {
    mx_text_add(t, "all values of a sample in one axis: ");
    mx_text_product(t, n->in[0]->rank, n->in[0]->dims);
    mx_text_add(t, " = %lld", (long long)n->in[0]->size);
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
    .explain_shape = flatten_explain_shape,
    .example = "{\"input\": [2, 2, 2], \"config\": {}}",
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
    .example = "{\"input\": [6], \"config\": {\"target_shape\": [2, 3]}}",
};

/* ---- Permute: dims is a permutation of the non-batch axes (1-based) ---- */

typedef struct permute_cfg {
    mx_shape_cfg dims;
} permute_cfg;

static const mx_field permute_fields[] = {
    {"dims", MX_FIELD_SHAPE, offsetof(permute_cfg, dims), NULL, 0, NULL},
    {0},
};

typedef struct permute_state {
    int rank;
    int64_t in_stride[MX_MAX_RANK]; /* stride in the input of output axis d */
    int64_t out_dims[MX_MAX_RANK];
} permute_state;

static int permute_build(mx_node *n) {
    permute_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    if (c->dims.rank != in->rank) return mx_fail("dims must list all %d non-batch axes", in->rank);
    permute_state *s = mx_alloc(sizeof *s);
    if (!s) return -1;
    mx_free(n->state);
    n->state = s;
    s->rank = in->rank;
    int64_t stride[MX_MAX_RANK], seen = 0;
    stride[in->rank - 1] = 1;
    for (int d = in->rank - 2; d >= 0; d--) stride[d] = stride[d + 1] * in->dims[d + 1];
    for (int d = 0; d < in->rank; d++) {
        long long a = c->dims.dims[d];
        if (a < 1 || a > in->rank || (seen & (1 << a))) return mx_fail("dims must be a permutation of 1..%d", in->rank);
        seen |= 1 << a;
        s->out_dims[d] = in->dims[a - 1];
        s->in_stride[d] = stride[a - 1];
    }
    return mx_node_set_output(n, 0, in->rank, s->out_dims);
}

/* output element i of a sample comes from input offset sum(idx_d * in_stride_d) */
static int64_t permuted(const permute_state *s, int64_t i) {
    int64_t off = 0;
    for (int d = s->rank - 1; d >= 0; d--) {
        off += (i % s->out_dims[d]) * s->in_stride[d];
        i /= s->out_dims[d];
    }
    return off;
}

static void permute_forward(mx_node *n, const mx_exec *ex) {
    const permute_state *s = n->state;
    const int64_t size = n->z->size;
    for (int64_t b = 0; b < ex->batch; b++)
        for (int64_t i = 0; i < size; i++) n->z->data[b * size + i] = n->in[0]->data[b * size + permuted(s, i)];
}

static void permute_backward(mx_node *n, const mx_exec *ex) {
    const permute_state *s = n->state;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    const int64_t size = n->z->size;
    if (!n->in_acc[0]) memset(dx, 0, sizeof(float) * (size_t)(ex->batch * size));
    for (int64_t b = 0; b < ex->batch; b++)
        for (int64_t i = 0; i < size; i++) dx[b * size + permuted(s, i)] += n->z->grad[b * size + i];
}

const mx_layer_type mx_layer_permute = {
    .class_name = "Permute",
    .fields = permute_fields,
    .cfg_size = sizeof(permute_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = permute_build,
    .forward = permute_forward,
    .backward = permute_backward,
    .example = "{\"input\": [2, 3], \"config\": {\"dims\": [2, 1]}}",
};

/* ---- RepeatVector: (F) to (n, F) ---- */

typedef struct repeat_cfg {
    int n;
} repeat_cfg;

static const mx_field repeat_fields[] = {
    {"n", MX_FIELD_INT, offsetof(repeat_cfg, n), NULL, 0, NULL},
    {0},
};

static int repeat_build(mx_node *node) {
    repeat_cfg *c = node->layer->cfg;
    if (node->in[0]->rank != 1) return mx_fail("expects input (batch, features), got rank %d", node->in[0]->rank + 1);
    if (c->n <= 0) return mx_fail("n must be positive, got %d", c->n);
    int64_t d[2] = {c->n, node->in[0]->dims[0]};
    return mx_node_set_output(node, 0, 2, d);
}

static void repeat_forward(mx_node *node, const mx_exec *ex) {
    const repeat_cfg *c = node->layer->cfg;
    const int64_t F = node->in[0]->size;
    for (int64_t b = 0; b < ex->batch; b++)
        for (int k = 0; k < c->n; k++)
            memcpy(node->z->data + (b * c->n + k) * F, node->in[0]->data + b * F, sizeof(float) * (size_t)F);
}

/* dx = the sum of the copies' gradients, in copy order */
static void repeat_backward(mx_node *node, const mx_exec *ex) {
    const repeat_cfg *c = node->layer->cfg;
    float *dx = node->in[0]->grad;
    if (!dx) return;
    const int64_t F = node->in[0]->size;
    for (int64_t b = 0; b < ex->batch; b++) {
        float *d = dx + b * F;
        for (int64_t i = 0; i < F; i++) {
            float s = node->in_acc[0] ? d[i] : 0.0f;
            for (int k = 0; k < c->n; k++) s += node->z->grad[(b * c->n + k) * F + i];
            d[i] = s;
        }
    }
}

const mx_layer_type mx_layer_repeat_vector = {
    .class_name = "RepeatVector",
    .fields = repeat_fields,
    .cfg_size = sizeof(repeat_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = repeat_build,
    .forward = repeat_forward,
    .backward = repeat_backward,
    .example = "{\"input\": [3], \"config\": {\"n\": 2}}",
};
