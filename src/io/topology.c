/* topology.c: Keras model configs (the modelTopology of a TF.js model.json)
 * to graphs and back: Sequential, and functional models written by Keras 2
 * ([name, node, tensor, kwargs] references) or Keras 3 (keras_history). */
#include "io/model_io.h"

#include "io/config.h"

#include <stdio.h>
#include <string.h>

typedef struct ref {
    const char *layer;
    int node, tensor;
} ref;

static int read_ref(json_t *j, ref *r) {
    /* Keras 3: {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}} */
    if (json_is_object(j)) j = json_object_get(json_object_get(j, "config"), "keras_history");
    if (!json_is_array(j) || json_array_size(j) < 3 || !json_is_string(json_array_get(j, 0)) ||
        !json_is_integer(json_array_get(j, 1)) || !json_is_integer(json_array_get(j, 2)))
        return mx_fail("a tensor reference must be [layer_name, node_index, tensor_index]");
    r->layer = json_string_value(json_array_get(j, 0));
    r->node = (int)json_integer_value(json_array_get(j, 1));
    r->tensor = (int)json_integer_value(json_array_get(j, 2));
    if (json_array_size(j) > 3) {
        json_t *kw = json_array_get(j, 3);
        if (json_is_object(kw) && json_object_size(kw) > 0)
            return mx_fail("call arguments (%s...) in inbound_nodes are not supported",
                           json_object_iter_key(json_object_iter(kw)));
    }
    return 0;
}

/* The references of one inbound node, both formats, into refs (max n). */
static int read_node_refs(json_t *node, ref *refs, int max, int *count) {
    json_t *list = node;
    if (json_is_object(node)) { /* Keras 3: {"args": [tensor or [tensors]], "kwargs": {}} */
        json_t *args = json_object_get(node, "args");
        if (!json_is_array(args) || json_array_size(args) < 1) return mx_fail("inbound node without args");
        list = json_array_get(args, 0);
        if (!json_is_array(list) || (json_array_size(list) > 0 && !json_is_object(json_array_get(list, 0)) &&
                                     !json_is_array(json_array_get(list, 0))))
            list = args;
        json_t *kw = json_object_get(node, "kwargs");
        if (json_is_object(kw) && json_object_size(kw) > 0)
            return mx_fail("call arguments (%s...) in inbound_nodes are not supported",
                           json_object_iter_key(json_object_iter(kw)));
    }
    if (!json_is_array(list)) return mx_fail("inbound node must be a list of tensor references");
    *count = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (*count >= max) return mx_fail("too many inputs (at most %d)", max);
        if (read_ref(e, &refs[(*count)++])) return -1;
    }
    return 0;
}

static mx_value *resolve(mx_model *m, const ref *r) {
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        if (n->call == r->node && strcmp(n->layer->name, r->layer) == 0)
            return r->tensor >= 0 && r->tensor < n->n_out ? n->out[r->tensor] : NULL;
    }
    return NULL;
}

static const char *layer_name(json_t *entry) {
    json_t *cfg = json_object_get(entry, "config");
    json_t *n = json_object_get(cfg, "name");
    if (!json_is_string(n)) n = json_object_get(entry, "name");
    return json_is_string(n) ? json_string_value(n) : NULL;
}

static mx_layer *make_layer(mx_model *m, json_t *entry, int index) {
    if (!json_is_object(entry)) return mx_failp("layer %d: must be an object with class_name and config", index);
    json_t *cls = json_object_get(entry, "class_name");
    if (!json_is_string(cls)) return mx_failp("layer %d: missing class_name", index);
    const char *c = json_string_value(cls);
    const char *name = layer_name(entry);
    if (!strcmp(c, "Sequential") || !strcmp(c, "Model") || !strcmp(c, "Functional"))
        return mx_failp("layer %d '%s': nested models are not supported yet", index, name ? name : "?");
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
static int first_layer_input_shape(json_t *cfg, json_t **shape_out) {
    json_t *s = json_object_get(cfg, "batch_input_shape");
    if (!s) s = json_object_get(cfg, "batch_shape");
    if (s) {
        *shape_out = json_incref(s);
        return 0;
    }
    json_t *is = json_object_get(cfg, "input_shape");
    json_t *dim = json_object_get(cfg, "input_dim");
    if (json_is_array(is)) {
        json_t *a = json_array();
        json_array_append_new(a, json_null());
        json_array_extend(a, is);
        *shape_out = a;
    } else if (json_is_integer(dim)) {
        *shape_out = json_pack("[n, O]", dim);
    } else {
        *shape_out = NULL;
    }
    return 0;
}

static int read_sequential(mx_model *m, json_t *cfg) {
    json_t *layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0) return mx_fail("Sequential config has no layers");
    m->sequential = 1;
    mx_value *prev = NULL;
    size_t i;
    json_t *entry;
    json_array_foreach(layers, i, entry) {
        json_t *cls = json_object_get(entry, "class_name");
        int is_input = json_is_string(cls) && !strcmp(json_string_value(cls), "InputLayer");
        if (i == 0 && !is_input) {
            json_t *shape = NULL;
            first_layer_input_shape(json_object_get(entry, "config"), &shape);
            if (!shape)
                return mx_fail("layer 0: the first layer of a Sequential model needs batch_input_shape (or an InputLayer)");
            char iname[MX_NAME_MAX];
            const char *first = layer_name(entry);
            snprintf(iname, sizeof iname, "%.100s_input", first ? first : "sequential");
            mx_layer *in = mx_graph_add_layer(m, mx_layer_type_find("InputLayer"), iname);
            json_t *icfg = json_pack("{s:o}", "batch_input_shape", shape);
            int rc = !in || mx_config_read(in, icfg);
            json_decref(icfg);
            if (rc) return mx_fail_context("layer '%s' (InputLayer): ", iname);
            mx_node *n = mx_graph_call(m, in, NULL, 0);
            if (!n) return -1;
            m->input_nodes[0] = n;
            m->inputs[m->n_inputs++] = prev = n->out[0];
        }
        if (is_input && i > 0) return mx_fail("layer %zu: InputLayer must come first in a Sequential model", i);
        mx_layer *l = make_layer(m, entry, (int)i);
        if (!l) return -1;
        mx_node *n = mx_graph_call(m, l, is_input ? NULL : &prev, is_input ? 0 : 1);
        if (!n) return -1;
        if (is_input) {
            m->input_nodes[0] = n;
            m->inputs[m->n_inputs++] = n->out[0];
        }
        prev = n->out[0];
    }
    m->outputs[m->n_outputs++] = prev;
    return 0;
}

static int read_io_list(mx_model *m, json_t *list, const char *key, int outputs) {
    if (!json_is_array(list) || json_array_size(list) == 0) return mx_fail("functional config needs '%s'", key);
    /* a single reference may be written without the outer list */
    if (json_is_string(json_array_get(list, 0))) {
        json_t *wrapped = json_pack("[O]", list);
        int rc = read_io_list(m, wrapped, key, outputs);
        json_decref(wrapped);
        return rc;
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        ref r;
        if (read_ref(e, &r)) return mx_fail_context("'%s': ", key);
        mx_value *v = resolve(m, &r);
        if (!v) return mx_fail("'%s': no tensor [%s, %d, %d]", key, r.layer, r.node, r.tensor);
        if (outputs) {
            if (m->n_outputs >= MX_MAX_OUTPUTS) return mx_fail("too many outputs (at most %d)", MX_MAX_OUTPUTS);
            m->outputs[m->n_outputs++] = v;
        } else {
            if (m->n_inputs >= MX_MAX_INPUTS) return mx_fail("too many inputs (at most %d)", MX_MAX_INPUTS);
            if (strcmp(v->producer->layer->type->class_name, "InputLayer") != 0)
                return mx_fail("'%s': '%s' is not an InputLayer", key, r.layer);
            m->input_nodes[m->n_inputs] = v->producer;
            m->inputs[m->n_inputs++] = v;
        }
    }
    return 0;
}

static int read_functional(mx_model *m, json_t *cfg) {
    json_t *layers = json_object_get(cfg, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0) return mx_fail("model config has no layers");
    size_t nl = json_array_size(layers);
    if (nl > 100000) return mx_fail("model config has too many layers");
    mx_layer **ls = mx_alloc_array(nl, sizeof *ls);
    int *done = mx_alloc_array(nl, sizeof *done); /* inbound nodes already called */
    if (!ls || !done) goto fail;
    for (size_t i = 0; i < nl; i++)
        if (!(ls[i] = make_layer(m, json_array_get(layers, i), (int)i))) goto fail;
    /* call layers as their inputs become available (configs are usually,
     * but not always, in topological order) */
    for (int progress = 1; progress;) {
        progress = 0;
        for (size_t i = 0; i < nl; i++) {
            json_t *inbound = json_object_get(json_array_get(layers, i), "inbound_nodes");
            mx_layer *l = ls[i];
            if (!strcmp(l->type->class_name, "InputLayer")) {
                if (!done[i]) {
                    if (!mx_graph_call(m, l, NULL, 0)) goto fail;
                    done[i] = 1;
                    progress = 1;
                }
                continue;
            }
            if (!json_is_array(inbound)) {
                mx_fail("layer '%s': missing inbound_nodes", l->name);
                goto fail;
            }
            while (done[i] < (int)json_array_size(inbound)) {
                ref refs[MX_MAX_INPUTS];
                int nr = 0;
                if (read_node_refs(json_array_get(inbound, (size_t)done[i]), refs, MX_MAX_INPUTS, &nr)) {
                    mx_fail_context("layer '%s': inbound_nodes: ", l->name);
                    goto fail;
                }
                mx_value *in[MX_MAX_INPUTS];
                int ready = 1;
                for (int k = 0; k < nr && ready; k++) ready = (in[k] = resolve(m, &refs[k])) != NULL;
                if (!ready) break;
                if (!mx_graph_call(m, l, in, nr)) goto fail;
                done[i]++;
                progress = 1;
            }
        }
    }
    for (size_t i = 0; i < nl; i++) {
        json_t *inbound = json_object_get(json_array_get(layers, i), "inbound_nodes");
        if (strcmp(ls[i]->type->class_name, "InputLayer") && done[i] < (int)json_array_size(inbound)) {
            mx_fail("layer '%s': its inputs are not produced by any layer (or form a cycle)", ls[i]->name);
            goto fail;
        }
    }
    if (read_io_list(m, json_object_get(cfg, "input_layers"), "input_layers", 0) ||
        read_io_list(m, json_object_get(cfg, "output_layers"), "output_layers", 1))
        goto fail;
    mx_free(ls);
    mx_free(done);
    return 0;
fail:
    mx_free(ls);
    mx_free(done);
    return -1;
}

mx_model *mx_topology_read(json_t *topology, const char *origin, uint64_t seed) {
    /* converter output wraps the model in {"model_config": ..., "training_config": ...} */
    json_t *inner = json_object_get(topology, "model_config");
    if (json_is_object(inner)) topology = inner;
    json_t *cls = json_object_get(topology, "class_name");
    json_t *cfg = json_object_get(topology, "config");
    if (!json_is_string(cls) || !cfg)
        return mx_failp("%s: modelTopology needs class_name and config", origin);
    const char *c = json_string_value(cls);
    json_t *name = json_is_object(cfg) ? json_object_get(cfg, "name") : NULL;
    mx_model *m = mx_graph_new(json_is_string(name) ? json_string_value(name) : "model", seed);
    if (!m) return NULL;
    int rc;
    if (!strcmp(c, "Sequential"))
        rc = read_sequential(m, cfg);
    else if (!strcmp(c, "Model") || !strcmp(c, "Functional"))
        rc = read_functional(m, cfg);
    else
        rc = mx_fail("model class '%s' is not supported (Sequential, Model or Functional)", c);
    if (rc || m->n_inputs == 0 || m->n_outputs == 0 || mx_graph_finish(m)) {
        if (!rc && (m->n_inputs == 0 || m->n_outputs == 0)) mx_fail("the model has no inputs or outputs");
        mx_fail_context("%s: ", origin);
        mx_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- writing ---- */

static json_t *ref_json(const mx_value *v) {
    const mx_node *n = v->producer;
    int t = 0;
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] == v) t = i;
    return json_pack("[s, i, i]", n->layer->name, n->call, t);
}

json_t *mx_topology_write(const mx_model *m) {
    json_t *layers = json_array();
    for (int i = 0; i < m->n_layers; i++) {
        const mx_layer *l = m->layers[i];
        json_t *e = json_pack("{s:s, s:o}", "class_name", l->type->class_name, "config", mx_config_write(l));
        if (!m->sequential) {
            json_object_set_new(e, "name", json_string(l->name));
            json_t *inbound = json_array();
            for (int k = 0; k < m->n_nodes; k++) {
                const mx_node *n = m->nodes[k];
                if (n->layer != l || n->n_in == 0) continue;
                json_t *node = json_array();
                for (int j = 0; j < n->n_in; j++) {
                    json_t *r = ref_json(n->in[j]);
                    json_array_append_new(r, json_object());
                    json_array_append_new(node, r);
                }
                json_array_append_new(inbound, node);
            }
            json_object_set_new(e, "inbound_nodes", inbound);
        }
        json_array_append_new(layers, e);
    }
    json_t *cfg = json_pack("{s:s, s:o}", "name", m->name, "layers", layers);
    if (!m->sequential) {
        json_t *ins = json_array(), *outs = json_array();
        for (int i = 0; i < m->n_inputs; i++) json_array_append_new(ins, ref_json(m->inputs[i]));
        for (int i = 0; i < m->n_outputs; i++) json_array_append_new(outs, ref_json(m->outputs[i]));
        json_object_set_new(cfg, "input_layers", ins);
        json_object_set_new(cfg, "output_layers", outs);
    }
    return json_pack("{s:s, s:o, s:s, s:s}", "class_name", m->sequential ? "Sequential" : "Model", "config", cfg,
                     "keras_version", "mlexp " MX_VERSION, "backend", "mlexp");
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
