/* optimizer.c: SGD, Adam and RMSprop with the update rules and defaults of
 * Keras, gradient clipping, and saving/loading of their state.
 *   SGD:     v = momentum v - lr g;  w += v  (nesterov: w += momentum v - lr g)
 *   Adam:    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *            w -= lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
 *   RMSprop: v = rho v + (1-rho) g^2;  step = lr g / (sqrt(v) + eps);
 *            with momentum: mom = momentum mom + step; w -= mom
 * Gradients are clipped first, as Keras does: clipnorm per tensor and
 * global_clipnorm scale them, then clipvalue clips each value. */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

mx_optimizer_config mx_optimizer_defaults(mx_opt_kind kind) {
    mx_optimizer_config o = {0};
    o.kind = kind;
    switch (kind) {
    case MX_OPT_SGD: o.learning_rate = 0.01f; break;
    case MX_OPT_ADAM:
        o.learning_rate = 0.001f;
        o.beta_1 = 0.9f;
        o.beta_2 = 0.999f;
        o.epsilon = 1e-7f;
        break;
    case MX_OPT_RMSPROP:
        o.learning_rate = 0.001f;
        o.rho = 0.9f;
        o.epsilon = 1e-7f;
        break;
    }
    return o;
}

float mx_learning_rate(const mx_optimizer_config *o, int64_t t) {
    double lr = o->learning_rate, steps = (double)MX_MAX(o->decay_steps, 1);
    switch (o->schedule) {
    case MX_LR_CONSTANT: break;
    case MX_LR_EXPONENTIAL_DECAY: {
        double p = (double)t / steps;
        lr *= pow(o->decay_rate, o->staircase ? floor(p) : p);
        break;
    }
    case MX_LR_COSINE_DECAY: {
        double p = fmin((double)t, steps) / steps;
        lr *= (1 - o->alpha) * 0.5 * (1 + cos(3.14159265358979323846 * p)) + o->alpha;
        break;
    }
    }
    return (float)lr;
}

const char *mx_optimizer_name(mx_opt_kind k) {
    return k == MX_OPT_SGD ? "SGD" : k == MX_OPT_ADAM ? "Adam" : "RMSprop";
}

int mx_opt_slots(const mx_optimizer_config *o) {
    switch (o->kind) {
    case MX_OPT_SGD: return o->momentum != 0;
    case MX_OPT_ADAM: return 2;
    case MX_OPT_RMSPROP: return o->momentum != 0 ? 2 : 1;
    }
    return 0;
}

typedef struct upd_job {
    const mx_optimizer_config *o;
    float *w, *g, *s0, *s1; /* g is clipped in place with clipvalue */
    float lr, clip_scale, alpha; /* alpha: Adam's bias-corrected step */
} upd_job;

/* Keras clips values after norms: min(max(g * scale, -v), v) */
static void clip_values(float *g, int64_t b, int64_t e, float v) {
    for (int64_t i = b; i < e; i++) g[i] = fminf(fmaxf(g[i], -v), v);
}

static void update_range(void *p, int64_t b, int64_t e) {
    const upd_job *j = p;
    const mx_optimizer_config *o = j->o;
    float *w = j->w, *s0 = j->s0, *s1 = j->s1, lr = j->lr, cs = j->clip_scale;
    const float *g = j->g;
    if (o->clipvalue > 0) { /* scale and clip the gradient itself, then step with it */
        for (int64_t i = b; i < e; i++) j->g[i] *= cs;
        clip_values(j->g, b, e, o->clipvalue);
        cs = 1;
    }
    switch (o->kind) {
    case MX_OPT_SGD:
        if (o->momentum == 0) {
            for (int64_t i = b; i < e; i++) w[i] -= lr * g[i] * cs;
        } else {
            for (int64_t i = b; i < e; i++) {
                float gi = g[i] * cs;
                s0[i] = o->momentum * s0[i] - lr * gi;
                w[i] += o->nesterov ? o->momentum * s0[i] - lr * gi : s0[i];
            }
        }
        break;
    case MX_OPT_ADAM:
        for (int64_t i = b; i < e; i++) {
            float gi = g[i] * cs;
            s0[i] = o->beta_1 * s0[i] + (1 - o->beta_1) * gi;
            s1[i] = o->beta_2 * s1[i] + (1 - o->beta_2) * gi * gi;
            w[i] -= j->alpha * s0[i] / (sqrtf(s1[i]) + o->epsilon);
        }
        break;
    case MX_OPT_RMSPROP:
        for (int64_t i = b; i < e; i++) {
            float gi = g[i] * cs;
            s0[i] = o->rho * s0[i] + (1 - o->rho) * gi * gi;
            float step = lr * gi / (sqrtf(s0[i]) + o->epsilon);
            if (o->momentum != 0) {
                s1[i] = o->momentum * s1[i] + step;
                w[i] -= s1[i];
            } else {
                w[i] -= step;
            }
        }
        break;
    }
}

static double sq_norm(const float *g, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

void mx_opt_step(mx_model *m) {
    const mx_optimizer_config *o = m->opt;
    float lr = mx_learning_rate(o, m->iterations);
    m->iterations++;
    m->weights_version++;
    double t = (double)m->iterations;
    float global_scale = 1.0f;
    if (o->global_clipnorm > 0) {
        double s = 0;
        for (int i = 0; i < m->n_params; i++)
            if (m->params[i]->grad) s += sq_norm(m->params[i]->grad, m->params[i]->size);
        double norm = sqrt(s);
        if (norm > o->global_clipnorm) global_scale = (float)(o->global_clipnorm / norm);
    }
    float alpha = 0;
    if (o->kind == MX_OPT_ADAM)
        alpha = (float)(lr * sqrt(1 - pow(o->beta_2, t)) / (1 - pow(o->beta_1, t)));
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (!p->grad) continue;
        float scale = global_scale;
        if (o->clipnorm > 0) {
            double norm = sqrt(sq_norm(p->grad, p->size));
            if (norm > o->clipnorm) scale *= (float)(o->clipnorm / norm);
        }
        upd_job j = {o, p->data, p->grad, p->opt_state, p->opt_state ? p->opt_state + p->size : NULL,
                     lr, scale, alpha};
        mx_parallel_for(p->size, 1 << 14, update_range, &j);
    }
}

/* ---- state files: "MXOPT1", iterations, then per trainable weight its
 * name and slots x size floats ---- */

int mx_optimizer_state_save(const mx_model *m, const char *path) {
    if (!m->compiled) return mx_fail("the model has no optimizer (not compiled)");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return mx_fail("%s: cannot create", tmp);
    int slots = mx_opt_slots(m->opt);
    int ok = fwrite("MXOPT1\0\0", 1, 8, f) == 8;
    int64_t it = m->iterations;
    int32_t k = m->opt->kind, ns = slots;
    ok &= fwrite(&it, sizeof it, 1, f) == 1 && fwrite(&k, 4, 1, f) == 1 && fwrite(&ns, 4, 1, f) == 1;
    for (int i = 0; i < m->n_params && ok; i++) {
        const mx_param *p = m->params[i];
        if (!p->opt_state) continue;
        uint32_t len = (uint32_t)strlen(p->name);
        int64_t n = p->size * slots;
        ok &= fwrite(&len, 4, 1, f) == 1 && fwrite(p->name, 1, len, f) == len && fwrite(&n, 8, 1, f) == 1 &&
              fwrite(p->opt_state, sizeof(float), (size_t)n, f) == (size_t)n;
    }
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return mx_fail("%s: cannot write optimizer state", path);
    }
    return 0;
}

int mx_optimizer_state_load(mx_model *m, const char *path) {
    if (!m->compiled) return mx_fail("the model has no optimizer (not compiled)");
    FILE *f = fopen(path, "rb");
    if (!f) return mx_fail("%s: cannot open", path);
    char magic[8];
    int64_t it;
    int32_t k, ns;
    int slots = mx_opt_slots(m->opt);
    int rc = -1;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "MXOPT1", 6) != 0 || fread(&it, 8, 1, f) != 1 ||
        fread(&k, 4, 1, f) != 1 || fread(&ns, 4, 1, f) != 1) {
        mx_fail("%s: not an mlexp optimizer state file", path);
        goto done;
    }
    if (k != (int32_t)m->opt->kind || ns != slots) {
        mx_fail("%s: saved for %s with %d slots, the model uses %s with %d", path, mx_optimizer_name((mx_opt_kind)k),
                ns, mx_optimizer_name(m->opt->kind), slots);
        goto done;
    }
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (!p->opt_state) continue;
        uint32_t len;
        char name[512];
        int64_t n;
        if (fread(&len, 4, 1, f) != 1 || len >= sizeof name || fread(name, 1, len, f) != len || fread(&n, 8, 1, f) != 1) {
            mx_fail("%s: truncated", path);
            goto done;
        }
        name[len] = 0;
        if (strcmp(name, p->name) != 0 || n != p->size * slots) {
            mx_fail("%s: state of '%s' (%lld values) does not fit weight '%s'", path, name, (long long)n, p->name);
            goto done;
        }
        if (fread(p->opt_state, sizeof(float), (size_t)n, f) != (size_t)n) {
            mx_fail("%s: truncated", path);
            goto done;
        }
    }
    m->iterations = it;
    rc = 0;
done:
    fclose(f);
    return rc;
}
