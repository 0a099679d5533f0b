/* embedding.c: Embedding, a lookup of rows of an (input_dim, output_dim)
 * table by index. Indices arrive as floats and are truncated to integers,
 * as Keras casts them. An index outside [0, input_dim) gives a row of zeros
 * (as TensorFlow on GPUs) and fails the step with an error naming the layer,
 * the index and where it was (TensorFlow on CPUs fails too). mask_zero=true
 * is refused: the layers after it would have to skip padded steps. */
#include "layers/common.h"

#include <math.h>
#include <string.h>

typedef struct embedding_cfg {
    int input_dim, output_dim;
    mx_init init;
    mx_reg reg;
    int mask_zero, sparse;
    mx_shape_cfg input_length;
} embedding_cfg;

static const mx_field embedding_fields[] = {
    {"input_dim", MX_FIELD_INT, offsetof(embedding_cfg, input_dim), NULL, 0, NULL},
    {"output_dim", MX_FIELD_INT, offsetof(embedding_cfg, output_dim), NULL, 0, NULL},
    {"embeddings_initializer", MX_FIELD_INIT, offsetof(embedding_cfg, init),
     "{\"class_name\": \"RandomUniform\", \"config\": {\"minval\": -0.05, \"maxval\": 0.05, \"seed\": null}}", 0, NULL},
    {"embeddings_regularizer", MX_FIELD_REG, offsetof(embedding_cfg, reg), "null", 0, NULL},
    {"mask_zero", MX_FIELD_BOOL_OR_NULL, offsetof(embedding_cfg, mask_zero), "false", 0, NULL},
    {"input_length", MX_FIELD_AXES, offsetof(embedding_cfg, input_length), "null", 0, NULL},
    {"sparse", MX_FIELD_BOOL, offsetof(embedding_cfg, sparse), "false", 0, NULL}, /* Keras 3 */
    {"lora_rank", MX_FIELD_NULL, 0, "null", 0, NULL},                              /* Keras 3 */
    {0},
};

static int embedding_build(mx_node *n) {
    embedding_cfg *c = n->layer->cfg;
    const mx_value *in = n->in[0];
    if (c->input_dim <= 0 || c->output_dim <= 0)
        return mx_fail("input_dim and output_dim must be positive, got %d and %d", c->input_dim, c->output_dim);
    if (c->mask_zero)
        return mx_fail("mask_zero=true is not supported (the layers after it would have to skip padded steps); "
                       "use mask_zero=false");
    if (c->sparse) return mx_fail("sparse=true is not supported");
    if (in->rank > MX_MAX_RANK - 2) return mx_fail("input rank %d is too large", in->rank + 1);
    const mx_shape_cfg *l = &c->input_length;
    if (l->rank >= 0) { /* Keras checks it against the input's shape */
        int ok = l->rank == in->rank;
        for (int i = 0; ok && i < l->rank; i++) ok = l->dims[i] == -1 || l->dims[i] == in->dims[i];
        if (!ok) return mx_fail("input_length does not match the input shape");
    }
    int64_t ed[2] = {c->input_dim, c->output_dim};
    if (!mx_layer_param(n, "embeddings", 2, ed, &c->init, &c->reg, 1, c->input_dim, c->output_dim)) return -1;
    int64_t od[MX_MAX_RANK];
    memcpy(od, in->dims, sizeof(int64_t) * (size_t)in->rank);
    od[in->rank] = c->output_dim;
    return mx_node_set_output(n, 0, in->rank + 1, od);
}

/* the row of index value v, or -1 when v is not in [0, input_dim) */
static int64_t row_of(float v, int input_dim) {
    return v > -1.0f && v < (float)input_dim ? (int64_t)v : -1;
}

static void embedding_forward(mx_node *n, const mx_exec *ex) {
    const embedding_cfg *c = n->layer->cfg;
    const int64_t count = ex->batch * n->in[0]->size, D = c->output_dim;
    const float *x = n->in[0]->data, *table = n->layer->params[0]->data;
    float *y = n->z->data;
    for (int64_t i = 0; i < count; i++) {
        int64_t r = row_of(x[i], c->input_dim);
        if (r < 0) {
            memset(y + i * D, 0, sizeof(float) * (size_t)D);
            mx_node_step_error(n, "index %g (sample %lld, position %lld) is not in [0, %d)", (double)x[i],
                               (long long)(i / n->in[0]->size), (long long)(i % n->in[0]->size), c->input_dim);
        } else {
            memcpy(y + i * D, table + r * D, sizeof(float) * (size_t)D);
        }
    }
}

/* rows added in input order: the same sums for any thread count */
static void embedding_backward(mx_node *n, const mx_exec *ex) {
    const embedding_cfg *c = n->layer->cfg;
    const int64_t count = ex->batch * n->in[0]->size, D = c->output_dim;
    const float *x = n->in[0]->data, *dy = n->z->grad;
    mx_param *e = n->layer->params[0];
    if (e->grad) {
        if (!n->param_acc) memset(e->grad, 0, sizeof(float) * (size_t)e->size);
        for (int64_t i = 0; i < count; i++) {
            int64_t r = row_of(x[i], c->input_dim);
            if (r < 0) continue;
            float *g = e->grad + r * D;
            const float *d = dy + i * D;
            for (int64_t k = 0; k < D; k++) g[k] += d[k];
        }
    }
    /* indices have no gradient */
    if (n->in[0]->grad && !n->in_acc[0]) memset(n->in[0]->grad, 0, sizeof(float) * (size_t)count);
}

const mx_layer_type mx_layer_embedding = {
    .class_name = "Embedding",
    .fields = embedding_fields,
    .cfg_size = sizeof(embedding_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = embedding_build,
    .forward = embedding_forward,
    .backward = embedding_backward,
    /* indices mid-way between integers mostly, so finite steps keep them */
    .example = "{\"input\": [4], \"range\": [0.01, 4.99], \"config\": {\"input_dim\": 5, \"output_dim\": 3}}",
};
