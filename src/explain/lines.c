/* lines.c: writing formulas with their numbers: symbols, indices, numbers
 * at a precision, sums of products evaluated as written, and the checks
 * of those sums against the engine's numbers. */
#include "explain/explain.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mx_xsym(const mx_xctx *c, const char *name) {
    const char *s = json_string_value(json_object_get(c->symbols, name));
    return s ? s : name;
}

void mx_xnum(const mx_xctx *c, mx_text *t, double v) {
    if (v == 0) v = 0; /* no "-0" */
    mx_text_add(t, "%.*g", c->precision, v);
}

/* a number as a factor: negative ones in parentheses, "0.2*(-0.5)" */
static void factor(const mx_xctx *c, mx_text *t, double v) {
    if (v < 0) mx_text_add(t, "(");
    mx_xnum(c, t, v);
    if (v < 0) mx_text_add(t, ")");
}

void mx_xsay(mx_text *t, const mx_xctx *c, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    for (; *f; f++) {
        if (f[0] == '{' && f[1] == '}') {
            factor(c, t, va_arg(ap, double));
            f++;
        } else if (f[0] == '{' && f[1] == '=' && f[2] == '}') { /* a result: no parentheses */
            mx_xnum(c, t, va_arg(ap, double));
            f += 2;
        } else if (f[0] == '%' && f[1] == 's') {
            mx_text_add(t, "%s", va_arg(ap, const char *));
            f++;
        } else {
            mx_text_add(t, "%c", *f);
        }
    }
    va_end(ap);
}

void mx_xindex(const mx_xctx *c, mx_text *t, int64_t e, int rank, const int64_t *dims, int with_sample) {
    int64_t size = 1;
    for (int i = 0; i < rank; i++) size *= dims[i];
    int sample = with_sample && c->batch > 1;
    if (!sample && size == 1) return; /* a scalar: no index at all */
    int64_t idx[MX_MAX_RANK], rest = e % size;
    for (int i = rank - 1; i >= 0; i--) {
        idx[i] = rest % dims[i];
        rest /= dims[i];
    }
    mx_text_add(t, "[");
    if (sample) mx_text_add(t, "%lld%s", (long long)(e / size), rank && size > 1 ? "," : "");
    if (size > 1)
        for (int i = 0; i < rank; i++) mx_text_add(t, "%s%lld", i ? "," : "", (long long)idx[i]);
    mx_text_add(t, "]");
}

void mx_xcheck(mx_xctx *c, const char *what, double got, double want, double scale) {
    c->checks++;
    /* float32 sums of a few terms: relative to the size of the terms */
    double tol = 1e-5 * (fabs(scale) + fabs(want)) + 1e-7;
    double err = fabs(got - want) / (fabs(scale) + fabs(want) + 1e-30);
    if (err > c->max_err && isfinite(err)) c->max_err = err;
    if (fabs(got - want) > tol || isnan(got) != isnan(want)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: the engine has %.9g, the formula gives %.9g", what, got, want);
        if (json_array_size(c->notes) < 50) json_array_append_new(c->notes, json_string(msg));
    }
}

/* exact float32 values (written with 9 significant digits they read back
 * the same); NaN and infinities as null */
json_t *mx_xfloats(const float *v, int64_t n) {
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++) json_array_append_new(a, isfinite(v[i]) ? json_real(v[i]) : json_null());
    return a;
}

/* ---- sums written out ---- */

#define SYM_TERMS 12 /* symbolic form up to this many terms */
#define NUM_TERMS 32 /* numbers up to this many */

void mx_xsum_begin(mx_xsum *s) {
    mx_text_clear(&s->sym);
    mx_text_clear(&s->num);
    s->value = s->scale = 0;
    s->terms = s->products = 0;
}

void mx_xsum_product(mx_xsum *s, const mx_xctx *c, const char *a, double av, const char *b, double bv) {
    if (s->terms < SYM_TERMS) mx_text_add(&s->sym, "%s%s*%s", s->terms ? " + " : "", a, b);
    if (s->terms < NUM_TERMS) {
        if (s->terms) mx_text_add(&s->num, " + ");
        factor(c, &s->num, av);
        mx_text_add(&s->num, "*");
        factor(c, &s->num, bv);
    }
    s->value += av * bv;
    s->scale += fabs(av * bv);
    s->terms++;
    s->products++;
}

void mx_xsum_term(mx_xsum *s, const mx_xctx *c, const char *a, double av) {
    if (s->terms < SYM_TERMS) mx_text_add(&s->sym, "%s%s", s->terms ? " + " : "", a);
    if (s->terms < NUM_TERMS) {
        if (s->terms) mx_text_add(&s->num, " + ");
        factor(c, &s->num, av);
    }
    s->value += av;
    s->scale += fabs(av);
    s->terms++;
}

double mx_xsum_end(mx_xsum *s, const mx_xctx *c, const char *lhs, json_t *lines) {
    if (lines) {
        mx_text t = {0};
        mx_text_add(&t, "%s = ", lhs);
        if (s->terms == 0) {
            mx_text_add(&t, "0");
        } else if (s->terms == 1 && !s->products && s->terms <= SYM_TERMS) { /* one plain term: "= a = 0.5" */
            mx_text_add(&t, "%s = ", mx_text_str(&s->sym));
            mx_xnum(c, &t, s->value);
        } else {
            if (s->terms <= SYM_TERMS) mx_text_add(&t, "%s = ", mx_text_str(&s->sym));
            if (s->terms <= NUM_TERMS)
                mx_text_add(&t, "%s = ", mx_text_str(&s->num));
            else
                mx_text_add(&t, "(a sum of %d terms) = ", s->terms);
            mx_xnum(c, &t, s->value);
        }
        json_array_append_new(lines, json_string(mx_text_str(&t)));
        mx_text_free(&t);
    }
    return s->value;
}
