/* test_train.c: losses, regularizers, initializers and optimizers against
 * their formulas, and the training loop (fit, early stopping, validation
 * split, determinism). */
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- losses ---- */

/* a linear model whose output we set directly */
static mx_model *passthrough(int n, const char *act) {
    char cfg[160];
    snprintf(cfg, sizeof cfg, "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"%s\"}}", act);
    char in[16];
    snprintf(in, sizeof in, "%d", n);
    mx_model *m = tu_sequential(in, cfg, 1);
    if (m) m->grad_inputs = 1; /* no weights: the input (the logits) carries the gradient */
    return m;
}

static double loss_of(mx_model *m, const float *x, int batch) {
    tu_forward(m, x, batch, 1);
    int64_t c = 0, t = 0;
    return mx_loss_step(m, batch, 0, &c, &t);
}

/* analytic gradient of the loss w.r.t. the model input (= the logits, or
 * the probabilities), against central differences */
static void check_loss_grad(mx_model *m, float *x, int batch, const char *what) {
    int64_t n = batch * m->inputs[0]->size;
    mx_value *out = m->outputs[0];
    mx_node *p = out->producer;
    tu_forward(m, x, batch, 1);
    int64_t c = 0, t = 0;
    float *g = malloc(sizeof(float) * (size_t)n);
    mx_loss_step(m, batch, 1, &c, &t);
    /* with the activation fused the loss writes d/dlogits; otherwise d/dy then the softmax backward */
    if (!p->act_by_loss && p->z != out)
        mx_act_backward(p->layer->act, p->z->data, out->data, out->grad, p->z->grad,
                        batch * out->size / out->dims[out->rank - 1], out->dims[out->rank - 1], 0);
    memcpy(g, p->z->grad, sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + 1e-3f;
        double lp = loss_of(m, x, batch);
        x[i] = x0 - 1e-3f;
        double lm = loss_of(m, x, batch);
        x[i] = x0;
        double fd = (lp - lm) / 2e-3;
        CHECK_MSG(fabs(fd - g[i]) < 2e-3 + 1e-2 * fabs(fd), "%s: dL/dx[%lld] = %g, numeric %g", what, (long long)i, g[i], fd);
    }
    free(g);
}

MX_TEST(loss_sparse_ce_fused_softmax) {
    mx_model *m = passthrough(4, "softmax");
    if (!m) return;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    CHECK(mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o) == 0);
    CHECK(m->outputs[0]->producer->act_by_loss); /* fused: the loss reads the logits */
    if (mx_graph_plan(m, 3, 1)) return;
    float x[12] = {1, 2, 3, 4, -1, 0, 0.5f, 2, 30, -30, 0, 1}; /* large logits stay finite */
    m->targets[0] = 3, m->targets[1] = 0, m->targets[2] = 0;
    double loss = loss_of(m, x, 3), want = 0;
    for (int r = 0; r < 3; r++) {
        double mx = -1e30, s = 0;
        for (int i = 0; i < 4; i++) mx = fmax(mx, x[r * 4 + i]);
        for (int i = 0; i < 4; i++) s += exp(x[r * 4 + i] - mx);
        want += log(s) + mx - x[r * 4 + (int)m->targets[r]];
    }
    CHECK_NEAR(loss, want / 3, 1e-5);
    check_loss_grad(m, x, 3, "sparse CE");
    mx_model_free(m);
}

MX_TEST(loss_variants_gradients) {
    struct {
        const char *act;
        mx_loss_kind k;
        int logits;
    } cases[] = {
        {"softmax", MX_LOSS_CATEGORICAL_CE, 0}, {"linear", MX_LOSS_CATEGORICAL_CE, 1},
        {"linear", MX_LOSS_SPARSE_CATEGORICAL_CE, 1}, {"sigmoid", MX_LOSS_BINARY_CE, 0},
        {"linear", MX_LOSS_BINARY_CE, 1}, {"linear", MX_LOSS_MSE, 0}, {"sigmoid", MX_LOSS_CATEGORICAL_CE, 0},
        {"tanh", MX_LOSS_MSE, 0},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        mx_model *m = passthrough(3, cases[t].act);
        if (!m) return;
        mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
        mx_model_compile(m, cases[t].k, cases[t].logits, &o);
        mx_graph_plan(m, 2, 1);
        float x[6];
        tu_fill(x, 6, t, -2, 2);
        if (cases[t].k == MX_LOSS_SPARSE_CATEGORICAL_CE) {
            m->targets[0] = 1, m->targets[1] = 2;
        } else {
            float tg[6] = {0, 1, 0, 1, 0, 0};
            if (cases[t].k == MX_LOSS_MSE) tu_fill(tg, 6, 99, -1, 1);
            memcpy(m->targets, tg, sizeof tg);
        }
        char what[64];
        snprintf(what, sizeof what, "%s + %s%s", cases[t].act, mx_loss_name(cases[t].k), cases[t].logits ? " (logits)" : "");
        check_loss_grad(m, x, 2, what);
        mx_model_free(m);
    }
}

MX_TEST(loss_binary_and_mse_values) {
    mx_model *m = passthrough(2, "sigmoid");
    if (!m) return;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    mx_model_compile(m, MX_LOSS_BINARY_CE, 0, &o);
    mx_graph_plan(m, 1, 1);
    float x[2] = {0.3f, -1.2f};
    m->targets[0] = 1, m->targets[1] = 0;
    double p0 = 1 / (1 + exp(-0.3)), p1 = 1 / (1 + exp(1.2));
    CHECK_NEAR(loss_of(m, x, 1), -(log(p0) + log(1 - p1)) / 2, 1e-6);
    mx_model_free(m);
    m = passthrough(2, "linear");
    if (!m) return;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    mx_graph_plan(m, 2, 1);
    float y[4] = {1, 2, 3, 4};
    float t[4] = {0, 2, 5, 4};
    memcpy(m->targets, t, sizeof t);
    CHECK_NEAR(loss_of(m, y, 2), (1 + 0 + 4 + 0) / 4.0, 1e-6);
    mx_model_free(m);
}

MX_TEST(loss_regularization) {
    mx_model *m = tu_sequential("3", "{\"class_name\": \"Dense\", \"config\": {\"units\": 2, "
                                     "\"kernel_regularizer\": {\"class_name\": \"L1L2\", \"config\": {\"l1\": 0.01, \"l2\": 0.002}}}}", 1);
    if (!m) return;
    mx_param *k = tu_param(m, "dense/kernel");
    CHECK_NEAR(k->reg.l2, 0.002, 1e-9);
    double want = 0;
    for (int i = 0; i < 6; i++) want += 0.01 * fabs(k->data[i]) + 0.002 * k->data[i] * k->data[i];
    mx_graph_plan(m, 1, 1);
    memset(k->grad, 0, sizeof(float) * 6);
    CHECK_NEAR(mx_regularization(m, 1), want, 1e-7);
    for (int i = 0; i < 6; i++) CHECK_NEAR(k->grad[i], 0.01 * ((k->data[i] > 0) - (k->data[i] < 0)) + 0.004 * k->data[i], 1e-7);
    mx_model_free(m);
    /* Keras's string form: "l2" means 0.01 */
    m = tu_sequential("3", "{\"class_name\": \"Dense\", \"config\": {\"units\": 2, \"kernel_regularizer\": \"l2\"}}", 1);
    if (!m) return;
    CHECK_NEAR(tu_param(m, "dense/kernel")->reg.l2, 0.01, 1e-9);
    mx_model_free(m);
}

/* ---- initializers ---- */

static void moments(const float *w, int64_t n, double *mean, double *sd, double *maxabs) {
    double s = 0, s2 = 0;
    *maxabs = 0;
    for (int64_t i = 0; i < n; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
        *maxabs = fmax(*maxabs, fabs(w[i]));
    }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
}

MX_TEST(init_statistics) {
    struct {
        const char *init;
        double sd, bound; /* expected standard deviation; hard bound (0: none) */
    } cases[] = {
        {"\"glorot_uniform\"", sqrt(2.0 / (300 + 200)), sqrt(6.0 / 500)},
        {"\"GlorotNormal\"", sqrt(2.0 / 500), 2 * sqrt(2.0 / 500) / 0.87962566103423978},
        {"\"he_normal\"", sqrt(2.0 / 300), 2 * sqrt(2.0 / 300) / 0.87962566103423978},
        {"\"he_uniform\"", sqrt(2.0 / 300), sqrt(6.0 / 300)},
        {"{\"class_name\": \"VarianceScaling\", \"config\": {\"scale\": 3, \"mode\": \"fan_out\", \"distribution\": \"untruncated_normal\"}}",
         sqrt(3.0 / 200), 0},
        {"{\"class_name\": \"RandomNormal\", \"config\": {\"stddev\": 0.3}}", 0.3, 0},
        {"\"random_uniform\"", 0.1 / sqrt(12), 0.05},
        {"\"zeros\"", 0, 1e-30},
        {"{\"class_name\": \"Constant\", \"config\": {\"value\": 0.5}}", 0, 0.5},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, "{\"class_name\": \"Dense\", \"config\": {\"units\": 200, \"kernel_initializer\": %s}}",
                 cases[t].init);
        mx_model *m = tu_sequential("300", cfg, 7);
        if (!m) return;
        mx_param *k = tu_param(m, "dense/kernel");
        double mean, sd, mx;
        moments(k->data, k->size, &mean, &sd, &mx);
        CHECK_MSG(fabs(sd - cases[t].sd) <= 0.02 * cases[t].sd + 1e-9, "%s: sd %g, want %g", cases[t].init, sd, cases[t].sd);
        if (cases[t].bound > 0) CHECK_MSG(mx <= cases[t].bound * 1.0001, "%s: |w| up to %g > %g", cases[t].init, mx, cases[t].bound);
        if (t < 7) CHECK_MSG(fabs(mean) < 0.05 * cases[t].sd + 1e-3, "%s: mean %g", cases[t].init, mean);
        mx_model_free(m);
    }
    /* the same seed gives the same weights, a different one different weights */
    mx_model *a = tu_sequential("30", "{\"class_name\": \"Dense\", \"config\": {\"units\": 20}}", 5);
    mx_model *b = tu_sequential("30", "{\"class_name\": \"Dense\", \"config\": {\"units\": 20}}", 5);
    mx_model *c = tu_sequential("30", "{\"class_name\": \"Dense\", \"config\": {\"units\": 20}}", 6);
    if (a && b && c) {
        CHECK(tu_maxdiff(a->params[0]->data, b->params[0]->data, 600) == 0);
        CHECK(tu_maxdiff(a->params[0]->data, c->params[0]->data, 600) > 0);
    }
    mx_model_free(a);
    mx_model_free(b);
    mx_model_free(c);
}

/* ---- optimizers: one or two steps by hand ---- */

/* a single weight w with loss 0.5 * (w x)^2 ... simpler: set the gradient directly */
static mx_model *one_weight(float w0) {
    mx_model *m = tu_sequential("1", "{\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"use_bias\": false}}", 1);
    if (m) m->params[0]->data[0] = w0;
    return m;
}

static void step_with_grad(mx_model *m, float g) {
    mx_graph_plan(m, 1, 1);
    m->params[0]->grad[0] = g;
    mx_opt_step(m);
}

MX_TEST(optimizer_steps_by_hand) {
    /* SGD: w -= lr g */
    mx_model *m = one_weight(1);
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    CHECK_NEAR(o.learning_rate, 0.01, 1e-9);
    o.learning_rate = 0.1f;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->data[0], 1 - 0.2, 1e-6);
    mx_model_free(m);
    /* SGD momentum 0.9: v1 = -0.1*2 = -0.2, w1 = 0.8; v2 = 0.9*-0.2 - 0.1*1 = -0.28, w2 = 0.52 */
    m = one_weight(1);
    o.momentum = 0.9f;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    step_with_grad(m, 2);
    step_with_grad(m, 1);
    CHECK_NEAR(m->params[0]->data[0], 0.52, 1e-6);
    mx_model_free(m);
    /* Nesterov: w += momentum v - lr g: w1 = 1 + 0.9*-0.2 - 0.2 = 0.62; v2 = -0.28, w2 = 0.62 + 0.9*-0.28 - 0.1 = 0.268 */
    m = one_weight(1);
    o.nesterov = 1;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->data[0], 0.62, 1e-6);
    step_with_grad(m, 1);
    CHECK_NEAR(m->params[0]->data[0], 0.268, 1e-6);
    mx_model_free(m);
    /* Adam: t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(1-0.999)/(1-0.9) */
    m = one_weight(1);
    o = mx_optimizer_defaults(MX_OPT_ADAM);
    CHECK_NEAR(o.learning_rate, 1e-3, 1e-9);
    CHECK_NEAR(o.epsilon, 1e-7, 1e-12);
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    step_with_grad(m, 0.5f);
    double mm = 0.05, vv = 0.001 * 0.25, alpha = 1e-3 * sqrt(1 - 0.999) / (1 - 0.9);
    double w = 1 - alpha * mm / (sqrt(vv) + 1e-7);
    CHECK_NEAR(m->params[0]->data[0], w, 1e-7);
    step_with_grad(m, -1);
    mm = 0.9 * mm + 0.1 * -1;
    vv = 0.999 * vv + 0.001 * 1;
    alpha = 1e-3 * sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
    w -= alpha * mm / (sqrt(vv) + 1e-7);
    CHECK_NEAR(m->params[0]->data[0], w, 1e-7);
    mx_model_free(m);
    /* RMSprop (Keras 3, TF.js): v = 0.1 g^2, w -= lr g / sqrt(v + eps) */
    m = one_weight(1);
    o = mx_optimizer_defaults(MX_OPT_RMSPROP);
    CHECK_NEAR(o.rho, 0.9, 1e-7);
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->data[0], 1 - 1e-3 * 2 / sqrt(0.4 + 1e-7), 1e-7);
    mx_model_free(m);
    /* a schedule sets the rate of each step: SGD with ExponentialDecay 0.5 per step */
    m = one_weight(1);
    o = mx_optimizer_defaults(MX_OPT_SGD);
    o.learning_rate = 0.1f;
    o.schedule = MX_LR_EXPONENTIAL_DECAY;
    o.decay_steps = 1;
    o.decay_rate = 0.5f;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    step_with_grad(m, 1);
    step_with_grad(m, 1);
    CHECK_NEAR(m->params[0]->data[0], 1 - 0.1 - 0.05, 1e-6);
    mx_model_free(m);
    /* clipnorm: the gradient 10 is scaled to norm 1 */
    m = one_weight(1);
    o = mx_optimizer_defaults(MX_OPT_SGD);
    o.learning_rate = 0.5f;
    o.clipnorm = 1;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    step_with_grad(m, 10);
    CHECK_NEAR(m->params[0]->data[0], 0.5, 1e-6);
    mx_model_free(m);
}

MX_TEST(optimizer_global_clipnorm) {
    mx_model *m = tu_sequential("2", "{\"class_name\": \"Dense\", \"config\": {\"units\": 1}}", 1);
    if (!m) return;
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    o.learning_rate = 1;
    o.global_clipnorm = 1;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    mx_graph_plan(m, 1, 1);
    float w0 = m->params[0]->data[0], w1 = m->params[0]->data[1], b0 = m->params[1]->data[0];
    m->params[0]->grad[0] = 3, m->params[0]->grad[1] = 0, m->params[1]->grad[0] = 4; /* global norm 5 */
    mx_opt_step(m);
    CHECK_NEAR(m->params[0]->data[0], w0 - 0.6, 1e-6);
    CHECK_NEAR(m->params[0]->data[1], w1, 1e-6);
    CHECK_NEAR(m->params[1]->data[0], b0 - 0.8, 1e-6);
    mx_model_free(m);
}

/* clipvalue clips each gradient value after the norm clipping, as Keras */
MX_TEST(optimizer_clipvalue) {
    mx_model *m = tu_sequential("2", "{\"class_name\": \"Dense\", \"config\": {\"units\": 1}}", 1);
    if (!m) return;
    mx_optimizer_config o;
    CHECK(mx_optimizer_parse("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 1, \"clipvalue\": 0.5, "
                             "\"global_clipnorm\": 1}}", &o) == 0);
    CHECK(o.clipvalue == 0.5f);
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    mx_graph_plan(m, 1, 1);
    float w0 = m->params[0]->data[0], w1 = m->params[0]->data[1], b0 = m->params[1]->data[0];
    m->params[0]->grad[0] = 3, m->params[0]->grad[1] = -0.4f, m->params[1]->grad[0] = 4; /* global norm 5.02 */
    mx_opt_step(m);
    double scale = 1 / sqrt(9 + 0.16 + 16);
    CHECK_NEAR(m->params[0]->data[0], w0 - 0.5, 1e-6);          /* 0.598 clipped to 0.5 */
    CHECK_NEAR(m->params[0]->data[1], w1 + 0.4 * scale, 1e-6); /* under the clip */
    CHECK_NEAR(m->params[1]->data[0], b0 - 0.5, 1e-6);
    mx_model_free(m);
    CHECK(mx_optimizer_parse("{\"class_name\": \"Adam\", \"config\": {\"clipvalue\": -1}}", &o) == -1 &&
          strstr(mx_error(), "clipvalue"));
}

MX_TEST(optimizer_config_parsing) {
    mx_optimizer_config o;
    CHECK(mx_optimizer_parse("\"adam\"", &o) == 0 && o.kind == MX_OPT_ADAM && fabsf(o.beta_2 - 0.999f) < 1e-7);
    CHECK(mx_optimizer_parse("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.05, \"momentum\": 0.9, \"nesterov\": true}}", &o) == 0);
    CHECK(o.kind == MX_OPT_SGD && fabsf(o.learning_rate - 0.05f) < 1e-7 && o.nesterov && fabsf(o.momentum - 0.9f) < 1e-7);
    CHECK(mx_optimizer_parse("{\"class_name\": \"RMSprop\", \"config\": {\"lr\": 0.01}}", &o) == 0 && fabsf(o.learning_rate - 0.01f) < 1e-7);
    CHECK(mx_optimizer_parse("\"adagrad\"", &o) == -1 && strstr(mx_error(), "adagrad"));
    CHECK(mx_optimizer_parse("{\"class_name\": \"Adam\", \"config\": {\"amsgrad\": true}}", &o) == -1 && strstr(mx_error(), "amsgrad"));
    CHECK(mx_optimizer_parse("{\"class_name\": \"Adam\", \"config\": {\"betas\": 1}}", &o) == -1 && strstr(mx_error(), "betas"));
    /* learning-rate schedules, by the Keras formulas */
    CHECK(mx_optimizer_parse("{\"class_name\": \"Adam\", \"config\": {\"learning_rate\": {\"class_name\": \"CosineDecay\", "
                             "\"config\": {\"initial_learning_rate\": 0.01, \"decay_steps\": 100, \"alpha\": 0.1}}}}", &o) == 0);
    CHECK(o.schedule == MX_LR_COSINE_DECAY && o.decay_steps == 100);
    CHECK_NEAR(mx_learning_rate(&o, 0), 0.01, 1e-8);
    CHECK_NEAR(mx_learning_rate(&o, 50), 0.01 * (0.9 * 0.5 + 0.1), 1e-8);
    CHECK_NEAR(mx_learning_rate(&o, 500), 0.001, 1e-8);
    CHECK(mx_optimizer_parse("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": {\"class_name\": \"ExponentialDecay\", "
                             "\"config\": {\"initial_learning_rate\": 0.1, \"decay_steps\": 10, \"decay_rate\": 0.5, \"staircase\": true}}}}", &o) == 0);
    CHECK_NEAR(mx_learning_rate(&o, 9), 0.1, 1e-8);
    CHECK_NEAR(mx_learning_rate(&o, 25), 0.025, 1e-8);
    o.staircase = 0;
    CHECK_NEAR(mx_learning_rate(&o, 5), 0.1 * pow(0.5, 0.5), 1e-8);
    CHECK(mx_optimizer_parse("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": {\"class_name\": \"PolynomialDecay\", "
                             "\"config\": {\"decay_steps\": 10}}}}", &o) == -1 && strstr(mx_error(), "PolynomialDecay"));
    mx_loss_kind k;
    int logits;
    CHECK(mx_loss_parse("\"binary_crossentropy\"", &k, &logits) == 0 && k == MX_LOSS_BINARY_CE && !logits);
    CHECK(mx_loss_parse("{\"class_name\": \"SparseCategoricalCrossentropy\", \"config\": {\"from_logits\": true}}", &k, &logits) == 0 &&
          k == MX_LOSS_SPARSE_CATEGORICAL_CE && logits);
    CHECK(mx_loss_parse("\"hinge\"", &k, &logits) == -1 && strstr(mx_error(), "hinge"));
}

/* ---- the update rules of each form (mx_opt_form), by hand ----
 * One weight w0 = 1, gradients given directly, lr 0.1, momentum 0.9. */

static mx_model *compiled_one(mx_optimizer_config o) {
    mx_model *m = one_weight(1);
    if (m) mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    return m;
}

MX_TEST(optimizer_forms_sgd) {
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    o.learning_rate = 0.1f;
    o.momentum = 0.9f;
    /* pytorch: b1 = g1 = 2, w1 = 1 - 0.1*2 = 0.8; b2 = 0.9*2 + 1 = 2.8, w2 = 0.8 - 0.28 = 0.52
     * (the same weights as Keras's v = mu v - lr g under a constant rate; b = -v / lr) */
    o.form = MX_OPT_FORM_PYTORCH;
    mx_model *m = compiled_one(o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->opt_state[0], 2, 1e-6);
    step_with_grad(m, 1);
    CHECK_NEAR(m->params[0]->opt_state[0], 2.8, 1e-6);
    CHECK_NEAR(m->params[0]->data[0], 0.52, 1e-6);
    mx_model_free(m);
    /* pytorch nesterov: w -= lr (g + mu b): b1 = 2, w1 = 1 - 0.1*(2 + 1.8) = 0.62;
     * b2 = 2.8, w2 = 0.62 - 0.1*(1 + 2.52) = 0.268 (again Keras's numbers) */
    o.nesterov = 1;
    m = compiled_one(o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->data[0], 0.62, 1e-6);
    step_with_grad(m, 1);
    CHECK_NEAR(m->params[0]->data[0], 0.268, 1e-6);
    mx_model_free(m);
    /* textbook (Sutskever) plain momentum is Keras's: w2 = 0.52 */
    o.form = MX_OPT_FORM_TEXTBOOK;
    o.nesterov = 0;
    m = compiled_one(o);
    step_with_grad(m, 2);
    step_with_grad(m, 1);
    CHECK_NEAR(m->params[0]->data[0], 0.52, 1e-6);
    mx_model_free(m);
}

/* Textbook Nesterov takes the gradient at w + mu v. On L = 0.5 (w x)^2 with
 * x = 1 (dL/dw = w), lr 0.1, mu 0.9, w0 = 1:
 *   step 1: look-ahead 1 + 0 = 1, g = 1, v1 = -0.1, w1 = 0.9
 *   step 2: look-ahead 0.9 + 0.9*-0.1 = 0.81, g = 0.81, v2 = -0.09 - 0.081 = -0.171, w2 = 0.729
 * Keras's rule on the same problem: v1 = -0.1, w1 = 1 - 0.09 - 0.1 = 0.81;
 *   g = 0.81, v2 = -0.171, w2 = 0.81 - 0.1539 - 0.081 = 0.5751 (it stores the look-ahead). */
MX_TEST(optimizer_textbook_nesterov_lookahead) {
    for (int form = 0; form < 2; form++) {
        mx_model *m = one_weight(1);
        if (!m) return;
        mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
        o.learning_rate = 0.1f;
        o.momentum = 0.9f;
        o.nesterov = 1;
        o.form = form ? MX_OPT_FORM_TEXTBOOK : MX_OPT_FORM_KERAS;
        mx_model_compile(m, MX_LOSS_HALF_SQUARED_ERROR, 0, &o);
        mx_graph_plan(m, 1, 1);
        for (int step = 0; step < 2; step++) {
            m->inputs[0]->data[0] = 1;
            m->targets[0] = 0;
            int64_t c = 0, t = 0;
            mx_train_step(m, 1, 1, &c, &t);
        }
        CHECK_NEAR(m->params[0]->data[0], form ? 0.729 : 0.5751, 1e-6);
        CHECK(!m->opt_lookahead);
        mx_model_free(m);
    }
}

MX_TEST(optimizer_forms_rmsprop_adam) {
    /* RMSprop pytorch form: v = 0.1*4 = 0.4, w = 1 - 0.01*2/(sqrt(0.4) + 1e-3) */
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_RMSPROP);
    o.learning_rate = 0.01f;
    o.epsilon = 1e-3f;
    o.form = MX_OPT_FORM_PYTORCH;
    mx_model *m = compiled_one(o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->data[0], 1 - 0.01 * 2 / (sqrt(0.4) + 1e-3), 1e-7);
    mx_model_free(m);
    /* with momentum 0.5: b1 = 2/(sqrt(0.4)+1e-3), w1 = 1 - 0.01 b1; the Keras
     * form: u1 = 0.01*2/sqrt(0.4 + 1e-3), w1 = 1 - u1 */
    o.momentum = 0.5f;
    m = compiled_one(o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->opt_state[1], 2 / (sqrt(0.4) + 1e-3), 1e-6);
    mx_model_free(m);
    o.form = MX_OPT_FORM_KERAS;
    m = compiled_one(o);
    step_with_grad(m, 2);
    CHECK_NEAR(m->params[0]->data[0], 1 - 0.01 * 2 / sqrt(0.4 + 1e-3), 1e-7);
    mx_model_free(m);
    /* Adam, Kingma & Ba Algorithm 1 with a large eps to tell the forms apart:
     * t = 1, g = 0.5: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25,
     * w = 1 - 0.1 * 0.5 / (0.5 + 0.1) = 0.91666...; Keras: alpha = 0.1 sqrt(0.001)/0.1,
     * w = 1 - alpha * 0.05 / (sqrt(0.00025) + 0.1) */
    o = mx_optimizer_defaults(MX_OPT_ADAM);
    o.learning_rate = 0.1f;
    o.epsilon = 0.1f;
    for (int f = 0; f < 3; f++) {
        o.form = (mx_opt_form)f;
        m = compiled_one(o);
        step_with_grad(m, 0.5f);
        double keras = 1 - 0.1 * sqrt(0.001) / 0.1 * 0.05 / (sqrt(0.00025) + 0.1);
        CHECK_NEAR(m->params[0]->data[0], f == MX_OPT_FORM_KERAS ? keras : 1 - 0.05 / 0.6, 1e-6);
        mx_model_free(m);
    }
}

MX_TEST(optimizer_form_parsing_and_state) {
    mx_optimizer_config o;
    CHECK(mx_optimizer_parse("{\"class_name\": \"SGD\", \"config\": {\"momentum\": 0.9, \"nesterov\": true, \"form\": \"textbook\"}}", &o) == 0);
    CHECK(o.form == MX_OPT_FORM_TEXTBOOK && mx_opt_slots(&o) == 2);
    CHECK(mx_optimizer_parse("{\"class_name\": \"Adam\", \"config\": {\"form\": \"classic\"}}", &o) == -1 &&
          strstr(mx_error(), "form"));
    /* the state file records the form */
    CHECK(mx_optimizer_parse("{\"class_name\": \"Adam\", \"config\": {\"form\": \"textbook\"}}", &o) == 0);
    mx_model *m = compiled_one(o);
    char path[600];
    snprintf(path, sizeof path, "%s/opt.bin", mx_test_tmpdir());
    CHECK(mx_optimizer_state_save(m, path) == 0);
    CHECK(mx_optimizer_state_load(m, path) == 0);
    o.form = MX_OPT_FORM_KERAS;
    mx_model_compile(m, MX_LOSS_MSE, 0, &o);
    CHECK(mx_optimizer_state_load(m, path) == -1 && strstr(mx_error(), "textbook"));
    mx_model_free(m);
}

/* the textbook losses: y = (0.5, 2), t = (0, 1) over one sample of 2 outputs
 *   half_squared_error = 1/2 (0.25 + 1) = 0.625, dL/dy = y - t = (0.5, 1)
 *   sum_squared_error  = 1.25,                   dL/dy = 2 (y - t) = (1, 2)
 *   mean_squared_error = 0.625,                  dL/dy = (y - t) = (0.5, 1)
 * and with two samples the half squared error averages the samples. */
MX_TEST(loss_textbook_squared_errors) {
    mx_model *m = tu_sequential("2", "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"linear\"}}", 1);
    if (!m) return;
    m->grad_inputs = 1; /* no weights: gradients flow only because the input asks for them */
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
    const mx_loss_kind kinds[3] = {MX_LOSS_HALF_SQUARED_ERROR, MX_LOSS_SUM_SQUARED_ERROR, MX_LOSS_MSE};
    const double want[3] = {0.625, 1.25, 0.625}, g0[3] = {0.5, 1, 0.5};
    for (int k = 0; k < 3; k++) {
        mx_model_compile(m, kinds[k], 0, &o);
        mx_graph_plan(m, 2, 1);
        float x[4] = {0.5f, 2, 0.5f, 2}, t[4] = {0, 1, 0, 1};
        memcpy(m->inputs[0]->data, x, sizeof x);
        memcpy(m->targets, t, sizeof t);
        mx_exec ex = {1, 1, 1, 0};
        mx_graph_forward(m, &ex);
        int64_t c = 0, n = 0;
        CHECK_NEAR(mx_loss_step(m, 1, 1, &c, &n), want[k], 1e-6);
        CHECK_NEAR(m->outputs[0]->grad[0], g0[k], 1e-6);
        CHECK_NEAR(m->outputs[0]->grad[1], 2 * g0[k], 1e-6);
        /* two equal samples: the half squared error and MSE stay, the sum doubles */
        ex.batch = 2;
        mx_graph_forward(m, &ex);
        CHECK_NEAR(mx_loss_step(m, 2, 1, &c, &n), want[k] * (k == 1 ? 2 : 1), 1e-6);
    }
    mx_loss_kind kind;
    int logits;
    CHECK(mx_loss_parse("\"half_squared_error\"", &kind, &logits) == 0 && kind == MX_LOSS_HALF_SQUARED_ERROR);
    CHECK(!strcmp(mx_loss_name(MX_LOSS_SUM_SQUARED_ERROR), "sum_squared_error"));
    mx_model_free(m);
}

/* ---- one batch at a time: mx_test_batch (Keras test_on_batch) ---- */

#define TB_HIDDEN "{\"class_name\": \"Dense\", \"config\": {\"name\": \"h\", \"units\": 4, \"activation\": \"tanh\", " \
                  "\"kernel_regularizer\": {\"class_name\": \"L2\", \"config\": {\"l2\": 0.05}}}}, "

/* The loss mx_test_batch gives is the one mx_train_batch reports for the
 * same batch before it updates (regularization included), for each kind
 * of loss; testing changes no weight and repeats exactly; a training plan
 * of the same batch serves it without planning again. */
MX_TEST(test_batch_equals_train_batch_loss) {
    static const struct {
        mx_loss_kind loss;
        int from_logits, units;
        const char *act;
    } cases[] = {
        {MX_LOSS_SPARSE_CATEGORICAL_CE, 0, 3, "softmax"}, {MX_LOSS_CATEGORICAL_CE, 0, 3, "softmax"},
        {MX_LOSS_BINARY_CE, 0, 1, "sigmoid"},             {MX_LOSS_BINARY_CE, 1, 1, "linear"},
        {MX_LOSS_MSE, 0, 2, "linear"},                    {MX_LOSS_HALF_SQUARED_ERROR, 0, 1, "sigmoid"},
    };
    enum { B = 6 };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char layers[512];
        snprintf(layers, sizeof layers, TB_HIDDEN "{\"class_name\": \"Dense\", \"config\": {\"units\": %d, \"activation\": \"%s\"}}",
                 cases[k].units, cases[k].act);
        mx_model *m = tu_sequential("3", layers, 5 + k);
        if (!m) return;
        mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_SGD);
        o.learning_rate = 0.5f;
        CHECK(mx_model_compile(m, cases[k].loss, cases[k].from_logits, &o) == 0);
        float x[B * 3], y[B * 3];
        tu_fill(x, B * 3, 11 + k, -1, 1);
        int sparse = cases[k].loss == MX_LOSS_SPARSE_CATEGORICAL_CE;
        int per = sparse ? 1 : cases[k].units;
        for (int i = 0; i < B * per; i++)
            y[i] = sparse ? (float)(i % 3) : cases[k].loss == MX_LOSS_CATEGORICAL_CE ? (float)(i % 3 == (i / 3) % 3)
                 : cases[k].loss == MX_LOSS_MSE ? x[i] : (float)(i % 2);
        int64_t nw = mx_model_weights_size(m);
        float *w0 = malloc(sizeof(float) * (size_t)nw), *w1 = malloc(sizeof(float) * (size_t)nw);
        mx_model_weights_get(m, w0);
        double lt = NAN, l0 = NAN, l1 = NAN, lt2 = NAN;
        int64_t c0 = -1, c1 = -1;
        CHECK_MSG(mx_test_batch(m, x, y, B, &l0, &c0) == 0, "%s", mx_error());
        CHECK(mx_test_batch(m, x, y, B, &l1, &c1) == 0);
        mx_model_weights_get(m, w1);
        CHECK_MSG(l0 == l1 && c0 == c1 && tu_maxdiff(w0, w1, nw) == 0, "case %zu: testing changed something", k);
        CHECK_MSG(c0 >= 0 && c0 <= B * per, "case %zu: %lld right", k, (long long)c0);
        CHECK(mx_train_batch(m, x, y, B, &lt) == 0);
        CHECK_MSG(fabs(l0 - lt) <= 1e-6 * fmax(1, fabs(lt)), "case %zu (%s%s): test %.9g, train %.9g", k,
                  mx_loss_name(cases[k].loss), cases[k].from_logits ? ", logits" : "", l0, lt);
        CHECK(isfinite(l0) && l0 > 0);
        /* the training plan serves testing: no new plan (no allocation) */
        const float *plan = m->plan_mem;
        CHECK(mx_test_batch(m, x, y, B, &l1, NULL) == 0 && mx_test_batch(m, x, y, 2, NULL, &c1) == 0);
        CHECK(m->plan_mem == plan);
        /* the next training step reports the loss testing saw after the update */
        CHECK(mx_train_batch(m, x, y, B, &lt2) == 0);
        CHECK_MSG(fabs(l1 - lt2) <= 1e-6 * fmax(1, fabs(lt2)) && l1 != l0, "case %zu: after a step test %.9g, train %.9g", k,
                  l1, lt2);
        free(w0);
        free(w1);
        mx_model_free(m);
    }
}

/* Right predictions by hand: argmax of an identity layer, a sigmoid unit
 * above 0.5 (and its logit above 0); the loss against its formula; dropout
 * is off. */
MX_TEST(test_batch_counts_correct) {
    mx_model *m = tu_sequential("3", "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, "
                                     "\"activation\": \"softmax\", \"bias_initializer\": \"zeros\"}}", 1);
    mx_param *k = m ? tu_param(m, "d/kernel") : NULL;
    if (!k) return;
    for (int i = 0; i < 9; i++) k->data[i] = i % 4 == 0; /* identity */
    mx_optimizer_config o = mx_optimizer_defaults(MX_OPT_ADAM);
    CHECK(mx_model_compile(m, MX_LOSS_SPARSE_CATEGORICAL_CE, 0, &o) == 0);
    float x[5 * 3] = {3, 0, 0, 0, 2, 1, 0, 1, 2, 1, 0, 0, 0, 0, 5};
    float y[5] = {0, 1, 1, 0, 1}; /* argmax 0, 1, 2, 0, 2: three right */
    double loss = 0, want = 0;
    int64_t right = -1;
    CHECK_MSG(mx_test_batch(m, x, y, 5, &loss, &right) == 0, "%s", mx_error());
    CHECK_MSG(right == 3, "%lld right, expected 3", (long long)right);
    for (int i = 0; i < 5; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += exp(x[i * 3 + j]);
        want -= log(exp(x[i * 3 + (int)y[i]]) / s) / 5;
    }
    CHECK_NEAR(loss, want, 1e-6);
    float bad[5] = {0, 1, 3, 0, 1};
    CHECK(mx_test_batch(m, x, bad, 5, &loss, &right) == -1 && strstr(mx_error(), "test batch: target 2 is 3, not a class index in 0..2"));
    CHECK(mx_test_batch(m, x, y, 0, &loss, &right) == -1 && strstr(mx_error(), "batch size must be positive"));
    mx_model_free(m);

    /* one sigmoid unit, p = sigmoid(x), with a dropout that testing switches off */
    for (int logits = 0; logits < 2; logits++) {
        m = tu_sequential("1", logits ? "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.9}}, "
                                        "{\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"kernel_initializer\": \"ones\"}}"
                                      : "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 0.9}}, "
                                        "{\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"activation\": \"sigmoid\", "
                                        "\"kernel_initializer\": \"ones\"}}",
                           2);
        if (!m) return;
        CHECK(mx_test_batch(m, x, y, 1, &loss, &right) == -1 && strstr(mx_error(), "test batch: the model has no loss (compile it first)"));
        CHECK(mx_model_compile(m, MX_LOSS_BINARY_CE, logits, &o) == 0);
        float xb[4] = {-2, -1, 0.5f, 3}, yb[4] = {0, 1, 1, 0}; /* predicted 0, 0, 1, 1: two right */
        want = 0;
        for (int i = 0; i < 4; i++) {
            double p = 1 / (1 + exp(-xb[i]));
            want -= (yb[i] * log(p) + (1 - yb[i]) * log(1 - p)) / 4;
        }
        CHECK_MSG(mx_test_batch(m, xb, yb, 4, &loss, &right) == 0, "%s", mx_error());
        CHECK_MSG(right == 2, "%s: %lld right, expected 2", logits ? "logits" : "sigmoid", (long long)right);
        CHECK_NEAR(loss, want, 1e-6);
        mx_model_free(m);
    }
}
