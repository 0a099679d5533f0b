/* gradcheck.c: analytic gradients against central finite differences. */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct gc {
    mx_model *m;
    const float *x;
    int batch;
    const float *c; /* projection of the output, (batch, out size) */
    mx_exec ex;
    const float *states; /* stateful layers' states before the check */
} gc;

/* L = sum c * y in double: less rounding noise in the differences. Every
 * pass starts from the same carried states (constants, as in truncated
 * backpropagation through time). */
static double loss_at(gc *g) {
    const float *x = g->x;
    for (int i = 0; i < g->m->n_inputs; i++) {
        int64_t n = g->batch * g->m->inputs[i]->size;
        memcpy(g->m->inputs[i]->data, x, sizeof(float) * (size_t)n);
        x += n;
    }
    if (g->states) mx_model_states_set(g->m, g->states);
    mx_graph_forward(g->m, &g->ex);
    const mx_value *out = g->m->outputs[0];
    double s = 0;
    for (int64_t i = 0; i < g->batch * out->size; i++) s += (double)g->c[i] * out->data[i];
    return s;
}

/* relative error, with a floor: float32 differences carry ~1e-4 of noise,
 * so gradients below ~0.1 are judged on absolute error (1e-3 at tol 1e-2) */
static double err_of(double a, double n) { return fabs(a - n) / fmax(fabs(a) + fabs(n), 0.1); }

/* The two step sizes disagree: a kink (ReLU at 0, a max changing hands)
 * lies within the larger step, so the difference quotient means nothing. */
static int kinked(double fd_big, double fd_small) {
    return fabs(fd_big - fd_small) > 0.02 * (fabs(fd_big) + fabs(fd_small)) + 2e-3;
}

static void note(mx_gradcheck_result *r, double err, const char *what, int64_t i, double a, double n) {
    r->checked++;
    if (err > r->max_err) {
        r->max_err = err;
        snprintf(r->worst, sizeof r->worst, "%s[%lld]: analytic %.6g, numeric %.6g", what, (long long)i, a, n);
    }
}

/* Check the entries of w (size n) against grad, restoring w afterwards. */
static void check_tensor(gc *g, float *w, const float *grad, int64_t n, const char *what, int per_tensor, double eps,
                         mx_rng *rng, mx_gradcheck_result *r) {
    int count = (int)MX_MIN((int64_t)per_tensor, n);
    for (int k = 0; k < count; k++) {
        int64_t i = count == n ? k : (int64_t)mx_rng_below(rng, (uint64_t)n);
        float w0 = w[i];
        double fd[2];
        for (int s = 0; s < 2; s++) {
            float h = (float)(eps / (1 + s));
            w[i] = w0 + h;
            double lp = loss_at(g);
            w[i] = w0 - h;
            double lm = loss_at(g);
            /* the step actually taken in float */
            fd[s] = (lp - lm) / ((double)(w0 + h) - (double)(w0 - h));
        }
        w[i] = w0;
        if (kinked(fd[0], fd[1])) {
            r->skipped++;
            continue;
        }
        note(r, err_of(grad[i], fd[1]), what, i, grad[i], fd[1]);
    }
    /* all entries at once along a random direction d: dL = grad . d */
    if (n > count) {
        float *w0 = mx_alloc_array((size_t)n, sizeof(float)), *d = mx_alloc_array((size_t)n, sizeof(float));
        if (!w0 || !d) {
            mx_free(w0);
            mx_free(d);
            return;
        }
        memcpy(w0, w, sizeof(float) * (size_t)n);
        double dot = 0, fd[2];
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
        }
        memcpy(w, w0, sizeof(float) * (size_t)n);
        if (kinked(fd[0], fd[1]))
            r->skipped++;
        else
            note(r, err_of(dot, fd[1]), what, -1, dot, fd[1]);
        mx_free(w0);
        mx_free(d);
    }
}

int mx_gradcheck(mx_model *m, const float *x, int batch, uint64_t seed, int per_tensor, double eps,
                 mx_gradcheck_result *r) {
    memset(r, 0, sizeof *r);
    int saved_inputs = m->grad_inputs;
    /* the projection loss needs the plain activation backward everywhere */
    mx_node *fused = m->outputs[0]->producer->act_by_loss ? m->outputs[0]->producer : NULL;
    if (fused) fused->act_by_loss = 0;
    m->grad_inputs = 1;
    /* plan from scratch: the input gradient changes the flags */
    mx_free(m->plan_mem);
    m->plan_mem = NULL;
    if (mx_graph_plan(m, batch, 1)) {
        m->grad_inputs = saved_inputs;
        if (fused) fused->act_by_loss = 1;
        return -1;
    }
    const mx_value *out = m->outputs[0];
    int64_t nout = batch * out->size, nin = 0, nstates = mx_model_states_size(m);
    for (int i = 0; i < m->n_inputs; i++) nin += batch * m->inputs[i]->size;
    float *c = mx_alloc_array((size_t)nout, sizeof(float));
    float *xin = mx_alloc_array((size_t)nin, sizeof(float));
    float *gin = mx_alloc_array((size_t)nin, sizeof(float));
    float *states = nstates ? mx_alloc_array((size_t)nstates, sizeof(float)) : NULL;
    int64_t nw = 0;
    for (int i = 0; i < m->n_params; i++) nw += m->params[i]->grad ? m->params[i]->size : 0;
    float *gw = mx_alloc_array((size_t)MX_MAX(nw, 1), sizeof(float));
    int rc = -1;
    if (!c || !xin || !gin || !gw || (nstates && !states)) goto done;
    if (states) mx_model_states_get(m, states);
    mx_rng rng;
    mx_rng_seed(&rng, seed);
    for (int64_t i = 0; i < nout; i++) c[i] = (float)mx_rng_normal(&rng);
    memcpy(xin, x, sizeof(float) * (size_t)nin);
    gc g = {m, xin, batch, c, {batch, 1, seed, 0}, states};

    /* analytic */
    loss_at(&g);
    if (m->step_error[0]) {
        mx_fail("%s", m->step_error);
        goto done;
    }
    memcpy(out->grad, c, sizeof(float) * (size_t)nout);
    mx_graph_backward(m, &g.ex);
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

    /* numeric */
    off = 0;
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (!p->grad) continue;
        check_tensor(&g, p->data, gw + off, p->size, p->name, per_tensor, eps, &rng, r);
        off += p->size;
    }
    check_tensor(&g, xin, gin, nin, "input", per_tensor, eps, &rng, r);
    if (states) mx_model_states_set(m, states);
    rc = 0;
done:
    mx_free(states);
    mx_free(c);
    mx_free(xin);
    mx_free(gin);
    mx_free(gw);
    m->grad_inputs = saved_inputs;
    if (fused) fused->act_by_loss = 1;
    mx_free(m->plan_mem);
    m->plan_mem = NULL;
    m->plan_batch = 0;
    return rc;
}
