/* netfile.c: network descriptions: a tiny model written out with all its
 * numbers (docs/explain.md). The layers are the engine's own, built through
 * the same config reader as any Keras config, so every error names the
 * field it is about. */
#include "explain/explain.h"
#include "io/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* weights are given under their Keras names; "alpha" is a weight of PReLU
 * only (LeakyReLU's alpha is its config) */
static int is_weight_key(const char *cls, const char *key) {
    static const char *const names[] = {"kernel", "bias", "depthwise_kernel", "pointwise_kernel", "gamma",
                                        "beta", "moving_mean", "moving_variance", "recurrent_kernel", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], key)) return 1;
    return !strcmp(key, "alpha") && !strcmp(cls, "PReLU");
}

/* keys of a layer entry that are ours, not the layer's config */
static int is_entry_key(const char *key) {
    return !strcmp(key, "type") || !strcmp(key, "name") || !strcmp(key, "inputs") || !strcmp(key, "symbol") ||
           !strcmp(key, "z_symbol") || !strcmp(key, "h0");
}

/* layers that read (timesteps, features) per sample */
static int is_recurrent(const char *cls) {
    return cls && (!strcmp(cls, "SimpleRNN") || !strcmp(cls, "LSTM") || !strcmp(cls, "GRU"));
}

/* ---- numbers: a number or nested lists of numbers ---- */

/* Count the numbers and find the nesting shape (the lengths along the first
 * list of each level); -1 with a message when something is not a number or
 * lists are ragged. */
static int64_t count_numbers(json_t *v, int depth, int *rank, int64_t *dims, const char *where) {
    if (json_is_number(v)) {
        if (depth > *rank) *rank = depth;
        return 1;
    }
    if (!json_is_array(v)) return mx_fail("%s: expected numbers, got %s", where, json_is_string(v) ? "a string" : "another value");
    if (depth >= MX_MAX_RANK) return mx_fail("%s: nested too deeply", where);
    size_t n = json_array_size(v);
    if (dims[depth] < 0)
        dims[depth] = (int64_t)n;
    else if (dims[depth] != (int64_t)n)
        return mx_fail("%s: rows of different lengths (%lld and %zu)", where, (long long)dims[depth], n);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t k = count_numbers(json_array_get(v, i), depth + 1, rank, dims, where);
        if (k < 0) return -1;
        total += k;
    }
    if (n == 0 && depth + 1 > *rank) *rank = depth + 1;
    return total;
}

static void flatten_numbers(json_t *v, float *out, int64_t *k) {
    if (json_is_number(v)) {
        out[(*k)++] = (float)json_number_value(v);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) flatten_numbers(e, out, k);
}

/* the dims other than 1: a (3, 3) list fits a (3, 3, 1, 1) kernel */
static int squeeze(int rank, const int64_t *dims, int64_t *out) {
    int r = 0;
    for (int i = 0; i < rank; i++)
        if (dims[i] != 1) out[r++] = dims[i];
    return r;
}

static void dims_text(char *buf, size_t n, int rank, const int64_t *dims) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "x" : "", (long long)dims[i]);
    if (rank == 0) snprintf(buf, n, "1");
}

/* Read exactly `count` numbers shaped as dims (nesting must agree with the
 * shape up to dimensions of 1; a flat list is taken in row-major order). */
static int read_values(json_t *v, int rank, const int64_t *dims, float *out, const char *where) {
    int64_t count = 1;
    for (int i = 0; i < rank; i++) count *= dims[i];
    int vr = 0;
    int64_t vd[MX_MAX_RANK];
    for (int i = 0; i < MX_MAX_RANK; i++) vd[i] = -1;
    int64_t got = count_numbers(v, 0, &vr, vd, where);
    if (got < 0) return -1;
    char want[96];
    dims_text(want, sizeof want, rank, dims);
    if (got != count) return mx_fail("%s: expected %s values, got %lld", where, want, (long long)got);
    if (vr > 1) { /* nested: the shape must agree, so that a transposed matrix is caught */
        int64_t a[MX_MAX_RANK] = {0}, b[MX_MAX_RANK] = {0};
        int ra = squeeze(rank, dims, a), rb = squeeze(vr, vd, b), same = ra == rb;
        for (int i = 0; same && i < ra; i++) same = a[i] == b[i];
        if (!same) {
            char gotd[96];
            dims_text(gotd, sizeof gotd, vr, vd);
            return mx_fail("%s: expected shape %s, got %s", where, want, gotd);
        }
    }
    int64_t k = 0;
    flatten_numbers(v, out, &k);
    return 0;
}

/* ---- building the model ---- */

static int set_symbol(mx_netfile *nf, const char *name, json_t *sym, const char *where) {
    if (!sym) return 0;
    if (!json_is_string(sym) || !json_string_length(sym) || json_string_length(sym) > 32)
        return mx_fail("%s: must be a short string", where);
    return json_object_set(nf->symbols, name, sym);
}

/* an input of the model: the description's inputs, or an initial state */
static mx_layer *build_input(mx_netfile *nf, mx_model *m, const char *name, int rank, const int64_t *dims) {
    mx_layer *l = mx_graph_add_layer(m, mx_layer_type_find("InputLayer"), name);
    if (!l) return NULL;
    json_t *shape = json_array();
    json_array_append_new(shape, json_null());
    for (int i = 0; i < rank; i++) json_array_append_new(shape, json_integer(dims[i]));
    json_t *cfg = json_pack("{s:o}", "batch_input_shape", shape);
    int rc = mx_config_read(l, cfg);
    json_decref(cfg);
    if (rc) return NULL;
    mx_node *n = mx_graph_call(m, l, NULL, 0);
    if (!n) return NULL;
    m->input_nodes[m->n_inputs] = n;
    m->inputs[m->n_inputs++] = n->out[0];
    MX_UNUSED(nf);
    return l;
}

/* layer i of the description: its config (all keys but ours and the
 * weights), its inputs (the previous layer unless "inputs" names others) */
static mx_node *build_layer(mx_model *m, json_t *e, int i, mx_value *prev) {
    const char *cls = json_string_value(json_object_get(e, "type"));
    if (!json_is_object(e) || !cls) return mx_failp("layers[%d]: needs \"type\" (a layer class such as \"Dense\")", i);
    const mx_layer_type *t = mx_layer_type_find(cls);
    if (!t || !strcmp(cls, "InputLayer")) return mx_failp("layers[%d]: unknown layer type '%s'", i, cls);
    json_t *name = json_object_get(e, "name");
    if (name && !json_is_string(name)) return mx_failp("layers[%d].name: must be a string", i);
    mx_layer *l = mx_graph_add_layer(m, t, json_string_value(name));
    if (!l) {
        mx_fail_context("layers[%d]: ", i);
        return NULL;
    }
    json_t *cfg = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) if (!is_entry_key(key) && !is_weight_key(cls, key)) json_object_set(cfg, key, v);
    int rc = mx_config_read(l, cfg);
    json_decref(cfg);
    if (rc) {
        mx_fail_context("layers[%d] (%s): ", i, cls);
        return NULL;
    }
    mx_value *in[MX_MAX_INPUTS];
    int n_in = 0;
    json_t *ins = json_object_get(e, "inputs");
    if (ins) {
        if (json_is_string(ins)) ins = json_pack("[O]", ins);
        else json_incref(ins);
        size_t k;
        json_t *s;
        json_array_foreach(ins, k, s) {
            const char *ref = json_string_value(s);
            mx_layer *src = ref ? mx_graph_find_layer(m, ref) : NULL;
            if (!src || src == l || !src->n_nodes || n_in >= MX_MAX_INPUTS) {
                json_decref(ins);
                return mx_failp("layers[%d].inputs[%zu]: no earlier layer named '%s'", i, k, ref ? ref : "?");
            }
            /* the value of the layer's (last) call */
            for (int j = m->n_nodes - 1; j >= 0; j--)
                if (m->nodes[j]->layer == src) {
                    in[n_in++] = m->nodes[j]->out[0];
                    break;
                }
        }
        json_decref(ins);
        if (!n_in) return mx_failp("layers[%d].inputs: must name at least one layer", i);
    } else {
        in[n_in++] = prev;
    }
    if (json_object_get(e, "h0")) { /* the initial state: one more input of the model (Keras's initial_state) */
        if (strcmp(cls, "SimpleRNN") && strcmp(cls, "GRU"))
            return mx_failp("layers[%d].h0: an initial state is for SimpleRNN and GRU layers", i);
        if (m->n_inputs >= MX_MAX_INPUTS || n_in >= MX_MAX_INPUTS) return mx_failp("layers[%d].h0: too many inputs", i);
        char h0name[MX_NAME_MAX];
        snprintf(h0name, sizeof h0name, "%.*s_h0", MX_NAME_MAX - 8, l->name);
        int64_t units = json_integer_value(json_object_get(e, "units"));
        mx_layer *h0 = build_input(NULL, m, h0name, 1, &units);
        if (!h0) return NULL;
        in[n_in++] = m->inputs[m->n_inputs - 1];
    }
    mx_node *n = mx_graph_call(m, l, in, n_in);
    if (!n) mx_fail_context("layers[%d]: ", i);
    return n;
}

/* The initial state of entry i: units numbers for every sample, or one row
 * per sample; appended to nf->x after the inputs before it. */
static int read_h0(mx_netfile *nf, json_t *v, int i, int64_t units) {
    char where[64];
    snprintf(where, sizeof where, "layers[%d].h0", i);
    int vr = 0;
    int64_t vd[MX_MAX_RANK];
    for (int k = 0; k < MX_MAX_RANK; k++) vd[k] = -1;
    int64_t count = count_numbers(v, 0, &vr, vd, where);
    if (count < 0) return -1;
    int64_t have = 0;
    for (int k = 0; k < nf->model->n_inputs - 1; k++) have += nf->batch * nf->model->inputs[k]->size;
    float *x = mx_alloc_array((size_t)(have + nf->batch * units), sizeof(float));
    if (!x) return -1;
    memcpy(x, nf->x, sizeof(float) * (size_t)have);
    mx_free(nf->x);
    nf->x = x;
    int64_t dims[2] = {nf->batch, units};
    if (count == units) { /* the same for every sample */
        if (read_values(v, 1, dims + 1, x + have, where)) return -1;
        for (int n = 1; n < nf->batch; n++) memcpy(x + have + n * units, x + have, sizeof(float) * (size_t)units);
        return 0;
    }
    return read_values(v, 2, dims, x + have, where);
}

/* The weights the file gives, by Keras name; the others keep their
 * initializer (seeded by "seed"). */
static int set_weights(mx_netfile *nf, json_t *layers, mx_layer *const *built) {
    mx_model *m = nf->model;
    size_t i;
    json_t *e;
    json_array_foreach(layers, i, e) {
        const char *cls = json_string_value(json_object_get(e, "type"));
        const char *key;
        json_t *v;
        mx_layer *l = built[i];
        json_object_foreach(e, key, v) {
            if (!is_weight_key(cls, key)) continue;
            char where[96];
            snprintf(where, sizeof where, "layers[%zu].%s", i, key);
            mx_param *p = NULL;
            for (int k = 0; k < l->n_params; k++) {
                const char *s = strrchr(l->params[k]->name, '/');
                if (s && !strcmp(s + 1, key)) p = l->params[k];
            }
            if (!p) return mx_fail("%s: a %s layer has no weight '%s'%s", where, cls, key,
                                   !strcmp(key, "bias") ? " (use_bias is false)" : "");
            if (read_values(v, p->rank, p->dims, p->data, where)) return -1;
            json_object_set_new(nf->given, p->name, json_true());
        }
    }
    mx_model_weights_changed(m);
    return 0;
}

/* The optimizer as a name, a Keras config, or flat {"class_name": ..., key: value} */
static int read_optimizer(json_t *o, mx_optimizer_config *out) {
    json_t *keras = NULL;
    if (!o) {
        keras = json_string("sgd");
    } else if (json_is_object(o) && !json_object_get(o, "config")) {
        json_t *cfg = json_deep_copy(o);
        json_t *cls = json_object_get(cfg, "class_name");
        if (!cls) return mx_fail("optimizer: needs \"class_name\" (SGD, Adam, RMSprop)");
        keras = json_pack("{s:O}", "class_name", cls);
        json_object_del(cfg, "class_name");
        json_object_set_new(keras, "config", cfg);
    } else {
        keras = json_incref(o);
    }
    char *txt = json_dumps(keras, JSON_ENCODE_ANY);
    json_decref(keras);
    int rc = txt ? mx_optimizer_parse(txt, out) : mx_fail("optimizer: cannot serialise");
    free(txt);
    return rc ? mx_fail_context("optimizer: ") : 0;
}

static int read_loss(json_t *l, mx_loss_kind *kind, int *from_logits) {
    if (!l) return mx_fail("needs \"loss\" (e.g. \"half_squared_error\", \"binary_crossentropy\")");
    char *txt = json_dumps(l, JSON_ENCODE_ANY);
    int rc = txt ? mx_loss_parse(txt, kind, from_logits) : -1;
    free(txt);
    return rc ? mx_fail_context("loss: ") : 0;
}

static int get_int(json_t *root, const char *key, int def, int min, int max, int *out) {
    json_t *v = json_object_get(root, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return mx_fail("%s: must be an integer from %d to %d", key, min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

static int load(json_t *r, mx_netfile *nf) {
    static const char *const top[] = {"name", "description", "inputs", "input_shape", "input_name", "layers", "loss",
                                      "targets", "optimizer", "steps", "seed", NULL};
    if (!json_is_object(r)) return mx_fail("must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v) {
        int ok = 0;
        for (int i = 0; top[i]; i++) ok |= !strcmp(top[i], key);
        if (!ok) return mx_fail("unknown key '%s'", key);
    }
    const char *name = json_string_value(json_object_get(r, "name"));
    snprintf(nf->name, sizeof nf->name, "%s", name ? name : "network");
    const char *desc = json_string_value(json_object_get(r, "description"));
    if (desc && !(nf->description = mx_strdup(desc))) return -1;
    const char *iname = json_string_value(json_object_get(r, "input_name"));
    if (!(nf->input_symbol = mx_strdup(iname ? iname : "x"))) return -1;
    int seed = 1;
    if (get_int(r, "steps", 1, 1, 1000, &nf->steps) || get_int(r, "seed", 1, 0, 1 << 30, &seed)) return -1;

    /* inputs: a number (one scalar sample), a list (one sample), a list of
     * lists (a batch of vectors); images and other shapes need input_shape */
    json_t *xs = json_object_get(r, "inputs"), *ishape = json_object_get(r, "input_shape");
    json_t *layers = json_object_get(r, "layers");
    const char *first = json_string_value(json_object_get(json_array_get(layers, 0), "type"));
    if (!xs) return mx_fail("needs \"inputs\"");
    int vr = 0, rank = 0;
    int64_t vd[MX_MAX_RANK], dims[MX_MAX_RANK], size = 1;
    for (int i = 0; i < MX_MAX_RANK; i++) vd[i] = -1;
    int64_t count = count_numbers(xs, 0, &vr, vd, "inputs");
    if (count < 0) return -1;
    if (count == 0) return mx_fail("inputs: no numbers");
    if (ishape) {
        size_t i;
        json_t *d;
        if (!json_is_array(ishape) || !json_array_size(ishape) || json_array_size(ishape) > 6)
            return mx_fail("input_shape: must be a list of 1 to 6 sizes");
        json_array_foreach(ishape, i, d) {
            if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 4096)
                return mx_fail("input_shape[%zu]: must be an integer from 1 to 4096", i);
            dims[rank++] = json_integer_value(d);
            size *= dims[rank - 1];
        }
        if (count % size) return mx_fail("inputs: %lld values are not a whole number of samples of %lld", (long long)count, (long long)size);
        nf->batch = (int)(count / size);
    } else if (is_recurrent(first)) { /* sequences: (timesteps, features) per sample */
        if (vr > 3) return mx_fail("inputs: nested %d deep; a recurrent layer reads (timesteps, features) per sample", vr);
        rank = 2;
        dims[0] = vr <= 1 ? count : vr == 2 ? vd[0] : vd[1];
        dims[1] = vr <= 1 ? 1 : vr == 2 ? vd[1] : vd[2];
        size = dims[0] * dims[1];
        nf->batch = vr == 3 ? (int)vd[0] : 1;
    } else if (vr <= 1) {
        rank = 1;
        dims[0] = size = count;
        nf->batch = 1;
    } else if (vr == 2) {
        rank = 1;
        dims[0] = size = vd[1];
        nf->batch = (int)vd[0];
    } else {
        return mx_fail("inputs: nested %d deep; give \"input_shape\" (e.g. [5, 5, 1] for a 5x5 image)", vr);
    }
    if (nf->batch > 256) return mx_fail("inputs: %d samples; explanations are for small batches (at most 256)", nf->batch);
    if (!(nf->x = mx_alloc_array((size_t)count, sizeof(float)))) return -1;
    int64_t k = 0;
    flatten_numbers(xs, nf->x, &k);

    if (!json_is_array(layers) || !json_array_size(layers)) return mx_fail("needs \"layers\", a list of layers");
    mx_model *m = nf->model = mx_graph_new(nf->name, (uint64_t)seed);
    if (!m || !build_input(nf, m, nf->input_symbol, rank, dims)) return -1;
    mx_value *prev = m->inputs[0];
    size_t i;
    json_t *e;
    int branches = 0;
    mx_layer **built = mx_alloc_array(json_array_size(layers), sizeof *built);
    if (!built) return -1;
    int rc = 0;
    json_array_foreach(layers, i, e) {
        branches |= json_object_get(e, "inputs") != NULL;
        int inputs = m->n_inputs;
        mx_node *n = build_layer(m, e, (int)i, prev);
        if (!n) {
            rc = -1;
            break;
        }
        built[i] = n->layer;
        prev = n->out[0];
        char where[64], akey[MX_NAME_MAX + 32];
        snprintf(where, sizeof where, "layers[%zu].symbol", i);
        json_t *sym = json_object_get(e, "symbol");
        rc = set_symbol(nf, prev->name, sym, where);
        snprintf(where, sizeof where, "layers[%zu].z_symbol", i);
        /* a recurrent layer's z_symbol names its sums a_t */
        snprintf(akey, sizeof akey, "%s/a", prev->name);
        if (!rc) rc = set_symbol(nf, n->z == prev ? akey : n->z->name, json_object_get(e, "z_symbol"), where);
        if (!rc && m->n_inputs > inputs) { /* h0: written h_0 after the states h_t */
            char s0[64];
            snprintf(s0, sizeof s0, "%.40s_0", sym ? json_string_value(sym) : n->layer->name);
            json_t *js = json_string(s0);
            rc = set_symbol(nf, m->inputs[inputs]->name, js, where);
            json_decref(js);
            if (!rc) rc = read_h0(nf, json_object_get(e, "h0"), (int)i, m->inputs[inputs]->size);
        }
        if (rc) break;
    }
    if (!rc) {
        m->outputs[0] = prev;
        m->n_outputs = 1;
        m->sequential = !branches && m->n_inputs == 1;
        rc = mx_graph_finish(m) || set_weights(nf, layers, built) ? -1 : 0;
    }
    mx_free(built);
    if (rc) return -1;

    mx_loss_kind loss;
    int logits;
    mx_optimizer_config opt;
    if (read_loss(json_object_get(r, "loss"), &loss, &logits) || read_optimizer(json_object_get(r, "optimizer"), &opt))
        return -1;
    if (mx_model_compile(m, loss, logits, &opt)) return -1;
    /* every value stays observable, and the input gets its gradient too */
    m->keep_preactivations = 1;
    m->grad_inputs = 1;

    /* targets: one row per sample shaped as the output, or class indices */
    json_t *ts = json_object_get(r, "targets");
    if (!ts) return mx_fail("needs \"targets\"");
    int sparse = loss == MX_LOSS_SPARSE_CATEGORICAL_CE;
    mx_value *out = m->outputs[0];
    int64_t tdims[MX_MAX_RANK + 1];
    int trank = 0;
    if (nf->batch > 1) tdims[trank++] = nf->batch;
    if (!sparse)
        for (int d = 0; d < out->rank; d++) tdims[trank++] = out->dims[d];
    if (trank == 0) tdims[trank++] = 1;
    nf->t_size = sparse ? nf->batch : nf->batch * out->size;
    if (!(nf->t = mx_alloc_array((size_t)nf->t_size, sizeof(float)))) return -1;
    if (read_values(ts, trank, tdims, nf->t, sparse ? "targets (class indices)" : "targets")) return -1;
    if (sparse) {
        int64_t c = out->rank ? out->dims[out->rank - 1] : 1;
        for (int64_t j = 0; j < nf->t_size; j++)
            if (nf->t[j] < 0 || nf->t[j] >= (float)c || nf->t[j] != floorf(nf->t[j]))
                return mx_fail("targets[%lld]: class index %g is not one of 0..%lld", (long long)j, (double)nf->t[j], (long long)c - 1);
    }
    return 0;
}

int mx_netfile_load(const char *text, const char *origin, mx_netfile *nf) {
    memset(nf, 0, sizeof *nf);
    json_error_t err;
    json_t *r = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!r) return mx_fail("%s: line %d: %s", origin, err.line, err.text);
    nf->given = json_object();
    nf->symbols = json_object();
    int rc = load(r, nf);
    json_decref(r);
    if (rc) {
        mx_fail_context("%s: ", origin);
        mx_netfile_free(nf);
    }
    return rc;
}

void mx_netfile_free(mx_netfile *nf) {
    mx_model_free(nf->model);
    mx_free(nf->x);
    mx_free(nf->t);
    mx_free(nf->description);
    mx_free(nf->input_symbol);
    json_decref(nf->given);
    json_decref(nf->symbols);
    memset(nf, 0, sizeof *nf);
}
