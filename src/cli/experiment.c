/* experiment.c: experiment files. An experiment is data: the dataset, its
 * preprocessing and augmentation, the model as a Keras config, and the
 * training settings, so adding one needs no C. Unknown keys are errors, so a
 * typo never silently falls back to a default. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_check_keys(json_t *obj, const char *where, const char *const *known) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strcmp(known[i], key);
        if (!ok) return mx_fail("%s: unknown key '%s'", where, key);
    }
    return 0;
}

static int get_num(json_t *obj, const char *key, double def, double min, double max, double *out, const char *where) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max)
        return mx_fail("%s: '%s' must be a number from %g to %g", where, key, min, max);
    *out = json_number_value(v);
    return 0;
}

static const char *get_str(json_t *obj, const char *key, const char *def) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

int cli_experiment_load(const char *path, cli_experiment *e) {
    memset(e, 0, sizeof *e);
    json_error_t err;
    e->root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!e->root) return mx_fail("%s: line %d: %s", path, err.line, err.text);
    json_t *r = e->root;
    static const char *const top[] = {"name", "title", "description", "dataset", "preprocessing", "augmentation",
                                      "model", "base", "head", "training", NULL};
    static const char *const ds[] = {"name", "validation", "validation_split", "path", "image_size", "channels",
                                     "resize", "train_size", "test_size", "seed", "sequence_length", "test_split", NULL};
    static const char *const basekeys[] = {"model", "output", "trainable_from", NULL};
    static const char *const pre[] = {"scale", "offset", NULL};
    static const char *const aug[] = {"shift", "rotation", "zoom", "flip_horizontal", "flip_vertical", "rotate90",
                                      "brightness", "contrast", "hue", NULL};
    static const char *const tr[] = {"epochs", "batch_size", "seed", "shuffle", "optimizer", "loss", "metrics",
                                     "early_stopping", NULL};
    static const char *const es[] = {"patience", "restore_best_weights", "min_delta", NULL};
    char where[512];
    snprintf(where, sizeof where, "%s", path);
    json_t *dataset = json_object_get(r, "dataset"), *prep = json_object_get(r, "preprocessing");
    json_t *augm = json_object_get(r, "augmentation"), *train = json_object_get(r, "training");
    json_t *model = json_object_get(r, "model"), *stop = json_object_get(train, "early_stopping");
    json_t *base = json_object_get(r, "base");
    if (!json_is_object(r)) return mx_fail("%s: must be a JSON object", path);
    if (cli_check_keys(r, where, top)) return -1;
    if (!json_is_object(dataset) || !(json_is_object(model) || json_is_object(base)) || !json_is_object(train))
        return mx_fail("%s: needs 'dataset', 'model' (or 'base' and 'head') and 'training' objects", path);
    if (json_is_object(base)) {
        if (cli_check_keys(base, "base", basekeys)) return mx_fail_context("%s: ", path);
        e->base_model = get_str(base, "model", NULL);
        e->base_output = get_str(base, "output", NULL);
        e->base_trainable_from = get_str(base, "trainable_from", NULL);
        e->head = json_object_get(r, "head");
        if (!e->base_model || !e->base_output || !json_is_array(e->head))
            return mx_fail("%s: base needs 'model' and 'output', and 'head' a list of layers", path);
    }
    if (cli_check_keys(dataset, "dataset", ds) || (prep && cli_check_keys(prep, "preprocessing", pre)) ||
        (json_is_object(augm) && cli_check_keys(augm, "augmentation", aug)) || cli_check_keys(train, "training", tr) ||
        (json_is_object(stop) && cli_check_keys(stop, "training.early_stopping", es)))
        return mx_fail_context("%s: ", path);
    e->name = get_str(r, "name", NULL);
    if (!e->name) return mx_fail("%s: needs a 'name'", path);
    e->title = get_str(r, "title", e->name);
    e->description = get_str(r, "description", NULL);
    e->dataset = get_str(dataset, "name", NULL);
    if (!e->dataset) return mx_fail("%s: dataset needs a 'name'", path);
    e->data.name = e->dataset;
    if (!strcmp(e->dataset, "image_folder")) {
        json_t *size = json_object_get(dataset, "image_size");
        double ch = 3;
        e->data.path = get_str(dataset, "path", NULL);
        if (!json_is_array(size) || json_array_size(size) != 2 || !json_is_integer(json_array_get(size, 0)) ||
            !json_is_integer(json_array_get(size, 1)))
            return mx_fail("%s: an image_folder dataset needs 'image_size': [height, width]", path);
        e->data.height = (int)json_integer_value(json_array_get(size, 0));
        e->data.width = (int)json_integer_value(json_array_get(size, 1));
        if (e->data.height < 1 || e->data.width < 1 || e->data.height > 4096 || e->data.width > 4096)
            return mx_fail("%s: image_size must be from 1 to 4096", path);
        if (get_num(dataset, "channels", 3, 1, 3, &ch, "dataset") || (ch != 1 && ch != 3))
            return mx_fail("%s: dataset.channels must be 1 or 3", path);
        e->data.channels = (int)ch;
        int rs = mx_resize_parse(get_str(dataset, "resize", "bilinear"));
        if (rs < 0) return mx_fail("%s: dataset.resize must be bilinear, nearest or area", path);
        e->data.resize = (mx_resize)rs;
    }
    if (cli_is_text(e->dataset)) {
        double seq = 0, ts = 0;
        e->data.path = get_str(dataset, "path", NULL);
        if (get_num(dataset, "sequence_length", 100, 1, 100000, &seq, "dataset") ||
            get_num(dataset, "test_split", 0.05, 0.001, 0.5, &ts, "dataset"))
            return mx_fail_context("%s: ", path);
        e->data.seq_length = (int)seq;
        e->data.test_split = ts;
    }
    if (mx_dataset_is_generated(e->dataset)) {
        double ntr = 0, nte = 0, sd = 0;
        if (get_num(dataset, "train_size", 20000, 1, 1e8, &ntr, "dataset") || get_num(dataset, "test_size", 5000, 1, 1e8, &nte, "dataset") ||
            get_num(dataset, "seed", 1, 0, 9007199254740992.0, &sd, "dataset"))
            return mx_fail_context("%s: ", path);
        e->data.train_size = (int64_t)ntr;
        e->data.test_size = (int64_t)nte;
        e->data.seed = (uint64_t)sd;
    }
    e->validation = get_str(dataset, "validation", "none");
    if (strcmp(e->validation, "none") && strcmp(e->validation, "test") && strcmp(e->validation, "split"))
        return mx_fail("%s: dataset.validation must be \"none\", \"test\" or \"split\"", path);
    double v = 0, s = 1, o = 0;
    if (get_num(dataset, "validation_split", 0.1, 0, 0.9, &v, "dataset") || get_num(prep, "scale", 1, -1e9, 1e9, &s, "preprocessing") ||
        get_num(prep, "offset", 0, -1e9, 1e9, &o, "preprocessing"))
        return mx_fail_context("%s: ", path);
    e->validation_split = (float)v;
    e->scale = (float)s;
    e->offset = (float)o;
    if (json_is_object(augm)) {
        double sh = 0, rot = 0, zm = 0, br = 0, co = 0, hue = 0;
        if (get_num(augm, "shift", 0, 0, 0.5, &sh, "augmentation") || get_num(augm, "rotation", 0, 0, 180, &rot, "augmentation") ||
            get_num(augm, "zoom", 0, 0, 0.9, &zm, "augmentation") || get_num(augm, "brightness", 0, 0, 1, &br, "augmentation") ||
            get_num(augm, "contrast", 0, 0, 1, &co, "augmentation") || get_num(augm, "hue", 0, 0, 0.5, &hue, "augmentation"))
            return mx_fail_context("%s: ", path);
        e->augment = (mx_augment){(float)sh, (float)rot, (float)zm, json_is_true(json_object_get(augm, "flip_horizontal")),
                                  json_is_true(json_object_get(augm, "flip_vertical")),
                                  json_is_true(json_object_get(augm, "rotate90")), (float)br, (float)co, (float)hue};
    }
    if (json_is_object(model)) {
        e->model_json = json_dumps(model, JSON_COMPACT);
        if (!e->model_json) return mx_fail("%s: cannot serialise the model", path);
    }
    double ep = 0, bs = 0, seed = 0;
    if (get_num(train, "epochs", 10, 1, 1e6, &ep, "training") || get_num(train, "batch_size", 32, 1, 65536, &bs, "training") ||
        get_num(train, "seed", 1, 0, 9007199254740992.0, &seed, "training"))
        return mx_fail_context("%s: ", path);
    e->epochs = (int)ep;
    e->batch_size = (int)bs;
    e->seed = (uint64_t)seed;
    e->shuffle = !json_is_false(json_object_get(train, "shuffle"));
    json_t *opt = json_object_get(train, "optimizer"), *loss = json_object_get(train, "loss");
    char *txt = opt ? json_dumps(opt, JSON_ENCODE_ANY) : NULL;
    int rc = mx_optimizer_parse(txt ? txt : "\"adam\"", &e->opt);
    free(txt);
    if (rc) return mx_fail_context("%s: training.optimizer: ", path);
    txt = loss ? json_dumps(loss, JSON_ENCODE_ANY) : NULL;
    rc = mx_loss_parse(txt ? txt : "\"sparse_categorical_crossentropy\"", &e->loss, &e->from_logits);
    free(txt);
    if (rc) return mx_fail_context("%s: training.loss: ", path);
    if (json_is_object(stop)) {
        double pat = 0, md = 0;
        if (get_num(stop, "patience", 0, 0, 1e6, &pat, "early_stopping") || get_num(stop, "min_delta", 0, 0, 1e9, &md, "early_stopping"))
            return mx_fail_context("%s: ", path);
        e->patience = (int)pat;
        e->min_delta = (float)md;
        e->restore_best = json_is_true(json_object_get(stop, "restore_best_weights"));
    }
    return 0;
}

void cli_experiment_free(cli_experiment *e) {
    free(e->model_json);
    json_decref(e->root);
    memset(e, 0, sizeof *e);
}
