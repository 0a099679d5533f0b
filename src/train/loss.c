/* loss.c: losses with Keras semantics (mean over samples) and accuracy.
 * When the output layer ends in softmax (sigmoid) and the loss is
 * categorical (binary) cross-entropy on probabilities, the loss is computed
 * from the logits and writes dL/dlogits = (p - t) / n directly: stable, and
 * no softmax backward. Probabilities from other layers are clipped to
 * [1e-7, 1 - 1e-7] as Keras does. */
#include "train/train.h"

#include <math.h>
#include <string.h>

#define EPS 1e-7f

static const char *const g_loss_names[] = {"sparse_categorical_crossentropy", "categorical_crossentropy",
                                           "binary_crossentropy", "mean_squared_error", "half_squared_error",
                                           "sum_squared_error"};

const char *mx_loss_name(mx_loss_kind kind) { return g_loss_names[kind]; }
int mx_loss_sparse(int kind) { return kind == MX_LOSS_SPARSE_CATEGORICAL_CE; }

static int64_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Categorical cross-entropy of one row of logits z against target
 * distribution t (or class index cls when t is NULL); writes
 * dz = (softmax(z) * sum(t) - t) * scale when dz is given. */
static double ce_logits_row(const float *z, const float *t, int64_t cls, int64_t c, float *dz, float scale) {
    float mx = z[argmax(z, c)];
    double s = 0;
    for (int64_t i = 0; i < c; i++) s += exp((double)(z[i] - mx));
    double lse = log(s) + mx, loss = 0, tsum = 0;
    if (t) {
        for (int64_t i = 0; i < c; i++) {
            loss += t[i] * (lse - z[i]);
            tsum += t[i];
        }
    } else {
        loss = lse - z[cls];
        tsum = 1;
    }
    if (dz)
        for (int64_t i = 0; i < c; i++) {
            float p = (float)exp((double)z[i] - lse);
            float ti = t ? t[i] : (i == cls ? 1.0f : 0.0f);
            dz[i] = (p * (float)tsum - ti) * scale;
        }
    return loss;
}

/* Keras categorical cross-entropy on probabilities: normalise the row,
 * clip, -sum t log p. */
static double ce_probs_row(const float *p, const float *t, int64_t cls, int64_t c, float *dp, float scale) {
    double s = 0, loss = 0, tsum = 0;
    for (int64_t i = 0; i < c; i++) s += p[i];
    if (s <= 0) s = EPS;
    for (int64_t i = 0; i < c; i++) {
        float ti = t ? t[i] : (i == cls ? 1.0f : 0.0f);
        double q = p[i] / s;
        double qc = q < EPS ? EPS : q > 1 - EPS ? 1 - EPS : q;
        loss -= ti * log(qc);
        tsum += ti;
    }
    if (dp) /* d/dp_j of -sum_i t_i log(p_i / s) = -t_j / p_j + sum(t) / s, zero where clipped */
        for (int64_t i = 0; i < c; i++) {
            float ti = t ? t[i] : (i == cls ? 1.0f : 0.0f);
            double q = p[i] / s;
            double g = (q < EPS || q > 1 - EPS ? 0 : -ti / p[i]) + tsum / s;
            dp[i] = (float)(g * scale);
        }
    return loss;
}

double mx_loss_step(mx_model *m, int batch, int grad, int64_t *correct, int64_t *total) {
    mx_value *out = m->outputs[0];
    mx_node *prod = out->producer;
    int fused = prod->act_by_loss;
    const float *y = fused ? prod->z->data : out->data; /* logits when fused */
    float *dy = grad ? (fused ? prod->z->grad : out->grad) : NULL;
    int64_t c = out->rank ? out->dims[out->rank - 1] : 1;
    int64_t rows = batch * out->size / c; /* CE is per row of the last axis */
    const float *t = m->targets;
    int logits = fused || m->from_logits;
    double loss = 0;
    switch ((mx_loss_kind)m->loss_kind) {
    case MX_LOSS_SPARSE_CATEGORICAL_CE:
    case MX_LOSS_CATEGORICAL_CE: {
        int sparse = m->loss_kind == MX_LOSS_SPARSE_CATEGORICAL_CE;
        float scale = 1.0f / (float)rows;
        for (int64_t r = 0; r < rows; r++) {
            const float *tr = sparse ? NULL : t + r * c;
            int64_t cls = sparse ? (int64_t)t[r] : argmax(tr, c);
            float *d = dy ? dy + r * c : NULL;
            loss += logits ? ce_logits_row(y + r * c, tr, cls, c, d, scale)
                           : ce_probs_row(y + r * c, tr, cls, c, d, scale);
            *correct += argmax(y + r * c, c) == cls;
        }
        *total += rows;
        return loss / (double)rows;
    }
    case MX_LOSS_BINARY_CE: {
        int64_t n = batch * out->size;
        float scale = 1.0f / (float)n;
        for (int64_t i = 0; i < n; i++) {
            float ti = t[i], v = y[i];
            if (logits) { /* max(z, 0) - z t + log(1 + exp(-|z|)) */
                loss += fmaxf(v, 0) - v * ti + log1pf(expf(-fabsf(v)));
                if (dy) dy[i] = (1.0f / (1.0f + expf(-v)) - ti) * scale;
                *correct += (v > 0) == (ti > 0.5f);
            } else {
                float p = fminf(fmaxf(v, EPS), 1 - EPS);
                loss -= ti * logf(p) + (1 - ti) * logf(1 - p);
                if (dy) dy[i] = (v <= EPS || v >= 1 - EPS) ? 0.0f : (v - ti) / (v * (1 - v)) * scale;
                *correct += (v > 0.5f) == (ti > 0.5f);
            }
        }
        *total += n;
        return loss / (double)n;
    }
    case MX_LOSS_MSE:
    case MX_LOSS_HALF_SQUARED_ERROR:
    case MX_LOSS_SUM_SQUARED_ERROR: {
        /* L = w sum (y - t)^2 over everything, dL/dy = 2 w (y - t): w = 1/n
         * for the mean, 1/(2 batch) for half of the squared norm per sample,
         * 1 for the sum */
        int64_t n = batch * out->size;
        double w = m->loss_kind == MX_LOSS_MSE ? 1.0 / (double)n
                   : m->loss_kind == MX_LOSS_HALF_SQUARED_ERROR ? 0.5 / batch
                                                                 : 1.0;
        float scale = (float)(2 * w);
        for (int64_t i = 0; i < n; i++) {
            float d = y[i] - t[i];
            loss += (double)d * d;
            if (dy) dy[i] = d * scale;
        }
        /* accuracy as Keras picks it: binary for one unit, else argmax */
        if (c == 1)
            for (int64_t i = 0; i < n; i++) *correct += (y[i] > 0.5f) == (t[i] > 0.5f);
        else
            for (int64_t r = 0; r < rows; r++) *correct += argmax(y + r * c, c) == argmax(t + r * c, c);
        *total += c == 1 ? n : rows;
        return loss * w;
    }
    }
    return NAN;
}

/* ---- regularization: loss += l1 * sum|w| + l2 * sum w^2 ----
 * Fixed chunks summed in order keep the penalty independent of threads. */

#define REG_CHUNK 4096

typedef struct reg_job {
    mx_param *p;
    int grad;
    double *sums; /* per chunk */
} reg_job;

static void reg_chunks(void *arg, int64_t c0, int64_t c1) {
    reg_job *j = arg;
    mx_param *p = j->p;
    float l1 = p->reg.l1, l2 = p->reg.l2;
    for (int64_t c = c0; c < c1; c++) {
        int64_t b = c * REG_CHUNK, e = MX_MIN(b + REG_CHUNK, p->size);
        float s1 = 0, s2 = 0;
        for (int64_t k = b; k < e; k++) {
            float w = p->data[k];
            s1 += fabsf(w);
            s2 += w * w;
        }
        if (j->grad && p->grad)
            for (int64_t k = b; k < e; k++) {
                float w = p->data[k];
                p->grad[k] += l1 * (float)((w > 0) - (w < 0)) + 2 * l2 * w;
            }
        j->sums[c] = l1 * (double)s1 + l2 * (double)s2;
    }
}

double mx_regularization(mx_model *m, int grad) {
    double pen = 0, sums[256];
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (p->reg.l1 == 0 && p->reg.l2 == 0) continue;
        for (int64_t c0 = 0; c0 * REG_CHUNK < p->size; c0 += 256) {
            int64_t nchunks = MX_MIN((int64_t)256, (p->size + REG_CHUNK - 1) / REG_CHUNK - c0);
            mx_param view = *p; /* chunks c0.. of this tensor */
            view.data += c0 * REG_CHUNK;
            if (view.grad) view.grad += c0 * REG_CHUNK;
            view.size = MX_MIN(p->size - c0 * REG_CHUNK, 256 * REG_CHUNK);
            reg_job j = {&view, grad, sums};
            mx_parallel_for(nchunks, 4, reg_chunks, &j);
            for (int64_t c = 0; c < nchunks; c++) pen += sums[c];
        }
    }
    return pen;
}
