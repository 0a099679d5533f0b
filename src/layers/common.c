/* common.c: helpers shared by layer types. */
#include "layers/common.h"

#include "kernels/vec.h"

int mx_conv_out(int64_t in, int k, int s, int d, int padding, int64_t *out, int *pad_before) {
    if (k <= 0 || s <= 0 || d <= 0) return mx_fail("kernel size, strides and dilation must be positive");
    int64_t ek = (int64_t)(k - 1) * d + 1; /* extent of a dilated kernel */
    if (padding == MX_PAD_SAME) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + ek - in;
        if (total < 0) total = 0;
        *pad_before = (int)(total / 2);
    } else {
        if (in < ek) return mx_fail("input size %lld is smaller than the window %lld with padding 'valid'",
                                    (long long)in, (long long)ek);
        *out = (in - ek) / s + 1;
        *pad_before = 0;
    }
    return 0;
}

void mx_copy_forward(mx_node *n, const mx_exec *ex) {
    mx_vec_store(n->z->data, n->in[0]->data, ex->batch * n->in[0]->size, 0);
}

void mx_copy_backward(mx_node *n, const mx_exec *ex) {
    if (n->in[0]->grad) mx_vec_store(n->in[0]->grad, n->z->grad, ex->batch * n->in[0]->size, n->in_acc[0]);
}
