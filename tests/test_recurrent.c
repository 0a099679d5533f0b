/* test_recurrent.c: SimpleRNN, LSTM and GRU against a direct reference
 * implementation (double loops over Keras's equations), finite-difference
 * gradient checks of every option, stateful layers and their states. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIMPLE, LSTM, GRU, GRU_RA }; /* GRU_RA: reset_after */
static const char *const g_class[] = {"SimpleRNN", "LSTM", "GRU", "GRU"};

static double sig(double x) { return 1 / (1 + exp(-x)); }

/* One sample through the cell, Keras's equations. x (T, I); W (I, G), R (U, G),
 * b (G) or (2, G); hs (T, U) the outputs in step order; h, c: initial, then final. */
static void ref_rnn(int kind, int T, int I, int U, int go_back, const float *x, const float *W, const float *R,
                    const float *b, double *hs, double *h, double *c) {
    int G = kind == SIMPLE ? U : kind == LSTM ? 4 * U : 3 * U;
    double *xw = calloc((size_t)G, sizeof(double)), *hr = calloc((size_t)G, sizeof(double));
    double *hn = calloc((size_t)U, sizeof(double));
    for (int s = 0; s < T; s++) {
        const float *xt = x + (go_back ? T - 1 - s : s) * I;
        for (int j = 0; j < G; j++) {
            xw[j] = b ? b[j] : 0;
            hr[j] = kind == GRU_RA && b ? b[G + j] : 0;
            for (int k = 0; k < I; k++) xw[j] += xt[k] * W[k * G + j];
        }
        if (kind == GRU) { /* h~ uses (r h) R_h */
            for (int j = 0; j < 2 * U; j++)
                for (int k = 0; k < U; k++) hr[j] += h[k] * R[k * G + j];
            double *rhv = calloc((size_t)U, sizeof(double));
            for (int k = 0; k < U; k++) rhv[k] = sig(xw[U + k] + hr[U + k]) * h[k];
            for (int j = 0; j < U; j++)
                for (int k = 0; k < U; k++) hr[2 * U + j] += rhv[k] * R[k * G + 2 * U + j];
            free(rhv);
        } else {
            for (int j = 0; j < G; j++)
                for (int k = 0; k < U; k++) hr[j] += h[k] * R[k * G + j];
        }
        for (int u = 0; u < U; u++) {
            if (kind == SIMPLE) {
                hn[u] = tanh(xw[u] + hr[u]);
            } else if (kind == LSTM) {
                double i = sig(xw[u] + hr[u]), f = sig(xw[U + u] + hr[U + u]);
                double g = tanh(xw[2 * U + u] + hr[2 * U + u]), o = sig(xw[3 * U + u] + hr[3 * U + u]);
                c[u] = f * c[u] + i * g;
                hn[u] = o * tanh(c[u]);
            } else {
                double z = sig(xw[u] + hr[u]), r = sig(xw[U + u] + hr[U + u]);
                double hh = kind == GRU ? tanh(xw[2 * U + u] + hr[2 * U + u]) : tanh(xw[2 * U + u] + r * hr[2 * U + u]);
                hn[u] = z * h[u] + (1 - z) * hh;
            }
        }
        memcpy(h, hn, sizeof(double) * (size_t)U);
        memcpy(hs + s * U, hn, sizeof(double) * (size_t)U);
    }
    free(xw);
    free(hr);
    free(hn);
}

static const char *kind_cfg(int kind) { return kind == GRU ? ", \"reset_after\": false" : kind == GRU_RA ? ", \"reset_after\": true" : ""; }

/* random weights, biases included (away from their initial zeros) */
static void randomize(mx_model *m, uint64_t seed) {
    for (int i = 0; i < m->n_params; i++) tu_fill(m->params[i]->data, m->params[i]->size, seed + (uint64_t)i, -0.6f, 0.6f);
    mx_model_weights_changed(m);
}

MX_TEST(recurrent_reference) {
    const int T = 5, I = 4, U = 6, B = 3;
    for (int kind = 0; kind < 4; kind++)
        for (int opt = 0; opt < 4; opt++) {
            int seq = opt & 1, back = opt >> 1;
            char cfg[512];
            snprintf(cfg, sizeof cfg,
                     "{\"class_name\": \"%s\", \"config\": {\"units\": %d, \"return_sequences\": %s, \"go_backwards\": %s%s}}",
                     g_class[kind], U, seq ? "true" : "false", back ? "true" : "false", kind_cfg(kind));
            mx_model *m = tu_sequential("5, 4", cfg, 3);
            if (!m) return;
            randomize(m, 10 + (uint64_t)kind);
            float x[B * T * I];
            tu_fill(x, B * T * I, 7, -1, 1);
            const float *y = tu_forward(m, x, B, 0);
            const float *b = m->n_params > 2 ? m->params[2]->data : NULL;
            double worst = 0;
            for (int s = 0; s < B; s++) {
                double hs[T * U], h[U], c[U];
                memset(h, 0, sizeof h);
                memset(c, 0, sizeof c);
                ref_rnn(kind, T, I, U, back, x + s * T * I, m->params[0]->data, m->params[1]->data, b, hs, h, c);
                const double *want = seq ? hs : hs + (T - 1) * U;
                for (int k = 0; k < (seq ? T * U : U); k++)
                    worst = fmax(worst, fabs(y[s * (seq ? T * U : U) + k] - want[k]));
            }
            CHECK_MSG(worst < 1e-5, "%s: differs from the reference by %g", cfg, worst);
            mx_model_free(m);
        }
}

MX_TEST(recurrent_gradcheck) {
    for (int kind = 0; kind < 4; kind++)
        for (int opt = 0; opt < 4; opt++) {
            char cfg[512];
            snprintf(cfg, sizeof cfg,
                     "{\"class_name\": \"%s\", \"config\": {\"units\": 5, \"return_sequences\": %s, \"go_backwards\": %s%s}}",
                     g_class[kind], opt & 1 ? "true" : "false", opt & 2 ? "true" : "false", kind_cfg(kind));
            mx_model *m = tu_sequential("4, 3", cfg, 5);
            if (!m) return;
            randomize(m, 20 + (uint64_t)kind);
            tu_gradcheck(m, 3, 30 + (uint64_t)(kind * 4 + opt), 1e-2, cfg);
            mx_model_free(m);
        }
}

/* relu and hard_sigmoid activations, no bias, stacked layers */
MX_TEST(recurrent_gradcheck_options) {
    const char *cases[] = {
        "{\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 4, \"activation\": \"relu\", \"use_bias\": false}}",
        "{\"class_name\": \"LSTM\", \"config\": {\"units\": 4, \"recurrent_activation\": \"hard_sigmoid\", \"return_sequences\": true}},"
        "{\"class_name\": \"GRU\", \"config\": {\"units\": 3, \"recurrent_activation\": \"hard_sigmoid\", \"reset_after\": false}}",
        "{\"class_name\": \"GRU\", \"config\": {\"units\": 4, \"use_bias\": false, \"return_sequences\": true}},"
        "{\"class_name\": \"LSTM\", \"config\": {\"units\": 3, \"activation\": \"relu\", \"use_bias\": false}}",
        "{\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 4, \"activation\": \"swish\", \"return_sequences\": true}}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mx_model *m = tu_sequential("5, 3", cases[i], 6);
        if (!m) return;
        randomize(m, 40 + i);
        tu_gradcheck(m, 2, 50 + i, 1e-2, cases[i]);
        mx_model_free(m);
    }
}

/* dropout and recurrent_dropout: masks fixed per step and seed, the same
 * for every time step; off in inference */
MX_TEST(recurrent_dropout) {
    for (int kind = 0; kind < 4; kind++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg,
                 "{\"class_name\": \"%s\", \"config\": {\"units\": 5, \"dropout\": 0.3, \"recurrent_dropout\": 0.4, "
                 "\"return_sequences\": true%s}}",
                 g_class[kind], kind_cfg(kind));
        mx_model *m = tu_sequential("4, 3", cfg, 5);
        if (!m) return;
        randomize(m, 60 + (uint64_t)kind);
        tu_gradcheck(m, 3, 70 + (uint64_t)kind, 1e-2, cfg);
        float x[3 * 4 * 3];
        tu_fill(x, 36, 1, -1, 1);
        int64_t n = 3 * m->outputs[0]->size;
        float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
        memcpy(a, tu_forward(m, x, 3, 0), sizeof(float) * (size_t)n);
        memcpy(b, tu_forward(m, x, 3, 1), sizeof(float) * (size_t)n);
        CHECK_MSG(tu_maxdiff(a, b, n) > 1e-3, "%s: dropout changes nothing in training", cfg);
        memcpy(b, tu_forward(m, x, 3, 0), sizeof(float) * (size_t)n);
        CHECK_MSG(tu_maxdiff(a, b, n) == 0, "%s: inference is not deterministic", cfg);
        free(a);
        free(b);
        mx_model_free(m);
    }
}

/* A functional model: LSTM/GRU called with initial states as inputs,
 * returning its states, all joined into the one output. */
static mx_model *state_model(int kind, const char *extra) {
    int lstm = kind == LSTM;
    char json[4096];
    snprintf(json, sizeof json,
             "{\"class_name\": \"Model\", \"config\": {\"name\": \"m\", \"layers\": ["
             "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4, 3]}, \"inbound_nodes\": []},"
             "{\"name\": \"h0\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 5]}, \"inbound_nodes\": []},"
             "%s"
             "{\"name\": \"rnn\", \"class_name\": \"%s\", \"config\": {\"units\": 5, \"return_state\": true%s%s}, "
             " \"inbound_nodes\": [[[\"x\", 0, 0, {}], [\"h0\", 0, 0, {}]%s]]},"
             "{\"name\": \"cat\", \"class_name\": \"Concatenate\", \"config\": {}, "
             " \"inbound_nodes\": [[[\"rnn\", 0, 0, {}], [\"rnn\", 0, 1, {}]%s]]}],"
             "\"input_layers\": [[\"x\", 0, 0], [\"h0\", 0, 0]%s], \"output_layers\": [[\"cat\", 0, 0]]}}",
             lstm ? "{\"name\": \"c0\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 5]}, \"inbound_nodes\": []}," : "",
             g_class[kind], kind_cfg(kind), extra, lstm ? ", [\"c0\", 0, 0, {}]" : "", lstm ? ", [\"rnn\", 0, 2, {}]" : "",
             lstm ? ", [\"c0\", 0, 0]" : "");
    mx_model *m = mx_model_from_json(json, "state_model", 3);
    CHECK_MSG(m != NULL, "%s", mx_error());
    return m;
}

MX_TEST(recurrent_initial_and_return_state) {
    for (int kind = 0; kind < 4; kind++) {
        mx_model *m = state_model(kind, "");
        if (!m) return;
        int lstm = kind == LSTM;
        CHECK(m->n_inputs == (lstm ? 3 : 2));
        CHECK(m->outputs[0]->dims[0] == (lstm ? 15 : 10));
        randomize(m, 80 + (uint64_t)kind);
        tu_gradcheck(m, 2, 90 + (uint64_t)kind, 1e-2, g_class[kind]);
        /* the returned h is the output; the states match the reference from the given initial states */
        const int B = 2, T = 4, I = 3, U = 5;
        float x[B * T * I], h0[B * U], c0[B * U];
        tu_fill(x, B * T * I, 1, -1, 1);
        tu_fill(h0, B * U, 2, -1, 1);
        tu_fill(c0, B * U, 3, -1, 1);
        CHECK(mx_graph_plan(m, B, 0) == 0);
        memcpy(m->inputs[0]->data, x, sizeof x);
        memcpy(m->inputs[1]->data, h0, sizeof h0);
        if (lstm) memcpy(m->inputs[2]->data, c0, sizeof c0);
        mx_exec ex = {B, 0, 1, 0};
        mx_graph_forward(m, &ex);
        const float *y = m->outputs[0]->data, *b = m->n_params > 2 ? m->params[2]->data : NULL;
        double worst = 0;
        for (int s = 0; s < B; s++) {
            double hs[T * U], h[U], c[U];
            for (int k = 0; k < U; k++) h[k] = h0[s * U + k], c[k] = c0[s * U + k];
            ref_rnn(kind, T, I, U, 0, x + s * T * I, m->params[0]->data, m->params[1]->data, b, hs, h, c);
            int w = lstm ? 15 : 10;
            for (int k = 0; k < U; k++) {
                worst = fmax(worst, fabs(y[s * w + k] - h[k]));
                worst = fmax(worst, fabs(y[s * w + U + k] - h[k]));
                if (lstm) worst = fmax(worst, fabs(y[s * w + 2 * U + k] - c[k]));
            }
        }
        CHECK_MSG(worst < 1e-5, "%s with initial states: differs from the reference by %g", g_class[kind], worst);
        mx_model_free(m);
    }
}

/* Stateful: two windows in a row equal the whole sequence; the carried
 * state is a constant for gradients; reset_states starts again. */
MX_TEST(recurrent_stateful) {
    for (int kind = 0; kind < 4; kind++) {
        char full_cfg[512], win_cfg[512];
        snprintf(full_cfg, sizeof full_cfg, "{\"class_name\": \"%s\", \"config\": {\"units\": 4, \"return_sequences\": true%s}}",
                 g_class[kind], kind_cfg(kind));
        snprintf(win_cfg, sizeof win_cfg,
                 "{\"class_name\": \"%s\", \"config\": {\"units\": 4, \"return_sequences\": true, \"stateful\": true%s}}",
                 g_class[kind], kind_cfg(kind));
        mx_model *full = tu_sequential("6, 3", full_cfg, 4);
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                 "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [2, 3, 3]}}, %s]}}",
                 win_cfg);
        mx_model *win = mx_model_from_json(json, "stateful", 4);
        CHECK_MSG(win != NULL, "%s", mx_error());
        if (!full || !win) return;
        randomize(full, 100);
        randomize(win, 100);
        CHECK(mx_model_states_size(win) == (kind == LSTM ? 2 : 1) * 2 * 4);
        float x[2 * 6 * 3], xa[2 * 3 * 3], xb[2 * 3 * 3];
        tu_fill(x, 36, 5, -1, 1);
        for (int s = 0; s < 2; s++) {
            memcpy(xa + s * 9, x + s * 18, sizeof(float) * 9);
            memcpy(xb + s * 9, x + s * 18 + 9, sizeof(float) * 9);
        }
        float want[2 * 6 * 4], got[2 * 6 * 4];
        memcpy(want, tu_forward(full, x, 2, 0), sizeof want);
        for (int w = 0; w < 2; w++) {
            const float *y = tu_forward(win, w ? xb : xa, 2, 0);
            for (int s = 0; s < 2; s++) memcpy(got + s * 24 + w * 12, y + s * 12, sizeof(float) * 12);
        }
        CHECK_MSG(tu_maxdiff(got, want, 48) < 1e-5, "%s: two stateful windows differ from the sequence by %g",
                  g_class[kind], tu_maxdiff(got, want, 48));
        /* gradients with the carried state as a constant */
        tu_gradcheck(win, 2, 110 + (uint64_t)kind, 1e-2, win_cfg);
        /* reset: the first window again */
        mx_model_reset_states(win);
        const float *y = tu_forward(win, xa, 2, 0);
        for (int s = 0; s < 2; s++) CHECK(tu_maxdiff(y + s * 12, want + s * 24, 12) < 1e-5);
        /* a batch larger than the fixed one is refused */
        CHECK(mx_graph_plan(win, 3, 0) != 0 && strstr(mx_error(), "stateful"));
        mx_model_free(full);
        mx_model_free(win);
    }
}

MX_TEST(recurrent_weights_and_init) {
    mx_model *m = tu_sequential("7, 12", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 128}}", 1);
    if (!m) return;
    /* Keras's names, shapes and count: 4 * 128 * (12 + 128 + 1) */
    CHECK(!strcmp(m->params[0]->name, "lstm/kernel") && m->params[0]->dims[0] == 12 && m->params[0]->dims[1] == 512);
    CHECK(!strcmp(m->params[1]->name, "lstm/recurrent_kernel") && m->params[1]->dims[0] == 128);
    CHECK(!strcmp(m->params[2]->name, "lstm/bias") && m->params[2]->dims[0] == 512);
    CHECK(mx_model_param_counts(m).trainable == 72192);
    /* unit_forget_bias: the forget gate's bias is 1, the rest 0 */
    const float *b = m->params[2]->data;
    int ok = 1;
    for (int k = 0; k < 512; k++) ok &= b[k] == (k >= 128 && k < 256 ? 1.0f : 0.0f);
    CHECK(ok);
    /* Orthogonal recurrent kernel (128, 512): orthonormal rows */
    const float *r = m->params[1]->data;
    double worst = 0;
    for (int i = 0; i < 128; i += 7)
        for (int j = 0; j < 128; j += 5) {
            double d = 0;
            for (int k = 0; k < 512; k++) d += (double)r[i * 512 + k] * r[j * 512 + k];
            worst = fmax(worst, fabs(d - (i == j)));
        }
    CHECK_MSG(worst < 1e-5, "recurrent kernel rows are not orthonormal: %g", worst);
    mx_model_free(m);
    /* GRU with reset_after: bias (2, 3U); without: (3U) */
    m = tu_sequential("3, 2", "{\"class_name\": \"GRU\", \"config\": {\"units\": 4}}", 1);
    if (!m) return;
    CHECK(m->params[2]->rank == 2 && m->params[2]->dims[0] == 2 && m->params[2]->dims[1] == 12);
    mx_model_free(m);
    m = tu_sequential("3, 2", "{\"class_name\": \"GRU\", \"config\": {\"units\": 4, \"reset_after\": false, "
                              "\"recurrent_initializer\": {\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 2}}}}", 1);
    if (!m) return;
    CHECK(m->params[2]->rank == 1 && m->params[2]->dims[0] == 12);
    /* gain 2, (4, 12): rows of norm 2 */
    double norm = 0;
    for (int k = 0; k < 12; k++) norm += (double)m->params[1]->data[k] * m->params[1]->data[k];
    CHECK_NEAR(norm, 4.0, 1e-5);
    mx_model_free(m);
}

MX_TEST(recurrent_bad_configs) {
    struct {
        const char *input, *cfg, *msg;
    } cases[] = {
        {"5", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 3}}", "timesteps"},
        {"5, 2", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 0}}", "units"},
        {"5, 2", "{\"class_name\": \"GRU\", \"config\": {\"units\": 3, \"dropout\": 1.0}}", "dropout"},
        {"5, 2", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 3, \"time_major\": true}}", "time_major"},
        {"5, 2", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 3, \"stateful\": true}}", "batch"},
        {"5, 2", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 3, \"recurrent_activation\": \"swish\"}}", "swish"},
        {"5, 2", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 3, \"activation\": \"softmax\"}}", "softmax"},
        {"5, 2", "{\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 3, \"recurrent_activation\": \"sigmoid\"}}", "recurrent_activation"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"t\", \"layers\": ["
                 "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %s]}}, %s]}}",
                 cases[i].input, cases[i].cfg);
        mx_model *m = mx_model_from_json(json, "bad.json", 1);
        CHECK_MSG(m == NULL, "case %zu builds", i);
        CHECK_MSG(m || strstr(mx_error(), cases[i].msg), "case %zu: message lacks '%s': %s", i, cases[i].msg, mx_error());
        mx_model_free(m);
    }
}

/* Truncated backpropagation through time: a stateful LSTM trained with fit
 * on consecutive windows of two long streams (batch 2, no shuffling), the
 * states reset after each epoch. The target of each step is the input of
 * the step before, so the first step of every window needs the state
 * carried over from the previous window. */
static int reset_each_epoch(mx_model *m, const mx_history *h, void *user) {
    (void)h;
    (void)user;
    mx_model_reset_states(m);
    return 0;
}

MX_TEST(recurrent_truncated_bptt) {
    enum { W = 5, WINDOWS = 16, STREAM = W * WINDOWS };
    const char *json = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"tbptt\", \"layers\": ["
                       "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [2, 5, 1]}},"
                       "{\"class_name\": \"LSTM\", \"config\": {\"units\": 12, \"stateful\": true, \"return_sequences\": true}},"
                       "{\"class_name\": \"TimeDistributed\", \"config\": {\"layer\": {\"class_name\": \"Dense\", "
                       "\"config\": {\"units\": 2, \"activation\": \"softmax\"}}}}]}}";
    mx_model *m = mx_model_from_json(json, "tbptt", 3);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    /* sample 2 w + s: window w of stream s, so each batch holds one window of both streams */
    mx_dataset d = {0};
    float x[2 * STREAM];
    int32_t y[2 * STREAM];
    mx_rng r;
    mx_rng_seed(&r, 5);
    float bits[2][STREAM];
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < STREAM; t++) bits[s][t] = (float)mx_rng_below(&r, 2);
    for (int w = 0; w < WINDOWS; w++)
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < W; k++) {
                int t = w * W + k;
                x[(2 * w + s) * W + k] = bits[s][t];
                y[(2 * w + s) * W + k] = t ? (int32_t)bits[s][t - 1] : 0;
            }
    d.n = 2 * WINDOWS;
    d.rank = 2;
    d.shape[0] = W;
    d.shape[1] = 1;
    d.x = x;
    d.y = y;
    d.y_steps = W;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    o.learning_rate = 0.02f;
    CHECK(mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o) == 0);
    mx_fit_options f = mx_fit_defaults();
    f.epochs = 60;
    f.batch_size = 2;
    f.shuffle = 0;
    f.on_epoch_end = reset_each_epoch;
    mx_history h = {0};
    CHECK_MSG(mx_fit(m, &d, &f, &h) == 0, "%s", mx_error());
    /* every step right, the first of each window (after the first) too */
    mx_model_reset_states(m);
    mx_eval_result e;
    CHECK_MSG(mx_evaluate(m, &d, 1, 0, 2, &e) == 0, "%s", mx_error());
    int first = 0, n_first = 0;
    for (int i = 2; i < 2 * WINDOWS; i++, n_first++) first += e.predicted[i * W] == y[i * W];
    CHECK_MSG(e.accuracy > 0.97 && first >= n_first - 1, "accuracy %.3f, first steps %d of %d right", e.accuracy, first,
              n_first);
    CHECK(e.steps == W);
    mx_eval_result_free(&e);
    mx_history_free(&h);
    mx_model_free(m);
}

/* clipnorm and global_clipnorm act on the recurrent weights' gradients */
MX_TEST(recurrent_gradient_clipping) {
    for (int global = 0; global < 2; global++) {
        mx_model *m = tu_sequential("6, 3", "{\"class_name\": \"LSTM\", \"config\": {\"units\": 4}},"
                                            "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}", 2);
        if (!m) return;
        mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
        o.learning_rate = 1;
        if (global)
            o.global_clipnorm = 0.01f;
        else
            o.clipnorm = 0.01f;
        mx_model_compile(m, MX_LOSS_MSE, 0, &o);
        int64_t nw = mx_model_weights_size(m);
        float *w0 = malloc(sizeof(float) * (size_t)nw), *w1 = malloc(sizeof(float) * (size_t)nw);
        mx_model_weights_get(m, w0);
        CHECK(mx_graph_plan(m, 4, 1) == 0);
        tu_fill(m->inputs[0]->data, 4 * 18, 1, -1, 1);
        tu_fill(m->targets, 8, 2, 5, 9); /* far off: large gradients */
        int64_t correct = 0, total = 0;
        mx_train_step(m, 4, 1, &correct, &total);
        mx_model_weights_get(m, w1);
        double all = 0;
        int64_t off = 0;
        for (int i = 0; i < m->n_params; i++) {
            double t = 0;
            for (int64_t k = 0; k < m->params[i]->size; k++, off++) t += (w1[off] - w0[off]) * (double)(w1[off] - w0[off]);
            all += t;
            if (!global) CHECK_MSG(fabs(sqrt(t) - 0.01) < 1e-4, "%s: step of norm %g, clipnorm 0.01", m->params[i]->name, sqrt(t));
        }
        if (global) CHECK_MSG(fabs(sqrt(all) - 0.01) < 1e-4, "step of global norm %g, global_clipnorm 0.01", sqrt(all));
        free(w0);
        free(w1);
        mx_model_free(m);
    }
}

/* Keras 2 (and the TF.js converter) name recurrent weights after the cell:
 * "lstm/lstm_cell/kernel:0", "bi/forward_lstm/lstm_cell/kernel:0"; they load
 * into "lstm/kernel" and "bi/forward_lstm/kernel" as TF.js loads them. */
MX_TEST(recurrent_keras_cell_names) {
    mx_model *m = tu_sequential("4, 3", "{\"class_name\": \"LSTM\", \"config\": {\"name\": \"lstm\", \"units\": 2, \"return_sequences\": true}},"
                                        "{\"class_name\": \"Bidirectional\", \"config\": {\"name\": \"bi\", \"layer\": "
                                        "{\"class_name\": \"GRU\", \"config\": {\"name\": \"gru\", \"units\": 2}}}}", 1);
    if (!m) return;
    randomize(m, 3);
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/keras2", mx_test_tmpdir());
    CHECK(mx_model_save(m, dir) == 0);
    snprintf(path, sizeof path, "%s/model.json", dir);
    size_t len;
    char *text = mx_read_file(path, &len, 1 << 20);
    CHECK(text != NULL);
    if (!text) return;
    /* rename "lstm/x" to "sequential/lstm/lstm_cell/x:0", "bi/forward_gru/x" to "bi/forward_gru/gru_cell/x:0" */
    const char *from[] = {"\"lstm/", "\"bi/forward_gru/", "\"bi/backward_gru/"};
    const char *to[] = {"\"sequential/lstm/lstm_cell/", "\"bi/forward_gru/gru_cell/", "\"bi/backward_gru/gru_cell/"};
    char *out = malloc(len * 2 + 1024), *o = out;
    for (const char *p = text; *p;) {
        int done = 0;
        for (int k = 0; k < 3 && !done; k++)
            if (!strncmp(p, from[k], strlen(from[k]))) {
                o += sprintf(o, "%s", to[k]);
                p += strlen(from[k]);
                while (*p != '"') *o++ = *p++;
                o += sprintf(o, ":0");
                done = 1;
            }
        if (!done) *o++ = *p++;
    }
    *o = 0;
    CHECK(strstr(out, "lstm/lstm_cell/recurrent_kernel:0") && strstr(out, "bi/backward_gru/gru_cell/bias:0"));
    CHECK(mx_write_file(path, out, strlen(out)) == 0);
    mx_model *back = mx_model_load(dir);
    CHECK_MSG(back != NULL, "%s", mx_error());
    if (back) {
        int64_t n = mx_model_weights_size(m);
        float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
        mx_model_weights_get(m, a);
        mx_model_weights_get(back, b);
        CHECK(n == mx_model_weights_size(back) && tu_maxdiff(a, b, n) == 0);
        free(a);
        free(b);
        mx_model_free(back);
    }
    free(out);
    mx_free(text);
    mx_model_free(m);
}
