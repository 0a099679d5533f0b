/* merge.c: Add, the sum of inputs of equal shape (residual connections). */
#include "kernels/vec.h"
#include "layers/common.h"

static const mx_field add_fields[] = {{0}};

static int add_build(mx_node *n) {
    mx_value *a = n->in[0];
    for (int i = 1; i < n->n_in; i++) {
        mx_value *b = n->in[i];
        int same = a->rank == b->rank;
        for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
        if (!same) {
            char sa[96], sb[96];
            return mx_fail("inputs must have the same shape: %s (from '%s') and %s (from '%s')",
                           mx_shape_str(a->rank, a->dims, sa, sizeof sa), a->name,
                           mx_shape_str(b->rank, b->dims, sb, sizeof sb), b->name);
        }
    }
    return mx_node_set_output(n, 0, a->rank, a->dims);
}

static void add_forward(mx_node *n, const mx_exec *ex) {
    int64_t count = ex->batch * n->z->size;
    mx_vec_store(n->z->data, n->in[0]->data, count, 0);
    for (int i = 1; i < n->n_in; i++) mx_vec_store(n->z->data, n->in[i]->data, count, 1);
}

static void add_backward(mx_node *n, const mx_exec *ex) {
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i]->grad) mx_vec_store(n->in[i]->grad, n->z->grad, ex->batch * n->z->size, n->in_acc[i]);
}

const mx_layer_type mx_layer_add = {
    .class_name = "Add",
    .fields = add_fields,
    .cfg_size = 0,
    .min_inputs = 2,
    .max_inputs = MX_MAX_INPUTS,
    .build = add_build,
    .forward = add_forward,
    .backward = add_backward,
};
