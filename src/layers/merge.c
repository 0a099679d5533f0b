/* merge.c: layers joining several inputs of the same shape elementwise
 * (Add, Subtract, Multiply, Average) or along an axis (Concatenate). */
#include "kernels/vec.h"
#include "layers/common.h"

#include <string.h>

static const mx_field merge_fields[] = {{0}};

static int same_shapes(mx_node *n) {
    mx_value *a = n->in[0];
    for (int i = 1; i < n->n_in; i++) {
        mx_value *b = n->in[i];
        int same = a->rank == b->rank;
        for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
        if (!same) {
            char sa[96], sb[96];
            return mx_fail("inputs must have the same shape: %s (from '%s') and %s (from '%s')",
                           mx_shape_str(a->rank, a->dims, sa, sizeof sa), a->name,
                           mx_shape_str(b->rank, b->dims, sb, sizeof sb), b->name);
        }
    }
    return mx_node_set_output(n, 0, a->rank, a->dims);
}

static int subtract_build(mx_node *n) {
    if (n->n_in != 2) return mx_fail("takes exactly 2 inputs, got %d", n->n_in);
    return same_shapes(n);
}

/* ---- elementwise: one pass over every position ---- */

enum { OP_ADD, OP_SUBTRACT, OP_MULTIPLY, OP_AVERAGE };

typedef struct ew_job {
    const mx_node *n;
    int op;
} ew_job;

static int op_of(const mx_node *n) {
    const char *c = n->layer->type->class_name;
    return !strcmp(c, "Add") ? OP_ADD : !strcmp(c, "Subtract") ? OP_SUBTRACT : !strcmp(c, "Multiply") ? OP_MULTIPLY : OP_AVERAGE;
}

static void ew_forward_range(void *p, int64_t b, int64_t e) {
    const ew_job *j = p;
    const mx_node *n = j->n;
    float *y = n->z->data;
    for (int64_t i = b; i < e; i++) {
        float v = n->in[0]->data[i];
        for (int k = 1; k < n->n_in; k++) {
            float x = n->in[k]->data[i];
            v = j->op == OP_MULTIPLY ? v * x : j->op == OP_SUBTRACT ? v - x : v + x;
        }
        y[i] = j->op == OP_AVERAGE ? v / (float)n->n_in : v;
    }
}

/* d/dx_k: 1 (Add), +1/-1 (Subtract), 1/n (Average), the product of the
 * other inputs (Multiply) */
static void ew_backward_range(void *p, int64_t b, int64_t e) {
    const ew_job *j = p;
    const mx_node *n = j->n;
    const float *dy = n->z->grad;
    for (int k = 0; k < n->n_in; k++) {
        float *dx = n->in[k]->grad;
        if (!dx) continue;
        for (int64_t i = b; i < e; i++) {
            float g = dy[i];
            if (j->op == OP_SUBTRACT && k == 1) g = -g;
            if (j->op == OP_AVERAGE) g /= (float)n->n_in;
            if (j->op == OP_MULTIPLY)
                for (int o = 0; o < n->n_in; o++)
                    if (o != k) g *= n->in[o]->data[i];
            dx[i] = n->in_acc[k] ? dx[i] + g : g;
        }
    }
}

static void ew_forward(mx_node *n, const mx_exec *ex) {
    ew_job j = {n, op_of(n)};
    mx_parallel_for(ex->batch * n->z->size, 1 << 14, ew_forward_range, &j);
}

static void ew_backward(mx_node *n, const mx_exec *ex) {
    ew_job j = {n, op_of(n)};
    mx_parallel_for(ex->batch * n->z->size, 1 << 14, ew_backward_range, &j);
}

#define ELEMENTWISE(sym, name, minin, maxin, buildfn)                                                                  \
    const mx_layer_type sym = {                                                                                        \
        .class_name = name,                                                                                            \
        .fields = merge_fields,                                                                                        \
        .min_inputs = minin,                                                                                           \
        .max_inputs = maxin,                                                                                           \
        .build = buildfn,                                                                                              \
        .forward = ew_forward,                                                                                         \
        .backward = ew_backward,                                                                                       \
        .example = "{\"input\": [3], \"inputs\": 2, \"config\": {}}",                                                \
    }

ELEMENTWISE(mx_layer_add, "Add", 2, MX_MAX_INPUTS, same_shapes);
ELEMENTWISE(mx_layer_subtract, "Subtract", 2, 2, subtract_build);
ELEMENTWISE(mx_layer_multiply, "Multiply", 2, MX_MAX_INPUTS, same_shapes);
ELEMENTWISE(mx_layer_average, "Average", 2, MX_MAX_INPUTS, same_shapes);

/* ---- Concatenate: per sample, (outer, width_k * inner) blocks of each
 * input side by side ---- */

typedef struct concat_cfg {
    mx_shape_cfg axis;
} concat_cfg;

static const mx_field concat_fields[] = {
    {"axis", MX_FIELD_AXES, offsetof(concat_cfg, axis), "-1", 0, NULL},
    {0},
};

typedef struct concat_state {
    int64_t outer;              /* per sample, product of dims before the axis */
    int64_t chunk[MX_MAX_INPUTS]; /* contiguous floats of input k per outer step */
    int64_t total;              /* sum of chunks */
} concat_state;

static int concat_build(mx_node *n) {
    concat_cfg *c = n->layer->cfg;
    mx_value *a = n->in[0];
    if (c->axis.rank != 1) return mx_fail("axis must be one integer");
    long long ax = c->axis.dims[0];
    if (ax < 0) ax += a->rank + 1;
    if (ax < 1 || ax > a->rank) return mx_fail("axis %lld is out of range for inputs of rank %d", c->axis.dims[0], a->rank + 1);
    concat_state *s = mx_alloc(sizeof *s);
    if (!s) return -1;
    mx_free(n->state);
    n->state = s;
    int64_t od[MX_MAX_RANK];
    memcpy(od, a->dims, sizeof od);
    od[ax - 1] = 0;
    s->outer = 1;
    for (int d = 0; d < ax - 1; d++) s->outer *= a->dims[d];
    for (int k = 0; k < n->n_in; k++) {
        mx_value *b = n->in[k];
        int ok = b->rank == a->rank;
        for (int d = 0; ok && d < a->rank; d++) ok = d == ax - 1 || b->dims[d] == a->dims[d];
        if (!ok) {
            char sa[96], sb[96];
            return mx_fail("inputs must agree except along axis %lld: %s (from '%s') and %s (from '%s')", c->axis.dims[0],
                           mx_shape_str(a->rank, a->dims, sa, sizeof sa), a->name,
                           mx_shape_str(b->rank, b->dims, sb, sizeof sb), b->name);
        }
        od[ax - 1] += b->dims[ax - 1];
        s->chunk[k] = b->size / s->outer;
        s->total += s->chunk[k];
    }
    return mx_node_set_output(n, 0, a->rank, od);
}

typedef struct concat_job {
    const mx_node *n;
    int backward;
} concat_job;

/* rows r = (sample, outer step): copy each input's chunk to or from its place */
static void concat_rows(void *p, int64_t r0, int64_t r1) {
    const concat_job *j = p;
    const mx_node *n = j->n;
    const concat_state *s = n->state;
    for (int64_t r = r0; r < r1; r++) {
        int64_t off = 0;
        for (int k = 0; k < n->n_in; k++) {
            const int64_t len = s->chunk[k];
            if (!j->backward)
                memcpy(n->z->data + r * s->total + off, n->in[k]->data + r * len, sizeof(float) * (size_t)len);
            else if (n->in[k]->grad) {
                float *dx = n->in[k]->grad + r * len;
                const float *dy = n->z->grad + r * s->total + off;
                if (n->in_acc[k])
                    for (int64_t i = 0; i < len; i++) dx[i] += dy[i];
                else
                    memcpy(dx, dy, sizeof(float) * (size_t)len);
            }
            off += len;
        }
    }
}

static void concat_forward(mx_node *n, const mx_exec *ex) {
    concat_job j = {n, 0};
    mx_parallel_for(ex->batch * ((concat_state *)n->state)->outer, 64, concat_rows, &j);
}

static void concat_backward(mx_node *n, const mx_exec *ex) {
    concat_job j = {n, 1};
    mx_parallel_for(ex->batch * ((concat_state *)n->state)->outer, 64, concat_rows, &j);
}

static void concat_explain_shape(const mx_node *n, mx_text *t) {
    const concat_cfg *c = n->layer->cfg;
    long long ax = c->axis.dims[0];
    int a = (int)(ax < 0 ? ax + n->in[0]->rank : ax - 1); /* without the batch axis */
    mx_text_add(t, "axis %lld: ", ax);
    for (int k = 0; k < n->n_in; k++) mx_text_add(t, "%s%lld", k ? " + " : "", (long long)n->in[k]->dims[a]);
    mx_text_add(t, " = %lld, other axes unchanged", (long long)n->out[0]->dims[a]);
}

const mx_layer_type mx_layer_concatenate = {
    .class_name = "Concatenate",
    .fields = concat_fields,
    .cfg_size = sizeof(concat_cfg),
    .min_inputs = 1,
    .max_inputs = MX_MAX_INPUTS,
    .build = concat_build,
    .forward = concat_forward,
    .backward = concat_backward,
    .explain_shape = concat_explain_shape,
    .example = "{\"input\": [3], \"inputs\": 2, \"config\": {}}",
};
