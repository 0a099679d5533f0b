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

/* the one node reading v, or NULL (none, several, or v is a model output) */
static mx_node *sole_consumer(mx_model *m, const mx_value *v) {
    if (v->n_consumers != 1) return NULL;
    for (int o = 0; o < m->n_outputs; o++)
        if (m->outputs[o] == v) return NULL;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i]->n_in; k++)
            if (m->nodes[i]->in[k] == v) return m->nodes[i];
    return NULL;
}

/* runs without its intermediate values being needed: no gradient through
 * it, in inference mode (inference, a frozen or training=False layer) */
static int fusable(const mx_model *m, const mx_node *n, int training) {
    if (m->keep_preactivations || n->n_out != 1) return 0;
    if (!training) return 1;
    return !n->z->needs_grad && (n->layer->inference || !n->layer->trainable);
}

/* A conv-like layer takes over the work of a BatchNormalization after it
 * (folded into its weights) and of an activation layer after that (in its
 * epilogue), or, in inference, of a 2x2 max pooling: fewer passes over
 * memory, and the intermediate outputs are never written. */
static void plan_fusions(mx_model *m, int training) {
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        n->fold_bn = n->act_from = n->pool_into = NULL;
        n->fused_out = NULL;
        n->done_by_producer = 0;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *a = m->nodes[i], *b = NULL, *c = NULL;
        if (!a->layer->type->folds || a->layer->act.kind != MX_ACT_LINEAR || !fusable(m, a, training)) continue;
        mx_node *next = sole_consumer(m, a->out[0]);
        if (next && next->layer->type == mx_layer_type_find("BatchNormalization") && fusable(m, next, training) &&
            next->out[0]->rank == a->out[0]->rank) {
            b = next;
            next = sole_consumer(m, b->out[0]);
        }
        if (next && mx_is_activation_layer(next) && fusable(m, next, training)) c = next;
        if (!b && !c) continue;
        a->fold_bn = b;
        a->act_from = c;
        a->fused_out = (c ? c : b)->out[0];
        if (b) b->done_by_producer = 1;
        if (c) c->done_by_producer = 1;
    }
    for (int i = 0; !training && !m->keep_preactivations && i < m->n_nodes; i++) {
        mx_node *pool = m->nodes[i], *a = pool->n_in == 1 ? pool->in[0]->producer : NULL;
        if (!a || !mx_pool_is_2x2(pool) || a->fused_out || sole_consumer(m, a->out[0]) != pool || a->n_out != 1 ||
            !a->layer->type->can_pool || !mx_act_monotonic(a->layer->act) || !a->layer->type->can_pool(a))
            continue;
        a->pool_into = pool;
        pool->done_by_producer = 1;
    }
}

/* floats of weights and bias of a node (its folded copy) */
static int64_t param_floats(const mx_node *n) {
    int64_t s = 0;
    for (int i = 0; i < n->layer->n_params; i++) s += n->layer->params[i]->size;
    return s;
}

int mx_graph_plan(mx_model *m, int batch, int training) {
    if (batch <= 0) return mx_fail("batch size must be positive, got %d", batch);
    for (int i = 0; i < m->n_nodes; i++) {
        const mx_node *n = m->nodes[i];
        if (n->fixed_batch > 0 && batch > n->fixed_batch)
            return mx_fail("layer '%s' keeps state for batches of %d samples (stateful): cannot run %d at once",
                           n->layer->name, n->fixed_batch, batch);
    }
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

    plan_fusions(m, training);

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
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i]->fold_bn) total += round16(param_floats(m->nodes[i]) + 2 * m->nodes[i]->z->dims[m->nodes[i]->z->rank - 1]);
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
        n->ws_version = 0;
        p += round16(b * n->ws_per_sample + n->ws_fixed);
    }
    for (int i = 0; i < m->n_nodes; i++) {
        mx_node *n = m->nodes[i];
        n->folded = NULL;
        if (!n->fold_bn) continue;
        n->folded = p; /* weights, bias, scale */
        n->folded_version = 0;
        p += round16(param_floats(n) + 2 * n->z->dims[n->z->rank - 1]);
    }
    m->targets = p;
    return 0;
}
