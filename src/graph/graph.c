/* graph.c: building a model graph: layers, nodes, values, parameters. */
#include "graph/graph.h"

#include "layers/config.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

extern const mx_layer_type *const mx_layer_types[]; /* layers/registry.c */

const mx_layer_type *mx_layer_type_find(const char *class_name) {
    for (int i = 0; mx_layer_types[i]; i++)
        if (strcmp(mx_layer_types[i]->class_name, class_name) == 0) return mx_layer_types[i];
    return NULL;
}

mx_model *mx_graph_new(const char *name, uint64_t seed) {
    mx_model *m = mx_alloc(sizeof *m);
    if (!m) return NULL;
    snprintf(m->name, sizeof m->name, "%s", name && *name ? name : "model");
    m->seed = seed;
    return m;
}

/* Grow a pointer array by doubling. */
static int grow(void ***arr, int *cap, int need) {
    if (need <= *cap) return 0;
    int ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) ncap *= 2;
    void **n = mx_alloc_array((size_t)ncap, sizeof(void *));
    if (!n) return -1;
    if (*arr) memcpy(n, *arr, sizeof(void *) * (size_t)*cap);
    mx_free(*arr);
    *arr = n;
    *cap = ncap;
    return 0;
}

/* names are unique within a scope (a nested model may reuse an outer name) */
static int name_used(const mx_model *m, const char *name) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->scope == m->scope && strcmp(m->layers[i]->name, name) == 0) return 1;
    return 0;
}

mx_layer *mx_layer_in_scope(mx_layer *l, const mx_layer *scope) {
    while (l && l->scope != scope) l = l->scope;
    return l;
}

/* Keras's to_snake_case: "MaxPooling2D" -> "max_pooling2d", "ReLU" -> "re_lu".
 * Two regex passes, reproduced literally:
 *   (.)([A-Z][a-z0-9]+) -> \1_\2   then   ([a-z])([A-Z]) -> \1_\2, lowercased. */
static int lowdig(char c) { return islower((unsigned char)c) || isdigit((unsigned char)c); }
static void snake_case(const char *s, char *out, size_t n) {
    char tmp[128];
    size_t k = 0, len = strlen(s);
    for (size_t i = 0; i < len && k + 3 < sizeof tmp;) {
        if (i + 2 < len && isupper((unsigned char)s[i + 1]) && lowdig(s[i + 2])) {
            tmp[k++] = s[i];
            tmp[k++] = '_';
            tmp[k++] = s[i + 1];
            for (i += 2; i < len && lowdig(s[i]) && k + 1 < sizeof tmp; i++) tmp[k++] = s[i];
        } else {
            tmp[k++] = s[i++];
        }
    }
    tmp[k] = 0;
    size_t o = 0;
    for (size_t i = 0; tmp[i] && o + 3 < n;) {
        if (islower((unsigned char)tmp[i]) && isupper((unsigned char)tmp[i + 1])) {
            out[o++] = tmp[i];
            out[o++] = '_';
            out[o++] = (char)tolower((unsigned char)tmp[i + 1]);
            i += 2;
        } else {
            out[o++] = (char)tolower((unsigned char)tmp[i++]);
        }
    }
    out[o] = 0;
}

mx_layer *mx_graph_add_layer(mx_model *m, const mx_layer_type *t, const char *name) {
    char buf[MX_NAME_MAX];
    if (name && *name) {
        if (strlen(name) >= MX_NAME_MAX) return mx_failp("layer name '%.40s...' is too long", name);
        if (name_used(m, name)) return mx_failp("two layers are named '%s'", name);
        snprintf(buf, sizeof buf, "%s", name);
    } else {
        /* Keras: "dense", "dense_1", ...; inputs are "input_1", "input_2", ... */
        char base[64];
        if (strcmp(t->class_name, "InputLayer") == 0)
            snprintf(base, sizeof base, "input");
        else
            snake_case(t->class_name, base, sizeof base);
        int first_plain = strcmp(base, "input") != 0;
        for (int k = first_plain ? 0 : 1;; k++) {
            if (k == 0)
                snprintf(buf, sizeof buf, "%s", base);
            else
                snprintf(buf, sizeof buf, "%s_%d", base, k);
            if (!name_used(m, buf)) break;
        }
    }
    if (grow((void ***)&m->layers, &m->cap_layers, m->n_layers + 1)) return NULL;
    mx_layer *l = mx_alloc(sizeof *l);
    if (!l) return NULL;
    l->cfg = mx_alloc(t->cfg_size ? t->cfg_size : 1);
    if (!l->cfg) {
        mx_free(l);
        return NULL;
    }
    l->type = t;
    l->act.kind = MX_ACT_LINEAR;
    l->model = m;
    l->scope = m->scope;
    l->inference = m->scope && m->scope->inference;
    l->trainable = !m->scope || m->scope->trainable;
    l->index = m->n_layers;
    memcpy(l->name, buf, sizeof buf);
    snprintf(l->weight_scope, sizeof l->weight_scope, "%s", l->name);
    m->layers[m->n_layers++] = l;
    return l;
}

mx_layer *mx_graph_add_inner_layer(mx_layer *w, const mx_layer_type *t, const char *name) {
    mx_model *m = w->model;
    mx_layer *outer = m->scope;
    m->scope = w; /* its name is unique among w's layers only */
    mx_layer *l = mx_graph_add_layer(m, t, name);
    m->scope = outer;
    if (l) snprintf(l->weight_scope, sizeof l->weight_scope, "%.120s/%.127s", w->weight_scope, l->name);
    return l;
}

mx_layer *mx_graph_clone_inner_layer(const mx_layer *src, const char *name) {
    mx_layer *l = mx_graph_add_inner_layer(src->scope, src->type, name);
    if (!l) return NULL;
    memcpy(l->cfg, src->cfg, src->type->cfg_size);
    l->act = src->act;
    l->trainable = src->trainable;
    l->inference = src->inference;
    return l;
}

int mx_wrap_params(mx_layer *w, const mx_layer *inner) {
    for (int i = 0; i < inner->n_params; i++) {
        int have = 0;
        for (int j = 0; j < w->n_params; j++) have |= w->params[j] == inner->params[i];
        if (have) continue;
        if (w->n_params >= MX_MAX_PARAMS) return mx_fail("too many weights in layer");
        w->params[w->n_params++] = inner->params[i];
    }
    return 0;
}

void mx_node_step_error(mx_node *n, const char *fmt, ...) {
    mx_model *m = n->layer->model;
    if (m->step_error[0]) return;
    int k = snprintf(m->step_error, sizeof m->step_error, "layer '%s' (%s): ", n->layer->name, n->layer->type->class_name);
    if (k < 0 || (size_t)k >= sizeof m->step_error) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->step_error + k, sizeof m->step_error - (size_t)k, fmt, ap);
    va_end(ap);
}

mx_layer *mx_graph_find_layer(const mx_model *m, const char *name) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->scope == m->scope && strcmp(m->layers[i]->name, name) == 0) return m->layers[i];
    return NULL;
}

/* the nested-model pseudo-layer: no computation of its own */
static const mx_field submodel_fields[] = {{0}};
const mx_layer_type mx_layer_submodel = {
    .class_name = "Functional",
    .fields = submodel_fields,
    .cfg_size = sizeof(mx_submodel),
};

static mx_value *new_value(mx_model *m, mx_node *producer, const char *name) {
    if (grow((void ***)&m->values, &m->cap_values, m->n_values + 1)) return NULL;
    mx_value *v = mx_alloc(sizeof *v);
    if (!v) return NULL;
    snprintf(v->name, sizeof v->name, "%s", name);
    v->producer = producer;
    v->index = m->n_values;
    m->values[m->n_values++] = v;
    return v;
}

int mx_node_set_output(mx_node *n, int i, int rank, const int64_t *dims) {
    if (rank < 0 || rank > MX_MAX_RANK - 1) return mx_fail("output rank %d is not supported", rank);
    mx_value *v = n->out[i];
    int64_t size = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] <= 0) return mx_fail("output dimension %d is %lld: the input is too small for this layer", d + 1, (long long)dims[d]);
        if (!mx_mul_ok(size, dims[d], &size) || size > ((int64_t)1 << 34))
            return mx_fail("output shape is too large");
    }
    v->rank = rank;
    memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
    v->size = size;
    return 0;
}

int mx_node_add_outputs(mx_node *n, int count) {
    if (count > MX_MAX_OUTPUTS) return mx_fail("too many outputs (%d, at most %d)", count, MX_MAX_OUTPUTS);
    for (int i = n->n_out; i < count; i++) {
        char vname[sizeof n->out[0]->name];
        snprintf(vname, sizeof vname, "%.140s/%d", n->out[0]->name, i);
        /* a wrapper's inner node comes with its output views */
        if (!n->out[i] && !(n->out[i] = new_value(n->layer->model, n, vname))) return -1;
        n->n_out = i + 1;
    }
    return 0;
}

mx_node *mx_graph_call(mx_model *m, mx_layer *l, mx_value **in, int n_in) {
    const mx_layer_type *t = l->type;
    if (n_in < t->min_inputs || n_in > t->max_inputs) {
        if (t->min_inputs == t->max_inputs)
            return mx_failp("layer '%s' (%s): takes %d input%s, got %d", l->name, t->class_name,
                            t->min_inputs, t->min_inputs == 1 ? "" : "s", n_in);
        return mx_failp("layer '%s' (%s): takes %d to %d inputs, got %d", l->name, t->class_name,
                        t->min_inputs, t->max_inputs, n_in);
    }
    if (grow((void ***)&m->nodes, &m->cap_nodes, m->n_nodes + 1)) return NULL;
    mx_node *n = mx_alloc(sizeof *n);
    if (!n) return NULL;
    n->layer = l;
    n->index = m->n_nodes;
    n->call = l->n_nodes;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        n->in[i] = in[i];
        in[i]->n_consumers++;
    }
    char vname[MX_NAME_MAX + 12];
    if (l->n_nodes == 0)
        snprintf(vname, sizeof vname, "%s", l->name);
    else
        snprintf(vname, sizeof vname, "%s:%d", l->name, l->n_nodes);
    n->n_out = 1;
    n->out[0] = new_value(m, n, vname);
    if (!n->out[0]) {
        mx_free(n);
        return NULL;
    }
    m->nodes[m->n_nodes++] = n;
    l->n_nodes++;
    if (t->build(n)) {
        mx_fail_context("layer '%s' (%s): ", l->name, t->class_name);
        return NULL;
    }
    for (int i = 1; i < n->n_out; i++)
        if (!n->out[i]) return mx_failp("layer '%s': output %d not created", l->name, i);
    n->z = n->out[0];
    if (l->act.kind != MX_ACT_LINEAR) {
        char zname[MX_NAME_MAX + 24];
        snprintf(zname, sizeof zname, "%s/z", vname);
        n->z = new_value(m, n, zname);
        if (!n->z) return NULL;
        n->z->rank = n->out[0]->rank;
        memcpy(n->z->dims, n->out[0]->dims, sizeof n->z->dims);
        n->z->size = n->out[0]->size;
    }
    return n;
}

mx_param *mx_layer_param(mx_node *n, const char *short_name, int rank, const int64_t *dims,
                         const mx_init *init, const mx_reg *reg, int trainable, int64_t fan_in,
                         int64_t fan_out) {
    mx_layer *l = n->layer;
    char name[sizeof((mx_param *)0)->name];
    snprintf(name, sizeof name, "%s/%.24s", l->weight_scope, short_name);
    int64_t size = 1;
    for (int i = 0; i < rank; i++)
        if (dims[i] <= 0 || !mx_mul_ok(size, dims[i], &size) || size > ((int64_t)1 << 32))
            return mx_failp("weight '%s' has an invalid or too large shape", name);
    for (int i = 0; i < l->n_params; i++) {
        mx_param *p = l->params[i];
        if (strcmp(p->name, name) != 0) continue;
        /* a shared layer called again: the same weights must fit */
        int same = p->rank == rank;
        for (int d = 0; same && d < rank; d++) same = p->dims[d] == dims[d];
        if (!same) return mx_failp("shared weight '%s' does not fit this call's input shape", name);
        return p;
    }
    if (l->n_params >= MX_MAX_PARAMS) return mx_failp("too many weights in layer");
    mx_param *p = mx_alloc(sizeof *p);
    if (!p) return NULL;
    memcpy(p->name, name, sizeof name);
    p->rank = rank;
    memcpy(p->dims, dims, sizeof(int64_t) * (size_t)rank);
    p->size = size;
    p->trainable = trainable;
    p->init = *init;
    if (reg) p->reg = *reg;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    p->layer = l;
    l->params[l->n_params++] = p;
    return p;
}

/* Keras's Orthogonal: a (max(r, c), min(r, c)) normal matrix, its QR
 * decomposition's Q with the signs of R's diagonal folded in (what
 * Gram-Schmidt gives directly), transposed when rows < cols, times gain. */
static int orthogonal_fill(float *w, int64_t rows, int64_t cols, double gain, mx_rng *rng) {
    int64_t n = MX_MAX(rows, cols), k = MX_MIN(rows, cols);
    double *q = mx_alloc_array((size_t)(n * k), sizeof(double)); /* column j at q[j * n] */
    if (!q) return -1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) q[j * n + i] = mx_rng_normal(rng);
    for (int64_t j = 0; j < k; j++) { /* modified Gram-Schmidt, twice for accuracy */
        double *cj = q + j * n;
        for (int pass = 0; pass < 2; pass++)
            for (int64_t p = 0; p < j; p++) {
                const double *cp = q + p * n;
                double d = 0;
                for (int64_t i = 0; i < n; i++) d += cp[i] * cj[i];
                for (int64_t i = 0; i < n; i++) cj[i] -= d * cp[i];
            }
        double norm = 0;
        for (int64_t i = 0; i < n; i++) norm += cj[i] * cj[i];
        norm = sqrt(norm);
        for (int64_t i = 0; i < n; i++) cj[i] = norm > 0 ? cj[i] / norm : 0;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            w[r * cols + c] = (float)(gain * (rows >= cols ? q[c * n + r] : q[r * n + c]));
    mx_free(q);
    return 0;
}

/* Keras variance scaling: stddev = sqrt(scale / n); truncated normal is
 * drawn within 2 stddev and rescaled by 0.8796... to keep the variance. */
int mx_init_fill(const mx_init *init, float *w, int64_t size, int64_t cols, int64_t fan_in, int64_t fan_out,
                 mx_rng *rng) {
    switch (init->kind) {
    case MX_INIT_ZEROS:
        memset(w, 0, sizeof(float) * (size_t)size);
        return 0;
    case MX_INIT_ONES:
    case MX_INIT_CONSTANT: {
        float v = init->kind == MX_INIT_ONES ? 1.0f : init->a;
        for (int64_t i = 0; i < size; i++) w[i] = v;
        return 0;
    }
    case MX_INIT_RANDOM_NORMAL:
        for (int64_t i = 0; i < size; i++) w[i] = (float)(init->a + init->b * mx_rng_normal(rng));
        return 0;
    case MX_INIT_RANDOM_UNIFORM:
        for (int64_t i = 0; i < size; i++)
            w[i] = (float)(init->a + (init->b - init->a) * mx_rng_uniform(rng));
        return 0;
    case MX_INIT_TRUNCATED_NORMAL:
        for (int64_t i = 0; i < size; i++) {
            double x;
            do x = mx_rng_normal(rng);
            while (fabs(x) > 2.0);
            w[i] = (float)(init->a + init->b * x);
        }
        return 0;
    case MX_INIT_ORTHOGONAL:
        cols = MX_MAX(cols, 1);
        return orthogonal_fill(w, size / cols, cols, init->scale, rng);
    case MX_INIT_VARIANCE_SCALING: {
        double n = init->mode == MX_FAN_IN ? (double)fan_in
                   : init->mode == MX_FAN_OUT ? (double)fan_out
                                              : 0.5 * (double)(fan_in + fan_out);
        double var = init->scale / MX_MAX(1.0, n);
        if (init->distribution == MX_DIST_UNIFORM) {
            double limit = sqrt(3.0 * var);
            for (int64_t i = 0; i < size; i++) w[i] = (float)(limit * (2.0 * mx_rng_uniform(rng) - 1.0));
        } else if (init->distribution == MX_DIST_UNTRUNCATED_NORMAL) {
            double sd = sqrt(var);
            for (int64_t i = 0; i < size; i++) w[i] = (float)(sd * mx_rng_normal(rng));
        } else {
            double sd = sqrt(var) / 0.87962566103423978;
            for (int64_t i = 0; i < size; i++) {
                double x;
                do x = mx_rng_normal(rng);
                while (fabs(x) > 2.0);
                w[i] = (float)(sd * x);
            }
        }
        return 0;
    }
    }
    return 0;
}

mx_init mx_init_variance_scaling(const char *class_name, float scale, mx_fan_mode mode,
                                 mx_distribution d) {
    mx_init i = {0};
    i.kind = MX_INIT_VARIANCE_SCALING;
    snprintf(i.class_name, sizeof i.class_name, "%s", class_name);
    i.scale = scale;
    i.mode = mode;
    i.distribution = d;
    return i;
}

/* Keras's weight order: layers in config order, a nested model's weights
 * in its place */
static void collect_params(mx_model *m, const mx_layer *scope) {
    for (int i = 0; i < m->n_layers; i++) {
        mx_layer *l = m->layers[i];
        if (l->scope != scope) continue;
        if (l->type == &mx_layer_submodel) collect_params(m, l);
        for (int j = 0; j < l->n_params; j++) m->params[m->n_params++] = l->params[j];
    }
}

int mx_graph_finish(mx_model *m) {
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) n += m->layers[i]->n_params;
    m->params = mx_alloc_array((size_t)MX_MAX(n, 1), sizeof(mx_param *));
    if (!m->params) return -1;
    int64_t total = 0, total_grad = 0;
    m->n_params = 0;
    collect_params(m, NULL);
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        /* keep every tensor 64-byte aligned */
        total += (p->size + 15) / 16 * 16;
        if (p->trainable) total_grad += (p->size + 15) / 16 * 16;
    }
    m->param_mem = mx_alloc_array((size_t)MX_MAX(total, 1), sizeof(float));
    m->grad_mem = mx_alloc_array((size_t)MX_MAX(total_grad, 1), sizeof(float));
    if (!m->param_mem || !m->grad_mem) return -1;
    int64_t off = 0, goff = 0;
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        p->data = m->param_mem + off;
        off += (p->size + 15) / 16 * 16;
        if (p->trainable) {
            p->grad_slot = m->grad_mem + goff;
            goff += (p->size + 15) / 16 * 16;
        }
        mx_rng rng;
        mx_rng_seed(&rng, p->init.has_seed ? (uint64_t)p->init.seed : mx_stream(m->seed, (uint64_t)i, 1, 0));
        if (mx_init_fill(&p->init, p->data, p->size, p->rank ? p->dims[p->rank - 1] : 1, p->fan_in, p->fan_out, &rng))
            return mx_fail_context("initialising '%s': ", p->name);
    }
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->type->after_init) m->layers[i]->type->after_init(m->layers[i]);
    return 0;
}

/* ---- public model queries ---- */

void mx_model_free(mx_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        if (n->layer->type->free_state) n->layer->type->free_state(n);
        mx_free(n->state);
        mx_free(n);
    }
    for (int i = 0; i < m->n_layers; i++) {
        mx_layer *l = m->layers[i];
        for (int j = 0; j < l->n_params; j++)
            if (l->params[j]->layer == l) mx_free(l->params[j]); /* a wrapper's are its inner layer's */
        mx_free(l->cfg);
        mx_free(l);
    }
    for (int i = 0; i < m->n_values; i++) mx_free(m->values[i]);
    mx_free(m->layers);
    mx_free(m->nodes);
    mx_free(m->values);
    mx_free(m->params);
    mx_free(m->param_mem);
    mx_free(m->grad_mem);
    mx_free(m->plan_mem);
    mx_free(m->opt);
    mx_free(m->opt_mem);
    mx_free(m);
}

const char *mx_model_name(const mx_model *m) { return m->name; }
int mx_model_n_inputs(const mx_model *m) { return m->n_inputs; }
int mx_model_n_outputs(const mx_model *m) { return m->n_outputs; }

static int value_shape(const mx_value *v, int64_t *shape) {
    memcpy(shape, v->dims, sizeof(int64_t) * (size_t)v->rank);
    return v->rank;
}
int mx_model_input_shape(const mx_model *m, int i, int64_t *shape) {
    return i >= 0 && i < m->n_inputs ? value_shape(m->inputs[i], shape) : -1;
}
int mx_model_output_shape(const mx_model *m, int i, int64_t *shape) {
    return i >= 0 && i < m->n_outputs ? value_shape(m->outputs[i], shape) : -1;
}

int64_t mx_model_weights_size(const mx_model *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += m->params[i]->size;
    return n;
}

void mx_model_weights_get(const mx_model *m, float *dst) {
    for (int i = 0; i < m->n_params; i++) {
        memcpy(dst, m->params[i]->data, sizeof(float) * (size_t)m->params[i]->size);
        dst += m->params[i]->size;
    }
}

void mx_model_weights_set(mx_model *m, const float *src) {
    for (int i = 0; i < m->n_params; i++) {
        memcpy(m->params[i]->data, src, sizeof(float) * (size_t)m->params[i]->size);
        src += m->params[i]->size;
    }
    mx_model_weights_changed(m);
}

mx_param_counts mx_model_param_counts(const mx_model *m) {
    mx_param_counts c = {0, 0};
    for (int i = 0; i < m->n_params; i++) {
        const mx_param *p = m->params[i];
        if (p->trainable && p->layer->trainable)
            c.trainable += p->size;
        else
            c.non_trainable += p->size;
    }
    return c;
}
