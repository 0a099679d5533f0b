/* tensor.c: owning tensors and shape helpers. */
#include "core.h"

#include <stdio.h>
#include <string.h>

int64_t mx_tensor_size(const mx_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

mx_tensor *mx_tensor_new(int rank, const int64_t *shape) {
    if (rank < 0 || rank > MX_MAX_RANK) return mx_failp("tensor rank %d out of range 0..%d", rank, MX_MAX_RANK);
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0 || !mx_mul_ok(n, shape[i], &n))
            return mx_failp("tensor shape has a negative or too large dimension");
    mx_tensor *t = mx_alloc(sizeof *t);
    if (!t) return NULL;
    t->rank = rank;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)rank);
    t->data = mx_alloc_array((size_t)n, sizeof(float));
    if (!t->data) {
        mx_free(t);
        return NULL;
    }
    return t;
}

void mx_tensor_free(mx_tensor *t) {
    if (!t) return;
    mx_free(t->data);
    mx_free(t);
}
