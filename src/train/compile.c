/* compile.c: attaching a loss and an optimizer to a model (Keras
 * model.compile), parsing their Keras configs, and the training step. */
#include "io/config.h"
#include "io/model_io.h"
#include "train/train.h"

#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- parsing ---- */

static json_t *load_any(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j) j = json_string(text); /* a bare name such as adam */
    return j;
}

static int opt_key(json_t *cfg, const char *key, float *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return mx_fail("optimizer '%s' must be a number", key);
    *out = (float)json_number_value(v);
    return 0;
}

/* Keras LearningRateSchedule configs */
static int schedule_parse(json_t *j, mx_optimizer_config *o) {
    const char *cls = json_string_value(json_object_get(j, "class_name"));
    json_t *cfg = json_object_get(j, "config");
    if (!cls || !json_is_object(cfg)) return mx_fail("a schedule needs class_name and config");
    if (!strcmp(cls, "ExponentialDecay"))
        o->schedule = MX_LR_EXPONENTIAL_DECAY;
    else if (!strcmp(cls, "CosineDecay"))
        o->schedule = MX_LR_COSINE_DECAY;
    else
        return mx_fail("schedule '%s' is not supported (ExponentialDecay, CosineDecay)", cls);
    const char *key;
    json_t *v;
    json_object_foreach(cfg, key, v) {
        static const char *const known[] = {"initial_learning_rate", "decay_steps", "decay_rate", "staircase",
                                            "alpha", "name", "warmup_target", "warmup_steps", NULL};
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strcmp(known[i], key);
        if (!ok) return mx_fail("%s: unknown config key '%s'", cls, key);
        if ((!strcmp(key, "warmup_target") && !json_is_null(v)) ||
            (!strcmp(key, "warmup_steps") && json_is_number(v) && json_number_value(v) != 0))
            return mx_fail("%s: warmup is not supported", cls);
    }
    json_t *steps = json_object_get(cfg, "decay_steps");
    if (!json_is_number(steps) || json_number_value(steps) < 1) return mx_fail("%s: decay_steps must be a positive number", cls);
    o->decay_steps = (int64_t)json_number_value(steps);
    o->decay_rate = 1;
    o->staircase = json_is_true(json_object_get(cfg, "staircase"));
    if (opt_key(cfg, "initial_learning_rate", &o->learning_rate) || opt_key(cfg, "decay_rate", &o->decay_rate) ||
        opt_key(cfg, "alpha", &o->alpha))
        return -1;
    if (o->schedule == MX_LR_EXPONENTIAL_DECAY && !json_object_get(cfg, "decay_rate"))
        return mx_fail("ExponentialDecay needs decay_rate");
    return 0;
}

int mx_optimizer_parse(const char *json_text, mx_optimizer_config *out) {
    json_t *j = load_any(json_text);
    const char *cls = json_is_string(j) ? json_string_value(j)
                      : json_is_string(json_object_get(j, "class_name")) ? json_string_value(json_object_get(j, "class_name"))
                                                                          : NULL;
    int rc = -1;
    if (!cls) {
        mx_fail("optimizer must be a name or {\"class_name\": ..., \"config\": {...}}");
        goto done;
    }
    if (!strcasecmp(cls, "sgd"))
        *out = mx_optimizer_defaults(MX_OPT_SGD);
    else if (!strcasecmp(cls, "adam"))
        *out = mx_optimizer_defaults(MX_OPT_ADAM);
    else if (!strcasecmp(cls, "rmsprop"))
        *out = mx_optimizer_defaults(MX_OPT_RMSPROP);
    else {
        mx_fail("optimizer '%s' is not supported (SGD, Adam, RMSprop)", cls);
        goto done;
    }
    json_t *cfg = json_is_object(j) ? json_object_get(j, "config") : NULL;
    const char *key;
    json_t *v;
    json_object_foreach(cfg, key, v) {
        static const char *const known[] = {"learning_rate", "lr", "beta_1", "beta_2", "epsilon", "momentum",
                                            "nesterov", "rho", "clipnorm", "global_clipnorm", "name", "amsgrad",
                                            "centered", "clipvalue", "decay", "weight_decay", "use_ema",
                                            "ema_momentum", "ema_overwrite_frequency", "jit_compile",
                                            "is_legacy_optimizer", "loss_scale_factor",
                                            "gradient_accumulation_steps", "form", NULL};
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strcmp(known[i], key);
        if (!ok) {
            mx_fail("optimizer %s: unknown config key '%s'", cls, key);
            goto done;
        }
        /* options we only support switched off */
        int off = json_is_null(v) || json_is_false(v) || (json_is_number(v) && json_number_value(v) == 0);
        if (!off && (!strcmp(key, "amsgrad") || !strcmp(key, "centered") ||
                     !strcmp(key, "decay") || !strcmp(key, "weight_decay") || !strcmp(key, "use_ema"))) {
            mx_fail("optimizer %s: option '%s' is not supported", cls, key);
            goto done;
        }
    }
    json_t *lr = json_object_get(cfg, "learning_rate");
    if (json_is_object(lr)) {
        if (schedule_parse(lr, out)) {
            mx_fail_context("optimizer %s: learning_rate: ", cls);
            goto done;
        }
    } else if (opt_key(cfg, "learning_rate", &out->learning_rate)) {
        goto done;
    }
    if (opt_key(cfg, "lr", &out->learning_rate) ||
        opt_key(cfg, "beta_1", &out->beta_1) || opt_key(cfg, "beta_2", &out->beta_2) ||
        opt_key(cfg, "epsilon", &out->epsilon) || opt_key(cfg, "momentum", &out->momentum) ||
        opt_key(cfg, "rho", &out->rho) || opt_key(cfg, "clipnorm", &out->clipnorm) ||
        opt_key(cfg, "global_clipnorm", &out->global_clipnorm) || opt_key(cfg, "clipvalue", &out->clipvalue))
        goto done;
    if (out->clipnorm < 0 || out->global_clipnorm < 0 || out->clipvalue < 0) {
        mx_fail("optimizer %s: clipnorm, global_clipnorm and clipvalue must not be negative", cls);
        goto done;
    }
    json_t *nest = json_object_get(cfg, "nesterov");
    if (nest) out->nesterov = json_is_true(nest);
    json_t *form = json_object_get(cfg, "form"); /* ours: the update rule's book (mx.h) */
    if (form) {
        int f = json_is_string(form) ? mx_optimizer_form_parse(json_string_value(form)) : -1;
        if (f < 0) {
            mx_fail("optimizer %s: form must be \"keras\", \"textbook\" or \"pytorch\"", cls);
            goto done;
        }
        out->form = (mx_opt_form)f;
    }
    if (!(out->learning_rate > 0)) {
        mx_fail("optimizer %s: learning_rate must be positive", cls);
        goto done;
    }
    if (out->momentum < 0 || out->momentum >= 1) {
        mx_fail("optimizer %s: momentum must be in [0, 1)", cls);
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int mx_loss_parse(const char *json_text, mx_loss_kind *kind, int *from_logits) {
    static const struct {
        const char *name, *cls;
        mx_loss_kind kind;
    } names[] = {
        {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", MX_LOSS_SPARSE_CATEGORICAL_CE},
        {"categorical_crossentropy", "CategoricalCrossentropy", MX_LOSS_CATEGORICAL_CE},
        {"binary_crossentropy", "BinaryCrossentropy", MX_LOSS_BINARY_CE},
        {"mean_squared_error", "MeanSquaredError", MX_LOSS_MSE},
        {"mse", "MSE", MX_LOSS_MSE},
        {"half_squared_error", "HalfSquaredError", MX_LOSS_HALF_SQUARED_ERROR},
        {"sum_squared_error", "SumSquaredError", MX_LOSS_SUM_SQUARED_ERROR},
    };
    json_t *j = load_any(json_text);
    const char *s = json_is_string(j) ? json_string_value(j)
                    : json_is_string(json_object_get(j, "class_name")) ? json_string_value(json_object_get(j, "class_name"))
                                                                        : "";
    *from_logits = json_is_true(json_object_get(json_object_get(j, "config"), "from_logits"));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name) || !strcmp(s, names[i].cls)) {
            *kind = names[i].kind;
            json_decref(j);
            return 0;
        }
    mx_fail("loss '%s' is not supported (sparse_categorical_crossentropy, categorical_crossentropy, "
            "binary_crossentropy, mean_squared_error, half_squared_error, sum_squared_error)", s);
    json_decref(j);
    return -1;
}

/* ---- compile ---- */

int mx_model_compile(mx_model *m, mx_loss_kind loss, int from_logits, const mx_optimizer_config *opt) {
    if (m->n_outputs != 1) return mx_fail("training needs a model with one output (this one has %d)", m->n_outputs);
    mx_value *out = m->outputs[0];
    mx_optimizer_config *o = mx_alloc(sizeof *o);
    if (!o) return -1;
    *o = *opt;
    mx_free(m->opt);
    m->opt = o;
    m->loss_kind = loss;
    m->from_logits = from_logits;
    /* fuse the output activation into the loss when it is the matching one
     * and nothing else reads the probabilities */
    for (int i = 0; i < m->n_nodes; i++) m->nodes[i]->act_by_loss = 0;
    mx_node *p = out->producer;
    mx_act_kind k = p->layer->act.kind;
    int ce = loss == MX_LOSS_SPARSE_CATEGORICAL_CE || loss == MX_LOSS_CATEGORICAL_CE;
    if (!from_logits && p->z != out && out->n_consumers == 0 &&
        ((ce && k == MX_ACT_SOFTMAX && mx_act_temperature(p->layer->act) == 1) ||
         (loss == MX_LOSS_BINARY_CE && k == MX_ACT_SIGMOID)))
        p->act_by_loss = 1;
    /* optimizer slots for every weight that can train */
    int slots = mx_opt_slots(o);
    int64_t total = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->trainable) total += m->params[i]->size * slots;
    mx_free(m->opt_mem);
    m->opt_mem = mx_alloc_array((size_t)MX_MAX(total, 1), sizeof(float));
    if (!m->opt_mem) return -1;
    int64_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        mx_param *q = m->params[i];
        q->opt_state = NULL;
        if (q->trainable && slots) {
            q->opt_state = m->opt_mem + off;
            off += q->size * slots;
        }
    }
    m->iterations = 0;
    m->compiled = 1;
    /* gradient flags depend on the fusion: plan again */
    mx_free(m->plan_mem);
    m->plan_mem = NULL;
    m->plan_batch = 0;
    m->plan_training = 0;
    return 0;
}

json_t *mx_training_config_write(const mx_model *m) {
    if (!m->compiled) return NULL;
    const mx_optimizer_config *o = m->opt;
    /* the initial rate only: TF.js cannot read a schedule here (its training
     * would start from NaN); the experiment file keeps the schedule */
    json_t *lr = json_real(o->learning_rate);
    json_t *cfg = json_pack("{s:s, s:o}", "name", mx_optimizer_name(o->kind), "learning_rate", lr);
    switch (o->kind) {
    case MX_OPT_SGD:
        json_object_set_new(cfg, "momentum", json_real(o->momentum));
        json_object_set_new(cfg, "nesterov", json_boolean(o->nesterov));
        break;
    case MX_OPT_ADAM:
        json_object_set_new(cfg, "beta_1", json_real(o->beta_1));
        json_object_set_new(cfg, "beta_2", json_real(o->beta_2));
        json_object_set_new(cfg, "epsilon", json_real(o->epsilon));
        json_object_set_new(cfg, "amsgrad", json_false());
        break;
    case MX_OPT_RMSPROP:
        json_object_set_new(cfg, "rho", json_real(o->rho));
        json_object_set_new(cfg, "momentum", json_real(o->momentum));
        json_object_set_new(cfg, "epsilon", json_real(o->epsilon));
        json_object_set_new(cfg, "centered", json_false());
        break;
    }
    if (o->form != MX_OPT_FORM_KERAS) json_object_set_new(cfg, "form", json_string(mx_optimizer_form_name(o->form)));
    if (o->clipnorm > 0) json_object_set_new(cfg, "clipnorm", json_real(o->clipnorm));
    if (o->global_clipnorm > 0) json_object_set_new(cfg, "global_clipnorm", json_real(o->global_clipnorm));
    if (o->clipvalue > 0) json_object_set_new(cfg, "clipvalue", json_real(o->clipvalue));
    json_t *loss = m->from_logits ? json_pack("{s:s, s:{s:b}}", "class_name",
                                              m->loss_kind == MX_LOSS_BINARY_CE ? "BinaryCrossentropy"
                                              : m->loss_kind == MX_LOSS_CATEGORICAL_CE ? "CategoricalCrossentropy"
                                                                                       : "SparseCategoricalCrossentropy",
                                              "config", "from_logits", 1)
                                  : json_string(mx_loss_name(m->loss_kind));
    return json_pack("{s:o, s:[s], s:{s:s, s:o}}", "loss", loss, "metrics", "accuracy", "optimizer_config",
                     "class_name", mx_optimizer_name(o->kind), "config", cfg);
}

/* ---- one step ---- */

double mx_train_step_observed(mx_model *m, int batch, uint64_t seed, int64_t *correct, int64_t *total,
                              mx_step_observer observe, void *user) {
    mx_exec ex = {batch, 1, seed, m->iterations};
    mx_opt_begin(m);
    mx_graph_forward(m, &ex);
    if (m->step_error[0]) return NAN; /* bad data: no update, the caller reports it */
    double loss = mx_loss_step(m, batch, 1, correct, total);
    mx_graph_backward(m, &ex);
    double reg = mx_regularization(m, 1);
    if (observe) observe(m, loss, reg, user);
    mx_opt_step(m);
    return loss + reg;
}

double mx_train_step(mx_model *m, int batch, uint64_t seed, int64_t *correct, int64_t *total) {
    return mx_train_step_observed(m, batch, seed, correct, total, NULL, NULL);
}
