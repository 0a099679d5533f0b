/* wrappers.c: layers that run another layer, given as a nested config
 * {"layer": {"class_name": ..., "config": ...}}:
 *   TimeDistributed: the layer on every step of (batch, T, ...) at once, as
 *     a batch of batch * T samples; its weights are named after the wrapper
 *     ("time_distributed/kernel"), as TF.js names them.
 *   Bidirectional: a recurrent layer forward and a copy of it backward
 *     ("forward_lstm", "backward_lstm"; weights "bidirectional/forward_lstm/
 *     kernel"), the backward sequence turned around again, merged by
 *     concat, sum, mul, ave or not at all (merge_mode null: two outputs).
 *     Initial states come as inputs: the forward layer's, then the
 *     backward's; with return_state the outputs end with both layers' states.
 * The inner layers run on inner nodes that live in the wrapper's node state,
 * on views of the wrapper's buffers; their own values and workspaces are
 * carved from the wrapper's workspace. */
#include "layers/common.h"

#include <stdio.h>
#include <string.h>

/* a node of layer l inside wrapper node n, not in the graph; dropout
 * streams and step errors go by its own index */
static void inner_node(mx_node *in, const mx_node *n, mx_layer *l, int k) {
    memset(in, 0, sizeof *in);
    in->layer = l;
    in->index = n->index + (k + 1) * 65536;
    in->call = l->n_nodes++;
}

/* a view of v: same name and producer, another shape */
static void view_of(mx_value *view, const mx_value *v, int rank, const int64_t *dims) {
    memset(view, 0, sizeof *view);
    snprintf(view->name, sizeof view->name, "%s", v->name);
    view->producer = v->producer;
    view->rank = rank;
    memcpy(view->dims, dims, sizeof(int64_t) * (size_t)rank);
    view->size = 1;
    for (int i = 0; i < rank; i++) view->size *= dims[i];
}

/* build a layer on an inner node; its weights become the wrapper's */
static int build_inner(mx_node *wrapper, mx_node *in) {
    mx_layer *l = in->layer;
    l->trainable = l->trainable && wrapper->layer->trainable; /* frozen when either is */
    l->inference = wrapper->layer->inference;
    if (l->type->build(in)) return mx_fail_context("'%s' (%s): ", l->name, l->type->class_name);
    in->z = in->out[0];
    return mx_wrap_params(wrapper->layer, l);
}

static void free_inner(mx_node *in) {
    if (in->layer && in->layer->type->free_state) in->layer->type->free_state(in);
    mx_free(in->state);
    in->state = NULL;
}

/* ==== TimeDistributed ==== */

typedef struct td_cfg {
    mx_layer *layer;
} td_cfg;

static const mx_field td_fields[] = {
    {"layer", MX_FIELD_LAYER, offsetof(td_cfg, layer), NULL, 0, NULL},
    {0},
};

typedef struct td_state {
    mx_node inner;
    mx_value in, out, z; /* per-step views: (batch * T, ...) */
    int64_t T;
    int own_z;           /* the inner layer's activation needs its sums apart: z in the workspace */
} td_state;

static int td_build(mx_node *n) {
    td_cfg *c = n->layer->cfg;
    const mx_value *x = n->in[0];
    mx_layer *l = c->layer;
    if (x->rank < 2) return mx_fail("expects input (batch, timesteps, ...), got rank %d", x->rank + 1);
    if (l->type->min_inputs > 1) return mx_fail("cannot wrap %s (it takes several inputs)", l->type->class_name);
    td_state *st = mx_alloc(sizeof *st);
    if (!st) return -1;
    if (n->state) {
        free_inner(&((td_state *)n->state)->inner);
        mx_free(n->state);
    }
    n->state = st;
    st->T = x->dims[0];
    /* TF.js names the weights after the wrapper, not the layer inside */
    snprintf(l->weight_scope, sizeof l->weight_scope, "%s", n->layer->weight_scope);
    view_of(&st->in, x, x->rank - 1, x->dims + 1);
    inner_node(&st->inner, n, l, 0);
    st->inner.n_in = 1;
    st->inner.in[0] = &st->in;
    st->inner.n_out = 1;
    st->inner.out[0] = &st->out;
    snprintf(st->out.name, sizeof st->out.name, "%s", n->out[0]->name);
    st->out.producer = n;
    if (build_inner(n, &st->inner)) return -1;
    if (st->inner.n_out != 1) return mx_fail("cannot wrap %s with several outputs", l->type->class_name);
    if (st->inner.fixed_batch) return mx_fail("cannot wrap a stateful layer");
    st->own_z = l->act.kind != MX_ACT_LINEAR;
    if (st->own_z) {
        view_of(&st->z, &st->out, st->out.rank, st->out.dims);
        st->inner.z = &st->z;
    }
    n->ws_per_sample = st->T * (st->inner.ws_per_sample + (st->own_z ? 2 * st->out.size : 0));
    n->ws_fixed = st->inner.ws_fixed;
    int64_t od[MX_MAX_RANK];
    od[0] = st->T;
    memcpy(od + 1, st->out.dims, sizeof(int64_t) * (size_t)st->out.rank);
    return mx_node_set_output(n, 0, st->out.rank + 1, od);
}

/* point the views at this step's buffers */
static mx_exec td_bind(mx_node *n, const mx_exec *ex) {
    td_state *st = n->state;
    const int64_t rows = ex->batch * st->T;
    st->in.data = n->in[0]->data;
    st->in.grad = n->in[0]->grad;
    st->out.data = n->out[0]->data;
    st->out.grad = n->out[0]->grad;
    float *p = n->ws;
    if (st->own_z) {
        st->z.data = p, p += rows * st->out.size;
        st->z.grad = p, p += rows * st->out.size;
    }
    st->inner.ws = p;
    st->inner.in_acc[0] = n->in_acc[0];
    st->inner.param_acc = n->param_acc;
    mx_exec local = *ex;
    local.batch = (int)rows;
    return local;
}

static void td_forward(mx_node *n, const mx_exec *ex) {
    td_state *st = n->state;
    mx_exec local = td_bind(n, ex);
    mx_node_forward(&st->inner, &local);
}

static void td_backward(mx_node *n, const mx_exec *ex) {
    td_state *st = n->state;
    mx_exec local = td_bind(n, ex);
    mx_node_backward(&st->inner, &local);
}

static void td_free(mx_node *n) {
    if (n->state) free_inner(&((td_state *)n->state)->inner);
}

const mx_layer_type mx_layer_time_distributed = {
    .class_name = "TimeDistributed",
    .fields = td_fields,
    .cfg_size = sizeof(td_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = td_build,
    .forward = td_forward,
    .backward = td_backward,
    .free_state = td_free,
    .example = "{\"input\": [3, 2], \"config\": {\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 2, "
               "\"activation\": \"tanh\"}}}}",
};

/* ==== Bidirectional ==== */

static const char *const g_merge_names[] = {"sum", "mul", "concat", "ave", NULL};
enum { MERGE_SUM, MERGE_MUL, MERGE_CONCAT, MERGE_AVE }; /* -1: null, two outputs */

typedef struct bidi_cfg {
    mx_layer *layer; /* as configured; its forward and backward copies run */
    int merge_mode;
    mx_layer *dir[2]; /* forward_<name>, backward_<name> */
} bidi_cfg;

static const mx_field bidi_fields[] = {
    {"layer", MX_FIELD_LAYER, offsetof(bidi_cfg, layer), NULL, 0, NULL},
    {"merge_mode", MX_FIELD_ENUM_OR_NULL, offsetof(bidi_cfg, merge_mode), "\"concat\"", 0, g_merge_names},
    {"backward_layer", MX_FIELD_NULL, 0, "null", 0, NULL}, /* Keras: a given backward layer */
    {0},
};

typedef struct bidi_state {
    mx_node inner[2];
    mx_value out[2][3]; /* each direction's outputs: y, then its states */
    int n_states, seq;  /* states each direction returns (0 without return_state); sequences out */
    int n_initial;      /* initial states each direction takes as inputs (0, or 1 or 2) */
    int64_t T, U, ysize; /* ysize: y per sample (T U or U) */
} bidi_state;

static int bidi_build(mx_node *n) {
    bidi_cfg *c = n->layer->cfg;
    if (!mx_is_recurrent(c->layer))
        return mx_fail("wraps %s, but needs a recurrent layer (SimpleRNN, LSTM, GRU)", c->layer->type->class_name);
    for (int k = 0; k < 2 && !c->dir[k]; k++) {
        char name[MX_NAME_MAX];
        snprintf(name, sizeof name, "%s_%.100s", k ? "backward" : "forward", c->layer->name);
        if (!(c->dir[k] = mx_graph_clone_inner_layer(c->layer, name))) return -1;
        if (k) mx_rnn_reverse(c->dir[k]);
    }
    bidi_state *st = mx_alloc(sizeof *st);
    if (!st) return -1;
    if (n->state) {
        for (int k = 0; k < 2; k++) free_inner(&((bidi_state *)n->state)->inner[k]);
        mx_free(n->state);
    }
    n->state = st;
    int n_states = c->layer->type == mx_layer_type_find("LSTM") ? 2 : 1;
    if (n->n_in != 1 && n->n_in != 1 + 2 * n_states)
        return mx_fail("takes the input and %d initial states (the forward layer's, then the backward's), got %d inputs",
                       2 * n_states, n->n_in);
    st->n_initial = n->n_in == 1 ? 0 : n_states;
    for (int k = 0; k < 2; k++) {
        mx_node *in = &st->inner[k];
        inner_node(in, n, c->dir[k], k);
        in->n_in = 1 + st->n_initial;
        in->in[0] = n->in[0];
        for (int j = 1; j < in->n_in; j++) in->in[j] = n->in[k * st->n_initial + j];
        in->n_out = 1;
        for (int j = 0; j < 3; j++) { /* its outputs: values in this state, not in the graph */
            in->out[j] = &st->out[k][j];
            snprintf(st->out[k][j].name, sizeof st->out[k][j].name, "%s/%d", c->dir[k]->name, j);
            st->out[k][j].producer = n;
        }
        if (build_inner(n, in)) return -1;
    }
    const mx_node *f = &st->inner[0];
    st->n_states = f->n_out - 1;
    st->seq = f->out[0]->rank == 2;
    st->U = f->out[0]->dims[f->out[0]->rank - 1];
    st->T = n->in[0]->dims[0];
    st->ysize = f->out[0]->size;
    n->fixed_batch = f->fixed_batch;
    /* both directions' workspaces, outputs and their gradients */
    n->ws_per_sample = 0;
    for (int k = 0; k < 2; k++) n->ws_per_sample += st->inner[k].ws_per_sample + 2 * (st->ysize + st->n_states * st->U);
    n->ws_fixed = st->inner[0].ws_fixed + st->inner[1].ws_fixed;
    int64_t od[2] = {st->T, st->U};
    int r = st->seq ? 2 : 1;
    const int64_t *yd = st->seq ? od : od + 1;
    int merged = c->merge_mode >= 0, n_y = merged ? 1 : 2;
    if (mx_node_add_outputs(n, n_y + 2 * st->n_states)) return -1;
    od[1] = st->U * (c->merge_mode == MERGE_CONCAT ? 2 : 1);
    if (mx_node_set_output(n, 0, r, st->seq ? od : od + 1)) return -1;
    od[1] = st->U;
    if (!merged && mx_node_set_output(n, 1, r, yd)) return -1;
    for (int j = 0; j < 2 * st->n_states; j++)
        if (mx_node_set_output(n, n_y + j, 1, od + 1)) return -1;
    return 0;
}

/* the inner outputs' buffers in the workspace, and the inner workspaces */
static void bidi_bind(mx_node *n, int64_t B) {
    bidi_state *st = n->state;
    float *p = n->ws;
    for (int k = 0; k < 2; k++) {
        mx_node *in = &st->inner[k];
        for (int j = 0; j < in->n_out; j++) {
            int64_t size = B * (j ? st->U : st->ysize);
            in->out[j]->data = p, p += size;
            in->out[j]->grad = p, p += size;
        }
        in->z = in->out[0];
        in->ws = p, p += B * in->ws_per_sample + in->ws_fixed;
        in->param_acc = n->param_acc;
        /* x: the backward layer adds to the forward's gradient; then each one's initial states */
        in->in_acc[0] = k ? 1 : n->in_acc[0];
        for (int j = 1; j < in->n_in; j++) in->in_acc[j] = n->in_acc[k * st->n_initial + j];
    }
}

/* element e of the backward output aligned with the forward's: with
 * sequences, step t of one is step T - 1 - t of the other */
static int64_t rev(const bidi_state *st, int64_t e) {
    if (!st->seq) return e;
    const int64_t b = e / st->ysize, t = e % st->ysize / st->U, u = e % st->U;
    return b * st->ysize + (st->T - 1 - t) * st->U + u;
}

static void bidi_forward(mx_node *n, const mx_exec *ex) {
    const bidi_cfg *c = n->layer->cfg;
    bidi_state *st = n->state;
    bidi_bind(n, ex->batch);
    for (int k = 0; k < 2; k++) mx_node_forward(&st->inner[k], ex);
    const float *y = st->inner[0].out[0]->data, *yb = st->inner[1].out[0]->data;
    const int64_t count = ex->batch * st->ysize, U = st->U;
    float *o = n->out[0]->data;
    for (int64_t e = 0; e < count; e++) {
        const float a = y[e], b = yb[rev(st, e)];
        switch (c->merge_mode) {
        case MERGE_CONCAT: o[e / U * 2 * U + e % U] = a, o[e / U * 2 * U + U + e % U] = b; break;
        case MERGE_SUM: o[e] = a + b; break;
        case MERGE_MUL: o[e] = a * b; break;
        case MERGE_AVE: o[e] = 0.5f * (a + b); break;
        default: o[e] = a, n->out[1]->data[e] = b; break;
        }
    }
    const int first = c->merge_mode >= 0 ? 1 : 2;
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < st->n_states; j++)
            memcpy(n->out[first + k * st->n_states + j]->data, st->inner[k].out[1 + j]->data,
                   sizeof(float) * (size_t)(ex->batch * U));
}

static void bidi_backward(mx_node *n, const mx_exec *ex) {
    const bidi_cfg *c = n->layer->cfg;
    bidi_state *st = n->state;
    bidi_bind(n, ex->batch);
    const float *y = st->inner[0].out[0]->data, *yb = st->inner[1].out[0]->data, *d = n->out[0]->grad;
    float *dy = st->inner[0].out[0]->grad, *dyb = st->inner[1].out[0]->grad;
    const int64_t count = ex->batch * st->ysize, U = st->U;
    for (int64_t e = 0; e < count; e++) {
        const int64_t eb = rev(st, e);
        switch (c->merge_mode) {
        case MERGE_CONCAT: dy[e] = d[e / U * 2 * U + e % U], dyb[eb] = d[e / U * 2 * U + U + e % U]; break;
        case MERGE_SUM: dy[e] = dyb[eb] = d[e]; break;
        case MERGE_MUL: dy[e] = d[e] * yb[eb], dyb[eb] = d[e] * y[e]; break;
        case MERGE_AVE: dy[e] = dyb[eb] = 0.5f * d[e]; break;
        default: dy[e] = d[e], dyb[eb] = n->out[1]->grad[e]; break;
        }
    }
    const int first = c->merge_mode >= 0 ? 1 : 2;
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < st->n_states; j++)
            memcpy(st->inner[k].out[1 + j]->grad, n->out[first + k * st->n_states + j]->grad,
                   sizeof(float) * (size_t)(ex->batch * U));
    for (int k = 0; k < 2; k++) mx_node_backward(&st->inner[k], ex);
}

static void bidi_free(mx_node *n) {
    if (n->state)
        for (int k = 0; k < 2; k++) free_inner(&((bidi_state *)n->state)->inner[k]);
}

static float *bidi_persistent(mx_node *n, int k, int64_t *count) {
    bidi_state *st = n->state;
    *count = 0;
    if (!st || k < 0 || k > 1 || !st->inner[k].fixed_batch) return NULL;
    return st->inner[k].layer->type->persistent(&st->inner[k], 0, count);
}

const mx_layer_type mx_layer_bidirectional = {
    .class_name = "Bidirectional",
    .fields = bidi_fields,
    .cfg_size = sizeof(bidi_cfg),
    .min_inputs = 1,
    .max_inputs = 5,
    .build = bidi_build,
    .forward = bidi_forward,
    .backward = bidi_backward,
    .free_state = bidi_free,
    .persistent = bidi_persistent,
    .example = "{\"input\": [3, 2], \"config\": {\"layer\": {\"class_name\": \"LSTM\", \"config\": {\"units\": 2, "
               "\"return_sequences\": true}}, \"merge_mode\": \"concat\"}}",
};
