/* summary.c: a Keras-style model summary (model.summary()). Functional
 * models get Keras's "Connected to" column. */
#include "graph/graph.h"

#include <stdio.h>
#include <string.h>

static void out_shape(const mx_value *v, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(None");
    for (int i = 0; i < v->rank && k < n; i++) k += (size_t)snprintf(buf + k, n - k, ", %lld", (long long)v->dims[i]);
    if (k < n) snprintf(buf + k, n - k, ")");
}

static void rule(FILE *f, char c, int width) {
    for (int i = 0; i < width; i++) fputc(c, f);
    fputc('\n', f);
}

void mx_model_summary(const mx_model *m, FILE *f) {
    int functional = !m->sequential;
    int width = functional ? 98 : 65;
    fprintf(f, "Model: \"%s\"\n", m->name);
    rule(f, '_', width);
    if (functional)
        fprintf(f, " %-28s %-25s %-10s %s\n", "Layer (type)", "Output Shape", "Param #", "Connected to");
    else
        fprintf(f, " %-28s %-25s %s\n", "Layer (type)", "Output Shape", "Param #");
    rule(f, '=', width);
    /* one row per top-level layer call; a nested model is one row, as in Keras */
    int first = 1;
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        const mx_layer *l = mx_layer_in_scope(n->layer, NULL);
        const mx_value *out = n->out[0];
        if (l != n->layer) { /* inside a nested model: its row, once, where its first layer runs */
            int seen = 0;
            for (int k = 0; k < i; k++) seen |= mx_layer_in_scope(m->nodes[k]->layer, NULL) == l;
            if (seen) continue;
            out = ((const mx_submodel *)l->cfg)->outputs[0];
        }
        /* Keras's Sequential summary leaves out the InputLayer */
        if (!functional && n->n_in == 0) continue;
        if (!first) rule(f, functional ? '_' : ' ', functional ? width : 0);
        first = 0;
        char name[MX_NAME_MAX + 48], shape[128], params[32];
        const char *cls = l->type == &mx_layer_submodel ? ((const mx_submodel *)l->cfg)->class_name : l->type->class_name;
        snprintf(name, sizeof name, "%s (%s)", l->name, cls);
        out_shape(out, shape, sizeof shape);
        int64_t count = 0;
        for (int k = 0; k < m->n_params; k++)
            if (mx_layer_in_scope(m->params[k]->layer, NULL) == l && (n->call == 0 || l != n->layer)) count += m->params[k]->size;
        mx_thousands(count, params, sizeof params);
        if (functional) {
            const mx_value *ins[MX_MAX_INPUTS];
            int nin = n->n_in;
            for (int k = 0; k < nin; k++) ins[k] = n->in[k];
            if (l != n->layer) { /* a nested model is connected to what it was called on */
                const mx_submodel *sm = l->cfg;
                nin = sm->n_inputs;
                for (int k = 0; k < nin; k++) ins[k] = sm->bound[k];
            }
            for (int k = 0; k < MX_MAX(nin, 1); k++) {
                char conn[MX_NAME_MAX + 16] = "";
                if (k < nin) {
                    const mx_node *p = ins[k]->producer;
                    const mx_layer *pl = mx_layer_in_scope(p->layer, NULL);
                    snprintf(conn, sizeof conn, "%s[%d][0]", pl->name, pl == p->layer ? p->call : 0);
                }
                fprintf(f, " %-28s %-25s %-10s %s\n", k ? "" : name, k ? "" : shape, k ? "" : params, conn);
            }
        } else {
            fprintf(f, " %-28s %-25s %s\n", name, shape, params);
        }
    }
    if (!functional) fputs("\n", f);
    rule(f, '=', width);
    mx_param_counts c = mx_model_param_counts(m);
    char t[32], tr[32], nt[32];
    mx_thousands(c.trainable + c.non_trainable, t, sizeof t);
    mx_thousands(c.trainable, tr, sizeof tr);
    mx_thousands(c.non_trainable, nt, sizeof nt);
    fprintf(f, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n", t, tr, nt);
    rule(f, '_', width);
}
