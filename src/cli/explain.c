/* explain.c: `mlexp explain FILE`: every number of a tiny network's
 * training steps, as the engine computes them. The engine writes the trace
 * (mx_explain, JSON: docs/explain.md); this file only lays it out as text
 * or markdown, as the browser page lays out the same JSON. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    FILE *f;
    int md;        /* markdown */
    int precision;
} out;

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* level 0: underlined in text; md: the markdown heading's depth */
static void heading(const out *o, int level, int md, const char *fmt, const char *a, const char *b) {
    char text[512];
    snprintf(text, sizeof text, fmt, a, b);
    if (o->md) {
        fprintf(o->f, "\n%.*s %s\n\n", md, "####", text);
        return;
    }
    if (level == 0) {
        fprintf(o->f, "\n%s\n", text);
        for (size_t i = 0; i < strlen(text); i++) fputc('=', o->f);
        fputc('\n', o->f);
    } else {
        fprintf(o->f, "\n%s\n", text);
    }
}

/* lines of formulas: indented in text, a code block in markdown */
static void lines(const out *o, json_t *a, int indent) {
    if (!json_array_size(a)) return;
    if (o->md) fprintf(o->f, "```\n");
    size_t i;
    json_t *l;
    json_array_foreach(a, i, l) fprintf(o->f, "%*s%s\n", o->md ? 0 : indent, "", json_string_value(l));
    if (o->md) fprintf(o->f, "```\n");
}

/* a formula or rule: its own line */
static void formula(const out *o, const char *s, int indent) {
    if (o->md)
        fprintf(o->f, "- `%s`\n", s);
    else
        fprintf(o->f, "%*s%s\n", indent, "", s);
}

/* numbers of a tensor laid out by its shape: [a, b] for vectors, one row
 * per line for matrices, one matrix per channel for images */
static void number(const out *o, json_t *v) {
    if (json_is_number(v))
        fprintf(o->f, "%.*g", o->precision, json_number_value(v) == 0 ? 0.0 : json_number_value(v));
    else
        fprintf(o->f, "nan");
}

static void row(const out *o, json_t *data, size_t start, size_t n, size_t stride) {
    fprintf(o->f, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) fprintf(o->f, ", ");
        number(o, json_array_get(data, start + i * stride));
    }
    fprintf(o->f, "]");
}

/* a convolution kernel (kh, kw, in, out): one kh x kw matrix per pair */
static void kernel(const out *o, const int64_t *d, json_t *data, int indent) {
    size_t kh = (size_t)d[0], kw = (size_t)d[1], ci = (size_t)d[2], co = (size_t)d[3];
    for (size_t i = 0; i < ci; i++)
        for (size_t f = 0; f < co; f++) {
            if (ci > 1 || co > 1) fprintf(o->f, "%*sin %zu, out %zu:\n", indent, "", i, f);
            for (size_t y = 0; y < kh; y++) {
                fprintf(o->f, "%*s", indent + 2, "");
                row(o, data, (y * kw * ci + i) * co + f, kw, ci * co);
                fprintf(o->f, "\n");
            }
        }
}

/* is_weight: a rank-4 shape is a convolution kernel, not (n, h, w, c);
 * negative: a rank-3 shape is a batch of sequences, not an image */
static void tensor(const out *o, json_t *shape, json_t *data, int indent, int is_weight) {
    size_t rank = json_array_size(shape), total = json_array_size(data);
    int64_t d[8] = {1};
    for (size_t i = 0; i < rank && i < 8; i++) d[i] = json_integer_value(json_array_get(shape, i));
    if (o->md) fprintf(o->f, "```\n"), indent = 0;
    if (is_weight && rank == 4) {
        kernel(o, d, data, indent);
    } else if (is_weight < 0 && rank == 3) { /* sequences: a (timesteps, features) matrix per sample */
        size_t steps = (size_t)d[1], f = (size_t)d[2];
        for (size_t n = 0; n < (size_t)d[0]; n++) {
            fprintf(o->f, "%*ssample %zu:\n", indent, "", n);
            for (size_t r = 0; r < steps; r++) {
                fprintf(o->f, "%*s", indent + 2, "");
                row(o, data, (n * steps + r) * f, f, 1);
                fprintf(o->f, "\n");
            }
        }
    } else if (rank <= 1) {
        fprintf(o->f, "%*s", indent, "");
        row(o, data, 0, total, 1);
        fprintf(o->f, "\n");
    } else if (rank == 2 || rank > 4) {
        size_t cols = (size_t)d[rank - 1];
        for (size_t r = 0; r * cols < total; r++) {
            fprintf(o->f, "%*s", indent, "");
            row(o, data, r * cols, cols, 1);
            fprintf(o->f, "\n");
        }
    } else { /* (h, w, c) or (n, h, w, c): a matrix per sample and channel */
        size_t c = (size_t)d[rank - 1], w = (size_t)d[rank - 2], h = (size_t)d[rank - 3];
        size_t images = total / (h * w * c);
        for (size_t im = 0; im < images; im++)
            for (size_t ch = 0; ch < c; ch++) {
                if (images > 1)
                    fprintf(o->f, "%*ssample %zu, channel %zu:\n", indent, "", im, ch);
                else if (c > 1)
                    fprintf(o->f, "%*schannel %zu:\n", indent, "", ch);
                for (size_t y = 0; y < h; y++) {
                    fprintf(o->f, "%*s", indent + 2, "");
                    row(o, data, ((im * h + y) * w) * c + ch, w, c);
                    fprintf(o->f, "\n");
                }
            }
    }
    if (o->md) fprintf(o->f, "```\n");
}

static void shape_text(json_t *shape, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    size_t i;
    json_t *d;
    json_array_foreach(shape, i, d) k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "%s%lld", i ? ", " : "", (long long)json_integer_value(d));
    if (json_array_size(shape) == 1 && k < n) k += (size_t)snprintf(buf + k, n - k, ",");
    if (k < n) snprintf(buf + k, n - k, ")");
}

static void weights(const out *o, json_t *ws) {
    size_t i;
    json_t *w;
    json_array_foreach(ws, i, w) {
        char s[96];
        shape_text(json_object_get(w, "shape"), s, sizeof s);
        if (o->md)
            fprintf(o->f, "- `%s` %s\n", str(w, "symbol"), s);
        else
            fprintf(o->f, "  %s %s\n", str(w, "symbol"), s);
        tensor(o, json_object_get(w, "shape"), json_object_get(w, "data"), 4, 1);
    }
}

/* a value, a gradient: its formula, its lines or (without lines) its numbers */
static void entry(const out *o, json_t *e, const char *what) {
    formula(o, json_string_value(json_object_get(e, what)) ? str(e, what) : str(e, "symbol"), 2);
    if (json_object_get(e, "note")) {
        if (o->md)
            fprintf(o->f, "  *%s*\n", str(e, "note"));
        else
            fprintf(o->f, "    (%s)\n", str(e, "note"));
    }
    json_t *l = json_object_get(e, "lines");
    if (l) {
        lines(o, l, 4);
        lines(o, json_object_get(e, "factor_lines"), 6);
    } else if (json_object_get(e, "data")) {
        tensor(o, json_object_get(e, "shape"), json_object_get(e, "data"), 4, json_is_true(json_object_get(e, "param")));
    }
}

static void step(const out *o, json_t *s, json_t *opt) {
    char title[128];
    snprintf(title, sizeof title, "Step %lld (t = %lld, learning rate %g)", (long long)json_integer_value(json_object_get(s, "step")),
             (long long)json_integer_value(json_object_get(s, "t")), json_number_value(json_object_get(s, "learning_rate")));
    heading(o, 0, 2, "%s%s", title, "");
    if (json_object_get(s, "lookahead")) {
        heading(o, 1, 3, "%s%s", "Look-ahead: the gradient is taken at w~ = w + momentum * v", "");
        weights(o, json_object_get(s, "lookahead"));
    }
    heading(o, 1, 3, "%s%s", "Forward pass", "");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(s, "forward"), i, e) entry(o, e, "formula");
    json_t *loss = json_object_get(s, "loss");
    heading(o, 1, 3, "%s%s", "Loss: ", str(loss, "formula"));
    lines(o, json_object_get(loss, "lines"), 2);
    heading(o, 1, 3, "%s%s", "Backward pass, in backward order", "");
    json_array_foreach(json_object_get(s, "backward"), i, e) entry(o, e, "rule");
    json_t *u = json_object_get(s, "update");
    if (u) {
        heading(o, 1, 3, "Update: %s, %s form", str(opt, "class_name"), str(opt, "form"));
        json_array_foreach(json_object_get(opt, "formulas"), i, e) formula(o, json_string_value(e), 2);
        if (json_object_get(u, "alpha_t"))
            fprintf(o->f, "%salpha_t = %.*g\n", o->md ? "- " : "  ", o->precision, json_number_value(json_object_get(u, "alpha_t")));
        json_array_foreach(json_object_get(u, "params"), i, e) {
            if (json_object_get(e, "clip_scale"))
                fprintf(o->f, "  (%s's gradient clipped: times %.*g)\n", str(e, "symbol"), o->precision,
                        json_number_value(json_object_get(e, "clip_scale")));
            if (json_object_get(e, "lines"))
                lines(o, json_object_get(e, "lines"), 4);
            else {
                fprintf(o->f, "  %s after the update:\n", str(e, "symbol"));
                tensor(o, json_object_get(e, "shape"), json_object_get(e, "after"), 4, 1);
            }
        }
    }
    json_t *chk = json_object_get(s, "check");
    if (json_is_true(json_object_get(chk, "ok")))
        fprintf(o->f, "\n%sCheck: the %lld numbers worked out above agree with the engine's.\n", o->md ? "" : "",
                (long long)json_integer_value(json_object_get(chk, "numbers")));
    else {
        fprintf(o->f, "\nCheck: the formulas and the engine disagree:\n");
        json_array_foreach(json_object_get(chk, "notes"), i, e) fprintf(o->f, "  %s\n", json_string_value(e));
    }
}

static void layout(const out *o, json_t *t) {
    heading(o, 0, 1, "%s%s", str(t, "name"), "");
    if (json_object_get(t, "description")) fprintf(o->f, "%s\n", str(t, "description"));
    fprintf(o->f, "%s%s\n", o->md ? "\n" : "", str(t, "notation"));
    heading(o, 1, 2, "%s%s", "Computation graph", "");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(t, "graph"), i, e) {
        char s[96];
        shape_text(json_object_get(e, "shape"), s, sizeof s);
        if (o->md)
            fprintf(o->f, "%zu. `%s` %s", i + 1, str(e, "formula"), s);
        else
            fprintf(o->f, "  %-40s %s", str(e, "formula"), s);
        if (json_object_get(e, "shape_rule")) fprintf(o->f, "; shape: %s", str(e, "shape_rule"));
        if (json_object_get(e, "params_rule")) fprintf(o->f, "; parameters: %s", str(e, "params_rule"));
        fprintf(o->f, "\n");
    }
    json_t *loss = json_object_get(t, "loss"), *opt = json_object_get(t, "optimizer");
    if (o->md)
        fprintf(o->f, "%zu. `%s` (%s)\n", json_array_size(json_object_get(t, "graph")) + 1, str(loss, "formula"), str(loss, "name"));
    else
        fprintf(o->f, "  %s   (%s)\n", str(loss, "formula"), str(loss, "name"));
    heading(o, 1, 2, "Optimizer: %s, %s form", str(opt, "class_name"), str(opt, "form_title"));
    if (json_object_get(opt, "reference")) fprintf(o->f, "%s(%s)\n", o->md ? "" : "  ", str(opt, "reference"));
    json_array_foreach(json_object_get(opt, "formulas"), i, e) formula(o, json_string_value(e), 2);
    heading(o, 1, 2, "%s%s", "Input and targets", "");
    json_t *in = json_object_get(t, "input");
    fprintf(o->f, "%s%s\n", o->md ? "" : "  ", str(in, "symbol"));
    tensor(o, json_object_get(in, "shape"), json_object_get(in, "data"), 4,
           json_is_true(json_object_get(in, "sequence")) ? -1 : 0);
    json_array_foreach(json_object_get(t, "initial_states"), i, e) { /* h0 of a recurrent layer */
        fprintf(o->f, "%s%s (initial state)\n", o->md ? "" : "  ", str(e, "symbol"));
        tensor(o, json_object_get(e, "shape"), json_object_get(e, "data"), 4, 0);
    }
    fprintf(o->f, "%st\n", o->md ? "" : "  ");
    tensor(o, json_object_get(json_object_get(t, "targets"), "shape"), json_object_get(json_object_get(t, "targets"), "data"), 4, 0);
    json_t *steps = json_object_get(t, "steps");
    if (json_array_size(steps)) {
        heading(o, 1, 2, "%s%s", "Weights before step 1", "");
        weights(o, json_object_get(json_array_get(steps, 0), "weights"));
    }
    json_array_foreach(steps, i, e) step(o, e, opt);
    char after[64];
    snprintf(after, sizeof after, "Weights after %zu step%s", json_array_size(steps), json_array_size(steps) == 1 ? "" : "s");
    heading(o, 0, 2, "%s%s", after, "");
    weights(o, json_object_get(t, "final_weights"));
}

int cmd_explain(int argc, char **argv) {
    const char *steps = NULL, *precision = NULL, *format = "text";
    const cli_opt opts[] = {
        {"--steps", "N", "training steps to show (default: the file's \"steps\", else 1)", &steps, NULL},
        {"--precision", "P", "significant digits of the numbers (default 6)", &precision, NULL},
        {"--format", "F", "text (default), markdown or json (the trace itself, docs/explain.md)", &format, NULL},
        {0},
    };
    const cli_cmd c = {
        "explain", "FILE",
        "Show every number of a tiny network's training steps as the engine computes them: the\n"
        "computation graph, the forward pass (each value, its formula with the numbers filled in),\n"
        "the loss, the backward pass in backward order with the chain-rule factor of every node,\n"
        "and the optimizer's update with its state. Each written-out formula is recomputed and\n"
        "checked against the engine's numbers.",
        "FILE describes the network: inputs, layers with their weights, loss, targets, optimizer\n"
        "and steps (docs/explain.md; examples in examples/explain/). For example:\n"
        "  mlexp explain examples/explain/sigmoid_221.json\n"
        "  mlexp explain examples/explain/adam.json --steps 3 --format markdown",
        opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 1);
    if (p) return p > 0 ? 0 : 2;
    mx_explain_options eo = {0, 6};
    if ((steps && cli_int(steps, "--steps", 1, 1000, &eo.steps)) ||
        (precision && cli_int(precision, "--precision", 1, 17, &eo.precision)))
        return cli_error("explain", "%s", mx_error()), 2;
    int md = !strcmp(format, "markdown"), json = !strcmp(format, "json");
    if (!md && !json && strcmp(format, "text")) return cli_error("explain", "--format must be text, markdown or json, got '%s'", format), 2;
    size_t len;
    char *text = mx_read_file(pos[0], &len, 16u << 20);
    if (!text) return cli_error("explain", "%s", mx_error());
    char *trace = mx_explain(text, pos[0], &eo);
    mx_free(text);
    if (!trace) return cli_error("explain", "%s", mx_error());
    json_error_t err;
    json_t *t = json_loads(trace, 0, &err);
    free(trace);
    if (!t) return cli_error("explain", "internal: the trace is not JSON: %s", err.text);
    int rc = 0;
    if (json) {
        rc = json_dumpf(t, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(9)) ? 1 : 0;
        putchar('\n');
    } else {
        out o = {stdout, md, eo.precision};
        layout(&o, t);
    }
    /* a disagreement between the formulas and the engine is a failure */
    if (!json_is_true(json_object_get(json_object_get(t, "check"), "ok"))) rc = 3;
    json_decref(t);
    return rc;
}
