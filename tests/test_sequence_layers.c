/* test_sequence_layers.c: the layers around recurrent ones: Embedding,
 * RepeatVector, TimeDistributed and Bidirectional, against direct
 * references, with gradient checks of every option. */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void randomize(mx_model *m, uint64_t seed) {
    for (int i = 0; i < m->n_params; i++) tu_fill(m->params[i]->data, m->params[i]->size, seed + (uint64_t)i, -0.6f, 0.6f);
    mx_model_weights_changed(m);
}

/* ---- Embedding ---- */

MX_TEST(embedding_lookup) {
    mx_model *m = tu_sequential("4", "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 10, \"output_dim\": 3}}", 1);
    if (!m) return;
    CHECK(!strcmp(m->params[0]->name, "embedding/embeddings") && m->params[0]->dims[0] == 10 && m->params[0]->dims[1] == 3);
    CHECK(m->outputs[0]->rank == 2 && m->outputs[0]->dims[0] == 4 && m->outputs[0]->dims[1] == 3);
    /* RandomUniform(-0.05, 0.05) */
    float lo = 1, hi = -1;
    for (int i = 0; i < 30; i++) lo = fminf(lo, m->params[0]->data[i]), hi = fmaxf(hi, m->params[0]->data[i]);
    CHECK(lo >= -0.05f && hi <= 0.05f && hi - lo > 0.03f);
    randomize(m, 1);
    float x[8] = {0, 9, 3, 3, 7.6f, 2, 0.2f, 5}; /* indices are truncated, as Keras casts them */
    const float *y = tu_forward(m, x, 2, 0);
    const float *t = m->params[0]->data;
    int rows[8] = {0, 9, 3, 3, 7, 2, 0, 5}, ok = 1;
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 3; k++) ok &= y[i * 3 + k] == t[rows[i] * 3 + k];
    CHECK(ok);
    /* gradient of the table: rows summed where indices repeat (indices mid-integer so steps keep them) */
    float xi[8] = {0.5f, 9.5f, 3.5f, 3.5f, 7.5f, 2.5f, 0.5f, 5.5f};
    mx_gradcheck_result r;
    CHECK(mx_gradcheck(m, xi, 2, 3, 30, 1e-3, &r) == 0);
    CHECK_MSG(r.max_err < 1e-2 && r.checked > 0, "embedding: %g at %s", r.max_err, r.worst);
    /* an index out of range fails the step, naming it */
    float bad[8] = {0, 1, 2, 10, 0, 1, 2, 3};
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    CHECK(mx_model_compile(m, MX_LOSS_MSE, 0, &o) == 0);
    int64_t xs[2] = {2, 4}, ys[3] = {2, 4, 3};
    mx_tensor *xt = mx_tensor_new(2, xs), *yt = mx_tensor_new(3, ys);
    memcpy(xt->data, bad, sizeof bad);
    CHECK(mx_predict(m, xt, yt, 2) != 0);
    CHECK_MSG(strstr(mx_error(), "index 10") && strstr(mx_error(), "embedding") && strstr(mx_error(), "[0, 10)"), "%s",
              mx_error());
    mx_tensor_free(xt);
    mx_tensor_free(yt);
    mx_model_free(m);
}

MX_TEST(embedding_options) {
    mx_model *m = tu_sequential_try("5", "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 4, \"output_dim\": 2, "
                                     "\"mask_zero\": true}}", 1);
    CHECK(m == NULL && strstr(mx_error(), "mask_zero"));
    mx_model_free(m);
    m = tu_sequential("5", "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 4, \"output_dim\": 2, "
                           "\"input_length\": 5, \"mask_zero\": null}}", 1);
    CHECK(m != NULL);
    mx_model_free(m);
    const char *json = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"t\", \"layers\": [{\"class_name\": \"InputLayer\", "
                       "\"config\": {\"batch_input_shape\": [null, 5]}}, {\"class_name\": \"Embedding\", \"config\": "
                       "{\"input_dim\": 4, \"output_dim\": 2, \"input_length\": 6}}]}}";
    m = mx_model_from_json(json, "t", 1);
    CHECK(m == NULL && strstr(mx_error(), "input_length"));
    mx_model_free(m);
    /* Embedding then LSTM: the character model's shape, trained end to end */
    m = tu_sequential("6", "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 7, \"output_dim\": 4}},"
                           "{\"class_name\": \"LSTM\", \"config\": {\"units\": 5, \"return_sequences\": true}},"
                           "{\"class_name\": \"Dense\", \"config\": {\"units\": 7}}", 2);
    if (!m) return;
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)(i * 5 % 7) + 0.5f;
    mx_gradcheck_result r;
    CHECK(mx_gradcheck(m, x, 2, 4, 24, 1e-3, &r) == 0);
    CHECK_MSG(r.max_err < 1e-2, "embedding + lstm: %g at %s", r.max_err, r.worst);
    mx_model_free(m);
}

/* ---- RepeatVector ---- */

MX_TEST(repeat_vector) {
    mx_model *m = tu_sequential("3", "{\"class_name\": \"RepeatVector\", \"config\": {\"n\": 4}}", 1);
    if (!m) return;
    CHECK(m->outputs[0]->rank == 2 && m->outputs[0]->dims[0] == 4 && m->outputs[0]->dims[1] == 3);
    float x[6] = {1, 2, 3, 4, 5, 6};
    const float *y = tu_forward(m, x, 2, 0);
    int ok = 1;
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 3; i++) ok &= y[(b * 4 + k) * 3 + i] == x[b * 3 + i];
    CHECK(ok);
    tu_gradcheck(m, 2, 1, 1e-2, "repeat_vector");
    mx_model_free(m);
    m = tu_sequential_try("3, 2", "{\"class_name\": \"RepeatVector\", \"config\": {\"n\": 4}}", 1);
    CHECK(m == NULL && strstr(mx_error(), "rank"));
    mx_model_free(m);
}

/* ---- TimeDistributed ---- */

/* TimeDistributed(layer) on (T, ...) against the layer on each step */
static void td_against(const char *input, const char *step_input, const char *layer, int T, const char *what) {
    char td[1024];
    snprintf(td, sizeof td, "{\"class_name\": \"TimeDistributed\", \"config\": {\"layer\": %s}}", layer);
    mx_model *m = tu_sequential(input, td, 3), *ref = tu_sequential(step_input, layer, 3);
    if (!m || !ref) {
        mx_model_free(m);
        mx_model_free(ref);
        return;
    }
    CHECK_MSG(m->n_params == ref->n_params, "%s: %d weights, the layer alone %d", what, m->n_params, ref->n_params);
    randomize(m, 5);
    for (int i = 0; i < m->n_params && i < ref->n_params; i++)
        memcpy(ref->params[i]->data, m->params[i]->data, sizeof(float) * (size_t)m->params[i]->size);
    mx_model_weights_changed(ref);
    const int B = 2;
    int64_t n = B * m->inputs[0]->size, ny = B * m->outputs[0]->size;
    float *x = malloc(sizeof(float) * (size_t)n), *want = malloc(sizeof(float) * (size_t)ny);
    tu_fill(x, n, 9, -1, 1);
    /* the reference sees B * T samples of one step each */
    memcpy(want, tu_forward(ref, x, B * T, 0), sizeof(float) * (size_t)ny);
    const float *y = tu_forward(m, x, B, 0);
    CHECK_MSG(tu_maxdiff(y, want, ny) < 1e-5, "%s: differs from the layer on each step by %g", what, tu_maxdiff(y, want, ny));
    tu_gradcheck(m, B, 11, 1e-2, what);
    free(x);
    free(want);
    mx_model_free(m);
    mx_model_free(ref);
}

MX_TEST(time_distributed) {
    td_against("3, 5", "5", "{\"class_name\": \"Dense\", \"config\": {\"units\": 4, \"activation\": \"tanh\"}}", 3, "td dense tanh");
    td_against("3, 5", "5", "{\"class_name\": \"Dense\", \"config\": {\"units\": 4, \"activation\": \"softmax\", \"name\": \"d\"}}", 3,
               "td dense softmax");
    td_against("2, 5, 5, 2", "5, 5, 2",
               "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\", \"strides\": 2}}",
               2, "td conv2d");
    td_against("4, 3, 2", "3, 2", "{\"class_name\": \"Flatten\", \"config\": {}}", 4, "td flatten");
    mx_model *m = tu_sequential("3, 5", "{\"class_name\": \"TimeDistributed\", \"config\": {\"name\": \"td\", \"layer\": "
                                        "{\"class_name\": \"Dense\", \"config\": {\"units\": 4, \"name\": \"inner\"}}}}", 1);
    if (!m) return;
    /* TF.js names the weights after the wrapper */
    CHECK(m->n_params == 2 && !strcmp(m->params[0]->name, "td/kernel") && !strcmp(m->params[1]->name, "td/bias"));
    CHECK(mx_model_param_counts(m).trainable == 24);
    /* the config goes back with its inner layer */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/td", mx_test_tmpdir());
    CHECK(mx_model_save(m, dir) == 0);
    mx_model *back = mx_model_load(dir);
    CHECK_MSG(back != NULL, "%s", mx_error());
    if (back) {
        CHECK(back->n_params == 2 && !strcmp(back->params[0]->name, "td/kernel"));
        CHECK(tu_maxdiff(back->params[0]->data, m->params[0]->data, 20) == 0);
    }
    mx_model_free(back);
    mx_model_free(m);
    m = tu_sequential_try("3", "{\"class_name\": \"TimeDistributed\", \"config\": {\"layer\": {\"class_name\": \"Dense\", "
                           "\"config\": {\"units\": 2}}}}", 1);
    CHECK(m == NULL && strstr(mx_error(), "timesteps"));
    mx_model_free(m);
    m = tu_sequential_try("3, 2", "{\"class_name\": \"TimeDistributed\", \"config\": {\"layer\": {\"class_name\": \"Nope\", "
                              "\"config\": {}}}}", 1);
    CHECK(m == NULL && strstr(mx_error(), "Nope"));
    mx_model_free(m);
}

/* ---- Bidirectional ---- */

static const char *const g_modes[] = {"concat", "sum", "mul", "ave", "null"};

/* Bidirectional against its two halves built as plain layers with the same weights */
static void bidi_against(const char *cls, const char *opts, int mode, int seq) {
    char inner[512], bidi[1024], fw[600], bw[600], what[700];
    snprintf(inner, sizeof inner, "{\"class_name\": \"%s\", \"config\": {\"units\": 3, \"return_sequences\": %s%s}}", cls,
             seq ? "true" : "false", opts);
    snprintf(bidi, sizeof bidi, "{\"class_name\": \"Bidirectional\", \"config\": {\"merge_mode\": %s%s%s, \"layer\": %s}}",
             mode == 4 ? "" : "\"", g_modes[mode], mode == 4 ? "" : "\"", inner);
    snprintf(fw, sizeof fw, "{\"class_name\": \"%s\", \"config\": {\"units\": 3, \"return_sequences\": %s%s}}", cls,
             seq ? "true" : "false", opts);
    snprintf(bw, sizeof bw, "{\"class_name\": \"%s\", \"config\": {\"units\": 3, \"go_backwards\": true, \"return_sequences\": %s%s}}",
             cls, seq ? "true" : "false", opts);
    snprintf(what, sizeof what, "%s merge %s%s", cls, g_modes[mode], seq ? " sequences" : "");
    mx_model *m = tu_sequential("4, 2", bidi, 2), *f = tu_sequential("4, 2", fw, 2), *b = tu_sequential("4, 2", bw, 2);
    if (!m || !f || !b) goto done;
    int np = f->n_params;
    CHECK_MSG(m->n_params == 2 * np, "%s: %d weights", what, m->n_params);
    randomize(m, 7);
    for (int i = 0; i < np; i++) {
        memcpy(f->params[i]->data, m->params[i]->data, sizeof(float) * (size_t)f->params[i]->size);
        memcpy(b->params[i]->data, m->params[np + i]->data, sizeof(float) * (size_t)b->params[i]->size);
    }
    const int B = 2, T = 4, U = 3, W = seq ? T * U : U;
    float x[2 * 4 * 2], yf[2 * 12], yb[2 * 12];
    tu_fill(x, 16, 3, -1, 1);
    memcpy(yf, tu_forward(f, x, B, 0), sizeof(float) * (size_t)(B * W));
    memcpy(yb, tu_forward(b, x, B, 0), sizeof(float) * (size_t)(B * W));
    const float *y = tu_forward(m, x, B, 0), *y2 = mode == 4 ? m->nodes[m->n_nodes - 1]->out[1]->data : NULL;
    double worst = 0;
    for (int s = 0; s < B; s++)
        for (int t = 0; t < (seq ? T : 1); t++)
            for (int u = 0; u < U; u++) {
                float a = yf[s * W + t * U + u], c = yb[s * W + (seq ? T - 1 - t : 0) * U + u], want = 0, got;
                if (mode == 0) {
                    worst = fmax(worst, fabs(y[(s * (seq ? T : 1) + t) * 2 * U + u] - a));
                    want = c;
                    got = y[(s * (seq ? T : 1) + t) * 2 * U + U + u];
                } else if (mode == 4) {
                    worst = fmax(worst, fabs(y[s * W + t * U + u] - a));
                    want = c;
                    got = y2[s * W + t * U + u];
                } else {
                    want = mode == 1 ? a + c : mode == 2 ? a * c : 0.5f * (a + c);
                    got = y[s * W + t * U + u];
                }
                worst = fmax(worst, fabs(got - want));
            }
    CHECK_MSG(worst < 1e-5, "%s: differs from its halves by %g", what, worst);
    if (mode != 4) tu_gradcheck(m, B, 13, 1e-2, what); /* two outputs: below */
done:
    mx_model_free(m);
    mx_model_free(f);
    mx_model_free(b);
}

MX_TEST(bidirectional_merge_modes) {
    for (int mode = 0; mode < 5; mode++)
        for (int seq = 0; seq < 2; seq++) bidi_against("LSTM", "", mode, seq);
    bidi_against("GRU", ", \"reset_after\": false", 0, 1);
    bidi_against("GRU", "", 1, 0);
    bidi_against("SimpleRNN", ", \"dropout\": 0.2", 3, 1);
}

MX_TEST(bidirectional_weights_and_states) {
    const char *json =
        "{\"class_name\": \"Model\", \"config\": {\"name\": \"m\", \"layers\": ["
        "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4, 2]}, \"inbound_nodes\": []},"
        "{\"name\": \"bi\", \"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"LSTM\", "
        "\"config\": {\"name\": \"enc\", \"units\": 3, \"return_state\": true}}}, \"inbound_nodes\": [[[\"x\", 0, 0, {}]]]},"
        "{\"name\": \"cat\", \"class_name\": \"Concatenate\", \"config\": {}, \"inbound_nodes\": [[[\"bi\", 0, 0, {}], "
        "[\"bi\", 0, 1, {}], [\"bi\", 0, 2, {}], [\"bi\", 0, 3, {}], [\"bi\", 0, 4, {}]]]}],"
        "\"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"cat\", 0, 0]]}}";
    mx_model *m = mx_model_from_json(json, "bidi", 4);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    const char *names[] = {"bi/forward_enc/kernel", "bi/forward_enc/recurrent_kernel", "bi/forward_enc/bias",
                           "bi/backward_enc/kernel", "bi/backward_enc/recurrent_kernel", "bi/backward_enc/bias"};
    CHECK(m->n_params == 6);
    for (int i = 0; i < 6 && i < m->n_params; i++) CHECK_MSG(!strcmp(m->params[i]->name, names[i]), "%s", m->params[i]->name);
    CHECK(m->outputs[0]->dims[0] == 6 + 12);
    /* the merged output's halves are the states h of each direction */
    randomize(m, 3);
    float x[16];
    tu_fill(x, 16, 2, -1, 1);
    const float *y = tu_forward(m, x, 2, 0);
    for (int s = 0; s < 2; s++) {
        CHECK(tu_maxdiff(y + s * 18, y + s * 18 + 6, 3) == 0);      /* forward h */
        CHECK(tu_maxdiff(y + s * 18 + 3, y + s * 18 + 12, 3) == 0); /* backward h */
    }
    tu_gradcheck(m, 2, 5, 1e-2, "bidirectional return_state");
    /* saved and loaded: the same weights by name, the inner layer's config once */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/bidi", mx_test_tmpdir());
    CHECK(mx_model_save(m, dir) == 0);
    mx_model *back = mx_model_load(dir);
    CHECK_MSG(back != NULL, "%s", mx_error());
    if (back) {
        CHECK(tu_maxdiff(tu_forward(back, x, 2, 0), tu_forward(m, x, 2, 0), 36) == 0);
        mx_model_free(back);
    }
    mx_model_free(m);
    /* merge_mode null: the two directions as two outputs, both checked */
    const char *json2 =
        "{\"class_name\": \"Model\", \"config\": {\"name\": \"m\", \"layers\": ["
        "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4, 2]}, \"inbound_nodes\": []},"
        "{\"name\": \"bi\", \"class_name\": \"Bidirectional\", \"config\": {\"merge_mode\": null, \"layer\": {\"class_name\": "
        "\"GRU\", \"config\": {\"units\": 3, \"return_sequences\": true}}}, \"inbound_nodes\": [[[\"x\", 0, 0, {}]]]},"
        "{\"name\": \"cat\", \"class_name\": \"Concatenate\", \"config\": {}, \"inbound_nodes\": [[[\"bi\", 0, 0, {}], "
        "[\"bi\", 0, 1, {}]]]}], \"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"cat\", 0, 0]]}}";
    m = mx_model_from_json(json2, "bidi_null", 4);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (m) {
        randomize(m, 8);
        tu_gradcheck(m, 2, 9, 1e-2, "bidirectional merge_mode null");
        mx_model_free(m);
    }
    m = tu_sequential_try("4, 2", "{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"Dense\", "
                              "\"config\": {\"units\": 2}}}}", 1);
    CHECK(m == NULL && strstr(mx_error(), "recurrent"));
    mx_model_free(m);
}

/* a stateful Bidirectional keeps both directions' states */
MX_TEST(bidirectional_stateful) {
    const char *json = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                       "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [2, 3, 2]}},"
                       "{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"GRU\", "
                       "\"config\": {\"units\": 3, \"stateful\": true}}}}]}}";
    mx_model *m = mx_model_from_json(json, "s", 1);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    CHECK(mx_model_states_size(m) == 2 * 2 * 3);
    randomize(m, 4);
    float x[12];
    tu_fill(x, 12, 1, -1, 1);
    float a[12], b[12];
    memcpy(a, tu_forward(m, x, 2, 0), sizeof a);
    memcpy(b, tu_forward(m, x, 2, 0), sizeof b);
    CHECK(tu_maxdiff(a, b, 12) > 1e-4); /* the second batch starts from the first's states */
    mx_model_reset_states(m);
    CHECK(tu_maxdiff(tu_forward(m, x, 2, 0), a, 12) == 0);
    tu_gradcheck(m, 2, 6, 1e-2, "bidirectional stateful");
    mx_model_free(m);
}

/* initial states of both directions as inputs: the forward layer's, then the
 * backward's (one input used twice: its gradients add up; one unused) */
MX_TEST(bidirectional_initial_states) {
    const char *json =
        "{\"class_name\": \"Model\", \"config\": {\"name\": \"m\", \"layers\": ["
        "{\"name\": \"x\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4, 2]}, \"inbound_nodes\": []},"
        "{\"name\": \"hf\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}, \"inbound_nodes\": []},"
        "{\"name\": \"cf\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}, \"inbound_nodes\": []},"
        "{\"name\": \"hb\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}, \"inbound_nodes\": []},"
        "{\"name\": \"cb\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3]}, \"inbound_nodes\": []},"
        "{\"name\": \"bi\", \"class_name\": \"Bidirectional\", \"config\": {\"merge_mode\": \"mul\", \"layer\": {\"class_name\": \"LSTM\", "
        "\"config\": {\"units\": 3, \"return_sequences\": true}}}, \"inbound_nodes\": [[[\"x\", 0, 0, {}], [\"hf\", 0, 0, {}], "
        "[\"cf\", 0, 0, {}], [\"hb\", 0, 0, {}], [\"hf\", 0, 0, {}]]]}],"
        "\"input_layers\": [[\"x\", 0, 0], [\"hf\", 0, 0], [\"cf\", 0, 0], [\"hb\", 0, 0], [\"cb\", 0, 0]], "
        "\"output_layers\": [[\"bi\", 0, 0]]}}";
    mx_model *m = mx_model_from_json(json, "bidi_states", 4);
    CHECK_MSG(m != NULL, "%s", mx_error());
    if (!m) return;
    randomize(m, 12);
    tu_gradcheck(m, 2, 14, 1e-2, "bidirectional initial states (hf used twice)");
    mx_model_free(m);
}

/* TimeDistributed around TimeDistributed: allowed a few deep, refused deeper */
MX_TEST(time_distributed_nested) {
    char layer[4096] = "{\"class_name\": \"Dense\", \"config\": {\"units\": 2}}";
    for (int depth = 1; depth <= 12; depth++) {
        char wrapped[4096];
        snprintf(wrapped, sizeof wrapped, "{\"class_name\": \"TimeDistributed\", \"config\": {\"layer\": %s}}", layer);
        memcpy(layer, wrapped, sizeof layer);
        if (depth != 2 && depth != 12) continue;
        mx_model *m = tu_sequential_try(depth == 2 ? "3, 2, 2" : "3, 2", layer, 1); /* the config is read first */
        if (depth == 2) {
            CHECK_MSG(m != NULL, "%s", mx_error());
            if (m) tu_gradcheck(m, 2, 1, 1e-2, "td(td(dense))");
        } else {
            CHECK(m == NULL && strstr(mx_error(), "8 deep"));
        }
        mx_model_free(m);
    }
}

/* frozen wrappers and frozen layers inside them count as non-trainable */
MX_TEST(wrappers_frozen) {
    mx_model *m = tu_sequential("3, 4", "{\"class_name\": \"TimeDistributed\", \"config\": {\"layer\": {\"class_name\": \"Dense\", "
                                        "\"config\": {\"units\": 2, \"trainable\": false}}}},"
                                        "{\"class_name\": \"Bidirectional\", \"config\": {\"trainable\": false, \"layer\": "
                                        "{\"class_name\": \"GRU\", \"config\": {\"units\": 2}}}},"
                                        "{\"class_name\": \"Dense\", \"config\": {\"units\": 1}}", 1);
    if (!m) return;
    mx_param_counts c = mx_model_param_counts(m);
    CHECK_MSG(c.trainable == 5 && c.non_trainable == 10 + 2 * 3 * 2 * (2 + 2 + 2), "%lld + %lld", (long long)c.trainable,
              (long long)c.non_trainable);
    tu_gradcheck(m, 2, 3, 1e-2, "frozen wrappers");
    mx_model_free(m);
}
