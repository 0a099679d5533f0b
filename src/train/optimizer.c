/* optimizer.c: SGD, Adam and RMSprop with the defaults of Keras and the
 * update rules of Keras 3 / TF.js, or of the textbooks and PyTorch where
 * those differ (mx_opt_form, formulas in mx.h), gradient clipping, and
 * saving/loading of their state.
 *
 * Keras 3 as read in keras/src/optimizers (sgd.py, rmsprop.py, adam.py):
 *   SGD:     m = momentum m - lr g;  w += m   (nesterov: w += momentum m - lr g)
 *   RMSprop: v = rho v + (1 - rho) g^2;  inc = lr g / sqrt(v + eps);
 *            momentum > 0: u = momentum u + inc;  w -= u;  else w -= inc
 *   Adam:    alpha = lr sqrt(1 - b2^t) / (1 - b1^t);  m += (g - m)(1 - b1);
 *            v += (g^2 - v)(1 - b2);  w -= alpha m / (sqrt(v) + eps)
 * TF.js's RMSprop is the same (eps inside the root). Keras 2's tf.keras
 * RMSprop put eps outside the root when momentum was 0: that is the
 * "pytorch" form here.
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

static const char *const g_form_names[] = {"keras", "textbook", "pytorch"};

const char *mx_optimizer_form_name(mx_opt_form f) {
    return (unsigned)f < 3 ? g_form_names[f] : "?";
}

int mx_optimizer_form_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, g_form_names[i])) return i;
    return -1;
}

/* Textbook Nesterov evaluates the gradient at the look-ahead point: the
 * weights move there for the forward and backward pass, the true weights
 * wait in a second slot. */
static int lookahead(const mx_optimizer_config *o) {
    return o->kind == MX_OPT_SGD && o->form == MX_OPT_FORM_TEXTBOOK && o->nesterov && o->momentum != 0;
}

int mx_opt_slots(const mx_optimizer_config *o) {
    switch (o->kind) {
    case MX_OPT_SGD: return o->momentum != 0 ? 1 + lookahead(o) : 0;
    case MX_OPT_ADAM: return 2;
    case MX_OPT_RMSPROP: return o->momentum != 0 ? 2 : 1;
    }
    return 0;
}

void mx_opt_begin(mx_model *m) {
    if (!m->compiled || !lookahead(m->opt) || m->opt_lookahead) return;
    float mu = m->opt->momentum;
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (!p->grad || !p->opt_state) continue;
        float *v = p->opt_state, *saved = p->opt_state + p->size;
        for (int64_t k = 0; k < p->size; k++) {
            saved[k] = p->data[k];
            p->data[k] += mu * v[k];
        }
    }
    m->opt_lookahead = 1;
    m->weights_version++;
}

typedef struct upd_job {
    const mx_optimizer_config *o;
    float *w, *g, *s0, *s1; /* g is clipped in place with clipvalue */
    float lr, clip_scale;
    float alpha;    /* Keras Adam: lr sqrt(1 - b2^t) / (1 - b1^t) */
    float bc1, bc2; /* textbook Adam: 1 - b1^t, 1 - b2^t */
    int restore;    /* textbook Nesterov: s1 holds the weights behind the look-ahead */
} upd_job;

/* Keras clips values after norms: min(max(g * scale, -v), v) */
static void clip_values(float *g, int64_t b, int64_t e, float v) {
    for (int64_t i = b; i < e; i++) g[i] = fminf(fmaxf(g[i], -v), v);
}

static void sgd_range(const upd_job *j, int64_t b, int64_t e) {
    const mx_optimizer_config *o = j->o;
    float *w = j->w, *v = j->s0, lr = j->lr, cs = j->clip_scale, mu = o->momentum;
    const float *g = j->g;
    if (mu == 0) {
        for (int64_t i = b; i < e; i++) w[i] -= lr * g[i] * cs;
        return;
    }
    for (int64_t i = b; i < e; i++) {
        float gi = g[i] * cs;
        if (o->form == MX_OPT_FORM_PYTORCH) { /* v accumulates raw gradients */
            v[i] = mu * v[i] + gi;
            w[i] -= lr * (o->nesterov ? gi + mu * v[i] : v[i]);
            continue;
        }
        v[i] = mu * v[i] - lr * gi;
        if (j->restore) /* back from the look-ahead, then the plain momentum step */
            w[i] = j->s1[i] + v[i];
        else
            w[i] += o->nesterov && o->form == MX_OPT_FORM_KERAS ? mu * v[i] - lr * gi : v[i];
    }
}

static void update_range(void *p, int64_t b, int64_t e) {
    upd_job jc = *(const upd_job *)p, *j = &jc;
    const mx_optimizer_config *o = j->o;
    if (o->clipvalue > 0) { /* scale and clip the gradient itself, then step with it */
        for (int64_t i = b; i < e; i++) j->g[i] *= j->clip_scale;
        clip_values(j->g, b, e, o->clipvalue);
        j->clip_scale = 1;
    }
    float *w = j->w, *s0 = j->s0, *s1 = j->s1, lr = j->lr, cs = j->clip_scale;
    const float *g = j->g;
    switch (o->kind) {
    case MX_OPT_SGD: sgd_range(j, b, e); break;
    case MX_OPT_ADAM:
        for (int64_t i = b; i < e; i++) {
            float gi = g[i] * cs;
            s0[i] = o->beta_1 * s0[i] + (1 - o->beta_1) * gi;
            s1[i] = o->beta_2 * s1[i] + (1 - o->beta_2) * gi * gi;
            if (o->form == MX_OPT_FORM_KERAS)
                w[i] -= j->alpha * s0[i] / (sqrtf(s1[i]) + o->epsilon);
            else
                w[i] -= lr * (s0[i] / j->bc1) / (sqrtf(s1[i] / j->bc2) + o->epsilon);
        }
        break;
    case MX_OPT_RMSPROP:
        for (int64_t i = b; i < e; i++) {
            float gi = g[i] * cs;
            s0[i] = o->rho * s0[i] + (1 - o->rho) * gi * gi;
            if (o->form == MX_OPT_FORM_PYTORCH) {
                float d = sqrtf(s0[i]) + o->epsilon;
                if (o->momentum != 0) {
                    s1[i] = o->momentum * s1[i] + gi / d;
                    w[i] -= lr * s1[i];
                } else {
                    w[i] -= lr * gi / d;
                }
                continue;
            }
            float step = lr * gi / sqrtf(s0[i] + o->epsilon);
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
    float alpha = 0, bc1 = 1, bc2 = 1;
    if (o->kind == MX_OPT_ADAM) {
        alpha = (float)(lr * sqrt(1 - pow(o->beta_2, t)) / (1 - pow(o->beta_1, t)));
        bc1 = (float)(1 - pow(o->beta_1, t));
        bc2 = (float)(1 - pow(o->beta_2, t));
    }
    int restore = m->opt_lookahead;
    m->opt_lookahead = 0;
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        if (!p->grad) continue;
        float scale = global_scale;
        if (o->clipnorm > 0) {
            double norm = sqrt(sq_norm(p->grad, p->size));
            if (norm > o->clipnorm) scale *= (float)(o->clipnorm / norm);
        }
        upd_job j = {o, p->data, p->grad, p->opt_state, p->opt_state ? p->opt_state + p->size : NULL,
                     lr, scale, alpha, bc1, bc2, restore && p->opt_state};
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
    int32_t k = (int32_t)m->opt->kind | (int32_t)m->opt->form << 8, ns = slots; /* form 0 (keras) reads as before */
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
    if (k != ((int32_t)m->opt->kind | (int32_t)m->opt->form << 8) || ns != slots) {
        mx_fail("%s: saved for %s (%s form) with %d slots, the model uses %s (%s form) with %d", path,
                mx_optimizer_name((mx_opt_kind)(k & 255)), mx_optimizer_form_name((mx_opt_form)(k >> 8)), ns,
                mx_optimizer_name(m->opt->kind), mx_optimizer_form_name(m->opt->form), slots);
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
