/* update.c: the optimizer step written out: the rule of the configured
 * optimizer and form (the formulas of mx.h's mx_opt_form), and for each
 * weight its gradient, state before and after, and the new value, with the
 * numbers filled in. Recomputed in double from the state before the step
 * and checked against what the engine's optimizer wrote. */
#include "explain/explain.h"
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int nesterov_lookahead(const mx_optimizer_config *o) {
    return o->kind == MX_OPT_SGD && o->form == MX_OPT_FORM_TEXTBOOK && o->nesterov && o->momentum != 0;
}

static void add(json_t *a, const char *s) { json_array_append_new(a, json_string(s)); }

json_t *mx_xupdate_formulas(const mx_optimizer_config *o) {
    json_t *f = json_array();
    int mom = o->momentum != 0;
    switch (o->kind) {
    case MX_OPT_SGD:
        if (!mom) {
            add(f, "w <- w - lr * g");
        } else if (o->form == MX_OPT_FORM_PYTORCH) {
            add(f, "b <- momentum * b + g");
            add(f, o->nesterov ? "w <- w - lr * (g + momentum * b)" : "w <- w - lr * b");
        } else if (nesterov_lookahead(o)) {
            add(f, "w~ = w + momentum * v   (the look-ahead point: the forward and backward pass run there)");
            add(f, "v <- momentum * v - lr * g   (g = dL/dw at w~)");
            add(f, "w <- w + v");
        } else {
            add(f, "v <- momentum * v - lr * g");
            add(f, o->nesterov ? "w <- w + momentum * v - lr * g   (Keras's Nesterov: w is kept at the look-ahead point)"
                               : "w <- w + v");
        }
        break;
    case MX_OPT_RMSPROP:
        add(f, "s <- rho * s + (1 - rho) * g^2");
        if (o->form == MX_OPT_FORM_PYTORCH) {
            if (mom) {
                add(f, "b <- momentum * b + g / (sqrt(s) + eps)");
                add(f, "w <- w - lr * b");
            } else {
                add(f, "w <- w - lr * g / (sqrt(s) + eps)");
            }
        } else if (mom) {
            add(f, "u <- momentum * u + lr * g / sqrt(s + eps)");
            add(f, "w <- w - u");
        } else {
            add(f, "w <- w - lr * g / sqrt(s + eps)");
        }
        break;
    case MX_OPT_ADAM:
        add(f, "m <- beta_1 * m + (1 - beta_1) * g");
        add(f, "v <- beta_2 * v + (1 - beta_2) * g^2");
        if (o->form == MX_OPT_FORM_KERAS) {
            add(f, "alpha_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)");
            add(f, "w <- w - alpha_t * m / (sqrt(v) + eps)   (eps is Kingma & Ba's \"epsilon hat\")");
        } else {
            add(f, "m_hat = m / (1 - beta_1^t)");
            add(f, "v_hat = v / (1 - beta_2^t)");
            add(f, "w <- w - lr * m_hat / (sqrt(v_hat) + eps)");
        }
        break;
    }
    if (o->clipnorm > 0) add(f, "g <- g * min(1, clipnorm / ||g||) per weight tensor, first");
    if (o->global_clipnorm > 0) add(f, "g <- g * min(1, global_clipnorm / ||all g||), first");
    return f;
}

/* ---- snapshots ---- */

int mx_xsnap_take(mx_xsnap *sn, const mx_model *m) {
    memset(sn, 0, sizeof *sn);
    sn->n = m->n_params;
    sn->w = mx_alloc_array((size_t)MX_MAX(sn->n, 1), sizeof(float *));
    sn->g = mx_alloc_array((size_t)MX_MAX(sn->n, 1), sizeof(float *));
    sn->s = mx_alloc_array((size_t)MX_MAX(sn->n, 1), sizeof(float *));
    if (!sn->w || !sn->g || !sn->s) return -1;
    int slots = m->compiled ? mx_opt_slots(m->opt) : 0;
    for (int i = 0; i < sn->n; i++) {
        const mx_param *p = m->params[i];
        size_t n = (size_t)p->size;
        if (!(sn->w[i] = mx_alloc_array(n, sizeof(float)))) return -1;
        memcpy(sn->w[i], p->data, n * sizeof(float));
        if (p->grad) {
            if (!(sn->g[i] = mx_alloc_array(n, sizeof(float)))) return -1;
            memcpy(sn->g[i], p->grad, n * sizeof(float));
        }
        if (p->opt_state && slots) {
            if (!(sn->s[i] = mx_alloc_array(n * (size_t)slots, sizeof(float)))) return -1;
            memcpy(sn->s[i], p->opt_state, n * (size_t)slots * sizeof(float));
        }
    }
    return 0;
}

void mx_xsnap_free(mx_xsnap *sn) {
    for (int i = 0; i < sn->n; i++) {
        if (sn->w) mx_free(sn->w[i]);
        if (sn->g) mx_free(sn->g[i]);
        if (sn->s) mx_free(sn->s[i]);
    }
    mx_free(sn->w);
    mx_free(sn->g);
    mx_free(sn->s);
    memset(sn, 0, sizeof *sn);
}

/* ---- one element's update, recomputed and written out ---- */

typedef struct elem {
    double w, g, s0, s1; /* before: weight (behind any look-ahead), gradient (clipped), slots */
    double nw, ns0, ns1; /* after */
    double d0, d1;       /* derived: Adam's m_hat, v_hat */
} elem;

/* The rule in double; the line with its numbers into t. */
static void update_elem(const mx_xctx *c, const mx_optimizer_config *o, double lr, int64_t t, elem *e, const char *w,
                        const char *ix, mx_text *line) {
    double mu = o->momentum, g = e->g, eps = o->epsilon;
    switch (o->kind) {
    case MX_OPT_SGD:
        if (mu == 0) {
            e->nw = e->w - lr * g;
            mx_xsay(line, c, "%s = {} - {}*{} = {=}", w, e->w, lr, g, e->nw);
        } else if (o->form == MX_OPT_FORM_PYTORCH) {
            e->ns0 = mu * e->s0 + g;
            mx_xsay(line, c, "b%s = {}*{} + {} = {=}; ", ix, mu, e->s0, g, e->ns0);
            if (o->nesterov) {
                e->nw = e->w - lr * (g + mu * e->ns0);
                mx_xsay(line, c, "%s = {} - {}*({} + {}*{}) = {=}", w, e->w, lr, g, mu, e->ns0, e->nw);
            } else {
                e->nw = e->w - lr * e->ns0;
                mx_xsay(line, c, "%s = {} - {}*{} = {=}", w, e->w, lr, e->ns0, e->nw);
            }
        } else {
            e->ns0 = mu * e->s0 - lr * g;
            mx_xsay(line, c, "v%s = {}*{} - {}*{} = {=}; ", ix, mu, e->s0, lr, g, e->ns0);
            if (o->nesterov && o->form == MX_OPT_FORM_KERAS) {
                e->nw = e->w + mu * e->ns0 - lr * g;
                mx_xsay(line, c, "%s = {} + {}*{} - {}*{} = {=}", w, e->w, mu, e->ns0, lr, g, e->nw);
            } else {
                e->nw = e->w + e->ns0;
                mx_xsay(line, c, "%s = {} + {} = {=}", w, e->w, e->ns0, e->nw);
            }
        }
        break;
    case MX_OPT_RMSPROP:
        e->ns0 = o->rho * e->s0 + (1 - o->rho) * g * g;
        mx_xsay(line, c, "s%s = {}*{} + {}*{}^2 = {=}; ", ix, (double)o->rho, e->s0, 1 - (double)o->rho, g, e->ns0);
        if (o->form == MX_OPT_FORM_PYTORCH) {
            double d = sqrt(e->ns0) + eps;
            if (mu != 0) {
                e->ns1 = mu * e->s1 + g / d;
                e->nw = e->w - lr * e->ns1;
                mx_xsay(line, c, "b%s = {}*{} + {}/(sqrt({}) + {}) = {=}; %s = {} - {}*{} = {=}", ix, mu, e->s1, g, e->ns0, eps,
                    e->ns1, w, e->w, lr, e->ns1, e->nw);
            } else {
                e->nw = e->w - lr * g / d;
                mx_xsay(line, c, "%s = {} - {}*{}/(sqrt({}) + {}) = {=}", w, e->w, lr, g, e->ns0, eps, e->nw);
            }
        } else {
            double step = lr * g / sqrt(e->ns0 + eps);
            if (mu != 0) {
                e->ns1 = mu * e->s1 + step;
                e->nw = e->w - e->ns1;
                mx_xsay(line, c, "u%s = {}*{} + {}*{}/sqrt({} + {}) = {=}; %s = {} - {} = {=}", ix, mu, e->s1, lr, g, e->ns0, eps,
                    e->ns1, w, e->w, e->ns1, e->nw);
            } else {
                e->nw = e->w - step;
                mx_xsay(line, c, "%s = {} - {}*{}/sqrt({} + {}) = {=}", w, e->w, lr, g, e->ns0, eps, e->nw);
            }
        }
        break;
    case MX_OPT_ADAM: {
        double b1 = o->beta_1, b2 = o->beta_2;
        e->ns0 = b1 * e->s0 + (1 - b1) * g;
        e->ns1 = b2 * e->s1 + (1 - b2) * g * g;
        mx_xsay(line, c, "m%s = {}*{} + {}*{} = {=}; v%s = {}*{} + {}*{}^2 = {=}; ", ix, b1, e->s0, 1 - b1, g, e->ns0, ix, b2, e->s1,
            1 - b2, g, e->ns1);
        double bc1 = 1 - pow(b1, (double)t), bc2 = 1 - pow(b2, (double)t);
        if (o->form == MX_OPT_FORM_KERAS) {
            double alpha = lr * sqrt(bc2) / bc1;
            e->nw = e->w - alpha * e->ns0 / (sqrt(e->ns1) + eps);
            mx_xsay(line, c, "%s = {} - {}*{}/(sqrt({}) + {}) = {=}", w, e->w, alpha, e->ns0, e->ns1, eps, e->nw);
        } else {
            e->d0 = e->ns0 / bc1;
            e->d1 = e->ns1 / bc2;
            e->nw = e->w - lr * e->d0 / (sqrt(e->d1) + eps);
            mx_xsay(line, c, "m_hat%s = {}/{} = {=}; v_hat%s = {}/{} = {=}; %s = {} - {}*{}/(sqrt({}) + {}) = {=}", ix, e->ns0, bc1,
                e->d0, ix, e->ns1, bc2, e->d1, w, e->w, lr, e->d0, e->d1, eps, e->nw);
        }
        break;
    }
    }
}

/* state slot names, as the formulas write them */
static const char *slot_name(const mx_optimizer_config *o, int k) {
    switch (o->kind) {
    case MX_OPT_SGD: return k ? NULL : o->form == MX_OPT_FORM_PYTORCH ? "b" : "v";
    case MX_OPT_RMSPROP: return k == 0 ? "s" : o->form == MX_OPT_FORM_PYTORCH ? "b" : "u";
    case MX_OPT_ADAM: return k ? "v" : "m";
    }
    return NULL;
}

static double sq_norm(const float *g, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

json_t *mx_xupdate_explain(mx_xctx *c, const mx_xsnap *before, int64_t t, float lr) {
    mx_model *m = c->m;
    const mx_optimizer_config *o = m->opt;
    int slots = mx_opt_slots(o), look = nesterov_lookahead(o);
    json_t *params = json_array();
    double global = 1;
    if (o->global_clipnorm > 0) {
        double s = 0;
        for (int i = 0; i < m->n_params; i++)
            if (before->g[i]) s += sq_norm(before->g[i], m->params[i]->size);
        if (sqrt(s) > o->global_clipnorm) global = o->global_clipnorm / sqrt(s);
    }
    mx_text line = {0};
    for (int i = 0; i < m->n_params; i++) {
        const mx_param *p = m->params[i];
        if (!before->g[i]) continue; /* not trained */
        double scale = global;
        if (o->clipnorm > 0) {
            double nrm = sqrt(sq_norm(before->g[i], p->size));
            if (nrm > o->clipnorm) scale *= o->clipnorm / nrm;
        }
        const float *w0 = look ? before->s[i] + p->size : before->w[i]; /* behind the look-ahead */
        const float *s0 = before->s[i];
        json_t *lines = p->size <= MX_XLINES_MAX ? json_array() : NULL;
        json_t *st0 = json_object(), *st1 = json_object(), *derived = json_object();
        json_t *d0 = json_array(), *d1 = json_array();
        for (int k = 0; k < slots; k++) {
            const char *nm = slot_name(o, k);
            if (!nm) continue;
            json_object_set_new(st0, nm, mx_xfloats(s0 + k * p->size, p->size));
            json_object_set_new(st1, nm, mx_xfloats(p->opt_state + k * p->size, p->size));
        }
        for (int64_t j = 0; j < p->size; j++) {
            elem e = {0};
            e.w = w0[j];
            e.g = before->g[i][j] * scale;
            if (slots > 0 && s0) e.s0 = s0[j];
            if (slots > 1 && s0 && !look) e.s1 = s0[p->size + j];
            char lab[128];
            mx_xplabel(c, lab, sizeof lab, "", p, j);
            mx_text_clear(&line);
            const char *ix = strchr(lab, '['); /* the state's elements carry the weight's index */
            update_elem(c, o, lr, t, &e, lab, ix ? ix : "", &line);
            if (lines) json_array_append_new(lines, json_string(mx_text_str(&line)));
            mx_xcheck(c, lab, p->data[j], e.nw, fabs(e.w) + fabs(e.nw - e.w));
            if (slots > 0) mx_xcheck(c, lab, p->opt_state[j], e.ns0, fabs(e.s0) + fabs(e.g));
            if (slots > 1 && !look) mx_xcheck(c, lab, p->opt_state[p->size + j], e.ns1, fabs(e.s1) + fabs(e.g));
            json_array_append_new(d0, json_real(e.d0));
            json_array_append_new(d1, json_real(e.d1));
        }
        if (o->kind == MX_OPT_ADAM && o->form != MX_OPT_FORM_KERAS) {
            json_object_set_new(derived, "m_hat", d0);
            json_object_set_new(derived, "v_hat", d1);
        } else {
            json_decref(d0);
            json_decref(d1);
        }
        json_t *shape = json_array();
        for (int d = 0; d < p->rank; d++) json_array_append_new(shape, json_integer(p->dims[d]));
        json_t *e = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "name", p->name, "symbol", mx_xsym(c, p->name),
                              "shape", shape, "grad", mx_xfloats(before->g[i], p->size), "before", mx_xfloats(w0, p->size),
                              "after", mx_xfloats(p->data, p->size), "state_before", st0, "state_after", st1);
        if (look) json_object_set_new(e, "lookahead", mx_xfloats(before->w[i], p->size));
        if (scale != 1) json_object_set_new(e, "clip_scale", json_real(scale));
        if (json_object_size(derived))
            json_object_set_new(e, "derived", derived);
        else
            json_decref(derived);
        if (lines) json_object_set_new(e, "lines", lines);
        json_array_append_new(params, e);
    }
    mx_text_free(&line);
    json_t *r = json_pack("{s:I, s:f, s:o}", "t", (json_int_t)t, "learning_rate", (double)lr, "params", params);
    if (o->kind == MX_OPT_ADAM) {
        double bc1 = 1 - pow(o->beta_1, (double)t), bc2 = 1 - pow(o->beta_2, (double)t);
        json_object_set_new(r, "bias_correction_1", json_real(bc1));
        json_object_set_new(r, "bias_correction_2", json_real(bc2));
        if (o->form == MX_OPT_FORM_KERAS) json_object_set_new(r, "alpha_t", json_real(lr * sqrt(bc2) / bc1));
    }
    return r;
}
