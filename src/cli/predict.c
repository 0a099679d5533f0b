/* predict.c: `mlexp predict MODEL_DIR --input X.npy --output Y.npy`,
 * `--image PHOTO [--top K]` for image classifiers: the photo is read,
 * resized and scaled as metadata.json says, and the top classes printed;
 * and `--text TEXT` for text models such as numbers_summation. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int predict_image(mx_model *m, const char *model_dir, const char *path, int top) {
    json_t *meta = cli_metadata_load(model_dir); /* optional: the model's own shape otherwise */
    mx_clear_error();
    cli_prep p = cli_prep_of(meta);
    int64_t shape[MX_MAX_RANK], oshape[MX_MAX_RANK];
    int rank = mx_model_input_shape(m, 0, shape), orank = mx_model_output_shape(m, 0, oshape);
    int rc = -1;
    mx_tensor *img = NULL, *x = NULL, *y = NULL;
    if (rank != 3 || (shape[2] != 1 && shape[2] != 3)) {
        mx_fail("the model's input %s is not an image (height, width, 1 or 3 channels)", "shape");
        goto done;
    }
    if (orank != 1) {
        mx_fail("the model's output is not one vector of class scores");
        goto done;
    }
    if (!(img = mx_image_load(path, (int)shape[2]))) goto done;
    int64_t xs[4] = {1, shape[0], shape[1], shape[2]}, ys[2] = {1, oshape[0]};
    if (!(x = mx_tensor_new(4, xs)) || !(y = mx_tensor_new(2, ys))) goto done;
    cli_image_input(img, (int)shape[0], (int)shape[1], &p, x->data);
    if (mx_predict(m, x, y, 1)) goto done;
    int64_t n = oshape[0];
    float *prob = y->data;
    cli_probabilities(prob, n, p.from_logits);
    printf("%s (%lldx%lld, resized to %lldx%lld):\n", path, (long long)img->shape[1], (long long)img->shape[0],
           (long long)shape[1], (long long)shape[0]);
    for (int k = 0; k < top && k < n; k++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++)
            if (prob[i] >= 0 && (best < 0 || prob[i] > prob[best])) best = i;
        json_t *label = json_array_get(p.classes, (size_t)best);
        printf("  %6.2f%%  %s", 100.0 * prob[best], json_is_string(label) ? json_string_value(label) : "");
        if (!json_is_string(label)) printf("class %lld", (long long)best);
        printf("\n");
        prob[best] = -1;
    }
    rc = 0;
done:
    mx_tensor_free(img);
    mx_tensor_free(x);
    mx_tensor_free(y);
    json_decref(meta);
    return rc;
}

/* A text model (metadata.json's input.text): the text one-hot encoded as
 * it was in training, the output's steps decoded back to characters. */
static int predict_text(mx_model *m, const char *model_dir, const char *text) {
    json_t *meta = cli_metadata_load(model_dir);
    cli_text t;
    int rc = -1;
    mx_tensor *x = NULL, *y = NULL;
    if (!meta) return -1;
    if (!cli_text_from_metadata(meta, &t)) {
        mx_fail("%s/metadata.json: the model does not read text (no input.text)", model_dir);
        goto done;
    }
    int64_t k = (int64_t)strlen(t.alphabet), xs[3] = {1, t.in_length, k}, shape[MX_MAX_RANK + 1];
    int rank = mx_model_output_shape(m, 0, shape + 1);
    shape[0] = 1;
    if (rank != 2 || shape[1] != t.out_length || shape[2] != k) {
        mx_fail("the model's output is not %d steps of %lld symbols", t.out_length, (long long)k);
        goto done;
    }
    if (!(x = mx_tensor_new(3, xs)) || !(y = mx_tensor_new(3, shape)) ||
        mx_text_one_hot(text, t.alphabet, t.in_length, t.pad, x->data) || mx_predict(m, x, y, 1))
        goto done;
    char answer[256];
    cli_text_decode(&t, y->data, t.out_length, (int)k, answer, sizeof answer);
    printf("%s = %s\n", text, answer);
    rc = 0;
done:
    mx_tensor_free(x);
    mx_tensor_free(y);
    json_decref(meta);
    return rc;
}

int cmd_predict(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *image = NULL, *text = NULL, *top_s = NULL, *bs_s = NULL, *threads_s = NULL;
    int preprocess = 0;
    const cli_opt opts[] = {
        {"--input", "X.npy", "inputs, batch first, shaped as the model's input", &in, NULL},
        {"--output", "Y.npy", "where to write the outputs (float32)", &out, NULL},
        {"--preprocess", NULL, "apply the preprocessing of metadata.json (e.g. raw 0..255 pixels)", NULL, &preprocess},
        {"--image", "PHOTO", "classify a PNG or JPEG photo and print the top classes", &image, NULL},
        {"--top", "K", "how many classes to print for --image (default 5)", &top_s, NULL},
        {"--text", "TEXT", "a text model (numbers_summation): read TEXT, print what it answers", &text, NULL},
        {"--batch-size", "N", "samples per forward pass (default 256)", &bs_s, NULL},
        {"--threads", "N", "worker threads (default: all cores)", &threads_s, NULL},
        {0},
    };
    const cli_cmd c = {"predict", "MODEL_DIR (--input X.npy --output Y.npy | --image PHOTO [--top K] | --text TEXT)",
                       "Run a model on a numpy array and write its outputs, classify a photo, or answer a text.",
                       "Arrays are taken as the model sees them; with --preprocess, as raw data\n"
                       "to which metadata.json's preprocessing (x * scale + offset) is applied.\n"
                       "A photo is resized to the model's input and preprocessed as metadata.json\n"
                       "says; the class names come from its \"classes\". A text is encoded with\n"
                       "the alphabet of metadata.json (e.g. --text \"34+27\" for numbers_summation).", opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 1);
    if (p) return p > 0 ? 0 : 2;
    if (!image && !text && (!in || !out)) return cli_error("predict", "give --input and --output, --image, or --text"), 2;
    int bs = 256, threads = 0, top = 5;
    if ((bs_s && cli_int(bs_s, "--batch-size", 1, 65536, &bs)) || (threads_s && cli_int(threads_s, "--threads", 1, 64, &threads)) ||
        (top_s && cli_int(top_s, "--top", 1, 100000, &top)))
        return cli_error("predict", "%s", mx_error()), 2;
    mx_model *m = NULL;
    mx_tensor *x = NULL, *y = NULL;
    int rc = 1;
    if (mx_set_threads(threads) || !(m = mx_model_load(pos[0]))) goto done;
    if (image || text) {
        if (image ? predict_image(m, pos[0], image, top) : predict_text(m, pos[0], text)) goto done;
        rc = 0;
        goto done;
    }
    if (!(x = mx_npy_load(in))) goto done;
    if (preprocess) {
        json_t *meta = cli_metadata_load(pos[0]);
        if (!meta) goto done;
        cli_prep pr = cli_prep_of(meta);
        for (int64_t i = 0; i < mx_tensor_size(x); i++) x->data[i] = x->data[i] * pr.scale + pr.offset;
        json_decref(meta);
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
