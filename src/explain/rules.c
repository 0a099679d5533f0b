/* rules.c: what each layer type computes, written out element by element:
 * Dense, the shape-only layers (Flatten, Reshape) and the elementwise
 * merges. Convolution and pooling are in window.c; activations in trace.c
 * (they apply to any layer). Every rule reads the engine's buffers after a
 * step and recomputes one tensor in double as the formula says. */
#include "explain/explain.h"

#include <stdio.h>
#include <string.h>

static void label(const mx_xctx *c, char *buf, size_t n, const char *prefix, const char *name, int64_t e, int rank,
                  const int64_t *dims, int batched) {
    mx_text t = {0};
    mx_text_add(&t, "%s%s", prefix, mx_xsym(c, name));
    mx_xindex(c, &t, e, rank, dims, batched);
    snprintf(buf, n, "%s", mx_text_str(&t));
    mx_text_free(&t);
}

void mx_xvlabel(const mx_xctx *c, char *buf, size_t n, const char *prefix, const mx_value *v, int64_t e) {
    label(c, buf, n, prefix, v->name, e, v->rank, v->dims, 1);
}

void mx_xplabel(const mx_xctx *c, char *buf, size_t n, const char *prefix, const mx_param *p, int64_t e) {
    label(c, buf, n, prefix, p->name, e, p->rank, p->dims, 0);
}

#define LABEL 96

/* ---- Dense: z (rows, units) = x (rows, k) W (k, units) + b; rows are the
 * samples (and leading positions of higher-rank inputs) ---- */

typedef struct dense_dims {
    int64_t rows, k, u;
    const mx_param *w, *b;
} dense_dims;

static dense_dims dense_of(const mx_xctx *c, const mx_node *n) {
    const mx_value *in = n->in[0];
    dense_dims d = {0};
    d.k = in->dims[in->rank - 1];
    d.rows = c->batch * in->size / d.k;
    d.u = n->z->dims[n->z->rank - 1];
    d.w = n->layer->params[0];
    d.b = n->layer->n_params > 1 ? n->layer->params[1] : NULL;
    return d;
}

static void dense_formula(mx_xctx *c, const mx_node *n, mx_text *t) {
    dense_dims d = dense_of(c, n);
    mx_text_add(t, "%s = %s %s", mx_xsym(c, n->z->name), mx_xsym(c, n->in[0]->name), mx_xsym(c, d.w->name));
    if (d.b) mx_text_add(t, " + %s", mx_xsym(c, d.b->name));
}

static void dense_forward(mx_xctx *c, const mx_node *n, double *acc, mx_xsum *sums) {
    dense_dims d = dense_of(c, n);
    const float *x = n->in[0]->data;
    char a[LABEL], b[LABEL];
    for (int64_t r = 0; r < d.rows; r++)
        for (int64_t j = 0; j < d.u; j++) {
            int64_t e = r * d.u + j;
            double s = 0;
            for (int64_t i = 0; i < d.k; i++) {
                double xv = x[r * d.k + i], wv = d.w->data[i * d.u + j];
                s += xv * wv;
                if (sums) {
                    mx_xvlabel(c, a, sizeof a, "", n->in[0], r * d.k + i);
                    mx_xplabel(c, b, sizeof b, "", d.w, i * d.u + j);
                    mx_xsum_product(&sums[e], c, a, xv, b, wv);
                }
            }
            if (d.b) {
                s += d.b->data[j];
                if (sums) {
                    mx_xplabel(c, b, sizeof b, "", d.b, j);
                    mx_xsum_term(&sums[e], c, b, d.b->data[j]);
                }
            }
            acc[e] += s;
        }
}

static void dense_grad_input_rule(mx_xctx *c, const mx_node *n, int k, mx_text *t) {
    MX_UNUSED(k);
    mx_text_add(t, "dL/d%s %s^T", mx_xsym(c, n->z->name), mx_xsym(c, n->layer->params[0]->name));
}

static void dense_grad_input(mx_xctx *c, const mx_node *n, int k, double *acc, mx_xsum *sums) {
    MX_UNUSED(k);
    dense_dims d = dense_of(c, n);
    const float *dz = n->z->grad;
    char a[LABEL], b[LABEL];
    for (int64_t r = 0; r < d.rows; r++)
        for (int64_t i = 0; i < d.k; i++) {
            int64_t e = r * d.k + i;
            for (int64_t j = 0; j < d.u; j++) {
                double g = dz[r * d.u + j], wv = d.w->data[i * d.u + j];
                acc[e] += g * wv;
                if (sums) {
                    mx_xvlabel(c, a, sizeof a, "dL/d", n->z, r * d.u + j);
                    mx_xplabel(c, b, sizeof b, "", d.w, i * d.u + j);
                    mx_xsum_product(&sums[e], c, a, g, b, wv);
                }
            }
        }
}

static void dense_grad_param_rule(mx_xctx *c, const mx_node *n, int p, mx_text *t) {
    if (p == 0)
        mx_text_add(t, "%s^T dL/d%s", mx_xsym(c, n->in[0]->name), mx_xsym(c, n->z->name));
    else
        mx_text_add(t, "dL/d%s summed over the samples", mx_xsym(c, n->z->name));
}

static void dense_grad_param(mx_xctx *c, const mx_node *n, int p, double *acc, mx_xsum *sums) {
    dense_dims d = dense_of(c, n);
    const float *x = n->in[0]->data, *dz = n->z->grad;
    char a[LABEL], b[LABEL];
    if (p == 0) {
        for (int64_t i = 0; i < d.k; i++)
            for (int64_t j = 0; j < d.u; j++) {
                int64_t e = i * d.u + j;
                for (int64_t r = 0; r < d.rows; r++) {
                    double xv = x[r * d.k + i], g = dz[r * d.u + j];
                    acc[e] += xv * g;
                    if (sums) {
                        mx_xvlabel(c, a, sizeof a, "", n->in[0], r * d.k + i);
                        mx_xvlabel(c, b, sizeof b, "dL/d", n->z, r * d.u + j);
                        mx_xsum_product(&sums[e], c, a, xv, b, g);
                    }
                }
            }
        return;
    }
    for (int64_t j = 0; j < d.u; j++)
        for (int64_t r = 0; r < d.rows; r++) {
            acc[j] += dz[r * d.u + j];
            if (sums) {
                mx_xvlabel(c, a, sizeof a, "dL/d", n->z, r * d.u + j);
                mx_xsum_term(&sums[j], c, a, dz[r * d.u + j]);
            }
        }
}

static const mx_xrule rule_dense = {"Dense", dense_formula, dense_forward, dense_grad_input_rule, dense_grad_input,
                                    dense_grad_param_rule, dense_grad_param, NULL, NULL, NULL};

/* ---- Flatten, Reshape: the same numbers in a new shape ---- */

static void copy_formula(mx_xctx *c, const mx_node *n, mx_text *t) {
    mx_text_add(t, "%s = %s(%s): the same numbers, shape ", mx_xsym(c, n->z->name),
                !strcmp(n->layer->type->class_name, "Flatten") ? "flatten" : "reshape", mx_xsym(c, n->in[0]->name));
    char s[96];
    mx_text_add(t, "%s", mx_shape_str(n->z->rank, n->z->dims, s, sizeof s));
}

static void copy_forward(mx_xctx *c, const mx_node *n, double *acc, mx_xsum *sums) {
    char a[LABEL];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        acc[e] += n->in[0]->data[e];
        if (sums) {
            mx_xvlabel(c, a, sizeof a, "", n->in[0], e);
            mx_xsum_term(&sums[e], c, a, n->in[0]->data[e]);
        }
    }
}

static void copy_grad_input_rule(mx_xctx *c, const mx_node *n, int k, mx_text *t) {
    MX_UNUSED(k);
    mx_text_add(t, "dL/d%s in the input's shape", mx_xsym(c, n->z->name));
}

static void copy_grad_input(mx_xctx *c, const mx_node *n, int k, double *acc, mx_xsum *sums) {
    MX_UNUSED(k);
    char a[LABEL];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        acc[e] += n->z->grad[e];
        if (sums) {
            mx_xvlabel(c, a, sizeof a, "dL/d", n->z, e);
            mx_xsum_term(&sums[e], c, a, n->z->grad[e]);
        }
    }
}

static const mx_xrule rule_flatten = {"Flatten", copy_formula, copy_forward, copy_grad_input_rule, copy_grad_input,
                                      NULL, NULL, NULL, NULL, NULL};
static const mx_xrule rule_reshape = {"Reshape", copy_formula, copy_forward, copy_grad_input_rule, copy_grad_input,
                                      NULL, NULL, NULL, NULL, NULL};

/* ---- Add, Subtract, Average, Multiply: elementwise over the inputs ---- */

typedef enum { EW_ADD, EW_SUB, EW_AVG, EW_MUL } ew_op;

static ew_op ew_of(const mx_node *n) {
    const char *c = n->layer->type->class_name;
    return !strcmp(c, "Add") ? EW_ADD : !strcmp(c, "Subtract") ? EW_SUB : !strcmp(c, "Average") ? EW_AVG : EW_MUL;
}

static void ew_formula(mx_xctx *c, const mx_node *n, mx_text *t) {
    ew_op op = ew_of(n);
    mx_text_add(t, "%s = %s", mx_xsym(c, n->z->name), op == EW_AVG ? "(" : "");
    for (int k = 0; k < n->n_in; k++)
        mx_text_add(t, "%s%s", k ? (op == EW_SUB ? " - " : op == EW_MUL ? " * " : " + ") : "", mx_xsym(c, n->in[k]->name));
    if (op == EW_AVG) mx_text_add(t, ") / %d", n->n_in);
    mx_text_add(t, " elementwise");
}

/* the weight of input k in the output, and its derivative: */
static double ew_coef(const mx_node *n, ew_op op, int k, int64_t e) {
    switch (op) {
    case EW_ADD: return 1;
    case EW_SUB: return k ? -1 : 1;
    case EW_AVG: return 1.0 / n->n_in;
    case EW_MUL: {
        double p = 1; /* product of the other inputs */
        for (int j = 0; j < n->n_in; j++)
            if (j != k) p *= n->in[j]->data[e];
        return p;
    }
    }
    return 0;
}

static void ew_forward(mx_xctx *c, const mx_node *n, double *acc, mx_xsum *sums) {
    ew_op op = ew_of(n);
    char a[LABEL];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        if (op == EW_MUL) {
            double p = 1;
            for (int k = 0; k < n->n_in; k++) p *= n->in[k]->data[e];
            acc[e] += p;
            if (sums) {
                mx_xvlabel(c, a, sizeof a, "", n->in[0], e);
                char b[LABEL];
                mx_xvlabel(c, b, sizeof b, "", n->in[1], e);
                /* two inputs written out; more are rare */
                if (n->n_in == 2)
                    mx_xsum_product(&sums[e], c, a, n->in[0]->data[e], b, n->in[1]->data[e]);
                else
                    mx_xsum_term(&sums[e], c, "product of the inputs", p);
            }
            continue;
        }
        for (int k = 0; k < n->n_in; k++) {
            double w = ew_coef(n, op, k, e), v = n->in[k]->data[e];
            acc[e] += w * v;
            if (sums) {
                mx_xvlabel(c, a, sizeof a, "", n->in[k], e);
                if (w == 1)
                    mx_xsum_term(&sums[e], c, a, v);
                else
                    mx_xsum_product(&sums[e], c, op == EW_SUB ? "-1" : "1/n", w, a, v);
            }
        }
    }
}

static void ew_grad_input_rule(mx_xctx *c, const mx_node *n, int k, mx_text *t) {
    ew_op op = ew_of(n);
    const char *z = mx_xsym(c, n->z->name);
    if (op == EW_MUL)
        mx_text_add(t, "dL/d%s * (the other inputs)", z);
    else if (op == EW_AVG)
        mx_text_add(t, "dL/d%s / %d", z, n->n_in);
    else
        mx_text_add(t, "%sdL/d%s", op == EW_SUB && k ? "-" : "", z);
}

static void ew_grad_input(mx_xctx *c, const mx_node *n, int k, double *acc, mx_xsum *sums) {
    ew_op op = ew_of(n);
    char a[LABEL];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        double w = ew_coef(n, op, k, e), g = n->z->grad[e];
        acc[e] += w * g;
        if (sums) {
            mx_xvlabel(c, a, sizeof a, "dL/d", n->z, e);
            if (w == 1)
                mx_xsum_term(&sums[e], c, a, g);
            else
                mx_xsum_product(&sums[e], c, a, g, op == EW_MUL ? "other" : op == EW_SUB ? "-1" : "1/n", w);
        }
    }
}

static const mx_xrule rule_add = {"Add", ew_formula, ew_forward, ew_grad_input_rule, ew_grad_input, NULL, NULL,
                                 NULL, NULL, NULL};
static const mx_xrule rule_sub = {"Subtract", ew_formula, ew_forward, ew_grad_input_rule, ew_grad_input, NULL, NULL,
                                 NULL, NULL, NULL};
static const mx_xrule rule_avg = {"Average", ew_formula, ew_forward, ew_grad_input_rule, ew_grad_input, NULL, NULL,
                                 NULL, NULL, NULL};
static const mx_xrule rule_mul = {"Multiply", ew_formula, ew_forward, ew_grad_input_rule, ew_grad_input, NULL, NULL,
                                 NULL, NULL, NULL};

static const mx_xrule *const g_rules[] = {&rule_dense, &rule_flatten, &rule_reshape, &rule_add, &rule_sub, &rule_avg,
                                          &rule_mul, &mx_xrule_conv2d, &mx_xrule_max_pool, &mx_xrule_avg_pool,
                                          &mx_xrule_simple_rnn, NULL};

const mx_xrule *mx_xrule_find(const mx_node *n) {
    const mx_layer_type *t = n->layer->type;
    for (int i = 0; g_rules[i]; i++) {
        if (strcmp(g_rules[i]->class_name, t->class_name)) continue;
        mx_conv_geom g;
        /* windows written out hold at most 256 pixels */
        if (t->window && (t->window(n, &g) || (int64_t)g.kh * g.kw > 256)) return NULL;
        return !g_rules[i]->applies || g_rules[i]->applies(n) ? g_rules[i] : NULL;
    }
    return NULL;
}
