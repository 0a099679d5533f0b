/* gradcheck.c: analytic gradients against central finite differences, per
 * weight tensor and for the input, in float32 (what the engine computes
 * in) with the loss summed in double (less rounding noise in the
 * differences). */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct gc {
    mx_model *m;
    const float *x;       /* the input, (batch, input size) */
    int batch;
    const float *c;       /* projection of the output, (batch, out size); NULL: the model's loss */
    const float *targets; /* with the loss */
    mx_exec ex;
    double floor, tol;
    const float *states; /* stateful layers' states before the check */
} gc;

/* L = sum c * y, or the compiled loss plus the regularizers. Every pass
 * starts from the same carried states (constants, as in truncated
 * backpropagation through time). */
static double loss_at(gc *g) {
    mx_model *m = g->m;
    const float *x = g->x; /* the inputs one after the other */
    for (int i = 0; i < m->n_inputs; i++) {
        int64_t n = g->batch * m->inputs[i]->size;
        memcpy(m->inputs[i]->data, x, sizeof(float) * (size_t)n);
        x += n;
    }
    if (g->states) mx_model_states_set(m, g->states);
    mx_graph_forward(m, &g->ex);
    if (!g->c) {
        int64_t correct = 0, total = 0;
        return mx_loss_step(m, g->batch, 0, &correct, &total) + mx_regularization(m, 0);
    }
    const mx_value *out = m->outputs[0];
    double s = 0;
    for (int64_t i = 0; i < g->batch * out->size; i++) s += (double)g->c[i] * out->data[i];
    return s;
}

/* A kink (ReLU at 0, a max changing hands, a step's jump) within the step
 * makes the difference quotient meaningless. Two signs of one, from
 * central differences fd and the gap between the one-sided slopes
 * (forward - backward) at steps h and h/2:
 * - the two quotients disagree: the kink lies between h/2 and h;
 * - the one-sided gap does not shrink with the step: a smooth function's
 *   gap is h L'' and halves with h, a kink's stays at the slope's jump. */
static int kinked(const double fd[2], const double gap[2]) {
    if (fabs(fd[0] - fd[1]) > 0.02 * (fabs(fd[0]) + fabs(fd[1])) + 6e-4) return 1;
    return fabs(gap[1]) > 0.75 * fabs(gap[0]) && fabs(gap[1]) > 0.02 * fabs(fd[1]) + 1e-3;
}

/* the judged error: relative, with a floor, since float32 differences carry
 * ~1e-4 of noise: gradients below the floor are judged on absolute error */
static double err_of(const gc *g, double a, double n) { return fabs(a - n) / fmax(fabs(a) + fabs(n), g->floor); }

/* Central differences of L along d (one entry when d is NULL: w[i]) at
 * step h; w is restored. */
static double central(gc *g, float *w, const float *w0, const float *d, int64_t n, int64_t i, double h) {
    if (!d) {
        float v = w[i];
        w[i] = v + (float)h;
        double lp = loss_at(g), hp = (double)w[i] - v;
        w[i] = v - (float)h;
        double lm = loss_at(g), hm = v - (double)w[i];
        w[i] = v;
        return (lp - lm) / (hp + hm);
    }
    for (int64_t k = 0; k < n; k++) w[k] = w0[k] + (float)(h * d[k]);
    double lp = loss_at(g);
    for (int64_t k = 0; k < n; k++) w[k] = w0[k] - (float)(h * d[k]);
    double lm = loss_at(g);
    memcpy(w, w0, sizeof(float) * (size_t)n);
    return (lp - lm) / (2 * h);
}

/* A difference that fails gets a second opinion at steps 2h and h/4: where
 * the quotients spread by a good part of the error, the function is not
 * smooth at this scale (many kinks within the step: max pooling near ties,
 * ReLUs near 0 across a large layer) and the entry is skipped; a wrong
 * gradient gives quotients that agree with each other, not with it. */
static int rough(gc *g, float *w, const float *w0, const float *d, int64_t n, int64_t i, double eps, const double fd[2],
                 double analytic) {
    if (err_of(g, analytic, fd[1]) <= g->tol) return 0;
    double a = central(g, w, w0, d, n, i, 2 * eps), b = central(g, w, w0, d, n, i, eps / 4);
    double lo = fmin(fmin(fd[0], fd[1]), fmin(a, b)), hi = fmax(fmax(fd[0], fd[1]), fmax(a, b));
    return hi - lo > 0.25 * fabs(analytic - fd[1]);
}

static void note(mx_gradcheck_tensor *t, const gc *g, double a, double n) {
    double d = fabs(a - n), big = fmax(fabs(a), fabs(n));
    t->checked++;
    t->max_abs_err = fmax(t->max_abs_err, d);
    if (big > 0) t->max_rel_err = fmax(t->max_rel_err, d / big);
    t->max_err = fmax(t->max_err, err_of(g, a, n));
}

/* Check entries of w (size n) against grad (one by one, then all at once
 * along a random direction when there are more than per_tensor), restoring w. */
static int check_tensor(gc *g, float *w, const float *grad, int64_t n, int per_tensor, double eps, mx_rng *rng,
                        mx_gradcheck_tensor *t) {
    int count = (int)MX_MIN((int64_t)per_tensor, n);
    double l0 = loss_at(g);
    for (int k = 0; k < count; k++) {
        int64_t i = count == n ? k : (int64_t)mx_rng_below(rng, (uint64_t)n);
        float w0 = w[i];
        double fd[2], gap[2];
        for (int s = 0; s < 2; s++) {
            float h = (float)(eps / (1 + s));
            w[i] = w0 + h;
            double lp = loss_at(g), hp = (double)(w0 + h) - w0; /* the steps actually taken in float */
            w[i] = w0 - h;
            double lm = loss_at(g), hm = w0 - (double)(w0 - h);
            fd[s] = (lp - lm) / (hp + hm);
            gap[s] = (lp - l0) / hp - (l0 - lm) / hm;
        }
        w[i] = w0;
        if (kinked(fd, gap) || rough(g, w, NULL, NULL, n, i, eps, fd, grad[i]))
            t->skipped++;
        else
            note(t, g, grad[i], fd[1]);
    }
    if (n <= count) return 0;
    /* dL along a random direction d is grad . d */
    float *w0 = mx_alloc_array((size_t)n, sizeof(float)), *d = mx_alloc_array((size_t)n, sizeof(float));
    if (!w0 || !d) {
        mx_free(w0);
        mx_free(d);
        return -1;
    }
    memcpy(w0, w, sizeof(float) * (size_t)n);
    double dot = 0, fd[2], gap[2];
    for (int64_t i = 0; i < n; i++) {
        d[i] = (float)mx_rng_normal(rng) / sqrtf((float)n);
        dot += (double)grad[i] * d[i];
    }
    for (int s = 0; s < 2; s++) {
        double h = eps / (1 + s);
        for (int64_t i = 0; i < n; i++) w[i] = w0[i] + (float)(h * d[i]);
        double lp = loss_at(g);
        for (int64_t i = 0; i < n; i++) w[i] = w0[i] - (float)(h * d[i]);
        double lm = loss_at(g);
        fd[s] = (lp - lm) / (2 * h);
        gap[s] = (lp - 2 * l0 + lm) / h;
    }
    memcpy(w, w0, sizeof(float) * (size_t)n);
    t->directional = 1;
    t->dir_analytic = dot;
    t->dir_numeric = fd[1];
    t->dir_skipped = kinked(fd, gap) || rough(g, w, w0, d, n, 0, eps, fd, dot);
    t->dir_err = t->dir_skipped ? 0 : err_of(g, dot, fd[1]);
    mx_free(w0);
    mx_free(d);
    return 0;
}

static void describe(mx_gradcheck_tensor *t, const char *name, int rank, const int64_t *dims, int64_t size) {
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    memcpy(t->shape, dims, sizeof(int64_t) * (size_t)rank);
    t->size = size;
}

int mx_model_gradcheck(mx_model *m, const mx_tensor *x, const mx_gradcheck_options *opt, mx_gradcheck_report *r) {
    memset(r, 0, sizeof *r);
    mx_gradcheck_options o = opt ? *opt : (mx_gradcheck_options){0};
    if (o.per_tensor <= 0) o.per_tensor = 24;
    if (o.eps <= 0) o.eps = 1e-3;
    if (o.tol <= 0) o.tol = 1e-2;
    if (o.floor <= 0) o.floor = 0.1;
    r->tol = o.tol;
    r->eps = o.eps;
    r->floor = o.floor;
    if (m->n_outputs != 1) return mx_fail("gradient checks need a model with one output");
    int64_t in_size = 0; /* per sample, all inputs */
    for (int i = 0; i < m->n_inputs; i++) in_size += m->inputs[i]->size;
    if (x->rank < 1 || x->shape[0] < 1 || x->shape[0] > 1 << 16 || mx_tensor_size(x) != x->shape[0] * in_size ||
        (m->n_inputs == 1 && x->rank != m->inputs[0]->rank + 1))
        return mx_fail(m->n_inputs == 1 ? "the input must be (batch, input shape...)"
                                        : "the input must be (batch, ...) holding every input's batch in turn");
    int use_loss = o.targets != NULL;
    if (use_loss && !m->compiled) return mx_fail("a gradient check with targets needs a compiled model (a loss)");
    int batch = (int)x->shape[0];
    int saved_inputs = m->grad_inputs;
    /* the projection needs the plain activation backward everywhere; the
     * loss keeps its fusion with the output activation, as in training */
    mx_node *fused = !use_loss && m->outputs[0]->producer->act_by_loss ? m->outputs[0]->producer : NULL;
    if (fused) fused->act_by_loss = 0;
    m->grad_inputs = 1;
    /* plan from scratch: the input gradient changes the flags */
    mx_free(m->plan_mem);
    m->plan_mem = NULL;
    m->plan_batch = 0;
    int64_t nw = mx_model_weights_size(m);
    float *saved = mx_alloc_array((size_t)MX_MAX(nw, 1), sizeof(float));
    const mx_value *out = m->outputs[0];
    int64_t nout = batch * out->size, nin = batch * in_size, ngrad = 0, nstates = mx_model_states_size(m);
    for (int i = 0; i < m->n_params; i++) ngrad += m->params[i]->trainable ? m->params[i]->size : 0;
    float *c = use_loss ? NULL : mx_alloc_array((size_t)nout, sizeof(float));
    float *xin = mx_alloc_array((size_t)nin, sizeof(float));
    float *gin = mx_alloc_array((size_t)nin, sizeof(float));
    float *gw = mx_alloc_array((size_t)MX_MAX(ngrad, 1), sizeof(float));
    float *states = nstates ? mx_alloc_array((size_t)nstates, sizeof(float)) : NULL;
    r->tensors = mx_alloc_array((size_t)m->n_params + 1, sizeof *r->tensors);
    int rc = -1;
    if (!saved || (!use_loss && !c) || !xin || !gin || !gw || !r->tensors || (nstates && !states) ||
        mx_graph_plan(m, batch, 1))
        goto done;
    mx_model_weights_get(m, saved); /* moving statistics change in training passes: put them back after */
    if (states) mx_model_states_get(m, states);
    mx_rng rng;
    mx_rng_seed(&rng, o.seed);
    for (int64_t i = 0; c && i < nout; i++) c[i] = (float)mx_rng_normal(&rng);
    if (use_loss) memcpy(m->targets, o.targets, sizeof(float) * (size_t)(mx_loss_sparse(m->loss_kind) ? batch : nout));
    memcpy(xin, x->data, sizeof(float) * (size_t)nin);
    gc g = {m, xin, batch, c, o.targets, {batch, 1, o.seed, 0}, o.floor, o.tol, states};

    /* analytic */
    loss_at(&g);
    if (m->step_error[0]) {
        mx_fail("%s", m->step_error);
        goto done;
    }
    if (use_loss) {
        int64_t correct = 0, total = 0;
        mx_loss_step(m, batch, 1, &correct, &total);
    } else {
        memcpy(out->grad, c, sizeof(float) * (size_t)nout);
    }
    mx_graph_backward(m, &g.ex);
    if (use_loss) mx_regularization(m, 1);
    float *gp = gin;
    for (int i = 0; i < m->n_inputs; i++) {
        int64_t n = batch * m->inputs[i]->size;
        memcpy(gp, m->inputs[i]->grad, sizeof(float) * (size_t)n);
        gp += n;
    }
    int64_t off = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->grad) {
            memcpy(gw + off, m->params[i]->grad, sizeof(float) * (size_t)m->params[i]->size);
            off += m->params[i]->size;
        }

    /* numeric, tensor by tensor */
    off = 0;
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (!p->grad) continue;
        mx_gradcheck_tensor *t = &r->tensors[r->n++];
        describe(t, p->name, p->rank, p->dims, p->size);
        if (check_tensor(&g, p->data, gw + off, p->size, o.per_tensor, o.eps, &rng, t)) goto done;
        off += p->size;
    }
    mx_gradcheck_tensor *t = &r->tensors[r->n++];
    describe(t, m->n_inputs == 1 ? "input" : "inputs", x->rank, x->shape, nin);
    if (check_tensor(&g, xin, gin, nin, o.per_tensor, o.eps, &rng, t)) goto done;

    r->pass = 1;
    for (int i = 0; i < r->n; i++) {
        mx_gradcheck_tensor *e = &r->tensors[i];
        e->pass = e->max_err <= o.tol && (!e->directional || e->dir_skipped || e->dir_err <= o.tol) &&
                  (e->checked > 0 || e->directional);
        r->pass &= e->pass;
        r->checked += e->checked + (e->directional && !e->dir_skipped);
        r->skipped += e->skipped + e->dir_skipped;
        double worst = fmax(e->max_err, e->dir_err);
        if (worst > r->max_err || !r->worst[0]) {
            r->max_err = worst;
            snprintf(r->worst, sizeof r->worst, "%s", e->name);
        }
    }
    r->uses_loss = use_loss;
    rc = 0;
done:
    if (saved && rc == 0) mx_model_weights_set(m, saved);
    if (states && rc == 0) mx_model_states_set(m, states);
    mx_free(states);
    mx_free(saved);
    mx_free(c);
    mx_free(xin);
    mx_free(gin);
    mx_free(gw);
    if (rc) mx_gradcheck_report_free(r);
    m->grad_inputs = saved_inputs;
    if (fused) fused->act_by_loss = 1;
    mx_free(m->plan_mem);
    m->plan_mem = NULL;
    m->plan_batch = 0;
    return rc;
}

void mx_gradcheck_report_free(mx_gradcheck_report *r) {
    mx_free(r->tensors);
    r->tensors = NULL;
    r->n = 0;
}

int mx_gradcheck(mx_model *m, const float *x, int batch, uint64_t seed, int per_tensor, double eps,
                 mx_gradcheck_result *r) {
    memset(r, 0, sizeof *r);
    mx_tensor xt = {2, {batch, 0}, (float *)x}; /* several inputs: (batch, their sizes together) */
    for (int i = 0; i < m->n_inputs; i++) xt.shape[1] += m->inputs[i]->size;
    if (m->n_inputs == 1) {
        xt.rank = m->inputs[0]->rank + 1;
        memcpy(xt.shape + 1, m->inputs[0]->dims, sizeof(int64_t) * (size_t)m->inputs[0]->rank);
    }
    mx_gradcheck_options o = {per_tensor, eps, 0, 0, seed, NULL};
    mx_gradcheck_report rep;
    if (mx_model_gradcheck(m, &xt, &o, &rep)) return -1;
    for (int i = 0; i < rep.n; i++) {
        const mx_gradcheck_tensor *t = &rep.tensors[i];
        r->checked += t->checked + (t->directional && !t->dir_skipped);
        r->skipped += t->skipped + t->dir_skipped;
        double worst = fmax(t->max_err, t->dir_err);
        if (worst > r->max_err) {
            r->max_err = worst;
            snprintf(r->worst, sizeof r->worst, "%s", t->name);
        }
    }
    mx_gradcheck_report_free(&rep);
    return 0;
}
