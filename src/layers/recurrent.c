/* recurrent.c: SimpleRNN, LSTM and GRU with Keras 2's semantics, defaults
 * and weight layouts, so TF.js/Keras weights load unchanged:
 *   kernel (I, G), recurrent_kernel (U, G), bias (G); G = U (SimpleRNN),
 *   4U (LSTM gates i, f, c, o), 3U (GRU gates z, r, h); GRU with
 *   reset_after has bias (2, 3U): the input bias, then the recurrent one.
 * Inputs: x (batch, T, I), and optionally the initial states h (and c) as
 * more inputs (Keras's initial_state). Outputs: h_T, or every h_t with
 * return_sequences; then h_T (and c_T) with return_state.
 *
 * One node runs the whole time loop. The input projections of all steps are
 * one GEMM ((T B, I) x (I, G)); each step is one GEMM h_{t-1} U (two for GRU
 * without reset_after) and one fused elementwise kernel (kernels/recurrent.c).
 * Backward goes through time over the whole sequence: per step the fused
 * kernel's backward and one GEMM for the gradient into h_{t-1}; then the
 * weight gradients and the input gradient as one GEMM each over all steps.
 * A stateful layer carries its final states into the next batch (truncated
 * backpropagation through time: the carried state is a constant).
 *
 * Workspace of a call (n->ws), time-major and in step order (reversed with
 * go_backwards), for B = the samples of the last step; after a forward pass
 * it shows every step's values:
 *   xs   (T, B, I)      the input of each step (times the dropout mask)
 *   g    (T, B, G)      SimpleRNN: the sums before the activation; LSTM: the
 *                       activated gates i, f, c~, o; GRU: z, r, h~; after a
 *                       backward pass, the gradients of the sums
 *   h    (T + 1, B, U)  h[0] the initial state, h[t + 1] the output of step t
 *   c    (T + 1, B, U)  LSTM: the cell states likewise
 *   hp   (T, B, U)      with recurrent dropout (only then): in training h[t]
 *                       times the mask, what step t uses in place of h[t]
 *   rh   (T, B, U)      GRU: r hp, or with reset_after hp U_h + b_h
 *   rec  (B, 3U)        GRU with reset_after: hp U of the current step
 *   dh, dc, dhp (B, U)  backward: running gradients
 *   tmp  (B, 2U)        backward scratch
 *   mask (B, I), rmask (B, U)  dropout masks, in training
 * then 3U floats (ws_fixed) of scratch for bias gradients. */
#include "kernels/gemm.h"
#include "kernels/recurrent.h"
#include "kernels/vec.h"
#include "layers/common.h"

#include <string.h>

enum { RNN_SIMPLE, RNN_LSTM, RNN_GRU };

extern const mx_layer_type mx_layer_simple_rnn, mx_layer_lstm, mx_layer_gru;

typedef struct rnn_cfg {
    int units;
    mx_act activation, recurrent_activation;
    int use_bias;
    mx_init kernel_init, recurrent_init, bias_init;
    int unit_forget_bias;
    mx_reg kernel_reg, recurrent_reg, bias_reg;
    float dropout, recurrent_dropout;
    int return_sequences, return_state, go_backwards, stateful, unroll, time_major;
    int reset_after;
} rnn_cfg;

#define RNN_COMMON_FIELDS                                                                                           \
    {"units", MX_FIELD_INT, offsetof(rnn_cfg, units), NULL, 0, NULL},                                               \
        {"activation", MX_FIELD_ACTIVATION, offsetof(rnn_cfg, activation), "\"tanh\"", 0, NULL},                    \
        {"use_bias", MX_FIELD_BOOL, offsetof(rnn_cfg, use_bias), "true", 0, NULL},                                  \
        {"kernel_initializer", MX_FIELD_INIT, offsetof(rnn_cfg, kernel_init), MX_GLOROT_UNIFORM, 0, NULL},          \
        {"recurrent_initializer", MX_FIELD_INIT, offsetof(rnn_cfg, recurrent_init), MX_ORTHOGONAL, 0, NULL},        \
        {"bias_initializer", MX_FIELD_INIT, offsetof(rnn_cfg, bias_init), MX_ZEROS, 0, NULL},                       \
        {"kernel_regularizer", MX_FIELD_REG, offsetof(rnn_cfg, kernel_reg), "null", 0, NULL},                       \
        {"recurrent_regularizer", MX_FIELD_REG, offsetof(rnn_cfg, recurrent_reg), "null", 0, NULL},                 \
        {"bias_regularizer", MX_FIELD_REG, offsetof(rnn_cfg, bias_reg), "null", 0, NULL},                           \
        {"dropout", MX_FIELD_FLOAT, offsetof(rnn_cfg, dropout), "0", 0, NULL},                                      \
        {"recurrent_dropout", MX_FIELD_FLOAT, offsetof(rnn_cfg, recurrent_dropout), "0", 0, NULL},                  \
        {"return_sequences", MX_FIELD_BOOL, offsetof(rnn_cfg, return_sequences), "false", 0, NULL},                 \
        {"return_state", MX_FIELD_BOOL, offsetof(rnn_cfg, return_state), "false", 0, NULL},                         \
        {"go_backwards", MX_FIELD_BOOL, offsetof(rnn_cfg, go_backwards), "false", 0, NULL},                         \
        {"stateful", MX_FIELD_BOOL, offsetof(rnn_cfg, stateful), "false", 0, NULL},                                 \
        {"unroll", MX_FIELD_BOOL, offsetof(rnn_cfg, unroll), "false", 0, NULL}, /* the same results either way */   \
        {"time_major", MX_FIELD_BOOL, offsetof(rnn_cfg, time_major), "false", 0, NULL},                             \
        {"seed", MX_FIELD_IGNORE, 0, "null", 0, NULL} /* Keras 3: dropout masks follow the training seed */

static const mx_field simple_rnn_fields[] = {RNN_COMMON_FIELDS, {0}};

static const mx_field lstm_fields[] = {
    RNN_COMMON_FIELDS,
    {"recurrent_activation", MX_FIELD_ACTIVATION, offsetof(rnn_cfg, recurrent_activation), "\"sigmoid\"", 0, NULL},
    /* TF.js writes null for its default, false */
    {"unit_forget_bias", MX_FIELD_BOOL_OR_NULL, offsetof(rnn_cfg, unit_forget_bias), "true", 0, NULL},
    {"implementation", MX_FIELD_IGNORE, 0, "2", 0, NULL}, /* how Keras splits the work, same results */
    {0},
};

static const mx_field gru_fields[] = {
    RNN_COMMON_FIELDS,
    {"recurrent_activation", MX_FIELD_ACTIVATION, offsetof(rnn_cfg, recurrent_activation), "\"sigmoid\"", 0, NULL},
    {"reset_after", MX_FIELD_BOOL, offsetof(rnn_cfg, reset_after), "true", 0, NULL},
    {"implementation", MX_FIELD_IGNORE, 0, "2", 0, NULL},
    {0},
};

/* derived sizes of a call, and the states a stateful call keeps */
typedef struct rnn_state {
    int kind, n_states;
    int64_t T, I, U, G;
    int fixed_batch;
    float *kept; /* stateful: (n_states, fixed_batch, U), right after this struct */
} rnn_state;

static int kind_of(const mx_layer *l) {
    const char *c = l->type->class_name;
    return !strcmp(c, "LSTM") ? RNN_LSTM : !strcmp(c, "GRU") ? RNN_GRU : RNN_SIMPLE;
}

static int rnn_build(mx_node *n) {
    rnn_cfg *c = n->layer->cfg;
    const int kind = kind_of(n->layer);
    const mx_value *in = n->in[0];
    if (in->rank != 2)
        return mx_fail("expects input (batch, timesteps, features), got rank %d (Keras needs 3-D input)", in->rank + 1);
    if (c->units <= 0) return mx_fail("units must be positive, got %d", c->units);
    if (c->time_major) return mx_fail("time_major=true is not supported (inputs are batch first)");
    if (!(c->dropout >= 0 && c->dropout < 1) || !(c->recurrent_dropout >= 0 && c->recurrent_dropout < 1))
        return mx_fail("dropout and recurrent_dropout must be in [0, 1)");
    if (kind != RNN_SIMPLE && (!mx_rnn_act_ok(c->activation) || !mx_rnn_act_ok(c->recurrent_activation)))
        return mx_fail("activation '%s' with recurrent_activation '%s' is not supported: gate activations must be "
                       "differentiable from their outputs (tanh, sigmoid, hard_sigmoid, relu, linear, ...)",
                       mx_act_name(c->activation.kind), mx_act_name(c->recurrent_activation.kind));
    const int64_t T = in->dims[0], I = in->dims[1], U = c->units;
    const int64_t G = kind == RNN_LSTM ? 4 * U : kind == RNN_GRU ? 3 * U : U;
    const int n_states = kind == RNN_LSTM ? 2 : 1;
    if (n->n_in != 1 && n->n_in != 1 + n_states)
        return mx_fail("takes the input and %d initial state%s, got %d inputs", n_states, n_states > 1 ? "s" : "",
                       n->n_in);
    for (int k = 1; k < n->n_in; k++)
        if (n->in[k]->rank != 1 || n->in[k]->dims[0] != U)
            return mx_fail("initial state %d must be (batch, %lld), got rank %d", k - 1, (long long)U, n->in[k]->rank + 1);
    int fixed = 0;
    if (c->stateful && !(fixed = mx_node_input_batch(n)))
        return mx_fail("stateful=true needs a fixed batch size: give the input layer batch_input_shape with it, "
                       "e.g. [1, %lld, %lld]", (long long)T, (long long)I);
    int64_t kept = c->stateful ? (int64_t)n_states * fixed * U : 0;
    rnn_state *st = mx_alloc(sizeof *st + sizeof(float) * (size_t)kept);
    if (!st) return -1;
    mx_free(n->state);
    n->state = st;
    *st = (rnn_state){kind, n_states, T, I, U, G, fixed, c->stateful ? (float *)(st + 1) : NULL};
    n->fixed_batch = fixed;

    int64_t kd[2] = {I, G}, rd[2] = {U, G}, bd[2] = {2, G};
    if (!mx_layer_param(n, "kernel", 2, kd, &c->kernel_init, &c->kernel_reg, 1, I, G) ||
        !mx_layer_param(n, "recurrent_kernel", 2, rd, &c->recurrent_init, &c->recurrent_reg, 1, U, G))
        return -1;
    int two = kind == RNN_GRU && c->reset_after;
    if (c->use_bias && !mx_layer_param(n, "bias", two ? 2 : 1, two ? bd : bd + 1, &c->bias_init, &c->bias_reg, 1, I, G))
        return -1;

    n->ws_per_sample = T * I + T * G + (T + 1) * U * (kind == RNN_LSTM ? 2 : 1) + (c->recurrent_dropout > 0 ? T * U : 0) +
                       (kind == RNN_GRU ? T * U : 0) + (two ? 3 * U : 0) + 5 * U + I + U;
    n->ws_fixed = 3 * U;
    int64_t od[2] = {T, U};
    if (mx_node_set_output(n, 0, c->return_sequences ? 2 : 1, c->return_sequences ? od : od + 1)) return -1;
    if (c->return_state) {
        if (mx_node_add_outputs(n, 1 + n_states)) return -1;
        for (int k = 1; k <= n_states; k++)
            if (mx_node_set_output(n, k, 1, od + 1)) return -1;
    }
    return 0;
}

/* The buffers of the workspace for B samples (see the top of the file). */
typedef struct rnn_bufs {
    float *xs, *g, *h, *c, *hp, *rh, *rec, *dh, *dc, *dhp, *tmp, *mask, *rmask, *bsum;
} rnn_bufs;

static rnn_bufs bufs_of(const mx_node *n, int64_t B) {
    const rnn_state *st = n->state;
    const rnn_cfg *c = n->layer->cfg;
    const int64_t T = st->T, U = st->U;
    rnn_bufs b;
    float *p = n->ws;
    b.xs = p, p += T * B * st->I;
    b.g = p, p += T * B * st->G;
    b.h = p, p += (T + 1) * B * U;
    b.c = NULL;
    if (st->kind == RNN_LSTM) b.c = p, p += (T + 1) * B * U;
    b.hp = NULL;
    if (c->recurrent_dropout > 0) b.hp = p, p += T * B * U;
    b.rh = NULL;
    if (st->kind == RNN_GRU) b.rh = p, p += T * B * U;
    b.rec = NULL;
    if (st->kind == RNN_GRU && c->reset_after) b.rec = p, p += 3 * B * U;
    b.dh = p, p += B * U;
    b.dc = p, p += B * U;
    b.dhp = p, p += B * U;
    b.tmp = p, p += 2 * B * U;
    b.mask = p, p += B * st->I;
    b.rmask = p, p += B * U;
    b.bsum = p;
    return b;
}

static const float *param(const mx_node *n, int i) { return n->layer->params[i]->data; }

/* keep-or-drop scales 0 or 1 / (1 - rate), one per sample and feature, the
 * same for every step (Keras); from the node's stream for this step */
static void dropout_mask(float *mask, int64_t count, float rate, const mx_exec *ex, const mx_node *n, int which) {
    uint64_t stream = mx_stream(ex->seed, (uint64_t)ex->step, (uint64_t)n->index, 20 + (uint64_t)which);
    float scale = 1.0f / (1.0f - rate);
    for (int64_t i = 0; i < count; i++) mask[i] = mx_uniform(stream, (uint64_t)i) >= rate ? scale : 0.0f;
}

static int drops(float rate, const mx_exec *ex) { return ex->training && rate > 0; }

static void rnn_forward(mx_node *n, const mx_exec *ex) {
    const rnn_cfg *c = n->layer->cfg;
    rnn_state *st = n->state;
    const int64_t B = ex->batch, T = st->T, I = st->I, U = st->U, G = st->G;
    rnn_bufs b = bufs_of(n, B);
    const int drop = drops(c->dropout, ex), rdrop = drops(c->recurrent_dropout, ex);
    if (drop) dropout_mask(b.mask, B * I, c->dropout, ex, n, 0);
    if (rdrop) dropout_mask(b.rmask, B * U, c->recurrent_dropout, ex, n, 1);
    /* xs: time-major, in step order */
    const float *x = n->in[0]->data; /* (B, T, I) */
    for (int64_t s = 0; s < T; s++) {
        const int64_t t = c->go_backwards ? T - 1 - s : s;
        for (int64_t r = 0; r < B; r++) {
            const float *src = x + (r * T + t) * I;
            float *dst = b.xs + (s * B + r) * I;
            if (drop)
                for (int64_t k = 0; k < I; k++) dst[k] = src[k] * b.mask[r * I + k];
            else
                memcpy(dst, src, sizeof(float) * (size_t)I);
        }
    }
    /* g (T B, G) = xs W + b: every step's input projection at once */
    const float *bias = c->use_bias ? param(n, 2) : NULL;
    mx_gemm_epilogue epi = {bias, {.kind = MX_ACT_LINEAR}, NULL};
    mx_gemm_ex(0, 0, T * B, G, I, b.xs, I, param(n, 0), G, b.g, G, 0, &epi);
    /* initial states: given as inputs, kept from the last batch, or zeros */
    for (int k = 0; k < st->n_states; k++) {
        float *dst = k == 0 ? b.h : b.c;
        if (n->n_in > 1)
            memcpy(dst, n->in[1 + k]->data, sizeof(float) * (size_t)(B * U));
        else if (st->kept)
            memcpy(dst, st->kept + (int64_t)k * st->fixed_batch * U, sizeof(float) * (size_t)(B * U));
        else
            memset(dst, 0, sizeof(float) * (size_t)(B * U));
    }
    const float *Ur = param(n, 1); /* (U, G) */
    const float *rbias = bias && st->kind == RNN_GRU && c->reset_after ? bias + G : NULL;
    for (int64_t s = 0; s < T; s++) {
        float *gs = b.g + s * B * G, *h_prev = b.h + s * B * U, *h = h_prev + B * U;
        float *hp = h_prev;
        if (rdrop) {
            hp = b.hp + s * B * U;
            for (int64_t i = 0; i < B * U; i++) hp[i] = h_prev[i] * b.rmask[i];
        }
        mx_rnn_step step = {.act = c->activation, .ract = c->recurrent_activation, .rows = B, .units = U, .g = gs,
                            .hp = hp, .h = h, .rbias = rbias};
        switch (st->kind) {
        case RNN_SIMPLE:
            mx_gemm(0, 0, B, U, U, hp, U, Ur, U, gs, U, 1);
            mx_act_forward(c->activation, gs, h, B, U);
            break;
        case RNN_LSTM:
            mx_gemm(0, 0, B, G, U, hp, U, Ur, G, gs, G, 1);
            step.c_prev = b.c + s * B * U;
            step.c = b.c + (s + 1) * B * U;
            mx_lstm_step_forward(&step);
            break;
        case RNN_GRU:
            step.rh = b.rh + s * B * U;
            if (c->reset_after) { /* z, r, and h~'s recurrent part from one GEMM */
                mx_gemm(0, 0, B, G, U, hp, U, Ur, G, b.rec, G, 0);
                step.rec = b.rec;
                mx_gru_gates_forward(&step);
            } else { /* z and r first: h~ needs (r hp) U_h */
                mx_gemm(0, 0, B, 2 * U, U, hp, U, Ur, G, gs, G, 1);
                mx_gru_gates_forward(&step);
                mx_gemm(0, 0, B, U, U, step.rh, U, Ur + 2 * U, G, gs + 2 * U, G, 1);
            }
            mx_gru_step_forward(&step);
            break;
        }
    }
    /* outputs: every step's h (batch first) or the last; then the states */
    const float *hT = b.h + T * B * U;
    if (c->return_sequences) {
        for (int64_t s = 0; s < T; s++)
            for (int64_t r = 0; r < B; r++)
                memcpy(n->out[0]->data + (r * T + s) * U, b.h + ((s + 1) * B + r) * U, sizeof(float) * (size_t)U);
    } else {
        memcpy(n->out[0]->data, hT, sizeof(float) * (size_t)(B * U));
    }
    for (int k = 0; c->return_state && k < st->n_states; k++)
        memcpy(n->out[1 + k]->data, k == 0 ? hT : b.c + T * B * U, sizeof(float) * (size_t)(B * U));
    for (int k = 0; st->kept && k < st->n_states; k++)
        memcpy(st->kept + (int64_t)k * st->fixed_batch * U, k == 0 ? hT : b.c + T * B * U,
               sizeof(float) * (size_t)(B * U));
}

/* dst (=|+=) src */
static void put(float *dst, const float *src, int64_t count, int acc) {
    for (int64_t i = 0; i < count; i++) dst[i] = acc ? dst[i] + src[i] : src[i];
}

static void rnn_backward(mx_node *n, const mx_exec *ex) {
    const rnn_cfg *c = n->layer->cfg;
    const rnn_state *st = n->state;
    const int64_t B = ex->batch, T = st->T, I = st->I, U = st->U, G = st->G;
    rnn_bufs b = bufs_of(n, B);
    const int rdrop = drops(c->recurrent_dropout, ex);
    const float *Ur = param(n, 1);
    const float *dy = n->out[0]->grad;
    float *dh = b.dh, *dhp = b.dhp;
    /* gradients into h_T and c_T */
    if (c->return_sequences)
        memset(dh, 0, sizeof(float) * (size_t)(B * U));
    else
        memcpy(dh, dy, sizeof(float) * (size_t)(B * U));
    memset(b.dc, 0, sizeof(float) * (size_t)(B * U));
    if (c->return_state) {
        put(dh, n->out[1]->grad, B * U, 1);
        if (st->kind == RNN_LSTM) put(b.dc, n->out[2]->grad, B * U, 1);
    }
    for (int64_t s = T - 1; s >= 0; s--) {
        float *gs = b.g + s * B * G;
        const float *hp = rdrop ? b.hp + s * B * U : b.h + s * B * U;
        if (c->return_sequences)
            for (int64_t r = 0; r < B; r++) put(dh + r * U, dy + (r * T + s) * U, U, 1);
        mx_rnn_step step = {.act = c->activation, .ract = c->recurrent_activation, .rows = B, .units = U, .g = gs,
                            .hp = hp, .dh = dh, .dc = b.dc, .dhp = dhp, .tmp = b.tmp};
        switch (st->kind) {
        case RNN_SIMPLE: /* g holds the sums: the activation's derivative from them and h */
            mx_act_backward(c->activation, gs, b.h + (s + 1) * B * U, dh, gs, B, U, 0);
            mx_gemm(0, 1, B, U, U, gs, U, Ur, U, dhp, U, 0);
            break;
        case RNN_LSTM:
            step.c_prev = b.c + s * B * U;
            step.c = b.c + (s + 1) * B * U;
            mx_lstm_step_backward(&step);
            mx_gemm(0, 1, B, U, G, gs, G, Ur, G, dhp, U, 0);
            break;
        case RNN_GRU:
            step.rh = b.rh + s * B * U;
            step.rec = c->reset_after ? b.rec : NULL; /* only tells the kernel which form */
            mx_gru_step_backward(&step);
            if (c->reset_after) { /* rh now holds the gradient of hp U_h + b_h */
                mx_gemm(0, 1, B, U, U, step.rh, U, Ur + 2 * U, G, dhp, U, 1);
            } else { /* the gradient of r hp, then r's */
                mx_gemm(0, 1, B, U, U, gs + 2 * U, G, Ur + 2 * U, G, b.dc, U, 0);
                step.drh = b.dc;
                mx_gru_reset_backward(&step);
            }
            mx_gemm(0, 1, B, U, 2 * U, gs, G, Ur, G, dhp, U, 1);
            break;
        }
        if (rdrop)
            for (int64_t i = 0; i < B * U; i++) dhp[i] *= b.rmask[i];
        float *t = dh; /* dhp is the gradient into h_{t-1}: the next dh */
        dh = dhp;
        dhp = t;
    }
    /* the initial states' gradients */
    if (n->n_in > 1) {
        if (n->in[1]->grad) put(n->in[1]->grad, dh, B * U, n->in_acc[1]);
        if (st->kind == RNN_LSTM && n->in[2]->grad) put(n->in[2]->grad, b.dc, B * U, n->in_acc[2]);
    }
    /* weights, over all steps at once */
    const int acc = n->param_acc;
    mx_param *W = n->layer->params[0], *R = n->layer->params[1], *bias = c->use_bias ? n->layer->params[2] : NULL;
    const float *hps = rdrop ? b.hp : b.h; /* (T B, U): what each step multiplied by U */
    if (W->grad) mx_gemm(1, 0, I, G, T * B, b.xs, I, b.g, G, W->grad, G, acc);
    if (R->grad) {
        if (st->kind != RNN_GRU) {
            mx_gemm(1, 0, U, G, T * B, hps, U, b.g, G, R->grad, G, acc);
        } else {
            mx_gemm(1, 0, U, 2 * U, T * B, hps, U, b.g, G, R->grad, G, acc);
            if (c->reset_after) /* U_h's gradient: hp^T d(hp U_h) */
                mx_gemm(1, 0, U, U, T * B, hps, U, b.rh, U, R->grad + 2 * U, G, acc);
            else /* hp r's: (r hp)^T dh~ */
                mx_gemm(1, 0, U, U, T * B, b.rh, U, b.g + 2 * U, G, R->grad + 2 * U, G, acc);
        }
    }
    if (bias && bias->grad) {
        mx_vec_sum_rows(b.g, b.bsum, T * B, G, 0);
        put(bias->grad, b.bsum, G, acc);
        if (st->kind == RNN_GRU && c->reset_after) { /* the recurrent bias: z and r as the input's, h from rh */
            put(bias->grad + G, b.bsum, 2 * U, acc);
            mx_vec_sum_rows(b.rh, b.bsum, T * B, U, 0);
            put(bias->grad + G + 2 * U, b.bsum, U, acc);
        }
    }
    /* the input: dxs (T B, I) = g W^T into xs, then back to batch-first order */
    float *dx = n->in[0]->grad;
    if (!dx) return;
    mx_gemm(0, 1, T * B, I, G, b.g, G, param(n, 0), G, b.xs, I, 0);
    const int drop = drops(c->dropout, ex);
    for (int64_t s = 0; s < T; s++) {
        const int64_t t = c->go_backwards ? T - 1 - s : s;
        for (int64_t r = 0; r < B; r++) {
            float *d = dx + (r * T + t) * I;
            const float *src = b.xs + (s * B + r) * I;
            for (int64_t k = 0; k < I; k++) {
                float v = drop ? src[k] * b.mask[r * I + k] : src[k];
                d[k] = n->in_acc[0] ? d[k] + v : v;
            }
        }
    }
}

/* Keras's unit_forget_bias: the forget gate's bias starts at 1 */
static void lstm_after_init(mx_layer *l) {
    const rnn_cfg *c = l->cfg;
    if (!c->use_bias || !c->unit_forget_bias || l->n_params < 3) return;
    mx_param *b = l->params[2];
    for (int64_t k = 0; k < c->units; k++) b->data[c->units + k] = 1.0f;
}

static float *rnn_persistent(mx_node *n, int k, int64_t *count) {
    const rnn_state *st = n->state;
    *count = st && st->kept ? (int64_t)st->n_states * st->fixed_batch * st->U : 0;
    return st && k == 0 ? st->kept : NULL;
}

int mx_is_recurrent(const mx_layer *l) {
    return l->type == &mx_layer_simple_rnn || l->type == &mx_layer_lstm || l->type == &mx_layer_gru;
}

void mx_rnn_reverse(mx_layer *l) {
    rnn_cfg *c = l->cfg;
    c->go_backwards = !c->go_backwards;
}

/* for explanations: the per-step buffers (graph.h, mx_unrolled) */
static int rnn_unrolled(const mx_node *n, int batch, mx_unrolled *u) {
    const rnn_cfg *c = n->layer->cfg;
    const rnn_state *st = n->state;
    if (!st) return -1;
    *u = (mx_unrolled){.steps = st->T, .inputs = st->I, .units = st->U, .gates = st->G, .act = c->activation,
                       .reversed = c->go_backwards, .return_sequences = c->return_sequences,
                       .return_state = c->return_state, .stateful = c->stateful,
                       .dropout = c->dropout > 0 || c->recurrent_dropout > 0};
    if (n->ws) {
        rnn_bufs b = bufs_of(n, batch);
        u->states = b.h;
        u->sums = b.g;
    }
    return 0;
}

/* gates * (in + units + 1) * units: each gate's kernel, recurrent kernel
 * and bias (GRU with reset_after: two biases) */
static void rnn_explain_params(const mx_node *n, mx_text *t) {
    const rnn_cfg *c = n->layer->cfg;
    const rnn_state *st = n->state;
    const long long k = st->G / st->U, i = st->I, u = st->U;
    const long long b = c->use_bias ? 1 + (st->kind == RNN_GRU && c->reset_after) : 0;
    const char *bias = b == 2 ? " + 2" : b ? " + 1" : "";
    if (k > 1) mx_text_add(t, "%lld * ", k);
    mx_text_add(t, "(in + units%s) * units = ", bias);
    if (k > 1) mx_text_add(t, "%lld * ", k);
    mx_text_add(t, "(%lld + %lld%s) * %lld = %lld", i, u, bias, u, k * (i + u + b) * u);
}

static void rnn_explain_shape(const mx_node *n, mx_text *t) {
    const rnn_cfg *c = n->layer->cfg;
    const rnn_state *st = n->state;
    if (c->return_sequences)
        mx_text_add(t, "(timesteps, features) = (%lld, %lld) -> (timesteps, units) = (%lld, %lld): every step's state",
                    (long long)st->T, (long long)st->I, (long long)st->T, (long long)st->U);
    else
        mx_text_add(t, "(timesteps, features) = (%lld, %lld) -> (units) = (%lld): the last state", (long long)st->T,
                    (long long)st->I, (long long)st->U);
}

#define RNN_TYPE(cls, fields_, init, example_)                                                                      \
    {                                                                                                              \
        .class_name = cls, .fields = fields_, .cfg_size = sizeof(rnn_cfg), .min_inputs = 1, .max_inputs = 3,        \
        .build = rnn_build, .forward = rnn_forward, .backward = rnn_backward, .after_init = init,                  \
        .persistent = rnn_persistent, .unrolled = rnn_unrolled, .explain_params = rnn_explain_params,              \
        .explain_shape = rnn_explain_shape, .example = example_,                                                   \
    }

const mx_layer_type mx_layer_simple_rnn =
    RNN_TYPE("SimpleRNN", simple_rnn_fields, NULL, "{\"input\": [3, 2], \"config\": {\"units\": 3}}");
const mx_layer_type mx_layer_lstm = RNN_TYPE("LSTM", lstm_fields, lstm_after_init,
                                             "{\"input\": [3, 2], \"config\": {\"units\": 2, \"return_sequences\": true}}");
const mx_layer_type mx_layer_gru =
    RNN_TYPE("GRU", gru_fields, NULL, "{\"input\": [3, 2], \"config\": {\"units\": 2, \"go_backwards\": true}}");
