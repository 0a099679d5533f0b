/* topology.c: Keras model configs (the modelTopology of a TF.js model.json)
 * to graphs and back: Sequential, and functional models written by Keras 2
 * ([name, node, tensor, kwargs] references) or Keras 3 (keras_history), with
 * models nested as layers inside others.
 *
 * A nested model's layers join the one graph, scoped by a pseudo-layer
 * (mx_submodel) that stands for the nested model in its parent: references
 * within a scope name layers of that scope, and a nested model is
 * referenced by its own name. Writing walks the scopes back. */
#include "io/model_io.h"

#include "io/config.h"

#include <stdio.h>
#include <string.h>

typedef struct ref {
    const char *layer;
    int node, tensor;
} ref;

/* call arguments: only `training` (a bool) is understood */
static int read_kwargs(json_t *kw, int *inference) {
    const char *key;
    json_t *v;
    json_object_foreach(kw, key, v) {
        if (strcmp(key, "training") != 0 || !json_is_boolean(v))
            return mx_fail("call argument '%s' in inbound_nodes is not supported (only training)", key);
        if (inference && json_is_false(v)) *inference = 1;
    }
    return 0;
}

static int read_ref(json_t *j, ref *r, int *inference) {
    /* Keras 3: {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}} */
    if (json_is_object(j)) j = json_object_get(json_object_get(j, "config"), "keras_history");
    if (!json_is_array(j) || json_array_size(j) < 3 || !json_is_string(json_array_get(j, 0)) ||
        !json_is_integer(json_array_get(j, 1)) || !json_is_integer(json_array_get(j, 2)))
        return mx_fail("a tensor reference must be [layer_name, node_index, tensor_index]");
    r->layer = json_string_value(json_array_get(j, 0));
    r->node = (int)json_integer_value(json_array_get(j, 1));
    r->tensor = (int)json_integer_value(json_array_get(j, 2));
    json_t *kw = json_array_get(j, 3);
    return json_is_object(kw) ? read_kwargs(kw, inference) : 0;
}

/* The references of one inbound node, both formats, into refs (max n). */
static int read_node_refs(json_t *node, ref *refs, int max, int *count, int *inference) {
    json_t *list = node;
    if (json_is_object(node)) { /* Keras 3: {"args": [tensor or [tensors]], "kwargs": {}} */
        json_t *args = json_object_get(node, "args");
        if (!json_is_array(args) || json_array_size(args) < 1) return mx_fail("inbound node without args");
        list = json_array_get(args, 0);
        if (!json_is_array(list) || (json_array_size(list) > 0 && !json_is_object(json_array_get(list, 0)) &&
                                     !json_is_array(json_array_get(list, 0))))
            list = args;
        json_t *kw = json_object_get(node, "kwargs");
        if (json_is_object(kw) && read_kwargs(kw, inference)) return -1;
    }
    if (!json_is_array(list)) return mx_fail("inbound node must be a list of tensor references");
    *count = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (*count >= max) return mx_fail("too many inputs (at most %d)", max);
        if (read_ref(e, &refs[(*count)++], inference)) return -1;
    }
    return 0;
}

/* The value a reference names in the current scope: an output of a call of
 * a layer, an output of a nested model, or (inside a nested model) one of
 * the outer values its inputs stand for. NULL if not there (yet). */
static mx_value *resolve(mx_model *m, const ref *r) {
    mx_layer *l = mx_graph_find_layer(m, r->layer);
    if (!l) return NULL;
    if (l->type == &mx_layer_submodel) {
        mx_submodel *s = l->cfg;
        return s->called && r->tensor >= 0 && r->tensor < s->n_outputs ? s->outputs[r->tensor] : NULL;
    }
    if (m->scope) { /* a nested model's input layer stands for an outer value */
        mx_submodel *s = m->scope->cfg;
        for (int i = 0; i < s->n_inputs; i++)
            if (s->input_layers[i] == l) return r->tensor == 0 ? s->bound[i] : NULL;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        if (n->layer == l && n->call == r->node) return r->tensor >= 0 && r->tensor < n->n_out ? n->out[r->tensor] : NULL;
    }
    return NULL;
}

static const char *layer_name(json_t *entry) {
    json_t *cfg = json_object_get(entry, "config");
    json_t *n = json_object_get(cfg, "name");
    if (!json_is_string(n)) n = json_object_get(entry, "name");
    return json_is_string(n) ? json_string_value(n) : NULL;
}

static int is_model_class(const char *c) {
    return !strcmp(c, "Sequential") || !strcmp(c, "Model") || !strcmp(c, "Functional");
}

static mx_layer *make_layer(mx_model *m, json_t *entry, int index) {
    if (!json_is_object(entry)) return mx_failp("layer %d: must be an object with class_name and config", index);
    json_t *cls = json_object_get(entry, "class_name");
    if (!json_is_string(cls)) return mx_failp("layer %d: missing class_name", index);
    const char *c = json_string_value(cls);
    const char *name = layer_name(entry);
    if (is_model_class(c)) { /* its layers are read when it is called */
        mx_layer *l = mx_graph_add_layer(m, &mx_layer_submodel, name);
        if (!l) return NULL;
        snprintf(((mx_submodel *)l->cfg)->class_name, sizeof ((mx_submodel *)l->cfg)->class_name, "%s", c);
        json_t *tr = json_object_get(json_object_get(entry, "config"), "trainable");
        if (json_is_false(tr)) l->trainable = 0;
        return l;
    }
    const mx_layer_type *t = mx_layer_type_find(c);
    if (!t) return mx_failp("layer %d '%s': unknown layer class '%s'", index, name ? name : "?", c);
    mx_layer *l = mx_graph_add_layer(m, t, name);
    if (!l) return NULL;
    if (mx_config_read(l, json_object_get(entry, "config"))) {
        mx_fail_context("layer '%s' (%s): ", l->name, c);
        return NULL;
    }
    return l;
}

/* batch_input_shape of a Sequential's first layer, in any of Keras's spellings */
static json_t *first_layer_input_shape(json_t *cfg) {
    json_t *s = json_object_get(cfg, "batch_input_shape");
    if (!s) s = json_object_get(cfg, "batch_shape");
    if (s) return json_incref(s);
    json_t *is = json_object_get(cfg, "input_shape"), *dim = json_object_get(cfg, "input_dim");
    if (json_is_array(is)) {
        json_t *a = json_array();
        json_array_append_new(a, json_null());
        json_array_extend(a, is);
        return a;
    }
    return json_is_integer(dim) ? json_pack("[n, O]", dim) : NULL;
}

static int read_model(mx_model *m, json_t *topology, mx_value **in, int n_in, mx_value **out, int *n_out);

/* Call nested model l on values `in`: read its layers into its scope. */
static int call_submodel(mx_model *m, mx_layer *l, json_t *entry, mx_value **in, int n_in, int inference) {
    mx_submodel *s = l->cfg;
    mx_layer *outer = m->scope;
    l->inference = inference || (outer && outer->inference);
    m->scope = l;
    int rc = read_model(m, entry, in, n_in, s->outputs, &s->n_outputs);
    m->scope = outer;
    if (rc) return mx_fail_context("nested model '%s': ", l->name);
    s->called = 1;
    return 0;
}

/* Inside a nested model, the InputLayer becomes a stand-in for the value it
 * is called on; at the top, an InputLayer node holds a model input. */
static int add_input(mx_model *m, mx_layer *l, mx_value **in, int n_in, mx_value **inputs, int *n_inputs) {
    if (m->scope) {
        mx_submodel *s = m->scope->cfg;
        if (s->n_inputs >= n_in) return mx_fail("called on %d inputs, but it has more InputLayers", n_in);
        s->input_layers[s->n_inputs] = l;
        s->bound[s->n_inputs] = in[s->n_inputs];
        inputs[(*n_inputs)++] = s->bound[s->n_inputs];
        s->n_inputs++;
        return 0;
    }
    mx_node *n = mx_graph_call(m, l, NULL, 0);
    if (!n) return -1;
    if (m->n_inputs >= MX_MAX_INPUTS) return mx_fail("too many inputs (at most %d)", MX_MAX_INPUTS);
    m->input_nodes[m->n_inputs] = n;
    m->inputs[m->n_inputs++] = n->out[0];
    inputs[(*n_inputs)++] = n->out[0];
    return 0;
}

static int read_sequential(mx_model *m, json_t *cfg, mx_value **in, int n_in, mx_value **out, int *n_out) {
    json_t *layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0) return mx_fail("Sequential config has no layers");
    if (!m->scope) m->sequential = 1;
    mx_value *prev = NULL, *inputs[1];
    int n_inputs = 0;
    size_t i;
    json_t *entry;
    json_array_foreach(layers, i, entry) {
        json_t *cls = json_object_get(entry, "class_name");
        int is_input = json_is_string(cls) && !strcmp(json_string_value(cls), "InputLayer");
        if (i == 0 && !is_input) {
            json_t *shape = first_layer_input_shape(json_object_get(entry, "config"));
            if (!shape && !m->scope)
                return mx_fail("layer 0: the first layer of a Sequential model needs batch_input_shape (or an InputLayer)");
            if (m->scope) { /* nested: the input is the value it is called on (no InputLayer stands for it) */
                json_decref(shape);
                prev = n_in > 0 ? in[0] : NULL;
                if (!prev) return mx_fail("a nested Sequential model needs an input");
                mx_submodel *sm = m->scope->cfg;
                sm->input_layers[0] = NULL;
                sm->bound[0] = prev;
                sm->n_inputs = 1;
            } else {
                char iname[MX_NAME_MAX];
                const char *first = layer_name(entry);
                snprintf(iname, sizeof iname, "%.100s_input", first ? first : "sequential");
                mx_layer *il = mx_graph_add_layer(m, mx_layer_type_find("InputLayer"), iname);
                json_t *icfg = json_pack("{s:o}", "batch_input_shape", shape);
                int rc = !il || mx_config_read(il, icfg);
                json_decref(icfg);
                if (rc || add_input(m, il, in, n_in, inputs, &n_inputs)) return mx_fail_context("layer '%s' (InputLayer): ", iname);
                prev = inputs[0];
            }
        }
        if (is_input && i > 0) return mx_fail("layer %zu: InputLayer must come first in a Sequential model", i);
        mx_layer *l = make_layer(m, entry, (int)i);
        if (!l) return -1;
        if (is_input) {
            if (add_input(m, l, in, n_in, inputs, &n_inputs)) return -1;
            prev = inputs[0];
        } else if (l->type == &mx_layer_submodel) {
            if (call_submodel(m, l, entry, &prev, 1, 0)) return -1;
            prev = ((mx_submodel *)l->cfg)->outputs[0];
        } else {
            mx_node *n = mx_graph_call(m, l, &prev, 1);
            if (!n) return -1;
            prev = n->out[0];
        }
    }
    out[0] = prev;
    *n_out = 1;
    return 0;
}

/* input_layers / output_layers: a list of references (or a single one) */
static int read_io_list(mx_model *m, json_t *list, const char *key, mx_value **vals, int *n, int max) {
    if (!json_is_array(list) || json_array_size(list) == 0) return mx_fail("functional config needs '%s'", key);
    json_t *wrapped = json_is_string(json_array_get(list, 0)) ? json_pack("[O]", list) : json_incref(list);
    size_t i;
    json_t *e;
    *n = 0;
    json_array_foreach(wrapped, i, e) {
        ref r;
        mx_value *v;
        if (read_ref(e, &r, NULL)) {
            json_decref(wrapped);
            return mx_fail_context("'%s': ", key);
        }
        if (!(v = resolve(m, &r))) {
            mx_fail("'%s': no tensor [%s, %d, %d]", key, r.layer, r.node, r.tensor);
            json_decref(wrapped);
            return -1;
        }
        if (*n >= max) {
            json_decref(wrapped);
            return mx_fail("'%s': too many (at most %d)", key, max);
        }
        vals[(*n)++] = v;
    }
    json_decref(wrapped);
    return 0;
}

static int read_functional(mx_model *m, json_t *cfg, mx_value **in, int n_in, mx_value **out, int *n_out) {
    json_t *layers = json_object_get(cfg, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0) return mx_fail("model config has no layers");
    size_t nl = json_array_size(layers);
    if (nl > 100000) return mx_fail("model config has too many layers");
    mx_layer **ls = mx_alloc_array(nl, sizeof *ls);
    int *done = mx_alloc_array(nl, sizeof *done); /* inbound nodes already called */
    mx_value *inputs[MX_MAX_INPUTS];
    int n_inputs = 0, rc = -1;
    if (!ls || !done) goto out;
    for (size_t i = 0; i < nl; i++)
        if (!(ls[i] = make_layer(m, json_array_get(layers, i), (int)i))) goto out;
    /* a nested model's InputLayers stand for its arguments in input_layers order */
    if (m->scope) {
        json_t *il = json_object_get(cfg, "input_layers");
        if (json_is_array(il) && json_is_string(json_array_get(il, 0))) il = NULL; /* a single reference */
        for (size_t k = 0; k < nl; k++) {
            if (strcmp(ls[k]->type->class_name, "InputLayer")) continue;
            size_t pos = 0;
            json_t *e;
            size_t q;
            json_array_foreach(il, q, e) if (json_is_string(json_array_get(e, 0)) &&
                                              !strcmp(json_string_value(json_array_get(e, 0)), ls[k]->name)) pos = q;
            mx_submodel *s = m->scope->cfg;
            if ((int)pos >= n_in) {
                mx_fail("InputLayer '%s' has no argument (called on %d)", ls[k]->name, n_in);
                goto out;
            }
            s->input_layers[s->n_inputs] = ls[k];
            s->bound[s->n_inputs++] = in[pos];
            done[k] = 1;
        }
    }
    /* call layers as their inputs become available (configs are usually,
     * but not always, in topological order) */
    for (int progress = 1; progress;) {
        progress = 0;
        for (size_t i = 0; i < nl; i++) {
            json_t *entry = json_array_get(layers, i), *inbound = json_object_get(entry, "inbound_nodes");
            mx_layer *l = ls[i];
            if (!strcmp(l->type->class_name, "InputLayer")) {
                if (!done[i]) {
                    if (add_input(m, l, in, n_in, inputs, &n_inputs)) goto out;
                    done[i] = 1;
                    progress = 1;
                }
                continue;
            }
            if (!json_is_array(inbound)) {
                mx_fail("layer '%s': missing inbound_nodes", l->name);
                goto out;
            }
            while (done[i] < (int)json_array_size(inbound)) {
                ref refs[MX_MAX_INPUTS];
                int nr = 0, inference = 0;
                if (read_node_refs(json_array_get(inbound, (size_t)done[i]), refs, MX_MAX_INPUTS, &nr, &inference)) {
                    mx_fail_context("layer '%s': inbound_nodes: ", l->name);
                    goto out;
                }
                mx_value *vin[MX_MAX_INPUTS];
                int ready = 1;
                for (int k = 0; k < nr && ready; k++) ready = (vin[k] = resolve(m, &refs[k])) != NULL;
                if (!ready) break;
                if (l->type == &mx_layer_submodel) {
                    if (done[i] > 0) {
                        mx_fail("nested model '%s' is called more than once, which is not supported", l->name);
                        goto out;
                    }
                    if (call_submodel(m, l, entry, vin, nr, inference)) goto out;
                } else if (inference) {
                    mx_fail("layer '%s': training=False is supported only on nested models", l->name);
                    goto out;
                } else if (!mx_graph_call(m, l, vin, nr)) {
                    goto out;
                }
                done[i]++;
                progress = 1;
            }
        }
    }
    for (size_t i = 0; i < nl; i++) {
        json_t *inbound = json_object_get(json_array_get(layers, i), "inbound_nodes");
        if (strcmp(ls[i]->type->class_name, "InputLayer") && done[i] < (int)json_array_size(inbound)) {
            mx_fail("layer '%s': its inputs are not produced by any layer (or form a cycle)", ls[i]->name);
            goto out;
        }
    }
    if (!m->scope) { /* the model's inputs in input_layers order */
        if (read_io_list(m, json_object_get(cfg, "input_layers"), "input_layers", inputs, &n_inputs, MX_MAX_INPUTS))
            goto out;
        for (int k = 0; k < n_inputs; k++) {
            if (strcmp(inputs[k]->producer->layer->type->class_name, "InputLayer")) {
                mx_fail("input_layers: '%s' is not an InputLayer", inputs[k]->producer->layer->name);
                goto out;
            }
            m->inputs[k] = inputs[k];
            m->input_nodes[k] = inputs[k]->producer;
        }
        m->n_inputs = n_inputs;
    }
    rc = read_io_list(m, json_object_get(cfg, "output_layers"), "output_layers", out, n_out, MX_MAX_OUTPUTS);
out:
    mx_free(ls);
    mx_free(done);
    return rc;
}

/* A Sequential or functional model config ({class_name, config}) called on
 * in (nested) or on its own InputLayers (top). */
static int read_model(mx_model *m, json_t *topology, mx_value **in, int n_in, mx_value **out, int *n_out) {
    json_t *cls = json_object_get(topology, "class_name"), *cfg = json_object_get(topology, "config");
    if (!json_is_string(cls) || !cfg) return mx_fail("a model needs class_name and config");
    const char *c = json_string_value(cls);
    if (!strcmp(c, "Sequential")) return read_sequential(m, cfg, in, n_in, out, n_out);
    if (!strcmp(c, "Model") || !strcmp(c, "Functional")) return read_functional(m, cfg, in, n_in, out, n_out);
    return mx_fail("model class '%s' is not supported (Sequential, Model or Functional)", c);
}

mx_model *mx_topology_read(json_t *topology, const char *origin, uint64_t seed) {
    /* converter output wraps the model in {"model_config": ..., "training_config": ...} */
    json_t *inner = json_object_get(topology, "model_config");
    if (json_is_object(inner)) topology = inner;
    json_t *cfg = json_object_get(topology, "config");
    json_t *name = json_is_object(cfg) ? json_object_get(cfg, "name") : NULL;
    mx_model *m = mx_graph_new(json_is_string(name) ? json_string_value(name) : "model", seed);
    if (!m) return NULL;
    int rc = read_model(m, topology, NULL, 0, m->outputs, &m->n_outputs);
    if (!rc && (m->n_inputs == 0 || m->n_outputs == 0)) rc = mx_fail("the model has no inputs or outputs");
    if (rc || mx_graph_finish(m)) {
        mx_fail_context("%s: ", origin);
        mx_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- writing ---- */

/* A value as referenced from inside scope: an input of the scope's nested
 * model, an output of a nested model in the scope, or a layer call's output. */
static json_t *ref_json(const mx_value *v, const mx_layer *scope) {
    if (scope) {
        const mx_submodel *s = scope->cfg;
        for (int i = 0; i < s->n_inputs; i++)
            if (s->bound[i] == v) return json_pack("[s, i, i]", s->input_layers[i]->name, 0, 0);
    }
    const mx_node *n = v->producer;
    mx_layer *l = mx_layer_in_scope(n->layer, scope);
    if (l && l->type == &mx_layer_submodel) { /* Keras: node 0 is the nested model's own graph, its call node 1 */
        const mx_submodel *s = l->cfg;
        for (int i = 0; i < s->n_outputs; i++)
            if (s->outputs[i] == v) return json_pack("[s, i, i]", l->name, 1, i);
    }
    int t = 0;
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] == v) t = i;
    return json_pack("[s, i, i]", n->layer->name, n->call, t);
}

static json_t *write_scope(const mx_model *m, const mx_layer *scope, int sequential);

static json_t *layer_entry(const mx_model *m, const mx_layer *l, const mx_layer *scope, int sequential) {
    json_t *e;
    if (l->type == &mx_layer_submodel) {
        const mx_submodel *s = l->cfg;
        int seq = !strcmp(s->class_name, "Sequential");
        e = json_pack("{s:s, s:o}", "class_name", s->class_name, "config", write_scope(m, l, seq));
        json_object_set_new(json_object_get(e, "config"), "trainable", json_boolean(l->trainable));
        if (!sequential) {
            json_t *node = json_array();
            for (int i = 0; i < s->n_inputs; i++) {
                json_t *r = ref_json(s->bound[i], scope);
                json_array_append_new(r, l->inference ? json_pack("{s:b}", "training", 0) : json_object());
                json_array_append_new(node, r);
            }
            json_object_set_new(e, "inbound_nodes", json_pack("[o]", node));
        }
    } else {
        e = json_pack("{s:s, s:o}", "class_name", l->type->class_name, "config", mx_config_write(l));
        if (!sequential) {
            json_t *inbound = json_array();
            for (int k = 0; k < m->n_nodes; k++) {
                const mx_node *n = m->nodes[k];
                if (n->layer != l || n->n_in == 0) continue;
                json_t *node = json_array();
                for (int j = 0; j < n->n_in; j++) {
                    json_t *r = ref_json(n->in[j], scope);
                    json_array_append_new(r, json_object());
                    json_array_append_new(node, r);
                }
                json_array_append_new(inbound, node);
            }
            json_object_set_new(e, "inbound_nodes", inbound);
        }
    }
    if (!sequential) json_object_set_new(e, "name", json_string(l->name));
    return e;
}

/* The config object of a model: the top one, or a nested one (scope). */
static json_t *write_scope(const mx_model *m, const mx_layer *scope, int sequential) {
    json_t *layers = json_array();
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->scope == scope) json_array_append_new(layers, layer_entry(m, m->layers[i], scope, sequential));
    const mx_submodel *sub = scope ? scope->cfg : NULL;
    if (sub && sub->n_inputs == 1 && !sub->input_layers[0] && json_array_size(layers) > 0) {
        /* a nested Sequential without InputLayer: its first layer carries the input shape */
        json_t *shape = json_array();
        json_array_append_new(shape, json_null());
        for (int d = 0; d < sub->bound[0]->rank; d++) json_array_append_new(shape, json_integer(sub->bound[0]->dims[d]));
        json_object_set_new(json_object_get(json_array_get(layers, 0), "config"), "batch_input_shape", shape);
    }
    json_t *cfg = json_pack("{s:s, s:o}", "name", scope ? scope->name : m->name, "layers", layers);
    if (!sequential) {
        json_t *ins = json_array(), *outs = json_array();
        if (scope) {
            const mx_submodel *s = scope->cfg;
            for (int i = 0; i < s->n_inputs; i++) json_array_append_new(ins, json_pack("[s, i, i]", s->input_layers[i]->name, 0, 0));
            for (int i = 0; i < s->n_outputs; i++) json_array_append_new(outs, ref_json(s->outputs[i], scope));
        } else {
            for (int i = 0; i < m->n_inputs; i++) json_array_append_new(ins, ref_json(m->inputs[i], NULL));
            for (int i = 0; i < m->n_outputs; i++) json_array_append_new(outs, ref_json(m->outputs[i], NULL));
        }
        json_object_set_new(cfg, "input_layers", ins);
        json_object_set_new(cfg, "output_layers", outs);
    }
    return cfg;
}

json_t *mx_topology_write(const mx_model *m) {
    return json_pack("{s:s, s:o, s:s, s:s}", "class_name", m->sequential ? "Sequential" : "Model", "config",
                     write_scope(m, NULL, m->sequential), "keras_version", "mlexp " MX_VERSION, "backend", "mlexp");
}

mx_model *mx_model_from_json(const char *json_text, const char *origin, uint64_t seed) {
    json_error_t e;
    json_t *root = json_loads(json_text, JSON_REJECT_DUPLICATES, &e);
    if (!root) return (mx_json_fail(origin, &e), NULL);
    json_t *topo = json_object_get(root, "modelTopology");
    mx_model *m = mx_topology_read(topo ? topo : root, origin, seed);
    json_decref(root);
    return m;
}
