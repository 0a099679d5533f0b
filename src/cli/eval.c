/* eval.c: `mlexp eval MODEL_DIR`: test accuracy, per-class accuracy and the
 * confusion matrix, on the dataset named in the model's metadata.json. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cmd_eval(int argc, char **argv) {
    const char *data = NULL, *split = "test", *bs_s = NULL, *threads_s = NULL;
    const cli_opt opts[] = {
        {"--data", "DIR", "dataset directory (default: installed datasets)", &data, NULL},
        {"--split", "NAME", "test (default) or train", &split, NULL},
        {"--batch-size", "N", "samples per forward pass (default 256)", &bs_s, NULL},
        {"--threads", "N", "worker threads (default: all cores)", &threads_s, NULL},
        {0},
    };
    const cli_cmd c = {"eval", "MODEL_DIR [options]",
                       "Evaluate a trained model on its dataset (named in MODEL_DIR/metadata.json).", NULL, opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 1);
    if (p) return p > 0 ? 0 : 2;
    int bs = 256, threads = 0;
    if ((bs_s && cli_int(bs_s, "--batch-size", 1, 65536, &bs)) || (threads_s && cli_int(threads_s, "--threads", 1, 64, &threads)))
        return cli_error("eval", "%s", mx_error()), 2;
    json_t *meta = cli_metadata_load(pos[0]);
    if (!meta) return cli_error("eval", "%s", mx_error());
    const char *dataset = json_string_value(json_object_get(meta, "dataset"));
    json_t *pre = json_object_get(json_object_get(meta, "input"), "preprocessing");
    float scale = json_is_number(json_object_get(pre, "scale")) ? (float)json_number_value(json_object_get(pre, "scale")) : 1;
    float offset = (float)json_number_value(json_object_get(pre, "offset"));
    const char *loss_name = json_string_value(json_object_get(meta, "loss"));
    mx_loss_kind loss = MX_LOSS_SPARSE_CATEGORICAL_CE;
    int from_logits = 0, rc = 1;
    mx_dataset *d = NULL;
    mx_model *m = NULL;
    mx_eval_result r = {0};
    if (!dataset) {
        mx_fail("%s/metadata.json: no dataset", pos[0]);
        goto done;
    }
    if (loss_name && mx_loss_parse(loss_name, &loss, &from_logits)) goto done;
    from_logits = json_is_true(json_object_get(meta, "from_logits"));
    mx_optimizer_config opt = mx_optimizer_defaults(MX_OPT_SGD);
    cli_data src = {dataset, json_string_value(json_object_get(meta, "data_path")), 0, 0, 0, MX_RESIZE_BILINEAR};
    json_t *ishape = json_object_get(json_object_get(meta, "input"), "shape");
    if (json_array_size(ishape) == 3) {
        src.height = (int)json_integer_value(json_array_get(ishape, 0));
        src.width = (int)json_integer_value(json_array_get(ishape, 1));
        src.channels = (int)json_integer_value(json_array_get(ishape, 2));
    }
    const char *rs = json_string_value(json_object_get(json_object_get(meta, "input"), "resize"));
    if (rs && mx_resize_parse(rs) >= 0) src.resize = (mx_resize)mx_resize_parse(rs);
    if (mx_set_threads(threads) || !(m = mx_model_load(pos[0])) || !(d = cli_dataset_load(&src, split, data)) ||
        mx_model_compile(m, loss, from_logits, &opt) || mx_evaluate(m, d, scale, offset, bs, &r))
        goto done;
    printf("%s on %s %s (%lld samples)\n", mx_model_name(m), dataset, split, (long long)d->n);
    printf("accuracy %.4f   loss %.4f\n\n", r.accuracy, r.loss);
    int k = r.n_classes;
    int w = 6;
    for (int i = 0; i < k && d->class_names; i++) w = MX_MAX(w, (int)strlen(d->class_names[i]));
    printf("%-*s  %8s  %7s\n", w, "class", "accuracy", "samples");
    for (int i = 0; i < k; i++) {
        int64_t row = 0;
        for (int j = 0; j < k; j++) row += r.confusion[i * k + j];
        printf("%-*s  %8.4f  %7lld\n", w, d->class_names ? d->class_names[i] : "", row ? (double)r.confusion[i * k + i] / (double)row : 0.0,
               (long long)row);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n%*s", w, "");
    for (int j = 0; j < k; j++) printf(" %5d", j);
    printf("\n");
    for (int i = 0; i < k; i++) {
        printf("%-*s", w, d->class_names ? d->class_names[i] : "");
        for (int j = 0; j < k; j++) printf(" %5lld", (long long)r.confusion[i * k + j]);
        printf("\n");
    }
    rc = 0;
done:
    if (rc) cli_error("eval", "%s", mx_error());
    mx_eval_result_free(&r);
    mx_dataset_free(d);
    mx_model_free(m);
    json_decref(meta);
    return rc;
}
