/* unroll.c: a SimpleRNN call unrolled over its time steps, as the books
 * draw it (docs/explain.md, "An RNN unrolled"):
 *   a_t = x_t W + h_{t-1} U + b,  h_t = act(a_t)          t = 1 .. T
 * and backpropagation through time, in backward order:
 *   dL/dh_t = dL/dy_t (where the output holds h_t) + dL/da_{t+1} U^T
 *   dL/da_t = dL/dh_t * act'(a_t)
 *   dL/dW = sum_t x_t^T dL/da_t,  dL/dU = sum_t h_{t-1}^T dL/da_t,  dL/db = sum_t dL/da_t.
 * The engine runs the loop in one node (layers/recurrent.c); its workspace
 * keeps every state h_t and, after the backward pass, every dL/da_t
 * (mx_layer_type.unrolled). Those are the numbers shown; a_t and dL/dh_t,
 * which the engine does not keep, are recomputed in double from them, and
 * each line is checked against the engine's next number (h_t, dL/da_t, the
 * weights' gradients, the output). */
#include "explain/explain.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LABEL 96

typedef struct rnn {
    mx_unrolled u;
    int64_t T, I, U, B;
    const float *x;             /* (B, T, I) the call's input */
    const mx_param *w, *r, *b;  /* kernel (I, U), recurrent_kernel (U, U), bias (U) or NULL */
    char hs[40], as[40], xs[40]; /* symbols of the states, the sums, the input */
} rnn;

static int rnn_of(const mx_xctx *c, const mx_node *n, rnn *r) {
    memset(r, 0, sizeof *r);
    const mx_layer *l = n->layer;
    if (!l->type->unrolled || l->type->unrolled(n, c->batch, &r->u) || !r->u.states) return -1;
    r->T = r->u.steps, r->I = r->u.inputs, r->U = r->u.units, r->B = c->batch;
    r->x = n->in[0]->data;
    r->w = l->params[0];
    r->r = l->params[1];
    r->b = l->n_params > 2 ? l->params[2] : NULL;
    snprintf(r->hs, sizeof r->hs, "%.39s", mx_xsym(c, n->out[0]->name));
    snprintf(r->xs, sizeof r->xs, "%.39s", mx_xsym(c, n->in[0]->name));
    char key[MX_NAME_MAX + 32];
    snprintf(key, sizeof key, "%s/a", n->out[0]->name);
    const char *a = json_string_value(json_object_get(c->symbols, key));
    if (a)
        snprintf(r->as, sizeof r->as, "%.39s", a);
    else if (!strcmp(r->hs, "h"))
        snprintf(r->as, sizeof r->as, "a");
    else
        snprintf(r->as, sizeof r->as, "a_%.36s", r->hs);
    return 0;
}

/* the engine's state h_t (t = 0 .. T) and gradient dL/da_t (t = 1 .. T), (B, U) */
static const float *state(const rnn *r, int64_t t) { return r->u.states + t * r->B * r->U; }
static const float *dsum(const rnn *r, int64_t t) { return r->u.sums + (t - 1) * r->B * r->U; }
/* the input time step read at step t (go_backwards reads them last first) */
static int64_t in_time(const rnn *r, int64_t t) { return r->u.reversed ? r->T + 1 - t : t; }
static float xval(const rnn *r, int64_t row, int64_t t, int64_t i) {
    return r->x[(row * r->T + in_time(r, t) - 1) * r->I + i];
}

/* "h_2[0]", "dL/da_3[1,0]": a symbol at step t with the element's index
 * (the sample first when the batch holds several) */
static void step_label(const mx_xctx *c, char *buf, size_t n, const char *prefix, const char *sym, int64_t t, int64_t e,
                       int64_t width) {
    mx_text s = {0};
    mx_text_add(&s, "%s%s_%lld", prefix, sym, (long long)t);
    mx_xindex(c, &s, e, 1, &width, 1);
    snprintf(buf, n, "%s", mx_text_str(&s));
    mx_text_free(&s);
}

static void step_name(char *buf, size_t n, const mx_node *nd, const char *what, int64_t t) {
    snprintf(buf, n, "%.100s/%s[t=%lld]", nd->out[0]->name, what, (long long)t);
}

static mx_xsum *sums_new(int64_t n) {
    return n > MX_XLINES_MAX ? NULL : mx_alloc_array((size_t)n, sizeof(mx_xsum));
}

static void sums_free(mx_xsum *s, int64_t n) {
    for (int64_t i = 0; s && i < n; i++) {
        mx_text_free(&s[i].sym);
        mx_text_free(&s[i].num);
    }
    mx_free(s);
}

static json_t *floats_of(const double *v, int64_t n) {
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++) json_array_append_new(a, isfinite(v[i]) ? json_real((float)v[i]) : json_null());
    return a;
}

static json_t *entry(const mx_xctx *c, const char *name, const char *sym, const rnn *r, int64_t t, json_t *data) {
    json_t *shape = json_pack("[I]", (json_int_t)r->U);
    if (c->batch > 1) json_array_insert_new(shape, 0, json_integer(c->batch));
    return json_pack("{s:s, s:s, s:o, s:o, s:I}", "name", name, "symbol", sym, "shape", shape, "data", data, "t",
                     (json_int_t)t);
}

/* a_t (B, U) = x_t W + h_{t-1} U + b from the engine's h_{t-1}, in double;
 * scale: the sum of the terms' sizes (for the tolerance of checks) */
static void step_sums(const mx_xctx *c, const rnn *r, int64_t t, double *acc, double *scale, mx_xsum *sums) {
    const float *hp = state(r, t - 1), *W = r->w->data, *R = r->r->data;
    char a[LABEL], b[LABEL];
    for (int64_t row = 0; row < r->B; row++)
        for (int64_t j = 0; j < r->U; j++) {
            int64_t e = row * r->U + j;
            double s = 0, z = 0;
            for (int64_t i = 0; i < r->I; i++) {
                double xv = xval(r, row, t, i), wv = W[i * r->U + j];
                s += xv * wv;
                z += fabs(xv * wv);
                if (sums) {
                    step_label(c, a, sizeof a, "", r->xs, in_time(r, t), row * r->I + i, r->I);
                    mx_xplabel(c, b, sizeof b, "", r->w, i * r->U + j);
                    mx_xsum_product(&sums[e], c, a, xv, b, wv);
                }
            }
            for (int64_t k = 0; k < r->U; k++) {
                double hv = hp[row * r->U + k], uv = R[k * r->U + j];
                s += hv * uv;
                z += fabs(hv * uv);
                if (sums) {
                    step_label(c, a, sizeof a, "", r->hs, t - 1, row * r->U + k, r->U);
                    mx_xplabel(c, b, sizeof b, "", r->r, k * r->U + j);
                    mx_xsum_product(&sums[e], c, a, hv, b, uv);
                }
            }
            if (r->b) {
                s += r->b->data[j];
                z += fabs(r->b->data[j]);
                if (sums) {
                    mx_xplabel(c, b, sizeof b, "", r->b, j);
                    mx_xsum_term(&sums[e], c, b, r->b->data[j]);
                }
            }
            acc[e] = s;
            if (scale) scale[e] = z;
        }
}

static const char *act_of(const rnn *r) { return mx_act_name(r->u.act.kind); }

/* act'(a) from a and h = act(a), and how it follows from them */
static void factor_line(const mx_xctx *c, const rnn *r, mx_text *t, const char *al, const char *hl, double a, double h,
                        double f) {
    mx_text_add(t, "%s'(%s) = ", act_of(r), al);
    switch (r->u.act.kind) {
    case MX_ACT_TANH: mx_xsay(t, c, "1 - %s^2 = 1 - {}^2 = ", hl, h); break;
    case MX_ACT_SIGMOID: mx_xsay(t, c, "%s*(1 - %s) = {}*(1 - {}) = ", hl, hl, h, h); break;
    case MX_ACT_RELU: mx_text_add(t, "%s", a > 0 ? "1 (a > 0): " : "0 (a <= 0): "); break;
    case MX_ACT_LINEAR: break;
    default: mx_xsay(t, c, "at a = {}: ", a); break;
    }
    mx_xnum(c, t, f);
}

/* ---- the forward pass: h_0, then a_t and h_t for every step ---- */

static void rnn_unroll_forward(mx_xctx *c, const mx_node *n, json_t *fw) {
    rnn r;
    if (rnn_of(c, n, &r)) return;
    const int64_t cnt = r.B * r.U;
    char name[MX_NAME_MAX + 48], sym[64], lab[LABEL], al[LABEL];
    mx_text f = {0};
    step_name(name, sizeof name, n, "h", 0);
    snprintf(sym, sizeof sym, "%s_0", r.hs);
    json_t *e = entry(c, name, sym, &r, 0, mx_xfloats(state(&r, 0), cnt));
    mx_text_add(&f, "%s", sym);
    if (n->n_in > 1 && strcmp(sym, mx_xsym(c, n->in[1]->name)))
        mx_text_add(&f, " = %s: the initial state, as given", mx_xsym(c, n->in[1]->name));
    else if (n->n_in > 1)
        mx_text_add(&f, ": the initial state, as given");
    else if (r.u.stateful)
        mx_text_add(&f, ": the initial state, kept from the previous batch (stateful)");
    else
        mx_text_add(&f, " = 0: the initial state (Keras's default)");
    json_object_set_new(e, "formula", json_string(mx_text_str(&f)));
    json_object_set_new(e, "layer", json_string(n->layer->name));
    json_object_set_new(e, "op", json_string("initial state"));
    json_array_append_new(fw, e);

    double *acc = mx_alloc_array((size_t)(2 * cnt), sizeof(double)), *scale = acc ? acc + cnt : NULL;
    float *af = mx_alloc_array((size_t)cnt, sizeof(float)), *hf = mx_alloc_array((size_t)cnt, sizeof(float));
    for (int64_t t = 1; acc && af && hf && t <= r.T; t++) {
        /* a_t, written out */
        mx_xsum *sums = sums_new(cnt);
        for (int64_t k = 0; sums && k < cnt; k++) mx_xsum_begin(&sums[k]);
        step_sums(c, &r, t, acc, scale, sums);
        json_t *lines = sums ? json_array() : NULL;
        for (int64_t k = 0; sums && k < cnt; k++) {
            step_label(c, lab, sizeof lab, "", r.as, t, k, r.U);
            mx_xsum_end(&sums[k], c, lab, lines);
        }
        step_name(name, sizeof name, n, "a", t);
        snprintf(sym, sizeof sym, "%s_%lld", r.as, (long long)t);
        e = entry(c, name, sym, &r, t, floats_of(acc, cnt));
        mx_text_clear(&f);
        mx_text_add(&f, "%s = %s_%lld %s + %s_%lld %s", sym, r.xs, (long long)in_time(&r, t), mx_xsym(c, r.w->name),
                    r.hs, (long long)t - 1, mx_xsym(c, r.r->name));
        if (r.b) mx_text_add(&f, " + %s", mx_xsym(c, r.b->name));
        json_object_set_new(e, "formula", json_string(mx_text_str(&f)));
        json_object_set_new(e, "layer", json_string(n->layer->name));
        json_object_set_new(e, "op", json_string("SimpleRNN step"));
        if (lines) json_object_set_new(e, "lines", lines);
        json_array_append_new(fw, e);
        /* h_t = act(a_t): the engine's, checked against act of the sum above */
        const float *h = state(&r, t);
        for (int64_t k = 0; k < cnt; k++) af[k] = (float)acc[k];
        mx_act_eltwise(r.u.act, af, hf, cnt);
        lines = sums ? json_array() : NULL;
        for (int64_t k = 0; k < cnt; k++) {
            step_label(c, lab, sizeof lab, "", r.hs, t, k, r.U);
            mx_xcheck(c, lab, h[k], hf[k], fabs(hf[k]) + scale[k]);
            if (!lines) continue;
            step_label(c, al, sizeof al, "", r.as, t, k, r.U);
            mx_text_clear(&f);
            mx_text_add(&f, "%s = %s(%s) = %s(", lab, act_of(&r), al, act_of(&r));
            mx_xnum(c, &f, acc[k]);
            mx_text_add(&f, ") = ");
            mx_xnum(c, &f, h[k]);
            json_array_append_new(lines, json_string(mx_text_str(&f)));
        }
        step_name(name, sizeof name, n, "h", t);
        snprintf(sym, sizeof sym, "%s_%lld", r.hs, (long long)t);
        e = entry(c, name, sym, &r, t, mx_xfloats(h, cnt));
        mx_text_clear(&f);
        mx_text_add(&f, "%s = %s(%s_%lld)", sym, act_of(&r), r.as, (long long)t);
        json_object_set_new(e, "formula", json_string(mx_text_str(&f)));
        json_object_set_new(e, "layer", json_string(n->layer->name));
        json_object_set_new(e, "op", json_string(act_of(&r)));
        if (lines) json_object_set_new(e, "lines", lines);
        json_array_append_new(fw, e);
        sums_free(sums, cnt);
    }
    mx_text_free(&f);
    mx_free(acc);
    mx_free(af);
    mx_free(hf);
}

/* ---- backpropagation through time: dL/dh_t and dL/da_t, t = T .. 1 ---- */

/* where the output holds h_t: its element index for (row, j), or -1 */
static int64_t out_index(const rnn *r, int64_t row, int64_t t, int64_t j) {
    if (r->u.return_sequences) return (row * r->T + t - 1) * r->U + j;
    return t == r->T ? row * r->U + j : -1;
}

static void rnn_unroll_backward(mx_xctx *c, const mx_node *n, json_t *bw) {
    rnn r;
    if (rnn_of(c, n, &r)) return;
    const mx_value *y = n->out[0];
    const int64_t cnt = r.B * r.U;
    const float *R = r.r->data;
    const char *ysym = mx_xsym(c, y->name), *usym = mx_xsym(c, r.r->name);
    char name[MX_NAME_MAX + 48], sym[64], lab[LABEL], b[LABEL];
    double *dh = mx_alloc_array((size_t)(2 * cnt), sizeof(double)), *dhs = dh ? dh + cnt : NULL;
    double *acc = mx_alloc_array((size_t)cnt, sizeof(double));
    float *af = mx_alloc_array((size_t)cnt, sizeof(float)), *fac = mx_alloc_array((size_t)cnt, sizeof(float));
    mx_text t1 = {0};
    for (int64_t t = r.T; dh && acc && af && fac && t >= 1; t--) {
        /* dL/dh_t: from the output, and through a_{t+1} */
        mx_xsum *sums = sums_new(cnt);
        for (int64_t k = 0; sums && k < cnt; k++) mx_xsum_begin(&sums[k]);
        for (int64_t row = 0; row < r.B; row++)
            for (int64_t j = 0; j < r.U; j++) {
                int64_t e = row * r.U + j, o = out_index(&r, row, t, j);
                double s = 0, z = 0;
                if (o >= 0 && y->grad) {
                    s += y->grad[o];
                    z += fabs(y->grad[o]);
                    if (sums) {
                        mx_xvlabel(c, b, sizeof b, "dL/d", y, o);
                        mx_xsum_term(&sums[e], c, b, y->grad[o]);
                    }
                }
                for (int64_t k = 0; t < r.T && k < r.U; k++) {
                    double g = dsum(&r, t + 1)[row * r.U + k], uv = R[j * r.U + k];
                    s += g * uv;
                    z += fabs(g * uv);
                    if (sums) {
                        step_label(c, lab, sizeof lab, "dL/d", r.as, t + 1, row * r.U + k, r.U);
                        mx_xplabel(c, b, sizeof b, "", r.r, j * r.U + k);
                        mx_xsum_product(&sums[e], c, lab, g, b, uv);
                    }
                }
                dh[e] = s;
                dhs[e] = z;
            }
        json_t *lines = sums ? json_array() : NULL;
        for (int64_t k = 0; sums && k < cnt; k++) {
            step_label(c, lab, sizeof lab, "dL/d", r.hs, t, k, r.U);
            mx_xsum_end(&sums[k], c, lab, lines);
        }
        step_name(name, sizeof name, n, "h", t);
        snprintf(sym, sizeof sym, "%s_%lld", r.hs, (long long)t);
        json_t *e = entry(c, name, sym, &r, t, floats_of(dh, cnt));
        json_object_set_new(e, "grad_of", json_string(name));
        json_object_del(e, "name");
        mx_text_clear(&t1);
        mx_text_add(&t1, "dL/d%s = ", sym);
        int from_out = r.u.return_sequences || t == r.T;
        if (from_out && r.u.return_sequences)
            mx_text_add(&t1, "dL/d%s[%lld]", ysym, (long long)t - 1);
        else if (from_out)
            mx_text_add(&t1, "dL/d%s", ysym);
        if (t < r.T) mx_text_add(&t1, "%sdL/d%s_%lld %s^T", from_out ? " + " : "", r.as, (long long)t + 1, usym);
        mx_text_add(&t1, "   (%s_%lld ", r.hs, (long long)t);
        if (from_out && r.u.return_sequences) mx_text_add(&t1, "is row %lld of the output %s", (long long)t - 1, ysym);
        if (from_out && !r.u.return_sequences) mx_text_add(&t1, "is the output %s", ysym);
        if (t < r.T) mx_text_add(&t1, "%sfeeds %s_%lld", from_out ? " and " : "", r.as, (long long)t + 1);
        mx_text_add(&t1, ")");
        json_object_set_new(e, "rule", json_string(mx_text_str(&t1)));
        if (lines) json_object_set_new(e, "lines", lines);
        json_array_append_new(bw, e);
        sums_free(sums, cnt);

        /* dL/da_t = dL/dh_t * act'(a_t): the engine's, checked */
        step_sums(c, &r, t, acc, NULL, NULL);
        for (int64_t k = 0; k < cnt; k++) af[k] = (float)acc[k];
        const float *h = state(&r, t), *da = dsum(&r, t);
        mx_act_derivative(r.u.act, af, h, fac, cnt);
        sums = sums_new(cnt);
        lines = sums ? json_array() : NULL;
        json_t *flines = sums ? json_array() : NULL;
        char hl[LABEL], al[LABEL];
        for (int64_t k = 0; k < cnt; k++) {
            step_label(c, lab, sizeof lab, "dL/d", r.as, t, k, r.U);
            double want = dh[k] * fac[k];
            mx_xcheck(c, lab, da[k], want, fabs(want) + dhs[k] * fabs(fac[k]));
            if (!sums) continue;
            mx_xsum_begin(&sums[k]);
            step_label(c, b, sizeof b, "dL/d", r.hs, t, k, r.U);
            step_label(c, al, sizeof al, "", r.as, t, k, r.U);
            step_label(c, hl, sizeof hl, "", r.hs, t, k, r.U);
            char fl[2 * LABEL];
            snprintf(fl, sizeof fl, "%s'(%s)", act_of(&r), al);
            mx_xsum_product(&sums[k], c, b, dh[k], fl, fac[k]);
            mx_xsum_end(&sums[k], c, lab, lines);
            mx_text_clear(&t1);
            factor_line(c, &r, &t1, al, hl, af[k], h[k], fac[k]);
            json_array_append_new(flines, json_string(mx_text_str(&t1)));
        }
        step_name(name, sizeof name, n, "a", t);
        snprintf(sym, sizeof sym, "%s_%lld", r.as, (long long)t);
        e = entry(c, name, sym, &r, t, mx_xfloats(da, cnt));
        json_object_set_new(e, "grad_of", json_string(name));
        json_object_del(e, "name");
        mx_text_clear(&t1);
        mx_text_add(&t1, "dL/d%s = dL/d%s_%lld * %s'(%s)", sym, r.hs, (long long)t, act_of(&r), sym);
        if (r.u.act.kind == MX_ACT_TANH)
            mx_text_add(&t1, ", tanh'(a) = 1 - tanh(a)^2 = 1 - %s_%lld^2", r.hs, (long long)t);
        if (r.u.act.kind == MX_ACT_SIGMOID)
            mx_text_add(&t1, ", sigmoid'(a) = %s_%lld * (1 - %s_%lld)", r.hs, (long long)t, r.hs, (long long)t);
        json_object_set_new(e, "rule", json_string(mx_text_str(&t1)));
        json_object_set_new(e, "factor", mx_xfloats(fac, cnt));
        if (lines) json_object_set_new(e, "lines", lines);
        if (flines) json_object_set_new(e, "factor_lines", flines);
        json_array_append_new(bw, e);
        sums_free(sums, cnt);
    }
    mx_text_free(&t1);
    mx_free(dh);
    mx_free(acc);
    mx_free(af);
    mx_free(fac);
}

/* ---- the call's output, the input's and the weights' gradients ---- */

/* "h = (h_1, h_2, h_3), h_t = tanh(x_t W_h + h_(t-1) U_h + b_h)" */
static void rnn_formula(mx_xctx *c, const mx_node *n, mx_text *t) {
    rnn r;
    if (rnn_of(c, n, &r)) {
        mx_text_add(t, "%s = SimpleRNN(%s)", mx_xsym(c, n->z->name), mx_xsym(c, n->in[0]->name));
        return;
    }
    if (!r.u.return_sequences) {
        mx_text_add(t, "%s = %s_%lld", mx_xsym(c, n->z->name), r.hs, (long long)r.T);
    } else {
        mx_text_add(t, "%s = (%s_1", mx_xsym(c, n->z->name), r.hs);
        if (r.T > 3) mx_text_add(t, ", ..., %s_%lld", r.hs, (long long)r.T);
        for (int64_t k = 2; r.T <= 3 && k <= r.T; k++) mx_text_add(t, ", %s_%lld", r.hs, (long long)k);
        mx_text_add(t, ")");
    }
    mx_text_add(t, ", %s_t = %s(%s_%s %s + %s_(t-1) %s", r.hs, act_of(&r), r.xs, r.u.reversed ? "(T+1-t)" : "t",
                mx_xsym(c, r.w->name), r.hs, mx_xsym(c, r.r->name));
    if (r.b) mx_text_add(t, " + %s", mx_xsym(c, r.b->name));
    mx_text_add(t, ") from %s_0: %s", r.hs,
                r.u.return_sequences ? "every step's state, one row per step (return_sequences)" : "the last state");
}

static void rnn_forward(mx_xctx *c, const mx_node *n, double *acc, mx_xsum *sums) {
    rnn r;
    if (rnn_of(c, n, &r)) return;
    char a[LABEL];
    for (int64_t row = 0; row < r.B; row++)
        for (int64_t t = r.u.return_sequences ? 1 : r.T; t <= r.T; t++)
            for (int64_t j = 0; j < r.U; j++) {
                int64_t e = out_index(&r, row, t, j);
                double v = state(&r, t)[row * r.U + j];
                acc[e] += v;
                if (sums) {
                    step_label(c, a, sizeof a, "", r.hs, t, row * r.U + j, r.U);
                    mx_xsum_term(&sums[e], c, a, v);
                }
            }
}

static void rnn_grad_input_rule(mx_xctx *c, const mx_node *n, int k, mx_text *t) {
    rnn r;
    if (rnn_of(c, n, &r)) return;
    if (k == 0 && r.u.reversed)
        mx_text_add(t, "dL/d%s_t %s^T in row T-t (go_backwards: step t reads %s_(T+1-t), row T-t)", r.as,
                    mx_xsym(c, r.w->name), r.xs);
    else if (k == 0)
        mx_text_add(t, "dL/d%s_t %s^T in row t-1 (%s_t is row t-1 of %s)", r.as, mx_xsym(c, r.w->name), r.xs, r.xs);
    else
        mx_text_add(t, "dL/d%s_1 %s^T (the initial state feeds a_1)", r.as, mx_xsym(c, r.r->name));
}

static void rnn_grad_input(mx_xctx *c, const mx_node *n, int k, double *acc, mx_xsum *sums) {
    rnn r;
    if (rnn_of(c, n, &r)) return;
    char a[LABEL], b[LABEL];
    const float *M = k == 0 ? r.w->data : r.r->data; /* (I or U, U) */
    const mx_param *p = k == 0 ? r.w : r.r;
    const int64_t rows = k == 0 ? r.I : r.U;
    for (int64_t row = 0; row < r.B; row++)
        for (int64_t t = 1; t <= (k == 0 ? r.T : 1); t++) /* h_0 feeds a_1 only */
            for (int64_t i = 0; i < rows; i++) {
                int64_t e = k == 0 ? (row * r.T + in_time(&r, t) - 1) * r.I + i : row * r.U + i;
                for (int64_t j = 0; j < r.U; j++) {
                    double g = dsum(&r, t)[row * r.U + j], m = M[i * r.U + j];
                    acc[e] += g * m;
                    if (sums) {
                        step_label(c, a, sizeof a, "dL/d", r.as, t, row * r.U + j, r.U);
                        mx_xplabel(c, b, sizeof b, "", p, i * r.U + j);
                        mx_xsum_product(&sums[e], c, a, g, b, m);
                    }
                }
            }
}

static void rnn_grad_param_rule(mx_xctx *c, const mx_node *n, int p, mx_text *t) {
    rnn r;
    if (rnn_of(c, n, &r)) return;
    if (p == 0)
        mx_text_add(t, "sum_t %s_t^T dL/d%s_t", r.xs, r.as);
    else if (p == 1)
        mx_text_add(t, "sum_t %s_(t-1)^T dL/d%s_t", r.hs, r.as);
    else
        mx_text_add(t, "sum_t dL/d%s_t%s", r.as, c->batch > 1 ? ", over the samples too" : "");
}

static void rnn_grad_param(mx_xctx *c, const mx_node *n, int p, double *acc, mx_xsum *sums) {
    rnn r;
    if (rnn_of(c, n, &r)) return;
    char a[LABEL], b[LABEL];
    const int64_t rows = p == 0 ? r.I : p == 1 ? r.U : 1;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < r.U; j++) {
            int64_t e = i * r.U + j;
            for (int64_t t = 1; t <= r.T; t++)
                for (int64_t row = 0; row < r.B; row++) {
                    double g = dsum(&r, t)[row * r.U + j];
                    step_label(c, b, sizeof b, "dL/d", r.as, t, row * r.U + j, r.U);
                    if (p == 2) {
                        acc[e] += g;
                        if (sums) mx_xsum_term(&sums[e], c, b, g);
                        continue;
                    }
                    double v = p == 0 ? xval(&r, row, t, i) : state(&r, t - 1)[row * r.U + i];
                    acc[e] += v * g;
                    if (!sums) continue;
                    if (p == 0)
                        step_label(c, a, sizeof a, "", r.xs, in_time(&r, t), row * r.I + i, r.I);
                    else
                        step_label(c, a, sizeof a, "", r.hs, t - 1, row * r.U + i, r.U);
                    mx_xsum_product(&sums[e], c, a, v, b, g);
                }
        }
}

/* SimpleRNN with an elementwise activation, no dropout and no state outputs */
static int rnn_applies(const mx_node *n) {
    mx_unrolled u;
    if (!n->layer->type->unrolled || n->layer->type->unrolled(n, 1, &u)) return 0;
    return !u.dropout && !u.return_state && u.act.kind != MX_ACT_SOFTMAX && u.gates == u.units;
}

const mx_xrule mx_xrule_simple_rnn = {"SimpleRNN",         rnn_formula,         rnn_forward,
                                      rnn_grad_input_rule, rnn_grad_input,      rnn_grad_param_rule,
                                      rnn_grad_param,      rnn_applies,         rnn_unroll_forward,
                                      rnn_unroll_backward};
