/* exec.c: running the planned graph forward and backward. */
#include "graph/graph.h"

#include <stdio.h>
#include <string.h>

/* rows x cols view of a value for activations: softmax runs over the last axis */
static void act_shape(const mx_value *v, int batch, int64_t *rows, int64_t *cols) {
    *cols = v->rank ? v->dims[v->rank - 1] : 1;
    *rows = (int64_t)batch * v->size / *cols;
}

mx_fused mx_fused_params(mx_node *n, const float *w, int64_t wsize, const float *bias, int64_t f) {
    mx_fused r = {w, bias, n->layer->act, n->z->data,
                  mx_act_fused(n) && n->z != n->out[0] ? n->out[0]->data : NULL};
    if (!n->fold_bn && !n->act_from) return r;
    if (n->fold_bn) { /* w' = w * a per output channel, bias' = bias * a + b, made again when weights change */
        float *fw = n->folded, *fb = n->folded + wsize, *a = fb + f;
        uint64_t version = n->layer->model->weights_version + 1;
        if (n->folded_version != version) {
            mx_bn_inference_affine(n->fold_bn, a, fb);
            for (int64_t r0 = 0; r0 < wsize; r0 += f)
                for (int64_t i = 0; i < f; i++) fw[r0 + i] = w[r0 + i] * a[i];
            if (bias)
                for (int64_t i = 0; i < f; i++) fb[i] += bias[i] * a[i];
            n->folded_version = version;
        }
        r.w = fw;
        r.bias = fb;
    }
    r.z = n->fused_out->data;
    r.out = NULL;
    if (n->act_from) {
        r.act = n->act_from->layer->act;
        r.out = r.z; /* in place: nothing reads the values before the activation */
    }
    return r;
}

/* Whether the layer's forward already applied its activation. */
int mx_act_fused(const mx_node *n) {
    return n->layer->type->fuses_activation && n->layer->act.kind != MX_ACT_SOFTMAX;
}

void mx_node_forward(mx_node *n, const mx_exec *ex) {
    /* a nested model called with training=False runs in inference mode */
    mx_exec local = *ex;
    if (n->layer->inference) local.training = 0;
    n->layer->type->forward(n, &local);
    if (n->z != n->out[0] && !mx_act_fused(n)) {
        int64_t rows, cols;
        act_shape(n->z, ex->batch, &rows, &cols);
        mx_act_forward(n->layer->act, n->z->data, n->out[0]->data, rows, cols);
    }
}

void mx_node_backward(mx_node *n, const mx_exec *ex) {
    if (n->z != n->out[0] && !n->act_by_loss) {
        int64_t rows, cols;
        act_shape(n->z, ex->batch, &rows, &cols);
        mx_act_backward(n->layer->act, n->z->data, n->out[0]->data, n->out[0]->grad, n->z->grad, rows, cols, 0);
    }
    mx_exec local = *ex;
    if (n->layer->inference) local.training = 0;
    n->layer->type->backward(n, &local);
}

void mx_graph_forward(mx_model *m, const mx_exec *ex) {
    m->step_error[0] = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        if (n->done_by_producer) continue; /* an earlier node wrote its output */
        double t0 = m->profile ? mx_now() : 0;
        mx_node_forward(n, ex);
        if (m->profile) n->seconds[0] += mx_now() - t0;
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
        double t0 = m->profile ? mx_now() : 0;
        mx_node_backward(n, ex);
        if (m->profile) n->seconds[1] += mx_now() - t0;
    }
}

void mx_model_weights_changed(mx_model *m) { m->weights_version++; }

void mx_model_profile(mx_model *m, int on) {
    m->profile = on;
    for (int i = 0; i < m->n_nodes; i++) m->nodes[i]->seconds[0] = m->nodes[i]->seconds[1] = 0;
}

void mx_model_profile_report(const mx_model *m, FILE *f) {
    double fw = 0, bw = 0;
    for (int i = 0; i < m->n_nodes; i++) fw += m->nodes[i]->seconds[0], bw += m->nodes[i]->seconds[1];
    fprintf(f, "%-28s %10s %10s %7s\n", "layer", "forward s", "backward s", "share");
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        fprintf(f, "%-28s %10.3f %10.3f %6.1f%%\n", n->out[0]->name, n->seconds[0], n->seconds[1],
                100 * (n->seconds[0] + n->seconds[1]) / (fw + bw > 0 ? fw + bw : 1));
    }
    fprintf(f, "%-28s %10.3f %10.3f\n", "total", fw, bw);
}
