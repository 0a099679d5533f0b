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
    int first = 1;
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        const mx_layer *l = n->layer;
        /* Keras's Sequential summary leaves out the InputLayer */
        if (!functional && n->n_in == 0) continue;
        if (!first) rule(f, functional ? '_' : ' ', functional ? width : 0);
        first = 0;
        char name[MX_NAME_MAX + 48], shape[128], params[32];
        snprintf(name, sizeof name, "%s (%s)", l->name, l->type->class_name);
        out_shape(n->out[0], shape, sizeof shape);
        int64_t count = 0;
        if (n->call == 0)
            for (int k = 0; k < l->n_params; k++) count += l->params[k]->size;
        mx_thousands(count, params, sizeof params);
        if (functional) {
            char conn[MX_NAME_MAX + 16] = "";
            if (n->n_in) snprintf(conn, sizeof conn, "%s[%d][0]", n->in[0]->producer->layer->name, n->in[0]->producer->call);
            fprintf(f, " %-28s %-25s %-10s %s\n", name, shape, params, conn);
            for (int k = 1; k < n->n_in; k++)
                fprintf(f, " %-28s %-25s %-10s %s[%d][0]\n", "", "", "", n->in[k]->producer->layer->name,
                        n->in[k]->producer->call);
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
