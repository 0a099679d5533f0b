/* transfer.c: transfer learning. A base model saved by mlexp or TF.js (e.g.
 * MobileNetV2) is cut at a layer, given the experiment's image size, frozen
 * (or trainable from a named layer on), and nested in a new functional model
 * with a head on top, called with training=False so its BatchNormalization
 * keeps its moving statistics; then its weights are loaded into the new
 * model by name. Also the image-folder datasets these experiments use. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* a copy of the samples of d whose index i satisfies (i % 5 == 4) == test */
static mx_dataset *every_fifth(mx_dataset *d, int test) {
    int64_t ss = mx_dataset_sample_size(d), n = 0;
    for (int64_t i = 0; i < d->n; i++) n += (i % 5 == 4) == test;
    if (n == 0) return mx_failp("the image folder has too few images to hold some out for testing");
    mx_dataset *out = mx_dataset_slice(d, 0, n);
    if (!out) return NULL;
    int64_t k = 0;
    for (int64_t i = 0; i < d->n; i++)
        if ((i % 5 == 4) == test) {
            memcpy(out->x + k * ss, d->x + i * ss, sizeof(float) * (size_t)ss);
            out->y[k++] = d->y[i];
        }
    return out;
}

mx_dataset *cli_dataset_load(const cli_data *d, const char *split, const char *dir) {
    if (mx_dataset_is_generated(d->name)) { /* a seed per split, so test pairs are drawn apart from training */
        int which = !strcmp(split, "train") ? 0 : !strcmp(split, "test") ? 1 : !strcmp(split, "fresh") ? 2 : -1;
        if (which < 0) return mx_failp("%s: unknown split '%s' (valid: train, test, fresh)", d->name, split);
        return mx_dataset_generate(d->name, which ? d->test_size : d->train_size, d->seed + (uint64_t)which);
    }
    if (strcmp(d->name, "image_folder") != 0) return mx_dataset_load(d->name, split, dir);
    char root[4096], sub[4200];
    const char *p = dir ? dir : d->path;
    if (!p) return mx_failp("dataset image_folder: no path (give --data DIR or dataset.path)");
    snprintf(root, sizeof root, "%s", p);
    if (!dir && !is_dir(root) && p[0] != '/') snprintf(root, sizeof root, "%s/%s", cli_root(), p);
    snprintf(sub, sizeof sub, "%s/%s", root, split);
    if (is_dir(sub)) return mx_image_folder_load(sub, d->height, d->width, d->channels, d->resize);
    /* one folder for both: every fifth image of each class is the test split */
    mx_dataset *all = mx_image_folder_load(root, d->height, d->width, d->channels, d->resize);
    if (!all) return NULL;
    mx_dataset *part = every_fifth(all, !strcmp(split, "test"));
    mx_dataset_free(all);
    return part;
}

int cli_base_path(const cli_experiment *e, const char *override, char *out, size_t n) {
    const char *p = override ? override : e->base_model;
    snprintf(out, n, "%s", p);
    if (!override && !is_dir(out) && p[0] != '/') snprintf(out, n, "%s/%s", cli_root(), p);
    if (!is_dir(out))
        return mx_fail("base model '%s' not found (a directory with model.json; for MobileNetV2 with random weights: "
                       "node tests/tfjs/mobilenet_v2.js DIR)", out);
    return 0;
}

/* names of the layers the output depends on, through inbound_nodes */
static void mark_needed(json_t *layers, const char *name, json_t *needed) {
    if (json_object_get(needed, name)) return;
    json_object_set_new(needed, name, json_true());
    size_t i, j, k;
    json_t *l, *node, *r;
    json_array_foreach(layers, i, l) {
        const char *ln = json_string_value(json_object_get(l, "name"));
        if (!ln || strcmp(ln, name)) continue;
        json_array_foreach(json_object_get(l, "inbound_nodes"), j, node)
            json_array_foreach(node, k, r) if (json_is_string(json_array_get(r, 0)))
                mark_needed(layers, json_string_value(json_array_get(r, 0)), needed);
    }
}

static json_t *image_shape(const cli_data *d) { return json_pack("[n, i, i, i]", d->height, d->width, d->channels); }

/* The base's config cut at `output`, for the experiment's image size, with
 * the trainable flags set; returns a new reference or NULL. */
static json_t *cut_base(json_t *topology, const cli_experiment *e) {
    json_t *inner = json_object_get(topology, "model_config");
    if (json_is_object(inner)) topology = inner;
    const char *cls = json_string_value(json_object_get(topology, "class_name"));
    json_t *cfg = json_deep_copy(json_object_get(topology, "config"));
    json_t *layers = json_object_get(cfg, "layers");
    if (!cls || !json_is_array(layers)) {
        json_decref(cfg);
        return mx_failp("the base model has no layers");
    }
    int sequential = !strcmp(cls, "Sequential");
    json_t *kept = json_array(), *needed = json_object();
    if (!sequential) mark_needed(layers, e->base_output, needed);
    int found = 0, trainable = e->base_trainable_from == NULL ? 0 : -1; /* -1: not yet reached */
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) {
        json_t *lc = json_object_get(l, "config");
        const char *name = json_string_value(json_object_get(lc, "name"));
        if (!name) name = json_string_value(json_object_get(l, "name"));
        if (sequential ? found : !json_object_get(needed, name ? name : "")) continue;
        if (name && !strcmp(name, e->base_output)) found = 1;
        if (e->base_trainable_from && name && !strcmp(name, e->base_trainable_from)) trainable = 1;
        if (e->base_trainable_from) json_object_set_new(lc, "trainable", json_boolean(trainable == 1));
        const char *lcls = json_string_value(json_object_get(l, "class_name"));
        if ((lcls && !strcmp(lcls, "InputLayer")) || (sequential && json_array_size(kept) == 0)) {
            json_object_del(lc, "batch_shape");
            json_object_set_new(lc, "batch_input_shape", image_shape(&e->data));
        }
        json_array_append(kept, l);
    }
    json_decref(needed);
    json_object_set_new(cfg, "layers", kept);
    if (!found || (e->base_trainable_from && trainable != 1)) {
        json_decref(cfg);
        return mx_failp("the base model has no layer '%s'", !found ? e->base_output : e->base_trainable_from);
    }
    if (!sequential) json_object_set_new(cfg, "output_layers", json_pack("[[s, i, i]]", e->base_output, 0, 0));
    json_object_set_new(cfg, "trainable", json_boolean(e->base_trainable_from != NULL));
    return json_pack("{s:s, s:o}", "class_name", sequential ? "Sequential" : "Functional", "config", cfg);
}

/* a copy of a head layer with "units": "classes" made a number */
static json_t *head_layer(json_t *l, int n_classes, const char *name, const char *input, int input_node) {
    json_t *c = json_deep_copy(l);
    json_t *cfg = json_object_get(c, "config");
    if (!json_is_object(cfg)) json_object_set_new(c, "config", cfg = json_object());
    json_t *units = json_object_get(cfg, "units");
    if (json_is_string(units) && !strcmp(json_string_value(units), "classes"))
        json_object_set_new(cfg, "units", json_integer(n_classes));
    json_object_set_new(cfg, "name", json_string(name));
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "inbound_nodes", json_pack("[[[s, i, i, {}]]]", input, input_node, 0));
    return c;
}

char *cli_transfer_model(const cli_experiment *e, const char *base_dir, int n_classes) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model.json", base_dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root) return mx_failp("%s: %s", path, err.text);
    json_t *topo = json_object_get(root, "modelTopology"), *base = topo ? cut_base(topo, e) : NULL;
    json_decref(root);
    if (!base) return topo ? mx_failp("%s: %s", path, mx_error()) : mx_failp("%s: no modelTopology", path);
    const char *base_name = json_string_value(json_object_get(json_object_get(base, "config"), "name"));
    json_object_set_new(base, "name", json_string(base_name ? base_name : "base"));
    json_object_set_new(base, "inbound_nodes", json_pack("[[[s, i, i, {s:b}]]]", "image", 0, 0, "training", 0));
    json_t *layers = json_pack("[{s:s, s:s, s:{s:s, s:o}, s:[]}, O]", "name", "image", "class_name", "InputLayer",
                               "config", "name", "image", "batch_input_shape", image_shape(&e->data), "inbound_nodes",
                               base);
    /* the head, one layer after another; the base's call is its node 1 (Keras) */
    char prev[MX_NAME_MAX], name[MX_NAME_MAX];
    snprintf(prev, sizeof prev, "%s", base_name ? base_name : "base");
    int prev_node = 1;
    size_t i;
    json_t *l;
    json_array_foreach(e->head, i, l) {
        const char *given = json_string_value(json_object_get(json_object_get(l, "config"), "name"));
        snprintf(name, sizeof name, "%s", given ? given : "");
        if (!given) snprintf(name, sizeof name, "head_%zu", i + 1);
        json_array_append_new(layers, head_layer(l, n_classes, name, prev, prev_node));
        snprintf(prev, sizeof prev, "%s", name);
        prev_node = 0;
    }
    json_t *model = json_pack("{s:s, s:{s:s, s:o, s:[[s, i, i]], s:[[s, i, i]]}}", "class_name", "Functional", "config",
                              "name", e->name, "layers", layers, "input_layers", "image", 0, 0, "output_layers", prev, 0, 0);
    json_decref(base);
    char *text = json_dumps(model, JSON_COMPACT);
    json_decref(model);
    return text ? text : mx_failp("cannot serialise the transfer model");
}
