/* dropout.c: Dropout with inverted scaling: in training each value is kept
 * with probability 1 - rate and scaled by 1 / (1 - rate); in inference it
 * passes unchanged. The mask comes from a counter-based stream keyed by
 * (seed, step, node), so it is the same for any thread count. */
#include "kernels/vec.h"
#include "layers/common.h"

typedef struct dropout_cfg {
    float rate;
} dropout_cfg;

static const mx_field dropout_fields[] = {
    {"rate", MX_FIELD_FLOAT, offsetof(dropout_cfg, rate), NULL, 0, NULL},
    {"noise_shape", MX_FIELD_NULL, 0, "null", 0, NULL},
    {"seed", MX_FIELD_IGNORE, 0, "null", 0, NULL}, /* masks follow the training seed */
    {0},
};

static int dropout_build(mx_node *n) {
    dropout_cfg *c = n->layer->cfg;
    if (!(c->rate >= 0 && c->rate < 1)) return mx_fail("rate must be in [0, 1), got %g", (double)c->rate);
    n->ws_per_sample = n->in[0]->size; /* the scale (0 or 1/(1-rate)) of each value */
    return mx_node_set_output(n, 0, n->in[0]->rank, n->in[0]->dims);
}

typedef struct drop_job {
    const float *x;
    float *y, *mask;
    uint64_t stream;
    float rate, scale;
} drop_job;

static void drop_range(void *p, int64_t b, int64_t e) {
    const drop_job *j = p;
    for (int64_t i = b; i < e; i++) {
        j->mask[i] = mx_uniform(j->stream, (uint64_t)i) >= j->rate ? j->scale : 0.0f;
        j->y[i] = j->x[i] * j->mask[i];
    }
}

static void dropout_forward(mx_node *n, const mx_exec *ex) {
    dropout_cfg *c = n->layer->cfg;
    int64_t count = ex->batch * n->in[0]->size;
    if (!ex->training || c->rate == 0) {
        mx_vec_store(n->z->data, n->in[0]->data, count, 0);
        return;
    }
    drop_job j = {n->in[0]->data, n->z->data, n->ws, mx_stream(ex->seed, (uint64_t)ex->step, (uint64_t)n->index, 7),
                  c->rate, 1.0f / (1.0f - c->rate)};
    mx_parallel_for(count, 1 << 15, drop_range, &j);
}

typedef struct drop_back_job {
    const float *dy, *mask;
    float *dx;
    int accumulate;
} drop_back_job;

static void drop_back_range(void *p, int64_t b, int64_t e) {
    const drop_back_job *j = p;
    for (int64_t i = b; i < e; i++) {
        float g = j->dy[i] * j->mask[i];
        j->dx[i] = j->accumulate ? j->dx[i] + g : g;
    }
}

static void dropout_backward(mx_node *n, const mx_exec *ex) {
    dropout_cfg *c = n->layer->cfg;
    mx_value *in = n->in[0];
    if (!in->grad) return;
    if (!ex->training || c->rate == 0) {
        mx_copy_backward(n, ex);
        return;
    }
    drop_back_job j = {n->z->grad, n->ws, in->grad, n->in_acc[0]};
    mx_parallel_for(ex->batch * in->size, 1 << 15, drop_back_range, &j);
}

const mx_layer_type mx_layer_dropout = {
    .class_name = "Dropout",
    .fields = dropout_fields,
    .cfg_size = sizeof(dropout_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = dropout_build,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .example = "{\"input\": [6], \"config\": {\"rate\": 0.5}}",
};
