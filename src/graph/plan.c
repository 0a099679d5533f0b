/* plan.c: memory planning. Decides which values carry gradients, who
 * overwrites and who adds into each gradient, and carves every buffer of a
 * step (values, gradients, workspaces, targets) out of one allocation. */
#include "graph/graph.h"

#include <string.h>

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

static int layer_has_trainable(const mx_layer *l) {
    if (!l->trainable) return 0;
    for (int i = 0; i < l->n_params; i++)
        if (l->params[i]->trainable) return 1;
    return 0;
}

/* A gradient reaches a value in training when it depends on a trainable
 * weight; everything else (inputs, frozen stems) is skipped. */
static int plan_grad_flags(mx_model *m, int training) {
    for (int i = 0; i < m->n_values; i++) {
        m->values[i]->needs_grad = 0;
        m->values[i]->zero_grad = 0;
    }
    for (int i = 0; i < m->n_params; i++) {
        mx_param *p = m->params[i];
        p->grad = training && p->trainable && p->layer->trainable ? p->grad_slot : NULL;
    }
    if (!training) return 0;
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        int dep = layer_has_trainable(n->layer) || (m->grad_inputs && n->n_in == 0);
        for (int k = 0; k < n->n_in; k++) dep |= n->in[k]->needs_grad;
        for (int k = 0; k < n->n_out; k++) n->out[k]->needs_grad = dep;
        n->z->needs_grad = dep;
    }
    /* Walk backwards: the first writer of a gradient overwrites it, later
     * ones add. The loss writes the outputs' gradients first. */
    int *written = mx_alloc_array((size_t)m->n_values, sizeof(int));
    int *layer_seen = mx_alloc_array((size_t)m->n_layers, sizeof(int));
    if (written && layer_seen) {
        for (int o = 0; o < m->n_outputs; o++) {
            mx_node *p = m->outputs[o]->producer;
            written[(p->act_by_loss ? p->z : m->outputs[o])->index] = 1;
        }
        for (int i = m->n_nodes - 1; i >= 0; i--) {
            mx_node *n = m->nodes[i];
            if (!n->z->needs_grad) continue;
            if (n->z != n->out[0] && !n->act_by_loss) written[n->z->index] = 1;
            for (int j = 0; j < n->n_in; j++) {
                if (!n->in[j]->needs_grad) continue;
                n->in_acc[j] = (uint8_t)written[n->in[j]->index];
                written[n->in[j]->index] = 1;
            }
            n->param_acc = layer_seen[n->layer->index];
            layer_seen[n->layer->index] = 1;
        }
        for (int i = 0; i < m->n_values; i++)
            m->values[i]->zero_grad = m->values[i]->needs_grad && !written[i];
    }
    int ok = written && layer_seen;
    mx_free(written);
    mx_free(layer_seen);
    return ok ? 0 : -1;
}

int mx_graph_plan(mx_model *m, int batch, int training) {
    if (batch <= 0) return mx_fail("batch size must be positive, got %d", batch);
    if (m->plan_mem && m->plan_batch >= batch && m->plan_training >= training) return 0;
    /* new flags invalidate the old plan whatever happens next */
    mx_free(m->plan_mem);
    m->plan_mem = NULL;
    if (plan_grad_flags(m, training)) return -1;

    /* An activation whose derivative follows from its output runs in place:
     * one buffer less to write and read. Not when the loss reads the logits,
     * or when pre-activations must stay observable. */
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        n->z_in_place = n->z != n->out[0] && !m->keep_preactivations && !n->act_by_loss &&
                        mx_act_output_grad(n->layer->act);
    }

    /* In inference a convolution may do the 2x2 max pooling that follows it
     * in the same pass: its full-size output is never written or read. */
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        n->pool_into = NULL;
        n->pooled_by_producer = 0;
    }
    for (int i = 0; !training && !m->keep_preactivations && i < m->n_nodes; i++) {
        mx_node *pool = m->nodes[i], *a = pool->n_in == 1 ? pool->in[0]->producer : NULL;
        if (!a || !mx_pool_is_2x2(pool) || a->out[0]->n_consumers != 1 || a->n_out != 1 || !a->layer->type->can_pool ||
            !mx_act_monotonic(a->layer->act) || !a->layer->type->can_pool(a))
            continue;
        int is_output = 0;
        for (int o = 0; o < m->n_outputs; o++) is_output |= m->outputs[o] == a->out[0];
        if (is_output) continue;
        a->pool_into = pool;
        pool->pooled_by_producer = 1;
    }

    /* sizes first, then one allocation */
    int64_t total = 0, b = batch, sz;
    for (int i = 0; i < m->n_values; i++) {
        mx_value *v = m->values[i];
        if (v->producer->z_in_place && v == v->producer->z) continue;
        if (!mx_mul_ok(b, v->size, &sz)) return mx_fail("batch %d is too large for this model", batch);
        total += round16(sz) * (v->needs_grad ? 2 : 1);
    }
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        if (!mx_mul_ok(b, n->ws_per_sample, &sz)) return mx_fail("batch %d is too large for this model", batch);
        total += round16(sz + n->ws_fixed);
    }
    int64_t tsize = m->n_outputs ? m->outputs[0]->size : 0;
    total += round16(b * tsize);
    if (total > ((int64_t)1 << 36) / 4)
        return mx_fail("batch %d needs %.1f GiB of activations: use a smaller batch", batch,
                       (double)total * 4 / (1 << 30));

    float *mem = mx_alloc_array((size_t)total, sizeof(float));
    if (!mem) return mx_fail_context("planning batch %d: ", batch);
    m->plan_mem = mem;
    m->plan_batch = batch;
    m->plan_training = training;

    float *p = mem;
    for (int i = 0; i < m->n_values; i++) {
        mx_value *v = m->values[i];
        if (v->producer->z_in_place && v == v->producer->z) {
            v->data = v->producer->out[0]->data;
            v->grad = v->producer->out[0]->grad;
            continue;
        }
        v->data = p;
        p += round16(b * v->size);
        v->grad = NULL;
        if (v->needs_grad) {
            v->grad = p;
            p += round16(b * v->size);
        }
    }
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        n->ws = p;
        p += round16(b * n->ws_per_sample + n->ws_fixed);
    }
    m->targets = p;
    return 0;
}
