/* batchnorm.c: BatchNormalization over the last (channel) axis.
 *
 * Training: normalise with the batch mean and biased variance, and move
 *   moving = moving * momentum + stat * (1 - momentum), with the unbiased
 *   variance for moving_variance (as TensorFlow's fused kernel and PyTorch).
 * Inference, or a frozen layer (Keras 2 semantics of trainable=False):
 *   y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta.
 * Per-channel sums are taken over fixed row chunks and combined in order, so
 * results do not depend on the thread count. */
#include "layers/common.h"

#include <math.h>
#include <string.h>

typedef struct bn_cfg {
    mx_shape_cfg axis;
    float momentum, epsilon;
    int center, scale, renorm;
    mx_init beta_init, gamma_init, mean_init, var_init;
    mx_reg beta_reg, gamma_reg;
} bn_cfg;

static const mx_field bn_fields[] = {
    {"axis", MX_FIELD_AXES, offsetof(bn_cfg, axis), "-1", 0, NULL},
    {"momentum", MX_FIELD_FLOAT, offsetof(bn_cfg, momentum), "0.99", 0, NULL},
    {"epsilon", MX_FIELD_FLOAT, offsetof(bn_cfg, epsilon), "0.001", 0, NULL},
    {"center", MX_FIELD_BOOL, offsetof(bn_cfg, center), "true", 0, NULL},
    {"scale", MX_FIELD_BOOL, offsetof(bn_cfg, scale), "true", 0, NULL},
    {"beta_initializer", MX_FIELD_INIT, offsetof(bn_cfg, beta_init), MX_ZEROS, 0, NULL},
    {"gamma_initializer", MX_FIELD_INIT, offsetof(bn_cfg, gamma_init), MX_ONES, 0, NULL},
    {"moving_mean_initializer", MX_FIELD_INIT, offsetof(bn_cfg, mean_init), MX_ZEROS, 0, NULL},
    {"moving_variance_initializer", MX_FIELD_INIT, offsetof(bn_cfg, var_init), MX_ONES, 0, NULL},
    {"beta_regularizer", MX_FIELD_REG, offsetof(bn_cfg, beta_reg), "null", 0, NULL},
    {"gamma_regularizer", MX_FIELD_REG, offsetof(bn_cfg, gamma_reg), "null", 0, NULL},
    {"renorm", MX_FIELD_BOOL, offsetof(bn_cfg, renorm), "false", 0, NULL},
    {"renorm_clipping", MX_FIELD_NULL, 0, "null", 0, NULL},
    {"renorm_momentum", MX_FIELD_IGNORE, 0, "0.99", 0, NULL},
    {"fused", MX_FIELD_IGNORE, 0, "null", 0, NULL},
    {"virtual_batch_size", MX_FIELD_NULL, 0, "null", 0, NULL},
    {"adjustment", MX_FIELD_NULL, 0, "null", 0, NULL},
    {"synchronized", MX_FIELD_IGNORE, 0, "false", 0, NULL},
    {0},
};

#define BN_CHUNKS 16

typedef struct bn_state {
    int64_t c;
    mx_param *gamma, *beta, *mean, *var;
} bn_state;

/* the fixed workspace, c floats each unless noted */
typedef struct bn_ws {
    float *mean, *invstd;  /* statistics used by the forward pass */
    float *a, *b;          /* y = x * a + b */
    float *sdy, *sdyx;     /* backward: sum dy, sum dy * xhat */
    float *part;           /* 2 x BN_CHUNKS x c chunk partial sums */
} bn_ws;

static bn_ws ws_of(mx_node *n) {
    int64_t c = ((bn_state *)n->state)->c;
    float *p = n->ws;
    return (bn_ws){p, p + c, p + 2 * c, p + 3 * c, p + 4 * c, p + 5 * c, p + 6 * c};
}

static int bn_build(mx_node *n) {
    bn_cfg *cf = n->layer->cfg;
    mx_value *in = n->in[0];
    if (cf->renorm) return mx_fail("renorm=true is not supported");
    if (cf->axis.rank != 1 || (cf->axis.dims[0] != -1 && cf->axis.dims[0] != in->rank))
        return mx_fail("only the last axis (-1 or %d) is supported as axis", in->rank);
    if (!(cf->momentum >= 0 && cf->momentum <= 1)) return mx_fail("momentum must be in [0, 1]");
    if (!(cf->epsilon > 0)) return mx_fail("epsilon must be positive");
    bn_state *s = mx_alloc(sizeof *s);
    if (!s) return -1;
    mx_free(n->state);
    n->state = s;
    s->c = in->dims[in->rank - 1];
    int64_t d[1] = {s->c};
    if (cf->scale && !(s->gamma = mx_layer_param(n, "gamma", 1, d, &cf->gamma_init, &cf->gamma_reg, 1, s->c, s->c)))
        return -1;
    if (cf->center && !(s->beta = mx_layer_param(n, "beta", 1, d, &cf->beta_init, &cf->beta_reg, 1, s->c, s->c)))
        return -1;
    if (!(s->mean = mx_layer_param(n, "moving_mean", 1, d, &cf->mean_init, NULL, 0, s->c, s->c)) ||
        !(s->var = mx_layer_param(n, "moving_variance", 1, d, &cf->var_init, NULL, 0, s->c, s->c)))
        return -1;
    n->ws_fixed = 6 * s->c + 2 * BN_CHUNKS * s->c;
    return mx_node_set_output(n, 0, in->rank, in->dims);
}

typedef struct bn_job {
    int64_t rows, c, nchunks;
    const float *x, *dy;  /* (rows, c) */
    bn_ws w;
    int pass;             /* 0: sum x; 1: sum (x - mean)^2; 2: sum dy and dy * xhat */
    int accumulate;
    int batch_stats;
    float *y;
} bn_job;

static void chunk_sums(void *p, int64_t k0, int64_t k1) {
    const bn_job *j = p;
    int64_t c = j->c;
    const float *mean = j->w.mean, *invstd = j->w.invstd;
    for (int64_t k = k0; k < k1; k++) {
        int64_t r0, r1;
        mx_split_range(j->rows, (int)k, (int)j->nchunks, &r0, &r1);
        float *s0 = j->w.part + k * c, *s1 = j->w.part + (BN_CHUNKS + k) * c;
        memset(s0, 0, sizeof(float) * (size_t)c);
        memset(s1, 0, sizeof(float) * (size_t)c);
        for (int64_t r = r0; r < r1; r++) {
            const float *x = j->x + r * c;
            if (j->pass == 0) {
                for (int64_t i = 0; i < c; i++) s0[i] += x[i];
            } else if (j->pass == 1) {
                for (int64_t i = 0; i < c; i++) s0[i] += (x[i] - mean[i]) * (x[i] - mean[i]);
            } else {
                const float *dy = j->dy + r * c;
                for (int64_t i = 0; i < c; i++) {
                    s0[i] += dy[i];
                    s1[i] += dy[i] * (x[i] - mean[i]) * invstd[i];
                }
            }
        }
    }
}

/* per-channel totals of the chunk partials, combined in chunk order */
static void reduce_chunks(bn_job *j, float *out0, float *out1) {
    mx_parallel_for(j->nchunks, 1, chunk_sums, j);
    for (int64_t i = 0; i < j->c; i++) {
        float s0 = 0, s1 = 0;
        for (int64_t k = 0; k < j->nchunks; k++) {
            s0 += j->w.part[k * j->c + i];
            s1 += j->w.part[(BN_CHUNKS + k) * j->c + i];
        }
        out0[i] = s0;
        if (out1) out1[i] = s1;
    }
}

static void affine_rows(void *p, int64_t r0, int64_t r1) {
    const bn_job *j = p;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->c;
        float *y = j->y + r * j->c;
        for (int64_t i = 0; i < j->c; i++) y[i] = x[i] * j->w.a[i] + j->w.b[i];
    }
}

static int batch_mode(mx_node *n, const mx_exec *ex) { return ex->training && n->layer->trainable; }

static bn_job job_of(mx_node *n, const mx_exec *ex) {
    bn_state *s = n->state;
    bn_job j = {0};
    j.c = s->c;
    j.rows = ex->batch * n->in[0]->size / s->c;
    j.nchunks = MX_MIN(BN_CHUNKS, j.rows);
    j.x = n->in[0]->data;
    j.w = ws_of(n);
    j.batch_stats = batch_mode(n, ex);
    return j;
}

void mx_bn_inference_affine(const mx_node *n, float *a, float *b) {
    const bn_cfg *cf = n->layer->cfg;
    const bn_state *s = n->state;
    for (int64_t i = 0; i < s->c; i++) {
        float g = s->gamma ? s->gamma->data[i] : 1.0f, be = s->beta ? s->beta->data[i] : 0.0f;
        a[i] = g / sqrtf(s->var->data[i] + cf->epsilon);
        b[i] = be - s->mean->data[i] * a[i];
    }
}

static void bn_forward(mx_node *n, const mx_exec *ex) {
    bn_cfg *cf = n->layer->cfg;
    bn_state *s = n->state;
    bn_job j = job_of(n, ex);
    int64_t c = s->c;
    bn_ws w = j.w;
    if (j.batch_stats) {
        j.pass = 0;
        reduce_chunks(&j, w.mean, NULL);
        for (int64_t i = 0; i < c; i++) w.mean[i] /= (float)j.rows;
        j.pass = 1;
        reduce_chunks(&j, w.invstd, NULL); /* sum of squares, turned into invstd below */
        float m = cf->momentum, unbias = j.rows > 1 ? (float)j.rows / (float)(j.rows - 1) : 1.0f;
        for (int64_t i = 0; i < c; i++) {
            float v = w.invstd[i] / (float)j.rows;
            s->mean->data[i] = s->mean->data[i] * m + w.mean[i] * (1 - m);
            s->var->data[i] = s->var->data[i] * m + v * unbias * (1 - m);
            w.invstd[i] = 1.0f / sqrtf(v + cf->epsilon);
        }
    } else {
        for (int64_t i = 0; i < c; i++) {
            w.mean[i] = s->mean->data[i];
            w.invstd[i] = 1.0f / sqrtf(s->var->data[i] + cf->epsilon);
        }
    }
    for (int64_t i = 0; i < c; i++) {
        float g = s->gamma ? s->gamma->data[i] : 1.0f, be = s->beta ? s->beta->data[i] : 0.0f;
        w.a[i] = g * w.invstd[i];
        w.b[i] = be - w.mean[i] * w.a[i];
    }
    j.y = n->z->data;
    mx_parallel_for(j.rows, 256, affine_rows, &j);
}

/* batch statistics: dx = gamma * invstd / R * (R dy - sum dy - xhat sum(dy xhat));
 * fixed statistics: dx = gamma * invstd * dy */
static void dx_rows(void *p, int64_t r0, int64_t r1) {
    const bn_job *j = p;
    const bn_ws *w = &j->w;
    float rows = (float)j->rows;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->c, *dy = j->dy + r * j->c;
        float *dx = j->y + r * j->c;
        for (int64_t i = 0; i < j->c; i++) {
            float v;
            if (j->batch_stats) {
                float xhat = (x[i] - w->mean[i]) * w->invstd[i];
                v = w->a[i] / rows * (rows * dy[i] - w->sdy[i] - xhat * w->sdyx[i]);
            } else {
                v = w->a[i] * dy[i];
            }
            dx[i] = j->accumulate ? dx[i] + v : v;
        }
    }
}

static void bn_backward(mx_node *n, const mx_exec *ex) {
    bn_state *s = n->state;
    bn_job j = job_of(n, ex);
    j.dy = n->z->grad;
    if (j.batch_stats) {
        j.pass = 2;
        reduce_chunks(&j, j.w.sdy, j.w.sdyx);
        if (s->gamma && s->gamma->grad)
            for (int64_t i = 0; i < s->c; i++)
                s->gamma->grad[i] = (n->param_acc ? s->gamma->grad[i] : 0) + j.w.sdyx[i];
        if (s->beta && s->beta->grad)
            for (int64_t i = 0; i < s->c; i++)
                s->beta->grad[i] = (n->param_acc ? s->beta->grad[i] : 0) + j.w.sdy[i];
    }
    if (!n->in[0]->grad) return;
    j.y = n->in[0]->grad;
    j.accumulate = n->in_acc[0];
    mx_parallel_for(j.rows, 256, dx_rows, &j);
}

static void bn_explain_params(const mx_node *n, mx_text *t) {
    const bn_cfg *cf = n->layer->cfg;
    long long c = ((const bn_state *)n->state)->c;
    int tr = cf->scale + cf->center;
    mx_text_add(t, "%d * c = %d * %lld = %lld: ", tr + 2, tr + 2, c, (tr + 2) * c);
    if (tr)
        mx_text_add(t, "%s%s%s trainable (%d * %lld = %lld), ", cf->scale ? "gamma" : "", tr == 2 ? " and " : "",
                    cf->center ? "beta" : "", tr, c, tr * c);
    mx_text_add(t, "moving_mean and moving_variance non-trainable (2 * %lld = %lld)", c, 2 * c);
}

const mx_layer_type mx_layer_batch_normalization = {
    .class_name = "BatchNormalization",
    .fields = bn_fields,
    .cfg_size = sizeof(bn_cfg),
    .min_inputs = 1,
    .max_inputs = 1,
    .build = bn_build,
    .forward = bn_forward,
    .backward = bn_backward,
    .explain_params = bn_explain_params,
    .example = "{\"input\": [4], \"batch\": 5, \"config\": {}}",
};
