/* api.c: the JSON API of mlexp serve (docs/web.md, "JSON API"): the model
 * list, one model's details, predictions from JSON arrays or image uploads,
 * test examples, and the network descriptions of the backprop page. Every
 * answer is JSON; errors are {"error": message}. */
#define _POSIX_C_SOURCE 200809L
#include "serve/serve.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- JSON helpers ---- */

/* A JSON string of s, with any byte that is not valid UTF-8 as '?' (error
 * messages quote request paths and file names). */
static json_t *text(const char *s) {
    json_t *j = json_string(s);
    if (j) return j;
    char *copy = strdup(s);
    for (char *p = copy; p && *p; p++)
        if ((unsigned char)*p >= 0x80) *p = '?';
    j = json_string(copy ? copy : "?");
    free(copy);
    return j;
}

json_t *srv_error_json(const char *fmt, ...) {
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "error", text(msg));
    return j;
}

static json_t *shape_json(int rank, const int64_t *shape) {
    json_t *a = json_array();
    for (int i = 0; i < rank; i++) json_array_append_new(a, json_integer(shape[i]));
    return a;
}

/* JSON has no NaN or infinity: a model that overflows gives null */
static json_t *real(float v) { return isfinite(v) ? json_real(v) : json_null(); }

/* a whole number as an integer (pixels 0..255 print as such), else a real */
static json_t *num(float v) {
    if (v > -1e15f && v < 1e15f && v == (float)(json_int_t)v) return json_integer((json_int_t)v);
    return real(v);
}

static json_t *or_null(json_t *j) { return j ? json_incref(j) : json_null(); }

static int fail(json_t **out, int status, json_t *err) {
    *out = err;
    return status;
}

/* ---- GET /api/models and /api/models/NAME ---- */

static const char *const g_kinds[] = {"drawing", "image", "tensor"}; /* srv_kind order */

static json_t *model_entry(const srv_model *sm) {
    if (sm->error) return json_pack("{s:s, s:o}", "name", sm->name, "error", text(sm->error));
    const char *title = json_string_value(json_object_get(sm->meta, "title"));
    char page[300];
    snprintf(page, sizeof page, "/%s.html?model=%s", sm->kind == SRV_DRAWING ? "draw" : "classify", sm->name);
    mx_param_counts pc = mx_model_param_counts(sm->m);
    json_t *acc = json_object_get(json_object_get(sm->meta, "metrics"), "test_accuracy");
    return json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:I}", "name", sm->name, "title",
                     text(title ? title : sm->name), "kind", g_kinds[sm->kind], "page",
                     sm->kind == SRV_TENSOR ? json_null() : json_string(page), "input_shape",
                     shape_json(sm->in_rank, sm->in_shape), "output_shape", shape_json(sm->out_rank, sm->out_shape),
                     "classes", or_null(sm->prep.classes), "test_accuracy", json_is_number(acc) ? json_incref(acc) : json_null(),
                     "params", (json_int_t)(pc.trainable + pc.non_trainable));
}

static json_t *model_detail(const srv_model *sm) {
    static const char *const resize_names[] = {"bilinear", "nearest", "area"};
    json_t *j = model_entry(sm);
    const char *desc = json_string_value(json_object_get(sm->meta, "description"));
    const char *dataset = json_string_value(json_object_get(sm->meta, "dataset"));
    mx_param_counts pc = mx_model_param_counts(sm->m);
    char model_url[300], report[300], report_file[PATH_MAX + 16];
    snprintf(model_url, sizeof model_url, "/models/%s/model.json", sm->name);
    snprintf(report, sizeof report, "/models/%s/report.html", sm->name);
    snprintf(report_file, sizeof report_file, "%s/report.html", sm->dir);
    int has_report = access(report_file, R_OK) == 0;
    json_object_update_new(j, json_pack("{s:o, s:o, s:{s:f, s:f}, s:s, s:o, s:o, s:o, s:{s:I, s:I, s:I}, s:{s:s, s:o}}",
        "description", desc ? text(desc) : json_null(), "dataset", dataset ? text(dataset) : json_null(),
        "preprocessing", "scale", (double)sm->prep.scale, "offset", (double)sm->prep.offset,
        "resize", resize_names[sm->prep.resize], "summary", text(sm->summary),
        "metrics", or_null(json_object_get(sm->meta, "metrics")), "history", or_null(sm->history),
        "params", "trainable", (json_int_t)pc.trainable, "non_trainable", (json_int_t)pc.non_trainable, "total",
        (json_int_t)(pc.trainable + pc.non_trainable), "files", "model", model_url, "report",
        has_report ? json_string(report) : json_null()));
    return j;
}

/* ---- POST /api/models/NAME/predict ---- */

/* Nested lists of numbers: their shape along the first items, then checked
 * to be rectangular. */
typedef struct nested {
    int rank;
    int64_t shape[MX_MAX_RANK + 1];
    int64_t at[MX_MAX_RANK + 1]; /* the item being walked, for messages */
    char error[800];
} nested;

static const char *type_name(const json_t *x) {
    return json_is_object(x) ? "an object" : json_is_array(x) ? "a list" : json_is_string(x) ? "a string"
           : json_is_boolean(x) ? "a boolean" : json_is_null(x) ? "null" : "a number";
}

static int nested_shape(json_t *x, nested *t) {
    for (t->rank = 0; json_is_array(x); x = json_array_get(x, 0)) {
        if (t->rank == MX_MAX_RANK + 1) {
            snprintf(t->error, sizeof t->error, "inputs are nested more than %d lists deep", MX_MAX_RANK + 1);
            return -1;
        }
        t->shape[t->rank++] = (int64_t)json_array_size(x);
        if (!json_array_size(x)) {
            snprintf(t->error, sizeof t->error, "inputs hold an empty list");
            return -1;
        }
    }
    return 0;
}

/* "inputs[3][27]" */
static const char *where(const nested *t, int depth, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "inputs");
    for (int i = 0; i < depth && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "[%lld]", (long long)t->at[i]);
    return buf;
}

/* Check x against t's shape, every leaf a number; with out, copy the numbers
 * in order (row-major, as the tensor lies in memory). */
static int walk(json_t *x, nested *t, int depth, float *out, int64_t *k) {
    char at[256];
    if (depth == t->rank) {
        if (!json_is_number(x) || !(fabs(json_number_value(x)) <= FLT_MAX)) {
            snprintf(t->error, sizeof t->error, "%s is %s, not a number", where(t, depth, at, sizeof at),
                     json_is_number(x) ? "beyond float32" : type_name(x));
            return -1;
        }
        if (out) out[*k] = (float)json_number_value(x);
        ++*k;
        return 0;
    }
    if (!json_is_array(x) || (int64_t)json_array_size(x) != t->shape[depth]) {
        char first[256];
        t->at[depth] = 0;
        where(t, depth, first, sizeof first); /* its first sibling set the expected length */
        if (json_is_array(x))
            snprintf(t->error, sizeof t->error, "%s has %zu items but %s has %lld: the lists must be rectangular",
                     where(t, depth, at, sizeof at), json_array_size(x), first, (long long)t->shape[depth]);
        else
            snprintf(t->error, sizeof t->error, "%s is %s where a list of %lld is expected",
                     where(t, depth, at, sizeof at), type_name(x), (long long)t->shape[depth]);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(x); i++) {
        t->at[depth] = (int64_t)i;
        if (walk(json_array_get(x, i), t, depth + 1, out, k)) return -1;
    }
    return 0;
}

static int same_shape(const int64_t *a, const int64_t *b, int rank) {
    for (int i = 0; i < rank; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* How many samples the inputs hold: one shaped as the model's input, a
 * batch of those, one flat sample, or a batch of flat samples; -1 if none. */
static int64_t samples_of(const srv_model *sm, const nested *t) {
    if (t->rank == sm->in_rank && same_shape(t->shape, sm->in_shape, sm->in_rank)) return 1;
    if (t->rank == sm->in_rank + 1 && same_shape(t->shape + 1, sm->in_shape, sm->in_rank)) return t->shape[0];
    if (t->rank == 1 && t->shape[0] == sm->in_size) return 1;
    if (t->rank == 2 && t->shape[1] == sm->in_size) return t->shape[0];
    return -1;
}

/* The inputs of a JSON body into *x (n, in_size), preprocessed unless the
 * body says they are. A status other than 200 comes with *out set. */
static int json_input(const srv_model *sm, const srv_request *r, float **x, int64_t *n, json_t **out) {
    json_error_t e;
    json_t *body = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e), *inputs = NULL, *pre = NULL;
    int status = 400;
    nested t = {0};
    char got[256], want[256], one[256];
    if (!body)
        *out = srv_error_json("bad JSON: %s (line %d, column %d)", e.text, e.line, e.column);
    else if (!json_is_object(body) || !(inputs = json_object_get(body, "inputs")))
        *out = srv_error_json("the body must be a JSON object {\"inputs\": ...}%s", json_is_object(body) ? "" : " (or an image)");
    else if ((pre = json_object_get(body, "preprocessed")) && !json_is_boolean(pre))
        *out = srv_error_json("\"preprocessed\" must be true or false, not %s", type_name(pre));
    else if (nested_shape(inputs, &t) || walk(inputs, &t, 0, NULL, &(int64_t){0}))
        *out = srv_error_json("%s", t.error);
    else if ((*n = samples_of(sm, &t)) < 1) {
        int64_t batch[MX_MAX_RANK + 1] = {0}; /* (N, input shape...), N printed as such */
        memcpy(batch + 1, sm->in_shape, sizeof(int64_t) * (size_t)sm->in_rank);
        mx_shape_str(sm->in_rank + 1, batch, want, sizeof want);
        *out = srv_error_json("inputs have shape %s but model %s takes %s, a batch (N, %s, or flat samples of %lld "
                              "values", t.rank ? mx_shape_str(t.rank, t.shape, got, sizeof got) : "() (a number)",
                              sm->name, mx_shape_str(sm->in_rank, sm->in_shape, one, sizeof one), want + 4,
                              (long long)sm->in_size);
    }
    else if (!(*x = malloc(sizeof(float) * (size_t)(*n * sm->in_size))))
        status = 500, *out = srv_error_json("out of memory for %lld samples", (long long)*n);
    else {
        walk(inputs, &t, 0, *x, &(int64_t){0});
        if (!json_is_true(pre))
            for (int64_t i = 0; i < *n * sm->in_size; i++) (*x)[i] = (*x)[i] * sm->prep.scale + sm->prep.offset;
        status = 200;
    }
    json_decref(body);
    return status;
}

/* An uploaded PNG or JPEG into *x (1, in_size): decoded, resized to the
 * input and preprocessed as metadata.json says. */
static int image_input(srv *s, const srv_model *sm, const srv_request *r, float **x, json_t **out) {
    int c = sm->in_rank == 3 ? (int)sm->in_shape[2] : 0, w, h;
    char want[256];
    if (c != 1 && c != 3)
        return fail(out, 400, srv_error_json("model %s takes %s tensors, not images", sm->name,
                                             mx_shape_str(sm->in_rank, sm->in_shape, want, sizeof want)));
    if (!r->len) return fail(out, 400, srv_error_json("the %s holds no image", r->upload ? "upload" : "body"));
    if (mx_image_info(r->body, r->len, &w, &h)) return fail(out, 400, srv_error_json("%s", mx_error()));
    if ((int64_t)w * h > s->max_pixels)
        return fail(out, 413, srv_error_json("the image is %dx%d pixels, more than the %lld pixels allowed", w, h,
                                             (long long)s->max_pixels));
    mx_tensor *img = mx_image_decode(r->body, r->len, c);
    if (!img) return fail(out, 400, srv_error_json("%s", mx_error()));
    if (!(*x = malloc(sizeof(float) * (size_t)sm->in_size))) {
        mx_tensor_free(img);
        return fail(out, 500, srv_error_json("out of memory"));
    }
    pthread_mutex_lock(&s->engine); /* resizing runs on the engine's pool */
    cli_image_input(img, (int)sm->in_shape[0], (int)sm->in_shape[1], &sm->prep, *x);
    pthread_mutex_unlock(&s->engine);
    mx_tensor_free(img);
    return 200;
}

/* nested lists shaped as `shape` of the floats at y + *k */
static json_t *nested_json(const float *y, int rank, const int64_t *shape, int64_t *k) {
    json_t *a = json_array();
    for (int64_t i = 0; i < shape[0]; i++)
        json_array_append_new(a, rank == 1 ? real(y[(*k)++]) : nested_json(y, rank - 1, shape + 1, k));
    return a;
}

static json_t *predictions(const srv_model *sm, const float *y, int64_t n) {
    json_t *list = json_array();
    float *p = malloc(sizeof(float) * (size_t)sm->out_size);
    for (int64_t i = 0; p && i < n; i++) {
        const float *row = y + i * sm->out_size;
        if (!sm->classifier) {
            int64_t k = 0;
            json_array_append_new(list, json_pack("{s:o}", "outputs", nested_json(row, sm->out_rank, sm->out_shape, &k)));
            continue;
        }
        memcpy(p, row, sizeof(float) * (size_t)sm->out_size);
        cli_probabilities(p, sm->out_size, sm->prep.from_logits);
        int64_t best = 0, k = 0;
        for (int64_t j = 1; j < sm->out_size; j++)
            if (p[j] > p[best]) best = j;
        json_array_append_new(list, json_pack("{s:I, s:o, s:o, s:o}", "class", (json_int_t)best, "label",
                                              or_null(json_array_get(sm->prep.classes, (size_t)best)), "probability",
                                              real(p[best]), "probabilities",
                                              nested_json(p, 1, &sm->out_size, &k)));
    }
    free(p);
    return list;
}

static int is_image(const srv_request *r) {
    const char *ct = r->content_type;
    return r->upload || (ct && (!strncasecmp(ct, "image/", 6) || !strncasecmp(ct, "application/octet-stream", 24)));
}

static int predict(srv *s, srv_model *sm, const srv_request *r, json_t **out) {
    float *x = NULL, *y = NULL;
    int64_t n = 1;
    int status = is_image(r) ? image_input(s, sm, r, &x, out) : json_input(sm, r, &x, &n, out);
    if (status != 200) return status;
    if (!(y = malloc(sizeof(float) * (size_t)(n * sm->out_size))))
        status = fail(out, 500, srv_error_json("out of memory for %lld samples", (long long)n));
    else if (srv_predict(s, sm, x, n, y))
        status = fail(out, 500, srv_error_json("model %s: %s", sm->name, mx_error()));
    else
        *out = json_pack("{s:s, s:o, s:o}", "model", sm->name, "classes", or_null(sm->prep.classes), "predictions",
                         predictions(sm, y, n));
    free(x);
    free(y);
    return status;
}

/* ---- GET /api/models/NAME/examples?count=N&offset=K ---- */

static int int_arg(const srv_request *r, const char *name, long def, long min, long max, long *v, json_t **out) {
    const char *s = r->arg ? r->arg(r->arg_ctx, name) : NULL;
    char *end;
    errno = 0;
    *v = s ? strtol(s, &end, 10) : def;
    if (s && (errno || end == s || *end || *v < min || *v > max)) {
        *out = srv_error_json("%s must be an integer from %ld to %ld, not '%.40s'", name, min, max, s);
        return -1;
    }
    return 0;
}

static int examples(srv *s, srv_model *sm, const srv_request *r, json_t **out) {
    long count, offset;
    if (int_arg(r, "count", 10, 1, SRV_MAX_EXAMPLES, &count, out) || int_arg(r, "offset", 0, 0, 1L << 40, &offset, out))
        return 400;
    const char *why;
    const mx_dataset *d = srv_examples(s, sm, &why);
    if (!d)
        return fail(out, 404, srv_error_json("no examples for model %s: %s", sm->name, why));
    if (offset > d->n)
        return fail(out, 400, srv_error_json("offset %ld is past the %lld test samples", offset, (long long)d->n));
    json_t *list = json_array();
    int64_t ss = mx_dataset_sample_size(d), end = MX_MIN(d->n, (int64_t)(offset + count));
    for (int64_t i = offset; i < end; i++) {
        json_t *pixels = json_array();
        for (int64_t k = 0; k < ss; k++) json_array_append_new(pixels, num(d->x[i * ss + k]));
        int y = d->y ? d->y[i] : -1;
        json_t *label = json_null();
        if (y >= 0 && d->class_names && y < d->n_classes) label = text(d->class_names[y]);
        else if (y >= 0) label = or_null(json_array_get(sm->prep.classes, (size_t)y));
        json_array_append_new(list, json_pack("{s:I, s:o, s:o, s:o, s:o}", "index", (json_int_t)i, "class",
                                              y >= 0 ? json_integer(y) : json_null(), "label", label, "shape",
                                              shape_json(d->rank, d->shape), "pixels", pixels));
    }
    *out = json_pack("{s:o, s:I}", "examples", list, "total", (json_int_t)d->n);
    return 200;
}

/* ---- routes ---- */

static int is_get(const srv_request *r) { return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"); }

static int wrong_method(const srv_request *r, const char *allowed, json_t **out, const char **allow) {
    *allow = allowed;
    return fail(out, 405, srv_error_json("%s is not allowed on %.200s (allowed: %s)", r->method, r->path, allowed));
}

int srv_api(srv *s, const srv_request *r, json_t **out, const char **allow) {
    const char *p = r->path + strlen("/api");
    if (!strcmp(p, "/models") || !strcmp(p, "/models/")) {
        if (!is_get(r)) return wrong_method(r, "GET, HEAD", out, allow);
        json_t *list = json_array();
        for (int i = 0; i < s->n_models; i++) json_array_append_new(list, model_entry(&s->models[i]));
        *out = json_pack("{s:o}", "models", list);
        return 200;
    }
    if (!strcmp(p, "/explain/examples")) {
        if (!is_get(r)) return wrong_method(r, "GET, HEAD", out, allow);
        *out = srv_networks(s);
        return 200;
    }
    if (strncmp(p, "/models/", 8)) return fail(out, 404, srv_error_json("no API endpoint %.200s", r->path));
    const char *name = p + 8, *slash = strchr(name, '/'), *action = slash ? slash + 1 : "";
    int post = !strcmp(action, "predict");
    if (strcmp(action, "") && !post && strcmp(action, "examples"))
        return fail(out, 404, srv_error_json("no API endpoint %.200s", r->path));
    if (post && strcmp(r->method, "POST")) return wrong_method(r, "POST", out, allow);
    if (!post && !is_get(r)) return wrong_method(r, "GET, HEAD", out, allow);
    srv_model *sm = srv_model_find(s, name, slash ? (size_t)(slash - name) : strlen(name));
    if (!sm)
        return fail(out, 404, srv_error_json("unknown model '%.*s' (GET /api/models lists them)",
                                             (int)MX_MIN(slash ? slash - name : (long)strlen(name), 100L), name));
    if (sm->error) return fail(out, 500, srv_error_json("model %s did not load: %s", sm->name, sm->error));
    if (post) return predict(s, sm, r, out);
    if (*action) return examples(s, sm, r, out);
    *out = model_detail(sm);
    return 200;
}
