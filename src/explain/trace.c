/* trace.c: run the engine's training step on a network description and
 * record, for every step, the forward pass (every value, named, with its
 * formula written out), the loss, the backward pass in backward order (the
 * chain-rule factor of each node), and the optimizer's update, as JSON
 * (the contract is docs/explain.md). The numbers are the engine's own; the
 * written-out formulas are recomputed in double and checked against them,
 * and any difference is reported in the trace. */
#include "explain/explain.h"
#include "io/model_io.h"
#include "train/train.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define LABEL 128

/* ---- symbols: how values and weights are written ---- */

/* Activation, ReLU and LeakyReLU: the layer is its activation; its core
 * value is a copy of the input and is never shown. */
static int act_layer(const mx_node *n) {
    const char *c = n->layer->type->class_name;
    return !strcmp(c, "Activation") || !strcmp(c, "ReLU") || !strcmp(c, "LeakyReLU");
}

static json_t *make_symbols(const mx_netfile *nf) {
    mx_model *m = nf->model;
    json_t *s = json_object();
    char buf[MX_NAME_MAX + 32];
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        const mx_value *out = n->out[0];
        if (n->n_in == 0) { /* the input; further inputs (initial states) as the file names them */
            json_t *given = json_object_get(nf->symbols, out->name);
            json_object_set_new(s, out->name, json_string(out == m->inputs[0] ? nf->input_symbol
                                                          : given          ? json_string_value(given)
                                                                           : out->name));
            continue;
        }
        json_t *given = json_object_get(nf->symbols, out->name);
        json_object_set_new(s, out->name, json_string(given ? json_string_value(given) : out->name));
        if (n->z != out) {
            given = json_object_get(nf->symbols, n->z->name);
            snprintf(buf, sizeof buf, "z_%s", out->name);
            json_object_set_new(s, n->z->name, json_string(given ? json_string_value(given) : buf));
        }
    }
    /* an activation layer's hidden copy is written as its input */
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        if (act_layer(n)) json_object_set(s, n->z->name, json_object_get(s, n->in[0]->name));
    }
    for (int i = 0; i < m->n_params; i++) {
        const mx_param *p = m->params[i];
        const char *sh = strrchr(p->name, '/');
        sh = sh ? sh + 1 : p->name;
        if (!strcmp(sh, "kernel"))
            snprintf(buf, sizeof buf, "W_%s", p->layer->name);
        else if (!strcmp(sh, "bias"))
            snprintf(buf, sizeof buf, "b_%s", p->layer->name);
        else if (!strcmp(sh, "recurrent_kernel")) /* a_t = x_t W + h_{t-1} U + b */
            snprintf(buf, sizeof buf, "U_%s", p->layer->name);
        else
            snprintf(buf, sizeof buf, "%.24s_%.120s", sh, p->layer->name);
        json_object_set_new(s, p->name, json_string(buf));
    }
    return s;
}

static json_t *shape_json(int rank, const int64_t *dims) {
    json_t *a = json_array();
    for (int i = 0; i < rank; i++) json_array_append_new(a, json_integer(dims[i]));
    return a;
}

/* an activation as written: "sigmoid", "leaky_relu(alpha=0.01)", "softmax(T=2)" */
static void act_text(const mx_act a, mx_text *t) {
    mx_text_add(t, "%s", mx_act_name(a.kind));
    if (a.kind == MX_ACT_LEAKY_RELU) mx_text_add(t, "(alpha=%g)", (double)a.alpha);
    if (a.kind == MX_ACT_SOFTMAX && mx_act_temperature(a) != 1) mx_text_add(t, "(T=%g)", (double)mx_act_temperature(a));
}

/* a loss text with the output's own symbol for "o" (and with element
 * labels when given: "(o - t) / N" -> "(y[1] - t[1]) / N") */
static void subst_o(mx_text *out, const char *r, const char *o, const char *t) {
    for (const char *q = r; *q; q++) {
        int alone = (q == r || !isalnum((unsigned char)q[-1])) && !isalnum((unsigned char)q[1]) && q[1] != '_';
        if (*q == 'o' && alone)
            mx_text_add(out, "%s", o);
        else if (*q == 't' && alone && t)
            mx_text_add(out, "%s", t);
        else
            mx_text_add(out, "%c", *q);
    }
}

/* f'(z) in words, for the backward pass */
static const char *derivative_text(mx_act_kind k) {
    switch (k) {
    case MX_ACT_LINEAR: return "identity'(z) = 1";
    case MX_ACT_SIGMOID: return "sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z))";
    case MX_ACT_TANH: return "tanh'(z) = 1 - tanh(z)^2";
    case MX_ACT_RELU: return "relu'(z) = 1 if z > 0, else 0";
    case MX_ACT_LEAKY_RELU: return "leaky_relu'(z) = 1 if z > 0, else alpha";
    case MX_ACT_HEAVISIDE: return "heaviside'(z) = 0 wherever it is defined (it jumps at z = 0)";
    case MX_ACT_SOFTMAX: return "d softmax(z)[j] / dz[i] = y[j] * (delta_ij - y[i]) / T";
    default: return "f'(z), the activation's derivative";
    }
}

/* ---- per element sums: allocated for small tensors only ---- */

static mx_xsum *sums_new(int64_t n) {
    if (n > MX_XLINES_MAX) return NULL;
    mx_xsum *s = mx_alloc_array((size_t)n, sizeof *s);
    return s;
}

static void sums_free(mx_xsum *s, int64_t n) {
    if (!s) return;
    for (int64_t i = 0; i < n; i++) {
        mx_text_free(&s[i].sym);
        mx_text_free(&s[i].num);
    }
    mx_free(s);
}

/* lines "lhs[e] = ..." for every element, and the check of each against
 * the engine's number */
static json_t *finish(mx_xctx *c, mx_xsum *sums, const double *acc, const float *engine, int64_t n,
                      const char *prefix, const mx_value *v, const mx_param *p) {
    json_t *lines = sums ? json_array() : NULL;
    char lab[LABEL];
    /* without the terms (a large tensor) their size is unknown: the check
     * allows 1e-3 of the tensor's largest value (a wrong rule is off by far more) */
    double big = 0;
    for (int64_t e = 0; !sums && e < n; e++) big = fmax(big, fabs(acc[e]));
    for (int64_t e = 0; e < n; e++) {
        if (v)
            mx_xvlabel(c, lab, sizeof lab, prefix, v, e);
        else
            mx_xplabel(c, lab, sizeof lab, prefix, p, e);
        double scale = sums ? sums[e].scale : fabs(acc[e]) + 100 * big;
        if (sums) mx_xsum_end(&sums[e], c, lab, lines);
        mx_xcheck(c, lab, engine[e], acc[e], scale);
    }
    return lines;
}

/* ---- activations: forward lines and the chain-rule factor ---- */

static json_t *act_forward_lines(mx_xctx *c, const mx_act a, const mx_value *z, const mx_value *y) {
    int64_t n = c->batch * y->size;
    if (n > MX_XLINES_MAX) return NULL;
    json_t *lines = json_array();
    mx_text t = {0}, f = {0};
    act_text(a, &f);
    char zl[LABEL], yl[LABEL];
    int64_t cols = y->rank ? y->dims[y->rank - 1] : 1;
    double T = mx_act_temperature(a);
    for (int64_t e = 0; e < n; e++) {
        mx_text_clear(&t);
        mx_xvlabel(c, zl, sizeof zl, "", z, e);
        mx_xvlabel(c, yl, sizeof yl, "", y, e);
        if (a.kind == MX_ACT_SOFTMAX) { /* over the last axis */
            int64_t row = e / cols * cols;
            mx_text_add(&t, "%s = exp(%s%s) / sum_k exp(%s[k]%s) = exp(", yl, zl, T != 1 ? "/T" : "",
                        mx_xsym(c, z->name), T != 1 ? "/T" : "");
            mx_xsay(&t, c, "{}", z->data[e] / T);
            mx_text_add(&t, ") / (");
            for (int64_t k = 0; k < cols; k++) mx_xsay(&t, c, k ? " + exp({})" : "exp({})", z->data[row + k] / T);
            mx_text_add(&t, ") = ");
        } else {
            mx_text_add(&t, "%s = %s(%s) = %s(", yl, mx_text_str(&f), zl, mx_text_str(&f));
            mx_xnum(c, &t, z->data[e]);
            mx_text_add(&t, ") = ");
        }
        mx_xnum(c, &t, y->data[e]);
        json_array_append_new(lines, json_string(mx_text_str(&t)));
    }
    mx_text_free(&t);
    mx_text_free(&f);
    return lines;
}

/* dL/dz (+)= dL/dy * f'(z) elementwise, or through softmax's Jacobian:
 * dL/dz[j] = y[j] * (dL/dy[j] - sum_k dL/dy[k] * y[k]) / T.
 * factor receives f'(z) (elementwise kinds only). */
static void act_backward(mx_xctx *c, const mx_act a, const mx_value *z, const mx_value *y, double *acc, mx_xsum *sums,
                         float *factor) {
    int64_t n = c->batch * y->size;
    char dl[LABEL], fl[3 * LABEL];
    if (a.kind == MX_ACT_SOFTMAX) {
        int64_t cols = y->rank ? y->dims[y->rank - 1] : 1;
        double T = mx_act_temperature(a);
        for (int64_t row = 0; row < n; row += cols) {
            double dot = 0;
            for (int64_t k = 0; k < cols; k++) dot += (double)y->grad[row + k] * y->data[row + k];
            for (int64_t k = 0; k < cols; k++) {
                int64_t e = row + k;
                double v = (y->grad[e] - dot) / T;
                acc[e] += y->data[e] * v;
                if (sums) {
                    mx_xvlabel(c, dl, sizeof dl, "", y, e);
                    char yl[LABEL];
                    mx_xvlabel(c, yl, sizeof yl, "dL/d", y, e);
                    snprintf(fl, sizeof fl, "(%s - sum_k dL/d%.60s[k]*%.60s[k])%s", yl, mx_xsym(c, y->name),
                             mx_xsym(c, y->name), T != 1 ? "/T" : "");
                    mx_xsum_product(&sums[e], c, dl, y->data[e], fl, v);
                }
            }
        }
        return;
    }
    mx_act_derivative(a, z->data, y->data, factor, n);
    for (int64_t e = 0; e < n; e++) {
        acc[e] += (double)y->grad[e] * factor[e];
        if (sums) {
            mx_xvlabel(c, dl, sizeof dl, "dL/d", y, e);
            mx_text t = {0};
            act_text(a, &t);
            char zl[LABEL];
            mx_xvlabel(c, zl, sizeof zl, "", z, e);
            snprintf(fl, sizeof fl, "%.60s'(%s)", mx_text_str(&t), zl);
            mx_text_free(&t);
            mx_xsum_product(&sums[e], c, dl, y->grad[e], fl, factor[e]);
        }
    }
}

/* ---- the loss ---- */

static int64_t argmax(const float *x, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* target of element e of the output (sparse targets become one-hot) */
static double target(const mx_xctx *c, int64_t e, int64_t cols) {
    const mx_model *m = c->m;
    if (m->loss_kind == MX_LOSS_SPARSE_CATEGORICAL_CE) return (int64_t)m->targets[e / cols] == e % cols;
    return m->targets[e];
}

static const char *loss_formula(const mx_model *m) {
    int logits = m->from_logits;
    switch ((mx_loss_kind)m->loss_kind) {
    case MX_LOSS_HALF_SQUARED_ERROR: return "L = 1/(2N) sum_n sum_k (o[n,k] - t[n,k])^2   (1/2 ||o - t||^2 per sample, N samples)";
    case MX_LOSS_SUM_SQUARED_ERROR: return "L = sum_n sum_k (o[n,k] - t[n,k])^2";
    case MX_LOSS_MSE: return "L = 1/(N*K) sum_n sum_k (o[n,k] - t[n,k])^2   (Keras's mean_squared_error, K outputs)";
    case MX_LOSS_BINARY_CE:
        return logits ? "L = -1/(N*K) sum [t log sigmoid(o) + (1 - t) log(1 - sigmoid(o))]   (o are logits)"
                      : "L = -1/(N*K) sum [t log o + (1 - t) log(1 - o)]   (o clipped to [1e-7, 1 - 1e-7])";
    case MX_LOSS_CATEGORICAL_CE:
        return logits ? "L = -1/N sum_n sum_k t[n,k] log softmax(o[n])[k]   (o are logits)"
                      : "L = -1/N sum_n sum_k t[n,k] log o[n,k]";
    case MX_LOSS_SPARSE_CATEGORICAL_CE:
        return logits ? "L = -1/N sum_n log softmax(o[n])[t_n]   (t_n the class of sample n; o are logits)"
                      : "L = -1/N sum_n log o[n, t_n]   (t_n the class of sample n)";
    }
    return "";
}

/* The loss written out with its numbers, recomputed in double. */
static json_t *loss_section(mx_xctx *c, double loss, double reg) {
    mx_model *m = c->m;
    const mx_value *o = m->outputs[0];
    int64_t n = c->batch * o->size, cols = o->rank ? o->dims[o->rank - 1] : 1, rows = n / cols;
    const float *y = o->data;
    const mx_node *p = o->producer;
    int logits = m->from_logits || p->act_by_loss;
    const float *zl = p->act_by_loss ? p->z->data : y; /* the logits the engine's loss reads */
    mx_text t = {0};
    double L = 0, scale = 0;
    int shown = 0, limit = 24;
    mx_loss_kind k = (mx_loss_kind)m->loss_kind;
    if (k == MX_LOSS_HALF_SQUARED_ERROR || k == MX_LOSS_SUM_SQUARED_ERROR || k == MX_LOSS_MSE) {
        double w = k == MX_LOSS_MSE ? 1.0 / n : k == MX_LOSS_HALF_SQUARED_ERROR ? 0.5 / c->batch : 1;
        mx_text_add(&t, "L = ");
        if (k == MX_LOSS_MSE) mx_text_add(&t, "1/%lld * (", (long long)n);
        if (k == MX_LOSS_HALF_SQUARED_ERROR) mx_text_add(&t, c->batch > 1 ? "1/(2*%d) * (" : "1/2 * (", c->batch);
        for (int64_t e = 0; e < n; e++) {
            double d = (double)y[e] - m->targets[e];
            L += d * d;
            if (shown++ < limit) mx_xsay(&t, c, e ? " + ({} - {})^2" : "({} - {})^2", (double)y[e], (double)m->targets[e]);
        }
        if (shown > limit) mx_text_add(&t, " + ... (%lld terms)", (long long)n);
        L *= w;
        scale = L;
        mx_text_add(&t, "%s = ", k == MX_LOSS_SUM_SQUARED_ERROR ? "" : ")");
    } else if (k == MX_LOSS_BINARY_CE) {
        mx_text_add(&t, "L = -1/%lld * (", (long long)n);
        for (int64_t e = 0; e < n; e++) {
            double tv = m->targets[e], pv = logits ? 1 / (1 + exp(-(double)zl[e])) : fmin(fmax(y[e], 1e-7), 1 - 1e-7);
            double term = tv * log(pv) + (1 - tv) * log(1 - pv);
            L -= term;
            scale += fabs(term);
            if (shown++ < limit) mx_xsay(&t, c, e ? " + {}*log({}) + {}*log(1 - {})" : "{}*log({}) + {}*log(1 - {})", tv, pv, 1 - tv, pv);
        }
        if (shown > limit) mx_text_add(&t, " + ... (%lld terms)", (long long)n);
        L /= (double)n;
        scale /= (double)n;
        mx_text_add(&t, ") = ");
    } else { /* categorical cross-entropy: the terms with t != 0 */
        mx_text_add(&t, "L = -1/%lld * (", (long long)rows);
        for (int64_t r = 0; r < rows; r++) {
            double mx = zl[r * cols + argmax(zl + r * cols, cols)], s = 0, psum = 0;
            for (int64_t j = 0; j < cols; j++) {
                s += exp((double)zl[r * cols + j] - mx);
                psum += y[r * cols + j];
            }
            for (int64_t j = 0; j < cols; j++) {
                double tv = target(c, r * cols + j, cols);
                if (tv == 0) continue;
                double pv = logits ? exp((double)zl[r * cols + j] - mx) / s
                                   : fmin(fmax(y[r * cols + j] / (psum > 0 ? psum : 1e-7), 1e-7), 1 - 1e-7);
                L -= tv * log(pv);
                scale += fabs(tv * log(pv));
                if (shown++ < limit) mx_xsay(&t, c, shown > 1 ? " + {}*log({})" : "{}*log({})", tv, pv);
            }
        }
        if (shown > limit) mx_text_add(&t, " + ... (%d terms)", shown);
        L /= (double)rows;
        scale /= (double)rows;
        mx_text_add(&t, ") = ");
    }
    mx_xnum(c, &t, L);
    mx_xcheck(c, "L", loss, L, scale);
    json_t *lines = json_array();
    json_array_append_new(lines, json_string(mx_text_str(&t)));
    if (reg != 0) {
        mx_text_clear(&t);
        mx_xsay(&t, c, "L + penalty = {} + {} = {=}   (the weights' regularizers)", loss, reg, loss + reg);
        json_array_append_new(lines, json_string(mx_text_str(&t)));
    }
    mx_text_free(&t);
    mx_text f = {0};
    subst_o(&f, loss_formula(m), mx_xsym(c, o->name), NULL);
    json_t *r = json_pack("{s:f, s:f, s:f, s:s, s:o}", "value", loss + reg, "data_loss", loss, "regularization", reg,
                          "formula", mx_text_str(&f), "lines", lines);
    mx_text_free(&f);
    return r;
}

/* dL/do from the loss, as the engine's loss writes it (mx_loss_step) */
static const char *loss_grad_rule(const mx_model *m) {
    int logits = m->from_logits;
    switch ((mx_loss_kind)m->loss_kind) {
    case MX_LOSS_HALF_SQUARED_ERROR: return "(o - t) / N";
    case MX_LOSS_SUM_SQUARED_ERROR: return "2 * (o - t)";
    case MX_LOSS_MSE: return "2 * (o - t) / (N*K)";
    case MX_LOSS_BINARY_CE:
        return logits ? "(sigmoid(o) - t) / (N*K)" : "(o - t) / (o * (1 - o)) / (N*K)   (0 where o is clipped)";
    case MX_LOSS_CATEGORICAL_CE:
    case MX_LOSS_SPARSE_CATEGORICAL_CE:
        return logits ? "(softmax(o) * sum_k t[k] - t) / N" : "(-t / o + sum_k t[k] / sum_k o[k]) / N";
    }
    return "";
}

static void loss_grad(mx_xctx *c, double *acc, mx_xsum *sums) {
    mx_model *m = c->m;
    const mx_value *o = m->outputs[0];
    int64_t n = c->batch * o->size, cols = o->rank ? o->dims[o->rank - 1] : 1, rows = n / cols;
    const float *y = o->data;
    mx_loss_kind k = (mx_loss_kind)m->loss_kind;
    char ol[LABEL], tl[LABEL];
    for (int64_t e = 0; e < n; e++) {
        double tv = target(c, e, cols), g = 0, scale;
        mx_text *t = sums ? &sums[e].num : NULL;
        mx_xvlabel(c, ol, sizeof ol, "", o, e);
        snprintf(tl, sizeof tl, "t%s", ol + strlen(mx_xsym(c, o->name)));
        switch (k) {
        case MX_LOSS_HALF_SQUARED_ERROR:
        case MX_LOSS_SUM_SQUARED_ERROR:
        case MX_LOSS_MSE: {
            double w = k == MX_LOSS_MSE ? 2.0 / n : k == MX_LOSS_HALF_SQUARED_ERROR ? 1.0 / c->batch : 2;
            g = w * (y[e] - tv);
            if (t) {
                mx_xsay(t, c, k == MX_LOSS_HALF_SQUARED_ERROR ? "({} - {})" : "2*({} - {})", (double)y[e], tv);
                if (k == MX_LOSS_MSE) mx_text_add(t, " / %lld", (long long)n);
                if (k == MX_LOSS_HALF_SQUARED_ERROR) mx_text_add(t, " / %d", c->batch);
            }
            break;
        }
        case MX_LOSS_BINARY_CE:
            if (m->from_logits) {
                double s = 1 / (1 + exp(-(double)y[e]));
                g = (s - tv) / n;
                if (t) mx_xsay(t, c, "(sigmoid({}) - {}) / ", (double)y[e], tv);
            } else {
                double v = y[e];
                g = v <= 1e-7 || v >= 1 - 1e-7 ? 0 : (v - tv) / (v * (1 - v)) / n;
                if (t) mx_xsay(t, c, "({} - {}) / ({}*(1 - {})) / ", v, tv, v, v);
            }
            if (t) mx_text_add(t, "%lld", (long long)n);
            break;
        case MX_LOSS_CATEGORICAL_CE:
        case MX_LOSS_SPARSE_CATEGORICAL_CE: {
            int64_t row = e / cols * cols;
            double tsum = 0, psum = 0;
            for (int64_t j = 0; j < cols; j++) tsum += target(c, row + j, cols), psum += y[row + j];
            if (m->from_logits) {
                double mx = y[row + argmax(y + row, cols)], s = 0;
                for (int64_t j = 0; j < cols; j++) s += exp((double)y[row + j] - mx);
                double p = exp((double)y[e] - mx) / s;
                g = (p * tsum - tv) / rows;
                if (t) mx_xsay(t, c, "({}*{} - {}) / ", p, tsum, tv);
            } else {
                double q = y[e] / (psum > 0 ? psum : 1e-7);
                g = ((q < 1e-7 || q > 1 - 1e-7) ? 0 : -tv / y[e]) + tsum / (psum > 0 ? psum : 1e-7);
                g /= rows;
                if (t) mx_xsay(t, c, "(-{}/{} + {}/{}) / ", tv, (double)y[e], tsum, psum);
            }
            if (t) mx_text_add(t, "%lld", (long long)rows);
            break;
        }
        }
        scale = fabs(g);
        acc[e] += g;
        if (sums) {
            sums[e].value = g;
            sums[e].scale = scale;
            sums[e].terms = sums[e].products = 1;
            /* the rule with this element's names: "(o[1] - t[1]) / N", without its remark */
            char r[160];
            snprintf(r, sizeof r, "%s", loss_grad_rule(m));
            char *remark = strstr(r, "  ");
            if (remark) *remark = 0;
            subst_o(&sums[e].sym, r, ol, tl);
        }
    }
}

/* softmax (sigmoid) and cross-entropy together: the engine writes dL/dz */
static void fused_grad(mx_xctx *c, const mx_node *p, double *acc, mx_xsum *sums) {
    mx_model *m = c->m;
    const mx_value *o = p->out[0];
    int64_t n = c->batch * o->size, cols = o->rank ? o->dims[o->rank - 1] : 1;
    int binary = m->loss_kind == MX_LOSS_BINARY_CE;
    double div = binary ? (double)n : (double)(n / cols);
    for (int64_t e = 0; e < n; e++) {
        double tv = target(c, e, cols), g, tsum = 0;
        if (binary) {
            g = ((double)o->data[e] - tv) / div;
        } else {
            int64_t row = e / cols * cols;
            for (int64_t j = 0; j < cols; j++) tsum += target(c, row + j, cols);
            g = ((double)o->data[e] * tsum - tv) / div;
        }
        acc[e] += g;
        if (sums) {
            mx_xsay(&sums[e].num, c, "({} - {}) / ", (double)o->data[e], tv);
            mx_text_add(&sums[e].num, "%g", div);
            char ol[LABEL];
            mx_xvlabel(c, ol, sizeof ol, "", o, e);
            mx_text_add(&sums[e].sym, "(%s - t%s) / %s", ol, ol + strlen(mx_xsym(c, o->name)), binary ? "(N*K)" : "N");
            sums[e].value = g;
            sums[e].scale = fabs(g) + fabs(tv) / div;
            sums[e].terms = sums[e].products = 1;
        }
    }
}

/* ---- one step ---- */

typedef struct stepx {
    mx_xctx *c;
    json_t *step;
    mx_xsnap at_grad; /* weights the gradient was taken at, gradients, state before the update */
    int snap_ok;
} stepx;

static json_t *value_json(mx_xctx *c, const mx_value *v, const float *data) {
    json_t *shape = shape_json(v->rank, v->dims);
    if (c->batch > 1) json_array_insert_new(shape, 0, json_integer(c->batch));
    return json_pack("{s:s, s:s, s:o, s:o}", "name", v->name, "symbol", mx_xsym(c, v->name), "shape", shape, "data",
                     mx_xfloats(data, c->batch * v->size));
}

static json_t *forward_section(mx_xctx *c) {
    mx_model *m = c->m;
    json_t *fw = json_array();
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        if (n->n_in == 0) continue;
        const mx_xrule *r = mx_xrule_find(n);
        mx_text f = {0};
        if (r && r->unroll_forward) r->unroll_forward(c, n, fw);
        if (!act_layer(n)) {
            const mx_value *z = n->z;
            int64_t cnt = c->batch * z->size;
            json_t *e = value_json(c, z, z->data);
            if (r) {
                r->formula(c, n, &f);
                double *acc = mx_alloc_array((size_t)cnt, sizeof(double));
                mx_xsum *sums = sums_new(cnt);
                if (acc) {
                    r->forward(c, n, acc, sums);
                    json_t *lines = finish(c, sums, acc, z->data, cnt, "", z, NULL);
                    if (lines) json_object_set_new(e, "lines", lines);
                }
                sums_free(sums, cnt);
                mx_free(acc);
            } else {
                mx_text_add(&f, "%s = %s(", mx_xsym(c, z->name), n->layer->type->class_name);
                for (int k = 0; k < n->n_in; k++) mx_text_add(&f, "%s%s", k ? ", " : "", mx_xsym(c, n->in[k]->name));
                mx_text_add(&f, ")   (computed by the engine; no written-out rule for %s)", n->layer->type->class_name);
            }
            json_object_set_new(e, "formula", json_string(mx_text_str(&f)));
            json_object_set_new(e, "layer", json_string(n->layer->name));
            json_object_set_new(e, "op", json_string(n->layer->type->class_name));
            json_array_append_new(fw, e);
        }
        if (n->z != n->out[0]) { /* the activation */
            mx_text_clear(&f);
            mx_text a = {0};
            act_text(n->layer->act, &a);
            const mx_value *z = act_layer(n) ? n->in[0] : n->z;
            mx_text_add(&f, "%s = %s(%s)", mx_xsym(c, n->out[0]->name), mx_text_str(&a), mx_xsym(c, z->name));
            json_t *e = value_json(c, n->out[0], n->out[0]->data);
            json_object_set_new(e, "formula", json_string(mx_text_str(&f)));
            json_object_set_new(e, "layer", json_string(n->layer->name));
            json_object_set_new(e, "op", json_string(mx_text_str(&a)));
            json_t *lines = act_forward_lines(c, n->layer->act, z, n->out[0]);
            if (lines) json_object_set_new(e, "lines", lines);
            json_array_append_new(fw, e);
            mx_text_free(&a);
        }
        mx_text_free(&f);
    }
    return fw;
}

/* "dL/dh * sigmoid'(z_h), sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z))" */
static void act_rule(mx_xctx *c, const mx_act a, const mx_value *z, const mx_value *y, mx_text *rule) {
    mx_text f = {0};
    act_text(a, &f);
    if (a.kind == MX_ACT_SOFTMAX)
        mx_text_add(rule, "%s * (dL/d%s - sum_k dL/d%s[k] * %s[k])%s through softmax's Jacobian", mx_xsym(c, y->name),
                    mx_xsym(c, y->name), mx_xsym(c, y->name), mx_xsym(c, y->name),
                    mx_act_temperature(a) != 1 ? " / T" : "");
    else
        mx_text_add(rule, "dL/d%s * %s'(%s), %s", mx_xsym(c, y->name), mx_text_str(&f), mx_xsym(c, z->name),
                    derivative_text(a.kind));
    mx_text_free(&f);
}

/* the factor f'(z) of each element worked out from the values, where the
 * derivative follows from them in a line */
static void act_factor_lines(mx_xctx *c, const mx_act a, const mx_value *z, const mx_value *y, const float *factor,
                             json_t *e) {
    int64_t n = c->batch * y->size;
    if (n > MX_XLINES_MAX || a.kind == MX_ACT_SOFTMAX) return;
    json_t *lines = json_array();
    mx_text t = {0}, f = {0};
    act_text(a, &f);
    char zl[LABEL], yl[LABEL];
    for (int64_t i = 0; i < n; i++) {
        mx_text_clear(&t);
        mx_xvlabel(c, zl, sizeof zl, "", z, i);
        mx_xvlabel(c, yl, sizeof yl, "", y, i);
        mx_text_add(&t, "%s'(%s) = ", mx_text_str(&f), zl);
        double yv = y->data[i], zv = z->data[i];
        switch (a.kind) {
        case MX_ACT_SIGMOID: mx_xsay(&t, c, "%s*(1 - %s) = {}*(1 - {}) = ", yl, yl, yv, yv); break;
        case MX_ACT_TANH: mx_xsay(&t, c, "1 - %s^2 = 1 - {}^2 = ", yl, yv); break;
        case MX_ACT_RELU: mx_text_add(&t, "%s", zv > 0 ? "1 (z > 0): " : "0 (z <= 0): "); break;
        case MX_ACT_LEAKY_RELU: mx_text_add(&t, "%s", zv > 0 ? "1 (z > 0): " : "alpha (z <= 0): "); break;
        case MX_ACT_HEAVISIDE: mx_text_add(&t, "0 (no slope anywhere but the jump at 0): "); break;
        case MX_ACT_LINEAR: break;
        default: mx_xsay(&t, c, "at z = {}: ", zv); break;
        }
        mx_xnum(c, &t, factor[i]);
        json_array_append_new(lines, json_string(mx_text_str(&t)));
    }
    json_object_set_new(e, "factor_lines", lines);
    mx_text_free(&t);
    mx_text_free(&f);
}

/* The gradient of value v, from the loss or summed over its consumers. */
static void grad_of_value(mx_xctx *c, const mx_value *v, json_t *bw) {
    mx_model *m = c->m;
    int64_t cnt = c->batch * v->size;
    const mx_node *prod = v->producer;
    int is_out = v == m->outputs[0];
    if (is_out && prod->act_by_loss) {
        json_t *e = json_pack("{s:s, s:s, s:s}", "grad_of", v->name, "symbol", mx_xsym(c, v->name), "note",
                              m->loss_kind == MX_LOSS_BINARY_CE
                                  ? "not formed: with sigmoid and binary cross-entropy together the engine starts from dL/dz"
                                  : "not formed: with softmax and cross-entropy together the engine starts from dL/dz");
        json_array_append_new(bw, e);
        return;
    }
    if (!v->grad) return;
    double *acc = mx_alloc_array((size_t)cnt, sizeof(double));
    mx_xsum *sums = sums_new(cnt);
    float *factor = mx_alloc_array((size_t)cnt, sizeof(float));
    if (!acc || !factor) {
        mx_free(acc);
        mx_free(factor);
        sums_free(sums, cnt);
        return;
    }
    mx_text rule = {0};
    int explained = 1, parts = 0;
    mx_text_add(&rule, "dL/d%s = ", mx_xsym(c, v->name));
    json_t *e = value_json(c, v, v->grad);
    json_object_set_new(e, "grad_of", json_string(v->name));
    json_object_del(e, "name");
    if (is_out) {
        loss_grad(c, acc, sums);
        subst_o(&rule, loss_grad_rule(m), mx_xsym(c, v->name), NULL);
        mx_text_add(&rule, "   (the loss's derivative)");
        parts = 1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] != v) continue;
            if (parts++) mx_text_add(&rule, " + ");
            if (act_layer(n)) {
                act_rule(c, n->layer->act, n->in[0], n->out[0], &rule);
                act_backward(c, n->layer->act, n->in[0], n->out[0], acc, sums, factor);
                act_factor_lines(c, n->layer->act, n->in[0], n->out[0], factor, e);
                if (n->layer->act.kind != MX_ACT_SOFTMAX)
                    json_object_set_new(e, "factor", mx_xfloats(factor, cnt));
                if (n->layer->act.kind == MX_ACT_HEAVISIDE)
                    json_object_set_new(e, "note", json_string("heaviside'(z) is 0 wherever it is defined (the step jumps at z = 0): no gradient flows back through it"));
                continue;
            }
            const mx_xrule *r = mx_xrule_find(n);
            if (r && r->grad_input) {
                r->grad_input_rule(c, n, k, &rule);
                r->grad_input(c, n, k, acc, sums);
            } else {
                mx_text_add(&rule, "(backward of %s '%s', computed by the engine)", n->layer->type->class_name,
                            n->layer->name);
                explained = 0;
            }
        }
    }
    json_object_set_new(e, "rule", json_string(mx_text_str(&rule)));
    if (explained) {
        json_t *lines = finish(c, sums, acc, v->grad, cnt, "dL/d", v, NULL);
        if (lines) json_object_set_new(e, "lines", lines);
    }
    json_array_append_new(bw, e);
    mx_text_free(&rule);
    sums_free(sums, cnt);
    mx_free(acc);
    mx_free(factor);
}

/* dL/dz of a layer with its own activation: the chain-rule factor f'(z) */
static void grad_of_preactivation(mx_xctx *c, const mx_node *n, json_t *bw) {
    const mx_value *z = n->z, *y = n->out[0];
    if (!z->grad) return;
    int64_t cnt = c->batch * z->size;
    double *acc = mx_alloc_array((size_t)cnt, sizeof(double));
    float *factor = mx_alloc_array((size_t)cnt, sizeof(float));
    mx_xsum *sums = sums_new(cnt);
    json_t *e = value_json(c, z, z->grad);
    json_object_set_new(e, "grad_of", json_string(z->name));
    json_object_del(e, "name");
    mx_text rule = {0};
    if (acc && factor) {
        if (n->act_by_loss) {
            int bin = c->m->loss_kind == MX_LOSS_BINARY_CE;
            mx_text_add(&rule, "dL/d%s = (%s(%s) - t) / %s   (%s and cross-entropy together%s)", mx_xsym(c, z->name),
                        bin ? "sigmoid" : "softmax", mx_xsym(c, z->name), bin ? "(N*K)" : "N", bin ? "sigmoid" : "softmax",
                        bin ? "" : "; each row of t sums to 1");
            fused_grad(c, n, acc, sums);
        } else {
            mx_text_add(&rule, "dL/d%s = ", mx_xsym(c, z->name));
            act_rule(c, n->layer->act, z, y, &rule);
            act_backward(c, n->layer->act, z, y, acc, sums, factor);
            act_factor_lines(c, n->layer->act, z, y, factor, e);
            if (n->layer->act.kind != MX_ACT_SOFTMAX) json_object_set_new(e, "factor", mx_xfloats(factor, cnt));
            if (n->layer->act.kind == MX_ACT_HEAVISIDE)
                json_object_set_new(e, "note", json_string("heaviside'(z) is 0 wherever it is defined (the step jumps at z = 0): no gradient flows back through it"));
        }
        json_t *lines = finish(c, sums, acc, z->grad, cnt, "dL/d", z, NULL);
        if (lines) json_object_set_new(e, "lines", lines);
    }
    json_object_set_new(e, "rule", json_string(mx_text_str(&rule)));
    json_array_append_new(bw, e);
    mx_text_free(&rule);
    sums_free(sums, cnt);
    mx_free(acc);
    mx_free(factor);
}

static void grad_of_params(mx_xctx *c, const mx_node *n, json_t *bw) {
    const mx_layer *l = n->layer;
    if (n->call != l->n_nodes - 1) return; /* a shared layer: once, after its last call */
    const mx_xrule *r = mx_xrule_find(n);
    for (int j = 0; j < l->n_params; j++) {
        const mx_param *p = l->params[j];
        if (!p->grad) continue;
        json_t *shape = shape_json(p->rank, p->dims);
        json_t *e = json_pack("{s:s, s:s, s:o, s:o}", "grad_of", p->name, "symbol", mx_xsym(c, p->name), "shape", shape,
                              "data", mx_xfloats(p->grad, p->size));
        json_object_set_new(e, "param", json_true());
        mx_text rule = {0};
        mx_text_add(&rule, "dL/d%s = ", mx_xsym(c, p->name));
        double *acc = mx_alloc_array((size_t)p->size, sizeof(double));
        mx_xsum *sums = sums_new(p->size);
        if (acc && r && r->grad_param && l->n_nodes == 1) {
            r->grad_param_rule(c, n, j, &rule);
            r->grad_param(c, n, j, acc, sums);
            if (p->reg.l1 != 0 || p->reg.l2 != 0) { /* the regularizer's share */
                mx_text_add(&rule, " + l1 * sign(w) + 2 * l2 * w");
                for (int64_t k = 0; k < p->size; k++) {
                    double w = p->data[k], g = p->reg.l1 * ((w > 0) - (w < 0)) + 2.0 * p->reg.l2 * w;
                    acc[k] += g;
                    if (sums) mx_xsum_term(&sums[k], c, "l1*sign(w) + 2*l2*w", g);
                }
            }
            json_t *lines = finish(c, sums, acc, p->grad, p->size, "dL/d", NULL, p);
            if (lines) json_object_set_new(e, "lines", lines);
        } else {
            mx_text_add(&rule, "(computed by the engine%s)", l->n_nodes > 1 ? ", summed over the layer's calls" : "");
        }
        json_object_set_new(e, "rule", json_string(mx_text_str(&rule)));
        json_array_append_new(bw, e);
        mx_text_free(&rule);
        sums_free(sums, p->size);
        mx_free(acc);
    }
}

static json_t *backward_section(mx_xctx *c) {
    mx_model *m = c->m;
    json_t *bw = json_array();
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        const mx_node *n = m->nodes[i];
        if (n->n_in == 0) continue;
        grad_of_value(c, n->out[0], bw);
        if (!act_layer(n) && n->z != n->out[0]) grad_of_preactivation(c, n, bw);
        const mx_xrule *r = mx_xrule_find(n);
        if (r && r->unroll_backward) r->unroll_backward(c, n, bw);
        grad_of_params(c, n, bw);
    }
    for (int i = 0; i < m->n_inputs; i++) grad_of_value(c, m->inputs[i], bw);
    return bw;
}

static json_t *weights_json(mx_xctx *c, float *const *w) {
    json_t *a = json_array();
    for (int i = 0; i < c->m->n_params; i++) {
        const mx_param *p = c->m->params[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:o}", "name", p->name, "symbol", mx_xsym(c, p->name),
                                           "shape", shape_json(p->rank, p->dims), "data", mx_xfloats(w[i], p->size)));
    }
    return a;
}

static void observe(mx_model *m, double loss, double reg, void *user) {
    stepx *s = user;
    mx_xctx *c = s->c;
    MX_UNUSED(m);
    json_object_set_new(s->step, "forward", forward_section(c));
    json_object_set_new(s->step, "loss", loss_section(c, loss, reg));
    json_object_set_new(s->step, "backward", backward_section(c));
    s->snap_ok = mx_xsnap_take(&s->at_grad, m) == 0;
}

/* ---- the whole trace ---- */

static json_t *graph_section(mx_xctx *c) {
    mx_model *m = c->m;
    json_t *g = json_array();
    mx_text t = {0};
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        json_t *e;
        if (n->n_in == 0) {
            e = json_pack("{s:s, s:s, s:s, s:o}", "value", n->out[0]->name, "symbol", mx_xsym(c, n->out[0]->name), "op",
                          "input", "shape", shape_json(n->out[0]->rank, n->out[0]->dims));
            char f[MX_NAME_MAX + 32];
            snprintf(f, sizeof f, "%.100s: the input", mx_xsym(c, n->out[0]->name));
            json_object_set_new(e, "formula", json_string(f));
            json_array_append_new(g, e);
            continue;
        }
        const mx_xrule *r = mx_xrule_find(n);
        mx_text_clear(&t);
        if (!act_layer(n)) {
            if (r)
                r->formula(c, n, &t);
            else {
                mx_text_add(&t, "%s = %s(", mx_xsym(c, n->z->name), n->layer->type->class_name);
                for (int k = 0; k < n->n_in; k++) mx_text_add(&t, "%s%s", k ? ", " : "", mx_xsym(c, n->in[k]->name));
                mx_text_add(&t, ")");
            }
            e = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "value", n->z->name, "symbol", mx_xsym(c, n->z->name), "op",
                          n->layer->type->class_name, "layer", n->layer->name, "shape",
                          shape_json(n->z->rank, n->z->dims), "formula", mx_text_str(&t));
            json_t *ins = json_array(), *ps = json_array();
            for (int k = 0; k < n->n_in; k++) json_array_append_new(ins, json_string(n->in[k]->name));
            for (int k = 0; k < n->layer->n_params; k++) json_array_append_new(ps, json_string(n->layer->params[k]->name));
            json_object_set_new(e, "inputs", ins);
            json_object_set_new(e, "params", ps);
            mx_text_clear(&t);
            if (n->layer->type->explain_shape) {
                n->layer->type->explain_shape(n, &t);
                json_object_set_new(e, "shape_rule", json_string(mx_text_str(&t)));
            }
            mx_text_clear(&t);
            if (n->layer->type->explain_params && n->call == 0) {
                n->layer->type->explain_params(n, &t);
                json_object_set_new(e, "params_rule", json_string(mx_text_str(&t)));
            }
            json_array_append_new(g, e);
        }
        if (n->z != n->out[0]) {
            mx_text a = {0};
            act_text(n->layer->act, &a);
            const mx_value *z = act_layer(n) ? n->in[0] : n->z;
            mx_text_clear(&t);
            mx_text_add(&t, "%s = %s(%s)", mx_xsym(c, n->out[0]->name), mx_text_str(&a), mx_xsym(c, z->name));
            e = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "value", n->out[0]->name, "symbol",
                          mx_xsym(c, n->out[0]->name), "op", mx_text_str(&a), "layer", n->layer->name, "shape",
                          shape_json(n->out[0]->rank, n->out[0]->dims), "formula", mx_text_str(&t), "derivative",
                          derivative_text(n->layer->act.kind));
            json_object_set_new(e, "inputs", json_pack("[s]", z->name));
            json_array_append_new(g, e);
            mx_text_free(&a);
        }
    }
    mx_text_free(&t);
    return g;
}

/* the optimizer's hyperparameters as the model's Keras trainingConfig
 * writes them, with the form's name, title, reference and formulas */
static json_t *optimizer_json(const mx_model *m) {
    static const char *const titles[] = {"Keras (Keras 3 and TensorFlow.js)", "textbook", "PyTorch"};
    const mx_optimizer_config *o = m->opt;
    const char *book = o->form == MX_OPT_FORM_TEXTBOOK
                           ? (o->kind == MX_OPT_SGD ? "Sutskever et al. (2013); Nesterov with the look-ahead gradient"
                              : o->kind == MX_OPT_ADAM ? "Kingma & Ba (2015), Algorithm 1"
                                                       : "Goodfellow et al., Deep Learning, Algorithm 8.5")
                           : NULL;
    json_t *tc = mx_training_config_write(m);
    json_t *j = json_deep_copy(json_object_get(json_object_get(tc, "optimizer_config"), "config"));
    json_decref(tc);
    if (!j) j = json_object();
    json_object_del(j, "name");
    json_object_set_new(j, "class_name", json_string(mx_optimizer_name(o->kind)));
    json_object_set_new(j, "form", json_string(mx_optimizer_form_name(o->form)));
    json_object_set_new(j, "form_title", json_string(titles[o->form]));
    if (book) json_object_set_new(j, "reference", json_string(book));
    json_object_set_new(j, "formulas", mx_xupdate_formulas(o));
    return j;
}

json_t *mx_explain_trace(const mx_netfile *nf, int steps, int precision) {
    mx_model *m = nf->model;
    mx_xctx c = {m, nf, nf->batch, precision > 0 ? precision : 6, NULL, json_array(), 0, 0};
    c.symbols = make_symbols(nf);
    if (mx_graph_plan(m, nf->batch, 1)) {
        json_decref(c.symbols);
        json_decref(c.notes);
        return NULL;
    }
    mx_text note = {0};
    mx_text_add(&note, "Indices start at 0. A value's first index is the sample when the batch holds several. "
                       "Dense kernels are W[i,j] from input i to unit j (z = x W + b); Conv2D kernels are "
                       "W[ky,kx,c,f]. dL/dv is the gradient of the loss with respect to v.");
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_xrule *r = mx_xrule_find(m->nodes[i]);
        if (!r || !r->unroll_forward) continue;
        mx_text_add(&note, " Time steps count from 1: x_t is row t-1 of a sample's sequence, h_0 the initial state, "
                           "a_t = x_t W + h_(t-1) U + b the sum before the activation at step t and h_t = act(a_t) "
                           "the state after it (W kernel[i,j], U recurrent_kernel[i,j], from unit i to unit j).");
        break;
    }
    json_t *root = json_pack("{s:s, s:s, s:i, s:s}", "format", "mlexp-explain-1", "name", nf->name, "batch", nf->batch,
                             "notation", mx_text_str(&note));
    mx_text_free(&note);
    if (nf->description) json_object_set_new(root, "description", json_string(nf->description));
    json_t *input = value_json(&c, m->inputs[0], nf->x);
    for (int i = 0; i < m->n_nodes; i++) /* read by a recurrent layer: (timesteps, features) per sample */
        if (m->nodes[i]->n_in && m->nodes[i]->in[0] == m->inputs[0] && m->nodes[i]->layer->type->unrolled)
            json_object_set_new(input, "sequence", json_true());
    json_object_set_new(root, "input", input);
    if (m->n_inputs > 1) { /* the initial states a file gives (h0) */
        json_t *st = json_array();
        const float *x = nf->x + nf->batch * m->inputs[0]->size;
        for (int i = 1; i < m->n_inputs; i++) {
            json_array_append_new(st, value_json(&c, m->inputs[i], x));
            x += nf->batch * m->inputs[i]->size;
        }
        json_object_set_new(root, "initial_states", st);
    }
    json_t *tj = json_pack("{s:o, s:o}", "shape",
                           json_pack("[I]", (json_int_t)nf->t_size), "data", mx_xfloats(nf->t, nf->t_size));
    json_object_set_new(root, "targets", tj);
    json_object_set_new(root, "graph", graph_section(&c));
    json_t *params = json_array();
    for (int i = 0; i < m->n_params; i++) {
        const mx_param *p = m->params[i];
        json_t *e = json_pack("{s:s, s:s, s:o, s:b, s:b}", "name", p->name, "symbol", mx_xsym(&c, p->name), "shape",
                              shape_json(p->rank, p->dims), "trainable", p->trainable && p->layer->trainable, "given",
                              json_object_get(nf->given, p->name) != NULL);
        if (!json_object_get(nf->given, p->name))
            json_object_set_new(e, "initializer", json_string(p->init.class_name[0] ? p->init.class_name : "default"));
        json_array_append_new(params, e);
    }
    json_object_set_new(root, "parameters", params);
    mx_text lf = {0}, lg = {0};
    subst_o(&lf, loss_formula(m), mx_xsym(&c, m->outputs[0]->name), NULL);
    subst_o(&lg, loss_grad_rule(m), mx_xsym(&c, m->outputs[0]->name), NULL);
    json_object_set_new(root, "loss", json_pack("{s:s, s:s, s:s}", "name", mx_loss_name((mx_loss_kind)m->loss_kind),
                                                "formula", mx_text_str(&lf), "gradient", mx_text_str(&lg)));
    mx_text_free(&lf);
    mx_text_free(&lg);
    json_object_set_new(root, "optimizer", optimizer_json(m));

    json_t *steps_j = json_array();
    int64_t tsize = nf->t_size;
    for (int s = 0; s < steps; s++) {
        const float *x = nf->x; /* the inputs one after the other */
        for (int i = 0; i < m->n_inputs; i++) {
            memcpy(m->inputs[i]->data, x, sizeof(float) * (size_t)(nf->batch * m->inputs[i]->size));
            x += nf->batch * m->inputs[i]->size;
        }
        memcpy(m->targets, nf->t, sizeof(float) * (size_t)tsize);
        mx_xsnap before;
        if (mx_xsnap_take(&before, m)) break;
        int64_t t = m->iterations + 1;
        float lr = mx_learning_rate(m->opt, m->iterations);
        json_t *step = json_pack("{s:i, s:I, s:f}", "step", s + 1, "t", (json_int_t)t, "learning_rate", (double)lr);
        json_object_set_new(step, "weights", weights_json(&c, before.w));
        stepx sx = {&c, step, {0}, 0};
        int64_t correct = 0, total = 0;
        int checks0 = c.checks;
        size_t notes0 = json_array_size(c.notes);
        mx_train_step_observed(m, nf->batch, m->seed, &correct, &total, observe, &sx);
        if (sx.snap_ok) {
            const mx_optimizer_config *o = m->opt;
            if (o->kind == MX_OPT_SGD && o->form == MX_OPT_FORM_TEXTBOOK && o->nesterov && o->momentum != 0)
                json_object_set_new(step, "lookahead", weights_json(&c, sx.at_grad.w));
            json_object_set_new(step, "update", mx_xupdate_explain(&c, &sx.at_grad, t, lr));
        }
        mx_xsnap_free(&sx.at_grad);
        mx_xsnap_free(&before);
        json_t *notes = json_array();
        for (size_t k = notes0; k < json_array_size(c.notes); k++) json_array_append(notes, json_array_get(c.notes, k));
        json_object_set_new(step, "check", json_pack("{s:b, s:i, s:o}", "ok", json_array_size(notes) == 0, "numbers",
                                                     c.checks - checks0, "notes", notes));
        json_array_append_new(steps_j, step);
    }
    json_object_set_new(root, "steps", steps_j);
    json_t *final = json_array();
    for (int i = 0; i < m->n_params; i++) {
        const mx_param *p = m->params[i];
        json_array_append_new(final, json_pack("{s:s, s:s, s:o, s:o}", "name", p->name, "symbol", mx_xsym(&c, p->name),
                                               "shape", shape_json(p->rank, p->dims), "data", mx_xfloats(p->data, p->size)));
    }
    json_object_set_new(root, "final_weights", final);
    json_object_set_new(root, "check", json_pack("{s:b, s:i, s:f, s:O}", "ok", json_array_size(c.notes) == 0, "numbers",
                                                 c.checks, "max_relative_difference", c.max_err, "notes", c.notes));
    json_decref(c.notes);
    json_decref(c.symbols);
    return root;
}
