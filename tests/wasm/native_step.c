/* native_step: the native side of test_wasm.mjs's training check.
 *   native_step CONFIG.json SEED LOSS OPTIMIZER X.npy Y.npy STEPS WEIGHTS_OUT.npy
 * Builds the model from a Keras config with SEED, compiles it, takes STEPS
 * mx_train_batch steps on the whole of X/Y, prints each step's loss (%.9g,
 * one per line) and writes the final weights, flat, to WEIGHTS_OUT.npy. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: native_step CONFIG.json SEED LOSS OPTIMIZER X.npy Y.npy STEPS WEIGHTS_OUT.npy\n");
        return 2;
    }
    mx_model *m = NULL;
    mx_tensor *x = NULL, *y = NULL, *w = NULL;
    mx_loss_kind loss;
    int from_logits, rc = 1;
    mx_optimizer_config opt;
    char *text = mx_read_file(argv[1], NULL, (size_t)64 << 20);
    if (!text || !(m = mx_model_from_json(text, argv[1], strtoull(argv[2], NULL, 10))) ||
        mx_loss_parse(argv[3], &loss, &from_logits) || mx_optimizer_parse(argv[4], &opt) ||
        mx_model_compile(m, loss, from_logits, &opt) || !(x = mx_npy_load(argv[5])) || !(y = mx_npy_load(argv[6])))
        goto done;
    int batch = (int)x->shape[0], steps = atoi(argv[7]);
    for (int s = 0; s < steps; s++) {
        double l;
        if (mx_train_batch(m, x->data, y->data, batch, &l)) goto done;
        printf("%.9g\n", l);
    }
    int64_t n = mx_model_weights_size(m);
    if (!(w = mx_tensor_new(1, &n))) goto done;
    mx_model_weights_get(m, w->data);
    rc = mx_npy_save(argv[8], w) ? 1 : 0;
done:
    if (rc) fprintf(stderr, "native_step: %s\n", mx_error());
    mx_free(text);
    mx_tensor_free(x);
    mx_tensor_free(y);
    mx_tensor_free(w);
    mx_model_free(m);
    return rc;
}
