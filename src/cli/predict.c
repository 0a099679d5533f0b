/* predict.c: `mlexp predict MODEL_DIR --input X.npy --output Y.npy`. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cmd_predict(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *bs_s = NULL, *threads_s = NULL;
    int preprocess = 0;
    const cli_opt opts[] = {
        {"--input", "X.npy", "inputs, batch first, shaped as the model's input", &in, NULL},
        {"--output", "Y.npy", "where to write the outputs (float32)", &out, NULL},
        {"--preprocess", NULL, "apply the preprocessing of metadata.json (e.g. raw 0..255 pixels)", NULL, &preprocess},
        {"--batch-size", "N", "samples per forward pass (default 256)", &bs_s, NULL},
        {"--threads", "N", "worker threads (default: all cores)", &threads_s, NULL},
        {0},
    };
    const cli_cmd c = {"predict", "MODEL_DIR --input X.npy --output Y.npy",
                       "Run a model on a numpy array and write its outputs.",
                       "Inputs are taken as the model sees them; with --preprocess, as raw data\n"
                       "to which metadata.json's preprocessing (x * scale + offset) is applied.", opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 1);
    if (p) return p > 0 ? 0 : 2;
    if (!in || !out) return cli_error("predict", "--input and --output are required"), 2;
    int bs = 256, threads = 0;
    if ((bs_s && cli_int(bs_s, "--batch-size", 1, 65536, &bs)) || (threads_s && cli_int(threads_s, "--threads", 1, 64, &threads)))
        return cli_error("predict", "%s", mx_error()), 2;
    mx_model *m = NULL;
    mx_tensor *x = NULL, *y = NULL;
    int rc = 1;
    if (mx_set_threads(threads) || !(m = mx_model_load(pos[0])) || !(x = mx_npy_load(in))) goto done;
    if (preprocess) {
        json_t *meta = cli_metadata_load(pos[0]);
        if (!meta) goto done;
        json_t *pre = json_object_get(json_object_get(meta, "input"), "preprocessing");
        float scale = json_is_number(json_object_get(pre, "scale")) ? (float)json_number_value(json_object_get(pre, "scale")) : 1;
        float offset = (float)json_number_value(json_object_get(pre, "offset"));
        json_decref(meta);
        for (int64_t i = 0; i < mx_tensor_size(x); i++) x->data[i] = x->data[i] * scale + offset;
    }
    int64_t shape[MX_MAX_RANK];
    int r = mx_model_output_shape(m, 0, shape + 1);
    shape[0] = x->rank > 0 ? x->shape[0] : 0;
    if (!(y = mx_tensor_new(r + 1, shape))) goto done;
    if (mx_predict(m, x, y, bs)) {
        mx_fail_context("%s: ", in);
        goto done;
    }
    if (mx_npy_save(out, y)) goto done;
    char s[128];
    printf("wrote %s %s\n", out, mx_shape_str(y->rank, y->shape, s, sizeof s));
    rc = 0;
done:
    if (rc) cli_error("predict", "%s", mx_error());
    mx_tensor_free(x);
    mx_tensor_free(y);
    mx_model_free(m);
    return rc;
}
