/* models.c: the models mlexp serve answers for: every subdirectory of the
 * models directory holding model.json, loaded at start with its metadata,
 * summary and planned inference memory; predictions under the engine lock;
 * the test sets behind /examples, loaded on first use. */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* names that are safe in a URL path and a JSON string as they are */
static int name_ok(const char *n) {
    if (!n[0] || n[0] == '.') return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
              *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* An optional JSON file of the model directory: NULL without an error when absent. */
static json_t *optional_json(const char *dir, const char *file, int *failed) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!exists(path)) return NULL;
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!j || !json_is_object(j)) {
        if (j) mx_fail("%s: must be a JSON object", path);
        else mx_fail("%s: line %d: %s", path, e.line, e.text);
        json_decref(j);
        *failed = 1;
        return NULL;
    }
    return j;
}

/* Run one sample of zeros with the serving batch size: plans the inference
 * memory for SRV_BATCH once (later predictions of any size reuse it) and
 * folds batch normalisation. */
static int plan(srv_model *sm) {
    float *x = calloc((size_t)sm->in_size, sizeof(float)), *y = calloc((size_t)sm->out_size, sizeof(float));
    mx_tensor xt = {.rank = sm->in_rank + 1, .data = x}, yt = {.rank = sm->out_rank + 1, .data = y};
    xt.shape[0] = yt.shape[0] = 1;
    memcpy(xt.shape + 1, sm->in_shape, sizeof(int64_t) * (size_t)sm->in_rank);
    memcpy(yt.shape + 1, sm->out_shape, sizeof(int64_t) * (size_t)sm->out_rank);
    int rc = x && y ? mx_predict(sm->m, &xt, &yt, SRV_BATCH) : mx_fail("out of memory");
    free(x);
    free(y);
    return rc;
}

static int load_model(srv_model *sm, const char *dir) {
    int bad = 0;
    if (!(sm->m = mx_model_load(dir))) return -1;
    if (mx_model_n_inputs(sm->m) != 1 || mx_model_n_outputs(sm->m) != 1)
        return mx_fail("%s: serves models of one input and one output; this one has %d and %d", dir,
                       mx_model_n_inputs(sm->m), mx_model_n_outputs(sm->m));
    sm->meta = optional_json(dir, "metadata.json", &bad);
    if (!bad) sm->history = optional_json(dir, "history.json", &bad);
    if (bad || !(sm->summary = cli_summary_text(sm->m))) return -1;
    sm->in_rank = mx_model_input_shape(sm->m, 0, sm->in_shape);
    sm->out_rank = mx_model_output_shape(sm->m, 0, sm->out_shape);
    sm->in_size = sm->out_size = 1;
    for (int i = 0; i < sm->in_rank; i++) sm->in_size *= sm->in_shape[i];
    for (int i = 0; i < sm->out_rank; i++) sm->out_size *= sm->out_shape[i];
    sm->prep = cli_prep_of(sm->meta);
    /* class scores: a vector, unless metadata.json names a loss that is not a crossentropy */
    const char *loss = json_string_value(json_object_get(sm->meta, "loss"));
    sm->classifier = sm->out_rank == 1 && sm->out_shape[0] >= 2 && (!loss || strstr(loss, "crossentropy"));
    if (sm->prep.classes && (int64_t)json_array_size(sm->prep.classes) != sm->out_size)
        return mx_fail("%s/metadata.json: %zu classes for %lld outputs", dir, json_array_size(sm->prep.classes),
                       (long long)sm->out_size);
    int image = sm->classifier && sm->in_rank == 3 && (sm->in_shape[2] == 1 || sm->in_shape[2] == 3);
    int drawing = image && sm->in_shape[0] == 28 && sm->in_shape[1] == 28 && sm->in_shape[2] == 1;
    sm->kind = drawing ? SRV_DRAWING : image ? SRV_IMAGE : SRV_TENSOR;
    return plan(sm);
}

static void model_clear(srv_model *sm) {
    mx_model_free(sm->m);
    json_decref(sm->meta);
    json_decref(sm->history);
    free(sm->summary);
    sm->m = NULL;
    sm->meta = sm->history = NULL;
    sm->summary = NULL;
    sm->prep.classes = NULL;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int srv_models_load(srv *s, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return mx_fail("%s: cannot read the models directory (%s)", dir, strerror(errno));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char probe[PATH_MAX + 300];
        snprintf(probe, sizeof probe, "%s/%s/model.json", dir, e->d_name);
        if (e->d_name[0] == '.' || !exists(probe)) continue;
        if (!name_ok(e->d_name)) {
            fprintf(stderr, "mlexp serve: skipping %s/%s: model names are letters, digits, '_', '-' and '.'\n", dir,
                    e->d_name);
            continue;
        }
        if (n == cap) {
            char **more = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
            if (!more) break;
            names = more;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    s->models = calloc(n ? n : 1, sizeof *s->models);
    for (size_t i = 0; s->models && i < n; i++) {
        srv_model *sm = &s->models[s->n_models++];
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        sm->name = names[i];
        names[i] = NULL;
        sm->dir = realpath(path, NULL);
        if (sm->dir && !load_model(sm, path)) continue;
        if (!sm->dir) mx_fail("%s: %s", path, strerror(errno));
        sm->error = strdup(mx_error());
        model_clear(sm);
        s->n_broken++;
        fprintf(stderr, "mlexp serve: model %s does not load, listed with its error: %s\n", path, mx_error());
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return s->models ? 0 : mx_fail("out of memory for %zu models", n);
}

void srv_models_free(srv *s) {
    for (int i = 0; i < s->n_models; i++) {
        model_clear(&s->models[i]);
        free(s->models[i].name);
        free(s->models[i].dir);
        free(s->models[i].error);
    }
    free(s->models);
    s->models = NULL;
    s->n_models = 0;
    for (srv_dataset *d = s->datasets, *next; d; d = next) {
        next = d->next;
        mx_dataset_free(d->d);
        free(d->error);
        free(d);
    }
    s->datasets = NULL;
}

srv_model *srv_model_find(srv *s, const char *name, size_t len) {
    for (int i = 0; i < s->n_models; i++)
        if (strlen(s->models[i].name) == len && !memcmp(s->models[i].name, name, len)) return &s->models[i];
    return NULL;
}

int srv_predict(srv *s, srv_model *sm, const float *x, int64_t n, float *y) {
    mx_tensor xt = {.rank = sm->in_rank + 1, .data = (float *)x}, yt = {.rank = sm->out_rank + 1, .data = y};
    xt.shape[0] = yt.shape[0] = n;
    memcpy(xt.shape + 1, sm->in_shape, sizeof(int64_t) * (size_t)sm->in_rank);
    memcpy(yt.shape + 1, sm->out_shape, sizeof(int64_t) * (size_t)sm->out_rank);
    pthread_mutex_lock(&s->engine);
    int rc = mx_predict(sm->m, &xt, &yt, SRV_BATCH);
    pthread_mutex_unlock(&s->engine);
    return rc;
}

const mx_dataset *srv_examples(srv *s, srv_model *sm, const char **why) {
    static const char *const resize_names[] = {"bilinear", "nearest", "area"};
    const char *name = json_string_value(json_object_get(sm->meta, "dataset"));
    if (!name) {
        *why = "its metadata.json names no dataset";
        return NULL;
    }
    /* an image folder is read at the model's input size, as in training */
    cli_data data = {.name = name, .path = json_string_value(json_object_get(sm->meta, "data_path")), .resize = sm->prep.resize};
    if (sm->in_rank == 3) {
        data.height = (int)sm->in_shape[0];
        data.width = (int)sm->in_shape[1];
        data.channels = (int)sm->in_shape[2];
    }
    char key[sizeof s->datasets->key];
    snprintf(key, sizeof key, "%s|%s|%dx%dx%d|%s", name, data.path ? data.path : "", data.height, data.width,
             data.channels, resize_names[data.resize]);
    pthread_mutex_lock(&s->engine); /* image folders resize on the engine's pool */
    srv_dataset *d = s->datasets;
    while (d && strcmp(d->key, key)) d = d->next;
    if (!d && (d = calloc(1, sizeof *d))) {
        snprintf(d->key, sizeof d->key, "%s", key);
        if (!(d->d = cli_dataset_load(&data, "test", NULL))) d->error = strdup(mx_error());
        d->next = s->datasets;
        s->datasets = d;
    }
    pthread_mutex_unlock(&s->engine);
    if (!d) {
        *why = "out of memory";
        return NULL;
    }
    *why = d->error ? d->error : "out of memory";
    return d->d;
}
