/* window.c: convolution and pooling written out: each output as its sum of
 * products over the window (positions in the padding count as 0), each
 * pooling window with its maximum or average, and the gradients routed back
 * through the same windows. The geometry is the layer's own (its window
 * hook), so these lines follow exactly what the engine computed. */
#include "explain/explain.h"

#include <stdio.h>
#include <string.h>

#define LABEL 96

typedef struct win {
    mx_conv_geom g;
    int64_t images; /* batch * images per sample */
} win;

static win win_of(const mx_xctx *c, const mx_node *n) {
    win w = {0};
    n->layer->type->window(n, &w.g);
    w.images = c->batch * n->in[0]->size / (w.g.h * w.g.w * w.g.c);
    return w;
}

/* input row/column of output position o and kernel tap k, or -1 in the padding */
static int64_t tap(int64_t o, int k, int s, int d, int pad, int64_t size) {
    int64_t i = o * s + (int64_t)k * d - pad;
    return i >= 0 && i < size ? i : -1;
}

static void geometry_text(const mx_conv_geom *g, mx_text *t) {
    mx_text_add(t, "window %dx%d, strides %dx%d", g->kh, g->kw, g->sh, g->sw);
    if (g->dh > 1 || g->dw > 1) mx_text_add(t, ", dilation %dx%d", g->dh, g->dw);
    if (g->pad_top || g->pad_left) mx_text_add(t, ", padding %d above, %d left (zeros)", g->pad_top, g->pad_left);
}

/* "oy*2 + ky*1 - 1" */
static void index_text(mx_text *t, const char *o, const char *k, int s, int d, int pad) {
    mx_text_add(t, "%s", o);
    if (s > 1) mx_text_add(t, "*%d", s);
    mx_text_add(t, " + %s", k);
    if (d > 1) mx_text_add(t, "*%d", d);
    if (pad) mx_text_add(t, " - %d", pad);
}

/* ---- Conv2D: z[oy,ox,f] = sum_{ky,kx,c} x[oy*sh + ky*dh - pt, ox*sw + kx*dw - pl, c] W[ky,kx,c,f] + b[f] ---- */

static void conv_formula(mx_xctx *c, const mx_node *n, mx_text *t) {
    win w = win_of(c, n);
    const mx_layer *l = n->layer;
    const char *z = mx_xsym(c, n->z->name), *x = mx_xsym(c, n->in[0]->name), *k = mx_xsym(c, l->params[0]->name);
    mx_text_add(t, "%s = conv2d(%s, %s; ", z, x, k);
    geometry_text(&w.g, t);
    mx_text_add(t, ")%s%s: %s[oy,ox,f] = sum over ky, kx, c of %s[", l->n_params > 1 ? " + " : "",
                l->n_params > 1 ? mx_xsym(c, l->params[1]->name) : "", z, x);
    index_text(t, "oy", "ky", w.g.sh, w.g.dh, w.g.pad_top);
    mx_text_add(t, ", ");
    index_text(t, "ox", "kx", w.g.sw, w.g.dw, w.g.pad_left);
    mx_text_add(t, ", c] * %s[ky,kx,c,f]", k);
    if (l->n_params > 1) mx_text_add(t, " + %s[f]", mx_xsym(c, l->params[1]->name));
}

/* calls fn for every (output, input, weight) triple of the convolution */
typedef void (*conv_visit)(mx_xctx *c, const mx_node *n, int64_t ze, int64_t xe, int64_t we, void *user);

static void conv_each(mx_xctx *c, const mx_node *n, conv_visit fn, void *user) {
    win w = win_of(c, n);
    const mx_conv_geom *g = &w.g;
    for (int64_t im = 0; im < w.images; im++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++)
                for (int64_t f = 0; f < g->f; f++) {
                    int64_t ze = ((im * g->oh + oy) * g->ow + ox) * g->f + f;
                    for (int ky = 0; ky < g->kh; ky++) {
                        int64_t iy = tap(oy, ky, g->sh, g->dh, g->pad_top, g->h);
                        if (iy < 0) continue;
                        for (int kx = 0; kx < g->kw; kx++) {
                            int64_t ix = tap(ox, kx, g->sw, g->dw, g->pad_left, g->w);
                            if (ix < 0) continue;
                            for (int64_t ci = 0; ci < g->c; ci++)
                                fn(c, n, ze, ((im * g->h + iy) * g->w + ix) * g->c + ci,
                                   ((ky * g->kw + kx) * g->c + ci) * g->f + f, user);
                        }
                    }
                }
}

typedef struct conv_acc {
    double *acc;
    mx_xsum *sums;
} conv_acc;

static void fwd_visit(mx_xctx *c, const mx_node *n, int64_t ze, int64_t xe, int64_t we, void *user) {
    conv_acc *a = user;
    const mx_param *k = n->layer->params[0];
    double xv = n->in[0]->data[xe], wv = k->data[we];
    a->acc[ze] += xv * wv;
    if (a->sums) {
        char p[LABEL], q[LABEL];
        mx_xvlabel(c, p, sizeof p, "", n->in[0], xe);
        mx_xplabel(c, q, sizeof q, "", k, we);
        mx_xsum_product(&a->sums[ze], c, p, xv, q, wv);
    }
}

static void conv_forward(mx_xctx *c, const mx_node *n, double *acc, mx_xsum *sums) {
    conv_acc a = {acc, sums};
    conv_each(c, n, fwd_visit, &a);
    if (n->layer->n_params < 2) return;
    const mx_param *b = n->layer->params[1];
    char q[LABEL];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        int64_t f = e % b->size;
        acc[e] += b->data[f];
        if (sums) {
            mx_xplabel(c, q, sizeof q, "", b, f);
            mx_xsum_term(&sums[e], c, q, b->data[f]);
        }
    }
}

static void conv_grad_input_rule(mx_xctx *c, const mx_node *n, int k, mx_text *t) {
    MX_UNUSED(k);
    mx_text_add(t, "dL/d%s[oy,ox,f] * %s[ky,kx,c,f] summed over every output position and tap that read the pixel",
                mx_xsym(c, n->z->name), mx_xsym(c, n->layer->params[0]->name));
}

static void dx_visit(mx_xctx *c, const mx_node *n, int64_t ze, int64_t xe, int64_t we, void *user) {
    conv_acc *a = user;
    const mx_param *k = n->layer->params[0];
    double g = n->z->grad[ze], wv = k->data[we];
    a->acc[xe] += g * wv;
    if (a->sums) {
        char p[LABEL], q[LABEL];
        mx_xvlabel(c, p, sizeof p, "dL/d", n->z, ze);
        mx_xplabel(c, q, sizeof q, "", k, we);
        mx_xsum_product(&a->sums[xe], c, p, g, q, wv);
    }
}

static void conv_grad_input(mx_xctx *c, const mx_node *n, int k, double *acc, mx_xsum *sums) {
    MX_UNUSED(k);
    conv_acc a = {acc, sums};
    conv_each(c, n, dx_visit, &a);
}

static void conv_grad_param_rule(mx_xctx *c, const mx_node *n, int p, mx_text *t) {
    if (p == 0)
        mx_text_add(t, "%s[pixel under tap ky,kx, c] * dL/d%s[oy,ox,f] summed over the output positions",
                    mx_xsym(c, n->in[0]->name), mx_xsym(c, n->z->name));
    else
        mx_text_add(t, "dL/d%s[oy,ox,f] summed over the output positions", mx_xsym(c, n->z->name));
}

static void dw_visit(mx_xctx *c, const mx_node *n, int64_t ze, int64_t xe, int64_t we, void *user) {
    conv_acc *a = user;
    double xv = n->in[0]->data[xe], g = n->z->grad[ze];
    a->acc[we] += xv * g;
    if (a->sums) {
        char p[LABEL], q[LABEL];
        mx_xvlabel(c, p, sizeof p, "", n->in[0], xe);
        mx_xvlabel(c, q, sizeof q, "dL/d", n->z, ze);
        mx_xsum_product(&a->sums[we], c, p, xv, q, g);
    }
}

static void conv_grad_param(mx_xctx *c, const mx_node *n, int p, double *acc, mx_xsum *sums) {
    if (p == 0) {
        conv_acc a = {acc, sums};
        conv_each(c, n, dw_visit, &a);
        return;
    }
    const mx_param *b = n->layer->params[1];
    char q[LABEL];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        int64_t f = e % b->size;
        acc[f] += n->z->grad[e];
        if (sums) {
            mx_xvlabel(c, q, sizeof q, "dL/d", n->z, e);
            mx_xsum_term(&sums[f], c, q, n->z->grad[e]);
        }
    }
}

const mx_xrule mx_xrule_conv2d = {"Conv2D", conv_formula, conv_forward, conv_grad_input_rule, conv_grad_input,
                                  conv_grad_param_rule, conv_grad_param, NULL, NULL, NULL};

/* ---- pooling: the clipped window of each output (padded positions never
 * count, as in TensorFlow) ---- */

static void pool_formula(mx_xctx *c, const mx_node *n, mx_text *t) {
    win w = win_of(c, n);
    int max = !strcmp(n->layer->type->class_name, "MaxPooling2D");
    const char *x = mx_xsym(c, n->in[0]->name);
    mx_text_add(t, "%s = %s(%s; ", mx_xsym(c, n->z->name), max ? "maxpool" : "avgpool", x);
    geometry_text(&w.g, t);
    mx_text_add(t, "): %s[oy,ox,c] = %s of %s[", mx_xsym(c, n->z->name), max ? "the maximum" : "the mean", x);
    index_text(t, "oy", "ky", w.g.sh, 1, w.g.pad_top);
    mx_text_add(t, ", ");
    index_text(t, "ox", "kx", w.g.sw, 1, w.g.pad_left);
    mx_text_add(t, ", c] over the window%s", w.g.pad_top || w.g.pad_left ? " (padding left out)" : "");
}

/* the window of output ze: its input elements (at most kh * kw) */
static int pool_window(const win *w, int64_t ze, int64_t *xs) {
    const mx_conv_geom *g = &w->g;
    int64_t ch = ze % g->c, pix = ze / g->c, ox = pix % g->ow, oy = (pix / g->ow) % g->oh, im = pix / (g->ow * g->oh);
    int k = 0;
    for (int ky = 0; ky < g->kh; ky++) {
        int64_t iy = tap(oy, ky, g->sh, 1, g->pad_top, g->h);
        for (int kx = 0; iy >= 0 && kx < g->kw; kx++) {
            int64_t ix = tap(ox, kx, g->sw, 1, g->pad_left, g->w);
            if (ix >= 0) xs[k++] = ((im * g->h + iy) * g->w + ix) * g->c + ch;
        }
    }
    return k;
}

/* the engine's argmax: the first strictly larger value in scan order */
static int64_t pool_argmax(const float *x, const int64_t *xs, int k) {
    int64_t best = xs[0];
    for (int i = 1; i < k; i++)
        if (x[xs[i]] > x[best]) best = xs[i];
    return best;
}

static void pool_forward(mx_xctx *c, const mx_node *n, double *acc, mx_xsum *sums) {
    win w = win_of(c, n);
    int max = !strcmp(n->layer->type->class_name, "MaxPooling2D");
    const float *x = n->in[0]->data;
    int64_t xs[256];
    char p[LABEL];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        int k = pool_window(&w, e, xs);
        double v = max ? x[pool_argmax(x, xs, k)] : 0;
        if (!max)
            for (int i = 0; i < k; i++) v += x[xs[i]] / (double)k;
        acc[e] += v;
        if (!sums) continue;
        /* "max(x[0,0], x[0,1]) = max(1, 3)" or "(x[0,0] + x[0,1]) / 2 = (1 + 3) / 2" */
        mx_xsum *s = &sums[e];
        mx_text_add(&s->sym, "%s(", max ? "max" : "");
        mx_text_add(&s->num, "%s(", max ? "max" : "");
        for (int i = 0; i < k; i++) {
            mx_xvlabel(c, p, sizeof p, "", n->in[0], xs[i]);
            mx_text_add(&s->sym, "%s%s", i ? (max ? ", " : " + ") : "", p);
            if (i) mx_text_add(&s->num, max ? ", " : " + ");
            mx_xnum(c, &s->num, x[xs[i]]);
        }
        mx_text_add(&s->sym, ")%s", max ? "" : "");
        mx_text_add(&s->num, ")");
        if (!max) {
            mx_text_add(&s->sym, " / %d", k);
            mx_text_add(&s->num, " / %d", k);
        }
        s->value = v;
        s->terms = s->products = 1; /* written as a whole: keep both forms */
    }
}

static void pool_grad_input_rule(mx_xctx *c, const mx_node *n, int k, mx_text *t) {
    MX_UNUSED(k);
    if (!strcmp(n->layer->type->class_name, "MaxPooling2D"))
        mx_text_add(t, "dL/d%s of each window goes to the window's maximum (the first, on ties); the rest get 0",
                    mx_xsym(c, n->z->name));
    else
        mx_text_add(t, "dL/d%s of each window shared equally: / (pixels in the window)", mx_xsym(c, n->z->name));
}

static void pool_grad_input(mx_xctx *c, const mx_node *n, int k, double *acc, mx_xsum *sums) {
    MX_UNUSED(k);
    win w = win_of(c, n);
    int max = !strcmp(n->layer->type->class_name, "MaxPooling2D");
    const float *x = n->in[0]->data;
    int64_t xs[256];
    char p[LABEL], q[16];
    for (int64_t e = 0; e < c->batch * n->z->size; e++) {
        int cnt = pool_window(&w, e, xs);
        double g = n->z->grad[e];
        mx_xvlabel(c, p, sizeof p, "dL/d", n->z, e);
        if (max) {
            int64_t at = pool_argmax(x, xs, cnt);
            acc[at] += g;
            if (sums) mx_xsum_term(&sums[at], c, p, g);
            continue;
        }
        snprintf(q, sizeof q, "1/%d", cnt);
        for (int i = 0; i < cnt; i++) {
            acc[xs[i]] += g / cnt;
            if (sums) mx_xsum_product(&sums[xs[i]], c, p, g, q, 1.0 / cnt);
        }
    }
}

const mx_xrule mx_xrule_max_pool = {"MaxPooling2D", pool_formula, pool_forward, pool_grad_input_rule, pool_grad_input,
                                    NULL, NULL, NULL, NULL, NULL};
const mx_xrule mx_xrule_avg_pool = {"AveragePooling2D", pool_formula, pool_forward, pool_grad_input_rule,
                                    pool_grad_input, NULL, NULL, NULL, NULL, NULL};
