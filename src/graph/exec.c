/* exec.c: running the planned graph forward and backward. */
#include "graph/graph.h"

#include <string.h>

/* rows x cols view of a value for activations: softmax runs over the last axis */
static void act_shape(const mx_value *v, int batch, int64_t *rows, int64_t *cols) {
    *cols = v->rank ? v->dims[v->rank - 1] : 1;
    *rows = (int64_t)batch * v->size / *cols;
}

void mx_graph_forward(mx_model *m, const mx_exec *ex) {
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        n->layer->type->forward(n, ex);
        if (n->z != n->out[0]) {
            int64_t rows, cols;
            act_shape(n->z, ex->batch, &rows, &cols);
            mx_act_forward(n->layer->act, n->z->data, n->out[0]->data, rows, cols);
        }
    }
}

void mx_graph_backward(mx_model *m, const mx_exec *ex) {
    for (int i = 0; i < m->n_values; i++) {
        mx_value *v = m->values[i];
        if (v->zero_grad) memset(v->grad, 0, sizeof(float) * (size_t)(ex->batch * v->size));
    }
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        mx_node *n = m->nodes[i];
        if (!n->z->needs_grad) continue;
        if (n->z != n->out[0] && !n->act_by_loss) {
            int64_t rows, cols;
            act_shape(n->z, ex->batch, &rows, &cols);
            mx_act_backward(n->layer->act, n->z->data, n->out[0]->data, n->out[0]->grad, n->z->grad,
                            rows, cols, 0);
        }
        n->layer->type->backward(n, ex);
    }
}
