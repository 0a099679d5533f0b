/* counts.c: how each layer's parameter count and output shape follow from
 * its config, with the numbers filled in (mlexp info). The formulas live
 * with the layer types (explain_params, explain_shape); layers without one
 * get the generic product of their weight shapes. */
#include "graph/graph.h"

#include <stdio.h>
#include <string.h>

static void shape_of(const mx_value *v, char *buf, size_t n) { mx_shape_str(v->rank, v->dims, buf, n); }

/* "kernel 3*3*1*8 + bias 8 = 80" */
static void generic_params(const mx_layer *l, mx_text *t) {
    int64_t total = 0;
    for (int i = 0; i < l->n_params; i++) {
        const mx_param *p = l->params[i];
        const char *short_name = strrchr(p->name, '/');
        mx_text_add(t, "%s%s ", i ? " + " : "", short_name ? short_name + 1 : p->name);
        mx_text_product(t, p->rank, p->dims);
        total += p->size;
    }
    if (l->n_params > 1 || (l->n_params == 1 && l->params[0]->rank > 1)) mx_text_add(t, " = %lld", (long long)total);
}

static int same_shape(const mx_value *a, const mx_value *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

void mx_model_explain_counts(const mx_model *m, FILE *f) {
    mx_text t = {0};
    fprintf(f, "How each count follows (batch axis left out):\n");
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        const mx_layer *l = n->layer;
        if (n->n_in == 0) continue; /* InputLayer */
        char in[128], out[128];
        shape_of(n->in[0], in, sizeof in);
        shape_of(n->out[0], out, sizeof out);
        fprintf(f, " %s (%s)%s\n", n->out[0]->name, l->type->class_name, n->call ? " (a second call)" : "");
        mx_text_clear(&t);
        if (n->call > 0 && l->n_params)
            mx_text_add(&t, "shared with the layer's first call");
        else if (l->type->explain_params)
            l->type->explain_params(n, &t);
        else if (l->n_params)
            generic_params(l, &t);
        else
            mx_text_add(&t, "none");
        fprintf(f, "   parameters: %s\n", mx_text_str(&t));
        mx_text_clear(&t);
        if (l->type->explain_shape)
            l->type->explain_shape(n, &t);
        else if (same_shape(n->in[0], n->out[0]))
            mx_text_add(&t, "the same as the input%s", n->n_in > 1 ? "s" : "");
        else
            mx_text_add(&t, "see the layer's config");
        fprintf(f, "   output:     %s -> %s: %s\n", in, out, mx_text_str(&t));
        if (l->act.kind != MX_ACT_LINEAR && l->type->has_activation)
            fprintf(f, "   then activation %s, shape unchanged\n", mx_act_name(l->act.kind));
    }
    mx_text_free(&t);
}
