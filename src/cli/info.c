/* info.c: `mlexp info MODEL_DIR`: the Keras-style summary and what the
 * metadata says about the model. */
#include "cli/cli.h"

#include <stdio.h>

int cmd_info(int argc, char **argv) {
    const cli_opt opts[] = {{0}};
    const cli_cmd c = {"info", "MODEL_DIR",
                       "Print a Keras-style summary (layers, output shapes, parameter counts) of a model\n"
                       "directory or model.json, then how each layer's parameter count and output shape\n"
                       "follow from its config, with the numbers filled in.", NULL, opts};
    const char *pos[1] = {NULL};
    int p = cli_parse(&c, argc, argv, pos, 1, 1);
    if (p) return p > 0 ? 0 : 2;
    mx_model *m = mx_model_load(pos[0]);
    if (!m) return cli_error("info", "%s", mx_error());
    mx_model_summary(m, stdout);
    printf("\n");
    mx_model_explain_counts(m, stdout);
    json_t *meta = cli_metadata_load(pos[0]);
    if (meta) {
        json_t *met = json_object_get(meta, "metrics");
        const char *exp = json_string_value(json_object_get(meta, "experiment"));
        if (exp) printf("experiment: %s\n", exp);
        if (json_is_number(json_object_get(met, "test_accuracy")))
            printf("test accuracy: %.4f on %lld samples\n", json_number_value(json_object_get(met, "test_accuracy")),
                   (long long)json_integer_value(json_object_get(met, "test_samples")));
        json_decref(meta);
    }
    mx_model_free(m);
    return 0;
}
