/* explain.h: explanations of what the engine computes, step by step, for
 * the tiny networks of pen-and-paper exercises (docs/explain.md).
 *
 * A network description (netfile.c) becomes a real model; trace.c runs the
 * engine's own training step on it and records every value, gradient and
 * optimizer update as a JSON trace. The numbers are the engine's; the
 * formulas with numbers filled in ("lines") are derived from them by the
 * rules of each layer type (rules.c, window.c) and the optimizer
 * (update.c), and recomputed in double to check that they multiply out to
 * the engine's numbers. */
#ifndef MX_EXPLAIN_H
#define MX_EXPLAIN_H

#include "graph/graph.h"

#include <jansson.h>

/* ---- network descriptions (netfile.c) ---- */

typedef struct mx_netfile {
    mx_model *model;          /* compiled, keep_preactivations and grad_inputs set */
    int batch;
    float *x;                 /* (batch, input shape), then each initial state (batch, units) a file gives */
    float *t;                 /* targets as the loss reads them: (batch, output) or (batch) class indices */
    int64_t t_size;           /* floats in t */
    int steps;
    char name[MX_NAME_MAX];
    char *description;        /* or NULL */
    char *input_symbol;       /* how the input is written ("x") */
    json_t *given;            /* {param name: true} for the weights the file gives */
    json_t *symbols;          /* {value or param name: symbol} chosen by the file */
} mx_netfile;

/* Parse and build; errors name the file and the field ("net.json:
 * layers[1].kernel: expected 2x3 values, got 5"). */
int mx_netfile_load(const char *text, const char *origin, mx_netfile *nf);
void mx_netfile_free(mx_netfile *nf);

/* ---- the trace ---- */

/* How numbers are written in the lines: `precision` significant digits. */
typedef struct mx_xctx {
    mx_model *m;
    const mx_netfile *nf;
    int batch;
    int precision;
    json_t *symbols;          /* value/param name -> symbol, complete */
    json_t *notes;            /* self-consistency problems, as text */
    double max_err;           /* largest relative difference found by the checks */
    int checks;               /* numbers checked */
} mx_xctx;

json_t *mx_explain_trace(const mx_netfile *nf, int steps, int precision);

/* ---- helpers shared by the rules ---- */

/* the symbol of a value or a weight ("x", "z_h", "W_h") */
const char *mx_xsym(const mx_xctx *c, const char *name);
/* "0.59327" at the context's precision */
void mx_xnum(const mx_xctx *c, mx_text *t, double v);
/* Text with numbers: "{}" takes a double (at the precision; negative ones
 * in parentheses), "{=}" a result (no parentheses), "%s" a string:
 * mx_xsay(t, c, "%s = {} - {}*{} = {=}", w, a, b, g, r) */
void mx_xsay(mx_text *t, const mx_xctx *c, const char *f, ...);
/* "[n,i,j]" for element e of a value with `rank` dims (sample index when batch > 1) */
void mx_xindex(const mx_xctx *c, mx_text *t, int64_t e, int rank, const int64_t *dims, int with_sample);
/* Record that a rule recomputed `want` where the engine has `got`, with
 * `scale` the size of the terms summed (for the tolerance). */
void mx_xcheck(mx_xctx *c, const char *what, double got, double want, double scale);
/* Floats as a JSON array */
json_t *mx_xfloats(const float *v, int64_t n);

/* A sum of products written out: "lhs = a*b + c*d + e = 1*2 + 3*4 + 5 = 19",
 * evaluated in double as it is written. */
typedef struct mx_xsum {
    mx_text sym, num;
    double value, scale;
    int terms, products;
} mx_xsum;
void mx_xsum_begin(mx_xsum *s);
void mx_xsum_product(mx_xsum *s, const mx_xctx *c, const char *a, double av, const char *b, double bv);
void mx_xsum_term(mx_xsum *s, const mx_xctx *c, const char *a, double av);
/* Append "lhs = ... = result" to lines (when lines is not NULL); returns the value. */
double mx_xsum_end(mx_xsum *s, const mx_xctx *c, const char *lhs, json_t *lines);

/* ---- per layer type rules (rules.c, window.c) ----
 * Each rule recomputes, in double, one tensor of the step element by
 * element (acc, batch * size doubles, added to) and writes the terms into
 * sums (one per element; NULL when the tensor is too large for lines). */

/* Elements of a tensor beyond which its lines are left out (values only). */
#define MX_XLINES_MAX 64

typedef struct mx_xrule {
    const char *class_name;
    /* "z_h = x W_h + b_h" */
    void (*formula)(mx_xctx *c, const mx_node *n, mx_text *t);
    /* n->z (the core result, before a fused activation) */
    void (*forward)(mx_xctx *c, const mx_node *n, double *acc, mx_xsum *sums);
    /* n's share of dL/d in[k], from dL/dz: "dL/dx = dL/dz_h W_h^T" */
    void (*grad_input_rule)(mx_xctx *c, const mx_node *n, int k, mx_text *t);
    void (*grad_input)(mx_xctx *c, const mx_node *n, int k, double *acc, mx_xsum *sums);
    /* dL/d of the layer's parameter p (index in layer->params) */
    void (*grad_param_rule)(mx_xctx *c, const mx_node *n, int p, mx_text *t);
    void (*grad_param)(mx_xctx *c, const mx_node *n, int p, double *acc, mx_xsum *sums);
    /* Optional: whether the rule covers this call (NULL: always) */
    int (*applies)(const mx_node *n);
    /* Optional, for a call that loops over time (SimpleRNN): entries of its
     * own, every step's values in the forward pass (before the call's
     * output) and their gradients in backward order (after the output's). */
    void (*unroll_forward)(mx_xctx *c, const mx_node *n, json_t *fw);
    void (*unroll_backward)(mx_xctx *c, const mx_node *n, json_t *bw);
} mx_xrule;

/* NULL for layer types without a rule (their values are shown, unexplained) */
const mx_xrule *mx_xrule_find(const mx_node *n);
extern const mx_xrule mx_xrule_conv2d, mx_xrule_max_pool, mx_xrule_avg_pool, mx_xrule_simple_rnn;

/* "x[0]", "dL/dz_h[1,0]", "W_h[2,1]": a symbol with an element's index */
void mx_xvlabel(const mx_xctx *c, char *buf, size_t n, const char *prefix, const mx_value *v, int64_t e);
void mx_xplabel(const mx_xctx *c, char *buf, size_t n, const char *prefix, const mx_param *p, int64_t e);

/* ---- the optimizer step (update.c) ---- */

/* The rule of the configured optimizer and form, as formulas. */
json_t *mx_xupdate_formulas(const mx_optimizer_config *o);
/* Weights and state before the update (a copy of every trainable tensor's
 * data, gradient and slots). */
typedef struct mx_xsnap {
    int n;
    float **w, **g, **s; /* per parameter; s holds slots * size floats */
} mx_xsnap;
int mx_xsnap_take(mx_xsnap *sn, const mx_model *m);
void mx_xsnap_free(mx_xsnap *sn);
/* The update of every trainable tensor, written out element by element,
 * from the snapshot before and the engine's state after. */
json_t *mx_xupdate_explain(mx_xctx *c, const mx_xsnap *before, int64_t t, float lr);

#endif
